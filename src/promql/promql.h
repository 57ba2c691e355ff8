/*
 * promql.h - the PromQL language front end: lexer, parser, typed AST, type
 * checking and the canonical printer, following Prometheus 2.42.
 *
 * dw_promql_parse() turns a query into an immutable tree of typed nodes that
 * an evaluator walks directly: every node carries its value type, functions
 * are resolved to a table entry with a numeric id, label matchers carry their
 * compiled regular expressions, and nodes whose value cannot change between
 * evaluation steps (literals, `@` modifiers) are marked step-invariant.
 * Errors are reported like Prometheus does ("1:14: parse error: unexpected
 * <op:+>"), as a position plus a message.
 *
 * Every string in the tree is NUL-terminated; label values and string
 * literals may also contain NUL bytes (written "\x00" in a query), so those
 * carry an explicit length.
 *
 * A parsed tree is read-only and may be shared by threads; it is freed as a
 * whole with dw_promql_free().
 */
#ifndef DW_PROMQL_H
#define DW_PROMQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---- value types ---- */

enum dw_promql_type {
    DW_PROMQL_TYPE_NONE = 0,
    DW_PROMQL_TYPE_SCALAR,
    DW_PROMQL_TYPE_VECTOR, /* instant vector */
    DW_PROMQL_TYPE_MATRIX, /* range vector */
    DW_PROMQL_TYPE_STRING,
};

/** "scalar", "instant vector", "range vector", "string" (Prometheus's wording). */
const char *dw_promql_type_name(enum dw_promql_type t);

/* ---- operators ---- */

/* Binary operators; the order is part of the ABI (the parser relies on it). */
enum dw_promql_binop {
    DW_PROMQL_ADD = 0,
    DW_PROMQL_SUB,
    DW_PROMQL_MUL,
    DW_PROMQL_DIV,
    DW_PROMQL_MOD,
    DW_PROMQL_POW,
    DW_PROMQL_ATAN2,
    DW_PROMQL_EQLC, /* == */
    DW_PROMQL_NEQ,
    DW_PROMQL_GTR,
    DW_PROMQL_LSS,
    DW_PROMQL_GTE,
    DW_PROMQL_LTE,
    DW_PROMQL_AND,
    DW_PROMQL_OR,
    DW_PROMQL_UNLESS,
};

/** The operator as written in canonical PromQL ("+", "==", "atan2", "and"). */
const char *dw_promql_binop_name(enum dw_promql_binop op);
/** True for == != > < >= <=. */
bool dw_promql_binop_is_comparison(enum dw_promql_binop op);
/** True for and, or, unless. */
bool dw_promql_binop_is_set(enum dw_promql_binop op);

enum dw_promql_agg {
    DW_PROMQL_AGG_SUM = 0,
    DW_PROMQL_AGG_AVG,
    DW_PROMQL_AGG_COUNT,
    DW_PROMQL_AGG_MIN,
    DW_PROMQL_AGG_MAX,
    DW_PROMQL_AGG_GROUP,
    DW_PROMQL_AGG_STDDEV,
    DW_PROMQL_AGG_STDVAR,
    DW_PROMQL_AGG_TOPK,
    DW_PROMQL_AGG_BOTTOMK,
    DW_PROMQL_AGG_COUNT_VALUES,
    DW_PROMQL_AGG_QUANTILE,
};

/** "sum", "count_values", ... */
const char *dw_promql_agg_name(enum dw_promql_agg op);

/* ---- functions ---- */

enum dw_promql_func_id {
    DW_PROMQL_FN_ABS = 0,
    DW_PROMQL_FN_ABSENT,
    DW_PROMQL_FN_ABSENT_OVER_TIME,
    DW_PROMQL_FN_ACOS,
    DW_PROMQL_FN_ACOSH,
    DW_PROMQL_FN_ASIN,
    DW_PROMQL_FN_ASINH,
    DW_PROMQL_FN_ATAN,
    DW_PROMQL_FN_ATANH,
    DW_PROMQL_FN_AVG_OVER_TIME,
    DW_PROMQL_FN_CEIL,
    DW_PROMQL_FN_CHANGES,
    DW_PROMQL_FN_CLAMP,
    DW_PROMQL_FN_CLAMP_MAX,
    DW_PROMQL_FN_CLAMP_MIN,
    DW_PROMQL_FN_COS,
    DW_PROMQL_FN_COSH,
    DW_PROMQL_FN_COUNT_OVER_TIME,
    DW_PROMQL_FN_DAY_OF_MONTH,
    DW_PROMQL_FN_DAY_OF_WEEK,
    DW_PROMQL_FN_DAY_OF_YEAR,
    DW_PROMQL_FN_DAYS_IN_MONTH,
    DW_PROMQL_FN_DEG,
    DW_PROMQL_FN_DELTA,
    DW_PROMQL_FN_DERIV,
    DW_PROMQL_FN_EXP,
    DW_PROMQL_FN_FLOOR,
    DW_PROMQL_FN_HISTOGRAM_COUNT,
    DW_PROMQL_FN_HISTOGRAM_FRACTION,
    DW_PROMQL_FN_HISTOGRAM_QUANTILE,
    DW_PROMQL_FN_HISTOGRAM_SUM,
    DW_PROMQL_FN_HOLT_WINTERS,
    DW_PROMQL_FN_HOUR,
    DW_PROMQL_FN_IDELTA,
    DW_PROMQL_FN_INCREASE,
    DW_PROMQL_FN_IRATE,
    DW_PROMQL_FN_LABEL_JOIN,
    DW_PROMQL_FN_LABEL_REPLACE,
    DW_PROMQL_FN_LAST_OVER_TIME,
    DW_PROMQL_FN_LN,
    DW_PROMQL_FN_LOG10,
    DW_PROMQL_FN_LOG2,
    DW_PROMQL_FN_MAX_OVER_TIME,
    DW_PROMQL_FN_MIN_OVER_TIME,
    DW_PROMQL_FN_MINUTE,
    DW_PROMQL_FN_MONTH,
    DW_PROMQL_FN_PI,
    DW_PROMQL_FN_PREDICT_LINEAR,
    DW_PROMQL_FN_PRESENT_OVER_TIME,
    DW_PROMQL_FN_QUANTILE_OVER_TIME,
    DW_PROMQL_FN_RAD,
    DW_PROMQL_FN_RATE,
    DW_PROMQL_FN_RESETS,
    DW_PROMQL_FN_ROUND,
    DW_PROMQL_FN_SCALAR,
    DW_PROMQL_FN_SGN,
    DW_PROMQL_FN_SIN,
    DW_PROMQL_FN_SINH,
    DW_PROMQL_FN_SORT,
    DW_PROMQL_FN_SORT_DESC,
    DW_PROMQL_FN_SQRT,
    DW_PROMQL_FN_STDDEV_OVER_TIME,
    DW_PROMQL_FN_STDVAR_OVER_TIME,
    DW_PROMQL_FN_SUM_OVER_TIME,
    DW_PROMQL_FN_TAN,
    DW_PROMQL_FN_TANH,
    DW_PROMQL_FN_TIME,
    DW_PROMQL_FN_TIMESTAMP,
    DW_PROMQL_FN_VECTOR,
    DW_PROMQL_FN_YEAR,
    DW_PROMQL_FN_COUNT_ /* number of functions, not a function */
};

#define DW_PROMQL_MAX_FUNC_ARGS 5

struct dw_promql_func {
    const char *name;
    enum dw_promql_func_id id;
    uint8_t nargs; /* entries used in arg_types */
    /*
     * 0: exactly nargs arguments. > 0: the last of arg_types is optional and
     * may repeat up to `variadic` times. -1: the last may repeat without
     * limit (label_join's source labels).
     */
    int8_t variadic;
    enum dw_promql_type arg_types[DW_PROMQL_MAX_FUNC_ARGS];
    enum dw_promql_type ret;
    /* Result depends on the evaluation time itself (time(), hour(), ...):
     * never treated as step-invariant, like Prometheus's AtModifierUnsafeFunctions. */
    bool at_unsafe;
    /* Only meaningful for native histograms, which dojowatch does not store:
     * they parse and type-check; on float series Prometheus returns nothing. */
    bool native_histogram;
};

/** The function called `name` (case-sensitive, like Prometheus), or NULL. */
const struct dw_promql_func *dw_promql_func_lookup(const char *name, size_t len);
/** The whole table, sorted by name, indexed by enum dw_promql_func_id. */
const struct dw_promql_func *dw_promql_func_table(size_t *count);

/* ---- regular expressions (label matchers, label_replace) ---- */

/*
 * A regular expression compiled like Prometheus compiles it: anchored as
 * "^(?:pattern)$", `.` not matching a newline, UTF-8 aware. PCRE2 backs it,
 * with fast paths for ".*", ".+", literals and alternations of literals.
 * Opaque; owned by the parsed expression.
 */
struct dw_promql_regex;

/** True when the whole of s[0..len) matches. Safe from any thread. */
bool dw_promql_regex_match(const struct dw_promql_regex *re, const char *s, size_t len);
/**
 * label_replace(): when re matches src, appends `tmpl` with $1, ${1}, $name,
 * ${name} and $$ expanded (Go's Regexp.Expand rules) to out and returns 1;
 * returns 0 when re does not match, -1 when out reached its maximum.
 */
int dw_promql_regex_expand(const struct dw_promql_regex *re, const char *src, size_t len,
                           const char *tmpl, size_t tlen, struct dw_buf *out);
/** The pattern as written in the query (without the added anchors). */
const char *dw_promql_regex_pattern(const struct dw_promql_regex *re);

/* ---- the tree ---- */

enum dw_promql_match_type {
    DW_PROMQL_MATCH_EQ = 0, /* =  */
    DW_PROMQL_MATCH_NEQ,    /* != */
    DW_PROMQL_MATCH_RE,     /* =~ */
    DW_PROMQL_MATCH_NRE,    /* !~ */
};

struct dw_promql_matcher {
    enum dw_promql_match_type type;
    const char *name;
    const char *value;
    size_t value_len;
    const struct dw_promql_regex *re; /* for =~ and !~, else NULL */
};

/** Applies one matcher to a label value (a missing label is the value ""). */
bool dw_promql_matcher_matches(const struct dw_promql_matcher *m, const char *value, size_t len);

enum dw_promql_at {
    DW_PROMQL_AT_NONE = 0,
    DW_PROMQL_AT_TIME,  /* @ <timestamp>: at_ms holds it */
    DW_PROMQL_AT_START, /* @ start(): the query's start time */
    DW_PROMQL_AT_END,   /* @ end(): the query's end time */
};

enum dw_promql_card {
    DW_PROMQL_CARD_ONE_TO_ONE = 0,
    DW_PROMQL_CARD_MANY_TO_ONE,  /* group_left */
    DW_PROMQL_CARD_ONE_TO_MANY,  /* group_right */
    DW_PROMQL_CARD_MANY_TO_MANY, /* set operators */
};

enum dw_promql_kind {
    DW_PROMQL_NUMBER = 1,
    DW_PROMQL_STRING,
    DW_PROMQL_VECTOR_SELECTOR,
    DW_PROMQL_MATRIX_SELECTOR,
    DW_PROMQL_SUBQUERY,
    DW_PROMQL_PAREN,
    DW_PROMQL_UNARY,
    DW_PROMQL_BINARY,
    DW_PROMQL_CALL,
    DW_PROMQL_AGGREGATE,
};

struct dw_promql_node;

struct dw_promql_vector_selector {
    const char *name; /* the metric name written before the braces, or "" */
    /* Every matcher in query order; when `name` is set, the last one is the
     * __name__="name" matcher made from it (as Prometheus does). */
    struct dw_promql_matcher *matchers;
    size_t nmatchers;
    int64_t offset_ms; /* 0 when no offset; negative offsets allowed */
    enum dw_promql_at at;
    int64_t at_ms;
};

struct dw_promql_matrix_selector {
    struct dw_promql_node *vs; /* a DW_PROMQL_VECTOR_SELECTOR; it holds offset and @ */
    int64_t range_ms;
};

struct dw_promql_subquery {
    struct dw_promql_node *expr;
    int64_t range_ms;
    int64_t step_ms; /* 0: the engine's default step */
    int64_t offset_ms;
    enum dw_promql_at at;
    int64_t at_ms;
};

struct dw_promql_unary {
    enum dw_promql_binop op; /* DW_PROMQL_ADD or DW_PROMQL_SUB */
    struct dw_promql_node *expr;
};

struct dw_promql_binary {
    enum dw_promql_binop op;
    struct dw_promql_node *lhs, *rhs;
    bool return_bool;
    /* Vector matching, only meaningful when both sides are instant vectors
     * (then `matching` is true). */
    bool matching;
    enum dw_promql_card card;
    bool on;             /* on(...) rather than ignoring(...) */
    const char **labels; /* on/ignoring labels */
    size_t nlabels;
    const char **include; /* group_left/group_right labels */
    size_t ninclude;
};

struct dw_promql_call {
    const struct dw_promql_func *func;
    struct dw_promql_node **args;
    size_t nargs;
    const struct dw_promql_regex *re; /* label_replace: its compiled regex, else NULL */
};

struct dw_promql_aggregate {
    enum dw_promql_agg op;
    struct dw_promql_node *expr;
    struct dw_promql_node *param; /* topk, bottomk, quantile, count_values; else NULL */
    const char **grouping;        /* as written, in order */
    size_t ngrouping;
    bool without;
};

struct dw_promql_node {
    enum dw_promql_kind kind;
    enum dw_promql_type type;
    /* Same value at every step of a range query: literals, selectors and
     * subqueries with @, and expressions built only from those (Prometheus
     * wraps such subtrees in a StepInvariantExpr at evaluation). */
    bool step_invariant;
    uint32_t depth;      /* height of this subtree, 1 for a leaf */
    uint32_t start, end; /* byte range [start, end) in the query */
    union {
        double number;
        struct {
            const char *value;
            size_t len;
        } string;
        struct dw_promql_vector_selector vs;
        struct dw_promql_matrix_selector ms;
        struct dw_promql_subquery sq;
        struct dw_promql_node *paren;
        struct dw_promql_unary unary;
        struct dw_promql_binary bin;
        struct dw_promql_call call;
        struct dw_promql_aggregate agg;
    } u;
};

/* ---- parsing ---- */

struct dw_promql_limits {
    size_t max_query_len;  /* bytes; 0 means DW_PROMQL_DEFAULT_MAX_QUERY_LEN */
    unsigned max_depth;    /* nesting of the tree; 0 means the default */
    unsigned max_matchers; /* label matchers in one selector; 0 means the default */
    unsigned max_labels;   /* labels in one by/without/on/ignoring/group_x list */
};

#define DW_PROMQL_DEFAULT_MAX_QUERY_LEN (64u * 1024u)
#define DW_PROMQL_DEFAULT_MAX_DEPTH 256u
#define DW_PROMQL_DEFAULT_MAX_MATCHERS 128u
#define DW_PROMQL_DEFAULT_MAX_LABELS 128u

/** A parse error: where it starts (1-based line and byte column) and why. */
struct dw_promql_error {
    int line;
    int col;
    size_t start, end; /* byte range in the query */
    char *msg;         /* heap, owned by the caller; NULL when there is no error */
};

/** Frees msg and clears the struct. */
void dw_promql_error_release(struct dw_promql_error *err);
/** Appends "line:col: parse error: msg", Prometheus's format. */
void dw_promql_error_format(const struct dw_promql_error *err, struct dw_buf *out);

/* A parsed query: owns the tree, its strings and compiled regexes. */
struct dw_promql_expr;

/**
 * Parses and type-checks `query` (len bytes, need not be NUL-terminated).
 * limits may be NULL for the defaults. On success returns 0 and *out owns
 * the tree. On failure returns -1, sets *out to NULL and, when err is not
 * NULL, fills it with the first error (release it with
 * dw_promql_error_release). Never recurses deeper than the depth limit.
 */
int dw_promql_parse(const char *query, size_t len, const struct dw_promql_limits *limits,
                    struct dw_promql_expr **out, struct dw_promql_error *err);
/** Frees a parsed query and sets *e to NULL; NULL or *e == NULL is a no-op. */
void dw_promql_free(struct dw_promql_expr **e);
/** The root node of a parsed query. */
const struct dw_promql_node *dw_promql_root(const struct dw_promql_expr *e);

/* ---- printing ---- */

/* Wrap every unary and binary expression in parentheses (for tests and
 * debugging: shows how precedence and associativity were resolved). */
#define DW_PROMQL_FORMAT_PARENS 1u

/**
 * Appends the canonical text of n (like Prometheus's String(): lower-case
 * keywords, sorted matchers, shortest durations) to out. Parsing that text
 * gives back the same tree. Returns -1 when out reached its maximum.
 */
int dw_promql_format(const struct dw_promql_node *n, unsigned flags, struct dw_buf *out);
/** The canonical text of n as a fresh heap string. */
char *dw_promql_format_str(const struct dw_promql_node *n);

/* ==== evaluation ====
 *
 * The engine evaluates a parsed query against a storage, as an instant query
 * (one evaluation time) or a range query (start, end, step), with Prometheus
 * 2.42's semantics: 5 m lookback, staleness markers, the extrapolation rules
 * of rate/increase/delta, vector matching, NaN handling. Range-vector
 * functions are computed for all steps of one series in a single pass, then
 * aggregated across series step by step. Design: docs/internals/promql-eval.md.
 *
 * Threads: a query runs entirely on the calling thread; any number of queries
 * may run at once on one storage if the storage allows concurrent reads. The
 * cancellation flag may be set from any thread.
 */

#include <stdatomic.h>

#include "tsdb/tsdb.h" /* struct dw_label */

/* ---- storage interface ---- */

/*
 * What the engine tells the storage about one selection, like Prometheus's
 * SelectHints. Samples outside [start_ms, end_ms] may be returned; the engine
 * ignores them.
 */
struct dw_promql_select_hints {
    int64_t start_ms, end_ms; /* the samples the engine needs, inclusive */
    int64_t step_ms;          /* step of the evaluation that reads them; 0 for an instant query */
    int64_t range_ms;         /* the [range] of a range selector or subquery, else 0 */
    const char *func;         /* the function reading the range ("rate"), or NULL */
    /*
     * 0: raw samples only. > 0: where raw samples have aged out (before the
     * storage's raw_min_ms), samples downsampled to this resolution are
     * wanted; the storage returns them followed by the raw samples it still
     * has. The engine picks it from dw_promql_storage_info.
     */
    int64_t resolution_ms;
};

/*
 * What a storage holds, so the engine can choose a resolution: where raw
 * data has aged out and the step is at least a downsampled resolution, the
 * finest such resolution whose data reaches back far enough, else the one
 * reaching back furthest (the rule of dw_tsdb_resolution_choose()).
 */
struct dw_promql_storage_info {
    int64_t raw_min_ms;            /* raw samples older than this have aged out; INT64_MIN: none */
    const int64_t *resolutions_ms; /* downsampled resolutions available, ascending; may be NULL */
    const int64_t *resolution_min_ms; /* per resolution, its oldest sample; NULL: all reach back */
    size_t nresolutions;
};

/*
 * The result of a selection: the matching series, sorted by labels, each with
 * an iterator over its samples in ascending time. Implemented by a storage:
 * embed `struct dw_promql_series_set` first in the storage's own struct.
 */
struct dw_promql_series_set;

struct dw_promql_series_set_ops {
    /** Moves to the next series; false at the end or on error (see err). */
    bool (*next)(struct dw_promql_series_set *ss);
    /** Labels of the current series, sorted by name, no empty values; valid until next(). */
    const struct dw_label *(*labels)(struct dw_promql_series_set *ss, size_t *n);
    /** The current series' next sample; false when there is none left. */
    bool (*sample_next)(struct dw_promql_series_set *ss, int64_t *t, double *v);
    /**
     * The first sample at or after t, never moving backwards: returns the
     * current sample again when it already qualifies. False when none is left.
     */
    bool (*sample_seek)(struct dw_promql_series_set *ss, int64_t t, int64_t *ts, double *v);
    /** NULL, or why iteration stopped early (owned by the set). */
    const char *(*err)(struct dw_promql_series_set *ss);
    /** Frees the set. */
    void (*close)(struct dw_promql_series_set *ss);
    /**
     * Optional (may be NULL): the fast path of seek(mint) then next() while
     * t <= maxt. Copies up to cap of the current series' next samples with
     * mint <= t <= maxt into t[] and v[] and returns how many; 0 when none
     * is left. Calls continue where the previous one stopped.
     */
    size_t (*sample_read)(struct dw_promql_series_set *ss, int64_t mint, int64_t maxt, int64_t *t,
                          double *v, size_t cap);
};

struct dw_promql_series_set {
    const struct dw_promql_series_set_ops *ops;
};

struct dw_promql_storage_ops {
    /**
     * Selects the series matching every matcher (a missing label matches as
     * ""). On success returns 0 and *out (never NULL). On failure returns -1
     * and may set *err to a heap message the caller frees.
     */
    int (*select)(void *ctx, const struct dw_promql_matcher *matchers, size_t n,
                  const struct dw_promql_select_hints *hints, struct dw_promql_series_set **out,
                  char **err);
    /** Fills *info; may be NULL (raw data only, nothing aged out). */
    void (*info)(void *ctx, struct dw_promql_storage_info *info);
};

struct dw_promql_storage {
    const struct dw_promql_storage_ops *ops;
    void *ctx;
};

/* ---- in-memory storage (tests, conformance runner, benchmark) ---- */

/*
 * Series sorted by labels with their samples in arrays, every float64 bit
 * pattern kept (staleness markers included). Optional downsampled tiers and
 * a raw-retention boundary simulate aged-out raw data. Not synchronised:
 * adding must not overlap with queries.
 */
struct dw_promql_memstorage;

struct dw_promql_memstorage *dw_promql_memstorage_new(void);
/** Frees everything and sets *m to NULL; NULL or *m == NULL is a no-op. */
void dw_promql_memstorage_free(struct dw_promql_memstorage **m);
/** Drops every series and sample (the `clear` of a .test file). */
void dw_promql_memstorage_clear(struct dw_promql_memstorage *m);
/**
 * Adds one raw sample. Labels come in any order; empty values are dropped.
 * A sample at a timestamp the series already has replaces it. Returns -1
 * (and adds nothing) for a duplicate or invalid label name or no labels.
 */
int dw_promql_memstorage_add(struct dw_promql_memstorage *m, const struct dw_label *labels,
                             size_t n, int64_t t, double v);
/** Adds one sample to the series' tier downsampled to resolution_ms (> 0). */
int dw_promql_memstorage_add_downsampled(struct dw_promql_memstorage *m,
                                         const struct dw_label *labels, size_t n,
                                         int64_t resolution_ms, int64_t t, double v);
/** Raw samples before t are treated as aged out (INT64_MIN, the default: keep all). */
void dw_promql_memstorage_set_raw_min(struct dw_promql_memstorage *m, int64_t t);
/** Number of series and of raw samples held. */
void dw_promql_memstorage_stats(const struct dw_promql_memstorage *m, size_t *series,
                                size_t *samples);
/** The storage interface over m (valid while m lives). */
const struct dw_promql_storage *dw_promql_memstorage_storage(struct dw_promql_memstorage *m);

/* ---- the tsdb database as a storage (storage_tsdb.c, in promql_tsdb_dep) ---- */

/**
 * Points *st at the tsdb database db: each selection opens a tsdb querier
 * over the hinted range with the matchers rebuilt as tsdb matchers. It
 * reports which resolutions exist and from when, so a coarse step over a
 * range where raw data has aged out reads the 5 m / 1 h rollups (max for
 * max_over_time, min for min_over_time, sum for sum_over_time, the last value
 * otherwise). db must outlive every query using st.
 */
void dw_promql_tsdb_storage(struct dw_promql_storage *st, struct dw_tsdb *db);

/* ---- evaluating ---- */

#define DW_PROMQL_DEFAULT_LOOKBACK_MS (5 * 60 * 1000)
#define DW_PROMQL_DEFAULT_SUBQUERY_STEP_MS (60 * 1000)
#define DW_PROMQL_DEFAULT_MAX_SAMPLES 50000000u
#define DW_PROMQL_DEFAULT_TIMEOUT_MS (2 * 60 * 1000)
#define DW_PROMQL_DEFAULT_MAX_POINTS 11000u
#define DW_PROMQL_MAX_LABEL_VALUE_LEN (64u * 1024u)

/* Options of one query; a zeroed struct means every default. */
struct dw_promql_eval_opts {
    int64_t lookback_ms;       /* 0: 5 m */
    int64_t subquery_step_ms;  /* subqueries without a step; 0: 1 m */
    size_t max_samples;        /* samples loaded or held at once; 0: 50,000,000 */
    int64_t timeout_ms;        /* 0: 2 min; < 0: none */
    size_t max_points;         /* steps of a range query; 0: 11,000 */
    const atomic_bool *cancel; /* may be NULL; set it from any thread to stop the query */
};

/* Why a query failed; the HTTP layer maps these to Prometheus's error types. */
enum dw_promql_errcode {
    DW_PROMQL_OK = 0,
    DW_PROMQL_EBAD = -1,      /* bad_data: the request itself is invalid (400) */
    DW_PROMQL_EEXEC = -2,     /* execution: the query failed while evaluating (422) */
    DW_PROMQL_ETOOMANY = -3,  /* execution: over max_samples (422) */
    DW_PROMQL_ETIMEOUT = -4,  /* timeout (503) */
    DW_PROMQL_ECANCELED = -5, /* canceled (503) */
    DW_PROMQL_ESTORAGE = -6,  /* internal: the storage failed (500) */
};

struct dw_promql_point {
    int64_t t; /* milliseconds */
    double v;
};

struct dw_promql_series {
    struct dw_label *labels; /* sorted by name, __name__ included when kept */
    size_t nlabels;
    struct dw_promql_point *points; /* ascending time; one point for an instant vector */
    size_t npoints;
};

/*
 * A query result, ready to be written in Prometheus's JSON shapes. Owns all
 * its memory. Instant queries give SCALAR, VECTOR, MATRIX (a range selector
 * or subquery at the top) or STRING; range queries always give MATRIX (a
 * scalar expression becomes one series without labels), sorted by labels.
 */
struct dw_promql_result {
    enum dw_promql_type type;
    struct dw_promql_point scalar; /* SCALAR */
    int64_t string_t;              /* STRING: evaluation time */
    char *string;                  /* STRING: the value (heap) */
    struct dw_promql_series *series;
    size_t nseries;
    char **warnings;
    size_t nwarnings;
    size_t peak_samples; /* most samples held at once, for stats and tests */
};

/**
 * Evaluates e at time t_ms. storage may be NULL for queries that read no
 * series. Returns 0 and *out (free with dw_promql_result_free), or a negative
 * enum dw_promql_errcode with *err set to a heap message like Prometheus's
 * ("query timed out in expression evaluation"); err may be NULL.
 */
int dw_promql_eval_instant(const struct dw_promql_storage *storage, const struct dw_promql_expr *e,
                           int64_t t_ms, const struct dw_promql_eval_opts *opts,
                           struct dw_promql_result **out, char **err);
/**
 * Evaluates e at start_ms, start_ms + step_ms, ... up to end_ms. The
 * expression must be a scalar or an instant vector; the number of steps is
 * limited by opts->max_points (DW_PROMQL_EBAD, like the Prometheus API).
 */
int dw_promql_eval_range(const struct dw_promql_storage *storage, const struct dw_promql_expr *e,
                         int64_t start_ms, int64_t end_ms, int64_t step_ms,
                         const struct dw_promql_eval_opts *opts, struct dw_promql_result **out,
                         char **err);
/** Frees a result and sets *r to NULL; NULL or *r == NULL is a no-op. */
void dw_promql_result_free(struct dw_promql_result **r);

/* ---- Prometheus's JSON shapes ---- */

/**
 * Appends a sample value the way Prometheus's JSON API writes it (without
 * the quotes): "NaN", "+Inf", "-Inf", else Go's shortest round-trip digits,
 * in 'f' form (no exponent) for 1e-6 <= |v| < 1e21 and 'e' form ("1e-07",
 * "1.5e+21") outside, like util/jsonutil.MarshalValue.
 */
void dw_promql_format_value(double v, struct dw_buf *out);
/** Go's strconv.FormatFloat(v, 'f', -1, 64): shortest round-trip digits, never an exponent. */
void dw_promql_format_float_f(double v, struct dw_buf *out);
/** Appends a millisecond timestamp as Prometheus writes it: seconds with up to 3 decimals. */
void dw_promql_format_time(int64_t ms, struct dw_buf *out);
/**
 * Appends the "data" object of /api/v1/query and /api/v1/query_range:
 * {"resultType":"vector","result":[{"metric":{...},"value":[t,"v"]}]} and
 * the matrix, scalar and string forms.
 */
void dw_promql_result_json(const struct dw_promql_result *r, struct dw_buf *out);

#endif
