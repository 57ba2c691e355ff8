/*
 * slack.c - the Slack channel: Alertmanager's slack_config over an incoming
 * webhook, with Block Kit.
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
 * Follow-ups: an incoming webhook cannot thread (its answer is "ok", not a
 * message ts), so nothing is threaded. Instead every message of a group
 * starts with the same group identity ("[FIRING:2] HighLatency api",
 * "[RESOLVED] HighLatency api"), so a search or a channel's history shows
 * the episode together.
 *
 * request: `to` (a person's "@user" or a "#channel") replaces the channel:
 * the body is composed again into the attempt. POST application/json.
 *
 * outcome: the webhook's table; Slack's own error text ("channel_not_found",
 * "invalid_payload", "channel_is_archived", "action_prohibited", "no_text"...)
 * is in the detail of a given-up 4xx. 429 waits for Retry-After.
 *
 * Threads: the notifier's delivery thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "notify/notify_internal.h"

#define HEADER_MAX 150 /* Block Kit: plain_text of a header */
#define SECTION_MAX 3000
#define FIELD_MAX 200 /* a label value (Block Kit allows 2000 per field) */
#define FIELDS_MAX 10
#define BUTTON_URL_MAX 3000
#define ALERT_LINES 20
#define ALERT_LINE_MAX 300

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

/* The body; compact leaves out the labels and the alert lines. */
static json_t *message(const void *conf, json_t *doc, bool compact)
{
    const struct y_slack *c = conf;
    char *title = msg_title(doc);
    json_t *o = json_object();
    msg_set_opt(o, "channel", c->channel);
    msg_set_opt(o, "username", c->username);
    msg_set_opt(o, "icon_emoji", c->icon_emoji);
    msg_set_opt(o, "icon_url", c->icon_url);
    if (c->link_names)
        json_object_set_new(o, "link_names", json_true());
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
    char *body = msg_dump_bounded(message, c, doc);
    json_decref(doc);
    return body;
}

static int slack_request(const void *conf, const char *to, const char *body, struct attempt *at,
                         char **err)
{
    const struct y_slack *c = conf;
    if (to && *to &&
        upload_with_member(at, body, "channel", to, "the rendered Slack body is not JSON", err) < 0)
        return -1;
    char *url = secret_get(c->api_url, c->api_url_file, err);
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

static void slack_outcome(CURL *e, CURLcode rc, const struct attempt *at, struct outcome *o)
{
    http_outcome(e, rc, at, o);
    if (rc == CURLE_OK && o->action == OUT_GIVE_UP)
        snprintf(o->detail, sizeof o->detail, "slack: HTTP %ld %.*s", o->status,
                 (int)at->answer.len, at->answer.len ? at->answer.data : "(no error text)");
}

const struct channel slack_channel = {
    .kind = "slack",
    .render = slack_render,
    .request = slack_request,
    .outcome = slack_outcome,
};
