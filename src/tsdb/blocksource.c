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
 * A downsampled block is read through a rollup view: one of its five
 * aggregates (the series with __rollup__="last", say) listed under the raw
 * series' labels, so the querier merges it with the raw data of the same
 * series. The label is hidden: a user matcher on __rollup__ is evaluated
 * against "" (absent), and label listings leave it out. Removing the label
 * keeps the block's label order unless a series has a label name sorting
 * between "__name__" and "__rollup__" (reserved "__o...", "__p..." names);
 * such series may then be listed out of order.
 *
 * Threads: as the block cursor (one thread per cursor, views shareable).
 */
#include <stdlib.h>
#include <string.h>

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

/* ---- rollup views of downsampled blocks ---- */

struct rview {
    struct dw_tsdb_block *b;
    int64_t mint, maxt;
    struct dw_tsdb_matcher *rollup; /* __rollup__="<name>" */
};

struct rcur {
    struct dw_tsdb_block_cursor *c; /* NULL: the selection is empty */
    struct dw_label *lab;           /* the current series without __rollup__ */
    size_t nlab, cap;
};

enum dw_tsdb_rollup dw_tsdb_rollup_parse(const char *s)
{
    for (int r = 0; r < DW_TSDB_ROLLUP_N; r++)
        if (s && strcmp(s, dw_tsdb_rollup_name((enum dw_tsdb_rollup)r)) == 0)
            return (enum dw_tsdb_rollup)r;
    return DW_TSDB_ROLLUP_N;
}

void *dw_tsdb_block_rollup_open(struct dw_tsdb_block *b, enum dw_tsdb_rollup r, int64_t mint,
                                int64_t maxt)
{
    struct rview *v = dw_calloc(1, sizeof *v);
    dw_tsdb_block_ref(b);
    v->b = b;
    v->mint = mint;
    v->maxt = maxt;
    v->rollup =
        dw_tsdb_matcher_new(DW_MATCH_EQ, DW_TSDB_ROLLUP_LABEL, dw_tsdb_rollup_name(r), NULL);
    return v;
}

static void r_close(void *view)
{
    struct rview *v = view;
    if (!v)
        return;
    dw_tsdb_matcher_free(&v->rollup);
    dw_tsdb_block_unref(&v->b);
    free(v);
}

/*
 * The user's matchers plus the rollup's, in out (n + 1 entries). Matchers on
 * __rollup__ are decided here against the hidden (absent) label: false when
 * one of them rejects "", so nothing can match.
 */
static bool rollup_matchers(const struct rview *v, struct dw_tsdb_matcher *const *ms, size_t n,
                            struct dw_tsdb_matcher **out, size_t *k)
{
    *k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(dw_tsdb_matcher_name(ms[i]), DW_TSDB_ROLLUP_LABEL) != 0)
            out[(*k)++] = ms[i];
        else if (!dw_tsdb_matcher_matches(ms[i], ""))
            return false;
    }
    out[(*k)++] = v->rollup;
    return true;
}

static void *r_select(void *view, struct dw_tsdb_matcher *const *ms, size_t n)
{
    struct rview *v = view;
    if (!v->rollup)
        return NULL;
    struct rcur *rc = dw_calloc(1, sizeof *rc);
    struct dw_tsdb_matcher **all = dw_malloc((n + 1) * sizeof *all);
    size_t k;
    if (rollup_matchers(v, ms, n, all, &k)) {
        rc->c = dw_tsdb_block_select(v->b, all, k, v->mint, v->maxt);
        if (dw_tsdb_block_cursor_err(rc->c)) {
            dw_tsdb_block_cursor_free(&rc->c);
            free(rc);
            rc = NULL;
        }
    }
    free(all);
    return rc;
}

static bool r_next(void *cur)
{
    struct rcur *rc = cur;
    if (!rc->c || !dw_tsdb_block_cursor_next(rc->c))
        return false;
    size_t n;
    const struct dw_label *l = dw_tsdb_block_cursor_labels(rc->c, &n);
    rc->lab = dw_grow(rc->lab, &rc->cap, n ? n : 1, sizeof *rc->lab);
    rc->nlab = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i].name, DW_TSDB_ROLLUP_LABEL) != 0)
            rc->lab[rc->nlab++] = l[i];
    return true;
}

static const struct dw_label *r_labels(void *cur, size_t *n)
{
    struct rcur *rc = cur;
    *n = rc->nlab;
    return rc->lab;
}

static bool r_chunk(void *cur, int64_t min_t, const int64_t **t, const double **v, size_t *n)
{
    struct rcur *rc = cur;
    return rc->c && dw_tsdb_block_cursor_batch(rc->c, min_t, t, v, n);
}

static int r_err(void *cur)
{
    struct rcur *rc = cur;
    return rc->c ? dw_tsdb_block_cursor_err(rc->c) : 0;
}

static void r_cursor_free(void *cur)
{
    struct rcur *rc = cur;
    dw_tsdb_block_cursor_free(&rc->c);
    free(rc->lab);
    free(rc);
}

static int r_label_strings(void *view, const char *name, struct dw_tsdb_matcher *const *ms,
                           size_t n, void (*add)(void *out, const char *s), void *out)
{
    struct rview *v = view;
    if (!v->rollup || (name && strcmp(name, DW_TSDB_ROLLUP_LABEL) == 0))
        return 0;
    struct dw_tsdb_matcher **all = dw_malloc((n + 1) * sizeof *all);
    size_t k;
    int rc = 0;
    if (rollup_matchers(v, ms, n, all, &k)) {
        const char **strs;
        size_t count;
        rc = dw_tsdb_block_label_strings(v->b, name, all, k, &strs, &count);
        for (size_t i = 0; rc == 0 && i < count; i++)
            if (name || strcmp(strs[i], DW_TSDB_ROLLUP_LABEL) != 0)
                add(out, strs[i]);
        if (rc == 0)
            free(strs);
    }
    free(all);
    return rc;
}

static void r_bounds(void *src, int64_t *mint, int64_t *maxt)
{
    src_bounds(src, mint, maxt);
}

static const struct dw_tsdb_source_ops rollup_ops = {
    .bounds = r_bounds,
    .open = NULL, /* views come from dw_tsdb_block_rollup_open */
    .close = r_close,
    .select = r_select,
    .next = r_next,
    .labels = r_labels,
    .chunk = r_chunk,
    .err = r_err,
    .cursor_free = r_cursor_free,
    .label_strings = r_label_strings,
};

const struct dw_tsdb_source_ops *dw_tsdb_block_rollup_ops(void)
{
    return &rollup_ops;
}
