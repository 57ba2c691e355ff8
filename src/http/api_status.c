/*
 * api_status.c - the status page over HTTP: the public documents (open to
 * everyone, served from the status module's prebuilt bytes with ETag,
 * Last-Modified, 304s and Cache-Control; CORS on the banner) and the
 * management API (overrides, public incident updates, maintenance).
 * Translation only: the logic is in src/status/.
 *
 * Serving copies nothing: the handler takes a reference to the module's
 * immutable document and lends its bytes (identity or the prebuilt gzip,
 * by Accept-Encoding) and its ready-made header values to the response;
 * libmicrohttpd releases the reference when it has sent the body.
 *
 * Threads: libmicrohttpd's; the status module is thread-safe and taking a
 * document is a short read lock, with no store access.
 */
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "status/status.h"

_Static_assert(DW_STATUS_EINVAL == DW_API_EINVAL && DW_STATUS_ENOTFOUND == DW_API_ENOTFOUND,
               "status return codes");

#define COMPONENTS_MAX 100 /* component states in one update */

static bool need_status(const struct dw_http_app *app, struct dw_http_response *resp)
{
    return dw_api_need(app->status, resp, "the status page is not running in this process");
}

/*
 * Access-Control-Allow-Origin for the request's Origin when allowed, with
 * the Vary header the answer needs: Origin when the value is the origin
 * itself, Accept-Encoding when the document has a gzip variant.
 */
static void cors_headers(struct dw_http_request *req, struct dw_http_response *resp,
                         const struct dw_http_app *app, bool vary_encoding)
{
    char origin[512];
    bool allowed = dw_status_cors_origin(app->status, dw_http_req_header(req, "Origin"), origin,
                                         sizeof origin);
    bool any = allowed && strcmp(origin, "*") == 0;
    if (allowed)
        dw_http_resp_header(resp, "Access-Control-Allow-Origin", origin);
    if (allowed && !any)
        dw_http_resp_header_ref(resp, "Vary", vary_encoding ? "Accept-Encoding, Origin" : "Origin");
    else if (vary_encoding)
        dw_http_resp_header_ref(resp, "Vary", "Accept-Encoding");
}

static void doc_release(void *doc)
{
    dw_status_doc_release(doc);
}

/*
 * Answers with the named document (its gzip variant when the client takes
 * gzip), or 304 when the client's copy of that variant is current. The
 * response holds the reference: the body and every header value but CORS's
 * point into the document.
 */
static void serve(struct dw_http_request *req, struct dw_http_response *resp,
                  const struct dw_http_app *app, const char *name)
{
    if (!need_status(app, resp) || !dw_api_status_admit(req, resp, app))
        return;
    const struct dw_status_doc *doc;
    if (dw_status_doc_get(app->status, name, &doc) != 0) {
        dw_http_resp_text(resp, 404, "Not found.\n");
        return;
    }
    bool gz = doc->gzip && dw_http_accepts_gzip(dw_http_req_header(req, "Accept-Encoding"));
    const char *etag = gz ? doc->etag_gzip : doc->etag;
    if (dw_status_not_modified(etag, doc->last_modified_ms,
                               dw_http_req_header(req, "If-None-Match"),
                               dw_http_req_header(req, "If-Modified-Since")))
        dw_http_resp_borrow(resp, 304, NULL, NULL, 0, doc_release, (void *)doc);
    else
        dw_http_resp_borrow(resp, 200, doc->content_type, gz ? doc->gzip : doc->body,
                            gz ? doc->gzip_len : doc->len, doc_release, (void *)doc);
    if (gz && resp->status == 200)
        dw_http_resp_header_ref(resp, "Content-Encoding", "gzip");
    dw_http_resp_header_ref(resp, "ETag", etag);
    dw_http_resp_header_ref(resp, "Last-Modified", doc->last_modified);
    dw_http_resp_header_ref(resp, "Cache-Control", doc->cache_control);
    if (doc->cors)
        cors_headers(req, resp, app, doc->gzip != NULL);
    else if (doc->gzip)
        dw_http_resp_header_ref(resp, "Vary", "Accept-Encoding");
}

/* Exact routes: the document is named by the path below /status. */
void dw_api_status_doc(struct dw_http_request *req, struct dw_http_response *resp,
                       const struct dw_http_app *app)
{
    const char *path = dw_http_req_path(req);
    const char *name = dw_str_has_prefix(path, "/status") ? path + 7 : path;
    serve(req, resp, app, *name ? name : "/");
}

void dw_api_status_history(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app)
{
    const char *page = dw_http_req_arg(req, "page");
    int64_t n = 1;
    if (page && (dw_parse_int64(page, &n) != 0 || n < 1 || n > 100000)) {
        dw_http_resp_text(resp, 404, "Not found.\n");
        return;
    }
    char name[48];
    snprintf(name, sizeof name, "/history?page=%lld", (long long)n);
    serve(req, resp, app, name);
}

void dw_api_status_incident_page(struct dw_http_request *req, struct dw_http_response *resp,
                                 const struct dw_http_app *app)
{
    char *name = dw_asprintf("/incidents/%s", dw_http_req_param(req, "id"));
    serve(req, resp, app, name);
    free(name);
}

void dw_api_status_badge(struct dw_http_request *req, struct dw_http_response *resp,
                         const struct dw_http_app *app)
{
    const char *file = dw_http_req_param(req, "file");
    if (!dw_str_has_suffix(file, ".svg")) {
        dw_http_resp_text(resp, 404, "Not found.\n");
        return;
    }
    char *name = dw_asprintf("/badge/%s", file);
    serve(req, resp, app, name);
    free(name);
}

/* OPTIONS on the banner routes: the CORS preflight. */
void dw_api_status_preflight(struct dw_http_request *req, struct dw_http_response *resp,
                             const struct dw_http_app *app)
{
    if (!need_status(app, resp) || !dw_api_status_admit(req, resp, app))
        return;
    dw_http_resp_body(resp, 204, NULL, NULL, 0);
    cors_headers(req, resp, app, false);
    dw_http_resp_header(resp, "Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
    dw_http_resp_header(resp, "Access-Control-Allow-Headers", "If-None-Match, If-Modified-Since");
    dw_http_resp_header(resp, "Access-Control-Max-Age", "86400");
}

/* ---- management ---- */

void dw_api_status_components(struct dw_http_request *req, struct dw_http_response *resp,
                              const struct dw_http_app *app)
{
    if (need_status(app, resp))
        dw_http_resp_success(resp, dw_status_components_json(app->status));
}

void dw_api_status_component(struct dw_http_request *req, struct dw_http_response *resp,
                             const struct dw_http_app *app)
{
    if (!need_status(app, resp))
        return;
    const char *id = dw_http_req_param(req, "id");
    dw_api_found(resp, dw_status_component_json(app->status, id), "component", id);
}

void dw_api_status_component_uptime(struct dw_http_request *req, struct dw_http_response *resp,
                                    const struct dw_http_app *app)
{
    if (!need_status(app, resp))
        return;
    const char *id = dw_http_req_param(req, "id");
    dw_api_found(resp, dw_status_uptime_json(app->status, id, dw_now_ms()), "component", id);
}

/* POST {"state": "major_outage"} sets the override; {"state": null} clears it. */
void dw_api_status_component_override(struct dw_http_request *req, struct dw_http_response *resp,
                                      const struct dw_http_app *app)
{
    if (!need_status(app, resp))
        return;
    json_t *in = dw_api_body_object(req, resp);
    if (!in)
        return;
    json_t *state = json_object_get(in, "state");
    const char *id = dw_http_req_param(req, "id");
    char *err = NULL;
    int rc;
    if (!state || (!json_is_null(state) && !json_is_string(state))) {
        rc = DW_STATUS_EINVAL;
        err = dw_strdup("send {\"state\": \"<state>\"} to override, {\"state\": null} to clear");
    } else {
        rc = dw_status_override(app->status, id, json_string_value(state),
                                dw_http_req_principal(req), dw_now_ms(), &err);
    }
    dw_api_module_answer(resp, rc, rc == 0 ? dw_status_component_json(app->status, id) : NULL, err);
    json_decref(in);
}

void dw_api_status_incident_update(struct dw_http_request *req, struct dw_http_response *resp,
                                   const struct dw_http_app *app)
{
    if (!need_status(app, resp))
        return;
    json_t *in = dw_api_body_object(req, resp);
    if (!in)
        return;
    struct dw_status_component_state cs[COMPONENTS_MAX];
    size_t n = 0;
    const char *key;
    json_t *v, *comps = json_object_get(in, "components");
    char *err = NULL;
    int rc = 0;
    if (comps && !json_is_object(comps)) {
        rc = DW_STATUS_EINVAL;
        err = dw_strdup("components must be an object {\"<component>\": \"<state>\"}");
    }
    json_object_foreach(comps, key, v)
    {
        if (n == COMPONENTS_MAX || !json_is_string(v)) {
            rc = DW_STATUS_EINVAL;
            free(err);
            err = dw_asprintf("components: at most %d entries, each a state name", COMPONENTS_MAX);
            break;
        }
        cs[n++] = (struct dw_status_component_state){key, json_string_value(v)};
    }
    if (rc == 0)
        rc = dw_status_incident_update(app->status, dw_http_req_param(req, "id"),
                                       json_string_value(json_object_get(in, "status")),
                                       json_string_value(json_object_get(in, "body")), cs, n,
                                       dw_http_req_principal(req), dw_now_ms(), &err);
    dw_api_module_answer(resp, rc, NULL, err);
    json_decref(in);
}

void dw_api_status_maintenances(struct dw_http_request *req, struct dw_http_response *resp,
                                const struct dw_http_app *app)
{
    if (need_status(app, resp))
        dw_http_resp_success(resp, dw_status_maintenances_json(app->status));
}

static void maintenance_set(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app, const char *id)
{
    if (!need_status(app, resp))
        return;
    json_t *in = dw_api_body_object(req, resp);
    if (!in)
        return;
    char out[48], *err = NULL;
    int rc = dw_status_maintenance_set(app->status, id, in, dw_http_req_principal(req), dw_now_ms(),
                                       out, &err);
    dw_api_module_answer(resp, rc, rc == 0 ? json_pack("{s:s}", "id", out) : NULL, err);
    json_decref(in);
}

void dw_api_status_maintenance_create(struct dw_http_request *req, struct dw_http_response *resp,
                                      const struct dw_http_app *app)
{
    maintenance_set(req, resp, app, NULL);
}

void dw_api_status_maintenance_update(struct dw_http_request *req, struct dw_http_response *resp,
                                      const struct dw_http_app *app)
{
    maintenance_set(req, resp, app, dw_http_req_param(req, "id"));
}

void dw_api_status_maintenance_delete(struct dw_http_request *req, struct dw_http_response *resp,
                                      const struct dw_http_app *app)
{
    if (!need_status(app, resp))
        return;
    char *err = NULL;
    int rc =
        dw_status_maintenance_delete(app->status, dw_http_req_param(req, "id"), dw_now_ms(), &err);
    dw_api_module_answer(resp, rc, NULL, err);
}
