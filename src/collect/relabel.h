/*
 * relabel.h - Prometheus target relabeling and file-based service discovery
 * (internal to src/collect).
 *
 * DESIGN
 * A scrape target is a label set (struct dw_lset). The scraper builds it the
 * way Prometheus 2.42 does: the discovered labels (__address__, __meta_*),
 * then dw_target_populate() adds job, __scheme__, __metrics_path__,
 * __scrape_interval__, __scrape_timeout__ and __param_<name>; the job's
 * relabel_configs run with dw_relabel_apply(); dw_target_finish() then adds
 * the default port and `instance`, checks the result, builds the scrape URL
 * and drops every label starting with "__".
 *
 * Relabel rules are decoded by the plan module's schema walker with
 * dw_relabel_schema (one relabel_configs[] element). Semantics, defaults and
 * validation messages follow Prometheus 2.42's relabel_config; regexes are
 * PCRE2 compiled as ^(?:regex)$ with options that make them behave like Go's
 * RE2 for the syntax both accept ($ only at the very end, UTF-8, no \C).
 *
 * Two differences come from the walker. Every scalar gets ${VAR}
 * environment expansion, so a capture-group reference written ${1} or
 * ${name} must be written $${1} / $${name} (or $1); the check adds a hint
 * when the walker rejects one. And a key with no value (`regex:`) means the
 * default, where Prometheus reads it as empty.
 *
 * Threads: decoded rules are immutable and may be applied from any number of
 * threads at once; a dw_lset belongs to one thread.
 */
#ifndef DW_COLLECT_RELABEL_H
#define DW_COLLECT_RELABEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "plan/plan.h"

/* ---- label sets ---- */

struct dw_lpair {
    char *name;  /* heap */
    char *value; /* heap, never empty: an empty value means "absent" */
};

/** A small label set: unsorted until dw_lset_sort(), names unique. */
struct dw_lset {
    struct dw_lpair *items;
    size_t n, cap;
};

void dw_lset_init(struct dw_lset *ls);
/** Frees every pair and leaves ls empty (initialised). */
void dw_lset_release(struct dw_lset *ls);
/** Sets name to value, replacing an existing value; an empty or NULL value deletes the label
 *  (like Prometheus' labels.Builder). */
void dw_lset_set(struct dw_lset *ls, const char *name, const char *value);
/** The value of name, or NULL when absent. */
const char *dw_lset_get(const struct dw_lset *ls, const char *name);
/** Removes name; false when it was absent. Keeps the order of the others. */
bool dw_lset_del(struct dw_lset *ls, const char *name);
/** Sorts by name (bytewise, like Go strings). */
void dw_lset_sort(struct dw_lset *ls);
/** Replaces dst (initialised) with a deep copy of src. */
void dw_lset_copy(struct dw_lset *dst, const struct dw_lset *src);
/** Appends {a="1", b="2"} sorted by name, values escaped; for logs and tests. */
void dw_lset_format(const struct dw_lset *ls, struct dw_buf *out);
/** Prometheus' (pre-UTF-8) label name rule: [a-zA-Z_][a-zA-Z0-9_]*. */
bool dw_label_name_valid(const char *name);

/* ---- relabel rules ---- */

enum dw_relabel_action {
    DW_RELABEL_REPLACE,
    DW_RELABEL_KEEP,
    DW_RELABEL_DROP,
    DW_RELABEL_KEEPEQUAL,
    DW_RELABEL_DROPEQUAL,
    DW_RELABEL_HASHMOD,
    DW_RELABEL_LABELMAP,
    DW_RELABEL_LABELDROP,
    DW_RELABEL_LABELKEEP,
    DW_RELABEL_LOWERCASE,
    DW_RELABEL_UPPERCASE,
};

/** The regex field: decoded (and compiled) by the walker, freed by dw_schema_free(). */
struct dw_relabel_regex {
    char *src;  /* as written (heap); default "(.*)" */
    void *code; /* pcre2_code_8 * of ^(?:src)$, NULL when it did not compile */
};

/** One relabel_configs[] element, as the walker stores it. */
struct dw_relabel_rule {
    int action; /* enum dw_relabel_action; default replace (case-insensitive in YAML); -1 when
                   the YAML value was rejected. First, so no other field shares the rule's own
                   address in the walker's position records. */
    char **source_labels; /* heap, valid label names */
    size_t nsource_labels;
    char *separator;    /* default ";" */
    char *target_label; /* NULL when not given; may hold $1 / ${name} for replace */
    struct dw_relabel_regex regex;
    uint64_t modulus;  /* hashmod only; 0 when not given */
    char *replacement; /* default "$1" */
};

/**
 * Schema of one relabel_configs[] element: use it as .sub of a LIST of
 * OBJECT with .size = sizeof(struct dw_relabel_rule). The regex compiles
 * while decoding; the schema's check validates the rule like Prometheus and
 * reports with dw_schema_error_at() (file:line:col of the offending key).
 */
extern const struct dw_schema dw_relabel_schema;

/**
 * Frees what rules[0..n) hold (strings and compiled regexes), not the array.
 * dw_schema_free() on the enclosing object does the same; fields are nulled,
 * so calling both is harmless.
 */
void dw_relabel_rules_release(struct dw_relabel_rule *rules, size_t n);

/**
 * Applies the rules in order to ls; returns false when a keep/drop/
 * keepequal/dropequal rule drops the target (ls is then unspecified).
 */
bool dw_relabel_apply(const struct dw_relabel_rule *rules, size_t n, struct dw_lset *ls);

/** MD5 (RFC 1321) of data into out; exposed for the tests of hashmod. */
void dw_md5(const void *data, size_t n, unsigned char out[16]);

/* ---- target labels around relabeling (Prometheus scrape.PopulateLabels) ---- */

/**
 * Before relabeling: sets job, __scrape_interval__, __scrape_timeout__,
 * __metrics_path__ and __scheme__ unless ls has them already, then
 * __param_<name> for each configured parameter (always, overriding).
 * Durations are formatted like Prometheus ("15s", "1m30s").
 */
void dw_target_populate(struct dw_lset *ls, const char *job, const char *scheme,
                        const char *metrics_path, int64_t scrape_interval_ms,
                        int64_t scrape_timeout_ms, const struct dw_schema_pair *params,
                        size_t nparams);

/** What dw_target_finish() reads from the internal labels before dropping them. */
struct dw_target_info {
    char *url;           /* heap: scheme://address/metrics_path?query */
    int64_t interval_ms; /* from __scrape_interval__ after relabeling */
    int64_t timeout_ms;  /* from __scrape_timeout__ after relabeling */
};

/**
 * After relabeling (a target that was kept): requires a non-empty
 * __address__, adds the scheme's default port when the address has none
 * (http 80, https 443, as Prometheus 2.42 does), rejects an address with
 * "/", parses the interval and timeout (non-zero, timeout <= interval),
 * drops __meta_* labels, defaults `instance` to __address__, checks that
 * values are UTF-8, builds the URL (query: the configured params, each
 * overridden by its __param_<name> label, plus other __param_ labels, sorted
 * and escaped like Go's url.Values), then drops every "__" label, checks the
 * remaining names and sorts ls. Returns 0 with *out filled, or -1 with *err
 * (heap, caller frees); after an error ls is unspecified: drop the target.
 */
int dw_target_finish(struct dw_lset *ls, const struct dw_schema_pair *params, size_t nparams,
                     struct dw_target_info *out, char **err);
/** Frees out->url and zeroes *out. */
void dw_target_info_release(struct dw_target_info *out);

/* ---- file_sd ---- */

#define DW_FILESD_MAX_BYTES (16u << 20) /* larger files are refused */
#define DW_FILESD_MAX_TARGETS 100000    /* targets in one file, all groups */
#define DW_FILESD_MAX_GROUPS 100000
#define DW_FILESD_MAX_LABELS 1000000 /* group label pairs in one file */

/** One target group of a file_sd file: [{targets: [...], labels: {...}}]. */
struct dw_target_group {
    char **targets; /* heap: each target's __address__ (may be "") */
    size_t ntargets;
    struct dw_lset labels; /* the group's labels plus __meta_filepath = the path */
    char *source;          /* heap: "path:index", like Prometheus' group source */
};

/**
 * Reads a file_sd file: JSON (.json) or YAML (.yml, .yaml; the extension is
 * case-insensitive). An empty YAML file, or a null root, has no groups (as
 * in Prometheus); an empty JSON file is a syntax error (as in Prometheus).
 * Returns 0 with *groups (heap array, NULL when *n is 0), or -1 with *err =
 * "path:line:col: message" (caller frees) for syntax errors, wrong shapes
 * (unknown keys, invalid label names, non-string JSON values) and limits.
 */
int dw_filesd_read(const char *path, struct dw_target_group **groups, size_t *n, char **err);
/** Frees groups[0..n) and the array; NULL is a no-op. */
void dw_target_groups_free(struct dw_target_group *g, size_t n);
/** The label set of target i of g: the group's labels, then __address__ (which wins). */
void dw_target_group_lset(const struct dw_target_group *g, size_t i, struct dw_lset *out);

/** What identifies a version of a file cheaply: re-read when any field changes. */
struct dw_filesd_stamp {
    int64_t mtime_ns;
    int64_t size;
    uint64_t inode;
    uint64_t dev;
};

/** stat()s path; 0, or -1 with errno (the stamp is zeroed). */
int dw_filesd_stat(const char *path, struct dw_filesd_stamp *st);
bool dw_filesd_stamp_equal(const struct dw_filesd_stamp *a, const struct dw_filesd_stamp *b);

#endif
