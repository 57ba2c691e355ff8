/*
 * alert.c - the alerter: opening and closing it, alerts coming in (put),
 * their lifecycle, flap detection, the tick that does what is due, and the
 * thread that runs the tick on time.
 *
 * DESIGN
 * put follows Alertmanager's POST /api/v2/alerts and its in-memory alert
 * store: startsAt defaults to now (or endsAt), a missing endsAt becomes
 * now + resolve_timeout (the alert "times out" unless updated), and an
 * update that overlaps the stored alert's activity is merged with it
 * (earliest start; a later explicit end wins over a timeout). Before that,
 * a `priority` label is added from `severity` through severity_map, so the
 * fingerprint covers the labels the alert is routed and shown with.
 *
 * Lifecycle: inactive -> pending -> firing -> resolved, with the time of
 * each step. A firing episode is a row in alert_episodes (for the quality
 * statistics); it starts when the alert becomes firing and ends at its
 * endsAt, whether an explicit resolve or a timeout found by the tick.
 * Pending alerts (a rule whose `for` runs) are recorded but never routed;
 * a pending alert that resolves goes back to inactive and is forgotten.
 *
 * Flapping: each firing<->resolved change is timestamped; an alert with
 * `flapping.changes` changes within `flapping.window` is flapping, and the
 * dispatcher holds its notifications (firing or resolved) until it settles,
 * i.e. until the oldest of those changes leaves the window.
 *
 * Threads: one mutex (mu) guards all state; store writes happen under it,
 * each put in one transaction. The worker thread sleeps in
 * dw_clock_sleep_until() until the earliest deadline (a group flush, an
 * alert's endsAt, a flapping alert settling, housekeeping); a put that
 * creates an earlier deadline sets `wake` and kicks the clock, and groups
 * due at once are flushed inside put itself, so a P0 reaches the event
 * queue before put returns.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alert/alert_internal.h"

#define PRIORITY_LABEL "priority"
#define SEVERITY_LABEL "severity"

struct alert_metrics alert_m;

static void register_metrics(void)
{
    alert_m.received =
        dw_metric_counter("dojowatch_alerts_received_total",
                          "Alerts handed to the alerter, by result (valid, invalid).", "result");
    alert_m.events = dw_metric_counter("dojowatch_alert_events_total",
                                       "Group notifications queued for notify and incident, by "
                                       "kind (fired, changed, repeat, resolved).",
                                       "kind");
    alert_m.groups = dw_metric_gauge("dojowatch_alert_groups", "Aggregation groups.", NULL);
    alert_m.alerts =
        dw_metric_gauge("dojowatch_alerts",
                        "Alerts held, by state (pending, firing, resolved, flapping).", "state");
}

static void publish_metrics(struct dw_alerter *a, int64_t now)
{
    double n[4] = {0};
    size_t it = 0;
    struct alert *al;
    while ((al = fpmap_next(&a->alerts, &it))) {
        if (al->state == DW_ALERT_PENDING)
            n[0]++;
        else if (alert_is_firing(al, now))
            n[1]++;
        else if (al->state != DW_ALERT_INACTIVE)
            n[2]++;
        n[3] += al->flapping;
    }
    static const char *const names[] = {"pending", "firing", "resolved", "flapping"};
    for (int i = 0; i < 4; i++)
        dw_metric_set(alert_m.alerts, (const char *[]){names[i]}, n[i]);
    dw_metric_set(alert_m.groups, NULL, (double)a->ngroups);
}

void add_err(struct dw_buf *errs, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (errs->len)
        dw_buf_puts(errs, "; ");
    dw_buf_vprintf(errs, fmt, ap);
    va_end(ap);
}

static void log_store_error(const char *what, const char *err)
{
    dw_log_kv(DW_LOG_ERROR, "alert", what, "error", err ? err : "unknown", NULL);
}

struct alert *alert_find(struct dw_alerter *a, uint64_t fp)
{
    return fpmap_get(&a->alerts, fp);
}

bool alert_is_firing(const struct alert *al, int64_t now)
{
    return al->state == DW_ALERT_FIRING && al->ends_at > now;
}

int alert_cmp(const struct alert *a, const struct alert *b)
{
    static const char *const keys[] = {"job", "instance"};
    for (size_t i = 0; i < DW_ARRAY_LEN(keys); i++) {
        const char *va = lset_get(&a->labels, keys[i]), *vb = lset_get(&b->labels, keys[i]);
        if (!va && !vb)
            continue;
        if (!va || !vb)
            return va ? -1 : 1;
        int c = strcmp(va, vb);
        if (c)
            return c;
    }
    return dw_tsdb_labels_cmp(a->labels.l, a->labels.n, b->labels.l, b->labels.n);
}

void alert_free(struct alert *al)
{
    if (!al)
        return;
    lset_release(&al->labels);
    lset_release(&al->annotations);
    free(al->generator_url);
    free(al->changes);
    free(al);
}

static void min_into(int64_t *dst, int64_t v)
{
    if (v < *dst)
        *dst = v;
}

void wake_thread(struct dw_alerter *a, int64_t deadline)
{
    if (!a->running || deadline >= a->sleeping_until)
        return;
    a->sleeping_until = deadline;
    atomic_store(&a->wake, true);
    dw_clock_kick();
}

/* ---- flapping ---- */

static bool flap_now(const struct acfg *c, const struct alert *al, int64_t now)
{
    size_t k = (size_t)c->flap_changes;
    if (k == 0 || al->nchanges < k)
        return false;
    return al->changes[al->nchanges - k] > now - c->flap_window;
}

static int64_t settle_time(const struct acfg *c, const struct alert *al)
{
    return al->changes[al->nchanges - (size_t)c->flap_changes] + c->flap_window;
}

bool alert_flap_change(struct dw_alerter *a, struct alert *al, int64_t at)
{
    const struct acfg *c = a->cfg;
    if (c->flap_changes == 0)
        return false;
    size_t keep = (size_t)c->flap_changes;
    al->changes = dw_grow(al->changes, &al->capchanges, al->nchanges + 1, sizeof *al->changes);
    al->changes[al->nchanges++] = at;
    if (al->nchanges > keep) {
        memmove(al->changes, al->changes + (al->nchanges - keep), keep * sizeof *al->changes);
        al->nchanges = keep;
    }
    bool was = al->flapping;
    al->flapping = flap_now(c, al, at);
    if (al->flapping)
        min_into(&a->next_settle, settle_time(c, al));
    if (!was && al->flapping)
        dw_log_kv(DW_LOG_WARN, "alert", "alert is flapping; notifications held until it settles",
                  "fingerprint", al->fp_hex, "alertname", lset_get(&al->labels, "alertname"), NULL);
    return !was && al->flapping;
}

/* ---- lifecycle steps (inside a store transaction) ---- */

static int start_firing(struct dw_alerter *a, struct alert *al, int64_t now, char **err)
{
    al->state = DW_ALERT_FIRING;
    al->firing_at = now;
    al->resolved_at = 0;
    if (persist_episode_start(a->store, al, &al->episode, err) < 0)
        return -1;
    if (alert_flap_change(a, al, now) && persist_episode_flap(a->store, al->episode, err) < 0)
        return -1;
    min_into(&a->next_timeout, al->ends_at);
    return 0;
}

static int end_firing(struct dw_alerter *a, struct alert *al, int64_t at, char **err)
{
    al->state = DW_ALERT_RESOLVED;
    al->resolved_at = at;
    if (al->episode && persist_episode_end(a->store, al, err) < 0)
        return -1;
    if (alert_flap_change(a, al, at) && al->episode &&
        persist_episode_flap(a->store, al->episode, err) < 0)
        return -1;
    return 0;
}

/* A firing alert whose endsAt passed is resolved at that time. */
static int resolve_if_due(struct dw_alerter *a, struct alert *al, int64_t now, char **err)
{
    if (al->state != DW_ALERT_FIRING || al->ends_at > now)
        return 0;
    if (end_firing(a, al, al->ends_at, err) < 0)
        return -1;
    return persist_alert_save(a->store, al, err);
}

/* ---- put ---- */

/* An alert as it arrives, normalised. */
struct incoming {
    struct lset labels, ann;
    const char *url;
    int64_t starts, ends;
    bool timeout;
    int state;
};

static void map_priority(const struct acfg *c, struct lset *ls)
{
    const char *sev = lset_get(ls, SEVERITY_LABEL);
    if (lset_get(ls, PRIORITY_LABEL) || !sev)
        return;
    for (size_t i = 0; i < c->nsev; i++)
        if (strcasecmp(c->sev[i].severity, sev) == 0 && prio_name(c->sev[i].priority)) {
            lset_set(ls, PRIORITY_LABEL, prio_name(c->sev[i].priority));
            return;
        }
}

/* Fills inc from in; returns a heap reason when the alert is invalid. */
static char *normalise(const struct acfg *c, const struct dw_alert_in *in, int64_t now,
                       struct incoming *inc)
{
    lset_from(&inc->labels, in->labels, in->nlabels);
    lset_from(&inc->ann, in->annotations, in->nannotations);
    map_priority(c, &inc->labels);
    inc->url = in->generator_url ? in->generator_url : "";
    inc->state = in->state;
    inc->ends = in->ends_at_ms;
    inc->starts = in->starts_at_ms ? in->starts_at_ms : inc->ends ? inc->ends : now;
    if (inc->state == DW_ALERT_RESOLVED && (!inc->ends || inc->ends > now))
        inc->ends = now;
    if (inc->state == DW_ALERT_FIRING && !inc->ends) {
        inc->timeout = true;
        inc->ends = now + c->resolve_timeout;
    }
    if (inc->state < DW_ALERT_FIRING || inc->state > DW_ALERT_RESOLVED)
        return dw_asprintf("unknown state %d", inc->state);
    if (inc->labels.n == 0)
        return dw_strdup("at least one label pair required");
    char *why = lset_validate(&inc->labels, "label set");
    if (!why)
        why = lset_validate(&inc->ann, "annotations");
    if (!why && inc->state != DW_ALERT_PENDING && inc->ends && inc->ends < inc->starts)
        why = dw_strdup("start time must be before end time");
    return why;
}

/* Alertmanager's merge of an update with the alert it overlaps. */
static void merge_times(const struct alert *old, struct incoming *inc, int64_t now)
{
    bool overlap = (inc->ends > old->starts_at && inc->ends < old->ends_at) ||
                   (inc->starts > old->starts_at && inc->starts < old->ends_at);
    if (!overlap)
        return;
    if (old->starts_at < inc->starts)
        inc->starts = old->starts_at;
    if (inc->ends <= now) {
        if (old->ends_at <= now && old->ends_at > inc->ends)
            inc->ends = old->ends_at;
    } else if (old->ends_at > inc->ends && !old->timeout) {
        inc->ends = old->ends_at;
        inc->timeout = false;
    }
}

static void take_fields(struct alert *al, struct incoming *inc, int64_t now)
{
    lset_release(&al->annotations);
    al->annotations = inc->ann;
    inc->ann = (struct lset){0};
    free(al->generator_url);
    al->generator_url = dw_strdup(inc->url);
    al->starts_at = inc->starts;
    al->ends_at = inc->state == DW_ALERT_PENDING ? 0 : inc->ends;
    al->timeout = inc->timeout;
    al->updated_at = now;
}

static struct alert *new_alert(struct dw_alerter *a, struct incoming *inc)
{
    struct alert *al = dw_calloc(1, sizeof *al);
    al->labels = inc->labels;
    inc->labels = (struct lset){0};
    al->fp = lset_fingerprint(&al->labels);
    fp_hex(al->fp, al->fp_hex);
    al->priority = prio_index(lset_get(&al->labels, PRIORITY_LABEL));
    al->state = DW_ALERT_INACTIVE;
    al->generator_url = dw_strdup("");
    fpmap_put(&a->alerts, al->fp, al);
    inhibit_track(a, al);
    return al;
}

static void forget_alert(struct dw_alerter *a, struct alert *al)
{
    inhibit_untrack(a, al);
    fpmap_del(&a->alerts, al->fp);
    alert_free(al);
}

/* A pending update: the alert waits for its rule's `for`. */
static int put_pending(struct dw_alerter *a, struct alert *al, struct incoming *inc, int64_t now,
                       char **err)
{
    if (al->state == DW_ALERT_FIRING && end_firing(a, al, now, err) < 0)
        return -1;
    if (al->state != DW_ALERT_PENDING)
        al->pending_at = now;
    al->state = DW_ALERT_PENDING;
    take_fields(al, inc, now);
    return persist_alert_save(a->store, al, err);
}

/* A firing or resolved update of al (already resolved if its endsAt passed). */
static int put_active(struct dw_alerter *a, struct alert *al, struct incoming *inc, int64_t now,
                      bool *route, char **err)
{
    enum dw_alert_state before = al->state;
    if (before == DW_ALERT_FIRING || before == DW_ALERT_RESOLVED)
        merge_times(al, inc, now);
    bool firing = inc->ends > now;
    take_fields(al, inc, now);
    *route = firing;
    if (firing && before != DW_ALERT_FIRING)
        return start_firing(a, al, now, err) < 0 ? -1 : persist_alert_save(a->store, al, err);
    if (firing) {
        min_into(&a->next_timeout, al->ends_at);
        return persist_alert_save(a->store, al, err);
    }
    if (before == DW_ALERT_FIRING) {
        *route = true; /* the groups that saw it fire are told it resolved */
        return end_firing(a, al, al->ends_at, err) < 0 ? -1 : persist_alert_save(a->store, al, err);
    }
    if (before == DW_ALERT_PENDING) { /* never fired: back to inactive */
        al->state = DW_ALERT_INACTIVE;
        return persist_alert_delete(a->store, al->fp, err);
    }
    if (before == DW_ALERT_INACTIVE)
        al->resolved_at = al->ends_at;
    al->state = DW_ALERT_RESOLVED;
    return persist_alert_save(a->store, al, err);
}

struct put_ctx {
    struct dw_alerter *a;
    const struct dw_alert_in *in;
    size_t n;
    int64_t now;
    struct dw_buf errs;
    struct alert **routed;
    size_t nrouted;
    char *store_err;
};

static int put_one(struct put_ctx *pc, size_t i)
{
    struct dw_alerter *a = pc->a;
    struct incoming inc = {0};
    char *why = normalise(a->cfg, &pc->in[i], pc->now, &inc);
    int rc = 0;
    if (why) {
        add_err(&pc->errs, "alert %zu: %s", i, why);
        free(why);
        dw_metric_add(alert_m.received, (const char *[]){"invalid"}, 1);
        goto out;
    }
    dw_metric_add(alert_m.received, (const char *[]){"valid"}, 1);
    struct alert *al = alert_find(a, lset_fingerprint(&inc.labels));
    bool is_new = !al;
    if (!al)
        al = new_alert(a, &inc);
    if ((rc = resolve_if_due(a, al, pc->now, &pc->store_err)) < 0)
        goto out;
    bool route = false;
    if (inc.state == DW_ALERT_PENDING)
        rc = put_pending(a, al, &inc, pc->now, &pc->store_err);
    else
        rc = put_active(a, al, &inc, pc->now, &route, &pc->store_err);
    if (rc == 0 && al->state == DW_ALERT_INACTIVE && al->ngroups == 0)
        forget_alert(a, al);
    else if (rc == 0 && route)
        pc->routed[pc->nrouted++] = al;
    else if (rc < 0 && is_new)
        forget_alert(a, al);
out:
    lset_release(&inc.labels);
    lset_release(&inc.ann);
    return rc;
}

static int put_tx(struct dw_store *s, void *ctx)
{
    struct put_ctx *pc = ctx;
    (void)s;
    for (size_t i = 0; i < pc->n; i++)
        if (put_one(pc, i) < 0)
            return -1;
    return 0;
}

int dw_alerter_put(struct dw_alerter *a, const struct dw_alert_in *in, size_t n, int64_t now,
                   char **err)
{
    struct put_ctx pc = {.a = a, .in = in, .n = n, .now = now};
    dw_buf_init(&pc.errs, 64 * 1024);
    pc.routed = dw_calloc(n ? n : 1, sizeof *pc.routed);
    pthread_mutex_lock(&a->mu);
    char *txerr = NULL;
    int rc = dw_store_tx(a->store, put_tx, &pc, &txerr);
    if (rc == 0) {
        for (size_t i = 0; i < pc.nrouted; i++)
            dispatch_insert(a, pc.routed[i], now);
        dispatch_due(a, now);
        wake_thread(a, dispatch_next(a));
        wake_thread(a, a->next_timeout);
    }
    pthread_mutex_unlock(&a->mu);
    free(pc.routed);
    if (rc != 0) {
        char *why = pc.store_err ? pc.store_err : txerr;
        log_store_error("storing alerts failed", why);
        if (err)
            *err = dw_asprintf("storing alerts failed: %s", why ? why : "unknown error");
        free(pc.store_err);
        free(txerr);
        dw_buf_release(&pc.errs);
        return -1;
    }
    free(pc.store_err);
    free(txerr);
    if (pc.errs.len) {
        if (err)
            *err = dw_buf_steal(&pc.errs);
        dw_buf_release(&pc.errs);
        return DW_ALERT_EINVAL;
    }
    dw_buf_release(&pc.errs);
    return 0;
}

/* ---- the tick ---- */

struct tick_ctx {
    struct dw_alerter *a;
    int64_t now;
    char *err;
};

static int resolve_due_tx(struct dw_store *s, void *ctx)
{
    struct tick_ctx *tc = ctx;
    struct dw_alerter *a = tc->a;
    (void)s;
    a->next_timeout = INT64_MAX;
    size_t it = 0;
    struct alert *al;
    while ((al = fpmap_next(&a->alerts, &it))) {
        if (resolve_if_due(a, al, tc->now, &tc->err) < 0)
            return -1;
        if (al->state == DW_ALERT_FIRING)
            min_into(&a->next_timeout, al->ends_at);
    }
    return 0;
}

static void resolve_due(struct dw_alerter *a, int64_t now)
{
    if (now < a->next_timeout)
        return;
    struct tick_ctx tc = {a, now, NULL};
    char *err = NULL;
    if (dw_store_tx(a->store, resolve_due_tx, &tc, &err) != 0) {
        log_store_error("resolving timed-out alerts failed", tc.err ? tc.err : err);
        a->next_timeout = now + 1000; /* retry soon */
    }
    free(tc.err);
    free(err);
}

static void settle_flapping(struct dw_alerter *a, int64_t now)
{
    if (now < a->next_settle)
        return;
    a->next_settle = INT64_MAX;
    size_t it = 0;
    struct alert *al;
    while ((al = fpmap_next(&a->alerts, &it))) {
        if (!al->flapping)
            continue;
        if (flap_now(a->cfg, al, now)) {
            min_into(&a->next_settle, settle_time(a->cfg, al));
            continue;
        }
        al->flapping = false;
        dw_log_kv(DW_LOG_INFO, "alert", "alert stopped flapping; its notifications resume",
                  "fingerprint", al->fp_hex, "alertname", lset_get(&al->labels, "alertname"), NULL);
        char *err = NULL;
        if (persist_alert_save(a->store, al, &err) < 0)
            log_store_error("saving an alert failed", err);
        free(err);
    }
}

static bool expired_alert(const struct alert *al, int64_t now)
{
    if (al->ngroups)
        return false;
    if (al->state == DW_ALERT_RESOLVED)
        return al->resolved_at < now - ALERT_RETENTION_MS;
    if (al->state == DW_ALERT_PENDING)
        return al->updated_at < now - PENDING_STALE_MS;
    return al->state == DW_ALERT_INACTIVE;
}

static void gc(struct dw_alerter *a, int64_t now)
{
    struct alert **old = dw_calloc(a->alerts.n ? a->alerts.n : 1, sizeof *old);
    size_t n = 0, it = 0;
    struct alert *al;
    while ((al = fpmap_next(&a->alerts, &it)))
        if (expired_alert(al, now))
            old[n++] = al;
    for (size_t i = 0; i < n; i++) {
        char *err = NULL;
        if (persist_alert_delete(a->store, old[i]->fp, &err) < 0)
            log_store_error("deleting an old alert failed", err);
        else
            forget_alert(a, old[i]);
        free(err);
    }
    free(old);
    silences_gc(a, now);
    dispatch_gc(a, now);
    char *err = NULL;
    if (events_prune(a, now, &err) < 0)
        log_store_error("pruning the event queue failed", err);
    free(err);
}

int64_t dw_alerter_tick(struct dw_alerter *a, int64_t now)
{
    pthread_mutex_lock(&a->mu);
    resolve_due(a, now);
    settle_flapping(a, now);
    dispatch_due(a, now);
    if (now >= a->next_gc) {
        gc(a, now);
        a->next_gc = now + GC_EVERY_MS;
    }
    int64_t next = dispatch_next(a);
    min_into(&next, a->next_timeout);
    min_into(&next, a->next_settle);
    min_into(&next, a->next_gc);
    a->sleeping_until = next;
    publish_metrics(a, now);
    pthread_mutex_unlock(&a->mu);
    return next;
}

/* ---- the thread ---- */

static void *thread_main(void *arg)
{
    struct dw_alerter *a = arg;
    while (!atomic_load(&a->stop)) {
        atomic_store(&a->wake, false);
        int64_t next = dw_alerter_tick(a, dw_now_ms());
        dw_clock_sleep_until(next, &a->wake);
    }
    return NULL;
}

int dw_alerter_start(struct dw_alerter *a)
{
    pthread_mutex_lock(&a->mu);
    bool running = a->running;
    a->running = true;
    a->sleeping_until = INT64_MIN; /* until its first tick, every put wakes it */
    pthread_mutex_unlock(&a->mu);
    if (running)
        return 0;
    atomic_store(&a->stop, false);
    if (pthread_create(&a->thread, NULL, thread_main, a) != 0) {
        pthread_mutex_lock(&a->mu);
        a->running = false;
        pthread_mutex_unlock(&a->mu);
        return -1;
    }
    pthread_setname_np(a->thread, "dw-alert");
    return 0;
}

void dw_alerter_stop(struct dw_alerter *a)
{
    pthread_mutex_lock(&a->mu);
    bool running = a->running;
    a->running = false;
    pthread_mutex_unlock(&a->mu);
    if (!running)
        return;
    atomic_store(&a->stop, true);
    atomic_store(&a->wake, true);
    dw_clock_kick();
    pthread_join(a->thread, NULL);
}

/* ---- configuration ---- */

static void install(struct dw_alerter *a, struct acfg *c)
{
    pthread_mutex_lock(&a->mu);
    struct acfg *old = a->cfg;
    a->cfg = c;
    int64_t now = dw_now_ms();
    inhibit_rebuild(a);
    dispatch_rebuild(a, now);
    a->next_settle = now; /* re-evaluate flapping under the new thresholds */
    acfg_free(&old);
    wake_thread(a, now);
    pthread_mutex_unlock(&a->mu);
}

size_t dw_alerter_check_config(const struct dw_config *cfg, struct dw_diags *diags)
{
    size_t before = dw_diags_errors(diags);
    struct acfg *c = acfg_from_config(cfg, diags);
    acfg_free(&c);
    return dw_diags_errors(diags) - before;
}

size_t dw_alerter_apply(struct dw_alerter *a, const struct dw_config *cfg, struct dw_diags *diags)
{
    size_t before = dw_diags_errors(diags);
    struct acfg *c = acfg_from_config(cfg, diags);
    if (!c)
        return dw_diags_errors(diags) - before;
    install(a, c);
    return 0;
}

size_t dw_alerter_apply_yaml(struct dw_alerter *a, const char *name, const char *yaml, size_t len,
                             struct dw_diags *diags)
{
    size_t before = dw_diags_errors(diags);
    struct acfg *c = acfg_from_yaml(name, yaml, len, diags);
    if (!c)
        return dw_diags_errors(diags) - before;
    install(a, c);
    return 0;
}

/* ---- open and close ---- */

static int load(struct dw_alerter *a, char **err)
{
    if (persist_alerts_load(a, err) < 0 || persist_silences_load(a, err) < 0 ||
        persist_nflog_load(a, err) < 0)
        return -1;
    a->last_event_id = persist_events_last_id(a->store);
    size_t it = 0;
    struct alert *al;
    while ((al = fpmap_next(&a->alerts, &it))) {
        if (al->state == DW_ALERT_FIRING)
            min_into(&a->next_timeout, al->ends_at);
        if (al->flapping)
            a->next_settle = 0;
        inhibit_track(a, al);
    }
    return 0;
}

struct dw_alerter *dw_alerter_open(struct dw_store *store, char **err)
{
    if (persist_migrate(store, err) < 0)
        return NULL;
    register_metrics();
    struct dw_alerter *a = dw_calloc(1, sizeof *a);
    pthread_mutex_init(&a->mu, NULL);
    pthread_mutex_init(&a->ev_mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&a->ev_cond, &attr);
    pthread_condattr_destroy(&attr);
    a->store = store;
    a->cfg = acfg_default();
    a->opened_at = dw_now_ms();
    a->next_timeout = a->next_settle = INT64_MAX;
    a->next_gc = a->opened_at;
    a->sleeping_until = INT64_MAX;
    pthread_mutex_lock(&a->mu);
    int rc = load(a, err);
    if (rc == 0)
        dispatch_rebuild(a, a->opened_at);
    pthread_mutex_unlock(&a->mu);
    if (rc < 0)
        dw_alerter_close(&a);
    return a;
}

void dw_alerter_close(struct dw_alerter **pa)
{
    struct dw_alerter *a = pa ? *pa : NULL;
    if (!a)
        return;
    dw_alerter_stop(a);
    dispatch_free(a);
    nflog_free_all(a);
    size_t it = 0;
    struct alert *al;
    while ((al = fpmap_next(&a->alerts, &it)))
        alert_free(al);
    fpmap_release(&a->alerts);
    for (size_t i = 0; i < a->nsilences; i++)
        silence_free(a->silences[i]);
    free(a->silences);
    acfg_free(&a->cfg);
    pthread_mutex_destroy(&a->mu);
    pthread_mutex_destroy(&a->ev_mu);
    pthread_cond_destroy(&a->ev_cond);
    free(a);
    *pa = NULL;
}
