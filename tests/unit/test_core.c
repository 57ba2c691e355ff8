/* Unit tests of the core module: buffers, parsing, clock, logging, metrics, files. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/core.h"
#include "harness.h"

TEST(buf_respects_max)
{
    struct dw_buf b;
    dw_buf_init(&b, 8);
    ASSERT_EQ_INT(dw_buf_puts(&b, "12345"), 0);
    ASSERT_EQ_INT(dw_buf_puts(&b, "6789"), -1);
    ASSERT_TRUE(b.overflow);
    ASSERT_EQ_STR(b.data, "12345");
    ASSERT_EQ_INT(dw_buf_printf(&b, "%d", 678), 0);
    ASSERT_EQ_STR(b.data, "12345678");
    char *s = dw_buf_steal(&b);
    ASSERT_EQ_STR(s, "12345678");
    ASSERT_EQ_UINT(b.len, 0);
    free(s);
    dw_buf_release(&b);
}

TEST(durations_parse_like_prometheus)
{
    int64_t ms;
    ASSERT_EQ_INT(dw_parse_duration("15m", &ms), 0);
    ASSERT_EQ_INT(ms, 15 * 60 * 1000);
    ASSERT_EQ_INT(dw_parse_duration("1h30m", &ms), 0);
    ASSERT_EQ_INT(ms, 90 * 60 * 1000);
    ASSERT_EQ_INT(dw_parse_duration("72h", &ms), 0);
    ASSERT_EQ_INT(ms, 72LL * 3600 * 1000);
    ASSERT_EQ_INT(dw_parse_duration("1y", &ms), 0);
    ASSERT_EQ_INT(ms, 365LL * 86400 * 1000);
    ASSERT_EQ_INT(dw_parse_duration("1s500ms", &ms), 0);
    ASSERT_EQ_INT(ms, 1500);
    ASSERT_EQ_INT(dw_parse_duration("0", &ms), 0);
    ASSERT_EQ_INT(ms, 0);
    ASSERT_EQ_INT(dw_parse_duration("", &ms), -1);
    ASSERT_EQ_INT(dw_parse_duration("15", &ms), -1);
    ASSERT_EQ_INT(dw_parse_duration("m15", &ms), -1);
    ASSERT_EQ_INT(dw_parse_duration("1m1h", &ms), -1); /* out of order */
    ASSERT_EQ_INT(dw_parse_duration("1h1h", &ms), -1);
    ASSERT_EQ_INT(dw_parse_duration("5x", &ms), -1);
    ASSERT_EQ_INT(dw_parse_duration("-5m", &ms), -1);
    ASSERT_EQ_INT(dw_parse_duration("99999999999999999999y", &ms), -1);
}

TEST(durations_format_shortest)
{
    char buf[32];
    dw_format_duration(90 * 60 * 1000, buf, sizeof buf);
    ASSERT_EQ_STR(buf, "1h30m");
    dw_format_duration(0, buf, sizeof buf);
    ASSERT_EQ_STR(buf, "0s");
    dw_format_duration(7LL * 86400 * 1000, buf, sizeof buf);
    ASSERT_EQ_STR(buf, "1w");
    dw_format_duration(8LL * 86400 * 1000, buf, sizeof buf);
    ASSERT_EQ_STR(buf, "8d");
    dw_format_duration(1500, buf, sizeof buf);
    ASSERT_EQ_STR(buf, "1s500ms");
}

TEST(bytes_parse)
{
    uint64_t v;
    ASSERT_EQ_INT(dw_parse_bytes("32MiB", &v), 0);
    ASSERT_EQ_UINT(v, 32ULL << 20);
    ASSERT_EQ_INT(dw_parse_bytes("10KB", &v), 0);
    ASSERT_EQ_UINT(v, 10000);
    ASSERT_EQ_INT(dw_parse_bytes("512", &v), 0);
    ASSERT_EQ_UINT(v, 512);
    ASSERT_EQ_INT(dw_parse_bytes("12XB", &v), -1);
    ASSERT_EQ_INT(dw_parse_bytes("-1", &v), -1);
    ASSERT_EQ_INT(dw_parse_bytes("99999999999GiB", &v), -1);
}

TEST(rfc3339_roundtrip_and_offsets)
{
    int64_t ms;
    char buf[40];
    ASSERT_EQ_INT(dw_parse_rfc3339("2026-12-01T09:00:00Z", &ms), 0);
    ASSERT_EQ_INT(ms, 1796115600000LL);
    dw_format_rfc3339(ms, buf, sizeof buf);
    ASSERT_EQ_STR(buf, "2026-12-01T09:00:00Z");
    ASSERT_EQ_INT(dw_parse_rfc3339("2026-12-01T10:00:00+01:00", &ms), 0);
    ASSERT_EQ_INT(ms, 1796115600000LL);
    ASSERT_EQ_INT(dw_parse_rfc3339("2026-12-01T09:00:00.250Z", &ms), 0);
    dw_format_rfc3339(ms, buf, sizeof buf);
    ASSERT_EQ_STR(buf, "2026-12-01T09:00:00.250Z");
    ASSERT_EQ_INT(dw_parse_rfc3339("2024-02-29T00:00:00Z", &ms), 0);
    ASSERT_EQ_INT(dw_parse_rfc3339("2023-02-29T00:00:00Z", &ms), -1);
    ASSERT_EQ_INT(dw_parse_rfc3339("2026-12-01 09:00:00", &ms), -1); /* no zone */
    ASSERT_EQ_INT(dw_parse_rfc3339("2026-13-01T09:00:00Z", &ms), -1);
    ASSERT_EQ_INT(dw_parse_rfc3339("2026-12-01T09:00:00Zjunk", &ms), -1);
}

TEST(civil_dates_round_trip)
{
    ASSERT_EQ_INT(dw_days_from_civil(1970, 1, 1), 0);
    ASSERT_EQ_INT(dw_days_from_civil(1969, 12, 31), -1);
    ASSERT_EQ_INT(dw_days_from_civil(2000, 3, 1), 11017);
    for (int64_t days = -800000; days <= 800000; days += 997) {
        int64_t y;
        int m, d;
        dw_civil_from_days(days, &y, &m, &d);
        ASSERT_TRUE(m >= 1 && m <= 12 && d >= 1 && d <= dw_days_in_month(y, m));
        ASSERT_EQ_INT(dw_days_from_civil(y, m, d), days);
    }
    ASSERT_TRUE(dw_is_leap_year(2000) && dw_is_leap_year(2024) && !dw_is_leap_year(1900));
    ASSERT_EQ_INT(dw_days_in_month(2024, 2), 29);
    ASSERT_EQ_INT(dw_days_in_month(2023, 2), 28);
    ASSERT_EQ_INT(dw_days_in_month(2023, 12), 31);
}

TEST(suggest_the_closest_known_word)
{
    static const char *const words[] = {"groups", "interval", "limit", "name"};
    ASSERT_EQ_STR(dw_suggest("grups", words, 4), "groups");
    ASSERT_EQ_STR(dw_suggest("intervall", words, 4), "interval");
    ASSERT_EQ_STR(dw_suggest("nmae", words, 4), "name"); /* a swap is two edits */
    ASSERT_NULL(dw_suggest("query", words, 4));          /* too far from all */
    ASSERT_NULL(dw_suggest("na", words, 4));             /* as many edits as letters */
    ASSERT_NULL(dw_suggest("grups", words, 0));
}

TEST(strict_numbers)
{
    int64_t i;
    double d;
    ASSERT_EQ_INT(dw_parse_int64("42", &i), 0);
    ASSERT_EQ_INT(i, 42);
    ASSERT_EQ_INT(dw_parse_int64("42x", &i), -1);
    ASSERT_EQ_INT(dw_parse_int64(" 42", &i), -1);
    ASSERT_EQ_INT(dw_parse_int64("9223372036854775808", &i), -1);
    ASSERT_EQ_INT(dw_parse_double("1.5e3", &d), 0);
    ASSERT_NEAR(d, 1500.0, 0);
    ASSERT_EQ_INT(dw_parse_double("Inf", &d), 0);
    ASSERT_TRUE(isinf(d));
    ASSERT_EQ_INT(dw_parse_double("1.5.", &d), -1);
}

static atomic_bool sleeper_done;

static void *sleeper(void *arg)
{
    int64_t deadline = *(int64_t *)arg;
    bool reached = dw_clock_sleep_until(deadline, NULL);
    atomic_store(&sleeper_done, reached);
    return NULL;
}

TEST(manual_clock_wakes_sleepers)
{
    dw_clock_set_manual(1000000);
    ASSERT_EQ_INT(dw_now_ms(), 1000000);
    int64_t deadline = 1000000 + 72LL * 3600 * 1000;
    pthread_t t;
    atomic_store(&sleeper_done, false);
    pthread_create(&t, NULL, sleeper, &deadline);
    dw_clock_advance(3600 * 1000);
    ASSERT_FALSE(atomic_load(&sleeper_done));
    dw_clock_advance(71LL * 3600 * 1000);
    pthread_join(t, NULL);
    ASSERT_TRUE(atomic_load(&sleeper_done));
    ASSERT_EQ_INT(dw_now_ms(), deadline);
    dw_clock_set_real();
    ASSERT_TRUE(dw_now_ms() > 1700000000000LL);
}

TEST(sleep_stops_on_flag)
{
    atomic_bool stop = true;
    int64_t t0 = dw_mono_ns();
    ASSERT_FALSE(dw_clock_sleep_until(dw_now_ms() + 60000, &stop));
    ASSERT_TRUE(dw_mono_ns() - t0 < 1000000000LL);
}

TEST(logfmt_quotes_values)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_logfmt_value(&b, "plain");
    dw_buf_putc(&b, ' ');
    dw_logfmt_value(&b, "has space \"q\"\nnl");
    dw_buf_putc(&b, ' ');
    dw_logfmt_value(&b, "");
    ASSERT_EQ_STR(b.data, "plain \"has space \\\"q\\\"\\nnl\" \"\"");
    dw_buf_release(&b);

    char *path = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&path, &len);
    dw_log_set_stream(f);
    dw_log_kv(DW_LOG_WARN, "test", "hello world", "key", "a=b", "n", "3", NULL);
    dw_log(DW_LOG_DEBUG, "test", "hidden at info level");
    dw_log_set_stream(NULL);
    fclose(f);
    ASSERT_CONTAINS(path, "level=warn component=test msg=\"hello world\" key=\"a=b\" n=3\n");
    ASSERT_NOT_CONTAINS(path, "hidden");
    free(path);
}

TEST(diag_format_has_position)
{
    struct dw_diags d;
    dw_diags_init(&d);
    dw_diags_add(&d, "x.yaml", 3, 7, "launch.at", "not an RFC 3339 time: \"%s\"", "soon");
    dw_diags_add(&d, "x.yaml", 0, 0, NULL, "warning: something");
    ASSERT_EQ_UINT(dw_diags_errors(&d), 1);
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_diag_format(&d.items[0], &b);
    ASSERT_EQ_STR(b.data, "x.yaml:3:7: launch.at: not an RFC 3339 time: \"soon\"");
    dw_buf_release(&b);
    dw_diags_release(&d);
}

TEST(metrics_text_format)
{
    static const double bounds[] = {0.1, 1};
    struct dw_metric *c = dw_metric_counter("t_requests_total", "Requests.", "route,code");
    struct dw_metric *h =
        dw_metric_histogram("t_duration_seconds", "Duration.", "route", bounds, 2);
    struct dw_metric *g = dw_metric_gauge("t_up", "Up.", NULL);
    ASSERT_TRUE(dw_metric_counter("t_requests_total", "again", "route,code") == c);
    dw_metric_add(c, (const char *[]){"/x", "200"}, 1);
    dw_metric_add(c, (const char *[]){"/x", "200"}, 2);
    dw_metric_add(c, (const char *[]){"/y\"", "404"}, 1);
    dw_metric_observe(h, (const char *[]){"/x"}, 0.05);
    dw_metric_observe(h, (const char *[]){"/x"}, 0.5);
    dw_metric_observe(h, (const char *[]){"/x"}, 5);
    dw_metric_set(g, NULL, 1);
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_metrics_write(&b);
    ASSERT_CONTAINS(b.data, "# TYPE t_requests_total counter\n");
    ASSERT_CONTAINS(b.data, "t_requests_total{route=\"/x\",code=\"200\"} 3\n");
    ASSERT_CONTAINS(b.data, "t_requests_total{route=\"/y\\\"\",code=\"404\"} 1\n");
    ASSERT_CONTAINS(b.data, "t_duration_seconds_bucket{route=\"/x\",le=\"0.1\"} 1\n");
    ASSERT_CONTAINS(b.data, "t_duration_seconds_bucket{route=\"/x\",le=\"1\"} 2\n");
    ASSERT_CONTAINS(b.data, "t_duration_seconds_bucket{route=\"/x\",le=\"+Inf\"} 3\n");
    ASSERT_CONTAINS(b.data, "t_duration_seconds_count{route=\"/x\"} 3\n");
    ASSERT_CONTAINS(b.data, "t_up 1\n");
    dw_buf_release(&b);
    dw_metric_reset(c);
    dw_buf_init(&b, 0);
    dw_metrics_write(&b);
    ASSERT_NOT_CONTAINS(b.data, "t_requests_total{");
    dw_buf_release(&b);
    dw_metrics_shutdown();
}

TEST(sha256_known_vector)
{
    char hex[65];
    dw_sha256_hex("abc", 3, hex);
    ASSERT_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ASSERT_TRUE(dw_ct_equal("abc", "abc", 3));
    ASSERT_FALSE(dw_ct_equal("abc", "abd", 3));
}

TEST(read_file_whole_or_a_reason)
{
    char tmpl[] = "/tmp/dw-core-test-XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(tmpl));
    char *path = dw_asprintf("%s/f", tmpl);
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    fputs("hello", f);
    fclose(f);
    struct dw_diags d;
    dw_diags_init(&d);
    size_t len = 0;
    char *text = dw_read_file(path, 1u << 20, &len, &d);
    ASSERT_EQ_STR(text, "hello");
    ASSERT_EQ_UINT(len, 5);
    free(text);
    ASSERT_NULL(dw_read_file(path, 4, &len, &d));
    ASSERT_NULL(dw_read_file(tmpl, 1u << 20, &len, &d)); /* a directory */
    unlink(path);
    ASSERT_NULL(dw_read_file(path, 1u << 20, &len, &d));
    ASSERT_EQ_UINT(d.n, 3);
    ASSERT_EQ_STR(d.items[0].msg, "file is larger than 0 MiB");
    ASSERT_EQ_STR(d.items[1].msg, "cannot read: Is a directory");
    ASSERT_EQ_STR(d.items[2].msg, "cannot open: No such file or directory");
    ASSERT_EQ_STR(d.items[2].file, path);
    dw_diags_release(&d);
    rmdir(tmpl);
    free(path);
}

TEST(pidlock_refuses_a_second_holder_and_names_it)
{
    char tmpl[] = "/tmp/dw-core-test-XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(tmpl));
    char *dir = dw_asprintf("%s/a/b", tmpl);
    ASSERT_EQ_INT(dw_mkdir_p(dir), 0);
    ASSERT_EQ_INT(dw_mkdir_p(dir), 0); /* existing is fine */
    char *path = dw_asprintf("%s/LOCK", dir);
    int fd1, fd2;
    char holder[32];
    ASSERT_EQ_INT(dw_pidlock_acquire(path, &fd1, holder, sizeof holder), 0);
    ASSERT_TRUE(fd1 >= 0);
    /* flock is per open file, so a second open in this process conflicts too. */
    ASSERT_EQ_INT(dw_pidlock_acquire(path, &fd2, holder, sizeof holder), DW_PIDLOCK_BUSY);
    ASSERT_EQ_INT(fd2, -1);
    char want[32];
    snprintf(want, sizeof want, "%ld", (long)getpid());
    ASSERT_EQ_STR(holder, want);
    dw_pidlock_release(&fd1);
    ASSERT_EQ_INT(fd1, -1);
    dw_pidlock_release(&fd1); /* no-op */
    ASSERT_EQ_INT(dw_pidlock_acquire(path, &fd2, holder, sizeof holder), 0);
    dw_pidlock_release(&fd2);
    char *file = dw_asprintf("%s/f", tmpl);
    FILE *f = fopen(file, "w");
    fclose(f);
    char *under_file = dw_asprintf("%s/x", file);
    ASSERT_EQ_INT(dw_mkdir_p(under_file), -1);
    ASSERT_EQ_INT(errno, ENOTDIR);
    unlink(path);
    unlink(file);
    rmdir(dir);
    char *a = dw_asprintf("%s/a", tmpl);
    rmdir(a);
    rmdir(tmpl);
    free(a);
    free(under_file);
    free(file);
    free(path);
    free(dir);
}

TEST(hex_digits)
{
    ASSERT_EQ_INT(dw_hex_digit('0'), 0);
    ASSERT_EQ_INT(dw_hex_digit('9'), 9);
    ASSERT_EQ_INT(dw_hex_digit('a'), 10);
    ASSERT_EQ_INT(dw_hex_digit('F'), 15);
    ASSERT_EQ_INT(dw_hex_digit('g'), -1);
    ASSERT_EQ_INT(dw_hex_digit('/'), -1);
    ASSERT_EQ_INT(dw_hex_digit(0), -1);
}

TEST(due_heap_gives_the_earliest_first)
{
    struct dw_dueheap h = {0};
    ASSERT_NULL(dw_dueheap_top(&h));
    int items[100];
    for (int i = 0; i < 100; i++) {
        items[i] = i;
        dw_dueheap_push(&h, (int64_t)((i * 37) % 100), &items[i]);
    }
    int64_t last = -1;
    for (int k = 0; k < 100; k++) { /* run each once, then push it far out */
        const struct dw_due *top = dw_dueheap_top(&h);
        ASSERT_TRUE(top->at >= last);
        ASSERT_EQ_INT((*(int *)top->item * 37) % 100, top->at);
        last = top->at;
        dw_dueheap_retime_top(&h, 1000 + top->at);
    }
    ASSERT_EQ_INT(dw_dueheap_top(&h)->at, 1000);
    dw_dueheap_clear(&h);
    ASSERT_NULL(dw_dueheap_top(&h));
    dw_dueheap_release(&h);
}

TEST(rate_limit_per_key_refills_and_stays_bounded)
{
    struct dw_ratelimit *rl = dw_ratelimit_new(2, 3, 16);
    int64_t retry = 0;
    for (int i = 0; i < 3; i++)
        ASSERT_TRUE(dw_ratelimit_take(rl, "10.0.0.1", 1000, &retry));
    ASSERT_FALSE(dw_ratelimit_take(rl, "10.0.0.1", 1000, &retry));
    ASSERT_EQ_INT(retry, 500);                                    /* one token at 2 a second */
    ASSERT_TRUE(dw_ratelimit_take(rl, "10.0.0.2", 1000, &retry)); /* keys are independent */
    ASSERT_FALSE(dw_ratelimit_take(rl, "10.0.0.1", 1400, &retry));
    ASSERT_EQ_INT(retry, 100);
    ASSERT_TRUE(dw_ratelimit_take(rl, "10.0.0.1", 1500, &retry));
    /* a long pause refills only up to the burst */
    for (int i = 0; i < 3; i++)
        ASSERT_TRUE(dw_ratelimit_take(rl, "10.0.0.1", 100000, &retry));
    ASSERT_FALSE(dw_ratelimit_take(rl, "10.0.0.1", 100000, &retry));
    /* a flood of distinct keys evicts (admitting), memory stays the table's */
    char key[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        ASSERT_TRUE(dw_ratelimit_take(rl, key, 100000, &retry));
    }
    /* keys longer than the slot are cut, and still limited */
    char longkey[200];
    memset(longkey, 'x', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    dw_ratelimit_set(rl, 1, 1);
    ASSERT_TRUE(dw_ratelimit_take(rl, longkey, 200000, &retry));
    ASSERT_FALSE(dw_ratelimit_take(rl, longkey, 200000, &retry));
    ASSERT_EQ_INT(retry, 1000);
    dw_ratelimit_free(&rl);
    ASSERT_NULL(rl);
    dw_ratelimit_free(&rl);
}

TEST(utf8_sequences_are_measured_and_invalid_ones_refused)
{
    uint32_t cp = 0;
    ASSERT_EQ_UINT(dw_utf8_seq((const unsigned char *)"A", 1, &cp), 1);
    ASSERT_EQ_UINT(cp, 'A');
    ASSERT_EQ_UINT(dw_utf8_seq((const unsigned char *)"\xc3\xa9", 2, &cp), 2); /* é */
    ASSERT_EQ_UINT(cp, 0xe9);
    ASSERT_EQ_UINT(dw_utf8_seq((const unsigned char *)"\xe2\x82\xac", 3, NULL), 3); /* € */
    ASSERT_EQ_UINT(dw_utf8_seq((const unsigned char *)"\xf0\x9f\x98\x80", 4, &cp), 4);
    ASSERT_EQ_UINT(cp, 0x1f600);
    ASSERT_EQ_UINT(dw_utf8_seq((const unsigned char *)"\xc3\xa9", 1, &cp), 0); /* cut */
    ASSERT_EQ_UINT(dw_utf8_seq((const unsigned char *)"\xc0\xaf", 2, &cp), 0); /* overlong */
    ASSERT_EQ_UINT(dw_utf8_seq((const unsigned char *)"\xe0\x80\xaf", 3, &cp), 0);
    ASSERT_EQ_UINT(dw_utf8_seq((const unsigned char *)"\xed\xa0\x80", 3, &cp), 0); /* surrogate */
    ASSERT_EQ_UINT(dw_utf8_seq((const unsigned char *)"\xf4\x90\x80\x80", 4, &cp), 0);
    ASSERT_EQ_UINT(dw_utf8_seq((const unsigned char *)"\x80", 1, &cp), 0); /* continuation */
    ASSERT_EQ_UINT(dw_utf8_seq((const unsigned char *)"\xc3(", 2, &cp), 0);
}

TEST(diagnostics_become_one_message_of_errors)
{
    struct dw_diags d;
    dw_diags_init(&d);
    char *t = dw_diags_text(&d, 0, "; ", "nothing");
    ASSERT_EQ_STR(t, "nothing");
    free(t);
    dw_diags_add(&d, "a.yaml", 1, 2, "k", "first");
    dw_diags_add(&d, "a.yaml", 2, 1, NULL, "warning: only a warning");
    dw_diags_add(&d, "a.yaml", 3, 4, "k", "second");
    dw_diags_add(&d, "a.yaml", 5, 6, "k", "third");
    t = dw_diags_text(&d, 0, "; ", "");
    ASSERT_EQ_STR(t, "a.yaml:1:2: k: first; a.yaml:3:4: k: second; a.yaml:5:6: k: third");
    free(t);
    t = dw_diags_text(&d, 2, "\n", "");
    ASSERT_EQ_STR(t, "a.yaml:1:2: k: first\na.yaml:3:4: k: second\n... and 1 more");
    free(t);
    dw_diags_release(&d);
}

TEST_MAIN()
