/*
 * Unit tests of the tsdb blocks: writer and mmap reader round trips (bit
 * exact, nasty values, stale markers), select with every matcher op and
 * time trimming against a brute-force model, seeks, label names/values,
 * corrupt blocks quarantined, temporary directory cleanup, compaction
 * (adjacent, overlapping, planning rules, crash between write and delete),
 * retention on the manual clock, downsampling against brute force, the
 * resolution rule, the importer, the series-source adapter and the limits.
 *
 * Random inputs come from a fixed-seed PRNG so a failure reproduces.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "harness.h"
#include "testutil.h"
#include "tsdb/block_internal.h"
#include "tsdb/head_internal.h"
#include "tsdb/tsdb.h"
#include "tsdb/tsdb_internal.h"

#define H (3600 * 1000LL)
#define MIN (60 * 1000LL)
#define DAY (24 * H)

/* ---- helpers ---- */

static bool same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static double bits2f(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Number of block directories (valid ids) in dir. */
static size_t count_blocks(const char *dir)
{
    DIR *dh = opendir(dir);
    size_t n = 0;
    struct dirent *de;
    while (dh && (de = readdir(dh)) != NULL)
        n += dw_tsdb_block_id_valid(de->d_name);
    if (dh)
        closedir(dh);
    return n;
}

/* Captures log lines while a test runs. */
struct logcap {
    char *text;
    size_t len;
    FILE *f;
};

static void logcap_start(struct logcap *c)
{
    c->text = NULL;
    c->len = 0;
    c->f = open_memstream(&c->text, &c->len);
    dw_log_set_stream(c->f);
}

static void logcap_stop(struct logcap *c)
{
    dw_log_set_stream(NULL);
    fclose(c->f);
}

static size_t count_substr(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void flip_byte(const char *path, long off)
{
    int fd = open(path, O_RDWR);
    ASSERT_TRUE(fd >= 0);
    uint8_t b;
    ASSERT_EQ_INT(pread(fd, &b, 1, off), 1);
    b ^= 0x5a;
    ASSERT_EQ_INT(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

static long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* ---- an in-memory model of series ---- */

struct mseries {
    struct dw_label l[10];
    size_t nl;
    int64_t *t;
    double *v;
    size_t n;
};

struct model {
    struct mseries *s;
    size_t n;
};

static void ms_label(struct mseries *s, const char *name, const char *value)
{
    s->l[s->nl].name = dw_strdup(name);
    s->l[s->nl].value = dw_strdup(value);
    s->nl++;
    dw_tsdb_labels_sort(s->l, s->nl);
}

static struct mseries *model_add(struct model *m)
{
    m->s = dw_realloc(m->s, (m->n + 1) * sizeof *m->s);
    struct mseries *s = &m->s[m->n++];
    memset(s, 0, sizeof *s);
    return s;
}

static void ms_samples(struct mseries *s, size_t n)
{
    s->t = dw_realloc(s->t, (n ? n : 1) * sizeof *s->t);
    s->v = dw_realloc(s->v, (n ? n : 1) * sizeof *s->v);
    s->n = n;
}

static void model_free(struct model *m)
{
    for (size_t i = 0; i < m->n; i++) {
        for (size_t j = 0; j < m->s[i].nl; j++) {
            free((char *)m->s[i].l[j].name);
            free((char *)m->s[i].l[j].value);
        }
        free(m->s[i].t);
        free(m->s[i].v);
    }
    free(m->s);
    m->s = NULL;
    m->n = 0;
}

static int cmp_mseries(const void *a, const void *b)
{
    const struct mseries *x = a, *y = b;
    return dw_tsdb_labels_cmp(x->l, x->nl, y->l, y->nl);
}

static void model_sort(struct model *m)
{
    qsort(m->s, m->n, sizeof *m->s, cmp_mseries);
}

static double nasty_value(void)
{
    static const uint64_t bits[] = {
        0x7ff0000000000002ULL, /* stale marker */
        0x7ff8000000000001ULL, /* NaN with a payload */
        0xfff8000000000000ULL, /* negative quiet NaN */
        0x7ff0000000000000ULL, /* +Inf */
        0xfff0000000000000ULL, /* -Inf */
        0x8000000000000000ULL, /* -0.0 */
        0x0000000000000001ULL, /* smallest subnormal */
        0x7fefffffffffffffULL, /* largest double */
    };
    return bits2f(bits[rnd_below(DW_ARRAY_LEN(bits))]);
}

/* Values of several kinds: counters, gauges with decimals, random floats, nasty bits. */
static void fill_series(struct mseries *s, size_t n, int64_t t0, int64_t step, int kind)
{
    ms_samples(s, n);
    int64_t t = t0;
    double acc = (double)rnd_below(1000);
    for (size_t i = 0; i < n; i++) {
        s->t[i] = t;
        t += step + (kind == 3 ? (int64_t)rnd_below(7) - 3 : 0);
        switch (kind) {
        case 0:
            acc += (double)rnd_below(50);
            s->v[i] = acc;
            break;
        case 1: s->v[i] = (double)((int64_t)rnd_below(100000) - 50000) / 100.0; break;
        case 2: s->v[i] = bits2f(rnd() & 0x7fefffffffffffffULL); break;
        default: s->v[i] = rnd_below(4) == 0 ? nasty_value() : (double)rnd_below(10); break;
        }
    }
}

/* Writes the model (series in the model's order) as one block; returns its id (heap). */
static char *write_model(const char *dir, const struct model *m,
                         const struct dw_tsdb_block_wopts *o)
{
    char *err = NULL;
    struct dw_tsdb_block_writer *w = dw_tsdb_block_writer_new(dir, o, &err);
    if (!w)
        DW_FAIL_("writer_new: %s", err);
    for (size_t i = 0; i < m->n; i++)
        ASSERT_EQ_INT(
            dw_tsdb_block_writer_add(w, m->s[i].l, m->s[i].nl, m->s[i].t, m->s[i].v, m->s[i].n), 0);
    struct dw_tsdb_block_meta meta;
    int rc = dw_tsdb_block_writer_commit(&w, &meta, &err);
    if (rc)
        DW_FAIL_("commit: %s", err);
    ASSERT_NULL(w);
    char *id = dw_strdup(meta.id);
    dw_tsdb_block_meta_release(&meta);
    return id;
}

static struct dw_tsdb_block *open_block(const char *dir, const char *id,
                                        const struct dw_tsdb_block_ropts *ro)
{
    char *path = dw_asprintf("%s/%s", dir, id), *err = NULL;
    struct dw_tsdb_block *b = NULL;
    int rc = dw_tsdb_block_open(path, ro, &b, &err);
    free(path);
    if (rc)
        DW_FAIL_("open %s: %s", id, err);
    return b;
}

static bool series_matches(const struct mseries *s, struct dw_tsdb_matcher *const *ms, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = dw_tsdb_labels_get(s->l, s->nl, dw_tsdb_matcher_name(ms[i]));
        if (!dw_tsdb_matcher_matches(ms[i], v ? v : ""))
            return false;
    }
    return true;
}

/*
 * Compares a cursor with the brute-force answer: the model's series (sorted)
 * matching the matchers with samples in [mint, maxt], every sample bit-exact.
 * Returns the number of series seen.
 */
static size_t check_select(struct dw_tsdb_block *b, const struct model *m,
                           struct dw_tsdb_matcher *const *ms, size_t nm, int64_t mint, int64_t maxt)
{
    struct dw_tsdb_block_cursor *c = dw_tsdb_block_select(b, ms, nm, mint, maxt);
    ASSERT_EQ_INT(dw_tsdb_block_cursor_err(c), 0);
    size_t seen = 0;
    for (size_t i = 0; i < m->n; i++) {
        const struct mseries *s = &m->s[i];
        if (!series_matches(s, ms, nm))
            continue;
        size_t first = 0, last = 0;
        while (first < s->n && s->t[first] < mint)
            first++;
        last = first;
        while (last < s->n && s->t[last] <= maxt)
            last++;
        bool has_chunk_in_range = s->n && s->t[0] <= maxt && s->t[s->n - 1] >= mint;
        if (!has_chunk_in_range)
            continue;
        if (first == last) {
            /* Chunks overlap the range but no sample is inside: the series may be listed
             * with no samples (like Prometheus); accept both. */
            continue;
        }
        ASSERT_TRUE(dw_tsdb_block_cursor_next(c));
        size_t nl;
        const struct dw_label *l = dw_tsdb_block_cursor_labels(c, &nl);
        while (dw_tsdb_labels_cmp(l, nl, s->l, s->nl) != 0) {
            /* only an empty-in-range series may come before */
            int64_t t;
            double v;
            ASSERT_FALSE(dw_tsdb_block_cursor_sample(c, &t, &v));
            ASSERT_TRUE(dw_tsdb_block_cursor_next(c));
            l = dw_tsdb_block_cursor_labels(c, &nl);
        }
        ASSERT_EQ_INT(nl, s->nl);
        for (size_t k = 0; k < nl; k++) {
            ASSERT_EQ_STR(l[k].name, s->l[k].name);
            ASSERT_EQ_STR(l[k].value, s->l[k].value);
        }
        for (size_t k = first; k < last; k++) {
            int64_t t;
            double v;
            ASSERT_TRUE(dw_tsdb_block_cursor_sample(c, &t, &v));
            ASSERT_EQ_INT(t, s->t[k]);
            if (!same_bits(v, s->v[k]))
                DW_FAIL_("series %zu sample %zu: bits %016llx != %016llx", i, k,
                         (unsigned long long)dw_tsdb_f2u(v),
                         (unsigned long long)dw_tsdb_f2u(s->v[k]));
        }
        int64_t t;
        double v;
        ASSERT_FALSE(dw_tsdb_block_cursor_sample(c, &t, &v));
        seen++;
    }
    while (dw_tsdb_block_cursor_next(c)) { /* leftovers may only be empty in range */
        int64_t t;
        double v;
        ASSERT_FALSE(dw_tsdb_block_cursor_sample(c, &t, &v));
    }
    ASSERT_EQ_INT(dw_tsdb_block_cursor_err(c), 0);
    dw_tsdb_block_cursor_free(&c);
    ASSERT_NULL(c);
    return seen;
}

/* A model of hosts x metrics, some labels optional, two histograms. */
static void build_model(struct model *m, size_t hosts, int64_t t0, size_t samples, int64_t step)
{
    static const char *const names[] = {"cpu_seconds_total", "mem_bytes", "req_bucket",
                                        "req_count",         "req_sum",   "temp"};
    for (size_t h = 0; h < hosts; h++) {
        char inst[32];
        snprintf(inst, sizeof inst, "host-%02zu:9100", h);
        for (size_t k = 0; k < DW_ARRAY_LEN(names); k++) {
            size_t nb = strcmp(names[k], "req_bucket") == 0 ? 4 : 1;
            for (size_t b = 0; b < nb; b++) {
                struct mseries *s = model_add(m);
                ms_label(s, "__name__", names[k]);
                ms_label(s, "instance", inst);
                ms_label(s, "job", h % 3 ? "node" : "api");
                if (nb > 1) {
                    static const char *const le[] = {"0.1", "1", "10", "+Inf"};
                    ms_label(s, "le", le[b]);
                }
                if (h % 2)
                    ms_label(s, "zone", h % 4 == 1 ? "a" : "b");
                size_t n = samples - rnd_below(samples / 3);
                int64_t start = t0 + (int64_t)rnd_below(4) * step;
                fill_series(s, n, start, step, (int)(rnd_below(4)));
            }
        }
    }
}

/* ---- ids and meta ---- */

TEST(block_ids_are_valid_unique_and_time_ordered)
{
    dw_clock_set_manual(1700000000000LL);
    dw_tsdb_block_id a, b, c;
    dw_tsdb_block_new_id(a);
    dw_tsdb_block_new_id(b);
    dw_clock_advance(1);
    dw_tsdb_block_new_id(c);
    dw_clock_set_real();
    ASSERT_TRUE(dw_tsdb_block_id_valid(a));
    ASSERT_TRUE(dw_tsdb_block_id_valid(c));
    ASSERT_EQ_INT(strlen(a), DW_TSDB_BLOCK_ID_LEN);
    ASSERT_TRUE(strcmp(a, b) != 0);
    ASSERT_TRUE(strcmp(a, c) < 0 && strcmp(b, c) < 0);
    ASSERT_EQ_INT(memcmp(a, b, 10), 0); /* same millisecond: same time prefix */
    ASSERT_FALSE(dw_tsdb_block_id_valid("01HF"));
    ASSERT_FALSE(dw_tsdb_block_id_valid("01HFZZZZZZZZZZZZZZZZZZZZZU")); /* U is not Crockford */
}

/* ---- round trip ---- */

TEST(block_roundtrip_exact_values_and_meta)
{
    rng_seed(1);
    char *dir = tmpdir_new();
    struct model m = {0};
    build_model(&m, 6, 1000 * H, 300, 15000);
    /* A long series split into several chunks (more than DW_TSDB_BLOCK_MAX_CHUNK). */
    struct mseries *s = model_add(&m);
    ms_label(s, "__name__", "long");
    fill_series(s, DW_TSDB_BLOCK_MAX_CHUNK + 5000, 1000 * H, 10, 3);
    /* Every nasty value in one series. */
    s = model_add(&m);
    ms_label(s, "__name__", "nasty");
    ms_samples(s, 64);
    for (size_t i = 0; i < 64; i++) {
        s->t[i] = 1000 * H + (int64_t)i * 1000;
        s->v[i] = nasty_value();
    }
    /* Shuffle the add order: the writer must sort. */
    for (size_t i = m.n - 1; i > 0; i--) {
        size_t j = rnd_below(i + 1);
        struct mseries tmp = m.s[i];
        m.s[i] = m.s[j];
        m.s[j] = tmp;
    }
    struct dw_tsdb_block_wopts o;
    dw_tsdb_block_wopts_init(&o, 1000 * H, 1002 * H);
    o.chunk_range_ms = 20 * MIN; /* several chunks per series */
    o.page_target = 4096;        /* many pages */
    char *id = write_model(dir, &m, &o);
    model_sort(&m);
    ASSERT_FALSE(path_exists(dir, "tmp")); /* nothing half-written is left */
    char *tmpname = dw_asprintf("%s.tmp", id);
    ASSERT_FALSE(path_exists(dir, tmpname));
    free(tmpname);

    struct dw_tsdb_block_ropts ro = {.verify_chunks = true, .cache_pages = 2};
    struct dw_tsdb_block *b = open_block(dir, id, &ro);
    const struct dw_tsdb_block_meta *meta = dw_tsdb_block_meta_of(b);
    uint64_t samples = 0;
    for (size_t i = 0; i < m.n; i++)
        samples += m.s[i].n;
    ASSERT_EQ_STR(meta->id, id);
    ASSERT_EQ_UINT(meta->nseries, m.n);
    ASSERT_EQ_UINT(meta->nsamples, samples);
    ASSERT_TRUE(meta->nchunks > m.n);
    ASSERT_TRUE(meta->npages > 10);
    ASSERT_EQ_INT(meta->mint, 1000 * H);
    ASSERT_EQ_INT(meta->maxt, 1002 * H);
    ASSERT_EQ_INT(meta->level, 1);
    ASSERT_EQ_INT(meta->resolution_ms, 0);
    ASSERT_EQ_INT(meta->nsources, 1);
    ASSERT_EQ_STR(meta->sources[0], id);
    ASSERT_EQ_INT(check_select(b, &m, NULL, 0, INT64_MIN, INT64_MAX), m.n);

    /* meta.json on disk says the same. */
    struct dw_tsdb_block_meta disk;
    ASSERT_EQ_INT(dw_tsdb_block_meta_read(dw_tsdb_block_path(b), &disk, NULL), 0);
    ASSERT_EQ_UINT(disk.nsamples, samples);
    char *ix = dw_asprintf("%s/index", dw_tsdb_block_path(b));
    char *ck = dw_asprintf("%s/chunks", dw_tsdb_block_path(b));
    ASSERT_EQ_INT((long)disk.index_bytes, file_size(ix));
    ASSERT_EQ_INT((long)disk.chunk_bytes, file_size(ck));
    free(ix);
    free(ck);
    dw_tsdb_block_meta_release(&disk);

    dw_tsdb_block_unref(&b);
    ASSERT_NULL(b);
    free(id);
    model_free(&m);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

TEST(block_grouping_modes_read_back_the_same)
{
    rng_seed(2);
    char *dir = tmpdir_new();
    struct model m = {0};
    build_model(&m, 4, 0, 200, 15000);
    model_sort(&m);
    for (int g = 0; g < 3; g++) {
        struct dw_tsdb_block_wopts o;
        dw_tsdb_block_wopts_init(&o, 0, 2 * H);
        o.grouping = (enum dw_tsdb_grouping)g;
        o.zstd_level = g == 2 ? -1 : 0; /* one of them uncompressed (read in place) */
        o.page_target = 2048;
        o.flush_bytes = 3000; /* several flushes */
        char *id = write_model(dir, &m, &o);
        struct dw_tsdb_block *b = open_block(dir, id, NULL);
        ASSERT_EQ_INT(check_select(b, &m, NULL, 0, INT64_MIN, INT64_MAX), m.n);
        dw_tsdb_block_unref(&b);
        free(id);
    }
    model_free(&m);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

TEST(block_empty_is_not_written)
{
    char *dir = tmpdir_new();
    struct dw_tsdb_block_wopts o;
    dw_tsdb_block_wopts_init(&o, 0, H);
    struct dw_tsdb_block_writer *w = dw_tsdb_block_writer_new(dir, &o, NULL);
    ASSERT_NOT_NULL(w);
    ASSERT_EQ_INT(dw_tsdb_block_writer_add(w, NULL, 0, NULL, NULL, 0), 0); /* n == 0: ignored */
    struct dw_tsdb_block_meta meta;
    ASSERT_EQ_INT(dw_tsdb_block_writer_commit(&w, &meta, NULL), 0);
    ASSERT_EQ_STR(meta.id, "");
    ASSERT_EQ_INT(count_blocks(dir), 0);
    DIR *dh = opendir(dir);
    size_t entries = 0;
    struct dirent *de;
    while ((de = readdir(dh)) != NULL)
        entries += de->d_name[0] != '.';
    closedir(dh);
    ASSERT_EQ_INT(entries, 0); /* the .tmp directory is gone too */
    dw_tsdb_block_meta_release(&meta);
    dw_tsdb_block_writer_abort(&w); /* NULL: no-op */
    dw_tsdb_rm_rf(dir);
    free(dir);
}

/* ---- select, seek, labels ---- */

static struct dw_tsdb_matcher *mk(enum dw_match_op op, const char *name, const char *value)
{
    char *err = NULL;
    struct dw_tsdb_matcher *m = dw_tsdb_matcher_new(op, name, value, &err);
    if (!m)
        DW_FAIL_("matcher: %s", err);
    return m;
}

TEST(block_select_every_matcher_op_and_time_trim_vs_brute_force)
{
    rng_seed(3);
    char *dir = tmpdir_new();
    struct model m = {0};
    build_model(&m, 8, 0, 240, 30000);
    struct dw_tsdb_block_wopts o;
    dw_tsdb_block_wopts_init(&o, 0, 4 * H);
    o.chunk_range_ms = 30 * MIN;
    o.page_target = 8192;
    char *id = write_model(dir, &m, &o);
    model_sort(&m);
    struct dw_tsdb_block_ropts ro = {.cache_pages = 3};
    struct dw_tsdb_block *b = open_block(dir, id, &ro);

    struct {
        enum dw_match_op op;
        const char *name, *value;
    } specs[] = {
        {DW_MATCH_EQ, "__name__", "mem_bytes"},
        {DW_MATCH_EQ, "job", "api"},
        {DW_MATCH_EQ, "zone", ""},    /* absent label */
        {DW_MATCH_EQ, "nosuch", ""},  /* absent everywhere: matches all */
        {DW_MATCH_EQ, "nosuch", "x"}, /* matches nothing */
        {DW_MATCH_NEQ, "job", "api"},
        {DW_MATCH_NEQ, "zone", ""},  /* present label */
        {DW_MATCH_NEQ, "zone", "a"}, /* absent or b */
        {DW_MATCH_RE, "__name__", "req_(bucket|count)"},
        {DW_MATCH_RE, "__name__", "req_bucket|temp"}, /* literal set */
        {DW_MATCH_RE, "instance", "host-0.*"},        /* literal prefix */
        {DW_MATCH_RE, "instance", "host-0[1-3].*"},   /* real regex */
        {DW_MATCH_RE, "zone", "a|"},                  /* matches absent too */
        {DW_MATCH_RE, "zone", ".*"},
        {DW_MATCH_RE, "zone", ".+"},
        {DW_MATCH_NRE, "le", "\\+Inf|10"},
        {DW_MATCH_NRE, "instance", "host-0.*"},
        {DW_MATCH_NRE, "zone", ".*"}, /* matches nothing */
        {DW_MATCH_NRE, "zone", ""},   /* zone present */
    };
    struct dw_tsdb_matcher *ms[DW_ARRAY_LEN(specs)];
    for (size_t i = 0; i < DW_ARRAY_LEN(specs); i++)
        ms[i] = mk(specs[i].op, specs[i].name, specs[i].value);

    const int64_t ranges[][2] = {
        {INT64_MIN, INT64_MAX}, {0, 4 * H},   {10 * MIN, 50 * MIN}, {31 * MIN + 7, 31 * MIN + 7},
        {3 * H, 10 * H},        {-5 * H, -1}, {5 * H, 6 * H},       {29 * MIN, 61 * MIN}};
    size_t nonempty = 0;
    for (size_t r = 0; r < DW_ARRAY_LEN(ranges); r++) {
        for (size_t i = 0; i < DW_ARRAY_LEN(specs); i++)
            nonempty += check_select(b, &m, &ms[i], 1, ranges[r][0], ranges[r][1]) > 0;
        /* Pairs and triples of matchers. */
        for (size_t k = 0; k < 30; k++) {
            struct dw_tsdb_matcher *set[3] = {ms[rnd_below(DW_ARRAY_LEN(ms))],
                                              ms[rnd_below(DW_ARRAY_LEN(ms))],
                                              ms[rnd_below(DW_ARRAY_LEN(ms))]};
            check_select(b, &m, set, 1 + rnd_below(3), ranges[r][0], ranges[r][1]);
        }
    }
    ASSERT_TRUE(nonempty > 50); /* the checks did look at data */
    /* Exact counts for a few, computed by hand from the model layout. */
    ASSERT_EQ_INT(check_select(b, &m, &ms[0], 1, INT64_MIN, INT64_MAX), 8); /* mem_bytes */
    ASSERT_EQ_INT(check_select(b, &m, &ms[4], 1, INT64_MIN, INT64_MAX), 0);
    ASSERT_EQ_INT(check_select(b, &m, &ms[3], 1, INT64_MIN, INT64_MAX), m.n);
    ASSERT_EQ_INT(check_select(b, &m, &ms[17], 1, INT64_MIN, INT64_MAX), 0);

    for (size_t i = 0; i < DW_ARRAY_LEN(ms); i++)
        dw_tsdb_matcher_free(&ms[i]);
    dw_tsdb_block_unref(&b);
    free(id);
    model_free(&m);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

TEST(block_seek_never_goes_back_and_matches_brute_force)
{
    rng_seed(4);
    char *dir = tmpdir_new();
    struct model m = {0};
    for (int i = 0; i < 5; i++) {
        struct mseries *s = model_add(&m);
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        ms_label(s, "__name__", name);
        fill_series(s, 2000 + rnd_below(500), 0, 997, 3);
    }
    struct dw_tsdb_block_wopts o;
    dw_tsdb_block_wopts_init(&o, 0, 4 * H);
    o.chunk_range_ms = 5 * MIN;
    char *id = write_model(dir, &m, &o);
    model_sort(&m);
    struct dw_tsdb_block *b = open_block(dir, id, NULL);
    int64_t lo = 7 * MIN, hi = 25 * MIN;
    struct dw_tsdb_block_cursor *c = dw_tsdb_block_select(b, NULL, 0, lo, hi);
    for (size_t i = 0; i < m.n; i++) {
        const struct mseries *s = &m.s[i];
        ASSERT_TRUE(dw_tsdb_block_cursor_next(c));
        int64_t pos_t = INT64_MIN; /* the current sample per the contract */
        for (int k = 0; k < 60; k++) {
            int64_t target = lo - MIN + (int64_t)rnd_below((uint64_t)(hi - lo + 2 * MIN));
            /* expected: first sample >= max(target, current) in [lo, hi] */
            int64_t want_from = target > pos_t ? target : pos_t;
            if (want_from < lo)
                want_from = lo;
            size_t j = 0;
            while (j < s->n && s->t[j] < want_from)
                j++;
            int64_t t;
            double v;
            bool ok = dw_tsdb_block_cursor_seek(c, target, &t, &v);
            if (j < s->n && s->t[j] <= hi) {
                ASSERT_TRUE(ok);
                ASSERT_EQ_INT(t, s->t[j]);
                ASSERT_TRUE(same_bits(v, s->v[j]));
                pos_t = t;
                if (rnd_below(3) == 0) { /* next continues after the seek */
                    bool more = dw_tsdb_block_cursor_sample(c, &t, &v);
                    if (j + 1 < s->n && s->t[j + 1] <= hi) {
                        ASSERT_TRUE(more);
                        ASSERT_EQ_INT(t, s->t[j + 1]);
                        pos_t = t;
                    } else {
                        ASSERT_FALSE(more);
                        break;
                    }
                }
            } else {
                ASSERT_FALSE(ok);
                break;
            }
        }
    }
    dw_tsdb_block_cursor_free(&c);
    dw_tsdb_block_unref(&b);
    free(id);
    model_free(&m);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

TEST(block_batches_skip_chunks_before_min_t)
{
    char *dir = tmpdir_new();
    struct model m = {0};
    struct mseries *s = model_add(&m);
    ms_label(s, "__name__", "x");
    fill_series(s, 480, 0, 15000, 0); /* 2 h at 15 s */
    struct dw_tsdb_block_wopts o;
    dw_tsdb_block_wopts_init(&o, 0, 2 * H);
    o.chunk_range_ms = 30 * MIN; /* 4 chunks of 120 */
    char *id = write_model(dir, &m, &o);
    struct dw_tsdb_block *b = open_block(dir, id, NULL);
    struct dw_tsdb_block_cursor *c = dw_tsdb_block_select(b, NULL, 0, 10 * MIN, 100 * MIN);
    ASSERT_TRUE(dw_tsdb_block_cursor_next(c));
    const int64_t *t;
    const double *v;
    size_t n;
    ASSERT_TRUE(dw_tsdb_block_cursor_batch(c, 70 * MIN, &t, &v, &n));
    ASSERT_EQ_INT(t[0], 70 * MIN); /* the chunks of 0-60 min were skipped */
    ASSERT_EQ_INT(n, 80);          /* 70..89:45 min */
    ASSERT_TRUE(same_bits(v[0], s->v[70 * 4]));
    ASSERT_TRUE(dw_tsdb_block_cursor_batch(c, 0, &t, &v, &n));
    ASSERT_EQ_INT(t[0], 90 * MIN);
    ASSERT_EQ_INT(t[n - 1], 100 * MIN); /* trimmed to maxt, inclusive */
    ASSERT_FALSE(dw_tsdb_block_cursor_batch(c, 0, &t, &v, &n));
    ASSERT_FALSE(dw_tsdb_block_cursor_next(c));
    dw_tsdb_block_cursor_free(&c);
    dw_tsdb_block_unref(&b);
    free(id);
    model_free(&m);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Brute-force names or values of `name` over matching series, sorted, unique. */
static size_t brute_strings(const struct model *m, const char *name,
                            struct dw_tsdb_matcher *const *ms, size_t n, const char **out)
{
    size_t k = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (!series_matches(&m->s[i], ms, n))
            continue;
        for (size_t j = 0; j < m->s[i].nl; j++) {
            if (name && strcmp(m->s[i].l[j].name, name) != 0)
                continue;
            const char *s = name ? m->s[i].l[j].value : m->s[i].l[j].name;
            bool dup = false;
            for (size_t x = 0; x < k && !dup; x++)
                dup = strcmp(out[x], s) == 0;
            if (!dup)
                out[k++] = s;
        }
    }
    qsort(out, k, sizeof *out, cmp_cstr);
    return k;
}

TEST(block_label_names_and_values_vs_brute_force)
{
    rng_seed(5);
    char *dir = tmpdir_new();
    struct model m = {0};
    build_model(&m, 5, 0, 40, 60000);
    struct dw_tsdb_block_wopts o;
    dw_tsdb_block_wopts_init(&o, 0, 2 * H);
    char *id = write_model(dir, &m, &o);
    struct dw_tsdb_block *b = open_block(dir, id, NULL);
    struct dw_tsdb_matcher *ms[2] = {mk(DW_MATCH_EQ, "job", "api"),
                                     mk(DW_MATCH_RE, "__name__", "req.*")};
    const char *names[] = {NULL, "__name__", "zone", "le", "nosuch"};
    const char *want[256];
    for (size_t nm = 0; nm <= 2; nm++) {
        for (size_t k = 0; k < DW_ARRAY_LEN(names); k++) {
            const char **got;
            size_t n;
            ASSERT_EQ_INT(dw_tsdb_block_label_strings(b, names[k], ms, nm, &got, &n), 0);
            size_t nw = brute_strings(&m, names[k], ms, nm, want);
            ASSERT_EQ_INT(n, nw);
            for (size_t i = 0; i < n; i++)
                ASSERT_EQ_STR(got[i], want[i]);
            free(got);
        }
    }
    /* Spot checks that do not depend on the brute force. */
    const char **got;
    size_t n;
    ASSERT_EQ_INT(dw_tsdb_block_label_strings(b, NULL, NULL, 0, &got, &n), 0);
    ASSERT_EQ_INT(n, 5);
    ASSERT_EQ_STR(got[0], "__name__");
    ASSERT_EQ_STR(got[4], "zone");
    free(got);
    ASSERT_EQ_INT(dw_tsdb_block_label_strings(b, "zone", NULL, 0, &got, &n), 0);
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_STR(got[0], "a");
    free(got);
    dw_tsdb_matcher_free(&ms[0]);
    dw_tsdb_matcher_free(&ms[1]);
    dw_tsdb_block_unref(&b);
    free(id);
    model_free(&m);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

/* ---- corruption ---- */

static char *small_block(const char *dir, uint64_t seed, int64_t mint, int64_t maxt,
                         struct model *m)
{
    rng_seed(seed);
    build_model(m, 3, mint, (size_t)((maxt - mint) / 60000), 60000);
    for (size_t i = 0; i < m->n; i++) /* keep every sample inside the range */
        while (m->s[i].n && m->s[i].t[m->s[i].n - 1] >= maxt)
            m->s[i].n--;
    struct dw_tsdb_block_wopts o;
    dw_tsdb_block_wopts_init(&o, mint, maxt);
    o.page_target = 1024;
    char *id = write_model(dir, m, &o);
    model_sort(m);
    return id;
}

TEST(block_corrupt_index_is_quarantined_and_the_rest_serves)
{
    char *dir = tmpdir_new();
    struct model good = {0}, bad = {0};
    char *gid = small_block(dir, 6, 0, 2 * H, &good);
    char *bid = small_block(dir, 7, 2 * H, 4 * H, &bad);
    char *ix = dw_asprintf("%s/%s/index", dir, bid);
    flip_byte(ix, file_size(ix) / 2);
    struct logcap lc;
    logcap_start(&lc);
    struct dw_tsdb_blockdir *d = dw_tsdb_blockdir_open(dir, NULL, NULL);
    logcap_stop(&lc);
    ASSERT_NOT_NULL(d);
    ASSERT_EQ_INT(count_substr(lc.text, "corrupt block quarantined"), 1);
    ASSERT_CONTAINS(lc.text, bid);
    ASSERT_CONTAINS(lc.text, "checksum mismatch");
    free(lc.text);
    ASSERT_FALSE(path_exists(dir, bid));
    char *q = dw_asprintf("quarantine/%s", bid);
    ASSERT_TRUE(path_exists(dir, q));
    free(q);
    struct dw_tsdb_block **v;
    size_t n = dw_tsdb_blockdir_blocks(d, -1, &v);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_STR(dw_tsdb_block_meta_of(v[0])->id, gid);
    ASSERT_EQ_INT(check_select(v[0], &good, NULL, 0, INT64_MIN, INT64_MAX), good.n);
    dw_tsdb_blocks_release(v, n);
    dw_tsdb_blockdir_free(&d);
    ASSERT_NULL(d);
    free(ix);
    free(gid);
    free(bid);
    model_free(&good);
    model_free(&bad);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

TEST(block_corrupt_chunks_found_on_read_are_quarantined)
{
    char *dir = tmpdir_new();
    struct model m = {0};
    char *id = small_block(dir, 8, 0, 2 * H, &m);
    char *ck = dw_asprintf("%s/%s/chunks", dir, id);
    flip_byte(ck, file_size(ck) - 10); /* inside the last page */
    struct dw_tsdb_blockdir *d = dw_tsdb_blockdir_open(dir, NULL, NULL);
    ASSERT_NOT_NULL(d); /* pages are checked lazily: the block opens */
    struct dw_tsdb_block **v;
    size_t n = dw_tsdb_blockdir_blocks(d, -1, &v);
    ASSERT_EQ_INT(n, 1);
    struct logcap lc;
    logcap_start(&lc);
    struct dw_tsdb_block_cursor *c = dw_tsdb_block_select(v[0], NULL, 0, INT64_MIN, INT64_MAX);
    size_t series = 0;
    int64_t t;
    double val;
    while (dw_tsdb_block_cursor_next(c)) {
        series++;
        while (dw_tsdb_block_cursor_sample(c, &t, &val))
            ;
    }
    ASSERT_EQ_INT(dw_tsdb_block_cursor_err(c), DW_TSDB_ECORRUPT);
    ASSERT_TRUE(series > 0 && series <= m.n);
    dw_tsdb_block_cursor_free(&c);
    /* A second failure does not log again. */
    c = dw_tsdb_block_select(v[0], NULL, 0, INT64_MIN, INT64_MAX);
    while (dw_tsdb_block_cursor_next(c))
        while (dw_tsdb_block_cursor_sample(c, &t, &val))
            ;
    dw_tsdb_block_cursor_free(&c);
    logcap_stop(&lc);
    ASSERT_EQ_INT(count_substr(lc.text, "corrupt block quarantined"), 1);
    ASSERT_CONTAINS(lc.text, "chunks: page");
    free(lc.text);
    ASSERT_TRUE(dw_tsdb_block_is_corrupt(v[0]));
    ASSERT_FALSE(path_exists(dir, id));
    dw_tsdb_blocks_release(v, n);
    /* The directory drops it from later snapshots. */
    n = dw_tsdb_blockdir_blocks(d, -1, &v);
    ASSERT_EQ_INT(n, 0);
    dw_tsdb_blocks_release(v, n);
    dw_tsdb_blockdir_free(&d);

    /* verify_chunks finds the same damage at open. */
    char *qpath = dw_asprintf("%s/quarantine/%s", dir, id), *err = NULL;
    struct dw_tsdb_block *b;
    struct dw_tsdb_block_ropts ro = {.verify_chunks = true};
    ASSERT_EQ_INT(dw_tsdb_block_open(qpath, &ro, &b, &err), DW_TSDB_ECORRUPT);
    ASSERT_CONTAINS(err, "checksum mismatch");
    free(err);
    free(qpath);
    free(ck);
    free(id);
    model_free(&m);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

static void copy_file(const char *from, const char *to)
{
    char *data;
    size_t len;
    FILE *f = fopen(from, "rb");
    ASSERT_NOT_NULL(f);
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    data = dw_malloc(len + 1);
    ASSERT_EQ_INT(fread(data, 1, len, f), len);
    fclose(f);
    f = fopen(to, "wb");
    ASSERT_NOT_NULL(f);
    ASSERT_EQ_INT(fwrite(data, 1, len, f), len);
    fclose(f);
    free(data);
}

/* Random single-byte damage anywhere: open and read must fail cleanly or succeed, never crash. */
TEST(block_random_damage_never_crashes)
{
    char *dir = tmpdir_new();
    struct model m = {0};
    char *id = small_block(dir, 9, 0, 2 * H, &m);
    const char *files[] = {"index", "chunks", "meta.json"};
    char *pristine[3], *live[3];
    for (int f = 0; f < 3; f++) {
        live[f] = dw_asprintf("%s/%s/%s", dir, id, files[f]);
        pristine[f] = dw_asprintf("%s/pristine.%s", dir, files[f]);
        copy_file(live[f], pristine[f]);
    }
    char *path = dw_asprintf("%s/%s", dir, id);
    rng_seed(10);
    size_t failed_open = 0, failed_read = 0;
    struct logcap lc;
    logcap_start(&lc);
    for (int it = 0; it < 150; it++) {
        int f = it % 3;
        long sz = file_size(live[f]);
        flip_byte(live[f], (long)rnd_below((uint64_t)sz));
        struct dw_tsdb_block *b;
        char *err = NULL;
        int rc = dw_tsdb_block_open(path, NULL, &b, &err);
        if (rc) {
            ASSERT_EQ_INT(rc, DW_TSDB_ECORRUPT);
            ASSERT_NOT_NULL(err);
            failed_open++;
        } else {
            struct dw_tsdb_block_cursor *c = dw_tsdb_block_select(b, NULL, 0, INT64_MIN, INT64_MAX);
            int64_t t;
            double v;
            while (dw_tsdb_block_cursor_next(c))
                while (dw_tsdb_block_cursor_sample(c, &t, &v))
                    ;
            if (dw_tsdb_block_cursor_err(c)) {
                failed_read++;
                /* it moved itself to quarantine: put it back for the next round */
                char *q = dw_asprintf("%s/quarantine/%s", dir, id);
                ASSERT_EQ_INT(rename(q, path), 0);
                free(q);
            }
            dw_tsdb_block_cursor_free(&c);
            dw_tsdb_block_unref(&b);
        }
        free(err);
        copy_file(pristine[f], live[f]);
    }
    logcap_stop(&lc);
    ASSERT_TRUE(failed_open > 80); /* CRCs catch almost every index and meta change */
    ASSERT_TRUE(failed_read > 0);  /* and chunk damage shows up on read, */
    ASSERT_EQ_INT(count_substr(lc.text, "corrupt block quarantined"), failed_read); /* once */
    free(lc.text);
    for (int f = 0; f < 3; f++) {
        free(live[f]);
        free(pristine[f]);
    }
    free(path);
    free(id);
    model_free(&m);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

TEST(block_bad_meta_and_missing_files_are_quarantined)
{
    char *dir = tmpdir_new();
    struct model m1 = {0}, m2 = {0}, m3 = {0};
    char *a = small_block(dir, 11, 0, 2 * H, &m1);
    char *b = small_block(dir, 12, 2 * H, 4 * H, &m2);
    char *c = small_block(dir, 13, 4 * H, 6 * H, &m3);
    /* a: meta.json over its size limit */
    char *p = dw_asprintf("%s/%s/meta.json", dir, a);
    FILE *f = fopen(p, "r+b"); /* not "a": appends ignore the seek */
    ASSERT_NOT_NULL(f);
    ASSERT_EQ_INT(fseek(f, DW_TSDB_BLOCK_META_MAX, SEEK_SET), 0);
    fputc(' ', f);
    fclose(f);
    free(p);
    /* b: the chunks file is missing */
    p = dw_asprintf("%s/%s/chunks", dir, b);
    ASSERT_EQ_INT(unlink(p), 0);
    free(p);
    /* c: the chunks file is truncated (pages point past its end) */
    p = dw_asprintf("%s/%s/chunks", dir, c);
    ASSERT_EQ_INT(truncate(p, file_size(p) - 1), 0);
    free(p);
    struct logcap lc;
    logcap_start(&lc);
    struct dw_tsdb_blockdir *d = dw_tsdb_blockdir_open(dir, NULL, NULL);
    logcap_stop(&lc);
    if (count_substr(lc.text, "corrupt block quarantined") != 3)
        DW_FAIL_("log: %s", lc.text);
    ASSERT_CONTAINS(lc.text, "too large");
    ASSERT_CONTAINS(lc.text, "page outside the chunks file");
    free(lc.text);
    struct dw_tsdb_block **v;
    ASSERT_EQ_INT(dw_tsdb_blockdir_blocks(d, -1, &v), 0);
    dw_tsdb_blocks_release(v, 0);
    dw_tsdb_blockdir_free(&d);
    free(a);
    free(b);
    free(c);
    model_free(&m1);
    model_free(&m2);
    model_free(&m3);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

/* ---- temporary directories ---- */

TEST(blockdir_deletes_leftover_tmp_dirs_only)
{
    char *dir = tmpdir_new();
    struct model m = {0};
    char *id = small_block(dir, 14, 0, 2 * H, &m);
    /* A crash before the rename: a complete-looking block under <id>.tmp. */
    dw_tsdb_block_id tid, did;
    dw_tsdb_block_new_id(tid);
    dw_tsdb_block_new_id(did);
    char *tmp = dw_asprintf("%s/%s.tmp", dir, tid);
    ASSERT_EQ_INT(mkdir(tmp, 0755), 0);
    char *src = dw_asprintf("%s/%s/index", dir, id), *dst = dw_asprintf("%s/index", tmp);
    copy_file(src, dst);
    /* An interrupted delete and things that are not ours. */
    char *del = dw_asprintf("%s/%s.del.tmp", dir, did);
    ASSERT_EQ_INT(mkdir(del, 0755), 0);
    char *other = dw_asprintf("%s/wal", dir), *other2 = dw_asprintf("%s/notours.tmp", dir);
    ASSERT_EQ_INT(mkdir(other, 0755), 0);
    ASSERT_EQ_INT(mkdir(other2, 0755), 0);
    struct logcap lc;
    logcap_start(&lc);
    struct dw_tsdb_blockdir *d = dw_tsdb_blockdir_open(dir, NULL, NULL);
    logcap_stop(&lc);
    ASSERT_NOT_NULL(d);
    ASSERT_EQ_INT(count_substr(lc.text, "deleting leftover temporary directory"), 2);
    free(lc.text);
    ASSERT_EQ_INT(access(tmp, F_OK), -1);
    ASSERT_EQ_INT(access(del, F_OK), -1);
    ASSERT_EQ_INT(access(other, F_OK), 0);
    ASSERT_EQ_INT(access(other2, F_OK), 0);
    ASSERT_TRUE(path_exists(dir, id));
    struct dw_tsdb_block **v;
    size_t n = dw_tsdb_blockdir_blocks(d, -1, &v);
    ASSERT_EQ_INT(n, 1);
    dw_tsdb_blocks_release(v, n);
    dw_tsdb_blockdir_free(&d);
    /* An aborted writer leaves nothing behind. */
    struct dw_tsdb_block_wopts o;
    dw_tsdb_block_wopts_init(&o, 0, H);
    struct dw_tsdb_block_writer *w = dw_tsdb_block_writer_new(dir, &o, NULL);
    struct dw_label l[] = {{"__name__", "x"}};
    int64_t t = 5;
    double val = 1;
    ASSERT_EQ_INT(dw_tsdb_block_writer_add(w, l, 1, &t, &val, 1), 0);
    dw_tsdb_block_writer_abort(&w);
    ASSERT_NULL(w);
    ASSERT_EQ_INT(count_blocks(dir), 1);
    free(tmp);
    free(src);
    free(dst);
    free(del);
    free(other);
    free(other2);
    free(id);
    model_free(&m);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

/* ---- writer limits ---- */

TEST(block_writer_rejects_bad_input_and_stays_usable)
{
    char *dir = tmpdir_new();
    struct dw_tsdb_block_wopts o;
    dw_tsdb_block_wopts_init(&o, 0, H);
    struct dw_tsdb_block_writer *w = dw_tsdb_block_writer_new(dir, &o, NULL);
    int64_t t[3] = {1, 2, 3};
    double v[3] = {1, 2, 3};
    struct dw_label ok[] = {{"__name__", "m"}, {"a", "1"}};
    struct dw_label unsorted[] = {{"b", "1"}, {"a", "1"}};
    struct dw_label dupname[] = {{"a", "1"}, {"a", "2"}};
    struct dw_label empty[] = {{"__name__", "m"}, {"a", ""}};
    struct dw_label badname[] = {{"a-b", "1"}};
    ASSERT_EQ_INT(dw_tsdb_block_writer_add(w, unsorted, 2, t, v, 3), DW_TSDB_EINVAL);
    ASSERT_EQ_INT(dw_tsdb_block_writer_add(w, dupname, 2, t, v, 3), DW_TSDB_EINVAL);
    ASSERT_EQ_INT(dw_tsdb_block_writer_add(w, empty, 2, t, v, 3), DW_TSDB_EINVAL);
    ASSERT_EQ_INT(dw_tsdb_block_writer_add(w, badname, 1, t, v, 3), DW_TSDB_EINVAL);
    ASSERT_EQ_INT(dw_tsdb_block_writer_add(w, ok, 0, t, v, 3), DW_TSDB_EINVAL);
    /* labels per series */
    struct dw_label *many = dw_calloc(DW_TSDB_BLOCK_MAX_LABELS + 1, sizeof *many);
    char(*names)[8] = dw_calloc(DW_TSDB_BLOCK_MAX_LABELS + 1, 8);
    for (int i = 0; i <= DW_TSDB_BLOCK_MAX_LABELS; i++) {
        snprintf(names[i], 8, "l%04d", i);
        many[i] = (struct dw_label){names[i], "v"};
    }
    ASSERT_EQ_INT(dw_tsdb_block_writer_add(w, many, DW_TSDB_BLOCK_MAX_LABELS + 1, t, v, 3),
                  DW_TSDB_ELIMIT);
    ASSERT_EQ_INT(dw_tsdb_block_writer_add(w, many, DW_TSDB_BLOCK_MAX_LABELS, t, v, 3), 0);
    /* string length */
    char *longv = dw_malloc(DW_TSDB_BLOCK_MAX_STRING + 2);
    memset(longv, 'x', DW_TSDB_BLOCK_MAX_STRING + 1);
    longv[DW_TSDB_BLOCK_MAX_STRING + 1] = '\0';
    struct dw_label lng[] = {{"__name__", longv}};
    ASSERT_EQ_INT(dw_tsdb_block_writer_add(w, lng, 1, t, v, 3), DW_TSDB_ELIMIT);
    longv[DW_TSDB_BLOCK_MAX_STRING] = '\0';
    ASSERT_EQ_INT(dw_tsdb_block_writer_add(w, lng, 1, t, v, 3), 0);
    /* samples */
    int64_t back[3] = {1, 3, 2}, same[2] = {4, 4}, out[2] = {1, H};
    ASSERT_EQ_INT(dw_tsdb_block_writer_add(w, ok, 2, back, v, 3), DW_TSDB_EORDER);
    ASSERT_EQ_INT(dw_tsdb_block_writer_add(w, ok, 2, same, v, 2), DW_TSDB_EORDER);
    ASSERT_EQ_INT(dw_tsdb_block_writer_add(w, ok, 2, out, v, 2), DW_TSDB_EINVAL); /* maxt excl. */
    int64_t before[1] = {-1};
    ASSERT_EQ_INT(dw_tsdb_block_writer_add(w, ok, 2, before, v, 1), DW_TSDB_EINVAL);
    ASSERT_EQ_INT(dw_tsdb_block_writer_add(w, ok, 2, t, v, 3), 0);
    ASSERT_EQ_INT(dw_tsdb_block_writer_add(w, ok, 2, t, v, 3), DW_TSDB_EINVAL); /* twice */
    struct dw_tsdb_block_meta meta;
    ASSERT_EQ_INT(dw_tsdb_block_writer_commit(&w, &meta, NULL), 0);
    ASSERT_EQ_UINT(meta.nseries, 3);
    ASSERT_EQ_UINT(meta.nsamples, 9);
    struct dw_tsdb_block *b = open_block(dir, meta.id, NULL);
    struct dw_tsdb_matcher *m1 = mk(DW_MATCH_EQ, "l0255", "v");
    struct dw_tsdb_block_cursor *c = dw_tsdb_block_select(b, &m1, 1, 0, H);
    ASSERT_TRUE(dw_tsdb_block_cursor_next(c));
    size_t nl;
    dw_tsdb_block_cursor_labels(c, &nl);
    ASSERT_EQ_INT(nl, DW_TSDB_BLOCK_MAX_LABELS);
    dw_tsdb_block_cursor_free(&c);
    dw_tsdb_matcher_free(&m1);
    dw_tsdb_block_unref(&b);
    dw_tsdb_block_meta_release(&meta);
    /* bad options */
    char *err = NULL;
    dw_tsdb_block_wopts_init(&o, H, H);
    ASSERT_NULL(dw_tsdb_block_writer_new(dir, &o, &err));
    ASSERT_CONTAINS(err, "empty");
    free(err);
    dw_tsdb_block_id bad = "not-an-id";
    dw_tsdb_block_wopts_init(&o, 0, H);
    o.sources = &bad;
    o.nsources = 1;
    err = NULL;
    ASSERT_NULL(dw_tsdb_block_writer_new(dir, &o, &err));
    ASSERT_CONTAINS(err, "source");
    free(err);
    o.nsources = DW_TSDB_BLOCK_MAX_SOURCES + 1; /* the count is checked before any id is read */
    err = NULL;
    ASSERT_NULL(dw_tsdb_block_writer_new(dir, &o, &err));
    ASSERT_CONTAINS(err, "too many sources");
    free(err);
    ASSERT_EQ_INT(count_blocks(dir), 1);
    free(many);
    free(names);
    free(longv);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

/* ---- compaction ---- */

/* Every series of every block, merged like compaction must (later block = newer wins). */
static void model_merge(struct model *out, struct model *const *in, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < in[k]->n; i++) {
            const struct mseries *s = &in[k]->s[i];
            struct mseries *d = NULL;
            for (size_t j = 0; j < out->n && !d; j++)
                if (dw_tsdb_labels_cmp(out->s[j].l, out->s[j].nl, s->l, s->nl) == 0)
                    d = &out->s[j];
            if (!d) {
                d = model_add(out);
                for (size_t j = 0; j < s->nl; j++)
                    ms_label(d, s->l[j].name, s->l[j].value);
            }
            for (size_t x = 0; x < s->n; x++) {
                size_t pos = 0;
                while (pos < d->n && d->t[pos] < s->t[x])
                    pos++;
                if (pos < d->n && d->t[pos] == s->t[x]) {
                    d->v[pos] = s->v[x]; /* the newer block's sample wins */
                    continue;
                }
                size_t old = d->n;
                ms_samples(d, old + 1);
                memmove(d->t + pos + 1, d->t + pos, (old - pos) * sizeof *d->t);
                memmove(d->v + pos + 1, d->v + pos, (old - pos) * sizeof *d->v);
                d->t[pos] = s->t[x];
                d->v[pos] = s->v[x];
            }
        }
    }
    model_sort(out);
}

static struct dw_tsdb_block *only_block(struct dw_tsdb_blockdir *d, struct dw_tsdb_block ***v)
{
    size_t n = dw_tsdb_blockdir_blocks(d, 0, v);
    ASSERT_EQ_INT(n, 1);
    return (*v)[0];
}

TEST(compaction_merges_adjacent_blocks_up_the_ranges)
{
    char *dir = tmpdir_new();
    struct model ms[12];
    struct model *pm[12];
    memset(ms, 0, sizeof ms);
    for (int i = 0; i < 12; i++) {
        char *id = small_block(dir, 100 + (uint64_t)i, i * 2 * H, (i + 1) * 2 * H, &ms[i]);
        free(id);
        pm[i] = &ms[i];
    }
    /* And one block of the next day, so the day is complete. */
    struct model next = {0};
    free(small_block(dir, 200, 24 * H, 26 * H, &next));
    struct dw_tsdb_blockdir *d = dw_tsdb_blockdir_open(dir, NULL, NULL);
    size_t done = 0;
    ASSERT_EQ_INT(dw_tsdb_blockdir_compact(d, &done, NULL), 0);
    ASSERT_EQ_INT(done, 5); /* four 6h merges, then one 24h merge */
    struct dw_tsdb_block **v;
    size_t n = dw_tsdb_blockdir_blocks(d, 0, &v);
    ASSERT_EQ_INT(n, 2);
    const struct dw_tsdb_block_meta *day = dw_tsdb_block_meta_of(v[0]);
    ASSERT_EQ_INT(day->mint, 0);
    ASSERT_EQ_INT(day->maxt, 24 * H);
    ASSERT_EQ_INT(day->level, 3);
    ASSERT_EQ_INT(day->nsources, 12);
    struct model all = {0};
    model_merge(&all, pm, 12);
    ASSERT_EQ_INT(check_select(v[0], &all, NULL, 0, INT64_MIN, INT64_MAX), all.n);
    ASSERT_EQ_INT(dw_tsdb_block_meta_of(v[1])->level, 1);
    dw_tsdb_blocks_release(v, n);
    ASSERT_EQ_INT(count_blocks(dir), 2); /* the inputs are gone from disk */
    /* Nothing more to do. */
    ASSERT_EQ_INT(dw_tsdb_blockdir_compact(d, &done, NULL), 0);
    ASSERT_EQ_INT(done, 0);
    dw_tsdb_blockdir_free(&d);
    for (int i = 0; i < 12; i++)
        model_free(&ms[i]);
    model_free(&next);
    model_free(&all);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

TEST(compaction_merges_overlapping_blocks_and_dedups)
{
    char *dir = tmpdir_new();
    struct model a = {0}, b = {0};
    /* Same series in both, overlapping in time, with identical and conflicting samples. */
    for (int k = 0; k < 2; k++) {
        struct model *m = k ? &b : &a;
        for (int i = 0; i < 4; i++) {
            struct mseries *s = model_add(m);
            char name[8];
            snprintf(name, sizeof name, "m%d", i);
            ms_label(s, "__name__", name);
            ms_samples(s, 100);
            for (int j = 0; j < 100; j++) {
                s->t[j] = (k ? 50 : 0) * MIN + j * MIN;
                s->v[j] = j == 30 && k ? -1.0 : (double)(s->t[j] / MIN); /* b conflicts at 80 */
            }
        }
        if (k) { /* a series only in b */
            struct mseries *s = model_add(m);
            ms_label(s, "__name__", "only_b");
            fill_series(s, 10, 60 * MIN, MIN, 1);
        }
    }
    struct dw_tsdb_block_wopts o;
    dw_tsdb_block_wopts_init(&o, 0, 2 * H);
    char *ida = write_model(dir, &a, &o);
    dw_tsdb_block_wopts_init(&o, 50 * MIN, 150 * MIN);
    char *idb = write_model(dir, &b, &o);
    struct dw_tsdb_blockdir *d = dw_tsdb_blockdir_open(dir, NULL, NULL);
    size_t done;
    ASSERT_EQ_INT(dw_tsdb_blockdir_compact(d, &done, NULL), 0);
    ASSERT_EQ_INT(done, 1);
    struct dw_tsdb_block **v;
    struct dw_tsdb_block *blk = only_block(d, &v);
    const struct dw_tsdb_block_meta *m = dw_tsdb_block_meta_of(blk);
    ASSERT_EQ_INT(m->mint, 0);
    ASSERT_EQ_INT(m->maxt, 150 * MIN);
    ASSERT_EQ_INT(m->nsamples, 4 * 150 + 10);
    struct model *pm[2] = {&a, &b};
    struct model all = {0};
    model_merge(&all, pm, 2);
    ASSERT_EQ_INT(check_select(blk, &all, NULL, 0, INT64_MIN, INT64_MAX), 5);
    /* The conflicting sample at 80 min has block b's value (the newer input). */
    struct dw_tsdb_matcher *mm = mk(DW_MATCH_EQ, "__name__", "m0");
    struct dw_tsdb_block_cursor *c = dw_tsdb_block_select(blk, &mm, 1, 80 * MIN, 80 * MIN);
    int64_t t;
    double val;
    ASSERT_TRUE(dw_tsdb_block_cursor_next(c));
    ASSERT_TRUE(dw_tsdb_block_cursor_sample(c, &t, &val));
    ASSERT_NEAR(val, -1.0, 0);
    dw_tsdb_block_cursor_free(&c);
    dw_tsdb_matcher_free(&mm);
    dw_tsdb_blocks_release(v, 1);
    ASSERT_FALSE(path_exists(dir, ida));
    ASSERT_FALSE(path_exists(dir, idb));
    dw_tsdb_blockdir_free(&d);
    free(ida);
    free(idb);
    model_free(&a);
    model_free(&b);
    model_free(&all);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

static struct dw_tsdb_block_meta fake_meta(int64_t mint, int64_t maxt)
{
    struct dw_tsdb_block_meta m = {.mint = mint, .maxt = maxt, .level = 1};
    return m;
}

TEST(compaction_plan_rules)
{
    const int64_t ranges[] = {2 * H, 6 * H, 24 * H};
    struct dw_tsdb_block_meta m[6];
    const struct dw_tsdb_block_meta *p[6];
    for (int i = 0; i < 6; i++)
        p[i] = &m[i];
    struct dw_tsdb_compact_plan plan;
    /* Two blocks of an incomplete 6h window, nothing later: wait. */
    m[0] = fake_meta(0, 2 * H);
    m[1] = fake_meta(2 * H, 4 * H);
    ASSERT_FALSE(dw_tsdb_compact_plan(p, 2, ranges, 3, &plan));
    /* A later block completes it. */
    m[2] = fake_meta(6 * H, 8 * H);
    ASSERT_TRUE(dw_tsdb_compact_plan(p, 3, ranges, 3, &plan));
    ASSERT_EQ_INT(plan.n, 2);
    ASSERT_EQ_INT(plan.idx[0], 0);
    ASSERT_EQ_INT(plan.idx[1], 1);
    free(plan.idx);
    /* A window reaching its end is complete on its own. */
    m[0] = fake_meta(0, 2 * H);
    m[1] = fake_meta(2 * H, 4 * H);
    m[2] = fake_meta(4 * H, 6 * H);
    ASSERT_TRUE(dw_tsdb_compact_plan(p, 3, ranges, 3, &plan));
    ASSERT_EQ_INT(plan.n, 3);
    free(plan.idx);
    /* Overlaps come first, whatever their ranges. */
    m[0] = fake_meta(0, 2 * H);
    m[1] = fake_meta(6 * H, 8 * H);
    m[2] = fake_meta(7 * H, 30 * H);
    m[3] = fake_meta(29 * H, 31 * H);
    ASSERT_TRUE(dw_tsdb_compact_plan(p, 4, ranges, 3, &plan));
    ASSERT_EQ_INT(plan.n, 3);
    ASSERT_EQ_INT(plan.idx[0], 1);
    ASSERT_EQ_INT(plan.idx[2], 3);
    free(plan.idx);
    /* A single block per window: nothing to merge. */
    m[0] = fake_meta(0, 6 * H);
    m[1] = fake_meta(24 * H, 30 * H);
    m[2] = fake_meta(48 * H, 50 * H);
    ASSERT_FALSE(dw_tsdb_compact_plan(p, 3, ranges, 3, &plan));
    /* A straddler is left alone; the day before it is complete (later data exists). */
    m[0] = fake_meta(0, 6 * H);
    m[1] = fake_meta(6 * H, 12 * H);
    m[2] = fake_meta(22 * H, 26 * H); /* straddles two days */
    m[3] = fake_meta(26 * H, 28 * H);
    ASSERT_TRUE(dw_tsdb_compact_plan(p, 4, ranges, 3, &plan));
    ASSERT_EQ_INT(plan.n, 2);
    ASSERT_EQ_INT(plan.idx[0], 0);
    ASSERT_EQ_INT(plan.idx[1], 1);
    free(plan.idx);
    /* Four 6h blocks of a complete day go to 24h. */
    for (int i = 0; i < 4; i++)
        m[i] = fake_meta(i * 6 * H, (i + 1) * 6 * H);
    ASSERT_TRUE(dw_tsdb_compact_plan(p, 4, ranges, 3, &plan));
    ASSERT_EQ_INT(plan.n, 4);
    free(plan.idx);
    /* Negative times align down (floor), not towards zero. */
    m[0] = fake_meta(-4 * H, -2 * H);
    m[1] = fake_meta(-2 * H, 0);
    m[2] = fake_meta(0, 2 * H);
    ASSERT_TRUE(dw_tsdb_compact_plan(p, 3, ranges, 3, &plan));
    ASSERT_EQ_INT(plan.n, 2);
    ASSERT_EQ_INT(plan.idx[0], 0);
    free(plan.idx);
}

TEST(compaction_crash_before_delete_is_resolved_at_open)
{
    char *dir = tmpdir_new();
    struct model a = {0}, b = {0};
    char *ida = small_block(dir, 21, 0, 2 * H, &a);
    char *idb = small_block(dir, 22, 2 * H, 4 * H, &b);
    struct dw_tsdb_block *in[2] = {open_block(dir, ida, NULL), open_block(dir, idb, NULL)};
    struct dw_tsdb_block_meta merged;
    ASSERT_EQ_INT(dw_tsdb_blocks_merge(dir, in, 2, 0, &merged, NULL), 0);
    ASSERT_EQ_INT(merged.level, 2);
    ASSERT_EQ_INT(merged.nsources, 2);
    dw_tsdb_block_unref(&in[0]);
    dw_tsdb_block_unref(&in[1]);
    ASSERT_EQ_INT(count_blocks(dir), 3); /* the "crash": inputs still there */
    struct logcap lc;
    logcap_start(&lc);
    struct dw_tsdb_blockdir *d = dw_tsdb_blockdir_open(dir, NULL, NULL);
    logcap_stop(&lc);
    ASSERT_EQ_INT(count_substr(lc.text, "superseded by a compacted block"), 2);
    free(lc.text);
    ASSERT_EQ_INT(count_blocks(dir), 1);
    ASSERT_TRUE(path_exists(dir, merged.id));
    struct dw_tsdb_block **v;
    struct dw_tsdb_block *blk = only_block(d, &v);
    struct model *pm[2] = {&a, &b};
    struct model all = {0};
    model_merge(&all, pm, 2);
    ASSERT_EQ_INT(check_select(blk, &all, NULL, 0, INT64_MIN, INT64_MAX), all.n);
    dw_tsdb_blocks_release(v, 1);
    dw_tsdb_blockdir_free(&d);
    dw_tsdb_block_meta_release(&merged);
    free(ida);
    free(idb);
    model_free(&a);
    model_free(&b);
    model_free(&all);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

TEST(compaction_keeps_a_block_readable_by_an_open_cursor)
{
    char *dir = tmpdir_new();
    struct model a = {0}, b = {0}, c = {0};
    free(small_block(dir, 31, 0, 2 * H, &a));
    free(small_block(dir, 32, 2 * H, 4 * H, &b));
    free(small_block(dir, 33, 4 * H, 6 * H, &c));
    struct dw_tsdb_blockdir *d = dw_tsdb_blockdir_open(dir, NULL, NULL);
    struct dw_tsdb_block **v;
    size_t n = dw_tsdb_blockdir_blocks(d, 0, &v);
    ASSERT_EQ_INT(n, 3);
    size_t done;
    ASSERT_EQ_INT(dw_tsdb_blockdir_compact(d, &done, NULL), 0);
    ASSERT_EQ_INT(done, 1);
    ASSERT_EQ_INT(count_blocks(dir), 1);
    /* The snapshot taken before still reads the deleted inputs. */
    ASSERT_EQ_INT(check_select(v[0], &a, NULL, 0, INT64_MIN, INT64_MAX), a.n);
    ASSERT_EQ_INT(check_select(v[2], &c, NULL, 0, INT64_MIN, INT64_MAX), c.n);
    dw_tsdb_blocks_release(v, n);
    dw_tsdb_blockdir_free(&d);
    model_free(&a);
    model_free(&b);
    model_free(&c);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

/* ---- retention ---- */

TEST(retention_deletes_whole_blocks_on_the_manual_clock)
{
    char *dir = tmpdir_new();
    int64_t t0 = 1000 * DAY;
    struct model m[3];
    memset(m, 0, sizeof m);
    char *old = small_block(dir, 41, t0, t0 + 2 * H, &m[0]);
    char *mid = small_block(dir, 42, t0 + 2 * H, t0 + 4 * H, &m[1]);
    struct dw_tsdb_block *raw = open_block(dir, old, NULL);
    const int64_t res[] = {DW_TSDB_RES_5M};
    struct dw_tsdb_block_meta ds;
    ASSERT_EQ_INT(dw_tsdb_block_downsample(dir, raw, res, 1, 0, &ds, NULL), 0);
    dw_tsdb_block_unref(&raw);
    struct dw_tsdb_blockdir_opts o = {.retention_ms = 10 * DAY, .ds_retention_ms = 30 * DAY};
    dw_clock_set_manual(t0 + 10 * DAY + H); /* old ends at t0 + 2h: not yet 10 days old */
    struct dw_tsdb_blockdir *d = dw_tsdb_blockdir_open(dir, &o, NULL);
    ASSERT_EQ_INT(dw_tsdb_blockdir_retention(d, dw_now_ms()), 0);
    dw_clock_advance(H); /* now old.maxt == now - retention: delete, maxt is exclusive */
    ASSERT_EQ_INT(dw_tsdb_blockdir_retention(d, dw_now_ms()), 1);
    ASSERT_FALSE(path_exists(dir, old));
    ASSERT_TRUE(path_exists(dir, mid));
    ASSERT_TRUE(path_exists(dir, ds.id)); /* downsampled data lives longer */
    dw_clock_advance(2 * H);
    ASSERT_EQ_INT(dw_tsdb_blockdir_retention(d, dw_now_ms()), 1);
    ASSERT_FALSE(path_exists(dir, mid));
    dw_clock_advance(20 * DAY - 2 * H - 1); /* the rollup ends at t0 + 2h: 30 days later */
    ASSERT_EQ_INT(dw_tsdb_blockdir_retention(d, dw_now_ms()), 0);
    dw_clock_advance(1);
    ASSERT_EQ_INT(dw_tsdb_blockdir_retention(d, dw_now_ms()), 1);
    ASSERT_EQ_INT(count_blocks(dir), 0);
    /* A huge retention ("100y") never overflows into deleting. */
    free(small_block(dir, 43, t0, t0 + 2 * H, &m[2]));
    dw_tsdb_blockdir_free(&d);
    o.retention_ms = INT64_MAX;
    d = dw_tsdb_blockdir_open(dir, &o, NULL);
    ASSERT_EQ_INT(dw_tsdb_blockdir_retention(d, dw_now_ms()), 0);
    ASSERT_EQ_INT(dw_tsdb_blockdir_retention(d, INT64_MIN), 0);
    dw_tsdb_blockdir_free(&d);
    dw_clock_set_real();
    dw_tsdb_block_meta_release(&ds);
    free(old);
    free(mid);
    for (int i = 0; i < 3; i++)
        model_free(&m[i]);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

/* ---- downsampling ---- */

struct bf_agg {
    int64_t t;
    double v[DW_TSDB_ROLLUP_N];
};

/* Brute force: aggregates of one series at one resolution, per the documented rules. */
static size_t brute_aggregate(const struct mseries *s, int64_t res, struct bf_agg *out)
{
    size_t n = 0;
    size_t i = 0;
    while (i < s->n) {
        int64_t w = (int64_t)floor((double)s->t[i] / (double)res) * res;
        double mn = NAN, mx = NAN, sum = 0, cnt = 0, last = 0;
        int64_t lt = 0;
        bool any = false;
        for (; i < s->n && s->t[i] >= w && s->t[i] < w + res; i++) {
            double v = s->v[i];
            if (dw_tsdb_is_stale(v))
                continue;
            if (!isnan(v)) { /* the first of equal values (-0.0, 0.0) stays */
                mn = isnan(mn) || v < mn ? v : mn;
                mx = isnan(mx) || v > mx ? v : mx;
            }
            sum = any ? sum + v : v;
            cnt += 1;
            last = v;
            lt = s->t[i];
            any = true;
        }
        if (!any)
            continue;
        out[n].t = lt;
        out[n].v[DW_TSDB_ROLLUP_MIN] = mn;
        out[n].v[DW_TSDB_ROLLUP_MAX] = mx;
        out[n].v[DW_TSDB_ROLLUP_SUM] = sum;
        out[n].v[DW_TSDB_ROLLUP_COUNT] = cnt;
        out[n].v[DW_TSDB_ROLLUP_LAST] = last;
        n++;
    }
    return n;
}

static bool same_value(double a, double b)
{
    return (isnan(a) && isnan(b)) || same_bits(a, b);
}

TEST(downsampling_aggregates_match_brute_force)
{
    rng_seed(50);
    char *dir = tmpdir_new();
    struct model m = {0};
    int64_t t0 = 100 * DAY;
    for (int i = 0; i < 6; i++) {
        struct mseries *s = model_add(&m);
        char name[16];
        snprintf(name, sizeof name, "g%d", i);
        ms_label(s, "__name__", name);
        ms_label(s, "instance", i % 2 ? "b" : "a");
        if (i == 5)
            ms_label(s, "Zz", "upper-case name sorts before __rollup__");
        fill_series(s, 900 + rnd_below(200), t0 + (int64_t)rnd_below(100000), 13000, (int)(i % 4));
        for (size_t k = 0; k < s->n; k += 37) /* stale markers and NaNs sprinkled */
            s->v[k] = k % 2 ? dw_tsdb_stale_nan() : NAN;
    }
    struct mseries *gap = model_add(&m); /* a window of stale markers only */
    ms_label(gap, "__name__", "gappy");
    ms_samples(gap, 3);
    gap->t[0] = t0 + 1000;
    gap->v[0] = 5;
    gap->t[1] = t0 + 6 * MIN;
    gap->v[1] = dw_tsdb_stale_nan();
    gap->t[2] = t0 + 11 * MIN;
    gap->v[2] = 7;
    struct dw_tsdb_block_wopts o;
    dw_tsdb_block_wopts_init(&o, t0, t0 + 6 * H);
    char *id = write_model(dir, &m, &o);
    model_sort(&m);
    struct dw_tsdb_block *raw = open_block(dir, id, NULL);
    const int64_t res[] = {DW_TSDB_RES_5M, DW_TSDB_RES_1H};
    struct dw_tsdb_block_meta metas[2];
    ASSERT_EQ_INT(dw_tsdb_block_downsample(dir, raw, res, 2, 0, metas, NULL), 0);
    struct bf_agg *want = dw_calloc(4000, sizeof *want);
    for (int r = 0; r < 2; r++) {
        struct dw_tsdb_block *ds = open_block(dir, metas[r].id, NULL);
        const struct dw_tsdb_block_meta *dm = dw_tsdb_block_meta_of(ds);
        ASSERT_EQ_INT(dm->resolution_ms, res[r]);
        ASSERT_EQ_INT(dm->mint, t0);
        ASSERT_EQ_INT(dm->nsources, 1);
        ASSERT_EQ_STR(dm->sources[0], id);
        ASSERT_EQ_UINT(dm->nseries, 5 * m.n);
        for (int k = 0; k < DW_TSDB_ROLLUP_N; k++) {
            struct dw_tsdb_matcher *mr =
                mk(DW_MATCH_EQ, DW_TSDB_ROLLUP_LABEL, dw_tsdb_rollup_name((enum dw_tsdb_rollup)k));
            struct dw_tsdb_block_cursor *c = dw_tsdb_block_select(ds, &mr, 1, INT64_MIN, INT64_MAX);
            for (size_t i = 0; i < m.n; i++) {
                ASSERT_TRUE(dw_tsdb_block_cursor_next(c));
                size_t nl;
                const struct dw_label *l = dw_tsdb_block_cursor_labels(c, &nl);
                ASSERT_EQ_INT(nl, m.s[i].nl + 1);
                ASSERT_EQ_STR(dw_tsdb_labels_get(l, nl, "__name__"),
                              dw_tsdb_labels_get(m.s[i].l, m.s[i].nl, "__name__"));
                size_t nw = brute_aggregate(&m.s[i], res[r], want);
                for (size_t j = 0; j < nw; j++) {
                    int64_t t;
                    double v;
                    ASSERT_TRUE(dw_tsdb_block_cursor_sample(c, &t, &v));
                    ASSERT_EQ_INT(t, want[j].t);
                    if (!same_value(v, want[j].v[k]))
                        DW_FAIL_("res %d %s series %zu window %zu: %.17g != %.17g", r,
                                 dw_tsdb_rollup_name((enum dw_tsdb_rollup)k), i, j, v,
                                 want[j].v[k]);
                }
                int64_t t;
                double v;
                ASSERT_FALSE(dw_tsdb_block_cursor_sample(c, &t, &v));
            }
            ASSERT_FALSE(dw_tsdb_block_cursor_next(c));
            dw_tsdb_block_cursor_free(&c);
            dw_tsdb_matcher_free(&mr);
        }
        dw_tsdb_block_unref(&ds);
    }
    /* The gappy series: windows [0,5m) and [10m,15m) only; the stale-only one is skipped. */
    size_t gi = 0;
    while (strcmp(dw_tsdb_labels_get(m.s[gi].l, m.s[gi].nl, "__name__"), "gappy") != 0)
        gi++;
    ASSERT_EQ_INT(brute_aggregate(&m.s[gi], DW_TSDB_RES_5M, want), 2);
    ASSERT_EQ_INT(want[1].t, t0 + 11 * MIN);
    ASSERT_NEAR(want[1].v[DW_TSDB_ROLLUP_COUNT], 1, 0);
    free(want);
    dw_tsdb_block_meta_release(&metas[0]);
    dw_tsdb_block_meta_release(&metas[1]);
    dw_tsdb_block_unref(&raw);
    free(id);
    model_free(&m);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

TEST(downsampling_picks_settled_blocks_once)
{
    char *dir = tmpdir_new();
    int64_t t0 = 504 * DAY; /* a multiple of 7 days: the three rollups fall in 3 weeks */
    struct model day = {0}, recent = {0}, old = {0}, ov1 = {0}, ov2 = {0};
    /* a compacted day, a recent 2h block, an old lone 2h block, two overlapping old blocks */
    char *iday = small_block(dir, 61, t0, t0 + DAY, &day);
    char *irecent = small_block(dir, 62, t0 + DAY, t0 + DAY + 2 * H, &recent);
    char *iold = small_block(dir, 63, t0 - 10 * DAY, t0 - 10 * DAY + 2 * H, &old);
    char *iov1 = small_block(dir, 64, t0 - 5 * DAY, t0 - 5 * DAY + 2 * H, &ov1);
    char *iov2 = small_block(dir, 65, t0 - 5 * DAY + H, t0 - 5 * DAY + 3 * H, &ov2);
    struct dw_tsdb_blockdir *d = dw_tsdb_blockdir_open(dir, NULL, NULL);
    size_t done;
    ASSERT_EQ_INT(dw_tsdb_blockdir_downsample(d, t0 + DAY + 3 * H, &done, NULL), 0);
    ASSERT_EQ_INT(done, 2); /* the day and the old lone block */
    struct dw_tsdb_block **v;
    size_t n5 = dw_tsdb_blockdir_blocks(d, DW_TSDB_RES_5M, &v);
    ASSERT_EQ_INT(n5, 2);
    ASSERT_EQ_STR(dw_tsdb_block_meta_of(v[0])->sources[0], iold);
    ASSERT_EQ_STR(dw_tsdb_block_meta_of(v[1])->sources[0], iday);
    dw_tsdb_blocks_release(v, n5);
    size_t n1 = dw_tsdb_blockdir_blocks(d, DW_TSDB_RES_1H, &v);
    ASSERT_EQ_INT(n1, 2);
    dw_tsdb_blocks_release(v, n1);
    /* Again: nothing is due twice. */
    ASSERT_EQ_INT(dw_tsdb_blockdir_downsample(d, t0 + DAY + 3 * H, &done, NULL), 0);
    ASSERT_EQ_INT(done, 0);
    /* After compaction merged the overlap, it is downsampled too (maintain does both). */
    dw_clock_set_manual(t0 + DAY + 3 * H);
    ASSERT_EQ_INT(dw_tsdb_blockdir_maintain(d, NULL), 0);
    dw_clock_set_real();
    n5 = dw_tsdb_blockdir_blocks(d, DW_TSDB_RES_5M, &v);
    ASSERT_EQ_INT(n5, 3);
    ASSERT_EQ_INT(dw_tsdb_block_meta_of(v[1])->nsources, 2); /* the merged overlap */
    dw_tsdb_blocks_release(v, n5);
    dw_tsdb_blockdir_free(&d);
    free(iday);
    free(irecent);
    free(iold);
    free(iov1);
    free(iov2);
    model_free(&day);
    model_free(&recent);
    model_free(&old);
    model_free(&ov1);
    model_free(&ov2);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

/* ---- resolution ---- */

TEST(resolution_choice_rule)
{
    const int64_t M5 = DW_TSDB_RES_5M, H1 = DW_TSDB_RES_1H, NONE = INT64_MAX;
    struct {
        struct dw_tsdb_coverage c;
        int64_t mint, step, want;
    } cases[] = {
        {{0, 0, 0}, 100, 15000, 0},          /* raw covers */
        {{0, 0, 0}, 100, 3600000, 0},        /* raw covers even at a coarse step */
        {{1000, 0, 0}, 100, 60000, 0},       /* step < 5m: raw, partial */
        {{1000, 0, 0}, 100, M5, M5},         /* raw short, 5m covers */
        {{1000, 500, 0}, 100, M5, M5},       /* 1h not allowed at a 5m step,
                                                nothing covers: 5m starts earliest */
        {{1000, 500, 0}, 100, H1, H1},       /* 1h covers, 5m does not */
        {{1000, 0, 0}, 100, H1, M5},         /* both cover: the finer */
        {{1000, 900, 800}, 100, 2 * H1, H1}, /* none covers: earliest start */
        {{1000, NONE, NONE}, 100, H1, 0},    /* no downsampled data */
        {{NONE, NONE, NONE}, 100, H1, 0},    /* no data at all */
        {{NONE, 50, NONE}, 100, M5, M5},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(cases); i++) {
        int64_t got = dw_tsdb_resolution_choose(&cases[i].c, cases[i].mint, cases[i].mint + H1,
                                                cases[i].step);
        if (got != cases[i].want)
            DW_FAIL_("case %zu: %lld != %lld", i, (long long)got, (long long)cases[i].want);
    }
}

TEST(resolution_pick_from_a_directory)
{
    char *dir = tmpdir_new();
    struct model raw = {0};
    int64_t t0 = 400 * DAY;
    char *id = small_block(dir, 70, t0, t0 + 2 * H, &raw);
    struct dw_tsdb_block *b = open_block(dir, id, NULL);
    const int64_t res[] = {DW_TSDB_RES_5M, DW_TSDB_RES_1H};
    ASSERT_EQ_INT(dw_tsdb_block_downsample(dir, b, res, 2, 0, NULL, NULL), 0);
    dw_tsdb_block_unref(&b);
    struct dw_tsdb_blockdir_opts o = {.retention_ms = DAY};
    struct dw_tsdb_blockdir *d = dw_tsdb_blockdir_open(dir, &o, NULL);
    ASSERT_EQ_INT(dw_tsdb_blockdir_pick_resolution(d, INT64_MAX, t0, t0 + H, DW_TSDB_RES_1H), 0);
    ASSERT_EQ_INT(dw_tsdb_blockdir_retention(d, t0 + 3 * DAY), 1); /* raw gone, rollups stay */
    ASSERT_EQ_INT(dw_tsdb_blockdir_pick_resolution(d, t0 + 2 * DAY, t0, t0 + H, DW_TSDB_RES_1H),
                  DW_TSDB_RES_5M);
    ASSERT_EQ_INT(dw_tsdb_blockdir_pick_resolution(d, t0 + 2 * DAY, t0, t0 + H, 60000), 0);
    ASSERT_EQ_INT(dw_tsdb_blockdir_pick_resolution(d, t0 - 1, t0, t0 + H, DW_TSDB_RES_1H), 0);
    dw_tsdb_blockdir_free(&d);
    free(id);
    model_free(&raw);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

/* ---- import ---- */

TEST(import_any_order_bounded_memory_then_compacted)
{
    rng_seed(80);
    char *dir = tmpdir_new();
    int64_t t0 = 2000 * DAY;
    dw_clock_set_manual(t0 + 20 * H);
    struct dw_tsdb_import_opts o;
    dw_tsdb_import_opts_init(&o);
    o.dir = dir;
    o.max_buffered_samples = 700; /* many flushes -> overlapping blocks */
    o.retention_ms = 30 * H;      /* samples before t0 - 10h are too old */
    struct dw_tsdb_importer *im = dw_tsdb_importer_new(&o, NULL);
    ASSERT_NOT_NULL(im);
    struct model m = {0};
    const char *hosts[] = {"a", "b", "c"};
    for (int i = 0; i < 9; i++) {
        struct mseries *s = model_add(&m);
        char name[16];
        snprintf(name, sizeof name, "metric_%d", i % 3);
        ms_label(s, "__name__", name);
        ms_label(s, "host", hosts[i / 3]);
        fill_series(s, 400, t0, 2 * MIN, i % 3); /* 13h20m */
    }
    /* Feed in a random order, with a duplicate timestamp (the later value wins). */
    size_t total = 0;
    for (size_t i = 0; i < m.n; i++)
        total += m.s[i].n;
    size_t *order = dw_malloc(total * sizeof *order);
    for (size_t i = 0; i < total; i++)
        order[i] = i;
    for (size_t i = total - 1; i > 0; i--) {
        size_t j = rnd_below(i + 1), x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    for (size_t k = 0; k < total; k++) {
        size_t s = order[k] / 400, j = order[k] % 400;
        /* labels unsorted, with an empty one that must be dropped */
        struct dw_label l[3] = {
            {"host", m.s[s].l[1].value}, {"empty", ""}, {"__name__", m.s[s].l[0].value}};
        ASSERT_EQ_INT(dw_tsdb_importer_add(im, l, 3, m.s[s].t[j], m.s[s].v[j]), 0);
    }
    struct dw_label l0[2] = {{"__name__", m.s[0].l[0].value}, {"host", "a"}};
    ASSERT_EQ_INT(dw_tsdb_importer_add(im, l0, 2, m.s[0].t[5], -42.0), 0);
    m.s[0].v[5] = -42.0;
    ASSERT_EQ_INT(dw_tsdb_importer_add(im, l0, 2, t0 - 11 * H, 1.0), 0); /* too old */
    struct dw_tsdb_import_stats st;
    char *err = NULL;
    ASSERT_EQ_INT(dw_tsdb_importer_finish(&im, &st, &err), 0);
    ASSERT_NULL(im);
    /* The duplicate is dropped in the buffer, or written and resolved by compaction. */
    ASSERT_EQ_UINT(st.samples + st.duplicates, total + 1);
    ASSERT_EQ_UINT(st.series, 9);
    ASSERT_EQ_UINT(st.too_old, 1);
    ASSERT_TRUE(st.blocks > 10);
    ASSERT_TRUE(st.compactions > 0);
    ASSERT_EQ_INT(st.mint, t0);
    /* Read everything back through the directory. */
    model_sort(&m);
    struct dw_tsdb_blockdir *d = dw_tsdb_blockdir_open(dir, NULL, NULL);
    struct dw_tsdb_block **v;
    size_t n = dw_tsdb_blockdir_blocks(d, 0, &v);
    ASSERT_TRUE(n >= 2 && n <= 4); /* 6h-aligned windows of 13h20m, no overlaps left */
    for (size_t i = 1; i < n; i++)
        ASSERT_TRUE(dw_tsdb_block_meta_of(v[i])->mint >= dw_tsdb_block_meta_of(v[i - 1])->maxt);
    size_t idx[9] = {0};
    for (size_t i = 0; i < n; i++) {
        struct dw_tsdb_block_cursor *c = dw_tsdb_block_select(v[i], NULL, 0, INT64_MIN, INT64_MAX);
        size_t k = 0;
        while (dw_tsdb_block_cursor_next(c)) {
            size_t nl;
            const struct dw_label *l = dw_tsdb_block_cursor_labels(c, &nl);
            while (k < m.n && dw_tsdb_labels_cmp(l, nl, m.s[k].l, m.s[k].nl) != 0)
                k++;
            ASSERT_TRUE(k < m.n);
            int64_t t;
            double val;
            while (dw_tsdb_block_cursor_sample(c, &t, &val)) {
                ASSERT_EQ_INT(t, m.s[k].t[idx[k]]);
                ASSERT_TRUE(same_bits(val, m.s[k].v[idx[k]]));
                idx[k]++;
            }
        }
        ASSERT_EQ_INT(dw_tsdb_block_cursor_err(c), 0);
        dw_tsdb_block_cursor_free(&c);
    }
    for (size_t k = 0; k < m.n; k++)
        ASSERT_EQ_INT(idx[k], m.s[k].n);
    dw_tsdb_blocks_release(v, n);
    dw_tsdb_blockdir_free(&d);
    dw_clock_set_real();
    free(order);
    model_free(&m);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

TEST(import_limits)
{
    char *dir = tmpdir_new();
    struct dw_tsdb_import_opts o;
    dw_tsdb_import_opts_init(&o);
    o.dir = dir;
    o.retention_ms = -1;
    o.max_series = 2;
    struct dw_tsdb_importer *im = dw_tsdb_importer_new(&o, NULL);
    struct dw_label noname[] = {{"a", "1"}};
    struct dw_label badmetric[] = {{"__name__", "1x"}};
    struct dw_label badlabel[] = {{"__name__", "x"}, {"a.b", "1"}};
    struct dw_label dup[] = {{"__name__", "x"}, {"a", "1"}, {"a", "2"}};
    ASSERT_EQ_INT(dw_tsdb_importer_add(im, noname, 1, 0, 1), DW_TSDB_EINVAL);
    ASSERT_EQ_INT(dw_tsdb_importer_add(im, badmetric, 1, 0, 1), DW_TSDB_EINVAL);
    ASSERT_EQ_INT(dw_tsdb_importer_add(im, badlabel, 2, 0, 1), DW_TSDB_EINVAL);
    ASSERT_EQ_INT(dw_tsdb_importer_add(im, dup, 3, 0, 1), DW_TSDB_EINVAL);
    /* labels per series: 64 (with __name__), empty values do not count */
    struct dw_label many[66];
    char names[66][8];
    many[0] = (struct dw_label){"__name__", "x"};
    for (int i = 1; i < 66; i++) {
        snprintf(names[i], 8, "l%02d", i);
        many[i] = (struct dw_label){names[i], i == 65 ? "" : "v"};
    }
    ASSERT_EQ_INT(dw_tsdb_importer_add(im, many, 65, 0, 1), DW_TSDB_ELIMIT);
    ASSERT_EQ_INT(dw_tsdb_importer_add(im, many, 64, 0, 1), 0);
    /* name and value lengths: 256 and 4096 bytes */
    char longname[258], longval[4098];
    memset(longname, 'n', 257);
    longname[257] = '\0';
    memset(longval, 'v', 4097);
    longval[4097] = '\0';
    struct dw_label ln[] = {{"__name__", "x"}, {longname, "1"}};
    struct dw_label lv[] = {{"__name__", "x"}, {"a", longval}};
    ASSERT_EQ_INT(dw_tsdb_importer_add(im, ln, 2, 0, 1), DW_TSDB_ELIMIT);
    ASSERT_EQ_INT(dw_tsdb_importer_add(im, lv, 2, 0, 1), DW_TSDB_ELIMIT);
    longname[256] = '\0';
    longval[4096] = '\0';
    ASSERT_EQ_INT(dw_tsdb_importer_add(im, ln, 2, 0, 1), 0);
    /* series per import: that was the second; a third is over */
    ASSERT_EQ_INT(dw_tsdb_importer_add(im, lv, 2, 0, 1), DW_TSDB_ELIMIT);
    ASSERT_EQ_INT(dw_tsdb_importer_add(im, ln, 2, 1, 2), 0); /* known series still fine */
    struct dw_tsdb_import_stats st;
    ASSERT_EQ_INT(dw_tsdb_importer_finish(&im, &st, NULL), 0);
    ASSERT_EQ_UINT(st.samples, 3);
    ASSERT_EQ_UINT(st.series, 2);
    dw_tsdb_importer_abort(&im); /* NULL: no-op */
    o.dir = NULL;
    char *err = NULL;
    ASSERT_NULL(dw_tsdb_importer_new(&o, &err));
    free(err);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

/* ---- the series-source adapter ---- */

static void add_str(void *out, const char *s)
{
    struct dw_buf *b = out;
    dw_buf_puts(b, s);
    dw_buf_putc(b, ';');
}

TEST(block_as_series_source)
{
    char *dir = tmpdir_new();
    struct model m = {0};
    char *id = small_block(dir, 90, 0, 2 * H, &m);
    struct dw_tsdb_block *b = open_block(dir, id, NULL);
    const struct dw_tsdb_source_ops *ops = dw_tsdb_block_source_ops();
    int64_t lo, hi;
    ops->bounds(b, &lo, &hi);
    ASSERT_EQ_INT(lo, 0);
    ASSERT_EQ_INT(hi, 2 * H - 1); /* inclusive */
    void *view = ops->open(b, 30 * MIN, 40 * MIN);
    dw_tsdb_block_unref(&b); /* the view keeps it alive */
    struct dw_tsdb_matcher *mm = mk(DW_MATCH_EQ, "job", "api");
    void *cur = ops->select(view, &mm, 1);
    ASSERT_NOT_NULL(cur);
    size_t series = 0, samples = 0;
    while (ops->next(cur)) {
        size_t nl;
        const struct dw_label *l = ops->labels(cur, &nl);
        ASSERT_EQ_STR(dw_tsdb_labels_get(l, nl, "job"), "api");
        const int64_t *t;
        const double *v;
        size_t n;
        int64_t prev = INT64_MIN;
        while (ops->chunk(cur, 35 * MIN, &t, &v, &n)) {
            for (size_t i = 0; i < n; i++) {
                ASSERT_TRUE(t[i] >= 35 * MIN && t[i] <= 40 * MIN && t[i] > prev);
                prev = t[i];
            }
            samples += n;
        }
        series++;
    }
    ASSERT_EQ_INT(ops->err(cur), 0);
    ops->cursor_free(cur);
    size_t want_series = 0, want_samples = 0;
    for (size_t i = 0; i < m.n; i++) {
        if (!series_matches(&m.s[i], &mm, 1))
            continue;
        size_t k = 0;
        for (size_t j = 0; j < m.s[i].n; j++)
            k += m.s[i].t[j] >= 35 * MIN && m.s[i].t[j] <= 40 * MIN;
        want_samples += k;
        want_series += m.s[i].t[0] <= 40 * MIN && m.s[i].t[m.s[i].n - 1] >= 30 * MIN;
    }
    ASSERT_EQ_INT(series, want_series);
    ASSERT_EQ_INT(samples, want_samples);
    ASSERT_TRUE(samples > 0);
    struct dw_buf out;
    dw_buf_init(&out, 0);
    ASSERT_EQ_INT(ops->label_strings(view, "job", NULL, 0, add_str, &out), 0);
    ASSERT_EQ_STR(out.data, "api;node;");
    dw_buf_release(&out);
    ops->close(view);
    dw_tsdb_matcher_free(&mm);
    free(id);
    model_free(&m);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

/* ---- concurrent readers share one block and its page cache ---- */

struct reader_arg {
    struct dw_tsdb_block *b;
    const struct model *m;
    int fails;
};

static void *reader(void *p)
{
    struct reader_arg *a = p;
    for (int round = 0; round < 4; round++) {
        struct dw_tsdb_block_cursor *c = dw_tsdb_block_select(a->b, NULL, 0, INT64_MIN, INT64_MAX);
        size_t i = 0;
        while (dw_tsdb_block_cursor_next(c)) {
            int64_t t;
            double v;
            size_t k = 0;
            while (dw_tsdb_block_cursor_sample(c, &t, &v)) {
                if (i >= a->m->n || k >= a->m->s[i].n || t != a->m->s[i].t[k] ||
                    !same_bits(v, a->m->s[i].v[k]))
                    a->fails++;
                k++;
            }
            i++;
        }
        if (i != a->m->n || dw_tsdb_block_cursor_err(c))
            a->fails++;
        dw_tsdb_block_cursor_free(&c);
    }
    return NULL;
}

TEST(block_concurrent_readers)
{
    char *dir = tmpdir_new();
    struct model m = {0};
    char *id = small_block(dir, 95, 0, 2 * H, &m);
    struct dw_tsdb_block_ropts ro = {.cache_pages = 2};
    struct dw_tsdb_block *b = open_block(dir, id, &ro);
    pthread_t th[4];
    struct reader_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct reader_arg){b, &m, 0};
        pthread_create(&th[i], NULL, reader, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ASSERT_EQ_INT(args[i].fails, 0);
    }
    dw_tsdb_block_unref(&b);
    free(id);
    model_free(&m);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

/* ---- the head cut hook ---- */

TEST(head_cut_writes_a_block_of_the_range)
{
    char *dir = tmpdir_new();
    char *blocks = dw_asprintf("%s/blocks", dir);
    int64_t t0 = 3000 * DAY;
    dw_clock_set_manual(t0 + 5 * H);
    struct dw_tsdb_options o;
    dw_tsdb_options_init(&o);
    o.dir = dir;
    o.wal.no_thread = true;
    char *err = NULL;
    struct dw_tsdb *db = dw_tsdb_open(&o, &err);
    if (!db)
        DW_FAIL_("open: %s", err);
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    struct model m = {0};
    for (int i = 0; i < 4; i++) {
        struct mseries *s = model_add(&m);
        char v[8];
        snprintf(v, sizeof v, "%d", i);
        ms_label(s, "__name__", "up");
        ms_label(s, "instance", v);
        ms_samples(s, 0);
    }
    for (int64_t t = t0; t < t0 + 3 * H; t += 30000) {
        for (size_t i = 0; i < m.n; i++) {
            double v = (double)(t - t0) / 1000.0 + (double)i;
            ASSERT_EQ_INT(dw_tsdb_appender_add(a, m.s[i].l, m.s[i].nl, t, v, NULL), 0);
            if (t < t0 + 2 * H) { /* the model keeps what the block must hold */
                ms_samples(&m.s[i], m.s[i].n + 1);
                m.s[i].t[m.s[i].n - 1] = t;
                m.s[i].v[m.s[i].n - 1] = v;
            }
        }
        ASSERT_EQ_INT(dw_tsdb_appender_commit(a, NULL, NULL), 0);
    }
    dw_tsdb_appender_free(&a);
    struct dw_tsdb_block_meta meta;
    ASSERT_EQ_INT(dw_tsdb_block_write_head(db, blocks, t0, t0 + 2 * H, 0, &meta, &err), 0);
    ASSERT_EQ_UINT(meta.nseries, 4);
    ASSERT_EQ_UINT(meta.nsamples, 4 * 240);
    struct dw_tsdb_block *b = open_block(blocks, meta.id, NULL);
    ASSERT_EQ_INT(check_select(b, &m, NULL, 0, INT64_MIN, INT64_MAX), 4);
    dw_tsdb_block_unref(&b);
    dw_tsdb_block_meta_release(&meta);
    /* Nothing in the range: no block. */
    ASSERT_EQ_INT(dw_tsdb_block_write_head(db, blocks, t0 - 4 * H, t0 - 2 * H, 0, &meta, NULL), 0);
    ASSERT_EQ_STR(meta.id, "");
    ASSERT_EQ_INT(dw_tsdb_close(&db), 0);
    dw_clock_set_real();
    free(blocks);
    model_free(&m);
    dw_tsdb_rm_rf(dir);
    free(dir);
}

TEST_MAIN()
