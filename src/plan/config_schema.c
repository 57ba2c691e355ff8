/*
 * config_schema.c - DESIGN: the shape of dojowatch's configuration file as
 * schema tables, plus the checks that need more than one value.
 *
 * Each section is a table of struct dw_schema_field; schema.c walks the YAML
 * with them. Per-object checks (a phase, a priority, a token) run right after
 * the object is decoded; dw_plan_check_doc() runs once after the whole walk
 * for cross-object rules (phases contiguous, severity levels unique...).
 * References (people, teams, schedules, Slack channel purposes) are only
 * recorded here; the walker resolves them at the end.
 *
 * Everything here is constant data or runs inside one load, on one thread.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "plan_internal.h"

#define HOUR_MS (3600LL * 1000)
#define DAY_MS (24 * HOUR_MS)
#define YEAR_MS (365 * DAY_MS)

_Static_assert(sizeof(enum dw_check_class) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(struct dw_plan_channel) == sizeof(struct dw_schema_pair) &&
                   offsetof(struct dw_plan_channel, name) == offsetof(struct dw_schema_pair, value),
               "slack channels are decoded as a map of strings");

/* clang-format off */
const char *const dw_plan_section_names[PLAN_SEC_COUNT] = {
    "scrape", "probes", "rules", "notify", "oncall", "status", "dashboards", "incidents",
    "alerting",
};
/* clang-format on */

static const char *const class_names[] = {
    "system_health", "user_experience", "business", "performance_analysis", NULL,
};
static const char *const role_names[] = {"", "viewer", "responder", "admin", NULL};
static const char *const op_names[] = {"<", "<=", ">", ">=", "==", NULL};
static const char *const contact_kinds[] = {"technical", "business", "external", NULL};
static const char *const communications[] = {"status_page", "internal_status", "daily_summary",
                                             NULL};

#define N(fields) (sizeof(fields) / sizeof((fields)[0]))

/* ---- service, server, auth ---- */

/* clang-format off */
static const struct dw_schema_field service_fields[] = {
    {.name = "name", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct plan_service, name)},
    {.name = "environment", .type = DW_SCHEMA_STRING, .def = "production",
     DW_SCHEMA_AT(struct plan_service, environment)},
    {.name = "status_page_url", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_URL,
     DW_SCHEMA_AT(struct plan_service, status_page_url)},
    {.name = "dashboard_url", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_URL,
     DW_SCHEMA_AT(struct plan_service, dashboard_url)},
};
/* clang-format on */
static const struct dw_schema service_schema = {service_fields, N(service_fields), false, NULL};

/* clang-format off */
static const struct dw_schema_field limits_fields[] = {
    {.name = "max_body_bytes", .type = DW_SCHEMA_BYTES, .def = "1MiB", .min = 1024,
     .max = 1LL << 30, DW_SCHEMA_AT(struct dw_plan_limits, max_body_bytes)},
    {.name = "max_ingest_body_bytes", .type = DW_SCHEMA_BYTES, .def = "32MiB", .min = 1024,
     .max = 1LL << 30, DW_SCHEMA_AT(struct dw_plan_limits, max_ingest_body_bytes)},
    {.name = "max_header_bytes", .type = DW_SCHEMA_BYTES, .def = "16KiB", .min = 1024,
     .max = 1LL << 20, DW_SCHEMA_AT(struct dw_plan_limits, max_header_bytes)},
    {.name = "max_connections", .type = DW_SCHEMA_INT, .def = "512", .min = 1, .max = 100000,
     DW_SCHEMA_AT(struct dw_plan_limits, max_connections)},
    {.name = "connection_timeout", .type = DW_SCHEMA_DURATION, .def = "30s", .min = 1000,
     .max = HOUR_MS, DW_SCHEMA_AT(struct dw_plan_limits, connection_timeout_ms)},
};
/* clang-format on */
static const struct dw_schema limits_schema = {limits_fields, N(limits_fields), false, NULL};

/* clang-format off */
static const struct dw_schema_field server_fields[] = {
    {.name = "listen", .type = DW_SCHEMA_STRING, .def = "127.0.0.1:9107",
     DW_SCHEMA_AT(struct plan_server, listen)},
    {.name = "data_dir", .type = DW_SCHEMA_STRING, .def = "./data",
     DW_SCHEMA_AT(struct plan_server, data_dir)},
    {.name = "external_url", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_URL,
     DW_SCHEMA_AT(struct plan_server, external_url)},
    {.name = "limits", .type = DW_SCHEMA_OBJECT, .sub = &limits_schema,
     DW_SCHEMA_AT(struct plan_server, limits)},
};
/* clang-format on */
static const struct dw_schema server_schema = {server_fields, N(server_fields), false, NULL};

static bool is_sha256_hex(char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!isxdigit((unsigned char)s[n]))
            return false;
    return n == 64;
}

static void check_token(struct dw_schema_ctx *ctx, void *obj)
{
    struct plan_token_in *t = obj;
    bool plain = dw_schema_seen(ctx, t->token_hash), hashed = dw_schema_seen(ctx, &t->token_sha256);
    if (plain && hashed) {
        dw_schema_error_at(ctx, &t->token_sha256, "give either token or token_sha256, not both");
    } else if (!plain && !hashed) {
        dw_schema_error(ctx, "missing token or token_sha256");
    } else if (hashed && !is_sha256_hex(t->token_sha256)) {
        dw_schema_error_at(ctx, &t->token_sha256,
                           "expected 64 hexadecimal digits (a SHA-256), got %zu characters",
                           strlen(t->token_sha256));
    } else if (hashed) {
        for (char *p = t->token_sha256; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    } else if (!t->token_hash[0]) {
        dw_schema_error_at(ctx, t->token_hash, "warning: token is empty; it is disabled");
    }
}

/* clang-format off */
static const struct dw_schema_field token_fields[] = {
    {.name = "name", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED, .defines = "token",
     DW_SCHEMA_AT(struct plan_token_in, name)},
    {.name = "role", .type = DW_SCHEMA_ENUM, .flags = DW_SCHEMA_REQUIRED, .values = role_names,
     DW_SCHEMA_AT(struct plan_token_in, role)},
    {.name = "token", .type = DW_SCHEMA_SECRET_HASH,
     DW_SCHEMA_AT(struct plan_token_in, token_hash)},
    {.name = "token_sha256", .type = DW_SCHEMA_STRING,
     DW_SCHEMA_AT(struct plan_token_in, token_sha256)},
};
/* clang-format on */
static const struct dw_schema token_schema = {token_fields, N(token_fields), false, check_token};

/* auth.users[]: sign-in accounts. The auth module judges names and hashes,
 * so check-config and the daemon agree on what can sign in. An empty hash
 * (e.g. ${VAR:-} with VAR unset) disables the account without a warning:
 * the default says so on purpose. */
static void check_user(struct dw_schema_ctx *ctx, void *obj)
{
    struct dw_auth_user *u = obj;
    char *why = NULL;
    if (u->name && !dw_auth_name_check(u->name, &why))
        dw_schema_error_at(ctx, &u->name, "%s", why);
    free(why);
    why = NULL;
    if (u->password_hash && u->password_hash[0]) {
        int rc = dw_auth_hash_check(u->password_hash, &why);
        if (rc != 0)
            dw_schema_error_at(ctx, &u->password_hash, "%s%s", rc > 0 ? "warning: " : "", why);
    }
    free(why);
}

/* clang-format off */
static const struct dw_schema_field user_fields[] = {
    {.name = "name", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED, .defines = "user",
     DW_SCHEMA_AT(struct dw_auth_user, name)},
    {.name = "role", .type = DW_SCHEMA_ENUM, .flags = DW_SCHEMA_REQUIRED, .values = role_names,
     DW_SCHEMA_AT(struct dw_auth_user, role)},
    {.name = "password_hash", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dw_auth_user, password_hash)},
};
/* clang-format on */
static const struct dw_schema user_schema = {user_fields, N(user_fields), false, check_user};

/* clang-format off */
static const struct dw_schema_field sessions_fields[] = {
    {.name = "idle_timeout", .type = DW_SCHEMA_DURATION, .def = "12h", .min = 60000,
     .max = 30 * DAY_MS, DW_SCHEMA_AT(struct dw_auth_session_limits, idle_timeout_ms)},
    {.name = "max_lifetime", .type = DW_SCHEMA_DURATION, .def = "7d", .min = 60000,
     .max = YEAR_MS, DW_SCHEMA_AT(struct dw_auth_session_limits, max_lifetime_ms)},
    {.name = "max_per_user", .type = DW_SCHEMA_INT, .def = "10", .min = 1, .max = 1000,
     DW_SCHEMA_AT(struct dw_auth_session_limits, max_per_user)},
};
/* clang-format on */
static const struct dw_schema sessions_schema = {sessions_fields, N(sessions_fields), false, NULL};

static void check_lockout(struct dw_schema_ctx *ctx, void *obj)
{
    struct dw_auth_lockout_limits *l = obj;
    if (l->max_cooldown_ms < l->cooldown_ms)
        dw_schema_error_at(ctx, &l->max_cooldown_ms, "must be at least cooldown");
}

/* clang-format off */
static const struct dw_schema_field lockout_fields[] = {
    {.name = "max_failures", .type = DW_SCHEMA_INT, .def = "5", .min = 1, .max = 1000,
     DW_SCHEMA_AT(struct dw_auth_lockout_limits, max_failures)},
    {.name = "max_failures_per_client", .type = DW_SCHEMA_INT, .def = "20", .min = 0,
     .max = 100000, DW_SCHEMA_AT(struct dw_auth_lockout_limits, max_failures_per_client)},
    {.name = "window", .type = DW_SCHEMA_DURATION, .def = "15m", .min = 1000, .max = DAY_MS,
     DW_SCHEMA_AT(struct dw_auth_lockout_limits, window_ms)},
    {.name = "cooldown", .type = DW_SCHEMA_DURATION, .def = "1m", .min = 1000, .max = DAY_MS,
     DW_SCHEMA_AT(struct dw_auth_lockout_limits, cooldown_ms)},
    {.name = "max_cooldown", .type = DW_SCHEMA_DURATION, .def = "1h", .min = 1000,
     .max = 7 * DAY_MS, DW_SCHEMA_AT(struct dw_auth_lockout_limits, max_cooldown_ms)},
};
/* clang-format on */
static const struct dw_schema lockout_schema = {lockout_fields, N(lockout_fields), false,
                                                check_lockout};

/* clang-format off */
static const struct dw_schema_field auth_fields[] = {
    {.name = "tokens", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT, .sub = &token_schema,
     DW_SCHEMA_LIST_AT(struct plan_auth, tokens, ntokens)},
    {.name = "users", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT, .sub = &user_schema,
     DW_SCHEMA_LIST_AT(struct plan_auth, users, nusers)},
    {.name = "cookie_secure", .type = DW_SCHEMA_BOOL, .def = "false",
     DW_SCHEMA_AT(struct plan_auth, settings.cookie_secure)},
    {.name = "sessions", .type = DW_SCHEMA_OBJECT, .sub = &sessions_schema,
     DW_SCHEMA_AT(struct plan_auth, settings.sessions)},
    {.name = "lockout", .type = DW_SCHEMA_OBJECT, .sub = &lockout_schema,
     DW_SCHEMA_AT(struct plan_auth, settings.lockout)},
};
/* clang-format on */
static const struct dw_schema auth_schema = {auth_fields, N(auth_fields), false, NULL};

/* ---- launch and phases ---- */

#define CADENCE(cls)                                                                               \
    {                                                                                              \
        .name = #cls, .type = DW_SCHEMA_DURATION,                                                  \
        .flags = DW_SCHEMA_REQUIRED | DW_SCHEMA_NONE_ZERO, .offset = DW_CLASS_##cls##_OFFSET,      \
        .size = sizeof(int64_t)                                                                    \
    }
enum {
    DW_CLASS_system_health_OFFSET = DW_CLASS_SYSTEM_HEALTH * sizeof(int64_t),
    DW_CLASS_user_experience_OFFSET = DW_CLASS_USER_EXPERIENCE * sizeof(int64_t),
    DW_CLASS_business_OFFSET = DW_CLASS_BUSINESS * sizeof(int64_t),
    DW_CLASS_performance_analysis_OFFSET = DW_CLASS_PERFORMANCE_ANALYSIS * sizeof(int64_t),
};
/* Decoded into dw_plan_phase.cadence_ms[]: one required key per class. */
/* clang-format off */
static const struct dw_schema_field cadence_fields[] = {
    CADENCE(system_health),
    CADENCE(user_experience),
    CADENCE(business),
    CADENCE(performance_analysis),
};
/* clang-format on */
static const struct dw_schema cadence_schema = {cadence_fields, N(cadence_fields), false, NULL};

static void check_phase(struct dw_schema_ctx *ctx, void *obj)
{
    struct dw_plan_phase *ph = obj;
    if (!dw_schema_seen(ctx, &ph->end_ms))
        ph->end_ms = INT64_MAX; /* open-ended; only the last phase may be */
    else if (dw_schema_seen(ctx, &ph->start_ms) && ph->end_ms <= ph->start_ms)
        dw_schema_error_at(ctx, &ph->end_ms, "end must be after start");
}

/* clang-format off */
static const struct dw_schema_field phase_fields[] = {
    {.name = "name", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED, .defines = "phase",
     DW_SCHEMA_AT(struct dw_plan_phase, name)},
    {.name = "start", .type = DW_SCHEMA_DURATION, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dw_plan_phase, start_ms)},
    {.name = "end", .type = DW_SCHEMA_DURATION, DW_SCHEMA_AT(struct dw_plan_phase, end_ms)},
    {.name = "cadence", .type = DW_SCHEMA_OBJECT, .flags = DW_SCHEMA_REQUIRED,
     .sub = &cadence_schema, DW_SCHEMA_AT(struct dw_plan_phase, cadence_ms)},
};
/* clang-format on */
static const struct dw_schema phase_schema = {phase_fields, N(phase_fields), false, check_phase};

/* clang-format off */
static const struct dw_schema_field launch_fields[] = {
    {.name = "at", .type = DW_SCHEMA_TIME, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct plan_launch, at)},
    {.name = "phases", .type = DW_SCHEMA_LIST, .flags = DW_SCHEMA_REQUIRED,
     .elem = DW_SCHEMA_OBJECT, .sub = &phase_schema,
     DW_SCHEMA_LIST_AT(struct plan_launch, phases, nphases)},
};
/* clang-format on */
static const struct dw_schema launch_schema = {launch_fields, N(launch_fields), false, NULL};

/* ---- priorities ---- */

/* "schedule:primary", "person:devops-lead", "team:engineering". */
bool dw_schema_decode_target(struct dw_schema_ctx *ctx, const char *value, void *dst)
{
    static const char *const kinds[] = {"schedule", "person", "team"};
    const char *colon = strchr(value, ':');
    if (!colon || !colon[1])
        return false;
    size_t klen = (size_t)(colon - value);
    for (size_t i = 0; i < DW_ARRAY_LEN(kinds); i++) {
        if (strlen(kinds[i]) != klen || strncmp(value, kinds[i], klen) != 0)
            continue;
        struct dw_plan_target *t = dst;
        t->kind = dw_strdup(kinds[i]);
        t->id = dw_strdup(colon + 1);
        dw_schema_ref(ctx, t->kind, t->id);
        return true;
    }
    return false;
}

void dw_schema_release_target(void *dst)
{
    struct dw_plan_target *t = dst;
    free(t->kind);
    free(t->id);
    t->kind = t->id = NULL;
}

/* "phone", "sms", "email", "slack:<purpose>"; plain "slack" means slack:incidents. */
bool dw_schema_decode_channel(struct dw_schema_ctx *ctx, const char *value, void *dst)
{
    char **out = dst;
    if (strcmp(value, "phone") == 0 || strcmp(value, "sms") == 0 || strcmp(value, "email") == 0) {
        *out = dw_strdup(value);
        return true;
    }
    const char *purpose = strcmp(value, "slack") == 0          ? "incidents"
                          : dw_str_has_prefix(value, "slack:") ? value + 6
                                                               : NULL;
    if (!purpose || !*purpose)
        return false;
    *out = dw_asprintf("slack:%s", purpose);
    dw_schema_ref(ctx, "channel", purpose);
    return true;
}

void dw_schema_release_string(void *dst)
{
    char **s = dst;
    free(*s);
    *s = NULL;
}

static void check_priority(struct dw_schema_ctx *ctx, void *obj)
{
    struct dw_plan_priority *p = obj;
    if (p->response_ms > p->resolution_ms && dw_schema_seen(ctx, &p->resolution_ms)) {
        char a[32], b[32];
        dw_format_duration(p->response_ms, a, sizeof a);
        dw_format_duration(p->resolution_ms, b, sizeof b);
        dw_schema_error_at(ctx, &p->response_ms,
                           "response time (%s) is longer than resolution time (%s)", a, b);
    }
}

/* clang-format off */
static const struct dw_schema_field priority_fields[] = {
    {.name = "description", .type = DW_SCHEMA_STRING,
     DW_SCHEMA_AT(struct dw_plan_priority, description)},
    {.name = "response", .type = DW_SCHEMA_DURATION, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dw_plan_priority, response_ms)},
    {.name = "resolution", .type = DW_SCHEMA_DURATION, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dw_plan_priority, resolution_ms)},
    {.name = "status_page_within", .type = DW_SCHEMA_DURATION, .flags = DW_SCHEMA_NONE_ZERO,
     DW_SCHEMA_AT(struct dw_plan_priority, status_page_ms)},
    {.name = "channels", .type = DW_SCHEMA_LIST, .flags = DW_SCHEMA_REQUIRED,
     .elem = DW_SCHEMA_CUSTOM, .decode = dw_schema_decode_channel, .release = dw_schema_release_string,
     .expect = "a channel like phone, sms, email, slack or slack:<purpose>",
     DW_SCHEMA_LIST_AT(struct dw_plan_priority, channels, nchannels)},
    {.name = "escalation", .type = DW_SCHEMA_LIST, .flags = DW_SCHEMA_REQUIRED,
     .elem = DW_SCHEMA_CUSTOM, .decode = dw_schema_decode_target, .release = dw_schema_release_target,
     .expect = "an escalation target like schedule:primary, person:<id> or team:<id>",
     DW_SCHEMA_LIST_AT(struct dw_plan_priority, escalation, nescalation)},
    {.name = "business_hours_only", .type = DW_SCHEMA_BOOL, .def = "false",
     DW_SCHEMA_AT(struct dw_plan_priority, business_hours_only)},
    {.name = "communication", .type = DW_SCHEMA_STRING, .values = communications,
     DW_SCHEMA_AT(struct dw_plan_priority, communication)},
};
/* clang-format on */
static const struct dw_schema priority_schema = {priority_fields, N(priority_fields), false,
                                                 check_priority};

#define PRIORITY(p)                                                                                \
    {                                                                                              \
        .name = #p, .type = DW_SCHEMA_OBJECT, .flags = DW_SCHEMA_REQUIRED,                         \
        .sub = &priority_schema, .offset = DW_##p * sizeof(struct dw_plan_priority)                \
    }
/* Decoded into plan_doc.priorities[]: P0, P1 and P2 must all be there. */
/* clang-format off */
static const struct dw_schema_field priorities_fields[] = {PRIORITY(P0), PRIORITY(P1),
                                                           PRIORITY(P2)};
/* clang-format on */
static const struct dw_schema priorities_schema = {priorities_fields, N(priorities_fields), false,
                                                   NULL};

/* ---- severities, objectives, checks ---- */

/* clang-format off */
static const struct dw_schema_field severity_fields[] = {
    {.name = "level", .type = DW_SCHEMA_INT, .flags = DW_SCHEMA_REQUIRED, .min = 1, .max = 4,
     DW_SCHEMA_AT(struct dw_plan_severity, level)},
    {.name = "name", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dw_plan_severity, name)},
    {.name = "examples", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct dw_plan_severity, examples, nexamples)},
};
/* clang-format on */
static const struct dw_schema severity_schema = {severity_fields, N(severity_fields), false, NULL};

#define OBJECTIVE_FIELDS(kind)                                                                     \
    {.name = "id",                                                                                 \
     .type = DW_SCHEMA_STRING,                                                                     \
     .flags = DW_SCHEMA_REQUIRED,                                                                  \
     .defines = kind,                                                                              \
     DW_SCHEMA_AT(struct dw_plan_objective, id)},                                                  \
        {.name = "name",                                                                           \
         .type = DW_SCHEMA_STRING,                                                                 \
         .flags = DW_SCHEMA_REQUIRED,                                                              \
         DW_SCHEMA_AT(struct dw_plan_objective, name)},                                            \
        {.name = "group",                                                                          \
         .type = DW_SCHEMA_STRING,                                                                 \
         DW_SCHEMA_AT(struct dw_plan_objective, group)},                                           \
        {.name = "op",                                                                             \
         .type = DW_SCHEMA_STRING,                                                                 \
         .flags = DW_SCHEMA_REQUIRED,                                                              \
         .values = op_names,                                                                       \
         DW_SCHEMA_AT(struct dw_plan_objective, op)},                                              \
        {.name = "target",                                                                         \
         .type = DW_SCHEMA_NUMBER,                                                                 \
         .flags = DW_SCHEMA_REQUIRED,                                                              \
         DW_SCHEMA_AT(struct dw_plan_objective, target)},                                          \
        {.name = "unit",                                                                           \
         .type = DW_SCHEMA_STRING,                                                                 \
         .flags = DW_SCHEMA_REQUIRED,                                                              \
         DW_SCHEMA_AT(struct dw_plan_objective, unit)},                                            \
    {                                                                                              \
        .name = "description", .type = DW_SCHEMA_STRING,                                           \
        DW_SCHEMA_AT(struct dw_plan_objective, description)                                        \
    }

static const struct dw_schema_field kpi_fields[] = {OBJECTIVE_FIELDS("kpi")};
static const struct dw_schema_field baseline_fields[] = {OBJECTIVE_FIELDS("baseline")};
static const struct dw_schema_field success_fields[] = {OBJECTIVE_FIELDS("success criterion")};
static const struct dw_schema kpi_schema = {kpi_fields, N(kpi_fields), false, NULL};
static const struct dw_schema baseline_schema = {baseline_fields, N(baseline_fields), false, NULL};
static const struct dw_schema success_schema = {success_fields, N(success_fields), false, NULL};

/* A check is qualitative (no op) or measurable (op, target and unit). */
static void check_check(struct dw_schema_ctx *ctx, void *obj)
{
    struct dw_plan_check *c = obj;
    bool op = dw_schema_seen(ctx, &c->op), target = dw_schema_seen(ctx, &c->target);
    if (op && !target)
        dw_schema_error_at(ctx, &c->op, "op needs a target");
    else if (target && !op)
        dw_schema_error_at(ctx, &c->target, "target needs an op");
}

/* clang-format off */
static const struct dw_schema_field check_fields[] = {
    {.name = "id", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED, .defines = "check",
     DW_SCHEMA_AT(struct dw_plan_check, id)},
    {.name = "title", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dw_plan_check, title)},
    {.name = "class", .type = DW_SCHEMA_ENUM, .flags = DW_SCHEMA_REQUIRED, .values = class_names,
     DW_SCHEMA_AT(struct dw_plan_check, cls)},
    {.name = "op", .type = DW_SCHEMA_STRING, .values = op_names,
     DW_SCHEMA_AT(struct dw_plan_check, op)},
    {.name = "target", .type = DW_SCHEMA_NUMBER, DW_SCHEMA_AT(struct dw_plan_check, target)},
    {.name = "unit", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct dw_plan_check, unit)},
};
/* clang-format on */
static const struct dw_schema check_schema = {check_fields, N(check_fields), false, check_check};

/* ---- capacity, retention ---- */

/* clang-format off */
static const struct dw_schema_field growth_fields[] = {
    {.name = "horizon", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dw_plan_growth, horizon)},
    {.name = "user_base_increase_percent", .type = DW_SCHEMA_NUMBER, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dw_plan_growth, user_base_increase_percent)},
};
/* clang-format on */
static const struct dw_schema growth_schema = {growth_fields, N(growth_fields), false, NULL};

/* clang-format off */
static const struct dw_schema_field capacity_fields[] = {
    {.name = "growth", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT, .sub = &growth_schema,
     DW_SCHEMA_LIST_AT(struct plan_capacity, growth, ngrowth)},
    {.name = "autoscale_cpu_percent", .type = DW_SCHEMA_NUMBER, .min = 1, .max = 100,
     DW_SCHEMA_AT(struct plan_capacity, autoscale_cpu_percent)},
};
/* clang-format on */
static const struct dw_schema capacity_schema = {capacity_fields, N(capacity_fields), false, NULL};

/* clang-format off */
static const struct dw_schema_field retention_fields[] = {
    {.name = "raw", .type = DW_SCHEMA_DURATION, .def = "90d", .min = HOUR_MS, .max = 100 * YEAR_MS,
     DW_SCHEMA_AT(struct plan_retention, raw_ms)},
    {.name = "aggregated", .type = DW_SCHEMA_DURATION, .def = "1y", .min = HOUR_MS,
     .max = 100 * YEAR_MS, DW_SCHEMA_AT(struct plan_retention, aggregated_ms)},
};
/* clang-format on */
static const struct dw_schema retention_schema = {retention_fields, N(retention_fields), false,
                                                  NULL};

/* ---- storage and query limits ---- */

static const char *const fsync_names[] = {"interval", "never", "always", NULL};

/* clang-format off */
static const struct dw_schema_field storage_fields[] = {
    {.name = "wal_fsync", .type = DW_SCHEMA_ENUM, .values = fsync_names, .def = "interval",
     DW_SCHEMA_AT(struct dw_plan_storage, wal_fsync)},
    {.name = "wal_fsync_interval", .type = DW_SCHEMA_DURATION, .def = "1s", .min = 10,
     .max = 60 * 1000, DW_SCHEMA_AT(struct dw_plan_storage, wal_fsync_interval_ms)},
    {.name = "max_series", .type = DW_SCHEMA_INT, .def = "1000000", .min = 1, .max = 1e9,
     DW_SCHEMA_AT(struct dw_plan_storage, max_series)},
    {.name = "max_labels_per_series", .type = DW_SCHEMA_INT, .def = "64", .min = 1, .max = 1024,
     DW_SCHEMA_AT(struct dw_plan_storage, max_labels_per_series)},
    {.name = "max_label_name_bytes", .type = DW_SCHEMA_BYTES, .def = "256", .min = 1,
     .max = 65536, DW_SCHEMA_AT(struct dw_plan_storage, max_label_name_bytes)},
    {.name = "max_label_value_bytes", .type = DW_SCHEMA_BYTES, .def = "4KiB", .min = 1,
     .max = 1 << 20, DW_SCHEMA_AT(struct dw_plan_storage, max_label_value_bytes)},
    {.name = "max_samples_per_request", .type = DW_SCHEMA_INT, .def = "1000000", .min = 1,
     .max = 1e9, DW_SCHEMA_AT(struct dw_plan_storage, max_samples_per_request)},
};
/* clang-format on */
static const struct dw_schema storage_schema = {storage_fields, N(storage_fields), false, NULL};

/* clang-format off */
static const struct dw_schema_field query_fields[] = {
    {.name = "max_samples", .type = DW_SCHEMA_INT, .def = "50000000", .min = 1000, .max = 1e10,
     DW_SCHEMA_AT(struct dw_plan_query, max_samples)},
    {.name = "timeout", .type = DW_SCHEMA_DURATION, .def = "2m", .min = 100, .max = HOUR_MS,
     DW_SCHEMA_AT(struct dw_plan_query, timeout_ms)},
    {.name = "lookback_delta", .type = DW_SCHEMA_DURATION, .def = "5m", .min = 1000,
     .max = 7 * 24 * HOUR_MS, DW_SCHEMA_AT(struct dw_plan_query, lookback_ms)},
    {.name = "max_length", .type = DW_SCHEMA_BYTES, .def = "64KiB", .min = 256,
     .max = 1 << 20, DW_SCHEMA_AT(struct dw_plan_query, max_length)},
};
/* clang-format on */
static const struct dw_schema query_schema = {query_fields, N(query_fields), false, NULL};

/* ---- people, teams, contacts, slack ---- */

/* clang-format off */
static const struct dw_schema_field person_fields[] = {
    {.name = "id", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED, .defines = "person",
     DW_SCHEMA_AT(struct dw_plan_person, id)},
    {.name = "name", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dw_plan_person, name)},
    {.name = "email", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct dw_plan_person, email)},
    {.name = "phone", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct dw_plan_person, phone)},
    {.name = "slack", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct dw_plan_person, slack)},
    {.name = "role", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct dw_plan_person, role)},
};
/* clang-format on */
static const struct dw_schema person_schema = {person_fields, N(person_fields), false, NULL};

/* clang-format off */
static const struct dw_schema_field team_fields[] = {
    {.name = "id", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED, .defines = "team",
     DW_SCHEMA_AT(struct dw_plan_team, id)},
    {.name = "name", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dw_plan_team, name)},
    {.name = "lead", .type = DW_SCHEMA_STRING, .refers = "person",
     DW_SCHEMA_AT(struct dw_plan_team, lead)},
    {.name = "members", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING, .refers = "person",
     DW_SCHEMA_LIST_AT(struct dw_plan_team, members, nmembers)},
};
/* clang-format on */
static const struct dw_schema team_schema = {team_fields, N(team_fields), false, NULL};

static void check_contact(struct dw_schema_ctx *ctx, void *obj)
{
    struct dw_plan_contact *c = obj;
    bool person = dw_schema_seen(ctx, &c->person), detail = dw_schema_seen(ctx, &c->detail);
    if (person == detail)
        dw_schema_error(ctx, "a contact needs either person or detail");
}

/* clang-format off */
static const struct dw_schema_field contact_fields[] = {
    {.name = "role", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dw_plan_contact, role)},
    {.name = "kind", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     .values = contact_kinds, DW_SCHEMA_AT(struct dw_plan_contact, kind)},
    {.name = "person", .type = DW_SCHEMA_STRING, .refers = "person",
     DW_SCHEMA_AT(struct dw_plan_contact, person)},
    {.name = "detail", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct dw_plan_contact, detail)},
};
/* clang-format on */
static const struct dw_schema contact_schema = {contact_fields, N(contact_fields), false,
                                                check_contact};

/* clang-format off */
static const struct dw_schema_field slack_fields[] = {
    {.name = "channels", .type = DW_SCHEMA_MAP, .elem = DW_SCHEMA_STRING, .defines = "channel",
     DW_SCHEMA_LIST_AT(struct plan_slack, channels, nchannels)},
};
/* clang-format on */
static const struct dw_schema slack_schema = {slack_fields, N(slack_fields), false, NULL};

/* ---- the root ---- */

#define SECTION(sec)                                                                               \
    {                                                                                              \
        .name = #sec, .type = DW_SCHEMA_YAML,                                                      \
        .offset = offsetof(struct plan_doc, sections) + PLAN_SEC_##sec * sizeof(char *),           \
        .size = sizeof(char *)                                                                     \
    }
enum {
    PLAN_SEC_scrape = PLAN_SEC_SCRAPE,
    PLAN_SEC_probes = PLAN_SEC_PROBES,
    PLAN_SEC_rules = PLAN_SEC_RULES,
    PLAN_SEC_notify = PLAN_SEC_NOTIFY,
    PLAN_SEC_oncall = PLAN_SEC_ONCALL,
    PLAN_SEC_status = PLAN_SEC_STATUS,
    PLAN_SEC_dashboards = PLAN_SEC_DASHBOARDS,
    PLAN_SEC_incidents = PLAN_SEC_INCIDENTS,
    PLAN_SEC_alerting = PLAN_SEC_ALERTING,
};

#define OBJECTIVES(key, member, count, schema)                                                     \
    {                                                                                              \
        .name = key, .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT, .sub = &schema,             \
        DW_SCHEMA_LIST_AT(struct plan_doc, member, count)                                          \
    }

/* clang-format off */
static const struct dw_schema_field root_fields[] = {
    {.name = "service", .type = DW_SCHEMA_OBJECT, .flags = DW_SCHEMA_REQUIRED,
     .sub = &service_schema, DW_SCHEMA_AT(struct plan_doc, service)},
    {.name = "server", .type = DW_SCHEMA_OBJECT, .sub = &server_schema,
     DW_SCHEMA_AT(struct plan_doc, server)},
    {.name = "auth", .type = DW_SCHEMA_OBJECT, .sub = &auth_schema,
     DW_SCHEMA_AT(struct plan_doc, auth)},
    {.name = "launch", .type = DW_SCHEMA_OBJECT, .flags = DW_SCHEMA_REQUIRED,
     .sub = &launch_schema, DW_SCHEMA_AT(struct plan_doc, launch)},
    {.name = "priorities", .type = DW_SCHEMA_OBJECT, .flags = DW_SCHEMA_REQUIRED,
     .sub = &priorities_schema, DW_SCHEMA_AT(struct plan_doc, priorities)},
    {.name = "severities", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT,
     .sub = &severity_schema, DW_SCHEMA_LIST_AT(struct plan_doc, severities, nseverities)},
    OBJECTIVES("kpis", kpis, nkpis, kpi_schema),
    OBJECTIVES("baselines", baselines, nbaselines, baseline_schema),
    OBJECTIVES("success_criteria", success, nsuccess, success_schema),
    {.name = "checks", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT, .sub = &check_schema,
     DW_SCHEMA_LIST_AT(struct plan_doc, checks, nchecks)},
    {.name = "capacity", .type = DW_SCHEMA_OBJECT, .sub = &capacity_schema,
     DW_SCHEMA_AT(struct plan_doc, capacity)},
    {.name = "retention", .type = DW_SCHEMA_OBJECT, .sub = &retention_schema,
     DW_SCHEMA_AT(struct plan_doc, retention)},
    {.name = "storage", .type = DW_SCHEMA_OBJECT, .sub = &storage_schema,
     DW_SCHEMA_AT(struct plan_doc, storage)},
    {.name = "query", .type = DW_SCHEMA_OBJECT, .sub = &query_schema,
     DW_SCHEMA_AT(struct plan_doc, query)},
    {.name = "people", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT, .sub = &person_schema,
     DW_SCHEMA_LIST_AT(struct plan_doc, people, npeople)},
    {.name = "teams", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT, .sub = &team_schema,
     DW_SCHEMA_LIST_AT(struct plan_doc, teams, nteams)},
    {.name = "contacts", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT,
     .sub = &contact_schema, DW_SCHEMA_LIST_AT(struct plan_doc, contacts, ncontacts)},
    {.name = "slack", .type = DW_SCHEMA_OBJECT, .sub = &slack_schema,
     DW_SCHEMA_AT(struct plan_doc, slack)},
    SECTION(scrape),
    SECTION(probes),
    SECTION(rules),
    SECTION(notify),
    SECTION(oncall),
    SECTION(status),
    SECTION(dashboards),
    SECTION(incidents),
    SECTION(alerting),
};
/* clang-format on */

const struct dw_schema dw_plan_root_schema = {root_fields, N(root_fields), false, NULL};

/* The part of the later-issue oncall section this module needs: schedule ids,
 * so escalation targets like schedule:primary can be checked. */
/* clang-format off */
static const struct dw_schema_field schedule_fields[] = {
    {.name = "id", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED, .defines = "schedule",
     DW_SCHEMA_AT(struct plan_schedule, id)},
};
/* clang-format on */
static const struct dw_schema schedule_schema = {schedule_fields, N(schedule_fields), true, NULL};
/* clang-format off */
static const struct dw_schema_field oncall_fields[] = {
    {.name = "schedules", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT,
     .sub = &schedule_schema, DW_SCHEMA_LIST_AT(struct plan_oncall_ids, schedules, nschedules)},
};
/* clang-format on */
const struct dw_schema dw_plan_oncall_schema = {oncall_fields, N(oncall_fields), true, NULL};

/* ---- checks across objects ---- */

/* Phases tile time from launch: the first starts at 0, each starts where the
 * previous ends, and only the last may be open-ended. */
static void check_phases(struct dw_schema_ctx *ctx, const struct plan_launch *l)
{
    char a[32], b[32];
    for (size_t i = 0; i < l->nphases; i++) {
        const struct dw_plan_phase *ph = &l->phases[i];
        const char *name = ph->name ? ph->name : "?";
        if (i == 0) {
            dw_format_duration(ph->start_ms, a, sizeof a);
            if (ph->start_ms != 0)
                dw_schema_error_at(ctx, &ph->start_ms,
                                   "the first phase must start at 0 (launch), got %s", a);
            continue;
        }
        const struct dw_plan_phase *prev = &l->phases[i - 1];
        const char *pname = prev->name ? prev->name : "?";
        if (prev->end_ms == INT64_MAX) {
            dw_schema_error_at(ctx, &ph->start_ms,
                               "phase \"%s\" has no end, but only the last phase may omit it",
                               pname);
            continue;
        }
        dw_format_duration(prev->end_ms, a, sizeof a);
        dw_format_duration(ph->start_ms, b, sizeof b);
        if (ph->start_ms < prev->end_ms)
            dw_schema_error_at(ctx, &ph->start_ms,
                               "phase \"%s\" (starts at %s) overlaps phase \"%s\" (ends at %s)",
                               name, b, pname, a);
        else if (ph->start_ms > prev->end_ms)
            dw_schema_error_at(ctx, &ph->start_ms,
                               "gap between phase \"%s\" (ends at %s) and phase \"%s\" (starts "
                               "at %s)",
                               pname, a, name, b);
    }
}

static void check_severities(struct dw_schema_ctx *ctx, const struct plan_doc *d)
{
    for (size_t i = 0; i < d->nseverities; i++)
        for (size_t j = 0; j < i; j++)
            if (d->severities[i].level && d->severities[i].level == d->severities[j].level) {
                dw_schema_error_at(ctx, &d->severities[i].level, "duplicate severity level %d",
                                   d->severities[i].level);
                break;
            }
}

void dw_plan_check_doc(struct dw_schema_ctx *ctx, struct plan_doc *d)
{
    if (dw_schema_seen(ctx, &d->launch.phases) && d->launch.nphases == 0)
        dw_schema_error_at(ctx, &d->launch.phases, "at least one phase is needed");
    check_phases(ctx, &d->launch);
    check_severities(ctx, d);
    for (size_t i = 0; i < d->slack.nchannels; i++) {
        const struct dw_plan_channel *c = &d->slack.channels[i];
        if (c->name && c->name[0] != '#')
            dw_schema_error_at(ctx, &c->name, "a Slack channel name starts with #, got \"%s\"",
                               c->name);
    }
    if (d->retention.aggregated_ms < d->retention.raw_ms)
        dw_schema_error_at(ctx, &d->retention.aggregated_ms,
                           "aggregated retention must be at least the raw retention");
}

void dw_plan_kind_hints(struct dw_schema_ctx *ctx)
{
    dw_schema_kind_hint(ctx, "person", "people[].id");
    dw_schema_kind_hint(ctx, "team", "teams[].id");
    dw_schema_kind_hint(ctx, "schedule", "oncall.schedules[].id");
    dw_schema_kind_hint(ctx, "channel", "slack.channels");
}
