/*
 * test_dashboard.c - the dashboard module: the `dashboards` section decoded
 * and checked (a good section, the example's, every class of error at its
 * file:line:col), threshold judging at and around its boundaries, the step
 * and limit arithmetic, definitions with the refresh the plan gives each row
 * in each launch phase, data evaluated over an in-memory storage (values,
 * legends, judged states, per-panel errors, limits), and a reload that swaps
 * the whole set or nothing.
 */
#include <jansson.h>
#include <math.h>

#include "dashboard/dashboard_internal.h"
#include "harness.h"
#include "testutil.h"
#include "testutil_plan.h"

#define S 1000LL
#define MIN (60 * S)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
/* The example's launch: 2026-12-01T09:00:00Z. */
#define LAUNCH 1796115600000LL

/* ---- configurations ---- */

/* 1-based line and column of the last occurrence of marker in text. */
static void position_of(const char *text, const char *marker, int *line, int *col)
{
    const char *at = NULL;
    for (const char *p = strstr(text, marker); p; p = strstr(p + 1, marker))
        at = p;
    if (!at)
        DW_FAIL_("marker \"%s\" not in the config", marker);
    *line = 1;
    const char *bol = text;
    for (const char *p = text; p < at; p++)
        if (*p == '\n') {
            (*line)++;
            bol = p + 1;
        }
    *col = (int)(at - bol) + 1;
}

/*
 * The section must be refused with an error whose message contains `msg`,
 * reported on the line of `marker` (at its column when want_col).
 */
static void expect_error_at(const char *sections, const char *marker, bool want_col,
                            const char *msg)
{
    char *text = config_text_with(sections);
    struct dw_config *cfg = config_load_text(text);
    struct dw_diags d;
    dw_diags_init(&d);
    size_t n = dw_dashboard_check_config(cfg, &d);
    int line, col;
    position_of(text, marker, &line, &col);
    bool found = false;
    for (size_t i = 0; i < d.n && !found; i++)
        found = strstr(d.items[i].msg, msg) && d.items[i].line == line &&
                (!want_col || d.items[i].col == col) &&
                strcmp(d.items[i].file ? d.items[i].file : "", "test.yaml") == 0;
    if (!found) {
        char *all = diags_text(&d);
        fprintf(stderr, "  wanted \"%s\" at %d:%d; got:\n%s", msg, line, col, all);
        free(all);
    }
    dw_diags_release(&d);
    dw_config_unref(&cfg);
    free(text);
    ASSERT_TRUE(n > 0);
    ASSERT_TRUE(found);
}

static void expect_error(const char *sections, const char *marker, const char *msg)
{
    expect_error_at(sections, marker, false, msg);
}

static const char good[] =
    "dashboards:\n"
    "  limits: {max_range: 7d, max_series: 3, max_samples: 2000, target_points: 100}\n"
    "  boards:\n"
    "    - id: main\n"
    "      title: Main\n"
    "      description: The test board\n"
    "      cadence_from: plan\n"
    "      refresh: 2m\n"
    "      time_range: 1h\n"
    "      links: [{title: Plan, url: /api/plan}]\n"
    "      rows:\n"
    "        - title: System Health\n"
    "          class: system_health\n"
    "          panels:\n"
    "            - id: latency\n"
    "              title: API latency\n"
    "              kind: timeseries\n"
    "              query: lat_seconds\n"
    "              legend: \"{{instance}} p95\"\n"
    "              unit: seconds\n"
    "              decimals: 2\n"
    "              thresholds: [{value: 0.4, color: amber}, {value: 0.5, color: red}]\n"
    "              links: [{title: Runbook, url: \"https://runbooks.example/latency\"}]\n"
    "            - id: up\n"
    "              title: Up\n"
    "              kind: status_grid\n"
    "              query: up\n"
    "              direction: below_is_bad\n"
    "              thresholds: [{value: 1, color: red, op: \"<\"}]\n"
    "        - title: Business\n"
    "          class: business\n"
    "          panels:\n"
    "            - id: orders\n"
    "              title: Orders\n"
    "              kind: stat\n"
    "              unit: currency:EUR\n"
    "              targets:\n"
    "                - {query: sum(orders), legend: all}\n"
    "                - {query: orders, legend: \"shop {{ shop }}\"}\n"
    "        - title: Own refresh\n"
    "          refresh: 10s\n"
    "          panels:\n"
    "            - {id: cpu, title: CPU, kind: gauge, query: cpu, unit: ratio}\n"
    "        - title: Analysis\n"
    "          class: performance_analysis\n"
    "          panels:\n"
    "            - {id: scalar, title: A scalar, kind: stat, query: 1 + 1}\n"
    "            - {id: broken, title: Many to many, kind: table,\n"
    "               query: 'lat_seconds / on() lat_seconds'}\n"
    "    - id: second\n"
    "      title: Second\n"
    "      rows:\n"
    "        - title: Row\n"
    "          panels:\n"
    "            - {id: latency, title: \"Same id, other board\", kind: table, query: up}\n";

static struct dw_config *good_config(void)
{
    char *text = config_text_with(good);
    struct dw_config *cfg = config_load_text(text);
    free(text);
    return cfg;
}

static struct dw_dashboards *open_ok(struct dw_config *cfg)
{
    char *err = NULL;
    struct dw_dashboards *d = dw_dashboard_open(cfg, &err);
    if (!d)
        fprintf(stderr, "  %s\n", err);
    free(err);
    ASSERT_NOT_NULL(d);
    return d;
}

/* ---- decoding and checking ---- */

TEST(good_section_is_accepted)
{
    struct dw_config *cfg = good_config();
    struct dw_diags d;
    dw_diags_init(&d);
    size_t n = dw_dashboard_check_config(cfg, &d);
    if (n) {
        char *t = diags_text(&d);
        fprintf(stderr, "%s", t);
        free(t);
    }
    ASSERT_EQ_UINT(n, 0);
    dw_diags_release(&d);
    struct dw_dashboards *db = open_ok(cfg);
    ASSERT_EQ_UINT(dw_dashboard_count(db), 2);
    json_t *list = dw_dashboard_list_json(db);
    char *s = json_dumps(list, JSON_COMPACT);
    ASSERT_EQ_STR(s, "[{\"id\":\"main\",\"title\":\"Main\",\"description\":\"The test board\","
                     "\"panels\":6},{\"id\":\"second\",\"title\":\"Second\",\"description\":null,"
                     "\"panels\":1}]");
    free(s);
    json_decref(list);
    dw_dashboard_close(&db);
    dw_dashboard_close(&db); /* NULL is a no-op */
    dw_config_unref(&cfg);
}

TEST(example_config_passes_with_the_plans_dashboard)
{
    struct dw_diags d;
    dw_diags_init(&d);
    struct dw_config *cfg = dw_config_load_file(EXAMPLE_CONFIG, &d);
    ASSERT_NOT_NULL(cfg);
    size_t n = dw_dashboard_check_config(cfg, &d);
    if (n) {
        char *t = diags_text(&d);
        fprintf(stderr, "%s", t);
        free(t);
    }
    ASSERT_EQ_UINT(n, 0);
    dw_diags_release(&d);
    struct dw_dashboards *db = open_ok(cfg);
    /* In the first 72 hours: System Health 15m, User Experience 30m, Business 1h. */
    json_t *def = dw_dashboard_get_json(db, "critical-metrics", LAUNCH + HOUR);
    ASSERT_NOT_NULL(def);
    ASSERT_EQ_STR(json_string_value(json_object_get(def, "phase")), "critical");
    json_t *rows = json_object_get(def, "rows");
    ASSERT_EQ_UINT(json_array_size(rows), 3);
    static const char *const classes[] = {"system_health", "user_experience", "business"};
    static const char *const refresh[] = {"15m", "30m", "1h"};
    size_t panels = 0;
    for (size_t i = 0; i < 3; i++) {
        json_t *r = json_array_get(rows, i);
        ASSERT_EQ_STR(json_string_value(json_object_get(r, "class")), classes[i]);
        ASSERT_EQ_STR(json_string_value(json_object_get(r, "refresh")), refresh[i]);
        ASSERT_EQ_STR(json_string_value(json_object_get(r, "refreshFrom")), "plan");
        panels += json_array_size(json_object_get(r, "panels"));
    }
    ASSERT_TRUE(panels >= 15); /* every row of the seed's three checklists */
    json_decref(def);
    def = dw_dashboard_get_json(db, "dojowatch-self", LAUNCH);
    ASSERT_NOT_NULL(def);
    json_decref(def);
    dw_dashboard_close(&db);
    dw_config_unref(&cfg);
}

TEST(absent_section_has_no_dashboards)
{
    char *text = config_text_with("dashboards:\n");
    struct dw_config *cfg = config_load_text(text);
    struct dw_dashboards *db = open_ok(cfg);
    ASSERT_EQ_UINT(dw_dashboard_count(db), 0);
    ASSERT_NULL(dw_dashboard_get_json(db, "critical-metrics", LAUNCH));
    dw_dashboard_close(&db);
    dw_config_unref(&cfg);
    free(text);
}

/* One dashboard whose single row holds `panels` (YAML lines indented by 12). */
#define BOARD(panels)                                                                              \
    "dashboards:\n"                                                                                \
    "  boards:\n"                                                                                  \
    "    - id: b\n"                                                                                \
    "      title: B\n"                                                                             \
    "      rows:\n"                                                                                \
    "        - title: R\n"                                                                         \
    "          panels:\n" panels

TEST(unknown_keys_are_errors_with_suggestions)
{
    expect_error_at(BOARD("            - id: p\n"
                          "              title: P\n"
                          "              kind: stat\n"
                          "              query: up\n"
                          "              thresholds: [{value: 1, colour: red}]\n"),
                    "colour", true, "unknown key (did you mean \"color\"?)");
    expect_error_at(BOARD("            - id: p\n"
                          "              title: P\n"
                          "              kind: stat\n"
                          "              qurey: up\n"),
                    "qurey", true, "unknown key (did you mean \"query\"?)");
    expect_error_at("dashboards:\n  bords: []\n", "bords", true, "unknown key");
    expect_error("dashboards:\n  limits: {max_rows: 3}\n", "max_rows", "unknown key");
}

TEST(duplicate_ids_are_errors)
{
    expect_error("dashboards:\n"
                 "  boards:\n"
                 "    - {id: dup, title: A, rows: [{title: R, panels: [{id: p, title: P, kind: "
                 "stat, query: up}]}]}\n"
                 "    - {id: dup, title: B, rows: [{title: R, panels: [{id: p, title: P, kind: "
                 "stat, query: up}]}]}\n",
                 "id: dup", "duplicate dashboard id \"dup\"");
    expect_error(BOARD("            - {id: same, title: P, kind: stat, query: up}\n"
                       "        - title: Second row\n"
                       "          panels:\n"
                       "            - {id: other, title: Q, kind: stat, query: up}\n"
                       "            - {id: same, title: R, kind: stat, query: up}\n"),
                 "id: same", "duplicate panel id \"same\" in dashboard \"b\" (also in row \"R\")");
}

TEST(bad_ids_kinds_and_missing_keys)
{
    expect_error("dashboards:\n  boards:\n    - {id: Bad Id, title: A, rows: [{title: R, panels: "
                 "[{id: p, title: P, kind: stat, query: up}]}]}\n",
                 "Bad Id", "is not a dashboard id");
    expect_error(BOARD("            - {id: \"p?x\", title: P, kind: stat, query: up}\n"), "p?x",
                 "is not a panel id");
    expect_error(BOARD("            - {id: p, title: P, kind: piechart, query: up}\n"), "piechart",
                 "expected one of timeseries, stat, gauge, table, heatmap, status_grid, got "
                 "\"piechart\"");
    expect_error(BOARD("            - {id: p, title: P, query: up}\n"), "{id: p",
                 "missing required key");
    expect_error(
        "dashboards:\n  boards:\n    - {id: a, title: A, rows: [{title: R, panels: []}]}\n",
        "panels: []", "a row needs at least one panel");
    expect_error("dashboards:\n  boards:\n    - {id: a, title: A, cadence_from: phase, rows: "
                 "[{title: R, panels: [{id: p, title: P, kind: stat, query: up}]}]}\n",
                 "phase", "expected one of plan");
}

TEST(bad_colours_and_units)
{
    expect_error_at(BOARD("            - id: p\n"
                          "              title: P\n"
                          "              kind: stat\n"
                          "              query: up\n"
                          "              thresholds:\n"
                          "                - value: 1\n"
                          "                  color: purple\n"),
                    "purple", true, "expected one of green, amber, red, got \"purple\"");
    expect_error_at(BOARD("            - id: p\n"
                          "              title: P\n"
                          "              kind: stat\n"
                          "              query: up\n"
                          "              unit: percnt\n"),
                    "percnt", true, "unknown unit \"percnt\" (did you mean \"percent\"?)");
    expect_error(BOARD("            - {id: p, title: P, kind: stat, query: up, unit: furlongs}\n"),
                 "furlongs", "unknown unit \"furlongs\"; expected a unit:");
    expect_error(
        BOARD("            - {id: p, title: P, kind: stat, query: up, unit: currency:eur}\n"),
        "currency:eur", "is not a currency unit");
    expect_error(BOARD("            - {id: p, title: P, kind: stat, query: up, decimals: 12}\n"),
                 "decimals: 12", "must be between 0 and 10");
}

TEST(thresholds_out_of_order_are_errors)
{
    /* above_is_bad: values ascend. */
    expect_error_at(BOARD("            - id: p\n"
                          "              title: P\n"
                          "              kind: stat\n"
                          "              query: up\n"
                          "              thresholds:\n"
                          "                - {value: 0.5, color: amber}\n"
                          "                - {value: 0.4, color: red}\n"),
                    "0.4", true, "thresholds out of order: 0.4 comes after 0.5");
    /* below_is_bad: values descend. */
    expect_error(BOARD("            - id: p\n"
                       "              title: P\n"
                       "              kind: stat\n"
                       "              query: up\n"
                       "              direction: below_is_bad\n"
                       "              thresholds:\n"
                       "                - {value: 0.85, color: amber}\n"
                       "                - {value: 0.9, color: red}\n"),
                 "0.9,", "values descending");
    /* Colours never get better. */
    expect_error_at(BOARD("            - id: p\n"
                          "              title: P\n"
                          "              kind: stat\n"
                          "              query: up\n"
                          "              thresholds:\n"
                          "                - {value: 0.4, color: red}\n"
                          "                - {value: 0.5, color: amber}\n"),
                    "amber", true, "thresholds out of order: amber at 0.5 comes after red at 0.4");
    /* An explicit op points the way of the direction. */
    expect_error(BOARD("            - id: p\n"
                       "              title: P\n"
                       "              kind: stat\n"
                       "              query: up\n"
                       "              thresholds: [{value: 1, color: red, op: \"<\"}]\n"),
                 "op: \"<\"", "op \"<\" does not fit direction above_is_bad");
}

TEST(bad_queries_are_refused_at_their_position)
{
    expect_error_at(BOARD("            - id: p\n"
                          "              title: P\n"
                          "              kind: timeseries\n"
                          "              query: sum(rate(http_requests_total[5m])\n"),
                    "sum(rate(", true, "invalid PromQL query: 1:");
    expect_error(BOARD("            - id: p\n"
                       "              title: P\n"
                       "              kind: timeseries\n"
                       "              targets:\n"
                       "                - {query: up}\n"
                       "                - {query: 'up +', legend: x}\n"),
                 "'up +'", "parse error");
    expect_error(BOARD("            - {id: p, title: P, kind: stat, query: 'up[5m]'}\n"),
                 "'up[5m]'", "the query gives a range vector");
    expect_error(BOARD("            - {id: p, title: P, kind: stat, query: '\"text\"'}\n"),
                 "'\"text\"'", "the query gives a string");
    expect_error(BOARD("            - {id: p, title: P, kind: stat, query: up,\n"
                       "               targets: [{query: up}]}\n"),
                 "targets: [", "write either query (one query) or targets");
    expect_error(BOARD("            - {id: p, title: P, kind: stat}\n"), "{id: p",
                 "a panel needs a query");
    expect_error(BOARD("            - {id: p, title: P, kind: stat, query: ''}\n"), "query: ''",
                 "the query is empty");
    /* Longer than the configuration's query.max_length. */
    struct dw_buf long_query;
    dw_buf_init(&long_query, 0);
    dw_buf_puts(&long_query, "query:\n  max_length: 256\n" BOARD("            - id: p\n"
                                                                 "              title: P\n"
                                                                 "              kind: stat\n"
                                                                 "              query: vector(1)"));
    for (int i = 0; i < 70; i++)
        dw_buf_puts(&long_query, " + 1");
    dw_buf_puts(&long_query, "\n");
    expect_error(long_query.data, "vector(1)", "bytes; the limit is 256 (query.max_length)");
    dw_buf_release(&long_query);
}

TEST(legends_links_gauges_and_rows)
{
    expect_error(BOARD("            - {id: p, title: P, kind: stat, query: up, legend: '{{ }}'}\n"),
                 "'{{ }}'", "bad legend");
    expect_error(BOARD("            - {id: p, title: P, kind: stat, targets: [{query: up, legend: "
                       "'{{instance'}]}\n"),
                 "'{{instance'", "is not closed");
    expect_error(BOARD("            - {id: p, title: P, kind: stat, targets: [{query: up}], "
                       "legend: x}\n"),
                 "legend: x", "legend goes with query");
    expect_error(BOARD("            - {id: p, title: P, kind: stat, query: up,\n"
                       "               links: [{title: L, url: 'ftp://x'}]}\n"),
                 "ftp://x", "is not a link");
    expect_error(BOARD("            - {id: p, title: P, kind: gauge, query: up, unit: count}\n"),
                 "{id: p", "a gauge needs max");
    expect_error(BOARD("            - {id: p, title: P, kind: gauge, query: up, min: 5, max: 5}\n"),
                 "max: 5", "max (5) must be greater than min (5)");
    expect_error("dashboards:\n  boards:\n    - id: a\n      title: A\n      cadence_from: plan\n"
                 "      rows:\n        - title: Classless\n          panels: [{id: p, title: P, "
                 "kind: stat, query: up}]\n",
                 "title: Classless", "with cadence_from: plan a row needs its class");
    expect_error("dashboards:\n  limits: {max_range: 1d}\n  boards:\n    - id: a\n      title: A\n"
                 "      time_range: 2d\n      rows: [{title: R, panels: [{id: p, title: P, kind: "
                 "stat, query: up}]}]\n",
                 "time_range: 2d", "time_range 2d is over dashboards.limits.max_range (1d)");
    expect_error("dashboards:\n  limits: {max_points: 100, target_points: 200}\n",
                 "target_points: 200", "target_points (200) is over max_points (100)");
}

/* ---- thresholds ---- */

TEST(judging_above_is_bad_at_and_around_boundaries)
{
    const struct dw_dashboard_threshold t[] = {{0.4, DW_DASHBOARD_AMBER, false},
                                               {0.5, DW_DASHBOARD_RED, false}};
    int i;
    ASSERT_EQ_INT(dw_dashboard_judge(t, 2, DW_DASHBOARD_ABOVE_IS_BAD, 0.39, &i),
                  DW_DASHBOARD_GREEN);
    ASSERT_EQ_INT(i, -1);
    ASSERT_EQ_INT(dw_dashboard_judge(t, 2, DW_DASHBOARD_ABOVE_IS_BAD, 0.4, &i), DW_DASHBOARD_AMBER);
    ASSERT_EQ_INT(i, 0);
    ASSERT_EQ_INT(dw_dashboard_judge(t, 2, DW_DASHBOARD_ABOVE_IS_BAD, 0.4999, &i),
                  DW_DASHBOARD_AMBER);
    ASSERT_EQ_INT(dw_dashboard_judge(t, 2, DW_DASHBOARD_ABOVE_IS_BAD, 0.5, &i), DW_DASHBOARD_RED);
    ASSERT_EQ_INT(i, 1);
    ASSERT_EQ_INT(dw_dashboard_judge(t, 2, DW_DASHBOARD_ABOVE_IS_BAD, INFINITY, NULL),
                  DW_DASHBOARD_RED);
    ASSERT_EQ_INT(dw_dashboard_judge(t, 2, DW_DASHBOARD_ABOVE_IS_BAD, -INFINITY, NULL),
                  DW_DASHBOARD_GREEN);
    ASSERT_EQ_INT(dw_dashboard_judge(t, 2, DW_DASHBOARD_ABOVE_IS_BAD, NAN, &i),
                  DW_DASHBOARD_UNKNOWN);
    ASSERT_EQ_INT(i, -1);
    ASSERT_EQ_INT(dw_dashboard_judge(NULL, 0, DW_DASHBOARD_ABOVE_IS_BAD, 1e9, &i),
                  DW_DASHBOARD_GREEN);
    /* op ">": the value itself is still good. */
    const struct dw_dashboard_threshold strict = {0, DW_DASHBOARD_AMBER, true};
    ASSERT_EQ_INT(dw_dashboard_judge(&strict, 1, DW_DASHBOARD_ABOVE_IS_BAD, 0, NULL),
                  DW_DASHBOARD_GREEN);
    ASSERT_EQ_INT(dw_dashboard_judge(&strict, 1, DW_DASHBOARD_ABOVE_IS_BAD, 1e-9, NULL),
                  DW_DASHBOARD_AMBER);
    ASSERT_EQ_STR(dw_dashboard_threshold_op(&t[0], DW_DASHBOARD_ABOVE_IS_BAD), ">=");
    ASSERT_EQ_STR(dw_dashboard_threshold_op(&strict, DW_DASHBOARD_ABOVE_IS_BAD), ">");
}

TEST(judging_below_is_bad_at_and_around_boundaries)
{
    /* Onboarding completion > 50% (red at 50% and under), amber under 60%. */
    const struct dw_dashboard_threshold t[] = {{0.6, DW_DASHBOARD_AMBER, false},
                                               {0.5, DW_DASHBOARD_RED, false}};
    int i;
    ASSERT_EQ_INT(dw_dashboard_judge(t, 2, DW_DASHBOARD_BELOW_IS_BAD, 0.61, &i),
                  DW_DASHBOARD_GREEN);
    ASSERT_EQ_INT(i, -1);
    ASSERT_EQ_INT(dw_dashboard_judge(t, 2, DW_DASHBOARD_BELOW_IS_BAD, 0.6, &i), DW_DASHBOARD_AMBER);
    ASSERT_EQ_INT(i, 0);
    ASSERT_EQ_INT(dw_dashboard_judge(t, 2, DW_DASHBOARD_BELOW_IS_BAD, 0.5001, NULL),
                  DW_DASHBOARD_AMBER);
    ASSERT_EQ_INT(dw_dashboard_judge(t, 2, DW_DASHBOARD_BELOW_IS_BAD, 0.5, &i), DW_DASHBOARD_RED);
    ASSERT_EQ_INT(i, 1);
    ASSERT_EQ_INT(dw_dashboard_judge(t, 2, DW_DASHBOARD_BELOW_IS_BAD, -1, NULL), DW_DASHBOARD_RED);
    /* Core feature accessibility 100%: red under 1, 1 itself green (op "<"). */
    const struct dw_dashboard_threshold all = {1, DW_DASHBOARD_RED, true};
    ASSERT_EQ_INT(dw_dashboard_judge(&all, 1, DW_DASHBOARD_BELOW_IS_BAD, 1, NULL),
                  DW_DASHBOARD_GREEN);
    ASSERT_EQ_INT(dw_dashboard_judge(&all, 1, DW_DASHBOARD_BELOW_IS_BAD, 0.999, NULL),
                  DW_DASHBOARD_RED);
    ASSERT_EQ_STR(dw_dashboard_threshold_op(&all, DW_DASHBOARD_BELOW_IS_BAD), "<");
    ASSERT_EQ_STR(dw_dashboard_threshold_op(&t[0], DW_DASHBOARD_BELOW_IS_BAD), "<=");
    ASSERT_EQ_STR(dw_dashboard_color_name(DW_DASHBOARD_AMBER), "amber");
    ASSERT_EQ_STR(dw_dashboard_color_name(DW_DASHBOARD_UNKNOWN), "unknown");
}

/* ---- ranges and steps ---- */

TEST(default_step_keeps_series_under_the_target)
{
    ASSERT_EQ_INT(dw_dashboard_default_step(2 * HOUR, 300), 30 * S);   /* 241 points */
    ASSERT_EQ_INT(dw_dashboard_default_step(HOUR, 300), 15 * S);       /* 241 */
    ASSERT_EQ_INT(dw_dashboard_default_step(24 * HOUR, 300), 5 * MIN); /* 289 */
    ASSERT_EQ_INT(dw_dashboard_default_step(31 * DAY, 300), 3 * HOUR); /* 249 */
    ASSERT_EQ_INT(dw_dashboard_default_step(100 * DAY, 300), 12 * HOUR);
    ASSERT_EQ_INT(dw_dashboard_default_step(730 * DAY, 300), 3 * DAY);
    ASSERT_EQ_INT(dw_dashboard_default_step(0, 300), S);
    ASSERT_EQ_INT(dw_dashboard_default_step(299 * S, 300), S); /* exactly 300 points */
    ASSERT_EQ_INT(dw_dashboard_default_step(300 * S, 300), 2 * S);
    ASSERT_EQ_INT(dw_dashboard_default_step(10 * S, 1), 10 * S); /* target under 2 counts as 2 */
    for (int64_t span = 0; span < 40 * DAY; span = span * 3 + 7 * S) {
        int64_t step = dw_dashboard_default_step(span, 300);
        ASSERT_TRUE(span / step + 1 <= 300);
    }
}

static const struct dw_dashboard_limits limits = {
    .max_range_ms = 7 * DAY,
    .max_points = 1000,
    .max_series = 10,
    .max_samples = 10000,
    .target_points = 300,
};

static int resolve(struct dw_dashboard_range_in in, struct dw_dashboard_range *out, char **err)
{
    return dw_dashboard_resolve_range(&limits, 2 * HOUR, 10 * HOUR, &in, out, err);
}

TEST(ranges_resolve_with_defaults_on_a_grid_ending_at_to)
{
    struct dw_dashboard_range r;
    char *err = NULL;
    ASSERT_EQ_INT(resolve((struct dw_dashboard_range_in){0}, &r, &err), 0);
    ASSERT_EQ_INT(r.to_ms, 10 * HOUR);
    ASSERT_EQ_INT(r.from_ms, 8 * HOUR);
    ASSERT_EQ_INT(r.step_ms, 30 * S);
    ASSERT_EQ_INT(r.points, 241);
    /* from moves forward onto the grid: 100 s at 30 s is 10, 40, 70, 100. */
    ASSERT_EQ_INT(resolve((struct dw_dashboard_range_in){.from_ms = 0,
                                                         .to_ms = 100 * S,
                                                         .step_ms = 30 * S,
                                                         .from_set = true,
                                                         .to_set = true,
                                                         .step_set = true},
                          &r, &err),
                  0);
    ASSERT_EQ_INT(r.from_ms, 10 * S);
    ASSERT_EQ_INT(r.points, 4);
    /* Only from: to is now. Only to: the dashboard's range before it. */
    ASSERT_EQ_INT(
        resolve((struct dw_dashboard_range_in){.from_ms = 9 * HOUR, .from_set = true}, &r, &err),
        0);
    ASSERT_EQ_INT(r.to_ms, 10 * HOUR);
    ASSERT_EQ_INT(r.step_ms, 15 * S);
    ASSERT_EQ_INT(
        resolve((struct dw_dashboard_range_in){.to_ms = 5 * HOUR, .to_set = true}, &r, &err), 0);
    ASSERT_EQ_INT(r.from_ms, 3 * HOUR);
    /* One instant. */
    ASSERT_EQ_INT(resolve(
                      (struct dw_dashboard_range_in){
                          .from_ms = HOUR, .to_ms = HOUR, .from_set = true, .to_set = true},
                      &r, &err),
                  0);
    ASSERT_EQ_INT(r.points, 1);
    ASSERT_EQ_INT(r.from_ms, HOUR);
    /* The largest range and points allowed. */
    ASSERT_EQ_INT(resolve(
                      (struct dw_dashboard_range_in){
                          .from_ms = 0, .to_ms = 7 * DAY, .from_set = true, .to_set = true},
                      &r, &err),
                  0);
    ASSERT_EQ_INT(resolve((struct dw_dashboard_range_in){.from_ms = 0,
                                                         .to_ms = 999 * S,
                                                         .step_ms = S,
                                                         .from_set = true,
                                                         .to_set = true,
                                                         .step_set = true},
                          &r, &err),
                  0);
    ASSERT_EQ_INT(r.points, 1000);
    ASSERT_NULL(err);
}

static void expect_range_error(struct dw_dashboard_range_in in, const char *msg)
{
    struct dw_dashboard_range r = {0};
    char *err = NULL;
    ASSERT_EQ_INT(resolve(in, &r, &err), DW_DASHBOARD_EINVAL);
    ASSERT_CONTAINS(err, msg);
    free(err);
}

TEST(ranges_out_of_bounds_are_refused_with_the_reason)
{
    expect_range_error(
        (struct dw_dashboard_range_in){
            .from_ms = 2 * HOUR, .to_ms = HOUR, .from_set = true, .to_set = true},
        "to is before from");
    expect_range_error(
        (struct dw_dashboard_range_in){
            .from_ms = 0, .to_ms = 7 * DAY + 1, .from_set = true, .to_set = true},
        "the range is 7d1ms; the limit is 1w (dashboards.limits.max_range)");
    expect_range_error(
        (struct dw_dashboard_range_in){
            .from_ms = INT64_MIN + 1, .to_ms = INT64_MAX, .from_set = true, .to_set = true},
        "dashboards.limits.max_range");
    expect_range_error((struct dw_dashboard_range_in){.from_ms = 0,
                                                      .to_ms = 1000 * S,
                                                      .step_ms = S,
                                                      .from_set = true,
                                                      .to_set = true,
                                                      .step_set = true},
                       "step 1s gives 1001 points per series; the limit is 1000 "
                       "(dashboards.limits.max_points): use a step of at least 1s1ms");
    expect_range_error((struct dw_dashboard_range_in){.step_ms = 0, .step_set = true},
                       "step must be a positive duration");
    expect_range_error((struct dw_dashboard_range_in){.step_ms = -5, .step_set = true},
                       "step must be a positive duration");
}

/* ---- definitions ---- */

static json_t *row_of(json_t *def, size_t i)
{
    return json_array_get(json_object_get(def, "rows"), i);
}

static void expect_refresh(json_t *def, size_t row, const char *refresh, const char *from)
{
    json_t *r = row_of(def, row);
    ASSERT_EQ_STR(json_string_value(json_object_get(r, "refresh")), refresh);
    ASSERT_EQ_STR(json_string_value(json_object_get(r, "refreshFrom")), from);
}

TEST(rows_refresh_at_the_plans_cadence_of_the_current_phase)
{
    struct dw_config *cfg = good_config();
    struct dw_dashboards *db = open_ok(cfg);
    /* Critical (first 72 h): System Health 15m, Business 1h; no performance analysis. */
    json_t *def = dw_dashboard_get_json(db, "main", LAUNCH + HOUR);
    ASSERT_EQ_STR(json_string_value(json_object_get(def, "phase")), "critical");
    ASSERT_TRUE(json_is_false(json_object_get(def, "beforeLaunch")));
    ASSERT_NEAR(json_real_value(json_object_get(def, "phaseEndsAt")), (LAUNCH + 3 * DAY) / 1000.0,
                1e-3);
    expect_refresh(def, 0, "15m", "plan");
    ASSERT_NEAR(json_real_value(json_object_get(row_of(def, 0), "refreshSeconds")), 900, 1e-9);
    expect_refresh(def, 1, "1h", "plan");
    expect_refresh(def, 2, "10s", "row");
    expect_refresh(def, 3, "2m", "dashboard");
    json_decref(def);
    /* Stabilization (days 4-7): 30m, 4h, performance analysis daily. */
    def = dw_dashboard_get_json(db, "main", LAUNCH + 4 * DAY);
    ASSERT_EQ_STR(json_string_value(json_object_get(def, "phase")), "stabilization");
    expect_refresh(def, 0, "30m", "plan");
    expect_refresh(def, 1, "4h", "plan");
    expect_refresh(def, 3, "1d", "plan");
    json_decref(def);
    /* Before launch the plan is armed in its first phase. */
    def = dw_dashboard_get_json(db, "main", LAUNCH - DAY);
    ASSERT_EQ_STR(json_string_value(json_object_get(def, "phase")), "critical");
    ASSERT_TRUE(json_is_true(json_object_get(def, "beforeLaunch")));
    json_decref(def);
    /* Without cadence_from every row takes the dashboard's refresh (default 1m). */
    def = dw_dashboard_get_json(db, "second", LAUNCH);
    ASSERT_TRUE(json_is_null(json_object_get(def, "cadenceFrom")));
    ASSERT_EQ_STR(json_string_value(json_object_get(def, "refresh")), "1m");
    ASSERT_EQ_STR(json_string_value(json_object_get(def, "timeRange")), "2h");
    expect_refresh(def, 0, "1m", "dashboard");
    json_decref(def);
    ASSERT_NULL(dw_dashboard_get_json(db, "nope", LAUNCH));
    dw_dashboard_close(&db);
    dw_config_unref(&cfg);
}

TEST(definition_carries_panels_targets_thresholds_and_units)
{
    struct dw_config *cfg = good_config();
    struct dw_dashboards *db = open_ok(cfg);
    json_t *def = dw_dashboard_get_json(db, "main", LAUNCH);
    ASSERT_EQ_STR(json_string_value(json_object_get(def, "cadenceFrom")), "plan");
    ASSERT_EQ_STR(json_string_value(json_object_get(def, "timeRange")), "1h");
    char *links = json_dumps(json_object_get(def, "links"), JSON_COMPACT);
    ASSERT_EQ_STR(links, "[{\"title\":\"Plan\",\"url\":\"/api/plan\"}]");
    free(links);
    json_t *lat = json_array_get(json_object_get(row_of(def, 0), "panels"), 0);
    char *s = json_dumps(lat, JSON_COMPACT | JSON_REAL_PRECISION(6));
    ASSERT_EQ_STR(s, "{\"id\":\"latency\",\"title\":\"API latency\",\"description\":null,"
                     "\"kind\":\"timeseries\",\"unit\":\"seconds\",\"decimals\":2,\"min\":null,"
                     "\"max\":null,\"width\":6,\"direction\":\"above_is_bad\",\"thresholds\":["
                     "{\"value\":0.4,\"color\":\"amber\",\"op\":\">=\"},{\"value\":0.5,\"color\":"
                     "\"red\",\"op\":\">=\"}],\"targets\":[{\"query\":\"lat_seconds\",\"legend\":"
                     "\"{{instance}} p95\"}],\"links\":[{\"title\":\"Runbook\",\"url\":"
                     "\"https://runbooks.example/latency\"}]}");
    free(s);
    json_t *up = json_array_get(json_object_get(row_of(def, 0), "panels"), 1);
    ASSERT_EQ_STR(json_string_value(json_object_get(up, "direction")), "below_is_bad");
    json_t *th = json_array_get(json_object_get(up, "thresholds"), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(th, "op")), "<");
    json_t *orders = json_array_get(json_object_get(row_of(def, 1), "panels"), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(orders, "unit")), "currency:EUR");
    ASSERT_EQ_UINT(json_array_size(json_object_get(orders, "targets")), 2);
    ASSERT_EQ_INT(json_integer_value(json_object_get(orders, "width")), 3);
    json_t *cpu = json_array_get(json_object_get(row_of(def, 2), "panels"), 0);
    ASSERT_NEAR(json_real_value(json_object_get(cpu, "min")), 0, 0);
    ASSERT_NEAR(json_real_value(json_object_get(cpu, "max")), 1, 0);
    ASSERT_TRUE(json_is_null(json_object_get(cpu, "decimals")));
    json_decref(def);
    dw_dashboard_close(&db);
    dw_config_unref(&cfg);
}

/* ---- data ---- */

#define NOW (LAUNCH + 2 * HOUR)

struct fx {
    struct dw_config *cfg;
    struct dw_dashboards *db;
    struct dw_promql_memstorage *mem;
};

static void add(struct fx *f, const char *name, const char *lname, const char *lvalue, double v,
                int64_t from, int64_t to)
{
    struct dw_label l[2] = {{"__name__", name}, {lname, lvalue}};
    for (int64_t t = from; t <= to; t += 15 * S)
        ASSERT_EQ_INT(dw_promql_memstorage_add(f->mem, l, lname ? 2 : 1, t, v), 0);
}

static void fx_open(struct fx *f)
{
    f->cfg = good_config();
    f->db = open_ok(f->cfg);
    f->mem = dw_promql_memstorage_new();
    add(f, "lat_seconds", "instance", "a", 0.3, NOW - 2 * HOUR, NOW);
    add(f, "lat_seconds", "instance", "b", 0.6, NOW - 2 * HOUR, NOW);
    add(f, "lat_seconds", "instance", "c", 0.9, NOW - 2 * HOUR, NOW - 20 * MIN); /* gone */
    add(f, "up", "instance", "a", 1, NOW - 2 * HOUR, NOW);
    add(f, "up", "instance", "b", 0, NOW - 2 * HOUR, NOW);
    add(f, "orders", "shop", "x", 3, NOW - 2 * HOUR, NOW);
    add(f, "orders", "shop", "y", 4, NOW - 2 * HOUR, NOW);
    add(f, "cpu", "instance", "a", 0.5, NOW - 2 * HOUR, NOW);
}

static void fx_close(struct fx *f)
{
    dw_dashboard_close(&f->db);
    dw_promql_memstorage_free(&f->mem);
    dw_config_unref(&f->cfg);
}

/* The data answer as JSON; rc must be 0. */
static json_t *data(struct fx *f, const char *id, const char *panel,
                    struct dw_dashboard_range_in range)
{
    struct dw_dashboard_data_request rq = {.id = id, .panel = panel, .range = range, .now_ms = NOW};
    struct dw_buf out;
    dw_buf_init(&out, 0);
    char *err = NULL;
    int rc = dw_dashboard_data(f->db, dw_promql_memstorage_storage(f->mem), &rq, &out, &err);
    if (rc)
        fprintf(stderr, "  %s\n", err);
    ASSERT_EQ_INT(rc, 0);
    json_error_t jerr;
    json_t *j = json_loadb(out.data, out.len, 0, &jerr);
    if (!j)
        fprintf(stderr, "  bad JSON (%s): %.400s\n", jerr.text, out.data);
    ASSERT_NOT_NULL(j);
    dw_buf_release(&out);
    return j;
}

static json_t *panel_of(json_t *answer, const char *id)
{
    json_t *panels = json_object_get(answer, "panels");
    for (size_t i = 0; i < json_array_size(panels); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(panels, i), "id")), id) == 0)
            return json_array_get(panels, i);
    DW_FAIL_("no panel %s in the answer", id);
}

static json_t *series_of(json_t *panel, size_t i)
{
    return json_array_get(json_object_get(panel, "series"), i);
}

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

TEST(data_evaluates_every_panel_and_judges_the_value_at_to)
{
    struct fx f;
    fx_open(&f);
    json_t *a = data(&f, "main", NULL, (struct dw_dashboard_range_in){0});
    ASSERT_EQ_STR(str(a, "dashboard"), "main");
    ASSERT_EQ_STR(str(a, "phase"), "critical");
    /* 1h at target 100 points: a 1m step, 61 points ending at now. */
    ASSERT_NEAR(json_number_value(json_object_get(a, "to")), NOW / 1000.0, 1e-3);
    ASSERT_NEAR(json_number_value(json_object_get(a, "from")), (NOW - HOUR) / 1000.0, 1e-3);
    ASSERT_NEAR(json_number_value(json_object_get(a, "step")), 60, 1e-9);
    ASSERT_EQ_UINT(json_array_size(json_object_get(a, "panels")), 6);

    json_t *lat = panel_of(a, "latency");
    ASSERT_EQ_STR(str(lat, "status"), "ok");
    ASSERT_TRUE(json_is_null(json_object_get(lat, "error")));
    ASSERT_NEAR(json_number_value(json_object_get(lat, "evaluatedAt")), NOW / 1000.0, 1e-3);
    /* The panel is as bad as its worst series: b at 0.6 is over the red 0.5. */
    ASSERT_EQ_STR(str(lat, "state"), "red");
    char *th =
        json_dumps(json_object_get(lat, "threshold"), JSON_COMPACT | JSON_REAL_PRECISION(15));
    ASSERT_EQ_STR(th, "{\"value\":0.5,\"color\":\"red\",\"op\":\">=\",\"crossed\":true}");
    free(th);
    ASSERT_EQ_UINT(json_array_size(json_object_get(lat, "series")), 3);
    json_t *sa = series_of(lat, 0);
    ASSERT_EQ_STR(str(json_object_get(sa, "labels"), "instance"), "a");
    ASSERT_EQ_STR(str(json_object_get(sa, "labels"), "__name__"), "lat_seconds");
    ASSERT_EQ_STR(str(sa, "legend"), "a p95");
    ASSERT_EQ_UINT(json_array_size(json_object_get(sa, "values")), 61);
    json_t *last = json_object_get(sa, "last");
    ASSERT_EQ_UINT(json_array_size(last), 2);
    ASSERT_NEAR(json_number_value(json_array_get(last, 0)), NOW / 1000.0, 0);
    ASSERT_NEAR(json_number_value(json_array_get(last, 1)), 0.3, 0);
    ASSERT_EQ_STR(str(sa, "state"), "green");
    th = json_dumps(json_object_get(sa, "threshold"), JSON_COMPACT | JSON_REAL_PRECISION(15));
    ASSERT_EQ_STR(th, "{\"value\":0.4,\"color\":\"amber\",\"op\":\">=\",\"crossed\":false}");
    free(th);
    ASSERT_EQ_STR(str(series_of(lat, 1), "state"), "red");
    /* c stopped 20 minutes ago: its last point is old, its state unknown. */
    json_t *sc = series_of(lat, 2);
    ASSERT_EQ_STR(str(sc, "state"), "unknown");
    ASSERT_TRUE(json_is_null(json_object_get(sc, "threshold")));
    ASSERT_TRUE(json_number_value(json_array_get(json_object_get(sc, "last"), 0)) <
                NOW / 1000.0 - 600);

    /* Below is bad with op "<": up 1 is green, up 0 is red. */
    json_t *up = panel_of(a, "up");
    ASSERT_EQ_STR(str(up, "state"), "red");
    ASSERT_EQ_STR(str(series_of(up, 0), "state"), "green");
    ASSERT_EQ_STR(str(series_of(up, 1), "state"), "red");
    ASSERT_EQ_STR(str(series_of(up, 0), "legend"), "up{instance=\"a\"}");

    /* Two targets, their own legends; no thresholds: no state. */
    json_t *orders = panel_of(a, "orders");
    ASSERT_EQ_UINT(json_array_size(json_object_get(orders, "series")), 3);
    ASSERT_EQ_STR(str(series_of(orders, 0), "legend"), "all");
    ASSERT_NEAR(json_number_value(json_array_get(json_object_get(series_of(orders, 0), "last"), 1)),
                7, 0);
    ASSERT_EQ_STR(str(series_of(orders, 1), "legend"), "shop x");
    ASSERT_EQ_STR(str(series_of(orders, 2), "legend"), "shop y");
    ASSERT_TRUE(json_is_null(json_object_get(orders, "state")));
    ASSERT_TRUE(json_is_null(json_object_get(series_of(orders, 0), "state")));

    /* A scalar: one series without labels, named after the panel. */
    json_t *sc2 = panel_of(a, "scalar");
    ASSERT_EQ_STR(str(series_of(sc2, 0), "legend"), "A scalar");
    ASSERT_EQ_UINT(json_object_size(json_object_get(series_of(sc2, 0), "labels")), 0);

    /* A failing query is that panel's error; the others are answered. */
    json_t *broken = panel_of(a, "broken");
    ASSERT_EQ_STR(str(broken, "status"), "error");
    ASSERT_TRUE(strlen(str(broken, "error")) > 0);
    ASSERT_EQ_UINT(json_array_size(json_object_get(broken, "series")), 0);
    json_decref(a);
    fx_close(&f);
}

TEST(data_of_one_panel_and_what_is_not_there)
{
    struct fx f;
    fx_open(&f);
    json_t *a = data(&f, "main", "up", (struct dw_dashboard_range_in){0});
    ASSERT_EQ_UINT(json_array_size(json_object_get(a, "panels")), 1);
    ASSERT_EQ_STR(str(panel_of(a, "up"), "status"), "ok");
    json_decref(a);
    struct dw_buf out;
    dw_buf_init(&out, 0);
    dw_buf_puts(&out, "kept");
    char *err = NULL;
    struct dw_dashboard_data_request rq = {.id = "main", .panel = "nope", .now_ms = NOW};
    const struct dw_promql_storage *st = dw_promql_memstorage_storage(f.mem);
    ASSERT_EQ_INT(dw_dashboard_data(f.db, st, &rq, &out, &err), DW_DASHBOARD_ENOTFOUND);
    ASSERT_EQ_STR(err, "no panel \"nope\" in dashboard \"main\"");
    free(err);
    rq = (struct dw_dashboard_data_request){.id = "nope", .now_ms = NOW};
    ASSERT_EQ_INT(dw_dashboard_data(f.db, st, &rq, &out, &err), DW_DASHBOARD_ENOTFOUND);
    ASSERT_EQ_STR(err, "no dashboard \"nope\"");
    free(err);
    /* A range over the limit is refused whole, and nothing is appended. */
    rq = (struct dw_dashboard_data_request){
        .id = "main",
        .range = {.from_ms = NOW - 8 * DAY, .from_set = true},
        .now_ms = NOW,
    };
    ASSERT_EQ_INT(dw_dashboard_data(f.db, st, &rq, &out, &err), DW_DASHBOARD_EINVAL);
    ASSERT_CONTAINS(err, "dashboards.limits.max_range");
    free(err);
    ASSERT_EQ_STR(out.data, "kept");
    dw_buf_release(&out);
    fx_close(&f);
}

TEST(data_limits_series_per_panel_and_samples_per_answer)
{
    struct fx f;
    fx_open(&f);
    /* max_series 3: the second board's wide panel gives 5. */
    char *text = config_text_with(
        "dashboards:\n"
        "  limits: {max_series: 3, max_samples: 2000}\n"
        "  boards:\n"
        "    - id: w\n"
        "      title: W\n"
        "      rows:\n"
        "        - title: R\n"
        "          panels:\n"
        "            - {id: wide, title: Wide, kind: table, query: "
        "'{__name__=~\"lat_seconds|up\"}'}\n"
        "            - {id: lat, title: Lat, kind: timeseries, query: lat_seconds}\n"
        "            - {id: up, title: Up, kind: timeseries, query: up}\n");
    struct dw_config *cfg = config_load_text(text);
    free(text);
    char *err = NULL;
    ASSERT_EQ_INT(dw_dashboard_apply(f.db, cfg, &err), 0);
    dw_config_unref(&cfg);
    json_t *a = data(&f, "w", NULL, (struct dw_dashboard_range_in){0});
    json_t *wide = panel_of(a, "wide");
    ASSERT_EQ_STR(str(wide, "status"), "error");
    ASSERT_CONTAINS(str(wide, "error"), "the panel gives 5 series; the limit is 3 "
                                        "(dashboards.limits.max_series)");
    ASSERT_EQ_STR(str(panel_of(a, "lat"), "status"), "ok");
    json_decref(a);
    /* A 5 s step over 2 h: 1441 points a series. lat (3 series, about 3,900 points) passes the
     * answer's 2,000; up (2 series, 2,882) too; a single panel of one series would fit. */
    a = data(&f, "w", "lat", (struct dw_dashboard_range_in){.step_ms = 5 * S, .step_set = true});
    ASSERT_EQ_STR(str(panel_of(a, "lat"), "status"), "error");
    ASSERT_CONTAINS(str(panel_of(a, "lat"), "error"), "dashboards.limits.max_samples");
    json_decref(a);
    a = data(&f, "w", NULL,
             (struct dw_dashboard_range_in){
                 .from_ms = NOW - 10 * MIN, .step_ms = 1 * S, .from_set = true, .step_set = true});
    /* 601 points a series: wide fails on series, lat (1,202 + c's none) fits, up (1,202) not. */
    ASSERT_EQ_STR(str(panel_of(a, "lat"), "status"), "ok");
    ASSERT_EQ_STR(str(panel_of(a, "up"), "status"), "error");
    ASSERT_CONTAINS(str(panel_of(a, "up"), "error"), "what is left");
    json_decref(a);
    fx_close(&f);
}

TEST(a_reload_swaps_the_whole_set_or_nothing)
{
    struct fx f;
    fx_open(&f);
    /* An invalid section: refused with its position, the old dashboards stay. */
    char *text = config_text_with(BOARD("            - id: p\n"
                                        "              title: P\n"
                                        "              kind: stat\n"
                                        "              query: up\n"
                                        "              thresholds: [{value: 1, color: mauve}]\n"));
    struct dw_config *bad = config_load_text(text);
    free(text);
    char *err = NULL;
    ASSERT_EQ_INT(dw_dashboard_apply(f.db, bad, &err), -1);
    ASSERT_CONTAINS(err, "test.yaml:");
    ASSERT_CONTAINS(err, "mauve");
    free(err);
    err = NULL;
    ASSERT_NULL(dw_dashboard_open(bad, &err));
    ASSERT_CONTAINS(err, "mauve");
    free(err);
    err = NULL;
    dw_config_unref(&bad);
    ASSERT_EQ_UINT(dw_dashboard_count(f.db), 2);
    json_t *def = dw_dashboard_get_json(f.db, "main", NOW);
    ASSERT_NOT_NULL(def);
    json_decref(def);
    /* A valid one replaces every dashboard at once. */
    text = config_text_with(BOARD("            - {id: p, title: P, kind: stat, query: up}\n"));
    struct dw_config *next = config_load_text(text);
    free(text);
    ASSERT_EQ_INT(dw_dashboard_apply(f.db, next, &err), 0);
    dw_config_unref(&next); /* the set keeps its own reference */
    ASSERT_EQ_UINT(dw_dashboard_count(f.db), 1);
    ASSERT_NULL(dw_dashboard_get_json(f.db, "main", NOW));
    json_t *a = data(&f, "b", NULL, (struct dw_dashboard_range_in){0});
    ASSERT_EQ_STR(str(panel_of(a, "p"), "status"), "ok");
    json_decref(a);
    fx_close(&f);
}

TEST(json_strings_are_escaped_and_kept_valid)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dash_json_string(&b, "a\"b\\c\n\x01 é \xff end");
    ASSERT_EQ_STR(b.data, "\"a\\\"b\\\\c\\u000a\\u0001 é \\ufffd end\"");
    dw_buf_release(&b);
    dw_buf_init(&b, 0);
    const struct dw_label l[] = {{"instance", "a:9100"}, {"job", "node"}};
    dash_legend_render("{{instance}} / {{ job }} / {{missing}} / {{ bad", l, 2, &b);
    ASSERT_EQ_STR(b.data, "a:9100 / node /  / {{ bad");
    dw_buf_release(&b);
}

TEST(kpis_are_measured_by_their_queries_and_judged_against_the_plan)
{
    expect_error("dashboards:\n  kpis:\n    - {id: availabilty, query: up}\n", "availabilty",
                 "no KPI \"availabilty\" in the plan's kpis");
    expect_error("dashboards:\n  kpis:\n    - {id: error-rate, query: up}\n"
                 "    - {id: error-rate, query: vector(2)}\n",
                 "vector(2)", "has a query already");
    expect_error("dashboards:\n  kpis:\n    - {id: error-rate, query: 'up +'}\n", "'up +'",
                 "invalid PromQL query");
    ASSERT_TRUE(dw_dashboard_kpi_met("<", 0.5, 1));
    ASSERT_FALSE(dw_dashboard_kpi_met("<", 1, 1));
    ASSERT_TRUE(dw_dashboard_kpi_met("<=", 1, 1));
    ASSERT_TRUE(dw_dashboard_kpi_met(">=", 99.5, 99.5));
    ASSERT_FALSE(dw_dashboard_kpi_met(">", 0, 0));
    ASSERT_TRUE(dw_dashboard_kpi_met("==", 100, 100));
    ASSERT_FALSE(dw_dashboard_kpi_met(">=", 0.0 / 0.0, 0));

    char *text = config_text_with("dashboards:\n  kpis:\n"
                                  "    - {id: availability, query: '100 * min(up)'}\n"
                                  "    - {id: error-rate, query: 'max(err_ratio) * 100'}\n"
                                  "    - {id: api-latency-p95, query: 'max(no_such_series)'}\n");
    struct dw_config *cfg = config_load_text(text);
    free(text);
    struct dw_dashboards *db = open_ok(cfg);
    struct dw_promql_memstorage *mem = dw_promql_memstorage_new();
    struct dw_label up_a[] = {{"__name__", "up"}, {"instance", "a"}};
    struct dw_label up_b[] = {{"__name__", "up"}, {"instance", "b"}};
    struct dw_label err[] = {{"__name__", "err_ratio"}};
    for (int64_t t = NOW - 10 * MIN; t <= NOW; t += 15 * S) {
        ASSERT_EQ_INT(dw_promql_memstorage_add(mem, up_a, 2, t, 1), 0);
        ASSERT_EQ_INT(dw_promql_memstorage_add(mem, up_b, 2, t, 0.995), 0);
        ASSERT_EQ_INT(dw_promql_memstorage_add(mem, err, 1, t, 0.02), 0);
    }
    json_t *k = dw_dashboard_kpis_json(db, dw_promql_memstorage_storage(mem), NOW);
    size_t nplan = 0;
    dw_config_kpis(cfg, &nplan);
    ASSERT_EQ_UINT(json_array_size(k), nplan);
    json_t *avail = NULL, *errs = NULL, *lat = NULL, *growth = NULL;
    for (size_t i = 0; i < json_array_size(k); i++) {
        json_t *e = json_array_get(k, i);
        const char *id = json_string_value(json_object_get(e, "id"));
        avail = strcmp(id, "availability") == 0 ? e : avail;
        errs = strcmp(id, "error-rate") == 0 ? e : errs;
        lat = strcmp(id, "api-latency-p95") == 0 ? e : lat;
        growth = strcmp(id, "growth-rate") == 0 ? e : growth;
    }
    /* 99.5 against ">= 99.5": met; 2 % against "< 1": missed; no series: unknown; no query */
    ASSERT_NEAR(json_real_value(json_object_get(avail, "value")), 99.5, 1e-9);
    ASSERT_EQ_STR(json_string_value(json_object_get(avail, "state")), "met");
    ASSERT_NEAR(json_real_value(json_object_get(errs, "value")), 2, 1e-9);
    ASSERT_EQ_STR(json_string_value(json_object_get(errs, "state")), "missed");
    ASSERT_EQ_STR(json_string_value(json_object_get(lat, "state")), "unknown");
    ASSERT_TRUE(json_is_null(json_object_get(lat, "value")));
    ASSERT_TRUE(json_is_null(json_object_get(growth, "state")));
    ASSERT_TRUE(json_is_null(json_object_get(growth, "query")));
    json_decref(k);
    dw_promql_memstorage_free(&mem);
    dw_dashboard_close(&db);
    dw_config_unref(&cfg);
}

TEST_MAIN()
