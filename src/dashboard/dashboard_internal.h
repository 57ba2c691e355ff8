/*
 * dashboard_internal.h - what the files of the dashboard module share: the
 * decoded section (the schema walker writes these structs) and the set the
 * daemon serves. No other module includes this header.
 */
#ifndef DW_DASHBOARD_INTERNAL_H
#define DW_DASHBOARD_INTERNAL_H

#include "dashboard/dashboard.h"

#define DASH_ID_MAX 64
#define DASH_MAX_PANELS 100 /* per dashboard: bounds the work of one data request */
#define DASH_MAX_TARGETS 10 /* per panel */
#define DASH_DEFAULT_REFRESH "1m"
#define DASH_DEFAULT_RANGE "2h"

enum dash_kind {
    DASH_TIMESERIES,
    DASH_STAT,
    DASH_GAUGE,
    DASH_TABLE,
    DASH_HEATMAP,
    DASH_STATUS_GRID,
};

/** A query as written and parsed (a CUSTOM field of the walker). */
struct dash_query {
    char *text;
    struct dw_promql_expr *expr; /* NULL until decoded */
};

struct dash_target {
    struct dash_query query; /* first: an error at the target is one at its query */
    char *legend;            /* "{{instance}}" template, or NULL */
};

struct dash_threshold_in {
    double value;
    int color; /* index in the colour names: enum dw_dashboard_color */
    int op;    /* 0: the direction's own (>= or <=); else 1 ">=", 2 ">", 3 "<=", 4 "<" */
};

struct dash_link {
    char *title;
    char *url;
};

struct dash_panel {
    char *id;
    char *title;
    char *description;
    int kind; /* enum dash_kind */
    struct dash_query query;
    char *legend;
    struct dash_target *targets; /* after decoding, `query` is moved here as one target */
    size_t ntargets;
    char *unit;
    int32_t decimals;
    double min, max;
    int32_t width;
    int direction; /* enum dw_dashboard_direction */
    struct dash_threshold_in *thresholds_in;
    size_t nthresholds;
    struct dash_link *links;
    size_t nlinks;
    /* Filled after decoding. */
    bool has_decimals, has_min, has_max;
    struct dw_dashboard_threshold *thresholds; /* heap, nthresholds */
};

struct dash_row {
    char *title;
    int cls;            /* 0: none, else enum dw_check_class + 1 */
    int64_t refresh_ms; /* 0: not set */
    struct dash_panel *panels;
    size_t npanels;
};

struct dash_board {
    char *id;
    char *title;
    char *description;
    int64_t refresh_ms;
    int cadence_from; /* 0: none, 1: plan */
    int64_t time_range_ms;
    struct dash_row *rows;
    size_t nrows;
    struct dash_link *links;
    size_t nlinks;
    size_t npanels; /* filled after decoding */
};

/** A KPI of the plan measured by a query (dashboards.kpis). */
struct dash_kpi {
    char *id;
    struct dash_query query;
};

/** The whole section as decoded. */
struct dash_yaml {
    struct dw_dashboard_limits limits;
    struct dash_board *boards;
    size_t nboards;
    struct dash_kpi *kpis;
    size_t nkpis;
    const struct dw_config *cfg; /* not decoded: read by the checks (query.max_length) */
};

/** A decoded, checked section and the configuration it came from. Immutable once built. */
struct dash_set {
    atomic_int refs;
    struct dw_config *cfg; /* a reference: phases, cadences and query limits of this set */
    struct dash_yaml y;
};

/* config.c */

/** Decodes and checks cfg's section; NULL after adding the errors to diags. */
struct dash_set *dash_set_load(const struct dw_config *cfg, struct dw_diags *diags);
struct dash_set *dash_set_ref(struct dash_set *s);
void dash_set_unref(struct dash_set **s);
const struct dash_board *dash_board_find(const struct dash_set *s, const char *id);
/** A unit name for the API ("percent", "currency:EUR"...); "none" when unset. */
const char *dash_unit(const struct dash_panel *p);
const char *dash_kind_name(int kind);

/* dashboard.c */

/** A reference to the set the daemon serves now (caller unrefs). */
struct dash_set *dash_current(struct dw_dashboards *d);

/* data.c */

/** The effective refresh of a row at now_ms; *from gets "row", "plan" or "dashboard". */
int64_t dash_row_refresh(const struct dash_set *s, const struct dash_board *b,
                         const struct dash_row *r, int64_t now_ms, const char **from);
/**
 * Renders a legend template ("{{instance}} {{ job }}") against labels into
 * out; a missing label renders as "".
 */
void dash_legend_render(const char *tmpl, const struct dw_label *labels, size_t n,
                        struct dw_buf *out);
/** Appends s as a JSON string (UTF-8 kept; invalid bytes become U+FFFD). */
void dash_json_string(struct dw_buf *b, const char *s);

#endif
