/*
 * blockimport.c - offline backfill: samples in any order in, blocks out.
 *
 * DESIGN: `dojowatch import` parses OpenMetrics or Prometheus text with
 * timestamps and hands every sample to dw_tsdb_importer_add(). Samples are
 * buffered per series (a hash map of label sets); when max_buffered_samples
 * is reached, and at finish, the buffer is flushed: each series is sorted by
 * time (a later duplicate timestamp replaces the earlier one) and one block
 * is written per block-range window that holds samples, so memory stays
 * bounded whatever the time span of the input. A window flushed twice
 * becomes two overlapping blocks; finish then runs compaction, which merges
 * overlaps first and then builds the larger ranges, like the daemon would.
 *
 * Series labels are validated like the head validates them (same default
 * limits), so an import cannot create series the daemon would reject.
 *
 * Threads: an importer belongs to one thread.
 */
#include <stdlib.h>
#include <string.h>

#include "tsdb/block_internal.h"
#include "tsdb/tsdb_internal.h"

#define COMPONENT "tsdb.import"
#define DAY_MS (24 * 3600 * 1000LL)
#define MAX_LABELS 64
#define MAX_NAME_LEN 256
#define MAX_VALUE_LEN 4096

struct point {
    int64_t t;
    double v;
    uint64_t seq; /* arrival order: the later of two equal timestamps wins */
};

struct iseries {
    uint64_t hash;
    struct dw_label *labels; /* one allocation with the strings */
    size_t nlabels;
    struct point *p;
    size_t n, cap;
    size_t pos; /* flush cursor */
    bool unsorted;
};

struct dw_tsdb_importer {
    struct dw_tsdb_import_opts o;
    char *dir;
    int64_t min_valid; /* samples before it are too old */
    struct iseries *s;
    size_t n, cap;
    size_t *slots; /* open addressing: index + 1 */
    size_t nslots;
    size_t buffered;
    uint64_t seq;
    struct dw_label scratch[MAX_LABELS + 1];
    struct dw_tsdb_import_stats st;
    int failed;
};

void dw_tsdb_import_opts_init(struct dw_tsdb_import_opts *o)
{
    memset(o, 0, sizeof *o);
    o->block_range_ms = DW_TSDB_BLOCK_RANGE_DEFAULT;
    o->retention_ms = 90 * DAY_MS;
    o->max_buffered_samples = 4000000;
    o->max_series = 10000000;
}

struct dw_tsdb_importer *dw_tsdb_importer_new(const struct dw_tsdb_import_opts *o, char **err)
{
    if (!o->dir) {
        if (err)
            *err = dw_strdup("import: no directory");
        return NULL;
    }
    struct dw_tsdb_blockdir *d = dw_tsdb_blockdir_open(o->dir, NULL, err);
    if (!d)
        return NULL; /* also cleans leftovers of an earlier interrupted import */
    dw_tsdb_blockdir_free(&d);
    struct dw_tsdb_importer *im = dw_calloc(1, sizeof *im);
    struct dw_tsdb_import_opts def;
    dw_tsdb_import_opts_init(&def);
    im->o = *o;
    if (im->o.block_range_ms <= 0)
        im->o.block_range_ms = def.block_range_ms;
    if (im->o.retention_ms == 0)
        im->o.retention_ms = def.retention_ms;
    if (im->o.max_buffered_samples == 0)
        im->o.max_buffered_samples = def.max_buffered_samples;
    if (im->o.max_series == 0)
        im->o.max_series = def.max_series;
    im->dir = dw_strdup(o->dir);
    im->st.mint = INT64_MAX; /* 0, 0 at finish when nothing was written */
    im->st.maxt = INT64_MIN;
    im->o.dir = im->dir;
    int64_t now = dw_now_ms();
    if (im->o.retention_ms < 0 || __builtin_sub_overflow(now, im->o.retention_ms, &im->min_valid))
        im->min_valid = INT64_MIN;
    return im;
}

static void series_release(struct iseries *s)
{
    free(s->labels);
    free(s->p);
}

static void importer_free(struct dw_tsdb_importer *im)
{
    for (size_t i = 0; i < im->n; i++)
        series_release(&im->s[i]);
    free(im->s);
    free(im->slots);
    free(im->dir);
    free(im);
}

/* Sorted copy of the labels without empty values into im->scratch; 0 or an error. */
static int normalise(struct dw_tsdb_importer *im, const struct dw_label *l, size_t n, size_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!l[i].name || !l[i].value)
            return DW_TSDB_EINVAL;
        if (!l[i].value[0])
            continue;
        if (k == MAX_LABELS)
            return DW_TSDB_ELIMIT;
        if (strlen(l[i].name) > MAX_NAME_LEN || strlen(l[i].value) > MAX_VALUE_LEN)
            return DW_TSDB_ELIMIT;
        if (!dw_tsdb_label_name_valid(l[i].name))
            return DW_TSDB_EINVAL;
        im->scratch[k++] = l[i];
    }
    dw_tsdb_labels_sort(im->scratch, k);
    for (size_t i = 1; i < k; i++)
        if (strcmp(im->scratch[i - 1].name, im->scratch[i].name) == 0)
            return DW_TSDB_EINVAL;
    const char *name = dw_tsdb_labels_get(im->scratch, k, DW_TSDB_METRIC_NAME);
    if (!name || !dw_tsdb_metric_name_valid(name))
        return DW_TSDB_EINVAL;
    *out = k;
    return 0;
}

static struct dw_label *copy_labels(const struct dw_label *l, size_t n)
{
    size_t bytes = n * sizeof *l;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(l[i].name) + strlen(l[i].value) + 2;
    struct dw_label *c = dw_malloc(bytes);
    char *p = (char *)(c + n);
    for (size_t i = 0; i < n; i++) {
        size_t a = strlen(l[i].name) + 1, b = strlen(l[i].value) + 1;
        c[i].name = memcpy(p, l[i].name, a);
        c[i].value = memcpy(p + a, l[i].value, b);
        p += a + b;
    }
    return c;
}

static void rehash(struct dw_tsdb_importer *im)
{
    im->nslots = im->nslots ? im->nslots * 2 : 1024;
    free(im->slots);
    im->slots = dw_calloc(im->nslots, sizeof *im->slots);
    for (size_t i = 0; i < im->n; i++) {
        size_t h = im->s[i].hash & (im->nslots - 1);
        while (im->slots[h])
            h = (h + 1) & (im->nslots - 1);
        im->slots[h] = i + 1;
    }
}

static struct iseries *find_or_add(struct dw_tsdb_importer *im, size_t n, int *rc)
{
    if (im->n * 2 >= im->nslots)
        rehash(im);
    uint64_t hash = dw_tsdb_labels_hash(im->scratch, n);
    size_t h = hash & (im->nslots - 1);
    while (im->slots[h]) {
        struct iseries *s = &im->s[im->slots[h] - 1];
        if (s->hash == hash && dw_tsdb_labels_cmp(s->labels, s->nlabels, im->scratch, n) == 0)
            return s;
        h = (h + 1) & (im->nslots - 1);
    }
    if (im->n >= im->o.max_series) {
        *rc = DW_TSDB_ELIMIT;
        return NULL;
    }
    im->s = dw_grow(im->s, &im->cap, im->n + 1, sizeof *im->s);
    struct iseries *s = &im->s[im->n];
    *s = (struct iseries){.hash = hash, .labels = copy_labels(im->scratch, n), .nlabels = n};
    im->slots[h] = ++im->n;
    im->st.series++;
    return s;
}

/* ---- flushing ---- */

static int cmp_point(const void *x, const void *y)
{
    const struct point *a = x, *b = y;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    return (a->seq > b->seq) - (a->seq < b->seq);
}

/* Sorts a series by time; of equal timestamps the last added stays. */
static void series_sort(struct dw_tsdb_importer *im, struct iseries *s)
{
    if (s->unsorted)
        qsort(s->p, s->n, sizeof *s->p, cmp_point);
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (k && s->p[k - 1].t == s->p[i].t) {
            s->p[k - 1] = s->p[i];
            im->st.duplicates++;
        } else {
            s->p[k++] = s->p[i];
        }
    }
    s->n = k;
    s->unsorted = false;
    s->pos = 0;
}

static int64_t window_of(int64_t t, int64_t r)
{
    int64_t q = t / r;
    return (t % r < 0 ? q - 1 : q) * r;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The distinct windows holding buffered samples, ascending (heap). */
static int64_t *windows(struct dw_tsdb_importer *im, size_t *count)
{
    int64_t *w = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < im->n; i++) {
        const struct iseries *s = &im->s[i];
        for (size_t j = 0; j < s->n; j++) {
            int64_t x = window_of(s->p[j].t, im->o.block_range_ms);
            if (n && w[n - 1] == x)
                continue;
            w = dw_grow(w, &cap, n + 1, sizeof *w);
            w[n++] = x;
        }
    }
    qsort(w, n, sizeof *w, cmp_i64);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || w[k - 1] != w[i])
            w[k++] = w[i];
    *count = k;
    return w;
}

/* Writes one block with every buffered sample in [w, w + range). */
static int flush_window(struct dw_tsdb_importer *im, int64_t w, int64_t **t, double **v,
                        size_t *cap, char **err)
{
    int64_t end = w > INT64_MAX - im->o.block_range_ms ? INT64_MAX : w + im->o.block_range_ms;
    struct dw_tsdb_block_wopts o;
    dw_tsdb_block_wopts_init(&o, w, end);
    struct dw_tsdb_block_writer *bw = dw_tsdb_block_writer_new(im->dir, &o, err);
    if (!bw)
        return DW_TSDB_EIO;
    int rc = 0;
    for (size_t i = 0; i < im->n && rc == 0; i++) {
        struct iseries *s = &im->s[i];
        size_t from = s->pos;
        while (s->pos < s->n && s->p[s->pos].t < end)
            s->pos++;
        size_t n = s->pos - from;
        if (n == 0)
            continue;
        if (n > *cap) {
            *cap = n;
            *t = dw_realloc(*t, n * sizeof **t);
            *v = dw_realloc(*v, n * sizeof **v);
        }
        for (size_t j = 0; j < n; j++) {
            (*t)[j] = s->p[from + j].t;
            (*v)[j] = s->p[from + j].v;
        }
        rc = dw_tsdb_block_writer_add(bw, s->labels, s->nlabels, *t, *v, n);
        if (rc == 0) {
            im->st.samples += n;
            im->st.mint = (*t)[0] < im->st.mint ? (*t)[0] : im->st.mint;
            im->st.maxt = (*t)[n - 1] > im->st.maxt ? (*t)[n - 1] : im->st.maxt;
        }
    }
    if (rc) {
        if (err)
            *err = dw_asprintf("import: writing a block: %s", dw_tsdb_strerror(rc));
        dw_tsdb_block_writer_abort(&bw);
        return rc;
    }
    struct dw_tsdb_block_meta m;
    rc = dw_tsdb_block_writer_commit(&bw, &m, err);
    if (rc == 0 && m.id[0])
        im->st.blocks++;
    dw_tsdb_block_meta_release(&m);
    return rc;
}

static int flush(struct dw_tsdb_importer *im, char **err)
{
    if (im->buffered == 0)
        return 0;
    for (size_t i = 0; i < im->n; i++)
        series_sort(im, &im->s[i]);
    size_t nw;
    int64_t *w = windows(im, &nw);
    int64_t *t = NULL;
    double *v = NULL;
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; i < nw && rc == 0; i++)
        rc = flush_window(im, w[i], &t, &v, &cap, err);
    free(t);
    free(v);
    free(w);
    for (size_t i = 0; i < im->n; i++) { /* keep the series, drop their samples */
        free(im->s[i].p);
        im->s[i].p = NULL;
        im->s[i].n = im->s[i].cap = 0;
    }
    im->buffered = 0;
    if (rc)
        im->failed = DW_TSDB_EIO;
    return rc;
}

int dw_tsdb_importer_add(struct dw_tsdb_importer *im, const struct dw_label *labels, size_t n,
                         int64_t t, double v)
{
    if (im->failed)
        return im->failed;
    size_t k;
    int rc = normalise(im, labels, n, &k);
    if (rc)
        return rc;
    if (t < im->min_valid) {
        im->st.too_old++;
        return 0;
    }
    struct iseries *s = find_or_add(im, k, &rc);
    if (!s)
        return rc;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->p = dw_realloc(s->p, s->cap * sizeof *s->p);
    }
    if (s->n && t <= s->p[s->n - 1].t)
        s->unsorted = true;
    s->p[s->n++] = (struct point){t, v, im->seq++};
    if (++im->buffered >= im->o.max_buffered_samples) {
        char *err = NULL;
        rc = flush(im, &err);
        if (rc)
            dw_log_kv(DW_LOG_ERROR, COMPONENT, "flush failed", "error", err, NULL);
        free(err);
    }
    return rc ? DW_TSDB_EIO : 0;
}

int dw_tsdb_importer_finish(struct dw_tsdb_importer **imp, struct dw_tsdb_import_stats *st,
                            char **err)
{
    struct dw_tsdb_importer *im = *imp;
    *imp = NULL;
    int rc = im->failed;
    if (rc && err)
        *err = dw_strdup("import: an earlier flush failed");
    if (rc == 0)
        rc = flush(im, err);
    if (rc == 0 && !im->o.no_compact) {
        struct dw_tsdb_blockdir_opts bo = {.block_range_ms = im->o.block_range_ms};
        struct dw_tsdb_blockdir *d = dw_tsdb_blockdir_open(im->dir, &bo, err);
        size_t done = 0;
        rc = d ? dw_tsdb_blockdir_compact(d, &done, err) : DW_TSDB_EIO;
        im->st.compactions = done;
        dw_tsdb_blockdir_free(&d);
    }
    if (im->st.samples == 0)
        im->st.mint = im->st.maxt = 0;
    if (st)
        *st = im->st;
    importer_free(im);
    return rc;
}

void dw_tsdb_importer_abort(struct dw_tsdb_importer **imp)
{
    if (!imp || !*imp)
        return;
    importer_free(*imp);
    *imp = NULL;
}
