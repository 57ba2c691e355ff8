/*
 * Unit tests of the promql module: every expression of the shared
 * conformance files parses (or fails where it must) and survives a
 * print/parse round trip; bad queries give Prometheus's messages at
 * Prometheus's positions; precedence, keywords as names, literals,
 * modifiers, types, matchers and the safety limits; the fuzz seed corpus
 * replays cleanly.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "promql/promql.h"

/* meson passes both; the defaults suit a build run from the repository root. */
#ifndef DW_SHARED_DIR
#define DW_SHARED_DIR "../shared"
#endif
#ifndef DW_SOURCE_DIR
#define DW_SOURCE_DIR "."
#endif

/* ---- helpers ---- */

static struct dw_promql_expr *parse(const char *q)
{
    struct dw_promql_expr *e = NULL;
    struct dw_promql_error err;
    if (dw_promql_parse(q, strlen(q), NULL, &e, &err) != 0) {
        struct dw_buf b;
        dw_buf_init(&b, 0);
        dw_promql_error_format(&err, &b);
        fprintf(stderr, "  parse of <%s> failed: %s\n", q, b.data);
        dw_buf_release(&b);
        dw_promql_error_release(&err);
    }
    return e;
}

/* The canonical text (flags) of q, or "ERROR: <formatted error>". Heap. */
static char *show_n(const char *q, size_t n, unsigned flags)
{
    struct dw_promql_expr *e = NULL;
    struct dw_promql_error err;
    struct dw_buf b;
    dw_buf_init(&b, 0);
    if (dw_promql_parse(q, n, NULL, &e, &err) == 0) {
        dw_promql_format(dw_promql_root(e), flags, &b);
        dw_promql_free(&e);
    } else {
        dw_buf_puts(&b, "ERROR: ");
        dw_promql_error_format(&err, &b);
        dw_promql_error_release(&err);
    }
    return dw_buf_steal(&b);
}

static char *show(const char *q, unsigned flags)
{
    return show_n(q, strlen(q), flags);
}

#define ASSERT_SHOWS(q, flags, want)                                                               \
    do {                                                                                           \
        char *got_ = show((q), (flags));                                                           \
        ASSERT_EQ_STR(got_, (want));                                                               \
        free(got_);                                                                                \
    } while (0)

#define ASSERT_CANON(q, want) ASSERT_SHOWS(q, 0, want)
#define ASSERT_PARENS(q, want) ASSERT_SHOWS(q, DW_PROMQL_FORMAT_PARENS, want)
#define ASSERT_ERROR(q, want) ASSERT_SHOWS(q, 0, "ERROR: " want)
#define ASSERT_ERROR_CONTAINS(q, part)                                                             \
    do {                                                                                           \
        char *got_ = show((q), 0);                                                                 \
        ASSERT_CONTAINS(got_, "ERROR: ");                                                          \
        ASSERT_CONTAINS(got_, (part));                                                             \
        free(got_);                                                                                \
    } while (0)

/* ---- structural equality, ignoring positions and matcher order ---- */

static bool node_equal(const struct dw_promql_node *a, const struct dw_promql_node *b);

static bool str_list_equal(const char *const *a, size_t na, const char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return true;
}

static bool matcher_equal(const struct dw_promql_matcher *a, const struct dw_promql_matcher *b)
{
    return a->type == b->type && strcmp(a->name, b->name) == 0 && a->value_len == b->value_len &&
           memcmp(a->value, b->value, a->value_len) == 0;
}

/* Same multiset of matchers (the printer sorts them). */
static bool matchers_equal(const struct dw_promql_vector_selector *a,
                           const struct dw_promql_vector_selector *b)
{
    if (a->nmatchers != b->nmatchers)
        return false;
    bool used[512] = {false};
    if (a->nmatchers > 512)
        return false;
    for (size_t i = 0; i < a->nmatchers; i++) {
        size_t j = 0;
        while (j < b->nmatchers && (used[j] || !matcher_equal(&a->matchers[i], &b->matchers[j])))
            j++;
        if (j == b->nmatchers)
            return false;
        used[j] = true;
    }
    return true;
}

static bool vs_equal(const struct dw_promql_vector_selector *a,
                     const struct dw_promql_vector_selector *b)
{
    return strcmp(a->name, b->name) == 0 && matchers_equal(a, b) && a->offset_ms == b->offset_ms &&
           a->at == b->at && a->at_ms == b->at_ms;
}

static bool binary_equal(const struct dw_promql_binary *a, const struct dw_promql_binary *b)
{
    return a->op == b->op && a->return_bool == b->return_bool && a->matching == b->matching &&
           a->card == b->card && a->on == b->on &&
           str_list_equal(a->labels, a->nlabels, b->labels, b->nlabels) &&
           str_list_equal(a->include, a->ninclude, b->include, b->ninclude) &&
           node_equal(a->lhs, b->lhs) && node_equal(a->rhs, b->rhs);
}

static bool node_equal(const struct dw_promql_node *a, const struct dw_promql_node *b)
{
    if (!a || !b)
        return a == b;
    if (a->kind != b->kind || a->type != b->type || a->step_invariant != b->step_invariant)
        return false;
    switch (a->kind) {
    case DW_PROMQL_NUMBER:
        return (isnan(a->u.number) && isnan(b->u.number)) || a->u.number == b->u.number;
    case DW_PROMQL_STRING:
        return a->u.string.len == b->u.string.len &&
               memcmp(a->u.string.value, b->u.string.value, a->u.string.len) == 0;
    case DW_PROMQL_VECTOR_SELECTOR: return vs_equal(&a->u.vs, &b->u.vs);
    case DW_PROMQL_MATRIX_SELECTOR:
        return a->u.ms.range_ms == b->u.ms.range_ms && node_equal(a->u.ms.vs, b->u.ms.vs);
    case DW_PROMQL_SUBQUERY:
        return a->u.sq.range_ms == b->u.sq.range_ms && a->u.sq.step_ms == b->u.sq.step_ms &&
               a->u.sq.offset_ms == b->u.sq.offset_ms && a->u.sq.at == b->u.sq.at &&
               a->u.sq.at_ms == b->u.sq.at_ms && node_equal(a->u.sq.expr, b->u.sq.expr);
    case DW_PROMQL_PAREN: return node_equal(a->u.paren, b->u.paren);
    case DW_PROMQL_UNARY:
        return a->u.unary.op == b->u.unary.op && node_equal(a->u.unary.expr, b->u.unary.expr);
    case DW_PROMQL_BINARY: return binary_equal(&a->u.bin, &b->u.bin);
    case DW_PROMQL_CALL:
        if (a->u.call.func != b->u.call.func || a->u.call.nargs != b->u.call.nargs)
            return false;
        for (size_t i = 0; i < a->u.call.nargs; i++)
            if (!node_equal(a->u.call.args[i], b->u.call.args[i]))
                return false;
        return true;
    case DW_PROMQL_AGGREGATE:
        return a->u.agg.op == b->u.agg.op && a->u.agg.without == b->u.agg.without &&
               str_list_equal(a->u.agg.grouping, a->u.agg.ngrouping, b->u.agg.grouping,
                              b->u.agg.ngrouping) &&
               node_equal(a->u.agg.param, b->u.agg.param) &&
               node_equal(a->u.agg.expr, b->u.agg.expr);
    }
    return false;
}

/*
 * The round trip: q parses, its canonical text parses into an equal tree,
 * and printing that tree again gives the same text.
 */
static void assert_round_trip(const char *q, size_t n)
{
    struct dw_promql_expr *e1 = NULL, *e2 = NULL;
    struct dw_promql_error err;
    ASSERT_EQ_INT(dw_promql_parse(q, n, NULL, &e1, &err), 0);
    char *s1 = dw_promql_format_str(dw_promql_root(e1));
    struct dw_promql_limits roomy = {.max_query_len = 1u << 24};
    if (dw_promql_parse(s1, strlen(s1), &roomy, &e2, &err) != 0)
        DW_FAIL_("canonical text of <%.*s> does not parse: <%s>: %s", (int)n, q, s1, err.msg);
    char *s2 = dw_promql_format_str(dw_promql_root(e2));
    ASSERT_EQ_STR(s2, s1);
    if (!node_equal(dw_promql_root(e1), dw_promql_root(e2)))
        DW_FAIL_("tree of <%.*s> changed after printing as <%s>", (int)n, q, s1);
    free(s1);
    free(s2);
    dw_promql_free(&e1);
    dw_promql_free(&e2);
}

static void assert_round_trip_str(const char *q)
{
    assert_round_trip(q, strlen(q));
}

/* ---- the conformance files ---- */

struct eval_case {
    char *expr;
    bool fail;
    char file[64];
    int line;
};

static size_t load_conformance(struct eval_case **out)
{
    const char *dir = DW_SHARED_DIR "/promql-tests";
    DIR *d = opendir(dir);
    if (!d)
        DW_FAIL_("cannot open %s", dir);
    struct eval_case *cases = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".test") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "r");
        ASSERT_NOT_NULL(f);
        char line[4096];
        int lineno = 0;
        while (fgets(line, sizeof line, f)) {
            lineno++;
            char *s = line;
            while (*s == ' ' || *s == '\t')
                s++;
            size_t l = strlen(s);
            while (l && (s[l - 1] == '\n' || s[l - 1] == '\r' || s[l - 1] == ' '))
                s[--l] = '\0';
            if (strncmp(s, "eval", 4) != 0)
                continue;
            /* eval[_ordered|_fail] instant at <duration> <expr> */
            char *p = s;
            for (int w = 0; w < 4 && p; w++) {
                p = strchr(p, ' ');
                while (p && *p == ' ')
                    p++;
            }
            ASSERT_NOT_NULL(p);
            cases = dw_grow(cases, &cap, n + 1, sizeof *cases);
            cases[n].expr = dw_strdup(p);
            cases[n].fail = strncmp(s, "eval_fail", 9) == 0;
            dw_strlcpy(cases[n].file, de->d_name, sizeof cases[n].file);
            cases[n].line = lineno;
            n++;
        }
        fclose(f);
    }
    closedir(d);
    *out = cases;
    return n;
}

TEST(conformance_expressions_parse_and_round_trip)
{
    struct eval_case *cases;
    size_t n = load_conformance(&cases);
    ASSERT_TRUE(n >= 300); /* the shared files hold ~340 evals */
    size_t parsed = 0, failed_at_parse = 0;
    for (size_t i = 0; i < n; i++) {
        struct dw_promql_expr *e = NULL;
        struct dw_promql_error err;
        int rc = dw_promql_parse(cases[i].expr, strlen(cases[i].expr), NULL, &e, &err);
        if (rc != 0 && !cases[i].fail)
            DW_FAIL_("%s:%d: <%s> does not parse: %d:%d: %s", cases[i].file, cases[i].line,
                     cases[i].expr, err.line, err.col, err.msg);
        if (rc != 0) {
            /* Only the checks Prometheus makes on the first evaluation step of
             * label_replace may move to parse time. */
            if (!dw_str_has_prefix(err.msg, "invalid regular expression in label_replace(): ") &&
                !dw_str_has_prefix(err.msg, "invalid destination label name in label_replace(): "))
                DW_FAIL_("%s:%d: <%s> fails with an unexpected parse error: %s", cases[i].file,
                         cases[i].line, cases[i].expr, err.msg);
            dw_promql_error_release(&err);
            failed_at_parse++;
            continue;
        }
        dw_promql_free(&e);
        assert_round_trip(cases[i].expr, strlen(cases[i].expr));
        parsed++;
    }
    ASSERT_EQ_UINT(parsed + failed_at_parse, n);
    ASSERT_TRUE(parsed > failed_at_parse);
    for (size_t i = 0; i < n; i++)
        free(cases[i].expr);
    free(cases);
}

/* ---- errors: message and position like Prometheus ---- */

static const struct {
    const char *query;
    const char *error;
} bad_queries[] = {
    {"", "1:1: parse error: no expression found in input"},
    {"# just a comment\n\n", "1:1: parse error: no expression found in input"},
    {"1+", "1:3: parse error: unexpected end of input"},
    {".", "1:1: parse error: unexpected character: '.'"},
    {"2.5.", "1:4: parse error: unexpected character: '.'"},
    {"100..4", "1:5: parse error: unexpected number \".4\""},
    {"0deadbeef", "1:1: parse error: bad number or duration syntax: \"0de\""},
    {"1 /", "1:4: parse error: unexpected end of input"},
    {"*1", "1:1: parse error: unexpected <op:*>"},
    {"(1))", "1:5: parse error: unexpected right parenthesis ')'"},
    {"((1)", "1:5: parse error: unclosed left parenthesis"},
    {"(", "1:2: parse error: unclosed left parenthesis"},
    {"1 and 1", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"},
    {"1 == 1", "1:3: parse error: comparisons between scalars must use BOOL modifier"},
    {"1 or 1", "1:1: parse error: set operator \"or\" not allowed in binary scalar expression"},
    {"1 unless 1",
     "1:1: parse error: set operator \"unless\" not allowed in binary scalar expression"},
    {"1 !~ 1", "1:3: parse error: unexpected character after '!': '~'"},
    {"1 =~ 1", "1:3: parse error: unexpected character after '=': '~'"},
    {"-\"string\"", "1:1: parse error: unary expression only allowed on expressions of type "
                    "scalar or instant vector, got \"string\""},
    {"-test[5m]", "1:1: parse error: unary expression only allowed on expressions of type scalar "
                  "or instant vector, got \"range vector\""},
    {"1 offset 1d", "1:1: parse error: offset modifier must be preceded by an instant vector "
                    "selector or range vector selector or a subquery"},
    {"foo offset 1s offset 2s", "1:1: parse error: offset may not be set multiple times"},
    {"a - on(b) ignoring(c) d", "1:11: parse error: unexpected <ignoring>"},
    {"foo and 1", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"},
    {"1 or on(bar) foo", "1:1: parse error: vector matching only allowed between instant vectors"},
    {"foo == on(bar) 10", "1:1: parse error: vector matching only allowed between instant vectors"},
    {"foo + group_left(baz) bar", "1:7: parse error: unexpected <group_left>"},
    {"foo and on(bar) group_left(baz) bar",
     "1:1: parse error: no grouping allowed for \"and\" operation"},
    {"foo or on(bar) group_right(baz) bar",
     "1:1: parse error: no grouping allowed for \"or\" operation"},
    {"http_requests{group=\"production\"} + on(instance) group_left(job,instance) "
     "cpu_count{type=\"smp\"}",
     "1:35: parse error: label \"instance\" must not occur in ON and GROUP clause at once"},
    {"foo + bool bar", "1:5: parse error: bool modifier can only be used on comparison operators"},
    {"foo and bool 10", "1:5: parse error: bool modifier can only be used on comparison operators"},
    {"foo{", "1:5: parse error: unexpected end of input inside braces"},
    {"}", "1:1: parse error: unexpected character: '}'"},
    {"some_metric{a=b}",
     "1:15: parse error: unexpected identifier \"b\" in label matching, expected string"},
    {"some_metric{a:b=\"b\"}", "1:14: parse error: unexpected character inside braces: ':'"},
    {"foo{a*\"b\"}", "1:6: parse error: unexpected character inside braces: '*'"},
    {"foo{a>=\"b\"}", "1:6: parse error: unexpected character inside braces: '>'"},
    {"some_metric{a=\"\xff\"}", "1:15: parse error: invalid UTF-8 rune"},
    {"foo{gibberish}", "1:14: parse error: unexpected \"}\" in label matching, expected label "
                       "matching operator"},
    {"foo{1}", "1:5: parse error: unexpected character inside braces: '1'"},
    {"{}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{x=\"\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{x=~\".*\"}",
     "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{x!~\".+\"}",
     "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{x!=\"a\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"foo{__name__=\"bar\"}",
     "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\""},
    {"foo{__name__= =}", "1:15: parse error: unexpected \"=\" in label matching, expected string"},
    {"foo{,}",
     "1:5: parse error: unexpected \",\" in label matching, expected identifier or \"}\""},
    {"foo{__name__ == \"bar\"}",
     "1:15: parse error: unexpected \"=\" in label matching, expected string"},
    {"foo{__name__=\"bar\" lol}", "1:20: parse error: unexpected identifier \"lol\" in label "
                                  "matching, expected \",\" or \"}\""},
    {"foo[5mm]", "1:5: parse error: bad duration syntax: \"5mm\""},
    {"foo[5m1]", "1:5: parse error: bad duration syntax: \"5m1\""},
    {"foo[5m:1m1]", "1:8: parse error: bad number or duration syntax: \"1m1\""},
    {"foo[5y1hs]", "1:5: parse error: not a valid duration string: \"5y1hs\""},
    {"foo[5m1h]", "1:5: parse error: not a valid duration string: \"5m1h\""},
    {"foo[5m1m]", "1:5: parse error: not a valid duration string: \"5m1m\""},
    {"foo[0m]", "1:5: parse error: duration must be greater than 0"},
    {"foo[]", "1:5: parse error: missing unit character in duration"},
    {"foo[1]", "1:5: parse error: missing unit character in duration"},
    {"some_metric[5m] OFFSET 1",
     "1:24: parse error: unexpected number \"1\" in offset, expected duration"},
    {"some_metric[5m] OFFSET 1mm", "1:24: parse error: bad number or duration syntax: \"1mm\""},
    {"some_metric[5m] OFFSET",
     "1:23: parse error: unexpected end of input in offset, expected duration"},
    {"some_metric OFFSET 1m[5m]", "1:22: parse error: no offset modifiers allowed before range"},
    {"some_metric @ 123 [5m]", "1:19: parse error: no @ modifiers allowed before range"},
    {"(foo + bar)[5m]", "1:12: parse error: ranges only allowed for vector selectors"},
    {"sum without(==)(some_metric)",
     "1:13: parse error: unexpected <op:==> in grouping opts, expected label"},
    {"sum without(,)(some_metric)",
     "1:13: parse error: unexpected \",\" in grouping opts, expected label"},
    {"sum without(foo,,)(some_metric)",
     "1:17: parse error: unexpected \",\" in grouping opts, expected label"},
    {"sum some_metric by (test)", "1:5: parse error: unexpected identifier \"some_metric\""},
    {"sum (some_metric) by test",
     "1:22: parse error: unexpected identifier \"test\" in grouping opts, expected \"(\""},
    {"sum () by (test)", "1:1: parse error: no arguments for aggregate expression provided"},
    {"MIN keep_common (some_metric)", "1:5: parse error: unexpected identifier \"keep_common\""},
    {"MIN (some_metric) keep_common", "1:19: parse error: unexpected identifier \"keep_common\""},
    {"sum (some_metric) without (test) by (test)", "1:34: parse error: unexpected <by>"},
    {"sum without (test) (some_metric) by (test)", "1:34: parse error: unexpected <by>"},
    {"topk(some_metric)", "1:1: parse error: wrong number of arguments for aggregate expression "
                          "provided, expected 2, got 1"},
    {"topk(some_metric,)", "1:17: parse error: trailing commas not allowed in function call args"},
    {"topk(some_metric, other_metric)",
     "1:6: parse error: expected type scalar in aggregation parameter, got instant vector"},
    {"count_values(5, other_metric)",
     "1:14: parse error: expected type string in aggregation parameter, got scalar"},
    {"rate(some_metric[5m]) @ 1234", "1:1: parse error: @ modifier must be preceded by an "
                                     "instant vector selector or range vector selector or a "
                                     "subquery"},
    {"floor()", "1:1: parse error: expected 1 argument(s) in call to \"floor\", got 0"},
    {"floor(some_metric, other_metric)",
     "1:1: parse error: expected 1 argument(s) in call to \"floor\", got 2"},
    {"floor(1)",
     "1:7: parse error: expected type instant vector in call to function \"floor\", got scalar"},
    {"hour(some_metric, some_metric, some_metric)",
     "1:1: parse error: expected at most 1 argument(s) in call to \"hour\", got 3"},
    {"round()", "1:1: parse error: expected at least 1 argument(s) in call to \"round\", got 0"},
    {"time(some_metric)", "1:1: parse error: expected 0 argument(s) in call to \"time\", got 1"},
    {"non_existent_function_far_bar()",
     "1:1: parse error: unknown function with name \"non_existent_function_far_bar\""},
    {"rate(some_metric)", "1:6: parse error: expected type range vector in call to function "
                          "\"rate\", got instant vector"},
    {"rate(avg)", "1:6: parse error: expected type range vector in call to function \"rate\", "
                  "got instant vector"},
    {"label_replace(a, `b`, `c\xff`, `d`, `.*`)", "1:23: parse error: invalid UTF-8 rune"},
    {"-=", "1:2: parse error: unexpected \"=\""},
    {"++-++-+-+-<", "1:11: parse error: unexpected <op:<>"},
    {"e-+=/(0)", "1:4: parse error: unexpected \"=\""},
    {"a>b()", "1:3: parse error: unknown function with name \"b\""},
    {"foo @ +Inf", "1:1: parse error: timestamp out of bounds for @ modifier: +Inf"},
    {"foo @ -Inf", "1:1: parse error: timestamp out of bounds for @ modifier: -Inf"},
    {"foo @ NaN", "1:1: parse error: timestamp out of bounds for @ modifier: NaN"},
    {"foo @ 9223372036854775808", "1:1: parse error: timestamp out of bounds for @ modifier: "
                                  "9223372036854775808.000000"},
    {"foo @ 1 @ 2", "1:1: parse error: @ <timestamp> may not be set multiple times"},
    {"foo @ start() @ end()", "1:1: parse error: @ <timestamp> may not be set multiple times"},
    {"foo @ bar", "1:7: parse error: unexpected identifier \"bar\" in @, expected timestamp"},
    {"foo @ 1s", "1:7: parse error: unexpected duration \"1s\" in @, expected timestamp"},
    {"foo @ start", "1:12: parse error: unexpected end of input in @, expected timestamp"},
    {"test[5d] OFFSET 10s [10m:5s]",
     "1:1: parse error: subquery is only allowed on instant vector, got matrix instead"},
    {"(foo + bar{nm=\"val\"})[5m:][10m:5s]",
     "1:1: parse error: subquery is only allowed on instant vector, got matrix instead"},
    {"rate(food[1m])[1h] offset 1h", "1:15: parse error: ranges only allowed for vector selectors"},
    {"foo[5m:1]", "1:8: parse error: unexpected number \"1\" in subquery selector, expected "
                  "duration or \"]\""},
    {"foo[5m 1m]", "1:8: parse error: unexpected duration \"1m\" in subquery or range, expected "
                   "\":\" or \"]\""},
    {"foo[5m:1m:1m]", "1:10: parse error: unexpected colon ':'"},
    {"foo[5m", "1:7: parse error: unclosed left bracket"},
    {"foo]", "1:4: parse error: unexpected right bracket ']'"},
    {"foo[5m[5m]]", "1:7: parse error: unexpected left bracket '['"},
    {"foo offset -", "1:13: parse error: unexpected end of input in offset, expected duration"},
    {"foo[300y]", "1:5: parse error: duration out of range"},
    {"sum by (a b) (x)", "1:11: parse error: unexpected identifier \"b\" in grouping opts, "
                         "expected \",\" or \")\""},
    {"sum by (a:b) (x)", "1:9: parse error: unexpected metric identifier \"a:b\" in grouping "
                         "opts, expected label"},
    {"sum(foo bar)", "1:9: parse error: unexpected identifier \"bar\" in aggregation"},
    {"sum by (foo)", "1:13: parse error: unexpected end of input in aggregation"},
    {"bool", "1:1: parse error: unexpected <bool>"},
    {"foo{a=\"b\"}{c=\"d\"}", "1:11: parse error: unexpected \"{\""},
    {"1 + foo[5m]",
     "1:5: parse error: binary expression must contain only scalar and instant vector types"},
    {"\"a\" + 1",
     "1:1: parse error: binary expression must contain only scalar and instant vector types"},
    {"foo and", "1:8: parse error: unexpected end of input"},
    {"1 2", "1:3: parse error: unexpected number \"2\""},
    {"foo \"abcdefghijklmnop\"", "1:5: parse error: unexpected string \"\\\"abcdefghi\"..."},
    {"foo +\n  bar baz", "2:7: parse error: unexpected identifier \"baz\""},
    {"\"unterminated", "1:1: parse error: unterminated quoted string"},
    {"`raw", "1:1: parse error: unterminated raw string"},
    {"\"\\c\"", "1:1: parse error: unknown escape sequence U+0063 'c'"},
    {"\"\\x.\"", "1:1: parse error: illegal character U+002E '.' in escape sequence"},
    {"\"\\", "1:1: parse error: escape sequence not terminated"},
    {"'\\\"'", "1:1: parse error: unknown escape sequence U+0022 '\"'"},
    {"\"\\U00110000\"", "1:1: parse error: escape sequence is an invalid Unicode code point"},
    {"1e400", "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e400\": "
              "value out of range"},
    {"0x", "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"0x\": invalid "
           "syntax"},
    {"label_join(x, \"1bad\", \"-\", \"a\")",
     "1:15: parse error: invalid destination label name in label_join(): 1bad"},
    {"label_join(x, \"dst\", \"-\", \"a-b\")",
     "1:27: parse error: invalid source label name in label_join(): a-b"},
    {"label_replace(x, \"dst\", \"$1\", \"src\", \"(\")",
     "1:38: parse error: invalid regular expression in label_replace(): ("},
    {"x ^ \"s\"",
     "1:5: parse error: binary expression must contain only scalar and instant vector types"},
    {"sum(x)[5m]", "1:7: parse error: ranges only allowed for vector selectors"},
    {"abs(x) offset 5m", "1:1: parse error: offset modifier must be preceded by an instant "
                         "vector selector or range vector selector or a subquery"},
    {"foo{a=\"b\"} @ 1 offset 1m @ 2",
     "1:1: parse error: @ <timestamp> may not be set multiple times"},
    {"   ", "1:1: parse error: no expression found in input"},
    {"foo{!}", "1:5: parse error: unexpected character after '!' inside braces: '}'"},
    {"foo{{}", "1:5: parse error: unexpected left brace '{'"},
    {"1 !", "1:3: parse error: unexpected character after '!': '\xef\xbf\xbd'"},
    {"some_metric[5m] @ 1m",
     "1:19: parse error: unexpected duration \"1m\" in @, expected timestamp"},
    {"some_metric[5m] @", "1:18: parse error: unexpected end of input in @, expected timestamp"},
    {"some_metric @ 1234 [5m]", "1:20: parse error: no @ modifiers allowed before range"},
    {"rate(food[1m])[1h] @ 100", "1:15: parse error: ranges only allowed for vector selectors"},
    {"start()", "1:6: parse error: unexpected \"(\""},
    {"end()", "1:4: parse error: unexpected \"(\""},
    {"{", "1:2: parse error: unexpected end of input inside braces"},
    {"some}", "1:5: parse error: unexpected character: '}'"},
    {"floor(some_metric, 1)",
     "1:1: parse error: expected 1 argument(s) in call to \"floor\", got 2"},
    {"foo @ -9223372036854775809.000000", "1:1: parse error: timestamp out of bounds for @ "
                                          "modifier: -9223372036854775808.000000"},
    {"foo or on(bar) group_left(baz) bar",
     "1:1: parse error: no grouping allowed for \"or\" operation"},
    {"foo unless on(bar) group_right(baz) bar",
     "1:1: parse error: no grouping allowed for \"unless\" operation"},
    {"foo + bool 10", "1:5: parse error: bool modifier can only be used on comparison operators"},
    {"`\\``", "1:4: parse error: unterminated raw string"},
};

TEST(bad_queries_report_prometheus_errors)
{
    size_t checked = 0;
    for (size_t i = 0; i < DW_ARRAY_LEN(bad_queries); i++) {
        char *got = show(bad_queries[i].query, 0);
        char want[1024];
        snprintf(want, sizeof want, "ERROR: %s", bad_queries[i].error);
        if (strcmp(got, want) != 0)
            DW_FAIL_("query <%s>:\n    got  %s\n    want %s", bad_queries[i].query, got, want);
        free(got);
        checked++;
    }
    ASSERT_TRUE(checked >= 60);
    /* Comparisons between two vectors need no bool. */
    ASSERT_CANON("foo != bar", "foo != bar");
}

TEST(errors_are_structured_with_range)
{
    const char *q = "sum(rate(x[5m])) by (job) +\n  on(job) group_left bad bad";
    struct dw_promql_expr *e = (struct dw_promql_expr *)1;
    struct dw_promql_error err;
    ASSERT_EQ_INT(dw_promql_parse(q, strlen(q), NULL, &e, &err), -1);
    ASSERT_NULL(e);
    ASSERT_EQ_INT(err.line, 2);
    ASSERT_EQ_INT(err.col, 26);
    ASSERT_EQ_UINT(err.start, (size_t)(strstr(q, "bad bad") + 4 - q));
    ASSERT_EQ_UINT(err.end, err.start + 3);
    ASSERT_EQ_STR(err.msg, "unexpected identifier \"bad\"");
    dw_promql_error_release(&err);
    ASSERT_NULL(err.msg);
    /* A NULL error pointer is allowed. */
    ASSERT_EQ_INT(dw_promql_parse("(", 1, NULL, &e, NULL), -1);
    /* Lexer errors reach to the end of the input, like Prometheus's. */
    ASSERT_EQ_INT(dw_promql_parse("foo{a=\"b\" ~", 11, NULL, &e, &err), -1);
    ASSERT_EQ_INT(err.col, 11);
    ASSERT_EQ_UINT(err.end, 11);
    ASSERT_EQ_STR(err.msg, "unexpected character inside braces: '~'");
    dw_promql_error_release(&err);
}

/* ---- precedence and associativity ---- */

TEST(precedence_and_associativity)
{
    ASSERT_PARENS("1 + 2 * 3", "(1 + (2 * 3))");
    ASSERT_PARENS("1 * 2 + 3", "((1 * 2) + 3)");
    ASSERT_PARENS("1 - 2 - 3", "((1 - 2) - 3)");
    ASSERT_PARENS("8 / 4 / 2", "((8 / 4) / 2)");
    ASSERT_PARENS("2 ^ 3 ^ 2", "(2 ^ (3 ^ 2))");
    ASSERT_PARENS("2 * 3 ^ 2", "(2 * (3 ^ 2))");
    ASSERT_PARENS("a % b atan2 c * d", "(((a % b) atan2 c) * d)");
    ASSERT_PARENS("a + b > c - d", "((a + b) > (c - d))");
    ASSERT_PARENS("a > b == c", "((a > b) == c)");
    ASSERT_PARENS("a == b and c != d", "((a == b) and (c != d))");
    ASSERT_PARENS("a and b unless c", "((a and b) unless c)");
    ASSERT_PARENS("a or b and c", "(a or (b and c))");
    ASSERT_PARENS("a and b or c unless d", "((a and b) or (c unless d))");
    ASSERT_PARENS("a or b or c", "((a or b) or c)");
    ASSERT_PARENS("-2 ^ 2", "(-(2 ^ 2))");
    ASSERT_PARENS("-a * b", "((-a) * b)");
    ASSERT_PARENS("a * -b * c", "((a * (-b)) * c)");
    ASSERT_PARENS("a + -b * c", "(a + ((-b) * c))");
    ASSERT_PARENS("a ^ -b ^ c", "(a ^ (-(b ^ c)))");
    ASSERT_PARENS("-a offset 5m", "(-a offset 5m)");
    ASSERT_PARENS("(1 + 2) * 3", "(((1 + 2)) * 3)");
    ASSERT_PARENS("2/-2^---1*3+2", "(((2 / (-(2 ^ -1))) * 3) + 2)");
    ASSERT_PARENS("1 < bool 2 - 1 * 2", "(1 < bool (2 - (1 * 2)))");
    ASSERT_PARENS("a * on(x) group_left b + c", "((a * on (x) group_left () b) + c)");
    /* Constant folding happens only for a sign directly on a number. */
    ASSERT_PARENS("-1 * 2", "(-1 * 2)");
    ASSERT_PARENS("--1", "1");
    ASSERT_PARENS("-(1)", "(-(1))");
    ASSERT_PARENS("1 + 1", "(1 + 1)");
}

/* ---- keywords where names are expected ---- */

TEST(keywords_as_names)
{
    static const struct {
        const char *q;
        const char *canon;
    } ok[] = {
        {"sum", "sum"},
        {"Sum", "Sum"},
        {"by", "by"},
        {"without", "without"},
        {"offset", "offset"},
        {"offset offset 5m", "offset offset 5m"},
        {"start + end", "start + end"},
        {"and and and", "and and and"},
        {"avg{job=\"x\"}", "avg{job=\"x\"}"},
        {"count_values + quantile", "count_values + quantile"},
        {"sum[5m:]", "sum[5m:]"},
        {"rate", "rate"},
        {"time * 2", "time * 2"},
        {"job:requests:rate5m", "job:requests:rate5m"},
        {":colon_first", ":colon_first"},
        {"x{by=\"1\", offset=\"2\", sum=\"3\", bool=\"4\", on=\"5\", nan=\"6\"}",
         "x{bool=\"4\",by=\"1\",nan=\"6\",offset=\"2\",on=\"5\",sum=\"3\"}"},
        {"sum by (by, offset, sum, bool, on, ignoring, start, end, atan2, group_left) (x)",
         "sum by (by, offset, sum, bool, on, ignoring, start, end, atan2, group_left) (x)"},
        {"SUM(x) BY (A)", "sum by (A) (x)"},
        {"foo * on(instance) group_left sum", "foo * on (instance) group_left () sum"},
        {"foo AND ON(a) bar", "foo and on (a) bar"},
        {"foo Offset 5M", "ERROR: 1:12: parse error: bad number or duration syntax: \"5\""},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(ok); i++) {
        char *got = show(ok[i].q, 0);
        if (strcmp(got, ok[i].canon) != 0)
            DW_FAIL_("<%s>: got <%s>, want <%s>", ok[i].q, got, ok[i].canon);
        free(got);
    }
    struct dw_promql_expr *e = parse("sum");
    ASSERT_NOT_NULL(e);
    ASSERT_EQ_INT(dw_promql_root(e)->kind, DW_PROMQL_VECTOR_SELECTOR);
    dw_promql_free(&e);
    e = parse("sum(sum)");
    ASSERT_NOT_NULL(e);
    ASSERT_EQ_INT(dw_promql_root(e)->kind, DW_PROMQL_AGGREGATE);
    ASSERT_EQ_INT(dw_promql_root(e)->u.agg.expr->kind, DW_PROMQL_VECTOR_SELECTOR);
    ASSERT_EQ_STR(dw_promql_root(e)->u.agg.expr->u.vs.name, "sum");
    dw_promql_free(&e);
    ASSERT_ERROR("ignoring", "1:1: parse error: unexpected <ignoring>");
    ASSERT_ERROR("group_right", "1:1: parse error: unexpected <group_right>");
    ASSERT_ERROR("atan2", "1:1: parse error: unexpected <op:atan2>");
    ASSERT_ERROR("by(x)", "1:3: parse error: unexpected \"(\"");
    ASSERT_ERROR("RATE(x[5m])", "1:1: parse error: unknown function with name \"RATE\"");
    ASSERT_ERROR("sum by (nan) (x)",
                 "1:9: parse error: unexpected number \"nan\" in grouping opts, expected label");
}

TEST(comments_whitespace_and_name_matchers)
{
    ASSERT_CANON("sum # the total\n  by (a) # grouped\n  (b) # done", "sum by (a) (b)");
    ASSERT_CANON("foo{a=\"b\", # a comment inside braces\n c=\"d\"}", "foo{a=\"b\",c=\"d\"}");
    ASSERT_CANON("\t\r\n rate( x [ 5m ] ) \n", "rate(x[5m])");
    ASSERT_ERROR("# only a comment", "1:1: parse error: no expression found in input");
    /* A name given only as a matcher: no name outside the braces. */
    struct dw_promql_expr *e = parse("{__name__=\"up\", job=\"a\"}");
    ASSERT_NOT_NULL(e);
    const struct dw_promql_vector_selector *vs = &dw_promql_root(e)->u.vs;
    ASSERT_EQ_STR(vs->name, "");
    ASSERT_EQ_UINT(vs->nmatchers, 2);
    ASSERT_EQ_STR(vs->matchers[0].name, "__name__");
    dw_promql_free(&e);
    ASSERT_CANON("{__name__=\"up\", job=\"a\"}", "{__name__=\"up\",job=\"a\"}");
    ASSERT_CANON("up{__name__!=\"x\"}", "ERROR: 1:1: parse error: metric name must not be set "
                                        "twice: \"up\" or \"x\"");
}

/* ---- literals ---- */

static double number_of(const char *q)
{
    struct dw_promql_expr *e = parse(q);
    if (!e)
        DW_FAIL_("<%s> does not parse", q);
    const struct dw_promql_node *n = dw_promql_root(e);
    if (n->kind != DW_PROMQL_NUMBER)
        DW_FAIL_("<%s> is not a number literal (kind %d)", q, n->kind);
    double v = n->u.number;
    dw_promql_free(&e);
    return v;
}

TEST(number_literals)
{
    ASSERT_NEAR(number_of("1"), 1, 0);
    ASSERT_NEAR(number_of("0x1F"), 31, 0);
    ASSERT_NEAR(number_of("0Xc"), 12, 0);
    ASSERT_NEAR(number_of("0x1e3"), 0x1e3, 0);
    ASSERT_NEAR(number_of("0755"), 493, 0);
    ASSERT_NEAR(number_of("-0755"), -493, 0);
    ASSERT_NEAR(number_of("08"), 8, 0);
    ASSERT_NEAR(number_of("0755.5"), 755.5, 0);
    ASSERT_NEAR(number_of("1e-3"), 0.001, 0);
    ASSERT_NEAR(number_of("+5.5e-3"), 0.0055, 1e-18);
    ASSERT_NEAR(number_of(".5"), 0.5, 0);
    ASSERT_NEAR(number_of("5."), 5, 0);
    ASSERT_NEAR(number_of("12.34e6"), 12340000, 0);
    ASSERT_NEAR(number_of("99999999999999999999"), 1e20, 0);
    ASSERT_NEAR(number_of("1e-400"), 0, 0);
    ASSERT_TRUE(isinf(number_of("Inf")) && number_of("Inf") > 0);
    ASSERT_TRUE(isinf(number_of("inF")) && number_of("inF") > 0);
    ASSERT_TRUE(isinf(number_of("-inf")) && number_of("-inf") < 0);
    ASSERT_TRUE(isnan(number_of("NaN")));
    ASSERT_TRUE(isnan(number_of("nan")));
    ASSERT_TRUE(signbit(number_of("-0")));
    /* The printer uses Go's %v. */
    ASSERT_CANON("1e6", "1e+06");
    ASSERT_CANON("123456", "123456");
    ASSERT_CANON("1234567", "1.234567e+06");
    ASSERT_CANON("0.0001", "0.0001");
    ASSERT_CANON("0.00001", "1e-05");
    ASSERT_CANON("-1.5e-7", "-1.5e-07");
    ASSERT_CANON("0.1 + 0.2", "0.1 + 0.2");
    ASSERT_CANON("1/3", "1 / 3");
    ASSERT_CANON("1.7976931348623157e308", "1.7976931348623157e+308");
    ASSERT_CANON("5e-324", "5e-324");
    ASSERT_CANON("+Inf", "+Inf");
    ASSERT_CANON("-Inf", "-Inf");
    ASSERT_CANON("-0", "-0");
    ASSERT_CANON("9999999999", "9.999999999e+09");
    ASSERT_ERROR("1e", "1:1: parse error: error parsing number: strconv.ParseFloat: parsing "
                       "\"1e\": invalid syntax");
    ASSERT_ERROR("0x1.8", "1:1: parse error: error parsing number: strconv.ParseFloat: parsing "
                          "\"0x1.8\": invalid syntax");
    ASSERT_ERROR("1_000", "1:1: parse error: bad number or duration syntax: \"1\"");
}

static char *string_of(const char *q, size_t *len)
{
    struct dw_promql_expr *e = parse(q);
    if (!e)
        DW_FAIL_("<%s> does not parse", q);
    const struct dw_promql_node *n = dw_promql_root(e);
    if (n->kind != DW_PROMQL_STRING)
        DW_FAIL_("<%s> is not a string literal", q);
    char *s = dw_strndup(n->u.string.value, n->u.string.len);
    *len = n->u.string.len;
    dw_promql_free(&e);
    return s;
}

TEST(string_literals_and_escapes)
{
    size_t len;
    char *s = string_of("\"a\\tb\\n\\\\ \\\"q\\\" \\x41\\101\\u00e9\\U0001F600\"", &len);
    ASSERT_EQ_STR(s, "a\tb\n\\ \"q\" AA\xc3\xa9\xf0\x9f\x98\x80");
    free(s);
    s = string_of("'it\\'s'", &len);
    ASSERT_EQ_STR(s, "it's");
    free(s);
    s = string_of("`raw \\n ' \"`", &len);
    ASSERT_EQ_STR(s, "raw \\n ' \"");
    free(s);
    /* \x escapes are bytes, not runes; NUL is allowed and kept. */
    s = string_of("\"\\xff\\x00z\"", &len);
    ASSERT_EQ_UINT(len, 3);
    ASSERT_EQ_INT((unsigned char)s[0], 0xff);
    ASSERT_EQ_INT(s[1], 0);
    ASSERT_EQ_INT(s[2], 'z');
    free(s);
    /* Printed with Go's %q, and the printed form reads back the same. */
    ASSERT_CANON("'single \"quoted\"'", "\"single \\\"quoted\\\"\"");
    ASSERT_CANON("`C:\\path`", "\"C:\\\\path\"");
    ASSERT_CANON("\"\\xff\\x00\\a\\u00e9\\u00a0\"", "\"\\xff\\x00\\a\xc3\xa9\\u00a0\"");
    ASSERT_CANON("\"\\ufffd\"", "\"\\ufffd\"");
    assert_round_trip_str("\"\\xff\\x00\\a\\u00e9\\u2028\\ufffd\"");
    ASSERT_CANON("x{a=\"\\\"\"}", "x{a=\"\\\"\"}");
    ASSERT_CANON("x{a='b', c=`d`}", "x{a=\"b\",c=\"d\"}");
}

TEST(durations_ranges_offsets)
{
    ASSERT_CANON("foo[90m]", "foo[1h30m]");
    ASSERT_CANON("foo[1h30m]", "foo[1h30m]");
    ASSERT_CANON("foo[100s]", "foo[1m40s]");
    ASSERT_CANON("foo[1500ms]", "foo[1s500ms]");
    ASSERT_CANON("foo[1y2w3d4h5m6s7ms]", "foo[382d4h5m6s7ms]"); /* y, w only when exact */
    ASSERT_CANON("foo[1y]", "foo[1y]");
    ASSERT_CANON("foo[14d]", "foo[2w]");
    ASSERT_CANON("foo[13d]", "foo[13d]");
    ASSERT_CANON("foo[365d]", "foo[1y]");
    ASSERT_CANON("foo[ 5m ]", "foo[5m]");
    ASSERT_CANON("foo offset 5m", "foo offset 5m");
    ASSERT_CANON("foo offset -5m", "foo offset -5m");
    ASSERT_CANON("foo[5m] offset 1w", "foo[5m] offset 1w");
    ASSERT_CANON("foo OFFSET -1h30m", "foo offset -1h30m");
    ASSERT_CANON("foo[292y]", "foo[292y]");
    struct dw_promql_expr *e = parse("rate(foo{a=\"b\"}[1h30m15s500ms] offset -2h)");
    ASSERT_NOT_NULL(e);
    const struct dw_promql_node *ms = dw_promql_root(e)->u.call.args[0];
    ASSERT_EQ_INT(ms->kind, DW_PROMQL_MATRIX_SELECTOR);
    ASSERT_EQ_INT(ms->u.ms.range_ms, ((90 * 60) + 15) * 1000LL + 500);
    ASSERT_EQ_INT(ms->u.ms.vs->u.vs.offset_ms, -2 * 3600 * 1000LL);
    ASSERT_EQ_INT(ms->type, DW_PROMQL_TYPE_MATRIX);
    dw_promql_free(&e);
    ASSERT_ERROR("foo[1m1h]", "1:5: parse error: not a valid duration string: \"1m1h\"");
    ASSERT_ERROR("foo[5M]", "1:5: parse error: bad duration syntax: \"5\"");
    ASSERT_ERROR("foo offset 0s", "1:12: parse error: duration must be greater than 0");
    ASSERT_ERROR("foo[5m:0s]", "1:8: parse error: duration must be greater than 0");
    ASSERT_ERROR("foo[99999999999999999999y]", "1:5: parse error: duration out of range");
    ASSERT_ERROR("foo offset 1.5m", "1:12: parse error: not a valid duration string: \"1.5m\"");
    ASSERT_ERROR("foo offset +5m",
                 "1:12: parse error: unexpected <op:+> in offset, expected duration");
}

TEST(at_modifier_values)
{
    struct dw_promql_expr *e = parse("foo @ 1700000000.123");
    ASSERT_NOT_NULL(e);
    const struct dw_promql_node *n = dw_promql_root(e);
    ASSERT_EQ_INT(n->u.vs.at, DW_PROMQL_AT_TIME);
    ASSERT_EQ_INT(n->u.vs.at_ms, 1700000000123LL);
    ASSERT_TRUE(n->step_invariant);
    dw_promql_free(&e);
    e = parse("foo[5m] @ -1.5e3 offset 1m");
    ASSERT_NOT_NULL(e);
    n = dw_promql_root(e)->u.ms.vs;
    ASSERT_EQ_INT(n->u.vs.at_ms, -1500000);
    ASSERT_EQ_INT(n->u.vs.offset_ms, 60000);
    dw_promql_free(&e);
    ASSERT_CANON("foo @ 100", "foo @ 100.000");
    ASSERT_CANON("foo @ -1.5", "foo @ -1.500");
    ASSERT_CANON("foo @ 0x10", "foo @ 16.000");
    ASSERT_CANON("foo @ 1.0005", "foo @ 1.001"); /* float64: 1.0005 * 1000 == 1000.5, rounded up */
    ASSERT_CANON("foo @ .5", "foo @ 0.500");
    /* Prometheus's own cases: round(ts * 1000) in float64. */
    ASSERT_CANON("foo @ 3.3333", "foo @ 3.333");
    ASSERT_CANON("foo @ 3.3335", "foo @ 3.334");
    ASSERT_CANON("foo @ 3e2", "foo @ 300.000");
    ASSERT_CANON("foo @ 3e-1", "foo @ 0.300");
    ASSERT_CANON("foo @ 0xA", "foo @ 10.000");
    ASSERT_CANON("foo @ -3.3e1", "foo @ -33.000");
    ASSERT_CANON("foo @ 3.", "foo @ 3.000");
    ASSERT_CANON("foo offset 5m @ 100", "foo @ 100.000 offset 5m");
    ASSERT_CANON("foo @ start()", "foo @ start()");
    ASSERT_CANON("foo @ END()", "foo @ end()");
    ASSERT_CANON("foo @ start() [5m]", "foo[5m] @ start()");
    ASSERT_CANON("foo[5m:1m] @ end() offset 1m", "foo[5m:1m] @ end() offset 1m");
    ASSERT_CANON("sum(foo) [5m:] @ 10", "sum(foo)[5m:] @ 10.000");
    assert_round_trip_str("foo @ 9223372036854775.807");
    ASSERT_ERROR("foo @ 9223372036854776", "1:1: parse error: timestamp out of bounds for @ "
                                           "modifier: 9223372036854776.000000");
}

TEST(subqueries_and_matrix_selectors)
{
    struct dw_promql_expr *e = parse("max_over_time(rate(x[5m])[1h:30s] offset 1d)");
    ASSERT_NOT_NULL(e);
    const struct dw_promql_node *sq = dw_promql_root(e)->u.call.args[0];
    ASSERT_EQ_INT(sq->kind, DW_PROMQL_SUBQUERY);
    ASSERT_EQ_INT(sq->u.sq.range_ms, 3600000);
    ASSERT_EQ_INT(sq->u.sq.step_ms, 30000);
    ASSERT_EQ_INT(sq->u.sq.offset_ms, 86400000);
    ASSERT_EQ_INT(sq->u.sq.expr->kind, DW_PROMQL_CALL);
    ASSERT_EQ_INT(sq->type, DW_PROMQL_TYPE_MATRIX);
    dw_promql_free(&e);
    ASSERT_CANON("foo[5m:]", "foo[5m:]");
    ASSERT_CANON("foo[5m : 1m]", "foo[5m:1m]");
    ASSERT_CANON("(a + b)[1h:]", "(a + b)[1h:]");
    ASSERT_CANON("rate(foo[5m])[30m:1m]", "rate(foo[5m])[30m:1m]");
    ASSERT_ERROR("min_over_time(rate(foo[5m])[30m:1m][1h:5m])",
                 "1:15: parse error: subquery is only allowed on instant vector, got matrix "
                 "instead");
    ASSERT_ERROR("1[5m:]", "1:1: parse error: subquery is only allowed on instant vector, got "
                           "scalar instead");
    ASSERT_ERROR("foo[5m][5m]", "1:8: parse error: ranges only allowed for vector selectors");
    ASSERT_ERROR("foo[5m x]", "1:8: parse error: unexpected character: 'x', expected ':'");
}

TEST(vector_matching_modifiers)
{
    struct dw_promql_expr *e =
        parse("a / on(instance, job) group_left(team) b + c * ignoring(x) group_right d");
    ASSERT_NOT_NULL(e);
    const struct dw_promql_node *add = dw_promql_root(e);
    ASSERT_EQ_INT(add->u.bin.op, DW_PROMQL_ADD);
    const struct dw_promql_node *div = add->u.bin.lhs;
    ASSERT_EQ_INT(div->u.bin.op, DW_PROMQL_DIV);
    ASSERT_TRUE(div->u.bin.matching);
    ASSERT_TRUE(div->u.bin.on);
    ASSERT_EQ_INT(div->u.bin.card, DW_PROMQL_CARD_MANY_TO_ONE);
    ASSERT_EQ_UINT(div->u.bin.nlabels, 2);
    ASSERT_EQ_STR(div->u.bin.labels[1], "job");
    ASSERT_EQ_UINT(div->u.bin.ninclude, 1);
    ASSERT_EQ_STR(div->u.bin.include[0], "team");
    const struct dw_promql_node *mul = add->u.bin.rhs;
    ASSERT_FALSE(mul->u.bin.on);
    ASSERT_EQ_INT(mul->u.bin.card, DW_PROMQL_CARD_ONE_TO_MANY);
    ASSERT_EQ_UINT(mul->u.bin.ninclude, 0);
    dw_promql_free(&e);

    e = parse("a and b or c unless on(x) d");
    ASSERT_NOT_NULL(e);
    ASSERT_EQ_INT(dw_promql_root(e)->u.bin.card, DW_PROMQL_CARD_MANY_TO_MANY);
    dw_promql_free(&e);
    e = parse("a > bool 1");
    ASSERT_NOT_NULL(e);
    ASSERT_TRUE(dw_promql_root(e)->u.bin.return_bool);
    ASSERT_FALSE(dw_promql_root(e)->u.bin.matching); /* not both instant vectors */
    dw_promql_free(&e);

    ASSERT_CANON("a + on() b", "a + on () b");
    ASSERT_CANON("a + ignoring() b", "a + b");
    ASSERT_CANON("a * ignoring() group_left() b", "a * ignoring () group_left () b");
    ASSERT_CANON("a == bool on(x,) b", "a == bool on (x) b");
    ASSERT_CANON("a * on(x) group_left(y,z,) b", "a * on (x) group_left (y, z) b");
    ASSERT_CANON("1 + on() foo", "1 + foo");
    ASSERT_CANON("1 == bool 2", "1 == bool 2");
    ASSERT_ERROR("a * on(x) group_left (b)", "1:25: parse error: unexpected end of input");
    ASSERT_ERROR("a + on(x) bool b", "1:11: parse error: unexpected <bool>");
    ASSERT_ERROR("a + on x b",
                 "1:8: parse error: unexpected identifier \"x\" in grouping opts, expected \"(\"");
    ASSERT_ERROR("a unless on(b) group_left c",
                 "1:1: parse error: no grouping allowed for \"unless\" operation");
}

TEST(aggregations_by_without_before_after)
{
    const char *same[] = {
        "sum by (job) (x)", "sum(x) by (job)",   "sum by(job)(x)",
        "SUM BY (job) (x)", "sum by (job,) (x)", "sum(x) BY (job,)",
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(same); i++)
        ASSERT_CANON(same[i], "sum by (job) (x)");
    ASSERT_CANON("sum without (a, b) (x)", "sum without (a, b) (x)");
    ASSERT_CANON("sum(x) without ()", "sum without () (x)");
    ASSERT_CANON("sum by () (x)", "sum(x)");
    ASSERT_CANON("topk by (a) (5, x)", "topk by (a) (5, x)");
    ASSERT_CANON("quantile(0.9, x) without (b)", "quantile without (b) (0.9, x)");
    ASSERT_CANON("count_values(\"v\", x)", "count_values(\"v\", x)");
    ASSERT_CANON("group(x)", "group(x)");
    ASSERT_CANON("stddev(x) + stdvar(x) + bottomk(1, x)", "stddev(x) + stdvar(x) + bottomk(1, x)");
    struct dw_promql_expr *e = parse("topk without (a) (3, rate(x[5m]))");
    ASSERT_NOT_NULL(e);
    const struct dw_promql_node *n = dw_promql_root(e);
    ASSERT_EQ_INT(n->kind, DW_PROMQL_AGGREGATE);
    ASSERT_EQ_INT(n->u.agg.op, DW_PROMQL_AGG_TOPK);
    ASSERT_TRUE(n->u.agg.without);
    ASSERT_EQ_INT(n->u.agg.param->kind, DW_PROMQL_NUMBER);
    ASSERT_EQ_INT(n->u.agg.expr->kind, DW_PROMQL_CALL);
    ASSERT_EQ_INT(n->type, DW_PROMQL_TYPE_VECTOR);
    dw_promql_free(&e);
    ASSERT_ERROR("sum(1)", "1:5: parse error: expected type instant vector in aggregation "
                           "expression, got scalar");
    ASSERT_ERROR("sum(a, b)", "1:1: parse error: wrong number of arguments for aggregate "
                              "expression provided, expected 1, got 2");
    ASSERT_ERROR("quantile(\"x\", a)", "1:10: parse error: expected type scalar in aggregation "
                                       "parameter, got string");
    ASSERT_ERROR("sum by (a) by (b) (x)", "1:12: parse error: unexpected <by> in aggregation");
}

TEST(functions_table_and_arity)
{
    size_t n;
    const struct dw_promql_func *t = dw_promql_func_table(&n);
    ASSERT_EQ_UINT(n, DW_PROMQL_FN_COUNT_);
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ_INT(t[i].id, (int)i);
        if (i)
            ASSERT_TRUE(strcmp(t[i - 1].name, t[i].name) < 0);
        ASSERT_TRUE(dw_promql_func_lookup(t[i].name, strlen(t[i].name)) == &t[i]);
    }
    ASSERT_NULL(dw_promql_func_lookup("rat", 3));
    ASSERT_NULL(dw_promql_func_lookup("rates", 5));
    ASSERT_NULL(dw_promql_func_lookup("Rate", 4));
    const struct dw_promql_func *f = dw_promql_func_lookup("rate", 4);
    ASSERT_EQ_INT(f->id, DW_PROMQL_FN_RATE);
    ASSERT_EQ_INT(f->arg_types[0], DW_PROMQL_TYPE_MATRIX);

    /* Every function parses with a valid argument list built from its table entry. */
    static const char *arg_for[] = {"", "1", "x", "x[5m]", "\"s\""};
    for (size_t i = 0; i < n; i++) {
        struct dw_buf q;
        dw_buf_init(&q, 0);
        dw_buf_printf(&q, "%s(", t[i].name);
        for (size_t a = 0; a < t[i].nargs; a++)
            dw_buf_printf(&q, "%s%s", a ? ", " : "", arg_for[t[i].arg_types[a]]);
        dw_buf_putc(&q, ')');
        struct dw_promql_expr *e = parse(q.data);
        if (!e)
            DW_FAIL_("<%s> does not parse", q.data);
        ASSERT_EQ_INT(dw_promql_root(e)->u.call.func->id, t[i].id);
        ASSERT_EQ_INT(dw_promql_root(e)->type, t[i].ret);
        dw_promql_free(&e);
        dw_buf_release(&q);
    }
    ASSERT_CANON("round(x)", "round(x)");
    ASSERT_CANON("round(x, 5)", "round(x, 5)");
    ASSERT_CANON("hour()", "hour()");
    ASSERT_CANON("label_join(x, \"d\", \",\", \"a\", \"b\", \"c\", \"e\")",
                 "label_join(x, \"d\", \",\", \"a\", \"b\", \"c\", \"e\")");
    ASSERT_CANON("histogram_quantile(0.9, sum by (le) (rate(b[5m])))",
                 "histogram_quantile(0.9, sum by (le) (rate(b[5m])))");
    ASSERT_ERROR("round(x, 1, 2)",
                 "1:1: parse error: expected at most 2 argument(s) in call to \"round\", got 3");
    ASSERT_ERROR("label_join(x, \"d\")",
                 "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", "
                 "got 2");
    ASSERT_ERROR("label_join(x, \"d\", \",\", 1)", "1:25: parse error: expected type string in "
                                                   "call to function \"label_join\", got scalar");
    ASSERT_ERROR("vector(x)", "1:8: parse error: expected type scalar in call to function "
                              "\"vector\", got instant vector");
    ASSERT_ERROR("holt_winters(x[5m], 0.5)",
                 "1:1: parse error: expected 3 argument(s) in call to \"holt_winters\", got 2");
    ASSERT_ERROR("rate(x[5m],)",
                 "1:11: parse error: trailing commas not allowed in function call args");
    ASSERT_ERROR("rate(,x)", "1:6: parse error: unexpected \",\"");
}

TEST(value_types_and_step_invariance)
{
    static const struct {
        const char *q;
        enum dw_promql_type type;
        bool invariant;
    } cases[] = {
        {"1", DW_PROMQL_TYPE_SCALAR, true},
        {"\"s\"", DW_PROMQL_TYPE_STRING, true},
        {"x", DW_PROMQL_TYPE_VECTOR, false},
        {"x @ 10", DW_PROMQL_TYPE_VECTOR, true},
        {"x[5m]", DW_PROMQL_TYPE_MATRIX, false},
        {"x[5m] @ start()", DW_PROMQL_TYPE_MATRIX, true},
        {"rate(x[5m] @ 10)", DW_PROMQL_TYPE_VECTOR, true},
        {"rate(x[5m])", DW_PROMQL_TYPE_VECTOR, false},
        {"1 + 2", DW_PROMQL_TYPE_SCALAR, true},
        {"1 + x", DW_PROMQL_TYPE_VECTOR, false},
        {"(1 + x @ 5)", DW_PROMQL_TYPE_VECTOR, true},
        {"-x @ 5", DW_PROMQL_TYPE_VECTOR, true},
        {"time()", DW_PROMQL_TYPE_SCALAR, false},
        {"pi()", DW_PROMQL_TYPE_SCALAR, true},
        {"scalar(x @ 1)", DW_PROMQL_TYPE_SCALAR, true},
        {"timestamp(x @ 1)", DW_PROMQL_TYPE_VECTOR, false},
        {"sum(x @ 1)", DW_PROMQL_TYPE_VECTOR, true},
        {"topk(scalar(y), x @ 1)", DW_PROMQL_TYPE_VECTOR, false},
        {"x[5m:]", DW_PROMQL_TYPE_MATRIX, false},
        {"x[5m:] @ 100", DW_PROMQL_TYPE_MATRIX, true},
        {"vector(1)", DW_PROMQL_TYPE_VECTOR, true},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(cases); i++) {
        struct dw_promql_expr *e = parse(cases[i].q);
        if (!e)
            DW_FAIL_("<%s> does not parse", cases[i].q);
        const struct dw_promql_node *n = dw_promql_root(e);
        if (n->type != cases[i].type || n->step_invariant != cases[i].invariant)
            DW_FAIL_("<%s>: type %s invariant %d, want %s %d", cases[i].q,
                     dw_promql_type_name(n->type), n->step_invariant,
                     dw_promql_type_name(cases[i].type), cases[i].invariant);
        dw_promql_free(&e);
    }
    ASSERT_EQ_STR(dw_promql_type_name(DW_PROMQL_TYPE_MATRIX), "range vector");
    ASSERT_EQ_STR(dw_promql_binop_name(DW_PROMQL_ATAN2), "atan2");
    ASSERT_EQ_STR(dw_promql_agg_name(DW_PROMQL_AGG_COUNT_VALUES), "count_values");
}

/* ---- matchers and regular expressions ---- */

static const struct dw_promql_matcher *first_matcher(const struct dw_promql_expr *e)
{
    return &dw_promql_root(e)->u.vs.matchers[0];
}

static bool matches(const struct dw_promql_matcher *m, const char *v)
{
    return dw_promql_matcher_matches(m, v, strlen(v));
}

TEST(matchers_and_regex_semantics)
{
    struct dw_promql_expr *e = parse("x{a=~\"pro.*\", b!~\"x|y\", c!=\"\", d=\"v\"}");
    ASSERT_NOT_NULL(e);
    const struct dw_promql_vector_selector *vs = &dw_promql_root(e)->u.vs;
    ASSERT_EQ_UINT(vs->nmatchers, 5); /* four written, plus __name__="x" last */
    ASSERT_EQ_STR(vs->matchers[4].name, "__name__");
    ASSERT_EQ_STR(vs->matchers[4].value, "x");
    ASSERT_TRUE(matches(&vs->matchers[0], "production"));
    ASSERT_FALSE(matches(&vs->matchers[0], "preproduction")); /* anchored */
    ASSERT_TRUE(matches(&vs->matchers[1], "z"));
    ASSERT_FALSE(matches(&vs->matchers[1], "y"));
    ASSERT_FALSE(matches(&vs->matchers[2], ""));
    ASSERT_TRUE(matches(&vs->matchers[3], "v"));
    ASSERT_FALSE(matches(&vs->matchers[3], "vv"));
    ASSERT_EQ_STR(dw_promql_regex_pattern(vs->matchers[0].re), "pro.*");
    dw_promql_free(&e);

    static const struct {
        const char *re;
        const char *value;
        bool match;
    } cases[] = {
        {".*", "", true},
        {".*", "anything", true},
        {".*", "two\nlines", false}, /* '.' does not match a newline, like Go */
        {".+", "", false},
        {".+", "x", true},
        {"a|b|", "", true},
        {"a|b", "ab", false},
        {"GET|POST", "POST", true},
        {"api-.+", "api-server", true},
        {"(?i)PRO.*", "production", true},
        {".*(?i:TION)", "production", true},
        {"a$", "a\n", false}, /* $ is the end of the value, not a final newline */
        {"\\d+", "123", true},
        {"\\d+", "12a", false},
        {"é.", "éa", true},
        {"^.$", "é", true},    /* runes, not bytes */
        {"a)|(b", "xb", true}, /* wrapped like Go: ^(?:a)|(b)$ */
        {"(a+)+b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", false}, /* bounded backtracking */
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(cases); i++) {
        struct dw_buf q;
        dw_buf_init(&q, 0);
        dw_buf_puts(&q, "x{l=~");
        dw_buf_puts(&q, "`");
        dw_buf_puts(&q, cases[i].re);
        dw_buf_puts(&q, "`}");
        e = parse(q.data);
        if (!e)
            DW_FAIL_("<%s> does not parse", q.data);
        bool got = matches(first_matcher(e), cases[i].value);
        if (got != cases[i].match)
            DW_FAIL_("regex <%s> on <%s>: got %d", cases[i].re, cases[i].value, got);
        dw_promql_free(&e);
        dw_buf_release(&q);
    }
    /* Invalid UTF-8 in a value is matched without error (and not by '.'). */
    e = parse("x{a=~\"a.b\", b=~\".*\"}");
    ASSERT_NOT_NULL(e);
    vs = &dw_promql_root(e)->u.vs;
    ASSERT_FALSE(dw_promql_matcher_matches(&vs->matchers[0],
                                           "a\xff"
                                           "b",
                                           3));
    ASSERT_TRUE(dw_promql_matcher_matches(&vs->matchers[0],
                                          "a\xc3\xa9"
                                          "b",
                                          4));
    ASSERT_TRUE(dw_promql_matcher_matches(&vs->matchers[1],
                                          "a\xff"
                                          "b",
                                          3));
    dw_promql_free(&e);
    ASSERT_ERROR_CONTAINS("x{a=~\"(\"}", "1:3: parse error: error parsing regexp: ");
    ASSERT_ERROR_CONTAINS("x{a=~\"[z-a]\"}", "error parsing regexp");
    ASSERT_ERROR_CONTAINS("x{a!~\"*\"}", "error parsing regexp");
    /* A regex that matches "" does not select anything by itself. */
    ASSERT_ERROR("{a=~\"b|\"}",
                 "1:1: parse error: vector selector must contain at least one non-empty matcher");
    ASSERT_CANON("{a=~\"b|\", c=\"d\"}", "{a=~\"b|\",c=\"d\"}");
    ASSERT_CANON("{__name__=~\"job:.*\"}", "{__name__=~\"job:.*\"}");
    ASSERT_CANON("foo{a=\"1\", a=\"2\"}", "foo{a=\"1\",a=\"2\"}"); /* duplicates allowed */
    ASSERT_CANON("foo{NaN='bc'}", "foo{NaN=\"bc\"}");
    ASSERT_CANON("foo{bar='}'}", "foo{bar=\"}\"}");
    ASSERT_CANON("foo{z=\"1\", a=\"2\", m!~\"3\",}", "foo{a=\"2\",m!~\"3\",z=\"1\"}");
}

static char *expand(const char *re, const char *src, const char *tmpl)
{
    struct dw_buf q;
    dw_buf_init(&q, 0);
    dw_buf_printf(&q, "label_replace(x, \"dst\", \"\", \"src\", `%s`)", re);
    struct dw_promql_expr *e = parse(q.data);
    dw_buf_release(&q);
    if (!e)
        DW_FAIL_("regex <%s> does not parse", re);
    const struct dw_promql_regex *r = dw_promql_root(e)->u.call.re;
    if (!r)
        DW_FAIL_("label_replace has no compiled regex");
    struct dw_buf out;
    dw_buf_init(&out, 0);
    int rc = dw_promql_regex_expand(r, src, strlen(src), tmpl, strlen(tmpl), &out);
    dw_promql_free(&e);
    if (rc == 0) {
        dw_buf_release(&out);
        return dw_strdup("<no match>");
    }
    return dw_buf_steal(&out);
}

TEST(label_replace_expansion)
{
    static const struct {
        const char *re, *src, *tmpl, *want;
    } cases[] = {
        {"source-value-(.*)", "source-value-10", "destination-value-$1", "destination-value-10"},
        {"(.*):(\\d+)", "host:9100", "${1}_${2}", "host_9100"},
        {"(?P<host>.*):(?P<port>\\d+)", "h:80", "$port/$host", "80/h"},
        {"(.*)", "v", "$1x", ""}, /* "$1x" names group "1x", which does not exist */
        {"(.*)", "v", "${1}x", "vx"},
        {"(.*)", "v", "$$1 costs $", "$1 costs $"},
        {"(a)|(b)", "b", "[$1][$2]", "[][b]"},
        {"(.*)", "v", "$01", ""},
        {"non-matching", "value", "$1", "<no match>"},
        {".*", "", "", ""},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(cases); i++) {
        char *got = expand(cases[i].re, cases[i].src, cases[i].tmpl);
        if (strcmp(got, cases[i].want) != 0)
            DW_FAIL_("expand(%s, %s, %s): got <%s>, want <%s>", cases[i].re, cases[i].src,
                     cases[i].tmpl, got, cases[i].want);
        free(got);
    }
    struct dw_promql_expr *e = parse("label_replace(x, \"d\", \"$1$1$1$1\", \"s\", \"(.*)\")");
    ASSERT_NOT_NULL(e);
    struct dw_buf small;
    dw_buf_init(&small, 8);
    ASSERT_EQ_INT(
        dw_promql_regex_expand(dw_promql_root(e)->u.call.re, "abc", 3, "$1$1$1$1", 8, &small), -1);
    dw_buf_release(&small);
    dw_promql_free(&e);
}

/* ---- safety ---- */

static char *repeat(const char *prefix, const char *unit, size_t times, const char *suffix)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, prefix);
    for (size_t i = 0; i < times; i++)
        dw_buf_puts(&b, unit);
    dw_buf_puts(&b, suffix);
    return dw_buf_steal(&b);
}

static void assert_too_deep(char *q)
{
    char *got = show(q, 0);
    ASSERT_CONTAINS(got, "parse error: query nesting too deep (limit 256)");
    free(got);
    free(q);
}

TEST(deep_nesting_is_an_error_not_a_crash)
{
    /* 10,000 parentheses each way. */
    struct dw_buf b;
    dw_buf_init(&b, 0);
    for (int i = 0; i < 10000; i++)
        dw_buf_putc(&b, '(');
    dw_buf_putc(&b, '1');
    for (int i = 0; i < 10000; i++)
        dw_buf_putc(&b, ')');
    assert_too_deep(dw_buf_steal(&b));
    assert_too_deep(repeat("", "(", 10000, "")); /* unclosed, too */
    assert_too_deep(repeat("", "-", 10000, "1"));
    assert_too_deep(repeat("", "- ", 10000, "foo"));
    assert_too_deep(repeat("1", " + 1", 5000, ""));
    assert_too_deep(repeat("2", " ^ 2", 5000, ""));
    assert_too_deep(repeat("foo", "[5m:]", 1000, ""));
    assert_too_deep(repeat("", "sum(", 3000, "x"));
    assert_too_deep(repeat("", "abs(", 3000, "x"));
    assert_too_deep(repeat("", "x + on(a) group_left(b) ", 2000, "x"));
    /* Below the limit, deep queries are fine. */
    char *q = repeat("", "(", 200, "1");
    char *closed = repeat(q, ")", 200, "");
    free(q);
    struct dw_promql_expr *e = parse(closed);
    ASSERT_NOT_NULL(e);
    ASSERT_EQ_INT(dw_promql_root(e)->depth, 201);
    dw_promql_free(&e);
    free(closed);
    q = repeat("1", " + 1", 200, "");
    assert_round_trip(q, strlen(q));
    free(q);
    /* The limit can be lowered. */
    struct dw_promql_limits lim = {.max_depth = 3};
    struct dw_promql_error err;
    ASSERT_EQ_INT(dw_promql_parse("((1))", 5, &lim, &e, &err), 0);
    dw_promql_free(&e);
    ASSERT_EQ_INT(dw_promql_parse("(((1)))", 7, &lim, &e, &err), -1);
    ASSERT_EQ_STR(err.msg, "query nesting too deep (limit 3)");
    dw_promql_error_release(&err);
}

TEST(limits_on_length_matchers_and_labels)
{
    char want[512];
    /* Length: 64 KiB by default. */
    char *q = repeat("x{a=\"", "a", 70000, "\"}");
    char *got = show(q, 0);
    ASSERT_EQ_STR(got, "ERROR: 1:1: parse error: query too long (70007 bytes, limit 65536)");
    free(got);
    free(q);
    struct dw_promql_limits lim = {.max_query_len = 10};
    struct dw_promql_expr *e;
    struct dw_promql_error err;
    ASSERT_EQ_INT(dw_promql_parse("up == 1 and up", 14, &lim, &e, &err), -1);
    ASSERT_CONTAINS(err.msg, "query too long (14 bytes, limit 10)");
    dw_promql_error_release(&err);
    ASSERT_EQ_INT(dw_promql_parse("up", 2, &lim, &e, &err), 0);
    dw_promql_free(&e);

    /* Matchers: 128 per selector. */
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, "x{");
    for (int i = 0; i < 128; i++)
        dw_buf_printf(&b, "l%d=\"v\",", i);
    dw_buf_puts(&b, "}");
    e = parse(b.data);
    ASSERT_NOT_NULL(e);
    ASSERT_EQ_UINT(dw_promql_root(e)->u.vs.nmatchers, 129);
    dw_promql_free(&e);
    dw_buf_puts(&b, "+ y{");
    for (int i = 0; i < 129; i++)
        dw_buf_printf(&b, "l%d=\"v\",", i);
    dw_buf_puts(&b, "}");
    got = show(b.data, 0);
    ASSERT_CONTAINS(got, "parse error: too many label matchers in one selector (limit 128)");
    free(got);
    dw_buf_release(&b);

    /* Labels in a by/without/on/ignoring/group list: 128; the 129th is refused. */
    q = repeat("sum by (a", ", a", 128, ") (x)");
    got = show(q, 0);
    snprintf(want, sizeof want,
             "ERROR: 1:%zu: parse error: too many labels in one list (limit 128)",
             strlen("sum by (") + 1 + 3 * 128);
    ASSERT_EQ_STR(got, want);
    free(got);
    free(q);
    q = repeat("sum by (a", ", a", 127, ") (x)");
    e = parse(q);
    ASSERT_NOT_NULL(e);
    dw_promql_free(&e);
    free(q);

    /* Huge ranges and timestamps are errors, not overflows. */
    ASSERT_ERROR("foo[9999999999999999999999999w]", "1:5: parse error: duration out of range");
    ASSERT_ERROR("foo offset 106751d24h", "1:12: parse error: duration out of range");
    ASSERT_CANON("foo offset 106751d23h", "foo offset 106751d23h");
    snprintf(want, sizeof want,
             "ERROR: 1:1: parse error: timestamp out of bounds for @ modifier: %f", 1e300);
    got = show("foo @ 1e300", 0);
    ASSERT_EQ_STR(got, want);
    free(got);
    /* NUL bytes and invalid UTF-8 are input like any other. */
    got = show_n("foo\0bar", 7, 0);
    ASSERT_EQ_STR(got, "ERROR: 1:4: parse error: unexpected character: '\\x00'");
    free(got);
    got = show_n("\xc3\x28", 2, 0);
    ASSERT_EQ_STR(got, "ERROR: 1:1: parse error: unexpected character: '\xef\xbf\xbd'");
    free(got);
}

TEST(free_and_null_are_safe)
{
    dw_promql_free(NULL);
    struct dw_promql_expr *e = NULL;
    dw_promql_free(&e);
    ASSERT_NULL(dw_promql_root(NULL));
    e = parse("up");
    ASSERT_NOT_NULL(e);
    dw_promql_free(&e);
    ASSERT_NULL(e);
    dw_promql_error_release(NULL);
    struct dw_buf b;
    dw_buf_init(&b, 4);
    e = parse("some_rather_long_metric_name");
    ASSERT_EQ_INT(dw_promql_format(dw_promql_root(e), 0, &b), -1);
    dw_buf_release(&b);
    dw_promql_free(&e);
}

/* ---- the fuzz corpus ---- */

static size_t read_file(const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        DW_FAIL_("cannot open %s", path);
    struct dw_buf b;
    dw_buf_init(&b, 1u << 20);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        dw_buf_append(&b, chunk, n);
    fclose(f);
    size_t len = b.len;
    *out = dw_buf_steal(&b);
    return len;
}

TEST(fuzz_corpus_replays)
{
    const char *dir = DW_SOURCE_DIR "/fuzz/corpus/promql";
    DIR *d = opendir(dir);
    if (!d)
        DW_FAIL_("cannot open %s", dir);
    size_t files = 0, ok = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        char *q;
        size_t n = read_file(path, &q);
        struct dw_promql_expr *e = NULL;
        struct dw_promql_error err;
        if (dw_promql_parse(q, n, NULL, &e, &err) == 0) {
            dw_promql_free(&e);
            assert_round_trip(q, n);
            ok++;
        } else {
            if (!err.msg || !err.msg[0] || err.line < 1 || err.col < 1 || err.start > n)
                DW_FAIL_("%s: malformed error", path);
            dw_promql_error_release(&err);
        }
        free(q);
        files++;
    }
    closedir(d);
    ASSERT_TRUE(files >= 40);
    ASSERT_TRUE(ok > 0 && ok < files); /* the corpus holds both kinds */
}

TEST_MAIN()
