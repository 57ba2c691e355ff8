/*
 * status.c - the status module's state: component states from probes,
 * alerts, maintenance, updates and overrides; state intervals; public
 * incident updates; scheduled maintenance with silences; the rebuild of the
 * renderings and serving them.
 *
 * DESIGN
 * Tables (component "status"), written in the call that changes them:
 *  - status_intervals: one row per (component, state) span; the open one
 *    per component has open = 1 and end_ms = the last time it was seen
 *    (refreshed every minute), so a restart does not count downtime.
 *  - status_overrides: manual states, one per component.
 *  - status_incidents / status_updates: incidents as published on the page
 *    and their public updates (the incident module keeps the incident).
 *  - status_maintenances: maintenance from the config (upserted at apply)
 *    and from the API; state and silence ids.
 *
 * One turn (dw_status_tick, on the module's thread every second): moves
 * maintenances by time (creating / expiring silences), computes every
 * component's state, records intervals, publishes automatic updates, then
 * rebuilds the renderings when something shown changed (or the minute
 * changed, for the bars). The rebuild reads the store; serving never does.
 *
 * Documents are published as immutable, reference-counted blobs (one
 * allocation each: bytes, gzip variant, ready-made header values), sorted
 * by name; a rebuild keeps the blob of a document whose bytes did not
 * change (its Last-Modified and gzip with it) and swaps in the new set, and
 * readers holding old blobs keep them alive until they release them.
 *
 * Threads: `mu` guards everything but the document set, which `docs_lock`
 * (a read-write lock) guards so handlers take a reference without waiting for a
 * turn. The incident module and the alerter are called with `mu` held;
 * they never call back into this module. The update hook runs after `mu`
 * is released.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#define ZLIB_CONST
#include <zlib.h>

#include "incident/report.h"
#include "status/status_internal.h"

#define TURN_MS 1000
#define WAKE_MS 100
#define SEEN_FLUSH_MS 60000
#define RESUME_GAP_MS 120000 /* an open interval last seen longer ago was a gap */
#define DAY_MS 86400000LL
#define HISTORY_INCIDENTS 500
#define PAGE_MAINT_MAX 200

static const char *const state_names[DW_STATUS_STATE_COUNT] = {
    "operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage"};

static const char *const update_statuses[] = {"investigating", "identified", "monitoring",
                                              "resolved", "postmortem"};

const char *dw_status_state_name(enum dw_status_state s)
{
    return (unsigned)s < DW_STATUS_STATE_COUNT ? state_names[s] : "unknown";
}

int dw_status_state_parse(const char *name)
{
    for (int i = 0; name && i < DW_STATUS_STATE_COUNT; i++)
        if (strcmp(name, state_names[i]) == 0)
            return i;
    return -1;
}

static const struct dw_store_migration migrations[] = {
    {1, "CREATE TABLE status_intervals ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " component TEXT NOT NULL,"
        " state TEXT NOT NULL,"
        " start_ms BIGINT NOT NULL,"
        " end_ms BIGINT NOT NULL,"
        " open INTEGER NOT NULL);"
        "CREATE INDEX status_intervals_by_component ON status_intervals (component, end_ms);"
        "CREATE INDEX status_intervals_open ON status_intervals (open);"
        "CREATE TABLE status_overrides ("
        " component TEXT PRIMARY KEY,"
        " state TEXT NOT NULL,"
        " set_by TEXT,"
        " set_at BIGINT NOT NULL);"
        "CREATE TABLE status_incidents ("
        " incident_id TEXT PRIMARY KEY,"
        " name TEXT NOT NULL,"
        " impact TEXT NOT NULL,"
        " status TEXT NOT NULL,"
        " started_at BIGINT NOT NULL,"
        " created_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL,"
        " monitoring_at BIGINT,"
        " resolved_at BIGINT,"
        " components TEXT NOT NULL DEFAULT '{}',"
        " affected TEXT NOT NULL DEFAULT '[]');"
        "CREATE INDEX status_incidents_by_created ON status_incidents (created_at);"
        "CREATE TABLE status_updates ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " incident_id TEXT NOT NULL,"
        " status TEXT NOT NULL,"
        " body TEXT NOT NULL,"
        " components TEXT NOT NULL DEFAULT '{}',"
        " author TEXT,"
        " automatic INTEGER NOT NULL,"
        " created_at BIGINT NOT NULL);"
        "CREATE INDEX status_updates_by_incident ON status_updates (incident_id, id);"
        "CREATE TABLE status_maintenances ("
        " id TEXT PRIMARY KEY,"
        " title TEXT NOT NULL,"
        " body TEXT NOT NULL,"
        " components TEXT NOT NULL DEFAULT '[]',"
        " starts_at BIGINT NOT NULL,"
        " ends_at BIGINT NOT NULL,"
        " manual TEXT,"
        " state TEXT NOT NULL,"
        " silences TEXT NOT NULL DEFAULT '[]',"
        " source TEXT NOT NULL,"
        " created_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL,"
        " started_at BIGINT,"
        " completed_at BIGINT);"},
    {2, st_subs_schema_sql},
};

static void rebuild(struct dw_status *st, int64_t now);

/* ---- small helpers ---- */

static int exec(struct dw_status *st, const char *sql, const struct dw_value *p, size_t n)
{
    return dw_store_exec(st->store, sql, p, n, NULL, NULL, NULL);
}

static char *col(const struct dw_value *v)
{
    return v->type == DW_VAL_NULL ? NULL : dw_strndup(v->s, v->n);
}

static int64_t col_int(const struct dw_value *v)
{
    return v->type == DW_VAL_NULL ? 0 : v->i;
}

static json_t *col_json(const struct dw_value *v, bool object)
{
    json_t *j = v->type == DW_VAL_TEXT ? json_loadb(v->s, v->n, 0, NULL) : NULL;
    if (object ? !json_is_object(j) : !json_is_array(j)) {
        json_decref(j);
        j = object ? json_object() : json_array();
    }
    return j;
}

static char *dumps(const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    return s ? s : dw_strdup(json_is_object(j) ? "{}" : "[]");
}

void st_time(int64_t ms, char out[40])
{
    if (ms <= 0)
        out[0] = '\0';
    else
        dw_format_rfc3339(ms, out, 40);
}

static int worst(int a, int b)
{
    return a > b ? a : b;
}

/* ---- life ---- */

/* Aligns the runtime components with the configuration, keeping what is known by id. */
static void comps_align(struct dw_status *st)
{
    size_t n = st->conf->y.ncomponents;
    struct st_comp *nc = dw_calloc(n ? n : 1, sizeof *nc);
    for (size_t i = 0; i < n; i++) {
        const char *id = st->conf->y.components[i].id;
        nc[i] = (struct st_comp){.id = dw_strdup(id), .override = -1};
        for (size_t k = 0; k < st->ncomps; k++) {
            if (st->comps[k].id && strcmp(st->comps[k].id, id) == 0) {
                free(nc[i].id);
                nc[i] = st->comps[k];
                st->comps[k] = (struct st_comp){0};
                break;
            }
        }
    }
    for (size_t k = 0; k < st->ncomps; k++) {
        free(st->comps[k].id);
        free(st->comps[k].override_by);
        free(st->comps[k].reasons);
    }
    free(st->comps);
    st->comps = nc;
    st->ncomps = n;
}

static int load_override_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    struct dw_status *st = ctx;
    int i = st_conf_component(st->conf, c[0].s);
    int s = dw_status_state_parse(c[1].s);
    if (i >= 0 && s >= 0) {
        st->comps[i].override = s;
        free(st->comps[i].override_by);
        st->comps[i].override_by = col(&c[2]);
        st->comps[i].override_at = c[3].i;
    }
    return 0;
}

/* Config maintenances are upserted; the API's and the hand-set states stay. */
static int upsert_config_maints(struct dw_status *st, int64_t now)
{
    for (size_t i = 0; i < st->conf->y.nmaintenances; i++) {
        const struct st_maint_conf *m = &st->conf->y.maintenances[i];
        json_t *comps = json_array();
        for (size_t k = 0; k < m->ncomponents; k++)
            json_array_append_new(comps, json_string(m->components[k]));
        char *cs = dumps(comps);
        json_decref(comps);
        struct dw_value p[] = {
            DW_VTEXT(m->id), DW_VTEXT(m->title),    DW_VTEXT(m->body ? m->body : ""),
            DW_VTEXT(cs),    DW_VINT(m->starts_at), DW_VINT(m->ends_at),
            DW_VINT(now)};
        int rc = exec(st,
                      "INSERT INTO status_maintenances (id, title, body, components, starts_at,"
                      " ends_at, state, source, created_at, updated_at)"
                      " VALUES ($1, $2, $3, $4, $5, $6, 'scheduled', 'config', $7, $7)"
                      " ON CONFLICT (id) DO UPDATE SET title = $2, body = $3, components = $4,"
                      " starts_at = $5, ends_at = $6, updated_at = $7",
                      p, DW_ARRAY_LEN(p));
        free(cs);
        if (rc)
            return -1;
    }
    return 0;
}

static void strv_free(char ***v, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free((*v)[i]);
    free(*v);
    *v = NULL;
    *n = 0;
}

static void strv_copy(char ***v, size_t *n, char *const *src, size_t m)
{
    strv_free(v, n);
    *v = dw_calloc(m ? m : 1, sizeof **v);
    for (*n = 0; *n < m; (*n)++)
        (*v)[*n] = dw_strdup(src[*n]);
}

/* What the request handlers read without the module's lock (they run beside the tick). */
static void copy_serving_knobs(struct dw_status *st)
{
    pthread_rwlock_wrlock(&st->docs_lock);
    strv_copy(&st->cors, &st->ncors, st->conf->y.cors_origins, st->conf->y.ncors_origins);
    strv_copy(&st->proxies, &st->nproxies, st->conf->y.rate.trusted_proxies,
              st->conf->y.rate.ntrusted_proxies);
    st->max_age_s = (int)(st->conf->y.cache_max_age_ms / 1000);
    pthread_rwlock_unlock(&st->docs_lock);
}

static int install(struct dw_status *st, struct st_conf *c, char **err)
{
    struct st_conf *old = st->conf;
    st->conf = c;
    if (upsert_config_maints(st, dw_now_ms()) != 0) {
        st->conf = old;
        dw_set_err(err, "cannot store the configured maintenances");
        return -1;
    }
    st_conf_free(&old);
    comps_align(st);
    for (size_t i = 0; i < st->ncomps; i++)
        st->comps[i].since = 0; /* re-read the open interval on the next turn */
    dw_store_exec(st->store, "SELECT component, state, set_by, set_at FROM status_overrides", NULL,
                  0, load_override_cb, st, NULL);
    copy_serving_knobs(st);
    st_subs_apply(st);
    st->dirty = true;
    return 0;
}

int dw_status_apply(struct dw_status *st, const struct dw_config *cfg, char **err)
{
    struct dw_diags d;
    dw_diags_init(&d);
    struct st_conf *c = st_conf_decode(cfg, &d);
    if (!c) {
        if (err)
            *err = dw_diags_text(&d, 0, "\n", "invalid status section");
        dw_diags_release(&d);
        return -1;
    }
    dw_diags_release(&d);
    pthread_mutex_lock(&st->mu);
    int rc = install(st, c, err);
    pthread_mutex_unlock(&st->mu);
    if (rc)
        st_conf_free(&c);
    return rc;
}

static const char *const probe_queries[] = {"probe_success", "probe_failure_info"};

struct dw_status *dw_status_open(const struct dw_status_options *o, char **err)
{
    if (dw_store_migrate(o->store, "status", migrations, DW_ARRAY_LEN(migrations), err) != 0)
        return NULL;
    struct dw_status *st = dw_calloc(1, sizeof *st);
    pthread_mutex_init(&st->mu, NULL);
    pthread_rwlock_init(&st->docs_lock, NULL);
    st->store = o->store;
    st->alerter = o->alerter;
    st->incidents = o->incidents;
    st->notifier = o->notifier;
    if (st_subs_open(st, err) != 0) {
        dw_status_close(&st);
        return NULL;
    }
    if (o->probes) {
        st->probes = *o->probes;
        st->have_probes = true;
    }
    st->opened_at = dw_now_ms();
    if (dw_status_apply(st, o->config, err) != 0) {
        dw_status_close(&st);
        return NULL;
    }
    return st;
}

static void blob_unref(struct st_blob *b)
{
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        free(b);
}

/* Drops the set's reference to each blob and frees the array. */
static void docs_free(struct st_blob **docs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        blob_unref(docs[i]);
    free(docs);
}

/* The blob named name in a set sorted by name, or NULL. */
static struct st_blob *blob_find(struct st_blob *const *docs, size_t n, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, docs[mid]->name);
        if (c == 0)
            return docs[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

void dw_status_close(struct dw_status **stp)
{
    struct dw_status *st = *stp;
    if (!st)
        return;
    dw_status_stop(st);
    st_conf_free(&st->conf);
    for (size_t k = 0; k < st->ncomps; k++) {
        free(st->comps[k].id);
        free(st->comps[k].override_by);
        free(st->comps[k].reasons);
    }
    free(st->comps);
    docs_free(st->docs, st->ndocs);
    st_subs_close(st);
    strv_free(&st->cors, &st->ncors);
    strv_free(&st->proxies, &st->nproxies);
    pthread_rwlock_destroy(&st->docs_lock);
    pthread_mutex_destroy(&st->mu);
    free(st);
    *stp = NULL;
}

/* Every WAKE_MS: a whole tick when TURN_MS passed or an incident changed (so a new incident
   reaches the page within about WAKE_MS, not a whole turn later). */
static void turn(void *ctx, int64_t now)
{
    struct dw_status *st = ctx;
    uint64_t changes = st->incidents ? dw_incidents_changes(st->incidents) : 0;
    if (changes == st->seen_changes && now >= st->last_turn && now - st->last_turn < TURN_MS)
        return;
    st->seen_changes = changes;
    st->last_turn = now;
    dw_status_tick(st, now);
}

int dw_status_start(struct dw_status *st)
{
    st->thread = (struct dw_alert_consumer){
        .alerter = NULL, .consumer = "status", .turn = turn, .ctx = st, .every_ms = WAKE_MS};
    return dw_alert_consumer_start(&st->thread, "dw-status");
}

void dw_status_stop(struct dw_status *st)
{
    if (st)
        dw_alert_consumer_stop(&st->thread);
}

void dw_status_set_update_hook(struct dw_status *st, dw_status_update_fn fn, void *ctx)
{
    pthread_mutex_lock(&st->mu);
    st->hook = fn;
    st->hook_ctx = ctx;
    pthread_mutex_unlock(&st->mu);
}

/* ---- what decides a component's state ---- */

struct probe_seen {
    const char *name;
    bool seen, failing, hard; /* hard: a failure for another reason than the latency budget */
};

struct signals {
    struct probe_seen *probes;
    size_t nprobes;
    json_t *alerts;           /* GettableAlerts, firing */
    json_t *maint_components; /* ids under maintenance now */
    json_t *incident_states;  /* {"id": worst state} from unresolved page incidents */
};

static struct probe_seen *probe_find(struct signals *s, const char *name)
{
    for (size_t i = 0; name && i < s->nprobes; i++)
        if (strcmp(s->probes[i].name, name) == 0)
            return &s->probes[i];
    return NULL;
}

static const char *series_label(const struct dw_promql_series *se, const char *name)
{
    for (size_t i = 0; i < se->nlabels; i++)
        if (strcmp(se->labels[i].name, name) == 0)
            return se->labels[i].value;
    return NULL;
}

static void read_probes(struct dw_status *st, struct signals *s, int64_t now)
{
    for (size_t q = 0; q < DW_ARRAY_LEN(probe_queries); q++) {
        struct dw_promql_expr *e = NULL;
        struct dw_promql_result *r = NULL;
        if (dw_promql_parse(probe_queries[q], strlen(probe_queries[q]), NULL, &e, NULL) != 0)
            continue;
        if (dw_promql_eval_instant(&st->probes, e, now, NULL, &r, NULL) == 0) {
            for (size_t i = 0; i < r->nseries; i++) {
                const struct dw_promql_series *se = &r->series[i];
                struct probe_seen *p = probe_find(s, series_label(se, "probe"));
                if (!p || !se->npoints)
                    continue;
                double v = se->points[0].v;
                if (q == 0) {
                    p->seen = true;
                    p->failing |= v == 0;
                } else if (v != 0) {
                    const char *reason = series_label(se, "reason");
                    p->hard |= !reason || strcmp(reason, "latency_budget") != 0;
                }
            }
        }
        dw_promql_result_free(&r);
        dw_promql_free(&e);
    }
}

static void gather_probes(struct dw_status *st, struct signals *s, int64_t now)
{
    const struct st_yaml *y = &st->conf->y;
    size_t n = 0;
    for (size_t i = 0; i < y->ncomponents; i++)
        n += y->components[i].nprobes;
    s->probes = dw_calloc(n ? n : 1, sizeof *s->probes);
    for (size_t i = 0; i < y->ncomponents; i++)
        for (size_t k = 0; k < y->components[i].nprobes; k++)
            if (!probe_find(s, y->components[i].probes[k]))
                s->probes[s->nprobes++].name = y->components[i].probes[k];
    if (st->have_probes && s->nprobes)
        read_probes(st, s, now);
}

static void gather_alerts(struct dw_status *st, struct signals *s)
{
    s->alerts = NULL;
    if (!st->alerter)
        return;
    struct dw_alert_filter f;
    dw_alert_filter_init(&f);
    if (dw_alerter_alerts_json(st->alerter, &f, &s->alerts, NULL) != 0)
        s->alerts = NULL;
}

static bool alert_matches(const struct st_component_conf *c, json_t *labels)
{
    if (!c->nalerts)
        return false;
    for (size_t i = 0; i < c->nalerts; i++) {
        const char *v = json_string_value(json_object_get(labels, c->alerts[i].key));
        if (!v || strcmp(v, c->alerts[i].value ? c->alerts[i].value : "") != 0)
            return false;
    }
    return true;
}

static int priority_state(const char *p)
{
    if (p && strcmp(p, "P0") == 0)
        return DW_STATUS_MAJOR_OUTAGE;
    if (p && strcmp(p, "P1") == 0)
        return DW_STATUS_PARTIAL_OUTAGE;
    if (p && strcmp(p, "P2") == 0)
        return DW_STATUS_DEGRADED_PERFORMANCE;
    return DW_STATUS_OPERATIONAL;
}

static void reason(struct dw_buf *b, const char *fmt, ...) DW_PRINTF(2, 3);
static void reason(struct dw_buf *b, const char *fmt, ...)
{
    if (b->len)
        dw_buf_puts(b, "; ");
    va_list ap;
    va_start(ap, fmt);
    dw_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

static bool json_has_string(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (json_is_string(v) &&
                                      strcmp(json_string_value(v), s) == 0) return true;
    return false;
}

/* The state of component i from the signals; reasons into b. */
static int compute(struct dw_status *st, size_t i, struct signals *s, struct dw_buf *b)
{
    const struct st_component_conf *c = &st->conf->y.components[i];
    if (json_has_string(s->maint_components, c->id)) {
        reason(b, "scheduled maintenance in progress");
        return DW_STATUS_UNDER_MAINTENANCE;
    }
    int state = DW_STATUS_OPERATIONAL;
    for (size_t k = 0; k < c->nprobes; k++) {
        struct probe_seen *p = probe_find(s, c->probes[k]);
        if (!p || !p->failing)
            continue;
        int ps = p->hard ? DW_STATUS_MAJOR_OUTAGE : DW_STATUS_DEGRADED_PERFORMANCE;
        reason(b, "probe %s %s", p->name, p->hard ? "failing" : "over its latency budget");
        state = worst(state, ps);
    }
    size_t ai;
    json_t *a;
    json_array_foreach(s->alerts, ai, a)
    {
        json_t *labels = json_object_get(a, "labels");
        if (!alert_matches(c, labels))
            continue;
        const char *prio = json_string_value(json_object_get(labels, "priority"));
        int as = priority_state(prio);
        if (as == DW_STATUS_OPERATIONAL)
            continue;
        const char *name = json_string_value(json_object_get(labels, "alertname"));
        reason(b, "alert %s (%s)", name ? name : "?", prio);
        state = worst(state, as);
    }
    const char *is = json_string_value(json_object_get(s->incident_states, c->id));
    int ist = dw_status_state_parse(is);
    if (ist > DW_STATUS_OPERATIONAL) {
        reason(b, "incident update: %s", is);
        state = worst(state, ist);
    }
    return state;
}

/* ---- intervals ---- */

struct open_row {
    bool found;
    int64_t id, start, end;
    int state;
};

static int open_row_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    struct open_row *r = ctx;
    *r = (struct open_row){true, c[0].i, c[2].i, c[3].i, dw_status_state_parse(c[1].s)};
    return 1;
}

static int interval_open(struct dw_status *st, const char *comp, int state, int64_t now)
{
    struct dw_value p[] = {DW_VTEXT(comp), DW_VTEXT(state_names[state]), DW_VINT(now)};
    return exec(st,
                "INSERT INTO status_intervals (component, state, start_ms, end_ms, open)"
                " VALUES ($1, $2, $3, $3, 1)",
                p, 3);
}

/* Starts, continues or changes component i's interval; true when the state changed. */
static bool record_state(struct dw_status *st, size_t i, int state, int64_t now)
{
    struct st_comp *c = &st->comps[i];
    if (c->since == 0) {
        struct open_row r = {0};
        struct dw_value p[] = {DW_VTEXT(c->id)};
        dw_store_exec(st->store,
                      "SELECT id, state, start_ms, end_ms FROM status_intervals"
                      " WHERE component = $1 AND open = 1 ORDER BY id DESC LIMIT 1",
                      p, 1, open_row_cb, &r, NULL);
        if (r.found && r.state == state && now - r.end <= RESUME_GAP_MS) {
            c->since = r.start;
            c->state = state;
            return false;
        }
        struct dw_value q[] = {DW_VTEXT(c->id)};
        exec(st, "UPDATE status_intervals SET open = 0 WHERE component = $1 AND open = 1", q, 1);
        interval_open(st, c->id, state, now);
        c->since = now;
        c->updated_at = now;
        bool changed = !r.found || r.state != state;
        c->state = state;
        return changed;
    }
    if (c->state == state)
        return false;
    struct dw_value p[] = {DW_VTEXT(c->id), DW_VINT(now)};
    exec(st, "UPDATE status_intervals SET end_ms = $2, open = 0 WHERE component = $1 AND open = 1",
         p, 2);
    interval_open(st, c->id, state, now);
    c->state = state;
    c->since = now;
    c->updated_at = now;
    return true;
}

struct states_arg {
    struct dw_status *st;
    int *states;
    int64_t now;
    bool changed;
};

static int states_tx(struct dw_store *s, void *ctx)
{
    struct states_arg *a = ctx;
    for (size_t i = 0; i < a->st->ncomps; i++)
        a->changed |= record_state(a->st, i, a->states[i], a->now);
    if (a->now - a->st->last_seen_flush >= SEEN_FLUSH_MS) {
        struct dw_value p[] = {DW_VINT(a->now)};
        exec(a->st, "UPDATE status_intervals SET end_ms = $1 WHERE open = 1", p, 1);
        a->st->last_seen_flush = a->now;
    }
    return 0;
}

/* ---- maintenance ---- */

void st_maint_release(struct st_maint *m)
{
    free(m->id);
    free(m->title);
    free(m->body);
    free(m->source);
    free(m->manual);
    free(m->state);
    json_decref(m->components);
    json_decref(m->silences);
    *m = (struct st_maint){0};
}

struct maints {
    struct st_maint *v;
    size_t n, cap;
};

#define MAINT_COLS                                                                                 \
    "id, title, body, components, starts_at, ends_at, manual, state, silences, source,"            \
    " created_at, updated_at, started_at, completed_at"

static int maint_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    struct maints *ms = ctx;
    ms->v = dw_grow(ms->v, &ms->cap, ms->n + 1, sizeof *ms->v);
    ms->v[ms->n++] = (struct st_maint){
        .id = col(&c[0]),
        .title = col(&c[1]),
        .body = col(&c[2]),
        .components = col_json(&c[3], false),
        .starts_at = c[4].i,
        .ends_at = c[5].i,
        .manual = col(&c[6]),
        .state = col(&c[7]),
        .silences = col_json(&c[8], false),
        .source = col(&c[9]),
        .created_at = c[10].i,
        .updated_at = c[11].i,
        .started_at = col_int(&c[12]),
        .completed_at = col_int(&c[13]),
    };
    return 0;
}

static void maints_release(struct maints *ms)
{
    for (size_t i = 0; i < ms->n; i++)
        st_maint_release(&ms->v[i]);
    free(ms->v);
    *ms = (struct maints){0};
}

static const char *maint_state_at(const struct st_maint *m, int64_t now)
{
    if (m->manual)
        return m->manual;
    if (now < m->starts_at)
        return "scheduled";
    if (now < m->ends_at)
        return "in_progress";
    return "completed";
}

static bool maint_active(const char *state)
{
    return strcmp(state, "in_progress") == 0 || strcmp(state, "verifying") == 0;
}

/* One silence per covered component with alert matchers, until the window ends. */
static json_t *silences_create(struct dw_status *st, const struct st_maint *m, int64_t now)
{
    json_t *ids = json_array();
    if (!st->alerter || m->ends_at <= now)
        return ids;
    size_t i;
    json_t *v;
    json_array_foreach(m->components, i, v)
    {
        int ci = st_conf_component(st->conf, json_string_value(v));
        if (ci < 0)
            continue;
        const struct st_component_conf *c = &st->conf->y.components[ci];
        if (!c->nalerts)
            continue;
        struct dw_silence_matcher *mt = dw_calloc(c->nalerts, sizeof *mt);
        for (size_t k = 0; k < c->nalerts; k++)
            mt[k] = (struct dw_silence_matcher){
                c->alerts[k].key, c->alerts[k].value ? c->alerts[k].value : "", false, true};
        char *comment = dw_asprintf("status page maintenance %s: %s", m->id, m->title);
        struct dw_silence_in in = {.matchers = mt,
                                   .nmatchers = c->nalerts,
                                   .starts_at_ms = now,
                                   .ends_at_ms = m->ends_at,
                                   .created_by = "status",
                                   .comment = comment};
        char sid[DW_SILENCE_ID_LEN], *err = NULL;
        if (dw_alerter_silence_set(st->alerter, &in, now, sid, &err) == 0)
            json_array_append_new(ids, json_string(sid));
        else
            dw_log_kv(DW_LOG_WARN, "status", "cannot silence a maintenance's alerts", "maintenance",
                      m->id, "component", c->id, "error", err, NULL);
        free(err);
        free(comment);
        free(mt);
    }
    return ids;
}

static void silences_expire(struct dw_status *st, const json_t *ids, int64_t now)
{
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        char *err = NULL;
        if (st->alerter && json_is_string(v)) /* an already expired one answers EINVAL */
            dw_alerter_silence_expire(st->alerter, json_string_value(v), now, &err);
        free(err);
    }
}

/* Moves one maintenance to the state its time (or hand) gives it. True when it moved. */
static bool maint_move(struct dw_status *st, struct st_maint *m, int64_t now)
{
    const char *to = maint_state_at(m, now);
    if (strcmp(to, m->state) == 0)
        return false;
    bool was_active = maint_active(m->state), active = maint_active(to);
    json_t *sil = json_incref(m->silences);
    if (active && !was_active && json_array_size(m->silences) == 0) {
        json_decref(sil);
        sil = silences_create(st, m, now);
    } else if (!active && was_active) {
        silences_expire(st, m->silences, now);
        json_decref(sil);
        sil = json_array();
    }
    char *ss = dumps(sil);
    struct dw_value p[] = {DW_VTEXT(m->id), DW_VTEXT(to), DW_VTEXT(ss), DW_VINT(now)};
    exec(st,
         "UPDATE status_maintenances SET state = $2, silences = $3, updated_at = $4,"
         " started_at = CASE WHEN $2 IN ('in_progress', 'verifying') AND started_at IS NULL"
         " THEN $4 ELSE started_at END,"
         " completed_at = CASE WHEN $2 = 'completed' THEN $4 ELSE completed_at END"
         " WHERE id = $1",
         p, 4);
    free(ss);
    json_decref(m->silences);
    m->silences = sil;
    free(m->state);
    m->state = dw_strdup(to);
    if (strcmp(to, "in_progress") == 0 || strcmp(to, "completed") == 0)
        st_notice_maint(st, m, to, now);
    return true;
}

/* Moves every unfinished maintenance; the ids of components under maintenance into *under. */
static bool maints_turn(struct dw_status *st, int64_t now, json_t *under)
{
    struct maints ms = {0};
    dw_store_exec(st->store,
                  "SELECT " MAINT_COLS " FROM status_maintenances WHERE state != 'completed'"
                  " ORDER BY starts_at",
                  NULL, 0, maint_cb, &ms, NULL);
    bool changed = false;
    for (size_t i = 0; i < ms.n; i++) {
        changed |= maint_move(st, &ms.v[i], now);
        if (maint_active(ms.v[i].state)) {
            size_t k;
            json_t *v;
            json_array_foreach(ms.v[i].components, k, v) json_array_append(under, v);
        }
    }
    maints_release(&ms);
    return changed;
}

/* ---- public incident updates ---- */

const char *st_page_status(const char *s)
{
    if (!s)
        return "investigating";
    if (strcmp(s, "identified") == 0 || strcmp(s, "monitoring") == 0)
        return strcmp(s, "identified") == 0 ? "identified" : "monitoring";
    if (strcmp(s, "resolved") == 0)
        return "resolved";
    if (strcmp(s, "postmortem") == 0 || strcmp(s, "closed") == 0)
        return "postmortem";
    return "investigating"; /* triggered, acknowledged, investigating */
}

const char *st_impact(int severity)
{
    switch (severity) {
    case 1: return "critical";
    case 2: return "major";
    case 3: return "minor";
    default: return "none";
    }
}

static bool valid_update_status(const char *s)
{
    for (size_t i = 0; s && i < DW_ARRAY_LEN(update_statuses); i++)
        if (strcmp(s, update_statuses[i]) == 0)
            return true;
    return false;
}

/* affectedSystems that are component ids, plus the ids in comps. */
static json_t *affected_of(struct dw_status *st, const json_t *inc, const json_t *comps)
{
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(inc, "affectedSystems"), i, v)
    {
        const char *id = json_string_value(v);
        if (st_conf_component(st->conf, id) >= 0 && !json_has_string(out, id))
            json_array_append_new(out, json_string(id));
    }
    const char *k;
    json_object_foreach((json_t *)comps, k, v) if (!json_has_string(out, k))
        json_array_append_new(out, json_string(k));
    return out;
}

struct pub_row {
    bool found;
    char *status;
    json_t *components;
};

static int pub_row_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    struct pub_row *r = ctx;
    r->found = true;
    r->status = col(&c[0]);
    r->components = col_json(&c[1], true);
    return 1;
}

struct publish {
    struct dw_status *st;
    const char *id, *status, *body, *by;
    const json_t *inc;
    json_t *comps; /* this update's {id: state} */
    bool automatic;
    int64_t now;
    int64_t update_id;
};

static int64_t inc_created(const json_t *inc, int64_t fallback)
{
    int64_t ms;
    const char *s = json_string_value(json_object_get(inc, "createdAt"));
    return s && dw_parse_rfc3339(s, &ms) == 0 ? ms : fallback;
}

static int publish_tx(struct dw_store *s, void *ctx)
{
    struct publish *a = ctx;
    struct dw_status *st = a->st;
    struct pub_row r = {0};
    struct dw_value k[] = {DW_VTEXT(a->id)};
    if (dw_store_exec(st->store,
                      "SELECT status, components FROM status_incidents WHERE incident_id = $1", k,
                      1, pub_row_cb, &r, NULL) != 0)
        return -1;
    json_t *merged = r.components ? r.components : json_object();
    json_object_update(merged, a->comps);
    json_t *affected = affected_of(st, a->inc, merged);
    char *ms = dumps(merged), *as = dumps(affected), *cs = dumps(a->comps);
    const char *title = json_string_value(json_object_get(a->inc, "title"));
    int sev = (int)json_integer_value(json_object_get(a->inc, "severity"));
    struct dw_value p[] = {DW_VTEXT(a->id),
                           DW_VTEXT(title ? title : a->id),
                           DW_VTEXT(st_impact(sev)),
                           DW_VTEXT(a->status),
                           DW_VINT(inc_created(a->inc, a->now)),
                           DW_VINT(a->now),
                           DW_VTEXT(ms),
                           DW_VTEXT(as)};
    int rc = exec(st,
                  "INSERT INTO status_incidents (incident_id, name, impact, status, started_at,"
                  " created_at, updated_at, monitoring_at, resolved_at, components, affected)"
                  " VALUES ($1, $2, $3, $4, $5, $6, $6,"
                  " CASE WHEN $4 = 'monitoring' THEN $6 END,"
                  " CASE WHEN $4 IN ('resolved', 'postmortem') THEN $6 END, $7, $8)"
                  " ON CONFLICT (incident_id) DO UPDATE SET name = $2, impact = $3, status = $4,"
                  " updated_at = $6,"
                  " monitoring_at = CASE WHEN $4 = 'monitoring' AND monitoring_at IS NULL THEN $6"
                  " ELSE monitoring_at END,"
                  " resolved_at = CASE WHEN $4 IN ('resolved', 'postmortem') THEN"
                  " COALESCE(resolved_at, $6) ELSE NULL END,"
                  " components = $7, affected = $8",
                  p, DW_ARRAY_LEN(p));
    if (rc == 0) {
        struct dw_value u[] = {DW_VTEXT(a->id),
                               DW_VTEXT(a->status),
                               DW_VTEXT(a->body),
                               DW_VTEXT(cs),
                               DW_VTEXT(a->by ? a->by : "system"),
                               DW_VINT(a->automatic),
                               DW_VINT(a->now)};
        rc = exec(st,
                  "INSERT INTO status_updates (incident_id, status, body, components, author,"
                  " automatic, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                  u, DW_ARRAY_LEN(u));
    }
    if (rc == 0) {
        int64_t uid = 0;
        dw_store_int(st->store, "SELECT max(id) FROM status_updates WHERE incident_id = $1", k, 1,
                     &uid, NULL);
        a->update_id = uid;
        rc = st_notice_incident(st, a->inc, a->status, a->body, affected, uid, a->now);
    }
    free(ms);
    free(as);
    free(cs);
    json_decref(merged);
    json_decref(affected);
    free(r.status);
    return rc;
}

/* The incident's timeline entry: "<status>: <body>", cut to what the timeline takes. */
static void record_on_incident(struct dw_status *st, const struct publish *a)
{
    if (!st->incidents)
        return;
    struct dw_buf b;
    dw_buf_init(&b, DW_INCIDENT_TEXT_MAX);
    dw_buf_printf(&b, "%s: ", a->status);
    size_t room = DW_INCIDENT_TEXT_MAX - b.len;
    size_t n = strlen(a->body);
    dw_buf_append(&b, a->body, n < room ? n : room);
    char *err = NULL;
    if (dw_incident_record(st->incidents, a->id, "status_page", b.data, a->by, a->now, &err) != 0)
        dw_log_kv(DW_LOG_WARN, "status", "cannot record the update on the incident", "incident",
                  a->id, "error", err, NULL);
    free(err);
    dw_buf_release(&b);
}

static int check_components(struct dw_status *st, const struct dw_status_component_state *cs,
                            size_t n, json_t *out, char **err)
{
    for (size_t i = 0; i < n; i++) {
        if (st_conf_component(st->conf, cs[i].id) < 0) {
            dw_set_err(err, "unknown component \"%s\"", cs[i].id ? cs[i].id : "");
            return DW_STATUS_EINVAL;
        }
        if (dw_status_state_parse(cs[i].state) < 0) {
            dw_set_err(err,
                       "component %s: unknown state \"%s\"; one of operational, "
                       "degraded_performance, partial_outage, major_outage, under_maintenance",
                       cs[i].id, cs[i].state ? cs[i].state : "");
            return DW_STATUS_EINVAL;
        }
        json_object_set_new(out, cs[i].id, json_string(cs[i].state));
    }
    return 0;
}

/* Publishes with mu held; *update (may be NULL) gets the hook's view of the update. */
static int publish_locked(struct publish *a, json_t **update, char **err)
{
    struct dw_status *st = a->st;
    if (!valid_update_status(a->status)) {
        dw_set_err(err,
                   "unknown status \"%s\"; one of investigating, identified, monitoring, resolved, "
                   "postmortem",
                   a->status ? a->status : "");
        return DW_STATUS_EINVAL;
    }
    size_t n = a->body ? strlen(a->body) : 0;
    if (n == 0 || n > DW_STATUS_BODY_MAX) {
        dw_set_err(err, "the body must have 1 to %d bytes (it has %zu)", DW_STATUS_BODY_MAX, n);
        return DW_STATUS_EINVAL;
    }
    int rc = dw_store_tx_durable(st->store, publish_tx, a, err);
    if (rc != 0)
        return rc < 0 ? -1 : rc;
    record_on_incident(st, a);
    st->dirty = true;
    if (update)
        *update = json_pack("{s:s, s:s, s:s, s:O, s:b, s:I}", "incident_id", a->id, "status",
                            a->status, "body", a->body, "components", a->comps, "automatic",
                            a->automatic, "created_at", (json_int_t)a->now);
    return 0;
}

static void run_hook(dw_status_update_fn fn, void *ctx, const char *id, json_t *update)
{
    if (fn && update)
        fn(ctx, id, update);
    json_decref(update);
}

int dw_status_incident_update(struct dw_status *st, const char *incident_id, const char *status,
                              const char *body, const struct dw_status_component_state *components,
                              size_t ncomponents, const char *by, int64_t now, char **err)
{
    if (!st->incidents) {
        dw_set_err(err, "incidents are not running in this process");
        return DW_STATUS_ENOTFOUND;
    }
    json_t *inc = dw_incident_json(st->incidents, incident_id ? incident_id : "");
    if (!inc) {
        dw_set_err(err, "no incident %s", incident_id ? incident_id : "");
        return DW_STATUS_ENOTFOUND;
    }
    json_t *comps = json_object(), *update = NULL;
    pthread_mutex_lock(&st->mu);
    int rc = check_components(st, components, ncomponents, comps, err);
    struct publish a = {.st = st,
                        .id = incident_id,
                        .status = status,
                        .body = body,
                        .by = by,
                        .inc = inc,
                        .comps = comps,
                        .now = now};
    if (rc == 0)
        rc = publish_locked(&a, &update, err);
    dw_status_update_fn fn = st->hook;
    void *hctx = st->hook_ctx;
    pthread_mutex_unlock(&st->mu);
    if (rc == 0) /* states, page and notices follow before this returns */
        dw_status_tick(st, now);
    run_hook(fn, hctx, incident_id, update);
    json_decref(comps);
    json_decref(inc);
    return rc;
}

/* The user-facing notice (text) of an incident, without its Subject line. */
static char *notice_body(struct dw_status *st, json_t *inc)
{
    json_object_set_new(inc, "statusPageUrl", json_string(st->conf->url));
    struct dw_buf b;
    dw_buf_init(&b, DW_STATUS_BODY_MAX);
    if (dw_incident_render_notice(inc, NULL, DW_INCIDENT_TEXT, &b, NULL) != 0 || !b.len) {
        dw_buf_release(&b);
        const char *t = json_string_value(json_object_get(inc, "title"));
        return dw_asprintf("We are investigating an issue: %s", t ? t : "service disruption");
    }
    const char *p = b.data;
    if (dw_str_has_prefix(p, "Subject:")) {
        const char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : p + strlen(p);
    }
    while (*p == '\n')
        p++;
    char *out = dw_strdup(p);
    size_t n = strlen(out);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = '\0';
    dw_buf_release(&b);
    return out;
}

struct idlist {
    char **v;
    char **status;
    size_t n, cap;
};

static int idlist_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    struct idlist *l = ctx;
    size_t cap = l->cap;
    l->v = dw_grow(l->v, &cap, l->n + 1, sizeof *l->v);
    l->status = dw_grow(l->status, &l->cap, l->n + 1, sizeof *l->status);
    l->v[l->n] = col(&c[0]);
    l->status[l->n++] = nc > 1 ? col(&c[1]) : NULL;
    return 0;
}

static void idlist_release(struct idlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i]);
        free(l->status[i]);
    }
    free(l->v);
    free(l->status);
    *l = (struct idlist){0};
}

static bool on_page(struct dw_status *st, const char *id)
{
    struct idlist l = {0};
    struct dw_value p[] = {DW_VTEXT(id)};
    dw_store_exec(st->store, "SELECT incident_id FROM status_incidents WHERE incident_id = $1", p,
                  1, idlist_cb, &l, NULL);
    bool found = l.n > 0;
    idlist_release(&l);
    return found;
}

/* Hook calls collected during a turn, run after mu is released. */
struct pending {
    char **ids;
    json_t **updates;
    size_t n, cap;
};

static void pending_add(struct pending *pd, const char *id, json_t *u)
{
    size_t cap = pd->cap;
    pd->ids = dw_grow(pd->ids, &cap, pd->n + 1, sizeof *pd->ids);
    pd->updates = dw_grow(pd->updates, &pd->cap, pd->n + 1, sizeof *pd->updates);
    pd->ids[pd->n] = dw_strdup(id);
    pd->updates[pd->n++] = u;
}

static void auto_publish(struct dw_status *st, const char *id, const char *status, const char *body,
                         json_t *inc, int64_t now, struct pending *pd)
{
    json_t *comps = json_object(), *update = NULL;
    struct publish a = {.st = st,
                        .id = id,
                        .status = status,
                        .body = body,
                        .by = "status-page",
                        .inc = inc,
                        .comps = comps,
                        .automatic = true,
                        .now = now};
    char *err = NULL;
    if (publish_locked(&a, &update, &err) == 0) {
        dw_log_kv(DW_LOG_INFO, "status", "published an automatic update", "incident", id, "status",
                  status, NULL);
        pending_add(pd, id, update);
    } else {
        dw_log_kv(DW_LOG_WARN, "status", "cannot publish an automatic update", "incident", id,
                  "error", err, NULL);
    }
    free(err);
    json_decref(comps);
}

/* First updates of new SEV1/SEV2 incidents. */
static void incidents_first(struct dw_status *st, int64_t now, struct pending *pd)
{
    int max_sev = (int)st->conf->y.auto_publish_severity;
    if (!st->incidents || max_sev <= 0)
        return;
    struct dw_incident_filter f = {.state = "open", .limit = 100};
    json_t *list = NULL;
    if (dw_incidents_list_json(st->incidents, &f, &list, NULL) != 0)
        return;
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o)
    {
        const char *id = json_string_value(json_object_get(o, "id"));
        int sev = (int)json_integer_value(json_object_get(o, "severity"));
        if (!id || sev < 1 || sev > max_sev || on_page(st, id))
            continue;
        json_t *inc = dw_incident_json(st->incidents, id);
        if (!inc)
            continue;
        char *body = notice_body(st, inc);
        auto_publish(st, id, st_page_status(json_string_value(json_object_get(inc, "state"))), body,
                     inc, now, pd);
        free(body);
        json_decref(inc);
    }
    json_decref(list);
}

static bool incident_over(const char *state)
{
    return state && (strcmp(state, "resolved") == 0 || strcmp(state, "postmortem") == 0 ||
                     strcmp(state, "closed") == 0);
}

/* Unresolved page incidents: resolved automatically, titles and affected kept current;
 * the component states their updates set go into *states. */
static bool incidents_follow(struct dw_status *st, int64_t now, json_t *states, struct pending *pd)
{
    if (!st->incidents)
        return false;
    struct idlist l = {0};
    dw_store_exec(st->store,
                  "SELECT incident_id, name FROM status_incidents"
                  " WHERE status NOT IN ('resolved', 'postmortem')",
                  NULL, 0, idlist_cb, &l, NULL);
    bool changed = false;
    for (size_t i = 0; i < l.n; i++) {
        json_t *inc = dw_incident_json(st->incidents, l.v[i]);
        if (!inc)
            continue;
        if (incident_over(json_string_value(json_object_get(inc, "state")))) {
            auto_publish(st, l.v[i], "resolved", "This incident has been resolved.", inc, now, pd);
            changed = true;
            json_decref(inc);
            continue;
        }
        const char *title = json_string_value(json_object_get(inc, "title"));
        struct pub_row r = {0};
        struct dw_value k[] = {DW_VTEXT(l.v[i])};
        dw_store_exec(st->store,
                      "SELECT status, components FROM status_incidents WHERE incident_id = $1", k,
                      1, pub_row_cb, &r, NULL);
        json_t *affected = affected_of(st, inc, r.components);
        char *as = dumps(affected);
        int sev = (int)json_integer_value(json_object_get(inc, "severity"));
        struct dw_value p[] = {DW_VTEXT(l.v[i]), DW_VTEXT(title ? title : l.v[i]), DW_VTEXT(as),
                               DW_VTEXT(st_impact(sev))};
        exec(st,
             "UPDATE status_incidents SET name = $2, affected = $3, impact = $4"
             " WHERE incident_id = $1 AND (name != $2 OR affected != $3 OR impact != $4)",
             p, 4);
        changed |= dw_store_changes(st->store) > 0;
        const char *cid;
        json_t *v;
        json_object_foreach(r.components, cid, v)
        {
            int have = dw_status_state_parse(json_string_value(json_object_get(states, cid)));
            int s = dw_status_state_parse(json_string_value(v));
            if (s > have)
                json_object_set_new(states, cid, json_string(state_names[s]));
        }
        free(as);
        json_decref(affected);
        json_decref(r.components);
        free(r.status);
        json_decref(inc);
    }
    idlist_release(&l);
    return changed;
}

/* ---- the turn ---- */

void dw_status_tick(struct dw_status *st, int64_t now)
{
    struct pending pd = {0};
    pthread_mutex_lock(&st->mu);
    struct signals s = {.maint_components = json_array(), .incident_states = json_object()};
    bool changed = maints_turn(st, now, s.maint_components);
    incidents_first(st, now, &pd);
    changed |= incidents_follow(st, now, s.incident_states, &pd);
    gather_probes(st, &s, now);
    gather_alerts(st, &s);
    int *states = dw_calloc(st->ncomps ? st->ncomps : 1, sizeof *states);
    for (size_t i = 0; i < st->ncomps; i++) {
        struct dw_buf b;
        dw_buf_init(&b, 4096);
        int computed = compute(st, i, &s, &b);
        struct st_comp *c = &st->comps[i];
        changed |=
            c->computed != computed || !c->reasons || strcmp(c->reasons, b.data ? b.data : "");
        c->computed = computed;
        free(c->reasons);
        c->reasons = dw_buf_steal(&b);
        states[i] = c->override >= 0 ? c->override : computed;
    }
    struct states_arg sa = {st, states, now, false};
    dw_store_tx(st->store, states_tx, &sa, NULL);
    changed |= sa.changed;
    if (changed)
        st->dirty = true;
    if (st->dirty || now / 60000 != st->built_minute)
        rebuild(st, now);
    free(states);
    free(s.probes);
    json_decref(s.alerts);
    json_decref(s.maint_components);
    json_decref(s.incident_states);
    dw_status_update_fn fn = st->hook;
    void *hctx = st->hook_ctx;
    pthread_mutex_unlock(&st->mu);
    for (size_t i = 0; i < pd.n; i++) {
        run_hook(fn, hctx, pd.ids[i], pd.updates[i]);
        free(pd.ids[i]);
    }
    free(pd.ids);
    free(pd.updates);
    dw_status_notices_turn(st, now);
}

/* ---- overrides ---- */

int dw_status_override(struct dw_status *st, const char *component, const char *state,
                       const char *by, int64_t now, char **err)
{
    int s = -1;
    if (state && (s = dw_status_state_parse(state)) < 0) {
        dw_set_err(
            err,
            "unknown state \"%s\"; one of operational, degraded_performance, partial_outage, "
            "major_outage, under_maintenance (or null to clear)",
            state);
        return DW_STATUS_EINVAL;
    }
    pthread_mutex_lock(&st->mu);
    int i = st_conf_component(st->conf, component), rc = 0;
    if (i < 0) {
        dw_set_err(err, "no component %s", component ? component : "");
        rc = DW_STATUS_ENOTFOUND;
    } else if (s >= 0) {
        struct dw_value p[] = {DW_VTEXT(component), DW_VTEXT(state_names[s]),
                               DW_VTEXT(by ? by : "system"), DW_VINT(now)};
        rc = dw_store_exec(st->store,
                           "INSERT INTO status_overrides (component, state, set_by, set_at)"
                           " VALUES ($1, $2, $3, $4) ON CONFLICT (component) DO UPDATE"
                           " SET state = $2, set_by = $3, set_at = $4",
                           p, 4, NULL, NULL, err);
    } else {
        struct dw_value p[] = {DW_VTEXT(component)};
        rc = dw_store_exec(st->store, "DELETE FROM status_overrides WHERE component = $1", p, 1,
                           NULL, NULL, err);
    }
    if (rc == 0 && i >= 0) {
        struct st_comp *c = &st->comps[i];
        c->override = s;
        free(c->override_by);
        c->override_by = s >= 0 ? dw_strdup(by ? by : "system") : NULL;
        c->override_at = s >= 0 ? now : 0;
        int eff = s >= 0 ? s : c->computed;
        record_state(st, (size_t)i, eff, now);
        st->dirty = true;
        rebuild(st, now);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* ---- maintenance from the API ---- */

static int parse_time_field(const json_t *in, const char *key, int64_t *out, char **err)
{
    json_t *v = json_object_get(in, key);
    if (!v)
        return 0;
    if (!json_is_string(v) || dw_parse_rfc3339(json_string_value(v), out) != 0) {
        dw_set_err(err, "%s must be an RFC 3339 time like 2026-03-02T10:00:00Z", key);
        return DW_STATUS_EINVAL;
    }
    return 0;
}

static int maint_fields(struct dw_status *st, const json_t *in, struct st_maint *m, char **err)
{
    const char *title = json_string_value(json_object_get(in, "name"));
    if (!title)
        title = json_string_value(json_object_get(in, "title"));
    if (title) {
        if (!*title || strlen(title) > DW_STATUS_TITLE_MAX) {
            dw_set_err(err, "the name must have 1 to %d bytes", DW_STATUS_TITLE_MAX);
            return DW_STATUS_EINVAL;
        }
        free(m->title);
        m->title = dw_strdup(title);
    }
    json_t *body = json_object_get(in, "body");
    if (body) {
        if (!json_is_string(body) || strlen(json_string_value(body)) > DW_STATUS_BODY_MAX) {
            dw_set_err(err, "body must be a string of at most %d bytes", DW_STATUS_BODY_MAX);
            return DW_STATUS_EINVAL;
        }
        free(m->body);
        m->body = dw_strdup(json_string_value(body));
    }
    json_t *comps = json_object_get(in, "components");
    if (comps) {
        size_t i;
        json_t *v;
        if (!json_is_array(comps)) {
            dw_set_err(err, "components must be a list of component ids");
            return DW_STATUS_EINVAL;
        }
        json_array_foreach(comps, i, v)
        {
            if (st_conf_component(st->conf, json_string_value(v)) < 0) {
                dw_set_err(err, "unknown component \"%s\"",
                           json_is_string(v) ? json_string_value(v) : "(not a string)");
                return DW_STATUS_EINVAL;
            }
        }
        json_decref(m->components);
        m->components = json_deep_copy(comps);
    }
    int rc = parse_time_field(in, "scheduled_for", &m->starts_at, err);
    if (rc == 0)
        rc = parse_time_field(in, "scheduled_until", &m->ends_at, err);
    if (rc)
        return rc;
    const char *status = json_string_value(json_object_get(in, "status"));
    if (status) {
        if (strcmp(status, "verifying") != 0 && strcmp(status, "completed") != 0) {
            dw_set_err(err, "status may only be set to verifying or completed by hand");
            return DW_STATUS_EINVAL;
        }
        free(m->manual);
        m->manual = dw_strdup(status);
    }
    if (!m->title || !m->starts_at || !m->ends_at) {
        dw_set_err(err, "a maintenance needs name, scheduled_for and scheduled_until");
        return DW_STATUS_EINVAL;
    }
    if (m->ends_at <= m->starts_at) {
        dw_set_err(err, "scheduled_until must be after scheduled_for");
        return DW_STATUS_EINVAL;
    }
    return 0;
}

static int maint_save(struct dw_status *st, const struct st_maint *m, int64_t now)
{
    char *cs = dumps(m->components), *ss = dumps(m->silences);
    struct dw_value p[] = {DW_VTEXT(m->id),
                           DW_VTEXT(m->title),
                           DW_VTEXT(m->body ? m->body : ""),
                           DW_VTEXT(cs),
                           DW_VINT(m->starts_at),
                           DW_VINT(m->ends_at),
                           m->manual ? DW_VTEXT(m->manual) : DW_VNULL,
                           DW_VTEXT(m->state),
                           DW_VTEXT(ss),
                           DW_VINT(now)};
    int rc = exec(st,
                  "INSERT INTO status_maintenances (id, title, body, components, starts_at,"
                  " ends_at, manual, state, silences, source, created_at, updated_at)"
                  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'api', $10, $10)"
                  " ON CONFLICT (id) DO UPDATE SET title = $2, body = $3, components = $4,"
                  " starts_at = $5, ends_at = $6, manual = $7, updated_at = $10",
                  p, DW_ARRAY_LEN(p));
    free(cs);
    free(ss);
    return rc;
}

static bool maint_load(struct dw_status *st, const char *id, struct st_maint *out)
{
    struct maints ms = {0};
    struct dw_value p[] = {DW_VTEXT(id)};
    dw_store_exec(st->store, "SELECT " MAINT_COLS " FROM status_maintenances WHERE id = $1", p, 1,
                  maint_cb, &ms, NULL);
    bool found = ms.n == 1;
    if (found) {
        *out = ms.v[0];
        ms.n = 0;
    }
    maints_release(&ms);
    return found;
}

int dw_status_maintenance_set(struct dw_status *st, const char *id, const json_t *in,
                              const char *by, int64_t now, char id_out[48], char **err)
{
    if (!json_is_object(in)) {
        dw_set_err(err, "expected a JSON object");
        return DW_STATUS_EINVAL;
    }
    pthread_mutex_lock(&st->mu);
    struct st_maint m = {0};
    int rc = 0;
    if (id && !maint_load(st, id, &m)) {
        dw_set_err(err, "no maintenance %s", id);
        rc = DW_STATUS_ENOTFOUND;
    }
    if (rc == 0 && !id) {
        char rnd[4];
        dw_random_bytes(rnd, sizeof rnd);
        char stamp[40];
        dw_format_rfc3339(now, stamp, sizeof stamp);
        m.id = dw_asprintf("MNT-%.4s%.2s%.2s-%02x%02x%02x%02x", stamp, stamp + 5, stamp + 8,
                           (unsigned char)rnd[0], (unsigned char)rnd[1], (unsigned char)rnd[2],
                           (unsigned char)rnd[3]);
        m.components = json_array();
        m.silences = json_array();
        m.state = dw_strdup("scheduled");
    }
    if (rc == 0)
        rc = maint_fields(st, in, &m, err);
    if (rc == 0)
        rc = maint_save(st, &m, now);
    if (rc == 0 && !id && strcmp(m.state, "scheduled") == 0 && m.starts_at > now)
        st_notice_maint(st, &m, "scheduled", now);
    if (rc == 0) {
        maint_move(st, &m, now); /* a window already open, or "completed" by hand, acts now */
        if (id_out)
            dw_strlcpy(id_out, m.id, 48);
        dw_log_kv(DW_LOG_INFO, "status", id ? "maintenance changed" : "maintenance scheduled", "id",
                  m.id, "by", by, NULL);
        st->dirty = true;
        rebuild(st, now);
    }
    st_maint_release(&m);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int dw_status_maintenance_delete(struct dw_status *st, const char *id, int64_t now, char **err)
{
    pthread_mutex_lock(&st->mu);
    struct st_maint m = {0};
    int rc = 0;
    if (!id || !maint_load(st, id, &m)) {
        dw_set_err(err, "no maintenance %s", id ? id : "");
        rc = DW_STATUS_ENOTFOUND;
    } else {
        silences_expire(st, m.silences, now);
        struct dw_value p[] = {DW_VTEXT(id)};
        rc = exec(st, "DELETE FROM status_maintenances WHERE id = $1", p, 1);
        st->dirty = true;
        rebuild(st, now);
    }
    st_maint_release(&m);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* ---- the rebuild ---- */

void st_incident_release(struct st_incident *inc)
{
    free(inc->id);
    free(inc->name);
    free(inc->impact);
    free(inc->status);
    json_decref(inc->components);
    json_decref(inc->affected);
    for (size_t i = 0; i < inc->nupdates; i++) {
        free(inc->updates[i].status);
        free(inc->updates[i].body);
        free(inc->updates[i].author);
        json_decref(inc->updates[i].components);
    }
    free(inc->updates);
    *inc = (struct st_incident){0};
}

struct incs {
    struct st_incident *v;
    size_t n, cap;
};

static int inc_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    struct incs *l = ctx;
    l->v = dw_grow(l->v, &l->cap, l->n + 1, sizeof *l->v);
    l->v[l->n++] = (struct st_incident){
        .id = col(&c[0]),
        .name = col(&c[1]),
        .impact = col(&c[2]),
        .status = col(&c[3]),
        .created_at = c[4].i,
        .updated_at = c[5].i,
        .monitoring_at = col_int(&c[6]),
        .resolved_at = col_int(&c[7]),
        .components = col_json(&c[8], true),
        .affected = col_json(&c[9], false),
    };
    return 0;
}

static int upd_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    struct incs *l = ctx;
    for (size_t i = 0; i < l->n; i++) {
        struct st_incident *inc = &l->v[i];
        if (strcmp(inc->id, c[1].s) != 0)
            continue;
        inc->updates = dw_realloc(inc->updates, (inc->nupdates + 1) * sizeof *inc->updates);
        inc->updates[inc->nupdates++] = (struct st_update){
            .id = c[0].i,
            .status = col(&c[2]),
            .body = col(&c[3]),
            .components = col_json(&c[4], true),
            .author = col(&c[5]),
            .automatic = c[6].i != 0,
            .created_at = c[7].i,
        };
        break;
    }
    return 0;
}

static void load_incidents(struct dw_status *st, int64_t since, struct incs *l)
{
    struct dw_value p[] = {DW_VINT(since), DW_VINT(HISTORY_INCIDENTS)};
    dw_store_exec(st->store,
                  "SELECT incident_id, name, impact, status, created_at, updated_at,"
                  " monitoring_at, resolved_at, components, affected FROM status_incidents"
                  " WHERE created_at >= $1 OR status NOT IN ('resolved', 'postmortem')"
                  " ORDER BY created_at DESC, incident_id DESC LIMIT $2",
                  p, 2, inc_cb, l, NULL);
    if (!l->n)
        return;
    int64_t oldest = l->v[l->n - 1].created_at;
    struct dw_value q[] = {DW_VINT(oldest)};
    dw_store_exec(st->store,
                  "SELECT u.id, u.incident_id, u.status, u.body, u.components, u.author,"
                  " u.automatic, u.created_at FROM status_updates u JOIN status_incidents i"
                  " ON u.incident_id = i.incident_id WHERE i.created_at >= $1"
                  " ORDER BY u.created_at DESC, u.id DESC",
                  q, 1, upd_cb, l, NULL);
}

struct ivs {
    const char *const *ids;
    size_t nids;
    struct st_interval **v;
    size_t *n, *cap;
    int64_t now;
};

static int iv_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    struct ivs *a = ctx;
    for (size_t i = 0; i < a->nids; i++) {
        if (strcmp(a->ids[i], c[0].s) != 0)
            continue;
        a->v[i] = dw_grow(a->v[i], &a->cap[i], a->n[i] + 1, sizeof **a->v);
        a->v[i][a->n[i]++] =
            (struct st_interval){dw_status_state_parse(c[1].s), c[2].i, c[4].i ? a->now : c[3].i};
        break;
    }
    return 0;
}

/* Intervals of the given components since `since` (open ones end now). */
static void load_intervals(struct dw_status *st, const char *const *ids, size_t nids, int64_t since,
                           int64_t now, struct st_interval **v, size_t *n)
{
    size_t *cap = dw_calloc(nids ? nids : 1, sizeof *cap);
    struct ivs a = {ids, nids, v, n, cap, now};
    struct dw_value p[] = {DW_VINT(since)};
    dw_store_exec(st->store,
                  "SELECT component, state, start_ms, end_ms, open FROM status_intervals"
                  " WHERE end_ms >= $1 OR open = 1 ORDER BY start_ms",
                  p, 1, iv_cb, &a, NULL);
    free(cap);
}

#define GZIP_MIN 1024 /* smaller documents are only sent as they are */

/*
 * Compresses the n bytes at in into out (room bytes, deflateBound's) as
 * gzip; the length, or 0 when it would not save an eighth. The wrapper has
 * no name and mtime 0, so the bytes depend on the input alone.
 */
static size_t gzip_into(z_stream *z, const char *in, size_t n, char *out, size_t room)
{
    z->next_in = (const Bytef *)in;
    z->avail_in = (uInt)n;
    z->next_out = (Bytef *)out;
    z->avail_out = (uInt)room;
    size_t len = deflate(z, Z_FINISH) == Z_STREAM_END ? (size_t)z->total_out : 0;
    deflateEnd(z);
    return len < n - n / 8 ? len : 0;
}

/* A rendered document as a blob with one reference: one allocation, the gzip variant inside. */
static struct st_blob *blob_new(const struct st_doc *d, int64_t last_modified, int max_age_s)
{
    size_t nlen = strlen(d->name) + 1, room = 0;
    z_stream z = {0};
    if (d->len >= GZIP_MIN && d->len < (1u << 30) &&
        deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) == Z_OK)
        room = deflateBound(&z, (uLong)d->len);
    struct st_blob *b = dw_malloc(sizeof *b + nlen + d->len + room);
    memcpy(b->data, d->name, nlen);
    memcpy(b->data + nlen, d->body, d->len);
    size_t zlen = room ? gzip_into(&z, b->data + nlen, d->len, b->data + nlen + d->len, room) : 0;
    if (zlen < room)
        b = dw_realloc(b, sizeof *b + nlen + d->len + zlen);
    atomic_init(&b->refs, 1);
    b->name = b->data;
    b->max_age_s = max_age_s;
    dw_strlcpy(b->etag, d->etag, sizeof b->etag);
    dw_status_http_date(last_modified, b->last_modified);
    /* Pages are checked again on every view (a 304 costs little), so a visitor never sees
       an incident late; JSON, feeds and badges may be kept max_age_s by widgets and CDNs. */
    if (dw_str_has_prefix(d->ctype, "text/html"))
        dw_strlcpy(b->cache_control, "public, no-cache", sizeof b->cache_control);
    else
        snprintf(b->cache_control, sizeof b->cache_control, "public, max-age=%d", max_age_s);
    b->doc = (struct dw_status_doc){.body = b->data + nlen,
                                    .len = d->len,
                                    .content_type = d->ctype,
                                    .etag = b->etag,
                                    .last_modified = b->last_modified,
                                    .last_modified_ms = last_modified,
                                    .cache_control = b->cache_control,
                                    .cors = d->cors};
    if (zlen) {
        char hex[65];
        b->doc.gzip = b->data + nlen + d->len;
        b->doc.gzip_len = zlen;
        dw_sha256_hex(b->doc.gzip, zlen, hex);
        snprintf(b->etag_gzip, sizeof b->etag_gzip, "\"%.32s\"", hex);
        b->doc.etag_gzip = b->etag_gzip;
    }
    return b;
}

static int blob_cmp(const void *a, const void *b)
{
    return strcmp((*(struct st_blob *const *)a)->name, (*(struct st_blob *const *)b)->name);
}

/*
 * Publishes a rebuild's documents (taking them over): one whose bytes did
 * not change keeps its blob, so its Last-Modified and gzip work carry
 * over. Runs with mu held: the rebuild is the only writer of st->docs, so
 * reading it here needs no docs_lock; the lock is held only for the swap.
 */
static void docs_swap(struct dw_status *st, struct st_doc *docs, size_t n, int64_t now)
{
    struct st_blob **set = dw_calloc(n ? n : 1, sizeof *set);
    for (size_t i = 0; i < n; i++) {
        const struct st_doc *d = &docs[i];
        struct st_blob *old = blob_find(st->docs, st->ndocs, d->name);
        bool same = old && old->doc.len == d->len && old->doc.cors == d->cors &&
                    strcmp(old->doc.content_type, d->ctype) == 0 &&
                    memcmp(old->doc.body, d->body, d->len) == 0;
        if (same && old->max_age_s == st->max_age_s) {
            atomic_fetch_add_explicit(&old->refs, 1, memory_order_relaxed);
            set[i] = old;
        } else {
            set[i] = blob_new(d, same ? old->doc.last_modified_ms : now, st->max_age_s);
        }
        free(d->name);
        free(d->body);
    }
    free(docs);
    qsort(set, n, sizeof *set, blob_cmp);
    pthread_rwlock_wrlock(&st->docs_lock);
    struct st_blob **prev = st->docs;
    size_t nprev = st->ndocs;
    st->docs = set;
    st->ndocs = n;
    st->generation++;
    pthread_rwlock_unlock(&st->docs_lock);
    docs_free(prev, nprev);
}

static void rebuild(struct dw_status *st, int64_t now)
{
    const struct st_conf *c = st->conf;
    size_t nc = st->ncomps;
    struct incs l = {0};
    load_incidents(st, now - DW_STATUS_DAYS * DAY_MS, &l);
    struct maints ms = {0};
    struct dw_value p[] = {DW_VINT(now - DW_STATUS_DAYS * DAY_MS), DW_VINT(PAGE_MAINT_MAX)};
    dw_store_exec(st->store,
                  "SELECT " MAINT_COLS " FROM status_maintenances"
                  " WHERE ends_at >= $1 OR state != 'completed' ORDER BY starts_at DESC LIMIT $2",
                  p, 2, maint_cb, &ms, NULL);
    const char **ids = dw_calloc(nc ? nc : 1, sizeof *ids);
    for (size_t i = 0; i < nc; i++)
        ids[i] = st->comps[i].id;
    struct st_interval **iv = dw_calloc(nc ? nc : 1, sizeof *iv);
    size_t *niv = dw_calloc(nc ? nc : 1, sizeof *niv);
    load_intervals(st, ids, nc, now - (DW_STATUS_DAYS + 1) * DAY_MS, now, iv, niv);
    struct st_day(*days)[DW_STATUS_DAYS] = dw_calloc(nc ? nc : 1, sizeof *days);
    double(*up)[3] = dw_calloc(nc ? nc : 1, sizeof *up);
    static const int windows[3] = {7, 30, 90};
    for (size_t i = 0; i < nc; i++) {
        st_days(iv[i], niv[i], c->tz, now, days[i]);
        for (int w = 0; w < 3; w++)
            up[i][w] = st_uptime(iv[i], niv[i], now - windows[w] * DAY_MS, now);
    }
    struct st_view v = {.conf = c,
                        .comps = st->comps,
                        .ncomps = nc,
                        .incidents = l.v,
                        .nincidents = l.n,
                        .maints = ms.v,
                        .nmaints = ms.n,
                        .days = days,
                        .uptime = up,
                        .now = now,
                        .page_id = dw_store_instance_id(st->store)};
    struct st_doc *docs = NULL;
    size_t ndocs = 0;
    st_render_all(&v, &docs, &ndocs);
    docs_swap(st, docs, ndocs, now);
    for (size_t i = 0; i < nc; i++)
        free(iv[i]);
    free(iv);
    free(niv);
    free(ids);
    free(days);
    free(up);
    for (size_t i = 0; i < l.n; i++)
        st_incident_release(&l.v[i]);
    free(l.v);
    maints_release(&ms);
    st->dirty = false;
    st->built_minute = now / 60000;
}

/* ---- views for operators ---- */

static json_t *comp_admin_json(struct dw_status *st, size_t i)
{
    const struct st_component_conf *cc = &st->conf->y.components[i];
    const struct st_comp *c = &st->comps[i];
    json_t *reasons = json_array();
    const char *p = c->reasons;
    while (p && *p) {
        const char *e = strstr(p, "; ");
        size_t n = e ? (size_t)(e - p) : strlen(p);
        json_array_append_new(reasons, json_stringn(p, n));
        p = e ? e + 2 : p + n;
    }
    json_t *ov = json_null();
    if (c->override >= 0)
        ov = json_pack("{s:s, s:s?, s:I}", "state", state_names[c->override], "by", c->override_by,
                       "at", (json_int_t)c->override_at);
    return json_pack("{s:s, s:s, s:s?, s:s, s:s, s:o, s:o}", "id", cc->id, "name", cc->name,
                     "group", cc->group, "state", state_names[c->since ? c->state : c->computed],
                     "computed", state_names[c->computed], "override", ov, "reasons", reasons);
}

json_t *dw_status_components_json(struct dw_status *st)
{
    json_t *out = json_array();
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < st->ncomps; i++)
        json_array_append_new(out, comp_admin_json(st, i));
    pthread_mutex_unlock(&st->mu);
    return out;
}

json_t *dw_status_component_json(struct dw_status *st, const char *component)
{
    pthread_mutex_lock(&st->mu);
    int i = st_conf_component(st->conf, component);
    json_t *out = i >= 0 ? comp_admin_json(st, (size_t)i) : NULL;
    pthread_mutex_unlock(&st->mu);
    return out;
}

json_t *dw_status_maintenances_json(struct dw_status *st)
{
    pthread_mutex_lock(&st->mu);
    struct maints ms = {0};
    dw_store_exec(st->store,
                  "SELECT " MAINT_COLS
                  " FROM status_maintenances ORDER BY starts_at DESC LIMIT 1000",
                  NULL, 0, maint_cb, &ms, NULL);
    struct st_view v = {.conf = st->conf,
                        .comps = st->comps,
                        .ncomps = st->ncomps,
                        .now = dw_now_ms(),
                        .page_id = dw_store_instance_id(st->store)};
    json_t *out = json_array();
    for (size_t i = 0; i < ms.n; i++) {
        json_t *o = st_maint_json(&v, &ms.v[i]);
        json_object_set(o, "silences", ms.v[i].silences);
        json_array_append_new(out, o);
    }
    maints_release(&ms);
    pthread_mutex_unlock(&st->mu);
    return out;
}

json_t *dw_status_uptime_json(struct dw_status *st, const char *component, int64_t now)
{
    pthread_mutex_lock(&st->mu);
    int ci = st_conf_component(st->conf, component);
    if (ci < 0) {
        pthread_mutex_unlock(&st->mu);
        return NULL;
    }
    const char *ids[1] = {component};
    struct st_interval *iv = NULL;
    size_t n = 0;
    load_intervals(st, ids, 1, now - (DW_STATUS_DAYS + 1) * DAY_MS, now, &iv, &n);
    struct st_day days[DW_STATUS_DAYS];
    st_days(iv, n, st->conf->tz, now, days);
    json_t *up = json_object();
    static const int windows[3] = {7, 30, 90};
    for (int w = 0; w < 3; w++) {
        char key[8];
        snprintf(key, sizeof key, "%dd", windows[w]);
        double u = st_uptime(iv, n, now - windows[w] * DAY_MS, now);
        json_object_set_new(up, key, u < 0 ? json_null() : json_real(u));
    }
    json_t *arr = json_array();
    for (int d = 0; d < DW_STATUS_DAYS; d++) {
        int64_t y;
        int m, dd;
        dw_civil_from_days(days[d].days, &y, &m, &dd);
        char date[16];
        snprintf(date, sizeof date, "%04lld-%02d-%02d", (long long)y, m, dd);
        json_t *o =
            json_pack("{s:s, s:I}", "date", date, "observed_ms", (json_int_t)days[d].observed);
        for (int s = 0; s < DW_STATUS_STATE_COUNT; s++)
            json_object_set_new(o, state_names[s],
                                days[d].observed
                                    ? json_real((double)days[d].ms[s] / (double)days[d].observed)
                                    : json_null());
        json_array_append_new(arr, o);
    }
    json_t *out = json_pack("{s:s, s:f, s:o, s:o}", "id", component, "target", st->conf->target,
                            "uptime", up, "days", arr);
    free(iv);
    pthread_mutex_unlock(&st->mu);
    return out;
}

/* ---- serving ---- */

int dw_status_doc_get(struct dw_status *st, const char *name, const struct dw_status_doc **out)
{
    pthread_rwlock_rdlock(&st->docs_lock);
    struct st_blob *b = name ? blob_find(st->docs, st->ndocs, name) : NULL;
    if (b)
        atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    pthread_rwlock_unlock(&st->docs_lock);
    *out = b ? &b->doc : NULL;
    return b ? 0 : DW_STATUS_ENOTFOUND;
}

void dw_status_doc_release(const struct dw_status_doc *doc)
{
    if (doc)
        blob_unref((struct st_blob *)(void *)((const char *)doc - offsetof(struct st_blob, doc)));
}

uint64_t dw_status_generation(struct dw_status *st)
{
    pthread_rwlock_rdlock(&st->docs_lock);
    uint64_t g = st->generation;
    pthread_rwlock_unlock(&st->docs_lock);
    return g;
}

int dw_status_max_age(struct dw_status *st)
{
    pthread_rwlock_rdlock(&st->docs_lock);
    int s = st->max_age_s;
    pthread_rwlock_unlock(&st->docs_lock);
    return s;
}

bool dw_status_cors_origin(struct dw_status *st, const char *origin, char *out, size_t size)
{
    bool ok = false;
    pthread_rwlock_rdlock(&st->docs_lock);
    for (size_t i = 0; i < st->ncors && !ok; i++) {
        if (strcmp(st->cors[i], "*") == 0) {
            dw_strlcpy(out, "*", size);
            ok = true;
        } else if (origin && strcmp(st->cors[i], origin) == 0) {
            dw_strlcpy(out, origin, size);
            ok = true;
        }
    }
    pthread_rwlock_unlock(&st->docs_lock);
    return ok;
}

/* Does the comma-separated list of entity tags contain etag (weak tags by their opaque part)? */
static bool etag_listed(const char *list, const char *etag)
{
    const char *p = list;
    size_t elen = strlen(etag);
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        const char *e = p;
        if (*e == '"') {
            const char *q = strchr(e + 1, '"');
            e = q ? q + 1 : e + strlen(e);
        } else {
            while (*e && *e != ',')
                e++;
        }
        if ((size_t)(e - p) == elen && memcmp(p, etag, elen) == 0)
            return true;
        p = e;
        while (*p && *p != ',')
            p++;
    }
    return false;
}

static int month_of(const char *m)
{
    static const char *const names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; i++)
        if (strncmp(m, names[i], 3) == 0)
            return i + 1;
    return 0;
}

/* IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") into ms; -1 when it is not one. */
static int parse_http_date(const char *s, int64_t *out)
{
    char wd[4], mon[4], tz[4];
    int d, y, hh, mm, ss;
    if (sscanf(s, "%3s, %d %3s %d %d:%d:%d %3s", wd, &d, mon, &y, &hh, &mm, &ss, tz) != 8)
        return -1;
    int m = month_of(mon);
    if (!m || strcmp(tz, "GMT") != 0 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60)
        return -1;
    *out = ((dw_days_from_civil(y, m, d) * 24 + hh) * 60 + mm) * 60000LL + ss * 1000LL;
    return 0;
}

bool dw_status_not_modified(const char *etag, int64_t last_modified_ms, const char *inm,
                            const char *ims)
{
    if (inm)
        return etag && etag_listed(inm, etag);
    int64_t t;
    if (ims && parse_http_date(ims, &t) == 0)
        return last_modified_ms / 1000 <= t / 1000;
    return false;
}

void dw_status_http_date(int64_t ms, char out[32])
{
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct dw_civil c;
    dw_civil_at(NULL, ms, &c);
    snprintf(out, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[c.weekday], c.day, mon[c.month - 1],
             c.year, c.hour, c.minute, c.second);
}
