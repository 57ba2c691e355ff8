/*
 * test_status_subs.c - the status page's subscribers on a real store,
 * alerter, incident module and notify outbox (the notifier is not started:
 * the tests read what was queued), on the test clock: double opt-in with
 * signed tokens, answers that do not tell known addresses apart, input
 * checks, the limits, the fan-out at its rate with per-component choice,
 * replay after a crash without doubles, unsubscribe, expiry, maintenance
 * notices and the webhook body.
 */
#include <jansson.h>

#include "harness.h"
#include "incident/incident.h"
#include "notify/notify.h"
#include "status/status.h"
#include "testutil.h"
#include "testutil_alert.h"
#include "testutil_plan.h"

#define MIN 60000LL
#define HOUR (60 * MIN)
#define T0 1772409600000LL /* 2026-03-02T00:00:00Z */

struct fx {
    char *dir;
    struct dw_store *store;
    struct dw_alerter *a;
    struct dw_notifier *n;
    struct dw_incidents *inc;
    struct dw_status *st;
    struct dw_config *cfg;
};

static const char alerting[] = "route: {receiver: critical, group_by: [alertname]}\n"
                               "receivers: [{name: critical}]\n";

static const char base[] =
    "notify:\n"
    "  email: {smarthost: '127.0.0.1:1', from: 'status@example.test', require_tls: false}\n"
    "status:\n"
    "  title: Test Status\n"
    "  url: https://status.example.test/\n"
    "  components:\n"
    "    - {id: api, name: API}\n"
    "    - {id: web, name: Website}\n";

static void fx_open(struct fx *f, const char *extra)
{
    dw_log_set_level(getenv("DW_DEBUG") ? DW_LOG_DEBUG : DW_LOG_ERROR);
    dw_clock_set_manual(T0);
    *f = (struct fx){0};
    f->dir = tmpdir_new();
    char *sections = dw_asprintf("%s%s", base, extra ? extra : "");
    f->cfg = config_with(sections);
    free(sections);
    f->a = alerter_open_in(f->dir, &f->store);
    alerter_apply_ok(f->a, alerting);
    f->n = dw_notifier_new(
        &(struct dw_notifier_options){.alerter = f->a, .store = f->store, .config = f->cfg});
    char *err = NULL;
    struct dw_incidents_options io = {.store = f->store, .alerter = f->a, .config = f->cfg};
    f->inc = dw_incidents_open(&io, &err);
    ASSERT_NOT_NULL(f->inc);
    struct dw_status_options so = {.store = f->store,
                                   .alerter = f->a,
                                   .incidents = f->inc,
                                   .config = f->cfg,
                                   .notifier = f->n};
    f->st = dw_status_open(&so, &err);
    if (!f->st)
        fprintf(stderr, "  status: %s\n", err);
    free(err);
    ASSERT_NOT_NULL(f->st);
}

static void fx_close(struct fx *f)
{
    dw_status_close(&f->st);
    dw_incidents_close(&f->inc);
    dw_notifier_free(&f->n);
    dw_alerter_close(&f->a);
    dw_store_close(&f->store);
    dw_config_unref(&f->cfg);
    rm_rf(f->dir);
    free(f->dir);
    dw_clock_set_real();
}

static void advance(struct fx *f, int64_t ms)
{
    dw_clock_advance(ms);
    dw_status_tick(f->st, dw_now_ms());
}

struct rows {
    json_t *a;
};

static int row_cb(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    json_array_append_new(((struct rows *)ctx)->a,
                          json_pack("{s:s, s:s, s:s?, s:s?}", "key", c[0].s, "kind", c[1].s, "to",
                                    c[2].s, "body", c[3].s));
    return 0;
}

/* Queued messages whose dedup key starts with prefix, oldest first. */
static json_t *queued(struct fx *f, const char *prefix)
{
    struct rows r = {json_array()};
    char *like = dw_asprintf("%s%%", prefix);
    struct dw_value p[] = {DW_VTEXT(like)};
    ASSERT_EQ_INT(dw_store_exec(f->store,
                                "SELECT dedup_key, kind, to_addr, body FROM notify_outbox"
                                " WHERE dedup_key LIKE $1 ORDER BY id",
                                p, 1, row_cb, &r, NULL),
                  0);
    free(like);
    return r.a;
}

static size_t count(struct fx *f, const char *prefix)
{
    json_t *r = queued(f, prefix);
    size_t n = json_array_size(r);
    json_decref(r);
    return n;
}

/* What a queued message says: a webhook's body as it is, an e-mail's headers
   followed by its text/plain part decoded from base64. Heap. */
static char *text_of(json_t *row)
{
    const char *b = json_string_value(json_object_get(row, "body"));
    ASSERT_NOT_NULL(b);
    if (b[0] == '{')
        return dw_strdup(b);
    const char *part = strstr(b, "Content-Type: text/plain");
    ASSERT_NOT_NULL(part);
    const char *start = strstr(part, "\r\n\r\n");
    ASSERT_NOT_NULL(start);
    start += 4;
    const char *end = strstr(start, "\r\n--");
    ASSERT_NOT_NULL(end);
    struct dw_buf enc;
    dw_buf_init(&enc, 0);
    for (const char *p = start; p < end; p++)
        if (*p != '\r' && *p != '\n')
            dw_buf_append(&enc, p, 1);
    char *dec = dw_calloc(1, enc.len + 1);
    ASSERT_TRUE(dw_base64_decode(enc.data, false, dec, enc.len) > 0);
    dw_buf_release(&enc);
    size_t hl = (size_t)(part - b);
    char *out = dw_asprintf("%.*s%s", (int)hl, b, dec);
    free(dec);
    return out;
}

/* The token of the first link after marker ("subscribe/confirm?token=", "unsubscribe?token="). */
static char *token_in(json_t *row, const char *marker)
{
    char *text = text_of(row);
    const char *t = strstr(text, marker);
    if (!t)
        fprintf(stderr, "  no %s in:\n%s\n", marker, text);
    ASSERT_NOT_NULL(t);
    t += strlen(marker);
    char *tok = dw_strndup(t, strspn(t, "0123456789abcdef."));
    free(text);
    return tok;
}

static int subscribe(struct fx *f, const char *email, const char *webhook, const char *client,
                     const char *const *comps, size_t n)
{
    struct dw_status_subscribe s = {.email = email,
                                    .webhook = webhook,
                                    .components = comps,
                                    .ncomponents = n,
                                    .client = client};
    char *err = NULL;
    int retry = 0;
    int rc = dw_status_subscribe(f->st, &s, dw_now_ms(), &retry, &err);
    if (rc == DW_STATUS_ELIMIT)
        ASSERT_TRUE(retry > 0);
    free(err);
    return rc;
}

static json_t *listing(struct fx *f)
{
    char *err = NULL;
    json_t *l = dw_status_subscribers_json(f->st, 0, 1000, &err);
    ASSERT_NOT_NULL(l);
    free(err);
    return l;
}

static int64_t active_count(struct fx *f)
{
    json_t *l = listing(f);
    int64_t n = json_integer_value(json_object_get(l, "active"));
    json_decref(l);
    return n;
}

TEST(double_opt_in_with_signed_tokens)
{
    struct fx f;
    fx_open(&f, NULL);
    ASSERT_EQ_INT(subscribe(&f, "Ann@Example.test", NULL, "10.0.0.1", NULL, 0), 0);
    json_t *l = listing(&f);
    ASSERT_EQ_INT(json_integer_value(json_object_get(l, "pending")), 1);
    ASSERT_EQ_INT(json_integer_value(json_object_get(l, "active")), 0);
    json_decref(l);
    json_t *mail = queued(&f, "status:confirm:");
    ASSERT_EQ_INT(json_array_size(mail), 1);
    json_t *row = json_array_get(mail, 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(row, "kind")), "email");
    ASSERT_EQ_STR(json_string_value(json_object_get(row, "to")), "Ann@Example.test");
    char *tok = token_in(row, "subscribe/confirm?token=");
    json_decref(mail);
    char *err = NULL;
    /* a tampered MAC, another id, garbage: not found, and nothing changes */
    char *bad = dw_strdup(tok);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
    ASSERT_EQ_INT(dw_status_subscription_confirm(f.st, bad, dw_now_ms(), &err),
                  DW_STATUS_ENOTFOUND);
    bad[0] = '9';
    ASSERT_EQ_INT(dw_status_subscription_confirm(f.st, bad, dw_now_ms(), &err),
                  DW_STATUS_ENOTFOUND);
    ASSERT_EQ_INT(dw_status_subscription_confirm(f.st, "x", dw_now_ms(), &err),
                  DW_STATUS_ENOTFOUND);
    ASSERT_EQ_INT(dw_status_subscription_confirm(f.st, NULL, dw_now_ms(), &err),
                  DW_STATUS_ENOTFOUND);
    ASSERT_EQ_INT(active_count(&f), 0);
    /* the confirm token cannot manage, the right one confirms (twice is fine) */
    ASSERT_NULL(dw_status_subscription_json(f.st, tok));
    ASSERT_EQ_INT(dw_status_subscription_confirm(f.st, tok, dw_now_ms(), &err), 0);
    ASSERT_EQ_INT(dw_status_subscription_confirm(f.st, tok, dw_now_ms(), &err), 0);
    ASSERT_EQ_INT(active_count(&f), 1);
    free(bad);
    free(tok);
    free(err);
    fx_close(&f);
}

TEST(known_addresses_answer_like_new_ones)
{
    struct fx f;
    fx_open(&f, NULL);
    ASSERT_EQ_INT(subscribe(&f, "bob@example.test", NULL, "10.0.0.1", NULL, 0), 0);
    /* again at once, in another case: same answer, no second row, no second mail */
    ASSERT_EQ_INT(subscribe(&f, "BOB@example.test", NULL, "10.0.0.2", NULL, 0), 0);
    json_t *l = listing(&f);
    ASSERT_EQ_INT(json_array_size(json_object_get(l, "subscribers")), 1);
    json_decref(l);
    ASSERT_EQ_INT(count(&f, "status:confirm:"), 1);
    /* an hour later the pending one is mailed again */
    dw_clock_advance(HOUR);
    ASSERT_EQ_INT(subscribe(&f, "bob@example.test", NULL, "10.0.0.3", NULL, 0), 0);
    ASSERT_EQ_INT(count(&f, "status:confirm:"), 2);
    /* once active, asking again mails a "manage" reminder, still the same answer */
    json_t *mail = queued(&f, "status:confirm:");
    char *tok = token_in(json_array_get(mail, 1), "subscribe/confirm?token=");
    json_decref(mail);
    ASSERT_EQ_INT(dw_status_subscription_confirm(f.st, tok, dw_now_ms(), NULL), 0);
    free(tok);
    dw_clock_advance(HOUR);
    ASSERT_EQ_INT(subscribe(&f, "bob@example.test", NULL, "10.0.0.4", NULL, 0), 0);
    json_t *rem = queued(&f, "status:remind:");
    ASSERT_EQ_INT(json_array_size(rem), 1);
    char *manage = token_in(json_array_get(rem, 0), "subscription?token=");
    json_decref(rem);
    json_t *sub = dw_status_subscription_json(f.st, manage);
    ASSERT_NOT_NULL(sub);
    ASSERT_EQ_STR(json_string_value(json_object_get(sub, "state")), "active");
    ASSERT_EQ_STR(json_string_value(json_object_get(sub, "address")), "bob@example.test");
    json_decref(sub);
    free(manage);
    fx_close(&f);
}

TEST(bad_input_is_refused)
{
    struct fx f;
    fx_open(&f, NULL);
    static const char *const emails[] = {"",           "nobody",     "a@b",
                                         "a@@b.test",  "a b@c.test", "a@b.test\r\nBcc: x@y.test",
                                         "<a@b.test>", "a@.test"};
    for (size_t i = 0; i < DW_ARRAY_LEN(emails); i++)
        ASSERT_EQ_INT(subscribe(&f, emails[i], NULL, "10.0.0.1", NULL, 0), DW_STATUS_EINVAL);
    char longmail[300];
    memset(longmail, 'a', sizeof longmail);
    memcpy(longmail + 280, "@example.test", 14);
    ASSERT_EQ_INT(subscribe(&f, longmail, NULL, "10.0.0.1", NULL, 0), DW_STATUS_EINVAL);
    static const char *const hooks[] = {
        "ftp://x.test/",           "http://127.0.0.1:9/",         "http://localhost/x",
        "https://10.1.2.3/",       "https://192.168.0.1/h",       "http://[::1]:80/",
        "https://u:p@hooks.test/", "http://169.254.169.254/meta", "https://hooks.test/a b"};
    for (size_t i = 0; i < DW_ARRAY_LEN(hooks); i++)
        ASSERT_EQ_INT(subscribe(&f, "ops@example.test", hooks[i], "10.0.0.1", NULL, 0),
                      DW_STATUS_EINVAL);
    const char *unknown[] = {"api", "billing"};
    ASSERT_EQ_INT(subscribe(&f, "c@example.test", NULL, "10.0.0.1", unknown, 2), DW_STATUS_EINVAL);
    ASSERT_EQ_INT(
        subscribe(&f, "ops@example.test", "https://hooks.example.test/dw", "10.0.0.1", unknown, 1),
        0);
    json_t *l = listing(&f);
    ASSERT_EQ_INT(json_array_size(json_object_get(l, "subscribers")), 1);
    json_t *s = json_array_get(json_object_get(l, "subscribers"), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(s, "kind")), "webhook");
    ASSERT_EQ_STR(json_string_value(json_object_get(s, "email")), "ops@example.test");
    json_decref(l);
    /* the import is all or nothing */
    json_t *imp = json_pack("[{s:s}, {s:s}]", "email", "ok@example.test", "email", "bad");
    size_t added = 99;
    char *err = NULL;
    ASSERT_EQ_INT(dw_status_subscribers_import(f.st, imp, dw_now_ms(), &added, &err),
                  DW_STATUS_EINVAL);
    ASSERT_NOT_NULL(strstr(err, "subscriber 1"));
    free(err);
    json_decref(imp);
    ASSERT_EQ_INT(active_count(&f), 0);
    fx_close(&f);
}

TEST(limits_per_client_per_hour_and_in_total)
{
    struct fx f;
    fx_open(&f, "  subscribers: {per_client_per_hour: 3, max_new_per_hour: 5,"
                " max_subscribers: 7}\n");
    char addr[64];
    for (int i = 0; i < 3; i++) {
        snprintf(addr, sizeof addr, "p%d@example.test", i);
        ASSERT_EQ_INT(subscribe(&f, addr, NULL, "10.0.0.1", NULL, 0), 0);
    }
    ASSERT_EQ_INT(subscribe(&f, "p3@example.test", NULL, "10.0.0.1", NULL, 0), DW_STATUS_ELIMIT);
    /* other clients go on until the page's hourly bound */
    ASSERT_EQ_INT(subscribe(&f, "q0@example.test", NULL, "10.0.0.2", NULL, 0), 0);
    ASSERT_EQ_INT(subscribe(&f, "q1@example.test", NULL, "10.0.0.3", NULL, 0), 0);
    ASSERT_EQ_INT(subscribe(&f, "q2@example.test", NULL, "10.0.0.4", NULL, 0), DW_STATUS_ELIMIT);
    /* a known address is answered as usual even at the bound */
    ASSERT_EQ_INT(subscribe(&f, "q0@example.test", NULL, "10.0.0.5", NULL, 0), 0);
    dw_clock_advance(HOUR + MIN);
    ASSERT_EQ_INT(subscribe(&f, "r0@example.test", NULL, "10.0.0.6", NULL, 0), 0);
    ASSERT_EQ_INT(subscribe(&f, "r1@example.test", NULL, "10.0.0.7", NULL, 0), 0);
    /* seven rows: the total bound */
    ASSERT_EQ_INT(subscribe(&f, "r2@example.test", NULL, "10.0.0.8", NULL, 0), DW_STATUS_ELIMIT);
    /* the per-client bucket refills: 3 an hour */
    ASSERT_EQ_INT(subscribe(&f, "p0@example.test", NULL, "10.0.0.1", NULL, 0), 0);
    fx_close(&f);
}

/* 250 confirmed subscribers: every 5th only for web, every 10th a webhook. */
static void import_many(struct fx *f)
{
    json_t *list = json_array();
    for (int i = 0; i < 250; i++) {
        char email[64], hook[96];
        snprintf(email, sizeof email, "user%03d@example.test", i);
        json_t *e = json_pack("{s:s}", "email", email);
        if (i % 5 == 0)
            json_object_set_new(e, "components", json_pack("[s]", "web"));
        if (i % 10 == 1) {
            snprintf(hook, sizeof hook, "https://hooks.example.test/%d", i);
            json_object_set_new(e, "webhook", json_string(hook));
        }
        json_array_append_new(list, e);
    }
    size_t added = 0;
    char *err = NULL;
    ASSERT_EQ_INT(dw_status_subscribers_import(f->st, list, dw_now_ms(), &added, &err), 0);
    ASSERT_EQ_INT(added, 250);
    /* again: nothing new */
    ASSERT_EQ_INT(dw_status_subscribers_import(f->st, list, dw_now_ms(), &added, &err), 0);
    ASSERT_EQ_INT(added, 0);
    free(err);
    json_decref(list);
}

static void open_incident(struct fx *f, char id[DW_INCIDENT_ID_LEN])
{
    const char *sys[] = {"api"};
    struct dw_incident_new n = {
        .title = "API errors", .severity = 1, .affected_systems = sys, .naffected_systems = 1};
    char *err = NULL;
    ASSERT_EQ_INT(dw_incident_create(f->inc, &n, "alice", dw_now_ms(), id, &err), 0);
    free(err);
}

TEST(fan_out_at_the_rate_to_the_chosen_components_without_doubles)
{
    struct fx f;
    fx_open(&f, "  subscribers: {send_rate: 100}\n");
    import_many(&f);
    dw_status_tick(f.st, dw_now_ms());
    char id[DW_INCIDENT_ID_LEN];
    open_incident(&f, id);
    /* the tick publishes the automatic update and starts the fan-out: one second's worth */
    advance(&f, 1000);
    ASSERT_EQ_INT(count(&f, "status:notice:"), 100);
    advance(&f, 1000);
    ASSERT_EQ_INT(count(&f, "status:notice:"), 200);
    advance(&f, 1000);
    /* the api incident reaches everyone but the 50 web-only subscribers */
    ASSERT_EQ_INT(count(&f, "status:notice:"), 200);
    json_t *rows = queued(&f, "status:notice:");
    size_t emails = 0, hooks = 0;
    json_t *row;
    size_t i;
    json_array_foreach(rows, i, row)
    {
        char *text = text_of(row);
        if (strcmp(json_string_value(json_object_get(row, "kind")), "webhook") == 0) {
            hooks++;
            json_t *w = json_loads(text, 0, NULL); /* Statuspage's webhook body */
            ASSERT_EQ_STR(
                json_string_value(json_object_get(json_object_get(w, "incident"), "name")),
                "API errors");
            ASSERT_EQ_STR(
                json_string_value(json_object_get(json_object_get(w, "page"), "status_indicator")),
                "critical");
            ASSERT_TRUE(dw_str_has_prefix(
                json_string_value(json_object_get(json_object_get(w, "meta"), "unsubscribe")),
                "https://status.example.test/unsubscribe?token="));
            ASSERT_TRUE(dw_str_has_prefix(json_string_value(json_object_get(row, "to")),
                                          "https://hooks.example.test/"));
            json_decref(w);
        } else {
            emails++;
            ASSERT_CONTAINS(text, "Subject: [Test Status] Investigating: API errors\r\n");
            ASSERT_CONTAINS(text, "List-Unsubscribe: <https://status.example.test/unsubscribe"
                                  "?token=");
            ASSERT_CONTAINS(text, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
            ASSERT_CONTAINS(text, "Manage your subscription: https://status.example.test/"
                                  "subscription?token=");
        }
        free(text);
    }
    json_decref(rows);
    ASSERT_EQ_INT(hooks, 25); /* i % 10 == 1 never meets i % 5 == 0 */
    ASSERT_EQ_INT(emails, 175);
    /* the notice is done and the incident's timeline says so */
    char *err = NULL;
    json_t *ns = dw_status_notices_json(f.st, 10, &err);
    json_t *n0 = json_array_get(ns, 0);
    ASSERT_EQ_INT(json_integer_value(json_object_get(n0, "emails")), 175);
    ASSERT_EQ_INT(json_integer_value(json_object_get(n0, "webhooks")), 25);
    ASSERT_TRUE(json_is_integer(json_object_get(n0, "done_at")));
    json_decref(ns);
    json_t *ij = dw_incident_json(f.inc, id);
    bool noted = false;
    json_t *e;
    json_array_foreach(json_object_get(ij, "timeline"), i, e) noted |=
        strcmp(json_string_value(json_object_get(e, "kind")), "notice") == 0 &&
        strstr(json_string_value(json_object_get(e, "text")), "175 e-mails");
    ASSERT_TRUE(noted);
    json_decref(ij);
    /* a crash between queueing and moving the cursor: replaying queues nobody twice */
    ASSERT_EQ_INT(dw_store_exec(f.store,
                                "UPDATE status_notices SET cursor = 0, emails = 0, webhooks = 0,"
                                " done_at = NULL",
                                NULL, 0, NULL, NULL, NULL),
                  0);
    for (int k = 0; k < 4; k++)
        advance(&f, 1000);
    ASSERT_EQ_INT(count(&f, "status:notice:"), 200);
    free(err);
    fx_close(&f);
}

TEST(unsubscribe_and_manage_by_token)
{
    struct fx f;
    fx_open(&f, "  subscribers: {send_rate: 1000}\n");
    import_many(&f);
    char id[DW_INCIDENT_ID_LEN];
    open_incident(&f, id);
    advance(&f, 1000);
    json_t *rows = queued(&f, "status:notice:");
    char *tok = token_in(json_array_get(rows, 0), "unsubscribe?token=");
    char *tok2 = token_in(json_array_get(rows, 1), "unsubscribe?token=");
    json_decref(rows);
    char *err = NULL;
    const char *web[] = {"web"};
    ASSERT_EQ_INT(dw_status_subscription_components(f.st, tok2, web, 1, dw_now_ms(), &err), 0);
    json_t *sub = dw_status_subscription_json(f.st, tok2);
    ASSERT_EQ_INT(json_array_size(json_object_get(sub, "components")), 1);
    json_decref(sub);
    ASSERT_EQ_INT(dw_status_unsubscribe(f.st, tok, dw_now_ms(), &err), 0);
    ASSERT_EQ_INT(dw_status_unsubscribe(f.st, tok, dw_now_ms(), &err), DW_STATUS_ENOTFOUND);
    ASSERT_CONTAINS(err, "names no subscription");
    free(err);
    err = NULL;
    ASSERT_EQ_INT(active_count(&f), 249);
    /* the next update reaches 200 - 1 unsubscribed - 1 now web-only */
    ASSERT_EQ_INT(dw_status_incident_update(f.st, id, "identified", "Found it.", NULL, 0, "bob",
                                            dw_now_ms(), &err),
                  0);
    advance(&f, 1000);
    ASSERT_EQ_INT(count(&f, "status:notice:2:"), 198);
    free(tok);
    free(tok2);
    free(err);
    fx_close(&f);
}

TEST(pending_subscriptions_expire_and_confirm_links_with_them)
{
    struct fx f;
    fx_open(&f, "  subscribers: {confirm_within: 2h}\n");
    ASSERT_EQ_INT(subscribe(&f, "late@example.test", NULL, "10.0.0.1", NULL, 0), 0);
    json_t *mail = queued(&f, "status:confirm:");
    char *tok = token_in(json_array_get(mail, 0), "subscribe/confirm?token=");
    json_decref(mail);
    advance(&f, 2 * HOUR + MIN);
    char *err = NULL;
    ASSERT_EQ_INT(dw_status_subscription_confirm(f.st, tok, dw_now_ms(), &err),
                  DW_STATUS_ENOTFOUND);
    json_t *l = listing(&f);
    ASSERT_EQ_INT(json_integer_value(json_object_get(l, "pending")), 0);
    json_decref(l);
    free(tok);
    free(err);
    fx_close(&f);
}

TEST(maintenance_notices)
{
    struct fx f;
    fx_open(&f, "  subscribers: {send_rate: 1000}\n");
    import_many(&f);
    json_t *in = json_pack("{s:s, s:s, s:[s], s:s, s:s}", "name", "Database upgrade", "body",
                           "Short read-only window.", "components", "web", "scheduled_for",
                           "2026-03-02T02:00:00Z", "scheduled_until", "2026-03-02T03:00:00Z");
    char mid[48], *err = NULL;
    ASSERT_EQ_INT(dw_status_maintenance_set(f.st, NULL, in, "ops", dw_now_ms(), mid, &err), 0);
    json_decref(in);
    advance(&f, 1000);
    /* web concerns everybody: 250 */
    ASSERT_EQ_INT(count(&f, "status:notice:1:"), 250);
    advance(&f, 2 * HOUR);
    ASSERT_EQ_INT(count(&f, "status:notice:2:"), 250); /* in progress */
    json_t *rows = queued(&f, "status:notice:2:");
    char *text = text_of(json_array_get(rows, 0));
    ASSERT_CONTAINS(text, "Maintenance in progress: Database upgrade");
    ASSERT_CONTAINS(text, "Short read-only window.");
    free(text);
    json_decref(rows);
    free(err);
    fx_close(&f);
}

TEST(public_reads_are_limited_per_client)
{
    struct fx f;
    fx_open(&f, "  rate_limit: {requests_per_second: 2, burst: 3,"
                " trusted_proxies: [10.9.9.9]}\n");
    int retry = 0;
    int64_t now = dw_now_ms();
    for (int i = 0; i < 3; i++)
        ASSERT_TRUE(dw_status_admit(f.st, "10.0.0.1", NULL, now, &retry));
    ASSERT_FALSE(dw_status_admit(f.st, "10.0.0.1", NULL, now, &retry));
    ASSERT_EQ_INT(retry, 1);
    ASSERT_TRUE(dw_status_admit(f.st, "10.0.0.2", NULL, now, &retry));
    /* X-Forwarded-For counts only from a trusted proxy: its last hop is the client */
    ASSERT_TRUE(dw_status_admit(f.st, "10.0.0.1", "10.0.0.7", now + 500, &retry));
    ASSERT_FALSE(dw_status_admit(f.st, "10.0.0.1", "10.0.0.8", now + 500, &retry));
    for (int i = 0; i < 3; i++)
        ASSERT_TRUE(dw_status_admit(f.st, "10.9.9.9", "1.2.3.4, 10.0.0.5", now, &retry));
    ASSERT_FALSE(dw_status_admit(f.st, "10.9.9.9", "1.2.3.4, 10.0.0.5", now, &retry));
    ASSERT_TRUE(dw_status_admit(f.st, "10.9.9.9", "10.0.0.6", now, &retry));
    fx_close(&f);
}

TEST(config_checks_probe_names_and_subscriber_keys)
{
    struct dw_config *cfg = config_with("status:\n"
                                        "  components:\n"
                                        "    - {id: api, name: API, probes: [api-helth]}\n"
                                        "  subscribers: {send_rate: 0, confirm_within: 10s,"
                                        " max_new: 5}\n"
                                        "  rate_limit: {burst: 0}\n");
    struct dw_diags d;
    dw_diags_init(&d);
    ASSERT_EQ_INT(dw_status_check_config(cfg, &d), 5);
    bool probe = false, rate = false, within = false, unknown = false, burst = false;
    for (size_t i = 0; i < d.n; i++) {
        const struct dw_diag *g = &d.items[i];
        probe |= strstr(g->msg, "no probe \"api-helth\"") && strstr(g->msg, "\"api-health\"") &&
                 strcmp(g->key, "status.components[0].probes[0]") == 0 && g->line > 1;
        rate |= strcmp(g->key, "status.subscribers.send_rate") == 0;
        within |= strcmp(g->key, "status.subscribers.confirm_within") == 0;
        unknown |= strcmp(g->key, "status.subscribers.max_new") == 0;
        burst |= strcmp(g->key, "status.rate_limit.burst") == 0;
    }
    ASSERT_TRUE(probe);
    ASSERT_TRUE(rate);
    ASSERT_TRUE(within);
    ASSERT_TRUE(unknown);
    ASSERT_TRUE(burst);
    dw_diags_release(&d);
    dw_config_unref(&cfg);
}

TEST_MAIN()
