/*
 * eval.c - the rule evaluator.
 *
 * DESIGN
 * One thread ("rules") evaluates every group. Groups sit in a min-heap by
 * next evaluation time on the injectable clock; a group's rules run in file
 * order at one timestamp (recording rules first in the file feed the ones
 * after, as in Prometheus). Each rule's query gets the group interval as its
 * timeout; a rule that fails or times out is marked (health "err", its
 * error, dojowatch_rule_evaluation_failures_total) and the others go on.
 *
 * Evaluation on arrival: a rule whose expression reads only instant vector
 * selectors with a metric name (no range, no subquery, no offset or @) is a
 * threshold rule; the tsdb's commit watch tells us when one of its metric
 * names receives samples, the group is flagged and the thread, woken at
 * once, evaluates its threshold rules within milliseconds (at most once per
 * ARRIVAL_MIN_GAP_MS per group). Windowed rules keep their group interval.
 *
 * Alerting rules follow Prometheus 2.42: an active alert per label set
 * (sample labels without __name__, plus the rule's labels expanded with
 * $labels/$value, plus alertname), pending until `for` has passed, firing
 * after, kept firing for keep_firing_for after the condition clears, then
 * resolved (kept 15 min for the API). ALERTS{alertstate} and
 * ALERTS_FOR_STATE (value: activeAt in seconds) are written every
 * evaluation; series a group wrote last time and not this time get a
 * staleness marker. After a restart, the first evaluation of a group looks
 * up ALERTS_FOR_STATE of the last hour so pending alerts keep their `for`
 * timers ("for timers survive a restart").
 *
 * Alerts are handed to the consumer (the alert module) when a rule's alerts
 * changed state and every RESEND_MS while active.
 */
#include <glob.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "promql/promql.h"
#include "rules/rulefile.h"
#include "rules/rules.h"
#include "rules/template.h"

#define MAX_WAIT_MS 250
#define ARRIVAL_MIN_GAP_MS 5
#define RESEND_MS 30000
#define RESOLVED_RETENTION_MS (15 * 60 * 1000)
#define FOR_STATE_TOLERANCE_MS (60 * 60 * 1000)

struct ralert {
    uint64_t fp;
    struct dw_label *labels; /* sorted; strings owned (one block) */
    size_t nlabels;
    struct dw_label *ann; /* strings owned */
    size_t nann;
    enum dw_rule_alert_state state;
    int64_t active_at, fired_at, resolved_at, keep_since;
    double value;
    bool seen;
};

struct rstate {
    const struct dw_rule *rule;
    bool threshold; /* evaluated on arrival */
    struct ralert **alerts;
    size_t nalerts, acap;
    int health; /* -1 unknown, 0 err, 1 ok */
    char error[256];
    int64_t last_eval;
    double eval_s;
    int64_t last_sent;
    bool changed;
    bool restored; /* for timers looked up after a start */
};

struct rgroup {
    const struct dw_rule_group *g;
    char *key; /* file \x1f name */
    struct rstate *rs;
    size_t nrs;
    int64_t next_due;
    struct dw_lsset prev; /* series written at the last evaluation */
    int64_t last_eval, last_arrival_eval;
    double eval_s;
    atomic_bool arrived;
};

/* metric name -> groups with threshold rules reading it */
struct watch {
    char *name;
    struct rgroup **groups;
    size_t n, cap;
};

struct dw_ruler {
    struct dw_ruler_options o;
    char *external_url;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    pthread_mutex_t lock;  /* pending, the groups' state (API readers) */
    pthread_mutex_t wlock; /* watches and the wake-up: never held while evaluating */
    pthread_cond_t wake;
    struct dw_rule_set *pending;
    bool has_pending;
    struct dw_rule_set *set;
    struct rgroup **groups;
    size_t ngroups;
    struct dw_dueheap heap; /* groups by next evaluation */
    struct watch *watches;
    size_t nwatches, wcap;
    atomic_bool any_arrived;
    struct dw_tsdb_appender *app;
    struct dw_promql_storage storage;
};

static struct dw_metric *m_evals, *m_failures, *m_duration, *m_arrivals;

/* Set while the evaluator commits its own results: they do not count as arrivals
 * (a group reading what it records would otherwise re-trigger itself forever). */
static _Thread_local bool in_own_commit;

/* ---- labels ---- */

static void ralert_free(struct ralert *a)
{
    if (!a)
        return;
    free(a->labels);
    free(a->ann);
    free(a);
}

/* A growable label list whose strings live in a buffer list. */
struct lbuild {
    struct dw_label *l;
    size_t n, cap;
    char **owned;
    size_t nowned, ocap;
};

static void lb_set(struct lbuild *b, const char *name, const char *value, bool own_value)
{
    const char *v = value;
    if (own_value) {
        b->owned = dw_grow(b->owned, &b->ocap, b->nowned + 1, sizeof *b->owned);
        b->owned[b->nowned++] = (char *)value;
    }
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->l[i].name, name) == 0) {
            b->l[i].value = v;
            return;
        }
    b->l = dw_grow(b->l, &b->cap, b->n + 1, sizeof *b->l);
    b->l[b->n++] = (struct dw_label){name, v};
}

/* Drops empty values (Prometheus drops labels set to "") and sorts. */
static void lb_finish(struct lbuild *b)
{
    size_t j = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->l[i].value && b->l[i].value[0])
            b->l[j++] = b->l[i];
    b->n = j;
    dw_tsdb_labels_sort(b->l, b->n);
}

static void lb_release(struct lbuild *b)
{
    for (size_t i = 0; i < b->nowned; i++)
        free(b->owned[i]);
    free(b->owned);
    free(b->l);
    *b = (struct lbuild){0};
}

/* ---- templates ---- */

static size_t result_len(const struct dw_promql_result *res);
static void result_at(const struct dw_promql_result *res, size_t i, const struct dw_label **l,
                      size_t *n, double *v);

/* The templates' `query` function: an instant query on the tsdb. */
static int tmpl_query(void *ctx, const char *expr, int64_t at_ms, struct dw_tmpl_vector *out,
                      char *err, size_t errcap)
{
    struct dw_ruler *r = ctx;
    struct dw_promql_error perr = {0};
    struct dw_promql_expr *e = NULL;
    if (dw_promql_parse(expr, strlen(expr), NULL, &e, &perr) != 0) {
        snprintf(err, errcap, "%s", perr.msg ? perr.msg : "parse error");
        dw_promql_error_release(&perr);
        return -1;
    }
    struct dw_promql_result *res = NULL;
    char *msg = NULL;
    struct dw_promql_eval_opts o = {.timeout_ms = 10000};
    int rc = dw_promql_eval_instant(&r->storage, e, at_ms, &o, &res, &msg);
    dw_promql_free(&e);
    if (rc != 0) {
        snprintf(err, errcap, "%s", msg ? msg : "query failed");
        free(msg);
        return -1;
    }
    for (size_t i = 0; i < result_len(res); i++) {
        const struct dw_label *l;
        size_t n;
        double v;
        result_at(res, i, &l, &n, &v);
        if (dw_tmpl_vector_add(out, l, n, v) != 0)
            break;
    }
    dw_promql_result_free(&res);
    return 0;
}

static char *expand(struct dw_ruler *r, const struct dw_rule_pair *p, const struct dw_label *labels,
                    size_t n, double value, int64_t now, const char *rule)
{
    if (!p->tmpl)
        return dw_strdup(p->value);
    struct dw_tmpl_data d = {.labels = labels,
                             .nlabels = n,
                             .value = value,
                             .now_ms = now,
                             .external_url = r->external_url,
                             .query = tmpl_query,
                             .query_ctx = r};
    struct dw_buf out;
    dw_buf_init(&out, 0);
    char err[256];
    if (dw_tmpl_execute(p->tmpl, &d, &out, err, sizeof err) != 0) {
        dw_buf_release(&out);
        dw_log_kv(DW_LOG_WARN, "rules", "template expansion failed", "rule", rule, "error", err,
                  NULL);
        return dw_asprintf("<error expanding template: %s>", err);
    }
    dw_buf_puts(&out, "");
    return dw_buf_steal(&out);
}

/* ---- which rules are threshold rules, and the names they read ---- */

struct names {
    const char **v;
    size_t n, cap;
};

/* False when the subtree reads a range, a subquery or data at another time. */
static bool instant_only(const struct dw_promql_node *n, struct names *out)
{
    if (!n)
        return true;
    switch (n->kind) {
    case DW_PROMQL_NUMBER:
    case DW_PROMQL_STRING: return true;
    case DW_PROMQL_MATRIX_SELECTOR:
    case DW_PROMQL_SUBQUERY: return false;
    case DW_PROMQL_VECTOR_SELECTOR:
        if (!n->u.vs.name[0] || n->u.vs.offset_ms || n->u.vs.at != DW_PROMQL_AT_NONE)
            return false;
        out->v = dw_grow(out->v, &out->cap, out->n + 1, sizeof *out->v);
        out->v[out->n++] = n->u.vs.name;
        return true;
    case DW_PROMQL_PAREN: return instant_only(n->u.paren, out);
    case DW_PROMQL_UNARY: return instant_only(n->u.unary.expr, out);
    case DW_PROMQL_BINARY:
        return instant_only(n->u.bin.lhs, out) && instant_only(n->u.bin.rhs, out);
    case DW_PROMQL_AGGREGATE:
        return instant_only(n->u.agg.expr, out) && instant_only(n->u.agg.param, out);
    case DW_PROMQL_CALL:
        for (size_t i = 0; i < n->u.call.nargs; i++)
            if (!instant_only(n->u.call.args[i], out))
                return false;
        return true;
    }
    return false;
}

static void add_watch(struct dw_ruler *r, const char *name, struct rgroup *g)
{
    struct watch *w = NULL;
    for (size_t i = 0; i < r->nwatches && !w; i++)
        if (strcmp(r->watches[i].name, name) == 0)
            w = &r->watches[i];
    if (!w) {
        r->watches = dw_grow(r->watches, &r->wcap, r->nwatches + 1, sizeof *r->watches);
        w = &r->watches[r->nwatches++];
        *w = (struct watch){.name = dw_strdup(name)};
    }
    for (size_t i = 0; i < w->n; i++)
        if (w->groups[i] == g)
            return;
    w->groups = dw_grow(w->groups, &w->cap, w->n + 1, sizeof *w->groups);
    w->groups[w->n++] = g;
}

static void free_watches(struct watch *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(w[i].name);
        free(w[i].groups);
    }
    free(w);
}

/* ---- groups ---- */

static void rgroup_free(struct rgroup *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->nrs; i++) {
        for (size_t k = 0; k < g->rs[i].nalerts; k++)
            ralert_free(g->rs[i].alerts[k]);
        free(g->rs[i].alerts);
    }
    free(g->rs);
    dw_lsset_release(&g->prev);
    free(g->key);
    free(g);
}

static struct rgroup *rgroup_new(struct dw_ruler *r, const struct dw_rule_group *rg)
{
    struct rgroup *g = dw_calloc(1, sizeof *g);
    g->g = rg;
    g->key = dw_asprintf("%s\x1f%s", rg->file, rg->name);
    g->rs = dw_calloc(rg->nrules ? rg->nrules : 1, sizeof *g->rs);
    g->nrs = rg->nrules;
    for (size_t i = 0; i < rg->nrules; i++) {
        struct rstate *s = &g->rs[i];
        s->rule = &rg->rules[i];
        s->health = -1;
        struct names nm = {0};
        s->threshold = instant_only(dw_promql_root(s->rule->query), &nm) && nm.n > 0;
        for (size_t k = 0; s->threshold && k < nm.n; k++)
            add_watch(r, nm.v[k], g);
        free(nm.v);
    }
    return g;
}

/* Carries alerts and timers of a group over a reload (same file and name). */
static void rgroup_carry(struct rgroup *nw, struct rgroup *old)
{
    nw->prev = old->prev;
    old->prev = (struct dw_lsset){0};
    nw->next_due = old->next_due;
    for (size_t i = 0; i < nw->nrs; i++)
        for (size_t k = 0; k < old->nrs; k++) {
            struct rstate *a = &nw->rs[i], *b = &old->rs[k];
            if (!b->alerts || a->rule->kind != b->rule->kind ||
                strcmp(a->rule->name, b->rule->name) != 0 ||
                strcmp(a->rule->expr, b->rule->expr) != 0)
                continue;
            a->alerts = b->alerts;
            a->nalerts = b->nalerts;
            a->acap = b->acap;
            b->alerts = NULL;
            b->nalerts = b->acap = 0;
            a->last_sent = b->last_sent;
            a->restored = b->restored;
            break;
        }
}

/* ---- one evaluation ---- */

struct geval {
    struct dw_ruler *r;
    struct rgroup *g;
    int64_t ts;
    struct dw_lsset next;
    size_t failed_writes;
};

static void write_sample(struct geval *e, struct dw_label *l, size_t n, double v)
{
    dw_tsdb_labels_sort(l, n);
    if (dw_tsdb_appender_add(e->r->app, l, n, e->ts, v, NULL) != 0) {
        e->failed_writes++;
        return;
    }
    dw_lsset_add(&e->next, l, n);
}

static int run_query(struct geval *e, struct rstate *s, struct dw_promql_result **res)
{
    struct dw_promql_eval_opts o = {.timeout_ms =
                                        e->g->g->interval_ms ? e->g->g->interval_ms : 60000};
    char *err = NULL;
    int rc = dw_promql_eval_instant(&e->r->storage, s->rule->query, e->ts, &o, res, &err);
    if (rc != 0) {
        snprintf(s->error, sizeof s->error, "%s", err ? err : "evaluation failed");
        free(err);
        return -1;
    }
    if ((*res)->type != DW_PROMQL_TYPE_VECTOR && (*res)->type != DW_PROMQL_TYPE_SCALAR) {
        snprintf(s->error, sizeof s->error, "rule result is not a vector or scalar");
        dw_promql_result_free(res);
        return -1;
    }
    return 0;
}

/* A scalar result is one sample without labels, as Prometheus treats it. */
static size_t result_len(const struct dw_promql_result *res)
{
    return res->type == DW_PROMQL_TYPE_SCALAR ? 1 : res->nseries;
}

static void result_at(const struct dw_promql_result *res, size_t i, const struct dw_label **l,
                      size_t *n, double *v)
{
    if (res->type == DW_PROMQL_TYPE_SCALAR) {
        *l = NULL;
        *n = 0;
        *v = res->scalar.v;
        return;
    }
    *l = res->series[i].labels;
    *n = res->series[i].nlabels;
    *v = res->series[i].npoints ? res->series[i].points[0].v : NAN;
}

static int eval_record(struct geval *e, struct rstate *s, const struct dw_promql_result *res)
{
    const struct dw_rule *rule = s->rule;
    for (size_t i = 0; i < result_len(res); i++) {
        const struct dw_label *l;
        size_t n;
        double v;
        result_at(res, i, &l, &n, &v);
        struct lbuild b = {0};
        for (size_t k = 0; k < n; k++)
            lb_set(&b, l[k].name, l[k].value, false);
        lb_set(&b, DW_TSDB_METRIC_NAME, rule->name, false);
        for (size_t k = 0; k < rule->nlabels; k++)
            lb_set(&b, rule->labels[k].name, rule->labels[k].value, false);
        lb_finish(&b);
        write_sample(e, b.l, b.n, v);
        lb_release(&b);
    }
    return 0;
}

static struct ralert *find_alert(struct rstate *s, uint64_t fp, const struct dw_label *l, size_t n)
{
    for (size_t i = 0; i < s->nalerts; i++)
        if (s->alerts[i]->fp == fp &&
            dw_tsdb_labels_cmp(s->alerts[i]->labels, s->alerts[i]->nlabels, l, n) == 0)
            return s->alerts[i];
    return NULL;
}

/* The alert's labels: the sample's without __name__, the rule's (expanded), alertname. */
static void alert_labels(struct geval *e, const struct dw_rule *rule, const struct dw_label *l,
                         size_t n, double v, struct lbuild *b, struct lbuild *base)
{
    for (size_t k = 0; k < n; k++)
        if (strcmp(l[k].name, DW_TSDB_METRIC_NAME) != 0) {
            lb_set(base, l[k].name, l[k].value, false);
            lb_set(b, l[k].name, l[k].value, false);
        }
    dw_tsdb_labels_sort(base->l, base->n);
    for (size_t k = 0; k < rule->nlabels; k++)
        lb_set(b, rule->labels[k].name,
               expand(e->r, &rule->labels[k], base->l, base->n, v, e->ts, rule->name), true);
    lb_set(b, "alertname", rule->name, false);
    lb_finish(b);
}

static void set_annotations(struct geval *e, struct ralert *a, const struct dw_rule *rule,
                            const struct lbuild *base, double v)
{
    struct lbuild ann = {0};
    for (size_t k = 0; k < rule->nannotations; k++)
        lb_set(&ann, rule->annotations[k].name,
               expand(e->r, &rule->annotations[k], base->l, base->n, v, e->ts, rule->name), true);
    free(a->ann);
    a->ann = dw_tsdb_labels_dup(ann.l, ann.n);
    a->nann = ann.n;
    lb_release(&ann);
}

static void upsert_alert(struct geval *e, struct rstate *s, const struct dw_label *l, size_t n,
                         double v)
{
    struct lbuild b = {0}, base = {0};
    alert_labels(e, s->rule, l, n, v, &b, &base);
    uint64_t fp = dw_tsdb_labels_hash(b.l, b.n);
    struct ralert *a = find_alert(s, fp, b.l, b.n);
    if (!a || a->state == DW_RULE_ALERT_RESOLVED) {
        if (!a) {
            a = dw_calloc(1, sizeof *a);
            a->fp = fp;
            a->labels = dw_tsdb_labels_dup(b.l, b.n);
            a->nlabels = b.n;
            s->alerts = dw_grow(s->alerts, &s->acap, s->nalerts + 1, sizeof *s->alerts);
            s->alerts[s->nalerts++] = a;
        }
        a->state = DW_RULE_ALERT_PENDING;
        a->active_at = e->ts;
        a->fired_at = a->resolved_at = 0;
        s->changed = true;
    }
    a->seen = true;
    a->keep_since = 0;
    a->value = v;
    set_annotations(e, a, s->rule, &base, v);
    lb_release(&b);
    lb_release(&base);
}

/* Moves every alert of the rule along its lifecycle after an evaluation. */
static void advance_alerts(struct geval *e, struct rstate *s)
{
    const struct dw_rule *rule = s->rule;
    size_t j = 0;
    for (size_t i = 0; i < s->nalerts; i++) {
        struct ralert *a = s->alerts[i];
        bool drop = false;
        if (!a->seen && a->state == DW_RULE_ALERT_PENDING) {
            drop = true;
            s->changed = true;
        } else if (!a->seen && a->state == DW_RULE_ALERT_FIRING) {
            if (!a->keep_since)
                a->keep_since = e->ts;
            if (e->ts - a->keep_since >= rule->keep_firing_for_ms) {
                a->state = DW_RULE_ALERT_RESOLVED;
                a->resolved_at = e->ts;
                s->changed = true;
            }
        } else if (a->state == DW_RULE_ALERT_RESOLVED) {
            drop = e->ts - a->resolved_at >= RESOLVED_RETENTION_MS;
        } else if (a->seen && a->state == DW_RULE_ALERT_PENDING &&
                   e->ts - a->active_at >= rule->for_ms) {
            a->state = DW_RULE_ALERT_FIRING;
            a->fired_at = e->ts;
            s->changed = true;
        }
        a->seen = false;
        if (drop)
            ralert_free(a);
        else
            s->alerts[j++] = a;
    }
    s->nalerts = j;
}

static const char *state_name(enum dw_rule_alert_state s)
{
    return s == DW_RULE_ALERT_PENDING  ? "pending"
           : s == DW_RULE_ALERT_FIRING ? "firing"
                                       : "inactive";
}

/* ALERTS and ALERTS_FOR_STATE for every active alert of the rule. */
static void write_alert_series(struct geval *e, struct rstate *s)
{
    for (size_t i = 0; i < s->nalerts; i++) {
        const struct ralert *a = s->alerts[i];
        if (a->state == DW_RULE_ALERT_RESOLVED)
            continue;
        struct dw_label *l = dw_malloc((a->nlabels + 2) * sizeof *l);
        memcpy(l, a->labels, a->nlabels * sizeof *l);
        l[a->nlabels] = (struct dw_label){DW_TSDB_METRIC_NAME, "ALERTS"};
        l[a->nlabels + 1] = (struct dw_label){"alertstate", state_name(a->state)};
        write_sample(e, l, a->nlabels + 2, 1);
        memcpy(l, a->labels, a->nlabels * sizeof *l);
        l[a->nlabels] = (struct dw_label){DW_TSDB_METRIC_NAME, "ALERTS_FOR_STATE"};
        write_sample(e, l, a->nlabels + 1, (double)a->active_at / 1000.0);
        free(l);
    }
}

/* After a restart: pending alerts take their activeAt from ALERTS_FOR_STATE. */
static void restore_for_state(struct geval *e, struct rstate *s)
{
    if (!s->rule->for_ms || !s->nalerts)
        return;
    struct dw_tsdb_querier *q =
        dw_tsdb_querier_new(e->r->o.db, e->ts - FOR_STATE_TOLERANCE_MS, e->ts - 1);
    for (size_t i = 0; i < s->nalerts; i++) {
        struct ralert *a = s->alerts[i];
        if (a->state != DW_RULE_ALERT_PENDING)
            continue;
        struct dw_tsdb_matcher **ms = dw_calloc(a->nlabels + 1, sizeof *ms);
        ms[0] = dw_tsdb_matcher_new(DW_MATCH_EQ, DW_TSDB_METRIC_NAME, "ALERTS_FOR_STATE", NULL);
        for (size_t k = 0; k < a->nlabels; k++)
            ms[k + 1] =
                dw_tsdb_matcher_new(DW_MATCH_EQ, a->labels[k].name, a->labels[k].value, NULL);
        struct dw_tsdb_series_set *ss = dw_tsdb_select(q, ms, a->nlabels + 1);
        double last = NAN;
        int64_t t;
        double v;
        while (dw_tsdb_series_set_next(ss)) {
            size_t n;
            dw_tsdb_series_labels(ss, &n);
            if (n != a->nlabels + 1)
                continue; /* a superset: another alert */
            struct dw_tsdb_iter *it = dw_tsdb_series_iter(ss);
            while (dw_tsdb_iter_next(it, &t, &v))
                if (!dw_tsdb_is_stale(v))
                    last = v;
        }
        dw_tsdb_series_set_free(&ss);
        for (size_t k = 0; k <= a->nlabels; k++)
            dw_tsdb_matcher_free(&ms[k]);
        free(ms);
        if (!isnan(last) && (int64_t)(last * 1000) < a->active_at) {
            a->active_at = (int64_t)(last * 1000);
            s->changed = true;
        }
    }
    dw_tsdb_querier_free(&q);
}

static void send_alerts(struct geval *e, struct rstate *s)
{
    if (!e->r->o.alerts || !s->nalerts)
        return;
    if (!s->changed && e->ts - s->last_sent < RESEND_MS)
        return;
    struct dw_rule_alert *out = dw_calloc(s->nalerts, sizeof *out);
    for (size_t i = 0; i < s->nalerts; i++) {
        const struct ralert *a = s->alerts[i];
        out[i] = (struct dw_rule_alert){.labels = a->labels,
                                        .nlabels = a->nlabels,
                                        .annotations = a->ann,
                                        .nannotations = a->nann,
                                        .state = a->state,
                                        .active_at_ms = a->active_at,
                                        .fired_at_ms = a->fired_at,
                                        .resolved_at_ms = a->resolved_at,
                                        .value = a->value,
                                        .generator_url = e->r->external_url};
    }
    e->r->o.alerts(e->r->o.alerts_ctx, out, s->nalerts, e->ts);
    free(out);
    s->last_sent = e->ts;
    s->changed = false;
}

static void eval_rule(struct geval *e, struct rstate *s)
{
    int64_t t0 = dw_mono_ns();
    struct dw_promql_result *res = NULL;
    int rc = run_query(e, s, &res);
    const struct dw_rule *rule = s->rule;
    if (rc == 0 && rule->kind == DW_RULE_RECORD) {
        eval_record(e, s, res);
    } else if (rc == 0) {
        size_t n = result_len(res);
        if (e->g->g->limit > 0 && n > (size_t)e->g->g->limit) {
            snprintf(s->error, sizeof s->error, "exceeded limit of %lld with %zu alerts",
                     (long long)e->g->g->limit, n);
            rc = -1;
        }
        for (size_t i = 0; rc == 0 && i < n; i++) {
            const struct dw_label *l;
            size_t nl;
            double v;
            result_at(res, i, &l, &nl, &v);
            upsert_alert(e, s, l, nl, v);
        }
        if (rc == 0) {
            if (!s->restored)
                restore_for_state(e, s);
            s->restored = true;
            advance_alerts(e, s);
            write_alert_series(e, s);
            send_alerts(e, s);
        }
    }
    dw_promql_result_free(&res);
    s->health = rc == 0;
    if (rc == 0)
        s->error[0] = '\0';
    else
        dw_metric_add(m_failures, (const char *const[]){e->g->g->name}, 1);
    s->last_eval = e->ts;
    s->eval_s = (double)(dw_mono_ns() - t0) / 1e9;
}

/* Evaluates the group's rules (only its threshold rules when `arrival`). */
static void eval_group(struct dw_ruler *r, struct rgroup *g, int64_t ts, bool arrival)
{
    int64_t t0 = dw_mono_ns();
    struct geval e = {.r = r, .g = g, .ts = ts};
    pthread_mutex_lock(&r->lock); /* API readers see a rule's state whole */
    for (size_t i = 0; i < g->nrs; i++)
        if (!arrival || g->rs[i].threshold)
            eval_rule(&e, &g->rs[i]);
    pthread_mutex_unlock(&r->lock);
    if (!arrival) {
        /* Staleness for what disappeared since the last full evaluation. */
        struct dw_lsset_iter it = {0};
        const struct dw_label *l;
        size_t n;
        while ((l = dw_lsset_next(&g->prev, &it, &n)))
            if (!dw_lsset_has(&e.next, l, n))
                dw_tsdb_appender_add(r->app, l, n, ts, dw_tsdb_stale_nan(), NULL);
    }
    char *err = NULL;
    in_own_commit = true;
    int crc = dw_tsdb_appender_commit(r->app, NULL, &err);
    in_own_commit = false;
    if (crc != 0) {
        dw_log_kv(DW_LOG_WARN, "rules", "rule results not stored", "group", g->g->name, "error",
                  err, NULL);
        free(err);
    }
    if (arrival) {
        /* Series written now stay in the memory for the next full evaluation. */
        struct dw_lsset_iter it = {0};
        const struct dw_label *l;
        size_t n;
        while ((l = dw_lsset_next(&e.next, &it, &n)))
            dw_lsset_add(&g->prev, l, n);
        dw_lsset_release(&e.next);
        g->last_arrival_eval = ts;
    } else {
        dw_lsset_release(&g->prev);
        g->prev = e.next;
    }
    double took = (double)(dw_mono_ns() - t0) / 1e9;
    pthread_mutex_lock(&r->lock); /* read by the API */
    if (!arrival)
        g->last_eval = ts;
    g->eval_s = took;
    pthread_mutex_unlock(&r->lock);
    dw_metric_add(m_evals, NULL, 1);
    dw_metric_observe(m_duration, NULL, took);
}

/* ---- the schedule ---- */

static void heap_build(struct dw_ruler *r)
{
    dw_dueheap_clear(&r->heap);
    for (size_t i = 0; i < r->ngroups; i++)
        dw_dueheap_push(&r->heap, r->groups[i]->next_due, r->groups[i]);
}

static int64_t interval_of(const struct rgroup *g)
{
    return g->g->interval_ms > 0 ? g->g->interval_ms : 60000;
}

/* Prometheus spreads groups by a hash of their key within the interval. */
static int64_t first_due(const struct rgroup *g, int64_t now)
{
    int64_t iv = interval_of(g);
    uint64_t h = 1469598103934665603ull;
    for (const char *p = g->key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    int64_t offset = (int64_t)(h % (uint64_t)iv);
    int64_t base = now - ((now % iv) + iv) % iv;
    int64_t t = base + offset;
    return t < now ? t + iv : t;
}

static void run_due(struct dw_ruler *r, int64_t now)
{
    const struct dw_due *top;
    while ((top = dw_dueheap_top(&r->heap)) && top->at <= now) {
        struct rgroup *g = top->item;
        eval_group(r, g, now, false);
        int64_t iv = interval_of(g);
        g->next_due += iv;
        if (g->next_due <= now) /* missed slots: Prometheus skips them too */
            g->next_due += ((now - g->next_due) / iv + 1) * iv;
        dw_dueheap_retime_top(&r->heap, g->next_due);
    }
}

static void run_arrivals(struct dw_ruler *r)
{
    if (!atomic_exchange(&r->any_arrived, false))
        return;
    for (size_t i = 0; i < r->ngroups; i++) {
        struct rgroup *g = r->groups[i];
        if (!atomic_exchange(&g->arrived, false))
            continue;
        /* Read the clock after taking the flag: a commit that set it while the
         * groups before this one were evaluated holds samples newer than the
         * time this pass started, and an evaluation at that time would not
         * see them (the flag would be spent until the next commit). */
        int64_t now = dw_now_ms();
        if (now - g->last_arrival_eval < ARRIVAL_MIN_GAP_MS) {
            atomic_store(&g->arrived, true); /* debounce: a little later */
            atomic_store(&r->any_arrived, true);
            continue;
        }
        dw_metric_add(m_arrivals, NULL, 1);
        eval_group(r, g, now, true);
    }
}

void dw_ruler_data_arrived(struct dw_ruler *r, const char *const *names, size_t n)
{
    if (in_own_commit)
        return;
    bool any = false;
    pthread_mutex_lock(&r->wlock);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < r->nwatches; k++)
            if (strcmp(r->watches[k].name, names[i]) == 0) {
                for (size_t j = 0; j < r->watches[k].n; j++)
                    atomic_store(&r->watches[k].groups[j]->arrived, true);
                any = true;
                break;
            }
    if (any) {
        atomic_store(&r->any_arrived, true);
        pthread_cond_signal(&r->wake);
    }
    pthread_mutex_unlock(&r->wlock);
}

bool dw_ruler_watches(struct dw_ruler *r, const char *name, size_t len)
{
    bool found = false;
    pthread_mutex_lock(&r->wlock);
    for (size_t k = 0; k < r->nwatches && !found; k++)
        found = strlen(r->watches[k].name) == len && memcmp(r->watches[k].name, name, len) == 0;
    pthread_mutex_unlock(&r->wlock);
    return found;
}

/* ---- configuration ---- */

struct rules_section {
    char **files;
    size_t nfiles;
    int64_t interval_ms;
    char *external_url;
};

/* clang-format off */
static const struct dw_schema_field section_fields[] = {
    {.name = "files", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct rules_section, files, nfiles)},
    {.name = "evaluation_interval", .type = DW_SCHEMA_DURATION, .def = "15s", .min = 100,
     .max = 86400000, DW_SCHEMA_AT(struct rules_section, interval_ms)},
    {.name = "external_url", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_URL,
     DW_SCHEMA_AT(struct rules_section, external_url)},
};
/* clang-format on */
static const struct dw_schema section_schema = {section_fields, DW_ARRAY_LEN(section_fields), false,
                                                NULL};

/* The rule files the section names: globs relative to the configuration file. */
static size_t expand_files(const struct dw_config *cfg, const struct rules_section *sec,
                           char ***out, struct dw_diags *diags)
{
    const char *path = dw_config_path(cfg);
    const char *slash = path ? strrchr(path, '/') : NULL;
    char *dir = slash ? dw_strndup(path, (size_t)(slash - path)) : dw_strdup(".");
    size_t n = 0, cap = 0, errors = 0;
    for (size_t i = 0; i < sec->nfiles; i++) {
        char *pat = sec->files[i][0] == '/' ? dw_strdup(sec->files[i])
                                            : dw_asprintf("%s/%s", dir, sec->files[i]);
        glob_t gl;
        int rc = glob(pat, 0, NULL, &gl);
        if (rc != 0) /* like Prometheus: a pattern that matches nothing loads nothing */
            dw_diags_add(diags, path, 0, 0, "rules.files",
                         "warning: %s matches no rule file; no rules from it", pat);
        for (size_t k = 0; rc == 0 && k < gl.gl_pathc; k++) {
            *out = dw_grow(*out, &cap, n + 1, sizeof **out);
            (*out)[n++] = dw_strdup(gl.gl_pathv[k]);
        }
        if (rc == 0)
            globfree(&gl);
        free(pat);
    }
    free(dir);
    *out = dw_grow(*out, &cap, n + 1, sizeof **out);
    (*out)[n] = NULL;
    return errors;
}

/* Loads what cfg's rules section names; NULL set (and errors) on failure. */
static size_t load_rules(const struct dw_config *cfg, struct dw_diags *diags,
                         struct dw_rule_set **set, char **external_url)
{
    struct rules_section sec = {0};
    size_t errors = dw_config_decode_section(cfg, "rules", &section_schema, &sec, NULL, diags);
    char **files = NULL;
    if (!errors)
        errors = expand_files(cfg, &sec, &files, diags);
    size_t n = 0;
    while (files && files[n])
        n++;
    if (!errors &&
        dw_rules_load_files((const char *const *)files, n, sec.interval_ms, set, diags) != 0)
        errors = dw_diags_errors(diags) ? dw_diags_errors(diags) : 1;
    if (external_url)
        *external_url = sec.external_url ? dw_strdup(sec.external_url) : NULL;
    for (size_t i = 0; i < n; i++)
        free(files[i]);
    free(files);
    dw_schema_free(&section_schema, &sec);
    return errors;
}

size_t dw_rules_check_config(const struct dw_config *cfg, struct dw_diags *diags)
{
    struct dw_rule_set *set = NULL;
    size_t errors = load_rules(cfg, diags, &set, NULL);
    dw_rule_set_free(&set);
    return errors;
}

static void register_metrics(void)
{
    m_evals = dw_metric_counter("dojowatch_rule_group_evaluations_total",
                                "Rule group evaluations (on interval and on data arrival).", NULL);
    m_arrivals =
        dw_metric_counter("dojowatch_rule_group_arrival_evaluations_total",
                          "Evaluations of threshold rules triggered by arriving data.", NULL);
    m_failures = dw_metric_counter("dojowatch_rule_evaluation_failures_total",
                                   "Rule evaluations that failed or timed out.", "rule_group");
    static const double bounds[] = {0.0001, 0.001, 0.01, 0.1, 1, 10};
    m_duration =
        dw_metric_histogram("dojowatch_rule_group_duration_seconds",
                            "Time to evaluate a rule group.", NULL, bounds, DW_ARRAY_LEN(bounds));
}

struct dw_ruler *dw_ruler_new(const struct dw_ruler_options *o)
{
    struct dw_ruler *r = dw_calloc(1, sizeof *r);
    r->o = *o;
    r->external_url = dw_strdup(o->external_url ? o->external_url : "");
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->wlock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->wake, &ca);
    pthread_condattr_destroy(&ca);
    dw_promql_tsdb_storage(&r->storage, o->db);
    register_metrics();
    return r;
}

size_t dw_ruler_apply(struct dw_ruler *r, const struct dw_config *cfg, struct dw_diags *diags)
{
    struct dw_rule_set *set = NULL;
    char *url = NULL;
    size_t errors = load_rules(cfg, diags, &set, &url);
    if (errors) {
        free(url);
        return errors;
    }
    pthread_mutex_lock(&r->lock);
    if (r->has_pending)
        dw_rule_set_free(&r->pending);
    r->pending = set;
    r->has_pending = true;
    if (url) {
        free(r->external_url);
        r->external_url = url;
    }
    pthread_mutex_unlock(&r->lock);
    pthread_mutex_lock(&r->wlock);
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->wlock);
    return 0;
}

/* Staleness markers for every series of a removed group. */
static void mark_stale(struct dw_ruler *r, const struct dw_lsset *set, int64_t now)
{
    if (!set->n || !r->app)
        return;
    struct dw_lsset_iter it = {0};
    const struct dw_label *l;
    size_t n;
    while ((l = dw_lsset_next(set, &it, &n)))
        dw_tsdb_appender_add(r->app, l, n, now, dw_tsdb_stale_nan(), NULL);
    in_own_commit = true;
    dw_tsdb_appender_commit(r->app, NULL, NULL);
    in_own_commit = false;
}

/* Rules thread: installs a pending rule set, carrying state over by group key. */
static void take_pending(struct dw_ruler *r)
{
    pthread_mutex_lock(&r->lock);
    if (!r->has_pending) {
        pthread_mutex_unlock(&r->lock);
        return;
    }
    struct dw_rule_set *set = r->pending;
    r->pending = NULL;
    r->has_pending = false;
    pthread_mutex_lock(&r->wlock);
    struct watch *oldw = r->watches;
    size_t noldw = r->nwatches;
    r->watches = NULL;
    r->nwatches = r->wcap = 0;
    struct rgroup **groups = dw_calloc(set->ngroups + 1, sizeof *groups);
    int64_t now = dw_now_ms();
    for (size_t i = 0; i < set->ngroups; i++) {
        groups[i] = rgroup_new(r, &set->groups[i]);
        for (size_t k = 0; k < r->ngroups; k++)
            if (r->groups[k] && strcmp(r->groups[k]->key, groups[i]->key) == 0 &&
                interval_of(r->groups[k]) == interval_of(groups[i]))
                rgroup_carry(groups[i], r->groups[k]);
        if (!groups[i]->next_due)
            groups[i]->next_due = first_due(groups[i], now);
    }
    pthread_mutex_unlock(&r->wlock);
    free_watches(oldw, noldw);
    for (size_t k = 0; k < r->ngroups; k++) {
        mark_stale(r, &r->groups[k]->prev, now); /* empty when carried over */
        rgroup_free(r->groups[k]);
    }
    free(r->groups);
    r->groups = groups;
    r->ngroups = set->ngroups;
    dw_rule_set_free(&r->set);
    r->set = set;
    heap_build(r);
    pthread_mutex_unlock(&r->lock);
    dw_tsdb_watch_reset(r->o.db);
    char n[32];
    snprintf(n, sizeof n, "%zu", set->nrules);
    dw_log_kv(DW_LOG_INFO, "rules", "rules loaded", "rules", n, NULL);
}

static void *rules_main(void *arg)
{
    struct dw_ruler *r = arg;
    pthread_setname_np(pthread_self(), "rules");
    r->app = dw_tsdb_appender_new(r->o.db);
    while (!atomic_load(&r->stop)) {
        take_pending(r);
        int64_t now = dw_now_ms();
        if (dw_tsdb_is_loaded(r->o.db)) {
            run_arrivals(r);
            run_due(r, now);
        }
        int64_t wait = MAX_WAIT_MS;
        if (dw_dueheap_top(&r->heap)) {
            int64_t left = dw_dueheap_top(&r->heap)->at - dw_now_ms();
            wait = left < wait ? (left < 0 ? 0 : left) : wait;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + (wait % 1000) * 1000000;
        ts.tv_sec += wait / 1000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_mutex_lock(&r->wlock);
        if (!atomic_load(&r->any_arrived) && !atomic_load(&r->stop) && !r->has_pending)
            pthread_cond_timedwait(&r->wake, &r->wlock, &ts);
        pthread_mutex_unlock(&r->wlock);
    }
    dw_tsdb_appender_free(&r->app);
    return NULL;
}

int dw_ruler_start(struct dw_ruler *r)
{
    if (r->started)
        return 0;
    atomic_store(&r->stop, false);
    if (pthread_create(&r->thread, NULL, rules_main, r) != 0)
        return -1;
    r->started = true;
    return 0;
}

void dw_ruler_stop(struct dw_ruler *r)
{
    if (!r || !r->started)
        return;
    atomic_store(&r->stop, true);
    pthread_mutex_lock(&r->wlock);
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->wlock);
    pthread_join(r->thread, NULL);
    r->started = false;
}

void dw_ruler_free(struct dw_ruler **rp)
{
    struct dw_ruler *r = rp ? *rp : NULL;
    if (!r)
        return;
    dw_ruler_stop(r);
    for (size_t i = 0; i < r->ngroups; i++)
        rgroup_free(r->groups[i]);
    free(r->groups);
    dw_dueheap_release(&r->heap);
    free_watches(r->watches, r->nwatches);
    dw_rule_set_free(&r->set);
    if (r->has_pending)
        dw_rule_set_free(&r->pending);
    free(r->external_url);
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->wlock);
    pthread_cond_destroy(&r->wake);
    free(r);
    *rp = NULL;
}

/* ---- the API's view (Prometheus' /api/v1/rules and /api/v1/alerts) ---- */

static json_t *pairs_json(const struct dw_label *l, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, l[i].name, json_string(l[i].value));
    return o;
}

static json_t *rule_pairs_json(const struct dw_rule_pair *p, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, p[i].name, json_string(p[i].value));
    return o;
}

static json_t *time_json(int64_t ms)
{
    char buf[40];
    if (!ms)
        return json_string("0001-01-01T00:00:00Z");
    dw_format_rfc3339(ms, buf, sizeof buf);
    return json_string(buf);
}

static json_t *value_json(double v)
{
    struct dw_buf b;
    dw_buf_init(&b, 64);
    dw_promql_format_value(v, &b);
    json_t *j = json_string(b.data ? b.data : "");
    dw_buf_release(&b);
    return j;
}

static json_t *alert_json(const struct ralert *a)
{
    json_t *o = json_object();
    json_object_set_new(o, "labels", pairs_json(a->labels, a->nlabels));
    json_object_set_new(o, "annotations", pairs_json(a->ann, a->nann));
    json_object_set_new(o, "state", json_string(state_name(a->state)));
    json_object_set_new(o, "activeAt", time_json(a->active_at));
    json_object_set_new(o, "value", value_json(a->value));
    if (a->keep_since)
        json_object_set_new(o, "keepFiringSince", time_json(a->keep_since));
    return o;
}

static const char *rule_state(const struct rstate *s)
{
    const char *st = "inactive";
    for (size_t i = 0; i < s->nalerts; i++)
        if (s->alerts[i]->state == DW_RULE_ALERT_FIRING)
            return "firing";
        else if (s->alerts[i]->state == DW_RULE_ALERT_PENDING)
            st = "pending";
    return st;
}

static json_t *rule_json(const struct rstate *s)
{
    const struct dw_rule *rule = s->rule;
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(rule->name));
    json_object_set_new(o, "query", json_string(rule->expr));
    json_object_set_new(o, "labels", rule_pairs_json(rule->labels, rule->nlabels));
    json_object_set_new(o, "health",
                        json_string(s->health < 0 ? "unknown"
                                    : s->health   ? "ok"
                                                  : "err"));
    if (s->error[0])
        json_object_set_new(o, "lastError", json_string(s->error));
    json_object_set_new(o, "evaluationTime", json_real(s->eval_s));
    json_object_set_new(o, "lastEvaluation", time_json(s->last_eval));
    if (rule->kind == DW_RULE_RECORD) {
        json_object_set_new(o, "type", json_string("recording"));
        return o;
    }
    json_object_set_new(o, "state", json_string(rule_state(s)));
    json_object_set_new(o, "duration", json_real((double)rule->for_ms / 1000.0));
    json_object_set_new(o, "keepFiringFor", json_real((double)rule->keep_firing_for_ms / 1000.0));
    json_object_set_new(o, "annotations", rule_pairs_json(rule->annotations, rule->nannotations));
    json_t *alerts = json_array();
    for (size_t i = 0; i < s->nalerts; i++)
        if (s->alerts[i]->state != DW_RULE_ALERT_RESOLVED)
            json_array_append_new(alerts, alert_json(s->alerts[i]));
    json_object_set_new(o, "alerts", alerts);
    json_object_set_new(o, "type", json_string("alerting"));
    return o;
}

json_t *dw_ruler_rules_json(struct dw_ruler *r, const char *type)
{
    bool alerts = !type || !*type || strcmp(type, "alert") == 0;
    bool records = !type || !*type || strcmp(type, "record") == 0;
    json_t *groups = json_array();
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->ngroups; i++) {
        const struct rgroup *g = r->groups[i];
        json_t *rules = json_array();
        for (size_t k = 0; k < g->nrs; k++) {
            bool rec = g->rs[k].rule->kind == DW_RULE_RECORD;
            if ((rec && records) || (!rec && alerts))
                json_array_append_new(rules, rule_json(&g->rs[k]));
        }
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(g->g->name));
        json_object_set_new(o, "file", json_string(g->g->file));
        json_object_set_new(o, "rules", rules);
        json_object_set_new(o, "interval", json_real((double)interval_of(g) / 1000.0));
        json_object_set_new(o, "limit", json_integer(g->g->limit > 0 ? g->g->limit : 0));
        json_object_set_new(o, "evaluationTime", json_real(g->eval_s));
        json_object_set_new(o, "lastEvaluation", time_json(g->last_eval));
        json_array_append_new(groups, o);
    }
    pthread_mutex_unlock(&r->lock);
    json_t *d = json_object();
    json_object_set_new(d, "groups", groups);
    return d;
}

json_t *dw_ruler_alerts_json(struct dw_ruler *r)
{
    json_t *alerts = json_array();
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->ngroups; i++)
        for (size_t k = 0; k < r->groups[i]->nrs; k++) {
            const struct rstate *s = &r->groups[i]->rs[k];
            for (size_t j = 0; j < s->nalerts; j++)
                if (s->alerts[j]->state != DW_RULE_ALERT_RESOLVED)
                    json_array_append_new(alerts, alert_json(s->alerts[j]));
        }
    pthread_mutex_unlock(&r->lock);
    json_t *d = json_object();
    json_object_set_new(d, "alerts", alerts);
    return d;
}
