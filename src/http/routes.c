/*
 * routes.c - the daemon's route table, and the handlers of the basic
 * endpoints: health, readiness, reload, self-metrics and the test clock.
 *
 * Every route states its method, path, handler, the role it needs and its
 * body class here, in one table, so access rules can be reviewed at a glance.
 * Health and metrics are open (load balancers and Prometheus scrape them
 * without credentials); everything else names a role.
 *
 * Threads: handlers run on libmicrohttpd's polling threads; they only call
 * the app's thread-safe callbacks and core's thread-safe functions.
 */
#include <string.h>

#include "http_internal.h"

static void healthy(struct dw_http_request *req, struct dw_http_response *resp,
                    const struct dw_http_app *app)
{
    dw_http_resp_text(resp, 200, "dojowatch is Healthy.\n");
}

static void ready(struct dw_http_request *req, struct dw_http_response *resp,
                  const struct dw_http_app *app)
{
    if (app->ready && app->ready(app->ctx))
        dw_http_resp_text(resp, 200, "dojowatch is Ready.\n");
    else
        dw_http_resp_text(resp, 503, "dojowatch is not ready.\n");
}

/*
 * A failed reload leaves the running configuration in place, so the problem
 * is the file the operator wrote: 400 bad_data with the loader's reason.
 */
static void reload(struct dw_http_request *req, struct dw_http_response *resp,
                   const struct dw_http_app *app)
{
    if (!app->reload) {
        dw_http_resp_error(resp, 501, "unavailable", "reload is not available in this process");
        return;
    }
    char *err = NULL;
    if (app->reload(app->ctx, &err) == 0) {
        dw_log_kv(DW_LOG_INFO, "http", "configuration reloaded", "principal",
                  dw_http_req_principal(req), NULL);
        dw_http_resp_success(resp, NULL);
    } else {
        dw_log_kv(DW_LOG_WARN, "http", "reload failed; the previous configuration stays",
                  "principal", dw_http_req_principal(req), "err", err ? err : "unknown", NULL);
        dw_http_resp_error(resp, 400, "bad_data",
                           "reload failed, the previous configuration is still active: %s",
                           err ? err : "unknown error");
    }
    free(err);
}

static void metrics(struct dw_http_request *req, struct dw_http_response *resp,
                    const struct dw_http_app *app)
{
    struct dw_buf out;
    dw_buf_init(&out, 0); /* our own registry, not outside input */
    dw_metrics_write(&out);
    size_t len = out.len;
    dw_http_resp_body(resp, 200, "text/plain; version=0.0.4; charset=utf-8", dw_buf_steal(&out),
                      len);
}

static void clock_now(struct dw_http_response *resp)
{
    char text[40];
    int64_t now = dw_now_ms();
    dw_format_rfc3339(now, text, sizeof text);
    json_t *data = json_object();
    json_object_set_new(data, "now", json_string(text));
    json_object_set_new(data, "now_ms", json_integer(now));
    dw_http_resp_success(resp, data);
}

/*
 * POST /-/test/clock: advance=<duration> or set=<RFC 3339>. Switches the
 * process to the manual clock on first use. Time never moves backwards:
 * timers, phases and stored samples all assume it only grows.
 */
static void test_clock(struct dw_http_request *req, struct dw_http_response *resp,
                       const struct dw_http_app *app)
{
    const char *advance = dw_http_req_arg(req, "advance");
    const char *set = dw_http_req_arg(req, "set");
    int64_t v;
    if ((advance != NULL) == (set != NULL)) {
        dw_http_resp_error(resp, 400, "bad_data",
                           "send exactly one of advance=<duration> or set=<RFC 3339 time>");
        return;
    }
    if (advance && dw_parse_duration(advance, &v) < 0) {
        dw_http_resp_error(resp, 400, "bad_data",
                           "advance: '%s' is not a duration like 90s or "
                           "1h30m",
                           advance);
        return;
    }
    if (set && dw_parse_rfc3339(set, &v) < 0) {
        dw_http_resp_error(resp, 400, "bad_data",
                           "set: '%s' is not an RFC 3339 time like 2025-01-01T00:00:00Z", set);
        return;
    }
    int64_t now = dw_now_ms();
    if (set && v < now) {
        dw_http_resp_error(resp, 400, "bad_data",
                           "set: the test clock cannot move backwards (%s is before now)", set);
        return;
    }
    if (!dw_clock_is_manual())
        dw_clock_set_manual(now);
    if (advance)
        dw_clock_advance(v);
    else
        dw_clock_set_manual(v);
    dw_log_kv(DW_LOG_INFO, "http", "test clock moved", "principal", dw_http_req_principal(req),
              advance ? "advance" : "set", advance ? advance : set, NULL);
    clock_now(resp);
}

static const struct dw_http_route routes[] = {
    /* Open: probes and scrapers carry no credentials. */
    {"GET", "/-/healthy", healthy, DW_ROLE_NONE, DW_BODY_NONE, "/-/healthy", false},
    {"GET", "/-/ready", ready, DW_ROLE_NONE, DW_BODY_NONE, "/-/ready", false},
    {"GET", "/metrics", metrics, DW_ROLE_NONE, DW_BODY_NONE, "/metrics", false},
    {"GET", "/assets/{name}", dw_api_asset_get, DW_ROLE_NONE, DW_BODY_NONE, "/assets/{name}",
     false},
    /*
     * Signing in (api_auth.c). Login is open; logout is open so an expired
     * session can still clear its cookie (a live one needs its CSRF token);
     * me takes any signed-in principal, token or session.
     */
    {"POST", "/api/auth/login", dw_api_auth_login, DW_ROLE_NONE, DW_BODY_NORMAL, "/api/auth/login",
     false},
    {"POST", "/api/auth/logout", dw_api_auth_logout, DW_ROLE_NONE, DW_BODY_NONE, "/api/auth/logout",
     false},
    {"GET", "/api/auth/me", dw_api_auth_me, DW_ROLE_VIEWER, DW_BODY_NONE, "/api/auth/me", false},
    /* Operations. */
    {"POST", "/-/reload", reload, DW_ROLE_ADMIN, DW_BODY_NONE, "/-/reload", false},
    {"POST", "/-/test/clock", test_clock, DW_ROLE_ADMIN, DW_BODY_NORMAL, "/-/test/clock", true},
    /* The launch plan (api_plan.c). */
    {"GET", "/api/plan", dw_api_plan_get, DW_ROLE_VIEWER, DW_BODY_NONE, "/api/plan", false},
    {"POST", "/api/plan/checks/{id}/review", dw_api_plan_review, DW_ROLE_RESPONDER, DW_BODY_NORMAL,
     "/api/plan/checks/{id}/review", false},
    {"GET", "/api/config", dw_api_config_get, DW_ROLE_ADMIN, DW_BODY_NONE, "/api/config", false},
    /* Ingestion: writing data needs the responder role (api_write.c). */
    {"POST", "/api/v1/write", dw_api_write, DW_ROLE_RESPONDER, DW_BODY_INGEST, "/api/v1/write",
     false},
    {"POST", "/api/v1/import/prometheus", dw_api_import_prometheus, DW_ROLE_RESPONDER,
     DW_BODY_INGEST, "/api/v1/import/prometheus", false},
    {"POST", "/api/v1/push", dw_api_push, DW_ROLE_RESPONDER, DW_BODY_INGEST, "/api/v1/push", false},
    /*
     * The Prometheus query API (api_query.c, api_meta.c): reading needs the
     * viewer role (Grafana sends its token as a bearer token). POST takes the
     * same parameters as a form body, within limits.max_body_bytes.
     */
    {"GET", "/api/v1/query", dw_api_query, DW_ROLE_VIEWER, DW_BODY_NONE, "/api/v1/query", false},
    {"POST", "/api/v1/query", dw_api_query, DW_ROLE_VIEWER, DW_BODY_NORMAL, "/api/v1/query", false},
    {"GET", "/api/v1/query_range", dw_api_query_range, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/v1/query_range", false},
    {"POST", "/api/v1/query_range", dw_api_query_range, DW_ROLE_VIEWER, DW_BODY_NORMAL,
     "/api/v1/query_range", false},
    {"GET", "/api/v1/query_exemplars", dw_api_query_exemplars, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/v1/query_exemplars", false},
    {"POST", "/api/v1/query_exemplars", dw_api_query_exemplars, DW_ROLE_VIEWER, DW_BODY_NORMAL,
     "/api/v1/query_exemplars", false},
    {"GET", "/api/v1/series", dw_api_series, DW_ROLE_VIEWER, DW_BODY_NONE, "/api/v1/series", false},
    {"POST", "/api/v1/series", dw_api_series, DW_ROLE_VIEWER, DW_BODY_NORMAL, "/api/v1/series",
     false},
    {"GET", "/api/v1/labels", dw_api_labels, DW_ROLE_VIEWER, DW_BODY_NONE, "/api/v1/labels", false},
    {"POST", "/api/v1/labels", dw_api_labels, DW_ROLE_VIEWER, DW_BODY_NORMAL, "/api/v1/labels",
     false},
    {"GET", "/api/v1/label/{name}/values", dw_api_label_values, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/v1/label/{name}/values", false},
    {"GET", "/api/v1/metadata", dw_api_metadata, DW_ROLE_VIEWER, DW_BODY_NONE, "/api/v1/metadata",
     false},
    /* Rules (api_rules.c). */
    {"GET", "/api/v1/rules", dw_api_rules, DW_ROLE_VIEWER, DW_BODY_NONE, "/api/v1/rules", false},
    {"GET", "/api/v1/alerts", dw_api_alerts, DW_ROLE_VIEWER, DW_BODY_NONE, "/api/v1/alerts", false},
    /*
     * Alerting (api_alert.c): Alertmanager's API v2 (Prometheus sends alerts
     * with a responder token in its alertmanager `authorization`), and
     * dojowatch's lifecycle, acknowledgement and statistics endpoints.
     */
    {"POST", "/api/v2/alerts", dw_api_am_post_alerts, DW_ROLE_RESPONDER, DW_BODY_NORMAL,
     "/api/v2/alerts", false},
    {"GET", "/api/v2/alerts", dw_api_am_get_alerts, DW_ROLE_VIEWER, DW_BODY_NONE, "/api/v2/alerts",
     false},
    {"GET", "/api/v2/alerts/groups", dw_api_am_get_groups, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/v2/alerts/groups", false},
    {"GET", "/api/v2/silences", dw_api_am_get_silences, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/v2/silences", false},
    {"POST", "/api/v2/silences", dw_api_am_post_silence, DW_ROLE_RESPONDER, DW_BODY_NORMAL,
     "/api/v2/silences", false},
    {"GET", "/api/v2/silence/{id}", dw_api_am_get_silence, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/v2/silence/{id}", false},
    {"DELETE", "/api/v2/silence/{id}", dw_api_am_delete_silence, DW_ROLE_RESPONDER, DW_BODY_NONE,
     "/api/v2/silence/{id}", false},
    {"GET", "/api/v2/status", dw_api_am_status, DW_ROLE_VIEWER, DW_BODY_NONE, "/api/v2/status",
     false},
    {"GET", "/api/v2/receivers", dw_api_am_receivers, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/v2/receivers", false},
    {"GET", "/api/v1/alerts/lifecycle", dw_api_alert_lifecycle, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/v1/alerts/lifecycle", false},
    {"GET", "/api/v1/alerts/stats", dw_api_alert_stats, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/v1/alerts/stats", false},
    {"POST", "/api/v1/alerts/{fingerprint}/ack", dw_api_alert_ack, DW_ROLE_RESPONDER,
     DW_BODY_NORMAL, "/api/v1/alerts/{fingerprint}/ack", false},
    {"POST", "/api/v1/alerts/{fingerprint}/false-positive", dw_api_alert_false_positive,
     DW_ROLE_RESPONDER, DW_BODY_NORMAL, "/api/v1/alerts/{fingerprint}/false-positive", false},
    /* On-call and paging (api_oncall.c). The link and Twilio routes are open:
     * a signed token or X-Twilio-Signature is their access check. */
    {"GET", "/api/oncall/now", dw_api_oncall_now, DW_ROLE_VIEWER, DW_BODY_NONE, "/api/oncall/now",
     false},
    {"GET", "/api/oncall/check", dw_api_oncall_check, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/oncall/check", false},
    {"GET", "/api/oncall/schedules/{id}/ical", dw_api_oncall_schedule_ical, DW_ROLE_VIEWER,
     DW_BODY_NONE, "/api/oncall/schedules/{id}/ical", false},
    {"GET", "/api/oncall/people/{id}/ical", dw_api_oncall_person_ical, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/oncall/people/{id}/ical", false},
    {"GET", "/api/oncall/overrides", dw_api_oncall_overrides, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/oncall/overrides", false},
    {"POST", "/api/oncall/overrides", dw_api_oncall_override, DW_ROLE_RESPONDER, DW_BODY_NORMAL,
     "/api/oncall/overrides", false},
    {"DELETE", "/api/oncall/overrides/{id}", dw_api_oncall_override_delete, DW_ROLE_RESPONDER,
     DW_BODY_NONE, "/api/oncall/overrides/{id}", false},
    {"GET", "/api/oncall/pages", dw_api_oncall_pages, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/oncall/pages", false},
    {"POST", "/api/oncall/pages", dw_api_oncall_page_create, DW_ROLE_RESPONDER, DW_BODY_NORMAL,
     "/api/oncall/pages", false},
    {"GET", "/api/oncall/pages/{id}", dw_api_oncall_page, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/oncall/pages/{id}", false},
    {"POST", "/api/oncall/pages/{id}/ack", dw_api_oncall_ack, DW_ROLE_RESPONDER, DW_BODY_NORMAL,
     "/api/oncall/pages/{id}/ack", false},
    {"POST", "/api/oncall/pages/{id}/resolve", dw_api_oncall_resolve, DW_ROLE_RESPONDER,
     DW_BODY_NORMAL, "/api/oncall/pages/{id}/resolve", false},
    {"GET", "/oncall/act", dw_api_oncall_link_get, DW_ROLE_NONE, DW_BODY_NONE, "/oncall/act",
     false},
    {"POST", "/oncall/act", dw_api_oncall_link_post, DW_ROLE_NONE, DW_BODY_NORMAL, "/oncall/act",
     false},
    {"POST", "/api/oncall/twilio/sms", dw_api_oncall_twilio_sms, DW_ROLE_NONE, DW_BODY_NORMAL,
     "/api/oncall/twilio/sms", false},
    {"POST", "/api/oncall/twilio/voice", dw_api_oncall_twilio_voice, DW_ROLE_NONE, DW_BODY_NORMAL,
     "/api/oncall/twilio/voice", false},
    {"POST", "/api/oncall/twilio/status", dw_api_oncall_twilio_status, DW_ROLE_NONE, DW_BODY_NORMAL,
     "/api/oncall/twilio/status", false},
    {"GET", "/api/notify/outbox", dw_api_notify_outbox, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/notify/outbox", false},
    /* Incidents (api_incident.c); stats and actions before {id}. */
    {"GET", "/api/incidents", dw_api_incidents_list, DW_ROLE_VIEWER, DW_BODY_NONE, "/api/incidents",
     false},
    {"POST", "/api/incidents", dw_api_incidents_create, DW_ROLE_RESPONDER, DW_BODY_NORMAL,
     "/api/incidents", false},
    {"GET", "/api/incidents/stats", dw_api_incidents_stats, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/incidents/stats", false},
    {"GET", "/api/incidents/actions", dw_api_incidents_actions, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/incidents/actions", false},
    /* Slack's /incident command: signed by Slack, not by a token. */
    {"POST", "/api/incidents/slack", dw_api_incident_slack, DW_ROLE_NONE, DW_BODY_NORMAL,
     "/api/incidents/slack", false},
    {"GET", "/api/incidents/{id}", dw_api_incident_get, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/incidents/{id}", false},
    {"PATCH", "/api/incidents/{id}", dw_api_incident_update, DW_ROLE_RESPONDER, DW_BODY_NORMAL,
     "/api/incidents/{id}", false},
    {"DELETE", "/api/incidents/{id}", dw_api_incident_delete, DW_ROLE_ADMIN, DW_BODY_NONE,
     "/api/incidents/{id}", false},
    {"POST", "/api/incidents/{id}/state", dw_api_incident_state, DW_ROLE_RESPONDER, DW_BODY_NORMAL,
     "/api/incidents/{id}/state", false},
    {"POST", "/api/incidents/{id}/notes", dw_api_incident_note, DW_ROLE_RESPONDER, DW_BODY_NORMAL,
     "/api/incidents/{id}/notes", false},
    {"POST", "/api/incidents/{id}/actions", dw_api_incident_action_add, DW_ROLE_RESPONDER,
     DW_BODY_NORMAL, "/api/incidents/{id}/actions", false},
    {"PATCH", "/api/incidents/{id}/actions/{n}", dw_api_incident_action_update, DW_ROLE_RESPONDER,
     DW_BODY_NORMAL, "/api/incidents/{id}/actions/{n}", false},
    {"POST", "/api/incidents/{id}/merge", dw_api_incident_merge, DW_ROLE_RESPONDER, DW_BODY_NORMAL,
     "/api/incidents/{id}/merge", false},
    {"GET", "/api/incidents/{id}/report", dw_api_incident_report, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/incidents/{id}/report", false},
    {"GET", "/api/incidents/{id}/notice", dw_api_incident_notice, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/incidents/{id}/notice", false},
    /* The public status page (api_status.c): open to everyone, served from
     * prebuilt bytes; the banner routes answer CORS preflights. */
    {"GET", "/status", dw_api_status_doc, DW_ROLE_NONE, DW_BODY_NONE, "/status", false},
    {"GET", "/status/history", dw_api_status_history, DW_ROLE_NONE, DW_BODY_NONE, "/status/history",
     false},
    {"GET", "/status/history.rss", dw_api_status_doc, DW_ROLE_NONE, DW_BODY_NONE,
     "/status/history.rss", false},
    {"GET", "/status/history.atom", dw_api_status_doc, DW_ROLE_NONE, DW_BODY_NONE,
     "/status/history.atom", false},
    {"GET", "/status/incidents/{id}", dw_api_status_incident_page, DW_ROLE_NONE, DW_BODY_NONE,
     "/status/incidents/{id}", false},
    {"GET", "/status/badge/{file}", dw_api_status_badge, DW_ROLE_NONE, DW_BODY_NONE,
     "/status/badge/{file}", false},
    {"GET", "/status/embed.js", dw_api_status_doc, DW_ROLE_NONE, DW_BODY_NONE, "/status/embed.js",
     false},
    {"OPTIONS", "/status/embed.js", dw_api_status_preflight, DW_ROLE_NONE, DW_BODY_NONE,
     "/status/embed.js", false},
    {"GET", "/status/api/banner.json", dw_api_status_doc, DW_ROLE_NONE, DW_BODY_NONE,
     "/status/api/banner.json", false},
    {"OPTIONS", "/status/api/banner.json", dw_api_status_preflight, DW_ROLE_NONE, DW_BODY_NONE,
     "/status/api/banner.json", false},
    {"GET", "/status/api/v2/summary.json", dw_api_status_doc, DW_ROLE_NONE, DW_BODY_NONE,
     "/status/api/v2/summary.json", false},
    {"GET", "/status/api/v2/status.json", dw_api_status_doc, DW_ROLE_NONE, DW_BODY_NONE,
     "/status/api/v2/status.json", false},
    {"GET", "/status/api/v2/components.json", dw_api_status_doc, DW_ROLE_NONE, DW_BODY_NONE,
     "/status/api/v2/components.json", false},
    {"GET", "/status/api/v2/incidents.json", dw_api_status_doc, DW_ROLE_NONE, DW_BODY_NONE,
     "/status/api/v2/incidents.json", false},
    {"GET", "/status/api/v2/incidents/unresolved.json", dw_api_status_doc, DW_ROLE_NONE,
     DW_BODY_NONE, "/status/api/v2/incidents/unresolved.json", false},
    {"GET", "/status/api/v2/scheduled-maintenances.json", dw_api_status_doc, DW_ROLE_NONE,
     DW_BODY_NONE, "/status/api/v2/scheduled-maintenances.json", false},
    {"GET", "/status/api/v2/scheduled-maintenances/upcoming.json", dw_api_status_doc, DW_ROLE_NONE,
     DW_BODY_NONE, "/status/api/v2/scheduled-maintenances/upcoming.json", false},
    {"GET", "/status/api/v2/scheduled-maintenances/active.json", dw_api_status_doc, DW_ROLE_NONE,
     DW_BODY_NONE, "/status/api/v2/scheduled-maintenances/active.json", false},
    /* Subscriptions (api_subscribe.c): public forms, each behind the per-client limit. */
    {"GET", "/status/subscribe", dw_api_status_subscribe_form, DW_ROLE_NONE, DW_BODY_NONE,
     "/status/subscribe", false},
    {"POST", "/status/subscribe", dw_api_status_subscribe, DW_ROLE_NONE, DW_BODY_NORMAL,
     "/status/subscribe", false},
    {"GET", "/status/subscribe/confirm", dw_api_status_confirm_page, DW_ROLE_NONE, DW_BODY_NONE,
     "/status/subscribe/confirm", false},
    {"POST", "/status/subscribe/confirm", dw_api_status_confirm, DW_ROLE_NONE, DW_BODY_NORMAL,
     "/status/subscribe/confirm", false},
    {"GET", "/status/subscription", dw_api_status_manage_page, DW_ROLE_NONE, DW_BODY_NONE,
     "/status/subscription", false},
    {"POST", "/status/subscription", dw_api_status_manage, DW_ROLE_NONE, DW_BODY_NORMAL,
     "/status/subscription", false},
    {"GET", "/status/unsubscribe", dw_api_status_unsubscribe_page, DW_ROLE_NONE, DW_BODY_NONE,
     "/status/unsubscribe", false},
    {"POST", "/status/unsubscribe", dw_api_status_unsubscribe, DW_ROLE_NONE, DW_BODY_NORMAL,
     "/status/unsubscribe", false},
    /* Subscribers are personal data: admins only; notices' progress for viewers. */
    {"GET", "/api/status/subscribers", dw_api_status_subscribers, DW_ROLE_ADMIN, DW_BODY_NONE,
     "/api/status/subscribers", false},
    {"POST", "/api/status/subscribers", dw_api_status_subscribers_import, DW_ROLE_ADMIN,
     DW_BODY_INGEST, "/api/status/subscribers", false},
    {"DELETE", "/api/status/subscribers/{id}", dw_api_status_subscriber_delete, DW_ROLE_ADMIN,
     DW_BODY_NONE, "/api/status/subscribers/{id}", false},
    {"GET", "/api/status/notices", dw_api_status_notices, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/status/notices", false},
    /* Status page management: viewers read, responders act. */
    {"GET", "/api/status/components", dw_api_status_components, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/status/components", false},
    {"GET", "/api/status/components/{id}", dw_api_status_component, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/status/components/{id}", false},
    {"POST", "/api/status/components/{id}", dw_api_status_component_override, DW_ROLE_RESPONDER,
     DW_BODY_NORMAL, "/api/status/components/{id}", false},
    {"GET", "/api/status/components/{id}/uptime", dw_api_status_component_uptime, DW_ROLE_VIEWER,
     DW_BODY_NONE, "/api/status/components/{id}/uptime", false},
    {"POST", "/api/status/incidents/{id}/updates", dw_api_status_incident_update, DW_ROLE_RESPONDER,
     DW_BODY_NORMAL, "/api/status/incidents/{id}/updates", false},
    {"GET", "/api/status/maintenances", dw_api_status_maintenances, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/status/maintenances", false},
    {"POST", "/api/status/maintenances", dw_api_status_maintenance_create, DW_ROLE_RESPONDER,
     DW_BODY_NORMAL, "/api/status/maintenances", false},
    {"PATCH", "/api/status/maintenances/{id}", dw_api_status_maintenance_update, DW_ROLE_RESPONDER,
     DW_BODY_NORMAL, "/api/status/maintenances/{id}", false},
    {"DELETE", "/api/status/maintenances/{id}", dw_api_status_maintenance_delete, DW_ROLE_RESPONDER,
     DW_BODY_NONE, "/api/status/maintenances/{id}", false},
    /* Dashboards (api_dashboard.c): definitions, and every panel's data in one request;
       the plan's KPIs measured by their dashboards.kpis queries. */
    {"GET", "/api/kpis", dw_api_kpis, DW_ROLE_VIEWER, DW_BODY_NONE, "/api/kpis", false},
    {"GET", "/api/dashboards", dw_api_dashboards_list, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/dashboards", false},
    {"GET", "/api/dashboards/{id}", dw_api_dashboard_get, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/dashboards/{id}", false},
    {"GET", "/api/dashboards/{id}/data", dw_api_dashboard_data, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/dashboards/{id}/data", false},
    /*
     * The web console (console.c, api_console.c): the page shell is open (a
     * signed-out visitor gets the sign-in form); its data come from the APIs.
     */
    {"GET", "/", dw_api_console_shell, DW_ROLE_NONE, DW_BODY_NONE, "/console", false},
    {"GET", "/console", dw_api_console_shell, DW_ROLE_NONE, DW_BODY_NONE, "/console", false},
    {"GET", "/console/{view}", dw_api_console_shell, DW_ROLE_NONE, DW_BODY_NONE, "/console", false},
    {"GET", "/console/{view}/{id}", dw_api_console_shell, DW_ROLE_NONE, DW_BODY_NONE, "/console",
     false},
    {"GET", "/api/console/directory", dw_api_console_directory, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/console/directory", false},
    {"POST", "/api/console/incidents/{id}/page", dw_api_console_incident_page, DW_ROLE_RESPONDER,
     DW_BODY_NORMAL, "/api/console/incidents/{id}/page", false},
    /* Collection (api_collect.c). */
    {"GET", "/api/v1/targets", dw_api_targets, DW_ROLE_VIEWER, DW_BODY_NONE, "/api/v1/targets",
     false},
    {"GET", "/api/v1/probes", dw_api_probes, DW_ROLE_VIEWER, DW_BODY_NONE, "/api/v1/probes", false},
    {"GET", "/api/v1/status/buildinfo", dw_api_buildinfo, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/v1/status/buildinfo", false},
    {"GET", "/api/v1/status/runtimeinfo", dw_api_runtimeinfo, DW_ROLE_VIEWER, DW_BODY_NONE,
     "/api/v1/status/runtimeinfo", false},
};

const struct dw_http_route *dw_http_routes(size_t *n)
{
    *n = DW_ARRAY_LEN(routes);
    return routes;
}
