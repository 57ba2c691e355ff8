/*
 * policy.c - the oncall section besides its schedules: escalation policies,
 * people's notification rules, business hours, links and bundling.
 *
 *   oncall:
 *     escalation_policies:
 *       - id: critical
 *         priorities: [P0]              # used for these priorities (else derived, below)
 *         repeat: 1                     # the whole chain runs once more after the last step
 *         steps:
 *           - notify: [schedule:primary]          # schedule:<id> | person:<id> | team:<id>
 *             channels: [phone, sms, slack:incidents]
 *             wait: 5m                            # before the next step
 *             business_hours: false               # true: held until business hours
 *     notification_rules:               # per person: instead of the step's person channels
 *       - person: primary-engineer
 *         rules: [{channel: sms, after: 0s}, {channel: phone, after: 2m}]
 *     business_hours: {weekdays: "monday:friday", start: "09:00", end: "18:00",
 *                      time_zone: Europe/London}
 *     links: {base_url: https://dojowatch.example, secret: ${LINK_SECRET}, token_ttl: 24h}
 *     bundle: {window: 1m}
 *
 * DESIGN
 * A priority without a configured policy gets one derived from the plan's
 * priorities section: one step per escalation target, the priority's
 * channels, its response target as the wait (P0: primary, 5 min,
 * secondary, 5 min, the engineering team), business_hours from
 * business_hours_only. So the plan's numbers drive paging with no extra
 * configuration, and a team can still write its own chain. Schedules are
 * decoded by sched_config.c; the root schema here is open (that one reports
 * unknown keys).
 *
 * Threads: decoded once per configuration, immutable afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncall/oncall_internal.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the decoded YAML ---- */

struct y_step {
    struct dw_plan_target *notify;
    size_t nnotify;
    char **channels;
    size_t nchannels;
    int64_t wait_ms;
    bool business_hours;
};

struct y_policy {
    char *id;
    char **priorities;
    size_t npriorities;
    int64_t repeat;
    struct y_step *steps;
    size_t nsteps;
};

struct y_rule {
    char *channel;
    int64_t after_ms;
};

struct y_person_rules {
    char *person;
    struct y_rule *rules;
    size_t nrules;
};

struct y_hours {
    char *weekdays, *start, *end, *time_zone;
};

struct y_links {
    char *base_url, *secret;
    int64_t token_ttl_ms;
};

struct y_oncall {
    struct y_policy *policies;
    size_t npolicies;
    struct y_person_rules *rules;
    size_t nrules;
    struct y_hours hours;
    struct y_links links;
    int64_t bundle_ms;
};

static const char *const priority_names[] = {"P0", "P1", "P2", NULL};
static const char *const rule_channels[] = {"phone", "sms", "email", NULL};

static void check_policy(struct dw_schema_ctx *ctx, void *obj);
static void check_hours(struct dw_schema_ctx *ctx, void *obj);

/* clang-format off */
static const struct dw_schema_field step_fields[] = {
    {.name = "notify", .type = DW_SCHEMA_LIST, .flags = DW_SCHEMA_REQUIRED,
     .elem = DW_SCHEMA_CUSTOM, .decode = dw_schema_decode_target,
     .release = dw_schema_release_target,
     .expect = "an escalation target like schedule:primary, person:<id> or team:<id>",
     DW_SCHEMA_LIST_AT(struct y_step, notify, nnotify)},
    {.name = "channels", .type = DW_SCHEMA_LIST, .flags = DW_SCHEMA_REQUIRED,
     .elem = DW_SCHEMA_CUSTOM, .decode = dw_schema_decode_channel,
     .release = dw_schema_release_string,
     .expect = "a channel like phone, sms, email, slack or slack:<purpose>",
     DW_SCHEMA_LIST_AT(struct y_step, channels, nchannels)},
    {.name = "wait", .type = DW_SCHEMA_DURATION, .def = "5m", .min = 0, .max = 7LL * 86400000,
     DW_SCHEMA_AT(struct y_step, wait_ms)},
    {.name = "business_hours", .type = DW_SCHEMA_BOOL, .def = "false",
     DW_SCHEMA_AT(struct y_step, business_hours)},
};
static const struct dw_schema step_schema = {step_fields, N(step_fields), false, NULL};

static const struct dw_schema_field policy_fields[] = {
    {.name = "id", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED, .defines = "policy",
     DW_SCHEMA_AT(struct y_policy, id)},
    {.name = "priorities", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING,
     .values = priority_names, DW_SCHEMA_LIST_AT(struct y_policy, priorities, npriorities)},
    {.name = "repeat", .type = DW_SCHEMA_INT, .def = "0", .min = 0, .max = 10,
     DW_SCHEMA_AT(struct y_policy, repeat)},
    {.name = "steps", .type = DW_SCHEMA_LIST, .flags = DW_SCHEMA_REQUIRED,
     .elem = DW_SCHEMA_OBJECT, .sub = &step_schema,
     DW_SCHEMA_LIST_AT(struct y_policy, steps, nsteps)},
};
static const struct dw_schema policy_schema = {policy_fields, N(policy_fields), false,
                                               check_policy};

static const struct dw_schema_field rule_fields[] = {
    {.name = "channel", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     .values = rule_channels, DW_SCHEMA_AT(struct y_rule, channel)},
    {.name = "after", .type = DW_SCHEMA_DURATION, .def = "0s", .min = 0, .max = 86400000,
     DW_SCHEMA_AT(struct y_rule, after_ms)},
};
static const struct dw_schema rule_schema = {rule_fields, N(rule_fields), false, NULL};

static const struct dw_schema_field person_rules_fields[] = {
    {.name = "person", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED, .refers = "person",
     DW_SCHEMA_AT(struct y_person_rules, person)},
    {.name = "rules", .type = DW_SCHEMA_LIST, .flags = DW_SCHEMA_REQUIRED, .elem = DW_SCHEMA_OBJECT, .sub = &rule_schema,
     DW_SCHEMA_LIST_AT(struct y_person_rules, rules, nrules)},
};
static const struct dw_schema person_rules_schema = {person_rules_fields, N(person_rules_fields),
                                                     false, NULL};

static const struct dw_schema_field hours_fields[] = {
    {.name = "weekdays", .type = DW_SCHEMA_STRING, .def = "monday:friday",
     DW_SCHEMA_AT(struct y_hours, weekdays)},
    {.name = "start", .type = DW_SCHEMA_STRING, .def = "09:00", DW_SCHEMA_AT(struct y_hours, start)},
    {.name = "end", .type = DW_SCHEMA_STRING, .def = "18:00", DW_SCHEMA_AT(struct y_hours, end)},
    {.name = "time_zone", .type = DW_SCHEMA_STRING, .def = "UTC",
     DW_SCHEMA_AT(struct y_hours, time_zone)},
};
static const struct dw_schema hours_schema = {hours_fields, N(hours_fields), false, check_hours};

static const struct dw_schema_field links_fields[] = {
    {.name = "base_url", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_URL,
     DW_SCHEMA_AT(struct y_links, base_url)},
    {.name = "secret", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_links, secret)},
    {.name = "token_ttl", .type = DW_SCHEMA_DURATION, .def = "24h", .min = 60000,
     .max = 30LL * 86400000, DW_SCHEMA_AT(struct y_links, token_ttl_ms)},
};
static const struct dw_schema links_schema = {links_fields, N(links_fields), false, NULL};

static const struct dw_schema_field bundle_fields[] = {
    {.name = "window", .type = DW_SCHEMA_DURATION, .def = "1m", .min = 0, .max = 3600000,
     .offset = 0, .size = sizeof(int64_t)},
};
static const struct dw_schema bundle_schema = {bundle_fields, N(bundle_fields), false, NULL};

static const struct dw_schema_field oncall_fields[] = {
    {.name = "escalation_policies", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT,
     .sub = &policy_schema, DW_SCHEMA_LIST_AT(struct y_oncall, policies, npolicies)},
    {.name = "notification_rules", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT,
     .sub = &person_rules_schema,
     DW_SCHEMA_LIST_AT(struct y_oncall, rules, nrules)},
    {.name = "business_hours", .type = DW_SCHEMA_OBJECT, .sub = &hours_schema,
     DW_SCHEMA_AT(struct y_oncall, hours)},
    {.name = "links", .type = DW_SCHEMA_OBJECT, .sub = &links_schema,
     DW_SCHEMA_AT(struct y_oncall, links)},
    {.name = "bundle", .type = DW_SCHEMA_OBJECT, .sub = &bundle_schema,
     DW_SCHEMA_AT(struct y_oncall, bundle_ms)},
};
/* Open: the schedules and the section's other keys are sched_config.c's. */
static const struct dw_schema oncall_schema = {oncall_fields, N(oncall_fields), true, NULL};
/* clang-format on */

/* ---- checks ---- */

static void check_policy(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_policy *p = obj;
    if (p->nsteps == 0)
        dw_schema_error_at(ctx, &p->steps, "a policy needs at least one step");
    if (p->nsteps > 32)
        dw_schema_error_at(ctx, &p->steps, "at most 32 steps");
}

static int parse_weekday(const char *s, size_t n)
{
    static const char *const names[] = {"sunday",   "monday", "tuesday", "wednesday",
                                        "thursday", "friday", "saturday"};
    for (int i = 0; i < 7; i++)
        if (strlen(names[i]) == n && strncmp(s, names[i], n) == 0)
            return i;
    return -1;
}

/* "09:00" -> minutes; "24:00" allowed as an end. */
static int parse_clock(const char *s, bool end)
{
    int h = 0, m = 0;
    char extra;
    if (!s || sscanf(s, "%2d:%2d%c", &h, &m, &extra) != 2 || m < 0 || m > 59 || h < 0)
        return -1;
    if (h > 23 && !(end && h == 24 && m == 0))
        return -1;
    return h * 60 + m;
}

static bool hours_parse(const struct y_hours *y, struct hours *out, char **err)
{
    const char *colon = strchr(y->weekdays, ':');
    size_t alen = colon ? (size_t)(colon - y->weekdays) : strlen(y->weekdays);
    out->weekday_from = parse_weekday(y->weekdays, alen);
    out->weekday_to = colon ? parse_weekday(colon + 1, strlen(colon + 1)) : out->weekday_from;
    out->start_min = parse_clock(y->start, false);
    out->end_min = parse_clock(y->end, true);
    if (out->weekday_from < 0 || out->weekday_to < 0) {
        *err =
            dw_asprintf("weekdays \"%s\" is not a day or a range like monday:friday", y->weekdays);
        return false;
    }
    if (out->start_min < 0 || out->end_min < 0 || out->end_min <= out->start_min) {
        *err = dw_asprintf("start \"%s\" and end \"%s\" must be HH:MM with start before end",
                           y->start, y->end);
        return false;
    }
    out->zone = dw_tz_get(y->time_zone, err);
    return out->zone != NULL;
}

static void check_hours(struct dw_schema_ctx *ctx, void *obj)
{
    struct hours h;
    char *err = NULL;
    if (!hours_parse(obj, &h, &err))
        dw_schema_error(ctx, "%s", err);
    free(err);
}

/* ---- the runtime form ---- */

static void step_from_yaml(struct step *s, const struct y_step *y)
{
    s->ntargets = y->nnotify;
    s->targets = dw_calloc(y->nnotify ? y->nnotify : 1, sizeof *s->targets);
    for (size_t i = 0; i < y->nnotify; i++)
        s->targets[i] =
            (struct dw_plan_target){dw_strdup(y->notify[i].kind), dw_strdup(y->notify[i].id)};
    s->nchannels = y->nchannels;
    s->channels = dw_calloc(y->nchannels ? y->nchannels : 1, sizeof *s->channels);
    for (size_t i = 0; i < y->nchannels; i++)
        s->channels[i] = dw_strdup(y->channels[i]);
    s->wait_ms = y->wait_ms;
    s->business_hours = y->business_hours;
}

static void add_policy(struct oncall_conf *c, struct policy *p)
{
    c->policies = dw_realloc(c->policies, (c->npolicies + 1) * sizeof *c->policies);
    c->policies[c->npolicies++] = *p;
}

/* The plan's priority as a chain: one step per escalation target. */
static void derive_policy(struct oncall_conf *c, const struct dw_config *cfg, enum dw_priority pr)
{
    const struct dw_plan_priority *pp = dw_config_priority(cfg, pr);
    if (!pp || pp->nescalation == 0)
        return;
    struct policy p = {.id = dw_strdup(dw_priority_name(pr))};
    p.nsteps = pp->nescalation;
    p.steps = dw_calloc(p.nsteps, sizeof *p.steps);
    for (size_t i = 0; i < p.nsteps; i++) {
        struct y_step y = {.notify = &pp->escalation[i],
                           .nnotify = 1,
                           .channels = pp->channels,
                           .nchannels = pp->nchannels,
                           .wait_ms = pp->response_ms,
                           .business_hours = pp->business_hours_only};
        step_from_yaml(&p.steps[i], &y);
    }
    add_policy(c, &p);
    c->priority_policy[pr] = dw_strdup(p.id);
}

static void from_yaml(struct oncall_conf *c, const struct y_oncall *y, const struct dw_config *cfg)
{
    for (size_t i = 0; i < y->npolicies; i++) {
        const struct y_policy *yp = &y->policies[i];
        struct policy p = {.id = dw_strdup(yp->id), .repeat = yp->repeat, .nsteps = yp->nsteps};
        p.steps = dw_calloc(yp->nsteps ? yp->nsteps : 1, sizeof *p.steps);
        for (size_t k = 0; k < yp->nsteps; k++)
            step_from_yaml(&p.steps[k], &yp->steps[k]);
        add_policy(c, &p);
        for (size_t k = 0; k < yp->npriorities; k++) {
            int pr = dw_priority_parse(yp->priorities[k]);
            if (pr >= 0 && !c->priority_policy[pr])
                c->priority_policy[pr] = dw_strdup(yp->id);
        }
    }
    for (int pr = 0; pr < DW_PRIORITY_COUNT; pr++)
        if (!c->priority_policy[pr])
            derive_policy(c, cfg, (enum dw_priority)pr);
    c->nrules = y->nrules;
    c->rules = dw_calloc(y->nrules ? y->nrules : 1, sizeof *c->rules);
    for (size_t i = 0; i < y->nrules; i++) {
        struct person_rules *r = &c->rules[i];
        r->person = dw_strdup(y->rules[i].person);
        r->nrules = y->rules[i].nrules;
        r->rules = dw_calloc(r->nrules ? r->nrules : 1, sizeof *r->rules);
        for (size_t k = 0; k < r->nrules; k++)
            r->rules[k] = (struct rule){dw_strdup(y->rules[i].rules[k].channel),
                                        y->rules[i].rules[k].after_ms};
    }
    char *err = NULL;
    if (!hours_parse(&y->hours, &c->hours, &err)) /* checked already: only a race on TZDIR */
        c->hours = (struct hours){1, 5, 9 * 60, 18 * 60, NULL};
    free(err);
    const char *ext = dw_config_external_url(cfg);
    c->base_url = dw_strdup(y->links.base_url ? y->links.base_url : ext ? ext : "");
    size_t bl = strlen(c->base_url);
    if (bl && c->base_url[bl - 1] == '/')
        c->base_url[bl - 1] = '\0';
    c->secret = y->links.secret ? dw_strdup(y->links.secret) : NULL;
    c->token_ttl_ms = y->links.token_ttl_ms;
    c->bundle_ms = y->bundle_ms;
}

struct oncall_conf *oncall_conf_decode(const struct dw_config *cfg, struct dw_diags *diags)
{
    struct y_oncall y = {0};
    size_t errs = dw_config_decode_section(cfg, "oncall", &oncall_schema, &y, NULL, diags);
    struct sched_set *sched = sched_set_decode(cfg, diags);
    if (errs || !sched) {
        dw_schema_free(&oncall_schema, &y);
        sched_set_free(&sched);
        return NULL;
    }
    struct oncall_conf *c = dw_calloc(1, sizeof *c);
    from_yaml(c, &y, cfg);
    c->sched = sched;
    dw_schema_free(&oncall_schema, &y);
    return c;
}

static void step_release(struct step *s)
{
    for (size_t i = 0; i < s->ntargets; i++)
        dw_schema_release_target(&s->targets[i]);
    free(s->targets);
    for (size_t i = 0; i < s->nchannels; i++)
        free(s->channels[i]);
    free(s->channels);
}

void oncall_conf_free(struct oncall_conf **pc)
{
    struct oncall_conf *c = pc ? *pc : NULL;
    if (!c)
        return;
    for (size_t i = 0; i < c->npolicies; i++) {
        for (size_t k = 0; k < c->policies[i].nsteps; k++)
            step_release(&c->policies[i].steps[k]);
        free(c->policies[i].steps);
        free(c->policies[i].id);
    }
    free(c->policies);
    for (int i = 0; i < DW_PRIORITY_COUNT; i++)
        free(c->priority_policy[i]);
    for (size_t i = 0; i < c->nrules; i++) {
        for (size_t k = 0; k < c->rules[i].nrules; k++)
            free(c->rules[i].rules[k].channel);
        free(c->rules[i].rules);
        free(c->rules[i].person);
    }
    free(c->rules);
    free(c->base_url);
    free(c->secret);
    sched_set_free(&c->sched);
    free(c);
    *pc = NULL;
}

const struct policy *oncall_policy(const struct oncall_conf *c, const char *id)
{
    for (size_t i = 0; id && i < c->npolicies; i++)
        if (strcmp(c->policies[i].id, id) == 0)
            return &c->policies[i];
    return NULL;
}

const struct person_rules *oncall_rules(const struct oncall_conf *c, const char *person)
{
    for (size_t i = 0; i < c->nrules; i++)
        if (strcmp(c->rules[i].person, person) == 0)
            return &c->rules[i];
    return NULL;
}

static bool weekday_in(const struct hours *h, int wd)
{
    if (h->weekday_from <= h->weekday_to)
        return wd >= h->weekday_from && wd <= h->weekday_to;
    return wd >= h->weekday_from || wd <= h->weekday_to; /* "friday:monday" */
}

bool hours_contain(const struct hours *h, int64_t t_ms)
{
    struct dw_civil c;
    dw_civil_at(h->zone, t_ms, &c);
    int min = c.hour * 60 + c.minute;
    return weekday_in(h, c.weekday) && min >= h->start_min && min < h->end_min;
}

/* Steps a minute at a time within the day, a day at a time otherwise: at most ~8 days. */
int64_t hours_next_start(const struct hours *h, int64_t t_ms)
{
    int64_t t = t_ms - t_ms % 60000;
    if (t < t_ms)
        t += 60000;
    for (int i = 0; i < 8 * 24 * 60 && !hours_contain(h, t); i++) {
        struct dw_civil c;
        dw_civil_at(h->zone, t, &c);
        bool day_ok = weekday_in(h, c.weekday) && c.hour * 60 + c.minute < h->end_min;
        t += day_ok ? 60000 : 3600000 - (int64_t)c.minute * 60000;
    }
    return t;
}
