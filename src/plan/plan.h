/*
 * plan.h - the launch plan as configuration, and questions about it.
 *
 * One YAML file (libfyaml) describes the service being launched and its
 * monitoring plan: launch time and phases with review cadences, alert
 * priorities, incident severities, KPIs and baselines, retention, people,
 * teams, Slack channels, API tokens and server limits. Sections that later
 * modules own (scrape, probes, rules, notify, oncall, status, dashboards) are
 * recognised by name and kept as raw YAML for them.
 *
 * A loaded configuration is immutable and reference counted: the daemon swaps
 * in a new one on reload while readers finish with the old.
 */
#ifndef DW_PLAN_H
#define DW_PLAN_H

#include "core/core.h"

/* The classes of checks the plan reviews at a phase-dependent cadence. */
enum dw_check_class {
    DW_CLASS_SYSTEM_HEALTH,
    DW_CLASS_USER_EXPERIENCE,
    DW_CLASS_BUSINESS,
    DW_CLASS_PERFORMANCE_ANALYSIS,
    DW_CLASS_COUNT
};

enum dw_priority { DW_P0, DW_P1, DW_P2, DW_PRIORITY_COUNT };

enum dw_role { DW_ROLE_NONE, DW_ROLE_VIEWER, DW_ROLE_RESPONDER, DW_ROLE_ADMIN };

/** Interval 0 means "not reviewed in this phase" ("none" in YAML). */
struct dw_plan_phase {
    char *name;
    int64_t start_ms; /* offset from launch.at */
    int64_t end_ms;   /* offset from launch.at; INT64_MAX for the open-ended last phase */
    int64_t cadence_ms[DW_CLASS_COUNT];
};

/** An escalation target: "schedule:primary", "person:devops-lead", "team:engineering". */
struct dw_plan_target {
    char *kind; /* "schedule" | "person" | "team" */
    char *id;
};

struct dw_plan_priority {
    char *description;
    int64_t response_ms;
    int64_t resolution_ms;
    int64_t status_page_ms; /* 0 when no status-page deadline */
    char **channels;        /* "phone", "sms", "slack", "email", ... */
    size_t nchannels;
    struct dw_plan_target *escalation;
    size_t nescalation;
    bool business_hours_only;
    char *communication; /* e.g. "status_page", "internal_status", "daily_summary" */
};

struct dw_plan_severity {
    int level; /* 1..4 */
    char *name;
    char **examples;
    size_t nexamples;
};

/** A measurable objective: "value op target unit". */
struct dw_plan_objective {
    char *id;
    char *name;
    char *group; /* kpi: technical | user_experience | business; baseline: api | database | frontend */
    char *op;    /* "<", "<=", ">", ">=", "==" */
    double target;
    char *unit;  /* "percent", "ms", "seconds", "ratio", "score", "count", ... */
    char *description;
};

/** One row of the plan's Critical Metrics Dashboard checklist. */
struct dw_plan_check {
    char *id;
    char *title;
    enum dw_check_class cls;
    char *op; /* may be NULL for qualitative checks */
    double target;
    char *unit;
};

struct dw_plan_person {
    char *id;
    char *name;
    char *email;
    char *phone;
    char *slack;
    char *role; /* free text: "Primary Engineer", "DevOps Lead" ... */
};

struct dw_plan_team {
    char *id;
    char *name;
    char *lead; /* person id, may be NULL */
    char **members; /* person ids */
    size_t nmembers;
};

struct dw_plan_contact {
    char *role;   /* "Primary On-call", "CTO", "Cloud Provider Support" */
    char *kind;   /* technical | business | external */
    char *person; /* person id, or NULL for external contacts */
    char *detail; /* free text for external contacts */
};

struct dw_plan_channel {
    char *purpose; /* "monitoring", "incidents", "engineering", ... */
    char *name;    /* "#production-monitoring" */
};

struct dw_plan_token {
    char *name;
    enum dw_role role;
    char sha256[65]; /* hex hash; the plain token is never kept */
};

struct dw_plan_limits {
    uint64_t max_body_bytes;        /* default 1 MiB */
    uint64_t max_ingest_body_bytes; /* default 32 MiB */
    uint64_t max_header_bytes;      /* default 16 KiB */
    unsigned max_connections;       /* default 512 */
    int64_t connection_timeout_ms;  /* default 30 s */
};

struct dw_plan_growth {
    char *horizon; /* "month_1" ... */
    double user_base_increase_percent;
};

struct dw_config;

/** Loads and validates a file; on any error returns NULL and fills diags. */
struct dw_config *dw_config_load_file(const char *path, struct dw_diags *diags);
/** Same from memory; `name` is used as the file name in diagnostics. */
struct dw_config *dw_config_load_string(const char *name, const char *yaml, size_t len,
                                        struct dw_diags *diags);
struct dw_config *dw_config_ref(struct dw_config *cfg);
/** Drops a reference; frees on the last and sets *cfg to NULL. NULL is a no-op. */
void dw_config_unref(struct dw_config **cfg);

/** Lower-case hex SHA-256 of the file bytes the config was loaded from. */
const char *dw_config_hash(const struct dw_config *cfg);
const char *dw_config_path(const struct dw_config *cfg);

/* Service and server. */
const char *dw_config_service_name(const struct dw_config *cfg);
const char *dw_config_status_page_url(const struct dw_config *cfg);
const char *dw_config_dashboard_url(const struct dw_config *cfg);
const char *dw_config_listen(const struct dw_config *cfg); /* "127.0.0.1:9107" */
const char *dw_config_data_dir(const struct dw_config *cfg);
const char *dw_config_external_url(const struct dw_config *cfg);
const struct dw_plan_limits *dw_config_limits(const struct dw_config *cfg);
const struct dw_plan_token *dw_config_tokens(const struct dw_config *cfg, size_t *n);

/* The plan. */
int64_t dw_config_launch_at(const struct dw_config *cfg); /* ms since epoch */
const struct dw_plan_phase *dw_config_phases(const struct dw_config *cfg, size_t *n);
const struct dw_plan_priority *dw_config_priority(const struct dw_config *cfg, enum dw_priority p);
const struct dw_plan_severity *dw_config_severities(const struct dw_config *cfg, size_t *n);
const struct dw_plan_objective *dw_config_kpis(const struct dw_config *cfg, size_t *n);
const struct dw_plan_objective *dw_config_baselines(const struct dw_config *cfg, size_t *n);
const struct dw_plan_objective *dw_config_success_criteria(const struct dw_config *cfg, size_t *n);
const struct dw_plan_check *dw_config_checks(const struct dw_config *cfg, size_t *n);
const struct dw_plan_growth *dw_config_growth(const struct dw_config *cfg, size_t *n);
int64_t dw_config_retention_raw_ms(const struct dw_config *cfg);        /* default 90d */
int64_t dw_config_retention_aggregated_ms(const struct dw_config *cfg); /* default 1y */
const struct dw_plan_person *dw_config_people(const struct dw_config *cfg, size_t *n);
const struct dw_plan_team *dw_config_teams(const struct dw_config *cfg, size_t *n);
const struct dw_plan_contact *dw_config_contacts(const struct dw_config *cfg, size_t *n);
const struct dw_plan_channel *dw_config_channels(const struct dw_config *cfg, size_t *n);
const struct dw_plan_person *dw_config_find_person(const struct dw_config *cfg, const char *id);
const struct dw_plan_team *dw_config_find_team(const struct dw_config *cfg, const char *id);
/** Slack channel name for a purpose ("incidents" -> "#incidents"), or NULL. */
const char *dw_config_channel(const struct dw_config *cfg, const char *purpose);

/**
 * A section owned by a later module ("scrape", "probes", "rules", "notify",
 * "oncall", "status", "dashboards"), as the YAML text it was written in
 * (re-emitted by libfyaml), or NULL when absent.
 */
const char *dw_config_section_yaml(const struct dw_config *cfg, const char *section);

/* Questions about the plan at a time T (ms since epoch). */

/** Phase at T; before launch.at this is the first phase (the plan is armed). */
const struct dw_plan_phase *dw_plan_phase_at(const struct dw_config *cfg, int64_t t_ms);
/** True when T is before launch.at. */
bool dw_plan_before_launch(const struct dw_config *cfg, int64_t t_ms);
/** Review interval of class C at T (0 = not reviewed in that phase). */
int64_t dw_plan_interval_at(const struct dw_config *cfg, enum dw_check_class c, int64_t t_ms);
/** Absolute time at which the phase active at T ends (INT64_MAX for the last). */
int64_t dw_plan_next_phase_change(const struct dw_config *cfg, int64_t t_ms);

const char *dw_check_class_name(enum dw_check_class c);
/** -1 when unknown. */
int dw_check_class_parse(const char *s);
const char *dw_priority_name(enum dw_priority p);
int dw_priority_parse(const char *s);
const char *dw_role_name(enum dw_role r);
/** DW_ROLE_NONE when unknown. */
enum dw_role dw_role_parse(const char *s);

/** Role of a bearer token, DW_ROLE_NONE when it matches no configured token. */
enum dw_role dw_config_token_role(const struct dw_config *cfg, const char *token,
                                  const char **out_name);

#endif
