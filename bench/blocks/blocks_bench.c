/*
 * blocks_bench.c - bytes per sample of a persisted block (data and index)
 * and the speed of writing and selecting.
 *
 * DESIGN: reads a Prometheus text file with millisecond timestamps (the
 * shared dataset: gen_dataset.py --prom FILE), parses it with the real
 * parser (dw_expo_parse) into series, writes them into one block with the
 * block writer (series in label order, like a head cut) in a temporary
 * directory, and reports the sizes of the chunks and index files per
 * sample. Then it opens the block, checks every sample bit for bit against
 * the input, and times selects of a few matcher shapes, each followed by
 * reading every selected sample. Optionally it also downsamples the block
 * and compacts it with a copy of itself shifted by its range. Single
 * thread; time from dw_mono_ns().
 *
 * usage: blocks_bench [--zstd-level N] [--page-kib K] [--grouping family|labels|none]
 *                     [--keep] [--extra] FILE
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/map_file.h"
#include "core/core.h"
#include "expo/expo.h"
#include "tsdb/block_internal.h"
#include "tsdb/tsdb.h"

struct series {
    char *key; /* name and labels as they came, for the hash map */
    struct dw_label *l;
    size_t nl;
    int64_t *t;
    double *v;
    size_t n, cap;
};

struct dataset {
    struct series *s;
    size_t n, cap;
    size_t *slots;
    size_t nslots;
    size_t samples;
    int64_t mint, maxt;
    struct dw_buf key;
};

static uint64_t fnv(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
    return h;
}

static void rehash(struct dataset *ds)
{
    ds->nslots = ds->nslots ? ds->nslots * 2 : 4096;
    free(ds->slots);
    ds->slots = dw_calloc(ds->nslots, sizeof *ds->slots);
    for (size_t i = 0; i < ds->n; i++) {
        size_t h = fnv(ds->s[i].key, strlen(ds->s[i].key)) & (ds->nslots - 1);
        while (ds->slots[h])
            h = (h + 1) & (ds->nslots - 1);
        ds->slots[h] = i + 1;
    }
}

static char *dup_str(struct dw_expo_str s)
{
    return dw_strndup(s.ptr, s.len);
}

static struct series *lookup(struct dataset *ds, const struct dw_expo_sample *x)
{
    struct dw_buf *k = &ds->key;
    k->len = 0;
    dw_buf_append(k, x->name.ptr, x->name.len);
    for (size_t i = 0; i < x->nlabels; i++) {
        dw_buf_putc(k, '\x01');
        dw_buf_append(k, x->labels[i].name.ptr, x->labels[i].name.len);
        dw_buf_putc(k, '\x02');
        dw_buf_append(k, x->labels[i].value.ptr, x->labels[i].value.len);
    }
    if (ds->n * 2 >= ds->nslots)
        rehash(ds);
    size_t h = fnv(k->data, k->len) & (ds->nslots - 1);
    while (ds->slots[h]) {
        struct series *s = &ds->s[ds->slots[h] - 1];
        if (strcmp(s->key, k->data) == 0)
            return s;
        h = (h + 1) & (ds->nslots - 1);
    }
    ds->s = dw_grow(ds->s, &ds->cap, ds->n + 1, sizeof *ds->s);
    struct series *s = &ds->s[ds->n];
    memset(s, 0, sizeof *s);
    s->key = dw_strdup(k->data);
    s->l = dw_calloc(x->nlabels + 1, sizeof *s->l);
    s->l[s->nl++] = (struct dw_label){dw_strdup(DW_TSDB_METRIC_NAME), dup_str(x->name)};
    for (size_t i = 0; i < x->nlabels; i++)
        if (x->labels[i].value.len) /* empty means absent */
            s->l[s->nl++] =
                (struct dw_label){dup_str(x->labels[i].name), dup_str(x->labels[i].value)};
    dw_tsdb_labels_sort(s->l, s->nl);
    ds->slots[h] = ++ds->n;
    return s;
}

static int on_sample(void *ctx, const struct dw_expo_sample *x)
{
    struct dataset *ds = ctx;
    if (!x->has_timestamp)
        return 1;
    struct series *s = lookup(ds, x);
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 512;
        s->t = dw_realloc(s->t, s->cap * sizeof *s->t);
        s->v = dw_realloc(s->v, s->cap * sizeof *s->v);
    }
    s->t[s->n] = x->timestamp_ms;
    s->v[s->n++] = x->value;
    ds->samples++;
    if (x->timestamp_ms < ds->mint)
        ds->mint = x->timestamp_ms;
    if (x->timestamp_ms > ds->maxt)
        ds->maxt = x->timestamp_ms;
    return 0;
}

static int load(struct dataset *ds, const char *path)
{
    size_t size;
    const char *p = bench_map_file(path, &size);
    if (!p)
        return -1;
    ds->mint = INT64_MAX;
    ds->maxt = INT64_MIN;
    dw_buf_init(&ds->key, 0);
    struct dw_expo_opts o;
    dw_expo_opts_init(&o);
    o.format = DW_EXPO_TEXT;
    o.single_pass = true;
    o.max_samples = SIZE_MAX;
    struct dw_expo_handler h = {.sample = on_sample, .ctx = ds};
    struct dw_expo_error err;
    int rc = dw_expo_parse(NULL, &o, p, (size_t)size, &h, &err);
    munmap((void *)p, (size_t)size);
    if (rc) {
        fprintf(stderr, "%s: %s\n", path, err.msg);
        return -1;
    }
    return 0;
}

static int cmp_series(const void *a, const void *b)
{
    const struct series *x = a, *y = b;
    return dw_tsdb_labels_cmp(x->l, x->nl, y->l, y->nl);
}

static double secs(int64_t ns)
{
    return (double)ns / 1e9;
}

static long fsize(const char *dir, const char *id, const char *name)
{
    char *p = dw_asprintf("%s/%s/%s", dir, id, name);
    struct stat sb;
    long n = stat(p, &sb) == 0 ? (long)sb.st_size : -1;
    free(p);
    return n;
}

static int64_t floor_to(int64_t t, int64_t r)
{
    int64_t q = t / r;
    return (t % r < 0 ? q - 1 : q) * r;
}

/* Writes the dataset as one block; returns the meta (release it). */
static struct dw_tsdb_block_meta write_block(const char *dir, const struct dataset *ds,
                                             const struct dw_tsdb_block_wopts *o, int64_t shift)
{
    char *err = NULL;
    struct dw_tsdb_block_writer *w = dw_tsdb_block_writer_new(dir, o, &err);
    if (!w) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    int64_t *tt = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < ds->n; i++) {
        const struct series *s = &ds->s[i];
        const int64_t *t = s->t;
        if (shift) {
            tt = dw_grow(tt, &cap, s->n, sizeof *tt);
            for (size_t j = 0; j < s->n; j++)
                tt[j] = s->t[j] + shift;
            t = tt;
        }
        int rc = dw_tsdb_block_writer_add(w, s->l, s->nl, t, s->v, s->n);
        if (rc) {
            fprintf(stderr, "add %s: %s\n", s->key, dw_tsdb_strerror(rc));
            exit(1);
        }
    }
    free(tt);
    struct dw_tsdb_block_meta m;
    if (dw_tsdb_block_writer_commit(&w, &m, &err)) {
        fprintf(stderr, "commit: %s\n", err);
        exit(1);
    }
    return m;
}

/* Every sample read back must be the input's, bit for bit. */
static size_t verify(struct dw_tsdb_block *b, const struct dataset *ds)
{
    struct dw_tsdb_block_cursor *c = dw_tsdb_block_select(b, NULL, 0, INT64_MIN, INT64_MAX);
    size_t i = 0, bad = 0;
    while (dw_tsdb_block_cursor_next(c)) {
        const struct series *s = &ds->s[i++];
        size_t nl, k = 0;
        const struct dw_label *l = dw_tsdb_block_cursor_labels(c, &nl);
        bad += dw_tsdb_labels_cmp(l, nl, s->l, s->nl) != 0;
        int64_t t;
        double v;
        while (dw_tsdb_block_cursor_sample(c, &t, &v)) {
            bad += k >= s->n || t != s->t[k] || memcmp(&v, &s->v[k], sizeof v) != 0;
            k++;
        }
        bad += k != s->n;
    }
    bad += i != ds->n || dw_tsdb_block_cursor_err(c) != 0;
    dw_tsdb_block_cursor_free(&c);
    return bad;
}

struct shape {
    const char *desc;
    struct {
        enum dw_match_op op;
        const char *name, *value;
    } m[3];
    size_t n;
};

static void bench_selects(struct dw_tsdb_block *b, int64_t mint, int64_t maxt)
{
    static const struct shape shapes[] = {
        {"{__name__=\"node_cpu_seconds_total\"}",
         {{DW_MATCH_EQ, "__name__", "node_cpu_seconds_total"}},
         1},
        {"{__name__=\"node_cpu_seconds_total\",mode=\"idle\",instance=~\"host-000.*\"}",
         {{DW_MATCH_EQ, "__name__", "node_cpu_seconds_total"},
          {DW_MATCH_EQ, "mode", "idle"},
          {DW_MATCH_RE, "instance", "host-000.*"}},
         3},
        {"{__name__=~\"http_request_duration_seconds_bucket\",route!=\"/healthz\"}",
         {{DW_MATCH_RE, "__name__", "http_request_duration_seconds_bucket"},
          {DW_MATCH_NEQ, "route", "/healthz"}},
         2},
        {"{job=\"api\",__name__=~\"process_.+|go_.+\"}",
         {{DW_MATCH_EQ, "job", "api"}, {DW_MATCH_RE, "__name__", "process_.+|go_.+"}},
         2},
        {"{__name__=\"node_load1\"} last 5 minutes", {{DW_MATCH_EQ, "__name__", "node_load1"}}, 1},
        {"{job=~\".+\"} (everything)", {{DW_MATCH_RE, "job", ".+"}}, 1},
    };
    for (size_t k = 0; k < DW_ARRAY_LEN(shapes); k++) {
        const struct shape *sh = &shapes[k];
        struct dw_tsdb_matcher *ms[3];
        for (size_t i = 0; i < sh->n; i++)
            ms[i] = dw_tsdb_matcher_new(sh->m[i].op, sh->m[i].name, sh->m[i].value, NULL);
        int64_t lo = strstr(sh->desc, "last 5") ? maxt - 5 * 60000 : mint;
        size_t series = 0, samples = 0, runs = 0;
        int64_t t0 = dw_mono_ns(), sel_ns = 0;
        do { /* repeat cheap selects for a stable figure */
            series = samples = 0;
            int64_t a = dw_mono_ns();
            struct dw_tsdb_block_cursor *c = dw_tsdb_block_select(b, ms, sh->n, lo, maxt);
            sel_ns += dw_mono_ns() - a;
            while (dw_tsdb_block_cursor_next(c)) {
                series++;
                const int64_t *t;
                const double *v;
                size_t n;
                while (dw_tsdb_block_cursor_batch(c, INT64_MIN, &t, &v, &n))
                    samples += n;
            }
            dw_tsdb_block_cursor_free(&c);
            runs++;
        } while (dw_mono_ns() - t0 < 200000000);
        double per = secs(dw_mono_ns() - t0) / (double)runs;
        printf("  %-78s %5zu series %8zu samples: postings %7.3f ms, total %8.3f ms "
               "(%.0f M samples/s)\n",
               sh->desc, series, samples, secs(sel_ns) / (double)runs * 1e3, per * 1e3,
               (double)samples / per / 1e6);
        for (size_t i = 0; i < sh->n; i++)
            dw_tsdb_matcher_free(&ms[i]);
    }
}

/* Downsamples the block and compacts it with a copy shifted by its range. */
static void bench_extra(const char *dir, struct dw_tsdb_block *b, const struct dataset *ds,
                        const struct dw_tsdb_block_wopts *o0)
{
    const int64_t res[] = {DW_TSDB_RES_5M, DW_TSDB_RES_1H};
    struct dw_tsdb_block_meta dm[2];
    int64_t t0 = dw_mono_ns();
    if (dw_tsdb_block_downsample(dir, b, res, 2, o0->zstd_level, dm, NULL)) {
        fprintf(stderr, "downsample failed\n");
        exit(1);
    }
    double ds_s = secs(dw_mono_ns() - t0);
    for (int i = 0; i < 2; i++) {
        long ix = fsize(dir, dm[i].id, "index"), ck = fsize(dir, dm[i].id, "chunks");
        printf("downsampled %s: %llu series, %llu samples, index %ld + chunks %ld bytes = %.3f "
               "bytes per raw sample (a 2 h block: the index dominates)\n",
               i ? "1h" : "5m", (unsigned long long)dm[i].nseries,
               (unsigned long long)dm[i].nsamples, ix, ck, (double)(ix + ck) / (double)ds->samples);
        dw_tsdb_block_meta_release(&dm[i]);
    }
    printf("downsampling took %.2f s (%.1f M raw samples/s)\n", ds_s,
           (double)ds->samples / ds_s / 1e6);

    struct dw_tsdb_block_wopts o = *o0;
    int64_t range = o.maxt - o.mint;
    o.mint += range;
    o.maxt += range;
    struct dw_tsdb_block_meta m2 = write_block(dir, ds, &o, range);
    char *p2 = dw_asprintf("%s/%s", dir, m2.id);
    struct dw_tsdb_block *b2;
    dw_tsdb_block_open(p2, NULL, &b2, NULL);
    struct dw_tsdb_block *in[2] = {b, b2};
    struct dw_tsdb_block_meta mc;
    t0 = dw_mono_ns();
    dw_tsdb_blocks_merge(dir, in, 2, o0->zstd_level, &mc, NULL);
    double c_s = secs(dw_mono_ns() - t0);
    long bytes = fsize(dir, mc.id, "index") + fsize(dir, mc.id, "chunks");
    printf("compacted 2 x %lld h: %.3f bytes/sample total, %.2f s (%.1f M samples/s)\n",
           (long long)(range / 3600000), (double)bytes / (double)mc.nsamples, c_s,
           (double)mc.nsamples / c_s / 1e6);
    dw_tsdb_block_unref(&b2);
    dw_tsdb_block_meta_release(&m2);
    dw_tsdb_block_meta_release(&mc);
    free(p2);
}

int main(int argc, char **argv)
{
    struct dw_tsdb_block_wopts o;
    dw_tsdb_block_wopts_init(&o, 0, 1);
    bool keep = false, extra = false;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--zstd-level") == 0 && i + 1 < argc) {
            int64_t v;
            dw_parse_int64(argv[++i], &v);
            o.zstd_level = v == 0 ? -1 : (int)v;
        } else if (strcmp(argv[i], "--page-kib") == 0 && i + 1 < argc) {
            int64_t v;
            dw_parse_int64(argv[++i], &v);
            o.page_target = (size_t)v << 10;
        } else if (strcmp(argv[i], "--grouping") == 0 && i + 1 < argc) {
            const char *g = argv[++i];
            o.grouping = strcmp(g, "labels") == 0 ? DW_TSDB_GROUP_LABELS
                         : strcmp(g, "none") == 0 ? DW_TSDB_GROUP_NONE
                                                  : DW_TSDB_GROUP_FAMILY;
        } else if (strcmp(argv[i], "--keep") == 0) {
            keep = true;
        } else if (strcmp(argv[i], "--extra") == 0) {
            extra = true;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        fprintf(stderr, "usage: blocks_bench [--zstd-level N] [--page-kib K] "
                        "[--grouping family|labels|none] [--keep] [--extra] FILE\n");
        return 2;
    }
    struct dataset ds = {0};
    int64_t t0 = dw_mono_ns();
    if (load(&ds, path) < 0 || ds.samples == 0)
        return 1;
    qsort(ds.s, ds.n, sizeof *ds.s, cmp_series);
    printf("parsed %zu series, %zu samples in %.1f s\n", ds.n, ds.samples, secs(dw_mono_ns() - t0));

    const int64_t range = DW_TSDB_BLOCK_RANGE_DEFAULT;
    o.mint = floor_to(ds.mint, range);
    o.maxt = floor_to(ds.maxt, range) + range;
    char tmpl[] = "/tmp/blocks-bench-XXXXXX";
    char *dir = mkdtemp(tmpl);
    t0 = dw_mono_ns();
    struct dw_tsdb_block_meta m = write_block(dir, &ds, &o, 0);
    double w_s = secs(dw_mono_ns() - t0);
    long ck = fsize(dir, m.id, "chunks"), ix = fsize(dir, m.id, "index");
    long mj = fsize(dir, m.id, "meta.json");
    double n = (double)ds.samples;
    printf("block %s: %llu series, %llu chunks, %llu pages\n", m.id, (unsigned long long)m.nseries,
           (unsigned long long)m.nchunks, (unsigned long long)m.npages);
    printf("bytes/sample: data %.3f + index %.3f (+ meta.json %ld bytes) = total %.3f "
           "(index %.1f bytes/series)\n",
           (double)ck / n, (double)ix / n, mj, (double)(ck + ix + mj) / n,
           (double)ix / (double)m.nseries);
    printf("write: %.2f s, %.1f M samples/s (encode, pages, index, fsync)\n", w_s, n / w_s / 1e6);

    char *bp = dw_asprintf("%s/%s", dir, m.id), *err = NULL;
    struct dw_tsdb_block *b;
    t0 = dw_mono_ns();
    if (dw_tsdb_block_open(bp, NULL, &b, &err)) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }
    printf("open (mmap, index CRCs): %.2f ms\n", secs(dw_mono_ns() - t0) * 1e3);
    t0 = dw_mono_ns();
    size_t bad = verify(b, &ds);
    printf("read back all: %.2f s, %.1f M samples/s, exact: %s\n", secs(dw_mono_ns() - t0),
           n / secs(dw_mono_ns() - t0) / 1e6, bad ? "NO" : "yes");
    printf("select + read (range = the block, repeated for 0.2 s each):\n");
    bench_selects(b, o.mint, o.maxt - 1);
    if (extra)
        bench_extra(dir, b, &ds, &o);
    dw_tsdb_block_unref(&b);
    if (keep)
        printf("kept %s\n", dir);
    else
        dw_tsdb_rm_rf(dir);
    for (size_t i = 0; i < ds.n; i++) {
        for (size_t j = 0; j < ds.s[i].nl; j++) {
            free((char *)ds.s[i].l[j].name);
            free((char *)ds.s[i].l[j].value);
        }
        free(ds.s[i].l);
        free(ds.s[i].key);
        free(ds.s[i].t);
        free(ds.s[i].v);
    }
    free(ds.s);
    free(ds.slots);
    dw_buf_release(&ds.key);
    dw_tsdb_block_meta_release(&m);
    free(bp);
    return bad ? 1 : 0;
}
