/*
 * check.c - type checking of a parsed tree, Prometheus's checkAST.
 *
 * DESIGN: runs once on a tree that parsed without errors, walking it in the
 * order Prometheus does (children before the node's own checks, a call's
 * argument count before its argument types) so the first error reported is
 * the one Prometheus reports, with the same wording ("expected type range
 * vector in call to function \"rate\", got instant vector"). It also settles
 * what Prometheus settles here: set operators become many-to-many, vector
 * matching is dropped unless both sides are instant vectors.
 *
 * Beyond Prometheus's parser, two things are decided here for the
 * evaluator: each node's step_invariant flag (what Prometheus's engine
 * computes in PreprocessExpr), and label_replace/label_join arguments, which
 * Prometheus validates on the first evaluation step; since they are always
 * literals, an invalid regex or label name fails at parse time here, with
 * Prometheus's runtime message.
 *
 * Recursion is bounded by the tree height, which the parser limits.
 */
#include <stdio.h>
#include <string.h>

#include "promql/promql_internal.h"

static enum dw_promql_type check(struct parser *p, struct dw_promql_node *n);

static void expect_type(struct parser *p, struct dw_promql_node *n, enum dw_promql_type want,
                        const char *context)
{
    enum dw_promql_type t = check(p, n);
    if (t != want)
        parser_error(p, n->start, n->end, "expected type %s in %s, got %s",
                     dw_promql_type_name(want), context, dw_promql_type_name(t));
}

/* The operator's text span, as Prometheus's opRange() finds it. */
static void op_range(const struct parser *p, const struct dw_promql_node *n, size_t *start,
                     size_t *end)
{
    size_t s = n->u.bin.lhs->end, e = n->u.bin.rhs->start;
    while (s < p->src_len && strchr(" \t\n\r", p->src[s]) && p->src[s])
        s++;
    while (e > s && strchr(" \t\n\r", p->src[e - 1]) && p->src[e - 1])
        e--;
    *start = s;
    *end = e;
}

static void check_aggregate(struct parser *p, struct dw_promql_node *n)
{
    struct dw_promql_aggregate *a = &n->u.agg;
    expect_type(p, a->expr, DW_PROMQL_TYPE_VECTOR, "aggregation expression");
    if (a->op == DW_PROMQL_AGG_TOPK || a->op == DW_PROMQL_AGG_BOTTOMK ||
        a->op == DW_PROMQL_AGG_QUANTILE)
        expect_type(p, a->param, DW_PROMQL_TYPE_SCALAR, "aggregation parameter");
    if (a->op == DW_PROMQL_AGG_COUNT_VALUES)
        expect_type(p, a->param, DW_PROMQL_TYPE_STRING, "aggregation parameter");
    n->step_invariant = a->expr->step_invariant && (!a->param || a->param->step_invariant);
}

static bool is_type_sv(enum dw_promql_type t)
{
    return t == DW_PROMQL_TYPE_SCALAR || t == DW_PROMQL_TYPE_VECTOR;
}

static void check_binary(struct parser *p, struct dw_promql_node *n)
{
    struct dw_promql_binary *b = &n->u.bin;
    enum dw_promql_type lt = check(p, b->lhs);
    enum dw_promql_type rt = check(p, b->rhs);
    const char *op = dw_promql_binop_name(b->op);
    size_t os, oe;
    op_range(p, n, &os, &oe);

    if (b->return_bool && !dw_promql_binop_is_comparison(b->op))
        parser_error(p, os, oe, "bool modifier can only be used on comparison operators");
    if (dw_promql_binop_is_comparison(b->op) && !b->return_bool && lt == DW_PROMQL_TYPE_SCALAR &&
        rt == DW_PROMQL_TYPE_SCALAR)
        parser_error(p, os, oe, "comparisons between scalars must use BOOL modifier");
    if (dw_promql_binop_is_set(b->op) && b->card == DW_PROMQL_CARD_ONE_TO_ONE)
        b->card = DW_PROMQL_CARD_MANY_TO_MANY;
    for (size_t i = 0; b->on && i < b->nlabels; i++)
        for (size_t j = 0; j < b->ninclude; j++)
            if (strcmp(b->labels[i], b->include[j]) == 0)
                parser_error(p, os, oe,
                             "label \"%s\" must not occur in ON and GROUP clause at once",
                             b->labels[i]);
    if (!is_type_sv(lt))
        parser_error(p, b->lhs->start, b->lhs->end,
                     "binary expression must contain only scalar and instant vector types");
    if (!is_type_sv(rt))
        parser_error(p, b->rhs->start, b->rhs->end,
                     "binary expression must contain only scalar and instant vector types");
    if (lt != DW_PROMQL_TYPE_VECTOR || rt != DW_PROMQL_TYPE_VECTOR) {
        if (b->matching && b->nlabels > 0)
            parser_error(p, n->start, n->end,
                         "vector matching only allowed between instant vectors");
        b->matching = false;
    } else if (dw_promql_binop_is_set(b->op)) {
        if (b->card == DW_PROMQL_CARD_ONE_TO_MANY || b->card == DW_PROMQL_CARD_MANY_TO_ONE)
            parser_error(p, n->start, n->end, "no grouping allowed for \"%s\" operation", op);
        if (b->card != DW_PROMQL_CARD_MANY_TO_MANY)
            parser_error(p, n->start, n->end, "set operations must always be many-to-many");
    }
    if ((lt == DW_PROMQL_TYPE_SCALAR || rt == DW_PROMQL_TYPE_SCALAR) &&
        dw_promql_binop_is_set(b->op))
        parser_error(p, n->start, n->end,
                     "set operator \"%s\" not allowed in binary scalar expression", op);
    n->step_invariant = b->lhs->step_invariant && b->rhs->step_invariant;
}

/* A string argument's literal (label_* arguments are always literals). */
static const struct dw_promql_node *string_literal(const struct dw_promql_node *n)
{
    while (n->kind == DW_PROMQL_PAREN)
        n = n->u.paren;
    return n->kind == DW_PROMQL_STRING ? n : NULL;
}

static void check_label_name(struct parser *p, const struct dw_promql_node *arg, const char *what,
                             const char *func)
{
    const struct dw_promql_node *s = string_literal(arg);
    if (s && !promql_label_name_valid(s->u.string.value, s->u.string.len))
        parser_error(p, arg->start, arg->end, "invalid %s label name in %s(): %s", what, func,
                     s->u.string.value);
}

/* What Prometheus checks on the first evaluation of label_replace/label_join. */
static void check_label_funcs(struct parser *p, struct dw_promql_node *n)
{
    struct dw_promql_call *c = &n->u.call;
    if (c->func->id == DW_PROMQL_FN_LABEL_REPLACE && c->nargs == 5) {
        const struct dw_promql_node *re = string_literal(c->args[4]);
        if (re) {
            struct dw_buf err;
            dw_buf_init(&err, 0);
            c->re = promql_regex_compile(p->expr, re->u.string.value, re->u.string.len, &err);
            dw_buf_release(&err);
            if (!c->re)
                parser_error(p, c->args[4]->start, c->args[4]->end,
                             "invalid regular expression in label_replace(): %s",
                             re->u.string.value);
        }
        check_label_name(p, c->args[1], "destination", "label_replace");
    } else if (c->func->id == DW_PROMQL_FN_LABEL_JOIN && c->nargs >= 3) {
        for (size_t i = 3; i < c->nargs; i++)
            check_label_name(p, c->args[i], "source", "label_join");
        check_label_name(p, c->args[1], "destination", "label_join");
    }
}

static void check_call(struct parser *p, struct dw_promql_node *n)
{
    struct dw_promql_call *c = &n->u.call;
    const struct dw_promql_func *f = c->func;
    size_t nargs = f->nargs;
    if (f->variadic == 0) {
        if (nargs != c->nargs)
            parser_error(p, n->start, n->end, "expected %zu argument(s) in call to \"%s\", got %zu",
                         nargs, f->name, c->nargs);
    } else {
        size_t na = nargs - 1;
        if (na > c->nargs)
            parser_error(p, n->start, n->end,
                         "expected at least %zu argument(s) in call to \"%s\", got %zu", na,
                         f->name, c->nargs);
        else if (f->variadic > 0 && na + (size_t)f->variadic < c->nargs)
            parser_error(p, n->start, n->end,
                         "expected at most %zu argument(s) in call to \"%s\", got %zu",
                         na + (size_t)f->variadic, f->name, c->nargs);
    }
    bool invariant = !f->at_unsafe;
    for (size_t i = 0; i < c->nargs; i++) {
        size_t k = i;
        if (k >= nargs) {
            if (f->variadic == 0)
                break;
            k = nargs - 1;
        }
        char ctx[64];
        snprintf(ctx, sizeof ctx, "call to function \"%s\"", f->name);
        expect_type(p, c->args[i], f->arg_types[k], ctx);
    }
    for (size_t i = 0; i < c->nargs; i++)
        invariant = invariant && c->args[i]->step_invariant;
    n->step_invariant = invariant;
    check_label_funcs(p, n);
}

static void check_vector_selector(struct parser *p, struct dw_promql_node *n)
{
    const struct dw_promql_vector_selector *vs = &n->u.vs;
    n->step_invariant = vs->at != DW_PROMQL_AT_NONE;
    if (vs->name[0]) {
        /* The last matcher is the name's own; an earlier __name__ sets it twice. */
        for (size_t i = 0; i + 1 < vs->nmatchers; i++) {
            if (strcmp(vs->matchers[i].name, "__name__") == 0) {
                struct dw_buf b;
                dw_buf_init(&b, 0);
                dw_buf_puts(&b, "metric name must not be set twice: ");
                go_quote(&b, vs->name, strlen(vs->name));
                dw_buf_puts(&b, " or ");
                go_quote(&b, vs->matchers[i].value, vs->matchers[i].value_len);
                parser_error_buf(p, n->start, n->end, &b);
                dw_buf_release(&b);
            }
        }
        return;
    }
    for (size_t i = 0; i < vs->nmatchers; i++)
        if (!dw_promql_matcher_matches(&vs->matchers[i], "", 0))
            return;
    parser_error(p, n->start, n->end,
                 "vector selector must contain at least one non-empty matcher");
}

static enum dw_promql_type check(struct parser *p, struct dw_promql_node *n)
{
    switch (n->kind) {
    case DW_PROMQL_NUMBER:
    case DW_PROMQL_STRING: n->step_invariant = true; break;
    case DW_PROMQL_VECTOR_SELECTOR: check_vector_selector(p, n); break;
    case DW_PROMQL_MATRIX_SELECTOR:
        check(p, n->u.ms.vs);
        n->step_invariant = n->u.ms.vs->step_invariant;
        break;
    case DW_PROMQL_SUBQUERY: {
        enum dw_promql_type t = check(p, n->u.sq.expr);
        if (t != DW_PROMQL_TYPE_VECTOR)
            parser_error(p, n->start, n->end,
                         "subquery is only allowed on instant vector, got %s instead",
                         promql_value_type_go(t));
        n->step_invariant = n->u.sq.at != DW_PROMQL_AT_NONE;
        break;
    }
    case DW_PROMQL_PAREN:
        check(p, n->u.paren);
        n->step_invariant = n->u.paren->step_invariant;
        break;
    case DW_PROMQL_UNARY: {
        enum dw_promql_type t = check(p, n->u.unary.expr);
        if (!is_type_sv(t))
            parser_error(p, n->start, n->end,
                         "unary expression only allowed on expressions of type scalar or instant "
                         "vector, got \"%s\"",
                         dw_promql_type_name(t));
        n->step_invariant = n->u.unary.expr->step_invariant;
        break;
    }
    case DW_PROMQL_BINARY: check_binary(p, n); break;
    case DW_PROMQL_CALL: check_call(p, n); break;
    case DW_PROMQL_AGGREGATE: check_aggregate(p, n); break;
    }
    return n->type;
}

void promql_check(struct parser *p, struct dw_promql_node *root)
{
    if (root)
        check(p, root);
}
