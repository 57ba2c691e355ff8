/*
 * test_notify.c - the notifier and its webhook channel against a tiny HTTP
 * receiver running in a thread of this program: delivery of the exact
 * Alertmanager webhook v4 body, 500 then success after a backoff, 429 with
 * Retry-After, a 400 given up, a time-out retried, order within a group
 * (the resolve waits for the retried "fired"), one dead receiver not
 * delaying another, nothing lost across a stop (at least once), the
 * rendering options (send_resolved, max_alerts), Retry-After parsing and
 * the configuration's diagnostics.
 */
#include <jansson.h>

#include "harness.h"
#include "notify/notify_internal.h"
#include "testutil.h"
#include "testutil_alert.h"
#include "testutil_http.h"
#include "testutil_plan.h"

/* Monday 2026-03-02 10:00:00 UTC */
#define T0 1772445600000LL
#define MS 1000000LL

/* ---- the alerter and the notifier ---- */

struct fixture {
    char *dir;
    struct dw_store *store;
    struct dw_alerter *a;
    struct dw_notifier *n;
    struct http_server *srv, *srv2;
};

static void fx_apply(struct fixture *f, const char *yaml)
{
    alerter_apply_ok(f->a, yaml);
}

/* A receiver `name` whose webhook is the fixture's server; extra goes into its item. */
static char *config_for(const char *name, int port, const char *extra)
{
    return dw_asprintf("route: {receiver: %s, group_by: [alertname]}\n"
                       "receivers:\n"
                       "  - name: %s\n"
                       "    webhook_configs:\n"
                       "      - url: http://127.0.0.1:%d/hook\n"
                       "        http_config: {authorization: {credentials: s3cret}}\n%s",
                       name, name, port, extra ? extra : "");
}

static struct dw_notifier *notifier(struct fixture *f, int64_t base_ms)
{
    struct dw_notifier_options o = {.alerter = f->a,
                                    .store = f->store,
                                    .backoff_base_ms = base_ms,
                                    .backoff_max_ms = 4 * base_ms};
    struct dw_notifier *n = dw_notifier_new(&o);
    ASSERT_EQ_INT(dw_notifier_start(n), 0);
    return n;
}

static void fx_open(struct fixture *f, const char *receiver, const char *extra, int64_t base_ms)
{
    dw_log_set_level(DW_LOG_ERROR);
    dw_clock_set_manual(T0);
    f->dir = tmpdir_new();
    f->a = alerter_open_in(f->dir, &f->store);
    f->srv = http_server_start();
    char *yaml = config_for(receiver, f->srv->port, extra);
    fx_apply(f, yaml);
    free(yaml);
    f->n = notifier(f, base_ms);
}

static void fx_close(struct fixture *f)
{
    dw_notifier_free(&f->n);
    dw_alerter_close(&f->a);
    dw_store_close(&f->store);
    http_server_stop(&f->srv);
    if (f->srv2)
        http_server_stop(&f->srv2);
    rm_rf(f->dir);
    free(f->dir);
    dw_clock_set_real();
}

/* Puts one alert "alertname=<name>,priority=P0" (firing or resolved). */
static void put(struct fixture *f, const char *name, int state)
{
    struct dw_label l[] = {{"alertname", name}, {"priority", "P0"}, {"service", "api"}};
    struct dw_label an[] = {{"summary", "the API is down"}};
    struct dw_alert_in in = {.labels = l,
                             .nlabels = 3,
                             .annotations = an,
                             .nannotations = 1,
                             .state = state,
                             .generator_url = "http://dw/graph"};
    char *err = NULL;
    int rc = dw_alerter_put(f->a, &in, 1, dw_now_ms(), &err);
    if (rc)
        fprintf(stderr, "  put: %s\n", err);
    free(err);
    ASSERT_EQ_INT(rc, 0);
}

/* Resolves it and lets the group's next flush (group_interval 1 s) send that. */
static void resolve(struct fixture *f, const char *name)
{
    put(f, name, DW_ALERT_RESOLVED);
    dw_clock_advance(1000);
    dw_alerter_tick(f->a, dw_now_ms());
}

static bool wait_requests(struct http_server *s, size_t n, int64_t timeout_ms)
{
    int64_t end = dw_mono_ns() + timeout_ms * MS;
    while (http_server_count(s) < n && dw_mono_ns() < end)
        usleep(1000);
    return http_server_count(s) >= n;
}

static struct dw_notifier_stats stats(struct fixture *f)
{
    struct dw_notifier_stats st;
    dw_notifier_get_stats(f->n, &st);
    return st;
}

static bool wait_acked(struct fixture *f, int64_t events, int64_t timeout_ms)
{
    int64_t end = dw_mono_ns() + timeout_ms * MS;
    while (stats(f).events_acked < events && dw_mono_ns() < end)
        usleep(1000);
    return stats(f).events_acked >= events;
}

/* Waits until n notifications are finished (delivered or given up) and none is pending. */
static bool wait_finished(struct fixture *f, int64_t n, int64_t timeout_ms)
{
    int64_t end = dw_mono_ns() + timeout_ms * MS;
    for (;;) {
        struct dw_notifier_stats st = stats(f);
        if (st.delivered + st.given_up >= n && st.pending == 0)
            return true;
        if (dw_mono_ns() >= end)
            return false;
        usleep(1000);
    }
}

static size_t outbox_rows(struct fixture *f, const char *state);

/* Waits until the outbox has n rows in a state (results are recorded at the end of a turn). */
static bool wait_rows(struct fixture *f, const char *state, size_t n)
{
    int64_t end = dw_mono_ns() + 2000 * MS;
    while (outbox_rows(f, state) < n && dw_mono_ns() < end)
        usleep(1000);
    return outbox_rows(f, state) == n;
}

/* Outbox rows in a state (NULL: any). */
static size_t outbox_rows(struct fixture *f, const char *state)
{
    char *err = NULL;
    json_t *rows = dw_notifier_outbox_json(f->store, state, NULL, 1000, false, &err);
    ASSERT_NOT_NULL(rows);
    size_t n = json_array_size(rows);
    json_decref(rows);
    return n;
}

/* Events still after consumer "notify"'s durable cursor. */
static size_t unacked(struct fixture *f)
{
    struct dw_alert_event *ev = NULL;
    size_t n = 0;
    char *err = NULL;
    ASSERT_EQ_INT(dw_alerter_events_read(f->a, "notify", 100, &ev, &n, &err), 0);
    dw_alert_events_free(ev, n);
    return n;
}

/* The value of one series in the metrics registry's text, -1 when absent. */
static double metric(const char *series)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_metrics_write(&b);
    const char *at = strstr(b.data, series);
    double v = -1;
    if (at) {
        at += strlen(series) + 1;
        char *num = dw_strndup(at, strcspn(at, "\n"));
        dw_parse_double(num, &v);
        free(num);
    }
    dw_buf_release(&b);
    return v;
}

static int64_t gap_ms(struct http_server *s, size_t i)
{
    return (s->reqs[i].at_ns - s->reqs[i - 1].at_ns) / MS;
}

/* ---- tests ---- */

TEST(delivers_the_alertmanager_webhook_v4_body)
{
    struct fixture f = {0};
    fx_open(&f, "pager", NULL, 50);
    int64_t t0 = dw_mono_ns();
    put(&f, "ApiDown", DW_ALERT_FIRING);
    ASSERT_TRUE(wait_requests(f.srv, 1, 5000));
    int64_t took_ms = (f.srv->reqs[0].at_ns - t0) / MS;
    ASSERT_TRUE(took_ms < 200); /* on the event, not on a poll interval */
    const struct http_request *r = &f.srv->reqs[0];
    ASSERT_CONTAINS(r->head, "POST /hook HTTP/1.1\r\n");
    ASSERT_CONTAINS(r->head, "Content-Type: application/json\r\n");
    ASSERT_CONTAINS(r->head, "Authorization: Bearer s3cret\r\n");
    ASSERT_CONTAINS(r->head, "User-Agent: dojowatch/");
    ASSERT_NOT_CONTAINS(r->head, "Expect:");
    json_t *doc = json_loads(r->body, 0, NULL);
    ASSERT_NOT_NULL(doc);
    ASSERT_EQ_STR(json_string_value(json_object_get(doc, "version")), "4");
    ASSERT_EQ_STR(json_string_value(json_object_get(doc, "status")), "firing");
    ASSERT_EQ_STR(json_string_value(json_object_get(doc, "receiver")), "pager");
    ASSERT_EQ_STR(json_string_value(json_object_get(doc, "groupKey")),
                  "{}:{alertname=\"ApiDown\"}");
    ASSERT_EQ_INT(json_integer_value(json_object_get(doc, "truncatedAlerts")), 0);
    ASSERT_EQ_STR(
        json_string_value(json_object_get(json_object_get(doc, "groupLabels"), "alertname")),
        "ApiDown");
    ASSERT_EQ_STR(
        json_string_value(json_object_get(json_object_get(doc, "commonLabels"), "service")), "api");
    ASSERT_EQ_STR(
        json_string_value(json_object_get(json_object_get(doc, "commonAnnotations"), "summary")),
        "the API is down");
    ASSERT_TRUE(json_is_string(json_object_get(doc, "externalURL")));
    ASSERT_NULL(json_object_get(doc, "kind"));
    ASSERT_NULL(json_object_get(doc, "priority"));
    ASSERT_EQ_INT(json_object_size(doc), 10);
    json_t *al = json_array_get(json_object_get(doc, "alerts"), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(al, "status")), "firing");
    ASSERT_EQ_STR(json_string_value(json_object_get(al, "endsAt")), "0001-01-01T00:00:00Z");
    ASSERT_EQ_STR(json_string_value(json_object_get(al, "generatorURL")), "http://dw/graph");
    ASSERT_EQ_INT(strlen(json_string_value(json_object_get(al, "fingerprint"))), 16);
    ASSERT_EQ_INT(json_object_size(al), 7);
    json_decref(doc);
    ASSERT_TRUE(wait_finished(&f, 1, 2000));
    ASSERT_EQ_INT(unacked(&f), 0);
    ASSERT_TRUE(wait_rows(&f, "delivered", 1));
    ASSERT_EQ_INT(stats(&f).delivered, 1);
    ASSERT_EQ_INT(metric("dojowatch_notify_requests_total{channel=\"webhook\",receiver=\"pager\","
                         "result=\"success\"}"),
                  1);
    resolve(&f, "ApiDown");
    ASSERT_TRUE(wait_requests(f.srv, 2, 5000));
    ASSERT_CONTAINS(f.srv->reqs[1].body, "\"status\":\"resolved\"");
    fx_close(&f);
}

TEST(server_error_is_retried_after_a_backoff)
{
    struct fixture f = {0};
    fx_open(&f, "r500", NULL, 100);
    http_server_script(f.srv, (struct http_answer[]){{.status = 500}}, 1);
    put(&f, "Retry500", DW_ALERT_FIRING);
    ASSERT_TRUE(wait_requests(f.srv, 2, 5000));
    ASSERT_TRUE(gap_ms(f.srv, 1) >= 50); /* base 100 ms, equal jitter: [50, 100] */
    ASSERT_TRUE(wait_finished(&f, 1, 2000));
    struct dw_notifier_stats st = stats(&f);
    ASSERT_EQ_INT(st.attempts, 2);
    ASSERT_EQ_INT(st.retries, 1);
    ASSERT_EQ_INT(st.delivered, 1);
    ASSERT_EQ_INT(st.pending, 0);
    ASSERT_EQ_INT(metric("dojowatch_notify_requests_total{channel=\"webhook\",receiver=\"r500\","
                         "result=\"server_error\"}"),
                  1);
    ASSERT_EQ_STR(f.srv->reqs[0].body, f.srv->reqs[1].body);
    fx_close(&f);
}

TEST(rate_limit_waits_for_retry_after)
{
    struct fixture f = {0};
    fx_open(&f, "r429", NULL, 10);
    http_server_script(f.srv,
                       (struct http_answer[]){{.status = 429, .headers = "Retry-After: 1\r\n"}}, 1);
    put(&f, "Limited", DW_ALERT_FIRING);
    ASSERT_TRUE(wait_requests(f.srv, 2, 5000));
    ASSERT_TRUE(gap_ms(f.srv, 1) >= 990); /* not the 10 ms backoff */
    ASSERT_TRUE(wait_finished(&f, 1, 2000));
    ASSERT_EQ_INT(stats(&f).delivered, 1);
    ASSERT_EQ_INT(metric("dojowatch_notify_requests_total{channel=\"webhook\",receiver=\"r429\","
                         "result=\"rate_limited\"}"),
                  1);
    fx_close(&f);
}

TEST(client_error_is_given_up_and_acknowledged)
{
    struct fixture f = {0};
    fx_open(&f, "r400", NULL, 10);
    http_server_script(f.srv, (struct http_answer[]){{.status = 400}}, 1);
    put(&f, "Rejected", DW_ALERT_FIRING);
    ASSERT_TRUE(wait_finished(&f, 1, 5000));
    usleep(200000); /* no retry comes */
    ASSERT_EQ_INT(http_server_count(f.srv), 1);
    struct dw_notifier_stats st = stats(&f);
    ASSERT_EQ_INT(st.given_up, 1);
    ASSERT_EQ_INT(st.delivered, 0);
    ASSERT_EQ_INT(unacked(&f), 0);
    ASSERT_EQ_INT(
        metric("dojowatch_notify_notifications_total{channel=\"webhook\",receiver=\"r400\","
               "result=\"given_up\"}"),
        1);
    fx_close(&f);
}

TEST(timeout_is_retried)
{
    struct fixture f = {0};
    fx_open(&f, "slow", "        timeout: 200ms\n", 20);
    http_server_script(f.srv, (struct http_answer[]){{.status = 200, .delay_ms = 600}}, 1);
    put(&f, "Slow", DW_ALERT_FIRING);
    ASSERT_TRUE(wait_finished(&f, 1, 5000));
    struct dw_notifier_stats st = stats(&f);
    ASSERT_TRUE(st.attempts >= 2);
    ASSERT_EQ_INT(st.delivered, 1);
    ASSERT_TRUE(metric("dojowatch_notify_requests_total{channel=\"webhook\",receiver=\"slow\","
                       "result=\"timeout\"}") >= 1);
    fx_close(&f);
}

TEST(resolve_waits_for_the_retried_fired_of_its_group)
{
    struct fixture f = {0};
    fx_open(&f, "order", NULL, 100);
    http_server_script(f.srv, (struct http_answer[]){{.status = 503}, {.status = 503}}, 2);
    put(&f, "Ordered", DW_ALERT_FIRING);
    ASSERT_TRUE(wait_requests(f.srv, 1, 5000));
    resolve(&f, "Ordered"); /* queued while "fired" is in backoff */
    ASSERT_TRUE(wait_finished(&f, 2, 5000));
    ASSERT_EQ_INT(http_server_count(f.srv), 4);
    for (size_t i = 0; i < 3; i++)
        ASSERT_CONTAINS(f.srv->reqs[i].body, "\"status\":\"firing\"");
    ASSERT_CONTAINS(f.srv->reqs[3].body, "\"status\":\"resolved\"");
    fx_close(&f);
}

TEST(a_dead_receiver_does_not_delay_another)
{
    struct fixture f = {0};
    fx_open(&f, "dead", NULL, 200);
    f.srv2 = http_server_start();
    http_server_default(f.srv, (struct http_answer){.status = 503});
    char *yaml =
        dw_asprintf("route:\n  receiver: dead\n  group_by: [alertname]\n  routes:\n"
                    "    - {matchers: ['priority=\"P0\"'], receiver: dead, continue: true}\n"
                    "    - {matchers: ['priority=\"P0\"'], receiver: alive}\n"
                    "receivers:\n"
                    "  - {name: dead, webhook_configs: [{url: 'http://127.0.0.1:%d/hook'}]}\n"
                    "  - {name: alive, webhook_configs: [{url: 'http://127.0.0.1:%d/hook'}]}\n",
                    f.srv->port, f.srv2->port);
    fx_apply(&f, yaml);
    free(yaml);
    dw_notifier_reload(f.n);
    usleep(50000);
    put(&f, "Both", DW_ALERT_FIRING);
    put(&f, "Second", DW_ALERT_FIRING);
    ASSERT_TRUE(wait_requests(f.srv2, 2, 2000));
    ASSERT_TRUE(http_server_count(f.srv) >= 2);
    int64_t end = dw_mono_ns() + 2000 * MS;
    while (stats(&f).delivered < 2 && dw_mono_ns() < end)
        usleep(1000);
    ASSERT_EQ_INT(stats(&f).delivered, 2);
    ASSERT_EQ_INT(unacked(&f), 0);                /* every event is in the outbox... */
    ASSERT_TRUE(outbox_rows(&f, "pending") >= 2); /* ...and the dead receiver's rows wait there */
    fx_close(&f);
}

TEST(nothing_is_lost_across_a_stop)
{
    struct fixture f = {0};
    fx_open(&f, "crash", NULL, 50);
    http_server_default(f.srv, (struct http_answer){.status = 503});
    put(&f, "Survives", DW_ALERT_FIRING);
    ASSERT_TRUE(wait_requests(f.srv, 2, 5000));
    dw_notifier_free(&f.n); /* as if killed: the row stays pending in the outbox */
    ASSERT_EQ_INT(unacked(&f), 0);
    ASSERT_EQ_INT(outbox_rows(&f, "pending"), 1);
    http_server_default(f.srv, (struct http_answer){.status = 200});
    size_t before = http_server_count(f.srv);
    f.n = notifier(&f, 50);
    ASSERT_TRUE(wait_finished(&f, 1, 5000));
    ASSERT_EQ_INT(http_server_count(f.srv), before + 1);
    ASSERT_TRUE(wait_rows(&f, "delivered", 1));
    ASSERT_CONTAINS(f.srv->reqs[before].body, "Survives");
    ASSERT_EQ_INT(unacked(&f), 0);
    fx_close(&f);
}

TEST(receivers_without_webhooks_are_acknowledged)
{
    struct fixture f = {0};
    fx_open(&f, "x", NULL, 50);
    fx_apply(&f, "route: {receiver: quiet}\nreceivers: [{name: quiet}]\n");
    dw_notifier_reload(f.n);
    put(&f, "Quiet", DW_ALERT_FIRING);
    ASSERT_TRUE(wait_acked(&f, 1, 2000));
    ASSERT_EQ_INT(http_server_count(f.srv), 0);
    ASSERT_EQ_INT(unacked(&f), 0);
    fx_close(&f);
}

TEST(credentials_file_is_read_at_each_request)
{
    struct fixture f = {0};
    fx_open(&f, "x", NULL, 50);
    char *path = write_file_n(f.dir, "token", "  tok-1\n", 8);
    char *yaml = dw_asprintf("route: {receiver: filecred, group_by: [alertname]}\n"
                             "receivers:\n  - name: filecred\n    webhook_configs:\n"
                             "      - url: http://127.0.0.1:%d/hook\n"
                             "        http_config:\n"
                             "          authorization: {type: Token, credentials_file: '%s'}\n",
                             f.srv->port, path);
    fx_apply(&f, yaml);
    free(yaml);
    dw_notifier_reload(f.n);
    put(&f, "First", DW_ALERT_FIRING);
    ASSERT_TRUE(wait_requests(f.srv, 1, 5000));
    ASSERT_CONTAINS(f.srv->reqs[0].head, "Authorization: Token tok-1\r\n");
    free(write_file_n(f.dir, "token", "tok-2", 5)); /* rotated: no reload needed */
    put(&f, "Second", DW_ALERT_FIRING);
    ASSERT_TRUE(wait_requests(f.srv, 2, 5000));
    ASSERT_CONTAINS(f.srv->reqs[1].head, "Authorization: Token tok-2\r\n");
    free(path);
    fx_close(&f);
}

/* ---- rendering, parsing, configuration ---- */

static const char *PAYLOAD =
    "{\"receiver\":\"r\",\"status\":\"firing\",\"alerts\":["
    "{\"status\":\"firing\",\"labels\":{\"a\":\"1\"}},"
    "{\"status\":\"resolved\",\"labels\":{\"a\":\"2\"}},"
    "{\"status\":\"firing\",\"labels\":{\"a\":\"3\"}}],"
    "\"version\":\"4\",\"truncatedAlerts\":0,\"kind\":\"changed\",\"priority\":\"P0\"}";

TEST(render_applies_send_resolved_and_max_alerts)
{
    struct y_webhook w = {.send_resolved = true};
    const char *skip = NULL;
    char *body = webhook_channel.render(&w, PAYLOAD, &skip);
    ASSERT_NOT_NULL(body);
    ASSERT_NOT_CONTAINS(body, "\"kind\"");
    ASSERT_NOT_CONTAINS(body, "\"priority\"");
    ASSERT_CONTAINS(body, "\"a\":\"2\"");
    free(body);
    w.send_resolved = false;
    body = webhook_channel.render(&w, PAYLOAD, &skip);
    ASSERT_NOT_CONTAINS(body, "\"a\":\"2\"");
    ASSERT_CONTAINS(body, "\"a\":\"3\"");
    free(body);
    w.max_alerts = 1;
    body = webhook_channel.render(&w, PAYLOAD, &skip);
    ASSERT_CONTAINS(body, "\"truncatedAlerts\":1");
    ASSERT_NOT_CONTAINS(body, "\"a\":\"3\"");
    free(body);
    const char *resolved = "{\"status\":\"resolved\",\"alerts\":[{\"status\":\"resolved\"}]}";
    ASSERT_NULL(webhook_channel.render(&w, resolved, &skip));
    ASSERT_CONTAINS(skip, "send_resolved");
    ASSERT_NULL(webhook_channel.render(&w, "nope", &skip));
}

TEST(retry_after_in_seconds_or_as_a_date)
{
    ASSERT_EQ_INT(retry_after_parse("120", 0), 120000);
    ASSERT_EQ_INT(retry_after_parse(" 0", 0), 0);
    ASSERT_EQ_INT(retry_after_parse("99999", 0), 3600000);
    ASSERT_EQ_INT(retry_after_parse("-1", 0), -1);
    ASSERT_EQ_INT(retry_after_parse("soon", 0), -1);
    /* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 */
    ASSERT_EQ_INT(retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", 784111770), 7000);
    ASSERT_EQ_INT(retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", 784111800), 0);
}

static char *decode_errors(const char *yaml)
{
    struct dw_diags d;
    dw_diags_init(&d);
    struct y_receiver *r = receiver_decode("t", yaml, &d);
    receiver_free(&r);
    char *text = diags_text(&d);
    dw_diags_release(&d);
    return text;
}

TEST(receiver_configuration_errors_have_positions)
{
    char *t = decode_errors("{name: t, webhook_configs: [{url: 'ftp://x'}]}");
    ASSERT_CONTAINS(t, "alerting.receivers[t]:1:");
    ASSERT_CONTAINS(t, "http(s) URL");
    free(t);
    t = decode_errors("{name: t, webhook_config: [{url: 'http://x'}]}");
    ASSERT_CONTAINS(t, "webhook_configs");
    free(t);
    t = decode_errors("{name: t, webhook_configs: [{send_resolved: true}]}");
    ASSERT_CONTAINS(t, "url");
    free(t);
    t = decode_errors("{name: t, webhook_configs: [{url: 'http://x', http_config: "
                      "{authorization: {credentials: a}, basic_auth: {username: u}}}]}");
    ASSERT_CONTAINS(t, "at most one of authorization");
    free(t);
    t = decode_errors("{name: t, webhook_configs: [{url: 'http://x', max_alerts: -1}]}");
    ASSERT_CONTAINS(t, "max_alerts");
    free(t);
    t = decode_errors("{name: t, telegram_configs: [{chat_id: 1}]}");
    ASSERT_CONTAINS(t, "warning: telegram_configs are not delivered by dojowatch");
    free(t);
    struct dw_diags d;
    dw_diags_init(&d);
    struct y_receiver *r =
        receiver_decode("t", "{name: t, webhook_configs: [{url: 'http://x/h'}]}", &d);
    ASSERT_NOT_NULL(r);
    ASSERT_EQ_INT(r->nwebhooks, 1);
    ASSERT_TRUE(r->webhooks[0].send_resolved);
    ASSERT_EQ_INT(r->webhooks[0].timeout_ms, 10000);
    ASSERT_EQ_INT(r->webhooks[0].max_alerts, 0);
    ASSERT_TRUE(r->webhooks[0].http.follow_redirects);
    receiver_free(&r);
    dw_diags_release(&d);
}

/* ---- direct messages (dw_notifier_enqueue): outbox, dedup, fallback, breaker ---- */

/* A notifier whose notify section points every provider at the fixture's server. */
static struct dw_notifier *direct_notifier_max(struct fixture *f, int failures, int64_t open_ms,
                                               int64_t max_ms);

static struct dw_notifier *direct_notifier(struct fixture *f, int failures, int64_t open_ms)
{
    return direct_notifier_max(f, failures, open_ms, 80);
}

static struct dw_notifier *direct_notifier_max(struct fixture *f, int failures, int64_t open_ms,
                                               int64_t max_ms)
{
    char *sec = dw_asprintf(
        "notify:\n"
        "  slack: {api_url: 'http://127.0.0.1:%d/slack'}\n"
        "  sms: {api_url: 'http://127.0.0.1:%d', account_sid: AC0123456789abcdef0123456789abcdef,"
        " auth_token: tok, from: '+15550000001'}\n"
        "  voice: {api_url: 'http://127.0.0.1:%d', account_sid: AC0123456789abcdef0123456789abcdef,"
        " auth_token: tok, from: '+15550000001'}\n",
        f->srv->port, f->srv->port, f->srv->port);
    struct dw_config *cfg = config_with(sec);
    free(sec);
    struct dw_notifier_options o = {.alerter = f->a,
                                    .store = f->store,
                                    .config = cfg,
                                    .consumer = "direct",
                                    .backoff_base_ms = 20,
                                    .backoff_max_ms = max_ms,
                                    .breaker_failures = failures,
                                    .breaker_open_ms = open_ms};
    struct dw_notifier *n = dw_notifier_new(&o);
    dw_config_unref(&cfg);
    ASSERT_NOT_NULL(n);
    ASSERT_EQ_INT(dw_notifier_start(n), 0);
    return n;
}

static const char page_payload[] =
    "{\"version\":\"4\",\"groupKey\":\"{}:{alertname=\\\"ApiDown\\\"}\",\"status\":\"firing\","
    "\"receiver\":\"critical\",\"groupLabels\":{\"alertname\":\"ApiDown\"},"
    "\"commonLabels\":{\"alertname\":\"ApiDown\",\"priority\":\"P0\"},"
    "\"commonAnnotations\":{\"summary\":\"the API is down\"},\"externalURL\":\"http://dw\","
    "\"truncatedAlerts\":0,\"kind\":\"fired\",\"priority\":\"P0\",\"alerts\":[{\"status\":"
    "\"firing\",\"labels\":{\"alertname\":\"ApiDown\"},\"annotations\":{},\"startsAt\":"
    "\"2026-03-02T10:00:00Z\",\"endsAt\":\"0001-01-01T00:00:00Z\",\"generatorURL\":\"http://dw/g\","
    "\"fingerprint\":\"0123456789abcdef\"}],\"page\":{\"id\":\"PG-1\",\"ack_url\":\"http://dw/"
    "a\"}}";

static void direct_open(struct fixture *f, int failures, int64_t open_ms)
{
    fx_open(f, "unused", NULL, 20);
    dw_notifier_free(&f->n);
    f->n = direct_notifier(f, failures, open_ms);
}

static void enqueue_ok(struct fixture *f, const char *key, const char *kind, const char *to,
                       const char *fallback)
{
    struct dw_notification msg = {.dedup_key = key,
                                  .kind = kind,
                                  .to = to,
                                  .payload = page_payload,
                                  .person = "primary-engineer",
                                  .fallback_kind = fallback,
                                  .fallback_to = fallback ? to : NULL};
    char *err = NULL;
    int64_t id = 0;
    int rc = dw_notifier_enqueue(f->n, &msg, &id, &err);
    if (rc)
        fprintf(stderr, "  enqueue: %s\n", err);
    free(err);
    ASSERT_EQ_INT(rc, 0);
    ASSERT_TRUE(id > 0);
}

TEST(enqueued_message_is_delivered_once_per_dedup_key)
{
    struct fixture f = {0};
    direct_open(&f, 5, 1000);
    enqueue_ok(&f, "pg:PG-1:s0:slack", "slack", "#incidents", NULL);
    enqueue_ok(&f, "pg:PG-1:s0:slack", "slack", "#incidents", NULL); /* the same key: no-op */
    ASSERT_TRUE(wait_finished(&f, 1, 3000));
    usleep(100000);
    ASSERT_EQ_INT(http_server_count(f.srv), 1);
    ASSERT_CONTAINS(f.srv->reqs[0].head, "POST /slack ");
    ASSERT_CONTAINS(f.srv->reqs[0].body, "\"channel\":\"#incidents\"");
    char *err = NULL;
    json_t *rows = dw_notifier_outbox_json(f.store, NULL, "pg:PG-1", 10, true, &err);
    ASSERT_EQ_INT(json_array_size(rows), 1);
    json_t *row = json_array_get(rows, 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(row, "state")), "delivered");
    ASSERT_EQ_STR(json_string_value(json_object_get(row, "person")), "primary-engineer");
    ASSERT_EQ_INT(json_array_size(json_object_get(row, "attemptLog")), 1);
    json_decref(rows);
    struct dw_notification bad = {.dedup_key = "x", .kind = "pigeon", .payload = "{}"};
    ASSERT_EQ_INT(dw_notifier_enqueue(f.n, &bad, NULL, &err), -1);
    ASSERT_CONTAINS(err, "unknown channel kind");
    free(err);
    char longkey[600];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    struct dw_notification toolong = {.dedup_key = longkey, .kind = "slack", .payload = "{}"};
    ASSERT_EQ_INT(dw_notifier_enqueue(f.n, &toolong, NULL, &err), -1);
    ASSERT_CONTAINS(err, "dedup key of 1 to 512 bytes");
    free(err);
    bad.kind = "email"; /* no email provider configured */
    ASSERT_EQ_INT(dw_notifier_enqueue(f.n, &bad, NULL, &err), -1);
    ASSERT_CONTAINS(err, "no email channel");
    free(err);
    fx_close(&f);
}

TEST(every_attempt_is_recorded_and_survives_a_restart)
{
    struct fixture f = {0};
    direct_open(&f, 50, 1000);
    http_server_default(f.srv, (struct http_answer){.status = 503});
    enqueue_ok(&f, "pg:PG-2:sms", "sms", "+15550100", NULL);
    ASSERT_TRUE(wait_requests(f.srv, 3, 5000));
    dw_notifier_free(&f.n); /* as if killed */
    ASSERT_EQ_INT(outbox_rows(&f, "pending"), 1);
    http_server_default(f.srv, (struct http_answer){.status = 201});
    f.n = direct_notifier(&f, 50, 1000);
    ASSERT_TRUE(wait_finished(&f, 1, 5000));
    ASSERT_TRUE(wait_rows(&f, "delivered", 1));
    char *err = NULL;
    json_t *rows = dw_notifier_outbox_json(f.store, "delivered", "pg:PG-2", 10, true, &err);
    ASSERT_EQ_INT(json_array_size(rows), 1);
    json_t *log = json_object_get(json_array_get(rows, 0), "attemptLog");
    size_t n = json_array_size(log);
    /* at least two failures answered before the stop (the third may have been in flight,
       abandoned, and not recorded) and the success after it */
    ASSERT_TRUE(n >= 3);
    ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(log, 0), "result")),
                  "server_error");
    ASSERT_EQ_INT(json_integer_value(json_object_get(json_array_get(log, 0), "status")), 503);
    ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(log, n - 1), "result")),
                  "success");
    ASSERT_CONTAINS(f.srv->reqs[0].head, "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef"
                                         "/Messages.json");
    json_decref(rows);
    fx_close(&f);
}

TEST(a_call_that_cannot_be_placed_falls_back_to_sms)
{
    struct fixture f = {0};
    direct_open(&f, 5, 1000);
    http_server_script(f.srv, (struct http_answer[]){{.status = 400}}, 1);
    http_server_default(f.srv, (struct http_answer){.status = 201});
    enqueue_ok(&f, "pg:PG-3:voice", "voice", "+15550100", "sms");
    ASSERT_TRUE(wait_requests(f.srv, 2, 3000));
    ASSERT_CONTAINS(f.srv->reqs[0].head, "/Calls.json");
    ASSERT_CONTAINS(f.srv->reqs[1].head, "/Messages.json");
    ASSERT_CONTAINS(f.srv->reqs[1].body, "To=%2B15550100");
    ASSERT_TRUE(wait_finished(&f, 2, 3000));
    struct dw_notifier_stats st = stats(&f);
    ASSERT_EQ_INT(st.fallbacks, 1);
    ASSERT_EQ_INT(st.given_up, 1);
    ASSERT_EQ_INT(st.delivered, 1);
    ASSERT_TRUE(wait_rows(&f, "given_up", 1));
    fx_close(&f);
}

TEST(circuit_breaker_opens_after_failures_and_probes_once)
{
    struct fixture f = {0};
    direct_open(&f, 2, 400);
    http_server_default(f.srv, (struct http_answer){.status = 503});
    enqueue_ok(&f, "pg:PG-4:a", "slack", "#incidents", NULL);
    enqueue_ok(&f, "pg:PG-4:b", "slack", "#engineering", NULL);
    ASSERT_TRUE(wait_requests(f.srv, 2, 3000));
    usleep(250000); /* open: backoff alone (20-80 ms) would have retried several times */
    ASSERT_EQ_INT(http_server_count(f.srv), 2);
    ASSERT_TRUE(stats(&f).breaker_skips > 0);
    ASSERT_EQ_INT(metric("dojowatch_notify_circuit_open{channel=\"direct/slack\"}"), 1);
    http_server_default(f.srv, (struct http_answer){.status = 200});
    ASSERT_TRUE(wait_finished(&f, 2, 5000));
    ASSERT_EQ_INT(http_server_count(f.srv), 4); /* one probe, then the other */
    int64_t gap = gap_ms(f.srv, 2);
    ASSERT_TRUE(gap >= 300); /* the probe waited for the open period */
    ASSERT_EQ_INT(metric("dojowatch_notify_circuit_open{channel=\"direct/slack\"}"), 0);
    fx_close(&f);
}

TEST(a_channel_that_mostly_works_keeps_retries_short)
{
    struct fixture f = {0};
    fx_open(&f, "unused", NULL, 20);
    dw_notifier_free(&f.n);
    f.n = direct_notifier_max(&f, 50, 1000, 60000);
    for (int i = 0; i < 12; i++) { /* the channel answers: it is up */
        char key[32];
        snprintf(key, sizeof key, "pg:warm:%d", i);
        enqueue_ok(&f, key, "slack", "#incidents", NULL);
    }
    ASSERT_TRUE(wait_finished(&f, 12, 5000));
    size_t before = http_server_count(f.srv);
    http_server_default(f.srv, (struct http_answer){.status = 503});
    enqueue_ok(&f, "pg:flaky", "slack", "#incidents", NULL);
    ASSERT_TRUE(wait_requests(f.srv, before + 8, 10000)); /* eight failures in a row */
    http_server_default(f.srv, (struct http_answer){.status = 200});
    ASSERT_TRUE(wait_finished(&f, 13, 10000));
    ASSERT_EQ_INT(http_server_count(f.srv), before + 9);
    /* attempt 9 after 8 failures would wait 20 ms * 2^7 = 1.28-2.56 s on a dead channel;
       here the exponent stops at 3: at most 80 ms (plus scheduling) */
    ASSERT_TRUE(gap_ms(f.srv, before + 8) < 1000);
    fx_close(&f);
}

/* Appends each row's first column and a newline to *(char **)ctx. */
static int collect_text(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    char **out = ctx;
    char *next = dw_asprintf("%s%.*s\n", *out ? *out : "", (int)c[0].n, c[0].s);
    free(*out);
    *out = next;
    return 0;
}

/* ---- threads: Slack's Web API remembers each thread's first message in the store ---- */

static struct dw_notifier *web_api_notifier(struct fixture *f)
{
    char *sec = dw_asprintf("notify:\n"
                            "  slack: {app_token: xoxb-t0k3n, channel: '#incidents',"
                            " app_url: 'http://127.0.0.1:%d/api/chat.postMessage'}\n",
                            f->srv->port);
    struct dw_config *cfg = config_with(sec);
    free(sec);
    struct dw_notifier_options o = {.alerter = f->a,
                                    .store = f->store,
                                    .config = cfg,
                                    .consumer = "direct",
                                    .backoff_base_ms = 20,
                                    .backoff_max_ms = 80};
    struct dw_notifier *n = dw_notifier_new(&o);
    dw_config_unref(&cfg);
    ASSERT_NOT_NULL(n);
    ASSERT_EQ_INT(dw_notifier_start(n), 0);
    return n;
}

static void enqueue_message(struct fixture *f, const char *key, const char *thread,
                            const char *title)
{
    char *payload = dw_asprintf("{\"message\":{\"title\":\"%s\",\"text\":\"t\",\"thread\":\"%s\"}}",
                                title, thread);
    struct dw_notification msg = {
        .dedup_key = key, .kind = "slack", .payload = payload, .order_key = thread};
    char *err = NULL;
    int rc = dw_notifier_enqueue(f->n, &msg, NULL, &err);
    if (rc)
        fprintf(stderr, "  enqueue: %s\n", err);
    free(err);
    free(payload);
    ASSERT_EQ_INT(rc, 0);
}

static json_t *sent_body(struct fixture *f, size_t i)
{
    pthread_mutex_lock(&f->srv->mu);
    json_t *o = json_loads(f->srv->reqs[i].body, 0, NULL);
    pthread_mutex_unlock(&f->srv->mu);
    return o;
}

#define OK_TS(ts)                                                                                  \
    {                                                                                              \
        200, "Content-Type: application/json\r\n",                                                 \
            "{\"ok\":true,\"channel\":\"C0INC\",\"ts\":\"" ts "\"}", 0                             \
    }

TEST(slack_web_api_threads_an_incidents_messages_across_a_restart)
{
    struct fixture f = {0};
    fx_open(&f, "unused", NULL, 20);
    dw_notifier_free(&f.n);
    const struct http_answer answers[] = {
        {200, NULL, "{\"ok\":false,\"error\":\"channel_not_found\"}", 0}, /* INC-0's root */
        OK_TS("1700000000.000001"), /* INC-0's second: now its root */
        OK_TS("1700000000.000100"), /* INC-1's first: the root */
        OK_TS("1700000000.000200"), /* INC-1's second */
        OK_TS("1700000000.000300"), /* INC-1's third, after the restart */
    };
    http_server_script(f.srv, answers, DW_ARRAY_LEN(answers));
    f.n = web_api_notifier(&f);
    enqueue_message(&f, "inc:INC-0:1", "INC-0", "given up");
    ASSERT_TRUE(wait_finished(&f, 1, 3000));
    enqueue_message(&f, "inc:INC-0:2", "INC-0", "top level");
    ASSERT_TRUE(wait_finished(&f, 2, 3000));
    enqueue_message(&f, "inc:INC-1:1", "INC-1", "opened");
    enqueue_message(&f, "inc:INC-1:2", "INC-1", "update");
    ASSERT_TRUE(wait_finished(&f, 4, 3000));
    dw_notifier_free(&f.n); /* the root is in the store, not only in memory */
    f.n = web_api_notifier(&f);
    enqueue_message(&f, "inc:INC-1:3", "INC-1", "resolved");
    ASSERT_TRUE(wait_finished(&f, 1, 3000));
    ASSERT_EQ_INT(http_server_count(f.srv), 5);
    ASSERT_CONTAINS(f.srv->reqs[0].head, "Authorization: Bearer xoxb-t0k3n\r\n");
    const struct {
        const char *title, *channel, *thread_ts;
    } want[] = {
        {"given up", "#incidents", NULL},
        {"top level", "#incidents", NULL}, /* the root was given up: no thread */
        {"opened", "#incidents", NULL},
        {"update", "C0INC", "1700000000.000100"},
        {"resolved", "C0INC", "1700000000.000100"},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(want); i++) {
        json_t *o = sent_body(&f, i);
        json_t *header = json_array_get(json_object_get(o, "blocks"), 0);
        ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(header, "text"), "text")),
                      want[i].title);
        ASSERT_EQ_STR(json_string_value(json_object_get(o, "channel")), want[i].channel);
        const char *ts = json_string_value(json_object_get(o, "thread_ts"));
        if (want[i].thread_ts)
            ASSERT_EQ_STR(ts, want[i].thread_ts);
        else
            ASSERT_NULL(ts);
        json_decref(o);
    }
    char *err = NULL;
    json_t *rows = dw_notifier_outbox_json(f.store, NULL, "inc:INC-0:1", 1, false, &err);
    json_t *row = json_array_get(rows, 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(row, "state")), "given_up");
    ASSERT_CONTAINS(json_string_value(json_object_get(row, "lastDetail")), "channel_not_found");
    json_decref(rows);
    /* the table: one root per thread and destination, the secret nowhere in the store */
    char *stored = NULL;
    ASSERT_EQ_INT(dw_store_exec(f.store,
                                "SELECT thread_key || ' ' || destination || ' ' || channel_id ||"
                                " ' ' || ts FROM notify_threads ORDER BY thread_key",
                                NULL, 0, collect_text, &stored, &err),
                  0);
    ASSERT_EQ_STR(stored, "message:INC-0 #incidents C0INC 1700000000.000001\n"
                          "message:INC-1 #incidents C0INC 1700000000.000100\n");
    free(stored);
    stored = NULL;
    ASSERT_EQ_INT(dw_store_exec(f.store, "SELECT body FROM notify_outbox", NULL, 0, collect_text,
                                &stored, &err),
                  0);
    ASSERT_NOT_CONTAINS(stored, "xoxb-t0k3n");
    free(stored);
    fx_close(&f);
}

TEST_MAIN()
