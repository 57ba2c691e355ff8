/*
 * test_notify_channels.c - the Slack, e-mail, Twilio (SMS, voice) and
 * PagerDuty channels on their own: render from a realistic alerter payload
 * (with and without an on-call page) checked field by field, one request
 * against a loopback receiver in a thread (HTTP, or a scripted SMTP
 * responder) for success and each class of error with the outcome checked,
 * the configuration's diagnostics with their positions, the providers of
 * the notify section, and the Twilio signature check against a vector
 * computed with Python's hmac module.
 */
#include <jansson.h>

#include "harness.h"
#include "notify/notify_internal.h"
#include "testutil.h"
#include "testutil_http.h"

/* ---- the message ---- */

#define GROUP_KEY "{}:{alertname=\"HighLatency\", service=\"api\"}"
/* hashlib.sha256(GROUP_KEY).hexdigest(), computed with Python */
#define GROUP_KEY_SHA256 "deda70f55164ba863aca7d662fab561431da6dc19b53383ac50ea7899d87e430"
#define SUMMARY "p99 latency above 2s <&>"
#define GEN_URL "http://dw.example:9107/graph?g0.expr=latency"
#define SILENCE_URL                                                                                \
    "http://dw.example:9107/#/silences/new?filter="                                                \
    "%7Balertname%3D%22HighLatency%22%2C%20service%3D%22api%22%7D"
#define ACK_URL "https://dw.example/p/ack?t=AAA"
#define RESOLVE_URL "https://dw.example/p/resolve?t=BBB"
#define VOICE_URL "https://dw.example/p/voice?t=CCC&x=1"

struct msg_opts {
    const char *kind;     /* fired, changed, repeat, resolved, acknowledged */
    const char *priority; /* NULL: null */
    bool resolved;        /* every alert resolved */
    bool page;            /* add the on-call page */
    const char *summary;  /* NULL: SUMMARY */
    size_t nalerts;       /* 0: 2 */
};

static json_t *alert_json(size_t i, bool resolved)
{
    char inst[32], start[40];
    snprintf(inst, sizeof inst, "api-%zu", i + 1);
    snprintf(start, sizeof start, "2026-03-02T10:%02zu:%02zuZ", (i + 1) % 60, (i * 30) % 60);
    return json_pack("{s:s,s:{s:s,s:s,s:s,s:s},s:{s:s,s:s},s:s,s:s,s:s,s:s}", "status",
                     resolved ? "resolved" : "firing", "labels", "alertname", "HighLatency",
                     "service", "api", "env", "prod", "instance", inst, "annotations", "summary",
                     SUMMARY, "description", "latency is high", "startsAt", start, "endsAt",
                     resolved ? "2026-03-02T11:00:00Z" : "0001-01-01T00:00:00Z", "generatorURL",
                     GEN_URL, "fingerprint", "a1b2c3");
}

static char *message(struct msg_opts o)
{
    json_t *alerts = json_array();
    size_t n = o.nalerts ? o.nalerts : 2;
    for (size_t i = 0; i < n; i++)
        json_array_append_new(alerts, alert_json(i, o.resolved));
    json_t *doc = json_pack(
        "{s:s,s:s,s:o,s:{s:s,s:s},s:{s:s,s:s,s:s},s:{s:s},s:s,s:s,s:s,s:i,s:s}", "receiver",
        "pager", "status", o.resolved ? "resolved" : "firing", "alerts", alerts, "groupLabels",
        "alertname", "HighLatency", "service", "api", "commonLabels", "alertname", "HighLatency",
        "service", "api", "env", "prod", "commonAnnotations", "summary",
        o.summary ? o.summary : SUMMARY, "externalURL", "http://dw.example:9107", "version", "4",
        "groupKey", GROUP_KEY, "truncatedAlerts", 0, "kind", o.kind ? o.kind : "fired");
    json_object_set_new(doc, "priority", o.priority ? json_string(o.priority) : json_null());
    if (o.page)
        json_object_set_new(doc, "page",
                            json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:i}", "id", "pg-7", "step", 1,
                                      "recipient", "alice", "recipient_name", "Alice", "ack_url",
                                      ACK_URL, "resolve_url", RESOLVE_URL, "voice_url", VOICE_URL,
                                      "bundled", 1));
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return s;
}

static char *render(const struct channel *ch, const void *conf, struct msg_opts o)
{
    char *payload = message(o);
    const char *skip = NULL;
    char *body = ch->render(conf, payload, &skip);
    free(payload);
    return body;
}

/* ---- one transfer ---- */

struct sent {
    struct outcome o;
    int request_rc;
    char *err;
};

static struct sent send_one(const struct channel *ch, const void *conf, const char *to,
                            const char *body)
{
    struct sent s = {0};
    struct attempt at = {.easy = curl_easy_init()};
    s.request_rc = ch->request(conf, to, body, &at, &s.err);
    if (s.request_rc == 0)
        ch->outcome(at.easy, curl_easy_perform(at.easy), &at, &s.o);
    attempt_release(&at);
    return s;
}

/* A port nothing listens on. */
static int closed_port(void)
{
    int port;
    int fd = listen_loopback(&port);
    close(fd);
    return port;
}

static void assert_outcome(struct sent s, enum outcome_action action, const char *result)
{
    ASSERT_EQ_INT(s.request_rc, 0);
    ASSERT_EQ_INT(s.o.action, action);
    ASSERT_EQ_STR(s.o.result, result);
}

/* An answer of the receiver and the outcome the channel must draw from it. */
struct answer_case {
    struct http_answer a;
    enum outcome_action action;
    const char *result, *detail;
    int64_t retry_ms;
};

/* Sends body once per case, srv answering as the case says; the outcome must match the case
 * and its detail must not show secret. */
static void assert_answers(struct http_server *srv, const struct channel *ch, const void *conf,
                           const char *body, const struct answer_case *cases, size_t n,
                           const char *secret)
{
    for (size_t i = 0; i < n; i++) {
        http_server_default(srv, cases[i].a);
        struct sent s = send_one(ch, conf, NULL, body);
        assert_outcome(s, cases[i].action, cases[i].result);
        ASSERT_CONTAINS(s.o.detail, cases[i].detail);
        ASSERT_EQ_INT(s.o.retry_after_ms, cases[i].retry_ms);
        ASSERT_NOT_CONTAINS(s.o.detail, secret);
    }
}

/* A resolved group, which conf (send_resolved: false) must skip; the reason given. */
static const char *skip_of_resolved(const struct channel *ch, const void *conf)
{
    char *payload = message((struct msg_opts){.kind = "resolved", .resolved = true});
    const char *skip = NULL;
    ASSERT_NULL(ch->render(conf, payload, &skip));
    free(payload);
    return skip;
}

/* n copies of c, NUL-terminated. Caller frees. */
static char *repeated(char c, size_t n)
{
    char *s = dw_malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ---- Slack ---- */

static json_t *block_of_type(json_t *body, const char *type, size_t nth)
{
    json_t *blocks = json_object_get(body, "blocks"), *b;
    size_t i;
    json_array_foreach(blocks, i, b)
    {
        const char *t = json_string_value(json_object_get(b, "type"));
        if (t && strcmp(t, type) == 0 && nth-- == 0)
            return b;
    }
    return NULL;
}

static const char *text_of(json_t *o)
{
    return json_string_value(json_object_get(json_object_get(o, "text"), "text"));
}

/* The url of the button with this action_id, NULL when absent. */
static const char *button_url(json_t *body, const char *id)
{
    json_t *el = json_object_get(block_of_type(body, "actions", 0), "elements"), *b;
    size_t i;
    json_array_foreach(el, i, b)
    {
        if (strcmp(json_string_value(json_object_get(b, "action_id")), id) == 0)
            return json_string_value(json_object_get(b, "url"));
    }
    return NULL;
}

static bool has_field(json_t *block, const char *text)
{
    json_t *fields = json_object_get(block, "fields"), *f;
    size_t i;
    json_array_foreach(fields, i, f)
    {
        if (strcmp(json_string_value(json_object_get(f, "text")), text) == 0)
            return true;
    }
    return false;
}

static struct y_slack slack_conf(void)
{
    return (struct y_slack){.api_url = "http://127.0.0.1:1/hook",
                            .channel = "#alerts",
                            .username = "dojowatch",
                            .icon_emoji = ":rotating_light:",
                            .timeout_ms = 2000,
                            .send_resolved = true};
}

TEST(slack_render_has_the_documented_fields)
{
    struct y_slack c = slack_conf();
    char *body = render(&slack_channel, &c, (struct msg_opts){.priority = "P0", .page = true});
    json_t *o = json_loads(body, 0, NULL);
    ASSERT_NOT_NULL(o);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "channel")), "#alerts");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "username")), "dojowatch");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "icon_emoji")), ":rotating_light:");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "text")),
                  "[FIRING:2] HighLatency api (prod): p99 latency above 2s &lt;&amp;&gt;");
    ASSERT_EQ_STR(text_of(block_of_type(o, "header", 0)), "[FIRING:2] HighLatency api (prod)");
    json_t *summary = block_of_type(o, "section", 0);
    ASSERT_EQ_STR(text_of(summary), "*p99 latency above 2s &lt;&amp;&gt;*");
    ASSERT_TRUE(has_field(summary, "*Priority*\nP0"));
    ASSERT_TRUE(has_field(summary, "*Status*\nfiring (2 firing, 0 resolved), fired"));
    json_t *labels = block_of_type(o, "section", 1);
    ASSERT_TRUE(has_field(labels, "*service*\napi"));
    ASSERT_TRUE(has_field(labels, "*env*\nprod"));
    ASSERT_FALSE(has_field(labels, "*alertname*\nHighLatency"));
    json_t *ctx = json_array_get(json_object_get(block_of_type(o, "context", 0), "elements"), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(ctx, "text")), "Started 2026-03-02T10:01:00Z");
    ASSERT_EQ_STR(button_url(o, "dashboard"), GEN_URL);
    ASSERT_EQ_STR(button_url(o, "silence"), SILENCE_URL);
    ASSERT_EQ_STR(button_url(o, "acknowledge"), ACK_URL);
    ASSERT_EQ_STR(button_url(o, "resolve"), RESOLVE_URL);
    json_t *att = json_array_get(json_object_get(o, "attachments"), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(att, "color")), "#d00000");
    ASSERT_CONTAINS(json_string_value(json_object_get(att, "text")),
                    "HighLatency env=prod instance=api-1 service=api - p99 latency above 2s "
                    "&lt;&amp;&gt;");
    ASSERT_NULL(json_object_get(o, "api_url")); /* the secret URL is not in the body */
    ASSERT_NOT_CONTAINS(body, "127.0.0.1:1");
    json_decref(o);
    free(body);
}

TEST(slack_without_page_colours_and_resolved)
{
    struct y_slack c = slack_conf();
    char *body = render(&slack_channel, &c, (struct msg_opts){.priority = "P1"});
    json_t *o = json_loads(body, 0, NULL);
    ASSERT_NOT_NULL(button_url(o, "dashboard"));
    ASSERT_NULL(button_url(o, "acknowledge"));
    ASSERT_NULL(button_url(o, "resolve"));
    json_t *att = json_array_get(json_object_get(o, "attachments"), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(att, "color")), "#ff9900");
    json_decref(o);
    free(body);
    body = render(&slack_channel, &c,
                  (struct msg_opts){.kind = "resolved", .priority = "P0", .resolved = true});
    o = json_loads(body, 0, NULL);
    ASSERT_EQ_STR(text_of(block_of_type(o, "header", 0)), "[RESOLVED] HighLatency api (prod)");
    att = json_array_get(json_object_get(o, "attachments"), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(att, "color")), "#2eb67d");
    json_decref(o);
    free(body);
    c.send_resolved = false; /* Alertmanager's default for Slack */
    ASSERT_CONTAINS(skip_of_resolved(&slack_channel, &c), "send_resolved");
    c.color = "#123456";
    body = render(&slack_channel, &c, (struct msg_opts){.priority = "P2"});
    ASSERT_CONTAINS(body, "\"color\":\"#123456\"");
    free(body);
}

TEST(slack_body_is_bounded)
{
    struct y_slack c = slack_conf();
    char *huge = repeated('x', 200000);
    char *body = render(&slack_channel, &c, (struct msg_opts){.summary = huge, .nalerts = 500});
    ASSERT_NOT_NULL(body);
    ASSERT_TRUE(strlen(body) <= BODY_MAX);
    json_t *o = json_loads(body, 0, NULL);
    ASSERT_NOT_NULL(o);
    ASSERT_TRUE(strlen(text_of(block_of_type(o, "section", 0))) <= 3000 * 4);
    ASSERT_CONTAINS(json_string_value(json_object_get(
                        json_array_get(json_object_get(o, "attachments"), 0), "text")),
                    "... and 480 more");
    json_decref(o);
    free(body);
    free(huge);
}

static struct y_slack slack_at(int port)
{
    struct y_slack c = slack_conf();
    c.api_url = dw_asprintf("http://127.0.0.1:%d/services/T0/B0/secret", port);
    c.timeout_ms = 400;
    return c;
}

TEST(slack_request_delivers_and_overrides_the_channel)
{
    struct http_server *srv = http_server_start();
    struct y_slack c = slack_at(srv->port);
    char *body = render(&slack_channel, &c, (struct msg_opts){.priority = "P0"});
    struct sent s = send_one(&slack_channel, &c, "@alice", body);
    assert_outcome(s, OUT_DELIVERED, "success");
    ASSERT_EQ_INT(s.o.status, 200);
    ASSERT_EQ_INT(http_server_count(srv), 1);
    ASSERT_CONTAINS(srv->reqs[0].head, "POST /services/T0/B0/secret HTTP/1.1\r\n");
    ASSERT_CONTAINS(srv->reqs[0].head, "Content-Type: application/json\r\n");
    json_t *got = json_loads(srv->reqs[0].body, 0, NULL);
    ASSERT_EQ_STR(json_string_value(json_object_get(got, "channel")), "@alice");
    ASSERT_NOT_NULL(json_object_get(got, "blocks"));
    json_decref(got);
    s = send_one(&slack_channel, &c, NULL, body);
    assert_outcome(s, OUT_DELIVERED, "success");
    got = json_loads(srv->reqs[1].body, 0, NULL);
    ASSERT_EQ_STR(json_string_value(json_object_get(got, "channel")), "#alerts");
    json_decref(got);
    free(body);
    free(c.api_url);
    http_server_stop(&srv);
}

TEST(slack_outcomes_by_answer)
{
    struct http_server *srv = http_server_start();
    struct y_slack c = slack_at(srv->port);
    const struct answer_case cases[] = {
        {{429, "Retry-After: 7\r\n", "rate_limited", 0}, OUT_RETRY, "rate_limited", "429", 7000},
        {{400, NULL, "invalid_payload", 0}, OUT_GIVE_UP, "client_error", "invalid_payload", -1},
        {{400, NULL, "no_text", 0}, OUT_GIVE_UP, "client_error", "no_text", -1},
        {{403, NULL, "action_prohibited", 0}, OUT_GIVE_UP, "client_error", "action_prohibited", -1},
        {{404, NULL, "channel_not_found", 0}, OUT_GIVE_UP, "client_error", "channel_not_found", -1},
        {{410, NULL, "channel_is_archived", 0},
         OUT_GIVE_UP,
         "client_error",
         "channel_is_archived",
         -1},
        {{500, NULL, "rollup_error", 0}, OUT_RETRY, "server_error", "500", -1},
        {{200, NULL, "ok", 1500}, OUT_RETRY, "timeout", "", -1},
    };
    char *body = render(&slack_channel, &c, (struct msg_opts){.priority = "P0"});
    assert_answers(srv, &slack_channel, &c, body, cases, DW_ARRAY_LEN(cases), "secret");
    free(c.api_url);
    c.api_url = dw_asprintf("http://127.0.0.1:%d/hook", closed_port());
    struct sent s = send_one(&slack_channel, &c, NULL, body);
    assert_outcome(s, OUT_RETRY, "connection_error");
    free(c.api_url);
    free(body);
    http_server_stop(&srv);
}

TEST(slack_api_url_file_is_read_at_each_request)
{
    struct http_server *srv = http_server_start();
    char *dir = tmpdir_new();
    char *url = dw_asprintf("http://127.0.0.1:%d/from-file\n", srv->port);
    char *path = write_file(dir, "hook", url);
    struct y_slack c = slack_conf();
    c.api_url = NULL;
    c.api_url_file = path;
    char *body = render(&slack_channel, &c, (struct msg_opts){0});
    assert_outcome(send_one(&slack_channel, &c, NULL, body), OUT_DELIVERED, "success");
    ASSERT_CONTAINS(srv->reqs[0].head, "POST /from-file ");
    c.api_url_file = "/nonexistent/hook";
    struct sent s = send_one(&slack_channel, &c, NULL, body);
    ASSERT_EQ_INT(s.request_rc, -1);
    ASSERT_CONTAINS(s.err, "/nonexistent/hook");
    free(s.err);
    free(body);
    free(path);
    free(url);
    rm_rf(dir);
    free(dir);
    http_server_stop(&srv);
}

/* ---- e-mail: parsing the message ---- */

/* The value of header `name` in the head (before the blank line); NULL when absent. Caller frees.
 */
static char *header(const char *msg, const char *name)
{
    const char *end = strstr(msg, "\r\n\r\n");
    size_t nl = strlen(name);
    for (const char *p = msg; p && p < end; p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            while (e && e[2] == ' ') /* folded */
                e = strstr(e + 2, "\r\n");
            return dw_strndup(v, (size_t)(e - v));
        }
    }
    return NULL;
}

/* Header name of msg is want. */
static void assert_header(const char *msg, const char *name, const char *want)
{
    char *v = header(msg, name);
    ASSERT_EQ_STR(v, want);
    free(v);
}

static void assert_crlf_and_short_lines(const char *msg)
{
    size_t col = 0;
    for (const char *p = msg; *p; p++) {
        if (*p == '\n') {
            ASSERT_TRUE(p > msg && p[-1] == '\r');
            col = 0;
        } else {
            col++;
            ASSERT_TRUE(col <= 998);
        }
    }
}

/* The decoded content of the MIME part of this type. Caller frees. */
static char *mime_part(const char *msg, const char *type)
{
    char *ct = header(msg, "Content-Type");
    ASSERT_CONTAINS(ct, "multipart/alternative; boundary=\"");
    char *b = strstr(ct, "boundary=\"") + 10;
    *strchr(b, '"') = '\0';
    char *delim = dw_asprintf("--%s\r\nContent-Type: %s; charset=utf-8\r\n", b, type);
    const char *part = strstr(msg, delim);
    ASSERT_NOT_NULL(part);
    const char *data = strstr(part, "\r\n\r\n") + 4;
    char *close = dw_asprintf("\r\n--%s", b);
    const char *end = strstr(data, close);
    ASSERT_NOT_NULL(end);
    struct dw_buf enc;
    dw_buf_init(&enc, 0);
    for (const char *p = data; p < end; p++)
        if (*p != '\r' && *p != '\n')
            dw_buf_putc(&enc, *p);
    char *out = dw_calloc(1, enc.len + 1);
    ASSERT_TRUE(dw_base64_decode(enc.data, false, out, enc.len) > 0);
    dw_buf_release(&enc);
    free(close);
    free(delim);
    free(ct);
    return out;
}

static struct y_email email_conf(int port)
{
    return (struct y_email){.to = "oncall@dojopool.example",
                            .from = "Dojowatch <dojowatch@dojopool.example>",
                            .smarthost = dw_asprintf("127.0.0.1:%d", port),
                            .hello = "dw.local",
                            .require_tls = false,
                            .send_resolved = true,
                            .timeout_ms = 2000};
}

TEST(email_render_is_a_threaded_multipart_message)
{
    struct y_email c = email_conf(25);
    char *fired = render(&email_channel, &c, (struct msg_opts){.priority = "P0", .page = true});
    assert_crlf_and_short_lines(fired);
    assert_header(fired, "From", "Dojowatch <dojowatch@dojopool.example>");
    assert_header(fired, "Subject", "[FIRING:2] HighLatency api (prod)");
    ASSERT_NULL(header(fired, "To")); /* request adds it */
    char *v = header(fired, "Date");
    ASSERT_TRUE(strlen(v) == 31 && v[3] == ',' && strcmp(v + 25, " +0000") == 0);
    free(v);
    char *root = header(fired, "Message-ID");
    ASSERT_TRUE(root[0] == '<' && dw_str_has_suffix(root, "@dojopool.example>"));
    ASSERT_NULL(header(fired, "In-Reply-To"));
    assert_header(fired, "MIME-Version", "1.0");
    char *text = mime_part(fired, "text/plain");
    ASSERT_CONTAINS(text, "[FIRING:2] HighLatency api (prod)\n\n" SUMMARY "\n");
    ASSERT_CONTAINS(text, "Priority: P0. Status: firing (2 firing, 0 resolved).");
    ASSERT_CONTAINS(text, "- [firing] HighLatency env=prod instance=api-1 service=api - " SUMMARY);
    ASSERT_CONTAINS(text, "Dashboard: " GEN_URL "\n");
    ASSERT_CONTAINS(text, "Silence: " SILENCE_URL "\n");
    ASSERT_CONTAINS(text, "Acknowledge: " ACK_URL "\n");
    ASSERT_CONTAINS(text, "Resolve: " RESOLVE_URL "\n");
    free(text);
    char *html = mime_part(fired, "text/html");
    ASSERT_CONTAINS(html, "<b>p99 latency above 2s &lt;&amp;&gt;</b>");
    ASSERT_NOT_CONTAINS(html, SUMMARY);
    ASSERT_CONTAINS(html, "<a href=\"" ACK_URL "\">Acknowledge</a>");
    ASSERT_CONTAINS(html, "<a href=\"" GEN_URL "\">Dashboard</a>");
    free(html);
    /* the same episode rendered again: the same root */
    char *again = render(&email_channel, &c, (struct msg_opts){.priority = "P0"});
    assert_header(again, "Message-ID", root);
    free(again);
    char *resolved =
        render(&email_channel, &c, (struct msg_opts){.kind = "resolved", .resolved = true});
    assert_header(resolved, "Subject", "[RESOLVED] HighLatency api (prod)");
    char *id = header(resolved, "Message-ID");
    ASSERT_TRUE(strcmp(id, root) != 0);
    assert_header(resolved, "In-Reply-To", root);
    assert_header(resolved, "References", root);
    text = mime_part(resolved, "text/plain");
    ASSERT_NOT_CONTAINS(text, "Acknowledge:");
    free(text);
    free(id);
    free(resolved);
    free(root);
    free(fired);
    free(c.smarthost);
}

TEST(email_subject_header_and_non_ascii)
{
    struct y_email c = email_conf(25);
    struct dw_schema_pair h[] = {{"Subject", "Prod is slow"}, {"X-Team", "sre"}};
    c.headers = h;
    c.nheaders = 2;
    char *m = render(&email_channel, &c, (struct msg_opts){0});
    assert_header(m, "Subject", "Prod is slow");
    assert_header(m, "X-Team", "sre");
    free(m);
    c.nheaders = 0;
    m = render(&email_channel, &c, (struct msg_opts){.summary = "Latenz über 2s"});
    assert_crlf_and_short_lines(m);
    char *text = mime_part(m, "text/plain");
    ASSERT_CONTAINS(text, "Latenz über 2s");
    free(text);
    free(m);
    c.send_resolved = false;
    skip_of_resolved(&email_channel, &c);
    free(c.smarthost);
}

/* ---- e-mail: a scripted SMTP responder ---- */

struct smtp_server {
    int fd, port;
    pthread_t tid;
    atomic_bool stop;
    int rcpt_code, data_code, end_code, auth_code; /* 0: success */
    bool auth;                                     /* advertise AUTH PLAIN */
    char hello[64];
    struct dw_buf log; /* MAIL / RCPT lines */
    char *data;        /* the message as received */
};

/* One line (CRLF stripped) from c through buf; false at EOF. */
static bool smtp_line(int c, struct dw_buf *buf, char *out, size_t cap)
{
    for (;;) {
        char *nl = buf->len ? memchr(buf->data, '\n', buf->len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - buf->data) + 1;
            size_t k = n >= 2 && nl[-1] == '\r' ? n - 2 : n - 1;
            snprintf(out, cap, "%.*s", (int)k, buf->data);
            memmove(buf->data, buf->data + n, buf->len - n);
            buf->len -= n;
            return true;
        }
        char chunk[4096];
        ssize_t r = recv(c, chunk, sizeof chunk, 0);
        if (r <= 0)
            return false;
        dw_buf_append(buf, chunk, (size_t)r);
    }
}

static void say(int c, const char *text)
{
    send(c, text, strlen(text), MSG_NOSIGNAL);
}

static void say_code(int c, int code, int dflt, const char *text)
{
    char *line = dw_asprintf("%d %s\r\n", code ? code : dflt, code ? "no" : text);
    say(c, line);
    free(line);
}

static void smtp_data(struct smtp_server *s, int c, struct dw_buf *in)
{
    struct dw_buf d;
    dw_buf_init(&d, 0);
    char line[2048];
    while (smtp_line(c, in, line, sizeof line) && strcmp(line, ".") != 0)
        dw_buf_printf(&d, "%s\r\n", line);
    free(s->data);
    s->data = dw_buf_steal(&d);
    say_code(c, s->end_code, 250, "queued");
}

static void smtp_session(struct smtp_server *s, int c)
{
    struct dw_buf in;
    dw_buf_init(&in, 0);
    char line[2048];
    say(c, "220 test ESMTP\r\n");
    while (smtp_line(c, &in, line, sizeof line)) {
        if (strncasecmp(line, "EHLO ", 5) == 0) {
            snprintf(s->hello, sizeof s->hello, "%s", line + 5);
            say(c, s->auth ? "250-test\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n"
                           : "250-test\r\n250 8BITMIME\r\n");
        } else if (strncasecmp(line, "AUTH", 4) == 0) {
            say_code(c, s->auth_code, 235, "ok");
        } else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
            dw_buf_printf(&s->log, "%s\n", line);
            say(c, "250 ok\r\n");
        } else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
            dw_buf_printf(&s->log, "%s\n", line);
            say_code(c, s->rcpt_code, 250, "ok");
        } else if (strcasecmp(line, "DATA") == 0) {
            say_code(c, s->data_code, 354, "go ahead");
            if (!s->data_code)
                smtp_data(s, c, &in);
        } else if (strcasecmp(line, "QUIT") == 0) {
            say(c, "221 bye\r\n");
            break;
        } else {
            say(c, strncasecmp(line, "RSET", 4) == 0 ? "250 ok\r\n" : "502 no\r\n");
        }
    }
    dw_buf_release(&in);
}

static void *smtp_main(void *arg)
{
    struct smtp_server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int c = accept(s->fd, NULL, NULL);
        if (c >= 0) {
            smtp_session(s, c);
            close(c);
        }
    }
    return NULL;
}

static struct smtp_server *smtp_start(int rcpt, int data, int end, int auth)
{
    struct smtp_server *s = dw_calloc(1, sizeof *s);
    *s = (struct smtp_server){.rcpt_code = rcpt,
                              .data_code = data,
                              .end_code = end,
                              .auth_code = auth,
                              .auth = auth != 0};
    dw_buf_init(&s->log, 0);
    s->fd = listen_loopback(&s->port);
    pthread_create(&s->tid, NULL, smtp_main, s);
    return s;
}

static void smtp_stop(struct smtp_server **ps)
{
    struct smtp_server *s = *ps;
    atomic_store(&s->stop, true);
    pthread_join(s->tid, NULL);
    close(s->fd);
    dw_buf_release(&s->log);
    free(s->data);
    free(s);
    *ps = NULL;
}

TEST(email_is_delivered_over_smtp)
{
    struct smtp_server *srv = smtp_start(0, 0, 0, 0);
    struct y_email c = email_conf(srv->port);
    char *body = render(&email_channel, &c,
                        (struct msg_opts){.kind = "resolved", .resolved = true, .page = true});
    struct sent s =
        send_one(&email_channel, &c, "Alice <alice@dojopool.example>, bob@x.example", body);
    assert_outcome(s, OUT_DELIVERED, "success");
    ASSERT_EQ_INT(s.o.status, 250);
    ASSERT_EQ_STR(srv->hello, "dw.local");
    ASSERT_CONTAINS(srv->log.data, "MAIL FROM:<dojowatch@dojopool.example>");
    ASSERT_CONTAINS(srv->log.data, "RCPT TO:<alice@dojopool.example>\n");
    ASSERT_CONTAINS(srv->log.data, "RCPT TO:<bob@x.example>\n");
    ASSERT_NOT_CONTAINS(srv->log.data, "oncall@");
    ASSERT_NOT_NULL(srv->data);
    assert_header(srv->data, "To", "Alice <alice@dojopool.example>, bob@x.example");
    char *v = header(srv->data, "In-Reply-To");
    ASSERT_TRUE(v && dw_str_has_suffix(v, ".episode@dojopool.example>"));
    free(v);
    assert_header(srv->data, "Subject", "[RESOLVED] HighLatency api (prod)");
    char *text = mime_part(srv->data, "text/plain");
    ASSERT_CONTAINS(text, "- [resolved] HighLatency");
    free(text);
    char *html = mime_part(srv->data, "text/html");
    ASSERT_CONTAINS(html, "</html>");
    free(html);
    /* without a destination: the configured `to` */
    s = send_one(&email_channel, &c, NULL, body);
    assert_outcome(s, OUT_DELIVERED, "success");
    ASSERT_CONTAINS(srv->log.data, "RCPT TO:<oncall@dojopool.example>\n");
    free(body);
    free(c.smarthost);
    smtp_stop(&srv);
}

TEST(email_smtp_errors_are_classified)
{
    const struct {
        int rcpt, data, end, auth;
        enum outcome_action action;
        const char *result;
        long status;
    } cases[] = {
        {550, 0, 0, 0, OUT_GIVE_UP, "client_error", 550},
        {553, 0, 0, 0, OUT_GIVE_UP, "client_error", 553},
        {452, 0, 0, 0, OUT_RETRY, "server_error", 452},
        {0, 451, 0, 0, OUT_RETRY, "server_error", 451},
        {0, 554, 0, 0, OUT_GIVE_UP, "client_error", 554},
        {0, 0, 451, 0, OUT_RETRY, "server_error", 451},
        {0, 0, 0, 535, OUT_GIVE_UP, "client_error", 535},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(cases); i++) {
        struct smtp_server *srv =
            smtp_start(cases[i].rcpt, cases[i].data, cases[i].end, cases[i].auth);
        struct y_email c = email_conf(srv->port);
        if (cases[i].auth) {
            c.auth_username = "u";
            c.auth_password = "wrong";
        }
        char *body = render(&email_channel, &c, (struct msg_opts){0});
        struct sent s = send_one(&email_channel, &c, NULL, body);
        assert_outcome(s, cases[i].action, cases[i].result);
        ASSERT_EQ_INT(s.o.status, cases[i].status);
        ASSERT_NOT_CONTAINS(s.o.detail, "wrong");
        free(body);
        free(c.smarthost);
        smtp_stop(&srv);
    }
}

TEST(email_require_tls_and_connection_errors)
{
    struct smtp_server *srv = smtp_start(0, 0, 0, 0);
    struct y_email c = email_conf(srv->port);
    c.require_tls = true; /* the responder offers no STARTTLS */
    char *body = render(&email_channel, &c, (struct msg_opts){0});
    struct sent s = send_one(&email_channel, &c, NULL, body);
    assert_outcome(s, OUT_GIVE_UP, "error");
    ASSERT_NULL(srv->data);
    free(c.smarthost);
    smtp_stop(&srv);
    c.smarthost = dw_asprintf("127.0.0.1:%d", closed_port());
    c.require_tls = false;
    s = send_one(&email_channel, &c, NULL, body);
    assert_outcome(s, OUT_RETRY, "connection_error");
    c.to = NULL;
    s = send_one(&email_channel, &c, NULL, body);
    ASSERT_EQ_INT(s.request_rc, -1);
    ASSERT_CONTAINS(s.err, "no recipient");
    free(s.err);
    free(c.smarthost);
    free(body);
}

/* ---- Twilio ---- */

static struct y_twilio twilio_conf(int port, bool send_resolved)
{
    return (struct y_twilio){.api_url = dw_asprintf("http://127.0.0.1:%d/", port),
                             .account_sid = "AC123",
                             .auth_token = "tok-1",
                             .from = "+14155550100",
                             .to = "+14155550111",
                             .send_resolved = send_resolved,
                             .timeout_ms = 400};
}

/* The decoded value of a form field, NULL when absent. Caller frees. */
static char *form_value(const char *form, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = form; p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, name, nl) != 0 || p[nl] != '=')
            continue;
        const char *v = p + nl + 1;
        size_t n = strcspn(v, "&");
        char *out = dw_calloc(1, n + 1), *o = out;
        for (size_t i = 0; i < n; i++) {
            if (v[i] == '%' && i + 2 < n + 1) {
                *o++ = (char)(dw_hex_digit(v[i + 1]) * 16 + dw_hex_digit(v[i + 2]));
                i += 2;
            } else {
                *o++ = v[i] == '+' ? ' ' : v[i];
            }
        }
        return out;
    }
    return NULL;
}

/* Form field name of form decodes to want. */
static void assert_form_value(const char *form, const char *name, const char *want)
{
    char *v = form_value(form, name);
    ASSERT_EQ_STR(v, want);
    free(v);
}

static size_t utf16_units(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80)
            n += *p >= 0xF0 ? 2 : 1;
    return n;
}

TEST(sms_text_with_and_without_page)
{
    struct y_twilio c = twilio_conf(1, true);
    char *t = render(&sms_channel, &c, (struct msg_opts){.priority = "P0", .page = true});
    ASSERT_EQ_STR(t, "[P0 FIRING] " SUMMARY " (2 alerts). Reply 4 to ack, 6 to resolve. " ACK_URL);
    free(t);
    t = render(&sms_channel, &c, (struct msg_opts){.priority = "P1"});
    ASSERT_EQ_STR(t, "[P1 FIRING] " SUMMARY " (2 alerts).");
    free(t);
    t = render(&sms_channel, &c,
               (struct msg_opts){.kind = "resolved", .resolved = true, .nalerts = 1});
    ASSERT_EQ_STR(t, "[RESOLVED] " SUMMARY " (1 alert).");
    free(t);
    /* long: cut to 1600 UTF-16 units, the link kept whole */
    struct dw_buf b;
    dw_buf_init(&b, 0);
    for (int i = 0; i < 1000; i++)
        dw_buf_puts(&b, "é😀");
    t = render(&sms_channel, &c, (struct msg_opts){.page = true, .summary = b.data});
    ASSERT_TRUE(utf16_units(t) <= 1600);
    ASSERT_TRUE(utf16_units(t) >= 1590);
    ASSERT_TRUE(dw_str_has_suffix(t, "… (2 alerts). Reply 4 to ack, 6 to resolve. " ACK_URL));
    free(t);
    dw_buf_release(&b);
    free(c.api_url);
}

TEST(voice_twiml_gathers_digits_for_a_page)
{
    struct y_twilio c = twilio_conf(1, true);
    char *t = render(&voice_channel, &c, (struct msg_opts){.priority = "P0", .page = true});
    ASSERT_EQ_STR(t, "<Response><Gather numDigits=\"1\" "
                     "action=\"https://dw.example/p/voice?t=CCC&amp;x=1\" method=\"POST\">"
                     "<Say>dojowatch alert, priority P0. p99 latency above 2s &lt;&amp;&gt;. "
                     "2 alerts firing. Press 4 to acknowledge, 6 to resolve.</Say></Gather>"
                     "<Say>No input received. Goodbye.</Say></Response>");
    free(t);
    t = render(&voice_channel, &c, (struct msg_opts){.priority = "P0"});
    ASSERT_EQ_STR(t, "<Response><Say>dojowatch alert, priority P0. p99 latency above 2s "
                     "&lt;&amp;&gt;. 2 alerts firing.</Say></Response>");
    free(t);
    c.send_resolved = false; /* voice's default */
    skip_of_resolved(&voice_channel, &c);
    free(c.api_url);
}

TEST(twilio_requests_are_forms_with_basic_auth)
{
    struct http_server *srv = http_server_start();
    http_server_default(srv, (struct http_answer){201, NULL, "{\"sid\":\"SM1\"}", 0});
    struct y_twilio c = twilio_conf(srv->port, true);
    c.status_callback = "https://dw.example/twilio/status";
    char *text = render(&sms_channel, &c, (struct msg_opts){.priority = "P0", .page = true});
    assert_outcome(send_one(&sms_channel, &c, "+14155550199", text), OUT_DELIVERED, "success");
    ASSERT_CONTAINS(srv->reqs[0].head, "POST /2010-04-01/Accounts/AC123/Messages.json HTTP/1.1");
    /* base64("AC123:tok-1"), computed with Python */
    ASSERT_CONTAINS(srv->reqs[0].head, "Authorization: Basic QUMxMjM6dG9rLTE=\r\n");
    ASSERT_CONTAINS(srv->reqs[0].head, "Content-Type: application/x-www-form-urlencoded\r\n");
    assert_form_value(srv->reqs[0].body, "To", "+14155550199");
    assert_form_value(srv->reqs[0].body, "From", "+14155550100");
    assert_form_value(srv->reqs[0].body, "Body", text);
    assert_form_value(srv->reqs[0].body, "StatusCallback", "https://dw.example/twilio/status");
    ASSERT_NULL(form_value(srv->reqs[0].body, "StatusCallbackEvent"));
    char *twiml = render(&voice_channel, &c, (struct msg_opts){.page = true});
    assert_outcome(send_one(&voice_channel, &c, NULL, twiml), OUT_DELIVERED, "success");
    ASSERT_CONTAINS(srv->reqs[1].head, "POST /2010-04-01/Accounts/AC123/Calls.json HTTP/1.1");
    assert_form_value(srv->reqs[1].body, "To", "+14155550111");
    assert_form_value(srv->reqs[1].body, "Twiml", twiml);
    assert_form_value(srv->reqs[1].body, "StatusCallbackEvent", "completed");
    free(twiml);
    free(text);
    free(c.api_url);
    http_server_stop(&srv);
}

TEST(twilio_outcomes_carry_the_error_code)
{
    struct http_server *srv = http_server_start();
    struct y_twilio c = twilio_conf(srv->port, true);
    const struct answer_case cases[] = {
        {{200, NULL, "{}", 0}, OUT_DELIVERED, "success", "200", -1},
        {{400, NULL,
          "{\"code\": 21211, \"message\": \"The 'To' number +1 is not a valid phone number.\", "
          "\"more_info\": \"https://www.twilio.com/docs/errors/21211\", \"status\": 400}",
          0},
         OUT_GIVE_UP,
         "client_error",
         "twilio: HTTP 400 code 21211: The 'To' number +1 is not a valid phone number.",
         -1},
        {{401, NULL, "{\"code\": 20003, \"message\": \"Authenticate\", \"status\": 401}", 0},
         OUT_GIVE_UP,
         "client_error",
         "code 20003: Authenticate",
         -1},
        {{404, NULL, "not json", 0}, OUT_GIVE_UP, "client_error", "twilio: HTTP 404 not json", -1},
        {{429, "Retry-After: 3\r\n", "{}", 0}, OUT_RETRY, "rate_limited", "429", 3000},
        {{503, NULL, "{}", 0}, OUT_RETRY, "server_error", "503", -1},
        {{201, NULL, "{}", 1500}, OUT_RETRY, "timeout", "", -1},
    };
    char *text = render(&sms_channel, &c, (struct msg_opts){0});
    assert_answers(srv, &sms_channel, &c, text, cases, DW_ARRAY_LEN(cases), "tok-1");
    free(text);
    free(c.api_url);
    http_server_stop(&srv);
}

TEST(twilio_signature_known_vector_and_tampering)
{
    const char *url = "https://dw.example/api/v1/oncall/voice?page=42";
    const char *names[] = {"To", "From", "Digits", "CallSid", "AccountSid"};
    const char *values[] = {"+14155550199", "+14155550100", "4", "CA1234567890ABCDE", "AC0001"};
    /* Python: base64(hmac.new(token, url + sorted name+value, sha1)) */
    const char *sig = "nubjLw4QFQGk+3YVV+wG4R+Jsvw=";
    ASSERT_TRUE(dw_notify_twilio_signature_ok("tw-secret-token", url, names, values, 5, sig));
    ASSERT_FALSE(dw_notify_twilio_signature_ok("tw-secret-tokeN", url, names, values, 5, sig));
    ASSERT_FALSE(dw_notify_twilio_signature_ok("tw-secret-token", url, names, values, 5,
                                               "nubjLw4QFQGk+3YVV+wG4R+Jsvx="));
    ASSERT_FALSE(dw_notify_twilio_signature_ok("tw-secret-token", url, names, values, 5,
                                               "nubjLw4QFQGk+3YVV+wG4R+Jsvw"));
    const char *tampered[] = {"+14155550199", "+14155550100", "6", "CA1234567890ABCDE", "AC0001"};
    ASSERT_FALSE(dw_notify_twilio_signature_ok("tw-secret-token", url, names, tampered, 5, sig));
    ASSERT_FALSE(dw_notify_twilio_signature_ok("tw-secret-token",
                                               "https://dw.example/api/v1/oncall/voice?page=43",
                                               names, values, 5, sig));
    ASSERT_FALSE(dw_notify_twilio_signature_ok("tw-secret-token", url, names, values, 4, sig));
    ASSERT_FALSE(dw_notify_twilio_signature_ok("tw-secret-token", url, names, values, 5, NULL));
    ASSERT_FALSE(dw_notify_twilio_signature_ok(NULL, url, names, values, 5, sig));
}

/* ---- PagerDuty ---- */

static struct y_pagerduty pd_conf(int port)
{
    return (struct y_pagerduty){.routing_key = "R0UTINGKEY0123456789012345678901",
                                .url = dw_asprintf("http://127.0.0.1:%d/v2/enqueue", port),
                                .client = "dojowatch",
                                .component = "api",
                                .group = "backend",
                                .class_ = "latency",
                                .send_resolved = true,
                                .timeout_ms = 400};
}

static const char *jstr(json_t *o, const char *path1, const char *path2)
{
    json_t *v = json_object_get(o, path1);
    return json_string_value(path2 ? json_object_get(v, path2) : v);
}

TEST(pagerduty_trigger_has_the_documented_fields)
{
    struct y_pagerduty c = pd_conf(1);
    struct dw_schema_pair details[] = {{"team", "sre"}};
    c.details = details;
    c.ndetails = 1;
    char *body = render(&pagerduty_channel, &c, (struct msg_opts){.priority = "P0"});
    json_t *o = json_loads(body, 0, NULL);
    ASSERT_EQ_STR(jstr(o, "event_action", NULL), "trigger");
    ASSERT_EQ_STR(jstr(o, "dedup_key", NULL), GROUP_KEY_SHA256);
    ASSERT_NULL(json_object_get(o, "routing_key")); /* added by request, never rendered */
    json_t *p = json_object_get(o, "payload");
    ASSERT_EQ_STR(jstr(p, "summary", NULL), "[FIRING:2] HighLatency api (prod): " SUMMARY);
    ASSERT_EQ_STR(jstr(p, "source", NULL), "dojowatch");
    ASSERT_EQ_STR(jstr(p, "severity", NULL), "critical");
    ASSERT_EQ_STR(jstr(p, "timestamp", NULL), "2026-03-02T10:01:00Z");
    ASSERT_EQ_STR(jstr(p, "component", NULL), "api");
    ASSERT_EQ_STR(jstr(p, "group", NULL), "backend");
    ASSERT_EQ_STR(jstr(p, "class", NULL), "latency");
    json_t *d = json_object_get(p, "custom_details");
    ASSERT_EQ_INT(json_integer_value(json_object_get(d, "num_firing")), 2);
    ASSERT_EQ_INT(json_integer_value(json_object_get(d, "num_resolved")), 0);
    ASSERT_CONTAINS(jstr(d, "firing", NULL), "HighLatency env=prod instance=api-2 service=api");
    ASSERT_EQ_STR(jstr(d, "resolved", NULL), "");
    ASSERT_EQ_STR(jstr(d, "team", NULL), "sre");
    ASSERT_EQ_STR(jstr(o, "client", NULL), "dojowatch");
    ASSERT_EQ_STR(jstr(o, "client_url", NULL), "http://dw.example:9107");
    json_t *links = json_object_get(o, "links");
    ASSERT_EQ_STR(jstr(json_array_get(links, 0), "href", NULL), GEN_URL);
    ASSERT_EQ_STR(jstr(json_array_get(links, 1), "href", NULL), SILENCE_URL);
    json_decref(o);
    free(body);
    const char *sev[][2] = {{"P1", "error"}, {"P2", "warning"}};
    for (size_t i = 0; i < 2; i++) {
        body = render(&pagerduty_channel, &c, (struct msg_opts){.priority = sev[i][0]});
        o = json_loads(body, 0, NULL);
        ASSERT_EQ_STR(jstr(json_object_get(o, "payload"), "severity", NULL), sev[i][1]);
        json_decref(o);
        free(body);
    }
    free(c.url);
}

TEST(pagerduty_resolve_and_acknowledge_are_minimal)
{
    struct y_pagerduty c = pd_conf(1);
    const struct {
        struct msg_opts m;
        const char *action;
    } cases[] = {{{.kind = "resolved", .resolved = true}, "resolve"},
                 {{.kind = "acknowledged", .priority = "P0"}, "acknowledge"}};
    for (size_t i = 0; i < 2; i++) {
        char *body = render(&pagerduty_channel, &c, cases[i].m);
        json_t *o = json_loads(body, 0, NULL);
        ASSERT_EQ_INT(json_object_size(o), 2);
        ASSERT_EQ_STR(jstr(o, "event_action", NULL), cases[i].action);
        ASSERT_EQ_STR(jstr(o, "dedup_key", NULL), GROUP_KEY_SHA256);
        json_decref(o);
        free(body);
    }
    c.send_resolved = false;
    skip_of_resolved(&pagerduty_channel, &c);
    char *huge = repeated('y', 5000);
    c.send_resolved = true;
    char *body =
        render(&pagerduty_channel, &c, (struct msg_opts){.summary = huge, .nalerts = 3000});
    ASSERT_TRUE(strlen(body) <= BODY_MAX);
    json_t *o = json_loads(body, 0, NULL);
    ASSERT_EQ_INT(utf16_units(jstr(json_object_get(o, "payload"), "summary", NULL)), 1024);
    json_decref(o);
    free(body);
    free(huge);
    free(c.url);
}

TEST(pagerduty_request_and_outcomes)
{
    struct http_server *srv = http_server_start();
    struct y_pagerduty c = pd_conf(srv->port);
    http_server_default(srv, (struct http_answer){202, NULL,
                                                  "{\"status\":\"success\",\"message\":\"Event "
                                                  "processed\",\"dedup_key\":\"x\"}",
                                                  0});
    char *body = render(&pagerduty_channel, &c, (struct msg_opts){.priority = "P0"});
    struct sent s = send_one(&pagerduty_channel, &c, NULL, body);
    assert_outcome(s, OUT_DELIVERED, "success");
    ASSERT_EQ_INT(s.o.status, 202);
    ASSERT_CONTAINS(srv->reqs[0].head, "POST /v2/enqueue HTTP/1.1");
    json_t *got = json_loads(srv->reqs[0].body, 0, NULL);
    ASSERT_EQ_STR(jstr(got, "routing_key", NULL), "R0UTINGKEY0123456789012345678901");
    ASSERT_EQ_STR(jstr(got, "dedup_key", NULL), GROUP_KEY_SHA256);
    json_decref(got);
    assert_outcome(send_one(&pagerduty_channel, &c, "OTHERSERVICEKEY", body), OUT_DELIVERED,
                   "success");
    got = json_loads(srv->reqs[1].body, 0, NULL);
    ASSERT_EQ_STR(jstr(got, "routing_key", NULL), "OTHERSERVICEKEY");
    json_decref(got);
    const struct answer_case cases[] = {
        {{400, NULL,
          "{\"status\":\"invalid event\",\"message\":\"Event object is invalid\",\"errors\":"
          "[\"Length of 'routing_key' is incorrect (should be 32 characters)\"]}",
          0},
         OUT_GIVE_UP,
         "client_error",
         "pagerduty: HTTP 400 invalid event: Length of 'routing_key' is incorrect",
         -1},
        {{429, "Retry-After: 2\r\n", "", 0}, OUT_RETRY, "rate_limited", "429", 2000},
        {{500, NULL, "", 0}, OUT_RETRY, "server_error", "500", -1},
        {{202, NULL, "{}", 1500}, OUT_RETRY, "timeout", "", -1},
    };
    assert_answers(srv, &pagerduty_channel, &c, body, cases, DW_ARRAY_LEN(cases), "R0UTINGKEY");
    free(body);
    free(c.url);
    http_server_stop(&srv);
}

/* ---- configuration ---- */

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

/* The 1-based column of needle in yaml (one line). */
static int col_of(const char *yaml, const char *needle)
{
    return (int)(strstr(yaml, needle) - yaml) + 1;
}

static void assert_diag(const char *yaml, const char *needle, const char *msg)
{
    char *t = decode_errors(yaml);
    char *pos = dw_asprintf("alerting.receivers[t]:1:%d:", col_of(yaml, needle));
    ASSERT_CONTAINS(t, pos);
    ASSERT_CONTAINS(t, msg);
    free(pos);
    free(t);
}

TEST(receiver_channel_diagnostics_have_positions)
{
    assert_diag("{name: t, slack_configs: [{channel: '#x'}]}", "channel: '#x'",
                "one of api_url and api_url_file is required");
    assert_diag("{name: t, slack_configs: [{api_url: 'http://x', api_url_file: /f}]}", "/f}",
                "at most one of api_url and api_url_file");
    assert_diag("{name: t, slack_configs: [{api_url: 'http://x', chanel: '#a'}]}", "chanel",
                "did you mean \"channel\"");
    assert_diag("{name: t, slack_configs: [{api_url: 'http://x', title: '{{ .Status }}'}]}",
                "{{ .Status", "warning: templates are not expanded");
    assert_diag("{name: t, email_configs: [{to: a@x, from: b@x, smarthost: mail.x}]}", "mail.x",
                "smarthost must be \"host:port\"");
    assert_diag("{name: t, email_configs: [{to: a@x, from: b@x, smarthost: 'm:99999'}]}",
                "m:99999'", "smarthost must be");
    assert_diag("{name: t, email_configs: [{from: b@x, smarthost: 'm:25'}]}",
                "from: b@x, smarthost: 'm:25'}]}", "to: missing required key");
    assert_diag("{name: t, email_configs: [{to: a@x, smarthost: 'm:25'}]}", "to: a@x, smarthost",
                "missing required key");
    assert_diag("{name: t, email_configs: [{to: a@x, from: b@x, smarthost: 'm:25', "
                "auth_username: u, auth_password: p, auth_password_file: /f}]}",
                "/f}", "at most one of auth_password and auth_password_file");
    assert_diag("{name: t, email_configs: [{to: a@x, from: b@x, smarthost: 'm:25', "
                "headers: {Message-ID: x}}]}",
                "Message-ID: x", "Message-ID is set by dojowatch");
    assert_diag(
        "{name: t, email_configs: [{to: a@x, from: b@x, smarthost: 'm:25', tls_confg: {}}]}",
        "tls_confg", "did you mean \"tls_config\"");
    assert_diag("{name: t, pagerduty_configs: [{severity: critical}]}", "severity: critical",
                "one of routing_key and routing_key_file is required");
    assert_diag("{name: t, pagerduty_configs: [{routing_key: k, severity: fatal}]}", "fatal",
                "severity");
    assert_diag("{name: t, pagerduty_configs: [{routing_key: k, url: 'ftp://x'}]}",
                "ftp:", "http(s) URL");
    assert_diag("{name: t, sms_configs: [{account_sid: AC1, auth_token: t, from: '+14155550100', "
                "to: '5550111'}]}",
                "5550111'", "not an E.164 phone number");
    assert_diag("{name: t, sms_configs: [{account_sid: AC1, auth_token: t, from: '+1415'}]}",
                "+1415'", "not an E.164");
    assert_diag("{name: t, voice_configs: [{account_sid: AC1, from: '+14155550100', "
                "to: '+14155550111'}]}",
                "account_sid", "one of auth_token and auth_token_file is required");
    assert_diag("{name: t, voice_configs: [{account_sid: AC1, auth_token: t, "
                "from: '+14155550100'}]}",
                "account_sid", "to: missing required key");
    assert_diag("{name: t, voice_configs: [{auth_token: t, from: '+14155550100', "
                "to: '+14155550111'}]}",
                "auth_token", "account_sid");
    assert_diag("{name: t, opsgenie_configs: [{api_key: x}]}", "api_key",
                "warning: opsgenie_configs are not delivered by dojowatch");
}

TEST(receiver_targets_list_every_item_in_order)
{
    const char *yaml =
        "{name: all, voice_configs: [{account_sid: AC1, auth_token: t, from: '+14155550100', "
        "to: '+14155550111'}], sms_configs: [{account_sid: AC1, auth_token: t, "
        "from: '+14155550100', to: '+14155550112'}], pagerduty_configs: [{routing_key: k}], "
        "email_configs: [{to: a@x, from: b@x, smarthost: 'm:587'}], slack_configs: "
        "[{api_url: 'http://s/1'}, {api_url: 'http://s/2'}], webhook_configs: [{url: 'http://w'}]}";
    struct dw_diags d;
    dw_diags_init(&d);
    struct y_receiver *r = receiver_decode("all", yaml, &d);
    ASSERT_NOT_NULL(r);
    ASSERT_EQ_INT(dw_diags_errors(&d), 0);
    ASSERT_EQ_INT(r->ntargets, 7);
    const char *kinds[] = {"webhook", "slack", "slack", "email", "pagerduty", "sms", "voice"};
    for (size_t i = 0; i < 7; i++)
        ASSERT_EQ_STR(r->targets[i].ch->kind, kinds[i]);
    ASSERT_TRUE(r->targets[2].conf == &r->slacks[1]);
    ASSERT_EQ_STR(((const struct y_slack *)r->targets[2].conf)->api_url, "http://s/2");
    ASSERT_FALSE(r->slacks[0].send_resolved);
    ASSERT_EQ_INT(r->slacks[0].timeout_ms, 10000);
    ASSERT_EQ_STR(r->emails[0].hello, "localhost");
    ASSERT_TRUE(r->emails[0].require_tls);
    ASSERT_FALSE(r->emails[0].send_resolved);
    ASSERT_EQ_STR(r->pagerduties[0].url, "https://events.pagerduty.com/v2/enqueue");
    ASSERT_EQ_STR(r->pagerduties[0].client, "dojowatch");
    ASSERT_TRUE(r->pagerduties[0].send_resolved);
    ASSERT_EQ_STR(r->sms[0].api_url, "https://api.twilio.com");
    ASSERT_TRUE(r->sms[0].send_resolved);
    ASSERT_FALSE(r->voices[0].send_resolved);
    ASSERT_TRUE(r->targets[6].conf == &r->voices[0]);
    ASSERT_TRUE(channel_by_kind("voice") == &voice_channel);
    ASSERT_TRUE(channel_by_kind("webhook") == &webhook_channel);
    ASSERT_NULL(channel_by_kind("pigeon"));
    receiver_free(&r);
    dw_diags_release(&d);
}

static const char *MINIMAL =
    "service: {name: t}\n"
    "launch:\n"
    "  at: 2026-12-01T09:00:00Z\n"
    "  phases:\n"
    "    - {name: critical, start: 0, end: 72h, cadence: {system_health: 15m,\n"
    "       user_experience: 30m, business: 1h, performance_analysis: none}}\n"
    "    - {name: steady, start: 72h, cadence: {system_health: 4h,\n"
    "       user_experience: 24h, business: 24h, performance_analysis: 30d}}\n"
    "priorities:\n"
    "  P0: {response: 5m, resolution: 1h, channels: [phone], escalation: [person:alice]}\n"
    "  P1: {response: 15m, resolution: 4h, channels: [email], escalation: [person:alice]}\n"
    "  P2: {response: 1h, resolution: 8h, channels: [email], escalation: [person:alice]}\n"
    "people:\n"
    "  - {id: alice, name: Alice}\n";

static struct dw_config *load(const char *extra, char **text)
{
    *text = dw_asprintf("%s%s", MINIMAL, extra);
    struct dw_diags d;
    dw_diags_init(&d);
    struct dw_config *cfg = dw_config_load_string("t.yaml", *text, strlen(*text), &d);
    if (!cfg) {
        char *t = diags_text(&d);
        fprintf(stderr, "%s", t);
        free(t);
    }
    dw_diags_release(&d);
    ASSERT_NOT_NULL(cfg);
    return cfg;
}

/* "t.yaml:LINE:COL:" of needle in the whole text. Caller frees. */
static char *file_pos(const char *text, const char *needle)
{
    const char *at = strstr(text, needle), *bol = text;
    int line = 1;
    for (const char *p = text; p < at; p++)
        if (*p == '\n') {
            line++;
            bol = p + 1;
        }
    return dw_asprintf("t.yaml:%d:%d:", line, (int)(at - bol) + 1);
}

TEST(providers_of_the_notify_section)
{
    char *text;
    struct dw_config *cfg = load("notify:\n"
                                 "  daily_standup: \"09:00\"\n"
                                 "  reports: {daily: [x]}\n"
                                 "  slack: {api_url: 'http://hooks/x'}\n"
                                 "  sms: {account_sid: AC1, auth_token: t, from: '+14155550100'}\n"
                                 "  pagerduty: {routing_key_file: /nonexistent/pd}\n",
                                 &text);
    struct dw_diags d;
    dw_diags_init(&d);
    struct y_providers *p = providers_decode(cfg, &d);
    ASSERT_NOT_NULL(p);
    ASSERT_NOT_NULL(p->slack);
    ASSERT_EQ_STR(p->slack->api_url, "http://hooks/x");
    ASSERT_NULL(p->slack->channel);
    ASSERT_NOT_NULL(p->sms);
    ASSERT_NULL(p->sms->to);
    ASSERT_TRUE(p->sms->send_resolved);
    ASSERT_NULL(p->email);
    ASSERT_NULL(p->voice);
    ASSERT_NOT_NULL(p->pagerduty);
    ASSERT_EQ_INT(dw_diags_errors(&d), 0);
    char *t = diags_text(&d);
    char *pos = file_pos(text, "/nonexistent/pd");
    ASSERT_CONTAINS(t, pos);
    ASSERT_CONTAINS(t, "warning: cannot read /nonexistent/pd");
    free(pos);
    free(t);
    providers_free(&p);
    ASSERT_NULL(p);
    dw_diags_release(&d);
    dw_config_unref(&cfg);
    free(text);
}

TEST(check_config_reports_file_positions_for_channels_and_providers)
{
    char *text;
    struct dw_config *cfg =
        load("alerting:\n"
             "  route: {receiver: r}\n"
             "  receivers:\n"
             "    - name: r\n"
             "      email_configs:\n"
             "        - {to: a@x, from: b@x, smarthost: nohost}\n"
             "      sms_configs:\n"
             "        - {account_sid: AC1, auth_token: t, from: '+14155550100', to: '0711'}\n"
             "notify:\n"
             "  stakeholder_updates_every: 1h\n"
             "  voice: {account_sid: AC1, auth_token: t, from: 'bad'}\n"
             "  email: {from: b@x, smarthost: 'm:25', require_tsl: true}\n",
             &text);
    struct dw_diags d;
    dw_diags_init(&d);
    ASSERT_EQ_INT(dw_notify_check_config(cfg, &d), 4);
    char *t = diags_text(&d);
    const char *needles[] = {"nohost", "0711'", "bad'", "require_tsl"};
    for (size_t i = 0; i < 4; i++) {
        char *pos = file_pos(text, needles[i]);
        ASSERT_CONTAINS(t, pos);
        free(pos);
    }
    ASSERT_CONTAINS(t, "did you mean \"require_tls\"");
    ASSERT_NULL(providers_decode(cfg, &d));
    free(t);
    dw_diags_release(&d);
    dw_config_unref(&cfg);
    free(text);
}

/* ---- plain messages (the incident module's updates) ---- */

#define INC_TEXT "Database failover <db-1> & replica\nlag 30s"
#define INC_URL "https://dw.example/incidents/INC-20261127093000"
#define FIELD1 "{\"title\": \"a\", \"value\": \"b\"}"
#define FIELDS11                                                                                   \
    FIELD1 "," FIELD1 "," FIELD1 "," FIELD1 "," FIELD1 "," FIELD1 "," FIELD1 "," FIELD1 "," FIELD1 \
           "," FIELD1 "," FIELD1

/* Code points of a UTF-8 string. */
static size_t code_points(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* A plain message payload; thread and color may be NULL; url NULL: without a link. */
static char *plain_payload(const char *title, const char *text, const char *url, const char *thread,
                           const char *color)
{
    json_t *m = json_object();
    msg_set_opt(m, "title", title);
    msg_set_opt(m, "text", text);
    msg_set_opt(m, "url", url);
    if (url)
        json_object_set_new(m, "link_text", json_string("View incident"));
    msg_set_opt(m, "thread", thread);
    msg_set_opt(m, "color", color);
    json_object_set_new(m, "fields",
                        json_pack("[{s:s,s:s},{s:s,s:s}]", "title", "Severity", "value", "SEV1",
                                  "title", "Commander", "value", "alice <a@x>"));
    json_t *doc = json_pack("{s:o}", "message", m);
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return s;
}

static char *render_plain(const struct channel *ch, const void *conf, const char *payload)
{
    const char *skip = NULL;
    char *body = ch->render(conf, payload, &skip);
    if (!body)
        fprintf(stderr, "  skipped: %s\n", skip);
    return body;
}

TEST(slack_renders_a_plain_message)
{
    struct y_slack c = slack_conf();
    char *p = plain_payload("INC-7 SEV1: checkout down", INC_TEXT, INC_URL, "INC-7", "P1");
    char *body = render_plain(&slack_channel, &c, p);
    ASSERT_NOT_NULL(body);
    json_t *o = json_loads(body, 0, NULL);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "channel")), "#alerts");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "username")), "dojowatch");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "text")),
                  "INC-7 SEV1: checkout down\nDatabase failover &lt;db-1&gt; &amp; replica\nlag "
                  "30s");
    ASSERT_EQ_STR(text_of(block_of_type(o, "header", 0)), "INC-7 SEV1: checkout down");
    json_t *sec = block_of_type(o, "section", 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(sec, "text"), "type")),
                  "mrkdwn");
    ASSERT_EQ_STR(text_of(sec), "Database failover &lt;db-1&gt; &amp; replica\nlag 30s");
    json_t *fields = block_of_type(o, "section", 1);
    ASSERT_EQ_INT(json_array_size(json_object_get(fields, "fields")), 2);
    ASSERT_TRUE(has_field(fields, "*Severity*\nSEV1"));
    ASSERT_TRUE(has_field(fields, "*Commander*\nalice &lt;a@x&gt;"));
    ASSERT_EQ_STR(button_url(o, "open"), INC_URL);
    json_t *btn = json_array_get(json_object_get(block_of_type(o, "actions", 0), "elements"), 0);
    ASSERT_EQ_STR(text_of(btn), "View incident");
    json_t *att = json_array_get(json_object_get(o, "attachments"), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(att, "color")), "#ff9900");
    ASSERT_NULL(json_object_get(o, "thread_ts")); /* request adds it, in Web API mode */
    ASSERT_NULL(block_of_type(o, "context", 0));
    json_decref(o);
    free(body);
    free(p);
    /* no colour, no link, a long title: no attachment, no button, the header cut to 150 */
    char *title = repeated('t', 400);
    p = plain_payload(title, "x", NULL, NULL, NULL);
    body = render_plain(&slack_channel, &c, p);
    o = json_loads(body, 0, NULL);
    ASSERT_NULL(json_object_get(o, "attachments"));
    ASSERT_NULL(block_of_type(o, "actions", 0));
    ASSERT_EQ_INT(code_points(text_of(block_of_type(o, "header", 0))), 150);
    json_decref(o);
    free(body);
    free(p);
    free(title);
    p = plain_payload("t", "x", NULL, NULL, "#00ff00");
    body = render_plain(&slack_channel, &c, p);
    ASSERT_CONTAINS(body, "\"color\":\"#00ff00\"");
    free(body);
    free(p);
}

TEST(slack_plain_message_body_is_bounded)
{
    struct y_slack c = slack_conf();
    char *huge = repeated('<', 60000); /* each escapes to 4 bytes */
    char *p = plain_payload("big", huge, INC_URL, NULL, NULL);
    char *body = render_plain(&slack_channel, &c, p);
    ASSERT_NOT_NULL(body);
    ASSERT_TRUE(strlen(body) <= BODY_MAX);
    json_t *o = json_loads(body, 0, NULL);
    ASSERT_TRUE(code_points(text_of(block_of_type(o, "section", 0))) <= 3000 * 4);
    json_decref(o);
    free(body);
    free(p);
    free(huge);
}

TEST(plain_message_in_webhook_sms_and_the_channels_that_skip_it)
{
    char *p = plain_payload("INC-7 SEV1: checkout down", INC_TEXT, INC_URL, "INC-7", "P0");
    struct y_webhook w = {.url = "http://127.0.0.1:1/h", .send_resolved = false};
    char *body = render_plain(&webhook_channel, &w, p);
    json_t *o = json_loads(body, 0, NULL);
    json_t *given = json_loads(p, 0, NULL);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "version")), "1");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "kind")), "message");
    ASSERT_TRUE(json_equal(json_object_get(o, "message"), json_object_get(given, "message")));
    ASSERT_EQ_INT(json_object_size(o), 3);
    json_decref(given);
    json_decref(o);
    free(body);
    struct y_twilio t = twilio_conf(1, false);
    body = render_plain(&sms_channel, &t, p);
    ASSERT_EQ_STR(body, "INC-7 SEV1: checkout down\n" INC_TEXT " " INC_URL);
    free(body);
    char *long_text = repeated('y', 1700);
    char *lp = plain_payload("T", long_text, INC_URL, NULL, NULL);
    body = render_plain(&sms_channel, &t, lp);
    ASSERT_EQ_INT(utf16_units(body), 1600);
    ASSERT_TRUE(dw_str_has_suffix(body, "y\xE2\x80\xA6"));
    ASSERT_NOT_CONTAINS(body, "https://");
    free(body);
    free(lp);
    free(long_text);
    const char *skip = NULL;
    ASSERT_NULL(voice_channel.render(&t, p, &skip));
    ASSERT_CONTAINS(skip, "voice does not carry plain messages");
    struct y_pagerduty pd = pd_conf(1);
    skip = NULL;
    ASSERT_NULL(pagerduty_channel.render(&pd, p, &skip));
    ASSERT_CONTAINS(skip, "pagerduty does not carry plain messages");
    free(pd.url);
    free(t.api_url);
    free(p);
    /* neither form, or a malformed message: skipped with the reason */
    struct y_slack c = slack_conf();
    const struct {
        const char *payload, *why;
    } bad[] = {
        {"{}", "neither Alertmanager webhook JSON"},
        {"[1]", "neither Alertmanager webhook JSON"},
        {"not json", "neither Alertmanager webhook JSON"},
        {"{\"message\": \"hi\"}", "neither Alertmanager webhook JSON"},
        {"{\"message\": {}}", "a title or a text is required"},
        {"{\"message\": {\"title\": 7}}", "title must be a string"},
        {"{\"message\": {\"title\": \"t\", \"color\": \"red\"}}", "color must be"},
        {"{\"message\": {\"title\": \"t\", \"fields\": [{\"title\": \"a\"}]}}", "fields must be"},
        {"{\"message\": {\"title\": \"t\", \"fields\": [" FIELDS11 "]}}", "at most 10"},
        {"{\"message\": {\"title\": \"t\", \"thread\": 1}}", "thread must be"},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(bad); i++) {
        const struct channel *chs[] = {&slack_channel, &webhook_channel, &sms_channel,
                                       &email_channel};
        struct y_email e = email_conf(25);
        const void *confs[] = {&c, &w, &t, &e};
        for (size_t k = 0; k < DW_ARRAY_LEN(chs); k++) {
            skip = NULL;
            ASSERT_NULL(chs[k]->render(confs[k], bad[i].payload, &skip));
            ASSERT_CONTAINS(skip, bad[i].why);
        }
        free(e.smarthost);
    }
}

/* Sends body as a message of a thread whose root (channel, ts) is known or not (NULL). */
static struct sent send_in_thread(const struct channel *ch, const void *conf, const char *to,
                                  const char *body, const char *root_channel, const char *root_ts)
{
    struct sent s = {0};
    struct attempt at = {
        .easy = curl_easy_init(), .thread_channel = root_channel, .thread_ts = root_ts};
    s.request_rc = ch->request(conf, to, body, &at, &s.err);
    if (s.request_rc == 0)
        ch->outcome(at.easy, curl_easy_perform(at.easy), &at, &s.o);
    attempt_release(&at);
    return s;
}

TEST(email_renders_a_plain_message_and_threads_it)
{
    struct smtp_server *srv = smtp_start(0, 0, 0, 0);
    struct y_email c = email_conf(srv->port);
    char *p =
        plain_payload("INC-7 SEV1: checkout down \xE2\x9C\x93", INC_TEXT, INC_URL, "INC-7", NULL);
    char *body = render_plain(&email_channel, &c, p);
    assert_crlf_and_short_lines(body);
    char *subject = header(body, "Subject");
    ASSERT_TRUE(dw_str_has_prefix(subject, "=?UTF-8?B?")); /* RFC 2047: not ASCII */
    free(subject);
    char *text = mime_part(body, "text/plain");
    ASSERT_EQ_STR(text,
                  "INC-7 SEV1: checkout down \xE2\x9C\x93\n\n" INC_TEXT
                  "\n\nSeverity: SEV1\nCommander: alice <a@x>\n\nView incident: " INC_URL "\n");
    free(text);
    char *html = mime_part(body, "text/html");
    ASSERT_CONTAINS(html, "<p>Database failover &lt;db-1&gt; &amp; replica<br>\nlag 30s</p>");
    ASSERT_CONTAINS(html, "<tr><th align=\"left\">Commander</th><td>alice &lt;a@x&gt;</td></tr>");
    ASSERT_CONTAINS(html, "<a href=\"" INC_URL "\">View incident</a>");
    free(html);
    /* the first message of the thread: its Message-ID is the root derived from the key */
    struct sent s = send_in_thread(&email_channel, &c, NULL, body, NULL, NULL);
    assert_outcome(s, OUT_DELIVERED, "success");
    char *root = header(srv->data, "Message-ID");
    ASSERT_TRUE(dw_str_has_suffix(root, ".thread@dojopool.example>"));
    ASSERT_NULL(header(srv->data, "In-Reply-To"));
    ASSERT_NULL(header(srv->data, "References"));
    ASSERT_EQ_STR(s.o.root_ts, root);
    assert_header(srv->data, "To", "oncall@dojopool.example");
    /* a second message of the thread, the root known: a reply to it */
    char *p2 = plain_payload("INC-7 update", "mitigated", NULL, "INC-7", NULL);
    char *body2 = render_plain(&email_channel, &c, p2);
    s = send_in_thread(&email_channel, &c, NULL, body2, "", root);
    assert_outcome(s, OUT_DELIVERED, "success");
    char *id2 = header(srv->data, "Message-ID");
    ASSERT_TRUE(strcmp(id2, root) != 0);
    assert_header(srv->data, "In-Reply-To", root);
    assert_header(srv->data, "References", root);
    ASSERT_EQ_STR(s.o.root_ts, "");
    /* another thread key: another root; no thread: a lone message */
    char *p3 = plain_payload("INC-8", "x", NULL, "INC-8", NULL);
    char *body3 = render_plain(&email_channel, &c, p3);
    char *other = header(body3, "In-Reply-To");
    ASSERT_TRUE(strcmp(other, root) != 0);
    char *p4 = plain_payload("note", "x", NULL, NULL, NULL);
    char *body4 = render_plain(&email_channel, &c, p4);
    ASSERT_NULL(header(body4, "In-Reply-To"));
    char *lone = header(body4, "Message-ID");
    ASSERT_TRUE(lone && !strstr(lone, ".thread@"));
    free(lone);
    char *thread_dest = email_channel.thread_dest(&c, NULL);
    ASSERT_EQ_STR(thread_dest, "oncall@dojopool.example");
    free(thread_dest);
    free(other);
    free(id2);
    free(root);
    char *bodies[] = {body, body2, body3, body4, p, p2, p3, p4};
    for (size_t i = 0; i < DW_ARRAY_LEN(bodies); i++)
        free(bodies[i]);
    free(c.smarthost);
    smtp_stop(&srv);
}

/* ---- Slack's Web API (chat.postMessage) ---- */

#define BOT_TOKEN "xoxb-1-secret-token"

static struct y_slack slack_app_at(int port)
{
    struct y_slack c = slack_conf();
    c.api_url = NULL;
    c.app_token = BOT_TOKEN;
    c.app_url = dw_asprintf("http://127.0.0.1:%d/api/chat.postMessage", port);
    c.channel = "#incidents";
    c.timeout_ms = 1000;
    return c;
}

TEST(slack_web_api_posts_with_the_bot_token_and_threads_replies)
{
    struct http_server *srv = http_server_start();
    const struct http_answer answers[] = {
        {200, "Content-Type: application/json\r\n",
         "{\"ok\":true,\"channel\":\"C0INC\",\"ts\":\"1700000000.000100\",\"message\":{}}", 0},
        {200, "Content-Type: application/json\r\n",
         "{\"ok\":true,\"channel\":\"C0INC\",\"ts\":\"1700000000.000200\"}", 0},
    };
    http_server_script(srv, answers, DW_ARRAY_LEN(answers));
    struct y_slack c = slack_app_at(srv->port);
    char *p = plain_payload("INC-7 opened", INC_TEXT, INC_URL, "INC-7", "P0");
    char *body = render_plain(&slack_channel, &c, p);
    char *dest = slack_channel.thread_dest(&c, NULL);
    ASSERT_EQ_STR(dest, "#incidents");
    free(dest);
    struct sent s = send_in_thread(&slack_channel, &c, NULL, body, NULL, NULL);
    assert_outcome(s, OUT_DELIVERED, "success");
    ASSERT_EQ_STR(s.o.root_channel, "C0INC");
    ASSERT_EQ_STR(s.o.root_ts, "1700000000.000100");
    ASSERT_CONTAINS(srv->reqs[0].head, "POST /api/chat.postMessage HTTP/1.1\r\n");
    ASSERT_CONTAINS(srv->reqs[0].head, "Authorization: Bearer " BOT_TOKEN "\r\n");
    ASSERT_CONTAINS(srv->reqs[0].head, "Content-Type: application/json; charset=utf-8\r\n");
    json_t *first = json_loads(srv->reqs[0].body, 0, NULL);
    ASSERT_EQ_STR(json_string_value(json_object_get(first, "channel")), "#incidents");
    ASSERT_NULL(json_object_get(first, "thread_ts"));
    ASSERT_EQ_STR(json_string_value(json_object_get(first, "text")),
                  "INC-7 opened\nDatabase failover &lt;db-1&gt; &amp; replica\nlag 30s");
    ASSERT_NOT_CONTAINS(srv->reqs[0].body, BOT_TOKEN);
    json_decref(first);
    /* the second message replies in the thread of the ts the first got */
    char *p2 = plain_payload("INC-7 update", "mitigated", NULL, "INC-7", NULL);
    char *body2 = render_plain(&slack_channel, &c, p2);
    char *root_channel = dw_strdup(s.o.root_channel), *root_ts = dw_strdup(s.o.root_ts);
    s = send_in_thread(&slack_channel, &c, NULL, body2, root_channel, root_ts);
    assert_outcome(s, OUT_DELIVERED, "success");
    json_t *second = json_loads(srv->reqs[1].body, 0, NULL);
    ASSERT_EQ_STR(json_string_value(json_object_get(second, "thread_ts")), "1700000000.000100");
    ASSERT_EQ_STR(json_string_value(json_object_get(second, "channel")), "C0INC");
    json_decref(second);
    /* a destination replaces the channel; an incoming webhook cannot thread */
    dest = slack_channel.thread_dest(&c, "@alice");
    ASSERT_EQ_STR(dest, "@alice");
    free(dest);
    struct y_slack hook = slack_conf();
    ASSERT_NULL(slack_channel.thread_dest(&hook, "#x"));
    ASSERT_TRUE(slack_has_channel(&c, NULL));
    c.channel = NULL;
    ASSERT_FALSE(slack_has_channel(&c, NULL));
    s = send_in_thread(&slack_channel, &c, NULL, body2, NULL, NULL);
    ASSERT_EQ_INT(s.request_rc, -1);
    ASSERT_CONTAINS(s.err, "no channel");
    free(s.err);
    free(root_channel);
    free(root_ts);
    free(body2);
    free(p2);
    free(body);
    free(p);
    free(c.app_url);
    http_server_stop(&srv);
}

TEST(slack_web_api_outcomes_by_answer)
{
    struct http_server *srv = http_server_start();
    struct y_slack c = slack_app_at(srv->port);
    const char *json_ct = "Content-Type: application/json\r\n";
    const struct answer_case cases[] = {
        {{200, json_ct, "{\"ok\":false,\"error\":\"channel_not_found\"}", 0},
         OUT_GIVE_UP,
         "client_error",
         "slack: channel_not_found",
         -1},
        {{200, json_ct, "{\"ok\":false,\"error\":\"invalid_auth\"}", 0},
         OUT_GIVE_UP,
         "client_error",
         "invalid_auth",
         -1},
        {{200, json_ct, "{\"ok\":false,\"error\":\"not_authed\"}", 0},
         OUT_GIVE_UP,
         "client_error",
         "not_authed",
         -1},
        {{200, json_ct, "{\"ok\":false,\"error\":\"is_archived\"}", 0},
         OUT_GIVE_UP,
         "client_error",
         "is_archived",
         -1},
        {{200, json_ct, "{\"ok\":false,\"error\":\"msg_too_long\"}", 0},
         OUT_GIVE_UP,
         "client_error",
         "msg_too_long",
         -1},
        {{200, json_ct, "{\"ok\":false,\"error\":\"invalid_blocks\"}", 0},
         OUT_GIVE_UP,
         "client_error",
         "invalid_blocks",
         -1},
        {{429, "Retry-After: 3\r\n", "{\"ok\":false,\"error\":\"ratelimited\"}", 0},
         OUT_RETRY,
         "rate_limited",
         "429",
         3000},
        {{200, "Retry-After: 2\r\n", "{\"ok\":false,\"error\":\"ratelimited\"}", 0},
         OUT_RETRY,
         "rate_limited",
         "ratelimited",
         2000},
        {{200, json_ct, "{\"ok\":false,\"error\":\"internal_error\"}", 0},
         OUT_RETRY,
         "server_error",
         "internal_error",
         -1},
        {{200, json_ct, "{\"ok\":false,\"error\":\"fatal_error\"}", 0},
         OUT_RETRY,
         "server_error",
         "fatal_error",
         -1},
        {{503, NULL, "upstream", 0}, OUT_RETRY, "server_error", "503", -1},
        {{200, json_ct, "{\"ok\":true,\"channel\":\"C1\",\"ts\":\"1.2\"}", 0},
         OUT_DELIVERED,
         "success",
         "HTTP 200",
         -1},
    };
    char *p = plain_payload("t", "x", NULL, "INC-1", NULL);
    char *body = render_plain(&slack_channel, &c, p);
    assert_answers(srv, &slack_channel, &c, body, cases, DW_ARRAY_LEN(cases), BOT_TOKEN);
    /* the token from a file, read at each request; a missing file fails the request */
    char *dir = tmpdir_new();
    char *path = write_file(dir, "token", "xoxb-from-file\n");
    c.app_token = NULL;
    c.app_token_file = path;
    assert_outcome(send_one(&slack_channel, &c, NULL, body), OUT_DELIVERED, "success");
    ASSERT_CONTAINS(srv->reqs[http_server_count(srv) - 1].head,
                    "Authorization: Bearer xoxb-from-file\r\n");
    c.app_token_file = "/nonexistent/token";
    struct sent s = send_one(&slack_channel, &c, NULL, body);
    ASSERT_EQ_INT(s.request_rc, -1);
    free(s.err);
    rm_rf(dir);
    free(dir);
    free(path);
    free(body);
    free(p);
    free(c.app_url);
    http_server_stop(&srv);
}

TEST(slack_web_api_configuration)
{
    const char *ok = "{name: t, slack_configs: [{app_token: xoxb-1, channel: '#inc'}]}";
    struct dw_diags d;
    dw_diags_init(&d);
    struct y_receiver *r = receiver_decode("t", ok, &d);
    ASSERT_NOT_NULL(r);
    ASSERT_EQ_STR(r->slacks[0].app_token, "xoxb-1");
    ASSERT_EQ_STR(r->slacks[0].app_url, "https://slack.com/api/chat.postMessage");
    ASSERT_NULL(r->slacks[0].api_url);
    receiver_free(&r);
    dw_diags_release(&d);
    assert_diag("{name: t, slack_configs: [{api_url: 'http://x', app_token: xoxb}]}", "xoxb}",
                "at most one of api_url/api_url_file (an incoming webhook) and "
                "app_token/app_token_file");
    assert_diag("{name: t, slack_configs: [{app_token: a, app_token_file: /f, channel: '#x'}]}",
                "/f,", "at most one of app_token and app_token_file");
    assert_diag("{name: t, slack_configs: [{app_token: a}]}", "app_token: a",
                "channel: missing required key");
    assert_diag("{name: t, slack_configs: [{app_token: a, channel: '#x', app_url: 'ftp://s'}]}",
                "ftp:", "http(s) URL");
    assert_diag("{name: t, slack_configs: [{app_token: a, channel: '#x', "
                "http_config: {bearer_token: b}}]}",
                "app_token: a", "http_config cannot set another");
}

TEST_MAIN()
