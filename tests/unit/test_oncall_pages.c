/*
 * test_oncall_pages.c - pages end to end on a real store, alerter and
 * notifier, with Twilio- and Slack-shaped requests arriving at a local HTTP
 * receiver, on the test clock: paging the person on call, escalation when
 * nobody acknowledges, acknowledgement by link, SMS reply and keypad,
 * bundling, business hours, notification rules, resolution by the alert,
 * restart, and the link tokens' checks.
 */
#include <jansson.h>
#include <unistd.h>

#include "harness.h"
#include "notify/notify.h"
#include "oncall/oncall.h"
#include "testutil.h"
#include "testutil_alert.h"
#include "testutil_http.h"
#include "testutil_plan.h"

#define MS 1000000LL
#define MIN 60000LL
/* Monday 2026-03-02 10:00:00 UTC: inside business hours. */
#define T0 1772445600000LL
#define PRIMARY "%2B15550100" /* the example's default phone numbers, form-encoded */
#define SECONDARY "%2B15550101"

struct fx {
    char *dir;
    struct dw_store *store;
    struct dw_alerter *a;
    struct dw_notifier *n;
    struct dw_oncall *oc;
    struct dw_config *cfg;
    struct http_server *srv;
};

static const char alerting[] = "route: {receiver: critical, group_by: [alertname]}\n"
                               "receivers: [{name: critical}]\n";

static struct dw_config *fx_config(struct fx *f, const char *oncall_extra)
{
    char *sec = dw_asprintf(
        "oncall:\n"
        "  links: {base_url: 'http://dw.test'}\n"
        "  bundle: {window: 1m}\n"
        "  schedules:\n"
        "    - {id: primary, members: [primary-engineer]}\n"
        "    - {id: secondary, members: [secondary-engineer]}\n"
        "%s"
        "notify:\n"
        "  slack: {api_url: 'http://127.0.0.1:%d/slack'}\n"
        "  sms: {api_url: 'http://127.0.0.1:%d', account_sid: AC0123456789abcdef0123456789abcdef,"
        " auth_token: tok, from: '+15550000001'}\n"
        "  voice: {api_url: 'http://127.0.0.1:%d', account_sid: AC0123456789abcdef0123456789abcdef,"
        " auth_token: tok, from: '+15550000001'}\n"
        "  email: {smarthost: '127.0.0.1:1', from: 'dw@dojopool.example', require_tls: false}\n",
        oncall_extra ? oncall_extra : "", f->srv->port, f->srv->port, f->srv->port);
    struct dw_config *cfg = config_with(sec);
    free(sec);
    return cfg;
}

static void fx_open_oncall(struct fx *f)
{
    char *err = NULL;
    struct dw_oncall_options o = {
        .store = f->store, .alerter = f->a, .notifier = f->n, .config = f->cfg};
    f->oc = dw_oncall_open(&o, &err);
    if (!f->oc)
        fprintf(stderr, "  oncall: %s\n", err);
    free(err);
    ASSERT_NOT_NULL(f->oc);
}

static void fx_open(struct fx *f, int64_t t0, const char *oncall_extra)
{
    dw_log_set_level(DW_LOG_ERROR);
    dw_clock_set_manual(t0);
    f->dir = tmpdir_new();
    f->srv = http_server_start();
    f->a = alerter_open_in(f->dir, &f->store);
    alerter_apply_ok(f->a, alerting);
    f->cfg = fx_config(f, oncall_extra);
    struct dw_notifier_options no = {
        .alerter = f->a, .store = f->store, .config = f->cfg, .backoff_base_ms = 20};
    f->n = dw_notifier_new(&no);
    ASSERT_NOT_NULL(f->n);
    ASSERT_EQ_INT(dw_notifier_start(f->n), 0);
    fx_open_oncall(f);
}

static void fx_close(struct fx *f)
{
    dw_oncall_close(&f->oc);
    dw_notifier_free(&f->n);
    dw_alerter_close(&f->a);
    dw_store_close(&f->store);
    dw_config_unref(&f->cfg);
    http_server_stop(&f->srv);
    rm_rf(f->dir);
    free(f->dir);
    dw_clock_set_real();
}

/* Fires (or resolves) alert `name` of a priority and lets the alerter flush it. */
static void alert(struct fx *f, const char *name, const char *priority, int state)
{
    put_alert(f->a, name, priority, name, state);
    dw_alerter_tick(f->a, dw_now_ms());
}

static void advance(struct fx *f, int64_t ms)
{
    dw_clock_advance(ms);
    dw_alerter_tick(f->a, dw_now_ms());
    dw_oncall_tick(f->oc, dw_now_ms());
}

/* Requests whose head and body contain both needles (body may be NULL). */
static size_t count(struct fx *f, const char *head, const char *body)
{
    size_t n = 0;
    pthread_mutex_lock(&f->srv->mu);
    for (size_t i = 0; i < f->srv->nreqs; i++)
        if (strstr(f->srv->reqs[i].head, head) &&
            (!body || strstr(f->srv->reqs[i].body ? f->srv->reqs[i].body : "", body)))
            n++;
    pthread_mutex_unlock(&f->srv->mu);
    return n;
}

static bool wait_count(struct fx *f, const char *head, const char *body, size_t n)
{
    int64_t end = dw_mono_ns() + 3000 * MS;
    while (count(f, head, body) < n && dw_mono_ns() < end)
        usleep(2000);
    return count(f, head, body) >= n;
}

/* The newest page's id (heap), or NULL. */
static char *newest_page(struct fx *f)
{
    json_t *pages = dw_oncall_pages_json(f->oc, NULL, 10);
    const char *id = json_string_value(json_object_get(json_array_get(pages, 0), "id"));
    char *out = id ? dw_strdup(id) : NULL;
    json_decref(pages);
    return out;
}

static char *page_state(struct fx *f, const char *id)
{
    json_t *p = dw_oncall_page_json(f->oc, id);
    char *s = dw_strdup(json_string_value(json_object_get(p, "state")));
    json_decref(p);
    return s;
}

/* How many timeline entries of a kind (and via, when given) the page has. */
static size_t timeline_count(struct fx *f, const char *id, const char *kind, const char *via)
{
    json_t *p = dw_oncall_page_json(f->oc, id);
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(json_object_get(p, "timeline"), i, e)
    {
        const char *k = json_string_value(json_object_get(e, "kind"));
        const char *v = json_string_value(json_object_get(e, "via"));
        if (k && strcmp(k, kind) == 0 && (!via || (v && strcmp(v, via) == 0)))
            n++;
    }
    json_decref(p);
    return n;
}

#define ASSERT_STATE(f, id, want)                                                                  \
    do {                                                                                           \
        char *st_ = page_state(f, id);                                                             \
        ASSERT_EQ_STR(st_, want);                                                                  \
        free(st_);                                                                                 \
    } while (0)

TEST(p0_pages_the_primary_then_escalates_to_the_secondary_until_acknowledged)
{
    struct fx f = {0};
    fx_open(&f, T0, NULL);
    alert(&f, "ApiDown", "P0", DW_ALERT_FIRING);
    dw_oncall_tick(f.oc, dw_now_ms());
    char *id = newest_page(&f);
    ASSERT_NOT_NULL(id);
    /* "Phone call + SMS + Slack" to the primary on call */
    ASSERT_TRUE(wait_count(&f, "/Calls.json", "To=" PRIMARY, 1));
    ASSERT_TRUE(wait_count(&f, "/Messages.json", "To=" PRIMARY, 1));
    ASSERT_TRUE(wait_count(&f, "POST /slack", "#incidents", 1));
    ASSERT_EQ_INT(count(&f, "/Calls.json", "To=" SECONDARY), 0);
    ASSERT_EQ_INT(timeline_count(&f, id, "triggered", NULL), 1);
    ASSERT_EQ_INT(timeline_count(&f, id, "paged", NULL), 1);
    ASSERT_EQ_INT(timeline_count(&f, id, "notified", "sms"), 1);
    ASSERT_EQ_INT(timeline_count(&f, id, "notified", "phone"), 1);
    /* 4:59 later nothing more; at 5:00 (the P0 response target) the secondary */
    advance(&f, 5 * MIN - 1000);
    usleep(50000);
    ASSERT_EQ_INT(count(&f, "/Calls.json", "To=" SECONDARY), 0);
    advance(&f, 1000);
    ASSERT_TRUE(wait_count(&f, "/Calls.json", "To=" SECONDARY, 1));
    ASSERT_TRUE(wait_count(&f, "/Messages.json", "To=" SECONDARY, 1));
    ASSERT_EQ_INT(timeline_count(&f, id, "escalated", NULL), 1);
    /* the secondary acknowledges from the Slack button's link */
    char *tok = dw_oncall_link(f.oc, id, "ack", "secondary-engineer", dw_now_ms());
    char *summary = NULL, *err = NULL;
    ASSERT_EQ_INT(dw_oncall_link_act(f.oc, tok, NULL, "slack", dw_now_ms(), &summary, &err), 0);
    ASSERT_EQ_STR(summary, "Acknowledged 1 page");
    ASSERT_STATE(&f, id, "acknowledged");
    ASSERT_EQ_INT(timeline_count(&f, id, "acknowledged", "slack"), 1);
    json_t *p = dw_oncall_page_json(f.oc, id);
    ASSERT_EQ_STR(json_string_value(json_object_get(p, "ackedBy")), "secondary-engineer");
    json_decref(p);
    /* the chain stops: no engineering team call at 10:00 */
    size_t before = f.srv->nreqs;
    advance(&f, 10 * MIN);
    usleep(100000);
    ASSERT_EQ_INT(http_server_count(f.srv), before);
    ASSERT_EQ_INT(timeline_count(&f, id, "escalated", NULL), 1);
    free(summary);
    free(tok);
    free(id);
    fx_close(&f);
}

TEST(pages_for_one_person_are_bundled_and_an_sms_reply_acknowledges_them)
{
    struct fx f = {0};
    fx_open(&f, T0, NULL);
    alert(&f, "DbDown", "P0", DW_ALERT_FIRING);
    alert(&f, "CacheDown", "P0", DW_ALERT_FIRING);
    dw_oncall_tick(f.oc, dw_now_ms());
    /* both pages in one SMS */
    ASSERT_TRUE(wait_count(&f, "/Messages.json", "To=" PRIMARY, 1));
    usleep(50000);
    ASSERT_EQ_INT(count(&f, "/Messages.json", "To=" PRIMARY), 1);
    ASSERT_EQ_INT(count(&f, "/Messages.json", "2%20pages"), 1);
    /* a third page 10 s later waits for the end of the 1 minute window */
    advance(&f, 10000);
    alert(&f, "QueueDown", "P0", DW_ALERT_FIRING);
    dw_oncall_tick(f.oc, dw_now_ms());
    usleep(100000);
    ASSERT_EQ_INT(count(&f, "/Messages.json", "To=" PRIMARY), 1);
    advance(&f, 50000);
    ASSERT_TRUE(wait_count(&f, "/Messages.json", "To=" PRIMARY, 2));
    /* the reply "4" acknowledges the three pages sent to that number */
    char *reply = NULL, *err = NULL;
    ASSERT_EQ_INT(dw_oncall_sms_reply(f.oc, "+1 555 0100", " 4 ", dw_now_ms(), &reply, &err), 0);
    ASSERT_EQ_STR(reply, "dojowatch: Acknowledged 3 pages.");
    free(reply);
    json_t *pages = dw_oncall_pages_json(f.oc, "acknowledged", 10);
    ASSERT_EQ_INT(json_array_size(pages), 3);
    json_decref(pages);
    ASSERT_EQ_INT(dw_oncall_sms_reply(f.oc, "+15550100", "4", dw_now_ms(), &reply, &err), 0);
    ASSERT_EQ_STR(reply, "dojowatch: you have no open pages.");
    free(reply);
    ASSERT_EQ_INT(dw_oncall_sms_reply(f.oc, "+19999999", "4", dw_now_ms(), &reply, &err), 0);
    ASSERT_CONTAINS(reply, "belongs to nobody");
    free(reply);
    fx_close(&f);
}

TEST(the_call_keypad_resolves_and_links_are_checked)
{
    struct fx f = {0};
    fx_open(&f, T0, NULL);
    alert(&f, "ApiSlow", "P0", DW_ALERT_FIRING);
    dw_oncall_tick(f.oc, dw_now_ms());
    char *id = newest_page(&f);
    char *tok = dw_oncall_link(f.oc, id, "any", "primary-engineer", dw_now_ms());
    char *xml = NULL, *err = NULL;
    /* a wrong key asks again; 6 resolves */
    ASSERT_EQ_INT(dw_oncall_voice_digits(f.oc, tok, "9", dw_now_ms(), &xml, &err), 0);
    ASSERT_CONTAINS(xml, "Press 4 to acknowledge");
    free(xml);
    ASSERT_EQ_INT(dw_oncall_voice_digits(f.oc, tok, "6", dw_now_ms(), &xml, &err), 0);
    ASSERT_CONTAINS(xml, "<Say>Resolved 1 page. Goodbye.</Say>");
    free(xml);
    ASSERT_STATE(&f, id, "resolved");
    ASSERT_EQ_INT(timeline_count(&f, id, "resolved", "voice"), 1);
    /* a tampered token, an expired one, an ack-only one used to resolve */
    char *bad = dw_strdup(tok);
    bad[3] = bad[3] == 'A' ? 'B' : 'A';
    ASSERT_EQ_INT(dw_oncall_link_act(f.oc, bad, "ack", "link", dw_now_ms(), NULL, &err),
                  DW_ONCALL_EDENIED);
    ASSERT_CONTAINS(err, "not valid");
    free(err);
    err = NULL;
    ASSERT_EQ_INT(dw_oncall_link_act(f.oc, "garbage", "ack", "link", dw_now_ms(), NULL, &err),
                  DW_ONCALL_EDENIED);
    free(err);
    err = NULL;
    char huge[5000]; /* over the 4 KiB a token may have */
    memset(huge, 'A', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    huge[100] = '.';
    ASSERT_EQ_INT(dw_oncall_link_act(f.oc, huge, "ack", "link", dw_now_ms(), NULL, &err),
                  DW_ONCALL_EDENIED);
    ASSERT_CONTAINS(err, "malformed");
    free(err);
    err = NULL;
    char *ack_only = dw_oncall_link(f.oc, id, "ack", "primary-engineer", dw_now_ms());
    ASSERT_EQ_INT(dw_oncall_link_act(f.oc, ack_only, "resolve", "link", dw_now_ms(), NULL, &err),
                  DW_ONCALL_EDENIED);
    free(err);
    err = NULL;
    ASSERT_EQ_INT(
        dw_oncall_link_act(f.oc, tok, "ack", "link", dw_now_ms() + 25 * 60 * MIN, NULL, &err),
        DW_ONCALL_EDENIED);
    ASSERT_CONTAINS(err, "expired");
    free(err);
    free(ack_only);
    free(bad);
    free(tok);
    free(id);
    fx_close(&f);
}

TEST(a_resolved_alert_resolves_its_page_and_cancels_what_waits)
{
    struct fx f = {0};
    fx_open(&f, T0,
            "  notification_rules:\n"
            "    - person: primary-engineer\n"
            "      rules: [{channel: sms, after: 0s}, {channel: phone, after: 2m}]\n");
    alert(&f, "DiskFull", "P0", DW_ALERT_FIRING);
    dw_oncall_tick(f.oc, dw_now_ms());
    char *id = newest_page(&f);
    /* the person's rules replace the step's channels: SMS now, the call after 2 minutes */
    ASSERT_TRUE(wait_count(&f, "/Messages.json", "To=" PRIMARY, 1));
    usleep(50000);
    ASSERT_EQ_INT(count(&f, "/Calls.json", NULL), 0);
    advance(&f, 2 * MIN);
    ASSERT_TRUE(wait_count(&f, "/Calls.json", "To=" PRIMARY, 1));
    /* resolved before the 5 minute escalation: nothing more goes out */
    advance(&f, MIN);
    alert(&f, "DiskFull", "P0", DW_ALERT_RESOLVED);
    advance(&f, 1000);
    ASSERT_STATE(&f, id, "resolved");
    ASSERT_EQ_INT(timeline_count(&f, id, "resolved", "alert"), 1);
    size_t calls = count(&f, "/Calls.json", NULL);
    advance(&f, 10 * MIN);
    usleep(100000);
    ASSERT_EQ_INT(count(&f, "/Calls.json", NULL), calls);
    ASSERT_EQ_INT(timeline_count(&f, id, "escalated", NULL), 0);
    free(id);
    fx_close(&f);
}

TEST(p2_waits_for_business_hours_and_goes_to_the_engineering_channel)
{
    struct fx f = {0};
    /* Saturday 2026-03-07 12:00 UTC; business hours default to Monday-Friday 09:00-18:00 UTC */
    fx_open(&f, T0 + 5 * 86400000LL + 2 * 3600000LL, NULL);
    alert(&f, "SlowReports", "P2", DW_ALERT_FIRING);
    advance(&f, 30000); /* P2's group_wait */
    char *id = newest_page(&f);
    ASSERT_NOT_NULL(id);
    ASSERT_EQ_INT(timeline_count(&f, id, "held", NULL), 1);
    json_t *p = dw_oncall_page_json(f.oc, id);
    ASSERT_EQ_STR(json_string_value(json_object_get(p, "nextEscalationAt")),
                  "2026-03-09T09:00:00Z");
    json_decref(p);
    usleep(100000);
    ASSERT_EQ_INT(count(&f, "POST /slack", NULL), 0);
    advance(&f, 45 * 60 * MIN - 30000 - 1000); /* Monday 08:59:59 */
    usleep(50000);
    ASSERT_EQ_INT(count(&f, "POST /slack", NULL), 0);
    advance(&f, 1000);
    ASSERT_TRUE(wait_count(&f, "POST /slack", "#engineering", 1));
    ASSERT_EQ_INT(count(&f, "/Messages.json", NULL), 0); /* P2 is Slack only */
    free(id);
    fx_close(&f);
}

TEST(escalation_resumes_after_a_restart)
{
    struct fx f = {0};
    fx_open(&f, T0, NULL);
    alert(&f, "ApiDown", "P0", DW_ALERT_FIRING);
    dw_oncall_tick(f.oc, dw_now_ms());
    char *id = newest_page(&f);
    ASSERT_TRUE(wait_count(&f, "/Calls.json", "To=" PRIMARY, 1));
    dw_oncall_close(&f.oc);
    dw_clock_advance(6 * MIN);
    fx_open_oncall(&f);
    dw_oncall_tick(f.oc, dw_now_ms());
    ASSERT_TRUE(wait_count(&f, "/Calls.json", "To=" SECONDARY, 1));
    ASSERT_EQ_INT(count(&f, "/Calls.json", "To=" PRIMARY), 1); /* not paged twice */
    /* the acknowledgement by the CLI survives a restart too */
    char *err = NULL;
    ASSERT_EQ_INT(dw_oncall_page_act(f.oc, id, DW_PAGE_ACK, "admin", "cli", dw_now_ms(), &err), 0);
    dw_oncall_close(&f.oc);
    fx_open_oncall(&f);
    ASSERT_STATE(&f, id, "acknowledged");
    ASSERT_EQ_INT(
        dw_oncall_page_act(f.oc, "PG-nope", DW_PAGE_ACK, "admin", "cli", dw_now_ms(), &err),
        DW_ONCALL_ENOTFOUND);
    free(err);
    free(id);
    fx_close(&f);
}

TEST(an_unanswered_call_falls_back_to_sms)
{
    struct fx f = {0};
    fx_open(&f, T0,
            "  notification_rules:\n"
            "    - person: primary-engineer\n"
            "      rules: [{channel: phone, after: 0s}]\n");
    alert(&f, "NoAnswer", "P0", DW_ALERT_FIRING);
    dw_oncall_tick(f.oc, dw_now_ms());
    char *id = newest_page(&f);
    ASSERT_TRUE(wait_count(&f, "/Calls.json", "To=" PRIMARY, 1));
    /* the call names the page's status callback; Twilio would post "no-answer" there */
    const char *mark =
        "StatusCallback=http%3A%2F%2Fdw.test%2Fapi%2Foncall%2Ftwilio%2Fstatus%3Ft%3D";
    char *tok = NULL;
    pthread_mutex_lock(&f.srv->mu);
    for (size_t i = 0; i < f.srv->nreqs && !tok; i++) {
        const char *at = strstr(f.srv->reqs[i].body ? f.srv->reqs[i].body : "", mark);
        if (at)
            tok = dw_strndup(at + strlen(mark), strcspn(at + strlen(mark), "&"));
    }
    pthread_mutex_unlock(&f.srv->mu);
    ASSERT_NOT_NULL(tok);
    ASSERT_EQ_INT(count(&f, "/Calls.json", "StatusCallbackEvent=completed"), 1);
    ASSERT_EQ_INT(count(&f, "/Messages.json", NULL), 0);
    char *err = NULL;
    ASSERT_EQ_INT(dw_oncall_voice_status(f.oc, tok, "no-answer", dw_now_ms(), &err), 0);
    dw_oncall_tick(f.oc, dw_now_ms());
    ASSERT_TRUE(wait_count(&f, "/Messages.json", "To=" PRIMARY, 1));
    ASSERT_EQ_INT(timeline_count(&f, id, "call_failed", "voice"), 1);
    ASSERT_EQ_INT(dw_oncall_voice_status(f.oc, "forged.token", "failed", dw_now_ms(), &err),
                  DW_ONCALL_EDENIED);
    free(err);
    free(tok);
    free(id);
    fx_close(&f);
}

/* Who is on call in a schedule at t, as the API says (heap, or NULL for a gap). */
static char *who_at(struct fx *f, const char *schedule, int64_t t)
{
    json_t *out = NULL;
    char *err = NULL;
    ASSERT_EQ_INT(dw_oncall_who_json(f->oc, schedule, t, &out, &err), 0);
    json_t *oncall =
        json_object_get(json_array_get(json_object_get(out, "schedules"), 0), "onCall");
    const char *id = json_string_value(json_object_get(oncall, "id"));
    char *res = id ? dw_strdup(id) : NULL;
    json_decref(out);
    return res;
}

TEST(run_time_overrides_are_kept_listed_and_deleted)
{
    struct fx f = {0};
    fx_open(&f, T0, NULL);
    char *err = NULL;
    int64_t at = T0 + 60 * MIN;
    ASSERT_EQ_INT(dw_oncall_override_add(f.oc, "primary", "devops-lead", NULL, T0,
                                         T0 + 2 * 60 * MIN, "admin", &err),
                  0);
    char *who = who_at(&f, "primary", at);
    ASSERT_EQ_STR(who, "devops-lead");
    free(who);
    /* an overlapping one is refused, an unknown person too */
    ASSERT_EQ_INT(
        dw_oncall_override_add(f.oc, "primary", "cto", NULL, T0 + MIN, T0 + 3 * MIN, "admin", &err),
        DW_ONCALL_EINVAL);
    free(err);
    err = NULL;
    ASSERT_EQ_INT(
        dw_oncall_override_add(f.oc, "primary", "nobody", NULL, T0, T0 + MIN, "admin", &err),
        DW_ONCALL_EINVAL);
    ASSERT_CONTAINS(err, "nobody");
    free(err);
    err = NULL;
    /* kept across a restart */
    dw_oncall_close(&f.oc);
    fx_open_oncall(&f);
    who = who_at(&f, "primary", at);
    ASSERT_EQ_STR(who, "devops-lead");
    free(who);
    json_t *list = dw_oncall_overrides_json(f.oc);
    ASSERT_EQ_INT(json_array_size(list), 1);
    json_t *o = json_array_get(list, 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "person")), "devops-lead");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "createdBy")), "admin");
    int64_t id = json_integer_value(json_object_get(o, "id"));
    json_decref(list);
    ASSERT_EQ_INT(dw_oncall_override_delete(f.oc, id, "admin", &err), 0);
    who = who_at(&f, "primary", at);
    ASSERT_EQ_STR(who, "primary-engineer");
    free(who);
    ASSERT_EQ_INT(dw_oncall_override_delete(f.oc, id, "admin", &err), DW_ONCALL_ENOTFOUND);
    free(err);
    fx_close(&f);
}

TEST(configuration_errors_have_positions)
{
    struct http_server *srv = http_server_start();
    struct fx f = {.srv = srv};
    struct dw_config *cfg =
        fx_config(&f, "  escalation_policies:\n"
                      "    - id: broken\n"
                      "      steps: [{notify: [schedule:nope], channels: [pigeon], wait: 5m}]\n"
                      "  business_hours: {weekdays: 'funday:friday'}\n");
    struct dw_diags d;
    dw_diags_init(&d);
    ASSERT_TRUE(dw_oncall_check_config(cfg, &d) >= 3);
    char *text = diags_text(&d);
    ASSERT_CONTAINS(text, "schedule");
    ASSERT_CONTAINS(text, "pigeon");
    ASSERT_CONTAINS(text, "funday");
    ASSERT_CONTAINS(text, "test.yaml:");
    free(text);
    dw_diags_release(&d);
    dw_config_unref(&cfg);
    http_server_stop(&srv);
}

TEST(a_person_pages_someone_and_the_page_escalates_like_its_priority)
{
    struct fx f = {0};
    fx_open(&f, T0, NULL);
    char id[DW_ONCALL_PAGE_ID_MAX], *err = NULL;
    struct dw_oncall_page_new bad[] = {{"person:nobody", "P0", "x", NULL},
                                       {"pager:secondary-engineer", "P0", "x", NULL},
                                       {"person:secondary-engineer", "P9", "x", NULL},
                                       {"person:secondary-engineer", "P0", "", NULL},
                                       {NULL, "P0", "x", NULL}};
    for (size_t i = 0; i < DW_ARRAY_LEN(bad); i++) {
        ASSERT_EQ_INT(dw_oncall_page_create(f.oc, &bad[i], "alice", dw_now_ms(), id, &err),
                      DW_ONCALL_EINVAL);
        free(err);
        err = NULL;
    }
    ASSERT_NULL(newest_page(&f));
    struct dw_oncall_page_new in = {"person:secondary-engineer", "P0",
                                    "INC-1: checkout down, need the DB owner", "INC-1"};
    ASSERT_EQ_INT(dw_oncall_page_create(f.oc, &in, "alice", dw_now_ms(), id, &err), 0);
    ASSERT_TRUE(dw_str_has_prefix(id, "PG-M"));
    dw_oncall_tick(f.oc, dw_now_ms()); /* the module's thread sends what is queued */
    /* the chosen person first, on the P0 channels (call + SMS + Slack) */
    ASSERT_TRUE(wait_count(&f, "/Calls.json", "To=" SECONDARY, 1));
    ASSERT_TRUE(wait_count(&f, "/Messages.json", "To=" SECONDARY, 1));
    ASSERT_TRUE(wait_count(&f, "/Messages.json", "checkout", 1));
    ASSERT_EQ_INT(count(&f, "/Calls.json", "To=" PRIMARY), 0);
    ASSERT_EQ_INT(timeline_count(&f, id, "triggered", "manual"), 1);
    ASSERT_EQ_INT(timeline_count(&f, id, "paged", NULL), 1);
    json_t *p = dw_oncall_page_json(f.oc, id);
    ASSERT_EQ_STR(json_string_value(json_object_get(p, "priority")), "P0");
    json_decref(p);
    /* unanswered for the P0 response target: the P0 policy takes over (the primary) */
    advance(&f, 5 * MIN - 1000);
    usleep(50000);
    ASSERT_EQ_INT(count(&f, "/Calls.json", "To=" PRIMARY), 0);
    advance(&f, 1000);
    ASSERT_TRUE(wait_count(&f, "/Calls.json", "To=" PRIMARY, 1));
    ASSERT_EQ_INT(timeline_count(&f, id, "escalated", NULL), 1);
    /* acknowledged: the chain stops */
    ASSERT_EQ_INT(
        dw_oncall_page_act(f.oc, id, DW_PAGE_ACK, "secondary-engineer", "web", dw_now_ms(), &err),
        0);
    ASSERT_STATE(&f, id, "acknowledged");
    size_t before = http_server_count(f.srv);
    advance(&f, 10 * MIN);
    usleep(100000);
    ASSERT_EQ_INT(http_server_count(f.srv), before);
    fx_close(&f);
}

TEST(acknowledging_an_alert_acknowledges_its_page)
{
    struct fx f = {0};
    fx_open(&f, T0, NULL);
    alert(&f, "ApiDown", "P0", DW_ALERT_FIRING);
    dw_oncall_tick(f.oc, dw_now_ms());
    char *id = newest_page(&f);
    ASSERT_NOT_NULL(id);
    ASSERT_TRUE(wait_count(&f, "/Calls.json", "To=" PRIMARY, 1));
    struct dw_label l[] = {{"alertname", "ApiDown"}, {"priority", "P0"}, {"service", "api"}};
    char fp[17];
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)dw_alert_fingerprint(l, 3));
    json_t *pages = NULL;
    char *err = NULL;
    ASSERT_EQ_INT(
        dw_oncall_ack_alert(f.oc, "not-a-fingerprint", "alice", "web", dw_now_ms(), &pages, &err),
        DW_ONCALL_EINVAL);
    free(err);
    err = NULL;
    ASSERT_EQ_INT(
        dw_oncall_ack_alert(f.oc, "0123456789abcdef", "alice", "web", dw_now_ms(), &pages, &err),
        0);
    ASSERT_EQ_INT(json_array_size(pages), 0); /* another alert: nothing */
    json_decref(pages);
    ASSERT_STATE(&f, id, "triggered");
    ASSERT_EQ_INT(dw_oncall_ack_alert(f.oc, fp, "alice", "web", dw_now_ms(), &pages, &err), 0);
    ASSERT_EQ_INT(json_array_size(pages), 1);
    ASSERT_EQ_STR(json_string_value(json_array_get(pages, 0)), id);
    json_decref(pages);
    ASSERT_STATE(&f, id, "acknowledged");
    /* no escalation to the secondary at 5:00 */
    advance(&f, 6 * MIN);
    usleep(100000);
    ASSERT_EQ_INT(count(&f, "/Calls.json", "To=" SECONDARY), 0);
    free(id);
    fx_close(&f);
}

TEST_MAIN()
