/*
 * regex.c - regular expressions as Prometheus 2.42 runs them, on PCRE2.
 *
 * DESIGN: Prometheus compiles a matcher's or label_replace's pattern with
 * Go's RE2 engine as "^(?:pattern)$". We compile the very same wrapped text
 * with PCRE2 in UTF mode, `$` meaning only the end of the value (Go's rule),
 * JIT-compiled when the library supports it. PCRE2 accepts a superset of
 * RE2's syntax (it also takes backreferences and lookaround); RE2's syntax
 * itself means the same in both. PCRE2 backtracks where RE2 does not, so
 * every match runs under a match limit: a pathological pattern fails to
 * match instead of stalling a query.
 *
 * The patterns users actually write get fast paths that skip PCRE2: ".*"
 * (any value without a newline), ".+", a literal, and an alternation of
 * literals ("GET|POST").
 *
 * Threads: a compiled regex is immutable and matched from any thread; each
 * match allocates its own PCRE2 match data. The shared match context is
 * created once (pthread_once) and never changed.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "promql/promql_internal.h"

/* PCRE2's backtracking budget per match (its default is 10,000,000). */
#define MATCH_LIMIT 1000000u

enum fast_kind { FAST_NONE, FAST_ANY, FAST_NONEMPTY, FAST_LITERALS };

struct dw_promql_regex {
    pcre2_code *code;
    enum fast_kind fast;
    const char **lits; /* FAST_LITERALS: the alternatives */
    size_t *lit_lens;
    size_t nlits;
    const char *pattern; /* as written, NUL-terminated (may hold NUL bytes) */
    struct dw_promql_regex *next;
};

static pthread_once_t mctx_once = PTHREAD_ONCE_INIT;
static pcre2_match_context *mctx;

static void mctx_init(void)
{
    mctx = pcre2_match_context_create(NULL);
    if (!mctx)
        dw_oom(sizeof(void *));
    pcre2_set_match_limit(mctx, MATCH_LIMIT);
}

static bool literal_char(char c)
{
    return c >= 0x20 && c < 0x7F && !strchr("\\.+*?()|[]{}^$", c);
}

/* Recognises the shapes that need no regex engine. */
static void detect_fast_path(struct dw_promql_regex *re, struct arena *a, const char *p, size_t n)
{
    if (n == 2 && p[0] == '.' && (p[1] == '*' || p[1] == '+')) {
        re->fast = p[1] == '*' ? FAST_ANY : FAST_NONEMPTY;
        return;
    }
    size_t alts = 1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '|')
            alts++;
        else if (!literal_char(p[i]))
            return;
    }
    re->lits = arena_alloc(a, alts * sizeof *re->lits);
    re->lit_lens = arena_alloc(a, alts * sizeof *re->lit_lens);
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || p[i] == '|') {
            re->lits[re->nlits] = p + start;
            re->lit_lens[re->nlits++] = i - start;
            start = i + 1;
        }
    }
    re->fast = FAST_LITERALS;
}

struct dw_promql_regex *promql_regex_compile(struct dw_promql_expr *owner, const char *pattern,
                                             size_t len, struct dw_buf *err)
{
    pthread_once(&mctx_once, mctx_init);
    struct dw_buf wrapped;
    dw_buf_init(&wrapped, 0);
    dw_buf_puts(&wrapped, "^(?:");
    dw_buf_append(&wrapped, pattern, len);
    dw_buf_puts(&wrapped, ")$");

    int errcode = 0;
    PCRE2_SIZE erroff = 0;
    uint32_t opts =
        PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C;
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)wrapped.data, wrapped.len, opts, &errcode, &erroff, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(errcode, msg, sizeof msg) < 0)
            dw_strlcpy((char *)msg, "invalid pattern", sizeof msg);
        dw_buf_printf(err, "error parsing regexp: %s: `", (const char *)msg);
        dw_buf_append(err, wrapped.data, wrapped.len);
        dw_buf_putc(err, '`');
        dw_buf_release(&wrapped);
        return NULL;
    }
    dw_buf_release(&wrapped);
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* interpreter if JIT is missing */

    struct dw_promql_regex *re = arena_alloc(&owner->arena, sizeof *re);
    re->code = code;
    re->pattern = arena_strndup(&owner->arena, pattern, len);
    detect_fast_path(re, &owner->arena, re->pattern, len);
    re->next = owner->regexes;
    owner->regexes = re;
    return re;
}

void promql_regex_free_all(struct dw_promql_expr *owner)
{
    for (struct dw_promql_regex *re = owner->regexes; re; re = re->next)
        pcre2_code_free(re->code);
    owner->regexes = NULL;
}

const char *dw_promql_regex_pattern(const struct dw_promql_regex *re)
{
    return re->pattern;
}

static int pcre_run(const struct dw_promql_regex *re, const char *s, size_t len,
                    pcre2_match_data *md)
{
    return pcre2_match(re->code, (PCRE2_SPTR)(s ? s : ""), len, 0, 0, md, mctx);
}

bool dw_promql_regex_match(const struct dw_promql_regex *re, const char *s, size_t len)
{
    switch (re->fast) {
    case FAST_ANY: return len == 0 || !memchr(s, '\n', len);
    case FAST_NONEMPTY: return len > 0 && !memchr(s, '\n', len);
    case FAST_LITERALS:
        for (size_t i = 0; i < re->nlits; i++)
            if (re->lit_lens[i] == len && (len == 0 || memcmp(re->lits[i], s, len) == 0))
                return true;
        return false;
    case FAST_NONE: break;
    }
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md)
        dw_oom(sizeof(void *));
    int rc = pcre_run(re, s, len, md);
    pcre2_match_data_free(md);
    return rc >= 0; /* 0 means "matched, ovector too small": still a match */
}

/* Go's regexp extract(): a group name or number after '$'. */
static bool template_name(const char *t, size_t n, size_t *name_off, size_t *name_len,
                          size_t *consumed)
{
    size_t i = 0;
    bool brace = n > 0 && t[0] == '{';
    if (brace)
        i = 1;
    size_t start = i;
    while (i < n && (t[i] == '_' || (t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'z') ||
                     (t[i] >= 'A' && t[i] <= 'Z')))
        i++;
    if (i == start)
        return false;
    *name_off = start;
    *name_len = i - start;
    if (brace) {
        if (i >= n || t[i] != '}')
            return false;
        i++;
    }
    *consumed = i;
    return true;
}

/* The group a name refers to: a number (no leading zeros) or a group name. */
static int template_group(const struct dw_promql_regex *re, const char *name, size_t n)
{
    long num = 0;
    for (size_t i = 0; i < n; i++) {
        if (name[i] < '0' || name[i] > '9' || num >= 100000000) {
            num = -1;
            break;
        }
        num = num * 10 + (name[i] - '0');
    }
    if (n > 1 && name[0] == '0')
        num = -1;
    if (num >= 0)
        return (int)num;
    char tmp[64];
    if (n >= sizeof tmp)
        return -1;
    memcpy(tmp, name, n);
    tmp[n] = '\0';
    int g = pcre2_substring_number_from_name(re->code, (PCRE2_SPTR)tmp);
    return g > 0 ? g : -1;
}

static int append_group(struct dw_buf *out, const char *src, const PCRE2_SIZE *ov, uint32_t npairs,
                        int g)
{
    if (g < 0 || (uint32_t)g >= npairs || ov[2 * g] == PCRE2_UNSET)
        return 0;
    return dw_buf_append(out, src + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
}

int dw_promql_regex_expand(const struct dw_promql_regex *re, const char *src, size_t len,
                           const char *tmpl, size_t tlen, struct dw_buf *out)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re->code, NULL);
    if (!md)
        dw_oom(sizeof(void *));
    if (pcre_run(re, src, len, md) < 0) {
        pcre2_match_data_free(md);
        return 0;
    }
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    uint32_t npairs = pcre2_get_ovector_count(md);
    int rc = 0;
    size_t i = 0;
    while (i < tlen && rc == 0) {
        const char *dollar = memchr(tmpl + i, '$', tlen - i);
        if (!dollar) {
            rc = dw_buf_append(out, tmpl + i, tlen - i);
            break;
        }
        size_t d = (size_t)(dollar - tmpl);
        rc = dw_buf_append(out, tmpl + i, d - i);
        i = d + 1;
        if (i < tlen && tmpl[i] == '$') { /* $$ is a literal $ */
            rc = rc ? rc : dw_buf_putc(out, '$');
            i++;
            continue;
        }
        size_t off, nlen, used;
        if (!template_name(tmpl + i, tlen - i, &off, &nlen, &used)) {
            rc = rc ? rc : dw_buf_putc(out, '$'); /* malformed: a raw $ */
            continue;
        }
        int g = template_group(re, tmpl + i + off, nlen);
        rc = rc ? rc : append_group(out, src, ov, npairs, g);
        i += used;
    }
    pcre2_match_data_free(md);
    return rc < 0 ? -1 : 1;
}
