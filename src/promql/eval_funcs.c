/*
 * eval_funcs.c - functions of instant vectors and scalars: math, clamp and
 * round, dates (UTC), time(), vector(), scalar(), timestamp(), absent(),
 * label_replace(), label_join(), sort(), histogram_quantile(). Functions of
 * range vectors go to eval_rollup.c; native-histogram functions fail.
 *
 * DESIGN: a function is applied to the whole grid at once. Element-wise
 * functions rewrite their argument's series in place (same windows, so no
 * new memory) and drop __name__; label functions compute each series' new
 * label set once. Whenever labels change, series that end up with equal
 * labels merge when they never share a step and fail when they do, which is
 * Prometheus's per-step "vector cannot contain metrics with the same
 * labelset" check. histogram_quantile groups the bucket series once by their
 * labels without `le`, orders each group by bound once, and then computes
 * each step from the buckets present at it, with Prometheus 2.42's bucket
 * rules (coalescing equal bounds, forcing monotonic counts, the +Inf bucket).
 * Runs on the query's thread.
 */
#include <stdlib.h>
#include <strings.h>

#include "promql/eval_internal.h"
#include "promql/promql_internal.h"

/* ---- shared numeric helpers ---- */

static int value_order(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    if (isnan(x))
        return isnan(y) ? 0 : -1;
    if (isnan(y))
        return 1;
    return x < y ? -1 : x > y;
}

void ev_sort_values(double *vals, size_t n)
{
    qsort(vals, n, sizeof *vals, value_order);
}

double ev_quantile(double q, double *vals, size_t n)
{
    if (n == 0 || isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    ev_sort_values(vals, n);
    double rank = q * (double)(n - 1);
    double lower = floor(rank) > 0 ? floor(rank) : 0;
    double upper = lower + 1 < (double)(n - 1) ? lower + 1 : (double)(n - 1);
    double weight = rank - floor(rank);
    return vals[(size_t)lower] * (1 - weight) + vals[(size_t)upper] * weight;
}

/* ---- helpers ---- */

static const char *string_arg(const struct dw_promql_node *n, size_t *len)
{
    n = ev_unparen(n);
    *len = n->u.string.len;
    return n->u.string.value;
}

static int scalar_arg(struct evq *q, const struct dw_promql_node *n, const struct grid *g,
                      struct val *v)
{
    return ev_eval(q, n, g, v);
}

/* Replaces every present value of every series through f, drops __name__. */
static void map_values(struct evq *q, struct vec *v, double (*f)(double))
{
    for (size_t i = 0; i < v->n; i++) {
        struct ser *s = &v->s[i];
        s->ls = ls_drop_name(q, s->ls);
        for (int32_t j = 0; j < s->hi - s->lo; j++)
            if (!ev_is_absent(s->v[j]))
                s->v[j] = ev_canon(f(s->v[j]));
    }
}

static double f_sgn(double v)
{
    return v < 0 ? -1 : v > 0 ? 1 : v;
}
static double f_deg(double v)
{
    return v * 180 / M_PI;
}
static double f_rad(double v)
{
    return v * M_PI / 180;
}

static double (*elementwise(enum dw_promql_func_id id))(double)
{
    switch (id) {
    case DW_PROMQL_FN_ABS: return fabs;
    case DW_PROMQL_FN_CEIL: return ceil;
    case DW_PROMQL_FN_FLOOR: return floor;
    case DW_PROMQL_FN_EXP: return exp;
    case DW_PROMQL_FN_SQRT: return sqrt;
    case DW_PROMQL_FN_LN: return log;
    case DW_PROMQL_FN_LOG2: return log2;
    case DW_PROMQL_FN_LOG10: return log10;
    case DW_PROMQL_FN_SGN: return f_sgn;
    case DW_PROMQL_FN_ACOS: return acos;
    case DW_PROMQL_FN_ACOSH: return acosh;
    case DW_PROMQL_FN_ASIN: return asin;
    case DW_PROMQL_FN_ASINH: return asinh;
    case DW_PROMQL_FN_ATAN: return atan;
    case DW_PROMQL_FN_ATANH: return atanh;
    case DW_PROMQL_FN_COS: return cos;
    case DW_PROMQL_FN_COSH: return cosh;
    case DW_PROMQL_FN_SIN: return sin;
    case DW_PROMQL_FN_SINH: return sinh;
    case DW_PROMQL_FN_TAN: return tan;
    case DW_PROMQL_FN_TANH: return tanh;
    case DW_PROMQL_FN_DEG: return f_deg;
    case DW_PROMQL_FN_RAD: return f_rad;
    default: return NULL;
    }
}

/* ---- clamp, round ---- */

static int eval_clamp(struct evq *q, const struct dw_promql_node *n, const struct grid *g,
                      struct val *out)
{
    const struct dw_promql_call *c = &n->u.call;
    enum dw_promql_func_id id = c->func->id;
    struct val a = {0}, b = {0};
    if (ev_eval(q, c->args[0], g, out) < 0)
        return -1;
    if (c->nargs > 1 && scalar_arg(q, c->args[1], g, &a) < 0)
        return -1;
    if (c->nargs > 2 && scalar_arg(q, c->args[2], g, &b) < 0)
        return -1;
    for (size_t i = 0; i < out->vec.n; i++) {
        struct ser *s = &out->vec.s[i];
        s->ls = ls_drop_name(q, s->ls);
        for (int32_t j = s->lo; j < s->hi; j++) {
            double *v = &s->v[j - s->lo];
            if (ev_is_absent(*v))
                continue;
            switch (id) {
            case DW_PROMQL_FN_CLAMP:
                /* An empty range (max < min) gives no result at that step. */
                *v = b.sc[j] < a.sc[j] ? ev_absent() : go_max(a.sc[j], go_min(b.sc[j], *v));
                break;
            case DW_PROMQL_FN_CLAMP_MIN: *v = go_max(a.sc[j], *v); break;
            case DW_PROMQL_FN_CLAMP_MAX: *v = go_min(a.sc[j], *v); break;
            default: {
                double to = c->nargs > 1 ? a.sc[j] : 1;
                double inv = 1.0 / to;
                *v = floor(*v * inv + 0.5) / inv;
            }
            }
            if (!ev_is_absent(*v))
                *v = ev_canon(*v);
        }
    }
    val_release(q, &a);
    val_release(q, &b);
    return vec_unique(q, &out->vec, false);
}

/* ---- dates ---- */

static double date_part(enum dw_promql_func_id id, double v)
{
    /* Go's int64(v) on amd64: NaN and out-of-range values become the minimum. */
    int64_t sec = (isnan(v) || v >= 9.2e18 || v <= -9.2e18) ? INT64_MIN : (int64_t)v;
    if (sec < -(INT64_C(1) << 50) || sec > (INT64_C(1) << 50))
        sec = sec < 0 ? -(INT64_C(1) << 50) : INT64_C(1) << 50;
    int64_t days = sec / 86400, rem = sec % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y;
    int m, d;
    dw_civil_from_days(days, &y, &m, &d);
    switch (id) {
    case DW_PROMQL_FN_YEAR: return (double)y;
    case DW_PROMQL_FN_MONTH: return m;
    case DW_PROMQL_FN_DAY_OF_MONTH: return d;
    case DW_PROMQL_FN_DAY_OF_WEEK: return (double)(((days % 7) + 11) % 7);
    case DW_PROMQL_FN_DAYS_IN_MONTH: return dw_days_in_month(y, m);
    case DW_PROMQL_FN_HOUR: return (double)(rem / 3600);
    case DW_PROMQL_FN_MINUTE: return (double)(rem % 3600 / 60);
    default: {
        int doy = d;
        for (int i = 1; i < m; i++)
            doy += dw_days_in_month(y, i);
        return doy;
    }
    }
}

static int eval_date(struct evq *q, const struct dw_promql_node *n, const struct grid *g,
                     struct val *out)
{
    const struct dw_promql_call *c = &n->u.call;
    if (c->nargs == 0) {
        /* No argument: vector(time()). */
        memset(out, 0, sizeof *out);
        out->type = DW_PROMQL_TYPE_VECTOR;
        struct ser *s = vec_push(q, &out->vec);
        if (ser_alloc(q, s, 0, g->n) < 0)
            return -1;
        s->ls = ls_empty(q);
        for (int32_t i = 0; i < g->n; i++)
            s->v[i] = date_part(c->func->id, (double)grid_t(g, i) / 1000);
        vec_drop_empty(q, &out->vec);
        return 0;
    }
    if (ev_eval(q, c->args[0], g, out) < 0)
        return -1;
    for (size_t i = 0; i < out->vec.n; i++) {
        struct ser *s = &out->vec.s[i];
        s->ls = ls_drop_name(q, s->ls);
        for (int32_t j = 0; j < s->hi - s->lo; j++)
            if (!ev_is_absent(s->v[j]))
                s->v[j] = date_part(c->func->id, s->v[j]);
    }
    return vec_unique(q, &out->vec, false);
}

/* ---- time(), vector(), scalar(), timestamp() ---- */

static int eval_time(struct evq *q, const struct grid *g, struct val *out)
{
    double *sc = val_scalar(q, out, g->n);
    if (!sc)
        return -1;
    for (int32_t i = 0; i < g->n; i++)
        sc[i] = (double)grid_t(g, i) / 1000;
    return 0;
}

static int eval_vector(struct evq *q, const struct dw_promql_node *n, const struct grid *g,
                       struct val *out)
{
    struct val a;
    if (ev_eval(q, n->u.call.args[0], g, &a) < 0)
        return -1;
    memset(out, 0, sizeof *out);
    out->type = DW_PROMQL_TYPE_VECTOR;
    struct ser *s = vec_push(q, &out->vec);
    if (ser_alloc(q, s, 0, g->n) < 0)
        return -1;
    s->ls = ls_empty(q);
    for (int32_t i = 0; i < g->n; i++)
        s->v[i] = a.sc[i];
    val_release(q, &a);
    vec_drop_empty(q, &out->vec);
    return 0;
}

static int eval_scalar(struct evq *q, const struct dw_promql_node *n, const struct grid *g,
                       struct val *out)
{
    struct val a;
    if (ev_eval(q, n->u.call.args[0], g, &a) < 0)
        return -1;
    double *sc = val_scalar(q, out, g->n);
    int32_t *count = ev_zalloc(q, (size_t)(g->n > 0 ? g->n : 1) * sizeof *count);
    if (!sc)
        return -1;
    for (size_t i = 0; i < a.vec.n; i++) {
        const struct ser *s = &a.vec.s[i];
        for (int32_t j = s->lo; j < s->hi; j++) {
            if (!ev_is_absent(s->v[j - s->lo])) {
                count[j]++;
                sc[j] = s->v[j - s->lo];
            }
        }
    }
    for (int32_t i = 0; i < g->n; i++)
        if (count[i] != 1)
            sc[i] = NAN;
    ev_free(q, count);
    val_release(q, &a);
    return 0;
}

static int eval_timestamp(struct evq *q, const struct dw_promql_node *n, const struct grid *g,
                          struct val *out)
{
    const struct dw_promql_node *arg = ev_unparen(n->u.call.args[0]);
    if (arg->kind == DW_PROMQL_VECTOR_SELECTOR) {
        /* The samples' own timestamps, not the steps'. */
        if (ev_vector_selector(q, arg, g, true, out) < 0)
            return -1;
    } else {
        if (ev_eval(q, arg, g, out) < 0)
            return -1;
        for (size_t i = 0; i < out->vec.n; i++) {
            struct ser *s = &out->vec.s[i];
            for (int32_t j = s->lo; j < s->hi; j++)
                if (!ev_is_absent(s->v[j - s->lo]))
                    s->v[j - s->lo] = (double)grid_t(g, j) / 1000;
        }
    }
    for (size_t i = 0; i < out->vec.n; i++)
        out->vec.s[i].ls = ls_drop_name(q, out->vec.s[i].ls);
    return vec_unique(q, &out->vec, false);
}

/* ---- absent() ---- */

const struct lset *ev_absent_labels(struct evq *q, const struct dw_promql_node *arg)
{
    const struct dw_promql_vector_selector *vs = ev_selector_of(arg);
    struct lbuild b;
    lb_init(&b, NULL);
    const char **drop = dw_calloc(vs ? vs->nmatchers + 1 : 1, sizeof *drop);
    size_t ndrop = 0;
    for (size_t i = 0; vs && i < vs->nmatchers; i++) {
        const struct dw_promql_matcher *m = &vs->matchers[i];
        if (strcmp(m->name, DW_TSDB_METRIC_NAME) == 0)
            continue;
        bool has = false;
        for (size_t j = 0; j < b.n; j++)
            has = has || (strcmp(b.l[j].name, m->name) == 0 && b.l[j].value[0]);
        if (m->type == DW_PROMQL_MATCH_EQ && !has)
            lb_set(&b, m->name, m->value);
        else
            drop[ndrop++] = m->name;
    }
    for (size_t i = 0; i < ndrop; i++)
        lb_del(&b, drop[i]);
    const struct lset *ls = lb_finish(q, &b);
    free(drop);
    lb_release(&b);
    return ls;
}

static int eval_absent(struct evq *q, const struct dw_promql_node *n, const struct grid *g,
                       struct val *out)
{
    struct val a;
    if (ev_eval(q, n->u.call.args[0], g, &a) < 0)
        return -1;
    memset(out, 0, sizeof *out);
    out->type = DW_PROMQL_TYPE_VECTOR;
    struct ser *s = vec_push(q, &out->vec);
    if (ser_alloc(q, s, 0, g->n) < 0)
        return -1;
    for (int32_t j = 0; j < g->n; j++)
        s->v[j] = 1;
    for (size_t i = 0; i < a.vec.n; i++) {
        const struct ser *x = &a.vec.s[i];
        for (int32_t j = x->lo; j < x->hi; j++)
            if (!ev_is_absent(x->v[j - x->lo]))
                s->v[j] = ev_absent();
    }
    val_release(q, &a);
    s->ls = ev_absent_labels(q, n->u.call.args[0]);
    vec_drop_empty(q, &out->vec);
    return 0;
}

/* ---- label_replace(), label_join() ---- */

static int label_too_long(struct evq *q, const char *fn)
{
    return ev_fail(q, DW_PROMQL_EEXEC, "%s(): label value longer than %u bytes", fn,
                   DW_PROMQL_MAX_LABEL_VALUE_LEN);
}

static int eval_label_replace(struct evq *q, const struct dw_promql_node *n, const struct grid *g,
                              struct val *out)
{
    const struct dw_promql_call *c = &n->u.call;
    size_t dl, rl, sl;
    const char *dst = string_arg(c->args[1], &dl), *repl = string_arg(c->args[2], &rl);
    const char *src = string_arg(c->args[3], &sl);
    if (ev_eval(q, c->args[0], g, out) < 0)
        return -1;
    struct dw_buf buf;
    dw_buf_init(&buf, DW_PROMQL_MAX_LABEL_VALUE_LEN);
    int rc = 0;
    for (size_t i = 0; i < out->vec.n && rc == 0; i++) {
        struct ser *s = &out->vec.s[i];
        const char *sv = ls_get(s->ls, src);
        if (!sv)
            sv = "";
        dw_buf_clear(&buf);
        int m = dw_promql_regex_expand(c->re, sv, strlen(sv), repl, rl, &buf);
        if (m < 0) {
            rc = label_too_long(q, "label_replace");
        } else if (m > 0) {
            struct lbuild b;
            lb_init(&b, s->ls);
            lb_set(&b, dst, ev_strndup(q, buf.data ? buf.data : "", buf.len));
            s->ls = lb_finish(q, &b);
            lb_release(&b);
        }
    }
    dw_buf_release(&buf);
    return rc < 0 ? -1 : vec_unique(q, &out->vec, false);
}

static int eval_label_join(struct evq *q, const struct dw_promql_node *n, const struct grid *g,
                           struct val *out)
{
    const struct dw_promql_call *c = &n->u.call;
    size_t dl, sepl;
    const char *dst = string_arg(c->args[1], &dl), *sep = string_arg(c->args[2], &sepl);
    if (ev_eval(q, c->args[0], g, out) < 0)
        return -1;
    struct dw_buf buf;
    dw_buf_init(&buf, DW_PROMQL_MAX_LABEL_VALUE_LEN);
    int rc = 0;
    for (size_t i = 0; i < out->vec.n && rc == 0; i++) {
        struct ser *s = &out->vec.s[i];
        dw_buf_clear(&buf);
        for (size_t k = 3; k < c->nargs; k++) {
            size_t len;
            const char *name = string_arg(c->args[k], &len), *v = ls_get(s->ls, name);
            if (k > 3)
                dw_buf_append(&buf, sep, sepl);
            if (v)
                dw_buf_puts(&buf, v);
        }
        if (buf.overflow) {
            rc = label_too_long(q, "label_join");
            break;
        }
        struct lbuild b;
        lb_init(&b, s->ls);
        lb_set(&b, dst, ev_strndup(q, buf.data ? buf.data : "", buf.len));
        s->ls = lb_finish(q, &b);
        lb_release(&b);
    }
    dw_buf_release(&buf);
    return rc < 0 ? -1 : vec_unique(q, &out->vec, false);
}

/* ---- sort(), sort_desc() ---- */

/* NaN sorts last in both directions. */
static int sort_asc(const void *a, const void *b)
{
    double x = ser_at(a, 0), y = ser_at(b, 0);
    if (isnan(x) || isnan(y))
        return (isnan(x) != 0) - (isnan(y) != 0);
    return x < y ? -1 : x > y;
}

static int sort_desc(const void *a, const void *b)
{
    double x = ser_at(a, 0), y = ser_at(b, 0);
    if (isnan(x) || isnan(y))
        return (isnan(x) != 0) - (isnan(y) != 0);
    return x > y ? -1 : x < y;
}

static int eval_sort(struct evq *q, const struct dw_promql_node *n, const struct grid *g,
                     struct val *out)
{
    if (ev_eval(q, n->u.call.args[0], g, out) < 0)
        return -1;
    /* Only an instant result has an order; a range result is sorted by labels. */
    if (g->n == 1 && out->vec.n > 1)
        qsort(out->vec.s, out->vec.n, sizeof *out->vec.s,
              n->u.call.func->id == DW_PROMQL_FN_SORT_DESC ? sort_desc : sort_asc);
    return 0;
}

/* ---- histogram_quantile() ---- */

/* strconv.ParseFloat for `le` values: decimal, Inf, NaN; nothing else. */
static bool parse_bound(const char *s, double *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!strcasecmp(p, "inf") || !strcasecmp(p, "infinity")) {
        *out = *s == '-' ? -INFINITY : INFINITY;
        return true;
    }
    if (!strcasecmp(p, "nan")) {
        *out = NAN;
        return p == s;
    }
    bool digits = false;
    while (*p >= '0' && *p <= '9')
        p++, digits = true;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            digits = true;
    if (!digits)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p)
        return false;
    *out = strtod(s, NULL);
    return true;
}

struct bucket {
    double upper, count;
};

static double bucket_quantile(double q, struct bucket *b, size_t n)
{
    if (isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    if (!(isinf(b[n - 1].upper) && b[n - 1].upper > 0))
        return NAN;
    /* Coalesce equal bounds (buckets are sorted by bound). */
    size_t k = 0;
    for (size_t i = 1; i < n; i++) {
        if (b[i].upper == b[k].upper)
            b[k].count += b[i].count;
        else
            b[++k] = b[i];
    }
    n = k + 1;
    /* Counts must not decrease with the bound. */
    double max = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (b[i].count > max)
            max = b[i].count;
        else if (b[i].count < max)
            b[i].count = max;
    }
    if (n < 2)
        return NAN;
    double observations = b[n - 1].count;
    if (observations == 0)
        return NAN;
    double rank = q * observations;
    size_t lo = 0, hi = n - 1; /* first bucket among the finite ones with count >= rank */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b[mid].count >= rank)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (lo == n - 1)
        return b[n - 2].upper;
    if (lo == 0 && b[0].upper <= 0)
        return b[0].upper;
    double start = 0, end = b[lo].upper, count = b[lo].count;
    if (lo > 0) {
        start = b[lo - 1].upper;
        count -= b[lo - 1].count;
        rank -= b[lo - 1].count;
    }
    return start + (end - start) * (rank / count);
}

struct hq_member {
    uint32_t ser;
    double upper;
};

static int member_order(const void *a, const void *b)
{
    double x = ((const struct hq_member *)a)->upper, y = ((const struct hq_member *)b)->upper;
    return x < y ? -1 : x > y;
}

struct hq_group {
    const struct lset *key; /* labels without le */
    struct hq_member *m;
    size_t n, cap;
};

struct hq_ctx {
    struct hq_group *groups;
    const struct lset *ls;
};

static bool hq_eq(void *ctx, uint32_t item)
{
    struct hq_ctx *h = ctx;
    return ls_eq(h->groups[item].key, h->ls);
}

static int hq_group_series(struct evq *q, struct hq_group *grp, const struct ser *in,
                           const double *phi, const struct grid *g, struct ser *out,
                           struct bucket *bk)
{
    int32_t lo = INT32_MAX, hi = 0;
    for (size_t i = 0; i < grp->n; i++) {
        const struct ser *s = &in[grp->m[i].ser];
        lo = s->lo < lo ? s->lo : lo;
        hi = s->hi > hi ? s->hi : hi;
    }
    if (ser_alloc(q, out, lo, hi) < 0)
        return -1;
    for (int32_t j = lo; j < hi; j++) {
        size_t nb = 0;
        for (size_t i = 0; i < grp->n; i++) {
            double v = ser_at(&in[grp->m[i].ser], j);
            if (!ev_is_absent(v))
                bk[nb++] = (struct bucket){grp->m[i].upper, v};
        }
        if (nb)
            out->v[j - lo] = ev_canon(bucket_quantile(phi[j], bk, nb));
    }
    return 0;
}

static int eval_histogram_quantile(struct evq *q, const struct dw_promql_node *n,
                                   const struct grid *g, struct val *out)
{
    struct val phi, in;
    if (ev_eval(q, n->u.call.args[0], g, &phi) < 0 || ev_eval(q, n->u.call.args[1], g, &in) < 0)
        return -1;
    /* The group key keeps __name__: Prometheus groups by every label but le. */
    struct hq_group *groups = ev_zalloc(q, (in.vec.n ? in.vec.n : 1) * sizeof *groups);
    size_t ngroups = 0, maxn = 1;
    struct hindex x;
    hx_init(q, &x, in.vec.n);
    struct hq_ctx hc = {groups, NULL};
    for (size_t i = 0; i < in.vec.n; i++) {
        const struct ser *s = &in.vec.s[i];
        const char *lev = ls_get(s->ls, "le");
        double upper;
        if (!lev || !parse_bound(lev, &upper))
            continue;
        struct lbuild b;
        lb_init(&b, s->ls);
        lb_del(&b, "le");
        const struct lset *key = lb_finish(q, &b);
        lb_release(&b);
        hc.ls = key;
        uint32_t gi = hx_find(&x, key->hash, hq_eq, &hc);
        if (gi == UINT32_MAX) {
            gi = (uint32_t)ngroups++;
            groups[gi].key = key;
            hx_insert(q, &x, key->hash, gi);
        }
        struct hq_group *grp = &groups[gi];
        if (grp->n == grp->cap) {
            grp->cap = grp->cap ? grp->cap * 2 : 16;
            grp->m = ev_realloc(q, grp->m, grp->cap * sizeof *grp->m);
        }
        grp->m[grp->n++] = (struct hq_member){(uint32_t)i, upper};
        maxn = grp->n > maxn ? grp->n : maxn;
    }
    hx_release(q, &x);
    struct bucket *bk = ev_alloc(q, maxn * sizeof *bk);
    memset(out, 0, sizeof *out);
    out->type = DW_PROMQL_TYPE_VECTOR;
    for (size_t gi = 0; gi < ngroups; gi++) {
        struct hq_group *grp = &groups[gi];
        qsort(grp->m, grp->n, sizeof *grp->m, member_order);
        struct ser *s = vec_push(q, &out->vec);
        if (ev_check(q) < 0 || hq_group_series(q, grp, in.vec.s, phi.sc, g, s, bk) < 0)
            return -1;
        s->ls = ls_drop_name(q, grp->key);
        ev_free(q, grp->m);
    }
    ev_free(q, bk);
    ev_free(q, groups);
    val_release(q, &in);
    val_release(q, &phi);
    return vec_unique(q, &out->vec, false);
}

/* ---- dispatch ---- */

static int eval_math(struct evq *q, const struct dw_promql_node *n, const struct grid *g,
                     struct val *out, double (*f)(double))
{
    if (ev_eval(q, n->u.call.args[0], g, out) < 0)
        return -1;
    map_values(q, &out->vec, f);
    return vec_unique(q, &out->vec, false);
}

int ev_call(struct evq *q, const struct dw_promql_node *n, const struct grid *g, struct val *out)
{
    const struct dw_promql_call *c = &n->u.call;
    const struct dw_promql_func *f = c->func;
    memset(out, 0, sizeof *out);
    if (f->native_histogram) {
        /* Only native histogram samples pass these functions; dojowatch stores
           floats only, so like Prometheus on float data the result is empty.
           The arguments are still evaluated, for their errors and limits. */
        for (size_t i = 0; i < c->nargs; i++) {
            struct val a;
            if (ev_eval(q, c->args[i], g, &a) < 0)
                return -1;
            val_release(q, &a);
        }
        out->type = DW_PROMQL_TYPE_VECTOR;
        return 0;
    }
    for (size_t i = 0; i < c->nargs; i++)
        if (c->args[i]->type == DW_PROMQL_TYPE_MATRIX)
            return ev_rollup(q, n, g, out);
    double (*fn)(double) = elementwise(f->id);
    if (fn)
        return eval_math(q, n, g, out, fn);
    switch (f->id) {
    case DW_PROMQL_FN_TIME: return eval_time(q, g, out);
    case DW_PROMQL_FN_PI: {
        double *sc = val_scalar(q, out, g->n);
        if (!sc)
            return -1;
        for (int32_t i = 0; i < g->n; i++)
            sc[i] = M_PI;
        return 0;
    }
    case DW_PROMQL_FN_VECTOR: return eval_vector(q, n, g, out);
    case DW_PROMQL_FN_SCALAR: return eval_scalar(q, n, g, out);
    case DW_PROMQL_FN_TIMESTAMP: return eval_timestamp(q, n, g, out);
    case DW_PROMQL_FN_ABSENT: return eval_absent(q, n, g, out);
    case DW_PROMQL_FN_LABEL_REPLACE: return eval_label_replace(q, n, g, out);
    case DW_PROMQL_FN_LABEL_JOIN: return eval_label_join(q, n, g, out);
    case DW_PROMQL_FN_SORT:
    case DW_PROMQL_FN_SORT_DESC: return eval_sort(q, n, g, out);
    case DW_PROMQL_FN_HISTOGRAM_QUANTILE: return eval_histogram_quantile(q, n, g, out);
    case DW_PROMQL_FN_ROUND:
    case DW_PROMQL_FN_CLAMP:
    case DW_PROMQL_FN_CLAMP_MIN:
    case DW_PROMQL_FN_CLAMP_MAX: return eval_clamp(q, n, g, out);
    case DW_PROMQL_FN_YEAR:
    case DW_PROMQL_FN_MONTH:
    case DW_PROMQL_FN_DAY_OF_MONTH:
    case DW_PROMQL_FN_DAY_OF_WEEK:
    case DW_PROMQL_FN_DAY_OF_YEAR:
    case DW_PROMQL_FN_DAYS_IN_MONTH:
    case DW_PROMQL_FN_HOUR:
    case DW_PROMQL_FN_MINUTE: return eval_date(q, n, g, out);
    default: break;
    }
    return ev_fail(q, DW_PROMQL_EEXEC, "function %s() cannot be evaluated here", f->name);
}
