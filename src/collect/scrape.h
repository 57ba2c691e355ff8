/*
 * scrape.h - the scrape section of the configuration and one scrape of one
 * target (internal to src/collect).
 *
 * The section mirrors Prometheus' configuration so existing scrape_configs
 * paste in unchanged:
 *
 *   scrape:
 *     global: {scrape_interval: 15s, scrape_timeout: 10s}
 *     host: {enabled: true, interval: 15s, job: node, labels: {}}
 *     scrape_configs:
 *       - job_name: node
 *         static_configs: [{targets: ["127.0.0.1:9100"], labels: {env: prod}}]
 *         file_sd_configs: [{files: ["targets/nodes-*.json" (a glob)], refresh_interval: 5m}]
 *         relabel_configs: [...]        metric_relabel_configs: [...]
 *         scrape_interval, scrape_timeout, metrics_path, scheme, params,
 *         honor_labels, honor_timestamps, basic_auth, authorization,
 *         bearer_token(_file), tls_config, sample_limit, body_size_limit,
 *         label_limit, label_name_length_limit, label_value_length_limit
 */
#ifndef DW_COLLECT_SCRAPE_H
#define DW_COLLECT_SCRAPE_H

#include <stdbool.h>
#include <stdint.h>

#include "collect/collect_internal.h"
#include "collect/relabel.h"
#include "plan/plan.h"

struct scrape_static {
    char **targets;
    size_t ntargets;
    struct dw_schema_pair *labels;
    size_t nlabels;
};

struct scrape_filesd {
    char **files; /* glob patterns */
    size_t nfiles;
    int64_t refresh_ms;
};

struct scrape_param {
    char *key;
    char *yaml;    /* the value as written: a list of strings */
    char **values; /* decoded by the check */
    size_t nvalues;
};

struct scrape_job {
    char *job_name;
    int64_t interval_ms, timeout_ms;
    char *metrics_path;
    int scheme; /* 0 http, 1 https */
    struct scrape_param *params;
    size_t nparams;
    bool honor_labels, honor_timestamps;
    struct {
        char *username, *password, *password_file;
    } basic_auth;
    struct {
        char *type, *credentials, *credentials_file;
    } authorization;
    char *bearer_token, *bearer_token_file;
    struct {
        bool insecure_skip_verify;
        char *ca_file;
    } tls;
    int64_t sample_limit;
    uint64_t body_size_limit;
    int64_t label_limit;
    int64_t label_name_length_limit, label_value_length_limit;
    struct dw_schema_pair *param_pairs; /* params flattened (a key per value), by the check */
    size_t nparam_pairs;
    struct scrape_static *static_configs;
    size_t nstatic;
    struct scrape_filesd *file_sd;
    size_t nfile_sd;
    struct dw_relabel_rule *relabel;
    size_t nrelabel;
    struct dw_relabel_rule *metric_relabel;
    size_t nmetric_relabel;
};

struct scrape_host {
    bool enabled;
    int64_t interval_ms;
    char *job;
    struct dw_schema_pair *labels;
    size_t nlabels;
};

struct scrape_cfg {
    struct {
        int64_t interval_ms, timeout_ms;
    } global;
    struct scrape_host host;
    struct scrape_job *jobs;
    size_t njobs;
};

extern const struct dw_schema dw_scrape_schema;
/** Frees what decoding stored (incl. compiled regexes). */
void dw_scrape_cfg_release(struct scrape_cfg *sc);

/* ---- one scrape ---- */

struct scrape_target {
    const struct scrape_job *job; /* borrowed from the config generation */
    char *url;
    int64_t timeout_ms;    /* after relabeling (__scrape_timeout__) */
    struct dw_lset labels; /* the target labels after relabeling (job, instance, ...) */
};

/** The result of a scrape handed back on the loop thread. */
struct scrape_result {
    bool ok;
    char error[256];
    double duration_s;
    const char *content_type; /* valid during the callback */
    const char *body;
    size_t len;
};

struct scrape_run;
typedef void (*scrape_done_fn)(void *arg, const struct scrape_result *r);
/** Starts a scrape of t on loop; done runs once on the loop thread. NULL on setup failure
 *  (done is then not called). */
struct scrape_run *dw_scrape_start(struct dw_loop *loop, const struct scrape_target *t,
                                   scrape_done_fn done, void *arg);
/** Stops a running scrape without its callback (shutdown, target removed). */
void dw_scrape_abort(struct dw_loop *loop, struct scrape_run **r);

#endif
