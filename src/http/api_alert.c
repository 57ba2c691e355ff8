/*
 * api_alert.c - the alerter over HTTP: Alertmanager's API v2, so a real
 * Prometheus (its `alerting:` section) and Alertmanager clients talk to
 * dojowatch unchanged, plus dojowatch's own alert endpoints.
 *
 *   POST   /api/v2/alerts                  (responder) PostableAlerts
 *   GET    /api/v2/alerts                  (viewer)    filter, active, silenced, inhibited,
 *                                                      unprocessed, receiver
 *   GET    /api/v2/alerts/groups           (viewer)    same filters
 *   GET    /api/v2/silences                (viewer)    filter
 *   POST   /api/v2/silences                (responder) PostableSilence -> {"silenceID"}
 *   GET    /api/v2/silence/{id}            (viewer)
 *   DELETE /api/v2/silence/{id}            (responder)
 *   GET    /api/v2/status                  (viewer)
 *   GET    /api/v2/receivers               (viewer)
 *   GET    /api/v1/alerts/lifecycle        (viewer)    every alert with its lifecycle
 *   POST   /api/v1/alerts/{fp}/ack         (responder) comment=
 *   POST   /api/v1/alerts/{fp}/false-positive (responder) comment=
 *   GET    /api/v1/alerts/stats            (viewer)    since=, until=
 *
 * DESIGN
 * Translation only; the alert module builds the JSON. The v2 endpoints
 * answer like Alertmanager: success bodies are the bare JSON (no
 * envelope), errors are a JSON string with the reason (400 bad input, 404
 * unknown silence), so generated Alertmanager clients decode them. The
 * v1 endpoints use dojowatch's Prometheus-style envelope. Who acknowledged
 * is the token's name; the token itself is never stored.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alert/alert.h"
#include "http/http_internal.h"
#include "oncall/oncall.h"

#define MAX_FILTERS 64

static bool need_alerter(const struct dw_http_app *app, struct dw_http_response *resp)
{
    return dw_api_need(app->alerter, resp, "alerting is not running");
}

/* Alertmanager's error body: a JSON string. */
static void am_error(struct dw_http_response *resp, int status, const char *msg)
{
    json_t *s = json_string(msg ? msg : "unknown error");
    char *text = json_dumps(s, JSON_ENCODE_ANY);
    json_decref(s);
    dw_http_resp_body(resp, status, "application/json", text, strlen(text));
}

static int status_of(int rc)
{
    return rc == DW_ALERT_EINVAL ? 400 : rc == DW_ALERT_ENOTFOUND ? 404 : 500;
}

static void am_ok_empty(struct dw_http_response *resp)
{
    dw_http_resp_body(resp, 200, "application/json", NULL, 0);
}

/* go-swagger's boolean query parameters (strconv.ParseBool). */
static bool bool_arg(struct dw_http_request *req, const char *name, bool *out, char **err)
{
    const char *v = dw_http_req_arg(req, name);
    if (!v)
        return true;
    static const char *const yes[] = {"1", "t", "true"}, *const no[] = {"0", "f", "false"};
    for (size_t i = 0; i < DW_ARRAY_LEN(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return *out = true, true;
        if (strcasecmp(v, no[i]) == 0)
            return *out = false, true;
    }
    *err = dw_asprintf("%s in query must be of type boolean: \"%s\"", name, v);
    return false;
}

static bool alert_filter(struct dw_http_request *req, struct dw_alert_filter *f,
                         const char **filters, char **err)
{
    dw_alert_filter_init(f);
    f->nmatchers = dw_http_req_args(req, "filter", filters, MAX_FILTERS);
    f->matchers = filters;
    f->receiver = dw_http_req_arg(req, "receiver");
    return bool_arg(req, "active", &f->active, err) &&
           bool_arg(req, "silenced", &f->silenced, err) &&
           bool_arg(req, "inhibited", &f->inhibited, err) &&
           bool_arg(req, "unprocessed", &f->unprocessed, err);
}

/* ---- Alertmanager API v2 ---- */

void dw_api_am_post_alerts(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app)
{
    if (!need_alerter(app, resp))
        return;
    size_t len;
    const char *body = dw_http_req_body(req, &len);
    char *err = NULL;
    int rc = dw_alerter_put_json(app->alerter, body, len, dw_now_ms(), &err);
    if (rc == 0)
        am_ok_empty(resp);
    else
        am_error(resp, status_of(rc), err);
    free(err);
}

static void list(struct dw_http_request *req, struct dw_http_response *resp,
                 const struct dw_http_app *app, bool groups)
{
    if (!need_alerter(app, resp))
        return;
    const char *filters[MAX_FILTERS];
    struct dw_alert_filter f;
    char *err = NULL;
    json_t *out = NULL;
    int rc = DW_ALERT_EINVAL;
    if (alert_filter(req, &f, filters, &err))
        rc = groups ? dw_alerter_groups_json(app->alerter, &f, &out, &err)
                    : dw_alerter_alerts_json(app->alerter, &f, &out, &err);
    if (rc == 0)
        dw_http_resp_json(resp, 200, out);
    else
        am_error(resp, status_of(rc), err);
    free(err);
}

void dw_api_am_get_alerts(struct dw_http_request *req, struct dw_http_response *resp,
                          const struct dw_http_app *app)
{
    list(req, resp, app, false);
}

void dw_api_am_get_groups(struct dw_http_request *req, struct dw_http_response *resp,
                          const struct dw_http_app *app)
{
    list(req, resp, app, true);
}

void dw_api_am_get_silences(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app)
{
    if (!need_alerter(app, resp))
        return;
    const char *filters[MAX_FILTERS];
    size_t n = dw_http_req_args(req, "filter", filters, MAX_FILTERS);
    json_t *out = NULL;
    char *err = NULL;
    int rc = dw_alerter_silences_json(app->alerter, filters, n, &out, &err);
    if (rc == 0)
        dw_http_resp_json(resp, 200, out);
    else
        am_error(resp, status_of(rc), err);
    free(err);
}

void dw_api_am_post_silence(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app)
{
    if (!need_alerter(app, resp))
        return;
    size_t len;
    const char *body = dw_http_req_body(req, &len);
    char id[DW_SILENCE_ID_LEN], *err = NULL;
    int rc = dw_alerter_silence_set_json(app->alerter, body, len, dw_now_ms(), id, &err);
    if (rc == 0) {
        dw_log_kv(DW_LOG_INFO, "http", "silence set", "id", id, "principal",
                  dw_http_req_principal(req), NULL);
        dw_http_resp_json(resp, 200, json_pack("{s:s}", "silenceID", id));
    } else {
        am_error(resp, status_of(rc), err);
    }
    free(err);
}

void dw_api_am_get_silence(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app)
{
    if (!need_alerter(app, resp))
        return;
    json_t *s = dw_alerter_silence_json(app->alerter, dw_http_req_param(req, "id"));
    if (s)
        dw_http_resp_json(resp, 200, s);
    else
        am_error(resp, 404, "silence not found");
}

void dw_api_am_delete_silence(struct dw_http_request *req, struct dw_http_response *resp,
                              const struct dw_http_app *app)
{
    if (!need_alerter(app, resp))
        return;
    const char *id = dw_http_req_param(req, "id");
    char *err = NULL;
    int rc = dw_alerter_silence_expire(app->alerter, id, dw_now_ms(), &err);
    if (rc == 0) {
        dw_log_kv(DW_LOG_INFO, "http", "silence expired", "id", id, "principal",
                  dw_http_req_principal(req), NULL);
        am_ok_empty(resp);
    } else {
        am_error(resp, status_of(rc), err);
    }
    free(err);
}

void dw_api_am_status(struct dw_http_request *req, struct dw_http_response *resp,
                      const struct dw_http_app *app)
{
    (void)req;
    if (need_alerter(app, resp))
        dw_http_resp_json(resp, 200, dw_alerter_status_json(app->alerter));
}

void dw_api_am_receivers(struct dw_http_request *req, struct dw_http_response *resp,
                         const struct dw_http_app *app)
{
    (void)req;
    if (need_alerter(app, resp))
        dw_http_resp_json(resp, 200, dw_alerter_receivers_json(app->alerter));
}

/* ---- dojowatch's alert endpoints ---- */

void dw_api_alert_lifecycle(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app)
{
    (void)req;
    if (need_alerter(app, resp))
        dw_http_resp_success(resp, dw_alerter_lifecycle_json(app->alerter));
}

static void mark(struct dw_http_request *req, struct dw_http_response *resp,
                 const struct dw_http_app *app, enum dw_alert_mark kind)
{
    if (!need_alerter(app, resp))
        return;
    const char *fp = dw_http_req_param(req, "fingerprint");
    const char *by = dw_http_req_principal(req);
    int64_t now = dw_now_ms();
    char *err = NULL;
    int rc =
        dw_alerter_mark(app->alerter, fp, kind, by, dw_http_req_arg(req, "comment"), now, &err);
    if (rc == DW_ALERT_EINVAL) {
        dw_http_resp_error(resp, 400, "bad_data", "%s", err);
    } else if (rc == DW_ALERT_ENOTFOUND) {
        dw_http_resp_error(resp, 404, "not_found", "%s", err);
    } else if (rc < 0) {
        dw_http_resp_error(resp, 503, "unavailable", "%s", err);
    } else {
        char at[40];
        dw_format_rfc3339(now, at, sizeof at);
        const char *what = kind == DW_ALERT_MARK_ACK ? "acknowledged" : "false_positive";
        dw_log_kv(DW_LOG_INFO, "http", "alert marked", "fingerprint", fp, "mark", what, "principal",
                  by, NULL);
        /* an acknowledged alert's pages stop escalating too */
        json_t *pages = NULL;
        char *perr = NULL;
        if (kind == DW_ALERT_MARK_ACK && app->oncall &&
            dw_oncall_ack_alert(app->oncall, fp, by, "api", now, &pages, &perr) != 0)
            dw_log_kv(DW_LOG_WARN, "http", "the alert's pages were not acknowledged", "fingerprint",
                      fp, "error", perr, NULL);
        free(perr);
        dw_http_resp_success(resp,
                             json_pack("{s:s,s:s,s:s,s:s,s:o}", "fingerprint", fp, "mark", what,
                                       "by", by, "at", at, "pages", pages ? pages : json_array()));
    }
    free(err);
}

void dw_api_alert_ack(struct dw_http_request *req, struct dw_http_response *resp,
                      const struct dw_http_app *app)
{
    mark(req, resp, app, DW_ALERT_MARK_ACK);
}

void dw_api_alert_false_positive(struct dw_http_request *req, struct dw_http_response *resp,
                                 const struct dw_http_app *app)
{
    mark(req, resp, app, DW_ALERT_MARK_FALSE_POSITIVE);
}

void dw_api_alert_stats(struct dw_http_request *req, struct dw_http_response *resp,
                        const struct dw_http_app *app)
{
    if (!need_alerter(app, resp))
        return;
    int64_t since, until;
    if (!dw_api_time_param(req, resp, "since", 0, &since) ||
        !dw_api_time_param(req, resp, "until", INT64_MAX, &until))
        return;
    json_t *out = NULL;
    char *err = NULL;
    if (dw_alerter_stats_json(app->alerter, since, until, &out, &err) == 0)
        dw_http_resp_success(resp, out);
    else
        dw_http_resp_error(resp, 503, "unavailable", "%s", err ? err : "store failure");
    free(err);
}
