/*
 * filesd.c - DESIGN: Prometheus file-based service discovery (file_sd).
 *
 * A file_sd file is a list of target groups, [{targets: [...], labels:
 * {...}}], in JSON (.json) or YAML (.yml, .yaml). Both go through one walker
 * over a libfyaml document, so every shape error (a mapping where a list
 * belongs, an unknown key, an invalid label name, a number where JSON needs
 * a string) gets the line and column of the node. JSON is first checked by
 * jansson, the strict parser, whose syntax errors carry line and column;
 * libfyaml then reads it again in JSON mode to give the walker positions.
 *
 * Like Prometheus (discovery/file, targetgroup.Group): each target becomes
 * an __address__; the group's labels get __meta_filepath = the path; an
 * empty YAML file or a null root has no groups, an empty JSON file is a
 * syntax error; YAML scalars are taken as written (port: 9100 is "9100"),
 * JSON values must be strings (null reads as ""); unknown keys are errors.
 * Aliases and << merge keys are followed; the limits on targets, groups and
 * labels count every expansion, so an alias bomb stops at the limit.
 *
 * The first problem ends the read (Prometheus keeps the previous targets of
 * a file that fails to read; the scheduler decides). dw_filesd_stat() is the
 * cheap "did it change" check that decides when to read again.
 *
 * Threads: no shared state; any thread may read any file.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libfyaml.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collect/relabel.h"

#define READ_CHUNK 16384
#define MERGE_DEPTH_MAX 32 /* nested << merges; deeper is an error */
#define GOT_MAX 40         /* longest scalar quoted back in a message */

struct sd_reader {
    const char *path;
    bool json;
    struct dw_target_group *groups;
    size_t n, cap;
    size_t ntargets, nlabels; /* over the whole file, aliases expanded */
    char *err;                /* the first error, "path:line:col: message" */
};

/* ---- errors and positions ---- */

/* 1-based position of a node: a scalar's own, a collection's first scalar's. */
static bool node_pos(struct fy_node *n, int *line, int *col)
{
    void *it = NULL;
    if (!n)
        return false;
    if (fy_node_is_scalar(n)) {
        struct fy_token *t = fy_node_get_scalar_token(n);
        const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
        if (!m)
            return false;
        enum fy_node_style style = fy_node_get_style(n);
        bool quoted = style == FYNS_SINGLE_QUOTED || style == FYNS_DOUBLE_QUOTED ||
                      style == FYNS_ALIAS; /* the mark is after the quote or the '*' */
        *line = m->line + 1;
        *col = m->column + 1 - (quoted && m->column > 0);
        return true;
    }
    if (fy_node_is_mapping(n)) {
        struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
        return p && node_pos(fy_node_pair_key(p), line, col);
    }
    struct fy_node *item = fy_node_sequence_iterate(n, &it);
    return item && node_pos(item, line, col);
}

static void fail_at(struct sd_reader *r, int line, int col, const char *fmt, ...) DW_PRINTF(4, 5);
static void fail_at(struct sd_reader *r, int line, int col, const char *fmt, ...)
{
    if (r->err)
        return;
    struct dw_buf b;
    va_list ap;
    dw_buf_init(&b, 0);
    if (line > 0)
        dw_buf_printf(&b, "%s:%d:%d: ", r->path, line, col > 0 ? col : 1);
    else
        dw_buf_printf(&b, "%s: ", r->path);
    va_start(ap, fmt);
    dw_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    r->err = dw_buf_steal(&b);
}

/* `at` is the node the problem is about; `near` places empty collections. */
static void fail(struct sd_reader *r, struct fy_node *at, struct fy_node *near, const char *fmt,
                 ...) DW_PRINTF(4, 5);
static void fail(struct sd_reader *r, struct fy_node *at, struct fy_node *near, const char *fmt,
                 ...)
{
    int line = 0, col = 0;
    char msg[512];
    va_list ap;
    if (!node_pos(at, &line, &col))
        node_pos(near, &line, &col);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fail_at(r, line, col, "%s", msg);
}

static const char *node_kind(struct fy_node *n)
{
    if (fy_node_is_mapping(n))
        return "a mapping";
    if (fy_node_is_sequence(n))
        return "a sequence";
    return "a scalar";
}

/* ---- scalars ---- */

/* Follows aliases; NULL (with an error) for an unknown anchor or a cycle. */
static struct fy_node *deref(struct sd_reader *r, struct fy_node *n)
{
    if (!n || !fy_node_is_alias(n))
        return n;
    struct fy_node *t = fy_node_resolve_alias(n);
    if (!t)
        fail(r, n, NULL, "alias cannot be resolved");
    return t;
}

static bool is_null(struct sd_reader *r, struct fy_node *n)
{
    if (!r->json || !n)
        return dw_yaml_is_null(n);
    size_t len = 0;
    const char *s = fy_node_is_scalar(n) && fy_node_get_style(n) == FYNS_PLAIN
                        ? fy_node_get_scalar(n, &len)
                        : NULL;
    return s && len == 4 && memcmp(s, "null", 4) == 0;
}

/* A string value: YAML scalars as written, JSON strings; null is "".
 * NULL (with an error) for anything else. `what` names it in messages. */
static char *scalar_text(struct sd_reader *r, struct fy_node *n, const char *what)
{
    size_t len = 0;
    const char *s;
    if (is_null(r, n))
        return dw_strdup("");
    if (!fy_node_is_scalar(n)) {
        fail(r, n, NULL, "%s must be a string, got %s", what, node_kind(n));
        return NULL;
    }
    s = fy_node_get_scalar(n, &len);
    if (r->json && fy_node_get_style(n) != FYNS_DOUBLE_QUOTED) {
        int shown = (int)(len < GOT_MAX ? len : GOT_MAX);
        fail(r, n, NULL, "%s must be a string, got %.*s", what, shown, s ? s : "");
        return NULL;
    }
    if (s && memchr(s, '\0', len)) {
        fail(r, n, NULL, "%s must not contain a NUL byte", what);
        return NULL;
    }
    return dw_strndup(s ? s : "", s ? len : 0);
}

/* ---- mappings, with YAML merge keys ---- */

typedef void (*pair_fn)(struct sd_reader *r, struct fy_node *key, const char *name,
                        struct fy_node *value, void *arg);

static bool is_merge_key(struct sd_reader *r, struct fy_node *k)
{
    size_t len;
    const char *s;
    if (r->json || !k || !fy_node_is_scalar(k) || fy_node_get_style(k) != FYNS_PLAIN)
        return false;
    s = fy_node_get_scalar(k, &len);
    return s && len == 2 && memcmp(s, "<<", 2) == 0;
}

static void each_pair(struct sd_reader *r, struct fy_node *map, pair_fn fn, void *arg, int depth);

/* yaml.v2: `<<: *a` decodes *a's pairs here; `<<: [*a, *b]` does so last to
 * first, so the first wins; later explicit keys override merged ones. */
static void merge(struct sd_reader *r, struct fy_node *key, struct fy_node *v, pair_fn fn,
                  void *arg, int depth)
{
    v = deref(r, v);
    if (!v || r->err)
        return;
    if (depth >= MERGE_DEPTH_MAX) {
        fail(r, key, NULL, "merge keys nested too deep");
    } else if (fy_node_is_mapping(v)) {
        each_pair(r, v, fn, arg, depth + 1);
    } else if (fy_node_is_sequence(v)) {
        for (int i = fy_node_sequence_item_count(v) - 1; i >= 0 && !r->err; i--) {
            struct fy_node *m = deref(r, fy_node_sequence_get_by_index(v, i));
            if (m && !fy_node_is_mapping(m))
                fail(r, m, key, "a merge key takes a mapping or a list of mappings");
            else if (m)
                each_pair(r, m, fn, arg, depth + 1);
        }
    } else {
        fail(r, v, key, "a merge key takes a mapping or a list of mappings");
    }
}

/* Calls fn for each key: value pair of map in document order. */
static void each_pair(struct sd_reader *r, struct fy_node *map, pair_fn fn, void *arg, int depth)
{
    void *it = NULL;
    struct fy_node_pair *p;
    while (!r->err && (p = fy_node_mapping_iterate(map, &it))) {
        struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        if (is_merge_key(r, k)) {
            merge(r, k, v, fn, arg, depth);
            continue;
        }
        struct fy_node *dk = deref(r, k);
        char *name = dk ? scalar_text(r, dk, "a key") : NULL;
        if (name)
            fn(r, k, name, v, arg);
        free(name);
    }
}

/* ---- target groups ---- */

static void read_targets(struct sd_reader *r, struct dw_target_group *g, struct fy_node *key,
                         struct fy_node *v)
{
    for (size_t i = 0; i < g->ntargets; i++) /* a repeated key: the last list wins */
        free(g->targets[i]);
    free(g->targets);
    g->targets = NULL;
    g->ntargets = 0;
    if (!v || is_null(r, v))
        return;
    if (!fy_node_is_sequence(v)) {
        fail(r, v, key, "targets must be a list of strings, got %s", node_kind(v));
        return;
    }
    size_t len = (size_t)fy_node_sequence_item_count(v);
    void *it = NULL;
    struct fy_node *item;
    if (len > DW_FILESD_MAX_TARGETS || r->ntargets + len > DW_FILESD_MAX_TARGETS) {
        fail(r, key, v, "too many targets (at most %d in one file)", DW_FILESD_MAX_TARGETS);
        return;
    }
    r->ntargets += len;
    g->targets = len ? dw_calloc(len, sizeof *g->targets) : NULL;
    while (!r->err && g->ntargets < len && (item = fy_node_sequence_iterate(v, &it))) {
        char *t = (item = deref(r, item)) ? scalar_text(r, item, "a target") : NULL;
        if (t)
            g->targets[g->ntargets++] = t;
    }
}

static void label_pair(struct sd_reader *r, struct fy_node *key, const char *name,
                       struct fy_node *value, void *arg)
{
    struct dw_lset *ls = arg;
    if (!dw_label_name_valid(name)) {
        fail(r, key, NULL, "\"%.*s\" is not a valid label name", GOT_MAX, name);
        return;
    }
    if (++r->nlabels > DW_FILESD_MAX_LABELS) {
        fail(r, key, NULL, "too many labels (at most %d in one file)", DW_FILESD_MAX_LABELS);
        return;
    }
    struct fy_node *v = deref(r, value);
    if (value && !v)
        return; /* reported */
    char *text = scalar_text(r, v, "a label value");
    if (text)
        dw_lset_set(ls, name, text); /* "" deletes: an empty label is no label */
    free(text);
}

static void read_labels(struct sd_reader *r, struct dw_target_group *g, struct fy_node *key,
                        struct fy_node *v)
{
    /* Go decodes a repeated (or merged) labels mapping into the same map, so
     * the pairs add up; null resets it. */
    if (!v || is_null(r, v)) {
        dw_lset_release(&g->labels);
        return;
    }
    if (!fy_node_is_mapping(v)) {
        fail(r, v, key, "labels must be a mapping of label names to strings, got %s", node_kind(v));
        return;
    }
    each_pair(r, v, label_pair, &g->labels, 0);
}

static void group_pair(struct sd_reader *r, struct fy_node *key, const char *name,
                       struct fy_node *value, void *arg)
{
    struct dw_target_group *g = arg;
    struct fy_node *v = deref(r, value);
    if (value && !v)
        return;
    /* Go's encoding/json also takes a key that matches a field case-insensitively. */
    int (*cmp)(const char *, const char *) = r->json ? strcasecmp : strcmp;
    if (cmp(name, "targets") == 0)
        read_targets(r, g, key, v);
    else if (cmp(name, "labels") == 0)
        read_labels(r, g, key, v);
    else
        fail(r, key, NULL, "unknown key \"%.*s\" in a target group (expected targets, labels)",
             GOT_MAX, name);
}

static void read_group(struct sd_reader *r, struct fy_node *n, struct fy_node *near, size_t index)
{
    if (!n || r->err)
        return;
    if (is_null(r, n)) {
        fail(r, n, near, "nil target group item found");
        return;
    }
    if (!fy_node_is_mapping(n)) {
        fail(r, n, near, "a target group must be a mapping with targets and labels, got %s",
             node_kind(n));
        return;
    }
    r->groups = dw_grow(r->groups, &r->cap, r->n + 1, sizeof *r->groups);
    struct dw_target_group *g = &r->groups[r->n++];
    memset(g, 0, sizeof *g);
    dw_lset_init(&g->labels);
    each_pair(r, n, group_pair, g, 0);
    dw_lset_set(&g->labels, "__meta_filepath", r->path);
    g->source = dw_asprintf("%s:%zu", r->path, index);
}

static void read_root(struct sd_reader *r, struct fy_node *root)
{
    void *it = NULL;
    struct fy_node *item;
    root = deref(r, root);
    if (!root || is_null(r, root))
        return;
    if (!fy_node_is_sequence(root)) {
        fail(r, root, NULL, "expected a list of target groups, got %s", node_kind(root));
        return;
    }
    if (fy_node_sequence_item_count(root) > DW_FILESD_MAX_GROUPS) {
        fail(r, root, NULL, "too many target groups (at most %d)", DW_FILESD_MAX_GROUPS);
        return;
    }
    for (size_t i = 0; !r->err && (item = fy_node_sequence_iterate(root, &it)); i++)
        read_group(r, deref(r, item), item, i);
}

/* ---- parsing ---- */

static void first_yaml_error(void *user, int line, int col, const char *msg)
{
    struct sd_reader *r = user; /* fail_at keeps only the first */
    fail_at(r, line, col, "invalid %s: %s", r->json ? "JSON" : "YAML", msg);
}

/* NULL without an error for an empty document (no groups). */
static struct fy_document *parse_doc(struct sd_reader *r, const char *text, size_t len)
{
    /* JSON: a repeated key is not an error there; the last one wins, as in Go. */
    unsigned flags = r->json ? FYPCF_JSON_FORCE | FYPCF_ALLOW_DUPLICATE_KEYS : 0;
    return len ? dw_yaml_parse(text, len, flags, first_yaml_error, r) : NULL;
}

/* jansson decides what is valid JSON (and reports where it is not). */
static bool json_syntax_ok(struct sd_reader *r, const char *text, size_t len)
{
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY, &je);
    if (j) {
        json_decref(j);
        return true;
    }
    fail_at(r, je.line > 0 ? je.line : 1, je.column > 0 ? je.column : 1, "invalid JSON: %s",
            je.text);
    return false;
}

/* Appends the rest of fd to out: 0, -1 with errno, or -2 when out's maximum is hit. */
static int read_fd(int fd, struct dw_buf *out)
{
    char chunk[READ_CHUNK];
    for (;;) {
        ssize_t got = read(fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return (int)got;
        if (dw_buf_append(out, chunk, (size_t)got) < 0)
            return -2;
    }
}

static int read_file(const char *path, struct dw_buf *out, char **err)
{
    char ebuf[128];
    struct stat st;
    int rc = -1, fd = open(path, O_RDONLY | O_CLOEXEC);
    dw_buf_init(out, DW_FILESD_MAX_BYTES);
    dw_buf_puts(out, "");
    if (fd >= 0 && fstat(fd, &st) == 0)
        rc = st.st_size > (off_t)DW_FILESD_MAX_BYTES ? -2 : read_fd(fd, out);
    int saved = errno;
    if (fd >= 0)
        close(fd);
    if (rc == 0)
        return 0;
    if (rc == -2)
        *err = dw_asprintf("%s: file is larger than %u MiB", path, DW_FILESD_MAX_BYTES >> 20);
    else
        *err = dw_asprintf("%s: %s", path, strerror_r(saved, ebuf, sizeof ebuf));
    dw_buf_release(out);
    return -1;
}

/* 1 for JSON, 0 for YAML, -1 for other extensions (case-insensitive, as
 * Prometheus lower-cases filepath.Ext). */
static int file_format(const char *path)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    if (!dot || (slash && dot < slash))
        return -1;
    if (strcasecmp(dot, ".json") == 0)
        return 1;
    if (strcasecmp(dot, ".yml") == 0 || strcasecmp(dot, ".yaml") == 0)
        return 0;
    return -1;
}

static void parse_text(struct sd_reader *r, const char *text, size_t len)
{
    if (r->json && !json_syntax_ok(r, text, len))
        return;
    struct fy_document *doc = parse_doc(r, text, len);
    if (doc)
        read_root(r, fy_document_root(doc));
    fy_document_destroy(doc);
}

int dw_filesd_read(const char *path, struct dw_target_group **groups, size_t *n, char **err)
{
    struct dw_buf text;
    struct sd_reader r = {.path = path};
    int format = file_format(path);
    *groups = NULL;
    *n = 0;
    *err = NULL;
    if (format < 0) {
        *err = dw_asprintf("%s: unsupported file_sd extension (want .json, .yml or .yaml)", path);
        return -1;
    }
    if (read_file(path, &text, err) != 0)
        return -1;
    r.json = format == 1;
    parse_text(&r, text.data, text.len);
    dw_buf_release(&text);
    if (r.err) {
        dw_target_groups_free(r.groups, r.n);
        *err = r.err;
        return -1;
    }
    *groups = r.groups;
    *n = r.n;
    return 0;
}

void dw_target_groups_free(struct dw_target_group *g, size_t n)
{
    if (!g)
        return;
    for (size_t i = 0; i < n; i++) {
        for (size_t t = 0; t < g[i].ntargets; t++)
            free(g[i].targets[t]);
        free(g[i].targets);
        dw_lset_release(&g[i].labels);
        free(g[i].source);
    }
    free(g);
}

void dw_target_group_lset(const struct dw_target_group *g, size_t i, struct dw_lset *out)
{
    dw_lset_copy(out, &g->labels);
    dw_lset_set(out, "__address__", i < g->ntargets ? g->targets[i] : NULL);
}

/* ---- change detection ---- */

int dw_filesd_stat(const char *path, struct dw_filesd_stamp *st)
{
    struct stat s;
    memset(st, 0, sizeof *st);
    if (stat(path, &s) != 0)
        return -1;
    st->mtime_ns = (int64_t)s.st_mtim.tv_sec * 1000000000 + s.st_mtim.tv_nsec;
    st->size = (int64_t)s.st_size;
    st->inode = (uint64_t)s.st_ino;
    st->dev = (uint64_t)s.st_dev;
    return 0;
}

bool dw_filesd_stamp_equal(const struct dw_filesd_stamp *a, const struct dw_filesd_stamp *b)
{
    return a->mtime_ns == b->mtime_ns && a->size == b->size && a->inode == b->inode &&
           a->dev == b->dev;
}
