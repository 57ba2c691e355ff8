/* Unit tests of label sets and matchers (src/tsdb/labels.c, matcher.c). */
#include <stdlib.h>

#include "harness.h"
#include "tsdb/tsdb.h"

static struct dw_tsdb_matcher *M(enum dw_match_op op, const char *name, const char *value)
{
    char *err = NULL;
    struct dw_tsdb_matcher *m = dw_tsdb_matcher_new(op, name, value, &err);
    if (!m)
        fprintf(stderr, "  %s\n", err);
    free(err);
    ASSERT_NOT_NULL(m);
    return m;
}

TEST(equality_matchers)
{
    struct dw_tsdb_matcher *eq = M(DW_MATCH_EQ, "job", "api");
    struct dw_tsdb_matcher *ne = M(DW_MATCH_NEQ, "job", "api");
    ASSERT_TRUE(dw_tsdb_matcher_matches(eq, "api"));
    ASSERT_FALSE(dw_tsdb_matcher_matches(eq, "apis"));
    ASSERT_FALSE(dw_tsdb_matcher_matches(eq, NULL));
    ASSERT_FALSE(dw_tsdb_matcher_matches(ne, "api"));
    ASSERT_TRUE(dw_tsdb_matcher_matches(ne, ""));
    size_t n;
    const char *const *lit = dw_tsdb_matcher_literals(eq, &n);
    ASSERT_EQ_UINT(n, 1);
    ASSERT_EQ_STR(lit[0], "api");
    dw_tsdb_matcher_free(&eq);
    dw_tsdb_matcher_free(&ne);
    ASSERT_NULL(eq);
}

TEST(regex_is_fully_anchored)
{
    struct dw_tsdb_matcher *m = M(DW_MATCH_RE, "code", "5..");
    ASSERT_TRUE(dw_tsdb_matcher_matches(m, "500"));
    ASSERT_TRUE(dw_tsdb_matcher_matches(m, "503"));
    ASSERT_FALSE(dw_tsdb_matcher_matches(m, "5000"));
    ASSERT_FALSE(dw_tsdb_matcher_matches(m, "1500"));
    size_t n;
    ASSERT_NULL(dw_tsdb_matcher_literals(m, &n));
    dw_tsdb_matcher_free(&m);
    m = M(DW_MATCH_NRE, "code", "2..|3..");
    ASSERT_FALSE(dw_tsdb_matcher_matches(m, "200"));
    ASSERT_TRUE(dw_tsdb_matcher_matches(m, "404"));
    dw_tsdb_matcher_free(&m);
}

TEST(literal_alternation_fast_path)
{
    struct dw_tsdb_matcher *m = M(DW_MATCH_RE, "method", "GET|POST|a\\.b|");
    size_t n;
    const char *const *lit = dw_tsdb_matcher_literals(m, &n);
    ASSERT_EQ_UINT(n, 4);
    ASSERT_EQ_STR(lit[0], "GET");
    ASSERT_EQ_STR(lit[2], "a.b");
    ASSERT_EQ_STR(lit[3], "");
    ASSERT_TRUE(dw_tsdb_matcher_matches(m, "POST"));
    ASSERT_TRUE(dw_tsdb_matcher_matches(m, "a.b"));
    ASSERT_FALSE(dw_tsdb_matcher_matches(m, "aXb")); /* the escaped dot is literal */
    ASSERT_TRUE(dw_tsdb_matcher_matches(m, ""));
    ASSERT_FALSE(dw_tsdb_matcher_matches(m, "GETS"));
    dw_tsdb_matcher_free(&m);
}

TEST(prefix_fast_path_agrees_with_regex)
{
    struct dw_tsdb_matcher *m = M(DW_MATCH_RE, "path", "/api/.*");
    ASSERT_EQ_STR(dw_tsdb_matcher_prefix(m), "/api/");
    ASSERT_TRUE(dw_tsdb_matcher_matches(m, "/api/users"));
    ASSERT_TRUE(dw_tsdb_matcher_matches(m, "/api/"));
    ASSERT_FALSE(dw_tsdb_matcher_matches(m, "/apx"));
    ASSERT_FALSE(dw_tsdb_matcher_matches(m, "/api/a\nb")); /* . does not match newline */
    /* The same pattern through PCRE2 (a group defeats the fast path) agrees. */
    struct dw_tsdb_matcher *r = M(DW_MATCH_RE, "path", "(/api/).*");
    const char *vals[] = {"/api/users", "/api/", "/apx", "/api/a\nb", ""};
    for (size_t i = 0; i < DW_ARRAY_LEN(vals); i++)
        ASSERT_EQ_INT(dw_tsdb_matcher_matches(m, vals[i]), dw_tsdb_matcher_matches(r, vals[i]));
    dw_tsdb_matcher_free(&m);
    dw_tsdb_matcher_free(&r);
}

TEST(regex_follows_go_semantics)
{
    /* $ matches only at the very end (Go), not before a final newline. */
    struct dw_tsdb_matcher *m = M(DW_MATCH_RE, "a", "(a$)");
    ASSERT_TRUE(dw_tsdb_matcher_matches(m, "a"));
    ASSERT_FALSE(dw_tsdb_matcher_matches(m, "a\n"));
    dw_tsdb_matcher_free(&m);
    /* Invalid UTF-8 does not match instead of erroring. */
    m = M(DW_MATCH_RE, "a", "(x.*)");
    ASSERT_TRUE(dw_tsdb_matcher_matches(m, "xyz"));
    ASSERT_TRUE(dw_tsdb_matcher_matches(m, "x\xc3\xa9"));
    ASSERT_FALSE(dw_tsdb_matcher_matches(m, "y\xff"));
    dw_tsdb_matcher_free(&m);
}

TEST(bad_regex_is_an_error)
{
    char *err = NULL;
    struct dw_tsdb_matcher *m = dw_tsdb_matcher_new(DW_MATCH_RE, "a", "(unclosed", &err);
    ASSERT_NULL(m);
    ASSERT_CONTAINS(err, "invalid regular expression \"(unclosed\"");
    free(err);
}

TEST(label_sets_sort_compare_hash_format)
{
    struct dw_label a[] = {{"job", "api"}, {"__name__", "up"}, {"instance", "h:1"}};
    struct dw_label b[] = {{"instance", "h:1"}, {"job", "api"}, {"__name__", "up"}};
    dw_tsdb_labels_sort(a, 3);
    dw_tsdb_labels_sort(b, 3);
    ASSERT_EQ_STR(a[0].name, "__name__");
    ASSERT_EQ_STR(a[2].name, "job");
    ASSERT_EQ_INT(dw_tsdb_labels_cmp(a, 3, b, 3), 0);
    ASSERT_EQ_UINT(dw_tsdb_labels_hash(a, 3), dw_tsdb_labels_hash(b, 3));
    b[2].value = "apj";
    ASSERT_TRUE(dw_tsdb_labels_cmp(a, 3, b, 3) < 0);
    ASSERT_NE_INT(dw_tsdb_labels_hash(a, 3), dw_tsdb_labels_hash(b, 3));
    ASSERT_TRUE(dw_tsdb_labels_cmp(a, 2, a, 3) < 0);
    ASSERT_EQ_STR(dw_tsdb_labels_get(a, 3, "instance"), "h:1");
    ASSERT_NULL(dw_tsdb_labels_get(a, 3, "nope"));
    struct dw_buf out;
    dw_buf_init(&out, 0);
    struct dw_label q[] = {{"__name__", "x"}, {"a", "q\"\\\n"}};
    dw_tsdb_labels_format(q, 2, &out);
    ASSERT_EQ_STR(out.data, "x{a=\"q\\\"\\\\\\n\"}");
    dw_buf_release(&out);
}

TEST(name_rules)
{
    ASSERT_TRUE(dw_tsdb_metric_name_valid("node:cpu_seconds:rate5m"));
    ASSERT_FALSE(dw_tsdb_label_name_valid("a:b"));
    ASSERT_TRUE(dw_tsdb_label_name_valid("_x9"));
    ASSERT_FALSE(dw_tsdb_label_name_valid("9x"));
    ASSERT_FALSE(dw_tsdb_metric_name_valid(""));
    ASSERT_FALSE(dw_tsdb_metric_name_valid("a-b"));
}

TEST_MAIN()
