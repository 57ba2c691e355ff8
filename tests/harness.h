/*
 * harness.h - dojowatch's tiny test harness (one header, no dependencies).
 *
 * A test program defines tests with TEST(name) { ... } and ends with
 * TEST_MAIN(). Assertions print both sides and the position, then abandon the
 * current test through longjmp, so helpers called from a test may assert too.
 * The program prints "ok"/"FAIL" per test and a closing line
 * "<program>: N passed, N failed"; scripts/test-summary adds them up.
 * Run one test: ./test_core name-substring
 */
#ifndef DW_TEST_HARNESS_H
#define DW_TEST_HARNESS_H

#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*dw_test_fn)(void);

struct dw_test_case {
    const char *name;
    dw_test_fn fn;
};

static struct dw_test_case dw_tests_[512];
static int dw_ntests_;
static jmp_buf dw_test_jmp_;
static int dw_test_failed_;

static inline void dw_test_register_(const char *name, dw_test_fn fn)
{
    if (dw_ntests_ < (int)(sizeof dw_tests_ / sizeof dw_tests_[0]))
        dw_tests_[dw_ntests_++] = (struct dw_test_case){name, fn};
}

#define TEST(name)                                                                                 \
    static void name(void);                                                                        \
    __attribute__((constructor)) static void dw_reg_##name(void)                                   \
    {                                                                                              \
        dw_test_register_(#name, name);                                                            \
    }                                                                                              \
    static void name(void)

#define DW_FAIL_(...)                                                                              \
    do {                                                                                           \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                                          \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        dw_test_failed_ = 1;                                                                       \
        longjmp(dw_test_jmp_, 1);                                                                  \
    } while (0)

#define ASSERT_TRUE(c)                                                                             \
    do {                                                                                           \
        if (!(c))                                                                                  \
            DW_FAIL_("expected true: %s", #c);                                                     \
    } while (0)
#define ASSERT_FALSE(c)                                                                            \
    do {                                                                                           \
        if (c)                                                                                     \
            DW_FAIL_("expected false: %s", #c);                                                    \
    } while (0)
#define ASSERT_EQ_INT(a, b)                                                                        \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_)                                                                              \
            DW_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);                                    \
    } while (0)
#define ASSERT_NE_INT(a, b)                                                                        \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ == b_)                                                                              \
            DW_FAIL_("%s != %s: both %lld", #a, #b, a_);                                           \
    } while (0)
#define ASSERT_EQ_UINT(a, b)                                                                       \
    do {                                                                                           \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);             \
        if (a_ != b_)                                                                              \
            DW_FAIL_("%s == %s: %llu != %llu", #a, #b, a_, b_);                                    \
    } while (0)
#define ASSERT_EQ_STR(a, b)                                                                        \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                     \
            DW_FAIL_("%s == %s:\n    \"%s\"\n != \"%s\"", #a, #b, a_ ? a_ : "(null)",              \
                     b_ ? b_ : "(null)");                                                          \
    } while (0)
#define ASSERT_CONTAINS(hay, needle)                                                               \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (!h_ || !strstr(h_, n_))                                                                \
            DW_FAIL_("%s contains %s:\n    \"%s\"\n lacks \"%s\"", #hay, #needle,                  \
                     h_ ? h_ : "(null)", n_);                                                      \
    } while (0)
#define ASSERT_NOT_CONTAINS(hay, needle)                                                           \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (h_ && strstr(h_, n_))                                                                  \
            DW_FAIL_("%s must not contain %s:\n    \"%s\"", #hay, #needle, h_);                    \
    } while (0)
#define ASSERT_NEAR(a, b, tol)                                                                     \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= (tol)))                                                             \
            DW_FAIL_("%s ~= %s: %.17g != %.17g (tol %g)", #a, #b, a_, b_, (double)(tol));          \
    } while (0)
#define ASSERT_NULL(p)                                                                             \
    do {                                                                                           \
        if ((p) != NULL)                                                                           \
            DW_FAIL_("expected NULL: %s", #p);                                                     \
    } while (0)
#define ASSERT_NOT_NULL(p)                                                                         \
    do {                                                                                           \
        if ((p) == NULL)                                                                           \
            DW_FAIL_("expected non-NULL: %s", #p);                                                 \
    } while (0)

static inline const char *dw_test_basename_(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static inline int dw_test_main_(int argc, char **argv)
{
    /* volatile: they live across setjmp/longjmp. */
    volatile int passed = 0, failed = 0;
    for (volatile int i = 0; i < dw_ntests_; i++) {
        if (argc > 1 && !strstr(dw_tests_[i].name, argv[1]))
            continue;
        dw_test_failed_ = 0;
        fflush(stdout);
        if (setjmp(dw_test_jmp_) == 0)
            dw_tests_[i].fn();
        if (dw_test_failed_) {
            failed++;
            printf("FAIL %s\n", dw_tests_[i].name);
        } else {
            passed++;
            printf("ok   %s\n", dw_tests_[i].name);
        }
        fflush(stdout);
    }
    printf("%s: %d passed, %d failed\n", dw_test_basename_(argv[0]), passed, failed);
    fflush(stdout); /* a leak report at exit ends the process without flushing */
    return failed ? 1 : 0;
}

#define TEST_MAIN()                                                                                \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        return dw_test_main_(argc, argv);                                                          \
    }

#endif
