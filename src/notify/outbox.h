/*
 * outbox.h - the notification outbox in the store (component "notify"):
 * what notifier.c shares with outbox.c. No other module includes it.
 */
#ifndef DW_NOTIFY_OUTBOX_H
#define DW_NOTIFY_OUTBOX_H

#include "notify/notify.h"

#define OUTBOX_DEDUP_MAX 512
#define OUTBOX_PAYLOAD_MAX (1 << 20)

/** A row to insert: a message for one channel of a receiver, or a direct one. */
struct ob_new {
    const char *dedup_key;
    const char *receiver; /* "" for a direct message (dw_notifier_enqueue) */
    int64_t target;       /* index into the receiver's channels; -1 for a direct message */
    const char *kind;
    const char *to; /* may be NULL */
    const char *order_key;
    const char *person; /* may be NULL */
    const char *fallback_kind, *fallback_to;
    const char *payload;    /* the message JSON, kept only for a fallback (may be NULL) */
    const char *body;       /* rendered for the channel */
    const char *thread_key; /* msg_thread_key of the message; may be NULL */
    int64_t created_ms, not_after_ms;
};

/** A pending row read back. Every string is heap (NULL when the column is). */
struct ob_row {
    int64_t id, target, created_ms, not_after_ms, next_ms;
    int attempts;
    char *dedup_key, *receiver, *kind, *to, *order_key, *person, *fallback_kind, *fallback_to,
        *payload, *body, *thread_key;
};

/** One finished attempt and what it leaves the row in. */
struct ob_result {
    int64_t id;
    int attempt;        /* 1, 2, ... (0: no attempt was made, only the state changes) */
    int64_t at_ms;      /* when the attempt started (dw_now_ms) */
    double duration_ms; /* of the request */
    const char *result; /* success, server_error, ... */
    long status;        /* HTTP / SMTP status, 0 when none */
    const char *detail; /* may be NULL */
    const char *state;  /* "pending" (retry), "delivered", "given_up", "expired", "dropped" */
    int64_t next_ms;    /* pending: when the next attempt is due */
    int64_t done_ms;
    /* Delivered as its thread's first message at a destination: remembered (first one wins)
       so later messages of the thread reply to it. NULL when not. */
    const char *thread_key, *thread_dest, *thread_channel, *thread_ts;
};

/** A thread's root at a destination (notify_threads). */
struct ob_thread {
    char *channel_id; /* heap; "" when the channel has none (e-mail) */
    char *ts;         /* heap: Slack's message ts, the e-mail's Message-ID */
};

int outbox_migrate(struct dw_store *s, char **err);
/**
 * Inserts rows; an existing dedup key is left alone. Runs in the caller's
 * transaction when there is one. The number of rows added, or -1 with *err.
 */
int outbox_insert(struct dw_store *s, const struct ob_new *rows, size_t n, char **err);
/** The id of a dedup key, 0 when absent, -1 on error. */
int64_t outbox_id_of(struct dw_store *s, const char *dedup_key, char **err);
/** Up to max pending rows with id > after_id in id order; free with ob_rows_free. */
int outbox_load(struct dw_store *s, int64_t after_id, size_t max, struct ob_row **out, size_t *n,
                char **err);
void ob_rows_free(struct ob_row *rows, size_t n);
/** Frees the strings of one row (not the struct). */
void ob_row_release(struct ob_row *r);
/** Records attempts and state changes in one transaction. 0 or -1 with *err. */
int outbox_record(struct dw_store *s, const struct ob_result *r, size_t n, char **err);
/**
 * The root of thread_key at dest: 1 with *out filled (free with ob_thread_release), 0 when none
 * was delivered there, -1 with *err.
 */
int outbox_thread_get(struct dw_store *s, const char *thread_key, const char *dest,
                      struct ob_thread *out, char **err);
void ob_thread_release(struct ob_thread *t);
/** Deletes finished rows (and their attempts) done before cutoff_ms, and threads older. */
int outbox_prune(struct dw_store *s, int64_t cutoff_ms, char **err);
/** Number of pending rows, -1 on error. */
int64_t outbox_pending(struct dw_store *s, char **err);

#endif
