/*
 * eval_rollup.c - functions of range vectors (rate, increase, *_over_time,
 * deriv, predict_linear, holt_winters, changes, resets, absent_over_time,
 * ...), computed for every step of one series in a single pass.
 *
 * DESIGN: ev_range_arg() hands over one series' samples for the whole query;
 * two indexes then slide a window [ref - range, ref] (both ends included, as
 * in Prometheus 2.42) across the steps, moving only forward, and the
 * function is applied to each window. Counter resets and value changes are
 * counted once per series into prefix sums, so rate/increase need no scan of
 * the window unless it holds a reset, and changes/resets are O(1) per step;
 * when a window holds resets the correction is added in the same order as
 * Prometheus so the floats come out identical. The formulas (extrapolation
 * with the 1.1 x average interval rule and the zero point of counters,
 * regression with its intercept at the evaluation time, Kahan-compensated
 * sums, Holt-Winters) are Prometheus 2.42's.
 *
 * Output series drop __name__ (except last_over_time) and, like Prometheus,
 * two output series with the same labels are an error even when they never
 * overlap. Runs on the query's thread.
 */
#include <stdlib.h>

#include "promql/eval_internal.h"

/*
 * rate/increase/delta: the extrapolation factor depends only on where the
 * window's first and last samples sit and how many there are, which repeats
 * step after step for regularly scraped series; it is computed once per such
 * shape with exactly Prometheus's operations, so the result is bit-identical.
 */
struct xcache {
    bool valid;
    int64_t to_start_ms, to_end_ms, span_ms;
    size_t n;
    double to_start, sampled, factor;
    double zlim; /* to_start / sampled, with a margin: see extrapolated() */
};

struct rollup {
    enum dw_promql_func_id fid;
    const char *fname;
    const struct grid *g;
    struct window w;
    const double *p1, *p2; /* scalar arguments per step, or NULL */
    struct vec *out;
    uint8_t *any; /* absent_over_time: a window held samples at this step */
    double *qbuf; /* quantile_over_time: a copy of the window */
    size_t qcap;
    int32_t *pre; /* prefix counts of resets or changes */
    size_t precap;
    bool no_resets; /* the whole series never decreases: no window needs a correction */
    struct xcache x;
    struct dd *reg; /* deriv/predict_linear: prefix sums, 4 per sample (see reg_prefix) */
    size_t regcap;
    bool reg_ok;      /* the prefix sums of this series can be used */
    ev_dense_fn sink; /* streaming: hand each series over instead of building out */
    void *sink_ctx;
    struct hindex seen; /* streaming: output label sets so far, to refuse duplicates */
    const struct lset **seen_ls;
    size_t nseen, seen_cap;
};

/* Go's time.Duration.Seconds() for a duration of ms milliseconds. */
static double duration_seconds(int64_t ms)
{
    int64_t sec = ms / 1000, nsec = (ms % 1000) * 1000000;
    return (double)sec + (double)nsec / 1e9;
}

/* Neumaier's compensated addition, as Prometheus's kahanSumInc. */
static inline void kahan_inc(double inc, double *sum, double *c)
{
    double t = *sum + inc;
    if (fabs(*sum) >= fabs(inc))
        *c += (*sum - t) + inc;
    else
        *c += (inc - t) + *sum;
    *sum = t;
}

/* ---- rate, increase, delta ---- */

/* Prometheus's extrapolation factor for a window with the given distances. */
static double extrapolation_factor(double to_start, double to_end, double sampled, double avg,
                                   int64_t range_ms, bool rate)
{
    double threshold = avg * 1.1;
    double interval = sampled;
    interval += to_start < threshold ? to_start : avg / 2;
    interval += to_end < threshold ? to_end : avg / 2;
    double factor = interval / sampled;
    if (rate)
        factor /= duration_seconds(range_ms);
    return factor;
}

static inline double extrapolated(struct rollup *r, const struct samples *s, size_t i0, size_t i1,
                                  int64_t ref, bool counter, bool rate)
{
    const double *v = s->v;
    const int64_t *t = s->t;
    if (i1 - i0 < 2)
        return ev_absent();
    double result = v[i1 - 1] - v[i0];
    if (counter && !r->no_resets && r->pre[i1 - 1] != r->pre[i0]) {
        double prev = v[i0];
        for (size_t j = i0 + 1; j < i1; j++) {
            if (v[j] < prev)
                result += prev;
            prev = v[j];
        }
    }
    int64_t to_start_ms = t[i0] - ev_sub(ref, r->w.range), to_end_ms = ref - t[i1 - 1];
    int64_t span_ms = t[i1 - 1] - t[i0];
    struct xcache *x = &r->x;
    if (!x->valid || x->to_start_ms != to_start_ms || x->to_end_ms != to_end_ms ||
        x->span_ms != span_ms || x->n != i1 - i0) {
        x->valid = true;
        x->to_start_ms = to_start_ms;
        x->to_end_ms = to_end_ms;
        x->span_ms = span_ms;
        x->n = i1 - i0;
        x->to_start = (double)to_start_ms / 1000;
        x->sampled = (double)span_ms / 1000;
        double avg = x->sampled / (double)(i1 - i0 - 1);
        x->factor = extrapolation_factor(x->to_start, (double)to_end_ms / 1000, x->sampled, avg,
                                         r->w.range, rate);
        x->zlim = x->to_start / x->sampled * 1.000001;
    }
    /* The zero point can only matter when v[i0] / result is below to_start / sampled;
     * a multiplication with a wide margin rules most windows out without the division. */
    if (counter && result > 0 && v[i0] >= 0 && !(v[i0] > result * x->zlim)) {
        /* A counter cannot go below zero: do not extrapolate past that point. */
        double to_zero = x->sampled * (v[i0] / result);
        if (to_zero < x->to_start) {
            double avg = x->sampled / (double)(i1 - i0 - 1);
            return result * extrapolation_factor(to_zero, (double)to_end_ms / 1000, x->sampled, avg,
                                                 r->w.range, rate);
        }
    }
    return result * x->factor;
}

static double instant_value(const struct samples *s, size_t i0, size_t i1, bool rate)
{
    if (i1 - i0 < 2)
        return ev_absent();
    double last = s->v[i1 - 1], prev = s->v[i1 - 2];
    double result = rate && last < prev ? last : last - prev;
    int64_t dt = s->t[i1 - 1] - s->t[i1 - 2];
    if (dt == 0)
        return ev_absent();
    if (rate)
        result /= (double)dt / 1000;
    return result;
}

/* ---- regression and smoothing ---- */

static void linear_regression(const struct samples *s, size_t i0, size_t i1, int64_t icept,
                              double *slope, double *intercept)
{
    double n = 0, sx = 0, cx = 0, sy = 0, cy = 0, sxy = 0, cxy = 0, sx2 = 0, cx2 = 0;
    double init = s->v[i0];
    bool const_y = true;
    for (size_t i = i0; i < i1; i++) {
        double y = s->v[i];
        if (const_y && i > i0 && y != init)
            const_y = false;
        n += 1;
        double x = (double)(s->t[i] - icept) / 1e3;
        kahan_inc(x, &sx, &cx);
        kahan_inc(y, &sy, &cy);
        kahan_inc(x * y, &sxy, &cxy);
        kahan_inc(x * x, &sx2, &cx2);
    }
    if (const_y) {
        *slope = isinf(init) ? NAN : 0;
        *intercept = isinf(init) ? NAN : init;
        return;
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    double cov = sxy - sx * sy / n;
    double var = sx2 - sx * sx / n;
    *slope = cov / var;
    *intercept = sy / n - *slope * sx / n;
}

/*
 * Sliding regression. Refitting a 1 h window at every step costs O(window)
 * per step; instead, per series, prefix sums of x, x^2, y and x*y are kept in
 * double-double arithmetic (about 106 bits) with x = t - t[0] in exact
 * integer milliseconds, so a window's sums are two subtractions and come out
 * practically exact (the products x*y are exact through fma). Slope and
 * intercept are then formed from those sums in double-double too, which is
 * at least as accurate as Prometheus's Kahan sums (results agree within an
 * ulp or a few unless the regression itself is ill-conditioned). A window
 * whose values are all equal is detected with prefix counts of changes and
 * answered exactly like Prometheus. Series holding NaN or infinities, or
 * spanning more than 2^40 ms, and evaluations whose windows overlap too
 * little to gain much (reg_shares_enough: instant queries, few steps) use the
 * direct fit above.
 */
struct dd {
    double hi, lo;
};

static inline struct dd dd_two_sum(double a, double b)
{
    double s = a + b, bb = s - a;
    return (struct dd){s, (a - (s - bb)) + (b - bb)};
}

static inline struct dd dd_norm(double s, double e)
{
    double h = s + e;
    return (struct dd){h, e - (h - s)};
}

static inline struct dd dd_add(struct dd x, struct dd y)
{
    struct dd s = dd_two_sum(x.hi, y.hi), t = dd_two_sum(x.lo, y.lo);
    s.lo += t.hi;
    s = dd_norm(s.hi, s.lo);
    s.lo += t.lo;
    return dd_norm(s.hi, s.lo);
}

static inline struct dd dd_neg(struct dd x)
{
    return (struct dd){-x.hi, -x.lo};
}

static inline struct dd dd_mul(struct dd x, struct dd y)
{
    double p = x.hi * y.hi, e = fma(x.hi, y.hi, -p);
    e += x.hi * y.lo + x.lo * y.hi;
    return dd_norm(p, e);
}

static inline struct dd dd_of_i64(int64_t v)
{
    double hi = (double)v;
    return (struct dd){hi, (double)(v - (int64_t)hi)};
}

static inline struct dd dd_prod(double a, double b)
{
    double p = a * b;
    return (struct dd){p, fma(a, b, -p)};
}

#define REG_MAX_SPAN ((int64_t)1 << 40)
/*
 * Refitting every window reads about n * range / interval samples, the prefix
 * sums (n * step + range) / interval: slide only when that saves at least
 * REG_MIN_GAIN times the work. Instant queries and short range queries thus
 * refit directly, bit-identical to Prometheus.
 */
#define REG_MIN_GAIN 8

static bool reg_shares_enough(const struct rollup *r)
{
    double n = (double)r->g->n, range = (double)r->w.range, step = (double)r->g->step;
    return !r->w.has_at && n * range >= REG_MIN_GAIN * (n * step + range);
}

/* Prefix sums for the series; false when the direct fit must be used. */
static bool reg_prefix(struct evq *q, struct rollup *r, const struct samples *s)
{
    if (s->n < 2 || s->t[s->n - 1] - s->t[0] > REG_MAX_SPAN)
        return false;
    for (size_t i = 0; i < s->n; i++)
        if (!isfinite(s->v[i]))
            return false;
    size_t need = 4 * (s->n + 1);
    if (need > r->regcap) {
        r->regcap = need;
        r->reg = ev_realloc(q, r->reg, need * sizeof *r->reg);
        if (!r->reg) {
            r->regcap = 0;
            return false;
        }
    }
    /* reg[4i..4i+3]: sums of x, x^2, y, x*y over samples [0, i). */
    struct dd *p = r->reg, z = {0, 0};
    p[0] = p[1] = p[2] = p[3] = z;
    int64_t t0 = s->t[0];
    for (size_t i = 0; i < s->n; i++, p += 4) {
        double x = (double)(s->t[i] - t0), y = s->v[i];
        p[4] = dd_add(p[0], (struct dd){x, 0});
        p[5] = dd_add(p[1], dd_prod(x, x));
        p[6] = dd_add(p[2], (struct dd){y, 0});
        p[7] = dd_add(p[3], dd_prod(x, y));
    }
    /* prefix counts of changes (values are finite here) for the constant case */
    if (s->n > r->precap) {
        r->precap = s->n;
        r->pre = ev_realloc(q, r->pre, s->n * sizeof *r->pre);
    }
    r->pre[0] = 0;
    for (size_t i = 1; i < s->n; i++)
        r->pre[i] = r->pre[i - 1] + (s->v[i] != s->v[i - 1]);
    return true;
}

/* The regression of samples [i0, i1) from the prefix sums, intercept at time icept. */
static void reg_window(const struct rollup *r, const struct samples *s, size_t i0, size_t i1,
                       int64_t icept, double *slope, double *intercept)
{
    if (r->pre[i1 - 1] == r->pre[i0]) {
        *slope = 0;
        *intercept = s->v[i0];
        return;
    }
    const struct dd *a = r->reg + 4 * i0, *b = r->reg + 4 * i1;
    struct dd sx = dd_add(b[0], dd_neg(a[0])), sx2 = dd_add(b[1], dd_neg(a[1]));
    struct dd sy = dd_add(b[2], dd_neg(a[2])), sxy = dd_add(b[3], dd_neg(a[3]));
    double nn = (double)(i1 - i0);
    struct dd n = {nn, 0};
    /* n * sum(xy) - sum(x) sum(y), n * sum(x^2) - sum(x)^2; x in ms */
    struct dd cov = dd_add(dd_mul(n, sxy), dd_neg(dd_mul(sx, sy)));
    struct dd var = dd_add(dd_mul(n, sx2), dd_neg(dd_mul(sx, sx)));
    double k = (cov.hi + cov.lo) / (var.hi + var.lo) * 1e3; /* per second */
    /* mean of x in seconds relative to icept: (sum(x) + n (t0 - icept)) / n / 1000 */
    struct dd mx = dd_add(sx, dd_mul(n, dd_of_i64(s->t[0] - icept)));
    double mean_x = (mx.hi + mx.lo) / nn / 1e3, mean_y = (sy.hi + sy.lo) / nn;
    *slope = k;
    *intercept = mean_y - k * mean_x;
}

static int holt_winters(struct evq *q, const struct rollup *r, const struct samples *s, size_t i0,
                        size_t i1, int32_t k, double *out)
{
    double sf = r->p1[k], tf = r->p2[k];
    if (sf <= 0 || sf >= 1)
        return ev_fail(q, DW_PROMQL_EEXEC,
                       "invalid smoothing factor. Expected: 0 < sf < 1, got: %f", sf);
    if (tf <= 0 || tf >= 1)
        return ev_fail(q, DW_PROMQL_EEXEC, "invalid trend factor. Expected: 0 < tf < 1, got: %f",
                       tf);
    *out = ev_absent();
    if (i1 - i0 < 2)
        return 0;
    double s0 = 0, s1 = s->v[i0], b = s->v[i0 + 1] - s->v[i0];
    for (size_t i = i0 + 1; i < i1; i++) {
        double x = sf * s->v[i];
        if (i > i0 + 1) /* the trend starts from the first difference */
            b = tf * (s1 - s0) + (1 - tf) * b;
        double y = (1 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    *out = s1;
    return 0;
}

/* ---- *_over_time ---- */

static double avg_over_time(const double *v, size_t n)
{
    double mean = 0, c = 0, count = 0;
    for (size_t i = 0; i < n; i++) {
        count++;
        if (isinf(mean)) {
            /* Inf stays Inf unless an opposite Inf or a NaN arrives. */
            if (isinf(v[i]) && (mean > 0) == (v[i] > 0))
                continue;
            if (!isinf(v[i]) && !isnan(v[i]))
                continue;
        }
        kahan_inc(v[i] / count - mean / count, &mean, &c);
    }
    return isinf(mean) ? mean : mean + c;
}

static double sum_over_time(const double *v, size_t n)
{
    double sum = 0, c = 0;
    for (size_t i = 0; i < n; i++)
        kahan_inc(v[i], &sum, &c);
    return isinf(sum) ? sum : sum + c;
}

static double stdvar_over_time(const double *v, size_t n)
{
    double count = 0, mean = 0, cmean = 0, aux = 0, caux = 0;
    for (size_t i = 0; i < n; i++) {
        count++;
        double delta = v[i] - (mean + cmean);
        kahan_inc(delta / count, &mean, &cmean);
        kahan_inc(delta * (v[i] - (mean + cmean)), &aux, &caux);
    }
    return (aux + caux) / count;
}

static double minmax_over_time(const double *v, size_t n, bool max)
{
    double m = v[0];
    for (size_t i = 0; i < n; i++)
        if ((max ? v[i] > m : v[i] < m) || isnan(m))
            m = v[i];
    return m;
}

static double quantile_over_time(struct rollup *r, struct evq *q, const double *v, size_t n,
                                 double phi)
{
    if (n > r->qcap) {
        r->qcap = n;
        r->qbuf = ev_realloc(q, r->qbuf, n * sizeof *r->qbuf);
    }
    memcpy(r->qbuf, v, n * sizeof *v);
    return ev_quantile(phi, r->qbuf, n);
}

/* ---- per series ---- */

/* pre[i]: resets (or changes) between samples 0..i. */
static void prefix_counts(struct evq *q, struct rollup *r, const struct samples *s, bool changes)
{
    if (s->n > r->precap) {
        r->precap = s->n;
        r->pre = ev_realloc(q, r->pre, s->n * sizeof *r->pre);
    }
    r->pre[0] = 0;
    for (size_t i = 1; i < s->n; i++) {
        double a = s->v[i - 1], b = s->v[i];
        bool hit = changes ? (b != a && !(isnan(a) && isnan(b))) : b < a;
        r->pre[i] = r->pre[i - 1] + hit;
    }
    r->no_resets = !changes && r->pre[s->n - 1] == 0;
}

static int apply(struct evq *q, struct rollup *r, const struct samples *s, size_t i0, size_t i1,
                 int32_t k, int64_t ref, double *out)
{
    const double *v = s->v + i0;
    size_t n = i1 - i0;
    double slope, icept;
    switch (r->fid) {
    case DW_PROMQL_FN_RATE: *out = extrapolated(r, s, i0, i1, ref, true, true); break;
    case DW_PROMQL_FN_INCREASE: *out = extrapolated(r, s, i0, i1, ref, true, false); break;
    case DW_PROMQL_FN_DELTA: *out = extrapolated(r, s, i0, i1, ref, false, false); break;
    case DW_PROMQL_FN_IRATE: *out = instant_value(s, i0, i1, true); break;
    case DW_PROMQL_FN_IDELTA: *out = instant_value(s, i0, i1, false); break;
    case DW_PROMQL_FN_CHANGES:
    case DW_PROMQL_FN_RESETS: *out = (double)(r->pre[i1 - 1] - r->pre[i0]); break;
    case DW_PROMQL_FN_DERIV:
        if (n < 2) {
            *out = ev_absent();
            break;
        }
        if (r->reg_ok)
            reg_window(r, s, i0, i1, s->t[i0], &slope, &icept);
        else
            linear_regression(s, i0, i1, s->t[i0], &slope, &icept);
        *out = slope;
        break;
    case DW_PROMQL_FN_PREDICT_LINEAR:
        if (n < 2) {
            *out = ev_absent();
            break;
        }
        if (r->reg_ok)
            reg_window(r, s, i0, i1, grid_t(r->g, k), &slope, &icept);
        else
            linear_regression(s, i0, i1, grid_t(r->g, k), &slope, &icept);
        *out = slope * r->p1[k] + icept;
        break;
    case DW_PROMQL_FN_HOLT_WINTERS: return holt_winters(q, r, s, i0, i1, k, out);
    case DW_PROMQL_FN_AVG_OVER_TIME: *out = avg_over_time(v, n); break;
    case DW_PROMQL_FN_SUM_OVER_TIME: *out = sum_over_time(v, n); break;
    case DW_PROMQL_FN_COUNT_OVER_TIME: *out = (double)n; break;
    case DW_PROMQL_FN_MIN_OVER_TIME: *out = minmax_over_time(v, n, false); break;
    case DW_PROMQL_FN_MAX_OVER_TIME: *out = minmax_over_time(v, n, true); break;
    case DW_PROMQL_FN_STDVAR_OVER_TIME: *out = stdvar_over_time(v, n); break;
    case DW_PROMQL_FN_STDDEV_OVER_TIME: *out = sqrt(stdvar_over_time(v, n)); break;
    case DW_PROMQL_FN_LAST_OVER_TIME: *out = v[n - 1]; break;
    case DW_PROMQL_FN_PRESENT_OVER_TIME: *out = 1; break;
    case DW_PROMQL_FN_QUANTILE_OVER_TIME: *out = quantile_over_time(r, q, v, n, r->p1[k]); break;
    case DW_PROMQL_FN_ABSENT_OVER_TIME:
        r->any[k] = 1;
        *out = ev_absent();
        break;
    default: return ev_fail(q, DW_PROMQL_EEXEC, "%s() is not a range-vector function", r->fname);
    }
    return 0;
}

/* Slides the window over the steps; EXPR computes one step from [i0, i1). */
#define WINDOW_LOOP(EXPR)                                                                          \
    for (int32_t k = 0; k < g->n; k++) {                                                           \
        if ((k & 255) == 255 && ev_check(q) < 0)                                                   \
            return -1;                                                                             \
        int64_t ref = win_ref(&r->w, g, k), lo = ev_sub(ref, r->w.range);                          \
        while (i1 < s->n && s->t[i1] <= ref)                                                       \
            i1++;                                                                                  \
        while (i0 < i1 && s->t[i0] < lo)                                                           \
            i0++;                                                                                  \
        (void)ref;                                                                                 \
        dense[k] = i0 < i1 ? (EXPR) : ev_absent();                                                 \
    }

/* Every step of one series into dense[0..g->n). */
static int compute_steps(struct evq *q, struct rollup *r, const struct samples *s, double *dense)
{
    const struct grid *g = r->g;
    size_t i0 = 0, i1 = 0;
    /* The hot functions get their own loop so the compiler inlines them. */
    switch (r->fid) {
    case DW_PROMQL_FN_RATE: WINDOW_LOOP(extrapolated(r, s, i0, i1, ref, true, true)); break;
    case DW_PROMQL_FN_INCREASE: WINDOW_LOOP(extrapolated(r, s, i0, i1, ref, true, false)); break;
    case DW_PROMQL_FN_DELTA: WINDOW_LOOP(extrapolated(r, s, i0, i1, ref, false, false)); break;
    default:
        for (int32_t k = 0; k < g->n; k++) {
            if ((k & 255) == 255 && ev_check(q) < 0)
                return -1;
            int64_t ref = win_ref(&r->w, g, k), lo = ev_sub(ref, r->w.range);
            while (i1 < s->n && s->t[i1] <= ref)
                i1++;
            while (i0 < i1 && s->t[i0] < lo)
                i0++;
            dense[k] = ev_absent();
            if (i0 < i1 && apply(q, r, s, i0, i1, k, ref, &dense[k]) < 0)
                return -1;
        }
    }
    for (int32_t k = 0; k < g->n; k++)
        if (isnan(dense[k]) && !ev_is_absent(dense[k]))
            dense[k] = NAN;
    return 0;
}

static bool seen_eq(void *ctx, uint32_t item)
{
    struct rollup *r = ctx;
    return ls_eq(r->seen_ls[item], r->seen_ls[r->nseen]);
}

/* Streaming: Prometheus refuses two output series with the same labels. */
static int check_unique(struct evq *q, struct rollup *r, const struct lset *ls)
{
    if (!r->seen.cap)
        hx_init(q, &r->seen, 64);
    if (r->nseen + 1 > r->seen_cap) {
        r->seen_cap = r->seen_cap ? r->seen_cap * 2 : 64;
        r->seen_ls = ev_realloc(q, r->seen_ls, r->seen_cap * sizeof *r->seen_ls);
    }
    r->seen_ls[r->nseen] = ls;
    if (hx_find(&r->seen, ls->hash, seen_eq, r) != UINT32_MAX)
        return ev_fail(q, DW_PROMQL_EEXEC, "vector cannot contain metrics with the same labelset");
    hx_insert(q, &r->seen, ls->hash, (uint32_t)r->nseen);
    r->nseen++;
    return 0;
}

static int rollup_series(struct evq *q, void *ctx, const struct lset *ls, const struct samples *s)
{
    struct rollup *r = ctx;
    const struct grid *g = r->g;
    if (r->fid == DW_PROMQL_FN_RATE || r->fid == DW_PROMQL_FN_INCREASE ||
        r->fid == DW_PROMQL_FN_RESETS)
        prefix_counts(q, r, s, false);
    else if (r->fid == DW_PROMQL_FN_CHANGES)
        prefix_counts(q, r, s, true);
    else if (r->fid == DW_PROMQL_FN_DERIV || r->fid == DW_PROMQL_FN_PREDICT_LINEAR)
        r->reg_ok = reg_shares_enough(r) && reg_prefix(q, r, s);
    double *dense = ev_scratch(q, g->n);
    if (!dense || compute_steps(q, r, s, dense) < 0)
        return -1;
    if (r->fid == DW_PROMQL_FN_ABSENT_OVER_TIME)
        return 0;
    bool keep_name = r->fid == DW_PROMQL_FN_LAST_OVER_TIME;
    if (r->sink) {
        int32_t k = 0;
        while (k < g->n && ev_is_absent(dense[k]))
            k++;
        if (k == g->n)
            return 0;
        ls = keep_name ? ls : ls_drop_name(q, ls);
        if (!keep_name && check_unique(q, r, ls) < 0)
            return -1;
        return r->sink(q, r->sink_ctx, ls, dense, g->n);
    }
    struct ser *x = vec_push(q, r->out);
    if (ser_from_dense(q, x, dense, g->n) < 0)
        return -1;
    if (!x->v) {
        r->out->n--;
        return 0;
    }
    x->ls = keep_name ? ls : ls_drop_name(q, ls);
    return 0;
}

/* The scalar argument at index i of the call, evaluated over the grid. */
static int scalar_arg(struct evq *q, const struct dw_promql_node *call, size_t i,
                      const struct grid *g, struct val *v, const double **out)
{
    if (i >= call->u.call.nargs)
        return 0;
    if (ev_eval(q, call->u.call.args[i], g, v) < 0)
        return -1;
    *out = v->sc;
    return 0;
}

static int absent_result(struct evq *q, struct rollup *r, const struct dw_promql_node *arg,
                         struct val *out)
{
    const struct grid *g = r->g;
    struct ser *x = vec_push(q, &out->vec);
    if (ser_alloc(q, x, 0, g->n) < 0)
        return -1;
    for (int32_t k = 0; k < g->n; k++)
        if (!r->any[k])
            x->v[k] = 1;
    x->ls = ev_absent_labels(q, arg);
    vec_drop_empty(q, &out->vec);
    return 0;
}

static int rollup_run(struct evq *q, const struct dw_promql_node *call, const struct grid *g,
                      struct val *out, ev_dense_fn sink, void *sink_ctx)
{
    const struct dw_promql_call *c = &call->u.call;
    struct rollup r = {.fid = c->func->id, .fname = c->func->name, .g = g};
    memset(out, 0, sizeof *out);
    out->type = DW_PROMQL_TYPE_VECTOR;
    r.out = &out->vec;
    r.sink = sink;
    r.sink_ctx = sink_ctx;
    /* The range argument is the one typed as a range vector; scalars come first. */
    size_t mi = 0;
    while (mi < c->nargs && c->args[mi]->type != DW_PROMQL_TYPE_MATRIX)
        mi++;
    if (mi == c->nargs)
        return ev_fail(q, DW_PROMQL_EEXEC, "%s(): missing range vector", c->func->name);
    struct val a1 = {0}, a2 = {0};
    if (r.fid == DW_PROMQL_FN_QUANTILE_OVER_TIME) {
        if (scalar_arg(q, call, 0, g, &a1, &r.p1) < 0)
            return -1;
    } else if (scalar_arg(q, call, mi + 1, g, &a1, &r.p1) < 0 ||
               scalar_arg(q, call, mi + 2, g, &a2, &r.p2) < 0) {
        return -1;
    }
    if (r.fid == DW_PROMQL_FN_ABSENT_OVER_TIME)
        r.any = ev_zalloc(q, (size_t)(g->n > 0 ? g->n : 1));
    int rc = ev_range_arg(q, c->args[mi], g, c->func->name, &r.w, rollup_series, &r);
    if (rc == 0 && r.fid == DW_PROMQL_FN_ABSENT_OVER_TIME)
        rc = absent_result(q, &r, c->args[mi], out);
    else if (rc == 0 && !sink)
        rc = vec_unique(q, &out->vec, true);
    if (rc < 0)
        return -1;
    ev_free(q, r.qbuf);
    ev_free(q, r.pre);
    ev_free(q, r.reg);
    ev_free(q, r.any);
    if (r.seen.cap)
        hx_release(q, &r.seen);
    ev_free(q, r.seen_ls);
    val_release(q, &a1);
    val_release(q, &a2);
    return 0;
}

int ev_rollup(struct evq *q, const struct dw_promql_node *call, const struct grid *g,
              struct val *out)
{
    return rollup_run(q, call, g, out, NULL, NULL);
}

bool ev_rollup_streams(const struct dw_promql_node *call)
{
    call = ev_unparen(call);
    if (call->kind != DW_PROMQL_CALL || call->u.call.func->id == DW_PROMQL_FN_ABSENT_OVER_TIME)
        return false;
    for (size_t i = 0; i < call->u.call.nargs; i++)
        if (call->u.call.args[i]->type == DW_PROMQL_TYPE_MATRIX)
            return true;
    return false;
}

int ev_rollup_stream(struct evq *q, const struct dw_promql_node *call, const struct grid *g,
                     ev_dense_fn fn, void *ctx)
{
    struct val unused;
    return rollup_run(q, ev_unparen(call), g, &unused, fn, ctx);
}
