/*
 * engine.c - the entry points of PromQL evaluation: query set-up and limits,
 * the dispatcher that evaluates a node over a step grid, step-invariant
 * subtrees, unary minus, and turning the final value into a result.
 *
 * DESIGN: an instant query is a grid of one step, a range query a grid of
 * (end - start) / step + 1 steps. ev_eval() evaluates a node over a whole
 * grid at once and returns a scalar (one value per step), a string, or an
 * instant vector (series with a value at some steps); parents consume their
 * children's values and free them, so at most one branch of intermediate
 * results is alive. Subtrees the parser marked step-invariant (an `@`
 * modifier, literals) are evaluated once at the grid's first step and
 * copied to every step, exactly as Prometheus's StepInvariantExpr does.
 *
 * Everything runs on the caller's thread. Time inside the engine is the
 * query's own (never the wall clock); the timeout reads dw_mono_ns() between
 * series and steps; the cancellation flag is an atomic read at the same
 * points. Recursion follows the tree, whose height the parser bounds; the
 * engine refuses trees taller than EV_MAX_DEPTH in case a caller raised the
 * parser's limit.
 */
#include <stdio.h>
#include <stdlib.h>

#include "promql/eval_internal.h"

#define EV_MAX_DEPTH 1024u

const struct dw_promql_node *ev_unparen(const struct dw_promql_node *n)
{
    while (n->kind == DW_PROMQL_PAREN)
        n = n->u.paren;
    return n;
}

int64_t ev_at_time(const struct evq *q, enum dw_promql_at at, int64_t at_ms)
{
    switch (at) {
    case DW_PROMQL_AT_START: return q->start;
    case DW_PROMQL_AT_END: return q->end;
    default: return at_ms;
    }
}

/* ---- nodes ---- */

static int eval_number(struct evq *q, double v, const struct grid *g, struct val *out)
{
    double *sc = val_scalar(q, out, g->n);
    if (!sc)
        return -1;
    for (int32_t i = 0; i < g->n; i++)
        sc[i] = v;
    return 0;
}

static int eval_unary(struct evq *q, const struct dw_promql_node *n, const struct grid *g,
                      struct val *out)
{
    if (ev_eval(q, n->u.unary.expr, g, out) < 0)
        return -1;
    if (n->u.unary.op != DW_PROMQL_SUB)
        return 0;
    if (out->type == DW_PROMQL_TYPE_SCALAR) {
        for (int32_t i = 0; i < g->n; i++)
            out->sc[i] = -out->sc[i];
        return 0;
    }
    for (size_t i = 0; i < out->vec.n; i++) {
        struct ser *s = &out->vec.s[i];
        s->ls = ls_drop_name(q, s->ls);
        for (int32_t j = 0; j < s->hi - s->lo; j++)
            if (!ev_is_absent(s->v[j]))
                s->v[j] = -s->v[j];
    }
    /* Prometheus checks the whole matrix here, not step by step. */
    return vec_unique(q, &out->vec, true);
}

/* A step-invariant subtree: evaluated at the first step, then repeated. */
static int eval_invariant(struct evq *q, const struct dw_promql_node *n, const struct grid *g,
                          struct val *out)
{
    struct grid one = *g;
    one.end = one.start;
    one.n = 1;
    struct val v;
    if (ev_eval(q, n, &one, &v) < 0)
        return -1;
    if (v.type == DW_PROMQL_TYPE_SCALAR) {
        if (eval_number(q, v.sc[0], g, out) < 0)
            return -1;
        val_release(q, &v);
        return 0;
    }
    *out = v;
    if (v.type != DW_PROMQL_TYPE_VECTOR)
        return 0;
    for (size_t i = 0; i < out->vec.n; i++) {
        struct ser *s = &out->vec.s[i];
        double x = ser_at(s, 0);
        ev_free(q, s->v);
        s->v = NULL;
        if (ser_alloc(q, s, 0, g->n) < 0)
            return -1;
        for (int32_t j = 0; j < g->n; j++)
            s->v[j] = x;
    }
    return 0;
}

int ev_eval(struct evq *q, const struct dw_promql_node *n, const struct grid *g, struct val *out)
{
    memset(out, 0, sizeof *out);
    if (ev_check(q) < 0)
        return -1;
    if (n->step_invariant && g->n > 1 && n->kind != DW_PROMQL_NUMBER && n->kind != DW_PROMQL_STRING)
        return eval_invariant(q, n, g, out);
    switch (n->kind) {
    case DW_PROMQL_NUMBER: return eval_number(q, n->u.number, g, out);
    case DW_PROMQL_STRING:
        out->type = DW_PROMQL_TYPE_STRING;
        out->str = n->u.string.value;
        return 0;
    case DW_PROMQL_PAREN: return ev_eval(q, n->u.paren, g, out);
    case DW_PROMQL_VECTOR_SELECTOR: return ev_vector_selector(q, n, g, false, out);
    case DW_PROMQL_UNARY: return eval_unary(q, n, g, out);
    case DW_PROMQL_BINARY: return ev_binary(q, n, g, out);
    case DW_PROMQL_CALL: return ev_call(q, n, g, out);
    case DW_PROMQL_AGGREGATE: return ev_aggregate(q, n, g, out);
    case DW_PROMQL_MATRIX_SELECTOR:
    case DW_PROMQL_SUBQUERY: break;
    }
    return ev_fail(q, DW_PROMQL_EEXEC, "a range vector can only be a function argument here");
}

/* ---- results ---- */

void ev_result_add(struct dw_promql_result *r, const struct lset *ls,
                   const struct dw_promql_point *pts, size_t n)
{
    if ((r->nseries & (r->nseries - 1)) == 0) /* 0, 1, 2, 4, ...: double the array */
        r->series = dw_realloc(r->series, (r->nseries ? r->nseries * 2 : 1) * sizeof *r->series);
    struct dw_promql_series *s = &r->series[r->nseries++];
    /* One block for the label array and its strings. */
    size_t bytes = ls->n * sizeof(struct dw_label);
    for (uint32_t i = 0; i < ls->n; i++)
        bytes += strlen(ls->l[i].name) + strlen(ls->l[i].value) + 2;
    s->labels = dw_malloc(bytes ? bytes : 1);
    char *p = (char *)(s->labels + ls->n);
    for (uint32_t i = 0; i < ls->n; i++) {
        size_t a = strlen(ls->l[i].name) + 1, b = strlen(ls->l[i].value) + 1;
        memcpy(p, ls->l[i].name, a);
        s->labels[i].name = p;
        memcpy(p + a, ls->l[i].value, b);
        s->labels[i].value = p + a;
        p += a + b;
    }
    s->nlabels = ls->n;
    s->points = dw_malloc((n ? n : 1) * sizeof *s->points);
    if (n)
        memcpy(s->points, pts, n * sizeof *pts);
    s->npoints = n;
}

static int ser_order(const void *a, const void *b)
{
    return ls_cmp(((const struct ser *)a)->ls, ((const struct ser *)b)->ls);
}

static void result_from_val(struct evq *q, struct val *v, const struct grid *g,
                            struct dw_promql_result *r)
{
    if (v->type == DW_PROMQL_TYPE_STRING) {
        r->type = DW_PROMQL_TYPE_STRING;
        r->string = dw_strdup(v->str);
        r->string_t = g->start;
        return;
    }
    if (v->type == DW_PROMQL_TYPE_SCALAR && !q->range) {
        r->type = DW_PROMQL_TYPE_SCALAR;
        r->scalar.t = g->start;
        r->scalar.v = v->sc[0];
        return;
    }
    struct dw_promql_point *pts = dw_malloc((size_t)(g->n ? g->n : 1) * sizeof *pts);
    if (v->type == DW_PROMQL_TYPE_SCALAR) {
        for (int32_t i = 0; i < g->n; i++)
            pts[i] = (struct dw_promql_point){grid_t(g, i), v->sc[i]};
        ev_result_add(r, ls_empty(q), pts, (size_t)g->n);
    } else {
        if (q->range && v->vec.n > 1)
            qsort(v->vec.s, v->vec.n, sizeof *v->vec.s, ser_order);
        for (size_t i = 0; i < v->vec.n; i++) {
            const struct ser *s = &v->vec.s[i];
            size_t k = 0;
            for (int32_t j = s->lo; j < s->hi; j++)
                if (!ev_is_absent(s->v[j - s->lo]))
                    pts[k++] = (struct dw_promql_point){grid_t(g, j), s->v[j - s->lo]};
            if (k)
                ev_result_add(r, s->ls, pts, k);
        }
    }
    free(pts);
    r->type = q->range ? DW_PROMQL_TYPE_MATRIX : DW_PROMQL_TYPE_VECTOR;
}

void dw_promql_result_free(struct dw_promql_result **r)
{
    if (!r || !*r)
        return;
    struct dw_promql_result *x = *r;
    for (size_t i = 0; i < x->nseries; i++) {
        free(x->series[i].labels);
        free(x->series[i].points);
    }
    free(x->series);
    for (size_t i = 0; i < x->nwarnings; i++)
        free(x->warnings[i]);
    free(x->warnings);
    free(x->string);
    free(x);
    *r = NULL;
}

/* ---- queries ---- */

static void query_init(struct evq *q, const struct dw_promql_storage *st,
                       const struct dw_promql_eval_opts *o)
{
    static const struct dw_promql_eval_opts defaults;
    if (!o)
        o = &defaults;
    memset(q, 0, sizeof *q);
    q->st = st;
    q->lookback = o->lookback_ms > 0 ? o->lookback_ms : DW_PROMQL_DEFAULT_LOOKBACK_MS;
    q->sq_step = o->subquery_step_ms > 0 ? o->subquery_step_ms : DW_PROMQL_DEFAULT_SUBQUERY_STEP_MS;
    q->max_samples = o->max_samples ? o->max_samples : DW_PROMQL_DEFAULT_MAX_SAMPLES;
    int64_t timeout = o->timeout_ms ? o->timeout_ms : DW_PROMQL_DEFAULT_TIMEOUT_MS;
    if (timeout > 0)
        q->deadline_ns =
            ev_add(dw_mono_ns(), timeout > INT64_MAX / 1000000 ? INT64_MAX : timeout * 1000000);
    q->cancel = o->cancel;
    q->sinfo.raw_min_ms = INT64_MIN;
    if (st && st->ops->info)
        st->ops->info(st->ctx, &q->sinfo);
}

static int query_finish(struct evq *q, int rc, struct dw_promql_result *r,
                        struct dw_promql_result **out, char **err)
{
    if (rc < 0 && !q->err_code)
        ev_fail(q, DW_PROMQL_EEXEC, "query failed");
    if (q->err_code) {
        dw_promql_result_free(&r);
        if (err)
            *err = q->err_msg;
        else
            free(q->err_msg);
        q->err_msg = NULL;
        for (size_t i = 0; i < q->nwarnings; i++)
            free(q->warnings[i]);
        free(q->warnings);
    } else {
        r->warnings = q->warnings;
        r->nwarnings = q->nwarnings;
        r->peak_samples = q->peak_samples;
        *out = r;
        if (err)
            *err = NULL;
    }
    ev_memory_release(q);
    return q->err_code;
}

static int run(struct evq *q, const struct dw_promql_expr *e, const struct grid *g,
               struct dw_promql_result **out, char **err)
{
    *out = NULL;
    const struct dw_promql_node *root = dw_promql_root(e);
    struct dw_promql_result *r = dw_calloc(1, sizeof *r);
    int rc = 0;
    if (root->depth > EV_MAX_DEPTH) {
        rc = ev_fail(q, DW_PROMQL_EBAD, "query nesting too deep to evaluate (limit %u)",
                     EV_MAX_DEPTH);
    } else if (!q->range && root->type == DW_PROMQL_TYPE_MATRIX) {
        rc = ev_matrix_result(q, root, g->start, r);
        r->type = DW_PROMQL_TYPE_MATRIX;
    } else {
        struct val v;
        rc = ev_eval(q, root, g, &v);
        if (rc == 0)
            result_from_val(q, &v, g, r);
    }
    return query_finish(q, rc, r, out, err);
}

int dw_promql_eval_instant(const struct dw_promql_storage *storage, const struct dw_promql_expr *e,
                           int64_t t_ms, const struct dw_promql_eval_opts *opts,
                           struct dw_promql_result **out, char **err)
{
    struct evq q;
    query_init(&q, storage, opts);
    q.start = q.end = t_ms;
    q.step = 0;
    struct grid g = {t_ms, t_ms, 1, 1, 0};
    return run(&q, e, &g, out, err);
}

/* "11,000" */
static void format_thousands(size_t v, char *buf, size_t size)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%zu", v);
    size_t k = 0;
    for (int i = 0; i < n && k + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[k++] = ',';
        buf[k++] = tmp[i];
    }
    buf[k] = '\0';
}

int dw_promql_eval_range(const struct dw_promql_storage *storage, const struct dw_promql_expr *e,
                         int64_t start_ms, int64_t end_ms, int64_t step_ms,
                         const struct dw_promql_eval_opts *opts, struct dw_promql_result **out,
                         char **err)
{
    struct evq q;
    query_init(&q, storage, opts);
    q.start = start_ms;
    q.end = end_ms;
    q.step = step_ms;
    q.range = true;
    size_t max_points = opts && opts->max_points ? opts->max_points : DW_PROMQL_DEFAULT_MAX_POINTS;
    if (max_points > INT32_MAX / 2)
        max_points = INT32_MAX / 2;
    enum dw_promql_type t = dw_promql_root(e)->type;
    *out = NULL;
    if (step_ms <= 0) {
        ev_fail(&q, DW_PROMQL_EBAD,
                "zero or negative query resolution step widths are not "
                "accepted. Try a positive integer");
    } else if (end_ms < start_ms) {
        ev_fail(&q, DW_PROMQL_EBAD, "end timestamp must not be before start time");
    } else if (((uint64_t)end_ms - (uint64_t)start_ms) / (uint64_t)step_ms > max_points) {
        char num[32];
        format_thousands(max_points, num, sizeof num);
        ev_fail(&q, DW_PROMQL_EBAD,
                "exceeded maximum resolution of %s points per timeseries. Try decreasing the "
                "query resolution (?step=XX)",
                num);
    } else if (t != DW_PROMQL_TYPE_SCALAR && t != DW_PROMQL_TYPE_VECTOR) {
        ev_fail(&q, DW_PROMQL_EBAD,
                "invalid expression type \"%s\" for range query, must be Scalar or instant Vector",
                dw_promql_type_name(t));
    }
    if (q.err_code) {
        int rc = q.err_code;
        if (err)
            *err = q.err_msg;
        else
            free(q.err_msg);
        return rc;
    }
    uint64_t span = (uint64_t)end_ms - (uint64_t)start_ms;
    struct grid g = {start_ms, end_ms, step_ms, (int32_t)(span / (uint64_t)step_ms + 1), step_ms};
    return run(&q, e, &g, out, err);
}
