/*
 * dashboard.h - dashboards declared in the configuration, checked at load
 * time, and evaluated on the server in one request.
 *
 * The `dashboards` section lists dashboards of rows of panels; every panel
 * holds one or more PromQL queries (targets), a unit, thresholds judged in a
 * direction (above is bad, below is bad) and display hints. The section is
 * closed and checked with the plan's schema walker, so every problem - an
 * unknown key, a duplicate id, a colour or unit that does not exist,
 * thresholds out of order, a query that does not parse - is reported at its
 * file:line:col. Queries are parsed once, when the configuration is applied,
 * and the parsed trees are shared by every request.
 *
 * A row's refresh follows the launch plan when the dashboard says
 * `cadence_from: plan`: the cadence of the row's check class in the phase
 * current at the time of the request (the plan module's answer), so the
 * Critical Metrics Dashboard refreshes System Health every 15 minutes in the
 * first 72 hours and every 30 minutes after.
 *
 * Data: every panel of a dashboard (or one) is evaluated as a PromQL range
 * query with the engine's own functions and limits (the configuration's
 * query section), over a range that ends at `to` and whose points fall on
 * `to`, `to - step`, ...; the value at `to` is judged against the panel's
 * thresholds. Requests are bounded (range, points per series, series per
 * panel, samples per answer) by `dashboards.limits`.
 *
 * Threads: every function is thread-safe. A reload swaps the whole set of
 * dashboards at once (dw_dashboard_apply); requests keep the set they
 * started with. Design: docs/internals/dashboard.md.
 */
#ifndef DW_DASHBOARD_H
#define DW_DASHBOARD_H

#include <jansson.h>
#include <stdatomic.h>

#include "core/core.h"
#include "plan/plan.h"
#include "promql/promql.h"

/* Return codes besides 0 (the HTTP layer's DW_API_E* have the same values). */
#define DW_DASHBOARD_EINVAL (-2)    /* the request is out of bounds or malformed (400) */
#define DW_DASHBOARD_ENOTFOUND (-3) /* no such dashboard or panel (404) */

/* ---- thresholds ---- */

/** Judged states, best to worst; UNKNOWN: no current value (or NaN). */
enum dw_dashboard_color {
    DW_DASHBOARD_GREEN,
    DW_DASHBOARD_AMBER,
    DW_DASHBOARD_RED,
    DW_DASHBOARD_UNKNOWN,
};
/** "green", "amber", "red", "unknown". */
const char *dw_dashboard_color_name(enum dw_dashboard_color c);

enum dw_dashboard_direction {
    DW_DASHBOARD_ABOVE_IS_BAD, /* thresholds ascend; a value at or above one takes its colour */
    DW_DASHBOARD_BELOW_IS_BAD, /* thresholds descend; a value at or below one takes its colour */
};

/** One threshold as configured: {value, color[, op]}. */
struct dw_dashboard_threshold {
    double value;
    enum dw_dashboard_color color; /* GREEN, AMBER or RED */
    bool strict;                   /* op ">" or "<": the value itself is still on the good side */
};

/**
 * The colour of v against thresholds listed in order of severity (as the
 * configuration checks them): green unless v crosses one, else the colour of
 * the last one it crosses. Crossing is v >= value (v > value when strict)
 * for ABOVE_IS_BAD, v <= value (v < value) for BELOW_IS_BAD. NaN is
 * UNKNOWN. *index (may be NULL) gets the threshold that decided, -1 when
 * none was crossed or v is NaN.
 */
enum dw_dashboard_color dw_dashboard_judge(const struct dw_dashboard_threshold *t, size_t n,
                                           enum dw_dashboard_direction dir, double v, int *index);
/** The comparison a threshold stands for: ">=", ">", "<=" or "<". */
const char *dw_dashboard_threshold_op(const struct dw_dashboard_threshold *t,
                                      enum dw_dashboard_direction dir);

/* ---- ranges and limits ---- */

/** dashboards.limits (defaults in docs/internals/dashboard.md). */
struct dw_dashboard_limits {
    int64_t max_range_ms;  /* to - from; default 31d */
    int64_t max_points;    /* points per series; default the engine's 11,000 */
    int64_t max_series;    /* series per panel (all its targets); default 200 */
    int64_t max_samples;   /* points in one answer; default 500,000 */
    int64_t target_points; /* what the default step aims at per series; default 300 */
};

/** A data request's time arguments; a field is used only when its *_set is true. */
struct dw_dashboard_range_in {
    int64_t from_ms, to_ms, step_ms;
    bool from_set, to_set, step_set;
};

/** A resolved range: points at from, from + step, ..., to (to - from is a multiple of step). */
struct dw_dashboard_range {
    int64_t from_ms, to_ms, step_ms;
    int64_t points; /* per series */
};

/**
 * The default step for a span: the smallest of 1s, 2s, 5s, 10s, 15s, 30s,
 * 1m, 2m, 5m, 10m, 15m, 30m, 1h, 2h, 3h, 6h, 12h, 1d (then whole days) that
 * gives at most target_points points (span / step + 1).
 */
int64_t dw_dashboard_default_step(int64_t span_ms, int64_t target_points);

/**
 * Resolves a request's range: `to` defaults to now, `from` to `to` minus the
 * dashboard's time range, the step to dw_dashboard_default_step(); then
 * `from` moves forward to the first point of the grid that ends on `to`.
 * Returns 0, or DW_DASHBOARD_EINVAL with *err (caller frees) saying which
 * bound was passed and how to fix the request.
 */
int dw_dashboard_resolve_range(const struct dw_dashboard_limits *lim, int64_t default_range_ms,
                               int64_t now_ms, const struct dw_dashboard_range_in *in,
                               struct dw_dashboard_range *out, char **err);

/* ---- configuration ---- */

/** Validates the `dashboards` section; the number of errors added to diags (file:line:col). */
size_t dw_dashboard_check_config(const struct dw_config *cfg, struct dw_diags *diags);

/** The dashboards the daemon serves: one decoded set, swapped whole on reload. */
struct dw_dashboards;

/** Decodes cfg's dashboards. NULL with *err (caller frees) when the section is invalid. */
struct dw_dashboards *dw_dashboard_open(const struct dw_config *cfg, char **err);
/** Replaces the set with cfg's: 0, or -1 with *err and nothing changed. */
int dw_dashboard_apply(struct dw_dashboards *d, const struct dw_config *cfg, char **err);
/** Frees; sets *d to NULL. NULL is a no-op. */
void dw_dashboard_close(struct dw_dashboards **d);
/** How many dashboards the current set has. */
size_t dw_dashboard_count(struct dw_dashboards *d);

/* ---- answers (JSON shapes in docs/internals/dashboard.md) ---- */

/** [{"id", "title", "description", "panels": count}] in configuration order. */
json_t *dw_dashboard_list_json(struct dw_dashboards *d);
/**
 * The full definition of one dashboard with the refresh of each row at
 * now_ms (and the launch phase it comes from), or NULL when there is none.
 */
json_t *dw_dashboard_get_json(struct dw_dashboards *d, const char *id, int64_t now_ms);

struct dw_dashboard_data_request {
    const char *id;                     /* the dashboard */
    const char *panel;                  /* one panel, or NULL for all */
    struct dw_dashboard_range_in range; /* from, to, step */
    int64_t now_ms;
    const atomic_bool *cancel; /* may be NULL; stops the evaluation (panels answer "canceled") */
};

/**
 * Evaluates the panels of one dashboard over storage and appends the answer's
 * JSON object to out: {"dashboard", "from", "to", "step", "phase", "panels":
 * [{"id", "evaluatedAt", "status", "error", "state", "threshold", "series":
 * [{"labels", "legend", "values", "last", "state", "threshold"}]}]}. A panel
 * whose query fails, or passes the series or sample limit, answers with
 * status "error" and the reason; the others are still evaluated. Returns 0,
 * DW_DASHBOARD_ENOTFOUND (dashboard or panel) or DW_DASHBOARD_EINVAL (range
 * out of bounds) with *err (caller frees); nothing is appended on error.
 */
int dw_dashboard_data(struct dw_dashboards *d, const struct dw_promql_storage *storage,
                      const struct dw_dashboard_data_request *rq, struct dw_buf *out, char **err);

/**
 * The plan's KPIs measured now: [{"id", "name", "group", "op", "target",
 * "unit", "description", "query" (dashboards.kpis, or null), "value" (the
 * query's first sample, or null), "state": "met" | "missed" | "unknown"
 * (no value or an error) | null (no query), "error", "evaluatedAt"}] in the
 * plan's order. Each query is bounded by the dashboards' limits and the
 * query timeout.
 */
json_t *dw_dashboard_kpis_json(struct dw_dashboards *d, const struct dw_promql_storage *storage,
                               int64_t now_ms);
/** Whether value meets a KPI's target under op ("<", "<=", ">", ">=", "=="). */
bool dw_dashboard_kpi_met(const char *op, double value, double target);

#endif
