/*
 * parse.c - the PromQL parser: tokens to a typed tree, Prometheus 2.42's
 * grammar and error messages, without Prometheus's yacc.
 *
 * DESIGN: recursive descent with precedence climbing for binary operators
 * (or < and/unless < comparisons < + - < * / % atan2 < ^, ^ right-associative,
 * unary +/- binding like * so that -2^2 is -(2^2)). The postfix modifiers
 * offset, @ and [range] / [range:step] bind to the primary expression before
 * them. Prometheus's grammar is LALR with error rules; to give its messages,
 * each place that has an error rule there reports "unexpected X in <context>,
 * expected Y" here, and a syntax error anywhere inside an aggregation's
 * parentheses gets "in aggregation" like yacc's error recovery gives it.
 *
 * Errors come in two kinds, as in Prometheus: a syntax error ends the parse;
 * a semantic error found while building a node (a bad duration, an unknown
 * function, offset on a non-selector) is recorded and parsing continues.
 * Only the first error is kept, and the type checker (check.c) runs only on
 * an error-free tree. Unary minus on a number literal folds into the
 * literal, the only constant folding Prometheus does.
 *
 * Safety: every recursive descent step counts against the depth limit and
 * every node records its height, so no input recurses deeper than
 * max_depth, whether through parentheses, unary chains, long operator chains
 * or stacked subqueries. Queries are at most max_query_len bytes.
 *
 * One parser per call; no global state.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/promql_internal.h"

enum {
    PREC_OR = 1,
    PREC_AND,
    PREC_CMP,
    PREC_ADD,
    PREC_MUL,
    PREC_POW,
};

/* ---- errors ---- */

static void line_col(const char *src, size_t pos, int *line, int *col)
{
    long last_nl = -1;
    int l = 1;
    for (size_t i = 0; i < pos; i++) {
        if (src[i] == '\n') {
            last_nl = (long)i;
            l++;
        }
    }
    *line = l;
    *col = (int)((long)pos - last_nl);
}

void parser_error_buf(struct parser *p, size_t start, size_t end, const struct dw_buf *msg)
{
    if (p->has_error)
        return;
    p->has_error = true;
    if (!p->err)
        return;
    if (start > p->src_len)
        start = p->src_len;
    if (end > p->src_len)
        end = p->src_len;
    line_col(p->src, start, &p->err->line, &p->err->col);
    p->err->start = start;
    p->err->end = end < start ? start : end;
    p->err->msg = dw_strndup(msg->data ? msg->data : "", msg->len);
}

void parser_error(struct parser *p, size_t start, size_t end, const char *fmt, ...)
{
    if (p->has_error)
        return;
    struct dw_buf b;
    dw_buf_init(&b, 0);
    va_list ap;
    va_start(ap, fmt);
    dw_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    parser_error_buf(p, start, end, &b);
    dw_buf_release(&b);
}

static void node_error(struct parser *p, const struct dw_promql_node *n, const char *msg)
{
    parser_error(p, n->start, n->end, "%s", msg);
}

/* ---- tokens ---- */

static const struct token *peek(struct parser *p)
{
    if (!p->have_tok) {
        lexer_next(&p->lex, &p->tok);
        p->have_tok = true;
    }
    return &p->tok;
}

static struct token advance(struct parser *p)
{
    struct token t = *peek(p);
    p->have_tok = false;
    p->prev_end = t.pos + t.len;
    return t;
}

static const char *tok_text(const struct parser *p, const struct token *t)
{
    return p->src + t->pos;
}

/* Item.String(): %q of the text, cut to ten runes when longer than ten bytes. */
static void item_text(struct dw_buf *b, const char *s, size_t n)
{
    if (n > 10) {
        go_quote_prefix(b, s, n, 10);
        dw_buf_puts(b, "...");
    } else {
        go_quote(b, s, n);
    }
}

/* Item.desc(): how Prometheus names a token in "unexpected ..." messages. */
static void describe_token(struct dw_buf *b, const struct parser *p, const struct token *t)
{
    const char *s = tok_text(p, t);
    size_t n = t->len;
    switch (t->type) {
    case TOK_EOF: dw_buf_puts(b, "end of input"); return;
    case TOK_IDENTIFIER:
        dw_buf_puts(b, "identifier ");
        go_quote(b, s, n);
        return;
    case TOK_METRIC_IDENTIFIER:
        dw_buf_puts(b, "metric identifier ");
        go_quote(b, s, n);
        return;
    case TOK_STRING:
        dw_buf_puts(b, "string ");
        item_text(b, s, n);
        return;
    case TOK_NUMBER:
        dw_buf_puts(b, "number ");
        item_text(b, s, n);
        return;
    case TOK_DURATION:
        dw_buf_puts(b, "duration ");
        item_text(b, s, n);
        return;
    default: break;
    }
    if (tok_is_keyword(t->type))
        dw_buf_printf(b, "<%.*s>", (int)n, s);
    else if (tok_is_operator(t->type))
        dw_buf_printf(b, "<op:%.*s>", (int)n, s);
    else if (tok_is_aggregator(t->type))
        dw_buf_printf(b, "<aggr:%.*s>", (int)n, s);
    else
        item_text(b, s, n);
}

/*
 * parser.unexpected(): "unexpected <token>[ in <ctx>][, expected <exp>]" at
 * the token. A lexer error is reported as itself instead. `fatal` is false
 * only for the grouping-label check, which yacc reports without failing.
 */
static void unexpected_tok(struct parser *p, const struct token *t, const char *ctx,
                           const char *expected, bool fatal)
{
    if (fatal)
        p->syntax_failed = true;
    if (t->type == TOK_ERROR) {
        parser_error(p, p->lex.errpos, p->src_len, "%s", p->lex.errmsg);
        return;
    }
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, "unexpected ");
    describe_token(&b, p, t);
    if (ctx)
        dw_buf_printf(&b, " in %s", ctx);
    if (expected)
        dw_buf_printf(&b, ", expected %s", expected);
    parser_error_buf(p, t->pos, t->pos + t->len, &b);
    dw_buf_release(&b);
}

static void *unexpected(struct parser *p, const char *ctx, const char *expected)
{
    unexpected_tok(p, peek(p), ctx, expected, true);
    return NULL;
}

/* A token no rule expects: yacc pops to the innermost aggregation, if any. */
static void *unexpected_here(struct parser *p)
{
    return unexpected(p, p->agg_depth ? "aggregation" : NULL, NULL);
}

/* ---- nodes and arrays ---- */

static struct dw_promql_node *new_node(struct parser *p, enum dw_promql_kind kind, size_t start,
                                       size_t end)
{
    struct dw_promql_node *n = arena_alloc(&p->expr->arena, sizeof *n);
    n->kind = kind;
    n->start = (uint32_t)start;
    n->end = (uint32_t)end;
    n->depth = 1;
    return n;
}

/* Height from the tallest child; a tree taller than the limit is refused. */
static bool set_height(struct parser *p, struct dw_promql_node *n, uint32_t child)
{
    n->depth = child + 1;
    if (n->depth > p->lim.max_depth) {
        parser_error(p, n->start, n->end, "query nesting too deep (limit %u)", p->lim.max_depth);
        p->syntax_failed = true;
        return false;
    }
    return true;
}

static bool set_depth(struct parser *p, struct dw_promql_node *n, const struct dw_promql_node *a,
                      const struct dw_promql_node *b)
{
    uint32_t d = a ? a->depth : 0;
    if (b && b->depth > d)
        d = b->depth;
    return set_height(p, n, d);
}

static bool enter(struct parser *p)
{
    if (++p->depth > p->lim.max_depth) {
        const struct token *t = peek(p);
        parser_error(p, t->pos, t->pos + t->len, "query nesting too deep (limit %u)",
                     p->lim.max_depth);
        p->syntax_failed = true;
        return false;
    }
    return true;
}

static void leave(struct parser *p)
{
    p->depth--;
}

/* Grows an arena array to hold n + 1 items of size elem. */
static void *push_slot(struct parser *p, void *arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 4;
    void *grown = arena_alloc(&p->expr->arena, ncap * elem);
    if (n)
        memcpy(grown, arr, n * elem);
    *cap = ncap;
    return grown;
}

/* ---- literals ---- */

static double number_value(struct parser *p, const struct token *t)
{
    double v = 0;
    struct dw_buf err;
    dw_buf_init(&err, 0);
    if (promql_parse_number(tok_text(p, t), t->len, &v, &err) < 0)
        parser_error(p, t->pos, t->pos + t->len, "error parsing number: %s", err.data);
    dw_buf_release(&err);
    return v;
}

static int64_t duration_value(struct parser *p, const struct token *t)
{
    int64_t ms = 0;
    struct dw_buf err;
    dw_buf_init(&err, 0);
    if (promql_parse_duration(tok_text(p, t), t->len, &ms, &err) < 0) {
        parser_error_buf(p, t->pos, t->pos + t->len, &err);
        ms = 0;
    }
    dw_buf_release(&err);
    return ms;
}

/* Unquotes a string token into the arena; *len gets the byte length. */
static const char *string_value(struct parser *p, const struct token *t, size_t *len)
{
    struct dw_buf out;
    dw_buf_init(&out, 0);
    if (promql_unquote(tok_text(p, t), t->len, &out) < 0) {
        struct dw_buf msg;
        dw_buf_init(&msg, 0);
        dw_buf_puts(&msg, "error unquoting string ");
        go_quote(&msg, tok_text(p, t), t->len);
        dw_buf_puts(&msg, ": invalid syntax");
        parser_error_buf(p, t->pos, t->pos + t->len, &msg);
        dw_buf_release(&msg);
    }
    const char *s = arena_strndup(&p->expr->arena, out.data ? out.data : "", out.len);
    *len = out.len;
    dw_buf_release(&out);
    return s;
}

/* ---- label lists: by/without/on/ignoring/group_x ---- */

/* The keywords Prometheus's maybe_label rule accepts as label names. */
static bool maybe_label(enum tok t)
{
    switch (t) {
    case TOK_IDENTIFIER:
    case TOK_METRIC_IDENTIFIER:
    case TOK_BOOL:
    case TOK_BY:
    case TOK_GROUP_LEFT:
    case TOK_GROUP_RIGHT:
    case TOK_IGNORING:
    case TOK_LAND:
    case TOK_LOR:
    case TOK_LUNLESS:
    case TOK_OFFSET:
    case TOK_ON:
    case TOK_WITHOUT:
    case TOK_START:
    case TOK_END:
    case TOK_ATAN2: return true;
    default: return tok_is_aggregator(t);
    }
}

struct label_list {
    const char **items;
    size_t n, cap;
};

/* grouping_labels: "(" [label {"," label} [","]] ")". */
static bool parse_label_list(struct parser *p, struct label_list *out)
{
    memset(out, 0, sizeof *out);
    if (peek(p)->type != TOK_LEFT_PAREN) {
        unexpected(p, "grouping opts", "\"(\"");
        return false;
    }
    advance(p);
    if (peek(p)->type == TOK_RIGHT_PAREN) {
        advance(p);
        return true;
    }
    for (;;) {
        if (!maybe_label(peek(p)->type)) {
            unexpected(p, "grouping opts", "label");
            return false;
        }
        struct token t = advance(p);
        if (!promql_label_name_valid(tok_text(p, &t), t.len))
            unexpected_tok(p, &t, "grouping opts", "label", false);
        if (out->n >= p->lim.max_labels) {
            parser_error(p, t.pos, t.pos + t.len, "too many labels in one list (limit %u)",
                         p->lim.max_labels);
            p->syntax_failed = true;
            return false;
        }
        out->items = push_slot(p, out->items, &out->cap, out->n, sizeof *out->items);
        out->items[out->n++] = arena_strndup(&p->expr->arena, tok_text(p, &t), t.len);
        enum tok next = peek(p)->type;
        if (next == TOK_COMMA) {
            advance(p);
            if (peek(p)->type == TOK_RIGHT_PAREN) {
                advance(p);
                return true;
            }
            continue;
        }
        if (next == TOK_RIGHT_PAREN) {
            advance(p);
            return true;
        }
        unexpected(p, "grouping opts", "\",\" or \")\"");
        return false;
    }
}

/* ---- selectors ---- */

static bool add_matcher(struct parser *p, struct dw_promql_vector_selector *vs, size_t *cap,
                        const struct token *name, const struct token *op, const struct token *val)
{
    vs->matchers = push_slot(p, vs->matchers, cap, vs->nmatchers, sizeof *vs->matchers);
    struct dw_promql_matcher *m = &vs->matchers[vs->nmatchers++];
    m->name = arena_strndup(&p->expr->arena, tok_text(p, name), name->len);
    m->value = string_value(p, val, &m->value_len);
    switch (op->type) {
    case TOK_EQL: m->type = DW_PROMQL_MATCH_EQ; break;
    case TOK_NEQ: m->type = DW_PROMQL_MATCH_NEQ; break;
    case TOK_EQL_REGEX: m->type = DW_PROMQL_MATCH_RE; break;
    default: m->type = DW_PROMQL_MATCH_NRE; break;
    }
    if (m->type == DW_PROMQL_MATCH_RE || m->type == DW_PROMQL_MATCH_NRE) {
        struct dw_buf err;
        dw_buf_init(&err, 0);
        m->re = promql_regex_compile(p->expr, m->value, m->value_len, &err);
        if (!m->re)
            parser_error_buf(p, name->pos, val->pos + val->len, &err);
        dw_buf_release(&err);
        if (!m->re)
            m->type = DW_PROMQL_MATCH_EQ; /* keeps the tree consistent; parse fails anyway */
    }
    return true;
}

static bool is_match_op(enum tok t)
{
    return t == TOK_EQL || t == TOK_NEQ || t == TOK_EQL_REGEX || t == TOK_NEQ_REGEX;
}

/* label_matchers: "{" [matcher {"," matcher} [","]] "}". */
static bool parse_matchers(struct parser *p, struct dw_promql_vector_selector *vs, size_t *cap)
{
    for (;;) {
        const struct token *t = peek(p);
        if (t->type == TOK_RIGHT_BRACE) {
            advance(p);
            return true;
        }
        if (t->type != TOK_IDENTIFIER) {
            unexpected(p, "label matching", "identifier or \"}\"");
            return false;
        }
        struct token name = advance(p);
        if (vs->nmatchers >= p->lim.max_matchers) {
            parser_error(p, name.pos, name.pos + name.len,
                         "too many label matchers in one selector (limit %u)", p->lim.max_matchers);
            p->syntax_failed = true;
            return false;
        }
        if (!is_match_op(peek(p)->type)) {
            unexpected(p, "label matching", "label matching operator");
            return false;
        }
        struct token op = advance(p);
        if (peek(p)->type != TOK_STRING) {
            unexpected(p, "label matching", "string");
            return false;
        }
        struct token val = advance(p);
        add_matcher(p, vs, cap, &name, &op, &val);
        enum tok next = peek(p)->type;
        if (next == TOK_COMMA) {
            advance(p);
            continue;
        }
        if (next != TOK_RIGHT_BRACE) {
            unexpected(p, "label matching", "\",\" or \"}\"");
            return false;
        }
    }
}

/* vector_selector: metric_identifier [label_matchers] | label_matchers. */
static struct dw_promql_node *parse_vector_selector(struct parser *p, const struct token *name)
{
    struct dw_promql_node *n = new_node(p, DW_PROMQL_VECTOR_SELECTOR, 0, 0);
    n->type = DW_PROMQL_TYPE_VECTOR;
    struct dw_promql_vector_selector *vs = &n->u.vs;
    size_t cap = 0;
    vs->name = "";
    if (name) {
        vs->name = arena_strndup(&p->expr->arena, tok_text(p, name), name->len);
        n->start = name->pos;
        n->end = name->pos + name->len;
    }
    if (peek(p)->type == TOK_LEFT_BRACE) {
        struct token lb = advance(p);
        if (!name)
            n->start = lb.pos;
        if (!parse_matchers(p, vs, &cap))
            return NULL;
        n->end = p->prev_end;
    }
    if (name) {
        vs->matchers = push_slot(p, vs->matchers, &cap, vs->nmatchers, sizeof *vs->matchers);
        struct dw_promql_matcher *m = &vs->matchers[vs->nmatchers++];
        m->type = DW_PROMQL_MATCH_EQ;
        m->name = "__name__";
        m->value = vs->name;
        m->value_len = name->len;
    }
    return n;
}

/* ---- postfix modifiers: offset, @, [range], [range:step] ---- */

static void add_offset(struct parser *p, struct dw_promql_node *e, int64_t off)
{
    int64_t *target;
    switch (e->kind) {
    case DW_PROMQL_VECTOR_SELECTOR: target = &e->u.vs.offset_ms; break;
    case DW_PROMQL_MATRIX_SELECTOR:
        if (e->u.ms.vs->kind != DW_PROMQL_VECTOR_SELECTOR) {
            node_error(p, e, "ranges only allowed for vector selectors");
            return;
        }
        target = &e->u.ms.vs->u.vs.offset_ms;
        break;
    case DW_PROMQL_SUBQUERY: target = &e->u.sq.offset_ms; break;
    default:
        node_error(p, e,
                   "offset modifier must be preceded by an instant vector selector or range "
                   "vector selector or a subquery");
        return;
    }
    if (*target != 0)
        node_error(p, e, "offset may not be set multiple times");
    else
        *target = off;
    e->end = p->prev_end;
}

static bool parse_offset(struct parser *p, struct dw_promql_node *e)
{
    advance(p); /* offset */
    bool neg = false;
    if (peek(p)->type == TOK_SUB) {
        advance(p);
        neg = true;
    }
    if (peek(p)->type != TOK_DURATION) {
        unexpected(p, "offset", "duration");
        return false;
    }
    struct token d = advance(p);
    int64_t ms = duration_value(p, &d);
    add_offset(p, e, neg ? -ms : ms);
    return true;
}

/* Where the @ modifier of e is stored, or false after reporting why none. */
static bool at_target(struct parser *p, struct dw_promql_node *e, enum dw_promql_at **at,
                      int64_t **at_ms)
{
    switch (e->kind) {
    case DW_PROMQL_VECTOR_SELECTOR:
        *at = &e->u.vs.at;
        *at_ms = &e->u.vs.at_ms;
        break;
    case DW_PROMQL_MATRIX_SELECTOR:
        if (e->u.ms.vs->kind != DW_PROMQL_VECTOR_SELECTOR) {
            node_error(p, e, "ranges only allowed for vector selectors");
            return false;
        }
        *at = &e->u.ms.vs->u.vs.at;
        *at_ms = &e->u.ms.vs->u.vs.at_ms;
        break;
    case DW_PROMQL_SUBQUERY:
        *at = &e->u.sq.at;
        *at_ms = &e->u.sq.at_ms;
        break;
    default:
        node_error(p, e,
                   "@ modifier must be preceded by an instant vector selector or range vector "
                   "selector or a subquery");
        return false;
    }
    if (**at != DW_PROMQL_AT_NONE) {
        node_error(p, e, "@ <timestamp> may not be set multiple times");
        return false;
    }
    return true;
}

/*
 * A plain decimal ("1700000000", "12.5", ".25") with at most three fraction
 * digits, converted to milliseconds without floating point. Leading-zero
 * integers are octal in PromQL and take the general path.
 */
static bool exact_decimal_millis(const char *s, size_t n, int64_t *out)
{
    bool has_dot = memchr(s, '.', n) != NULL;
    if (n == 0 || (!has_dot && n > 1 && s[0] == '0'))
        return false;
    int64_t ip = 0, frac = 0;
    size_t i = 0, digits = 0, frac_digits = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++)
        if (__builtin_mul_overflow(ip, 10, &ip) || __builtin_add_overflow(ip, s[i] - '0', &ip))
            return false;
    if (i < n && s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9' && frac_digits < 3; i++, frac_digits++)
            frac = frac * 10 + (s[i] - '0');
    }
    if (i != n || digits + frac_digits == 0)
        return false;
    for (; frac_digits < 3; frac_digits++)
        frac *= 10;
    return !__builtin_mul_overflow(ip, 1000, out) && !__builtin_add_overflow(*out, frac, out);
}

/*
 * Milliseconds of an @ timestamp: round(ts * 1000) like Prometheus, except
 * that plain decimals are converted exactly, so the printer's "%.3f" form
 * always reads back to the same value. False when it does not fit int64.
 */
static bool at_millis(const char *s, size_t n, bool neg, double ts, int64_t *out)
{
    int64_t abs_ms;
    if (exact_decimal_millis(s, n, &abs_ms)) {
        *out = neg ? -abs_ms : abs_ms;
        return true;
    }
    double ms = round(ts * 1000.0);
    if (!(ms < 9223372036854775807.0 && ms > -9223372036854775808.0))
        return false;
    *out = (int64_t)ms;
    return true;
}

static void set_timestamp(struct parser *p, struct dw_promql_node *e, const struct token *num,
                          bool neg)
{
    double ts = number_value(p, num);
    if (neg)
        ts = -ts;
    int64_t ms = 0;
    if (isnan(ts) || isinf(ts) || ts >= 9223372036854775807.0 || ts <= -9223372036854775808.0 ||
        !at_millis(tok_text(p, num), num->len, neg, ts, &ms)) {
        struct dw_buf b;
        dw_buf_init(&b, 0);
        dw_buf_puts(&b, "timestamp out of bounds for @ modifier: ");
        go_format_fixed6(&b, ts);
        parser_error_buf(p, e->start, e->end, &b);
        dw_buf_release(&b);
    }
    enum dw_promql_at *at;
    int64_t *at_ms;
    if (!at_target(p, e, &at, &at_ms))
        return;
    *at = DW_PROMQL_AT_TIME;
    *at_ms = ms;
    e->end = p->prev_end;
}

static bool parse_at(struct parser *p, struct dw_promql_node *e)
{
    advance(p); /* @ */
    enum tok t = peek(p)->type;
    if (t == TOK_START || t == TOK_END) {
        advance(p);
        if (peek(p)->type != TOK_LEFT_PAREN) {
            unexpected(p, "@", "timestamp");
            return false;
        }
        advance(p);
        if (peek(p)->type != TOK_RIGHT_PAREN) {
            unexpected(p, "@", "timestamp");
            return false;
        }
        advance(p);
        enum dw_promql_at *at;
        int64_t *at_ms;
        if (at_target(p, e, &at, &at_ms)) {
            *at = t == TOK_START ? DW_PROMQL_AT_START : DW_PROMQL_AT_END;
            e->end = p->prev_end;
        }
        return true;
    }
    bool neg = false;
    if (t == TOK_ADD || t == TOK_SUB) {
        advance(p);
        neg = t == TOK_SUB;
        t = peek(p)->type;
    }
    if (t != TOK_NUMBER) {
        unexpected(p, "@", "timestamp");
        return false;
    }
    struct token num = advance(p);
    set_timestamp(p, e, &num, neg);
    return true;
}

static struct dw_promql_node *make_matrix(struct parser *p, struct dw_promql_node *e, int64_t range,
                                          const struct token *lb)
{
    const char *err = NULL;
    if (e->kind != DW_PROMQL_VECTOR_SELECTOR)
        err = "ranges only allowed for vector selectors";
    else if (e->u.vs.offset_ms != 0)
        err = "no offset modifiers allowed before range";
    else if (e->u.vs.at == DW_PROMQL_AT_TIME)
        err = "no @ modifiers allowed before range";
    if (err)
        parser_error(p, lb->pos, p->prev_end, "%s", err);
    struct dw_promql_node *n = new_node(p, DW_PROMQL_MATRIX_SELECTOR, e->start, p->prev_end);
    n->type = DW_PROMQL_TYPE_MATRIX;
    n->u.ms.vs = e;
    n->u.ms.range_ms = range;
    return set_depth(p, n, e, NULL) ? n : NULL;
}

/* "[" duration "]" or "[" duration ":" [duration] "]" after e. */
static struct dw_promql_node *parse_brackets(struct parser *p, struct dw_promql_node *e)
{
    struct token lb = advance(p);
    if (peek(p)->type != TOK_DURATION)
        return unexpected(p, "subquery selector", "duration");
    struct token d = advance(p);
    int64_t range = duration_value(p, &d);
    enum tok t = peek(p)->type;
    if (t == TOK_RIGHT_BRACKET) {
        advance(p);
        return make_matrix(p, e, range, &lb);
    }
    if (t != TOK_COLON)
        return unexpected(p, "subquery or range", "\":\" or \"]\"");
    advance(p);
    int64_t step = 0;
    t = peek(p)->type;
    if (t == TOK_DURATION) {
        struct token s = advance(p);
        step = duration_value(p, &s);
        if (peek(p)->type != TOK_RIGHT_BRACKET)
            return unexpected(p, "subquery selector", "\"]\"");
    } else if (t != TOK_RIGHT_BRACKET) {
        return unexpected(p, "subquery selector", "duration or \"]\"");
    }
    struct token rb = advance(p);
    struct dw_promql_node *n = new_node(p, DW_PROMQL_SUBQUERY, e->start, rb.pos + 1u);
    n->type = DW_PROMQL_TYPE_MATRIX;
    n->u.sq.expr = e;
    n->u.sq.range_ms = range;
    n->u.sq.step_ms = step;
    return set_depth(p, n, e, NULL) ? n : NULL;
}

static struct dw_promql_node *parse_postfix(struct parser *p, struct dw_promql_node *e)
{
    while (e) {
        enum tok t = peek(p)->type;
        if (t == TOK_OFFSET) {
            if (!parse_offset(p, e))
                return NULL;
        } else if (t == TOK_AT) {
            if (!parse_at(p, e))
                return NULL;
        } else if (t == TOK_LEFT_BRACKET) {
            e = parse_brackets(p, e);
        } else {
            break;
        }
    }
    return e;
}

/* ---- calls, aggregations, parentheses ---- */

static struct dw_promql_node *parse_expr(struct parser *p, int min_prec);

struct node_list {
    struct dw_promql_node **items;
    size_t n, cap;
};

/* function_call_body after "(": [expr {"," expr}] ")"; a trailing comma is an error. */
static bool parse_args(struct parser *p, struct node_list *args)
{
    memset(args, 0, sizeof *args);
    if (peek(p)->type == TOK_RIGHT_PAREN) {
        advance(p);
        return true;
    }
    for (;;) {
        struct dw_promql_node *e = parse_expr(p, 0);
        if (!e)
            return false;
        args->items = push_slot(p, args->items, &args->cap, args->n, sizeof *args->items);
        args->items[args->n++] = e;
        enum tok t = peek(p)->type;
        if (t == TOK_COMMA) {
            struct token comma = advance(p);
            if (peek(p)->type == TOK_RIGHT_PAREN) {
                parser_error(p, comma.pos, comma.pos + 1,
                             "trailing commas not allowed in function call args");
                advance(p);
                return true;
            }
            continue;
        }
        if (t == TOK_RIGHT_PAREN) {
            advance(p);
            return true;
        }
        unexpected_here(p);
        return false;
    }
}

static uint32_t max_arg_depth(const struct node_list *args)
{
    uint32_t d = 0;
    for (size_t i = 0; i < args->n; i++)
        if (args->items[i]->depth > d)
            d = args->items[i]->depth;
    return d;
}

static struct dw_promql_node *parse_call(struct parser *p, const struct token *name)
{
    advance(p); /* ( */
    struct node_list args;
    if (!parse_args(p, &args))
        return NULL;
    const struct dw_promql_func *f = dw_promql_func_lookup(tok_text(p, name), name->len);
    if (!f) {
        struct dw_buf b;
        dw_buf_init(&b, 0);
        dw_buf_puts(&b, "unknown function with name ");
        go_quote(&b, tok_text(p, name), name->len);
        parser_error_buf(p, name->pos, name->pos + name->len, &b);
        dw_buf_release(&b);
    }
    struct dw_promql_node *n = new_node(p, DW_PROMQL_CALL, name->pos, p->prev_end);
    n->type = f ? f->ret : DW_PROMQL_TYPE_NONE;
    n->u.call.func = f;
    n->u.call.args = args.items;
    n->u.call.nargs = args.n;
    return set_height(p, n, max_arg_depth(&args)) ? n : NULL;
}

static bool parse_agg_modifier(struct parser *p, struct dw_promql_aggregate *agg)
{
    agg->without = advance(p).type == TOK_WITHOUT;
    struct label_list l;
    if (!parse_label_list(p, &l))
        return false;
    agg->grouping = l.items;
    agg->ngrouping = l.n;
    return true;
}

static bool agg_has_param(enum dw_promql_agg op)
{
    return op == DW_PROMQL_AGG_TOPK || op == DW_PROMQL_AGG_BOTTOMK ||
           op == DW_PROMQL_AGG_COUNT_VALUES || op == DW_PROMQL_AGG_QUANTILE;
}

/* newAggregateExpr's argument checks. */
static void assign_agg_args(struct parser *p, struct dw_promql_node *n, const struct node_list *a)
{
    struct dw_promql_aggregate *agg = &n->u.agg;
    if (a->n == 0) {
        node_error(p, n, "no arguments for aggregate expression provided");
        return;
    }
    size_t want = 1;
    if (agg_has_param(agg->op)) {
        want = 2;
        agg->param = a->items[0];
    }
    if (a->n != want) {
        parser_error(p, n->start, n->end,
                     "wrong number of arguments for aggregate expression provided, expected %zu, "
                     "got %zu",
                     want, a->n);
        return;
    }
    agg->expr = a->items[want - 1];
}

/* aggregate_op [modifier] "(" args ")" [modifier]. */
static struct dw_promql_node *parse_aggregate(struct parser *p, const struct token *op)
{
    struct dw_promql_node *n = new_node(p, DW_PROMQL_AGGREGATE, op->pos, 0);
    n->type = DW_PROMQL_TYPE_VECTOR;
    n->u.agg.op = (enum dw_promql_agg)(op->type - TOK_SUM);
    bool modifier = false;
    enum tok t = peek(p)->type;
    if (t == TOK_BY || t == TOK_WITHOUT) {
        if (!parse_agg_modifier(p, &n->u.agg))
            return NULL;
        modifier = true;
    }
    p->agg_depth++;
    struct node_list args;
    bool ok = false;
    if (peek(p)->type != TOK_LEFT_PAREN) {
        unexpected_here(p);
    } else {
        advance(p);
        ok = parse_args(p, &args);
    }
    if (ok && !modifier) {
        t = peek(p)->type;
        if (t == TOK_BY || t == TOK_WITHOUT)
            ok = parse_agg_modifier(p, &n->u.agg);
    }
    p->agg_depth--;
    if (!ok)
        return NULL;
    n->end = p->prev_end;
    assign_agg_args(p, n, &args);
    return set_height(p, n, max_arg_depth(&args)) ? n : NULL;
}

static struct dw_promql_node *parse_paren(struct parser *p)
{
    struct token lp = advance(p);
    struct dw_promql_node *e = parse_expr(p, 0);
    if (!e)
        return NULL;
    if (peek(p)->type != TOK_RIGHT_PAREN)
        return unexpected_here(p);
    advance(p);
    struct dw_promql_node *n = new_node(p, DW_PROMQL_PAREN, lp.pos, p->prev_end);
    n->type = e->type;
    n->u.paren = e;
    return set_depth(p, n, e, NULL) ? n : NULL;
}

/* ---- primaries, unary and binary expressions ---- */

static struct dw_promql_node *parse_primary(struct parser *p)
{
    const struct token *t = peek(p);
    switch (t->type) {
    case TOK_NUMBER: {
        struct token num = advance(p);
        struct dw_promql_node *n = new_node(p, DW_PROMQL_NUMBER, num.pos, num.pos + num.len);
        n->type = DW_PROMQL_TYPE_SCALAR;
        n->u.number = number_value(p, &num);
        return n;
    }
    case TOK_STRING: {
        struct token s = advance(p);
        struct dw_promql_node *n = new_node(p, DW_PROMQL_STRING, s.pos, s.pos + s.len);
        n->type = DW_PROMQL_TYPE_STRING;
        n->u.string.value = string_value(p, &s, &n->u.string.len);
        return n;
    }
    case TOK_LEFT_BRACE: return parse_vector_selector(p, NULL);
    case TOK_LEFT_PAREN: return parse_paren(p);
    case TOK_IDENTIFIER: {
        struct token name = advance(p);
        if (peek(p)->type == TOK_LEFT_PAREN)
            return parse_call(p, &name);
        return parse_vector_selector(p, &name);
    }
    case TOK_METRIC_IDENTIFIER:
    case TOK_BY:
    case TOK_WITHOUT:
    case TOK_OFFSET:
    case TOK_LAND:
    case TOK_LOR:
    case TOK_LUNLESS:
    case TOK_START:
    case TOK_END: {
        struct token name = advance(p);
        return parse_vector_selector(p, &name);
    }
    default: break;
    }
    if (tok_is_aggregator(t->type)) {
        struct token op = advance(p);
        enum tok next = peek(p)->type;
        if (next == TOK_LEFT_PAREN || next == TOK_BY || next == TOK_WITHOUT)
            return parse_aggregate(p, &op);
        return parse_vector_selector(p, &op); /* "sum" alone is a metric name */
    }
    return unexpected_here(p);
}

static struct dw_promql_node *parse_unary(struct parser *p)
{
    enum tok t = peek(p)->type;
    if (t != TOK_ADD && t != TOK_SUB) {
        struct dw_promql_node *e = parse_primary(p);
        return e ? parse_postfix(p, e) : NULL;
    }
    struct token op = advance(p);
    /* %prec MUL: the operand takes in only ^, which binds tighter. */
    struct dw_promql_node *e = parse_expr(p, PREC_POW);
    if (!e)
        return NULL;
    if (e->kind == DW_PROMQL_NUMBER) {
        if (t == TOK_SUB)
            e->u.number = -e->u.number;
        e->start = op.pos;
        return e;
    }
    struct dw_promql_node *n = new_node(p, DW_PROMQL_UNARY, op.pos, e->end);
    n->type = e->type;
    n->u.unary.op = t == TOK_SUB ? DW_PROMQL_SUB : DW_PROMQL_ADD;
    n->u.unary.expr = e;
    return set_depth(p, n, e, NULL) ? n : NULL;
}

static int binop_prec(enum tok t)
{
    switch (t) {
    case TOK_LOR: return PREC_OR;
    case TOK_LAND:
    case TOK_LUNLESS: return PREC_AND;
    case TOK_EQLC:
    case TOK_NEQ:
    case TOK_GTR:
    case TOK_LSS:
    case TOK_GTE:
    case TOK_LTE: return PREC_CMP;
    case TOK_ADD:
    case TOK_SUB: return PREC_ADD;
    case TOK_POW: return PREC_POW;
    default: return PREC_MUL; /* * / % atan2 */
    }
}

/* bin_modifier: [bool] [(on|ignoring) labels [(group_left|group_right) [labels]]]. */
static bool parse_bin_modifiers(struct parser *p, struct dw_promql_binary *b)
{
    b->matching = true;
    b->card = DW_PROMQL_CARD_ONE_TO_ONE;
    if (peek(p)->type == TOK_BOOL) {
        advance(p);
        b->return_bool = true;
    }
    enum tok t = peek(p)->type;
    if (t != TOK_ON && t != TOK_IGNORING)
        return true;
    advance(p);
    b->on = t == TOK_ON;
    struct label_list l;
    if (!parse_label_list(p, &l))
        return false;
    b->labels = l.items;
    b->nlabels = l.n;
    t = peek(p)->type;
    if (t != TOK_GROUP_LEFT && t != TOK_GROUP_RIGHT)
        return true;
    advance(p);
    b->card = t == TOK_GROUP_LEFT ? DW_PROMQL_CARD_MANY_TO_ONE : DW_PROMQL_CARD_ONE_TO_MANY;
    if (peek(p)->type != TOK_LEFT_PAREN)
        return true; /* group_left without labels; "(" always starts the label list */
    if (!parse_label_list(p, &l))
        return false;
    b->include = l.items;
    b->ninclude = l.n;
    return true;
}

static enum dw_promql_type binary_type(const struct dw_promql_node *l,
                                       const struct dw_promql_node *r)
{
    if (l->type == DW_PROMQL_TYPE_SCALAR && r->type == DW_PROMQL_TYPE_SCALAR)
        return DW_PROMQL_TYPE_SCALAR;
    return DW_PROMQL_TYPE_VECTOR;
}

static struct dw_promql_node *parse_expr(struct parser *p, int min_prec)
{
    if (!enter(p))
        return NULL;
    struct dw_promql_node *lhs = parse_unary(p);
    while (lhs) {
        enum tok t = peek(p)->type;
        if (!tok_is_binop(t) || binop_prec(t) < min_prec)
            break;
        int prec = binop_prec(t);
        advance(p);
        struct dw_promql_node *n = new_node(p, DW_PROMQL_BINARY, lhs->start, 0);
        n->u.bin.op = (enum dw_promql_binop)(t - TOK_ADD);
        if (!parse_bin_modifiers(p, &n->u.bin)) {
            lhs = NULL;
            break;
        }
        struct dw_promql_node *rhs = parse_expr(p, t == TOK_POW ? prec : prec + 1);
        if (!rhs) {
            lhs = NULL;
            break;
        }
        n->u.bin.lhs = lhs;
        n->u.bin.rhs = rhs;
        n->end = rhs->end;
        n->type = binary_type(lhs, rhs);
        lhs = set_depth(p, n, lhs, rhs) ? n : NULL;
    }
    leave(p);
    return lhs;
}

/* ---- entry point ---- */

static void apply_limits(struct dw_promql_limits *lim, const struct dw_promql_limits *in)
{
    memset(lim, 0, sizeof *lim);
    if (in)
        *lim = *in;
    if (!lim->max_query_len)
        lim->max_query_len = DW_PROMQL_DEFAULT_MAX_QUERY_LEN;
    if (lim->max_query_len > UINT32_MAX - 1)
        lim->max_query_len = UINT32_MAX - 1; /* positions are 32-bit */
    if (!lim->max_depth)
        lim->max_depth = DW_PROMQL_DEFAULT_MAX_DEPTH;
    if (!lim->max_matchers)
        lim->max_matchers = DW_PROMQL_DEFAULT_MAX_MATCHERS;
    if (!lim->max_labels)
        lim->max_labels = DW_PROMQL_DEFAULT_MAX_LABELS;
}

static struct dw_promql_expr *new_expr(const char *query, size_t len)
{
    struct arena a = {0};
    struct dw_promql_expr *e = arena_alloc(&a, sizeof *e);
    e->arena = a;
    e->query = arena_strndup(&e->arena, query ? query : "", len);
    e->query_len = len;
    return e;
}

int dw_promql_parse(const char *query, size_t len, const struct dw_promql_limits *limits,
                    struct dw_promql_expr **out, struct dw_promql_error *err)
{
    *out = NULL;
    if (err)
        memset(err, 0, sizeof *err);
    struct parser p;
    memset(&p, 0, sizeof p);
    apply_limits(&p.lim, limits);
    p.err = err;
    if (len > p.lim.max_query_len) {
        p.src = "";
        parser_error(&p, 0, 0, "query too long (%zu bytes, limit %zu)", len, p.lim.max_query_len);
        return -1;
    }
    p.expr = new_expr(query, len);
    p.src = p.expr->query;
    p.src_len = len;
    lexer_init(&p.lex, p.src, len, &p.expr->arena);

    struct dw_promql_node *root = NULL;
    if (peek(&p)->type == TOK_EOF) {
        parser_error(&p, 0, 0, "no expression found in input");
    } else {
        root = parse_expr(&p, 0);
        if (root && peek(&p)->type != TOK_EOF)
            unexpected(&p, NULL, NULL);
    }
    if (!p.has_error)
        promql_check(&p, root);
    if (p.has_error) {
        dw_promql_free(&p.expr);
        return -1;
    }
    p.expr->root = root;
    *out = p.expr;
    return 0;
}
