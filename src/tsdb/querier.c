/*
 * querier.c - reading: queriers over a time range, series sets merged from
 * the head and registered sources (blocks; sources.c), sample iterators with seek,
 * label name and value listing, and the head "cut" for the block writer.
 *
 * DESIGN
 * A querier pins what it reads: it is a reclamation holder (series, chunks
 * and label strings of the head stay valid until it is freed, whatever
 * truncation does meanwhile), it remembers the highest series id at
 * creation (later series are invisible) and it opens a view of every
 * source whose time range overlaps its own (sources.c: atomically with
 * block registration; with a resolution also rollup views of the
 * downsampled blocks before the oldest raw sample).
 *
 * select() evaluates the matchers on the head's index (index.c), keeps the
 * series with samples in range and sorts them by labels; each source
 * returns its own sorted cursor. The set merges these cursors like a
 * k-way merge on labels: the series with equal labels in several sources
 * become one series whose iterator merges their samples by timestamp,
 * dropping duplicates (the first source wins: the head, then sources in
 * registration order).
 *
 * Iterators pull samples a chunk at a time: the head decodes one chunk
 * into the cursor's arrays (head.c), a block source hands out its decoded
 * chunk. A seek asks every source for the first chunk that can hold the
 * target, so whole chunks are skipped without decoding, then bisects
 * within the chunk. With one source (the common case) no merging work is
 * done.
 *
 * Threads: one querier, set or iterator per thread at a time; any number
 * of queriers run in parallel with appenders.
 */
#include <stdlib.h>
#include <string.h>

#include "tsdb/head_internal.h"
#include "tsdb/tsdb.h"

struct dw_tsdb_querier {
    struct dw_tsdb *db;
    struct dw_head *head;
    int64_t mint, maxt;
    struct dw_holder holder;
    uint32_t id_limit;          /* series created after the querier are not seen */
    struct dw_tsdb_sources src; /* views of blocks (sources.c) */
};

/* One contributor to the current series: the head or a source cursor. */
struct sub {
    bool is_head;
    struct dw_head_chunk_cursor *hc; /* head: decoding arrays (owned by the set) */
    const struct dw_tsdb_source_ops *ops;
    void *cur; /* source cursor */
    const int64_t *t;
    const double *v;
    size_t n, i;   /* samples in the batch, next one to return */
    int64_t floor; /* the next batch must hold samples >= floor */
    bool done;
};

struct dw_tsdb_iter {
    int64_t mint, maxt;
    struct sub *subs;
    size_t nsubs;
    int err;
    bool has_cur, ended;
    int64_t cur_t;
    double cur_v;
};

/* A source's cursor within a set. */
struct scur {
    const struct dw_tsdb_source_ops *ops;
    void *cur;
    bool valid;  /* positioned on a series */
    bool member; /* part of the current merged series */
};

struct dw_tsdb_series_set {
    struct dw_tsdb_querier *q;
    struct dw_idlist ids; /* head series, sorted by labels */
    size_t hpos;          /* the head's current series: ids.ids[hpos] */
    bool head_member;     /* it is part of the current merged series */
    struct dw_label *hlab;
    size_t hlabcap;
    struct scur *scurs;
    size_t nscurs;
    const struct dw_label *lab;
    size_t nlab;
    struct dw_head_chunk_cursor *hc;
    struct dw_tsdb_iter it;
    int err;
    bool started;
};

/* ---- querier ---- */

struct dw_tsdb_querier *dw_tsdb_querier_new_opts(struct dw_tsdb *db, int64_t mint, int64_t maxt,
                                                 const struct dw_tsdb_read_opts *o)
{
    struct dw_tsdb_querier *q = dw_calloc(1, sizeof *q);
    q->db = db;
    q->head = dw_tsdb_head_of(db);
    q->mint = mint;
    q->maxt = maxt;
    dw_reclaim_enter(&q->head->reclaim, &q->holder);
    pthread_rwlock_rdlock(&q->head->ix.lock);
    q->id_limit = q->head->next_id;
    pthread_rwlock_unlock(&q->head->ix.lock);
    dw_tsdb_sources_open(db, mint, maxt, o, &q->src);
    return q;
}

struct dw_tsdb_querier *dw_tsdb_querier_new(struct dw_tsdb *db, int64_t mint, int64_t maxt)
{
    return dw_tsdb_querier_new_opts(db, mint, maxt, NULL);
}

void dw_tsdb_querier_free(struct dw_tsdb_querier **qp)
{
    if (!qp || !*qp)
        return;
    struct dw_tsdb_querier *q = *qp;
    dw_tsdb_sources_close(q->db, &q->src);
    dw_reclaim_exit(&q->head->reclaim, &q->holder);
    free(q);
    *qp = NULL;
}

/* ---- iterator ---- */

/* Loads the next batch of a sub holding samples >= floor; false when the series ends. */
static bool sub_fill(struct dw_tsdb_iter *it, struct sub *s)
{
    while (!s->done) {
        size_t n = 0;
        bool ok;
        if (s->is_head) {
            ok = dw_head_cursor_next(s->hc, s->floor, &n);
            s->t = s->hc->t;
            s->v = s->hc->v;
            if (!ok && s->hc->err && !it->err)
                it->err = s->hc->err;
        } else {
            ok = s->ops->chunk(s->cur, s->floor, &s->t, &s->v, &n);
            if (!ok && s->ops->err(s->cur) && !it->err)
                it->err = s->ops->err(s->cur);
        }
        if (!ok) {
            s->done = true;
            break;
        }
        if (n == 0 || s->t[n - 1] < s->floor)
            continue;
        s->n = n;
        s->i = 0;
        /* First sample >= floor by bisection. */
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (s->t[mid] < s->floor)
                lo = mid + 1;
            else
                hi = mid;
        }
        s->i = lo;
        return true;
    }
    return false;
}

/* The sub's next sample time (loading batches as needed); false at its end. */
static bool sub_peek(struct dw_tsdb_iter *it, struct sub *s, int64_t *t)
{
    if (s->i >= s->n && !sub_fill(it, s))
        return false;
    *t = s->t[s->i];
    return true;
}

static void sub_seek(struct dw_tsdb_iter *it, struct sub *s, int64_t t)
{
    if (s->done)
        return;
    if (s->i < s->n && s->t[s->n - 1] >= t) {
        size_t lo = s->i, hi = s->n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (s->t[mid] < t)
                lo = mid + 1;
            else
                hi = mid;
        }
        s->i = lo;
        return;
    }
    /* The rest of this batch is before t: let the source skip whole chunks. */
    s->i = s->n;
    if (t > s->floor)
        s->floor = t;
    sub_fill(it, s);
}

static bool iter_step(struct dw_tsdb_iter *it, int64_t *t, double *v)
{
    if (it->ended || it->err)
        return false;
    if (it->nsubs == 1) {
        /* One source (the common case of a range inside one block): no merge. */
        struct sub *s = &it->subs[0];
        if ((s->i >= s->n && !sub_fill(it, s)) || s->t[s->i] > it->maxt || it->err) {
            it->ended = true;
            it->has_cur = false;
            return false;
        }
        it->cur_t = s->t[s->i];
        it->cur_v = s->v[s->i];
        s->i++;
        s->floor = it->cur_t + 1;
        it->has_cur = true;
        *t = it->cur_t;
        *v = it->cur_v;
        return true;
    }
    int64_t best = INT64_MAX;
    struct sub *win = NULL;
    for (size_t i = 0; i < it->nsubs; i++) {
        int64_t ts;
        if (sub_peek(it, &it->subs[i], &ts) && ts < best) {
            best = ts;
            win = &it->subs[i];
        }
    }
    if (!win || best > it->maxt || it->err) {
        it->ended = true;
        it->has_cur = false;
        return false;
    }
    it->cur_t = best;
    it->cur_v = win->v[win->i];
    /* Every source holding this timestamp moves past it: duplicates vanish. */
    for (size_t i = 0; i < it->nsubs; i++) {
        struct sub *s = &it->subs[i];
        if (s->i < s->n && s->t[s->i] == best) {
            s->i++;
            s->floor = best + 1;
        }
    }
    it->has_cur = true;
    *t = it->cur_t;
    *v = it->cur_v;
    return true;
}

bool dw_tsdb_iter_next(struct dw_tsdb_iter *it, int64_t *t, double *v)
{
    return iter_step(it, t, v);
}

bool dw_tsdb_iter_seek(struct dw_tsdb_iter *it, int64_t t, int64_t *ts, double *v)
{
    if (it->has_cur && it->cur_t >= t) {
        *ts = it->cur_t;
        *v = it->cur_v;
        return true;
    }
    if (it->ended || it->err)
        return false;
    if (t > it->maxt) {
        it->ended = true;
        it->has_cur = false;
        return false;
    }
    for (size_t i = 0; i < it->nsubs; i++)
        sub_seek(it, &it->subs[i], t);
    return iter_step(it, ts, v);
}

int dw_tsdb_iter_err(const struct dw_tsdb_iter *it)
{
    return it->err;
}

static void iter_reset(struct dw_tsdb_iter *it, int64_t mint, int64_t maxt)
{
    it->mint = mint;
    it->maxt = maxt;
    it->nsubs = 0;
    it->err = 0;
    it->has_cur = false;
    it->ended = false;
}

static struct sub *iter_add(struct dw_tsdb_iter *it)
{
    struct sub *s = &it->subs[it->nsubs++];
    memset(s, 0, sizeof *s);
    s->floor = it->mint;
    return s;
}

/* ---- series sets ---- */

static const char *series_value_cb(void *ctx, uint32_t id, uint32_t name)
{
    struct dw_head *h = ctx;
    struct dw_series *s = dw_head_series(h, id);
    const uint8_t *p = s ? s->labels : NULL;
    for (size_t i = 0; s && i < s->nlabels; i++) {
        uint32_t ns, vs;
        p = dw_series_syms_next(dw_series_syms_next(p, &ns), &vs);
        if (ns == name)
            return dw_index_str(&h->ix, vs);
    }
    return "";
}

/* Head series matching ms with samples in [mint, maxt], sorted by labels. */
static void head_select(struct dw_tsdb_querier *q, struct dw_tsdb_matcher *const *ms, size_t n,
                        int64_t mint, int64_t maxt, struct dw_idlist *out)
{
    struct dw_head *h = q->head;
    struct dw_index_series_labels sl = {series_value_cb, h};
    pthread_rwlock_rdlock(&h->ix.lock);
    dw_index_select(&h->ix, ms, n, &sl, out);
    pthread_rwlock_unlock(&h->ix.lock);
    size_t k = 0;
    for (size_t i = 0; i < out->n; i++) {
        uint32_t id = out->ids[i];
        struct dw_series *s = id <= q->id_limit ? dw_head_series(h, id) : NULL;
        int64_t lo, hi;
        if (!s || atomic_load_explicit(&s->max_t, memory_order_relaxed) < mint)
            continue;
        if (dw_head_series_range(h, s, &lo, &hi) && lo <= maxt && hi >= mint)
            out->ids[k++] = id;
    }
    out->n = k;
    dw_head_sort_by_labels(h, out->ids, out->n);
}

struct dw_tsdb_series_set *dw_tsdb_select(struct dw_tsdb_querier *q,
                                          struct dw_tsdb_matcher *const *ms, size_t n)
{
    struct dw_tsdb_series_set *s = dw_calloc(1, sizeof *s);
    s->q = q;
    s->err = q->src.err; /* not loaded, bad read options: an empty set */
    if (!s->err)
        head_select(q, ms, n, q->mint, q->maxt, &s->ids);
    const struct dw_tsdb_view *views = q->src.views;
    s->scurs = dw_calloc(q->src.n ? q->src.n : 1, sizeof *s->scurs);
    for (size_t i = 0; i < q->src.n; i++) {
        void *cur = views[i].ops->select(views[i].v, ms, n);
        if (!cur) {
            s->err = DW_TSDB_EIO;
            continue;
        }
        s->scurs[s->nscurs++] = (struct scur){views[i].ops, cur, false, false};
    }
    s->it.subs = dw_calloc(1 + s->nscurs, sizeof *s->it.subs);
    s->hc = dw_malloc(sizeof *s->hc);
    return s;
}

void dw_tsdb_series_set_free(struct dw_tsdb_series_set **sp)
{
    if (!sp || !*sp)
        return;
    struct dw_tsdb_series_set *s = *sp;
    for (size_t i = 0; i < s->nscurs; i++)
        s->scurs[i].ops->cursor_free(s->scurs[i].cur);
    free(s->scurs);
    dw_idlist_release(&s->ids);
    free(s->hlab);
    free(s->it.subs);
    free(s->hc);
    free(s);
    *sp = NULL;
}

int dw_tsdb_series_set_err(const struct dw_tsdb_series_set *s)
{
    return s->err;
}

/* Moves every cursor that was part of the previous series to its next series. */
static void advance_members(struct dw_tsdb_series_set *s)
{
    bool first = !s->started;
    s->started = true;
    if (s->head_member)
        s->hpos++;
    for (size_t i = 0; i < s->nscurs; i++) {
        struct scur *c = &s->scurs[i];
        if (!first && !c->member)
            continue;
        c->valid = c->ops->next(c->cur);
        if (!c->valid && c->ops->err(c->cur) && !s->err)
            s->err = c->ops->err(c->cur);
    }
}

/* Labels of the head's current series (ids.ids[hpos]). */
static const struct dw_label *head_current(struct dw_tsdb_series_set *s, size_t *n)
{
    struct dw_series *se = dw_head_series(s->q->head, s->ids.ids[s->hpos]);
    if (se->nlabels > s->hlabcap)
        s->hlab = dw_grow(s->hlab, &s->hlabcap, se->nlabels, sizeof *s->hlab);
    dw_head_series_labels(s->q->head, se, s->hlab);
    *n = se->nlabels;
    return s->hlab;
}

static bool same(const struct dw_label *a, size_t na, const struct dw_label *b, size_t nb)
{
    return a == b || dw_tsdb_labels_cmp(a, na, b, nb) == 0;
}

bool dw_tsdb_series_set_next(struct dw_tsdb_series_set *s)
{
    advance_members(s);
    /* The smallest label set among the cursors; every cursor holding it joins. */
    const struct dw_label *min = NULL, *hl = NULL;
    size_t nmin = 0, nh = 0;
    bool head_valid = s->hpos < s->ids.n;
    if (head_valid) {
        min = hl = head_current(s, &nh);
        nmin = nh;
    }
    for (size_t i = 0; i < s->nscurs; i++) {
        struct scur *c = &s->scurs[i];
        size_t nl;
        const struct dw_label *l = c->valid ? c->ops->labels(c->cur, &nl) : NULL;
        if (l && (!min || dw_tsdb_labels_cmp(l, nl, min, nmin) < 0)) {
            min = l;
            nmin = nl;
        }
    }
    s->lab = min;
    s->nlab = nmin;
    s->head_member = head_valid && same(hl, nh, min, nmin);
    struct dw_tsdb_querier *q = s->q;
    iter_reset(&s->it, q->mint, q->maxt);
    if (s->head_member) {
        struct sub *sb = iter_add(&s->it);
        sb->is_head = true;
        sb->hc = s->hc;
        dw_head_cursor_begin(s->hc, q->head, dw_head_series(q->head, s->ids.ids[s->hpos]), q->maxt);
    }
    for (size_t i = 0; i < s->nscurs; i++) {
        struct scur *c = &s->scurs[i];
        size_t nl = 0;
        const struct dw_label *l = c->valid ? c->ops->labels(c->cur, &nl) : NULL;
        c->member = l && same(l, nl, min, nmin);
        if (c->member) {
            struct sub *sb = iter_add(&s->it);
            sb->ops = c->ops;
            sb->cur = c->cur;
        }
    }
    return min != NULL;
}

const struct dw_label *dw_tsdb_series_labels(struct dw_tsdb_series_set *s, size_t *n)
{
    *n = s->nlab;
    return s->lab;
}

struct dw_tsdb_iter *dw_tsdb_series_iter(struct dw_tsdb_series_set *s)
{
    return &s->it;
}

/* ---- label names and values ---- */

struct strset {
    const char **v;
    size_t n, cap;
};

static void strset_add(void *out, const char *str)
{
    struct strset *ss = out;
    if (ss->n == ss->cap)
        ss->v = dw_grow(ss->v, &ss->cap, ss->n + 1, sizeof *ss->v);
    ss->v[ss->n++] = str;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char **strset_finish(struct strset *ss, size_t *count)
{
    if (ss->n > 1)
        qsort(ss->v, ss->n, sizeof *ss->v, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < ss->n; i++)
        if (k == 0 || strcmp(ss->v[k - 1], ss->v[i]) != 0)
            ss->v[k++] = ss->v[i];
    *count = k;
    if (!ss->v)
        ss->v = dw_calloc(1, sizeof *ss->v);
    return ss->v;
}

/* True when the querier's range covers every sample of the head. */
static bool covers_head(struct dw_tsdb_querier *q)
{
    int64_t lo, hi;
    return !dw_tsdb_head_bounds(q->db, &lo, &hi) || (q->mint <= lo && q->maxt >= hi);
}

/* Adds label names (name_sym 0) or values of name_sym from the head to ss. */
static void head_strings(struct dw_tsdb_querier *q, uint32_t name_sym,
                         struct dw_tsdb_matcher *const *ms, size_t n, struct strset *ss)
{
    struct dw_head *h = q->head;
    struct dw_idlist syms = {0};
    if (n == 0 && covers_head(q)) {
        /* Straight from the index: every name or value listed has series. */
        pthread_rwlock_rdlock(&h->ix.lock);
        if (name_sym)
            dw_index_values(&h->ix, name_sym, &syms);
        else
            dw_index_names(&h->ix, &syms);
        pthread_rwlock_unlock(&h->ix.lock);
    } else {
        struct dw_idlist ids = {0};
        head_select(q, ms, n, q->mint, q->maxt, &ids);
        for (size_t i = 0; i < ids.n; i++) {
            struct dw_series *s = dw_head_series(h, ids.ids[i]);
            const uint8_t *p = s->labels;
            for (size_t j = 0; j < s->nlabels; j++) {
                uint32_t ns, vs;
                p = dw_series_syms_next(dw_series_syms_next(p, &ns), &vs);
                if (!name_sym)
                    dw_idlist_push(&syms, ns);
                else if (ns == name_sym)
                    dw_idlist_push(&syms, vs);
            }
        }
        dw_idlist_release(&ids);
        dw_idlist_sort(&syms);
    }
    for (size_t i = 0; i < syms.n; i++)
        if (i == 0 || syms.ids[i] != syms.ids[i - 1])
            strset_add(ss, dw_index_str(&h->ix, syms.ids[i]));
    dw_idlist_release(&syms);
}

static const char **list_strings(struct dw_tsdb_querier *q, const char *name,
                                 struct dw_tsdb_matcher *const *ms, size_t n, size_t *count)
{
    struct strset ss = {0};
    uint32_t name_sym = 0;
    bool head = true;
    if (name) {
        pthread_rwlock_rdlock(&q->head->ix.lock);
        name_sym = dw_index_lookup(&q->head->ix, name);
        pthread_rwlock_unlock(&q->head->ix.lock);
        head = name_sym != 0;
    }
    if (head && !q->src.err)
        head_strings(q, name_sym, ms, n, &ss);
    for (size_t i = 0; i < q->src.n; i++)
        q->src.views[i].ops->label_strings(q->src.views[i].v, name, ms, n, strset_add, &ss);
    return strset_finish(&ss, count);
}

const char **dw_tsdb_label_names(struct dw_tsdb_querier *q, struct dw_tsdb_matcher *const *ms,
                                 size_t n, size_t *count)
{
    return list_strings(q, NULL, ms, n, count);
}

const char **dw_tsdb_label_values(struct dw_tsdb_querier *q, const char *name,
                                  struct dw_tsdb_matcher *const *ms, size_t n, size_t *count)
{
    return list_strings(q, name, ms, n, count);
}

/* ---- head cut ---- */

int dw_tsdb_head_cut(struct dw_tsdb *db, int64_t mint, int64_t maxt,
                     int (*fn)(void *ctx, const struct dw_label *labels, size_t n,
                               struct dw_tsdb_iter *it),
                     void *ctx)
{
    if (maxt <= mint)
        return 0;
    struct dw_tsdb_querier *q = dw_tsdb_querier_new(db, mint, maxt - 1);
    struct dw_head *h = q->head;
    struct dw_idlist ids = {0};
    head_select(q, NULL, 0, mint, maxt - 1, &ids);
    struct dw_head_chunk_cursor *hc = dw_malloc(sizeof *hc);
    struct sub sub;
    struct dw_tsdb_iter it = {.subs = &sub};
    struct dw_label *lab = NULL;
    size_t labcap = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < ids.n; i++) {
        struct dw_series *s = dw_head_series(h, ids.ids[i]);
        lab = dw_grow(lab, &labcap, s->nlabels, sizeof *lab);
        dw_head_series_labels(h, s, lab);
        iter_reset(&it, mint, maxt - 1);
        struct sub *sb = iter_add(&it);
        sb->is_head = true;
        sb->hc = hc;
        dw_head_cursor_begin(hc, h, s, maxt - 1);
        rc = fn(ctx, lab, s->nlabels, &it);
    }
    free(lab);
    free(hc);
    dw_idlist_release(&ids);
    dw_tsdb_querier_free(&q);
    return rc;
}
