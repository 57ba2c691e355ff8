/*
 * pagerduty.c - the PagerDuty channel: Alertmanager's pagerduty_config over
 * the Events API v2 (POST https://events.pagerduty.com/v2/enqueue).
 *
 * DESIGN
 * render: one event per message.
 *   event_action: "resolve" when the group is resolved, "acknowledge" when
 *   the on-call module reports an acknowledgement (kind "acknowledged"),
 *   else "trigger".
 *   dedup_key: the lower-case hex SHA-256 of the groupKey, as Alertmanager
 *   computes it, so trigger, acknowledge and resolve of a group meet in one
 *   PagerDuty alert (and an Alertmanager replaced by dojowatch keeps its
 *   incidents).
 *   A trigger carries payload {summary (the configured description or the
 *   group title and summary, at most 1024 characters), source (configured,
 *   else client), severity (configured, else P0 critical, P1 error, P2
 *   warning, no priority error), timestamp (earliest startsAt), component,
 *   group, class, custom_details {firing, resolved (one line per alert, at
 *   most 20 each), num_firing, num_resolved, priority, the configured
 *   details}}, client, client_url (default externalURL), links (dashboard,
 *   silence, the configured ones). Acknowledge and resolve carry only the
 *   keys PagerDuty reads for them: routing_key, event_action, dedup_key.
 * The routing key is a secret: it is not in the rendered body (bodies may be
 * stored and logged); request adds it. `to`, when given, is a routing key
 * that replaces the configured one (a person's or a team's service).
 * Bodies are bounded by BODY_MAX: a trigger over it drops its alert lines.
 *
 * outcome: the webhook's table: 202 delivered, 429 and 5xx retried, 400
 * (invalid event) given up with PagerDuty's "errors" in the detail.
 *
 * Threads: the notifier's delivery thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "notify/notify_internal.h"

#define SUMMARY_MAX 1024
#define LINES_MAX 20
#define ALERT_LINE_MAX 512

static const char *action_of(json_t *doc)
{
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    if (msg_resolved(doc))
        return "resolve";
    return kind && strcmp(kind, "acknowledged") == 0 ? "acknowledge" : "trigger";
}

static const char *severity_of(const struct y_pagerduty *c, json_t *doc)
{
    if (c->severity)
        return c->severity;
    const char *p = json_string_value(json_object_get(doc, "priority"));
    if (p && strcmp(p, "P0") == 0)
        return "critical";
    if (p && strcmp(p, "P2") == 0)
        return "warning";
    return "error";
}

static char *summary_of(const struct y_pagerduty *c, json_t *doc)
{
    if (c->description)
        return text_cut(c->description, SUMMARY_MAX);
    char *title = msg_title(doc);
    const char *summary = msg_summary(doc);
    const char *name = msg_get(doc, "commonLabels", "alertname");
    char *full = name && strcmp(name, summary) == 0 ? dw_strdup(title)
                                                    : dw_asprintf("%s: %s", title, summary);
    char *cut = text_cut(full, SUMMARY_MAX);
    free(full);
    free(title);
    return cut;
}

/* One line per alert of status st, "" when none (as Alertmanager's template gives). */
static json_t *lines(json_t *doc, const char *st, bool none)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    json_t *alerts = json_object_get(doc, "alerts"), *a;
    size_t i, n = 0, total = msg_count(doc, st);
    json_array_foreach(alerts, i, a)
    {
        const char *s = json_string_value(json_object_get(a, "status"));
        if (none || !s || strcmp(s, st) != 0)
            continue;
        if (n++ == LINES_MAX) {
            dw_buf_printf(&b, "... and %zu more\n", total - LINES_MAX);
            break;
        }
        char *line = msg_alert_line(a, ALERT_LINE_MAX);
        dw_buf_printf(&b, "%s\n", line);
        free(line);
    }
    json_t *s = json_string(b.data ? b.data : "");
    dw_buf_release(&b);
    return s;
}

static json_t *details(const struct y_pagerduty *c, json_t *doc, bool compact)
{
    json_t *d = json_object();
    json_object_set_new(d, "firing", lines(doc, "firing", compact));
    json_object_set_new(d, "resolved", lines(doc, "resolved", compact));
    json_object_set_new(d, "num_firing", json_integer((json_int_t)msg_count(doc, "firing")));
    json_object_set_new(d, "num_resolved", json_integer((json_int_t)msg_count(doc, "resolved")));
    const char *prio = json_string_value(json_object_get(doc, "priority"));
    if (prio)
        json_object_set_new(d, "priority", json_string(prio));
    for (size_t i = 0; i < c->ndetails; i++)
        if (c->details[i].value)
            json_object_set_new(d, c->details[i].key, json_string(c->details[i].value));
    return d;
}

static void add_link(json_t *links, const char *href, const char *text)
{
    if (href && *href)
        json_array_append_new(links, json_pack("{s:s,s:s}", "href", href, "text", text));
}

static json_t *links_of(const struct y_pagerduty *c, json_t *doc)
{
    json_t *links = json_array();
    add_link(links, msg_dashboard_url(doc), "Dashboard");
    char *silence = msg_silence_url(doc);
    add_link(links, silence, "Silence");
    free(silence);
    for (size_t i = 0; i < c->nlinks; i++)
        add_link(links, c->links[i].href, c->links[i].text ? c->links[i].text : c->links[i].href);
    return links;
}

static json_t *trigger_payload(const struct y_pagerduty *c, json_t *doc, bool compact)
{
    json_t *p = json_object();
    char *summary = summary_of(c, doc);
    json_object_set_new(p, "summary", json_string(summary));
    free(summary);
    json_object_set_new(p, "source", json_string(c->source ? c->source : c->client));
    json_object_set_new(p, "severity", json_string(severity_of(c, doc)));
    int64_t first = msg_first_start(doc);
    if (first) {
        char ts[40];
        dw_format_rfc3339(first, ts, sizeof ts);
        json_object_set_new(p, "timestamp", json_string(ts));
    }
    msg_set_opt(p, "component", c->component);
    msg_set_opt(p, "group", c->group);
    msg_set_opt(p, "class", c->class_);
    json_object_set_new(p, "custom_details", details(c, doc, compact));
    return p;
}

static json_t *event(const void *conf, json_t *doc, bool compact)
{
    const struct y_pagerduty *c = conf;
    const char *key = json_string_value(json_object_get(doc, "groupKey"));
    char dedup[65];
    dw_sha256_hex(key ? key : "", key ? strlen(key) : 0, dedup);
    const char *action = action_of(doc);
    json_t *o = json_pack("{s:s,s:s}", "event_action", action, "dedup_key", dedup);
    if (strcmp(action, "trigger") != 0)
        return o;
    json_object_set_new(o, "payload", trigger_payload(c, doc, compact));
    msg_set_opt(o, "client", c->client);
    const char *ext = json_string_value(json_object_get(doc, "externalURL"));
    msg_set_opt(o, "client_url", c->client_url ? c->client_url : ext);
    json_object_set_new(o, "links", links_of(c, doc));
    return o;
}

static char *pagerduty_render(const void *conf, const char *payload, const char **skip)
{
    const struct y_pagerduty *c = conf;
    json_t *doc = msg_load(payload, true, skip);
    if (doc && msg_plain(doc)) {
        json_decref(doc);
        *skip = MSG_NOT_FOR_PLAIN("pagerduty");
        return NULL;
    }
    if (!doc)
        return NULL;
    if (!c->send_resolved && msg_resolved(doc)) {
        json_decref(doc);
        *skip = "the group is resolved and send_resolved is false";
        return NULL;
    }
    char *body = msg_dump_bounded(event, c, doc);
    json_decref(doc);
    return body;
}

static int pagerduty_request(const void *conf, const char *to, const char *body, struct attempt *at,
                             char **err)
{
    const struct y_pagerduty *c = conf;
    char *key = to && *to ? dw_strdup(to) : dw_secret_get(c->routing_key, c->routing_key_file, err);
    if (!key) {
        if (!*err)
            *err = dw_strdup("no routing_key");
        return -1;
    }
    int rc = upload_with_member(at, body, "routing_key", key,
                                "the rendered PagerDuty event is not JSON", err);
    free(key);
    if (rc < 0)
        return -1;
    return http_post(at, c->url, "application/json", at->upload, at->upload_len, c->timeout_ms,
                     &c->http, err);
}

/* "invalid event: a; b" from {"status","message","errors":[...]}. */
static void pd_detail(const struct attempt *at, struct outcome *o)
{
    json_t *ans = at->answer.len ? json_loadb(at->answer.data, at->answer.len, 0, NULL) : NULL;
    const char *status = json_string_value(json_object_get(ans, "status"));
    json_t *errors = json_object_get(ans, "errors"), *e;
    struct dw_buf b;
    dw_buf_init(&b, sizeof o->detail);
    size_t i;
    json_array_foreach(errors, i, e)
    {
        if (json_is_string(e))
            dw_buf_printf(&b, "%s%s", b.len ? "; " : "", json_string_value(e));
    }
    if (ans && (status || b.len))
        snprintf(o->detail, sizeof o->detail, "pagerduty: HTTP %ld %s: %s", o->status,
                 status ? status : "error", b.len ? b.data : "");
    else
        snprintf(o->detail, sizeof o->detail, "pagerduty: HTTP %ld %.*s", o->status,
                 (int)at->answer.len, at->answer.len ? at->answer.data : "");
    dw_buf_release(&b);
    json_decref(ans);
}

static void pagerduty_outcome(CURL *e, CURLcode rc, const struct attempt *at, struct outcome *o)
{
    http_outcome(e, rc, at, o);
    if (rc == CURLE_OK && o->action == OUT_GIVE_UP)
        pd_detail(at, o);
}

const struct channel pagerduty_channel = {
    .kind = "pagerduty",
    .render = pagerduty_render,
    .request = pagerduty_request,
    .outcome = pagerduty_outcome,
};
