/*
 * eval_select.c - reading series: instant-vector selectors, the range
 * argument of range functions (a range selector or a subquery), and range
 * vectors at the top of an instant query.
 *
 * DESIGN: every selector asks the storage once per query for the whole time
 * span its steps can see ([first step - lookback or range - offset, last
 * step - offset]), never once per step. An instant-vector selector then walks
 * each series' samples and the steps together: per step it keeps the latest
 * sample at or before the step's reference time and shows it when it is at
 * most `lookback` old and not a staleness marker (Prometheus 2.42: both ends
 * of the lookback window included). A range argument hands each series'
 * samples, markers removed, to the range function, which slides its window
 * over them (eval_rollup.c). A subquery evaluates its expression over its
 * own grid, aligned to multiples of its step from the epoch, and hands the
 * resulting points over the same way.
 *
 * Downsampled data: when a selection reaches back before the storage's
 * raw-retention boundary and the evaluation's step is at least one of the
 * storage's downsampled resolutions, the engine asks for the finest such
 * resolution whose data reaches back to the selection's start (else the one
 * reaching back furthest) in hints.resolution_ms; the storage then serves
 * downsampled samples where raw ones have aged out. The lookback is widened
 * to that resolution so every step still finds its sample.
 *
 * Loaded samples count against max_samples while a series is processed.
 * Runs on the query's thread, except that the rest of a big selection of a
 * range query is read ahead by a worker (struct reader, eval_prefetch.c).
 */
#include <stdlib.h>

#include "promql/eval_internal.h"

/* ---- storage access ---- */

static int64_t choose_resolution(const struct evq *q, int64_t mint, int64_t step)
{
    const struct dw_promql_storage_info *in = &q->sinfo;
    if (step <= 0 || mint >= in->raw_min_ms)
        return 0;
    int64_t best = 0, best_start = in->raw_min_ms;
    for (size_t i = 0; i < in->nresolutions; i++) { /* finest first */
        int64_t r = in->resolutions_ms[i];
        int64_t start = in->resolution_min_ms ? in->resolution_min_ms[i] : INT64_MIN;
        if (r <= 0 || r > step)
            continue;
        if (start <= mint)
            return r;
        if (start < best_start) {
            best = r;
            best_start = start;
        }
    }
    return best;
}

/* The resolution to read, with a warning so the user knows the data is coarser. */
static int64_t pick_resolution(struct evq *q, int64_t mint, int64_t step)
{
    int64_t r = choose_resolution(q, mint, step);
    if (r > 0) {
        char d[32];
        dw_format_duration(r, d, sizeof d);
        ev_warn(q, "raw samples have aged out: read data downsampled to %s", d);
    }
    return r;
}

static int do_select(struct evq *q, const struct dw_promql_vector_selector *vs,
                     const struct dw_promql_select_hints *h, struct dw_promql_series_set **out)
{
    *out = NULL;
    if (!q->st)
        return 0;
    char *err = NULL;
    if (q->st->ops->select(q->st->ctx, vs->matchers, vs->nmatchers, h, out, &err) < 0 || !*out) {
        ev_fail(q, DW_PROMQL_ESTORAGE, "expanding series: %s", err ? err : "storage error");
        free(err);
        return -1;
    }
    return 0;
}

/* Closes the set; turns an iteration error into the query's error. */
static int finish_select(struct evq *q, struct dw_promql_series_set *ss, int rc)
{
    if (!ss)
        return rc;
    const char *msg = ss->ops->err ? ss->ops->err(ss) : NULL;
    if (msg && rc == 0)
        rc = ev_fail(q, DW_PROMQL_ESTORAGE, "expanding series: %s", msg);
    ss->ops->close(ss);
    return rc;
}

/* ---- reading one series ---- */

static void samples_reserve(struct evq *q, struct samples *s, size_t need)
{
    if (need <= s->cap)
        return;
    while (s->cap < need)
        s->cap = s->cap ? s->cap * 2 : 512;
    s->t = ev_realloc(q, s->t, s->cap * sizeof *s->t);
    s->v = ev_realloc(q, s->v, s->cap * sizeof *s->v);
}

static void samples_push(struct evq *q, struct samples *s, int64_t t, double v)
{
    samples_reserve(q, s, s->n + 1);
    s->t[s->n] = t;
    s->v[s->n] = v;
    s->n++;
}

static void samples_release(struct evq *q, struct samples *s)
{
    ev_free(q, s->t);
    ev_free(q, s->v);
    memset(s, 0, sizeof *s);
}

/*
 * The current series' samples in [mint, maxt], in strictly increasing time,
 * NaNs canonicalised; staleness markers kept (instant selectors need them)
 * or dropped (range functions ignore them).
 */
static void read_series(struct evq *q, struct dw_promql_series_set *ss, int64_t mint, int64_t maxt,
                        bool keep_stale, struct samples *s)
{
    s->n = 0;
    if (ss->ops->sample_read) {
        for (;;) {
            samples_reserve(q, s, s->n + 256);
            size_t k =
                ss->ops->sample_read(ss, mint, maxt, s->t + s->n, s->v + s->n, s->cap - s->n);
            if (k == 0)
                break;
            s->n += k;
        }
    } else {
        int64_t t;
        double v;
        for (bool ok = ss->ops->sample_seek(ss, mint, &t, &v); ok && t <= maxt;
             ok = ss->ops->sample_next(ss, &t, &v))
            samples_push(q, s, t, v);
    }
    s->n = ev_samples_clean(s->t, s->v, s->n, mint, maxt, keep_stale);
}

size_t ev_samples_clean(int64_t *t, double *v, size_t n, int64_t mint, int64_t maxt,
                        bool keep_stale)
{
    /* Storages may hand out more than asked, out of order, or markers: check all
     * in one branch-light pass and filter only when something is off. */
    bool clean = n == 0 || (t[0] >= mint && t[n - 1] <= maxt);
    for (size_t i = 1; i < n; i++)
        clean &= t[i] > t[i - 1];
    for (size_t i = 0; i < n; i++)
        clean &= !isnan(v[i]);
    if (clean)
        return n;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t ti = t[i];
        double vi = v[i];
        if (ti < mint || ti > maxt || (k > 0 && ti <= t[k - 1]))
            continue;
        if (ev_is_stale(vi) && !keep_stale)
            continue;
        t[k] = ti;
        v[k] = ev_is_stale(vi) ? vi : ev_canon(vi);
        k++;
    }
    return k;
}

/*
 * A selection's series, read in this thread at first; once a range query's
 * selection has shown it is big (PREFETCH_AFTER samples), the rest is read
 * ahead by a worker (eval_prefetch.c) while this thread computes. Small
 * selections and instant queries, where there is little to overlap, never
 * pay for the hand-over.
 */
#define PREFETCH_MIN_STEPS 16
#define PREFETCH_AFTER 32768

struct reader {
    struct dw_promql_series_set *ss;
    struct ev_prefetch *pf;
    int64_t mint, maxt;
    bool keep_stale, may_prefetch;
    size_t read_here; /* samples read in this thread so far */
    struct samples own, got;
    const struct dw_label *l; /* the current series' labels */
    size_t nl;
};

static void reader_init(struct reader *r, struct dw_promql_series_set *ss, const struct grid *g,
                        int64_t mint, int64_t maxt, bool keep_stale)
{
    memset(r, 0, sizeof *r);
    r->ss = ss;
    r->mint = mint;
    r->maxt = maxt;
    r->keep_stale = keep_stale;
    r->may_prefetch = g->n >= PREFETCH_MIN_STEPS;
}

/* The next series into *s (valid until the next call); false at the end. */
static bool reader_next(struct evq *q, struct reader *r, const struct samples **s)
{
    if (!r->ss)
        return false;
    if (!r->pf && r->may_prefetch && r->read_here >= PREFETCH_AFTER) {
        r->may_prefetch = false;
        r->pf = ev_prefetch_start(q, r->ss, r->mint, r->maxt, r->keep_stale);
    }
    if (r->pf) {
        *s = &r->got;
        return ev_prefetch_next(r->pf, &r->l, &r->nl, &r->got);
    }
    if (!r->ss->ops->next(r->ss))
        return false;
    read_series(q, r->ss, r->mint, r->maxt, r->keep_stale, &r->own);
    r->read_here += r->own.n;
    r->l = r->ss->ops->labels(r->ss, &r->nl);
    *s = &r->own;
    return true;
}

/* Stops the worker, closes the set; returns rc or the first error. */
static int reader_end(struct evq *q, struct reader *r, int rc)
{
    if (ev_prefetch_end(q, &r->pf) < 0 && rc == 0)
        rc = -1;
    samples_release(q, &r->own);
    return finish_select(q, r->ss, rc);
}

/* ---- instant-vector selectors ---- */

static void walk_steps(const struct samples *s, const struct window *w, const struct grid *g,
                       int64_t lookback, bool timestamps, double *dense)
{
    size_t i = 0;
    bool have = false;
    int64_t lt = 0;
    double lv = 0;
    for (int32_t k = 0; k < g->n; k++) {
        int64_t ref = win_ref(w, g, k);
        while (i < s->n && s->t[i] <= ref) {
            lt = s->t[i];
            lv = s->v[i];
            have = true;
            i++;
        }
        if (have && lt >= ev_sub(ref, lookback) && !ev_is_stale(lv))
            dense[k] = timestamps ? (double)lt / 1000 : lv;
        else
            dense[k] = ev_absent();
    }
}

int ev_vector_selector(struct evq *q, const struct dw_promql_node *n, const struct grid *g,
                       bool timestamps, struct val *out)
{
    const struct dw_promql_vector_selector *vs = &n->u.vs;
    memset(out, 0, sizeof *out);
    out->type = DW_PROMQL_TYPE_VECTOR;
    if (g->n <= 0)
        return 0;
    struct window w = {vs->at != DW_PROMQL_AT_NONE, ev_at_time(q, vs->at, vs->at_ms), vs->offset_ms,
                       0};
    int64_t first = win_ref(&w, g, 0), last = win_ref(&w, g, g->n - 1);
    int64_t res = pick_resolution(q, ev_sub(first, q->lookback), g->hint_step);
    int64_t lookback = res > q->lookback ? res : q->lookback;
    struct dw_promql_select_hints h = {ev_sub(first, lookback), last, g->hint_step, 0, NULL, res};
    struct dw_promql_series_set *ss;
    if (do_select(q, vs, &h, &ss) < 0)
        return -1;
    struct reader rd;
    reader_init(&rd, ss, g, h.start_ms, h.end_ms, true);
    const struct samples *cur;
    int rc = 0;
    while (rc == 0 && reader_next(q, &rd, &cur)) {
        double *dense = ev_scratch(q, g->n);
        if (ev_check(q) < 0 || !dense || ev_count(q, cur->n) < 0) {
            rc = -1;
            break;
        }
        walk_steps(cur, &w, g, lookback, timestamps, dense);
        ev_uncount(q, cur->n);
        struct ser *s = vec_push(q, &out->vec);
        rc = ser_from_dense(q, s, dense, g->n);
        if (s->v)
            s->ls = ls_copy(q, rd.l, rd.nl);
        else
            out->vec.n--;
    }
    return reader_end(q, &rd, rc);
}

/* ---- range arguments ---- */

/* Hands one series to fn with its samples counted as held. */
static int deliver(struct evq *q, ev_series_fn fn, void *ctx, const struct lset *ls,
                   const struct samples *s)
{
    if (s->n == 0)
        return 0;
    if (ev_count(q, s->n) < 0)
        return -1;
    int rc = fn(q, ctx, ls, s);
    ev_uncount(q, s->n);
    return rc;
}

static int range_selector(struct evq *q, const struct dw_promql_node *arg, const struct grid *g,
                          const char *func, struct window *w, ev_series_fn fn, void *ctx)
{
    const struct dw_promql_vector_selector *vs = &arg->u.ms.vs->u.vs;
    *w = (struct window){vs->at != DW_PROMQL_AT_NONE, ev_at_time(q, vs->at, vs->at_ms),
                         vs->offset_ms, arg->u.ms.range_ms};
    if (g->n <= 0)
        return 0;
    int64_t mint = ev_sub(win_ref(w, g, 0), w->range), maxt = win_ref(w, g, g->n - 1);
    struct dw_promql_select_hints h = {mint,     maxt, g->hint_step,
                                       w->range, func, pick_resolution(q, mint, g->hint_step)};
    struct dw_promql_series_set *ss;
    if (do_select(q, vs, &h, &ss) < 0)
        return -1;
    struct reader rd;
    reader_init(&rd, ss, g, mint, maxt, false);
    const struct samples *s;
    int rc = 0;
    while (rc == 0 && reader_next(q, &rd, &s)) {
        if ((rc = ev_check(q)) == 0 && s->n)
            rc = deliver(q, fn, ctx, ls_copy(q, rd.l, rd.nl), s);
    }
    return reader_end(q, &rd, rc);
}

/* The first multiple of step at or after x (Prometheus aligns subquery steps to the epoch). */
static int64_t align_up(int64_t x, int64_t step)
{
    int64_t r = x % step;
    if (r == 0)
        return x;
    return x > 0 ? ev_add(x - r, step) : x - r;
}

static int subquery(struct evq *q, const struct dw_promql_node *arg, const struct grid *g,
                    struct window *w, ev_series_fn fn, void *ctx)
{
    const struct dw_promql_subquery *sq = &arg->u.sq;
    *w = (struct window){sq->at != DW_PROMQL_AT_NONE, ev_at_time(q, sq->at, sq->at_ms),
                         sq->offset_ms, sq->range_ms};
    if (g->n <= 0)
        return 0;
    int64_t step = sq->step_ms > 0 ? sq->step_ms : q->sq_step;
    struct grid in = {0};
    in.step = in.hint_step = step;
    in.start = align_up(ev_sub(win_ref(w, g, 0), w->range), step);
    in.end = win_ref(w, g, g->n - 1);
    if (in.end < in.start)
        return 0;
    uint64_t steps = ((uint64_t)in.end - (uint64_t)in.start) / (uint64_t)step + 1;
    if (steps > q->max_samples || steps > INT32_MAX)
        return ev_fail(q, DW_PROMQL_ETOOMANY,
                       "query processing would load too many samples into memory in query "
                       "execution");
    in.n = (int32_t)steps;
    struct val v;
    if (ev_eval(q, sq->expr, &in, &v) < 0)
        return -1;
    struct samples s = {0};
    int rc = 0;
    for (size_t i = 0; i < v.vec.n && rc == 0; i++) {
        struct ser *x = &v.vec.s[i];
        s.n = 0;
        for (int32_t j = x->lo; j < x->hi; j++)
            if (!ev_is_absent(x->v[j - x->lo]))
                samples_push(q, &s, grid_t(&in, j), x->v[j - x->lo]);
        /* The points now live in s: give back the series' own memory first. */
        ser_release(q, x);
        if ((rc = ev_check(q)) == 0)
            rc = deliver(q, fn, ctx, x->ls, &s);
    }
    samples_release(q, &s);
    val_release(q, &v);
    return rc;
}

int ev_range_arg(struct evq *q, const struct dw_promql_node *arg, const struct grid *g,
                 const char *func, struct window *w, ev_series_fn fn, void *ctx)
{
    arg = ev_unparen(arg);
    if (arg->kind == DW_PROMQL_MATRIX_SELECTOR)
        return range_selector(q, arg, g, func, w, fn, ctx);
    if (arg->kind == DW_PROMQL_SUBQUERY)
        return subquery(q, arg, g, w, fn, ctx);
    return ev_fail(q, DW_PROMQL_EEXEC, "expected a range vector argument");
}

const struct dw_promql_vector_selector *ev_selector_of(const struct dw_promql_node *n)
{
    n = ev_unparen(n);
    if (n->kind == DW_PROMQL_VECTOR_SELECTOR)
        return &n->u.vs;
    if (n->kind == DW_PROMQL_MATRIX_SELECTOR)
        return &n->u.ms.vs->u.vs;
    return NULL;
}

/* ---- a range vector as the result of an instant query ---- */

struct matrix_ctx {
    struct dw_promql_result *r;
    const struct window *w;
    int64_t ref;
};

static int matrix_series(struct evq *q, void *ctx, const struct lset *ls, const struct samples *s)
{
    struct matrix_ctx *m = ctx;
    struct dw_promql_point *pts = ev_alloc(q, s->n * sizeof *pts);
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->t[i] >= ev_sub(m->ref, m->w->range) && s->t[i] <= m->ref)
            pts[k++] = (struct dw_promql_point){s->t[i], s->v[i]};
    if (k)
        ev_result_add(m->r, ls, pts, k);
    ev_free(q, pts);
    return 0;
}

int ev_matrix_result(struct evq *q, const struct dw_promql_node *n, int64_t t,
                     struct dw_promql_result *r)
{
    struct grid g = {t, t, 1, 1, 0};
    struct window w;
    struct matrix_ctx m = {r, &w, 0};
    /* The window is only known once the argument is read: compute ref lazily. */
    const struct dw_promql_node *a = ev_unparen(n);
    if (a->kind == DW_PROMQL_MATRIX_SELECTOR) {
        const struct dw_promql_vector_selector *vs = &a->u.ms.vs->u.vs;
        m.ref = ev_sub(vs->at != DW_PROMQL_AT_NONE ? ev_at_time(q, vs->at, vs->at_ms) : t,
                       vs->offset_ms);
    } else if (a->kind == DW_PROMQL_SUBQUERY) {
        const struct dw_promql_subquery *sq = &a->u.sq;
        m.ref = ev_sub(sq->at != DW_PROMQL_AT_NONE ? ev_at_time(q, sq->at, sq->at_ms) : t,
                       sq->offset_ms);
    }
    return ev_range_arg(q, n, &g, NULL, &w, matrix_series, &m);
}
