/*
 * config.c - the `scrape` section: schema tables for the plan module's
 * walker, defaults that depend on other keys, and validation.
 *
 * DESIGN
 * Decoding happens on the caller's thread (start-up, reload, check-config)
 * with file:line:col for every problem; the scheduler only ever sees a fully
 * decoded, valid generation. Job values left unset take the global ones
 * (scrape_interval, scrape_timeout) like Prometheus; a timeout longer than
 * the interval is an error, as in Prometheus.
 */
#include <libfyaml.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "collect/scrape.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const schemes[] = {"http", "https", NULL};

/* clang-format off */
static const struct dw_schema_field static_fields[] = {
    {.name = "targets", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct scrape_static, targets, ntargets)},
    {.name = "labels", .type = DW_SCHEMA_MAP, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct scrape_static, labels, nlabels)},
};
static const struct dw_schema static_schema = {static_fields, N(static_fields), false, NULL};

static const struct dw_schema_field filesd_fields[] = {
    {.name = "files", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_LIST_AT(struct scrape_filesd, files, nfiles)},
    {.name = "refresh_interval", .type = DW_SCHEMA_DURATION, .def = "5m", .min = 1000,
     .max = 86400000, DW_SCHEMA_AT(struct scrape_filesd, refresh_ms)},
};
static const struct dw_schema filesd_schema = {filesd_fields, N(filesd_fields), false, NULL};

static const struct dw_schema_field basic_auth_fields[] = {
    {.name = "username", .type = DW_SCHEMA_STRING,
     DW_SCHEMA_AT(struct scrape_job, basic_auth.username)},
    {.name = "password", .type = DW_SCHEMA_STRING,
     DW_SCHEMA_AT(struct scrape_job, basic_auth.password)},
    {.name = "password_file", .type = DW_SCHEMA_STRING,
     DW_SCHEMA_AT(struct scrape_job, basic_auth.password_file)},
};
static const struct dw_schema_field authz_fields[] = {
    {.name = "type", .type = DW_SCHEMA_STRING, .def = "Bearer",
     DW_SCHEMA_AT(struct scrape_job, authorization.type)},
    {.name = "credentials", .type = DW_SCHEMA_STRING,
     DW_SCHEMA_AT(struct scrape_job, authorization.credentials)},
    {.name = "credentials_file", .type = DW_SCHEMA_STRING,
     DW_SCHEMA_AT(struct scrape_job, authorization.credentials_file)},
};
static const struct dw_schema_field tls_fields[] = {
    {.name = "insecure_skip_verify", .type = DW_SCHEMA_BOOL, .def = "false",
     DW_SCHEMA_AT(struct scrape_job, tls.insecure_skip_verify)},
    {.name = "ca_file", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct scrape_job, tls.ca_file)},
};
/* clang-format on */
/* These sub-objects decode into the job struct itself (offsets are job-relative),
 * so each is declared as an OBJECT at offset 0 of the job. */
static const struct dw_schema basic_auth_schema = {basic_auth_fields, N(basic_auth_fields), false,
                                                   NULL};
static const struct dw_schema authz_schema = {authz_fields, N(authz_fields), false, NULL};
static const struct dw_schema tls_schema = {tls_fields, N(tls_fields), false, NULL};

static void check_job(struct dw_schema_ctx *ctx, void *obj);

#define JOB_SUB(key, schema)                                                                       \
    {                                                                                              \
        .name = key, .type = DW_SCHEMA_OBJECT, .sub = &schema, .offset = 0,                        \
        .size = sizeof(struct scrape_job)                                                          \
    }

/* clang-format off */
static const struct dw_schema_field job_fields[] = {
    {.name = "job_name", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     .defines = "scrape_job", DW_SCHEMA_AT(struct scrape_job, job_name)},
    {.name = "scrape_interval", .type = DW_SCHEMA_DURATION, .min = 100, .max = 86400000,
     DW_SCHEMA_AT(struct scrape_job, interval_ms)},
    {.name = "scrape_timeout", .type = DW_SCHEMA_DURATION, .min = 50, .max = 86400000,
     DW_SCHEMA_AT(struct scrape_job, timeout_ms)},
    {.name = "metrics_path", .type = DW_SCHEMA_STRING, .def = "/metrics",
     DW_SCHEMA_AT(struct scrape_job, metrics_path)},
    {.name = "scheme", .type = DW_SCHEMA_ENUM, .values = schemes, .def = "http",
     DW_SCHEMA_AT(struct scrape_job, scheme)},
    {.name = "params", .type = DW_SCHEMA_MAP, .elem = DW_SCHEMA_YAML,
     DW_SCHEMA_LIST_AT(struct scrape_job, params, nparams)},
    {.name = "honor_labels", .type = DW_SCHEMA_BOOL, .def = "false",
     DW_SCHEMA_AT(struct scrape_job, honor_labels)},
    {.name = "honor_timestamps", .type = DW_SCHEMA_BOOL, .def = "true",
     DW_SCHEMA_AT(struct scrape_job, honor_timestamps)},
    JOB_SUB("basic_auth", basic_auth_schema),
    JOB_SUB("authorization", authz_schema),
    JOB_SUB("tls_config", tls_schema),
    {.name = "bearer_token", .type = DW_SCHEMA_STRING,
     DW_SCHEMA_AT(struct scrape_job, bearer_token)},
    {.name = "bearer_token_file", .type = DW_SCHEMA_STRING,
     DW_SCHEMA_AT(struct scrape_job, bearer_token_file)},
    {.name = "sample_limit", .type = DW_SCHEMA_INT, .def = "0", .min = 0, .max = 1e9,
     DW_SCHEMA_AT(struct scrape_job, sample_limit)},
    {.name = "body_size_limit", .type = DW_SCHEMA_BYTES, .def = "64MiB", .min = 1024,
     .max = 1LL << 32, DW_SCHEMA_AT(struct scrape_job, body_size_limit)},
    {.name = "label_limit", .type = DW_SCHEMA_INT, .def = "0", .min = 0, .max = 1024,
     DW_SCHEMA_AT(struct scrape_job, label_limit)},
    {.name = "label_name_length_limit", .type = DW_SCHEMA_INT, .def = "0", .min = 0,
     .max = 65536, DW_SCHEMA_AT(struct scrape_job, label_name_length_limit)},
    {.name = "label_value_length_limit", .type = DW_SCHEMA_INT, .def = "0", .min = 0,
     .max = 1 << 20, DW_SCHEMA_AT(struct scrape_job, label_value_length_limit)},
    {.name = "static_configs", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT,
     .sub = &static_schema, DW_SCHEMA_LIST_AT(struct scrape_job, static_configs, nstatic)},
    {.name = "file_sd_configs", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT,
     .sub = &filesd_schema, DW_SCHEMA_LIST_AT(struct scrape_job, file_sd, nfile_sd)},
    {.name = "relabel_configs", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT,
     .sub = &dw_relabel_schema, DW_SCHEMA_LIST_AT(struct scrape_job, relabel, nrelabel)},
    {.name = "metric_relabel_configs", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT,
     .sub = &dw_relabel_schema,
     DW_SCHEMA_LIST_AT(struct scrape_job, metric_relabel, nmetric_relabel)},
};
/* clang-format on */
static const struct dw_schema job_schema = {job_fields, N(job_fields), false, check_job};

/* clang-format off */
static const struct dw_schema_field host_fields[] = {
    {.name = "enabled", .type = DW_SCHEMA_BOOL, .def = "true",
     DW_SCHEMA_AT(struct scrape_host, enabled)},
    {.name = "interval", .type = DW_SCHEMA_DURATION, .def = "15s", .min = 1000,
     .max = 86400000, DW_SCHEMA_AT(struct scrape_host, interval_ms)},
    {.name = "job", .type = DW_SCHEMA_STRING, .def = "node",
     DW_SCHEMA_AT(struct scrape_host, job)},
    {.name = "labels", .type = DW_SCHEMA_MAP, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct scrape_host, labels, nlabels)},
};
static const struct dw_schema host_schema = {host_fields, N(host_fields), false, NULL};

static const struct dw_schema_field global_fields[] = {
    {.name = "scrape_interval", .type = DW_SCHEMA_DURATION, .def = "1m", .min = 100,
     .max = 86400000, DW_SCHEMA_AT(struct scrape_cfg, global.interval_ms)},
    {.name = "scrape_timeout", .type = DW_SCHEMA_DURATION, .def = "10s", .min = 50,
     .max = 86400000, DW_SCHEMA_AT(struct scrape_cfg, global.timeout_ms)},
};
/* clang-format on */
static const struct dw_schema global_schema = {global_fields, N(global_fields), false, NULL};

static void check_root(struct dw_schema_ctx *ctx, void *obj);

/* clang-format off */
static const struct dw_schema_field root_fields[] = {
    {.name = "global", .type = DW_SCHEMA_OBJECT, .sub = &global_schema, .offset = 0,
     .size = sizeof(struct scrape_cfg)},
    {.name = "host", .type = DW_SCHEMA_OBJECT, .sub = &host_schema,
     DW_SCHEMA_AT(struct scrape_cfg, host)},
    {.name = "scrape_configs", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT,
     .sub = &job_schema, DW_SCHEMA_LIST_AT(struct scrape_cfg, jobs, njobs)},
};
/* clang-format on */
const struct dw_schema dw_scrape_schema = {root_fields, N(root_fields), false, check_root};

/* params: {module: [http_2xx]} - each value a list of strings (or one string). */
static void decode_param(struct dw_schema_ctx *ctx, struct scrape_param *p)
{
    struct fy_document *fyd = fy_document_build_from_string(NULL, p->yaml, FY_NT);
    struct fy_node *root = fyd ? fy_document_root(fyd) : NULL;
    if (root && fy_node_is_scalar(root)) {
        p->values = dw_calloc(1, sizeof *p->values);
        p->values[p->nvalues++] = dw_strdup(fy_node_get_scalar0(root));
    } else if (root && fy_node_is_sequence(root)) {
        int n = fy_node_sequence_item_count(root);
        p->values = dw_calloc((size_t)n + 1, sizeof *p->values);
        for (int i = 0; i < n; i++) {
            struct fy_node *it = fy_node_sequence_get_by_index(root, i);
            if (!it || !fy_node_is_scalar(it)) {
                dw_schema_error_at(ctx, &p->yaml, "params.%s: expected a list of strings", p->key);
                break;
            }
            p->values[p->nvalues++] = dw_strdup(fy_node_get_scalar0(it));
        }
    } else {
        dw_schema_error_at(ctx, &p->yaml, "params.%s: expected a list of strings", p->key);
    }
    fy_document_destroy(fyd);
}

/* url.Values style: one pair per value, keys repeated. */
static void flatten_params(struct scrape_job *j)
{
    size_t n = 0;
    for (size_t i = 0; i < j->nparams; i++)
        n += j->params[i].nvalues;
    j->param_pairs = dw_calloc(n ? n : 1, sizeof *j->param_pairs);
    for (size_t i = 0; i < j->nparams; i++)
        for (size_t v = 0; v < j->params[i].nvalues; v++)
            j->param_pairs[j->nparam_pairs++] = (struct dw_schema_pair){
                .key = dw_strdup(j->params[i].key), .value = dw_strdup(j->params[i].values[v])};
}

static void check_job(struct dw_schema_ctx *ctx, void *obj)
{
    struct scrape_job *j = obj;
    for (size_t i = 0; i < j->nparams; i++)
        decode_param(ctx, &j->params[i]);
    flatten_params(j);
    if (j->metrics_path && j->metrics_path[0] != '/')
        dw_schema_error_at(ctx, &j->metrics_path, "metrics_path must start with /, got \"%s\"",
                           j->metrics_path);
    if (j->basic_auth.password && j->basic_auth.password_file)
        dw_schema_error_at(ctx, &j->basic_auth.password_file,
                           "basic_auth: set password or password_file, not both");
    bool authz = j->authorization.credentials || j->authorization.credentials_file;
    if ((authz || j->bearer_token || j->bearer_token_file) && j->basic_auth.username)
        dw_schema_error_at(ctx, &j->basic_auth.username,
                           "basic_auth and authorization/bearer_token are mutually exclusive");
    if (authz && (j->bearer_token || j->bearer_token_file))
        dw_schema_error_at(
            ctx, j->bearer_token ? (void *)&j->bearer_token : (void *)&j->bearer_token_file,
            "authorization and bearer_token are mutually exclusive");
    for (size_t i = 0; i < j->nstatic; i++)
        for (size_t k = 0; k < j->static_configs[i].ntargets; k++)
            if (!j->static_configs[i].targets[k][0] ||
                strstr(j->static_configs[i].targets[k], "://"))
                dw_schema_error_at(ctx, &j->static_configs[i].targets[k],
                                   "a target is host:port without a scheme (set `scheme`), got "
                                   "\"%s\"",
                                   j->static_configs[i].targets[k]);
}

static void check_root(struct dw_schema_ctx *ctx, void *obj)
{
    struct scrape_cfg *sc = obj;
    for (size_t i = 0; i < sc->njobs; i++) {
        struct scrape_job *j = &sc->jobs[i];
        if (!j->interval_ms)
            j->interval_ms = sc->global.interval_ms;
        if (!j->timeout_ms)
            j->timeout_ms =
                sc->global.timeout_ms < j->interval_ms ? sc->global.timeout_ms : j->interval_ms;
        if (j->timeout_ms > j->interval_ms)
            dw_schema_error_at(ctx, &j->timeout_ms,
                               "scrape_timeout (%lldms) is longer than scrape_interval (%lldms)",
                               (long long)j->timeout_ms, (long long)j->interval_ms);
    }
}

void dw_scrape_cfg_release(struct scrape_cfg *sc)
{
    for (size_t i = 0; i < sc->njobs; i++) {
        struct scrape_job *j = &sc->jobs[i];
        for (size_t k = 0; k < j->nparams; k++) {
            for (size_t v = 0; v < j->params[k].nvalues; v++)
                free(j->params[k].values[v]);
            free(j->params[k].values);
        }
        for (size_t k = 0; k < j->nparam_pairs; k++) {
            free(j->param_pairs[k].key);
            free(j->param_pairs[k].value);
        }
        free(j->param_pairs);
        dw_relabel_rules_release(j->relabel, j->nrelabel);
        dw_relabel_rules_release(j->metric_relabel, j->nmetric_relabel);
    }
    dw_schema_free(&dw_scrape_schema, sc);
    memset(sc, 0, sizeof *sc);
}
