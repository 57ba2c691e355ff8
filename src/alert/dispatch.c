/*
 * dispatch.c - aggregation groups, their timers, the flush that decides what
 * a receiver is told, the notification log, and the events it produces.
 *
 * DESIGN
 * Alertmanager's dispatcher and notification pipeline, minus the network:
 *
 *  - An alert goes to every route route_match() returns; on each it joins
 *    the group named by (route, its group_by labels), created on first use.
 *  - A new group flushes after group_wait, then every group_interval; an
 *    alert older than group_wait that joins a group that never flushed
 *    makes it flush at once (Alertmanager's rule). Timers a route leaves
 *    unset follow the group's most urgent priority (priority_timing), and
 *    a more urgent alert joining shortens them.
 *  - A flush while the route is time-muted does nothing. Otherwise it
 *    drops firing alerts that are silenced or inhibited, resolved ones that
 *    are muted unless the receiver was told they fired (unlike
 *    Alertmanager, so a resolve is never lost to a silence), and holds
 *    flapping alerts (kept in the group, not sent). What is left is
 *    compared with the notification log entry of the group: a new firing
 *    alert, a new resolved one, everything resolved, or repeat_interval
 *    elapsed (strictly) since the last notification means "notify".
 *  - Notifying appends one event (webhook v4 JSON) and updates the log in
 *    one transaction, then wakes the consumers; the pass ends with one
 *    dw_store_sync, so every event of it is durable (one fsync) before the
 *    put or tick that flushed it returns. Resolved alerts
 *    (except held ones) then leave the group; an empty group is deleted.
 *    A log entry whose firing set is empty is deleted too (equivalent for
 *    the decision, and keeps the table small).
 *
 * Cadence: after a flush scheduled at T the next is T + group_interval
 * (now + group_interval when the flush ran more than an interval late), so
 * a tick that runs a few milliseconds late does not shift the timers.
 * Threads: everything here runs under the alerter's mutex.
 */
#include <stdlib.h>
#include <string.h>

#include "alert/alert_internal.h"

#define MAX_ROUTES 64

/* ---- groups ---- */

static struct group *group_find(const struct dw_alerter *a, const char *key, uint64_t h)
{
    for (struct group *g = fpmap_get(&a->group_index, h); g; g = g->hnext)
        if (strcmp(g->key, key) == 0)
            return g;
    return NULL;
}

static void group_index_add(struct dw_alerter *a, struct group *g)
{
    g->hnext = fpmap_get(&a->group_index, g->hash);
    fpmap_put(&a->group_index, g->hash, g);
}

static void group_index_del(struct dw_alerter *a, struct group *g)
{
    struct group *head = fpmap_get(&a->group_index, g->hash);
    if (head == g) {
        if (g->hnext)
            fpmap_put(&a->group_index, g->hash, g->hnext);
        else
            fpmap_del(&a->group_index, g->hash);
        return;
    }
    for (struct group *p = head; p; p = p->hnext)
        if (p->hnext == g) {
            p->hnext = g->hnext;
            return;
        }
}

static void group_free(struct group *g)
{
    free(g->key);
    lset_release(&g->labels);
    free(g->fps);
    free(g);
}

static char *group_key(const struct route *r, const struct lset *labels)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_printf(&b, "%s:", r->id);
    lset_format(labels, &b);
    return dw_buf_steal(&b);
}

static struct group *group_new(struct dw_alerter *a, const struct route *r, struct lset *labels,
                               char *key, int prio, int64_t now)
{
    struct group *g = dw_calloc(1, sizeof *g);
    g->key = key;
    g->hash = str_hash(key);
    g->route = r;
    g->labels = *labels;
    *labels = (struct lset){0};
    g->prio = prio;
    g->created_at = now;
    struct timing t;
    route_timing(a->cfg, r, prio, &t);
    g->next_flush = now + t.group_wait;
    a->groups = dw_grow(a->groups, &a->capgroups, a->ngroups + 1, sizeof *a->groups);
    a->groups[a->ngroups++] = g;
    group_index_add(a, g);
    return g;
}

/* Removes groups[i] (swapping the last one into its place) and frees it. */
static void group_remove_at(struct dw_alerter *a, size_t i)
{
    struct group *g = a->groups[i];
    group_index_del(a, g);
    a->groups[i] = a->groups[--a->ngroups];
    group_free(g);
}

static bool group_has(const struct group *g, uint64_t fp)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->fps[i] == fp)
            return true;
    return false;
}

/* The group's timers after a more urgent alert joined. */
static void retime(const struct acfg *c, struct group *g)
{
    struct timing t;
    route_timing(c, g->route, g->prio, &t);
    int64_t due = g->flushed ? g->last_flush + t.group_interval : g->created_at + t.group_wait;
    if (due < g->next_flush)
        g->next_flush = due;
}

static void group_insert(struct dw_alerter *a, struct group *g, struct alert *al, int64_t now)
{
    if (!group_has(g, al->fp)) {
        g->fps = dw_grow(g->fps, &g->cap, g->n + 1, sizeof *g->fps);
        g->fps[g->n++] = al->fp;
        al->ngroups++;
    }
    if (al->priority < g->prio) {
        g->prio = al->priority;
        retime(a->cfg, g);
    }
    struct timing t;
    route_timing(a->cfg, g->route, g->prio, &t);
    if (!g->flushed && al->starts_at + t.group_wait < now && g->next_flush > now)
        g->next_flush = now;
}

void dispatch_insert(struct dw_alerter *a, struct alert *al, int64_t now)
{
    const struct route *rs[MAX_ROUTES];
    size_t n = route_match(&a->cfg->root, &al->labels, rs, MAX_ROUTES);
    for (size_t i = 0; i < n; i++) {
        struct lset labels;
        route_group_labels(rs[i], &al->labels, &labels);
        char *key = group_key(rs[i], &labels);
        struct group *g = group_find(a, key, str_hash(key));
        if (g) {
            free(key);
            lset_release(&labels);
        } else {
            g = group_new(a, rs[i], &labels, key, al->priority, now);
        }
        group_insert(a, g, al, now);
    }
}

size_t alert_receivers(const struct dw_alerter *a, const struct lset *ls, const char **out,
                       size_t max)
{
    const struct route *rs[MAX_ROUTES];
    size_t n = route_match(&a->cfg->root, ls, rs, MAX_ROUTES);
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = rs[i]->receiver;
    return n < max ? n : max;
}

/* ---- the notification log ---- */

struct nflog *nflog_find(const struct dw_alerter *a, const char *key)
{
    for (struct nflog *e = fpmap_get(&a->nflog_index, str_hash(key)); e; e = e->hnext)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

void nflog_add(struct dw_alerter *a, struct nflog *e)
{
    e->hash = str_hash(e->key);
    e->hnext = fpmap_get(&a->nflog_index, e->hash);
    fpmap_put(&a->nflog_index, e->hash, e);
}

static void nflog_free(struct nflog *e)
{
    free(e->key);
    free(e->receiver);
    free(e->firing);
    free(e->resolved);
    free(e);
}

static void nflog_remove(struct dw_alerter *a, struct nflog *e)
{
    struct nflog *head = fpmap_get(&a->nflog_index, e->hash);
    if (head == e) {
        if (e->hnext)
            fpmap_put(&a->nflog_index, e->hash, e->hnext);
        else
            fpmap_del(&a->nflog_index, e->hash);
    } else {
        for (struct nflog *p = head; p; p = p->hnext)
            if (p->hnext == e) {
                p->hnext = e->hnext;
                break;
            }
    }
    nflog_free(e);
}

void nflog_free_all(struct dw_alerter *a)
{
    size_t it = 0;
    struct nflog *e;
    while ((e = fpmap_next(&a->nflog_index, &it)))
        while (e) {
            struct nflog *next = e->hnext;
            nflog_free(e);
            e = next;
        }
    fpmap_release(&a->nflog_index);
}

static bool fps_has(const uint64_t *set, size_t n, uint64_t fp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (set[mid] == fp)
            return true;
        if (set[mid] < fp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static bool fps_subset(const uint64_t *sub, size_t nsub, const uint64_t *set, size_t n)
{
    for (size_t i = 0; i < nsub; i++)
        if (!fps_has(set, n, sub[i]))
            return false;
    return true;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- a flush ---- */

struct item {
    struct alert *al;
    bool resolved;
};

struct batch {
    struct item *it;
    size_t n;
    uint64_t *firing, *res; /* sorted fingerprints */
    size_t nfiring, nres;
};

static bool muted(const struct dw_alerter *a, const struct alert *al, int64_t now)
{
    return silences_muting(a, &al->labels, now, NULL, 0) > 0 || inhibited_by(a, al, now) != NULL;
}

static void batch_collect(const struct dw_alerter *a, const struct group *g, const struct nflog *e,
                          int64_t now, struct batch *b)
{
    size_t cap = g->n ? g->n : 1;
    b->it = dw_calloc(cap, sizeof *b->it);
    b->firing = dw_calloc(cap, sizeof *b->firing);
    b->res = dw_calloc(cap, sizeof *b->res);
    for (size_t i = 0; i < g->n; i++) {
        struct alert *al = fpmap_get(&a->alerts, g->fps[i]);
        if (!al || al->flapping)
            continue;
        bool resolved = !alert_is_firing(al, now);
        if (muted(a, al, now) && (!resolved || !e || !fps_has(e->firing, e->nfiring, al->fp)))
            continue;
        b->it[b->n++] = (struct item){al, resolved};
        if (resolved)
            b->res[b->nres++] = al->fp;
        else
            b->firing[b->nfiring++] = al->fp;
    }
    qsort(b->firing, b->nfiring, sizeof *b->firing, u64_cmp);
    qsort(b->res, b->nres, sizeof *b->res, u64_cmp);
}

static void batch_release(struct batch *b)
{
    free(b->it);
    free(b->firing);
    free(b->res);
}

/* Alertmanager's DedupStage.needsUpdate (send_resolved on), naming the reason. */
static const char *decide(const struct nflog *e, const struct batch *b, int64_t repeat, int64_t now)
{
    if (!e || e->nfiring == 0)
        return b->nfiring ? "fired" : NULL;
    if (!fps_subset(b->firing, b->nfiring, e->firing, e->nfiring))
        return b->nfiring ? "changed" : "resolved";
    if (b->nfiring == 0)
        return "resolved";
    if (!fps_subset(b->res, b->nres, e->resolved, e->nresolved))
        return "changed";
    return e->sent_at < now - repeat ? "repeat" : NULL;
}

static int item_order(const void *x, const void *y)
{
    return alert_cmp(((const struct item *)x)->al, ((const struct item *)y)->al);
}

/* Pairs every alert of the batch shares (same value), as a JSON object. */
static json_t *common_json(const struct batch *b, bool annotations)
{
    json_t *o = json_object();
    if (!b->n)
        return o;
    const struct lset *first = annotations ? &b->it[0].al->annotations : &b->it[0].al->labels;
    for (size_t i = 0; i < first->n; i++) {
        bool all = true;
        for (size_t k = 1; k < b->n && all; k++) {
            const struct alert *al = b->it[k].al;
            const char *v =
                lset_get(annotations ? &al->annotations : &al->labels, first->l[i].name);
            all = v && strcmp(v, first->l[i].value) == 0;
        }
        if (all)
            json_object_set_new(o, first->l[i].name, json_string(first->l[i].value));
    }
    return o;
}

static json_t *webhook_alert(const struct alert *al, bool resolved)
{
    return json_pack("{s:s,s:o,s:o,s:o,s:o,s:s,s:s}", "status", resolved ? "resolved" : "firing",
                     "labels", lset_json(&al->labels), "annotations", lset_json(&al->annotations),
                     "startsAt", time_json(al->starts_at), "endsAt",
                     time_json(resolved ? al->ends_at : 0), "generatorURL", al->generator_url,
                     "fingerprint", al->fp_hex);
}

static char *payload(const struct dw_alerter *a, const struct group *g, struct batch *b,
                     const char *kind)
{
    qsort(b->it, b->n, sizeof *b->it, item_order);
    json_t *alerts = json_array();
    for (size_t i = 0; i < b->n; i++)
        json_array_append_new(alerts, webhook_alert(b->it[i].al, b->it[i].resolved));
    const char *prio = prio_name(g->prio);
    json_t *o = json_pack(
        "{s:s,s:s,s:o,s:o,s:o,s:o,s:s,s:s,s:s,s:i,s:s,s:s?}", "receiver", g->route->receiver,
        "status", b->nfiring ? "firing" : "resolved", "alerts", alerts, "groupLabels",
        lset_json(&g->labels), "commonLabels", common_json(b, false), "commonAnnotations",
        common_json(b, true), "externalURL", a->cfg->external_url ? a->cfg->external_url : "",
        "version", "4", "groupKey", g->key, "truncatedAlerts", 0, "kind", kind, "priority", prio);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

struct notify_ctx {
    struct dw_alerter *a;
    const struct group *g;
    struct nflog *next; /* the entry after this notification */
    const char *kind;
    char *payload;
    int64_t now;
    int64_t id;
    char *err;
};

static int notify_tx(struct dw_store *s, void *ctx)
{
    struct notify_ctx *nc = ctx;
    const struct group *g = nc->g;
    if (persist_event_add(s, nc->now, nc->kind, g->route->receiver, g->key, prio_name(g->prio),
                          nc->payload, &nc->id, &nc->err) < 0)
        return -1;
    if (nc->next->nfiring == 0)
        return persist_nflog_delete(s, g->key, &nc->err);
    return persist_nflog_save(s, nc->next, &nc->err);
}

static struct nflog *entry_from(const struct group *g, const struct batch *b, int64_t now)
{
    struct nflog *e = dw_calloc(1, sizeof *e);
    e->key = dw_strdup(g->key);
    e->receiver = dw_strdup(g->route->receiver);
    e->firing = dw_calloc(b->nfiring ? b->nfiring : 1, sizeof *e->firing);
    memcpy(e->firing, b->firing, b->nfiring * sizeof *e->firing);
    e->nfiring = b->nfiring;
    e->resolved = dw_calloc(b->nres ? b->nres : 1, sizeof *e->resolved);
    memcpy(e->resolved, b->res, b->nres * sizeof *e->resolved);
    e->nresolved = b->nres;
    e->sent_at = now;
    return e;
}

/* Appends the event and moves the log; returns -1 when the store failed. */
static int notify(struct dw_alerter *a, const struct group *g, struct batch *b, const char *kind,
                  int64_t now)
{
    struct notify_ctx nc = {.a = a, .g = g, .kind = kind, .now = now};
    nc.next = entry_from(g, b, now);
    nc.payload = payload(a, g, b, kind);
    char *err = NULL;
    int rc = dw_store_tx(a->store, notify_tx, &nc, &err); /* made durable by dispatch_due */
    if (rc == 0) {
        struct nflog *old = nflog_find(a, g->key);
        if (old)
            nflog_remove(a, old);
        if (nc.next->nfiring)
            nflog_add(a, nc.next);
        else
            nflog_free(nc.next);
        events_appended(a, nc.id);
        dw_metric_add(alert_m.events, (const char *[]){kind}, 1);
        dw_log_kv(DW_LOG_DEBUG, "alert", "group notification queued", "kind", kind, "receiver",
                  g->route->receiver, "group", g->key, NULL);
    } else {
        dw_log_kv(DW_LOG_ERROR, "alert", "queueing a group notification failed; retrying", "group",
                  g->key, "error", nc.err ? nc.err : err, NULL);
        nflog_free(nc.next);
    }
    free(nc.payload);
    free(nc.err);
    free(err);
    return rc;
}

/* Drops resolved alerts (not held ones) from the group after a flush. */
static void drop_resolved(struct dw_alerter *a, struct group *g, int64_t now)
{
    size_t k = 0;
    for (size_t i = 0; i < g->n; i++) {
        struct alert *al = fpmap_get(&a->alerts, g->fps[i]);
        if (al && (alert_is_firing(al, now) || al->flapping)) {
            g->fps[k++] = g->fps[i];
        } else if (al) {
            al->ngroups--;
        }
    }
    g->n = k;
}

static void schedule_next(const struct acfg *c, struct group *g, int64_t now)
{
    struct timing t;
    route_timing(c, g->route, g->prio, &t);
    int64_t next = g->next_flush + t.group_interval;
    g->next_flush = next > now ? next : now + t.group_interval;
    g->last_flush = now;
    g->flushed = true;
}

/* Flushes groups[i]; returns true when the group was removed. *queued counts notifications. */
static bool flush(struct dw_alerter *a, size_t i, int64_t now, size_t *queued)
{
    struct group *g = a->groups[i];
    if (route_time_muted(a->cfg, g->route, now)) {
        schedule_next(a->cfg, g, now);
        return false;
    }
    const struct nflog *e = nflog_find(a, g->key);
    struct batch b = {0};
    batch_collect(a, g, e, now, &b);
    struct timing t;
    route_timing(a->cfg, g->route, g->prio, &t);
    const char *kind = b.n ? decide(e, &b, t.repeat_interval, now) : NULL;
    int rc = kind ? notify(a, g, &b, kind, now) : 0;
    if (kind && rc == 0)
        (*queued)++;
    batch_release(&b);
    schedule_next(a->cfg, g, now);
    if (rc < 0)
        return false; /* keep everything for the next try */
    drop_resolved(a, g, now);
    if (g->n)
        return false;
    group_remove_at(a, i);
    return true;
}

/*
 * Every group notification is an ordinary commit; one sync after the pass
 * makes them all durable with a single fsync (a burst of 100 new groups in
 * one POST costs one fsync, not 100) before the caller answers.
 */
void dispatch_due(struct dw_alerter *a, int64_t now)
{
    size_t i = 0, queued = 0;
    while (i < a->ngroups) {
        if (a->groups[i]->next_flush <= now && flush(a, i, now, &queued))
            continue; /* groups[i] is now the former last group */
        i++;
    }
    char *err = NULL;
    if (queued && dw_store_sync(a->store, &err) != 0) {
        dw_log_kv(DW_LOG_ERROR, "alert", "syncing queued notifications failed", "error", err, NULL);
        free(err);
    }
}

int64_t dispatch_next(const struct dw_alerter *a)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < a->ngroups; i++)
        if (a->groups[i]->next_flush < next)
            next = a->groups[i]->next_flush;
    return next;
}

/* ---- rebuilding after a configuration change or at start ---- */

static bool told_firing(const struct dw_alerter *a, uint64_t fp)
{
    size_t it = 0;
    struct nflog *e;
    while ((e = fpmap_next(&a->nflog_index, &it)))
        for (; e; e = e->hnext)
            if (fps_has(e->firing, e->nfiring, fp))
                return true;
    return false;
}

/*
 * A group that existed before the change keeps its timers, shortened when
 * the new timing asks for less (longer ones apply after the next flush).
 */
static void keep_timers(const struct acfg *c, struct group *g, const struct group *old)
{
    if (old->prio < g->prio)
        g->prio = old->prio;
    struct timing t;
    route_timing(c, g->route, g->prio, &t);
    g->created_at = old->created_at;
    g->last_flush = old->last_flush;
    g->flushed = old->flushed;
    int64_t due =
        old->flushed ? old->last_flush + t.group_interval : old->created_at + t.group_wait;
    g->next_flush = due < old->next_flush ? due : old->next_flush;
}

void dispatch_rebuild(struct dw_alerter *a, int64_t now)
{
    struct group **old = a->groups;
    size_t nold = a->ngroups;
    struct fpmap old_index = a->group_index;
    a->groups = NULL;
    a->ngroups = a->capgroups = 0;
    a->group_index = (struct fpmap){0};
    size_t it = 0;
    struct alert *al;
    while ((al = fpmap_next(&a->alerts, &it))) {
        bool was_grouped = al->ngroups > 0;
        al->ngroups = 0;
        if (al->state == DW_ALERT_FIRING || was_grouped ||
            (al->state == DW_ALERT_RESOLVED && told_firing(a, al->fp)))
            dispatch_insert(a, al, now);
    }
    for (size_t i = 0; i < nold; i++) {
        struct group *g = group_find(a, old[i]->key, old[i]->hash);
        if (g)
            keep_timers(a->cfg, g, old[i]);
        group_free(old[i]);
    }
    free(old);
    fpmap_release(&old_index);
}

void dispatch_gc(struct dw_alerter *a, int64_t now)
{
    struct nflog **old = dw_calloc(a->nflog_index.n ? a->nflog_index.n : 1, sizeof *old);
    size_t n = 0, cap = a->nflog_index.n ? a->nflog_index.n : 1, it = 0;
    struct nflog *e;
    while ((e = fpmap_next(&a->nflog_index, &it)))
        for (; e; e = e->hnext)
            if (e->sent_at < now - NFLOG_RETENTION_MS && !group_find(a, e->key, e->hash)) {
                old = dw_grow(old, &cap, n + 1, sizeof *old);
                old[n++] = e;
            }
    for (size_t i = 0; i < n; i++) {
        char *err = NULL;
        if (persist_nflog_delete(a->store, old[i]->key, &err) == 0)
            nflog_remove(a, old[i]);
        free(err);
    }
    free(old);
}

void dispatch_free(struct dw_alerter *a)
{
    for (size_t i = 0; i < a->ngroups; i++)
        group_free(a->groups[i]);
    free(a->groups);
    a->groups = NULL;
    a->ngroups = a->capgroups = 0;
    fpmap_release(&a->group_index);
}
