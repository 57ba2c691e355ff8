/*
 * memstorage.c - an in-memory storage behind the engine's storage
 * interface: the conformance runner, unit tests and the benchmark load into
 * it.
 *
 * DESIGN: each series keeps its sorted labels and two arrays (timestamps,
 * values) in time order; every float64 bit pattern is stored as given, the
 * staleness marker included. A hash index finds a series by its labels; the
 * series list is sorted by labels lazily, before the first selection after
 * a change, so selections list series in Prometheus's order. A sample at an
 * existing timestamp replaces the old one (what a .test `load` means).
 *
 * Aged-out raw data: set_raw_min() hides raw samples older than a boundary;
 * optional downsampled tiers (one per resolution) hold coarser samples. A
 * selection whose hints ask for a resolution sees that tier's samples before
 * the boundary followed by the raw samples after it, which is the contract
 * the tsdb's downsampled blocks are to follow.
 *
 * Threads: none of its own. Any number of queries may read at once (the
 * lazy sort is done under a mutex); adding must not run at the same time as
 * queries.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "promql/promql.h"

struct column {
    int64_t *t;
    double *v;
    size_t n, cap;
};

struct tier {
    int64_t res;
    struct column c;
};

struct mseries {
    struct dw_label *labels; /* sorted by name; one block with the strings */
    size_t nlabels;
    uint64_t hash;
    struct column raw;
    struct tier *tiers;
    size_t ntiers;
};

/* The series of one metric name, in label order (rebuilt with the sort). */
struct byname {
    const char *name;
    uint64_t hash;
    struct mseries **list;
    size_t n, cap;
};

struct dw_promql_memstorage {
    struct dw_promql_storage st;
    struct byname *names; /* open addressing by hash of the name, name NULL = empty */
    size_t ncap;
    struct mseries **series;
    size_t n, cap;
    struct mseries **index; /* open addressing by hash, NULL = empty */
    size_t icap;
    pthread_mutex_t sort_mu; /* concurrent queries may all find the list unsorted */
    bool sorted;
    int64_t raw_min;
    int64_t *res;     /* distinct tier resolutions, ascending */
    int64_t *res_min; /* the oldest sample of each tier */
    size_t nres;
    size_t nsamples;
};

/* ---- labels ---- */

static bool name_valid(const char *s)
{
    if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' ||
              (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

static int label_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dw_label *)a)->name, ((const struct dw_label *)b)->name);
}

static uint64_t labels_hash(const struct dw_label *l, size_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++) {
        for (const char *s = l[i].name; *s; s++)
            h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
        h = (h ^ 0xff) * UINT64_C(0x100000001b3);
        for (const char *s = l[i].value; *s; s++)
            h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
        h = (h ^ 0xfe) * UINT64_C(0x100000001b3);
    }
    return h ^ (h >> 29);
}

static uint64_t str_hash(const char *s)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
    return h ^ (h >> 29);
}

static void names_release(struct dw_promql_memstorage *m)
{
    for (size_t i = 0; i < m->ncap; i++)
        free(m->names[i].list);
    free(m->names);
    m->names = NULL;
    m->ncap = 0;
}

static struct byname *name_slot(struct dw_promql_memstorage *m, const char *name)
{
    if (!m->ncap)
        return NULL;
    uint64_t h = str_hash(name);
    size_t mask = m->ncap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask)
        if (!m->names[i].name || (m->names[i].hash == h && !strcmp(m->names[i].name, name)))
            return &m->names[i];
}

/* After sorting: every series under its metric name, in order. */
static void names_build(struct dw_promql_memstorage *m)
{
    names_release(m);
    m->ncap = 64;
    while (m->ncap < m->n * 2)
        m->ncap *= 2;
    m->names = dw_calloc(m->ncap, sizeof *m->names);
    for (size_t i = 0; i < m->n; i++) {
        struct mseries *s = m->series[i];
        const char *name = NULL;
        for (size_t k = 0; k < s->nlabels && !name; k++)
            if (!strcmp(s->labels[k].name, "__name__"))
                name = s->labels[k].value;
        if (!name)
            continue;
        struct byname *b = name_slot(m, name);
        if (!b->name) {
            b->name = name;
            b->hash = str_hash(name);
        }
        b->list = dw_grow(b->list, &b->cap, b->n + 1, sizeof *b->list);
        b->list[b->n++] = s;
    }
}

static bool labels_eq(const struct mseries *s, const struct dw_label *l, size_t n)
{
    if (s->nlabels != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(s->labels[i].name, l[i].name) || strcmp(s->labels[i].value, l[i].value))
            return false;
    return true;
}

static int series_cmp(const void *a, const void *b)
{
    const struct mseries *x = *(struct mseries *const *)a, *y = *(struct mseries *const *)b;
    size_t n = x->nlabels < y->nlabels ? x->nlabels : y->nlabels;
    for (size_t i = 0; i < n; i++) {
        int c = strcmp(x->labels[i].name, y->labels[i].name);
        if (!c)
            c = strcmp(x->labels[i].value, y->labels[i].value);
        if (c)
            return c;
    }
    return x->nlabels < y->nlabels ? -1 : x->nlabels > y->nlabels;
}

/* Sorted, empty values dropped, names valid and unique; -1 otherwise. */
static int normalize(const struct dw_label *in, size_t n, struct dw_label *out, size_t *nout)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!name_valid(in[i].name))
            return -1;
        if (in[i].value && in[i].value[0])
            out[k++] = in[i];
    }
    qsort(out, k, sizeof *out, label_cmp);
    for (size_t i = 1; i < k; i++)
        if (strcmp(out[i - 1].name, out[i].name) == 0)
            return -1;
    *nout = k;
    return k ? 0 : -1;
}

/* ---- the series index ---- */

static void index_put(struct dw_promql_memstorage *m, struct mseries *s)
{
    size_t mask = m->icap - 1;
    size_t i = (size_t)s->hash & mask;
    while (m->index[i])
        i = (i + 1) & mask;
    m->index[i] = s;
}

static void index_grow(struct dw_promql_memstorage *m)
{
    free(m->index);
    m->icap = m->icap ? m->icap * 2 : 1024;
    m->index = dw_calloc(m->icap, sizeof *m->index);
    for (size_t i = 0; i < m->n; i++)
        index_put(m, m->series[i]);
}

static struct mseries *find(struct dw_promql_memstorage *m, const struct dw_label *l, size_t n,
                            uint64_t h)
{
    if (!m->icap)
        return NULL;
    size_t mask = m->icap - 1;
    for (size_t i = (size_t)h & mask; m->index[i]; i = (i + 1) & mask)
        if (m->index[i]->hash == h && labels_eq(m->index[i], l, n))
            return m->index[i];
    return NULL;
}

static struct mseries *create(struct dw_promql_memstorage *m, const struct dw_label *l, size_t n,
                              uint64_t h)
{
    struct mseries *s = dw_calloc(1, sizeof *s);
    size_t bytes = n * sizeof *s->labels;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(l[i].name) + strlen(l[i].value) + 2;
    s->labels = dw_malloc(bytes);
    char *p = (char *)(s->labels + n);
    for (size_t i = 0; i < n; i++) {
        size_t a = strlen(l[i].name) + 1, b = strlen(l[i].value) + 1;
        s->labels[i].name = memcpy(p, l[i].name, a);
        s->labels[i].value = memcpy(p + a, l[i].value, b);
        p += a + b;
    }
    s->nlabels = n;
    s->hash = h;
    m->series = dw_grow(m->series, &m->cap, m->n + 1, sizeof *m->series);
    m->series[m->n++] = s;
    m->sorted = false;
    if ((m->n + 1) * 2 > m->icap)
        index_grow(m);
    else
        index_put(m, s);
    return s;
}

/* ---- samples ---- */

/* First index with t[i] >= t. */
static size_t lower_bound(const struct column *c, int64_t t)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->t[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Returns 1 when a sample was added, 0 when one was replaced. */
static int column_put(struct column *c, int64_t t, double v)
{
    size_t i = c->n && c->t[c->n - 1] < t ? c->n : lower_bound(c, t);
    if (i < c->n && c->t[i] == t) {
        c->v[i] = v;
        return 0;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->t = dw_realloc(c->t, c->cap * sizeof *c->t);
        c->v = dw_realloc(c->v, c->cap * sizeof *c->v);
    }
    memmove(c->t + i + 1, c->t + i, (c->n - i) * sizeof *c->t);
    memmove(c->v + i + 1, c->v + i, (c->n - i) * sizeof *c->v);
    c->t[i] = t;
    c->v[i] = v;
    c->n++;
    return 1;
}

static struct mseries *series_for(struct dw_promql_memstorage *m, const struct dw_label *labels,
                                  size_t n)
{
    struct dw_label stack[64];
    struct dw_label *tmp = n <= 64 ? stack : dw_malloc(n * sizeof *tmp);
    size_t k = 0;
    struct mseries *s = NULL;
    if (normalize(labels, n, tmp, &k) == 0) {
        uint64_t h = labels_hash(tmp, k);
        s = find(m, tmp, k, h);
        if (!s)
            s = create(m, tmp, k, h);
    }
    if (tmp != stack)
        free(tmp);
    return s;
}

int dw_promql_memstorage_add(struct dw_promql_memstorage *m, const struct dw_label *labels,
                             size_t n, int64_t t, double v)
{
    struct mseries *s = series_for(m, labels, n);
    if (!s)
        return -1;
    m->nsamples += (size_t)column_put(&s->raw, t, v);
    return 0;
}

int dw_promql_memstorage_add_downsampled(struct dw_promql_memstorage *m,
                                         const struct dw_label *labels, size_t n,
                                         int64_t resolution_ms, int64_t t, double v)
{
    if (resolution_ms <= 0)
        return -1;
    struct mseries *s = series_for(m, labels, n);
    if (!s)
        return -1;
    size_t i = 0;
    while (i < s->ntiers && s->tiers[i].res != resolution_ms)
        i++;
    if (i == s->ntiers) {
        s->tiers = dw_realloc(s->tiers, (s->ntiers + 1) * sizeof *s->tiers);
        s->tiers[s->ntiers++] = (struct tier){resolution_ms, {0}};
    }
    column_put(&s->tiers[i].c, t, v);
    size_t k = 0;
    while (k < m->nres && m->res[k] < resolution_ms)
        k++;
    if (k == m->nres || m->res[k] != resolution_ms) {
        m->res = dw_realloc(m->res, (m->nres + 1) * sizeof *m->res);
        m->res_min = dw_realloc(m->res_min, (m->nres + 1) * sizeof *m->res_min);
        memmove(m->res + k + 1, m->res + k, (m->nres - k) * sizeof *m->res);
        memmove(m->res_min + k + 1, m->res_min + k, (m->nres - k) * sizeof *m->res_min);
        m->res[k] = resolution_ms;
        m->res_min[k] = t;
        m->nres++;
    }
    if (t < m->res_min[k])
        m->res_min[k] = t;
    return 0;
}

void dw_promql_memstorage_set_raw_min(struct dw_promql_memstorage *m, int64_t t)
{
    m->raw_min = t;
}

void dw_promql_memstorage_stats(const struct dw_promql_memstorage *m, size_t *series,
                                size_t *samples)
{
    *series = m->n;
    *samples = m->nsamples;
}

/* ---- selection ---- */

struct mset {
    struct dw_promql_series_set base;
    struct dw_promql_memstorage *m;
    struct mseries **list; /* the candidates: all series or those of one name */
    size_t nlist;
    const struct dw_promql_matcher *matchers;
    size_t nmatchers;
    struct dw_promql_select_hints h;
    size_t pos; /* next series to look at */
    struct mseries *cur;
    /* The visible samples: a[ai..an) of the tier, then b[bi..bn) raw. */
    const struct column *a, *b;
    size_t ai, an, bi, bn;
    size_t it; /* index into that concatenation of the current sample */
    bool started;
};

static const struct column *tier_of(const struct mseries *s, int64_t res)
{
    for (size_t i = 0; i < s->ntiers; i++)
        if (s->tiers[i].res == res)
            return &s->tiers[i].c;
    return NULL;
}

static bool matches(const struct mset *ms, const struct mseries *s)
{
    for (size_t i = 0; i < ms->nmatchers; i++) {
        const struct dw_promql_matcher *mt = &ms->matchers[i];
        const char *v = "";
        for (size_t k = 0; k < s->nlabels; k++) {
            if (strcmp(s->labels[k].name, mt->name) == 0) {
                v = s->labels[k].value;
                break;
            }
        }
        if (!dw_promql_matcher_matches(mt, v, strlen(v)))
            return false;
    }
    return true;
}

static size_t view_len(const struct mset *ms)
{
    return (ms->an - ms->ai) + (ms->bn - ms->bi);
}

static void view_at(const struct mset *ms, size_t i, int64_t *t, double *v)
{
    size_t na = ms->an - ms->ai;
    const struct column *c = i < na ? ms->a : ms->b;
    size_t k = i < na ? ms->ai + i : ms->bi + (i - na);
    *t = c->t[k];
    *v = c->v[k];
}

/* Sets up the visible samples of s; false when none falls in the hinted range. */
static bool view_init(struct mset *ms, struct mseries *s)
{
    int64_t raw_min = ms->m->raw_min;
    ms->a = ms->h.resolution_ms > 0 ? tier_of(s, ms->h.resolution_ms) : NULL;
    ms->ai = ms->an = 0;
    if (ms->a)
        ms->an = lower_bound(ms->a, raw_min);
    ms->b = &s->raw;
    ms->bi = lower_bound(&s->raw, raw_min);
    ms->bn = s->raw.n;
    ms->it = 0;
    ms->started = false;
    /* Any sample in [start, end]? */
    size_t n = view_len(ms), lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t t;
        double v;
        view_at(ms, mid, &t, &v);
        if (t < ms->h.start_ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == n)
        return false;
    int64_t t;
    double v;
    view_at(ms, lo, &t, &v);
    return t <= ms->h.end_ms;
}

static bool set_next(struct dw_promql_series_set *ss)
{
    struct mset *ms = (struct mset *)ss;
    while (ms->pos < ms->nlist) {
        struct mseries *s = ms->list[ms->pos++];
        if (matches(ms, s) && view_init(ms, s)) {
            ms->cur = s;
            return true;
        }
    }
    ms->cur = NULL;
    return false;
}

static const struct dw_label *set_labels(struct dw_promql_series_set *ss, size_t *n)
{
    struct mset *ms = (struct mset *)ss;
    *n = ms->cur ? ms->cur->nlabels : 0;
    return ms->cur ? ms->cur->labels : NULL;
}

static bool set_sample_next(struct dw_promql_series_set *ss, int64_t *t, double *v)
{
    struct mset *ms = (struct mset *)ss;
    if (ms->started)
        ms->it++;
    ms->started = true;
    if (!ms->cur || ms->it >= view_len(ms))
        return false;
    view_at(ms, ms->it, t, v);
    return true;
}

static bool set_sample_seek(struct dw_promql_series_set *ss, int64_t t, int64_t *ts, double *v)
{
    struct mset *ms = (struct mset *)ss;
    size_t n = view_len(ms);
    if (!ms->cur || ms->it >= n)
        return false;
    if (ms->started) {
        view_at(ms, ms->it, ts, v);
        if (*ts >= t)
            return true;
    }
    size_t lo = ms->it, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        view_at(ms, mid, ts, v);
        if (*ts < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    ms->it = lo;
    ms->started = true;
    if (lo >= n)
        return false;
    view_at(ms, lo, ts, v);
    return true;
}

static size_t set_sample_read(struct dw_promql_series_set *ss, int64_t mint, int64_t maxt,
                              int64_t *t, double *v, size_t cap)
{
    struct mset *ms = (struct mset *)ss;
    size_t n = view_len(ms);
    /* Everything up to the current sample was handed out already. */
    size_t pos = ms->started ? ms->it + 1 : 0, hi = n;
    if (!ms->cur || pos >= n)
        return 0;
    while (pos < hi) { /* first sample >= mint */
        size_t mid = pos + (hi - pos) / 2;
        int64_t ts;
        double x;
        view_at(ms, mid, &ts, &x);
        if (ts < mint)
            pos = mid + 1;
        else
            hi = mid;
    }
    size_t k = 0;
    /* Copy run by run: the tier part, then the raw part. */
    while (k < cap && pos < n) {
        size_t na = ms->an - ms->ai;
        const struct column *c = pos < na ? ms->a : ms->b;
        size_t from = pos < na ? ms->ai + pos : ms->bi + (pos - na);
        size_t take = (pos < na ? ms->an : ms->bn) - from, m = 0;
        if (take > cap - k)
            take = cap - k;
        while (m < take && c->t[from + m] <= maxt)
            m++;
        memcpy(t + k, c->t + from, m * sizeof *t);
        memcpy(v + k, c->v + from, m * sizeof *v);
        k += m;
        pos += m;
        if (m < take)
            break; /* past maxt */
    }
    /* The current sample is the last one handed out, as after next(). */
    if (k > 0) {
        ms->started = true;
        ms->it = pos - 1;
    }
    return k;
}

static const char *set_err(struct dw_promql_series_set *ss)
{
    (void)ss;
    return NULL;
}

static void set_close(struct dw_promql_series_set *ss)
{
    free(ss);
}

static const struct dw_promql_series_set_ops set_ops = {
    set_next, set_labels, set_sample_next, set_sample_seek, set_err, set_close, set_sample_read,
};

static int mem_select(void *ctx, const struct dw_promql_matcher *matchers, size_t n,
                      const struct dw_promql_select_hints *hints, struct dw_promql_series_set **out,
                      char **err)
{
    struct dw_promql_memstorage *m = ctx;
    (void)err;
    pthread_mutex_lock(&m->sort_mu);
    if (!m->sorted) {
        qsort(m->series, m->n, sizeof *m->series, series_cmp);
        names_build(m);
        m->sorted = true;
    }
    pthread_mutex_unlock(&m->sort_mu);
    struct mset *ms = dw_calloc(1, sizeof *ms);
    ms->base.ops = &set_ops;
    ms->m = m;
    ms->matchers = matchers;
    ms->nmatchers = n;
    ms->h = *hints;
    ms->list = m->series;
    ms->nlist = m->n;
    /* A metric name given by equality narrows the candidates to its series. */
    for (size_t i = 0; i < n; i++) {
        if (matchers[i].type == DW_PROMQL_MATCH_EQ && !strcmp(matchers[i].name, "__name__") &&
            matchers[i].value[0]) {
            struct byname *b = name_slot(m, matchers[i].value);
            ms->list = b && b->name ? b->list : NULL;
            ms->nlist = b && b->name ? b->n : 0;
            break;
        }
    }
    *out = &ms->base;
    return 0;
}

static void mem_info(void *ctx, struct dw_promql_storage_info *info)
{
    struct dw_promql_memstorage *m = ctx;
    info->raw_min_ms = m->raw_min;
    info->resolutions_ms = m->res;
    info->resolution_min_ms = m->res_min;
    info->nresolutions = m->nres;
}

static const struct dw_promql_storage_ops mem_ops = {mem_select, mem_info};

/* ---- lifecycle ---- */

struct dw_promql_memstorage *dw_promql_memstorage_new(void)
{
    struct dw_promql_memstorage *m = dw_calloc(1, sizeof *m);
    m->st.ops = &mem_ops;
    m->st.ctx = m;
    m->raw_min = INT64_MIN;
    m->sorted = true;
    pthread_mutex_init(&m->sort_mu, NULL);
    return m;
}

void dw_promql_memstorage_clear(struct dw_promql_memstorage *m)
{
    for (size_t i = 0; i < m->n; i++) {
        struct mseries *s = m->series[i];
        free(s->labels);
        free(s->raw.t);
        free(s->raw.v);
        for (size_t k = 0; k < s->ntiers; k++) {
            free(s->tiers[k].c.t);
            free(s->tiers[k].c.v);
        }
        free(s->tiers);
        free(s);
    }
    free(m->series);
    free(m->index);
    free(m->res);
    free(m->res_min);
    m->res_min = NULL;
    names_release(m);
    m->series = NULL;
    m->index = NULL;
    m->res = NULL;
    m->n = m->cap = m->icap = m->nres = m->nsamples = 0;
    m->sorted = true;
}

void dw_promql_memstorage_free(struct dw_promql_memstorage **m)
{
    if (!m || !*m)
        return;
    dw_promql_memstorage_clear(*m);
    pthread_mutex_destroy(&(*m)->sort_mu);
    free(*m);
    *m = NULL;
}

const struct dw_promql_storage *dw_promql_memstorage_storage(struct dw_promql_memstorage *m)
{
    return &m->st;
}
