/*
 * plan_internal.h - shared between the files of the plan module only.
 *
 * schema.c is the generic walker; config.c holds the dojowatch schema tables,
 * the semantic checks, loading and accessors; plan.c answers time questions.
 */
#ifndef DW_PLAN_INTERNAL_H
#define DW_PLAN_INTERNAL_H

#include <libfyaml.h>

#include "plan.h"

#define PLAN_MAX_FILE_BYTES (4u << 20)

/* The later-issue sections, kept as YAML text, in this order. */
enum plan_section {
    PLAN_SEC_SCRAPE,
    PLAN_SEC_PROBES,
    PLAN_SEC_RULES,
    PLAN_SEC_NOTIFY,
    PLAN_SEC_ONCALL,
    PLAN_SEC_STATUS,
    PLAN_SEC_DASHBOARDS,
    PLAN_SEC_INCIDENTS,
    PLAN_SEC_ALERTING,
    PLAN_SEC_COUNT
};
extern const char *const dw_plan_section_names[PLAN_SEC_COUNT];

/** One auth.tokens[] entry as written; turned into struct dw_plan_token. */
struct plan_token_in {
    char *name;
    int role;
    char token_hash[65]; /* sha256 of `token`, "" when absent or empty */
    char *token_sha256;
};

struct plan_objectives {
    struct dw_plan_objective *items;
    size_t n;
};

struct plan_service {
    char *name, *environment, *status_page_url, *dashboard_url;
};

struct plan_server {
    char *listen, *data_dir, *external_url;
    struct dw_plan_limits limits;
};

struct plan_auth {
    struct plan_token_in *tokens;
    size_t ntokens;
    struct dw_auth_user *users; /* auth.users[]: sign-in accounts (src/auth) */
    size_t nusers;
    struct dw_auth_settings settings; /* cookie_secure, sessions, lockout */
};

struct plan_slack {
    struct dw_plan_channel *channels; /* purpose -> "#name" */
    size_t nchannels;
};

struct plan_launch {
    int64_t at;
    struct dw_plan_phase *phases;
    size_t nphases;
};

struct plan_capacity {
    struct dw_plan_growth *growth;
    size_t ngrowth;
    double autoscale_cpu_percent;
};

struct plan_retention {
    int64_t raw_ms, aggregated_ms;
};

/** Decode target of the root schema: the whole file. */
struct plan_doc {
    struct plan_service service;
    struct plan_server server;
    struct plan_auth auth;
    struct plan_launch launch;
    struct dw_plan_priority priorities[DW_PRIORITY_COUNT];
    struct dw_plan_severity *severities;
    size_t nseverities;
    struct dw_plan_objective *kpis, *baselines, *success;
    size_t nkpis, nbaselines, nsuccess;
    struct dw_plan_check *checks;
    size_t nchecks;
    struct plan_capacity capacity;
    struct plan_retention retention;
    struct dw_plan_storage storage;
    struct dw_plan_query query;
    struct dw_plan_person *people;
    size_t npeople;
    struct dw_plan_team *teams;
    size_t nteams;
    struct dw_plan_contact *contacts;
    size_t ncontacts;
    struct plan_slack slack;
    char *sections[PLAN_SEC_COUNT];
};

/** The part of the (later-issue) oncall section this module reads. */
struct plan_schedule {
    char *id;
};
struct plan_oncall_ids {
    struct plan_schedule *schedules;
    size_t nschedules;
};

/* config_schema.c */
extern const struct dw_schema dw_plan_root_schema;
extern const struct dw_schema dw_plan_oncall_schema;
/** Checks across objects of a decoded file (phases contiguous...). */
void dw_plan_check_doc(struct dw_schema_ctx *ctx, struct plan_doc *d);
/** Tells ctx where each id kind is defined, for "undefined" messages. */
void dw_plan_kind_hints(struct dw_schema_ctx *ctx);

/* ---- walker internals used by config.c (schema.c) ---- */

/** Creates a walk context reporting into diags under the name `file`. */
struct dw_schema_ctx *dw_schema_ctx_new(const char *file, struct dw_diags *diags);
void dw_schema_ctx_free(struct dw_schema_ctx **ctx);
/** Parses YAML text; syntax errors and duplicate keys go to diags. NULL on failure. */
struct fy_document *dw_schema_parse(struct dw_schema_ctx *ctx, const char *yaml, size_t len);
/** Decodes a mapping node (NULL = absent) into obj with schema; path is the key prefix. */
void dw_schema_decode_node(struct dw_schema_ctx *ctx, struct fy_node *node, const char *path,
                           const struct dw_schema *schema, void *obj);
/** Declares an id known from elsewhere (no position), for references. */
void dw_schema_predefine(struct dw_schema_ctx *ctx, const char *kind, const char *id);
/** Where ids of a kind are defined, for "undefined" messages ("people[].id"). */
void dw_schema_kind_hint(struct dw_schema_ctx *ctx, const char *kind, const char *where);
/** Value of key in a mapping node, or NULL. */
struct fy_node *dw_schema_lookup(struct fy_node *map, const char *key);
/** Reports every reference to an undefined id. */
void dw_schema_resolve_refs(struct dw_schema_ctx *ctx);
/** Ids of a kind defined so far, in definition order (borrowed, valid until ctx is freed). */
size_t dw_schema_ids(const struct dw_schema_ctx *ctx, const char *kind, const char **out,
                     size_t max);

#endif
