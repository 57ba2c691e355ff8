/*
 * Unit tests of the expo module: the shared fixtures, escapes, numbers and
 * timestamps, every validation error with its exact message and position,
 * every limit (rejects whole, delivers nothing), Content-Type detection.
 */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "expo/expo.h"
#include "harness.h"

#ifndef DW_SHARED_DIR
#error "DW_SHARED_DIR must point at the shared directory (fixtures)"
#endif

/* ---- a handler that renders what it receives ---- */

struct got {
    struct dw_buf out; /* one line per sample or metadata line */
    size_t samples, metas, created;
    size_t labels;
    size_t borrowed;  /* label values that point into the input */
    size_t unescaped; /* label values that point elsewhere (scratch) */
    const char *in;
    size_t in_len;
    size_t stop_after; /* return 7 from this sample on (0: never) */
    double last_value;
    bool last_has_ts;
    int64_t last_ts;
};

static void got_init(struct got *g)
{
    memset(g, 0, sizeof *g);
    dw_buf_init(&g->out, 64u << 20);
    dw_buf_puts(&g->out, "");
}

static void got_release(struct got *g)
{
    dw_buf_release(&g->out);
}

/* Shows a borrowed string with \n, \ and " escaped again, so lines stay lines. */
static void put_str(struct dw_buf *b, struct dw_expo_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        if (c == '\n')
            dw_buf_puts(b, "\\n");
        else if (c == '\\' || c == '"')
            dw_buf_printf(b, "\\%c", c);
        else
            dw_buf_putc(b, c);
    }
}

/* Integers as such, else the shortest %g that reads back to the same double. */
static void put_double(struct dw_buf *b, double v)
{
    char tmp[40];
    if (fabs(v) < 1e15 && v == (double)(long long)v) {
        dw_buf_printf(b, "%lld", (long long)v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v || v != v)
            break;
    }
    dw_buf_puts(b, tmp);
}

static bool inside_input(const struct got *g, const char *p)
{
    return g->in && p >= g->in && p < g->in + g->in_len + 1;
}

static int on_sample(void *ctx, const struct dw_expo_sample *s)
{
    struct got *g = ctx;
    if (g->stop_after && g->samples >= g->stop_after)
        return 7;
    g->samples++;
    g->created += s->created;
    g->labels += s->nlabels;
    g->last_value = s->value;
    g->last_has_ts = s->has_timestamp;
    g->last_ts = s->timestamp_ms;
    struct dw_buf *b = &g->out;
    put_str(b, s->name);
    if (s->nlabels) {
        dw_buf_putc(b, '{');
        for (size_t i = 0; i < s->nlabels; i++) {
            const struct dw_expo_label *l = &s->labels[i];
            if (l->value.len && inside_input(g, l->value.ptr))
                g->borrowed++;
            else if (l->value.len)
                g->unescaped++;
            dw_buf_printf(b, "%s", i ? "," : "");
            put_str(b, l->name);
            dw_buf_puts(b, "=\"");
            put_str(b, l->value);
            dw_buf_putc(b, '"');
        }
        dw_buf_putc(b, '}');
    }
    dw_buf_putc(b, ' ');
    put_double(b, s->value);
    if (s->has_timestamp)
        dw_buf_printf(b, " @%lld", (long long)s->timestamp_ms);
    dw_buf_puts(b, " [");
    put_str(b, s->family);
    dw_buf_printf(b, " %s%s]\n", dw_expo_type_name(s->type), s->created ? " created" : "");
    return 0;
}

static int on_meta(void *ctx, const struct dw_expo_meta *m)
{
    struct got *g = ctx;
    g->metas++;
    static const char *const kinds[] = {"HELP", "TYPE", "UNIT"};
    dw_buf_printf(&g->out, "%s ", kinds[m->kind]);
    put_str(&g->out, m->family);
    dw_buf_putc(&g->out, ' ');
    if (m->kind == DW_EXPO_META_TYPE)
        dw_buf_puts(&g->out, dw_expo_type_name(m->type));
    else
        put_str(&g->out, m->text);
    dw_buf_printf(&g->out, " (line %zu)\n", m->line);
    return 0;
}

/* Parses with the given options (NULL: defaults) and format into g. */
static int parse_opts(struct got *g, enum dw_expo_format f, const char *in, size_t len,
                      const struct dw_expo_opts *opts, struct dw_expo_error *err)
{
    struct dw_expo_opts o;
    if (opts)
        o = *opts;
    else
        dw_expo_opts_init(&o);
    o.format = f;
    g->in = in;
    g->in_len = len;
    struct dw_expo_handler h = {on_sample, on_meta, g};
    return dw_expo_parse(NULL, &o, in, len, &h, err);
}

static int parse(struct got *g, enum dw_expo_format f, const char *in, struct dw_expo_error *err)
{
    return parse_opts(g, f, in, strlen(in), NULL, err);
}

/* Parses in and expects exactly one rendered output. */
static void expect_ok(enum dw_expo_format f, const char *in, const char *rendered)
{
    struct got g;
    struct dw_expo_error err;
    got_init(&g);
    int rc = parse(&g, f, in, &err);
    ASSERT_EQ_STR(err.msg, "");
    ASSERT_EQ_INT(rc, 0);
    ASSERT_EQ_STR(g.out.data, rendered);
    got_release(&g);
}

/* Parses in and expects the exact error, with nothing delivered. */
static void expect_err(enum dw_expo_format f, const char *in, enum dw_expo_errcode code,
                       const char *msg)
{
    struct got g;
    struct dw_expo_error err;
    got_init(&g);
    int rc = parse(&g, f, in, &err);
    ASSERT_EQ_STR(err.msg, msg);
    ASSERT_EQ_INT(rc, -1);
    ASSERT_EQ_INT(err.code, code);
    ASSERT_EQ_UINT(g.samples, 0);
    ASSERT_EQ_UINT(g.metas, 0);
    got_release(&g);
}

#define TEXT DW_EXPO_TEXT
#define OM DW_EXPO_OPENMETRICS

/* ---- fixtures ---- */

static void read_fixture(const char *name, struct dw_buf *b)
{
    char path[512];
    snprintf(path, sizeof path, "%s/fixtures/%s", DW_SHARED_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        DW_FAIL_("cannot open fixture %s", path);
    dw_buf_init(b, 4u << 20);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        dw_buf_append(b, chunk, n);
    fclose(f);
}

struct fixture_counts {
    size_t samples, metas, labels;
};

/* Parses a fixture; returns its rendering (caller frees) and counts. */
static char *parse_fixture(const char *name, enum dw_expo_format f, struct fixture_counts *c,
                           struct dw_expo_error *err, int *rc)
{
    struct dw_buf in;
    read_fixture(name, &in);
    struct got g;
    got_init(&g);
    *rc = parse_opts(&g, f, in.data, in.len, NULL, err);
    c->samples = g.samples;
    c->metas = g.metas;
    c->labels = g.labels;
    dw_buf_release(&in);
    return dw_buf_steal(&g.out);
}

TEST(fixture_node_exporter)
{
    struct fixture_counts c;
    struct dw_expo_error err;
    int rc;
    char *out = parse_fixture("node_exporter_1.5.0.prom", TEXT, &c, &err, &rc);
    ASSERT_EQ_STR(err.msg, "");
    ASSERT_EQ_INT(rc, 0);
    ASSERT_EQ_UINT(c.samples, 507);
    ASSERT_EQ_UINT(c.metas, 283 * 2);
    ASSERT_EQ_UINT(c.labels, 401);
    ASSERT_CONTAINS(out, "\nnode_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 337.05 "
                         "[node_cpu_seconds_total counter]\n");
    ASSERT_CONTAINS(out, "\ngo_goroutines 7 [go_goroutines gauge]\n");
    ASSERT_CONTAINS(out, "\nHELP node_uname_info Labeled system information as provided by the "
                         "uname system call. (line 1017)\nTYPE node_uname_info gauge (line 1018)\n"
                         "node_uname_info{domainname=\"(none)\",machine=\"x86_64\",nodename=\"vm\","
                         "release=\"6.18.44-fc-v657\",sysname=\"Linux\",version=\"#1 SMP "
                         "PREEMPT_DYNAMIC @0\"} 1 [node_uname_info gauge]\n");
    ASSERT_CONTAINS(out, "go_gc_duration_seconds_sum");
    ASSERT_CONTAINS(out, "[go_gc_duration_seconds summary]\n");
    free(out);
    /* As OpenMetrics it breaks the counter rule: text counters carry _total in the family name. */
    out = parse_fixture("node_exporter_1.5.0.prom", OM, &c, &err, &rc);
    ASSERT_EQ_INT(rc, -1);
    ASSERT_EQ_STR(err.msg, "line 21 col 1: sample \"go_memstats_alloc_bytes_total\" does not fit "
                           "counter \"go_memstats_alloc_bytes_total\": expected suffix _total or "
                           "_created");
    ASSERT_EQ_UINT(c.samples, 0);
    free(out);
}

TEST(fixture_promtestdata)
{
    struct fixture_counts c;
    struct dw_expo_error err;
    int rc;
    char *out = parse_fixture("exposition/promtestdata.txt", TEXT, &c, &err, &rc);
    ASSERT_EQ_STR(err.msg, "");
    ASSERT_EQ_UINT(c.samples, 410);
    ASSERT_EQ_UINT(c.metas, 59 * 2);
    ASSERT_EQ_UINT(c.labels, 577);
    ASSERT_CONTAINS(out, "\ngo_gc_duration_seconds{quantile=\"0.25\"} 7.424100000000001e-05 "
                         "[go_gc_duration_seconds summary]\n");
    ASSERT_CONTAINS(out, "\nhttp_request_duration_microseconds{handler=\"alerts\","
                         "quantile=\"0.5\"} nan [http_request_duration_microseconds summary]\n");
    ASSERT_CONTAINS(out, "\ngo_memstats_last_gc_time_seconds 1484395558.6166437 "
                         "[go_memstats_last_gc_time_seconds gauge]\n");
    free(out);
    /* The "# EOF" at its end is a plain comment in text; as OpenMetrics it fails on a counter. */
    out = parse_fixture("exposition/promtestdata.txt", OM, &c, &err, &rc);
    ASSERT_EQ_INT(rc, -1);
    ASSERT_EQ_STR(err.msg, "line 18 col 1: sample \"go_memstats_alloc_bytes_total\" does not fit "
                           "counter \"go_memstats_alloc_bytes_total\": expected suffix _total or "
                           "_created");
    free(out);

    out = parse_fixture("exposition/promtestdata.nometa.txt", TEXT, &c, &err, &rc);
    ASSERT_EQ_STR(err.msg, "");
    ASSERT_EQ_UINT(c.samples, 410);
    ASSERT_EQ_UINT(c.metas, 0);
    ASSERT_EQ_UINT(c.labels, 577);
    /* Without TYPE lines every name is its own untyped family. */
    ASSERT_CONTAINS(out, "\ngo_gc_duration_seconds_sum 0.012139815 [go_gc_duration_seconds_sum "
                         "untyped]\n");
    free(out);
    /* Untyped families coming back after others are interleaved in OpenMetrics. */
    out = parse_fixture("exposition/promtestdata.nometa.txt", OM, &c, &err, &rc);
    ASSERT_EQ_INT(rc, -1);
    ASSERT_EQ_STR(err.msg, "line 37 col 1: metric family \"http_request_duration_microseconds\" "
                           "appeared earlier: families must not be interleaved");
    free(out);
}

TEST(fixture_alltypes_237mfs)
{
    struct fixture_counts c;
    struct dw_expo_error err;
    int rc;
    char *out = parse_fixture("exposition/model_textparse_testdata_alltypes.237mfs.prom.txt", TEXT,
                              &c, &err, &rc);
    ASSERT_EQ_STR(err.msg, "");
    ASSERT_EQ_UINT(c.samples, 1857);
    ASSERT_EQ_UINT(c.metas, 237 * 2);
    ASSERT_EQ_UINT(c.labels, 2749);
    ASSERT_CONTAINS(out, "\ngo_gc_heap_allocs_by_size_bytes_bucket{le=\"+Inf\"} 44046288803 "
                         "[go_gc_heap_allocs_by_size_bytes histogram]\n");
    ASSERT_CONTAINS(out, "\npromhttp_metric_handler_requests_total{code=\"200\"} 4059092 "
                         "[promhttp_metric_handler_requests_total counter]\n");
    free(out);
    out = parse_fixture("exposition/model_textparse_testdata_alltypes.237mfs.prom.txt", OM, &c,
                        &err, &rc);
    ASSERT_EQ_STR(err.msg, "line 3 col 1: sample \"go_gc_cycles_automatic_gc_cycles_total\" does "
                           "not fit counter \"go_gc_cycles_automatic_gc_cycles_total\": expected "
                           "suffix _total or _created");
    free(out);

    out = parse_fixture("exposition/model_textparse_testdata_alltypes.237mfs.nometa.prom.txt", TEXT,
                        &c, &err, &rc);
    ASSERT_EQ_STR(err.msg, "");
    ASSERT_EQ_UINT(c.samples, 1857);
    ASSERT_EQ_UINT(c.metas, 0);
    ASSERT_EQ_UINT(c.labels, 2749);
    ASSERT_CONTAINS(out, "\nprometheus_rule_group_last_evaluation_timestamp_seconds{rule_group=\""
                         "/etc/prometheus/rules/node_rules.rules;node-exporter.rules\"} "
                         "1738949367.5395968 ");
    free(out);
    out = parse_fixture("exposition/model_textparse_testdata_alltypes.237mfs.nometa.prom.txt", OM,
                        &c, &err, &rc);
    ASSERT_EQ_STR(err.msg, "line 231 col 1: metric family "
                           "\"prometheus_engine_query_duration_seconds\" appeared earlier: "
                           "families must not be interleaved");
    free(out);
}

TEST(fixture_openmetrics_histogram)
{
    struct fixture_counts c;
    struct dw_expo_error err;
    int rc;
    char *out =
        parse_fixture("exposition/model_textparse_testdata_1histogram.om.txt", OM, &c, &err, &rc);
    ASSERT_EQ_STR(err.msg, "");
    ASSERT_EQ_INT(rc, 0);
    ASSERT_EQ_UINT(c.samples, 42);
    ASSERT_EQ_UINT(c.metas, 2);
    ASSERT_EQ_UINT(c.labels, 162);
    ASSERT_CONTAINS(out, "TYPE golang_manual_histogram_seconds histogram (line 2)\n");
    ASSERT_CONTAINS(out, "\ngolang_manual_histogram_seconds_bucket{address=\"0.0.0.0\","
                         "generation=\"20\",port=\"5002\",le=\"10.0\"} 1 "
                         "[golang_manual_histogram_seconds histogram]\n");
    ASSERT_CONTAINS(out, "\ngolang_manual_histogram_seconds_sum{address=\"0.0.0.0\","
                         "generation=\"20\",port=\"5003\"} 10 [golang_manual_histogram_seconds "
                         "histogram]\n");
    free(out);
    /* Nothing OpenMetrics-only in it, so it is valid text too. */
    out =
        parse_fixture("exposition/model_textparse_testdata_1histogram.om.txt", TEXT, &c, &err, &rc);
    ASSERT_EQ_STR(err.msg, "");
    ASSERT_EQ_UINT(c.samples, 42);
    free(out);
}

TEST(fixture_openmetrics_alltypes)
{
    struct fixture_counts c;
    struct dw_expo_error err;
    int rc;
    char *out = parse_fixture("exposition/model_textparse_testdata_alltypes.5mfs.om.txt", OM, &c,
                              &err, &rc);
    ASSERT_EQ_STR(err.msg, "");
    ASSERT_EQ_INT(rc, 0);
    /* 53 sample lines, 9 of them _created (dropped by default); 6 exemplars skipped. */
    ASSERT_EQ_UINT(c.samples, 44);
    ASSERT_EQ_UINT(c.metas, 10);
    ASSERT_EQ_UINT(c.labels, 53);
    ASSERT_NOT_CONTAINS(out, "_created");
    ASSERT_NOT_CONTAINS(out, "dummyID");
    ASSERT_CONTAINS(out, "\npromhttp_metric_handler_errors_total{cause=\"encoding\"} 0 "
                         "[promhttp_metric_handler_errors counter]\n");
    ASSERT_CONTAINS(out, "\nrpc_durations_histogram_seconds_bucket{le=\"-0.0002899999999999998\"} "
                         "3 [rpc_durations_histogram_seconds histogram]\n");
    ASSERT_CONTAINS(out, "\nrpc_durations_seconds{service=\"normal\",quantile=\"0.5\"} "
                         "-5.066758674917046e-06 [rpc_durations_seconds summary]\n");
    ASSERT_CONTAINS(out, "\ngo_build_info{checksum=\"\",path=\"\",version=\"\"} 1 [go_build_info "
                         "gauge]\n");
    free(out);
    /* Exemplars are not part of the text format. */
    out = parse_fixture("exposition/model_textparse_testdata_alltypes.5mfs.om.txt", TEXT, &c, &err,
                        &rc);
    ASSERT_EQ_INT(rc, -1);
    ASSERT_EQ_STR(err.msg,
                  "line 19 col 71: invalid timestamp \"#\" (expected integer milliseconds)");
    ASSERT_EQ_UINT(c.samples, 0);
    free(out);
}

TEST(fixture_keep_created)
{
    struct dw_buf in;
    read_fixture("exposition/model_textparse_testdata_alltypes.5mfs.om.txt", &in);
    struct dw_expo_opts o;
    dw_expo_opts_init(&o);
    o.keep_created = true;
    struct got g;
    struct dw_expo_error err;
    got_init(&g);
    ASSERT_EQ_INT(parse_opts(&g, OM, in.data, in.len, &o, &err), 0);
    ASSERT_EQ_UINT(g.samples, 53);
    ASSERT_EQ_UINT(g.created, 9);
    ASSERT_CONTAINS(g.out.data, "\nrpc_requests_created{service=\"uniform\"} 1726839813.0168471 "
                                "[rpc_requests counter created]\n");
    ASSERT_CONTAINS(g.out.data, "\nrpc_durations_histogram_seconds_created 1726839813.016302 "
                                "[rpc_durations_histogram_seconds histogram created]\n");
    got_release(&g);
    dw_buf_release(&in);
}

/* ---- text syntax ---- */

TEST(text_whitespace_comments_and_optional_parts)
{
    expect_ok(TEXT,
              "  foo { a = \"1\" , b=\"2\", } 3 -5\n"
              "\t# just a comment\n"
              "\n   \t\n"
              "#HELP  foo   some  help \n"
              "bar{}\t1\n"
              "baz{a=\"x\"}2\n"
              "# EOF\n"
              "qux 4",
              "foo{a=\"1\",b=\"2\"} 3 @-5 [foo untyped]\n"
              "HELP foo some  help  (line 5)\n"
              "bar 1 [bar untyped]\n"
              "baz{a=\"x\"} 2 [baz untyped]\n"
              "qux 4 [qux untyped]\n");
}

TEST(text_families_and_types)
{
    expect_ok(TEXT,
              "# TYPE rq_total counter\n"
              "rq_total{code=\"200\"} 5 1700000000000\n"
              "# TYPE lat histogram\n"
              "lat_bucket{le=\"0.5\"} 1\n"
              "lat_bucket{le=\"+Inf\"} 2\n"
              "lat_sum 0.7\n"
              "lat_count 2\n"
              "# TYPE q summary\n"
              "q{quantile=\"0.99\"} 3\n"
              "q_sum 9\n"
              "q_count 3\n"
              "other 1\n"
              "lat_sum 0.8\n"
              "# HELP other help after samples is fine in text\n",
              "TYPE rq_total counter (line 1)\n"
              "rq_total{code=\"200\"} 5 @1700000000000 [rq_total counter]\n"
              "TYPE lat histogram (line 3)\n"
              "lat_bucket{le=\"0.5\"} 1 [lat histogram]\n"
              "lat_bucket{le=\"+Inf\"} 2 [lat histogram]\n"
              "lat_sum 0.7 [lat histogram]\n"
              "lat_count 2 [lat histogram]\n"
              "TYPE q summary (line 8)\n"
              "q{quantile=\"0.99\"} 3 [q summary]\n"
              "q_sum 9 [q summary]\n"
              "q_count 3 [q summary]\n"
              "other 1 [other untyped]\n"
              "lat_sum 0.8 [lat histogram]\n"
              "HELP other help after samples is fine in text (line 14)\n");
}

TEST(text_syntax_errors_have_exact_positions)
{
    static const struct {
        const char *in, *msg;
    } cases[] = {
        {"foo{code=\"200\" 1\n",
         "line 1 col 16: expected ',' or '}' after the value of label \"code\""},
        {"ok 1\nfoo{code 1} 1\n", "line 2 col 10: expected '=' after label name \"code\""},
        {"foo{code=200} 1", "line 1 col 10: expected '\"' to open the value of label \"code\""},
        {"foo{code=\"200} 1", "line 1 col 10: value of label \"code\" has no closing '\"'"},
        {"foo{a=\"x\\\"} 1", "line 1 col 7: value of label \"a\" has no closing '\"'"},
        {"foo{1a=\"x\"} 1", "line 1 col 5: expected a label name, found '1'"},
        {"foo{a=\"x\",a=\"y\"} 1", "line 1 col 11: duplicate label name \"a\""},
        {"foo{__name__=\"x\"} 1", "line 1 col 5: label name \"__name__\" is reserved"},
        {"foo bar", "line 1 col 5: invalid value \"bar\""},
        {"foo 1 abc", "line 1 col 7: invalid timestamp \"abc\" (expected integer milliseconds)"},
        {"foo 1 1.5", "line 1 col 7: invalid timestamp \"1.5\" (expected integer milliseconds)"},
        {"foo 1 9223372036854775808",
         "line 1 col 7: invalid timestamp \"9223372036854775808\" (expected integer "
         "milliseconds)"},
        {"foo 1 2 3", "line 1 col 9: unexpected text after the timestamp: \"3\""},
        {"foo", "line 1 col 4: expected a value after \"foo\", found end of line"},
        {"foo{a=\"b\"}  ", "line 1 col 13: expected a value after \"foo\", found end of line"},
        {"1foo 1", "line 1 col 1: expected a metric name, found '1'"},
        {"foo-bar 1", "line 1 col 4: unexpected '-' after metric name \"foo\""},
        {"foo 1e400", "line 1 col 5: out-of-range value \"1e400\""},
        {"foo +NaN", "line 1 col 5: invalid value \"+NaN\""},
        {"foo 0x10", "line 1 col 5: invalid value \"0x10\""},
        {"foo 1_000", "line 1 col 5: invalid value \"1_000\""},
        {"foo 1\r\n", "line 1 col 5: invalid value \"1\\x0d\""},
        {"foo{a=\"\xff\"} 1", "line 1 col 8: value of label \"a\" is not valid UTF-8"},
        {"# TYPE foo blah",
         "line 1 col 12: unknown metric type \"blah\" (expected counter, gauge, histogram, "
         "summary or untyped)"},
        {"# TYPE foo gaugehistogram",
         "line 1 col 12: unknown metric type \"gaugehistogram\" (expected counter, gauge, "
         "histogram, summary or untyped)"},
        {"# TYPE foo", "line 1 col 11: expected a metric type after # TYPE \"foo\""},
        {"# TYPE foo counter extra", "line 1 col 20: unexpected text after the metric type: "
                                     "\"extra\""},
        {"# TYPE 1foo counter", "line 1 col 8: expected a metric name in # TYPE, found '1'"},
        {"# HELP", "line 1 col 7: expected a metric name in # HELP, found end of line"},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(cases); i++)
        expect_err(TEXT, cases[i].in, DW_EXPO_ESYNTAX, cases[i].msg);
}

TEST(text_family_rules)
{
    expect_err(TEXT, "# TYPE foo counter\n# TYPE foo gauge\n", DW_EXPO_ESYNTAX,
               "line 2 col 8: second TYPE line for metric \"foo\"");
    expect_err(TEXT, "foo 1\n# TYPE foo counter\n", DW_EXPO_ESYNTAX,
               "line 2 col 8: TYPE line for metric \"foo\" comes after its samples");
    expect_err(TEXT, "# HELP foo a\nfoo 1\n# HELP foo b\n", DW_EXPO_ESYNTAX,
               "line 3 col 8: second HELP line for metric \"foo\"");
    expect_err(TEXT, "# TYPE foo histogram\nfoo 1\n", DW_EXPO_ESYNTAX,
               "line 2 col 1: sample \"foo\" does not fit histogram \"foo\": expected suffix "
               "_bucket, _count or _sum");
    expect_err(TEXT, "# TYPE foo histogram\nfoo_bucket 1\n", DW_EXPO_ESYNTAX,
               "line 2 col 1: \"foo_bucket\" has no \"le\" label");
    expect_err(TEXT, "# TYPE foo histogram\nfoo_bucket{le=\"x\"} 1\n", DW_EXPO_ESYNTAX,
               "line 2 col 12: value \"x\" of label \"le\" is not a number");
    expect_err(TEXT, "# TYPE foo summary\nfoo{q=\"1\"} 1\n", DW_EXPO_ESYNTAX,
               "line 2 col 1: \"foo\" has no \"quantile\" label");
    /* The TYPE of a histogram may follow samples of names that are not its own. */
    expect_ok(TEXT, "foo_x 1\n# TYPE foo histogram\nfoo_count 2\n",
              "foo_x 1 [foo_x untyped]\nTYPE foo histogram (line 2)\nfoo_count 2 [foo "
              "histogram]\n");
}

/* ---- OpenMetrics syntax ---- */

TEST(openmetrics_valid_forms)
{
    expect_ok(OM,
              "# TYPE acme_seconds summary\n"
              "# UNIT acme_seconds seconds\n"
              "# HELP acme_seconds Latency \\\"quoted\\\" \\\\ and\\nnext\n"
              "acme_seconds_sum{path=\"/api\"} 9036.32\n"
              "acme_seconds_count{path=\"/api\"} 807283.0 1520879607.789\n"
              "acme_seconds_created{path=\"/api\"} 1605281325.0\n"
              "# TYPE foo histogram\n"
              "foo_bucket{le=\"0.1\"} 8 # {} 0.054\n"
              "foo_bucket{le=\"1\"} 11 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n"
              "foo_bucket{le=\"+Inf\"} 17 1520879607 # {trace_id=\"oHg\"} 9.8 1520879607.789\n"
              "foo_count 17\n"
              "# TYPE g gaugehistogram\n"
              "g_bucket{le=\"+Inf\"} 42.0\n"
              "g_gcount 42.0\n"
              "g_gsum 3289.3\n"
              "# TYPE s stateset\n"
              "s{s=\"a\"} 1\n"
              "# TYPE build info\n"
              "build_info{version=\"8.2.7\"} 1\n"
              "# TYPE u unknown\n"
              "u 42.23\n"
              "implicit{} -1.5e-3 -1.5\n"
              "# EOF",
              "TYPE acme_seconds summary (line 1)\n"
              "UNIT acme_seconds seconds (line 2)\n"
              "HELP acme_seconds Latency \\\"quoted\\\" \\\\ and\\nnext (line 3)\n"
              "acme_seconds_sum{path=\"/api\"} 9036.32 [acme_seconds summary]\n"
              "acme_seconds_count{path=\"/api\"} 807283 @1520879607789 [acme_seconds summary]\n"
              "TYPE foo histogram (line 7)\n"
              "foo_bucket{le=\"0.1\"} 8 [foo histogram]\n"
              "foo_bucket{le=\"1\"} 11 [foo histogram]\n"
              "foo_bucket{le=\"+Inf\"} 17 @1520879607000 [foo histogram]\n"
              "foo_count 17 [foo histogram]\n"
              "TYPE g gaugehistogram (line 12)\n"
              "g_bucket{le=\"+Inf\"} 42 [g gaugehistogram]\n"
              "g_gcount 42 [g gaugehistogram]\n"
              "g_gsum 3289.3 [g gaugehistogram]\n"
              "TYPE s stateset (line 16)\n"
              "s{s=\"a\"} 1 [s stateset]\n"
              "TYPE build info (line 18)\n"
              "build_info{version=\"8.2.7\"} 1 [build info]\n"
              "TYPE u untyped (line 20)\n"
              "u 42.23 [u untyped]\n"
              "implicit -0.0015 @-1500 [implicit untyped]\n");
}

TEST(openmetrics_eof_rules)
{
    expect_ok(OM, "# EOF\n", "");
    expect_ok(OM, "# EOF", "");
    expect_err(OM, "", DW_EXPO_ESYNTAX, "line 1 col 1: missing # EOF at the end of the input");
    expect_err(OM, "foo 1", DW_EXPO_ESYNTAX, "line 1 col 6: missing # EOF at the end of the input");
    expect_err(OM, "foo 1\n", DW_EXPO_ESYNTAX,
               "line 2 col 1: missing # EOF at the end of the input");
    expect_err(OM, "# EOF\nfoo 1\n", DW_EXPO_ESYNTAX, "line 2 col 1: unexpected data after # EOF");
    expect_err(OM, "# EOF\n\n", DW_EXPO_ESYNTAX, "line 2 col 1: unexpected data after # EOF");
    expect_err(OM, "# EOF foo\n", DW_EXPO_ESYNTAX, "line 1 col 6: unexpected text after # EOF");
}

TEST(openmetrics_syntax_errors_have_exact_positions)
{
    static const struct {
        const char *in, *msg;
    } cases[] = {
        {"\n# EOF\n", "line 1 col 1: empty line (not allowed in OpenMetrics)"},
        {"# hello\n# EOF\n", "line 1 col 3: unknown line # \"hello\" (OpenMetrics allows only "
                             "# HELP, # TYPE, # UNIT and # EOF)"},
        {"#TYPE foo gauge\n# EOF\n", "line 1 col 2: expected ' ' after '#' (OpenMetrics allows "
                                     "only # HELP, # TYPE, # UNIT and # EOF)"},
        {"foo  1\n# EOF\n", "line 1 col 5: expected a value after \"foo\", found ' '"},
        {"foo\t1\n# EOF\n", "line 1 col 4: unexpected '\\x09' after metric name \"foo\""},
        {" foo 1\n# EOF\n", "line 1 col 1: expected a metric name, found ' '"},
        {"foo{a=\"b\",} 1\n# EOF\n", "line 1 col 11: expected a label name after ','"},
        {"foo{a = \"b\"} 1\n# EOF\n", "line 1 col 6: expected '=' after label name \"a\""},
        {"foo{a=\"b\"}1\n# EOF\n", "line 1 col 11: expected ' ' and a value, found '1'"},
        {"foo 1 \n# EOF\n", "line 1 col 7: expected a timestamp or an exemplar (\"# {...}\")"},
        {"foo 1 1520879607.789 extra\n# EOF\n",
         "line 1 col 22: expected a timestamp or an exemplar (\"# {...}\")"},
        {"foo 1 1\t\n# EOF\n", "line 1 col 8: expected ' ' after the timestamp"},
        {"foo 1 NaN\n# EOF\n", "line 1 col 7: invalid timestamp \"NaN\" (expected seconds)"},
        {"foo 1 1e30\n# EOF\n", "line 1 col 7: out-of-range timestamp \"1e30\" (expected seconds)"},
        {"foo 1 10000000000000000\n# EOF\n",
         "line 1 col 7: out-of-range timestamp \"10000000000000000\" (expected seconds)"},
        {"foo_total 1 #{a=\"b\"} 1\n# EOF\n",
         "line 1 col 13: expected \"# {\" to start an exemplar"},
        {"foo_total 1 # {a=\"b\"}\n# EOF\n",
         "line 1 col 22: expected ' ' and a value after the exemplar's labels"},
        {"foo_total 1 # {a=\"b\"} x\n# EOF\n", "line 1 col 23: invalid exemplar value \"x\""},
        {"foo_total 1 # {a=\"b\"} 1 2 3\n# EOF\n",
         "line 1 col 25: invalid exemplar timestamp \"2 3\""},
        {"foo_total 1 # {a=b} 1\n# EOF\n",
         "line 1 col 18: expected '\"' to open the value of label \"a\""},
        {"# TYPE foo untyped\n# EOF\n",
         "line 1 col 12: unknown metric type \"untyped\" (expected counter, gauge, histogram, "
         "gaugehistogram, stateset, info, summary or unknown)"},
        {"# TYPE foo\n# EOF\n", "line 1 col 11: expected a metric type after # TYPE \"foo\""},
        {"# TYPE foo  gauge\n# EOF\n",
         "line 1 col 12: unknown metric type \" gauge\" (expected counter, gauge, histogram, "
         "gaugehistogram, stateset, info, summary or unknown)"},
        {"# UNIT foo_seconds sec-onds\n# EOF\n", "line 1 col 23: invalid character '-' in unit"},
        {"# TYPE foo_seconds gauge\n# UNIT foo_seconds bytes\n# EOF\n",
         "line 2 col 20: unit \"bytes\" must be the suffix of the metric family name "
         "\"foo_seconds\" (after '_')"},
        {"# UNIT seconds seconds\n# EOF\n",
         "line 1 col 16: unit \"seconds\" must be the suffix of the metric family name "
         "\"seconds\" (after '_')"},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(cases); i++)
        expect_err(OM, cases[i].in, DW_EXPO_ESYNTAX, cases[i].msg);
    /* An empty UNIT (and HELP) is allowed and means none. */
    expect_ok(OM, "# UNIT foo\n# HELP foo\n# EOF\n", "UNIT foo  (line 1)\nHELP foo  (line 2)\n");
}

TEST(openmetrics_family_rules)
{
    expect_err(OM, "# TYPE foo counter\nfoo 1\n# EOF\n", DW_EXPO_ESYNTAX,
               "line 2 col 1: sample \"foo\" does not fit counter \"foo\": expected suffix _total "
               "or _created");
    expect_err(OM, "# TYPE foo info\nfoo 1\n# EOF\n", DW_EXPO_ESYNTAX,
               "line 2 col 1: sample \"foo\" does not fit info \"foo\": expected suffix _info");
    expect_err(OM, "# TYPE foo histogram\nfoo 1\n# EOF\n", DW_EXPO_ESYNTAX,
               "line 2 col 1: sample \"foo\" does not fit histogram \"foo\": expected suffix "
               "_bucket, _count, _sum or _created");
    expect_err(OM, "# TYPE foo gaugehistogram\nfoo_bucket{x=\"1\"} 1\n# EOF\n", DW_EXPO_ESYNTAX,
               "line 2 col 1: \"foo_bucket\" has no \"le\" label");
    expect_err(OM, "# TYPE foo summary\nfoo 1\n# EOF\n", DW_EXPO_ESYNTAX,
               "line 2 col 1: \"foo\" has no \"quantile\" label");
    expect_err(OM, "# TYPE foo summary\nfoo{quantile=\"high\"} 1\n# EOF\n", DW_EXPO_ESYNTAX,
               "line 2 col 5: value \"high\" of label \"quantile\" is not a number");
    expect_err(OM, "# TYPE foo counter\nfoo_total 1\n# HELP foo x\n# EOF\n", DW_EXPO_ESYNTAX,
               "line 3 col 8: HELP line for metric \"foo\" comes after its samples");
    expect_err(OM, "# TYPE foo gauge\n# TYPE foo gauge\n# EOF\n", DW_EXPO_ESYNTAX,
               "line 2 col 8: second TYPE line for metric \"foo\"");
    expect_err(OM, "# UNIT foo_s s\n# UNIT foo_s s\n# EOF\n", DW_EXPO_ESYNTAX,
               "line 2 col 8: second UNIT line for metric \"foo_s\"");
    expect_err(OM, "a 1\nb 1\na 2\n# EOF\n", DW_EXPO_ESYNTAX,
               "line 3 col 1: metric family \"a\" appeared earlier: families must not be "
               "interleaved");
    expect_err(OM, "# TYPE a counter\na_total 1\nb 1\na_total 2\n# EOF\n", DW_EXPO_ESYNTAX,
               "line 4 col 1: sample \"a_total\" belongs to metric family \"a\", which appeared "
               "earlier: families must not be interleaved");
    expect_err(OM, "a 1\nb 1\n# HELP a x\n# EOF\n", DW_EXPO_ESYNTAX,
               "line 3 col 8: metric family \"a\" appeared earlier: families must not be "
               "interleaved");
    /* A name that cannot belong to the current family starts a new one. */
    expect_ok(OM, "# TYPE foo gauge\nfoo 1\nfoo_total 2\n# EOF\n",
              "TYPE foo gauge (line 1)\nfoo 1 [foo gauge]\nfoo_total 2 [foo_total untyped]\n");
}

/* ---- escapes, UTF-8, zero-copy ---- */

TEST(escapes_in_label_values_and_help)
{
    const char *in = "# HELP foo a\\\\b\\nc\\\"d\n"
                     "foo{a=\"x\\\\y\\\"z\\nw\",b=\"plain\",c=\"\\t\\q\"} 1\n";
    struct got g;
    struct dw_expo_error err;
    got_init(&g);
    ASSERT_EQ_INT(parse(&g, TEXT, in, &err), 0);
    /* Rendering re-escapes \ " and newline; text HELP keeps \" as written. */
    ASSERT_EQ_STR(g.out.data, "HELP foo a\\\\b\\nc\\\\\\\"d (line 1)\n"
                              "foo{a=\"x\\\\y\\\"z\\nw\",b=\"plain\",c=\"\\\\t\\\\q\"} 1 "
                              "[foo untyped]\n");
    /* "plain" is borrowed from the input; the escaped ones were unescaped elsewhere. */
    ASSERT_EQ_UINT(g.borrowed, 1);
    ASSERT_EQ_UINT(g.unescaped, 2);
    got_release(&g);
    /* OpenMetrics HELP also decodes \". */
    expect_ok(OM, "# HELP foo say \\\"hi\\\"\\\\\n# EOF\n",
              "HELP foo say \\\"hi\\\"\\\\ (line 1)\n");
    /* A backslash just before the end of the line leaves the value open. */
    expect_err(TEXT, "foo{a=\"x\\", DW_EXPO_ESYNTAX,
               "line 1 col 7: value of label \"a\" has no closing '\"'");
}

TEST(utf8_in_label_values)
{
    expect_ok(TEXT,
              "foo{city=\"K\xc3\xb8"
              "benhavn\",e=\"\xf0\x9f\x98\x80\"} 1\n",
              "foo{city=\"K\xc3\xb8"
              "benhavn\",e=\"\xf0\x9f\x98\x80\"} 1 [foo untyped]\n");
    static const char *const bad[] = {
        "foo{a=\"\xc0\xaf\"} 1",         /* overlong '/' */
        "foo{a=\"\xed\xa0\x80\"} 1",     /* UTF-16 surrogate */
        "foo{a=\"\xf4\x90\x80\x80\"} 1", /* above U+10FFFF */
        "foo{a=\"\xe2\x82\"} 1",         /* truncated sequence */
        "foo{a=\"\x80\"} 1",             /* lone continuation byte */
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(bad); i++)
        expect_err(TEXT, bad[i], DW_EXPO_ESYNTAX,
                   "line 1 col 8: value of label \"a\" is not valid UTF-8");
}

TEST(duplicate_labels_in_long_label_sets)
{
    /* Over 16 labels the check sorts; the error names the later duplicate. */
    struct dw_buf in;
    dw_buf_init(&in, 0);
    dw_buf_puts(&in, "m{");
    for (int i = 0; i < 30; i++)
        dw_buf_printf(&in, "l%02d=\"v\",", i);
    dw_buf_puts(&in, "l07=\"again\"} 1\n");
    struct got g;
    struct dw_expo_error err;
    got_init(&g);
    ASSERT_EQ_INT(parse(&g, TEXT, in.data, &err), -1);
    ASSERT_EQ_STR(err.msg, "line 1 col 243: duplicate label name \"l07\"");
    ASSERT_EQ_UINT(g.samples, 0);
    got_release(&g);
    dw_buf_release(&in);
}

/* ---- numbers and timestamps ---- */

TEST(special_values_nan_inf_and_go_floats)
{
    static const struct {
        const char *in;
        double want;
    } cases[] = {
        {"+Inf", INFINITY},
        {"-Inf", -INFINITY},
        {"Inf", INFINITY},
        {"inf", INFINITY},
        {"+infinity", INFINITY},
        {"-Infinity", -INFINITY},
        {"1e-400", 0.0},
        {"0x1p-2", 0.25},
        {"-0X1.8P1", -3.0},
        {".5", 0.5},
        {"5.", 5.0},
        {"1E3", 1000.0},
        {"007", 7.0},
        {"-12.5e-1", -1.25},
        {"1.7976931348623157e308", DBL_MAX},
        {"123456789012345678901234567890", 1.2345678901234568e29},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(cases); i++) {
        char line[96];
        snprintf(line, sizeof line, "m %s\n", cases[i].in);
        struct got g;
        struct dw_expo_error err;
        got_init(&g);
        ASSERT_EQ_INT(parse(&g, TEXT, line, &err), 0);
        ASSERT_EQ_UINT(g.samples, 1);
        ASSERT_TRUE(g.last_value == cases[i].want);
        got_release(&g);
    }
    static const char *const nans[] = {"NaN", "nan", "NAN"};
    for (size_t i = 0; i < DW_ARRAY_LEN(nans); i++) {
        char line[32];
        snprintf(line, sizeof line, "m %s\n# EOF\n", nans[i]);
        struct got g;
        struct dw_expo_error err;
        got_init(&g);
        ASSERT_EQ_INT(parse(&g, OM, line, &err), 0);
        ASSERT_TRUE(isnan(g.last_value));
        got_release(&g);
    }
    /* Negative zero keeps its sign. */
    struct got g;
    struct dw_expo_error err;
    got_init(&g);
    ASSERT_EQ_INT(parse(&g, TEXT, "m -0\n", &err), 0);
    ASSERT_TRUE(g.last_value == 0.0 && signbit(g.last_value));
    got_release(&g);
    static const char *const bad[] = {"+nan",  "nan(1)", "1e",      "e5",   ".",  "-",
                                      "0x1.8", "1.5.2",  "infinit", "0xp1", "1e+"};
    for (size_t i = 0; i < DW_ARRAY_LEN(bad); i++) {
        char line[64], msg[128];
        snprintf(line, sizeof line, "m %s\n", bad[i]);
        snprintf(msg, sizeof msg, "line 1 col 3: invalid value \"%s\"", bad[i]);
        expect_err(TEXT, line, DW_EXPO_ESYNTAX, msg);
    }
}

/* Every decimal the fast path takes must equal strtod's result bit for bit. */
TEST(fast_number_path_matches_strtod)
{
    struct dw_buf in;
    dw_buf_init(&in, 0);
    double *want = dw_calloc(20000, sizeof *want);
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        char num[64];
        switch (i % 4) {
        case 0: /* integers up to 2^53 and beyond */
            snprintf(num, sizeof num, "%llu", (unsigned long long)(x >> (i % 20)));
            break;
        case 1: /* decimals with few digits, like gauges */
            snprintf(num, sizeof num, "%lld.%0*llu", (long long)(x % 100000) - 50000,
                     (int)(i % 7) + 1, (unsigned long long)((x >> 20) % 10000000 % 1000000));
            break;
        case 2: /* exponents around the exact range */
            snprintf(num, sizeof num, "%llue%d", (unsigned long long)(x % 1000000),
                     (int)((x >> 32) % 60) - 30);
            break;
        default: { /* Go-style %g of random doubles */
            double d;
            uint64_t bits = (x & 0x7FEFFFFFFFFFFFFFu) | 0x3000000000000000u;
            memcpy(&d, &bits, sizeof d);
            snprintf(num, sizeof num, "%.*g", (int)(i % 17) + 1, d);
        }
        }
        want[i] = strtod(num, NULL);
        dw_buf_printf(&in, "m%d %s\n", i, num);
    }
    struct dw_expo_error err;
    struct got g;
    got_init(&g);
    ASSERT_EQ_INT(parse_opts(&g, TEXT, in.data, in.len, NULL, &err), 0);
    ASSERT_EQ_UINT(g.samples, 20000);
    /* Each rendered line is "mN value [mN untyped]" with a value that reads back exactly. */
    const char *line = g.out.data;
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        const char *sp = strchr(line, ' ');
        ASSERT_NOT_NULL(sp);
        double got = strtod(sp + 1, NULL);
        bad += memcmp(&got, &want[i], sizeof got) != 0;
        line = strchr(sp, '\n') + 1;
    }
    ASSERT_EQ_INT(bad, 0);
    got_release(&g);
    free(want);
    dw_buf_release(&in);
}

TEST(timestamps_text_ms_and_openmetrics_seconds)
{
    static const struct {
        enum dw_expo_format f;
        const char *in;
        int64_t ms;
    } cases[] = {
        {TEXT, "m 1 1700000000123\n", 1700000000123},
        {TEXT, "m 1 -5\n", -5},
        {TEXT, "m 1 +42\n", 42},
        {TEXT, "m 1 -9223372036854775808\n", INT64_MIN},
        {OM, "m 1 1520879607.789\n# EOF\n", 1520879607789},
        {OM, "m 1 1520879607.7899999\n# EOF\n", 1520879607789},
        {OM, "m 1 1520879607\n# EOF\n", 1520879607000},
        {OM, "m 1 -1.5\n# EOF\n", -1500},
        {OM, "m 1 .25\n# EOF\n", 250},
        {OM, "m 1 1.5e3\n# EOF\n", 1500000},
        {OM, "m 1 1.7268398142239082e+09\n# EOF\n", 1726839814223},
        {OM, "m 1 0x10p0\n# EOF\n", 16000},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(cases); i++) {
        struct got g;
        struct dw_expo_error err;
        got_init(&g);
        ASSERT_EQ_INT(parse(&g, cases[i].f, cases[i].in, &err), 0);
        ASSERT_TRUE(g.last_has_ts);
        ASSERT_EQ_INT(g.last_ts, cases[i].ms);
        got_release(&g);
    }
}

/* ---- limits: each rejects the whole input and delivers nothing ---- */

/* Parses in with opts, expecting success (limit reached, not exceeded). */
static void limit_ok(const struct dw_expo_opts *o, enum dw_expo_format f, const char *in,
                     size_t want_samples)
{
    struct got g;
    struct dw_expo_error err;
    got_init(&g);
    ASSERT_EQ_INT(parse_opts(&g, f, in, strlen(in), o, &err), 0);
    ASSERT_EQ_UINT(g.samples, want_samples);
    got_release(&g);
}

static void limit_err(const struct dw_expo_opts *o, enum dw_expo_format f, const char *in,
                      const char *msg)
{
    struct got g;
    struct dw_expo_error err;
    got_init(&g);
    ASSERT_EQ_INT(parse_opts(&g, f, in, strlen(in), o, &err), -1);
    ASSERT_EQ_STR(err.msg, msg);
    ASSERT_EQ_INT(err.code, DW_EXPO_ELIMIT);
    ASSERT_EQ_UINT(g.samples, 0);
    ASSERT_EQ_UINT(g.metas, 0);
    got_release(&g);
}

TEST(limit_max_samples)
{
    struct dw_expo_opts o;
    dw_expo_opts_init(&o);
    o.max_samples = 3;
    limit_ok(&o, TEXT, "# TYPE a gauge\na 1\nb 2\nc 3\n", 3);
    limit_err(&o, TEXT, "# TYPE a gauge\na 1\nb 2\nc 3\nd 4\n",
              "line 5 col 1: more than 3 samples, the limit max_samples");
    /* Dropped _created samples do not count; kept ones do. */
    const char *om = "# TYPE c counter\nc_total 1\nc_created 5\nd 2\ne 3\n# EOF\n";
    limit_ok(&o, OM, om, 3);
    o.keep_created = true;
    limit_err(&o, OM, om, "line 5 col 1: more than 3 samples, the limit max_samples");
}

TEST(limit_max_labels_counts_name)
{
    struct dw_expo_opts o;
    dw_expo_opts_init(&o);
    o.max_labels = 3;
    limit_ok(&o, TEXT, "m{a=\"1\",b=\"2\"} 1\n", 1);
    limit_err(&o, TEXT, "ok 1\nm{a=\"1\",b=\"2\",c=\"3\"} 1\n",
              "line 2 col 15: more than 2 labels, the limit max_labels=3 (counting __name__)");
    /* An exemplar's labels are not the series' labels. */
    limit_ok(&o, OM, "m_total{a=\"1\"} 1 # {t=\"1\",u=\"2\",v=\"3\"} 1\n# EOF\n", 1);
}

TEST(limit_label_name_and_value_length)
{
    struct dw_expo_opts o;
    dw_expo_opts_init(&o);
    o.max_label_name_len = 4;
    o.max_label_value_len = 5;
    limit_ok(&o, TEXT, "m{abcd=\"12345\"} 1\n", 1);
    limit_err(&o, TEXT, "m{abcde=\"1\"} 1\n",
              "line 1 col 3: label name \"abcde\" is 5 bytes, over the limit "
              "max_label_name_len=4");
    limit_err(&o, TEXT, "m{a=\"123456\"} 1\n",
              "line 1 col 6: value of label \"a\" is 6 bytes, over the limit "
              "max_label_value_len=5");
    /* The limit applies to the unescaped value: 6 bytes written, 5 meant. */
    limit_ok(&o, TEXT, "m{a=\"1234\\n\"} 1\n", 1);
    /* The metric name is __name__'s value. */
    limit_ok(&o, TEXT, "abcde 1\n", 1);
    limit_err(&o, TEXT, "abcdef 1\n",
              "line 1 col 1: metric name \"abcdef\" is 6 bytes, over the limit "
              "max_label_value_len=5");
    limit_err(&o, TEXT, "# HELP abcdef x\n",
              "line 1 col 8: metric name \"abcdef\" is 6 bytes, over the limit "
              "max_label_value_len=5");
}

TEST(limit_max_line_len)
{
    struct dw_expo_opts o;
    dw_expo_opts_init(&o);
    o.max_line_len = 10;
    limit_ok(&o, TEXT, "m 12345678\n", 1);
    limit_err(&o, TEXT, "m 12345678\nm 123456789\n",
              "line 2 col 1: line is longer than 10 bytes, the limit max_line_len");
    /* Comments count too, and the last line needs no newline. */
    limit_err(&o, TEXT, "# a comment line\n",
              "line 1 col 1: line is longer than 10 bytes, the limit max_line_len");
    limit_err(&o, TEXT, "m 1\nm 123456789",
              "line 2 col 1: line is longer than 10 bytes, the limit max_line_len");
}

TEST(huge_inputs_are_bounded)
{
    struct dw_expo_opts o;
    dw_expo_opts_init(&o);
    /* A 3 MiB line against the default 1 MiB line limit: rejected before it is parsed. */
    size_t big = 3u << 20;
    char *line = dw_malloc(big + 1);
    memset(line, 'a', big);
    line[big] = '\0';
    limit_err(&o, TEXT, line,
              "line 1 col 1: line is longer than 1048576 bytes, the limit "
              "max_line_len");
    /* A 100 KB label value against the default 4096 bytes. */
    memcpy(line, "m{a=\"", 5);
    memcpy(line + 100005, "\"} 1", 5);
    limit_err(&o, TEXT, line,
              "line 1 col 6: value of label \"a\" is 100000 bytes, over the limit "
              "max_label_value_len=4096");
    free(line);
    /* 1000 labels against the default 64. */
    struct dw_buf in;
    dw_buf_init(&in, 0);
    dw_buf_puts(&in, "m{");
    for (int i = 0; i < 1000; i++)
        dw_buf_printf(&in, "l%d=\"v\",", i);
    dw_buf_puts(&in, "} 1\n");
    limit_err(&o, TEXT, in.data,
              "line 1 col 497: more than 63 labels, the limit max_labels=64 (counting __name__)");
    dw_buf_release(&in);
    /* 200,000 samples against a limit of 100,000: rejected at the first one over. */
    dw_buf_init(&in, 0);
    for (int i = 0; i < 200000; i++)
        dw_buf_puts(&in, "m{a=\"1\"} 1\n");
    o.max_samples = 100000;
    limit_err(&o, TEXT, in.data,
              "line 100001 col 1: more than 100000 samples, the limit "
              "max_samples");
    dw_buf_release(&in);
}

/* ---- delivery modes, abort, reuse ---- */

TEST(two_phase_delivers_nothing_single_pass_streams)
{
    const char *in = "a 1\nb 2\nc{x=\"1\",x=\"2\"} 3\n";
    struct got g;
    struct dw_expo_error err;
    got_init(&g);
    ASSERT_EQ_INT(parse(&g, TEXT, in, &err), -1);
    ASSERT_EQ_UINT(g.samples, 0);
    got_release(&g);
    /* Single pass: the samples before the error were delivered, the caller discards them. */
    struct dw_expo_opts o;
    dw_expo_opts_init(&o);
    o.single_pass = true;
    got_init(&g);
    ASSERT_EQ_INT(parse_opts(&g, TEXT, in, strlen(in), &o, &err), -1);
    ASSERT_EQ_STR(err.msg, "line 3 col 9: duplicate label name \"x\"");
    ASSERT_EQ_UINT(g.samples, 2);
    got_release(&g);
    /* Without a handler it only validates. */
    ASSERT_EQ_INT(dw_expo_parse(NULL, NULL, "a 1\n", 4, NULL, &err), 0);
    ASSERT_EQ_INT(dw_expo_parse(NULL, NULL, "a{", 2, NULL, &err), -1);
    ASSERT_EQ_STR(err.msg, "line 1 col 3: expected a label name, found end of line");
    ASSERT_EQ_UINT(err.line, 1);
    ASSERT_EQ_UINT(err.col, 3);
}

TEST(handler_can_stop_the_parse)
{
    struct got g;
    struct dw_expo_error err;
    got_init(&g);
    g.stop_after = 2;
    ASSERT_EQ_INT(parse(&g, TEXT, "a 1\nb 2\nc 3\nd 4\n", &err), -1);
    ASSERT_EQ_INT(err.code, DW_EXPO_EABORTED);
    ASSERT_EQ_INT(err.handler_rc, 7);
    ASSERT_EQ_UINT(err.line, 3);
    ASSERT_EQ_STR(err.msg, "line 3: stopped by the receiver (code 7)");
    ASSERT_EQ_UINT(g.samples, 2);
    got_release(&g);
}

TEST(parser_is_reusable_across_inputs)
{
    struct dw_expo_parser *p = dw_expo_parser_new();
    struct dw_expo_error err;
    struct dw_expo_opts o;
    dw_expo_opts_init(&o);
    o.format = OM;
    /* The family table is per input: "a" may start again in the next one. */
    for (int i = 0; i < 3; i++) {
        struct got g;
        got_init(&g);
        struct dw_expo_handler h = {on_sample, on_meta, &g};
        const char *in = "# TYPE a counter\na_total{x=\"\\n\"} 1\n# EOF\n";
        ASSERT_EQ_INT(dw_expo_parse(p, &o, in, strlen(in), &h, &err), 0);
        ASSERT_EQ_STR(g.out.data, "TYPE a counter (line 1)\na_total{x=\"\\n\"} 1 [a counter]\n");
        got_release(&g);
        ASSERT_EQ_INT(dw_expo_parse(p, &o, "x 1\n", 4, NULL, &err), -1);
        ASSERT_EQ_STR(err.msg, "line 2 col 1: missing # EOF at the end of the input");
    }
    dw_expo_parser_free(&p);
    ASSERT_NULL(p);
    dw_expo_parser_free(&p);
    dw_expo_parser_free(NULL);
}

/* ---- Content-Type ---- */

TEST(format_from_content_type)
{
    ASSERT_EQ_INT(dw_expo_format_detect(NULL), DW_EXPO_TEXT);
    ASSERT_EQ_INT(dw_expo_format_detect(""), DW_EXPO_TEXT);
    ASSERT_EQ_INT(dw_expo_format_detect("text/plain; version=0.0.4; charset=utf-8"), DW_EXPO_TEXT);
    ASSERT_EQ_INT(dw_expo_format_detect("text/plain"), DW_EXPO_TEXT);
    ASSERT_EQ_INT(dw_expo_format_detect("application/openmetrics-text; version=1.0.0; "
                                        "charset=utf-8"),
                  DW_EXPO_OPENMETRICS);
    ASSERT_EQ_INT(dw_expo_format_detect("  Application/OpenMetrics-Text;version=0.0.1"),
                  DW_EXPO_OPENMETRICS);
    ASSERT_EQ_INT(dw_expo_format_detect("application/openmetrics-text"), DW_EXPO_OPENMETRICS);
    ASSERT_EQ_INT(dw_expo_format_detect("application/openmetrics-textual"), DW_EXPO_TEXT);
    ASSERT_EQ_INT(dw_expo_format_detect("application/x-www-form-urlencoded"), DW_EXPO_TEXT);
    ASSERT_EQ_INT(dw_expo_format_detect("application/vnd.google.protobuf; "
                                        "proto=io.prometheus.client.MetricFamily; "
                                        "encoding=delimited"),
                  DW_EXPO_UNSUPPORTED);

    /* AUTO reads the Content-Type: the same bytes pass as text and fail as OpenMetrics. */
    struct dw_expo_opts o;
    dw_expo_opts_init(&o);
    struct dw_expo_error err;
    o.content_type = "text/plain; version=0.0.4";
    ASSERT_EQ_INT(dw_expo_parse(NULL, &o, "a 1\n", 4, NULL, &err), 0);
    o.content_type = "application/openmetrics-text; version=1.0.0";
    ASSERT_EQ_INT(dw_expo_parse(NULL, &o, "a 1\n", 4, NULL, &err), -1);
    ASSERT_EQ_STR(err.msg, "line 2 col 1: missing # EOF at the end of the input");
    o.content_type = "application/vnd.google.protobuf";
    ASSERT_EQ_INT(dw_expo_parse(NULL, &o, "a 1\n", 4, NULL, &err), -1);
    ASSERT_EQ_INT(err.code, DW_EXPO_EFORMAT);
    ASSERT_EQ_UINT(err.line, 0);
    ASSERT_EQ_STR(err.msg, "unsupported Content-Type \"application/vnd.google.protobuf\": "
                           "expected text/plain or application/openmetrics-text");
    ASSERT_EQ_STR(dw_expo_type_name(DW_EXPO_GAUGEHISTOGRAM), "gaugehistogram");
}

TEST_MAIN()
