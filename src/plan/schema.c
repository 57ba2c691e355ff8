/*
 * schema.c - DESIGN: a declarative walker from a libfyaml document tree into
 * C structs.
 *
 * A struct dw_schema is a table of fields (name, type, offset, flags...). The
 * walker visits a YAML mapping, finds each key's field, parses the scalar (or
 * recurses into objects, lists and maps) and stores the result at the field's
 * offset. It never stops at the first problem: every error goes into the
 * caller's struct dw_diags with file:line:col and a dotted key path such as
 * "launch.phases[2].cadence.business", so a person fixes a file in one pass.
 *
 * While walking, the context remembers where every stored value came from
 * (address -> line, column, path). Semantic checks that run after the walk
 * (phase overlaps, response <= resolution...) report through
 * dw_schema_error_at(ctx, &obj->field, ...) and get the position for free.
 * Ids (people, teams...) and references to them are collected during the
 * walk and resolved at the end, so a reference may come before its
 * definition in the file.
 *
 * Positions: libfyaml 0.7 exposes marks for scalar tokens only, so a mapping
 * or sequence is placed at its first scalar, and a missing or null value at
 * its key. Marks are 0-based; diagnostics are 1-based.
 *
 * Threads: a context belongs to one thread; nothing here is global except
 * getenv() reads during ${VAR} expansion.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_internal.h"

#define PATH_MAX_BYTES (64u << 10)
#define PATH_KEY_MAX 128 /* longer keys are cut in key paths */
#define GOT_MAX 60       /* longest value quoted back in a message */
#define ENV_NAME_MAX 128
#define SUGGEST_MAX_LIST 8 /* ids listed in an "undefined" message */
#define MAX_ITEMS 10000    /* items in one list or free-key map: keeps checks fast */

struct pos_entry {
    const void *addr;
    int line, col;
    char *path;
    bool object; /* an object's own entry; a first field at the same address wins */
};

struct id_entry {
    char *kind, *id;
    int line;
};

struct ref_entry {
    char *kind, *id;
    int line, col;
    char *path;
};

struct hint_entry {
    char *kind, *where;
};

struct dw_schema_ctx {
    char *file;
    struct dw_diags *diags;
    struct dw_buf path; /* key path of the node being decoded */
    int line, col;      /* 1-based position of the node being decoded */
    struct pos_entry *pos;
    size_t npos, cappos;
    struct id_entry *ids;
    size_t nids, capids;
    struct ref_entry *refs;
    size_t nrefs, caprefs;
    struct hint_entry *hints;
    size_t nhints, caphints;
};

/* ---- context ---- */

struct dw_schema_ctx *dw_schema_ctx_new(const char *file, struct dw_diags *diags)
{
    struct dw_schema_ctx *ctx = dw_calloc(1, sizeof *ctx);
    ctx->file = dw_strdup(file ? file : "<config>");
    ctx->diags = diags;
    dw_buf_init(&ctx->path, PATH_MAX_BYTES);
    dw_buf_puts(&ctx->path, "");
    ctx->line = 1;
    ctx->col = 1;
    return ctx;
}

void dw_schema_ctx_free(struct dw_schema_ctx **pctx)
{
    struct dw_schema_ctx *ctx = *pctx;
    if (!ctx)
        return;
    for (size_t i = 0; i < ctx->npos; i++)
        free(ctx->pos[i].path);
    for (size_t i = 0; i < ctx->nids; i++) {
        free(ctx->ids[i].kind);
        free(ctx->ids[i].id);
    }
    for (size_t i = 0; i < ctx->nrefs; i++) {
        free(ctx->refs[i].kind);
        free(ctx->refs[i].id);
        free(ctx->refs[i].path);
    }
    for (size_t i = 0; i < ctx->nhints; i++) {
        free(ctx->hints[i].kind);
        free(ctx->hints[i].where);
    }
    free(ctx->pos);
    free(ctx->ids);
    free(ctx->refs);
    free(ctx->hints);
    dw_buf_release(&ctx->path);
    free(ctx->file);
    free(ctx);
    *pctx = NULL;
}

static const char *cur_path(const struct dw_schema_ctx *ctx)
{
    return ctx->path.len ? ctx->path.data : NULL;
}

static size_t path_push_key(struct dw_schema_ctx *ctx, const char *key)
{
    size_t saved = ctx->path.len;
    dw_buf_printf(&ctx->path, "%s%.*s", saved ? "." : "", PATH_KEY_MAX, key);
    return saved;
}

static size_t path_push_index(struct dw_schema_ctx *ctx, size_t i)
{
    size_t saved = ctx->path.len;
    dw_buf_printf(&ctx->path, "[%zu]", i);
    return saved;
}

static void path_pop(struct dw_schema_ctx *ctx, size_t saved)
{
    ctx->path.len = saved;
    if (ctx->path.data)
        ctx->path.data[saved] = '\0';
}

static void ctx_vreport(struct dw_schema_ctx *ctx, int line, int col, const char *path,
                        const char *fmt, va_list ap)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_vprintf(&b, fmt, ap);
    dw_diags_add(ctx->diags, ctx->file, line, col, path, "%s", b.data ? b.data : "");
    dw_buf_release(&b);
}

static void ctx_report(struct dw_schema_ctx *ctx, const char *fmt, ...) DW_PRINTF(2, 3);
static void ctx_report(struct dw_schema_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx_vreport(ctx, ctx->line, ctx->col, cur_path(ctx), fmt, ap);
    va_end(ap);
}

void dw_schema_error(struct dw_schema_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx_vreport(ctx, ctx->line, ctx->col, cur_path(ctx), fmt, ap);
    va_end(ap);
}

/* Newest first, so a value re-read later wins; a value entry beats an
 * object entry at the same address (an object and its first field). */
static const struct pos_entry *find_pos(const struct dw_schema_ctx *ctx, const void *addr)
{
    const struct pos_entry *object = NULL;
    for (size_t i = ctx->npos; i-- > 0;) {
        if (ctx->pos[i].addr != addr)
            continue;
        if (!ctx->pos[i].object)
            return &ctx->pos[i];
        if (!object)
            object = &ctx->pos[i];
    }
    return object;
}

void dw_schema_error_at(struct dw_schema_ctx *ctx, const void *addr, const char *fmt, ...)
{
    const struct pos_entry *p = find_pos(ctx, addr);
    va_list ap;
    va_start(ap, fmt);
    if (p)
        ctx_vreport(ctx, p->line, p->col, p->path, fmt, ap);
    else
        ctx_vreport(ctx, ctx->line, ctx->col, cur_path(ctx), fmt, ap);
    va_end(ap);
}

bool dw_schema_seen(const struct dw_schema_ctx *ctx, const void *addr)
{
    return find_pos(ctx, addr) != NULL;
}

static void record_pos(struct dw_schema_ctx *ctx, const void *addr, bool object)
{
    ctx->pos = dw_grow(ctx->pos, &ctx->cappos, ctx->npos + 1, sizeof *ctx->pos);
    struct pos_entry *p = &ctx->pos[ctx->npos++];
    p->addr = addr;
    p->line = ctx->line;
    p->col = ctx->col;
    p->path = ctx->path.len ? dw_strdup(ctx->path.data) : NULL;
    p->object = object;
}

/* ---- ids and references ---- */

static const struct id_entry *find_id(const struct dw_schema_ctx *ctx, const char *kind,
                                      const char *id)
{
    for (size_t i = 0; i < ctx->nids; i++)
        if (strcmp(ctx->ids[i].kind, kind) == 0 && strcmp(ctx->ids[i].id, id) == 0)
            return &ctx->ids[i];
    return NULL;
}

static void add_id(struct dw_schema_ctx *ctx, const char *kind, const char *id, int line)
{
    ctx->ids = dw_grow(ctx->ids, &ctx->capids, ctx->nids + 1, sizeof *ctx->ids);
    ctx->ids[ctx->nids++] = (struct id_entry){dw_strdup(kind), dw_strdup(id), line};
}

void dw_schema_define(struct dw_schema_ctx *ctx, const char *kind, const char *id)
{
    if (!*id) {
        ctx_report(ctx, "%s id must not be empty", kind);
        return;
    }
    const struct id_entry *prev = find_id(ctx, kind, id);
    if (prev && prev->line > 0)
        ctx_report(ctx, "duplicate %s id \"%s\" (first defined at line %d)", kind, id, prev->line);
    else if (prev)
        ctx_report(ctx, "duplicate %s id \"%s\"", kind, id);
    else
        add_id(ctx, kind, id, ctx->line);
}

void dw_schema_predefine(struct dw_schema_ctx *ctx, const char *kind, const char *id)
{
    if (id && *id && !find_id(ctx, kind, id))
        add_id(ctx, kind, id, 0);
}

void dw_schema_ref(struct dw_schema_ctx *ctx, const char *kind, const char *id)
{
    ctx->refs = dw_grow(ctx->refs, &ctx->caprefs, ctx->nrefs + 1, sizeof *ctx->refs);
    ctx->refs[ctx->nrefs++] = (struct ref_entry){
        dw_strdup(kind),
        dw_strdup(id),
        ctx->line,
        ctx->col,
        ctx->path.len ? dw_strdup(ctx->path.data) : NULL,
    };
}

void dw_schema_kind_hint(struct dw_schema_ctx *ctx, const char *kind, const char *where)
{
    ctx->hints = dw_grow(ctx->hints, &ctx->caphints, ctx->nhints + 1, sizeof *ctx->hints);
    ctx->hints[ctx->nhints++] = (struct hint_entry){dw_strdup(kind), dw_strdup(where)};
}

size_t dw_schema_ids(const struct dw_schema_ctx *ctx, const char *kind, const char **out,
                     size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < ctx->nids; i++) {
        if (strcmp(ctx->ids[i].kind, kind) != 0)
            continue;
        if (n < max)
            out[n] = ctx->ids[i].id;
        n++;
    }
    return n;
}

static const char *kind_hint(const struct dw_schema_ctx *ctx, const char *kind)
{
    for (size_t i = 0; i < ctx->nhints; i++)
        if (strcmp(ctx->hints[i].kind, kind) == 0)
            return ctx->hints[i].where;
    return NULL;
}

static void report_undefined(struct dw_schema_ctx *ctx, const struct ref_entry *r)
{
    const char *ids[SUGGEST_MAX_LIST];
    size_t n = dw_schema_ids(ctx, r->kind, ids, DW_ARRAY_LEN(ids));
    const char *hint = kind_hint(ctx, r->kind);
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_printf(&b, "undefined %s \"%s\"", r->kind, r->id);
    const char *best = dw_suggest(r->id, ids, n < DW_ARRAY_LEN(ids) ? n : DW_ARRAY_LEN(ids));
    if (best) {
        dw_buf_printf(&b, " (did you mean \"%s\"?)", best);
    } else if (n == 0) {
        dw_buf_printf(&b, " (none is defined%s%s)", hint ? "; define it in " : "",
                      hint ? hint : "");
    } else {
        dw_buf_puts(&b, " (known: ");
        for (size_t i = 0; i < n && i < DW_ARRAY_LEN(ids); i++)
            dw_buf_printf(&b, "%s%s", i ? ", " : "", ids[i]);
        dw_buf_puts(&b, n > DW_ARRAY_LEN(ids) ? ", ...)" : ")");
    }
    dw_diags_add(ctx->diags, ctx->file, r->line, r->col, r->path, "%s", b.data);
    dw_buf_release(&b);
}

void dw_schema_resolve_refs(struct dw_schema_ctx *ctx)
{
    for (size_t i = 0; i < ctx->nrefs; i++)
        if (!find_id(ctx, ctx->refs[i].kind, ctx->refs[i].id))
            report_undefined(ctx, &ctx->refs[i]);
}

/* ---- environment expansion ---- */

struct expand_note {
    struct dw_schema_ctx *ctx; /* warn here about unset variables, or NULL */
    bool unset;
};

static void emit(char *out, size_t *n, const char *s, size_t k)
{
    if (out)
        memcpy(out + *n, s, k);
    *n += k;
}

/* Measures (out NULL) or writes the expansion; two passes keep the result in
 * one exactly-sized allocation, so secrets leave no realloc'd copies behind. */
static bool expand(const char *in, char *out, size_t *len, struct expand_note *note)
{
    size_t n = 0;
    const char *p = in;
    while (*p) {
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
            emit(out, &n, "${", 2);
            p += 3;
            continue;
        }
        if (p[0] != '$' || p[1] != '{') {
            emit(out, &n, p++, 1);
            continue;
        }
        const char *name = p + 2, *q = name, *def = NULL;
        if (!isalpha((unsigned char)*q) && *q != '_')
            return false;
        while (isalnum((unsigned char)*q) || *q == '_')
            q++;
        size_t nlen = (size_t)(q - name), dlen = 0;
        if (q[0] == ':' && q[1] == '-') {
            def = q + 2;
            q = strchr(def, '}');
            if (!q)
                return false;
            dlen = (size_t)(q - def);
        }
        if (*q != '}' || nlen >= ENV_NAME_MAX)
            return false;
        char var[ENV_NAME_MAX];
        memcpy(var, name, nlen);
        var[nlen] = '\0';
        const char *val = getenv(var);
        if (def && (!val || !*val)) {
            emit(out, &n, def, dlen);
        } else if (val) {
            emit(out, &n, val, strlen(val));
        } else if (note) {
            note->unset = true;
            if (note->ctx)
                ctx_report(note->ctx,
                           "warning: environment variable %s is not set; using an empty value",
                           var);
        }
        p = q + 1;
    }
    if (out)
        out[n] = '\0';
    *len = n;
    return true;
}

static char *expand_env(const char *s, struct expand_note *note)
{
    size_t len;
    if (!expand(s, NULL, &len, note))
        return NULL;
    char *out = dw_malloc(len + 1);
    expand(s, out, &len, NULL);
    return out;
}

char *dw_plan_expand_env(const char *s, bool *unset)
{
    struct expand_note note = {NULL, false};
    char *out = expand_env(s, &note);
    if (unset)
        *unset = note.unset;
    return out;
}

/* ---- positions and node descriptions ---- */

static bool node_mark(struct fy_node *n, int *line, int *col)
{
    if (!n)
        return false;
    if (fy_node_is_scalar(n)) {
        struct fy_token *t = fy_node_get_scalar_token(n);
        const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
        if (!m)
            return false;
        *line = m->line + 1;
        *col = m->column + 1;
        return true;
    }
    void *it = NULL;
    if (fy_node_is_mapping(n)) {
        struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
        return p && node_mark(fy_node_pair_key(p), line, col);
    }
    struct fy_node *item = fy_node_sequence_iterate(n, &it);
    return item && node_mark(item, line, col);
}

/* Moves the current position to the node, keeping the fallback (the key)
 * when the node has no position of its own. */
static void set_pos(struct dw_schema_ctx *ctx, struct fy_node *n, int line, int col)
{
    ctx->line = line;
    ctx->col = col;
    node_mark(n, &ctx->line, &ctx->col);
}

/* Appends `got "value"`, escaped and shortened. */
static void put_got(struct dw_buf *b, const char *s)
{
    size_t len = strlen(s);
    dw_buf_puts(b, "got \"");
    for (size_t i = 0; i < len && i < GOT_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            dw_buf_printf(b, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            dw_buf_printf(b, "\\x%02x", c);
        else
            dw_buf_putc(b, (char)c);
    }
    dw_buf_puts(b, len > GOT_MAX ? "...\"" : "\"");
}

static void put_choices(struct dw_buf *b, const char *const *values)
{
    bool first = true;
    dw_buf_puts(b, "one of ");
    for (size_t i = 0; values[i]; i++) {
        if (!*values[i])
            continue;
        dw_buf_printf(b, "%s%s", first ? "" : ", ", values[i]);
        first = false;
    }
}

/* What a field expects, for "expected X, got Y". */
static void put_expect(struct dw_buf *b, const struct dw_schema_field *f)
{
    switch (f->type) {
    case DW_SCHEMA_DURATION:
        dw_buf_puts(b, f->flags & DW_SCHEMA_NONE_ZERO ? "a duration like 15m or none"
                                                      : "a duration like 15m");
        break;
    case DW_SCHEMA_BYTES: dw_buf_puts(b, "a byte size like 32MiB"); break;
    case DW_SCHEMA_INT: dw_buf_puts(b, "an integer"); break;
    case DW_SCHEMA_NUMBER: dw_buf_puts(b, "a number"); break;
    case DW_SCHEMA_BOOL: dw_buf_puts(b, "true or false"); break;
    case DW_SCHEMA_TIME: dw_buf_puts(b, "an RFC 3339 time like 2026-12-01T09:00:00Z"); break;
    case DW_SCHEMA_ENUM: put_choices(b, f->values); break;
    case DW_SCHEMA_CUSTOM: dw_buf_puts(b, f->expect ? f->expect : "a scalar"); break;
    case DW_SCHEMA_OBJECT:
    case DW_SCHEMA_MAP: dw_buf_puts(b, "a mapping"); break;
    case DW_SCHEMA_LIST: dw_buf_puts(b, "a sequence"); break;
    case DW_SCHEMA_STRING:
        if (f->values) {
            put_choices(b, f->values);
            break;
        }
        dw_buf_puts(b, f->flags & DW_SCHEMA_URL ? "an http(s) URL" : "a string");
        break;
    case DW_SCHEMA_SECRET_HASH:
    case DW_SCHEMA_YAML: dw_buf_puts(b, "a string"); break;
    }
}

/* "expected <what>, got <text or kind>" at the current node. */
static void report_type(struct dw_schema_ctx *ctx, const struct dw_schema_field *f,
                        const char *text, struct fy_node *n)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, "expected ");
    put_expect(&b, f);
    dw_buf_puts(&b, ", ");
    if (text)
        put_got(&b, text);
    else
        dw_buf_printf(&b, "got %s", dw_yaml_kind(n));
    ctx_report(ctx, "%s", b.data);
    dw_buf_release(&b);
}

static void format_bytes(uint64_t v, char *out, size_t size)
{
    static const char *const units[] = {"GiB", "MiB", "KiB"};
    for (size_t i = 0; i < DW_ARRAY_LEN(units); i++) {
        uint64_t m = 1ULL << (10 * (3 - i));
        if (v >= m && v % m == 0) {
            snprintf(out, size, "%llu%s", (unsigned long long)(v / m), units[i]);
            return;
        }
    }
    snprintf(out, size, "%llu", (unsigned long long)v);
}

static void format_bound(const struct dw_schema_field *f, int64_t v, char *out, size_t size)
{
    if (f->type == DW_SCHEMA_DURATION)
        dw_format_duration(v, out, size);
    else if (f->type == DW_SCHEMA_BYTES)
        format_bytes((uint64_t)v, out, size);
    else
        snprintf(out, size, "%lld", (long long)v);
}

/* True when inside the bounds (or there are none); reports otherwise. */
static bool check_bounds(struct dw_schema_ctx *ctx, const struct dw_schema_field *f, double v,
                         const char *text)
{
    if (f->min >= f->max || (v >= (double)f->min && v <= (double)f->max))
        return true;
    char lo[32], hi[32];
    format_bound(f, f->min, lo, sizeof lo);
    format_bound(f, f->max, hi, sizeof hi);
    ctx_report(ctx, "must be between %s and %s, got %.*s", lo, hi, GOT_MAX, text);
    return false;
}

/* ---- scalars ---- */

static bool equals_any(const char *s, const char *a, const char *b, const char *c)
{
    return strcmp(s, a) == 0 || strcmp(s, b) == 0 || strcmp(s, c) == 0;
}

static int choice_index(const char *const *values, const char *s)
{
    for (int i = 0; values[i]; i++)
        if (*values[i] && strcmp(values[i], s) == 0)
            return i;
    return -1;
}

static bool decode_string(struct dw_schema_ctx *ctx, const struct dw_schema_field *f, const char *s,
                          void *dst)
{
    if (f->values && choice_index(f->values, s) < 0)
        return false;
    if ((f->flags & DW_SCHEMA_URL) && !dw_str_has_prefix(s, "http://") &&
        !dw_str_has_prefix(s, "https://"))
        return false;
    char **out = dst;
    free(*out);
    *out = dw_strdup(s);
    if (f->defines)
        dw_schema_define(ctx, f->defines, s);
    if (f->refers && *s)
        dw_schema_ref(ctx, f->refers, s);
    return true;
}

static bool decode_int(struct dw_schema_ctx *ctx, const struct dw_schema_field *f, const char *s,
                       void *dst)
{
    int64_t v;
    if (dw_parse_int64(s, &v))
        return false;
    if (f->size == sizeof(int32_t) && (v < INT32_MIN || v > INT32_MAX)) {
        ctx_report(ctx, "integer out of range, got %.*s", GOT_MAX, s);
        return true;
    }
    if (!check_bounds(ctx, f, (double)v, s))
        return true;
    if (f->size == sizeof(int32_t)) {
        int32_t v32 = (int32_t)v;
        memcpy(dst, &v32, sizeof v32);
    } else {
        memcpy(dst, &v, sizeof v);
    }
    return true;
}

/* Parses text for a scalar field. Returns false for "wrong form" (the caller
 * reports the type error); range problems are reported here and return true. */
static bool decode_text(struct dw_schema_ctx *ctx, const struct dw_schema_field *f, const char *s,
                        void *dst)
{
    switch (f->type) {
    case DW_SCHEMA_STRING:
    case DW_SCHEMA_YAML: return decode_string(ctx, f, s, dst);
    case DW_SCHEMA_DURATION: {
        int64_t v;
        if ((f->flags & DW_SCHEMA_NONE_ZERO) && strcmp(s, "none") == 0)
            v = 0;
        else if (dw_parse_duration(s, &v))
            return false;
        else if (!check_bounds(ctx, f, (double)v, s))
            return true;
        memcpy(dst, &v, sizeof v);
        return true;
    }
    case DW_SCHEMA_BYTES: {
        uint64_t v;
        if (dw_parse_bytes(s, &v))
            return false;
        if (check_bounds(ctx, f, (double)v, s))
            memcpy(dst, &v, sizeof v);
        return true;
    }
    case DW_SCHEMA_INT: return decode_int(ctx, f, s, dst);
    case DW_SCHEMA_NUMBER: {
        double v;
        if (dw_parse_double(s, &v) || !isfinite(v))
            return false;
        if (check_bounds(ctx, f, v, s))
            memcpy(dst, &v, sizeof v);
        return true;
    }
    case DW_SCHEMA_BOOL: {
        bool v = equals_any(s, "true", "True", "TRUE");
        if (!v && !equals_any(s, "false", "False", "FALSE"))
            return false;
        memcpy(dst, &v, sizeof v);
        return true;
    }
    case DW_SCHEMA_TIME: {
        int64_t v;
        if (dw_parse_rfc3339(s, &v))
            return false;
        memcpy(dst, &v, sizeof v);
        return true;
    }
    case DW_SCHEMA_ENUM: {
        int v = choice_index(f->values, s);
        if (v < 0)
            return false;
        memcpy(dst, &v, sizeof v);
        return true;
    }
    case DW_SCHEMA_SECRET_HASH: {
        char *hex = dst;
        if (*s)
            dw_sha256_hex(s, strlen(s), hex);
        else
            hex[0] = '\0';
        return true;
    }
    case DW_SCHEMA_CUSTOM: {
        /* The decoder reports its own errors; a silent refusal gets a generic one. */
        size_t before = dw_diags_errors(ctx->diags);
        if (!f->decode(ctx, s, dst) && dw_diags_errors(ctx->diags) == before)
            return false;
        return true;
    }
    case DW_SCHEMA_OBJECT:
    case DW_SCHEMA_LIST:
    case DW_SCHEMA_MAP: break;
    }
    return false;
}

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void decode_scalar(struct dw_schema_ctx *ctx, const struct dw_schema_field *f,
                          struct fy_node *n, void *dst)
{
    bool secret = f->type == DW_SCHEMA_SECRET_HASH;
    if (dw_yaml_is_null(n) || !fy_node_is_scalar(n)) {
        report_type(ctx, f, NULL, n);
        return;
    }
    if (fy_node_is_alias(n)) {
        ctx_report(ctx, "alias could not be resolved");
        return;
    }
    size_t len;
    const char *raw = fy_node_get_scalar(n, &len);
    char *text = dw_strndup(raw ? raw : "", raw ? len : 0);
    struct expand_note note = {ctx, false};
    char *val = expand_env(text, &note);
    record_pos(ctx, dst, false);
    if (!val) {
        ctx_report(ctx, "bad environment reference; write ${NAME} or ${NAME:-default}");
    } else {
        if (secret && *val && !strstr(text, "${"))
            ctx_report(ctx, "warning: secret written in plain text in the file; "
                            "take it from the environment with ${NAME}");
        if (!decode_text(ctx, f, val, dst))
            report_type(ctx, f, val, n);
    }
    if (secret) {
        wipe_free(val);
        wipe_free(text);
    } else {
        free(val);
        free(text);
    }
}

/* ---- objects, lists, maps ---- */

static void decode_object(struct dw_schema_ctx *ctx, struct fy_node *n, const struct dw_schema *s,
                          void *obj);
static void apply_defaults(struct dw_schema_ctx *ctx, const struct dw_schema *s, void *obj);

static struct dw_schema_field elem_field(const struct dw_schema_field *f)
{
    struct dw_schema_field e = *f;
    e.type = f->elem;
    e.offset = 0;
    e.flags &= ~DW_SCHEMA_REQUIRED;
    return e;
}

static void decode_list(struct dw_schema_ctx *ctx, const struct dw_schema_field *f,
                        struct fy_node *n, char *base)
{
    void **items = (void **)(base + f->offset);
    size_t *count = (size_t *)(base + f->count_offset);
    if (!fy_node_is_sequence(n)) {
        report_type(ctx, f, NULL, n);
        return;
    }
    record_pos(ctx, items, false);
    int line = ctx->line, col = ctx->col;
    size_t len = (size_t)fy_node_sequence_item_count(n);
    if (len > MAX_ITEMS) {
        ctx_report(ctx, "too many items (%zu, at most %d)", len, MAX_ITEMS);
        return;
    }
    char *arr = len ? dw_calloc(len, f->size) : NULL;
    struct dw_schema_field ef = elem_field(f);
    void *it = NULL;
    struct fy_node *item;
    for (size_t i = 0; i < len && (item = fy_node_sequence_iterate(n, &it)); i++) {
        size_t saved = path_push_index(ctx, i);
        set_pos(ctx, item, line, col);
        if (f->elem == DW_SCHEMA_OBJECT)
            decode_object(ctx, item, f->sub, arr + i * f->size);
        else
            decode_scalar(ctx, &ef, item, arr + i * f->size);
        path_pop(ctx, saved);
    }
    *items = arr;
    *count = len;
}

static void decode_yaml(struct dw_schema_ctx *ctx, struct fy_node *n, void *dst);

static void decode_map(struct dw_schema_ctx *ctx, const struct dw_schema_field *f,
                       struct fy_node *n, char *base)
{
    void **items = (void **)(base + f->offset);
    size_t *count = (size_t *)(base + f->count_offset);
    if (!fy_node_is_mapping(n)) {
        report_type(ctx, f, NULL, n);
        return;
    }
    record_pos(ctx, items, false);
    int line = ctx->line, col = ctx->col;
    size_t len = (size_t)fy_node_mapping_item_count(n);
    if (len > MAX_ITEMS) {
        ctx_report(ctx, "too many items (%zu, at most %d)", len, MAX_ITEMS);
        return;
    }
    char *arr = len ? dw_calloc(len, f->size) : NULL;
    struct dw_schema_field ef = elem_field(f);
    ef.offset = sizeof(char *);
    ef.defines = NULL; /* the key defines the id, not the value */
    void *it = NULL;
    struct fy_node_pair *p;
    for (size_t i = 0; i < len && (p = fy_node_mapping_iterate(n, &it)); i++) {
        char *elem = arr + i * f->size;
        const char *key = fy_node_get_scalar0(fy_node_pair_key(p));
        set_pos(ctx, fy_node_pair_key(p), line, col);
        *(char **)elem = dw_strdup(key ? key : "");
        size_t saved = path_push_key(ctx, *(char **)elem);
        if (f->defines)
            dw_schema_define(ctx, f->defines, *(char **)elem);
        int kline = ctx->line, kcol = ctx->col;
        set_pos(ctx, fy_node_pair_value(p), kline, kcol);
        if (f->elem == DW_SCHEMA_OBJECT)
            decode_object(ctx, fy_node_pair_value(p), f->sub, elem);
        else if (f->elem == DW_SCHEMA_YAML)
            decode_yaml(ctx, fy_node_pair_value(p), elem + ef.offset);
        else
            decode_scalar(ctx, &ef, fy_node_pair_value(p), elem + ef.offset);
        path_pop(ctx, saved);
    }
    *items = arr;
    *count = len;
}

static void decode_yaml(struct dw_schema_ctx *ctx, struct fy_node *n, void *dst)
{
    char *text = fy_emit_node_to_string(n, FYECF_MODE_ORIGINAL | FYECF_WIDTH_INF | FYECF_INDENT_2 |
                                               FYECF_NO_ENDING_NEWLINE);
    record_pos(ctx, dst, false);
    char **out = dst;
    free(*out);
    *out = dw_strdup(text ? text : "");
    free(text);
}

/* Decodes the value of one key; the current position is the value's (or the key's). */
static void decode_field(struct dw_schema_ctx *ctx, const struct dw_schema_field *f,
                         struct fy_node *n, char *base)
{
    void *dst = base + f->offset;
    switch (f->type) {
    case DW_SCHEMA_OBJECT: decode_object(ctx, n, f->sub, dst); break;
    case DW_SCHEMA_LIST: decode_list(ctx, f, n, base); break;
    case DW_SCHEMA_MAP: decode_map(ctx, f, n, base); break;
    case DW_SCHEMA_YAML: decode_yaml(ctx, n, dst); break;
    default: decode_scalar(ctx, f, n, dst); break;
    }
}

static const struct dw_schema_field *find_field(const struct dw_schema *s, const char *name)
{
    for (size_t i = 0; i < s->nfields; i++)
        if (strcmp(s->fields[i].name, name) == 0)
            return &s->fields[i];
    return NULL;
}

static void report_unknown(struct dw_schema_ctx *ctx, const struct dw_schema *s, const char *key)
{
    const char *cands[64];
    size_t n = s->nfields < DW_ARRAY_LEN(cands) ? s->nfields : DW_ARRAY_LEN(cands);
    for (size_t i = 0; i < n; i++)
        cands[i] = s->fields[i].name;
    const char *best = dw_suggest(key, cands, n);
    if (best)
        ctx_report(ctx, "unknown key (did you mean \"%s\"?)", best);
    else
        ctx_report(ctx, "unknown key");
}

/* One key: value pair of a mapping being decoded with schema s. */
static void decode_pair(struct dw_schema_ctx *ctx, const struct dw_schema *s,
                        struct fy_node_pair *p, char *obj, bool *seen)
{
    struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
    set_pos(ctx, k, ctx->line, ctx->col);
    const char *key = k && fy_node_is_scalar(k) ? fy_node_get_scalar0(k) : NULL;
    if (!key) {
        ctx_report(ctx, "keys must be plain strings");
        return;
    }
    const struct dw_schema_field *f = find_field(s, key);
    size_t saved = path_push_key(ctx, key);
    if (!f) {
        if (!s->open)
            report_unknown(ctx, s, key);
    } else if (!seen[f - s->fields]) { /* a repeated key was reported by the parser pass */
        seen[f - s->fields] = true;
        int kline = ctx->line, kcol = ctx->col;
        if (dw_yaml_is_null(v)) {
            if (f->flags & DW_SCHEMA_REQUIRED)
                ctx_report(ctx, "missing value");
            else
                seen[f - s->fields] = false; /* `key:` alone means "use the default" */
        } else {
            set_pos(ctx, v, kline, kcol);
            decode_field(ctx, f, v, obj);
        }
    }
    path_pop(ctx, saved);
}

static void decode_object(struct dw_schema_ctx *ctx, struct fy_node *n, const struct dw_schema *s,
                          void *obj)
{
    if (!fy_node_is_mapping(n)) {
        struct dw_schema_field as_object = {.name = "", .type = DW_SCHEMA_OBJECT};
        report_type(ctx, &as_object, NULL, n);
        apply_defaults(ctx, s, obj);
        return;
    }
    int line = ctx->line, col = ctx->col;
    record_pos(ctx, obj, true);
    bool *seen = dw_calloc(s->nfields ? s->nfields : 1, sizeof *seen);
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(n, &it))) {
        ctx->line = line;
        ctx->col = col;
        decode_pair(ctx, s, p, obj, seen);
    }
    ctx->line = line;
    ctx->col = col;
    for (size_t i = 0; i < s->nfields; i++) {
        const struct dw_schema_field *f = &s->fields[i];
        if (seen[i])
            continue;
        if (f->flags & DW_SCHEMA_REQUIRED) {
            size_t saved = path_push_key(ctx, f->name);
            ctx_report(ctx, "missing required key");
            path_pop(ctx, saved);
        } else {
            struct dw_schema one = {.fields = f, .nfields = 1};
            apply_defaults(ctx, &one, obj);
        }
    }
    free(seen);
    if (s->check)
        s->check(ctx, obj);
    ctx->line = line;
    ctx->col = col;
}

/* Fills defaults of an absent object (recursively) or of absent fields. */
static void apply_defaults(struct dw_schema_ctx *ctx, const struct dw_schema *s, void *obj)
{
    for (size_t i = 0; i < s->nfields; i++) {
        const struct dw_schema_field *f = &s->fields[i];
        char *dst = (char *)obj + f->offset;
        if (f->type == DW_SCHEMA_OBJECT)
            apply_defaults(ctx, f->sub, dst);
        else if (f->def && !decode_text(ctx, f, f->def, dst))
            ctx_report(ctx, "bad built-in default \"%s\" for %s", f->def, f->name);
    }
}

void dw_schema_decode_node(struct dw_schema_ctx *ctx, struct fy_node *node, const char *path,
                           const struct dw_schema *schema, void *obj)
{
    size_t saved = ctx->path.len;
    if (path && *path)
        path_push_key(ctx, path);
    if (node) {
        set_pos(ctx, node, ctx->line, ctx->col);
        decode_object(ctx, node, schema, obj);
    } else {
        apply_defaults(ctx, schema, obj);
        /* An absent section still needs its required keys. */
        for (size_t i = 0; i < schema->nfields; i++) {
            if (!(schema->fields[i].flags & DW_SCHEMA_REQUIRED))
                continue;
            size_t k = path_push_key(ctx, schema->fields[i].name);
            ctx_report(ctx, "missing required key");
            path_pop(ctx, k);
        }
    }
    path_pop(ctx, saved);
}

struct fy_node *dw_schema_lookup(struct fy_node *map, const char *key)
{
    void *it = NULL;
    struct fy_node_pair *p;
    if (!map || !fy_node_is_mapping(map))
        return NULL;
    while ((p = fy_node_mapping_iterate(map, &it))) {
        struct fy_node *k = fy_node_pair_key(p);
        const char *s = k && fy_node_is_scalar(k) ? fy_node_get_scalar0(k) : NULL;
        if (s && strcmp(s, key) == 0)
            return fy_node_pair_value(p);
    }
    return NULL;
}

/* ---- freeing ---- */

static void free_field(const struct dw_schema_field *f, char *base);

static void free_elems(const struct dw_schema_field *f, char *arr, size_t n, bool map)
{
    struct dw_schema_field ef = elem_field(f);
    for (size_t i = 0; i < n; i++) {
        char *elem = arr + i * f->size;
        if (map) {
            free(*(char **)elem);
            ef.offset = sizeof(char *);
        }
        if (f->elem == DW_SCHEMA_OBJECT)
            dw_schema_free(f->sub, elem);
        else
            free_field(&ef, elem);
    }
}

static void free_field(const struct dw_schema_field *f, char *base)
{
    void *dst = base + f->offset;
    switch (f->type) {
    case DW_SCHEMA_STRING:
    case DW_SCHEMA_YAML:
        free(*(char **)dst);
        *(char **)dst = NULL;
        break;
    case DW_SCHEMA_SECRET_HASH: explicit_bzero(dst, 65); break;
    case DW_SCHEMA_CUSTOM:
        if (f->release)
            f->release(dst);
        break;
    case DW_SCHEMA_OBJECT: dw_schema_free(f->sub, dst); break;
    case DW_SCHEMA_LIST:
    case DW_SCHEMA_MAP: {
        char **items = dst;
        size_t *count = (size_t *)(base + f->count_offset);
        free_elems(f, *items, *count, f->type == DW_SCHEMA_MAP);
        free(*items);
        *items = NULL;
        *count = 0;
        break;
    }
    default: break;
    }
}

void dw_schema_free(const struct dw_schema *schema, void *obj)
{
    if (!obj)
        return;
    for (size_t i = 0; i < schema->nfields; i++)
        free_field(&schema->fields[i], obj);
}

/* ---- parsing ---- */

static void report_repeat(void *user, const char *key, struct fy_node *repeat,
                          struct fy_node *first)
{
    struct dw_schema_ctx *ctx = user;
    int line = 0, col = 0;
    node_mark(first, &line, &col);
    size_t saved = path_push_key(ctx, key);
    set_pos(ctx, repeat, 1, 1);
    ctx_report(ctx, "duplicate key (first at line %d)", line);
    path_pop(ctx, saved);
}

/* Repeated keys anywhere in the tree, opaque sections included. */
static size_t find_duplicates(struct dw_schema_ctx *ctx, struct fy_node *n)
{
    size_t found = 0;
    void *it = NULL;
    if (fy_node_is_sequence(n)) {
        struct fy_node *item;
        for (size_t i = 0; (item = fy_node_sequence_iterate(n, &it)); i++) {
            size_t saved = path_push_index(ctx, i);
            found += find_duplicates(ctx, item);
            path_pop(ctx, saved);
        }
        return found;
    }
    if (!fy_node_is_mapping(n))
        return 0;
    found += dw_yaml_repeated_keys(n, 0, report_repeat, ctx);
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(n, &it))) {
        struct fy_node *k = fy_node_pair_key(p);
        const char *key = k && fy_node_is_scalar(k) ? fy_node_get_scalar0(k) : NULL;
        size_t saved = path_push_key(ctx, key ? key : "?");
        found += find_duplicates(ctx, fy_node_pair_value(p));
        path_pop(ctx, saved);
    }
    return found;
}

static void report_yaml_error(void *user, int line, int col, const char *msg)
{
    struct dw_schema_ctx *ctx = user;
    dw_diags_add(ctx->diags, ctx->file, line, col, NULL, "invalid YAML: %s", msg);
}

struct fy_document *dw_schema_parse(struct dw_schema_ctx *ctx, const char *yaml, size_t len)
{
    size_t before = ctx->diags->n;
    struct fy_document *doc = dw_yaml_parse(
        yaml, len, FYPCF_ALLOW_DUPLICATE_KEYS | FYPCF_DEFAULT_VERSION_1_2, report_yaml_error, ctx);
    struct fy_node *root = doc ? fy_document_root(doc) : NULL;
    /* Resolving aliases rejects duplicate keys without a position, so find them first. */
    if (root && find_duplicates(ctx, root) == 0 &&
        dw_yaml_resolve(doc, report_yaml_error, ctx) < 0) {
        fy_document_destroy(doc);
        doc = NULL;
    }
    if (!doc && ctx->diags->n == before) /* libfyaml builds no document from empty input */
        dw_diags_add(ctx->diags, ctx->file, 1, 1, NULL, "no YAML document (is the file empty?)");
    return doc;
}

size_t dw_schema_decode_string(const char *file, const char *yaml, size_t len,
                               const struct dw_schema *schema, void *out, dw_schema_check_fn finish,
                               struct dw_diags *diags)
{
    size_t before = dw_diags_errors(diags);
    struct dw_schema_ctx *ctx = dw_schema_ctx_new(file, diags);
    struct fy_document *doc = dw_schema_parse(ctx, yaml, len);
    if (doc) {
        struct fy_node *root = fy_document_root(doc);
        dw_schema_decode_node(ctx, root, NULL, schema, out);
        ctx->line = ctx->col = 1;
        if (finish)
            finish(ctx, out);
        dw_schema_resolve_refs(ctx);
        fy_document_destroy(doc);
    }
    dw_schema_ctx_free(&ctx);
    return dw_diags_errors(diags) - before;
}
