/*
 * config.c - the `dashboards` section: limits, dashboards, rows, panels,
 * their queries, units, thresholds and links.
 *
 * DESIGN
 * Decoded with the plan's schema walker, so every problem is reported at
 * file:line:col with its key path, and the section is closed (a misspelt
 * key is an error with "did you mean"). Checks that need one object run as
 * the walker leaves it (a panel's thresholds, a row's refresh); checks that
 * need several run after the walk (time ranges against limits.max_range,
 * query lengths against the configuration's query.max_length).
 *
 * Queries are parsed by the PromQL front end while they are decoded (a
 * CUSTOM field), so a bad query is refused at its own position with the
 * parser's "line:col: parse error: ..." inside the query; the parsed tree
 * is kept and shared by every data request. A query must give an instant
 * vector or a scalar: panels are evaluated as range queries.
 *
 * After a clean walk, the set is normalised for the readers: a panel's
 * `query` becomes its single target, thresholds get their public form, and
 * widths and gauge scales get their defaults.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard/dashboard_internal.h"

/* A query longer than this is refused by the parser; query.max_length (at most this) is
 * checked after the walk with its own message. */
#define QUERY_PARSE_MAX (1u << 20)

static const char *const color_names[] = {"green", "amber", "red", NULL};
static const char *const op_names[] = {"", ">=", ">", "<=", "<", NULL};
static const char *const direction_names[] = {"above_is_bad", "below_is_bad", NULL};
static const char *const kind_names[] = {"timeseries", "stat",        "gauge", "table",
                                         "heatmap",    "status_grid", NULL};
/* Index 0 ("") cannot be chosen: it stands for "no class". */
static const char *const class_names[] = {"",         "system_health",        "user_experience",
                                          "business", "performance_analysis", NULL};
static const char *const cadence_names[] = {"", "plan", NULL};
static const char *const unit_names[] = {
    "none",    "count", "percent", "ratio",      "seconds",  "ms",      "bytes",
    "bytes/s", "req/s", "ops/s",   "per_minute", "per_hour", "per_day", NULL,
};
#define UNIT_EXPECT                                                                                \
    "a unit: none, count, percent (0-100), ratio (0-1), seconds, ms, bytes, bytes/s, req/s, "      \
    "ops/s, per_minute, per_hour, per_day or currency:<ISO 4217 code>"

const char *dash_kind_name(int kind)
{
    return kind >= 0 && kind < (int)DW_ARRAY_LEN(kind_names) - 1 ? kind_names[kind] : "?";
}

const char *dash_unit(const struct dash_panel *p)
{
    return p->unit ? p->unit : "none";
}

static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > DASH_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              (i > 0 && (c == '-' || c == '_'))))
            return false;
    }
    return true;
}

/* ---- CUSTOM scalars: queries and units ---- */

static void release_query(void *dst)
{
    struct dash_query *q = dst;
    free(q->text);
    q->text = NULL;
    dw_promql_free(&q->expr);
}

static bool decode_query(struct dw_schema_ctx *ctx, const char *value, void *dst)
{
    struct dash_query *q = dst;
    release_query(q);
    q->text = dw_strdup(value);
    if (!*value) {
        dw_schema_error(ctx, "the query is empty");
        return true;
    }
    struct dw_promql_limits lim = {.max_query_len = QUERY_PARSE_MAX};
    struct dw_promql_error perr;
    if (dw_promql_parse(value, strlen(value), &lim, &q->expr, &perr) != 0) {
        struct dw_buf msg;
        dw_buf_init(&msg, 0);
        dw_promql_error_format(&perr, &msg);
        dw_schema_error(ctx, "invalid PromQL query: %s", msg.data ? msg.data : "?");
        dw_buf_release(&msg);
        dw_promql_error_release(&perr);
        return true;
    }
    enum dw_promql_type t = dw_promql_root(q->expr)->type;
    if (t != DW_PROMQL_TYPE_VECTOR && t != DW_PROMQL_TYPE_SCALAR) {
        dw_schema_error(ctx,
                        "the query gives a %s; a panel is evaluated as a range query and needs "
                        "an instant vector or a scalar (wrap a range in rate(), avg_over_time() "
                        "or last_over_time())",
                        dw_promql_type_name(t));
        dw_promql_free(&q->expr);
    }
    return true;
}

static bool currency_unit(const char *s)
{
    if (!dw_str_has_prefix(s, "currency:") || strlen(s) != 12)
        return false;
    for (size_t i = 9; i < 12; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return false;
    return true;
}

static bool decode_unit(struct dw_schema_ctx *ctx, const char *value, void *dst)
{
    char **out = dst;
    bool known = currency_unit(value);
    for (size_t i = 0; !known && unit_names[i]; i++)
        known = strcmp(unit_names[i], value) == 0;
    if (!known) {
        const char *best = dw_suggest(value, unit_names, DW_ARRAY_LEN(unit_names) - 1);
        if (dw_str_has_prefix(value, "currency"))
            dw_schema_error(ctx,
                            "\"%s\" is not a currency unit: write currency:<ISO 4217 code> "
                            "like currency:EUR",
                            value);
        else if (best)
            dw_schema_error(ctx, "unknown unit \"%s\" (did you mean \"%s\"?)", value, best);
        else
            dw_schema_error(ctx, "unknown unit \"%s\"; expected " UNIT_EXPECT, value);
        return true;
    }
    free(*out);
    *out = dw_strdup(value);
    return true;
}

/* ---- legends: "{{label}}" templates ---- */

static bool label_char(char c, bool first)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (!first && c >= '0' && c <= '9');
}

/* NULL when tmpl is a valid template, else why not (static text). */
static const char *legend_problem(const char *tmpl)
{
    for (const char *p = strstr(tmpl, "{{"); p; p = strstr(p, "{{")) {
        p += 2;
        while (*p == ' ')
            p++;
        if (!label_char(*p, true))
            return "expected a label name after \"{{\", like {{instance}}";
        while (label_char(*p, false))
            p++;
        while (*p == ' ')
            p++;
        if (strncmp(p, "}}", 2) != 0)
            return "\"{{\" is not closed by \"}}\" after the label name";
        p += 2;
    }
    return NULL;
}

static void check_legend(struct dw_schema_ctx *ctx, char *const *legend)
{
    const char *why = *legend ? legend_problem(*legend) : NULL;
    if (why)
        dw_schema_error_at(ctx, legend, "bad legend \"%s\": %s", *legend, why);
}

/* ---- objects ---- */

static void check_link(struct dw_schema_ctx *ctx, void *obj)
{
    struct dash_link *l = obj;
    if (l->url && !dw_str_has_prefix(l->url, "http://") && !dw_str_has_prefix(l->url, "https://") &&
        l->url[0] != '/')
        dw_schema_error_at(ctx, &l->url,
                           "\"%s\" is not a link: write an http(s) URL or a path starting with /",
                           l->url);
}

static const struct dw_schema_field link_fields[] = {
    {.name = "title",
     .type = DW_SCHEMA_STRING,
     .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dash_link, title)},
    {.name = "url",
     .type = DW_SCHEMA_STRING,
     .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dash_link, url)},
};
static const struct dw_schema link_schema = {link_fields, DW_ARRAY_LEN(link_fields), false,
                                             check_link};

#define QUERY_FIELD(owner, member, flags_)                                                         \
    {                                                                                              \
        .name = "query", .type = DW_SCHEMA_CUSTOM, .flags = flags_, DW_SCHEMA_AT(owner, member),   \
        .decode = decode_query, .release = release_query, .expect = "a PromQL query (a string)"    \
    }

static void check_target(struct dw_schema_ctx *ctx, void *obj)
{
    struct dash_target *t = obj;
    check_legend(ctx, &t->legend);
}

static const struct dw_schema_field target_fields[] = {
    QUERY_FIELD(struct dash_target, query, DW_SCHEMA_REQUIRED),
    {.name = "legend", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct dash_target, legend)},
};
static const struct dw_schema target_schema = {target_fields, DW_ARRAY_LEN(target_fields), false,
                                               check_target};

static const struct dw_schema_field threshold_fields[] = {
    {.name = "value",
     .type = DW_SCHEMA_NUMBER,
     .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dash_threshold_in, value)},
    {.name = "color",
     .type = DW_SCHEMA_ENUM,
     .flags = DW_SCHEMA_REQUIRED,
     .values = color_names,
     DW_SCHEMA_AT(struct dash_threshold_in, color)},
    {.name = "op",
     .type = DW_SCHEMA_ENUM,
     .values = op_names,
     DW_SCHEMA_AT(struct dash_threshold_in, op)},
};
static const struct dw_schema threshold_schema = {threshold_fields, DW_ARRAY_LEN(threshold_fields),
                                                  false, NULL};

/* The public form of a configured threshold. */
static struct dw_dashboard_threshold threshold_of(const struct dash_threshold_in *in)
{
    return (struct dw_dashboard_threshold){
        .value = in->value,
        .color = (enum dw_dashboard_color)in->color,
        .strict = in->op == 2 || in->op == 4,
    };
}

/*
 * Thresholds are listed from the first to cross to the last: values strictly
 * ascending when above is bad, strictly descending when below is bad, and
 * colours never getting better. An explicit op must point the same way.
 */
static void check_thresholds(struct dw_schema_ctx *ctx, struct dash_panel *p)
{
    bool below = p->direction == DW_DASHBOARD_BELOW_IS_BAD;
    for (size_t i = 0; i < p->nthresholds; i++) {
        struct dash_threshold_in *t = &p->thresholds_in[i];
        if (t->op && (t->op >= 3) != below)
            dw_schema_error_at(ctx, &t->op, "op \"%s\" does not fit direction %s: use %s",
                               op_names[t->op], direction_names[p->direction],
                               below ? "<= or <" : ">= or >");
        if (i == 0)
            continue;
        struct dash_threshold_in *prev = &p->thresholds_in[i - 1];
        if (below ? t->value >= prev->value : t->value <= prev->value)
            dw_schema_error_at(ctx, &t->value,
                               "thresholds out of order: %g comes after %g; with direction %s "
                               "list them from the first crossed to the last, values %s",
                               t->value, prev->value, direction_names[p->direction],
                               below ? "descending" : "ascending");
        else if (t->color < prev->color)
            dw_schema_error_at(ctx, &t->color,
                               "thresholds out of order: %s at %g comes after %s at %g; colours "
                               "go from green to amber to red as values get worse",
                               color_names[t->color], t->value, color_names[prev->color],
                               prev->value);
    }
}

static void check_gauge(struct dw_schema_ctx *ctx, struct dash_panel *p)
{
    const char *unit = dash_unit(p);
    bool scaled = strcmp(unit, "percent") == 0 || strcmp(unit, "ratio") == 0;
    if (p->kind == DASH_GAUGE && !p->has_max && !scaled)
        dw_schema_error(ctx, "a gauge needs max (its scale) unless its unit is percent or ratio");
    if (p->has_min && p->has_max && p->min >= p->max)
        dw_schema_error_at(ctx, &p->max, "max (%g) must be greater than min (%g)", p->max, p->min);
}

static void check_panel(struct dw_schema_ctx *ctx, void *obj)
{
    struct dash_panel *p = obj;
    if (p->id && !valid_id(p->id))
        dw_schema_error_at(ctx, &p->id,
                           "\"%s\" is not a panel id: use 1 to %d of a-z, 0-9, - and _ (it "
                           "appears in URLs as ?panel=<id>)",
                           p->id, DASH_ID_MAX);
    bool query = dw_schema_seen(ctx, &p->query), targets = dw_schema_seen(ctx, &p->targets);
    if (query && targets)
        dw_schema_error_at(ctx, &p->targets,
                           "write either query (one query) or targets (several), not both");
    else if (!query && !targets)
        dw_schema_error(ctx, "a panel needs a query (or targets: [{query, legend}])");
    else if (targets && p->ntargets == 0)
        dw_schema_error_at(ctx, &p->targets, "targets is empty");
    else if (p->ntargets > DASH_MAX_TARGETS)
        dw_schema_error_at(ctx, &p->targets, "too many targets (%zu, at most %d)", p->ntargets,
                           DASH_MAX_TARGETS);
    if (targets && p->legend)
        dw_schema_error_at(ctx, &p->legend,
                           "legend goes with query; with targets each target has its own legend");
    check_legend(ctx, &p->legend);
    p->has_decimals = dw_schema_seen(ctx, &p->decimals);
    p->has_min = dw_schema_seen(ctx, &p->min);
    p->has_max = dw_schema_seen(ctx, &p->max);
    check_thresholds(ctx, p);
    check_gauge(ctx, p);
}

static const struct dw_schema_field panel_fields[] = {
    {.name = "id",
     .type = DW_SCHEMA_STRING,
     .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dash_panel, id)},
    {.name = "title",
     .type = DW_SCHEMA_STRING,
     .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dash_panel, title)},
    {.name = "description", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct dash_panel, description)},
    {.name = "kind",
     .type = DW_SCHEMA_ENUM,
     .flags = DW_SCHEMA_REQUIRED,
     .values = kind_names,
     DW_SCHEMA_AT(struct dash_panel, kind)},
    QUERY_FIELD(struct dash_panel, query, 0),
    {.name = "legend", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct dash_panel, legend)},
    {.name = "targets",
     .type = DW_SCHEMA_LIST,
     .elem = DW_SCHEMA_OBJECT,
     .sub = &target_schema,
     DW_SCHEMA_LIST_AT(struct dash_panel, targets, ntargets)},
    {.name = "unit",
     .type = DW_SCHEMA_CUSTOM,
     DW_SCHEMA_AT(struct dash_panel, unit),
     .decode = decode_unit,
     .release = dw_schema_release_string,
     .expect = UNIT_EXPECT},
    {.name = "decimals",
     .type = DW_SCHEMA_INT,
     .min = 0,
     .max = 10,
     DW_SCHEMA_AT(struct dash_panel, decimals)},
    {.name = "min", .type = DW_SCHEMA_NUMBER, DW_SCHEMA_AT(struct dash_panel, min)},
    {.name = "max", .type = DW_SCHEMA_NUMBER, DW_SCHEMA_AT(struct dash_panel, max)},
    {.name = "width",
     .type = DW_SCHEMA_INT,
     .min = 1,
     .max = 12,
     DW_SCHEMA_AT(struct dash_panel, width)},
    {.name = "direction",
     .type = DW_SCHEMA_ENUM,
     .values = direction_names,
     .def = "above_is_bad",
     DW_SCHEMA_AT(struct dash_panel, direction)},
    {.name = "thresholds",
     .type = DW_SCHEMA_LIST,
     .elem = DW_SCHEMA_OBJECT,
     .sub = &threshold_schema,
     DW_SCHEMA_LIST_AT(struct dash_panel, thresholds_in, nthresholds)},
    {.name = "links",
     .type = DW_SCHEMA_LIST,
     .elem = DW_SCHEMA_OBJECT,
     .sub = &link_schema,
     DW_SCHEMA_LIST_AT(struct dash_panel, links, nlinks)},
};
static const struct dw_schema panel_schema = {panel_fields, DW_ARRAY_LEN(panel_fields), false,
                                              check_panel};

static void check_row(struct dw_schema_ctx *ctx, void *obj)
{
    struct dash_row *r = obj;
    if (dw_schema_seen(ctx, &r->panels) && r->npanels == 0)
        dw_schema_error_at(ctx, &r->panels, "a row needs at least one panel");
}

static const struct dw_schema_field row_fields[] = {
    {.name = "title",
     .type = DW_SCHEMA_STRING,
     .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dash_row, title)},
    {.name = "class",
     .type = DW_SCHEMA_ENUM,
     .values = class_names,
     DW_SCHEMA_AT(struct dash_row, cls)},
    {.name = "refresh",
     .type = DW_SCHEMA_DURATION,
     .min = 1000,
     .max = 30 * 86400000LL,
     DW_SCHEMA_AT(struct dash_row, refresh_ms)},
    {.name = "panels",
     .type = DW_SCHEMA_LIST,
     .flags = DW_SCHEMA_REQUIRED,
     .elem = DW_SCHEMA_OBJECT,
     .sub = &panel_schema,
     DW_SCHEMA_LIST_AT(struct dash_row, panels, npanels)},
};
static const struct dw_schema row_schema = {row_fields, DW_ARRAY_LEN(row_fields), false, check_row};

/* Panel ids are unique within their dashboard (the data API names them). */
static void check_panel_ids(struct dw_schema_ctx *ctx, struct dash_board *b)
{
    for (size_t r = 0; r < b->nrows; r++)
        for (size_t i = 0; i < b->rows[r].npanels; i++) {
            struct dash_panel *p = &b->rows[r].panels[i];
            bool dup = false;
            for (size_t r2 = 0; r2 <= r && !dup && p->id; r2++)
                for (size_t j = 0; j < (r2 == r ? i : b->rows[r2].npanels) && !dup; j++) {
                    const char *other = b->rows[r2].panels[j].id;
                    dup = other && strcmp(other, p->id) == 0;
                    if (dup)
                        dw_schema_error_at(ctx, &p->id,
                                           "duplicate panel id \"%s\" in dashboard \"%s\" (also "
                                           "in row \"%s\"); panel ids are unique within a "
                                           "dashboard",
                                           p->id, b->id ? b->id : "?",
                                           b->rows[r2].title ? b->rows[r2].title : "?");
                }
        }
}

static void check_board(struct dw_schema_ctx *ctx, void *obj)
{
    struct dash_board *b = obj;
    if (b->id && !valid_id(b->id))
        dw_schema_error_at(ctx, &b->id,
                           "\"%s\" is not a dashboard id: use 1 to %d of a-z, 0-9, - and _ (it "
                           "appears in URLs such as /api/dashboards/<id>)",
                           b->id, DASH_ID_MAX);
    if (dw_schema_seen(ctx, &b->rows) && b->nrows == 0)
        dw_schema_error_at(ctx, &b->rows, "a dashboard needs at least one row");
    size_t panels = 0;
    for (size_t r = 0; r < b->nrows; r++) {
        struct dash_row *row = &b->rows[r];
        panels += row->npanels;
        if (b->cadence_from && !row->cls && !row->refresh_ms)
            dw_schema_error_at(ctx, row,
                               "with cadence_from: plan a row needs its class (system_health, "
                               "user_experience, business, performance_analysis) or its own "
                               "refresh");
    }
    if (panels > DASH_MAX_PANELS)
        dw_schema_error_at(ctx, &b->rows, "too many panels (%zu, at most %d in one dashboard)",
                           panels, DASH_MAX_PANELS);
    check_panel_ids(ctx, b);
}

static const struct dw_schema_field board_fields[] = {
    {.name = "id",
     .type = DW_SCHEMA_STRING,
     .flags = DW_SCHEMA_REQUIRED,
     .defines = "dashboard",
     DW_SCHEMA_AT(struct dash_board, id)},
    {.name = "title",
     .type = DW_SCHEMA_STRING,
     .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dash_board, title)},
    {.name = "description", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct dash_board, description)},
    {.name = "refresh",
     .type = DW_SCHEMA_DURATION,
     .def = DASH_DEFAULT_REFRESH,
     .min = 1000,
     .max = 86400000LL,
     DW_SCHEMA_AT(struct dash_board, refresh_ms)},
    {.name = "cadence_from",
     .type = DW_SCHEMA_ENUM,
     .values = cadence_names,
     DW_SCHEMA_AT(struct dash_board, cadence_from)},
    {.name = "time_range",
     .type = DW_SCHEMA_DURATION,
     .def = DASH_DEFAULT_RANGE,
     .min = 60000,
     .max = 366 * 86400000LL,
     DW_SCHEMA_AT(struct dash_board, time_range_ms)},
    {.name = "rows",
     .type = DW_SCHEMA_LIST,
     .flags = DW_SCHEMA_REQUIRED,
     .elem = DW_SCHEMA_OBJECT,
     .sub = &row_schema,
     DW_SCHEMA_LIST_AT(struct dash_board, rows, nrows)},
    {.name = "links",
     .type = DW_SCHEMA_LIST,
     .elem = DW_SCHEMA_OBJECT,
     .sub = &link_schema,
     DW_SCHEMA_LIST_AT(struct dash_board, links, nlinks)},
};
static const struct dw_schema board_schema = {board_fields, DW_ARRAY_LEN(board_fields), false,
                                              check_board};

static const struct dw_schema_field limits_fields[] = {
    {.name = "max_range",
     .type = DW_SCHEMA_DURATION,
     .def = "31d",
     .min = 60000,
     .max = 366 * 86400000LL,
     DW_SCHEMA_AT(struct dw_dashboard_limits, max_range_ms)},
    {.name = "max_points",
     .type = DW_SCHEMA_INT,
     .def = "11000",
     .min = 2,
     .max = DW_PROMQL_DEFAULT_MAX_POINTS,
     DW_SCHEMA_AT(struct dw_dashboard_limits, max_points)},
    {.name = "max_series",
     .type = DW_SCHEMA_INT,
     .def = "200",
     .min = 1,
     .max = 10000,
     DW_SCHEMA_AT(struct dw_dashboard_limits, max_series)},
    {.name = "max_samples",
     .type = DW_SCHEMA_INT,
     .def = "500000",
     .min = 1000,
     .max = 50000000,
     DW_SCHEMA_AT(struct dw_dashboard_limits, max_samples)},
    {.name = "target_points",
     .type = DW_SCHEMA_INT,
     .def = "300",
     .min = 2,
     .max = DW_PROMQL_DEFAULT_MAX_POINTS,
     DW_SCHEMA_AT(struct dw_dashboard_limits, target_points)},
};
static const struct dw_schema limits_schema = {limits_fields, DW_ARRAY_LEN(limits_fields), false,
                                               NULL};

static const struct dw_schema_field kpi_fields[] = {
    {.name = "id",
     .type = DW_SCHEMA_STRING,
     .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dash_kpi, id)},
    QUERY_FIELD(struct dash_kpi, query, DW_SCHEMA_REQUIRED),
};
static const struct dw_schema kpi_schema = {kpi_fields, DW_ARRAY_LEN(kpi_fields), false, NULL};

static const struct dw_schema_field section_fields[] = {
    {.name = "kpis",
     .type = DW_SCHEMA_LIST,
     .elem = DW_SCHEMA_OBJECT,
     .sub = &kpi_schema,
     DW_SCHEMA_LIST_AT(struct dash_yaml, kpis, nkpis)},
    {.name = "limits",
     .type = DW_SCHEMA_OBJECT,
     .sub = &limits_schema,
     DW_SCHEMA_AT(struct dash_yaml, limits)},
    {.name = "boards",
     .type = DW_SCHEMA_LIST,
     .elem = DW_SCHEMA_OBJECT,
     .sub = &board_schema,
     DW_SCHEMA_LIST_AT(struct dash_yaml, boards, nboards)},
};
static const struct dw_schema section_schema = {section_fields, DW_ARRAY_LEN(section_fields), false,
                                                NULL};

static void check_query_length(struct dw_schema_ctx *ctx, const struct dash_query *q, uint64_t max)
{
    if (q->text && strlen(q->text) > max)
        dw_schema_error_at(ctx, q, "the query is %zu bytes; the limit is %llu (query.max_length)",
                           strlen(q->text), (unsigned long long)max);
}

/* Checks across the section: ranges against the limits, queries against query.max_length. */
static void finish(struct dw_schema_ctx *ctx, void *obj)
{
    struct dash_yaml *y = obj;
    const struct dw_dashboard_limits *lim = &y->limits;
    uint64_t max_len = y->cfg ? dw_config_query(y->cfg)->max_length : 0;
    if (max_len == 0 || max_len > QUERY_PARSE_MAX)
        max_len = max_len ? QUERY_PARSE_MAX : DW_PROMQL_DEFAULT_MAX_QUERY_LEN;
    if (lim->target_points > lim->max_points)
        dw_schema_error_at(ctx, &y->limits.target_points,
                           "target_points (%lld) is over max_points (%lld)",
                           (long long)lim->target_points, (long long)lim->max_points);
    size_t nplan = 0;
    const struct dw_plan_objective *plan = y->cfg ? dw_config_kpis(y->cfg, &nplan) : NULL;
    for (size_t i = 0; i < y->nkpis; i++) {
        struct dash_kpi *k = &y->kpis[i];
        bool known = false;
        for (size_t j = 0; k->id && j < nplan; j++)
            known |= strcmp(plan[j].id, k->id) == 0;
        for (size_t j = 0; k->id && j < i; j++)
            if (y->kpis[j].id && strcmp(y->kpis[j].id, k->id) == 0)
                dw_schema_error_at(ctx, &k->id, "KPI \"%s\" has a query already", k->id);
        if (k->id && !known)
            dw_schema_error_at(ctx, &k->id, "no KPI \"%s\" in the plan's kpis", k->id);
        check_query_length(ctx, &k->query, max_len);
    }
    for (size_t i = 0; i < y->nboards; i++) {
        struct dash_board *b = &y->boards[i];
        if (b->time_range_ms > lim->max_range_ms) {
            char a[32], m[32];
            dw_format_duration(b->time_range_ms, a, sizeof a);
            dw_format_duration(lim->max_range_ms, m, sizeof m);
            dw_schema_error_at(ctx, &b->time_range_ms,
                               "time_range %s is over dashboards.limits.max_range (%s)", a, m);
        }
        for (size_t r = 0; r < b->nrows; r++)
            for (size_t p = 0; p < b->rows[r].npanels; p++) {
                const struct dash_panel *pn = &b->rows[r].panels[p];
                check_query_length(ctx, &pn->query, max_len);
                for (size_t t = 0; t < pn->ntargets; t++)
                    check_query_length(ctx, &pn->targets[t].query, max_len);
            }
    }
}

/* ---- the set ---- */

static int32_t default_width(int kind)
{
    switch (kind) {
    case DASH_STAT:
    case DASH_GAUGE: return 3;
    case DASH_TABLE: return 12;
    default: return 6;
    }
}

/* Gives a decoded panel the form readers use (see the file comment). */
static void normalise_panel(struct dash_panel *p)
{
    if (p->query.text) {
        p->targets = dw_calloc(1, sizeof *p->targets);
        p->targets[0].query = p->query;
        p->targets[0].legend = p->legend;
        p->ntargets = 1;
        p->query = (struct dash_query){0};
        p->legend = NULL;
    }
    if (p->nthresholds) {
        p->thresholds = dw_calloc(p->nthresholds, sizeof *p->thresholds);
        for (size_t i = 0; i < p->nthresholds; i++)
            p->thresholds[i] = threshold_of(&p->thresholds_in[i]);
    }
    if (!p->width)
        p->width = default_width(p->kind);
    if (p->kind == DASH_GAUGE) {
        if (!p->has_min)
            p->min = 0, p->has_min = true;
        if (!p->has_max)
            p->max = strcmp(dash_unit(p), "percent") == 0 ? 100 : 1, p->has_max = true;
    }
}

static void set_free(struct dash_set *s)
{
    for (size_t i = 0; i < s->y.nboards; i++)
        for (size_t r = 0; r < s->y.boards[i].nrows; r++)
            for (size_t p = 0; p < s->y.boards[i].rows[r].npanels; p++)
                free(s->y.boards[i].rows[r].panels[p].thresholds);
    dw_schema_free(&section_schema, &s->y);
    dw_config_unref(&s->cfg);
    free(s);
}

struct dash_set *dash_set_load(const struct dw_config *cfg, struct dw_diags *diags)
{
    struct dash_set *s = dw_calloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    s->y.cfg = cfg;
    if (dw_config_decode_section(cfg, "dashboards", &section_schema, &s->y, finish, diags)) {
        set_free(s);
        return NULL;
    }
    for (size_t i = 0; i < s->y.nboards; i++) {
        struct dash_board *b = &s->y.boards[i];
        for (size_t r = 0; r < b->nrows; r++)
            for (size_t p = 0; p < b->rows[r].npanels; p++)
                normalise_panel(&b->rows[r].panels[p]);
        for (size_t r = 0; r < b->nrows; r++)
            b->npanels += b->rows[r].npanels;
    }
    s->cfg = dw_config_ref((struct dw_config *)cfg);
    return s;
}

struct dash_set *dash_set_ref(struct dash_set *s)
{
    if (s)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void dash_set_unref(struct dash_set **ps)
{
    struct dash_set *s = ps ? *ps : NULL;
    if (!s)
        return;
    *ps = NULL;
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        set_free(s);
}

const struct dash_board *dash_board_find(const struct dash_set *s, const char *id)
{
    for (size_t i = 0; s && id && i < s->y.nboards; i++)
        if (strcmp(s->y.boards[i].id, id) == 0)
            return &s->y.boards[i];
    return NULL;
}

size_t dw_dashboard_check_config(const struct dw_config *cfg, struct dw_diags *diags)
{
    size_t before = dw_diags_errors(diags);
    struct dash_set *s = dash_set_load(cfg, diags);
    dash_set_unref(&s);
    return dw_diags_errors(diags) - before;
}
