/*
 * blockindex.c - the index file of a block: built in memory by the block
 * writer, read in place from a read-only mmap.
 *
 * DESIGN: the index answers "which series match these matchers" and "where
 * are this series' chunks" without reading the chunks. Sections:
 *
 *   symbols         every label name and value once, sorted, NUL-terminated
 *                   so label strings handed to readers point into the map;
 *                   a u32 offset per symbol for O(1) lookup by id and binary
 *                   search by string (ids are in string order)
 *   series          per series (ordinal = position in label order): label
 *                   pairs as symbol ids, chunk refs (time range, page, slot)
 *   series offsets  u32 per series, random access by ordinal
 *   postings        per label pair the ascending ordinals, delta-coded
 *   labels          per label name its values (fixed-width: symbol id,
 *                   postings offset), so value lookups are binary searches
 *   pages           per page of the chunks file: offset, length, CRC32C
 *
 * A trailer holds the table of contents with a CRC32C per section. Opening
 * checks every CRC (the index is small next to the data) and the structure
 * that later lookups rely on (symbol order, offsets in range); everything
 * decoded later is still bounds-checked, since a CRC does not protect
 * against a writer bug. Byte layout: docs/internals/tsdb-blocks.md.
 *
 * Threads: a builder belongs to one thread; a reader is immutable after
 * open and may be shared.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tsdb/block_internal.h"
#include "tsdb/tsdb_internal.h"

static const uint8_t ix_magic[4] = {'D', 'W', 'I', 'X'};
#define IX_VERSION 1
#define IX_HEADER 8
#define IX_TOC_ENTRY 20
#define IX_TRAILER (DW_TSDB_IX_NSEC * IX_TOC_ENTRY + 8 + 4 + 4)

/* ================= builder ================= */

struct ixb_series {
    uint64_t hash;
    size_t lab; /* first of 2 * nlabels entries in ixb.labels */
    uint32_t nlabels;
    uint32_t chunk0; /* first chunk handle */
    uint32_t nchunks;
    uint32_t ord; /* ordinal once sorted */
};

struct ixb_chunk {
    int64_t mint, maxt;
    uint32_t page, slot;
};

struct ixb_page {
    uint64_t off;
    uint32_t len, crc;
};

struct dw_tsdb_ixb {
    struct dw_buf strs; /* symbol strings, each NUL-terminated */
    size_t *sym_off;    /* temporary id -> offset in strs */
    uint32_t nsyms;
    size_t sym_cap;
    uint32_t *symmap; /* open addressing: id + 1 */
    size_t symmap_cap;
    struct ixb_series *series;
    size_t nseries, series_cap;
    uint32_t *labels; /* temporary symbol pairs */
    size_t nlabels, labels_cap;
    uint32_t *sermap; /* open addressing: series index + 1 */
    size_t sermap_cap;
    struct ixb_chunk *chunks;
    size_t nchunks, chunks_cap;
    struct ixb_page *pages;
    size_t npages, pages_cap;
};

static uint64_t hash_bytes(const void *p, size_t n, uint64_t h)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * UINT64_C(0x100000001b3);
    return h;
}

#define HASH_SEED UINT64_C(0xcbf29ce484222325)

struct dw_tsdb_ixb *dw_tsdb_ixb_new(void)
{
    struct dw_tsdb_ixb *b = dw_calloc(1, sizeof *b);
    dw_buf_init(&b->strs, 0);
    return b;
}

void dw_tsdb_ixb_free(struct dw_tsdb_ixb **bp)
{
    if (!bp || !*bp)
        return;
    struct dw_tsdb_ixb *b = *bp;
    dw_buf_release(&b->strs);
    free(b->sym_off);
    free(b->symmap);
    free(b->series);
    free(b->labels);
    free(b->sermap);
    free(b->chunks);
    free(b->pages);
    free(b);
    *bp = NULL;
}

static const char *ixb_str(const struct dw_tsdb_ixb *b, uint32_t id)
{
    return b->strs.data + b->sym_off[id];
}

static void symmap_rehash(struct dw_tsdb_ixb *b)
{
    size_t cap = b->symmap_cap ? b->symmap_cap * 2 : 1024;
    free(b->symmap);
    b->symmap = dw_calloc(cap, sizeof *b->symmap);
    b->symmap_cap = cap;
    for (uint32_t id = 0; id < b->nsyms; id++) {
        const char *s = ixb_str(b, id);
        size_t h = hash_bytes(s, strlen(s), HASH_SEED) & (cap - 1);
        while (b->symmap[h])
            h = (h + 1) & (cap - 1);
        b->symmap[h] = id + 1;
    }
}

static uint32_t ixb_intern(struct dw_tsdb_ixb *b, const char *s)
{
    if ((size_t)b->nsyms * 2 >= b->symmap_cap)
        symmap_rehash(b);
    size_t len = strlen(s);
    size_t h = hash_bytes(s, len, HASH_SEED) & (b->symmap_cap - 1);
    while (b->symmap[h]) {
        uint32_t id = b->symmap[h] - 1;
        if (strcmp(ixb_str(b, id), s) == 0)
            return id;
        h = (h + 1) & (b->symmap_cap - 1);
    }
    b->sym_off = dw_grow(b->sym_off, &b->sym_cap, (size_t)b->nsyms + 1, sizeof *b->sym_off);
    b->sym_off[b->nsyms] = b->strs.len;
    dw_buf_append(&b->strs, s, len + 1);
    b->symmap[h] = b->nsyms + 1;
    return b->nsyms++;
}

static bool series_equal(const struct dw_tsdb_ixb *b, const struct ixb_series *s,
                         const uint32_t *pairs, size_t n)
{
    return s->nlabels == n && memcmp(b->labels + s->lab, pairs, 2 * n * sizeof *pairs) == 0;
}

static void sermap_rehash(struct dw_tsdb_ixb *b)
{
    size_t cap = b->sermap_cap ? b->sermap_cap * 2 : 1024;
    free(b->sermap);
    b->sermap = dw_calloc(cap, sizeof *b->sermap);
    b->sermap_cap = cap;
    for (size_t i = 0; i < b->nseries; i++) {
        size_t h = b->series[i].hash & (cap - 1);
        while (b->sermap[h])
            h = (h + 1) & (cap - 1);
        b->sermap[h] = (uint32_t)i + 1;
    }
}

int dw_tsdb_ixb_add_series(struct dw_tsdb_ixb *b, const struct dw_label *l, size_t n, uint32_t *sid)
{
    if (b->nseries >= UINT32_MAX - 1)
        return DW_TSDB_ELIMIT;
    if (b->nseries * 2 >= b->sermap_cap)
        sermap_rehash(b);
    b->labels = dw_grow(b->labels, &b->labels_cap, b->nlabels + 2 * n, sizeof *b->labels);
    uint32_t *pairs = b->labels + b->nlabels;
    for (size_t i = 0; i < n; i++) {
        pairs[2 * i] = ixb_intern(b, l[i].name);
        pairs[2 * i + 1] = ixb_intern(b, l[i].value);
    }
    uint64_t hash = hash_bytes(pairs, 2 * n * sizeof *pairs, HASH_SEED);
    size_t h = hash & (b->sermap_cap - 1);
    while (b->sermap[h]) {
        const struct ixb_series *o = &b->series[b->sermap[h] - 1];
        if (o->hash == hash && series_equal(b, o, pairs, n))
            return DW_TSDB_EINVAL; /* the same series twice */
        h = (h + 1) & (b->sermap_cap - 1);
    }
    b->series = dw_grow(b->series, &b->series_cap, b->nseries + 1, sizeof *b->series);
    b->series[b->nseries] = (struct ixb_series){
        .hash = hash, .lab = b->nlabels, .nlabels = (uint32_t)n, .chunk0 = (uint32_t)b->nchunks};
    b->nlabels += 2 * n;
    b->sermap[h] = (uint32_t)b->nseries + 1;
    *sid = (uint32_t)b->nseries++;
    return 0;
}

int dw_tsdb_ixb_add_chunk(struct dw_tsdb_ixb *b, uint32_t sid, int64_t mint, int64_t maxt,
                          uint32_t *handle)
{
    struct ixb_series *s = &b->series[sid];
    if (s->chunk0 + s->nchunks != b->nchunks || b->nchunks >= UINT32_MAX - 1)
        return DW_TSDB_EINVAL; /* chunks of a series must be added together */
    b->chunks = dw_grow(b->chunks, &b->chunks_cap, b->nchunks + 1, sizeof *b->chunks);
    b->chunks[b->nchunks] = (struct ixb_chunk){.mint = mint, .maxt = maxt, .page = UINT32_MAX};
    s->nchunks++;
    *handle = (uint32_t)b->nchunks++;
    return 0;
}

void dw_tsdb_ixb_place_chunk(struct dw_tsdb_ixb *b, uint32_t handle, uint32_t page, uint32_t slot)
{
    b->chunks[handle].page = page;
    b->chunks[handle].slot = slot;
}

uint32_t dw_tsdb_ixb_add_page(struct dw_tsdb_ixb *b, uint64_t off, uint32_t len, uint32_t crc)
{
    b->pages = dw_grow(b->pages, &b->pages_cap, b->npages + 1, sizeof *b->pages);
    b->pages[b->npages] = (struct ixb_page){off, len, crc};
    return (uint32_t)b->npages++;
}

size_t dw_tsdb_ixb_series_count(const struct dw_tsdb_ixb *b)
{
    return b->nseries;
}

void dw_tsdb_ixb_series_labels(const struct dw_tsdb_ixb *b, uint32_t sid, struct dw_label *out,
                               size_t *n)
{
    const struct ixb_series *s = &b->series[sid];
    for (uint32_t i = 0; i < s->nlabels; i++) {
        out[i].name = ixb_str(b, b->labels[s->lab + 2 * i]);
        out[i].value = ixb_str(b, b->labels[s->lab + 2 * i + 1]);
    }
    *n = s->nlabels;
}

/* ---- serialisation ---- */

/* Sorting contexts (qsort_r). */
static int cmp_sym(const void *x, const void *y, void *ctx)
{
    const struct dw_tsdb_ixb *b = ctx;
    return strcmp(ixb_str(b, *(const uint32_t *)x), ixb_str(b, *(const uint32_t *)y));
}

struct series_sort_ctx {
    const struct dw_tsdb_ixb *b;
    const uint32_t *final; /* temporary symbol -> final symbol (string order) */
};

static int cmp_series(const void *x, const void *y, void *ctx)
{
    const struct series_sort_ctx *c = ctx;
    const struct ixb_series *a = &c->b->series[*(const uint32_t *)x];
    const struct ixb_series *d = &c->b->series[*(const uint32_t *)y];
    uint32_t n = a->nlabels < d->nlabels ? a->nlabels : d->nlabels;
    for (uint32_t i = 0; i < 2 * n; i++) {
        uint32_t p = c->final[c->b->labels[a->lab + i]], q = c->final[c->b->labels[d->lab + i]];
        if (p != q)
            return p < q ? -1 : 1;
    }
    return (a->nlabels > d->nlabels) - (a->nlabels < d->nlabels);
}

/* One label pair's postings while building. */
struct pair {
    uint32_t name, value; /* final symbols */
    uint32_t *ids;
    size_t n, cap;
};

static int cmp_pair(const void *x, const void *y)
{
    const struct pair *a = x, *b = y;
    if (a->name != b->name)
        return a->name < b->name ? -1 : 1;
    return (a->value > b->value) - (a->value < b->value);
}

struct pair_map {
    struct pair *pairs;
    size_t n, cap;
    uint32_t *slots; /* pair index + 1 */
    size_t nslots;
};

static size_t pair_slot(const struct pair_map *m, uint32_t name, uint32_t value)
{
    uint64_t k = (uint64_t)name << 32 | value;
    return (size_t)((k * UINT64_C(0x9E3779B97F4A7C15)) >> 20) & (m->nslots - 1);
}

static void pair_rehash(struct pair_map *m)
{
    m->nslots = m->nslots ? m->nslots * 2 : 1024;
    free(m->slots);
    m->slots = dw_calloc(m->nslots, sizeof *m->slots);
    for (size_t i = 0; i < m->n; i++) {
        size_t h = pair_slot(m, m->pairs[i].name, m->pairs[i].value);
        while (m->slots[h])
            h = (h + 1) & (m->nslots - 1);
        m->slots[h] = (uint32_t)i + 1;
    }
}

static void pair_add(struct pair_map *m, uint32_t name, uint32_t value, uint32_t ord)
{
    if (m->n * 2 >= m->nslots)
        pair_rehash(m);
    size_t h = pair_slot(m, name, value);
    while (m->slots[h]) {
        struct pair *p = &m->pairs[m->slots[h] - 1];
        if (p->name == name && p->value == value) {
            p->ids = dw_grow(p->ids, &p->cap, p->n + 1, sizeof *p->ids);
            p->ids[p->n++] = ord;
            return;
        }
        h = (h + 1) & (m->nslots - 1);
    }
    m->pairs = dw_grow(m->pairs, &m->cap, m->n + 1, sizeof *m->pairs);
    struct pair *p = &m->pairs[m->n];
    *p = (struct pair){.name = name, .value = value};
    p->ids = dw_grow(NULL, &p->cap, 4, sizeof *p->ids);
    p->ids[p->n++] = ord;
    m->slots[h] = (uint32_t)++m->n;
}

static void pair_map_release(struct pair_map *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->pairs[i].ids);
    free(m->pairs);
    free(m->slots);
}

/* Writes the whole buffer at the file position; DW_TSDB_EIO with *err. */
static int write_all(int fd, const void *data, size_t len, char **err)
{
    const uint8_t *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (err)
                *err = dw_asprintf("index write: %s", strerror(errno));
            return DW_TSDB_EIO;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

struct ix_out {
    int fd;
    uint64_t pos;
    uint64_t off[DW_TSDB_IX_NSEC], len[DW_TSDB_IX_NSEC];
    uint32_t crc[DW_TSDB_IX_NSEC];
};

static int put_section(struct ix_out *o, int sec, struct dw_buf *b, char **err)
{
    if (b->overflow) {
        if (err)
            *err = dw_asprintf("index section %d over its limit", sec);
        return DW_TSDB_ELIMIT;
    }
    o->off[sec] = o->pos;
    o->len[sec] = b->len;
    o->crc[sec] = dw_tsdb_crc32c(0, b->data, b->len);
    int rc = write_all(o->fd, b->data, b->len, err);
    o->pos += b->len;
    b->len = 0;
    return rc;
}

static void build_symbols(const struct dw_tsdb_ixb *b, const uint32_t *order, struct dw_buf *out)
{
    uint8_t tmp[4];
    dw_tsdb_put_le32(tmp, b->nsyms);
    dw_buf_append(out, tmp, 4);
    size_t table = out->len;
    for (uint32_t i = 0; i < b->nsyms; i++)
        dw_buf_append(out, tmp, 4); /* placeholder offsets */
    for (uint32_t i = 0; i < b->nsyms; i++) {
        const char *s = ixb_str(b, order[i]);
        size_t len = strlen(s);
        dw_tsdb_put_le32((uint8_t *)out->data + table + 4 * (size_t)i, (uint32_t)out->len);
        dw_tsdb_buf_uvarint(out, len);
        dw_buf_append(out, s, len + 1);
    }
}

static void build_series(const struct dw_tsdb_ixb *b, const uint32_t *sorted, const uint32_t *final,
                         int64_t base_t, struct dw_buf *out, struct dw_buf *offs)
{
    uint8_t tmp[4];
    for (size_t i = 0; i < b->nseries; i++) {
        const struct ixb_series *s = &b->series[sorted[i]];
        dw_tsdb_put_le32(tmp, (uint32_t)out->len);
        dw_buf_append(offs, tmp, 4);
        dw_tsdb_buf_uvarint(out, s->nlabels);
        for (uint32_t j = 0; j < 2 * s->nlabels; j++)
            dw_tsdb_buf_uvarint(out, final[b->labels[s->lab + j]]);
        dw_tsdb_buf_uvarint(out, s->nchunks);
        int64_t prev_t = base_t, prev_page = 0;
        for (uint32_t j = 0; j < s->nchunks; j++) {
            const struct ixb_chunk *c = &b->chunks[s->chunk0 + j];
            dw_tsdb_buf_varint(out, (int64_t)((uint64_t)c->mint - (uint64_t)prev_t));
            dw_tsdb_buf_uvarint(out, (uint64_t)c->maxt - (uint64_t)c->mint);
            dw_tsdb_buf_varint(out, (int64_t)c->page - prev_page);
            dw_tsdb_buf_uvarint(out, c->slot);
            prev_t = c->maxt;
            prev_page = c->page;
        }
    }
}

/* Postings, then the label table pointing into them. */
static int build_postings(const struct dw_tsdb_ixb *b, const uint32_t *sorted,
                          const uint32_t *final, struct dw_buf *post, struct dw_buf *lab,
                          char **err)
{
    struct pair_map m = {0};
    for (size_t i = 0; i < b->nseries; i++) {
        const struct ixb_series *s = &b->series[sorted[i]];
        for (uint32_t j = 0; j < s->nlabels; j++)
            pair_add(&m, final[b->labels[s->lab + 2 * j]], final[b->labels[s->lab + 2 * j + 1]],
                     (uint32_t)i);
    }
    qsort(m.pairs, m.n, sizeof *m.pairs, cmp_pair);
    size_t nnames = 0;
    for (size_t i = 0; i < m.n; i++)
        nnames += i == 0 || m.pairs[i].name != m.pairs[i - 1].name;
    dw_tsdb_buf_uvarint(lab, nnames);
    int rc = 0;
    for (size_t i = 0; i < m.n; i++) {
        const struct pair *p = &m.pairs[i];
        if (i == 0 || p->name != m.pairs[i - 1].name) {
            size_t nv = 1;
            while (i + nv < m.n && m.pairs[i + nv].name == p->name)
                nv++;
            dw_tsdb_buf_uvarint(lab, p->name);
            dw_tsdb_buf_uvarint(lab, nv);
        }
        if (post->len > UINT32_MAX) {
            if (err)
                *err = dw_strdup("index postings over 4 GiB");
            rc = DW_TSDB_ELIMIT;
            break;
        }
        uint8_t tmp[8];
        dw_tsdb_put_le32(tmp, p->value);
        dw_tsdb_put_le32(tmp + 4, (uint32_t)post->len);
        dw_buf_append(lab, tmp, 8);
        dw_tsdb_buf_uvarint(post, p->n);
        int64_t prev = -1;
        for (size_t k = 0; k < p->n; k++) {
            dw_tsdb_buf_uvarint(post, (uint64_t)((int64_t)p->ids[k] - prev - 1));
            prev = p->ids[k];
        }
    }
    pair_map_release(&m);
    return rc;
}

static void build_pages(const struct dw_tsdb_ixb *b, struct dw_buf *out)
{
    uint8_t tmp[16];
    dw_tsdb_put_le32(tmp, (uint32_t)b->npages);
    dw_buf_append(out, tmp, 4);
    for (size_t i = 0; i < b->npages; i++) {
        dw_tsdb_put_le64(tmp, b->pages[i].off);
        dw_tsdb_put_le32(tmp + 8, b->pages[i].len);
        dw_tsdb_put_le32(tmp + 12, b->pages[i].crc);
        dw_buf_append(out, tmp, 16);
    }
}

static int write_trailer(struct ix_out *o, int64_t base_t, char **err)
{
    uint8_t t[IX_TRAILER];
    uint8_t *p = t;
    for (int i = 0; i < DW_TSDB_IX_NSEC; i++) {
        dw_tsdb_put_le64(p, o->off[i]);
        dw_tsdb_put_le64(p + 8, o->len[i]);
        dw_tsdb_put_le32(p + 16, o->crc[i]);
        p += IX_TOC_ENTRY;
    }
    dw_tsdb_put_le64(p, (uint64_t)base_t);
    p += 8;
    dw_tsdb_put_le32(p, dw_tsdb_crc32c(0, t, (size_t)(p - t)));
    memcpy(p + 4, ix_magic, 4);
    o->pos += sizeof t;
    return write_all(o->fd, t, sizeof t, err);
}

int dw_tsdb_ixb_write(struct dw_tsdb_ixb *b, int fd, int64_t base_t, uint64_t *bytes, char **err)
{
    if (b->nsyms > UINT32_MAX / 2 || b->strs.len > UINT32_MAX / 2) {
        if (err)
            *err = dw_strdup("index symbols over their limit");
        return DW_TSDB_ELIMIT;
    }
    /* Symbols in string order: final[temporary id] = position. */
    uint32_t *order = dw_malloc(((size_t)b->nsyms + 1) * sizeof *order);
    uint32_t *final = dw_malloc(((size_t)b->nsyms + 1) * sizeof *final);
    for (uint32_t i = 0; i < b->nsyms; i++)
        order[i] = i;
    qsort_r(order, b->nsyms, sizeof *order, cmp_sym, b);
    for (uint32_t i = 0; i < b->nsyms; i++)
        final[order[i]] = i;
    uint32_t *sorted = dw_malloc((b->nseries + 1) * sizeof *sorted);
    for (size_t i = 0; i < b->nseries; i++)
        sorted[i] = (uint32_t)i;
    struct series_sort_ctx sc = {b, final};
    qsort_r(sorted, b->nseries, sizeof *sorted, cmp_series, &sc);

    struct ix_out o = {.fd = fd};
    struct dw_buf sec, offs;
    dw_buf_init(&sec, (size_t)UINT32_MAX);
    dw_buf_init(&offs, (size_t)UINT32_MAX);
    uint8_t hdr[IX_HEADER] = {'D', 'W', 'I', 'X', IX_VERSION, 0, 0, 0};
    int rc = write_all(fd, hdr, sizeof hdr, err);
    o.pos = sizeof hdr;
    if (rc == 0) {
        build_symbols(b, order, &sec);
        rc = put_section(&o, DW_TSDB_IX_SYMBOLS, &sec, err);
    }
    if (rc == 0) {
        build_series(b, sorted, final, base_t, &sec, &offs);
        rc = put_section(&o, DW_TSDB_IX_SERIES, &sec, err);
    }
    if (rc == 0)
        rc = put_section(&o, DW_TSDB_IX_SERIES_OFFSETS, &offs, err);
    if (rc == 0)
        rc = build_postings(b, sorted, final, &sec, &offs, err);
    if (rc == 0)
        rc = put_section(&o, DW_TSDB_IX_POSTINGS, &sec, err);
    if (rc == 0)
        rc = put_section(&o, DW_TSDB_IX_LABELS, &offs, err);
    if (rc == 0) {
        build_pages(b, &sec);
        rc = put_section(&o, DW_TSDB_IX_PAGES, &sec, err);
    }
    if (rc == 0)
        rc = write_trailer(&o, base_t, err);
    if (rc == 0 && bytes)
        *bytes = o.pos;
    dw_buf_release(&sec);
    dw_buf_release(&offs);
    free(sorted);
    free(order);
    free(final);
    return rc;
}

/* ================= reader ================= */

static int corrupt(char **err, const char *fmt, const char *what)
{
    if (err)
        *err = dw_asprintf(fmt, what);
    return DW_TSDB_ECORRUPT;
}

static const char *sec_name(int i)
{
    static const char *const names[DW_TSDB_IX_NSEC] = {"symbols",  "series", "series offsets",
                                                       "postings", "labels", "pages"};
    return names[i];
}

static int read_toc(struct dw_tsdb_ixr *r, char **err)
{
    if (r->len < IX_HEADER + IX_TRAILER || memcmp(r->data, ix_magic, 4) != 0 ||
        memcmp(r->data + r->len - 4, ix_magic, 4) != 0)
        return corrupt(err, "index: %s", "bad magic or truncated file");
    if (r->data[4] != IX_VERSION)
        return corrupt(err, "index: %s", "unsupported version");
    const uint8_t *t = r->data + r->len - IX_TRAILER;
    size_t body = IX_TRAILER - 8;
    if (dw_tsdb_crc32c(0, t, body) != dw_tsdb_get_le32(t + body))
        return corrupt(err, "index: %s", "table of contents checksum mismatch");
    r->base_t = (int64_t)dw_tsdb_get_le64(t + DW_TSDB_IX_NSEC * IX_TOC_ENTRY);
    uint64_t prev_end = IX_HEADER, limit = r->len - IX_TRAILER;
    for (int i = 0; i < DW_TSDB_IX_NSEC; i++) {
        const uint8_t *e = t + i * IX_TOC_ENTRY;
        uint64_t off = dw_tsdb_get_le64(e), len = dw_tsdb_get_le64(e + 8);
        if (off < prev_end || off > limit || len > limit - off)
            return corrupt(err, "index: section %s out of bounds", sec_name(i));
        r->sec[i] = r->data + off;
        r->seclen[i] = (size_t)len;
        if (dw_tsdb_crc32c(0, r->sec[i], r->seclen[i]) != dw_tsdb_get_le32(e + 16))
            return corrupt(err, "index: section %s checksum mismatch", sec_name(i));
        prev_end = off + len;
    }
    return 0;
}

static int read_symbols(struct dw_tsdb_ixr *r, char **err)
{
    const uint8_t *s = r->sec[DW_TSDB_IX_SYMBOLS];
    size_t len = r->seclen[DW_TSDB_IX_SYMBOLS];
    if (len < 4)
        return corrupt(err, "index: %s", "symbols truncated");
    uint32_t n = dw_tsdb_get_le32(s);
    if (n > (len - 4) / 4)
        return corrupt(err, "index: %s", "symbol count too large");
    r->nsyms = n;
    const char *prev = NULL;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t off = dw_tsdb_get_le32(s + 4 + 4 * (size_t)i);
        if (off >= len)
            return corrupt(err, "index: %s", "symbol offset out of range");
        struct dw_tsdb_rd rd;
        dw_tsdb_rd_init(&rd, s + off, len - off);
        uint64_t sl = dw_tsdb_rd_uvarint(&rd);
        if (rd.bad || sl > DW_TSDB_BLOCK_MAX_STRING || dw_tsdb_rd_left(&rd) < sl + 1)
            return corrupt(err, "index: %s", "symbol truncated");
        const char *str = (const char *)rd.p;
        if (str[sl] != '\0' || memchr(str, '\0', (size_t)sl))
            return corrupt(err, "index: %s", "symbol not terminated");
        if (prev && strcmp(prev, str) >= 0)
            return corrupt(err, "index: %s", "symbols not sorted");
        prev = str;
    }
    return 0;
}

const char *dw_tsdb_ixr_sym(const struct dw_tsdb_ixr *r, uint32_t id)
{
    const uint8_t *s = r->sec[DW_TSDB_IX_SYMBOLS];
    uint32_t off = dw_tsdb_get_le32(s + 4 + 4 * (size_t)id);
    const uint8_t *p = s + off;
    while (*p & 0x80) /* validated at open */
        p++;
    return (const char *)p + 1;
}

bool dw_tsdb_ixr_sym_find(const struct dw_tsdb_ixr *r, const char *str, uint32_t *id)
{
    uint32_t lo = 0, hi = r->nsyms;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(dw_tsdb_ixr_sym(r, mid), str);
        if (c == 0) {
            *id = mid;
            return true;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static int read_series_offsets(struct dw_tsdb_ixr *r, char **err)
{
    size_t len = r->seclen[DW_TSDB_IX_SERIES_OFFSETS];
    if (len % 4)
        return corrupt(err, "index: %s", "series offsets truncated");
    r->nseries = (uint32_t)(len / 4);
    const uint8_t *o = r->sec[DW_TSDB_IX_SERIES_OFFSETS];
    uint32_t prev = 0;
    for (uint32_t i = 0; i < r->nseries; i++) {
        uint32_t off = dw_tsdb_get_le32(o + 4 * (size_t)i);
        if (off >= r->seclen[DW_TSDB_IX_SERIES] || (i && off <= prev))
            return corrupt(err, "index: %s", "series offset out of range");
        prev = off;
    }
    return 0;
}

static int read_labels(struct dw_tsdb_ixr *r, char **err)
{
    struct dw_tsdb_rd rd;
    dw_tsdb_rd_init(&rd, r->sec[DW_TSDB_IX_LABELS], r->seclen[DW_TSDB_IX_LABELS]);
    uint64_t n = dw_tsdb_rd_uvarint(&rd);
    if (rd.bad || n > r->nsyms)
        return corrupt(err, "index: %s", "label table count");
    r->names = dw_calloc((size_t)n + 1, sizeof *r->names);
    r->nnames = (size_t)n;
    size_t plen = r->seclen[DW_TSDB_IX_POSTINGS];
    for (size_t i = 0; i < r->nnames; i++) {
        struct dw_tsdb_ixr_name *nm = &r->names[i];
        uint64_t sym = dw_tsdb_rd_uvarint(&rd), nv = dw_tsdb_rd_uvarint(&rd);
        if (rd.bad || sym >= r->nsyms || nv == 0 || nv > dw_tsdb_rd_left(&rd) / 8 ||
            (i && sym <= r->names[i - 1].sym))
            return corrupt(err, "index: %s", "label table entry");
        nm->sym = (uint32_t)sym;
        nm->nvalues = (uint32_t)nv;
        nm->entries = dw_tsdb_rd_bytes(&rd, (size_t)nv * 8);
        for (uint32_t k = 0; k < nm->nvalues; k++) {
            uint32_t vs = dw_tsdb_get_le32(nm->entries + 8 * (size_t)k);
            uint32_t po = dw_tsdb_get_le32(nm->entries + 8 * (size_t)k + 4);
            if (vs >= r->nsyms || po >= plen ||
                (k && vs <= dw_tsdb_get_le32(nm->entries + 8 * (size_t)(k - 1))))
                return corrupt(err, "index: %s", "label value entry");
        }
    }
    if (dw_tsdb_rd_left(&rd))
        return corrupt(err, "index: %s", "trailing bytes in the label table");
    return 0;
}

static int read_pages(struct dw_tsdb_ixr *r, uint64_t chunks_size, char **err)
{
    const uint8_t *p = r->sec[DW_TSDB_IX_PAGES];
    size_t len = r->seclen[DW_TSDB_IX_PAGES];
    if (len < 4 || (len - 4) / 16 != dw_tsdb_get_le32(p) || (len - 4) % 16)
        return corrupt(err, "index: %s", "page table size");
    r->npages = dw_tsdb_get_le32(p);
    for (uint32_t i = 0; i < r->npages; i++) {
        uint64_t off;
        uint32_t plen, crc;
        dw_tsdb_ixr_page(r, i, &off, &plen, &crc);
        if (off < DW_TSDB_CHUNKS_HEADER || plen == 0 || off > chunks_size ||
            plen > chunks_size - off)
            return corrupt(err, "index: %s", "page outside the chunks file");
    }
    return 0;
}

int dw_tsdb_ixr_open(struct dw_tsdb_ixr *r, const uint8_t *data, size_t len, uint64_t chunks_size,
                     char **err)
{
    memset(r, 0, sizeof *r);
    r->data = data;
    r->len = len;
    int rc = read_toc(r, err);
    if (rc == 0)
        rc = read_symbols(r, err);
    if (rc == 0)
        rc = read_series_offsets(r, err);
    if (rc == 0)
        rc = read_labels(r, err);
    if (rc == 0)
        rc = read_pages(r, chunks_size, err);
    if (rc)
        dw_tsdb_ixr_release(r);
    return rc;
}

void dw_tsdb_ixr_release(struct dw_tsdb_ixr *r)
{
    free(r->names);
    r->names = NULL;
    r->nnames = 0;
}

void dw_tsdb_ixr_page(const struct dw_tsdb_ixr *r, uint32_t i, uint64_t *off, uint32_t *len,
                      uint32_t *crc)
{
    const uint8_t *e = r->sec[DW_TSDB_IX_PAGES] + 4 + 16 * (size_t)i;
    *off = dw_tsdb_get_le64(e);
    *len = dw_tsdb_get_le32(e + 8);
    *crc = dw_tsdb_get_le32(e + 12);
}

void dw_tsdb_ixr_series_release(struct dw_tsdb_ixr_series *s)
{
    free(s->labels);
    free(s->chunks);
    memset(s, 0, sizeof *s);
}

int dw_tsdb_ixr_series(const struct dw_tsdb_ixr *r, uint32_t ord, struct dw_tsdb_ixr_series *s)
{
    if (ord >= r->nseries)
        return DW_TSDB_EINVAL;
    size_t off = dw_tsdb_get_le32(r->sec[DW_TSDB_IX_SERIES_OFFSETS] + 4 * (size_t)ord);
    struct dw_tsdb_rd rd;
    dw_tsdb_rd_init(&rd, r->sec[DW_TSDB_IX_SERIES] + off, r->seclen[DW_TSDB_IX_SERIES] - off);
    uint64_t nl = dw_tsdb_rd_uvarint(&rd);
    if (rd.bad || nl == 0 || nl > DW_TSDB_BLOCK_MAX_LABELS)
        return DW_TSDB_ECORRUPT;
    s->labels = dw_grow(s->labels, &s->lcap, (size_t)nl, sizeof *s->labels);
    s->nlabels = (size_t)nl;
    for (size_t i = 0; i < s->nlabels; i++) {
        uint64_t a = dw_tsdb_rd_uvarint(&rd), b = dw_tsdb_rd_uvarint(&rd);
        if (rd.bad || a >= r->nsyms || b >= r->nsyms)
            return DW_TSDB_ECORRUPT;
        s->labels[i].name = dw_tsdb_ixr_sym(r, (uint32_t)a);
        s->labels[i].value = dw_tsdb_ixr_sym(r, (uint32_t)b);
    }
    uint64_t nc = dw_tsdb_rd_uvarint(&rd);
    if (rd.bad || nc > dw_tsdb_rd_left(&rd) / 4) /* a chunk ref takes at least 4 bytes */
        return DW_TSDB_ECORRUPT;
    s->chunks = dw_grow(s->chunks, &s->ccap, (size_t)nc + 1, sizeof *s->chunks);
    s->nchunks = (size_t)nc;
    uint64_t prev_t = (uint64_t)r->base_t;
    int64_t prev_page = 0;
    for (size_t i = 0; i < s->nchunks; i++) {
        struct dw_tsdb_ixr_chunk *c = &s->chunks[i];
        c->mint = (int64_t)(prev_t + (uint64_t)dw_tsdb_rd_varint(&rd));
        uint64_t span = dw_tsdb_rd_uvarint(&rd);
        int64_t page = prev_page + dw_tsdb_rd_varint(&rd);
        uint64_t slot = dw_tsdb_rd_uvarint(&rd);
        if (rd.bad || span > (uint64_t)INT64_MAX - (uint64_t)c->mint || page < 0 ||
            page >= r->npages || slot > UINT32_MAX)
            return DW_TSDB_ECORRUPT;
        c->maxt = (int64_t)((uint64_t)c->mint + span);
        if (c->maxt < c->mint || (i && c->mint <= s->chunks[i - 1].maxt))
            return DW_TSDB_ECORRUPT;
        c->page = (uint32_t)page;
        c->slot = (uint32_t)slot;
        prev_t = (uint64_t)c->maxt;
        prev_page = page;
    }
    return 0;
}

/* ---- postings and selection ---- */

struct ids {
    uint32_t *v;
    size_t n, cap;
};

/* Appends the postings list at offset off; ECORRUPT when it does not decode. */
static int postings_decode(const struct dw_tsdb_ixr *r, uint32_t off, struct ids *out)
{
    size_t plen = r->seclen[DW_TSDB_IX_POSTINGS];
    struct dw_tsdb_rd rd;
    dw_tsdb_rd_init(&rd, r->sec[DW_TSDB_IX_POSTINGS] + off, plen - off);
    uint64_t n = dw_tsdb_rd_uvarint(&rd);
    if (rd.bad || n == 0 || n > r->nseries || n > dw_tsdb_rd_left(&rd))
        return DW_TSDB_ECORRUPT;
    out->v = dw_grow(out->v, &out->cap, out->n + (size_t)n, sizeof *out->v);
    uint64_t prev = UINT64_MAX; /* -1 */
    for (uint64_t i = 0; i < n; i++) {
        uint64_t d = dw_tsdb_rd_uvarint(&rd);
        uint64_t id = prev + 1 + d;
        if (rd.bad || d >= r->nseries || id >= r->nseries)
            return DW_TSDB_ECORRUPT;
        out->v[out->n++] = (uint32_t)id;
        prev = id;
    }
    return 0;
}

static const struct dw_tsdb_ixr_name *find_name(const struct dw_tsdb_ixr *r, const char *name)
{
    uint32_t sym;
    if (!dw_tsdb_ixr_sym_find(r, name, &sym))
        return NULL;
    size_t lo = 0, hi = r->nnames;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->names[mid].sym == sym)
            return &r->names[mid];
        if (r->names[mid].sym < sym)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static uint32_t entry_sym(const struct dw_tsdb_ixr_name *nm, size_t k)
{
    return dw_tsdb_get_le32(nm->entries + 8 * k);
}

static uint32_t entry_off(const struct dw_tsdb_ixr_name *nm, size_t k)
{
    return dw_tsdb_get_le32(nm->entries + 8 * k + 4);
}

/* Index of the value entry with this string, or -1. */
static long find_value(const struct dw_tsdb_ixr *r, const struct dw_tsdb_ixr_name *nm,
                       const char *value)
{
    uint32_t sym;
    if (!dw_tsdb_ixr_sym_find(r, value, &sym))
        return -1;
    size_t lo = 0, hi = nm->nvalues;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t s = entry_sym(nm, mid);
        if (s == sym)
            return (long)mid;
        if (s < sym)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* First value entry whose string is >= s (entries are in string order). */
static size_t lower_bound_value(const struct dw_tsdb_ixr *r, const struct dw_tsdb_ixr_name *nm,
                                const char *s)
{
    size_t lo = 0, hi = nm->nvalues;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(dw_tsdb_ixr_sym(r, entry_sym(nm, mid)), s) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Sorts and deduplicates the union of several concatenated lists. */
static void ids_normalise(struct ids *l, size_t lists, uint32_t nseries)
{
    if (lists <= 1 || l->n < 2)
        return;
    if (l->n > nseries / 16) {
        /* Dense: a bitmap is linear where sorting is n log n. */
        size_t words = ((size_t)nseries + 63) / 64;
        uint64_t *bits = dw_calloc(words ? words : 1, sizeof *bits);
        for (size_t i = 0; i < l->n; i++)
            bits[l->v[i] >> 6] |= UINT64_C(1) << (l->v[i] & 63);
        l->n = 0;
        for (size_t w = 0; w < words; w++)
            for (uint64_t b = bits[w]; b; b &= b - 1)
                l->v[l->n++] = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(b));
        free(bits);
        return;
    }
    qsort(l->v, l->n, sizeof *l->v, cmp_u32);
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++)
        if (k == 0 || l->v[k - 1] != l->v[i])
            l->v[k++] = l->v[i];
    l->n = k;
}

/*
 * The union of the postings of name's values v with matches(v) == want.
 * Uses the matcher's literal list or literal prefix when they describe the
 * wanted set, and tests every value of the name otherwise.
 */
static int values_postings(const struct dw_tsdb_ixr *r, const struct dw_tsdb_matcher *m, bool want,
                           struct ids *out)
{
    const struct dw_tsdb_ixr_name *nm = find_name(r, dw_tsdb_matcher_name(m));
    if (!nm)
        return 0;
    enum dw_match_op op = dw_tsdb_matcher_op(m);
    bool accept = (op == DW_MATCH_EQ || op == DW_MATCH_RE) ? want : !want;
    size_t nlit = 0, lists = 0;
    const char *const *lit = dw_tsdb_matcher_literals(m, &nlit);
    int rc = 0;
    if (accept && lit) {
        for (size_t i = 0; i < nlit && rc == 0; i++) {
            long k = find_value(r, nm, lit[i]);
            if (k >= 0) {
                rc = postings_decode(r, entry_off(nm, (size_t)k), out);
                lists++;
            }
        }
    } else {
        const char *prefix = accept ? dw_tsdb_matcher_prefix(m) : "";
        size_t plen = strlen(prefix);
        size_t k = plen ? lower_bound_value(r, nm, prefix) : 0;
        for (; k < nm->nvalues && rc == 0; k++) {
            const char *v = dw_tsdb_ixr_sym(r, entry_sym(nm, k));
            if (plen && strncmp(v, prefix, plen) != 0)
                break;
            if (dw_tsdb_matcher_matches(m, v) == want) {
                rc = postings_decode(r, entry_off(nm, k), out);
                lists++;
            }
        }
    }
    if (rc == 0)
        ids_normalise(out, lists, r->nseries);
    return rc;
}

/* a := a ∩ b, galloping through b when it is much longer. */
static void ids_intersect(struct ids *a, const struct ids *b)
{
    size_t k = 0, j = 0;
    for (size_t i = 0; i < a->n && j < b->n; i++) {
        uint32_t x = a->v[i];
        if (b->v[j] < x) {
            size_t step = 1, lo = j;
            while (j + step < b->n && b->v[j + step] < x) {
                lo = j + step;
                step *= 2;
            }
            size_t hi = j + step < b->n ? j + step : b->n;
            j = lo;
            while (j < hi && b->v[j] < x) { /* binary search in (lo, hi] */
                size_t mid = j + (hi - j) / 2;
                if (b->v[mid] < x)
                    j = mid + 1;
                else
                    hi = mid;
            }
        }
        if (j < b->n && b->v[j] == x)
            a->v[k++] = x;
    }
    a->n = k;
}

/* a := a \ b. */
static void ids_subtract(struct ids *a, const struct ids *b)
{
    size_t k = 0, j = 0;
    for (size_t i = 0; i < a->n; i++) {
        while (j < b->n && b->v[j] < a->v[i])
            j++;
        if (j >= b->n || b->v[j] != a->v[i])
            a->v[k++] = a->v[i];
    }
    a->n = k;
}

int dw_tsdb_ixr_select(const struct dw_tsdb_ixr *r, struct dw_tsdb_matcher *const *ms, size_t n,
                       uint32_t **ids, size_t *count)
{
    struct ids acc = {0}, tmp = {0};
    bool all = true; /* acc stands for every series until a positive matcher */
    int rc = 0;
    /* Positive matchers (not matching "") first: they shrink the set fastest. */
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (dw_tsdb_matcher_matches(ms[i], ""))
            continue;
        tmp.n = 0;
        rc = values_postings(r, ms[i], true, &tmp);
        if (all) {
            struct ids t = acc;
            acc = tmp;
            tmp = t;
            all = false;
        } else {
            ids_intersect(&acc, &tmp);
        }
        if (acc.n == 0)
            break;
    }
    if (all) {
        acc.v = dw_grow(acc.v, &acc.cap, (size_t)r->nseries + 1, sizeof *acc.v);
        for (uint32_t i = 0; i < r->nseries; i++)
            acc.v[i] = i;
        acc.n = r->nseries;
    }
    /* Matchers that accept "" (absent labels): remove series whose value they reject. */
    for (size_t i = 0; i < n && rc == 0 && acc.n; i++) {
        if (!dw_tsdb_matcher_matches(ms[i], ""))
            continue;
        tmp.n = 0;
        rc = values_postings(r, ms[i], false, &tmp);
        ids_subtract(&acc, &tmp);
    }
    free(tmp.v);
    if (rc) {
        free(acc.v);
        *ids = NULL;
        *count = 0;
        return rc;
    }
    *ids = acc.v;
    *count = acc.n;
    return 0;
}

/* ---- label names and values ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void strs_unique(const char **v, size_t *n)
{
    if (*n < 2)
        return;
    qsort(v, *n, sizeof *v, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < *n; i++)
        if (k == 0 || strcmp(v[k - 1], v[i]) != 0)
            v[k++] = v[i];
    *n = k;
}

/* Names (name == NULL) or values of `name` over the given series. */
static int strings_of_series(const struct dw_tsdb_ixr *r, const char *name, const uint32_t *ids,
                             size_t nids, const char ***out, size_t *count)
{
    struct dw_tsdb_ixr_series s = {0};
    const char **v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (size_t i = 0; i < nids && rc == 0; i++) {
        rc = dw_tsdb_ixr_series(r, ids[i], &s);
        for (size_t j = 0; j < s.nlabels && rc == 0; j++) {
            if (name && strcmp(s.labels[j].name, name) != 0)
                continue;
            v = dw_grow(v, &cap, n + 1, sizeof *v);
            v[n++] = name ? s.labels[j].value : s.labels[j].name;
        }
        if ((i & 1023) == 1023)
            strs_unique(v, &n); /* keeps the array near the number of distinct strings */
    }
    dw_tsdb_ixr_series_release(&s);
    if (rc) {
        free(v);
        return rc;
    }
    strs_unique(v, &n);
    *out = v;
    *count = n;
    return 0;
}

int dw_tsdb_ixr_strings(const struct dw_tsdb_ixr *r, const char *name,
                        struct dw_tsdb_matcher *const *ms, size_t n, const char ***out,
                        size_t *count)
{
    *out = NULL;
    *count = 0;
    if (n > 0) {
        uint32_t *ids;
        size_t nids;
        int rc = dw_tsdb_ixr_select(r, ms, n, &ids, &nids);
        if (rc == 0)
            rc = strings_of_series(r, name, ids, nids, out, count);
        free(ids);
        return rc;
    }
    const char **v;
    if (!name) {
        v = dw_malloc((r->nnames + 1) * sizeof *v);
        for (size_t i = 0; i < r->nnames; i++)
            v[i] = dw_tsdb_ixr_sym(r, r->names[i].sym);
        *count = r->nnames;
    } else {
        const struct dw_tsdb_ixr_name *nm = find_name(r, name);
        size_t nv = nm ? nm->nvalues : 0;
        v = dw_malloc((nv + 1) * sizeof *v);
        for (size_t i = 0; i < nv; i++)
            v[i] = dw_tsdb_ixr_sym(r, entry_sym(nm, i));
        *count = nv;
    }
    *out = v;
    return 0;
}
