/*
 * promql_fuzz.c - libFuzzer driver for the PromQL parser and printer.
 *
 * DESIGN: every input must either fail with a well-formed error (a position
 * inside the input and a message) or parse into a tree whose canonical text
 * parses again into the same tree: printing twice gives the same text, and
 * the fully parenthesised form (which shows the tree's shape) and the value
 * types agree. Every matcher and label_replace regex of a parsed tree is
 * also run against values taken from the input itself, so the regex layer
 * (fast paths, PCRE2, $1 expansion) is fuzzed too. Any violation aborts,
 * which libFuzzer reports as a crash;
 * sanitizers catch memory errors and stack overflows on the way.
 *
 * Built two ways (src/promql/meson.build): with clang's -fsanitize=fuzzer as
 * a fuzzing target, and everywhere with -DDW_FUZZ_REPLAY as a plain program
 * that replays files or directories. In replay mode a *.test file (the
 * shared conformance cases) counts as one input per `eval` expression, so
 * the conformance queries seed the checks without being copied here; the
 * unit test suite runs the replayer over fuzz/corpus/promql and those files.
 * Inputs that ever crashed belong in the corpus for good (regress-*).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "promql/promql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *input, size_t n, const char *a, const char *b)
{
    fprintf(stderr, "promql_fuzz: %s\n  input: %.*s\n  first: %s\n  second: %s\n", what, (int)n,
            input, a ? a : "", b ? b : "");
    abort();
}

static char *format(const struct dw_promql_expr *e, unsigned flags)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_promql_format(dw_promql_root(e), flags, &b);
    return dw_buf_steal(&b);
}

static void check_error(const struct dw_promql_error *err, const char *q, size_t n)
{
    if (!err->msg || !err->msg[0] || err->line < 1 || err->col < 1 || err->start > n)
        die("malformed error", q, n, err->msg, NULL);
}

/* Runs matchers and label_replace regexes of the tree on input-derived values. */
static void exercise_regexes(const struct dw_promql_node *n, const char *q, size_t size)
{
    if (!n)
        return;
    switch (n->kind) {
    case DW_PROMQL_VECTOR_SELECTOR:
        for (size_t i = 0; i < n->u.vs.nmatchers; i++) {
            const struct dw_promql_matcher *m = &n->u.vs.matchers[i];
            bool self = dw_promql_matcher_matches(m, m->value, m->value_len);
            if (m->type == DW_PROMQL_MATCH_EQ && !self)
                die("an = matcher does not match its own value", q, size, m->value, NULL);
            (void)dw_promql_matcher_matches(m, q, size);
            (void)dw_promql_matcher_matches(m, "", 0);
        }
        return;
    case DW_PROMQL_MATRIX_SELECTOR: exercise_regexes(n->u.ms.vs, q, size); return;
    case DW_PROMQL_SUBQUERY: exercise_regexes(n->u.sq.expr, q, size); return;
    case DW_PROMQL_PAREN: exercise_regexes(n->u.paren, q, size); return;
    case DW_PROMQL_UNARY: exercise_regexes(n->u.unary.expr, q, size); return;
    case DW_PROMQL_BINARY:
        exercise_regexes(n->u.bin.lhs, q, size);
        exercise_regexes(n->u.bin.rhs, q, size);
        return;
    case DW_PROMQL_AGGREGATE:
        exercise_regexes(n->u.agg.param, q, size);
        exercise_regexes(n->u.agg.expr, q, size);
        return;
    case DW_PROMQL_CALL:
        for (size_t i = 0; i < n->u.call.nargs; i++)
            exercise_regexes(n->u.call.args[i], q, size);
        if (n->u.call.re && n->u.call.args[2]->kind == DW_PROMQL_STRING) {
            const struct dw_promql_node *tmpl = n->u.call.args[2];
            struct dw_buf out;
            dw_buf_init(&out, 1u << 16);
            (void)dw_promql_regex_expand(n->u.call.re, q, size, tmpl->u.string.value,
                                         tmpl->u.string.len, &out);
            dw_buf_release(&out);
        }
        return;
    case DW_PROMQL_NUMBER:
    case DW_PROMQL_STRING: return;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *q = (const char *)data;
    struct dw_promql_expr *e1 = NULL, *e2 = NULL;
    struct dw_promql_error err;
    if (dw_promql_parse(q, size, NULL, &e1, &err) != 0) {
        check_error(&err, q, size);
        dw_promql_error_release(&err);
        return 0;
    }
    exercise_regexes(dw_promql_root(e1), q, size);
    char *s1 = format(e1, 0);
    /* The canonical text may be longer than the input (100s -> 1m40s). */
    struct dw_promql_limits roomy = {.max_query_len = 16u << 20};
    if (dw_promql_parse(s1, strlen(s1), &roomy, &e2, &err) != 0) {
        struct dw_buf b;
        dw_buf_init(&b, 0);
        dw_promql_error_format(&err, &b);
        die("printed query does not parse", q, size, s1, b.data);
    }
    char *s2 = format(e2, 0);
    if (strcmp(s1, s2) != 0)
        die("printing is not stable", q, size, s1, s2);
    char *p1 = format(e1, DW_PROMQL_FORMAT_PARENS), *p2 = format(e2, DW_PROMQL_FORMAT_PARENS);
    if (strcmp(p1, p2) != 0)
        die("tree shape changed in the round trip", q, size, p1, p2);
    if (dw_promql_root(e1)->type != dw_promql_root(e2)->type)
        die("value type changed in the round trip", q, size, s1, s2);
    free(p1);
    free(p2);
    free(s1);
    free(s2);
    dw_promql_free(&e1);
    dw_promql_free(&e2);
    return 0;
}

#ifdef DW_FUZZ_REPLAY
/* Each "eval[_ordered|_fail] instant at <t> <expr>" line of a .test file. */
static int replay_test_file(const char *path, size_t *count)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (strncmp(s, "eval", 4) != 0)
            continue;
        char *p = s;
        for (int w = 0; w < 4 && p; w++) {
            p = strchr(p, ' ');
            while (p && *p == ' ')
                p++;
        }
        if (!p)
            continue;
        size_t n = strcspn(p, "\r\n");
        LLVMFuzzerTestOneInput((const uint8_t *)p, n);
        (*count)++;
    }
    fclose(f);
    return 0;
}

/* .test files feed their expressions; anything else is one input. */
static int replay_special(const char *path, size_t *count)
{
    size_t len = strlen(path);
    if (len > 5 && strcmp(path + len - 5, ".test") == 0)
        return replay_test_file(path, count);
    return -2;
}
#define DW_REPLAY_SPECIAL replay_special
#include "replay.h"
#endif
