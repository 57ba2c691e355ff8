/*
 * template.c - Go's text/template as Prometheus 2.42 runs it for alerting
 * rules: lexer, parser, values, Go's fmt formatting, the function library
 * and the executor.
 *
 * DESIGN
 *
 * The reference is Go 1.19's text/template (Debian 12 builds Prometheus 2.42
 * with it) with Prometheus's option missingkey=zero and function map. The
 * expected outputs in tests/unit/test_rules_template.c were taken from
 * Debian's promtool 2.42 ("promtool test rules" prints expanded
 * annotations), not from reading Go's source alone.
 *
 * Prometheus runs every alert template behind a prelude of actions
 * ({{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}
 * {{$externalURL := .ExternalURL}}{{$value := .Value}}). We declare those
 * variables before parsing instead of prepending text, so positions count
 * from the text as written; the prelude still makes the template non-empty,
 * which matters to {{define}} of the template's own name.
 *
 * Compilation: the lexer turns the whole text into a token array first (Go
 * lexes lazily, so a lexing error is reported only when the parser reaches
 * it: we keep that order by lexing errors into a T_ERROR token the parser
 * trips over). The parser is Go's recursive descent, building a tree in an
 * arena owned by the compiled template; like Go it resolves function names
 * and checks variables at compile time and leaves argument counts and types
 * to execution.
 *
 * Execution walks the tree with dynamically typed values (struct value):
 * nil, bool, int, float64, string, map (string-keyed, sorted), a query
 * result list, a sample, the alert data struct, a time. Every value built
 * while running lives in a per-execution arena with a hard size, so nothing
 * is freed one by one, and a runaway template is stopped by the memory,
 * step, depth and output limits of template.h.
 *
 * Errors unwind with longjmp, the way Go's template package unwinds with
 * panic: an error can arise deep in recursion. Everything allocated up to
 * that point belongs to an arena, to the parser or execution state that the
 * entry point frees, or (a compiled regular expression) is registered in
 * that state; heap string builders are used only to compose messages and
 * are freed before the jump.
 *
 * Where we differ from Go, all in corners alert templates do not reach:
 * complex constants fail when used; `call` is not a function; methods of
 * values (e.g. time.Time's) cannot be called, and a time given a verb that
 * only its fields take prints as a bad verb; pointers inside a printed list
 * show as &{...} instead of an address; {{template}} calls nest 100 deep
 * (Go: 100000) and values print 100 deep; regular expressions run on PCRE2,
 * whose syntax error messages differ from RE2's; Unicode case mapping covers
 * Latin-1, Latin Extended-A, Greek and Cyrillic. Parse errors carry a
 * column; an unknown function or variable is located at its own token (Go
 * gives the line of the furthest token read, which is the same line unless
 * an action spans lines).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/core.h"
#include "rules/template.h"

/* PCRE2's backtracking budget per match: RE2 never backtracks, PCRE2 must be stopped. */
#define REGEX_MATCH_LIMIT 1000000u
#define REGEX_DEPTH_LIMIT 10000u

/* ---- arena: every node and every value lives in one, freed at once ---- */

struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
};

struct arena {
    struct chunk *head;
    size_t total;   /* bytes taken from malloc */
    size_t max;     /* 0: unlimited */
    size_t next_sz; /* size of the next ordinary chunk */
};

static void arena_init(struct arena *a, size_t max)
{
    *a = (struct arena){.max = max, .next_sz = 512};
}

static void arena_release(struct arena *a)
{
    for (struct chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    a->head = NULL;
    a->total = 0;
}

/* NULL when the arena would grow past its maximum. */
static void *arena_try(struct arena *a, size_t n)
{
    const size_t align = sizeof(max_align_t);
    n = n ? (n + align - 1) / align * align : align;
    struct chunk *c = a->head;
    if (c && c->cap - c->used >= n) {
        void *p = (char *)c->data + c->used;
        c->used += n;
        return p;
    }
    size_t cap = n > a->next_sz ? n : a->next_sz;
    if (a->max && (cap > a->max || a->total > a->max - cap))
        return NULL;
    c = dw_malloc(sizeof *c + cap);
    c->cap = cap;
    c->used = n;
    a->total += cap;
    if (a->next_sz < 64 * 1024)
        a->next_sz *= 2;
    if (a->head && n > cap / 2 && a->head->cap - a->head->used > 64) {
        /* A big block: keep filling the current chunk afterwards. */
        c->next = a->head->next;
        a->head->next = c;
    } else {
        c->next = a->head;
        a->head = c;
    }
    return c->data;
}

/* ---- UTF-8 and character classes ---- */

#define RUNE_ERROR 0xFFFDu

/* Decodes one rune; an invalid sequence gives RUNE_ERROR with width 1. */
static size_t utf8_decode(const char *s, size_t n, uint32_t *r)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0) {
        *r = RUNE_ERROR;
        return 0;
    }
    if (u[0] < 0x80) {
        *r = u[0];
        return 1;
    }
    size_t w = u[0] >= 0xF0 ? 4 : u[0] >= 0xE0 ? 3 : u[0] >= 0xC0 ? 2 : 0;
    uint32_t min = w == 4 ? 0x10000 : w == 3 ? 0x800 : 0x80;
    if (w == 0 || w > n || u[0] >= 0xF8)
        goto bad;
    uint32_t v = u[0] & (0x7F >> w);
    for (size_t i = 1; i < w; i++) {
        if ((u[i] & 0xC0) != 0x80)
            goto bad;
        v = v << 6 | (u[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        goto bad;
    *r = v;
    return w;
bad:
    *r = RUNE_ERROR;
    return 1;
}

static size_t utf8_encode(uint32_t r, char out[4])
{
    if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
        r = RUNE_ERROR;
    if (r < 0x80) {
        out[0] = (char)r;
        return 1;
    }
    if (r < 0x800) {
        out[0] = (char)(0xC0 | r >> 6);
        out[1] = (char)(0x80 | (r & 0x3F));
        return 2;
    }
    if (r < 0x10000) {
        out[0] = (char)(0xE0 | r >> 12);
        out[1] = (char)(0x80 | (r >> 6 & 0x3F));
        out[2] = (char)(0x80 | (r & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | r >> 18);
    out[1] = (char)(0x80 | (r >> 12 & 0x3F));
    out[2] = (char)(0x80 | (r >> 6 & 0x3F));
    out[3] = (char)(0x80 | (r & 0x3F));
    return 4;
}

static size_t utf8_count(const char *s, size_t n)
{
    size_t runes = 0;
    for (size_t i = 0; i < n; runes++) {
        uint32_t r;
        i += utf8_decode(s + i, n - i, &r);
    }
    return runes;
}

/* Go's unicode.IsPrint, exact for ASCII and close elsewhere. */
static bool rune_printable(uint32_t r)
{
    if (r < 0x80)
        return r >= 0x20 && r < 0x7F;
    return r >= 0xA0 && r != 0xAD && r != 0x2028 && r != 0x2029 && r != 0xFEFF &&
           !(r >= 0xD800 && r <= 0xDFFF) && r <= 0x10FFFF;
}

static bool is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Go's isAlphaNumeric; every non-ASCII byte counts as part of a letter. */
static bool is_alnum(int c)
{
    unsigned char u = (unsigned char)c;
    return u == '_' || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
           u >= 0x80;
}

/* Simple case mapping: ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic. */
static int latin_ext_upper_parity(uint32_t r)
{
    if ((r >= 0x100 && r <= 0x12F) || (r >= 0x132 && r <= 0x137) || (r >= 0x14A && r <= 0x177))
        return 0;
    if ((r >= 0x139 && r <= 0x148) || (r >= 0x179 && r <= 0x17E))
        return 1;
    return -1;
}

static uint32_t rune_upper(uint32_t r)
{
    if (r < 0x80)
        return r >= 'a' && r <= 'z' ? r - 32 : r;
    if (r >= 0xE0 && r <= 0xFE && r != 0xF7)
        return r - 32;
    if (r == 0xFF)
        return 0x178;
    if (r == 0xB5)
        return 0x39C;
    if (r == 0x131)
        return 'I';
    if (r == 0x17F)
        return 'S';
    int p = latin_ext_upper_parity(r);
    if (p >= 0)
        return (int)(r & 1) == p ? r : r - 1;
    if (r >= 0x3B1 && r <= 0x3C9)
        return r == 0x3C2 ? 0x3A3 : r - 32;
    if (r >= 0x430 && r <= 0x44F)
        return r - 32;
    if (r >= 0x450 && r <= 0x45F)
        return r - 80;
    return r;
}

static uint32_t rune_lower(uint32_t r)
{
    if (r < 0x80)
        return r >= 'A' && r <= 'Z' ? r + 32 : r;
    if (r >= 0xC0 && r <= 0xDE && r != 0xD7)
        return r + 32;
    if (r == 0x178)
        return 0xFF;
    if (r == 0x130)
        return 'i';
    int p = latin_ext_upper_parity(r);
    if (p >= 0)
        return (int)(r & 1) == p ? r + 1 : r;
    if (r >= 0x391 && r <= 0x3A9 && r != 0x3A2)
        return r + 32;
    if (r >= 0x410 && r <= 0x42F)
        return r + 32;
    if (r >= 0x400 && r <= 0x40F)
        return r + 80;
    return r;
}

/* ---- string builder: on an execution's arena, or on the heap ---- */

struct exec;
static void *xalloc(struct exec *x, size_t n);

struct sb {
    char *p;
    size_t len, cap;
    struct exec *x; /* NULL: heap (dw_realloc), else the execution's arena */
};

static void sb_reserve(struct sb *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap * 2 : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    if (b->x) {
        char *p = xalloc(b->x, cap);
        if (b->len)
            memcpy(p, b->p, b->len);
        b->p = p;
    } else {
        b->p = dw_realloc(b->p, cap);
    }
    b->cap = cap;
}

static void sb_put(struct sb *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(struct sb *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_putc(struct sb *b, char c)
{
    sb_put(b, &c, 1);
}

static void sb_fill(struct sb *b, char c, size_t n)
{
    sb_reserve(b, n);
    memset(b->p + b->len, c, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_put_rune(struct sb *b, uint32_t r)
{
    char u[4];
    sb_put(b, u, utf8_encode(r, u));
}

static void sb_printf(struct sb *b, const char *fmt, ...) DW_PRINTF(2, 3);
static void sb_printf(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[128];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        sb_put(b, small, (size_t)n);
        return;
    }
    sb_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* A heap builder's string (never NULL); the builder is emptied. */
static char *sb_steal(struct sb *b)
{
    char *s = b->p ? b->p : dw_strdup("");
    *b = (struct sb){0};
    return s;
}

/* ---- Go's quoting: strconv.Quote, QuoteToASCII, QuoteRune, %#U ---- */

static void quote_rune_into(struct sb *b, uint32_t r, const char *raw, size_t w, char q, bool ascii)
{
    if (r == (uint32_t)q || r == '\\') {
        sb_putc(b, '\\');
        sb_putc(b, (char)r);
        return;
    }
    if (ascii ? (r < 0x80 && rune_printable(r)) : rune_printable(r)) {
        sb_put(b, raw, w);
        return;
    }
    static const char esc[] = "\aa\bb\ff\nn\rr\tt\vv";
    for (size_t i = 0; i + 1 < sizeof esc; i += 2)
        if (r == (unsigned char)esc[i]) {
            sb_putc(b, '\\');
            sb_putc(b, esc[i + 1]);
            return;
        }
    if (r < ' ' || r == 0x7F)
        sb_printf(b, "\\x%02x", (unsigned)r);
    else if (r < 0x10000)
        sb_printf(b, "\\u%04x", (unsigned)r);
    else
        sb_printf(b, "\\U%08x", (unsigned)r);
}

static void go_quote(struct sb *b, const char *s, size_t n, bool ascii)
{
    sb_putc(b, '"');
    for (size_t i = 0; i < n;) {
        uint32_t r;
        size_t w = utf8_decode(s + i, n - i, &r);
        if (r == RUNE_ERROR && w == 1)
            sb_printf(b, "\\x%02x", (unsigned char)s[i]);
        else
            quote_rune_into(b, r, s + i, w, '"', ascii);
        i += w;
    }
    sb_putc(b, '"');
}

static void go_quote_rune(struct sb *b, uint32_t r, bool ascii)
{
    if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
        r = RUNE_ERROR;
    char u[4];
    size_t w = utf8_encode(r, u);
    sb_putc(b, '\'');
    quote_rune_into(b, r, u, w, '\'', ascii);
    sb_putc(b, '\'');
}

/* Go's %q with a precision of max runes (the %.10q of token messages). */
static void go_quote_trunc(struct sb *b, const char *s, size_t n, size_t max_runes)
{
    size_t i = 0;
    for (size_t runes = 0; i < n && runes < max_runes; runes++) {
        uint32_t r;
        i += utf8_decode(s + i, n - i, &r);
    }
    go_quote(b, s, i, false);
}

/* %#U: "U+0023 '#'". */
static void go_rune_desc(struct sb *b, const char *s, size_t n)
{
    uint32_t r;
    size_t w = utf8_decode(s, n, &r);
    sb_printf(b, "U+%04X", (unsigned)r);
    if (rune_printable(r)) {
        sb_puts(b, " '");
        sb_put(b, s, w);
        sb_putc(b, '\'');
    }
}

/* strconv.CanBackquote */
static bool can_backquote(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t r;
        size_t w = utf8_decode(s + i, n - i, &r);
        if ((r == RUNE_ERROR && w == 1) || r == '`' || r == 0xFEFF || (r < ' ' && r != '\t') ||
            r == 0x7F)
            return false;
        i += w;
    }
    return true;
}

/* Go's regexp quote(): backquoted when possible. */
static void go_regexp_quote(struct sb *b, const char *s, size_t n)
{
    if (can_backquote(s, n)) {
        sb_putc(b, '`');
        sb_put(b, s, n);
        sb_putc(b, '`');
    } else {
        go_quote(b, s, n, false);
    }
}

/* ---- lexer: the token rules of Go's text/template/parse/lex.go ---- */

enum tok_type {
    T_EOF,
    T_ERROR, /* a lexing error; msg says which */
    T_TEXT,
    T_LEFT,  /* {{ */
    T_RIGHT, /* }} */
    T_SPACE,
    T_PUNCT, /* any other printable ASCII character, e.g. ',' */
    T_BOOL,
    T_CHARCONST,
    T_NUMBER,
    T_STRING,
    T_RAWSTRING,
    T_IDENT,
    T_FIELD,
    T_VAR,
    T_PIPE,
    T_LPAREN,
    T_RPAREN,
    T_DECLARE, /* := */
    T_ASSIGN,  /* = */
    T_KEYWORD, /* the ones below print as <word> in messages, as in Go */
    T_BLOCK,
    T_BREAK,
    T_CONTINUE,
    T_DOT,
    T_DEFINE,
    T_ELSE,
    T_END,
    T_IF,
    T_NIL,
    T_RANGE,
    T_TEMPLATE,
    T_WITH,
};

struct tok {
    enum tok_type type;
    size_t pos, len; /* in the template text */
    const char *msg; /* T_ERROR */
};

struct lexer {
    const char *s;
    size_t n, pos, start;
    int paren;
    struct tok *toks; /* heap */
    size_t ntoks, cap;
    struct arena *ar; /* error messages */
    bool done;
};

enum lex_state { L_TEXT, L_ACTION, L_DONE };

static void lex_push(struct lexer *l, enum tok_type type, size_t pos, size_t len)
{
    l->toks = dw_grow(l->toks, &l->cap, l->ntoks + 1, sizeof *l->toks);
    l->toks[l->ntoks++] = (struct tok){.type = type, .pos = pos, .len = len};
}

static void lex_emit(struct lexer *l, enum tok_type type)
{
    lex_push(l, type, l->start, l->pos - l->start);
    l->start = l->pos;
}

static enum lex_state lex_fail(struct lexer *l, struct sb *msg)
{
    char *m = arena_try(l->ar, msg->len + 1);
    if (m)
        memcpy(m, msg->p, msg->len + 1);
    free(msg->p);
    lex_push(l, T_ERROR, l->start, 0);
    l->toks[l->ntoks - 1].msg = m ? m : "lexer error";
    lex_push(l, T_EOF, l->pos, 0);
    return L_DONE;
}

static enum lex_state lex_error(struct lexer *l, const char *msg)
{
    struct sb b = {0};
    sb_puts(&b, msg);
    return lex_fail(l, &b);
}

static bool lex_at(const struct lexer *l, size_t pos, const char *lit)
{
    size_t n = strlen(lit);
    return pos <= l->n && l->n - pos >= n && memcmp(l->s + pos, lit, n) == 0;
}

static int lex_peek(const struct lexer *l)
{
    return l->pos < l->n ? (unsigned char)l->s[l->pos] : -1;
}

/* "{{- " trims the text before; the minus needs white space after it. */
static bool has_left_trim(const struct lexer *l, size_t pos)
{
    return pos + 1 < l->n && l->s[pos] == '-' && is_space(l->s[pos + 1]);
}

/* At "}}" or " -}}"? */
static bool at_right_delim(const struct lexer *l, bool *trim)
{
    *trim = l->pos < l->n && is_space(l->s[l->pos]) && lex_at(l, l->pos + 1, "-}}");
    return *trim || lex_at(l, l->pos, "}}");
}

static bool at_terminator(const struct lexer *l)
{
    int c = lex_peek(l);
    return c < 0 || is_space(c) || strchr(".,|:)(", c) != NULL || lex_at(l, l->pos, "}}");
}

static void skip_space(struct lexer *l)
{
    while (l->pos < l->n && is_space(l->s[l->pos]))
        l->pos++;
    l->start = l->pos;
}

static enum lex_state lex_comment(struct lexer *l)
{
    l->pos += 2;
    const char *e = memmem(l->s + l->pos, l->n - l->pos, "*/", 2);
    if (!e)
        return lex_error(l, "unclosed comment");
    l->pos = (size_t)(e - l->s) + 2;
    bool trim;
    if (!at_right_delim(l, &trim))
        return lex_error(l, "comment ends before closing delimiter");
    l->pos += trim ? 4 : 2;
    if (trim)
        skip_space(l);
    l->start = l->pos;
    return L_TEXT;
}

static enum lex_state lex_left_delim(struct lexer *l)
{
    size_t at = l->pos;
    l->pos += 2;
    size_t after = has_left_trim(l, l->pos) ? 2 : 0;
    if (lex_at(l, l->pos + after, "/*")) {
        l->pos += after;
        l->start = l->pos;
        return lex_comment(l);
    }
    lex_push(l, T_LEFT, at, 2);
    l->pos += after;
    l->start = l->pos;
    l->paren = 0;
    return L_ACTION;
}

static enum lex_state lex_text(struct lexer *l)
{
    const char *d = memmem(l->s + l->pos, l->n - l->pos, "{{", 2);
    if (!d) {
        l->pos = l->n;
        if (l->pos > l->start)
            lex_emit(l, T_TEXT);
        lex_push(l, T_EOF, l->n, 0);
        return L_DONE;
    }
    size_t x = (size_t)(d - l->s), end = x;
    if (has_left_trim(l, x + 2))
        while (end > l->start && is_space(l->s[end - 1]))
            end--;
    if (end > l->start)
        lex_push(l, T_TEXT, l->start, end - l->start);
    l->pos = l->start = x;
    return lex_left_delim(l);
}

static enum lex_state lex_right_delim(struct lexer *l, bool trim)
{
    if (trim)
        l->pos += 2;
    l->start = l->pos;
    l->pos += 2;
    lex_emit(l, T_RIGHT);
    if (trim)
        skip_space(l);
    return L_TEXT;
}

static enum lex_state lex_space(struct lexer *l)
{
    size_t spaces = 0;
    while (l->pos < l->n && is_space(l->s[l->pos])) {
        l->pos++;
        spaces++;
    }
    if (l->pos < l->n && l->s[l->pos] == '-' && lex_at(l, l->pos + 1, "}}")) {
        l->pos--; /* the space before the trim marker belongs to the delimiter */
        if (spaces == 1)
            return lex_right_delim(l, true);
    }
    lex_emit(l, T_SPACE);
    return L_ACTION;
}

static enum lex_state lex_quoted(struct lexer *l, char q, enum tok_type type,
                                 const char *unterminated)
{
    for (;;) {
        int c = lex_peek(l);
        if (c < 0 || (c == '\n' && q != '`'))
            return lex_error(l, unterminated);
        l->pos++;
        if (c == '\\' && q != '`') {
            c = lex_peek(l);
            if (c < 0 || c == '\n')
                return lex_error(l, unterminated);
            l->pos++;
        } else if (c == q) {
            break;
        }
    }
    lex_emit(l, type);
    return L_ACTION;
}

static enum lex_state lex_bad_char(struct lexer *l, const char *what)
{
    struct sb b = {0};
    sb_puts(&b, what);
    go_rune_desc(&b, l->s + l->pos, l->n - l->pos);
    return lex_fail(l, &b);
}

static const struct {
    const char *word;
    enum tok_type type;
} keywords[] = {
    {"block", T_BLOCK},
    {"break", T_BREAK},
    {"continue", T_CONTINUE},
    {"define", T_DEFINE},
    {"else", T_ELSE},
    {"end", T_END},
    {"if", T_IF},
    {"nil", T_NIL},
    {"range", T_RANGE},
    {"template", T_TEMPLATE},
    {"with", T_WITH},
};

static enum lex_state lex_identifier(struct lexer *l)
{
    while (l->pos < l->n && is_alnum(l->s[l->pos]))
        l->pos++;
    if (!at_terminator(l))
        return lex_bad_char(l, "bad character ");
    const char *w = l->s + l->start;
    size_t n = l->pos - l->start;
    enum tok_type type = T_IDENT;
    for (size_t i = 0; i < DW_ARRAY_LEN(keywords); i++)
        if (strlen(keywords[i].word) == n && memcmp(keywords[i].word, w, n) == 0)
            type = keywords[i].type;
    if ((n == 4 && memcmp(w, "true", 4) == 0) || (n == 5 && memcmp(w, "false", 5) == 0))
        type = T_BOOL;
    lex_emit(l, type);
    return L_ACTION;
}

/* After '$' or '.': a variable or field name, or "$" / "." alone. */
static enum lex_state lex_field_or_var(struct lexer *l, enum tok_type type)
{
    if (at_terminator(l)) {
        lex_emit(l, type == T_VAR ? T_VAR : T_DOT);
        return L_ACTION;
    }
    while (l->pos < l->n && is_alnum(l->s[l->pos]))
        l->pos++;
    if (!at_terminator(l))
        return lex_bad_char(l, "bad character ");
    lex_emit(l, type);
    return L_ACTION;
}

static bool lex_accept(struct lexer *l, const char *set)
{
    int c = lex_peek(l);
    if (c > 0 && strchr(set, c)) {
        l->pos++;
        return true;
    }
    return false;
}

static void lex_accept_run(struct lexer *l, const char *set)
{
    while (lex_accept(l, set)) {
    }
}

/* Go's scanNumber: decimal, 0x/0o/0b, fractions, exponents, a trailing i. */
static bool scan_number(struct lexer *l)
{
    lex_accept(l, "+-");
    const char *digits = "0123456789_";
    if (lex_accept(l, "0")) {
        if (lex_accept(l, "xX"))
            digits = "0123456789abcdefABCDEF_";
        else if (lex_accept(l, "oO"))
            digits = "01234567_";
        else if (lex_accept(l, "bB"))
            digits = "01_";
    }
    lex_accept_run(l, digits);
    if (lex_accept(l, "."))
        lex_accept_run(l, digits);
    if (strlen(digits) == 11 && lex_accept(l, "eE")) {
        lex_accept(l, "+-");
        lex_accept_run(l, "0123456789_");
    }
    if (strlen(digits) == 23 && lex_accept(l, "pP")) {
        lex_accept(l, "+-");
        lex_accept_run(l, "0123456789_");
    }
    lex_accept(l, "i");
    if (l->pos < l->n && is_alnum(l->s[l->pos])) {
        uint32_t r; /* the message shows the whole offending rune */
        l->pos += utf8_decode(l->s + l->pos, l->n - l->pos, &r);
        return false;
    }
    return true;
}

static enum lex_state lex_number(struct lexer *l)
{
    bool ok = scan_number(l);
    if (ok && (lex_peek(l) == '+' || lex_peek(l) == '-')) /* complex: 1+2i */
        ok = scan_number(l) && l->s[l->pos - 1] == 'i';
    if (!ok) {
        struct sb b = {0};
        sb_puts(&b, "bad number syntax: ");
        go_quote(&b, l->s + l->start, l->pos - l->start, false);
        return lex_fail(l, &b);
    }
    lex_emit(l, T_NUMBER);
    return L_ACTION;
}

static enum lex_state lex_simple(struct lexer *l, enum tok_type type)
{
    lex_emit(l, type);
    return L_ACTION;
}

static enum lex_state lex_action(struct lexer *l)
{
    bool trim;
    if (at_right_delim(l, &trim))
        return l->paren == 0 ? lex_right_delim(l, trim) : lex_error(l, "unclosed left paren");
    int c = lex_peek(l);
    if (c < 0)
        return lex_error(l, "unclosed action");
    if (is_space(c))
        return lex_space(l);
    l->pos++;
    switch (c) {
    case '=': return lex_simple(l, T_ASSIGN);
    case ':':
        if (lex_peek(l) != '=')
            return lex_error(l, "expected :=");
        l->pos++;
        return lex_simple(l, T_DECLARE);
    case '|': return lex_simple(l, T_PIPE);
    case '"': return lex_quoted(l, '"', T_STRING, "unterminated quoted string");
    case '`': return lex_quoted(l, '`', T_RAWSTRING, "unterminated raw quoted string");
    case '\'': return lex_quoted(l, '\'', T_CHARCONST, "unterminated character constant");
    case '$': return lex_field_or_var(l, T_VAR);
    case '(': l->paren++; return lex_simple(l, T_LPAREN);
    case ')':
        if (l->paren > 0)
            l->paren--;
        return lex_simple(l, T_RPAREN);
    case '.':
        if (lex_peek(l) < '0' || lex_peek(l) > '9')
            return lex_field_or_var(l, T_FIELD);
        l->pos--;
        return lex_number(l);
    default: break;
    }
    l->pos--;
    if (c == '+' || c == '-' || (c >= '0' && c <= '9'))
        return lex_number(l);
    if (is_alnum(c))
        return lex_identifier(l);
    if (c >= 0x20 && c < 0x7F) {
        l->pos++;
        return lex_simple(l, T_PUNCT);
    }
    return lex_bad_char(l, "unrecognized character in action: ");
}

/* Lexes the whole text; the array always ends with T_EOF. */
static void lex_all(struct lexer *l)
{
    enum lex_state st = L_TEXT;
    while (st != L_DONE)
        st = st == L_TEXT ? lex_text(l) : lex_action(l);
}

/* ---- values ---- */

enum vkind { V_NIL, V_BOOL, V_INT, V_FLOAT, V_STRING, V_MAP, V_LIST, V_SAMPLE, V_ALERT, V_TIME };

/* Go types that share a representation here (they differ in names and checks). */
enum vsub {
    SUB_NONE,
    SUB_HTML,  /* V_STRING: html/template.HTML from safeHtml */
    SUB_ANY,   /* V_MAP: map[string]interface {} from args */
    SUB_UINT8, /* V_INT: a byte from indexing a string */
};

struct vmap;
struct vlist;
struct vsample;
struct valert;

struct value {
    enum vkind kind;
    enum vsub sub;
    /* Read from a map[string]interface {} slot by a field access: its static
     * type is interface {} until the end of the command (Go's messages say so). */
    bool boxed;
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            const char *p; /* NUL-terminated */
            size_t len;
        } s;
        const struct vmap *map;
        const struct vlist *list;
        const struct vsample *sample;
        const struct valert *alert;
        int64_t ms; /* V_TIME */
    } u;
};

/* Keys sorted bytewise, as Go's fmt and range order them. */
struct vmap {
    size_t n;
    const char **keys;
    struct value *vals;
};

struct vlist {
    size_t n;
    const struct vsample **items;
};

/* Prometheus's template.sample: {Labels map[string]string; Value float64}. */
struct vsample {
    struct vmap labels;
    double value;
};

/* What Prometheus binds to dot in alert templates. */
struct valert {
    struct vmap labels, external;
    struct value url;
    double value;
};

static const struct value nil_value = {.kind = V_NIL};

static struct value str_value(const char *p, size_t len)
{
    return (struct value){.kind = V_STRING, .u.s = {p, len}};
}

static struct value int_value(int64_t i)
{
    return (struct value){.kind = V_INT, .u.i = i};
}

static struct value float_value(double f)
{
    return (struct value){.kind = V_FLOAT, .u.f = f};
}

static struct value bool_value(bool b)
{
    return (struct value){.kind = V_BOOL, .u.b = b};
}

static const char alert_type_name[] = "struct { Labels map[string]string; ExternalLabels "
                                      "map[string]string; ExternalURL string; Value float64 }";

/* reflect.Type.String() of the Go type a value stands for. */
static const char *type_name(const struct value *v)
{
    switch (v->kind) {
    case V_NIL: return "<nil>";
    case V_BOOL: return "bool";
    case V_INT: return v->sub == SUB_UINT8 ? "uint8" : "int";
    case V_FLOAT: return "float64";
    case V_STRING: return v->sub == SUB_HTML ? "template.HTML" : "string";
    case V_MAP: return v->sub == SUB_ANY ? "map[string]interface {}" : "map[string]string";
    case V_LIST: return "template.queryResult";
    case V_SAMPLE: return "*template.sample";
    case V_ALERT: return alert_type_name;
    case V_TIME: return "*time.Time";
    }
    return "?";
}

/* Go's isTrue (text/template): the truth of if, with, and, or, not. */
static bool truth(const struct value *v)
{
    switch (v->kind) {
    case V_NIL: return false;
    case V_BOOL: return v->u.b;
    case V_INT: return v->u.i != 0;
    case V_FLOAT: return v->u.f != 0; /* NaN is true, as in Go */
    case V_STRING: return v->u.s.len > 0;
    case V_MAP: return v->u.map->n > 0;
    case V_LIST: return v->u.list->n > 0;
    default: return true;
    }
}

static const struct value *map_get(const struct vmap *m, const char *key)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->keys[mid], key);
        if (c == 0)
            return &m->vals[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- the tree ---- */

enum arg_type {
    A_DOT,
    A_NIL,
    A_BOOL,
    A_NUMBER,
    A_STRING,
    A_FIELD,
    A_VAR,
    A_IDENT,
    A_PIPE,
    A_CHAIN
};

struct func;
struct pipe;

/* One operand of a command. */
struct arg {
    enum arg_type type;
    size_t pos;
    const char *text;    /* NUMBER, STRING: as written; IDENT, VAR: the name */
    const char **fields; /* FIELD, VAR, CHAIN: .a.b */
    size_t nfields;
    struct pipe *pipe;     /* PIPE */
    struct arg *inner;     /* CHAIN: the term the fields apply to */
    const struct func *fn; /* IDENT */
    struct value lit;      /* BOOL, NUMBER, STRING */
    const char *lit_error; /* NUMBER that cannot be a value: an error when used, as in Go */
};

struct cmd {
    size_t pos;
    struct arg **args;
    size_t nargs;
};

struct pipe {
    size_t pos;
    bool is_assign;
    const char **decl; /* variables declared ($x :=) or assigned ($x =) */
    size_t ndecl;
    struct cmd **cmds;
    size_t ncmds;
};

enum node_type { N_TEXT, N_ACTION, N_IF, N_RANGE, N_WITH, N_TEMPLATE, N_BREAK, N_CONTINUE };

struct node {
    enum node_type type;
    size_t pos;
    struct node *next;
    const char *text; /* TEXT */
    size_t len;
    struct pipe *pipe;             /* ACTION, IF, RANGE, WITH, TEMPLATE (NULL: no pipeline) */
    struct node *list, *else_list; /* IF, RANGE, WITH */
    const char *name;              /* TEMPLATE */
};

/* A named template: the text itself, a {{define}} or a {{block}}. */
struct tdef {
    const char *name;
    struct node *body;
};

struct dw_tmpl {
    struct arena ar; /* everything below */
    const char *name;
    const char *text;
    size_t len;
    struct tdef *defs;
    size_t ndefs;
};

/* The variables the Prometheus alert prelude declares, after "$". */
static const char *const prelude_vars[] = {"$", "$labels", "$externalLabels", "$externalURL",
                                           "$value"};

/* ---- writing the tree back as text (Go's Node.String, for messages) ---- */

static void pipe_string(struct sb *b, const struct pipe *p);

static void fields_string(struct sb *b, const char *const *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sb_putc(b, '.');
        sb_puts(b, fields[i]);
    }
}

static void arg_string(struct sb *b, const struct arg *a)
{
    switch (a->type) {
    case A_DOT: sb_putc(b, '.'); break;
    case A_NIL: sb_puts(b, "nil"); break;
    case A_BOOL: sb_puts(b, a->lit.u.b ? "true" : "false"); break;
    case A_NUMBER:
    case A_STRING:
    case A_IDENT: sb_puts(b, a->text); break;
    case A_FIELD: fields_string(b, a->fields, a->nfields); break;
    case A_VAR:
        sb_puts(b, a->text);
        fields_string(b, a->fields, a->nfields);
        break;
    case A_PIPE: pipe_string(b, a->pipe); break;
    case A_CHAIN:
        if (a->inner->type == A_PIPE)
            sb_putc(b, '(');
        arg_string(b, a->inner);
        if (a->inner->type == A_PIPE)
            sb_putc(b, ')');
        fields_string(b, a->fields, a->nfields);
        break;
    }
}

static void cmd_string(struct sb *b, const struct cmd *c)
{
    for (size_t i = 0; i < c->nargs; i++) {
        if (i)
            sb_putc(b, ' ');
        bool paren = c->args[i]->type == A_PIPE;
        if (paren)
            sb_putc(b, '(');
        arg_string(b, c->args[i]);
        if (paren)
            sb_putc(b, ')');
    }
}

static void pipe_string(struct sb *b, const struct pipe *p)
{
    for (size_t i = 0; i < p->ndecl; i++) {
        if (i)
            sb_puts(b, ", ");
        sb_puts(b, p->decl[i]);
    }
    if (p->ndecl)
        sb_puts(b, " := ");
    for (size_t i = 0; i < p->ncmds; i++) {
        if (i)
            sb_puts(b, " | ");
        cmd_string(b, p->cmds[i]);
    }
}

static void template_node_string(struct sb *b, const struct node *n)
{
    sb_puts(b, "{{template ");
    go_quote(b, n->name, strlen(n->name), false);
    if (n->pipe) {
        sb_putc(b, ' ');
        pipe_string(b, n->pipe);
    }
    sb_puts(b, "}}");
}

/* Line (1-based) and column (0-based byte offset, as Go's ErrorContext) of pos. */
static void line_col(const char *s, size_t pos, int *line, int *col)
{
    int ln = 1;
    size_t bol = 0;
    for (size_t i = 0; i < pos; i++)
        if (s[i] == '\n') {
            ln++;
            bol = i + 1;
        }
    *line = ln;
    *col = (int)(pos - bol);
}

/* ---- Go string and character literals (strconv.Unquote) ---- */

/*
 * One possibly escaped character of a literal quoted with q (strconv.UnquoteChar).
 * *is_byte: \x and octal escapes give a raw byte, not a rune. Returns the
 * bytes consumed, 0 on a syntax error.
 */
static size_t unquote_char(const char *s, size_t n, char q, uint32_t *r, bool *is_byte)
{
    *is_byte = false;
    if (n == 0 || s[0] == q)
        return 0;
    if (s[0] != '\\')
        return utf8_decode(s, n, r);
    if (n < 2)
        return 0;
    static const char simple[] = "a\ab\bf\fn\nr\rt\tv\v\\\\";
    for (size_t i = 0; i + 1 < sizeof simple; i += 2)
        if (s[1] == simple[i]) {
            *r = (unsigned char)simple[i + 1];
            return 2;
        }
    if (s[1] == '\'' || s[1] == '"') {
        *r = (unsigned char)s[1];
        return s[1] == q ? 2 : 0;
    }
    size_t digits = s[1] == 'x' ? 2 : s[1] == 'u' ? 4 : s[1] == 'U' ? 8 : 0;
    if (digits) {
        if (n < 2 + digits)
            return 0;
        uint32_t v = 0;
        for (size_t i = 0; i < digits; i++) {
            int d = dw_hex_digit(s[2 + i]);
            if (d < 0)
                return 0;
            v = v << 4 | (uint32_t)d;
        }
        if (digits > 2 && (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)))
            return 0;
        *r = v;
        *is_byte = digits == 2;
        return 2 + digits;
    }
    if (s[1] >= '0' && s[1] <= '7') {
        if (n < 4)
            return 0;
        uint32_t v = 0;
        for (size_t i = 1; i <= 3; i++) {
            if (s[i] < '0' || s[i] > '7')
                return 0;
            v = v * 8 + (uint32_t)(s[i] - '0');
        }
        if (v > 255)
            return 0;
        *r = v;
        *is_byte = true;
        return 4;
    }
    return 0;
}

/* Unquotes a "..." or `...` token into b; false on a syntax error. */
static bool unquote_string(struct sb *b, const char *s, size_t n)
{
    if (s[0] == '`') {
        for (size_t i = 1; i + 1 < n; i++)
            if (s[i] != '\r')
                sb_putc(b, s[i]);
        return true;
    }
    sb_put(b, "", 0);
    for (size_t i = 1; i + 1 < n;) {
        uint32_t r;
        bool is_byte;
        size_t w = unquote_char(s + i, n - 1 - i, '"', &r, &is_byte);
        if (w == 0)
            return false;
        if (s[i] != '\\')
            sb_put(b, s + i, w);
        else if (is_byte)
            sb_putc(b, (char)r);
        else
            sb_put_rune(b, r);
        i += w;
    }
    return true;
}

/* ---- parser: Go's text/template/parse/parse.go ---- */

static const struct func *func_lookup(const char *name);

struct parser {
    const char *name; /* of the template, for messages */
    const char *s;
    const struct tok *toks;
    size_t ntoks;
    size_t i;          /* next token */
    size_t far;        /* the furthest token looked at: errors point at it, as in Go */
    size_t act_line;   /* line of the action being parsed, 0 outside one */
    struct arena *ar;  /* the template's */
    const char **vars; /* variables in scope (heap); lookups stop at var_base */
    size_t nvars, capvars, var_base;
    int range_depth, nesting;
    struct dw_tmpl *t;
    jmp_buf jb;
    char *err;
    size_t errcap;
};

enum stop { STOP_NONE, STOP_END, STOP_ELSE };

static void *palloc(struct parser *p, size_t n)
{
    void *m = arena_try(p->ar, n); /* the template's arena has no maximum */
    memset(m, 0, n);
    return m;
}

static char *pstrndup(struct parser *p, const char *s, size_t n)
{
    char *d = palloc(p, n + 1);
    memcpy(d, s, n);
    return d;
}

/* Appends item to an arena array of pointers whose capacity follows from n. */
static void *push_ptr(struct parser *p, void *arr, size_t n, const void *item)
{
    const void **a = arr;
    if (n == 0 || (n >= 4 && (n & (n - 1)) == 0)) {
        const void **na = palloc(p, (n ? n * 2 : 4) * sizeof *na);
        if (n)
            memcpy(na, a, n * sizeof *a);
        a = na;
    }
    a[n] = item;
    return a;
}

/* Raises "template: NAME:LINE:COL: <msg>" at byte pos; frees msg. */
DW_NORETURN static void parse_fail_at(struct parser *p, size_t pos, struct sb *msg)
{
    int line, col;
    line_col(p->s, pos, &line, &col);
    snprintf(p->err, p->errcap, "template: %s:%d:%d: %s", p->name, line, col, msg->p ? msg->p : "");
    free(msg->p);
    longjmp(p->jb, 1);
}

/* At the furthest token read, as Go reports a parse error's line. */
DW_NORETURN static void parse_fail_sb(struct parser *p, struct sb *msg)
{
    size_t i = p->far < p->ntoks ? p->far : p->ntoks - 1;
    parse_fail_at(p, p->toks[i].pos, msg);
}

DW_NORETURN static void parse_fail(struct parser *p, const char *fmt, ...) DW_PRINTF(2, 3);
DW_NORETURN static void parse_fail(struct parser *p, const char *fmt, ...)
{
    struct sb b = {0};
    va_list ap;
    va_start(ap, fmt);
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sb_puts(&b, msg);
    parse_fail_sb(p, &b);
}

static const char *tok_text(const struct parser *p, const struct tok *t)
{
    return p->s + t->pos;
}

static void look(struct parser *p, size_t i)
{
    if (i > p->far)
        p->far = i;
}

static const struct tok *next(struct parser *p)
{
    look(p, p->i);
    const struct tok *t = &p->toks[p->i < p->ntoks ? p->i : p->ntoks - 1];
    p->i++;
    return t;
}

static void backup(struct parser *p)
{
    p->i--;
}

static const struct tok *peek(struct parser *p)
{
    look(p, p->i);
    return &p->toks[p->i < p->ntoks ? p->i : p->ntoks - 1];
}

static const struct tok *next_non_space(struct parser *p)
{
    const struct tok *t;
    do
        t = next(p);
    while (t->type == T_SPACE);
    return t;
}

static const struct tok *peek_non_space(struct parser *p)
{
    const struct tok *t = next_non_space(p);
    backup(p);
    return t;
}

/* Go's item.String(). */
static void tok_desc(struct sb *b, const struct parser *p, const struct tok *t)
{
    if (t->type == T_EOF) {
        sb_puts(b, "EOF");
    } else if (t->type > T_KEYWORD) {
        sb_putc(b, '<');
        sb_put(b, tok_text(p, t), t->len);
        sb_putc(b, '>');
    } else if (utf8_count(tok_text(p, t), t->len) > 10) {
        go_quote_trunc(b, tok_text(p, t), t->len, 10);
        sb_puts(b, "...");
    } else {
        go_quote(b, tok_text(p, t), t->len, false);
    }
}

DW_NORETURN static void unexpected(struct parser *p, const struct tok *t, const char *context)
{
    struct sb b = {0};
    if (t->type == T_ERROR) {
        sb_puts(&b, t->msg);
        int line, col;
        line_col(p->s, t->pos, &line, &col);
        size_t n = strlen(t->msg);
        bool action = n >= 7 && strcmp(t->msg + n - 7, " action") == 0; /* no "action in action" */
        if (p->act_line && (size_t)line != p->act_line)
            sb_printf(&b, "%s started at %s:%zu", action ? "" : " in action", p->name, p->act_line);
    } else {
        sb_puts(&b, "unexpected ");
        tok_desc(&b, p, t);
        sb_printf(&b, " in %s", context);
    }
    parse_fail_sb(p, &b);
}

static const struct tok *expect(struct parser *p, enum tok_type type, const char *context)
{
    const struct tok *t = next_non_space(p);
    if (t->type != type)
        unexpected(p, t, context);
    return t;
}

static void nest_enter(struct parser *p)
{
    if (++p->nesting > DW_TMPL_MAX_NESTING)
        parse_fail(p, "max expression depth exceeded");
}

static void push_var(struct parser *p, const char *name)
{
    p->vars = dw_grow(p->vars, &p->capvars, p->nvars + 1, sizeof *p->vars);
    p->vars[p->nvars++] = name;
}

static void use_var(struct parser *p, const char *name, size_t pos)
{
    for (size_t i = p->var_base; i < p->nvars; i++)
        if (strcmp(p->vars[i], name) == 0)
            return;
    struct sb b = {0};
    sb_puts(&b, "undefined variable ");
    go_quote(&b, name, strlen(name), false);
    parse_fail_at(p, pos, &b);
}

static struct pipe *parse_pipeline(struct parser *p, const char *context, enum tok_type end);

static bool has_any(const char *s, const char *set)
{
    return strpbrk(s, set) != NULL;
}

/* Go's newNumber and idealConstant: ints stay int, ".eEpP" make a float64. */
/* *ok: s is an int64; *uint_only: s is a uint64 too big for int64. */
static void parse_int_literal(const char *s, bool *ok, bool *uint_only, int64_t *out)
{
    bool neg = *s == '-';
    if (*s == '+' || *s == '-')
        s++;
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        base = 16, s += 2;
    else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
        base = 8, s += 2;
    else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
        base = 2, s += 2;
    else if (s[0] == '0' && s[1])
        base = 8, s += 1;
    *ok = *uint_only = false;
    if (!*s || *s == '-' || *s == '+')
        return;
    char *end;
    errno = 0;
    unsigned long long u = strtoull(s, &end, base);
    if (*end || errno)
        return;
    if (u > (neg ? (unsigned long long)INT64_MAX + 1 : (unsigned long long)INT64_MAX)) {
        *uint_only = !neg;
        return;
    }
    *ok = true;
    *out = neg ? (int64_t)(0 - u) : (int64_t)u;
}

/* Raises "<what>\"<the number as written>\"". */
DW_NORETURN static void number_fail(struct parser *p, const char *what, const char *text)
{
    struct sb m = {0};
    sb_puts(&m, what);
    go_quote(&m, text, strlen(text), false);
    parse_fail_sb(p, &m);
}

/* 'x', '\n', '\u00e9': an int (a rune). */
static void parse_char_const(struct parser *p, const struct tok *t, struct arg *a)
{
    uint32_t r;
    bool is_byte;
    size_t w = unquote_char(a->text + 1, t->len - 2, '\'', &r, &is_byte);
    if (w == 0)
        parse_fail(p, "invalid syntax");
    if (w != t->len - 2)
        parse_fail(p, "malformed character constant: %s", a->text);
    a->lit = int_value(r);
}

static void parse_number(struct parser *p, const struct tok *t, struct arg *a)
{
    const char *text = a->text;
    char *clean = pstrndup(p, text, t->len), *w = clean;
    for (const char *r = text; *r; r++)
        if (*r != '_')
            *w++ = *r;
    *w = '\0';
    if (text[t->len - 1] == 'i') {
        a->lit_error = "complex numbers are not supported";
        return;
    }
    bool hex_int = clean[0] == '0' && (clean[1] == 'x' || clean[1] == 'X') && !has_any(clean, "pP");
    bool is_float = has_any(clean, ".eEpP") && !hex_int;
    bool ok, uint_only;
    int64_t i;
    parse_int_literal(clean, &ok, &uint_only, &i);
    if (ok && !is_float) {
        a->lit = int_value(i);
        return;
    }
    if (uint_only && !is_float) {
        a->lit_error = "overflows int";
        return;
    }
    char *end;
    double f = strtod(clean, &end);
    if (*end || end == clean || isinf(f)) /* overflow is a syntax error; underflow is 0 */
        number_fail(p, "illegal number syntax: ", text);
    if (!is_float)
        number_fail(p, "integer overflow: ", text);
    a->lit = float_value(f);
}

static struct arg *new_arg(struct parser *p, enum arg_type type, const struct tok *t)
{
    struct arg *a = palloc(p, sizeof *a);
    a->type = type;
    a->pos = t->pos;
    a->text = pstrndup(p, tok_text(p, t), t->len);
    return a;
}

static struct arg *parse_term(struct parser *p)
{
    const struct tok *t = next_non_space(p);
    struct arg *a;
    switch (t->type) {
    case T_IDENT:
        a = new_arg(p, A_IDENT, t);
        if (!(a->fn = func_lookup(a->text))) {
            struct sb b = {0};
            sb_puts(&b, "function ");
            go_quote(&b, a->text, strlen(a->text), false);
            sb_puts(&b, " not defined");
            parse_fail_at(p, t->pos, &b);
        }
        return a;
    case T_DOT: return new_arg(p, A_DOT, t);
    case T_NIL: return new_arg(p, A_NIL, t);
    case T_VAR:
        a = new_arg(p, A_VAR, t);
        use_var(p, a->text, t->pos);
        return a;
    case T_FIELD:
        a = new_arg(p, A_FIELD, t);
        a->fields = push_ptr(p, NULL, 0, a->text + 1);
        a->nfields = 1;
        return a;
    case T_BOOL:
        a = new_arg(p, A_BOOL, t);
        a->lit = bool_value(a->text[0] == 't');
        return a;
    case T_CHARCONST:
    case T_NUMBER:
        a = new_arg(p, A_NUMBER, t);
        if (t->type == T_CHARCONST)
            parse_char_const(p, t, a);
        else
            parse_number(p, t, a);
        return a;
    case T_LPAREN:
        a = new_arg(p, A_PIPE, t);
        a->pipe = parse_pipeline(p, "parenthesized pipeline", T_RPAREN);
        a->pos = a->pipe->pos;
        return a;
    case T_STRING:
    case T_RAWSTRING: {
        a = new_arg(p, A_STRING, t);
        struct sb b = {0};
        if (!unquote_string(&b, a->text, t->len)) {
            free(b.p);
            parse_fail(p, "invalid syntax");
        }
        const char *v = pstrndup(p, b.p ? b.p : "", b.len);
        a->lit = str_value(v, b.len);
        free(b.p);
        return a;
    }
    default: backup(p); return NULL;
    }
}

static struct arg *parse_operand(struct parser *p)
{
    struct arg *a = parse_term(p);
    if (!a || peek(p)->type != T_FIELD)
        return a;
    size_t pos = peek(p)->pos;
    if (a->type == A_BOOL || a->type == A_STRING || a->type == A_NUMBER || a->type == A_NIL ||
        a->type == A_DOT) {
        struct sb b = {0};
        struct sb term = {0};
        arg_string(&term, a);
        sb_puts(&b, "unexpected . after term ");
        go_quote(&b, term.p, term.len, false);
        free(term.p);
        parse_fail_sb(p, &b);
    }
    if (a->type != A_FIELD && a->type != A_VAR) {
        struct arg *chain = palloc(p, sizeof *chain);
        chain->type = A_CHAIN;
        chain->inner = a;
        a = chain;
    }
    while (peek(p)->type == T_FIELD) {
        const struct tok *f = next(p);
        a->fields =
            push_ptr(p, a->fields, a->nfields++, pstrndup(p, tok_text(p, f) + 1, f->len - 1));
    }
    a->pos = pos;
    return a;
}

static struct cmd *parse_command(struct parser *p)
{
    struct cmd *c = palloc(p, sizeof *c);
    c->pos = peek_non_space(p)->pos;
    for (;;) {
        peek_non_space(p);
        struct arg *a = parse_operand(p);
        if (a)
            c->args = push_ptr(p, c->args, c->nargs++, a);
        const struct tok *t = next(p);
        if (t->type == T_SPACE)
            continue;
        if (t->type == T_RIGHT || t->type == T_RPAREN)
            backup(p);
        else if (t->type != T_PIPE)
            unexpected(p, t, "operand");
        break;
    }
    if (c->nargs == 0)
        parse_fail(p, "empty command");
    return c;
}

static void check_pipeline(struct parser *p, const struct pipe *pp, const char *context)
{
    if (pp->ncmds == 0)
        parse_fail(p, "missing value for %s", context);
    for (size_t i = 1; i < pp->ncmds; i++) {
        enum arg_type t = pp->cmds[i]->args[0]->type;
        if (t == A_BOOL || t == A_DOT || t == A_NIL || t == A_NUMBER || t == A_STRING)
            parse_fail(p, "non executable command in pipeline stage %zu", i + 1);
    }
}

static bool operand_start(enum tok_type t)
{
    return t == T_BOOL || t == T_CHARCONST || t == T_DOT || t == T_FIELD || t == T_IDENT ||
           t == T_NUMBER || t == T_NIL || t == T_RAWSTRING || t == T_STRING || t == T_VAR ||
           t == T_LPAREN;
}

/* "$x :=", "$x =", "$i, $e :=" (range only) before a pipeline. */
static void parse_decls(struct parser *p, struct pipe *pp, const char *context)
{
    for (;;) {
        if (peek_non_space(p)->type != T_VAR)
            return;
        size_t at = p->i;
        const struct tok *v = next(p);
        const struct tok *nx = peek_non_space(p);
        bool comma = nx->type == T_PUNCT && tok_text(p, nx)[0] == ',';
        if (nx->type != T_ASSIGN && nx->type != T_DECLARE && !comma) {
            p->i = at; /* an operand after all */
            return;
        }
        next_non_space(p);
        pp->is_assign = nx->type == T_ASSIGN;
        const char *name = pstrndup(p, tok_text(p, v), v->len);
        pp->decl = push_ptr(p, pp->decl, pp->ndecl++, name);
        push_var(p, name);
        if (!comma)
            return;
        if (strcmp(context, "range") != 0 || pp->ndecl >= 2)
            parse_fail(p, "too many declarations in %s", context);
        enum tok_type t = peek_non_space(p)->type;
        if (t != T_VAR && t != T_RIGHT && t != T_RPAREN)
            parse_fail(p, "range can only initialize variables");
    }
}

static struct pipe *parse_pipeline(struct parser *p, const char *context, enum tok_type end)
{
    nest_enter(p);
    struct pipe *pp = palloc(p, sizeof *pp);
    pp->pos = peek_non_space(p)->pos;
    parse_decls(p, pp, context);
    for (;;) {
        const struct tok *t = next_non_space(p);
        if (t->type == end)
            break;
        if (!operand_start(t->type))
            unexpected(p, t, context);
        backup(p);
        pp->cmds = push_ptr(p, pp->cmds, pp->ncmds++, parse_command(p));
    }
    check_pipeline(p, pp, context);
    p->nesting--;
    return pp;
}

static struct node *new_node(struct parser *p, enum node_type type, size_t pos)
{
    struct node *n = palloc(p, sizeof *n);
    n->type = type;
    n->pos = pos;
    return n;
}

static struct node *parse_list(struct parser *p, enum stop *stop);

static struct node *parse_control(struct parser *p, enum node_type type, const char *context)
{
    size_t mark = p->nvars;
    nest_enter(p);
    struct pipe *pipe = parse_pipeline(p, context, T_RIGHT);
    struct node *n = new_node(p, type, pipe->pos);
    n->pipe = pipe;
    enum stop stop;
    p->range_depth += type == N_RANGE;
    n->list = parse_list(p, &stop);
    p->range_depth -= type == N_RANGE;
    if (stop == STOP_ELSE) {
        if (type == N_IF && peek(p)->type == T_IF) {
            next(p); /* {{else if}}: one {{end}} closes the chain */
            n->else_list = parse_control(p, N_IF, "if");
        } else {
            n->else_list = parse_list(p, &stop);
            if (stop != STOP_END)
                parse_fail(p, "expected end; found {{else}}");
        }
    }
    p->nvars = mark;
    p->nesting--;
    return n;
}

static const char *parse_template_name(struct parser *p, const struct tok *t, const char *context)
{
    if (t->type != T_STRING && t->type != T_RAWSTRING)
        unexpected(p, t, context);
    struct sb b = {0};
    if (!unquote_string(&b, tok_text(p, t), t->len)) {
        free(b.p);
        parse_fail(p, "invalid syntax");
    }
    const char *name = pstrndup(p, b.p ? b.p : "", b.len);
    free(b.p);
    return name;
}

/* Go's IsEmptyTree: only white space. */
static bool list_is_empty(const struct node *n)
{
    for (; n; n = n->next) {
        if (n->type != N_TEXT)
            return false;
        for (size_t i = 0; i < n->len; i++)
            if (!is_space(n->text[i]) && n->text[i] != '\v' && n->text[i] != '\f')
                return false;
    }
    return true;
}

/* Go's Tree.add: a name is defined once, an empty body yielding to a full one.
 * The template itself is never empty: Prometheus puts its prelude in it. */
static void add_def(struct parser *p, const char *name, struct node *body, bool prelude)
{
    struct dw_tmpl *t = p->t;
    for (size_t i = 0; i < t->ndefs; i++) {
        if (strcmp(t->defs[i].name, name) != 0)
            continue;
        if (list_is_empty(t->defs[i].body))
            t->defs[i].body = body;
        else if (prelude || !list_is_empty(body)) {
            struct sb b = {0};
            sb_puts(&b, "template: multiple definition of template ");
            go_quote(&b, name, strlen(name), false);
            parse_fail_sb(p, &b);
        }
        return;
    }
    struct tdef *defs = palloc(p, (t->ndefs + 1) * sizeof *defs);
    if (t->ndefs)
        memcpy(defs, t->defs, t->ndefs * sizeof *defs);
    defs[t->ndefs++] = (struct tdef){name, body};
    t->defs = defs;
}

/* The body of {{define}} or {{block}}: its own variable scope, "$" only. */
static void parse_definition(struct parser *p, const char *name, const char *context)
{
    size_t mark = p->nvars, base = p->var_base;
    int range_depth = p->range_depth;
    p->var_base = p->nvars;
    p->range_depth = 0;
    push_var(p, "$");
    enum stop stop;
    struct node *body = parse_list(p, &stop);
    if (stop != STOP_END)
        parse_fail(p, "unexpected {{else}} in %s", context);
    p->nvars = mark;
    p->var_base = base;
    p->range_depth = range_depth;
    add_def(p, name, body, false);
}

static struct node *parse_template_call(struct parser *p, bool block)
{
    const char *context = block ? "block clause" : "template clause";
    const struct tok *t = next_non_space(p);
    struct node *n = new_node(p, N_TEMPLATE, t->pos);
    n->name = parse_template_name(p, t, context);
    if (block) {
        n->pipe = parse_pipeline(p, context, T_RIGHT);
        parse_definition(p, n->name, context);
    } else if (next_non_space(p)->type != T_RIGHT) {
        backup(p);
        n->pipe = parse_pipeline(p, context, T_RIGHT);
    }
    return n;
}

static struct node *parse_loop_control(struct parser *p, const struct tok *kw)
{
    bool brk = kw->type == T_BREAK;
    const struct tok *t = next_non_space(p);
    if (t->type != T_RIGHT)
        unexpected(p, t, brk ? "{{break}}" : "{{continue}}");
    if (p->range_depth == 0)
        parse_fail(p, "{{%s}} outside {{range}}", brk ? "break" : "continue");
    return new_node(p, brk ? N_BREAK : N_CONTINUE, kw->pos);
}

/* After "{{": one action, or the end/else that stops the enclosing list. */
static struct node *parse_action(struct parser *p, enum stop *stop)
{
    const struct tok *t = next_non_space(p);
    switch (t->type) {
    case T_BLOCK: return parse_template_call(p, true);
    case T_BREAK:
    case T_CONTINUE: return parse_loop_control(p, t);
    case T_ELSE:
        if (peek_non_space(p)->type != T_IF) /* else the "if" stays for parse_control */
            expect(p, T_RIGHT, "else");
        *stop = STOP_ELSE;
        return NULL;
    case T_END:
        expect(p, T_RIGHT, "end");
        *stop = STOP_END;
        return NULL;
    case T_IF: return parse_control(p, N_IF, "if");
    case T_RANGE: return parse_control(p, N_RANGE, "range");
    case T_TEMPLATE: return parse_template_call(p, false);
    case T_WITH: return parse_control(p, N_WITH, "with");
    default: break;
    }
    backup(p);
    struct node *n = new_node(p, N_ACTION, peek(p)->pos);
    n->pipe = parse_pipeline(p, "command", T_RIGHT);
    return n;
}

static struct node *parse_text_or_action(struct parser *p, enum stop *stop)
{
    const struct tok *t = next_non_space(p);
    if (t->type == T_TEXT) {
        struct node *n = new_node(p, N_TEXT, t->pos);
        n->text = tok_text(p, t);
        n->len = t->len;
        return n;
    }
    if (t->type != T_LEFT)
        unexpected(p, t, "input");
    size_t outer = p->act_line;
    int line, col;
    line_col(p->s, t->pos, &line, &col);
    p->act_line = (size_t)line;
    struct node *n = parse_action(p, stop);
    p->act_line = outer;
    return n;
}

/* Nodes up to {{end}} or {{else}} (which *stop tells). */
static struct node *parse_list(struct parser *p, enum stop *stop)
{
    struct node *head = NULL, **tail = &head;
    while (peek_non_space(p)->type != T_EOF) {
        *stop = STOP_NONE;
        struct node *n = parse_text_or_action(p, stop);
        if (*stop != STOP_NONE)
            return head;
        *tail = n;
        tail = &n->next;
    }
    next(p);
    parse_fail(p, "unexpected EOF");
}

static void parse_define(struct parser *p)
{
    const struct tok *t = next_non_space(p);
    if (t->type != T_STRING && t->type != T_RAWSTRING)
        unexpected(p, t, "define clause");
    const char *name = parse_template_name(p, t, "define clause");
    expect(p, T_RIGHT, "define clause");
    parse_definition(p, name, "define clause");
}

/* The whole text: top-level {{define}}s and the template's own body. */
static void parse_top(struct parser *p)
{
    for (size_t i = 0; i < DW_ARRAY_LEN(prelude_vars); i++)
        push_var(p, prelude_vars[i]);
    struct node *head = NULL, **tail = &head;
    while (peek(p)->type != T_EOF) {
        if (peek(p)->type == T_LEFT) {
            size_t at = p->i;
            next(p);
            if (next_non_space(p)->type == T_DEFINE) {
                parse_define(p);
                continue;
            }
            p->i = at;
        }
        enum stop stop = STOP_NONE;
        struct node *n = parse_text_or_action(p, &stop);
        if (stop != STOP_NONE)
            parse_fail(p, "unexpected {{%s}}", stop == STOP_END ? "end" : "else");
        *tail = n;
        tail = &n->next;
    }
    add_def(p, p->name, head, true);
}

/* ---- numbers as Go formats them (strconv.AppendFloat) ---- */

/* The shortest digits that read back as v (finite, > 0), and where the point goes. */
static size_t shortest_digits(double v, char digits[24], int *dp)
{
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    size_t nd = 0;
    const char *s = buf;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9')
            digits[nd++] = *s;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';
    *dp = (int)strtol(s + 1, NULL, 10) + 1;
    return nd;
}

/* %v and %g without precision: shortest digits, exponent form outside [1e-4, 1e6). */
static void go_g_shortest(struct sb *b, double v, bool upper)
{
    if (signbit(v)) {
        sb_putc(b, '-');
        v = -v;
    }
    if (v == 0) {
        sb_putc(b, '0');
        return;
    }
    char d[24];
    int dp;
    size_t nd = shortest_digits(v, d, &dp);
    int exp = dp - 1;
    if (exp < -4 || exp >= 6) {
        sb_putc(b, d[0]);
        if (nd > 1) {
            sb_putc(b, '.');
            sb_put(b, d + 1, nd - 1);
        }
        sb_printf(b, "%c%c%02d", upper ? 'E' : 'e', exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (dp <= 0) {
        sb_puts(b, "0.");
        sb_fill(b, '0', (size_t)-dp);
        sb_put(b, d, nd);
    } else if ((size_t)dp >= nd) {
        sb_put(b, d, nd);
        sb_fill(b, '0', (size_t)dp - nd);
    } else {
        sb_put(b, d, (size_t)dp);
        sb_putc(b, '.');
        sb_put(b, d + dp, nd - (size_t)dp);
    }
}

/* %x: Go's hexadecimal mantissa and binary exponent, "-0x1.8p+01" (strconv's fmtX). */
static void go_hex_float(struct sb *b, double v, char verb, int prec)
{
    uint64_t bits, mant;
    memcpy(&bits, &v, sizeof bits);
    int exp = (int)(bits >> 52 & 0x7FF);
    mant = bits & ((UINT64_C(1) << 52) - 1);
    if (exp == 0)
        exp++; /* subnormal */
    else
        mant |= UINT64_C(1) << 52;
    exp -= 1023;
    if (mant == 0)
        exp = 0;
    mant <<= 8; /* the leading 1 at bit 60 */
    for (; mant && !(mant & (UINT64_C(1) << 60)); mant <<= 1)
        exp--;
    if (prec >= 0 && prec < 15) {
        unsigned shift = (unsigned)prec * 4;
        uint64_t extra = (mant << shift) & ((UINT64_C(1) << 60) - 1);
        mant >>= 60 - shift;
        if ((extra | (mant & 1)) > UINT64_C(1) << 59)
            mant++;
        mant <<= 60 - shift;
        if (mant & (UINT64_C(1) << 61)) { /* rounded up to 2 */
            mant >>= 1;
            exp++;
        }
    }
    const char *hex = verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    if (bits >> 63)
        sb_putc(b, '-');
    sb_putc(b, '0');
    sb_putc(b, verb);
    sb_putc(b, (char)('0' + (mant >> 60 & 1)));
    mant <<= 4;
    if ((prec < 0 && mant) || prec > 0)
        sb_putc(b, '.');
    for (int i = 0; prec < 0 ? mant != 0 : i < prec; i++, mant <<= 4)
        sb_putc(b, hex[mant >> 60 & 15]);
    sb_printf(b, "%c%c%02d", verb == 'X' ? 'P' : 'p', exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
}

/* %b: decimal mantissa and binary exponent, "4503599627370496p-52". */
static void go_binary_float(struct sb *b, double v)
{
    if (signbit(v))
        sb_putc(b, '-');
    v = fabs(v);
    uint64_t mant;
    int exp;
    if (v < 2.2250738585072014e-308) { /* zero and subnormals */
        memcpy(&mant, &v, sizeof mant);
        mant &= (UINT64_C(1) << 52) - 1;
        exp = -1074;
    } else {
        int e;
        double fr = frexp(v, &e);
        mant = (uint64_t)ldexp(fr, 53);
        exp = e - 53;
    }
    sb_printf(b, "%" PRIu64 "p%c%d", mant, exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
}

/* strconv.AppendFloat(v, verb, prec): '-' only for negatives, "+Inf", "NaN". */
static void go_ftoa(struct sb *b, double v, char verb, int prec)
{
    if (isnan(v)) {
        sb_puts(b, "NaN");
        return;
    }
    if (isinf(v)) {
        sb_puts(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    switch (verb) {
    case 'e': sb_printf(b, "%.*e", prec, v); return;
    case 'E': sb_printf(b, "%.*E", prec, v); return;
    case 'f': sb_printf(b, "%.*f", prec, v); return;
    case 'x':
    case 'X': go_hex_float(b, v, verb, prec); return;
    case 'b': go_binary_float(b, v); return;
    default: break;
    }
    if (prec >= 0)
        sb_printf(b, verb == 'G' ? "%.*G" : "%.*g", prec, v);
    else
        go_g_shortest(b, v, verb == 'G');
}

/* fmt.Sprint(v) for a float64: %v. */
static void go_float_v(struct sb *b, double v)
{
    go_ftoa(b, v, 'g', -1);
}

/* ---- time as Go's time.Time.String() shows it, in UTC ---- */

/* "2015-06-23 13:19:44.128 +0000 UTC" */
static void go_time_string(struct sb *b, int64_t ms)
{
    int64_t secs = ms / 1000, rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        secs--;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t y;
    int m, d;
    dw_civil_from_days(days, &y, &m, &d);
    if (y < 0)
        sb_putc(b, '-');
    sb_printf(b, "%04" PRId64 "-%02d-%02d %02d:%02d:%02d", y < 0 ? -y : y, m, d, (int)(sod / 3600),
              (int)(sod / 60 % 60), (int)(sod % 60));
    if (rem) {
        char frac[8];
        snprintf(frac, sizeof frac, ".%03d", (int)rem);
        size_t n = strlen(frac);
        while (frac[n - 1] == '0')
            n--;
        sb_put(b, frac, n);
    }
    sb_puts(b, " +0000 UTC");
}

/* ---- Go's fmt: printf verbs and flags, Sprint, Sprintln ---- */

DW_NORETURN static void exec_fail(struct exec *x, const char *fmt, ...) DW_PRINTF(2, 3);

struct fmtspec {
    bool minus, plus, sharp, space, zero;
    bool plus_v, sharp_v; /* %+v, %#v */
    bool wid_present, prec_present;
    int wid, prec;
};

static void fmt_arg(struct sb *b, struct fmtspec *f, const struct value *v, uint32_t verb,
                    int depth);

/* Pads to the width in runes: spaces, or zeros with the 0 flag. */
static void fmt_pad(struct sb *b, const struct fmtspec *f, const char *s, size_t n)
{
    size_t runes = f->wid_present ? utf8_count(s, n) : 0;
    size_t pad = f->wid_present && (size_t)f->wid > runes ? (size_t)f->wid - runes : 0;
    if (!f->minus)
        sb_fill(b, f->zero ? '0' : ' ', pad);
    sb_put(b, s, n);
    if (f->minus)
        sb_fill(b, ' ', pad);
}

/* Pads without the 0 flag (numbers did their own zero padding). */
static void fmt_pad_nozero(struct sb *b, const struct fmtspec *f, const char *s, size_t n)
{
    struct fmtspec g = *f;
    g.zero = false;
    fmt_pad(b, &g, s, n);
}

static void bad_verb(struct sb *b, struct fmtspec *f, const struct value *v, uint32_t verb)
{
    sb_puts(b, "%!");
    sb_put_rune(b, verb);
    sb_putc(b, '(');
    if (v->kind == V_NIL) {
        sb_puts(b, "<nil>");
    } else {
        sb_puts(b, type_name(v));
        sb_putc(b, '=');
        fmt_arg(b, f, v, 'v', 0);
    }
    sb_putc(b, ')');
}

static void fmt_integer(struct sb *b, const struct fmtspec *f, uint64_t u, bool is_signed, int base,
                        uint32_t verb, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEFX" : "0123456789abcdefx";
    bool neg = is_signed && (int64_t)u < 0;
    if (neg)
        u = 0 - u;
    int prec = 0;
    if (f->prec_present) {
        prec = f->prec;
        if (prec == 0 && u == 0) {
            fmt_pad_nozero(b, f, "", 0);
            return;
        }
    } else if (f->zero && f->wid_present) {
        prec = f->wid - (neg || f->plus || f->space);
    }
    char tmp[80];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = digits[u % (unsigned)base];
        u /= (unsigned)base;
    } while (u);
    struct sb out = {.x = b->x};
    size_t nd = sizeof tmp - i;
    if (verb == 'O')
        sb_puts(&out, "0o");
    if (f->sharp && base == 2)
        sb_puts(&out, "0b");
    else if (f->sharp && base == 16) {
        sb_putc(&out, '0');
        sb_putc(&out, digits[16]);
    } else if (f->sharp && base == 8 && tmp[i] != '0' && (size_t)prec <= nd)
        sb_putc(&out, '0'); /* an octal 0 prefix unless zeros lead already */
    if (prec > 0 && (size_t)prec > nd)
        sb_fill(&out, '0', (size_t)prec - nd);
    sb_put(&out, tmp + i, nd);
    struct sb res = {.x = b->x};
    if (neg)
        sb_putc(&res, '-');
    else if (f->plus)
        sb_putc(&res, '+');
    else if (f->space)
        sb_putc(&res, ' ');
    sb_put(&res, out.p, out.len);
    fmt_pad_nozero(b, f, res.p, res.len);
    if (!b->x) {
        free(out.p);
        free(res.p);
    }
}

static void fmt_unicode(struct sb *b, const struct fmtspec *f, uint64_t u)
{
    int prec = f->prec_present && f->prec > 4 ? f->prec : 4;
    char tmp[96];
    int n = snprintf(tmp, sizeof tmp, "U+%0*" PRIX64, prec > 64 ? 64 : prec, u);
    struct sb s = {.x = b->x};
    sb_put(&s, tmp, (size_t)n);
    if (f->sharp && u <= 0x10FFFF && rune_printable((uint32_t)u)) {
        sb_puts(&s, " '");
        sb_put_rune(&s, (uint32_t)u);
        sb_putc(&s, '\'');
    }
    fmt_pad_nozero(b, f, s.p, s.len);
    if (!b->x)
        free(s.p);
}

static void fmt_int_verb(struct sb *b, struct fmtspec *f, const struct value *v, uint32_t verb)
{
    uint64_t u = (uint64_t)v->u.i;
    bool is_signed = v->sub != SUB_UINT8;
    struct sb s = {.x = b->x};
    switch (verb) {
    case 'v':
        if (f->sharp_v && !is_signed) {
            struct fmtspec g = *f;
            g.sharp = true;
            fmt_integer(b, &g, u, false, 16, 'v', false);
        } else {
            fmt_integer(b, f, u, is_signed, 10, verb, false);
        }
        return;
    case 'd': fmt_integer(b, f, u, is_signed, 10, verb, false); return;
    case 'b': fmt_integer(b, f, u, is_signed, 2, verb, false); return;
    case 'o':
    case 'O': fmt_integer(b, f, u, is_signed, 8, verb, false); return;
    case 'x':
    case 'X': fmt_integer(b, f, u, is_signed, 16, verb, verb == 'X'); return;
    case 'U': fmt_unicode(b, f, u); return;
    case 'c':
    case 'q':
        if (verb == 'c')
            sb_put_rune(&s, u > 0x10FFFF ? RUNE_ERROR : (uint32_t)u);
        else
            go_quote_rune(&s, u > 0x10FFFF ? RUNE_ERROR : (uint32_t)u, f->plus);
        fmt_pad(b, f, s.p, s.len);
        if (!b->x)
            free(s.p);
        return;
    default: bad_verb(b, f, v, verb); return;
    }
}

/* Go's '#' for floats: always a decimal point; with g, G, v and x the trailing zeros
 * up to the precision (6 without one). num starts with its sign. */
static void float_sharp(struct sb *out, const char *num, size_t n, char verb, int prec)
{
    int digits = strchr("gGx", verb) ? (prec == -1 ? 6 : prec) : 0;
    size_t cut = n;
    bool point = false, nonzero = false;
    for (size_t i = 1; i < n && cut == n; i++) {
        char c = num[i];
        if (c == '.')
            point = true;
        else if (c == 'p' || c == 'P' || ((c == 'e' || c == 'E') && verb != 'x' && verb != 'X'))
            cut = i;
        else if ((nonzero = nonzero || c != '0'))
            digits--;
    }
    sb_put(out, num, cut);
    if (!point) {
        if (cut == 2 && num[1] == '0')
            digits--;
        sb_putc(out, '.');
    }
    if (digits > 0)
        sb_fill(out, '0', (size_t)digits);
    sb_put(out, num + cut, n - cut);
}

/* Go's fmt.fmtFloat: sign, Inf/NaN and zero padding rules. */
static void fmt_float(struct sb *b, const struct fmtspec *f, double v, char verb, int prec)
{
    if (f->prec_present)
        prec = f->prec;
    struct sb s = {.x = b->x}, t = {.x = b->x};
    sb_putc(&s, '+');
    go_ftoa(&s, v, verb, prec);
    char *num = s.p;
    size_t n = s.len;
    if (num[1] == '-' || num[1] == '+') {
        num++;
        n--;
    }
    if (f->space && num[0] == '+' && !f->plus)
        num[0] = ' ';
    if (num[1] == 'I' || num[1] == 'N') { /* no zero padding, no sign on NaN unless asked */
        bool drop = num[1] == 'N' && !f->space && !f->plus;
        fmt_pad_nozero(b, f, num + drop, n - drop);
    } else {
        if (f->sharp && verb != 'b') {
            float_sharp(&t, num, n, verb, prec);
            num = t.p;
            n = t.len;
        }
        if (f->zero && f->wid_present && (size_t)f->wid > n && (f->plus || num[0] != '+')) {
            sb_putc(b, num[0]); /* the sign goes before the zeros */
            sb_fill(b, '0', (size_t)f->wid - n);
            sb_put(b, num + 1, n - 1);
        } else if (f->plus || num[0] != '+') {
            fmt_pad(b, f, num, n);
        } else {
            fmt_pad(b, f, num + 1, n - 1);
        }
    }
    if (!b->x) {
        free(t.p);
        free(s.p);
    }
}

static void fmt_float_verb(struct sb *b, struct fmtspec *f, const struct value *v, uint32_t verb)
{
    switch (verb) {
    case 'v': fmt_float(b, f, v->u.f, 'g', -1); return;
    case 'b':
    case 'g':
    case 'G':
    case 'x':
    case 'X': fmt_float(b, f, v->u.f, (char)verb, -1); return;
    case 'f':
    case 'F':
    case 'e':
    case 'E': fmt_float(b, f, v->u.f, verb == 'F' ? 'f' : (char)verb, 6); return;
    default: bad_verb(b, f, v, verb); return;
    }
}

/* The first prec runes of s (all of it without a precision). */
static size_t fmt_truncate(const struct fmtspec *f, const char *s, size_t n)
{
    if (!f->prec_present)
        return n;
    size_t i = 0;
    for (int runes = 0; i < n && runes < f->prec; runes++) {
        uint32_t r;
        i += utf8_decode(s + i, n - i, &r);
    }
    return i;
}

static void fmt_hex_string(struct sb *b, const struct fmtspec *f, const char *s, size_t n,
                           bool upper)
{
    const char *digits = upper ? "0123456789ABCDEFX" : "0123456789abcdefx";
    size_t length = f->prec_present && (size_t)f->prec < n ? (size_t)f->prec : n;
    size_t width = 2 * length;
    if (width == 0) {
        fmt_pad_nozero(b, f, "", 0);
        return;
    }
    if (f->space)
        width = (f->sharp ? width * 2 : width) + length - 1;
    else if (f->sharp)
        width += 2;
    size_t pad = f->wid_present && (size_t)f->wid > width ? (size_t)f->wid - width : 0;
    if (!f->minus)
        sb_fill(b, f->zero ? '0' : ' ', pad);
    for (size_t i = 0; i < length; i++) {
        if (f->space && i > 0)
            sb_putc(b, ' ');
        if (f->sharp && (i == 0 || f->space)) {
            sb_putc(b, '0');
            sb_putc(b, digits[16]);
        }
        unsigned char c = (unsigned char)s[i];
        sb_putc(b, digits[c >> 4]);
        sb_putc(b, digits[c & 15]);
    }
    if (f->minus)
        sb_fill(b, ' ', pad);
}

static void fmt_quoted(struct sb *b, const struct fmtspec *f, const char *s, size_t n)
{
    n = fmt_truncate(f, s, n);
    struct sb q = {.x = b->x};
    if (f->sharp && can_backquote(s, n)) {
        sb_putc(&q, '`');
        sb_put(&q, s, n);
        sb_putc(&q, '`');
    } else {
        go_quote(&q, s, n, f->plus);
    }
    fmt_pad(b, f, q.p, q.len);
    if (!b->x)
        free(q.p);
}

static void fmt_string(struct sb *b, struct fmtspec *f, const char *s, size_t n, uint32_t verb)
{
    switch (verb) {
    case 'v':
        if (f->sharp_v)
            fmt_quoted(b, f, s, n);
        else
            fmt_pad(b, f, s, fmt_truncate(f, s, n));
        return;
    case 's': fmt_pad(b, f, s, fmt_truncate(f, s, n)); return;
    case 'x':
    case 'X': fmt_hex_string(b, f, s, n, verb == 'X'); return;
    case 'q': fmt_quoted(b, f, s, n); return;
    default: break;
    }
    struct value v = str_value(s, n);
    bad_verb(b, f, &v, verb);
}

static void fmt_map(struct sb *b, struct fmtspec *f, const struct value *v, uint32_t verb,
                    int depth)
{
    const struct vmap *m = v->u.map;
    if (f->sharp_v) {
        sb_puts(b, type_name(v));
        sb_putc(b, '{');
    } else {
        sb_puts(b, "map[");
    }
    for (size_t i = 0; i < m->n; i++) {
        if (i)
            sb_puts(b, f->sharp_v ? ", " : " ");
        fmt_string(b, f, m->keys[i], strlen(m->keys[i]), verb);
        sb_putc(b, ':');
        if (m->vals[i].kind == V_NIL)
            sb_puts(b, f->sharp_v ? "interface {}(nil)" : "<nil>");
        else
            fmt_arg(b, f, &m->vals[i], verb, depth + 1);
    }
    sb_putc(b, f->sharp_v ? '}' : ']');
}

static void fmt_field(struct sb *b, struct fmtspec *f, const char *name, const struct value *v,
                      uint32_t verb, int depth, bool first)
{
    if (!first)
        sb_puts(b, f->sharp_v ? ", " : " ");
    if (f->plus_v || f->sharp_v) {
        sb_puts(b, name);
        sb_putc(b, ':');
    }
    fmt_arg(b, f, v, verb, depth + 1);
}

static void fmt_sample(struct sb *b, struct fmtspec *f, const struct vsample *s, uint32_t verb,
                       int depth)
{
    struct value labels = {.kind = V_MAP, .u.map = &s->labels}, val = float_value(s->value);
    if (f->sharp_v)
        sb_puts(b, "template.sample");
    sb_putc(b, '{');
    fmt_field(b, f, "Labels", &labels, verb, depth, true);
    fmt_field(b, f, "Value", &val, verb, depth, false);
    sb_putc(b, '}');
}

static void fmt_alert(struct sb *b, struct fmtspec *f, const struct valert *a, uint32_t verb,
                      int depth)
{
    struct value labels = {.kind = V_MAP, .u.map = &a->labels};
    struct value ext = {.kind = V_MAP, .u.map = &a->external}, val = float_value(a->value);
    if (f->sharp_v)
        sb_puts(b, alert_type_name);
    sb_putc(b, '{');
    fmt_field(b, f, "Labels", &labels, verb, depth, true);
    fmt_field(b, f, "ExternalLabels", &ext, verb, depth, false);
    fmt_field(b, f, "ExternalURL", &a->url, verb, depth, false);
    fmt_field(b, f, "Value", &val, verb, depth, false);
    sb_putc(b, '}');
}

/* Go's printArg / printValue for one operand. */
static void fmt_arg(struct sb *b, struct fmtspec *f, const struct value *v, uint32_t verb,
                    int depth)
{
    if (depth > DW_TMPL_MAX_DEPTH) { /* args of args of ...: Go's stack grows, ours does not */
        if (b->x)
            exec_fail(b->x, "value nested more than %d deep", DW_TMPL_MAX_DEPTH);
        sb_puts(b, "...");
        return;
    }
    if (v->kind == V_NIL) {
        if (verb == 'T' || verb == 'v')
            fmt_pad(b, f, "<nil>", 5);
        else
            bad_verb(b, f, v, verb);
        return;
    }
    if (verb == 'T') {
        const char *t = type_name(v);
        fmt_pad(b, f, t, fmt_truncate(f, t, strlen(t)));
        return;
    }
    switch (v->kind) {
    case V_BOOL:
        if (verb == 't' || verb == 'v')
            fmt_pad(b, f, v->u.b ? "true" : "false", v->u.b ? 4 : 5);
        else
            bad_verb(b, f, v, verb);
        return;
    case V_INT: fmt_int_verb(b, f, v, verb); return;
    case V_FLOAT: fmt_float_verb(b, f, v, verb); return;
    case V_STRING: fmt_string(b, f, v->u.s.p, v->u.s.len, verb); return;
    case V_MAP: fmt_map(b, f, v, verb, depth); return;
    case V_LIST:
        sb_putc(b, '[');
        for (size_t i = 0; i < v->u.list->n; i++) {
            if (i)
                sb_putc(b, ' ');
            struct value s = {.kind = V_SAMPLE, .u.sample = v->u.list->items[i]};
            fmt_arg(b, f, &s, verb, depth + 1);
        }
        sb_putc(b, ']');
        return;
    case V_SAMPLE:
        sb_putc(b, '&');
        fmt_sample(b, f, v->u.sample, verb, depth);
        return;
    case V_ALERT: fmt_alert(b, f, v->u.alert, verb, depth); return;
    case V_TIME:
        if (strchr("vsxXq", (int)verb)) {
            struct sb t = {.x = b->x};
            go_time_string(&t, v->u.ms);
            fmt_string(b, f, t.p, t.len, verb);
            if (!b->x)
                free(t.p);
        } else {
            bad_verb(b, f, v, verb);
        }
        return;
    case V_NIL: return;
    }
}

/* fmt.Sprint: a space between operands when neither is a string. */
static void go_sprint(struct sb *b, const struct value *argv, size_t argc)
{
    bool prev_string = false;
    for (size_t i = 0; i < argc; i++) {
        bool is_string = argv[i].kind == V_STRING;
        if (i > 0 && !is_string && !prev_string)
            sb_putc(b, ' ');
        struct fmtspec f = {0};
        fmt_arg(b, &f, &argv[i], 'v', 0);
        prev_string = is_string;
    }
}

/* fmt.Sprintln: spaces always, and a newline. */
static void go_sprintln(struct sb *b, const struct value *argv, size_t argc)
{
    for (size_t i = 0; i < argc; i++) {
        if (i)
            sb_putc(b, ' ');
        struct fmtspec f = {0};
        fmt_arg(b, &f, &argv[i], 'v', 0);
    }
    sb_putc(b, '\n');
}

/* Go's parsenum: digits into *num (up to 1e6); false without digits. */
static bool fmt_parsenum(const char *s, size_t end, size_t *i, int *num)
{
    bool any = false;
    *num = 0;
    while (*i < end && s[*i] >= '0' && s[*i] <= '9') {
        if (*num > 1000000)
            return false;
        *num = *num * 10 + (s[*i] - '0');
        (*i)++;
        any = true;
    }
    return any;
}

struct printf_state {
    const struct value *argv;
    size_t argc, argnum;
    bool reordered, good_argnum;
};

/* "[n]" argument indexes; *after tells one was read. */
static void fmt_argnumber(struct printf_state *ps, const char *s, size_t end, size_t *i,
                          bool *after)
{
    *after = false;
    if (*i >= end || s[*i] != '[')
        return;
    ps->reordered = true;
    size_t j = *i + 1;
    int num;
    if (end - *i >= 3) {
        for (size_t k = j; k < end; k++) {
            if (s[k] != ']')
                continue;
            size_t d = j;
            bool ok = fmt_parsenum(s, k, &d, &num) && d == k;
            *i = k + 1;
            if (ok && num >= 1 && (size_t)num <= ps->argc) {
                ps->argnum = (size_t)num - 1;
                *after = true;
                return;
            }
            ps->good_argnum = false;
            *after = ok;
            return;
        }
    }
    (*i)++;
    ps->good_argnum = false;
}

/* Go's intFromArg for '*': an int operand within +-1e6. */
static bool fmt_int_from_arg(struct printf_state *ps, int *num)
{
    *num = 0;
    if (ps->argnum >= ps->argc)
        return false;
    const struct value *v = &ps->argv[ps->argnum++];
    if (v->kind != V_INT || v->u.i > 1000000 || v->u.i < -1000000)
        return false;
    *num = (int)v->u.i;
    return true;
}

static void fmt_flags(struct fmtspec *f, const char *s, size_t end, size_t *i)
{
    for (; *i < end; (*i)++) {
        switch (s[*i]) {
        case '#': f->sharp = true; break;
        case '0': f->zero = !f->minus; break;
        case '+': f->plus = true; break;
        case '-':
            f->minus = true;
            f->zero = false;
            break;
        case ' ': f->space = true; break;
        default: return;
        }
    }
}

static void fmt_width_prec(struct sb *b, struct fmtspec *f, struct printf_state *ps, const char *s,
                           size_t end, size_t *i, bool *after)
{
    if (*i < end && s[*i] == '*') {
        (*i)++;
        f->wid_present = fmt_int_from_arg(ps, &f->wid);
        if (!f->wid_present)
            sb_puts(b, "%!(BADWIDTH)");
        if (f->wid < 0) {
            f->wid = -f->wid;
            f->minus = true;
            f->zero = false;
        }
        *after = false;
    } else {
        f->wid_present = fmt_parsenum(s, end, i, &f->wid);
        if (*after && f->wid_present)
            ps->good_argnum = false;
    }
    if (*i + 1 < end && s[*i] == '.') {
        (*i)++;
        if (*after)
            ps->good_argnum = false;
        fmt_argnumber(ps, s, end, i, after);
        if (*i < end && s[*i] == '*') {
            (*i)++;
            f->prec_present = fmt_int_from_arg(ps, &f->prec);
            if (f->prec < 0) {
                f->prec = 0;
                f->prec_present = false;
            }
            if (!f->prec_present)
                sb_puts(b, "%!(BADPREC)");
            *after = false;
        } else {
            fmt_parsenum(s, end, i, &f->prec);
            f->prec_present = true;
        }
    }
}

/* fmt.Sprintf with Go's verbs, flags and error notation (%!d(string=x)). */
static void go_sprintf(struct sb *b, const char *s, size_t end, const struct value *argv,
                       size_t argc)
{
    struct printf_state ps = {.argv = argv, .argc = argc};
    for (size_t i = 0; i < end;) {
        size_t lasti = i;
        while (i < end && s[i] != '%')
            i++;
        sb_put(b, s + lasti, i - lasti);
        if (i >= end)
            break;
        i++;
        struct fmtspec f = {0};
        ps.good_argnum = true;
        bool after;
        fmt_flags(&f, s, end, &i);
        fmt_argnumber(&ps, s, end, &i, &after);
        fmt_width_prec(b, &f, &ps, s, end, &i, &after);
        if (!after)
            fmt_argnumber(&ps, s, end, &i, &after);
        if (i >= end) {
            sb_puts(b, "%!(NOVERB)");
            break;
        }
        uint32_t verb;
        i += utf8_decode(s + i, end - i, &verb);
        if (verb == '%') {
            sb_putc(b, '%');
        } else if (!ps.good_argnum || ps.argnum >= argc) {
            sb_puts(b, "%!");
            sb_put_rune(b, verb);
            sb_puts(b, ps.good_argnum ? "(MISSING)" : "(BADINDEX)");
        } else {
            if (verb == 'v') {
                f.sharp_v = f.sharp;
                f.sharp = false;
                f.plus_v = f.plus;
                f.plus = false;
            }
            fmt_arg(b, &f, &argv[ps.argnum++], verb, 0);
        }
    }
    if (!ps.reordered && ps.argnum < argc) {
        sb_puts(b, "%!(EXTRA ");
        for (size_t k = ps.argnum; k < argc; k++) {
            if (k > ps.argnum)
                sb_puts(b, ", ");
            struct fmtspec f = {0};
            if (argv[k].kind == V_NIL) {
                sb_puts(b, "<nil>");
                continue;
            }
            sb_puts(b, type_name(&argv[k]));
            sb_putc(b, '=');
            fmt_arg(b, &f, &argv[k], 'v', 0);
        }
        sb_putc(b, ')');
    }
}

/* ---- execution state and errors ---- */

enum ptype { P_ANY, P_STRING, P_LIST, P_SAMPLE };

struct func {
    const char *name;
    unsigned nfixed; /* parameters before the variadic ones */
    bool variadic;   /* more of type rest may follow */
    enum ptype params[3];
    enum ptype rest;
    bool short_circuit; /* and, or: evaluated by the executor */
    struct value (*fn)(struct exec *x, const struct value *argv, size_t argc);
};

/* The node an error message shows ("at <...>"), as Go's state.at. */
enum at_kind { AT_NONE, AT_ARG, AT_CMD, AT_PIPE, AT_TEMPLATE };

struct at {
    enum at_kind kind;
    const void *p;
    size_t pos;
};

struct var {
    const char *name;
    struct value v;
};

struct regex {
    pcre2_code *code;
    pcre2_match_data *md;
    pcre2_match_context *mc;
};

struct exec {
    const struct dw_tmpl *t;
    const struct tdef *cur; /* the template being run ({{template}} changes it) */
    const struct dw_tmpl_data *d;
    struct arena ar;   /* every value built while running */
    struct dw_buf out; /* at most DW_TMPL_MAX_OUTPUT */
    struct var *vars;  /* heap; lookups stop at var_base (a {{template}} call's scope) */
    size_t nvars, capvars, var_base;
    struct at at;
    size_t steps;
    int depth;
    const char *call_name; /* the function being called, for "error calling NAME" */
    struct at call_at;
    struct regex *live_re; /* freed by the entry point if an error unwinds past it */
    char *msg;             /* the error (heap) */
    jmp_buf jb;
};

static void *xalloc(struct exec *x, size_t n);

static void at_string(struct sb *b, const struct at *at)
{
    switch (at->kind) {
    case AT_ARG: arg_string(b, at->p); break;
    case AT_CMD: cmd_string(b, at->p); break;
    case AT_PIPE: pipe_string(b, at->p); break;
    case AT_TEMPLATE: template_node_string(b, at->p); break;
    case AT_NONE: break;
    }
}

/* Unwinds with "template: NAME:L:C: executing "CUR" at <node>: msg" (frees msg). */
DW_NORETURN static void exec_raise(struct exec *x, char *msg, bool context)
{
    x->ar.max = 0; /* whatever the message needs */
    struct sb b = {0};
    if (context && x->at.kind != AT_NONE) {
        int line, col;
        line_col(x->t->text, x->at.pos, &line, &col);
        sb_printf(&b, "template: %s:%d:%d: executing ", x->t->name, line, col);
        go_quote(&b, x->cur->name, strlen(x->cur->name), false);
        sb_puts(&b, " at <");
        at_string(&b, &x->at);
        sb_puts(&b, ">: ");
    } else {
        sb_printf(&b, "template: %s: ", x->cur->name);
    }
    sb_puts(&b, msg);
    free(msg);
    x->msg = sb_steal(&b);
    longjmp(x->jb, 1);
}

DW_NORETURN static void exec_fail(struct exec *x, const char *fmt, ...) DW_PRINTF(2, 3);
DW_NORETURN static void exec_fail(struct exec *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = dw_vasprintf(fmt, ap);
    va_end(ap);
    exec_raise(x, msg, true);
}

/* A limit was hit: no node context, Go's form for errors without one. */
DW_NORETURN static void exec_limit(struct exec *x, const char *fmt, ...) DW_PRINTF(2, 3);
DW_NORETURN static void exec_limit(struct exec *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = dw_vasprintf(fmt, ap);
    va_end(ap);
    exec_raise(x, msg, false);
}

/* A function failed: "error calling NAME: msg" at the call. */
DW_NORETURN static void call_fail(struct exec *x, const char *fmt, ...) DW_PRINTF(2, 3);
DW_NORETURN static void call_fail(struct exec *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = dw_vasprintf(fmt, ap);
    va_end(ap);
    x->at = x->call_at;
    char *msg = dw_asprintf("error calling %s: %s", x->call_name, m);
    free(m);
    exec_raise(x, msg, true);
}

static void *xalloc(struct exec *x, size_t n)
{
    void *p = arena_try(&x->ar, n);
    if (!p)
        exec_limit(x, "values take more than %u bytes of memory", DW_TMPL_MAX_MEMORY);
    return p;
}

static char *xstrndup(struct exec *x, const char *s, size_t n)
{
    char *d = xalloc(x, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* The builder's text as a string value (arena builders only). */
static struct value sb_value(struct sb *b)
{
    if (!b->p)
        return str_value("", 0);
    return str_value(b->p, b->len);
}

static void step(struct exec *x)
{
    if (++x->steps > DW_TMPL_MAX_STEPS)
        exec_limit(x, "execution took more than %u steps", DW_TMPL_MAX_STEPS);
}

static void set_at_arg(struct exec *x, const struct arg *a)
{
    x->at = (struct at){AT_ARG, a, a->pos};
}

/* ---- variables ---- */

static void push_value(struct exec *x, const char *name, struct value v)
{
    x->vars = dw_grow(x->vars, &x->capvars, x->nvars + 1, sizeof *x->vars);
    x->vars[x->nvars++] = (struct var){name, v};
}

static struct var *find_var(struct exec *x, const char *name)
{
    for (size_t i = x->nvars; i-- > x->var_base;)
        if (strcmp(x->vars[i].name, name) == 0)
            return &x->vars[i];
    exec_fail(x, "undefined variable: %s", name);
}

/* ---- evaluation: Go's text/template exec.go ---- */

static struct value eval_pipeline(struct exec *x, struct value dot, const struct pipe *p);
static struct value eval_arg(struct exec *x, struct value dot, enum ptype pt, const struct arg *a);

static bool has_args(const struct cmd *cmd, const struct value *final)
{
    return (cmd && cmd->nargs > 1) || final;
}

static void not_a_function(struct exec *x, const struct cmd *cmd, const struct value *final)
{
    if (!has_args(cmd, final))
        return;
    struct sb b = {.x = x};
    arg_string(&b, cmd->args[0]);
    exec_fail(x, "can't give argument to non-function %s", b.p);
}

static const struct value *struct_field(const struct value *recv, const char *name,
                                        struct value *tmp)
{
    if (recv->kind == V_ALERT) {
        const struct valert *a = recv->u.alert;
        if (strcmp(name, "Labels") == 0)
            *tmp = (struct value){.kind = V_MAP, .u.map = &a->labels};
        else if (strcmp(name, "ExternalLabels") == 0)
            *tmp = (struct value){.kind = V_MAP, .u.map = &a->external};
        else if (strcmp(name, "ExternalURL") == 0)
            *tmp = a->url;
        else if (strcmp(name, "Value") == 0)
            *tmp = float_value(a->value);
        else
            return NULL;
        return tmp;
    }
    if (recv->kind == V_SAMPLE) {
        if (strcmp(name, "Labels") == 0)
            *tmp = (struct value){.kind = V_MAP, .u.map = &recv->u.sample->labels};
        else if (strcmp(name, "Value") == 0)
            *tmp = float_value(recv->u.sample->value);
        else
            return NULL;
        return tmp;
    }
    return NULL;
}

/* .name on recv: a struct field or a map key (missing keys give the zero value). */
static struct value eval_field(struct exec *x, const char *name, const struct cmd *cmd,
                               const struct value *final, struct value recv)
{
    if (recv.kind == V_NIL && recv.boxed)
        exec_fail(x, "nil pointer evaluating interface {}.%s", name);
    if (recv.kind == V_NIL)
        return nil_value;
    struct value tmp;
    const struct value *f = struct_field(&recv, name, &tmp);
    if (f) {
        if (has_args(cmd, final))
            exec_fail(x, "%s has arguments but cannot be invoked as function", name);
        return *f;
    }
    if (recv.kind == V_MAP) {
        if (has_args(cmd, final))
            exec_fail(x, "%s is not a method but has arguments", name);
        const struct value *v = map_get(recv.u.map, name);
        struct value r = v ? *v : recv.sub == SUB_ANY ? nil_value : str_value("", 0);
        r.boxed = recv.sub == SUB_ANY;
        return r;
    }
    exec_fail(x, "can't evaluate field %s in type %s", name,
              recv.boxed ? "interface {}" : type_name(&recv));
}

static struct value eval_field_chain(struct exec *x, struct value recv, const struct arg *a,
                                     const struct cmd *cmd, const struct value *final)
{
    for (size_t i = 0; i + 1 < a->nfields; i++)
        recv = eval_field(x, a->fields[i], NULL, NULL, recv);
    return eval_field(x, a->fields[a->nfields - 1], cmd, final, recv);
}

static struct value eval_variable(struct exec *x, const struct arg *a, const struct cmd *cmd,
                                  const struct value *final)
{
    set_at_arg(x, a);
    struct value v = find_var(x, a->text)->v;
    if (a->nfields == 0) {
        not_a_function(x, cmd, final);
        return v;
    }
    return eval_field_chain(x, v, a, cmd, final);
}

static struct value eval_chain(struct exec *x, struct value dot, const struct arg *a,
                               const struct cmd *cmd, const struct value *final)
{
    set_at_arg(x, a);
    struct value v = eval_arg(x, dot, P_ANY, a->inner);
    return eval_field_chain(x, v, a, cmd, final);
}

static enum ptype param_type(const struct func *fn, size_t i)
{
    return i < fn->nfixed ? fn->params[i] : fn->rest;
}

static const char *ptype_name(enum ptype pt)
{
    switch (pt) {
    case P_STRING: return "string";
    case P_LIST: return "template.queryResult";
    case P_SAMPLE: return "*template.sample";
    case P_ANY: break;
    }
    return "interface {}";
}

/* Go's validateType: a value handed to a typed parameter. */
static struct value validate(struct exec *x, struct value v, enum ptype pt)
{
    bool nil = v.kind == V_NIL && !v.boxed; /* an untyped nil fits a slice or a pointer */
    bool ok = pt == P_ANY || (pt == P_STRING && v.kind == V_STRING && v.sub != SUB_HTML) ||
              (pt == P_LIST && (v.kind == V_LIST || nil)) ||
              (pt == P_SAMPLE && (v.kind == V_SAMPLE || nil));
    if (ok)
        return v;
    if (v.kind == V_NIL && !v.boxed)
        exec_fail(x, "invalid value; expected %s", ptype_name(pt));
    if (v.kind == V_NIL)
        exec_fail(x, "wrong type for value; expected %s; got interface {}", ptype_name(pt));
    exec_fail(x, "wrong type for value; expected %s; got %s", ptype_name(pt), type_name(&v));
}

/* and, or: the first operand that decides, without evaluating the rest. */
static struct value eval_and_or(struct exec *x, struct value dot, const struct func *fn,
                                const struct cmd *cmd, const struct value *final)
{
    bool is_or = fn->name[0] == 'o';
    struct value v = nil_value;
    for (size_t i = 1; cmd && i < cmd->nargs; i++) {
        v = eval_arg(x, dot, P_ANY, cmd->args[i]);
        if (truth(&v) == is_or)
            return v;
    }
    return final ? *final : v;
}

static struct value eval_call(struct exec *x, struct value dot, const struct func *fn,
                              struct at call_at, const struct cmd *cmd, const struct value *final)
{
    size_t given = (cmd ? cmd->nargs - 1 : 0) + (final != NULL);
    if (fn->variadic && given < fn->nfixed)
        exec_fail(x, "wrong number of args for %s: want at least %u got %zu", fn->name, fn->nfixed,
                  given);
    if (!fn->variadic && given != fn->nfixed)
        exec_fail(x, "wrong number of args for %s: want %u got %zu", fn->name, fn->nfixed, given);
    if (fn->short_circuit)
        return eval_and_or(x, dot, fn, cmd, final);
    struct value *argv = xalloc(x, (given ? given : 1) * sizeof *argv);
    for (size_t i = 0; cmd && i + 1 < cmd->nargs; i++)
        argv[i] = eval_arg(x, dot, param_type(fn, i), cmd->args[i + 1]);
    if (final)
        argv[given - 1] = validate(x, *final, param_type(fn, given - 1));
    x->call_name = fn->name;
    x->call_at = call_at;
    return fn->fn(x, argv, given);
}

static struct value eval_function(struct exec *x, struct value dot, const struct arg *ident,
                                  const struct cmd *cmd, const struct value *final)
{
    set_at_arg(x, ident);
    struct at call_at = cmd ? (struct at){AT_CMD, cmd, cmd->pos} : x->at;
    return eval_call(x, dot, ident->fn, call_at, cmd, final);
}

/* A literal operand's value (Go's idealConstant for numbers). */
static struct value literal(struct exec *x, const struct arg *a)
{
    if (a->lit_error)
        exec_fail(x, "%s %s", a->text, a->lit_error);
    return a->lit;
}

static struct value eval_arg(struct exec *x, struct value dot, enum ptype pt, const struct arg *a)
{
    set_at_arg(x, a);
    switch (a->type) {
    case A_DOT: return validate(x, dot, pt);
    case A_NIL:
        if (pt == P_STRING)
            exec_fail(x, "cannot assign nil to string");
        return nil_value;
    case A_FIELD: return validate(x, eval_field_chain(x, dot, a, NULL, NULL), pt);
    case A_VAR: return validate(x, eval_variable(x, a, NULL, NULL), pt);
    case A_PIPE: return validate(x, eval_pipeline(x, dot, a->pipe), pt);
    case A_IDENT: return validate(x, eval_function(x, dot, a, NULL, NULL), pt);
    case A_CHAIN: return validate(x, eval_chain(x, dot, a, NULL, NULL), pt);
    default: break;
    }
    struct sb b = {.x = x};
    arg_string(&b, a);
    if (pt == P_STRING && a->type != A_STRING)
        exec_fail(x, "expected string; found %s", b.p);
    if (pt == P_LIST || pt == P_SAMPLE)
        exec_fail(x, "can't handle %s for arg of type %s", b.p, ptype_name(pt));
    return literal(x, a);
}

static struct value eval_command(struct exec *x, struct value dot, const struct cmd *c,
                                 const struct value *final)
{
    step(x);
    const struct arg *a = c->args[0];
    switch (a->type) {
    case A_FIELD: set_at_arg(x, a); return eval_field_chain(x, dot, a, c, final);
    case A_CHAIN: return eval_chain(x, dot, a, c, final);
    case A_IDENT: return eval_function(x, dot, a, c, final);
    case A_VAR: return eval_variable(x, a, c, final);
    case A_PIPE: not_a_function(x, c, final); return eval_pipeline(x, dot, a->pipe);
    default: break;
    }
    set_at_arg(x, a);
    not_a_function(x, c, final);
    if (a->type == A_NIL)
        exec_fail(x, "nil is not a command");
    return a->type == A_DOT ? dot : literal(x, a);
}

static struct value eval_pipeline(struct exec *x, struct value dot, const struct pipe *p)
{
    if (!p)
        return nil_value;
    x->at = (struct at){AT_PIPE, p, p->pos};
    struct value v = nil_value;
    for (size_t i = 0; i < p->ncmds; i++) {
        struct value prev = v;
        v = eval_command(x, dot, p->cmds[i], i ? &prev : NULL);
        v.boxed = false; /* Go digs into interface {} results here */
    }
    for (size_t i = 0; i < p->ndecl; i++) {
        if (p->is_assign)
            find_var(x, p->decl[i])->v = v;
        else
            push_value(x, p->decl[i], v);
    }
    return v;
}

/* ---- Go's builtin functions (text/template funcs.go) ---- */

static struct value fn_not(struct exec *x, const struct value *argv, size_t argc)
{
    (void)x, (void)argc;
    return bool_value(!truth(&argv[0]));
}

static struct value fn_len(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    const struct value *v = &argv[0];
    switch (v->kind) {
    case V_STRING: return int_value((int64_t)v->u.s.len);
    case V_MAP: return int_value((int64_t)v->u.map->n);
    case V_LIST: return int_value((int64_t)v->u.list->n);
    case V_NIL: call_fail(x, "reflect: call of reflect.Value.Type on zero Value");
    case V_SAMPLE: call_fail(x, "len of type template.sample");
    default: call_fail(x, "len of type %s", type_name(v));
    }
}

/* Go's indexArg: an integer index within [0, cap]. */
static size_t index_arg(struct exec *x, const struct value *idx, size_t cap)
{
    if (idx->kind == V_NIL)
        call_fail(x, "cannot index slice/array with nil");
    if (idx->kind != V_INT)
        call_fail(x, "cannot index slice/array with type %s", type_name(idx));
    if (idx->u.i < 0 || (uint64_t)idx->u.i > cap)
        call_fail(x, "index out of range: %" PRId64, idx->u.i);
    return (size_t)idx->u.i;
}

static struct value index_one(struct exec *x, struct value item, const struct value *idx)
{
    if (item.kind == V_STRING || item.kind == V_LIST) {
        bool str = item.kind == V_STRING;
        size_t n = str ? item.u.s.len : item.u.list->n;
        size_t i = index_arg(x, idx, n);
        if (i == n)
            call_fail(x, "reflect: %s index out of range", str ? "string" : "slice");
        if (str)
            return (struct value){
                .kind = V_INT, .sub = SUB_UINT8, .u.i = (unsigned char)item.u.s.p[i]};
        return (struct value){.kind = V_SAMPLE, .u.sample = item.u.list->items[i]};
    }
    if (item.kind == V_MAP) {
        if (idx->kind == V_NIL)
            call_fail(x, "value is nil; should be of type string");
        if (idx->kind != V_STRING || idx->sub == SUB_HTML)
            call_fail(x, "value has type %s; should be string", type_name(idx));
        const struct value *v = map_get(item.u.map, idx->u.s.p);
        return v ? *v : item.sub == SUB_ANY ? nil_value : str_value("", 0);
    }
    call_fail(x, "can't index item of type %s",
              item.kind == V_SAMPLE ? "template.sample" : type_name(&item));
}

static struct value fn_index(struct exec *x, const struct value *argv, size_t argc)
{
    struct value item = argv[0];
    if (item.kind == V_NIL)
        call_fail(x, "index of untyped nil");
    for (size_t i = 1; i < argc; i++)
        item = index_one(x, item, &argv[i]);
    return item;
}

static struct value fn_slice(struct exec *x, const struct value *argv, size_t argc)
{
    struct value item = argv[0];
    if (item.kind == V_NIL)
        call_fail(x, "slice of untyped nil");
    if (argc - 1 > 3)
        call_fail(x, "too many slice indexes: %zu", argc - 1);
    if (item.kind != V_STRING && item.kind != V_LIST)
        call_fail(x, "can't slice item of type %s", type_name(&item));
    if (item.kind == V_STRING && argc - 1 == 3)
        call_fail(x, "cannot 3-index slice a string");
    size_t n = item.kind == V_STRING ? item.u.s.len : item.u.list->n;
    size_t idx[3] = {0, n, n};
    for (size_t i = 1; i < argc; i++)
        idx[i - 1] = index_arg(x, &argv[i], n);
    if (idx[0] > idx[1])
        call_fail(x, "invalid slice index: %zu > %zu", idx[0], idx[1]);
    if (argc - 1 == 3 && idx[1] > idx[2])
        call_fail(x, "invalid slice index: %zu > %zu", idx[1], idx[2]);
    if (item.kind == V_STRING)
        return str_value(xstrndup(x, item.u.s.p + idx[0], idx[1] - idx[0]), idx[1] - idx[0]);
    struct vlist *l = xalloc(x, sizeof *l);
    l->n = idx[1] - idx[0];
    l->items = item.u.list->items + idx[0];
    return (struct value){.kind = V_LIST, .u.list = l};
}

/* Go's basicKind classes; everything else cannot be ordered. */
enum bkind { K_INVALID, K_BOOL, K_INT, K_FLOAT, K_STRING };

static enum bkind basic_kind(const struct value *v)
{
    switch (v->kind) {
    case V_BOOL: return K_BOOL;
    case V_INT: return K_INT;
    case V_FLOAT: return K_FLOAT;
    case V_STRING: return K_STRING;
    default: return K_INVALID;
    }
}

static int str_cmp(const struct value *a, const struct value *b)
{
    size_t n = a->u.s.len < b->u.s.len ? a->u.s.len : b->u.s.len;
    int c = memcmp(a->u.s.p, b->u.s.p, n);
    if (c)
        return c;
    return a->u.s.len < b->u.s.len ? -1 : a->u.s.len > b->u.s.len;
}

static bool comparable(const struct value *v)
{
    return v->kind != V_MAP && v->kind != V_LIST && v->kind != V_ALERT;
}

/* a == b under Go's eq rules; "incompatible types" between basic kinds. */
static bool eq_one(struct exec *x, const struct value *a, const struct value *b)
{
    enum bkind k1 = basic_kind(a), k2 = basic_kind(b);
    if (k1 != k2) {
        if (a->kind != V_NIL && b->kind != V_NIL)
            call_fail(x, "incompatible types for comparison");
        return false;
    }
    switch (k1) {
    case K_BOOL: return a->u.b == b->u.b;
    case K_INT: return a->u.i == b->u.i;
    case K_FLOAT: return a->u.f == b->u.f;
    case K_STRING: return str_cmp(a, b) == 0;
    case K_INVALID: break;
    }
    if (a->kind == V_NIL || b->kind == V_NIL)
        return a->kind == b->kind;
    if (a->kind != b->kind || !comparable(b))
        call_fail(x, "incompatible types for comparison");
    return a->kind == V_TIME ? a->u.ms == b->u.ms : a->u.sample == b->u.sample;
}

static void check_comparable(struct exec *x, const struct value *a)
{
    if (a->kind == V_NIL || comparable(a))
        return;
    struct sb b = {.x = x};
    struct fmtspec f = {0};
    fmt_arg(&b, &f, a, 's', 0);
    call_fail(x, "non-comparable type %s: %s", b.p, type_name(a));
}

static struct value fn_eq(struct exec *x, const struct value *argv, size_t argc)
{
    check_comparable(x, &argv[0]);
    if (argc < 2)
        call_fail(x, "missing argument for comparison");
    for (size_t i = 1; i < argc; i++)
        if (eq_one(x, &argv[0], &argv[i]))
            return bool_value(true);
    return bool_value(false);
}

static struct value fn_ne(struct exec *x, const struct value *argv, size_t argc)
{
    return bool_value(!fn_eq(x, argv, argc).u.b);
}

static bool lt_values(struct exec *x, const struct value *a, const struct value *b)
{
    enum bkind k1 = basic_kind(a), k2 = basic_kind(b);
    if (k1 == K_INVALID || k2 == K_INVALID)
        call_fail(x, "invalid type for comparison");
    if (k1 != k2)
        call_fail(x, "incompatible types for comparison");
    switch (k1) {
    case K_INT: return a->u.i < b->u.i;
    case K_FLOAT: return a->u.f < b->u.f;
    case K_STRING: return str_cmp(a, b) < 0;
    default: call_fail(x, "invalid type for comparison");
    }
}

static bool le_values(struct exec *x, const struct value *a, const struct value *b)
{
    if (lt_values(x, a, b))
        return true;
    check_comparable(x, a);
    return eq_one(x, a, b);
}

static struct value fn_lt(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    return bool_value(lt_values(x, &argv[0], &argv[1]));
}

static struct value fn_le(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    return bool_value(le_values(x, &argv[0], &argv[1]));
}

static struct value fn_gt(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    return bool_value(!le_values(x, &argv[0], &argv[1]));
}

static struct value fn_ge(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    return bool_value(!lt_values(x, &argv[0], &argv[1]));
}

static struct value fn_print(struct exec *x, const struct value *argv, size_t argc)
{
    struct sb b = {.x = x};
    go_sprint(&b, argv, argc);
    return sb_value(&b);
}

static struct value fn_println(struct exec *x, const struct value *argv, size_t argc)
{
    struct sb b = {.x = x};
    go_sprintln(&b, argv, argc);
    return sb_value(&b);
}

static struct value fn_printf(struct exec *x, const struct value *argv, size_t argc)
{
    struct sb b = {.x = x};
    go_sprintf(&b, argv[0].u.s.p, argv[0].u.s.len, argv + 1, argc - 1);
    return sb_value(&b);
}

/* Go's evalArgs: the one string operand, or fmt.Sprint of them all. */
static struct value args_string(struct exec *x, const struct value *argv, size_t argc)
{
    if (argc == 1 && argv[0].kind == V_STRING && argv[0].sub == SUB_NONE)
        return argv[0];
    return fn_print(x, argv, argc);
}

static struct value fn_html(struct exec *x, const struct value *argv, size_t argc)
{
    struct value s = args_string(x, argv, argc);
    struct sb b = {.x = x};
    for (size_t i = 0; i < s.u.s.len; i++) {
        char c = s.u.s.p[i];
        switch (c) {
        case '"': sb_puts(&b, "&#34;"); break;
        case '\'': sb_puts(&b, "&#39;"); break;
        case '&': sb_puts(&b, "&amp;"); break;
        case '<': sb_puts(&b, "&lt;"); break;
        case '>': sb_puts(&b, "&gt;"); break;
        case '\0': sb_puts(&b, "\xEF\xBF\xBD"); break;
        default: sb_putc(&b, c);
        }
    }
    return sb_value(&b);
}

static struct value fn_js(struct exec *x, const struct value *argv, size_t argc)
{
    struct value s = args_string(x, argv, argc);
    struct sb b = {.x = x};
    for (size_t i = 0; i < s.u.s.len;) {
        unsigned char c = (unsigned char)s.u.s.p[i];
        uint32_t r;
        size_t w = utf8_decode(s.u.s.p + i, s.u.s.len - i, &r);
        if (c >= 0x80) {
            if (rune_printable(r))
                sb_put(&b, s.u.s.p + i, w);
            else
                sb_printf(&b, "\\u%04X", (unsigned)r);
        } else if (c == '\\' || c == '\'' || c == '"') {
            sb_putc(&b, '\\');
            sb_putc(&b, (char)c);
        } else if (c == '<' || c == '>' || c == '&' || c == '=' || c < ' ') {
            sb_printf(&b, "\\u%04X", c);
        } else {
            sb_putc(&b, (char)c);
        }
        i += w;
    }
    return sb_value(&b);
}

/* url.QueryEscape */
static void query_escape(struct sb *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~')
            sb_putc(b, (char)c);
        else if (c == ' ')
            sb_putc(b, '+');
        else
            sb_printf(b, "%%%02X", c);
    }
}

static struct value fn_urlquery(struct exec *x, const struct value *argv, size_t argc)
{
    struct value s = args_string(x, argv, argc);
    struct sb b = {.x = x};
    query_escape(&b, s.u.s.p, s.u.s.len);
    return sb_value(&b);
}

/* ---- Prometheus's functions (template/template.go, 2.42) ---- */

/* strconv.ParseFloat's syntax: no spaces, Go's inf/nan words, hex needs a p exponent. */
static bool go_parse_float(const char *s, double *out, bool *range)
{
    *range = false;
    const char *body = s + (*s == '+' || *s == '-');
    if (!*body || is_space((unsigned char)*s))
        return false;
    if ((body[0] == '0' && (body[1] == 'x' || body[1] == 'X') && !strpbrk(body, "pP")) ||
        strchr(body, '(') || strchr(body, '_'))
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || end == s)
        return false;
    bool word = (*body | 32) == 'i' || (*body | 32) == 'n';
    if (word && strcasecmp(body, "inf") != 0 && strcasecmp(body, "infinity") != 0 &&
        strcasecmp(body, "nan") != 0)
        return false;
    *range = isinf(v) && !word;
    *out = v;
    return true;
}

/* Prometheus's convertToFloat: float64, int, or a string strconv can parse. */
static double to_float(struct exec *x, const struct value *v)
{
    if (v->kind == V_FLOAT)
        return v->u.f;
    if (v->kind == V_INT && v->sub == SUB_NONE)
        return (double)v->u.i;
    if (v->kind != V_STRING || v->sub != SUB_NONE)
        call_fail(x, "can't convert %s to float", type_name(v));
    double f;
    bool range;
    struct sb q = {.x = x};
    go_quote(&q, v->u.s.p, v->u.s.len, false);
    if (!go_parse_float(v->u.s.p, &f, &range) || strlen(v->u.s.p) != v->u.s.len)
        call_fail(x, "strconv.ParseFloat: parsing %s: invalid syntax", q.p);
    if (range)
        call_fail(x, "strconv.ParseFloat: parsing %s: value out of range", q.p);
    return f;
}

/* fmt's %.4g, with Go's +Inf, -Inf and NaN. */
static void g4(struct sb *b, double v)
{
    if (isnan(v) || isinf(v))
        go_ftoa(b, v, 'g', 4);
    else
        sb_printf(b, "%.4g", v);
}

static const char *const small_prefixes[] = {"m", "u", "n", "p", "f", "a", "z", "y"};

/* Scales |v| < 1 up by 1000s; returns the SI prefix. */
static const char *scale_small(double *v)
{
    const char *prefix = "";
    for (size_t i = 0; i < DW_ARRAY_LEN(small_prefixes) && fabs(*v) < 1; i++) {
        prefix = small_prefixes[i];
        *v *= 1000;
    }
    return prefix;
}

static struct value fn_humanize(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    double v = to_float(x, &argv[0]);
    struct sb b = {.x = x};
    const char *prefix = "";
    if (v != 0 && !isnan(v) && !isinf(v)) {
        if (fabs(v) >= 1) {
            static const char *const big[] = {"k", "M", "G", "T", "P", "E", "Z", "Y"};
            for (size_t i = 0; i < DW_ARRAY_LEN(big) && fabs(v) >= 1000; i++) {
                prefix = big[i];
                v /= 1000;
            }
        } else {
            prefix = scale_small(&v);
        }
    }
    g4(&b, v);
    sb_puts(&b, prefix);
    return sb_value(&b);
}

static struct value fn_humanize1024(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    double v = to_float(x, &argv[0]);
    struct sb b = {.x = x};
    const char *prefix = "";
    if (!(fabs(v) <= 1 || isnan(v) || isinf(v))) {
        static const char *const bin[] = {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"};
        for (size_t i = 0; i < DW_ARRAY_LEN(bin) && fabs(v) >= 1024; i++) {
            prefix = bin[i];
            v /= 1024;
        }
    }
    g4(&b, v);
    sb_puts(&b, prefix);
    return sb_value(&b);
}

/* Go's int64(v) on amd64: out-of-range values become the minimum. */
static int64_t go_int64(double v)
{
    if (!(v > -9223372036854775808.0 && v < 9223372036854775808.0))
        return INT64_MIN;
    return (int64_t)v;
}

static struct value fn_humanize_duration(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    double v = to_float(x, &argv[0]);
    struct sb b = {.x = x};
    if (isnan(v) || isinf(v) || v == 0) {
        g4(&b, v);
        if (v == 0)
            sb_putc(&b, 's');
        return sb_value(&b);
    }
    if (fabs(v) >= 1) {
        const char *sign = v < 0 ? "-" : "";
        v = fabs(v);
        int64_t d = go_int64(v);
        int64_t secs = d % 60, mins = d / 60 % 60, hours = d / 3600 % 24, days = d / 86400;
        if (days)
            sb_printf(&b, "%s%" PRId64 "d %" PRId64 "h %" PRId64 "m %" PRId64 "s", sign, days,
                      hours, mins, secs);
        else if (hours)
            sb_printf(&b, "%s%" PRId64 "h %" PRId64 "m %" PRId64 "s", sign, hours, mins, secs);
        else if (mins)
            sb_printf(&b, "%s%" PRId64 "m %" PRId64 "s", sign, mins, secs);
        else
            sb_printf(&b, "%s%.4gs", sign, v);
        return sb_value(&b);
    }
    const char *prefix = scale_small(&v);
    g4(&b, v);
    sb_puts(&b, prefix);
    sb_putc(&b, 's');
    return sb_value(&b);
}

static struct value fn_humanize_percentage(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    struct sb b = {.x = x};
    g4(&b, to_float(x, &argv[0]) * 100);
    sb_putc(&b, '%');
    return sb_value(&b);
}

/* Prometheus's floatToTime: seconds to a millisecond time; false on NaN or Inf. */
static bool float_to_time(struct exec *x, double v, int64_t *ms)
{
    if (isnan(v) || isinf(v))
        return false;
    double ns = v * 1e9;
    if (ns >= 9223372036854775808.0 || ns < -9223372036854775808.0) {
        struct sb b = {.x = x};
        go_float_v(&b, v);
        call_fail(x, "%s cannot be represented as a nanoseconds timestamp since it overflows int64",
                  b.p);
    }
    *ms = (int64_t)ns / 1000000;
    return true;
}

static struct value fn_humanize_timestamp(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    double v = to_float(x, &argv[0]);
    struct sb b = {.x = x};
    int64_t ms;
    if (float_to_time(x, v, &ms))
        go_time_string(&b, ms);
    else
        g4(&b, v);
    return sb_value(&b);
}

static struct value fn_to_time(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    int64_t ms;
    if (!float_to_time(x, to_float(x, &argv[0]), &ms))
        call_fail(x, "value is NaN or Inf");
    return (struct value){.kind = V_TIME, .u.ms = ms};
}

static struct value fn_parse_duration(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    int64_t ms;
    if (argv[0].u.s.len == 0)
        call_fail(x, "empty duration string");
    if (dw_parse_duration(argv[0].u.s.p, &ms) != 0 || strlen(argv[0].u.s.p) != argv[0].u.s.len) {
        struct sb q = {.x = x};
        go_quote(&q, argv[0].u.s.p, argv[0].u.s.len, false);
        call_fail(x, "not a valid duration string: %s", q.p);
    }
    return float_value((double)ms / 1000);
}

static struct value fn_args(struct exec *x, const struct value *argv, size_t argc)
{
    struct vmap *m = xalloc(x, sizeof *m);
    m->n = argc;
    m->keys = xalloc(x, (argc + 1) * sizeof *m->keys);
    m->vals = xalloc(x, (argc + 1) * sizeof *m->vals);
    for (size_t i = 0; i < argc; i++) {
        char key[32];
        int n = snprintf(key, sizeof key, "arg%zu", i);
        m->keys[i] = xstrndup(x, key, (size_t)n);
        m->vals[i] = argv[i];
    }
    /* "arg10" sorts before "arg2", as Go orders map keys. */
    for (size_t i = 1; i < argc; i++)
        for (size_t j = i; j > 0 && strcmp(m->keys[j - 1], m->keys[j]) > 0; j--) {
            const char *k = m->keys[j];
            struct value v = m->vals[j];
            m->keys[j] = m->keys[j - 1], m->vals[j] = m->vals[j - 1];
            m->keys[j - 1] = k, m->vals[j - 1] = v;
        }
    return (struct value){.kind = V_MAP, .sub = SUB_ANY, .u.map = m};
}

static struct value fn_safe_html(struct exec *x, const struct value *argv, size_t argc)
{
    (void)x, (void)argc;
    struct value v = argv[0];
    v.sub = SUB_HTML;
    return v;
}

/* toUpper, toLower and title's first letters: rune by rune. */
static struct value map_runes(struct exec *x, const struct value *s, uint32_t (*f)(uint32_t),
                              bool word_starts_only)
{
    struct sb b = {.x = x};
    sb_put(&b, "", 0);
    bool in_word = false;
    for (size_t i = 0; i < s->u.s.len;) {
        uint32_t r;
        size_t w = utf8_decode(s->u.s.p + i, s->u.s.len - i, &r);
        bool word_char = r >= 0x80 || is_alnum((int)r);
        if ((r == RUNE_ERROR && w == 1) || (word_starts_only && in_word))
            sb_put(&b, s->u.s.p + i, w);
        else
            sb_put_rune(&b, f(r));
        in_word = word_char;
        i += w;
    }
    return sb_value(&b);
}

static struct value fn_to_upper(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    return map_runes(x, &argv[0], rune_upper, false);
}

static struct value fn_to_lower(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    return map_runes(x, &argv[0], rune_lower, false);
}

/* cases.Title(language.AmericanEnglish, cases.NoLower): upper-cases word starts. */
static struct value fn_title(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    return map_runes(x, &argv[0], rune_upper, true);
}

static struct value graph_link(struct exec *x, const struct value *expr, int tab)
{
    struct sb b = {.x = x};
    sb_puts(&b, "/graph?g0.expr=");
    query_escape(&b, expr->u.s.p, expr->u.s.len);
    sb_printf(&b, "&g0.tab=%d", tab);
    return sb_value(&b);
}

static struct value fn_graph_link(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    return graph_link(x, &argv[0], 0);
}

static struct value fn_table_link(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    return graph_link(x, &argv[0], 1);
}

/* net.SplitHostPort: false when s is not host:port. */
static bool split_host_port(const char *s, size_t n, size_t *host_at, size_t *host_len,
                            size_t *port_at)
{
    const char *colon = NULL;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ':')
            colon = s + i;
    if (!colon)
        return false;
    size_t i = (size_t)(colon - s), j = 0, k = 0, at = 0, len = i;
    if (s[0] == '[') {
        const char *end = memchr(s, ']', n);
        if (!end || (size_t)(end - s) + 1 != i)
            return false;
        at = j = 1;
        len = (size_t)(end - s) - 1;
        k = (size_t)(end - s) + 1;
    } else if (memchr(s, ':', i)) {
        return false;
    }
    if (memchr(s + j, '[', n - j) || memchr(s + k, ']', n - k))
        return false;
    *host_at = at;
    *host_len = len;
    *port_at = i + 1;
    return true;
}

static struct value fn_strip_port(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    size_t h, hl, p;
    if (!split_host_port(argv[0].u.s.p, argv[0].u.s.len, &h, &hl, &p))
        return argv[0];
    return str_value(xstrndup(x, argv[0].u.s.p + h, hl), hl);
}

static bool is_ip(struct exec *x, const char *s, size_t n)
{
    char *c = xstrndup(x, s, n);
    unsigned char buf[16];
    return inet_pton(AF_INET, c, buf) == 1 || inet_pton(AF_INET6, c, buf) == 1;
}

static struct value fn_strip_domain(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    const char *s = argv[0].u.s.p;
    size_t n = argv[0].u.s.len, h = 0, hl = n, p = n;
    if (!split_host_port(s, n, &h, &hl, &p))
        h = 0, hl = n, p = n;
    if (is_ip(x, s + h, hl))
        return argv[0];
    const char *dot = memchr(s + h, '.', hl);
    size_t short_len = dot ? (size_t)(dot - (s + h)) : hl;
    struct sb b = {.x = x};
    bool port = p < n, bracket = port && memchr(s + h, ':', short_len);
    if (bracket)
        sb_putc(&b, '[');
    sb_put(&b, s + h, short_len);
    if (bracket)
        sb_putc(&b, ']');
    if (port) {
        sb_putc(&b, ':');
        sb_put(&b, s + p, n - p);
    }
    return sb_value(&b);
}

/* The external URL's path: everything from the first '/' after "scheme://host". */
static const char *url_path(const char *url)
{
    const char *s = strstr(url, "://");
    s = s ? s + 3 : url;
    s = strchr(s, '/');
    if (!s)
        return "";
    return s;
}

static struct value fn_path_prefix(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argv, (void)argc;
    const char *url = x->d->external_url ? x->d->external_url : "";
    const char *p = url_path(url);
    size_t n = strcspn(p, "?#");
    return str_value(xstrndup(x, p, n), n);
}

static struct value fn_external_url(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argv, (void)argc;
    const char *url = x->d->external_url ? x->d->external_url : "";
    return str_value(url, strlen(url));
}

/* ---- regular expressions: Go's regexp semantics on PCRE2 ---- */

static void regex_free(struct exec *x, struct regex *re)
{
    pcre2_match_data_free(re->md);
    pcre2_match_context_free(re->mc);
    pcre2_code_free(re->code);
    *re = (struct regex){0};
    x->live_re = NULL;
}

/* Compiles pattern (UTF-8, $ only at the end as in Go); NULL or the error message. */
static char *regex_compile(struct exec *x, struct regex *re, const struct value *pattern)
{
    int code;
    PCRE2_SIZE off;
    re->code = pcre2_compile((PCRE2_SPTR)pattern->u.s.p, pattern->u.s.len,
                             PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY, &code,
                             &off, NULL);
    if (!re->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        struct sb b = {.x = x};
        sb_printf(&b, "error parsing regexp: %s: ", (const char *)msg);
        go_regexp_quote(&b, pattern->u.s.p, pattern->u.s.len);
        return b.p;
    }
    re->md = pcre2_match_data_create_from_pattern(re->code, NULL);
    re->mc = pcre2_match_context_create(NULL);
    pcre2_set_match_limit(re->mc, REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(re->mc, REGEX_DEPTH_LIMIT);
    x->live_re = re;
    return NULL;
}

/* 1: a match starting at or after start; 0: none. A PCRE2 failure fails the call. */
static int regex_find(struct exec *x, struct regex *re, const struct value *s, size_t start)
{
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s->u.s.p, s->u.s.len, start, 0, re->md, re->mc);
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc < 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof msg);
        call_fail(x, "regexp: %s", (const char *)msg);
    }
    return 1;
}

static struct value fn_match(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    struct regex re = {0};
    char *err = regex_compile(x, &re, &argv[0]);
    if (err)
        call_fail(x, "%s", err);
    int found = regex_find(x, &re, &argv[1], 0);
    regex_free(x, &re);
    return bool_value(found);
}

/* Go's regexp extract(): "$name" or "${name}" at the start of t. */
static bool expand_name(const char *t, size_t n, size_t *name_at, size_t *name_len, size_t *used)
{
    bool brace = n > 0 && t[0] == '{';
    size_t i = brace;
    while (i < n && is_alnum(t[i]))
        i++;
    if (i == (size_t)brace || (brace && (i >= n || t[i] != '}')))
        return false;
    *name_at = brace;
    *name_len = i - brace;
    *used = i + brace;
    return true;
}

/* The group a name refers to: a number without leading zeros, or a named group; -1 none. */
static int expand_group(const struct regex *re, const char *name, size_t n)
{
    int num = 0;
    for (size_t i = 0; i < n && num >= 0; i++)
        num = name[i] >= '0' && name[i] <= '9' && num < 100000000 ? num * 10 + (name[i] - '0') : -1;
    if (num >= 0 && !(name[0] == '0' && n > 1))
        return num;
    char buf[256];
    if (n >= sizeof buf)
        return -1;
    memcpy(buf, name, n);
    buf[n] = '\0';
    int g = pcre2_substring_number_from_name(re->code, (PCRE2_SPTR)buf);
    return g < 0 ? -1 : g;
}

/* Go's Regexp.Expand of repl for the current match ($1, ${name}, $$). */
static void expand(struct sb *b, const struct regex *re, const struct value *repl,
                   const struct value *src)
{
    const char *t = repl->u.s.p;
    size_t n = repl->u.s.len, i = 0;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
    uint32_t groups = pcre2_get_ovector_count(re->md);
    while (i < n) {
        const char *dollar = memchr(t + i, '$', n - i);
        size_t upto = dollar ? (size_t)(dollar - t) : n;
        sb_put(b, t + i, upto - i);
        if (!dollar)
            return;
        i = upto + 1;
        size_t at, len, used;
        if (i < n && t[i] == '$') {
            sb_putc(b, '$');
            i++;
        } else if (!expand_name(t + i, n - i, &at, &len, &used)) {
            sb_putc(b, '$');
        } else {
            int g = expand_group(re, t + i + at, len);
            if (g >= 0 && (uint32_t)g < groups && ov[2 * g] != PCRE2_UNSET)
                sb_put(b, src->u.s.p + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
            i += used;
        }
    }
}

static struct value fn_re_replace_all(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    struct regex re = {0};
    char *err = regex_compile(x, &re, &argv[0]);
    if (err) {
        struct sb b = {.x = x};
        sb_puts(&b, "regexp: Compile(");
        go_regexp_quote(&b, argv[0].u.s.p, argv[0].u.s.len);
        call_fail(x, "%s): %s", b.p, err);
    }
    const struct value *src = &argv[2];
    size_t n = src->u.s.len, last = 0, search = 0;
    struct sb out = {.x = x};
    sb_put(&out, "", 0);
    while (search <= n && regex_find(x, &re, src, search)) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re.md);
        size_t a0 = ov[0], a1 = ov[1];
        sb_put(&out, src->u.s.p + last, a0 - last);
        if (a1 > last || a0 == 0) /* not the empty match right after a match */
            expand(&out, &re, &argv[1], src);
        last = a1;
        uint32_t r;
        size_t width = utf8_decode(src->u.s.p + search, n - search, &r);
        search = search + width > a1 ? search + width : search + 1 > a1 ? search + 1 : a1;
    }
    regex_free(x, &re);
    sb_put(&out, src->u.s.p + last, n - last);
    return sb_value(&out);
}

/* ---- query results ---- */

struct dw_tmpl_vector {
    struct exec *x;
    const struct vsample **items;
    size_t n, cap;
    bool full;
};

static int label_cmp(const void *a, const void *b)
{
    const struct dw_label *x = a, *y = b;
    return strcmp(x->name, y->name);
}

/* A map[string]string of labels, names sorted, in the arena (copied when asked); false if full. */
static bool labels_map(struct arena *ar, struct vmap *m, const struct dw_label *l, size_t n,
                       bool copy)
{
    struct dw_label *sorted = arena_try(ar, (n + 1) * sizeof *sorted);
    m->keys = arena_try(ar, (n + 1) * sizeof *m->keys);
    m->vals = arena_try(ar, (n + 1) * sizeof *m->vals);
    if (!sorted || !m->keys || !m->vals)
        return false;
    if (n)
        memcpy(sorted, l, n * sizeof *l);
    qsort(sorted, n, sizeof *sorted, label_cmp);
    m->n = n;
    for (size_t i = 0; i < n; i++) {
        const char *k = sorted[i].name, *v = sorted[i].value ? sorted[i].value : "";
        size_t kl = strlen(k), vl = strlen(v);
        if (copy) {
            char *kc = arena_try(ar, kl + 1), *vc = arena_try(ar, vl + 1);
            if (!kc || !vc)
                return false;
            k = memcpy(kc, k, kl + 1);
            v = memcpy(vc, v, vl + 1);
        }
        m->keys[i] = k;
        m->vals[i] = str_value(v, vl);
    }
    return true;
}

int dw_tmpl_vector_add(struct dw_tmpl_vector *v, const struct dw_label *labels, size_t nlabels,
                       double value)
{
    if (v->full)
        return -1;
    struct arena *ar = &v->x->ar;
    struct vsample *s = arena_try(ar, sizeof *s);
    if (!s || !labels_map(ar, &s->labels, labels, nlabels, true)) {
        v->full = true;
        return -1;
    }
    s->value = value;
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        const struct vsample **items = arena_try(ar, cap * sizeof *items);
        if (!items) {
            v->full = true;
            return -1;
        }
        if (v->n)
            memcpy(items, v->items, v->n * sizeof *items);
        v->items = items;
        v->cap = cap;
    }
    v->items[v->n++] = s;
    return 0;
}

static struct value list_value(struct exec *x, const struct vsample **items, size_t n)
{
    struct vlist *l = xalloc(x, sizeof *l);
    l->items = items;
    l->n = n;
    return (struct value){.kind = V_LIST, .u.list = l};
}

static struct value fn_query(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    if (!x->d->query)
        call_fail(x, "query is not available");
    struct dw_tmpl_vector v = {.x = x};
    char err[512] = "";
    int rc = x->d->query(x->d->query_ctx, argv[0].u.s.p, x->d->now_ms, &v, err, sizeof err);
    if (v.full)
        exec_limit(x, "query results take more than %u bytes of memory", DW_TMPL_MAX_MEMORY);
    if (rc != 0)
        call_fail(x, "%s", err[0] ? err : "query failed");
    return list_value(x, v.items, v.n);
}

static struct value fn_first(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    if (argv[0].kind == V_NIL || argv[0].u.list->n == 0)
        call_fail(x, "first() called on vector with no elements");
    return (struct value){.kind = V_SAMPLE, .u.sample = argv[0].u.list->items[0]};
}

static const struct vsample *need_sample(struct exec *x, const struct value *v)
{
    if (v->kind == V_NIL)
        call_fail(x, "runtime error: invalid memory address or nil pointer dereference");
    return v->u.sample;
}

static struct value fn_label(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    const struct value *v = map_get(&need_sample(x, &argv[1])->labels, argv[0].u.s.p);
    return v ? *v : str_value("", 0);
}

static struct value fn_value(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    return float_value(need_sample(x, &argv[0])->value);
}

static struct value fn_strvalue(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    const struct value *v = map_get(&need_sample(x, &argv[0])->labels, "__value__");
    return v ? *v : str_value("", 0);
}

/* sortByLabel: a stable sort on one label's value (a copy; Go sorts in place). */
static struct value fn_sort_by_label(struct exec *x, const struct value *argv, size_t argc)
{
    (void)argc;
    if (argv[1].kind == V_NIL)
        return argv[1];
    size_t n = argv[1].u.list->n;
    const struct vsample **items = xalloc(x, (n + 1) * sizeof *items);
    const char **keys = xalloc(x, (n + 1) * sizeof *keys);
    for (size_t i = 0; i < n; i++) {
        items[i] = argv[1].u.list->items[i];
        const struct value *v = map_get(&items[i]->labels, argv[0].u.s.p);
        keys[i] = v ? v->u.s.p : "";
    }
    for (size_t i = 1; i < n; i++) /* insertion sort: stable */
        for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            const struct vsample *s = items[j];
            const char *k = keys[j];
            items[j] = items[j - 1], keys[j] = keys[j - 1];
            items[j - 1] = s, keys[j - 1] = k;
        }
    return list_value(x, items, n);
}

/* ---- the function map ---- */

#define F1(name, p0, fn)                                                                           \
    {                                                                                              \
        name, 1, false, {p0}, P_ANY, false, fn                                                     \
    }
#define F0(name, fn)                                                                               \
    {                                                                                              \
        name, 0, false, {P_ANY}, P_ANY, false, fn                                                  \
    }
#define FV(name, nfixed, p0, rest, fn)                                                             \
    {                                                                                              \
        name, nfixed, true, {p0}, rest, false, fn                                                  \
    }

static const struct func funcs[] = {
    /* Go's builtins */
    {"and", 1, true, {P_ANY}, P_ANY, true, NULL},
    {"or", 1, true, {P_ANY}, P_ANY, true, NULL},
    F1("not", P_ANY, fn_not),
    F1("len", P_ANY, fn_len),
    FV("index", 1, P_ANY, P_ANY, fn_index),
    FV("slice", 1, P_ANY, P_ANY, fn_slice),
    FV("eq", 1, P_ANY, P_ANY, fn_eq),
    {"ne", 2, false, {P_ANY, P_ANY}, P_ANY, false, fn_ne},
    {"lt", 2, false, {P_ANY, P_ANY}, P_ANY, false, fn_lt},
    {"le", 2, false, {P_ANY, P_ANY}, P_ANY, false, fn_le},
    {"gt", 2, false, {P_ANY, P_ANY}, P_ANY, false, fn_gt},
    {"ge", 2, false, {P_ANY, P_ANY}, P_ANY, false, fn_ge},
    FV("print", 0, P_ANY, P_ANY, fn_print),
    FV("printf", 1, P_STRING, P_ANY, fn_printf),
    FV("println", 0, P_ANY, P_ANY, fn_println),
    FV("html", 0, P_ANY, P_ANY, fn_html),
    FV("js", 0, P_ANY, P_ANY, fn_js),
    FV("urlquery", 0, P_ANY, P_ANY, fn_urlquery),
    /* Prometheus's */
    FV("args", 0, P_ANY, P_ANY, fn_args),
    F0("externalURL", fn_external_url),
    F1("first", P_LIST, fn_first),
    F1("graphLink", P_STRING, fn_graph_link),
    F1("humanize", P_ANY, fn_humanize),
    F1("humanize1024", P_ANY, fn_humanize1024),
    F1("humanizeDuration", P_ANY, fn_humanize_duration),
    F1("humanizePercentage", P_ANY, fn_humanize_percentage),
    F1("humanizeTimestamp", P_ANY, fn_humanize_timestamp),
    {"label", 2, false, {P_STRING, P_SAMPLE}, P_ANY, false, fn_label},
    {"match", 2, false, {P_STRING, P_STRING}, P_ANY, false, fn_match},
    F1("parseDuration", P_STRING, fn_parse_duration),
    F0("pathPrefix", fn_path_prefix),
    F1("query", P_STRING, fn_query),
    {"reReplaceAll", 3, false, {P_STRING, P_STRING, P_STRING}, P_ANY, false, fn_re_replace_all},
    F1("safeHtml", P_STRING, fn_safe_html),
    {"sortByLabel", 2, false, {P_STRING, P_LIST}, P_ANY, false, fn_sort_by_label},
    F1("stripDomain", P_STRING, fn_strip_domain),
    F1("stripPort", P_STRING, fn_strip_port),
    F1("strvalue", P_SAMPLE, fn_strvalue),
    F1("tableLink", P_STRING, fn_table_link),
    F1("title", P_STRING, fn_title),
    F1("toLower", P_STRING, fn_to_lower),
    F1("toTime", P_ANY, fn_to_time),
    F1("toUpper", P_STRING, fn_to_upper),
    F1("value", P_SAMPLE, fn_value),
};

static const struct func *func_lookup(const char *name)
{
    for (size_t i = 0; i < DW_ARRAY_LEN(funcs); i++)
        if (strcmp(funcs[i].name, name) == 0)
            return &funcs[i];
    return NULL;
}

/* ---- walking the tree ---- */

enum walk { W_NEXT, W_BREAK, W_CONTINUE };

static enum walk walk_list(struct exec *x, struct value dot, const struct node *n);

static void out_put(struct exec *x, const char *s, size_t n)
{
    if (dw_buf_append(&x->out, s, n) != 0)
        exec_limit(x, "output is larger than %u bytes", DW_TMPL_MAX_OUTPUT);
}

/* text/template's printValue: <no value> for nil, pointers shown as what they point to. */
static void print_value(struct exec *x, const struct value *v)
{
    struct sb b = {.x = x};
    struct fmtspec f = {0};
    if (v->kind == V_NIL)
        sb_puts(&b, "<no value>");
    else if (v->kind == V_SAMPLE)
        fmt_sample(&b, &f, v->u.sample, 'v', 0);
    else
        fmt_arg(&b, &f, v, 'v', 0);
    out_put(x, b.p ? b.p : "", b.len);
}

static enum walk walk_if_with(struct exec *x, struct value dot, const struct node *n)
{
    size_t mark = x->nvars;
    struct value v = eval_pipeline(x, dot, n->pipe);
    enum walk w = W_NEXT;
    if (truth(&v))
        w = walk_list(x, n->type == N_WITH ? v : dot, n->list);
    else if (n->else_list)
        w = walk_list(x, dot, n->else_list);
    x->nvars = mark;
    return w;
}

static enum walk walk_range(struct exec *x, struct value dot, const struct node *n)
{
    size_t mark = x->nvars;
    struct value v = eval_pipeline(x, dot, n->pipe);
    size_t top = x->nvars, count = 0;
    if (v.kind == V_LIST)
        count = v.u.list->n;
    else if (v.kind == V_MAP)
        count = v.u.map->n;
    else if (v.kind != V_NIL) {
        struct sb b = {.x = x};
        struct fmtspec f = {0};
        fmt_arg(&b, &f, &v, 'v', 0);
        exec_fail(x, "range can't iterate over %s", b.p);
    }
    for (size_t i = 0; i < count; i++) {
        step(x);
        struct value key = int_value((int64_t)i), elem;
        if (v.kind == V_LIST) {
            elem = (struct value){.kind = V_SAMPLE, .u.sample = v.u.list->items[i]};
        } else {
            key = str_value(v.u.map->keys[i], strlen(v.u.map->keys[i]));
            elem = v.u.map->vals[i];
            elem.boxed = v.sub == SUB_ANY;
        }
        if (n->pipe->ndecl > 0)
            x->vars[top - 1].v = elem;
        if (n->pipe->ndecl > 1)
            x->vars[top - 2].v = key;
        enum walk w = walk_list(x, elem, n->list);
        x->nvars = top;
        if (w == W_BREAK)
            break;
    }
    enum walk w = W_NEXT;
    if (count == 0 && n->else_list)
        w = walk_list(x, dot, n->else_list); /* a break here belongs to an outer range */
    x->nvars = mark;
    return w;
}

static const struct tdef *find_def(const struct dw_tmpl *t, const char *name)
{
    for (size_t i = 0; i < t->ndefs; i++)
        if (strcmp(t->defs[i].name, name) == 0)
            return &t->defs[i];
    return NULL;
}

static void walk_template(struct exec *x, struct value dot, const struct node *n)
{
    x->at = (struct at){AT_TEMPLATE, n, n->pos};
    const struct tdef *def = find_def(x->t, n->name);
    if (!def) {
        struct sb q = {.x = x};
        go_quote(&q, n->name, strlen(n->name), false);
        exec_fail(x, "template %s not defined", q.p);
    }
    if (x->depth >= DW_TMPL_MAX_DEPTH)
        exec_fail(x, "exceeded maximum template depth (%d)", DW_TMPL_MAX_DEPTH);
    struct value v = eval_pipeline(x, dot, n->pipe);
    const struct tdef *cur = x->cur;
    size_t mark = x->nvars, base = x->var_base;
    x->var_base = x->nvars; /* no dynamic scoping: the callee sees only "$" */
    push_value(x, "$", v);
    x->cur = def;
    x->depth++;
    walk_list(x, v, def->body);
    x->depth--;
    x->cur = cur;
    x->nvars = mark;
    x->var_base = base;
}

static enum walk walk_node(struct exec *x, struct value dot, const struct node *n)
{
    step(x);
    switch (n->type) {
    case N_TEXT: out_put(x, n->text, n->len); return W_NEXT;
    case N_ACTION: {
        struct value v = eval_pipeline(x, dot, n->pipe);
        if (n->pipe->ndecl == 0)
            print_value(x, &v);
        return W_NEXT;
    }
    case N_IF:
    case N_WITH: return walk_if_with(x, dot, n);
    case N_RANGE: return walk_range(x, dot, n);
    case N_TEMPLATE: walk_template(x, dot, n); return W_NEXT;
    case N_BREAK: return W_BREAK;
    case N_CONTINUE: return W_CONTINUE;
    }
    return W_NEXT;
}

static enum walk walk_list(struct exec *x, struct value dot, const struct node *n)
{
    for (; n; n = n->next) {
        enum walk w = walk_node(x, dot, n);
        if (w != W_NEXT)
            return w;
    }
    return W_NEXT;
}

/* ---- entry points ---- */

static int parse_protected(struct parser *p)
{
    if (setjmp(p->jb) != 0)
        return -1;
    parse_top(p);
    return 0;
}

struct dw_tmpl *dw_tmpl_compile(const char *name, const char *text, char *err, size_t errcap)
{
    char dummy[1];
    if (!err || errcap == 0)
        err = dummy, errcap = sizeof dummy;
    err[0] = '\0';
    size_t n = strlen(text);
    if (n > DW_TMPL_MAX_TEXT) {
        snprintf(err, errcap, "template: %s: text longer than %u bytes", name, DW_TMPL_MAX_TEXT);
        return NULL;
    }
    struct dw_tmpl *t = dw_calloc(1, sizeof *t);
    arena_init(&t->ar, 0);
    char *nm = arena_try(&t->ar, strlen(name) + 1), *tx = arena_try(&t->ar, n + 1);
    t->name = memcpy(nm, name, strlen(name) + 1);
    t->text = memcpy(tx, text, n + 1);
    t->len = n;
    struct lexer l = {.s = t->text, .n = n, .ar = &t->ar};
    lex_all(&l);
    struct parser p = {.name = t->name,
                       .s = t->text,
                       .toks = l.toks,
                       .ntoks = l.ntoks,
                       .ar = &t->ar,
                       .t = t,
                       .err = err,
                       .errcap = errcap};
    int rc = parse_protected(&p);
    free(l.toks);
    free(p.vars);
    if (rc != 0)
        dw_tmpl_free(&t);
    return t;
}

void dw_tmpl_free(struct dw_tmpl **t)
{
    if (!t || !*t)
        return;
    arena_release(&(*t)->ar);
    free(*t);
    *t = NULL;
}

const char *dw_tmpl_name(const struct dw_tmpl *t)
{
    return t->name;
}

bool dw_tmpl_is_literal(const char *text)
{
    return strstr(text, "{{") == NULL;
}

/* Dot and the prelude's variables: {{$labels := .Labels}} and friends. */
static void bind_data(struct exec *x)
{
    const struct dw_tmpl_data *d = x->d;
    struct valert *a = xalloc(x, sizeof *a);
    if (!labels_map(&x->ar, &a->labels, d->labels, d->nlabels, false) ||
        !labels_map(&x->ar, &a->external, d->external, d->nexternal, false))
        exec_limit(x, "labels take more than %u bytes of memory", DW_TMPL_MAX_MEMORY);
    const char *url = d->external_url ? d->external_url : "";
    a->url = str_value(url, strlen(url));
    a->value = d->value;
    struct value dot = {.kind = V_ALERT, .u.alert = a};
    push_value(x, "$", dot);
    push_value(x, "$labels", (struct value){.kind = V_MAP, .u.map = &a->labels});
    push_value(x, "$externalLabels", (struct value){.kind = V_MAP, .u.map = &a->external});
    push_value(x, "$externalURL", a->url);
    push_value(x, "$value", float_value(a->value));
}

static int run_protected(struct exec *x)
{
    if (setjmp(x->jb) != 0)
        return -1;
    bind_data(x);
    walk_list(x, x->vars[0].v, x->cur->body);
    return 0;
}

int dw_tmpl_execute(const struct dw_tmpl *t, const struct dw_tmpl_data *d, struct dw_buf *out,
                    char *err, size_t errcap)
{
    static const struct dw_tmpl_data empty;
    struct exec *x = dw_calloc(1, sizeof *x);
    x->t = t;
    x->d = d ? d : &empty;
    x->cur = find_def(t, t->name);
    arena_init(&x->ar, DW_TMPL_MAX_MEMORY);
    dw_buf_init(&x->out, DW_TMPL_MAX_OUTPUT);
    int rc = run_protected(x);
    if (rc == 0 && dw_buf_append(out, x->out.data ? x->out.data : "", x->out.len) != 0) {
        rc = -1;
        x->msg = dw_asprintf("template: %s: output does not fit the output buffer", t->name);
    }
    if (rc != 0 && err && errcap)
        snprintf(err, errcap, "error executing template %s: %s", t->name, x->msg);
    if (x->live_re)
        regex_free(x, x->live_re);
    free(x->msg);
    free(x->vars);
    dw_buf_release(&x->out);
    arena_release(&x->ar);
    free(x);
    return rc;
}

char *dw_tmpl_expand(const char *name, const char *text, const struct dw_tmpl_data *d, char **err)
{
    if (err)
        *err = NULL;
    if (dw_tmpl_is_literal(text))
        return dw_strdup(text);
    char msg[2048];
    struct dw_tmpl *t = dw_tmpl_compile(name, text, msg, sizeof msg);
    if (!t) {
        if (err)
            *err = dw_asprintf("error parsing template %s: %s", name, msg);
        return NULL;
    }
    struct dw_buf out;
    dw_buf_init(&out, 0);
    int rc = dw_tmpl_execute(t, d, &out, msg, sizeof msg);
    dw_tmpl_free(&t);
    if (rc != 0) {
        dw_buf_release(&out);
        if (err)
            *err = dw_strdup(msg);
        return NULL;
    }
    dw_buf_puts(&out, "");
    return dw_buf_steal(&out);
}
