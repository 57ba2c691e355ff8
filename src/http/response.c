/*
 * response.c - the response builders handlers call: status, headers, raw
 * bodies, text, JSON and the Prometheus API envelope
 * ({"status":"success","data":...} / {"status":"error","errorType":...}).
 *
 * A response is plain memory until the handler returns; server.c then turns
 * it into a libmicrohttpd response. Calling a builder twice replaces the
 * earlier body, so a handler may start optimistic and fall back to an error.
 * Every body comes with the function that frees it (free() for heap bodies,
 * the owner's release for borrowed ones, e.g. the status page's documents),
 * handed to libmicrohttpd with the body, so serving prebuilt bytes copies
 * nothing.
 *
 * Threads: a response belongs to the polling thread serving its request.
 */
#include <stdio.h>
#include <string.h>

#include "http_internal.h"

void dw_http_response_init(struct dw_http_response *resp)
{
    *resp = (struct dw_http_response){0};
}

/* Gives the body back to its owner (frees a heap one). */
static void release_body(struct dw_http_response *resp)
{
    if (resp->release)
        resp->release(resp->release_cls);
    resp->release = NULL;
    resp->release_cls = NULL;
    resp->body = NULL;
    resp->len = 0;
}

void dw_http_response_release(struct dw_http_response *resp)
{
    free(resp->content_type);
    release_body(resp);
    dw_http_kvs_release(&resp->headers);
    dw_http_response_init(resp);
}

void dw_http_resp_status(struct dw_http_response *resp, int status)
{
    resp->status = status;
    resp->set = true;
}

void dw_http_resp_header(struct dw_http_response *resp, const char *name, const char *value)
{
    dw_http_kvs_add(&resp->headers, name, value);
}

void dw_http_resp_header_ref(struct dw_http_response *resp, const char *name, const char *value)
{
    if (resp->nheader_refs < DW_HTTP_HEADER_REFS)
        resp->header_refs[resp->nheader_refs++] = (struct dw_http_header_ref){name, value};
    else
        dw_http_resp_header(resp, name, value);
}

void dw_http_resp_body(struct dw_http_response *resp, int status, const char *content_type,
                       char *body, size_t len)
{
    release_body(resp);
    free(resp->content_type);
    resp->body = body;
    resp->len = body ? len : 0;
    resp->release = body ? free : NULL;
    resp->release_cls = body;
    resp->content_type = content_type ? dw_strdup(content_type) : NULL;
    resp->content_type_ref = NULL;
    dw_http_resp_status(resp, status);
}

void dw_http_resp_borrow(struct dw_http_response *resp, int status, const char *content_type,
                         const char *body, size_t len, void (*release)(void *cls), void *cls)
{
    release_body(resp);
    free(resp->content_type);
    resp->content_type = NULL;
    resp->content_type_ref = content_type;
    resp->body = body;
    resp->len = body ? len : 0;
    resp->release = release;
    resp->release_cls = cls;
    dw_http_resp_status(resp, status);
}

void dw_http_resp_text(struct dw_http_response *resp, int status, const char *text)
{
    dw_http_resp_body(resp, status, "text/plain; charset=utf-8", dw_strdup(text), strlen(text));
}

void dw_http_resp_json(struct dw_http_response *resp, int status, json_t *json)
{
    char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
    json_decref(json);
    if (!text) {
        /* Only a broken document gets here (e.g. a NaN real); say so rather than send junk. */
        dw_http_resp_error(resp, 500, "internal", "response could not be encoded as JSON");
        return;
    }
    /* jansson allocates with malloc, which free() in the server accepts. */
    dw_http_resp_body(resp, status, "application/json", text, strlen(text));
}

void dw_http_resp_success(struct dw_http_response *resp, json_t *data)
{
    json_t *env = json_object();
    json_object_set_new(env, "status", json_string("success"));
    if (data)
        json_object_set_new(env, "data", data);
    dw_http_resp_json(resp, 200, env);
}

void dw_http_resp_error(struct dw_http_response *resp, int status, const char *type,
                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = dw_vasprintf(fmt, ap);
    va_end(ap);
    json_t *env = json_object();
    json_object_set_new(env, "status", json_string("error"));
    json_object_set_new(env, "errorType", json_string(type));
    /* json_stringn_nocheck would let invalid UTF-8 through; replace it instead. */
    json_t *text = json_string(msg);
    json_object_set_new(env, "error", text ? text : json_string("(message is not valid UTF-8)"));
    free(msg);
    char *body = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    dw_http_resp_body(resp, status, "application/json", body, strlen(body));
}

void dw_api_module_error(struct dw_http_response *resp, int rc, const char *err)
{
    const char *msg = err ? err : "store failure";
    if (rc == DW_API_EINVAL)
        dw_http_resp_error(resp, 400, "bad_data", "%s", msg);
    else if (rc == DW_API_ENOTFOUND)
        dw_http_resp_error(resp, 404, "not_found", "%s", msg);
    else if (rc == DW_API_EDENIED)
        dw_http_resp_error(resp, 403, "forbidden", "%s", msg);
    else
        dw_http_resp_error(resp, 503, "unavailable", "%s", msg);
}

/* The body as a JSON object (or array), else NULL after a 400 saying what it is instead. */
static json_t *body_json(struct dw_http_request *req, struct dw_http_response *resp, bool array)
{
    size_t len = 0;
    const char *body = dw_http_req_body(req, &len);
    json_error_t jerr;
    json_t *in = json_loadb(body ? body : "", len, 0, &jerr);
    if (array ? !json_is_array(in) : !json_is_object(in)) {
        dw_http_resp_error(resp, 400, "bad_data", "expected a JSON %s: %s",
                           array ? "array" : "object", in ? "got another JSON value" : jerr.text);
        json_decref(in);
        return NULL;
    }
    return in;
}

json_t *dw_api_body_array(struct dw_http_request *req, struct dw_http_response *resp)
{
    return body_json(req, resp, true);
}

json_t *dw_api_body_object(struct dw_http_request *req, struct dw_http_response *resp)
{
    return body_json(req, resp, false);
}

bool dw_api_need(const void *module, struct dw_http_response *resp, const char *missing)
{
    if (module)
        return true;
    dw_http_resp_error(resp, 503, "unavailable", "%s", missing);
    return false;
}

void dw_api_found(struct dw_http_response *resp, json_t *out, const char *what, const char *id)
{
    if (out)
        dw_http_resp_success(resp, out);
    else
        dw_http_resp_error(resp, 404, "not_found", "no %s %s", what, id ? id : "");
}

void dw_api_module_answer(struct dw_http_response *resp, int rc, json_t *out, char *err)
{
    if (rc == 0) {
        dw_http_resp_success(resp, out);
    } else {
        dw_api_module_error(resp, rc, err);
        json_decref(out);
    }
    free(err);
}
