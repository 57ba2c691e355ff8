/*
 * probe.h - synthetic probes (internal to src/collect): the `probes:` config
 * section decoded into C structs, and one run of a probe on the collector's
 * event loop.
 *
 * DESIGN
 * probe_config.c describes the section with schema tables (the format is
 * documented at the top of that file) and compiles everything a run needs
 * at load time: regexes (PCRE2), JSON path assertions, status code ranges
 * and the templates of journey steps. A run never parses configuration.
 *
 * A run (struct dw_probe_run, collect_internal.h) is started by
 * dw_probe_start() on the loop thread and ends with exactly one call of
 * run->done, by run->deadline_mono_ms, with success, a short reason code
 * and a human detail filled in, and the kind's samples appended to
 * run->samples. The kinds:
 *   probe_http.c  http, cdn and journey: libcurl easy handles on the loop's
 *                 multi (one per request, one share for a journey's cookies)
 *   probe_net.c   tcp and websocket: a connect-only curl handle (so TLS is
 *                 curl's), then non-blocking curl_easy_send/recv on its
 *                 socket; dns: a non-blocking UDP socket
 *   probe.c       dispatch, failure helpers, CURLcode -> reason, device
 *                 profiles, certificate and TLS facts, shared HTTP setup
 */
#ifndef DW_COLLECT_PROBE_H
#define DW_COLLECT_PROBE_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <curl/curl.h>
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collect/collect_internal.h"
#include "plan/plan.h"

enum dw_probe_kind {
    DW_PROBE_HTTP,
    DW_PROBE_TCP,
    DW_PROBE_DNS,
    DW_PROBE_WEBSOCKET,
    DW_PROBE_CDN,
    DW_PROBE_JOURNEY,
    DW_PROBE_KIND_COUNT
};

/** "http", "tcp", "dns", "websocket", "cdn", "journey"; "unknown" out of range. */
const char *dw_probe_kind_name(int kind);

/* ---- decoded configuration (probe_config.c) ---- */

/** A regular expression as written and compiled (PCRE2, UTF). */
struct dw_probe_regex {
    char *src;
    pcre2_code *code;
};

/** A JSON path assertion (`$.status == "ok"`) as written and compiled. */
struct dw_probe_json {
    char *src;
    struct dw_jsonpath *path;
};

/** An accepted status range: "200" is 200..200, "2xx" is 200..299. */
struct dw_probe_status {
    int lo, hi;
};

/** A compiled JSON path without operator, for extracting a value ($.a.b[0]). */
struct dw_jsonpath;

/** How a journey step extracts a variable: a JSON path or a regex's group 1. */
struct dw_probe_extract_how {
    char *src;                /* as written: "$.token" or "regex:..." */
    struct dw_jsonpath *path; /* one of path and re */
    pcre2_code *re;
};
struct dw_probe_extract {
    char *name; /* the map key: the variable, used as ${name} by later steps */
    struct dw_probe_extract_how how;
    int var; /* index into the journey's variables (set by the journey check) */
};

/** What a response must look like (http block and journey steps). */
struct dw_probe_expect {
    struct dw_probe_status *valid_status; /* empty: 2xx */
    size_t nvalid_status;
    char **body_contains;
    size_t nbody_contains;
    char **body_not_contains;
    size_t nbody_not_contains;
    struct dw_probe_regex *body_regex;
    size_t nbody_regex;
    struct dw_probe_regex *body_not_regex;
    size_t nbody_not_regex;
    struct dw_probe_json *json;
    size_t njson;
};

enum dw_probe_ip { DW_PROBE_IP_ANY, DW_PROBE_IP4, DW_PROBE_IP6 };

struct dw_probe_http {
    /* First, because dw_schema_seen() of the block's address also sees its
     * first member, and method and body are checked on their own. */
    bool follow_redirects;
    int max_redirects;
    char *method; /* GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS */
    struct dw_schema_pair *headers;
    size_t nheaders;
    char *body;
    struct dw_probe_expect expect;
    int64_t latency_budget_ms; /* 0: none */
    uint64_t max_body;         /* bytes of (decoded) body before body_too_large */
    bool tls_insecure;
    char *ca_file;
    int64_t cert_expiry_min_ms; /* 0: not checked */
    int ip_protocol;            /* enum dw_probe_ip */
};

struct dw_probe_tcp {
    char *send;                   /* sent after connecting; may be NULL */
    struct dw_probe_regex expect; /* code NULL when absent */
    bool tls;
    bool tls_insecure;
    char *ca_file;
};

struct dw_probe_dns {
    char *server;      /* "ip:port" or "[ip6]:port"; NULL: first nameserver of /etc/resolv.conf */
    int query_type;    /* DNS type number */
    int *valid_rcodes; /* rcode numbers, written as names; empty: NOERROR */
    size_t nvalid_rcodes;
    struct dw_probe_regex *answer_regex;
    size_t nanswer_regex;
    int protocol; /* 0: udp (the only one for now) */
};

struct dw_probe_ws {
    struct dw_schema_pair *headers;
    size_t nheaders;
    int ping_count;
    int64_t hold_ms; /* 0: handshake and pings only */
    int64_t ping_interval_ms;
    char *subprotocol;
    bool tls_insecure;
    char *ca_file;
};

/** A string with ${var} references to journey variables, split at load time. */
struct dw_probe_tmpl_seg {
    char *text; /* literal text (var < 0), or NULL */
    int var;    /* index into the journey's variables, -1 for literal text */
};
struct dw_probe_tmpl {
    struct dw_probe_tmpl_seg *segs;
    size_t nsegs;
};
struct dw_probe_tmpl_header {
    char *name;
    struct dw_probe_tmpl value;
};

/** What a step's templates compile to (filled by the journey check). */
struct dw_probe_step_plan {
    struct dw_probe_tmpl url, body;
    struct dw_probe_tmpl_header *headers;
    size_t nheaders;
    bool has_body;
};

struct dw_probe_step {
    char *name;
    char *method;                              /* default GET, or POST when the step has a body */
    char *url_yaml, *body_yaml, *headers_yaml; /* raw YAML: variables are resolved per run */
    struct dw_probe_expect expect;
    struct dw_probe_extract *extract; /* a map name -> "$.path" | "regex:..." */
    size_t nextract;
    struct dw_probe_step_plan plan; /* compiled by the journey check */
};

/** The names of a journey's variables: every name any step extracts. */
struct dw_probe_vars {
    char **names;
    size_t n;
};

struct dw_probe_journey {
    struct dw_probe_step *steps;
    size_t nsteps;
    struct dw_probe_vars vars; /* filled by the journey check */
};

struct dw_probe_device {
    char *name; /* the map key */
    char *user_agent;
    struct dw_schema_pair *headers;
    size_t nheaders;
};

struct dw_probe_cfg {
    char *name;          /* unique, [a-z0-9_-]+ */
    int kind;            /* enum dw_probe_kind */
    int cls;             /* enum dw_check_class */
    int64_t interval_ms; /* 0: the cadence of the class in the current phase ("plan") */
    int64_t timeout_ms;
    char *target;
    char **devices; /* device profile names; empty: one plain run */
    size_t ndevices;
    struct dw_schema_pair *labels;
    size_t nlabels;
    struct dw_probe_http http; /* http, cdn; connection settings of a journey */
    struct dw_probe_tcp tcp;
    struct dw_probe_dns dns;
    struct dw_probe_ws websocket;
    struct dw_probe_journey journey;
};

struct dw_probe_defaults {
    int64_t interval_ms; /* default 30s */
    int64_t timeout_ms;  /* default 10s */
};

struct dw_probes_cfg {
    struct dw_probe_defaults defaults;
    struct dw_probe_device *devices; /* desktop and mobile when the map is absent */
    size_t ndevices;
    struct dw_probe_cfg *checks;
    size_t nchecks;
};

/** The schema of the `probes:` section: dw_config_decode_section(cfg, "probes",
 *  &dw_probes_schema, &out, NULL, &diags) into a zeroed struct dw_probes_cfg. */
extern const struct dw_schema dw_probes_schema;

/** Frees everything the decoded section holds (compiled regexes and templates
 *  too) and zeroes it; the same as dw_schema_free(&dw_probes_schema, pc). */
void dw_probes_cfg_release(struct dw_probes_cfg *pc);

/** A device profile by name (the built-in desktop and mobile when the section
 *  declared no devices map); NULL when unknown. */
const struct dw_probe_device *dw_probes_device(const struct dw_probes_cfg *pc, const char *name);
const char *dw_probe_device_name(const struct dw_probe_device *d);
/** A check by name, NULL when unknown. */
const struct dw_probe_cfg *dw_probes_find(const struct dw_probes_cfg *pc, const char *name);

/* ---- running (probe.c) ---- */

/**
 * Starts one run on run->loop (loop thread). run->cfg, device, loop,
 * deadline_mono_ms and done are set; run->samples is initialised (empty).
 * The run calls run->done exactly once, by the deadline, from a loop
 * callback (never from inside dw_probe_start).
 */
void dw_probe_start(struct dw_probe_run *run);
/** Cancels a run that has not called done yet, without calling it (shutdown). */
void dw_probe_abort(struct dw_probe_run *run);

/* ---- shared by probe*.c (and the unit test) ---- */

/** The reason code for a failed curl transfer; os_errno from CURLINFO_OS_ERRNO
 *  tells a refused connection from other connect failures. */
const char *dw_probe_curl_reason(CURLcode rc, long os_errno);
/** Seconds since the epoch of a certificate date as curl's CERTINFO gives it
 *  ("Dec 17 03:47:35 2026 GMT" or "2026-12-17 03:47:35 GMT"); -1 when unparsable. */
double dw_probe_parse_cert_time(const char *s);
/** "TLSv1.3" -> "TLS 1.3" (blackbox's label values); other text is copied. */
void dw_probe_tls_label(const char *openssl_name, char *out, size_t cap);

/* Every kind's run state starts with this, so abort works without knowing the kind. */
struct dw_probe_op {
    void (*abort)(struct dw_probe_run *run);
};

/** Records a failure (the first one wins) with a printf detail. */
void dw_probe_fail(struct dw_probe_run *run, const char *reason, const char *fmt, ...)
    DW_PRINTF(3, 4);
/** Ends the run: success unless a failure was recorded; run->state must be
 *  freed already. Calls run->done. */
void dw_probe_finish(struct dw_probe_run *run);
/** Milliseconds left before the deadline (at least 1). */
int64_t dw_probe_remaining_ms(const struct dw_probe_run *run);

/** Connection facts curl gathered on a TLS connection. */
struct dw_probe_tls {
    char version[24];       /* "TLS 1.3" from curl's verbose text, "" unknown */
    double earliest_expiry; /* seconds since the epoch, 0 unknown */
};
/** Turns on what dw_probe_tls_collect needs (CERTINFO, the debug callback). */
void dw_probe_tls_setup(CURL *e, struct dw_probe_tls *tls);
/** After the handshake: the earliest certificate expiry from CERTINFO. */
void dw_probe_tls_collect(CURL *e, struct dw_probe_tls *tls);
/** Emits probe_ssl_earliest_cert_expiry and probe_tls_version_info; fails the
 *  run with cert_expiring when a cert expires within min_ms (0: no check). */
void dw_probe_tls_report(struct dw_probe_run *run, const struct dw_probe_tls *tls, int64_t min_ms);

/** Timeouts from the deadline, no signals, a fresh connection closed after
 *  use, no DNS cache, no proxy from the environment, the IP family. */
void dw_probe_curl_common(struct dw_probe_run *run, CURL *e, int ip_protocol);
/** TLS verification options (insecure, CA file). */
void dw_probe_curl_tls(CURL *e, bool insecure, const char *ca_file);
/** User-Agent and the device's headers, then the check's own headers (which
 *  win over the device's); appends to list and returns it. */
struct curl_slist *dw_probe_headers(const struct dw_probe_run *run, struct curl_slist *list,
                                    const struct dw_schema_pair *own, size_t nown);
/** Fails the run from a curl error: reason from the code, detail with the
 *  curl message; what names the request ("GET https://x/"). */
void dw_probe_fail_curl(struct dw_probe_run *run, CURL *e, CURLcode rc, const char *errbuf,
                        const char *what);

/* The kinds. */
/** An easy handle from this thread's pool of finished ones (reset), or a new one. */
CURL *dw_probe_easy_new(void);
/** Gives a handle no longer in any multi back to this thread's pool. */
void dw_probe_easy_done(CURL *e);
/** Frees this thread's pooled handles (at the end of a loop thread). */
void dw_probe_easy_drain(void);

void dw_probe_http_start(struct dw_probe_run *run);
void dw_probe_journey_start(struct dw_probe_run *run);
void dw_probe_tcp_start(struct dw_probe_run *run);
void dw_probe_ws_start(struct dw_probe_run *run);
void dw_probe_dns_start(struct dw_probe_run *run);

/** Renders a template with the journey's variable values (NULL values render empty). */
char *dw_probe_tmpl_render(const struct dw_probe_tmpl *t, char *const *values);

#endif
