/*
 * notifier.c - from the alerter's event queue to the receivers' channels,
 * at least once.
 *
 * DESIGN
 * Two cursors in the alerter's queue. "notify" (the consumer name given) is
 * the durable one: every event up to it was delivered or given up on every
 * channel of its receiver; it only moves when a prefix of events is done, so
 * a kill -9 at any moment re-sends what was in flight and loses nothing.
 * "<consumer>.read" marks how far the notifier has read; it only serves
 * dw_alerter_events_wait, which blocks until an event after a consumer's
 * cursor exists: the waiter thread sits in it and, when it returns, raises
 * `signalled` and wakes the delivery thread's curl_multi_poll() with
 * curl_multi_wakeup(). So a new event is picked up within microseconds even
 * while other transfers (or a 10 s time-out) are in flight.
 *
 * The delivery thread owns everything else: a window of events read and
 * not yet acknowledged (in id order, at most WINDOW_MAX), their deliveries
 * (one per webhook_configs item of the event's receiver), every transfer
 * (one libcurl multi handle, no thread per request, connections kept
 * alive), the backoff timers (monotonic clock), and the receivers' decoded
 * configuration. Reads always start at the durable cursor and skip what the
 * window already holds (ids up to read_high), so nothing between the two
 * cursors can be skipped, also after a restart.
 *
 * Order: a delivery waits while an earlier delivery of the same group to
 * the same channel is unfinished (`blocked`, released through next_same),
 * so a receiver never sees "resolved" before the "fired" it resolves, even
 * when the "fired" needed retries. Different groups and channels proceed
 * independently: one dead receiver delays nobody else.
 *
 * Retries: 5xx, 429, 408, time-outs and connection errors wait
 * base * 2^(attempt-1), capped, with equal jitter (a uniform draw in
 * [d/2, d]), or the Retry-After asked for when longer; an event older than
 * give_up_after (default 24 h, on dw_now_ms's clock) is dropped as
 * "expired". Other 4xx are given up at once. Everything is counted in
 * dojowatch_notify_* metrics and logged (the URL never: it may hold a token).
 *
 * Reload: dw_notifier_reload() raises a flag; the delivery thread re-reads
 * every receiver through dw_alerter_receiver_config at its next turn.
 * Queued deliveries keep their rendered body and take the URL, timeout and
 * credentials of their receiver's webhook at the same index when they are
 * attempted; one whose receiver or index is gone is dropped (logged).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "notify/notify_internal.h"

#define READ_BATCH 256             /* new events taken per read */
#define WINDOW_MAX 1024            /* events read and not yet acknowledged */
#define MAX_IN_FLIGHT 32           /* transfers at once, all receivers */
#define WAIT_SLICE_MS 250          /* the waiter re-checks the stop flag this often */
#define IDLE_WAIT_MS 1000          /* the delivery thread's longest sleep */
#define READ_RETRY_NS 1000000000LL /* after a store error */
#define ANSWER_MAX 1024
#define NS_PER_MS 1000000LL

struct event;

struct delivery {
    struct event *ev; /* owner */
    size_t hook;      /* index in the receiver's webhook_configs */
    char *body;       /* rendered once; freed when finished */
    int attempts;
    int64_t due_ns; /* dw_mono_ns() of the next attempt */
    bool in_flight, done, blocked;
    struct delivery *next_same; /* the next delivery of this group to this channel */
    struct attempt at;
};

struct event {
    int64_t id, at_ms;
    char *receiver, *group_key, *kind;
    struct delivery *d;
    size_t nd;
    size_t left; /* deliveries not finished */
};

struct dw_notifier {
    struct dw_alerter *a;
    char *consumer, *read_consumer;
    int64_t base_ms, max_ms, give_up_ms;
    CURLM *multi;
    pthread_t thread, waiter;
    bool running;
    atomic_bool stop, reload;

    pthread_mutex_t mu; /* guards signalled and st */
    pthread_cond_t cv;  /* the waiter waits here until signalled is consumed */
    bool signalled;     /* the waiter saw events after read_high */
    bool waiter_pause;  /* signalled twice for nothing: pause before waiting again */
    struct dw_notifier_stats st;

    /* The delivery thread's own (and new/free's, when it is not running). */
    struct y_receiver **recv;
    size_t nrecv;
    struct event **win;
    size_t nwin, capwin;
    int64_t read_high;     /* the newest event id read */
    int64_t read_acked;    /* the read cursor as the store has it */
    size_t behind;         /* events read and not yet acknowledged in the store */
    size_t popped;         /* of those, done and out of the window */
    int64_t ack_to, acked; /* done up to ack_to; the store has acked */
    bool more;             /* the last read was cut short: read again before sleeping */
    int64_t read_retry_ns; /* after a store error, no read before this */
    int empty_signals;     /* signalled reads in a row that found nothing new */
    size_t in_flight;
    uint64_t rng;
};

static struct {
    struct dw_metric *requests, *duration, *notifications, *pending;
} m;

static void register_metrics(void)
{
    static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                    0.25,  0.5,    1,     2.5,  5,     10};
    m.requests = dw_metric_counter("dojowatch_notify_webhook_requests_total",
                                   "Webhook requests by receiver and result (success, "
                                   "client_error, server_error, rate_limited, timeout, "
                                   "connection_error, error).",
                                   "receiver,result");
    m.duration = dw_metric_histogram("dojowatch_notify_webhook_request_duration_seconds",
                                     "Duration of webhook requests, by receiver.", "receiver",
                                     bounds, DW_ARRAY_LEN(bounds));
    m.notifications = dw_metric_counter("dojowatch_notify_notifications_total",
                                        "Notifications finished, by receiver and result "
                                        "(delivered, given_up, expired, dropped).",
                                        "receiver,result");
    m.pending = dw_metric_gauge("dojowatch_notify_pending_notifications",
                                "Notifications not yet delivered or given up.", NULL);
}

#define STAT(n, field, delta)                                                                      \
    do {                                                                                           \
        pthread_mutex_lock(&(n)->mu);                                                              \
        (n)->st.field += (delta);                                                                  \
        pthread_mutex_unlock(&(n)->mu);                                                            \
    } while (0)

/* ---- receivers ---- */

static void log_receiver_diags(const char *name, const struct dw_diags *diags)
{
    for (size_t i = 0; i < diags->n; i++) {
        struct dw_buf b;
        dw_buf_init(&b, 0);
        dw_diag_format(&diags->items[i], &b);
        bool warning = dw_str_has_prefix(diags->items[i].msg, "warning: ");
        dw_log_kv(warning ? DW_LOG_WARN : DW_LOG_ERROR, "notify",
                  warning ? "receiver configuration warning"
                          : "receiver configuration rejected; it gets no notifications",
                  "receiver", name, "detail", b.data, NULL);
        dw_buf_release(&b);
    }
}

/* The receiver's decoded channels; one without any (or unknown) gets a stub. */
static struct y_receiver *receiver_load(struct dw_notifier *n, const char *name)
{
    char *yaml = dw_alerter_receiver_config(n->a, name);
    struct y_receiver *r = NULL;
    if (yaml) {
        struct dw_diags diags;
        dw_diags_init(&diags);
        r = receiver_decode(name, yaml, &diags);
        log_receiver_diags(name, &diags);
        dw_diags_release(&diags);
    }
    if (!r) {
        r = dw_calloc(1, sizeof *r);
        r->name = dw_strdup(name);
    }
    free(yaml);
    n->recv = dw_realloc(n->recv, (n->nrecv + 1) * sizeof *n->recv);
    n->recv[n->nrecv++] = r;
    return r;
}

static void receivers_clear(struct dw_notifier *n)
{
    for (size_t i = 0; i < n->nrecv; i++)
        receiver_free(&n->recv[i]);
    free(n->recv);
    n->recv = NULL;
    n->nrecv = 0;
}

static void receivers_reload(struct dw_notifier *n)
{
    receivers_clear(n);
    json_t *list = dw_alerter_receivers_json(n->a);
    size_t i, hooks = 0;
    json_t *item;
    json_array_foreach(list, i, item)
    {
        const char *name = json_string_value(json_object_get(item, "name"));
        if (name)
            hooks += receiver_load(n, name)->nwebhooks;
    }
    json_decref(list);
    char nr[24], nh[24];
    snprintf(nr, sizeof nr, "%zu", n->nrecv);
    snprintf(nh, sizeof nh, "%zu", hooks);
    dw_log_kv(DW_LOG_INFO, "notify", "receivers loaded", "receivers", nr, "webhooks", nh, NULL);
}

static struct y_receiver *receiver_find(struct dw_notifier *n, const char *name)
{
    for (size_t i = 0; i < n->nrecv; i++)
        if (strcmp(n->recv[i]->name, name) == 0)
            return n->recv[i];
    return receiver_load(n, name); /* added by a reload we have not seen yet */
}

/* ---- finishing and retrying ---- */

static void log_delivery(enum dw_log_level level, const char *msg, const struct delivery *d,
                         const char *result, const char *detail, int64_t retry_in_ms)
{
    char id[24], hook[24], attempts[24], retry[24];
    snprintf(id, sizeof id, "%lld", (long long)d->ev->id);
    snprintf(hook, sizeof hook, "%zu", d->hook);
    snprintf(attempts, sizeof attempts, "%d", d->attempts);
    snprintf(retry, sizeof retry, "%lld", (long long)retry_in_ms);
    dw_log_kv(level, "notify", msg, "receiver", d->ev->receiver, "webhook", hook, "event", id,
              "kind", d->ev->kind, "group", d->ev->group_key, "attempts", attempts, "result",
              result, "detail", detail, "retry_in_ms", retry_in_ms >= 0 ? retry : NULL, NULL);
}

/* result: delivered, given_up, expired, dropped. */
static void finish(struct dw_notifier *n, struct delivery *d, const char *result,
                   const char *detail)
{
    d->done = true;
    d->ev->left--;
    free(d->body);
    d->body = NULL;
    if (d->next_same)
        d->next_same->blocked = false;
    bool ok = strcmp(result, "delivered") == 0;
    dw_metric_add(m.notifications, (const char *[]){d->ev->receiver, result}, 1);
    pthread_mutex_lock(&n->mu);
    n->st.pending--;
    if (ok)
        n->st.delivered++;
    else
        n->st.given_up++;
    pthread_mutex_unlock(&n->mu);
    if (ok)
        log_delivery(d->attempts > 1 ? DW_LOG_INFO : DW_LOG_DEBUG, "notification delivered", d,
                     result, NULL, -1);
    else
        log_delivery(DW_LOG_WARN, "notification given up", d, result, detail, -1);
}

static uint64_t next_random(struct dw_notifier *n)
{
    n->rng ^= n->rng << 13;
    n->rng ^= n->rng >> 7;
    n->rng ^= n->rng << 17;
    return n->rng;
}

/* base * 2^(attempts-1), capped, then a uniform draw in [d/2, d]. */
static int64_t backoff_ms(struct dw_notifier *n, int attempts)
{
    int64_t d = n->base_ms;
    for (int i = 1; i < attempts && d < n->max_ms; i++)
        d *= 2;
    if (d > n->max_ms)
        d = n->max_ms;
    return d / 2 + (int64_t)(next_random(n) % (uint64_t)(d / 2 + 1));
}

static bool expired(const struct dw_notifier *n, const struct event *ev, int64_t delay_ms)
{
    return dw_now_ms() + delay_ms - ev->at_ms > n->give_up_ms;
}

static void retry_later(struct dw_notifier *n, struct delivery *d, const struct outcome *o)
{
    int64_t delay = backoff_ms(n, d->attempts);
    if (o->retry_after_ms > delay)
        delay = o->retry_after_ms;
    if (expired(n, d->ev, delay)) {
        finish(n, d, "expired", o->detail);
        return;
    }
    d->due_ns = dw_mono_ns() + delay * NS_PER_MS;
    STAT(n, retries, 1);
    log_delivery(d->attempts == 1 ? DW_LOG_WARN : DW_LOG_DEBUG, "webhook attempt failed; retrying",
                 d, o->result, o->detail, delay);
}

/* ---- transfers ---- */

static void attempt_failed_to_start(struct dw_notifier *n, struct delivery *d, const char *why)
{
    attempt_release(&d->at);
    struct outcome o = {.action = OUT_RETRY, .result = "error", .retry_after_ms = -1};
    snprintf(o.detail, sizeof o.detail, "%s", why);
    dw_metric_add(m.requests, (const char *[]){d->ev->receiver, "error"}, 1);
    retry_later(n, d, &o);
}

static void attempt_start(struct dw_notifier *n, struct delivery *d, int64_t now_ns)
{
    struct y_receiver *r = receiver_find(n, d->ev->receiver);
    if (d->hook >= r->nwebhooks) {
        finish(n, d, "dropped", "the receiver or its webhook was removed by a reload");
        return;
    }
    if (expired(n, d->ev, 0)) {
        finish(n, d, "expired", "older than the give-up age");
        return;
    }
    d->attempts++;
    d->at = (struct attempt){.easy = curl_easy_init(), .started_ns = now_ns};
    dw_buf_init(&d->at.answer, ANSWER_MAX);
    char *err = NULL;
    if (!d->at.easy || webhook_channel.request(&r->webhooks[d->hook], NULL, d->body, &d->at, &err) < 0) {
        attempt_failed_to_start(n, d, err ? err : "cannot create a transfer");
        free(err);
        return;
    }
    curl_easy_setopt(d->at.easy, CURLOPT_PRIVATE, d);
    if (curl_multi_add_handle(n->multi, d->at.easy) != CURLM_OK) {
        attempt_failed_to_start(n, d, "libcurl refused the transfer");
        return;
    }
    d->in_flight = true;
    n->in_flight++;
}

/* Starts every delivery that is due; returns the next due time (INT64_MAX: none). */
static int64_t start_due(struct dw_notifier *n)
{
    int64_t now = dw_mono_ns(), next = INT64_MAX;
    for (size_t i = 0; i < n->nwin; i++) {
        struct event *ev = n->win[i];
        for (size_t k = 0; k < ev->nd; k++) {
            struct delivery *d = &ev->d[k];
            if (d->done || d->in_flight || d->blocked)
                continue;
            if (d->due_ns > now)
                next = d->due_ns < next ? d->due_ns : next;
            else if (n->in_flight < MAX_IN_FLIGHT)
                attempt_start(n, d, now);
        }
    }
    return next;
}

static void answer_received(struct dw_notifier *n, struct delivery *d, CURLcode rc)
{
    struct outcome o;
    webhook_channel.outcome(d->at.easy, rc, &d->at, &o);
    double secs = (double)(dw_mono_ns() - d->at.started_ns) / 1e9;
    dw_metric_add(m.requests, (const char *[]){d->ev->receiver, o.result}, 1);
    dw_metric_observe(m.duration, (const char *[]){d->ev->receiver}, secs);
    STAT(n, attempts, 1);
    d->in_flight = false;
    n->in_flight--;
    attempt_release(&d->at);
    if (o.action == OUT_DELIVERED)
        finish(n, d, "delivered", NULL);
    else if (o.action == OUT_GIVE_UP)
        finish(n, d, "given_up", o.detail);
    else
        retry_later(n, d, &o);
}

/* Handles every finished transfer; returns how many there were. */
static int finish_transfers(struct dw_notifier *n)
{
    int done = 0, left;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(n->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode rc = msg->data.result; /* msg is invalid after the removal */
        struct delivery *d = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&d);
        curl_multi_remove_handle(n->multi, easy);
        answer_received(n, d, rc);
        done++;
    }
    return done;
}

static void abandon_in_flight(struct dw_notifier *n)
{
    for (size_t i = 0; i < n->nwin; i++)
        for (size_t k = 0; k < n->win[i]->nd; k++) {
            struct delivery *d = &n->win[i]->d[k];
            if (!d->in_flight)
                continue;
            curl_multi_remove_handle(n->multi, d->at.easy);
            attempt_release(&d->at);
            d->in_flight = false;
            d->due_ns = 0;
        }
    n->in_flight = 0;
}

/* ---- the window of events ---- */

/* Links d behind the newest unfinished delivery of its group to its channel. */
static void chain_link(struct dw_notifier *n, struct delivery *d)
{
    for (size_t i = n->nwin; i-- > 0;) {
        struct event *ev = n->win[i];
        if (strcmp(ev->receiver, d->ev->receiver) != 0 ||
            strcmp(ev->group_key, d->ev->group_key) != 0)
            continue;
        for (size_t k = 0; k < ev->nd; k++) {
            struct delivery *p = &ev->d[k];
            if (p->hook == d->hook && !p->done && !p->next_same) {
                p->next_same = d;
                d->blocked = true;
                return;
            }
        }
    }
}

static void add_delivery(struct dw_notifier *n, struct event *e, size_t hook, char *body)
{
    struct delivery *d = &e->d[e->nd++];
    *d = (struct delivery){.ev = e, .hook = hook, .body = body};
    e->left++;
    STAT(n, pending, 1);
    if (expired(n, e, 0))
        finish(n, d, "expired", "older than the give-up age when read");
    else
        chain_link(n, d);
}

static struct event *event_new(struct dw_notifier *n, const struct dw_alert_event *ae)
{
    struct event *e = dw_calloc(1, sizeof *e);
    *e = (struct event){.id = ae->id, .at_ms = ae->at_ms};
    e->receiver = dw_strdup(ae->receiver ? ae->receiver : "");
    e->group_key = dw_strdup(ae->group_key ? ae->group_key : "");
    e->kind = dw_strdup(ae->kind ? ae->kind : "");
    struct y_receiver *r = receiver_find(n, e->receiver);
    e->d = dw_calloc(r->nwebhooks ? r->nwebhooks : 1, sizeof *e->d);
    for (size_t i = 0; i < r->nwebhooks; i++) {
        const char *skip = NULL;
        char *body = webhook_channel.render(&r->webhooks[i], ae->payload ? ae->payload : "", &skip);
        if (body)
            add_delivery(n, e, i, body);
        else
            dw_log_kv(DW_LOG_DEBUG, "notify", "nothing to send", "receiver", e->receiver, "group",
                      e->group_key, "why", skip, NULL);
    }
    return e;
}

static void event_free(struct event *e)
{
    for (size_t k = 0; k < e->nd; k++) {
        attempt_release(&e->d[k].at);
        free(e->d[k].body);
    }
    free(e->d);
    free(e->receiver);
    free(e->group_key);
    free(e->kind);
    free(e);
}

static bool take_signal(struct dw_notifier *n)
{
    pthread_mutex_lock(&n->mu);
    bool s = n->signalled;
    pthread_mutex_unlock(&n->mu);
    return s;
}

static void release_waiter(struct dw_notifier *n, bool pause)
{
    pthread_mutex_lock(&n->mu);
    n->signalled = false;
    n->waiter_pause = pause;
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

static void add_events(struct dw_notifier *n, const struct dw_alert_event *ev, size_t cnt)
{
    for (size_t i = 0; i < cnt; i++) {
        if (ev[i].id <= n->read_high)
            continue; /* in the window, or done and not yet acknowledged */
        struct event *e = event_new(n, &ev[i]); /* (links to the window as it is) */
        n->win = dw_grow(n->win, &n->capwin, n->nwin + 1, sizeof *n->win);
        n->win[n->nwin++] = e;
        n->read_high = ev[i].id;
        n->behind++;
        STAT(n, events_read, 1);
    }
}

static void log_store_error(const char *what, const char *err)
{
    dw_log_kv(DW_LOG_ERROR, "notify", what, "error", err ? err : "?", NULL);
}

/*
 * The waiter is signalled when the alerter's newest event id is above our
 * read cursor. That id can outlive its event (the 30-day prune), and then
 * every wait would return at once: after two signalled reads in a row that
 * found nothing, the waiter pauses for a slice instead of spinning (until
 * the next real event moves read_high past it).
 */
static bool signal_was_empty(struct dw_notifier *n, bool signalled, int64_t before)
{
    if (!signalled || n->read_high != before) {
        n->empty_signals = 0;
        return false;
    }
    return ++n->empty_signals >= 2;
}

/* Reads the events after the durable cursor that the window does not hold yet. */
static void take_new_events(struct dw_notifier *n)
{
    bool signalled = take_signal(n);
    if (!signalled && !n->more)
        return;
    if (n->nwin >= WINDOW_MAX || dw_mono_ns() < n->read_retry_ns) {
        n->more = true; /* the waiter stays parked until there is room */
        return;
    }
    size_t room = WINDOW_MAX - n->nwin;
    size_t max = n->behind + (room < READ_BATCH ? room : READ_BATCH);
    struct dw_alert_event *ev = NULL;
    size_t cnt = 0;
    char *err = NULL;
    if (dw_alerter_events_read(n->a, n->consumer, max, &ev, &cnt, &err) != 0) {
        log_store_error("reading the alert event queue failed; retrying in 1 s", err);
        free(err);
        n->read_retry_ns = dw_mono_ns() + READ_RETRY_NS;
        n->more = true;
        return;
    }
    int64_t before = n->read_high;
    add_events(n, ev, cnt);
    dw_alert_events_free(ev, cnt);
    n->more = cnt == max;
    if (n->read_high > n->read_acked) {
        if (dw_alerter_events_ack(n->a, n->read_consumer, n->read_high, &err) == 0) {
            n->read_acked = n->read_high;
        } else {
            log_store_error("moving the read cursor failed", err);
            free(err);
        }
    }
    if (!n->more)
        release_waiter(n, signal_was_empty(n, signalled, before));
}

/* Drops the finished prefix of the window and moves the durable cursor past it. */
static void ack_done(struct dw_notifier *n)
{
    size_t k = 0;
    while (k < n->nwin && n->win[k]->left == 0) {
        n->ack_to = n->win[k]->id;
        event_free(n->win[k++]);
    }
    if (k) {
        memmove(n->win, n->win + k, (n->nwin - k) * sizeof *n->win);
        n->nwin -= k;
        n->popped += k;
    }
    if (n->ack_to <= n->acked)
        return;
    char *err = NULL;
    if (dw_alerter_events_ack(n->a, n->consumer, n->ack_to, &err) != 0) {
        log_store_error("acknowledging alert events failed; retrying", err);
        free(err);
        return;
    }
    n->acked = n->ack_to;
    n->behind -= n->popped;
    STAT(n, events_acked, (int64_t)n->popped);
    n->popped = 0;
}

/* ---- threads ---- */

static void wait_for_work(struct dw_notifier *n, int64_t next_ns)
{
    int64_t wait_ms = IDLE_WAIT_MS;
    if (next_ns != INT64_MAX) {
        int64_t until = (next_ns - dw_mono_ns() + NS_PER_MS - 1) / NS_PER_MS;
        wait_ms = until < wait_ms ? until : wait_ms;
    }
    if (n->read_retry_ns > dw_mono_ns()) {
        int64_t until = (n->read_retry_ns - dw_mono_ns() + NS_PER_MS - 1) / NS_PER_MS;
        wait_ms = until < wait_ms ? until : wait_ms;
    }
    if (take_signal(n) && !n->more)
        wait_ms = 0;
    if (n->more && n->nwin < WINDOW_MAX && dw_mono_ns() >= n->read_retry_ns)
        wait_ms = 0;
    curl_multi_poll(n->multi, NULL, 0, wait_ms > 0 ? (int)wait_ms : 0, NULL);
}

static void publish(struct dw_notifier *n)
{
    pthread_mutex_lock(&n->mu);
    double pending = (double)n->st.pending;
    pthread_mutex_unlock(&n->mu);
    dw_metric_set(m.pending, NULL, pending);
}

static void *delivery_thread(void *arg)
{
    struct dw_notifier *n = arg;
    while (!atomic_load(&n->stop)) {
        if (atomic_exchange(&n->reload, false))
            receivers_reload(n);
        take_new_events(n);
        int64_t next = start_due(n);
        int running = 0;
        curl_multi_perform(n->multi, &running);
        int finished = finish_transfers(n);
        ack_done(n);
        publish(n);
        if (!finished)
            wait_for_work(n, next);
    }
    abandon_in_flight(n);
    return NULL;
}

/* Blocks in dw_alerter_events_wait; wakes the delivery thread when events
 * after read_high exist, then parks until they have been read. */
static void pause_slice(struct dw_notifier *n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + WAIT_SLICE_MS * NS_PER_MS;
    ts.tv_sec += (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_cond_timedwait(&n->cv, &n->mu, &ts);
}

static void *waiter_thread(void *arg)
{
    struct dw_notifier *n = arg;
    while (!atomic_load(&n->stop)) {
        pthread_mutex_lock(&n->mu);
        while (n->signalled && !atomic_load(&n->stop))
            pthread_cond_wait(&n->cv, &n->mu);
        if (n->waiter_pause && !atomic_load(&n->stop))
            pause_slice(n);
        n->waiter_pause = false;
        pthread_mutex_unlock(&n->mu);
        if (atomic_load(&n->stop))
            break;
        if (!dw_alerter_events_wait(n->a, n->read_consumer, WAIT_SLICE_MS))
            continue;
        pthread_mutex_lock(&n->mu);
        n->signalled = true;
        pthread_mutex_unlock(&n->mu);
        curl_multi_wakeup(n->multi);
    }
    return NULL;
}

/* ---- life ---- */

struct dw_notifier *dw_notifier_new(const struct dw_notifier_options *o)
{
    register_metrics();
    struct dw_notifier *n = dw_calloc(1, sizeof *n);
    n->a = o->alerter;
    n->consumer = dw_strdup(o->consumer ? o->consumer : "notify");
    n->read_consumer = dw_asprintf("%s.read", n->consumer);
    n->base_ms = o->backoff_base_ms > 0 ? o->backoff_base_ms : 500;
    n->max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : 30000;
    if (n->max_ms < n->base_ms)
        n->max_ms = n->base_ms;
    n->give_up_ms = o->give_up_after_ms > 0 ? o->give_up_after_ms : 24LL * 3600 * 1000;
    n->multi = curl_multi_init();
    if (!n->multi)
        dw_oom(0);
    curl_multi_setopt(n->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 8L);
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    dw_random_bytes(&n->rng, sizeof n->rng);
    n->rng |= 1;
    n->more = true; /* read what is queued at once */
    receivers_reload(n);
    return n;
}

static void name_thread(pthread_t t, const char *name)
{
    pthread_setname_np(t, name);
}

int dw_notifier_start(struct dw_notifier *n)
{
    if (n->running)
        return 0;
    atomic_store(&n->stop, false);
    int rc = pthread_create(&n->thread, NULL, delivery_thread, n);
    if (rc == 0) {
        name_thread(n->thread, "dw-notify");
        rc = pthread_create(&n->waiter, NULL, waiter_thread, n);
        if (rc != 0) {
            atomic_store(&n->stop, true);
            curl_multi_wakeup(n->multi);
            pthread_join(n->thread, NULL);
        }
    }
    if (rc != 0) {
        dw_log_kv(DW_LOG_ERROR, "notify", "cannot start the notifier thread", "error", strerror(rc),
                  NULL);
        return -1;
    }
    name_thread(n->waiter, "dw-notify-wait");
    n->running = true;
    return 0;
}

void dw_notifier_stop(struct dw_notifier *n)
{
    if (!n || !n->running)
        return;
    atomic_store(&n->stop, true);
    curl_multi_wakeup(n->multi);
    pthread_mutex_lock(&n->mu);
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    pthread_join(n->thread, NULL);
    pthread_join(n->waiter, NULL);
    n->running = false;
    n->signalled = false;
    n->more = true;
}

void dw_notifier_reload(struct dw_notifier *n)
{
    atomic_store(&n->reload, true);
    curl_multi_wakeup(n->multi);
}

void dw_notifier_get_stats(struct dw_notifier *n, struct dw_notifier_stats *out)
{
    pthread_mutex_lock(&n->mu);
    *out = n->st;
    pthread_mutex_unlock(&n->mu);
}

void dw_notifier_free(struct dw_notifier **pn)
{
    struct dw_notifier *n = pn ? *pn : NULL;
    if (!n)
        return;
    dw_notifier_stop(n);
    for (size_t i = 0; i < n->nwin; i++)
        event_free(n->win[i]);
    free(n->win);
    receivers_clear(n);
    curl_multi_cleanup(n->multi);
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
    free(n->consumer);
    free(n->read_consumer);
    free(n);
    *pn = NULL;
}
