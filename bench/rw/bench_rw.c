/*
 * bench_rw.c - decode speed of remote write 1.0 requests (src/expo).
 *
 * DESIGN
 * Builds requests shaped like the shared load generator's (rw_loadgen.py:
 * node_exporter- and API-like series, about 220 protobuf bytes per series,
 * labels sorted, one sample per series) with the module's own encoder, then
 * decodes each one `runs` times and prints the best run of each stage:
 *   snappy     snappy_uncompress alone, into a reused buffer
 *   validate   dw_expo_rw_decode with no handler (snappy + pass 1)
 *   decode     dw_expo_rw_decode with a handler (snappy + pass 1 + pass 2)
 *   single     the same with opts.single_pass (snappy + one pass that delivers)
 * as ns per sample and samples per second on one core. The handler only
 * sums what it is given, so the figure is the decoder's own cost. Time comes
 * from dw_mono_ns(). Single-threaded.
 *
 *   bench_rw [runs]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "core/core.h"
#include "expo/expo.h"

struct shape {
    const char *name;
    size_t series;
    size_t samples_per_series;
};

struct tally {
    size_t series, samples, label_bytes;
    double sum;
};

static int count_series(void *ctx, const struct dw_expo_rw_series *s)
{
    struct tally *t = ctx;
    t->series++;
    t->samples += s->nsamples;
    for (size_t i = 0; i < s->nlabels; i++)
        t->label_bytes += s->labels[i].name.len + s->labels[i].value.len;
    for (size_t i = 0; i < s->nsamples; i++)
        t->sum += s->samples[i].value;
    return 0;
}

/* Label values of the simulated fleet (node_exporter and an HTTP API). */
static const char *const metrics[] = {"node_cpu_seconds_total",
                                      "node_memory_MemAvailable_bytes",
                                      "node_network_receive_bytes_total",
                                      "node_disk_read_bytes_total",
                                      "node_filesystem_avail_bytes",
                                      "http_requests_total",
                                      "http_request_duration_seconds_bucket",
                                      "process_resident_memory_bytes",
                                      "go_goroutines",
                                      "node_load1"};
static const char *const modes[] = {"idle", "user",    "system", "iowait",
                                    "irq",  "softirq", "steal",  "nice"};
static const char *const les[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                  "0.5",   "1",    "2.5",   "5",    "10",  "+Inf"};

/* Owns every string of one generated series. */
struct gen {
    char host[32], instance[48], extra[24];
    struct dw_expo_label labels[6];
};

/* Series i: like rw_loadgen.py's, grouped by metric, one per host of 48 in a row. */
static void gen_series(struct gen *g, struct dw_expo_rw_series *s, size_t i)
{
    size_t host = i % 48, kind = (i / 48) % DW_ARRAY_LEN(metrics);
    snprintf(g->host, sizeof g->host, "host-%03zu", host);
    snprintf(g->instance, sizeof g->instance, "host-%03zu.dojopool.internal:9100", host);
    const char *metric = metrics[kind];
    bool api = strncmp(metric, "http_", 5) == 0;
    size_t n = 0;
#define L(k, v) (g->labels[n++] = (struct dw_expo_label){{k, strlen(k)}, {v, strlen(v)}})
    L("__name__", metric);
    if (api) {
        snprintf(g->extra, sizeof g->extra, "/api/v1/r%zu", (i / 480) % 7);
        L("instance", g->instance);
        L("job", "api");
        L(kind == 6 ? "le" : "method", kind == 6 ? les[(i / 480) % DW_ARRAY_LEN(les)] : "GET");
        L("route", g->extra);
    } else {
        snprintf(g->extra, sizeof g->extra, "%zu", (i / 480) % 8);
        L("cpu", g->extra);
        L("instance", g->instance);
        L("job", "node");
        L("mode", modes[(i / 3840) % DW_ARRAY_LEN(modes)]);
    }
#undef L
    s->labels = g->labels;
    s->nlabels = n;
}

/* One snappy body of the shape, timestamps 15 s apart like a scrape interval. */
static void build(const struct shape *sh, struct dw_buf *body, size_t *raw_len)
{
    struct gen *gens = dw_calloc(sh->series, sizeof *gens);
    struct dw_expo_rw_series *series = dw_calloc(sh->series, sizeof *series);
    struct dw_expo_rw_sample *samples =
        dw_calloc(sh->series * sh->samples_per_series, sizeof *samples);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < sh->series; i++) {
        gen_series(&gens[i], &series[i], i);
        series[i].samples = samples + i * sh->samples_per_series;
        series[i].nsamples = sh->samples_per_series;
        for (size_t k = 0; k < sh->samples_per_series; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            samples[i * sh->samples_per_series + k] = (struct dw_expo_rw_sample){
                (double)(x % 1000000) / 100.0, 1750000000000 + (int64_t)k * 15000};
        }
    }
    struct dw_buf raw;
    dw_buf_init(&raw, 0);
    dw_expo_rw_encode_raw(series, sh->series, &raw);
    *raw_len = raw.len;
    dw_buf_release(&raw);
    dw_expo_rw_encode(series, sh->series, body);
    free(gens);
    free(series);
    free(samples);
}

enum stage { STAGE_SNAPPY, STAGE_VALIDATE, STAGE_DECODE, STAGE_SINGLE };

static int64_t run_once(enum stage st, struct dw_expo_rw_decoder *d, const struct dw_buf *body,
                        char *scratch, size_t scratch_len, struct tally *t)
{
    struct dw_expo_rw_handler h = {count_series, t};
    struct dw_expo_rw_error err;
    struct dw_expo_rw_opts o;
    dw_expo_rw_opts_init(&o);
    o.single_pass = st == STAGE_SINGLE;
    int64_t t0 = dw_mono_ns();
    int rc = 0;
    if (st == STAGE_SNAPPY) {
        size_t n = scratch_len;
        rc = snappy_uncompress(body->data, body->len, scratch, &n) == SNAPPY_OK ? 0 : -1;
    } else {
        rc = dw_expo_rw_decode(d, &o, body->data, body->len, st == STAGE_VALIDATE ? NULL : &h, NULL,
                               &err);
        if (rc)
            fprintf(stderr, "bench_rw: %s\n", err.msg);
    }
    int64_t dt = dw_mono_ns() - t0;
    if (rc)
        exit(1);
    return dt;
}

static void bench_shape(const struct shape *sh, int runs)
{
    struct dw_buf body;
    dw_buf_init(&body, 0);
    size_t raw_len;
    build(sh, &body, &raw_len);
    size_t samples = sh->series * sh->samples_per_series;
    printf("%s: %zu series x %zu samples, protobuf %zu bytes (%.0f per series), snappy %zu "
           "bytes\n",
           sh->name, sh->series, sh->samples_per_series, raw_len,
           (double)raw_len / (double)sh->series, body.len);
    struct dw_expo_rw_decoder *d = dw_expo_rw_decoder_new();
    char *scratch = dw_malloc(raw_len + 1);
    static const char *const names[] = {"snappy", "validate", "decode", "single"};
    for (int st = STAGE_SNAPPY; st <= STAGE_SINGLE; st++) {
        int64_t best = INT64_MAX;
        struct tally t = {0};
        for (int r = 0; r < runs; r++) {
            int64_t dt = run_once((enum stage)st, d, &body, scratch, raw_len + 1, &t);
            best = dt < best ? dt : best;
        }
        if (st >= STAGE_DECODE && t.samples != samples * (size_t)runs)
            fprintf(stderr, "bench_rw: delivered %zu samples, expected %zu\n", t.samples,
                    samples * (size_t)runs);
        printf("  %-9s %7.1f ns/sample %8.2f M samples/s/core %7.0f MB/s of protobuf\n", names[st],
               (double)best / (double)samples, (double)samples * 1e3 / (double)best,
               (double)raw_len * 1e3 / (double)best);
    }
    free(scratch);
    dw_expo_rw_decoder_free(&d);
    dw_buf_release(&body);
}

int main(int argc, char **argv)
{
    int64_t runs = 30;
    if (argc > 1 && (dw_parse_int64(argv[1], &runs) != 0 || runs < 1 || runs > 100000)) {
        fprintf(stderr, "usage: bench_rw [runs]\n");
        return 2;
    }
    static const struct shape shapes[] = {
        {"10k x 1", 10000, 1},
        {"500 x 10", 500, 10},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(shapes); i++)
        bench_shape(&shapes[i], (int)runs);
    return 0;
}
