/*
 * promql_fuzz.c - libFuzzer driver for the PromQL parser and printer.
 *
 * DESIGN: every input must either fail with a well-formed error (a position
 * inside the input and a message) or parse into a tree whose canonical text
 * parses again into the same tree: printing twice gives the same text, and
 * the fully parenthesised form (which shows the tree's shape) and the value
 * types agree. Any violation aborts, which libFuzzer reports as a crash;
 * sanitizers catch memory errors and stack overflows on the way.
 *
 * Built two ways (src/promql/meson.build): with clang's -fsanitize=fuzzer as
 * a fuzzing target, and everywhere with -DDW_FUZZ_REPLAY as a plain program
 * that replays files or directories (the seed corpus in fuzz/corpus/promql
 * runs as a unit test that way). Inputs that ever crashed belong in the
 * corpus for good.
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
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    struct dw_buf b;
    dw_buf_init(&b, 1u << 20);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        dw_buf_append(&b, chunk, n);
    fclose(f);
    LLVMFuzzerTestOneInput((const uint8_t *)(b.data ? b.data : ""), b.len);
    dw_buf_release(&b);
    return 0;
}

static int replay(const char *path, size_t *count)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return replay_file(path);
    }
    DIR *d = opendir(path);
    if (!d) {
        perror(path);
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, de->d_name);
        if (replay(full, count) != 0)
            rc = -1;
    }
    closedir(d);
    return rc;
}

/* Prints the harness's closing line so scripts/test-summary.sh counts it. */
int main(int argc, char **argv)
{
    size_t count = 0;
    int failed = 0;
    for (int i = 1; i < argc; i++)
        if (replay(argv[i], &count) != 0)
            failed++;
    if (count == 0)
        failed++;
    const char *name = strrchr(argv[0], '/');
    printf("%s: %zu passed, %d failed\n", name ? name + 1 : argv[0], count, failed);
    return failed ? 1 : 0;
}
#endif
