/*
 * downsample.c - 5 minute and 1 hour aggregates of raw blocks.
 *
 * DESIGN: a downsampled block is an ordinary block whose series are the raw
 * series plus one label, __rollup__ = min | max | sum | count | last, with
 * one sample per raw series and window [w, w + resolution) (w aligned to the
 * resolution since the epoch) that holds at least one raw sample. The
 * sample's timestamp is the last raw sample's in the window, so an
 * aggregate never claims data from its future and "last" is exact.
 * Per window:
 *   - staleness markers are left out (a window of markers only has no
 *     aggregate);
 *   - count is the number of other samples, NaN included;
 *   - sum adds them in time order (a NaN makes it NaN);
 *   - min and max ignore NaN unless every value is NaN;
 *   - last is the last value (NaN included).
 * Every resolution is computed from the raw samples in one pass, so 1h is
 * exactly the aggregate of its raw samples (not of 5m sums, whose float
 * rounding would differ).
 *
 * Which raw blocks: a raw block is downsampled once it will not change any
 * more (compacted to the largest range, or ended two largest ranges ago),
 * when it overlaps no other raw block (overlaps are compacted first), and
 * only if a downsampled block does not already list all its sources. The
 * downsampled block keeps the raw block's range and sources; compaction
 * merges downsampled blocks like raw ones (24h -> 7d).
 *
 * Threads: runs under the directory's maintenance lock (or standalone on a
 * block the caller holds a reference on).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/block_internal.h"
#include "tsdb/tsdb_internal.h"

#define COMPONENT "tsdb.block"
#define MAX_RES 4

const char *dw_tsdb_rollup_name(enum dw_tsdb_rollup r)
{
    static const char *const names[DW_TSDB_ROLLUP_N] = {"min", "max", "sum", "count", "last"};
    return (unsigned)r < DW_TSDB_ROLLUP_N ? names[r] : "";
}

/* The aggregates of one resolution for one series. */
struct agg {
    int64_t *t;
    double *v[DW_TSDB_ROLLUP_N];
    size_t n, cap;
};

static void agg_push(struct agg *a)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->t = dw_realloc(a->t, a->cap * sizeof *a->t);
        for (int k = 0; k < DW_TSDB_ROLLUP_N; k++)
            a->v[k] = dw_realloc(a->v[k], a->cap * sizeof *a->v[k]);
    }
    a->n++;
}

static void agg_release(struct agg *a)
{
    free(a->t);
    for (int k = 0; k < DW_TSDB_ROLLUP_N; k++)
        free(a->v[k]);
}

static int64_t window_of(int64_t t, int64_t res)
{
    int64_t q = t / res;
    return (t % res < 0 ? q - 1 : q) * res;
}

/* Folds one sample into the aggregates, opening a window when needed. */
static void agg_add(struct agg *a, int64_t res, int64_t *cur_w, int64_t t, double v)
{
    int64_t w = window_of(t, res);
    if (a->n == 0 || w != *cur_w) {
        agg_push(a);
        size_t i = a->n - 1;
        *cur_w = w;
        a->v[DW_TSDB_ROLLUP_MIN][i] = v;
        a->v[DW_TSDB_ROLLUP_MAX][i] = v;
        a->v[DW_TSDB_ROLLUP_SUM][i] = v;
        a->v[DW_TSDB_ROLLUP_COUNT][i] = 1;
        a->v[DW_TSDB_ROLLUP_LAST][i] = v;
        a->t[i] = t;
        return;
    }
    size_t i = a->n - 1;
    double *mn = &a->v[DW_TSDB_ROLLUP_MIN][i], *mx = &a->v[DW_TSDB_ROLLUP_MAX][i];
    if (isnan(*mn) || v < *mn)
        *mn = isnan(v) ? *mn : v;
    if (isnan(*mx) || v > *mx)
        *mx = isnan(v) ? *mx : v;
    a->v[DW_TSDB_ROLLUP_SUM][i] += v;
    a->v[DW_TSDB_ROLLUP_COUNT][i] += 1;
    a->v[DW_TSDB_ROLLUP_LAST][i] = v;
    a->t[i] = t;
}

struct ds {
    const int64_t *res;
    size_t nres;
    struct dw_tsdb_block_writer *w[MAX_RES];
    struct agg a[MAX_RES];
    int64_t cur_w[MAX_RES];
    struct dw_label *labels;
    size_t lcap;
    size_t skipped; /* raw series that already carry __rollup__ */
};

/*
 * Copies labels into d->labels with a __rollup__ slot at its sorted place
 * (*pos); false when the series already has that label.
 */
static bool rollup_labels(struct ds *d, const struct dw_label *l, size_t n, size_t *pos)
{
    d->labels = dw_grow(d->labels, &d->lcap, n + 1, sizeof *d->labels);
    *pos = n;
    for (size_t i = 0; i < n; i++) {
        int c = strcmp(l[i].name, DW_TSDB_ROLLUP_LABEL);
        if (c == 0)
            return false;
        if (c > 0 && *pos == n)
            *pos = i;
    }
    memcpy(d->labels, l, *pos * sizeof *l);
    memcpy(d->labels + *pos + 1, l + *pos, (n - *pos) * sizeof *l);
    d->labels[*pos].name = DW_TSDB_ROLLUP_LABEL;
    return true;
}

static int write_series(struct ds *d, const struct dw_label *l, size_t n)
{
    size_t pos;
    if (!rollup_labels(d, l, n, &pos)) {
        d->skipped++;
        return 0;
    }
    int rc = 0;
    for (size_t r = 0; r < d->nres && rc == 0; r++) {
        for (int k = 0; k < DW_TSDB_ROLLUP_N && rc == 0 && d->a[r].n; k++) {
            d->labels[pos].value = dw_tsdb_rollup_name((enum dw_tsdb_rollup)k);
            rc = dw_tsdb_block_writer_add(d->w[r], d->labels, n + 1, d->a[r].t, d->a[r].v[k],
                                          d->a[r].n);
        }
    }
    return rc;
}

/* Aggregates the cursor's current series into every resolution and writes them. */
static int one_series(struct ds *d, struct dw_tsdb_block_cursor *c)
{
    for (size_t r = 0; r < d->nres; r++)
        d->a[r].n = 0;
    const int64_t *t;
    const double *v;
    size_t n;
    while (dw_tsdb_block_cursor_batch(c, INT64_MIN, &t, &v, &n)) {
        for (size_t i = 0; i < n; i++) {
            if (dw_tsdb_is_stale(v[i]))
                continue;
            for (size_t r = 0; r < d->nres; r++)
                agg_add(&d->a[r], d->res[r], &d->cur_w[r], t[i], v[i]);
        }
    }
    int rc = dw_tsdb_block_cursor_err(c);
    if (rc)
        return rc;
    size_t nl;
    const struct dw_label *l = dw_tsdb_block_cursor_labels(c, &nl);
    return write_series(d, l, nl);
}

static int open_writers(struct ds *d, const char *dir, const struct dw_tsdb_block_meta *m,
                        int zstd_level, char **err)
{
    for (size_t r = 0; r < d->nres; r++) {
        struct dw_tsdb_block_wopts o;
        dw_tsdb_block_wopts_init(&o, m->mint, m->maxt);
        o.resolution_ms = d->res[r];
        o.sources = m->sources;
        o.nsources = m->nsources;
        o.zstd_level = zstd_level;
        d->w[r] = dw_tsdb_block_writer_new(dir, &o, err);
        if (!d->w[r])
            return DW_TSDB_EIO;
    }
    return 0;
}

int dw_tsdb_block_downsample(const char *dir, struct dw_tsdb_block *raw, const int64_t *res,
                             size_t nres, int zstd_level, struct dw_tsdb_block_meta *metas,
                             char **err)
{
    const struct dw_tsdb_block_meta *m = dw_tsdb_block_meta_of(raw);
    if (nres == 0 || nres > MAX_RES || m->resolution_ms != 0)
        return DW_TSDB_EINVAL;
    for (size_t r = 0; r < nres; r++)
        if (res[r] <= 0 || (r && res[r] % res[r - 1]))
            return DW_TSDB_EINVAL;
    if (metas)
        memset(metas, 0, nres * sizeof *metas);
    struct ds d = {.res = res, .nres = nres};
    int rc = open_writers(&d, dir, m, zstd_level, err);
    struct dw_tsdb_block_cursor *c = dw_tsdb_block_select(raw, NULL, 0, INT64_MIN, INT64_MAX);
    while (rc == 0 && dw_tsdb_block_cursor_next(c))
        rc = one_series(&d, c);
    if (rc == 0)
        rc = dw_tsdb_block_cursor_err(c);
    dw_tsdb_block_cursor_free(&c);
    if (rc && err && !*err)
        *err = dw_asprintf("downsampling %s: %s", m->id, dw_tsdb_strerror(rc));
    if (d.skipped)
        dw_log_kv(DW_LOG_WARN, COMPONENT,
                  "raw series with a " DW_TSDB_ROLLUP_LABEL " label are not downsampled", "block",
                  m->id, NULL);
    for (size_t r = 0; r < nres; r++) {
        if (rc == 0)
            rc = dw_tsdb_block_writer_commit(&d.w[r], metas ? &metas[r] : NULL, err);
        else
            dw_tsdb_block_writer_abort(&d.w[r]);
        agg_release(&d.a[r]);
    }
    free(d.labels);
    return rc;
}

/* ---- which raw blocks are due ---- */

static int cmp_id(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Every source id listed by the blocks of one resolution, sorted. */
static dw_tsdb_block_id *covered_ids(struct dw_tsdb_blockdir *d, int64_t res, size_t *n)
{
    struct dw_tsdb_block **v;
    size_t nb = dw_tsdb_blockdir_blocks(d, res, &v), total = 0;
    for (size_t i = 0; i < nb; i++)
        total += dw_tsdb_block_meta_of(v[i])->nsources;
    dw_tsdb_block_id *ids = dw_calloc(total + 1, sizeof *ids);
    total = 0;
    for (size_t i = 0; i < nb; i++) {
        const struct dw_tsdb_block_meta *m = dw_tsdb_block_meta_of(v[i]);
        memcpy(ids + total, m->sources, m->nsources * sizeof *ids);
        total += m->nsources;
    }
    dw_tsdb_blocks_release(v, nb);
    qsort(ids, total, sizeof *ids, cmp_id);
    *n = total;
    return ids;
}

static bool all_covered(const struct dw_tsdb_block_meta *m, dw_tsdb_block_id *ids, size_t n)
{
    for (size_t i = 0; i < m->nsources; i++)
        if (!bsearch(m->sources[i], ids, n, sizeof *ids, cmp_id))
            return false;
    return true;
}

static bool overlaps_other(struct dw_tsdb_block *const *v, size_t n, size_t self)
{
    const struct dw_tsdb_block_meta *a = dw_tsdb_block_meta_of(v[self]);
    for (size_t i = 0; i < n; i++) {
        const struct dw_tsdb_block_meta *b = dw_tsdb_block_meta_of(v[i]);
        if (i != self && a->mint < b->maxt && b->mint < a->maxt)
            return true;
    }
    return false;
}

/* Downsamples one raw block to the resolutions it lacks and adds the results. */
static int downsample_one(struct dw_tsdb_blockdir *d, struct dw_tsdb_block *raw, const int64_t *res,
                          size_t nres, char **err)
{
    struct dw_tsdb_block_meta metas[2];
    int rc = dw_tsdb_block_downsample(dw_tsdb_blockdir_path(d), raw, res, nres,
                                      dw_tsdb_blockdir_opts_of(d)->zstd_level, metas, err);
    for (size_t r = 0; r < nres; r++) {
        if (rc == 0 && metas[r].id[0])
            rc = dw_tsdb_blockdir_add(d, metas[r].id, err);
        dw_tsdb_block_meta_release(&metas[r]);
    }
    if (rc == 0)
        dw_log_kv(DW_LOG_INFO, COMPONENT, "downsampled block", "block",
                  dw_tsdb_block_meta_of(raw)->id, NULL);
    return rc;
}

int dw_tsdb_blockdir_downsample_locked(struct dw_tsdb_blockdir *d, int64_t now, size_t *done,
                                       char **err)
{
    int64_t ranges[3];
    size_t nr = dw_tsdb_compact_ranges(d, 0, ranges);
    int64_t top = ranges[nr - 1];
    size_t n5, n1;
    dw_tsdb_block_id *c5 = covered_ids(d, DW_TSDB_RES_5M, &n5);
    dw_tsdb_block_id *c1 = covered_ids(d, DW_TSDB_RES_1H, &n1);
    struct dw_tsdb_block **v;
    size_t n = dw_tsdb_blockdir_blocks(d, 0, &v);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct dw_tsdb_block_meta *m = dw_tsdb_block_meta_of(v[i]);
        int64_t old_enough; /* now - 2 * top, when that does not overflow */
        bool settled =
            m->maxt - m->mint >= top ||
            (!__builtin_sub_overflow(now, 2 * top, &old_enough) && m->maxt <= old_enough);
        if (!settled || overlaps_other(v, n, i))
            continue;
        int64_t res[2];
        size_t nres = 0;
        if (!all_covered(m, c5, n5))
            res[nres++] = DW_TSDB_RES_5M;
        if (!all_covered(m, c1, n1))
            res[nres++] = DW_TSDB_RES_1H;
        if (nres == 0)
            continue;
        rc = downsample_one(d, v[i], res, nres, err);
        if (rc == 0 && done)
            (*done)++;
    }
    dw_tsdb_blocks_release(v, n);
    free(c5);
    free(c1);
    return rc;
}

int dw_tsdb_blockdir_downsample(struct dw_tsdb_blockdir *d, int64_t now, size_t *done, char **err)
{
    if (done)
        *done = 0;
    dw_tsdb_blockdir_lock(d);
    int rc = dw_tsdb_blockdir_downsample_locked(d, now, done, err);
    dw_tsdb_blockdir_unlock(d);
    return rc;
}
