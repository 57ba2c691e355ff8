/*
 * rulefile.h - Prometheus rule files (rules module, internal): loading and
 * validation like Prometheus 2.42's rulefmt and `promtool check rules`.
 *
 * A rule file is YAML:
 *
 *   groups:
 *     - name: api              # unique in the file
 *       interval: 1s           # optional; else the default given to the loader
 *       limit: 0               # optional; alerts or series per evaluation, <= 0 none
 *       rules:
 *         - record: job:http_requests:rate5m    # a valid metric name
 *           expr: sum by (job) (rate(http_requests_total[5m]))
 *           labels: {team: api}
 *         - alert: APIHighLatency               # any non-empty name
 *           expr: job:latency:p95 > 0.5
 *           for: 2m
 *           keep_firing_for: 1m
 *           labels: {priority: P1}
 *           annotations: {summary: "p95 is {{ $value | humanizeDuration }}"}
 *
 * Values are taken verbatim: no ${VAR} expansion (templates use $labels and
 * label_replace uses ${1}), exactly like Prometheus.
 *
 * A loaded set is immutable; it may be read from any number of threads and
 * is freed as a whole with dw_rule_set_free().
 */
#ifndef DW_RULES_RULEFILE_H
#define DW_RULES_RULEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "promql/promql.h"

/* Limits: a file or rule over one is an error, never silently cut. */
#define DW_RULES_MAX_FILE_BYTES (16u << 20)        /* one rule file */
#define DW_RULES_MAX_GROUPS 10000u                 /* groups in one file */
#define DW_RULES_MAX_RULES_PER_GROUP 10000u        /* rules in one group */
#define DW_RULES_MAX_EXPR_BYTES (64u << 10)        /* one rule's expr */
#define DW_RULES_MAX_PAIRS 256u                    /* labels, or annotations, of one rule */
#define DW_RULES_MAX_VALUE_BYTES (64u << 10)       /* one label or annotation value */
#define DW_RULES_MAX_YAML_NODES (4u * 1000 * 1000) /* a file's tree with aliases expanded */

enum dw_rule_kind { DW_RULE_RECORD, DW_RULE_ALERT };

struct dw_tmpl; /* src/rules/template.h */

/** A label or annotation. */
struct dw_rule_pair {
    char *name;
    char *value;
    /* Alerting rules: the compiled template of value ("__alert_<name>"), or
     * NULL when value holds no "{{" (use it as it is). Always NULL for
     * recording rules, whose label values Prometheus does not expand. */
    struct dw_tmpl *tmpl;
};

struct dw_rule_group;

struct dw_rule {
    enum dw_rule_kind kind;
    char *name;                   /* record: the metric name; alert: the alert name */
    char *expr;                   /* the expression as written */
    struct dw_promql_expr *query; /* expr parsed and type-checked */
    int64_t for_ms;               /* alerting rules; 0 = fire at once */
    int64_t keep_firing_for_ms;   /* alerting rules; 0 = resolve at once */
    struct dw_rule_pair *labels;  /* sorted by name, names unique */
    size_t nlabels;
    struct dw_rule_pair *annotations; /* sorted by name; alerting rules only */
    size_t nannotations;
    const struct dw_rule_group *group; /* the group holding it */
    size_t index;                      /* 0-based position in the group */
    int line, col;                     /* where the rule starts in group->file */
};

struct dw_rule_group {
    char *name;
    const char *file; /* the path given to the loader (owned by the set) */
    int line, col;
    int64_t interval_ms; /* the group's own interval, else the loader's default */
    bool own_interval;   /* true when the file sets a non-zero interval */
    int64_t limit;       /* as written; <= 0 means no limit (Prometheus's meaning) */
    struct dw_rule *rules;
    size_t nrules;
};

/** Every group of every file, files in the order given, groups in file order. */
struct dw_rule_set {
    struct dw_rule_group *groups;
    size_t ngroups;
    size_t nrules; /* over all groups */
    char **files;  /* the paths loaded, duplicates dropped */
    size_t nfiles;
};

/**
 * Loads and validates rule files, all or nothing. Every problem of every
 * file goes to diags as file:line:col: message (promtool's wording, with
 * `group "g", rule N, "name": ` in front of a rule's problems); a warning
 * (a "warning: " message, e.g. two rules with the same name and labels)
 * does not fail the load. A path given twice is loaded once. Groups without
 * an interval get default_interval_ms (0 leaves them at 0: "the default").
 * Returns 0 with *out set (caller frees with dw_rule_set_free), or -1 with
 * *out NULL when any file has an error.
 */
int dw_rules_load_files(const char *const *paths, size_t n, int64_t default_interval_ms,
                        struct dw_rule_set **out, struct dw_diags *diags);

/** Same for one file held in memory; `name` is the file name in diagnostics. */
int dw_rules_load_string(const char *name, const char *yaml, size_t len,
                         int64_t default_interval_ms, struct dw_rule_set **out,
                         struct dw_diags *diags);

/** Frees the set and sets *s to NULL; NULL or *s == NULL is a no-op. */
void dw_rule_set_free(struct dw_rule_set **s);

/** Walks every rule of a set in order: groups as loaded, rules as written. */
struct dw_rule_iter {
    const struct dw_rule_set *set;
    size_t group, rule;
};

void dw_rule_iter_init(struct dw_rule_iter *it, const struct dw_rule_set *s);
/** The next rule (its group is rule->group), or NULL at the end. */
const struct dw_rule *dw_rule_iter_next(struct dw_rule_iter *it);

/**
 * The group named `name` loaded from `file`, or NULL. A group is identified
 * by both, like Prometheus's group key: the evaluator uses it to carry state
 * (pending alerts, `for` timers) over a reload.
 */
const struct dw_rule_group *dw_rule_set_find_group(const struct dw_rule_set *s, const char *file,
                                                   const char *name);

/** "record" or "alert". */
const char *dw_rule_kind_name(enum dw_rule_kind k);

#endif
