/*
 * rulefile.c - DESIGN: Prometheus rule files into a struct dw_rule_set,
 * validated like Prometheus 2.42's rulefmt (what `promtool check rules` and
 * the rule manager run).
 *
 * Why not the plan module's schema walker: it expands ${VAR} in every scalar
 * and has no way to turn that off, while rule files must keep `${1}` and
 * `$labels` exactly as written. So this file walks the libfyaml tree itself,
 * taking positions from scalar tokens as the walker does (a mapping is placed
 * at its first key; a missing value at its key).
 *
 * One file goes through: read (at most 16 MiB) -> parse the first YAML
 * document -> find repeated keys -> bound the tree with aliases expanded (a
 * "billion laughs" file is refused, unknown anchors reported) -> decode
 * groups and rules, following aliases and applying merge keys (<<) on the
 * way, reporting structural problems (unknown fields with "did you mean",
 * wrong types, bad durations and integers) -> rulefmt's checks, in its order
 * and with its wording -> parse each expr with the PromQL parser, compile the
 * templates of alerting rules (template.c) -> promtool's duplicate-rules
 * lint -> sort the file's diagnostics by position. Nothing stops at the
 * first problem; an error in any file fails the whole load.
 *
 * Compatibility with promtool 2.42 (yaml.v3 + rulefmt), which
 * tests/integration/test_rules_file.py checks against the real binary:
 *  - any scalar is a string (`name: 12` is "12"), null is "", except record,
 *    alert and expr, which rulefmt keeps as raw YAML nodes (`expr: ~` is the
 *    text "~", a parse error there too);
 *  - null items of groups and rules are skipped; an empty file has no groups;
 *  - limit takes YAML integers (0x10, 1_000, 1e3; 3.5 is cut to 3 with a
 *    warning) but not a quoted "3";
 *  - durations are Prometheus's (1h30m, no fractions, at most ~292 years);
 *  - only the first YAML document is read;
 *  - two rules with the same name and labels in one file are a warning (the
 *    duplicate-rules lint), not an error.
 * Where promtool gives no position (labels, templates, a rule without record
 * or alert) we point at the key or the rule. A block scalar is placed at its
 * tag, anchor or `|`/`>` indicator, as yaml.v3 places it.
 *
 * Threads: no global state; a loaded set is read-only.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <libfyaml.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/plan.h"
#include "rules/rulefile.h"
#include "rules/template.h"
#include "tsdb/tsdb.h"

#define MAX_DURATION_MS (INT64_MAX / 1000000) /* Go's time.Duration: int64 nanoseconds */
#define MAX_ALIAS_DEPTH 1000u
#define QUOTE_MAX 80 /* longest value quoted back in a message */
#define MAX_FIELDS 8

struct pos {
    int line, col; /* 1-based; 0 when unknown */
};

/* One file being decoded. */
struct loader {
    const char *file; /* name in diagnostics */
    const char *text; /* the file's bytes, to find block scalar indicators */
    size_t len;
    struct dw_diags *diags;
    int64_t default_interval_ms;
};

/* What a message is about: `group "g", rule N, "name": ` goes in front. */
struct where {
    struct loader *ld;
    const char *group; /* NULL outside a group */
    size_t rule;       /* 1-based; 0 outside a rule */
    const char *name;  /* the rule's alert (else record) name */
};

/* ---- messages ---- */

/* Appends s in double quotes, escaped, cut after max bytes (at a character boundary). */
static void put_quoted_max(struct dw_buf *b, const char *s, size_t max)
{
    dw_buf_putc(b, '"');
    size_t i;
    for (i = 0; s[i] && (i < max || ((unsigned char)s[i] & 0xc0) == 0x80); i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            dw_buf_printf(b, "\\%c", c);
        else if (c == '\n')
            dw_buf_puts(b, "\\n");
        else if (c < 0x20 || c == 0x7f)
            dw_buf_printf(b, "\\x%02x", c);
        else
            dw_buf_putc(b, (char)c);
    }
    dw_buf_puts(b, s[i] ? "...\"" : "\"");
}

/* A value quoted back in a message: long ones are cut. */
static void put_quoted(struct dw_buf *b, const char *s)
{
    put_quoted_max(b, s, QUOTE_MAX);
}

static void vreport(const struct where *w, struct pos p, bool warning, const char *fmt, va_list ap)
    DW_PRINTF(4, 0);
static void vreport(const struct where *w, struct pos p, bool warning, const char *fmt, va_list ap)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, warning ? "warning: " : ""); /* dw_diags counts warnings by this prefix */
    if (w->group) {                              /* names in full, as promtool prints them */
        dw_buf_puts(&b, "group ");
        put_quoted_max(&b, w->group, SIZE_MAX);
    }
    if (w->rule) {
        dw_buf_printf(&b, ", rule %zu, ", w->rule);
        put_quoted_max(&b, w->name ? w->name : "", SIZE_MAX);
    }
    if (w->group)
        dw_buf_puts(&b, ": ");
    dw_buf_vprintf(&b, fmt, ap);
    dw_diags_add(w->ld->diags, w->ld->file, p.line, p.col, NULL, "%s", b.data);
    dw_buf_release(&b);
}

static void report(const struct where *w, struct pos p, const char *fmt, ...) DW_PRINTF(3, 4);
static void report(const struct where *w, struct pos p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(w, p, false, fmt, ap);
    va_end(ap);
}

static void warn(const struct where *w, struct pos p, const char *fmt, ...) DW_PRINTF(3, 4);
static void warn(const struct where *w, struct pos p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(w, p, true, fmt, ap);
    va_end(ap);
}

/* ---- positions and node kinds ---- */

static bool node_mark(struct fy_node *n, struct pos *p)
{
    if (!n)
        return false;
    if (fy_node_is_scalar(n)) {
        struct fy_token *t = fy_node_get_scalar_token(n);
        const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
        if (!m || m->line < 0)
            return false;
        /* A quoted scalar's mark is after its quote; Prometheus points at the quote. */
        enum fy_node_style st = fy_node_get_style(n);
        bool quoted = st == FYNS_SINGLE_QUOTED || st == FYNS_DOUBLE_QUOTED;
        *p = (struct pos){m->line + 1, m->column + (quoted && m->column > 0 ? 0 : 1)};
        return true;
    }
    void *it = NULL;
    if (fy_node_is_mapping(n)) {
        struct fy_node_pair *pair = fy_node_mapping_iterate(n, &it);
        return pair && node_mark(fy_node_pair_key(pair), p);
    }
    struct fy_node *item = fy_node_sequence_iterate(n, &it);
    return item && node_mark(item, p);
}

static struct pos pos_or(struct fy_node *n, struct pos fallback)
{
    struct pos p = fallback;
    node_mark(n, &p);
    return p;
}

static bool is_block_scalar(struct fy_node *n)
{
    enum fy_node_style st = fy_node_get_style(n);
    return n && fy_node_is_scalar(n) && (st == FYNS_LITERAL || st == FYNS_FOLDED);
}

/*
 * Where a key's value is. libfyaml marks a block scalar (`expr: |`) at its
 * first content line; Prometheus points at the node's start: its tag or
 * anchor, else the `|` or `>` indicator, found by scanning from the end of
 * the key over `:`, blanks and comments.
 */
static struct pos value_pos(const struct loader *ld, struct fy_node *key, struct fy_node *val)
{
    struct pos kp = pos_or(key, (struct pos){0, 0});
    struct fy_token *t = is_block_scalar(val) ? fy_node_get_scalar_token(key) : NULL;
    const struct fy_mark *m = t ? fy_token_end_mark(t) : NULL;
    if (!m || m->input_pos > ld->len)
        return pos_or(val, kp);
    struct pos p = {m->line + 1, m->column + 1}, start = {0, 0};
    bool comment = false, word = false; /* inside a comment, a tag or an anchor */
    for (size_t i = m->input_pos; i < ld->len; i++, p.col++) {
        char c = ld->text[i];
        if (c == '\n') {
            p = (struct pos){p.line + 1, 0};
            comment = word = false;
        } else if (c == ' ' || c == '\t') {
            word = false;
        } else if (!comment && !word && (c == '|' || c == '>')) {
            return start.line ? start : p;
        } else if (!comment && !word && c != ':') {
            comment = c == '#';
            word = c == '!' || c == '&';
            if (!comment && !word)
                break;
            if (word && !start.line)
                start = p;
        }
    }
    return pos_or(val, kp);
}

/* The scalar's text (heap), "" for a missing node. */
static char *scalar_text(struct fy_node *n, size_t *len)
{
    size_t l = 0;
    const char *s = n ? fy_node_get_scalar(n, &l) : NULL;
    if (len)
        *len = s ? l : 0;
    return dw_strndup(s ? s : "", s ? l : 0);
}

static char *scalar_or_empty(struct fy_node *n)
{
    return n && fy_node_is_scalar(n) ? scalar_text(n, NULL) : dw_strdup("");
}

/* ---- aliases and merge keys ----
 *
 * The tree is not resolved with fy_document_resolve(): libfyaml refuses a key
 * that a mapping sets itself and also merges in (`<<: *defaults` then
 * `alert: X`), which YAML and yaml.v3 allow (the mapping's own key wins). So
 * aliases are followed where they are read, and a mapping is read through a
 * view with its merges applied. tree_ok() has bounded the expansion.
 */

#define MAX_KEYS 4096u /* keys of one mapping with merges applied, before dropping repeats */

static struct fy_node *deref(struct fy_node *n)
{
    return n && fy_node_is_alias(n) ? fy_node_resolve_alias(n) : n;
}

static const char *key_name(struct fy_node *k)
{
    k = deref(k);
    return k && fy_node_is_scalar(k) ? fy_node_get_scalar0(k) : NULL;
}

/* One key of a mapping view; val has its alias followed. */
struct kv {
    struct fy_node *key, *val;
    const char *name; /* NULL when the key is not a scalar */
    size_t rank;      /* precedence: the lowest wins among keys of one name */
};

struct kvs {
    struct kv *items;
    size_t n, cap;
    bool merged, too_many;
};

static void kvs_merge(const struct where *w, struct kvs *o, struct fy_node *key,
                      struct fy_node *val, unsigned depth);

/* Own keys first (they win), then what `<<` merges in, earlier merges first. */
static void kvs_add_map(const struct where *w, struct kvs *o, struct fy_node *map, unsigned depth)
{
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(map, &it))) {
        const char *name = key_name(fy_node_pair_key(p));
        if (name && strcmp(name, "<<") == 0)
            continue;
        if (o->n == MAX_KEYS) {
            o->too_many = true;
            return;
        }
        o->items = dw_grow(o->items, &o->cap, o->n + 1, sizeof *o->items);
        o->items[o->n] = (struct kv){fy_node_pair_key(p), deref(fy_node_pair_value(p)), name, o->n};
        o->n++;
    }
    it = NULL;
    while ((p = fy_node_mapping_iterate(map, &it))) {
        const char *name = key_name(fy_node_pair_key(p));
        if (name && strcmp(name, "<<") == 0)
            kvs_merge(w, o, fy_node_pair_key(p), deref(fy_node_pair_value(p)), depth + 1);
    }
}

static void kvs_merge(const struct where *w, struct kvs *o, struct fy_node *key,
                      struct fy_node *val, unsigned depth)
{
    o->merged = true;
    if (depth > MAX_ALIAS_DEPTH) {
        o->too_many = true;
        return;
    }
    if (val && fy_node_is_mapping(val)) {
        kvs_add_map(w, o, val, depth);
        return;
    }
    void *it = NULL;
    struct fy_node *item;
    bool ok = val && fy_node_is_sequence(val);
    while (ok && (item = deref(fy_node_sequence_iterate(val, &it))))
        if ((ok = fy_node_is_mapping(item)))
            kvs_add_map(w, o, item, depth);
    if (!ok)
        report(w, pos_or(key, (struct pos){0, 0}),
               "a merge key (<<) needs a mapping or a list of mappings");
}

static int kv_cmp(const void *a, const void *b)
{
    const struct kv *x = a, *y = b;
    int c = x->name && y->name ? strcmp(x->name, y->name) : !!x->name - !!y->name;
    return c ? c : (x->rank > y->rank) - (x->rank < y->rank);
}

/* After merges, one key per name: the one that ranks first. O(n log n). */
static void kvs_drop_merged_repeats(struct kvs *o)
{
    qsort(o->items, o->n, sizeof *o->items, kv_cmp);
    size_t k = 0;
    for (size_t i = 0; i < o->n; i++)
        if (!k || !o->items[i].name || !o->items[k - 1].name ||
            strcmp(o->items[i].name, o->items[k - 1].name) != 0)
            o->items[k++] = o->items[i];
    o->n = k;
}

/* The mapping's keys with merges applied (caller frees items); false when over MAX_KEYS. */
static bool kvs_read(const struct where *w, struct fy_node *map, struct kvs *o)
{
    *o = (struct kvs){NULL, 0, 0, false, false};
    kvs_add_map(w, o, map, 0);
    if (o->too_many)
        report(w, pos_or(map, (struct pos){0, 0}), "too many keys in one mapping (at most %u)",
               MAX_KEYS);
    else if (o->merged)
        kvs_drop_merged_repeats(o);
    return !o->too_many;
}

/* ---- mappings with known fields ---- */

struct fields {
    const char *const *names;
    size_t n;
    struct fy_node *key[MAX_FIELDS];
    struct fy_node *val[MAX_FIELDS];
    struct kvs kvs; /* the mapping's view */
};

/* Reads the mapping and finds its known keys, reporting nothing but merge problems. */
static void fields_find(const struct where *w, struct fy_node *map, struct fields *f)
{
    kvs_read(w, map, &f->kvs);
    for (size_t j = 0; j < f->kvs.n; j++) {
        const struct kv *kv = &f->kvs.items[j];
        for (size_t i = 0; kv->name && i < f->n; i++)
            if (strcmp(kv->name, f->names[i]) == 0 && !f->key[i]) {
                f->key[i] = kv->key;
                f->val[i] = kv->val;
            }
    }
}

static void fields_release(struct fields *f)
{
    free(f->kvs.items);
    f->kvs = (struct kvs){NULL, 0, 0, false, false};
}

/* Reports keys that are not fields (rulefmt is strict about them). */
static void fields_report_unknown(const struct where *w, struct fy_node *map,
                                  const struct fields *f, const char *what)
{
    for (size_t j = 0; j < f->kvs.n; j++) {
        const struct kv *kv = &f->kvs.items[j];
        struct pos kp = pos_or(kv->key, pos_or(map, (struct pos){0, 0}));
        bool known = false;
        for (size_t i = 0; kv->name && i < f->n; i++)
            known = known || strcmp(kv->name, f->names[i]) == 0;
        if (!kv->name) {
            report(w, kp, "field names in %s must be plain strings", what);
        } else if (!known) {
            struct dw_buf b;
            dw_buf_init(&b, 0);
            put_quoted(&b, kv->name);
            const char *s = dw_suggest(kv->name, f->names, f->n);
            if (s)
                report(w, kp, "unknown field %s in %s (did you mean \"%s\"?)", b.data, what, s);
            else
                report(w, kp, "unknown field %s in %s", b.data, what);
            dw_buf_release(&b);
        }
    }
}

/* ---- scalars ---- */

/* A string field: any scalar, null is "". False (reported) for a collection. */
static bool decode_string(const struct where *w, struct pos at, struct fy_node *n, const char *key,
                          char **out)
{
    if (dw_yaml_is_null(n)) {
        *out = dw_strdup("");
        return true;
    }
    if (!fy_node_is_scalar(n)) {
        report(w, at, "%s must be a string, got %s", key, dw_yaml_kind(n));
        *out = dw_strdup("");
        return false;
    }
    *out = scalar_text(n, NULL);
    return true;
}

/* record, alert, expr: rulefmt reads them as raw nodes, so `~` stays "~".
 * *bad is set (and reported) for a collection. */
static char *decode_raw(const struct where *w, struct pos at, struct fy_node *n, const char *key,
                        bool *bad)
{
    if (n && !fy_node_is_scalar(n)) {
        report(w, at, "%s must be a string, got %s", key, dw_yaml_kind(n));
        *bad = true;
        return dw_strdup("");
    }
    return scalar_text(n, NULL);
}

/* Prometheus durations (model.ParseDuration); null is 0. */
static void decode_duration(const struct where *w, struct pos at, struct fy_node *n,
                            const char *key, int64_t *out_ms)
{
    *out_ms = 0;
    if (dw_yaml_is_null(n))
        return;
    if (!fy_node_is_scalar(n)) {
        report(w, at, "%s must be a duration like 5m, got %s", key, dw_yaml_kind(n));
        return;
    }
    char *s = scalar_text(n, NULL);
    struct dw_buf q;
    dw_buf_init(&q, 0);
    put_quoted(&q, s);
    if (!*s)
        report(w, at, "%s: empty duration string", key);
    else if (dw_parse_duration(s, out_ms) < 0)
        report(w, at, "%s: not a valid duration string: %s", key, q.data);
    else if (*out_ms > MAX_DURATION_MS)
        report(w, at, "%s: duration out of range: %s", key, q.data);
    dw_buf_release(&q);
    free(s);
}

/* Go's strconv.ParseInt(s, 0, 64) after yaml.v3 dropped the underscores. */
static bool parse_go_int(const char *s, int64_t *out)
{
    const char *p = s + (*s == '+' || *s == '-');
    int base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        base = 16;
    else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
        base = 2;
    else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
        base = 8;
    else if (p[0] == '0' && p[1])
        base = 8;
    const char *digits = base == 10 || (base == 8 && isdigit((unsigned char)p[1])) ? p : p + 2;
    if (!*digits || !isalnum((unsigned char)*digits))
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(digits, &end, base);
    if (*end || errno || v > (unsigned long long)INT64_MAX + (*s == '-'))
        return false;
    *out = *s == '-' ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* yaml.v3 also decodes a float into an int field, cutting the fraction. */
static bool parse_yaml_float(const char *s, double *out)
{
    bool digit = false;
    for (const char *p = s; *p; p++) {
        if (isdigit((unsigned char)*p))
            digit = true;
        else if (!strchr("+-.eE", *p))
            return false;
    }
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return digit && !*end && !errno && isfinite(*out);
}

/* `limit`: a plain YAML integer; null is 0. */
static void decode_limit(const struct where *w, struct pos at, struct fy_node *n, int64_t *out)
{
    *out = 0;
    if (dw_yaml_is_null(n))
        return;
    char *s = fy_node_is_scalar(n) ? scalar_text(n, NULL) : dw_strdup("");
    struct dw_buf q;
    dw_buf_init(&q, 0);
    put_quoted(&q, s);
    size_t k = 0;
    for (size_t i = 0; s[i]; i++) /* yaml.v3 ignores underscores in numbers */
        if (s[i] != '_')
            s[k++] = s[i];
    s[k] = '\0';
    double d;
    if (!fy_node_is_scalar(n) || fy_node_get_style(n) != FYNS_PLAIN) {
        report(w, at, "limit must be an integer, got %s",
               fy_node_is_scalar(n) ? q.data : dw_yaml_kind(n));
    } else if (parse_go_int(s, out)) {
        /* done */
    } else if (parse_yaml_float(s, &d) && fabs(d) < 9.2e18) {
        *out = (int64_t)d;
        if ((double)*out != d)
            warn(w, at, "limit %s is not a whole number; using %" PRId64, q.data, *out);
    } else {
        report(w, at, "limit must be an integer, got %s", q.data);
    }
    dw_buf_release(&q);
    free(s);
}

/* ---- labels and annotations ---- */

/* A label or annotation as read, with where its name and value are. */
struct pair_in {
    struct dw_rule_pair p;
    struct pos key, val;
};

struct pairs {
    struct pair_in *items;
    size_t n;
};

/* `labels:` or `annotations:`: a mapping of names to scalar values. */
static void decode_pairs(const struct where *w, struct pos at, struct fy_node *map,
                         const char *what, struct pairs *out)
{
    if (dw_yaml_is_null(map))
        return;
    if (!fy_node_is_mapping(map)) {
        report(w, at, "%ss must be a mapping of names to values, got %s", what, dw_yaml_kind(map));
        return;
    }
    struct kvs kvs;
    if (!kvs_read(w, map, &kvs))
        return;
    if (kvs.n > DW_RULES_MAX_PAIRS) {
        report(w, at, "too many %ss (%zu, at most %u)", what, kvs.n, DW_RULES_MAX_PAIRS);
        free(kvs.items);
        return;
    }
    char kname[32], vname[32];
    snprintf(kname, sizeof kname, "%s name", what);
    snprintf(vname, sizeof vname, "%s value", what);
    out->items = dw_calloc(kvs.n ? kvs.n : 1, sizeof *out->items);
    for (size_t i = 0; i < kvs.n; i++) {
        struct pair_in *pi = &out->items[out->n++];
        struct fy_node *k = deref(kvs.items[i].key), *v = kvs.items[i].val;
        pi->key = pos_or(kvs.items[i].key, at);
        pi->val = value_pos(w->ld, kvs.items[i].key, v);
        decode_string(w, pi->key, k, kname, &pi->p.name);
        decode_string(w, pi->val, v, vname, &pi->p.value);
    }
    free(kvs.items);
}

static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = *p < 0x80         ? 1
                   : (*p >> 5) == 6  ? 2
                   : (*p >> 4) == 14 ? 3
                   : (*p >> 3) == 30 ? 4
                                     : 0;
        if (n == 0 || (n == 2 && *p < 0xc2) || (n == 4 && *p > 0xf4))
            return false;
        for (size_t i = 1; i < n; i++)
            if ((p[i] & 0xc0) != 0x80)
                return false;
        if (n == 3 && ((*p == 0xe0 && p[1] < 0xa0) || (*p == 0xed && p[1] > 0x9f)))
            return false; /* overlong, or a surrogate */
        if (n == 4 && ((*p == 0xf0 && p[1] < 0x90) || (*p == 0xf4 && p[1] > 0x8f)))
            return false;
        p += n;
    }
    return true;
}

static void check_labels(const struct where *w, const struct pairs *ls)
{
    for (size_t i = 0; i < ls->n; i++) {
        const struct pair_in *l = &ls->items[i];
        if (!dw_tsdb_label_name_valid(l->p.name) || strcmp(l->p.name, "__name__") == 0)
            report(w, l->key, "invalid label name: %s", l->p.name);
        if (!utf8_valid(l->p.value))
            report(w, l->val, "invalid label value: %s", l->p.value);
        else if (strlen(l->p.value) > DW_RULES_MAX_VALUE_BYTES)
            report(w, l->val, "label %s: value longer than %u bytes", l->p.name,
                   DW_RULES_MAX_VALUE_BYTES);
    }
}

static void check_annotations(const struct where *w, const struct pairs *as)
{
    for (size_t i = 0; i < as->n; i++) {
        const struct pair_in *a = &as->items[i];
        if (!dw_tsdb_label_name_valid(a->p.name))
            report(w, a->key, "invalid annotation name: %s", a->p.name);
        if (strlen(a->p.value) > DW_RULES_MAX_VALUE_BYTES)
            report(w, a->val, "annotation %s: value longer than %u bytes", a->p.name,
                   DW_RULES_MAX_VALUE_BYTES);
    }
}

/*
 * Alerting rules: every label value and annotation must compile as a
 * template (rulefmt's testTemplateParsing), named "__alert_<alert name>" as
 * Prometheus names it. The compiled template is kept for the evaluator; a
 * value without "{{" stays literal (tmpl NULL).
 */
static void compile_templates(const struct where *w, struct pairs *ps, const char *what,
                              const char *alert)
{
    char *name = dw_asprintf("__alert_%s", alert);
    for (size_t i = 0; i < ps->n; i++) {
        struct pair_in *pi = &ps->items[i];
        if (dw_tmpl_is_literal(pi->p.value))
            continue;
        char err[512] = "";
        pi->p.tmpl = dw_tmpl_compile(name, pi->p.value, err, sizeof err);
        if (!pi->p.tmpl)
            report(w, pi->val, "%s \"%s\": %s", what, pi->p.name, err);
    }
    free(name);
}

static int pair_cmp(const void *a, const void *b)
{
    const struct pair_in *x = a, *y = b;
    return strcmp(x->p.name, y->p.name);
}

/* Sorted by name into the rule; a name given twice (through a merge key) is an error. */
static void pairs_finish(const struct where *w, struct pairs *ps, const char *what,
                         struct dw_rule_pair **out, size_t *n)
{
    if (ps->n > 1)
        qsort(ps->items, ps->n, sizeof *ps->items, pair_cmp);
    *out = ps->n ? dw_calloc(ps->n, sizeof **out) : NULL;
    *n = 0;
    for (size_t i = 0; i < ps->n; i++) {
        struct dw_rule_pair *p = &ps->items[i].p;
        if (*n && strcmp((*out)[*n - 1].name, p->name) == 0) {
            report(w, ps->items[i].key, "%s %s given twice", what, p->name);
            free(p->name);
            free(p->value);
            dw_tmpl_free(&p->tmpl);
            continue;
        }
        (*out)[(*n)++] = *p;
    }
    free(ps->items);
    ps->items = NULL;
    ps->n = 0;
}

/* ---- rules ---- */

enum { R_RECORD, R_ALERT, R_EXPR, R_FOR, R_KEEP, R_LABELS, R_ANNOTATIONS, R_NFIELDS };
static const char *const rule_fields[R_NFIELDS] = {
    "record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations",
};

/* A rule as read, before it is checked. */
struct rule_in {
    struct fields f;
    struct pos at, pos[R_NFIELDS]; /* the rule, and each field's value (or key) */
    char *record, *alert;
    bool bad_name, bad_expr; /* record/alert, expr were not strings (reported) */
    struct pairs labels, annotations;
};

static void check_expr(const struct where *w, const struct rule_in *in, struct dw_rule *r)
{
    struct pos at = in->pos[R_EXPR];
    size_t len = strlen(r->expr);
    if (len == 0) {
        report(w, at, "field 'expr' must be set in rule");
        return;
    }
    if (len > DW_RULES_MAX_EXPR_BYTES) {
        report(w, at, "expression is longer than %u bytes", DW_RULES_MAX_EXPR_BYTES);
        return;
    }
    struct dw_promql_limits lim = {.max_query_len = DW_RULES_MAX_EXPR_BYTES};
    struct dw_promql_error err = {0};
    if (dw_promql_parse(r->expr, len, &lim, &r->query, &err) != 0) {
        struct dw_buf b;
        dw_buf_init(&b, 0);
        dw_promql_error_format(&err, &b);
        report(w, at, "could not parse expression: %s", b.data);
        dw_buf_release(&b);
        dw_promql_error_release(&err);
    }
}

/* rulefmt's RuleNode.Validate, in its order. */
static void check_rule(const struct where *w, struct rule_in *in, struct dw_rule *r)
{
    bool rec = *in->record != '\0', alert = *in->alert != '\0';
    if (rec && alert)
        report(w, in->pos[R_RECORD], "only one of 'record' and 'alert' must be set");
    if (!rec && !alert && !in->bad_name)
        report(w, in->at, "one of 'record' or 'alert' must be set");
    if (!in->bad_expr)
        check_expr(w, in, r);
    if (rec) {
        struct pos at = in->pos[R_RECORD];
        if (in->annotations.n)
            report(w, at, "invalid field 'annotations' in recording rule");
        if (r->for_ms)
            report(w, at, "invalid field 'for' in recording rule");
        if (r->keep_firing_for_ms)
            report(w, at, "invalid field 'keep_firing_for' in recording rule");
        if (!dw_tsdb_metric_name_valid(in->record))
            report(w, at, "invalid recording rule name: %s", in->record);
    }
    check_labels(w, &in->labels);
    check_annotations(w, &in->annotations);
    if (alert) {
        compile_templates(w, &in->labels, "label", in->alert);
        compile_templates(w, &in->annotations, "annotation", in->alert);
    }
}

static void decode_rule_fields(struct where *w, struct rule_in *in, struct dw_rule *r)
{
    struct fields *f = &in->f;
    for (size_t i = 0; i < R_NFIELDS; i++)
        in->pos[i] = f->key[i] ? value_pos(w->ld, f->key[i], f->val[i]) : in->at;
    in->record = decode_raw(w, in->pos[R_RECORD], f->val[R_RECORD], "record", &in->bad_name);
    in->alert = decode_raw(w, in->pos[R_ALERT], f->val[R_ALERT], "alert", &in->bad_name);
    r->expr = decode_raw(w, in->pos[R_EXPR], f->val[R_EXPR], "expr", &in->bad_expr);
    decode_duration(w, in->pos[R_FOR], f->val[R_FOR], "for", &r->for_ms);
    decode_duration(w, in->pos[R_KEEP], f->val[R_KEEP], "keep_firing_for", &r->keep_firing_for_ms);
    decode_pairs(w, in->pos[R_LABELS], f->val[R_LABELS], "label", &in->labels);
    decode_pairs(w, in->pos[R_ANNOTATIONS], f->val[R_ANNOTATIONS], "annotation", &in->annotations);
}

/* One item of `rules:`; the rule is kept even when invalid, for freeing. */
static void decode_rule(struct where *w, struct fy_node *n, struct dw_rule *r)
{
    struct rule_in in = {.f = {rule_fields, R_NFIELDS, {0}, {0}, {0}}};
    in.at = pos_or(n, (struct pos){0, 0});
    r->line = in.at.line;
    r->col = in.at.col;
    if (!fy_node_is_mapping(n)) {
        w->name = "";
        report(w, in.at, "a rule must be a mapping, got %s", dw_yaml_kind(n));
        r->name = dw_strdup("");
        r->expr = dw_strdup("");
        return;
    }
    fields_find(w, n, &in.f);
    /* The name first, so every message about the rule can carry it. */
    r->name = scalar_or_empty(in.f.val[R_ALERT]);
    if (!*r->name) {
        free(r->name);
        r->name = scalar_or_empty(in.f.val[R_RECORD]);
    }
    w->name = r->name;
    fields_report_unknown(w, n, &in.f, "a rule");
    decode_rule_fields(w, &in, r);
    r->kind = *in.alert ? DW_RULE_ALERT : DW_RULE_RECORD;
    check_rule(w, &in, r);
    pairs_finish(w, &in.labels, "label", &r->labels, &r->nlabels);
    pairs_finish(w, &in.annotations, "annotation", &r->annotations, &r->nannotations);
    free(in.record);
    free(in.alert);
    fields_release(&in.f);
}

static void rule_release(struct dw_rule *r)
{
    for (size_t i = 0; i < r->nlabels; i++) {
        free(r->labels[i].name);
        free(r->labels[i].value);
        dw_tmpl_free(&r->labels[i].tmpl);
    }
    for (size_t i = 0; i < r->nannotations; i++) {
        free(r->annotations[i].name);
        free(r->annotations[i].value);
        dw_tmpl_free(&r->annotations[i].tmpl);
    }
    free(r->labels);
    free(r->annotations);
    free(r->name);
    free(r->expr);
    dw_promql_free(&r->query);
}

/* ---- groups ---- */

enum { G_NAME, G_INTERVAL, G_LIMIT, G_RULES, G_NFIELDS };
static const char *const group_fields[G_NFIELDS] = {"name", "interval", "limit", "rules"};

static struct pos field_pos(const struct loader *ld, const struct fields *f, size_t i,
                            struct pos fallback)
{
    return f->key[i] ? value_pos(ld, f->key[i], f->val[i]) : fallback;
}

static void decode_rules(struct where *w, struct pos at, struct fy_node *seq,
                         struct dw_rule_group *g)
{
    if (dw_yaml_is_null(seq))
        return;
    if (!fy_node_is_sequence(seq)) {
        report(w, at, "rules must be a list, got %s", dw_yaml_kind(seq));
        return;
    }
    size_t len = (size_t)fy_node_sequence_item_count(seq);
    if (len > DW_RULES_MAX_RULES_PER_GROUP) {
        report(w, at, "too many rules in the group (%zu, at most %u)", len,
               DW_RULES_MAX_RULES_PER_GROUP);
        return;
    }
    g->rules = dw_calloc(len ? len : 1, sizeof *g->rules);
    void *it = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(seq, &it))) {
        item = deref(item);
        if (dw_yaml_is_null(item))
            continue; /* yaml.v3 drops null items */
        struct dw_rule *r = &g->rules[g->nrules];
        r->index = g->nrules++;
        w->rule = g->nrules;
        decode_rule(w, item, r);
    }
    w->rule = 0;
}

static void decode_group(struct loader *ld, struct fy_node *n, struct dw_rule_group *g)
{
    struct where w = {ld, NULL, 0, NULL};
    struct pos at = pos_or(n, (struct pos){0, 0});
    g->line = at.line;
    g->col = at.col;
    g->interval_ms = ld->default_interval_ms;
    if (!fy_node_is_mapping(n)) {
        report(&w, at, "a group must be a mapping, got %s", dw_yaml_kind(n));
        g->name = dw_strdup("");
        return;
    }
    struct fields f = {group_fields, G_NFIELDS, {0}, {0}, {0}};
    fields_find(&w, n, &f);
    if (decode_string(&w, field_pos(ld, &f, G_NAME, at), f.val[G_NAME], "name", &g->name) &&
        !*g->name)
        report(&w, at, "groupname must not be empty");
    w.group = g->name;
    fields_report_unknown(&w, n, &f, "a group");
    int64_t iv;
    decode_duration(&w, field_pos(ld, &f, G_INTERVAL, at), f.val[G_INTERVAL], "interval", &iv);
    if (iv > 0) {
        g->interval_ms = iv;
        g->own_interval = true;
    }
    decode_limit(&w, field_pos(ld, &f, G_LIMIT, at), f.val[G_LIMIT], &g->limit);
    decode_rules(&w, field_pos(ld, &f, G_RULES, at), f.val[G_RULES], g);
    fields_release(&f);
}

static void group_release(struct dw_rule_group *g)
{
    for (size_t i = 0; i < g->nrules; i++)
        rule_release(&g->rules[i]);
    free(g->rules);
    free(g->name);
}

/* ---- the whole set ---- */

static void set_add_file(struct dw_rule_set *s, const char *path, size_t *cap)
{
    s->files = dw_grow(s->files, cap, s->nfiles + 1, sizeof *s->files);
    s->files[s->nfiles++] = dw_strdup(path);
}

static bool set_has_file(const struct dw_rule_set *s, const char *path)
{
    for (size_t i = 0; i < s->nfiles; i++)
        if (strcmp(s->files[i], path) == 0)
            return true;
    return false;
}

struct group_ref {
    const struct dw_rule_group *g;
};

static int group_ref_cmp(const void *a, const void *b)
{
    const struct group_ref *x = a, *y = b;
    int c = strcmp(x->g->name, y->g->name);
    return c ? c : (x->g > y->g) - (x->g < y->g);
}

/* rulefmt: group names are unique in a file. */
static void check_group_names(struct loader *ld, const struct dw_rule_group *gs, size_t n)
{
    struct where w = {ld, NULL, 0, NULL};
    struct group_ref *refs = dw_calloc(n ? n : 1, sizeof *refs);
    for (size_t i = 0; i < n; i++)
        refs[i].g = &gs[i];
    qsort(refs, n, sizeof *refs, group_ref_cmp);
    for (size_t i = 1, first = 0; i < n; i++) {
        if (strcmp(refs[i].g->name, refs[first].g->name) != 0) {
            first = i;
            continue;
        }
        if (!*refs[i].g->name)
            continue;
        struct dw_buf q;
        dw_buf_init(&q, 0);
        put_quoted(&q, refs[i].g->name);
        report(&w, (struct pos){refs[i].g->line, refs[i].g->col},
               "groupname: %s is repeated in the same file (first at line %d)", q.data,
               refs[first].g->line);
        dw_buf_release(&q);
    }
    free(refs);
}

static void decode_root(struct loader *ld, struct fy_node *root, struct dw_rule_set *s)
{
    struct where w = {ld, NULL, 0, NULL};
    struct pos at = pos_or(root, (struct pos){1, 1});
    if (dw_yaml_is_null(root))
        return; /* an empty file: no groups */
    if (!fy_node_is_mapping(root)) {
        report(&w, at, "a rule file must be a mapping with a \"groups\" list, got %s",
               dw_yaml_kind(root));
        return;
    }
    static const char *const root_fields[] = {"groups"};
    struct fields f = {root_fields, 1, {0}, {0}, {0}};
    fields_find(&w, root, &f);
    fields_report_unknown(&w, root, &f, "a rule file");
    struct fy_node *seq = f.val[0];
    at = field_pos(ld, &f, 0, at);
    fields_release(&f);
    if (dw_yaml_is_null(seq))
        return;
    if (!fy_node_is_sequence(seq)) {
        report(&w, at, "groups must be a list, got %s", dw_yaml_kind(seq));
        return;
    }
    size_t len = (size_t)fy_node_sequence_item_count(seq), first = s->ngroups, cap = s->ngroups;
    if (len > DW_RULES_MAX_GROUPS) {
        report(&w, at, "too many groups (%zu, at most %u)", len, DW_RULES_MAX_GROUPS);
        return;
    }
    s->groups = dw_realloc(s->groups, (cap + len + 1) * sizeof *s->groups);
    void *it = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(seq, &it))) {
        item = deref(item);
        if (dw_yaml_is_null(item))
            continue; /* yaml.v3 drops null items */
        struct dw_rule_group *g = &s->groups[s->ngroups++];
        memset(g, 0, sizeof *g);
        g->file = s->files[s->nfiles - 1];
        decode_group(ld, item, g);
    }
    check_group_names(ld, s->groups + first, s->ngroups - first);
}

/* ---- YAML: parse, repeated keys, size with aliases expanded ---- */

static void report_yaml_error(void *user, int line, int col, const char *msg)
{
    struct where w = {user, NULL, 0, NULL};
    report(&w, (struct pos){line, col}, "invalid YAML: %s", msg);
}

static void report_repeat(void *user, const char *key, struct fy_node *repeat,
                          struct fy_node *first)
{
    struct where w = {user, NULL, 0, NULL};
    struct dw_buf q;
    dw_buf_init(&q, 0);
    put_quoted(&q, key);
    report(&w, pos_or(repeat, (struct pos){0, 0}), "mapping key %s already defined at line %d",
           q.data, pos_or(first, (struct pos){0, 0}).line);
    dw_buf_release(&q);
}

/* Repeated keys anywhere in the tree (depth is bounded by libfyaml's parser). */
static size_t find_duplicates(struct loader *ld, struct fy_node *n)
{
    size_t found = 0;
    void *it = NULL;
    if (fy_node_is_sequence(n)) {
        struct fy_node *item;
        while ((item = fy_node_sequence_iterate(n, &it)))
            found += find_duplicates(ld, item);
        return found;
    }
    if (!fy_node_is_mapping(n))
        return 0;
    found += dw_yaml_repeated_keys(n, DW_YAML_KEYS_THROUGH_ALIASES, report_repeat, ld);
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(n, &it)))
        found += find_duplicates(ld, fy_node_pair_value(p));
    return found;
}

/*
 * Counts nodes as if aliases were expanded and checks every alias points
 * somewhere. False (reported) past DW_RULES_MAX_YAML_NODES (a "billion
 * laughs" file) or for an unknown anchor.
 */
static bool tree_ok(struct loader *ld, struct fy_node *n, size_t *count, unsigned depth)
{
    struct where w = {ld, NULL, 0, NULL};
    if (!n)
        return true;
    if (++*count > DW_RULES_MAX_YAML_NODES || depth > MAX_ALIAS_DEPTH) {
        report(&w, (struct pos){1, 1},
               "the YAML tree is too large with its aliases expanded (more than %u nodes)",
               DW_RULES_MAX_YAML_NODES);
        return false;
    }
    if (fy_node_is_alias(n)) {
        struct fy_node *target = fy_node_resolve_alias(n);
        if (!target) {
            char *name = scalar_text(n, NULL);
            report(&w, pos_or(n, (struct pos){0, 0}), "unknown anchor '%s' referenced", name);
            free(name);
            return false;
        }
        return tree_ok(ld, target, count, depth + 1);
    }
    void *it = NULL;
    if (fy_node_is_sequence(n)) {
        struct fy_node *item;
        while ((item = fy_node_sequence_iterate(n, &it)))
            if (!tree_ok(ld, item, count, depth + 1))
                return false;
    } else if (fy_node_is_mapping(n)) {
        struct fy_node_pair *p;
        while ((p = fy_node_mapping_iterate(n, &it)))
            if (!tree_ok(ld, fy_node_pair_key(p), count, depth + 1) ||
                !tree_ok(ld, fy_node_pair_value(p), count, depth + 1))
                return false;
    }
    return true;
}

/* The first document of the text; NULL when there is none
 * (empty file: *empty set) or on errors (reported). */
static struct fy_document *parse_yaml(struct loader *ld, bool *empty)
{
    size_t before = ld->diags->n;
    struct fy_document *doc =
        dw_yaml_parse(ld->text, ld->len, FYPCF_ALLOW_DUPLICATE_KEYS | FYPCF_DEFAULT_VERSION_1_2,
                      report_yaml_error, ld);
    struct fy_node *root = doc ? fy_document_root(doc) : NULL;
    size_t count = 0;
    *empty = !doc && ld->diags->n == before;
    if (doc && ((root && find_duplicates(ld, root) > 0) || !tree_ok(ld, root, &count, 0))) {
        fy_document_destroy(doc);
        doc = NULL;
    }
    return doc;
}

/* ---- loading ---- */

struct diag_ref {
    struct dw_diag d;
    size_t index;
};

static int diag_ref_cmp(const void *a, const void *b)
{
    const struct diag_ref *x = a, *y = b;
    if (x->d.line != y->d.line)
        return x->d.line < y->d.line ? -1 : 1;
    if (x->d.col != y->d.col)
        return x->d.col < y->d.col ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* A file's problems in the order of the file (stable for one position). */
static void sort_diags(struct dw_diags *d, size_t from)
{
    size_t n = d->n - from;
    if (n < 2)
        return;
    struct diag_ref *refs = dw_calloc(n, sizeof *refs);
    for (size_t i = 0; i < n; i++)
        refs[i] = (struct diag_ref){d->items[from + i], i};
    qsort(refs, n, sizeof *refs, diag_ref_cmp);
    for (size_t i = 0; i < n; i++)
        d->items[from + i] = refs[i].d;
    free(refs);
}

struct rule_ref {
    const struct dw_rule *r;
    size_t seq; /* order in the file */
};

/* Same name and labels: the series (or alerts) of both rules collide. */
static int rule_key_cmp(const struct dw_rule *x, const struct dw_rule *y)
{
    int c = strcmp(x->name, y->name);
    if (c || x->nlabels != y->nlabels)
        return c ? c : (x->nlabels > y->nlabels) - (x->nlabels < y->nlabels);
    for (size_t i = 0; i < x->nlabels; i++)
        if ((c = strcmp(x->labels[i].name, y->labels[i].name)) != 0 ||
            (c = strcmp(x->labels[i].value, y->labels[i].value)) != 0)
            return c;
    return 0;
}

static int rule_ref_cmp(const void *a, const void *b)
{
    const struct rule_ref *x = a, *y = b;
    int c = rule_key_cmp(x->r, y->r);
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* promtool's duplicate-rules lint: same name and labels in one file. */
static void lint_duplicates(struct loader *ld, const struct dw_rule_group *gs, size_t ng)
{
    size_t n = 0, k = 0;
    for (size_t i = 0; i < ng; i++)
        n += gs[i].nrules;
    if (n < 2)
        return;
    struct rule_ref *rs = dw_calloc(n, sizeof *rs);
    for (size_t i = 0; i < ng; i++)
        for (size_t j = 0; j < gs[i].nrules; j++, k++)
            rs[k] = (struct rule_ref){&gs[i].rules[j], k};
    qsort(rs, n, sizeof *rs, rule_ref_cmp);
    for (size_t i = 1, first = 0; i < n; i++) {
        if (rule_key_cmp(rs[first].r, rs[i].r) != 0) {
            first = i;
            continue;
        }
        dw_diags_add(ld->diags, ld->file, rs[i].r->line, rs[i].r->col, NULL,
                     "warning: duplicate rule %s: same name and labels as the rule at line %d "
                     "(promtool's duplicate-rules lint)",
                     rs[i].r->name, rs[first].r->line);
    }
    free(rs);
}

static void load_text(struct loader *ld, struct dw_rule_set *s)
{
    size_t before = dw_diags_errors(ld->diags), first_diag = ld->diags->n;
    size_t first_group = s->ngroups;
    bool empty;
    struct fy_document *doc = parse_yaml(ld, &empty);
    if (doc) {
        decode_root(ld, fy_document_root(doc), s);
        fy_document_destroy(doc);
    }
    if (dw_diags_errors(ld->diags) == before)
        lint_duplicates(ld, s->groups + first_group, s->ngroups - first_group);
    sort_diags(ld->diags, first_diag);
}

/* Back pointers, once the arrays no longer move. */
static void set_finish(struct dw_rule_set *s)
{
    s->nrules = 0;
    for (size_t i = 0; i < s->ngroups; i++) {
        for (size_t j = 0; j < s->groups[i].nrules; j++)
            s->groups[i].rules[j].group = &s->groups[i];
        s->nrules += s->groups[i].nrules;
    }
}

static int set_done(struct dw_rule_set *s, size_t errors_before, struct dw_rule_set **out,
                    struct dw_diags *diags)
{
    if (dw_diags_errors(diags) != errors_before) {
        dw_rule_set_free(&s);
        *out = NULL;
        return -1;
    }
    set_finish(s);
    *out = s;
    return 0;
}

int dw_rules_load_files(const char *const *paths, size_t n, int64_t default_interval_ms,
                        struct dw_rule_set **out, struct dw_diags *diags)
{
    size_t before = dw_diags_errors(diags), cap = 0;
    struct dw_rule_set *s = dw_calloc(1, sizeof *s);
    for (size_t i = 0; i < n; i++) {
        if (set_has_file(s, paths[i]))
            continue;
        set_add_file(s, paths[i], &cap);
        struct loader ld = {paths[i], NULL, 0, diags, default_interval_ms};
        char *text = dw_read_file(paths[i], DW_RULES_MAX_FILE_BYTES, &ld.len, diags);
        if (!text)
            continue;
        ld.text = text;
        load_text(&ld, s);
        free(text);
    }
    return set_done(s, before, out, diags);
}

int dw_rules_load_string(const char *name, const char *yaml, size_t len,
                         int64_t default_interval_ms, struct dw_rule_set **out,
                         struct dw_diags *diags)
{
    size_t before = dw_diags_errors(diags), cap = 0;
    struct dw_rule_set *s = dw_calloc(1, sizeof *s);
    set_add_file(s, name ? name : "<rules>", &cap);
    struct loader ld = {s->files[0], yaml, len, diags, default_interval_ms};
    if (len > DW_RULES_MAX_FILE_BYTES)
        dw_diags_add(diags, ld.file, 0, 0, NULL, "file is larger than %u MiB",
                     DW_RULES_MAX_FILE_BYTES >> 20);
    else
        load_text(&ld, s);
    return set_done(s, before, out, diags);
}

void dw_rule_set_free(struct dw_rule_set **ps)
{
    struct dw_rule_set *s = ps ? *ps : NULL;
    if (!s)
        return;
    for (size_t i = 0; i < s->ngroups; i++)
        group_release(&s->groups[i]);
    for (size_t i = 0; i < s->nfiles; i++)
        free(s->files[i]);
    free(s->groups);
    free(s->files);
    free(s);
    *ps = NULL;
}

void dw_rule_iter_init(struct dw_rule_iter *it, const struct dw_rule_set *s)
{
    *it = (struct dw_rule_iter){s, 0, 0};
}

const struct dw_rule *dw_rule_iter_next(struct dw_rule_iter *it)
{
    while (it->set && it->group < it->set->ngroups) {
        const struct dw_rule_group *g = &it->set->groups[it->group];
        if (it->rule < g->nrules)
            return &g->rules[it->rule++];
        it->group++;
        it->rule = 0;
    }
    return NULL;
}

const struct dw_rule_group *dw_rule_set_find_group(const struct dw_rule_set *s, const char *file,
                                                   const char *name)
{
    for (size_t i = 0; s && i < s->ngroups; i++)
        if (strcmp(s->groups[i].file, file) == 0 && strcmp(s->groups[i].name, name) == 0)
            return &s->groups[i];
    return NULL;
}

const char *dw_rule_kind_name(enum dw_rule_kind k)
{
    return k == DW_RULE_ALERT ? "alert" : "record";
}
