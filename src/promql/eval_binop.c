/*
 * eval_binop.c - binary operators: arithmetic, comparisons (with and without
 * `bool`), atan2, between scalars, a vector and a scalar, or two vectors
 * with one-to-one / group_left / group_right matching, and the set
 * operators and, or, unless.
 *
 * DESIGN: matching is static in its labels but dynamic in time: which series
 * meet depends on which are present at a step. Series of both sides are
 * grouped once by their matching signature (on/ignoring); each group is then
 * processed across all steps. Per step the semantics are Prometheus 2.42's
 * VectorBinop: the "one" side must have at most one series present per
 * group (else "found duplicate series for the match group ..."), a
 * one-to-one match may meet only one series of the other side ("multiple
 * matches for labels: many-to-one matching must be explicit ..."), result
 * labels come from the "many" side (minus __name__ for arithmetic and
 * `bool`, only the `on` labels or without the `ignoring` ones for
 * one-to-one, plus the group_x labels of the "one" side), and results with
 * equal labels at one step are an error. Outputs are created in the order
 * of the "many" side's series, so an instant query lists them like
 * Prometheus does. Runs on the query's thread.
 */
#include <stdlib.h>

#include "promql/eval_internal.h"

/* Arithmetic drops the metric name; atan2 and comparisons keep it (Prometheus 2.42). */
static bool drops_name(enum dw_promql_binop op)
{
    return op <= DW_PROMQL_POW;
}

/* Prometheus's vectorElemBinop: the value and whether a comparison keeps it. */
static bool elem(enum dw_promql_binop op, double l, double r, double *out)
{
    *out = l;
    switch (op) {
    case DW_PROMQL_ADD: *out = l + r; return true;
    case DW_PROMQL_SUB: *out = l - r; return true;
    case DW_PROMQL_MUL: *out = l * r; return true;
    case DW_PROMQL_DIV: *out = l / r; return true;
    case DW_PROMQL_POW: *out = pow(l, r); return true;
    case DW_PROMQL_MOD: *out = fmod(l, r); return true;
    case DW_PROMQL_ATAN2: *out = atan2(l, r); return true;
    case DW_PROMQL_EQLC: return l == r;
    case DW_PROMQL_NEQ: return l != r;
    case DW_PROMQL_GTR: return l > r;
    case DW_PROMQL_LSS: return l < r;
    case DW_PROMQL_GTE: return l >= r;
    case DW_PROMQL_LTE: return l <= r;
    default: return false;
    }
}

/* ---- scalars ---- */

static int scalar_scalar(struct evq *q, const struct dw_promql_binary *b, struct val *l,
                         struct val *r, const struct grid *g, struct val *out)
{
    for (int32_t i = 0; i < g->n; i++) {
        double v;
        bool keep = elem(b->op, l->sc[i], r->sc[i], &v);
        l->sc[i] = b->return_bool ? (keep ? 1 : 0) : v;
    }
    *out = *l;
    val_release(q, r);
    return 0;
}

static int vector_scalar(struct evq *q, const struct dw_promql_binary *b, struct val *vec,
                         const double *sc, bool swap, struct val *out)
{
    bool cmp = dw_promql_binop_is_comparison(b->op);
    for (size_t i = 0; i < vec->vec.n; i++) {
        struct ser *s = &vec->vec.s[i];
        if (drops_name(b->op) || b->return_bool)
            s->ls = ls_drop_name(q, s->ls);
        for (int32_t j = s->lo; j < s->hi; j++) {
            double *x = &s->v[j - s->lo];
            if (ev_is_absent(*x))
                continue;
            double lv = swap ? sc[j] : *x, rv = swap ? *x : sc[j], v;
            bool keep = elem(b->op, lv, rv, &v);
            if (cmp && swap)
                v = rv; /* a comparison keeps the vector's value */
            if (b->return_bool) {
                v = keep ? 1 : 0;
                keep = true;
            }
            *x = keep ? ev_canon(v) : ev_absent();
        }
    }
    *out = *vec;
    memset(vec, 0, sizeof *vec);
    return vec_unique(q, &out->vec, false);
}

/* ---- grouping both sides by signature ---- */

struct mgroup {
    const struct lset *rep; /* a member's labels, to compare signatures */
    uint32_t *l, *r;        /* members of each side, in series order */
    size_t nl, nr, capl, capr;
    int32_t *rsel; /* nr > 1: the one present r per step (-1 none), over [rlo, rhi) */
    int32_t rlo, rhi;
    uint8_t *matched; /* one-to-one with nl > 1: a match was made at this step */
};

struct matching {
    const struct lsel *sel;
    struct mgroup *g;
    size_t ng;
    struct hindex x;
    const struct lset *probe;
    uint32_t *lgroup; /* group of each lhs ("many" side) series */
};

static bool group_eq(void *ctx, uint32_t item)
{
    struct matching *m = ctx;
    return ls_eq_sel(m->g[item].rep, m->probe, m->sel);
}

static uint32_t group_of(struct evq *q, struct matching *m, const struct lset *ls)
{
    uint64_t h = ls_hash_sel(ls, m->sel);
    m->probe = ls;
    uint32_t gi = hx_find(&m->x, h, group_eq, m);
    if (gi == UINT32_MAX) {
        gi = (uint32_t)m->ng++;
        memset(&m->g[gi], 0, sizeof m->g[gi]);
        m->g[gi].rep = ls;
        hx_insert(q, &m->x, h, gi);
    }
    return gi;
}

static void add_member(struct evq *q, uint32_t **arr, size_t *n, size_t *cap, uint32_t v)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        *arr = ev_realloc(q, *arr, *cap * sizeof **arr);
    }
    (*arr)[(*n)++] = v;
}

static void group_sides(struct evq *q, struct matching *m, const struct vec *L, const struct vec *R)
{
    m->g = ev_alloc(q, (L->n + R->n + 1) * sizeof *m->g);
    m->ng = 0;
    hx_init(q, &m->x, L->n + R->n);
    m->lgroup = ev_alloc(q, (L->n + 1) * sizeof *m->lgroup);
    for (size_t i = 0; i < L->n; i++) {
        uint32_t gi = group_of(q, m, L->s[i].ls);
        m->lgroup[i] = gi;
        add_member(q, &m->g[gi].l, &m->g[gi].nl, &m->g[gi].capl, (uint32_t)i);
    }
    for (size_t i = 0; i < R->n; i++) {
        uint32_t gi = group_of(q, m, R->s[i].ls);
        add_member(q, &m->g[gi].r, &m->g[gi].nr, &m->g[gi].capr, (uint32_t)i);
    }
    hx_release(q, &m->x);
}

static uint8_t *presence(struct evq *q, const struct vec *v, const struct grid *g)
{
    uint8_t *any = ev_zalloc(q, (size_t)(g->n > 0 ? g->n : 1));
    for (size_t i = 0; i < v->n; i++)
        for (int32_t j = v->s[i].lo; j < v->s[i].hi; j++)
            if (!ev_is_absent(v->s[i].v[j - v->s[i].lo]))
                any[j] = 1;
    return any;
}

/* ---- set operators ---- */

static void filter_by(struct vec *v, const uint32_t *idx, size_t n, const uint8_t *mask,
                      bool keep_where_set)
{
    for (size_t k = 0; k < n; k++) {
        struct ser *s = &v->s[idx[k]];
        for (int32_t j = s->lo; j < s->hi; j++)
            if ((mask[j] != 0) != keep_where_set)
                s->v[j - s->lo] = ev_absent();
    }
}

static void mark(uint8_t *mask, const struct vec *v, const uint32_t *idx, size_t n, uint8_t val)
{
    for (size_t k = 0; k < n; k++) {
        const struct ser *s = &v->s[idx[k]];
        for (int32_t j = s->lo; j < s->hi; j++)
            if (val == 0 || !ev_is_absent(s->v[j - s->lo]))
                mask[j] = val;
    }
}

static int set_op(struct evq *q, const struct dw_promql_binary *b, struct val *l, struct val *r,
                  const struct grid *g, struct val *out)
{
    struct lsel sel = {b->on, b->labels, b->nlabels};
    struct matching m = {.sel = &sel};
    group_sides(q, &m, &l->vec, &r->vec);
    uint8_t *mask = ev_zalloc(q, (size_t)(g->n > 0 ? g->n : 1));
    for (size_t gi = 0; gi < m.ng; gi++) {
        if (ev_check(q) < 0)
            return -1;
        struct mgroup *grp = &m.g[gi];
        if (b->op == DW_PROMQL_OR) {
            /* rhs series count only where no lhs series of their group is present. */
            mark(mask, &l->vec, grp->l, grp->nl, 1);
            filter_by(&r->vec, grp->r, grp->nr, mask, false);
            mark(mask, &l->vec, grp->l, grp->nl, 0);
        } else {
            mark(mask, &r->vec, grp->r, grp->nr, 1);
            filter_by(&l->vec, grp->l, grp->nl, mask, b->op == DW_PROMQL_AND);
            mark(mask, &r->vec, grp->r, grp->nr, 0);
        }
    }
    ev_free(q, mask);
    *out = *l;
    memset(l, 0, sizeof *l);
    if (b->op == DW_PROMQL_OR) {
        for (size_t i = 0; i < r->vec.n; i++) {
            *vec_push(q, &out->vec) = r->vec.s[i];
            r->vec.s[i].v = NULL;
        }
    }
    val_release(q, r);
    return vec_unique(q, &out->vec, false);
}

/* ---- vector matching ---- */

struct binctx {
    const struct dw_promql_binary *b;
    struct matching m;
    const struct vec *L, *R; /* "many" and "one" sides (swapped for group_right) */
    bool swap;
    const uint8_t *any_l, *any_r;
    struct vec *out;
    uint32_t *ogroup; /* group that created each output */
    size_t ocap;
    struct hindex ox;
    const struct lset *probe;
};

static int dup_error(struct evq *q, struct binctx *c, uint32_t first, uint32_t second)
{
    struct dw_buf a, x, y;
    dw_buf_init(&a, 0);
    dw_buf_init(&x, 0);
    dw_buf_init(&y, 0);
    const struct lset *rs = c->R->s[second].ls;
    ls_format(ls_project(q, rs, c->m.sel), &a);
    ls_format(rs, &x);
    ls_format(c->R->s[first].ls, &y);
    ev_fail(q, DW_PROMQL_EEXEC,
            "found duplicate series for the match group %s on the %s hand-side of the "
            "operation: [%s, %s];many-to-many matching not allowed: matching labels must be "
            "unique on one side",
            a.data, c->swap ? "left" : "right", x.data, y.data);
    dw_buf_release(&a);
    dw_buf_release(&x);
    dw_buf_release(&y);
    return -1;
}

/* For groups with several "one"-side series: which one is present per step. */
static int select_one(struct evq *q, struct binctx *c, struct mgroup *grp)
{
    grp->rlo = INT32_MAX;
    grp->rhi = 0;
    for (size_t k = 0; k < grp->nr; k++) {
        const struct ser *s = &c->R->s[grp->r[k]];
        grp->rlo = s->lo < grp->rlo ? s->lo : grp->rlo;
        grp->rhi = s->hi > grp->rhi ? s->hi : grp->rhi;
    }
    if (grp->rhi <= grp->rlo)
        return 0;
    grp->rsel = ev_alloc(q, (size_t)(grp->rhi - grp->rlo) * sizeof *grp->rsel);
    for (int32_t j = grp->rlo; j < grp->rhi; j++) {
        int32_t found = -1;
        for (size_t k = 0; k < grp->nr; k++) {
            if (ev_is_absent(ser_at(&c->R->s[grp->r[k]], j)))
                continue;
            if (found >= 0 && c->any_l[j] && c->any_r[j])
                return dup_error(q, c, (uint32_t)found, grp->r[k]);
            if (found < 0)
                found = (int32_t)grp->r[k];
        }
        grp->rsel[j - grp->rlo] = found;
    }
    return 0;
}

static bool out_eq(void *ctx, uint32_t item)
{
    struct binctx *c = ctx;
    return ls_eq(c->out->s[item].ls, c->probe);
}

/* The output series for a match of lhs series l with rhs series r. */
static int output_for(struct evq *q, struct binctx *c, uint32_t l, uint32_t r, uint32_t gi)
{
    const struct dw_promql_binary *b = c->b;
    struct lbuild lb;
    lb_init(&lb, c->L->s[l].ls);
    if (drops_name(b->op) || b->return_bool)
        lb_del(&lb, DW_TSDB_METRIC_NAME);
    if (b->card == DW_PROMQL_CARD_ONE_TO_ONE) {
        if (b->on)
            lb_keep_sel(&lb, c->m.sel);
        else
            for (size_t i = 0; i < b->nlabels; i++)
                lb_del(&lb, b->labels[i]);
    }
    for (size_t i = 0; i < b->ninclude; i++) {
        const char *v = ls_get(c->R->s[r].ls, b->include[i]);
        if (v)
            lb_set(&lb, b->include[i], v);
        else
            lb_del(&lb, b->include[i]);
    }
    c->probe = lb_finish(q, &lb);
    lb_release(&lb);
    uint32_t o = hx_find(&c->ox, c->probe->hash, out_eq, c);
    if (o == UINT32_MAX) {
        o = (uint32_t)c->out->n;
        struct ser *s = vec_push(q, c->out);
        s->ls = c->probe;
        if (c->out->n > c->ocap) {
            c->ocap = c->out->cap;
            c->ogroup = ev_realloc(q, c->ogroup, c->ocap * sizeof *c->ogroup);
        }
        c->ogroup[o] = gi;
        hx_insert(q, &c->ox, c->probe->hash, o);
    }
    const struct ser *ls = &c->L->s[l];
    if (ser_widen(q, &c->out->s[o], ls->lo, ls->hi) < 0)
        return -1;
    return (int)o;
}

static int match_one(struct evq *q, struct binctx *c, uint32_t l)
{
    const struct dw_promql_binary *b = c->b;
    uint32_t gi = c->m.lgroup[l];
    struct mgroup *grp = &c->m.g[gi];
    if (grp->nr == 0)
        return 0;
    const struct ser *ls = &c->L->s[l];
    int64_t cur_r = -1;
    int o = -1;
    for (int32_t j = ls->lo; j < ls->hi; j++) {
        double vl = ls->v[j - ls->lo];
        if (ev_is_absent(vl))
            continue;
        int32_t r;
        if (grp->nr == 1)
            r = ev_is_absent(ser_at(&c->R->s[grp->r[0]], j)) ? -1 : (int32_t)grp->r[0];
        else
            r = (grp->rsel && j >= grp->rlo && j < grp->rhi) ? grp->rsel[j - grp->rlo] : -1;
        if (r < 0)
            continue;
        double vr = ser_at(&c->R->s[r], j), v;
        bool keep = c->swap ? elem(b->op, vr, vl, &v) : elem(b->op, vl, vr, &v);
        if (b->return_bool)
            v = keep ? 1 : 0;
        else if (!keep)
            continue;
        if (grp->matched) {
            if (grp->matched[j])
                return ev_fail(q, DW_PROMQL_EEXEC,
                               "multiple matches for labels: many-to-one matching must be explicit "
                               "(group_left/group_right)");
            grp->matched[j] = 1;
        }
        if (r != cur_r) {
            if ((o = output_for(q, c, l, (uint32_t)r, gi)) < 0)
                return -1;
            cur_r = r;
        }
        struct ser *os = &c->out->s[o];
        if (!ev_is_absent(os->v[j - os->lo])) {
            if (b->card != DW_PROMQL_CARD_ONE_TO_ONE && c->ogroup[o] == gi)
                return ev_fail(q, DW_PROMQL_EEXEC,
                               "multiple matches for labels: grouping "
                               "labels must ensure unique results");
            return ev_fail(q, DW_PROMQL_EEXEC,
                           "vector cannot contain metrics with the same labelset");
        }
        os->v[j - os->lo] = ev_canon(v);
    }
    return 0;
}

static int vector_vector(struct evq *q, const struct dw_promql_binary *b, struct val *l,
                         struct val *r, const struct grid *g, struct val *out)
{
    struct lsel sel = {b->on, b->labels, b->nlabels};
    struct binctx c = {.b = b, .swap = b->card == DW_PROMQL_CARD_ONE_TO_MANY};
    c.m.sel = &sel;
    c.L = c.swap ? &r->vec : &l->vec;
    c.R = c.swap ? &l->vec : &r->vec;
    memset(out, 0, sizeof *out);
    out->type = DW_PROMQL_TYPE_VECTOR;
    c.out = &out->vec;
    c.any_l = presence(q, &l->vec, g);
    c.any_r = presence(q, &r->vec, g);
    group_sides(q, &c.m, c.L, c.R);
    for (size_t gi = 0; gi < c.m.ng; gi++) {
        struct mgroup *grp = &c.m.g[gi];
        if (grp->nr > 1 && select_one(q, &c, grp) < 0)
            return -1;
        if (b->card == DW_PROMQL_CARD_ONE_TO_ONE && grp->nl > 1 && grp->nr > 0)
            grp->matched = ev_zalloc(q, (size_t)(g->n > 0 ? g->n : 1));
    }
    hx_init(q, &c.ox, c.L->n);
    for (size_t i = 0; i < c.L->n; i++)
        if (ev_tick(q) < 0 || match_one(q, &c, (uint32_t)i) < 0)
            return -1;
    hx_release(q, &c.ox);
    val_release(q, l);
    val_release(q, r);
    vec_drop_empty(q, &out->vec);
    return 0;
}

int ev_binary(struct evq *q, const struct dw_promql_node *n, const struct grid *g, struct val *out)
{
    const struct dw_promql_binary *b = &n->u.bin;
    struct val l, r;
    memset(out, 0, sizeof *out);
    if (ev_eval(q, b->lhs, g, &l) < 0 || ev_eval(q, b->rhs, g, &r) < 0)
        return -1;
    bool ls = l.type == DW_PROMQL_TYPE_SCALAR, rs = r.type == DW_PROMQL_TYPE_SCALAR;
    if (ls && rs)
        return scalar_scalar(q, b, &l, &r, g, out);
    if (ls || rs) {
        int rc = ls ? vector_scalar(q, b, &r, l.sc, true, out)
                    : vector_scalar(q, b, &l, r.sc, false, out);
        val_release(q, ls ? &l : &r);
        return rc;
    }
    if (dw_promql_binop_is_set(b->op))
        return set_op(q, b, &l, &r, g, out);
    return vector_vector(q, b, &l, &r, g, out);
}
