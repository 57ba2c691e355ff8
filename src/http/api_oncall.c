/*
 * api_oncall.c - the on-call API and the places a page is acted on:
 * who is on call, iCal feeds, gaps, overrides, pages and their timeline,
 * acknowledge / resolve by API, by signed link (a confirmation page first,
 * so link previews and mail scanners that fetch GET links act on nothing),
 * and Twilio's inbound SMS, call keypad and call status webhooks (checked
 * with X-Twilio-Signature); plus the notification outbox.
 *
 * Threads: handlers run on libmicrohttpd's threads; the oncall and notify
 * functions they call are thread-safe.
 */
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "notify/notify.h"
#include "oncall/oncall.h"

_Static_assert(DW_ONCALL_EINVAL == DW_API_EINVAL && DW_ONCALL_ENOTFOUND == DW_API_ENOTFOUND &&
                   DW_ONCALL_EDENIED == DW_API_EDENIED,
               "oncall return codes");

#define CHECK_DEFAULT_MS (28LL * 86400000)
#define TWILIO_PARAMS_MAX 64

static bool need_oncall(const struct dw_http_app *app, struct dw_http_response *resp)
{
    return dw_api_need(app->oncall, resp, "on-call is not running in this process");
}

/* The "limit" argument (100 when absent) into *limit; false after a 400 when not 1 to 1000. */
static bool limit_param(struct dw_http_request *req, struct dw_http_response *resp, int64_t *limit)
{
    *limit = 100;
    const char *l = dw_http_req_arg(req, "limit");
    if (l && (dw_parse_int64(l, limit) != 0 || *limit < 1 || *limit > 1000)) {
        dw_http_resp_error(resp, 400, "bad_data", "limit must be 1 to 1000");
        return false;
    }
    return true;
}

/* The "state" argument (NULL when absent) into *state; false after a 400 with msg when it is
 * none of the n states. */
static bool state_param(struct dw_http_request *req, struct dw_http_response *resp,
                        const char *const *states, size_t n, const char *msg, const char **state)
{
    *state = dw_http_req_arg(req, "state");
    bool known = !*state;
    for (size_t i = 0; *state && i < n; i++)
        known = known || strcmp(*state, states[i]) == 0;
    if (!known)
        dw_http_resp_error(resp, 400, "bad_data", "%s", msg);
    return known;
}

void dw_api_oncall_now(struct dw_http_request *req, struct dw_http_response *resp,
                       const struct dw_http_app *app)
{
    if (!need_oncall(app, resp))
        return;
    int64_t at;
    if (!dw_api_time_param(req, resp, "at", dw_now_ms(), &at))
        return;
    json_t *out = NULL;
    char *err = NULL;
    int rc = dw_oncall_who_json(app->oncall, dw_http_req_arg(req, "schedule"), at, &out, &err);
    dw_api_module_answer(resp, rc, out, err);
}

void dw_api_oncall_check(struct dw_http_request *req, struct dw_http_response *resp,
                         const struct dw_http_app *app)
{
    if (!need_oncall(app, resp))
        return;
    int64_t now = dw_now_ms(), from, to;
    if (!dw_api_time_param(req, resp, "from", now, &from) ||
        !dw_api_time_param(req, resp, "to", from + CHECK_DEFAULT_MS, &to))
        return;
    json_t *out = NULL;
    char *err = NULL;
    int rc = dw_oncall_check_json(app->oncall, from, to, &out, &err);
    dw_api_module_answer(resp, rc, out, err);
}

static void ical(struct dw_http_request *req, struct dw_http_response *resp,
                 const struct dw_http_app *app, const char *kind)
{
    if (!need_oncall(app, resp))
        return;
    char *out = NULL, *err = NULL;
    int rc =
        dw_oncall_ical(app->oncall, kind, dw_http_req_param(req, "id"), dw_now_ms(), &out, &err);
    if (rc == 0)
        dw_http_resp_body(resp, 200, "text/calendar; charset=utf-8", out, strlen(out));
    else
        dw_api_module_error(resp, rc, err);
    free(err);
}

void dw_api_oncall_schedule_ical(struct dw_http_request *req, struct dw_http_response *resp,
                                 const struct dw_http_app *app)
{
    ical(req, resp, app, "schedule");
}

void dw_api_oncall_person_ical(struct dw_http_request *req, struct dw_http_response *resp,
                               const struct dw_http_app *app)
{
    ical(req, resp, app, "person");
}

void dw_api_oncall_overrides(struct dw_http_request *req, struct dw_http_response *resp,
                             const struct dw_http_app *app)
{
    (void)req;
    if (need_oncall(app, resp))
        dw_http_resp_success(resp, dw_oncall_overrides_json(app->oncall));
}

void dw_api_oncall_override_delete(struct dw_http_request *req, struct dw_http_response *resp,
                                   const struct dw_http_app *app)
{
    if (!need_oncall(app, resp))
        return;
    int64_t id = 0;
    if (dw_parse_int64(dw_http_req_param(req, "id"), &id) != 0 || id <= 0) {
        dw_http_resp_error(resp, 400, "bad_data", "an override id is a positive number");
        return;
    }
    char *err = NULL;
    int rc = dw_oncall_override_delete(app->oncall, id, dw_http_req_principal(req), &err);
    dw_api_module_answer(resp, rc, rc == 0 ? json_pack("{s:I}", "deleted", (json_int_t)id) : NULL,
                         err);
}

void dw_api_oncall_override(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app)
{
    if (!need_oncall(app, resp))
        return;
    size_t len = 0;
    const char *body = dw_http_req_body(req, &len);
    json_error_t jerr;
    json_t *in = json_loadb(body ? body : "", len, 0, &jerr);
    const char *sched = json_string_value(json_object_get(in, "schedule"));
    const char *person = json_string_value(json_object_get(in, "person"));
    const char *replaces = json_string_value(json_object_get(in, "replaces"));
    const char *start = json_string_value(json_object_get(in, "start"));
    const char *end = json_string_value(json_object_get(in, "end"));
    int64_t s = 0, e = 0;
    if (!in || !sched || !person || !start || !end || dw_parse_rfc3339(start, &s) != 0 ||
        dw_parse_rfc3339(end, &e) != 0) {
        dw_http_resp_error(resp, 400, "bad_data",
                           "expected JSON {\"schedule\", \"person\", \"replaces\" (optional), "
                           "\"start\", \"end\" (RFC 3339)}");
        json_decref(in);
        return;
    }
    char *err = NULL;
    int rc = dw_oncall_override_add(app->oncall, sched, person, replaces, s, e,
                                    dw_http_req_principal(req), &err);
    dw_api_module_answer(
        resp, rc, rc == 0 ? json_pack("{s:s, s:s}", "schedule", sched, "person", person) : NULL,
        err);
    json_decref(in);
}

void dw_api_oncall_pages(struct dw_http_request *req, struct dw_http_response *resp,
                         const struct dw_http_app *app)
{
    if (!need_oncall(app, resp))
        return;
    static const char *const states[] = {"triggered", "acknowledged", "resolved"};
    int64_t limit;
    const char *state;
    if (!limit_param(req, resp, &limit) ||
        !state_param(req, resp, states, DW_ARRAY_LEN(states),
                     "state must be triggered, acknowledged or resolved", &state))
        return;
    dw_http_resp_success(resp, dw_oncall_pages_json(app->oncall, state, (size_t)limit));
}

/* POST {"target", "priority", "summary", "ref"}: a page a person opens. */
void dw_api_oncall_page_create(struct dw_http_request *req, struct dw_http_response *resp,
                               const struct dw_http_app *app)
{
    if (!need_oncall(app, resp))
        return;
    json_t *in = dw_api_body_object(req, resp);
    if (!in)
        return;
    struct dw_oncall_page_new pn = {json_string_value(json_object_get(in, "target")),
                                    json_string_value(json_object_get(in, "priority")),
                                    json_string_value(json_object_get(in, "summary")),
                                    json_string_value(json_object_get(in, "ref"))};
    char id[DW_ONCALL_PAGE_ID_MAX], *err = NULL;
    int rc =
        dw_oncall_page_create(app->oncall, &pn, dw_http_req_principal(req), dw_now_ms(), id, &err);
    dw_api_module_answer(resp, rc, rc == 0 ? dw_oncall_page_json(app->oncall, id) : NULL, err);
    json_decref(in);
}

void dw_api_oncall_page(struct dw_http_request *req, struct dw_http_response *resp,
                        const struct dw_http_app *app)
{
    if (!need_oncall(app, resp))
        return;
    json_t *p = dw_oncall_page_json(app->oncall, dw_http_req_param(req, "id"));
    if (p)
        dw_http_resp_success(resp, p);
    else
        dw_http_resp_error(resp, 404, "not_found", "no page %s", dw_http_req_param(req, "id"));
}

static void page_act(struct dw_http_request *req, struct dw_http_response *resp,
                     const struct dw_http_app *app, enum dw_page_action act)
{
    if (!need_oncall(app, resp))
        return;
    const char *id = dw_http_req_param(req, "id");
    const char *via = dw_http_req_arg(req, "via");
    char *err = NULL;
    int rc = dw_oncall_page_act(app->oncall, id, act, dw_http_req_principal(req),
                                via && strcmp(via, "cli") == 0 ? "cli" : "web", dw_now_ms(), &err);
    dw_api_module_answer(resp, rc, rc == 0 ? dw_oncall_page_json(app->oncall, id) : NULL, err);
}

void dw_api_oncall_ack(struct dw_http_request *req, struct dw_http_response *resp,
                       const struct dw_http_app *app)
{
    page_act(req, resp, app, DW_PAGE_ACK);
}

void dw_api_oncall_resolve(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app)
{
    page_act(req, resp, app, DW_PAGE_RESOLVE);
}

/* ---- signed links: a confirmation page, then the action ---- */

static void html_page(struct dw_http_response *resp, int status, const char *title,
                      const char *text, const char *token)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
                    "content=\"width=device-width\"><title>dojowatch: ");
    dw_buf_xml_escape(&b, title);
    dw_buf_puts(&b, "</title></head><body><h1>");
    dw_buf_xml_escape(&b, title);
    dw_buf_puts(&b, "</h1><p>");
    dw_buf_xml_escape(&b, text);
    dw_buf_puts(&b, "</p>");
    if (token) {
        static const char *const actions[][2] = {{"ack", "Acknowledge"}, {"resolve", "Resolve"}};
        for (size_t i = 0; i < 2; i++) {
            dw_buf_puts(&b, "<form method=\"post\" action=\"/oncall/act\"><input type=\"hidden\" "
                            "name=\"t\" value=\"");
            dw_buf_xml_escape(&b, token);
            dw_buf_printf(&b,
                          "\"><input type=\"hidden\" name=\"action\" value=\"%s\">"
                          "<button type=\"submit\">%s</button></form>",
                          actions[i][0], actions[i][1]);
        }
    }
    dw_buf_puts(&b, "</body></html>\n");
    dw_http_resp_header(resp, "Cache-Control", "no-store");
    dw_http_resp_header(resp, "Referrer-Policy", "no-referrer");
    size_t len = b.len;
    dw_http_resp_body(resp, status, "text/html; charset=utf-8", dw_buf_steal(&b), len);
}

void dw_api_oncall_link_get(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app)
{
    if (!need_oncall(app, resp))
        return;
    const char *t = dw_http_req_arg(req, "t");
    if (!t) {
        html_page(resp, 400, "Link incomplete", "This link has no token.", NULL);
        return;
    }
    html_page(resp, 200, "Page", "Choose what to do with the page(s) this link names.", t);
}

void dw_api_oncall_link_post(struct dw_http_request *req, struct dw_http_response *resp,
                             const struct dw_http_app *app)
{
    if (!need_oncall(app, resp))
        return;
    const char *t = dw_http_req_arg(req, "t");
    const char *action = dw_http_req_arg(req, "action");
    const char *via = dw_http_req_arg(req, "via");
    char *summary = NULL, *err = NULL;
    int rc =
        dw_oncall_link_act(app->oncall, t, action, via ? via : "link", dw_now_ms(), &summary, &err);
    if (rc == 0)
        html_page(resp, 200, "Done", summary, NULL);
    else
        html_page(resp,
                  rc == DW_ONCALL_EDENIED     ? 403
                  : rc == DW_ONCALL_ENOTFOUND ? 404
                                              : 400,
                  "Not done", err ? err : "the link could not be used", NULL);
    free(summary);
    free(err);
}

/* ---- Twilio's webhooks ---- */

/* The URL Twilio was given: the links' base URL, the path and the query, re-encoded. */
static char *twilio_url(struct dw_http_request *req, const char *base)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, base);
    dw_buf_puts(&b, dw_http_req_path(req));
    for (size_t i = 0; i < req->query.n; i++) {
        dw_buf_puts(&b, i ? "&" : "?");
        dw_buf_url_encode(&b, req->query.items[i].name);
        dw_buf_puts(&b, "=");
        dw_buf_url_encode(&b, req->query.items[i].value);
    }
    return dw_buf_steal(&b);
}

/* Verifies X-Twilio-Signature over the URL and the form parameters. */
static bool twilio_ok(struct dw_http_request *req, struct dw_http_response *resp,
                      const struct dw_http_app *app)
{
    char *token = dw_oncall_twilio_token(app->oncall);
    const char *sig = dw_http_req_header(req, "X-Twilio-Signature");
    if (!token || !sig || req->form.n > TWILIO_PARAMS_MAX) {
        dw_http_resp_error(resp, 403, "forbidden",
                           token ? "X-Twilio-Signature is missing (or too many parameters)"
                                 : "no Twilio auth token is configured (notify.sms)");
        free(token);
        return false;
    }
    const char *names[TWILIO_PARAMS_MAX], *values[TWILIO_PARAMS_MAX];
    for (size_t i = 0; i < req->form.n; i++) {
        names[i] = req->form.items[i].name;
        values[i] = req->form.items[i].value;
    }
    char *base = dw_oncall_base_url(app->oncall);
    char *url = twilio_url(req, base);
    bool ok = dw_notify_twilio_signature_ok(token, url, names, values, req->form.n, sig);
    free(url);
    free(base);
    free(token);
    if (!ok)
        dw_http_resp_error(resp, 403, "forbidden", "X-Twilio-Signature does not verify");
    return ok;
}

static void twiml(struct dw_http_response *resp, char *xml)
{
    dw_http_resp_body(resp, 200, "text/xml; charset=utf-8", xml, strlen(xml));
}

void dw_api_oncall_twilio_sms(struct dw_http_request *req, struct dw_http_response *resp,
                              const struct dw_http_app *app)
{
    if (!need_oncall(app, resp) || !twilio_ok(req, resp, app))
        return;
    char *reply = NULL, *err = NULL;
    int rc = dw_oncall_sms_reply(app->oncall, dw_http_req_arg(req, "From"),
                                 dw_http_req_arg(req, "Body"), dw_now_ms(), &reply, &err);
    if (rc != 0) {
        dw_api_module_error(resp, rc, err);
        free(err);
        return;
    }
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>");
    dw_buf_xml_escape(&b, reply);
    dw_buf_puts(&b, "</Message></Response>");
    free(reply);
    twiml(resp, dw_buf_steal(&b));
}

void dw_api_oncall_twilio_voice(struct dw_http_request *req, struct dw_http_response *resp,
                                const struct dw_http_app *app)
{
    if (!need_oncall(app, resp) || !twilio_ok(req, resp, app))
        return;
    char *xml = NULL, *err = NULL;
    int rc = dw_oncall_voice_digits(app->oncall, dw_http_req_arg(req, "t"),
                                    dw_http_req_arg(req, "Digits"), dw_now_ms(), &xml, &err);
    if (rc == 0)
        twiml(resp, xml);
    else
        dw_api_module_error(resp, rc, err);
    free(err);
}

void dw_api_oncall_twilio_status(struct dw_http_request *req, struct dw_http_response *resp,
                                 const struct dw_http_app *app)
{
    if (!need_oncall(app, resp) || !twilio_ok(req, resp, app))
        return;
    char *err = NULL;
    int rc = dw_oncall_voice_status(app->oncall, dw_http_req_arg(req, "t"),
                                    dw_http_req_arg(req, "CallStatus"), dw_now_ms(), &err);
    if (rc == 0)
        twiml(resp, dw_strdup("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>"));
    else
        dw_api_module_error(resp, rc, err);
    free(err);
}

/* ---- the outbox ---- */

void dw_api_notify_outbox(struct dw_http_request *req, struct dw_http_response *resp,
                          const struct dw_http_app *app)
{
    static const char *const states[] = {"pending", "delivered", "given_up", "expired", "dropped"};
    int64_t limit;
    const char *state;
    if (!limit_param(req, resp, &limit) ||
        !state_param(req, resp, states, DW_ARRAY_LEN(states),
                     "state must be pending, delivered, given_up, expired or dropped", &state))
        return;
    const char *att = dw_http_req_arg(req, "attempts");
    char *err = NULL;
    json_t *rows = dw_notifier_outbox_json(app->store, state, dw_http_req_arg(req, "key"),
                                           (size_t)limit, att && strcmp(att, "true") == 0, &err);
    if (rows)
        dw_http_resp_success(resp, rows);
    else
        dw_http_resp_error(resp, 503, "unavailable", "%s", err ? err : "store failure");
    free(err);
}
