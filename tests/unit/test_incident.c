/*
 * test_incident.c - the incident model on a real store, alerter and on-call
 * module, on the test clock: the whole life of a SEV1 from a P0 alert,
 * MTTA / MTTR, bad input that changes nothing, ids in one second, merge,
 * reopening, rules, every bound, and a restart.
 */
#include <jansson.h>

#include "harness.h"
#include "incident/incident.h"
#include "oncall/oncall.h"
#include "testutil.h"
#include "testutil_alert.h"
#include "testutil_plan.h"

#define MIN 60000LL
/* Monday 2026-03-02 10:00:00 UTC. */
#define T0 1772445600000LL

struct fx {
    char *dir;
    struct dw_store *store;
    struct dw_alerter *a;
    struct dw_oncall *oc;
    struct dw_incidents *inc;
    struct dw_config *cfg;
    struct dw_notifier *n; /* with_notifier: created, never started (messages stay queued) */
    bool with_notifier;
};

static const char alerting[] = "route: {receiver: critical, group_by: [alertname]}\n"
                               "receivers: [{name: critical}]\n";

static void fx_start(struct fx *f)
{
    char *err = NULL;
    f->a = alerter_open_in(f->dir, &f->store);
    alerter_apply_ok(f->a, alerting);
    struct dw_oncall_options oo = {.store = f->store, .alerter = f->a, .config = f->cfg};
    f->oc = dw_oncall_open(&oo, &err);
    ASSERT_NOT_NULL(f->oc);
    if (f->with_notifier)
        f->n = dw_notifier_new(
            &(struct dw_notifier_options){.alerter = f->a, .store = f->store, .config = f->cfg});
    struct dw_incidents_options io = {
        .store = f->store, .alerter = f->a, .oncall = f->oc, .notifier = f->n, .config = f->cfg};
    f->inc = dw_incidents_open(&io, &err);
    if (!f->inc)
        fprintf(stderr, "  incidents: %s\n", err);
    free(err);
    ASSERT_NOT_NULL(f->inc);
}

static void fx_stop(struct fx *f)
{
    dw_incidents_close(&f->inc);
    dw_notifier_free(&f->n);
    dw_oncall_close(&f->oc);
    dw_alerter_close(&f->a);
    dw_store_close(&f->store);
}

static void fx_open(struct fx *f, const char *sections)
{
    dw_log_set_level(getenv("DW_DEBUG") ? DW_LOG_DEBUG : DW_LOG_ERROR);
    dw_clock_set_manual(T0);
    f->dir = tmpdir_new();
    f->cfg = config_with(sections ? sections : "");
    fx_start(f);
}

static void fx_close(struct fx *f)
{
    fx_stop(f);
    dw_config_unref(&f->cfg);
    rm_rf(f->dir);
    free(f->dir);
    dw_clock_set_real();
}

static void tick(struct fx *f)
{
    dw_alerter_tick(f->a, dw_now_ms());
    dw_oncall_tick(f->oc, dw_now_ms());
    dw_incidents_tick(f->inc, dw_now_ms());
}

static void advance(struct fx *f, int64_t ms)
{
    dw_clock_advance(ms);
    tick(f);
}

static void alert(struct fx *f, const char *name, const char *priority, int state)
{
    put_alert(f->a, name, priority, "API is down", state);
    tick(f);
}

static json_t *list(struct fx *f, const char *state)
{
    struct dw_incident_filter flt = {.state = state};
    json_t *out = NULL;
    char *err = NULL;
    ASSERT_EQ_INT(dw_incidents_list_json(f->inc, &flt, &out, &err), 0);
    return out;
}

/* The newest incident's id (heap). */
static char *newest(struct fx *f)
{
    json_t *l = list(f, NULL);
    const char *id = json_string_value(json_object_get(json_array_get(l, 0), "id"));
    char *out = id ? dw_strdup(id) : NULL;
    json_decref(l);
    return out;
}

static const char *get_s(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int64_t get_i(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static size_t timeline_count(const json_t *inc, const char *kind, const char *needle)
{
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(json_object_get(inc, "timeline"), i, e)
    {
        if (strcmp(get_s(e, "kind"), kind) == 0 && (!needle || strstr(get_s(e, "text"), needle)))
            n++;
    }
    return n;
}

static void expect_time(const json_t *o, const char *key, int64_t want)
{
    int64_t got = 0;
    ASSERT_EQ_INT(dw_parse_rfc3339(get_s(o, key), &got), 0);
    ASSERT_EQ_INT(got, want);
}

static void move_ok(struct fx *f, const char *id, const char *state)
{
    char *err = NULL;
    int rc = dw_incident_transition(f->inc, id, state, "primary-engineer", dw_now_ms(), &err);
    if (rc)
        fprintf(stderr, "  %s\n", err);
    free(err);
    ASSERT_EQ_INT(rc, 0);
}

TEST(a_sev1_from_a_p0_alert_to_resolved)
{
    struct fx f = {0};
    fx_open(&f, NULL);
    alert(&f, "ApiDown", "P0", DW_ALERT_FIRING);
    char *id = newest(&f);
    ASSERT_NOT_NULL(id);
    ASSERT_EQ_STR(id, "INC-20260302100000");
    json_t *j = dw_incident_json(f.inc, id);
    ASSERT_EQ_INT(get_i(j, "severity"), 1);
    ASSERT_EQ_STR(get_s(j, "severityName"), "Critical");
    ASSERT_EQ_STR(get_s(j, "priority"), "P0");
    ASSERT_EQ_STR(get_s(j, "state"), "triggered");
    ASSERT_EQ_STR(get_s(j, "title"), "ApiDown: API is down");
    ASSERT_EQ_STR(get_s(json_object_get(j, "detection"), "method"), "alert");
    ASSERT_EQ_STR(get_s(json_object_get(j, "detection"), "alert"), "ApiDown");
    ASSERT_EQ_STR(json_string_value(json_array_get(json_object_get(j, "affectedSystems"), 0)),
                  "api");
    ASSERT_EQ_INT(json_array_size(json_object_get(j, "groups")), 1);
    expect_time(j, "createdAt", T0);
    json_decref(j);

    /* nobody acknowledges: at 5:00 the page escalates and the ack target is missed */
    advance(&f, 5 * MIN);
    j = dw_incident_json(f.inc, id);
    ASSERT_EQ_INT(json_array_size(json_object_get(j, "breaches")), 1);
    ASSERT_EQ_STR(get_s(json_array_get(json_object_get(j, "breaches"), 0), "kind"), "acknowledge");
    ASSERT_EQ_INT(timeline_count(j, "escalation", NULL), 1);
    json_decref(j);

    /* the secondary acknowledges the page at 6:00: the incident follows */
    advance(&f, MIN);
    json_t *pages = dw_oncall_pages_json(f.oc, NULL, 10);
    char *page = dw_strdup(get_s(json_array_get(pages, 0), "id"));
    json_decref(pages);
    char *err = NULL;
    ASSERT_EQ_INT(
        dw_oncall_page_act(f.oc, page, DW_PAGE_ACK, "secondary-engineer", "web", dw_now_ms(), &err),
        0);
    tick(&f);
    j = dw_incident_json(f.inc, id);
    ASSERT_EQ_STR(get_s(j, "state"), "acknowledged");
    expect_time(j, "acknowledgedAt", T0 + 6 * MIN);
    ASSERT_EQ_INT(get_i(j, "timeToAcknowledgeSeconds"), 360);
    ASSERT_EQ_STR(get_s(j, "timeToAcknowledge"), "6m");
    json_decref(j);

    /* people work it */
    json_t *ch = json_pack("{s:s, s:s, s:[s], s:b, s:s}", "commander", "devops-lead", "scribe",
                           "primary-engineer", "contributingFactors", "no connection limit",
                           "dataLoss", 0, "impact", "All API calls fail");
    ASSERT_EQ_INT(dw_incident_update(f.inc, id, ch, "devops-lead", dw_now_ms(), &err), 0);
    json_decref(ch);
    advance(&f, 2 * MIN);
    move_ok(&f, id, "investigating");
    ASSERT_EQ_INT(dw_incident_note(f.inc, id, "DB connections exhausted", "primary-engineer",
                                   dw_now_ms(), &err),
                  0);
    advance(&f, 7 * MIN);
    move_ok(&f, id, "identified");
    int64_t action = 0;
    ASSERT_EQ_INT(dw_incident_action_add(f.inc, id, "Add a pool limit", "devops-lead",
                                         T0 + 86400000LL, "devops-lead", dw_now_ms(), &action,
                                         &err),
                  0);
    ASSERT_TRUE(action > 0);
    advance(&f, 15 * MIN);
    move_ok(&f, id, "monitoring");
    /* the alert resolves at 40:00: so does the incident */
    advance(&f, 10 * MIN);
    alert(&f, "ApiDown", "P0", DW_ALERT_RESOLVED);
    advance(&f, 1000); /* the P0 group_interval: the resolved flush */
    j = dw_incident_json(f.inc, id);
    ASSERT_EQ_STR(get_s(j, "state"), "resolved");
    expect_time(j, "investigatingAt", T0 + 8 * MIN);
    expect_time(j, "identifiedAt", T0 + 15 * MIN);
    expect_time(j, "monitoringAt", T0 + 30 * MIN);
    expect_time(j, "resolvedAt", T0 + 40 * MIN);
    ASSERT_EQ_INT(get_i(j, "timeToMitigateSeconds"), 30 * 60);
    ASSERT_EQ_INT(get_i(j, "timeToResolveSeconds"), 40 * 60);
    ASSERT_EQ_STR(get_s(j, "duration"), "40m");
    ASSERT_EQ_STR(get_s(j, "commander"), "DevOps Lead");
    ASSERT_EQ_STR(get_s(j, "commanderId"), "devops-lead");
    ASSERT_EQ_STR(get_s(j, "impact"), "All API calls fail");
    /* resolved within 1h; acknowledged after 5 min and no status-page update by 10 min */
    ASSERT_EQ_INT(json_array_size(json_object_get(j, "breaches")), 2);
    ASSERT_EQ_STR(get_s(json_array_get(json_object_get(j, "breaches"), 0), "kind"), "acknowledge");
    ASSERT_EQ_STR(get_s(json_array_get(json_object_get(j, "breaches"), 1), "kind"), "status_page");
    expect_time(json_array_get(json_object_get(j, "breaches"), 1), "at", T0 + 10 * MIN);
    json_t *ai = json_array_get(json_object_get(j, "actionItems"), 0);
    ASSERT_EQ_STR(get_s(ai, "task"), "Add a pool limit");
    ASSERT_EQ_STR(get_s(ai, "ownerName"), "DevOps Lead");
    ASSERT_FALSE(json_is_true(json_object_get(ai, "done")));
    /* the timeline: alert, page, escalation, acknowledgement, states, note, in time order */
    ASSERT_EQ_INT(timeline_count(j, "alert", "fired: ApiDown"), 1);
    ASSERT_EQ_INT(timeline_count(j, "alert", "resolved: ApiDown"), 1);
    ASSERT_TRUE(timeline_count(j, "page", NULL) >= 1);
    ASSERT_EQ_INT(timeline_count(j, "escalation", NULL), 1);
    ASSERT_EQ_INT(timeline_count(j, "acknowledgement", NULL), 1);
    ASSERT_EQ_INT(timeline_count(j, "state", "triggered -> acknowledged"), 1);
    ASSERT_EQ_INT(timeline_count(j, "state", "monitoring -> resolved"), 1);
    ASSERT_EQ_INT(timeline_count(j, "note", "DB connections"), 1);
    ASSERT_EQ_INT(timeline_count(j, "role", "commander: DevOps Lead"), 1);
    ASSERT_EQ_INT(timeline_count(j, "action", "Add a pool limit"), 1);
    ASSERT_EQ_INT(timeline_count(j, "breach", "acknowledge"), 1);
    size_t i;
    json_t *e;
    int64_t prev = 0;
    json_array_foreach(json_object_get(j, "timeline"), i, e)
    {
        int64_t at = 0;
        ASSERT_EQ_INT(dw_parse_rfc3339(get_s(e, "at"), &at), 0);
        ASSERT_TRUE(at >= prev);
        prev = at;
    }
    ASSERT_EQ_STR(get_s(json_array_get(json_object_get(j, "timeline"), 0), "kind"), "state");
    json_decref(j);

    /* the action item is open, then done */
    json_t *open = dw_incidents_actions_json(f.inc, false, dw_now_ms());
    ASSERT_EQ_INT(json_array_size(open), 1);
    json_decref(open);
    open = dw_incidents_actions_json(f.inc, true, T0 + 2 * 86400000LL);
    ASSERT_EQ_INT(json_array_size(open), 1);
    json_decref(open);
    struct dw_incident_action_change done = {.due_ms = -1, .done = 1};
    ASSERT_EQ_INT(
        dw_incident_action_update(f.inc, id, action, &done, "devops-lead", dw_now_ms(), &err), 0);
    open = dw_incidents_actions_json(f.inc, false, dw_now_ms());
    ASSERT_EQ_INT(json_array_size(open), 0);
    json_decref(open);
    ASSERT_EQ_INT(
        dw_incident_action_update(f.inc, id, action + 99, &done, "devops-lead", dw_now_ms(), &err),
        DW_INCIDENT_ENOTFOUND);
    free(err);
    err = NULL;

    /* MTTA and MTTR equal the clock differences */
    json_t *st = NULL;
    ASSERT_EQ_INT(dw_incidents_stats_json(f.inc, T0, T0 + 86400000LL, &st, &err), 0);
    json_t *sev1 = json_array_get(json_object_get(st, "severities"), 0);
    ASSERT_EQ_INT(get_i(sev1, "incidents"), 1);
    ASSERT_NEAR(json_real_value(json_object_get(json_object_get(sev1, "mtta"), "mean")), 360, 1e-9);
    ASSERT_NEAR(json_real_value(json_object_get(json_object_get(sev1, "mttr"), "p90")), 2400, 1e-9);
    json_decref(st);
    tick(&f);
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_metrics_write(&b);
    ASSERT_CONTAINS(b.data, "dojowatch_incident_mtta_seconds{severity=\"SEV1\"} 360");
    ASSERT_CONTAINS(b.data, "dojowatch_incident_mttr_seconds{severity=\"SEV1\"} 2400");
    ASSERT_CONTAINS(b.data, "dojowatch_incident_open{severity=\"SEV1\"} 0");
    dw_buf_release(&b);

    /* post-mortem and close */
    move_ok(&f, id, "postmortem");
    move_ok(&f, id, "closed");
    j = dw_incident_json(f.inc, id);
    ASSERT_EQ_STR(get_s(j, "state"), "closed");
    json_decref(j);
    free(page);
    free(id);
    fx_close(&f);
}

static char *create(struct fx *f, const char *title, int sev)
{
    char id[DW_INCIDENT_ID_LEN], *err = NULL;
    struct dw_incident_new in = {.title = title, .severity = sev};
    int rc = dw_incident_create(f->inc, &in, "devops-lead", dw_now_ms(), id, &err);
    if (rc)
        fprintf(stderr, "  %s\n", err);
    free(err);
    ASSERT_EQ_INT(rc, 0);
    return dw_strdup(id);
}

/* The incident's JSON text, for "nothing changed" checks. */
static char *dump(struct fx *f, const char *id)
{
    json_t *j = dw_incident_json(f->inc, id);
    char *s = json_dumps(j, JSON_SORT_KEYS);
    json_decref(j);
    return s;
}

#define EXPECT_ERR(call, code, needle)                                                             \
    do {                                                                                           \
        char *err_ = NULL;                                                                         \
        ASSERT_EQ_INT((call), code);                                                               \
        ASSERT_NOT_NULL(err_);                                                                     \
        ASSERT_CONTAINS(err_, needle);                                                             \
        free(err_);                                                                                \
    } while (0)

TEST(bad_input_errors_clearly_and_changes_nothing)
{
    struct fx f = {0};
    fx_open(&f, NULL);
    char *id = create(&f, "Checkout slow", 2);
    char *before = dump(&f, id);
    int64_t now = dw_now_ms();
    EXPECT_ERR(dw_incident_transition(f.inc, id, "fixed", "x", now, &err_), DW_INCIDENT_EINVAL,
               "from triggered you can go to: acknowledged, investigating");
    EXPECT_ERR(dw_incident_transition(f.inc, id, "closed", "x", now, &err_), DW_INCIDENT_EINVAL,
               "cannot go to closed");
    EXPECT_ERR(dw_incident_transition(f.inc, "INC-1", "resolved", "x", now, &err_),
               DW_INCIDENT_ENOTFOUND, "no incident INC-1");
    /* notes: 16 KiB is fine, one byte more is not */
    char *big = dw_malloc(DW_INCIDENT_TEXT_MAX + 2);
    memset(big, 'n', DW_INCIDENT_TEXT_MAX + 1);
    big[DW_INCIDENT_TEXT_MAX + 1] = '\0';
    EXPECT_ERR(dw_incident_note(f.inc, id, big, "x", now, &err_), DW_INCIDENT_EINVAL, "split it");
    EXPECT_ERR(dw_incident_note(f.inc, id, "", "x", now, &err_), DW_INCIDENT_EINVAL, "empty");
    /* roles must be people of the plan; one bad key rejects the whole update */
    json_t *ch = json_pack("{s:s, s:s}", "rootCause", "a bad deploy", "commander", "mallory");
    EXPECT_ERR(dw_incident_update(f.inc, id, ch, "x", now, &err_), DW_INCIDENT_EINVAL,
               "no person \"mallory\"");
    json_decref(ch);
    ch = json_pack("{s:s}", "colour", "red");
    EXPECT_ERR(dw_incident_update(f.inc, id, ch, "x", now, &err_), DW_INCIDENT_EINVAL,
               "fields you can set: title");
    json_decref(ch);
    ch = json_pack("{s:i}", "severity", 7);
    EXPECT_ERR(dw_incident_update(f.inc, id, ch, "x", now, &err_), DW_INCIDENT_EINVAL, "1 (SEV1");
    json_decref(ch);
    ch = json_pack("{s:s}", "impact", big);
    EXPECT_ERR(dw_incident_update(f.inc, id, ch, "x", now, &err_), DW_INCIDENT_EINVAL,
               "at most 16384");
    json_decref(ch);
    char *after = dump(&f, id);
    ASSERT_EQ_STR(after, before);
    free(after);
    big[DW_INCIDENT_TEXT_MAX] = '\0';
    char *err = NULL;
    ASSERT_EQ_INT(dw_incident_note(f.inc, id, big, "x", now, &err), 0);
    free(big);
    /* titles: missing, empty, 257 bytes; 256 is fine */
    char id2[DW_INCIDENT_ID_LEN];
    struct dw_incident_new in = {.severity = 1};
    EXPECT_ERR(dw_incident_create(f.inc, &in, "x", now, id2, &err_), DW_INCIDENT_EINVAL,
               "needs a title");
    char title[DW_INCIDENT_TITLE_MAX + 2];
    memset(title, 't', sizeof title - 1);
    title[sizeof title - 1] = '\0';
    in.title = title;
    EXPECT_ERR(dw_incident_create(f.inc, &in, "x", now, id2, &err_), DW_INCIDENT_EINVAL,
               "at most 256");
    title[DW_INCIDENT_TITLE_MAX] = '\0';
    in.severity = 5;
    EXPECT_ERR(dw_incident_create(f.inc, &in, "x", now, id2, &err_), DW_INCIDENT_EINVAL,
               "severity 5");
    in.severity = 1;
    in.commander = "nobody";
    EXPECT_ERR(dw_incident_create(f.inc, &in, "x", now, id2, &err_), DW_INCIDENT_EINVAL,
               "no person \"nobody\"");
    in.commander = "cto";
    ASSERT_EQ_INT(dw_incident_create(f.inc, &in, "x", now, id2, &err), 0);
    /* list limit */
    struct dw_incident_filter flt = {.limit = DW_INCIDENT_LIST_MAX + 1};
    json_t *out = NULL;
    EXPECT_ERR(dw_incidents_list_json(f.inc, &flt, &out, &err_), DW_INCIDENT_EINVAL, "over 1000");
    flt.limit = DW_INCIDENT_LIST_MAX;
    ASSERT_EQ_INT(dw_incidents_list_json(f.inc, &flt, &out, &err), 0);
    ASSERT_EQ_INT(json_array_size(out), 2);
    json_decref(out);
    flt = (struct dw_incident_filter){.state = "pending"};
    EXPECT_ERR(dw_incidents_list_json(f.inc, &flt, &out, &err_), DW_INCIDENT_EINVAL,
               "unknown state");
    /* 1000 action items, not one more */
    for (int i = 0; i < DW_INCIDENT_ACTIONS_MAX; i++)
        ASSERT_EQ_INT(dw_incident_action_add(f.inc, id, "task", NULL, 0, "x", now, NULL, &err), 0);
    EXPECT_ERR(dw_incident_action_add(f.inc, id, "task", NULL, 0, "x", now, NULL, &err_),
               DW_INCIDENT_EINVAL, "1000 action items");
    EXPECT_ERR(dw_incident_action_add(f.inc, id2, "task", "nobody", 0, "x", now, NULL, &err_),
               DW_INCIDENT_EINVAL, "no person \"nobody\"");
    EXPECT_ERR(dw_incident_action_add(f.inc, id2, "", NULL, 0, "x", now, NULL, &err_),
               DW_INCIDENT_EINVAL, "needs a task");
    /* a team may own an action item */
    ASSERT_EQ_INT(
        dw_incident_action_add(f.inc, id2, "task", "engineering", 0, "x", now, NULL, &err), 0);
    free(before);
    free(id);
    fx_close(&f);
}

TEST(two_incidents_in_one_second_get_distinct_ids)
{
    struct fx f = {0};
    fx_open(&f, NULL);
    char *a = create(&f, "one", 3), *b = create(&f, "two", 3), *c = create(&f, "three", 4);
    ASSERT_EQ_STR(a, "INC-20260302100000");
    ASSERT_EQ_STR(b, "INC-20260302100000-2");
    ASSERT_EQ_STR(c, "INC-20260302100000-3");
    advance(&f, 1000);
    char *d = create(&f, "four", 4);
    ASSERT_EQ_STR(d, "INC-20260302100001");
    /* manual incidents: priority from severity, detection manual */
    json_t *j = dw_incident_json(f.inc, c);
    ASSERT_EQ_STR(get_s(j, "priority"), "P2");
    ASSERT_EQ_STR(get_s(json_object_get(j, "detection"), "method"), "manual");
    json_decref(j);
    free(a);
    free(b);
    free(c);
    free(d);
    fx_close(&f);
}

TEST(merge_moves_alerts_notes_and_actions)
{
    struct fx f = {0};
    fx_open(&f, NULL);
    alert(&f, "ApiDown", "P0", DW_ALERT_FIRING);
    alert(&f, "DbDown", "P0", DW_ALERT_FIRING);
    json_t *l = list(&f, "open");
    ASSERT_EQ_INT(json_array_size(l), 2);
    char *into = dw_strdup(get_s(json_array_get(l, 1), "id"));
    char *from = dw_strdup(get_s(json_array_get(l, 0), "id"));
    json_decref(l);
    ASSERT_EQ_STR(from, "INC-20260302100000-2");
    char *err = NULL;
    ASSERT_EQ_INT(dw_incident_note(f.inc, from, "same root cause", "cto", dw_now_ms(), &err), 0);
    ASSERT_EQ_INT(
        dw_incident_action_add(f.inc, from, "check DB", NULL, 0, "cto", dw_now_ms(), NULL, &err),
        0);
    ASSERT_EQ_INT(dw_incident_merge(f.inc, from, into, "cto", dw_now_ms(), &err), 0);
    json_t *j = dw_incident_json(f.inc, into);
    ASSERT_EQ_INT(json_array_size(json_object_get(j, "groups")), 2);
    ASSERT_EQ_INT(timeline_count(j, "note", "same root cause"), 1);
    ASSERT_EQ_INT(timeline_count(j, "alert", "DbDown"), 1);
    ASSERT_EQ_INT(timeline_count(j, "merge", from), 1);
    ASSERT_EQ_INT(json_array_size(json_object_get(j, "actionItems")), 1);
    json_decref(j);
    j = dw_incident_json(f.inc, from);
    ASSERT_EQ_STR(get_s(j, "state"), "closed");
    ASSERT_EQ_STR(get_s(j, "mergedInto"), into);
    json_decref(j);
    EXPECT_ERR(dw_incident_merge(f.inc, from, into, "cto", dw_now_ms(), &err_), DW_INCIDENT_EINVAL,
               "is closed");
    EXPECT_ERR(dw_incident_merge(f.inc, into, into, "cto", dw_now_ms(), &err_), DW_INCIDENT_EINVAL,
               "itself");
    /* both groups must resolve before the incident does */
    advance(&f, MIN);
    alert(&f, "DbDown", "P0", DW_ALERT_RESOLVED);
    advance(&f, 1000);
    j = dw_incident_json(f.inc, into);
    ASSERT_NE_INT(strcmp(get_s(j, "state"), "resolved"), 0);
    json_decref(j);
    alert(&f, "ApiDown", "P0", DW_ALERT_RESOLVED);
    advance(&f, 1000);
    j = dw_incident_json(f.inc, into);
    ASSERT_EQ_STR(get_s(j, "state"), "resolved");
    json_decref(j);
    /* the group fires again while resolved: reopened */
    advance(&f, MIN);
    alert(&f, "ApiDown", "P0", DW_ALERT_FIRING);
    j = dw_incident_json(f.inc, into);
    ASSERT_EQ_STR(get_s(j, "state"), "investigating");
    ASSERT_TRUE(json_is_null(json_object_get(j, "resolvedAt")));
    ASSERT_EQ_INT(timeline_count(j, "state", "reopened"), 1);
    json_decref(j);
    l = list(&f, NULL);
    ASSERT_EQ_INT(json_array_size(l), 2); /* no new incident */
    json_decref(l);
    free(from);
    free(into);
    fx_close(&f);
}

TEST(rules_choose_severity_and_which_groups_open_incidents)
{
    struct fx f = {0};
    fx_open(&f, "incidents:\n"
                "  rules:\n"
                "    - {priority: P1, severity: 3, services: [api]}\n"
                "    - {priority: P1, severity: 4}\n");
    alert(&f, "ApiDown", "P0", DW_ALERT_FIRING); /* no rule for P0 */
    json_t *l = list(&f, NULL);
    ASSERT_EQ_INT(json_array_size(l), 0);
    json_decref(l);
    alert(&f, "ApiSlow", "P1", DW_ALERT_FIRING);
    advance(&f, 5000); /* the P1 group_wait */
    l = list(&f, NULL);
    ASSERT_EQ_INT(json_array_size(l), 1);
    ASSERT_EQ_INT(get_i(json_array_get(l, 0), "severity"), 3);
    ASSERT_EQ_STR(get_s(json_array_get(l, 0), "severityName"), "Medium");
    json_decref(l);
    /* a bad rule is a configuration error */
    struct dw_config *bad = config_with("incidents:\n  rules: [{priority: P9, severity: 9}]\n");
    struct dw_diags d;
    dw_diags_init(&d);
    ASSERT_EQ_INT(dw_incidents_check_config(bad, &d), 2);
    dw_diags_release(&d);
    char *err = NULL;
    ASSERT_EQ_INT(dw_incidents_apply(f.inc, bad, &err), -1);
    ASSERT_CONTAINS(err, "severity");
    free(err);
    dw_config_unref(&bad);
    /* a misspelt key is reported with its position and the likely meaning */
    bad = config_with("incidents:\n  rulez: [{priority: P0, severity: 1}]\n");
    dw_diags_init(&d);
    ASSERT_EQ_INT(dw_incidents_check_config(bad, &d), 1);
    char *text = diags_text(&d);
    ASSERT_CONTAINS(text, "rulez");
    ASSERT_CONTAINS(text, "rules");
    ASSERT_CONTAINS(text, "test.yaml:");
    free(text);
    dw_diags_release(&d);
    dw_config_unref(&bad);
    fx_close(&f);
}

TEST(a_restart_keeps_everything)
{
    struct fx f = {0};
    fx_open(&f, NULL);
    alert(&f, "ApiDown", "P0", DW_ALERT_FIRING);
    char *id = newest(&f);
    char *err = NULL;
    move_ok(&f, id, "investigating");
    ASSERT_EQ_INT(dw_incident_note(f.inc, id, "looking", "cto", dw_now_ms(), &err), 0);
    ASSERT_EQ_INT(
        dw_incident_action_add(f.inc, id, "fix", "cto", 0, "cto", dw_now_ms(), NULL, &err), 0);
    char *before = dump(&f, id);
    fx_stop(&f);
    fx_start(&f);
    tick(&f);
    char *after = dump(&f, id);
    ASSERT_EQ_STR(after, before);
    /* the events were consumed once: no second incident after the restart */
    json_t *l = list(&f, NULL);
    ASSERT_EQ_INT(json_array_size(l), 1);
    json_decref(l);
    free(before);
    free(after);
    free(id);
    fx_close(&f);
}

TEST(the_thread_opens_incidents_on_its_own)
{
    struct fx f = {0};
    fx_open(&f, NULL);
    ASSERT_EQ_INT(dw_incidents_start(f.inc), 0);
    struct dw_label l[] = {{"alertname", "Boom"}, {"priority", "P1"}};
    struct dw_alert_in in = {.labels = l, .nlabels = 2, .state = DW_ALERT_FIRING};
    char *err = NULL;
    ASSERT_EQ_INT(dw_alerter_put(f.a, &in, 1, dw_now_ms(), &err), 0);
    dw_clock_advance(5000); /* the P1 group_wait */
    dw_alerter_tick(f.a, dw_now_ms());
    char *id = NULL;
    for (int i = 0; i < 300 && !id; i++) {
        usleep(10000);
        id = newest(&f);
    }
    ASSERT_NOT_NULL(id);
    json_t *j = dw_incident_json(f.inc, id);
    ASSERT_EQ_INT(get_i(j, "severity"), 2);
    json_decref(j);
    dw_incidents_stop(f.inc);
    free(id);
    fx_close(&f);
}

/* ---- communications ---- */

static const char comms_notify[] =
    "notify:\n"
    "  slack: {api_url: 'http://127.0.0.1:1/slack'}\n"
    "  email: {smarthost: '127.0.0.1:1', from: 'dw@dojopool.example', require_tls: false}\n";

struct row_list {
    json_t *rows;
};

static int outbox_row_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    json_array_append_new(((struct row_list *)ctx)->rows,
                          json_pack("{s:s, s:s, s:s?, s:s?}", "key", c[0].s, "kind", c[1].s, "to",
                                    c[2].s, "body", c[3].s));
    return 0;
}

/* The queued messages whose dedup key starts with prefix, oldest first. */
static json_t *queued(struct fx *f, const char *prefix)
{
    struct row_list l = {json_array()};
    char *like = dw_asprintf("%s%%", prefix);
    struct dw_value p[] = {DW_VTEXT(like)};
    ASSERT_EQ_INT(dw_store_exec(f->store,
                                "SELECT dedup_key, kind, to_addr, body FROM notify_outbox"
                                " WHERE dedup_key LIKE $1 ORDER BY id",
                                p, 1, outbox_row_cb, &l, NULL),
                  0);
    free(like);
    return l.rows;
}

static size_t queued_count(struct fx *f, const char *prefix)
{
    json_t *r = queued(f, prefix);
    size_t n = json_array_size(r);
    json_decref(r);
    return n;
}

/* The text of a queued message: a Slack body as it is (JSON), an e-mail's
 * headers followed by its decoded text/plain part. */
static const char *body_of(json_t *row)
{
    const char *b = json_string_value(json_object_get(row, "body"));
    if (!b)
        return "";
    const char *part = strstr(b, "Content-Transfer-Encoding: base64\r\n\r\n");
    size_t skip = 37;
    if (!part) {
        part = strstr(b, "Content-Transfer-Encoding: base64\n\n");
        skip = 35;
    }
    if (!part)
        return b;
    part += skip;
    const char *end = strstr(part, "--=_");
    struct dw_buf clean;
    dw_buf_init(&clean, 0);
    for (const char *p = part; p < (end ? end : part + strlen(part)); p++)
        if (*p != '\r' && *p != '\n')
            dw_buf_putc(&clean, *p);
    uint8_t *text = dw_calloc(1, clean.len + 1);
    ssize_t n = dw_base64_decode(clean.data ? clean.data : "", false, text, clean.len);
    char *all = dw_asprintf("%.*s\n%.*s", (int)(part - b), b, n > 0 ? (int)n : 0, (char *)text);
    json_object_set_new(row, "decoded", json_string(all));
    free(all);
    free(text);
    dw_buf_release(&clean);
    return json_string_value(json_object_get(row, "decoded"));
}

TEST(a_sev1_is_told_to_the_channel_the_stakeholders_and_the_people_who_must_act)
{
    struct fx f = {.with_notifier = true};
    fx_open(&f, comms_notify);
    alert(&f, "ApiDown", "P0", DW_ALERT_FIRING);
    advance(&f, 1000);
    char *id = newest(&f);
    ASSERT_NOT_NULL(id);
    json_t *j = NULL;
    char *pre = dw_asprintf("incident:%s:", id), *key = NULL;

    /* The timeline goes to #incidents, threaded by the incident; the first entry is the root. */
    json_t *tl = queued(&f, "incident:");
    size_t n_tl = 0;
    size_t i;
    json_t *row;
    json_array_foreach(tl, i, row)
    {
        if (!strstr(get_s(row, "key"), ":timeline:"))
            continue;
        ASSERT_EQ_STR(get_s(row, "kind"), "slack");
        ASSERT_EQ_STR(get_s(row, "to"), "#incidents");
        ASSERT_CONTAINS(body_of(row), id);
        if (n_tl++ == 0) {
            ASSERT_CONTAINS(body_of(row), "[SEV1]");
            ASSERT_CONTAINS(body_of(row), id);
            ASSERT_CONTAINS(body_of(row), "opened");
        }
    }
    ASSERT_TRUE(n_tl >= 2); /* opened, alert fired */
    json_decref(tl);

    /* Stakeholders: the business contacts by e-mail, once when it opens. */
    key = dw_asprintf("%sstakeholders:0:", pre);
    json_t *st = queued(&f, key);
    ASSERT_EQ_INT(json_array_size(st), 3);
    ASSERT_EQ_STR(get_s(json_array_get(st, 0), "kind"), "email");
    ASSERT_CONTAINS(body_of(json_array_get(st, 0)), "Incident opened");
    json_decref(st);
    free(key);

    /* The daily summary (09:00 UTC had passed at 10:00) went to #engineering once. */
    json_t *daily = queued(&f, "incident:daily:2026-03-02");
    ASSERT_EQ_INT(json_array_size(daily), 1);
    ASSERT_EQ_STR(get_s(json_array_get(daily, 0), "to"), "#engineering");
    ASSERT_CONTAINS(body_of(json_array_get(daily, 0)), "Open incidents: 1");
    json_decref(daily);

    /* 4:00 = 80 % of the 5 min acknowledgement target: a reminder, once. */
    advance(&f, 3 * MIN + 58000);
    j = dw_incident_json(f.inc, id);
    ASSERT_EQ_INT(timeline_count(j, "reminder", "not acknowledged"), 0);
    json_decref(j);
    advance(&f, 1000);
    j = dw_incident_json(f.inc, id);
    ASSERT_EQ_INT(timeline_count(j, "reminder", "not acknowledged"), 1);
    json_decref(j);
    advance(&f, 30000);
    j = dw_incident_json(f.inc, id);
    ASSERT_EQ_INT(timeline_count(j, "reminder", "not acknowledged"), 1);
    json_decref(j);

    /* A communications lead: the status-page reminder at 8:00 reaches her directly. */
    char *err = NULL;
    json_t *ch = json_pack("{s:s}", "communicationsLead", "head-of-product");
    ASSERT_EQ_INT(dw_incident_update(f.inc, id, ch, "devops-lead", dw_now_ms(), &err), 0);
    json_decref(ch);
    advance(&f, 4 * MIN); /* 8:30 */
    j = dw_incident_json(f.inc, id);
    ASSERT_EQ_INT(timeline_count(j, "reminder", "no status-page update"), 1);
    ASSERT_EQ_INT(json_array_size(json_object_get(j, "breaches")), 1); /* acknowledge */
    json_decref(j);
    key = dw_asprintf("%sreminder:status_page:", pre);
    json_t *dm = queued(&f, key);
    free(key);
    ASSERT_EQ_INT(json_array_size(dm), 1);
    ASSERT_EQ_STR(get_s(json_array_get(dm, 0), "to"), "head-of-product@dojopool.example");
    json_decref(dm);

    /* An update on the status page at 9:00 stops the breach at 10:00. */
    advance(&f, 30000);
    ASSERT_EQ_INT(dw_incident_record(f.inc, id, "status_page", "Investigating API errors",
                                     "head-of-product", dw_now_ms(), &err),
                  0);
    advance(&f, 2 * MIN);
    j = dw_incident_json(f.inc, id);
    ASSERT_EQ_INT(json_array_size(json_object_get(j, "breaches")), 1);
    ASSERT_EQ_INT(get_i(j, "timeToStatusPageSeconds"), 9 * 60);
    json_decref(j);

    /* 48:00: the stakeholder reminder; 60:00: update 1 with the latest note. */
    ASSERT_EQ_INT(dw_incident_note(f.inc, id, "Rolled back the pool change", "devops-lead",
                                   dw_now_ms(), &err),
                  0);
    advance(&f, 37 * MIN); /* 48:00 */
    j = dw_incident_json(f.inc, id);
    ASSERT_EQ_INT(timeline_count(j, "reminder", "stakeholder update 1"), 1);
    json_decref(j);
    key = dw_asprintf("%sstakeholders:1:", pre);
    ASSERT_EQ_INT(queued_count(&f, key), 0);
    advance(&f, 12 * MIN); /* 60:00 */
    st = queued(&f, key);
    ASSERT_EQ_INT(json_array_size(st), 3);
    ASSERT_CONTAINS(body_of(json_array_get(st, 0)), "Rolled back the pool change");
    ASSERT_CONTAINS(body_of(json_array_get(st, 0)), "Next update by 2026-03-02 12:00:00");
    json_decref(st);
    free(key);

    /* Resolved: a last update; a restart sends nothing twice. */
    alert(&f, "ApiDown", "P0", DW_ALERT_RESOLVED);
    advance(&f, 1000);
    key = dw_asprintf("%sstakeholders:final:", pre);
    ASSERT_EQ_INT(queued_count(&f, key), 3);
    advance(&f, 1000); /* the entry saying so goes to the channel */
    size_t before = queued_count(&f, "incident:");
    fx_stop(&f);
    fx_start(&f);
    advance(&f, 1000);
    ASSERT_EQ_INT(queued_count(&f, "incident:"), before + 0);
    j = dw_incident_json(f.inc, id);
    ASSERT_EQ_INT(timeline_count(j, "message", "final stakeholder update"), 1);
    json_decref(j);
    free(key);
    free(pre);
    free(id);
    fx_close(&f);
}

TEST(an_overdue_action_item_reminds_its_owner_once)
{
    struct fx f = {.with_notifier = true};
    fx_open(&f, comms_notify);
    char id[DW_INCIDENT_ID_LEN], *err = NULL;
    struct dw_incident_new in = {.title = "Slow search", .severity = 3};
    ASSERT_EQ_INT(dw_incident_create(f.inc, &in, "devops-lead", dw_now_ms(), id, &err), 0);
    int64_t action = 0;
    ASSERT_EQ_INT(dw_incident_action_add(f.inc, id, "Add an index", "devops-lead",
                                         dw_now_ms() + 60 * MIN, "devops-lead", dw_now_ms(),
                                         &action, &err),
                  0);
    advance(&f, 59 * MIN);
    json_t *j = dw_incident_json(f.inc, id);
    ASSERT_EQ_INT(timeline_count(j, "reminder", "overdue"), 0);
    json_decref(j);
    advance(&f, 2 * MIN);
    advance(&f, 2 * MIN);
    j = dw_incident_json(f.inc, id);
    ASSERT_EQ_INT(timeline_count(j, "reminder", "action item #"), 1);
    json_decref(j);
    char *key = dw_asprintf("incident:%s:reminder:action:", id);
    json_t *dm = queued(&f, key);
    ASSERT_EQ_INT(json_array_size(dm), 1);
    ASSERT_CONTAINS(body_of(json_array_get(dm, 0)), "Add an index");
    json_decref(dm);
    free(key);
    /* A SEV3 has no stakeholder updates. */
    key = dw_asprintf("incident:%s:stakeholders:", id);
    ASSERT_EQ_INT(queued_count(&f, key), 0);
    free(key);
    fx_close(&f);
}

TEST(communications_follow_the_config_and_bad_keys_are_refused)
{
    struct fx f = {.with_notifier = true};
    fx_open(&f, "notify:\n"
                "  slack: {api_url: 'http://127.0.0.1:1/slack'}\n"
                "  email: {smarthost: '127.0.0.1:1', from: 'dw@x.example', require_tls: false}\n"
                "incidents:\n"
                "  communications:\n"
                "    timeline: 'slack:#war-room'\n"
                "    stakeholders: {every: 30m, max_severity: 1, to: ['email:board@x.example',"
                " 'slack:monitoring']}\n"
                "    daily_summary: {at: '23:30', timezone: Europe/London}\n"
                "  templates:\n"
                "    notice: 'Notice for {{{incident.title}}}'\n");
    char id[DW_INCIDENT_ID_LEN], *err = NULL;
    struct dw_incident_new in = {.title = "Payments fail", .severity = 1};
    ASSERT_EQ_INT(dw_incident_create(f.inc, &in, "devops-lead", dw_now_ms(), id, &err), 0);
    advance(&f, 1000);
    char *key = dw_asprintf("incident:%s:timeline:", id);
    json_t *tl = queued(&f, key);
    ASSERT_TRUE(json_array_size(tl) >= 1);
    ASSERT_EQ_STR(get_s(json_array_get(tl, 0), "to"), "#war-room");
    json_decref(tl);
    free(key);
    key = dw_asprintf("incident:%s:stakeholders:0:", id);
    json_t *st = queued(&f, key);
    ASSERT_EQ_INT(json_array_size(st), 2);
    ASSERT_EQ_STR(get_s(json_array_get(st, 0), "to"), "board@x.example");
    ASSERT_EQ_STR(get_s(json_array_get(st, 1), "to"), "#production-monitoring");
    json_decref(st);
    free(key);
    /* 10:00 UTC is before 23:30 in London: no summary yet. */
    ASSERT_EQ_INT(queued_count(&f, "incident:daily:"), 0);
    /* The configured notice template renders the incident. */
    struct dw_buf b;
    dw_buf_init(&b, 0);
    ASSERT_EQ_INT(dw_incident_document(f.inc, id, false, DW_INCIDENT_TEXT, &b, &err), 0);
    ASSERT_EQ_STR(b.data, "Notice for Payments fail");
    dw_buf_release(&b);
    fx_close(&f);

    /* Bad keys are reported at their position, and a template that does not compile too. */
    struct dw_config *cfg = config_with("incidents:\n"
                                        "  communications:\n"
                                        "    timeline: 'pigeon:#x'\n"
                                        "    stakeholders: {to: ['person:nobody']}\n"
                                        "    daily_summary: {at: '25:00', timezone: Mars/Olympus}\n"
                                        "  templates: {report: '{{#open}} never closed'}\n"
                                        "  reminders: {at_percent: 5}\n");
    struct dw_diags d;
    dw_diags_init(&d);
    ASSERT_TRUE(dw_incidents_check_config(cfg, &d) >= 5);
    struct dw_buf all;
    dw_buf_init(&all, 0);
    for (size_t k = 0; k < d.n; k++) {
        dw_diag_format(&d.items[k], &all);
        dw_buf_putc(&all, '\n');
    }
    ASSERT_CONTAINS(all.data, "pigeon:#x");
    ASSERT_CONTAINS(all.data, "nobody");
    ASSERT_CONTAINS(all.data, "25:00");
    ASSERT_CONTAINS(all.data, "Mars/Olympus");
    ASSERT_CONTAINS(all.data, "report:");
    ASSERT_CONTAINS(all.data, "at_percent");
    ASSERT_CONTAINS(all.data, ".yaml:");
    dw_buf_release(&all);
    dw_diags_release(&d);
    dw_config_unref(&cfg);
}

TEST(an_incident_can_be_deleted_with_everything_it_holds)
{
    struct fx f = {0};
    fx_open(&f, NULL);
    char id[DW_INCIDENT_ID_LEN], *err = NULL;
    struct dw_incident_new in = {.title = "Test incident", .severity = 4};
    ASSERT_EQ_INT(dw_incident_create(f.inc, &in, "devops-lead", dw_now_ms(), id, &err), 0);
    ASSERT_EQ_INT(
        dw_incident_action_add(f.inc, id, "Nothing", NULL, 0, "x", dw_now_ms(), NULL, &err), 0);
    ASSERT_EQ_INT(dw_incident_delete(f.inc, id, "admin", dw_now_ms(), &err), 0);
    ASSERT_NULL(dw_incident_json(f.inc, id));
    ASSERT_EQ_INT(dw_incident_delete(f.inc, id, "admin", dw_now_ms(), &err), DW_INCIDENT_ENOTFOUND);
    ASSERT_CONTAINS(err, "no incident");
    free(err);
    json_t *acts = dw_incidents_actions_json(f.inc, false, dw_now_ms());
    ASSERT_EQ_INT(json_array_size(acts), 0);
    json_decref(acts);
    fx_close(&f);
}

TEST(durations_read_like_people_write_them)
{
    char b[32];
    dw_incident_format_duration(83 * MIN, b, sizeof b);
    ASSERT_EQ_STR(b, "1h 23m");
    dw_incident_format_duration(4 * MIN + 30000, b, sizeof b);
    ASSERT_EQ_STR(b, "4m 30s");
    dw_incident_format_duration(12000, b, sizeof b);
    ASSERT_EQ_STR(b, "12s");
    dw_incident_format_duration(51 * 60 * MIN, b, sizeof b);
    ASSERT_EQ_STR(b, "2d 3h");
}

TEST_MAIN()
