/*
 * webhook.c - the generic webhook channel: Alertmanager's webhook_config.
 *
 * DESIGN
 * render: the alerter already wrote the event payload as Alertmanager's
 * webhook v4 JSON (version "4", groupKey, truncatedAlerts, status,
 * receiver, groupLabels, commonLabels, commonAnnotations, externalURL,
 * alerts[] with status, labels, annotations, startsAt, endsAt,
 * generatorURL, fingerprint) plus dojowatch's "kind" and "priority". The
 * body is that document without the two additions, so a receiver that
 * takes Alertmanager's webhooks gets exactly what Alertmanager 0.25 would
 * send. Per configuration, like Alertmanager: send_resolved: false drops the
 * resolved alerts (and the whole notification when none fires);
 * max_alerts keeps the first N and counts the rest in truncatedAlerts.
 * A plain message (notify_internal.h) is POSTed as
 * {"version": "1", "kind": "message", "message": <the message as given>},
 * or, when it has a "webhook_body" object, as that object alone (the status
 * page's subscribers get Statuspage's webhook format).
 *
 * request: a POST with Content-Type application/json and User-Agent
 * dojowatch/VERSION, the configured authorization, proxy and TLS files, the
 * configured timeout for the whole transfer. "Expect:" is sent empty so a
 * body over 1 KiB does not wait for a 100-continue. Only http and https,
 * also after redirects.
 *
 * outcome: 2xx delivered; 429, 408 and 5xx retried (Retry-After read as
 * seconds or an HTTP date); time-outs and connection errors retried; a
 * malformed URL and every other status given up (retrying cannot fix them).
 *
 * Shared by the channels (declared in notify_internal.h): the POST every
 * HTTP channel makes (http_post), its TLS options and its answer table
 * (http_outcome), secrets inline or from files, reading the message JSON
 * (send_resolved, titles, summaries, silence links, alert lines), writing
 * a JSON body (compact, bounded by BODY_MAX, one member set per request)
 * and text cutting and URL encoding,
 * so slack.c, email.c, twilio.c and pagerduty.c render the same group the
 * same way. attempt_release frees what any channel put in an attempt.
 *
 * Threads: everything here runs on the notifier's delivery thread.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "notify/notify_internal.h"

#define ANSWER_KEEP 512        /* bytes of a response body kept for the log */
#define RETRY_AFTER_MAX_S 3600 /* a longer Retry-After is taken as an hour */

/* ---- render ---- */

/* Keeps the firing alerts only; false when none is left. */
static bool drop_resolved(json_t *doc)
{
    json_t *alerts = json_object_get(doc, "alerts");
    size_t i = 0;
    while (i < json_array_size(alerts)) {
        const char *st = json_string_value(json_object_get(json_array_get(alerts, i), "status"));
        if (st && strcmp(st, "resolved") == 0)
            json_array_remove(alerts, i);
        else
            i++;
    }
    json_object_set_new(doc, "status", json_string("firing"));
    return json_array_size(alerts) > 0;
}

static void truncate_alerts(json_t *doc, int64_t max)
{
    json_t *alerts = json_object_get(doc, "alerts");
    size_t n = json_array_size(alerts);
    if (max <= 0 || n <= (size_t)max)
        return;
    while (json_array_size(alerts) > (size_t)max)
        json_array_remove(alerts, json_array_size(alerts) - 1);
    json_int_t before = json_integer_value(json_object_get(doc, "truncatedAlerts"));
    json_object_set_new(doc, "truncatedAlerts", json_integer(before + (json_int_t)(n - max)));
}

static char *webhook_render(const void *conf, const char *payload, const char **skip)
{
    const struct y_webhook *w = conf;
    json_t *doc = msg_load(payload, w->send_resolved, skip);
    if (!doc)
        return NULL;
    json_t *m = msg_plain(doc);
    json_t *raw = m ? json_object_get(m, "webhook_body") : NULL;
    if (raw) { /* a body of the receiver's own format (a status page subscriber's) */
        char *body = msg_dump(raw);
        json_decref(doc);
        return body;
    }
    if (m) { /* the message as given, in dojowatch's own envelope */
        json_t *o = json_pack("{s:s,s:s,s:O}", "version", "1", "kind", "message", "message", m);
        char *body = msg_dump(o);
        json_decref(o);
        json_decref(doc);
        return body;
    }
    json_object_del(doc, "kind");
    json_object_del(doc, "priority");
    truncate_alerts(doc, w->max_alerts);
    char *body = msg_dump(doc);
    json_decref(doc);
    return body;
}

/* ---- request ---- */

static size_t keep_answer(char *data, size_t size, size_t nmemb, void *arg)
{
    struct attempt *at = arg;
    size_t keep = at->answer_keep ? at->answer_keep : ANSWER_KEEP;
    if (!at->answer.max || at->answer.max < keep) /* give the buffer its bound */
        at->answer.max = keep;
    size_t n = size * nmemb, room = keep - at->answer.len;
    if (at->answer.len < keep)
        dw_buf_append(&at->answer, data, n < room ? n : room);
    return n;
}

/* A secret file's content without surrounding white space (as Prometheus
 * does); NULL with *err when it cannot be read. */
static int add_authorization(const struct y_http *h, struct attempt *at, char **err)
{
    const char *type = "Bearer";
    char *cred = NULL;
    if (h->authorization.credentials || h->authorization.credentials_file) {
        type = h->authorization.type ? h->authorization.type : "Bearer";
        cred = dw_secret_get(h->authorization.credentials, h->authorization.credentials_file, err);
    } else {
        cred = dw_secret_get(h->bearer_token, h->bearer_token_file, err);
    }
    if (*err)
        return -1;
    if (cred) {
        char *line = dw_asprintf("Authorization: %s %s", type, cred);
        at->headers = curl_slist_append(at->headers, line);
        free(line);
        free(cred);
    }
    return 0;
}

static int set_basic_auth(const struct y_http *h, CURL *e, char **err)
{
    if (!h->basic_auth.username)
        return 0;
    char *pass = dw_secret_get(h->basic_auth.password, h->basic_auth.password_file, err);
    if (*err)
        return -1;
    curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(e, CURLOPT_USERNAME, h->basic_auth.username);
    curl_easy_setopt(e, CURLOPT_PASSWORD, pass ? pass : "");
    free(pass); /* libcurl keeps its own copy */
    return 0;
}

void tls_apply(const struct y_tls *t, CURL *e)
{
    if (t->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, t->ca_file);
    if (t->cert_file) {
        curl_easy_setopt(e, CURLOPT_SSLCERT, t->cert_file);
        curl_easy_setopt(e, CURLOPT_SSLKEY, t->key_file);
    }
    if (t->insecure_skip_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

static void set_transport(const struct y_http *h, CURL *e)
{
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, h->follow_redirects ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
    if (h->proxy_url)
        curl_easy_setopt(e, CURLOPT_PROXY, h->proxy_url);
    tls_apply(&h->tls, e);
}

int http_post(struct attempt *at, const char *url, const char *content_type, const char *body,
              size_t len, int64_t timeout_ms, const struct y_http *h, char **err)
{
    CURL *e = at->easy;
    char *ct = dw_asprintf("Content-Type: %s", content_type);
    at->headers = curl_slist_append(at->headers, ct);
    free(ct);
    at->headers = curl_slist_append(at->headers, "Expect:");
    if (h && (add_authorization(h, at, err) < 0 || set_basic_auth(h, e, err) < 0))
        return -1;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, at->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "dojowatch/" DW_VERSION);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep_answer);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, at);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, at->errbuf);
    if (h) {
        set_transport(h, e);
    } else {
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    }
    return 0;
}

int upload_with_member(struct attempt *at, const char *body, const char *key, const char *value,
                       const char *not_json, char **err)
{
    json_t *o = json_loads(body, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        *err = dw_strdup(not_json);
        return -1;
    }
    json_object_set_new(o, key, json_string(value));
    at->upload = msg_dump(o);
    at->upload_len = strlen(at->upload);
    json_decref(o);
    return 0;
}

static int webhook_request(const void *conf, const char *to, const char *body, struct attempt *at,
                           char **err)
{
    const struct y_webhook *w = conf;
    const char *url = w->url ? w->url : to; /* a direct message names its URL in to */
    if (!url) {
        *err = dw_strdup("a direct webhook message needs its URL as the destination");
        return -1;
    }
    return http_post(at, url, "application/json", body, strlen(body), w->timeout_ms, &w->http, err);
}

/* ---- outcome ---- */

int64_t retry_after_parse(const char *value, int64_t now_s)
{
    while (value && isspace((unsigned char)*value))
        value++;
    if (!value || !*value)
        return -1;
    int64_t s;
    if (dw_parse_int64(value, &s) == 0) {
        if (s < 0)
            return -1;
    } else {
        time_t at = curl_getdate(value, NULL);
        if (at == (time_t)-1)
            return -1;
        s = (int64_t)at > now_s ? (int64_t)at - now_s : 0;
    }
    return (s > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : s) * 1000;
}

static int64_t retry_after(CURL *e)
{
    struct curl_header *h = NULL;
    if (curl_easy_header(e, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h)
        return -1;
    return retry_after_parse(h->value, (int64_t)time(NULL));
}

static void transfer_failed(CURLcode rc, const struct attempt *at, struct outcome *o)
{
    const char *why = at->errbuf[0] ? at->errbuf : curl_easy_strerror(rc);
    snprintf(o->detail, sizeof o->detail, "%s", why);
    if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
        o->action = OUT_GIVE_UP;
        o->result = "error";
    } else {
        o->action = OUT_RETRY;
        o->result = rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : "connection_error";
    }
}

static void answered(CURL *e, long status, const struct attempt *at, struct outcome *o)
{
    o->status = status;
    snprintf(o->detail, sizeof o->detail, "HTTP %ld%s%.*s", status, at->answer.len ? ": " : "",
             (int)at->answer.len, at->answer.len ? at->answer.data : "");
    if (status >= 200 && status < 300) {
        o->action = OUT_DELIVERED;
        o->result = "success";
    } else if (status == 429 || status == 408 || status >= 500) {
        o->action = OUT_RETRY;
        o->result = status == 429 ? "rate_limited" : status == 408 ? "timeout" : "server_error";
        o->retry_after_ms = retry_after(e);
    } else {
        o->action = OUT_GIVE_UP;
        o->result = "client_error";
    }
}

void http_outcome(CURL *e, CURLcode rc, const struct attempt *at, struct outcome *o)
{
    *o = (struct outcome){.retry_after_ms = -1};
    if (rc != CURLE_OK) {
        transfer_failed(rc, at, o);
        return;
    }
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    answered(e, status, at, o);
}

void attempt_release(struct attempt *at)
{
    if (at->easy)
        curl_easy_cleanup(at->easy);
    curl_slist_free_all(at->headers);
    curl_slist_free_all(at->rcpt);
    free(at->upload);
    free(at->new_root);
    dw_buf_release(&at->answer);
    *at = (struct attempt){0};
}

const struct channel webhook_channel = {
    .kind = "webhook",
    .render = webhook_render,
    .request = webhook_request,
    .outcome = http_outcome,
};

const struct channel *channel_by_kind(const char *kind)
{
    static const struct channel *const all[] = {&webhook_channel, &slack_channel,
                                                &email_channel,   &sms_channel,
                                                &voice_channel,   &pagerduty_channel};
    for (size_t i = 0; kind && i < DW_ARRAY_LEN(all); i++)
        if (strcmp(all[i]->kind, kind) == 0)
            return all[i];
    return NULL;
}

/* ---- reading the message JSON (shared) ---- */

#define NOT_A_PAYLOAD                                                                              \
    "the payload is neither Alertmanager webhook JSON (\"alerts\") nor a message (\"message\")"

json_t *msg_parse(const char *payload, const char **skip)
{
    json_t *doc = json_loads(payload ? payload : "", 0, NULL);
    if (!json_is_object(doc) || !json_is_array(json_object_get(doc, "alerts"))) {
        json_decref(doc);
        *skip = NOT_A_PAYLOAD;
        return NULL;
    }
    return doc;
}

/* The limits of a plain message's members (bytes); fields: at most MSG_FIELDS_MAX. */
#define MSG_TITLE_MAX 1000
#define MSG_THREAD_MAX 256
#define MSG_TEXT_MAX 65536
#define MSG_FIELDS_MAX 10

static bool is_hex_colour(const char *c)
{
    return c[0] == '#' && strlen(c) == 7 && strspn(c + 1, "0123456789abcdefABCDEF") == 6;
}

/* A member that must be a string of at most max bytes when present; NULL when fine. */
static const char *check_string(json_t *m, const char *key, size_t max, const char *why)
{
    json_t *v = json_object_get(m, key);
    if (v && (!json_is_string(v) || json_string_length(v) > max))
        return why;
    return NULL;
}

static const char *check_fields(json_t *fields)
{
    static const char why[] =
        "message: fields must be an array of at most 10 {\"title\", \"value\"} strings";
    if (!fields)
        return NULL;
    if (!json_is_array(fields) || json_array_size(fields) > MSG_FIELDS_MAX)
        return why;
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f)
    {
        if (!json_is_object(f) || !json_is_string(json_object_get(f, "title")) ||
            !json_is_string(json_object_get(f, "value")) ||
            json_string_length(json_object_get(f, "title")) > MSG_TITLE_MAX ||
            json_string_length(json_object_get(f, "value")) > MSG_TITLE_MAX)
            return why;
    }
    return NULL;
}

/* Why m is not a valid plain message; NULL when it is. */
static const char *plain_problem(json_t *m)
{
    if (!json_is_object(m))
        return NOT_A_PAYLOAD;
    const char *why;
    if ((why = check_string(m, "title", MSG_TITLE_MAX,
                            "message: title must be a string of at "
                            "most 1000 bytes")) ||
        (why = check_string(m, "text", MSG_TEXT_MAX,
                            "message: text must be a string of at most "
                            "64 KiB")) ||
        (why = check_string(m, "url", MSG_TEXT_MAX, "message: url must be a string")) ||
        (why =
             check_string(m, "link_text", MSG_TITLE_MAX, "message: link_text must be a string")) ||
        (why = check_string(m, "thread", MSG_THREAD_MAX,
                            "message: thread must be a string of at "
                            "most 256 bytes")) ||
        (why = check_string(m, "color", 16,
                            "message: color must be P0, P1, P2, resolved or "
                            "#rrggbb")) ||
        (why = check_string(m, "unsubscribe", MSG_TITLE_MAX,
                            "message: unsubscribe must be a URL of at most 1000 bytes")) ||
        (why = check_fields(json_object_get(m, "fields"))))
        return why;
    json_t *raw = json_object_get(m, "webhook_body");
    if (raw && !json_is_object(raw))
        return "message: webhook_body must be an object";
    if (!msg_plain_get(m, "title") && !msg_plain_get(m, "text"))
        return "message: a title or a text is required";
    const char *c = msg_plain_get(m, "color");
    if (c && strcmp(c, "P0") != 0 && strcmp(c, "P1") != 0 && strcmp(c, "P2") != 0 &&
        strcmp(c, "resolved") != 0 && !is_hex_colour(c))
        return "message: color must be P0, P1, P2, resolved or #rrggbb";
    return NULL;
}

json_t *msg_load(const char *payload, bool send_resolved, const char **skip)
{
    json_t *doc = json_loads(payload ? payload : "", 0, NULL);
    if (json_is_object(doc) && !json_is_array(json_object_get(doc, "alerts"))) {
        const char *why = plain_problem(json_object_get(doc, "message"));
        if (!why)
            return doc;
        json_decref(doc);
        *skip = why;
        return NULL;
    }
    json_decref(doc);
    doc = msg_parse(payload, skip);
    if (doc && !send_resolved && !drop_resolved(doc)) {
        json_decref(doc);
        *skip = "nothing fires and send_resolved is false";
        return NULL;
    }
    return doc;
}

json_t *msg_plain(json_t *doc)
{
    if (json_is_array(json_object_get(doc, "alerts")))
        return NULL;
    json_t *m = json_object_get(doc, "message");
    return json_is_object(m) ? m : NULL;
}

const char *msg_plain_get(json_t *m, const char *key)
{
    const char *v = json_string_value(json_object_get(m, key));
    return v && *v ? v : NULL;
}

char *msg_thread_key(const char *payload)
{
    const char *skip = NULL;
    json_t *doc = msg_load(payload, true, &skip);
    if (!doc)
        return NULL;
    char *key = NULL;
    json_t *m = msg_plain(doc);
    const char *group = json_string_value(json_object_get(doc, "groupKey"));
    if (m && msg_plain_get(m, "thread"))
        key = dw_asprintf("message:%s", msg_plain_get(m, "thread"));
    else if (!m && group && *group)
        key = dw_asprintf("episode:%s@%lld", group, (long long)msg_first_start(doc));
    json_decref(doc);
    return key;
}

void msg_set_opt(json_t *o, const char *key, const char *value)
{
    if (value && *value)
        json_object_set_new(o, key, json_string(value));
}

char *msg_dump(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    if (!s)
        dw_oom(0);
    return s;
}

char *msg_dump_bounded(msg_build_fn build, const void *conf, json_t *doc)
{
    json_t *o = build(conf, doc, false);
    char *body = msg_dump(o);
    json_decref(o);
    if (strlen(body) > BODY_MAX) {
        free(body);
        o = build(conf, doc, true);
        body = msg_dump(o);
        json_decref(o);
    }
    return body;
}

const char *msg_get(json_t *doc, const char *object, const char *key)
{
    const char *v = json_string_value(json_object_get(json_object_get(doc, object), key));
    return v && *v ? v : NULL;
}

size_t msg_count(json_t *doc, const char *st)
{
    json_t *alerts = json_object_get(doc, "alerts"), *a;
    size_t i, n = 0;
    json_array_foreach(alerts, i, a)
    {
        const char *s = json_string_value(json_object_get(a, "status"));
        n += s && strcmp(s, st) == 0;
    }
    return n;
}

bool msg_resolved(json_t *doc)
{
    const char *st = json_string_value(json_object_get(doc, "status"));
    return st && strcmp(st, "resolved") == 0;
}

static int key_order(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The keys of a JSON object, sorted (at most cap); the count. */
static size_t sorted_keys(json_t *o, const char **keys, size_t cap)
{
    const char *k;
    json_t *v;
    size_t n = 0;
    json_object_foreach(o, k, v)
    {
        if (n < cap && json_is_string(v))
            keys[n++] = k;
    }
    qsort(keys, n, sizeof *keys, key_order);
    return n;
}

#define TITLE_LABELS 32 /* label values in a title, at most */

char *msg_title(json_t *doc)
{
    struct dw_buf b;
    dw_buf_init(&b, 4096);
    if (msg_resolved(doc))
        dw_buf_puts(&b, "[RESOLVED]");
    else
        dw_buf_printf(&b, "[FIRING:%zu]", msg_count(doc, "firing"));
    json_t *group = json_object_get(doc, "groupLabels"),
           *common = json_object_get(doc, "commonLabels");
    const char *keys[TITLE_LABELS];
    size_t n = sorted_keys(group, keys, TITLE_LABELS);
    for (size_t i = 0; i < n; i++)
        dw_buf_printf(&b, " %s", json_string_value(json_object_get(group, keys[i])));
    size_t nc = sorted_keys(common, keys, TITLE_LABELS), extra = 0;
    for (size_t i = 0; i < nc; i++) {
        if (json_object_get(group, keys[i]))
            continue;
        dw_buf_printf(&b, "%s%s", extra++ ? " " : " (",
                      json_string_value(json_object_get(common, keys[i])));
    }
    if (extra)
        dw_buf_putc(&b, ')');
    char *full = dw_buf_steal(&b);
    char *cut = text_cut(full, 250);
    free(full);
    return cut;
}

const char *msg_summary(json_t *doc)
{
    const char *s = msg_get(doc, "commonAnnotations", "summary");
    if (!s)
        s = msg_get(doc, "commonLabels", "alertname");
    if (!s)
        s = msg_get(doc, "groupLabels", "alertname");
    if (!s)
        s = json_string_value(json_object_get(
            json_object_get(json_array_get(json_object_get(doc, "alerts"), 0), "labels"),
            "alertname"));
    return s && *s ? s : "alert";
}

char *msg_silence_url(json_t *doc)
{
    const char *ext = json_string_value(json_object_get(doc, "externalURL"));
    if (!ext || !*ext)
        return NULL;
    json_t *group = json_object_get(doc, "groupLabels");
    const char *keys[TITLE_LABELS];
    size_t n = sorted_keys(group, keys, TITLE_LABELS);
    struct dw_buf m, b;
    dw_buf_init(&m, 0);
    dw_buf_putc(&m, '{');
    for (size_t i = 0; i < n; i++) {
        dw_buf_printf(&m, "%s%s=\"", i ? ", " : "", keys[i]);
        dw_buf_put_label_value(&m, json_string_value(json_object_get(group, keys[i])));
        dw_buf_putc(&m, '"');
    }
    dw_buf_putc(&m, '}');
    dw_buf_init(&b, 0);
    size_t el = strlen(ext);
    dw_buf_append(&b, ext, el && ext[el - 1] == '/' ? el - 1 : el);
    dw_buf_puts(&b, "/#/silences/new?filter=");
    dw_buf_url_encode(&b, m.data);
    dw_buf_release(&m);
    return dw_buf_steal(&b);
}

const char *msg_dashboard_url(json_t *doc)
{
    json_t *alerts = json_object_get(doc, "alerts"), *a;
    size_t i;
    json_array_foreach(alerts, i, a)
    {
        const char *u = json_string_value(json_object_get(a, "generatorURL"));
        if (u && *u)
            return u;
    }
    return NULL;
}

char *msg_alert_line(json_t *alert, size_t max)
{
    struct dw_buf b;
    dw_buf_init(&b, 16384);
    json_t *labels = json_object_get(alert, "labels");
    const char *name = json_string_value(json_object_get(labels, "alertname"));
    dw_buf_puts(&b, name ? name : "alert");
    const char *keys[TITLE_LABELS];
    size_t n = sorted_keys(labels, keys, TITLE_LABELS);
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i], "alertname") != 0)
            dw_buf_printf(&b, " %s=%s", keys[i],
                          json_string_value(json_object_get(labels, keys[i])));
    json_t *ann = json_object_get(alert, "annotations");
    const char *text = json_string_value(json_object_get(ann, "summary"));
    if (!text || !*text)
        text = json_string_value(json_object_get(ann, "description"));
    if (text && *text)
        dw_buf_printf(&b, " - %s", text);
    char *cut = text_cut(b.data ? b.data : "", max);
    dw_buf_release(&b);
    return cut;
}

int64_t msg_first_start(json_t *doc)
{
    json_t *alerts = json_object_get(doc, "alerts"), *a;
    size_t i;
    int64_t first = 0, t;
    json_array_foreach(alerts, i, a)
    {
        const char *s = json_string_value(json_object_get(a, "startsAt"));
        if (s && dw_parse_rfc3339(s, &t) == 0 && (first == 0 || t < first))
            first = t;
    }
    return first;
}

/* ---- text ---- */

char *text_cut(const char *s, size_t max)
{
    size_t i = 0, chars = 0, keep = 0;
    while (s[i]) {
        if (chars == max)
            break;
        if (max >= 1 && chars == max - 1)
            keep = i; /* where the ellipsis goes if the text is longer */
        i++;
        while (((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
        chars++;
    }
    if (!s[i])
        return dw_strdup(s);
    char *out = dw_malloc(keep + 4);
    memcpy(out, s, keep);
    memcpy(out + keep, "\xE2\x80\xA6", 4); /* U+2026 and the NUL */
    return out;
}
