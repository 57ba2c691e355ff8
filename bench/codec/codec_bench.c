/*
 * codec_bench.c - bytes per sample and speed of the tsdb chunk encodings.
 *
 * DESIGN: reads a Prometheus text file with millisecond timestamps (the
 * shared dataset: gen_dataset.py --prom FILE), groups the samples by series
 * with a tiny throwaway parser (the real one lives in src/expo), sorts the
 * series by their label set like a block writer would, then encodes every
 * series with the head encoding (chunks of 120 samples) and the block
 * encoding (one chunk per series, many chunks per zstd page). Every decoded
 * sample is compared bit for bit with the input. Then it logs every sample
 * to a write-ahead log in a temporary directory, in scrape-sized batches
 * (one batch per timestamp, all series), and replays it. Single-threaded
 * except the WAL's flusher, so the speeds are per core. Time comes from
 * dw_mono_ns().
 *
 * usage: codec_bench [--zstd-level N] [--page-kib K] [--order labels|file]
 *                    [--families] FILE
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/map_file.h"
#include "core/core.h"
#include "tsdb/tsdb.h"

struct series {
    char *key;   /* the text before the value, as in the file */
    char *canon; /* sorted labels, for the block order */
    char *family;
    int64_t *t;
    double *v;
    size_t n, cap;
};

struct dataset {
    struct series *s;
    size_t n, cap;
    size_t *slots; /* open addressing: index + 1, 0 = empty */
    size_t nslots;
    size_t samples;
};

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
    return h;
}

static void ds_rehash(struct dataset *ds)
{
    size_t ns = ds->nslots ? ds->nslots * 2 : 1024;
    free(ds->slots);
    ds->slots = dw_calloc(ns, sizeof *ds->slots);
    ds->nslots = ns;
    for (size_t i = 0; i < ds->n; i++) {
        size_t h = fnv1a(ds->s[i].key, strlen(ds->s[i].key)) & (ns - 1);
        while (ds->slots[h])
            h = (h + 1) & (ns - 1);
        ds->slots[h] = i + 1;
    }
}

static struct series *ds_get(struct dataset *ds, const char *key, size_t klen)
{
    if (ds->n * 2 >= ds->nslots)
        ds_rehash(ds);
    size_t h = fnv1a(key, klen) & (ds->nslots - 1);
    while (ds->slots[h]) {
        struct series *s = &ds->s[ds->slots[h] - 1];
        if (strlen(s->key) == klen && memcmp(s->key, key, klen) == 0)
            return s;
        h = (h + 1) & (ds->nslots - 1);
    }
    ds->s = dw_grow(ds->s, &ds->cap, ds->n + 1, sizeof *ds->s);
    struct series *s = &ds->s[ds->n];
    memset(s, 0, sizeof *s);
    s->key = dw_strndup(key, klen);
    ds->slots[h] = ++ds->n;
    return s;
}

/* One label pair of a key, for sorting. */
struct pair {
    const char *p;
    size_t n;
};

static int cmp_pair(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->p, y->p, n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* __name__ and the labels, sorted by label name, joined: Prometheus' series order. */
static void canonicalise(struct series *s)
{
    const char *k = s->key;
    const char *brace = strchr(k, '{');
    size_t namelen = brace ? (size_t)(brace - k) : strlen(k);
    s->family = dw_strndup(k, namelen);
    struct pair pairs[64];
    size_t np = 0;
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_printf(&b, "__name__=\"%s\"", s->family);
    pairs[np++] = (struct pair){b.data, b.len};
    if (brace) {
        const char *p = brace + 1;
        while (*p && *p != '}' && np < DW_ARRAY_LEN(pairs)) {
            const char *start = p;
            p = strchr(p, '"');
            if (!p)
                break;
            p++;
            while (*p && *p != '"') /* the dataset has no escaped quotes */
                p++;
            if (*p)
                p++;
            pairs[np++] = (struct pair){start, (size_t)(p - start)};
            if (*p == ',')
                p++;
        }
    }
    qsort(pairs, np, sizeof pairs[0], cmp_pair);
    struct dw_buf c;
    dw_buf_init(&c, 0);
    for (size_t i = 0; i < np; i++) {
        dw_buf_append(&c, pairs[i].p, pairs[i].n);
        dw_buf_putc(&c, '\x01');
    }
    s->canon = dw_buf_steal(&c);
    dw_buf_release(&b);
}

static int parse_line(struct dataset *ds, const char *line, size_t len)
{
    if (len == 0 || line[0] == '#')
        return 0;
    const char *ts = memrchr(line, ' ', len);
    if (!ts)
        return -1;
    const char *val = memrchr(line, ' ', (size_t)(ts - line));
    if (!val)
        return -1;
    char tmp[64];
    size_t vl = (size_t)(ts - val - 1), tl = len - (size_t)(ts - line) - 1;
    if (vl >= sizeof tmp || tl >= sizeof tmp)
        return -1;
    double v;
    int64_t t;
    memcpy(tmp, val + 1, vl);
    tmp[vl] = '\0';
    if (dw_parse_double(tmp, &v) < 0)
        return -1;
    memcpy(tmp, ts + 1, tl);
    tmp[tl] = '\0';
    if (dw_parse_int64(tmp, &t) < 0)
        return -1;
    struct series *s = ds_get(ds, line, (size_t)(val - line));
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 512;
        s->t = dw_realloc(s->t, s->cap * sizeof *s->t);
        s->v = dw_realloc(s->v, s->cap * sizeof *s->v);
    }
    s->t[s->n] = t;
    s->v[s->n] = v;
    s->n++;
    ds->samples++;
    return 0;
}

static int load(struct dataset *ds, const char *path)
{
    size_t size;
    const char *p = bench_map_file(path, &size);
    if (!p)
        return -1;
    const char *end = p + size, *line = p;
    size_t lineno = 0;
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t len = nl ? (size_t)(nl - line) : (size_t)(end - line);
        lineno++;
        if (parse_line(ds, line, len) < 0) {
            fprintf(stderr, "%s:%zu: cannot parse\n", path, lineno);
            return -1;
        }
        line += len + 1;
    }
    munmap((void *)p, (size_t)size);
    return 0;
}

static int cmp_canon(const void *a, const void *b)
{
    return strcmp(((const struct series *)a)->canon, ((const struct series *)b)->canon);
}

static bool same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static double secs(int64_t ns)
{
    return (double)ns / 1e9;
}

/* ---- head chunks ---- */

static void bench_head(const struct dataset *ds)
{
    struct dw_buf all; /* every chunk: u32 length then bytes */
    dw_buf_init(&all, 0);
    size_t chunks = 0, bytes = 0;
    int64_t t0 = dw_mono_ns();
    for (size_t i = 0; i < ds->n; i++) {
        const struct series *s = &ds->s[i];
        struct dw_tsdb_chunk *c = NULL;
        for (size_t j = 0; j <= s->n; j++) {
            if (c && (j == s->n || dw_tsdb_chunk_append(c, s->t[j], s->v[j]) == DW_TSDB_EFULL)) {
                size_t len;
                const uint8_t *b = dw_tsdb_chunk_bytes(c, &len);
                uint32_t l32 = (uint32_t)len;
                dw_buf_append(&all, &l32, sizeof l32);
                dw_buf_append(&all, b, len);
                bytes += len;
                chunks++;
                dw_tsdb_chunk_free(&c);
                if (j == s->n)
                    break;
            }
            if (!c) {
                c = dw_tsdb_chunk_new();
                dw_tsdb_chunk_append(c, s->t[j], s->v[j]);
            }
        }
    }
    int64_t t1 = dw_mono_ns();
    size_t off = 0, bad = 0, got = 0;
    for (size_t i = 0; i < ds->n; i++) {
        const struct series *s = &ds->s[i];
        size_t j = 0;
        while (j < s->n) {
            uint32_t l32;
            memcpy(&l32, all.data + off, sizeof l32);
            struct dw_tsdb_chunk_iter it;
            dw_tsdb_chunk_iter_init(&it, (const uint8_t *)all.data + off + 4, l32);
            off += 4 + l32;
            int64_t t;
            double v;
            while (dw_tsdb_chunk_iter_next(&it, &t, &v)) {
                bad += j >= s->n || t != s->t[j] || !same_bits(v, s->v[j]);
                j++;
                got++;
            }
            bad += dw_tsdb_chunk_iter_err(&it) != 0;
        }
    }
    int64_t t2 = dw_mono_ns();
    printf("head chunks (<=%d samples): %zu chunks, %.3f bytes/sample, encode %.1f M samples/s, "
           "decode %.1f M samples/s, exact round trip: %s\n",
           DW_TSDB_CHUNK_MAX_SAMPLES, chunks, (double)bytes / (double)ds->samples,
           (double)ds->samples / secs(t1 - t0) / 1e6, (double)got / secs(t2 - t1) / 1e6,
           bad || got != ds->samples ? "NO" : "yes");
    dw_buf_release(&all);
}

/* ---- block chunks and pages ---- */

struct fam_stat {
    const char *name;
    size_t bytes, samples;
};

static void bench_block(const struct dataset *ds, int level, size_t page_bytes, bool families)
{
    struct dw_tsdb_blockenc *enc = dw_tsdb_blockenc_new();
    struct dw_tsdb_page_writer *pw = dw_tsdb_page_writer_new(level);
    struct dw_buf chunk, pages;
    dw_buf_init(&chunk, 0);
    dw_buf_init(&pages, 0);
    size_t *page_offs = NULL, npages = 0, pcap = 0;
    size_t raw_bytes = 0;
    struct fam_stat *fs = dw_calloc(ds->n, sizeof *fs);
    size_t nfs = 0;
    int64_t enc_ns = 0;
    int64_t t0 = dw_mono_ns();
    for (size_t i = 0; i < ds->n; i++) {
        const struct series *s = &ds->s[i];
        chunk.len = 0;
        int64_t a = dw_mono_ns();
        if (dw_tsdb_blockenc_encode(enc, s->t, s->v, s->n, &chunk) != 0) {
            fprintf(stderr, "encode failed for %s\n", s->key);
            exit(1);
        }
        enc_ns += dw_mono_ns() - a;
        raw_bytes += chunk.len;
        if (families) {
            if (!nfs || strcmp(fs[nfs - 1].name, s->family) != 0)
                fs[nfs++].name = s->family;
            fs[nfs - 1].bytes += chunk.len;
            fs[nfs - 1].samples += s->n;
        }
        if (dw_tsdb_page_writer_raw_size(pw) + chunk.len > page_bytes &&
            dw_tsdb_page_writer_count(pw) > 0) {
            page_offs = dw_grow(page_offs, &pcap, npages + 1, sizeof *page_offs);
            page_offs[npages++] = pages.len;
            dw_tsdb_page_writer_finish(pw, &pages);
        }
        dw_tsdb_page_writer_add(pw, (const uint8_t *)chunk.data, chunk.len);
    }
    page_offs = dw_grow(page_offs, &pcap, npages + 2, sizeof *page_offs);
    page_offs[npages++] = pages.len;
    dw_tsdb_page_writer_finish(pw, &pages);
    page_offs[npages] = pages.len;
    int64_t t1 = dw_mono_ns();

    size_t si = 0, bad = 0, got = 0;
    int64_t *tt = dw_malloc(DW_TSDB_BLOCK_MAX_SAMPLES * sizeof *tt);
    double *vv = dw_malloc(DW_TSDB_BLOCK_MAX_SAMPLES * sizeof *vv);
    int64_t dec_ns = 0;
    for (size_t p = 0; p < npages; p++) {
        struct dw_tsdb_page *pg;
        if (dw_tsdb_page_open((const uint8_t *)pages.data + page_offs[p],
                              page_offs[p + 1] - page_offs[p], &pg) != 0) {
            fprintf(stderr, "page %zu does not open\n", p);
            exit(1);
        }
        for (size_t c = 0; c < dw_tsdb_page_count(pg); c++, si++) {
            const uint8_t *d;
            size_t len, n;
            dw_tsdb_page_chunk(pg, c, &d, &len);
            int64_t a = dw_mono_ns();
            int rc = dw_tsdb_blockchunk_decode(d, len, tt, vv, DW_TSDB_BLOCK_MAX_SAMPLES, &n);
            dec_ns += dw_mono_ns() - a;
            const struct series *s = &ds->s[si];
            if (rc != 0 || n != s->n) {
                bad++;
                continue;
            }
            for (size_t j = 0; j < n; j++)
                bad += tt[j] != s->t[j] || !same_bits(vv[j], s->v[j]);
            got += n;
        }
        dw_tsdb_page_free(&pg);
    }
    int64_t t2 = dw_mono_ns();
    double ns = (double)ds->samples;
    printf("block chunks, no zstd: %.3f bytes/sample, encode %.1f M samples/s, decode %.1f M "
           "samples/s\n",
           (double)raw_bytes / ns, ns / secs(enc_ns) / 1e6, ns / secs(dec_ns) / 1e6);
    printf("block pages, zstd level %d, %zu KiB pages: %zu pages, %.3f bytes/sample, encode "
           "%.1f M samples/s, decode %.1f M samples/s (both incl. zstd), exact round trip: %s\n",
           level, page_bytes >> 10, npages, (double)pages.len / ns, ns / secs(t1 - t0) / 1e6,
           ns / secs(t2 - t1) / 1e6, bad || got != ds->samples ? "NO" : "yes");
    if (families) {
        printf("block chunk bytes per family (no zstd), as bytes per sample of the family and "
               "share of all samples' bytes:\n");
        for (size_t i = 0; i < nfs; i++)
            printf("  %-45s %7.3f  %6.3f\n", fs[i].name,
                   (double)fs[i].bytes / (double)fs[i].samples, (double)fs[i].bytes / ns);
    }
    free(tt);
    free(vv);
    free(fs);
    free(page_offs);
    dw_buf_release(&chunk);
    dw_buf_release(&pages);
    dw_tsdb_page_writer_free(&pw);
    dw_tsdb_blockenc_free(&enc);
}

/* ---- write-ahead log ---- */

struct replay_count {
    size_t samples;
    size_t bad;
    const struct dataset *ds;
    size_t *next; /* per series: index of the sample expected next */
};

static int count_samples(void *ctx, const struct dw_tsdb_wal_sample *s, size_t n)
{
    struct replay_count *rc = ctx;
    for (size_t i = 0; i < n; i++) {
        if (s[i].ref >= rc->ds->n) {
            rc->bad++;
            continue;
        }
        const struct series *ser = &rc->ds->s[s[i].ref];
        size_t j = rc->next[s[i].ref]++;
        rc->bad += j >= ser->n || ser->t[j] != s[i].t || !same_bits(ser->v[j], s[i].v);
    }
    rc->samples += n;
    return 0;
}

static void remove_dir(const char *dir)
{
    DIR *dh = opendir(dir);
    struct dirent *de;
    while (dh && (de = readdir(dh)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *p = dw_asprintf("%s/%s", dir, de->d_name);
        unlink(p);
        free(p);
    }
    if (dh)
        closedir(dh);
    rmdir(dir);
}

static void bench_wal(const struct dataset *ds)
{
    char tmpl[] = "/tmp/dw-codec-bench-wal-XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) {
        perror("mkdtemp");
        return;
    }
    struct dw_tsdb_wal *w = NULL;
    if (dw_tsdb_wal_open(dir, NULL, NULL, NULL, &w) != 0)
        return;
    /* One batch per scrape timestamp: sample i of every series. */
    size_t steps = 0;
    for (size_t i = 0; i < ds->n; i++)
        steps = ds->s[i].n > steps ? ds->s[i].n : steps;
    struct dw_tsdb_wal_sample *batch = dw_malloc(ds->n * sizeof *batch);
    int64_t t0 = dw_mono_ns();
    for (size_t j = 0; j < steps; j++) {
        size_t nb = 0;
        for (size_t i = 0; i < ds->n; i++)
            if (j < ds->s[i].n)
                batch[nb++] = (struct dw_tsdb_wal_sample){i, ds->s[i].t[j], ds->s[i].v[j]};
        dw_tsdb_wal_log_samples(w, batch, nb);
    }
    int64_t t1 = dw_mono_ns();
    struct dw_tsdb_wal_stats st;
    dw_tsdb_wal_get_stats(w, &st);
    dw_tsdb_wal_close(&w);
    int64_t t2 = dw_mono_ns();
    struct replay_count rc = {0, 0, ds, dw_calloc(ds->n, sizeof(size_t))};
    struct dw_tsdb_wal_handler h = {NULL, count_samples, &rc};
    dw_tsdb_wal_replay(dir, &h, NULL);
    int64_t t3 = dw_mono_ns();
    double ns = (double)ds->samples;
    printf("wal (fsync interval, %zu-sample batches): %.2f bytes/sample, log %.1f M samples/s "
           "(close incl. final fsync %.2f s), replay %.1f M samples/s, exact: %s\n",
           ds->n, (double)st.bytes_logged / ns, ns / secs(t1 - t0) / 1e6, secs(t2 - t1),
           ns / secs(t3 - t2) / 1e6, rc.bad || rc.samples != ds->samples ? "NO" : "yes");
    free(batch);
    free(rc.next);
    remove_dir(dir);
}

static int usage(void)
{
    fprintf(stderr, "usage: codec_bench [--zstd-level N] [--page-kib K] [--order labels|file] "
                    "[--families] FILE\n");
    return 2;
}

int main(int argc, char **argv)
{
    int64_t level = 3, page_kib = 64;
    bool by_labels = true, families = false;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--zstd-level") == 0 && i + 1 < argc) {
            if (dw_parse_int64(argv[++i], &level) < 0 || level < 0 || level > 19)
                return usage();
        } else if (strcmp(argv[i], "--page-kib") == 0 && i + 1 < argc) {
            if (dw_parse_int64(argv[++i], &page_kib) < 0 || page_kib < 1 || page_kib > 8192)
                return usage();
        } else if (strcmp(argv[i], "--order") == 0 && i + 1 < argc) {
            by_labels = strcmp(argv[++i], "file") != 0;
        } else if (strcmp(argv[i], "--families") == 0) {
            families = true;
        } else if (argv[i][0] == '-' || path) {
            return usage();
        } else {
            path = argv[i];
        }
    }
    if (!path)
        return usage();
    struct dataset ds = {0};
    int64_t t0 = dw_mono_ns();
    if (load(&ds, path) < 0)
        return 1;
    for (size_t i = 0; i < ds.n; i++)
        canonicalise(&ds.s[i]);
    if (by_labels)
        qsort(ds.s, ds.n, sizeof *ds.s, cmp_canon);
    printf("dataset %s: %zu series, %zu samples, parsed in %.1f s, series in %s order\n", path,
           ds.n, ds.samples, secs(dw_mono_ns() - t0), by_labels ? "label" : "file");
    bench_head(&ds);
    bench_block(&ds, (int)level, (size_t)page_kib << 10, families);
    bench_wal(&ds);
    for (size_t i = 0; i < ds.n; i++) {
        free(ds.s[i].key);
        free(ds.s[i].canon);
        free(ds.s[i].family);
        free(ds.s[i].t);
        free(ds.s[i].v);
    }
    free(ds.s);
    free(ds.slots);
    return 0;
}
