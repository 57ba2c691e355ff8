/*
 * Unit tests of the tsdb module: CRC32C, exact decimals, head chunks, block
 * chunks and pages, and the write-ahead log (round trips, torn tails cut at
 * every byte offset, corruption, segments, fsync policies, truncation,
 * checkpoints, limits).
 *
 * Random inputs come from a fixed-seed PRNG so a failure reproduces; the
 * iteration counts keep the whole program to a few seconds under ASan.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "harness.h"
#include "testutil.h"
#include "tsdb/tsdb.h"
#include "tsdb/tsdb_internal.h"

/* ---- helpers ---- */

static double rnd_unit(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static bool same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static double bits2f(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* Values nobody expects: every one must come back with its exact bits. */
static double nasty_value(void)
{
    static const uint64_t bits[] = {
        DW_TSDB_STALE_BITS,
        0x7ff8000000000000ULL, /* the default quiet NaN */
        0x7ff8000000000001ULL, /* NaN with a payload */
        0xfff0000000000001ULL, /* negative signalling NaN */
        0x7ff0000000000000ULL, /* +Inf */
        0xfff0000000000000ULL, /* -Inf */
        0x8000000000000000ULL, /* -0.0 */
        0x0000000000000000ULL, /* +0.0 */
        0x0000000000000001ULL, /* smallest subnormal */
        0x000fffffffffffffULL, /* largest subnormal */
        0x7fefffffffffffffULL, /* DBL_MAX */
        0xffefffffffffffffULL, /* -DBL_MAX */
    };
    return bits2f(bits[rnd_below(DW_ARRAY_LEN(bits))]);
}

enum gen_kind { G_WALK, G_COUNTER, G_CONST, G_DECIMAL, G_RANDBITS, G_MIXED, G_NKINDS };

/* Fills v[0..n) with one of the value generators. */
static void gen_values(double *v, size_t n, enum gen_kind kind)
{
    double x = (double)(int64_t)rnd_below(2000000) - 1000000.0;
    int64_t m = (int64_t)rnd_below(1u << 30);
    int e = (int)rnd_below(4);
    double c = rnd_below(4) == 0 ? nasty_value() : (double)(int64_t)rnd_below(1000) / 10.0;
    for (size_t i = 0; i < n; i++) {
        switch (kind) {
        case G_WALK:
            x += (rnd_unit() - 0.5) * 100.0;
            v[i] = x;
            break;
        case G_COUNTER:
            m += (int64_t)rnd_below(rnd_below(3) ? 50 : 100000);
            v[i] = (double)m;
            break;
        case G_CONST: v[i] = c; break;
        case G_DECIMAL:
            m += (int64_t)rnd_below(200) - 100;
            v[i] = (double)m / dw_tsdb_pow10(e);
            break;
        case G_RANDBITS: v[i] = bits2f(rnd()); break;
        default: /* decimals with nasty values sprinkled in */
            m += (int64_t)rnd_below(100);
            v[i] = rnd_below(8) == 0 ? nasty_value() : (double)m / 100.0;
            break;
        }
    }
}

/* Strictly increasing timestamps: regular, jittered, irregular, huge jumps, negative. */
static void gen_times(int64_t *t, size_t n)
{
    int kind = (int)rnd_below(5);
    int64_t start = (int64_t)rnd_below(UINT64_C(1) << 42);
    if (kind == 3)
        start = INT64_MIN + (int64_t)rnd_below(1000);
    if (kind == 4)
        start = -(int64_t)rnd_below(UINT64_C(1) << 40);
    uint64_t span_left = kind == 3 ? UINT64_MAX - 2000 : UINT64_C(1) << 44;
    t[0] = start;
    for (size_t i = 1; i < n; i++) {
        uint64_t d;
        switch (kind) {
        case 0: d = 15000; break;
        case 1: d = 15000 + rnd_below(41) - 20; break;
        case 2: d = 1 + rnd_below(rnd_below(2) ? 100 : UINT64_C(1) << 36); break;
        case 3: d = 1 + rnd_below(span_left / (n - i) + 1); break; /* spans most of int64 */
        default: d = 1 + rnd_below(1u << 20); break;
        }
        if (d == 0 || d > span_left)
            d = 1;
        span_left -= d;
        t[i] = (int64_t)((uint64_t)t[i - 1] + d);
    }
}

/* ---- CRC32C and decimals ---- */

TEST(crc32c_matches_reference_vectors)
{
    ASSERT_EQ_UINT(dw_tsdb_crc32c(0, "123456789", 9), 0xE3069283u);
    ASSERT_EQ_UINT(dw_tsdb_crc32c_sw(0, "123456789", 9), 0xE3069283u);
    ASSERT_EQ_UINT(dw_tsdb_crc32c(0, "", 0), 0u);
    uint8_t zeros[32] = {0};
    ASSERT_EQ_UINT(dw_tsdb_crc32c(0, zeros, 32), 0x8A9136AAu); /* RFC 3720 B.4 */
    uint8_t ones[32];
    memset(ones, 0xff, sizeof ones);
    ASSERT_EQ_UINT(dw_tsdb_crc32c(0, ones, 32), 0x62A8AB43u);
}

TEST(crc32c_hardware_and_table_paths_agree)
{
    rng_seed(1);
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)rnd();
    for (size_t off = 0; off < 9; off++) {
        for (size_t len = 0; len + off <= sizeof buf; len += 7) {
            uint32_t a = dw_tsdb_crc32c(0, buf + off, len);
            ASSERT_EQ_UINT(a, dw_tsdb_crc32c_sw(0, buf + off, len));
            /* Continuing a CRC equals computing it in one go. */
            size_t cut = len / 3;
            ASSERT_EQ_UINT(dw_tsdb_crc32c(dw_tsdb_crc32c(0, buf + off, cut), buf + off + cut,
                                          len - cut),
                           a);
        }
    }
}

TEST(decimal_split_finds_shortest_exact_form)
{
    int64_t m;
    int e;
    ASSERT_TRUE(dw_tsdb_dec_split(0.0, &m, &e));
    ASSERT_EQ_INT(m, 0);
    ASSERT_EQ_INT(e, 0);
    ASSERT_TRUE(dw_tsdb_dec_split(3815223.15, &m, &e));
    ASSERT_EQ_INT(m, 381522315);
    ASSERT_EQ_INT(e, 2);
    ASSERT_TRUE(dw_tsdb_dec_split(0.1, &m, &e));
    ASSERT_EQ_INT(m, 1);
    ASSERT_EQ_INT(e, 1);
    ASSERT_TRUE(dw_tsdb_dec_split(-2.25, &m, &e));
    ASSERT_EQ_INT(m, -225);
    ASSERT_EQ_INT(e, 2);
    ASSERT_TRUE(dw_tsdb_dec_split(1e-5, &m, &e));
    ASSERT_EQ_INT(m, 1);
    ASSERT_EQ_INT(e, 5);
    ASSERT_TRUE(dw_tsdb_dec_split(4096.0 * 123456, &m, &e));
    ASSERT_EQ_INT(m, 4096LL * 123456);
    ASSERT_EQ_INT(e, 0);
    ASSERT_FALSE(dw_tsdb_dec_split(0.1 + 0.2, &m, &e)); /* 0.30000000000000004 */
    ASSERT_FALSE(dw_tsdb_dec_split(-0.0, &m, &e));
    ASSERT_FALSE(dw_tsdb_dec_split(bits2f(DW_TSDB_STALE_BITS), &m, &e));
    ASSERT_FALSE(dw_tsdb_dec_split(1.0 / 0.0, &m, &e));
    ASSERT_FALSE(dw_tsdb_dec_split(9007199254740992.0, &m, &e)); /* 2^53: over the limit */
    ASSERT_FALSE(dw_tsdb_dec_split(bits2f(1), &m, &e));           /* subnormal */
}

TEST(decimal_split_round_trips_random_decimals)
{
    rng_seed(2);
    for (int i = 0; i < 20000; i++) {
        int e = (int)rnd_below(DW_TSDB_DEC_MAX_EXP + 1);
        int64_t m = (int64_t)rnd_below(UINT64_C(1) << (rnd_below(49) + 1));
        if (rnd() & 1)
            m = -m;
        double v = dw_tsdb_dec_join(m, e);
        int64_t m2;
        int e2;
        ASSERT_TRUE(dw_tsdb_dec_split(v, &m2, &e2));
        ASSERT_TRUE(same_bits(dw_tsdb_dec_join(m2, e2), v));
        ASSERT_TRUE(e2 <= e);
        ASSERT_TRUE(e2 == 0 || m2 % 10 != 0); /* shortest form */
    }
}

TEST(stale_marker_and_error_names)
{
    ASSERT_TRUE(dw_tsdb_is_stale(dw_tsdb_stale_nan()));
    ASSERT_FALSE(dw_tsdb_is_stale(bits2f(0x7ff8000000000000ULL)));
    ASSERT_FALSE(dw_tsdb_is_stale(1.0));
    ASSERT_EQ_STR(dw_tsdb_strerror(DW_TSDB_EORDER), "timestamp out of order");
    ASSERT_EQ_STR(dw_tsdb_strerror(12345), "unknown error");
    ASSERT_EQ_INT(dw_tsdb_fsync_parse("always"), DW_TSDB_FSYNC_ALWAYS);
    ASSERT_EQ_INT(dw_tsdb_fsync_parse("interval"), DW_TSDB_FSYNC_INTERVAL);
    ASSERT_EQ_INT(dw_tsdb_fsync_parse("never"), DW_TSDB_FSYNC_NEVER);
    ASSERT_EQ_INT(dw_tsdb_fsync_parse("sometimes"), -1);
}

/* ---- head chunks ---- */

/* Decodes bytes and checks them against t/v; returns the samples seen. */
static size_t check_chunk_bytes(const uint8_t *b, size_t len, const int64_t *t, const double *v,
                                size_t n)
{
    struct dw_tsdb_chunk_iter it;
    dw_tsdb_chunk_iter_init(&it, b, len);
    int64_t ts;
    double val;
    size_t i = 0;
    while (dw_tsdb_chunk_iter_next(&it, &ts, &val)) {
        ASSERT_TRUE(i < n);
        if (ts != t[i] || !same_bits(val, v[i]))
            DW_FAIL_("sample %zu: got (%" PRId64 ", %016" PRIx64 ") want (%" PRId64 ", %016" PRIx64
                     ")",
                     i, ts, dw_tsdb_f2u(val), t[i], dw_tsdb_f2u(v[i]));
        i++;
    }
    ASSERT_EQ_INT(dw_tsdb_chunk_iter_err(&it), 0);
    return i;
}

static void chunk_round_trip(const int64_t *t, const double *v, size_t n)
{
    struct dw_tsdb_chunk *c = dw_tsdb_chunk_new();
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ_INT(dw_tsdb_chunk_append(c, t[i], v[i]), 0);
    ASSERT_EQ_UINT(dw_tsdb_chunk_count(c), n);
    int64_t lo, hi;
    ASSERT_TRUE(dw_tsdb_chunk_range(c, &lo, &hi));
    ASSERT_EQ_INT(lo, t[0]);
    ASSERT_EQ_INT(hi, t[n - 1]);
    size_t len;
    const uint8_t *b = dw_tsdb_chunk_bytes(c, &len);
    ASSERT_EQ_UINT(check_chunk_bytes(b, len, t, v, n), n);

    /* A chunk loaded from the first half continues into identical bytes. */
    size_t half = n / 2;
    if (half > 0) {
        struct dw_tsdb_chunk *a = dw_tsdb_chunk_new();
        for (size_t i = 0; i < half; i++)
            dw_tsdb_chunk_append(a, t[i], v[i]);
        size_t alen;
        const uint8_t *ab = dw_tsdb_chunk_bytes(a, &alen);
        struct dw_tsdb_chunk *l = NULL;
        ASSERT_EQ_INT(dw_tsdb_chunk_load(ab, alen, &l), 0);
        for (size_t i = half; i < n; i++)
            ASSERT_EQ_INT(dw_tsdb_chunk_append(l, t[i], v[i]), 0);
        size_t llen;
        const uint8_t *lb = dw_tsdb_chunk_bytes(l, &llen);
        ASSERT_EQ_UINT(llen, len);
        ASSERT_TRUE(memcmp(lb, b, len) == 0);
        dw_tsdb_chunk_free(&a);
        dw_tsdb_chunk_free(&l);
        ASSERT_NULL(l);
    }
    dw_tsdb_chunk_free(&c);
}

TEST(chunk_round_trips_nasty_values)
{
    int64_t t[DW_TSDB_CHUNK_MAX_SAMPLES];
    double v[DW_TSDB_CHUNK_MAX_SAMPLES];
    static const double fixed[] = {1.0, 1.0, 2.5, 0.0, -0.0, 0.0, 1e300, -1e-300, 42, 42, 42.5};
    rng_seed(3);
    size_t n = 0;
    for (; n < DW_ARRAY_LEN(fixed); n++)
        v[n] = fixed[n];
    for (; n < DW_TSDB_CHUNK_MAX_SAMPLES; n++)
        v[n] = rnd_below(3) ? nasty_value() : (double)(int64_t)rnd_below(100) / 4;
    for (size_t i = 0; i < n; i++)
        t[i] = 1700000000000LL + (int64_t)i * 15000;
    chunk_round_trip(t, v, n);
    /* The stale marker keeps its exact bits. */
    struct dw_tsdb_chunk *c = dw_tsdb_chunk_new();
    dw_tsdb_chunk_append(c, 1, 3.25);
    dw_tsdb_chunk_append(c, 2, dw_tsdb_stale_nan());
    dw_tsdb_chunk_append(c, 3, 3.5);
    size_t len;
    const uint8_t *b = dw_tsdb_chunk_bytes(c, &len);
    struct dw_tsdb_chunk_iter it;
    dw_tsdb_chunk_iter_init(&it, b, len);
    int64_t ts;
    double val;
    ASSERT_TRUE(dw_tsdb_chunk_iter_next(&it, &ts, &val));
    ASSERT_TRUE(dw_tsdb_chunk_iter_next(&it, &ts, &val));
    ASSERT_TRUE(dw_tsdb_is_stale(val));
    ASSERT_EQ_INT(ts, 2);
    dw_tsdb_chunk_free(&c);
}

TEST(chunk_round_trips_thousands_of_random_series)
{
    rng_seed(4);
    int64_t t[DW_TSDB_CHUNK_MAX_SAMPLES];
    double v[DW_TSDB_CHUNK_MAX_SAMPLES];
    for (int s = 0; s < 3000; s++) {
        size_t n;
        switch (s % 4) {
        case 0: n = 1; break;
        case 1: n = DW_TSDB_CHUNK_MAX_SAMPLES; break;
        default: n = 1 + rnd_below(DW_TSDB_CHUNK_MAX_SAMPLES); break;
        }
        gen_times(t, n);
        gen_values(v, n, (enum gen_kind)(s % G_NKINDS));
        chunk_round_trip(t, v, n);
    }
}

TEST(chunk_is_compact_for_regular_integer_series)
{
    /* 120 samples, regular 15 s, a counter growing by ~1000: a few bits each. */
    struct dw_tsdb_chunk *c = dw_tsdb_chunk_new();
    double x = 5599466;
    for (int i = 0; i < DW_TSDB_CHUNK_MAX_SAMPLES; i++) {
        x += 1000 + (i % 7);
        ASSERT_EQ_INT(dw_tsdb_chunk_append(c, 1700000000000LL + i * 15000LL, x), 0);
    }
    size_t len;
    dw_tsdb_chunk_bytes(c, &len);
    ASSERT_TRUE(len < 120 * 12 / 8 + 32); /* under 1.5 bytes per sample */
    dw_tsdb_chunk_free(&c);
    /* A constant costs about 2 bits per sample (timestamp + value). */
    c = dw_tsdb_chunk_new();
    for (int i = 0; i < DW_TSDB_CHUNK_MAX_SAMPLES; i++)
        dw_tsdb_chunk_append(c, 1700000000000LL + i * 15000LL, 1.0);
    dw_tsdb_chunk_bytes(c, &len);
    ASSERT_TRUE(len <= 3 + 8 + 8 + 120 * 2 / 8 + 4);
    dw_tsdb_chunk_free(&c);
}

TEST(chunk_rejects_full_and_out_of_order)
{
    struct dw_tsdb_chunk *c = dw_tsdb_chunk_new();
    int64_t lo, hi, lt;
    double lv;
    ASSERT_FALSE(dw_tsdb_chunk_range(c, &lo, &hi));
    ASSERT_FALSE(dw_tsdb_chunk_last(c, &lt, &lv));
    ASSERT_EQ_INT(dw_tsdb_chunk_append(c, 1000, 1.0), 0);
    ASSERT_TRUE(dw_tsdb_chunk_last(c, &lt, &lv));
    ASSERT_EQ_INT(lt, 1000);
    ASSERT_TRUE(same_bits(lv, 1.0));
    size_t len1;
    const uint8_t *b = dw_tsdb_chunk_bytes(c, &len1);
    uint8_t copy[64];
    memcpy(copy, b, len1);
    ASSERT_EQ_INT(dw_tsdb_chunk_append(c, 1000, 2.0), DW_TSDB_EORDER); /* duplicate */
    ASSERT_EQ_INT(dw_tsdb_chunk_append(c, 999, 2.0), DW_TSDB_EORDER);
    size_t len2;
    b = dw_tsdb_chunk_bytes(c, &len2);
    ASSERT_EQ_UINT(len2, len1);
    ASSERT_TRUE(memcmp(copy, b, len1) == 0);
    ASSERT_EQ_UINT(dw_tsdb_chunk_count(c), 1);
    for (int i = 1; i < DW_TSDB_CHUNK_MAX_SAMPLES; i++)
        ASSERT_EQ_INT(dw_tsdb_chunk_append(c, 1000 + i, 1.0), 0);
    ASSERT_EQ_INT(dw_tsdb_chunk_append(c, 5000, 1.0), DW_TSDB_EFULL);
    ASSERT_EQ_UINT(dw_tsdb_chunk_count(c), DW_TSDB_CHUNK_MAX_SAMPLES);
    ASSERT_TRUE(dw_tsdb_chunk_last(c, &lt, &lv));
    ASSERT_EQ_INT(lt, 1000 + DW_TSDB_CHUNK_MAX_SAMPLES - 1);
    dw_tsdb_chunk_free(&c);
    dw_tsdb_chunk_free(&c); /* NULL: no-op */
    dw_tsdb_chunk_free(NULL);
}

TEST(chunk_seek_moves_forward_only)
{
    struct dw_tsdb_chunk *c = dw_tsdb_chunk_new();
    for (int i = 1; i <= 10; i++)
        dw_tsdb_chunk_append(c, i * 1000, i * 1.5);
    size_t len;
    const uint8_t *b = dw_tsdb_chunk_bytes(c, &len);
    struct dw_tsdb_chunk_iter it;
    int64_t t;
    double v;
    dw_tsdb_chunk_iter_init(&it, b, len);
    ASSERT_TRUE(dw_tsdb_chunk_iter_seek(&it, -5, &t, &v)); /* before the start */
    ASSERT_EQ_INT(t, 1000);
    ASSERT_TRUE(dw_tsdb_chunk_iter_seek(&it, 3500, &t, &v)); /* between samples */
    ASSERT_EQ_INT(t, 4000);
    ASSERT_NEAR(v, 6.0, 0);
    ASSERT_TRUE(dw_tsdb_chunk_iter_seek(&it, 4000, &t, &v)); /* exact: stays */
    ASSERT_EQ_INT(t, 4000);
    ASSERT_TRUE(dw_tsdb_chunk_iter_seek(&it, 1000, &t, &v)); /* never backwards */
    ASSERT_EQ_INT(t, 4000);
    ASSERT_TRUE(dw_tsdb_chunk_iter_next(&it, &t, &v));
    ASSERT_EQ_INT(t, 5000);
    ASSERT_TRUE(dw_tsdb_chunk_iter_seek(&it, 10000, &t, &v));
    ASSERT_EQ_INT(t, 10000);
    ASSERT_FALSE(dw_tsdb_chunk_iter_seek(&it, 10001, &t, &v)); /* past the end */
    ASSERT_FALSE(dw_tsdb_chunk_iter_next(&it, &t, &v));
    ASSERT_EQ_INT(dw_tsdb_chunk_iter_err(&it), 0);
    dw_tsdb_chunk_iter_init(&it, b, len); /* re-init goes back */
    ASSERT_TRUE(dw_tsdb_chunk_iter_seek(&it, 20000, &t, &v) == false);
    dw_tsdb_chunk_free(&c);
}

TEST(chunk_decoder_survives_truncated_and_corrupt_bytes)
{
    rng_seed(5);
    int64_t t[DW_TSDB_CHUNK_MAX_SAMPLES];
    double v[DW_TSDB_CHUNK_MAX_SAMPLES];
    gen_times(t, DW_TSDB_CHUNK_MAX_SAMPLES);
    gen_values(v, DW_TSDB_CHUNK_MAX_SAMPLES, G_MIXED);
    struct dw_tsdb_chunk *c = dw_tsdb_chunk_new();
    for (int i = 0; i < DW_TSDB_CHUNK_MAX_SAMPLES; i++)
        dw_tsdb_chunk_append(c, t[i], v[i]);
    size_t len;
    const uint8_t *b = dw_tsdb_chunk_bytes(c, &len);
    uint8_t *copy = dw_malloc(len);
    /* Every truncation: fewer samples or an error, never a read past the end (ASan). */
    for (size_t k = 0; k < len; k++) {
        uint8_t *exact = dw_malloc(k ? k : 1);
        memcpy(exact, b, k);
        struct dw_tsdb_chunk_iter it;
        dw_tsdb_chunk_iter_init(&it, exact, k);
        int64_t ts;
        double val;
        size_t got = 0;
        while (dw_tsdb_chunk_iter_next(&it, &ts, &val))
            got++;
        ASSERT_TRUE(got < DW_TSDB_CHUNK_MAX_SAMPLES);
        ASSERT_EQ_INT(dw_tsdb_chunk_iter_err(&it), DW_TSDB_ECORRUPT);
        struct dw_tsdb_chunk *l = NULL;
        ASSERT_EQ_INT(dw_tsdb_chunk_load(exact, k, &l), DW_TSDB_ECORRUPT);
        ASSERT_NULL(l);
        free(exact);
    }
    /* Random byte flips: any outcome but a crash; the count never exceeds the header's. */
    for (int i = 0; i < 3000; i++) {
        memcpy(copy, b, len);
        for (int f = 0; f < 1 + (int)rnd_below(3); f++)
            copy[rnd_below(len)] ^= (uint8_t)(1u << rnd_below(8));
        struct dw_tsdb_chunk_iter it;
        dw_tsdb_chunk_iter_init(&it, copy, len);
        int64_t ts;
        double val;
        size_t got = 0;
        while (dw_tsdb_chunk_iter_next(&it, &ts, &val))
            got++;
        ASSERT_TRUE(got <= DW_TSDB_CHUNK_MAX_SAMPLES);
    }
    /* Bad headers. */
    memcpy(copy, b, len);
    copy[0] = 0x7f;
    struct dw_tsdb_chunk_iter it;
    dw_tsdb_chunk_iter_init(&it, copy, len);
    ASSERT_EQ_INT(dw_tsdb_chunk_iter_err(&it), DW_TSDB_ECORRUPT);
    memcpy(copy, b, len);
    copy[1] = 200; /* count over the maximum */
    dw_tsdb_chunk_iter_init(&it, copy, len);
    ASSERT_EQ_INT(dw_tsdb_chunk_iter_err(&it), DW_TSDB_ECORRUPT);
    free(copy);
    dw_tsdb_chunk_free(&c);
}

/* ---- block chunks and pages ---- */

static void block_round_trip(struct dw_tsdb_blockenc *enc, const int64_t *t, const double *v,
                             size_t n, int64_t *tt, double *vv)
{
    struct dw_buf out;
    dw_buf_init(&out, 0);
    ASSERT_EQ_INT(dw_tsdb_blockenc_encode(enc, t, v, n, &out), 0);
    size_t cnt = 0;
    ASSERT_EQ_INT(dw_tsdb_blockchunk_count((const uint8_t *)out.data, out.len, &cnt), 0);
    ASSERT_EQ_UINT(cnt, n);
    size_t got = 0;
    int rc = dw_tsdb_blockchunk_decode((const uint8_t *)out.data, out.len, tt, vv, n, &got);
    ASSERT_EQ_INT(rc, 0);
    ASSERT_EQ_UINT(got, n);
    for (size_t i = 0; i < n; i++) {
        if (tt[i] != t[i] || !same_bits(vv[i], v[i]))
            DW_FAIL_("sample %zu of %zu: got (%" PRId64 ", %016" PRIx64 ") want (%" PRId64
                     ", %016" PRIx64 ")",
                     i, n, tt[i], dw_tsdb_f2u(vv[i]), t[i], dw_tsdb_f2u(v[i]));
    }
    if (n > 1) /* too small a buffer is refused */
        ASSERT_EQ_INT(dw_tsdb_blockchunk_decode((const uint8_t *)out.data, out.len, tt, vv, n - 1,
                                                &got),
                      DW_TSDB_ELIMIT);
    dw_buf_release(&out);
}

#define BLK_MAX 2000

TEST(blockenc_round_trips_thousands_of_random_series)
{
    rng_seed(6);
    int64_t *t = dw_malloc(BLK_MAX * sizeof *t), *tt = dw_malloc(BLK_MAX * sizeof *tt);
    double *v = dw_malloc(BLK_MAX * sizeof *v), *vv = dw_malloc(BLK_MAX * sizeof *vv);
    struct dw_tsdb_blockenc *enc = dw_tsdb_blockenc_new();
    for (int s = 0; s < 2500; s++) {
        size_t n = s % 5 == 0 ? 1 + rnd_below(3) : 1 + rnd_below(s % 3 ? 500 : BLK_MAX);
        gen_times(t, n);
        gen_values(v, n, (enum gen_kind)(s % G_NKINDS));
        if (s % 7 == 0 && n > 10) /* a counter reset in the middle */
            v[n / 2] = 0;
        block_round_trip(enc, t, v, n, tt, vv);
    }
    dw_tsdb_blockenc_free(&enc);
    ASSERT_NULL(enc);
    free(t);
    free(tt);
    free(v);
    free(vv);
}

TEST(blockenc_exploits_regular_times_constants_and_decimals)
{
    struct dw_tsdb_blockenc *enc = dw_tsdb_blockenc_new();
    int64_t t[480];
    double v[480];
    struct dw_buf out;
    dw_buf_init(&out, 0);
    for (int i = 0; i < 480; i++) {
        t[i] = 1700000000000LL + i * 15000LL;
        v[i] = 1.0;
    }
    ASSERT_EQ_INT(dw_tsdb_blockenc_encode(enc, t, v, 480, &out), 0);
    ASSERT_TRUE(out.len <= 24); /* regular timestamps and a constant: a few bytes in all */
    /* A counter in cents growing by 13.00 +- 0.63 and a stale marker at the end. */
    rng_seed(7);
    double cents = 381522315;
    for (int i = 0; i < 480; i++) {
        cents += 1300 + (double)rnd_below(128) - 64;
        v[i] = cents / 100;
    }
    out.len = 0;
    ASSERT_EQ_INT(dw_tsdb_blockenc_encode(enc, t, v, 480, &out), 0);
    size_t plain = out.len;
    ASSERT_TRUE(plain < 480 * 8 / 8 + 32); /* about 7 bits per sample (entropy of +-64 is 7) */
    v[479] = dw_tsdb_stale_nan();
    out.len = 0;
    ASSERT_EQ_INT(dw_tsdb_blockenc_encode(enc, t, v, 480, &out), 0);
    ASSERT_TRUE(out.len <= plain + 16); /* the stale marker is an exception, not a mode switch */
    /* Memory in 4 KiB pages: the GCD removes the 12 zero bits. */
    double mem = 4096.0 * 2000000;
    for (int i = 0; i < 480; i++) {
        mem += 4096.0 * ((double)rnd_below(64) - 32);
        v[i] = mem;
    }
    out.len = 0;
    ASSERT_EQ_INT(dw_tsdb_blockenc_encode(enc, t, v, 480, &out), 0);
    ASSERT_TRUE(out.len < 480 * 7 / 8 + 32);
    dw_buf_release(&out);
    dw_tsdb_blockenc_free(&enc);
}

TEST(blockenc_rejects_bad_input)
{
    struct dw_tsdb_blockenc *enc = dw_tsdb_blockenc_new();
    struct dw_buf out;
    dw_buf_init(&out, 0);
    int64_t t[3] = {10, 20, 20};
    double v[3] = {1, 2, 3};
    ASSERT_EQ_INT(dw_tsdb_blockenc_encode(enc, t, v, 0, &out), DW_TSDB_EINVAL);
    ASSERT_EQ_INT(dw_tsdb_blockenc_encode(enc, t, v, DW_TSDB_BLOCK_MAX_SAMPLES + 1, &out),
                  DW_TSDB_EINVAL);
    ASSERT_EQ_INT(dw_tsdb_blockenc_encode(enc, t, v, 3, &out), DW_TSDB_EORDER);
    ASSERT_EQ_UINT(out.len, 0);
    /* A bounded output buffer that is too small: ELIMIT, buffer unchanged. */
    struct dw_buf small;
    dw_buf_init(&small, 4);
    t[2] = 25;
    ASSERT_EQ_INT(dw_tsdb_blockenc_encode(enc, t, v, 3, &small), DW_TSDB_ELIMIT);
    ASSERT_EQ_UINT(small.len, 0);
    dw_buf_release(&small);
    size_t n;
    ASSERT_EQ_INT(dw_tsdb_blockchunk_count((const uint8_t *)"", 0, &n), DW_TSDB_ECORRUPT);
    uint8_t huge[4] = {0x81, 0x80, 0x08, 0}; /* 131073 samples */
    ASSERT_EQ_INT(dw_tsdb_blockchunk_count(huge, 3, &n), DW_TSDB_ECORRUPT);
    dw_buf_release(&out);
    dw_tsdb_blockenc_free(&enc);
}

TEST(blockchunk_decoder_survives_truncated_and_corrupt_bytes)
{
    rng_seed(8);
    struct dw_tsdb_blockenc *enc = dw_tsdb_blockenc_new();
    int64_t t[300], tt[300];
    double v[300], vv[300];
    struct dw_buf out;
    dw_buf_init(&out, 0);
    for (int kind = 0; kind < G_NKINDS; kind++) {
        gen_times(t, 300);
        gen_values(v, 300, (enum gen_kind)kind);
        out.len = 0;
        ASSERT_EQ_INT(dw_tsdb_blockenc_encode(enc, t, v, 300, &out), 0);
        size_t n;
        for (size_t k = 0; k < out.len; k++) {
            uint8_t *exact = dw_malloc(k ? k : 1);
            memcpy(exact, out.data, k);
            ASSERT_EQ_INT(dw_tsdb_blockchunk_decode(exact, k, tt, vv, 300, &n), DW_TSDB_ECORRUPT);
            free(exact);
        }
        uint8_t *copy = dw_malloc(out.len);
        for (int i = 0; i < 400; i++) {
            memcpy(copy, out.data, out.len);
            copy[rnd_below(out.len)] ^= (uint8_t)(1u << rnd_below(8));
            int rc = dw_tsdb_blockchunk_decode(copy, out.len, tt, vv, 300, &n);
            ASSERT_TRUE(rc == 0 || rc == DW_TSDB_ECORRUPT || rc == DW_TSDB_ELIMIT);
            if (rc == 0)
                ASSERT_TRUE(n <= 300);
        }
        free(copy);
    }
    dw_buf_release(&out);
    dw_tsdb_blockenc_free(&enc);
}

TEST(pages_hold_many_chunks_and_compress_when_it_pays)
{
    rng_seed(9);
    struct dw_tsdb_blockenc *enc = dw_tsdb_blockenc_new();
    int64_t t[480], tt[480];
    double v[480], vv[480];
    struct dw_buf chunk, pages;
    dw_buf_init(&chunk, 0);
    dw_buf_init(&pages, 0);
    for (int level = 0; level <= 3; level += 3) {
        struct dw_tsdb_page_writer *pw = dw_tsdb_page_writer_new(level);
        pages.len = 0;
        uint64_t seeds[40];
        for (int s = 0; s < 40; s++) {
            seeds[s] = rnd();
            rng_seed(seeds[s]);
            gen_times(t, 480);
            gen_values(v, 480, (enum gen_kind)(s % G_NKINDS));
            chunk.len = 0;
            ASSERT_EQ_INT(dw_tsdb_blockenc_encode(enc, t, v, 480, &chunk), 0);
            ASSERT_EQ_INT(dw_tsdb_page_writer_add(pw, (const uint8_t *)chunk.data, chunk.len), s);
        }
        ASSERT_EQ_UINT(dw_tsdb_page_writer_count(pw), 40);
        ASSERT_EQ_INT(dw_tsdb_page_writer_finish(pw, &pages), 0);
        ASSERT_EQ_UINT(dw_tsdb_page_writer_count(pw), 0);
        ASSERT_EQ_INT(pages.data[0], level ? 1 : 0); /* compressed only at level > 0 */
        struct dw_tsdb_page *pg = NULL;
        ASSERT_EQ_INT(dw_tsdb_page_open((const uint8_t *)pages.data, pages.len, &pg), 0);
        ASSERT_EQ_UINT(dw_tsdb_page_count(pg), 40);
        for (int s = 0; s < 40; s++) {
            rng_seed(seeds[s]);
            gen_times(t, 480);
            gen_values(v, 480, (enum gen_kind)(s % G_NKINDS));
            const uint8_t *d;
            size_t len, n;
            ASSERT_EQ_INT(dw_tsdb_page_chunk(pg, (size_t)s, &d, &len), 0);
            ASSERT_EQ_INT(dw_tsdb_blockchunk_decode(d, len, tt, vv, 480, &n), 0);
            ASSERT_EQ_UINT(n, 480);
            for (int i = 0; i < 480; i++)
                ASSERT_TRUE(tt[i] == t[i] && same_bits(vv[i], v[i]));
        }
        const uint8_t *d;
        size_t len;
        ASSERT_EQ_INT(dw_tsdb_page_chunk(pg, 40, &d, &len), DW_TSDB_EINVAL);
        dw_tsdb_page_free(&pg);
        ASSERT_NULL(pg);
        dw_tsdb_page_writer_free(&pw);
    }
    /* Incompressible content stays raw even at a zstd level. */
    struct dw_tsdb_page_writer *pw = dw_tsdb_page_writer_new(3);
    uint8_t noise[512];
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (uint8_t)rnd();
    dw_tsdb_page_writer_add(pw, noise, sizeof noise);
    pages.len = 0;
    dw_tsdb_page_writer_finish(pw, &pages);
    ASSERT_EQ_INT(pages.data[0], 0);
    dw_tsdb_page_writer_free(&pw);
    dw_buf_release(&chunk);
    dw_buf_release(&pages);
    dw_tsdb_blockenc_free(&enc);
}

TEST(pages_enforce_limits_and_detect_damage)
{
    struct dw_tsdb_page *pg = NULL;
    /* A page claiming more than DW_TSDB_PAGE_MAX_RAW bytes. */
    uint8_t big[8] = {0, 0x81, 0x80, 0x80, 0x08}; /* raw, 16 MiB + 1 */
    ASSERT_EQ_INT(dw_tsdb_page_open(big, 5, &pg), DW_TSDB_ELIMIT);
    uint8_t bad_codec[3] = {7, 0, 0};
    ASSERT_EQ_INT(dw_tsdb_page_open(bad_codec, 3, &pg), DW_TSDB_ECORRUPT);
    /* Table lengths that do not add up to the payload. */
    uint8_t table[6] = {0, 4, 1, 3, 'a', 'b'}; /* 1 chunk of 3 bytes, only 2 present */
    ASSERT_EQ_INT(dw_tsdb_page_open(table, 6, &pg), DW_TSDB_ECORRUPT);
    ASSERT_NULL(pg);
    /* Truncations and flips of a real compressed page never crash. */
    struct dw_tsdb_page_writer *pw = dw_tsdb_page_writer_new(3);
    for (int i = 0; i < 20; i++)
        dw_tsdb_page_writer_add(pw, (const uint8_t *)"some repeated chunk bytes", 25);
    struct dw_buf page;
    dw_buf_init(&page, 0);
    ASSERT_EQ_INT(dw_tsdb_page_writer_finish(pw, &page), 0);
    for (size_t k = 0; k < page.len; k++) {
        ASSERT_TRUE(dw_tsdb_page_open((const uint8_t *)page.data, k, &pg) != 0);
        ASSERT_NULL(pg);
    }
    for (size_t k = 0; k < page.len; k++) {
        page.data[k] ^= 0x10;
        if (dw_tsdb_page_open((const uint8_t *)page.data, page.len, &pg) == 0)
            dw_tsdb_page_free(&pg);
        page.data[k] ^= 0x10;
    }
    /* The writer refuses chunks past the raw page limit. */
    uint8_t *mib = dw_calloc(1, 1u << 20);
    long idx = 0;
    for (int i = 0; i < 17 && idx >= 0; i++)
        idx = dw_tsdb_page_writer_add(pw, mib, 1u << 20);
    ASSERT_EQ_INT(idx, -1);
    ASSERT_EQ_UINT(dw_tsdb_page_writer_count(pw), 15);
    ASSERT_EQ_INT(dw_tsdb_page_writer_add(pw, mib, 0), -1);
    free(mib);
    dw_buf_release(&page);
    dw_tsdb_page_writer_free(&pw);
    dw_tsdb_page_writer_free(&pw); /* NULL: no-op */
}

/* ---- WAL helpers ---- */

static int64_t file_len(const char *dir, const char *name)
{
    char *p = dw_asprintf("%s/%s", dir, name);
    struct stat sb;
    int64_t n = stat(p, &sb) == 0 ? (int64_t)sb.st_size : -1;
    free(p);
    return n;
}

static uint8_t *file_read(const char *dir, const char *name, size_t *len)
{
    char *p = dw_asprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    free(p);
    ASSERT_NOT_NULL(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = dw_malloc(n > 0 ? (size_t)n : 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static void file_write(const char *dir, const char *name, const void *data, size_t len)
{
    char *p = dw_asprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    free(p);
    ASSERT_NOT_NULL(f);
    ASSERT_EQ_UINT(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* What a replay delivered, flattened: one event per series or sample. */
struct event {
    bool is_series;
    uint64_t ref;
    int64_t t;
    double v;
    char *labels; /* "name=value," pairs; heap */
};

struct collector {
    struct event *ev;
    size_t n, cap;
    int fail_with; /* returned by the callbacks when non-zero */
};

static int on_series(void *ctx, const struct dw_tsdb_wal_series *s, size_t n)
{
    struct collector *c = ctx;
    for (size_t i = 0; i < n; i++) {
        struct dw_buf b;
        dw_buf_init(&b, 0);
        for (size_t j = 0; j < s[i].nlabels; j++)
            dw_buf_printf(&b, "%s=%s,", s[i].labels[j].name, s[i].labels[j].value);
        c->ev = dw_grow(c->ev, &c->cap, c->n + 1, sizeof *c->ev);
        c->ev[c->n++] = (struct event){true, s[i].ref, 0, 0, dw_buf_steal(&b)};
    }
    return c->fail_with;
}

static int on_samples(void *ctx, const struct dw_tsdb_wal_sample *s, size_t n)
{
    struct collector *c = ctx;
    for (size_t i = 0; i < n; i++) {
        c->ev = dw_grow(c->ev, &c->cap, c->n + 1, sizeof *c->ev);
        c->ev[c->n++] = (struct event){false, s[i].ref, s[i].t, s[i].v, NULL};
    }
    return c->fail_with;
}

static void collector_release(struct collector *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->ev[i].labels);
    free(c->ev);
    memset(c, 0, sizeof *c);
}

static struct dw_tsdb_wal_handler handler_for(struct collector *c)
{
    return (struct dw_tsdb_wal_handler){on_series, on_samples, c};
}

static struct dw_tsdb_wal_opts test_opts(enum dw_tsdb_fsync policy)
{
    struct dw_tsdb_wal_opts o;
    dw_tsdb_wal_opts_init(&o);
    o.fsync = policy;
    o.no_thread = true;
    return o;
}

/* Sample number i of the deterministic test stream. */
static struct dw_tsdb_wal_sample sample_no(size_t i)
{
    double v;
    switch (i % 6) {
    case 0: v = (double)i * 1.25; break;
    case 1: v = dw_tsdb_stale_nan(); break;
    case 2: v = -0.0; break;
    case 3: v = 0.1 + 0.2; break;
    case 4: v = bits2f(0x7ff8000000000001ULL); break;
    default: v = -(double)i; break;
    }
    uint64_t ref = i % 3 == 0 ? (uint64_t)i : UINT64_MAX - i;
    return (struct dw_tsdb_wal_sample){ref, (int64_t)i * 15000 - 1000000, v};
}

static void expect_samples(const struct collector *c, size_t from_ev, size_t first, size_t n)
{
    ASSERT_TRUE(c->n >= from_ev + n);
    for (size_t i = 0; i < n; i++) {
        const struct event *e = &c->ev[from_ev + i];
        struct dw_tsdb_wal_sample want = sample_no(first + i);
        ASSERT_FALSE(e->is_series);
        ASSERT_EQ_UINT(e->ref, want.ref);
        ASSERT_EQ_INT(e->t, want.t);
        ASSERT_TRUE(same_bits(e->v, want.v));
    }
}

/* ---- WAL ---- */

TEST(wal_replays_exactly_what_was_logged)
{
    char *dir = tmpdir_new();
    struct dw_tsdb_wal_opts o = test_opts(DW_TSDB_FSYNC_INTERVAL);
    struct dw_tsdb_wal *w = NULL;
    struct dw_tsdb_wal_replay_stats st;
    ASSERT_EQ_INT(dw_tsdb_wal_open(dir, &o, NULL, &st, &w), 0);
    ASSERT_EQ_UINT(st.records, 0);
    struct dw_tsdb_label l1[] = {{"__name__", "up"}, {"job", "node"}, {"empty", ""}};
    struct dw_tsdb_label l2[] = {{"__name__", "température_°C"}, {"zone", "a b\"c"}};
    struct dw_tsdb_wal_series ser[] = {{1, l1, 3}, {UINT64_MAX, l2, 2}, {7, NULL, 0}};
    ASSERT_EQ_INT(dw_tsdb_wal_log_series(w, ser, 3), 0);
    struct dw_tsdb_wal_sample s[100];
    for (size_t i = 0; i < 100; i++)
        s[i] = sample_no(i);
    ASSERT_EQ_INT(dw_tsdb_wal_log_samples(w, s, 60), 0);
    ASSERT_EQ_INT(dw_tsdb_wal_log_samples(w, s + 60, 40), 0);
    ASSERT_EQ_INT(dw_tsdb_wal_log_samples(w, s, 0), 0); /* empty batch: nothing */
    struct dw_tsdb_wal_stats ws;
    dw_tsdb_wal_get_stats(w, &ws);
    ASSERT_EQ_UINT(ws.records, 3);
    ASSERT_EQ_UINT(ws.segment, 1);
    ASSERT_EQ_INT(dw_tsdb_wal_close(&w), 0);
    ASSERT_NULL(w);

    struct collector c = {0};
    struct dw_tsdb_wal_handler h = handler_for(&c);
    ASSERT_EQ_INT(dw_tsdb_wal_replay(dir, &h, &st), 0);
    ASSERT_EQ_UINT(st.records, 3);
    ASSERT_EQ_UINT(st.series, 3);
    ASSERT_EQ_UINT(st.samples, 100);
    ASSERT_FALSE(st.damaged);
    ASSERT_EQ_UINT(c.n, 103);
    ASSERT_TRUE(c.ev[0].is_series && c.ev[0].ref == 1);
    ASSERT_EQ_STR(c.ev[0].labels, "__name__=up,job=node,empty=,");
    ASSERT_EQ_UINT(c.ev[1].ref, UINT64_MAX);
    ASSERT_EQ_STR(c.ev[1].labels, "__name__=température_°C,zone=a b\"c,");
    ASSERT_EQ_STR(c.ev[2].labels, "");
    expect_samples(&c, 3, 0, 100);
    collector_release(&c);

    /* The writer always starts a new segment after the last one. */
    ASSERT_EQ_INT(dw_tsdb_wal_open(dir, &o, &h, &st, &w), 0);
    dw_tsdb_wal_get_stats(w, &ws);
    ASSERT_EQ_UINT(ws.segment, 2);
    ASSERT_EQ_UINT(st.samples, 100);
    ASSERT_EQ_INT(dw_tsdb_wal_close(&w), 0);
    ASSERT_EQ_INT(dw_tsdb_wal_close(&w), 0); /* NULL: no-op */
    collector_release(&c);
    rm_rf(dir);
    free(dir);
}

TEST(wal_splits_large_batches_into_records)
{
    char *dir = tmpdir_new();
    struct dw_tsdb_wal_opts o = test_opts(DW_TSDB_FSYNC_NEVER);
    struct dw_tsdb_wal *w = NULL;
    ASSERT_EQ_INT(dw_tsdb_wal_open(dir, &o, NULL, NULL, &w), 0);
    size_t n = 2 * DW_TSDB_WAL_SAMPLES_PER_RECORD + 5;
    struct dw_tsdb_wal_sample *s = dw_malloc(n * sizeof *s);
    for (size_t i = 0; i < n; i++)
        s[i] = sample_no(i);
    ASSERT_EQ_INT(dw_tsdb_wal_log_samples(w, s, n), 0);
    struct dw_tsdb_wal_stats ws;
    dw_tsdb_wal_get_stats(w, &ws);
    ASSERT_EQ_UINT(ws.records, 3);
    ASSERT_TRUE(ws.bytes_written > 0); /* over the 64 KiB buffer: written through */
    ASSERT_EQ_INT(dw_tsdb_wal_close(&w), 0);
    struct collector c = {0};
    struct dw_tsdb_wal_handler h = handler_for(&c);
    ASSERT_EQ_INT(dw_tsdb_wal_replay(dir, &h, NULL), 0);
    ASSERT_EQ_UINT(c.n, n);
    expect_samples(&c, 0, 0, n);
    collector_release(&c);
    free(s);
    rm_rf(dir);
    free(dir);
}

/*
 * Writes `nrec` records of 1-3 samples each into segment 1, flushing after
 * each so ends[i] is the file size after record i. Returns the samples per
 * record in per[] (starting sample numbers are cumulative).
 */
static void write_records(const char *dir, size_t nrec, int64_t *ends, size_t *per)
{
    struct dw_tsdb_wal_opts o = test_opts(DW_TSDB_FSYNC_NEVER);
    struct dw_tsdb_wal *w = NULL;
    ASSERT_EQ_INT(dw_tsdb_wal_open(dir, &o, NULL, NULL, &w), 0);
    size_t next = 0;
    for (size_t r = 0; r < nrec; r++) {
        per[r] = 1 + r % 3;
        struct dw_tsdb_wal_sample s[3];
        for (size_t i = 0; i < per[r]; i++)
            s[i] = sample_no(next + i);
        next += per[r];
        ASSERT_EQ_INT(dw_tsdb_wal_log_samples(w, s, per[r]), 0);
        ASSERT_EQ_INT(dw_tsdb_wal_flush(w), 0);
        ends[r] = file_len(dir, "00000001");
    }
    ASSERT_EQ_INT(dw_tsdb_wal_close(&w), 0);
}

static char *log_buf;
static size_t log_len;
static FILE *log_file;

static void capture_logs(void)
{
    log_file = open_memstream(&log_buf, &log_len);
    dw_log_set_stream(log_file);
}

/* Returns the captured text (heap) and restores stderr. */
static char *captured_logs(void)
{
    dw_log_set_stream(NULL);
    fclose(log_file);
    char *s = log_buf;
    log_buf = NULL;
    return s;
}

TEST(wal_torn_tail_is_cut_at_every_byte_offset)
{
    enum { NREC = 12, LAST = 4 };
    char *src = tmpdir_new();
    int64_t ends[NREC];
    size_t per[NREC];
    write_records(src, NREC, ends, per);
    size_t len;
    uint8_t *seg = file_read(src, "00000001", &len);
    ASSERT_EQ_INT((int64_t)len, ends[NREC - 1]);
    char *dir = tmpdir_new();
    for (int64_t k = ends[NREC - LAST - 1]; k <= (int64_t)len; k++) {
        file_write(dir, "00000001", seg, (size_t)k);
        size_t complete = 0, samples = 0;
        while (complete < NREC && ends[complete] <= k)
            samples += per[complete++];
        int64_t good = complete ? ends[complete - 1] : 0;
        struct collector c = {0};
        struct dw_tsdb_wal_handler h = handler_for(&c);
        struct dw_tsdb_wal_replay_stats st;
        capture_logs();
        int rc = dw_tsdb_wal_replay(dir, &h, &st);
        char *logs = captured_logs();
        ASSERT_EQ_INT(rc, 0);
        ASSERT_EQ_UINT(st.records, complete);
        ASSERT_EQ_UINT(c.n, samples);
        expect_samples(&c, 0, 0, samples);
        ASSERT_EQ_INT(file_len(dir, "00000001"), good); /* cut at the last good record */
        if (k == good) {
            ASSERT_FALSE(st.damaged);
            ASSERT_EQ_STR(logs, "");
        } else {
            char want[64];
            snprintf(want, sizeof want, "offset=%" PRId64, good);
            ASSERT_TRUE(st.damaged);
            ASSERT_EQ_UINT(st.bytes_cut, (uint64_t)(k - good));
            ASSERT_CONTAINS(logs, "segment=00000001");
            ASSERT_CONTAINS(logs, want);
            ASSERT_CONTAINS(logs, "reason=");
            ASSERT_TRUE(strchr(logs, '\n') == logs + strlen(logs) - 1); /* one line */
        }
        free(logs);
        collector_release(&c);
    }
    free(seg);
    rm_rf(dir);
    rm_rf(src);
    free(dir);
    free(src);
}

/* Writes ~200 KiB of samples into 64 KiB segments; returns the number of samples. */
static size_t write_segments(const char *dir, struct dw_tsdb_wal_stats *ws)
{
    struct dw_tsdb_wal_opts o = test_opts(DW_TSDB_FSYNC_INTERVAL);
    o.segment_max_bytes = DW_TSDB_WAL_SEGMENT_MIN;
    struct dw_tsdb_wal *w = NULL;
    ASSERT_EQ_INT(dw_tsdb_wal_open(dir, &o, NULL, NULL, &w), 0);
    size_t next = 0;
    for (int b = 0; b < 400; b++) {
        struct dw_tsdb_wal_sample s[50];
        for (size_t i = 0; i < 50; i++)
            s[i] = sample_no(next + i);
        next += 50;
        ASSERT_EQ_INT(dw_tsdb_wal_log_samples(w, s, 50), 0);
    }
    dw_tsdb_wal_get_stats(w, ws);
    ASSERT_EQ_INT(dw_tsdb_wal_close(&w), 0);
    return next;
}

TEST(wal_rotates_segments_and_replays_across_them)
{
    char *dir = tmpdir_new();
    struct dw_tsdb_wal_stats ws;
    size_t n = write_segments(dir, &ws);
    ASSERT_TRUE(ws.segment >= 4);
    ASSERT_TRUE(ws.fsyncs >= ws.segment - 1); /* every finished segment was synced */
    for (uint32_t s = 1; s <= ws.segment; s++) {
        char name[16];
        snprintf(name, sizeof name, "%08u", s);
        int64_t l = file_len(dir, name);
        ASSERT_TRUE(l >= 0 && l <= DW_TSDB_WAL_SEGMENT_MIN);
    }
    struct collector c = {0};
    struct dw_tsdb_wal_handler h = handler_for(&c);
    struct dw_tsdb_wal_replay_stats st;
    ASSERT_EQ_INT(dw_tsdb_wal_replay(dir, &h, &st), 0);
    ASSERT_EQ_UINT(st.segments, ws.segment);
    ASSERT_EQ_UINT(st.first_segment, 1);
    ASSERT_EQ_UINT(st.last_segment, ws.segment);
    ASSERT_EQ_UINT(c.n, n);
    expect_samples(&c, 0, 0, n);
    collector_release(&c);
    rm_rf(dir);
    free(dir);
}

TEST(wal_flipped_byte_cuts_there_and_drops_later_segments)
{
    char *dir = tmpdir_new();
    struct dw_tsdb_wal_stats ws;
    write_segments(dir, &ws);
    uint32_t last = ws.segment;
    /* Count what segment 1 holds, then damage segment 2 in its middle. */
    size_t len;
    uint8_t *seg2 = file_read(dir, "00000002", &len);
    seg2[len / 2] ^= 0x40;
    file_write(dir, "00000002", seg2, len);
    free(seg2);
    struct collector c = {0};
    struct dw_tsdb_wal_handler h = handler_for(&c);
    struct dw_tsdb_wal_replay_stats st;
    capture_logs();
    ASSERT_EQ_INT(dw_tsdb_wal_replay(dir, &h, &st), 0);
    char *logs = captured_logs();
    ASSERT_TRUE(st.damaged);
    ASSERT_EQ_UINT(st.segments_dropped, last - 2);
    ASSERT_CONTAINS(logs, "segment=00000002");
    ASSERT_CONTAINS(logs, "segments_dropped=");
    free(logs);
    ASSERT_TRUE(file_len(dir, "00000002") < (int64_t)len / 2 + 1);
    ASSERT_TRUE(path_exists(dir, "00000001"));
    ASSERT_FALSE(path_exists(dir, "00000003"));
    size_t kept = c.n;
    ASSERT_TRUE(kept > 0);
    expect_samples(&c, 0, 0, kept); /* an exact prefix of what was logged */
    collector_release(&c);
    /* The repaired log replays cleanly to the same prefix. */
    ASSERT_EQ_INT(dw_tsdb_wal_replay(dir, &h, &st), 0);
    ASSERT_FALSE(st.damaged);
    ASSERT_EQ_UINT(c.n, kept);
    collector_release(&c);
    rm_rf(dir);
    free(dir);
}

TEST(wal_missing_segment_ends_the_log_there)
{
    char *dir = tmpdir_new();
    struct dw_tsdb_wal_stats ws;
    write_segments(dir, &ws);
    char *p = dw_asprintf("%s/00000003", dir);
    unlink(p);
    free(p);
    struct collector c = {0};
    struct dw_tsdb_wal_handler h = handler_for(&c);
    struct dw_tsdb_wal_replay_stats st;
    capture_logs();
    ASSERT_EQ_INT(dw_tsdb_wal_replay(dir, &h, &st), 0);
    char *logs = captured_logs();
    ASSERT_CONTAINS(logs, "segment 00000003 is missing");
    free(logs);
    ASSERT_TRUE(st.damaged);
    ASSERT_EQ_UINT(st.last_segment, 2);
    ASSERT_FALSE(path_exists(dir, "00000004"));
    ASSERT_TRUE(path_exists(dir, "00000002"));
    expect_samples(&c, 0, 0, c.n);
    collector_release(&c);
    rm_rf(dir);
    free(dir);
}

/* Frames a record by hand (for damage the writer cannot produce). */
static size_t frame(uint8_t *out, uint8_t type, const uint8_t *payload, uint32_t len)
{
    dw_tsdb_put_le32(out, len);
    out[4] = type;
    memcpy(out + DW_TSDB_WAL_HDR, payload, len);
    uint32_t crc = dw_tsdb_crc32c(dw_tsdb_crc32c(0, out, 5), payload, len);
    dw_tsdb_put_le32(out + 5, crc);
    return DW_TSDB_WAL_HDR + len;
}

TEST(wal_replay_checks_record_limits_and_contents)
{
    char *dir = tmpdir_new();
    uint8_t buf[256] = {0};
    size_t n = 0;
    /* A good sample record, an unknown type (skipped), then a length over the limit. */
    struct dw_buf rec;
    dw_buf_init(&rec, 0);
    struct dw_tsdb_wal_sample s = sample_no(0);
    ASSERT_EQ_INT(dw_tsdb_walrec_put_samples(&rec, &s, 1, NULL), 0);
    memcpy(buf, rec.data, rec.len);
    n += rec.len;
    n += frame(buf + n, 99, (const uint8_t *)"future", 6);
    size_t good = n;
    dw_tsdb_put_le32(buf + n, DW_TSDB_WAL_RECORD_MAX + 1);
    buf[n + 4] = DW_TSDB_REC_SAMPLES;
    n += DW_TSDB_WAL_HDR + 4;
    file_write(dir, "00000001", buf, n);
    struct collector c = {0};
    struct dw_tsdb_wal_handler h = handler_for(&c);
    struct dw_tsdb_wal_replay_stats st;
    capture_logs();
    ASSERT_EQ_INT(dw_tsdb_wal_replay(dir, &h, &st), 0);
    char *logs = captured_logs();
    ASSERT_CONTAINS(logs, "reason=\"record length over the limit\"");
    free(logs);
    ASSERT_EQ_UINT(st.records, 2);
    ASSERT_EQ_UINT(c.n, 1);
    ASSERT_EQ_INT(file_len(dir, "00000001"), (int64_t)good);
    collector_release(&c);

    /* Records whose checksum is right but whose payload does not decode. */
    static const uint8_t bad_samples[] = {5, 0, 1};             /* 5 samples, 1 byte left */
    static const uint8_t nul_label[] = {1, 1, 1, 1, 'a', 2, 'b', 0}; /* NUL in a value */
    static const uint8_t bad_series[] = {1, 1, 200};            /* 200 labels announced */
    static const uint8_t trailing[] = {0, 0, 9};                /* 0 samples, then garbage */
    const struct {
        uint8_t type;
        const uint8_t *p;
        uint32_t len;
    } bad[] = {
        {DW_TSDB_REC_SAMPLES, bad_samples, sizeof bad_samples},
        {DW_TSDB_REC_SERIES, nul_label, sizeof nul_label},
        {DW_TSDB_REC_SERIES, bad_series, sizeof bad_series},
        {DW_TSDB_REC_SAMPLES, trailing, sizeof trailing},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(bad); i++) {
        n = good + frame(buf + good, bad[i].type, bad[i].p, bad[i].len);
        file_write(dir, "00000001", buf, n);
        capture_logs();
        ASSERT_EQ_INT(dw_tsdb_wal_replay(dir, &h, &st), 0);
        logs = captured_logs();
        ASSERT_CONTAINS(logs, "reason=\"malformed record\"");
        free(logs);
        ASSERT_TRUE(st.damaged);
        ASSERT_EQ_UINT(c.n, 1);
        ASSERT_EQ_INT(file_len(dir, "00000001"), (int64_t)good);
        collector_release(&c);
    }
    dw_buf_release(&rec);

    /* The writer refuses a series too large for one record. */
    struct dw_tsdb_wal_opts o = test_opts(DW_TSDB_FSYNC_NEVER);
    struct dw_tsdb_wal *w = NULL;
    ASSERT_EQ_INT(dw_tsdb_wal_open(dir, &o, NULL, NULL, &w), 0);
    char *huge = dw_malloc(DW_TSDB_WAL_RECORD_MAX + 1);
    memset(huge, 'x', DW_TSDB_WAL_RECORD_MAX);
    huge[DW_TSDB_WAL_RECORD_MAX] = '\0';
    struct dw_tsdb_label l = {"big", huge};
    struct dw_tsdb_wal_series ser = {1, &l, 1};
    ASSERT_EQ_INT(dw_tsdb_wal_log_series(w, &ser, 1), DW_TSDB_ELIMIT);
    struct dw_tsdb_wal_stats ws;
    dw_tsdb_wal_get_stats(w, &ws);
    ASSERT_EQ_UINT(ws.bytes_logged, 0);
    free(huge);
    ASSERT_EQ_INT(dw_tsdb_wal_close(&w), 0);
    rm_rf(dir);
    free(dir);
}

TEST(wal_replay_propagates_callback_errors)
{
    char *dir = tmpdir_new();
    int64_t ends[3];
    size_t per[3];
    write_records(dir, 3, ends, per);
    struct collector c = {.fail_with = 42};
    struct dw_tsdb_wal_handler h = handler_for(&c);
    ASSERT_EQ_INT(dw_tsdb_wal_replay(dir, &h, NULL), 42);
    ASSERT_EQ_UINT(c.n, per[0]); /* stopped after the first record */
    ASSERT_EQ_INT(file_len(dir, "00000001"), ends[2]); /* nothing cut */
    collector_release(&c);
    /* A missing directory is an empty log. */
    ASSERT_EQ_INT(dw_tsdb_wal_replay("/nonexistent/dw-tsdb-wal", &h, NULL), 0);
    rm_rf(dir);
    free(dir);
}

TEST(wal_flush_and_sync_move_the_durable_position)
{
    char *dir = tmpdir_new();
    struct dw_tsdb_wal_opts o = test_opts(DW_TSDB_FSYNC_INTERVAL);
    o.buffer_bytes = 1024;
    o.write_before_ack = false; /* this test is about the buffered mode */
    struct dw_tsdb_wal *w = NULL;
    ASSERT_EQ_INT(dw_tsdb_wal_open(dir, &o, NULL, NULL, &w), 0);
    struct dw_tsdb_wal_sample s = sample_no(0);
    ASSERT_EQ_INT(dw_tsdb_wal_log_samples(w, &s, 1), 0);
    struct dw_tsdb_wal_stats ws;
    dw_tsdb_wal_get_stats(w, &ws);
    ASSERT_TRUE(ws.bytes_logged > 0);
    ASSERT_EQ_UINT(ws.bytes_written, 0); /* buffered */
    ASSERT_EQ_INT(file_len(dir, "00000001"), 0);
    ASSERT_EQ_INT(dw_tsdb_wal_flush(w), 0);
    dw_tsdb_wal_get_stats(w, &ws);
    ASSERT_EQ_UINT(ws.bytes_written, ws.bytes_logged);
    ASSERT_EQ_UINT(ws.bytes_synced, 0);
    ASSERT_EQ_UINT(ws.fsyncs, 0);
    ASSERT_EQ_INT(file_len(dir, "00000001"), (int64_t)ws.bytes_logged);
    ASSERT_EQ_INT(dw_tsdb_wal_sync(w), 0);
    dw_tsdb_wal_get_stats(w, &ws);
    ASSERT_EQ_UINT(ws.bytes_synced, ws.bytes_logged);
    ASSERT_EQ_UINT(ws.fsyncs, 1);
    ASSERT_EQ_INT(dw_tsdb_wal_sync(w), 0); /* nothing new: no second fsync */
    dw_tsdb_wal_get_stats(w, &ws);
    ASSERT_EQ_UINT(ws.fsyncs, 1);
    /* Past buffer_bytes the records go to the kernel without a flush call. */
    struct dw_tsdb_wal_sample many[200];
    for (size_t i = 0; i < 200; i++)
        many[i] = sample_no(i);
    ASSERT_EQ_INT(dw_tsdb_wal_log_samples(w, many, 200), 0);
    dw_tsdb_wal_get_stats(w, &ws);
    ASSERT_EQ_UINT(ws.bytes_written, ws.bytes_logged);
    ASSERT_TRUE(ws.bytes_synced < ws.bytes_logged);
    ASSERT_EQ_INT(dw_tsdb_wal_close(&w), 0);
    rm_rf(dir);
    free(dir);
}

struct appender {
    struct dw_tsdb_wal *w;
    int id;
    int bad; /* appends whose data was not durable on return */
};

static void *append_many(void *arg)
{
    struct appender *a = arg;
    for (int i = 0; i < 50; i++) {
        struct dw_tsdb_wal_sample s = sample_no((size_t)(a->id * 1000 + i));
        struct dw_tsdb_wal_stats before, after;
        dw_tsdb_wal_get_stats(a->w, &before);
        if (dw_tsdb_wal_log_samples(a->w, &s, 1) != 0)
            a->bad++;
        dw_tsdb_wal_get_stats(a->w, &after);
        /* The record ends after everything logged before the call; ALWAYS syncs it. */
        if (after.bytes_synced <= before.bytes_logged)
            a->bad++;
    }
    return NULL;
}

TEST(wal_fsync_always_syncs_before_returning_and_groups_commits)
{
    char *dir = tmpdir_new();
    struct dw_tsdb_wal_opts o = test_opts(DW_TSDB_FSYNC_ALWAYS);
    struct dw_tsdb_wal *w = NULL;
    ASSERT_EQ_INT(dw_tsdb_wal_open(dir, &o, NULL, NULL, &w), 0);
    struct dw_tsdb_wal_stats ws;
    for (int i = 0; i < 3; i++) {
        struct dw_tsdb_wal_sample s = sample_no((size_t)i);
        ASSERT_EQ_INT(dw_tsdb_wal_log_samples(w, &s, 1), 0);
        dw_tsdb_wal_get_stats(w, &ws);
        ASSERT_EQ_UINT(ws.bytes_synced, ws.bytes_logged);
        ASSERT_EQ_UINT(ws.fsyncs, (uint64_t)i + 1);
    }
    enum { NT = 4 };
    pthread_t th[NT];
    struct appender ap[NT];
    for (int i = 0; i < NT; i++) {
        ap[i] = (struct appender){w, i + 1, 0};
        pthread_create(&th[i], NULL, append_many, &ap[i]);
    }
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        ASSERT_EQ_INT(ap[i].bad, 0);
    }
    dw_tsdb_wal_get_stats(w, &ws);
    ASSERT_EQ_UINT(ws.records, 3 + NT * 50);
    ASSERT_EQ_UINT(ws.bytes_synced, ws.bytes_logged);
    ASSERT_TRUE(ws.fsyncs <= 3 + NT * 50); /* never more than one per append; shared when concurrent */
    ASSERT_EQ_INT(dw_tsdb_wal_close(&w), 0);
    struct collector c = {0};
    struct dw_tsdb_wal_handler h = handler_for(&c);
    ASSERT_EQ_INT(dw_tsdb_wal_replay(dir, &h, NULL), 0);
    ASSERT_EQ_UINT(c.n, 3 + NT * 50);
    collector_release(&c);
    rm_rf(dir);
    free(dir);
}

/* Waits (real time, at most 5 s) until the writer's counters satisfy pred. */
static bool wait_stats(struct dw_tsdb_wal *w, bool (*pred)(const struct dw_tsdb_wal_stats *))
{
    for (int i = 0; i < 500; i++) {
        struct dw_tsdb_wal_stats ws;
        dw_tsdb_wal_get_stats(w, &ws);
        if (pred(&ws))
            return true;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

static bool all_synced(const struct dw_tsdb_wal_stats *ws)
{
    return ws->bytes_synced == ws->bytes_logged && ws->fsyncs > 0;
}

static bool all_written(const struct dw_tsdb_wal_stats *ws)
{
    return ws->bytes_written == ws->bytes_logged;
}

TEST(wal_write_before_ack_reaches_the_kernel_at_once)
{
    /* The default: every acknowledged batch is in the file (kill -9 safe);
     * only the fsync waits for the interval. */
    dw_clock_set_manual(1700000000000LL);
    char *dir = tmpdir_new();
    struct dw_tsdb_wal_opts o;
    dw_tsdb_wal_opts_init(&o);
    ASSERT_TRUE(o.write_before_ack);
    struct dw_tsdb_wal *w = NULL;
    ASSERT_EQ_INT(dw_tsdb_wal_open(dir, &o, NULL, NULL, &w), 0);
    for (size_t i = 0; i < 3; i++) {
        struct dw_tsdb_wal_sample s = sample_no(i);
        ASSERT_EQ_INT(dw_tsdb_wal_log_samples(w, &s, 1), 0);
        struct dw_tsdb_wal_stats ws;
        dw_tsdb_wal_get_stats(w, &ws);
        ASSERT_EQ_UINT(ws.bytes_written, ws.bytes_logged);
        ASSERT_EQ_INT(file_len(dir, "00000001"), (int64_t)ws.bytes_logged);
        ASSERT_EQ_UINT(ws.fsyncs, 0);
    }
    dw_clock_advance(1000);
    ASSERT_TRUE(wait_stats(w, all_synced));
    ASSERT_EQ_INT(dw_tsdb_wal_close(&w), 0);
    dw_clock_set_real();
    rm_rf(dir);
    free(dir);
}

TEST(wal_fsync_interval_syncs_on_the_clock)
{
    dw_clock_set_manual(1700000000000LL);
    char *dir = tmpdir_new();
    struct dw_tsdb_wal_opts o;
    dw_tsdb_wal_opts_init(&o); /* INTERVAL, 1 s, background thread */
    o.write_before_ack = false;  /* buffered: the tick also does the write() */
    struct dw_tsdb_wal *w = NULL;
    ASSERT_EQ_INT(dw_tsdb_wal_open(dir, &o, NULL, NULL, &w), 0);
    struct dw_tsdb_wal_sample s = sample_no(1);
    ASSERT_EQ_INT(dw_tsdb_wal_log_samples(w, &s, 1), 0);
    dw_clock_advance(500);
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    struct dw_tsdb_wal_stats ws;
    dw_tsdb_wal_get_stats(w, &ws);
    ASSERT_EQ_UINT(ws.bytes_written, 0); /* before the interval: still buffered */
    ASSERT_EQ_UINT(ws.fsyncs, 0);
    dw_clock_advance(500);
    ASSERT_TRUE(wait_stats(w, all_synced));
    dw_tsdb_wal_get_stats(w, &ws);
    ASSERT_EQ_UINT(ws.fsyncs, 1);
    ASSERT_EQ_INT(dw_tsdb_wal_close(&w), 0);
    dw_clock_set_real();
    rm_rf(dir);
    free(dir);
}

TEST(wal_fsync_never_writes_on_the_clock_without_fsync)
{
    dw_clock_set_manual(1700000000000LL);
    char *dir = tmpdir_new();
    struct dw_tsdb_wal_opts o;
    dw_tsdb_wal_opts_init(&o);
    o.fsync = DW_TSDB_FSYNC_NEVER;
    struct dw_tsdb_wal *w = NULL;
    ASSERT_EQ_INT(dw_tsdb_wal_open(dir, &o, NULL, NULL, &w), 0);
    struct dw_tsdb_wal_sample s = sample_no(1);
    ASSERT_EQ_INT(dw_tsdb_wal_log_samples(w, &s, 1), 0);
    dw_clock_advance(1000);
    ASSERT_TRUE(wait_stats(w, all_written));
    struct dw_tsdb_wal_stats ws;
    dw_tsdb_wal_get_stats(w, &ws);
    ASSERT_EQ_UINT(ws.fsyncs, 0);
    ASSERT_EQ_UINT(ws.bytes_synced, 0);
    ASSERT_EQ_INT(dw_tsdb_wal_close(&w), 0);
    dw_clock_set_real();
    rm_rf(dir);
    free(dir);
}

TEST(wal_cut_and_truncate_drop_old_segments)
{
    char *dir = tmpdir_new();
    struct dw_tsdb_wal_opts o = test_opts(DW_TSDB_FSYNC_INTERVAL);
    struct dw_tsdb_wal *w = NULL;
    ASSERT_EQ_INT(dw_tsdb_wal_open(dir, &o, NULL, NULL, &w), 0);
    uint32_t seg = 0;
    ASSERT_EQ_INT(dw_tsdb_wal_cut(w, &seg), 0);
    ASSERT_EQ_UINT(seg, 1); /* nothing logged yet: no new segment */
    for (size_t i = 0; i < 4; i++) {
        struct dw_tsdb_wal_sample s = sample_no(i);
        ASSERT_EQ_INT(dw_tsdb_wal_log_samples(w, &s, 1), 0);
        ASSERT_EQ_INT(dw_tsdb_wal_cut(w, &seg), 0);
        ASSERT_EQ_UINT(seg, i + 2);
    }
    ASSERT_TRUE(path_exists(dir, "00000005"));
    ASSERT_EQ_INT(dw_tsdb_wal_truncate(w, 3), 0);
    ASSERT_FALSE(path_exists(dir, "00000001"));
    ASSERT_FALSE(path_exists(dir, "00000002"));
    ASSERT_TRUE(path_exists(dir, "00000003"));
    struct dw_tsdb_wal_stats ws;
    dw_tsdb_wal_get_stats(w, &ws);
    ASSERT_EQ_UINT(ws.first_segment, 3);
    ASSERT_EQ_INT(dw_tsdb_wal_truncate(w, 1000), 0); /* clamps: the current segment stays */
    ASSERT_FALSE(path_exists(dir, "00000004"));
    ASSERT_TRUE(path_exists(dir, "00000005"));
    ASSERT_EQ_INT(dw_tsdb_wal_close(&w), 0);
    struct collector c = {0};
    struct dw_tsdb_wal_handler h = handler_for(&c);
    struct dw_tsdb_wal_replay_stats st;
    ASSERT_EQ_INT(dw_tsdb_wal_replay(dir, &h, &st), 0);
    ASSERT_EQ_UINT(c.n, 0);
    ASSERT_EQ_UINT(st.first_segment, 5);
    collector_release(&c);
    rm_rf(dir);
    free(dir);
}

TEST(wal_checkpoint_replaces_old_segments)
{
    char *dir = tmpdir_new();
    struct dw_tsdb_wal_opts o = test_opts(DW_TSDB_FSYNC_INTERVAL);
    struct dw_tsdb_wal *w = NULL;
    ASSERT_EQ_INT(dw_tsdb_wal_open(dir, &o, NULL, NULL, &w), 0);
    struct dw_tsdb_label la = {"job", "a"}, lb = {"job", "b"};
    struct dw_tsdb_wal_series sa = {1, &la, 1}, sb = {2, &lb, 1};
    ASSERT_EQ_INT(dw_tsdb_wal_log_series(w, &sa, 1), 0);
    ASSERT_EQ_INT(dw_tsdb_wal_log_series(w, &sb, 1), 0);
    struct dw_tsdb_wal_sample s0 = sample_no(0);
    ASSERT_EQ_INT(dw_tsdb_wal_log_samples(w, &s0, 1), 0);
    uint32_t seg;
    ASSERT_EQ_INT(dw_tsdb_wal_cut(w, &seg), 0);
    ASSERT_EQ_UINT(seg, 2);
    struct dw_tsdb_wal_ckpt *ck = NULL;
    ASSERT_EQ_INT(dw_tsdb_wal_checkpoint_begin(w, 1, &ck), DW_TSDB_EINVAL);
    ASSERT_EQ_INT(dw_tsdb_wal_checkpoint_begin(w, 3, &ck), DW_TSDB_EINVAL); /* past current */
    ASSERT_NULL(ck);
    /* An aborted checkpoint leaves nothing behind. */
    ASSERT_EQ_INT(dw_tsdb_wal_checkpoint_begin(w, seg, &ck), 0);
    dw_tsdb_wal_checkpoint_abort(&ck);
    ASSERT_NULL(ck);
    ASSERT_FALSE(path_exists(dir, "checkpoint.tmp"));
    /* The head keeps series a only, and one sample it has not persisted. */
    ASSERT_EQ_INT(dw_tsdb_wal_checkpoint_begin(w, seg, &ck), 0);
    ASSERT_EQ_INT(dw_tsdb_wal_ckpt_log_series(ck, &sa, 1), 0);
    struct dw_tsdb_wal_sample s1 = sample_no(1);
    ASSERT_EQ_INT(dw_tsdb_wal_ckpt_log_samples(ck, &s1, 1), 0);
    ASSERT_EQ_INT(dw_tsdb_wal_checkpoint_commit(&ck), 0);
    ASSERT_NULL(ck);
    ASSERT_TRUE(path_exists(dir, "checkpoint.00000001"));
    ASSERT_FALSE(path_exists(dir, "00000001"));
    struct dw_tsdb_wal_sample s2 = sample_no(2);
    ASSERT_EQ_INT(dw_tsdb_wal_log_samples(w, &s2, 1), 0);
    ASSERT_EQ_INT(dw_tsdb_wal_close(&w), 0);

    struct collector c = {0};
    struct dw_tsdb_wal_handler h = handler_for(&c);
    struct dw_tsdb_wal_replay_stats st;
    ASSERT_EQ_INT(dw_tsdb_wal_replay(dir, &h, &st), 0);
    ASSERT_EQ_UINT(st.checkpoint, 1);
    ASSERT_EQ_UINT(c.n, 3);
    ASSERT_TRUE(c.ev[0].is_series && c.ev[0].ref == 1);
    ASSERT_EQ_STR(c.ev[0].labels, "job=a,");
    expect_samples(&c, 1, 1, 2);
    collector_release(&c);

    /* A crash between rename and deletion: replay skips the covered segment, open removes it. */
    ASSERT_EQ_INT(dw_tsdb_wal_open(dir, &o, NULL, NULL, &w), 0); /* segment 3 */
    ASSERT_EQ_INT(dw_tsdb_wal_cut(w, &seg), 0);
    ASSERT_EQ_INT(dw_tsdb_wal_close(&w), 0);
    size_t len;
    uint8_t *seg2 = file_read(dir, "00000002", &len);
    file_write(dir, "checkpoint.00000002", seg2, len); /* the new checkpoint holds segment 2 */
    free(seg2);
    ASSERT_EQ_INT(dw_tsdb_wal_replay(dir, &h, &st), 0);
    ASSERT_EQ_UINT(st.checkpoint, 2);
    ASSERT_EQ_UINT(c.n, 1); /* sample 2 once, not twice */
    expect_samples(&c, 0, 2, 1);
    collector_release(&c);
    ASSERT_EQ_INT(dw_tsdb_wal_open(dir, &o, NULL, NULL, &w), 0);
    ASSERT_FALSE(path_exists(dir, "00000002"));
    ASSERT_FALSE(path_exists(dir, "checkpoint.00000001"));
    ASSERT_TRUE(path_exists(dir, "checkpoint.00000002"));
    ASSERT_EQ_INT(dw_tsdb_wal_close(&w), 0);
    rm_rf(dir);
    free(dir);
}

TEST_MAIN()
