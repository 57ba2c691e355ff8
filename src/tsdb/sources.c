/*
 * sources.c - what queriers read besides the head: the registry of series
 * sources (the raw blocks of the directory of blocks, plus sources
 * registered with dw_tsdb_source_add), the downsampled blocks, and the
 * generations that tell maintenance which queriers are still open.
 *
 * DESIGN
 * A querier opens a view of every source overlapping its range when it is
 * created, under src_mu, so a registration, a removal or a compaction that
 * swaps blocks is atomic for it: it sees the blocks before or after, never
 * a half-updated list. Views hold block references, so blocks deleted
 * meanwhile stay mapped until the querier is freed.
 *
 * Generations: every change of the registered sources bumps `gen`, and each
 * open querier is counted in the generation it saw. After a cut registers a
 * block in generation G, the head range it holds may be truncated only once
 * no querier from before G is left: such a querier has no view of the block
 * and still reads that range from the head. Maintenance asks for the oldest
 * open generation and defers the truncation until it is >= G (never
 * blocking: queriers can be slow).
 *
 * With a resolution, a querier also opens rollup views of the downsampled
 * blocks of that resolution, limited to before the oldest raw sample (raw
 * blocks and head): the caller gets rollups where raw data has aged out,
 * then raw data.
 *
 * Threads: everything under src_mu; views are opened under it (for blocks
 * that is an allocation and a reference count), block I/O never is.
 */
#include <stdlib.h>
#include <string.h>

#include "tsdb/block_internal.h"
#include "tsdb/head_internal.h"
#include "tsdb/tsdb.h"

/* ---- readers per generation (src_mu held) ---- */

static void reader_enter(struct dw_tsdb *db, uint64_t gen)
{
    if (db->nreaders && db->readers[db->nreaders - 1].gen == gen) {
        db->readers[db->nreaders - 1].n++;
        return;
    }
    /* Generations only grow: the list stays sorted by appending. */
    db->readers = dw_grow(db->readers, &db->readcap, db->nreaders + 1, sizeof *db->readers);
    db->readers[db->nreaders++] = (struct dw_reader_gen){gen, 1};
}

static void reader_exit(struct dw_tsdb *db, uint64_t gen)
{
    for (size_t i = 0; i < db->nreaders; i++) {
        if (db->readers[i].gen != gen)
            continue;
        if (--db->readers[i].n == 0) {
            memmove(db->readers + i, db->readers + i + 1,
                    (db->nreaders - i - 1) * sizeof *db->readers);
            db->nreaders--;
        }
        return;
    }
}

uint64_t dw_tsdb_sources_oldest_reader(struct dw_tsdb *db)
{
    pthread_mutex_lock(&db->src_mu);
    uint64_t g = db->nreaders ? db->readers[0].gen : UINT64_MAX;
    pthread_mutex_unlock(&db->src_mu);
    return g;
}

uint64_t dw_tsdb_sources_gen(struct dw_tsdb *db)
{
    pthread_mutex_lock(&db->src_mu);
    uint64_t g = db->gen;
    pthread_mutex_unlock(&db->src_mu);
    return g;
}

/* ---- registration ---- */

int dw_tsdb_source_add(struct dw_tsdb *db, const struct dw_tsdb_source_ops *ops, void *src)
{
    pthread_mutex_lock(&db->src_mu);
    db->sources = dw_grow(db->sources, &db->srccap, db->nsources + 1, sizeof *db->sources);
    db->sources[db->nsources++] = (struct dw_source_reg){ops, src, NULL};
    db->gen++;
    pthread_mutex_unlock(&db->src_mu);
    return 0;
}

void dw_tsdb_source_remove(struct dw_tsdb *db, void *src)
{
    pthread_mutex_lock(&db->src_mu);
    for (size_t i = 0; i < db->nsources; i++) {
        if (db->sources[i].src == src && !db->sources[i].block) {
            memmove(&db->sources[i], &db->sources[i + 1],
                    (db->nsources - i - 1) * sizeof db->sources[0]);
            db->nsources--;
            db->gen++;
            break;
        }
    }
    pthread_mutex_unlock(&db->src_mu);
}

static int cmp_newest_first(const void *a, const void *b)
{
    const struct dw_tsdb_block_meta *x = dw_tsdb_block_meta_of(*(struct dw_tsdb_block *const *)a);
    const struct dw_tsdb_block_meta *y = dw_tsdb_block_meta_of(*(struct dw_tsdb_block *const *)b);
    return strcmp(y->id, x->id);
}

/* Whether the db's registered blocks are exactly raw[0..n) in that order (src_mu held). */
static bool same_blocks(const struct dw_tsdb *db, struct dw_tsdb_block *const *raw, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < db->nsources; i++) {
        if (!db->sources[i].block)
            continue;
        if (k == n || db->sources[i].block != raw[k])
            return false;
        k++;
    }
    return k == n;
}

/*
 * Swaps the registry's blocks for raw[] (references taken over: entries set
 * NULL) and returns the old registrations' blocks in *old (src_mu held).
 */
static void swap_blocks(struct dw_tsdb *db, struct dw_tsdb_block **raw, size_t n,
                        struct dw_tsdb_block ***old, size_t *nold)
{
    size_t cap = n + db->nsources + 1, k = 0, g = 0;
    struct dw_source_reg *next = dw_malloc(cap * sizeof *next);
    struct dw_tsdb_block **gone = dw_malloc((db->nsources + 1) * sizeof *gone);
    for (size_t i = 0; i < n; i++) {
        next[k++] = (struct dw_source_reg){dw_tsdb_block_source_ops(), raw[i], raw[i]};
        raw[i] = NULL;
    }
    for (size_t i = 0; i < db->nsources; i++) {
        if (db->sources[i].block)
            gone[g++] = db->sources[i].block;
        else
            next[k++] = db->sources[i];
    }
    free(db->sources);
    db->sources = next;
    db->nsources = k;
    db->srccap = cap;
    *old = gone;
    *nold = g;
}

void dw_tsdb_sources_sync(struct dw_tsdb *db)
{
    struct dw_tsdb_block **raw, **all;
    size_t nraw = dw_tsdb_blockdir_blocks(db->blocks, 0, &raw);
    size_t nall = dw_tsdb_blockdir_blocks(db->blocks, -1, &all);
    qsort(raw, nraw, sizeof *raw, cmp_newest_first);
    /* The downsampled blocks of the snapshot, compacted to the front of all[]. */
    size_t nds = 0;
    for (size_t i = 0; i < nall; i++) {
        struct dw_tsdb_block *b = all[i];
        all[i] = NULL;
        if (dw_tsdb_block_meta_of(b)->resolution_ms != 0)
            all[nds++] = b;
        else
            dw_tsdb_block_unref(&b);
    }
    struct dw_tsdb_block **old = NULL, **old_ds;
    size_t nold = 0, nold_ds;
    pthread_mutex_lock(&db->src_mu);
    if (!same_blocks(db, raw, nraw)) {
        swap_blocks(db, raw, nraw, &old, &nold);
        db->gen++;
    }
    old_ds = db->ds;
    nold_ds = db->nds;
    db->ds = all;
    db->nds = db->dscap = nds;
    pthread_mutex_unlock(&db->src_mu);
    /* References dropped outside the lock: the last one unmaps. */
    dw_tsdb_blocks_release(old, nold);
    dw_tsdb_blocks_release(old_ds, nold_ds);
    dw_tsdb_blocks_release(raw, nraw); /* those not taken over (unchanged registry) */
}

void dw_tsdb_sources_release(struct dw_tsdb *db)
{
    for (size_t i = 0; i < db->nsources; i++)
        dw_tsdb_block_unref(&db->sources[i].block);
    free(db->sources);
    db->sources = NULL;
    db->nsources = db->srccap = 0;
    dw_tsdb_blocks_release(db->ds, db->nds);
    db->ds = NULL;
    db->nds = db->dscap = 0;
    free(db->readers);
    db->readers = NULL;
    db->nreaders = db->readcap = 0;
}

/* ---- opening views for a querier ---- */

/* The oldest raw sample: raw sources and the head (src_mu held); INT64_MAX when none. */
static int64_t raw_min(struct dw_tsdb *db)
{
    int64_t lo = INT64_MAX, hi, m;
    if (dw_tsdb_head_bounds(db, &m, &hi))
        lo = m;
    for (size_t i = 0; i < db->nsources; i++) {
        db->sources[i].ops->bounds(db->sources[i].src, &m, &hi);
        if (m < lo)
            lo = m;
    }
    return lo;
}

static bool read_opts_valid(const struct dw_tsdb_read_opts *o, enum dw_tsdb_rollup *r)
{
    *r = DW_TSDB_ROLLUP_LAST;
    if (!o || o->resolution_ms == 0)
        return true;
    if (o->resolution_ms != DW_TSDB_RES_5M && o->resolution_ms != DW_TSDB_RES_1H)
        return false;
    if (o->rollup)
        *r = dw_tsdb_rollup_parse(o->rollup);
    return *r != DW_TSDB_ROLLUP_N;
}

static void open_rollups(struct dw_tsdb *db, int64_t mint, int64_t maxt, int64_t res,
                         enum dw_tsdb_rollup r, struct dw_tsdb_sources *out)
{
    int64_t b = raw_min(db);
    int64_t hi = b <= maxt ? b - 1 : maxt; /* rollups only where raw data has aged out */
    for (size_t i = 0; i < db->nds && hi >= mint; i++) {
        const struct dw_tsdb_block_meta *m = dw_tsdb_block_meta_of(db->ds[i]);
        if (m->resolution_ms != res || m->maxt <= mint || m->mint > hi)
            continue;
        out->views[out->n++] = (struct dw_tsdb_view){
            dw_tsdb_block_rollup_ops(), dw_tsdb_block_rollup_open(db->ds[i], r, mint, hi)};
    }
}

void dw_tsdb_sources_open(struct dw_tsdb *db, int64_t mint, int64_t maxt,
                          const struct dw_tsdb_read_opts *o, struct dw_tsdb_sources *out)
{
    memset(out, 0, sizeof *out);
    out->gen = UINT64_MAX;
    enum dw_tsdb_rollup r;
    if (!atomic_load_explicit(&db->loaded, memory_order_acquire)) {
        out->err = DW_TSDB_ELOADING;
        return;
    }
    if (!read_opts_valid(o, &r)) {
        out->err = DW_TSDB_EINVAL;
        return;
    }
    pthread_mutex_lock(&db->src_mu);
    out->gen = db->gen;
    reader_enter(db, out->gen);
    out->views = dw_malloc((db->nsources + db->nds + 1) * sizeof *out->views);
    for (size_t i = 0; i < db->nsources; i++) {
        const struct dw_source_reg *s = &db->sources[i];
        int64_t lo, hi;
        s->ops->bounds(s->src, &lo, &hi);
        if (hi < mint || lo > maxt)
            continue;
        void *v = s->ops->open(s->src, mint, maxt);
        if (v)
            out->views[out->n++] = (struct dw_tsdb_view){s->ops, v};
    }
    if (o && o->resolution_ms > 0)
        open_rollups(db, mint, maxt, o->resolution_ms, r, out);
    pthread_mutex_unlock(&db->src_mu);
}

void dw_tsdb_sources_close(struct dw_tsdb *db, struct dw_tsdb_sources *s)
{
    for (size_t i = 0; i < s->n; i++)
        s->views[i].ops->close(s->views[i].v);
    free(s->views);
    if (s->gen != UINT64_MAX) {
        pthread_mutex_lock(&db->src_mu);
        reader_exit(db, s->gen);
        pthread_mutex_unlock(&db->src_mu);
    }
    memset(s, 0, sizeof *s);
}

/* ---- coverage and statistics ---- */

void dw_tsdb_get_coverage(struct dw_tsdb *db, struct dw_tsdb_coverage *c)
{
    pthread_mutex_lock(&db->src_mu);
    c->raw_mint = raw_min(db);
    c->res5m_mint = c->res1h_mint = INT64_MAX;
    for (size_t i = 0; i < db->nds; i++) {
        const struct dw_tsdb_block_meta *m = dw_tsdb_block_meta_of(db->ds[i]);
        int64_t *slot = m->resolution_ms == DW_TSDB_RES_5M   ? &c->res5m_mint
                        : m->resolution_ms == DW_TSDB_RES_1H ? &c->res1h_mint
                                                             : NULL;
        if (slot && m->mint < *slot)
            *slot = m->mint;
    }
    pthread_mutex_unlock(&db->src_mu);
}

void dw_tsdb_sources_stats(struct dw_tsdb *db, struct dw_tsdb_stats *st)
{
    pthread_mutex_lock(&db->src_mu);
    for (size_t i = 0; i < db->nsources; i++) {
        if (!db->sources[i].block)
            continue;
        const struct dw_tsdb_block_meta *m = dw_tsdb_block_meta_of(db->sources[i].block);
        if (st->blocks_raw++ == 0 || m->maxt > st->persisted_until)
            st->persisted_until = m->maxt;
        st->block_bytes += m->index_bytes + m->chunk_bytes;
        st->block_samples += m->nsamples;
    }
    for (size_t i = 0; i < db->nds; i++) {
        const struct dw_tsdb_block_meta *m = dw_tsdb_block_meta_of(db->ds[i]);
        st->blocks_5m += m->resolution_ms == DW_TSDB_RES_5M;
        st->blocks_1h += m->resolution_ms == DW_TSDB_RES_1H;
        st->block_bytes += m->index_bytes + m->chunk_bytes;
    }
    pthread_mutex_unlock(&db->src_mu);
}
