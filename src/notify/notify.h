/*
 * notify.h - the notifier: delivers what the alerter decided to send to the
 * channels of each receiver.
 *
 * The alerter appends group events ("fired", "changed", "repeat",
 * "resolved") to a queue persisted in the store; the notifier reads them as
 * consumer "notify", and for each event whose receiver has channels, sends
 * one notification per channel. Channels so far: the generic webhook
 * (Alertmanager's webhook_config: a POST of the webhook v4 JSON).
 *
 * Delivery is at least once: the consumer cursor moves past an event only
 * when every notification of it was delivered or given up, so a process
 * killed in between sends it again after the restart (duplicates allowed,
 * losses not). Failed attempts are retried with exponential backoff and
 * jitter (Retry-After honoured) for 5xx, 429, 408, time-outs and connection
 * errors; other 4xx answers are given up at once (logged and counted).
 *
 * Threads: the notifier runs one thread that owns every transfer (libcurl
 * multi) plus a small waiter thread blocked in dw_alerter_events_wait, so an
 * event is picked up within microseconds of the flush that queued it.
 * Functions here are called from the daemon's main thread.
 *
 * Design note: docs/internals/notify.md.
 */
#ifndef DW_NOTIFY_H
#define DW_NOTIFY_H

#include "alert/alert.h"
#include "core/core.h"
#include "plan/plan.h"
#include "store/store.h"

#include <jansson.h>

struct dw_notifier;

/** Called on the delivery thread when a notification is finished (delivered or given up). */
typedef void (*dw_notify_done_fn)(void *ctx, const char *dedup_key, const char *kind,
                                  const char *to, const char *result, const char *detail);

struct dw_notifier_options {
    struct dw_alerter *alerter;     /* borrowed; must outlive the notifier */
    struct dw_store *store;         /* borrowed: the outbox lives here (the alerter's store) */
    const struct dw_config *config; /* borrowed for dw_notifier_new: the notify section's
                                       channel defaults (dw_notifier_set_config later) */
    const char *consumer;           /* cursor name; NULL: "notify" */
    int64_t backoff_base_ms;        /* first retry delay before jitter; 0: 500 ms */
    int64_t backoff_max_ms;         /* cap of the exponential backoff; 0: 30 s */
    int64_t give_up_after_ms;  /* a notification older than this (dw_now_ms) expires; 0: 24 h */
    int breaker_failures;      /* outcomes (9 in 10 failed) that open a channel's breaker; 0: 10 */
    int64_t breaker_open_ms;   /* first open period, doubled up to 5 min; 0: 30 s */
    dw_notify_done_fn on_done; /* may be NULL */
    void *on_done_ctx;
};

/**
 * Validates the channel keys of every receiver in cfg's `alerting` section
 * (webhook_configs: url, send_resolved, max_alerts, timeout, http_config)
 * with file:line:col. Returns the number of errors. For check-config and
 * reload, next to dw_alerter_check_config().
 */
size_t dw_notify_check_config(const struct dw_config *cfg, struct dw_diags *diags);

/**
 * Creates a notifier over an open alerter and reads every receiver's
 * configuration (dw_alerter_receiver_config). Does not start the thread.
 */
struct dw_notifier *dw_notifier_new(const struct dw_notifier_options *opts);
/** Stops the threads if running and frees; sets *n to NULL. NULL is a no-op. */
void dw_notifier_free(struct dw_notifier **n);

/** Starts the delivery and waiter threads. 0, or -1 (logged). */
int dw_notifier_start(struct dw_notifier *n);
/**
 * Stops both threads and joins them. Transfers in flight are abandoned and
 * their events stay unacknowledged, so they are sent again after a restart.
 */
void dw_notifier_stop(struct dw_notifier *n);

/**
 * Re-reads every receiver's channels from the alerter (call after
 * dw_alerter_apply). The delivery thread switches at its next turn; queued
 * retries use the new configuration of their receiver. Thread-safe.
 */
void dw_notifier_reload(struct dw_notifier *n);

/**
 * A message for one destination, from outside the alert routing tree (the
 * on-call module's pages). Written to the outbox before this returns
 * (durable commit), delivered at least once by the delivery thread.
 */
struct dw_notification {
    const char *dedup_key;     /* required, at most 512 bytes: a second enqueue is a no-op */
    const char *kind;          /* "sms", "voice", "email", "slack", "pagerduty", "webhook" */
    const char *to;            /* phone number, e-mail address, Slack channel; NULL: the
                                  notify section's default for the kind */
    const char *payload;       /* the message JSON (notify_internal.h documents it), <= 1 MiB */
    const char *order_key;     /* messages with the same key to the same destination are
                                  delivered in enqueue order; NULL: dedup_key */
    const char *person;        /* for the record and the API; may be NULL */
    const char *fallback_kind; /* tried (once) when this one is given up; may be NULL */
    const char *fallback_to;
    int64_t not_after_ms; /* expires then; 0: now + give_up_after */
};

/**
 * Queues one message. 0 (also when the dedup key was queued before: *id_out
 * is then the first one's id), or -1 with *err: unknown kind, no channel
 * configured for it, missing fields, limits, store failure. Thread-safe.
 */
int dw_notifier_enqueue(struct dw_notifier *n, const struct dw_notification *msg, int64_t *id_out,
                        char **err);

/**
 * Queues several messages in one durable commit (one fsync). errs has count
 * slots: NULL for a message queued (or already queued under its key), else
 * why not (caller frees). Returns how many were queued. Thread-safe.
 */
int dw_notifier_enqueue_many(struct dw_notifier *n, const struct dw_notification *msgs,
                             size_t count, char **errs);

/** Switches to cfg's notify section (channel defaults) for later attempts. Thread-safe. */
void dw_notifier_set_config(struct dw_notifier *n, const struct dw_config *cfg);

/**
 * Outbox rows as JSON (newest first; at most limit, 1..1000): id, dedupKey,
 * kind, receiver, to, person, state, attempts, createdAt, nextAttemptAt,
 * doneAt, lastResult, lastDetail and, when with_attempts, every attempt
 * (at, result, status, detail, durationMs). state NULL: any. New reference,
 * or NULL with *err.
 */
json_t *dw_notifier_outbox_json(struct dw_store *store, const char *state, const char *dedup_prefix,
                                size_t limit, bool with_attempts, char **err);

/**
 * The auth token of the notify section's SMS provider (read from its file
 * when it has one), which Twilio signs inbound requests with; NULL when
 * none is configured. Caller frees.
 */
char *dw_notifier_twilio_token(struct dw_notifier *n);

/** Counters for tests and the API. */
struct dw_notifier_stats {
    int64_t events_read;   /* events taken from the queue */
    int64_t events_acked;  /* events whose notifications are in the outbox (cursor moved) */
    int64_t attempts;      /* requests made */
    int64_t delivered;     /* notifications delivered */
    int64_t given_up;      /* notifications finished without delivery: final error, expiry,
                              channel removed */
    int64_t retries;       /* attempts that failed and were scheduled again */
    int64_t pending;       /* notifications in the outbox not yet finished */
    int64_t breaker_skips; /* attempts put off because a channel's breaker was open */
    int64_t fallbacks;     /* fallback messages queued */
};
void dw_notifier_get_stats(struct dw_notifier *n, struct dw_notifier_stats *out);

/* ---- Twilio inbound requests ---- */

/**
 * Checks a request Twilio made to us (a voice call's keypad digits, a
 * status callback): signature is its X-Twilio-Signature header; url the full
 * URL Twilio requested (scheme, host, port if any, path and query string);
 * names / values the n POST form parameters (any order; none for a GET).
 * True when signature is base64(HMAC-SHA1(auth_token, url + each name and
 * value sorted by name)), compared in constant time. Thread-safe.
 */
bool dw_notify_twilio_signature_ok(const char *auth_token, const char *url,
                                   const char *const *names, const char *const *values, size_t n,
                                   const char *signature);

#endif
