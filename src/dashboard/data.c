/*
 * data.c - a dashboard's panels evaluated on the server in one answer, and
 * the arithmetic behind it: ranges and steps, threshold judging, legends.
 *
 * DESIGN
 * A data request names a dashboard (and maybe one panel) and a range. The
 * range is resolved first and refused whole (DW_DASHBOARD_EINVAL, HTTP 400)
 * when it passes dashboards.limits: max_range, or max_points per series.
 * The points fall on a grid that ends on `to` (from moves forward to
 * to - k * step), so the last point of a series present now is its value at
 * `to`, the one judged against the thresholds.
 *
 * Each target is evaluated with dw_promql_eval_range(), the function behind
 * /api/v1/query_range, with the options of the configuration's query
 * section (lookback, max_samples, timeout). The timeout is one deadline for
 * the whole answer: every evaluation gets what is left of it. A panel over
 * max_series, or whose points would pass what is left of max_samples for the
 * answer, is answered as an error with the reason and the limit's name; so
 * is a failed query. The other panels are still answered: one slow or broad
 * panel does not blank the dashboard.
 *
 * JSON is written straight into a growing buffer: numbers in Prometheus's
 * shortest round-trip form, NaN as null, infinities as the strings "+Inf"
 * and "-Inf", times as Unix seconds with millisecond decimals.
 *
 * Threads: the caller's; the parsed queries are shared read-only.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard/dashboard_internal.h"

#define SECOND 1000LL
#define MINUTE (60 * SECOND)
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)

/* ---- colours and thresholds ---- */

const char *dw_dashboard_color_name(enum dw_dashboard_color c)
{
    switch (c) {
    case DW_DASHBOARD_GREEN: return "green";
    case DW_DASHBOARD_AMBER: return "amber";
    case DW_DASHBOARD_RED: return "red";
    default: return "unknown";
    }
}

const char *dw_dashboard_threshold_op(const struct dw_dashboard_threshold *t,
                                      enum dw_dashboard_direction dir)
{
    if (dir == DW_DASHBOARD_BELOW_IS_BAD)
        return t->strict ? "<" : "<=";
    return t->strict ? ">" : ">=";
}

static bool crosses(const struct dw_dashboard_threshold *t, enum dw_dashboard_direction dir,
                    double v)
{
    if (dir == DW_DASHBOARD_BELOW_IS_BAD)
        return t->strict ? v < t->value : v <= t->value;
    return t->strict ? v > t->value : v >= t->value;
}

enum dw_dashboard_color dw_dashboard_judge(const struct dw_dashboard_threshold *t, size_t n,
                                           enum dw_dashboard_direction dir, double v, int *index)
{
    enum dw_dashboard_color c = DW_DASHBOARD_GREEN;
    int at = -1;
    if (isnan(v)) {
        c = DW_DASHBOARD_UNKNOWN;
    } else {
        for (size_t i = 0; i < n; i++)
            if (crosses(&t[i], dir, v)) {
                c = t[i].color;
                at = (int)i;
            }
    }
    if (index)
        *index = at;
    return c;
}

/* ---- ranges ---- */

int64_t dw_dashboard_default_step(int64_t span_ms, int64_t target_points)
{
    static const int64_t nice[] = {
        SECOND, 2 * SECOND, 5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND,
        MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
        HOUR,   2 * HOUR,   3 * HOUR,   6 * HOUR,    12 * HOUR,   DAY,
    };
    if (target_points < 2)
        target_points = 2;
    if (span_ms <= 0)
        return SECOND;
    /* floor(span / step) + 1 <= target  <=>  step > span / target */
    int64_t least = span_ms / target_points + 1;
    for (size_t i = 0; i < DW_ARRAY_LEN(nice); i++)
        if (nice[i] >= least)
            return nice[i];
    return (least / DAY + (least % DAY != 0)) * DAY;
}

static char *range_error(const char *fmt, ...) DW_PRINTF(1, 2);
static char *range_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = dw_vasprintf(fmt, ap);
    va_end(ap);
    return s;
}

int dw_dashboard_resolve_range(const struct dw_dashboard_limits *lim, int64_t default_range_ms,
                               int64_t now_ms, const struct dw_dashboard_range_in *in,
                               struct dw_dashboard_range *out, char **err)
{
    char a[40], b[40];
    int64_t to = in->to_set ? in->to_ms : now_ms;
    int64_t from = in->from_set ? in->from_ms : to - default_range_ms;
    if (to < from) {
        *err = range_error("to is before from: ask for from <= to");
        return DW_DASHBOARD_EINVAL;
    }
    /* to - from without overflow: a span past max_range is refused either way. */
    bool huge = from < 0 && to > INT64_MAX + from;
    int64_t span = huge ? INT64_MAX : to - from;
    if (span > lim->max_range_ms) {
        dw_format_duration(huge ? INT64_MAX : span, a, sizeof a);
        dw_format_duration(lim->max_range_ms, b, sizeof b);
        *err = range_error("the range is %s; the limit is %s (dashboards.limits.max_range): "
                           "ask for a shorter range",
                           a, b);
        return DW_DASHBOARD_EINVAL;
    }
    int64_t step = in->step_set ? in->step_ms : dw_dashboard_default_step(span, lim->target_points);
    if (step <= 0) {
        *err = range_error("step must be a positive duration (at least 1ms), like 30s or 60");
        return DW_DASHBOARD_EINVAL;
    }
    int64_t points = span / step + 1;
    if (points > lim->max_points) {
        int64_t least = span / lim->max_points + 1; /* as in dw_dashboard_default_step */
        dw_format_duration(step, a, sizeof a);
        dw_format_duration(least, b, sizeof b);
        *err = range_error("step %s gives %lld points per series; the limit is %lld "
                           "(dashboards.limits.max_points): use a step of at least %s",
                           a, (long long)points, (long long)lim->max_points, b);
        return DW_DASHBOARD_EINVAL;
    }
    out->to_ms = to;
    out->step_ms = step;
    out->from_ms = to - (points - 1) * step;
    out->points = points;
    return 0;
}

int64_t dash_row_refresh(const struct dash_set *s, const struct dash_board *b,
                         const struct dash_row *r, int64_t now_ms, const char **from)
{
    if (r->refresh_ms) {
        *from = "row";
        return r->refresh_ms;
    }
    if (b->cadence_from && r->cls) {
        int64_t c = dw_plan_interval_at(s->cfg, (enum dw_check_class)(r->cls - 1), now_ms);
        if (c > 0) {
            *from = "plan";
            return c;
        }
    }
    *from = "dashboard";
    return b->refresh_ms;
}

/* ---- JSON pieces ---- */

void dash_json_string(struct dw_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    dw_buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        size_t w = dw_utf8_seq(p + i, n - i, NULL);
        if (w == 0) {
            dw_buf_puts(b, "\\ufffd");
            i++;
        } else if (p[i] == '"' || p[i] == '\\') {
            dw_buf_putc(b, '\\');
            dw_buf_putc(b, (char)p[i++]);
        } else if (p[i] < 0x20 || p[i] == 0x7f) {
            dw_buf_printf(b, "\\u%04x", p[i++]);
        } else {
            dw_buf_append(b, s + i, w);
            i += w;
        }
    }
    dw_buf_putc(b, '"');
}

static void json_value(struct dw_buf *b, double v)
{
    if (isnan(v))
        dw_buf_puts(b, "null");
    else if (isinf(v))
        dw_buf_puts(b, v > 0 ? "\"+Inf\"" : "\"-Inf\"");
    else
        dw_promql_format_value(v, b);
}

static void json_point(struct dw_buf *b, const struct dw_promql_point *p)
{
    dw_buf_putc(b, '[');
    dw_promql_format_time(p->t, b);
    dw_buf_putc(b, ',');
    json_value(b, p->v);
    dw_buf_putc(b, ']');
}

/* ---- legends ---- */

static const char *label_value(const struct dw_label *labels, size_t n, const char *name,
                               size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(labels[i].name) == len && strncmp(labels[i].name, name, len) == 0)
            return labels[i].value;
    return "";
}

void dash_legend_render(const char *tmpl, const struct dw_label *labels, size_t n,
                        struct dw_buf *out)
{
    const char *p = tmpl;
    for (const char *open; (open = strstr(p, "{{"));) {
        const char *name = open + 2;
        while (*name == ' ')
            name++;
        size_t len = strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789_");
        const char *close = name + len;
        while (*close == ' ')
            close++;
        if (len == 0 || strncmp(close, "}}", 2) != 0) { /* checked at load; kept literally */
            dw_buf_append(out, p, (size_t)(name - p));
            p = name;
            continue;
        }
        dw_buf_append(out, p, (size_t)(open - p));
        dw_buf_puts(out, label_value(labels, n, name, len));
        p = close + 2;
    }
    dw_buf_puts(out, p);
}

/* Without a template: name{a="b", c="d"} like Prometheus prints a series, or the fallback. */
static void default_legend(const struct dw_promql_series *s, const char *fallback,
                           struct dw_buf *out)
{
    const char *name = NULL;
    size_t others = 0;
    for (size_t i = 0; i < s->nlabels; i++) {
        if (strcmp(s->labels[i].name, DW_TSDB_METRIC_NAME) == 0)
            name = s->labels[i].value;
        else
            others++;
    }
    if (!name && !others) {
        dw_buf_puts(out, fallback);
        return;
    }
    if (name)
        dw_buf_puts(out, name);
    if (!others)
        return;
    dw_buf_putc(out, '{');
    bool first = true;
    for (size_t i = 0; i < s->nlabels; i++) {
        if (strcmp(s->labels[i].name, DW_TSDB_METRIC_NAME) == 0)
            continue;
        dw_buf_printf(out, "%s%s=\"", first ? "" : ", ", s->labels[i].name);
        dw_buf_put_label_value(out, s->labels[i].value);
        dw_buf_putc(out, '"');
        first = false;
    }
    dw_buf_putc(out, '}');
}

/* ---- one panel ---- */

/* What one answer may still spend. */
struct budget {
    int64_t deadline_ns; /* dw_mono_ns() */
    int64_t samples;     /* points the answer may still hold */
};

struct judged {
    enum dw_dashboard_color color;
    int index; /* the threshold that decided, -1 for none */
};

/* unknown < green < amber < red: a panel shows its worst known series. */
static int rank(enum dw_dashboard_color c)
{
    return c == DW_DASHBOARD_UNKNOWN ? 0 : (int)c + 1;
}

static void json_threshold(struct dw_buf *b, const struct dash_panel *p, struct judged j)
{
    int i = j.index >= 0 ? j.index : 0;
    if (j.color == DW_DASHBOARD_UNKNOWN || !p->nthresholds) {
        dw_buf_puts(b, "null");
        return;
    }
    const struct dw_dashboard_threshold *t = &p->thresholds[i];
    dw_buf_puts(b, "{\"value\":");
    json_value(b, t->value);
    dw_buf_printf(b, ",\"color\":\"%s\",\"op\":\"%s\",\"crossed\":%s}",
                  dw_dashboard_color_name(t->color), dw_dashboard_threshold_op(t, p->direction),
                  j.index >= 0 ? "true" : "false");
}

static void json_state(struct dw_buf *b, const struct dash_panel *p, struct judged j)
{
    dw_buf_puts(b, ",\"state\":");
    if (p->nthresholds)
        dw_buf_printf(b, "\"%s\"", dw_dashboard_color_name(j.color));
    else
        dw_buf_puts(b, "null");
    dw_buf_puts(b, ",\"threshold\":");
    json_threshold(b, p, j);
}

/* The value at `to` judged: UNKNOWN when the series has no point there. */
static struct judged judge_series(const struct dash_panel *p, const struct dw_promql_series *s,
                                  int64_t to)
{
    struct judged j = {DW_DASHBOARD_UNKNOWN, -1};
    if (s->npoints && s->points[s->npoints - 1].t == to)
        j.color = dw_dashboard_judge(p->thresholds, p->nthresholds, p->direction,
                                     s->points[s->npoints - 1].v, &j.index);
    return j;
}

static void json_series(struct dw_buf *b, const struct dash_panel *p, const struct dash_target *t,
                        const struct dw_promql_series *s, struct judged j)
{
    dw_buf_puts(b, "{\"labels\":{");
    for (size_t i = 0; i < s->nlabels; i++) {
        if (i)
            dw_buf_putc(b, ',');
        dash_json_string(b, s->labels[i].name);
        dw_buf_putc(b, ':');
        dash_json_string(b, s->labels[i].value);
    }
    struct dw_buf legend;
    dw_buf_init(&legend, 0);
    if (t->legend)
        dash_legend_render(t->legend, s->labels, s->nlabels, &legend);
    else
        default_legend(s, p->ntargets == 1 ? p->title : t->query.text, &legend);
    dw_buf_puts(b, "},\"legend\":");
    dash_json_string(b, legend.data ? legend.data : "");
    dw_buf_release(&legend);
    dw_buf_puts(b, ",\"values\":[");
    for (size_t i = 0; i < s->npoints; i++) {
        if (i)
            dw_buf_putc(b, ',');
        json_point(b, &s->points[i]);
    }
    dw_buf_puts(b, "],\"last\":");
    if (s->npoints)
        json_point(b, &s->points[s->npoints - 1]);
    else
        dw_buf_puts(b, "null");
    json_state(b, p, j);
    dw_buf_putc(b, '}');
}

static void panel_head(struct dw_buf *b, const struct dash_panel *p, int64_t to)
{
    dw_buf_puts(b, "{\"id\":");
    dash_json_string(b, p->id);
    dw_buf_puts(b, ",\"evaluatedAt\":");
    dw_promql_format_time(to, b);
}

static void panel_error(struct dw_buf *b, const struct dash_panel *p, int64_t to, const char *msg)
{
    panel_head(b, p, to);
    dw_buf_puts(b, ",\"status\":\"error\",\"error\":");
    dash_json_string(b, msg);
    json_state(b, p, (struct judged){DW_DASHBOARD_UNKNOWN, -1});
    dw_buf_puts(b, ",\"series\":[]}");
}

/*
 * Evaluates every target of p into res[] (p->ntargets entries, zeroed by the
 * caller). NULL on success, else the panel's error message (heap).
 */
static char *eval_targets(const struct dash_panel *p, const struct dw_promql_storage *st,
                          const struct dw_dashboard_range *rg,
                          const struct dw_dashboard_limits *lim, struct dw_promql_eval_opts opts,
                          struct budget *bud, struct dw_promql_result **res)
{
    size_t series = 0;
    int64_t samples = 0;
    for (size_t i = 0; i < p->ntargets; i++) {
        int64_t left_ms = (bud->deadline_ns - dw_mono_ns()) / 1000000;
        if (left_ms <= 0)
            return dw_strdup("query timed out in expression evaluation (query.timeout is spent "
                             "by the panels before this one)");
        opts.timeout_ms = left_ms;
        char *err = NULL;
        int rc = dw_promql_eval_range(st, p->targets[i].query.expr, rg->from_ms, rg->to_ms,
                                      rg->step_ms, &opts, &res[i], &err);
        if (rc < 0) {
            char *msg = p->ntargets > 1 ? dw_asprintf("target %zu: %s", i + 1, err ? err : "failed")
                                        : dw_strdup(err ? err : "query failed");
            free(err);
            return msg;
        }
        series += res[i]->nseries;
        for (size_t k = 0; k < res[i]->nseries; k++)
            samples += (int64_t)res[i]->series[k].npoints;
    }
    if ((int64_t)series > lim->max_series)
        return dw_asprintf("the panel gives %zu series; the limit is %lld "
                           "(dashboards.limits.max_series): aggregate (sum by (...)) or narrow "
                           "the label matchers",
                           series, (long long)lim->max_series);
    if (samples > bud->samples)
        return dw_asprintf("the panel's %lld points would pass what is left of the answer's "
                           "limit of %lld (dashboards.limits.max_samples): ask for a larger step "
                           "or fewer panels (panel=)",
                           (long long)samples, (long long)lim->max_samples);
    bud->samples -= samples;
    return NULL;
}

static void eval_panel(struct dw_buf *b, const struct dash_panel *p,
                       const struct dw_promql_storage *st, const struct dw_dashboard_range *rg,
                       const struct dw_dashboard_limits *lim,
                       const struct dw_promql_eval_opts *opts, struct budget *bud)
{
    struct dw_promql_result **res = dw_calloc(p->ntargets, sizeof *res);
    char *err = eval_targets(p, st, rg, lim, *opts, bud, res);
    if (err) {
        panel_error(b, p, rg->to_ms, err);
        free(err);
    } else {
        struct judged worst = {DW_DASHBOARD_UNKNOWN, -1};
        struct dw_buf series;
        dw_buf_init(&series, 0);
        bool first = true;
        for (size_t i = 0; i < p->ntargets; i++)
            for (size_t k = 0; k < res[i]->nseries; k++) {
                struct judged j = judge_series(p, &res[i]->series[k], rg->to_ms);
                if (rank(j.color) > rank(worst.color))
                    worst = j;
                if (!first)
                    dw_buf_putc(&series, ',');
                json_series(&series, p, &p->targets[i], &res[i]->series[k], j);
                first = false;
            }
        panel_head(b, p, rg->to_ms);
        dw_buf_puts(b, ",\"status\":\"ok\",\"error\":null");
        json_state(b, p, worst);
        dw_buf_puts(b, ",\"series\":[");
        if (series.len)
            dw_buf_append(b, series.data, series.len);
        dw_buf_puts(b, "]}");
        dw_buf_release(&series);
    }
    for (size_t i = 0; i < p->ntargets; i++)
        dw_promql_result_free(&res[i]);
    free(res);
}

/* The engine's options from the set's query section (api_query.c reads the same). */
static struct dw_promql_eval_opts eval_opts(const struct dash_set *s, const atomic_bool *cancel,
                                            int64_t *timeout_ms)
{
    const struct dw_plan_query *q = dw_config_query(s->cfg);
    struct dw_promql_eval_opts o = {.cancel = cancel, .max_points = (size_t)s->y.limits.max_points};
    if (q->max_samples > 0)
        o.max_samples = (size_t)q->max_samples;
    if (q->lookback_ms > 0)
        o.lookback_ms = q->lookback_ms;
    *timeout_ms = q->timeout_ms > 0 ? q->timeout_ms : DW_PROMQL_DEFAULT_TIMEOUT_MS;
    return o;
}

static const struct dash_panel *panel_find(const struct dash_board *b, const char *id)
{
    for (size_t r = 0; r < b->nrows; r++)
        for (size_t i = 0; i < b->rows[r].npanels; i++)
            if (strcmp(b->rows[r].panels[i].id, id) == 0)
                return &b->rows[r].panels[i];
    return NULL;
}

static int answer(const struct dash_set *s, const struct dash_board *b,
                  const struct dw_promql_storage *st, const struct dw_dashboard_data_request *rq,
                  struct dw_buf *out, char **err)
{
    const struct dash_panel *only = NULL;
    if (rq->panel && !(only = panel_find(b, rq->panel))) {
        *err = dw_asprintf("no panel \"%s\" in dashboard \"%s\"", rq->panel, b->id);
        return DW_DASHBOARD_ENOTFOUND;
    }
    struct dw_dashboard_range rg;
    int rc = dw_dashboard_resolve_range(&s->y.limits, b->time_range_ms, rq->now_ms, &rq->range, &rg,
                                        err);
    if (rc)
        return rc;
    int64_t timeout_ms;
    struct dw_promql_eval_opts opts = eval_opts(s, rq->cancel, &timeout_ms);
    struct budget bud = {dw_mono_ns() + timeout_ms * 1000000, s->y.limits.max_samples};
    dw_buf_puts(out, "{\"dashboard\":");
    dash_json_string(out, b->id);
    dw_buf_puts(out, ",\"from\":");
    dw_promql_format_time(rg.from_ms, out);
    dw_buf_puts(out, ",\"to\":");
    dw_promql_format_time(rg.to_ms, out);
    dw_buf_puts(out, ",\"step\":");
    dw_promql_format_time(rg.step_ms, out);
    dw_buf_puts(out, ",\"phase\":");
    dash_json_string(out, dw_plan_phase_at(s->cfg, rq->now_ms)->name);
    dw_buf_puts(out, ",\"panels\":[");
    bool first = true;
    for (size_t r = 0; r < b->nrows; r++)
        for (size_t i = 0; i < b->rows[r].npanels; i++) {
            const struct dash_panel *p = &b->rows[r].panels[i];
            if (only && p != only)
                continue;
            if (!first)
                dw_buf_putc(out, ',');
            eval_panel(out, p, st, &rg, &s->y.limits, &opts, &bud);
            first = false;
        }
    dw_buf_puts(out, "]}");
    return 0;
}

int dw_dashboard_data(struct dw_dashboards *d, const struct dw_promql_storage *storage,
                      const struct dw_dashboard_data_request *rq, struct dw_buf *out, char **err)
{
    struct dash_set *s = dash_current(d);
    const struct dash_board *b = dash_board_find(s, rq->id);
    int rc;
    if (!b) {
        *err = dw_asprintf("no dashboard \"%s\"", rq->id ? rq->id : "");
        rc = DW_DASHBOARD_ENOTFOUND;
    } else {
        size_t mark = out->len;
        rc = answer(s, b, storage, rq, out, err);
        if (rc && out->data) {
            out->len = mark;
            out->data[mark] = '\0';
        }
    }
    dash_set_unref(&s);
    return rc;
}

/* ---- the plan's KPIs, measured ---- */

bool dw_dashboard_kpi_met(const char *op, double v, double target)
{
    if (!op || v != v)
        return false;
    if (strcmp(op, "<") == 0)
        return v < target;
    if (strcmp(op, "<=") == 0)
        return v <= target;
    if (strcmp(op, ">") == 0)
        return v > target;
    if (strcmp(op, ">=") == 0)
        return v >= target;
    return v == target;
}

/* The first value of an instant result (a scalar, or the first series' sample); false: none. */
static bool first_value(const struct dw_promql_result *r, double *v)
{
    if (r->type == DW_PROMQL_TYPE_SCALAR) {
        *v = r->scalar.v;
        return true;
    }
    if (r->nseries && r->series[0].npoints) {
        *v = r->series[0].points[r->series[0].npoints - 1].v;
        return true;
    }
    return false;
}

static json_t *kpi_json(const struct dash_set *s, const struct dw_plan_objective *o,
                        const struct dw_promql_storage *storage, int64_t now)
{
    json_t *k = json_pack("{s:s, s:s?, s:s?, s:s?, s:f, s:s?, s:s?}", "id", o->id, "name", o->name,
                          "group", o->group, "op", o->op, "target", o->target, "unit", o->unit,
                          "description", o->description);
    const struct dash_kpi *q = NULL;
    for (size_t i = 0; i < s->y.nkpis && !q; i++)
        if (strcmp(s->y.kpis[i].id, o->id) == 0)
            q = &s->y.kpis[i];
    if (!q || !q->query.expr) {
        json_object_set_new(k, "query", json_null());
        json_object_set_new(k, "state", json_null());
        return k;
    }
    int64_t timeout_ms;
    struct dw_promql_eval_opts opts = eval_opts(s, NULL, &timeout_ms);
    opts.timeout_ms = timeout_ms;
    opts.max_samples = (size_t)s->y.limits.max_samples;
    struct dw_promql_result *r = NULL;
    char *err = NULL;
    double v = 0;
    bool have = dw_promql_eval_instant(storage, q->query.expr, now, &opts, &r, &err) == 0 &&
                first_value(r, &v) && v == v;
    json_object_set_new(k, "query", json_string(q->query.text));
    json_object_set_new(k, "value", have ? json_real(v) : json_null());
    json_object_set_new(k, "state",
                        json_string(!have                                       ? "unknown"
                                    : dw_dashboard_kpi_met(o->op, v, o->target) ? "met"
                                                                                : "missed"));
    json_object_set_new(k, "error", err ? json_string(err) : json_null());
    json_object_set_new(k, "evaluatedAt", json_integer(now / 1000));
    dw_promql_result_free(&r);
    free(err);
    return k;
}

json_t *dw_dashboard_kpis_json(struct dw_dashboards *d, const struct dw_promql_storage *storage,
                               int64_t now)
{
    struct dash_set *s = dash_current(d);
    size_t n = 0;
    const struct dw_plan_objective *kpis = dw_config_kpis(s->cfg, &n);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, kpi_json(s, &kpis[i], storage, now));
    dash_set_unref(&s);
    return out;
}
