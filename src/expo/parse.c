/*
 * parse.c - the exposition parser: one state machine for Prometheus text
 * 0.0.4 and OpenMetrics 1.0, and the two-phase driver.
 *
 * DESIGN
 * Line-oriented: memchr finds each newline, so every step below works inside
 * [line, eol) and the line-length limit is checked before anything else.
 * The two formats share the sample and label-set code; `om` switches the
 * differences (single spaces vs. runs of blanks, float-second timestamps,
 * exemplars, _created, # UNIT, # EOF, no plain comments, no interleaving).
 *
 * All or nothing: pass 1 runs with no handler and checks everything (syntax,
 * names, UTF-8, duplicate labels, family rules, every limit). Only when it
 * succeeds does pass 2 parse the same bytes again and call the handler; pass
 * 2 skips the checks that cannot fail the second time (UTF-8, duplicates).
 * A caller that batches may set single_pass and get pass 2 alone.
 *
 * Zero-copy: names never contain escapes, so they always point into the
 * input; label values and HELP text point into the input unless they hold a
 * backslash, in which case they are unescaped into `scratch`, which is sized
 * once per line to the line's length, so it never moves while the line's
 * strings are in use. The only per-input allocations are growth of the
 * label array, scratch and the family table, all kept for the next input.
 *
 * Threads: a parser is used by one thread at a time; no globals.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "expo_internal.h"

struct dw_expo_parser {
    /* this call */
    size_t max_samples, max_labels, max_name, max_value, max_line;
    bool om;
    bool keep_created;
    bool validated;                  /* pass 2 after a good pass 1: skip checks that cannot fail */
    const struct dw_expo_handler *h; /* NULL in pass 1 */
    struct dw_expo_error *err;

    /* position */
    const char *line; /* first byte of the current line */
    const char *eol;  /* its newline, or the end of the input */
    size_t lineno;
    size_t nsamples;
    bool eof; /* OpenMetrics: "# EOF" seen */

    struct expo_families fams;
    long cur; /* index of the current family, -1 before the first */

    struct dw_expo_label *labels; /* labels of the current sample */
    size_t label_cap;
    const struct dw_expo_label **sorted; /* duplicate check of long label sets */
    size_t sorted_cap;
    char *scratch; /* unescaped strings of the current line */
    size_t scratch_cap, scratch_len;
    bool scratch_ready; /* scratch holds at least the current line's length */
    char *numbuf;       /* strtod's NUL-terminated copy */
    size_t numcap;
};

/* ---- errors ---- */

#define QUOTE_MAX 48 /* bytes of input shown in a message */

/* Writes s[0..n) as a double-quoted, escaped, possibly shortened string. */
static const char *quote(char *buf, size_t size, const char *s, size_t n)
{
    size_t o = 0;
    buf[o++] = '"';
    size_t shown = n < QUOTE_MAX ? n : QUOTE_MAX;
    for (size_t i = 0; i < shown && o + 6 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    if (shown < n && o + 5 < size) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

#define QBUF (QUOTE_MAX * 4 + 8)
#define Q(buf, s, n) quote(buf, sizeof buf, s, n)

/* The character at c for a message: 'x', '\x09' or "end of line". */
static const char *show_char(char buf[16], const char *c, const char *eol)
{
    if (c >= eol)
        return "end of line";
    unsigned char ch = (unsigned char)*c;
    if (ch < 0x20 || ch >= 0x7f || ch == '\'')
        snprintf(buf, 16, "'\\x%02x'", ch);
    else
        snprintf(buf, 16, "'%c'", ch);
    return buf;
}

static int fail(struct dw_expo_parser *p, enum dw_expo_errcode code, const char *at,
                const char *fmt, ...) DW_PRINTF(4, 5);

static int fail(struct dw_expo_parser *p, enum dw_expo_errcode code, const char *at,
                const char *fmt, ...)
{
    struct dw_expo_error *e = p->err;
    e->code = code;
    e->line = p->lineno;
    e->col = (size_t)(at - p->line) + 1;
    int n = snprintf(e->msg, sizeof e->msg, "line %zu col %zu: ", e->line, e->col);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg + n, sizeof e->msg - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static int aborted(struct dw_expo_parser *p, int rc)
{
    struct dw_expo_error *e = p->err;
    e->code = DW_EXPO_EABORTED;
    e->line = p->lineno;
    e->col = 1;
    e->handler_rc = rc;
    snprintf(e->msg, sizeof e->msg, "line %zu: stopped by the receiver (code %d)", p->lineno, rc);
    return -1;
}

/* ---- scanning ---- */

static inline bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static inline const char *skip_blanks(const char *c, const char *eol)
{
    while (c < eol && is_blank(*c))
        c++;
    return c;
}

/* Character classes of names, one table lookup per byte on the hot path. */
enum {
    LABEL_START = 1,  /* [a-zA-Z_] */
    LABEL_CHAR = 2,   /* [a-zA-Z0-9_] */
    METRIC_CHAR = 4,  /* [a-zA-Z0-9_:] */
    METRIC_START = 8, /* [a-zA-Z_:] */
};

/* clang-format off */
static const uint8_t name_class[256] = {
    /* 0x00-0x2f: none */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x30-0x3f: digits, then ':' */
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 12, 0, 0, 0, 0, 0,
    /* 0x40-0x5f: A-Z, then '_' */
    0, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 0, 0, 0, 0, 15,
    /* 0x60-0x7f: a-z */
    0, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 0, 0, 0, 0, 0,
    /* 0x80-0xff: none */
};
/* clang-format on */

static inline bool has_class(char c, unsigned cls)
{
    return (name_class[(unsigned char)c] & cls) != 0;
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* */
static inline const char *scan_metric_name(const char *c, const char *eol)
{
    if (c < eol && has_class(*c, METRIC_START))
        for (c++; c < eol && has_class(*c, METRIC_CHAR); c++)
            ;
    return c;
}

/* [a-zA-Z_][a-zA-Z0-9_]* */
static inline const char *scan_label_name(const char *c, const char *eol)
{
    if (c < eol && has_class(*c, LABEL_START))
        for (c++; c < eol && has_class(*c, LABEL_CHAR); c++)
            ;
    return c;
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Non-zero when one of the 8 bytes of w is zero. */
static inline uint64_t zero_byte(uint64_t w)
{
    return (w - ONES) & ~w & HIGHS;
}

/*
 * Skips label-value bytes that need no attention, 8 at a time: stops at or
 * before the first '"', backslash or non-ASCII byte.
 */
static inline const char *skip_plain_value(const char *c, const char *eol)
{
    while (eol - c >= 8) {
        uint64_t w;
        memcpy(&w, c, sizeof w);
        if (zero_byte(w ^ (ONES * '"')) | zero_byte(w ^ (ONES * '\\')) | (w & HIGHS))
            break;
        c += 8;
    }
    return c;
}

static inline const char *scan_token(const char *c, const char *eol)
{
    while (c < eol && !is_blank(*c))
        c++;
    return c;
}

static bool word_eq(const char *s, const char *e, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(e - s) == n && memcmp(s, word, n) == 0;
}

/* Room for every unescaped string of this line: they never outgrow it. */
static char *scratch_take(struct dw_expo_parser *p)
{
    if (!p->scratch_ready) {
        size_t need = (size_t)(p->eol - p->line) + 1;
        if (p->scratch_cap < need)
            p->scratch = dw_grow(p->scratch, &p->scratch_cap, need, 1);
        p->scratch_ready = true;
    }
    return p->scratch + p->scratch_len;
}

/* ---- label sets ---- */

/*
 * The value of label `ln` from just after its opening quote; leaves *cp after
 * the closing quote. Escapes \\ \" \n are decoded; any other backslash pair is
 * kept as written, like Prometheus does.
 */
static int scan_label_value(struct dw_expo_parser *p, const char **cp, const char *eol,
                            const char *ln, size_t lnlen, struct dw_expo_str *out)
{
    char qb[QBUF];
    const char *start = *cp, *c = skip_plain_value(start, eol);
    unsigned char hi = 0;
    while (c < eol && *c != '"' && *c != '\\')
        hi |= (unsigned char)*c++;
    if (c < eol && *c == '"') {
        out->ptr = start;
        out->len = (size_t)(c - start);
    } else {
        char *d = scratch_take(p), *d0 = d;
        memcpy(d, start, (size_t)(c - start));
        d += c - start;
        while (c < eol && *c != '"') {
            if (*c != '\\') {
                hi |= (unsigned char)*c;
                *d++ = *c++;
                continue;
            }
            if (c + 1 >= eol)
                break;
            char x = c[1];
            if (x == 'n') {
                *d++ = '\n';
            } else if (x == '\\' || x == '"') {
                *d++ = x;
            } else {
                *d++ = '\\';
                *d++ = x;
                hi |= (unsigned char)x;
            }
            c += 2;
        }
        out->ptr = d0;
        out->len = (size_t)(d - d0);
        p->scratch_len += out->len;
    }
    if (c >= eol || *c != '"')
        return fail(p, DW_EXPO_ESYNTAX, start - 1, "value of label %s has no closing '\"'",
                    Q(qb, ln, lnlen));
    if ((hi & 0x80) && !p->validated && !expo_utf8_valid(start, (size_t)(c - start)))
        return fail(p, DW_EXPO_ESYNTAX, start, "value of label %s is not valid UTF-8",
                    Q(qb, ln, lnlen));
    *cp = c + 1;
    return 0;
}

static int keep_label(struct dw_expo_parser *p, size_t n, const char *ln, size_t lnlen,
                      struct dw_expo_str value, const char *value_at)
{
    char qb[QBUF];
    if (lnlen > p->max_name)
        return fail(p, DW_EXPO_ELIMIT, ln,
                    "label name %s is %zu bytes, over the limit max_label_name_len=%zu",
                    Q(qb, ln, lnlen), lnlen, p->max_name);
    if (value.len > p->max_value)
        return fail(p, DW_EXPO_ELIMIT, value_at,
                    "value of label %s is %zu bytes, over the limit max_label_value_len=%zu",
                    Q(qb, ln, lnlen), value.len, p->max_value);
    if (n + 2 > p->max_labels) /* + 1 for this label, + 1 for __name__ */
        return fail(p, DW_EXPO_ELIMIT, ln,
                    "more than %zu labels, the limit max_labels=%zu (counting __name__)",
                    p->max_labels - 1, p->max_labels);
    if (lnlen == 8 && memcmp(ln, "__name__", 8) == 0)
        return fail(p, DW_EXPO_ESYNTAX, ln, "label name \"__name__\" is reserved");
    if (n >= p->label_cap)
        p->labels = dw_grow(p->labels, &p->label_cap, n + 1, sizeof *p->labels);
    p->labels[n] = (struct dw_expo_label){{ln, lnlen}, value};
    return 0;
}

/*
 * A label set from its '{' at *cp; leaves *cp after the '}'. With keep the
 * labels go to p->labels (limits checked) and *n counts them; without, they
 * are only checked for syntax (an exemplar's labels).
 */
static int parse_label_set(struct dw_expo_parser *p, const char **cp, const char *eol, bool keep,
                           size_t *n_out)
{
    char qb[QBUF], cb[16];
    const char *c = *cp + 1;
    size_t n = 0;
    bool after_comma = false;
    for (;;) {
        if (!p->om)
            c = skip_blanks(c, eol);
        if (c < eol && *c == '}') {
            if (after_comma && p->om)
                return fail(p, DW_EXPO_ESYNTAX, c, "expected a label name after ','");
            c++;
            break;
        }
        const char *ln = c;
        c = scan_label_name(c, eol);
        size_t lnlen = (size_t)(c - ln);
        if (lnlen == 0)
            return fail(p, DW_EXPO_ESYNTAX, c, "expected a label name, found %s",
                        show_char(cb, c, eol));
        if (!p->om)
            c = skip_blanks(c, eol);
        if (c >= eol || *c != '=')
            return fail(p, DW_EXPO_ESYNTAX, c, "expected '=' after label name %s",
                        Q(qb, ln, lnlen));
        c++;
        if (!p->om)
            c = skip_blanks(c, eol);
        if (c >= eol || *c != '"')
            return fail(p, DW_EXPO_ESYNTAX, c, "expected '\"' to open the value of label %s",
                        Q(qb, ln, lnlen));
        c++;
        const char *value_at = c;
        struct dw_expo_str value;
        if (scan_label_value(p, &c, eol, ln, lnlen, &value))
            return -1;
        if (keep && keep_label(p, n, ln, lnlen, value, value_at))
            return -1;
        n++;
        after_comma = false;
        if (!p->om)
            c = skip_blanks(c, eol);
        if (c < eol && *c == ',') {
            c++;
            after_comma = true;
        } else if (c >= eol || *c != '}') {
            return fail(p, DW_EXPO_ESYNTAX, c, "expected ',' or '}' after the value of label %s",
                        Q(qb, ln, lnlen));
        }
    }
    *cp = c;
    *n_out = n;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    const struct dw_expo_label *x = *(const struct dw_expo_label *const *)a;
    const struct dw_expo_label *y = *(const struct dw_expo_label *const *)b;
    size_t n = x->name.len < y->name.len ? x->name.len : y->name.len;
    int c = memcmp(x->name.ptr, y->name.ptr, n);
    if (c)
        return c;
    if (x->name.len != y->name.len)
        return x->name.len < y->name.len ? -1 : 1;
    /* Equal names: input order, so the error points at the second one. */
    return x < y ? -1 : x > y;
}

static bool same_name(const struct dw_expo_label *a, const struct dw_expo_label *b)
{
    return a->name.len == b->name.len && memcmp(a->name.ptr, b->name.ptr, a->name.len) == 0;
}

#define PAIRWISE_MAX 16 /* up to here n^2/2 compares beat sorting */

static int check_duplicates(struct dw_expo_parser *p, size_t n)
{
    char qb[QBUF];
    const struct dw_expo_label *l = p->labels, *dup = NULL;
    if (n <= PAIRWISE_MAX) {
        for (size_t i = 1; i < n && !dup; i++)
            for (size_t j = 0; j < i; j++)
                if (same_name(&l[i], &l[j])) {
                    dup = &l[i];
                    break;
                }
    } else {
        if (n > p->sorted_cap)
            p->sorted = dw_grow(p->sorted, &p->sorted_cap, n, sizeof *p->sorted);
        for (size_t i = 0; i < n; i++)
            p->sorted[i] = &l[i];
        qsort(p->sorted, n, sizeof *p->sorted, by_name);
        /* Report the same label the pairwise scan would: the earliest repeat. */
        for (size_t i = 1; i < n; i++)
            if (same_name(p->sorted[i], p->sorted[i - 1]) && (!dup || p->sorted[i] < dup))
                dup = p->sorted[i];
    }
    if (!dup)
        return 0;
    return fail(p, DW_EXPO_ESYNTAX, dup->name.ptr, "duplicate label name %s",
                Q(qb, dup->name.ptr, dup->name.len));
}

/* Histogram buckets need a numeric "le", summary quantiles a numeric "quantile". */
static int check_bound_label(struct dw_expo_parser *p, const char *which, size_t n,
                             const char *name, size_t nlen)
{
    char qb[QBUF], vb[QBUF];
    size_t wlen = strlen(which);
    for (size_t i = 0; i < n; i++) {
        const struct dw_expo_label *l = &p->labels[i];
        if (l->name.len != wlen || memcmp(l->name.ptr, which, wlen) != 0)
            continue;
        double v;
        if (expo_parse_float(l->value.ptr, l->value.ptr + l->value.len, &v, &p->numbuf,
                             &p->numcap) != 0)
            return fail(p, DW_EXPO_ESYNTAX, l->name.ptr, "value %s of label \"%s\" is not a number",
                        Q(vb, l->value.ptr, l->value.len), which);
        return 0;
    }
    return fail(p, DW_EXPO_ESYNTAX, name, "%s has no \"%s\" label", Q(qb, name, nlen), which);
}

/* ---- families ---- */

static inline struct expo_family *family_at(struct dw_expo_parser *p, long idx)
{
    return &p->fams.items[idx];
}

static bool is_current(struct dw_expo_parser *p, const char *name, size_t len)
{
    if (p->cur < 0)
        return false;
    const struct expo_family *f = family_at(p, p->cur);
    return f->len == len && memcmp(f->name, name, len) == 0;
}

/* Text: samples may come back to a family; look it up, else start an untyped one. */
static long text_family(struct dw_expo_parser *p, const char *name, size_t len, int *sfx)
{
    char qb[QBUF], fb[QBUF];
    long f = expo_families_find(&p->fams, name, len);
    if (f >= 0) {
        const struct expo_family *fam = family_at(p, f);
        if (!expo_suffix_allowed(fam->type, EXPO_SFX_NONE, false))
            return fail(p, DW_EXPO_ESYNTAX, name,
                        "sample %s does not fit %s %s: expected suffix %s", Q(qb, name, len),
                        dw_expo_type_name(fam->type), Q(fb, fam->name, fam->len),
                        expo_suffixes_expected(fam->type, false));
        *sfx = EXPO_SFX_NONE;
        return f;
    }
    size_t stem;
    int s = expo_suffix_split(name, len, &stem);
    long base = s > 0 ? expo_families_find(&p->fams, name, stem) : -1;
    if (base >= 0 && expo_suffix_allowed(family_at(p, base)->type, s, false)) {
        *sfx = s;
        return base;
    }
    *sfx = EXPO_SFX_NONE;
    return (long)expo_families_add(&p->fams, name, len, DW_EXPO_UNTYPED);
}

/* OpenMetrics: a sample that does not fit the current family starts a new, unknown one. */
static long om_family(struct dw_expo_parser *p, const char *name, size_t len, int *sfx)
{
    char qb[QBUF], fb[QBUF];
    if (expo_families_find(&p->fams, name, len) >= 0)
        return fail(p, DW_EXPO_ESYNTAX, name,
                    "metric family %s appeared earlier: families must not be interleaved",
                    Q(qb, name, len));
    size_t stem;
    int s = expo_suffix_split(name, len, &stem);
    long base = s > 0 ? expo_families_find(&p->fams, name, stem) : -1;
    if (base >= 0 && expo_suffix_allowed(family_at(p, base)->type, s, true))
        return fail(p, DW_EXPO_ESYNTAX, name,
                    "sample %s belongs to metric family %s, which appeared earlier: families "
                    "must not be interleaved",
                    Q(qb, name, len), Q(fb, name, stem));
    *sfx = EXPO_SFX_NONE;
    return (long)expo_families_add(&p->fams, name, len, DW_EXPO_UNTYPED);
}

/* The family sample `name` belongs to; the current one in the common case. */
static long sample_family(struct dw_expo_parser *p, const char *name, size_t len, int *sfx)
{
    char qb[QBUF], fb[QBUF];
    long f;
    if (p->cur >= 0) {
        struct expo_family *cur = family_at(p, p->cur);
        int s = expo_suffix_of(name, len, cur->name, cur->len);
        if (expo_suffix_allowed(cur->type, s, p->om)) {
            cur->flags |= EXPO_FAM_SAMPLES;
            *sfx = s;
            return p->cur;
        }
        if (p->om && s == EXPO_SFX_NONE)
            return fail(p, DW_EXPO_ESYNTAX, name,
                        "sample %s does not fit %s %s: expected suffix %s", Q(qb, name, len),
                        dw_expo_type_name(cur->type), Q(fb, cur->name, cur->len),
                        expo_suffixes_expected(cur->type, true));
    }
    f = p->om ? om_family(p, name, len, sfx) : text_family(p, name, len, sfx);
    if (f < 0)
        return -1;
    family_at(p, f)->flags |= EXPO_FAM_SAMPLES;
    p->cur = f;
    return f;
}

static const char *meta_keyword(enum dw_expo_meta_kind kind)
{
    return kind == DW_EXPO_META_HELP ? "HELP" : kind == DW_EXPO_META_TYPE ? "TYPE" : "UNIT";
}

/* Bookkeeping of one HELP/TYPE/UNIT line for family `name`, then delivery. */
static int apply_meta(struct dw_expo_parser *p, struct dw_expo_meta *m, const char *name_at)
{
    char qb[QBUF];
    const char *name = m->family.ptr;
    size_t len = m->family.len;
    long f = is_current(p, name, len) ? p->cur : expo_families_find(&p->fams, name, len);
    if (f >= 0 && f != p->cur && p->om)
        return fail(p, DW_EXPO_ESYNTAX, name_at,
                    "metric family %s appeared earlier: families must not be interleaved",
                    Q(qb, name, len));
    if (f < 0)
        f = (long)expo_families_add(&p->fams, name, len, DW_EXPO_UNTYPED);
    struct expo_family *fam = family_at(p, f);
    unsigned bit = m->kind == DW_EXPO_META_HELP   ? EXPO_FAM_HELP
                   : m->kind == DW_EXPO_META_TYPE ? EXPO_FAM_TYPE
                                                  : EXPO_FAM_UNIT;
    if (fam->flags & bit)
        return fail(p, DW_EXPO_ESYNTAX, name_at, "second %s line for metric %s",
                    meta_keyword(m->kind), Q(qb, name, len));
    /* Text lets HELP follow samples; a TYPE never may, nor anything in OpenMetrics. */
    if ((fam->flags & EXPO_FAM_SAMPLES) && (p->om || m->kind == DW_EXPO_META_TYPE))
        return fail(p, DW_EXPO_ESYNTAX, name_at, "%s line for metric %s comes after its samples",
                    meta_keyword(m->kind), Q(qb, name, len));
    fam->flags |= (uint8_t)bit;
    if (m->kind == DW_EXPO_META_TYPE)
        fam->type = (uint8_t)m->type;
    p->cur = f;
    if (p->h && p->h->meta) {
        m->line = p->lineno;
        int rc = p->h->meta(p->h->ctx, m);
        if (rc)
            return aborted(p, rc);
    }
    return 0;
}

/* HELP text: \\ and \n decoded (and \" in OpenMetrics); other pairs kept as written. */
static struct dw_expo_str help_text(struct dw_expo_parser *p, const char *c, const char *eol)
{
    const char *bs = memchr(c, '\\', (size_t)(eol - c));
    if (!bs)
        return (struct dw_expo_str){c, (size_t)(eol - c)};
    char *d = scratch_take(p), *d0 = d;
    while (c < eol) {
        if (*c == '\\' && c + 1 < eol && (c[1] == 'n' || c[1] == '\\' || (p->om && c[1] == '"'))) {
            *d++ = c[1] == 'n' ? '\n' : c[1];
            c += 2;
        } else {
            *d++ = *c++;
        }
    }
    p->scratch_len += (size_t)(d - d0);
    return (struct dw_expo_str){d0, (size_t)(d - d0)};
}

static int check_name_len(struct dw_expo_parser *p, const char *name, size_t len)
{
    char qb[QBUF];
    if (len > p->max_value)
        return fail(p, DW_EXPO_ELIMIT, name,
                    "metric name %s is %zu bytes, over the limit max_label_value_len=%zu",
                    Q(qb, name, len), len, p->max_value);
    return 0;
}

/* ---- comments and metadata ---- */

/* Text: "# HELP name text", "# TYPE name type"; any other comment is ignored. */
static int text_comment(struct dw_expo_parser *p, const char *c, const char *eol)
{
    char qb[QBUF], cb[16];
    c = skip_blanks(c, eol);
    const char *kw = c;
    c = scan_token(c, eol);
    struct dw_expo_meta m = {0};
    if (word_eq(kw, c, "HELP"))
        m.kind = DW_EXPO_META_HELP;
    else if (word_eq(kw, c, "TYPE"))
        m.kind = DW_EXPO_META_TYPE;
    else
        return 0;
    c = skip_blanks(c, eol);
    const char *name = c;
    c = scan_metric_name(c, eol);
    if (c == name || (c < eol && !is_blank(*c)))
        return fail(p, DW_EXPO_ESYNTAX, c, "expected a metric name in # %s, found %s",
                    meta_keyword(m.kind), show_char(cb, c, eol));
    m.family = (struct dw_expo_str){name, (size_t)(c - name)};
    if (check_name_len(p, name, m.family.len))
        return -1;
    c = skip_blanks(c, eol);
    if (m.kind == DW_EXPO_META_HELP) {
        m.text = help_text(p, c, eol);
        return apply_meta(p, &m, name);
    }
    const char *t = c;
    c = scan_token(c, eol);
    int type = expo_type_parse(t, (size_t)(c - t), false);
    if (t == c)
        return fail(p, DW_EXPO_ESYNTAX, t, "expected a metric type after # TYPE %s",
                    Q(qb, name, m.family.len));
    if (type < 0)
        return fail(p, DW_EXPO_ESYNTAX, t,
                    "unknown metric type %s (expected counter, gauge, histogram, summary or "
                    "untyped)",
                    Q(qb, t, (size_t)(c - t)));
    c = skip_blanks(c, eol);
    if (c < eol)
        return fail(p, DW_EXPO_ESYNTAX, c, "unexpected text after the metric type: %s",
                    Q(qb, c, (size_t)(eol - c)));
    m.type = (enum dw_expo_type)type;
    m.text = (struct dw_expo_str){t, (size_t)(c - t)};
    return apply_meta(p, &m, name);
}

/* OpenMetrics UNIT: metric-name characters only, and "_unit" must end the family name. */
static int om_unit(struct dw_expo_parser *p, struct dw_expo_meta *m, const char *u, const char *eol)
{
    char qb[QBUF], fb[QBUF], cb[16];
    for (const char *c = u; c < eol; c++)
        if (!has_class(*c, METRIC_CHAR))
            return fail(p, DW_EXPO_ESYNTAX, c, "invalid character %s in unit",
                        show_char(cb, c, eol));
    size_t ulen = (size_t)(eol - u);
    const char *fam = m->family.ptr;
    size_t flen = m->family.len;
    if (ulen && !(flen > ulen + 1 && fam[flen - ulen - 1] == '_' &&
                  memcmp(fam + flen - ulen, u, ulen) == 0))
        return fail(p, DW_EXPO_ESYNTAX, u,
                    "unit %s must be the suffix of the metric family name %s (after '_')",
                    Q(qb, u, ulen), Q(fb, fam, flen));
    m->text = (struct dw_expo_str){u, ulen};
    return 0;
}

/* OpenMetrics: exactly "# HELP|TYPE|UNIT name ..." or "# EOF"; nothing else starts with '#'. */
static int om_comment(struct dw_expo_parser *p, const char *s, const char *eol)
{
    char qb[QBUF], cb[16];
    const char *c = s + 1;
    if (c >= eol || *c != ' ')
        return fail(p, DW_EXPO_ESYNTAX, c,
                    "expected ' ' after '#' (OpenMetrics allows only "
                    "# HELP, # TYPE, # UNIT and # EOF)");
    const char *kw = ++c;
    while (c < eol && *c != ' ')
        c++;
    struct dw_expo_meta m = {0};
    if (word_eq(kw, c, "EOF")) {
        if (c < eol)
            return fail(p, DW_EXPO_ESYNTAX, c, "unexpected text after # EOF");
        p->eof = true;
        return 0;
    }
    if (word_eq(kw, c, "HELP"))
        m.kind = DW_EXPO_META_HELP;
    else if (word_eq(kw, c, "TYPE"))
        m.kind = DW_EXPO_META_TYPE;
    else if (word_eq(kw, c, "UNIT"))
        m.kind = DW_EXPO_META_UNIT;
    else
        return fail(p, DW_EXPO_ESYNTAX, kw,
                    "unknown line # %s (OpenMetrics allows only # HELP, # TYPE, # UNIT and # EOF)",
                    Q(qb, kw, (size_t)(c - kw)));
    const char *name = c < eol ? c + 1 : c;
    c = scan_metric_name(name, eol);
    if (c == name || (c < eol && *c != ' '))
        return fail(p, DW_EXPO_ESYNTAX, c, "expected a metric name in # %s, found %s",
                    meta_keyword(m.kind), show_char(cb, c, eol));
    m.family = (struct dw_expo_str){name, (size_t)(c - name)};
    if (check_name_len(p, name, m.family.len))
        return -1;
    const char *rest = c < eol ? c + 1 : c;
    if (m.kind == DW_EXPO_META_HELP) {
        m.text = help_text(p, rest, eol);
    } else if (m.kind == DW_EXPO_META_UNIT) {
        if (om_unit(p, &m, rest, eol))
            return -1;
    } else {
        int type = expo_type_parse(rest, (size_t)(eol - rest), true);
        if (rest == eol)
            return fail(p, DW_EXPO_ESYNTAX, rest, "expected a metric type after # TYPE %s",
                        Q(qb, name, m.family.len));
        if (type < 0)
            return fail(p, DW_EXPO_ESYNTAX, rest,
                        "unknown metric type %s (expected counter, gauge, histogram, "
                        "gaugehistogram, stateset, info, summary or unknown)",
                        Q(qb, rest, (size_t)(eol - rest)));
        m.type = (enum dw_expo_type)type;
        m.text = (struct dw_expo_str){rest, (size_t)(eol - rest)};
    }
    return apply_meta(p, &m, name);
}

/* ---- samples ---- */

/* OpenMetrics exemplar from its '#': "# {labels} value [timestamp]"; checked, then dropped. */
static int om_exemplar(struct dw_expo_parser *p, const char *c, const char *eol)
{
    char qb[QBUF];
    if (c + 2 >= eol || c[1] != ' ' || c[2] != '{')
        return fail(p, DW_EXPO_ESYNTAX, c, "expected \"# {\" to start an exemplar");
    c += 2;
    size_t n;
    if (parse_label_set(p, &c, eol, false, &n))
        return -1;
    if (c >= eol || *c != ' ')
        return fail(p, DW_EXPO_ESYNTAX, c, "expected ' ' and a value after the exemplar's labels");
    const char *v = ++c;
    c = scan_token(c, eol);
    double value;
    if (expo_parse_float(v, c, &value, &p->numbuf, &p->numcap) != 0)
        return fail(p, DW_EXPO_ESYNTAX, v, "invalid exemplar value %s", Q(qb, v, (size_t)(c - v)));
    if (c < eol) {
        const char *t = ++c;
        c = scan_token(c, eol);
        int64_t ts;
        if (*(t - 1) != ' ' || expo_parse_om_timestamp(t, c, &ts, &p->numbuf, &p->numcap) != 0 ||
            c < eol)
            return fail(p, DW_EXPO_ESYNTAX, t, "invalid exemplar timestamp %s",
                        Q(qb, t, (size_t)(eol - t)));
    }
    return 0;
}

/* What follows the value: text "[blanks ms]", OpenMetrics "[ seconds][ # exemplar]". */
static int sample_tail(struct dw_expo_parser *p, const char *c, const char *eol,
                       struct dw_expo_sample *s)
{
    char qb[QBUF];
    if (!p->om) {
        c = skip_blanks(c, eol);
        if (c == eol)
            return 0;
        const char *t = c;
        c = scan_token(c, eol);
        if (expo_parse_int64(t, c, &s->timestamp_ms) != 0)
            return fail(p, DW_EXPO_ESYNTAX, t,
                        "invalid timestamp %s (expected integer milliseconds)",
                        Q(qb, t, (size_t)(c - t)));
        s->has_timestamp = true;
        c = skip_blanks(c, eol);
        if (c < eol)
            return fail(p, DW_EXPO_ESYNTAX, c, "unexpected text after the timestamp: %s",
                        Q(qb, c, (size_t)(eol - c)));
        return 0;
    }
    if (c == eol)
        return 0;
    c++; /* the space scan_token stopped at, or a tab: checked below */
    if (c[-1] != ' ')
        return fail(p, DW_EXPO_ESYNTAX, c - 1, "expected ' ' after the value");
    if (c < eol && *c != '#') {
        const char *t = c;
        c = scan_token(c, eol);
        int rc = expo_parse_om_timestamp(t, c, &s->timestamp_ms, &p->numbuf, &p->numcap);
        if (rc)
            return fail(p, DW_EXPO_ESYNTAX, t, "%s timestamp %s (expected seconds)",
                        rc == -2 ? "out-of-range" : "invalid", Q(qb, t, (size_t)(c - t)));
        s->has_timestamp = true;
        if (c == eol)
            return 0;
        if (*c++ != ' ')
            return fail(p, DW_EXPO_ESYNTAX, c - 1, "expected ' ' after the timestamp");
    }
    if (c >= eol || *c != '#')
        return fail(p, DW_EXPO_ESYNTAX, c, "expected a timestamp or an exemplar (\"# {...}\")");
    return om_exemplar(p, c, eol);
}

static int deliver_sample(struct dw_expo_parser *p, struct dw_expo_sample *s)
{
    if (++p->nsamples > p->max_samples)
        return fail(p, DW_EXPO_ELIMIT, p->line, "more than %zu samples, the limit max_samples",
                    p->max_samples);
    if (!p->h || !p->h->sample)
        return 0;
    int rc = p->h->sample(p->h->ctx, s);
    return rc ? aborted(p, rc) : 0;
}

static int sample_line(struct dw_expo_parser *p, const char *line, const char *eol)
{
    char qb[QBUF], cb[16];
    const char *name = line, *c = scan_metric_name(line, eol);
    size_t len = (size_t)(c - name);
    if (len == 0)
        return fail(p, DW_EXPO_ESYNTAX, c, "expected a metric name, found %s",
                    show_char(cb, c, eol));
    if (check_name_len(p, name, len))
        return -1;
    int sfx = EXPO_SFX_NONE;
    long f = sample_family(p, name, len, &sfx);
    if (f < 0)
        return -1;
    struct expo_family *fam = family_at(p, f);
    struct dw_expo_sample s = {
        .name = {name, len},
        .family = {fam->name, fam->len},
        .type = (enum dw_expo_type)fam->type,
        .labels = NULL,
        .line = p->lineno,
    };

    const char *after_name = c;
    if (!p->om)
        c = skip_blanks(c, eol);
    if (c < eol && *c == '{') {
        if (parse_label_set(p, &c, eol, true, &s.nlabels))
            return -1;
        s.labels = p->labels;
        if (!p->om)
            c = skip_blanks(c, eol);
    } else if (c == after_name && c < eol && (p->om ? *c != ' ' : !is_blank(*c))) {
        return fail(p, DW_EXPO_ESYNTAX, c, "unexpected %s after metric name %s",
                    show_char(cb, c, eol), Q(qb, name, len));
    }
    if (p->om) {
        if (c >= eol || *c != ' ')
            return fail(p, DW_EXPO_ESYNTAX, c, "expected ' ' and a value, found %s",
                        show_char(cb, c, eol));
        c++;
    }
    const char *v = c;
    c = scan_token(c, eol);
    if (v == c)
        return fail(p, DW_EXPO_ESYNTAX, v, "expected a value after %s, found %s", Q(qb, name, len),
                    show_char(cb, v, eol));
    int rc = expo_parse_float(v, c, &s.value, &p->numbuf, &p->numcap);
    if (rc)
        return fail(p, DW_EXPO_ESYNTAX, v, "%s value %s", rc == -2 ? "out-of-range" : "invalid",
                    Q(qb, v, (size_t)(c - v)));
    if (sample_tail(p, c, eol, &s))
        return -1;

    if (!p->validated && s.nlabels > 1 && check_duplicates(p, s.nlabels))
        return -1;
    if (s.type == DW_EXPO_HISTOGRAM && sfx == EXPO_SFX_BUCKET &&
        check_bound_label(p, "le", s.nlabels, name, len))
        return -1;
    if (s.type == DW_EXPO_GAUGEHISTOGRAM && sfx == EXPO_SFX_BUCKET &&
        check_bound_label(p, "le", s.nlabels, name, len))
        return -1;
    if (s.type == DW_EXPO_SUMMARY && sfx == EXPO_SFX_NONE &&
        check_bound_label(p, "quantile", s.nlabels, name, len))
        return -1;
    if (sfx == EXPO_SFX_CREATED && p->om) {
        if (!p->keep_created)
            return 0;
        s.created = true;
    }
    return deliver_sample(p, &s);
}

/* ---- lines and passes ---- */

static int text_line(struct dw_expo_parser *p, const char *s, const char *eol)
{
    const char *c = skip_blanks(s, eol);
    if (c == eol)
        return 0;
    if (*c == '#')
        return text_comment(p, c + 1, eol);
    return sample_line(p, c, eol);
}

static int om_line(struct dw_expo_parser *p, const char *s, const char *eol)
{
    if (s == eol)
        return fail(p, DW_EXPO_ESYNTAX, s, "empty line (not allowed in OpenMetrics)");
    if (*s == '#')
        return om_comment(p, s, eol);
    return sample_line(p, s, eol);
}

/* Points the error position just past the last byte of the input. */
static void at_end(struct dw_expo_parser *p, const char *data, const char *end)
{
    if (end == data || end[-1] == '\n') {
        p->lineno++;
        p->line = end;
    }
}

static int run_pass(struct dw_expo_parser *p, const char *data, size_t len)
{
    const char *s = data, *end = data + len;
    p->lineno = 0;
    p->line = data;
    p->nsamples = 0;
    p->eof = false;
    p->cur = -1;
    expo_families_reset(&p->fams);
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *eol = nl ? nl : end;
        p->line = s;
        p->eol = eol;
        p->lineno++;
        p->scratch_len = 0;
        p->scratch_ready = false;
        if ((size_t)(eol - s) > p->max_line)
            return fail(p, DW_EXPO_ELIMIT, s,
                        "line is longer than %zu bytes, the limit max_line_len", p->max_line);
        int rc = p->om ? om_line(p, s, eol) : text_line(p, s, eol);
        if (rc)
            return rc;
        s = nl ? nl + 1 : end;
        if (p->eof && s < end) {
            p->lineno++;
            p->line = s;
            return fail(p, DW_EXPO_ESYNTAX, s, "unexpected data after # EOF");
        }
    }
    if (p->om && !p->eof) {
        at_end(p, data, end);
        return fail(p, DW_EXPO_ESYNTAX, end, "missing # EOF at the end of the input");
    }
    return 0;
}

static size_t or_default(size_t v, size_t def)
{
    return v ? v : def;
}

static void configure(struct dw_expo_parser *p, const struct dw_expo_opts *o, enum dw_expo_format f,
                      struct dw_expo_error *err)
{
    p->om = f == DW_EXPO_OPENMETRICS;
    p->keep_created = o->keep_created;
    p->max_samples = or_default(o->max_samples, DW_EXPO_DEFAULT_MAX_SAMPLES);
    p->max_labels = or_default(o->max_labels, DW_EXPO_DEFAULT_MAX_LABELS);
    p->max_name = or_default(o->max_label_name_len, DW_EXPO_DEFAULT_MAX_LABEL_NAME_LEN);
    p->max_value = or_default(o->max_label_value_len, DW_EXPO_DEFAULT_MAX_LABEL_VALUE_LEN);
    /* Family names are stored with 32-bit lengths; no line gets near that. */
    p->max_line = or_default(o->max_line_len, DW_EXPO_DEFAULT_MAX_LINE_LEN);
    if (p->max_line > UINT32_MAX - 1)
        p->max_line = UINT32_MAX - 1;
    p->err = err;
}

struct dw_expo_parser *dw_expo_parser_new(void)
{
    struct dw_expo_parser *p = dw_calloc(1, sizeof *p);
    expo_families_init(&p->fams);
    p->cur = -1;
    return p;
}

void dw_expo_parser_free(struct dw_expo_parser **pp)
{
    if (!pp || !*pp)
        return;
    struct dw_expo_parser *p = *pp;
    expo_families_release(&p->fams);
    free(p->labels);
    free(p->sorted);
    free(p->scratch);
    free(p->numbuf);
    free(p);
    *pp = NULL;
}

static int unsupported(struct dw_expo_error *err, const struct dw_expo_opts *o)
{
    char qb[QBUF];
    const char *ct = o->content_type ? o->content_type : "";
    err->code = DW_EXPO_EFORMAT;
    snprintf(err->msg, sizeof err->msg,
             "unsupported Content-Type %s: expected text/plain or application/openmetrics-text",
             Q(qb, ct, strlen(ct)));
    return -1;
}

int dw_expo_parse(struct dw_expo_parser *p, const struct dw_expo_opts *opts, const char *data,
                  size_t len, const struct dw_expo_handler *h, struct dw_expo_error *err)
{
    struct dw_expo_opts defaults;
    if (!opts) {
        dw_expo_opts_init(&defaults);
        opts = &defaults;
    }
    memset(err, 0, sizeof *err);
    enum dw_expo_format f = opts->format;
    if (f == DW_EXPO_AUTO)
        f = dw_expo_format_detect(opts->content_type);
    if (f != DW_EXPO_TEXT && f != DW_EXPO_OPENMETRICS)
        return unsupported(err, opts);
    if (!data)
        data = "";

    struct dw_expo_parser *own = NULL;
    if (!p)
        p = own = dw_expo_parser_new();
    configure(p, opts, f, err);
    int rc = 0;
    if (!h || !opts->single_pass) {
        p->h = NULL;
        p->validated = false;
        rc = run_pass(p, data, len);
    }
    if (rc == 0 && h) {
        p->h = h;
        p->validated = !opts->single_pass;
        rc = run_pass(p, data, len);
    }
    p->h = NULL;
    p->err = NULL;
    dw_expo_parser_free(&own);
    return rc;
}
