/*
 * test_oncall_schedule.c - on-call schedules: rotations across real DST
 * changes (Europe/London, America/New_York), layers with restrict windows,
 * overrides and swaps, gaps and double bookings, the shift bound, the
 * configuration rules with their positions, and the iCalendar feeds
 * (checked here, then parsed back by Python's icalendar when installed).
 *
 * Configurations are examples/dojopool.yaml with its oncall section
 * replaced by the test's own, so people and priorities are the example's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "oncall/schedule.h"
#include "plan/plan.h"
#include "testutil.h"

#define H (3600 * 1000LL)
#define DAY (24 * H)

/* ---- configurations ---- */

/* The source root: meson's define when given, else from this file's path. */
static char *source_path(const char *rel)
{
#ifdef DW_SOURCE_ROOT
    return dw_asprintf("%s/%s", DW_SOURCE_ROOT, rel);
#else
    const char *me = __FILE__, *cut = strstr(me, "tests/unit/");
    if (!cut)
        return dw_strdup(rel);
    return dw_asprintf("%.*s%s", (int)(cut - me), me, rel);
#endif
}

/* The example with its top-level oncall block replaced by `oncall`. */
static char *example_with(const char *oncall)
{
    char *path = source_path("examples/dojopool.yaml");
    FILE *f = fopen(path, "r");
    if (!f)
        DW_FAIL_("cannot read %s", path);
    free(path);
    struct dw_buf b;
    dw_buf_init(&b, 0);
    char line[4096];
    bool skip = false;
    while (fgets(line, sizeof line, f)) {
        if (line[0] != ' ' && line[0] != '#' && line[0] != '\n')
            skip = strncmp(line, "oncall:", 7) == 0;
        if (!skip)
            dw_buf_puts(&b, line);
    }
    fclose(f);
    dw_buf_puts(&b, oncall);
    return dw_buf_steal(&b);
}

static struct dw_config *load_text(const char *text, struct dw_diags *d)
{
    return dw_config_load_string("test.yaml", text, strlen(text), d);
}

/* Primary and secondary must exist: the example's priorities escalate to them. */
#define BASIC_SECONDARY                                                                            \
    "    - id: secondary\n"                                                                        \
    "      members: [secondary-engineer]\n"

struct fixture {
    struct dw_config *cfg;
    struct sched_set *set;
};

static struct fixture open_fixture(const char *oncall)
{
    char *text = example_with(oncall);
    struct dw_diags d;
    dw_diags_init(&d);
    struct fixture fx = {load_text(text, &d), NULL};
    if (fx.cfg)
        fx.set = sched_set_decode(fx.cfg, &d);
    if (!fx.set) {
        char *msg = diags_text(&d);
        fprintf(stderr, "%s", msg);
        free(msg);
        DW_FAIL_("%s", "schedules do not decode");
    }
    ASSERT_EQ_INT(dw_diags_errors(&d), 0);
    dw_diags_release(&d);
    free(text);
    return fx;
}

static void close_fixture(struct fixture *fx)
{
    sched_set_free(&fx->set);
    ASSERT_NULL(fx->set);
    dw_config_unref(&fx->cfg);
}

static int64_t T(const char *rfc3339)
{
    int64_t ms;
    if (dw_parse_rfc3339(rfc3339, &ms) != 0)
        DW_FAIL_("bad time %s", rfc3339);
    return ms;
}

static size_t idx(const struct sched_set *s, const char *id)
{
    ssize_t i = sched_find(s, id);
    if (i < 0)
        DW_FAIL_("no schedule %s", id);
    return (size_t)i;
}

static ssize_t shifts(const struct sched_set *s, const char *id, const char *from, const char *to,
                      struct sched_shift **out)
{
    char *err = NULL;
    ssize_t n = sched_shifts(s, idx(s, id), T(from), T(to), out, &err);
    if (n < 0)
        DW_FAIL_("sched_shifts: %s", err);
    return n;
}

/* The shift starting at `start` in a list. */
static const struct sched_shift *shift_at(const struct sched_shift *v, ssize_t n, int64_t start)
{
    for (ssize_t i = 0; i < n; i++)
        if (v[i].start_ms == start)
            return &v[i];
    DW_FAIL_("no shift starts at %lld", (long long)start);
}

/* ---- the example ---- */

TEST(example_config_decodes)
{
    char *path = source_path("examples/dojopool.yaml");
    struct dw_diags d;
    dw_diags_init(&d);
    struct dw_config *cfg = dw_config_load_file(path, &d);
    free(path);
    ASSERT_NOT_NULL(cfg);
    struct sched_set *s = sched_set_decode(cfg, &d);
    ASSERT_NOT_NULL(s);
    ASSERT_EQ_INT(dw_diags_errors(&d), 0);
    ASSERT_EQ_INT(sched_count(s), 2);
    ASSERT_EQ_STR(sched_id(s, 0), "primary");
    ASSERT_EQ_STR(sched_name(s, 0), "Primary on-call (24/7 rotation)");
    ASSERT_EQ_STR(sched_zone(s, 0), "UTC");
    ASSERT_EQ_INT(sched_find(s, "secondary"), 1);
    ASSERT_EQ_INT(sched_find(s, "tertiary"), -1);
    int64_t until = 0;
    ASSERT_EQ_STR(sched_who(s, 0, T("2026-12-01T03:00:00Z"), &until), "primary-engineer");
    ASSERT_EQ_INT(until, INT64_MAX); /* a one-person rotation never changes */
    ASSERT_EQ_STR(sched_who(s, 1, T("2026-12-01T03:00:00Z"), NULL), "secondary-engineer");
    /* Before the default start (2026-01-05 09:00 UTC) nobody is on call. */
    ASSERT_NULL(sched_who(s, 0, T("2026-01-05T08:59:59Z"), &until));
    ASSERT_EQ_INT(until, T("2026-01-05T09:00:00Z"));
    struct sched_issue *is = NULL;
    char *err = NULL;
    ASSERT_EQ_INT(sched_check(s, T("2026-11-01T00:00:00Z"), T("2027-02-01T00:00:00Z"), &is, &err),
                  0);
    free(is);
    sched_set_free(&s);
    dw_config_unref(&cfg);
    dw_diags_release(&d);
}

/* Replaces every `from` in text (heap) by `to`. */
static char *replace_all(char *text, const char *from, const char *to)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, "");
    const char *p = text, *q;
    while ((q = strstr(p, from))) {
        dw_buf_append(&b, p, (size_t)(q - p));
        dw_buf_puts(&b, to);
        p = q + strlen(from);
    }
    dw_buf_puts(&b, p);
    free(text);
    return dw_buf_steal(&b);
}

TEST(no_oncall_section_is_an_empty_set)
{
    /* Without the section the priorities must escalate to people instead. */
    char *text = example_with("");
    text = replace_all(text, "schedule:primary", "person:primary-engineer");
    text = replace_all(text, "schedule:secondary", "person:secondary-engineer");
    struct dw_diags d;
    dw_diags_init(&d);
    struct dw_config *cfg = load_text(text, &d);
    ASSERT_NOT_NULL(cfg);
    ASSERT_NULL(dw_config_section_yaml(cfg, "oncall"));
    struct sched_set *s = sched_set_decode(cfg, &d);
    ASSERT_NOT_NULL(s);
    ASSERT_EQ_INT(dw_diags_errors(&d), 0);
    ASSERT_EQ_INT(sched_count(s), 0);
    ASSERT_EQ_INT(sched_find(s, "primary"), -1);
    ASSERT_NULL(sched_who(s, 0, 0, NULL));
    struct sched_issue *is = NULL;
    char *err = NULL;
    ASSERT_EQ_INT(sched_check(s, 0, DAY, &is, &err), 0);
    sched_set_free(&s);
    ASSERT_NULL(s);
    sched_set_free(&s); /* a no-op */
    sched_set_free(NULL);
    dw_config_unref(&cfg);
    dw_diags_release(&d);
    free(text);
}

/* ---- rotations across DST ---- */

static const char *daily3(const char *zone, const char *start)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "oncall:\n"
             "  time_zone: %s\n"
             "  schedules:\n"
             "    - id: primary\n"
             "      members: [primary-engineer, devops-lead, cto]\n"
             "      rotation: daily\n"
             "      handoff: \"09:00\"\n"
             "      start: %s\n" BASIC_SECONDARY,
             zone, start);
    return buf;
}

TEST(daily_london_keeps_local_handoff)
{
    struct fixture fx = open_fixture(daily3("Europe/London", "2026-03-20"));
    size_t p = idx(fx.set, "primary");
    ASSERT_EQ_STR(sched_zone(fx.set, p), "Europe/London");
    struct sched_shift *v;
    ssize_t n = shifts(fx.set, "primary", "2026-03-27T00:00:00Z", "2026-04-01T00:00:00Z", &v);
    /* 2026-03-28 09:00 GMT = 09:00Z; 2026-03-29 09:00 BST = 08:00Z: a 23 h shift. */
    const struct sched_shift *s = shift_at(v, n, T("2026-03-28T09:00:00Z"));
    ASSERT_EQ_INT(s->end_ms, T("2026-03-29T08:00:00Z"));
    ASSERT_EQ_INT(s->end_ms - s->start_ms, 23 * H);
    s = shift_at(v, n, T("2026-03-29T08:00:00Z"));
    ASSERT_EQ_INT(s->end_ms - s->start_ms, 24 * H);
    /* Shift k goes to members[k mod 3], counted from 2026-03-20 (k = 0). */
    ASSERT_EQ_STR(shift_at(v, n, T("2026-03-28T09:00:00Z"))->person, "cto");              /* k=8 */
    ASSERT_EQ_STR(shift_at(v, n, T("2026-03-29T08:00:00Z"))->person, "primary-engineer"); /* 9 */
    ASSERT_EQ_STR(v[0].layer, "layer 1");
    ASSERT_FALSE(v[0].override);
    /* Clipped to the window and contiguous. */
    ASSERT_EQ_INT(v[0].start_ms, T("2026-03-27T00:00:00Z"));
    ASSERT_EQ_INT(v[n - 1].end_ms, T("2026-04-01T00:00:00Z"));
    for (ssize_t i = 1; i < n; i++)
        ASSERT_EQ_INT(v[i].start_ms, v[i - 1].end_ms);
    free(v);
    /* Autumn: 2026-10-24 09:00 BST = 08:00Z to 2026-10-25 09:00 GMT = 09:00Z: 25 h. */
    n = shifts(fx.set, "primary", "2026-10-23T00:00:00Z", "2026-10-27T00:00:00Z", &v);
    s = shift_at(v, n, T("2026-10-24T08:00:00Z"));
    ASSERT_EQ_INT(s->end_ms, T("2026-10-25T09:00:00Z"));
    ASSERT_EQ_INT(s->end_ms - s->start_ms, 25 * H);
    free(v);
    int64_t until;
    const char *who = sched_who(fx.set, p, T("2026-10-24T20:00:00Z"), &until);
    ASSERT_NOT_NULL(who);
    ASSERT_EQ_INT(until, T("2026-10-25T09:00:00Z"));
    close_fixture(&fx);
}

TEST(daily_new_york_keeps_local_handoff)
{
    struct fixture fx = open_fixture(daily3("America/New_York", "2026-03-01"));
    struct sched_shift *v;
    /* 2026-03-07 09:00 EST = 14:00Z; 2026-03-08 09:00 EDT = 13:00Z: 23 h. */
    ssize_t n = shifts(fx.set, "primary", "2026-03-06T00:00:00Z", "2026-03-10T00:00:00Z", &v);
    const struct sched_shift *s = shift_at(v, n, T("2026-03-07T14:00:00Z"));
    ASSERT_EQ_INT(s->end_ms, T("2026-03-08T13:00:00Z"));
    ASSERT_EQ_INT(s->end_ms - s->start_ms, 23 * H);
    free(v);
    /* 2026-10-31 09:00 EDT = 13:00Z; 2026-11-01 09:00 EST = 14:00Z: 25 h. */
    n = shifts(fx.set, "primary", "2026-10-30T00:00:00Z", "2026-11-03T00:00:00Z", &v);
    s = shift_at(v, n, T("2026-10-31T13:00:00Z"));
    ASSERT_EQ_INT(s->end_ms, T("2026-11-01T14:00:00Z"));
    ASSERT_EQ_INT(s->end_ms - s->start_ms, 25 * H);
    free(v);
    close_fixture(&fx);
}

TEST(schedule_zone_overrides_section_zone)
{
    struct fixture fx = open_fixture("oncall:\n"
                                     "  time_zone: Europe/London\n"
                                     "  schedules:\n"
                                     "    - id: primary\n"
                                     "      time_zone: America/New_York\n"
                                     "      members: [primary-engineer, cto]\n"
                                     "      rotation: daily\n" BASIC_SECONDARY);
    ASSERT_EQ_STR(sched_zone(fx.set, 0), "America/New_York");
    ASSERT_EQ_STR(sched_zone(fx.set, 1), "Europe/London");
    int64_t until;
    sched_who(fx.set, 0, T("2026-06-10T12:00:00Z"), &until);
    ASSERT_EQ_INT(until, T("2026-06-10T13:00:00Z")); /* 09:00 EDT */
    close_fixture(&fx);
}

TEST(twelve_hours_stay_absolute)
{
    struct fixture fx = open_fixture("oncall:\n"
                                     "  time_zone: Europe/London\n"
                                     "  schedules:\n"
                                     "    - id: primary\n"
                                     "      members: [primary-engineer, cto]\n"
                                     "      rotation: 12h\n"
                                     "      handoff: \"09:00\"\n"
                                     "      start: 2026-03-27\n" BASIC_SECONDARY);
    struct sched_shift *v;
    ssize_t n = shifts(fx.set, "primary", "2026-03-27T09:00:00Z", "2026-03-31T09:00:00Z", &v);
    ASSERT_EQ_INT(n, 8);
    for (ssize_t i = 0; i < n; i++) {
        ASSERT_EQ_INT(v[i].end_ms - v[i].start_ms, 12 * H);
        ASSERT_EQ_STR(v[i].person, i % 2 ? "cto" : "primary-engineer");
    }
    /* After the change the handoffs are at 10:00 and 22:00 BST: still 09:00Z / 21:00Z. */
    shift_at(v, n, T("2026-03-29T21:00:00Z"));
    free(v);
    /* And across the autumn change. */
    n = shifts(fx.set, "primary", "2026-10-24T09:00:00Z", "2026-10-26T09:00:00Z", &v);
    ASSERT_EQ_INT(n, 4);
    for (ssize_t i = 0; i < n; i++)
        ASSERT_EQ_INT(v[i].end_ms - v[i].start_ms, 12 * H);
    free(v);
    close_fixture(&fx);
}

TEST(local_time_in_gap_and_overlap)
{
    char *err = NULL;
    const struct dw_tz *z = dw_tz_get("Europe/London", &err);
    ASSERT_NOT_NULL(z);
    int64_t d = dw_days_from_civil(2026, 3, 29);
    /* 01:30 does not exist: the first instant after the gap, 02:00 BST = 01:00Z. */
    ASSERT_EQ_INT(sched_local_to_ms(z, d, 90), T("2026-03-29T01:00:00Z"));
    ASSERT_EQ_INT(sched_local_to_ms(z, d, 60), T("2026-03-29T01:00:00Z"));
    ASSERT_EQ_INT(sched_local_to_ms(z, d, 59), T("2026-03-29T00:59:00Z"));
    ASSERT_EQ_INT(sched_local_to_ms(z, d, 120), T("2026-03-29T01:00:00Z"));
    /* 01:30 happens twice on 2026-10-25: the first (BST) occurrence. */
    ASSERT_EQ_INT(sched_local_to_ms(z, dw_days_from_civil(2026, 10, 25), 90),
                  T("2026-10-25T00:30:00Z"));
    ASSERT_EQ_INT(sched_weekday(dw_days_from_civil(2026, 3, 29)), 0); /* a Sunday */
}

TEST(handoff_in_spring_gap_follows_rule)
{
    struct fixture fx = open_fixture("oncall:\n"
                                     "  time_zone: Europe/London\n"
                                     "  schedules:\n"
                                     "    - id: primary\n"
                                     "      members: [primary-engineer, cto]\n"
                                     "      rotation: daily\n"
                                     "      handoff: \"01:30\"\n"
                                     "      start: 2026-03-27\n" BASIC_SECONDARY);
    struct sched_shift *v;
    ssize_t n = shifts(fx.set, "primary", "2026-03-27T01:30:00Z", "2026-03-31T00:30:00Z", &v);
    ASSERT_EQ_INT(n, 4);
    ASSERT_EQ_INT(v[0].end_ms, T("2026-03-28T01:30:00Z"));
    /* 03-28 01:30 GMT to 03-29 02:00 BST (01:00Z, the first valid instant): 23.5 h. */
    ASSERT_EQ_INT(v[1].start_ms, T("2026-03-28T01:30:00Z"));
    ASSERT_EQ_INT(v[1].end_ms, T("2026-03-29T01:00:00Z"));
    /* Then back to 01:30 BST = 00:30Z: a 23.5 h shift too. */
    ASSERT_EQ_INT(v[2].end_ms, T("2026-03-30T00:30:00Z"));
    ASSERT_EQ_INT(v[2].end_ms - v[2].start_ms, 23 * H + 30 * 60000);
    free(v);
    close_fixture(&fx);
}

TEST(weekly_handoff_day)
{
    /* Starts on a Wednesday: the first handoff is the next Monday. */
    struct fixture fx = open_fixture("oncall:\n"
                                     "  schedules:\n"
                                     "    - id: primary\n"
                                     "      members: [primary-engineer, cto]\n"
                                     "      rotation: weekly\n"
                                     "      handoff_day: monday\n"
                                     "      start: 2026-11-04\n" BASIC_SECONDARY);
    int64_t until;
    ASSERT_NULL(sched_who(fx.set, 0, T("2026-11-06T12:00:00Z"), &until));
    ASSERT_EQ_INT(until, T("2026-11-09T09:00:00Z"));
    ASSERT_EQ_STR(sched_who(fx.set, 0, T("2026-11-09T09:00:00Z"), &until), "primary-engineer");
    ASSERT_EQ_INT(until, T("2026-11-16T09:00:00Z"));
    ASSERT_EQ_STR(sched_who(fx.set, 0, T("2026-11-16T09:00:00Z"), NULL), "cto");
    close_fixture(&fx);
}

/* ---- layers, overrides, swaps ---- */

static const char *const LAYERED =
    "oncall:\n"
    "  time_zone: Europe/London\n"
    "  schedules:\n"
    "    - id: primary\n"
    "      layers:\n"
    "        - name: around the clock\n"
    "          members: [primary-engineer]\n"
    "        - name: business hours\n"
    "          members: [devops-lead]\n"
    "          restrict:\n"
    "            - {weekdays: [monday, friday], start: \"09:00\", end: \"18:00\"}\n"
    "    - id: secondary\n"
    "      members: [secondary-engineer]\n"
    "    - id: office\n"
    "      members: [devops-lead]\n"
    "      restrict:\n"
    "        - {weekdays: [monday, friday], start: \"09:00\", end: \"18:00\"}\n"
    "    - id: split\n"
    "      members: [cto]\n"
    "      restrict:\n"
    "        - {days: [saturday, sunday]}\n"
    "        - {days: [\"monday:friday\"], start: \"22:00\", end: \"06:00\"}\n";

TEST(business_hours_layer_on_top)
{
    struct fixture fx = open_fixture(LAYERED);
    size_t p = idx(fx.set, "primary");
    int64_t until;
    /* Monday 2026-06-01 10:00 BST = 09:00Z: the business-hours layer, until 18:00 BST. */
    ASSERT_EQ_STR(sched_who(fx.set, p, T("2026-06-01T09:00:00Z"), &until), "devops-lead");
    ASSERT_EQ_INT(until, T("2026-06-01T17:00:00Z"));
    ASSERT_EQ_STR(sched_who(fx.set, p, T("2026-06-01T07:59:59Z"), &until), "primary-engineer");
    ASSERT_EQ_INT(until, T("2026-06-01T08:00:00Z"));
    /* Saturday: the 24/7 layer all day, until Monday 09:00 BST. */
    ASSERT_EQ_STR(sched_who(fx.set, p, T("2026-06-06T12:00:00Z"), &until), "primary-engineer");
    ASSERT_EQ_INT(until, T("2026-06-08T08:00:00Z"));
    /* In winter the window is 09:00-18:00 GMT. */
    ASSERT_EQ_STR(sched_who(fx.set, p, T("2026-12-04T17:59:00Z"), NULL), "devops-lead");
    ASSERT_EQ_STR(sched_who(fx.set, p, T("2026-12-04T18:00:00Z"), NULL), "primary-engineer");
    struct sched_shift *v;
    ssize_t n = shifts(fx.set, "primary", "2026-06-01T00:00:00Z", "2026-06-08T00:00:00Z", &v);
    ASSERT_EQ_INT(n, 11); /* 24/7 and business hours alternate, five weekdays */
    ASSERT_EQ_STR(v[1].layer, "business hours");
    ASSERT_EQ_INT(v[1].start_ms, T("2026-06-01T08:00:00Z"));
    ASSERT_EQ_STR(v[10].layer, "around the clock");
    ASSERT_EQ_INT(v[10].start_ms, T("2026-06-05T17:00:00Z"));
    free(v);
    /* A window past midnight and a days list. */
    size_t sp = idx(fx.set, "split");
    ASSERT_EQ_STR(sched_who(fx.set, sp, T("2026-06-02T04:00:00Z"), &until), "cto"); /* 05:00 */
    ASSERT_EQ_INT(until, T("2026-06-02T05:00:00Z"));
    ASSERT_NULL(sched_who(fx.set, sp, T("2026-06-02T12:00:00Z"), &until));
    ASSERT_EQ_INT(until, T("2026-06-02T21:00:00Z"));
    ASSERT_EQ_STR(sched_who(fx.set, sp, T("2026-06-06T12:00:00Z"), NULL), "cto");
    close_fixture(&fx);
}

TEST(overrides_and_swaps)
{
    struct fixture fx =
        open_fixture("oncall:\n"
                     "  schedules:\n"
                     "    - id: primary\n"
                     "      members: [primary-engineer, cto]\n"
                     "      rotation: daily\n"
                     "      start: 2026-11-01\n"
                     "      overrides:\n"
                     "        - {person: ceo, start: 2026-11-20T12:00:00Z,"
                     " end: 2026-11-20T15:00:00Z}\n"
                     "        - {person: devops-lead, replaces: cto, start: 2026-11-21T00:00:00Z,"
                     " end: 2026-11-23T00:00:00Z}\n" BASIC_SECONDARY);
    size_t p = idx(fx.set, "primary");
    /* 2026-11-20 is day 19 from the start: odd, so cto's; the override wins. */
    ASSERT_EQ_STR(sched_who(fx.set, p, T("2026-11-20T11:00:00Z"), NULL), "cto");
    int64_t until;
    ASSERT_EQ_STR(sched_who(fx.set, p, T("2026-11-20T12:00:00Z"), &until), "ceo");
    ASSERT_EQ_INT(until, T("2026-11-20T15:00:00Z"));
    /* The swap takes only cto's time: 11-21 09:00 is primary-engineer's shift. */
    ASSERT_EQ_STR(sched_who(fx.set, p, T("2026-11-21T03:00:00Z"), &until), "devops-lead");
    ASSERT_EQ_INT(until, T("2026-11-21T09:00:00Z"));
    ASSERT_EQ_STR(sched_who(fx.set, p, T("2026-11-21T12:00:00Z"), NULL), "primary-engineer");
    ASSERT_EQ_STR(sched_who(fx.set, p, T("2026-11-22T12:00:00Z"), &until), "devops-lead");
    ASSERT_EQ_INT(until, T("2026-11-23T00:00:00Z")); /* the swap ends before the handoff */
    ASSERT_EQ_STR(sched_who(fx.set, p, T("2026-11-23T00:00:00Z"), NULL), "cto");
    struct sched_shift *v;
    ssize_t n = shifts(fx.set, "primary", "2026-11-20T09:00:00Z", "2026-11-21T09:00:00Z", &v);
    ASSERT_EQ_INT(n, 4); /* cto, ceo (override), cto, devops-lead (swap) */
    ASSERT_EQ_STR(v[1].person, "ceo");
    ASSERT_TRUE(v[1].override);
    ASSERT_EQ_STR(v[1].layer, "override");
    ASSERT_FALSE(v[2].override);
    ASSERT_EQ_STR(v[3].person, "devops-lead");
    ASSERT_TRUE(v[3].override);
    free(v);
    close_fixture(&fx);
}

TEST(runtime_overrides)
{
    struct fixture fx = open_fixture(daily3("UTC", "2026-11-01"));
    char *err = NULL;
    int64_t a = T("2026-12-01T00:00:00Z"), b = T("2026-12-02T00:00:00Z");
    ASSERT_EQ_INT(sched_add_override(fx.set, "primary", "ceo", NULL, a, b, &err), 0);
    ASSERT_EQ_STR(sched_who(fx.set, 0, a + H, NULL), "ceo");
    ASSERT_EQ_INT(sched_add_override(fx.set, "primary", "cto", NULL, a + H, b + H, &err), -1);
    ASSERT_CONTAINS(err, "overlaps");
    free(err);
    ASSERT_EQ_INT(sched_add_override(fx.set, "primary", "cto", NULL, b, a, &err), -1);
    ASSERT_CONTAINS(err, "end must be after");
    free(err);
    ASSERT_EQ_INT(sched_add_override(fx.set, "nope", "cto", NULL, a, b, &err), -1);
    ASSERT_CONTAINS(err, "unknown schedule");
    free(err);
    ASSERT_EQ_INT(sched_add_override(fx.set, "primary", "nobody", NULL, b, b + H, &err), -1);
    ASSERT_CONTAINS(err, "unknown person \"nobody\"");
    free(err);
    ASSERT_EQ_INT(sched_add_override(fx.set, "primary", "cto", "ghost", b, b + H, &err), -1);
    ASSERT_CONTAINS(err, "unknown person \"ghost\"");
    free(err);
    /* Two swaps of different people may overlap; of the same person may not. */
    ASSERT_EQ_INT(sched_add_override(fx.set, "primary", "ceo", "cto", b, b + DAY, &err), 0);
    ASSERT_EQ_INT(sched_add_override(fx.set, "primary", "ceo", "devops-lead", b, b + DAY, &err), 0);
    ASSERT_EQ_INT(
        sched_add_override(fx.set, "primary", "cto", "devops-lead", b + H, b + 2 * H, &err), -1);
    free(err);
    /* The bound: SCHED_MAX_OVERRIDES in all. */
    int64_t t = T("2030-01-01T00:00:00Z");
    int added = 3;
    while (sched_add_override(fx.set, "primary", "cto", NULL, t, t + H, &err) == 0) {
        t += H;
        added++;
    }
    ASSERT_EQ_INT(added, SCHED_MAX_OVERRIDES);
    ASSERT_CONTAINS(err, "overrides already");
    free(err);
    close_fixture(&fx);
}

/* ---- gaps, double bookings, bounds ---- */

TEST(gaps_of_a_restricted_schedule)
{
    struct fixture fx = open_fixture(LAYERED);
    struct sched_issue *v = NULL;
    char *err = NULL;
    /* One summer week, Monday 00:00 BST to the next Monday 00:00 BST. */
    ssize_t n = sched_check(fx.set, T("2026-05-31T23:00:00Z"), T("2026-06-07T23:00:00Z"), &v, &err);
    ASSERT_TRUE(n > 0);
    size_t office = 0, split = 0, other = 0, doubles = 0;
    for (ssize_t i = 0; i < n; i++) {
        if (strcmp(v[i].kind, "double_booking") == 0) {
            /* devops-lead runs primary's business-hours layer and the office schedule. */
            ASSERT_EQ_STR(v[i].schedule, "primary");
            ASSERT_EQ_STR(v[i].other_schedule, "office");
            ASSERT_EQ_STR(v[i].person, "devops-lead");
            ASSERT_EQ_INT(v[i].end_ms - v[i].start_ms, 9 * H);
            doubles++;
            continue;
        }
        ASSERT_EQ_STR(v[i].kind, "gap");
        ASSERT_NULL(v[i].person);
        ASSERT_NULL(v[i].other_schedule);
        if (strcmp(v[i].schedule, "office") == 0)
            office++;
        else if (strcmp(v[i].schedule, "split") == 0)
            split++;
        else
            other++;
    }
    ASSERT_EQ_INT(doubles, 5);
    ASSERT_EQ_INT(other, 0);  /* primary and secondary cover everything */
    ASSERT_EQ_INT(office, 6); /* before Monday 09:00, four nights, Friday 18:00 onwards */
    ASSERT_EQ_INT(split, 5);  /* Monday 00:00-22:00, then Tuesday to Friday 06:00-22:00 */
    const struct sched_issue *g = NULL;
    for (ssize_t i = 0; i < n && !g; i++)
        if (strcmp(v[i].schedule, "office") == 0)
            g = &v[i];
    ASSERT_EQ_INT(g->start_ms, T("2026-05-31T23:00:00Z"));
    ASSERT_EQ_INT(g->end_ms, T("2026-06-01T08:00:00Z"));
    free(v);
    close_fixture(&fx);
}

TEST(double_booking_across_schedules)
{
    struct fixture fx =
        open_fixture("oncall:\n"
                     "  schedules:\n"
                     "    - id: primary\n"
                     "      members: [primary-engineer]\n"
                     "    - id: secondary\n"
                     "      members: [secondary-engineer]\n"
                     "      overrides:\n"
                     "        - {person: primary-engineer, start: 2026-11-20T09:00:00Z,"
                     " end: 2026-11-20T17:00:00Z}\n");
    struct sched_issue *v = NULL;
    char *err = NULL;
    ssize_t n = sched_check(fx.set, T("2026-11-16T00:00:00Z"), T("2026-11-23T00:00:00Z"), &v, &err);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_STR(v[0].kind, "double_booking");
    ASSERT_EQ_STR(v[0].schedule, "primary");
    ASSERT_EQ_STR(v[0].other_schedule, "secondary");
    ASSERT_EQ_STR(v[0].person, "primary-engineer");
    ASSERT_EQ_INT(v[0].start_ms, T("2026-11-20T09:00:00Z"));
    ASSERT_EQ_INT(v[0].end_ms, T("2026-11-20T17:00:00Z"));
    free(v);
    close_fixture(&fx);
}

TEST(shift_count_is_bounded)
{
    struct fixture fx = open_fixture("oncall:\n"
                                     "  schedules:\n"
                                     "    - id: primary\n"
                                     "      members: [primary-engineer, cto]\n"
                                     "      rotation: 1h\n" BASIC_SECONDARY);
    struct sched_shift *v = NULL;
    char *err = NULL;
    /* Hourly handoffs for two years: 17520 shifts. */
    ASSERT_EQ_INT(
        sched_shifts(fx.set, 0, T("2026-02-01T00:00:00Z"), T("2028-02-01T00:00:00Z"), &v, &err),
        -1);
    ASSERT_NULL(v);
    ASSERT_CONTAINS(err, "more than 10000 shifts");
    free(err);
    /* Exactly at the bound is fine. */
    int64_t from = T("2026-02-01T00:00:00Z");
    ASSERT_EQ_INT(sched_shifts(fx.set, 0, from, from + 10000 * H, &v, &err), 10000);
    free(v);
    ASSERT_EQ_INT(sched_shifts(fx.set, 0, from, from + 10001 * H, &v, &err), -1);
    free(err);
    struct sched_issue *is = NULL;
    ASSERT_EQ_INT(sched_check(fx.set, from, from + 2 * 365 * DAY, &is, &err), -1);
    free(err);
    ASSERT_EQ_INT(sched_shifts(fx.set, 0, from, from, &v, &err), -1);
    ASSERT_CONTAINS(err, "end must be after");
    free(err);
    ASSERT_EQ_INT(sched_shifts(fx.set, 9, from, from + H, &v, &err), -1);
    free(err);
    ASSERT_NULL(sched_who(fx.set, 9, from, NULL));
    close_fixture(&fx);
}

/* ---- validation, with positions ---- */

/*
 * Decodes `oncall` and requires a diagnostic whose message contains `msg`,
 * in test.yaml, at the line and column where `at` is written.
 */
static void expect_error(const char *oncall, const char *msg, const char *at)
{
    char *text = example_with(oncall);
    struct dw_diags d;
    dw_diags_init(&d);
    struct dw_config *cfg = load_text(text, &d);
    struct sched_set *s = cfg ? sched_set_decode(cfg, &d) : NULL;
    ASSERT_NULL(s);
    char *all = diags_text(&d);
    const struct dw_diag *hit = NULL;
    for (size_t i = 0; i < d.n && !hit; i++)
        if (strstr(d.items[i].msg, msg))
            hit = &d.items[i];
    if (!hit)
        DW_FAIL_("no diagnostic \"%s\" in:\n%s", msg, all);
    ASSERT_EQ_STR(hit->file, "test.yaml");
    const char *line = text;
    for (int l = 1; l < hit->line && line; l++)
        line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL;
    ASSERT_NOT_NULL(line);
    ASSERT_TRUE(hit->col >= 1);
    if (strncmp(line + hit->col - 1, at, strlen(at)) != 0)
        DW_FAIL_("\"%s\" is at %d:%d, not at \"%s\"; diagnostics:\n%s", msg, hit->line, hit->col,
                 at, all);
    free(all);
    dw_diags_release(&d);
    dw_config_unref(&cfg);
    free(text);
}

#define ONE(extra)                                                                                 \
    "oncall:\n"                                                                                    \
    "  schedules:\n"                                                                               \
    "    - id: primary\n" extra BASIC_SECONDARY

TEST(validation_rules_have_positions)
{
    expect_error(ONE("      members: [primary-engineer]\n      rotaton: daily\n"),
                 "unknown key (did you mean \"rotation\"?)", "rotaton");
    expect_error("oncall:\n  timezone: UTC\n  schedules:\n    - id: primary\n"
                 "      members: [cto]\n" BASIC_SECONDARY,
                 "unknown key (did you mean \"time_zone\"?)", "timezone");
    expect_error(ONE("      members: []\n"), "needs members", "members");
    expect_error(ONE("      name: no one\n"), "needs members", "primary\n      name");
    expect_error(ONE("      members: [cto]\n      layers:\n        - members: [ceo]\n"),
                 "give either members (one layer) or layers", "cto");
    expect_error(ONE("      layers:\n        - name: x\n          members: []\n"),
                 "a layer needs at least one member", "members");
    expect_error(ONE("      time_zone: Mars/Olympus\n      members: [cto]\n"), "Mars/Olympus",
                 "Mars/Olympus");
    expect_error("oncall:\n  time_zone: Europe/Lundon\n  schedules:\n"
                 "    - id: primary\n      members: [cto]\n" BASIC_SECONDARY,
                 "Europe/Lundon", "Europe/Lundon");
    expect_error(ONE("      members: [cto]\n      handoff: \"25:00\"\n"),
                 "expected a local time like 09:00, got \"25:00\"", "25:00\"");
    expect_error(ONE("      members: [cto]\n      rotation: fortnightly\n"),
                 "expected daily, weekly or a duration", "fortnightly");
    expect_error(ONE("      members: [cto]\n      rotation: 30m\n"),
                 "a rotation must be between 1h and 366d", "30m");
    expect_error(ONE("      members: [cto]\n      rotation: 3d\n      handoff_day: friday\n"),
                 "handoff_day needs a rotation of whole weeks", "friday");
    expect_error(ONE("      members: [cto]\n      start: 2026-02-30\n"),
                 "expected a date like 2026-11-02", "2026-02-30");
    expect_error(ONE("      members: [cto]\n      overrides:\n"
                     "        - {person: ceo, start: 2026-11-21T09:00:00Z,"
                     " end: 2026-11-20T09:00:00Z}\n"),
                 "the end must be after the start", "2026-11-20T09:00:00Z");
    expect_error(ONE("      members: [cto]\n      overrides:\n"
                     "        - {person: ceoo, start: 2026-11-20T09:00:00Z,"
                     " end: 2026-11-21T09:00:00Z}\n"),
                 "undefined person \"ceoo\" (did you mean \"ceo\"?)", "ceoo");
    expect_error(ONE("      members: [cto, bob]\n"), "undefined person \"bob\"", "bob");
    expect_error(ONE("      members: [cto]\n      overrides:\n"
                     "        - {person: ceo, start: 2026-11-20T09:00:00Z,"
                     " end: 2026-11-21T09:00:00Z}\n"
                     "        - {person: cto, start: 2026-11-21T08:00:00Z,"
                     " end: 2026-11-22T09:00:00Z}\n"),
                 "overlaps overrides[0] (ceo)", "2026-11-21T08:00:00Z");
    expect_error(ONE("      members: [cto]\n      restrict:\n"
                     "        - {weekdays: [monday, tuesday, friday]}\n"),
                 "weekdays is a range [first, last]", "monday");
    expect_error(ONE("      members: [cto]\n      restrict:\n"
                     "        - {days: [mondays]}\n"),
                 "expected a day like monday", "mondays");
    /* Duplicate ids: the plan defines schedule ids when it loads the file. */
    expect_error("oncall:\n  schedules:\n    - id: primary\n      members: [cto]\n"
                 "    - id: primary\n      members: [ceo]\n" BASIC_SECONDARY,
                 "duplicate schedule id \"primary\"", "primary\n      members: [ceo]");
}

TEST(limits_are_enforced)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, "oncall:\n  schedules:\n    - id: primary\n      members: [");
    for (int i = 0; i <= SCHED_MAX_MEMBERS; i++)
        dw_buf_printf(&b, "%scto", i ? ", " : "");
    dw_buf_puts(&b, "]\n" BASIC_SECONDARY);
    expect_error(b.data, "at most 100 members in a layer", "cto");
    dw_buf_clear(&b);
    dw_buf_puts(&b, "oncall:\n  schedules:\n    - id: primary\n      layers:\n");
    for (int i = 0; i <= SCHED_MAX_LAYERS; i++)
        dw_buf_puts(&b, "        - members: [cto]\n");
    dw_buf_puts(&b, BASIC_SECONDARY);
    expect_error(b.data, "at most 16 layers", "members");
    dw_buf_release(&b);
}

TEST(other_oncall_keys_are_accepted)
{
    struct fixture fx = open_fixture("oncall:\n"
                                     "  escalation_policies:\n"
                                     "    - id: critical\n"
                                     "      steps: [{notify: [schedule:primary]}]\n"
                                     "  links: {base_url: https://dojowatch.example}\n"
                                     "  bundle: {window: 1m}\n"
                                     "  schedules:\n"
                                     "    - id: primary\n"
                                     "      members: [primary-engineer]\n" BASIC_SECONDARY);
    ASSERT_EQ_INT(sched_count(fx.set), 2);
    close_fixture(&fx);
}

/* ---- iCalendar ---- */

/* Unfolds the feed, checking CRLF, the 75-octet limit and UTF-8 on the way. */
static char *check_lines_and_unfold(const char *feed)
{
    struct dw_buf out;
    dw_buf_init(&out, 0);
    dw_buf_puts(&out, "");
    const char *p = feed;
    while (*p) {
        const char *cr = strstr(p, "\r\n");
        ASSERT_NOT_NULL(cr);
        size_t len = (size_t)(cr - p);
        ASSERT_TRUE(len <= 75);
        ASSERT_NULL(memchr(p, '\n', len)); /* no bare LF */
        if (*p == ' ') {
            /* A continuation never starts inside a UTF-8 sequence. */
            ASSERT_TRUE(len < 2 || ((unsigned char)p[1] & 0xC0) != 0x80);
            dw_buf_append(&out, p + 1, len - 1);
        } else {
            if (out.len)
                dw_buf_putc(&out, '\n');
            dw_buf_append(&out, p, len);
        }
        p = cr + 2;
    }
    dw_buf_putc(&out, '\n');
    return dw_buf_steal(&out);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static const char *const ICAL_CONF =
    "oncall:\n"
    "  time_zone: Europe/London\n"
    "  schedules:\n"
    "    - id: primary\n"
    "      name: \"Primäre Bereitschaft; Tag, Nacht \\\\ Wochenende — "
    "ein sehr langer Name, damit gefaltet wird\"\n"
    "      members: [primary-engineer, cto]\n"
    "      rotation: daily\n"
    "      start: 2026-03-20\n" BASIC_SECONDARY;

/* Parses the feed with Python's icalendar: 1 when it ran, 0 when skipped. */
static int python_parse(const char *feed, char *out, size_t size)
{
    if (access("/usr/bin/python3", X_OK) != 0) {
        printf("  note: /usr/bin/python3 missing; skipping the icalendar check\n");
        return 0;
    }
    char path[] = "/tmp/dw-ical-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    ASSERT_EQ_INT(write(fd, feed, strlen(feed)), (long long)strlen(feed));
    close(fd);
    char *cmd = dw_asprintf(
        "/usr/bin/python3 -c 'import sys\n"
        "try:\n import icalendar\nexcept ImportError:\n print(\"SKIP\"); sys.exit(0)\n"
        "c = icalendar.Calendar.from_ical(open(sys.argv[1], newline=\"\").read())\n"
        "ev = list(c.walk(\"VEVENT\"))\n"
        "print(len(ev), ev[0].decoded(\"DTSTART\").isoformat(), ev[-1].decoded(\"DTEND\")"
        ".isoformat())\n"
        "print(str(ev[0].get(\"SUMMARY\")))' %s",
        path);
    FILE *p = popen(cmd, "r");
    free(cmd);
    ASSERT_NOT_NULL(p);
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    unlink(path);
    if (strncmp(out, "SKIP", 4) == 0) {
        printf("  note: python3 has no icalendar module; skipping that check\n");
        return 0;
    }
    if (rc != 0)
        DW_FAIL_("python icalendar failed (%d): %s", rc, out);
    return 1;
}

TEST(ical_schedule_feed)
{
    setenv("DOJOPOOL_CTO_NAME", "Zoë, \"the\" CTO; on call", 1);
    struct fixture fx = open_fixture(ICAL_CONF);
    unsetenv("DOJOPOOL_CTO_NAME");
    int64_t from = T("2026-03-27T12:00:00Z"), to = T("2026-03-31T00:00:00Z");
    int64_t now = T("2026-03-26T10:11:12Z");
    char *feed = sched_ical_schedule(fx.set, 0, fx.cfg, from, to, now);
    ASSERT_NOT_NULL(feed);
    ASSERT_TRUE(dw_str_has_prefix(feed, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
                                        "PRODID:-//dojowatch//oncall//EN\r\n"
                                        "CALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\n"));
    ASSERT_TRUE(dw_str_has_suffix(feed, "END:VCALENDAR\r\n"));
    char *text = check_lines_and_unfold(feed);
    /* Shifts overlapping [03-27 12:00Z, 03-31): 03-27 09:00Z (its real start), 03-28 09:00Z,
     * 03-29 08:00Z (BST), 03-30 08:00Z. */
    ASSERT_EQ_INT(count(text, "BEGIN:VEVENT\n"), 4);
    ASSERT_EQ_INT(count(text, "END:VEVENT\n"), 4);
    ASSERT_CONTAINS(text, "\nDTSTART:20260327T090000Z\nDTEND:20260328T090000Z\n");
    ASSERT_CONTAINS(text, "\nDTSTART:20260328T090000Z\nDTEND:20260329T080000Z\n");
    ASSERT_CONTAINS(text, "\nDTSTART:20260330T080000Z\nDTEND:20260331T000000Z\n");
    ASSERT_EQ_INT(count(text, "\nDTSTAMP:20260326T101112Z\n"), 4);
    ASSERT_CONTAINS(text, "\nUID:20260328T090000Z-primary-primary-engineer@dojowatch\n");
    ASSERT_CONTAINS(text, "\nX-WR-CALNAME:On call: Primäre Bereitschaft\\; Tag\\, Nacht \\\\ "
                          "Wochenende — ein sehr langer Name\\, damit gefaltet wird\n");
    ASSERT_CONTAINS(text, "\nSUMMARY:On call: Zoë\\, \"the\" CTO\\; on call (Primäre");
    ASSERT_CONTAINS(text, "\nSUMMARY:On call: Primary Engineer (Primäre");
    ASSERT_TRUE(count(feed, "\r\n ") > 0); /* something was folded */
    /* The UID does not move when the window does. */
    char *later = sched_ical_schedule(fx.set, 0, fx.cfg, from + 3 * H, to, now);
    ASSERT_CONTAINS(later, "20260327T090000Z-primary-");
    free(later);
    char out[4096];
    if (python_parse(feed, out, sizeof out)) {
        ASSERT_CONTAINS(out, "4 2026-03-27T09:00:00+00:00 2026-03-31T00:00:00+00:00\n");
        ASSERT_CONTAINS(out, "\nOn call: Zoë, \"the\" CTO; on call (Primäre Bereitschaft; Tag, "
                             "Nacht \\ Wochenende — ein sehr langer Name, damit gefaltet wird)\n");
    }
    ASSERT_NULL(sched_ical_schedule(fx.set, 7, fx.cfg, from, to, now));
    ASSERT_NULL(sched_ical_schedule(fx.set, 0, fx.cfg, to, from, now));
    free(text);
    free(feed);
    close_fixture(&fx);
}

TEST(ical_person_feed)
{
    struct fixture fx = open_fixture(ICAL_CONF);
    int64_t from = T("2026-03-27T12:00:00Z"), to = T("2026-03-31T00:00:00Z");
    char *feed = sched_ical_person(fx.set, "cto", fx.cfg, from, to, from);
    ASSERT_NOT_NULL(feed);
    char *text = check_lines_and_unfold(feed);
    ASSERT_CONTAINS(text, "\nX-WR-CALNAME:On call: CTO\n");
    ASSERT_EQ_INT(count(text, "BEGIN:VEVENT\n"), 2); /* the shifts from 03-27 and 03-29 */
    ASSERT_NOT_CONTAINS(text, "Primary Engineer (");
    char out[4096];
    if (python_parse(feed, out, sizeof out))
        ASSERT_CONTAINS(out, "2 2026-03-27T09:00:00+00:00 2026-03-30T08:00:00+00:00\n");
    free(text);
    free(feed);
    /* Someone on no schedule: an empty, valid calendar. */
    feed = sched_ical_person(fx.set, "ceo", fx.cfg, from, to, from);
    ASSERT_EQ_INT(count(feed, "BEGIN:VEVENT"), 0);
    ASSERT_TRUE(dw_str_has_suffix(feed, "END:VCALENDAR\r\n"));
    free(feed);
    close_fixture(&fx);
}

TEST_MAIN()
