/*
 * eval_internal.h - what the files of the PromQL evaluator share: the query
 * state with its memory pool and limits, label sets, series over a step
 * grid, values, the hash index, and the entry points of each operator
 * family. Only the evaluator's files (engine.c, eval_*.c) include it.
 *
 * The model: every expression is evaluated over a grid of steps (start,
 * step, count; an instant query is a grid of one step). A scalar is one
 * value per step; an instant vector is a list of series, each with a label
 * set and a window [lo, hi) of steps holding values, where a step without a
 * value holds the "absent" marker, a NaN bit pattern no input can produce
 * (inputs' NaNs are canonicalised when read). Range vectors are never
 * materialised across steps: range functions read each series' samples once
 * and compute every step from a sliding window (eval_rollup.c).
 */
#ifndef DW_PROMQL_EVAL_INTERNAL_H
#define DW_PROMQL_EVAL_INTERNAL_H

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "promql/promql.h"

/* ---- the absent marker ---- */

#define EV_ABSENT_BITS UINT64_C(0x7ff80000deadbeef)

static inline double ev_absent(void)
{
    uint64_t u = EV_ABSENT_BITS;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static inline bool ev_is_absent(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u == EV_ABSENT_BITS;
}

/* A value read from storage or written into a series: every NaN becomes the
 * canonical quiet NaN, so no input can look like the absent marker. */
static inline double ev_canon(double v)
{
    return isnan(v) ? (double)NAN : v;
}

static inline bool ev_is_stale(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u == DW_TSDB_STALE_BITS;
}

/* ---- saturating time arithmetic (offsets and @ times may be huge) ---- */

static inline int64_t ev_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static inline int64_t ev_sub(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return b < 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* ---- Go's math.Max / math.Min (NaN wins, except against the matching Inf) ---- */

static inline double go_max(double x, double y)
{
    if (isinf(x) && x > 0)
        return x;
    if (isinf(y) && y > 0)
        return y;
    if (isnan(x) || isnan(y))
        return NAN;
    if (x == 0 && x == y)
        return signbit(x) ? y : x;
    return x > y ? x : y;
}

static inline double go_min(double x, double y)
{
    if (isinf(x) && x < 0)
        return x;
    if (isinf(y) && y < 0)
        return y;
    if (isnan(x) || isnan(y))
        return NAN;
    if (x == 0 && x == y)
        return signbit(x) ? x : y;
    return x < y ? x : y;
}

/* ---- label sets: immutable, sorted by name, no empty values, in the query arena ---- */

struct lset {
    uint32_t n;
    uint64_t hash; /* of every label */
    struct dw_label l[];
};

/* A label set under construction; strings are borrowed (arena or tree). */
struct lbuild {
    struct dw_label *l;
    size_t n, cap;
};

/* Which labels take part in a signature: on/by (listed ones) or
 * ignoring/without (all others, never __name__). */
struct lsel {
    bool on;
    const char *const *names;
    size_t n;
};

/* ---- the step grid ---- */

struct grid {
    int64_t start, end, step; /* step > 0 even for one step */
    int32_t n;                /* number of steps, >= 0 */
    int64_t hint_step;        /* the step told to the storage: 0 for an instant query */
};

static inline int64_t grid_t(const struct grid *g, int32_t i)
{
    return g->start + (int64_t)i * g->step;
}

/* ---- series and values ---- */

struct ser {
    const struct lset *ls;
    int32_t lo, hi; /* steps [lo, hi) have storage in v */
    double *v;      /* v[i - lo]; absent marker where there is no value */
    int32_t tag;    /* bookkeeping of the operator building it */
};

static inline double ser_at(const struct ser *s, int32_t i)
{
    return (i >= s->lo && i < s->hi) ? s->v[i - s->lo] : ev_absent();
}

struct vec {
    struct ser *s;
    size_t n, cap;
};

struct val {
    enum dw_promql_type type;
    double *sc;      /* SCALAR: one value per step */
    struct vec vec;  /* VECTOR */
    const char *str; /* STRING (borrowed from the tree) */
};

/* ---- open-addressing index from 64-bit hashes to item numbers ---- */

struct hindex {
    uint64_t *h;
    uint32_t *item; /* UINT32_MAX: empty slot */
    size_t cap, n;
};

/* ---- the query ---- */

struct pblock;
struct achunk;

struct evq {
    const struct dw_promql_storage *st;
    struct dw_promql_storage_info sinfo;
    int64_t start, end, step; /* the query's own times (for @ start() / end()) */
    bool range;               /* a range query */
    int64_t lookback;
    int64_t sq_step;
    size_t max_samples;
    size_t cur_samples, peak_samples;
    int64_t deadline_ns; /* 0: none */
    const atomic_bool *cancel;
    unsigned ticks;

    struct pblock *blocks; /* every tracked allocation, freed at the end */
    struct achunk *chunks; /* the label arena */
    size_t arena_bytes;

    double *scratch; /* one grid-sized buffer, see ev_scratch */
    int32_t scratch_n;

    int err_code;
    char *err_msg;
    char **warnings;
    size_t nwarnings;
};

/* Records the first error of the query and returns -1. */
int ev_fail(struct evq *q, int code, const char *fmt, ...) DW_PRINTF(3, 4);
/** -1 (with the error set) when the query was canceled or ran out of time. */
int ev_check(struct evq *q);
/** ev_check every 1024th call: for tight loops. */
static inline int ev_tick(struct evq *q)
{
    return (++q->ticks & 1023u) ? 0 : ev_check(q);
}
void ev_warn(struct evq *q, const char *fmt, ...) DW_PRINTF(2, 3);

/* Tracked heap memory: freed with the query even on error paths. */
void *ev_alloc(struct evq *q, size_t bytes);
void *ev_zalloc(struct evq *q, size_t bytes);
void *ev_realloc(struct evq *q, void *p, size_t bytes);
void ev_free(struct evq *q, void *p);
/* n doubles that count against max_samples; NULL (error set) past the limit. */
double *ev_samples(struct evq *q, size_t n);
/* Counts samples held outside ev_samples (loaded sample buffers). */
int ev_count(struct evq *q, size_t n);
void ev_uncount(struct evq *q, size_t n);
/* Arena memory for label sets and strings, freed with the query. */
void *ev_arena(struct evq *q, size_t bytes);
char *ev_strndup(struct evq *q, const char *s, size_t n);
/* A grid-sized buffer of doubles reused between operators (not counted twice). */
double *ev_scratch(struct evq *q, int32_t n);
/* Frees every tracked block and arena chunk: the end of a query. */
void ev_memory_release(struct evq *q);

/* ---- label sets (eval_value.c) ---- */

const struct lset *ls_empty(struct evq *q);
/** Copies labels (sorted or not) and their strings into the arena. */
const struct lset *ls_copy(struct evq *q, const struct dw_label *l, size_t n);
const char *ls_get(const struct lset *ls, const char *name);
bool ls_eq(const struct lset *a, const struct lset *b);
int ls_cmp(const struct lset *a, const struct lset *b);
const struct lset *ls_drop_name(struct evq *q, const struct lset *ls);
/** Prometheus's labels.String(): {a="b", c="d"}. */
void ls_format(const struct lset *ls, struct dw_buf *out);

void lb_init(struct lbuild *b, const struct lset *from);
void lb_release(struct lbuild *b);
void lb_set(struct lbuild *b, const char *name, const char *value);
void lb_del(struct lbuild *b, const char *name);
/** Keeps only the labels sel includes. */
void lb_keep_sel(struct lbuild *b, const struct lsel *sel);
/** The built set (sorted, empty values dropped), strings shared. */
const struct lset *lb_finish(struct evq *q, struct lbuild *b);

bool lsel_has(const struct lsel *sel, const char *name);
uint64_t ls_hash_sel(const struct lset *ls, const struct lsel *sel);
bool ls_eq_sel(const struct lset *a, const struct lset *b, const struct lsel *sel);
/** The subset of ls that sel includes, as its own set. */
const struct lset *ls_project(struct evq *q, const struct lset *ls, const struct lsel *sel);

/* ---- the hash index (eval_value.c) ---- */

void hx_init(struct evq *q, struct hindex *x, size_t expect);
void hx_release(struct evq *q, struct hindex *x);
/* Calls eq(ctx, item) for each item stored under h until it returns true. */
uint32_t hx_find(const struct hindex *x, uint64_t h, bool (*eq)(void *ctx, uint32_t item),
                 void *ctx);
void hx_insert(struct evq *q, struct hindex *x, uint64_t h, uint32_t item);

/* ---- series and vectors (eval_value.c) ---- */

/** Storage for steps [lo, hi), every value absent. */
int ser_alloc(struct evq *q, struct ser *s, int32_t lo, int32_t hi);
/** Takes the values of dense[0..n) that are present, trimmed to their window. */
int ser_from_dense(struct evq *q, struct ser *s, const double *dense, int32_t n);
/** Widens the window to include [lo, hi). */
int ser_widen(struct evq *q, struct ser *s, int32_t lo, int32_t hi);
/** Narrows the window to the first and last present step (may leave it empty). */
void ser_trim(struct evq *q, struct ser *s);
void ser_release(struct evq *q, struct ser *s);
struct ser *vec_push(struct evq *q, struct vec *v);
void vec_release(struct evq *q, struct vec *v);
/** Drops series without any value. */
void vec_drop_empty(struct evq *q, struct vec *v);
/**
 * Series with equal label sets: strict (Prometheus's check on whole
 * matrices) fails on any; otherwise they merge when they never hold a value
 * at the same step and fail when they do ("vector cannot contain metrics
 * with the same labelset").
 */
int vec_unique(struct evq *q, struct vec *v, bool strict);
void val_release(struct evq *q, struct val *v);
double *val_scalar(struct evq *q, struct val *out, int32_t n);

/* ---- evaluation ---- */

int64_t ev_at_time(const struct evq *q, enum dw_promql_at at, int64_t at_ms);
int ev_eval(struct evq *q, const struct dw_promql_node *n, const struct grid *g, struct val *out);
/** The expression under any parentheses. */
const struct dw_promql_node *ev_unparen(const struct dw_promql_node *n);

/* eval_select.c: vector selectors, range selectors and subqueries. */

/* How each step's range window is placed: [ref - range, ref] with
 * ref = (has_at ? at : step time) - offset. */
struct window {
    bool has_at;
    int64_t at, offset, range;
};

static inline int64_t win_ref(const struct window *w, const struct grid *g, int32_t i)
{
    return ev_sub(w->has_at ? w->at : grid_t(g, i), w->offset);
}

/* One series' samples in time order (staleness markers removed). */
struct samples {
    int64_t *t;
    double *v;
    size_t n, cap;
};

typedef int (*ev_series_fn)(struct evq *q, void *ctx, const struct lset *ls,
                            const struct samples *s);

/**
 * Keeps the samples of t/v[0..n) a selection may use: in [mint, maxt], in
 * strictly increasing time, NaNs canonicalised, staleness markers kept or
 * dropped; returns the new count. Pure (any thread).
 */
size_t ev_samples_clean(int64_t *t, double *v, size_t n, int64_t mint, int64_t maxt,
                        bool keep_stale);

/* eval_prefetch.c: series read ahead on a worker thread. */
struct ev_prefetch;
/**
 * Hands the series set to an idle worker, which reads the series and their
 * samples in [mint, maxt] (cleaned by ev_samples_clean) ahead of the caller.
 * NULL when no worker is idle: read in this thread. Until ev_prefetch_end()
 * the caller must not touch ss.
 */
struct ev_prefetch *ev_prefetch_start(struct evq *q, struct dw_promql_series_set *ss, int64_t mint,
                                      int64_t maxt, bool keep_stale);
/** The next series: its labels and samples, valid until the next call; false at the end. */
bool ev_prefetch_next(struct ev_prefetch *p, const struct dw_label **labels, size_t *nlabels,
                      struct samples *s);
/** Stops the worker, waits for it and frees *pp; -1 (error set) when a series was too big. */
int ev_prefetch_end(struct evq *q, struct ev_prefetch **pp);

int ev_vector_selector(struct evq *q, const struct dw_promql_node *n, const struct grid *g,
                       bool timestamps, struct val *out);
/**
 * Reads the range argument (a range selector or a subquery) for every step
 * of g and calls fn once per series with all its samples that any step's
 * window can see; *w receives the window placement.
 */
int ev_range_arg(struct evq *q, const struct dw_promql_node *arg, const struct grid *g,
                 const char *func, struct window *w, ev_series_fn fn, void *ctx);
/** Label matchers of a selector argument, for absent() (NULL when not a selector). */
const struct dw_promql_vector_selector *ev_selector_of(const struct dw_promql_node *n);

/* eval_rollup.c: functions of range vectors. */
int ev_rollup(struct evq *q, const struct dw_promql_node *call, const struct grid *g,
              struct val *out);
/* One output series of a range function: labels and a value (or the absent
 * marker) per step; dense is only valid during the call. */
typedef int (*ev_dense_fn)(struct evq *q, void *ctx, const struct lset *ls, const double *dense,
                           int32_t n);
/** True when n is a range function whose output can be streamed series by series. */
bool ev_rollup_streams(const struct dw_promql_node *n);
/**
 * Like ev_rollup(), but hands each output series with at least one value to
 * fn, in input order, instead of building a vector (aggregations fold them
 * in directly and never hold the per-series results).
 */
int ev_rollup_stream(struct evq *q, const struct dw_promql_node *call, const struct grid *g,
                     ev_dense_fn fn, void *ctx);
/** A top-level range selector or subquery of an instant query at time t. */
int ev_matrix_result(struct evq *q, const struct dw_promql_node *n, int64_t t,
                     struct dw_promql_result *r);
/* engine.c: appends a series to a result, copying labels and points. */
void ev_result_add(struct dw_promql_result *r, const struct lset *ls,
                   const struct dw_promql_point *pts, size_t n);

/* eval_funcs.c: functions of instant vectors and scalars. */
int ev_call(struct evq *q, const struct dw_promql_node *n, const struct grid *g, struct val *out);
const struct lset *ev_absent_labels(struct evq *q, const struct dw_promql_node *arg);

/* eval_binop.c */
int ev_binary(struct evq *q, const struct dw_promql_node *n, const struct grid *g, struct val *out);

/* eval_agg.c */
int ev_aggregate(struct evq *q, const struct dw_promql_node *n, const struct grid *g,
                 struct val *out);

/* Shared numeric helpers (eval_funcs.c). */
/** Prometheus's quantile() over values (sorted in place, NaN first). */
double ev_quantile(double q, double *vals, size_t n);
void ev_sort_values(double *vals, size_t n);

/* eval_result.c */
void ev_format_f(double v, struct dw_buf *out);

#endif
