/*
 * eval_agg.c - aggregation operators: sum, avg, count, min, max, group,
 * stddev, stdvar, topk, bottomk, quantile, count_values, with by/without.
 *
 * DESIGN: the grouping of series depends only on their labels, so groups are
 * formed once for the whole grid; each group is then aggregated across all
 * steps into one output series (a step has a value when some member has
 * one). Members are visited in input order and the arithmetic is Prometheus
 * 2.42's, step for step: the first value initialises, sums add in order, avg
 * is the incremental mean guarded against Inf, stddev/stdvar are Welford's.
 * topk/bottomk run Prometheus's own heap procedure per step (so ties resolve
 * the same way) and output the chosen input series with their labels;
 * count_values builds one label set per distinct value. Groups appear in the
 * order of their first member, which is Prometheus's order for an instant
 * query. Runs on the query's thread.
 */
#include <stdlib.h>

#include "promql/eval_internal.h"
#include "promql/promql_internal.h"

struct agroup {
    const struct lset *ls; /* the output labels */
    uint32_t *m;           /* members, in input order */
    size_t n, cap;
};

struct grouping {
    struct lsel sel;
    struct agroup *g;
    size_t ng;
    const struct vec *in;
    const struct lset *probe;
};

static bool group_eq(void *ctx, uint32_t item)
{
    struct grouping *gr = ctx;
    return ls_eq(gr->g[item].ls, gr->probe);
}

static void form_groups(struct evq *q, struct grouping *gr)
{
    const struct vec *in = gr->in;
    gr->g = ev_alloc(q, (in->n + 1) * sizeof *gr->g);
    gr->ng = 0;
    struct hindex x;
    hx_init(q, &x, in->n);
    for (size_t i = 0; i < in->n; i++) {
        const struct lset *key = ls_project(q, in->s[i].ls, &gr->sel);
        gr->probe = key;
        uint32_t gi = hx_find(&x, key->hash, group_eq, gr);
        if (gi == UINT32_MAX) {
            gi = (uint32_t)gr->ng++;
            gr->g[gi] = (struct agroup){key, NULL, 0, 0};
            hx_insert(q, &x, key->hash, gi);
        }
        struct agroup *a = &gr->g[gi];
        if (a->n == a->cap) {
            a->cap = a->cap ? a->cap * 2 : 4;
            a->m = ev_realloc(q, a->m, a->cap * sizeof *a->m);
        }
        a->m[a->n++] = (uint32_t)i;
    }
    hx_release(q, &x);
}

static void group_window(const struct vec *in, const struct agroup *a, int32_t *lo, int32_t *hi)
{
    *lo = INT32_MAX;
    *hi = 0;
    for (size_t k = 0; k < a->n; k++) {
        const struct ser *s = &in->s[a->m[k]];
        *lo = s->lo < *lo ? s->lo : *lo;
        *hi = s->hi > *hi ? s->hi : *hi;
    }
}

/* ---- sum, avg, count, min, max, group, stddev, stdvar ---- */

static void finalize(enum dw_promql_agg op, double *acc, const double *mean, const double *cnt,
                     size_t w);

static void accumulate(enum dw_promql_agg op, double x, double *acc, double *mean, double *cnt)
{
    if (ev_is_absent(*acc)) {
        *cnt = 1;
        *mean = x;
        switch (op) {
        case DW_PROMQL_AGG_COUNT:
        case DW_PROMQL_AGG_GROUP: *acc = 1; break;
        case DW_PROMQL_AGG_STDDEV:
        case DW_PROMQL_AGG_STDVAR: *acc = 0; break;
        default: *acc = x;
        }
        return;
    }
    switch (op) {
    case DW_PROMQL_AGG_SUM: *acc += x; break;
    case DW_PROMQL_AGG_COUNT: *acc += 1; break;
    case DW_PROMQL_AGG_MAX:
        if (*acc < x || isnan(*acc))
            *acc = x;
        break;
    case DW_PROMQL_AGG_MIN:
        if (*acc > x || isnan(*acc))
            *acc = x;
        break;
    case DW_PROMQL_AGG_AVG:
        *cnt += 1;
        if (isinf(*mean)) {
            if (isinf(x) && (*mean > 0) == (x > 0))
                break; /* Inf of the same sign: the mean stays */
            if (!isinf(x) && !isnan(x))
                break; /* a finite value cannot move an infinite mean */
        }
        *mean += x / *cnt - *mean / *cnt;
        break;
    case DW_PROMQL_AGG_STDDEV:
    case DW_PROMQL_AGG_STDVAR: {
        *cnt += 1;
        double delta = x - *mean;
        *mean += delta / *cnt;
        *acc += delta * (x - *mean);
        break;
    }
    default: break;
    }
}

static int simple_group(struct evq *q, enum dw_promql_agg op, const struct vec *in,
                        const struct agroup *a, struct ser *out)
{
    int32_t lo, hi;
    group_window(in, a, &lo, &hi);
    if (ser_alloc(q, out, lo, hi) < 0)
        return -1;
    size_t w = (size_t)(hi - lo);
    if (op == DW_PROMQL_AGG_SUM) { /* the common case, without the per-value switch */
        for (size_t k = 0; k < a->n; k++) {
            const struct ser *s = &in->s[a->m[k]];
            double *acc = out->v + (s->lo - lo);
            for (int32_t j = 0; j < s->hi - s->lo; j++) {
                double x = s->v[j];
                if (!ev_is_absent(x))
                    acc[j] = ev_is_absent(acc[j]) ? x : acc[j] + x;
            }
        }
        for (size_t i = 0; i < w; i++)
            if (!ev_is_absent(out->v[i]))
                out->v[i] = ev_canon(out->v[i]);
        return 0;
    }
    double *mean = ev_alloc(q, (w ? w : 1) * sizeof *mean);
    double *cnt = ev_alloc(q, (w ? w : 1) * sizeof *cnt);
    for (size_t k = 0; k < a->n; k++) {
        const struct ser *s = &in->s[a->m[k]];
        for (int32_t j = s->lo; j < s->hi; j++) {
            double x = s->v[j - s->lo];
            if (!ev_is_absent(x))
                accumulate(op, x, &out->v[j - lo], &mean[j - lo], &cnt[j - lo]);
        }
    }
    finalize(op, out->v, mean, cnt, w);
    ev_free(q, mean);
    ev_free(q, cnt);
    return 0;
}

/* Turns accumulators into final values (absent stays absent). */
static void finalize(enum dw_promql_agg op, double *acc, const double *mean, const double *cnt,
                     size_t w)
{
    for (size_t i = 0; i < w; i++) {
        double *v = &acc[i];
        if (ev_is_absent(*v))
            continue;
        if (op == DW_PROMQL_AGG_AVG)
            *v = mean[i];
        else if (op == DW_PROMQL_AGG_STDVAR)
            *v = *v / cnt[i];
        else if (op == DW_PROMQL_AGG_STDDEV)
            *v = sqrt(*v / cnt[i]);
        *v = ev_canon(*v);
    }
}

/* ---- aggregating a range function's output as it streams ---- */

struct fgroup {
    const struct lset *ls;
    double *acc, *mean, *cnt; /* one per step of the grid */
};

struct fuse {
    enum dw_promql_agg op;
    struct lsel sel;
    struct fgroup *g;
    size_t ng, cap;
    struct hindex x;
    const struct lset *probe;
};

static bool fuse_eq(void *ctx, uint32_t item)
{
    struct fuse *f = ctx;
    return ls_eq(f->g[item].ls, f->probe);
}

static int fuse_group(struct evq *q, struct fuse *f, const struct lset *key, int32_t n)
{
    if (f->ng == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        f->g = ev_realloc(q, f->g, f->cap * sizeof *f->g);
    }
    struct fgroup *grp = &f->g[f->ng];
    memset(grp, 0, sizeof *grp);
    grp->ls = key;
    grp->acc = ev_samples(q, (size_t)n);
    if (!grp->acc)
        return -1;
    for (int32_t j = 0; j < n; j++)
        grp->acc[j] = ev_absent();
    if (f->op != DW_PROMQL_AGG_SUM) {
        grp->mean = ev_alloc(q, (size_t)n * sizeof *grp->mean);
        grp->cnt = ev_alloc(q, (size_t)n * sizeof *grp->cnt);
    }
    hx_insert(q, &f->x, key->hash, (uint32_t)f->ng);
    return (int)f->ng++;
}

static int fuse_series(struct evq *q, void *ctx, const struct lset *ls, const double *dense,
                       int32_t n)
{
    struct fuse *f = ctx;
    f->probe = ls_project(q, ls, &f->sel);
    uint32_t gi = hx_find(&f->x, f->probe->hash, fuse_eq, f);
    if (gi == UINT32_MAX) {
        int k = fuse_group(q, f, f->probe, n);
        if (k < 0)
            return -1;
        gi = (uint32_t)k;
    }
    struct fgroup *grp = &f->g[gi];
    double *acc = grp->acc;
    if (f->op == DW_PROMQL_AGG_SUM) {
        for (int32_t j = 0; j < n; j++)
            if (!ev_is_absent(dense[j]))
                acc[j] = ev_is_absent(acc[j]) ? dense[j] : acc[j] + dense[j];
        return 0;
    }
    for (int32_t j = 0; j < n; j++)
        if (!ev_is_absent(dense[j]))
            accumulate(f->op, dense[j], &acc[j], &grp->mean[j], &grp->cnt[j]);
    return 0;
}

static int fused_aggregate(struct evq *q, const struct dw_promql_aggregate *a, const struct grid *g,
                           struct val *out)
{
    struct fuse f = {.op = a->op, .sel = {!a->without, a->grouping, a->ngrouping}};
    hx_init(q, &f.x, 64);
    if (ev_rollup_stream(q, a->expr, g, fuse_series, &f) < 0)
        return -1;
    for (size_t gi = 0; gi < f.ng; gi++) {
        struct fgroup *grp = &f.g[gi];
        finalize(f.op, grp->acc, grp->mean, grp->cnt, (size_t)g->n);
        struct ser *s = vec_push(q, &out->vec);
        s->ls = grp->ls;
        if (ser_from_dense(q, s, grp->acc, g->n) < 0)
            return -1;
        ev_free(q, grp->acc);
        ev_free(q, grp->mean);
        ev_free(q, grp->cnt);
    }
    ev_free(q, f.g);
    hx_release(q, &f.x);
    vec_drop_empty(q, &out->vec);
    return 0;
}

/* ---- topk, bottomk: Go's container/heap, as Prometheus uses it ---- */

struct hitem {
    double v;
    uint32_t ser;
};

/* vectorByValueHeap (topk) and vectorByReverseValueHeap (bottomk): NaN is "least". */
static bool h_less(const struct hitem *h, size_t i, size_t j, bool bottom)
{
    if (isnan(h[i].v))
        return true;
    return bottom ? h[i].v > h[j].v : h[i].v < h[j].v;
}

static void h_swap(struct hitem *h, size_t i, size_t j)
{
    struct hitem t = h[i];
    h[i] = h[j];
    h[j] = t;
}

static void h_up(struct hitem *h, size_t j, bool bottom)
{
    while (j > 0) {
        size_t i = (j - 1) / 2;
        if (!h_less(h, j, i, bottom))
            break;
        h_swap(h, i, j);
        j = i;
    }
}

static void h_down(struct hitem *h, size_t i, size_t n, bool bottom)
{
    for (;;) {
        size_t j = 2 * i + 1;
        if (j >= n)
            break;
        if (j + 1 < n && h_less(h, j + 1, j, bottom))
            j++;
        if (!h_less(h, j, i, bottom))
            break;
        h_swap(h, i, j);
        i = j;
    }
}

/* Selects up to k items of one step into h (Prometheus's loop), returns the count. */
static size_t select_k(struct hitem *h, const struct hitem *items, size_t n, int64_t k, bool bottom)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (len == 0) {
            h[len++] = items[i];
            continue;
        }
        bool better = bottom ? h[0].v > items[i].v : h[0].v < items[i].v;
        if ((int64_t)len < k || better || isnan(h[0].v)) {
            if ((int64_t)len == k) {
                if (k == 1) {
                    h[0] = items[i];
                    continue;
                }
                h_swap(h, 0, len - 1); /* heap.Pop */
                h_down(h, 0, len - 1, bottom);
                len--;
            }
            h[len++] = items[i]; /* heap.Push */
            h_up(h, len - 1, bottom);
        }
    }
    /* sort.Reverse(heap): best first, NaN last (stable for ties). */
    for (size_t i = 1; i < len; i++) {
        struct hitem x = h[i];
        size_t j = i;
        while (j > 0) {
            struct hitem pair[2] = {h[j - 1], x};
            if (!h_less(pair, 0, 1, bottom))
                break;
            h[j] = h[j - 1];
            j--;
        }
        h[j] = x;
    }
    return len;
}

/* Prometheus's convertibleToInt64 check and k. */
static int topk_k(struct evq *q, double f, int64_t *k)
{
    if (!(f <= 9223372036854774784.0 && f >= -9223372036854775808.0)) {
        struct dw_buf b;
        dw_buf_init(&b, 0);
        go_format_float(&b, f);
        ev_fail(q, DW_PROMQL_EEXEC, "Scalar value %s overflows int64", b.data);
        dw_buf_release(&b);
        return -1;
    }
    *k = (int64_t)f;
    return 0;
}

static int topk(struct evq *q, bool bottom, const double *param, const struct grid *g,
                struct grouping *gr, struct val *in, struct val *out)
{
    int64_t *ks = ev_alloc(q, (size_t)(g->n > 0 ? g->n : 1) * sizeof *ks);
    for (int32_t j = 0; j < g->n; j++)
        if (topk_k(q, param[j], &ks[j]) < 0)
            return -1;
    int32_t *outof = ev_alloc(q, (in->vec.n + 1) * sizeof *outof);
    for (size_t i = 0; i < in->vec.n; i++)
        outof[i] = -1;
    size_t maxn = 1;
    for (size_t gi = 0; gi < gr->ng; gi++)
        maxn = gr->g[gi].n > maxn ? gr->g[gi].n : maxn;
    struct hitem *items = ev_alloc(q, maxn * sizeof *items), *h = ev_alloc(q, maxn * sizeof *h);
    for (size_t gi = 0; gi < gr->ng; gi++) {
        const struct agroup *a = &gr->g[gi];
        int32_t lo, hi;
        group_window(&in->vec, a, &lo, &hi);
        for (int32_t j = lo; j < hi; j++) {
            if (ev_tick(q) < 0)
                return -1;
            if (ks[j] < 1)
                continue;
            size_t n = 0;
            for (size_t k = 0; k < a->n; k++) {
                double v = ser_at(&in->vec.s[a->m[k]], j);
                if (!ev_is_absent(v))
                    items[n++] = (struct hitem){v, a->m[k]};
            }
            size_t len = select_k(h, items, n, ks[j], bottom);
            for (size_t k = 0; k < len; k++) {
                uint32_t si = h[k].ser;
                if (outof[si] < 0) {
                    outof[si] = (int32_t)out->vec.n;
                    struct ser *s = vec_push(q, &out->vec);
                    s->ls = in->vec.s[si].ls;
                    if (ser_alloc(q, s, in->vec.s[si].lo, in->vec.s[si].hi) < 0)
                        return -1;
                }
                struct ser *s = &out->vec.s[outof[si]];
                s->v[j - s->lo] = h[k].v;
            }
        }
    }
    ev_free(q, items);
    ev_free(q, h);
    ev_free(q, outof);
    ev_free(q, ks);
    return 0;
}

/* ---- quantile ---- */

static int quantile(struct evq *q, const double *param, struct grouping *gr, struct val *in,
                    struct val *out)
{
    size_t maxn = 1;
    for (size_t gi = 0; gi < gr->ng; gi++)
        maxn = gr->g[gi].n > maxn ? gr->g[gi].n : maxn;
    double *buf = ev_alloc(q, maxn * sizeof *buf);
    for (size_t gi = 0; gi < gr->ng; gi++) {
        const struct agroup *a = &gr->g[gi];
        int32_t lo, hi;
        group_window(&in->vec, a, &lo, &hi);
        struct ser *s = vec_push(q, &out->vec);
        s->ls = a->ls;
        if (ser_alloc(q, s, lo, hi) < 0)
            return -1;
        for (int32_t j = lo; j < hi; j++) {
            size_t n = 0;
            for (size_t k = 0; k < a->n; k++) {
                double v = ser_at(&in->vec.s[a->m[k]], j);
                if (!ev_is_absent(v))
                    buf[n++] = v;
            }
            if (n)
                s->v[j - lo] = ev_canon(ev_quantile(param[j], buf, n));
        }
    }
    ev_free(q, buf);
    return 0;
}

/* ---- count_values ---- */

struct cv_ctx {
    const struct vec *out;
    const struct lset *probe;
};

static bool cv_eq(void *ctx, uint32_t item)
{
    struct cv_ctx *c = ctx;
    return ls_eq(c->out->s[item].ls, c->probe);
}

static int count_values(struct evq *q, const struct dw_promql_aggregate *a, const char *label,
                        struct val *in, struct val *out)
{
    if (!promql_label_name_valid(label, strlen(label)))
        return ev_fail(q, DW_PROMQL_EEXEC, "invalid label name \"%s\"", label);
    /* by(): the value label is one of the grouping labels. */
    const char **names = ev_alloc(q, (a->ngrouping + 1) * sizeof *names);
    if (a->ngrouping)
        memcpy(names, a->grouping, a->ngrouping * sizeof *names);
    names[a->ngrouping] = label;
    struct lsel sel = {!a->without, names, a->ngrouping + (a->without ? 0 : 1)};
    struct hindex x;
    hx_init(q, &x, in->vec.n);
    struct cv_ctx c = {&out->vec, NULL};
    struct dw_buf vb;
    dw_buf_init(&vb, 0);
    for (size_t i = 0; i < in->vec.n; i++) {
        const struct ser *s = &in->vec.s[i];
        uint64_t last_bits = 0;
        int32_t o = -1;
        for (int32_t j = s->lo; j < s->hi; j++) {
            double v = s->v[j - s->lo];
            uint64_t bits;
            memcpy(&bits, &v, sizeof bits);
            if (ev_is_absent(v))
                continue;
            if (o < 0 || bits != last_bits) {
                dw_buf_clear(&vb);
                ev_format_f(v, &vb);
                struct lbuild b;
                lb_init(&b, s->ls);
                lb_set(&b, label, ev_strndup(q, vb.data, vb.len));
                lb_keep_sel(&b, &sel);
                c.probe = lb_finish(q, &b);
                lb_release(&b);
                uint32_t k = hx_find(&x, c.probe->hash, cv_eq, &c);
                if (k == UINT32_MAX) {
                    k = (uint32_t)out->vec.n;
                    vec_push(q, &out->vec)->ls = c.probe;
                    hx_insert(q, &x, c.probe->hash, k);
                }
                o = (int32_t)k;
                last_bits = bits;
                if (ser_widen(q, &out->vec.s[o], s->lo, s->hi) < 0)
                    return -1;
            }
            struct ser *os = &out->vec.s[o];
            double *cnt = &os->v[j - os->lo];
            *cnt = ev_is_absent(*cnt) ? 1 : *cnt + 1;
        }
    }
    dw_buf_release(&vb);
    hx_release(q, &x);
    ev_free(q, names);
    return 0;
}

int ev_aggregate(struct evq *q, const struct dw_promql_node *n, const struct grid *g,
                 struct val *out)
{
    const struct dw_promql_aggregate *a = &n->u.agg;
    struct val param = {0}, in;
    memset(out, 0, sizeof *out);
    out->type = DW_PROMQL_TYPE_VECTOR;
    bool simple = a->op != DW_PROMQL_AGG_TOPK && a->op != DW_PROMQL_AGG_BOTTOMK &&
                  a->op != DW_PROMQL_AGG_QUANTILE && a->op != DW_PROMQL_AGG_COUNT_VALUES;
    /* sum(rate(...)) and friends: fold each series in as the range function yields it. */
    if (simple && ev_rollup_streams(a->expr) && !(a->expr->step_invariant && g->n > 1))
        return fused_aggregate(q, a, g, out);
    if (a->param && ev_eval(q, a->param, g, &param) < 0)
        return -1;
    if (ev_eval(q, a->expr, g, &in) < 0)
        return -1;
    if (a->op == DW_PROMQL_AGG_COUNT_VALUES) {
        if (count_values(q, a, param.str, &in, out) < 0)
            return -1;
    } else {
        struct grouping gr = {{!a->without, a->grouping, a->ngrouping}, NULL, 0, &in.vec, NULL};
        form_groups(q, &gr);
        int rc = 0;
        if (a->op == DW_PROMQL_AGG_TOPK || a->op == DW_PROMQL_AGG_BOTTOMK)
            rc = topk(q, a->op == DW_PROMQL_AGG_BOTTOMK, param.sc, g, &gr, &in, out);
        else if (a->op == DW_PROMQL_AGG_QUANTILE)
            rc = quantile(q, param.sc, &gr, &in, out);
        else
            for (size_t gi = 0; gi < gr.ng && rc == 0; gi++) {
                struct ser *s = vec_push(q, &out->vec);
                s->ls = gr.g[gi].ls;
                rc = ev_check(q) < 0 ? -1 : simple_group(q, a->op, &in.vec, &gr.g[gi], s);
            }
        if (rc < 0)
            return -1;
        for (size_t gi = 0; gi < gr.ng; gi++)
            ev_free(q, gr.g[gi].m);
        ev_free(q, gr.g);
    }
    val_release(q, &in);
    val_release(q, &param);
    vec_drop_empty(q, &out->vec);
    return 0;
}
