/*
 * probe_config.c - DESIGN: the `probes:` section as schema tables, and the
 * load-time compilation of everything a probe run needs.
 *
 * The walker (plan.h) decodes the YAML; custom scalar decoders compile
 * regexes (PCRE2), JSON path assertions, status code ranges, DNS types and
 * rcodes where they are read, so an error points at the offending line:col.
 * Object checks then validate what needs several values: the kind's block
 * matches the kind, the target has the kind's form, timeout <= interval,
 * device names exist (walker references), journey templates.
 *
 * Journey steps: url, body and headers are taken as raw YAML (DW_SCHEMA_YAML)
 * instead of strings because the walker expands every ${NAME} from the
 * environment, and a step must keep ${token} for a value an earlier step
 * extracts. The journey check re-reads those scalars and splits them into
 * templates: ${name} of a variable extracted by an earlier step stays a
 * reference (filled per run), any other ${NAME} / ${NAME:-default} is taken
 * from the environment now, as everywhere else in the file, and $${ is a
 * literal "${". What the checks compile lives in fields the walker frees
 * (hidden "(compiled)" custom fields with release functions), so both
 * dw_probes_cfg_release() and dw_schema_free() free everything.
 *
 * The format (unknown keys are errors; durations like 500ms, 30s, 14d):
 *
 *   probes:
 *     defaults: {interval: 30s, timeout: 10s}
 *     devices:                 # name -> profile; desktop and mobile are built
 *       desktop: {user_agent: "Mozilla/5.0 (X11; Linux x86_64) ..."}  # in when absent
 *       mobile: {user_agent: "...Mobile Safari/537.36", headers: {Sec-CH-UA-Mobile: "?1"}}
 *     checks:
 *       - name: api-health     # unique, [a-z0-9_-]+
 *         kind: http           # http | tcp | dns | websocket | cdn | journey
 *         class: system_health # user_experience | business (default system_health)
 *         interval: 30s        # or "plan": the class's cadence in the current phase
 *         timeout: 10s         # <= interval when the interval is fixed
 *         target: https://api.example.com/health  # tcp: host:port, dns: a name,
 *                                                 # websocket: ws(s)://host/path
 *         devices: [desktop, mobile]   # http, cdn, journey; empty: one plain run
 *         labels: {plan_check: api-response-time}
 *         http:                # http and cdn; for a journey only the connection
 *           method: GET        #   settings (headers, redirects, max_body, TLS,
 *           headers: {}        #   ip_protocol, latency_budget, cert_expiry_min)
 *           body: ""
 *           follow_redirects: true
 *           max_redirects: 10
 *           valid_status_codes: [2xx]   # numbers or Nxx
 *           latency_budget: 500ms       # total time above it fails (latency_budget)
 *           body_contains: [..]
 *           body_not_contains: [..]
 *           body_regex: [..]            # PCRE2; each must match
 *           body_not_regex: [..]        # none may match
 *           json: ['$.status == "ok"']  # JSON path assertions
 *           max_body: 1MiB
 *           tls_insecure: false
 *           ca_file: /path/ca.pem
 *           cert_expiry_min: 14d
 *           ip_protocol: any            # ip4 | ip6 | any
 *         tcp: {send: "PING\r\n", expect: "^\\+PONG", tls: false, tls_insecure: false, ca_file: ..}
 *         dns: {server: "127.0.0.1:53", query_type: A, valid_rcodes: [NOERROR],
 *               answer_regex: [..], protocol: udp}
 *         websocket: {headers: {}, ping_count: 3, hold: 0s, ping_interval: 5s,
 *                     subprotocol: "", tls_insecure: false, ca_file: ..}
 *         journey:
 *           steps:
 *             - name: login
 *               method: POST       # default GET, POST when the step has a body
 *               url: /api/login    # relative to target, or absolute
 *               headers: {X-CSRF: "${csrf}"}
 *               body: '{"user":"${USER}"}'
 *               valid_status_codes: [2xx]
 *               body_contains: [..]    # and body_not_contains, body_regex,
 *               json: [..]             # body_not_regex like http
 *               extract: {token: "$.token", csrf: 'regex:name="csrf" value="([^"]+)"'}
 *
 * Semantics worth knowing: tcp expect is matched line-wise (^ and $ at line
 * ends, CRLF too) against what the server sent; dns answer_regex: each must
 * match the data of at least one answer record (192.0.2.1, a name, TXT text);
 * dns server must be numeric (no blocking resolve), default the first
 * nameserver of /etc/resolv.conf; websocket ping_count applies without hold,
 * with hold > 0 (shorter than timeout) the connection is kept for hold,
 * pinged every ping_interval and reconnected 1 s after a drop, and the run
 * succeeds when it is connected (and answering pings) at the end; a journey
 * stops at its first failing step; `interval: plan` is accepted for any
 * class (the scheduler asks the plan for the class's cadence in the phase).
 *
 * Threads: runs inside one config load, on the loader's thread.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <libfyaml.h>
#include <stdlib.h>
#include <string.h>

#include "collect/probe.h"
#include "collect/probe_wire.h"

#define N(fields) (sizeof(fields) / sizeof((fields)[0]))
#define HOUR_MS (3600LL * 1000)
#define DAY_MS (24 * HOUR_MS)
#define HIDDEN "(compiled)" /* a key no one writes: compiled data the walker frees */

_Static_assert(sizeof(enum dw_check_class) == sizeof(int), "classes are stored as int");
_Static_assert(offsetof(struct dw_probe_extract, how) == sizeof(char *),
               "a map element is its key, then the value");

static const char *const kind_names[] = {"http", "tcp", "dns", "websocket", "cdn", "journey", NULL};
static const char *const method_names[] = {"GET",   "HEAD",   "POST",    "PUT",
                                           "PATCH", "DELETE", "OPTIONS", NULL};
static const char *const ip_names[] = {"any", "ip4", "ip6", NULL};
static const char *const dns_protocols[] = {"udp", NULL};
static const char *const reserved_labels[] = {"job",   "instance", "probe",  "kind",
                                              "class", "device",   "reason", NULL};

const char *dw_probe_kind_name(int kind)
{
    return kind >= 0 && kind < DW_PROBE_KIND_COUNT ? kind_names[kind] : "unknown";
}

/* ---- custom scalars ---- */

static bool decode_class(struct dw_schema_ctx *ctx, const char *s, void *dst)
{
    int c = dw_check_class_parse(s);
    if (c < 0)
        return false;
    *(int *)dst = c;
    return true;
}

static bool decode_interval(struct dw_schema_ctx *ctx, const char *s, void *dst)
{
    int64_t ms = 0;
    if (strcmp(s, "plan") != 0 && (dw_parse_duration(s, &ms) < 0 || ms <= 0))
        return false;
    if (ms > 0 && ms < 1000) {
        dw_schema_error(ctx, "interval must be at least 1s, got %s", s);
        return true;
    }
    *(int64_t *)dst = ms;
    return true;
}

static bool decode_status(struct dw_schema_ctx *ctx, const char *s, void *dst)
{
    struct dw_probe_status *st = dst;
    size_t n = strlen(s);
    if (n != 3 || s[0] < '1' || s[0] > '5')
        return false;
    if ((s[1] == 'x' || s[1] == 'X') && (s[2] == 'x' || s[2] == 'X')) {
        st->lo = (s[0] - '0') * 100;
        st->hi = st->lo + 99;
        return true;
    }
    if (!isdigit((unsigned char)s[1]) || !isdigit((unsigned char)s[2]))
        return false;
    st->lo = st->hi = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    return true;
}

/* Compiles a PCRE2 pattern; NULL with the error in msg ("at offset N: ...").
 * Line patterns (PCRE2_MULTILINE) also take \r\n as a line end, so ^ and $
 * work on CRLF protocols. */
static pcre2_code *regex_compile(const char *src, uint32_t extra, char *msg, size_t cap)
{
    int err;
    PCRE2_SIZE off;
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (!cc)
        dw_oom(0);
    if (extra & PCRE2_MULTILINE)
        pcre2_set_newline(cc, PCRE2_NEWLINE_ANYCRLF);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | extra, &err, &off, cc);
    pcre2_compile_context_free(cc);
    if (!re) {
        PCRE2_UCHAR text[160];
        pcre2_get_error_message(err, text, sizeof text);
        snprintf(msg, cap, "at offset %zu: %s", (size_t)off, (const char *)text);
    }
    return re;
}

static bool decode_regex_flags(struct dw_schema_ctx *ctx, const char *s, void *dst, uint32_t extra)
{
    struct dw_probe_regex *r = dst;
    char msg[200];
    pcre2_code *re = regex_compile(s, extra, msg, sizeof msg);
    if (!re) {
        dw_schema_error(ctx, "invalid regular expression %s", msg);
        return true;
    }
    pcre2_code_free(r->code);
    free(r->src);
    r->code = re;
    r->src = dw_strdup(s);
    return true;
}

static bool decode_regex(struct dw_schema_ctx *ctx, const char *s, void *dst)
{
    return decode_regex_flags(ctx, s, dst, 0);
}

/* TCP expectations work on lines: ^ and $ match at line boundaries. */
static bool decode_line_regex(struct dw_schema_ctx *ctx, const char *s, void *dst)
{
    return decode_regex_flags(ctx, s, dst, PCRE2_MULTILINE);
}

static void release_regex(void *dst)
{
    struct dw_probe_regex *r = dst;
    pcre2_code_free(r->code);
    free(r->src);
    *r = (struct dw_probe_regex){0};
}

static bool decode_json(struct dw_schema_ctx *ctx, const char *s, void *dst)
{
    struct dw_probe_json *j = dst;
    char msg[200] = "";
    struct dw_jsonpath *p = dw_jsonpath_compile(s, msg, sizeof msg);
    if (!p) {
        dw_schema_error(ctx, "invalid JSON path assertion: %s", msg);
        return true;
    }
    dw_jsonpath_free(&j->path);
    free(j->src);
    j->path = p;
    j->src = dw_strdup(s);
    return true;
}

static void release_json(void *dst)
{
    struct dw_probe_json *j = dst;
    dw_jsonpath_free(&j->path);
    free(j->src);
    *j = (struct dw_probe_json){0};
}

static bool decode_extract(struct dw_schema_ctx *ctx, const char *s, void *dst)
{
    struct dw_probe_extract_how *h = dst;
    char msg[200] = "";
    if (dw_str_has_prefix(s, "regex:")) {
        h->re = regex_compile(s + 6, 0, msg, sizeof msg);
        uint32_t groups = 0;
        if (h->re)
            pcre2_pattern_info(h->re, PCRE2_INFO_CAPTURECOUNT, &groups);
        if (!h->re)
            dw_schema_error(ctx, "invalid regular expression %s", msg);
        else if (groups < 1)
            dw_schema_error(ctx, "the regex needs a capture group: the value is group 1");
    } else if (s[0] == '$') {
        h->path = dw_jsonpath_compile(s, msg, sizeof msg);
        if (!h->path)
            dw_schema_error(ctx, "invalid JSON path: %s", msg);
        else if (!dw_jsonpath_is_path(h->path))
            dw_schema_error(ctx, "extract takes a bare path like $.token, not an assertion");
    } else {
        return false;
    }
    h->src = dw_strdup(s);
    return true;
}

static void release_extract(void *dst)
{
    struct dw_probe_extract_how *h = dst;
    free(h->src);
    dw_jsonpath_free(&h->path);
    pcre2_code_free(h->re);
    *h = (struct dw_probe_extract_how){0};
}

static bool decode_rcode(struct dw_schema_ctx *ctx, const char *s, void *dst)
{
    int rc = dw_dns_rcode_parse(s);
    if (rc < 0)
        return false;
    *(int *)dst = rc;
    return true;
}

static bool decode_qtype(struct dw_schema_ctx *ctx, const char *s, void *dst)
{
    int t = dw_dns_type_parse(s);
    if (t < 0)
        return false;
    *(int *)dst = t;
    return true;
}

/* The hidden fields are never in a file; a key spelled like one is unknown. */
static bool decode_hidden(struct dw_schema_ctx *ctx, const char *s, void *dst)
{
    dw_schema_error(ctx, "unknown key");
    return true;
}

static void tmpl_release(struct dw_probe_tmpl *t)
{
    for (size_t i = 0; i < t->nsegs; i++)
        free(t->segs[i].text);
    free(t->segs);
    *t = (struct dw_probe_tmpl){0};
}

static void release_step_plan(void *dst)
{
    struct dw_probe_step_plan *p = dst;
    tmpl_release(&p->url);
    tmpl_release(&p->body);
    for (size_t i = 0; i < p->nheaders; i++) {
        free(p->headers[i].name);
        tmpl_release(&p->headers[i].value);
    }
    free(p->headers);
    *p = (struct dw_probe_step_plan){0};
}

static void release_vars(void *dst)
{
    struct dw_probe_vars *v = dst;
    for (size_t i = 0; i < v->n; i++)
        free(v->names[i]);
    free(v->names);
    *v = (struct dw_probe_vars){0};
}

/* ---- the tables ---- */

#define REGEX_LIST(T, member, count)                                                               \
    .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_CUSTOM, .decode = decode_regex,                      \
    .release = release_regex, .expect = "a regular expression",                                    \
    DW_SCHEMA_LIST_AT(T, member, count)

/* The response expectations shared by the http block and journey steps. */
/* clang-format off */
#define EXPECT_FIELDS(T)                                                                        \
    {.name = "valid_status_codes", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_CUSTOM,               \
     .decode = decode_status, .expect = "a status code like 200 or 2xx",                           \
     DW_SCHEMA_LIST_AT(T, expect.valid_status, expect.nvalid_status)},                          \
    {.name = "body_contains", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING,                    \
     DW_SCHEMA_LIST_AT(T, expect.body_contains, expect.nbody_contains)},                        \
    {.name = "body_not_contains", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING,                \
     DW_SCHEMA_LIST_AT(T, expect.body_not_contains, expect.nbody_not_contains)},                \
    {.name = "body_regex", REGEX_LIST(T, expect.body_regex, expect.nbody_regex)},               \
    {.name = "body_not_regex", REGEX_LIST(T, expect.body_not_regex, expect.nbody_not_regex)},   \
    {.name = "json", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_CUSTOM, .decode = decode_json,      \
     .release = release_json, .expect = "a JSON path assertion like $.status == \"ok\"",          \
     DW_SCHEMA_LIST_AT(T, expect.json, expect.njson)}

static const struct dw_schema_field http_fields[] = {
    {.name = "method", .type = DW_SCHEMA_STRING, .values = method_names, .def = "GET",
     DW_SCHEMA_AT(struct dw_probe_http, method)},
    {.name = "headers", .type = DW_SCHEMA_MAP, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct dw_probe_http, headers, nheaders)},
    {.name = "body", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct dw_probe_http, body)},
    {.name = "follow_redirects", .type = DW_SCHEMA_BOOL, .def = "true",
     DW_SCHEMA_AT(struct dw_probe_http, follow_redirects)},
    {.name = "max_redirects", .type = DW_SCHEMA_INT, .def = "10", .min = 0, .max = 100,
     DW_SCHEMA_AT(struct dw_probe_http, max_redirects)},
    EXPECT_FIELDS(struct dw_probe_http),
    {.name = "latency_budget", .type = DW_SCHEMA_DURATION, .min = 1, .max = HOUR_MS,
     DW_SCHEMA_AT(struct dw_probe_http, latency_budget_ms)},
    {.name = "max_body", .type = DW_SCHEMA_BYTES, .def = "1MiB", .min = 1, .max = 1LL << 30,
     DW_SCHEMA_AT(struct dw_probe_http, max_body)},
    {.name = "tls_insecure", .type = DW_SCHEMA_BOOL, DW_SCHEMA_AT(struct dw_probe_http, tls_insecure)},
    {.name = "ca_file", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct dw_probe_http, ca_file)},
    {.name = "cert_expiry_min", .type = DW_SCHEMA_DURATION, .min = 0, .max = 3650 * DAY_MS,
     DW_SCHEMA_AT(struct dw_probe_http, cert_expiry_min_ms)},
    {.name = "ip_protocol", .type = DW_SCHEMA_ENUM, .values = ip_names, .def = "any",
     DW_SCHEMA_AT(struct dw_probe_http, ip_protocol)},
};
/* clang-format on */
static const struct dw_schema http_schema = {http_fields, N(http_fields), false, NULL};

/* clang-format off */
static const struct dw_schema_field tcp_fields[] = {
    {.name = "send", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct dw_probe_tcp, send)},
    {.name = "expect", .type = DW_SCHEMA_CUSTOM, .decode = decode_line_regex,
     .release = release_regex, .expect = "a regular expression",
     DW_SCHEMA_AT(struct dw_probe_tcp, expect)},
    {.name = "tls", .type = DW_SCHEMA_BOOL, DW_SCHEMA_AT(struct dw_probe_tcp, tls)},
    {.name = "tls_insecure", .type = DW_SCHEMA_BOOL, DW_SCHEMA_AT(struct dw_probe_tcp, tls_insecure)},
    {.name = "ca_file", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct dw_probe_tcp, ca_file)},
};
/* clang-format on */
static const struct dw_schema tcp_schema = {tcp_fields, N(tcp_fields), false, NULL};

/* clang-format off */
static const struct dw_schema_field dns_fields[] = {
    {.name = "server", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct dw_probe_dns, server)},
    {.name = "query_type", .type = DW_SCHEMA_CUSTOM, .decode = decode_qtype, .def = "A",
     .expect = "a DNS type like A, AAAA, CNAME, MX, TXT, NS, SOA, SRV or PTR",
     DW_SCHEMA_AT(struct dw_probe_dns, query_type)},
    {.name = "valid_rcodes", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_CUSTOM,
     .decode = decode_rcode, .expect = "an rcode like NOERROR, NXDOMAIN or SERVFAIL",
     DW_SCHEMA_LIST_AT(struct dw_probe_dns, valid_rcodes, nvalid_rcodes)},
    {.name = "answer_regex", REGEX_LIST(struct dw_probe_dns, answer_regex, nanswer_regex)},
    {.name = "protocol", .type = DW_SCHEMA_ENUM, .values = dns_protocols, .def = "udp",
     DW_SCHEMA_AT(struct dw_probe_dns, protocol)},
};
/* clang-format on */
static const struct dw_schema dns_schema = {dns_fields, N(dns_fields), false, NULL};

/* clang-format off */
static const struct dw_schema_field ws_fields[] = {
    {.name = "headers", .type = DW_SCHEMA_MAP, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct dw_probe_ws, headers, nheaders)},
    {.name = "ping_count", .type = DW_SCHEMA_INT, .def = "3", .min = 0, .max = 100,
     DW_SCHEMA_AT(struct dw_probe_ws, ping_count)},
    {.name = "hold", .type = DW_SCHEMA_DURATION, .def = "0s", .min = 0, .max = HOUR_MS,
     DW_SCHEMA_AT(struct dw_probe_ws, hold_ms)},
    {.name = "ping_interval", .type = DW_SCHEMA_DURATION, .def = "5s", .min = 10, .max = HOUR_MS,
     DW_SCHEMA_AT(struct dw_probe_ws, ping_interval_ms)},
    {.name = "subprotocol", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct dw_probe_ws, subprotocol)},
    {.name = "tls_insecure", .type = DW_SCHEMA_BOOL, DW_SCHEMA_AT(struct dw_probe_ws, tls_insecure)},
    {.name = "ca_file", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct dw_probe_ws, ca_file)},
};
/* clang-format on */
static const struct dw_schema ws_schema = {ws_fields, N(ws_fields), false, NULL};

static void check_step(struct dw_schema_ctx *ctx, void *obj)
{
    struct dw_probe_step *s = obj;
    if (!dw_schema_seen(ctx, &s->method) && s->body_yaml) {
        free(s->method);
        s->method = dw_strdup("POST");
    }
}

/* clang-format off */
static const struct dw_schema_field step_fields[] = {
    {.name = "name", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dw_probe_step, name)},
    {.name = "method", .type = DW_SCHEMA_STRING, .values = method_names, .def = "GET",
     DW_SCHEMA_AT(struct dw_probe_step, method)},
    {.name = "url", .type = DW_SCHEMA_YAML, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dw_probe_step, url_yaml)},
    {.name = "headers", .type = DW_SCHEMA_YAML, DW_SCHEMA_AT(struct dw_probe_step, headers_yaml)},
    {.name = "body", .type = DW_SCHEMA_YAML, DW_SCHEMA_AT(struct dw_probe_step, body_yaml)},
    EXPECT_FIELDS(struct dw_probe_step),
    {.name = "extract", .type = DW_SCHEMA_MAP, .elem = DW_SCHEMA_CUSTOM, .decode = decode_extract,
     .release = release_extract, .expect = "a JSON path like $.token or regex:<pattern>",
     DW_SCHEMA_LIST_AT(struct dw_probe_step, extract, nextract)},
    {.name = HIDDEN, .type = DW_SCHEMA_CUSTOM, .decode = decode_hidden,
     .release = release_step_plan, DW_SCHEMA_AT(struct dw_probe_step, plan)},
};
/* clang-format on */
static const struct dw_schema step_schema = {step_fields, N(step_fields), false, check_step};

static void check_journey(struct dw_schema_ctx *ctx, void *obj);

/* clang-format off */
static const struct dw_schema_field journey_fields[] = {
    {.name = "steps", .type = DW_SCHEMA_LIST, .flags = DW_SCHEMA_REQUIRED,
     .elem = DW_SCHEMA_OBJECT, .sub = &step_schema,
     DW_SCHEMA_LIST_AT(struct dw_probe_journey, steps, nsteps)},
    {.name = HIDDEN, .type = DW_SCHEMA_CUSTOM, .decode = decode_hidden, .release = release_vars,
     DW_SCHEMA_AT(struct dw_probe_journey, vars)},
};
/* clang-format on */
static const struct dw_schema journey_schema = {journey_fields, N(journey_fields), false,
                                                check_journey};

static void check_probe(struct dw_schema_ctx *ctx, void *obj);

/* clang-format off */
static const struct dw_schema_field probe_fields[] = {
    {.name = "name", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED, .defines = "probe",
     DW_SCHEMA_AT(struct dw_probe_cfg, name)},
    {.name = "kind", .type = DW_SCHEMA_ENUM, .flags = DW_SCHEMA_REQUIRED, .values = kind_names,
     DW_SCHEMA_AT(struct dw_probe_cfg, kind)},
    {.name = "class", .type = DW_SCHEMA_CUSTOM, .decode = decode_class, .def = "system_health",
     .expect = "one of system_health, user_experience, business",
     DW_SCHEMA_AT(struct dw_probe_cfg, cls)},
    {.name = "interval", .type = DW_SCHEMA_CUSTOM, .decode = decode_interval,
     .expect = "a duration like 30s or plan", DW_SCHEMA_AT(struct dw_probe_cfg, interval_ms)},
    {.name = "timeout", .type = DW_SCHEMA_DURATION, .min = 1, .max = HOUR_MS,
     DW_SCHEMA_AT(struct dw_probe_cfg, timeout_ms)},
    {.name = "target", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dw_probe_cfg, target)},
    {.name = "devices", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING, .refers = "device",
     DW_SCHEMA_LIST_AT(struct dw_probe_cfg, devices, ndevices)},
    {.name = "labels", .type = DW_SCHEMA_MAP, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct dw_probe_cfg, labels, nlabels)},
    {.name = "http", .type = DW_SCHEMA_OBJECT, .sub = &http_schema,
     DW_SCHEMA_AT(struct dw_probe_cfg, http)},
    {.name = "tcp", .type = DW_SCHEMA_OBJECT, .sub = &tcp_schema,
     DW_SCHEMA_AT(struct dw_probe_cfg, tcp)},
    {.name = "dns", .type = DW_SCHEMA_OBJECT, .sub = &dns_schema,
     DW_SCHEMA_AT(struct dw_probe_cfg, dns)},
    {.name = "websocket", .type = DW_SCHEMA_OBJECT, .sub = &ws_schema,
     DW_SCHEMA_AT(struct dw_probe_cfg, websocket)},
    {.name = "journey", .type = DW_SCHEMA_OBJECT, .sub = &journey_schema,
     DW_SCHEMA_AT(struct dw_probe_cfg, journey)},
};
/* clang-format on */
static const struct dw_schema probe_schema = {probe_fields, N(probe_fields), false, check_probe};

/* clang-format off */
static const struct dw_schema_field device_fields[] = {
    {.name = "user_agent", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct dw_probe_device, user_agent)},
    {.name = "headers", .type = DW_SCHEMA_MAP, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct dw_probe_device, headers, nheaders)},
};
/* clang-format on */
static const struct dw_schema device_schema = {device_fields, N(device_fields), false, NULL};

/* clang-format off */
static const struct dw_schema_field defaults_fields[] = {
    {.name = "interval", .type = DW_SCHEMA_DURATION, .def = "30s", .min = 1000, .max = 7 * DAY_MS,
     DW_SCHEMA_AT(struct dw_probe_defaults, interval_ms)},
    {.name = "timeout", .type = DW_SCHEMA_DURATION, .def = "10s", .min = 1, .max = HOUR_MS,
     DW_SCHEMA_AT(struct dw_probe_defaults, timeout_ms)},
};
/* clang-format on */
static const struct dw_schema defaults_schema = {defaults_fields, N(defaults_fields), false, NULL};

static void check_root(struct dw_schema_ctx *ctx, void *obj);

/* clang-format off */
static const struct dw_schema_field root_fields[] = {
    {.name = "defaults", .type = DW_SCHEMA_OBJECT, .sub = &defaults_schema,
     DW_SCHEMA_AT(struct dw_probes_cfg, defaults)},
    {.name = "devices", .type = DW_SCHEMA_MAP, .elem = DW_SCHEMA_OBJECT, .sub = &device_schema,
     .defines = "device", DW_SCHEMA_LIST_AT(struct dw_probes_cfg, devices, ndevices)},
    {.name = "checks", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT, .sub = &probe_schema,
     DW_SCHEMA_LIST_AT(struct dw_probes_cfg, checks, nchecks)},
};
/* clang-format on */
const struct dw_schema dw_probes_schema = {root_fields, N(root_fields), false, check_root};

/* ---- built-in device profiles ---- */

static const struct dw_schema_pair mobile_headers[] = {
    {"Sec-CH-UA-Mobile", "?1"},
    {"Sec-CH-UA-Platform", "\"Android\""},
    {"Viewport-Width", "412"},
};
static const struct dw_probe_device builtin_devices[] = {
    {"desktop",
     "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36",
     NULL, 0},
    {"mobile",
     "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Mobile Safari/537.36",
     (struct dw_schema_pair *)mobile_headers, DW_ARRAY_LEN(mobile_headers)},
};

/* Heap copies of the built-ins, so the walker frees them like declared ones. */
static void add_builtin_devices(struct dw_schema_ctx *ctx, struct dw_probes_cfg *pc)
{
    size_t n = DW_ARRAY_LEN(builtin_devices);
    pc->devices = dw_calloc(n, sizeof *pc->devices);
    pc->ndevices = n;
    for (size_t i = 0; i < n; i++) {
        const struct dw_probe_device *b = &builtin_devices[i];
        struct dw_probe_device *d = &pc->devices[i];
        d->name = dw_strdup(b->name);
        d->user_agent = dw_strdup(b->user_agent);
        d->headers = b->nheaders ? dw_calloc(b->nheaders, sizeof *d->headers) : NULL;
        d->nheaders = b->nheaders;
        for (size_t j = 0; j < b->nheaders; j++) {
            d->headers[j].key = dw_strdup(b->headers[j].key);
            d->headers[j].value = dw_strdup(b->headers[j].value);
        }
        dw_schema_define(ctx, "device", d->name);
    }
}

const struct dw_probe_device *dw_probes_device(const struct dw_probes_cfg *pc, const char *name)
{
    const struct dw_probe_device *list = pc->devices;
    size_t n = pc->ndevices;
    if (!list) { /* a section that was never decoded or had no devices map */
        list = builtin_devices;
        n = DW_ARRAY_LEN(builtin_devices);
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].name, name) == 0)
            return &list[i];
    return NULL;
}

const char *dw_probe_device_name(const struct dw_probe_device *d)
{
    return d ? d->name : "";
}

const struct dw_probe_cfg *dw_probes_find(const struct dw_probes_cfg *pc, const char *name)
{
    for (size_t i = 0; i < pc->nchecks; i++)
        if (strcmp(pc->checks[i].name, name) == 0)
            return &pc->checks[i];
    return NULL;
}

void dw_probes_cfg_release(struct dw_probes_cfg *pc)
{
    if (!pc)
        return;
    dw_schema_free(&dw_probes_schema, pc);
    *pc = (struct dw_probes_cfg){0};
}

/* ---- journey templates ---- */

/* Parses the YAML text the walker re-emitted for a DW_SCHEMA_YAML field. */
static struct fy_document *yaml_reparse(const char *yaml)
{
    struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2};
    return fy_document_build_from_string(&cfg, yaml, strlen(yaml));
}

/* The scalar a re-emitted node holds (heap), or NULL after reporting. */
static char *yaml_scalar(struct dw_schema_ctx *ctx, const void *addr, const char *yaml)
{
    struct fy_document *doc = yaml_reparse(yaml);
    struct fy_node *root = doc ? fy_document_root(doc) : NULL;
    char *out = NULL;
    if (root && fy_node_is_scalar(root)) {
        size_t len;
        const char *s = fy_node_get_scalar(root, &len);
        out = dw_strndup(s ? s : "", s ? len : 0);
    } else if (!root) {
        dw_schema_error_at(ctx, addr, "could not read the value");
    } else {
        dw_schema_error_at(ctx, addr, "expected a string, got %s",
                           fy_node_is_mapping(root) ? "a mapping" : "a sequence");
    }
    fy_document_destroy(doc);
    return out;
}

struct tmpl_build {
    struct dw_schema_ctx *ctx;
    const void *addr; /* where errors point */
    const struct dw_probe_vars *vars;
    size_t known;      /* variables extracted by earlier steps: vars->names[0..known) */
    struct dw_buf lit; /* the literal text being collected */
    struct dw_probe_tmpl *out;
    bool ok;
};

static void tmpl_push(struct tmpl_build *b, int var)
{
    struct dw_probe_tmpl *t = b->out;
    if (b->lit.len) {
        t->segs = dw_realloc(t->segs, (t->nsegs + 1) * sizeof *t->segs);
        t->segs[t->nsegs++] = (struct dw_probe_tmpl_seg){dw_buf_steal(&b->lit), -1};
    }
    if (var >= 0) {
        t->segs = dw_realloc(t->segs, (t->nsegs + 1) * sizeof *t->segs);
        t->segs[t->nsegs++] = (struct dw_probe_tmpl_seg){NULL, var};
    }
}

static int var_index(const struct dw_probe_vars *v, const char *name, size_t len)
{
    for (size_t i = 0; i < v->n; i++)
        if (strlen(v->names[i]) == len && memcmp(v->names[i], name, len) == 0)
            return (int)i;
    return -1;
}

/* One ${...} reference of length len at p: a journey variable or the environment. */
static void tmpl_ref(struct tmpl_build *b, const char *p, size_t len)
{
    const char *name = p + 2;
    size_t nlen = strcspn(name, ":}");
    int var = var_index(b->vars, name, nlen);
    if (var >= 0 && (size_t)var < b->known) {
        tmpl_push(b, var);
        return;
    }
    if (var >= 0) {
        dw_schema_error_at(b->ctx, b->addr,
                           "${%.*s} is extracted by this or a later step; only values of "
                           "earlier steps can be used",
                           (int)nlen, name);
        b->ok = false;
        return;
    }
    char *ref = dw_strndup(p, len);
    bool unset = false;
    char *val = dw_plan_expand_env(ref, &unset);
    if (!val) {
        dw_schema_error_at(b->ctx, b->addr, "bad variable reference %s; write ${NAME}", ref);
        b->ok = false;
    } else {
        if (unset)
            dw_schema_error_at(b->ctx, b->addr,
                               "warning: %s is neither extracted by an earlier step nor set in "
                               "the environment; using an empty value",
                               ref);
        dw_buf_puts(&b->lit, val);
    }
    free(val);
    free(ref);
}

/* Splits text into literal and variable segments; false after reporting. */
static bool tmpl_compile(struct tmpl_build *b, const char *text)
{
    b->ok = true;
    dw_buf_init(&b->lit, 0);
    for (const char *p = text; *p;) {
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
            dw_buf_puts(&b->lit, "${");
            p += 3;
        } else if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p, '}');
            if (!end) {
                dw_schema_error_at(b->ctx, b->addr, "unterminated ${ in \"%s\"", text);
                b->ok = false;
                break;
            }
            tmpl_ref(b, p, (size_t)(end - p) + 1);
            p = end + 1;
        } else {
            dw_buf_putc(&b->lit, *p++);
        }
    }
    tmpl_push(b, -1);
    dw_buf_release(&b->lit);
    return b->ok;
}

static void step_headers(struct tmpl_build *b, struct dw_probe_step *s)
{
    struct fy_document *doc = yaml_reparse(s->headers_yaml);
    struct fy_node *root = doc ? fy_document_root(doc) : NULL;
    if (!root || !fy_node_is_mapping(root)) {
        dw_schema_error_at(b->ctx, &s->headers_yaml, "expected a mapping of header: value");
        fy_document_destroy(doc);
        return;
    }
    struct dw_probe_step_plan *p = &s->plan;
    size_t n = (size_t)fy_node_mapping_item_count(root);
    p->headers = dw_calloc(n ? n : 1, sizeof *p->headers);
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(root, &it))) {
        struct fy_node *k = fy_node_pair_key(pair), *v = fy_node_pair_value(pair);
        const char *key = k && fy_node_is_scalar(k) ? fy_node_get_scalar0(k) : NULL;
        const char *val = v && fy_node_is_scalar(v) ? fy_node_get_scalar0(v) : NULL;
        if (!key || !val) {
            dw_schema_error_at(b->ctx, &s->headers_yaml, "header names and values are strings");
            continue;
        }
        struct dw_probe_tmpl_header *h = &p->headers[p->nheaders++];
        h->name = dw_strdup(key);
        b->out = &h->value;
        tmpl_compile(b, val);
    }
    fy_document_destroy(doc);
}

static void step_compile(struct dw_schema_ctx *ctx, struct dw_probe_step *s,
                         const struct dw_probe_vars *vars, size_t known)
{
    struct tmpl_build b = {.ctx = ctx, .vars = vars, .known = known};
    char *url = s->url_yaml ? yaml_scalar(ctx, &s->url_yaml, s->url_yaml) : NULL;
    if (url) {
        b.addr = &s->url_yaml;
        b.out = &s->plan.url;
        tmpl_compile(&b, url);
        if (!*url)
            dw_schema_error_at(ctx, &s->url_yaml, "url is empty");
    }
    free(url);
    char *body = s->body_yaml ? yaml_scalar(ctx, &s->body_yaml, s->body_yaml) : NULL;
    if (body) {
        b.addr = &s->body_yaml;
        b.out = &s->plan.body;
        s->plan.has_body = true;
        tmpl_compile(&b, body);
    }
    free(body);
    if (s->headers_yaml) {
        b.addr = &s->headers_yaml;
        step_headers(&b, s);
    }
}

static void add_var(struct dw_probe_vars *v, const char *name)
{
    if (var_index(v, name, strlen(name)) >= 0)
        return;
    v->names = dw_realloc(v->names, (v->n + 1) * sizeof *v->names);
    v->names[v->n++] = dw_strdup(name);
}

static bool valid_var_name(const char *s)
{
    if (!isalpha((unsigned char)*s) && *s != '_')
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

/* Variables in step order, then each step's templates against the variables
 * of the steps before it. */
static void check_journey(struct dw_schema_ctx *ctx, void *obj)
{
    struct dw_probe_journey *j = obj;
    for (size_t i = 0; i < j->nsteps; i++) {
        struct dw_probe_step *s = &j->steps[i];
        for (size_t k = 0; k < i; k++)
            if (s->name && j->steps[k].name && strcmp(s->name, j->steps[k].name) == 0)
                dw_schema_error_at(ctx, &s->name, "duplicate step name \"%s\"", s->name);
        for (size_t e = 0; e < s->nextract; e++) {
            if (!valid_var_name(s->extract[e].name))
                dw_schema_error_at(ctx, &s->extract[e].how,
                                   "variable names are letters, digits and _, got \"%s\"",
                                   s->extract[e].name);
            add_var(&j->vars, s->extract[e].name);
        }
    }
    size_t known = 0;
    for (size_t i = 0; i < j->nsteps; i++) {
        struct dw_probe_step *s = &j->steps[i];
        step_compile(ctx, s, &j->vars, known);
        for (size_t e = 0; e < s->nextract; e++) {
            s->extract[e].var = var_index(&j->vars, s->extract[e].name, strlen(s->extract[e].name));
            if ((size_t)s->extract[e].var + 1 > known)
                known = (size_t)s->extract[e].var + 1;
        }
    }
}

/* ---- checks of one probe ---- */

static bool valid_probe_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_' && *s != '-')
            return false;
    return true;
}

static bool valid_label_name(const char *s)
{
    return valid_var_name(s) && !dw_str_has_prefix(s, "__");
}

static bool valid_url(const char *url, char *msg, size_t cap)
{
    CURLU *u = curl_url();
    if (!u)
        dw_oom(0);
    CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, 0);
    curl_url_cleanup(u);
    if (rc != CURLUE_OK)
        snprintf(msg, cap, "%s", curl_url_strerror(rc));
    return rc == CURLUE_OK;
}

/* host:port with a port 1..65535; [v6]:port for IPv6 literals. */
static bool valid_host_port(const char *s, bool port_required)
{
    const char *colon;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end == s + 1)
            return false;
        colon = end[1] == ':' ? end + 1 : NULL;
        if (!colon && end[1])
            return false;
    } else {
        colon = strrchr(s, ':');
        if (colon == s || (colon && memchr(s, ':', (size_t)(colon - s))))
            return false;
    }
    if (!colon)
        return !port_required && *s;
    int64_t port;
    return dw_parse_int64(colon + 1, &port) == 0 && port >= 1 && port <= 65535;
}

/* A numeric server address: "1.2.3.4", "1.2.3.4:53", "[::1]:53", "::1". */
static bool valid_dns_server(const char *s)
{
    unsigned char addr[16];
    if (inet_pton(AF_INET6, s, addr) == 1)
        return true;
    if (!valid_host_port(s, false))
        return false;
    char host[64];
    const char *start = s[0] == '[' ? s + 1 : s;
    size_t len = s[0] == '[' ? strcspn(start, "]") : strcspn(start, ":");
    if (len >= sizeof host)
        return false;
    memcpy(host, start, len);
    host[len] = '\0';
    return inet_pton(s[0] == '[' ? AF_INET6 : AF_INET, host, addr) == 1;
}

static void check_target(struct dw_schema_ctx *ctx, struct dw_probe_cfg *c)
{
    char msg[128] = "";
    const char *t = c->target;
    switch (c->kind) {
    case DW_PROBE_HTTP:
    case DW_PROBE_CDN:
    case DW_PROBE_JOURNEY:
        if (!dw_str_has_prefix(t, "http://") && !dw_str_has_prefix(t, "https://"))
            dw_schema_error_at(ctx, &c->target, "expected an http(s) URL, got \"%s\"", t);
        else if (!valid_url(t, msg, sizeof msg))
            dw_schema_error_at(ctx, &c->target, "invalid URL: %s", msg);
        break;
    case DW_PROBE_WEBSOCKET:
        if (!dw_str_has_prefix(t, "ws://") && !dw_str_has_prefix(t, "wss://")) {
            dw_schema_error_at(ctx, &c->target, "expected a ws:// or wss:// URL, got \"%s\"", t);
        } else {
            char *as_http = dw_asprintf("http%s", t + 2); /* ws://x -> http://x */
            if (!valid_url(as_http, msg, sizeof msg))
                dw_schema_error_at(ctx, &c->target, "invalid URL: %s", msg);
            free(as_http);
        }
        break;
    case DW_PROBE_TCP:
        if (!valid_host_port(t, true))
            dw_schema_error_at(ctx, &c->target, "expected host:port, got \"%s\"", t);
        break;
    case DW_PROBE_DNS: {
        uint8_t buf[512];
        if (dw_dns_build_query(0, t, c->dns.query_type, buf, sizeof buf) < 0)
            dw_schema_error_at(ctx, &c->target, "not a valid DNS name: \"%s\"", t);
        break;
    }
    }
}

/* Which kinds each block belongs to. */
static void check_blocks(struct dw_schema_ctx *ctx, struct dw_probe_cfg *c)
{
    const char *kind = dw_probe_kind_name(c->kind);
    bool httpish = c->kind == DW_PROBE_HTTP || c->kind == DW_PROBE_CDN;
    if (dw_schema_seen(ctx, &c->http) && !httpish && c->kind != DW_PROBE_JOURNEY)
        dw_schema_error_at(ctx, &c->http, "an http block is for kind http, cdn or journey, not %s",
                           kind);
    if (dw_schema_seen(ctx, &c->tcp) && c->kind != DW_PROBE_TCP)
        dw_schema_error_at(ctx, &c->tcp, "a tcp block is for kind tcp, not %s", kind);
    if (dw_schema_seen(ctx, &c->dns) && c->kind != DW_PROBE_DNS)
        dw_schema_error_at(ctx, &c->dns, "a dns block is for kind dns, not %s", kind);
    if (dw_schema_seen(ctx, &c->websocket) && c->kind != DW_PROBE_WEBSOCKET)
        dw_schema_error_at(ctx, &c->websocket, "a websocket block is for kind websocket, not %s",
                           kind);
    if (dw_schema_seen(ctx, &c->journey) && c->kind != DW_PROBE_JOURNEY)
        dw_schema_error_at(ctx, &c->journey, "a journey block is for kind journey, not %s", kind);
    if (c->kind == DW_PROBE_JOURNEY && !dw_schema_seen(ctx, &c->journey))
        dw_schema_error_at(ctx, &c->kind, "a journey needs a journey block with steps");
    if (c->ndevices && !httpish && c->kind != DW_PROBE_JOURNEY)
        dw_schema_error_at(ctx, &c->devices, "devices are for kind http, cdn or journey, not %s",
                           kind);
}

/* A journey's http block holds connection settings; what a response must look
 * like belongs to each step. */
static void check_journey_http(struct dw_schema_ctx *ctx, struct dw_probe_cfg *c)
{
    const struct dw_probe_http *h = &c->http;
    const void *per_step[] = {&h->method,
                              &h->body,
                              &h->expect.valid_status,
                              &h->expect.body_contains,
                              &h->expect.body_not_contains,
                              &h->expect.body_regex,
                              &h->expect.body_not_regex,
                              &h->expect.json};
    for (size_t i = 0; i < DW_ARRAY_LEN(per_step); i++)
        if (dw_schema_seen(ctx, per_step[i]))
            dw_schema_error_at(ctx, per_step[i], "in a journey, set this on each step");
}

static void check_step_urls(struct dw_schema_ctx *ctx, struct dw_probe_cfg *c)
{
    for (size_t i = 0; i < c->journey.nsteps; i++) {
        const struct dw_probe_step *s = &c->journey.steps[i];
        const struct dw_probe_tmpl *u = &s->plan.url;
        if (u->nsegs != 1 || u->segs[0].var >= 0)
            continue; /* with variables it is only known per run */
        CURLU *h = curl_url();
        if (!h)
            dw_oom(0);
        CURLUcode rc = curl_url_set(h, CURLUPART_URL, c->target, 0);
        if (rc == CURLUE_OK)
            rc = curl_url_set(h, CURLUPART_URL, u->segs[0].text, 0);
        curl_url_cleanup(h);
        if (rc != CURLUE_OK)
            dw_schema_error_at(ctx, &s->url_yaml, "invalid URL: %s", curl_url_strerror(rc));
    }
}

static void check_labels(struct dw_schema_ctx *ctx, struct dw_probe_cfg *c)
{
    for (size_t i = 0; i < c->nlabels; i++) {
        const char *k = c->labels[i].key;
        bool reserved = false;
        for (size_t r = 0; reserved_labels[r]; r++)
            reserved = reserved || strcmp(k, reserved_labels[r]) == 0;
        if (!valid_label_name(k))
            dw_schema_error_at(ctx, &c->labels[i].value, "invalid label name \"%s\"", k);
        else if (reserved)
            dw_schema_error_at(ctx, &c->labels[i].value,
                               "label %s is set by dojowatch; choose another name", k);
    }
}

static void check_ws(struct dw_schema_ctx *ctx, struct dw_probe_cfg *c)
{
    const struct dw_probe_ws *w = &c->websocket;
    if (c->kind != DW_PROBE_WEBSOCKET || w->hold_ms == 0)
        return;
    if (c->timeout_ms && w->hold_ms >= c->timeout_ms)
        dw_schema_error_at(ctx, &w->hold_ms, "hold must be shorter than the timeout (%lld ms)",
                           (long long)c->timeout_ms);
}

static void check_probe(struct dw_schema_ctx *ctx, void *obj)
{
    struct dw_probe_cfg *c = obj;
    if (!c->name || !c->target)
        return; /* reported as missing */
    if (!valid_probe_name(c->name))
        dw_schema_error_at(ctx, &c->name,
                           "names are lower-case letters, digits, _ and -, got \"%s\"", c->name);
    check_blocks(ctx, c);
    check_target(ctx, c);
    check_labels(ctx, c);
    if (c->kind == DW_PROBE_JOURNEY) {
        check_journey_http(ctx, c);
        check_step_urls(ctx, c);
    }
    if (c->kind == DW_PROBE_DNS && c->dns.server && !valid_dns_server(c->dns.server))
        dw_schema_error_at(ctx, &c->dns.server,
                           "expected a numeric address like 127.0.0.1:53 or [::1]:53, got \"%s\"",
                           c->dns.server);
}

/* ---- the whole section ---- */

static void apply_defaults(struct dw_schema_ctx *ctx, struct dw_probes_cfg *pc,
                           struct dw_probe_cfg *c)
{
    if (!dw_schema_seen(ctx, &c->interval_ms))
        c->interval_ms = pc->defaults.interval_ms;
    if (!dw_schema_seen(ctx, &c->timeout_ms))
        c->timeout_ms = pc->defaults.timeout_ms;
    if (c->interval_ms > 0 && c->timeout_ms > c->interval_ms) {
        char t[32], i[32];
        dw_format_duration(c->timeout_ms, t, sizeof t);
        dw_format_duration(c->interval_ms, i, sizeof i);
        dw_schema_error_at(ctx,
                           dw_schema_seen(ctx, &c->timeout_ms) ? (void *)&c->timeout_ms
                                                               : (void *)&c->interval_ms,
                           "timeout %s is longer than the interval %s", t, i);
    }
    check_ws(ctx, c);
}

static void check_root(struct dw_schema_ctx *ctx, void *obj)
{
    struct dw_probes_cfg *pc = obj;
    if (!dw_schema_seen(ctx, &pc->devices))
        add_builtin_devices(ctx, pc);
    for (size_t i = 0; i < pc->nchecks; i++)
        apply_defaults(ctx, pc, &pc->checks[i]);
}
