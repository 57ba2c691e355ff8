/*
 * slack.c - the Slack channel: Alertmanager's slack_config over an incoming
 * webhook or the Web API (chat.postMessage, threads), with Block Kit.
 *
 * DESIGN
 * render: one JSON body per message, built from the group's v4 document:
 *   channel / username / icon_emoji / icon_url / link_names from the
 *   configuration; "text", the fallback Slack shows in notifications;
 *   "blocks": a header with the group title, a section with the summary and
 *   priority / status fields, a section with the common labels as fields, a
 *   context with the earliest startsAt, and an actions block of URL
 *   buttons: dashboard (the alert's generatorURL), silence (Alertmanager's
 *   silence form for the group labels under externalURL) and, for a page
 *   from the on-call module, acknowledge and resolve (its signed links);
 *   "attachments": one attachment with the colour of the priority (or
 *   resolved) and one line per alert.
 * Titles and texts are not Go templates here: the title is Alertmanager's
 * default ("[FIRING:2] HighLatency api (prod)"), the summary is
 * commonAnnotations.summary or the alertname. A configured title, text or
 * colour is used literally (the configuration check drops templates).
 * Every piece is cut to Block Kit's limits (header 150, section 3000,
 * field 2000 characters, 10 fields) and the body is bounded by BODY_MAX: a
 * body still over it is rendered again without labels and alert lines.
 * The secret webhook URL is never part of the body (bodies may be stored
 * and logged); it is read at each request.
 *
 * A plain message ({"message": {...}}, notify_internal.h) renders as "text"
 * (title and text), a header (the title, 150), a mrkdwn section (the text,
 * escaped and cut like the summary), a section of its fields, an actions
 * block with one URL button (link_text, default "Open") and, when it names
 * a colour (P0, P1, P2, resolved or #rrggbb; else the configured one), an
 * attachment carrying it. Compact (over BODY_MAX): shorter text, no fields.
 *
 * Two modes, by the configuration:
 *  - incoming webhook (api_url / api_url_file): POST application/json to the
 *    secret URL; `to` (a person's "@user" or a "#channel") replaces the
 *    channel. It cannot thread (its answer is "ok", not a message ts): every
 *    message of a group starts with the same group identity instead.
 *  - Web API (app_token / app_token_file, Alertmanager >= 0.28's keys):
 *    POST app_url (chat.postMessage) with "Authorization: Bearer <token>"
 *    and application/json; charset=utf-8; "channel" is `to` or the
 *    configured channel. Slack answers 200 {"ok":true,"channel":"C..",
 *    "ts":".."}; the notifier keeps the ts of a thread's first delivered
 *    message (notify_threads) and hands it back (at->thread_channel /
 *    thread_ts), so later messages of the thread carry "thread_ts" and go to
 *    the root's channel id. Threads: a plain message's "thread"; an alert
 *    group's firing episode (msg_thread_key), so an episode's "changed",
 *    "repeat" and "resolved" reply under its "fired" message.
 *
 * outcome: the webhook's table; a given-up 4xx carries Slack's own error text
 * ("channel_not_found", "invalid_payload", "channel_is_archived", "no_text"...)
 * in the detail; 429 waits for Retry-After. A 2xx that is the Web API's JSON
 * with ok:false is classified by its error: ratelimited / rate_limited,
 * internal_error, fatal_error, service_unavailable and request_timeout are
 * retried (Retry-After honoured), every other error (invalid_auth,
 * not_authed, channel_not_found, is_archived, msg_too_long, no_text,
 * invalid_blocks, ...) is given up with "slack: <error>" in the detail.
 * Neither the webhook URL nor the token is ever part of a body or a log.
 *
 * Threads: the notifier's delivery thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "notify/notify_internal.h"

#define HEADER_MAX 150 /* Block Kit: plain_text of a header */
#define SECTION_MAX 3000
#define FIELD_MAX 200 /* a label value (Block Kit allows 2000 per field) */
#define FIELDS_MAX 10
#define BUTTON_URL_MAX 3000
#define ALERT_LINES 20
#define ALERT_LINE_MAX 300
#define DEFAULT_APP_URL "https://slack.com/api/chat.postMessage"
#define WEB_API_ANSWER_KEEP (BODY_MAX + 8192) /* chat.postMessage echoes the message */

/* mrkdwn text: &, < and > are escaped, the rest is literal. */
static char *mrkdwn(const char *s, size_t max)
{
    char *cut = text_cut(s, max);
    struct dw_buf b;
    dw_buf_init(&b, 0);
    for (const char *p = cut; *p; p++) {
        if (*p == '&')
            dw_buf_puts(&b, "&amp;");
        else if (*p == '<')
            dw_buf_puts(&b, "&lt;");
        else if (*p == '>')
            dw_buf_puts(&b, "&gt;");
        else
            dw_buf_putc(&b, *p);
    }
    free(cut);
    return dw_buf_steal(&b);
}

static json_t *text_obj(const char *type, const char *text)
{
    return json_pack("{s:s,s:s}", "type", type, "text", text);
}

/* A mrkdwn field "*name*\nvalue". */
static json_t *field(const char *name, const char *value)
{
    char *v = mrkdwn(value, FIELD_MAX);
    char *n = mrkdwn(name, 50);
    char *t = dw_asprintf("*%s*\n%s", n, v);
    json_t *f = text_obj("mrkdwn", t);
    free(t);
    free(n);
    free(v);
    return f;
}

/* A plain message's colour name (P0, P1, P2, resolved) or #rrggbb as a colour; NULL: none. */
static const char *named_colour(const char *name)
{
    if (!name)
        return NULL;
    if (strcmp(name, "P0") == 0)
        return "#d00000";
    if (strcmp(name, "P1") == 0)
        return "#ff9900";
    if (strcmp(name, "P2") == 0)
        return "#439fe0";
    if (strcmp(name, "resolved") == 0)
        return "#2eb67d";
    return name;
}

static const char *colour(const struct y_slack *c, json_t *doc)
{
    if (c->color)
        return c->color;
    if (msg_resolved(doc))
        return "#2eb67d";
    const char *p = json_string_value(json_object_get(doc, "priority"));
    if (p && strcmp(p, "P0") == 0)
        return "#d00000";
    if (p && strcmp(p, "P1") == 0)
        return "#ff9900";
    return "#439fe0";
}

static json_t *header_block(const struct y_slack *c, const char *title)
{
    char *t = text_cut(c->title ? c->title : title, HEADER_MAX);
    json_t *b = json_pack("{s:s,s:o}", "type", "header", "text", text_obj("plain_text", t));
    free(t);
    return b;
}

static json_t *summary_block(const struct y_slack *c, json_t *doc)
{
    char *text = mrkdwn(c->text ? c->text : msg_summary(doc), SECTION_MAX - 4);
    char *bold = dw_asprintf(c->text ? "%s" : "*%s*", text);
    const char *prio = json_string_value(json_object_get(doc, "priority"));
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    char *status = dw_asprintf("%s (%zu firing, %zu resolved)%s%s",
                               msg_resolved(doc) ? "resolved" : "firing", msg_count(doc, "firing"),
                               msg_count(doc, "resolved"), kind ? ", " : "", kind ? kind : "");
    json_t *fields =
        json_pack("[o,o]", field("Priority", prio ? prio : "none"), field("Status", status));
    json_t *b = json_pack("{s:s,s:o,s:o}", "type", "section", "text", text_obj("mrkdwn", bold),
                          "fields", fields);
    free(status);
    free(bold);
    free(text);
    return b;
}

/* The common labels but alertname (it is in the title), as fields; NULL when none. */
static json_t *labels_block(json_t *doc)
{
    json_t *labels = json_object_get(doc, "commonLabels"), *v;
    json_t *fields = json_array();
    const char *k;
    json_object_foreach(labels, k, v)
    {
        if (json_array_size(fields) < FIELDS_MAX && json_is_string(v) &&
            strcmp(k, "alertname") != 0)
            json_array_append_new(fields, field(k, json_string_value(v)));
    }
    if (!json_array_size(fields)) {
        json_decref(fields);
        return NULL;
    }
    return json_pack("{s:s,s:o}", "type", "section", "fields", fields);
}

static json_t *context_block(json_t *doc)
{
    int64_t first = msg_first_start(doc);
    char when[40] = "unknown";
    if (first)
        dw_format_rfc3339(first, when, sizeof when);
    char *t = dw_asprintf("Started %s", when);
    json_t *b = json_pack("{s:s,s:[o]}", "type", "context", "elements", text_obj("mrkdwn", t));
    free(t);
    return b;
}

static void add_button(json_t *elements, const char *id, const char *label, const char *url,
                       const char *style)
{
    if (!url || !*url || strlen(url) > BUTTON_URL_MAX)
        return;
    json_t *b = json_pack("{s:s,s:s,s:o,s:s}", "type", "button", "action_id", id, "text",
                          text_obj("plain_text", label), "url", url);
    if (style)
        json_object_set_new(b, "style", json_string(style));
    json_array_append_new(elements, b);
}

/* Dashboard, silence, and for a page acknowledge and resolve; NULL when no button applies. */
static json_t *actions_block(json_t *doc)
{
    json_t *el = json_array();
    add_button(el, "dashboard", "Dashboard", msg_dashboard_url(doc), NULL);
    char *silence = msg_silence_url(doc);
    add_button(el, "silence", "Silence", silence, NULL);
    free(silence);
    json_t *page = json_object_get(doc, "page");
    if (json_is_object(page) && !msg_resolved(doc)) {
        add_button(el, "acknowledge", "Acknowledge",
                   json_string_value(json_object_get(page, "ack_url")), "primary");
        add_button(el, "resolve", "Resolve",
                   json_string_value(json_object_get(page, "resolve_url")), "danger");
    }
    if (!json_array_size(el)) {
        json_decref(el);
        return NULL;
    }
    return json_pack("{s:s,s:o}", "type", "actions", "elements", el);
}

static char *alert_lines(json_t *doc)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    json_t *alerts = json_object_get(doc, "alerts"), *a;
    size_t i;
    json_array_foreach(alerts, i, a)
    {
        if (i == ALERT_LINES) {
            dw_buf_printf(&b, "\n... and %zu more", json_array_size(alerts) - i);
            break;
        }
        const char *st = json_string_value(json_object_get(a, "status"));
        char *line = msg_alert_line(a, ALERT_LINE_MAX);
        char *esc = mrkdwn(line, ALERT_LINE_MAX);
        dw_buf_printf(&b, "%s%s %s", i ? "\n" : "",
                      st && strcmp(st, "resolved") == 0 ? ":white_check_mark:" : ":fire:", esc);
        free(esc);
        free(line);
    }
    return dw_buf_steal(&b);
}

static void append_opt(json_t *arr, json_t *item)
{
    if (item)
        json_array_append_new(arr, item);
}

/* The members every body starts with: the configured channel and identity. */
static json_t *body_head(const struct y_slack *c)
{
    json_t *o = json_object();
    msg_set_opt(o, "channel", c->channel);
    msg_set_opt(o, "username", c->username);
    msg_set_opt(o, "icon_emoji", c->icon_emoji);
    msg_set_opt(o, "icon_url", c->icon_url);
    if (c->link_names)
        json_object_set_new(o, "link_names", json_true());
    return o;
}

/* A plain message's fields as a section; NULL when it has none. */
static json_t *plain_fields_block(json_t *m)
{
    json_t *fields = json_array(), *f;
    size_t i;
    json_array_foreach(json_object_get(m, "fields"), i, f)
    {
        if (i < FIELDS_MAX)
            json_array_append_new(fields, field(json_string_value(json_object_get(f, "title")),
                                                json_string_value(json_object_get(f, "value"))));
    }
    if (!json_array_size(fields)) {
        json_decref(fields);
        return NULL;
    }
    return json_pack("{s:s,s:o}", "type", "section", "fields", fields);
}

/* A plain message's body; compact cuts the text shorter and leaves out the fields. */
static json_t *plain_message(const void *conf, json_t *doc, bool compact)
{
    const struct y_slack *c = conf;
    json_t *m = msg_plain(doc);
    const char *title = msg_plain_get(m, "title"), *text = msg_plain_get(m, "text");
    const char *url = msg_plain_get(m, "url"), *label = msg_plain_get(m, "link_text");
    json_t *o = body_head(c);
    char *both =
        dw_asprintf("%s%s%s", title ? title : "", title && text ? "\n" : "", text ? text : "");
    char *fallback = mrkdwn(both, compact ? 1000 : SECTION_MAX);
    json_object_set_new(o, "text", json_string(fallback));
    json_t *blocks = json_array();
    if (title) {
        char *t = text_cut(title, HEADER_MAX);
        json_array_append_new(
            blocks, json_pack("{s:s,s:o}", "type", "header", "text", text_obj("plain_text", t)));
        free(t);
    }
    if (text) {
        char *t = mrkdwn(text, compact ? 1000 : SECTION_MAX);
        json_array_append_new(
            blocks, json_pack("{s:s,s:o}", "type", "section", "text", text_obj("mrkdwn", t)));
        free(t);
    }
    append_opt(blocks, compact ? NULL : plain_fields_block(m));
    json_t *el = json_array();
    char *l = text_cut(label ? label : "Open", 75);
    add_button(el, "open", l, url, NULL);
    free(l);
    if (json_array_size(el))
        json_array_append_new(blocks, json_pack("{s:s,s:o}", "type", "actions", "elements", el));
    else
        json_decref(el);
    json_object_set_new(o, "blocks", blocks);
    const char *col = named_colour(msg_plain_get(m, "color"));
    if (!col)
        col = c->color;
    if (col)
        json_object_set_new(o, "attachments",
                            json_pack("[{s:s,s:s}]", "color", col, "fallback", fallback));
    free(fallback);
    free(both);
    return o;
}

/* The body; compact leaves out the labels and the alert lines. */
static json_t *message(const void *conf, json_t *doc, bool compact)
{
    const struct y_slack *c = conf;
    char *title = msg_title(doc);
    json_t *o = body_head(c);
    char *summary = mrkdwn(msg_summary(doc), 1000);
    char *fallback = dw_asprintf("%s: %s", title, summary);
    json_object_set_new(o, "text", json_string(fallback));
    json_t *blocks = json_array();
    append_opt(blocks, header_block(c, title));
    append_opt(blocks, summary_block(c, doc));
    append_opt(blocks, compact ? NULL : labels_block(doc));
    append_opt(blocks, context_block(doc));
    append_opt(blocks, actions_block(doc));
    json_object_set_new(o, "blocks", blocks);
    char *lines = compact ? dw_strdup("") : alert_lines(doc);
    json_object_set_new(o, "attachments",
                        json_pack("[{s:s,s:s,s:s,s:[s]}]", "color", colour(c, doc), "fallback",
                                  fallback, "text", lines, "mrkdwn_in", "text"));
    free(lines);
    free(fallback);
    free(summary);
    free(title);
    return o;
}

static char *slack_render(const void *conf, const char *payload, const char **skip)
{
    const struct y_slack *c = conf;
    json_t *doc = msg_load(payload, c->send_resolved, skip);
    if (!doc)
        return NULL;
    char *body = msg_dump_bounded(msg_plain(doc) ? plain_message : message, c, doc);
    json_decref(doc);
    return body;
}

static bool web_api(const struct y_slack *c)
{
    return c->app_token || c->app_token_file;
}

/* The channel a message goes to: the destination, else the configured channel; NULL: none. */
static const char *destination(const struct y_slack *c, const char *to)
{
    return to && *to ? to : c->channel && *c->channel ? c->channel : NULL;
}

bool slack_has_channel(const struct y_slack *c, const char *to)
{
    return !web_api(c) || destination(c, to);
}

/* The body with channel (and the thread's root) set, into at->upload. */
static int compose(struct attempt *at, const char *body, const char *channel, const char *thread_ts,
                   char **err)
{
    json_t *o = json_loads(body, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        *err = dw_strdup("the rendered Slack body is not JSON");
        return -1;
    }
    if (channel)
        json_object_set_new(o, "channel", json_string(channel));
    if (thread_ts)
        json_object_set_new(o, "thread_ts", json_string(thread_ts));
    at->upload = msg_dump(o);
    at->upload_len = strlen(at->upload);
    json_decref(o);
    return 0;
}

/* chat.postMessage with the bot token; a reply names its root's channel id and ts. */
static int web_api_request(const struct y_slack *c, const char *to, const char *body,
                           struct attempt *at, char **err)
{
    const char *channel = destination(c, to);
    if (!channel) {
        *err = dw_strdup("no channel: the Slack Web API needs channel or the message's to");
        return -1;
    }
    bool reply = at->thread_ts && at->thread_channel && *at->thread_channel;
    if (compose(at, body, reply ? at->thread_channel : channel, reply ? at->thread_ts : NULL, err) <
        0)
        return -1;
    char *token = dw_secret_get(c->app_token, c->app_token_file, err);
    if (!token) {
        if (!*err)
            *err = dw_strdup("no app_token");
        return -1;
    }
    char *auth = dw_asprintf("Authorization: Bearer %s", token);
    at->headers = curl_slist_append(at->headers, auth);
    free(auth);
    free(token);
    at->answer_keep = WEB_API_ANSWER_KEEP; /* the answer echoes the message; its ts is needed */
    return http_post(at, c->app_url ? c->app_url : DEFAULT_APP_URL,
                     "application/json; charset=utf-8", at->upload, at->upload_len, c->timeout_ms,
                     &c->http, err);
}

static int slack_request(const void *conf, const char *to, const char *body, struct attempt *at,
                         char **err)
{
    const struct y_slack *c = conf;
    if (web_api(c))
        return web_api_request(c, to, body, at, err);
    if (to && *to && compose(at, body, to, NULL, err) < 0)
        return -1;
    char *url = dw_secret_get(c->api_url, c->api_url_file, err);
    if (!url) {
        if (!*err)
            *err = dw_strdup("no api_url");
        return -1;
    }
    const char *b = at->upload ? at->upload : body;
    int rc = http_post(at, url, "application/json", b, strlen(b), c->timeout_ms, &c->http, err);
    free(url); /* libcurl copied it */
    return rc;
}

/* Web API errors a later attempt can get through (Slack's side or its rate limit). */
static bool transient(const char *error, bool *rate)
{
    static const char *const rated[] = {"ratelimited", "rate_limited"};
    static const char *const passing[] = {"fatal_error", "internal_error", "service_unavailable",
                                          "request_timeout"};
    for (size_t i = 0; i < DW_ARRAY_LEN(rated); i++)
        if (strcmp(error, rated[i]) == 0)
            return *rate = true;
    for (size_t i = 0; i < DW_ARRAY_LEN(passing); i++)
        if (strcmp(error, passing[i]) == 0)
            return true;
    return false;
}

/* A 2xx answer that is the Web API's JSON: ok:false classified by its error; ok:true gives the
 * message's channel id and ts. An incoming webhook's "ok" is not JSON and stays delivered. */
static void web_api_answer(CURL *e, const struct attempt *at, struct outcome *o)
{
    json_t *a = at->answer.len ? json_loadb(at->answer.data, at->answer.len, 0, NULL) : NULL;
    json_t *ok = json_object_get(a, "ok");
    if (json_is_true(ok)) {
        const char *ch = json_string_value(json_object_get(a, "channel"));
        const char *ts = json_string_value(json_object_get(a, "ts"));
        if (ch && ts && strlen(ch) < sizeof o->root_channel && strlen(ts) < sizeof o->root_ts) {
            snprintf(o->root_channel, sizeof o->root_channel, "%s", ch);
            snprintf(o->root_ts, sizeof o->root_ts, "%s", ts);
        }
    } else if (json_is_false(ok)) {
        const char *error = json_string_value(json_object_get(a, "error"));
        bool rate = false;
        snprintf(o->detail, sizeof o->detail, "slack: %s", error ? error : "ok:false");
        if (error && transient(error, &rate)) {
            o->action = OUT_RETRY;
            o->result = rate ? "rate_limited" : "server_error";
            struct curl_header *h = NULL;
            if (curl_easy_header(e, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h)
                o->retry_after_ms = retry_after_parse(h->value, (int64_t)time(NULL));
        } else {
            o->action = OUT_GIVE_UP;
            o->result = "client_error";
        }
    }
    json_decref(a);
}

static void slack_outcome(CURL *e, CURLcode rc, const struct attempt *at, struct outcome *o)
{
    http_outcome(e, rc, at, o);
    if (rc == CURLE_OK && o->action == OUT_DELIVERED)
        web_api_answer(e, at, o);
    else if (rc == CURLE_OK && o->action == OUT_GIVE_UP)
        snprintf(o->detail, sizeof o->detail, "slack: HTTP %ld %.*s", o->status,
                 (int)at->answer.len, at->answer.len ? at->answer.data : "(no error text)");
}

/* A thread needs the Web API (an incoming webhook's answer has no ts). */
static char *slack_thread_dest(const void *conf, const char *to)
{
    const struct y_slack *c = conf;
    const char *channel = destination(c, to);
    return web_api(c) && channel ? dw_strdup(channel) : NULL;
}

const struct channel slack_channel = {
    .kind = "slack",
    .render = slack_render,
    .request = slack_request,
    .outcome = slack_outcome,
    .thread_dest = slack_thread_dest,
};
