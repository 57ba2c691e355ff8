/*
 * probe_http.c - DESIGN: the http, cdn and journey probe kinds.
 *
 * One request is one libcurl easy handle on the loop's shared multi
 * (struct http_req): curl's CURLOPT_TIMEOUT_MS comes from the run's deadline,
 * so a slow-drip or silent server ends as "timeout"; the write callback
 * aborts past max_body (and CURLOPT_MAXFILESIZE refuses a large announced
 * Content-Length), so a huge body ends as "body_too_large"; curl's own
 * redirect limit turns a loop into "redirect_loop". A guard timer at the
 * deadline removes a transfer curl has not finished, so done is never late.
 *
 * After a transfer: blackbox_exporter-compatible samples from curl's
 * timings and info, then the expectations in a fixed order (status code,
 * body substrings, body regexes, JSON path assertions, certificate expiry,
 * latency budget); the first failure is the reason.
 *
 * cdn is http plus a header callback feeding dw_cdn_header() (reset at each
 * response of a redirect chain, so the final response decides).
 *
 * A journey runs its steps one after another on fresh easy handles that
 * share one cookie store (a CURLSH with CURL_LOCK_DATA_COOKIE, in memory).
 * Each step's url, headers and body are rendered from templates with the
 * values earlier steps extracted; the first failing step ends the journey.
 * The journey's http block gives connection settings for every step.
 *
 * Threads: the loop thread only.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "collect/probe.h"
#include "collect/probe_wire.h"

#define US_PER_S 1e6
#define WHAT_MAX 160 /* "GET https://..." in details */

/* ---- one request ---- */

struct http_req {
    CURL *easy;
    struct curl_slist *headers;
    bool no_pool; /* a journey step's handle: cookie state that a reset would leak */
    char *url;    /* as requested, heap */
    char *body;   /* the request body, heap; NULL for none */
    char what[WHAT_MAX];
    struct dw_buf resp; /* the response body, kept when something reads it */
    bool keep_body;
    uint64_t max_body, received;
    bool too_large;
    bool cdn;
    struct dw_cdn_info cdn_info;
    bool tls_on;
    struct dw_probe_tls tls;
    char errbuf[CURL_ERROR_SIZE];
};

static size_t req_write(char *data, size_t size, size_t n, void *arg)
{
    struct http_req *r = arg;
    size_t len = size * n;
    r->received += len;
    if (r->received > r->max_body) {
        r->too_large = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (r->keep_body && dw_buf_append(&r->resp, data, len) < 0)
        return 0;
    return len;
}

/* Header lines of every response of the chain; a status line starts over. */
static size_t req_header(char *data, size_t size, size_t n, void *arg)
{
    struct http_req *r = arg;
    size_t len = size * n;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        dw_cdn_info_init(&r->cdn_info);
        return len;
    }
    size_t line = len;
    while (line > 0 && (data[line - 1] == '\n' || data[line - 1] == '\r'))
        line--;
    if (line > 0)
        dw_cdn_header(&r->cdn_info, data, line);
    return len;
}

static void req_release(struct http_req *r)
{
    if (r->no_pool && r->easy)
        curl_easy_cleanup(r->easy);
    else
        dw_probe_easy_done(r->easy);
    curl_slist_free_all(r->headers);
    free(r->url);
    free(r->body);
    dw_buf_release(&r->resp);
    *r = (struct http_req){0};
}

static void req_method(struct http_req *r, const char *method)
{
    CURL *e = r->easy;
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "POST") == 0)
        curl_easy_setopt(e, CURLOPT_POST, 1L);
    else if (strcmp(method, "GET") != 0 || r->body)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (r->body || strcmp(method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(r->body ? strlen(r->body) : 0));
    }
}

/* Sets up r->easy for url; r->body, r->headers, keep_body and cdn are set by
 * the caller before. Returns -1 when curl cannot make a handle. */
static int req_setup(struct dw_probe_run *run, struct http_req *r, const char *method,
                     const struct dw_probe_http *h)
{
    CURL *e = r->easy = dw_probe_easy_new();
    if (!e)
        return -1;
    snprintf(r->what, sizeof r->what, "%s %s", method, r->url);
    dw_buf_init(&r->resp, h->max_body + 1);
    r->max_body = h->max_body;
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    dw_probe_curl_common(run, e, h->ip_protocol);
    dw_probe_curl_tls(e, h->tls_insecure, h->ca_file);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, h->follow_redirects ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)h->max_redirects);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->max_body);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, req_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    if (r->cdn) {
        dw_cdn_info_init(&r->cdn_info);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, req_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    }
    r->tls_on = dw_str_has_prefix(r->url, "https://");
    if (r->tls_on)
        dw_probe_tls_setup(e, &r->tls);
    req_method(r, method);
    return 0;
}

/* ---- samples ---- */

static double info_s(CURL *e, CURLINFO what)
{
    curl_off_t us = 0;
    curl_easy_getinfo(e, what, &us);
    return us > 0 ? (double)us / US_PER_S : 0;
}

static double positive(double v)
{
    return v > 0 ? v : 0;
}

static void add_phase(struct dw_probe_run *run, const char *phase, double v)
{
    dw_csamples_add(&run->samples, "probe_http_duration_seconds", positive(v), "phase", phase,
                    NULL);
}

/* Phases of the final request of the chain, from curl's cumulative timers. */
static void req_phases(struct dw_probe_run *run, CURL *e)
{
    double nl = info_s(e, CURLINFO_NAMELOOKUP_TIME_T), conn = info_s(e, CURLINFO_CONNECT_TIME_T);
    double tls = info_s(e, CURLINFO_APPCONNECT_TIME_T),
           pre = info_s(e, CURLINFO_PRETRANSFER_TIME_T);
    double first = info_s(e, CURLINFO_STARTTRANSFER_TIME_T),
           total = info_s(e, CURLINFO_TOTAL_TIME_T);
    double redir = info_s(e, CURLINFO_REDIRECT_TIME_T);
    add_phase(run, "resolve", nl);
    add_phase(run, "connect", conn > 0 ? conn - nl : 0);
    add_phase(run, "tls", tls > 0 ? tls - conn : 0);
    add_phase(run, "processing", first > 0 && pre > 0 ? first - pre : 0);
    add_phase(run, "transfer", first > 0 ? total - redir - first : 0);
    dw_csamples_add(&run->samples, "probe_dns_lookup_time_seconds", nl, NULL);
}

static double http_version(long v)
{
    switch (v) {
    case CURL_HTTP_VERSION_1_0: return 1.0;
    case CURL_HTTP_VERSION_1_1: return 1.1;
    case CURL_HTTP_VERSION_2_0: return 2;
    case CURL_HTTP_VERSION_3: return 3;
    default: return 0;
    }
}

static void req_samples(struct dw_probe_run *run, struct http_req *r)
{
    CURL *e = r->easy;
    struct dw_csamples *s = &run->samples;
    long status = 0, redirects = 0, version = 0;
    curl_off_t clen = -1;
    char *scheme = NULL, *ip = NULL;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &redirects);
    curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &version);
    curl_easy_getinfo(e, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen);
    curl_easy_getinfo(e, CURLINFO_SCHEME, &scheme);
    curl_easy_getinfo(e, CURLINFO_PRIMARY_IP, &ip);
    req_phases(run, e);
    dw_csamples_add(s, "probe_http_status_code", (double)status, NULL);
    /* -1: a response of unknown length; 0 when there was no response at all. */
    dw_csamples_add(s, "probe_http_content_length", status ? (double)clen : 0, NULL);
    dw_csamples_add(s, "probe_http_uncompressed_body_length", (double)r->received, NULL);
    dw_csamples_add(s, "probe_http_redirects", (double)redirects, NULL);
    dw_csamples_add(s, "probe_http_ssl", scheme && strcasecmp(scheme, "https") == 0, NULL);
    dw_csamples_add(s, "probe_http_version", http_version(version), NULL);
    if (ip && *ip)
        dw_csamples_add(s, "probe_ip_protocol", strchr(ip, ':') ? 6 : 4, NULL);
}

static void cdn_samples(struct dw_probe_run *run, struct http_req *r)
{
    struct dw_cdn_info *c = &r->cdn_info;
    dw_cdn_finish(c);
    if (c->cache != DW_CDN_UNKNOWN)
        dw_csamples_add(&run->samples, "probe_cdn_cache_hit", c->cache == DW_CDN_HIT, NULL);
    if (c->age_seconds >= 0)
        dw_csamples_add(&run->samples, "probe_cdn_age_seconds", c->age_seconds, NULL);
    if (c->edge[0])
        dw_csamples_add(&run->samples, "probe_cdn_edge_info", 1, "edge", c->edge, NULL);
}

/* ---- expectations ---- */

static bool status_ok(const struct dw_probe_expect *x, long status)
{
    if (x->nvalid_status == 0)
        return status >= 200 && status <= 299;
    for (size_t i = 0; i < x->nvalid_status; i++)
        if (status >= x->valid_status[i].lo && status <= x->valid_status[i].hi)
            return true;
    return false;
}

static bool regex_match(pcre2_code *re, const char *s, size_t n, char **group1)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!md)
        dw_oom(0);
    int rc = pcre2_match(re, (PCRE2_SPTR)s, n, 0, 0, md, NULL);
    if (rc >= 2 && group1) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        *group1 = ov[2] == PCRE2_UNSET ? NULL : dw_strndup(s + ov[2], ov[3] - ov[2]);
    }
    pcre2_match_data_free(md);
    return rc > 0;
}

static bool body_has(const struct http_req *r, const char *needle)
{
    size_t n = strlen(needle);
    return n == 0 || (r->resp.len >= n && memmem(r->resp.data, r->resp.len, needle, n));
}

static bool check_contains(struct dw_probe_run *run, const struct http_req *r,
                           const struct dw_probe_expect *x)
{
    for (size_t i = 0; i < x->nbody_contains; i++)
        if (!body_has(r, x->body_contains[i])) {
            dw_probe_fail(run, "body_contains", "%s: body lacks \"%s\"", r->what,
                          x->body_contains[i]);
            return false;
        }
    for (size_t i = 0; i < x->nbody_not_contains; i++)
        if (body_has(r, x->body_not_contains[i])) {
            dw_probe_fail(run, "body_contains", "%s: body contains \"%s\"", r->what,
                          x->body_not_contains[i]);
            return false;
        }
    return true;
}

static bool check_regex(struct dw_probe_run *run, const struct http_req *r,
                        const struct dw_probe_expect *x)
{
    const char *body = r->resp.data ? r->resp.data : "";
    for (size_t i = 0; i < x->nbody_regex; i++)
        if (!regex_match(x->body_regex[i].code, body, r->resp.len, NULL)) {
            dw_probe_fail(run, "body_regex", "%s: body does not match /%s/", r->what,
                          x->body_regex[i].src);
            return false;
        }
    for (size_t i = 0; i < x->nbody_not_regex; i++)
        if (regex_match(x->body_not_regex[i].code, body, r->resp.len, NULL)) {
            dw_probe_fail(run, "body_regex", "%s: body matches /%s/", r->what,
                          x->body_not_regex[i].src);
            return false;
        }
    return true;
}

/* Parses the body as JSON once (for assertions and extraction). */
static json_t *req_json(struct dw_probe_run *run, const struct http_req *r, json_t **doc)
{
    if (*doc)
        return *doc;
    json_error_t err;
    *doc = json_loadb(r->resp.data ? r->resp.data : "", r->resp.len,
                      JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!*doc)
        dw_probe_fail(run, "json_assertion", "%s: body is not JSON: %s (line %d)", r->what,
                      err.text, err.line);
    return *doc;
}

static bool check_json(struct dw_probe_run *run, const struct http_req *r,
                       const struct dw_probe_expect *x, json_t **doc)
{
    if (x->njson == 0)
        return true;
    if (!req_json(run, r, doc))
        return false;
    for (size_t i = 0; i < x->njson; i++) {
        char why[160] = "";
        if (!dw_jsonpath_check(x->json[i].path, *doc, why, sizeof why)) {
            dw_probe_fail(run, "json_assertion", "%s: %s failed: %s", r->what, x->json[i].src,
                          why[0] ? why : "false");
            return false;
        }
    }
    return true;
}

/* A finished transfer against what it must look like; false after failing the run. */
static bool req_evaluate(struct dw_probe_run *run, struct http_req *r, CURLcode rc,
                         const struct dw_probe_expect *x, json_t **doc)
{
    if (rc != CURLE_OK && (r->too_large || rc == CURLE_FILESIZE_EXCEEDED)) {
        dw_probe_fail(run, "body_too_large", "%s: body larger than max_body (%llu bytes)", r->what,
                      (unsigned long long)r->max_body);
        return false;
    }
    if (rc != CURLE_OK) {
        dw_probe_fail_curl(run, r->easy, rc, r->errbuf, r->what);
        return false;
    }
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    if (!status_ok(x, status)) {
        dw_probe_fail(run, "status_code", "%s: status %ld%s", r->what, status,
                      x->nvalid_status ? ", not one of valid_status_codes" : ", expected 2xx");
        return false;
    }
    return check_contains(run, r, x) && check_regex(run, r, x) && check_json(run, r, x, doc);
}

static bool expect_needs_body(const struct dw_probe_expect *x)
{
    return x->nbody_contains || x->nbody_not_contains || x->nbody_regex || x->nbody_not_regex ||
           x->njson;
}

static void latency_check(struct dw_probe_run *run, const struct dw_probe_http *h, double total_s,
                          const char *what)
{
    if (h->latency_budget_ms <= 0)
        return;
    bool over = total_s * 1000.0 > (double)h->latency_budget_ms;
    dw_csamples_add(&run->samples, "probe_http_latency_budget_exceeded", over, NULL);
    if (over)
        dw_probe_fail(run, "latency_budget", "%s took %.0f ms, over the budget of %lld ms", what,
                      total_s * 1000.0, (long long)h->latency_budget_ms);
}

/* ---- the http and cdn kinds ---- */

struct http_state {
    struct dw_probe_op op;
    struct http_req req;
    struct dw_loop_watch *guard;
};

static void http_free(struct dw_probe_run *run)
{
    struct http_state *st = run->state;
    dw_loop_unwatch(run->loop, st->guard);
    req_release(&st->req);
    free(st);
    run->state = NULL;
}

static void http_abort(struct dw_probe_run *run)
{
    struct http_state *st = run->state;
    if (st->req.easy)
        dw_loop_remove_curl(run->loop, st->req.easy);
    http_free(run);
}

static void http_done(void *arg, CURL *easy, CURLcode rc)
{
    struct dw_probe_run *run = arg;
    struct http_state *st = run->state;
    const struct dw_probe_http *h = &run->cfg->http;
    struct http_req *r = &st->req;
    json_t *doc = NULL;
    req_samples(run, r);
    if (r->cdn)
        cdn_samples(run, r);
    if (r->tls_on)
        dw_probe_tls_collect(easy, &r->tls);
    bool ok = req_evaluate(run, r, rc, &h->expect, &doc);
    const char *reason = run->reason;
    bool regex = strcmp(reason, "body_regex") == 0 || strcmp(reason, "body_contains") == 0;
    dw_csamples_add(&run->samples, "probe_failed_due_to_regex", regex, NULL);
    if (r->tls_on)
        dw_probe_tls_report(run, &r->tls, ok ? h->cert_expiry_min_ms : 0);
    if (ok || rc == CURLE_OK)
        latency_check(run, h, info_s(easy, CURLINFO_TOTAL_TIME_T), r->what);
    json_decref(doc);
    http_free(run);
    dw_probe_finish(run);
}

static void http_guard(void *arg, int fd, short revents)
{
    struct dw_probe_run *run = arg;
    struct http_state *st = run->state;
    st->guard = NULL;
    dw_probe_fail(run, "timeout", "%s: no answer within %lld ms", st->req.what,
                  (long long)run->cfg->timeout_ms);
    http_abort(run);
    dw_probe_finish(run);
}

/* Adds a prepared request to the loop with a guard at the deadline; false
 * after recording why it could not start. */
static bool req_launch(struct dw_probe_run *run, struct http_req *r, dw_loop_curl_fn done,
                       struct dw_loop_watch **guard, dw_loop_fd_fn on_guard)
{
    if (dw_loop_add_curl(run->loop, r->easy, done, run) < 0) {
        dw_probe_fail(run, "protocol_error", "%s: curl refused the transfer", r->what);
        return false;
    }
    *guard = dw_loop_timer(run->loop, run->deadline_mono_ms, on_guard, run);
    return true;
}

void dw_probe_http_start(struct dw_probe_run *run)
{
    const struct dw_probe_cfg *c = run->cfg;
    const struct dw_probe_http *h = &c->http;
    struct http_state *st = dw_calloc(1, sizeof *st);
    st->op.abort = http_abort;
    struct http_req *r = &st->req;
    r->url = dw_strdup(c->target);
    r->body = h->body ? dw_strdup(h->body) : NULL;
    r->keep_body = expect_needs_body(&h->expect);
    r->cdn = c->kind == DW_PROBE_CDN;
    r->headers = dw_probe_headers(run, NULL, h->headers, h->nheaders);
    run->state = st;
    if (req_setup(run, r, h->method, h) < 0) {
        dw_probe_fail(run, "protocol_error", "curl_easy_init failed");
        http_free(run);
        return;
    }
    if (!req_launch(run, r, http_done, &st->guard, http_guard))
        http_free(run);
}

/* ---- JSON paths for extraction: $, .key, ['key'], ["key"], [index] ---- */

char *dw_probe_tmpl_render(const struct dw_probe_tmpl *t, char *const *values)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, "");
    for (size_t i = 0; i < t->nsegs; i++) {
        const struct dw_probe_tmpl_seg *s = &t->segs[i];
        const char *text = s->var >= 0 ? values[s->var] : s->text;
        dw_buf_puts(&b, text ? text : "");
    }
    return dw_buf_steal(&b);
}

/* ---- the journey kind ---- */

struct journey_state {
    struct dw_probe_op op;
    CURLSH *share; /* the cookie store every step uses */
    struct http_req req;
    struct dw_loop_watch *guard;
    size_t step, passed;
    char **values; /* one per journey variable */
    double total_s;
    struct dw_probe_tls tls; /* the earliest expiry over the steps */
};

static void journey_free(struct dw_probe_run *run)
{
    struct journey_state *st = run->state;
    const struct dw_probe_journey *j = &run->cfg->journey;
    dw_loop_unwatch(run->loop, st->guard);
    req_release(&st->req); /* before the share: a handle holds a reference */
    if (st->share)
        curl_share_cleanup(st->share);
    for (size_t i = 0; i < j->vars.n; i++)
        free(st->values[i]);
    free(st->values);
    free(st);
    run->state = NULL;
}

static void journey_abort(struct dw_probe_run *run)
{
    struct journey_state *st = run->state;
    if (st->req.easy)
        dw_loop_remove_curl(run->loop, st->req.easy);
    journey_free(run);
}

static void journey_end(struct dw_probe_run *run)
{
    struct journey_state *st = run->state;
    const struct dw_probe_cfg *c = run->cfg;
    dw_csamples_add(&run->samples, "probe_journey_steps", (double)c->journey.nsteps, NULL);
    dw_csamples_add(&run->samples, "probe_journey_steps_passed", (double)st->passed, NULL);
    if (!run->reason[0])
        dw_probe_tls_report(run, &st->tls, c->http.cert_expiry_min_ms);
    else if (st->tls.earliest_expiry > 0)
        dw_probe_tls_report(run, &st->tls, 0);
    if (!run->reason[0])
        latency_check(run, &c->http, st->total_s, "the journey");
    journey_free(run);
    dw_probe_finish(run);
}

/* The step's own headers (rendered) over the journey's http.headers. */
static struct curl_slist *step_headers(struct dw_probe_run *run, const struct dw_probe_step *s,
                                       char *const *values)
{
    const struct dw_probe_http *h = &run->cfg->http;
    const struct dw_probe_step_plan *p = &s->plan;
    size_t n = 0;
    struct dw_schema_pair *all = dw_calloc(h->nheaders + p->nheaders + 1, sizeof *all);
    for (size_t i = 0; i < h->nheaders; i++) {
        bool replaced = false;
        for (size_t k = 0; k < p->nheaders; k++)
            replaced = replaced || strcasecmp(p->headers[k].name, h->headers[i].key) == 0;
        if (!replaced)
            all[n++] = (struct dw_schema_pair){h->headers[i].key, dw_strdup(h->headers[i].value)};
    }
    for (size_t k = 0; k < p->nheaders; k++)
        all[n++] = (struct dw_schema_pair){p->headers[k].name,
                                           dw_probe_tmpl_render(&p->headers[k].value, values)};
    struct curl_slist *list = dw_probe_headers(run, NULL, all, n);
    for (size_t i = 0; i < n; i++)
        free(all[i].value);
    free(all);
    return list;
}

/* The step's URL resolved against the target; NULL after failing the run. */
static char *step_url(struct dw_probe_run *run, const struct dw_probe_step *s, char *const *values)
{
    char *rel = dw_probe_tmpl_render(&s->plan.url, values), *out = NULL;
    CURLU *u = curl_url();
    if (!u)
        dw_oom(0);
    CURLUcode rc = curl_url_set(u, CURLUPART_URL, run->cfg->target, 0);
    if (rc == CURLUE_OK)
        rc = curl_url_set(u, CURLUPART_URL, rel, 0);
    char *full = NULL;
    if (rc == CURLUE_OK)
        rc = curl_url_get(u, CURLUPART_URL, &full, 0);
    if (rc == CURLUE_OK)
        out = dw_strdup(full);
    else
        dw_probe_fail(run, "protocol_error", "step %s: invalid URL \"%s\": %s", s->name, rel,
                      curl_url_strerror(rc));
    curl_free(full);
    curl_url_cleanup(u);
    free(rel);
    return out;
}

static void journey_step_done(void *arg, CURL *easy, CURLcode rc);
static void journey_guard(void *arg, int fd, short revents);

static bool step_needs_body(const struct dw_probe_step *s)
{
    return expect_needs_body(&s->expect) || s->nextract > 0;
}

/* Starts step st->step; false after recording why it could not. */
static bool journey_next(struct dw_probe_run *run)
{
    struct journey_state *st = run->state;
    const struct dw_probe_step *s = &run->cfg->journey.steps[st->step];
    struct http_req *r = &st->req;
    r->url = step_url(run, s, st->values);
    if (!r->url)
        return false;
    r->body = s->plan.has_body ? dw_probe_tmpl_render(&s->plan.body, st->values) : NULL;
    r->keep_body = step_needs_body(s);
    r->headers = step_headers(run, s, st->values);
    if (req_setup(run, r, s->method, &run->cfg->http) < 0) {
        dw_probe_fail(run, "protocol_error", "curl_easy_init failed");
        return false;
    }
    curl_easy_setopt(r->easy, CURLOPT_SHARE, st->share);
    curl_easy_setopt(r->easy, CURLOPT_COOKIEFILE, ""); /* the cookie engine, in memory */
    r->no_pool = true;
    return req_launch(run, r, journey_step_done, &st->guard, journey_guard);
}

/* Runs the step's extractions; false after failing the run. */
static bool step_extract(struct dw_probe_run *run, const struct dw_probe_step *s, json_t **doc)
{
    struct journey_state *st = run->state;
    const struct http_req *r = &st->req;
    for (size_t i = 0; i < s->nextract; i++) {
        const struct dw_probe_extract *x = &s->extract[i];
        char *val = NULL;
        if (x->how.re) {
            regex_match(x->how.re, r->resp.data ? r->resp.data : "", r->resp.len, &val);
        } else {
            json_error_t err;
            if (!*doc)
                *doc = json_loadb(r->resp.data ? r->resp.data : "", r->resp.len,
                                  JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
            val = *doc ? dw_jsonpath_get(x->how.path, *doc) : NULL;
        }
        if (!val) {
            dw_probe_fail(run, "extract_failed", "step %s: %s: %s found nothing", s->name, x->name,
                          x->how.src);
            return false;
        }
        free(st->values[x->var]);
        st->values[x->var] = val;
    }
    return true;
}

static void step_samples(struct dw_probe_run *run, const struct dw_probe_step *s, bool ok)
{
    struct journey_state *st = run->state;
    double took = info_s(st->req.easy, CURLINFO_TOTAL_TIME_T);
    st->total_s += took;
    dw_csamples_add(&run->samples, "probe_journey_step_success", ok, "step", s->name, NULL);
    dw_csamples_add(&run->samples, "probe_journey_step_duration_seconds", took, "step", s->name,
                    NULL);
}

static void journey_step_done(void *arg, CURL *easy, CURLcode rc)
{
    struct dw_probe_run *run = arg;
    struct journey_state *st = run->state;
    const struct dw_probe_step *s = &run->cfg->journey.steps[st->step];
    struct http_req *r = &st->req;
    dw_loop_unwatch(run->loop, st->guard);
    st->guard = NULL;
    if (r->tls_on) {
        dw_probe_tls_collect(easy, &r->tls);
        if (r->tls.earliest_expiry > 0 &&
            (st->tls.earliest_expiry == 0 || r->tls.earliest_expiry < st->tls.earliest_expiry))
            st->tls.earliest_expiry = r->tls.earliest_expiry;
        if (r->tls.version[0])
            memcpy(st->tls.version, r->tls.version, sizeof st->tls.version);
    }
    snprintf(r->what, sizeof r->what, "step %s (%s %s)", s->name, s->method, r->url);
    json_t *doc = NULL;
    bool ok = req_evaluate(run, r, rc, &s->expect, &doc) && step_extract(run, s, &doc);
    json_decref(doc);
    step_samples(run, s, ok);
    req_release(r);
    st->passed += ok;
    if (ok && ++st->step < run->cfg->journey.nsteps && journey_next(run))
        return;
    journey_end(run);
}

static void journey_guard(void *arg, int fd, short revents)
{
    struct dw_probe_run *run = arg;
    struct journey_state *st = run->state;
    const struct dw_probe_step *s = &run->cfg->journey.steps[st->step];
    st->guard = NULL;
    dw_loop_remove_curl(run->loop, st->req.easy);
    dw_probe_fail(run, "timeout", "step %s: no answer before the journey's timeout (%lld ms)",
                  s->name, (long long)run->cfg->timeout_ms);
    dw_csamples_add(&run->samples, "probe_journey_step_success", 0, "step", s->name, NULL);
    journey_end(run);
}

void dw_probe_journey_start(struct dw_probe_run *run)
{
    const struct dw_probe_journey *j = &run->cfg->journey;
    struct journey_state *st = dw_calloc(1, sizeof *st);
    st->op.abort = journey_abort;
    st->values = dw_calloc(j->vars.n ? j->vars.n : 1, sizeof *st->values);
    st->share = curl_share_init();
    run->state = st;
    if (!st->share || curl_share_setopt(st->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE)) {
        dw_probe_fail(run, "protocol_error", "curl_share_init failed");
        journey_free(run);
        return;
    }
    if (!journey_next(run))
        journey_free(run);
}
