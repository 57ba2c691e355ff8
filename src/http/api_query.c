/*
 * api_query.c - the Prometheus query API, in Prometheus 2.42's shapes,
 * status codes and messages:
 *
 *   GET|POST /api/v1/query            instant query: query, time, timeout
 *   GET|POST /api/v1/query_range      range query: query, start, end, step, timeout
 *   GET|POST /api/v1/query_exemplars  checked like Prometheus; dojowatch keeps no exemplars
 *
 * and what api_meta.c shares: time and duration parameters, Go-style JSON
 * strings, the success envelope with its warnings.
 *
 * DESIGN
 * Parameters are checked in Prometheus's order with its messages, because
 * clients show them verbatim (Grafana) or match on them. A query runs on the
 * polling thread that received it, against the tsdb through the engine's
 * tsdb storage. Its limits come from the configuration's query section, read
 * once per request: max_samples, lookback_delta, max_length, and timeout,
 * which the request's own `timeout` may only lower. While the engine runs, a
 * watcher thread polls the client's socket for a hang-up and sets the
 * engine's cancel flag, so a dashboard closed in the middle of a heavy query
 * does not keep a core busy until the timeout. Engine errors map like
 * Prometheus's returnAPIError: bad_data 400, execution 422, timeout and
 * canceled 503, internal (storage) 500.
 *
 * Threads: handlers run on libmicrohttpd's polling threads. The watcher is
 * one short-lived thread per query, joined before the handler returns, so
 * the socket it polls is still open while it runs.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "http_internal.h"
#include "promql/promql.h"

/* ---- parameters ---- */

#define MIN_TIME_TEXT "-292273086-05-16T16:47:06Z"
#define MAX_TIME_TEXT "292277025-08-18T07:12:54.999999999Z"
/* Largest whole seconds whose milliseconds plus a fraction still fit in int64. */
#define MAX_SECONDS 9223372036854774.0
#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL
/* Prometheus's fixed limit on the steps of a range query. */
#define MAX_POINTS 11000

int dw_http_parse_time(const char *s, int64_t *ms)
{
    double t;
    if (dw_parse_double(s, &t) == 0) {
        if (!isfinite(t))
            return -1;
        /* Go: s, ns := math.Modf(t); ns = math.Round(ns*1000)/1000;
           time.Unix(int64(s), int64(ns*1e9)), then milliseconds. Same operations here. */
        double whole, frac = modf(t, &whole);
        if (fabs(whole) > MAX_SECONDS)
            return -1;
        frac = round(frac * 1000) / 1000;
        int64_t sec = (int64_t)whole, nsec = (int64_t)(frac * 1e9);
        sec += nsec / NS_PER_S;
        nsec %= NS_PER_S;
        if (nsec < 0) {
            nsec += NS_PER_S;
            sec--;
        }
        *ms = sec * 1000 + nsec / NS_PER_MS;
        return 0;
    }
    if (strcmp(s, MIN_TIME_TEXT) == 0) {
        *ms = DW_HTTP_MIN_TIME_MS;
        return 0;
    }
    if (strcmp(s, MAX_TIME_TEXT) == 0) {
        *ms = DW_HTTP_MAX_TIME_MS;
        return 0;
    }
    /* Go's time.Parse(time.RFC3339Nano) wants an upper-case T and Z. */
    if (strlen(s) < 11 || s[10] != 'T' || strchr(s, 'z'))
        return -1;
    return dw_parse_rfc3339(s, ms);
}

int dw_http_parse_duration(const char *s, int64_t *ns)
{
    double d;
    if (dw_parse_double(s, &d) == 0) {
        if (isnan(d))
            return -1;
        double v = d * 1e9;
        if (v >= 9223372036854775808.0 || v < -9223372036854775808.0)
            return -2;
        *ns = (int64_t)v;
        return 0;
    }
    int64_t ms;
    if (dw_parse_duration(s, &ms) < 0 || ms > INT64_MAX / NS_PER_MS)
        return -1; /* Prometheus: "duration out of range" also reads "cannot parse" */
    *ns = ms * NS_PER_MS;
    return 0;
}

/* A request argument, "" when absent (Go's r.FormValue). */
static const char *arg(struct dw_http_request *req, const char *name)
{
    const char *v = dw_http_req_arg(req, name);
    return v ? v : "";
}

/* 400 bad_data: `invalid parameter "name": <what> "value"<tail>`, Prometheus's wording. */
static void bad_value(struct dw_http_response *resp, const char *name, const char *prefix,
                      const char *value, const char *tail)
{
    struct dw_buf q;
    dw_buf_init(&q, 0);
    dw_api_go_quote(&q, value);
    dw_http_resp_error(resp, 400, "bad_data", "invalid parameter \"%s\": %s%s%s", name, prefix,
                       q.data, tail);
    dw_buf_release(&q);
}

bool dw_api_time_param(struct dw_http_request *req, struct dw_http_response *resp, const char *name,
                       int64_t def, int64_t *out)
{
    const char *v = arg(req, name);
    if (!*v) {
        *out = def;
        return true;
    }
    if (dw_http_parse_time(v, out) == 0)
        return true;
    char prefix[96];
    snprintf(prefix, sizeof prefix, "Invalid time value for '%s': cannot parse ", name);
    bad_value(resp, name, prefix, v, " to a valid timestamp");
    return false;
}

/* A required time (query_range's start and end): no default, no "Invalid time value" prefix. */
static bool time_required(struct dw_http_request *req, struct dw_http_response *resp,
                          const char *name, int64_t *out)
{
    const char *v = arg(req, name);
    if (dw_http_parse_time(v, out) == 0)
        return true;
    bad_value(resp, name, "cannot parse ", v, " to a valid timestamp");
    return false;
}

static bool duration_param(struct dw_http_request *req, struct dw_http_response *resp,
                           const char *name, int64_t *ns)
{
    const char *v = arg(req, name);
    int rc = dw_http_parse_duration(v, ns);
    if (rc == 0)
        return true;
    bad_value(resp, name, "cannot parse ", v,
              rc == -2 ? " to a valid duration. It overflows int64" : " to a valid duration");
    return false;
}

/* ---- JSON and the envelope ---- */

void dw_api_json_string(struct dw_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    dw_buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t w = dw_utf8_seq(p + i, n - i, &cp);
        if (w == 0) {
            dw_buf_puts(b, "\\ufffd"); /* Go replaces each invalid byte */
            i++;
            continue;
        }
        if (cp == '"' || cp == '\\') {
            dw_buf_putc(b, '\\');
            dw_buf_putc(b, (char)cp);
        } else if (cp == '\n') {
            dw_buf_puts(b, "\\n");
        } else if (cp == '\r') {
            dw_buf_puts(b, "\\r");
        } else if (cp == '\t') {
            dw_buf_puts(b, "\\t");
        } else if (cp < 0x20 || cp == '<' || cp == '>' || cp == '&') {
            char e[7] = {'\\', 'u', '0', '0', hex[cp >> 4], hex[cp & 15], 0};
            dw_buf_puts(b, e);
        } else if (cp == 0x2028 || cp == 0x2029) {
            dw_buf_printf(b, "\\u%04x", (unsigned)cp);
        } else {
            dw_buf_append(b, s + i, w);
        }
        i += w;
    }
    dw_buf_putc(b, '"');
}

void dw_api_go_quote(struct dw_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    dw_buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t w = dw_utf8_seq(p + i, n - i, &cp);
        if (w == 0 || cp < 0x20 || cp == 0x7f) {
            const char *esc = w == 0       ? NULL
                              : cp == '\n' ? "\\n"
                              : cp == '\t' ? "\\t"
                              : cp == '\r' ? "\\r"
                                           : NULL;
            if (esc)
                dw_buf_puts(b, esc);
            else
                dw_buf_printf(b, "\\x%02x", p[i]);
            i++;
            continue;
        }
        if (cp == '"' || cp == '\\')
            dw_buf_putc(b, '\\');
        dw_buf_append(b, s + i, w);
        i += w;
    }
    dw_buf_putc(b, '"');
}

void dw_api_begin(struct dw_buf *b)
{
    dw_buf_init(b, 0); /* bounded by the engine's sample limit, not by the buffer */
    dw_buf_puts(b, "{\"status\":\"success\",\"data\":");
}

void dw_api_finish(struct dw_http_response *resp, struct dw_buf *b, char *const *warnings, size_t n)
{
    if (n) {
        dw_buf_puts(b, ",\"warnings\":[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                dw_buf_putc(b, ',');
            dw_api_json_string(b, warnings[i]);
        }
        dw_buf_putc(b, ']');
    }
    dw_buf_putc(b, '}');
    size_t len = b->len;
    dw_http_resp_body(resp, 200, "application/json", dw_buf_steal(b), len);
}

bool dw_api_need_tsdb(const struct dw_http_app *app, struct dw_http_response *resp)
{
    if (!app->tsdb) {
        dw_http_resp_error(resp, 503, "unavailable", "the time-series store is not open");
        return false;
    }
    if (!dw_tsdb_is_loaded(app->tsdb)) {
        dw_http_resp_error(resp, 503, "unavailable",
                           "the time-series store is replaying its write-ahead log; retry when "
                           "/-/ready answers 200");
        return false;
    }
    return true;
}

/* ---- self-metrics ---- */

static struct dw_metric *m_queries;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_init(void)
{
    m_queries = dw_metric_counter("dojowatch_api_queries_total",
                                  "PromQL queries answered by the HTTP API, by kind (instant, "
                                  "range) and result (success or the Prometheus error type).",
                                  "kind,result");
}

static void count_query(const char *kind, const char *result)
{
    pthread_once(&metrics_once, metrics_init);
    dw_metric_add(m_queries, (const char *[]){kind, result}, 1);
}

/* ---- the client watch: cancel the query when the client hangs up ---- */

struct watch {
    int fd;   /* the client's socket */
    int wake; /* eventfd that ends the watch; -1 when not watching */
    atomic_bool cancel;
    pthread_t thread;
};

static void *watch_run(void *arg)
{
    struct watch *w = arg;
    struct pollfd p[2] = {{.fd = w->fd, .events = POLLRDHUP}, {.fd = w->wake, .events = POLLIN}};
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        if (p[0].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
            atomic_store(&w->cancel, true);
            break;
        }
        if (p[0].revents)
            break; /* POLLNVAL: nothing to watch */
    }
    return NULL;
}

/* Starts watching the request's socket; without a socket or a thread the query just runs. */
static void watch_start(struct dw_http_request *req, struct watch *w)
{
    atomic_init(&w->cancel, false);
    w->wake = -1;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return;
    w->fd = ci->connect_fd;
    w->wake = eventfd(0, EFD_CLOEXEC);
    if (w->wake < 0)
        return;
    if (pthread_create(&w->thread, NULL, watch_run, w) != 0) {
        close(w->wake);
        w->wake = -1;
    }
}

static void watch_stop(struct watch *w)
{
    if (w->wake < 0)
        return;
    uint64_t one = 1;
    while (write(w->wake, &one, sizeof one) < 0 && errno == EINTR)
        ;
    pthread_join(w->thread, NULL);
    close(w->wake);
    w->wake = -1;
}

/* ---- one query ---- */

/* What a query may cost, from the configuration's query section (defaults without one). */
struct query_plan {
    struct dw_promql_limits parse;
    struct dw_promql_eval_opts eval;
    size_t max_length;
    bool expired; /* the request's timeout is already over */
};

static void plan_init(const struct dw_http_app *app, struct query_plan *p)
{
    memset(p, 0, sizeof *p);
    p->max_length = DW_PROMQL_DEFAULT_MAX_QUERY_LEN;
    p->eval.timeout_ms = DW_PROMQL_DEFAULT_TIMEOUT_MS;
    p->eval.max_points = MAX_POINTS;
    struct dw_config *cfg = app->config_get ? app->config_get(app->ctx) : NULL;
    if (cfg) {
        const struct dw_plan_query *q = dw_config_query(cfg);
        if (q->max_samples > 0)
            p->eval.max_samples = (size_t)q->max_samples;
        if (q->timeout_ms > 0)
            p->eval.timeout_ms = q->timeout_ms;
        if (q->lookback_ms > 0)
            p->eval.lookback_ms = q->lookback_ms;
        if (q->max_length > 0)
            p->max_length = (size_t)q->max_length;
        dw_config_unref(&cfg);
    }
    p->parse.max_query_len = p->max_length;
}

/* The `timeout` parameter: lowers the configured timeout; never raises it. */
static bool timeout_param(struct dw_http_request *req, struct dw_http_response *resp,
                          struct query_plan *p)
{
    if (!*arg(req, "timeout"))
        return true;
    int64_t ns;
    if (!duration_param(req, resp, "timeout", &ns))
        return false;
    if (ns < NS_PER_MS)
        p->expired = true; /* Prometheus answers timeout once the query is parsed */
    else if (ns / NS_PER_MS < p->eval.timeout_ms)
        p->eval.timeout_ms = ns / NS_PER_MS;
    return true;
}

/*
 * Parses the query parameter. Prometheus 2.42 prefixes the instant query's
 * errors with `invalid parameter "query": ` and not the range query's.
 */
static struct dw_promql_expr *parse_query(struct dw_http_request *req,
                                          struct dw_http_response *resp, const struct query_plan *p,
                                          bool prefixed)
{
    const char *prefix = prefixed ? "invalid parameter \"query\": " : "";
    const char *q = arg(req, "query");
    size_t len = strlen(q);
    if (len > p->max_length) {
        dw_http_resp_error(resp, 400, "bad_data",
                           "%sthe query is %zu bytes; the limit is %zu (query.max_length)", prefix,
                           len, p->max_length);
        return NULL;
    }
    struct dw_promql_expr *e;
    struct dw_promql_error perr;
    if (dw_promql_parse(q, len, &p->parse, &e, &perr) == 0)
        return e;
    struct dw_buf msg;
    dw_buf_init(&msg, 0);
    dw_promql_error_format(&perr, &msg);
    dw_http_resp_error(resp, 400, "bad_data", "%s%s", prefix, msg.data);
    dw_buf_release(&msg);
    dw_promql_error_release(&perr);
    return NULL;
}

static const char *error_type(int rc, int *status)
{
    switch (rc) {
    case DW_PROMQL_EBAD: *status = 400; return "bad_data";
    case DW_PROMQL_ETIMEOUT: *status = 503; return "timeout";
    case DW_PROMQL_ECANCELED: *status = 503; return "canceled";
    case DW_PROMQL_ESTORAGE: *status = 500; return "internal";
    default: *status = 422; return "execution";
    }
}

/*
 * Runs the parsed query (an instant query when step_ms is 0) under the
 * client watch and answers with its result or its error.
 */
static void run(struct dw_http_request *req, struct dw_http_response *resp,
                const struct dw_http_app *app, struct query_plan *p, const struct dw_promql_expr *e,
                int64_t start, int64_t end, int64_t step_ms)
{
    const char *kind = step_ms ? "range" : "instant";
    if (p->expired) {
        count_query(kind, "timeout");
        dw_http_resp_error(resp, 503, "timeout", "query timed out in query execution");
        return;
    }
    struct dw_promql_storage st;
    dw_promql_tsdb_storage(&st, app->tsdb);
    struct watch w;
    watch_start(req, &w);
    p->eval.cancel = &w.cancel;
    struct dw_promql_result *r = NULL;
    char *err = NULL;
    int rc = step_ms ? dw_promql_eval_range(&st, e, start, end, step_ms, &p->eval, &r, &err)
                     : dw_promql_eval_instant(&st, e, start, &p->eval, &r, &err);
    watch_stop(&w);
    p->eval.cancel = NULL;
    if (rc < 0) {
        int status;
        const char *type = error_type(rc, &status);
        count_query(kind, type);
        if (rc == DW_PROMQL_ECANCELED)
            dw_log_kv(DW_LOG_DEBUG, "http", "query canceled: the client went away", "principal",
                      dw_http_req_principal(req), NULL);
        dw_http_resp_error(resp, status, type, "%s", err ? err : "query failed");
        free(err);
        return;
    }
    count_query(kind, "success");
    struct dw_buf out;
    dw_api_begin(&out);
    dw_promql_result_json(r, &out);
    dw_api_finish(resp, &out, r->warnings, r->nwarnings);
    dw_promql_result_free(&r);
}

void dw_api_query(struct dw_http_request *req, struct dw_http_response *resp,
                  const struct dw_http_app *app)
{
    if (!dw_api_need_tsdb(app, resp))
        return;
    struct query_plan p;
    plan_init(app, &p);
    int64_t t;
    if (!dw_api_time_param(req, resp, "time", dw_now_ms(), &t) || !timeout_param(req, resp, &p))
        return;
    struct dw_promql_expr *e = parse_query(req, resp, &p, true);
    if (!e) {
        count_query("instant", "bad_data");
        return;
    }
    run(req, resp, app, &p, e, t, t, 0);
    dw_promql_free(&e);
}

/* (end - start) / step in Go's time.Duration arithmetic: nanoseconds, saturating. */
static int64_t steps_of(int64_t start, int64_t end, int64_t step_ns)
{
    uint64_t span_ms = (uint64_t)end - (uint64_t)start; /* end >= start */
    int64_t span_ns =
        span_ms > (uint64_t)(INT64_MAX / NS_PER_MS) ? INT64_MAX : (int64_t)span_ms * NS_PER_MS;
    return span_ns / step_ns;
}

static bool range_params(struct dw_http_request *req, struct dw_http_response *resp, int64_t *start,
                         int64_t *end, int64_t *step_ns)
{
    if (!time_required(req, resp, "start", start) || !time_required(req, resp, "end", end))
        return false;
    if (*end < *start) {
        dw_http_resp_error(resp, 400, "bad_data",
                           "invalid parameter \"end\": end timestamp must not be before start "
                           "time");
        return false;
    }
    if (!duration_param(req, resp, "step", step_ns))
        return false;
    /* Prometheus accepts 0 < step < 1ms when the range is short, then divides by
       zero milliseconds; such a step is refused here like a zero one. */
    if (*step_ns <= 0 || (steps_of(*start, *end, *step_ns) <= MAX_POINTS && *step_ns < NS_PER_MS)) {
        dw_http_resp_error(resp, 400, "bad_data",
                           "invalid parameter \"step\": zero or negative query resolution step "
                           "widths are not accepted. Try a positive integer");
        return false;
    }
    if (steps_of(*start, *end, *step_ns) > MAX_POINTS) {
        dw_http_resp_error(resp, 400, "bad_data",
                           "exceeded maximum resolution of 11,000 points per timeseries. Try "
                           "decreasing the query resolution (?step=XX)");
        return false;
    }
    return true;
}

void dw_api_query_range(struct dw_http_request *req, struct dw_http_response *resp,
                        const struct dw_http_app *app)
{
    if (!dw_api_need_tsdb(app, resp))
        return;
    struct query_plan p;
    plan_init(app, &p);
    int64_t start, end, step_ns;
    if (!range_params(req, resp, &start, &end, &step_ns) || !timeout_param(req, resp, &p))
        return;
    struct dw_promql_expr *e = parse_query(req, resp, &p, false);
    if (!e) {
        count_query("range", "bad_data");
        return;
    }
    enum dw_promql_type t = dw_promql_root(e)->type;
    if (t != DW_PROMQL_TYPE_SCALAR && t != DW_PROMQL_TYPE_VECTOR) {
        count_query("range", "bad_data");
        dw_http_resp_error(resp, 400, "bad_data",
                           "invalid expression type \"%s\" for range query, must be Scalar or "
                           "instant Vector",
                           dw_promql_type_name(t));
    } else {
        run(req, resp, app, &p, e, start, end, step_ns / NS_PER_MS);
    }
    dw_promql_free(&e);
}

/* ---- exemplars: none are stored, but the request is checked like Prometheus's ---- */

static bool has_selector(const struct dw_promql_node *n)
{
    if (!n)
        return false;
    switch (n->kind) {
    case DW_PROMQL_VECTOR_SELECTOR: return true;
    case DW_PROMQL_MATRIX_SELECTOR: return true;
    case DW_PROMQL_SUBQUERY: return has_selector(n->u.sq.expr);
    case DW_PROMQL_PAREN: return has_selector(n->u.paren);
    case DW_PROMQL_UNARY: return has_selector(n->u.unary.expr);
    case DW_PROMQL_BINARY: return has_selector(n->u.bin.lhs) || has_selector(n->u.bin.rhs);
    case DW_PROMQL_AGGREGATE: return has_selector(n->u.agg.expr) || has_selector(n->u.agg.param);
    case DW_PROMQL_CALL:
        for (size_t i = 0; i < n->u.call.nargs; i++)
            if (has_selector(n->u.call.args[i]))
                return true;
        return false;
    default: return false;
    }
}

void dw_api_query_exemplars(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app)
{
    int64_t start, end;
    if (!dw_api_time_param(req, resp, "start", DW_HTTP_MIN_TIME_MS, &start) ||
        !dw_api_time_param(req, resp, "end", DW_HTTP_MAX_TIME_MS, &end))
        return;
    if (end < start) {
        dw_http_resp_error(resp, 400, "bad_data",
                           "end timestamp must not be before start timestamp");
        return;
    }
    const char *q = arg(req, "query");
    struct dw_promql_expr *e;
    struct dw_promql_error perr;
    if (dw_promql_parse(q, strlen(q), NULL, &e, &perr) < 0) {
        struct dw_buf msg;
        dw_buf_init(&msg, 0);
        dw_promql_error_format(&perr, &msg);
        dw_http_resp_error(resp, 400, "bad_data", "%s", msg.data);
        dw_buf_release(&msg);
        dw_promql_error_release(&perr);
        return;
    }
    bool any = has_selector(dw_promql_root(e));
    dw_promql_free(&e);
    if (!any) {
        dw_http_resp_status(resp, 204); /* Prometheus 2.42 answers "no data" with no body */
        return;
    }
    struct dw_buf out;
    dw_api_begin(&out);
    dw_buf_puts(&out, "[]");
    dw_api_finish(resp, &out, NULL, 0);
}
