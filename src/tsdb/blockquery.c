/*
 * blockquery.c - reading series and samples out of an opened block.
 *
 * DESIGN: a select resolves the matchers to series ordinals through the
 * postings (blockindex.c), then walks them in order (ordinals are label
 * order). For each series only its index record is decoded up front: labels
 * point into the mapped symbol table, chunk refs carry each chunk's time
 * range. A chunk is decoded only when the iteration reaches it, and a seek
 * skips chunks whose last sample is before the target without touching
 * their page. Decoding goes straight from the (cached) page into the
 * cursor's two arrays, then samples are trimmed to the query range.
 *
 * Anything that does not decode marks the block corrupt (quarantine, one
 * log line) and ends the cursor with DW_TSDB_ECORRUPT.
 *
 * Threads: a cursor belongs to one thread; many cursors may read one block.
 */
#include <stdlib.h>
#include <string.h>

#include "tsdb/block_internal.h"

struct dw_tsdb_block_cursor {
    struct dw_tsdb_block *b; /* referenced */
    int64_t mint, maxt;      /* inclusive */
    uint32_t *ids;
    size_t nids, pos;
    struct dw_tsdb_ixr_series s; /* the current series */
    bool in_series;
    size_t chunk; /* next chunk of s to load */
    int64_t *t;   /* the decoded chunk */
    double *v;
    size_t cap;
    size_t i, n;  /* next sample to return, end of the trimmed chunk */
    bool has_cur; /* the sample returned last, for seeks that do not move */
    int64_t cur_t;
    double cur_v;
    int err;
};

struct dw_tsdb_block_cursor *dw_tsdb_block_select(struct dw_tsdb_block *b,
                                                  struct dw_tsdb_matcher *const *ms, size_t n,
                                                  int64_t mint, int64_t maxt)
{
    struct dw_tsdb_block_cursor *c = dw_calloc(1, sizeof *c);
    dw_tsdb_block_ref(b);
    c->b = b;
    c->mint = mint;
    c->maxt = maxt;
    const struct dw_tsdb_block_meta *m = dw_tsdb_block_meta_of(b);
    if (maxt < mint || maxt < m->mint || mint >= m->maxt)
        return c; /* no overlap: nothing to look up */
    c->err = dw_tsdb_block_postings(b, ms, n, &c->ids, &c->nids);
    return c;
}

void dw_tsdb_block_cursor_free(struct dw_tsdb_block_cursor **cp)
{
    if (!cp || !*cp)
        return;
    struct dw_tsdb_block_cursor *c = *cp;
    dw_tsdb_ixr_series_release(&c->s);
    free(c->ids);
    free(c->t);
    free(c->v);
    dw_tsdb_block_unref(&c->b);
    free(c);
    *cp = NULL;
}

int dw_tsdb_block_cursor_err(const struct dw_tsdb_block_cursor *c)
{
    return c->err;
}

static void fail(struct dw_tsdb_block_cursor *c, const char *reason)
{
    c->err = DW_TSDB_ECORRUPT;
    c->in_series = false;
    c->pos = c->nids;
    dw_tsdb_block_set_corrupt(c->b, reason);
}

static bool overlaps(const struct dw_tsdb_ixr_chunk *k, int64_t lo, int64_t hi)
{
    return k->maxt >= lo && k->mint <= hi;
}

bool dw_tsdb_block_cursor_next(struct dw_tsdb_block_cursor *c)
{
    c->in_series = false;
    while (!c->err && c->pos < c->nids) {
        int rc = dw_tsdb_ixr_series(dw_tsdb_block_index(c->b), c->ids[c->pos++], &c->s);
        if (rc) {
            fail(c, "index: series record does not decode");
            return false;
        }
        for (size_t k = 0; k < c->s.nchunks; k++) {
            if (overlaps(&c->s.chunks[k], c->mint, c->maxt)) {
                c->chunk = k;
                c->i = c->n = 0;
                c->has_cur = false;
                c->in_series = true;
                return true;
            }
        }
    }
    return false;
}

const struct dw_label *dw_tsdb_block_cursor_labels(struct dw_tsdb_block_cursor *c, size_t *n)
{
    *n = c->in_series ? c->s.nlabels : 0;
    return c->s.labels;
}

/* First index in [from, n) with t[i] >= x. */
static size_t lower_bound(const int64_t *t, size_t from, size_t n, int64_t x)
{
    while (from < n) {
        size_t mid = from + (n - from) / 2;
        if (t[mid] < x)
            from = mid + 1;
        else
            n = mid;
    }
    return from;
}

/* Decodes chunk k of the current series into the arrays. */
static int decode_chunk(struct dw_tsdb_block_cursor *c, const struct dw_tsdb_ixr_chunk *k,
                        size_t *n)
{
    struct dw_tsdb_block_page pg;
    int rc = dw_tsdb_block_page_get(c->b, k->page, &pg);
    if (rc) {
        fail(c, "chunks: a page does not decode"); /* already marked: logs nothing more */
        return rc;
    }
    const uint8_t *data;
    size_t len, cnt = 0;
    rc = dw_tsdb_page_chunk(pg.pg, k->slot, &data, &len);
    if (rc == 0)
        rc = dw_tsdb_blockchunk_count(data, len, &cnt);
    if (rc == 0 && (cnt == 0 || cnt > DW_TSDB_BLOCK_MAX_SAMPLES))
        rc = DW_TSDB_ECORRUPT;
    if (rc == 0 && cnt > c->cap) {
        c->cap = cnt;
        c->t = dw_realloc(c->t, cnt * sizeof *c->t);
        c->v = dw_realloc(c->v, cnt * sizeof *c->v);
    }
    if (rc == 0)
        rc = dw_tsdb_blockchunk_decode(data, len, c->t, c->v, c->cap, n);
    dw_tsdb_block_page_put(c->b, &pg);
    /* The index's time range must be the chunk's, or seeks would skip data. */
    if (rc == 0 && (*n != cnt || c->t[0] != k->mint || c->t[*n - 1] != k->maxt))
        rc = DW_TSDB_ECORRUPT;
    if (rc)
        fail(c, "chunks: a chunk does not decode or disagrees with the index");
    return rc ? DW_TSDB_ECORRUPT : 0;
}

/* Loads the next chunk with samples in [max(lo, mint), maxt]; false when none is left. */
static bool load_next(struct dw_tsdb_block_cursor *c, int64_t lo)
{
    if (lo < c->mint)
        lo = c->mint;
    while (c->in_series && c->chunk < c->s.nchunks) {
        const struct dw_tsdb_ixr_chunk *k = &c->s.chunks[c->chunk++];
        if (k->mint > c->maxt) {
            c->chunk = c->s.nchunks; /* chunks are in time order */
            break;
        }
        if (k->maxt < lo)
            continue; /* skipped without decoding */
        size_t n;
        if (decode_chunk(c, k, &n))
            return false;
        c->i = lower_bound(c->t, 0, n, lo);
        c->n = c->maxt == INT64_MAX ? n : lower_bound(c->t, c->i, n, c->maxt + 1);
        if (c->i < c->n)
            return true;
    }
    c->i = c->n = 0;
    return false;
}

static bool emit(struct dw_tsdb_block_cursor *c, int64_t *t, double *v)
{
    c->cur_t = c->t[c->i];
    c->cur_v = c->v[c->i];
    c->has_cur = true;
    c->i++;
    *t = c->cur_t;
    *v = c->cur_v;
    return true;
}

bool dw_tsdb_block_cursor_sample(struct dw_tsdb_block_cursor *c, int64_t *t, double *v)
{
    if (c->i >= c->n && !load_next(c, c->mint)) /* later chunks start after cur_t */
        return false;
    return emit(c, t, v);
}

bool dw_tsdb_block_cursor_seek(struct dw_tsdb_block_cursor *c, int64_t x, int64_t *ts, double *v)
{
    if (c->has_cur && c->cur_t >= x) {
        *ts = c->cur_t;
        *v = c->cur_v;
        return true;
    }
    if (c->i < c->n && c->t[c->n - 1] >= x) {
        c->i = lower_bound(c->t, c->i, c->n, x);
        return emit(c, ts, v);
    }
    if (!load_next(c, x))
        return false;
    return emit(c, ts, v);
}

bool dw_tsdb_block_cursor_batch(struct dw_tsdb_block_cursor *c, int64_t min_t, const int64_t **t,
                                const double **v, size_t *n)
{
    if (!load_next(c, min_t))
        return false;
    *t = c->t + c->i;
    *v = c->v + c->i;
    *n = c->n - c->i;
    c->i = c->n;
    return true;
}
