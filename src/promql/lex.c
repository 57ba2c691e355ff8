/*
 * lex.c - the PromQL lexer: Prometheus 2.42's state machine, token by token.
 *
 * DESIGN: Prometheus lexes with context (lex.go): inside braces every word is
 * a label name and only matcher operators exist; right after '[' a duration
 * must follow; inside brackets ':' separates range and step; paren depth is
 * tracked so a missing ')' is reported at the end of input. The same states
 * are kept here as flags, and the parser pulls one token at a time. Keywords
 * are case-insensitive ("SUM", "By"), "inf" and "nan" are numbers, and a word
 * holding ':' is a metric identifier. Comments (# to end of line) are
 * skipped. Error messages and their positions are Prometheus's, e.g.
 * `unexpected character after '!': '~'` at the '!'.
 *
 * Positions are byte offsets. A lexer belongs to one parse on one thread.
 */
#include <string.h>

#include "promql/promql_internal.h"

#define RUNE_EOF 0xFFFFFFFFu

void lexer_init(struct lexer *l, const char *in, size_t len, struct arena *arena)
{
    memset(l, 0, sizeof *l);
    l->in = in;
    l->len = len;
    l->arena = arena;
}

/* ---- rune-level helpers, mirroring lex.go's next/peek/backup/accept ---- */

static uint32_t next(struct lexer *l, size_t *width)
{
    if (l->pos >= l->len) {
        *width = 0;
        return RUNE_EOF;
    }
    uint32_t r = utf8_decode(l->in + l->pos, l->len - l->pos, width);
    l->pos += *width;
    return r;
}

static uint32_t peek(struct lexer *l)
{
    size_t w;
    uint32_t r = next(l, &w);
    l->pos -= w;
    return r;
}

static bool accept(struct lexer *l, const char *valid)
{
    uint32_t r = peek(l);
    if (r != RUNE_EOF && r < 0x80 && r != 0 && strchr(valid, (int)r)) {
        l->pos++;
        return true;
    }
    return false;
}

static void accept_run(struct lexer *l, const char *valid)
{
    while (accept(l, valid))
        ;
}

static bool is_space(uint32_t r)
{
    return r == ' ' || r == '\t' || r == '\n' || r == '\r';
}

static bool is_alpha(uint32_t r)
{
    return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z');
}

static bool is_digit(uint32_t r)
{
    return r >= '0' && r <= '9';
}

static bool is_alnum(uint32_t r)
{
    return is_alpha(r) || is_digit(r);
}

static void emit(struct lexer *l, struct token *t, enum tok type)
{
    t->type = type;
    t->pos = (uint32_t)l->start;
    t->len = (uint32_t)(l->pos - l->start);
    l->start = l->pos;
}

static void lex_error(struct lexer *l, struct token *t, struct dw_buf *msg)
{
    t->type = TOK_ERROR;
    t->pos = (uint32_t)l->start;
    t->len = 0;
    l->errmsg = arena_strndup(l->arena, msg->data ? msg->data : "", msg->len);
    l->errpos = l->start;
    l->done = true;
    dw_buf_release(msg);
}

static void lex_errorf(struct lexer *l, struct token *t, const char *fmt, ...) DW_PRINTF(3, 4);
static void lex_errorf(struct lexer *l, struct token *t, const char *fmt, ...)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    va_list ap;
    va_start(ap, fmt);
    dw_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    lex_error(l, t, &b);
}

/* "<prefix>'c'<suffix>": messages that quote one rune with %q. */
static void lex_error_rune(struct lexer *l, struct token *t, const char *prefix, uint32_t r,
                           const char *suffix)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, prefix);
    go_quote_rune(&b, r == RUNE_EOF ? 0xFFFD : r);
    dw_buf_puts(&b, suffix);
    lex_error(l, t, &b);
}

/* "<prefix>"text"": messages that quote the scanned text with %q. */
static void lex_error_text(struct lexer *l, struct token *t, const char *prefix)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, prefix);
    go_quote(&b, l->in + l->start, l->pos - l->start);
    lex_error(l, t, &b);
}

static void skip_spaces(struct lexer *l)
{
    while (is_space(peek(l)))
        l->pos++;
    l->start = l->pos;
}

static void skip_comment(struct lexer *l)
{
    l->pos++; /* '#' */
    while (l->pos < l->len && l->in[l->pos] != '\n' && l->in[l->pos] != '\r')
        l->pos++;
    l->start = l->pos;
}

/* ---- numbers and durations ---- */

/* scanNumber: true when what was scanned is not followed by a letter or digit. */
static bool scan_number(struct lexer *l)
{
    const char *digits = "0123456789";
    if (accept(l, "0") && accept(l, "xX"))
        digits = "0123456789abcdefABCDEF";
    accept_run(l, digits);
    if (accept(l, "."))
        accept_run(l, digits);
    if (accept(l, "eE")) {
        accept(l, "+-");
        accept_run(l, "0123456789");
    }
    return !is_alnum(peek(l));
}

/*
 * acceptRemainingDuration: a unit, then digit-run/unit pairs; on success the
 * first rune after the duration has been consumed (the caller backs up).
 */
static bool accept_remaining_duration(struct lexer *l, size_t *last_w)
{
    if (!accept(l, "smhdwy"))
        return false;
    accept(l, "s");
    while (accept(l, "0123456789")) {
        accept_run(l, "0123456789");
        if (!accept(l, "smhdw"))
            return false;
        accept(l, "s");
    }
    return !is_alnum(next(l, last_w));
}

static void lex_number_or_duration(struct lexer *l, struct token *t)
{
    if (scan_number(l)) {
        emit(l, t, TOK_NUMBER);
        return;
    }
    size_t w;
    if (accept_remaining_duration(l, &w)) {
        l->pos -= w;
        emit(l, t, TOK_DURATION);
        return;
    }
    lex_error_text(l, t, "bad number or duration syntax: ");
}

/* Right after '[': only a duration may follow. */
static void lex_duration(struct lexer *l, struct token *t)
{
    if (scan_number(l)) {
        lex_errorf(l, t, "missing unit character in duration");
        return;
    }
    size_t w;
    if (!accept_remaining_duration(l, &w)) {
        lex_error_text(l, t, "bad duration syntax: ");
        return;
    }
    l->pos -= w;
    emit(l, t, TOK_DURATION);
}

/* ---- strings ---- */

static int digit_val(uint32_t r)
{
    if (r >= '0' && r <= '9')
        return (int)(r - '0');
    if (r >= 'a' && r <= 'f')
        return (int)(r - 'a' + 10);
    if (r >= 'A' && r <= 'F')
        return (int)(r - 'A' + 10);
    return 16;
}

static void lex_error_unicode(struct lexer *l, struct token *t, const char *prefix, uint32_t r,
                              const char *suffix)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, prefix);
    go_unicode(&b, r);
    dw_buf_puts(&b, suffix);
    lex_error(l, t, &b);
}

/* One escape sequence after a backslash; false after reporting an error. */
static bool lex_escape(struct lexer *l, struct token *t)
{
    size_t w;
    uint32_t ch = next(l, &w);
    int n;
    uint32_t base, max;
    switch (ch) {
    case 'a':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
    case 'v':
    case '\\': return true;
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7': n = 3, base = 8, max = 255; break;
    case 'x':
        ch = next(l, &w);
        n = 2, base = 16, max = 255;
        break;
    case 'u':
        ch = next(l, &w);
        n = 4, base = 16, max = 0x10FFFF;
        break;
    case 'U':
        ch = next(l, &w);
        n = 8, base = 16, max = 0x10FFFF;
        break;
    case RUNE_EOF: lex_errorf(l, t, "escape sequence not terminated"); return false;
    default:
        if (ch == l->string_open)
            return true;
        lex_error_unicode(l, t, "unknown escape sequence ", ch, "");
        return false;
    }
    uint32_t x = 0;
    while (n > 0) {
        uint32_t d = (uint32_t)digit_val(ch);
        if (d >= base) {
            if (ch == RUNE_EOF)
                lex_errorf(l, t, "escape sequence not terminated");
            else
                lex_error_unicode(l, t, "illegal character ", ch, " in escape sequence");
            return false;
        }
        x = x * base + d;
        if (--n > 0)
            ch = next(l, &w);
    }
    if (x > max || (x >= 0xD800 && x < 0xE000)) {
        lex_errorf(l, t, "escape sequence is an invalid Unicode code point");
        return false;
    }
    return true;
}

static void lex_string(struct lexer *l, struct token *t)
{
    for (;;) {
        size_t w;
        uint32_t r = next(l, &w);
        if (r == '\\') {
            if (!lex_escape(l, t))
                return;
        } else if (r == 0xFFFD) {
            lex_errorf(l, t, "invalid UTF-8 rune");
            return;
        } else if (r == RUNE_EOF || r == '\n') {
            lex_errorf(l, t, "unterminated quoted string");
            return;
        } else if (r == l->string_open) {
            break;
        }
    }
    emit(l, t, TOK_STRING);
}

static void lex_raw_string(struct lexer *l, struct token *t)
{
    for (;;) {
        size_t w;
        uint32_t r = next(l, &w);
        if (r == 0xFFFD) {
            lex_errorf(l, t, "invalid UTF-8 rune");
            return;
        }
        if (r == RUNE_EOF) {
            lex_errorf(l, t, "unterminated raw string");
            return;
        }
        if (r == '`')
            break;
    }
    emit(l, t, TOK_STRING);
}

/* ---- words ---- */

static const struct {
    const char *word;
    enum tok type;
} keywords[] = {
    {"and", TOK_LAND},
    {"or", TOK_LOR},
    {"unless", TOK_LUNLESS},
    {"atan2", TOK_ATAN2},
    {"sum", TOK_SUM},
    {"avg", TOK_AVG},
    {"count", TOK_COUNT},
    {"min", TOK_MIN},
    {"max", TOK_MAX},
    {"group", TOK_GROUP},
    {"stddev", TOK_STDDEV},
    {"stdvar", TOK_STDVAR},
    {"topk", TOK_TOPK},
    {"bottomk", TOK_BOTTOMK},
    {"count_values", TOK_COUNT_VALUES},
    {"quantile", TOK_QUANTILE},
    {"offset", TOK_OFFSET},
    {"by", TOK_BY},
    {"without", TOK_WITHOUT},
    {"on", TOK_ON},
    {"ignoring", TOK_IGNORING},
    {"group_left", TOK_GROUP_LEFT},
    {"group_right", TOK_GROUP_RIGHT},
    {"bool", TOK_BOOL},
    {"start", TOK_START},
    {"end", TOK_END},
    {"inf", TOK_NUMBER},
    {"nan", TOK_NUMBER},
};

static enum tok classify_word(const char *w, size_t n)
{
    char lower[16];
    if (n < sizeof lower) {
        for (size_t i = 0; i < n; i++)
            lower[i] = (w[i] >= 'A' && w[i] <= 'Z') ? (char)(w[i] - 'A' + 'a') : w[i];
        for (size_t k = 0; k < DW_ARRAY_LEN(keywords); k++)
            if (strlen(keywords[k].word) == n && memcmp(keywords[k].word, lower, n) == 0)
                return keywords[k].type;
    }
    return memchr(w, ':', n) ? TOK_METRIC_IDENTIFIER : TOK_IDENTIFIER;
}

static void lex_keyword_or_identifier(struct lexer *l, struct token *t)
{
    for (;;) {
        uint32_t r = peek(l);
        if (!is_alnum(r) && r != ':')
            break;
        l->pos++;
    }
    emit(l, t, classify_word(l->in + l->start, l->pos - l->start));
}

/* ---- states ---- */

/* Inside {...}: returns false when it only skipped space or a comment. */
static bool lex_inside_braces(struct lexer *l, struct token *t)
{
    if (l->pos < l->len && l->in[l->pos] == '#') {
        skip_comment(l);
        return false;
    }
    size_t w;
    uint32_t r = next(l, &w);
    if (r == RUNE_EOF) {
        lex_errorf(l, t, "unexpected end of input inside braces");
    } else if (is_space(r)) {
        skip_spaces(l);
        return false;
    } else if (is_alpha(r)) {
        while (is_alnum(peek(l)))
            l->pos++;
        emit(l, t, TOK_IDENTIFIER);
    } else if (r == ',') {
        emit(l, t, TOK_COMMA);
    } else if (r == '"' || r == '\'') {
        l->string_open = r;
        lex_string(l, t);
    } else if (r == '`') {
        l->string_open = r;
        lex_raw_string(l, t);
    } else if (r == '=') {
        emit(l, t, accept(l, "~") ? TOK_EQL_REGEX : TOK_EQL);
    } else if (r == '!') {
        uint32_t nr = next(l, &w);
        if (nr == '~')
            emit(l, t, TOK_NEQ_REGEX);
        else if (nr == '=')
            emit(l, t, TOK_NEQ);
        else
            lex_error_rune(l, t, "unexpected character after '!' inside braces: ", nr, "");
    } else if (r == '{') {
        lex_error_rune(l, t, "unexpected left brace ", r, "");
    } else if (r == '}') {
        emit(l, t, TOK_RIGHT_BRACE);
        l->brace_open = false;
    } else {
        lex_error_rune(l, t, "unexpected character inside braces: ", r, "");
    }
    return true;
}

static void lex_operator(struct lexer *l, struct token *t, uint32_t r)
{
    switch (r) {
    case '=':
        if (peek(l) == '~') {
            lex_error_rune(l, t, "unexpected character after '=': ", '~', "");
            return;
        }
        emit(l, t, accept(l, "=") ? TOK_EQLC : TOK_EQL);
        return;
    case '!': {
        size_t w;
        uint32_t nr = next(l, &w);
        if (nr != '=')
            lex_error_rune(l, t, "unexpected character after '!': ", nr, "");
        else
            emit(l, t, TOK_NEQ);
        return;
    }
    case '<': emit(l, t, accept(l, "=") ? TOK_LTE : TOK_LSS); return;
    default: /* '>' */ emit(l, t, accept(l, "=") ? TOK_GTE : TOK_GTR); return;
    }
}

static void lex_bracket_word(struct lexer *l, struct token *t, uint32_t r)
{
    if (r != ':') {
        lex_error_rune(l, t, "unexpected character: ", r, ", expected ':'");
        return;
    }
    if (l->got_colon) {
        lex_error_rune(l, t, "unexpected colon ", r, "");
        return;
    }
    emit(l, t, TOK_COLON);
    l->got_colon = true;
}

static void lex_eof(struct lexer *l, struct token *t)
{
    if (l->paren_depth != 0)
        lex_errorf(l, t, "unclosed left parenthesis");
    else if (l->bracket_open)
        lex_errorf(l, t, "unclosed left bracket");
    else {
        emit(l, t, TOK_EOF);
        l->done = true;
    }
}

/* One token of lexStatements; false when it only skipped space or a comment. */
static bool lex_statement(struct lexer *l, struct token *t)
{
    if (l->pos < l->len && l->in[l->pos] == '#') {
        skip_comment(l);
        return false;
    }
    size_t w;
    uint32_t r = next(l, &w);
    static const char single[] = ",*/%+-^@";
    static const enum tok single_tok[] = {TOK_COMMA, TOK_MUL, TOK_DIV, TOK_MOD,
                                          TOK_ADD,   TOK_SUB, TOK_POW, TOK_AT};
    const char *s = (r != 0 && r < 0x80) ? strchr(single, (int)r) : NULL;
    if (r == RUNE_EOF) {
        lex_eof(l, t);
    } else if (s) {
        emit(l, t, single_tok[s - single]);
    } else if (is_space(r)) {
        skip_spaces(l);
        return false;
    } else if (r == '=' || r == '!' || r == '<' || r == '>') {
        lex_operator(l, t, r);
    } else if (is_digit(r) || (r == '.' && is_digit(peek(l)))) {
        l->pos -= w;
        lex_number_or_duration(l, t);
    } else if (r == '"' || r == '\'') {
        l->string_open = r;
        lex_string(l, t);
    } else if (r == '`') {
        l->string_open = r;
        lex_raw_string(l, t);
    } else if (is_alpha(r) || r == ':') {
        if (l->bracket_open) {
            lex_bracket_word(l, t, r);
        } else {
            l->pos -= w;
            lex_keyword_or_identifier(l, t);
        }
    } else if (r == '(') {
        emit(l, t, TOK_LEFT_PAREN);
        l->paren_depth++;
    } else if (r == ')') {
        emit(l, t, TOK_RIGHT_PAREN);
        if (--l->paren_depth < 0)
            lex_error_rune(l, t, "unexpected right parenthesis ", r, "");
    } else if (r == '{') {
        emit(l, t, TOK_LEFT_BRACE);
        l->brace_open = true;
    } else if (r == '[') {
        if (l->bracket_open) {
            lex_error_rune(l, t, "unexpected left bracket ", r, "");
            return true;
        }
        l->got_colon = false;
        emit(l, t, TOK_LEFT_BRACKET);
        skip_spaces(l);
        l->bracket_open = true;
        l->want_duration = true;
    } else if (r == ']') {
        if (!l->bracket_open) {
            lex_error_rune(l, t, "unexpected right bracket ", r, "");
            return true;
        }
        emit(l, t, TOK_RIGHT_BRACKET);
        l->bracket_open = false;
    } else {
        lex_error_rune(l, t, "unexpected character: ", r, "");
    }
    return true;
}

void lexer_next(struct lexer *l, struct token *t)
{
    if (l->done) {
        t->type = TOK_EOF;
        t->pos = (uint32_t)l->pos;
        t->len = 0;
        return;
    }
    for (;;) {
        if (l->want_duration) {
            l->want_duration = false;
            lex_duration(l, t);
            return;
        }
        bool got = l->brace_open ? lex_inside_braces(l, t) : lex_statement(l, t);
        if (got)
            return;
    }
}
