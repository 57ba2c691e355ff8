/*
 * ast.c - ownership of a parsed query and the small helpers around the tree.
 *
 * DESIGN: a parsed query lives in one arena (h2o's memory-pool idea): nodes,
 * strings, arrays and error text are bump-allocated from chunks and freed
 * together, so freeing never walks the tree (no recursion, no per-node free)
 * and a failed parse mid-way leaks nothing. Compiled regexes are the one
 * outside resource; the owner keeps them on a list (regex.c frees them).
 * Nothing here is shared between threads while a parse is running; a
 * finished tree is read-only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/promql_internal.h"

struct arena_chunk {
    struct arena_chunk *next;
    size_t used;
    size_t cap;
    /* data follows, aligned to ARENA_ALIGN */
};

#define ARENA_ALIGN 16u
#define ARENA_CHUNK 8192u
#define ARENA_HEADER ((sizeof(struct arena_chunk) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1))

void *arena_alloc(struct arena *a, size_t n)
{
    n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (n == 0)
        n = ARENA_ALIGN;
    struct arena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        c = dw_malloc(ARENA_HEADER + cap);
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c + ARENA_HEADER + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *d = arena_alloc(a, n + 1);
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    va_list ap;
    va_start(ap, fmt);
    dw_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    char *s = arena_strndup(a, b.data ? b.data : "", b.len);
    dw_buf_release(&b);
    return s;
}

void arena_release(struct arena *a)
{
    struct arena_chunk *c = a->head;
    while (c) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

void dw_promql_free(struct dw_promql_expr **e)
{
    if (!e || !*e)
        return;
    promql_regex_free_all(*e);
    struct arena a = (*e)->arena; /* the struct itself lives in its arena */
    arena_release(&a);
    *e = NULL;
}

const struct dw_promql_node *dw_promql_root(const struct dw_promql_expr *e)
{
    return e ? e->root : NULL;
}

/* ---- names ---- */

const char *dw_promql_type_name(enum dw_promql_type t)
{
    switch (t) {
    case DW_PROMQL_TYPE_SCALAR: return "scalar";
    case DW_PROMQL_TYPE_VECTOR: return "instant vector";
    case DW_PROMQL_TYPE_MATRIX: return "range vector";
    case DW_PROMQL_TYPE_STRING: return "string";
    case DW_PROMQL_TYPE_NONE: break;
    }
    return "none";
}

const char *promql_value_type_go(enum dw_promql_type t)
{
    switch (t) {
    case DW_PROMQL_TYPE_SCALAR: return "scalar";
    case DW_PROMQL_TYPE_VECTOR: return "vector";
    case DW_PROMQL_TYPE_MATRIX: return "matrix";
    case DW_PROMQL_TYPE_STRING: return "string";
    case DW_PROMQL_TYPE_NONE: break;
    }
    return "none";
}

static const char *const binop_names[] = {
    "+", "-", "*", "/", "%", "^", "atan2", "==", "!=", ">", "<", ">=", "<=", "and", "or", "unless",
};

const char *dw_promql_binop_name(enum dw_promql_binop op)
{
    return (size_t)op < DW_ARRAY_LEN(binop_names) ? binop_names[op] : "?";
}

bool dw_promql_binop_is_comparison(enum dw_promql_binop op)
{
    return op >= DW_PROMQL_EQLC && op <= DW_PROMQL_LTE;
}

bool dw_promql_binop_is_set(enum dw_promql_binop op)
{
    return op == DW_PROMQL_AND || op == DW_PROMQL_OR || op == DW_PROMQL_UNLESS;
}

static const char *const agg_names[] = {
    "sum",    "avg",    "count", "min",     "max",          "group",
    "stddev", "stdvar", "topk",  "bottomk", "count_values", "quantile",
};

const char *dw_promql_agg_name(enum dw_promql_agg op)
{
    return (size_t)op < DW_ARRAY_LEN(agg_names) ? agg_names[op] : "?";
}

/* ---- matchers ---- */

static bool same_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

bool dw_promql_matcher_matches(const struct dw_promql_matcher *m, const char *value, size_t len)
{
    switch (m->type) {
    case DW_PROMQL_MATCH_EQ: return same_bytes(value, len, m->value, m->value_len);
    case DW_PROMQL_MATCH_NEQ: return !same_bytes(value, len, m->value, m->value_len);
    case DW_PROMQL_MATCH_RE: return dw_promql_regex_match(m->re, value, len);
    case DW_PROMQL_MATCH_NRE: return !dw_promql_regex_match(m->re, value, len);
    }
    return false;
}

/* ---- errors ---- */

void dw_promql_error_release(struct dw_promql_error *err)
{
    if (!err)
        return;
    free(err->msg);
    memset(err, 0, sizeof *err);
}

void dw_promql_error_format(const struct dw_promql_error *err, struct dw_buf *out)
{
    dw_buf_printf(out, "%d:%d: parse error: %s", err->line, err->col,
                  err->msg ? err->msg : "unknown error");
}
