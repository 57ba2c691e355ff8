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

struct dw_notifier;

struct dw_notifier_options {
    struct dw_alerter *alerter; /* borrowed; must outlive the notifier */
    const char *consumer;       /* cursor name; NULL: "notify" */
    int64_t backoff_base_ms;    /* first retry delay before jitter; 0: 500 ms */
    int64_t backoff_max_ms;     /* cap of the exponential backoff; 0: 30 s */
    int64_t give_up_after_ms;   /* an event older than this (dw_now_ms) is dropped; 0: 24 h */
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

/** Counters for tests and the API. */
struct dw_notifier_stats {
    int64_t events_read;  /* events taken from the queue */
    int64_t events_acked; /* events done (delivered, given up or nothing to send) */
    int64_t attempts;     /* HTTP requests made */
    int64_t delivered;    /* notifications delivered (2xx) */
    int64_t given_up;     /* notifications dropped: a final 4xx, expiry, channel removed */
    int64_t retries;      /* attempts that failed and were scheduled again */
    int64_t pending;      /* notifications not yet delivered or given up */
};
void dw_notifier_get_stats(struct dw_notifier *n, struct dw_notifier_stats *out);

#endif
