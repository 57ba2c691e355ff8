/*
 * sched_config.c - DESIGN: decodes oncall.schedules into a sched_set.
 *
 *   oncall:
 *     time_zone: Europe/London          # default zone of the schedules (UTC)
 *     schedules:
 *       - id: primary
 *         name: Primary on-call
 *         time_zone: America/New_York   # overrides the section's
 *         members: [a, b]               # shorthand for one layer, or `layers:`
 *         rotation: weekly              # daily | weekly | a duration >= 1h
 *         handoff: "09:00"              # local time of the handoff
 *         handoff_day: monday           # rotations of whole weeks only
 *         start: 2026-11-02             # local date the rotation counts from
 *         restrict: [{weekdays: [monday, friday], start: "09:00", end: "18:00"}]
 *         layers: [{name, members, rotation, handoff, handoff_day, start, restrict}]
 *         overrides:
 *           - {person: x, start: 2026-11-20T09:00:00Z, end: 2026-11-21T09:00:00Z}
 *           - {person: y, replaces: x, start: ..., end: ...}   # a swap
 *
 * The walker (plan's schema tables) does the positions, unknown keys and
 * person references; the check functions here add the rules a table cannot
 * say, each reported at the value it is about. The root schema is closed:
 * besides time_zone and schedules it accepts escalation_policies,
 * notification_rules, business_hours, links and bundle as raw YAML, which
 * policy.c decodes.
 *
 * Decisions:
 * - Schedule ids are not declared with dw_schema_define: the plan already
 *   defines them (it reads oncall.schedules[].id to check schedule:<id>
 *   targets) and predefines them in every section decode, so defining them
 *   again would report every id as a duplicate. A duplicate is reported here.
 * - The first handoff is at `start` + `handoff`; a weekly rotation (any
 *   multiple of 7 days) moves it to the first handoff_day on or after start.
 *   Before the first handoff the layer has nobody.
 * - restrict windows: `weekdays: [first, last]` is an inclusive range (it
 *   may wrap: [friday, monday]); `days: [monday, wednesday]` lists single
 *   days ("monday:friday" ranges allowed in both); neither means every day.
 *   start defaults to 00:00, end to 24:00; an end at or before the start
 *   runs past midnight.
 * - Overrides may not overlap one another in a schedule, except two swaps
 *   that replace different people.
 *
 * Threads: none of its own; decoding is re-entrant.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oncall/schedule.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define DAY_MS 86400000LL
#define ROTATION_MIN_MS 3600000LL
#define ROTATION_MAX_MS (366 * DAY_MS)

/* ---- the YAML, as the walker fills it ---- */

struct y_window {
    int *weekdays; /* masks of single days (or a:b ranges) */
    size_t nweekdays;
    int *days;
    size_t ndays;
    int start_min, end_min;
};

struct y_layer {
    char *name;
    char **members;
    size_t nmembers;
    int64_t rotation_ms;
    int handoff_min;
    int handoff_day;
    int64_t start_day;
    struct y_window *windows;
    size_t nwindows;
};

struct y_override {
    char *person, *replaces;
    int64_t start_ms, end_ms;
};

struct y_schedule {
    char *id, *name, *time_zone;
    struct y_layer one; /* the shorthand's fields */
    struct y_layer *layers;
    size_t nlayers;
    struct y_override *overrides;
    size_t noverrides;
};

struct y_root {
    char *time_zone;
    struct y_schedule *schedules;
    size_t nschedules;
    char *policies, *rules, *hours, *links, *bundle; /* policy.c's */
};

/* ---- scalars ---- */

static const char *const WEEKDAYS[] = {"sunday",   "monday", "tuesday", "wednesday",
                                       "thursday", "friday", "saturday"};

static int weekday_of(const char *s, size_t n)
{
    for (int i = 0; i < 7; i++)
        if (strlen(WEEKDAYS[i]) == n && strncasecmp(s, WEEKDAYS[i], n) == 0)
            return i;
    return -1;
}

/* Days from a to b inclusive, wrapping past Saturday. */
static int day_range(int a, int b)
{
    int mask = 0;
    for (int d = a;; d = (d + 1) % 7) {
        mask |= 1 << d;
        if (d == b)
            return mask;
    }
}

/* "monday" or "monday:friday" into a mask of days. */
static bool decode_days(struct dw_schema_ctx *ctx, const char *value, void *dst)
{
    (void)ctx;
    const char *colon = strchr(value, ':');
    int a = weekday_of(value, colon ? (size_t)(colon - value) : strlen(value));
    int b = colon ? weekday_of(colon + 1, strlen(colon + 1)) : a;
    if (a < 0 || b < 0)
        return false;
    *(int *)dst = day_range(a, b);
    return true;
}

static bool decode_weekday(struct dw_schema_ctx *ctx, const char *value, void *dst)
{
    (void)ctx;
    int d = weekday_of(value, strlen(value));
    if (d < 0)
        return false;
    *(int *)dst = d;
    return true;
}

/* "HH:MM" into minutes of the day; `end` allows 24:00. */
static bool parse_clock(const char *s, bool end, int *out)
{
    if (strlen(s) != 5 || s[2] != ':')
        return false;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return false;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && (!end || m != 0)))
        return false;
    *out = h * 60 + m;
    return true;
}

static bool decode_clock(struct dw_schema_ctx *ctx, const char *value, void *dst)
{
    (void)ctx;
    return parse_clock(value, false, dst);
}

static bool decode_clock_end(struct dw_schema_ctx *ctx, const char *value, void *dst)
{
    (void)ctx;
    return parse_clock(value, true, dst);
}

/* "2026-11-02" into a day number. */
static bool decode_date(struct dw_schema_ctx *ctx, const char *value, void *dst)
{
    (void)ctx;
    int y, m, d;
    char extra;
    if (strlen(value) != 10 || sscanf(value, "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3)
        return false;
    if (y < 1900 || y > 9000 || m < 1 || m > 12 || d < 1 || d > dw_days_in_month(y, m))
        return false;
    *(int64_t *)dst = dw_days_from_civil(y, m, d);
    return true;
}

static bool decode_rotation(struct dw_schema_ctx *ctx, const char *value, void *dst)
{
    int64_t ms;
    if (strcmp(value, "daily") == 0)
        ms = DAY_MS;
    else if (strcmp(value, "weekly") == 0)
        ms = 7 * DAY_MS;
    else if (dw_parse_duration(value, &ms) < 0)
        return false;
    if (ms < ROTATION_MIN_MS || ms > ROTATION_MAX_MS) {
        dw_schema_error(ctx, "a rotation must be between 1h and 366d, got %s", value);
        return true;
    }
    *(int64_t *)dst = ms;
    return true;
}

/* ---- tables ---- */

/* clang-format off */
static void check_window(struct dw_schema_ctx *ctx, void *obj);
static void check_layer(struct dw_schema_ctx *ctx, void *obj);
static void check_schedule(struct dw_schema_ctx *ctx, void *obj);
static void check_override(struct dw_schema_ctx *ctx, void *obj);

#define DAYS_EXPECT "a day like monday, or a range like monday:friday"

static const struct dw_schema_field window_fields[] = {
    {.name = "weekdays", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_CUSTOM, .decode = decode_days,
     .expect = DAYS_EXPECT, DW_SCHEMA_LIST_AT(struct y_window, weekdays, nweekdays)},
    {.name = "days", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_CUSTOM, .decode = decode_days,
     .expect = DAYS_EXPECT, DW_SCHEMA_LIST_AT(struct y_window, days, ndays)},
    {.name = "start", .type = DW_SCHEMA_CUSTOM, .decode = decode_clock, .def = "00:00",
     .expect = "a local time like 09:00", DW_SCHEMA_AT(struct y_window, start_min)},
    {.name = "end", .type = DW_SCHEMA_CUSTOM, .decode = decode_clock_end, .def = "24:00",
     .expect = "a local time like 18:00 (24:00 for midnight)",
     DW_SCHEMA_AT(struct y_window, end_min)},
};
static const struct dw_schema window_schema = {window_fields, N(window_fields), false,
                                               check_window};

/* The layer fields, at prefix B inside struct T: layers and the shorthand share them. */
#define LAYER_FIELDS(T, B)                                                                         \
    {.name = "members", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING, .refers = "person",      \
     DW_SCHEMA_LIST_AT(T, B members, B nmembers)},                                                 \
    {.name = "rotation", .type = DW_SCHEMA_CUSTOM, .decode = decode_rotation, .def = "weekly",     \
     .expect = "daily, weekly or a duration like 12h or 3d",                                       \
     DW_SCHEMA_AT(T, B rotation_ms)},                                                              \
    {.name = "handoff", .type = DW_SCHEMA_CUSTOM, .decode = decode_clock, .def = "09:00",          \
     .expect = "a local time like 09:00", DW_SCHEMA_AT(T, B handoff_min)},                         \
    {.name = "handoff_day", .type = DW_SCHEMA_CUSTOM, .decode = decode_weekday, .def = "monday",   \
     .expect = "a day like monday", DW_SCHEMA_AT(T, B handoff_day)},                               \
    {.name = "start", .type = DW_SCHEMA_CUSTOM, .decode = decode_date, .def = "2026-01-05",        \
     .expect = "a date like 2026-11-02", DW_SCHEMA_AT(T, B start_day)},                            \
    {.name = "restrict", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT, .sub = &window_schema,  \
     DW_SCHEMA_LIST_AT(T, B windows, B nwindows)}

static const struct dw_schema_field layer_fields[] = {
    {.name = "name", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_layer, name)},
    LAYER_FIELDS(struct y_layer, ),
};
static const struct dw_schema layer_schema = {layer_fields, N(layer_fields), false, check_layer};

static const struct dw_schema_field override_fields[] = {
    {.name = "person", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED, .refers = "person",
     DW_SCHEMA_AT(struct y_override, person)},
    {.name = "replaces", .type = DW_SCHEMA_STRING, .refers = "person",
     DW_SCHEMA_AT(struct y_override, replaces)},
    {.name = "start", .type = DW_SCHEMA_TIME, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct y_override, start_ms)},
    {.name = "end", .type = DW_SCHEMA_TIME, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct y_override, end_ms)},
};
static const struct dw_schema override_schema = {override_fields, N(override_fields), false,
                                                 check_override};

static const struct dw_schema_field schedule_fields[] = {
    {.name = "id", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct y_schedule, id)},
    {.name = "name", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_schedule, name)},
    {.name = "time_zone", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_schedule, time_zone)},
    LAYER_FIELDS(struct y_schedule, one.),
    {.name = "layers", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT, .sub = &layer_schema,
     DW_SCHEMA_LIST_AT(struct y_schedule, layers, nlayers)},
    {.name = "overrides", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT,
     .sub = &override_schema, DW_SCHEMA_LIST_AT(struct y_schedule, overrides, noverrides)},
};
static const struct dw_schema schedule_schema = {schedule_fields, N(schedule_fields), false,
                                                 check_schedule};

static const struct dw_schema_field root_fields[] = {
    {.name = "time_zone", .type = DW_SCHEMA_STRING, .def = "UTC",
     DW_SCHEMA_AT(struct y_root, time_zone)},
    {.name = "schedules", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT,
     .sub = &schedule_schema, DW_SCHEMA_LIST_AT(struct y_root, schedules, nschedules)},
    {.name = "escalation_policies", .type = DW_SCHEMA_YAML, DW_SCHEMA_AT(struct y_root, policies)},
    {.name = "notification_rules", .type = DW_SCHEMA_YAML, DW_SCHEMA_AT(struct y_root, rules)},
    {.name = "business_hours", .type = DW_SCHEMA_YAML, DW_SCHEMA_AT(struct y_root, hours)},
    {.name = "links", .type = DW_SCHEMA_YAML, DW_SCHEMA_AT(struct y_root, links)},
    {.name = "bundle", .type = DW_SCHEMA_YAML, DW_SCHEMA_AT(struct y_root, bundle)},
};
static const struct dw_schema root_schema = {root_fields, N(root_fields), false, NULL};
/* clang-format on */

/* ---- checks ---- */

static void check_window(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_window *w = obj;
    if (w->nweekdays && w->ndays)
        dw_schema_error_at(ctx, &w->days, "give weekdays (a range) or days (a list), not both");
    if (w->nweekdays > 2)
        dw_schema_error_at(ctx, &w->weekdays,
                           "weekdays is a range [first, last]; list single days under days");
    if (w->nweekdays == 2 && (__builtin_popcount((unsigned)w->weekdays[0]) != 1 ||
                              __builtin_popcount((unsigned)w->weekdays[1]) != 1))
        dw_schema_error_at(ctx, &w->weekdays, "a range [first, last] takes two single days");
    if (w->start_min == w->end_min)
        dw_schema_error_at(ctx, &w->end_min, "the window is empty (end equals start)");
}

static void check_members(struct dw_schema_ctx *ctx, struct y_layer *l)
{
    if (l->nmembers > SCHED_MAX_MEMBERS)
        dw_schema_error_at(ctx, &l->members, "at most %d members in a layer", SCHED_MAX_MEMBERS);
    if (l->nwindows > SCHED_MAX_WINDOWS)
        dw_schema_error_at(ctx, &l->windows, "at most %d restrict windows in a layer",
                           SCHED_MAX_WINDOWS);
    if (dw_schema_seen(ctx, &l->handoff_day) && l->rotation_ms % (7 * DAY_MS) != 0)
        dw_schema_error_at(ctx, &l->handoff_day,
                           "handoff_day needs a rotation of whole weeks (weekly, 14d...)");
}

static void check_layer(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_layer *l = obj;
    if (l->nmembers == 0)
        dw_schema_error_at(ctx, dw_schema_seen(ctx, &l->members) ? (void *)&l->members : obj,
                           "a layer needs at least one member");
    check_members(ctx, l);
}

static void check_zone(struct dw_schema_ctx *ctx, char *const *zone)
{
    char *err = NULL;
    if (*zone && !dw_tz_get(*zone, &err))
        dw_schema_error_at(ctx, zone, "%s", err ? err : "unknown time zone");
    free(err);
}

/* Shorthand keys written next to `layers:`. */
static void check_shorthand_unused(struct dw_schema_ctx *ctx, struct y_schedule *s)
{
    const void *keys[] = {&s->one.members,     &s->one.rotation_ms, &s->one.handoff_min,
                          &s->one.handoff_day, &s->one.start_day,   &s->one.windows};
    for (size_t i = 0; i < N(keys); i++)
        if (dw_schema_seen(ctx, keys[i]))
            dw_schema_error_at(ctx, keys[i],
                               "give either members (one layer) or layers, not both; "
                               "move this key into each layer");
}

static void check_overlaps(struct dw_schema_ctx *ctx, struct y_schedule *s)
{
    if (s->noverrides > SCHED_MAX_OVERRIDES)
        dw_schema_error_at(ctx, &s->overrides, "at most %d overrides in a schedule",
                           SCHED_MAX_OVERRIDES);
    for (size_t j = 0; j < s->noverrides; j++) {
        struct y_override *b = &s->overrides[j];
        for (size_t k = 0; k < j && b->end_ms > b->start_ms; k++) {
            struct y_override *a = &s->overrides[k];
            if (a->end_ms > a->start_ms &&
                sched_overrides_clash(a->replaces, a->start_ms, a->end_ms, b->replaces, b->start_ms,
                                      b->end_ms)) {
                dw_schema_error_at(ctx, &b->start_ms, "overlaps overrides[%zu] (%s)", k,
                                   a->person ? a->person : "");
                break;
            }
        }
    }
}

static void check_schedule(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_schedule *s = obj;
    check_zone(ctx, &s->time_zone);
    if (s->nlayers > SCHED_MAX_LAYERS)
        dw_schema_error_at(ctx, &s->layers, "at most %d layers in a schedule", SCHED_MAX_LAYERS);
    if (dw_schema_seen(ctx, &s->layers)) {
        check_shorthand_unused(ctx, s);
        if (s->nlayers == 0)
            dw_schema_error_at(ctx, &s->layers, "a schedule needs at least one layer");
    } else if (s->one.nmembers == 0) {
        dw_schema_error_at(ctx,
                           dw_schema_seen(ctx, &s->one.members) ? (void *)&s->one.members : obj,
                           "a schedule needs members (or layers)");
    } else {
        check_members(ctx, &s->one);
    }
    check_overlaps(ctx, s);
}

static void check_override(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_override *o = obj;
    if (o->end_ms <= o->start_ms && dw_schema_seen(ctx, &o->end_ms) &&
        dw_schema_seen(ctx, &o->start_ms))
        dw_schema_error_at(ctx, &o->end_ms, "the end must be after the start");
    if (o->replaces && o->person && strcmp(o->replaces, o->person) == 0)
        dw_schema_error_at(ctx, &o->replaces, "a person cannot replace themselves");
}

static void check_root(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_root *r = obj;
    check_zone(ctx, &r->time_zone);
    if (r->nschedules > SCHED_MAX_SCHEDULES)
        dw_schema_error_at(ctx, &r->schedules, "at most %d schedules", SCHED_MAX_SCHEDULES);
    for (size_t j = 0; j < r->nschedules; j++)
        for (size_t k = 0; k < j; k++)
            if (r->schedules[j].id && r->schedules[k].id &&
                strcmp(r->schedules[j].id, r->schedules[k].id) == 0) {
                dw_schema_error_at(ctx, &r->schedules[j].id,
                                   "duplicate schedule id \"%s\" (also schedules[%zu])",
                                   r->schedules[j].id, k);
                break;
            }
}

/* ---- building the set ---- */

static int64_t first_day(const struct y_layer *y)
{
    if (y->rotation_ms % (7 * DAY_MS) != 0)
        return y->start_day;
    int64_t d = y->start_day;
    while (sched_weekday(d) != y->handoff_day)
        d++;
    return d;
}

static uint8_t window_days(const struct y_window *w)
{
    int mask = 0;
    if (w->nweekdays == 2)
        mask = day_range(__builtin_ctz((unsigned)w->weekdays[0]),
                         __builtin_ctz((unsigned)w->weekdays[1]));
    else if (w->nweekdays == 1)
        mask = w->weekdays[0];
    for (size_t i = 0; i < w->ndays; i++)
        mask |= w->days[i];
    return (uint8_t)(w->nweekdays || w->ndays ? mask : 0x7f);
}

static void build_layer(struct sched_layer *l, const struct y_layer *y, const char *name,
                        const struct dw_tz *zone)
{
    l->name = dw_strdup(name);
    l->nmembers = y->nmembers;
    l->members = dw_calloc(y->nmembers, sizeof *l->members);
    for (size_t i = 0; i < y->nmembers; i++)
        l->members[i] = dw_strdup(y->members[i]);
    l->len_ms = y->rotation_ms;
    l->days = y->rotation_ms % DAY_MS == 0 ? y->rotation_ms / DAY_MS : 0;
    l->handoff_min = y->handoff_min;
    l->anchor = first_day(y);
    l->t0_ms = sched_local_to_ms(zone, l->anchor, l->handoff_min);
    l->nwindows = y->nwindows;
    l->windows = y->nwindows ? dw_calloc(y->nwindows, sizeof *l->windows) : NULL;
    for (size_t i = 0; i < y->nwindows; i++)
        l->windows[i] = (struct sched_window){window_days(&y->windows[i]), y->windows[i].start_min,
                                              y->windows[i].end_min};
}

static void build_schedule(struct sched_schedule *sc, const struct y_schedule *y,
                           const char *default_zone)
{
    sc->id = dw_strdup(y->id);
    sc->name = y->name ? dw_strdup(y->name) : NULL;
    char *err = NULL;
    sc->zone = dw_tz_get(y->time_zone ? y->time_zone : default_zone, &err);
    free(err); /* checked during the walk */
    const struct y_layer *layers = y->nlayers ? y->layers : &y->one;
    sc->nlayers = y->nlayers ? y->nlayers : 1;
    sc->layers = dw_calloc(sc->nlayers, sizeof *sc->layers);
    for (size_t i = 0; i < sc->nlayers; i++) {
        char fallback[32];
        snprintf(fallback, sizeof fallback, "layer %zu", i + 1);
        build_layer(&sc->layers[i], &layers[i], layers[i].name ? layers[i].name : fallback,
                    sc->zone);
    }
    for (size_t i = 0; i < y->noverrides; i++)
        sched_override_insert(sc, y->overrides[i].person, y->overrides[i].replaces,
                              y->overrides[i].start_ms, y->overrides[i].end_ms);
}

static struct sched_set *build_set(const struct y_root *r, const struct dw_config *cfg)
{
    struct sched_set *s = dw_calloc(1, sizeof *s);
    s->n = r->nschedules;
    s->v = dw_calloc(s->n ? s->n : 1, sizeof *s->v);
    for (size_t i = 0; i < s->n; i++)
        build_schedule(&s->v[i], &r->schedules[i], r->time_zone);
    size_t np = 0;
    const struct dw_plan_person *people = dw_config_people(cfg, &np);
    s->people = dw_calloc(np ? np : 1, sizeof *s->people);
    for (size_t i = 0; i < np; i++)
        if (people[i].id)
            s->people[s->npeople++] = dw_strdup(people[i].id);
    return s;
}

struct sched_set *sched_set_decode(const struct dw_config *cfg, struct dw_diags *diags)
{
    struct y_root r = {0};
    size_t errors = dw_config_decode_section(cfg, "oncall", &root_schema, &r, check_root, diags);
    struct sched_set *s = errors ? NULL : build_set(&r, cfg);
    dw_schema_free(&root_schema, &r);
    return s;
}
