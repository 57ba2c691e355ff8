/*
 * jsonpath.c - JSON path assertions for the http probe's body checks:
 * `$.status == "ok"`, `$.items[0].n >= 3`, `$.version =~ "^2\."`, `$.db.up`.
 *
 * DESIGN
 * An assertion is compiled once when the config loads (syntax errors carry
 * the 1-based column) and checked against every response body; the compiled
 * form is immutable, so checks may run on any thread.
 *
 * Grammar (whitespace allowed only around the operator):
 *   assertion := path [ op value ]
 *   path      := "$" { "." key | "[" json-string "]" | "[" ["-"] digits "]" }
 *   key       := one or more of A-Z a-z 0-9 _ - or bytes >= 0x80 (UTF-8)
 *   op        := "==" | "!=" | "<" | "<=" | ">" | ">=" | "=~"
 *   value     := JSON string | JSON number | true | false | null  (after =~: a regex)
 * A negative index counts from the end ([-1] is the last item). The regex is
 * written in double quotes where only \" is an escape (for a quote), so
 * backslashes reach PCRE2 as written: "^v\d+\.". It is compiled with
 * PCRE2_UTF and searched unanchored; use ^ and $ to anchor.
 *
 * Semantics:
 *   - a path that does not resolve fails every assertion, != included; the
 *     why text says where resolution stopped and why;
 *   - a bare path holds when the value exists and is not false or null;
 *   - == and != compare numbers as doubles (1 == 1.0), strings byte for byte,
 *     true/false/null by type; values of different kinds are never equal;
 *   - < <= > >= compare numbers as doubles and strings by bytes (UTF-8
 *     order); anything else, or a mix, fails with "(not comparable)";
 *   - =~ holds when the value is a string the regex matches; other kinds fail
 *     with "(not a string)".
 * Numbers compared as doubles lose precision beyond 2^53; fine for health
 * endpoints, documented for the rest.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "collect/probe_wire.h"
#include "core/core.h"

enum jp_op { OP_EXISTS, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_MATCH };

static const char *const op_text[] = {"", "==", "!=", "<", "<=", ">", ">=", "=~"};

struct jp_seg {
    char *key;       /* heap, NULL for an index */
    long long index; /* negative counts from the end */
    size_t start;    /* offset of the segment in path (its '.' or '[') */
};

struct dw_jsonpath {
    char *path; /* heap: the path as written, for messages */
    struct jp_seg *segs;
    size_t nsegs;
    enum jp_op op;
    json_t *value;    /* owned; the literal of a comparison, NULL for exists and =~ */
    char *value_text; /* heap: the literal as written, NULL for exists */
    pcre2_code *re;   /* owned; only for =~ */
};

/* ---- compiling ---- */

struct parser {
    const char *s;
    size_t pos;
    size_t path_start; /* offset of '$' */
    char *msg;
    size_t msgcap;
};

static int fail(struct parser *p, size_t pos, const char *fmt, ...) DW_PRINTF(3, 4);
static int fail(struct parser *p, size_t pos, const char *fmt, ...)
{
    char tmp[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    snprintf(p->msg, p->msgcap, "column %zu: %s", pos + 1, tmp);
    return -1;
}

static void skip_ws(struct parser *p)
{
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t')
        p->pos++;
}

static bool is_key_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c >= 0x80;
}

static int hex4(const char *s, unsigned *out)
{
    *out = 0;
    for (int i = 0; i < 4; i++) {
        int d = dw_hex_digit(s[i]);
        if (d < 0)
            return -1;
        *out = *out << 4 | (unsigned)d;
    }
    return 0;
}

static void put_utf8(struct dw_buf *b, unsigned cp)
{
    if (cp < 0x80) {
        dw_buf_putc(b, (char)cp);
    } else if (cp < 0x800) {
        dw_buf_putc(b, (char)(0xC0 | cp >> 6));
        dw_buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        dw_buf_putc(b, (char)(0xE0 | cp >> 12));
        dw_buf_putc(b, (char)(0x80 | (cp >> 6 & 0x3F)));
        dw_buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        dw_buf_putc(b, (char)(0xF0 | cp >> 18));
        dw_buf_putc(b, (char)(0x80 | (cp >> 12 & 0x3F)));
        dw_buf_putc(b, (char)(0x80 | (cp >> 6 & 0x3F)));
        dw_buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    }
}

/* \uXXXX (the 'u' at p->pos), with a surrogate pair when needed. */
static int parse_unicode_escape(struct parser *p, struct dw_buf *b)
{
    size_t at = p->pos - 1;
    unsigned cp, lo;
    if (hex4(p->s + p->pos + 1, &cp) != 0)
        return fail(p, at, "\\u needs four hex digits");
    p->pos += 5;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail(p, at, "lone low surrogate \\u%04X", cp);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' || hex4(p->s + p->pos + 2, &lo) != 0 ||
            lo < 0xDC00 || lo > 0xDFFF)
            return fail(p, at, "high surrogate \\u%04X without its low half", cp);
        p->pos += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (cp == 0)
        return fail(p, at, "\\u0000 is not allowed");
    put_utf8(b, cp);
    return 0;
}

static int parse_escape(struct parser *p, struct dw_buf *b)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    char c = p->s[p->pos];
    const char *hit = c ? strchr(from, c) : NULL;
    if (c == '\0')
        return fail(p, p->pos - 1, "unterminated string");
    if (c == 'u')
        return parse_unicode_escape(p, b);
    if (!hit)
        return fail(p, p->pos - 1, "unknown escape \\%c", c);
    dw_buf_putc(b, to[hit - from]);
    p->pos++;
    return 0;
}

/* A JSON string at p->pos (on the opening quote) into a heap string. */
static int parse_json_string(struct parser *p, char **out)
{
    struct dw_buf b;
    size_t open = p->pos++;
    dw_buf_init(&b, 0);
    for (;;) {
        unsigned char c = (unsigned char)p->s[p->pos];
        int rc = 0;
        if (c == '\0')
            rc = fail(p, open, "unterminated string");
        else if (c < 0x20)
            rc = fail(p, p->pos, "control character in a string");
        else if (c == '"')
            break;
        else if (c == '\\') {
            p->pos++;
            rc = parse_escape(p, &b);
        } else {
            dw_buf_putc(&b, (char)c);
            p->pos++;
        }
        if (rc != 0) {
            dw_buf_release(&b);
            return -1;
        }
    }
    p->pos++;
    *out = dw_buf_steal(&b);
    return 0;
}

/* The regex form of a quoted string: only \" is an escape. */
static int parse_regex_string(struct parser *p, char **out, size_t *len)
{
    struct dw_buf b;
    size_t open = p->pos++;
    dw_buf_init(&b, 0);
    while (p->s[p->pos] != '"') {
        char c = p->s[p->pos];
        if (c == '\0') {
            dw_buf_release(&b);
            return fail(p, open, "unterminated regex");
        }
        if (c == '\\' && p->s[p->pos + 1] == '"') {
            c = '"';
            p->pos++;
        } else if (c == '\\' && p->s[p->pos + 1] != '\0') {
            dw_buf_putc(&b, c);
            c = p->s[++p->pos];
        }
        dw_buf_putc(&b, c);
        p->pos++;
    }
    p->pos++;
    *len = b.len;
    *out = dw_buf_steal(&b);
    return 0;
}

static struct jp_seg *add_seg(struct dw_jsonpath *jp, size_t *cap, size_t start)
{
    jp->segs = dw_grow(jp->segs, cap, jp->nsegs + 1, sizeof *jp->segs);
    struct jp_seg *seg = &jp->segs[jp->nsegs++];
    memset(seg, 0, sizeof *seg);
    seg->start = start;
    return seg;
}

static int parse_dot_key(struct parser *p, struct jp_seg *seg)
{
    size_t start = ++p->pos;
    while (is_key_byte((unsigned char)p->s[p->pos]))
        p->pos++;
    if (p->pos == start)
        return fail(p, start, "expected a key after '.' (use [\"...\"] for other characters)");
    seg->key = dw_strndup(p->s + start, p->pos - start);
    return 0;
}

static int parse_index(struct parser *p, struct jp_seg *seg)
{
    size_t start = p->pos;
    bool neg = p->s[p->pos] == '-';
    if (neg)
        p->pos++;
    if (p->s[p->pos] < '0' || p->s[p->pos] > '9')
        return fail(p, start, "expected an index or a quoted key after '['");
    long long v = 0;
    for (; p->s[p->pos] >= '0' && p->s[p->pos] <= '9'; p->pos++) {
        v = v * 10 + (p->s[p->pos] - '0');
        if (v > 1000000000)
            return fail(p, start, "index too large");
    }
    seg->index = neg ? -v : v;
    return 0;
}

static int parse_bracket(struct parser *p, struct jp_seg *seg)
{
    p->pos++;
    int rc = p->s[p->pos] == '"' ? parse_json_string(p, &seg->key) : parse_index(p, seg);
    if (rc != 0)
        return -1;
    if (p->s[p->pos] != ']')
        return fail(p, p->pos, "expected ']'");
    p->pos++;
    return 0;
}

static int parse_path(struct parser *p, struct dw_jsonpath *jp)
{
    size_t cap = 0;
    skip_ws(p);
    p->path_start = p->pos;
    if (p->s[p->pos] != '$')
        return fail(p, p->pos, "a path starts with '$'");
    p->pos++;
    for (;;) {
        char c = p->s[p->pos];
        if (c != '.' && c != '[')
            break;
        struct jp_seg *seg = add_seg(jp, &cap, p->pos - p->path_start);
        if ((c == '.' ? parse_dot_key(p, seg) : parse_bracket(p, seg)) != 0)
            return -1;
    }
    jp->path = dw_strndup(p->s + p->path_start, p->pos - p->path_start);
    return 0;
}

static int parse_op(struct parser *p, enum jp_op *op)
{
    /* Two-character operators first, so "<=" is not read as "<". */
    static const enum jp_op order[] = {OP_EQ, OP_NE, OP_LE, OP_GE, OP_MATCH, OP_LT, OP_GT};
    const char *s = p->s + p->pos;
    for (size_t i = 0; i < DW_ARRAY_LEN(order); i++) {
        size_t n = strlen(op_text[order[i]]);
        if (strncmp(s, op_text[order[i]], n) == 0) {
            *op = order[i];
            p->pos += n;
            return 0;
        }
    }
    if (s[0] == '=')
        return fail(p, p->pos, "'=' is not an operator; use '=='");
    return fail(p, p->pos, "expected an operator (== != < <= > >= =~) after the path");
}

/* A JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static size_t scan_number(const char *s)
{
    size_t i = s[0] == '-';
    size_t digits = strspn(s + i, "0123456789");
    if (digits == 0 || (s[i] == '0' && digits > 1))
        return 0;
    i += digits;
    if (s[i] == '.') {
        size_t frac = strspn(s + i + 1, "0123456789");
        if (frac == 0)
            return 0;
        i += 1 + frac;
    }
    if (s[i] == 'e' || s[i] == 'E') {
        size_t j = i + 1 + (s[i + 1] == '+' || s[i + 1] == '-');
        size_t exp = strspn(s + j, "0123456789");
        if (exp == 0)
            return 0;
        i = j + exp;
    }
    return i;
}

static int parse_number(struct parser *p, json_t **out)
{
    size_t n = scan_number(p->s + p->pos);
    if (n == 0)
        return fail(p, p->pos, "malformed number");
    char *text = dw_strndup(p->s + p->pos, n);
    errno = 0;
    double v = strtod(text, NULL);
    free(text);
    if (errno == ERANGE && (v > 1 || v < -1))
        return fail(p, p->pos, "number out of range");
    p->pos += n;
    *out = json_real(v);
    return 0;
}

static bool word_at(const char *s, const char *word)
{
    size_t n = strlen(word);
    return strncmp(s, word, n) == 0 && !is_key_byte((unsigned char)s[n]);
}

static int parse_json_value(struct parser *p, json_t **out)
{
    const char *s = p->s + p->pos;
    if (*s == '"') {
        char *str;
        if (parse_json_string(p, &str) != 0)
            return -1;
        *out = json_string(str);
        free(str);
        return *out ? 0 : fail(p, (size_t)(s - p->s), "string is not valid UTF-8");
    }
    if (*s == '-' || (*s >= '0' && *s <= '9'))
        return parse_number(p, out);
    static const char *const words[] = {"true", "false", "null"};
    for (size_t i = 0; i < DW_ARRAY_LEN(words); i++)
        if (word_at(s, words[i])) {
            *out = i == 0 ? json_true() : i == 1 ? json_false() : json_null();
            p->pos += strlen(words[i]);
            return 0;
        }
    return fail(p, p->pos, "expected a value (a string, number, true, false or null)");
}

static int compile_regex(struct parser *p, struct dw_jsonpath *jp)
{
    size_t at = p->pos, len;
    char *pattern;
    if (p->s[p->pos] != '"')
        return fail(p, p->pos, "=~ needs a regex in double quotes");
    if (parse_regex_string(p, &pattern, &len) != 0)
        return -1;
    int err;
    PCRE2_SIZE erroff;
    jp->re = pcre2_compile((PCRE2_SPTR)pattern, len, PCRE2_UTF, &err, &erroff, NULL);
    free(pattern);
    if (!jp->re) {
        PCRE2_UCHAR text[120];
        pcre2_get_error_message(err, text, sizeof text);
        return fail(p, at, "bad regex: %s (at regex offset %zu)", (const char *)text,
                    (size_t)erroff);
    }
    return 0;
}

static int parse_value(struct parser *p, struct dw_jsonpath *jp)
{
    size_t start = p->pos;
    if (jp->op == OP_MATCH) {
        if (compile_regex(p, jp) != 0)
            return -1;
    } else {
        if (parse_json_value(p, &jp->value) != 0)
            return -1;
        bool ordered = jp->op >= OP_LT && jp->op <= OP_GE;
        if (ordered && !json_is_number(jp->value) && !json_is_string(jp->value))
            return fail(p, start, "%s compares numbers or strings", op_text[jp->op]);
    }
    jp->value_text = dw_strndup(p->s + start, p->pos - start);
    return 0;
}

static int parse_assertion(struct parser *p, struct dw_jsonpath *jp)
{
    if (parse_path(p, jp) != 0)
        return -1;
    skip_ws(p);
    if (p->s[p->pos] == '\0')
        return 0;
    if (parse_op(p, &jp->op) != 0)
        return -1;
    skip_ws(p);
    if (p->s[p->pos] == '\0')
        return fail(p, p->pos, "expected a value after '%s'", op_text[jp->op]);
    if (parse_value(p, jp) != 0)
        return -1;
    skip_ws(p);
    if (p->s[p->pos] != '\0')
        return fail(p, p->pos, "unexpected '%c' after the value", p->s[p->pos]);
    return 0;
}

struct dw_jsonpath *dw_jsonpath_compile(const char *expr, char *msg, size_t msgcap)
{
    struct parser p = {.s = expr ? expr : "", .msg = msg, .msgcap = msgcap};
    struct dw_jsonpath *jp = dw_calloc(1, sizeof *jp);
    if (parse_assertion(&p, jp) != 0)
        dw_jsonpath_free(&jp);
    return jp;
}

void dw_jsonpath_free(struct dw_jsonpath **pp)
{
    struct dw_jsonpath *jp = *pp;
    if (!jp)
        return;
    for (size_t i = 0; i < jp->nsegs; i++)
        free(jp->segs[i].key);
    free(jp->segs);
    free(jp->path);
    free(jp->value_text);
    json_decref(jp->value);
    pcre2_code_free(jp->re);
    free(jp);
    *pp = NULL;
}

/* ---- checking ---- */

static const char *kind_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    case JSON_NULL: break;
    }
    return "null";
}

/* The value as compact JSON, cut to fit out (with "..." when cut). */
static void render(const json_t *v, char *out, size_t cap)
{
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!s) {
        snprintf(out, cap, "(%s)", kind_name(v));
        return;
    }
    if (strlen(s) >= cap && cap > 4)
        snprintf(out, cap, "%.*s...", (int)(cap - 4), s);
    else
        snprintf(out, cap, "%s", s);
    free(s);
}

static void say(char *why, size_t whycap, const char *fmt, ...) DW_PRINTF(3, 4);
static void say(char *why, size_t whycap, const char *fmt, ...)
{
    if (!why || whycap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whycap, fmt, ap);
    va_end(ap);
}

/* Why segment i could not be followed from parent; prefix is the path up to it. */
static void say_missing(const struct dw_jsonpath *jp, size_t i, const json_t *parent, char *why,
                        size_t whycap)
{
    const struct jp_seg *seg = &jp->segs[i];
    int plen = (int)seg->start;
    if (seg->key && json_is_object(parent))
        say(why, whycap, "%s is missing: %.*s has no key \"%s\"", jp->path, plen, jp->path,
            seg->key);
    else if (!seg->key && json_is_array(parent))
        say(why, whycap, "%s is missing: %.*s has %zu items", jp->path, plen, jp->path,
            json_array_size(parent));
    else
        say(why, whycap, "%s is missing: %.*s is %s, not %s", jp->path, plen, jp->path,
            kind_name(parent), seg->key ? "an object" : "an array");
}

static const json_t *step(const struct jp_seg *seg, const json_t *cur)
{
    if (seg->key)
        return json_is_object(cur) ? json_object_get(cur, seg->key) : NULL;
    if (!json_is_array(cur))
        return NULL;
    long long n = (long long)json_array_size(cur);
    long long i = seg->index < 0 ? n + seg->index : seg->index;
    return i >= 0 && i < n ? json_array_get(cur, (size_t)i) : NULL;
}

static const json_t *resolve(const struct dw_jsonpath *jp, const json_t *doc, char *why,
                             size_t whycap)
{
    const json_t *cur = doc;
    for (size_t i = 0; cur && i < jp->nsegs; i++) {
        const json_t *next = step(&jp->segs[i], cur);
        if (!next)
            say_missing(jp, i, cur, why, whycap);
        cur = next;
    }
    if (!doc)
        say(why, whycap, "%s is missing: no document", jp->path);
    return cur;
}

static bool values_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    if (json_is_string(a) && json_is_string(b))
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    return json_typeof(a) == json_typeof(b) && !json_is_object(a) && !json_is_array(a);
}

/* -1, 0, 1 like strcmp; 2 when a and b cannot be ordered. */
static int order(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        return x < y ? -1 : x > y;
    }
    if (!json_is_string(a) || !json_is_string(b))
        return 2;
    size_t na = json_string_length(a), nb = json_string_length(b);
    int c = memcmp(json_string_value(a), json_string_value(b), na < nb ? na : nb);
    if (c == 0)
        return na < nb ? -1 : na > nb;
    return c < 0 ? -1 : 1;
}

static bool regex_matches(const pcre2_code *re, const json_t *v)
{
    if (!json_is_string(v))
        return false;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!md)
        dw_oom(0);
    int rc =
        pcre2_match(re, (PCRE2_SPTR)json_string_value(v), json_string_length(v), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

/* Whether v satisfies the operator; *comparable false when the kinds do not fit it. */
static bool holds(const struct dw_jsonpath *jp, const json_t *v, bool *comparable)
{
    *comparable = true;
    switch (jp->op) {
    case OP_EXISTS: return !json_is_false(v) && !json_is_null(v);
    case OP_EQ: return values_equal(v, jp->value);
    case OP_NE: return !values_equal(v, jp->value);
    case OP_MATCH: *comparable = json_is_string(v); return regex_matches(jp->re, v);
    default: break;
    }
    int c = order(v, jp->value);
    *comparable = c != 2;
    switch (jp->op) {
    case OP_LT: return c == -1;
    case OP_LE: return c == -1 || c == 0;
    case OP_GT: return c == 1;
    case OP_GE: return c == 1 || c == 0;
    default: return false;
    }
}

bool dw_jsonpath_check(const struct dw_jsonpath *p, const json_t *doc, char *why, size_t whycap)
{
    const json_t *v = resolve(p, doc, why, whycap);
    if (!v)
        return false;
    bool comparable;
    if (holds(p, v, &comparable))
        return true;
    char shown[96];
    render(v, shown, sizeof shown);
    if (p->op == OP_EXISTS)
        say(why, whycap, "%s is %s", p->path, shown);
    else
        say(why, whycap, "%s is %s, expected %s %s%s", p->path, shown, op_text[p->op],
            p->value_text,
            comparable          ? ""
            : p->op == OP_MATCH ? " (not a string)"
                                : " (not comparable)");
    return false;
}

bool dw_jsonpath_is_path(const struct dw_jsonpath *p)
{
    return p->op == OP_EXISTS;
}

char *dw_jsonpath_get(const struct dw_jsonpath *p, const json_t *doc)
{
    const json_t *v = resolve(p, doc, NULL, 0);
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_string(v))
        return dw_strndup(json_string_value(v), json_string_length(v));
    if (json_is_integer(v))
        return dw_asprintf("%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return dw_asprintf("%.17g", json_real_value(v));
    if (json_is_boolean(v))
        return dw_strdup(json_is_true(v) ? "true" : "false");
    char *dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    char *out = dw_strdup(dump ? dump : "");
    free(dump);
    return out;
}
