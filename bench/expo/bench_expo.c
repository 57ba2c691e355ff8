/*
 * bench_expo.c - throughput of the exposition parser.
 *
 * DESIGN
 * Reads one exposition file into memory (so disk speed does not count), then
 * parses it `runs` times in each mode the ingest path can use and prints the
 * best run: MB/s of input and samples/s. The handler only sums what it is
 * given, so the figure is the parser's own cost. Time comes from
 * dw_mono_ns(), the monotonic clock. Single-threaded.
 *
 *   bench_expo FILE [text|om] [runs]
 *
 * The format defaults to OpenMetrics for names ending in .om or .om.txt.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "expo/expo.h"

struct tally {
    size_t samples;
    size_t labels;
    double sum;
};

static int count_sample(void *ctx, const struct dw_expo_sample *s)
{
    struct tally *t = ctx;
    t->samples++;
    t->labels += s->nlabels;
    t->sum += s->value;
    return 0;
}

static int read_file(const char *path, struct dw_buf *b)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char chunk[1 << 16];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = dw_buf_append(b, chunk, n);
    fclose(f);
    return rc;
}

static bool looks_openmetrics(const char *path)
{
    return dw_str_has_suffix(path, ".om") || dw_str_has_suffix(path, ".om.txt");
}

static void bench_mode(const char *label, struct dw_expo_parser *p, struct dw_expo_opts *o,
                       const struct dw_buf *in, bool deliver, int runs)
{
    int64_t best = INT64_MAX;
    struct tally t = {0};
    for (int r = 0; r < runs; r++) {
        struct tally cur = {0};
        struct dw_expo_handler h = {count_sample, NULL, &cur};
        struct dw_expo_error err;
        int64_t t0 = dw_mono_ns();
        int rc = dw_expo_parse(p, o, in->data, in->len, deliver ? &h : NULL, &err);
        int64_t dt = dw_mono_ns() - t0;
        if (rc != 0) {
            fprintf(stderr, "bench_expo: %s\n", err.msg);
            exit(1);
        }
        if (dt < best)
            best = dt;
        t = cur;
    }
    double secs = (double)best / 1e9;
    printf("%-12s %8.1f MB/s", label, (double)in->len / 1e6 / secs);
    if (deliver)
        printf("  %6.2f M samples/s  (%zu samples, %zu labels)", (double)t.samples / 1e6 / secs,
               t.samples, t.labels);
    printf("  best of %d: %.3f s\n", runs, secs);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_expo FILE [text|om] [runs]\n");
        return 2;
    }
    const char *path = argv[1];
    bool om = argc > 2 ? strcmp(argv[2], "om") == 0 : looks_openmetrics(path);
    int runs = 3;
    if (argc > 3) {
        int64_t v;
        if (dw_parse_int64(argv[3], &v) != 0 || v < 1 || v > 1000) {
            fprintf(stderr, "bench_expo: runs must be 1..1000\n");
            return 2;
        }
        runs = (int)v;
    }
    struct dw_buf in;
    dw_buf_init(&in, (size_t)4 << 30);
    if (read_file(path, &in) != 0) {
        fprintf(stderr, "bench_expo: cannot read %s\n", path);
        return 1;
    }
    struct dw_expo_opts o;
    dw_expo_opts_init(&o);
    o.format = om ? DW_EXPO_OPENMETRICS : DW_EXPO_TEXT;
    o.max_samples = SIZE_MAX;
    struct dw_expo_parser *p = dw_expo_parser_new();
    printf("%s: %.1f MB, %s\n", path, (double)in.len / 1e6, om ? "OpenMetrics" : "text 0.0.4");
    bench_mode("validate", p, &o, &in, false, runs);
    bench_mode("two-phase", p, &o, &in, true, runs);
    o.single_pass = true;
    bench_mode("single-pass", p, &o, &in, true, runs);
    dw_expo_parser_free(&p);
    dw_buf_release(&in);
    return 0;
}
