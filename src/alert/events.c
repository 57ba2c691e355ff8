/*
 * events.c - the consumers' side of the event queue: read after a cursor,
 * acknowledge, wait for more, and prune what everyone has seen.
 *
 * DESIGN
 * The dispatcher appends events (alert_events) in the same durable
 * transaction that records what the receiver was told; consumers (the
 * notify and incident modules) each keep a cursor in alert_consumers, read
 * the events after it and move it when they have handled them, so delivery
 * is at least once: a consumer that dies before acknowledging reads the
 * same events again. A consumer seen for the first time starts at the
 * oldest event still kept. Waiting uses a condition variable signalled on
 * every append, so a consumer wakes within microseconds of a flush.
 *
 * Pruning (from the tick, every minute): events that every known consumer
 * has acknowledged go after a day; any event goes after 30 days, read or
 * not (logged), so a consumer that never comes back cannot fill the disk.
 *
 * Threads: read/ack/wait do not take the alerter's mutex (the store is
 * thread-safe); the wait takes ev_mu only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert/alert_internal.h"

#define CONSUMER_NAME_MAX 64
#define READ_MAX 10000 /* events returned by one read */
#define ACKED_RETENTION_MS (24LL * 3600 * 1000)
#define MAX_RETENTION_MS (30LL * 24 * 3600 * 1000)

void events_appended(struct dw_alerter *a, int64_t id)
{
    pthread_mutex_lock(&a->ev_mu);
    if (id > a->last_event_id)
        a->last_event_id = id;
    pthread_cond_broadcast(&a->ev_cond);
    pthread_mutex_unlock(&a->ev_mu);
}

static int check_name(const char *consumer, char **err)
{
    size_t n = consumer ? strlen(consumer) : 0;
    if (n == 0 || n > CONSUMER_NAME_MAX) {
        if (err)
            *err = dw_asprintf("consumer name must be 1 to %d bytes", CONSUMER_NAME_MAX);
        return -1;
    }
    return 0;
}

static int64_t cursor_of(struct dw_alerter *a, const char *consumer)
{
    int64_t cur = 0;
    char *err = NULL;
    const struct dw_value p[] = {DW_VTEXT(consumer)};
    dw_store_int(a->store, "SELECT last_id FROM alert_consumers WHERE name = $1", p, 1, &cur, &err);
    free(err);
    return cur;
}

struct read_ctx {
    struct dw_alert_event *ev;
    size_t n, cap;
};

static char *text_or_null(const struct dw_value *v)
{
    return v->type == DW_VAL_TEXT ? dw_strdup(v->s) : NULL;
}

static int event_row(void *ctx, const struct dw_value *c, size_t n)
{
    struct read_ctx *rc = ctx;
    if (n < 7)
        return 1;
    if (rc->n == rc->cap)
        return 1;
    rc->ev[rc->n++] = (struct dw_alert_event){
        .id = c[0].i,
        .at_ms = c[1].i,
        .kind = text_or_null(&c[2]),
        .receiver = text_or_null(&c[3]),
        .group_key = text_or_null(&c[4]),
        .priority = text_or_null(&c[5]),
        .payload = text_or_null(&c[6]),
    };
    return 0;
}

int dw_alerter_events_read(struct dw_alerter *a, const char *consumer, size_t max,
                           struct dw_alert_event **out, size_t *n, char **err)
{
    *out = NULL;
    *n = 0;
    if (check_name(consumer, err) < 0)
        return DW_ALERT_EINVAL;
    const struct dw_value reg[] = {DW_VTEXT(consumer), DW_VINT(dw_now_ms())};
    if (dw_store_exec(a->store,
                      "INSERT INTO alert_consumers (name, last_id, updated_at) VALUES ($1, 0, $2)"
                      " ON CONFLICT (name) DO NOTHING",
                      reg, 2, NULL, NULL, err) < 0)
        return -1;
    if (max == 0)
        return 0;
    if (max > READ_MAX)
        max = READ_MAX;
    struct read_ctx rc = {.ev = dw_calloc(max, sizeof *rc.ev), .cap = max};
    const struct dw_value p[] = {DW_VINT(cursor_of(a, consumer)), DW_VINT((int64_t)max)};
    if (dw_store_exec(a->store,
                      "SELECT id, at, kind, receiver, group_key, priority, payload"
                      " FROM alert_events WHERE id > $1 ORDER BY id LIMIT $2",
                      p, 2, event_row, &rc, err) < 0) {
        dw_alert_events_free(rc.ev, rc.n);
        return -1;
    }
    *out = rc.ev;
    *n = rc.n;
    return 0;
}

void dw_alert_events_free(struct dw_alert_event *ev, size_t n)
{
    for (size_t i = 0; ev && i < n; i++) {
        free(ev[i].kind);
        free(ev[i].receiver);
        free(ev[i].group_key);
        free(ev[i].priority);
        free(ev[i].payload);
    }
    free(ev);
}

int dw_alerter_events_ack(struct dw_alerter *a, const char *consumer, int64_t last_id, char **err)
{
    if (check_name(consumer, err) < 0)
        return DW_ALERT_EINVAL;
    const struct dw_value p[] = {DW_VTEXT(consumer), DW_VINT(last_id), DW_VINT(dw_now_ms())};
    return dw_store_exec(a->store,
                         "INSERT INTO alert_consumers (name, last_id, updated_at)"
                         " VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET"
                         " last_id = CASE WHEN alert_consumers.last_id < $2 THEN $2"
                         " ELSE alert_consumers.last_id END, updated_at = $3",
                         p, 3, NULL, NULL, err) < 0
               ? -1
               : 0;
}

bool dw_alerter_events_wait(struct dw_alerter *a, const char *consumer, int64_t timeout_ms)
{
    int64_t cur = check_name(consumer, NULL) == 0 ? cursor_of(a, consumer) : 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = ts.tv_nsec + (timeout_ms % 1000) * 1000000;
    ts.tv_sec += (time_t)(timeout_ms / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&a->ev_mu);
    while (a->last_event_id <= cur)
        if (pthread_cond_timedwait(&a->ev_cond, &a->ev_mu, &ts) == ETIMEDOUT)
            break;
    bool more = a->last_event_id > cur;
    pthread_mutex_unlock(&a->ev_mu);
    return more;
}

int events_prune(struct dw_alerter *a, int64_t now, char **err)
{
    const struct dw_value p[] = {DW_VINT(now - ACKED_RETENTION_MS)};
    if (dw_store_exec(a->store,
                      "DELETE FROM alert_events WHERE at < $1 AND id <= (SELECT COALESCE("
                      "MIN(last_id), 0) FROM alert_consumers)",
                      p, 1, NULL, NULL, err) < 0)
        return -1;
    const struct dw_value q[] = {DW_VINT(now - MAX_RETENTION_MS)};
    if (dw_store_exec(a->store, "DELETE FROM alert_events WHERE at < $1", q, 1, NULL, NULL, err) <
        0)
        return -1;
    int64_t dropped = dw_store_changes(a->store);
    if (dropped > 0)
        dw_log(DW_LOG_WARN, "alert",
               "dropped %lld queued alert events older than 30 days that a consumer never read",
               (long long)dropped);
    return 0;
}
