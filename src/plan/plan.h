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

#include <stddef.h>

#include "auth/auth.h"
#include "core/core.h"
#include "store/store.h"

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
    char **channels; /* "phone", "sms", "email", "slack:<purpose>" ("slack" = slack:incidents) */
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
    char *group; /* kpi: technical | user_experience | business; baseline: api | database | frontend
                  */
    char *op;    /* "<", "<=", ">", ">=", "==" */
    double target;
    char *unit; /* "percent", "ms", "seconds", "ratio", "score", "count", ... */
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
    char *lead;     /* person id, may be NULL */
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

/** When the write-ahead log is fsynced (storage.wal_fsync). */
enum dw_plan_fsync {
    DW_PLAN_FSYNC_INTERVAL = 0, /* group fsync every wal_fsync_interval (default) */
    DW_PLAN_FSYNC_NEVER = 1,    /* left to the kernel: survives kill -9, not a power loss */
    DW_PLAN_FSYNC_ALWAYS = 2,   /* before each write is acknowledged */
};

/** The storage section: durability and the limits on what ingestion may create. */
struct dw_plan_storage {
    int wal_fsync;                   /* enum dw_plan_fsync */
    int64_t wal_fsync_interval_ms;   /* default 1 s */
    int64_t max_series;              /* active series in the head; default 1,000,000 */
    int64_t max_labels_per_series;   /* including __name__; default 64 */
    uint64_t max_label_name_bytes;   /* default 256 */
    uint64_t max_label_value_bytes;  /* default 4 KiB */
    int64_t max_samples_per_request; /* default 1,000,000 */
};

/** The query section: what one PromQL query may cost. */
struct dw_plan_query {
    int64_t max_samples; /* samples loaded or held at once; default 50,000,000 */
    int64_t timeout_ms;  /* default 2 min; a request's timeout parameter may only lower it */
    int64_t lookback_ms; /* default 5 min */
    uint64_t max_length; /* bytes of query text; default 64 KiB */
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
/** auth.users[]: the sign-in accounts, checked (names, Argon2id hashes) at load. */
const struct dw_auth_user *dw_config_users(const struct dw_config *cfg, size_t *n);
/** auth.cookie_secure, auth.sessions and auth.lockout, with their defaults. */
const struct dw_auth_settings *dw_config_auth_settings(const struct dw_config *cfg);

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
/** capacity.autoscale_cpu_percent (the seed's "CPU utilization > 70%"), 0 when unset. */
double dw_config_autoscale_cpu_percent(const struct dw_config *cfg);
const struct dw_plan_storage *dw_config_storage(const struct dw_config *cfg);
const struct dw_plan_query *dw_config_query(const struct dw_config *cfg);
int64_t dw_config_retention_raw_ms(const struct dw_config *cfg);        /* default 90d */
int64_t dw_config_retention_aggregated_ms(const struct dw_config *cfg); /* default 1y */
const struct dw_plan_person *dw_config_people(const struct dw_config *cfg, size_t *n);
const struct dw_plan_team *dw_config_teams(const struct dw_config *cfg, size_t *n);
const struct dw_plan_contact *dw_config_contacts(const struct dw_config *cfg, size_t *n);
const struct dw_plan_channel *dw_config_channels(const struct dw_config *cfg, size_t *n);
const struct dw_plan_person *dw_config_find_person(const struct dw_config *cfg, const char *id);
const struct dw_plan_team *dw_config_find_team(const struct dw_config *cfg, const char *id);
/** True when oncall.schedules[] declares this id (escalation "schedule:<id>"). */
bool dw_config_has_schedule(const struct dw_config *cfg, const char *id);
/** Slack channel name for a purpose ("incidents" -> "#incidents"), or NULL. */
const char *dw_config_channel(const struct dw_config *cfg, const char *purpose);

/**
 * A section owned by a later module ("scrape", "probes", "rules", "notify",
 * "oncall", "status", "dashboards"), as the YAML text it was written in
 * (re-emitted by libfyaml), or NULL when absent.
 */
const char *dw_config_section_yaml(const struct dw_config *cfg, const char *section);

/* Questions about the plan at a time T (ms since epoch). */

/**
 * Phase at T: the one with start <= T - launch.at < end, so a boundary instant
 * belongs to the phase that begins there. Before launch.at this is the first
 * phase (the plan is armed); after a closed last phase, that last phase.
 */
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

/** Validates the sections a later module owns (collect's scrape and probes...);
 *  returns the number of errors added to diags. */
typedef size_t (*dw_config_section_check_fn)(const struct dw_config *cfg, struct dw_diags *diags);

/** Loads, validates and summarises a file for `dojowatch check-config`.
 * Every problem goes to diags (errors and "warning: " items); summary gets a
 * few human lines (service, launch, phases, tokens...). `sections` (may be
 * NULL) validates the module-owned sections of a file that loaded. Returns 0
 * when there are no errors, -1 otherwise. summary may be NULL. */
int dw_config_check_file(const char *path, struct dw_diags *diags, struct dw_buf *summary,
                         dw_config_section_check_fn sections);

/* ---- YAML documents (yaml.c): libfyaml set up once for every loader ---- */

struct fy_document;
struct fy_node;

/** Called for each error libfyaml reports: its line, column and message. */
typedef void (*dw_yaml_error_fn)(void *user, int line, int col, const char *msg);

/**
 * Parses the first document of text[0..len) with libfyaml, printing
 * nothing. flags are libfyaml's parse flags (FYPCF_*), FYPCF_QUIET added.
 * Returns the document (the caller destroys it), or NULL after giving each
 * error to on_error ("syntax error" when libfyaml has no message); NULL
 * without an error for empty or comment-only input. Later libfyaml calls on
 * the document print nothing either.
 */
struct fy_document *dw_yaml_parse(const char *text, size_t len, unsigned flags,
                                  dw_yaml_error_fn on_error, void *user);
/** Resolves aliases and merge keys (fy_document_resolve) quietly: 0, or -1
 *  after giving each error to on_error. */
int dw_yaml_resolve(struct fy_document *doc, dw_yaml_error_fn on_error, void *user);

/** YAML's null: no node, or a plain empty, ~, null, Null or NULL scalar. */
bool dw_yaml_is_null(struct fy_node *n);
/** For messages: "nothing" (null), "a mapping", "a sequence" or "a scalar". */
const char *dw_yaml_kind(struct fy_node *n);

/** Called for a key repeated in one mapping: the repeat and the key's first occurrence. */
typedef void (*dw_yaml_repeat_fn)(void *user, const char *key, struct fy_node *repeat,
                                  struct fy_node *first);
/* Keys that are aliases count as the scalar they name, and merge keys (<<)
 * may repeat: for trees read without fy_document_resolve(). */
#define DW_YAML_KEYS_THROUGH_ALIASES 0x1u

/**
 * Finds the keys repeated in the mapping `map` (not in the mappings below
 * it) and calls on_repeat for each repeat, ordered by key, then by position.
 * Keys that are not scalars are passed over. Returns the number of repeats.
 */
size_t dw_yaml_repeated_keys(struct fy_node *map, unsigned flags, dw_yaml_repeat_fn on_repeat,
                             void *user);

/* ---- the schema walker: declarative decoding of YAML into C structs ----
 *
 * A section is described by a table of fields. The walker decodes a YAML
 * mapping into a zeroed struct, collecting every problem into dw_diags with
 * "file:line:col: key.path: message": unknown keys (with "did you mean"),
 * wrong types, bad durations/sizes/times, enum values, missing required keys,
 * out-of-range numbers, duplicate ids and undefined references. Scalars get
 * ${VAR} / ${VAR:-default} environment expansion before they are parsed.
 * Modules that own a config section (rules, probes, notify, oncall...) decode
 * it with dw_config_decode_section() using their own table.
 */

enum dw_schema_type {
    DW_SCHEMA_STRING,      /* char * (heap); honours .values and DW_SCHEMA_URL */
    DW_SCHEMA_DURATION,    /* int64_t ms, "15m"; with DW_SCHEMA_NONE_ZERO "none" is 0 */
    DW_SCHEMA_BYTES,       /* uint64_t, "32MiB" */
    DW_SCHEMA_INT,         /* int32_t or int64_t by .size (an `unsigned` field fits int32 bounds) */
    DW_SCHEMA_NUMBER,      /* double */
    DW_SCHEMA_BOOL,        /* bool, true | false */
    DW_SCHEMA_TIME,        /* int64_t ms since epoch, RFC 3339 */
    DW_SCHEMA_ENUM,        /* int: index of the name in .values ("" entries cannot be chosen) */
    DW_SCHEMA_SECRET_HASH, /* char[65]: SHA-256 hex of the value; the plain text is wiped */
    DW_SCHEMA_CUSTOM,      /* scalar through .decode, freed with .release */
    DW_SCHEMA_OBJECT,      /* embedded struct decoded with .sub */
    DW_SCHEMA_LIST,        /* T *items at .offset, size_t count at .count_offset, T is .elem */
    DW_SCHEMA_MAP,         /* free keys: like LIST; each element starts with char *key, then
                              char *value (.elem STRING) or the .sub object (.elem OBJECT) */
    DW_SCHEMA_YAML,        /* char *: the node re-emitted as YAML text, not interpreted */
};

#define DW_SCHEMA_REQUIRED 0x1u  /* a missing key is an error */
#define DW_SCHEMA_NONE_ZERO 0x2u /* durations: "none" means 0 (not reviewed / disabled) */
#define DW_SCHEMA_URL 0x4u       /* strings: must start with http:// or https:// */

struct dw_schema_ctx;
struct dw_schema;

/** Custom scalar decoder: value is expanded text; reports with dw_schema_error(). */
typedef bool (*dw_schema_scalar_fn)(struct dw_schema_ctx *ctx, const char *value, void *dst);
/** Check run on a decoded object (or a whole section) to report semantic problems. */
typedef void (*dw_schema_check_fn)(struct dw_schema_ctx *ctx, void *obj);

struct dw_schema_field {
    const char *name;
    enum dw_schema_type type;
    unsigned flags;
    size_t offset;               /* of the value in the decoded struct */
    size_t size;                 /* INT/ENUM: sizeof the member; LIST/MAP: sizeof one element */
    size_t count_offset;         /* LIST/MAP: of the size_t element count */
    enum dw_schema_type elem;    /* LIST/MAP: element type */
    const struct dw_schema *sub; /* OBJECT, and LIST/MAP of OBJECT */
    const char *const *values;   /* NULL-terminated: ENUM names, allowed STRING values */
    int64_t min, max;            /* INT/BYTES/DURATION/NUMBER bounds, used when min < max */
    const char *def;             /* default, written as in YAML; NULL for none */
    const char *defines;         /* STRING (or MAP keys): an id of this kind, unique */
    const char *refers;          /* STRING: must be a defined id of this kind */
    dw_schema_scalar_fn decode;  /* CUSTOM */
    void (*release)(void *dst);  /* CUSTOM: frees what decode stored, may be NULL */
    const char *expect;          /* CUSTOM: "an escalation target like person:alice" */
};

struct dw_schema {
    const struct dw_schema_field *fields;
    size_t nfields;
    bool open;                /* unknown keys are ignored instead of reported */
    dw_schema_check_fn check; /* after the object is decoded; may be NULL */
};

/** Element layout of a MAP of strings (e.g. slack.channels). */
struct dw_schema_pair {
    char *key;
    char *value;
};

#define DW_SCHEMA_AT(type, member)                                                                 \
    .offset = offsetof(type, member), .size = sizeof(((type *)0)->member)
#define DW_SCHEMA_LIST_AT(type, member, count)                                                     \
    .offset = offsetof(type, member), .size = sizeof(*((type *)0)->member),                        \
    .count_offset = offsetof(type, count)

/**
 * Decodes a YAML document held in memory (its root must be a mapping) into
 * `out`, which the caller zeroed. `file` names the source in diagnostics.
 * `finish` (may be NULL) runs after the walk for cross-object checks, before
 * references are resolved. Returns the number of errors added to diags; on
 * any error the caller still owns `out` and frees it with dw_schema_free().
 */
size_t dw_schema_decode_string(const char *file, const char *yaml, size_t len,
                               const struct dw_schema *schema, void *out, dw_schema_check_fn finish,
                               struct dw_diags *diags);
/**
 * Decodes one later-issue section of a loaded config ("oncall", "rules"...)
 * from the original file text, so positions are those of the file. Ids the
 * config defines are known for references: person, team, schedule, channel
 * (Slack purpose), phase. An absent section decodes as an empty mapping.
 * Same return and ownership as dw_schema_decode_string(). Thread-safe.
 */
size_t dw_config_decode_section(const struct dw_config *cfg, const char *section,
                                const struct dw_schema *schema, void *out,
                                dw_schema_check_fn finish, struct dw_diags *diags);
/** CUSTOM decoders shared by every section that names escalation targets and channels:
 *  "schedule:<id>" / "person:<id>" / "team:<id>" into a struct dw_plan_target (reference
 *  checked), and "phone" / "sms" / "email" / "slack[:<purpose>]" into a char *
 *  ("slack" is slack:incidents). */
bool dw_schema_decode_target(struct dw_schema_ctx *ctx, const char *value, void *dst);
void dw_schema_release_target(void *dst);
bool dw_schema_decode_channel(struct dw_schema_ctx *ctx, const char *value, void *dst);
/** Releases a char * field (for CUSTOM string decoders). */
void dw_schema_release_string(void *dst);
/** Frees everything the walker stored in obj (not obj itself). NULL is a no-op. */
void dw_schema_free(const struct dw_schema *schema, void *obj);

/** Reports an error at the node being decoded (for custom decoders and checks). */
void dw_schema_error(struct dw_schema_ctx *ctx, const char *fmt, ...) DW_PRINTF(2, 3);
/**
 * Reports at the position and key path where the value stored at `addr` was
 * read (any decoded field, element or object); a message starting with
 * "warning: " is a warning. Falls back to the current node when addr was
 * not read from the file (e.g. a missing optional key).
 */
void dw_schema_error_at(struct dw_schema_ctx *ctx, const void *addr, const char *fmt, ...)
    DW_PRINTF(3, 4);
/** True when the value at addr was read from the file (not absent or defaulted). */
bool dw_schema_seen(const struct dw_schema_ctx *ctx, const void *addr);
/** Declares id of kind at the current node; a second definition is an error. */
void dw_schema_define(struct dw_schema_ctx *ctx, const char *kind, const char *id);
/** Records that the current node needs id of kind; checked when the walk ends. */
void dw_schema_ref(struct dw_schema_ctx *ctx, const char *kind, const char *id);

/**
 * Expands ${VAR} and ${VAR:-default} (default also when VAR is empty); "$${"
 * is a literal "${". Returns a heap string, or NULL on a malformed reference.
 * *unset (may be NULL) is set when a variable without default was unset.
 */
char *dw_plan_expand_env(const char *s, bool *unset);

/* ---- checklist reviews (review.c), kept in the store ----
 *
 * The seed's Critical Metrics Dashboard rows are checkboxes reviewed at the
 * cadence of the current phase. A responder records a review; the plan says
 * when each row is next due and whether it is overdue.
 */

enum { DW_PLAN_REVIEW_UNKNOWN_CHECK = -2, DW_PLAN_REVIEW_BAD_INPUT = -3 };

struct dw_plan_review_status {
    int64_t interval_ms; /* cadence of the check's class now; 0 = not reviewed in this phase */
    int64_t last_ms;     /* last review, 0 when never */
    int64_t due_ms;      /* next review due (launch time when never reviewed); 0 when no cadence */
    bool overdue;        /* after launch and past due */
    char last_by[64];    /* who reviewed last ("" when never) */
};

/** Creates the review table (the "plan" component's migrations). */
int dw_plan_review_migrate(struct dw_store *s, char **err);
/**
 * Records a review of check_id by `by` at at_ms with an optional note (at
 * most 4 KiB). Returns 0, DW_PLAN_REVIEW_UNKNOWN_CHECK, DW_PLAN_REVIEW_BAD_INPUT
 * or -1 for a store failure; *err (caller frees) says why.
 */
int dw_plan_review_record(struct dw_store *s, const struct dw_config *cfg, const char *check_id,
                          const char *by, const char *note, int64_t at_ms, char **err);
/** Review state of one check at `now` (s may be NULL: never reviewed). */
void dw_plan_review_status(struct dw_store *s, const struct dw_config *cfg,
                           const struct dw_plan_check *check, int64_t now,
                           struct dw_plan_review_status *out);

#endif
