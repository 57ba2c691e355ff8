/*
 * promql_internal.h - what the files of the promql module share: the token
 * set, the lexer, the arena that owns a parsed tree, the parser state, and the
 * Go-compatible quoting helpers used by both error messages and the printer.
 * No other module includes this header.
 */
#ifndef DW_PROMQL_INTERNAL_H
#define DW_PROMQL_INTERNAL_H

#include <stdarg.h>

#include "promql/promql.h"

/* ---- tokens (Prometheus's item types; ranges mirror lex.go) ---- */

enum tok {
    TOK_EOF = 0,
    TOK_ERROR, /* the lexer's message is in lexer.errmsg */
    TOK_IDENTIFIER,
    TOK_METRIC_IDENTIFIER, /* an identifier holding a ':' */
    TOK_NUMBER,
    TOK_STRING,
    TOK_DURATION,
    TOK_LEFT_PAREN,
    TOK_RIGHT_PAREN,
    TOK_LEFT_BRACE,
    TOK_RIGHT_BRACE,
    TOK_LEFT_BRACKET,
    TOK_RIGHT_BRACKET,
    TOK_COMMA,
    TOK_EQL, /* = inside braces */
    TOK_COLON,

    /* Operators: the first sixteen follow enum dw_promql_binop. */
    TOK_ADD,
    TOK_SUB,
    TOK_MUL,
    TOK_DIV,
    TOK_MOD,
    TOK_POW,
    TOK_ATAN2,
    TOK_EQLC,
    TOK_NEQ,
    TOK_GTR,
    TOK_LSS,
    TOK_GTE,
    TOK_LTE,
    TOK_LAND,
    TOK_LOR,
    TOK_LUNLESS,
    TOK_EQL_REGEX,
    TOK_NEQ_REGEX,
    TOK_AT,

    /* Aggregators, in the order of enum dw_promql_agg. */
    TOK_SUM,
    TOK_AVG,
    TOK_COUNT,
    TOK_MIN,
    TOK_MAX,
    TOK_GROUP,
    TOK_STDDEV,
    TOK_STDVAR,
    TOK_TOPK,
    TOK_BOTTOMK,
    TOK_COUNT_VALUES,
    TOK_QUANTILE,

    /* Keywords. */
    TOK_BOOL,
    TOK_BY,
    TOK_GROUP_LEFT,
    TOK_GROUP_RIGHT,
    TOK_IGNORING,
    TOK_OFFSET,
    TOK_ON,
    TOK_WITHOUT,

    /* Preprocessors of the @ modifier. */
    TOK_START,
    TOK_END,
};

static inline bool tok_is_operator(enum tok t)
{
    return t >= TOK_ADD && t <= TOK_AT;
}
static inline bool tok_is_binop(enum tok t)
{
    return t >= TOK_ADD && t <= TOK_LUNLESS;
}
static inline bool tok_is_aggregator(enum tok t)
{
    return t >= TOK_SUM && t <= TOK_QUANTILE;
}
static inline bool tok_is_keyword(enum tok t)
{
    return t >= TOK_BOOL && t <= TOK_WITHOUT;
}

struct token {
    enum tok type;
    uint32_t pos; /* byte offset of the first character */
    uint32_t len; /* bytes of source text */
};

/* ---- arena: every allocation of one parsed query, freed at once ---- */

struct arena_chunk;

struct arena {
    struct arena_chunk *head;
};

void *arena_alloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...) DW_PRINTF(2, 3);
void arena_release(struct arena *a);

struct dw_promql_expr {
    struct arena arena;
    struct dw_promql_node *root;
    struct dw_promql_regex *regexes; /* every compiled regex, for cleanup */
    const char *query;               /* arena copy of the source */
    size_t query_len;
};

/* ---- lexer (lex.c): Prometheus's state machine, one token at a time ---- */

struct lexer {
    const char *in;
    size_t len;
    size_t pos;   /* next byte to read */
    size_t start; /* first byte of the token being scanned */
    int paren_depth;
    bool brace_open;
    bool bracket_open;
    bool got_colon;
    bool want_duration; /* just emitted '[': a duration must follow */
    bool done;          /* EOF or an error was returned: only EOF follows */
    uint32_t string_open;
    char *errmsg; /* arena; message of the last TOK_ERROR */
    size_t errpos;
    struct arena *arena;
};

void lexer_init(struct lexer *l, const char *in, size_t len, struct arena *arena);
void lexer_next(struct lexer *l, struct token *t);

/* Decodes one UTF-8 rune like Go: invalid input gives U+FFFD with width 1. */
uint32_t utf8_decode(const char *s, size_t n, size_t *width);

/* ---- Go-compatible formatting (quote.c) ---- */

/* strconv.Quote: "..." with Go escapes. */
void go_quote(struct dw_buf *b, const char *s, size_t n);
/* %.Nq: quotes the first `runes` runes of s. */
void go_quote_prefix(struct dw_buf *b, const char *s, size_t n, size_t runes);
/* strconv.QuoteRune: 'c'. */
void go_quote_rune(struct dw_buf *b, uint32_t r);
/* %#U: U+0063 'c'. */
void go_unicode(struct dw_buf *b, uint32_t r);
/* fmt.Sprint(float64): shortest digits; exponent form when the decimal
 * exponent is < -4 or >= 6 (1e+06, 1.5e-07), like strconv's 'g', -1. */
void go_format_float(struct dw_buf *b, double v);
/* fmt "%f" of a float64, with Go's +Inf/-Inf/NaN spellings. */
void go_format_fixed6(struct dw_buf *b, double v);
bool go_is_print(uint32_t r);

/* ---- number, duration and string literals (literal.c) ---- */

/*
 * Go's strconv.ParseInt(s, 0, 64) then ParseFloat(s, 64) as parser.number()
 * does. Returns 0, or -1 with a Go-style message in err.
 */
int promql_parse_number(const char *s, size_t n, double *out, struct dw_buf *err);
/* model.ParseDuration plus Prometheus's "duration must be greater than 0". */
int promql_parse_duration(const char *s, size_t n, int64_t *out_ms, struct dw_buf *err);
/* strutil.Unquote of a lexed string token (quotes included). */
int promql_unquote(const char *s, size_t n, struct dw_buf *out);
/* [a-zA-Z_][a-zA-Z0-9_]*: model.LabelName.IsValid in Prometheus 2.42. */
bool promql_label_name_valid(const char *s, size_t n);

/* ---- regular expressions (regex.c) ---- */

/*
 * Compiles "^(?:pattern)$" into owner's list. Returns NULL with a message in
 * err when PCRE2 rejects it.
 */
struct dw_promql_regex *promql_regex_compile(struct dw_promql_expr *owner, const char *pattern,
                                             size_t len, struct dw_buf *err);
void promql_regex_free_all(struct dw_promql_expr *owner);

/* ---- the parser (parse.c) and the checker (check.c) ---- */

struct parser {
    struct lexer lex;
    struct token tok; /* lookahead, valid when have_tok */
    bool have_tok;
    uint32_t prev_end; /* end of the last consumed token */
    struct dw_promql_expr *expr;
    const char *src;
    size_t src_len;
    struct dw_promql_limits lim;
    unsigned depth;     /* current recursion depth of the parser */
    unsigned agg_depth; /* enclosing aggregations: errors are "in aggregation" */
    bool syntax_failed; /* stop: a syntax error ends the parse */
    bool has_error;
    struct dw_promql_error *err; /* first error only, like ParseErrors.Error() */
};

/* Records an error at [start, end) unless one is already recorded. */
void parser_error(struct parser *p, size_t start, size_t end, const char *fmt, ...) DW_PRINTF(4, 5);
void parser_error_buf(struct parser *p, size_t start, size_t end, const struct dw_buf *msg);

/* checkAST: types, arity, matching rules; fills in step_invariant. */
void promql_check(struct parser *p, struct dw_promql_node *root);

/* Value type names as Prometheus's ValueType strings ("vector", "matrix"). */
const char *promql_value_type_go(enum dw_promql_type t);

#endif
