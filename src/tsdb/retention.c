/*
 * retention.c - deleting old blocks, and which resolution a query reads.
 *
 * DESIGN: retention deletes whole blocks: a raw block once all of it is
 * older than now - retention (maxt <= now - retention; maxt is exclusive),
 * a downsampled block likewise with the downsampled retention. "now" is
 * dw_now_ms(), so tests drive it with the manual clock. A block is never
 * cut in two: data is kept up to one block range longer than the retention.
 *
 * The resolution rule (dw_tsdb_resolution_choose) prefers exact data: raw
 * whenever raw reaches back to the query start or the step is finer than
 * 5 minutes; else the finest downsampled resolution not coarser than the
 * step that reaches back to the start; else whichever allowed resolution
 * starts earliest.
 *
 * Threads: retention runs under the directory's maintenance lock; the
 * choice is a pure function.
 */
#include <stdlib.h>

#include "tsdb/block_internal.h"

size_t dw_tsdb_blockdir_retention_locked(struct dw_tsdb_blockdir *d, int64_t now)
{
    const struct dw_tsdb_blockdir_opts *o = dw_tsdb_blockdir_opts_of(d);
    struct dw_tsdb_block **v;
    size_t n = dw_tsdb_blockdir_blocks(d, -1, &v), deleted = 0;
    for (size_t i = 0; i < n; i++) {
        const struct dw_tsdb_block_meta *m = dw_tsdb_block_meta_of(v[i]);
        int64_t keep = m->resolution_ms == 0 ? o->retention_ms : o->ds_retention_ms;
        int64_t limit; /* now - keep; nothing is old enough when it overflows ("100y") */
        if (!__builtin_sub_overflow(now, keep, &limit) && m->maxt <= limit) {
            if (dw_tsdb_blockdir_delete(d, m->id, "retention") == 0)
                deleted++;
        }
    }
    dw_tsdb_blocks_release(v, n);
    return deleted;
}

size_t dw_tsdb_blockdir_retention(struct dw_tsdb_blockdir *d, int64_t now)
{
    dw_tsdb_blockdir_lock(d);
    size_t n = dw_tsdb_blockdir_retention_locked(d, now);
    dw_tsdb_blockdir_unlock(d);
    return n;
}

int64_t dw_tsdb_resolution_choose(const struct dw_tsdb_coverage *c, int64_t mint, int64_t maxt,
                                  int64_t step)
{
    (void)maxt; /* every resolution reaches the present once data exists */
    if (step < DW_TSDB_RES_5M || c->raw_mint <= mint)
        return DW_TSDB_RES_RAW;
    const int64_t res[2] = {DW_TSDB_RES_5M, DW_TSDB_RES_1H};
    const int64_t start[2] = {c->res5m_mint, c->res1h_mint};
    for (int i = 0; i < 2; i++)
        if (step >= res[i] && start[i] <= mint)
            return res[i];
    int64_t best = DW_TSDB_RES_RAW, best_start = c->raw_mint;
    for (int i = 0; i < 2; i++) {
        if (step >= res[i] && start[i] < best_start) {
            best = res[i];
            best_start = start[i];
        }
    }
    return best;
}

int64_t dw_tsdb_blockdir_pick_resolution(struct dw_tsdb_blockdir *d, int64_t head_mint,
                                         int64_t mint, int64_t maxt, int64_t step)
{
    struct dw_tsdb_coverage c = {head_mint, INT64_MAX, INT64_MAX};
    struct dw_tsdb_block **v;
    size_t n = dw_tsdb_blockdir_blocks(d, -1, &v);
    for (size_t i = 0; i < n; i++) {
        const struct dw_tsdb_block_meta *m = dw_tsdb_block_meta_of(v[i]);
        int64_t *slot = m->resolution_ms == 0                ? &c.raw_mint
                        : m->resolution_ms == DW_TSDB_RES_5M ? &c.res5m_mint
                        : m->resolution_ms == DW_TSDB_RES_1H ? &c.res1h_mint
                                                             : NULL;
        if (slot && m->mint < *slot)
            *slot = m->mint;
    }
    dw_tsdb_blocks_release(v, n);
    return dw_tsdb_resolution_choose(&c, mint, maxt, step);
}
