/*
 * blocksource.c - a block as a series source of the querier.
 *
 * DESIGN: the querier merges the head with other sources through the
 * operations of head_internal.h. A block maps onto them one to one: a view
 * holds a reference on the block for the querier's lifetime (so the block
 * survives compaction or retention deleting it meanwhile), select is a block
 * cursor, and chunk() hands out one decoded block chunk at a time, trimmed
 * to the view's range, without copying it again.
 *
 * Block ranges are half-open [mint, maxt); sources report inclusive bounds.
 *
 * Threads: as the block cursor (one thread per cursor, views shareable).
 */
#include <stdlib.h>

#include "tsdb/block_internal.h"
#include "tsdb/head_internal.h"

struct view {
    struct dw_tsdb_block *b;
    int64_t mint, maxt;
};

static void src_bounds(void *src, int64_t *mint, int64_t *maxt)
{
    const struct dw_tsdb_block_meta *m = dw_tsdb_block_meta_of(src);
    *mint = m->mint;
    *maxt = m->maxt - 1;
}

static void *src_open(void *src, int64_t mint, int64_t maxt)
{
    struct view *v = dw_calloc(1, sizeof *v);
    dw_tsdb_block_ref(src);
    v->b = src;
    v->mint = mint;
    v->maxt = maxt;
    return v;
}

static void src_close(void *view)
{
    struct view *v = view;
    if (!v)
        return;
    dw_tsdb_block_unref(&v->b);
    free(v);
}

static void *src_select(void *view, struct dw_tsdb_matcher *const *ms, size_t n)
{
    struct view *v = view;
    struct dw_tsdb_block_cursor *c = dw_tsdb_block_select(v->b, ms, n, v->mint, v->maxt);
    if (dw_tsdb_block_cursor_err(c)) {
        dw_tsdb_block_cursor_free(&c);
        return NULL;
    }
    return c;
}

static bool src_next(void *cur)
{
    return dw_tsdb_block_cursor_next(cur);
}

static const struct dw_label *src_labels(void *cur, size_t *n)
{
    return dw_tsdb_block_cursor_labels(cur, n);
}

static bool src_chunk(void *cur, int64_t min_t, const int64_t **t, const double **v, size_t *n)
{
    return dw_tsdb_block_cursor_batch(cur, min_t, t, v, n);
}

static int src_err(void *cur)
{
    return dw_tsdb_block_cursor_err(cur);
}

static void src_cursor_free(void *cur)
{
    struct dw_tsdb_block_cursor *c = cur;
    dw_tsdb_block_cursor_free(&c);
}

static int src_label_strings(void *view, const char *name, struct dw_tsdb_matcher *const *ms,
                             size_t n, void (*add)(void *out, const char *s), void *out)
{
    struct view *v = view;
    const char **strs;
    size_t count;
    int rc = dw_tsdb_block_label_strings(v->b, name, ms, n, &strs, &count);
    if (rc)
        return rc;
    for (size_t i = 0; i < count; i++)
        add(out, strs[i]);
    free(strs);
    return 0;
}

static const struct dw_tsdb_source_ops block_ops = {
    .bounds = src_bounds,
    .open = src_open,
    .close = src_close,
    .select = src_select,
    .next = src_next,
    .labels = src_labels,
    .chunk = src_chunk,
    .err = src_err,
    .cursor_free = src_cursor_free,
    .label_strings = src_label_strings,
};

const struct dw_tsdb_source_ops *dw_tsdb_block_source_ops(void)
{
    return &block_ops;
}
