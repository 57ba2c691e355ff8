/*
 * print.c - canonical PromQL text for a tree, Prometheus's String().
 *
 * DESIGN: the output is what Prometheus 2.42 prints for the same tree: lower
 * case keywords and operators, one space around binary operators, matchers
 * sorted and the metric name outside the braces, durations in their shortest
 * form (90m -> 1h30m), numbers in Go's %v form, strings in Go's %q form,
 * `@` and `offset` after a range. The tree keeps its parentheses as nodes, so
 * the text parses back to the same tree; that round trip is what the tests
 * and the fuzzer check. Two deliberate differences, both where Prometheus's
 * own text would read back as a different query: it drops
 * "ignoring () group_left ()" (empty label lists), and it prints +Inf as the
 * left operand of ^ ("+Inf ^ 2" is +(Inf ^ 2)); here group_x is kept
 * whenever set, and that +Inf is printed "Inf".
 *
 * DW_PROMQL_FORMAT_PARENS additionally wraps every unary and binary
 * expression in parentheses, which makes precedence visible.
 *
 * Recursion is bounded by the tree height (the parser limits it). Pure; safe
 * on a shared tree from any thread.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "promql/promql_internal.h"

static void fmt_node(const struct dw_promql_node *n, unsigned flags, struct dw_buf *b);

static void fmt_duration(struct dw_buf *b, int64_t ms)
{
    char tmp[64];
    dw_format_duration(ms, tmp, sizeof tmp);
    dw_buf_puts(b, tmp);
}

/* " @ 123.456", exact: the value is whole milliseconds. */
static void fmt_at(struct dw_buf *b, enum dw_promql_at at, int64_t ms)
{
    switch (at) {
    case DW_PROMQL_AT_TIME: {
        uint64_t mag = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
        dw_buf_printf(b, " @ %s%llu.%03u", ms < 0 ? "-" : "", (unsigned long long)(mag / 1000),
                      (unsigned)(mag % 1000));
        break;
    }
    case DW_PROMQL_AT_START: dw_buf_puts(b, " @ start()"); break;
    case DW_PROMQL_AT_END: dw_buf_puts(b, " @ end()"); break;
    case DW_PROMQL_AT_NONE: break;
    }
}

static void fmt_offset(struct dw_buf *b, int64_t ms)
{
    if (ms > 0) {
        dw_buf_puts(b, " offset ");
        fmt_duration(b, ms);
    } else if (ms < 0) {
        dw_buf_puts(b, " offset -");
        fmt_duration(b, -ms);
    }
}

static void fmt_labels(struct dw_buf *b, const char *const *labels, size_t n)
{
    dw_buf_putc(b, '(');
    for (size_t i = 0; i < n; i++) {
        if (i)
            dw_buf_puts(b, ", ");
        dw_buf_puts(b, labels[i]);
    }
    dw_buf_putc(b, ')');
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *const match_ops[] = {"=", "!=", "=~", "!~"};

/* name{sorted matchers}, without the __name__ matcher the name stands for. */
static void fmt_selector_body(const struct dw_promql_vector_selector *vs, struct dw_buf *b)
{
    size_t name_len = strlen(vs->name);
    char **parts = dw_calloc(vs->nmatchers ? vs->nmatchers : 1, sizeof *parts);
    size_t n = 0;
    for (size_t i = 0; i < vs->nmatchers; i++) {
        const struct dw_promql_matcher *m = &vs->matchers[i];
        if (strcmp(m->name, "__name__") == 0 && m->type == DW_PROMQL_MATCH_EQ &&
            m->value_len == name_len && memcmp(m->value, vs->name, name_len) == 0)
            continue;
        struct dw_buf mb;
        dw_buf_init(&mb, 0);
        dw_buf_puts(&mb, m->name);
        dw_buf_puts(&mb, match_ops[m->type]);
        go_quote(&mb, m->value, m->value_len);
        parts[n++] = dw_buf_steal(&mb);
    }
    dw_buf_puts(b, vs->name);
    if (n) {
        qsort(parts, n, sizeof *parts, cmp_str);
        dw_buf_putc(b, '{');
        for (size_t i = 0; i < n; i++) {
            if (i)
                dw_buf_putc(b, ',');
            dw_buf_puts(b, parts[i]);
        }
        dw_buf_putc(b, '}');
    }
    for (size_t i = 0; i < n; i++)
        free(parts[i]);
    free(parts);
}

static void fmt_matrix(const struct dw_promql_node *n, unsigned flags, struct dw_buf *b)
{
    const struct dw_promql_node *vs = n->u.ms.vs;
    if (vs->kind != DW_PROMQL_VECTOR_SELECTOR) { /* only in trees that failed to parse */
        fmt_node(vs, flags, b);
        dw_buf_putc(b, '[');
        fmt_duration(b, n->u.ms.range_ms);
        dw_buf_putc(b, ']');
        return;
    }
    fmt_selector_body(&vs->u.vs, b);
    dw_buf_putc(b, '[');
    fmt_duration(b, n->u.ms.range_ms);
    dw_buf_putc(b, ']');
    fmt_at(b, vs->u.vs.at, vs->u.vs.at_ms);
    fmt_offset(b, vs->u.vs.offset_ms);
}

static void fmt_subquery(const struct dw_promql_node *n, unsigned flags, struct dw_buf *b)
{
    const struct dw_promql_subquery *sq = &n->u.sq;
    fmt_node(sq->expr, flags, b);
    dw_buf_putc(b, '[');
    fmt_duration(b, sq->range_ms);
    dw_buf_putc(b, ':');
    if (sq->step_ms)
        fmt_duration(b, sq->step_ms);
    dw_buf_putc(b, ']');
    fmt_at(b, sq->at, sq->at_ms);
    fmt_offset(b, sq->offset_ms);
}

static void fmt_binary(const struct dw_promql_node *n, unsigned flags, struct dw_buf *b)
{
    const struct dw_promql_binary *bin = &n->u.bin;
    bool group = bin->card == DW_PROMQL_CARD_MANY_TO_ONE || bin->card == DW_PROMQL_CARD_ONE_TO_MANY;
    if (flags & DW_PROMQL_FORMAT_PARENS)
        dw_buf_putc(b, '(');
    if (bin->op == DW_PROMQL_POW && bin->lhs->kind == DW_PROMQL_NUMBER &&
        isinf(bin->lhs->u.number) && bin->lhs->u.number > 0)
        dw_buf_puts(b, "Inf"); /* "+Inf ^ 2" would read back as +(Inf ^ 2) */
    else
        fmt_node(bin->lhs, flags, b);
    dw_buf_printf(b, " %s", dw_promql_binop_name(bin->op));
    if (bin->return_bool)
        dw_buf_puts(b, " bool");
    if (bin->matching && (bin->nlabels > 0 || bin->on || group)) {
        dw_buf_puts(b, bin->on ? " on " : " ignoring ");
        fmt_labels(b, bin->labels, bin->nlabels);
        if (group) {
            dw_buf_puts(b,
                        bin->card == DW_PROMQL_CARD_MANY_TO_ONE ? " group_left " : " group_right ");
            fmt_labels(b, bin->include, bin->ninclude);
        }
    }
    dw_buf_putc(b, ' ');
    fmt_node(bin->rhs, flags, b);
    if (flags & DW_PROMQL_FORMAT_PARENS)
        dw_buf_putc(b, ')');
}

static void fmt_aggregate(const struct dw_promql_node *n, unsigned flags, struct dw_buf *b)
{
    const struct dw_promql_aggregate *a = &n->u.agg;
    dw_buf_puts(b, dw_promql_agg_name(a->op));
    if (a->without || a->ngrouping) {
        dw_buf_puts(b, a->without ? " without " : " by ");
        fmt_labels(b, a->grouping, a->ngrouping);
        dw_buf_putc(b, ' ');
    }
    dw_buf_putc(b, '(');
    if (a->param) {
        fmt_node(a->param, flags, b);
        dw_buf_puts(b, ", ");
    }
    if (a->expr)
        fmt_node(a->expr, flags, b);
    dw_buf_putc(b, ')');
}

static void fmt_call(const struct dw_promql_node *n, unsigned flags, struct dw_buf *b)
{
    const struct dw_promql_call *c = &n->u.call;
    dw_buf_puts(b, c->func ? c->func->name : "unknown");
    dw_buf_putc(b, '(');
    for (size_t i = 0; i < c->nargs; i++) {
        if (i)
            dw_buf_puts(b, ", ");
        fmt_node(c->args[i], flags, b);
    }
    dw_buf_putc(b, ')');
}

static void fmt_node(const struct dw_promql_node *n, unsigned flags, struct dw_buf *b)
{
    switch (n->kind) {
    case DW_PROMQL_NUMBER: go_format_float(b, n->u.number); break;
    case DW_PROMQL_STRING: go_quote(b, n->u.string.value, n->u.string.len); break;
    case DW_PROMQL_VECTOR_SELECTOR:
        fmt_selector_body(&n->u.vs, b);
        fmt_at(b, n->u.vs.at, n->u.vs.at_ms);
        fmt_offset(b, n->u.vs.offset_ms);
        break;
    case DW_PROMQL_MATRIX_SELECTOR: fmt_matrix(n, flags, b); break;
    case DW_PROMQL_SUBQUERY: fmt_subquery(n, flags, b); break;
    case DW_PROMQL_PAREN:
        dw_buf_putc(b, '(');
        fmt_node(n->u.paren, flags, b);
        dw_buf_putc(b, ')');
        break;
    case DW_PROMQL_UNARY:
        if (flags & DW_PROMQL_FORMAT_PARENS)
            dw_buf_putc(b, '(');
        dw_buf_puts(b, dw_promql_binop_name(n->u.unary.op));
        fmt_node(n->u.unary.expr, flags, b);
        if (flags & DW_PROMQL_FORMAT_PARENS)
            dw_buf_putc(b, ')');
        break;
    case DW_PROMQL_BINARY: fmt_binary(n, flags, b); break;
    case DW_PROMQL_CALL: fmt_call(n, flags, b); break;
    case DW_PROMQL_AGGREGATE: fmt_aggregate(n, flags, b); break;
    }
}

int dw_promql_format(const struct dw_promql_node *n, unsigned flags, struct dw_buf *out)
{
    if (!n)
        return 0;
    fmt_node(n, flags, out);
    return out->overflow ? -1 : 0;
}

char *dw_promql_format_str(const struct dw_promql_node *n)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_promql_format(n, 0, &b);
    return dw_buf_steal(&b);
}
