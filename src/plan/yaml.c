/*
 * yaml.c - DESIGN: libfyaml the way every dojowatch loader uses it.
 *
 * The plan's schema walker, the rule-file loader and file_sd all read YAML
 * (file_sd also JSON) with libfyaml and turn its problems into their own
 * diagnostics. libfyaml prints to stderr unless told otherwise, so a parse
 * here runs with a diagnostic object that prints nothing and collects the
 * errors, which go to the caller one by one (line, column, message); the
 * caller decides how a message reads and whether it wants all or only the
 * first. The document keeps that quiet diagnostic object, so later calls on
 * it print nothing either.
 *
 * Also here, because every loader needs them the same way: YAML's null, a
 * node's kind for messages, and keys repeated in one mapping (found by
 * sorting, so a mapping with many keys stays O(n log n); libfyaml would
 * reject them without a position).
 *
 * Threads: no global state.
 */
#include <libfyaml.h>
#include <stdlib.h>
#include <string.h>

#include "plan_internal.h"

static void diag_sink(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag, (void)user, (void)buf, (void)len; /* errors are collected, not printed */
}

/* A diagnostic object that prints nothing and collects errors. */
static struct fy_diag *quiet_diag(void)
{
    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = diag_sink;
    dcfg.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    if (!diag)
        dw_oom(sizeof dcfg);
    fy_diag_set_collect_errors(diag, true);
    return diag;
}

static void report_errors(struct fy_diag *diag, dw_yaml_error_fn on_error, void *user)
{
    void *it = NULL;
    struct fy_diag_error *e;
    while ((e = fy_diag_errors_iterate(diag, &it)))
        if (e->type >= FYET_ERROR)
            on_error(user, e->line, e->column, e->msg ? e->msg : "syntax error");
}

struct fy_document *dw_yaml_parse(const char *text, size_t len, unsigned flags,
                                  dw_yaml_error_fn on_error, void *user)
{
    struct fy_diag *diag = quiet_diag();
    struct fy_parse_cfg pcfg = {
        .flags = (enum fy_parse_cfg_flags)(FYPCF_QUIET | flags),
        .diag = diag,
    };
    struct fy_document *doc = fy_document_build_from_string(&pcfg, text, len);
    if (!doc)
        report_errors(diag, on_error, user);
    fy_diag_destroy(diag); /* the document keeps a reference: quiet from now on */
    return doc;
}

int dw_yaml_resolve(struct fy_document *doc, dw_yaml_error_fn on_error, void *user)
{
    struct fy_diag *diag = quiet_diag();
    fy_document_set_diag(doc, diag);
    int rc = fy_document_resolve(doc) == 0 ? 0 : -1;
    if (rc < 0)
        report_errors(diag, on_error, user);
    fy_diag_destroy(diag);
    return rc;
}

bool dw_yaml_is_null(struct fy_node *n)
{
    if (!n)
        return true;
    if (!fy_node_is_scalar(n) || fy_node_is_alias(n) || fy_node_get_style(n) != FYNS_PLAIN)
        return false;
    size_t len;
    const char *s = fy_node_get_scalar(n, &len);
    if (!s || len == 0 || (len == 1 && *s == '~'))
        return true;
    return len == 4 &&
           (memcmp(s, "null", 4) == 0 || memcmp(s, "Null", 4) == 0 || memcmp(s, "NULL", 4) == 0);
}

const char *dw_yaml_kind(struct fy_node *n)
{
    if (dw_yaml_is_null(n))
        return "nothing";
    if (fy_node_is_mapping(n))
        return "a mapping";
    if (fy_node_is_sequence(n))
        return "a sequence";
    return "a scalar";
}

struct key_ref {
    const char *key;
    struct fy_node *node;
    size_t index; /* order in the mapping: the first occurrence is the original */
};

static int key_ref_cmp(const void *a, const void *b)
{
    const struct key_ref *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

static const char *key_text(struct fy_node *k, unsigned flags)
{
    if (k && (flags & DW_YAML_KEYS_THROUGH_ALIASES) && fy_node_is_alias(k))
        k = fy_node_resolve_alias(k);
    const char *key = k && fy_node_is_scalar(k) ? fy_node_get_scalar0(k) : NULL;
    if (key && (flags & DW_YAML_KEYS_THROUGH_ALIASES) && strcmp(key, "<<") == 0)
        return NULL; /* merge keys may repeat */
    return key;
}

size_t dw_yaml_repeated_keys(struct fy_node *map, unsigned flags, dw_yaml_repeat_fn on_repeat,
                             void *user)
{
    size_t len = (size_t)fy_node_mapping_item_count(map), nk = 0, found = 0;
    if (len < 2)
        return 0;
    struct key_ref *keys = dw_calloc(len, sizeof *keys);
    void *it = NULL;
    struct fy_node_pair *p;
    while (nk < len && (p = fy_node_mapping_iterate(map, &it))) {
        struct fy_node *k = fy_node_pair_key(p);
        const char *key = key_text(k, flags);
        if (key) {
            keys[nk] = (struct key_ref){key, k, nk};
            nk++;
        }
    }
    qsort(keys, nk, sizeof *keys, key_ref_cmp);
    for (size_t i = 1, first = 0; i < nk; i++) {
        if (strcmp(keys[i].key, keys[first].key) != 0) {
            first = i;
            continue;
        }
        on_repeat(user, keys[i].key, keys[i].node, keys[first].node);
        found++;
    }
    free(keys);
    return found;
}
