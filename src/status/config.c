/*
 * config.c - the `status` section: page, groups, components and what
 * decides their state, scheduled maintenance, serving knobs.
 *
 * DESIGN
 * Decoded with the plan's schema walker, so every problem is reported at
 * file:line:col with its key path; the section is closed (a misspelt key is
 * an error with "did you mean"). Groups and components define ids of their
 * own kinds ("status group", "status component") that components and
 * maintenances refer to. Defaults that come from elsewhere in the plan
 * (the page URL from service.status_page_url, the uptime target from the
 * success criteria) are filled after the walk.
 */
#include <stdlib.h>
#include <string.h>

#include "status/status_internal.h"

#define ID_MAX 64

static const struct dw_schema_field group_fields[] = {
    {.name = "id",
     .type = DW_SCHEMA_STRING,
     .flags = DW_SCHEMA_REQUIRED,
     .defines = "status group",
     DW_SCHEMA_AT(struct st_group_conf, id)},
    {.name = "name",
     .type = DW_SCHEMA_STRING,
     .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct st_group_conf, name)},
    {.name = "description",
     .type = DW_SCHEMA_STRING,
     DW_SCHEMA_AT(struct st_group_conf, description)},
};
static const struct dw_schema group_schema = {group_fields, DW_ARRAY_LEN(group_fields), false,
                                              NULL};

static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              (i > 0 && (c == '-' || c == '_'))))
            return false;
    }
    return true;
}

/* The probe names of the `probes` section (collect checks the rest of it). */
struct probe_name {
    char *name;
};
struct probe_names {
    struct probe_name *checks;
    size_t nchecks;
};
static const struct dw_schema_field probe_name_fields[] = {
    {.name = "name", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct probe_name, name)},
};
static const struct dw_schema probe_name_schema = {probe_name_fields, 1, true, NULL};
static const struct dw_schema_field probe_names_fields[] = {
    {.name = "checks",
     .type = DW_SCHEMA_LIST,
     .elem = DW_SCHEMA_OBJECT,
     .sub = &probe_name_schema,
     DW_SCHEMA_LIST_AT(struct probe_names, checks, nchecks)},
};
static const struct dw_schema probe_names_schema = {probe_names_fields, 1, true, NULL};

/* Set by st_conf_decode for the walk of the section (the walker's checks get no cfg). */
static _Thread_local const struct probe_names *known_probes;

static void check_probe(struct dw_schema_ctx *ctx, char **name)
{
    const struct probe_names *k = known_probes;
    if (!k || !*name)
        return;
    const char **cands = dw_calloc(k->nchecks ? k->nchecks : 1, sizeof *cands);
    size_t n = 0;
    for (size_t i = 0; i < k->nchecks; i++) {
        if (k->checks[i].name && strcmp(k->checks[i].name, *name) == 0) {
            free(cands);
            return;
        }
        if (k->checks[i].name)
            cands[n++] = k->checks[i].name;
    }
    const char *near = dw_suggest(*name, cands, n);
    dw_schema_error_at(ctx, name, "no probe \"%s\" in the probes section%s%s%s", *name,
                       near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "");
    free(cands);
}

static void check_component(struct dw_schema_ctx *ctx, void *obj)
{
    struct st_component_conf *c = obj;
    if (c->id && !valid_id(c->id))
        dw_schema_error_at(ctx, &c->id,
                           "\"%s\" is not a component id: use 1 to %d of a-z, 0-9, - and _ "
                           "(it appears in URLs such as /status/badge/<id>.svg)",
                           c->id, ID_MAX);
    for (size_t i = 0; i < c->nprobes; i++)
        check_probe(ctx, &c->probes[i]);
}

static const struct dw_schema_field component_fields[] = {
    {.name = "id",
     .type = DW_SCHEMA_STRING,
     .flags = DW_SCHEMA_REQUIRED,
     .defines = "status component",
     DW_SCHEMA_AT(struct st_component_conf, id)},
    {.name = "name",
     .type = DW_SCHEMA_STRING,
     .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct st_component_conf, name)},
    {.name = "description",
     .type = DW_SCHEMA_STRING,
     DW_SCHEMA_AT(struct st_component_conf, description)},
    {.name = "group",
     .type = DW_SCHEMA_STRING,
     .refers = "status group",
     DW_SCHEMA_AT(struct st_component_conf, group)},
    {.name = "probes",
     .type = DW_SCHEMA_LIST,
     .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct st_component_conf, probes, nprobes)},
    {.name = "alerts",
     .type = DW_SCHEMA_MAP,
     .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct st_component_conf, alerts, nalerts)},
    {.name = "showcase",
     .type = DW_SCHEMA_BOOL,
     .def = "true",
     DW_SCHEMA_AT(struct st_component_conf, showcase)},
    {.name = "only_show_if_degraded",
     .type = DW_SCHEMA_BOOL,
     DW_SCHEMA_AT(struct st_component_conf, only_show_if_degraded)},
};
static const struct dw_schema component_schema = {component_fields, DW_ARRAY_LEN(component_fields),
                                                  false, check_component};

static void check_maint(struct dw_schema_ctx *ctx, void *obj)
{
    struct st_maint_conf *m = obj;
    if (m->id && !valid_id(m->id))
        dw_schema_error_at(ctx, &m->id, "\"%s\" is not a maintenance id: use a-z, 0-9, - and _",
                           m->id);
    if (m->starts_at && m->ends_at && m->ends_at <= m->starts_at)
        dw_schema_error_at(ctx, &m->ends_at, "the window ends before it starts");
}

static const struct dw_schema_field maint_fields[] = {
    {.name = "id",
     .type = DW_SCHEMA_STRING,
     .flags = DW_SCHEMA_REQUIRED,
     .defines = "status maintenance",
     DW_SCHEMA_AT(struct st_maint_conf, id)},
    {.name = "title",
     .type = DW_SCHEMA_STRING,
     .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct st_maint_conf, title)},
    {.name = "body", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct st_maint_conf, body)},
    {.name = "components",
     .type = DW_SCHEMA_LIST,
     .elem = DW_SCHEMA_STRING,
     .refers = "status component",
     DW_SCHEMA_LIST_AT(struct st_maint_conf, components, ncomponents)},
    {.name = "starts_at",
     .type = DW_SCHEMA_TIME,
     .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct st_maint_conf, starts_at)},
    {.name = "ends_at",
     .type = DW_SCHEMA_TIME,
     .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct st_maint_conf, ends_at)},
};
static const struct dw_schema maint_schema = {maint_fields, DW_ARRAY_LEN(maint_fields), false,
                                              check_maint};

static const struct dw_schema_field subs_fields[] = {
    {.name = "enabled",
     .type = DW_SCHEMA_BOOL,
     .def = "true",
     DW_SCHEMA_AT(struct st_subs_conf, enabled)},
    {.name = "email",
     .type = DW_SCHEMA_BOOL,
     .def = "true",
     DW_SCHEMA_AT(struct st_subs_conf, email)},
    {.name = "webhooks",
     .type = DW_SCHEMA_BOOL,
     .def = "true",
     DW_SCHEMA_AT(struct st_subs_conf, webhooks)},
    {.name = "allow_private_webhooks",
     .type = DW_SCHEMA_BOOL,
     DW_SCHEMA_AT(struct st_subs_conf, allow_private_webhooks)},
    {.name = "send_rate",
     .type = DW_SCHEMA_NUMBER,
     .def = "200",
     .min = 1,
     .max = 100000,
     DW_SCHEMA_AT(struct st_subs_conf, send_rate)},
    {.name = "max_new_per_hour",
     .type = DW_SCHEMA_INT,
     .def = "1000",
     .min = 1,
     .max = 10000000,
     DW_SCHEMA_AT(struct st_subs_conf, max_new_per_hour)},
    {.name = "per_client_per_hour",
     .type = DW_SCHEMA_INT,
     .def = "10",
     .min = 1,
     .max = 100000,
     DW_SCHEMA_AT(struct st_subs_conf, per_client_per_hour)},
    {.name = "max_subscribers",
     .type = DW_SCHEMA_INT,
     .def = "1000000",
     .min = 1,
     .max = 100000000,
     DW_SCHEMA_AT(struct st_subs_conf, max_subscribers)},
    {.name = "confirm_within",
     .type = DW_SCHEMA_DURATION,
     .def = "24h",
     .min = 60000,
     .max = 2592000000LL,
     DW_SCHEMA_AT(struct st_subs_conf, confirm_within_ms)},
};
static const struct dw_schema subs_schema = {subs_fields, DW_ARRAY_LEN(subs_fields), false, NULL};

static const struct dw_schema_field rate_fields[] = {
    {.name = "requests_per_second",
     .type = DW_SCHEMA_NUMBER,
     .def = "50",
     .min = 0,
     .max = 10000000,
     DW_SCHEMA_AT(struct st_rate_conf, requests_per_second)},
    {.name = "burst",
     .type = DW_SCHEMA_INT,
     .def = "200",
     .min = 1,
     .max = 100000000,
     DW_SCHEMA_AT(struct st_rate_conf, burst)},
    {.name = "trusted_proxies",
     .type = DW_SCHEMA_LIST,
     .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct st_rate_conf, trusted_proxies, ntrusted_proxies)},
};
static const struct dw_schema rate_schema = {rate_fields, DW_ARRAY_LEN(rate_fields), false, NULL};

static const struct dw_schema_field status_fields[] = {
    {.name = "subscribers",
     .type = DW_SCHEMA_OBJECT,
     .sub = &subs_schema,
     DW_SCHEMA_AT(struct st_yaml, subs)},
    {.name = "rate_limit",
     .type = DW_SCHEMA_OBJECT,
     .sub = &rate_schema,
     DW_SCHEMA_AT(struct st_yaml, rate)},
    {.name = "title", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct st_yaml, title)},
    {.name = "url",
     .type = DW_SCHEMA_STRING,
     .flags = DW_SCHEMA_URL,
     DW_SCHEMA_AT(struct st_yaml, url)},
    {.name = "time_zone",
     .type = DW_SCHEMA_STRING,
     .def = "UTC",
     DW_SCHEMA_AT(struct st_yaml, time_zone)},
    {.name = "uptime_target",
     .type = DW_SCHEMA_NUMBER,
     .min = 0,
     .max = 100,
     DW_SCHEMA_AT(struct st_yaml, uptime_target)},
    {.name = "cache_max_age",
     .type = DW_SCHEMA_DURATION,
     .def = "10s",
     .min = 0,
     .max = 3600000,
     DW_SCHEMA_AT(struct st_yaml, cache_max_age_ms)},
    {.name = "cors_origins",
     .type = DW_SCHEMA_LIST,
     .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct st_yaml, cors_origins, ncors_origins)},
    {.name = "auto_publish_severity",
     .type = DW_SCHEMA_INT,
     .def = "2",
     .min = 0,
     .max = 4,
     DW_SCHEMA_AT(struct st_yaml, auto_publish_severity)},
    {.name = "history_per_page",
     .type = DW_SCHEMA_INT,
     .def = "20",
     .min = 1,
     .max = 100,
     DW_SCHEMA_AT(struct st_yaml, history_per_page)},
    {.name = "groups",
     .type = DW_SCHEMA_LIST,
     .elem = DW_SCHEMA_OBJECT,
     .sub = &group_schema,
     DW_SCHEMA_LIST_AT(struct st_yaml, groups, ngroups)},
    {.name = "components",
     .type = DW_SCHEMA_LIST,
     .elem = DW_SCHEMA_OBJECT,
     .sub = &component_schema,
     DW_SCHEMA_LIST_AT(struct st_yaml, components, ncomponents)},
    {.name = "maintenances",
     .type = DW_SCHEMA_LIST,
     .elem = DW_SCHEMA_OBJECT,
     .sub = &maint_schema,
     DW_SCHEMA_LIST_AT(struct st_yaml, maintenances, nmaintenances)},
};
static const struct dw_schema status_schema = {status_fields, DW_ARRAY_LEN(status_fields), false,
                                               NULL};

static void finish(struct dw_schema_ctx *ctx, void *obj)
{
    struct st_yaml *y = obj;
    y->target_seen = dw_schema_seen(ctx, &y->uptime_target);
    y->cors_seen = dw_schema_seen(ctx, &y->cors_origins);
    for (size_t i = 0; i < y->ncors_origins; i++) {
        const char *o = y->cors_origins[i];
        if (strcmp(o, "*") != 0 && !dw_str_has_prefix(o, "http://") &&
            !dw_str_has_prefix(o, "https://"))
            dw_schema_error_at(ctx, &y->cors_origins[i],
                               "\"%s\" is not an origin: write \"*\" or https://host[:port]", o);
    }
    if (y->time_zone) {
        char *err = NULL;
        if (!dw_tz_get(y->time_zone, &err))
            dw_schema_error_at(ctx, &y->time_zone, "unknown time zone \"%s\": %s", y->time_zone,
                               err ? err : "");
        free(err);
    }
}

/* The plan's uptime target: success criterion "uptime", else the KPI "availability". */
static double plan_target(const struct dw_config *cfg)
{
    size_t n;
    const struct dw_plan_objective *o = dw_config_success_criteria(cfg, &n);
    for (size_t i = 0; i < n; i++)
        if (o[i].id && strcmp(o[i].id, "uptime") == 0 && o[i].unit &&
            strcmp(o[i].unit, "percent") == 0)
            return o[i].target;
    o = dw_config_kpis(cfg, &n);
    for (size_t i = 0; i < n; i++)
        if (o[i].id && strcmp(o[i].id, "availability") == 0)
            return o[i].target;
    return 0;
}

static char *strip_slash(const char *s)
{
    char *out = dw_strdup(s ? s : "");
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '/')
        out[--n] = '\0';
    return out;
}

struct st_conf *st_conf_decode(const struct dw_config *cfg, struct dw_diags *diags)
{
    struct st_conf *c = dw_calloc(1, sizeof *c);
    struct probe_names probes = {0};
    struct dw_diags ignored; /* the collector reports the probes section's own problems */
    dw_diags_init(&ignored);
    dw_config_decode_section(cfg, "probes", &probe_names_schema, &probes, NULL, &ignored);
    dw_diags_release(&ignored);
    known_probes = &probes;
    size_t errors = dw_config_decode_section(cfg, "status", &status_schema, &c->y, finish, diags);
    known_probes = NULL;
    dw_schema_free(&probe_names_schema, &probes);
    if (errors) {
        st_conf_free(&c);
        return NULL;
    }
    c->tz = dw_tz_get(c->y.time_zone ? c->y.time_zone : "UTC", NULL);
    c->url = strip_slash(c->y.url ? c->y.url : dw_config_status_page_url(cfg));
    const char *svc = dw_config_service_name(cfg);
    c->title = c->y.title ? dw_strdup(c->y.title)
                          : dw_asprintf("%s Status", svc && *svc ? svc : "Service");
    c->target = c->y.target_seen ? c->y.uptime_target : plan_target(cfg);
    if (!c->y.cors_seen) {
        c->y.cors_origins = dw_calloc(1, sizeof *c->y.cors_origins);
        c->y.cors_origins[0] = dw_strdup("*");
        c->y.ncors_origins = 1;
    }
    return c;
}

void st_conf_free(struct st_conf **c)
{
    if (!*c)
        return;
    dw_schema_free(&status_schema, &(*c)->y);
    free((*c)->url);
    free((*c)->title);
    free(*c);
    *c = NULL;
}

int st_conf_component(const struct st_conf *c, const char *id)
{
    for (size_t i = 0; c && id && i < c->y.ncomponents; i++)
        if (strcmp(c->y.components[i].id, id) == 0)
            return (int)i;
    return -1;
}

size_t dw_status_check_config(const struct dw_config *cfg, struct dw_diags *diags)
{
    size_t before = dw_diags_errors(diags);
    struct st_conf *c = st_conf_decode(cfg, diags);
    st_conf_free(&c);
    return dw_diags_errors(diags) - before;
}
