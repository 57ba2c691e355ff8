/*
 * Unit tests of remote write 1.0 (src/expo/remote_write.c, rw_encode.c):
 * encode/decode round trips on random data, hand-built protobuf (unknown
 * fields, any field order, exemplars and histograms, zero samples, negative
 * timestamps, NaN bits), every malformed input and label rule with its
 * message, every limit (rejects whole, delivers nothing), the headers, and a
 * body made by the shared load generator with python3-snappy.
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <snappy-c.h>

#include "core/core.h"
#include "expo/expo.h"
#include "harness.h"
#include "testutil.h"

#ifndef DW_SHARED_DIR
#error "DW_SHARED_DIR must point at the shared directory (load generator)"
#endif

#define STALE_BITS 0x7ff0000000000002ull

static uint64_t bits_of(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static double from_bits(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* ---- rendering a series so expected and delivered can be compared as text ---- */

static int label_cmp(const void *a, const void *b)
{
    const struct dw_expo_label *x = a, *y = b;
    size_t n = x->name.len < y->name.len ? x->name.len : y->name.len;
    int c = memcmp(x->name.ptr, y->name.ptr, n);
    return c ? c : (x->name.len > y->name.len) - (x->name.len < y->name.len);
}

/* Labels sorted by name without empty values, then samples as bits@ms. */
static void render(struct dw_buf *b, const struct dw_expo_label *labels, size_t n,
                   const struct dw_expo_rw_sample *samples, size_t ns)
{
    struct dw_expo_label *tmp = dw_calloc(n ? n : 1, sizeof *tmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (labels[i].value.len)
            tmp[k++] = labels[i];
    qsort(tmp, k, sizeof *tmp, label_cmp);
    for (size_t i = 0; i < k; i++)
        dw_buf_printf(b, "%.*s=%.*s,", (int)tmp[i].name.len, tmp[i].name.ptr, (int)tmp[i].value.len,
                      tmp[i].value.ptr);
    for (size_t i = 0; i < ns; i++)
        dw_buf_printf(b, " %016" PRIx64 "@%" PRId64, bits_of(samples[i].value),
                      samples[i].timestamp_ms);
    dw_buf_putc(b, '\n');
    free(tmp);
}

/* ---- a handler that checks the delivery contract and renders what it gets ---- */

struct got {
    struct dw_buf out;
    size_t series, samples;
    size_t last_index;
    size_t stop_at;  /* return 5 from this series on (1-based; 0: never) */
    const char *bad; /* the first broken delivery contract */
};

static void got_init(struct got *g)
{
    memset(g, 0, sizeof *g);
    dw_buf_init(&g->out, 0);
    dw_buf_puts(&g->out, ""); /* data is never NULL */
}

static int on_series(void *ctx, const struct dw_expo_rw_series *s)
{
    struct got *g = ctx;
    g->series++;
    g->samples += s->nsamples;
    if (g->stop_at && g->series >= g->stop_at)
        return 5;
    /* The contract: sorted, unique, non-empty, NUL-terminated, __name__ present. */
    if (s->nsamples == 0 || s->name.len == 0 || s->name.ptr[s->name.len] != '\0')
        g->bad = "no samples, or no NUL-terminated name";
    if (g->series > 1 && s->index <= g->last_index)
        g->bad = "series indexes do not grow";
    g->last_index = s->index;
    bool has_name = false;
    for (size_t i = 0; i < s->nlabels; i++) {
        const struct dw_expo_label *l = &s->labels[i];
        if (l->value.len == 0 || l->name.ptr[l->name.len] || l->value.ptr[l->value.len] ||
            strlen(l->value.ptr) != l->value.len)
            g->bad = "empty or not NUL-terminated label";
        if (i > 0 && label_cmp(&s->labels[i - 1], l) >= 0)
            g->bad = "labels not sorted and unique";
        if (strcmp(l->name.ptr, "__name__") == 0)
            has_name = l->value.ptr == s->name.ptr;
    }
    if (!has_name)
        g->bad = "__name__ missing or not s->name";
    render(&g->out, s->labels, s->nlabels, s->samples, s->nsamples);
    return 0;
}

/* What was delivered, or why the delivery broke the contract. */
static const char *text(struct got *g)
{
    if (g->bad)
        return g->bad;
    return g->out.data ? g->out.data : "";
}

/* Decodes a snappy body with a fresh collector; returns the rc. */
static int decode(const struct dw_expo_rw_opts *o, const struct dw_buf *body, struct got *g,
                  struct dw_expo_rw_stats *st, struct dw_expo_rw_error *e)
{
    struct dw_expo_rw_handler h = {on_series, g};
    return dw_expo_rw_decode(NULL, o, body->data, body->len, &h, st, e);
}

static int decode_raw(const struct dw_expo_rw_opts *o, const struct dw_buf *pb, struct got *g,
                      struct dw_expo_rw_stats *st, struct dw_expo_rw_error *e)
{
    struct dw_expo_rw_handler h = {on_series, g};
    return dw_expo_rw_decode_raw(NULL, o, pb->data, pb->len, &h, st, e);
}

/* ---- a tiny protobuf writer for hand-built requests ---- */

static void pb_varint(struct dw_buf *b, uint64_t v)
{
    while (v >= 0x80) {
        dw_buf_putc(b, (char)(v | 0x80));
        v >>= 7;
    }
    dw_buf_putc(b, (char)v);
}

static void pb_tag(struct dw_buf *b, uint32_t field, unsigned wt)
{
    pb_varint(b, (uint64_t)field << 3 | wt);
}

static void pb_bytes(struct dw_buf *b, uint32_t field, const void *data, size_t n)
{
    pb_tag(b, field, 2);
    pb_varint(b, n);
    dw_buf_append(b, data, n);
}

static void pb_str(struct dw_buf *b, uint32_t field, const char *s)
{
    pb_bytes(b, field, s, strlen(s));
}

/* Embeds inner as field and empties it for the next message. */
static void pb_sub(struct dw_buf *b, uint32_t field, struct dw_buf *inner)
{
    pb_bytes(b, field, inner->data ? inner->data : "", inner->len);
    dw_buf_clear(inner);
}

static void pb_fixed64(struct dw_buf *b, uint32_t field, uint64_t v)
{
    pb_tag(b, field, 1);
    for (int i = 0; i < 8; i++)
        dw_buf_putc(b, (char)(v >> (8 * i)));
}

static void pb_label(struct dw_buf *series, const char *name, const char *value)
{
    struct dw_buf l;
    dw_buf_init(&l, 0);
    pb_str(&l, 1, name);
    pb_str(&l, 2, value);
    pb_sub(series, 1, &l);
    dw_buf_release(&l);
}

static void pb_sample(struct dw_buf *series, double v, int64_t ts)
{
    struct dw_buf s;
    dw_buf_init(&s, 0);
    pb_fixed64(&s, 1, bits_of(v));
    pb_tag(&s, 2, 0);
    pb_varint(&s, (uint64_t)ts);
    pb_sub(series, 2, &s);
    dw_buf_release(&s);
}

/* A request of one series {__name__="up", job="a"} with sample (1, 1000), plus extra. */
static void pb_simple_series(struct dw_buf *req)
{
    struct dw_buf ts;
    dw_buf_init(&ts, 0);
    pb_label(&ts, "__name__", "up");
    pb_label(&ts, "job", "a");
    pb_sample(&ts, 1, 1000);
    pb_sub(req, 1, &ts);
    dw_buf_release(&ts);
}

/* Expects the raw request to fail with code and a message containing want. */
static void expect_raw_error(const struct dw_buf *req, const struct dw_expo_rw_opts *o,
                             enum dw_expo_rw_errcode code, const char *want)
{
    struct got g;
    got_init(&g);
    struct dw_expo_rw_error e;
    int rc = decode_raw(o, req, &g, NULL, &e);
    size_t delivered = g.series;
    dw_buf_release(&g.out);
    ASSERT_EQ_INT(rc, -1);
    ASSERT_CONTAINS(e.msg, want);
    ASSERT_EQ_STR(dw_expo_rw_errcode_name(e.code), dw_expo_rw_errcode_name(code));
    ASSERT_EQ_UINT(delivered, 0);
}

/* ---- random round trips ---- */

static char *rnd_name(bool metric)
{
    static const char first[] = "abcxyzABCXYZ_";
    static const char rest[] = "abcxyzABCXYZ_0123456789";
    size_t n = 1 + rnd_below(12);
    char *s = dw_malloc(n + 1);
    s[0] = metric && rnd_below(5) == 0 ? ':' : first[rnd_below(sizeof first - 1)];
    for (size_t i = 1; i < n; i++)
        s[i] = metric && rnd_below(6) == 0 ? ':' : rest[rnd_below(sizeof rest - 1)];
    s[n] = '\0';
    return s;
}

static char *rnd_value(void)
{
    static const char *pieces[] = {"a",  "Z", "0", " ",        "\"",           "\\",
                                   "\n", "=", "{", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"};
    size_t n = rnd_below(4) == 0 ? 0 : rnd_below(20);
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, "");
    for (size_t i = 0; i < n; i++)
        dw_buf_puts(&b, pieces[rnd_below(DW_ARRAY_LEN(pieces))]);
    return dw_buf_steal(&b);
}

static double rnd_double(void)
{
    static const uint64_t special[] = {STALE_BITS,
                                       0x7ff8000000000000ull,
                                       0xfff8000000000001ull,
                                       0x7ff0000000000000ull,
                                       0xfff0000000000000ull,
                                       0x8000000000000000ull,
                                       0,
                                       1 /* denormal */};
    switch (rnd_below(3)) {
    case 0: return from_bits(special[rnd_below(DW_ARRAY_LEN(special))]);
    case 1: return from_bits(rnd()); /* any 64 bits, NaN payloads included */
    default: return (double)(int64_t)rnd_below(1000000) / 8.0;
    }
}

static int64_t rnd_ts(void)
{
    static const int64_t special[] = {0, -1, 1, INT64_MIN, INT64_MAX, 1700000000000};
    return rnd_below(4) == 0 ? special[rnd_below(DW_ARRAY_LEN(special))] : (int64_t)rnd();
}

struct rnd_series {
    struct dw_expo_label labels[12];
    struct dw_expo_rw_sample samples[6];
    char *strings[24];
    size_t nstrings;
};

static bool name_taken(const struct dw_expo_rw_series *s, const char *name)
{
    for (size_t i = 0; i < s->nlabels; i++)
        if (s->labels[i].name.len == strlen(name) &&
            !memcmp(s->labels[i].name.ptr, name, strlen(name)))
            return true;
    return false;
}

static void rnd_fill(struct rnd_series *r, struct dw_expo_rw_series *s)
{
    memset(r, 0, sizeof *r);
    memset(s, 0, sizeof *s);
    s->labels = r->labels;
    s->samples = r->samples;
    size_t n = 1 + rnd_below(DW_ARRAY_LEN(r->labels) - 1);
    char *metric = rnd_name(true);
    r->strings[r->nstrings++] = metric;
    r->labels[0] = (struct dw_expo_label){{"__name__", 8}, {metric, strlen(metric)}};
    s->nlabels = 1;
    while (s->nlabels < n) {
        char *name = rnd_name(false), *value = rnd_value();
        if (name_taken(s, name)) {
            free(name);
            free(value);
            continue;
        }
        r->strings[r->nstrings++] = name;
        r->strings[r->nstrings++] = value;
        r->labels[s->nlabels++] =
            (struct dw_expo_label){{name, strlen(name)}, {value, strlen(value)}};
    }
    /* Senders sort, but the decoder must cope: swap two labels now and then. */
    if (n > 2 && rnd_below(3) == 0) {
        struct dw_expo_label t = r->labels[0];
        r->labels[0] = r->labels[n - 1];
        r->labels[n - 1] = t;
    } else {
        qsort(r->labels, n, sizeof r->labels[0], label_cmp);
    }
    s->nsamples = rnd_below(DW_ARRAY_LEN(r->samples) + 1);
    for (size_t i = 0; i < s->nsamples; i++)
        r->samples[i] = (struct dw_expo_rw_sample){rnd_double(), rnd_ts()};
}

TEST(roundtrip_random)
{
    enum { ROUNDS = 40, MAX_SERIES = 60 };
    struct dw_expo_rw_decoder *d = dw_expo_rw_decoder_new();
    for (int round = 0; round < ROUNDS; round++) {
        size_t n = rnd_below(MAX_SERIES + 1), samples = 0, empty = 0;
        struct rnd_series *rs = dw_calloc(n ? n : 1, sizeof *rs);
        struct dw_expo_rw_series *series = dw_calloc(n ? n : 1, sizeof *series);
        struct dw_buf want, body;
        dw_buf_init(&want, 0);
        dw_buf_init(&body, 0);
        dw_buf_puts(&want, "");
        for (size_t i = 0; i < n; i++) {
            rnd_fill(&rs[i], &series[i]);
            samples += series[i].nsamples;
            empty += series[i].nsamples == 0;
            if (series[i].nsamples)
                render(&want, series[i].labels, series[i].nlabels, series[i].samples,
                       series[i].nsamples);
        }
        ASSERT_EQ_INT(dw_expo_rw_encode(series, n, &body), 0);
        struct got g;
        got_init(&g);
        struct dw_expo_rw_handler h = {on_series, &g};
        struct dw_expo_rw_stats st;
        struct dw_expo_rw_error e;
        int rc = dw_expo_rw_decode(d, NULL, body.data, body.len, &h, &st, &e);
        if (rc != 0)
            fprintf(stderr, "  round %d: %s\n", round, e.msg);
        ASSERT_EQ_INT(rc, 0);
        ASSERT_EQ_STR(text(&g), want.data);
        ASSERT_EQ_UINT(st.series, n);
        ASSERT_EQ_UINT(st.samples, samples);
        ASSERT_EQ_UINT(st.empty_series, empty);
        ASSERT_EQ_UINT(g.series, n - empty);
        /* A single pass delivers the same. */
        struct got g1;
        got_init(&g1);
        struct dw_expo_rw_handler h1 = {on_series, &g1};
        struct dw_expo_rw_opts o1 = {.single_pass = true};
        ASSERT_EQ_INT(dw_expo_rw_decode(d, &o1, body.data, body.len, &h1, NULL, &e), 0);
        ASSERT_EQ_STR(text(&g1), want.data);
        dw_buf_release(&g1.out);
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < rs[i].nstrings; k++)
                free(rs[i].strings[k]);
        free(rs);
        free(series);
        dw_buf_release(&g.out);
        dw_buf_release(&want);
        dw_buf_release(&body);
    }
    dw_expo_rw_decoder_free(&d);
    ASSERT_NULL(d);
    dw_expo_rw_decoder_free(&d); /* no-op */
    dw_expo_rw_decoder_free(NULL);
}

TEST(encode_matches_protobuf_bytes)
{
    /* {__name__="up"} 1 @ 1000, encoded by hand from the .proto field numbers. */
    struct dw_expo_label l = {{"__name__", 8}, {"up", 2}};
    struct dw_expo_rw_sample s = {1.0, 1000};
    struct dw_expo_rw_series ser = {.labels = &l, .nlabels = 1, .samples = &s, .nsamples = 1};
    struct dw_buf raw;
    dw_buf_init(&raw, 0);
    ASSERT_EQ_INT(dw_expo_rw_encode_raw(&ser, 1, &raw), 0);
    static const unsigned char want[] = {0x0A, 0x1E, /* timeseries, 30 bytes */
                                         0x0A, 0x0E, 0x0A, 0x08, '_',  '_',  'n', 'a',
                                         'm',  'e',  '_',  '_',  0x12, 0x02, 'u', 'p',
                                         0x12, 0x0C, 0x09, 0,    0,    0,    0,   0,
                                         0,    0xF0, 0x3F, 0x10, 0xE8, 0x07}; /* 1.0, 1000 */
    ASSERT_EQ_UINT(raw.len, sizeof want);
    ASSERT_TRUE(memcmp(raw.data, want, sizeof want) == 0);

    /* Zero fields are left out, -0.0 is not; a negative timestamp takes ten bytes. */
    struct dw_expo_rw_sample z[] = {{0.0, 0}, {-0.0, -1}};
    ser.samples = z;
    ser.nsamples = 2;
    dw_buf_clear(&raw);
    ASSERT_EQ_INT(dw_expo_rw_encode_raw(&ser, 1, &raw), 0);
    /* 2 + 16 label + (2 + 0) + (2 + 9 + 11) */
    ASSERT_EQ_UINT(raw.len, 2 + 16 + 2 + 22);

    /* The snappy form decompresses to the same bytes. */
    struct dw_buf body;
    dw_buf_init(&body, 0);
    ASSERT_EQ_INT(dw_expo_rw_encode(&ser, 1, &body), 0);
    size_t n = 0;
    ASSERT_EQ_INT(snappy_uncompressed_length(body.data, body.len, &n), SNAPPY_OK);
    ASSERT_EQ_UINT(n, raw.len);
    char *plain = dw_malloc(n);
    ASSERT_EQ_INT(snappy_uncompress(body.data, body.len, plain, &n), SNAPPY_OK);
    ASSERT_TRUE(memcmp(plain, raw.data, n) == 0);
    free(plain);
    dw_buf_release(&raw);
    dw_buf_release(&body);
}

TEST(encode_respects_buffer_max)
{
    struct dw_expo_label l = {{"__name__", 8}, {"some_metric_name", 16}};
    struct dw_expo_rw_sample s = {1.5, 1};
    struct dw_expo_rw_series ser = {.labels = &l, .nlabels = 1, .samples = &s, .nsamples = 1};
    struct dw_buf small;
    dw_buf_init(&small, 10);
    ASSERT_EQ_INT(dw_expo_rw_encode(&ser, 1, &small), -1);
    ASSERT_EQ_INT(dw_expo_rw_encode_raw(&ser, 1, &small), -1);
    ASSERT_EQ_UINT(small.len, 0);
    dw_buf_release(&small);
}

/* ---- hand-built requests ---- */

TEST(empty_request)
{
    /* The one-byte snappy block "00" is the empty WriteRequest (ingest probes with it). */
    struct dw_buf body;
    dw_buf_init(&body, 0);
    dw_buf_append(&body, "\0", 1);
    struct got g;
    got_init(&g);
    struct dw_expo_rw_stats st;
    struct dw_expo_rw_error e;
    ASSERT_EQ_INT(decode(NULL, &body, &g, &st, &e), 0);
    ASSERT_EQ_UINT(st.series, 0);
    ASSERT_EQ_UINT(g.series, 0);
    ASSERT_EQ_INT(e.code, DW_EXPO_RW_OK);
    /* The encoder writes the same. */
    dw_buf_clear(&body);
    ASSERT_EQ_INT(dw_expo_rw_encode(NULL, 0, &body), 0);
    ASSERT_EQ_UINT(body.len, 1);
    ASSERT_EQ_INT(body.data[0], 0);
    dw_buf_release(&body);
    dw_buf_release(&g.out);
}

TEST(unknown_fields_are_skipped)
{
    struct dw_buf req, ts, sub;
    dw_buf_init(&req, 0);
    dw_buf_init(&ts, 0);
    dw_buf_init(&sub, 0);
    /* Every skippable wire type at every level, with big field numbers too. */
    pb_tag(&req, 2, 0), pb_varint(&req, 12345);          /* WriteRequest: Cortex' source */
    pb_tag(&req, 99, 5), dw_buf_append(&req, "abcd", 4); /* fixed32 */
    pb_fixed64(&req, 536870911, 7);                      /* the largest field number */
    pb_str(&req, 15, "ignored");
    pb_tag(&ts, 1000, 0), pb_varint(&ts, UINT64_MAX); /* ten-byte varint */
    pb_str(&sub, 1, "__name__");
    pb_tag(&sub, 7, 5), dw_buf_append(&sub, "wxyz", 4);
    pb_str(&sub, 2, "m");
    pb_fixed64(&sub, 3, 1);
    pb_sub(&ts, 1, &sub);
    pb_fixed64(&sub, 1, bits_of(2.5));
    pb_tag(&sub, 9, 0), pb_varint(&sub, 1);
    pb_str(&sub, 10, "x");
    pb_tag(&sub, 2, 0), pb_varint(&sub, 77);
    pb_sub(&ts, 2, &sub);
    pb_tag(&ts, 5, 1), dw_buf_append(&ts, "12345678", 8); /* TimeSeries field 5 */
    pb_sub(&req, 1, &ts);
    struct got g;
    got_init(&g);
    struct dw_expo_rw_error e;
    ASSERT_EQ_INT(decode_raw(NULL, &req, &g, NULL, &e), 0);
    char want[128];
    snprintf(want, sizeof want, "__name__=m, %016" PRIx64 "@77\n", bits_of(2.5));
    ASSERT_EQ_STR(text(&g), want);
    dw_buf_release(&req);
    dw_buf_release(&ts);
    dw_buf_release(&sub);
    dw_buf_release(&g.out);
}

TEST(fields_in_any_order)
{
    struct dw_buf req, ts, sub;
    dw_buf_init(&req, 0);
    dw_buf_init(&ts, 0);
    dw_buf_init(&sub, 0);
    /* Series 1: a sample first, labels interleaved with samples, value before name,
     * timestamp before value, a repeated scalar (the last one wins). */
    pb_sample(&ts, 1, 10);
    pb_str(&sub, 2, "b"), pb_str(&sub, 1, "zone");
    pb_sub(&ts, 1, &sub);
    pb_tag(&sub, 2, 0), pb_varint(&sub, 20), pb_fixed64(&sub, 1, bits_of(2));
    pb_sub(&ts, 2, &sub);
    pb_str(&sub, 1, "wrong"), pb_str(&sub, 2, "m"), pb_str(&sub, 1, "__name__");
    pb_sub(&ts, 1, &sub);
    pb_fixed64(&sub, 1, bits_of(8)), pb_fixed64(&sub, 1, bits_of(3));
    pb_tag(&sub, 2, 0), pb_varint(&sub, 1), pb_tag(&sub, 2, 0), pb_varint(&sub, 30);
    pb_sub(&ts, 2, &sub);
    pb_label(&ts, "a", "x");
    pb_sub(&req, 1, &ts);
    /* Metadata between series is skipped. */
    pb_str(&req, 3, "\x08\x01");
    /* Series 2: its labels come last, so its last string ends where series 3 starts. */
    pb_sample(&ts, 4, 40);
    pb_label(&ts, "__name__", "n");
    pb_label(&ts, "k", "v");
    pb_sub(&req, 1, &ts);
    pb_simple_series(&req);
    struct got g;
    got_init(&g);
    struct dw_expo_rw_stats st;
    struct dw_expo_rw_error e;
    int rc = decode_raw(NULL, &req, &g, &st, &e);
    if (rc)
        fprintf(stderr, "  %s\n", e.msg);
    ASSERT_EQ_INT(rc, 0);
    char want[512];
    snprintf(want, sizeof want,
             "__name__=m,a=x,zone=b, %016" PRIx64 "@10 %016" PRIx64 "@20 %016" PRIx64 "@30\n"
             "__name__=n,k=v, %016" PRIx64 "@40\n"
             "__name__=up,job=a, %016" PRIx64 "@1000\n",
             bits_of(1), bits_of(2), bits_of(3), bits_of(4), bits_of(1));
    ASSERT_EQ_STR(text(&g), want);
    ASSERT_EQ_UINT(st.metadata, 1);
    ASSERT_EQ_UINT(st.series, 3);
    ASSERT_EQ_UINT(st.samples, 5);
    dw_buf_release(&req);
    dw_buf_release(&ts);
    dw_buf_release(&sub);
    dw_buf_release(&g.out);
}

TEST(exemplars_histograms_metadata_skipped)
{
    struct dw_buf req, ts, sub;
    dw_buf_init(&req, 0);
    dw_buf_init(&ts, 0);
    dw_buf_init(&sub, 0);
    /* An exemplar {labels, value, timestamp} and a histogram, both with content. */
    pb_label(&sub, "trace_id", "abc");
    pb_fixed64(&sub, 2, bits_of(0.5));
    pb_tag(&sub, 3, 0), pb_varint(&sub, 5);
    pb_label(&ts, "__name__", "rpc_seconds");
    pb_sub(&ts, 3, &sub);
    pb_sample(&ts, 7, 100);
    pb_tag(&sub, 1, 0), pb_varint(&sub, 3); /* Histogram.count_int */
    pb_fixed64(&sub, 3, bits_of(1.25));     /* Histogram.sum */
    pb_sub(&ts, 4, &sub);
    pb_sub(&ts, 4, &sub); /* an empty one */
    pb_sub(&req, 1, &ts);
    /* A histogram-only series: validated, not delivered. */
    pb_label(&ts, "__name__", "native_only");
    pb_sub(&ts, 4, &sub);
    pb_sub(&req, 1, &ts);
    pb_str(&sub, 2, "rpc_seconds"); /* MetricMetadata.metric_family_name */
    pb_sub(&req, 3, &sub);
    struct got g;
    got_init(&g);
    struct dw_expo_rw_stats st;
    struct dw_expo_rw_error e;
    ASSERT_EQ_INT(decode_raw(NULL, &req, &g, &st, &e), 0);
    ASSERT_EQ_UINT(g.series, 1);
    ASSERT_EQ_UINT(st.series, 2);
    ASSERT_EQ_UINT(st.samples, 1);
    ASSERT_EQ_UINT(st.exemplars, 1);
    ASSERT_EQ_UINT(st.histograms, 3);
    ASSERT_EQ_UINT(st.metadata, 1);
    ASSERT_EQ_UINT(st.empty_series, 1);
    ASSERT_EQ_UINT(st.decoded_len, req.len);
    ASSERT_CONTAINS(text(&g), "__name__=rpc_seconds,");
    dw_buf_release(&req);
    dw_buf_release(&ts);
    dw_buf_release(&sub);
    dw_buf_release(&g.out);
}

TEST(zero_samples_and_missing_fields)
{
    struct dw_buf req, ts, sub;
    dw_buf_init(&req, 0);
    dw_buf_init(&ts, 0);
    dw_buf_init(&sub, 0);
    pb_label(&ts, "__name__", "no_samples");
    pb_sub(&req, 1, &ts);
    /* An empty Sample message is value 0 at time 0; an empty label value is absent. */
    pb_label(&ts, "__name__", "defaults");
    pb_label(&ts, "gone", "");
    pb_str(&sub, 1, "alsogone");
    pb_sub(&ts, 1, &sub);
    pb_sub(&ts, 2, &sub);
    pb_sub(&req, 1, &ts);
    struct got g;
    got_init(&g);
    struct dw_expo_rw_stats st;
    struct dw_expo_rw_error e;
    ASSERT_EQ_INT(decode_raw(NULL, &req, &g, &st, &e), 0);
    ASSERT_EQ_STR(text(&g), "__name__=defaults, 0000000000000000@0\n");
    ASSERT_EQ_UINT(st.empty_series, 1);
    ASSERT_EQ_UINT(g.series, 1);
    ASSERT_EQ_UINT(g.last_index, 1); /* index counts the empty series too */
    dw_buf_release(&req);
    dw_buf_release(&ts);
    dw_buf_release(&sub);
    dw_buf_release(&g.out);
}

TEST(negative_timestamps_and_nan_bits_exact)
{
    static const uint64_t vals[] = {STALE_BITS, 0x7ff8000000000001ull, 0xfff0000000000001ull,
                                    0x8000000000000000ull, 0x0000000000000001ull};
    static const int64_t tss[] = {-1, INT64_MIN, -1700000000000, INT64_MAX, 0};
    struct dw_buf req, ts;
    dw_buf_init(&req, 0);
    dw_buf_init(&ts, 0);
    pb_label(&ts, "__name__", "m");
    for (size_t i = 0; i < DW_ARRAY_LEN(vals); i++)
        pb_sample(&ts, from_bits(vals[i]), tss[i]);
    pb_sub(&req, 1, &ts);
    struct got g;
    got_init(&g);
    struct dw_expo_rw_error e;
    ASSERT_EQ_INT(decode_raw(NULL, &req, &g, NULL, &e), 0);
    ASSERT_EQ_STR(text(&g), "__name__=m, 7ff0000000000002@-1 7ff8000000000001@-9223372036854775808"
                            " fff0000000000001@-1700000000000 8000000000000000@9223372036854775807"
                            " 0000000000000001@0\n");
    dw_buf_release(&req);
    dw_buf_release(&ts);
    dw_buf_release(&g.out);
}

/* ---- malformed protobuf ---- */

TEST(malformed_protobuf)
{
    struct dw_buf req;
    dw_buf_init(&req, 0);

    dw_buf_append(&req, "\x0a", 1); /* a tag with no length */
    expect_raw_error(&req, NULL, DW_EXPO_RW_EPROTO,
                     "offset 1: truncated varint in WriteRequest.timeseries");
    dw_buf_clear(&req);
    dw_buf_append(&req, "\x8a", 1); /* a tag cut inside its varint */
    expect_raw_error(&req, NULL, DW_EXPO_RW_EPROTO, "offset 0: truncated varint in WriteRequest");
    dw_buf_clear(&req);
    dw_buf_append(&req, "\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12);
    expect_raw_error(&req, NULL, DW_EXPO_RW_EPROTO,
                     "offset 1: varint in WriteRequest.timeseries is longer than 10 bytes");
    dw_buf_clear(&req);
    dw_buf_append(&req, "\x0a\x05\x0a\x01", 4);
    expect_raw_error(&req, NULL, DW_EXPO_RW_EPROTO,
                     "offset 1: length 5 of WriteRequest.timeseries runs past the end of its "
                     "message (2 bytes left)");
    dw_buf_clear(&req);
    dw_buf_append(&req, "\x0a\x02\x0a\x05", 4); /* a label longer than its series */
    expect_raw_error(&req, NULL, DW_EXPO_RW_EPROTO,
                     "series 1 (offset 3): length 5 of TimeSeries.labels runs past the end");
    dw_buf_clear(&req);
    dw_buf_append(&req, "\x08\x01", 2); /* timeseries as a varint */
    expect_raw_error(&req, NULL, DW_EXPO_RW_EPROTO,
                     "offset 0: WriteRequest.timeseries has wire type 0, expected 2");
    dw_buf_clear(&req);
    dw_buf_append(&req, "\x0a\x02\x10\x01", 4); /* TimeSeries.samples as a varint */
    expect_raw_error(&req, NULL, DW_EXPO_RW_EPROTO,
                     "series 1 (offset 2): TimeSeries.samples has wire type 0, expected 2");
    dw_buf_clear(&req);
    dw_buf_append(&req, "\x0a\x04\x0a\x02\x08\x01", 6); /* Label.name as a varint */
    expect_raw_error(&req, NULL, DW_EXPO_RW_EPROTO, "Label.name has wire type 0, expected 2");
    dw_buf_clear(&req);
    dw_buf_append(&req, "\x0a\x04\x12\x02\x08\x01", 6); /* Sample.value as a varint */
    expect_raw_error(&req, NULL, DW_EXPO_RW_EPROTO, "Sample.value has wire type 0, expected 1");
    dw_buf_clear(&req);
    dw_buf_append(&req, "\x0a\x04\x12\x02\x15\x01", 6); /* Sample.timestamp as fixed32 */
    expect_raw_error(&req, NULL, DW_EXPO_RW_EPROTO, "Sample.timestamp has wire type 5, expected 0");
    dw_buf_clear(&req);
    dw_buf_append(&req, "\x0a\x05\x12\x03\x09\x01\x02", 7); /* a double cut short */
    expect_raw_error(&req, NULL, DW_EXPO_RW_EPROTO, "truncated Sample.value");
    dw_buf_clear(&req);
    dw_buf_append(&req, "\x0a\x03\x12\x01\x10", 5); /* timestamp without its varint */
    expect_raw_error(&req, NULL, DW_EXPO_RW_EPROTO, "truncated varint in Sample.timestamp");
    dw_buf_clear(&req);
    dw_buf_append(&req, "\x23\x24", 2); /* start group 4 */
    expect_raw_error(&req, NULL, DW_EXPO_RW_EPROTO,
                     "offset 0: field 4 of WriteRequest is a group (wire type 3), which is not "
                     "supported");
    dw_buf_clear(&req);
    dw_buf_append(&req, "\x1b\x1c", 2); /* metadata as a group */
    expect_raw_error(&req, NULL, DW_EXPO_RW_EPROTO,
                     "offset 0: WriteRequest.metadata has wire type 3, expected 2");
    dw_buf_clear(&req);
    dw_buf_append(&req, "\x0a\x01\x2c", 3); /* end group in a TimeSeries */
    expect_raw_error(&req, NULL, DW_EXPO_RW_EPROTO,
                     "field 5 of TimeSeries is a group (wire type 4)");
    dw_buf_clear(&req);
    dw_buf_append(&req, "\x2e", 1); /* wire type 6 */
    expect_raw_error(&req, NULL, DW_EXPO_RW_EPROTO,
                     "field 5 of WriteRequest has invalid wire type 6");
    dw_buf_clear(&req);
    dw_buf_append(&req, "\x3f", 1); /* wire type 7 */
    expect_raw_error(&req, NULL, DW_EXPO_RW_EPROTO, "invalid wire type 7");
    dw_buf_clear(&req);
    dw_buf_append(&req, "\x02\x00", 2); /* field 0 */
    expect_raw_error(&req, NULL, DW_EXPO_RW_EPROTO,
                     "offset 0: invalid field number 0 in WriteRequest");
    dw_buf_clear(&req);
    dw_buf_append(&req, "\x80\x80\x80\x80\x10", 5); /* field number 2^29, one too many */
    expect_raw_error(&req, NULL, DW_EXPO_RW_EPROTO, "invalid field number 536870912");
    dw_buf_clear(&req);
    dw_buf_append(&req, "\x2d\x01\x02", 3); /* fixed32 cut short */
    expect_raw_error(&req, NULL, DW_EXPO_RW_EPROTO, "truncated 4-byte field 5 in WriteRequest");
    dw_buf_clear(&req);
    /* A value length whose first varint byte alone would make the Label add up. */
    struct dw_buf ts, l;
    dw_buf_init(&ts, 0);
    dw_buf_init(&l, 0);
    dw_buf_append(&l,
                  "\x0a\x01"
                  "a"
                  "\x12\x85",
                  5);
    for (int i = 0; i < 0x85; i++)
        dw_buf_putc(&l, 'x');
    pb_sub(&ts, 1, &l);
    dw_buf_clear(&req);
    pb_sub(&req, 1, &ts);
    expect_raw_error(&req, NULL, DW_EXPO_RW_EPROTO,
                     "length 15365 of Label.value runs past the end of its message");
    dw_buf_release(&ts);
    dw_buf_release(&l);
    dw_buf_clear(&req);
    dw_buf_append(&req, "\x31\x01", 2); /* fixed64 cut short */
    expect_raw_error(&req, NULL, DW_EXPO_RW_EPROTO, "truncated 8-byte field 6 in WriteRequest");
    dw_buf_release(&req);
}

/* A valid series first: a broken request must deliver nothing, not even that. */
static void broken_after_good(struct dw_buf *req)
{
    dw_buf_clear(req);
    pb_simple_series(req);
}

TEST(malformed_after_good_series_delivers_nothing)
{
    struct dw_buf req;
    dw_buf_init(&req, 0);
    broken_after_good(&req);
    dw_buf_append(&req, "\x0a\x09", 2);
    size_t at = req.len - 2;
    struct got g;
    got_init(&g);
    struct dw_expo_rw_error e;
    ASSERT_EQ_INT(decode_raw(NULL, &req, &g, NULL, &e), -1);
    ASSERT_EQ_UINT(g.series, 0);
    ASSERT_EQ_UINT(e.offset, at + 1);
    ASSERT_EQ_INT(e.code, DW_EXPO_RW_EPROTO);
    dw_buf_release(&req);
    dw_buf_release(&g.out);
}

TEST(single_pass_delivers_until_the_error)
{
    struct dw_buf req, ts;
    dw_buf_init(&req, 0);
    dw_buf_init(&ts, 0);
    pb_simple_series(&req);
    pb_simple_series(&req);
    pb_label(&ts, "__name__", "m");
    pb_label(&ts, "bad-name", "x");
    pb_sample(&ts, 1, 1);
    pb_sub(&req, 1, &ts);
    pb_simple_series(&req);
    struct dw_expo_rw_opts o;
    dw_expo_rw_opts_init(&o);
    ASSERT_FALSE(o.single_pass);
    struct got two, one;
    got_init(&two);
    got_init(&one);
    struct dw_expo_rw_error e2, e1;
    ASSERT_EQ_INT(decode_raw(&o, &req, &two, NULL, &e2), -1);
    o.single_pass = true;
    ASSERT_EQ_INT(decode_raw(&o, &req, &one, NULL, &e1), -1);
    /* The same error; the caller of a single pass saw the two good series first. */
    ASSERT_EQ_STR(e1.msg, e2.msg);
    ASSERT_CONTAINS(e1.msg, "series 3 (offset 101): invalid label name \"bad-name\"");
    ASSERT_EQ_UINT(two.series, 0);
    ASSERT_EQ_UINT(one.series, 2);
    dw_buf_release(&req);
    dw_buf_release(&ts);
    dw_buf_release(&two.out);
    dw_buf_release(&one.out);
}

/* ---- the series cache ---- */

/* A caller of the cache: remembers 1000 + index, answers STALE for refs in stale_from.. */
struct cached {
    struct dw_expo_rw_decoder *d;
    size_t by_ref, by_labels;
    uint64_t refs[16];      /* ref each delivered series came with (0: by labels) */
    uint64_t stale_from;    /* refs >= this are stale (0: none) */
    int64_t ts[16];         /* first sample's timestamp */
    char names[16][32];     /* value of job, by labels */
    bool remember;
};

static int on_cached(void *ctx, const struct dw_expo_rw_series *s)
{
    struct cached *c = ctx;
    if (s->ref && c->stale_from && s->ref >= c->stale_from)
        return DW_EXPO_RW_STALE;
    size_t i = s->index < 16 ? s->index : 15; /* series 15 and later share the last slot */
    if (s->index <= 15) {
        c->refs[i] = s->ref;
        c->ts[i] = s->samples[0].timestamp_ms;
    }
    if (s->ref) {
        c->by_ref++;
        if (s->labels || s->nlabels)
            return 7;
        return 0;
    }
    c->by_labels++;
    for (size_t k = 0; k < s->nlabels && s->index <= 15; k++)
        if (strcmp(s->labels[k].name.ptr, "job") == 0)
            snprintf(c->names[i], sizeof c->names[i], "%s", s->labels[k].value.ptr);
    if (c->remember)
        dw_expo_rw_remember(c->d, 1000 + s->index + (c->stale_from ? 100 : 0));
    return 0;
}

/* A request of n series {__name__="m", job=<job>i} with one sample at ts. */
static void cache_req(struct dw_buf *req, const char *job, size_t n, int64_t ts)
{
    struct dw_buf ser;
    dw_buf_init(&ser, 0);
    dw_buf_clear(req);
    for (size_t i = 0; i < n; i++) {
        char v[32];
        snprintf(v, sizeof v, "%s%zu", job, i);
        pb_label(&ser, "__name__", "m");
        pb_label(&ser, "job", v);
        pb_sample(&ser, (double)i, ts);
        pb_sub(req, 1, &ser);
    }
    dw_buf_release(&ser);
}

static int cache_decode(struct cached *c, const struct dw_expo_rw_opts *o, const struct dw_buf *req,
                        struct dw_expo_rw_error *e)
{
    c->by_ref = c->by_labels = 0;
    memset(c->refs, 0, sizeof c->refs);
    memset(c->names, 0, sizeof c->names);
    struct dw_expo_rw_handler h = {on_cached, c};
    return dw_expo_rw_decode_raw(c->d, o, req->data, req->len, &h, NULL, e);
}

TEST(series_cache_hit_and_miss)
{
    struct cached c = {.d = dw_expo_rw_decoder_new(), .remember = true};
    dw_expo_rw_decoder_cache(c.d, 1 << 20);
    struct dw_expo_rw_opts o = {.single_pass = true};
    struct dw_expo_rw_error e;
    struct dw_buf req;
    dw_buf_init(&req, 0);
    cache_req(&req, "a", 3, 1000);
    ASSERT_EQ_INT(cache_decode(&c, &o, &req, &e), 0);
    ASSERT_EQ_UINT(c.by_labels, 3); /* miss: decoded, remembered */
    ASSERT_EQ_STR(c.names[2], "a2");
    cache_req(&req, "a", 3, 2000);
    ASSERT_EQ_INT(cache_decode(&c, &o, &req, &e), 0);
    ASSERT_EQ_UINT(c.by_ref, 3); /* hit: the same bytes come by ref, samples still read */
    ASSERT_EQ_UINT(c.refs[0], 1000);
    ASSERT_EQ_UINT(c.refs[2], 1002);
    ASSERT_EQ_INT(c.ts[2], 2000);
    /* Same length, one byte different: confirmed by the bytes, so a miss. */
    cache_req(&req, "b", 3, 3000);
    ASSERT_EQ_INT(cache_decode(&c, &o, &req, &e), 0);
    ASSERT_EQ_UINT(c.by_ref, 0);
    ASSERT_EQ_STR(c.names[1], "b1");
    /* Two passes never use it. */
    o.single_pass = false;
    ASSERT_EQ_INT(cache_decode(&c, &o, &req, &e), 0);
    ASSERT_EQ_UINT(c.by_labels, 3);
    o.single_pass = true;
    /* Other label limits empty it: the entries passed the old ones. */
    o.max_label_value_len = 100;
    ASSERT_EQ_INT(cache_decode(&c, &o, &req, &e), 0);
    ASSERT_EQ_UINT(c.by_labels, 3);
    ASSERT_EQ_INT(cache_decode(&c, &o, &req, &e), 0);
    ASSERT_EQ_UINT(c.by_ref, 3);
    /* A hit still counts against max_samples, and the error is the uncached one. */
    o.max_samples = 2;
    ASSERT_EQ_INT(cache_decode(&c, &o, &req, &e), -1);
    ASSERT_EQ_INT(e.code, DW_EXPO_RW_ELIMIT);
    ASSERT_CONTAINS(e.msg, "max_samples=2");
    dw_expo_rw_decoder_free(&c.d);
    dw_buf_release(&req);
}

TEST(series_cache_stale_ref_falls_back_to_labels)
{
    struct cached c = {.d = dw_expo_rw_decoder_new(), .remember = true};
    dw_expo_rw_decoder_cache(c.d, 1 << 20);
    struct dw_expo_rw_opts o = {.single_pass = true};
    struct dw_expo_rw_error e;
    struct dw_buf req;
    dw_buf_init(&req, 0);
    cache_req(&req, "a", 2, 1000);
    ASSERT_EQ_INT(cache_decode(&c, &o, &req, &e), 0);
    c.stale_from = 1001; /* the second series died: its ref is refused */
    ASSERT_EQ_INT(cache_decode(&c, &o, &req, &e), 0);
    ASSERT_EQ_UINT(c.by_ref, 1);
    ASSERT_EQ_UINT(c.by_labels, 1);
    ASSERT_EQ_STR(c.names[1], "a1");
    ASSERT_EQ_INT(c.ts[1], 1000);
    /* ...and its new ref (1101) was remembered in place of the old one. */
    c.stale_from = 5000;
    ASSERT_EQ_INT(cache_decode(&c, &o, &req, &e), 0);
    ASSERT_EQ_UINT(c.by_ref, 2);
    ASSERT_EQ_UINT(c.refs[1], 1101);
    dw_expo_rw_decoder_free(&c.d);
    dw_buf_release(&req);
}

TEST(series_cache_only_whole_label_runs)
{
    struct cached c = {.d = dw_expo_rw_decoder_new(), .remember = true};
    dw_expo_rw_decoder_cache(c.d, 1 << 20);
    struct dw_expo_rw_opts o = {.single_pass = true};
    struct dw_expo_rw_error e;
    struct dw_buf req, ser;
    dw_buf_init(&req, 0);
    dw_buf_init(&ser, 0);
    /* A label after the sample: the opening run is not the whole label set. */
    pb_label(&ser, "__name__", "m");
    pb_sample(&ser, 1, 1000);
    pb_label(&ser, "job", "x");
    pb_sub(&req, 1, &ser);
    ASSERT_EQ_INT(cache_decode(&c, &o, &req, &e), 0);
    ASSERT_EQ_INT(cache_decode(&c, &o, &req, &e), 0);
    ASSERT_EQ_UINT(c.by_labels, 1);
    ASSERT_EQ_STR(c.names[0], "x");
    /* Same opening run, other trailing label: also no hit (nothing was cached for it). */
    dw_buf_clear(&req);
    pb_label(&ser, "__name__", "m");
    pb_sample(&ser, 1, 1000);
    pb_label(&ser, "job", "y");
    pb_sub(&req, 1, &ser);
    ASSERT_EQ_INT(cache_decode(&c, &o, &req, &e), 0);
    ASSERT_EQ_UINT(c.by_labels, 1);
    ASSERT_EQ_STR(c.names[0], "y");
    /* An invalid series is never cached: it fails every time. */
    dw_buf_clear(&req);
    pb_label(&ser, "__name__", "m");
    pb_label(&ser, "bad-name", "x");
    pb_sample(&ser, 1, 1);
    pb_sub(&req, 1, &ser);
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ_INT(cache_decode(&c, &o, &req, &e), -1);
        ASSERT_CONTAINS(e.msg, "invalid label name");
    }
    dw_expo_rw_decoder_free(&c.d);
    dw_buf_release(&req);
    dw_buf_release(&ser);
}

TEST(series_cache_many_series_and_small_limit)
{
    /* 5000 series: the table grows; then a cache too small for them all starts over. */
    for (int round = 0; round < 2; round++) {
        struct dw_expo_rw_decoder *d = dw_expo_rw_decoder_new();
        dw_expo_rw_decoder_cache(d, round == 0 ? (8u << 20) : 4096);
        struct dw_expo_rw_opts o = {.single_pass = true};
        struct dw_expo_rw_error e;
        struct dw_buf req;
        dw_buf_init(&req, 0);
        cache_req(&req, "host", 5000, 1000);
        struct got g1, g2;
        got_init(&g1);
        got_init(&g2);
        struct dw_expo_rw_handler h = {on_series, &g1};
        ASSERT_EQ_INT(dw_expo_rw_decode_raw(d, &o, req.data, req.len, &h, NULL, &e), 0);
        ASSERT_EQ_UINT(g1.series, 5000); /* on_series remembers nothing: all by labels */
        struct cached c = {.d = d, .remember = true};
        ASSERT_EQ_INT(cache_decode(&c, &o, &req, &e), 0);
        ASSERT_EQ_UINT(c.by_labels, 5000);
        ASSERT_EQ_INT(cache_decode(&c, &o, &req, &e), 0);
        if (round == 0) {
            ASSERT_EQ_UINT(c.by_ref, 5000);
            ASSERT_EQ_UINT(c.refs[15], 1015);
        } else {
            ASSERT_TRUE(c.by_ref < 5000);
            ASSERT_EQ_UINT(c.by_ref + c.by_labels, 5000);
        }
        dw_buf_release(&g1.out);
        dw_buf_release(&g2.out);
        dw_buf_release(&req);
        dw_expo_rw_decoder_free(&d);
    }
}

/* ---- snappy ---- */

TEST(bad_snappy)
{
    struct got g;
    got_init(&g);
    struct dw_expo_rw_error e;
    struct dw_buf body;
    dw_buf_init(&body, 0);

    ASSERT_EQ_INT(decode(NULL, &body, &g, NULL, &e), -1); /* empty body */
    ASSERT_EQ_INT(e.code, DW_EXPO_RW_ESNAPPY);
    ASSERT_CONTAINS(e.msg, "body is not snappy-compressed: bad length header (0 bytes)");

    dw_buf_puts(&body, "\xff\xff\xff\xff\xff\xff"); /* a length varint that never ends */
    ASSERT_EQ_INT(decode(NULL, &body, &g, NULL, &e), -1);
    ASSERT_EQ_INT(e.code, DW_EXPO_RW_ESNAPPY);

    /* Plain protobuf sent without compression. */
    dw_buf_clear(&body);
    pb_simple_series(&body);
    ASSERT_EQ_INT(decode(NULL, &body, &g, NULL, &e), -1);
    ASSERT_EQ_INT(e.code, DW_EXPO_RW_ESNAPPY);
    ASSERT_CONTAINS(e.msg, "not a valid snappy block");

    /* A valid block cut short. */
    struct dw_buf raw;
    dw_buf_init(&raw, 0);
    for (int i = 0; i < 20; i++)
        pb_simple_series(&raw);
    dw_buf_clear(&body);
    size_t clen = snappy_max_compressed_length(raw.len);
    char *c = dw_malloc(clen);
    ASSERT_EQ_INT(snappy_compress(raw.data, raw.len, c, &clen), SNAPPY_OK);
    dw_buf_append(&body, c, clen - 3);
    ASSERT_EQ_INT(decode(NULL, &body, &g, NULL, &e), -1);
    ASSERT_EQ_INT(e.code, DW_EXPO_RW_ESNAPPY);
    ASSERT_EQ_UINT(e.offset, 0);
    ASSERT_EQ_UINT(e.series, 0);
    free(c);

    /* The framing format (stream identifier first) is named as such. */
    dw_buf_clear(&body);
    dw_buf_append(&body, "\xff\x06\x00\x00sNaPpY\x01\x05\x00\x00", 14);
    ASSERT_EQ_INT(decode(NULL, &body, &g, NULL, &e), -1);
    ASSERT_EQ_INT(e.code, DW_EXPO_RW_ESNAPPY);
    ASSERT_CONTAINS(e.msg, "snappy framing format");
    ASSERT_EQ_UINT(g.series, 0);
    dw_buf_release(&body);
    dw_buf_release(&raw);
    dw_buf_release(&g.out);
}

TEST(decoded_size_limit_checked_before_allocating)
{
    /* Five bytes announcing 4 GiB - 1: refused from the header alone. */
    struct dw_buf body;
    dw_buf_init(&body, 0);
    dw_buf_append(&body, "\xff\xff\xff\xff\x0f", 5);
    struct got g;
    got_init(&g);
    struct dw_expo_rw_error e;
    ASSERT_EQ_INT(decode(NULL, &body, &g, NULL, &e), -1);
    ASSERT_EQ_INT(e.code, DW_EXPO_RW_ELIMIT);
    ASSERT_CONTAINS(e.msg, "body decompresses to 4294967295 bytes, over the limit "
                           "max_decoded_len=67108864");

    /* At the limit it decodes; one byte less and it does not. */
    dw_buf_clear(&body);
    struct dw_buf raw;
    dw_buf_init(&raw, 0);
    pb_simple_series(&raw);
    struct dw_expo_label l = {{"__name__", 8}, {"up", 2}}, j = {{"job", 3}, {"a", 1}};
    struct dw_expo_label ls[] = {l, j};
    struct dw_expo_rw_sample s = {1, 1000};
    struct dw_expo_rw_series ser = {.labels = ls, .nlabels = 2, .samples = &s, .nsamples = 1};
    ASSERT_EQ_INT(dw_expo_rw_encode(&ser, 1, &body), 0);
    struct dw_expo_rw_opts o;
    dw_expo_rw_opts_init(&o);
    o.max_decoded_len = raw.len;
    ASSERT_EQ_INT(decode(&o, &body, &g, NULL, &e), 0);
    ASSERT_EQ_INT(decode_raw(&o, &raw, &g, NULL, &e), 0);
    ASSERT_EQ_UINT(g.series, 2);
    o.max_decoded_len = raw.len - 1;
    ASSERT_EQ_INT(decode(&o, &body, &g, NULL, &e), -1);
    ASSERT_EQ_INT(e.code, DW_EXPO_RW_ELIMIT);
    ASSERT_EQ_INT(decode_raw(&o, &raw, &g, NULL, &e), -1);
    ASSERT_EQ_INT(e.code, DW_EXPO_RW_ELIMIT);
    ASSERT_CONTAINS(e.msg, "over the limit max_decoded_len=");
    ASSERT_EQ_UINT(g.series, 2);
    dw_buf_release(&body);
    dw_buf_release(&raw);
    dw_buf_release(&g.out);
}

/* ---- label rules ---- */

static void expect_series_error(const char *const *pairs, size_t npairs,
                                enum dw_expo_rw_errcode code, const char *want)
{
    struct dw_buf req, ts;
    dw_buf_init(&req, 0);
    dw_buf_init(&ts, 0);
    pb_simple_series(&req); /* a good series first */
    for (size_t i = 0; i + 1 < npairs; i += 2)
        pb_label(&ts, pairs[i], pairs[i + 1]);
    pb_sample(&ts, 1, 1);
    pb_sub(&req, 1, &ts);
    expect_raw_error(&req, NULL, code, want);
    dw_buf_release(&req);
    dw_buf_release(&ts);
}

#define SERIES_ERROR(code, want, ...)                                                              \
    do {                                                                                           \
        const char *pairs_[] = {__VA_ARGS__};                                                      \
        expect_series_error(pairs_, DW_ARRAY_LEN(pairs_), code, want);                             \
    } while (0)

TEST(label_rules)
{
    SERIES_ERROR(DW_EXPO_RW_EINVALID, "series 2 (offset 59): invalid label name \"1a\"", "__name__",
                 "m", "1a", "x");
    SERIES_ERROR(DW_EXPO_RW_EINVALID, "invalid label name \"a-b\"", "__name__", "m", "a-b", "x");
    SERIES_ERROR(DW_EXPO_RW_EINVALID, "invalid label name \"a:b\"", "__name__", "m", "a:b", "x");
    SERIES_ERROR(DW_EXPO_RW_EINVALID, "empty label name", "__name__", "m", "", "x");
    SERIES_ERROR(DW_EXPO_RW_EINVALID, "invalid metric name \"1m\"", "__name__", "1m");
    SERIES_ERROR(DW_EXPO_RW_EINVALID, "invalid metric name \"a.b\"", "__name__", "a.b");
    SERIES_ERROR(DW_EXPO_RW_EINVALID, "series 2 (offset 44): series has no __name__ label", "job",
                 "x");
    SERIES_ERROR(DW_EXPO_RW_EINVALID, "series has no __name__ label", "__name__", "", "job", "x");
    SERIES_ERROR(DW_EXPO_RW_EINVALID, "duplicate label name \"job\"", "__name__", "m", "job", "x",
                 "job", "y");
    SERIES_ERROR(DW_EXPO_RW_EINVALID, "duplicate label name \"job\"", "job", "x", "__name__", "m",
                 "a", "1", "job", "y");
    SERIES_ERROR(DW_EXPO_RW_EINVALID, "duplicate label name \"__name__\"", "__name__", "m", "a",
                 "1", "__name__", "n");
    SERIES_ERROR(DW_EXPO_RW_EINVALID, "duplicate label name \"job\"", "__name__", "m", "job", "",
                 "job", "y");
    SERIES_ERROR(DW_EXPO_RW_EINVALID, "value of label \"job\" is not valid UTF-8", "__name__", "m",
                 "job", "caf\xC3");
    SERIES_ERROR(DW_EXPO_RW_EINVALID, "value of label \"job\" is not valid UTF-8", "__name__", "m",
                 "job", "\xED\xA0\x80 surrogate");
    SERIES_ERROR(DW_EXPO_RW_EINVALID, "value of label \"job\" is not valid UTF-8", "__name__", "m",
                 "job", "0123456789abcdef\xC0\xAF overlong");

    /* A NUL byte inside a value (pb_label takes C strings, so build it here). */
    struct dw_buf req, ts, l;
    dw_buf_init(&req, 0);
    dw_buf_init(&ts, 0);
    dw_buf_init(&l, 0);
    pb_label(&ts, "__name__", "m");
    pb_str(&l, 1, "job");
    pb_bytes(&l, 2, "a\0b", 3);
    pb_sub(&ts, 1, &l);
    pb_sub(&req, 1, &ts);
    expect_raw_error(&req, NULL, DW_EXPO_RW_EINVALID, "value of label \"job\" contains a NUL byte");
    dw_buf_release(&req);
    dw_buf_release(&ts);
    dw_buf_release(&l);
}

TEST(label_rules_accept)
{
    /* Unsorted but unique labels, reserved "__" names, colons in metric names, UTF-8. */
    struct dw_buf req, ts;
    dw_buf_init(&req, 0);
    dw_buf_init(&ts, 0);
    pb_label(&ts, "zz", "1");
    pb_label(&ts, "__name__", ":ns:rule_1");
    pb_label(&ts, "__meta", "caf\xC3\xA9 \xF0\x9F\x98\x80");
    pb_label(&ts, "A", "x");
    pb_sample(&ts, 1, 1);
    pb_sub(&req, 1, &ts);
    struct got g;
    got_init(&g);
    struct dw_expo_rw_error e;
    ASSERT_EQ_INT(decode_raw(NULL, &req, &g, NULL, &e), 0);
    ASSERT_EQ_STR(text(&g), "A=x,__meta=caf\xC3\xA9 \xF0\x9F\x98\x80,__name__=:ns:rule_1,zz=1, "
                            "3ff0000000000000@1\n");
    dw_buf_release(&req);
    dw_buf_release(&ts);
    dw_buf_release(&g.out);
}

/* ---- limits ---- */

/* n series of `labels` labels (incl. __name__) and `samples` samples each. */
static void build_request(struct dw_buf *req, size_t n, size_t labels, size_t samples,
                          size_t name_len, size_t value_len)
{
    struct dw_buf ts;
    dw_buf_init(&ts, 0);
    char name[300], value[300], metric[32];
    for (size_t i = 0; i < n; i++) {
        snprintf(metric, sizeof metric, "m%zu", i);
        pb_label(&ts, "__name__", metric);
        for (size_t k = 1; k < labels; k++) {
            memset(name, 'a', name_len);
            snprintf(name + name_len - 3, 4, "%03u", (unsigned)(k % 1000));
            memset(value, 'v', value_len);
            value[value_len] = '\0';
            pb_label(&ts, name, value);
        }
        for (size_t k = 0; k < samples; k++)
            pb_sample(&ts, (double)k, (int64_t)k);
        pb_sub(req, 1, &ts);
    }
    dw_buf_release(&ts);
}

static void limit_case(const char *what, size_t field, size_t n, size_t labels, size_t samples,
                       size_t name_len, size_t value_len, size_t limit, const char *want)
{
    struct dw_buf req;
    dw_buf_init(&req, 0);
    build_request(&req, n, labels, samples, name_len, value_len);
    struct dw_expo_rw_opts o;
    dw_expo_rw_opts_init(&o);
    size_t *lim = (size_t *)((char *)&o + field);
    *lim = limit; /* exactly enough */
    struct got g;
    got_init(&g);
    struct dw_expo_rw_error e;
    int rc = decode_raw(&o, &req, &g, NULL, &e);
    if (rc)
        fprintf(stderr, "  %s at the limit: %s\n", what, e.msg);
    ASSERT_EQ_INT(rc, 0);
    ASSERT_EQ_UINT(g.series, n);
    *lim = limit - 1; /* one short: rejected whole */
    expect_raw_error(&req, &o, DW_EXPO_RW_ELIMIT, want);
    dw_buf_release(&req);
    dw_buf_release(&g.out);
}

#define LIMIT_FIELD(f) offsetof(struct dw_expo_rw_opts, f)

TEST(limits)
{
    limit_case("max_series", LIMIT_FIELD(max_series), 5, 2, 1, 4, 4, 5,
               "series 5 (offset 180): more than 4 series, over the limit max_series=4");
    limit_case("max_samples", LIMIT_FIELD(max_samples), 3, 2, 4, 4, 4, 12,
               "series 3 (offset 239): more than 11 samples, over the limit max_samples=11");
    limit_case("max_labels", LIMIT_FIELD(max_labels), 2, 9, 1, 4, 4, 9,
               "more than 8 labels, over the limit max_labels=8");
    limit_case("max_label_name_len", LIMIT_FIELD(max_label_name_len), 2, 3, 1, 40, 4, 40,
               "label name \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa001\" is 40 bytes, over the "
               "limit max_label_name_len=39");
    limit_case("max_label_value_len", LIMIT_FIELD(max_label_value_len), 2, 3, 1, 4, 200, 200,
               "value of label \"a001\" is 200 bytes, over the limit max_label_value_len=199");
}

TEST(limit_metric_name_and_empty_values)
{
    struct dw_expo_rw_opts o;
    dw_expo_rw_opts_init(&o);
    o.max_label_value_len = 3;
    struct dw_buf req, ts;
    dw_buf_init(&req, 0);
    dw_buf_init(&ts, 0);
    pb_label(&ts, "__name__", "abcd");
    pb_sample(&ts, 1, 1);
    pb_sub(&req, 1, &ts);
    expect_raw_error(&req, &o, DW_EXPO_RW_ELIMIT,
                     "metric name is 4 bytes, over the limit max_label_value_len=3");
    /* Labels are counted as sent: empty values (absent) count toward max_labels. */
    dw_buf_clear(&req);
    pb_label(&ts, "__name__", "m");
    pb_label(&ts, "a", "");
    pb_label(&ts, "b", "");
    pb_sample(&ts, 1, 1);
    pb_sub(&req, 1, &ts);
    dw_expo_rw_opts_init(&o);
    o.max_labels = 2;
    expect_raw_error(&req, &o, DW_EXPO_RW_ELIMIT,
                     "more than 2 labels, over the limit max_labels=2");
    dw_buf_release(&req);
    dw_buf_release(&ts);
}

TEST(opts_defaults)
{
    struct dw_expo_rw_opts o;
    memset(&o, 0xAB, sizeof o);
    dw_expo_rw_opts_init(&o);
    ASSERT_EQ_UINT(o.max_decoded_len, 64u << 20);
    ASSERT_EQ_UINT(o.max_series, DW_EXPO_RW_DEFAULT_MAX_SERIES);
    ASSERT_EQ_UINT(o.max_samples, DW_EXPO_RW_DEFAULT_MAX_SAMPLES);
    ASSERT_EQ_UINT(o.max_labels, DW_EXPO_DEFAULT_MAX_LABELS);
    ASSERT_EQ_UINT(o.max_label_name_len, DW_EXPO_DEFAULT_MAX_LABEL_NAME_LEN);
    ASSERT_EQ_UINT(o.max_label_value_len, DW_EXPO_DEFAULT_MAX_LABEL_VALUE_LEN);
    /* A zeroed struct means the defaults too: 65 labels fail, 64 pass. */
    struct dw_expo_rw_opts zero = {0};
    struct dw_buf req;
    dw_buf_init(&req, 0);
    build_request(&req, 1, 65, 1, 4, 1);
    expect_raw_error(&req, &zero, DW_EXPO_RW_ELIMIT, "max_labels=64");
    dw_buf_clear(&req);
    build_request(&req, 1, 64, 1, 4, 1);
    struct dw_expo_rw_error e;
    ASSERT_EQ_INT(dw_expo_rw_decode_raw(NULL, &zero, req.data, req.len, NULL, NULL, &e), 0);
    dw_buf_release(&req);
}

/* ---- delivery ---- */

TEST(callback_abort)
{
    struct dw_buf req;
    dw_buf_init(&req, 0);
    build_request(&req, 4, 2, 1, 4, 4);
    struct got g;
    got_init(&g);
    g.stop_at = 2;
    struct dw_expo_rw_error e;
    ASSERT_EQ_INT(decode_raw(NULL, &req, &g, NULL, &e), -1);
    ASSERT_EQ_INT(e.code, DW_EXPO_RW_EABORTED);
    ASSERT_EQ_INT(e.handler_rc, 5);
    ASSERT_EQ_UINT(e.series, 2);
    ASSERT_CONTAINS(e.msg, "series 2 (offset ");
    ASSERT_CONTAINS(e.msg, "stopped by the receiver (code 5)");
    ASSERT_EQ_UINT(g.series, 2);
    dw_buf_release(&req);
    dw_buf_release(&g.out);
}

TEST(validate_only_and_reuse)
{
    struct dw_expo_rw_decoder *d = dw_expo_rw_decoder_new();
    struct dw_buf big, small;
    dw_buf_init(&big, 0);
    dw_buf_init(&small, 0);
    build_request(&big, 2000, 6, 2, 8, 16);
    build_request(&small, 3, 2, 1, 4, 4);
    struct dw_expo_rw_stats st;
    struct dw_expo_rw_error e;
    /* h == NULL validates and counts; a handler with a NULL callback does the same. */
    ASSERT_EQ_INT(dw_expo_rw_decode_raw(d, NULL, big.data, big.len, NULL, &st, &e), 0);
    ASSERT_EQ_UINT(st.series, 2000);
    ASSERT_EQ_UINT(st.samples, 4000);
    struct dw_expo_rw_handler none = {NULL, NULL};
    ASSERT_EQ_INT(dw_expo_rw_decode_raw(d, NULL, small.data, small.len, &none, &st, &e), 0);
    ASSERT_EQ_UINT(st.series, 3);
    /* The same decoder alternates between sizes and stays correct. */
    for (int i = 0; i < 3; i++) {
        struct got g;
        got_init(&g);
        struct dw_expo_rw_handler h = {on_series, &g};
        const struct dw_buf *in = i % 2 ? &small : &big;
        ASSERT_EQ_INT(dw_expo_rw_decode_raw(d, NULL, in->data, in->len, &h, &st, &e), 0);
        ASSERT_EQ_UINT(g.series, i % 2 ? 3 : 2000);
        ASSERT_CONTAINS(text(&g), i % 2 ? "__name__=m2,a001=vvvv," : "__name__=m2,aaaaa001=v");
        dw_buf_release(&g.out);
    }
    dw_expo_rw_decoder_free(&d);
    dw_buf_release(&big);
    dw_buf_release(&small);
}

/* ---- headers ---- */

TEST(check_headers)
{
    char msg[200];
    ASSERT_EQ_INT(dw_expo_rw_check_headers("application/x-protobuf", "snappy", msg, sizeof msg), 0);
    ASSERT_EQ_INT(dw_expo_rw_check_headers(NULL, NULL, msg, sizeof msg), 0);
    ASSERT_EQ_INT(dw_expo_rw_check_headers("", "", msg, sizeof msg), 0);
    ASSERT_EQ_INT(dw_expo_rw_check_headers(" Application/X-Protobuf ", "SNAPPY", msg, sizeof msg),
                  0);
    ASSERT_EQ_INT(dw_expo_rw_check_headers("application/x-protobuf;proto=prometheus.WriteRequest",
                                           "snappy", msg, sizeof msg),
                  0);
    ASSERT_EQ_INT(
        dw_expo_rw_check_headers("application/x-protobuf; charset=utf-8", NULL, msg, sizeof msg),
        0);
    ASSERT_EQ_INT(dw_expo_rw_check_headers("application/x-protobuf", "gzip", msg, sizeof msg), -1);
    ASSERT_EQ_STR(msg, "Content-Encoding \"gzip\" is not accepted; only snappy");
    ASSERT_EQ_INT(dw_expo_rw_check_headers("text/plain", NULL, msg, sizeof msg), -1);
    ASSERT_EQ_STR(msg,
                  "Content-Type \"text/plain\" is not accepted; expected application/x-protobuf");
    ASSERT_EQ_INT(
        dw_expo_rw_check_headers("application/x-protobuf;proto=io.prometheus.write.v2.Request",
                                 NULL, msg, sizeof msg),
        -1);
    ASSERT_CONTAINS(msg, "protobuf message io.prometheus.write.v2.Request is not accepted");
    ASSERT_EQ_INT(dw_expo_rw_check_headers("application/x-protobuf;v2", NULL, msg, sizeof msg), -1);
    ASSERT_EQ_STR(msg, "Content-Type parameter \"v2\" is not key=value");
}

TEST(errcode_names)
{
    ASSERT_EQ_STR(dw_expo_rw_errcode_name(DW_EXPO_RW_OK), "ok");
    ASSERT_EQ_STR(dw_expo_rw_errcode_name(DW_EXPO_RW_ESNAPPY), "snappy");
    ASSERT_EQ_STR(dw_expo_rw_errcode_name(DW_EXPO_RW_EPROTO), "protobuf");
    ASSERT_EQ_STR(dw_expo_rw_errcode_name(DW_EXPO_RW_EINVALID), "invalid");
    ASSERT_EQ_STR(dw_expo_rw_errcode_name(DW_EXPO_RW_ELIMIT), "limit");
    ASSERT_EQ_STR(dw_expo_rw_errcode_name(DW_EXPO_RW_EABORTED), "aborted");
}

/* ---- interop: a body made by the shared load generator with python3-snappy ---- */

static const char interop_py[] =
    "import os, struct, sys\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "import gen_dataset, rw_loadgen\n"
    "meta, bodies = rw_loadgen.build(1, 60, 15, 42, 1, 2000)\n"
    "n, body = bodies[0][0]\n"
    "open(sys.argv[2], 'wb').write(body)\n"
    "lines = []\n"
    "for lbls, vals, fmt in gen_dataset.flat_series(gen_dataset.generate(1, 4, 15, 42)):\n"
    "    v = gen_dataset.FMT_FLOAT[fmt](vals[0])\n"
    "    bits = struct.unpack('<Q', struct.pack('<d', v))[0]\n"
    "    lines.append(''.join('%s=%s,' % kv for kv in lbls if kv[1]) +\n"
    "                 ' %016x@%d' % (bits, meta['base_ms']))\n"
    "open(sys.argv[3], 'w').write(''.join(l + '\\n' for l in lines[:n]))\n"
    "print(n, meta['series'])\n";

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct dw_buf b;
    dw_buf_init(&b, 64u << 20);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        dw_buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return dw_buf_steal(&b);
}

TEST(python_snappy_interop)
{
    const char *py = "/usr/bin/python3";
    char probe[256];
    snprintf(probe, sizeof probe, "%s -c 'import snappy' 2>/dev/null", py);
    if (access(py, X_OK) != 0 || system(probe) != 0) {
        printf("  note: python3-snappy not installed; skipping the load generator interop case\n");
        return;
    }
    char dir[] = "/tmp/dw-rw-test-XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    char script[300], body_path[300], want_path[300], cmd[1400];
    snprintf(script, sizeof script, "%s/interop.py", dir);
    snprintf(body_path, sizeof body_path, "%s/body.snappy", dir);
    snprintf(want_path, sizeof want_path, "%s/want.txt", dir);
    FILE *f = fopen(script, "w");
    ASSERT_NOT_NULL(f);
    fputs(interop_py, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s %s %s/bench %s %s", py, script, DW_SHARED_DIR, body_path,
             want_path);
    FILE *p = popen(cmd, "r");
    ASSERT_NOT_NULL(p);
    size_t n = 0, total = 0;
    int got_counts = fscanf(p, "%zu %zu", &n, &total);
    int status = pclose(p);
    size_t body_len = 0, want_len = 0;
    char *body = read_all(body_path, &body_len), *want = read_all(want_path, &want_len);
    unlink(script), unlink(body_path), unlink(want_path), rmdir(dir);
    ASSERT_EQ_INT(status, 0);
    ASSERT_EQ_INT(got_counts, 2);
    ASSERT_NOT_NULL(body);
    ASSERT_NOT_NULL(want);
    ASSERT_TRUE(n > 100);
    ASSERT_EQ_UINT(n, total); /* one host: every series fits in one request */

    struct got g;
    got_init(&g);
    struct dw_expo_rw_handler h = {on_series, &g};
    struct dw_expo_rw_stats st;
    struct dw_expo_rw_error e;
    int rc = dw_expo_rw_decode(NULL, NULL, body, body_len, &h, &st, &e);
    if (rc)
        fprintf(stderr, "  %s\n", e.msg);
    ASSERT_EQ_INT(rc, 0);
    ASSERT_EQ_UINT(st.series, n);
    ASSERT_EQ_UINT(st.samples, n);
    ASSERT_EQ_UINT(g.series, n);
    ASSERT_EQ_STR(text(&g), want);
    free(body);
    free(want);
    dw_buf_release(&g.out);
}

TEST_MAIN()
