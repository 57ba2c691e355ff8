/*
 * maintain.c - persisting the head: cutting its oldest block range into a
 * block, the head and WAL truncation that follows, and the rounds of
 * compaction, downsampling and retention over the directory of blocks.
 *
 * DESIGN
 * dw_tsdb_maintain() runs whatever is due, one call at a time (maint_mu):
 *
 * 1. Cut. `persisted` is where the blocks end (the newest raw block's maxt
 *    at load, then each cut's end). Once the head spans 1.5 block ranges
 *    beyond max(head min, persisted), the aligned range [a, b) holding that
 *    start is written with dw_tsdb_block_write_head(), added to the
 *    directory and registered with the queriers (sources.c). Before writing,
 *    the head's floor is raised to b and the gate taken once for writing:
 *    every commit that passed its out-of-bounds check against the old floor
 *    has then stored its samples, so none can land in [a, b) behind the
 *    cut's back (the 1.5-range rule already makes such samples out of
 *    bounds; the barrier covers commits that checked before the head grew).
 *    A range with no samples (a gap) writes nothing and the next cut starts
 *    at the head's next sample. A head that has fallen far behind (a long
 *    gap, a restart after days) is cut in several rounds.
 *
 * 2. Truncate. The head and the WAL are truncated to `persisted`
 *    (dw_tsdb_head_truncate: WAL cut, chunks before it dropped, checkpoint
 *    of what the head still holds), but only once no querier created before
 *    the cut's block was registered is still open: such a querier has no
 *    view of the block and reads that range from the head. Until then the
 *    truncation is deferred to a later call (never waited for: a slow or
 *    leaked querier must not stall ingestion). Head chunks never straddle a
 *    block boundary (head.c), so the truncation drops exactly what the
 *    blocks hold.
 *
 * 3. Blocks. After a cut, or when the last round is maint_interval_ms old:
 *    compaction, downsampling and retention at now_ms
 *    (dw_tsdb_blockdir_maintain_at), then the registry follows the
 *    directory: compacted inputs and expired blocks are unregistered in the
 *    same step that registers their replacement, and queriers holding them
 *    keep reading them until they are freed.
 *
 * Crash safety: a block is renamed into place (fsynced) before the WAL is
 * touched. A crash between the two leaves the block and the full WAL; the
 * next load skips the WAL samples older than the newest block's end, so
 * nothing is lost and nothing is served twice. A crash mid-write leaves a
 * *.tmp directory the next load deletes; the WAL still has everything.
 *
 * Threads: one maintenance call at a time; appenders and queriers run in
 * parallel (the cut reads each series as of when it reaches it).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/block_internal.h"
#include "tsdb/head_internal.h"
#include "tsdb/tsdb.h"

#define LOG_COMPONENT "tsdb"

/* floor(t / r) * r (also before 1970); INT64_MIN when that underflows. */
static int64_t floor_to(int64_t t, int64_t r)
{
    int64_t q = t / r - (t % r < 0), w;
    return __builtin_mul_overflow(q, r, &w) ? INT64_MIN : w;
}

static void raise_floor(struct dw_head *h, int64_t t)
{
    int64_t cur = atomic_load(&h->min_valid);
    while (cur < t && !atomic_compare_exchange_weak(&h->min_valid, &cur, t))
        ;
}

/*
 * The next range to persist, [*a, *b): false when none is due. skip_to:
 * no head sample is before it (after an empty cut). limit: with force,
 * persist everything before it, complete ranges or not.
 */
static bool plan_cut(struct dw_tsdb *db, int64_t skip_to, bool force, int64_t limit, int64_t *a,
                     int64_t *b)
{
    int64_t lo, hi, r = db->o.block_range_ms, span;
    if (!dw_tsdb_head_bounds(db, &lo, &hi))
        return false;
    int64_t start = lo;
    if (db->persisted > start)
        start = db->persisted;
    if (skip_to > start)
        start = skip_to;
    if (hi < start || (force && start >= limit))
        return false;
    bool due = force || __builtin_sub_overflow(hi, start, &span) || span >= r + r / 2;
    if (!due)
        return false;
    int64_t w = floor_to(start, r);
    *a = w > db->persisted ? w : db->persisted;
    if (__builtin_add_overflow(w, r, b))
        *b = INT64_MAX;
    if (force && *b > limit)
        *b = limit;
    return *a < *b;
}

static int first_sample(void *ctx, const struct dw_label *labels, size_t n, struct dw_tsdb_iter *it)
{
    (void)labels;
    (void)n;
    int64_t *min = ctx, t;
    double v;
    if (dw_tsdb_iter_next(it, &t, &v) && t < *min)
        *min = t;
    return 0;
}

/* The head's oldest sample at or after t; INT64_MAX when there is none. */
static int64_t head_next_time(struct dw_tsdb *db, int64_t t)
{
    int64_t min = INT64_MAX;
    dw_tsdb_head_cut(db, t, INT64_MAX, first_sample, &min);
    return min;
}

static void log_cut(const struct dw_tsdb_block_meta *m)
{
    char mint[40], maxt[40], series[24], samples[24], bytes[24];
    dw_format_rfc3339(m->mint, mint, sizeof mint);
    dw_format_rfc3339(m->maxt, maxt, sizeof maxt);
    snprintf(series, sizeof series, "%" PRIu64, m->nseries);
    snprintf(samples, sizeof samples, "%" PRIu64, m->nsamples);
    snprintf(bytes, sizeof bytes, "%" PRIu64, m->index_bytes + m->chunk_bytes);
    dw_log_kv(DW_LOG_INFO, LOG_COMPONENT, "head range persisted", "block", m->id, "mint", mint,
              "maxt", maxt, "series", series, "samples", samples, "bytes", bytes, NULL);
}

/* Writes [a, b) of the head as a block, adds and registers it; *samples: in the block. */
static int cut_range(struct dw_tsdb *db, int64_t a, int64_t b, uint64_t *samples, char **err)
{
    *samples = 0;
    raise_floor(dw_tsdb_head_of(db), b);
    pthread_rwlock_wrlock(&db->gate); /* commits that checked the old floor are done */
    pthread_rwlock_unlock(&db->gate);
    struct dw_tsdb_block_meta meta;
    int rc = dw_tsdb_block_write_head(db, db->blocks_dir, a, b, 0, &meta, err);
    if (rc == 0 && meta.id[0]) {
        rc = dw_tsdb_blockdir_add(db->blocks, meta.id, err);
        if (rc == 0) {
            dw_tsdb_sources_sync(db);
            db->trunc_gen = dw_tsdb_sources_gen(db);
            *samples = meta.nsamples;
            log_cut(&meta);
        }
    }
    if (rc == 0)
        db->persisted = b;
    dw_tsdb_block_meta_release(&meta);
    return rc;
}

static int run_cuts(struct dw_tsdb *db, int64_t now, bool force, struct dw_tsdb_maint_result *res,
                    char **err)
{
    int64_t lo, hi, limit = INT64_MAX, skip_to = INT64_MIN, a, b;
    if (force) { /* what the head holds now; later samples are not chased */
        if (!dw_tsdb_head_bounds(db, &lo, &hi))
            return 0;
        limit = hi == INT64_MAX ? INT64_MAX : hi + 1;
    }
    int rc = 0;
    while (rc == 0 && plan_cut(db, skip_to, force, limit, &a, &b)) {
        uint64_t n;
        rc = cut_range(db, a, b, &n, err);
        if (rc == 0 && n == 0) {
            skip_to = head_next_time(db, b);
        } else if (rc == 0) {
            res->blocks_cut++;
            res->samples_cut += n;
            atomic_fetch_add(&db->cuts, 1);
            atomic_store(&db->last_cut_ms, now);
        }
    }
    return rc;
}

/* Truncates the head and the WAL to what is persisted, unless an older querier needs it. */
static int truncate_persisted(struct dw_tsdb *db, struct dw_tsdb_maint_result *res, char **err)
{
    if (db->persisted == INT64_MIN || db->persisted <= db->truncated)
        return 0;
    if (dw_tsdb_sources_oldest_reader(db) < db->trunc_gen) {
        res->truncation_deferred = true;
        if (!db->deferred_logged)
            dw_log_kv(DW_LOG_INFO, LOG_COMPONENT,
                      "head truncation deferred: a query from before the last cut is still open",
                      NULL);
        db->deferred_logged = true;
        return 0;
    }
    int rc = dw_tsdb_head_truncate(db, db->persisted, err);
    if (rc == 0) {
        db->truncated = db->persisted;
        db->deferred_logged = false;
        res->head_truncated = true;
    }
    return rc;
}

static int maintain_blocks(struct dw_tsdb *db, int64_t now, struct dw_tsdb_maint_result *res,
                           char **err)
{
    struct dw_tsdb_blockdir_maint_stats st;
    int rc = dw_tsdb_blockdir_maintain_at(db->blocks, now, &st, err);
    dw_tsdb_sources_sync(db);
    db->last_maint = now;
    atomic_store(&db->last_block_maint_ms, now);
    atomic_fetch_add(&db->compactions, st.compactions);
    atomic_fetch_add(&db->downsampled, st.downsampled);
    atomic_fetch_add(&db->deleted, st.deleted);
    res->blocks_maintained = true;
    res->compactions = st.compactions;
    res->blocks_downsampled = st.downsampled;
    res->blocks_deleted = st.deleted;
    return rc;
}

static bool blocks_due(const struct dw_tsdb *db, int64_t now,
                       const struct dw_tsdb_maint_result *res)
{
    int64_t age;
    return res->blocks_cut > 0 || db->last_maint == INT64_MIN || now < db->last_maint ||
           __builtin_sub_overflow(now, db->last_maint, &age) || age >= db->o.maint_interval_ms;
}

int dw_tsdb_maintain(struct dw_tsdb *db, int64_t now_ms, struct dw_tsdb_maint_result *res,
                     char **err)
{
    struct dw_tsdb_maint_result dummy;
    if (!res)
        res = &dummy;
    memset(res, 0, sizeof *res);
    if (err)
        *err = NULL;
    if (!dw_tsdb_is_loaded(db))
        return DW_TSDB_ELOADING;
    pthread_mutex_lock(&db->maint_mu);
    int rc = run_cuts(db, now_ms, false, res, err);
    if (rc == 0)
        rc = truncate_persisted(db, res, err);
    if (rc == 0 && blocks_due(db, now_ms, res))
        rc = maintain_blocks(db, now_ms, res, err);
    if (rc)
        atomic_fetch_add(&db->maint_errors, 1);
    pthread_mutex_unlock(&db->maint_mu);
    return rc;
}

int dw_tsdb_flush_head(struct dw_tsdb *db, struct dw_tsdb_maint_result *res, char **err)
{
    struct dw_tsdb_maint_result dummy;
    if (!res)
        res = &dummy;
    memset(res, 0, sizeof *res);
    if (err)
        *err = NULL;
    if (!dw_tsdb_is_loaded(db))
        return DW_TSDB_ELOADING;
    pthread_mutex_lock(&db->maint_mu);
    int rc = run_cuts(db, dw_now_ms(), true, res, err);
    if (rc == 0)
        rc = truncate_persisted(db, res, err);
    if (rc)
        atomic_fetch_add(&db->maint_errors, 1);
    pthread_mutex_unlock(&db->maint_mu);
    return rc;
}
