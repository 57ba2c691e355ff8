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

#endif
