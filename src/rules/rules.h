/*
 * rules.h - Prometheus-compatible rule evaluation: groups of recording and
 * alerting rules from rule files, evaluated against the tsdb on their
 * interval (and, for threshold rules, as soon as their input data lands),
 * recording rules written back as series, alerting rules moving through
 * pending -> firing -> resolved with `for` and `keep_firing_for`, their state
 * written as ALERTS and ALERTS_FOR_STATE series and handed to a consumer
 * (the alert module, wired by the daemon).
 *
 * Configuration, section `rules` of the dojowatch file:
 *   rules:
 *     files: [rules/dojopool.rules.yml]   # globs, relative to the configuration file
 *     evaluation_interval: 15s     # groups without their own interval
 *     external_url: ""             # for generatorURL and $externalURL (default server's)
 */
#ifndef DW_RULES_H
#define DW_RULES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "plan/plan.h"
#include "tsdb/tsdb.h"

enum dw_rule_alert_state { DW_RULE_ALERT_PENDING, DW_RULE_ALERT_FIRING, DW_RULE_ALERT_RESOLVED };

/** An alert as the evaluator hands it on (everything borrowed for the call). */
struct dw_rule_alert {
    const struct dw_label *labels; /* sorted; alertname and the rule's labels included */
    size_t nlabels;
    const struct dw_label *annotations; /* expanded */
    size_t nannotations;
    enum dw_rule_alert_state state;
    int64_t active_at_ms;   /* when it became pending */
    int64_t fired_at_ms;    /* 0 unless it fired */
    int64_t resolved_at_ms; /* 0 unless resolved */
    double value;           /* the sample that made it active, last evaluation */
    const char *generator_url;
};

/** Receives the alerts of one rule after an evaluation that changed them (and
 *  every 30 s while they are active), on the evaluator's thread. */
typedef void (*dw_ruler_alerts_fn)(void *ctx, const struct dw_rule_alert *alerts, size_t n,
                                   int64_t now_ms);

struct dw_ruler_options {
    struct dw_tsdb *db;
    dw_ruler_alerts_fn alerts; /* may be NULL */
    void *alerts_ctx;
    const char *external_url; /* default for generatorURL; may be NULL */
};

struct dw_ruler;

/** Decodes the rules section and loads its files; 0 or the number of errors. */
size_t dw_rules_check_config(const struct dw_config *cfg, struct dw_diags *diags);

struct dw_ruler *dw_ruler_new(const struct dw_ruler_options *o);
/**
 * Installs cfg's rules (any thread), all or nothing: on an error the running
 * rules stay and the error count is returned. Groups keep their alerts and
 * `for` timers across a reload when their file and name are unchanged.
 */
size_t dw_ruler_apply(struct dw_ruler *r, const struct dw_config *cfg, struct dw_diags *diags);
int dw_ruler_start(struct dw_ruler *r);
void dw_ruler_stop(struct dw_ruler *r);
void dw_ruler_free(struct dw_ruler **r);

/**
 * Tells the evaluator that series with these metric names just received
 * samples (from a tsdb commit hook): threshold rules reading them are
 * evaluated at once instead of at their next interval. Cheap, any thread.
 */
void dw_ruler_data_arrived(struct dw_ruler *r, const char *const *names, size_t n);
/** The metric names whose arrival triggers an evaluation (borrowed until the next
 *  apply; for the tsdb's commit hook filter). */
bool dw_ruler_watches(struct dw_ruler *r, const char *name, size_t len);

/** Prometheus' /api/v1/rules "data" ({groups: [...]}); type "", "alert" or "record". */
json_t *dw_ruler_rules_json(struct dw_ruler *r, const char *type);
/** Prometheus' /api/v1/alerts "data" ({alerts: [...]}). */
json_t *dw_ruler_alerts_json(struct dw_ruler *r);

#endif
