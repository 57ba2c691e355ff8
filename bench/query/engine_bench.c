/*
 * engine_bench.c - in-process timing of PromQL range queries over the shared
 * benchmark dataset (2 h of 48 hosts at 15 s, 9,984 series, 4.8 M samples).
 *
 *   engine_bench [DATASET.prom [REPEATS [FILTER]]]
 *
 * DATASET is the Prometheus-text output of the shared generator
 * (gen_dataset.py --hosts 48 --duration 7200 --prom FILE); when the file
 * does not exist it is generated there first (default
 * /tmp/dw-bench-48h2h.prom). It is parsed with the expo parser into the
 * engine's in-memory storage, then each query runs REPEATS times (default
 * 7) as a range query over the whole 2 h at a 15 s step (481 steps), and its
 * result is encoded as the API's JSON; the median, minimum and maximum wall
 * time of both together are printed per query, with the
 * number of result series and the peak of samples held. FILTER keeps only
 * the queries containing it (for profiling). Build it with
 * --buildtype=release for meaningful figures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "expo/expo.h"
#include "promql/promql.h"

#ifndef DW_SHARED_DIR
#define DW_SHARED_DIR "../shared"
#endif

#define DATA_START_MS INT64_C(1699999200000) /* the generator's default start */
#define DATA_SPAN_MS INT64_C(7200000)
#define STEP_MS INT64_C(15000)

static const char *const queries[] = {
    "sum by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m]))",
    "sum by (instance) (rate(node_cpu_seconds_total[5m]))",
    "histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket[5m])))",
    "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
    "topk(5, sum by (instance) (rate(node_network_receive_bytes_total[5m])))",
    "predict_linear(node_filesystem_avail_bytes[1h], 4 * 3600) < 0",
    "sum by (route) (rate(http_requests_total{status=\"500\"}[5m])) / sum by (route) "
    "(rate(http_requests_total[5m]))",
    "1 - avg by (instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[5m]))",
    "node_memory_MemAvailable_bytes / on(instance) node_memory_MemTotal_bytes",
};

/* ---- loading ---- */

struct loader {
    struct dw_promql_memstorage *m;
    struct dw_buf strings;
    size_t samples, rejected;
};

static int on_sample(void *ctx, const struct dw_expo_sample *s)
{
    struct loader *ld = ctx;
    struct dw_label l[80];
    size_t n = 0;
    size_t offs[2 * 80];
    dw_buf_clear(&ld->strings);
    /* Copy name and labels NUL-terminated, then point into the buffer. */
    dw_buf_append(&ld->strings, s->name.ptr, s->name.len);
    dw_buf_putc(&ld->strings, '\0');
    for (size_t i = 0; i < s->nlabels && i < 79; i++) {
        offs[2 * i] = ld->strings.len;
        dw_buf_append(&ld->strings, s->labels[i].name.ptr, s->labels[i].name.len);
        dw_buf_putc(&ld->strings, '\0');
        offs[2 * i + 1] = ld->strings.len;
        dw_buf_append(&ld->strings, s->labels[i].value.ptr, s->labels[i].value.len);
        dw_buf_putc(&ld->strings, '\0');
    }
    l[n++] = (struct dw_label){"__name__", ld->strings.data};
    for (size_t i = 0; i < s->nlabels && i < 79; i++)
        l[n++] =
            (struct dw_label){ld->strings.data + offs[2 * i], ld->strings.data + offs[2 * i + 1]};
    if (!s->has_timestamp || dw_promql_memstorage_add(ld->m, l, n, s->timestamp_ms, s->value) < 0)
        ld->rejected++;
    else
        ld->samples++;
    return 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc(size > 0 ? (size_t)size : 1);
    *len = data ? fread(data, 1, (size_t)size, f) : 0;
    fclose(f);
    return data;
}

static int load(const char *path, struct dw_promql_memstorage *m)
{
    size_t len;
    char *data = slurp(path, &len);
    if (!data) {
        fprintf(stderr, "cannot read %s\n", path);
        return -1;
    }
    struct loader ld = {.m = m};
    dw_buf_init(&ld.strings, 0);
    struct dw_expo_opts o;
    dw_expo_opts_init(&o);
    o.format = DW_EXPO_TEXT;
    o.single_pass = true;
    o.max_samples = 100000000;
    struct dw_expo_handler h = {on_sample, NULL, &ld};
    struct dw_expo_error err;
    int64_t t0 = dw_mono_ns();
    int rc = dw_expo_parse(NULL, &o, data, len, &h, &err);
    double secs = (double)(dw_mono_ns() - t0) / 1e9;
    free(data);
    dw_buf_release(&ld.strings);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", path, err.msg);
        return -1;
    }
    size_t series, samples;
    dw_promql_memstorage_stats(m, &series, &samples);
    printf("loaded %zu series, %zu samples (%zu rejected) in %.1f s\n", series, samples,
           ld.rejected, secs);
    return 0;
}

/* ---- timing ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int run_query(const struct dw_promql_storage *st, const char *q, int repeats)
{
    struct dw_promql_expr *e = NULL;
    struct dw_promql_error perr = {0};
    if (dw_promql_parse(q, strlen(q), NULL, &e, &perr) < 0) {
        fprintf(stderr, "%s: %s\n", q, perr.msg);
        dw_promql_error_release(&perr);
        return -1;
    }
    double *ms = calloc((size_t)repeats, sizeof *ms);
    size_t nseries = 0, peak = 0;
    for (int i = 0; i < repeats; i++) {
        struct dw_promql_result *r = NULL;
        char *err = NULL;
        int64_t t0 = dw_mono_ns();
        int rc = dw_promql_eval_range(st, e, DATA_START_MS, DATA_START_MS + DATA_SPAN_MS, STEP_MS,
                                      NULL, &r, &err);
        if (rc == 0) { /* the peers' figures include the JSON they send: so do these */
            struct dw_buf json;
            dw_buf_init(&json, 0);
            dw_promql_result_json(r, &json);
            dw_buf_release(&json);
        }
        ms[i] = (double)(dw_mono_ns() - t0) / 1e6;
        if (rc != 0) {
            fprintf(stderr, "%s: %s\n", q, err);
            free(err);
            free(ms);
            dw_promql_free(&e);
            return -1;
        }
        nseries = r->nseries;
        peak = r->peak_samples;
        dw_promql_result_free(&r);
    }
    qsort(ms, (size_t)repeats, sizeof ms[0], cmp_double);
    printf("%8.1f ms  (min %.1f, max %.1f)  %4zu series  peak %zu samples  %s\n", ms[repeats / 2],
           ms[0], ms[repeats - 1], nseries, peak, q);
    free(ms);
    dw_promql_free(&e);
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/dw-bench-48h2h.prom";
    int repeats = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 7;
    if (repeats < 1)
        repeats = 1;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 %s/bench/gen_dataset.py --hosts 48 --duration 7200 --prom '%s'",
                 DW_SHARED_DIR, path);
        printf("generating %s\n", path);
        if (system(cmd) != 0) {
            fprintf(stderr, "generation failed: %s\n", cmd);
            return 1;
        }
    }
    struct dw_promql_memstorage *m = dw_promql_memstorage_new();
    if (load(path, m) < 0)
        return 1;
    const struct dw_promql_storage *st = dw_promql_memstorage_storage(m);
    printf("range queries over 2 h at 15 s (481 steps), median of %d:\n", repeats);
    int rc = 0;
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++)
        if ((argc < 4 || strstr(queries[i], argv[3])) && run_query(st, queries[i], repeats) < 0)
            rc = 1;
    dw_promql_memstorage_free(&m);
    return rc;
}
