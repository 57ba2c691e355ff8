/*
 * who.c - the schedule questions the API and the CLI ask: who is on call,
 * the iCal feeds, gaps and double bookings, run-time overrides.
 *
 * DESIGN
 * Thin: schedule.c answers; this file picks the schedule set (the running
 * module's, with its stored overrides, or one decoded from a configuration
 * file for `dojowatch oncall who` without a daemon) and shapes JSON.
 */
#include <stdlib.h>
#include <string.h>

#include "oncall/oncall_internal.h"

#define FEED_BEFORE_MS (7LL * 86400000)
#define FEED_AFTER_MS (90LL * 86400000)
#define CHECK_MAX_MS (366LL * 86400000)

static json_t *time_json(int64_t ms)
{
    char buf[40];
    dw_format_rfc3339(ms, buf, sizeof buf);
    return json_string(buf);
}

static json_t *person_json(const struct dw_config *cfg, const char *id)
{
    if (!id)
        return json_null();
    const struct dw_plan_person *p = dw_config_find_person(cfg, id);
    json_t *o = json_pack("{s:s}", "id", id);
    if (p) {
        json_object_set_new(o, "name", json_string(p->name ? p->name : id));
        if (p->email)
            json_object_set_new(o, "email", json_string(p->email));
        if (p->phone)
            json_object_set_new(o, "phone", json_string(p->phone));
    }
    return o;
}

static int who_json(const struct sched_set *s, const struct dw_config *cfg, const char *schedule,
                    int64_t at, json_t **out, char **err)
{
    ssize_t only = -1;
    if (schedule) {
        only = sched_find(s, schedule);
        if (only < 0) {
            *err = dw_asprintf("no schedule \"%s\"", schedule);
            return DW_ONCALL_ENOTFOUND;
        }
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < sched_count(s); i++) {
        if (only >= 0 && (size_t)only != i)
            continue;
        int64_t until = 0;
        const char *who = sched_who(s, i, at, &until);
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:o}", "id", sched_id(s, i), "name", sched_name(s, i),
                      "timeZone", sched_zone(s, i), "onCall", person_json(cfg, who));
        json_object_set_new(o, "until",
                            until > 0 && until < INT64_MAX ? time_json(until) : json_null());
        json_array_append_new(arr, o);
    }
    *out = json_pack("{s:o, s:o}", "at", time_json(at), "schedules", arr);
    return 0;
}

int dw_oncall_who_config_json(const struct dw_config *cfg, const char *schedule, int64_t at,
                              json_t **out, char **err)
{
    struct dw_diags diags;
    dw_diags_init(&diags);
    struct sched_set *s = sched_set_decode(cfg, &diags);
    dw_diags_release(&diags);
    if (!s) {
        *err = dw_strdup("the oncall section has errors; run dojowatch check-config");
        return DW_ONCALL_EINVAL;
    }
    int rc = who_json(s, cfg, schedule, at, out, err);
    sched_set_free(&s);
    return rc;
}

/* The running module's pieces, under its lock (oncall_lock in pages.c). */
int dw_oncall_who_json(struct dw_oncall *oc, const char *schedule, int64_t at, json_t **out,
                       char **err)
{
    struct oncall_view v;
    oncall_view_begin(oc, &v);
    int rc = who_json(v.conf->sched, v.cfg, schedule, at, out, err);
    oncall_view_end(oc);
    return rc;
}

int dw_oncall_ical(struct dw_oncall *oc, const char *kind, const char *id, int64_t now, char **out,
                   char **err)
{
    struct oncall_view v;
    oncall_view_begin(oc, &v);
    int rc = 0;
    int64_t from = now - FEED_BEFORE_MS, to = now + FEED_AFTER_MS;
    if (strcmp(kind, "schedule") == 0) {
        ssize_t i = sched_find(v.conf->sched, id);
        if (i < 0) {
            *err = dw_asprintf("no schedule \"%s\"", id);
            rc = DW_ONCALL_ENOTFOUND;
        } else {
            *out = sched_ical_schedule(v.conf->sched, (size_t)i, v.cfg, from, to, now);
        }
    } else if (!dw_config_find_person(v.cfg, id)) {
        *err = dw_asprintf("no person \"%s\"", id);
        rc = DW_ONCALL_ENOTFOUND;
    } else {
        *out = sched_ical_person(v.conf->sched, id, v.cfg, from, to, now);
    }
    oncall_view_end(oc);
    if (rc == 0 && !*out) {
        *err = dw_strdup("the feed has too many shifts");
        rc = DW_ONCALL_EINVAL;
    }
    return rc;
}

int dw_oncall_check_json(struct dw_oncall *oc, int64_t from, int64_t to, json_t **out, char **err)
{
    if (to <= from || to - from > CHECK_MAX_MS) {
        *err = dw_strdup("the range must be positive and at most 366 days");
        return DW_ONCALL_EINVAL;
    }
    struct oncall_view v;
    oncall_view_begin(oc, &v);
    struct sched_issue *is = NULL;
    ssize_t n = sched_check(v.conf->sched, from, to, &is, err);
    int rc = 0;
    if (n < 0) {
        rc = DW_ONCALL_EINVAL;
    } else {
        json_t *arr = json_array();
        for (ssize_t i = 0; i < n; i++) {
            json_t *o =
                json_pack("{s:s, s:s, s:o, s:o}", "kind", is[i].kind, "schedule", is[i].schedule,
                          "start", time_json(is[i].start_ms), "end", time_json(is[i].end_ms));
            if (is[i].other_schedule)
                json_object_set_new(o, "otherSchedule", json_string(is[i].other_schedule));
            if (is[i].person)
                json_object_set_new(o, "person", json_string(is[i].person));
            json_array_append_new(arr, o);
        }
        *out = json_pack("{s:o, s:o, s:o}", "from", time_json(from), "to", time_json(to), "issues",
                         arr);
    }
    free(is);
    oncall_view_end(oc);
    return rc;
}
