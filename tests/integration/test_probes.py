"""Integration tests of `dojowatch probe`: every probe kind against the local
targets of probe_target.py (HTTP, HTTPS, CDN headers, a login journey, TCP,
WebSocket, DNS), success and every bad-target reason, each in bounded time;
usage and configuration errors with file:line:col."""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from dwtest import ROOT, cli, run, test

HERE = os.path.dirname(os.path.abspath(__file__))
MINIMAL = os.path.join(ROOT, "tests", "configs", "good", "minimal.yaml")
SLACK_S = 2.0  # process start and sanitizers on top of a probe's timeout


class Target:
    """probe_target.py in a child process; the ports it printed."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "probe_target.py")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("probe_target.py did not start")
        self.ports = json.loads(line)

    def __getitem__(self, key):
        return self.ports[key]

    def stop(self):
        self.proc.stdin.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)


_target = None
_tmp = tempfile.mkdtemp(prefix="dwit-probes-")
atexit.register(shutil.rmtree, _tmp, True)


def target():
    global _target
    if _target is None:
        _target = Target()
        atexit.register(_target.stop)
    return _target


def config_with(checks):
    """The minimal configuration plus a probes section with these checks (YAML lines)."""
    with open(MINIMAL) as f:
        text = f.read()
    text += "probes:\n  checks:\n" + "".join("    - %s\n" % c for c in checks)
    path = os.path.join(_tmp, "probes-%d.yaml" % time.monotonic_ns())
    with open(path, "w") as f:
        f.write(text)
    return path


def probe(check, *args, name="t"):
    """Runs `dojowatch probe` for one check; returns (status, parsed JSON or None, stderr, seconds)."""
    path = config_with([check])
    t0 = time.monotonic()
    rc, out, err = cli("probe", "-c", path, "-o", "json", *args, name, timeout=60)
    took = time.monotonic() - t0
    assert "AddressSanitizer" not in err and "runtime error" not in err, err
    try:
        doc = json.loads(out) if out.strip() else None
    except ValueError:
        raise AssertionError("not JSON: %r\n%s" % (out, err))
    return rc, doc, err, took


def value(run_doc, name, **labels):
    for s in run_doc["samples"]:
        if s["name"] == name and all(s["labels"].get(k) == v for k, v in labels.items()):
            return s["value"]
    return None


def expect_ok(check, *args):
    rc, doc, err, _ = probe(check, *args)
    assert rc == 0 and doc, (rc, doc, err)
    for r in doc["runs"]:
        assert r["success"] and r["reason"] == "", r
    return doc["runs"][0]


def expect_fail(check, reason, detail="", timeout_s=10.0):
    """A failed run with this reason, finished within the probe's timeout."""
    rc, doc, err, took = probe(check)
    assert rc == 1 and doc, (rc, doc, err)
    r = doc["runs"][0]
    assert not r["success"] and r["reason"] == reason and detail in r["detail"], r
    assert took <= timeout_s + SLACK_S, (reason, took)
    assert r["duration_seconds"] <= timeout_s + 0.2, r
    return r


def url(kind, path):
    return "'%s://127.0.0.1:%d%s'" % (kind, target()[kind], path)


# ---- http ----

@test
def http_success_and_metrics():
    r = expect_ok("{name: t, kind: http, target: %s, http: {json: ['$.status == \"ok\"'], "
                  "body_regex: ['items']}}" % url("http", "/ok"))
    assert value(r, "probe_http_status_code") == 200, r
    for phase in ("resolve", "connect", "tls", "processing", "transfer"):
        assert value(r, "probe_http_duration_seconds", phase=phase) is not None, phase
    assert value(r, "probe_http_version") == 1.1
    assert value(r, "probe_failed_due_to_regex") == 0
    assert value(r, "probe_http_uncompressed_body_length") > 10
    names = {s["name"] for s in r["samples"]}
    assert "probe_success" not in names and "probe_duration_seconds" not in names, names


@test
def http_text_output():
    path = config_with(["{name: t, kind: http, target: %s}" % url("http", "/ok")])
    rc, out, err = cli("probe", "-c", path, "t")
    assert rc == 0, (out, err)
    assert "probe t (http, system_health)" in out, out
    assert "success: yes" in out and "duration: " in out, out
    assert "  probe_http_duration_seconds{phase=\"connect\"} " in out, out
    assert "  probe_http_status_code 200" in out, out


@test
def http_assertion_reasons():
    expect_fail("{name: t, kind: http, target: %s}" % url("http", "/status/500"), "status_code",
                "status 500")
    expect_fail("{name: t, kind: http, target: %s, http: {body_contains: [nope]}}"
                % url("http", "/text"), "body_contains", "lacks \"nope\"")
    r = expect_fail("{name: t, kind: http, target: %s, http: {body_regex: ['^nope']}}"
                    % url("http", "/text"), "body_regex")
    assert value(r, "probe_failed_due_to_regex") == 1, r
    expect_fail("{name: t, kind: http, target: %s, http: {json: ['$.status == \"ok\"']}}"
                % url("http", "/degraded"), "json_assertion", "degraded")
    r = expect_fail("{name: t, kind: http, target: %s, http: {latency_budget: 100ms}}"
                    % url("http", "/delay/400"), "latency_budget", "over the budget")
    assert value(r, "probe_http_latency_budget_exceeded") == 1


@test
def http_bad_targets_in_bounded_time():
    t = target()
    r = expect_fail("{name: t, kind: http, timeout: 1s, target: %s}" % url("http", "/slow"),
                    "timeout", timeout_s=1.0)
    assert r["duration_seconds"] >= 0.9, r
    expect_fail("{name: t, kind: http, timeout: 1s, target: 'http://127.0.0.1:%d/'}" % t["silent"],
                "timeout", timeout_s=1.0)
    expect_fail("{name: t, kind: http, timeout: 1s, target: %s}" % url("http", "/slowhead"),
                "timeout", timeout_s=1.0)
    expect_fail("{name: t, kind: http, target: %s, http: {max_body: 64KiB}}"
                % url("http", "/huge"), "body_too_large", "max_body")
    expect_fail("{name: t, kind: http, target: %s, http: {max_body: 64KiB}}"
                % url("http", "/huge-stream"), "body_too_large", "max_body")
    expect_fail("{name: t, kind: http, target: %s}" % url("http", "/loop/a"), "redirect_loop")
    expect_fail("{name: t, kind: http, target: 'http://127.0.0.1:%d/'}" % t["refused"],
                "connection_refused")
    expect_fail("{name: t, kind: http, target: 'http://nothing-here.invalid/'}", "dns_failure",
                "nothing-here.invalid")
    expect_fail("{name: t, kind: http, target: %s}" % url("https", "/ok"), "tls_error")
    expect_fail("{name: t, kind: http, target: %s}" % url("http", "/garbage"), "protocol_error")


@test
def https_certificate_expiry():
    t = target()
    r = expect_ok("{name: t, kind: http, target: %s, http: {ca_file: '%s', cert_expiry_min: 7d}}"
                  % (url("https", "/ok"), t["cert"]))
    days = (value(r, "probe_ssl_earliest_cert_expiry") - time.time()) / 86400
    assert t["cert_days"] - 1 < days <= t["cert_days"] + 0.01, days
    assert value(r, "probe_tls_version_info", version="TLS 1.3") == 1, r
    assert value(r, "probe_http_ssl") == 1
    expect_fail("{name: t, kind: http, target: %s, http: {ca_file: '%s', cert_expiry_min: 30d}}"
                % (url("https", "/ok"), t["cert"]), "cert_expiring", "within 30d")


@test
def devices_run_once_each():
    check = ("{name: t, kind: http, target: %s, devices: [desktop, mobile], "
             "http: {json: ['$.device == \"mobile\"']}}" % url("http", "/device"))
    rc, doc, err, _ = probe(check)
    assert rc == 1, (rc, doc, err)
    runs = {r["device"]: r for r in doc["runs"]}
    assert set(runs) == {"desktop", "mobile"}, runs
    assert runs["mobile"]["success"] and not runs["desktop"]["success"], runs
    assert runs["desktop"]["reason"] == "json_assertion"
    r = expect_ok(check, "--device", "mobile")
    assert r["device"] == "mobile"


@test
def cdn_cache_headers():
    for variant, hit in (("cs-hit", 1), ("cf-miss", 0), ("xcache-hit", 1), ("age", 1),
                         ("none", None)):
        r = expect_ok("{name: t, kind: cdn, target: %s}" % url("http", "/cdn/" + variant))
        assert value(r, "probe_cdn_cache_hit") == hit, (variant, r)
    r = expect_ok("{name: t, kind: cdn, target: %s, http: {tls_insecure: true}}"
                  % url("https", "/cdn/cs-hit"))
    edges = [s["labels"]["edge"] for s in r["samples"] if s["name"] == "probe_cdn_edge_info"]
    assert edges and "edge-fra1" in edges[0], r


# ---- journeys ----

JOURNEY = ("{name: t, kind: journey, target: %s, journey: {steps: ["
           "{name: page, url: /login, extract: {csrf: 'regex:name=\"csrf\" value=\"([^\"]+)\"'}}, "
           "{name: login, url: /api/login, headers: {X-CSRF-Token: '%s'}, "
           "body: '{\"user\":\"bob\"}', extract: {token: $.token}}, "
           "{name: me, url: /api/me, headers: {Authorization: 'Bearer ${token}'}, "
           "json: ['$.user == \"bob\"']}]}}")


@test
def journey_shares_cookies_and_values():
    r = expect_ok(JOURNEY % (url("http", "/"), "${csrf}"))
    assert value(r, "probe_journey_steps") == 3 and value(r, "probe_journey_steps_passed") == 3, r
    for step in ("page", "login", "me"):
        assert value(r, "probe_journey_step_success", step=step) == 1, step
        assert value(r, "probe_journey_step_duration_seconds", step=step) > 0, step
    r = expect_fail(JOURNEY % (url("http", "/"), "forged"), "status_code", "step login")
    assert value(r, "probe_journey_steps_passed") == 1, r
    expect_fail("{name: t, kind: journey, target: %s, journey: {steps: [{name: a, url: /text, "
                "extract: {v: 'regex:token=(\\w+)'}}]}}" % url("http", "/"), "extract_failed")


# ---- tcp ----

@test
def tcp_connect_send_expect():
    t = target()
    r = expect_ok("{name: t, kind: tcp, target: '127.0.0.1:%d', tcp: {send: \"PING\\r\\n\", "
                  "expect: '^\\+PONG$'}}" % t["tcp"])
    assert value(r, "probe_tcp_connect_duration_seconds") >= 0
    assert value(r, "probe_failed_due_to_regex") == 0
    expect_ok("{name: t, kind: tcp, target: 'localhost:%d', tcp: {tls: true, ca_file: '%s', "
              "send: \"BANNER\\n\", expect: '^\\+OK'}}" % (t["tcps"], t["cert"]))
    r = expect_fail("{name: t, kind: tcp, timeout: 1s, target: '127.0.0.1:%d', "
                    "tcp: {send: \"HI\\n\", expect: '^\\+PONG'}}" % t["tcp"], "expect_mismatch",
                    timeout_s=1.0)
    assert value(r, "probe_failed_due_to_regex") == 1
    expect_fail("{name: t, kind: tcp, target: '127.0.0.1:%d'}" % t["refused"],
                "connection_refused")
    expect_fail("{name: t, kind: tcp, timeout: 1s, target: '127.0.0.1:%d', tcp: {expect: x}}"
                % t["silent"], "timeout", timeout_s=1.0)
    expect_fail("{name: t, kind: tcp, target: 'localhost:%d', tcp: {tls: true}}" % t["tcps"],
                "tls_error")


# ---- websocket ----

@test
def websocket_pings_and_failures():
    t = target()
    r = expect_ok("{name: t, kind: websocket, target: 'ws://127.0.0.1:%d/ws', "
                  "websocket: {ping_count: 3}}" % t["http"])
    assert value(r, "probe_websocket_pongs") == 3, r
    assert value(r, "probe_websocket_ping_rtt_seconds") > 0
    assert value(r, "probe_websocket_handshake_seconds") > 0
    expect_ok("{name: t, kind: websocket, target: 'wss://localhost:%d/ws', "
              "websocket: {ca_file: '%s'}}" % (t["https"], t["cert"]))
    expect_fail("{name: t, kind: websocket, timeout: 1s, target: 'ws://127.0.0.1:%d/ws-nopong'}"
                % t["http"], "ws_no_pong", timeout_s=1.0)
    expect_fail("{name: t, kind: websocket, target: 'ws://127.0.0.1:%d/ws-bad'}" % t["http"],
                "ws_handshake", "101")
    expect_fail("{name: t, kind: websocket, target: 'ws://127.0.0.1:%d/'}" % t["refused"],
                "connection_refused")


@test
def websocket_held_connection_records_drops():
    t = target()
    rc, doc, err, took = probe("{name: t, kind: websocket, timeout: 4s, "
                               "target: 'ws://127.0.0.1:%d/ws-drop?every=0.5', "
                               "websocket: {hold: 3s, ping_interval: 200ms}}" % t["http"])
    r = doc["runs"][0]
    assert value(r, "probe_websocket_drops") >= 2, r
    assert value(r, "probe_websocket_reconnects") >= 1, r
    assert 0.1 < value(r, "probe_websocket_connected_ratio") < 0.8, r
    assert took < 4 + SLACK_S, took
    r = expect_ok("{name: t, kind: websocket, timeout: 3s, target: 'ws://127.0.0.1:%d/ws', "
                  "websocket: {hold: 1s, ping_interval: 200ms}}" % t["http"])
    assert value(r, "probe_websocket_drops") == 0 and value(r, "probe_websocket_connected_ratio") > 0.95


# ---- dns ----

@test
def dns_queries():
    t = target()
    server = "'127.0.0.1:%d'" % t["dns"]
    r = expect_ok("{name: t, kind: dns, target: ok.test, dns: {server: %s, "
                  "answer_regex: ['^192\\.0\\.2\\.10$']}}" % server)
    assert value(r, "probe_dns_answer_rrs") == 1 and value(r, "probe_dns_query_succeeded") == 1
    expect_ok("{name: t, kind: dns, target: ok.test, dns: {server: %s, query_type: AAAA}}" % server)
    expect_fail("{name: t, kind: dns, target: nx.test, dns: {server: %s}}" % server, "dns_rcode",
                "NXDOMAIN")
    expect_fail("{name: t, kind: dns, target: fail.test, dns: {server: %s}}" % server,
                "dns_rcode", "SERVFAIL")
    expect_fail("{name: t, kind: dns, target: ok.test, dns: {server: %s, answer_regex: ['^10\\.']}}"
                % server, "dns_answer")
    expect_fail("{name: t, kind: dns, timeout: 1s, target: drop.test, dns: {server: %s}}" % server,
                "timeout", "3 tries", timeout_s=1.0)
    expect_ok("{name: t, kind: dns, timeout: 2s, target: retry.test, dns: {server: %s}}" % server)


# ---- usage and configuration errors ----

@test
def usage_and_config_errors():
    path = config_with(["{name: t, kind: http, target: 'http://127.0.0.1:1/'}"])
    rc, out, err = cli("probe", "-c", path, "missing")
    assert rc == 2 and "no probe named 'missing'" in err, (rc, err)
    rc, out, err = cli("probe", "-c", path, "--device", "tablet", "t")
    assert rc == 2 and "no device profile named 'tablet'" in err, (rc, err)
    rc, out, err = cli("probe", "t")
    assert rc == 2, (rc, err)
    rc, out, err = cli("probe", "--help")
    assert rc == 0 and "usage: dojowatch probe" in out, out
    bad = config_with(["{name: t, kind: http, target: 'http://x/', http: {body_regex: ['a(']}}"])
    rc, out, err = cli("probe", "-c", bad, "t")
    lines = open(MINIMAL).read().count("\n") + 3
    assert rc == 2, (rc, err)
    assert "%s:%d:" % (bad, lines) in err and "invalid regular expression" in err, err
    rc, out, err = cli("check-config", bad)
    assert rc == 2 and "%s:%d:" % (bad, lines) in err, err


if __name__ == "__main__":
    run()
