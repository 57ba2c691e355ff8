/*
 * head_bench - in-process append and query benchmark of the tsdb head.
 *
 * Ingests N series of 15 s samples the way scrapes arrive (time-major: at
 * each timestamp one sample of every series, committed in requests of
 * --batch samples), through the real appender, WAL and head, then queries
 * them back. Reports CPU seconds per million samples, samples per second per
 * core, the first pass (series creation) separately, and memory per series
 * (heap bytes in use from mallinfo2 and resident-set growth, both including
 * the index and the head chunks).
 *
 * Input: a Prometheus text file with millisecond timestamps from
 * /work/shared/bench/gen_dataset.py (--prom). Its series are replicated with
 * a `replica` label until there are N; every replica repeats the same values
 * (each series is compressed on its own, so this does not flatter the
 * encoding). Without a file a synthetic mix is generated (counters, 2-decimal
 * gauges, constants). See bench/head/README.md.
 *
 * Single-threaded unless --threads (then each thread owns a slice of the
 * series, like parallel remote-write connections).
 */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "tsdb/tsdb.h"

struct bseries {
    struct dw_label *labels; /* the base labels plus a replica label slot */
    size_t nlabels;
    double *v;
    size_t n;
};

struct dataset {
    struct bseries *s;
    size_t n, cap;
    char *arena;              /* every label string, series after series (see pack_labels) */
    struct dw_label *lab_all; /* every series' labels, series after series */
    size_t *lab_off;          /* series i's labels start at lab_all + lab_off[i] */
    double *tv;               /* values time-major: tv[k * n + i] */
    int64_t t0, step;
    size_t steps;
};

static char *arena_strdup(const char *s, size_t n)
{
    char *p = dw_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* Parses `name{a="b",...} value ts`; returns false for other lines. */
static bool parse_line(char *line, struct dw_label *lab, size_t *nlab, double *v, int64_t *t)
{
    if (line[0] == '#' || line[0] == '\n' || !line[0])
        return false;
    char *p = line;
    size_t n = 0;
    char *name_end = p + strcspn(p, "{ ");
    lab[n++] = (struct dw_label){DW_TSDB_METRIC_NAME, arena_strdup(p, (size_t)(name_end - p))};
    p = name_end;
    if (*p == '{') {
        p++;
        while (*p && *p != '}') {
            char *eq = strchr(p, '=');
            if (!eq || eq[1] != '"' || n >= 30)
                return false;
            char *name = arena_strdup(p, (size_t)(eq - p));
            char *q = eq + 2, *w = q;
            while (*q && *q != '"') {
                if (*q == '\\' && q[1]) {
                    q++;
                    *w++ = *q == 'n' ? '\n' : *q;
                    q++;
                } else {
                    *w++ = *q++;
                }
            }
            lab[n++] = (struct dw_label){name, arena_strdup(eq + 2, (size_t)(w - (eq + 2)))};
            p = q + 1;
            if (*p == ',')
                p++;
        }
        p++;
    }
    char *save = NULL;
    char *vs = strtok_r(p, " \n", &save), *ts = strtok_r(NULL, " \n", &save);
    if (!vs || !ts || dw_parse_double(vs, v) < 0 || dw_parse_int64(ts, t) < 0)
        return false;
    *nlab = n;
    return true;
}

static void free_labels(struct dw_label *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            free((char *)l[i].name);
        free((char *)l[i].value);
    }
}

/* Series of the file by their text (families may interleave their series). */
struct keymap {
    char **keys;
    size_t *idx;
    size_t cap, n;
};

static size_t *keymap_slot(struct keymap *m, const char *key, size_t len)
{
    if ((m->n + 1) * 2 > m->cap) {
        struct keymap g = {dw_calloc(m->cap ? m->cap * 2 : 1024, sizeof(char *)), NULL,
                           m->cap ? m->cap * 2 : 1024, m->n};
        g.idx = dw_calloc(g.cap, sizeof *g.idx);
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i])
                continue;
            size_t *slot = keymap_slot(&g, m->keys[i], strlen(m->keys[i]));
            *slot = m->idx[i];
            g.keys[slot - g.idx] = m->keys[i];
        }
        free(m->keys);
        free(m->idx);
        *m = g;
    }
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
    size_t i = (size_t)h & (m->cap - 1);
    while (m->keys[i] && (strlen(m->keys[i]) != len || memcmp(m->keys[i], key, len) != 0))
        i = (i + 1) & (m->cap - 1);
    return &m->idx[i];
}

static int load_prom(struct dataset *ds, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    struct dw_label lab[32];
    size_t nlab;
    double v;
    int64_t t;
    struct keymap km = {0};
    int64_t tmin = INT64_MAX, tmax = INT64_MIN;
    while (getline(&line, &cap, f) > 0) {
        size_t klen = strcspn(line, "}");
        if (line[klen] != '}')
            klen = strcspn(line, " ");
        char *key = dw_strndup(line, klen);
        if (!parse_line(line, lab, &nlab, &v, &t)) {
            free(key);
            continue;
        }
        size_t *slot = keymap_slot(&km, key, klen);
        struct bseries *cur;
        if (!km.keys[slot - km.idx]) {
            km.keys[slot - km.idx] = key;
            km.n++;
            *slot = ds->n;
            ds->s = dw_grow(ds->s, &ds->cap, ds->n + 1, sizeof *ds->s);
            cur = &ds->s[ds->n++];
            memset(cur, 0, sizeof *cur);
            cur->labels = dw_calloc(nlab + 1, sizeof *cur->labels);
            memcpy(cur->labels, lab, nlab * sizeof *lab);
            cur->nlabels = nlab + 1;
        } else {
            free(key);
            free_labels(lab, nlab);
            cur = &ds->s[*slot];
        }
        cur->v = dw_realloc(cur->v, (cur->n + 1) * sizeof *cur->v);
        cur->v[cur->n++] = v;
        if (t < tmin)
            tmin = t;
        if (t > tmax)
            tmax = t;
    }
    free(line);
    fclose(f);
    for (size_t i = 0; i < km.cap; i++)
        free(km.keys[i]);
    free(km.keys);
    free(km.idx);
    ds->steps = ds->n ? ds->s[0].n : 0;
    for (size_t i = 0; i < ds->n; i++)
        if (ds->s[i].n < ds->steps)
            ds->steps = ds->s[i].n;
    ds->t0 = tmin;
    ds->step = ds->steps > 1 ? (tmax - tmin) / (int64_t)(ds->steps - 1) : 15000;
    return ds->n ? 0 : -1;
}

/* A synthetic mix resembling the shared dataset: counters, gauges, constants. */
static void synth(struct dataset *ds, size_t nbase, size_t steps)
{
    static const char *kinds[] = {"counter", "gauge", "const", "fcounter"};
    ds->s = dw_calloc(nbase, sizeof *ds->s);
    ds->n = ds->cap = nbase;
    ds->t0 = 1699999200000;
    ds->step = 15000;
    ds->steps = steps;
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < nbase; i++) {
        struct bseries *s = &ds->s[i];
        s->nlabels = 6;
        s->labels = dw_calloc(s->nlabels, sizeof *s->labels);
        int kind = (int)(i % 4);
        s->labels[0] = (struct dw_label){DW_TSDB_METRIC_NAME,
                                         dw_asprintf("synth_%s_%zu", kinds[kind], i % 50)};
        s->labels[1] = (struct dw_label){dw_strdup("instance"),
                                         dw_asprintf("host-%04zu.example.internal:9100", i / 200)};
        s->labels[2] = (struct dw_label){dw_strdup("job"), dw_strdup(i % 2 ? "node" : "api")};
        s->labels[3] =
            (struct dw_label){dw_strdup("region"), dw_strdup(i % 3 ? "eu-west-1" : "us-east-1")};
        s->labels[4] = (struct dw_label){dw_strdup("idx"), dw_asprintf("%zu", i % 200)};
        s->v = dw_malloc(steps * sizeof *s->v);
        s->n = steps;
        double acc = (double)(i * 1000);
        for (size_t k = 0; k < steps; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if (kind == 0)
                acc += (double)(x % 1000);
            else if (kind == 1)
                acc = (double)((int64_t)(x % 100000)) / 100;
            else if (kind == 3)
                acc += (double)(x % 10000) / 100;
            s->v[k] = acc;
        }
    }
}

/*
 * Moves every label string into one block, series after series, the way a
 * decoded remote-write request lays them out: reading a series' labels is
 * then a sequential scan, not one cache miss per string of the loader's
 * scattered allocations (which would be charged to the head).
 */
static void pack_labels(struct dataset *ds)
{
    size_t total = 0;
    for (size_t i = 0; i < ds->n; i++)
        for (size_t j = 0; j + 1 < ds->s[i].nlabels; j++)
            total += strlen(ds->s[i].labels[j].name) + strlen(ds->s[i].labels[j].value) + 2;
    ds->arena = dw_malloc(total ? total : 1);
    char *p = ds->arena;
    size_t nlab = 0;
    for (size_t i = 0; i < ds->n; i++)
        nlab += ds->s[i].nlabels;
    ds->lab_all = dw_malloc(nlab * sizeof *ds->lab_all);
    ds->lab_off = dw_malloc(ds->n * sizeof *ds->lab_off);
    ds->tv = dw_malloc(ds->n * ds->steps * sizeof *ds->tv);
    nlab = 0;
    for (size_t i = 0; i < ds->n; i++) {
        struct bseries *b = &ds->s[i];
        for (size_t j = 0; j + 1 < b->nlabels; j++) {
            const char *strs[2] = {b->labels[j].name, b->labels[j].value};
            for (int k = 0; k < 2; k++) {
                size_t len = strlen(strs[k]) + 1;
                memcpy(p, strs[k], len);
                strs[k] = p;
                p += len;
            }
            if (j > 0)
                free((char *)b->labels[j].name);
            free((char *)b->labels[j].value);
            b->labels[j] = (struct dw_label){strs[0], strs[1]};
        }
        ds->lab_off[i] = nlab;
        memcpy(ds->lab_all + nlab, b->labels, b->nlabels * sizeof *b->labels);
        nlab += b->nlabels;
        for (size_t k = 0; k < ds->steps; k++)
            ds->tv[k * ds->n + i] = b->v[k];
    }
}

/* ---- measurement ---- */

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_seconds(void)
{
    return (double)dw_mono_ns() / 1e9;
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

/* ---- ingestion ---- */

struct job {
    struct dw_tsdb *db;
    const struct dataset *ds;
    size_t from, to; /* series slice [from, to) of the replicated set */
    size_t step_from, step_to;
    size_t batch;
    bool by_ref;
    uint64_t *refs; /* per series in the slice */
    char **replica;
    struct dw_label *lab; /* scratch */
    size_t samples, rejected;
    int err;
};

static void *run_job(void *arg)
{
    struct job *j = arg;
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(j->db);
    size_t nbase = j->ds->n, inbatch = 0;
    struct dw_tsdb_commit_result res;
    for (size_t k = j->step_from; k < j->step_to && !j->err; k++) {
        int64_t t = j->ds->t0 + (int64_t)k * j->ds->step;
        for (size_t i = j->from; i < j->to; i++) {
            size_t b = i % nbase;
            /* Past the end of the file the values start over (a counter reset). */
            double v = j->ds->tv[(k % j->ds->steps) * nbase + b];
            uint64_t *ref = &j->refs[i - j->from];
            if (!(j->by_ref && *ref && dw_tsdb_appender_add_ref(a, *ref, t, v) == 0)) {
                /* Like a decoded request: the labels as they come, plus the replica. */
                size_t nl = j->ds->s[b].nlabels;
                memcpy(j->lab, j->ds->lab_all + j->ds->lab_off[b], nl * sizeof *j->lab);
                j->lab[nl - 1] = (struct dw_label){"replica", j->replica[i / nbase]};
                if (dw_tsdb_appender_add(a, j->lab, nl, t, v, ref) != 0)
                    j->err = 1;
            }
            if (++inbatch == j->batch) {
                if (dw_tsdb_appender_commit(a, &res, NULL) != 0)
                    j->err = 1;
                j->samples += res.appended;
                j->rejected += inbatch - res.appended;
                inbatch = 0;
            }
        }
    }
    if (dw_tsdb_appender_commit(a, &res, NULL) != 0)
        j->err = 1;
    j->samples += res.appended;
    j->rejected += inbatch - res.appended;
    dw_tsdb_appender_free(&a);
    return NULL;
}

/* Runs steps [s0, s1) over all series with nthreads jobs; returns samples appended. */
static size_t ingest(struct job *jobs, int nthreads, size_t s0, size_t s1)
{
    pthread_t th[64];
    for (int i = 0; i < nthreads; i++) {
        jobs[i].step_from = s0;
        jobs[i].step_to = s1;
        jobs[i].samples = jobs[i].rejected = 0;
        if (nthreads == 1)
            run_job(&jobs[i]);
        else
            pthread_create(&th[i], NULL, run_job, &jobs[i]);
    }
    size_t total = 0, rejected = 0;
    for (int i = 0; i < nthreads; i++) {
        if (nthreads > 1)
            pthread_join(th[i], NULL);
        total += jobs[i].samples;
        rejected += jobs[i].rejected;
        if (jobs[i].err)
            fprintf(stderr, "job %d failed\n", i);
    }
    if (rejected)
        fprintf(stderr, "warning: %zu samples rejected\n", rejected);
    return total;
}

/* ---- queries ---- */

static void query(struct dw_tsdb *db, const char *metric, int64_t mint, int64_t maxt)
{
    double c0 = cpu_seconds();
    char *err = NULL;
    struct dw_tsdb_matcher *m = dw_tsdb_matcher_new(DW_MATCH_EQ, DW_TSDB_METRIC_NAME, metric, &err);
    struct dw_tsdb_querier *q = dw_tsdb_querier_new(db, mint, maxt);
    struct dw_tsdb_series_set *set = dw_tsdb_select(q, &m, 1);
    size_t series = 0, samples = 0;
    double sum = 0;
    while (dw_tsdb_series_set_next(set)) {
        struct dw_tsdb_iter *it = dw_tsdb_series_iter(set);
        int64_t t;
        double v;
        while (dw_tsdb_iter_next(it, &t, &v)) {
            samples++;
            sum += v;
        }
        series++;
    }
    dw_tsdb_series_set_free(&set);
    dw_tsdb_querier_free(&q);
    dw_tsdb_matcher_free(&m);
    double cpu = cpu_seconds() - c0;
    printf("  query %-32s %7zu series %9zu samples  %7.1f ms  %6.1f M samples/s  (sum %.3g)\n",
           metric, series, samples, cpu * 1e3, cpu > 0 ? (double)samples / cpu / 1e6 : 0, sum);
}

/* A metric name of the dataset with many series, for the query benchmark. */
static const char *busiest_metric(const struct dataset *ds)
{
    const char *best = ds->s[0].labels[0].value;
    size_t best_n = 0, run = 0;
    for (size_t i = 0; i < ds->n; i++) {
        run = i > 0 && strcmp(ds->s[i].labels[0].value, ds->s[i - 1].labels[0].value) == 0 ? run + 1
                                                                                           : 1;
        if (run > best_n) {
            best_n = run;
            best = ds->s[i].labels[0].value;
        }
    }
    return best;
}

static void rm_rf(const char *dir)
{
    char *cmd = dw_asprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    free(cmd);
}

static int usage(void)
{
    fprintf(stderr, "usage: head_bench [--prom FILE] [--series N[,N...]] [--hours H] "
                    "[--batch N] [--threads N] [--fsync never|interval|always] [--labels] "
                    "[--ingest-only]\n");
    return 2;
}

static bool ingest_only; /* --ingest-only: skip queries and the reopen (for profiling) */

static void run(const struct dataset *ds, size_t nseries, size_t steps, size_t batch, int nthreads,
                int fsync, bool by_ref)
{
    char tmpl[] = "/tmp/head-bench-XXXXXX";
    char *dir = mkdtemp(tmpl);
    size_t heap0 = heap_in_use(), rss0 = rss_bytes();
    struct dw_tsdb_options o;
    dw_tsdb_options_init(&o);
    o.dir = dir;
    o.wal.fsync = (enum dw_tsdb_fsync)fsync;
    o.max_future_ms = -1; /* the dataset is in the past */
    char *err = NULL;
    struct dw_tsdb *db = dw_tsdb_open(&o, &err);
    if (!db) {
        fprintf(stderr, "open: %s\n", err);
        exit(1);
    }
    size_t nrep = (nseries + ds->n - 1) / ds->n;
    char **replica = dw_calloc(nrep, sizeof *replica);
    for (size_t r = 0; r < nrep; r++)
        replica[r] = dw_asprintf("%zu", r);
    struct job jobs[64];
    size_t per = (nseries + (size_t)nthreads - 1) / (size_t)nthreads;
    for (int i = 0; i < nthreads; i++) {
        size_t from = (size_t)i * per, to = from + per < nseries ? from + per : nseries;
        jobs[i] = (struct job){.db = db,
                               .ds = ds,
                               .from = from,
                               .to = to,
                               .batch = batch,
                               .by_ref = by_ref,
                               .replica = replica};
        jobs[i].refs = dw_calloc(to - from + 1, sizeof *jobs[i].refs);
        jobs[i].lab = dw_calloc(40, sizeof *jobs[i].lab);
    }

    /* First scrape: creates every series. */
    double c0 = cpu_seconds();
    size_t n1 = ingest(jobs, nthreads, 0, 1);
    double c1 = cpu_seconds(), w1 = wall_seconds();
    size_t n2 = ingest(jobs, nthreads, 1, steps);
    double c2 = cpu_seconds(), w2 = wall_seconds();
    dw_tsdb_sync(db);

    struct dw_tsdb_stats st;
    dw_tsdb_get_stats(db, &st);
    size_t heap = heap_in_use() - heap0, rss = rss_bytes() - rss0;
    malloc_trim(0); /* free pages back to the kernel: what stays resident for good */
    size_t rss_trim = rss_bytes() - rss0;
    /* What the benchmark itself holds (refs, label scratch, replica names) is not the head's. */
    size_t own = 0;
    for (int i = 0; i < nthreads; i++)
        own += (jobs[i].to - jobs[i].from + 1) * sizeof(uint64_t) + 40 * sizeof(struct dw_label);
    heap -= own < heap ? own : 0;

    printf("%zu series x %zu samples (%.1f h at %lld s), %s, batch %zu, %d thread%s, fsync %s\n",
           st.series, steps, (double)steps * (double)ds->step / 3.6e6, (long long)ds->step / 1000,
           by_ref ? "cached refs after the first scrape" : "labels on every sample", batch,
           nthreads, nthreads > 1 ? "s" : "",
           fsync == 0   ? "interval"
           : fsync == 1 ? "never"
                        : "always");
    printf("  first scrape (creates series): %9zu samples  %.3f CPU-s  %.2f us/series\n", n1,
           c1 - c0, (c1 - c0) * 1e6 / (double)(n1 ? n1 : 1));
    double cpu = c2 - c1, wall = w2 - w1;
    printf("  steady state:                  %9zu samples  %.3f CPU-s  %.3f wall-s\n", n2, cpu,
           wall);
    printf("    %.3f CPU-s per million samples, %.2f M samples/s per core, %.2f M samples/s wall\n",
           cpu / ((double)n2 / 1e6), (double)n2 / cpu / 1e6, (double)n2 / wall / 1e6);
    printf("  memory per series (index + head chunks + WAL buffers): %.0f heap bytes, %.0f RSS "
           "bytes, %.0f RSS bytes after malloc_trim\n",
           (double)heap / (double)st.series, (double)rss / (double)st.series,
           (double)rss_trim / (double)st.series);
    printf("  chunks: %llu (%.2f per series), %.2f encoded bytes/sample, %.0f encoded "
           "bytes/series\n",
           (unsigned long long)st.chunks, (double)st.chunks / (double)st.series,
           (double)st.chunk_bytes / (double)st.samples, (double)st.chunk_bytes / (double)st.series);
    printf("  WAL: %.2f bytes/sample logged\n", (double)st.wal.bytes_logged / (double)(n1 + n2));
    int64_t t_end = ds->t0 + (int64_t)steps * ds->step;
    if (ingest_only) {
        dw_tsdb_close(&db);
        goto out;
    }
    query(db, busiest_metric(ds), ds->t0, t_end);
    query(db, busiest_metric(ds), t_end - 3600000, t_end);

    double r0 = wall_seconds();
    dw_tsdb_close(&db);
    double r1 = wall_seconds();
    dw_log_set_level(DW_LOG_INFO);
    db = dw_tsdb_open(&o, &err);
    double r2 = wall_seconds();
    dw_log_set_level(DW_LOG_WARN);
    printf("  close %.2f s, reopen with WAL replay %.2f s (%.1f M samples/s)\n", r1 - r0, r2 - r1,
           (double)(n1 + n2) / (r2 - r1) / 1e6);
    dw_tsdb_close(&db);
out:
    for (int i = 0; i < nthreads; i++) {
        free(jobs[i].refs);
        free(jobs[i].lab);
    }
    for (size_t r = 0; r < nrep; r++)
        free(replica[r]);
    free(replica);
    rm_rf(dir);
}

int main(int argc, char **argv)
{
    const char *prom = NULL;
    const char *series_list = "10000,100000";
    double hours = 2;
    size_t batch = 0;
    int nthreads = 1, fsync = DW_TSDB_FSYNC_NEVER;
    bool by_ref = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--prom") == 0 && next)
            prom = argv[++i];
        else if (strcmp(a, "--series") == 0 && next)
            series_list = argv[++i];
        else if (strcmp(a, "--hours") == 0 && next) {
            if (dw_parse_double(argv[++i], &hours) < 0)
                return usage();
        } else if (strcmp(a, "--batch") == 0 && next)
            batch = (size_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(a, "--threads") == 0 && next)
            nthreads = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(a, "--fsync") == 0 && next)
            fsync = dw_tsdb_fsync_parse(argv[++i]);
        else if (strcmp(a, "--labels") == 0)
            by_ref = false;
        else if (strcmp(a, "--ingest-only") == 0)
            ingest_only = true;
        else
            return usage();
    }
    if (fsync < 0 || nthreads < 1 || nthreads > 64 || hours <= 0)
        return usage();
    dw_log_set_level(DW_LOG_WARN);
    struct dataset ds = {0};
    if (prom) {
        double w0 = wall_seconds();
        if (load_prom(&ds, prom) < 0)
            return 1;
        fprintf(stderr, "loaded %zu series x %zu samples from %s in %.1f s\n", ds.n, ds.steps, prom,
                wall_seconds() - w0);
    } else {
        synth(&ds, 10000, 720);
    }
    pack_labels(&ds);
    size_t steps = (size_t)(hours * 3.6e6 / (double)ds.step);
    char *list = dw_strdup(series_list), *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        size_t n = (size_t)strtoul(tok, NULL, 10);
        if (n == 0)
            continue;
        run(&ds, n, steps, batch ? batch : 10000, nthreads, fsync, by_ref);
        printf("\n");
    }
    free(list);
    for (size_t i = 0; i < ds.n; i++) {
        free(ds.s[i].labels);
        free(ds.s[i].v);
    }
    free(ds.s);
    free(ds.arena);
    free(ds.lab_all);
    free(ds.lab_off);
    free(ds.tv);
    return 0;
}
