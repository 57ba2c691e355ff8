"""Integration: the web console (src/http/console.c, web/src/console*) against the real daemon.

- the page shell: GET / and /console/... answer the small HTML page with the hashed assets,
  the Content-Security-Policy and no inline script or style; signed out it carries the
  sign-in form, signed in the user, role and CSRF token of the session;
- the JavaScript shipped is under 150 KB gzip (from the build's asset manifest);
- /api/console/directory (viewer) and POST /api/console/incidents/{id}/page (responder);
- in Debian's headless chromium (tests/browser/console-*.mjs; skipped with a reason when
  chromium is missing unless DW_REQUIRE_BROWSER=1), on a daemon with two hours of samples
  for every panel of the example's Critical Metrics Dashboard and of a 20-panel test board:
  console-flow (sign in, every panel drawn with data, plan strip, shared crosshair, zoom in
  the URL, a threshold breach turning a panel red, acknowledge and silence an alert, open an
  incident and resolve it with note, roles, action item, page and report, on-call with an
  override, Explore with completion), console-phone (a 390 px phone, light and dark, no
  sideways scrolling), console-perf (first paint and every panel drawn under 1 s, median of
  three loads; the figures are printed).
Screenshots: <build>/browser-screenshots/test_console_browser_<case>/.
"""
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import time

import browser
from collectcfg import config_with
from dwtest import BINARY, TOKENS, Daemon, env_with_tokens, test

PASSWORDS = {"admin": "console-admin-pass-1", "oncall": "console-oncall-pass-2",
             "viewer": "console-viewer-pass-3"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
JS_BUDGET = 150 * 1024

# Only imported samples: no host collector, probes or rules to race them.
QUIET = """scrape: {host: {enabled: false}}
probes: {checks: []}
rules: {files: []}
status: {title: Test Status}
"""


def perf_board():
    """A test dashboard of 20 panels, every kind, appended to the example's boards."""
    p = []
    for n in range(1, 11):
        p.append("            - {id: ts%d, title: Latency %d, kind: timeseries, unit: seconds, "
                 "query: 'perf_latency_seconds{n=\"%d\"}', legend: '{{i}}', "
                 "thresholds: [{value: 0.8, color: amber}, {value: 0.95, color: red}]}" % (n, n, n))
    rows = ["        - title: Time series", "          panels:"] + p
    q = [
        "            - {id: st1, title: Requests, kind: stat, unit: req/s, query: 'sum(perf_rps)'}",
        "            - {id: st2, title: Requests by shard, kind: stat, unit: req/s, query: 'perf_rps', legend: '{{shard}}'}",
        "            - {id: st3, title: Errors, kind: stat, unit: count, query: 'sum(perf_errors)', "
        "thresholds: [{value: 100, color: red}]}",
        "            - {id: g1, title: Pool, kind: gauge, unit: ratio, query: 'perf_ratio{n=\"1\"}', "
        "thresholds: [{value: 0.8, color: amber}, {value: 0.9, color: red}]}",
        "            - {id: g2, title: Cache hits, kind: gauge, unit: ratio, direction: below_is_bad, "
        "query: 'perf_ratio{n=\"2\"}', thresholds: [{value: 0.5, color: red}]}",
        "            - {id: tb1, title: Latency table, kind: table, unit: seconds, "
        "query: 'perf_latency_seconds{n=\"1\"}', legend: '{{i}}'}",
        "            - {id: hm1, title: Latency histogram, kind: heatmap, unit: seconds, width: 6, "
        "query: 'sum by (le) (rate(perf_hist_bucket[5m]))'}",
        "            - {id: hm2, title: Latency histogram (shard a), kind: heatmap, unit: seconds, width: 6, "
        "query: 'sum by (le) (rate(perf_hist_bucket{shard=\"a\"}[5m]))'}",
        "            - {id: sg1, title: Targets, kind: status_grid, query: 'perf_up', legend: '{{target}}'}",
        "            - {id: sg2, title: Targets judged, kind: status_grid, query: 'perf_up', legend: '{{target}}', "
        "direction: below_is_bad, thresholds: [{value: 1, color: red, op: '<'}]}",
    ]
    rows += ["        - title: Everything else", "          panels:"] + q
    return "\n".join(["    - id: perf", "      title: Performance test board", "      time_range: 2h",
                      "      rows:"] + rows) + "\n"


def config(tmp):
    """The example with the QUIET sections and the perf board in its dashboards."""
    path = config_with(QUIET, tmp)
    with open(path) as f:
        text = f.read()
    at = text.rindex("\n" + QUIET)
    text = text[:at].rstrip("\n") + "\n" + perf_board() + text[at:]
    with open(path, "w") as f:
        f.write(text)
    return path


def samples(now):
    """Two hours up to now-15 s, every 15 s: every series the panels read (import format)."""
    out = []
    start = now - 7200
    buckets = ["0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"]
    share = [0.05, 0.2, 0.45, 0.7, 0.9, 0.98, 1.0]
    for k, t in enumerate(range(start, now - 14, 15)):
        ms = t * 1000
        w = math.sin(k / 20.0)
        add = lambda s, v: out.append("%s %s %d" % (s, repr(float(v)), ms))  # noqa: E731
        # the Critical Metrics Dashboard (recorded series where the panels read rules' output)
        add('job:http_request_duration_seconds:p95_5m{job="dojopool-api"}', 0.2 + 0.05 * w)
        add('probe_duration_seconds{job="probes",probe="api-health",instance="https://api.test/health"}', 0.12 + 0.02 * w)
        add('job:http_request_errors:ratio_rate5m{job="dojopool-api"}', 0.004 + 0.001 * w)
        add('job:db_pool_utilisation:ratio{job="dojopool-api"}', 0.45 + 0.05 * w)
        add('probe_success{job="probes",probe="database-port",instance="db.test:5432"}', 1)
        add('instance:node_cpu_utilisation:rate5m{instance="vm"}', 0.3 + 0.1 * w)
        add('instance:node_memory_utilisation:ratio{instance="vm"}', 0.55)
        add('probe_websocket_connected_ratio{job="probes",probe="websocket",instance="wss://ws.test/ws"}', 1)
        add('probe_websocket_drops{job="probes",probe="websocket",instance="wss://ws.test/ws"}', 0)
        add('probe_cdn_cache_hit{job="probes",probe="cdn-assets",instance="https://cdn.test/app.js"}', 0.93)
        add('probe_duration_seconds{job="probes",probe="cdn-assets",instance="https://cdn.test/app.js"}', 0.08 + 0.01 * w)
        for dev in ("desktop", "mobile"):
            for le, s in zip(buckets, share):
                add('rum_page_load_seconds_bucket{job="dojopool-api",device="%s",le="%s"}' % (dev, le), k * 20 * s)
            add('probe_duration_seconds{job="probes",probe="web-home",device="%s"}' % dev, 1.1 if dev == "desktop" else 1.9)
            add('probe_success{job="probes",probe="core-feature",device="%s"}' % dev, 1)
        add('probe_success{job="probes",probe="web-home",device="mobile"}', 1)
        add('rum_js_errors_total{job="dojopool-api"}', k * 0.3)
        add('rum_sessions_total{job="dojopool-api"}', k * 4)
        add('dojopool_onboarding_started_total{job="dojopool-api"}', k * 2)
        add('dojopool_onboarding_completed_total{job="dojopool-api"}', k * 1.24)
        add('job:dojopool_user_registrations:rate1h{job="dojopool-api"}', 0.012)
        add('job:dojopool_active_sessions:sum{job="dojopool-api"}', 120 + 10 * w)
        for feat, r in (("matchmaking", 0.05), ("tournament", 0.02), ("payment", 0.004)):
            add('feature:dojopool_feature_used:rate1h{feature="%s"}' % feat, r)
        # the 20-panel test board
        for n in range(1, 11):
            for i, base in (("a", 0.2), ("b", 0.4), ("c", 0.6)):
                add('perf_latency_seconds{n="%d",i="%s"}' % (n, i), base + 0.1 * math.sin(k / (5.0 + n)))
        for shard in ("a", "b", "c"):
            add('perf_rps{shard="%s"}' % shard, 40 + 10 * w)
            for le, s in zip(buckets, share):
                add('perf_hist_bucket{shard="%s",le="%s"}' % (shard, le), k * 30 * s * (1 + 0.3 * w))
        add('perf_errors', 12)
        add('perf_ratio{n="1"}', 0.72)
        add('perf_ratio{n="2"}', 0.88)
        for target in range(1, 9):
            add('perf_up{target="t%d"}' % target, 0 if target == 7 else 1)
    return out


_hashes = {}


def env():
    if not _hashes:
        for user, pw in PASSWORDS.items():
            p = subprocess.run([BINARY, "passwd"], input=(pw + "\n").encode(), capture_output=True,
                               timeout=60, env=env_with_tokens())
            assert p.returncode == 0, p.stderr
            _hashes[user] = p.stdout.decode().strip()
    return env_with_tokens({"DOJOWATCH_ADMIN_PASSWORD_HASH": _hashes["admin"],
                            "DOJOWATCH_RESPONDER_PASSWORD_HASH": _hashes["oncall"],
                            "DOJOWATCH_VIEWER_PASSWORD_HASH": _hashes["viewer"]})


_shared = {}


def daemon():
    """One daemon with the samples, shared by the tests of this file."""
    if "d" not in _shared:
        tmp = tempfile.mkdtemp(prefix="dwconsole-")
        d = Daemon(config=config(tmp), env=env())
        _shared["d"], _shared["tmp"] = d, tmp
        d.start()
        lines = samples(int(time.time()))
        for i in range(0, len(lines), 20000):
            r = d.post("/api/v1/import/prometheus", token="responder",
                       data="\n".join(lines[i:i + 20000]) + "\n")
            assert r.status == 204, (r.status, r.text)
    return _shared["d"]


def login(d, user="admin"):
    r = d.post("/api/auth/login", data=json.dumps({"username": user, "password": PASSWORDS[user]}),
               headers={"Content-Type": "application/json"})
    assert r.status == 200, (r.status, r.text)
    cookie = r.headers["Set-Cookie"].split(";")[0]
    return cookie, r.json()["data"]["csrf_token"]


def browser_env(d):
    return {"DW_CONSOLE_USER": "admin", "DW_CONSOLE_PASSWORD": PASSWORDS["admin"],
            "DW_VIEWER_PASSWORD": PASSWORDS["viewer"],
            "DW_RESPONDER_TOKEN": TOKENS["responder"], "DW_ADMIN_TOKEN": TOKENS["admin"]}


def shell_checks(html, assets):
    assert html.startswith("<!doctype html>"), html[:80]
    js, css = assets["console.js"]["url"], assets["console.css"]["url"]
    assert '<script src="%s" defer></script>' % js in html, html
    assert '<link rel="stylesheet" href="%s">' % css in html, html
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="/assets/' in a and body == "" for a, body in scripts), scripts
    assert "<style" not in html and " style=" not in html, "inline styles break the CSP"
    assert re.search(r"\son[a-z]+=", html) is None, "inline event handlers break the CSP"
    assert "<noscript>" in html


@test
def the_shell_carries_the_assets_and_the_security_headers():
    d = daemon()
    assets = browser.manifest()
    for path in ("/", "/console", "/console/alerts", "/console/incidents/INC-20260101000000",
                 "/console/dashboards/critical-metrics?range=6h"):
        r = d.get(path)
        assert r.status == 200, (path, r.status)
        h = r.headers
        assert h["Content-Type"] == "text/html; charset=utf-8", h
        assert h["Content-Security-Policy"] == CSP, h
        assert h["X-Frame-Options"] == "DENY" and h["Referrer-Policy"] == "same-origin", h
        assert h["X-Content-Type-Options"] == "nosniff" and h["Cache-Control"] == "no-store", h
        shell_checks(r.text, assets)
        assert 'id="dw-signin"' in r.text and 'data-signed-out="1"' in r.text, r.text
        assert "data-csrf" not in r.text
    assert d.get("/console/a/b/c").status == 404
    assert d.post("/console", data=b"x").status == 405
    # a garbage or ended session is just signed out: the form, not a 401
    r = d.get("/console", headers={"Cookie": "dw_session=garbage"})
    assert r.status == 200 and 'id="dw-signin"' in r.text, (r.status, r.text[:200])
    cookie, csrf = login(d, "oncall")
    r = d.get("/console/incidents", headers={"Cookie": cookie})
    assert r.status == 200, r.status
    shell_checks(r.text, assets)
    assert 'id="dw-signin"' not in r.text, r.text
    assert 'data-user="oncall"' in r.text and 'data-role="responder"' in r.text, r.text
    assert 'data-csrf="%s"' % csrf in r.text, r.text
    now = int(re.search(r'data-now="(\d+)"', r.text).group(1))
    assert abs(now / 1000 - time.time()) < 60, now


@test
def the_javascript_shipped_is_under_150_kb_gzip():
    assets = browser.manifest()
    js = {k: a for k, a in assets.items() if k.endswith(".js")}
    total = sum(a["gzip_bytes"] or a["bytes"] for a in js.values())
    print("  JavaScript shipped: %d bytes gzip (%d bytes minified) in %s; CSS %d bytes gzip"
          % (total, sum(a["bytes"] for a in js.values()), ", ".join(sorted(js)),
             assets["console.css"]["gzip_bytes"] or assets["console.css"]["bytes"]))
    assert "console.js" in js and total < JS_BUDGET, (total, JS_BUDGET)


@test
def the_directory_and_page_someone():
    d = daemon()
    assert d.get("/api/console/directory").status == 401
    r = d.get("/api/console/directory", token="viewer")
    assert r.status == 200, r.text
    data = r.json()["data"]
    assert data["service"] == "DojoPool", data
    assert [k["id"] for k in data["kpis"]][:3] == ["availability", "api-latency-p95", "error-rate"], data
    assert data["kpis"][0] == {"id": "availability", "name": "Availability", "group": "technical",
                               "op": ">=", "target": 99.5, "unit": "percent",
                               "description": "99.5% uptime target"}, data["kpis"][0]
    primary = [p for p in data["people"] if p["id"] == "primary-engineer"][0]
    assert sorted(primary) == ["id", "name", "role"], primary  # no phone or e-mail for viewers
    r = d.post("/api/incidents", token="responder",
               data=json.dumps({"title": "Page test", "severity": 3}))
    assert r.status == 200, r.text
    inc = r.json()["data"]["id"]
    path = "/api/console/incidents/%s/page" % inc
    body = json.dumps({"person": "schedule:primary", "message": "please join"})
    assert d.post(path, token="viewer", data=body).status == 403
    r = d.post(path, token="responder", data=body)
    assert r.status == 200, r.text
    got = r.json()["data"]
    # an on-call page for the schedule: the priority's first step reaches who is on call, then
    # the priority's policy escalates until someone acknowledges
    assert got["person"] == "primary-engineer" and got["target"] == "schedule:primary", got
    want = d.get("/api/incidents/" + inc, token="viewer").json()["data"].get("priority") or "P1"
    assert got["page"].startswith("PG-M") and got["priority"] == want, (got, want)
    pg = d.get("/api/oncall/pages/" + got["page"], token="viewer").json()["data"]
    assert pg["state"] == "triggered" and pg["priority"] == want, pg
    assert pg["summary"] == inc + ": please join", pg
    tl = d.get("/api/incidents/" + inc, token="viewer").json()["data"]["timeline"]
    assert any(e["kind"] == "message" and e["text"].startswith(
        "paged Primary Engineer (primary-engineer, on call in schedule:primary) with page " + got["page"])
        for e in tl), tl
    r = d.post("/api/oncall/pages/%s/ack" % got["page"], token="responder", data="{}")
    assert r.status == 200, r.text
    for bad, status in (({"person": "nobody", "message": "x"}, 400), ({"person": "cto"}, 400),
                        ({"person": "cto", "message": "x" * 161}, 400),
                        ({"person": "schedule:nope", "message": "x"}, 400),
                        ({"person": "cto", "message": "x", "priority": "P7"}, 400)):
        r = d.post(path, token="responder", data=json.dumps(bad))
        assert r.status == status, (bad, r.status, r.text)
    r = d.post("/api/console/incidents/INC-1/page", token="responder",
               data=json.dumps({"person": "cto", "message": "x"}))
    assert r.status == 404, r.text
    # a session needs its CSRF token like every other state change
    cookie, csrf = login(d, "oncall")
    assert d.post(path, data=body, headers={"Cookie": cookie}).status == 403
    assert d.post(path, data=body, headers={"Cookie": cookie, "X-CSRF-Token": csrf}).status == 200


@browser.test
def console_flow_on_a_desktop():
    d = daemon()
    alert = [{"labels": {"alertname": "ConsoleTestAlert", "priority": "P2", "service": "checkout"},
              "annotations": {"summary": "Checkout is slow for some users"}}]
    r = d.post("/api/v2/alerts", token="responder", data=json.dumps(alert))
    assert r.status == 200, r.text
    r = browser.run_script("console-flow", d, "test_console_browser_flow", timeout=240,
                           env=browser_env(d))
    browser.assert_pngs(r["screenshots"])
    print("  chromium %s, %d checks in %.1f s" % (r["browser"], len(r["checks"]), r["ms"] / 1000))


@browser.test
def console_on_a_phone():
    d = daemon()
    alert = [{"labels": {"alertname": "ConsolePhoneAlert", "priority": "P2", "service": "web"},
              "annotations": {"summary": "The home page is slow on phones"}}]
    assert d.post("/api/v2/alerts", token="responder", data=json.dumps(alert)).status == 200
    r = d.post("/api/incidents", token="responder",
               data=json.dumps({"title": "Slow home page on phones", "severity": 3}))
    assert r.status == 200, r.text
    r = browser.run_script("console-phone", d, "test_console_browser_phone", timeout=240,
                           env=browser_env(d))
    for p in r["screenshots"]:
        w, _ = browser.png_size(p)
        assert w == 390 * 3, (p, w)


@browser.test
def console_first_paint_under_a_second():
    d = daemon()
    r = browser.run_script("console-perf", d, "test_console_browser_perf", timeout=240,
                           env=browser_env(d))
    median = [c for c in r["checks"] if c["name"].startswith("every panel drawn")][0]["detail"]["median"]
    print("  20 panels over 2 h: first contentful paint %s ms, every panel drawn %s ms after the "
          "navigation (median of 3); %d bytes of JavaScript (gzip)"
          % (median["fcpMs"], median["drawnMs"], median["jsEncoded"]))


@test
def zz_the_shared_daemon_stops_cleanly():
    d = daemon()
    rc, _ = d.stop()
    assert rc == 0, (rc, d.logs()[-3000:])
    assert "ERROR: AddressSanitizer" not in d.logs() and "runtime error:" not in d.logs(), \
        d.logs()[-3000:]


if __name__ == "__main__":
    try:
        browser.run()
    finally:
        if "d" in _shared:
            _shared["d"].cleanup()
            shutil.rmtree(_shared["tmp"], ignore_errors=True)
