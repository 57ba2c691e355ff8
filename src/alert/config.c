/*
 * config.c - the `alerting` section: its schema for the plan module's
 * walker, validation with file:line:col, and the runtime configuration the
 * alerter uses (struct acfg).
 *
 * The section (every key optional; values shown are the defaults):
 *
 *   alerting:
 *     resolve_timeout: 5m          # a firing alert without endsAt resolves after this
 *     severity_map:                # alerts with `severity` but no `priority` get one
 *       {critical: P0, warning: P1, info: P2}
 *     flapping: {changes: 6, window: 30m}   # 6 firing<->resolved changes in 30m: flapping
 *     priority_timing:             # where the route tree leaves the timers unset
 *       P0:   {group_wait: 0s,  group_interval: 1s,  repeat_interval: 30m}
 *       P1:   {group_wait: 5s,  group_interval: 30s, repeat_interval: 2h}
 *       P2:   {group_wait: 30s, group_interval: 5m,  repeat_interval: 4h}
 *       none: {group_wait: 30s, group_interval: 5m,  repeat_interval: 4h}
 *     route:                       # Alertmanager's routing tree
 *       receiver: default
 *       group_by: [alertname]      # '...' groups by every label
 *       group_wait / group_interval / repeat_interval   # inherited; unset: priority_timing
 *       matchers: ['service="api"', 'priority=~"P0|P1"']  # also match / match_re maps
 *       continue: false
 *       mute_time_intervals: [names]
 *       active_time_intervals: [names]
 *       routes: [ ...child routes... ]
 *     receivers:                   # names; other keys are kept for the notify module
 *       - name: default
 *     inhibit_rules:
 *       - source_matchers: ['priority="P0"']   # also source_match / source_match_re
 *         target_matchers: ['priority=~"P1|P2"']
 *         equal: [service]
 *     time_intervals:              # (mute_time_intervals is accepted as an old name)
 *       - name: business-hours
 *         time_intervals:
 *           - times: [{start_time: "09:00", end_time: "17:00"}]
 *             weekdays: ['monday:friday']
 *             days_of_month: ['1:31']     # negative counts from the end
 *             months: ['january:december']
 *             years: ['2026:2030']
 *             location: Europe/Berlin
 *
 * DESIGN
 * Decoding runs on the caller's thread (start-up, reload, check-config).
 * Checks that need a decoded object (regexes, label names, '...' alone,
 * zones) run in the walker's check hooks so every problem has its position;
 * references (route receivers, interval names) use the walker's
 * define/refer ids. Only a fully valid section becomes a struct acfg; the
 * alerter swaps it in under its mutex. Differences from Alertmanager: the
 * root route groups by alertname when group_by is unset (Alertmanager puts
 * everything in one group), timers left unset anywhere in the tree come
 * from priority_timing by the group's most urgent priority, and without a
 * `receivers` list there is one receiver named "default".
 */
#include <libfyaml.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert_internal.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define YEAR_MS "8760h"

/* ---- the decoded YAML ---- */

struct y_times {
    char *start, *end;
};

struct y_period {
    struct y_times *times;
    size_t ntimes;
    char **weekdays;
    size_t nweekdays;
    char **mdays;
    size_t nmdays;
    char **months;
    size_t nmonths;
    char **years;
    size_t nyears;
    char *location;
};

struct y_interval {
    char *name;
    struct y_period *periods;
    size_t nperiods;
};

struct y_route {
    char *receiver;
    char **group_by;
    size_t ngroup_by;
    int64_t group_wait, group_interval, repeat_interval;
    char **matchers;
    size_t nmatchers;
    struct dw_schema_pair *match;
    size_t nmatch;
    struct dw_schema_pair *match_re;
    size_t nmatch_re;
    bool cont;
    struct y_route *routes;
    size_t nroutes;
    char **mute;
    size_t nmute;
    char **active;
    size_t nactive;
    /* filled by check_route: which keys the file set */
    bool has_gw, has_gi, has_ri, has_group_by, has_matchers;
};

struct y_inhibit {
    char **source;
    size_t nsource;
    char **target;
    size_t ntarget;
    struct dw_schema_pair *source_match, *source_match_re, *target_match, *target_match_re;
    size_t nsource_match, nsource_match_re, ntarget_match, ntarget_match_re;
    char **equal;
    size_t nequal;
};

struct y_receiver {
    char *name;
};

struct y_timing {
    int64_t gw, gi, ri;
};

struct y_alerting {
    int64_t resolve_timeout;
    struct dw_schema_pair *sev;
    size_t nsev;
    int64_t flap_changes;
    int64_t flap_window;
    struct y_timing prio[PRIO_SLOTS];
    struct y_route route;
    struct y_receiver *receivers;
    size_t nreceivers;
    struct y_inhibit *inhibit;
    size_t ninhibit;
    struct y_interval *intervals;
    size_t nintervals;
    struct y_interval *old_intervals;
    size_t nold_intervals;
    bool has_sev, has_route;
};

/* ---- schema ---- */

static const char *const prio_names[] = {"P0", "P1", "P2", NULL};

static void check_period(struct dw_schema_ctx *ctx, void *obj);
static void check_route(struct dw_schema_ctx *ctx, void *obj);
static void check_inhibit(struct dw_schema_ctx *ctx, void *obj);

/* clang-format off */
static const struct dw_schema_field times_fields[] = {
    {.name = "start_time", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct y_times, start)},
    {.name = "end_time", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct y_times, end)},
};
static const struct dw_schema times_schema = {times_fields, N(times_fields), false, NULL};

static const struct dw_schema_field period_fields[] = {
    {.name = "times", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT, .sub = &times_schema,
     DW_SCHEMA_LIST_AT(struct y_period, times, ntimes)},
    {.name = "weekdays", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct y_period, weekdays, nweekdays)},
    {.name = "days_of_month", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct y_period, mdays, nmdays)},
    {.name = "months", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct y_period, months, nmonths)},
    {.name = "years", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct y_period, years, nyears)},
    {.name = "location", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_period, location)},
};
static const struct dw_schema period_schema = {period_fields, N(period_fields), false,
                                               check_period};

static const struct dw_schema_field interval_fields[] = {
    {.name = "name", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     .defines = "time_interval", DW_SCHEMA_AT(struct y_interval, name)},
    {.name = "time_intervals", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT,
     .sub = &period_schema, DW_SCHEMA_LIST_AT(struct y_interval, periods, nperiods)},
};
static const struct dw_schema interval_schema = {interval_fields, N(interval_fields), false, NULL};

static const struct dw_schema route_schema;
static const struct dw_schema_field route_fields[] = {
    {.name = "receiver", .type = DW_SCHEMA_STRING, .refers = "receiver",
     DW_SCHEMA_AT(struct y_route, receiver)},
    {.name = "group_by", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct y_route, group_by, ngroup_by)},
    {.name = "group_wait", .type = DW_SCHEMA_DURATION, .min = 0, .max = 31536000000LL,
     DW_SCHEMA_AT(struct y_route, group_wait)},
    {.name = "group_interval", .type = DW_SCHEMA_DURATION, .min = 1, .max = 31536000000LL,
     DW_SCHEMA_AT(struct y_route, group_interval)},
    {.name = "repeat_interval", .type = DW_SCHEMA_DURATION, .min = 1, .max = 31536000000LL,
     DW_SCHEMA_AT(struct y_route, repeat_interval)},
    {.name = "matchers", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct y_route, matchers, nmatchers)},
    {.name = "match", .type = DW_SCHEMA_MAP, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct y_route, match, nmatch)},
    {.name = "match_re", .type = DW_SCHEMA_MAP, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct y_route, match_re, nmatch_re)},
    {.name = "continue", .type = DW_SCHEMA_BOOL, .def = "false", DW_SCHEMA_AT(struct y_route, cont)},
    {.name = "routes", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT, .sub = &route_schema,
     DW_SCHEMA_LIST_AT(struct y_route, routes, nroutes)},
    {.name = "mute_time_intervals", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING,
     .refers = "time_interval", DW_SCHEMA_LIST_AT(struct y_route, mute, nmute)},
    {.name = "active_time_intervals", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING,
     .refers = "time_interval", DW_SCHEMA_LIST_AT(struct y_route, active, nactive)},
};
static const struct dw_schema route_schema = {route_fields, N(route_fields), false, check_route};

static const struct dw_schema_field inhibit_fields[] = {
    {.name = "source_matchers", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct y_inhibit, source, nsource)},
    {.name = "target_matchers", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct y_inhibit, target, ntarget)},
    {.name = "source_match", .type = DW_SCHEMA_MAP, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct y_inhibit, source_match, nsource_match)},
    {.name = "source_match_re", .type = DW_SCHEMA_MAP, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct y_inhibit, source_match_re, nsource_match_re)},
    {.name = "target_match", .type = DW_SCHEMA_MAP, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct y_inhibit, target_match, ntarget_match)},
    {.name = "target_match_re", .type = DW_SCHEMA_MAP, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct y_inhibit, target_match_re, ntarget_match_re)},
    {.name = "equal", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct y_inhibit, equal, nequal)},
};
static const struct dw_schema inhibit_schema = {inhibit_fields, N(inhibit_fields), false,
                                                check_inhibit};

static const struct dw_schema_field receiver_fields[] = {
    {.name = "name", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED, .defines = "receiver",
     DW_SCHEMA_AT(struct y_receiver, name)},
};
/* Open: the channels (webhook_configs, slack ...) belong to the notify module. */
static const struct dw_schema receiver_schema = {receiver_fields, N(receiver_fields), true, NULL};

#define TIMING_SCHEMA(id, wait, interval, repeat)                                                              \
    static const struct dw_schema_field timing_fields_##id[] = {                                   \
        {.name = "group_wait", .type = DW_SCHEMA_DURATION, .def = wait, .min = 0,                    \
         .max = 31536000000LL, DW_SCHEMA_AT(struct y_timing, gw)},                                 \
        {.name = "group_interval", .type = DW_SCHEMA_DURATION, .def = interval, .min = 1,                \
         .max = 31536000000LL, DW_SCHEMA_AT(struct y_timing, gi)},                                 \
        {.name = "repeat_interval", .type = DW_SCHEMA_DURATION, .def = repeat, .min = 1,               \
         .max = 31536000000LL, DW_SCHEMA_AT(struct y_timing, ri)},                                 \
    };                                                                                             \
    static const struct dw_schema timing_schema_##id = {timing_fields_##id,                        \
                                                        N(timing_fields_##id), false, NULL}

TIMING_SCHEMA(p0, "0s", "1s", "30m");
TIMING_SCHEMA(p1, "5s", "30s", "2h");
TIMING_SCHEMA(p2, "30s", "5m", "4h");
TIMING_SCHEMA(none, "30s", "5m", "4h");

#define TIMING_FIELD(key, id, slot)                                                                \
    {.name = key, .type = DW_SCHEMA_OBJECT, .sub = &timing_schema_##id,                           \
     .offset = offsetof(struct y_alerting, prio) + (slot) * sizeof(struct y_timing),               \
     .size = sizeof(struct y_timing)}

static const struct dw_schema_field prio_timing_fields[] = {
    TIMING_FIELD("P0", p0, 0), TIMING_FIELD("P1", p1, 1), TIMING_FIELD("P2", p2, 2),
    TIMING_FIELD("none", none, 3),
};
static const struct dw_schema prio_timing_schema = {prio_timing_fields, N(prio_timing_fields),
                                                    false, NULL};

static const struct dw_schema_field flapping_fields[] = {
    {.name = "changes", .type = DW_SCHEMA_INT, .def = "6", .min = 0, .max = 1000,
     DW_SCHEMA_AT(struct y_alerting, flap_changes)},
    {.name = "window", .type = DW_SCHEMA_DURATION, .def = "30m", .min = 1000,
     .max = 604800000LL, DW_SCHEMA_AT(struct y_alerting, flap_window)},
};
static const struct dw_schema flapping_schema = {flapping_fields, N(flapping_fields), false, NULL};

static void check_root(struct dw_schema_ctx *ctx, void *obj);

static const struct dw_schema_field root_fields[] = {
    {.name = "resolve_timeout", .type = DW_SCHEMA_DURATION, .def = "5m", .min = 1000,
     .max = 31536000000LL, DW_SCHEMA_AT(struct y_alerting, resolve_timeout)},
    {.name = "severity_map", .type = DW_SCHEMA_MAP, .elem = DW_SCHEMA_STRING, .values = prio_names,
     DW_SCHEMA_LIST_AT(struct y_alerting, sev, nsev)},
    {.name = "flapping", .type = DW_SCHEMA_OBJECT, .sub = &flapping_schema, .offset = 0,
     .size = sizeof(struct y_alerting)},
    {.name = "priority_timing", .type = DW_SCHEMA_OBJECT, .sub = &prio_timing_schema,
     .offset = 0, .size = sizeof(struct y_alerting)},
    {.name = "route", .type = DW_SCHEMA_OBJECT, .sub = &route_schema,
     DW_SCHEMA_AT(struct y_alerting, route)},
    {.name = "receivers", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT,
     .sub = &receiver_schema, DW_SCHEMA_LIST_AT(struct y_alerting, receivers, nreceivers)},
    {.name = "inhibit_rules", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT,
     .sub = &inhibit_schema, DW_SCHEMA_LIST_AT(struct y_alerting, inhibit, ninhibit)},
    {.name = "time_intervals", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT,
     .sub = &interval_schema, DW_SCHEMA_LIST_AT(struct y_alerting, intervals, nintervals)},
    {.name = "mute_time_intervals", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT,
     .sub = &interval_schema,
     DW_SCHEMA_LIST_AT(struct y_alerting, old_intervals, nold_intervals)},
};
/* clang-format on */
static const struct dw_schema root_schema = {root_fields, N(root_fields), false, check_root};

/* ---- checks ---- */

static void check_list(struct dw_schema_ctx *ctx, char **items, size_t n,
                       int (*parse)(const char *, struct irange *, char **))
{
    for (size_t i = 0; i < n; i++) {
        struct irange r;
        char *err = NULL;
        if (parse(items[i], &r, &err) < 0)
            dw_schema_error_at(ctx, &items[i], "%s", err);
        free(err);
    }
}

static void check_period(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_period *p = obj;
    for (size_t i = 0; i < p->ntimes; i++) {
        struct irange r;
        char *err = NULL;
        if (p->times[i].start && p->times[i].end &&
            ti_parse_time_range(p->times[i].start, p->times[i].end, &r, &err) < 0)
            dw_schema_error_at(ctx, &p->times[i], "%s", err);
        free(err);
    }
    check_list(ctx, p->weekdays, p->nweekdays, ti_parse_weekdays);
    check_list(ctx, p->mdays, p->nmdays, ti_parse_mdays);
    check_list(ctx, p->months, p->nmonths, ti_parse_months);
    check_list(ctx, p->years, p->nyears, ti_parse_years);
    char *err = NULL;
    if (p->location && !dw_tz_get(p->location, &err))
        dw_schema_error_at(ctx, &p->location, "%s", err);
    free(err);
}

static void check_matcher_strings(struct dw_schema_ctx *ctx, char **items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct amatchers ms = {0};
        char *err = NULL;
        if (amatchers_parse(&ms, items[i], &err) < 0)
            dw_schema_error_at(ctx, &items[i], "%s", err);
        amatchers_release(&ms);
        free(err);
    }
}

static void check_pairs(struct dw_schema_ctx *ctx, struct dw_schema_pair *p, size_t n, bool re)
{
    for (size_t i = 0; i < n; i++) {
        if (!dw_tsdb_label_name_valid(p[i].key)) {
            dw_schema_error_at(ctx, &p[i], "\"%s\" is not a valid label name", p[i].key);
            continue;
        }
        struct amatcher m;
        char *err = NULL;
        if (re && amatcher_init(&m, DW_MATCH_RE, p[i].key, p[i].value ? p[i].value : "", &err) == 0)
            amatcher_release(&m);
        else if (re)
            dw_schema_error_at(ctx, &p[i].value, "%s", err);
        free(err);
    }
}

static void check_label_names(struct dw_schema_ctx *ctx, char **names, size_t n, bool allow_all)
{
    for (size_t i = 0; i < n; i++) {
        if (allow_all && strcmp(names[i], "...") == 0) {
            if (n > 1)
                dw_schema_error_at(ctx, &names[i],
                                   "'...' groups by every label and cannot be combined with "
                                   "other labels");
        } else if (!dw_tsdb_label_name_valid(names[i])) {
            dw_schema_error_at(ctx, &names[i], "\"%s\" is not a valid label name", names[i]);
        }
    }
}

static void check_route(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_route *r = obj;
    r->has_gw = dw_schema_seen(ctx, &r->group_wait);
    r->has_gi = dw_schema_seen(ctx, &r->group_interval);
    r->has_ri = dw_schema_seen(ctx, &r->repeat_interval);
    r->has_group_by = dw_schema_seen(ctx, &r->group_by);
    r->has_matchers = r->nmatchers || r->nmatch || r->nmatch_re;
    check_label_names(ctx, r->group_by, r->ngroup_by, true);
    check_matcher_strings(ctx, r->matchers, r->nmatchers);
    check_pairs(ctx, r->match, r->nmatch, false);
    check_pairs(ctx, r->match_re, r->nmatch_re, true);
}

static void check_inhibit(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_inhibit *r = obj;
    check_matcher_strings(ctx, r->source, r->nsource);
    check_matcher_strings(ctx, r->target, r->ntarget);
    check_pairs(ctx, r->source_match, r->nsource_match, false);
    check_pairs(ctx, r->source_match_re, r->nsource_match_re, true);
    check_pairs(ctx, r->target_match, r->ntarget_match, false);
    check_pairs(ctx, r->target_match_re, r->ntarget_match_re, true);
    check_label_names(ctx, r->equal, r->nequal, false);
}

static void check_root(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_alerting *y = obj;
    y->has_sev = dw_schema_seen(ctx, &y->sev);
    y->has_route = dw_schema_seen(ctx, &y->route);
    if (y->has_route && !y->route.receiver)
        dw_schema_error_at(ctx, &y->route, "the root route needs a receiver");
    if (y->has_route && y->route.has_matchers)
        dw_schema_error_at(ctx, &y->route, "the root route must not have matchers");
    if (y->has_route && y->route.cont)
        dw_schema_error_at(ctx, &y->route.cont, "the root route cannot have continue: true");
    if (y->nreceivers == 0)
        dw_schema_define(ctx, "receiver", "default");
}

/* ---- building the runtime configuration ---- */

int prio_index(const char *value)
{
    if (value && value[0] == 'P' && value[1] >= '0' && value[1] <= '2' && !value[2])
        return value[1] - '0';
    return PRIO_NONE;
}

const char *prio_name(int prio)
{
    static const char *const names[] = {"P0", "P1", "P2"};
    return prio >= 0 && prio < 3 ? names[prio] : NULL;
}

static void compile_matchers(struct amatchers *out, char **strs, size_t n,
                             const struct dw_schema_pair *eq, size_t neq,
                             const struct dw_schema_pair *re, size_t nre)
{
    char *err = NULL;
    for (size_t i = 0; i < n; i++)
        amatchers_parse(out, strs[i], &err); /* validated by the checks */
    for (size_t i = 0; i < neq + nre; i++) {
        const struct dw_schema_pair *p = i < neq ? &eq[i] : &re[i - neq];
        struct amatcher m;
        if (amatcher_init(&m, i < neq ? DW_MATCH_EQ : DW_MATCH_RE, p->key, p->value ? p->value : "",
                          &err) == 0)
            amatchers_add(out, &m);
    }
    free(err);
    amatchers_sort(out);
}

static size_t interval_index(const struct acfg *c, const char *name)
{
    for (size_t i = 0; i < c->nintervals; i++)
        if (strcmp(c->intervals[i].name, name) == 0)
            return i;
    return SIZE_MAX; /* cannot happen: references were checked */
}

static size_t *interval_refs(const struct acfg *c, char **names, size_t n)
{
    size_t *out = dw_calloc(n ? n : 1, sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = interval_index(c, names[i]);
    return out;
}

static char **strv_dup(char **v, size_t n)
{
    char **out = dw_calloc(n ? n : 1, sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = dw_strdup(v[i]);
    return out;
}

static void build_route(const struct acfg *c, struct route *r, const struct y_route *y,
                        struct route *parent, size_t index)
{
    r->parent = parent;
    r->receiver = dw_strdup(y->receiver ? y->receiver : parent ? parent->receiver : "default");
    if (y->has_group_by || !parent) {
        bool set = y->has_group_by;
        static char *def[] = {"alertname"};
        r->group_by = strv_dup(set ? y->group_by : def, set ? y->ngroup_by : 1);
        r->ngroup_by = set ? y->ngroup_by : 1;
    } else {
        r->group_by = strv_dup(parent->group_by, parent->ngroup_by);
        r->ngroup_by = parent->ngroup_by;
    }
    r->group_all = r->ngroup_by == 1 && strcmp(r->group_by[0], "...") == 0;
    r->group_wait = y->has_gw ? y->group_wait : parent ? parent->group_wait : -1;
    r->group_interval = y->has_gi ? y->group_interval : parent ? parent->group_interval : -1;
    r->repeat_interval = y->has_ri ? y->repeat_interval : parent ? parent->repeat_interval : -1;
    compile_matchers(&r->matchers, y->matchers, y->nmatchers, y->match, y->nmatch, y->match_re,
                     y->nmatch_re);
    r->cont = y->cont;
    r->mute = interval_refs(c, y->mute, y->nmute);
    r->nmute = y->nmute;
    r->active = interval_refs(c, y->active, y->nactive);
    r->nactive = y->nactive;
    struct dw_buf id;
    dw_buf_init(&id, 0);
    if (parent)
        dw_buf_printf(&id, "%s/", parent->id);
    amatchers_format(&r->matchers, &id);
    if (parent)
        dw_buf_printf(&id, "/%zu", index);
    r->id = dw_buf_steal(&id);
    r->nroutes = y->nroutes;
    r->routes = dw_calloc(y->nroutes ? y->nroutes : 1, sizeof *r->routes);
    for (size_t i = 0; i < y->nroutes; i++)
        build_route(c, &r->routes[i], &y->routes[i], r, i);
}

static void release_route(struct route *r)
{
    for (size_t i = 0; i < r->nroutes; i++)
        release_route(&r->routes[i]);
    free(r->routes);
    free(r->id);
    free(r->receiver);
    for (size_t i = 0; i < r->ngroup_by; i++)
        free(r->group_by[i]);
    free(r->group_by);
    amatchers_release(&r->matchers);
    free(r->mute);
    free(r->active);
}

static struct irange *ranges(char **items, size_t n,
                             int (*parse)(const char *, struct irange *, char **))
{
    struct irange *out = dw_calloc(n ? n : 1, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        char *err = NULL;
        parse(items[i], &out[i], &err);
        free(err);
    }
    return out;
}

static void build_period(struct tperiod *p, const struct y_period *y)
{
    p->times = dw_calloc(y->ntimes ? y->ntimes : 1, sizeof *p->times);
    for (size_t i = 0; i < y->ntimes; i++) {
        char *err = NULL;
        ti_parse_time_range(y->times[i].start, y->times[i].end, &p->times[i], &err);
        free(err);
    }
    p->ntimes = y->ntimes;
    p->weekdays = ranges(y->weekdays, p->nweekdays = y->nweekdays, ti_parse_weekdays);
    p->mdays = ranges(y->mdays, p->nmdays = y->nmdays, ti_parse_mdays);
    p->months = ranges(y->months, p->nmonths = y->nmonths, ti_parse_months);
    p->years = ranges(y->years, p->nyears = y->nyears, ti_parse_years);
    char *err = NULL;
    p->loc = y->location ? dw_tz_get(y->location, &err) : NULL;
    free(err);
}

static void build_intervals(struct acfg *c, const struct y_alerting *y)
{
    size_t n = y->nintervals + y->nold_intervals;
    c->intervals = dw_calloc(n ? n : 1, sizeof *c->intervals);
    for (size_t i = 0; i < n; i++) {
        const struct y_interval *yi =
            i < y->nintervals ? &y->intervals[i] : &y->old_intervals[i - y->nintervals];
        struct tinterval *ti = &c->intervals[c->nintervals++];
        ti->name = dw_strdup(yi->name);
        ti->np = yi->nperiods;
        ti->p = dw_calloc(ti->np ? ti->np : 1, sizeof *ti->p);
        for (size_t k = 0; k < ti->np; k++)
            build_period(&ti->p[k], &yi->periods[k]);
    }
}

static void build_inhibit(struct acfg *c, const struct y_alerting *y)
{
    c->inhibit = dw_calloc(y->ninhibit ? y->ninhibit : 1, sizeof *c->inhibit);
    c->ninhibit = y->ninhibit;
    for (size_t i = 0; i < y->ninhibit; i++) {
        const struct y_inhibit *yi = &y->inhibit[i];
        struct inhibit_rule *r = &c->inhibit[i];
        compile_matchers(&r->source, yi->source, yi->nsource, yi->source_match, yi->nsource_match,
                         yi->source_match_re, yi->nsource_match_re);
        compile_matchers(&r->target, yi->target, yi->ntarget, yi->target_match, yi->ntarget_match,
                         yi->target_match_re, yi->ntarget_match_re);
        r->equal = strv_dup(yi->equal, yi->nequal);
        r->nequal = yi->nequal;
    }
}

static void build_severity(struct acfg *c, const struct y_alerting *y)
{
    static const struct dw_schema_pair defaults[] = {
        {"critical", "P0"}, {"warning", "P1"}, {"info", "P2"}};
    const struct dw_schema_pair *src = y->has_sev ? y->sev : defaults;
    size_t n = y->has_sev ? y->nsev : N(defaults);
    c->sev = dw_calloc(n ? n : 1, sizeof *c->sev);
    c->nsev = n;
    for (size_t i = 0; i < n; i++)
        c->sev[i] = (struct sevmap){dw_strdup(src[i].key), prio_index(src[i].value)};
}

/* Each receiver's list item as YAML, from the section's text (parsed without positions). */
static void build_receiver_yaml(struct acfg *c, const char *section_yaml)
{
    struct fy_document *fyd =
        section_yaml ? fy_document_build_from_string(NULL, section_yaml, FY_NT) : NULL;
    struct fy_node *list =
        fyd ? fy_node_by_path(fy_document_root(fyd), "/receivers", FY_NT, 0) : NULL;
    for (size_t i = 0; i < c->nreceivers; i++) {
        struct fy_node *item =
            list && fy_node_is_sequence(list) ? fy_node_sequence_get_by_index(list, (int)i) : NULL;
        char *text =
            item ? fy_emit_node_to_string(item, FYECF_MODE_FLOW_ONELINE | FYECF_NO_ENDING_NEWLINE)
                 : NULL;
        c->receivers[i].yaml = dw_strdup(text ? text : "");
        free(text);
    }
    fy_document_destroy(fyd);
}

static struct acfg *build(const struct y_alerting *y, const char *section_yaml)
{
    struct acfg *c = dw_calloc(1, sizeof *c);
    c->resolve_timeout = y->resolve_timeout;
    c->flap_changes = (int)y->flap_changes;
    c->flap_window = y->flap_window;
    for (int i = 0; i < PRIO_SLOTS; i++)
        c->prio[i] = (struct timing){y->prio[i].gw, y->prio[i].gi, y->prio[i].ri};
    build_severity(c, y);
    build_intervals(c, y);
    build_inhibit(c, y);
    size_t nr = y->nreceivers ? y->nreceivers : 1;
    c->receivers = dw_calloc(nr, sizeof *c->receivers);
    c->nreceivers = nr;
    for (size_t i = 0; i < nr; i++)
        c->receivers[i].name = dw_strdup(y->nreceivers ? y->receivers[i].name : "default");
    if (y->nreceivers)
        build_receiver_yaml(c, section_yaml);
    else
        c->receivers[0].yaml = dw_strdup("{name: default}");
    struct y_route def = {0};
    build_route(c, &c->root, y->has_route ? &y->route : &def, NULL, 0);
    c->original = dw_strdup(section_yaml ? section_yaml : "");
    return c;
}

static struct acfg *finish_decode(struct y_alerting *y, size_t errors, const char *section_yaml)
{
    struct acfg *c = errors ? NULL : build(y, section_yaml);
    dw_schema_free(&root_schema, y);
    return c;
}

struct acfg *acfg_from_config(const struct dw_config *cfg, struct dw_diags *diags)
{
    struct y_alerting y = {0};
    size_t errors = dw_config_decode_section(cfg, "alerting", &root_schema, &y, NULL, diags);
    struct acfg *c = finish_decode(&y, errors, dw_config_section_yaml(cfg, "alerting"));
    if (c && dw_config_external_url(cfg))
        c->external_url = dw_strdup(dw_config_external_url(cfg));
    return c;
}

struct acfg *acfg_from_yaml(const char *name, const char *yaml, size_t len, struct dw_diags *diags)
{
    struct y_alerting y = {0};
    size_t errors = dw_schema_decode_string(name, yaml, len, &root_schema, &y, NULL, diags);
    char *text = dw_strndup(yaml, len);
    struct acfg *c = finish_decode(&y, errors, text);
    free(text);
    return c;
}

struct acfg *acfg_default(void)
{
    struct dw_diags d;
    dw_diags_init(&d);
    struct acfg *c = acfg_from_yaml("(built-in)", "{}", 2, &d);
    dw_diags_release(&d);
    free(c->original);
    c->original = dw_strdup("");
    return c;
}

void acfg_free(struct acfg **pc)
{
    struct acfg *c = pc ? *pc : NULL;
    if (!c)
        return;
    for (size_t i = 0; i < c->nsev; i++)
        free(c->sev[i].severity);
    free(c->sev);
    release_route(&c->root);
    for (size_t i = 0; i < c->nreceivers; i++) {
        free(c->receivers[i].name);
        free(c->receivers[i].yaml);
    }
    free(c->receivers);
    for (size_t i = 0; i < c->ninhibit; i++) {
        amatchers_release(&c->inhibit[i].source);
        amatchers_release(&c->inhibit[i].target);
        for (size_t k = 0; k < c->inhibit[i].nequal; k++)
            free(c->inhibit[i].equal[k]);
        free(c->inhibit[i].equal);
        free(c->inhibit[i].src);
    }
    free(c->inhibit);
    for (size_t i = 0; i < c->nintervals; i++) {
        for (size_t k = 0; k < c->intervals[i].np; k++)
            tperiod_release(&c->intervals[i].p[k]);
        free(c->intervals[i].p);
        free(c->intervals[i].name);
    }
    free(c->intervals);
    free(c->original);
    free(c->external_url);
    free(c);
    *pc = NULL;
}
