/*
 * request.c - the request object handlers see: decoding of paths, query
 * strings and form bodies, and the dw_http_req_* accessors.
 *
 * libmicrohttpd is told not to unescape anything (server.c installs a no-op
 * unescaper), so every byte is decoded exactly once, here: path segments with
 * plain percent-decoding (so "%2F" inside an id stays inside that segment),
 * arguments with form decoding ('+' is a space), like Go's url.ParseQuery
 * that Prometheus clients expect.
 *
 * Threads: a request belongs to the polling thread that serves it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "http_internal.h"

/* ---- pairs ---- */

void dw_http_kvs_take(struct dw_http_kvs *kvs, char *name, char *value)
{
    kvs->items = dw_grow(kvs->items, &kvs->cap, kvs->n + 1, sizeof *kvs->items);
    kvs->items[kvs->n++] = (struct dw_http_kv){name, value};
}

void dw_http_kvs_add(struct dw_http_kvs *kvs, const char *name, const char *value)
{
    dw_http_kvs_take(kvs, dw_strdup(name), dw_strdup(value ? value : ""));
}

const char *dw_http_kvs_get(const struct dw_http_kvs *kvs, const char *name)
{
    for (size_t i = 0; i < kvs->n; i++)
        if (strcmp(kvs->items[i].name, name) == 0)
            return kvs->items[i].value;
    return NULL;
}

void dw_http_kvs_release(struct dw_http_kvs *kvs)
{
    for (size_t i = 0; i < kvs->n; i++) {
        free(kvs->items[i].name);
        free(kvs->items[i].value);
    }
    free(kvs->items);
    *kvs = (struct dw_http_kvs){0};
}

/* ---- decoding ---- */

int dw_http_decode(const char *s, size_t n, bool plus_is_space, char **out)
{
    char *d = dw_malloc(n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+' && plus_is_space) {
            d[j++] = ' ';
        } else if (s[i] != '%') {
            d[j++] = s[i];
        } else {
            /* Needs two hex digits; an encoded NUL would truncate C strings. */
            int hi = i + 2 < n ? dw_hex_digit(s[i + 1]) : -1;
            int lo = i + 2 < n ? dw_hex_digit(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(d);
                *out = NULL;
                return -1;
            }
            d[j++] = (char)(hi * 16 + lo);
            i += 2;
        }
    }
    d[j] = '\0';
    *out = d;
    return 0;
}

int dw_http_form_parse(const char *s, size_t n, struct dw_http_kvs *kvs)
{
    size_t i = 0;
    while (i < n) {
        const char *amp = memchr(s + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - s) : n;
        if (end > i) {
            const char *eq = memchr(s + i, '=', end - i);
            size_t name_end = eq ? (size_t)(eq - s) : end;
            size_t value_start = eq ? name_end + 1 : end;
            char *name, *value;
            if (dw_http_decode(s + i, name_end - i, true, &name) < 0)
                return -1;
            if (dw_http_decode(s + value_start, end - value_start, true, &value) < 0) {
                free(name);
                return -1;
            }
            dw_http_kvs_take(kvs, name, value);
        }
        i = end + 1;
    }
    return 0;
}

int dw_http_path_split(const char *path, char ***segments, size_t *n)
{
    char **segs = NULL;
    size_t count = 0, cap = 0;
    const char *p = path[0] == '/' ? path + 1 : path;
    if (path[0] == '/' && path[1] == '\0')
        p = NULL; /* "/" has no segments */
    while (p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        char *seg;
        if (dw_http_decode(p, len, false, &seg) < 0) {
            for (size_t i = 0; i < count; i++)
                free(segs[i]);
            free(segs);
            return -1;
        }
        segs = dw_grow(segs, &cap, count + 1, sizeof *segs);
        segs[count++] = seg;
        p = slash ? slash + 1 : NULL;
    }
    *segments = segs;
    *n = count;
    return 0;
}

/* ---- lifecycle ---- */

struct dw_http_request *dw_http_request_new(struct dw_http_server *srv, struct MHD_Connection *conn,
                                            const char *method, const char *path)
{
    struct dw_http_request *req = dw_calloc(1, sizeof *req);
    req->srv = srv;
    req->conn = conn;
    req->method = dw_strdup(method);
    req->path = dw_strdup(path);
    req->start_ns = dw_mono_ns();
    dw_buf_init(&req->body, 0);
    return req;
}

void dw_http_request_free(struct dw_http_request **reqp)
{
    struct dw_http_request *req = *reqp;
    if (!req)
        return;
    for (size_t i = 0; i < req->nsegments; i++)
        free(req->segments[i]);
    free(req->segments);
    dw_http_kvs_release(&req->params);
    dw_http_kvs_release(&req->query);
    dw_http_kvs_release(&req->form);
    dw_buf_release(&req->body);
    free(req->method);
    free(req->path);
    free(req->principal);
    free(req);
    *reqp = NULL;
}

/* ---- accessors ---- */

const char *dw_http_req_method(const struct dw_http_request *req)
{
    return req->method;
}

const char *dw_http_req_path(const struct dw_http_request *req)
{
    return req->path;
}

const char *dw_http_req_arg(const struct dw_http_request *req, const char *name)
{
    const char *v = dw_http_kvs_get(&req->form, name);
    return v ? v : dw_http_kvs_get(&req->query, name);
}

static size_t collect(const struct dw_http_kvs *kvs, const char *name, const char **out, size_t max,
                      size_t count)
{
    for (size_t i = 0; i < kvs->n; i++) {
        if (strcmp(kvs->items[i].name, name) != 0)
            continue;
        if (count < max)
            out[count] = kvs->items[i].value;
        count++;
    }
    return count;
}

size_t dw_http_req_args(const struct dw_http_request *req, const char *name, const char **out,
                        size_t max)
{
    size_t count = collect(&req->form, name, out, max, 0);
    return collect(&req->query, name, out, max, count);
}

const char *dw_http_req_param(const struct dw_http_request *req, const char *name)
{
    return dw_http_kvs_get(&req->params, name);
}

const char *dw_http_req_header(const struct dw_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *dw_http_req_body(const struct dw_http_request *req, size_t *len)
{
    if (len)
        *len = req->body.len;
    return req->body.data ? req->body.data : "";
}

enum dw_role dw_http_req_role(const struct dw_http_request *req)
{
    return req->role;
}

const char *dw_http_req_principal(const struct dw_http_request *req)
{
    return req->principal ? req->principal : "anonymous";
}

void dw_http_req_client(const struct dw_http_request *req, char out[64])
{
    out[0] = '\0';
    const union MHD_ConnectionInfo *ci =
        req->conn ? MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, 64);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, 64);
}
