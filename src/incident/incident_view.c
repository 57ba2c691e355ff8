/*
 * incident_view.c - what is read from incidents: the incident as JSON (the
 * shape the report renders), lists, open action items, MTTA / MTTR
 * statistics and the self-metrics.
 *
 * DESIGN
 * Reads only: every function runs plain SELECTs (a read connection, its own
 * snapshot) under the module mutex so a view never sees half a turn. The
 * timeline of an incident is its own entries plus, for each attached alert
 * group, the entries of the pages the on-call module opened for it (from
 * five minutes before the incident opened), sorted by time (stable, so
 * entries of one instant keep their order). Durations read "1h 23m".
 * Percentiles use the nearest rank.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incident/incident_internal.h"
#include "incident/report.h"

#define PAGE_SLACK_MS (5 * 60000)
#define METRICS_WINDOW_MS (30LL * 86400000)
#define LIST_DEFAULT 100

static struct {
    struct dw_metric *open, *mtta, *mttr, *messages;
} m;

static void register_once(void)
{
    m.open = dw_metric_gauge("dojowatch_incident_open",
                             "Incidents not yet resolved, by severity (SEV1..SEV4).", "severity");
    m.mtta = dw_metric_gauge("dojowatch_incident_mtta_seconds",
                             "Mean time to acknowledge incidents opened in the last 30 days.",
                             "severity");
    m.mttr =
        dw_metric_gauge("dojowatch_incident_mttr_seconds",
                        "Mean time to resolve incidents opened in the last 30 days.", "severity");
    m.messages = dw_metric_counter(
        "dojowatch_incident_messages_total",
        "Messages about incidents handed to the notifier, by result: queued, dropped (no channel "
        "of that kind is configured), failed (the store refused; retried).",
        "result");
}

void inc_metric_message(const char *result)
{
    const char *lv[] = {result};
    dw_metric_add(m.messages, lv, 1);
}

void inc_metrics_register(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_once);
}

void dw_incident_format_duration(int64_t ms, char *out, size_t size)
{
    int64_t s = ms < 0 ? 0 : ms / 1000;
    int64_t d = s / 86400, h = s / 3600 % 24, mi = s / 60 % 60, se = s % 60;
    if (d)
        snprintf(out, size, "%lldd %lldh", (long long)d, (long long)h);
    else if (h)
        snprintf(out, size, "%lldh %lldm", (long long)h, (long long)mi);
    else if (mi && se)
        snprintf(out, size, "%lldm %llds", (long long)mi, (long long)se);
    else if (mi)
        snprintf(out, size, "%lldm", (long long)mi);
    else
        snprintf(out, size, "%llds", (long long)se);
}

static json_t *time_json(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char buf[40];
    dw_format_rfc3339(ms, buf, sizeof buf);
    return json_string(buf);
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static void set_duration(json_t *o, const char *key, int64_t from, int64_t to)
{
    char skey[64];
    snprintf(skey, sizeof skey, "%sSeconds", key);
    if (!from || !to || to < from) {
        json_object_set_new(o, key, json_null());
        json_object_set_new(o, skey, json_null());
        return;
    }
    char buf[32];
    dw_incident_format_duration(to - from, buf, sizeof buf);
    json_object_set_new(o, key, json_string(buf));
    json_object_set_new(o, skey, json_integer((to - from) / 1000));
}

static const char *severity_name(struct dw_incidents *inc, int level)
{
    size_t n = 0;
    const struct dw_plan_severity *s = dw_config_severities(inc->cfg, &n);
    for (size_t i = 0; i < n; i++)
        if (s[i].level == level)
            return s[i].name;
    return NULL;
}

static json_t *person_json(struct dw_incidents *inc, const char *id)
{
    const struct dw_plan_person *p = id ? dw_config_find_person(inc->cfg, id) : NULL;
    return p && p->name ? json_string(p->name) : str_or_null(id);
}

static json_t *list_json(const char *text)
{
    json_t *a = text ? json_loads(text, 0, NULL) : NULL;
    if (!json_is_array(a)) {
        json_decref(a);
        a = json_array();
    }
    return a;
}

/* ---- the timeline ---- */

struct entry {
    int64_t at;
    size_t seq;
    json_t *o; /* {"at", "kind", "who", "text"} without "at" set yet */
};

struct entries {
    struct entry *v;
    size_t n, cap;
};

static void entry_add(struct entries *es, int64_t at, const char *kind, const char *who,
                      const char *text)
{
    es->v = dw_grow(es->v, &es->cap, es->n + 1, sizeof *es->v);
    es->v[es->n] = (struct entry){at, es->n,
                                  json_pack("{s:s, s:o, s:s}", "kind", kind, "who",
                                            str_or_null(who), "text", text ? text : "")};
    es->n++;
}

static int timeline_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    char *kind = inc_col(&c[1]), *who = inc_col(&c[2]), *text = inc_col(&c[3]);
    entry_add(ctx, c[0].i, kind, who, text);
    free(kind);
    free(who);
    free(text);
    return 0;
}

static int entry_cmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static const char *page_kind(const char *k)
{
    if (strcmp(k, "escalated") == 0)
        return "escalation";
    if (strcmp(k, "acknowledged") == 0)
        return "acknowledgement";
    return "page";
}

/* The entries of one page, each as kind page | escalation | acknowledgement. */
static void page_entries(struct entries *es, const json_t *page)
{
    const char *pid = json_string_value(json_object_get(page, "id"));
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(page, "timeline"), i, e)
    {
        const char *k = json_string_value(json_object_get(e, "kind"));
        const char *via = json_string_value(json_object_get(e, "via"));
        const char *detail = json_string_value(json_object_get(e, "detail"));
        int64_t at = 0;
        const char *ats = json_string_value(json_object_get(e, "at"));
        if (!k || !ats || dw_parse_rfc3339(ats, &at) != 0)
            continue;
        char *text = dw_asprintf("page %s %s%s%s%s%s", pid ? pid : "", k, via ? " via " : "",
                                 via ? via : "", detail ? ": " : "", detail ? detail : "");
        entry_add(es, at, page_kind(k), json_string_value(json_object_get(e, "who")), text);
        free(text);
    }
}

struct groups {
    char **v;
    size_t n, cap;
};

static int group_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    struct groups *g = ctx;
    g->v = dw_grow(g->v, &g->cap, g->n + 1, sizeof *g->v);
    g->v[g->n++] = inc_col(&c[0]);
    return 0;
}

static void pages_of_groups(struct dw_incidents *inc, const struct groups *g, int64_t since,
                            struct entries *es)
{
    if (!inc->oncall || !g->n)
        return;
    json_t *pages = dw_oncall_pages_json(inc->oncall, NULL, 1000);
    size_t i;
    json_t *pg;
    json_array_foreach(pages, i, pg)
    {
        const char *gk = json_string_value(json_object_get(pg, "groupKey"));
        int64_t created = 0;
        const char *cs = json_string_value(json_object_get(pg, "createdAt"));
        if (!gk || !cs || dw_parse_rfc3339(cs, &created) != 0 || created < since - PAGE_SLACK_MS)
            continue;
        for (size_t j = 0; j < g->n; j++)
            if (strcmp(g->v[j], gk) == 0) {
                json_t *full =
                    dw_oncall_page_json(inc->oncall, json_string_value(json_object_get(pg, "id")));
                if (full)
                    page_entries(es, full);
                json_decref(full);
                break;
            }
    }
    json_decref(pages);
}

static json_t *timeline_json(struct dw_incidents *inc, const struct inc_row *r,
                             const struct groups *g)
{
    struct entries es = {0};
    struct dw_value p[] = {DW_VTEXT(r->id)};
    dw_store_exec(inc->store,
                  "SELECT at, kind, who, text FROM incident_timeline WHERE incident_id = $1"
                  " ORDER BY at, id",
                  p, 1, timeline_cb, &es, NULL);
    pages_of_groups(inc, g, r->created_at, &es);
    if (es.n)
        qsort(es.v, es.n, sizeof *es.v, entry_cmp);
    json_t *arr = json_array();
    for (size_t i = 0; i < es.n; i++) {
        json_object_set_new(es.v[i].o, "at", time_json(es.v[i].at));
        json_array_append_new(arr, es.v[i].o);
    }
    free(es.v);
    return arr;
}

/* ---- action items ---- */

struct actions_ctx {
    struct dw_incidents *inc;
    json_t *arr;
    int64_t now;
    bool with_incident;
};

static int action_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    struct actions_ctx *ac = ctx;
    char *owner = inc_col(&c[2]);
    int64_t due = inc_col_int(&c[3]);
    bool done = c[4].i != 0;
    json_t *o = json_pack("{s:I, s:s%, s:o, s:o, s:o, s:b, s:b}", "id", (json_int_t)c[0].i, "task",
                          c[1].s, c[1].n, "owner", str_or_null(owner), "ownerName",
                          owner ? person_json(ac->inc, owner) : json_null(), "due", time_json(due),
                          "done", done, "overdue", !done && due > 0 && due < ac->now);
    if (ac->with_incident)
        json_object_set_new(o, "incident", json_stringn(c[5].s, c[5].n));
    json_array_append_new(ac->arr, o);
    free(owner);
    return 0;
}

json_t *inc_actions_json_locked(struct dw_incidents *inc, bool overdue_only, int64_t now)
{
    struct actions_ctx ac = {inc, json_array(), now, true};
    struct dw_value p[] = {DW_VINT(overdue_only), DW_VINT(now)};
    dw_store_exec(inc->store,
                  "SELECT id, task, owner, due, done, incident_id FROM incident_actions"
                  " WHERE done = 0 AND ($1 = 0 OR (due IS NOT NULL AND due < $2))"
                  " ORDER BY due IS NULL, due, id LIMIT 1000",
                  p, 2, action_cb, &ac, NULL);
    return ac.arr;
}

json_t *dw_incidents_actions_json(struct dw_incidents *inc, bool overdue_only, int64_t now)
{
    pthread_mutex_lock(&inc->mu);
    json_t *arr = inc_actions_json_locked(inc, overdue_only, now);
    pthread_mutex_unlock(&inc->mu);
    return arr;
}

/* ---- one incident ---- */

static json_t *breaches_json(const struct inc_row *r, struct dw_incidents *inc)
{
    json_t *a = json_array();
    int p = r->priority ? dw_priority_parse(r->priority) : -1;
    const struct dw_plan_priority *pp = p >= 0 ? dw_config_priority(inc->cfg, p) : NULL;
    char buf[32];
    if (r->ack_breach) {
        dw_incident_format_duration(pp ? pp->response_ms : 0, buf, sizeof buf);
        json_array_append_new(a, json_pack("{s:s, s:o, s:s}", "kind", "acknowledge", "at",
                                           time_json(r->ack_breach), "target", buf));
    }
    if (r->res_breach) {
        dw_incident_format_duration(pp ? pp->resolution_ms : 0, buf, sizeof buf);
        json_array_append_new(a, json_pack("{s:s, s:o, s:s}", "kind", "resolution", "at",
                                           time_json(r->res_breach), "target", buf));
    }
    if (r->status_page_breach) {
        dw_incident_format_duration(pp ? pp->status_page_ms : 0, buf, sizeof buf);
        json_array_append_new(a, json_pack("{s:s, s:o, s:s}", "kind", "status_page", "at",
                                           time_json(r->status_page_breach), "target", buf));
    }
    return a;
}

static const char *const at_keys[DW_INCIDENT_STATE_COUNT] = {
    "createdAt",    "acknowledgedAt", "investigatingAt", "identifiedAt",
    "monitoringAt", "resolvedAt",     "postmortemAt",    "closedAt"};

static json_t *incident_json_locked(struct dw_incidents *inc, const struct inc_row *r)
{
    const char *sev_name = severity_name(inc, r->severity);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "title", json_string(r->title));
    json_object_set_new(o, "severity", json_integer(r->severity));
    json_object_set_new(o, "severityName", str_or_null(sev_name));
    json_object_set_new(o, "priority", str_or_null(r->priority));
    json_object_set_new(o, "state", json_string(dw_incident_state_name(r->state)));
    for (int s = 0; s < DW_INCIDENT_STATE_COUNT; s++)
        json_object_set_new(o, at_keys[s], time_json(r->at[s]));
    int64_t end = r->at[DW_INCIDENT_RESOLVED] ? r->at[DW_INCIDENT_RESOLVED]
                  : r->at[DW_INCIDENT_CLOSED] ? r->at[DW_INCIDENT_CLOSED]
                                              : dw_now_ms();
    set_duration(o, "duration", r->created_at, end);
    set_duration(o, "timeToAcknowledge", r->created_at, r->at[DW_INCIDENT_ACKNOWLEDGED]);
    set_duration(o, "timeToMitigate", r->created_at, r->at[DW_INCIDENT_MONITORING]);
    set_duration(o, "timeToResolve", r->created_at, r->at[DW_INCIDENT_RESOLVED]);
    json_object_set_new(o, "statusPageUpdatedAt", time_json(r->status_page_at));
    set_duration(o, "timeToStatusPage", r->created_at, r->status_page_at);
    static const char *const roles[] = {"commander", "communicationsLead", "scribe"};
    for (int i = 0; i < 3; i++) {
        char key[40];
        snprintf(key, sizeof key, "%sId", roles[i]);
        json_object_set_new(o, roles[i], person_json(inc, r->text[INC_T_COMMANDER + i]));
        json_object_set_new(o, key, str_or_null(r->text[INC_T_COMMANDER + i]));
    }
    json_object_set_new(o, "affectedSystems", list_json(r->text[INC_T_AFFECTED]));
    json_object_set_new(o, "impact", str_or_null(r->text[INC_T_IMPACT]));
    json_object_set_new(o, "usersAffected", str_or_null(r->text[INC_T_USERS]));
    json_object_set_new(o, "dataLoss", json_boolean(r->data_loss));
    json_object_set_new(o, "rootCause", str_or_null(r->text[INC_T_ROOT_CAUSE]));
    json_object_set_new(o, "contributingFactors", list_json(r->text[INC_T_FACTORS]));
    json_object_set_new(o, "detection",
                        json_pack("{s:o, s:o}", "method", str_or_null(r->text[INC_T_DET_METHOD]),
                                  "alert", str_or_null(r->text[INC_T_DET_ALERT])));
    json_object_set_new(o, "resolution", str_or_null(r->text[INC_T_RESOLUTION]));
    json_object_set_new(o, "prevention", str_or_null(r->text[INC_T_PREVENTION]));
    json_object_set_new(o, "lessonsLearned", str_or_null(r->text[INC_T_LESSONS]));
    struct groups g = {0};
    struct dw_value p[] = {DW_VTEXT(r->id)};
    dw_store_exec(inc->store,
                  "SELECT group_key FROM incident_groups WHERE incident_id = $1"
                  " ORDER BY attached_at, group_key",
                  p, 1, group_cb, &g, NULL);
    json_object_set_new(o, "timeline", timeline_json(inc, r, &g));
    struct actions_ctx ac = {inc, json_array(), dw_now_ms(), false};
    dw_store_exec(inc->store,
                  "SELECT id, task, owner, due, done FROM incident_actions WHERE incident_id = $1"
                  " ORDER BY id",
                  p, 1, action_cb, &ac, NULL);
    json_object_set_new(o, "actionItems", ac.arr);
    json_t *ga = json_array();
    for (size_t i = 0; i < g.n; i++) {
        json_array_append_new(ga, json_string(g.v[i]));
        free(g.v[i]);
    }
    free(g.v);
    json_object_set_new(o, "groups", ga);
    json_object_set_new(o, "breaches", breaches_json(r, inc));
    json_object_set_new(o, "mergedInto", str_or_null(r->text[INC_T_MERGED_INTO]));
    json_object_set_new(o, "createdBy", str_or_null(r->text[INC_T_CREATED_BY]));
    return o;
}

json_t *dw_incident_json(struct dw_incidents *inc, const char *id)
{
    if (!id)
        return NULL;
    pthread_mutex_lock(&inc->mu);
    struct inc_row r;
    json_t *o = inc_row_get(inc, id, &r) ? incident_json_locked(inc, &r) : NULL;
    inc_row_release(&r);
    pthread_mutex_unlock(&inc->mu);
    return o;
}

/* ---- lists ---- */

struct list_ctx {
    struct dw_incidents *inc;
    json_t *arr;
};

static int list_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    struct list_ctx *lc = ctx;
    int sev = (int)c[2].i;
    int64_t created = c[5].i, resolved = inc_col_int(&c[10]);
    char *commander = inc_col(&c[13]);
    json_t *o = json_pack("{s:s%, s:s%, s:i, s:o, s:o, s:s%, s:o, s:o, s:o, s:o}", "id", c[0].s,
                          c[0].n, "title", c[1].s, c[1].n, "severity", sev, "severityName",
                          str_or_null(severity_name(lc->inc, sev)), "priority", str_or_null(c[3].s),
                          "state", c[4].s, c[4].n, "createdAt", time_json(created), "resolvedAt",
                          time_json(resolved), "commander",
                          commander ? person_json(lc->inc, commander) : json_null(), "mergedInto",
                          c[26].type == DW_VAL_NULL ? json_null() : json_stringn(c[26].s, c[26].n));
    set_duration(o, "duration", created, resolved ? resolved : dw_now_ms());
    json_array_append_new(lc->arr, o);
    free(commander);
    return 0;
}

int dw_incidents_list_json(struct dw_incidents *inc, const struct dw_incident_filter *f,
                           json_t **out, char **err)
{
    struct dw_incident_filter d = {0};
    if (!f)
        f = &d;
    *out = NULL;
    if (f->limit > DW_INCIDENT_LIST_MAX) {
        dw_set_err(err, "limit %zu is over %d; page with since instead", f->limit,
                   DW_INCIDENT_LIST_MAX);
        return DW_INCIDENT_EINVAL;
    }
    bool open = f->state && strcmp(f->state, "open") == 0;
    if (f->state && !open && dw_incident_state_parse(f->state) < 0) {
        dw_set_err(err,
                   "unknown state \"%s\"; use open or one of: triggered, acknowledged, "
                   "investigating, identified, monitoring, resolved, postmortem, closed",
                   f->state);
        return DW_INCIDENT_EINVAL;
    }
    if (f->severity < 0 || f->severity > 4) {
        dw_set_err(err, "severity %d is not 1 to 4 (or 0 for any)", f->severity);
        return DW_INCIDENT_EINVAL;
    }
    struct dw_value p[] = {inc_text_or_null(open ? NULL : f->state), DW_VINT(open),
                           DW_VINT(f->severity), DW_VINT(f->since_ms),
                           DW_VINT((int64_t)(f->limit ? f->limit : LIST_DEFAULT))};
    struct list_ctx lc = {inc, json_array()};
    pthread_mutex_lock(&inc->mu);
    int rc = dw_store_exec(inc->store,
                           "SELECT " INC_ROW_COLS " FROM incidents WHERE ($1 IS NULL OR state = $1)"
                           " AND ($2 = 0 OR state NOT IN ('resolved', 'postmortem', 'closed'))"
                           " AND ($3 = 0 OR severity = $3) AND created_at >= $4"
                           " ORDER BY created_at DESC, id DESC LIMIT $5",
                           p, DW_ARRAY_LEN(p), list_cb, &lc, err);
    pthread_mutex_unlock(&inc->mu);
    if (rc != 0) {
        json_decref(lc.arr);
        return -1;
    }
    *out = lc.arr;
    return 0;
}

/* ---- statistics ---- */

struct sample {
    int severity;
    int64_t created, acked, resolved;
};

struct samples {
    struct sample *v;
    size_t n, cap;
};

static int sample_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    struct samples *s = ctx;
    s->v = dw_grow(s->v, &s->cap, s->n + 1, sizeof *s->v);
    s->v[s->n++] = (struct sample){(int)c[0].i, c[1].i, inc_col_int(&c[2]), inc_col_int(&c[3])};
    return 0;
}

static int load_samples(struct dw_incidents *inc, int64_t since, int64_t until, struct samples *s,
                        char **err)
{
    struct dw_value p[] = {DW_VINT(since), DW_VINT(until)};
    return dw_store_exec(inc->store,
                         "SELECT severity, created_at, acknowledged_at, resolved_at FROM incidents"
                         " WHERE merged_into IS NULL AND created_at >= $1 AND created_at < $2",
                         p, 2, sample_cb, s, err);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct summary {
    size_t n;
    double mean, p50, p90;
};

/* Sorts v in place. */
static struct summary summarise(double *v, size_t n)
{
    struct summary s = {.n = n};
    if (!n)
        return s;
    qsort(v, n, sizeof *v, cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    s.mean = sum / (double)n;
    s.p50 = v[(size_t)ceil(0.5 * (double)n) - 1];
    s.p90 = v[(size_t)ceil(0.9 * (double)n) - 1];
    return s;
}

/* Seconds from created to the figure (acked or resolved) for one severity. */
static struct summary figure(const struct samples *s, int sev, bool resolve, double *buf)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        int64_t end = resolve ? s->v[i].resolved : s->v[i].acked;
        if (s->v[i].severity == sev && end >= s->v[i].created && end > 0)
            buf[n++] = (double)(end - s->v[i].created) / 1000.0;
    }
    return summarise(buf, n);
}

static json_t *summary_json(struct summary s)
{
    if (!s.n)
        return json_pack("{s:i, s:n, s:n, s:n}", "count", 0, "mean", "p50", "p90");
    return json_pack("{s:I, s:f, s:f, s:f}", "count", (json_int_t)s.n, "mean", s.mean, "p50", s.p50,
                     "p90", s.p90);
}

int dw_incidents_stats_json(struct dw_incidents *inc, int64_t since, int64_t until, json_t **out,
                            char **err)
{
    *out = NULL;
    if (until <= since) {
        dw_set_err(err, "the period is empty: until must be after since");
        return DW_INCIDENT_EINVAL;
    }
    struct samples s = {0};
    pthread_mutex_lock(&inc->mu);
    int rc = load_samples(inc, since, until, &s, err);
    json_t *sevs = json_array();
    double *buf = dw_calloc(s.n + 1, sizeof *buf);
    for (int sev = 1; rc == 0 && sev <= 4; sev++) {
        size_t count = 0;
        for (size_t i = 0; i < s.n; i++)
            count += s.v[i].severity == sev;
        json_array_append_new(sevs, json_pack("{s:i, s:o, s:I, s:o, s:o}", "severity", sev, "name",
                                              str_or_null(severity_name(inc, sev)), "incidents",
                                              (json_int_t)count, "mtta",
                                              summary_json(figure(&s, sev, false, buf)), "mttr",
                                              summary_json(figure(&s, sev, true, buf))));
    }
    pthread_mutex_unlock(&inc->mu);
    free(buf);
    free(s.v);
    if (rc != 0) {
        json_decref(sevs);
        return -1;
    }
    *out = json_pack("{s:o, s:o, s:o}", "since", time_json(since), "until", time_json(until),
                     "severities", sevs);
    return 0;
}

/* ---- metrics ---- */

static int open_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    int64_t *counts = ctx;
    if (c[0].i >= 1 && c[0].i <= 4)
        counts[c[0].i] = c[1].i;
    return 0;
}

void inc_metrics_refresh(struct dw_incidents *inc, int64_t now)
{
    int64_t open[5] = {0};
    dw_store_exec(inc->store,
                  "SELECT severity, COUNT(*) FROM incidents WHERE state NOT IN"
                  " ('resolved', 'postmortem', 'closed') GROUP BY severity",
                  NULL, 0, open_cb, open, NULL);
    struct samples s = {0};
    load_samples(inc, now - METRICS_WINDOW_MS, now + 1, &s, NULL);
    double *buf = dw_calloc(s.n + 1, sizeof *buf);
    for (int sev = 1; sev <= 4; sev++) {
        char label[8];
        snprintf(label, sizeof label, "SEV%d", sev);
        const char *lv[] = {label};
        dw_metric_set(m.open, lv, (double)open[sev]);
        dw_metric_set(m.mtta, lv, figure(&s, sev, false, buf).mean);
        dw_metric_set(m.mttr, lv, figure(&s, sev, true, buf).mean);
    }
    free(buf);
    free(s.v);
}

/* ---- documents ---- */

int dw_incident_document(struct dw_incidents *inc, const char *id, bool report,
                         enum dw_incident_format format, struct dw_buf *out, char **err)
{
    json_t *o = dw_incident_json(inc, id);
    if (!o) {
        dw_set_err(err, "no incident %s; `dojowatch incident list` shows them", id ? id : "");
        return DW_INCIDENT_ENOTFOUND;
    }
    pthread_mutex_lock(&inc->mu);
    const struct y_templates *t = &inc->conf->y.templates;
    char *tmpl = report ? (t->report ? dw_strdup(t->report) : NULL)
                        : (t->notice ? dw_strdup(t->notice) : NULL);
    const char *service = dw_config_service_name(inc->cfg);
    const char *page = dw_config_status_page_url(inc->cfg);
    if (service && *service)
        json_object_set_new(o, "service", json_string(service));
    if (page && *page)
        json_object_set_new(o, "statusPageUrl", json_string(page));
    pthread_mutex_unlock(&inc->mu);
    int rc = report ? dw_incident_render_report(o, tmpl, format, out, err)
                    : dw_incident_render_notice(o, tmpl, format, out, err);
    free(tmpl);
    json_decref(o);
    return rc == 0 ? 0 : DW_INCIDENT_EINVAL;
}
