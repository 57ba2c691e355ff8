/*
 * server.c - the HTTP server: libmicrohttpd glue, the request pipeline
 * (limits, routing, access rules, body collection, dispatch), the access log
 * and the server's own metrics.
 *
 * Threads: libmicrohttpd runs `threads` polling threads (a pool sharing one
 * listening socket, epoll where available). A connection, and so each of its
 * requests, stays on one thread from accept to close, so a request object is
 * never shared; the server struct is read-only after start apart from atomic
 * counters. Handlers run on polling threads.
 *
 * Pipeline of one request, in libmicrohttpd's calls of on_request():
 *   1st call (headers complete): header size -> route (a literal path by
 *     binary search, else path decoding and the table scan; 404/405) ->
 *     bearer token, or else the session cookie with its CSRF
 *     token on state changes (api_auth.c) (401/403) -> Content-Length (413 at once
 *     with Expect: 100-continue or beyond the drain bound) -> query
 *     arguments (400). Any failure queues its error right away, before a
 *     single body byte is read, so an unauthenticated client can never make
 *     us buffer a body.
 *   middle calls (body bytes): collected up to the route's limit. A body that
 *     announced no length (chunked) and grows past it is dropped as it
 *     arrives and answered 413 once complete (libmicrohttpd 0.9.75 refuses
 *     to queue a response mid-body), or cut off by closing the connection
 *     when it runs on far beyond the limit.
 *   last call: form arguments -> handler -> response (500 if it made none).
 * on_completed() then counts the request, logs it and frees it.
 *
 * Connection limit: an accept-policy callback refuses (closes) connections
 * beyond max_connections. libmicrohttpd's own limit is set a little higher
 * because at its limit it stops accepting, leaving new clients waiting in
 * the kernel backlog with no answer, which looks like a hang.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "http_internal.h"

#define DEFAULT_LISTEN "127.0.0.1:9107"
#define DEFAULT_THREADS 2u
#define MAX_THREADS 64u
#define STOP_GRACE_MS 5000
#define MAX_TIMEOUT_S 86400u
#define REFUSAL_LOG_EVERY_NS (10LL * 1000000000LL)

struct dw_http_server {
    struct MHD_Daemon *mhd;
    const struct dw_http_app *app;      /* borrowed; outlives the server */
    const struct dw_http_route *routes; /* borrowed */
    size_t nroutes;
    struct dw_plan_limits limits; /* with defaults filled in */
    int port;
    atomic_uint open_connections;
    atomic_uint inflight; /* requests between their first call and completion */
    atomic_int_fast64_t last_refusal_log_ns;
    struct dw_metric *m_requests, *m_duration, *m_open, *m_refused;
    struct exact_route *exact; /* the literal routes, sorted: see index_routes */
    size_t nexact;
};

/* ---- metrics ---- */

static const double duration_buckets[] = {.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};

static void register_metrics(struct dw_http_server *srv)
{
    srv->m_requests =
        dw_metric_counter("dojowatch_http_requests_total",
                          "HTTP requests served, by route and status code.", "route,code");
    srv->m_duration = dw_metric_histogram(
        "dojowatch_http_request_duration_seconds",
        "Time from a request's complete headers to the end of its response, by route.", "route",
        duration_buckets, DW_ARRAY_LEN(duration_buckets));
    srv->m_open = dw_metric_gauge("dojowatch_http_connections_open",
                                  "HTTP connections currently open.", NULL);
    srv->m_refused = dw_metric_counter(
        "dojowatch_http_connections_refused_total",
        "HTTP connections closed at once because limits.max_connections were open.", NULL);

    struct dw_metric *build = dw_metric_gauge(
        "dojowatch_build_info", "Always 1; labels say which build is running.", "version,cversion");
    const char *build_labels[] = {DW_VERSION, __VERSION__};
    dw_metric_set(build, build_labels, 1);
    struct dw_metric *start = dw_metric_gauge(
        "dojowatch_start_time_seconds", "Start time of the daemon since the Unix epoch.", NULL);
    int64_t started = srv->app->started_at_ms ? srv->app->started_at_ms : dw_now_ms();
    dw_metric_set(start, NULL, (double)started / 1000.0);
}

/* ---- responses ---- */

static enum MHD_Result queue(struct dw_http_request *req, struct dw_http_response *resp)
{
    /*
     * libmicrohttpd takes the body with its release function and calls it
     * once done sending (heap bodies are freed, borrowed ones given back);
     * header values are copied before that can happen.
     */
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(
        resp->len, (void *)(resp->body ? resp->body : ""), resp->release, resp->release_cls);
    if (!r) {
        dw_http_response_release(resp);
        return MHD_NO;
    }
    resp->release = NULL; /* libmicrohttpd's now */
    const char *ctype = resp->content_type ? resp->content_type : resp->content_type_ref;
    if (ctype)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    for (size_t i = 0; i < resp->nheader_refs; i++)
        MHD_add_response_header(r, resp->header_refs[i].name, resp->header_refs[i].value);
    for (size_t i = 0; i < resp->headers.n; i++)
        MHD_add_response_header(r, resp->headers.items[i].name, resp->headers.items[i].value);
    enum MHD_Result ok = MHD_queue_response(req->conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    if (ok == MHD_YES)
        req->status = resp->status;
    dw_http_response_release(resp);
    return ok;
}

/* Queues {"status":"error",...}; extra header (name, value) may be NULL. */
static enum MHD_Result fail(struct dw_http_request *req, int status, const char *type,
                            const char *header, const char *value, const char *fmt, ...)
    DW_PRINTF(6, 7);

static enum MHD_Result fail(struct dw_http_request *req, int status, const char *type,
                            const char *header, const char *value, const char *fmt, ...)
{
    struct dw_http_response resp;
    va_list ap;
    va_start(ap, fmt);
    char *msg = dw_vasprintf(fmt, ap);
    va_end(ap);
    dw_http_response_init(&resp);
    dw_http_resp_error(&resp, status, type, "%s", msg);
    if (header)
        dw_http_resp_header(&resp, header, value);
    free(msg);
    return queue(req, &resp);
}

/* ---- admission: everything decided from the headers alone ---- */

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    size_t *total = cls;
    *total += strlen(key) + 4 + (value ? strlen(value) : 0); /* "key: value\r\n" */
    return MHD_YES;
}

static bool headers_too_large(struct dw_http_server *srv, struct dw_http_request *req)
{
    size_t total = strlen(req->method) + strlen(req->path) + 12;
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, add_header_size, &total);
    if (total <= srv->limits.max_header_bytes)
        return false;
    fail(req, 431, "headers_too_large", NULL, NULL,
         "request headers are %zu bytes; the limit is %llu (limits.max_header_bytes)", total,
         (unsigned long long)srv->limits.max_header_bytes);
    return true;
}

/*
 * A literal route (no {capture}) under a method it is the first match for:
 * a request with exactly that method and raw path (no '%', so decoding
 * changes nothing and its segments are the route's own) gets this route
 * from the table scan too. Looking it up by binary search skips the scan
 * and the path split, the routing cost of every public GET.
 */
struct exact_route {
    const char *method;
    const char *path;
    const struct dw_http_route *route;
};

static int exact_cmp(const void *a, const void *b)
{
    const struct exact_route *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : strcmp(x->method, y->method);
}

static void exact_add(struct dw_http_server *srv, size_t *cap, const char *method,
                      const struct dw_http_route *r, char *const *segs, size_t nsegs)
{
    if (dw_http_route_find(srv->routes, srv->nroutes, method, segs, nsegs, srv->app->test_clock,
                           NULL, NULL) != r)
        return; /* another route answers first (or a test-only one is off) */
    srv->exact = dw_grow(srv->exact, cap, srv->nexact + 1, sizeof *srv->exact);
    srv->exact[srv->nexact++] = (struct exact_route){method, r->path, r};
}

/* Once at start: the table and test_clock do not change while serving. */
static void index_routes(struct dw_http_server *srv)
{
    size_t cap = 0;
    for (size_t i = 0; i < srv->nroutes; i++) {
        const struct dw_http_route *r = &srv->routes[i];
        char **segs;
        size_t nsegs;
        if (strchr(r->path, '{') || strchr(r->path, '%') ||
            dw_http_path_split(r->path, &segs, &nsegs) < 0)
            continue;
        exact_add(srv, &cap, r->method, r, segs, nsegs);
        if (strcmp(r->method, "GET") == 0) /* HEAD is served by the GET route */
            exact_add(srv, &cap, "HEAD", r, segs, nsegs);
        for (size_t k = 0; k < nsegs; k++)
            free(segs[k]);
        free(segs);
    }
    if (srv->nexact)
        qsort(srv->exact, srv->nexact, sizeof *srv->exact, exact_cmp);
}

static bool route(struct dw_http_server *srv, struct dw_http_request *req)
{
    if (srv->nexact && !strchr(req->path, '%')) {
        struct exact_route key = {req->method, req->path, NULL};
        const struct exact_route *e = bsearch(&key, srv->exact, srv->nexact, sizeof key, exact_cmp);
        if (e) {
            req->route = e->route;
            return true;
        }
    }
    if (dw_http_path_split(req->path, &req->segments, &req->nsegments) < 0) {
        fail(req, 400, "bad_data", NULL, NULL, "malformed percent-encoding in the path");
        return false;
    }
    struct dw_buf allow;
    dw_buf_init(&allow, 0);
    req->route = dw_http_route_find(srv->routes, srv->nroutes, req->method, req->segments,
                                    req->nsegments, srv->app->test_clock, &req->params, &allow);
    if (!req->route && allow.len)
        fail(req, 405, "method_not_allowed", "Allow", allow.data,
             "method %s is not allowed for %s; allowed: %s", req->method, req->path, allow.data);
    else if (!req->route)
        fail(req, 404, "not_found", NULL, NULL, "no route for %s %s", req->method, req->path);
    dw_buf_release(&allow);
    return req->route != NULL;
}

/* Returns the bearer token inside the Authorization header, or NULL. */
static const char *bearer_token(struct dw_http_request *req, bool *wrong_scheme)
{
    const char *h =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    *wrong_scheme = false;
    if (!h || !*h)
        return NULL;
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        *wrong_scheme = true;
        return NULL;
    }
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

#define WWW_AUTH "WWW-Authenticate", "Bearer realm=\"dojowatch\""

/*
 * No bearer token but the session cookie of a signed-in browser: api_auth.c
 * checks the session, its role and, for state changes, its CSRF token.
 */
static bool authorize_session(struct dw_http_request *req, const struct dw_http_app *app,
                              enum dw_role need)
{
    struct dw_http_response resp;
    dw_http_response_init(&resp);
    if (dw_api_auth_authorize(req, &resp, app, need)) {
        dw_http_response_release(&resp);
        return true;
    }
    queue(req, &resp);
    return false;
}

static bool authorize(struct dw_http_server *srv, struct dw_http_request *req)
{
    enum dw_role need = req->route->role;
    if (need == DW_ROLE_NONE)
        return true;
    bool wrong_scheme;
    const char *token = bearer_token(req, &wrong_scheme);
    if (!token && !wrong_scheme && srv->app->auth && dw_api_auth_has_cookie(req))
        return authorize_session(req, srv->app, need);
    if (!token) {
        fail(req, 401, "unauthorized", WWW_AUTH,
             "%s: this route needs the %s role; send 'Authorization: Bearer <token>' with a "
             "token from the tokens section of the config, or sign in (POST /api/auth/login)",
             wrong_scheme ? "unsupported authorization scheme" : "missing bearer token",
             dw_http_role_name(need));
        return false;
    }
    const char *name = NULL;
    enum dw_role role = DW_ROLE_NONE;
    if (srv->app->authenticate)
        role = srv->app->authenticate(srv->app->ctx, token, &name);
    if (role == DW_ROLE_NONE) {
        dw_log_kv(DW_LOG_INFO, "http", "unknown bearer token", "method", req->method, "path",
                  req->path, NULL);
        fail(req, 401, "unauthorized", WWW_AUTH,
             "unknown bearer token: it matches no token in the current config; check the "
             "token or ask an admin for one with the %s role",
             dw_http_role_name(need));
        return false;
    }
    req->principal = dw_strdup(name ? name : "unnamed");
    req->role = role;
    if (role >= need)
        return true;
    dw_log_kv(DW_LOG_INFO, "http", "forbidden", "method", req->method, "path", req->path,
              "principal", req->principal, "role", dw_http_role_name(role), NULL);
    fail(req, 403, "forbidden", NULL, NULL,
         "forbidden: this route needs the %s role; token '%s' has %s", dw_http_role_name(need),
         req->principal, dw_http_role_name(role));
    return false;
}

static enum MHD_Result too_large(struct dw_http_request *req)
{
    const char *which = req->route->body == DW_BODY_INGEST ? "limits.max_ingest_body_bytes"
                                                           : "limits.max_body_bytes";
    /* The unread rest of the body makes the connection unusable: close it. */
    return fail(req, 413, "payload_too_large", MHD_HTTP_HEADER_CONNECTION, "close",
                "request body exceeds %llu bytes (%s)", (unsigned long long)req->body_max, which);
}

/*
 * How far past its limit a body is still read (and dropped) so the client,
 * once done sending, can read our 413: libmicrohttpd 0.9.75 cannot queue a
 * response while a body is arriving. Beyond this we just close.
 */
static uint64_t drain_max(const struct dw_http_request *req)
{
    uint64_t extra = req->body_max > (1u << 20) ? req->body_max : (1u << 20);
    return req->body_max + extra;
}

static bool body_fits(struct dw_http_server *srv, struct dw_http_request *req)
{
    req->body_max = req->route->body == DW_BODY_INGEST ? srv->limits.max_ingest_body_bytes
                                                       : srv->limits.max_body_bytes;
    if (req->route->body != DW_BODY_NONE)
        dw_buf_init(&req->body, (size_t)req->body_max);
    const char *cl =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    int64_t len;
    if (!cl || dw_parse_int64(cl, &len) != 0 || len <= 0 || (uint64_t)len <= req->body_max)
        return true;
    /*
     * Too large. A client waiting for "100 Continue" gets the 413 now and
     * never sends the body. One already sending it would see a reset
     * instead of our answer if we closed with its bytes unread, so a body
     * within the drain bound is read, dropped and answered 413 at its end;
     * only a larger one is refused at once.
     */
    const char *expect =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    if (!expect && (uint64_t)len <= drain_max(req))
        return true;
    too_large(req);
    return false;
}

static enum MHD_Result add_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct dw_http_request *req = cls;
    char *name, *decoded;
    if (dw_http_decode(key, strlen(key), true, &name) < 0)
        return MHD_NO;
    if (dw_http_decode(value ? value : "", value ? strlen(value) : 0, true, &decoded) < 0) {
        free(name);
        return MHD_NO;
    }
    dw_http_kvs_take(&req->query, name, decoded);
    return MHD_YES;
}

static bool query_ok(struct dw_http_request *req)
{
    int total = MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, NULL, NULL);
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, add_query_arg, req);
    if ((int)req->query.n == total)
        return true;
    fail(req, 400, "bad_data", NULL, NULL, "malformed percent-encoding in the query string");
    return false;
}

/* True when the request may go on to its handler; otherwise an error is queued. */
static bool admit(struct dw_http_server *srv, struct dw_http_request *req)
{
    return !headers_too_large(srv, req) && route(srv, req) && authorize(srv, req) &&
           body_fits(srv, req) && query_ok(req);
}

/* ---- body and dispatch ---- */

static enum MHD_Result receive(struct dw_http_request *req, const char *data, size_t *size)
{
    size_t n = *size;
    *size = 0;
    req->body_seen += n;
    if (req->body_seen <= req->body_max) {
        if (req->route->body != DW_BODY_NONE)
            dw_buf_append(&req->body, data, n);
        return MHD_YES;
    }
    if (!req->overflow) {
        req->overflow = true;
        dw_buf_release(&req->body); /* never needed now */
    }
    if (req->body_seen <= drain_max(req))
        return MHD_YES;
    dw_log_kv(DW_LOG_INFO, "http", "closing a connection whose body goes on far past its limit",
              "method", req->method, "path", req->path, NULL);
    return MHD_NO;
}

static bool is_form(struct dw_http_request *req)
{
    const char *ct =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    static const char form[] = "application/x-www-form-urlencoded";
    return ct && strncasecmp(ct, form, sizeof form - 1) == 0 &&
           (ct[sizeof form - 1] == '\0' || ct[sizeof form - 1] == ';' ||
            ct[sizeof form - 1] == ' ');
}

static enum MHD_Result dispatch(struct dw_http_server *srv, struct dw_http_request *req)
{
    if (req->route->body != DW_BODY_NONE && is_form(req) &&
        dw_http_form_parse(req->body.data ? req->body.data : "", req->body.len, &req->form) < 0)
        return fail(req, 400, "bad_data", NULL, NULL,
                    "malformed percent-encoding in the form body");
    struct dw_http_response resp;
    dw_http_response_init(&resp);
    req->route->handler(req, &resp, srv->app);
    if (!resp.set) {
        dw_http_response_release(&resp);
        return fail(req, 500, "internal", NULL, NULL, "handler produced no response");
    }
    if (resp.status < 100 || resp.status > 599) {
        int bad = resp.status;
        dw_http_response_release(&resp);
        return fail(req, 500, "internal", NULL, NULL, "handler produced status %d", bad);
    }
    return queue(req, &resp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    struct dw_http_server *srv = cls;
    struct dw_http_request *req = *con_cls;
    if (!req) {
        req = dw_http_request_new(srv, conn, method, url);
        *con_cls = req;
        atomic_fetch_add(&srv->inflight, 1);
        req->admitted = admit(srv, req);
        if (req->admitted)
            return MHD_YES; /* the body (if any) and the final call follow */
    }
    if (!req->admitted) {
        /*
         * Refused from its headers: the error is queued and any body is
         * dropped. Should queueing have failed, close rather than ever
         * reach the handler.
         */
        *upload_size = 0;
        return req->status ? MHD_YES : MHD_NO;
    }
    if (*upload_size > 0)
        return receive(req, upload_data, upload_size);
    if (req->status)
        return MHD_YES;
    if (req->overflow)
        return too_large(req);
    return dispatch(srv, req);
}

/* ---- completion: metrics, access log, cleanup ---- */

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct dw_http_server *srv = cls;
    struct dw_http_request *req = *con_cls;
    if (!req)
        return;
    int64_t ns = dw_mono_ns() - req->start_ns;
    double seconds = (double)ns / 1e9;
    const char *name =
        req->route ? (req->route->name ? req->route->name : req->route->path) : "other";
    if (req->status) {
        char code[16], duration[32];
        snprintf(code, sizeof code, "%d", req->status);
        snprintf(duration, sizeof duration, "%lld.%03lldms", (long long)(ns / 1000000),
                 (long long)(ns / 1000 % 1000));
        const char *labels[] = {name, code};
        dw_metric_add(srv->m_requests, labels, 1);
        dw_metric_observe(srv->m_duration, labels, seconds);
        dw_log_kv(DW_LOG_DEBUG, "http", "request", "method", req->method, "path", req->path,
                  "status", code, "duration", duration, "principal", dw_http_req_principal(req),
                  NULL);
    } else {
        char reason[16];
        snprintf(reason, sizeof reason, "%d", (int)toe);
        dw_log_kv(DW_LOG_DEBUG, "http", "request ended without a response", "method", req->method,
                  "path", req->path, "termination", reason, NULL);
    }
    dw_http_request_free(&req);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->inflight, 1);
}

/* ---- connections ---- */

static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    struct dw_http_server *srv = cls;
    unsigned count = atomic_load(&srv->open_connections);
    if (count < srv->limits.max_connections)
        return MHD_YES;
    dw_metric_add(srv->m_refused, NULL, 1);
    int64_t now = dw_mono_ns(), last = atomic_load(&srv->last_refusal_log_ns);
    if ((last == 0 || now - last >= REFUSAL_LOG_EVERY_NS) &&
        atomic_compare_exchange_strong(&srv->last_refusal_log_ns, &last, now))
        dw_log(DW_LOG_WARN, "http",
               "refusing connections: %u are open (limits.max_connections); further refusals "
               "are counted in dojowatch_http_connections_refused_total",
               count);
    return MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct dw_http_server *srv = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&srv->open_connections, 1);
        dw_metric_add(srv->m_open, NULL, 1);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        atomic_fetch_sub(&srv->open_connections, 1);
        dw_metric_add(srv->m_open, NULL, -1);
    }
}

/* libmicrohttpd's messages (protocol errors, resource trouble) go to our log. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap) DW_PRINTF(2, 0);

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    dw_log_kv(DW_LOG_INFO, "http", "libmicrohttpd", "detail", msg, NULL);
}

/* We decode paths and arguments ourselves (request.c), exactly once. */
static size_t no_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    return strlen(s);
}

/* ---- lifecycle ---- */

static void fill_limits(struct dw_plan_limits *l, const struct dw_plan_limits *in)
{
    *l = *in;
    if (!l->max_body_bytes)
        l->max_body_bytes = 1u << 20;
    if (!l->max_ingest_body_bytes)
        l->max_ingest_body_bytes = 32u << 20;
    if (!l->max_header_bytes)
        l->max_header_bytes = 16u << 10;
    if (!l->max_connections)
        l->max_connections = 512;
    if (l->connection_timeout_ms <= 0)
        l->connection_timeout_ms = 30000;
}

static struct MHD_Daemon *start_mhd(struct dw_http_server *srv, int fd, unsigned threads)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
        flags |= MHD_USE_EPOLL;
    /* libmicrohttpd takes whole seconds: round up (so at least 1 s), cap at a day. */
    int64_t timeout_ms = srv->limits.connection_timeout_ms;
    unsigned timeout_s =
        timeout_ms >= MAX_TIMEOUT_S * 1000 ? MAX_TIMEOUT_S : (unsigned)((timeout_ms + 999) / 1000);
    /*
     * The per-connection pool holds the header block, libmicrohttpd's
     * bookkeeping and the response header. Twice the header limit plus slack
     * lets our exact check (431 with a JSON reason) see every block up to the
     * limit; far larger blocks are refused by libmicrohttpd itself.
     */
    size_t memory = (size_t)srv->limits.max_header_bytes * 2 + (16u << 10);
    /* Slack of one per thread, see the DESIGN note on the connection limit. */
    unsigned mhd_limit = srv->limits.max_connections + threads;
    return MHD_start_daemon(flags, 0, on_accept, srv, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER,
                            on_mhd_log, srv, MHD_OPTION_LISTEN_SOCKET, fd,
                            MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
                            mhd_limit, MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, memory, MHD_OPTION_NOTIFY_COMPLETED,
                            on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
                            MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL, MHD_OPTION_END);
}

struct dw_http_server *dw_http_start(const struct dw_http_options *opts,
                                     const struct dw_http_app *app, char **err)
{
    const char *addr = opts->listen ? opts->listen : DEFAULT_LISTEN;
    struct dw_http_server *srv = dw_calloc(1, sizeof *srv);
    srv->app = app;
    srv->routes = opts->routes ? opts->routes : dw_http_routes(&srv->nroutes);
    if (opts->routes)
        srv->nroutes = opts->nroutes;
    fill_limits(&srv->limits, &opts->limits);
    index_routes(srv);
    unsigned threads = opts->threads ? opts->threads : DEFAULT_THREADS;
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    register_metrics(srv);

    int fd = dw_http_listen_open(addr, &srv->port, err);
    if (fd < 0)
        goto fail_listen;
    srv->mhd = start_mhd(srv, fd, threads);
    if (!srv->mhd) {
        *err = dw_asprintf("cannot start the HTTP server on %s: libmicrohttpd refused to "
                           "start (see its log line above)",
                           addr);
        goto fail_mhd;
    }
    {
        /* Log the port actually bound (it differs from addr with port 0). */
        char port[16];
        snprintf(port, sizeof port, "%d", srv->port);
        dw_log_kv(DW_LOG_INFO, "http", "listening", "address", addr, "port", port, NULL);
    }
    return srv;

fail_mhd:
    close(fd);
fail_listen:
    free(srv->exact);
    free(srv);
    return NULL;
}

int dw_http_port(const struct dw_http_server *srv)
{
    return srv->port;
}

void dw_http_stop(struct dw_http_server **srvp)
{
    struct dw_http_server *srv = *srvp;
    if (!srv)
        return;
    /* Stop accepting, then give requests in flight a moment to finish. */
    MHD_socket fd = MHD_quiesce_daemon(srv->mhd);
    int64_t grace_ms = srv->limits.connection_timeout_ms < STOP_GRACE_MS
                           ? srv->limits.connection_timeout_ms
                           : STOP_GRACE_MS;
    int64_t deadline = dw_mono_ns() + grace_ms * 1000000;
    while (atomic_load(&srv->inflight) > 0 && dw_mono_ns() < deadline)
        nanosleep(&(struct timespec){.tv_nsec = 5000000}, NULL);
    MHD_stop_daemon(srv->mhd);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    free(srv->exact);
    free(srv);
    *srvp = NULL;
}
