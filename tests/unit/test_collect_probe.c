/*
 * Unit tests of the synthetic probes (src/collect/probe*.c): the probes
 * section (a full valid example, defaults, and every validation error with
 * its file:line:col), the helpers (CURLcode -> reason, certificate dates,
 * JSON path extraction, templates), and real runs on a dw_loop against
 * tests/integration/probe_target.py, forked once and shared: every kind's
 * success and every bad-target reason, each within its timeout.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collect/probe.h"
#include "collect/probe_wire.h"
#include "testutil.h"

/* ---- decoding helpers ---- */

static size_t decode(const char *yaml, struct dw_probes_cfg *pc, struct dw_diags *d)
{
    memset(pc, 0, sizeof *pc);
    dw_diags_init(d);
    return dw_schema_decode_string("p.yaml", yaml, strlen(yaml), &dw_probes_schema, pc, NULL, d);
}

/* Asserts a diagnostic at pos ("p.yaml:5:5") whose text contains msg. */
static void expect_err(const char *yaml, const char *pos, const char *msg)
{
    struct dw_probes_cfg pc;
    struct dw_diags d;
    decode(yaml, &pc, &d);
    bool found = false;
    for (size_t i = 0; i < d.n && !found; i++) {
        struct dw_buf line;
        dw_buf_init(&line, 0);
        dw_diag_format(&d.items[i], &line);
        found = dw_str_has_prefix(line.data, pos) && line.data[strlen(pos)] == ':' &&
                strstr(line.data, msg);
        dw_buf_release(&line);
    }
    char *all = diags_text(&d);
    size_t errors = dw_diags_errors(&d);
    dw_probes_cfg_release(&pc);
    dw_diags_release(&d);
    if (!found || errors == 0) {
        fprintf(stderr, "  expected %s: ...%s... in:\n%s", pos, msg, all);
        free(all);
        DW_FAIL_("diagnostic not found");
    }
    free(all);
}

/* ---- the valid example ---- */

static const char example[] =
    "defaults: {interval: 20s, timeout: 5s}\n"
    "checks:\n"
    "  - name: api-health\n"
    "    kind: http\n"
    "    target: https://api.example.com/health\n"
    "    devices: [desktop, mobile]\n"
    "    labels: {plan_check: api-response-time}\n"
    "    http:\n"
    "      method: POST\n"
    "      headers: {X-Probe: \"1\"}\n"
    "      body: '{\"ping\":true}'\n"
    "      valid_status_codes: [200, 3xx]\n"
    "      latency_budget: 500ms\n"
    "      body_contains: [ok]\n"
    "      body_regex: ['\"status\":\\s*\"ok\"']\n"
    "      json: ['$.status == \"ok\"']\n"
    "      max_body: 64KiB\n"
    "      cert_expiry_min: 14d\n"
    "      ip_protocol: ip4\n"
    "  - name: redis\n"
    "    kind: tcp\n"
    "    class: business\n"
    "    interval: plan\n"
    "    timeout: 3s\n"
    "    target: 127.0.0.1:6379\n"
    "    tcp: {send: \"PING\\r\\n\", expect: '^\\+PONG'}\n"
    "  - name: resolver\n"
    "    kind: dns\n"
    "    target: example.com\n"
    "    dns: {server: \"127.0.0.1:5353\", query_type: AAAA, valid_rcodes: [NOERROR, NXDOMAIN],\n"
    "          answer_regex: ['^2001:']}\n"
    "  - name: ws\n"
    "    kind: websocket\n"
    "    class: user_experience\n"
    "    target: wss://rt.example.com/socket?x=1\n"
    "    timeout: 20s\n"
    "    websocket: {ping_count: 2, hold: 10s, ping_interval: 1s, subprotocol: chat}\n"
    "  - name: login\n"
    "    kind: journey\n"
    "    target: https://app.example.com/\n"
    "    devices: [mobile]\n"
    "    http: {tls_insecure: true, headers: {X-Journey: \"yes\"}}\n"
    "    journey:\n"
    "      steps:\n"
    "        - name: page\n"
    "          url: /login\n"
    "          extract: {csrf: 'regex:name=\"csrf\" value=\"([^\"]+)\"'}\n"
    "        - name: login\n"
    "          url: /api/login\n"
    "          headers: {X-CSRF-Token: \"${csrf}\"}\n"
    "          body: '{\"user\":\"${PROBE_TEST_USER:-alice}\"}'\n"
    "          extract: {token: $.token}\n"
    "        - name: me\n"
    "          url: \"/api/me?u=${token}&lit=$${x}\"\n"
    "          headers: {Authorization: \"Bearer ${token}\"}\n"
    "          json: ['$.status == \"ok\"']\n";

TEST(config_example_decodes)
{
    unsetenv("PROBE_TEST_USER");
    struct dw_probes_cfg pc;
    struct dw_diags d;
    size_t errors = decode(example, &pc, &d);
    char *text = diags_text(&d);
    ASSERT_EQ_STR(text, "");
    free(text);
    ASSERT_EQ_UINT(errors, 0);
    ASSERT_EQ_UINT(pc.nchecks, 5);
    ASSERT_EQ_UINT(pc.ndevices, 2); /* built in */

    const struct dw_probe_cfg *h = dw_probes_find(&pc, "api-health");
    ASSERT_NOT_NULL(h);
    ASSERT_EQ_INT(h->kind, DW_PROBE_HTTP);
    ASSERT_EQ_INT(h->cls, DW_CLASS_SYSTEM_HEALTH);
    ASSERT_EQ_INT(h->interval_ms, 20000);
    ASSERT_EQ_INT(h->timeout_ms, 5000);
    ASSERT_EQ_UINT(h->ndevices, 2);
    ASSERT_EQ_STR(h->labels[0].key, "plan_check");
    ASSERT_EQ_STR(h->labels[0].value, "api-response-time");
    ASSERT_EQ_STR(h->http.method, "POST");
    ASSERT_EQ_STR(h->http.body, "{\"ping\":true}");
    ASSERT_EQ_UINT(h->http.expect.nvalid_status, 2);
    ASSERT_EQ_INT(h->http.expect.valid_status[0].lo, 200);
    ASSERT_EQ_INT(h->http.expect.valid_status[1].lo, 300);
    ASSERT_EQ_INT(h->http.expect.valid_status[1].hi, 399);
    ASSERT_EQ_INT(h->http.latency_budget_ms, 500);
    ASSERT_NOT_NULL(h->http.expect.body_regex[0].code);
    ASSERT_NOT_NULL(h->http.expect.json[0].path);
    ASSERT_EQ_UINT(h->http.max_body, 65536);
    ASSERT_EQ_INT(h->http.cert_expiry_min_ms, 14LL * 86400 * 1000);
    ASSERT_EQ_INT(h->http.ip_protocol, DW_PROBE_IP4);
    ASSERT_TRUE(h->http.follow_redirects);
    ASSERT_EQ_INT(h->http.max_redirects, 10);

    const struct dw_probe_cfg *t = dw_probes_find(&pc, "redis");
    ASSERT_EQ_INT(t->kind, DW_PROBE_TCP);
    ASSERT_EQ_INT(t->cls, DW_CLASS_BUSINESS);
    ASSERT_EQ_INT(t->interval_ms, 0); /* plan */
    ASSERT_EQ_INT(t->timeout_ms, 3000);
    ASSERT_EQ_STR(t->tcp.send, "PING\r\n");
    ASSERT_EQ_STR(t->tcp.expect.src, "^\\+PONG");

    const struct dw_probe_cfg *n = dw_probes_find(&pc, "resolver");
    ASSERT_EQ_INT(n->dns.query_type, 28);
    ASSERT_EQ_UINT(n->dns.nvalid_rcodes, 2);
    ASSERT_EQ_INT(n->dns.valid_rcodes[1], 3);
    ASSERT_EQ_STR(n->dns.server, "127.0.0.1:5353");

    const struct dw_probe_cfg *w = dw_probes_find(&pc, "ws");
    ASSERT_EQ_INT(w->cls, DW_CLASS_USER_EXPERIENCE);
    ASSERT_EQ_INT(w->websocket.hold_ms, 10000);
    ASSERT_EQ_INT(w->websocket.ping_count, 2);
    ASSERT_EQ_STR(w->websocket.subprotocol, "chat");

    const struct dw_probe_cfg *j = dw_probes_find(&pc, "login");
    const struct dw_probe_journey *jj = &j->journey;
    ASSERT_EQ_UINT(jj->nsteps, 3);
    ASSERT_EQ_UINT(jj->vars.n, 2);
    ASSERT_EQ_STR(jj->vars.names[0], "csrf");
    ASSERT_EQ_STR(jj->steps[0].method, "GET");
    ASSERT_EQ_STR(jj->steps[1].method, "POST"); /* it has a body */
    ASSERT_EQ_INT(jj->steps[1].extract[0].var, 1);
    char *vals[] = {"C1", "T1"};
    char *s = dw_probe_tmpl_render(&jj->steps[1].plan.body, vals);
    ASSERT_EQ_STR(s, "{\"user\":\"alice\"}");
    free(s);
    ASSERT_EQ_STR(jj->steps[1].plan.headers[0].name, "X-CSRF-Token");
    s = dw_probe_tmpl_render(&jj->steps[1].plan.headers[0].value, vals);
    ASSERT_EQ_STR(s, "C1");
    free(s);
    s = dw_probe_tmpl_render(&jj->steps[2].plan.url, vals);
    ASSERT_EQ_STR(s, "/api/me?u=T1&lit=${x}");
    free(s);
    ASSERT_TRUE(j->http.tls_insecure);

    ASSERT_EQ_STR(dw_probe_device_name(dw_probes_device(&pc, "mobile")), "mobile");
    ASSERT_EQ_STR(dw_probes_device(&pc, "mobile")->headers[0].key, "Sec-CH-UA-Mobile");
    ASSERT_NULL(dw_probes_device(&pc, "tablet"));
    dw_probes_cfg_release(&pc);
    dw_diags_release(&d);
    ASSERT_NULL(pc.checks);
}

TEST(config_defaults_and_declared_devices)
{
    struct dw_probes_cfg pc;
    struct dw_diags d;
    size_t errors =
        decode("devices:\n"
               "  tablet: {user_agent: \"Tablet/1\", headers: {Viewport-Width: \"800\"}}\n"
               "checks:\n"
               "  - {name: a, kind: http, target: \"http://x/\", devices: [tablet]}\n",
               &pc, &d);
    ASSERT_EQ_UINT(errors, 0);
    ASSERT_EQ_INT(pc.checks[0].interval_ms, 30000);
    ASSERT_EQ_INT(pc.checks[0].timeout_ms, 10000);
    ASSERT_EQ_UINT(pc.ndevices, 1);
    ASSERT_EQ_STR(dw_probes_device(&pc, "tablet")->user_agent, "Tablet/1");
    ASSERT_NULL(dw_probes_device(&pc, "mobile")); /* declared devices replace the built-ins */
    ASSERT_EQ_UINT(pc.checks[0].http.expect.nvalid_status, 0);
    ASSERT_EQ_UINT(pc.checks[0].http.max_body, 1u << 20);
    /* dw_schema_free frees everything too (the compiled parts included). */
    dw_schema_free(&dw_probes_schema, &pc);
    dw_diags_release(&d);

    /* An absent section: nothing to run, the built-in devices still answer. */
    errors = decode("{}\n", &pc, &d);
    ASSERT_EQ_UINT(errors, 0);
    ASSERT_EQ_UINT(pc.nchecks, 0);
    ASSERT_NOT_NULL(dw_probes_device(&pc, "desktop"));
    dw_probes_cfg_release(&pc);
    dw_diags_release(&d);
    struct dw_probes_cfg empty = {0};
    ASSERT_NOT_NULL(dw_probes_device(&empty, "mobile"));
}

#define C1 "checks:\n  - name: a\n"

TEST(config_errors_common)
{
    expect_err(C1 "    kind: http\n    target: http://x/\n    bogus: 1\n", "p.yaml:5:5",
               "unknown key");
    expect_err(C1 "    kind: http\n    target: http://x/\n    http: {methd: GET}\n", "p.yaml:5:12",
               "did you mean \"method\"");
    expect_err(C1 "    kind: htp\n    target: http://x/\n", "p.yaml:3:11", "expected one of http");
    expect_err(C1 "    kind: http\n    class: vip\n    target: http://x/\n", "p.yaml:4:12",
               "system_health");
    expect_err(C1 "    kind: http\n    interval: soon\n    target: http://x/\n", "p.yaml:4:15",
               "a duration like 30s or plan");
    expect_err(C1 "    kind: http\n    interval: 10s\n    timeout: 20s\n    target: http://x/\n",
               "p.yaml:5:14", "timeout 20s is longer than the interval 10s");
    expect_err("defaults: {timeout: 1m}\nchecks:\n  - {name: a, kind: http, target: \"http://x/\","
               " interval: 30s}\n",
               "p.yaml:3:58", "timeout 1m is longer than the interval 30s");
    expect_err("checks:\n  - name: API\n    kind: http\n    target: http://x/\n", "p.yaml:2:11",
               "lower-case letters");
    expect_err(C1 "    kind: http\n    target: http://x/\n  - name: a\n    kind: http\n"
                  "    target: http://y/\n",
               "p.yaml:5:11", "duplicate probe id \"a\"");
    expect_err(C1 "    kind: http\n", "p.yaml:2:5", "target: missing required key");
    expect_err(C1 "    kind: http\n    target: http://x/\n    labels: {job: x}\n", "p.yaml:5:19",
               "label job is set by dojowatch");
    expect_err(C1 "    kind: http\n    target: http://x/\n    labels: {\"bad-name\": x}\n",
               "p.yaml:5:26", "invalid label name");
    expect_err(C1 "    kind: http\n    target: http://x/\n    devices: [tablet]\n", "p.yaml:5:15",
               "undefined device \"tablet\"");
}

TEST(config_errors_kind_blocks_and_targets)
{
    expect_err(C1 "    kind: tcp\n    target: x:1\n    http: {method: GET}\n", "p.yaml:5:12",
               "an http block is for kind http, cdn or journey, not tcp");
    expect_err(C1 "    kind: http\n    target: http://x/\n    tcp: {tls: true}\n", "p.yaml:5:11",
               "a tcp block is for kind tcp");
    expect_err(C1 "    kind: http\n    target: http://x/\n    dns: {query_type: A}\n",
               "p.yaml:5:11", "a dns block is for kind dns");
    expect_err(C1 "    kind: tcp\n    target: x:1\n    websocket: {ping_count: 1}\n", "p.yaml:5:17",
               "a websocket block is for kind websocket");
    expect_err(C1 "    kind: tcp\n    target: x:1\n    devices: [mobile]\n", "p.yaml:5:15",
               "devices are for kind http, cdn or journey");
    expect_err(C1 "    kind: journey\n    target: http://x/\n", "p.yaml:3:11",
               "a journey needs a journey block");
    expect_err(C1 "    kind: http\n    target: ftp://x/\n", "p.yaml:4:13",
               "expected an http(s) URL");
    expect_err(C1 "    kind: http\n    target: \"http://[x/\"\n", "p.yaml:4:14", "invalid URL");
    expect_err(C1 "    kind: tcp\n    target: localhost\n", "p.yaml:4:13", "expected host:port");
    expect_err(C1 "    kind: tcp\n    target: localhost:99999\n", "p.yaml:4:13",
               "expected host:port");
    expect_err(C1 "    kind: websocket\n    target: http://x/\n", "p.yaml:4:13",
               "expected a ws:// or wss:// URL");
    expect_err(C1 "    kind: dns\n    target: \"bad..name\"\n", "p.yaml:4:14",
               "not a valid DNS name");
    expect_err(C1 "    kind: dns\n    target: example.com\n    dns: {server: dns.google}\n",
               "p.yaml:5:19", "expected a numeric address");
    expect_err(C1
               "    kind: dns\n    target: example.com\n    dns: {valid_rcodes: [NOERROR, NOPE]}\n",
               "p.yaml:5:35", "expected an rcode");
    expect_err(C1 "    kind: dns\n    target: example.com\n    dns: {query_type: ZZZ}\n",
               "p.yaml:5:23", "expected a DNS type");
    expect_err(C1 "    kind: dns\n    target: example.com\n    dns: {protocol: tcp}\n",
               "p.yaml:5:21", "expected one of udp");
    expect_err(C1 "    kind: websocket\n    target: ws://x/\n    timeout: 5s\n"
                  "    websocket: {hold: 5s}\n",
               "p.yaml:6:23", "hold must be shorter than the timeout");
}

TEST(config_errors_assertions)
{
    expect_err(C1
               "    kind: http\n    target: http://x/\n    http:\n      body_regex: [ok, 'a(']\n",
               "p.yaml:6:25", "invalid regular expression at offset 2");
    expect_err(C1 "    kind: http\n    target: http://x/\n    http:\n      body_not_regex:\n"
                  "        - '[z-a]'\n",
               "p.yaml:7:12", "invalid regular expression");
    expect_err(C1 "    kind: http\n    target: http://x/\n    http:\n      json: ['status == 1']\n",
               "p.yaml:6:15", "invalid JSON path assertion");
    expect_err(C1
               "    kind: http\n    target: http://x/\n    http:\n      valid_status_codes: [20]\n",
               "p.yaml:6:28", "a status code like 200 or 2xx");
    expect_err(
        C1 "    kind: http\n    target: http://x/\n    http:\n      valid_status_codes: [6xx]\n",
        "p.yaml:6:28", "a status code like 200 or 2xx");
    expect_err(C1 "    kind: tcp\n    target: x:1\n    tcp: {expect: '(('}\n", "p.yaml:5:20",
               "invalid regular expression");
    expect_err(C1 "    kind: dns\n    target: example.com\n    dns: {answer_regex: ['+']}\n",
               "p.yaml:5:27", "invalid regular expression");
    expect_err(C1 "    kind: http\n    target: http://x/\n    http: {ip_protocol: ip5}\n",
               "p.yaml:5:25", "expected one of any, ip4, ip6");
    expect_err(C1 "    kind: http\n    target: http://x/\n    http: {max_body: lots}\n",
               "p.yaml:5:22", "a byte size");
}

#define J1 C1 "    kind: journey\n    target: http://x/\n    journey:\n      steps:\n"

TEST(config_errors_journey)
{
    expect_err(J1 "        - {name: s, url: /a, extract: {t: 'regex:abc'}}\n", "p.yaml:7:44",
               "needs a capture group");
    expect_err(J1 "        - {name: s, url: /a, extract: {t: 'nope'}}\n", "p.yaml:7:44",
               "a JSON path like $.token or regex:<pattern>");
    expect_err(J1 "        - {name: s, url: /a, extract: {t: '$.a[x]'}}\n", "p.yaml:7:44",
               "invalid JSON path");
    expect_err(J1 "        - {name: s1, url: \"/a?t=${tok}\"}\n"
                  "        - {name: s2, url: /b, extract: {tok: $.t}}\n",
               "p.yaml:7:28", "${tok} is extracted by this or a later step");
    expect_err(J1 "        - {name: s1, url: /a, headers: {X: \"${tok}\"}, extract: {tok: $.t}}\n",
               "p.yaml:7:41", "${tok} is extracted by this or a later step");
    expect_err(J1 "        - {name: s1, url: /a}\n        - {name: s1, url: /b}\n", "p.yaml:8:18",
               "duplicate step name \"s1\"");
    expect_err(J1 "        - {name: s1, url: {a: 1}}\n", "p.yaml:7:28",
               "expected a string, got a mapping");
    expect_err(J1 "        - {name: s1, url: /a, headers: [x]}\n", "p.yaml:7:41",
               "expected a mapping of header: value");
    expect_err(J1 "        - {name: s1, url: \"/a${\"}\n", "p.yaml:7:28", "unterminated ${");
    expect_err(J1 "        - {name: s1, url: \"/a${1x}\"}\n", "p.yaml:7:28",
               "bad variable reference");
    expect_err(J1 "        - {name: s1}\n", "p.yaml:7:12", "url: missing required key");
    expect_err(J1 "        - {name: s1, url: \"http://[bad/\"}\n", "p.yaml:7:28", "invalid URL");
    expect_err(J1 "        - {name: s1, url: /a, extract: {\"9x\": $.t}}\n", "p.yaml:7:47",
               "variable names are letters, digits and _");
    expect_err(C1
               "    kind: journey\n    target: http://x/\n    http: {valid_status_codes: [200]}\n"
               "    journey: {steps: [{name: s, url: /}]}\n",
               "p.yaml:5:33", "in a journey, set this on each step");
    expect_err(C1 "    kind: journey\n    target: http://x/\n    journey: {steps: []}\n"
                  "    (compiled): 1\n",
               "p.yaml:6:5", "unknown key");
    /* An unset environment variable is a warning, not an error. */
    struct dw_probes_cfg pc;
    struct dw_diags d;
    unsetenv("PROBE_TEST_UNSET");
    size_t errors = decode(J1 "        - {name: s1, url: \"/a?x=${PROBE_TEST_UNSET}\"}\n", &pc, &d);
    ASSERT_EQ_UINT(errors, 0);
    ASSERT_EQ_UINT(d.warnings, 1);
    char *text = diags_text(&d);
    ASSERT_CONTAINS(text,
                    "p.yaml:7:28: checks[0].journey.steps[0].url: warning: ${PROBE_TEST_UNSET}");
    free(text);
    dw_probes_cfg_release(&pc);
    dw_diags_release(&d);
}

/* ---- helpers ---- */

TEST(reason_mapping)
{
    ASSERT_EQ_STR(dw_probe_curl_reason(CURLE_OPERATION_TIMEDOUT, 0), "timeout");
    ASSERT_EQ_STR(dw_probe_curl_reason(CURLE_COULDNT_RESOLVE_HOST, 0), "dns_failure");
    ASSERT_EQ_STR(dw_probe_curl_reason(CURLE_COULDNT_CONNECT, ECONNREFUSED), "connection_refused");
    ASSERT_EQ_STR(dw_probe_curl_reason(CURLE_COULDNT_CONNECT, EHOSTUNREACH), "connection_failed");
    ASSERT_EQ_STR(dw_probe_curl_reason(CURLE_PEER_FAILED_VERIFICATION, 0), "tls_error");
    ASSERT_EQ_STR(dw_probe_curl_reason(CURLE_SSL_CONNECT_ERROR, 0), "tls_error");
    ASSERT_EQ_STR(dw_probe_curl_reason(CURLE_TOO_MANY_REDIRECTS, 0), "redirect_loop");
    ASSERT_EQ_STR(dw_probe_curl_reason(CURLE_FILESIZE_EXCEEDED, 0), "body_too_large");
    ASSERT_EQ_STR(dw_probe_curl_reason(CURLE_RECV_ERROR, 0), "connection_failed");
    ASSERT_EQ_STR(dw_probe_curl_reason(CURLE_GOT_NOTHING, 0), "connection_failed");
    ASSERT_EQ_STR(dw_probe_curl_reason(CURLE_WEIRD_SERVER_REPLY, 0), "protocol_error");
    ASSERT_EQ_STR(dw_probe_curl_reason(CURLE_UNSUPPORTED_PROTOCOL, 0), "protocol_error");
    ASSERT_EQ_STR(dw_probe_curl_reason(CURLE_OK, 0), "");
    ASSERT_EQ_STR(dw_probe_kind_name(DW_PROBE_WEBSOCKET), "websocket");
    ASSERT_EQ_STR(dw_probe_kind_name(99), "unknown");
}

TEST(cert_dates_and_tls_labels)
{
    ASSERT_NEAR(dw_probe_parse_cert_time("Dec 17 03:47:35 2026 GMT"), 1797479255, 0);
    ASSERT_NEAR(dw_probe_parse_cert_time(" Jan  1 00:00:00 2030 GMT"), 1893456000, 0);
    ASSERT_NEAR(dw_probe_parse_cert_time("2030-01-01 00:00:00 GMT"), 1893456000, 0);
    ASSERT_NEAR(dw_probe_parse_cert_time("Foo 1 00:00:00 2030 GMT"), -1, 0);
    ASSERT_NEAR(dw_probe_parse_cert_time("yesterday"), -1, 0);
    char out[24];
    dw_probe_tls_label("TLSv1.3", out, sizeof out);
    ASSERT_EQ_STR(out, "TLS 1.3");
    dw_probe_tls_label("SSLv3", out, sizeof out);
    ASSERT_EQ_STR(out, "SSLv3");
}

static char *jget(const char *path, const char *doc_text)
{
    char msg[128] = "";
    struct dw_jsonpath *p = dw_jsonpath_compile(path, msg, sizeof msg);
    if (!p)
        DW_FAIL_("%s: %s", path, msg);
    json_t *doc = json_loads(doc_text, JSON_DECODE_ANY, NULL);
    char *v = dw_jsonpath_get(p, doc);
    json_decref(doc);
    dw_jsonpath_free(&p);
    return v;
}

TEST(json_path_extraction)
{
    const char *doc = "{\"token\":\"abc\",\"n\":42,\"f\":1.5,\"ok\":true,\"nil\":null,"
                      "\"items\":[{\"id\":7},{\"id\":8}],\"a b\":{\"c\":[1,2]}}";
    char *v;
    ASSERT_EQ_STR(v = jget("$.token", doc), "abc");
    free(v);
    ASSERT_EQ_STR(v = jget("$.n", doc), "42");
    free(v);
    ASSERT_EQ_STR(v = jget("$.f", doc), "1.5");
    free(v);
    ASSERT_EQ_STR(v = jget("$.ok", doc), "true");
    free(v);
    ASSERT_EQ_STR(v = jget("$.items[1].id", doc), "8");
    free(v);
    ASSERT_EQ_STR(v = jget("$[\"a b\"].c", doc), "[1,2]");
    free(v);
    ASSERT_EQ_STR(v = jget("$[\"items\"][0]", doc), "{\"id\":7}");
    free(v);
    ASSERT_NULL(jget("$.nil", doc));
    ASSERT_NULL(jget("$.missing", doc));
    ASSERT_NULL(jget("$.items[5]", doc));
    char msg[128];
    struct dw_jsonpath *p = dw_jsonpath_compile("token", msg, sizeof msg);
    ASSERT_NULL(p);
    ASSERT_CONTAINS(msg, "column 1");
    p = dw_jsonpath_compile("$.a.", msg, sizeof msg);
    ASSERT_NULL(p);
    ASSERT_CONTAINS(msg, "column 5");
    p = dw_jsonpath_compile("$.a[\"x]", msg, sizeof msg);
    ASSERT_NULL(p);
}

/* ---- the target server ---- */

struct target {
    pid_t pid;
    int stdin_fd;
    int http, https, tcp, tcps, dns, refused, silent;
    char cert[512];
    bool tried, up;
};
static struct target T = {.pid = -1, .stdin_fd = -1};

static void target_stop(void)
{
    if (T.pid > 0) {
        kill(T.pid, SIGTERM);
        waitpid(T.pid, NULL, 0);
        T.pid = -1;
    }
    if (T.stdin_fd >= 0)
        close(T.stdin_fd);
    T.stdin_fd = -1;
}

/* tests/integration/probe_target.py next to this file's folder, found from
 * __FILE__ (relative to the build directory when meson compiled it). */
static bool find_script(char *out, size_t cap)
{
    char exe[1024] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0'; /* .../build/src/collect */
    const char *bases[] = {"", exe, ".", NULL};
    char rel[1024];
    snprintf(rel, sizeof rel, "%s", __FILE__);
    slash = strrchr(rel, '/');
    if (slash)
        *slash = '\0';
    for (size_t i = 0; i < DW_ARRAY_LEN(bases) - 1; i++) {
        if (rel[0] == '/' && i > 0)
            break;
        const char *up = i == 1 ? "/../../" : (i == 2 ? "/" : "");
        snprintf(out, cap, "%s%s%s/../integration/probe_target.py", bases[i], up, rel);
        if (access(out, R_OK) == 0)
            return true;
    }
    return false;
}

static bool read_ports(int fd)
{
    char line[2048];
    size_t n = 0;
    int64_t until = dw_mono_ns() / 1000000 + 20000;
    while (n < sizeof line - 1 && (n == 0 || line[n - 1] != '\n')) {
        struct pollfd p = {fd, POLLIN, 0};
        int64_t left = until - dw_mono_ns() / 1000000;
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return false;
        ssize_t got = read(fd, line + n, sizeof line - 1 - n);
        if (got <= 0)
            return false;
        n += (size_t)got;
    }
    line[n] = '\0';
    json_error_t err;
    json_t *o = json_loads(line, 0, &err);
    if (!o)
        return false;
    const char *cert = NULL;
    int ok = json_unpack(o, "{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:s}", "http", &T.http, "https", &T.https,
                         "tcp", &T.tcp, "tcps", &T.tcps, "dns", &T.dns, "refused", &T.refused,
                         "silent", &T.silent, "cert", &cert);
    if (ok == 0)
        dw_strlcpy(T.cert, cert, sizeof T.cert);
    json_decref(o);
    return ok == 0;
}

/* Starts the target once; later calls reuse it. */
static void target_need(void)
{
    if (T.tried) {
        if (!T.up)
            DW_FAIL_("the probe target is not running");
        return;
    }
    T.tried = true;
    char script[1200];
    if (!find_script(script, sizeof script))
        DW_FAIL_("tests/integration/probe_target.py not found from %s", __FILE__);
    int in[2], out[2];
    if (pipe(in) < 0 || pipe(out) < 0)
        DW_FAIL_("pipe: %s", strerror(errno));
    T.pid = fork();
    if (T.pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execlp("python3", "python3", script, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    T.stdin_fd = in[1]; /* the server exits when this closes */
    atexit(target_stop);
    T.up = read_ports(out[0]);
    close(out[0]);
    if (!T.up)
        DW_FAIL_("the probe target did not start (%s)", script);
}

/* ---- running probes ---- */

struct outcome {
    bool success;
    char reason[DW_PROBE_REASON_LEN];
    char detail[DW_PROBE_DETAIL_LEN];
    struct dw_csamples samples;
    double took_s;
    int64_t timeout_ms;
};

static void on_done(struct dw_probe_run *run)
{
    (*(int *)run->sched_arg)++;
}

static void outcome_release(struct outcome *o)
{
    dw_csamples_clear(&o->samples);
}

/* Decodes one check (a flow mapping named t, printf-formatted) and runs it
 * once on a fresh loop, as device (NULL: plain). */
static void probe_as(struct outcome *o, const char *device, const char *fmt, ...) DW_PRINTF(3, 4);
static void probe_as(struct outcome *o, const char *device, const char *fmt, ...)
{
    target_need();
    va_list ap;
    va_start(ap, fmt);
    char *check = dw_vasprintf(fmt, ap);
    va_end(ap);
    char *yaml = dw_asprintf("checks:\n  - %s\n", check);
    free(check);
    struct dw_probes_cfg pc;
    struct dw_diags d;
    if (decode(yaml, &pc, &d) != 0) {
        char *text = diags_text(&d);
        fprintf(stderr, "%s%s", yaml, text);
        DW_FAIL_("the check does not decode");
    }
    free(yaml);
    struct dw_loop *loop = dw_loop_new();
    int done = 0;
    struct dw_probe_run run = {
        .cfg = &pc.checks[0], .loop = loop, .done = on_done, .sched_arg = &done};
    run.device = device ? dw_probes_device(&pc, device) : NULL;
    run.deadline_mono_ms = dw_mono_ms() + run.cfg->timeout_ms;
    int64_t t0 = dw_mono_ns();
    dw_probe_start(&run);
    ASSERT_EQ_INT(done, 0); /* never from inside start */
    while (!done && dw_mono_ms() < run.deadline_mono_ms + 3000)
        dw_loop_run_once(loop, 50);
    ASSERT_EQ_INT(done, 1);
    *o = (struct outcome){.success = run.success,
                          .samples = run.samples,
                          .took_s = (double)(dw_mono_ns() - t0) / 1e9,
                          .timeout_ms = run.cfg->timeout_ms};
    memcpy(o->reason, run.reason, sizeof o->reason);
    memcpy(o->detail, run.detail, sizeof o->detail);
    ASSERT_NULL(run.state);
    ASSERT_TRUE(o->took_s * 1000 <= (double)o->timeout_ms + 100);
    dw_loop_free(&loop);
    dw_probes_cfg_release(&pc);
    dw_diags_release(&d);
}

/* target_need() first: the ports are read while the arguments are evaluated. */
#define probe(o, ...) (target_need(), probe_as(o, NULL, __VA_ARGS__))
#define probe_dev(o, dev, ...) (target_need(), probe_as(o, dev, __VA_ARGS__))

/* A sample's value, NAN when absent; label may be NULL. */
static double sample(const struct outcome *o, const char *name, const char *lname,
                     const char *lvalue)
{
    for (size_t i = 0; i < o->samples.n; i++) {
        const struct dw_csample *s = &o->samples.items[i];
        if (strcmp(s->name, name) != 0)
            continue;
        if (!lname)
            return s->value;
        for (size_t j = 0; j < s->nlabels; j++)
            if (strcmp(s->label_names[j], lname) == 0 && strcmp(s->label_values[j], lvalue) == 0)
                return s->value;
    }
    return NAN;
}

static void expect_fail(struct outcome *o, const char *reason, const char *detail_part)
{
    if (o->success || strcmp(o->reason, reason) != 0 || !strstr(o->detail, detail_part))
        DW_FAIL_("expected %s (...%s...), got %s: %s: %s", reason, detail_part,
                 o->success ? "success" : "failure", o->reason, o->detail);
}

static void expect_ok(struct outcome *o)
{
    if (!o->success)
        DW_FAIL_("expected success, got %s: %s", o->reason, o->detail);
    ASSERT_EQ_STR(o->reason, "");
}

/* ---- http ---- */

TEST(http_success_with_metrics)
{
    struct outcome o;
    probe(&o,
          "{name: t, kind: http, timeout: 3s, target: 'http://127.0.0.1:%d/ok', "
          "http: {json: ['$.status == \"ok\"', '$.items[2] == 3'], body_contains: ['\"ok\"'],"
          " body_regex: ['version\":\\s*\"1\\.']}}",
          T.http);
    expect_ok(&o);
    ASSERT_NEAR(sample(&o, "probe_http_status_code", NULL, NULL), 200, 0);
    ASSERT_TRUE(sample(&o, "probe_http_content_length", NULL, NULL) > 10);
    ASSERT_TRUE(sample(&o, "probe_http_uncompressed_body_length", NULL, NULL) > 10);
    ASSERT_NEAR(sample(&o, "probe_http_redirects", NULL, NULL), 0, 0);
    ASSERT_NEAR(sample(&o, "probe_http_ssl", NULL, NULL), 0, 0);
    ASSERT_NEAR(sample(&o, "probe_http_version", NULL, NULL), 1.1, 1e-9);
    ASSERT_NEAR(sample(&o, "probe_failed_due_to_regex", NULL, NULL), 0, 0);
    ASSERT_NEAR(sample(&o, "probe_ip_protocol", NULL, NULL), 4, 0);
    const char *phases[] = {"resolve", "connect", "tls", "processing", "transfer"};
    for (size_t i = 0; i < DW_ARRAY_LEN(phases); i++)
        ASSERT_TRUE(sample(&o, "probe_http_duration_seconds", "phase", phases[i]) >= 0);
    ASSERT_TRUE(sample(&o, "probe_http_duration_seconds", "phase", "connect") > 0);
    ASSERT_TRUE(isnan(sample(&o, "probe_http_latency_budget_exceeded", NULL, NULL)));
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: http, target: 'http://127.0.0.1:%d/redirect/3', "
          "http: {method: HEAD}}",
          T.http);
    expect_ok(&o);
    ASSERT_NEAR(sample(&o, "probe_http_redirects", NULL, NULL), 3, 0);
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: http, target: 'http://127.0.0.1:%d/status/503', "
          "http: {valid_status_codes: [503]}}",
          T.http);
    expect_ok(&o);
    outcome_release(&o);
}

TEST(http_assertion_failures)
{
    struct outcome o;
    probe(&o, "{name: t, kind: http, target: 'http://127.0.0.1:%d/status/503'}", T.http);
    expect_fail(&o, "status_code", "status 503, expected 2xx");
    ASSERT_NEAR(sample(&o, "probe_http_status_code", NULL, NULL), 503, 0);
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: http, target: 'http://127.0.0.1:%d/degraded', "
          "http: {json: ['$.status == \"ok\"']}}",
          T.http);
    expect_fail(&o, "json_assertion", "$.status == \"ok\" failed");
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: http, target: 'http://127.0.0.1:%d/text', "
          "http: {json: ['$.status == \"ok\"']}}",
          T.http);
    expect_fail(&o, "json_assertion", "body is not JSON");
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: http, target: 'http://127.0.0.1:%d/text', "
          "http: {body_contains: [goodbye]}}",
          T.http);
    expect_fail(&o, "body_contains", "body lacks \"goodbye\"");
    ASSERT_NEAR(sample(&o, "probe_failed_due_to_regex", NULL, NULL), 1, 0);
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: http, target: 'http://127.0.0.1:%d/text', "
          "http: {body_not_contains: [hello]}}",
          T.http);
    expect_fail(&o, "body_contains", "body contains \"hello\"");
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: http, target: 'http://127.0.0.1:%d/text', "
          "http: {body_regex: ['^bye']}}",
          T.http);
    expect_fail(&o, "body_regex", "does not match /^bye/");
    ASSERT_NEAR(sample(&o, "probe_failed_due_to_regex", NULL, NULL), 1, 0);
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: http, target: 'http://127.0.0.1:%d/text', "
          "http: {body_not_regex: ['dojo\\w+']}}",
          T.http);
    expect_fail(&o, "body_regex", "body matches /dojo\\w+/");
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: http, target: 'http://127.0.0.1:%d/delay/300', "
          "http: {latency_budget: 100ms}}",
          T.http);
    expect_fail(&o, "latency_budget", "over the budget of 100 ms");
    ASSERT_NEAR(sample(&o, "probe_http_latency_budget_exceeded", NULL, NULL), 1, 0);
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: http, target: 'http://127.0.0.1:%d/ok', "
          "http: {latency_budget: 5s}}",
          T.http);
    expect_ok(&o);
    ASSERT_NEAR(sample(&o, "probe_http_latency_budget_exceeded", NULL, NULL), 0, 0);
    outcome_release(&o);
}

TEST(http_bad_targets_fail_in_bounded_time)
{
    struct outcome o;
    probe(&o, "{name: t, kind: http, timeout: 1s, target: 'http://127.0.0.1:%d/slow'}", T.http);
    expect_fail(&o, "timeout", "");
    ASSERT_TRUE(o.took_s >= 0.9 && o.took_s <= 1.1);
    outcome_release(&o);

    probe(&o, "{name: t, kind: http, timeout: 800ms, target: 'http://127.0.0.1:%d/'}", T.silent);
    expect_fail(&o, "timeout", "");
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: http, target: 'http://127.0.0.1:%d/huge', "
          "http: {max_body: 64KiB}}",
          T.http);
    expect_fail(&o, "body_too_large", "larger than max_body (65536 bytes)");
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: http, target: 'http://127.0.0.1:%d/huge-stream', "
          "http: {max_body: 100KiB}}",
          T.http);
    expect_fail(&o, "body_too_large", "larger than max_body");
    ASSERT_TRUE(sample(&o, "probe_http_uncompressed_body_length", NULL, NULL) > 100 * 1024);
    outcome_release(&o);

    probe(&o, "{name: t, kind: http, target: 'http://127.0.0.1:%d/loop/a'}", T.http);
    expect_fail(&o, "redirect_loop", "/loop/a");
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: http, target: 'http://127.0.0.1:%d/redirect/5', "
          "http: {max_redirects: 2}}",
          T.http);
    expect_fail(&o, "redirect_loop", "");
    outcome_release(&o);

    probe(&o, "{name: t, kind: http, target: 'http://127.0.0.1:%d/'}", T.refused);
    expect_fail(&o, "connection_refused", "");
    outcome_release(&o);

    probe(&o, "{name: t, kind: http, target: 'http://no-such-host.invalid/'}");
    expect_fail(&o, "dns_failure", "no-such-host.invalid");
    outcome_release(&o);

    probe(&o, "{name: t, kind: http, target: 'http://127.0.0.1:%d/garbage'}", T.http);
    expect_fail(&o, "protocol_error", "");
    outcome_release(&o);

    probe(&o, "{name: t, kind: http, target: 'https://127.0.0.1:%d/ok'}", T.https);
    expect_fail(&o, "tls_error", "");
    outcome_release(&o);

    probe(&o, "{name: t, kind: http, target: 'https://127.0.0.1:%d/ok'}", T.http);
    expect_fail(&o, "tls_error", "");
    outcome_release(&o);
}

TEST(https_certificate)
{
    struct outcome o;
    probe(&o,
          "{name: t, kind: http, target: 'https://127.0.0.1:%d/ok', "
          "http: {ca_file: '%s', cert_expiry_min: 14d}}",
          T.https, T.cert);
    expect_ok(&o);
    double expiry = sample(&o, "probe_ssl_earliest_cert_expiry", NULL, NULL);
    double days = (expiry - (double)time(NULL)) / 86400;
    ASSERT_TRUE(days > 19 && days <= 20.01);
    ASSERT_NEAR(sample(&o, "probe_tls_version_info", "version", "TLS 1.3"), 1, 0);
    ASSERT_NEAR(sample(&o, "probe_http_ssl", NULL, NULL), 1, 0);
    ASSERT_TRUE(sample(&o, "probe_http_duration_seconds", "phase", "tls") > 0);
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: http, target: 'https://localhost:%d/ok', "
          "http: {ca_file: '%s', cert_expiry_min: 30d}}",
          T.https, T.cert);
    expect_fail(&o, "cert_expiring", "within 30d");
    ASSERT_TRUE(sample(&o, "probe_ssl_earliest_cert_expiry", NULL, NULL) > 0);
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: http, target: 'https://127.0.0.1:%d/ok', "
          "http: {tls_insecure: true}}",
          T.https);
    expect_ok(&o);
    outcome_release(&o);
}

TEST(devices_and_cdn)
{
    struct outcome o;
    const char *dev = "{name: t, kind: http, target: 'http://127.0.0.1:%d/device', "
                      "devices: [mobile, desktop], http: {json: ['$.device == \"mobile\"', "
                      "'$.viewport == \"412\"']}}";
    probe_dev(&o, "mobile", dev, T.http);
    expect_ok(&o);
    outcome_release(&o);
    probe_dev(&o, "desktop", dev, T.http);
    expect_fail(&o, "json_assertion", "\"desktop\"");
    outcome_release(&o);
    probe(&o,
          "{name: t, kind: http, target: 'http://127.0.0.1:%d/headers', "
          "http: {headers: {X-Extra: hi}, json: ['$.User-Agent =~ \"^dojowatch-probe/\"', "
          "'$.X-Extra == \"hi\"']}}",
          T.http);
    expect_ok(&o);
    outcome_release(&o);

    struct {
        const char *variant;
        double hit;
        const char *edge;
    } cases[] = {{"cs-hit", 1, "edge-fra1"}, {"cs-miss", 0, "edge-fra1"}, {"cf-hit", 1, NULL},
                 {"cf-miss", 0, NULL},       {"xcache-hit", 1, NULL},     {"xcache-miss", 0, NULL},
                 {"age", 1, "varnish"},      {"none", NAN, NULL}};
    for (size_t i = 0; i < DW_ARRAY_LEN(cases); i++) {
        probe(&o, "{name: t, kind: cdn, target: 'http://127.0.0.1:%d/cdn/%s'}", T.http,
              cases[i].variant);
        expect_ok(&o);
        double hit = sample(&o, "probe_cdn_cache_hit", NULL, NULL);
        if (isnan(cases[i].hit) ? !isnan(hit) : hit != cases[i].hit)
            DW_FAIL_("%s: cache_hit %g", cases[i].variant, hit);
        if (cases[i].edge) {
            bool found = false;
            for (size_t k = 0; k < o.samples.n; k++)
                found = found || (strcmp(o.samples.items[k].name, "probe_cdn_edge_info") == 0 &&
                                  strstr(o.samples.items[k].label_values[0], cases[i].edge));
            if (!found)
                DW_FAIL_("%s: no edge %s", cases[i].variant, cases[i].edge);
        }
        ASSERT_NEAR(sample(&o, "probe_http_status_code", NULL, NULL), 200, 0);
        outcome_release(&o);
    }
    probe(&o, "{name: t, kind: cdn, target: 'http://127.0.0.1:%d/cdn/age'}", T.http);
    ASSERT_NEAR(sample(&o, "probe_cdn_age_seconds", NULL, NULL), 120, 0);
    outcome_release(&o);
}

/* ---- journeys ---- */

static const char journey_fmt[] =
    "{name: t, kind: journey, timeout: 5s, target: '%s://127.0.0.1:%d/', "
    "http: {ca_file: '%s'}, journey: {steps: ["
    "{name: page, url: /login, extract: {csrf: 'regex:name=\"csrf\" value=\"([^\"]+)\"'}}, "
    "{name: login, url: /api/login, headers: {X-CSRF-Token: '%s'}, "
    "body: '{\"user\":\"${PROBE_TEST_USER:-alice}\"}', json: ['$.user == \"alice\"'], "
    "extract: {token: $.token}}, "
    "{name: me, url: '/api/me', headers: {Authorization: 'Bearer ${token}'}, "
    "json: ['$.status == \"ok\"', '$.user == \"alice\"']}]}}";

TEST(journey_login_flow)
{
    unsetenv("PROBE_TEST_USER");
    struct outcome o;
    probe(&o, journey_fmt, "http", T.http, T.cert, "${csrf}");
    expect_ok(&o);
    ASSERT_NEAR(sample(&o, "probe_journey_steps", NULL, NULL), 3, 0);
    ASSERT_NEAR(sample(&o, "probe_journey_steps_passed", NULL, NULL), 3, 0);
    ASSERT_NEAR(sample(&o, "probe_journey_step_success", "step", "me"), 1, 0);
    ASSERT_TRUE(sample(&o, "probe_journey_step_duration_seconds", "step", "login") > 0);
    outcome_release(&o);

    probe(&o, journey_fmt, "https", T.https, T.cert, "${csrf}");
    expect_ok(&o);
    ASSERT_TRUE(sample(&o, "probe_ssl_earliest_cert_expiry", NULL, NULL) > 0);
    outcome_release(&o);

    /* A wrong csrf token: the login step fails, the last step never runs. */
    probe(&o, journey_fmt, "http", T.http, T.cert, "wrong");
    expect_fail(&o, "status_code", "step login (POST http://127.0.0.1:");
    ASSERT_NEAR(sample(&o, "probe_journey_steps_passed", NULL, NULL), 1, 0);
    ASSERT_NEAR(sample(&o, "probe_journey_step_success", "step", "login"), 0, 0);
    ASSERT_TRUE(isnan(sample(&o, "probe_journey_step_success", "step", "me")));
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: journey, target: 'http://127.0.0.1:%d/', journey: {steps: ["
          "{name: a, url: /ok, extract: {v: $.nothing}}]}}",
          T.http);
    expect_fail(&o, "extract_failed", "step a: v: $.nothing found nothing");
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: journey, timeout: 1s, target: 'http://127.0.0.1:%d/', "
          "journey: {steps: [{name: a, url: /ok}, {name: b, url: /slow}]}}",
          T.http);
    expect_fail(&o, "timeout", "");
    ASSERT_NEAR(sample(&o, "probe_journey_step_success", "step", "a"), 1, 0);
    ASSERT_NEAR(sample(&o, "probe_journey_step_success", "step", "b"), 0, 0);
    outcome_release(&o);
}

/* ---- tcp ---- */

TEST(tcp_probes)
{
    struct outcome o;
    probe(&o,
          "{name: t, kind: tcp, target: '127.0.0.1:%d', tcp: {send: \"PING\\r\\n\", "
          "expect: '^\\+PONG$'}}",
          T.tcp);
    expect_ok(&o);
    ASSERT_TRUE(sample(&o, "probe_tcp_connect_duration_seconds", NULL, NULL) >= 0);
    ASSERT_NEAR(sample(&o, "probe_failed_due_to_regex", NULL, NULL), 0, 0);
    outcome_release(&o);

    probe(&o, "{name: t, kind: tcp, target: '127.0.0.1:%d'}", T.tcp);
    expect_ok(&o);
    ASSERT_TRUE(isnan(sample(&o, "probe_failed_due_to_regex", NULL, NULL)));
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: tcp, timeout: 1s, target: '127.0.0.1:%d', "
          "tcp: {send: \"HELLO\\r\\n\", expect: '^\\+PONG'}}",
          T.tcp);
    expect_fail(&o, "expect_mismatch", "no match for /^\\+PONG/ in 7 bytes before the timeout");
    ASSERT_NEAR(sample(&o, "probe_failed_due_to_regex", NULL, NULL), 1, 0);
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: tcp, timeout: 2s, target: '127.0.0.1:%d', "
          "tcp: {send: \"QUIT\\r\\n\", expect: 'x'}}",
          T.tcp);
    expect_fail(&o, "expect_mismatch", "before the server closed");
    outcome_release(&o);

    probe(&o, "{name: t, kind: tcp, timeout: 700ms, target: '127.0.0.1:%d', tcp: {expect: 'x'}}",
          T.silent);
    expect_fail(&o, "timeout", "no answer within 700 ms");
    outcome_release(&o);

    probe(&o, "{name: t, kind: tcp, target: '127.0.0.1:%d'}", T.refused);
    expect_fail(&o, "connection_refused", "127.0.0.1");
    outcome_release(&o);

    probe(&o, "{name: t, kind: tcp, target: 'no-such-host.invalid:80'}");
    expect_fail(&o, "dns_failure", "");
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: tcp, target: 'localhost:%d', tcp: {tls: true, ca_file: '%s', "
          "send: \"BANNER\\n\", expect: '^\\+OK dojowatch'}}",
          T.tcps, T.cert);
    expect_ok(&o);
    ASSERT_TRUE(sample(&o, "probe_ssl_earliest_cert_expiry", NULL, NULL) > 0);
    ASSERT_NEAR(sample(&o, "probe_tls_version_info", "version", "TLS 1.3"), 1, 0);
    outcome_release(&o);

    probe(&o, "{name: t, kind: tcp, target: 'localhost:%d', tcp: {tls: true}}", T.tcps);
    expect_fail(&o, "tls_error", "");
    outcome_release(&o);
}

/* ---- websocket ---- */

TEST(websocket_handshake_and_pings)
{
    struct outcome o;
    probe(&o,
          "{name: t, kind: websocket, target: 'ws://127.0.0.1:%d/ws?room=1', "
          "websocket: {ping_count: 3, subprotocol: chat, headers: {X-Token: abc}}}",
          T.http);
    expect_ok(&o);
    ASSERT_NEAR(sample(&o, "probe_websocket_pongs", NULL, NULL), 3, 0);
    ASSERT_TRUE(sample(&o, "probe_websocket_ping_rtt_seconds", NULL, NULL) > 0);
    ASSERT_TRUE(sample(&o, "probe_websocket_handshake_seconds", NULL, NULL) > 0);
    ASSERT_TRUE(isnan(sample(&o, "probe_websocket_drops", NULL, NULL)));
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: websocket, target: 'wss://localhost:%d/ws', "
          "websocket: {ca_file: '%s', ping_count: 1}}",
          T.https, T.cert);
    expect_ok(&o);
    ASSERT_TRUE(sample(&o, "probe_ssl_earliest_cert_expiry", NULL, NULL) > 0);
    outcome_release(&o);

    probe(&o, "{name: t, kind: websocket, timeout: 1s, target: 'ws://127.0.0.1:%d/ws-nopong'}",
          T.http);
    expect_fail(&o, "ws_no_pong", "no pong");
    outcome_release(&o);

    probe(&o, "{name: t, kind: websocket, target: 'ws://127.0.0.1:%d/ws-bad'}", T.http);
    expect_fail(&o, "ws_handshake", "");
    outcome_release(&o);

    probe(&o, "{name: t, kind: websocket, target: 'ws://127.0.0.1:%d/'}", T.refused);
    expect_fail(&o, "connection_refused", "");
    outcome_release(&o);

    probe(&o, "{name: t, kind: websocket, timeout: 700ms, target: 'ws://127.0.0.1:%d/'}", T.silent);
    expect_fail(&o, "timeout", "no handshake answer");
    outcome_release(&o);
}

TEST(websocket_held_connection)
{
    struct outcome o;
    probe(&o,
          "{name: t, kind: websocket, timeout: 3s, target: 'ws://127.0.0.1:%d/ws', "
          "websocket: {hold: 1500ms, ping_interval: 300ms}}",
          T.http);
    expect_ok(&o);
    ASSERT_NEAR(sample(&o, "probe_websocket_drops", NULL, NULL), 0, 0);
    ASSERT_NEAR(sample(&o, "probe_websocket_reconnects", NULL, NULL), 0, 0);
    ASSERT_TRUE(sample(&o, "probe_websocket_connected_ratio", NULL, NULL) > 0.95);
    ASSERT_TRUE(sample(&o, "probe_websocket_pongs", NULL, NULL) >= 4);
    ASSERT_TRUE(o.took_s >= 1.4 && o.took_s < 2.0);
    outcome_release(&o);

    /* The server cuts every connection after 0.4 s; a reconnect follows 1 s later. */
    probe(&o,
          "{name: t, kind: websocket, timeout: 4s, target: 'ws://127.0.0.1:%d/ws-drop?every=0.4', "
          "websocket: {hold: 3s, ping_interval: 100ms}}",
          T.http);
    double drops = sample(&o, "probe_websocket_drops", NULL, NULL);
    double reconnects = sample(&o, "probe_websocket_reconnects", NULL, NULL);
    double ratio = sample(&o, "probe_websocket_connected_ratio", NULL, NULL);
    if (!(drops >= 2 && reconnects >= 1 && ratio > 0.1 && ratio < 0.7))
        DW_FAIL_("drops %g reconnects %g ratio %g (%s %s)", drops, reconnects, ratio, o.reason,
                 o.detail);
    outcome_release(&o);
}

/* ---- dns ---- */

TEST(dns_probes)
{
    struct outcome o;
    probe(&o,
          "{name: t, kind: dns, target: ok.test, dns: {server: '127.0.0.1:%d', "
          "answer_regex: ['^192\\.0\\.2\\.10$']}}",
          T.dns);
    expect_ok(&o);
    ASSERT_NEAR(sample(&o, "probe_dns_answer_rrs", NULL, NULL), 1, 0);
    ASSERT_NEAR(sample(&o, "probe_dns_authority_rrs", NULL, NULL), 0, 0);
    ASSERT_NEAR(sample(&o, "probe_dns_query_succeeded", NULL, NULL), 1, 0);
    ASSERT_TRUE(sample(&o, "probe_dns_lookup_time_seconds", NULL, NULL) > 0);
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: dns, target: ok.test, dns: {server: '127.0.0.1:%d', "
          "query_type: AAAA, answer_regex: ['^2001:db8::10$']}}",
          T.dns);
    expect_ok(&o);
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: dns, target: two.test, dns: {server: '127.0.0.1:%d', "
          "answer_regex: ['\\.2$']}}",
          T.dns);
    expect_ok(&o);
    ASSERT_NEAR(sample(&o, "probe_dns_answer_rrs", NULL, NULL), 2, 0);
    outcome_release(&o);

    probe(&o, "{name: t, kind: dns, target: nx.test, dns: {server: '127.0.0.1:%d'}}", T.dns);
    expect_fail(&o, "dns_rcode", "rcode NXDOMAIN, expected NOERROR");
    ASSERT_NEAR(sample(&o, "probe_dns_query_succeeded", NULL, NULL), 1, 0);
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: dns, target: nx.test, dns: {server: '127.0.0.1:%d', "
          "valid_rcodes: [NXDOMAIN]}}",
          T.dns);
    expect_ok(&o);
    outcome_release(&o);

    probe(&o, "{name: t, kind: dns, target: fail.test, dns: {server: '127.0.0.1:%d'}}", T.dns);
    expect_fail(&o, "dns_rcode", "SERVFAIL");
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: dns, target: ok.test, dns: {server: '127.0.0.1:%d', "
          "answer_regex: ['^10\\.']}}",
          T.dns);
    expect_fail(&o, "dns_answer", "no answer matches /^10\\./");
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: dns, timeout: 900ms, target: drop.test, "
          "dns: {server: '127.0.0.1:%d'}}",
          T.dns);
    expect_fail(&o, "timeout", "after 3 tries");
    ASSERT_NEAR(sample(&o, "probe_dns_query_succeeded", NULL, NULL), 0, 0);
    ASSERT_TRUE(o.took_s >= 0.85);
    outcome_release(&o);

    probe(&o,
          "{name: t, kind: dns, timeout: 1500ms, target: retry.test, "
          "dns: {server: '127.0.0.1:%d'}}",
          T.dns);
    expect_ok(&o);
    ASSERT_TRUE(o.took_s >= 0.45); /* the first try went unanswered */
    outcome_release(&o);

    probe(&o, "{name: t, kind: dns, target: ok.test, dns: {server: '127.0.0.1:%d'}}", T.refused);
    expect_fail(&o, "connection_refused", "");
    outcome_release(&o);
}

/* ---- abort and many at once ---- */

static void count_done(struct dw_probe_run *run)
{
    (*(int *)run->sched_arg)++;
}

TEST(abort_cancels_without_done)
{
    target_need();
    char *yaml = dw_asprintf(
        "checks:\n"
        "  - {name: h, kind: http, target: 'http://127.0.0.1:%d/slow'}\n"
        "  - {name: j, kind: journey, target: 'http://127.0.0.1:%d/', "
        "journey: {steps: [{name: s, url: /slow}]}}\n"
        "  - {name: t, kind: tcp, target: '127.0.0.1:%d', tcp: {expect: x}}\n"
        "  - {name: w, kind: websocket, target: 'ws://127.0.0.1:%d/ws', websocket: {hold: 5s}}\n"
        "  - {name: d, kind: dns, target: drop.test, dns: {server: '127.0.0.1:%d'}}\n",
        T.http, T.http, T.silent, T.http, T.dns);
    struct dw_probes_cfg pc;
    struct dw_diags d;
    ASSERT_EQ_UINT(decode(yaml, &pc, &d), 0);
    free(yaml);
    struct dw_loop *loop = dw_loop_new();
    int done = 0;
    struct dw_probe_run runs[5];
    for (size_t i = 0; i < 5; i++) {
        runs[i] = (struct dw_probe_run){.cfg = &pc.checks[i],
                                        .loop = loop,
                                        .done = count_done,
                                        .sched_arg = &done,
                                        .deadline_mono_ms = dw_mono_ms() + 10000};
        dw_probe_start(&runs[i]);
    }
    int64_t until = dw_mono_ms() + 400;
    while (dw_mono_ms() < until)
        dw_loop_run_once(loop, 50);
    for (size_t i = 0; i < 5; i++) {
        dw_probe_abort(&runs[i]);
        ASSERT_NULL(runs[i].state);
        dw_csamples_clear(&runs[i].samples);
    }
    dw_loop_run_once(loop, 10);
    ASSERT_EQ_INT(done, 0);
    dw_loop_free(&loop);
    dw_probes_cfg_release(&pc);
    dw_diags_release(&d);
}

/* Many slow and silent targets at once do not hold up a healthy probe. */
TEST(failing_targets_do_not_starve_healthy_ones)
{
    target_need();
    char *yaml = dw_asprintf(
        "checks:\n"
        "  - {name: slow, kind: http, timeout: 3s, target: 'http://127.0.0.1:%d/slow'}\n"
        "  - {name: silent, kind: http, timeout: 3s, target: 'http://127.0.0.1:%d/'}\n"
        "  - {name: refused, kind: tcp, timeout: 3s, target: '127.0.0.1:%d'}\n"
        "  - {name: ok, kind: http, timeout: 3s, target: 'http://127.0.0.1:%d/ok'}\n",
        T.http, T.silent, T.refused, T.http);
    struct dw_probes_cfg pc;
    struct dw_diags d;
    ASSERT_EQ_UINT(decode(yaml, &pc, &d), 0);
    free(yaml);
    enum { BAD = 150 };
    struct dw_loop *loop = dw_loop_new();
    int bad_done = 0, ok_done = 0;
    struct dw_probe_run *bad = dw_calloc(BAD, sizeof *bad);
    for (size_t i = 0; i < BAD; i++) {
        bad[i] = (struct dw_probe_run){.cfg = &pc.checks[i % 3],
                                       .loop = loop,
                                       .done = count_done,
                                       .sched_arg = &bad_done,
                                       .deadline_mono_ms = dw_mono_ms() + 3000};
        dw_probe_start(&bad[i]);
    }
    struct dw_probe_run ok = {.cfg = &pc.checks[3],
                              .loop = loop,
                              .done = count_done,
                              .sched_arg = &ok_done,
                              .deadline_mono_ms = dw_mono_ms() + 3000};
    int64_t t0 = dw_mono_ms();
    dw_probe_start(&ok);
    while (!ok_done && dw_mono_ms() < t0 + 3000)
        dw_loop_run_once(loop, 50);
    int64_t took = dw_mono_ms() - t0;
    ASSERT_TRUE(ok.success);
    if (took > 1000)
        DW_FAIL_("the healthy probe took %lld ms among %d failing ones", (long long)took, BAD);
    while (bad_done < BAD && dw_mono_ms() < t0 + 5000)
        dw_loop_run_once(loop, 50);
    ASSERT_EQ_INT(bad_done, BAD);
    for (size_t i = 0; i < BAD; i++) {
        ASSERT_FALSE(bad[i].success);
        dw_csamples_clear(&bad[i].samples);
    }
    dw_csamples_clear(&ok.samples);
    free(bad);
    dw_loop_free(&loop);
    dw_probes_cfg_release(&pc);
    dw_diags_release(&d);
}

TEST_MAIN()
