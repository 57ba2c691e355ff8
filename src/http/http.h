/*
 * http.h - the HTTP layer: libmicrohttpd server, route table, access rules,
 * limits, JSON helpers and the API handlers (api_*.c, one area per file).
 *
 * The HTTP layer only translates between requests and module functions; the
 * logic lives in the modules so the CLI calls the same functions.
 *
 * Threads: libmicrohttpd runs its own polling threads; handlers run on them
 * and must only touch thread-safe module interfaces.
 */
#ifndef DW_HTTP_H
#define DW_HTTP_H

#include <jansson.h>

#include "core/core.h"
#include "plan/plan.h"
#include "store/store.h"
#include "tsdb/tsdb.h"

struct dw_collector;  /* collect/collect.h */
struct dw_ruler;      /* rules/rules.h */
struct dw_alerter;    /* alert/alert.h */
struct dw_notifier;   /* notify/notify.h */
struct dw_oncall;     /* oncall/oncall.h */
struct dw_incidents;  /* incident/incident.h */
struct dw_status;     /* status/status.h */
struct dw_auth;       /* auth/auth.h */
struct dw_dashboards; /* dashboard/dashboard.h */

struct dw_http_server;
struct dw_http_request;
struct dw_http_response;

/** What handlers can reach. Filled by the daemon; callbacks are thread-safe. */
struct dw_http_app {
    void *ctx; /* passed back to every callback */
    /** Current configuration with a reference taken; caller unrefs. */
    struct dw_config *(*config_get)(void *ctx);
    /** Reload the configuration from disk; 0 on success or -1 with *err (caller frees). */
    int (*reload)(void *ctx, char **err);
    /** True once start-up has finished (for /-/ready). */
    bool (*ready)(void *ctx);
    /**
     * Role of a bearer token against the current configuration's tokens
     * (DW_ROLE_NONE when unknown); *name gets the token's configured name,
     * which must stay valid after the call (the server copies it at once,
     * but a reload may run concurrently). Never log the token itself.
     */
    enum dw_role (*authenticate)(void *ctx, const char *token, const char **name);
    struct dw_store *store;
    struct dw_tsdb *tsdb;             /* NULL: ingestion and queries answer 503 */
    struct dw_collector *collector;   /* NULL: /api/v1/targets and /api/v1/probes answer 503 */
    struct dw_ruler *ruler;           /* NULL: /api/v1/rules and /api/v1/alerts answer 503 */
    struct dw_alerter *alerter;       /* NULL: /api/v2/alerts, silences ... answer 503 */
    struct dw_notifier *notifier;     /* NULL: the outbox routes answer 503 */
    struct dw_oncall *oncall;         /* NULL: /api/oncall/... answer 503 */
    struct dw_incidents *incidents;   /* NULL: /api/incidents... answer 503 */
    struct dw_status *status;         /* NULL: /status... and /api/status... answer 503 */
    struct dw_auth *auth;             /* NULL: no sign-in; /api/auth/login answers 503 */
    struct dw_dashboards *dashboards; /* NULL: /api/dashboards... answer 503 */
    int64_t started_at_ms;
    bool test_clock; /* expose POST /-/test/clock (serve --test-clock) */
};

typedef void (*dw_http_handler)(struct dw_http_request *req, struct dw_http_response *resp,
                                const struct dw_http_app *app);

enum dw_http_body_class { DW_BODY_NONE, DW_BODY_NORMAL, DW_BODY_INGEST };

/** One route: path is exact, or a pattern with {name} segments. */
struct dw_http_route {
    const char *method; /* "GET", "POST", ... */
    const char *path;
    dw_http_handler handler;
    enum dw_role role; /* DW_ROLE_NONE: open to everyone */
    enum dw_http_body_class body;
    const char *name; /* label for metrics, e.g. "/api/v1/query" */
    bool test_only;   /* served only when app->test_clock (serve --test-clock); else 404 */
};

/** Limits left at 0 take the defaults documented in struct dw_plan_limits. */
struct dw_http_options {
    const char *listen;                 /* "127.0.0.1:9107", "[::1]:0", ":9107" */
    struct dw_plan_limits limits;       /* body, header, connections, timeout */
    unsigned threads;                   /* polling threads (default 2) */
    const struct dw_http_route *routes; /* NULL: dw_http_routes(); must outlive the server */
    size_t nroutes;
};

/** The daemon's route table (all routes of every module). */
const struct dw_http_route *dw_http_routes(size_t *n);

/**
 * Starts serving. Returns NULL with *err set (caller frees) when the address
 * cannot be bound. The app struct must outlive the server.
 */
struct dw_http_server *dw_http_start(const struct dw_http_options *opts,
                                     const struct dw_http_app *app, char **err);
/** Port actually bound (useful with port 0). */
int dw_http_port(const struct dw_http_server *srv);
/** Stops accepting, finishes in-flight requests, frees; sets *srv to NULL. */
void dw_http_stop(struct dw_http_server **srv);

/* ---- request accessors (valid during the handler) ---- */
const char *dw_http_req_method(const struct dw_http_request *req);
const char *dw_http_req_path(const struct dw_http_request *req);
/** Query-string or form-body argument; NULL when absent. */
const char *dw_http_req_arg(const struct dw_http_request *req, const char *name);
/** All values of a repeated argument (match[]); returns count. */
size_t dw_http_req_args(const struct dw_http_request *req, const char *name, const char **out,
                        size_t max);
/** Path parameter from a {name} segment. */
const char *dw_http_req_param(const struct dw_http_request *req, const char *name);
const char *dw_http_req_header(const struct dw_http_request *req, const char *name);
const char *dw_http_req_body(const struct dw_http_request *req, size_t *len);
enum dw_role dw_http_req_role(const struct dw_http_request *req);
/** Name of the authenticated token or user ("anonymous" when none). */
const char *dw_http_req_principal(const struct dw_http_request *req);
/** The peer's IP address as text ("" when unknown) into out. */
void dw_http_req_client(const struct dw_http_request *req, char out[64]);

/* ---- response builders ---- */
void dw_http_resp_status(struct dw_http_response *resp, int status);
void dw_http_resp_header(struct dw_http_response *resp, const char *name, const char *value);
/** Takes ownership of the body bytes (heap). */
void dw_http_resp_body(struct dw_http_response *resp, int status, const char *content_type,
                       char *body, size_t len);
void dw_http_resp_text(struct dw_http_response *resp, int status, const char *text);
/** Serialises and steals a reference to json. */
void dw_http_resp_json(struct dw_http_response *resp, int status, json_t *json);
/** {"status":"success","data":data} (steals data). */
void dw_http_resp_success(struct dw_http_response *resp, json_t *data);
/** {"status":"error","errorType":type,"error":msg} with the given status. */
void dw_http_resp_error(struct dw_http_response *resp, int status, const char *type,
                        const char *fmt, ...) DW_PRINTF(4, 5);
/**
 * The security headers of the console's pages and assets (api_auth.c):
 * Content-Security-Policy without inline scripts or styles ('self' only,
 * images also data:, no plugins, no framing, forms to us), Referrer-Policy
 * same-origin and X-Frame-Options DENY. X-Content-Type-Options: nosniff is
 * on every response already (server.c).
 */
void dw_http_resp_console_headers(struct dw_http_response *resp);

/* ---- Prometheus API parameters (api_query.c; the CLI parses its flags with them too) ---- */

/* Prometheus' "no start" / "no end" times (minTime, maxTime of its API) in milliseconds. */
#define DW_HTTP_MIN_TIME_MS (-9223309901257974000LL)
#define DW_HTTP_MAX_TIME_MS 9223309901257974999LL

/**
 * Parses a time like Prometheus's API: Unix seconds with decimals (rounded
 * to the millisecond exactly as Go's parseTime does), RFC 3339, or the two
 * sentinels clients send for "no limit" ("-292273086-05-16T16:47:06Z",
 * "292277025-08-18T07:12:54.999999999Z"). Returns 0 with *ms, or -1.
 */
int dw_http_parse_time(const char *s, int64_t *ms);
/**
 * Parses a duration like Prometheus's API: float seconds ("15", "0.5") or a
 * Prometheus duration ("5m", "1h30m"), into nanoseconds. Returns 0, -1 when
 * s is neither, or -2 when it overflows int64 nanoseconds (about 292 years).
 */
int dw_http_parse_duration(const char *s, int64_t *ns);

#endif
