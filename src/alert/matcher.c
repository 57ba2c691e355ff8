/*
 * matcher.c - Alertmanager's label matchers: `name="value"`, `name!="value"`,
 * `name=~"regex"`, `name!~"regex"`.
 *
 * DESIGN
 * Parsing follows Alertmanager 0.25's labels.ParseMatchers: an optional
 * pair of braces, matchers separated by commas outside quotes, each
 * `name op value` with spaces allowed around the operator; the value is
 * quoted (with \" \\ \n escapes; any other backslash is kept literally) or
 * bare. Matching reuses the tsdb's compiled matchers, whose regexes are
 * PCRE2 anchored at both ends ("^(?:re)$"), like Alertmanager's. An absent
 * label matches as the empty string.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert_internal.h"

const char *match_op_text(enum dw_match_op op)
{
    switch (op) {
    case DW_MATCH_EQ: return "=";
    case DW_MATCH_NEQ: return "!=";
    case DW_MATCH_RE: return "=~";
    case DW_MATCH_NRE: return "!~";
    }
    return "?";
}

int amatcher_init(struct amatcher *m, enum dw_match_op op, const char *name, const char *value,
                  char **err)
{
    char *why = NULL;
    struct dw_tsdb_matcher *c = dw_tsdb_matcher_new(op, name, value, &why);
    if (!c) {
        *err = dw_asprintf("invalid regular expression \"%s\": %s", value, why ? why : "?");
        free(why);
        return -1;
    }
    *m = (struct amatcher){op, dw_strdup(name), dw_strdup(value), c};
    return 0;
}

void amatcher_release(struct amatcher *m)
{
    free(m->name);
    free(m->value);
    dw_tsdb_matcher_free(&m->m);
    memset(m, 0, sizeof *m);
}

static bool name_char(char c, bool first)
{
    return isalpha((unsigned char)c) || c == '_' || c == ':' ||
           (!first && isdigit((unsigned char)c));
}

/* Unquotes a raw value the way Alertmanager does; -1 with *err. */
static int unquote(const char *raw, const char *whole, struct dw_buf *out, char **err)
{
    bool quoted = raw[0] == '"', escaped = false;
    const char *p = quoted ? raw + 1 : raw;
    size_t n = strlen(p);
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (escaped) {
            escaped = false;
            if (c == 'n')
                dw_buf_putc(out, '\n');
            else if (c == '"' || c == '\\')
                dw_buf_putc(out, c);
            else
                dw_buf_printf(out, "\\%c", c);
            continue;
        }
        if (c == '\\' && i + 1 < n) {
            escaped = true;
        } else if (c == '"') {
            if (!quoted || i + 1 < n)
                goto bad_quote;
            quoted = false;
        } else {
            dw_buf_putc(out, c);
        }
    }
    if (quoted)
        goto bad_quote;
    if (!utf8_valid(out->data ? out->data : "")) {
        *err = dw_asprintf("matcher value not valid UTF-8: %s", whole);
        return -1;
    }
    return 0;
bad_quote:
    *err = dw_asprintf("matcher value contains unescaped double quote: %s", whole);
    return -1;
}

static const char *skip_space(const char *p)
{
    while (isspace((unsigned char)*p))
        p++;
    return p;
}

/* Reads the operator at p; returns its length (0 when none). */
static size_t read_op(const char *p, enum dw_match_op *op)
{
    if (p[0] == '=' && p[1] == '~')
        return *op = DW_MATCH_RE, 2;
    if (p[0] == '!' && p[1] == '~')
        return *op = DW_MATCH_NRE, 2;
    if (p[0] == '!' && p[1] == '=')
        return *op = DW_MATCH_NEQ, 2;
    if (p[0] == '=')
        return *op = DW_MATCH_EQ, 1;
    return 0;
}

int amatcher_parse1(struct amatcher *m, const char *s, char **err)
{
    const char *p = skip_space(s), *name = p;
    if (!name_char(*p, true))
        goto bad;
    while (name_char(*p, false))
        p++;
    size_t nlen = (size_t)(p - name);
    p = skip_space(p);
    enum dw_match_op op;
    size_t oplen = read_op(p, &op);
    if (!oplen)
        goto bad;
    p = skip_space(p + oplen);
    size_t vlen = strlen(p);
    while (vlen && isspace((unsigned char)p[vlen - 1]))
        vlen--;
    char *raw = dw_strndup(p, vlen), *nm = dw_strndup(name, nlen);
    struct dw_buf val;
    dw_buf_init(&val, 0);
    int rc = unquote(raw, s, &val, err);
    if (rc == 0)
        rc = amatcher_init(m, op, nm, val.data ? val.data : "", err);
    dw_buf_release(&val);
    free(raw);
    free(nm);
    return rc;
bad:
    *err = dw_asprintf("bad matcher format: %s", s);
    return -1;
}

void amatchers_add(struct amatchers *ms, struct amatcher *m)
{
    ms->v = dw_realloc(ms->v, (ms->n + 1) * sizeof *ms->v);
    ms->v[ms->n++] = *m;
    memset(m, 0, sizeof *m);
}

/* Splits s at commas outside quotes, like Alertmanager's tokenizer. */
static size_t split_tokens(const char *s, size_t len, char ***out)
{
    char **toks = NULL;
    size_t n = 0;
    bool in_quotes = false, escaped = false;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? s[i] : ',';
        if (c == ',' && (!in_quotes || i == len)) {
            toks = dw_realloc(toks, (n + 1) * sizeof *toks);
            toks[n++] = dw_strndup(s + start, i - start);
            start = i + 1;
            continue;
        }
        if (c == '"') {
            if (!escaped)
                in_quotes = !in_quotes;
            escaped = false;
        } else if (c == '\\') {
            escaped = !escaped;
        } else {
            escaped = false;
        }
    }
    *out = toks;
    return n;
}

int amatchers_parse(struct amatchers *ms, const char *s, char **err)
{
    size_t len = strlen(s), start = 0;
    if (len && s[0] == '{')
        start = 1;
    if (len > start && s[len - 1] == '}')
        len--;
    char **toks;
    size_t nt = split_tokens(s + start, len - start, &toks);
    struct amatchers tmp = {0};
    int rc = 0;
    for (size_t i = 0; i < nt; i++) {
        bool last = i + 1 == nt;
        const char *t = skip_space(toks[i]);
        if (rc == 0 && !(last && !*t)) { /* a trailing comma leaves an empty token */
            struct amatcher m;
            rc = amatcher_parse1(&m, toks[i], err);
            if (rc == 0)
                amatchers_add(&tmp, &m);
        }
        free(toks[i]);
    }
    free(toks);
    if (rc < 0) {
        amatchers_release(&tmp);
        return -1;
    }
    for (size_t i = 0; i < tmp.n; i++)
        amatchers_add(ms, &tmp.v[i]);
    free(tmp.v);
    return 0;
}

bool amatcher_matches_lset(const struct amatcher *m, const struct lset *ls)
{
    const char *v = lset_get(ls, m->name);
    return dw_tsdb_matcher_matches(m->m, v ? v : "");
}

bool amatchers_match(const struct amatchers *ms, const struct lset *ls)
{
    for (size_t i = 0; i < ms->n; i++)
        if (!amatcher_matches_lset(&ms->v[i], ls))
            return false;
    return true;
}

bool amatcher_matches_empty(const struct amatcher *m)
{
    return dw_tsdb_matcher_matches(m->m, "");
}

static int matcher_cmp(const void *a, const void *b)
{
    const struct amatcher *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    if (x->op != y->op)
        return (int)x->op - (int)y->op;
    return strcmp(x->value, y->value);
}

void amatchers_sort(struct amatchers *ms)
{
    if (ms->n > 1)
        qsort(ms->v, ms->n, sizeof *ms->v, matcher_cmp);
}

void amatcher_format(const struct amatcher *m, struct dw_buf *out)
{
    dw_buf_puts(out, m->name);
    dw_buf_puts(out, match_op_text(m->op));
    quote_value(out, m->value);
}

void amatchers_format(const struct amatchers *ms, struct dw_buf *out)
{
    dw_buf_putc(out, '{');
    for (size_t i = 0; i < ms->n; i++) {
        if (i)
            dw_buf_putc(out, ',');
        amatcher_format(&ms->v[i], out);
    }
    dw_buf_putc(out, '}');
}

void amatchers_copy(struct amatchers *dst, const struct amatchers *src)
{
    dst->v = dw_calloc(src->n ? src->n : 1, sizeof *dst->v);
    dst->n = 0;
    for (size_t i = 0; i < src->n; i++) {
        char *err = NULL;
        if (amatcher_init(&dst->v[dst->n], src->v[i].op, src->v[i].name, src->v[i].value, &err) ==
            0)
            dst->n++;
        free(err); /* cannot happen: src compiled */
    }
}

void amatchers_release(struct amatchers *ms)
{
    for (size_t i = 0; i < ms->n; i++)
        amatcher_release(&ms->v[i]);
    free(ms->v);
    ms->v = NULL;
    ms->n = 0;
}

int dw_alert_matcher_parse(const char *s, char **name, char **value, bool *is_regex, bool *is_equal,
                           char **err)
{
    struct amatcher m;
    if (amatcher_parse1(&m, s, err) < 0)
        return -1;
    *is_regex = m.op == DW_MATCH_RE || m.op == DW_MATCH_NRE;
    *is_equal = m.op == DW_MATCH_EQ || m.op == DW_MATCH_RE;
    *name = m.name;
    *value = m.value;
    m.name = m.value = NULL;
    amatcher_release(&m);
    return 0;
}
