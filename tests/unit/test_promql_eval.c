/*
 * test_promql_eval.c - the PromQL evaluator beyond the conformance files:
 * limits (samples, timeout, cancellation, resolution, nesting, huge ranges,
 * huge labels), result shapes and JSON, float formatting, Prometheus
 * semantics the .test files do not reach (vector matching errors, staleness
 * in range queries, @ start()/end(), subquery alignment, downsampled data),
 * range-versus-instant consistency on random data, the in-memory storage and
 * the tsdb adapter.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "promql/promql.h"

/* ---- helpers ---- */

static struct dw_promql_memstorage *mem(void)
{
    return dw_promql_memstorage_new();
}

/* Adds samples v[0..n) at t0, t0+step, ... to the series "name{k=v,...}" given as
 * alternating label name/value strings ending in NULL. */
static void add_series(struct dw_promql_memstorage *m, const char *name, int64_t t0, int64_t step,
                       const double *v, size_t n, ...)
{
    struct dw_label l[16];
    size_t nl = 0;
    l[nl++] = (struct dw_label){"__name__", name};
    va_list ap;
    va_start(ap, n);
    for (const char *k; (k = va_arg(ap, const char *));)
        l[nl++] = (struct dw_label){k, va_arg(ap, const char *)};
    va_end(ap);
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ_INT(dw_promql_memstorage_add(m, l, nl, t0 + (int64_t)i * step, v[i]), 0);
}

static struct dw_promql_expr *parse(const char *q)
{
    struct dw_promql_expr *e = NULL;
    struct dw_promql_error err = {0};
    if (dw_promql_parse(q, strlen(q), NULL, &e, &err) < 0) {
        fprintf(stderr, "  parse %s: %s\n", q, err.msg);
        dw_promql_error_release(&err);
    }
    return e;
}

static int instant(struct dw_promql_memstorage *m, const char *q, int64_t t,
                   const struct dw_promql_eval_opts *o, struct dw_promql_result **r, char **err)
{
    struct dw_promql_expr *e = parse(q);
    if (!e)
        return 99;
    int rc = dw_promql_eval_instant(m ? dw_promql_memstorage_storage(m) : NULL, e, t, o, r, err);
    dw_promql_free(&e);
    return rc;
}

static int range(struct dw_promql_memstorage *m, const char *q, int64_t s, int64_t e_, int64_t st,
                 const struct dw_promql_eval_opts *o, struct dw_promql_result **r, char **err)
{
    struct dw_promql_expr *e = parse(q);
    if (!e)
        return 99;
    int rc =
        dw_promql_eval_range(m ? dw_promql_memstorage_storage(m) : NULL, e, s, e_, st, o, r, err);
    dw_promql_free(&e);
    return rc;
}

/* The result as JSON (the "data" object). */
static char *json(const struct dw_promql_result *r)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_promql_result_json(r, &b);
    return dw_buf_steal(&b);
}

/* Instant query that must succeed; returns its JSON. */
static char *q_json(struct dw_promql_memstorage *m, const char *q, int64_t t)
{
    struct dw_promql_result *r = NULL;
    char *err = NULL;
    int rc = instant(m, q, t, NULL, &r, &err);
    if (rc != 0) {
        fprintf(stderr, "  %s: %s\n", q, err ? err : "?");
        free(err);
        return dw_strdup("(error)");
    }
    char *s = json(r);
    dw_promql_result_free(&r);
    return s;
}

static char *r_json(struct dw_promql_memstorage *m, const char *q, int64_t s, int64_t e,
                    int64_t step)
{
    struct dw_promql_result *r = NULL;
    char *err = NULL;
    int rc = range(m, q, s, e, step, NULL, &r, &err);
    if (rc != 0) {
        fprintf(stderr, "  %s: %s\n", q, err ? err : "?");
        free(err);
        return dw_strdup("(error)");
    }
    char *j = json(r);
    dw_promql_result_free(&r);
    return j;
}

/* Instant query that must fail with code; returns the message. */
static char *q_err(struct dw_promql_memstorage *m, const char *q, int64_t t,
                   const struct dw_promql_eval_opts *o, int code)
{
    struct dw_promql_result *r = NULL;
    char *err = NULL;
    int rc = instant(m, q, t, o, &r, &err);
    dw_promql_result_free(&r);
    if (rc != code) {
        fprintf(stderr, "  %s: rc %d, want %d (%s)\n", q, rc, code, err ? err : "no error");
        free(err);
        return dw_strdup("(unexpected)");
    }
    return err;
}

static double stale_nan(void)
{
    uint64_t b = UINT64_C(0x7ff0000000000002);
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static uint64_t rng_state = 88172645463325252u;

static double rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static const double ramp[] = {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100};

/* ---- float and time formatting ---- */

static char *fmt_value(double v)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_promql_format_value(v, &b);
    return dw_buf_steal(&b);
}

static char *fmt_f(double v)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_promql_format_float_f(v, &b);
    return dw_buf_steal(&b);
}

static char *fmt_time(int64_t t)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_promql_format_time(t, &b);
    return dw_buf_steal(&b);
}

#define CHECK_FMT(fn, v, want)                                                                     \
    do {                                                                                           \
        char *s_ = fn(v);                                                                          \
        int ok_ = strcmp(s_, want) == 0;                                                           \
        if (!ok_)                                                                                  \
            fprintf(stderr, "  %s(%s) = %s, want %s\n", #fn, #v, s_, want);                        \
        free(s_);                                                                                  \
        ASSERT_TRUE(ok_);                                                                          \
    } while (0)

TEST(format_value_like_prometheus_json)
{
    CHECK_FMT(fmt_value, 0.0, "0");
    CHECK_FMT(fmt_value, -0.0, "-0");
    CHECK_FMT(fmt_value, 1.0, "1");
    CHECK_FMT(fmt_value, -2.5, "-2.5");
    CHECK_FMT(fmt_value, 0.1, "0.1");
    CHECK_FMT(fmt_value, 1.0 / 3, "0.3333333333333333");
    CHECK_FMT(fmt_value, 2.0 / 3, "0.6666666666666666");
    CHECK_FMT(fmt_value, 0.1 + 0.2, "0.30000000000000004");
    CHECK_FMT(fmt_value, 100.0, "100");
    CHECK_FMT(fmt_value, 1234567.0, "1234567");
    CHECK_FMT(fmt_value, 123456789012345678.0, "123456789012345680");
    CHECK_FMT(fmt_value, 0.000001, "0.000001");
    CHECK_FMT(fmt_value, 0.0000001, "1e-07");
    CHECK_FMT(fmt_value, 1.5e-7, "1.5e-07");
    CHECK_FMT(fmt_value, 1e21, "1e+21");
    CHECK_FMT(fmt_value, 1.5e300, "1.5e+300");
    CHECK_FMT(fmt_value, 999999999999999900000.0, "999999999999999900000");
    CHECK_FMT(fmt_value, 5e-324, "5e-324");
    CHECK_FMT(fmt_value, 1.7976931348623157e308, "1.7976931348623157e+308");
    CHECK_FMT(fmt_value, (double)NAN, "NaN");
    CHECK_FMT(fmt_value, stale_nan(), "NaN");
    CHECK_FMT(fmt_value, (double)INFINITY, "+Inf");
    CHECK_FMT(fmt_value, -(double)INFINITY, "-Inf");
}

TEST(format_float_f_never_uses_an_exponent)
{
    CHECK_FMT(fmt_f, 1e21, "1000000000000000000000");
    CHECK_FMT(fmt_f, 1e-7, "0.0000001");
    CHECK_FMT(fmt_f, 12.5, "12.5");
    CHECK_FMT(fmt_f, -0.00123, "-0.00123");
    CHECK_FMT(fmt_f, 9007199254740993.0, "9007199254740992");
    CHECK_FMT(fmt_f, (double)INFINITY, "+Inf");
}

/* The reference for the shortest digits: the first precision whose correctly
 * rounded decimal reads back as v (slow, obviously right), written as 'f'. */
static void reference_f(double v, char *out, size_t size)
{
    char tmp[64];
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
    char digs[32];
    size_t nd = 0;
    const char *p = tmp;
    bool neg = *p == '-';
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digs[nd++] = *p;
    while (nd > 1 && digs[nd - 1] == '0')
        nd--;
    int exp = (int)strtol(p + 1, NULL, 10);
    size_t k = 0;
    if (neg)
        out[k++] = '-';
    if (exp < 0) {
        out[k++] = '0';
        out[k++] = '.';
        for (int i = 0; i < -exp - 1; i++)
            out[k++] = '0';
        for (size_t i = 0; i < nd; i++)
            out[k++] = digs[i];
    } else {
        for (int i = 0; i <= exp; i++)
            out[k++] = (size_t)i < nd ? digs[i] : '0';
        if ((size_t)exp + 1 < nd) {
            out[k++] = '.';
            for (size_t i = (size_t)exp + 1; i < nd; i++)
                out[k++] = digs[i];
        }
    }
    out[k < size ? k : size - 1] = '\0';
}

TEST(shortest_digits_match_a_slow_reference)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    char want[400];
    int bad = 0;
    for (int i = 0; i < 60000 && bad < 5; i++) {
        double v;
        switch (i % 4) {
        case 0: { /* any bit pattern in the fast path's range */
            uint64_t bits = (rng_state = rng_state * 6364136223846793005u + 1442695040888963407u);
            bits = (bits & ~(UINT64_C(0x7ff) << 52)) | ((uint64_t)(1003 + i % 68) << 52);
            memcpy(&v, &bits, sizeof v);
            break;
        }
        case 1: v = (double)(int64_t)(rnd() * 1e9) / 1000; break;       /* short decimals */
        case 2: v = rnd() * 100 / (1 + rnd() * 300); break;             /* computed ratios */
        default: v = pow(10, rnd() * 44 - 22) * (rnd() < 0.5 ? -1 : 1); /* all magnitudes */
        }
        dw_buf_clear(&b);
        dw_promql_format_float_f(v, &b);
        reference_f(v, want, sizeof want);
        if (strcmp(b.data, want) != 0) {
            fprintf(stderr, "  %.17g: %s, reference %s\n", v, b.data, want);
            bad++;
        }
    }
    dw_buf_release(&b);
    ASSERT_EQ_INT(bad, 0);
}

TEST(format_time_like_prometheus)
{
    CHECK_FMT(fmt_time, (int64_t)0, "0");
    CHECK_FMT(fmt_time, (int64_t)1500, "1.500");
    CHECK_FMT(fmt_time, (int64_t)1050, "1.050");
    CHECK_FMT(fmt_time, (int64_t)1001, "1.001");
    CHECK_FMT(fmt_time, (int64_t)1435781451781, "1435781451.781");
    CHECK_FMT(fmt_time, (int64_t)-1500, "-1.500");
    CHECK_FMT(fmt_time, (int64_t)60000, "60");
}

/* ---- result shapes ---- */

TEST(result_shapes_in_json)
{
    struct dw_promql_memstorage *m = mem();
    double v[] = {1, 2, 3};
    add_series(m, "up", 0, 15000, v, 3, "job", "a<b>", "instance", "x\"y", NULL);
    char *s;

    s = q_json(m, "up", 30000);
    ASSERT_EQ_STR(s,
                  "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"up\","
                  "\"instance\":\"x\\\"y\",\"job\":\"a\\u003cb\\u003e\"},\"value\":[30,\"3\"]}]}");
    free(s);
    s = q_json(m, "up[30s]", 30000);
    ASSERT_EQ_STR(s, "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"__name__\":\"up\","
                     "\"instance\":\"x\\\"y\",\"job\":\"a\\u003cb\\u003e\"},\"values\":[[0,\"1\"],"
                     "[15,\"2\"],[30,\"3\"]]}]}");
    free(s);
    s = q_json(m, "1 / 3", 1500);
    ASSERT_EQ_STR(s, "{\"resultType\":\"scalar\",\"result\":[1.5,\"0.3333333333333333\"]}");
    free(s);
    s = q_json(m, "\"hello\\n\"", 2000);
    ASSERT_EQ_STR(s, "{\"resultType\":\"string\",\"result\":[2,\"hello\\n\"]}");
    free(s);
    s = q_json(m, "nothing_here", 2000);
    ASSERT_EQ_STR(s, "{\"resultType\":\"vector\",\"result\":[]}");
    free(s);
    s = r_json(m, "sum(up)", 0, 30000, 15000);
    ASSERT_EQ_STR(s, "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},\"values\":[[0,\"1\"],"
                     "[15,\"2\"],[30,\"3\"]]}]}");
    free(s);
    /* A scalar in a range query is one series without labels. */
    s = r_json(m, "time() * 2", 0, 2000, 1000);
    ASSERT_EQ_STR(s, "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},\"values\":[[0,\"0\"],"
                     "[1,\"2\"],[2,\"4\"]]}]}");
    free(s);
    dw_promql_memstorage_free(&m);
}

TEST(result_struct_fields)
{
    struct dw_promql_memstorage *m = mem();
    add_series(m, "a", 0, 60000, ramp, 11, "x", "1", NULL);
    add_series(m, "a", 0, 60000, ramp, 11, "x", "2", NULL);
    struct dw_promql_result *r = NULL;
    char *err = NULL;
    ASSERT_EQ_INT(range(m, "a * 2", 0, 600000, 60000, NULL, &r, &err), 0);
    ASSERT_EQ_INT(r->type, DW_PROMQL_TYPE_MATRIX);
    ASSERT_EQ_UINT(r->nseries, 2);
    ASSERT_EQ_UINT(r->series[0].nlabels, 1); /* __name__ dropped by arithmetic */
    ASSERT_EQ_STR(r->series[0].labels[0].value, "1");
    ASSERT_EQ_UINT(r->series[1].npoints, 11);
    ASSERT_EQ_INT(r->series[1].points[10].t, 600000);
    ASSERT_NEAR(r->series[1].points[10].v, 200, 0);
    ASSERT_TRUE(r->peak_samples > 0);
    dw_promql_result_free(&r);
    ASSERT_NULL(r);
    dw_promql_result_free(&r); /* NULL is a no-op */
    dw_promql_memstorage_free(&m);
}

/* ---- limits ---- */

TEST(sample_limit)
{
    struct dw_promql_memstorage *m = mem();
    double v[100];
    for (int i = 0; i < 100; i++)
        v[i] = i;
    for (int s = 0; s < 10; s++) {
        char name[8];
        snprintf(name, sizeof name, "%d", s);
        add_series(m, "load", 0, 1000, v, 100, "s", name, NULL);
    }
    struct dw_promql_eval_opts o = {.max_samples = 500};
    /* 10 series x 100 steps = 1000 points: over the limit. */
    struct dw_promql_result *r = NULL;
    char *err = NULL;
    ASSERT_EQ_INT(range(m, "load", 0, 99000, 1000, &o, &r, &err), DW_PROMQL_ETOOMANY);
    ASSERT_EQ_STR(err, "query processing would load too many samples into memory in query "
                       "execution");
    free(err);
    ASSERT_NULL(r);
    /* A range function holds one series' samples at a time: fine under the limit. */
    o.max_samples = 400;
    ASSERT_EQ_INT(instant(m, "sum(count_over_time(load[100s]))", 99000, &o, &r, &err), 0);
    ASSERT_NEAR(r->series[0].points[0].v, 1000, 0);
    ASSERT_TRUE(r->peak_samples <= 400);
    dw_promql_result_free(&r);
    /* ... but not when one series alone is over it. */
    o.max_samples = 50;
    err = q_err(m, "count_over_time(load[100s])", 99000, &o, DW_PROMQL_ETOOMANY);
    ASSERT_CONTAINS(err, "too many samples");
    free(err);
    /* Subquery steps count too, before anything is allocated. */
    err = q_err(m, "sum_over_time(vector(1)[1y:1ms])", 0, NULL, DW_PROMQL_ETOOMANY);
    ASSERT_CONTAINS(err, "too many samples");
    free(err);
    dw_promql_memstorage_free(&m);
}

TEST(timeout_with_a_tiny_budget)
{
    struct dw_promql_eval_opts o = {.timeout_ms = 1};
    int64_t t0 = dw_mono_ns();
    char *err = q_err(NULL, "max_over_time(sum_over_time(vector(time())[1h:1s])[2d:1m])", 0, &o,
                      DW_PROMQL_ETIMEOUT);
    ASSERT_EQ_STR(err, "query timed out in expression evaluation");
    free(err);
    /* It stopped early rather than finishing the work. */
    ASSERT_TRUE(dw_mono_ns() - t0 < INT64_C(5000000000));
}

TEST(cancellation_before_and_during)
{
    atomic_bool cancel = true;
    struct dw_promql_eval_opts o = {.cancel = &cancel};
    char *err = q_err(NULL, "vector(1)", 0, &o, DW_PROMQL_ECANCELED);
    ASSERT_EQ_STR(err, "query was canceled in expression evaluation");
    free(err);
    atomic_store(&cancel, false);
    struct dw_promql_result *r = NULL;
    ASSERT_EQ_INT(instant(NULL, "vector(1)", 0, &o, &r, &err), 0);
    dw_promql_result_free(&r);
}

struct canceller {
    atomic_bool *flag;
};

static void *cancel_later(void *arg)
{
    struct canceller *c = arg;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    atomic_store(c->flag, true);
    return NULL;
}

TEST(cancellation_from_another_thread)
{
    atomic_bool cancel = false;
    struct canceller c = {&cancel};
    pthread_t th;
    ASSERT_EQ_INT(pthread_create(&th, NULL, cancel_later, &c), 0);
    struct dw_promql_eval_opts o = {.cancel = &cancel, .timeout_ms = -1, .max_samples = 1000000000};
    int64_t t0 = dw_mono_ns();
    /* About a minute of work if nothing stops it. */
    char *err = q_err(NULL, "max_over_time(sum_over_time(vector(time())[1d:1s])[30d:1m])", 0, &o,
                      DW_PROMQL_ECANCELED);
    pthread_join(th, NULL);
    ASSERT_CONTAINS(err, "canceled");
    free(err);
    ASSERT_TRUE(dw_mono_ns() - t0 < INT64_C(10000000000));
}

TEST(range_query_checks)
{
    struct dw_promql_result *r = NULL;
    char *err = NULL;
    ASSERT_EQ_INT(range(NULL, "1", 0, 11001 * 1000, 1000, NULL, &r, &err), DW_PROMQL_EBAD);
    ASSERT_EQ_STR(err, "exceeded maximum resolution of 11,000 points per timeseries. Try "
                       "decreasing the query resolution (?step=XX)");
    free(err);
    /* 11,000 intervals (11,001 points) are still allowed, like the Prometheus API. */
    ASSERT_EQ_INT(range(NULL, "1", 0, 11000 * 1000, 1000, NULL, &r, &err), 0);
    ASSERT_EQ_UINT(r->series[0].npoints, 11001);
    dw_promql_result_free(&r);
    struct dw_promql_eval_opts o = {.max_points = 10};
    ASSERT_EQ_INT(range(NULL, "1", 0, 11000, 1000, &o, &r, &err), DW_PROMQL_EBAD);
    ASSERT_CONTAINS(err, "maximum resolution of 10 points");
    free(err);
    ASSERT_EQ_INT(range(NULL, "1", 0, 1000, 0, NULL, &r, &err), DW_PROMQL_EBAD);
    ASSERT_CONTAINS(err, "zero or negative query resolution step");
    free(err);
    ASSERT_EQ_INT(range(NULL, "1", 5000, 1000, 1000, NULL, &r, &err), DW_PROMQL_EBAD);
    ASSERT_CONTAINS(err, "end timestamp must not be before start time");
    free(err);
    ASSERT_EQ_INT(range(NULL, "x[5m]", 0, 1000, 1000, NULL, &r, &err), DW_PROMQL_EBAD);
    ASSERT_EQ_STR(err, "invalid expression type \"range vector\" for range query, must be Scalar "
                       "or instant Vector");
    free(err);
    ASSERT_EQ_INT(range(NULL, "\"s\"", 0, 1000, 1000, NULL, &r, &err), DW_PROMQL_EBAD);
    free(err);
}

TEST(deep_nesting_is_an_error_not_a_crash)
{
    /* The parser's limit could be raised by a caller; the engine still refuses. */
    struct dw_buf b;
    dw_buf_init(&b, 0);
    for (int i = 0; i < 3000; i++)
        dw_buf_puts(&b, "abs(");
    dw_buf_puts(&b, "vector(1)");
    for (int i = 0; i < 3000; i++)
        dw_buf_putc(&b, ')');
    struct dw_promql_limits lim = {.max_depth = 5000};
    struct dw_promql_expr *e = NULL;
    struct dw_promql_error perr = {0};
    ASSERT_EQ_INT(dw_promql_parse(b.data, b.len, &lim, &e, &perr), 0);
    struct dw_promql_result *r = NULL;
    char *err = NULL;
    ASSERT_EQ_INT(dw_promql_eval_instant(NULL, e, 0, NULL, &r, &err), DW_PROMQL_EBAD);
    ASSERT_CONTAINS(err, "nesting too deep");
    free(err);
    dw_promql_free(&e);
    dw_buf_release(&b);
    /* At the parser's default limit everything evaluates. */
    dw_buf_init(&b, 0);
    for (int i = 0; i < 100; i++)
        dw_buf_puts(&b, "-(");
    dw_buf_puts(&b, "vector(2)");
    for (int i = 0; i < 100; i++)
        dw_buf_putc(&b, ')');
    ASSERT_EQ_INT(dw_promql_parse(b.data, b.len, NULL, &e, &perr), 0);
    ASSERT_EQ_INT(dw_promql_eval_instant(NULL, e, 0, NULL, &r, &err), 0);
    ASSERT_NEAR(r->series[0].points[0].v, 2, 0);
    dw_promql_result_free(&r);
    dw_promql_free(&e);
    dw_buf_release(&b);
}

TEST(huge_ranges_and_offsets)
{
    struct dw_promql_memstorage *m = mem();
    add_series(m, "c", 0, 60000, ramp, 11, NULL);
    struct dw_promql_result *r = NULL;
    char *err = NULL;
    /* Windows and offsets far beyond the data, also near the int64 limits. */
    ASSERT_EQ_INT(instant(m, "count_over_time(c[290y])", 600000, NULL, &r, &err), 0);
    ASSERT_NEAR(r->series[0].points[0].v, 11, 0);
    dw_promql_result_free(&r);
    ASSERT_EQ_INT(instant(m, "rate(c[290y] offset -289y)", 600000, NULL, &r, &err), 0);
    ASSERT_EQ_UINT(r->nseries, 1);
    dw_promql_result_free(&r);
    ASSERT_EQ_INT(instant(m, "c offset 290y", 600000, NULL, &r, &err), 0);
    ASSERT_EQ_UINT(r->nseries, 0);
    dw_promql_result_free(&r);
    ASSERT_EQ_INT(instant(m, "c @ 9223372036854775.807 offset -290y", 0, NULL, &r, &err), 0);
    ASSERT_EQ_UINT(r->nseries, 0);
    dw_promql_result_free(&r);
    ASSERT_EQ_INT(instant(m, "sum_over_time(c[1h:290y])", 600000, NULL, &r, &err), 0);
    dw_promql_result_free(&r);
    ASSERT_EQ_INT(range(m, "c", INT64_MIN / 2, INT64_MIN / 2 + 600000, 60000, NULL, &r, &err), 0);
    ASSERT_EQ_UINT(r->nseries, 0);
    dw_promql_result_free(&r);
    dw_promql_memstorage_free(&m);
}

TEST(enormous_label_values_are_refused)
{
    struct dw_promql_memstorage *m = mem();
    char *big = malloc(40001);
    memset(big, 'x', 40000);
    big[40000] = '\0';
    double one = 1;
    add_series(m, "big", 0, 1000, &one, 1, "a", big, NULL);
    char *err = q_err(m, "label_join(big, \"b\", \"-\", \"a\", \"a\")", 0, NULL, DW_PROMQL_EEXEC);
    ASSERT_CONTAINS(err, "label value longer than 65536 bytes");
    free(err);
    err =
        q_err(m, "label_replace(big, \"b\", \"$1$1\", \"a\", \"(.*)\")", 0, NULL, DW_PROMQL_EEXEC);
    ASSERT_CONTAINS(err, "label_replace");
    free(err);
    /* One copy fits. */
    struct dw_promql_result *r = NULL;
    ASSERT_EQ_INT(instant(m, "label_join(big, \"b\", \"-\", \"a\")", 0, NULL, &r, &err), 0);
    ASSERT_EQ_UINT(strlen(r->series[0].labels[1].value), 40000);
    dw_promql_result_free(&r);
    free(big);
    dw_promql_memstorage_free(&m);
}

/* ---- semantics ---- */

TEST(vector_matching_errors_like_prometheus)
{
    struct dw_promql_memstorage *m = mem();
    double one = 1;
    add_series(m, "l", 0, 1000, &one, 1, "a", "1", "b", "x", NULL);
    add_series(m, "l", 0, 1000, &one, 1, "a", "1", "b", "y", NULL);
    add_series(m, "r", 0, 1000, &one, 1, "a", "1", "c", "p", NULL);
    add_series(m, "r", 0, 1000, &one, 1, "a", "1", "c", "q", NULL);
    char *err = q_err(m, "l + on(a) r", 0, NULL, DW_PROMQL_EEXEC);
    ASSERT_EQ_STR(err, "found duplicate series for the match group {a=\"1\"} on the right "
                       "hand-side of the operation: [{__name__=\"r\", a=\"1\", c=\"q\"}, "
                       "{__name__=\"r\", a=\"1\", c=\"p\"}];many-to-many matching not allowed: "
                       "matching labels must be unique on one side");
    free(err);
    err = q_err(m, "r + on(a) group_right sum by (a) (l)", 0, NULL, DW_PROMQL_EEXEC);
    ASSERT_CONTAINS(err, "found duplicate series for the match group {a=\"1\"} on the left");
    free(err);
    err = q_err(m, "l + on(a) sum by (a) (r)", 0, NULL, DW_PROMQL_EEXEC);
    ASSERT_EQ_STR(err, "multiple matches for labels: many-to-one matching must be explicit "
                       "(group_left/group_right)");
    free(err);
    /* With group_left the same query is fine: each l gets the sum of r. */
    char *s = q_json(m, "l + on(a) group_left sum by (a) (r)", 0);
    ASSERT_EQ_STR(s, "{\"resultType\":\"vector\",\"result\":["
                     "{\"metric\":{\"a\":\"1\",\"b\":\"x\"},\"value\":[0,\"3\"]},"
                     "{\"metric\":{\"a\":\"1\",\"b\":\"y\"},\"value\":[0,\"3\"]}]}");
    free(s);
    dw_promql_memstorage_free(&m);
}

TEST(group_left_copies_labels_from_the_one_side)
{
    struct dw_promql_memstorage *m = mem();
    double v2 = 2, v10 = 10;
    add_series(m, "req", 0, 1000, &v10, 1, "job", "api", "code", "200", NULL);
    add_series(m, "req", 0, 1000, &v2, 1, "job", "api", "code", "500", NULL);
    add_series(m, "info", 0, 1000, &v2, 1, "job", "api", "team", "core", NULL);
    char *s = q_json(m, "req * on(job) group_left(team) info", 0);
    ASSERT_EQ_STR(s, "{\"resultType\":\"vector\",\"result\":["
                     "{\"metric\":{\"code\":\"200\",\"job\":\"api\",\"team\":\"core\"},"
                     "\"value\":[0,\"20\"]},"
                     "{\"metric\":{\"code\":\"500\",\"job\":\"api\",\"team\":\"core\"},"
                     "\"value\":[0,\"4\"]}]}");
    free(s);
    /* Comparison filters keep the name; bool drops it. */
    s = q_json(m, "req > on(job) group_left info", 0);
    ASSERT_CONTAINS(s, "\"__name__\":\"req\",\"code\":\"200\"");
    ASSERT_NOT_CONTAINS(s, "\"500\"");
    free(s);
    s = q_json(m, "req > bool on(job) group_left info", 0);
    ASSERT_NOT_CONTAINS(s, "__name__");
    ASSERT_CONTAINS(s, "\"value\":[0,\"0\"]");
    free(s);
    /* Grouping labels that do not make the result unique. */
    add_series(m, "info", 0, 1000, &v2, 1, "job", "api", "team", "other", NULL);
    char *err = q_err(m, "req * on(job) group_left(team) info", 0, NULL, DW_PROMQL_EEXEC);
    ASSERT_CONTAINS(err, "found duplicate series for the match group {job=\"api\"}");
    free(err);
    dw_promql_memstorage_free(&m);
}

TEST(staleness_and_lookback_in_range_queries)
{
    struct dw_promql_memstorage *m = mem();
    struct dw_label l[] = {{"__name__", "s"}};
    dw_promql_memstorage_add(m, l, 1, 0, 1);
    dw_promql_memstorage_add(m, l, 1, 60000, 2);
    dw_promql_memstorage_add(m, l, 1, 120000, stale_nan());
    dw_promql_memstorage_add(m, l, 1, 600000, 3);
    char *s = r_json(m, "s", 0, 1200000, 60000);
    /* 2 lasts until the marker at 2m; nothing until 10m; 3 lasts 5m (inclusive). */
    ASSERT_EQ_STR(s, "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"__name__\":\"s\"},"
                     "\"values\":[[0,\"1\"],[60,\"2\"],[600,\"3\"],[660,\"3\"],[720,\"3\"],"
                     "[780,\"3\"],[840,\"3\"],[900,\"3\"]]}]}");
    free(s);
    struct dw_promql_eval_opts o = {.lookback_ms = 60000};
    struct dw_promql_result *r = NULL;
    char *err = NULL;
    ASSERT_EQ_INT(range(m, "s", 600000, 720000, 60000, &o, &r, &err), 0);
    ASSERT_EQ_UINT(r->series[0].npoints, 2);
    dw_promql_result_free(&r);
    /* Range functions skip markers. */
    s = q_json(m, "count_over_time(s[10m])", 600000);
    ASSERT_CONTAINS(s, "\"value\":[600,\"3\"]");
    free(s);
    dw_promql_memstorage_free(&m);
}

TEST(rate_extrapolation_by_hand)
{
    struct dw_promql_memstorage *m = mem();
    /* Samples at 15s, 30s, ... 285s of a counter growing 10 per sample, reset at 150s. */
    struct dw_label l[] = {{"__name__", "ctr"}};
    double v = 5;
    for (int i = 1; i <= 19; i++) {
        if (i == 10)
            v = 3;
        dw_promql_memstorage_add(m, l, 1, i * 15000, v);
        v += 10;
    }
    struct dw_promql_result *r = NULL;
    char *err = NULL;
    ASSERT_EQ_INT(instant(m, "increase(ctr[5m])", 300000, NULL, &r, &err), 0);
    /* Raw increase: last - first + value before the reset = 93 - 5 + 85 = 173 over
     * 270 s sampled; 15 s to both ends, below 1.1 x 15 s, so extrapolated to the full
     * 300 s, except that the zero point lies 270 * 5/173 = 7.8 s before the first. */
    double result = 93.0 - 5 + 85, sampled = 270, to_start = sampled * (5 / result);
    double want = result * ((sampled + to_start + 15) / sampled);
    ASSERT_NEAR(r->series[0].points[0].v, want, 1e-9);
    dw_promql_result_free(&r);
    ASSERT_EQ_INT(instant(m, "rate(ctr[5m])", 300000, NULL, &r, &err), 0);
    ASSERT_NEAR(r->series[0].points[0].v, want / 300, 1e-12);
    dw_promql_result_free(&r);
    /* delta does not correct resets or stop at zero: 88 extrapolated by 300/270. */
    ASSERT_EQ_INT(instant(m, "delta(ctr[5m])", 300000, NULL, &r, &err), 0);
    ASSERT_NEAR(r->series[0].points[0].v, 88.0 * 300 / 270, 1e-9);
    dw_promql_result_free(&r);
    /* Fewer than two samples: no result. */
    ASSERT_EQ_INT(instant(m, "rate(ctr[10s])", 300000, NULL, &r, &err), 0);
    ASSERT_EQ_UINT(r->nseries, 0);
    dw_promql_result_free(&r);
    dw_promql_memstorage_free(&m);
}

TEST(at_start_end_and_subquery_alignment)
{
    struct dw_promql_memstorage *m = mem();
    add_series(m, "g", 0, 60000, ramp, 11, NULL);
    /* @ start() and @ end() pin every step of a range query. */
    char *s = r_json(m, "g @ start()", 120000, 240000, 60000);
    ASSERT_CONTAINS(s, "[[120,\"20\"],[180,\"20\"],[240,\"20\"]]");
    free(s);
    s = r_json(m, "g @ end()", 120000, 240000, 60000);
    ASSERT_CONTAINS(s, "[[120,\"40\"],[180,\"40\"],[240,\"40\"]]");
    free(s);
    /* Subquery steps are multiples of the step from the epoch: at 5m30s, [2m:1m] sees
     * 4m and 5m (not 3m30s, 4m30s, 5m30s). */
    s = q_json(m, "sum_over_time(g[2m:1m])", 330000);
    ASSERT_CONTAINS(s, "\"value\":[330,\"90\"]");
    free(s);
    s = q_json(m, "count_over_time(g[2m:1m])", 330000);
    ASSERT_CONTAINS(s, "\"value\":[330,\"2\"]");
    free(s);
    /* The default subquery step is 1m, or what the options say. */
    s = q_json(m, "count_over_time(g[10m:])", 600000);
    ASSERT_CONTAINS(s, "\"value\":[600,\"11\"]");
    free(s);
    struct dw_promql_eval_opts o = {.subquery_step_ms = 300000};
    struct dw_promql_result *r = NULL;
    char *err = NULL;
    ASSERT_EQ_INT(instant(m, "count_over_time(g[10m:])", 600000, &o, &r, &err), 0);
    ASSERT_NEAR(r->series[0].points[0].v, 3, 0);
    dw_promql_result_free(&r);
    /* predict_linear's intercept is the evaluation time. */
    s = q_json(m, "predict_linear(g[5m], 60)", 600000);
    ASSERT_CONTAINS(s, "\"value\":[600,\"110\"]");
    free(s);
    dw_promql_memstorage_free(&m);
}

TEST(topk_sort_and_count_values_order)
{
    struct dw_promql_memstorage *m = mem();
    const char *ids[] = {"a", "b", "c", "d", "e"};
    double vals[] = {3, 9, 1, 7, 9};
    for (int i = 0; i < 5; i++)
        add_series(m, "x", 0, 1000, &vals[i], 1, "id", ids[i], NULL);
    char *s = q_json(m, "topk(3, x)", 0);
    /* Ties keep the first seen (b before e), best first. */
    ASSERT_CONTAINS(s, "\"id\":\"b\"},\"value\":[0,\"9\"]},{\"metric\":{\"__name__\":\"x\","
                       "\"id\":\"e\"},\"value\":[0,\"9\"]},{\"metric\":{\"__name__\":\"x\","
                       "\"id\":\"d\"}");
    free(s);
    s = q_json(m, "bottomk(1, x)", 0);
    ASSERT_CONTAINS(s, "\"id\":\"c\"");
    ASSERT_NOT_CONTAINS(s, "\"id\":\"a\"");
    free(s);
    s = q_json(m, "sort_desc(x)", 0);
    char *p1 = strstr(s, "\"d\""), *p2 = strstr(s, "\"a\""), *p3 = strstr(s, "\"c\"");
    ASSERT_TRUE(p1 && p2 && p3 && p1 < p2 && p2 < p3);
    free(s);
    s = q_json(m, "count_values(\"v\", x)", 0);
    ASSERT_CONTAINS(s, "{\"metric\":{\"v\":\"9\"},\"value\":[0,\"2\"]}");
    free(s);
    char *err = q_err(m, "count_values(\"0bad\", x)", 0, NULL, DW_PROMQL_EEXEC);
    ASSERT_EQ_STR(err, "invalid label name \"0bad\"");
    free(err);
    err = q_err(m, "topk(1e300, x)", 0, NULL, DW_PROMQL_EEXEC);
    ASSERT_EQ_STR(err, "Scalar value 1e+300 overflows int64");
    free(err);
    /* topk in a range query picks per step. */
    double up[] = {1, 5}, down[] = {5, 1};
    add_series(m, "y", 0, 60000, up, 2, "id", "up", NULL);
    add_series(m, "y", 0, 60000, down, 2, "id", "down", NULL);
    s = r_json(m, "topk(1, y)", 0, 60000, 60000);
    ASSERT_CONTAINS(s, "\"id\":\"down\"},\"values\":[[0,\"5\"]]");
    ASSERT_CONTAINS(s, "\"id\":\"up\"},\"values\":[[60,\"5\"]]");
    free(s);
    dw_promql_memstorage_free(&m);
}

TEST(native_histogram_functions_drop_float_samples)
{
    /* Like Prometheus on float data: nothing passes, the result is empty. */
    static const char *const qs[] = {"histogram_count(vector(1))", "histogram_sum(vector(2))",
                                     "histogram_fraction(0, 1, vector(3))"};
    for (size_t i = 0; i < DW_ARRAY_LEN(qs); i++) {
        char *s = q_json(NULL, qs[i], 0);
        ASSERT_EQ_STR(s, "{\"resultType\":\"vector\",\"result\":[]}");
        free(s);
    }
}

TEST(holt_winters_factors_checked)
{
    struct dw_promql_memstorage *m = mem();
    add_series(m, "h", 0, 60000, ramp, 11, NULL);
    char *err = q_err(m, "holt_winters(h[5m], 1.5, 0.5)", 600000, NULL, DW_PROMQL_EEXEC);
    ASSERT_EQ_STR(err, "invalid smoothing factor. Expected: 0 < sf < 1, got: 1.500000");
    free(err);
    char *s = q_json(m, "holt_winters(h[5m], 0.5, 0.5)", 600000);
    ASSERT_CONTAINS(s, "\"value\":[600,\"100\"]"); /* a straight line is followed exactly */
    free(s);
    dw_promql_memstorage_free(&m);
}

/* ---- downsampled data ---- */

struct spy {
    struct dw_promql_storage st;
    const struct dw_promql_storage *inner;
    struct dw_promql_select_hints last;
    int selects;
    bool fail;
};

static int spy_select(void *ctx, const struct dw_promql_matcher *ms, size_t n,
                      const struct dw_promql_select_hints *h, struct dw_promql_series_set **out,
                      char **err)
{
    struct spy *s = ctx;
    s->last = *h;
    s->selects++;
    if (s->fail) {
        *err = dw_strdup("disk on fire");
        return -1;
    }
    return s->inner->ops->select(s->inner->ctx, ms, n, h, out, err);
}

static void spy_info(void *ctx, struct dw_promql_storage_info *info)
{
    struct spy *s = ctx;
    s->inner->ops->info(s->inner->ctx, info);
}

static const struct dw_promql_storage_ops spy_ops = {spy_select, spy_info};

static void spy_init(struct spy *s, struct dw_promql_memstorage *m)
{
    memset(s, 0, sizeof *s);
    s->st.ops = &spy_ops;
    s->st.ctx = s;
    s->inner = dw_promql_memstorage_storage(m);
}

TEST(coarse_steps_read_downsampled_data)
{
    struct dw_promql_memstorage *m = mem();
    const int64_t day = 86400000, h = 3600000, res = 300000;
    struct dw_label l[] = {{"__name__", "temp"}};
    /* Raw samples every 15 s for the last 2 days of a 30-day history; 5m downsampled
     * samples for all 30 days; raw data older than 2 days has aged out. */
    for (int64_t t = 28 * day; t <= 30 * day; t += 15000)
        dw_promql_memstorage_add(m, l, 1, t, 1);
    for (int64_t t = 0; t <= 30 * day; t += res)
        dw_promql_memstorage_add_downsampled(m, l, 1, res, t, 2);
    dw_promql_memstorage_add(m, l, 1, day, 99); /* aged out: never seen */
    dw_promql_memstorage_set_raw_min(m, 28 * day);
    struct spy spy;
    spy_init(&spy, m);
    struct dw_promql_expr *e = parse("temp");
    struct dw_promql_result *r = NULL;
    char *err = NULL;
    /* A 1h step over days 10-11 reads the 5m tier. */
    ASSERT_EQ_INT(dw_promql_eval_range(&spy.st, e, 10 * day, 11 * day, h, NULL, &r, &err), 0);
    ASSERT_EQ_INT(spy.last.resolution_ms, res);
    ASSERT_EQ_INT(spy.last.step_ms, h);
    ASSERT_EQ_UINT(r->nwarnings, 1);
    ASSERT_EQ_STR(r->warnings[0], "raw samples have aged out: read data downsampled to 5m");
    ASSERT_EQ_UINT(r->nseries, 1);
    ASSERT_EQ_UINT(r->series[0].npoints, 25);
    ASSERT_NEAR(r->series[0].points[0].v, 2, 0);
    dw_promql_result_free(&r);
    /* A fine step over the same days asks for raw data, which is gone. */
    ASSERT_EQ_INT(dw_promql_eval_range(&spy.st, e, 10 * day, 10 * day + h, 60000, NULL, &r, &err),
                  0);
    ASSERT_EQ_INT(spy.last.resolution_ms, 0);
    ASSERT_EQ_UINT(r->nseries, 0);
    dw_promql_result_free(&r);
    /* Recent data: raw even at a coarse step. */
    ASSERT_EQ_INT(dw_promql_eval_range(&spy.st, e, 29 * day, 30 * day, h, NULL, &r, &err), 0);
    ASSERT_EQ_INT(spy.last.resolution_ms, 0);
    ASSERT_EQ_UINT(r->nwarnings, 0);
    ASSERT_NEAR(r->series[0].points[0].v, 1, 0);
    dw_promql_result_free(&r);
    /* A window across the boundary gets downsampled then raw samples. */
    dw_promql_free(&e);
    e = parse("count_over_time(temp[1h])");
    ASSERT_EQ_INT(
        dw_promql_eval_range(&spy.st, e, 28 * day + h / 2, 28 * day + h / 2, h, NULL, &r, &err), 0);
    ASSERT_EQ_INT(spy.last.resolution_ms, res);
    ASSERT_EQ_STR(spy.last.func, "count_over_time");
    ASSERT_EQ_INT(spy.last.range_ms, h);
    /* 30 min of 5m samples (6, the boundary one is raw) + 30 min of raw (121). */
    ASSERT_NEAR(r->series[0].points[0].v, 6 + 121, 0);
    dw_promql_result_free(&r);
    dw_promql_free(&e);
    /* A 1h tier reaching back further: the finest tier still wins where it has data,
     * the coarser one where only it reaches back. */
    for (int64_t t = -30 * day; t <= 30 * day; t += h)
        dw_promql_memstorage_add_downsampled(m, l, 1, h, t, 3);
    e = parse("temp");
    ASSERT_EQ_INT(dw_promql_eval_range(&spy.st, e, 10 * day, 11 * day, h, NULL, &r, &err), 0);
    ASSERT_EQ_INT(spy.last.resolution_ms, res);
    ASSERT_NEAR(r->series[0].points[0].v, 2, 0);
    dw_promql_result_free(&r);
    ASSERT_EQ_INT(dw_promql_eval_range(&spy.st, e, -10 * day, -9 * day, h, NULL, &r, &err), 0);
    ASSERT_EQ_INT(spy.last.resolution_ms, h);
    ASSERT_NEAR(r->series[0].points[0].v, 3, 0);
    dw_promql_result_free(&r);
    /* ... but only when the step is at least that coarse. */
    ASSERT_EQ_INT(dw_promql_eval_range(&spy.st, e, -10 * day, -9 * day, 30 * 60000, NULL, &r, &err),
                  0);
    ASSERT_EQ_INT(spy.last.resolution_ms, res);
    ASSERT_EQ_UINT(r->nseries, 0);
    dw_promql_result_free(&r);
    dw_promql_free(&e);
    dw_promql_memstorage_free(&m);
}

TEST(storage_errors_are_reported)
{
    struct dw_promql_memstorage *m = mem();
    struct spy spy;
    spy_init(&spy, m);
    spy.fail = true;
    struct dw_promql_expr *e = parse("sum(rate(x[5m])) + y");
    struct dw_promql_result *r = NULL;
    char *err = NULL;
    ASSERT_EQ_INT(dw_promql_eval_instant(&spy.st, e, 0, NULL, &r, &err), DW_PROMQL_ESTORAGE);
    ASSERT_EQ_STR(err, "expanding series: disk on fire");
    ASSERT_EQ_INT(spy.selects, 1);
    free(err);
    dw_promql_free(&e);
    dw_promql_memstorage_free(&m);
}

TEST(one_selection_per_selector_in_range_queries)
{
    struct dw_promql_memstorage *m = mem();
    add_series(m, "g", 0, 60000, ramp, 11, NULL);
    struct spy spy;
    spy_init(&spy, m);
    struct dw_promql_expr *e = parse("rate(g[5m]) + g");
    struct dw_promql_result *r = NULL;
    char *err = NULL;
    ASSERT_EQ_INT(dw_promql_eval_range(&spy.st, e, 0, 600000, 15000, NULL, &r, &err), 0);
    ASSERT_EQ_INT(spy.selects, 2);
    ASSERT_EQ_INT(spy.last.start_ms, -300000); /* 0 - lookback */
    ASSERT_EQ_INT(spy.last.end_ms, 600000);
    dw_promql_result_free(&r);
    dw_promql_free(&e);
    dw_promql_memstorage_free(&m);
}

/* ---- the in-memory storage ---- */

TEST(memstorage_keeps_bits_and_replaces_duplicates)
{
    struct dw_promql_memstorage *m = mem();
    struct dw_label l[] = {{"job", "j"}, {"__name__", "m"}, {"empty", ""}};
    double odd_nan;
    uint64_t bits = UINT64_C(0x7ff8000000000123);
    memcpy(&odd_nan, &bits, sizeof odd_nan);
    ASSERT_EQ_INT(dw_promql_memstorage_add(m, l, 3, 2000, stale_nan()), 0);
    ASSERT_EQ_INT(dw_promql_memstorage_add(m, l, 3, 1000, odd_nan), 0);
    ASSERT_EQ_INT(dw_promql_memstorage_add(m, l, 3, 3000, 1), 0);
    ASSERT_EQ_INT(dw_promql_memstorage_add(m, l, 3, 3000, 2), 0); /* replaces */
    struct dw_label bad[] = {{"0x", "v"}};
    ASSERT_EQ_INT(dw_promql_memstorage_add(m, bad, 1, 0, 1), -1);
    struct dw_label dup[] = {{"a", "1"}, {"a", "2"}};
    ASSERT_EQ_INT(dw_promql_memstorage_add(m, dup, 2, 0, 1), -1);
    size_t ns, nsamples;
    dw_promql_memstorage_stats(m, &ns, &nsamples);
    ASSERT_EQ_UINT(ns, 1);
    ASSERT_EQ_UINT(nsamples, 3);
    /* Read it back through the interface. */
    const struct dw_promql_storage *st = dw_promql_memstorage_storage(m);
    struct dw_promql_expr *e = parse("m{job=\"j\"}");
    const struct dw_promql_node *root = dw_promql_root(e);
    struct dw_promql_select_hints h = {0, 5000, 0, 0, NULL, 0};
    struct dw_promql_series_set *ss = NULL;
    char *err = NULL;
    ASSERT_EQ_INT(
        st->ops->select(st->ctx, root->u.vs.matchers, root->u.vs.nmatchers, &h, &ss, &err), 0);
    ASSERT_TRUE(ss->ops->next(ss));
    size_t nl;
    const struct dw_label *got = ss->ops->labels(ss, &nl);
    ASSERT_EQ_UINT(nl, 2);
    ASSERT_EQ_STR(got[0].name, "__name__");
    int64_t t;
    double v;
    uint64_t b;
    ASSERT_TRUE(ss->ops->sample_next(ss, &t, &v));
    memcpy(&b, &v, sizeof b);
    ASSERT_EQ_UINT(b, UINT64_C(0x7ff8000000000123));
    ASSERT_TRUE(ss->ops->sample_next(ss, &t, &v));
    memcpy(&b, &v, sizeof b);
    ASSERT_EQ_UINT(b, UINT64_C(0x7ff0000000000002));
    ASSERT_TRUE(ss->ops->sample_seek(ss, 1500, &t, &v)); /* never backwards */
    ASSERT_EQ_INT(t, 2000);
    ASSERT_TRUE(ss->ops->sample_seek(ss, 2500, &t, &v));
    ASSERT_EQ_INT(t, 3000);
    ASSERT_NEAR(v, 2, 0);
    ASSERT_FALSE(ss->ops->sample_next(ss, &t, &v));
    ASSERT_FALSE(ss->ops->next(ss));
    ss->ops->close(ss);
    dw_promql_free(&e);
    dw_promql_memstorage_clear(m);
    dw_promql_memstorage_stats(m, &ns, &nsamples);
    ASSERT_EQ_UINT(ns + nsamples, 0);
    dw_promql_memstorage_free(&m);
    ASSERT_NULL(m);
    dw_promql_memstorage_free(&m);
}

/* ---- range evaluation agrees with instant evaluation at every step ---- */

static bool same_value(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b || fabs(a - b) <= 1e-9 * (fabs(a) + fabs(b));
}

static bool same_labels(const struct dw_promql_series *a, const struct dw_promql_series *b)
{
    if (a->nlabels != b->nlabels)
        return false;
    for (size_t i = 0; i < a->nlabels; i++)
        if (strcmp(a->labels[i].name, b->labels[i].name) ||
            strcmp(a->labels[i].value, b->labels[i].value))
            return false;
    return true;
}

/* Compares the point at t of every range series with the instant result at t. */
static int check_step(const struct dw_promql_result *rg, const struct dw_promql_result *in,
                      int64_t t, const char *q)
{
    size_t found = 0;
    for (size_t i = 0; i < rg->nseries; i++) {
        const struct dw_promql_series *s = &rg->series[i];
        for (size_t k = 0; k < s->npoints; k++) {
            if (s->points[k].t != t)
                continue;
            found++;
            double want = NAN;
            bool ok = false;
            if (in->type == DW_PROMQL_TYPE_SCALAR) {
                want = in->scalar.v;
                ok = true;
            }
            for (size_t j = 0; j < in->nseries && !ok; j++)
                if (same_labels(s, &in->series[j])) {
                    want = in->series[j].points[0].v;
                    ok = true;
                }
            if (!ok || !same_value(want, s->points[k].v)) {
                fprintf(stderr, "  %s at %" PRId64 ": range %.17g, instant %.17g%s\n", q, t,
                        s->points[k].v, want, ok ? "" : " (series missing)");
                return -1;
            }
        }
    }
    size_t expect = in->type == DW_PROMQL_TYPE_SCALAR ? 1 : in->nseries;
    if (found != expect) {
        fprintf(stderr, "  %s at %" PRId64 ": %zu range points, %zu instant series\n", q, t, found,
                expect);
        return -1;
    }
    return 0;
}

/* Big selections of range queries are read ahead by a worker thread (eval_prefetch.c). */
static struct dw_promql_memstorage *big_storage(size_t huge)
{
    struct dw_promql_memstorage *m = mem();
    char inst[16];
    for (int s = 0; s < 160; s++) {
        snprintf(inst, sizeof inst, "i%03d", s);
        struct dw_label l[] = {{"__name__", "c"}, {"inst", inst}, {"job", s % 3 ? "a" : "b"}};
        double v = 0;
        for (int64_t t = 0; t <= 3600000; t += 5000) {
            v += (double)(int)(rnd() * 50);
            dw_promql_memstorage_add(m, l, 3, t, rnd() < 0.01 ? (double)NAN : v);
        }
    }
    /* "d" repeats the labels of the first "c" series: sum(rate({__name__=~"c|d"}[1m]))
     * fails on the first of them, long after reading went to the worker */
    for (int s = 0; s < 40; s++) {
        snprintf(inst, sizeof inst, "i%03d", s);
        struct dw_label l[] = {{"__name__", "d"}, {"inst", inst}, {"job", s % 3 ? "a" : "b"}};
        for (int64_t t = 0; t <= 3600000; t += 5000)
            dw_promql_memstorage_add(m, l, 3, t, (double)t);
    }
    /* the last "c" series in label order, optionally with many samples */
    struct dw_label l[] = {{"__name__", "c"}, {"inst", "z"}, {"job", "a"}};
    for (size_t i = 0; i < (huge ? huge : 100); i++)
        dw_promql_memstorage_add(m, l, 3, (int64_t)i * 3600000 / (int64_t)(huge ? huge : 100), 1);
    return m;
}

TEST(read_ahead_gives_the_same_answers_and_keeps_the_limits)
{
    struct dw_promql_memstorage *m = big_storage(0);
    static const char *queries[] = {"sum by (job) (rate(c[1m]))", "c", "max_over_time(c[2m])",
                                    "count(c > 1000)"};
    for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
        struct dw_promql_result *rg = NULL;
        char *err = NULL;
        ASSERT_EQ_INT(range(m, queries[i], 0, 3600000, 60000, NULL, &rg, &err), 0);
        for (int64_t t = 0; t <= 3600000; t += 540000) {
            struct dw_promql_result *in = NULL;
            ASSERT_EQ_INT(instant(m, queries[i], t, NULL, &in, &err), 0);
            ASSERT_EQ_INT(check_step(rg, in, t, queries[i]), 0);
            dw_promql_result_free(&in);
        }
        dw_promql_result_free(&rg);
    }
    /* cancellation while the worker reads; the next query still works */
    atomic_bool cancel = true;
    struct dw_promql_eval_opts o = {.cancel = &cancel};
    struct dw_promql_result *r = NULL;
    char *err = NULL;
    ASSERT_EQ_INT(range(m, "rate(c[1m])", 0, 3600000, 60000, &o, &r, &err), DW_PROMQL_ECANCELED);
    free(err);
    /* an error on the query's side while the worker is still reading */
    ASSERT_EQ_INT(range(m, "sum(rate({__name__=~\"c|d\"}[1m]))", 0, 3600000, 60000, NULL, &r, &err),
                  DW_PROMQL_EEXEC);
    ASSERT_CONTAINS(err, "same labelset");
    free(err);
    ASSERT_EQ_INT(range(m, "rate(c[1m])", 0, 3600000, 60000, NULL, &r, &err), 0);
    ASSERT_EQ_UINT(r->nseries, 161);
    dw_promql_result_free(&r);
    dw_promql_memstorage_free(&m);
    /* a series over the limit found by the worker fails the query like in-thread reading */
    m = big_storage(20000);
    o = (struct dw_promql_eval_opts){.max_samples = 10000};
    ASSERT_EQ_INT(range(m, "rate(c[1m])", 0, 3600000, 60000, &o, &r, &err), DW_PROMQL_ETOOMANY);
    ASSERT_CONTAINS(err, "too many samples");
    free(err);
    dw_promql_memstorage_free(&m);
}

/* Range queries of deriv/predict_linear slide prefix sums; instant queries refit directly. */
TEST(sliding_regression_matches_the_direct_fit)
{
    struct dw_promql_memstorage *m = mem();
    /* A large steep gauge (free bytes), a noisy flat one, one with constant runs. The
     * direct fit loses digits when the values are large next to their trend (Prometheus
     * does too), so the flatter ones stay small enough for a 1e-9 comparison. */
    for (int s = 0; s < 3; s++) {
        struct dw_label l[] = {{"__name__", "free"}, {"dev", s == 0 ? "a" : s == 1 ? "b" : "c"}};
        double v = s == 0 ? 4.2e11 : s == 1 ? 1e3 : 1e6;
        for (int64_t t = 0; t < 7200000; t += 15000) {
            double x = rnd();
            if (s == 0)
                v -= 1e6 * x;
            else if (s == 1)
                v += (x - 0.5) * 3.0;
            else if (x < 0.2)
                v += 4096; /* mostly constant: many windows take the constant answer */
            dw_promql_memstorage_add(m, l, 2, t, v);
        }
    }
    static const char *queries[] = {"predict_linear(free[1h], 14400)", "deriv(free[10m])",
                                    "predict_linear(free[3m], -60)"};
    for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
        struct dw_promql_result *rg = NULL;
        char *err = NULL;
        ASSERT_EQ_INT(range(m, queries[i], 0, 7200000, 15000, NULL, &rg, &err), 0);
        ASSERT_EQ_INT((int)rg->nseries, 3);
        for (int64_t t = 600000; t <= 7200000; t += 435000) {
            struct dw_promql_result *in = NULL;
            ASSERT_EQ_INT(instant(m, queries[i], t, NULL, &in, &err), 0);
            ASSERT_EQ_INT(check_step(rg, in, t, queries[i]), 0);
            dw_promql_result_free(&in);
        }
        dw_promql_result_free(&rg);
    }
    dw_promql_memstorage_free(&m);
}

TEST(range_results_equal_instant_results_at_every_step)
{
    struct dw_promql_memstorage *m = mem();
    /* Irregular, gappy counters and gauges with resets, NaNs and staleness markers. */
    const char *jobs[] = {"a", "b", "c"};
    for (int s = 0; s < 6; s++) {
        struct dw_label l[] = {{"__name__", s < 3 ? "ctr" : "gauge"},
                               {"job", jobs[s % 3]},
                               {"inst", s % 2 ? "1" : "2"}};
        double v = 0;
        for (int64_t t = 0; t < 3600000; t += 5000 + (int64_t)(rnd() * 25000)) {
            double x = rnd();
            if (x < 0.03)
                continue;
            if (s < 3)
                v = x < 0.06 ? 0 : v + (double)(int)(x * 100);
            else
                v = x < 0.05 ? (double)NAN : (double)(int)(x * 1000) / 10;
            dw_promql_memstorage_add(m, l, 3, t, x > 0.985 ? stale_nan() : v);
        }
    }
    static const char *queries[] = {
        "ctr",
        "gauge offset 3m",
        "rate(ctr[5m])",
        "increase(ctr[7m] offset 1m)",
        "delta(gauge[4m])",
        "irate(ctr[3m]) * 60",
        "idelta(gauge[3m])",
        "resets(ctr[20m]) + changes(gauge[20m])",
        "deriv(gauge[10m])",
        "predict_linear(ctr[10m], 600)",
        "holt_winters(gauge[10m], 0.3, 0.6)",
        "avg_over_time(gauge[6m])",
        "sum_over_time(gauge[6m]) / count_over_time(gauge[6m])",
        "min_over_time(gauge[6m]) - max_over_time(gauge[6m])",
        "stddev_over_time(gauge[9m])",
        "stdvar_over_time(gauge[9m])",
        "quantile_over_time(0.9, gauge[9m])",
        "last_over_time(gauge[2m])",
        "present_over_time(ctr[1m])",
        "absent_over_time(ctr{job=\"a\"}[1m])",
        "absent(gauge{job=\"c\"} > 90)",
        "sum by (job) (rate(ctr[5m]))",
        "avg without (inst) (gauge)",
        "max(gauge) - min(gauge)",
        "count(ctr) + group(ctr)",
        "stddev by (inst) (gauge)",
        "topk(2, gauge)",
        "bottomk by (inst) (1, gauge)",
        "quantile(0.3, gauge)",
        "count_values(\"v\", round(gauge / 20))",
        "gauge > 50",
        "gauge > bool 50",
        "50 < gauge",
        "ctr / on(job, inst) gauge",
        "ctr * ignoring(inst) group_left sum by (job) (gauge)",
        "gauge and on(job) ctr > 100",
        "gauge or ctr",
        "gauge unless on(inst) (ctr > 500)",
        "histogram_quantile(0.9, label_replace(gauge, \"le\", \"$1\", \"inst\", \"(.*)\"))",
        "label_join(gauge, \"x\", \"-\", \"job\", \"inst\")",
        "clamp(gauge, 20, 80)",
        "round(gauge, 5)",
        "scalar(sum(gauge)) * 2",
        "timestamp(gauge)",
        "time() - timestamp(ctr)",
        "vector(time())",
        "hour(timestamp(gauge))",
        "max_over_time(rate(ctr[2m])[10m:30s])",
        "avg_over_time(gauge[5m:1m] offset 2m)",
        "rate(ctr[5m] @ 1800)",
        "sum_over_time(gauge[10m:1m] @ 1200)",
        "sort_desc(gauge)",
        "-gauge",
        "sum(gauge) by (job) / ignoring(job) group_left sum(gauge)",
        "exp(gauge / 100) + ln(gauge + 1)",
        "stddev by (job) (rate(ctr[5m]))",
        "min without (inst) (max_over_time(gauge[5m]))",
        "avg(rate(ctr[5m]))",
        "count(last_over_time(gauge[5m]))",
        "group by (inst) (rate(ctr[5m]))",
        "sum(quantile_over_time(0.5, gauge[5m]))",
        "max by (job) (deriv(gauge[5m:1m]))",
    };
    int failures = 0;
    for (size_t qi = 0; qi < sizeof queries / sizeof queries[0]; qi++) {
        struct dw_promql_expr *e = parse(queries[qi]);
        ASSERT_NOT_NULL(e);
        struct dw_promql_result *rg = NULL, *in = NULL;
        char *err = NULL;
        int64_t start = 600000, end = 3000000, step = 90000;
        int rc = dw_promql_eval_range(dw_promql_memstorage_storage(m), e, start, end, step, NULL,
                                      &rg, &err);
        if (rc != 0) {
            fprintf(stderr, "  %s: %s\n", queries[qi], err);
            free(err);
            failures++;
            dw_promql_free(&e);
            continue;
        }
        for (int64_t t = start; t <= end; t += step) {
            if (dw_promql_eval_instant(dw_promql_memstorage_storage(m), e, t, NULL, &in, &err)) {
                fprintf(stderr, "  %s at %" PRId64 ": %s\n", queries[qi], t, err);
                free(err);
                failures++;
                break;
            }
            int bad = check_step(rg, in, t, queries[qi]);
            dw_promql_result_free(&in);
            if (bad) {
                failures++;
                break;
            }
        }
        dw_promql_result_free(&rg);
        dw_promql_free(&e);
    }
    ASSERT_EQ_INT(failures, 0);
    dw_promql_memstorage_free(&m);
}

TEST(streamed_aggregation_matches_the_plain_path_bit_for_bit)
{
    struct dw_promql_memstorage *m = mem();
    for (int s = 0; s < 12; s++) {
        char job[8], inst[8];
        snprintf(job, sizeof job, "j%d", s % 3);
        snprintf(inst, sizeof inst, "i%d", s);
        struct dw_label l[] = {{"__name__", "req"}, {"job", job}, {"inst", inst}};
        double v = 0;
        for (int64_t t = 0; t < 1800000; t += 15000) {
            v += (double)(int)(rnd() * 1000) / 7;
            if (rnd() < 0.01)
                v = 0;
            if (rnd() > 0.02)
                dw_promql_memstorage_add(m, l, 3, t, v);
        }
    }
    static const char *ops[] = {"sum", "avg", "count", "min", "max", "group", "stddev", "stdvar"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char fused[128], plain[128];
        /* "* 1" changes no bit but stops the aggregation from streaming. */
        snprintf(fused, sizeof fused, "%s by (job) (rate(req[5m]))", ops[i]);
        snprintf(plain, sizeof plain, "%s by (job) (rate(req[5m]) * 1)", ops[i]);
        char *a = r_json(m, fused, 300000, 1800000, 30000);
        char *b = r_json(m, plain, 300000, 1800000, 30000);
        if (strcmp(a, b) != 0)
            fprintf(stderr, "  %s\n  %s\n  %s\n", fused, a, b);
        ASSERT_TRUE(strcmp(a, b) == 0);
        ASSERT_CONTAINS(a, "\"job\":\"j2\"");
        free(a);
        free(b);
    }
    /* Both paths refuse series that become equal without their name. */
    double one[] = {1, 2, 3};
    add_series(m, "a", 0, 60000, one, 3, "x", "1", NULL);
    add_series(m, "b", 0, 60000, one, 3, "x", "1", NULL);
    char *err = q_err(m, "sum(rate({__name__=~\"a|b\"}[5m]))", 120000, NULL, DW_PROMQL_EEXEC);
    ASSERT_EQ_STR(err, "vector cannot contain metrics with the same labelset");
    free(err);
    err = q_err(m, "sum(rate({__name__=~\"a|b\"}[5m]) * 1)", 120000, NULL, DW_PROMQL_EEXEC);
    ASSERT_EQ_STR(err, "vector cannot contain metrics with the same labelset");
    free(err);
    /* last_over_time keeps the name, so nothing collides. */
    char *s = q_json(m, "count(last_over_time({__name__=~\"a|b\"}[5m]))", 120000);
    ASSERT_CONTAINS(s, "\"value\":[120,\"2\"]");
    free(s);
    dw_promql_memstorage_free(&m);
}

/* ---- random expressions: no crash, and range agrees with instant ---- */

static size_t pick(size_t n)
{
    return (size_t)(rnd() * (double)n) % n;
}

static void gen_vector(struct dw_buf *b, int depth);

static void gen_scalar(struct dw_buf *b, int depth)
{
    static const char *leaf[] = {"2", "0.5", "-1", "time()", "NaN", "Inf", "pi()"};
    if (depth <= 0 || rnd() < 0.5) {
        dw_buf_puts(b, leaf[pick(DW_ARRAY_LEN(leaf))]);
        return;
    }
    if (rnd() < 0.5) {
        dw_buf_puts(b, "scalar(");
        gen_vector(b, depth - 1);
        dw_buf_putc(b, ')');
    } else {
        static const char *ops[] = {" + ", " * ", " / ", " ^ ", " % ", " == bool ", " > bool "};
        dw_buf_putc(b, '(');
        gen_scalar(b, depth - 1);
        dw_buf_puts(b, ops[pick(DW_ARRAY_LEN(ops))]);
        gen_scalar(b, depth - 1);
        dw_buf_putc(b, ')');
    }
}

static void gen_range(struct dw_buf *b, int depth)
{
    static const char *sel[] = {"ctr[5m]",
                                "gauge[3m]",
                                "ctr[90s] offset 1m",
                                "gauge[10m] @ 1500",
                                "{__name__=~\"ctr|gauge\",job!=\"c\"}[4m]",
                                "nope[5m]"};
    if (depth <= 0 || rnd() < 0.6) {
        dw_buf_puts(b, sel[pick(DW_ARRAY_LEN(sel))]);
        return;
    }
    static const char *sq[] = {"[5m:1m]", "[10m:]", "[3m:20s] offset 30s", "[6m:1m] @ 1800"};
    dw_buf_putc(b, '(');
    gen_vector(b, depth - 1);
    dw_buf_puts(b, ")");
    dw_buf_puts(b, sq[pick(DW_ARRAY_LEN(sq))]);
}

static void gen_vector(struct dw_buf *b, int depth)
{
    static const char *leaf[] = {"ctr",           "gauge",        "gauge{job=\"a\"}",
                                 "ctr offset 2m", "gauge @ 1200", "{__name__=~\"ctr|gauge\"}",
                                 "missing"};
    static const char *rfn[] = {"rate",
                                "increase",
                                "delta",
                                "irate",
                                "idelta",
                                "changes",
                                "resets",
                                "deriv",
                                "avg_over_time",
                                "sum_over_time",
                                "min_over_time",
                                "max_over_time",
                                "count_over_time",
                                "stddev_over_time",
                                "last_over_time",
                                "present_over_time",
                                "absent_over_time"};
    static const char *vfn[] = {"abs",  "ceil",      "floor",     "sqrt",   "ln",   "exp", "sgn",
                                "sort", "sort_desc", "timestamp", "absent", "hour", "-"};
    static const char *agg[] = {"sum", "avg", "count", "min", "max", "group", "stddev", "stdvar"};
    static const char *grp[] = {"", " by (job)", " without (inst)", " by (inst, job)", " by ()"};
    static const char *bin[] = {" + ",      " - ",   " * ",  " / ",      " > ",
                                " < bool ", " and ", " or ", " unless ", " atan2 "};
    static const char *match[] = {
        "",     "on(job) ", "ignoring(inst) ", "on(job) group_left ", "ignoring(inst) group_right ",
        "on() "};
    if (depth <= 0 || rnd() < 0.2) {
        dw_buf_puts(b, leaf[pick(DW_ARRAY_LEN(leaf))]);
        return;
    }
    switch (pick(9)) {
    case 0:
    case 1:
        dw_buf_printf(b, "%s(", rfn[pick(DW_ARRAY_LEN(rfn))]);
        gen_range(b, depth - 1);
        dw_buf_putc(b, ')');
        break;
    case 2:
        dw_buf_printf(b, "%s(", vfn[pick(DW_ARRAY_LEN(vfn))]);
        gen_vector(b, depth - 1);
        dw_buf_putc(b, ')');
        break;
    case 3:
        dw_buf_printf(b, "%s%s (", agg[pick(DW_ARRAY_LEN(agg))], grp[pick(DW_ARRAY_LEN(grp))]);
        gen_vector(b, depth - 1);
        dw_buf_putc(b, ')');
        break;
    case 4:
        dw_buf_printf(b, "%s%s (", rnd() < 0.5 ? "topk" : "bottomk", grp[pick(DW_ARRAY_LEN(grp))]);
        gen_scalar(b, 0);
        dw_buf_puts(b, ", ");
        gen_vector(b, depth - 1);
        dw_buf_putc(b, ')');
        break;
    case 5:
        dw_buf_putc(b, '(');
        gen_vector(b, depth - 1);
        dw_buf_printf(b, "%s%s", bin[pick(DW_ARRAY_LEN(bin))], match[pick(DW_ARRAY_LEN(match))]);
        gen_vector(b, depth - 1);
        dw_buf_putc(b, ')');
        break;
    case 6:
        dw_buf_putc(b, '(');
        gen_vector(b, depth - 1);
        dw_buf_puts(b, rnd() < 0.5 ? " * " : " > ");
        gen_scalar(b, depth - 1);
        dw_buf_putc(b, ')');
        break;
    case 7:
        dw_buf_puts(b, rnd() < 0.5 ? "quantile(0.7, " : "count_values(\"v\", ");
        gen_vector(b, depth - 1);
        dw_buf_putc(b, ')');
        break;
    default: {
        bool hq = rnd() < 0.5;
        dw_buf_puts(b, hq ? "histogram_quantile(0.5, label_replace(" : "label_replace(");
        gen_vector(b, depth - 1);
        dw_buf_puts(b, hq ? ", \"le\", \"$1\", \"inst\", \"(.*)\"))"
                          : ", \"le\", \"$1\", \"inst\", \"(.*)\")");
        break;
    }
    }
}

TEST(random_expressions_never_crash_and_range_equals_instant)
{
    struct dw_promql_memstorage *m = mem();
    const char *jobs[] = {"a", "b", "c"};
    for (int s = 0; s < 6; s++) {
        struct dw_label l[] = {{"__name__", s < 3 ? "ctr" : "gauge"},
                               {"job", jobs[s % 3]},
                               {"inst", s % 2 ? "1" : "2"}};
        double v = 0;
        for (int64_t t = 0; t < 2400000; t += 10000 + (int64_t)(rnd() * 20000)) {
            double x = rnd();
            v = s < 3 ? (x < 0.05 ? 0 : v + (double)(int)(x * 50)) : (double)(int)(x * 100);
            dw_promql_memstorage_add(m, l, 3, t, x > 0.98 ? stale_nan() : x < 0.01 ? NAN : v);
        }
    }
    const struct dw_promql_storage *st = dw_promql_memstorage_storage(m);
    int parsed = 0, ranged = 0, failures = 0;
    for (int i = 0; i < 800; i++) {
        struct dw_buf b;
        dw_buf_init(&b, 0);
        gen_vector(&b, 1 + (int)pick(5));
        struct dw_promql_expr *e = NULL;
        struct dw_promql_error perr = {0};
        if (dw_promql_parse(b.data, b.len, NULL, &e, &perr) < 0) {
            dw_promql_error_release(&perr);
            dw_buf_release(&b);
            continue;
        }
        parsed++;
        struct dw_promql_result *rg = NULL, *in = NULL;
        char *err = NULL;
        int64_t start = 600000 + (int64_t)pick(20) * 10000, step = 60000;
        if (dw_promql_eval_range(st, e, start, start + 10 * step, step, NULL, &rg, &err) != 0) {
            ASSERT_NOT_NULL(err); /* an error always has its message */
            free(err);
            dw_promql_free(&e);
            dw_buf_release(&b);
            continue;
        }
        ranged++;
        /* topk/bottomk may pick other series among equal values in a range query: its
         * input order at a step is not always the instant query's (see the design note). */
        bool ties = strstr(b.data, "topk") || strstr(b.data, "bottomk");
        for (int64_t t = start; t <= start + 10 * step && failures == 0; t += step) {
            if (dw_promql_eval_instant(st, e, t, NULL, &in, &err) != 0) {
                fprintf(stderr, "  %s at %" PRId64 ": %s\n", b.data, t, err);
                free(err);
                failures++;
                break;
            }
            failures += !ties && check_step(rg, in, t, b.data) != 0;
            dw_promql_result_free(&in);
        }
        dw_promql_result_free(&rg);
        dw_promql_free(&e);
        dw_buf_release(&b);
        if (failures)
            break;
    }
    ASSERT_EQ_INT(failures, 0);
    /* The generator must exercise the engine, not only the parser. */
    printf("  %d expressions parsed, %d evaluated as range queries\n", parsed, ranged);
    ASSERT_TRUE(parsed > 400);
    ASSERT_TRUE(ranged > 300);
    dw_promql_memstorage_free(&m);
}

/* ---- the tsdb adapter ---- */

TEST(tsdb_adapter_reads_what_appenders_wrote)
{
    char dir[] = "/tmp/dw-promql-tsdb-XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    dw_log_set_level(DW_LOG_WARN); /* the tsdb logs its WAL replay at info */
    struct dw_tsdb_options o;
    dw_tsdb_options_init(&o);
    o.dir = dir;
    o.max_future_ms = -1;
    o.wal.no_thread = true;
    char *err = NULL;
    struct dw_tsdb *db = dw_tsdb_open(&o, &err);
    if (!db)
        fprintf(stderr, "  open: %s\n", err);
    ASSERT_NOT_NULL(db);
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    const int64_t base = 1700000000000;
    for (int i = 0; i <= 40; i++) {
        struct dw_label l1[] = {{"__name__", "http_requests_total"}, {"code", "200"}};
        struct dw_label l2[] = {{"__name__", "http_requests_total"}, {"code", "500"}};
        struct dw_label l3[] = {{"__name__", "temperature"}, {"room", "a"}};
        int64_t t = base + i * 15000;
        ASSERT_EQ_INT(dw_tsdb_appender_add(a, l1, 2, t, i * 10.0, NULL), 0);
        ASSERT_EQ_INT(dw_tsdb_appender_add(a, l2, 2, t, i * 1.0, NULL), 0);
        ASSERT_EQ_INT(dw_tsdb_appender_add(a, l3, 2, t, i == 40 ? stale_nan() : 20.5, NULL), 0);
    }
    ASSERT_EQ_INT(dw_tsdb_appender_commit(a, NULL, &err), 0);
    dw_tsdb_appender_free(&a);

    struct dw_promql_storage st;
    dw_promql_tsdb_storage(&st, db);
    struct dw_promql_expr *e = parse("sum by (code) (rate(http_requests_total{code=~\"2..|5..\"}"
                                     "[5m]))");
    struct dw_promql_result *r = NULL;
    int64_t end = base + 600000;
    ASSERT_EQ_INT(dw_promql_eval_instant(&st, e, end, NULL, &r, &err), 0);
    ASSERT_EQ_UINT(r->nseries, 2);
    ASSERT_EQ_STR(r->series[0].labels[0].value, "200");
    ASSERT_NEAR(r->series[0].points[0].v, 10.0 / 15, 1e-12);
    ASSERT_NEAR(r->series[1].points[0].v, 1.0 / 15, 1e-12);
    dw_promql_result_free(&r);
    dw_promql_free(&e);
    /* The staleness marker came back with its bits: the gauge is gone at the end. */
    e = parse("temperature");
    ASSERT_EQ_INT(dw_promql_eval_range(&st, e, end - 60000, end, 30000, NULL, &r, &err), 0);
    ASSERT_EQ_UINT(r->nseries, 1);
    ASSERT_EQ_UINT(r->series[0].npoints, 2);
    ASSERT_NEAR(r->series[0].points[0].v, 20.5, 0);
    dw_promql_result_free(&r);
    dw_promql_free(&e);
    struct dw_promql_error perr = {0};
    const char *bad = "temperature{room!~\"[a\"}";
    ASSERT_EQ_INT(dw_promql_parse(bad, strlen(bad), NULL, &e, &perr), -1);
    dw_promql_error_release(&perr); /* a bad regex never reaches the storage */
    e = parse("nothing{room=\"a\"}");
    ASSERT_EQ_INT(dw_promql_eval_instant(&st, e, end, NULL, &r, &err), 0);
    ASSERT_EQ_UINT(r->nseries, 0);
    dw_promql_result_free(&r);
    dw_promql_free(&e);
    ASSERT_EQ_INT(dw_tsdb_close(&db), 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ASSERT_EQ_INT(system(cmd), 0);
}

TEST_MAIN()
