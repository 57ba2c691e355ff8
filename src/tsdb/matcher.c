/*
 * matcher.c - label matchers: =, !=, =~, !~ with Prometheus semantics.
 *
 * DESIGN
 * Regular expressions are anchored at both ends like Prometheus
 * ("^(?:re)$"). Before compiling, the pattern is analysed: a plain literal,
 * an alternation of literals ("GET|POST") or a literal prefix followed by
 * ".*" is matched with string operations only, and the literal list or the
 * prefix is offered to the index so it can look postings up directly instead
 * of testing every value. Everything else goes through PCRE2 (JIT-compiled
 * when the library supports it). Like Go's RE2 in Prometheus, "." does not
 * match a newline.
 *
 * Threads: a matcher is immutable after dw_tsdb_matcher_new; each match
 * allocates its own PCRE2 match data, so matchers may be shared.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/tsdb.h"

enum kind {
    K_EQUAL,  /* EQ, NEQ, or a regex that is one literal */
    K_SET,    /* regex that is an alternation of literals */
    K_PREFIX, /* regex literal prefix followed by .* */
    K_REGEX,  /* anything else */
};

struct dw_tsdb_matcher {
    enum dw_match_op op;
    enum kind kind;
    char *name;
    char *value;
    char **literals; /* K_EQUAL (one) and K_SET */
    size_t nliterals;
    char *prefix; /* K_PREFIX, and the literal prefix of K_REGEX when known */
    pcre2_code *re;
};

static bool is_meta(char c)
{
    return strchr(".^$|?*+()[]{}\\", c) != NULL;
}

/*
 * Reads a literal run from p into out (resolving escapes of metacharacters),
 * stopping at '|' or the end. Returns the position after it, or NULL when
 * the run holds regex syntax (then it is not a plain literal).
 */
static const char *read_literal(const char *p, struct dw_buf *out)
{
    while (*p && *p != '|') {
        if (*p == '\\') {
            if (!p[1] || !is_meta(p[1]))
                return NULL; /* \d, \w ... are classes, not literals */
            dw_buf_putc(out, p[1]);
            p += 2;
            continue;
        }
        if (is_meta(*p))
            return NULL;
        dw_buf_putc(out, *p++);
    }
    return p;
}

static void add_literal(struct dw_tsdb_matcher *m, const char *s)
{
    m->literals = dw_realloc(m->literals, (m->nliterals + 1) * sizeof *m->literals);
    m->literals[m->nliterals++] = dw_strdup(s);
}

/* Recognises literal sets and literal-prefix patterns; true when handled. */
static bool analyse(struct dw_tsdb_matcher *m, const char *re)
{
    struct dw_buf lit;
    dw_buf_init(&lit, 0);
    const char *p = re;
    for (;;) {
        dw_buf_clear(&lit);
        const char *end = read_literal(p, &lit);
        if (!end)
            break;
        add_literal(m, lit.data ? lit.data : "");
        if (!*end) {
            m->kind = m->nliterals == 1 ? K_EQUAL : K_SET;
            dw_buf_release(&lit);
            return true;
        }
        p = end + 1;
    }
    for (size_t i = 0; i < m->nliterals; i++)
        free(m->literals[i]);
    free(m->literals);
    m->literals = NULL;
    m->nliterals = 0;
    /* "prefix.*": a literal followed by a trailing .* and nothing else. */
    size_t len = strlen(re);
    if (len >= 2 && strcmp(re + len - 2, ".*") == 0 && (len < 3 || re[len - 3] != '\\')) {
        char *head = dw_strndup(re, len - 2);
        dw_buf_clear(&lit);
        const char *end = read_literal(head, &lit);
        bool ok = end && !*end;
        free(head);
        if (ok) {
            m->kind = K_PREFIX;
            m->prefix = dw_strdup(lit.data ? lit.data : "");
            dw_buf_release(&lit);
            return true;
        }
    }
    dw_buf_release(&lit);
    return false;
}

static int compile_regex(struct dw_tsdb_matcher *m, char **err)
{
    char *anchored = dw_asprintf("^(?:%s)$", m->value);
    int code;
    PCRE2_SIZE off;
    /* Go regexp semantics: $ only at the very end, invalid UTF-8 simply does
     * not match (instead of failing the match), no \C. Same options as the
     * promql module's regex.c. */
    m->re = pcre2_compile((PCRE2_SPTR)anchored, PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY |
                              PCRE2_NEVER_BACKSLASH_C,
                          &code, &off, NULL);
    free(anchored);
    if (!m->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        if (err)
            *err = dw_asprintf("invalid regular expression \"%s\": %s", m->value, (char *)msg);
        return -1;
    }
    pcre2_jit_compile(m->re, PCRE2_JIT_COMPLETE); /* optional: falls back to the interpreter */
    return 0;
}

struct dw_tsdb_matcher *dw_tsdb_matcher_new(enum dw_match_op op, const char *name,
                                            const char *value, char **err)
{
    struct dw_tsdb_matcher *m = dw_calloc(1, sizeof *m);
    m->op = op;
    m->name = dw_strdup(name);
    m->value = dw_strdup(value);
    if (op == DW_MATCH_EQ || op == DW_MATCH_NEQ) {
        m->kind = K_EQUAL;
        add_literal(m, value);
        return m;
    }
    if (analyse(m, value))
        return m;
    m->kind = K_REGEX;
    if (compile_regex(m, err) < 0) {
        dw_tsdb_matcher_free(&m);
        return NULL;
    }
    return m;
}

void dw_tsdb_matcher_free(struct dw_tsdb_matcher **mp)
{
    if (!mp || !*mp)
        return;
    struct dw_tsdb_matcher *m = *mp;
    for (size_t i = 0; i < m->nliterals; i++)
        free(m->literals[i]);
    free(m->literals);
    free(m->prefix);
    free(m->name);
    free(m->value);
    if (m->re)
        pcre2_code_free(m->re);
    free(m);
    *mp = NULL;
}

enum dw_match_op dw_tsdb_matcher_op(const struct dw_tsdb_matcher *m)
{
    return m->op;
}

const char *dw_tsdb_matcher_name(const struct dw_tsdb_matcher *m)
{
    return m->name;
}

const char *dw_tsdb_matcher_value(const struct dw_tsdb_matcher *m)
{
    return m->value;
}

static bool accepts(const struct dw_tsdb_matcher *m, const char *v)
{
    switch (m->kind) {
    case K_EQUAL: return strcmp(v, m->literals[0]) == 0;
    case K_SET:
        for (size_t i = 0; i < m->nliterals; i++)
            if (strcmp(v, m->literals[i]) == 0)
                return true;
        return false;
    case K_PREFIX:
        /* ".*" does not cross a newline, as in Go's regexp. */
        return dw_str_has_prefix(v, m->prefix) && !strchr(v + strlen(m->prefix), '\n');
    case K_REGEX: {
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(m->re, NULL);
        int rc = pcre2_match(m->re, (PCRE2_SPTR)v, strlen(v), 0, 0, md, NULL);
        pcre2_match_data_free(md);
        return rc >= 0;
    }
    }
    return false;
}

bool dw_tsdb_matcher_matches(const struct dw_tsdb_matcher *m, const char *value)
{
    bool a = accepts(m, value ? value : "");
    return m->op == DW_MATCH_EQ || m->op == DW_MATCH_RE ? a : !a;
}

const char *const *dw_tsdb_matcher_literals(const struct dw_tsdb_matcher *m, size_t *n)
{
    if (m->kind != K_EQUAL && m->kind != K_SET) {
        *n = 0;
        return NULL;
    }
    *n = m->nliterals;
    return (const char *const *)m->literals;
}

const char *dw_tsdb_matcher_prefix(const struct dw_tsdb_matcher *m)
{
    if (m->kind == K_PREFIX)
        return m->prefix;
    if (m->kind == K_EQUAL && (m->op == DW_MATCH_EQ || m->op == DW_MATCH_RE))
        return m->literals[0];
    return "";
}
