/*
 * notifier.c - from the alerter's event queue and from dw_notifier_enqueue
 * through the outbox to every channel, at least once.
 *
 * DESIGN
 * Everything to send is a row in the outbox first (outbox.c). Two producers:
 *  - the alerter's event queue, read as consumer "notify": each event gives
 *    one row per channel of its receiver (dedup key "ev:<id>:<channel>"),
 *    written in one transaction; then the cursor moves past the event. A
 *    kill -9 between the two re-reads the event and the dedup keys make the
 *    second insert a no-op: no loss, no double row.
 *  - dw_notifier_enqueue (the on-call module's pages, any thread): one row,
 *    durable commit, then the delivery thread is woken.
 * The waiter thread sits in dw_alerter_events_wait on the cursor and wakes
 * the delivery thread's curl_multi_poll() with curl_multi_wakeup(), so new
 * events reach the wire within microseconds.
 *
 * The delivery thread owns the rest: the pending rows it has loaded (at most
 * LIVE_MAX in id order; the rest wait in the store), every transfer (one
 * libcurl multi handle, no thread per request, connections kept alive),
 * backoff timers on the monotonic clock, the receivers' decoded channels and
 * the circuit breakers. Every attempt's result is recorded in the outbox,
 * batched in one transaction per turn. After a restart the pending rows are
 * loaded again and continue where they were (attempt count, due time).
 *
 * Order: a row waits while an earlier row of the same chain (receiver,
 * channel, destination and order key - the alert group) is unfinished, so a
 * receiver never sees "resolved" before the "fired" it resolves. Different
 * chains are independent: one dead receiver delays nobody else.
 *
 * Retries: what the channel classifies as retryable waits base * 2^(n-1),
 * capped, with equal jitter (uniform in [d/2, d]), or the Retry-After asked
 * for when longer; on a channel where at least half of the last outcomes
 * succeeded the exponent stops at 3 (2 s with the defaults), so a receiver
 * that fails now and then does not leave a notification waiting minutes; a row past its not-after
 * time is "expired". Rows given up or expired that name a fallback (a call that cannot be placed ->
 * SMS) queue the fallback once, with the same message.
 *
 * Circuit breaker, per channel (receiver + channel index, or the kind of a
 * direct message): when nine in ten of its last outcomes (at least
 * breaker_failures of them, at most 20) were retryable failures, the channel
 * is open for breaker_open_ms (doubling up to 5 min while it keeps failing);
 * attempts due meanwhile wait, then one probe goes out (half open): success
 * closes it, failure opens it again. A channel failing half the time stays
 * closed: its retries get through. A final 4xx is the message's fault, not
 * the channel's, and counts as a success here.
 *
 * Threads: each row carries its thread key (msg_thread_key: a plain
 * message's "thread", an alert group's firing episode). Before an attempt
 * on a channel that threads (channel.thread_dest: Slack in Web API mode,
 * e-mail), the root delivered before for (key, destination) is read from
 * notify_threads and lent to the request; an attempt delivered without one
 * reports its own (Slack's channel id and ts) and it is recorded in the
 * same transaction as the attempt, so the next message of the chain (the
 * producer gives an incident's messages one order key) replies to it.
 * This thread is the only writer of notify_threads.
 *
 * Reload: dw_notifier_reload() raises a flag; the delivery thread re-reads
 * every receiver through dw_alerter_receiver_config at its next turn.
 * Queued rows keep their rendered body and use the receiver's current
 * channel at the same index; one whose channel disappeared is "dropped".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "notify/notify_internal.h"
#include "notify/outbox.h"

#define READ_BATCH 256             /* events taken per read */
#define LIVE_MAX 4096              /* pending rows held in memory */
#define MAX_IN_FLIGHT 32           /* transfers at once, all channels */
#define WAIT_SLICE_MS 250          /* the waiter re-checks the stop flag this often */
#define IDLE_WAIT_MS 1000          /* the delivery thread's longest sleep */
#define READ_RETRY_NS 1000000000LL /* after a store error */
#define ANSWER_MAX 1024
#define NS_PER_MS 1000000LL
#define BREAKER_MAX_OPEN_MS 300000
#define BREAKERS_MAX 256
#define BREAKER_WINDOW 20 /* outcomes the failure share is taken over */
#define UP_ATTEMPTS_MAX 3 /* on a channel that is mostly up, backoff grows no further */
#define PRUNE_AFTER_MS (30LL * 24 * 3600 * 1000)
#define PRUNE_EVERY_NS (3600LL * 1000000000)

struct delivery {
    struct ob_row row; /* owned */
    int attempts;
    int64_t due_ns; /* dw_mono_ns() of the next attempt */
    int64_t started_ms;
    bool in_flight, done, blocked, probe;
    uint64_t chain, breaker;
    struct delivery *next_same; /* the next row of this chain */
    struct attempt at;
    char *thread_dest;  /* where the row's thread lives for its channel (heap); NULL: none */
    bool thread_rooted; /* the last attempt replied to a known root */
};

struct breaker {
    uint64_t key;
    uint32_t recent; /* the last outcomes, one bit each (1: failed), newest in bit 0 */
    int nrecent;     /* how many of the bits are outcomes (at most BREAKER_WINDOW) */
    int64_t open_until_ns, open_ms;
    bool probing;
    char label[64];
};

struct dw_notifier {
    struct dw_alerter *a;
    struct dw_store *store;
    char *consumer;
    int64_t base_ms, max_ms, give_up_ms;
    int breaker_failures;
    int64_t breaker_open_ms;
    dw_notify_done_fn on_done;
    void *on_done_ctx;
    CURLM *multi;
    pthread_t thread, waiter;
    bool running;
    atomic_bool stop, reload, dirty;

    pthread_mutex_t mu; /* guards signalled, waiter_pause and st */
    pthread_cond_t cv;  /* the waiter waits here until signalled is consumed */
    bool signalled;
    bool waiter_pause;
    struct dw_notifier_stats st;

    pthread_mutex_t cfg_mu;   /* guards prov */
    struct y_providers *prov; /* the notify section's channel defaults; may be NULL */

    /* The delivery thread's own (and new/free's, when it is not running). */
    struct y_receiver **recv;
    size_t nrecv;
    struct delivery **live; /* in id order */
    size_t nlive, caplive;
    int64_t loaded_high; /* the highest outbox id loaded */
    bool more_rows;      /* the last load was cut short */
    bool more_events;
    int64_t read_retry_ns;
    int empty_signals;
    size_t in_flight;
    struct ob_result *results; /* recorded at the end of the turn */
    size_t nresults, capresults;
    struct breaker breakers[BREAKERS_MAX];
    size_t nbreakers;
    int64_t next_prune_ns;
    uint64_t rng;
};

static struct {
    struct dw_metric *requests, *duration, *notifications, *pending, *breaker;
} m;

static void register_metrics_once(void)
{
    static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                    0.25,  0.5,    1,     2.5,  5,     10};
    m.requests = dw_metric_counter("dojowatch_notify_requests_total",
                                   "Requests to notification channels by channel kind, receiver "
                                   "and result (success, client_error, server_error, "
                                   "rate_limited, timeout, connection_error, error).",
                                   "channel,receiver,result");
    m.duration = dw_metric_histogram("dojowatch_notify_request_duration_seconds",
                                     "Duration of requests to notification channels.",
                                     "channel,receiver", bounds, DW_ARRAY_LEN(bounds));
    m.notifications = dw_metric_counter("dojowatch_notify_notifications_total",
                                        "Notifications finished, by channel kind, receiver and "
                                        "result (delivered, given_up, expired, dropped).",
                                        "channel,receiver,result");
    m.pending = dw_metric_gauge("dojowatch_notify_pending_notifications",
                                "Notifications in the outbox not yet delivered or given up.", NULL);
    m.breaker = dw_metric_gauge("dojowatch_notify_circuit_open",
                                "1 while a channel's circuit breaker is open.", "channel");
}

/* The metric handles are written once, before any delivery thread reads them. */
static void register_metrics(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_metrics_once);
}

#define STAT(n, field, delta)                                                                      \
    do {                                                                                           \
        pthread_mutex_lock(&(n)->mu);                                                              \
        (n)->st.field += (delta);                                                                  \
        pthread_mutex_unlock(&(n)->mu);                                                            \
    } while (0)

static const char *receiver_label(const struct delivery *d)
{
    return d->row.receiver[0] ? d->row.receiver : "direct";
}

/* ---- receivers ---- */

static void log_receiver_diags(const char *name, const struct dw_diags *diags)
{
    for (size_t i = 0; i < diags->n; i++) {
        struct dw_buf b;
        dw_buf_init(&b, 0);
        dw_diag_format(&diags->items[i], &b);
        bool warning = dw_str_has_prefix(diags->items[i].msg, "warning: ");
        dw_log_kv(warning ? DW_LOG_WARN : DW_LOG_ERROR, "notify",
                  warning ? "channel configuration warning"
                          : "channel configuration rejected; it gets no notifications",
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
    size_t i, targets = 0;
    json_t *item;
    json_array_foreach(list, i, item)
    {
        const char *name = json_string_value(json_object_get(item, "name"));
        if (name)
            targets += receiver_load(n, name)->ntargets;
    }
    json_decref(list);
    char nr[24], nt[24];
    snprintf(nr, sizeof nr, "%zu", n->nrecv);
    snprintf(nt, sizeof nt, "%zu", targets);
    dw_log_kv(DW_LOG_INFO, "notify", "receivers loaded", "receivers", nr, "channels", nt, NULL);
}

static struct y_receiver *receiver_find(struct dw_notifier *n, const char *name)
{
    for (size_t i = 0; i < n->nrecv; i++)
        if (strcmp(n->recv[i]->name, name) == 0)
            return n->recv[i];
    return receiver_load(n, name); /* added by a reload we have not seen yet */
}

/* Direct webhook messages (the status page's subscribers): no redirects, 10 s. */
static const struct y_webhook direct_webhook = {.send_resolved = true, .timeout_ms = 10000};

/* The notify section's default configuration for a kind, NULL when absent. */
static const void *providers_conf(const struct y_providers *p, const char *kind)
{
    if (!p)
        return NULL;
    if (strcmp(kind, "slack") == 0)
        return p->slack;
    if (strcmp(kind, "email") == 0)
        return p->email;
    if (strcmp(kind, "sms") == 0)
        return p->sms;
    if (strcmp(kind, "voice") == 0)
        return p->voice;
    if (strcmp(kind, "pagerduty") == 0)
        return p->pagerduty;
    if (strcmp(kind, "webhook") == 0) /* a direct one: the message's destination is its URL */
        return &direct_webhook;
    return NULL;
}

/* The channel and configuration a row goes through now; false when gone. */
static bool row_channel(struct dw_notifier *n, const struct ob_row *row, const struct channel **ch,
                        const void **conf)
{
    if (row->target >= 0) {
        struct y_receiver *r = receiver_find(n, row->receiver);
        if ((size_t)row->target >= r->ntargets ||
            strcmp(r->targets[row->target].ch->kind, row->kind) != 0)
            return false;
        *ch = r->targets[row->target].ch;
        *conf = r->targets[row->target].conf;
        return true;
    }
    *ch = channel_by_kind(row->kind);
    *conf = *ch ? providers_conf(n->prov, row->kind) : NULL;
    return *ch && *conf;
}

/* ---- finishing and retrying ---- */

static void log_delivery(enum dw_log_level level, const char *msg, const struct delivery *d,
                         const char *result, const char *detail, int64_t retry_in_ms)
{
    char id[24], attempts[24], retry[24];
    snprintf(id, sizeof id, "%lld", (long long)d->row.id);
    snprintf(attempts, sizeof attempts, "%d", d->attempts);
    snprintf(retry, sizeof retry, "%lld", (long long)retry_in_ms);
    dw_log_kv(level, "notify", msg, "receiver", receiver_label(d), "channel", d->row.kind,
              "outbox_id", id, "key", d->row.dedup_key, "attempts", attempts, "result", result,
              "detail", detail, "retry_in_ms", retry_in_ms >= 0 ? retry : NULL, NULL);
}

static struct ob_result *result_slot(struct dw_notifier *n)
{
    n->results = dw_grow(n->results, &n->capresults, n->nresults + 1, sizeof *n->results);
    struct ob_result *r = &n->results[n->nresults++];
    *r = (struct ob_result){0};
    return r;
}

static void queue_fallback(struct dw_notifier *n, const struct delivery *d);

/* state: delivered, given_up, expired, dropped. res (may be NULL) is this attempt's record. */
static void finish(struct dw_notifier *n, struct delivery *d, const char *state,
                   struct ob_result *res, const char *detail)
{
    d->done = true;
    if (d->next_same)
        d->next_same->blocked = false;
    if (!res) {
        res = result_slot(n);
        res->id = d->row.id;
        res->detail = NULL;
    }
    res->state = state;
    res->done_ms = dw_now_ms();
    bool ok = strcmp(state, "delivered") == 0;
    dw_metric_add(m.notifications, (const char *[]){d->row.kind, receiver_label(d), state}, 1);
    pthread_mutex_lock(&n->mu);
    n->st.pending--;
    if (ok)
        n->st.delivered++;
    else
        n->st.given_up++;
    pthread_mutex_unlock(&n->mu);
    if (ok)
        log_delivery(d->attempts > 1 ? DW_LOG_INFO : DW_LOG_DEBUG, "notification delivered", d,
                     state, NULL, -1);
    else
        log_delivery(DW_LOG_WARN, "notification given up", d, state, detail, -1);
    if (!ok && d->row.fallback_kind && d->row.payload)
        queue_fallback(n, d);
    if (n->on_done)
        n->on_done(n->on_done_ctx, d->row.dedup_key, d->row.kind, d->row.to, state, detail);
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

static bool expired(const struct delivery *d, int64_t delay_ms)
{
    return dw_now_ms() + delay_ms > d->row.not_after_ms;
}

static bool channel_mostly_up(struct dw_notifier *n, const struct delivery *d);

static void retry_later(struct dw_notifier *n, struct delivery *d, struct ob_result *res,
                        const struct outcome *o)
{
    /* a channel answering most requests is up: this failure was a passing one, so the
       backoff stays short instead of growing to the cap */
    int attempts =
        channel_mostly_up(n, d) && d->attempts > UP_ATTEMPTS_MAX ? UP_ATTEMPTS_MAX : d->attempts;
    int64_t delay = backoff_ms(n, attempts);
    if (o->retry_after_ms > delay)
        delay = o->retry_after_ms;
    if (expired(d, delay)) {
        finish(n, d, "expired", res, o->detail);
        return;
    }
    d->due_ns = dw_mono_ns() + delay * NS_PER_MS;
    res->state = "pending";
    res->next_ms = dw_now_ms() + delay;
    STAT(n, retries, 1);
    log_delivery(d->attempts == 1 ? DW_LOG_WARN : DW_LOG_DEBUG,
                 "notification attempt failed; "
                 "retrying",
                 d, o->result, o->detail, delay);
}

/* ---- circuit breakers ---- */

static uint64_t hash_str(uint64_t h, const char *s)
{
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (h ^ 0xff) * 1099511628211ULL;
}

static struct breaker *breaker_get(struct dw_notifier *n, const struct delivery *d)
{
    for (size_t i = 0; i < n->nbreakers; i++)
        if (n->breakers[i].key == d->breaker)
            return &n->breakers[i];
    if (n->nbreakers == BREAKERS_MAX)
        return NULL; /* more channels than that: they go without a breaker */
    struct breaker *b = &n->breakers[n->nbreakers++];
    *b = (struct breaker){.key = d->breaker};
    snprintf(b->label, sizeof b->label, "%s/%s", receiver_label(d), d->row.kind);
    return b;
}

/* True when d may be attempted now; otherwise its due time moves to the probe time. */
static bool breaker_allows(struct dw_notifier *n, struct delivery *d, int64_t now_ns)
{
    struct breaker *b = breaker_get(n, d);
    if (!b || b->open_until_ns == 0)
        return true;
    if (now_ns < b->open_until_ns || b->probing) {
        d->due_ns = b->probing ? now_ns + 100 * NS_PER_MS : b->open_until_ns;
        STAT(n, breaker_skips, 1);
        return false;
    }
    b->probing = true; /* half open: this one attempt decides */
    d->probe = true;
    return true;
}

static int failures_in(uint32_t bits)
{
    int n = 0;
    for (; bits; bits &= bits - 1)
        n++;
    return n;
}

/* At least half of the channel's last outcomes (10 or more known) succeeded. */
static bool channel_mostly_up(struct dw_notifier *n, const struct delivery *d)
{
    struct breaker *b = breaker_get(n, d);
    return b && b->nrecent >= 10 && failures_in(b->recent) * 2 <= b->nrecent;
}

/*
 * Opens when at least breaker_failures of the last outcomes are known and
 * nine in ten of them failed: a dead channel opens after a handful of
 * attempts, one that fails half the time never does (its retries get
 * through), and a failed probe opens it again at once.
 */
static void breaker_outcome(struct dw_notifier *n, struct delivery *d, enum outcome_action act)
{
    struct breaker *b = breaker_get(n, d);
    bool probe = d->probe;
    d->probe = false;
    if (!b)
        return;
    if (probe)
        b->probing = false;
    bool failed = act == OUT_RETRY;
    b->recent = ((b->recent << 1) | (failed ? 1u : 0u)) & ((1u << BREAKER_WINDOW) - 1);
    if (b->nrecent < BREAKER_WINDOW)
        b->nrecent++;
    if (!failed) {
        if (b->open_until_ns) {
            dw_log_kv(DW_LOG_INFO, "notify", "circuit breaker closed", "channel", b->label, NULL);
            b->recent = 0;
            b->nrecent = 0;
        }
        b->open_until_ns = 0;
        b->open_ms = 0;
        dw_metric_set(m.breaker, (const char *[]){b->label}, 0);
        return;
    }
    int fails = failures_in(b->recent);
    if (!probe && (b->nrecent < n->breaker_failures || fails * 10 < b->nrecent * 9))
        return;
    b->open_ms = b->open_ms ? b->open_ms * 2 : n->breaker_open_ms;
    if (b->open_ms > BREAKER_MAX_OPEN_MS)
        b->open_ms = BREAKER_MAX_OPEN_MS;
    b->open_until_ns = dw_mono_ns() + b->open_ms * NS_PER_MS;
    char ms[24];
    snprintf(ms, sizeof ms, "%lld", (long long)b->open_ms);
    dw_log_kv(DW_LOG_WARN, "notify", "circuit breaker open", "channel", b->label, "for_ms", ms,
              NULL);
    dw_metric_set(m.breaker, (const char *[]){b->label}, 1);
}

/* ---- transfers ---- */

static void attempt_failed_to_start(struct dw_notifier *n, struct delivery *d, const char *why)
{
    attempt_release(&d->at);
    struct outcome o = {.action = OUT_RETRY, .result = "error", .retry_after_ms = -1};
    snprintf(o.detail, sizeof o.detail, "%s", why);
    dw_metric_add(m.requests, (const char *[]){d->row.kind, receiver_label(d), "error"}, 1);
    struct ob_result *res = result_slot(n);
    *res = (struct ob_result){.id = d->row.id,
                              .attempt = d->attempts,
                              .at_ms = d->started_ms,
                              .result = "error",
                              .detail = NULL};
    retry_later(n, d, res, &o);
}

/*
 * The root of the row's thread at its destination, when its channel threads
 * and a message of the thread was delivered there before: lent to the attempt
 * (root owns the strings). Without one the message starts the thread.
 */
static void thread_root(struct dw_notifier *n, struct delivery *d, const struct channel *ch,
                        const void *conf, struct ob_thread *root)
{
    free(d->thread_dest);
    d->thread_dest = NULL;
    d->thread_rooted = false;
    if (!d->row.thread_key || !ch->thread_dest)
        return;
    d->thread_dest = ch->thread_dest(conf, d->row.to);
    if (!d->thread_dest)
        return;
    char *err = NULL;
    int found = outbox_thread_get(n->store, d->row.thread_key, d->thread_dest, root, &err);
    if (found < 0) {
        dw_log_kv(DW_LOG_ERROR, "notify",
                  "reading a thread's root failed; the message starts "
                  "a new thread",
                  "error", err ? err : "?", NULL);
        free(err);
    } else if (found) {
        d->at.thread_channel = root->channel_id;
        d->at.thread_ts = root->ts;
        d->thread_rooted = true;
    }
}

static void attempt_start(struct dw_notifier *n, struct delivery *d, int64_t now_ns)
{
    const struct channel *ch = NULL;
    const void *conf = NULL;
    pthread_mutex_lock(&n->cfg_mu);
    bool found = row_channel(n, &d->row, &ch, &conf);
    if (!found) {
        pthread_mutex_unlock(&n->cfg_mu);
        finish(n, d, "dropped", NULL, "its channel was removed by a reload");
        return;
    }
    if (expired(d, 0)) {
        pthread_mutex_unlock(&n->cfg_mu);
        finish(n, d, "expired", NULL, "older than its expiry");
        return;
    }
    if (!breaker_allows(n, d, now_ns)) {
        pthread_mutex_unlock(&n->cfg_mu);
        return;
    }
    d->attempts++;
    d->started_ms = dw_now_ms();
    d->at = (struct attempt){.easy = curl_easy_init(), .started_ns = now_ns};
    dw_buf_init(&d->at.answer, ANSWER_MAX);
    struct ob_thread root = {0};
    thread_root(n, d, ch, conf, &root);
    char *err = NULL;
    int rc = d->at.easy ? ch->request(conf, d->row.to, d->row.body, &d->at, &err) : -1;
    pthread_mutex_unlock(&n->cfg_mu);
    d->at.thread_channel = d->at.thread_ts = NULL;
    ob_thread_release(&root);
    if (rc < 0) {
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

/* Starts every row that is due; returns the next due time (INT64_MAX: none). */
static int64_t start_due(struct dw_notifier *n)
{
    int64_t now = dw_mono_ns(), next = INT64_MAX;
    for (size_t i = 0; i < n->nlive; i++) {
        struct delivery *d = n->live[i];
        if (d->done || d->in_flight || d->blocked)
            continue;
        if (d->due_ns <= now && n->in_flight < MAX_IN_FLIGHT)
            attempt_start(n, d, now);
        if (!d->done && !d->in_flight && !d->blocked)
            next = d->due_ns < next ? d->due_ns : next;
    }
    return next;
}

static void answer_received(struct dw_notifier *n, struct delivery *d, CURLcode rc)
{
    const struct channel *ch = channel_by_kind(d->row.kind);
    struct outcome o;
    ch->outcome(d->at.easy, rc, &d->at, &o);
    double secs = (double)(dw_mono_ns() - d->at.started_ns) / 1e9;
    const char *labels[] = {d->row.kind, receiver_label(d), o.result};
    dw_metric_add(m.requests, labels, 1);
    dw_metric_observe(m.duration, labels, secs);
    STAT(n, attempts, 1);
    d->in_flight = false;
    n->in_flight--;
    attempt_release(&d->at);
    breaker_outcome(n, d, o.action);
    struct ob_result *res = result_slot(n);
    *res = (struct ob_result){.id = d->row.id,
                              .attempt = d->attempts,
                              .at_ms = d->started_ms,
                              .duration_ms = secs * 1000,
                              .result = o.result,
                              .status = o.status,
                              .detail = o.detail[0] ? dw_strdup(o.detail) : NULL};
    if (o.action == OUT_DELIVERED && d->thread_dest && !d->thread_rooted && o.root_ts[0]) {
        res->thread_key = dw_strdup(d->row.thread_key); /* the thread's first: its root */
        res->thread_dest = dw_strdup(d->thread_dest);
        res->thread_channel = dw_strdup(o.root_channel);
        res->thread_ts = dw_strdup(o.root_ts);
    }
    if (o.action == OUT_DELIVERED)
        finish(n, d, "delivered", res, NULL);
    else if (o.action == OUT_GIVE_UP)
        finish(n, d, "given_up", res, o.detail);
    else
        retry_later(n, d, res, &o);
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
    for (size_t i = 0; i < n->nlive; i++) {
        struct delivery *d = n->live[i];
        if (!d->in_flight)
            continue;
        curl_multi_remove_handle(n->multi, d->at.easy);
        attempt_release(&d->at);
        d->in_flight = false;
        d->due_ns = 0;
    }
    n->in_flight = 0;
}

/* ---- the live rows ---- */

static void delivery_free(struct delivery *d)
{
    attempt_release(&d->at);
    free(d->thread_dest);
    ob_row_release(&d->row);
    free(d);
}

/* Links d behind the newest unfinished row of its chain. */
static void chain_link(struct dw_notifier *n, struct delivery *d)
{
    for (size_t i = n->nlive; i-- > 0;) {
        struct delivery *p = n->live[i];
        if (p->chain == d->chain && !p->done && !p->next_same) {
            p->next_same = d;
            d->blocked = true;
            return;
        }
    }
}

static void add_row(struct dw_notifier *n, struct ob_row *row)
{
    struct delivery *d = dw_calloc(1, sizeof *d);
    d->row = *row;
    *row = (struct ob_row){0};
    d->attempts = d->row.attempts;
    int64_t wait = d->row.next_ms - dw_now_ms();
    d->due_ns = dw_mono_ns() + (wait > 0 ? wait * NS_PER_MS : 0);
    char target[24];
    snprintf(target, sizeof target, "%lld", (long long)d->row.target);
    d->breaker =
        hash_str(hash_str(hash_str(1469598103934665603ULL, d->row.receiver), target), d->row.kind);
    d->chain = hash_str(hash_str(d->breaker, d->row.to), d->row.order_key);
    chain_link(n, d);
    n->live = dw_grow(n->live, &n->caplive, n->nlive + 1, sizeof *n->live);
    n->live[n->nlive++] = d;
    if (d->row.id > n->loaded_high)
        n->loaded_high = d->row.id;
}

/* Loads pending rows above loaded_high while there is room. */
static void load_rows(struct dw_notifier *n)
{
    if (!n->more_rows && !atomic_exchange(&n->dirty, false))
        return;
    if (n->nlive >= LIVE_MAX) {
        n->more_rows = true;
        return;
    }
    struct ob_row *rows = NULL;
    size_t cnt = 0, max = LIVE_MAX - n->nlive;
    char *err = NULL;
    if (outbox_load(n->store, n->loaded_high, max, &rows, &cnt, &err) != 0) {
        dw_log_kv(DW_LOG_ERROR, "notify", "reading the outbox failed; retrying", "error", err,
                  NULL);
        free(err);
        n->more_rows = true;
        return;
    }
    for (size_t i = 0; i < cnt; i++)
        add_row(n, &rows[i]);
    n->more_rows = cnt == max;
    ob_rows_free(rows, cnt);
}

/* Drops finished rows from memory, keeping id order. */
static void compact_live(struct dw_notifier *n)
{
    size_t k = 0;
    for (size_t i = 0; i < n->nlive; i++) {
        struct delivery *d = n->live[i];
        if (d->done && !d->in_flight) {
            delivery_free(d);
            continue;
        }
        n->live[k++] = d;
    }
    if (k < n->nlive)
        n->more_rows = true; /* room again: rows may be waiting in the store */
    n->nlive = k;
}

/* Writes this turn's attempts and state changes. */
static void flush_results(struct dw_notifier *n)
{
    if (n->nresults == 0)
        return;
    char *err = NULL;
    if (outbox_record(n->store, n->results, n->nresults, &err) != 0) {
        dw_log_kv(DW_LOG_ERROR, "notify", "recording notification attempts failed", "error", err,
                  NULL);
        free(err);
    }
    for (size_t i = 0; i < n->nresults; i++) {
        struct ob_result *r = &n->results[i];
        const char *owned[] = {r->detail, r->thread_key, r->thread_dest, r->thread_channel,
                               r->thread_ts};
        for (size_t k = 0; k < DW_ARRAY_LEN(owned); k++)
            free((char *)owned[k]);
    }
    n->nresults = 0;
}

/* ---- producers: events and enqueues ---- */

struct insert_ctx {
    const struct ob_new *rows;
    size_t n;
    int added;
};

static int insert_tx(struct dw_store *s, void *ctx)
{
    struct insert_ctx *c = ctx;
    c->added = outbox_insert(s, c->rows, c->n, NULL);
    return c->added < 0 ? -1 : 0;
}

/* Inserts rows in one transaction; the number of new rows, or -1 with *err. */
static int insert_rows(struct dw_notifier *n, const struct ob_new *rows, size_t cnt, bool durable,
                       char **err)
{
    struct insert_ctx c = {rows, cnt, 0};
    int rc = durable ? dw_store_tx_durable(n->store, insert_tx, &c, err)
                     : dw_store_tx(n->store, insert_tx, &c, err);
    return rc == 0 ? c.added : -1;
}

/* Rows for one event: one per channel with something to send. */
static void event_rows(struct dw_notifier *n, const struct dw_alert_event *ev, struct ob_new **rows,
                       size_t *cnt, size_t *cap, char ***bodies, size_t *nb, size_t *capb)
{
    struct y_receiver *r = receiver_find(n, ev->receiver ? ev->receiver : "");
    char *thread = r->ntargets ? msg_thread_key(ev->payload) : NULL;
    if (thread) {
        *bodies = dw_grow(*bodies, capb, *nb + 1, sizeof **bodies);
        (*bodies)[(*nb)++] = thread;
    }
    for (size_t i = 0; i < r->ntargets; i++) {
        const char *skip = NULL;
        char *body =
            r->targets[i].ch->render(r->targets[i].conf, ev->payload ? ev->payload : "", &skip);
        if (!body) {
            dw_log_kv(DW_LOG_DEBUG, "notify", "nothing to send", "receiver", r->name, "group",
                      ev->group_key, "why", skip, NULL);
            continue;
        }
        char *key = dw_asprintf("ev:%lld:%zu", (long long)ev->id, i);
        *bodies = dw_grow(*bodies, capb, *nb + 2, sizeof **bodies);
        (*bodies)[(*nb)++] = body;
        (*bodies)[(*nb)++] = key;
        *rows = dw_grow(*rows, cap, *cnt + 1, sizeof **rows);
        (*rows)[(*cnt)++] = (struct ob_new){.dedup_key = key,
                                            .receiver = r->name,
                                            .target = (int64_t)i,
                                            .kind = r->targets[i].ch->kind,
                                            .order_key = ev->group_key ? ev->group_key : "",
                                            .body = body,
                                            .thread_key = thread,
                                            .created_ms = ev->at_ms,
                                            .not_after_ms = ev->at_ms + n->give_up_ms};
    }
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

static void log_store_error(const char *what, const char *err)
{
    dw_log_kv(DW_LOG_ERROR, "notify", what, "error", err ? err : "?", NULL);
}

/*
 * Reads new alert events into the outbox and moves the cursor past them.
 * The waiter is signalled when the alerter's newest event id is above the
 * cursor; that id can outlive its event (the 30-day prune), and then every
 * wait would return at once: after two signalled reads in a row that found
 * nothing, the waiter pauses for a slice instead of spinning.
 */
static void take_new_events(struct dw_notifier *n)
{
    bool signalled = take_signal(n);
    if (!signalled && !n->more_events)
        return;
    if (dw_mono_ns() < n->read_retry_ns) {
        n->more_events = true;
        return;
    }
    struct dw_alert_event *ev = NULL;
    size_t cnt = 0;
    char *err = NULL;
    if (dw_alerter_events_read(n->a, n->consumer, READ_BATCH, &ev, &cnt, &err) != 0) {
        log_store_error("reading the alert event queue failed; retrying in 1 s", err);
        free(err);
        n->read_retry_ns = dw_mono_ns() + READ_RETRY_NS;
        n->more_events = true;
        return;
    }
    struct ob_new *rows = NULL;
    char **owned = NULL;
    size_t nrows = 0, caprows = 0, nowned = 0, capowned = 0;
    for (size_t i = 0; i < cnt; i++)
        event_rows(n, &ev[i], &rows, &nrows, &caprows, &owned, &nowned, &capowned);
    int rc = insert_rows(n, rows, nrows, false, &err) < 0 ? -1 : 0;
    if (rc == 0 && cnt > 0)
        rc = dw_alerter_events_ack(n->a, n->consumer, ev[cnt - 1].id, &err);
    if (rc != 0) {
        log_store_error("queueing alert events in the outbox failed; retrying in 1 s", err);
        free(err);
        n->read_retry_ns = dw_mono_ns() + READ_RETRY_NS;
        n->more_events = true;
    } else {
        n->more_events = cnt == READ_BATCH;
        if (nrows)
            atomic_store(&n->dirty, true);
        pthread_mutex_lock(&n->mu);
        n->st.events_read += (int64_t)cnt;
        n->st.events_acked += (int64_t)cnt;
        n->st.pending += (int64_t)nrows;
        pthread_mutex_unlock(&n->mu);
        n->empty_signals = cnt ? 0 : n->empty_signals + (signalled ? 1 : 0);
        if (!n->more_events)
            release_waiter(n, n->empty_signals >= 2);
    }
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    free(owned);
    free(rows);
    dw_alert_events_free(ev, cnt);
}

/* Checks and renders one direct message into *row (its body in *body, heap). */
static int prepare_row(struct dw_notifier *n, const struct dw_notification *msg, int64_t now,
                       struct ob_new *row, char **body, char **thread, char **err)
{
    *body = NULL;
    *thread = NULL;
    if (!msg->dedup_key || !msg->dedup_key[0] || strlen(msg->dedup_key) > OUTBOX_DEDUP_MAX) {
        *err = dw_asprintf("a dedup key of 1 to %d bytes is required", OUTBOX_DEDUP_MAX);
        return -1;
    }
    if (!msg->kind || !msg->payload) {
        *err = dw_strdup("kind and payload are required");
        return -1;
    }
    if (strlen(msg->payload) > OUTBOX_PAYLOAD_MAX) {
        *err = dw_asprintf("the payload is over %d bytes", OUTBOX_PAYLOAD_MAX);
        return -1;
    }
    const struct channel *ch = channel_by_kind(msg->kind);
    if (!ch) {
        *err = dw_asprintf("unknown channel kind \"%s\"", msg->kind);
        return -1;
    }
    pthread_mutex_lock(&n->cfg_mu);
    const void *conf = providers_conf(n->prov, msg->kind);
    const char *skip = NULL;
    *body = conf ? ch->render(conf, msg->payload, &skip) : NULL;
    bool no_channel = conf && ch == &slack_channel && !slack_has_channel(conf, msg->to);
    pthread_mutex_unlock(&n->cfg_mu);
    if (!conf) {
        *err = dw_asprintf("no %s channel is configured in the notify section", msg->kind);
        return -1;
    }
    if (conf == &direct_webhook && (!msg->to || !*msg->to)) {
        free(*body);
        *body = NULL;
        *err = dw_strdup("a direct webhook message needs its URL as the destination (to)");
        return -1;
    }
    if (no_channel) {
        free(*body);
        *body = NULL;
        *err = dw_strdup("no Slack channel: the Web API needs the message's to or notify.slack's "
                         "channel");
        return -1;
    }
    if (!*body) {
        *err = dw_asprintf("nothing to send: %s", skip ? skip : "the channel rendered nothing");
        return -1;
    }
    *row = (struct ob_new){.dedup_key = msg->dedup_key,
                           .receiver = "",
                           .target = -1,
                           .kind = ch->kind,
                           .to = msg->to,
                           .order_key = msg->order_key ? msg->order_key : msg->dedup_key,
                           .person = msg->person,
                           .fallback_kind = msg->fallback_kind,
                           .fallback_to = msg->fallback_to,
                           .payload = msg->fallback_kind ? msg->payload : NULL,
                           .body = *body,
                           .thread_key = *thread = msg_thread_key(msg->payload),
                           .created_ms = now,
                           .not_after_ms =
                               msg->not_after_ms > 0 ? msg->not_after_ms : now + n->give_up_ms};
    return 0;
}

int dw_notifier_enqueue_many(struct dw_notifier *n, const struct dw_notification *msgs,
                             size_t count, char **errs)
{
    int64_t now = dw_now_ms();
    struct ob_new *rows = dw_calloc(count ? count : 1, sizeof *rows);
    char **bodies = dw_calloc(count ? count : 1, sizeof *bodies);
    char **threads = dw_calloc(count ? count : 1, sizeof *threads);
    size_t nrows = 0;
    for (size_t i = 0; i < count; i++) {
        errs[i] = NULL;
        if (prepare_row(n, &msgs[i], now, &rows[nrows], &bodies[nrows], &threads[nrows],
                        &errs[i]) == 0)
            nrows++;
    }
    char *err = NULL;
    int added = nrows ? insert_rows(n, rows, nrows, true, &err) : 0;
    int done = (int)nrows;
    if (added < 0) {
        for (size_t i = 0; i < count; i++)
            if (!errs[i])
                errs[i] = dw_asprintf("the outbox failed: %s", err ? err : "store error");
        done = 0;
    } else if (added > 0) {
        STAT(n, pending, added);
        atomic_store(&n->dirty, true);
        curl_multi_wakeup(n->multi);
    }
    free(err);
    for (size_t i = 0; i <= nrows && i < count; i++) {
        free(bodies[i]);
        free(threads[i]);
    }
    free(threads);
    free(bodies);
    free(rows);
    return done;
}

/* One direct row (dw_notifier_enqueue and fallbacks). */
static int enqueue_row(struct dw_notifier *n, const struct dw_notification *msg, int64_t *id_out,
                       char **err)
{
    if (dw_notifier_enqueue_many(n, msg, 1, err) != 1)
        return -1;
    if (id_out)
        *id_out = outbox_id_of(n->store, msg->dedup_key, NULL);
    return 0;
}

static void queue_fallback(struct dw_notifier *n, const struct delivery *d)
{
    char *key = dw_asprintf("%s:fallback", d->row.dedup_key);
    struct dw_notification fb = {.dedup_key = key,
                                 .kind = d->row.fallback_kind,
                                 .to = d->row.fallback_to,
                                 .payload = d->row.payload,
                                 .order_key = d->row.order_key,
                                 .person = d->row.person};
    char *err = NULL;
    if (enqueue_row(n, &fb, NULL, &err) == 0) {
        STAT(n, fallbacks, 1);
        dw_log_kv(DW_LOG_INFO, "notify", "fallback queued", "key", d->row.dedup_key, "channel",
                  d->row.fallback_kind, NULL);
    } else {
        dw_log_kv(DW_LOG_ERROR, "notify", "cannot queue the fallback", "key", d->row.dedup_key,
                  "error", err, NULL);
        free(err);
    }
    free(key);
}

int dw_notifier_enqueue(struct dw_notifier *n, const struct dw_notification *msg, int64_t *id_out,
                        char **err)
{
    return enqueue_row(n, msg, id_out, err);
}

/* ---- threads ---- */

static void wait_for_work(struct dw_notifier *n, int64_t next_ns)
{
    int64_t now = dw_mono_ns(), wait_ms = IDLE_WAIT_MS;
    if (next_ns != INT64_MAX) {
        int64_t until = (next_ns - now + NS_PER_MS - 1) / NS_PER_MS;
        wait_ms = until < wait_ms ? until : wait_ms;
    }
    if (n->read_retry_ns > now) {
        int64_t until = (n->read_retry_ns - now + NS_PER_MS - 1) / NS_PER_MS;
        wait_ms = until < wait_ms ? until : wait_ms;
    }
    if ((take_signal(n) && !n->more_events) || atomic_load(&n->dirty))
        wait_ms = 0;
    if ((n->more_events && now >= n->read_retry_ns) || (n->more_rows && n->nlive < LIVE_MAX))
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

static void maybe_prune(struct dw_notifier *n)
{
    int64_t now = dw_mono_ns();
    if (now < n->next_prune_ns)
        return;
    n->next_prune_ns = now + PRUNE_EVERY_NS;
    char *err = NULL;
    if (outbox_prune(n->store, dw_now_ms() - PRUNE_AFTER_MS, &err) != 0) {
        log_store_error("pruning the outbox failed", err);
        free(err);
    }
}

static void *delivery_thread(void *arg)
{
    struct dw_notifier *n = arg;
    while (!atomic_load(&n->stop)) {
        if (atomic_exchange(&n->reload, false))
            receivers_reload(n);
        take_new_events(n);
        load_rows(n);
        int64_t next = start_due(n);
        int running = 0;
        curl_multi_perform(n->multi, &running);
        int finished = finish_transfers(n);
        flush_results(n);
        compact_live(n);
        maybe_prune(n);
        publish(n);
        if (!finished)
            wait_for_work(n, next);
    }
    abandon_in_flight(n);
    flush_results(n);
    return NULL;
}

static void pause_slice(struct dw_notifier *n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + WAIT_SLICE_MS * NS_PER_MS;
    ts.tv_sec += (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_cond_timedwait(&n->cv, &n->mu, &ts);
}

/* Blocks in dw_alerter_events_wait; wakes the delivery thread when events
 * after the cursor exist, then parks until they have been read. */
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
        if (!dw_alerter_events_wait(n->a, n->consumer, WAIT_SLICE_MS))
            continue;
        pthread_mutex_lock(&n->mu);
        n->signalled = true;
        pthread_mutex_unlock(&n->mu);
        curl_multi_wakeup(n->multi);
    }
    return NULL;
}

/* ---- life ---- */

static void set_providers(struct dw_notifier *n, const struct dw_config *cfg)
{
    struct y_providers *p = NULL;
    if (cfg) {
        struct dw_diags diags;
        dw_diags_init(&diags);
        p = providers_decode(cfg, &diags);
        log_receiver_diags("notify", &diags);
        dw_diags_release(&diags);
    }
    pthread_mutex_lock(&n->cfg_mu);
    struct y_providers *old = n->prov;
    n->prov = p;
    pthread_mutex_unlock(&n->cfg_mu);
    providers_free(&old);
}

void dw_notifier_set_config(struct dw_notifier *n, const struct dw_config *cfg)
{
    set_providers(n, cfg);
}

struct dw_notifier *dw_notifier_new(const struct dw_notifier_options *o)
{
    register_metrics();
    char *err = NULL;
    if (!o->store || outbox_migrate(o->store, &err) != 0) {
        dw_log_kv(DW_LOG_ERROR, "notify", "cannot prepare the outbox", "error",
                  err ? err : "no store", NULL);
        free(err);
        return NULL;
    }
    struct dw_notifier *n = dw_calloc(1, sizeof *n);
    n->a = o->alerter;
    n->store = o->store;
    n->consumer = dw_strdup(o->consumer ? o->consumer : "notify");
    n->base_ms = o->backoff_base_ms > 0 ? o->backoff_base_ms : 500;
    n->max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : 30000;
    if (n->max_ms < n->base_ms)
        n->max_ms = n->base_ms;
    n->give_up_ms = o->give_up_after_ms > 0 ? o->give_up_after_ms : 24LL * 3600 * 1000;
    n->breaker_failures = o->breaker_failures > 0 ? o->breaker_failures : 10;
    n->breaker_open_ms = o->breaker_open_ms > 0 ? o->breaker_open_ms : 30000;
    n->on_done = o->on_done;
    n->on_done_ctx = o->on_done_ctx;
    n->multi = curl_multi_init();
    if (!n->multi)
        dw_oom(0);
    curl_multi_setopt(n->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 8L);
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    pthread_mutex_init(&n->cfg_mu, NULL);
    dw_random_bytes(&n->rng, sizeof n->rng);
    n->rng |= 1;
    n->more_events = true; /* read what is queued at once */
    n->more_rows = true;   /* and what the outbox holds from before */
    n->st.pending = outbox_pending(n->store, NULL);
    if (n->st.pending < 0)
        n->st.pending = 0;
    set_providers(n, o->config);
    receivers_reload(n);
    return n;
}

int dw_notifier_start(struct dw_notifier *n)
{
    if (n->running)
        return 0;
    atomic_store(&n->stop, false);
    int rc = pthread_create(&n->thread, NULL, delivery_thread, n);
    if (rc == 0) {
        pthread_setname_np(n->thread, "dw-notify");
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
    pthread_setname_np(n->waiter, "dw-notify-wait");
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
    n->more_events = true;
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
    for (size_t i = 0; i < n->nlive; i++) {
        delivery_free(n->live[i]);
    }
    free(n->live);
    flush_results(n);
    free(n->results);
    receivers_clear(n);
    providers_free(&n->prov);
    curl_multi_cleanup(n->multi);
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->cfg_mu);
    free(n->consumer);
    free(n);
    *pn = NULL;
}

char *dw_notifier_twilio_token(struct dw_notifier *n)
{
    char *out = NULL;
    pthread_mutex_lock(&n->cfg_mu);
    const struct y_twilio *t = n->prov ? (n->prov->sms ? n->prov->sms : n->prov->voice) : NULL;
    if (t) {
        char *err = NULL;
        out = dw_secret_get(t->auth_token, t->auth_token_file, &err);
        free(err); /* no token: inbound requests are refused, which says why */
    }
    pthread_mutex_unlock(&n->cfg_mu);
    return out;
}
