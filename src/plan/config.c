/*
 * config.c - DESIGN: loading a configuration file into an immutable,
 * reference-counted struct dw_config, and reading it.
 *
 * Loading: read the file (at most 4 MiB) -> hash its bytes -> parse with
 * libfyaml -> walk with the root schema (config_schema.c) -> read schedule
 * ids from the oncall section -> cross-object checks -> resolve references
 * -> turn auth tokens into hashes. Any error frees everything and returns
 * NULL; warnings alone do not fail a load.
 *
 * Threads: a loaded config is never modified, so any number of threads may
 * read it; the reference count is atomic so the daemon can swap in a new
 * config on reload while requests finish with the old one. The original text
 * is kept so dw_config_decode_section() can re-parse a later-issue section
 * with true file positions; each call parses privately, so it is thread-safe.
 *
 * Secrets: plain tokens are hashed by the walker and wiped; only SHA-256 hex
 * is stored, and dw_config_token_role() compares hashes in constant time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_internal.h"

struct dw_config {
    atomic_int refs;
    char *path;
    char hash[65];
    char *src; /* the file text, for dw_config_decode_section() */
    size_t srclen;
    struct plan_doc doc;
    struct dw_plan_token *tokens;
    size_t ntokens;
    size_t disabled_tokens; /* tokens whose value expanded to nothing */
    char **schedules;       /* oncall.schedules[].id */
    size_t nschedules;
};

static void config_free(struct dw_config *cfg)
{
    dw_schema_free(&dw_plan_root_schema, &cfg->doc);
    for (size_t i = 0; i < cfg->ntokens; i++) {
        free(cfg->tokens[i].name);
        explicit_bzero(cfg->tokens[i].sha256, sizeof cfg->tokens[i].sha256);
    }
    free(cfg->tokens);
    for (size_t i = 0; i < cfg->nschedules; i++)
        free(cfg->schedules[i]);
    free(cfg->schedules);
    free(cfg->src);
    free(cfg->path);
    free(cfg);
}

struct dw_config *dw_config_ref(struct dw_config *cfg)
{
    if (cfg)
        atomic_fetch_add_explicit(&cfg->refs, 1, memory_order_relaxed);
    return cfg;
}

void dw_config_unref(struct dw_config **pcfg)
{
    struct dw_config *cfg = pcfg ? *pcfg : NULL;
    if (!cfg)
        return;
    *pcfg = NULL;
    if (atomic_fetch_sub_explicit(&cfg->refs, 1, memory_order_acq_rel) == 1)
        config_free(cfg);
}

/* Moves the active tokens into their public form; the input form is freed
 * with the rest of the document. */
static void build_tokens(struct dw_config *cfg)
{
    struct plan_doc *d = &cfg->doc;
    cfg->tokens = d->auth.ntokens ? dw_calloc(d->auth.ntokens, sizeof *cfg->tokens) : NULL;
    for (size_t i = 0; i < d->auth.ntokens; i++) {
        struct plan_token_in *in = &d->auth.tokens[i];
        const char *hex = in->token_sha256 ? in->token_sha256 : in->token_hash;
        if (!hex[0]) {
            cfg->disabled_tokens++;
            continue;
        }
        struct dw_plan_token *t = &cfg->tokens[cfg->ntokens++];
        t->name = dw_strdup(in->name ? in->name : "");
        t->role = (enum dw_role)in->role;
        dw_strlcpy(t->sha256, hex, sizeof t->sha256);
    }
}

/* Schedule ids come from the oncall section, which a later module owns. */
static void read_schedules(struct dw_config *cfg, struct dw_schema_ctx *ctx, struct fy_node *root)
{
    struct fy_node *oncall = dw_schema_lookup(root, "oncall");
    struct plan_oncall_ids ids = {0};
    if (!oncall || !fy_node_is_mapping(oncall))
        return;
    dw_schema_decode_node(ctx, oncall, "oncall", &dw_plan_oncall_schema, &ids);
    cfg->schedules = ids.nschedules ? dw_calloc(ids.nschedules, sizeof(char *)) : NULL;
    for (size_t i = 0; i < ids.nschedules; i++)
        if (ids.schedules[i].id)
            cfg->schedules[cfg->nschedules++] = dw_strdup(ids.schedules[i].id);
    dw_schema_free(&dw_plan_oncall_schema, &ids);
}

static void decode_doc(struct dw_config *cfg, struct dw_schema_ctx *ctx)
{
    struct fy_document *fyd = dw_schema_parse(ctx, cfg->src, cfg->srclen);
    if (!fyd)
        return;
    struct fy_node *root = fy_document_root(fyd);
    dw_plan_kind_hints(ctx);
    dw_schema_decode_node(ctx, root, NULL, &dw_plan_root_schema, &cfg->doc);
    read_schedules(cfg, ctx, root);
    dw_plan_check_doc(ctx, &cfg->doc);
    dw_schema_resolve_refs(ctx);
    fy_document_destroy(fyd);
}

struct dw_config *dw_config_load_string(const char *name, const char *yaml, size_t len,
                                        struct dw_diags *diags)
{
    if (!name)
        name = "<config>";
    if (len > PLAN_MAX_FILE_BYTES) {
        dw_diags_add(diags, name, 0, 0, NULL, "file is larger than %u MiB",
                     PLAN_MAX_FILE_BYTES >> 20);
        return NULL;
    }
    size_t errors = dw_diags_errors(diags);
    struct dw_config *cfg = dw_calloc(1, sizeof *cfg);
    atomic_init(&cfg->refs, 1);
    cfg->path = dw_strdup(name);
    cfg->src = dw_malloc(len + 1);
    memcpy(cfg->src, yaml, len);
    cfg->src[len] = '\0';
    cfg->srclen = len;
    dw_sha256_hex(yaml, len, cfg->hash);

    struct dw_schema_ctx *ctx = dw_schema_ctx_new(name, diags);
    decode_doc(cfg, ctx);
    dw_schema_ctx_free(&ctx);
    if (dw_diags_errors(diags) > errors) {
        dw_config_unref(&cfg);
        return NULL;
    }
    build_tokens(cfg);
    return cfg;
}

struct dw_config *dw_config_load_file(const char *path, struct dw_diags *diags)
{
    size_t len;
    char *text = dw_read_file(path, PLAN_MAX_FILE_BYTES, &len, diags);
    if (!text)
        return NULL;
    struct dw_config *cfg = dw_config_load_string(path, text, len, diags);
    free(text);
    return cfg;
}

/* ---- later-issue sections ---- */

static int section_index(const char *section)
{
    for (int i = 0; i < PLAN_SEC_COUNT; i++)
        if (strcmp(dw_plan_section_names[i], section) == 0)
            return i;
    return -1;
}

const char *dw_config_section_yaml(const struct dw_config *cfg, const char *section)
{
    int i = section_index(section);
    return i < 0 ? NULL : cfg->doc.sections[i];
}

/* Ids of the loaded config, so a section can refer to people, teams... */
static void predefine_ids(const struct dw_config *cfg, struct dw_schema_ctx *ctx)
{
    const struct plan_doc *d = &cfg->doc;
    for (size_t i = 0; i < d->npeople; i++)
        dw_schema_predefine(ctx, "person", d->people[i].id);
    for (size_t i = 0; i < d->nteams; i++)
        dw_schema_predefine(ctx, "team", d->teams[i].id);
    for (size_t i = 0; i < cfg->nschedules; i++)
        dw_schema_predefine(ctx, "schedule", cfg->schedules[i]);
    for (size_t i = 0; i < d->slack.nchannels; i++)
        dw_schema_predefine(ctx, "channel", d->slack.channels[i].purpose);
    for (size_t i = 0; i < d->launch.nphases; i++)
        dw_schema_predefine(ctx, "phase", d->launch.phases[i].name);
    dw_plan_kind_hints(ctx);
}

size_t dw_config_decode_section(const struct dw_config *cfg, const char *section,
                                const struct dw_schema *schema, void *out,
                                dw_schema_check_fn finish, struct dw_diags *diags)
{
    size_t errors = dw_diags_errors(diags);
    struct dw_schema_ctx *ctx = dw_schema_ctx_new(cfg->path, diags);
    struct fy_document *fyd = dw_schema_parse(ctx, cfg->src, cfg->srclen);
    if (fyd) {
        predefine_ids(cfg, ctx);
        struct fy_node *node = dw_schema_lookup(fy_document_root(fyd), section);
        if (node && fy_node_is_null(node))
            node = NULL;
        dw_schema_decode_node(ctx, node, section, schema, out);
        if (finish)
            finish(ctx, out);
        dw_schema_resolve_refs(ctx);
        fy_document_destroy(fyd);
    }
    dw_schema_ctx_free(&ctx);
    return dw_diags_errors(diags) - errors;
}

/* ---- accessors ---- */

const char *dw_config_hash(const struct dw_config *cfg)
{
    return cfg->hash;
}
const char *dw_config_path(const struct dw_config *cfg)
{
    return cfg->path;
}
const char *dw_config_service_name(const struct dw_config *cfg)
{
    return cfg->doc.service.name;
}

const char *dw_config_status_page_url(const struct dw_config *cfg)
{
    return cfg->doc.service.status_page_url;
}

const char *dw_config_dashboard_url(const struct dw_config *cfg)
{
    return cfg->doc.service.dashboard_url;
}

const char *dw_config_listen(const struct dw_config *cfg)
{
    return cfg->doc.server.listen;
}
const char *dw_config_data_dir(const struct dw_config *cfg)
{
    return cfg->doc.server.data_dir;
}

const char *dw_config_external_url(const struct dw_config *cfg)
{
    return cfg->doc.server.external_url;
}

const struct dw_plan_limits *dw_config_limits(const struct dw_config *cfg)
{
    return &cfg->doc.server.limits;
}

const struct dw_plan_token *dw_config_tokens(const struct dw_config *cfg, size_t *n)
{
    *n = cfg->ntokens;
    return cfg->tokens;
}

const struct dw_auth_user *dw_config_users(const struct dw_config *cfg, size_t *n)
{
    *n = cfg->doc.auth.nusers;
    return cfg->doc.auth.users;
}

const struct dw_auth_settings *dw_config_auth_settings(const struct dw_config *cfg)
{
    return &cfg->doc.auth.settings;
}

int64_t dw_config_launch_at(const struct dw_config *cfg)
{
    return cfg->doc.launch.at;
}

const struct dw_plan_phase *dw_config_phases(const struct dw_config *cfg, size_t *n)
{
    *n = cfg->doc.launch.nphases;
    return cfg->doc.launch.phases;
}

const struct dw_plan_priority *dw_config_priority(const struct dw_config *cfg, enum dw_priority p)
{
    return (unsigned)p < DW_PRIORITY_COUNT ? &cfg->doc.priorities[p] : NULL;
}

#define LIST_ACCESSOR(fn, type, member, count)                                                     \
    const type *fn(const struct dw_config *cfg, size_t *n)                                         \
    {                                                                                              \
        *n = cfg->doc.count;                                                                       \
        return cfg->doc.member;                                                                    \
    }

LIST_ACCESSOR(dw_config_severities, struct dw_plan_severity, severities, nseverities)
LIST_ACCESSOR(dw_config_kpis, struct dw_plan_objective, kpis, nkpis)
LIST_ACCESSOR(dw_config_baselines, struct dw_plan_objective, baselines, nbaselines)
LIST_ACCESSOR(dw_config_success_criteria, struct dw_plan_objective, success, nsuccess)
LIST_ACCESSOR(dw_config_checks, struct dw_plan_check, checks, nchecks)
LIST_ACCESSOR(dw_config_growth, struct dw_plan_growth, capacity.growth, capacity.ngrowth)
LIST_ACCESSOR(dw_config_people, struct dw_plan_person, people, npeople)
LIST_ACCESSOR(dw_config_teams, struct dw_plan_team, teams, nteams)
LIST_ACCESSOR(dw_config_contacts, struct dw_plan_contact, contacts, ncontacts)
LIST_ACCESSOR(dw_config_channels, struct dw_plan_channel, slack.channels, slack.nchannels)

double dw_config_autoscale_cpu_percent(const struct dw_config *cfg)
{
    return cfg->doc.capacity.autoscale_cpu_percent;
}

const struct dw_plan_storage *dw_config_storage(const struct dw_config *cfg)
{
    return &cfg->doc.storage;
}

const struct dw_plan_query *dw_config_query(const struct dw_config *cfg)
{
    return &cfg->doc.query;
}

int64_t dw_config_retention_raw_ms(const struct dw_config *cfg)
{
    return cfg->doc.retention.raw_ms;
}

int64_t dw_config_retention_aggregated_ms(const struct dw_config *cfg)
{
    return cfg->doc.retention.aggregated_ms;
}

const struct dw_plan_person *dw_config_find_person(const struct dw_config *cfg, const char *id)
{
    for (size_t i = 0; id && i < cfg->doc.npeople; i++)
        if (cfg->doc.people[i].id && strcmp(cfg->doc.people[i].id, id) == 0)
            return &cfg->doc.people[i];
    return NULL;
}

const struct dw_plan_team *dw_config_find_team(const struct dw_config *cfg, const char *id)
{
    for (size_t i = 0; id && i < cfg->doc.nteams; i++)
        if (cfg->doc.teams[i].id && strcmp(cfg->doc.teams[i].id, id) == 0)
            return &cfg->doc.teams[i];
    return NULL;
}

const char *dw_config_channel(const struct dw_config *cfg, const char *purpose)
{
    for (size_t i = 0; purpose && i < cfg->doc.slack.nchannels; i++)
        if (strcmp(cfg->doc.slack.channels[i].purpose, purpose) == 0)
            return cfg->doc.slack.channels[i].name;
    return NULL;
}

bool dw_config_has_schedule(const struct dw_config *cfg, const char *id)
{
    for (size_t i = 0; id && i < cfg->nschedules; i++)
        if (strcmp(cfg->schedules[i], id) == 0)
            return true;
    return false;
}

/* Hashes the presented token and compares with every configured hash without
 * stopping early, so timing says nothing about which token (if any) matched. */
enum dw_role dw_config_token_role(const struct dw_config *cfg, const char *token,
                                  const char **out_name)
{
    char hex[65];
    enum dw_role role = DW_ROLE_NONE;
    const char *name = NULL;
    if (out_name)
        *out_name = NULL;
    if (!cfg || !token || !*token)
        return DW_ROLE_NONE;
    dw_sha256_hex(token, strlen(token), hex);
    for (size_t i = 0; i < cfg->ntokens; i++) {
        bool match = dw_ct_equal(hex, cfg->tokens[i].sha256, 64);
        if (match && role == DW_ROLE_NONE) {
            role = cfg->tokens[i].role;
            name = cfg->tokens[i].name;
        }
    }
    explicit_bzero(hex, sizeof hex);
    if (out_name)
        *out_name = name;
    return role;
}

/* ---- check-config ---- */

static void summarise(const struct dw_config *cfg, struct dw_buf *out)
{
    const struct plan_doc *d = &cfg->doc;
    char t[40], a[32], b[32];
    dw_format_rfc3339(d->launch.at, t, sizeof t);
    dw_buf_printf(out, "service: %s (%s)\n", d->service.name, d->service.environment);
    dw_buf_printf(out, "launch: %s\nphases:", t);
    for (size_t i = 0; i < d->launch.nphases; i++) {
        const struct dw_plan_phase *ph = &d->launch.phases[i];
        dw_format_duration(ph->start_ms, a, sizeof a);
        if (ph->end_ms == INT64_MAX)
            dw_strlcpy(b, "open", sizeof b);
        else
            dw_format_duration(ph->end_ms, b, sizeof b);
        dw_buf_printf(out, "%s %s [%s, %s)", i ? "," : "", ph->name, a, b);
    }
    dw_buf_puts(out, "\npriorities:");
    for (int p = 0; p < DW_PRIORITY_COUNT; p++) {
        dw_format_duration(d->priorities[p].response_ms, a, sizeof a);
        dw_format_duration(d->priorities[p].resolution_ms, b, sizeof b);
        dw_buf_printf(out, "%s %s respond %s resolve %s", p ? "," : "",
                      dw_priority_name((enum dw_priority)p), a, b);
    }
    dw_buf_printf(out, "\nplan: %zu severities, %zu KPIs, %zu baselines, %zu checks\n",
                  d->nseverities, d->nkpis, d->nbaselines, d->nchecks);
    dw_buf_printf(out, "people: %zu, teams: %zu, contacts: %zu, slack channels: %zu\n", d->npeople,
                  d->nteams, d->ncontacts, d->slack.nchannels);
    size_t signin = 0;
    for (size_t i = 0; i < d->auth.nusers; i++)
        signin += d->auth.users[i].password_hash && d->auth.users[i].password_hash[0];
    dw_buf_printf(out, "tokens: %zu active, %zu disabled\n", cfg->ntokens, cfg->disabled_tokens);
    dw_buf_printf(out, "users: %zu can sign in, %zu disabled\nsections:", signin,
                  d->auth.nusers - signin);
    bool any = false;
    for (int i = 0; i < PLAN_SEC_COUNT; i++)
        if (d->sections[i]) {
            dw_buf_printf(out, "%s %s", any ? "," : "", dw_plan_section_names[i]);
            any = true;
        }
    dw_buf_printf(out, "%s\nsha256: %s\n", any ? "" : " none", cfg->hash);
}

int dw_config_check_file(const char *path, struct dw_diags *diags, struct dw_buf *summary,
                         dw_config_section_check_fn sections)
{
    struct dw_config *cfg = dw_config_load_file(path, diags);
    if (!cfg)
        return -1;
    if (sections && sections(cfg, diags) != 0) {
        dw_config_unref(&cfg);
        return -1;
    }
    if (summary)
        summarise(cfg, summary);
    dw_config_unref(&cfg);
    return 0;
}
