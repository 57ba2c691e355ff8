/*
 * test_promql_conformance.c - the runner of Prometheus's `.test` format over
 * every file of ../shared/promql-tests (read in place; see its README.md).
 *
 * Each file starts with an empty in-memory storage; `load` adds samples,
 * `clear` empties it, and each `eval` is one case: the query runs as an
 * instant query and, unless it must fail, again as a range query from t-1m
 * to t+1m at 1m steps whose point at t must give the same result. Like
 * Prometheus's own runner, the case is repeated with `@ t` added to every
 * selector and evaluated at -10t, 0, t/5, t and 10t (when no time-dependent
 * function is involved), all with the same expectations. Values match when both are NaN, equal, or
 * within Prometheus's almostEqual (relative 1e-6). `eval_ordered` also
 * checks the order of the instant result; `eval_fail` expects an error.
 *
 * Output: one "FAIL file:line expr" line per failing case followed by
 * indented details, one line per file, and the closing
 * "test_promql_conformance: N passed, N failed". An optional argument keeps
 * only the cases whose "file:line expr" contains it.
 */
#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "promql/promql.h"

#ifndef DW_SHARED_DIR
#error "DW_SHARED_DIR must name the shared folder"
#endif

#define STALE_BITS UINT64_C(0x7ff0000000000002)

static long queries_run; /* instant and range queries executed, for the summary */

/* ---- small parsing helpers ---- */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct dw_buf b;
    dw_buf_init(&b, 0);
    char tmp[8192];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        dw_buf_append(&b, tmp, n);
    fclose(f);
    dw_buf_putc(&b, '\0');
    return dw_buf_steal(&b);
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Prometheus durations: 1h30m, 50m, 1ms, 0s ... */
static int parse_dur(const char *s, size_t n, int64_t *out)
{
    static const struct {
        const char *u;
        int64_t ms;
    } units[] = {{"ms", 1},       {"s", 1000},      {"m", 60000},      {"h", 3600000},
                 {"d", 86400000}, {"w", 604800000}, {"y", 31536000000}};
    int64_t total = 0;
    size_t i = 0;
    if (n == 0)
        return -1;
    while (i < n) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        int64_t v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            v = v * 10 + (s[i++] - '0');
        size_t u = 0;
        for (; u < sizeof units / sizeof units[0]; u++) {
            size_t ul = strlen(units[u].u);
            if (i + ul <= n && memcmp(s + i, units[u].u, ul) == 0 &&
                !(ul == 1 && units[u].u[0] == 'm' && i + 1 < n && s[i + 1] == 's'))
                break;
        }
        if (u == sizeof units / sizeof units[0])
            return -1;
        total += v * units[u].ms;
        i += strlen(units[u].u);
    }
    *out = total;
    return 0;
}

/* A number token as the PromQL lexer reads it in series values: sign,
 * digits with optional fraction and exponent, or Inf/NaN. Returns its length. */
static size_t number_len(const char *p)
{
    const char *s = p;
    if (*s == '+' || *s == '-')
        s++;
    if (strncasecmp(s, "inf", 3) == 0)
        return (size_t)(s + 3 - p);
    if (strncasecmp(s, "nan", 3) == 0)
        return (size_t)(s + 3 - p);
    const char *d = s;
    while (*s >= '0' && *s <= '9')
        s++;
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++)
            ;
    if (s == d || (s == d + 1 && *d == '.'))
        return 0;
    if (*s == 'e' || *s == 'E') {
        const char *e = s + 1;
        if (*e == '+' || *e == '-')
            e++;
        if (*e >= '0' && *e <= '9') {
            while (*e >= '0' && *e <= '9')
                e++;
            s = e;
        }
    }
    return (size_t)(s - p);
}

static double number_value(const char *p, size_t n)
{
    char tmp[128];
    if (n >= sizeof tmp)
        n = sizeof tmp - 1;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    return strtod(tmp, NULL);
}

/* A whole token that is one number (a scalar expectation). */
static bool parse_number(const char *s, double *v)
{
    size_t n = number_len(s);
    if (n == 0 || s[n] != '\0')
        return false;
    *v = number_value(s, n);
    return true;
}

/* ---- series descriptions: name{l="v", ...} ---- */

struct desc {
    struct dw_label l[64];
    size_t n;
    char *strings[128];
    size_t nstrings;
};

static void desc_release(struct desc *d)
{
    for (size_t i = 0; i < d->nstrings; i++)
        free(d->strings[i]);
    d->n = d->nstrings = 0;
}

static const char *keep(struct desc *d, char *s)
{
    if (d->nstrings < 128)
        d->strings[d->nstrings++] = s;
    return s;
}

static int parse_quoted(const char **pp, char **out)
{
    const char *p = *pp;
    char q = *p++;
    struct dw_buf b;
    dw_buf_init(&b, 0);
    while (*p && *p != q) {
        if (*p == '\\' && q != '`') {
            p++;
            switch (*p) {
            case 'n': dw_buf_putc(&b, '\n'); break;
            case 't': dw_buf_putc(&b, '\t'); break;
            case '\\': dw_buf_putc(&b, '\\'); break;
            case '"': dw_buf_putc(&b, '"'); break;
            case '\'': dw_buf_putc(&b, '\''); break;
            default: dw_buf_putc(&b, '\\'); dw_buf_putc(&b, *p);
            }
            if (*p)
                p++;
            continue;
        }
        dw_buf_putc(&b, *p++);
    }
    if (*p != q) {
        dw_buf_release(&b);
        return -1;
    }
    dw_buf_putc(&b, '\0');
    *out = dw_buf_steal(&b);
    *pp = p + 1;
    return 0;
}

static bool name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

/* Parses the descriptor at *pp; leaves *pp after it. */
static int parse_desc(const char **pp, struct desc *d)
{
    const char *p = *pp;
    d->n = d->nstrings = 0;
    if (name_char(*p, true)) {
        const char *s = p;
        while (name_char(*p, false))
            p++;
        d->l[d->n].name = "__name__";
        d->l[d->n].value = keep(d, dw_strndup(s, (size_t)(p - s)));
        d->n++;
    }
    if (*p == '{') {
        p = skip_ws(p + 1);
        while (*p && *p != '}') {
            const char *s = p;
            while (name_char(*p, false))
                p++;
            if (p == s || d->n >= 64)
                return -1;
            char *name = dw_strndup(s, (size_t)(p - s));
            keep(d, name);
            p = skip_ws(p);
            if (*p++ != '=')
                return -1;
            p = skip_ws(p);
            char *val;
            if ((*p != '"' && *p != '\'' && *p != '`') || parse_quoted(&p, &val) < 0)
                return -1;
            d->l[d->n].name = name;
            d->l[d->n].value = keep(d, val);
            d->n++;
            p = skip_ws(p);
            if (*p == ',')
                p = skip_ws(p + 1);
        }
        if (*p != '}')
            return -1;
        p++;
    }
    if (p == *pp)
        return -1;
    *pp = p;
    return 0;
}

/* ---- series values ---- */

struct value {
    bool empty; /* a `_` slot */
    double v;
};

struct values {
    struct value *v;
    size_t n, cap;
};

static void values_push(struct values *vs, bool empty, double v)
{
    vs->v = dw_grow(vs->v, &vs->cap, vs->n + 1, sizeof *vs->v);
    vs->v[vs->n++] = (struct value){empty, v};
}

static int parse_count(const char *p, size_t n, int64_t *k)
{
    if (n == 0)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9' || v > 100000000)
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *k = v;
    return 0;
}

static int parse_item(const char *p, size_t n, struct values *vs)
{
    int64_t k;
    if (n == 5 && memcmp(p, "stale", 5) == 0) {
        uint64_t bits = STALE_BITS;
        double v;
        memcpy(&v, &bits, sizeof v);
        values_push(vs, false, v);
        return 0;
    }
    if (p[0] == '_') {
        if (n == 1) {
            values_push(vs, true, 0);
            return 0;
        }
        if (p[1] != 'x' || parse_count(p + 2, n - 2, &k) < 0)
            return -1;
        for (int64_t i = 0; i < k; i++)
            values_push(vs, true, 0);
        return 0;
    }
    size_t nl = number_len(p);
    if (nl == 0 || nl > n)
        return -1;
    double start = number_value(p, nl);
    if (nl == n) {
        values_push(vs, false, start);
        return 0;
    }
    const char *r = p + nl, *end = p + n;
    double delta = 0;
    if (*r == '+' || *r == '-') {
        size_t dl = number_len(r);
        if (dl == 0)
            return -1;
        delta = number_value(r, dl);
        r += dl;
    }
    if (*r != 'x' || parse_count(r + 1, (size_t)(end - r - 1), &k) < 0)
        return -1;
    double v = start;
    for (int64_t i = 0; i <= k; i++) {
        values_push(vs, false, v);
        v += delta;
    }
    return 0;
}

static int parse_values(const char *p, struct values *vs)
{
    vs->n = 0;
    for (p = skip_ws(p); *p; p = skip_ws(p)) {
        const char *s = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (parse_item(s, (size_t)(p - s), vs) < 0)
            return -1;
    }
    return 0;
}

/* ---- comparing ---- */

static bool almost_equal(double a, double b)
{
    const double eps = 0.000001, min_normal = 2.2250738585072014e-308;
    if (isnan(a) && isnan(b))
        return true;
    if (a == b)
        return true;
    double diff = fabs(a - b);
    if (a == 0 || b == 0 || diff < min_normal)
        return diff < eps * min_normal;
    return diff / (fabs(a) + fabs(b)) < eps;
}

struct expect {
    struct desc d;
    double v;
    bool used;
};

struct evalcase {
    const char *file;
    int line;
    const char *expr;
    int64_t t;
    bool ordered, fail, scalar;
    double scalar_v;
    struct expect *exp;
    size_t nexp;
};

static int label_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dw_label *)a)->name, ((const struct dw_label *)b)->name);
}

static bool labels_equal(const struct desc *d, const struct dw_label *l, size_t n)
{
    struct dw_label tmp[64];
    size_t k = 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->l[i].value[0])
            tmp[k++] = d->l[i];
    if (k != n)
        return false;
    qsort(tmp, k, sizeof *tmp, label_cmp);
    for (size_t i = 0; i < k; i++)
        if (strcmp(tmp[i].name, l[i].name) || strcmp(tmp[i].value, l[i].value))
            return false;
    return true;
}

static void format_labels(const struct dw_label *l, size_t n, struct dw_buf *out)
{
    dw_buf_putc(out, '{');
    for (size_t i = 0; i < n; i++)
        dw_buf_printf(out, "%s%s=\"%s\"", i ? ", " : "", l[i].name, l[i].value);
    dw_buf_putc(out, '}');
}

/* One series of a result, reduced to a single value (an instant vector). */
struct got {
    const struct dw_label *l;
    size_t n;
    double v;
};

static int compare(const struct evalcase *c, const struct got *g, size_t ng, bool ordered,
                   const char *mode, struct dw_buf *why)
{
    for (size_t i = 0; i < c->nexp; i++)
        c->exp[i].used = false;
    for (size_t i = 0; i < ng; i++) {
        size_t k = 0;
        while (k < c->nexp && !labels_equal(&c->exp[k].d, g[i].l, g[i].n))
            k++;
        if (k == c->nexp) {
            dw_buf_printf(why, "  %s:%d: %s: unexpected series ", c->file, c->line, mode);
            format_labels(g[i].l, g[i].n, why);
            dw_buf_printf(why, " %.17g\n", g[i].v);
            return -1;
        }
        if (ordered && k != i) {
            dw_buf_printf(why, "  %s:%d: %s: series at position %zu expected at %zu\n", c->file,
                          c->line, mode, i + 1, k + 1);
            return -1;
        }
        if (!almost_equal(c->exp[k].v, g[i].v)) {
            dw_buf_printf(why, "  %s:%d: %s: expected %.17g, got %.17g for ", c->file, c->line,
                          mode, c->exp[k].v, g[i].v);
            format_labels(g[i].l, g[i].n, why);
            dw_buf_putc(why, '\n');
            return -1;
        }
        c->exp[k].used = true;
    }
    for (size_t k = 0; k < c->nexp; k++) {
        if (!c->exp[k].used) {
            struct dw_label tmp[64];
            memcpy(tmp, c->exp[k].d.l, c->exp[k].d.n * sizeof *tmp);
            dw_buf_printf(why, "  %s:%d: %s: missing series ", c->file, c->line, mode);
            format_labels(tmp, c->exp[k].d.n, why);
            dw_buf_printf(why, " %.17g (got %zu series)\n", c->exp[k].v, ng);
            return -1;
        }
    }
    return 0;
}

static int check_scalar(const struct evalcase *c, double got, const char *mode, struct dw_buf *why)
{
    if (almost_equal(c->scalar_v, got))
        return 0;
    dw_buf_printf(why, "  %s:%d: %s: expected scalar %.17g, got %.17g\n", c->file, c->line, mode,
                  c->scalar_v, got);
    return -1;
}

/* ---- running one eval ---- */

static int run_instant(const struct dw_promql_storage *st, const struct dw_promql_expr *e,
                       const struct evalcase *c, struct dw_buf *why)
{
    struct dw_promql_result *r;
    char *err = NULL;
    queries_run++;
    int rc = dw_promql_eval_instant(st, e, c->t, NULL, &r, &err);
    if (rc != 0) {
        if (c->fail) {
            free(err);
            return 1; /* the expected error: nothing more to check */
        }
        dw_buf_printf(why, "  %s:%d: instant: error: %s\n", c->file, c->line, err);
        free(err);
        return -1;
    }
    if (c->fail) {
        dw_buf_printf(why, "  %s:%d: instant: expected an error, got none\n", c->file, c->line);
        dw_promql_result_free(&r);
        return -1;
    }
    int res = 0;
    if (c->scalar) {
        if (r->type != DW_PROMQL_TYPE_SCALAR) {
            dw_buf_printf(why, "  %s:%d: instant: expected a scalar, got %s\n", c->file, c->line,
                          dw_promql_type_name(r->type));
            res = -1;
        } else {
            res = check_scalar(c, r->scalar.v, "instant", why);
        }
    } else if (r->type != DW_PROMQL_TYPE_VECTOR) {
        dw_buf_printf(why, "  %s:%d: instant: expected an instant vector, got %s\n", c->file,
                      c->line, dw_promql_type_name(r->type));
        res = -1;
    } else {
        struct got *g = calloc(r->nseries + 1, sizeof *g);
        for (size_t i = 0; i < r->nseries; i++)
            g[i] =
                (struct got){r->series[i].labels, r->series[i].nlabels, r->series[i].points[0].v};
        res = compare(c, g, r->nseries, c->ordered, "instant", why);
        free(g);
    }
    dw_promql_result_free(&r);
    return res;
}

static int run_range(const struct dw_promql_storage *st, const struct dw_promql_expr *e,
                     const struct evalcase *c, struct dw_buf *why)
{
    struct dw_promql_result *r;
    char *err = NULL;
    queries_run++;
    if (dw_promql_eval_range(st, e, c->t - 60000, c->t + 60000, 60000, NULL, &r, &err) != 0) {
        dw_buf_printf(why, "  %s:%d: range: error: %s\n", c->file, c->line, err);
        free(err);
        return -1;
    }
    int res = 0;
    if (!c->ordered) { /* a range result has no order to check */
        struct got *g = calloc(r->nseries + 1, sizeof *g);
        size_t ng = 0;
        for (size_t i = 0; i < r->nseries; i++)
            for (size_t k = 0; k < r->series[i].npoints; k++)
                if (r->series[i].points[k].t == c->t)
                    g[ng++] = (struct got){r->series[i].labels, r->series[i].nlabels,
                                           r->series[i].points[k].v};
        if (c->scalar) {
            if (ng == 0) {
                dw_buf_printf(why, "  %s:%d: range: no point at t\n", c->file, c->line);
                res = -1;
            } else {
                res = check_scalar(c, g[0].v, "range", why);
            }
        } else {
            res = compare(c, g, ng, false, "range", why);
        }
        free(g);
    }
    dw_promql_result_free(&r);
    return res;
}

/*
 * Prometheus's runner also adds `@ t` to every selector and subquery that
 * has none (not below a subquery, whose own `@` then rules) and evaluates
 * that at other times, which must change nothing; skipped when a
 * time-dependent function appears outside subqueries.
 */
static void add_at(struct dw_promql_node *n, int64_t t, bool *unsafe)
{
    switch (n->kind) {
    case DW_PROMQL_VECTOR_SELECTOR:
        if (n->u.vs.at == DW_PROMQL_AT_NONE) {
            n->u.vs.at = DW_PROMQL_AT_TIME;
            n->u.vs.at_ms = t;
        }
        break;
    case DW_PROMQL_MATRIX_SELECTOR: add_at(n->u.ms.vs, t, unsafe); break;
    case DW_PROMQL_SUBQUERY:
        if (n->u.sq.at == DW_PROMQL_AT_NONE) {
            n->u.sq.at = DW_PROMQL_AT_TIME;
            n->u.sq.at_ms = t;
        }
        break;
    case DW_PROMQL_PAREN: add_at(n->u.paren, t, unsafe); break;
    case DW_PROMQL_UNARY: add_at(n->u.unary.expr, t, unsafe); break;
    case DW_PROMQL_BINARY:
        add_at(n->u.bin.lhs, t, unsafe);
        add_at(n->u.bin.rhs, t, unsafe);
        break;
    case DW_PROMQL_CALL:
        *unsafe = *unsafe || n->u.call.func->at_unsafe;
        for (size_t i = 0; i < n->u.call.nargs; i++)
            add_at(n->u.call.args[i], t, unsafe);
        break;
    case DW_PROMQL_AGGREGATE:
        if (n->u.agg.param)
            add_at(n->u.agg.param, t, unsafe);
        add_at(n->u.agg.expr, t, unsafe);
        break;
    default: break;
    }
}

/* Runs one parsed query at c->t as instant and range query. */
static int run_at(const struct dw_promql_storage *st, const struct dw_promql_expr *e,
                  const struct evalcase *c, struct dw_buf *why)
{
    int rc = run_instant(st, e, c, why);
    if (rc == 0)
        rc = run_range(st, e, c, why);
    return rc < 0 ? -1 : 0;
}

static int run_at_variants(const struct dw_promql_storage *st, struct dw_promql_expr *e,
                           const struct evalcase *c, struct dw_buf *why)
{
    bool unsafe = false;
    add_at((struct dw_promql_node *)dw_promql_root(e), c->t, &unsafe);
    if (unsafe)
        return 0;
    char *text = dw_promql_format_str(dw_promql_root(e));
    struct dw_promql_expr *x;
    struct dw_promql_error perr = {0};
    int rc = 0;
    if (dw_promql_parse(text, strlen(text), NULL, &x, &perr) < 0) {
        dw_buf_printf(why, "  %s:%d: @ variant %s does not parse: %s\n", c->file, c->line, text,
                      perr.msg);
        dw_promql_error_release(&perr);
        free(text);
        return -1;
    }
    int64_t ts = c->t;
    int64_t times[5] = {-10 * ts, 0, ts / 5, ts, 10 * ts};
    size_t ntimes = 5;
    if (ts == 0) {
        times[0] = -1000;
        times[1] = 0;
        times[2] = 1000;
        ntimes = 3;
    }
    for (size_t i = 0; i < ntimes && rc == 0; i++) {
        struct evalcase v = *c;
        v.t = times[i];
        rc = run_at(st, x, &v, why);
        if (rc < 0)
            dw_buf_printf(why, "  %s:%d: (in the variant %s at %" PRId64 "ms)\n", c->file, c->line,
                          text, v.t);
    }
    dw_promql_free(&x);
    free(text);
    return rc;
}

static int run_case(const struct dw_promql_storage *st, const struct evalcase *c,
                    struct dw_buf *why)
{
    struct dw_promql_expr *e;
    struct dw_promql_error perr = {0};
    if (dw_promql_parse(c->expr, strlen(c->expr), NULL, &e, &perr) < 0) {
        if (!c->fail)
            dw_buf_printf(why, "  %s:%d: parse error: %s\n", c->file, c->line, perr.msg);
        dw_promql_error_release(&perr);
        return c->fail ? 0 : -1;
    }
    int rc = run_at(st, e, c, why);
    if (rc == 0)
        rc = run_at_variants(st, e, c, why);
    dw_promql_free(&e);
    return rc;
}

/* ---- files ---- */

struct counts {
    int passed, failed;
};

struct loaddef {
    struct desc d;
    struct values vs;
};

static bool desc_same(const struct desc *a, const struct desc *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        bool found = false;
        for (size_t k = 0; k < b->n && !found; k++)
            found = !strcmp(a->l[i].name, b->l[k].name) && !strcmp(a->l[i].value, b->l[k].value);
        if (!found)
            return false;
    }
    return true;
}

static int cmd_load(struct dw_promql_memstorage *m, char **lines, size_t nlines, size_t *i,
                    const char *file)
{
    int64_t interval;
    const char *arg = skip_ws(lines[*i] + 4);
    if (parse_dur(arg, strlen(arg), &interval) < 0) {
        printf("  %s:%zu: bad load interval\n", file, *i + 1);
        return -1;
    }
    struct loaddef *defs = NULL;
    size_t ndefs = 0, cap = 0;
    int rc = 0;
    for ((*i)++; *i < nlines && lines[*i][0]; (*i)++) {
        defs = dw_grow(defs, &cap, ndefs + 1, sizeof *defs);
        struct loaddef *d = &defs[ndefs];
        memset(d, 0, sizeof *d);
        const char *p = lines[*i];
        if (parse_desc(&p, &d->d) < 0 || parse_values(p, &d->vs) < 0) {
            printf("  %s:%zu: cannot parse series\n", file, *i + 1);
            desc_release(&d->d);
            free(d->vs.v);
            rc = -1;
            continue;
        }
        /* A series defined twice in one load keeps its last definition. */
        size_t k = 0;
        while (k < ndefs && !desc_same(&defs[k].d, &d->d))
            k++;
        if (k < ndefs) {
            free(defs[k].vs.v);
            defs[k].vs = d->vs;
            desc_release(&d->d);
            continue;
        }
        ndefs++;
    }
    for (size_t k = 0; k < ndefs; k++) {
        for (size_t j = 0; j < defs[k].vs.n; j++)
            if (!defs[k].vs.v[j].empty &&
                dw_promql_memstorage_add(m, defs[k].d.l, defs[k].d.n, (int64_t)j * interval,
                                         defs[k].vs.v[j].v) < 0)
                rc = -1;
        desc_release(&defs[k].d);
        free(defs[k].vs.v);
    }
    free(defs);
    return rc;
}

static int parse_eval(char **lines, size_t nlines, size_t *i, const char *file, struct evalcase *c)
{
    const char *p = lines[*i];
    memset(c, 0, sizeof *c);
    c->file = file;
    c->line = (int)*i + 1;
    if (strncmp(p, "eval_ordered ", 13) == 0)
        c->ordered = true;
    else if (strncmp(p, "eval_fail ", 10) == 0)
        c->fail = true;
    p = strchr(p, ' ');
    p = skip_ws(p);
    if (strncmp(p, "instant", 7) != 0)
        return -1;
    p = skip_ws(p + 7);
    if (strncmp(p, "at ", 3) != 0)
        return -1;
    p = skip_ws(p + 3);
    const char *d = p;
    while (*p && *p != ' ' && *p != '\t')
        p++;
    if (parse_dur(d, (size_t)(p - d), &c->t) < 0)
        return -1;
    c->expr = skip_ws(p);
    size_t cap = 0;
    for ((*i)++; *i < nlines && lines[*i][0]; (*i)++) {
        double v;
        const char *l = lines[*i];
        if (c->nexp == 0 && !c->scalar && parse_number(l, &v)) {
            c->scalar = true;
            c->scalar_v = v;
            continue;
        }
        c->exp = dw_grow(c->exp, &cap, c->nexp + 1, sizeof *c->exp);
        struct expect *x = &c->exp[c->nexp];
        memset(x, 0, sizeof *x);
        struct values vs = {0};
        if (parse_desc(&l, &x->d) < 0 || parse_values(l, &vs) < 0 || vs.n != 1) {
            desc_release(&x->d);
            free(vs.v);
            return -1;
        }
        x->v = vs.v[0].v;
        free(vs.v);
        c->nexp++;
    }
    return 0;
}

static void free_case(struct evalcase *c)
{
    for (size_t k = 0; k < c->nexp; k++)
        desc_release(&c->exp[k].d);
    free(c->exp);
}

static void run_file(const char *dir, const char *name, const char *filter, struct counts *total)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = read_file(path);
    if (!text) {
        printf("FAIL %s: cannot read\n", name);
        total->failed++;
        return;
    }
    /* Lines are trimmed; a comment line counts as blank. */
    char **lines = NULL;
    size_t nlines = 0, cap = 0;
    for (char *save = NULL, *l = text; l; l = save) {
        save = strchr(l, '\n');
        if (save)
            *save++ = '\0';
        while (*l == ' ' || *l == '\t')
            l++;
        size_t n = strlen(l);
        while (n && (l[n - 1] == ' ' || l[n - 1] == '\t' || l[n - 1] == '\r'))
            l[--n] = '\0';
        if (l[0] == '#')
            l[0] = '\0';
        lines = dw_grow(lines, &cap, nlines + 1, sizeof *lines);
        lines[nlines++] = l;
    }
    struct dw_promql_memstorage *m = dw_promql_memstorage_new();
    struct counts here = {0, 0};
    for (size_t i = 0; i < nlines;) {
        const char *l = lines[i];
        if (!l[0]) {
            i++;
        } else if (strncmp(l, "load ", 5) == 0) {
            if (cmd_load(m, lines, nlines, &i, name) < 0)
                here.failed++;
        } else if (strcmp(l, "clear") == 0) {
            dw_promql_memstorage_clear(m);
            i++;
        } else if (strncmp(l, "eval", 4) == 0) {
            struct evalcase c;
            size_t at = i;
            if (parse_eval(lines, nlines, &i, name, &c) < 0) {
                printf("FAIL %s:%zu cannot parse eval\n", name, at + 1);
                here.failed++;
                free_case(&c);
                while (i < nlines && lines[i][0])
                    i++;
                continue;
            }
            char label[4096];
            snprintf(label, sizeof label, "%s:%d %s", name, c.line, c.expr);
            if (!filter || strstr(label, filter)) {
                struct dw_buf why;
                dw_buf_init(&why, 0);
                if (run_case(dw_promql_memstorage_storage(m), &c, &why) == 0) {
                    here.passed++;
                } else {
                    here.failed++;
                    printf("FAIL %s\n%s", label, why.data ? why.data : "");
                }
                dw_buf_release(&why);
            }
            free_case(&c);
        } else {
            printf("FAIL %s:%zu unknown command: %s\n", name, i + 1, l);
            here.failed++;
            i++;
        }
    }
    printf("%s %s: %d passed, %d failed\n", here.failed ? "FAIL" : "ok  ", name, here.passed,
           here.failed);
    total->passed += here.passed;
    total->failed += here.failed;
    dw_promql_memstorage_free(&m);
    free(lines);
    free(text);
}

static int name_order(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    const char *dir = DW_SHARED_DIR "/promql-tests";
    const char *filter = argc > 1 ? argv[1] : NULL;
    DIR *dp = opendir(dir);
    struct counts total = {0, 0};
    if (!dp) {
        printf("FAIL cannot open %s\n", dir);
        printf("test_promql_conformance: 0 passed, 1 failed\n");
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *de; (de = readdir(dp));) {
        size_t l = strlen(de->d_name);
        if (l > 5 && strcmp(de->d_name + l - 5, ".test") == 0) {
            names = dw_grow(names, &cap, n + 1, sizeof *names);
            names[n++] = dw_strdup(de->d_name);
        }
    }
    closedir(dp);
    qsort(names, n, sizeof *names, name_order);
    for (size_t i = 0; i < n; i++) {
        run_file(dir, names[i], filter, &total);
        free(names[i]);
    }
    free(names);
    if (n == 0)
        total.failed++;
    printf("%ld instant and range queries evaluated\n", queries_run);
    printf("test_promql_conformance: %d passed, %d failed\n", total.passed, total.failed);
    fflush(stdout);
    return total.failed ? 1 : 0;
}
