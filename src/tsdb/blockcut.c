/*
 * blockcut.c - persisting a range of the head as a block.
 *
 * DESIGN: glue between the head's cut hook (dw_tsdb_head_cut, which visits
 * the head's series with samples in [mint, maxt) in label order) and the
 * block writer. Each series is read through its iterator into two reused
 * arrays and added; memory is one series' samples plus the writer's bounded
 * chunk buffer and index. The caller then registers the block and
 * truncates the head (see "head maintenance" in tsdb.h).
 *
 * Threads: runs on the caller's thread; appends may continue meanwhile
 * (the cut reads each series as of when it reaches it).
 */
#include <stdlib.h>
#include <string.h>

#include "tsdb/block_internal.h"

struct cut_ctx {
    struct dw_tsdb_block_writer *w;
    int64_t *t;
    double *v;
    size_t cap;
    int err;
};

static int cut_series(void *p, const struct dw_label *labels, size_t n, struct dw_tsdb_iter *it)
{
    struct cut_ctx *c = p;
    size_t k = 0;
    int64_t t;
    double v;
    while (dw_tsdb_iter_next(it, &t, &v)) {
        if (k == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 1024;
            c->t = dw_realloc(c->t, c->cap * sizeof *c->t);
            c->v = dw_realloc(c->v, c->cap * sizeof *c->v);
        }
        c->t[k] = t;
        c->v[k++] = v;
    }
    int rc = dw_tsdb_iter_err(it);
    if (rc == 0)
        rc = dw_tsdb_block_writer_add(c->w, labels, n, c->t, c->v, k);
    c->err = rc;
    return rc;
}

int dw_tsdb_block_write_head(struct dw_tsdb *db, const char *dir, int64_t mint, int64_t maxt,
                             int zstd_level, struct dw_tsdb_block_meta *meta, char **err)
{
    if (meta)
        memset(meta, 0, sizeof *meta);
    struct dw_tsdb_block_wopts o;
    dw_tsdb_block_wopts_init(&o, mint, maxt);
    o.zstd_level = zstd_level;
    struct cut_ctx c = {.w = dw_tsdb_block_writer_new(dir, &o, err)};
    if (!c.w)
        return DW_TSDB_EIO;
    int rc = dw_tsdb_head_cut(db, mint, maxt, cut_series, &c);
    free(c.t);
    free(c.v);
    if (rc) {
        if (err)
            *err = dw_asprintf("head cut [%lld, %lld): %s", (long long)mint, (long long)maxt,
                               dw_tsdb_strerror(rc));
        dw_tsdb_block_writer_abort(&c.w);
        return rc;
    }
    return dw_tsdb_block_writer_commit(&c.w, meta, err);
}
