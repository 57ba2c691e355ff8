/*
 * views.c - the alerter as JSON: Alertmanager API v2's alerts, alert
 * groups, status and receivers, and dojowatch's lifecycle view.
 *
 * DESIGN
 * Field names, shapes and orders are Alertmanager 0.25's, so its clients
 * (amtool-like tools, Grafana, Prometheus' own UI links) read them
 * unchanged: alerts sorted by fingerprint, each with status {state,
 * silencedBy, inhibitedBy} where state is "active" or "suppressed"
 * (dojowatch processes alerts synchronously, so never "unprocessed"),
 * receivers of the routes the alert goes to, times in RFC 3339 with
 * milliseconds. Only firing alerts are listed, like Alertmanager, which
 * drops alerts whose endsAt passed. Groups are sorted by labels then
 * receiver, alerts within a group by job, instance, labels.
 *
 * Threads: each view takes the alerter's mutex while it builds the JSON.
 */
#include <stdlib.h>
#include <string.h>

#include "alert/alert_internal.h"

#define MAX_IDS 64

void dw_alert_filter_init(struct dw_alert_filter *f)
{
    *f = (struct dw_alert_filter){
        .active = true, .silenced = true, .inhibited = true, .unprocessed = true};
}

struct cfilter {
    const struct dw_alert_filter *f;
    struct amatchers m;
    struct amatcher receiver;
    bool has_receiver;
};

static int cfilter_init(struct cfilter *cf, const struct dw_alert_filter *f, char **err)
{
    *cf = (struct cfilter){.f = f};
    for (size_t i = 0; i < f->nmatchers; i++) {
        struct amatcher m;
        if (amatcher_parse1(&m, f->matchers[i], err) < 0) {
            amatchers_release(&cf->m);
            return DW_ALERT_EINVAL;
        }
        amatchers_add(&cf->m, &m);
    }
    if (f->receiver) {
        char *why = NULL;
        if (amatcher_init(&cf->receiver, DW_MATCH_RE, "receiver", f->receiver, &why) < 0) {
            *err = dw_asprintf("failed to parse receiver param: %s", why);
            free(why);
            amatchers_release(&cf->m);
            return DW_ALERT_EINVAL;
        }
        cf->has_receiver = true;
    }
    return 0;
}

static void cfilter_release(struct cfilter *cf)
{
    amatchers_release(&cf->m);
    if (cf->has_receiver)
        amatcher_release(&cf->receiver);
}

static bool receiver_ok(const struct cfilter *cf, const char *const *rcv, size_t n)
{
    if (!cf->has_receiver)
        return true;
    for (size_t i = 0; i < n; i++)
        if (dw_tsdb_matcher_matches(cf->receiver.m, rcv[i]))
            return true;
    return false;
}

/* Status of a firing alert. */
struct astatus {
    const char *silenced[MAX_IDS];
    size_t nsilenced;
    const char *inhibitor;
};

static void status_of(const struct dw_alerter *a, const struct alert *al, int64_t now,
                      struct astatus *st)
{
    st->nsilenced = silences_muting(a, &al->labels, now, st->silenced, MAX_IDS);
    st->inhibitor = inhibited_by(a, al, now);
}

static bool status_ok(const struct dw_alert_filter *f, const struct astatus *st)
{
    bool suppressed = st->nsilenced || st->inhibitor;
    if (!f->active && !suppressed)
        return false;
    if (!f->silenced && st->nsilenced)
        return false;
    return f->inhibited || !st->inhibitor;
}

static json_t *strings_json(const char *const *v, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_string(v[i]));
    return arr;
}

static json_t *receivers_json(const char *const *rcv, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s}", "name", rcv[i]));
    return arr;
}

static json_t *gettable_alert(const struct alert *al, const struct astatus *st,
                              const char *const *rcv, size_t nrcv)
{
    json_t *status =
        json_pack("{s:o,s:o,s:s}", "inhibitedBy", strings_json(&st->inhibitor, st->inhibitor != 0),
                  "silencedBy", strings_json(st->silenced, st->nsilenced), "state",
                  st->nsilenced || st->inhibitor ? "suppressed" : "active");
    json_t *o =
        json_pack("{s:o,s:o,s:s,s:o,s:o,s:o,s:o,s:o}", "annotations", lset_json(&al->annotations),
                  "endsAt", time_json(al->ends_at), "fingerprint", al->fp_hex, "receivers",
                  receivers_json(rcv, nrcv), "startsAt", time_json(al->starts_at), "status", status,
                  "updatedAt", time_json(al->updated_at), "labels", lset_json(&al->labels));
    if (al->generator_url[0])
        json_object_set_new(o, "generatorURL", json_string(al->generator_url));
    return o;
}

/* The alert as GettableAlert when it passes the filter, else NULL. */
static json_t *filtered_alert(const struct dw_alerter *a, const struct alert *al, int64_t now,
                              const struct cfilter *cf)
{
    if (!alert_is_firing(al, now) || !amatchers_match(&cf->m, &al->labels))
        return NULL;
    const char *rcv[MAX_IDS];
    size_t nrcv = alert_receivers(a, &al->labels, rcv, MAX_IDS);
    if (!receiver_ok(cf, rcv, nrcv))
        return NULL;
    struct astatus st;
    status_of(a, al, now, &st);
    return status_ok(cf->f, &st) ? gettable_alert(al, &st, rcv, nrcv) : NULL;
}

static int fp_order(const void *x, const void *y)
{
    const struct alert *a = *(struct alert *const *)x, *b = *(struct alert *const *)y;
    return strcmp(a->fp_hex, b->fp_hex);
}

/* Every alert, sorted by fingerprint (caller frees the array). */
static struct alert **sorted_alerts(const struct dw_alerter *a, size_t *n)
{
    struct alert **v = dw_calloc(a->alerts.n ? a->alerts.n : 1, sizeof *v);
    size_t it = 0, k = 0;
    struct alert *al;
    while ((al = fpmap_next(&a->alerts, &it)))
        v[k++] = al;
    qsort(v, k, sizeof *v, fp_order);
    *n = k;
    return v;
}

int dw_alerter_alerts_json(struct dw_alerter *a, const struct dw_alert_filter *f, json_t **out,
                           char **err)
{
    struct cfilter cf;
    if (cfilter_init(&cf, f, err) < 0)
        return DW_ALERT_EINVAL;
    pthread_mutex_lock(&a->mu);
    int64_t now = dw_now_ms();
    size_t n;
    struct alert **v = sorted_alerts(a, &n);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = filtered_alert(a, v[i], now, &cf);
        if (o)
            json_array_append_new(arr, o);
    }
    pthread_mutex_unlock(&a->mu);
    free(v);
    cfilter_release(&cf);
    *out = arr;
    return 0;
}

/* ---- groups ---- */

static int group_order(const void *x, const void *y)
{
    const struct group *a = *(struct group *const *)x, *b = *(struct group *const *)y;
    int c = dw_tsdb_labels_cmp(a->labels.l, a->labels.n, b->labels.l, b->labels.n);
    return c ? c : strcmp(a->route->receiver, b->route->receiver);
}

static int alert_order(const void *x, const void *y)
{
    return alert_cmp(*(struct alert *const *)x, *(struct alert *const *)y);
}

static json_t *group_json(const struct dw_alerter *a, const struct group *g, int64_t now,
                          const struct cfilter *cf)
{
    const char *rcv = g->route->receiver;
    if (!receiver_ok(cf, &rcv, 1))
        return NULL;
    struct alert **v = dw_calloc(g->n ? g->n : 1, sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < g->n; i++) {
        struct alert *al = fpmap_get(&a->alerts, g->fps[i]);
        if (al)
            v[n++] = al;
    }
    qsort(v, n, sizeof *v, alert_order);
    struct cfilter no_receiver = *cf;
    no_receiver.has_receiver = false; /* the group's receiver passed; alerts keep all theirs */
    json_t *alerts = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = filtered_alert(a, v[i], now, &no_receiver);
        if (o)
            json_array_append_new(alerts, o);
    }
    free(v);
    if (json_array_size(alerts) == 0) {
        json_decref(alerts);
        return NULL;
    }
    return json_pack("{s:o,s:o,s:{s:s}}", "alerts", alerts, "labels", lset_json(&g->labels),
                     "receiver", "name", rcv);
}

int dw_alerter_groups_json(struct dw_alerter *a, const struct dw_alert_filter *f, json_t **out,
                           char **err)
{
    struct cfilter cf;
    if (cfilter_init(&cf, f, err) < 0)
        return DW_ALERT_EINVAL;
    pthread_mutex_lock(&a->mu);
    int64_t now = dw_now_ms();
    struct group **v = dw_calloc(a->ngroups ? a->ngroups : 1, sizeof *v);
    if (a->ngroups)
        memcpy(v, a->groups, a->ngroups * sizeof *v);
    qsort(v, a->ngroups, sizeof *v, group_order);
    json_t *arr = json_array();
    for (size_t i = 0; i < a->ngroups; i++) {
        json_t *o = group_json(a, v[i], now, &cf);
        if (o)
            json_array_append_new(arr, o);
    }
    pthread_mutex_unlock(&a->mu);
    free(v);
    cfilter_release(&cf);
    *out = arr;
    return 0;
}

/* ---- status and receivers ---- */

json_t *dw_alerter_status_json(struct dw_alerter *a)
{
    pthread_mutex_lock(&a->mu);
    json_t *o =
        json_pack("{s:{s:s,s:[]},s:{s:s,s:s,s:s,s:s,s:s,s:s},s:{s:s},s:o}", "cluster", "status",
                  "disabled", "peers", "versionInfo", "version", DW_VERSION, "revision", "",
                  "branch", "", "buildUser", "", "buildDate", "", "goVersion", "", "config",
                  "original", a->cfg->original, "uptime", time_json(a->opened_at));
    pthread_mutex_unlock(&a->mu);
    return o;
}

json_t *dw_alerter_receivers_json(struct dw_alerter *a)
{
    pthread_mutex_lock(&a->mu);
    json_t *arr = json_array();
    for (size_t i = 0; i < a->cfg->nreceivers; i++)
        json_array_append_new(arr, json_pack("{s:s}", "name", a->cfg->receivers[i].name));
    pthread_mutex_unlock(&a->mu);
    return arr;
}

char *dw_alerter_receiver_config(struct dw_alerter *a, const char *name)
{
    pthread_mutex_lock(&a->mu);
    char *out = NULL;
    for (size_t i = 0; i < a->cfg->nreceivers && !out; i++)
        if (strcmp(a->cfg->receivers[i].name, name) == 0)
            out = dw_strdup(a->cfg->receivers[i].yaml);
    pthread_mutex_unlock(&a->mu);
    return out;
}

/* ---- the lifecycle view ---- */

static const char *state_name(enum dw_alert_state s)
{
    static const char *const names[] = {"firing", "pending", "resolved", "inactive"};
    return names[s];
}

static json_t *time_or_null(int64_t ms)
{
    return ms ? time_json(ms) : json_null();
}

static json_t *lifecycle_alert(const struct dw_alerter *a, const struct alert *al, int64_t now)
{
    const char *state =
        al->state == DW_ALERT_FIRING && al->ends_at <= now ? "resolved" : state_name(al->state);
    struct astatus st = {0};
    if (alert_is_firing(al, now))
        status_of(a, al, now, &st);
    return json_pack(
        "{s:s,s:o,s:o,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:b,s:o,s:o,s:I}", "fingerprint", al->fp_hex,
        "labels", lset_json(&al->labels), "annotations", lset_json(&al->annotations), "state",
        state, "pendingAt", time_or_null(al->pending_at), "firingAt", time_or_null(al->firing_at),
        "resolvedAt", time_or_null(al->resolved_at), "startsAt", time_or_null(al->starts_at),
        "endsAt", time_or_null(al->ends_at), "updatedAt", time_or_null(al->updated_at), "flapping",
        al->flapping, "silencedBy", strings_json(st.silenced, st.nsilenced), "inhibitedBy",
        strings_json(&st.inhibitor, st.inhibitor != 0), "episode", (json_int_t)al->episode);
}

/* Marks of the alerts' current episodes, by fingerprint. */
static int mark_row(void *ctx, const struct dw_value *c, size_t n)
{
    json_t *by_fp = ctx;
    if (n < 5 || c[0].type != DW_VAL_TEXT)
        return 0;
    json_t *o = json_object_get(by_fp, c[0].s);
    if (!o) {
        o = json_object();
        json_object_set_new(by_fp, c[0].s, o);
    }
    const char *key = strcmp(c[1].s ? c[1].s : "", "ack") == 0 ? "acknowledged" : "falsePositive";
    json_object_set_new(o, key,
                        json_pack("{s:s,s:o,s:s?}", "by", c[2].s ? c[2].s : "", "at",
                                  time_json(c[3].i), "comment",
                                  c[4].type == DW_VAL_TEXT ? c[4].s : NULL));
    return 0;
}

json_t *dw_alerter_lifecycle_json(struct dw_alerter *a)
{
    json_t *marks = json_object();
    char *err = NULL;
    dw_store_exec(a->store,
                  "SELECT m.fingerprint, m.kind, m.marked_by, m.marked_at, m.comment"
                  " FROM alert_marks m JOIN alert_alerts x ON x.fingerprint = m.fingerprint"
                  " AND x.episode = m.episode ORDER BY m.id",
                  NULL, 0, mark_row, marks, &err);
    free(err);
    pthread_mutex_lock(&a->mu);
    int64_t now = dw_now_ms();
    size_t n;
    struct alert **v = sorted_alerts(a, &n);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = lifecycle_alert(a, v[i], now);
        json_t *m = json_object_get(marks, v[i]->fp_hex);
        json_object_set(o, "acknowledged",
                        m && json_object_get(m, "acknowledged") ? json_object_get(m, "acknowledged")
                                                                : json_null());
        json_object_set(o, "falsePositive",
                        m && json_object_get(m, "falsePositive")
                            ? json_object_get(m, "falsePositive")
                            : json_null());
        json_array_append_new(arr, o);
    }
    pthread_mutex_unlock(&a->mu);
    free(v);
    json_decref(marks);
    return arr;
}
