/*
 * api_subscribe.c - the status page's subscriptions over HTTP: the public
 * forms (subscribe, confirm, manage, unsubscribe - RFC 8058 one-click POST
 * included), each answered as an HTML page or, when the client sends or
 * accepts JSON, as JSON; and the operators' routes (list, import, delete,
 * notices). Translation only: the logic is in src/status/subscribers.c.
 *
 * Every public route passes the per-client limit first (429 + Retry-After).
 * Public bodies are capped at BODY_MAX whatever the server's limit.
 *
 * Threads: libmicrohttpd's; the status module is thread-safe.
 */
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "status/status.h"

#define BODY_MAX 16384
#define COMPONENTS_MAX 100

static bool wants_json(struct dw_http_request *req)
{
    const char *ct = dw_http_req_header(req, "Content-Type");
    const char *accept = dw_http_req_header(req, "Accept");
    return (ct && dw_str_has_prefix(ct, "application/json")) ||
           (accept && strstr(accept, "application/json") && !strstr(accept, "text/html"));
}

static void page(struct dw_http_response *resp, const struct dw_http_app *app, int code,
                 const char *kind, const char *token, const char *message)
{
    char *html = dw_status_subscribe_page(app->status, kind, token, message);
    dw_http_resp_body(resp, code, "text/html; charset=utf-8", html, strlen(html));
    dw_http_resp_header(resp, "Cache-Control", "no-store");
    dw_http_resp_header(resp, "Referrer-Policy", "no-referrer"); /* tokens sit in the URL */
    dw_http_resp_header(resp, "X-Frame-Options", "DENY");
}

/* The answer of a public form: a page, or {"status": ..., "message": ...}. */
static void answer(struct dw_http_request *req, struct dw_http_response *resp,
                   const struct dw_http_app *app, int code, const char *status, const char *kind,
                   const char *token, const char *message)
{
    if (wants_json(req)) {
        dw_http_resp_json(resp, code,
                          json_pack("{s:s, s:s}", "status", status, "message", message));
        dw_http_resp_header(resp, "Cache-Control", "no-store");
        return;
    }
    page(resp, app, code, kind, token, message);
}

static void too_many(struct dw_http_request *req, struct dw_http_response *resp,
                     const struct dw_http_app *app, int retry_s, const char *message)
{
    char ra[24];
    snprintf(ra, sizeof ra, "%d", retry_s > 0 ? retry_s : 1);
    answer(req, resp, app, 429, "limited", "error", NULL, message);
    dw_http_resp_header(resp, "Retry-After", ra);
}

bool dw_api_status_admit(struct dw_http_request *req, struct dw_http_response *resp,
                         const struct dw_http_app *app)
{
    char client[64];
    dw_http_req_client(req, client);
    int retry = 0;
    if (dw_status_admit(app->status, client, dw_http_req_header(req, "X-Forwarded-For"),
                        dw_now_ms(), &retry))
        return true;
    too_many(req, resp, app, retry, "Too many requests from your address; try again later.");
    return false;
}

/* The status module is there, the client is within its limit and the body is small. */
static bool gate(struct dw_http_request *req, struct dw_http_response *resp,
                 const struct dw_http_app *app)
{
    if (!dw_api_need(app->status, resp, "the status page is not running in this process") ||
        !dw_api_status_admit(req, resp, app))
        return false;
    size_t len = 0;
    dw_http_req_body(req, &len);
    if (len > BODY_MAX) {
        answer(req, resp, app, 413, "error", "error", NULL,
               "The request is too large (at most 16 KiB).");
        return false;
    }
    return true;
}

/* A form or JSON field. */
struct input {
    json_t *json; /* the JSON body, when it is one */
    const char *components[COMPONENTS_MAX];
    size_t ncomponents;
    bool too_many;
};

static bool input_read(struct dw_http_request *req, struct dw_http_response *resp,
                       const struct dw_http_app *app, struct input *in)
{
    *in = (struct input){0};
    const char *ct = dw_http_req_header(req, "Content-Type");
    if (ct && dw_str_has_prefix(ct, "application/json")) {
        size_t len = 0;
        const char *body = dw_http_req_body(req, &len);
        in->json = json_loadb(body ? body : "", len, 0, NULL);
        if (!json_is_object(in->json)) {
            json_decref(in->json);
            in->json = NULL;
            answer(req, resp, app, 400, "error", "error", NULL, "The body is not a JSON object.");
            return false;
        }
        json_t *c = json_object_get(in->json, "components"), *v;
        size_t i;
        json_array_foreach(c, i, v)
        {
            if (in->ncomponents == COMPONENTS_MAX) {
                in->too_many = true;
                break;
            }
            in->components[in->ncomponents++] = json_is_string(v) ? json_string_value(v) : "";
        }
        return true;
    }
    size_t n = dw_http_req_args(req, "components", in->components, COMPONENTS_MAX);
    in->too_many = n > COMPONENTS_MAX;
    in->ncomponents = in->too_many ? COMPONENTS_MAX : n;
    return true;
}

static const char *input_get(struct dw_http_request *req, const struct input *in, const char *name)
{
    if (in->json)
        return json_string_value(json_object_get(in->json, name));
    return dw_http_req_arg(req, name);
}

/* ---- public ---- */

void dw_api_status_subscribe_form(struct dw_http_request *req, struct dw_http_response *resp,
                                  const struct dw_http_app *app)
{
    if (gate(req, resp, app))
        page(resp, app, 200, "form", NULL, NULL);
}

void dw_api_status_subscribe(struct dw_http_request *req, struct dw_http_response *resp,
                             const struct dw_http_app *app)
{
    struct input in;
    if (!gate(req, resp, app) || !input_read(req, resp, app, &in))
        return;
    char client[64];
    dw_http_req_client(req, client);
    struct dw_status_subscribe s = {.email = input_get(req, &in, "email"),
                                    .webhook = input_get(req, &in, "webhook"),
                                    .components = in.components,
                                    .ncomponents = in.ncomponents,
                                    .client = client};
    char *err = NULL;
    int retry = 0;
    int rc = in.too_many ? DW_STATUS_EINVAL
                         : dw_status_subscribe(app->status, &s, dw_now_ms(), &retry, &err);
    if (rc == 0)
        answer(req, resp, app, 202, "pending", "form", NULL,
               "Almost done: we sent a confirmation link to the e-mail address. "
               "Nothing is sent before you follow it.");
    else if (rc == DW_STATUS_ELIMIT)
        too_many(req, resp, app, retry, err);
    else if (rc == DW_STATUS_EINVAL)
        answer(req, resp, app, 400, "error", "form", NULL,
               in.too_many ? "Too many components." : err);
    else
        answer(req, resp, app, 503, "error", "error", NULL,
               "Subscriptions cannot be taken right now; try again later.");
    free(err);
    json_decref(in.json);
}

/* The token of a link: the query's, or the form's. */
static const char *token_of(struct dw_http_request *req, const struct input *in)
{
    const char *t = input_get(req, in, "token");
    return t ? t : dw_http_req_arg(req, "token");
}

void dw_api_status_confirm_page(struct dw_http_request *req, struct dw_http_response *resp,
                                const struct dw_http_app *app)
{
    if (gate(req, resp, app))
        page(resp, app, 200, "confirm", dw_http_req_arg(req, "token"),
             "Confirm your subscription to this page's updates.");
}

typedef int (*token_fn)(struct dw_status *st, const char *token, int64_t now_ms, char **err);

/* A POST that acts on the token of a link (confirm, unsubscribe). */
static void token_action(struct dw_http_request *req, struct dw_http_response *resp,
                         const struct dw_http_app *app, token_fn fn, const char *status,
                         const char *done)
{
    struct input in;
    if (!gate(req, resp, app) || !input_read(req, resp, app, &in))
        return;
    char *err = NULL;
    int rc = fn(app->status, token_of(req, &in), dw_now_ms(), &err);
    if (rc == 0)
        answer(req, resp, app, 200, status, "error", NULL, done);
    else
        answer(req, resp, app, rc == DW_STATUS_ENOTFOUND ? 404 : 503, "error", "error", NULL,
               rc == DW_STATUS_ENOTFOUND ? err : "Try again later.");
    free(err);
    json_decref(in.json);
}

void dw_api_status_confirm(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app)
{
    token_action(req, resp, app, dw_status_subscription_confirm, "active",
                 "You are subscribed. Every message has a link to change or end the subscription.");
}

void dw_api_status_manage_page(struct dw_http_request *req, struct dw_http_response *resp,
                               const struct dw_http_app *app)
{
    if (!gate(req, resp, app))
        return;
    const char *token = dw_http_req_arg(req, "token");
    json_t *sub = dw_status_subscription_json(app->status, token);
    if (!sub) {
        answer(req, resp, app, 404, "error", "error", NULL,
               "This link names no subscription (it may have ended already).");
        return;
    }
    if (wants_json(req))
        dw_http_resp_json(resp, 200, json_incref(sub));
    else
        page(resp, app, 200, "manage", token, NULL);
    json_decref(sub);
}

void dw_api_status_manage(struct dw_http_request *req, struct dw_http_response *resp,
                          const struct dw_http_app *app)
{
    struct input in;
    if (!gate(req, resp, app) || !input_read(req, resp, app, &in))
        return;
    const char *token = token_of(req, &in);
    char *err = NULL;
    int rc = in.too_many ? DW_STATUS_EINVAL
                         : dw_status_subscription_components(app->status, token, in.components,
                                                             in.ncomponents, dw_now_ms(), &err);
    if (rc == 0)
        answer(req, resp, app, 200, "active", "manage", token, "Saved.");
    else
        answer(req, resp, app,
               rc == DW_STATUS_EINVAL      ? 400
               : rc == DW_STATUS_ENOTFOUND ? 404
                                           : 503,
               "error", "error", NULL, err ? err : "Too many components.");
    free(err);
    json_decref(in.json);
}

void dw_api_status_unsubscribe_page(struct dw_http_request *req, struct dw_http_response *resp,
                                    const struct dw_http_app *app)
{
    if (gate(req, resp, app))
        page(resp, app, 200, "unsubscribe", dw_http_req_arg(req, "token"),
             "Stop receiving this page's updates?");
}

/* The form's button, and RFC 8058's one-click POST (body List-Unsubscribe=One-Click). */
void dw_api_status_unsubscribe(struct dw_http_request *req, struct dw_http_response *resp,
                               const struct dw_http_app *app)
{
    token_action(req, resp, app, dw_status_unsubscribe, "unsubscribed",
                 "You are unsubscribed: nothing more will be sent.");
}

/* ---- operators ---- */

void dw_api_status_subscribers(struct dw_http_request *req, struct dw_http_response *resp,
                               const struct dw_http_app *app)
{
    if (!dw_api_need(app->status, resp, "the status page is not running in this process"))
        return;
    int64_t after = 0, limit = 1000;
    const char *a = dw_http_req_arg(req, "after"), *l = dw_http_req_arg(req, "limit");
    if ((a && (dw_parse_int64(a, &after) != 0 || after < 0)) ||
        (l && (dw_parse_int64(l, &limit) != 0 || limit < 1 || limit > 1000))) {
        dw_http_resp_error(resp, 400, "bad_data", "after must be an id >= 0, limit 1..1000");
        return;
    }
    char *err = NULL;
    json_t *out = dw_status_subscribers_json(app->status, after, (size_t)limit, &err);
    dw_api_module_answer(resp, out ? 0 : -1, out, err);
}

void dw_api_status_subscribers_import(struct dw_http_request *req, struct dw_http_response *resp,
                                      const struct dw_http_app *app)
{
    if (!dw_api_need(app->status, resp, "the status page is not running in this process"))
        return;
    json_t *list = dw_api_body_array(req, resp);
    if (!list)
        return;
    char *err = NULL;
    size_t added = 0;
    int rc = dw_status_subscribers_import(app->status, list, dw_now_ms(), &added, &err);
    json_decref(list);
    dw_api_module_answer(resp, rc, json_pack("{s:I}", "added", (json_int_t)added), err);
}

void dw_api_status_subscriber_delete(struct dw_http_request *req, struct dw_http_response *resp,
                                     const struct dw_http_app *app)
{
    if (!dw_api_need(app->status, resp, "the status page is not running in this process"))
        return;
    int64_t id = 0;
    if (dw_parse_int64(dw_http_req_param(req, "id"), &id) != 0 || id < 1) {
        dw_http_resp_error(resp, 400, "bad_data", "the subscriber id must be a positive integer");
        return;
    }
    char *err = NULL;
    int rc = dw_status_subscriber_delete(app->status, id, &err);
    dw_api_module_answer(resp, rc, json_pack("{s:I}", "deleted", (json_int_t)id), err);
}

void dw_api_status_notices(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app)
{
    if (!dw_api_need(app->status, resp, "the status page is not running in this process"))
        return;
    char *err = NULL;
    json_t *out = dw_status_notices_json(app->status, 100, &err);
    dw_api_module_answer(resp, out ? 0 : -1, out, err);
}
