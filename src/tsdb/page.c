/*
 * page.c - pages: many block chunks stored (and read) together.
 *
 * DESIGN: a block writer adds the encoded chunks of consecutive series
 * until about DW_TSDB_PAGE_TARGET raw bytes, then finishes the page: a
 * table of chunk lengths followed by the chunks, zstd-compressed when that
 * is smaller. zstd finds what a per-series coder cannot, e.g. identical
 * histogram buckets (le="+Inf" and _count) and repeated chunk headers. An
 * index entry is then (page offset, chunk number).
 *
 * Reading validates everything against the bytes present: the declared raw
 * size (at most DW_TSDB_PAGE_MAX_RAW), the zstd frame's content size, and a
 * table whose lengths must add up exactly. An uncompressed page is read in
 * place, without a copy.
 *
 * Threads: a page writer belongs to one thread; an opened page is read-only
 * and may be shared.
 */
#include <stdlib.h>
#include <zstd.h>

#include "tsdb/tsdb.h"
#include "tsdb/tsdb_internal.h"

enum { PAGE_RAW = 0, PAGE_ZSTD = 1 };

struct dw_tsdb_page_writer {
    int level;
    struct dw_buf data;   /* the chunks, concatenated */
    size_t *lens;
    size_t count, cap;
    struct dw_buf payload; /* table + data, assembled at finish */
    ZSTD_CCtx *cctx;
    void *zbuf;
    size_t zcap;
};

struct dw_tsdb_page_writer *dw_tsdb_page_writer_new(int zstd_level)
{
    struct dw_tsdb_page_writer *pw = dw_calloc(1, sizeof *pw);
    pw->level = zstd_level < 0 ? 0 : zstd_level > 19 ? 19 : zstd_level;
    dw_buf_init(&pw->data, DW_TSDB_PAGE_MAX_RAW);
    dw_buf_init(&pw->payload, 0);
    if (pw->level > 0) {
        pw->cctx = ZSTD_createCCtx();
        if (!pw->cctx)
            dw_oom(0);
    }
    return pw;
}

void dw_tsdb_page_writer_free(struct dw_tsdb_page_writer **pw)
{
    if (!pw || !*pw)
        return;
    struct dw_tsdb_page_writer *w = *pw;
    dw_buf_release(&w->data);
    dw_buf_release(&w->payload);
    free(w->lens);
    free(w->zbuf);
    ZSTD_freeCCtx(w->cctx);
    free(w);
    *pw = NULL;
}

/* Table size upper bound: one count plus one varint per chunk. */
static size_t table_max(size_t count)
{
    return DW_TSDB_VARINT_MAX * (count + 1);
}

long dw_tsdb_page_writer_add(struct dw_tsdb_page_writer *pw, const uint8_t *chunk, size_t len)
{
    if (len == 0 || pw->data.len + len + table_max(pw->count + 1) > DW_TSDB_PAGE_MAX_RAW)
        return -1;
    if (dw_buf_append(&pw->data, chunk, len) < 0)
        return -1;
    pw->lens = dw_grow(pw->lens, &pw->cap, pw->count + 1, sizeof *pw->lens);
    pw->lens[pw->count] = len;
    return (long)pw->count++;
}

size_t dw_tsdb_page_writer_raw_size(const struct dw_tsdb_page_writer *pw)
{
    return pw->data.len + pw->count;
}

size_t dw_tsdb_page_writer_count(const struct dw_tsdb_page_writer *pw)
{
    return pw->count;
}

int dw_tsdb_page_writer_finish(struct dw_tsdb_page_writer *pw, struct dw_buf *out)
{
    struct dw_buf *p = &pw->payload;
    p->len = 0;
    dw_tsdb_buf_uvarint(p, pw->count);
    for (size_t i = 0; i < pw->count; i++)
        dw_tsdb_buf_uvarint(p, pw->lens[i]);
    if (pw->data.len)
        dw_buf_append(p, pw->data.data, pw->data.len);

    uint8_t codec = PAGE_RAW;
    const void *body = p->data;
    size_t body_len = p->len;
    if (pw->level > 0) {
        size_t bound = ZSTD_compressBound(p->len);
        if (bound > pw->zcap) {
            pw->zbuf = dw_realloc(pw->zbuf, bound);
            pw->zcap = bound;
        }
        size_t z = ZSTD_compressCCtx(pw->cctx, pw->zbuf, pw->zcap, p->data, p->len, pw->level);
        if (!ZSTD_isError(z) && z < p->len) {
            codec = PAGE_ZSTD;
            body = pw->zbuf;
            body_len = z;
        }
    }
    size_t start = out->len;
    int rc = dw_buf_append(out, &codec, 1);
    rc |= dw_tsdb_buf_uvarint(out, p->len);
    rc |= dw_buf_append(out, body, body_len);
    pw->data.len = 0;
    pw->count = 0;
    if (rc) {
        out->len = start;
        return DW_TSDB_ELIMIT;
    }
    return 0;
}

struct dw_tsdb_page {
    uint8_t *owned;         /* decompressed payload, NULL for raw pages */
    const uint8_t *payload; /* chunk bytes start here */
    size_t *offs;           /* count + 1 offsets into payload */
    size_t count;
};

void dw_tsdb_page_free(struct dw_tsdb_page **p)
{
    if (!p || !*p)
        return;
    free((*p)->owned);
    free((*p)->offs);
    free(*p);
    *p = NULL;
}

static int page_table(struct dw_tsdb_page *pg, const uint8_t *payload, size_t len)
{
    struct dw_tsdb_rd r;
    dw_tsdb_rd_init(&r, payload, len);
    uint64_t count = dw_tsdb_rd_uvarint(&r);
    if (r.bad || count > len) /* every chunk takes at least one byte */
        return DW_TSDB_ECORRUPT;
    pg->count = (size_t)count;
    pg->offs = dw_malloc((pg->count + 1) * sizeof *pg->offs);
    size_t off = 0;
    for (size_t i = 0; i < pg->count; i++) {
        uint64_t l = dw_tsdb_rd_uvarint(&r);
        if (r.bad || l == 0 || l > len)
            return DW_TSDB_ECORRUPT;
        pg->offs[i] = off;
        off += (size_t)l;
        if (off > len)
            return DW_TSDB_ECORRUPT;
    }
    pg->offs[pg->count] = off;
    if (off != dw_tsdb_rd_left(&r))
        return DW_TSDB_ECORRUPT;
    pg->payload = r.p;
    return 0;
}

int dw_tsdb_page_open(const uint8_t *data, size_t len, struct dw_tsdb_page **out)
{
    *out = NULL;
    struct dw_tsdb_rd r;
    dw_tsdb_rd_init(&r, data, len);
    uint8_t codec = dw_tsdb_rd_u8(&r);
    uint64_t raw_len = dw_tsdb_rd_uvarint(&r);
    if (r.bad || codec > PAGE_ZSTD)
        return DW_TSDB_ECORRUPT;
    if (raw_len > DW_TSDB_PAGE_MAX_RAW)
        return DW_TSDB_ELIMIT;
    struct dw_tsdb_page *pg = dw_calloc(1, sizeof *pg);
    const uint8_t *payload = r.p;
    size_t body = dw_tsdb_rd_left(&r);
    int rc = 0;
    if (codec == PAGE_RAW) {
        if (body != raw_len)
            rc = DW_TSDB_ECORRUPT;
    } else {
        unsigned long long fs = ZSTD_getFrameContentSize(r.p, body);
        if (fs != raw_len) {
            rc = DW_TSDB_ECORRUPT;
        } else {
            pg->owned = dw_malloc(raw_len ? (size_t)raw_len : 1);
            size_t got = ZSTD_decompress(pg->owned, (size_t)raw_len, r.p, body);
            if (ZSTD_isError(got) || got != raw_len)
                rc = DW_TSDB_ECORRUPT;
            payload = pg->owned;
        }
    }
    if (rc == 0)
        rc = page_table(pg, payload, (size_t)raw_len);
    if (rc) {
        dw_tsdb_page_free(&pg);
        return rc;
    }
    *out = pg;
    return 0;
}

size_t dw_tsdb_page_count(const struct dw_tsdb_page *p)
{
    return p->count;
}

int dw_tsdb_page_chunk(const struct dw_tsdb_page *p, size_t i, const uint8_t **data, size_t *len)
{
    if (i >= p->count)
        return DW_TSDB_EINVAL;
    *data = p->payload + p->offs[i];
    *len = p->offs[i + 1] - p->offs[i];
    return 0;
}
