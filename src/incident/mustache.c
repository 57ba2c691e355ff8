/*
 * mustache.c - the Mustache template language (spec v1.1 without lambdas):
 * compiler and renderer.
 *
 * DESIGN
 *
 * Compilation is one left-to-right scan, because a {{=<% %>=}} tag changes
 * how the rest of the text is cut into tags. The template owns a copy of its
 * text and a flat array of nodes pointing into it (text runs, variables,
 * section openings and closings, partials); a section's node records the
 * index of its closing node, so the renderer walks index ranges and skips a
 * section by jumping to its end. Names stay as (offset, length) slices of the
 * text: dotted names are split while looking them up, with
 * json_object_getn, so compiling allocates three blocks whatever the size.
 *
 * Standalone lines: a section, inverted, closing, comment, delimiter or
 * partial tag that is alone on its line (only spaces and tabs around it) is
 * cut out together with that whitespace and the line's newline (\n or
 * \r\n). The test on the left is "the blanks before the tag reach the start
 * of the text or a newline": the character before a run of text is always
 * the end of a tag or a newline a standalone tag consumed, never a blank,
 * because delimiters cannot contain whitespace.
 *
 * Partials come from the caller as text at render time, so they are compiled
 * while rendering and cached for the rest of that render (keyed by name and
 * indentation). A standalone partial's indentation is inserted at the start
 * of every line of the partial's text before compiling it, as the spec
 * requires: the template's lines are indented, data with newlines is not.
 *
 * Rendering keeps a context stack of json_t pointers borrowed from the data
 * (no reference counting: the data outlives the call). Every limit is a hard
 * error rather than a silent cut: output past the buffer's maximum, partials
 * nested past 32, and a step budget that stops nested sections over lists
 * whose bodies print nothing. On error the output buffer is restored to its
 * length before the call, so a caller never sends half a report.
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incident/mustache.h"

enum node_kind { N_TEXT, N_ESCAPED, N_RAW, N_SECTION, N_INVERTED, N_CLOSE, N_PARTIAL };

struct node {
    enum node_kind kind;
    size_t at;               /* offset of the tag (or text) in src, for messages */
    size_t off, len;         /* the text, or the tag's trimmed name, in src */
    size_t end;              /* N_SECTION, N_INVERTED: index of the matching N_CLOSE */
    size_t ind_off, ind_len; /* N_PARTIAL: indentation of a standalone partial, in src */
};

struct dw_mustache {
    char *name; /* heap */
    char *src;  /* heap copy of the text, NUL-terminated; nodes point into it */
    size_t src_len;
    struct node *nodes; /* heap */
    size_t n, cap;
};

/* ---- compiling ---- */

enum tag_kind { T_ESCAPED, T_RAW, T_SECTION, T_INVERTED, T_CLOSE, T_PARTIAL, T_COMMENT, T_DELIM };

struct tag {
    enum tag_kind kind;
    size_t at;         /* the opening delimiter */
    size_t cbeg, cend; /* content between sigil and closing delimiter, trimmed */
    size_t end;        /* just past the closing delimiter */
};

struct parser {
    struct dw_mustache *t;
    struct dw_diags *diags;
    const char *otag, *ctag; /* the delimiters in force: static strings or slices of src */
    size_t olen, clen;
    size_t open[DW_MUSTACHE_MAX_DEPTH]; /* node indices of the open sections */
    size_t nopen;
};

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* 1-based line and column (in bytes) of offset off. */
static void position(const char *s, size_t off, int *line, int *col)
{
    int l = 1;
    size_t bol = 0;
    for (size_t i = 0; i < off; i++) {
        if (s[i] == '\n') {
            l++;
            bol = i + 1;
        }
    }
    *line = l;
    *col = (int)(off - bol) + 1;
}

static void perr(struct parser *ps, size_t at, const char *fmt, ...) DW_PRINTF(3, 4);

static void perr(struct parser *ps, size_t at, const char *fmt, ...)
{
    if (!ps->diags)
        return;
    int line, col;
    position(ps->t->src, at, &line, &col);
    va_list ap;
    va_start(ap, fmt);
    char *msg = dw_vasprintf(fmt, ap);
    va_end(ap);
    dw_diags_add(ps->diags, ps->t->name, line, col, NULL, "%s", msg);
    free(msg);
}

static struct node *add_node(struct dw_mustache *t, enum node_kind kind, size_t at)
{
    t->nodes = dw_grow(t->nodes, &t->cap, t->n + 1, sizeof *t->nodes);
    struct node *nd = &t->nodes[t->n++];
    memset(nd, 0, sizeof *nd);
    nd->kind = kind;
    nd->at = at;
    return nd;
}

static void add_text(struct parser *ps, size_t from, size_t to)
{
    if (to <= from)
        return;
    struct node *nd = add_node(ps->t, N_TEXT, from);
    nd->off = from;
    nd->len = to - from;
}

/* Finds the closing sequence pre + ctag (pre may be 0) at or after from. */
static const char *find_close(struct parser *ps, size_t from, char pre, size_t *clen)
{
    char close[DW_MUSTACHE_MAX_DELIM + 1];
    size_t n = 0;
    if (pre)
        close[n++] = pre;
    memcpy(close + n, ps->ctag, ps->clen);
    n += ps->clen;
    *clen = n;
    const struct dw_mustache *t = ps->t;
    return memmem(t->src + from, t->src_len - from, close, n);
}

/* Cuts the tag whose opening delimiter is at `at` into kind and content. */
static int scan_tag(struct parser *ps, size_t at, struct tag *tg)
{
    const char *s = ps->t->src;
    size_t n = ps->t->src_len, i = at + ps->olen;
    char sig = i < n ? s[i] : '\0', pre = '\0';
    switch (sig) {
    case '#': tg->kind = T_SECTION; break;
    case '^': tg->kind = T_INVERTED; break;
    case '/': tg->kind = T_CLOSE; break;
    case '>': tg->kind = T_PARTIAL; break;
    case '!': tg->kind = T_COMMENT; break;
    case '&': tg->kind = T_RAW; break;
    case '{':
        tg->kind = T_RAW;
        pre = '}';
        break;
    case '=':
        tg->kind = T_DELIM;
        pre = '=';
        break;
    default: tg->kind = T_ESCAPED; sig = '\0';
    }
    if (sig)
        i++;
    size_t clen;
    const char *c = find_close(ps, i, pre, &clen);
    if (!c) {
        perr(ps, at, "unclosed tag: no '%s%.*s' after '%.*s'", pre ? (char[]){pre, 0} : "",
             (int)ps->clen, ps->ctag, (int)ps->olen, ps->otag);
        return -1;
    }
    size_t e = (size_t)(c - s);
    while (i < e && is_space(s[i]))
        i++;
    while (e > i && is_space(s[e - 1]))
        e--;
    tg->at = at;
    tg->cbeg = i;
    tg->cend = e;
    tg->end = (size_t)(c - s) + clen;
    return 0;
}

/* A name is "." or dot-separated non-empty parts without whitespace. */
static int check_name(struct parser *ps, const struct tag *tg)
{
    const char *s = ps->t->src + tg->cbeg;
    size_t len = tg->cend - tg->cbeg;
    if (len == 0) {
        perr(ps, tg->at, "empty tag name");
        return -1;
    }
    if (len == 1 && s[0] == '.')
        return 0;
    bool ok = s[0] != '.' && s[len - 1] != '.';
    for (size_t i = 0; ok && i < len; i++)
        ok = !is_space(s[i]) && !(s[i] == '.' && s[i + 1] == '.');
    if (!ok) {
        perr(ps, tg->at, "invalid name '%.*s'", (int)len, s);
        return -1;
    }
    return 0;
}

/* {{=<% %>=}}: two blank-separated delimiters, without '=' or whitespace. */
static int set_delimiters(struct parser *ps, const struct tag *tg)
{
    const char *s = ps->t->src;
    size_t i = tg->cbeg, e = tg->cend;
    size_t o = i;
    while (i < e && !is_space(s[i]))
        i++;
    size_t olen = i - o;
    while (i < e && is_space(s[i]))
        i++;
    size_t c = i, clen = e - c;
    bool ok = olen > 0 && clen > 0 && olen <= DW_MUSTACHE_MAX_DELIM &&
              clen <= DW_MUSTACHE_MAX_DELIM && !memchr(s + o, '=', olen) &&
              !memchr(s + c, '=', clen);
    for (size_t k = c; ok && k < e; k++)
        ok = !is_space(s[k]);
    if (!ok) {
        perr(ps, tg->at, "bad delimiter '%.*s': want two delimiters like {{=<%% %%>=}}",
             (int)(tg->cend - tg->cbeg), s + tg->cbeg);
        return -1;
    }
    ps->otag = s + o;
    ps->olen = olen;
    ps->ctag = s + c;
    ps->clen = clen;
    return 0;
}

static bool names_equal(const struct dw_mustache *t, const struct node *a, const struct tag *b)
{
    return a->len == b->cend - b->cbeg && memcmp(t->src + a->off, t->src + b->cbeg, a->len) == 0;
}

static int close_section(struct parser *ps, const struct tag *tg)
{
    struct dw_mustache *t = ps->t;
    int nlen = (int)(tg->cend - tg->cbeg);
    const char *name = t->src + tg->cbeg;
    if (ps->nopen == 0) {
        perr(ps, tg->at, "mismatched {{/%.*s}}: no section is open", nlen, name);
        return -1;
    }
    struct node *open = &t->nodes[ps->open[ps->nopen - 1]];
    if (!names_equal(t, open, tg)) {
        int line, col;
        position(t->src, open->at, &line, &col);
        perr(ps, tg->at, "mismatched {{/%.*s}}: the open section is '%.*s' (from %d:%d)", nlen,
             name, (int)open->len, t->src + open->off, line, col);
        return -1;
    }
    size_t idx = t->n;
    struct node *nd = add_node(t, N_CLOSE, tg->at);
    nd->off = tg->cbeg;
    nd->len = tg->cend - tg->cbeg;
    t->nodes[ps->open[--ps->nopen]].end = idx;
    return 0;
}

static int handle_tag(struct parser *ps, const struct tag *tg, size_t ind_off, size_t ind_len)
{
    static const enum node_kind kinds[] = {[T_ESCAPED] = N_ESCAPED,
                                           [T_RAW] = N_RAW,
                                           [T_SECTION] = N_SECTION,
                                           [T_INVERTED] = N_INVERTED,
                                           [T_PARTIAL] = N_PARTIAL};
    switch (tg->kind) {
    case T_COMMENT: return 0;
    case T_DELIM: return set_delimiters(ps, tg);
    case T_CLOSE: return check_name(ps, tg) < 0 ? -1 : close_section(ps, tg);
    default: break;
    }
    if (check_name(ps, tg) < 0)
        return -1;
    bool opens = tg->kind == T_SECTION || tg->kind == T_INVERTED;
    if (opens && ps->nopen == DW_MUSTACHE_MAX_DEPTH) {
        perr(ps, tg->at, "sections nested deeper than %d", DW_MUSTACHE_MAX_DEPTH);
        return -1;
    }
    if (opens)
        ps->open[ps->nopen++] = ps->t->n;
    struct node *nd = add_node(ps->t, kinds[tg->kind], tg->at);
    nd->off = tg->cbeg;
    nd->len = tg->cend - tg->cbeg;
    nd->ind_off = ind_off;
    nd->ind_len = ind_len;
    return 0;
}

static bool can_stand_alone(enum tag_kind k)
{
    return k != T_ESCAPED && k != T_RAW;
}

static int parse(struct parser *ps)
{
    const char *s = ps->t->src;
    size_t n = ps->t->src_len, p = 0;
    for (;;) {
        const char *o = memmem(s + p, n - p, ps->otag, ps->olen);
        if (!o) {
            add_text(ps, p, n);
            break;
        }
        struct tag tg;
        size_t at = (size_t)(o - s);
        if (scan_tag(ps, at, &tg) < 0)
            return -1;
        size_t text_end = at, next = tg.end, ind_off = 0, ind_len = 0;
        if (can_stand_alone(tg.kind)) {
            size_t q = at, r = tg.end, nl = 0;
            while (q > p && is_blank(s[q - 1]))
                q--;
            while (r < n && is_blank(s[r]))
                r++;
            bool left = q == 0 || s[q - 1] == '\n';
            bool right = r == n || s[r] == '\n' || (s[r] == '\r' && r + 1 < n && s[r + 1] == '\n');
            if (r < n)
                nl = s[r] == '\n' ? 1 : 2;
            if (left && right) {
                text_end = q;
                next = r + nl;
                ind_off = q;
                ind_len = at - q;
            }
        }
        add_text(ps, p, text_end);
        if (handle_tag(ps, &tg, ind_off, ind_len) < 0)
            return -1;
        p = next;
    }
    if (ps->nopen) {
        const struct node *open = &ps->t->nodes[ps->open[ps->nopen - 1]];
        perr(ps, open->at, "unclosed section '%.*s'", (int)open->len, s + open->off);
        return -1;
    }
    return 0;
}

struct dw_mustache *dw_mustache_compile(const char *name, const char *text, size_t len,
                                        struct dw_diags *diags)
{
    if (!name)
        name = "template";
    if (len > DW_MUSTACHE_MAX_TEMPLATE) {
        if (diags)
            dw_diags_add(diags, name, 0, 0, NULL, "template is larger than %d KiB (%zu bytes)",
                         DW_MUSTACHE_MAX_TEMPLATE / 1024, len);
        return NULL;
    }
    struct dw_mustache *t = dw_calloc(1, sizeof *t);
    t->name = dw_strdup(name);
    t->src = dw_malloc(len + 1);
    if (len)
        memcpy(t->src, text, len);
    t->src[len] = '\0';
    t->src_len = len;
    struct parser ps = {.t = t, .diags = diags, .otag = "{{", .olen = 2, .ctag = "}}", .clen = 2};
    if (parse(&ps) < 0)
        dw_mustache_free(&t);
    return t;
}

const char *dw_mustache_name(const struct dw_mustache *t)
{
    return t->name;
}

void dw_mustache_free(struct dw_mustache **t)
{
    if (!t || !*t)
        return;
    free((*t)->name);
    free((*t)->src);
    free((*t)->nodes);
    free(*t);
    *t = NULL;
}

/* ---- rendering ---- */

struct partial {
    char *name;            /* heap */
    char *indent;          /* heap */
    struct dw_mustache *t; /* NULL when the lookup found nothing */
};

struct render {
    json_t **stack; /* borrowed from the data; bottom is the data itself */
    size_t depth, cap;
    struct dw_buf *out;
    dw_mustache_partial_fn lookup;
    void *lookup_ctx;
    struct partial *partials;
    size_t npartials, partials_cap;
    int partial_depth;
    size_t steps;
    char *err; /* heap, the first error */
};

static int fail(struct render *r, const char *fmt, ...) DW_PRINTF(2, 3);

static int fail(struct render *r, const char *fmt, ...)
{
    if (!r->err) {
        va_list ap;
        va_start(ap, fmt);
        r->err = dw_vasprintf(fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int put(struct render *r, const char *s, size_t n)
{
    if (dw_buf_append(r->out, s, n) < 0)
        return fail(r, "output is larger than %zu bytes", r->out->max);
    return 0;
}

static int put_escaped(struct render *r, const char *s, size_t n)
{
    if (dw_buf_xml_escape_n(r->out, s, n) < 0)
        return fail(r, "output is larger than %zu bytes", r->out->max);
    return 0;
}

static void push(struct render *r, json_t *v)
{
    r->stack = dw_grow(r->stack, &r->cap, r->depth + 1, sizeof *r->stack);
    r->stack[r->depth++] = v;
}

/* Resolves a name: "." is the top of the stack; the first part of a dotted
 * name is looked up from the top down, the rest inside what it found. */
static json_t *lookup(const struct render *r, const char *name, size_t len)
{
    if (len == 1 && name[0] == '.')
        return r->stack[r->depth - 1];
    const char *dot = memchr(name, '.', len);
    size_t plen = dot ? (size_t)(dot - name) : len;
    json_t *v = NULL;
    for (size_t i = r->depth; i-- > 0 && !v;)
        if (json_is_object(r->stack[i]))
            v = json_object_getn(r->stack[i], name, plen);
    while (v && dot) {
        name = dot + 1;
        len -= plen + 1;
        dot = memchr(name, '.', len);
        plen = dot ? (size_t)(dot - name) : len;
        v = json_is_object(v) ? json_object_getn(v, name, plen) : NULL;
    }
    return v;
}

static bool truthy(const json_t *v)
{
    if (!v || json_is_null(v) || json_is_false(v))
        return false;
    if (json_is_array(v))
        return json_array_size(v) > 0;
    if (json_is_string(v))
        return json_string_length(v) > 0;
    return true;
}

/* JavaScript's Number.prototype.toString: the shortest digits that read back
 * as d, in plain notation from 1e-7 to 1e21 and exponent notation outside. */
static void format_real(double d, char *out, size_t size)
{
    if (isnan(d) || isinf(d)) {
        snprintf(out, size, "%s", isnan(d) ? "NaN" : d < 0 ? "-Infinity" : "Infinity");
        return;
    }
    if (d == 0) {
        snprintf(out, size, "0");
        return;
    }
    char sci[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(sci, sizeof sci, "%.*e", prec - 1, fabs(d));
        if (strtod(sci, NULL) == fabs(d))
            break;
    }
    char digits[24];
    int k = 0;
    const char *p = sci;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[k++] = *p;
    while (k > 1 && digits[k - 1] == '0')
        k--;
    int n = (int)strtol(p + 1, NULL, 10) + 1; /* the decimal point's place */
    struct dw_buf b;
    dw_buf_init(&b, 0);
    if (d < 0)
        dw_buf_putc(&b, '-');
    if (k <= n && n <= 21) {
        dw_buf_append(&b, digits, (size_t)k);
        for (int i = k; i < n; i++)
            dw_buf_putc(&b, '0');
    } else if (0 < n && n <= 21) {
        dw_buf_printf(&b, "%.*s.%.*s", n, digits, k - n, digits + n);
    } else if (-6 < n && n <= 0) {
        dw_buf_puts(&b, "0.");
        for (int i = n; i < 0; i++)
            dw_buf_putc(&b, '0');
        dw_buf_append(&b, digits, (size_t)k);
    } else {
        dw_buf_printf(&b, "%c%s%.*se%c%d", digits[0], k > 1 ? "." : "", k - 1, digits + 1,
                      n - 1 < 0 ? '-' : '+', abs(n - 1));
    }
    dw_strlcpy(out, b.data, size);
    dw_buf_release(&b);
}

static int interpolate(struct render *r, const json_t *v, bool escape)
{
    char num[64];
    const char *s = num;
    size_t n;
    char *json = NULL;
    switch (json_typeof(v)) {
    case JSON_STRING:
        s = json_string_value(v);
        n = json_string_length(v);
        break;
    case JSON_INTEGER:
        n = (size_t)snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        format_real(json_real_value(v), num, sizeof num);
        n = strlen(num);
        break;
    case JSON_TRUE: s = "true", n = 4; break;
    case JSON_FALSE: s = "false", n = 5; break;
    case JSON_NULL: return 0;
    default: /* object, array */
        json = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        s = json ? json : "";
        n = strlen(s);
    }
    int rc = escape ? put_escaped(r, s, n) : put(r, s, n);
    free(json);
    return rc;
}

static int render_range(struct render *r, const struct dw_mustache *t, size_t from, size_t to);

/* A standalone partial's text with indent put before every line. */
static char *indent_text(const char *text, const char *indent, size_t *len)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    size_t ilen = strlen(indent);
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
        dw_buf_append(&b, indent, ilen);
        dw_buf_append(&b, p, n);
        p += n;
    }
    *len = b.len;
    return dw_buf_steal(&b);
}

static int compile_partial(struct render *r, struct partial *pt)
{
    const char *text = r->lookup ? r->lookup(r->lookup_ctx, pt->name) : NULL;
    if (!text)
        return 0;
    size_t len;
    char *owned = NULL;
    if (*pt->indent)
        text = owned = indent_text(text, pt->indent, &len);
    else
        len = strlen(text);
    struct dw_diags diags;
    dw_diags_init(&diags);
    pt->t = dw_mustache_compile(pt->name, text, len, &diags);
    free(owned);
    if (!pt->t) {
        struct dw_buf b;
        dw_buf_init(&b, 0);
        if (diags.n)
            dw_diag_format(&diags.items[0], &b);
        fail(r, "partial '%s': %s", pt->name, b.data ? b.data : "does not compile");
        dw_buf_release(&b);
    }
    dw_diags_release(&diags);
    return pt->t ? 0 : -1;
}

/* The compiled partial for a {{> name}} node (NULL when there is none). */
static int find_partial(struct render *r, const struct dw_mustache *t, const struct node *nd,
                        struct dw_mustache **out)
{
    char *name = dw_strndup(t->src + nd->off, nd->len);
    char *indent = dw_strndup(t->src + nd->ind_off, nd->ind_len);
    for (size_t i = 0; i < r->npartials; i++) {
        struct partial *pt = &r->partials[i];
        if (strcmp(pt->name, name) == 0 && strcmp(pt->indent, indent) == 0) {
            free(name);
            free(indent);
            *out = pt->t;
            return 0;
        }
    }
    r->partials = dw_grow(r->partials, &r->partials_cap, r->npartials + 1, sizeof *r->partials);
    struct partial *pt = &r->partials[r->npartials++];
    *pt = (struct partial){.name = name, .indent = indent, .t = NULL};
    int rc = compile_partial(r, pt);
    *out = pt->t;
    return rc;
}

static int render_partial(struct render *r, const struct dw_mustache *t, const struct node *nd)
{
    if (r->partial_depth >= DW_MUSTACHE_MAX_PARTIAL_DEPTH) {
        int line, col;
        position(t->src, nd->at, &line, &col);
        return fail(r, "%s:%d:%d: partials nested deeper than %d", t->name, line, col,
                    DW_MUSTACHE_MAX_PARTIAL_DEPTH);
    }
    struct dw_mustache *pt;
    if (find_partial(r, t, nd, &pt) < 0)
        return -1;
    if (!pt)
        return 0;
    r->partial_depth++;
    int rc = render_range(r, pt, 0, pt->n);
    r->partial_depth--;
    return rc;
}

static int step(struct render *r)
{
    if (++r->steps > DW_MUSTACHE_MAX_STEPS)
        return fail(r, "rendering takes more than %u steps", DW_MUSTACHE_MAX_STEPS);
    return 0;
}

/* Renders a section's body once with v on top of the stack. */
static int render_with(struct render *r, const struct dw_mustache *t, size_t from, size_t to,
                       json_t *v)
{
    if (step(r) < 0)
        return -1;
    push(r, v);
    int rc = render_range(r, t, from, to);
    r->depth--;
    return rc;
}

static int render_section(struct render *r, const struct dw_mustache *t, size_t i)
{
    const struct node *nd = &t->nodes[i];
    json_t *v = lookup(r, t->src + nd->off, nd->len);
    if (nd->kind == N_INVERTED)
        return truthy(v) ? 0 : render_range(r, t, i + 1, nd->end);
    if (!truthy(v))
        return 0;
    if (!json_is_array(v))
        return render_with(r, t, i + 1, nd->end, v);
    for (size_t k = 0; k < json_array_size(v); k++)
        if (render_with(r, t, i + 1, nd->end, json_array_get(v, k)) < 0)
            return -1;
    return 0;
}

static int render_range(struct render *r, const struct dw_mustache *t, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        const struct node *nd = &t->nodes[i];
        if (step(r) < 0)
            return -1;
        int rc = 0;
        switch (nd->kind) {
        case N_TEXT: rc = put(r, t->src + nd->off, nd->len); break;
        case N_ESCAPED:
        case N_RAW: {
            json_t *v = lookup(r, t->src + nd->off, nd->len);
            rc = v ? interpolate(r, v, nd->kind == N_ESCAPED) : 0;
            break;
        }
        case N_SECTION:
        case N_INVERTED:
            rc = render_section(r, t, i);
            i = nd->end;
            break;
        case N_PARTIAL: rc = render_partial(r, t, nd); break;
        case N_CLOSE: break;
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

int dw_mustache_render(const struct dw_mustache *t, json_t *data, dw_mustache_partial_fn partials,
                       void *ctx, struct dw_buf *out, char **err)
{
    struct render r = {.out = out, .lookup = partials, .lookup_ctx = ctx};
    size_t start = out->len;
    if (err)
        *err = NULL;
    push(&r, data);
    int rc = render_range(&r, t, 0, t->n);
    if (rc < 0) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        if (err)
            *err = r.err;
        else
            free(r.err);
    }
    for (size_t i = 0; i < r.npartials; i++) {
        free(r.partials[i].name);
        free(r.partials[i].indent);
        dw_mustache_free(&r.partials[i].t);
    }
    free(r.partials);
    free(r.stack);
    return rc;
}
