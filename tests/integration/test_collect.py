"""Integration tests of scraping and the built-in host collector against real
peers: the Debian prometheus-node-exporter and a real Prometheus 2.42's own
/metrics, file_sd discovery reloaded on change, relabeling, staleness, bad
targets (refused, slow, garbage, oversized) failing with a reason without
delaying the healthy ones, and /api/v1/targets."""
import http.server
import json
import os
import shutil
import socketserver
import subprocess
import tempfile
import threading
import time
import urllib.parse

from collectcfg import config_with, free_port
from dwtest import TOKENS, Daemon, run, start_prometheus, test, wait_port, wait_until

NODE_EXPORTER = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"


def start_node_exporter():
    port = free_port()
    p = subprocess.Popen([NODE_EXPORTER, "--web.listen-address=127.0.0.1:%d" % port],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return p, port


def query(d, q):
    r = d.get("/api/v1/query?" + urllib.parse.urlencode({"query": q}), token=TOKENS["viewer"])
    assert r.status == 200, r.text
    return r.json()["data"]["result"]


def value(d, q):
    res = query(d, q)
    return float(res[0]["value"][1]) if res else None


def targets(d, state="active"):
    r = d.get("/api/v1/targets?state=" + state, token=TOKENS["viewer"])
    assert r.status == 200, r.text
    return r.json()["data"]


class Bad(http.server.BaseHTTPRequestHandler):
    """Targets that misbehave: /slow sleeps, /garbage speaks nonsense, /huge is big."""

    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.path.startswith("/slow"):
            time.sleep(3)
            body = b"late 1\n"
        elif self.path.startswith("/garbage"):
            body = b"this is {{{ not an exposition\n"
        elif self.path.startswith("/huge"):
            body = b"".join(b"huge_metric{i=\"%d\"} 1\n" % i for i in range(20000))
        else:
            body = b"# TYPE good_total counter\ngood_total 1\n"
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass


class ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def bad_server():
    srv = ThreadingServer(("127.0.0.1", 0), Bad)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@test
def scrapes_node_exporter_prometheus_and_the_host():
    tmp = tempfile.mkdtemp(prefix="dwcol-")
    ne, ne_port = start_node_exporter()
    prom, prom_port = start_prometheus(tmp, "global: {scrape_interval: 1h}\n")
    try:
        cfg = config_with(
            "scrape:\n"
            "  host: {interval: 1s, job: host}\n"
            "  scrape_configs:\n"
            "    - job_name: node\n"
            "      scrape_interval: 1s\n"
            "      static_configs: [{targets: ['127.0.0.1:%d'], labels: {env: test}}]\n"
            "    - job_name: prometheus\n"
            "      scrape_interval: 1s\n"
            "      static_configs: [{targets: ['127.0.0.1:%d']}]\n"
            "probes: {checks: []}\n" % (ne_port, prom_port), tmp)
        with Daemon(config=cfg) as d:
            wait_until(lambda: value(d, 'up{job="node"}') == 1, 15, what="node_exporter scraped")
            wait_until(lambda: value(d, 'up{job="prometheus"}') == 1, 15, what="prometheus scraped")
            wait_until(lambda: value(d, 'up{job="host"}') == 1, 15, what="host collector")
            n = value(d, 'count({job="node",__name__=~"node_.+"})')
            assert n and n > 200, n
            assert value(d, 'count(node_cpu_seconds_total{job="node",env="test",mode="idle"})') >= 1
            assert value(d, 'prometheus_build_info{job="prometheus"}') == 1
            # The same machine seen by node_exporter and by the built-in collector.
            a = value(d, 'node_memory_MemTotal_bytes{job="node"}')
            b = value(d, 'node_memory_MemTotal_bytes{job="host"}')
            assert a == b, (a, b)
            c1 = value(d, 'count(node_cpu_seconds_total{job="node"})')
            c2 = value(d, 'count(node_cpu_seconds_total{job="host"})')
            assert c1 == c2, (c1, c2)
            assert value(d, 'scrape_samples_scraped{job="node"}') > 200
            assert value(d, 'scrape_duration_seconds{job="node"}') < 1
            assert value(d, 'scrape_series_added{job="node"}') is not None
            t = targets(d)
            jobs = {x["labels"]["job"]: x for x in t["activeTargets"]}
            assert jobs["node"]["health"] == "up", jobs["node"]
            assert jobs["node"]["scrapeUrl"] == "http://127.0.0.1:%d/metrics" % ne_port
            assert jobs["node"]["discoveredLabels"]["__address__"] == "127.0.0.1:%d" % ne_port
            assert jobs["prometheus"]["lastError"] == ""
            assert d.get("/api/v1/targets?state=bogus", token=TOKENS["viewer"]).status == 400
    finally:
        ne.terminate()
        prom.terminate()
        ne.wait()
        prom.wait()
        shutil.rmtree(tmp, ignore_errors=True)


@test
def file_sd_is_reloaded_on_change_and_relabeling_applies():
    tmp = tempfile.mkdtemp(prefix="dwcol-")
    srv = bad_server()
    port = srv.server_address[1]
    sd = os.path.join(tmp, "targets.json")
    with open(sd, "w") as f:
        json.dump([{"targets": ["127.0.0.1:%d" % port], "labels": {"team": "a", "__meta_x": "m"}}], f)
    try:
        cfg = config_with(
            "scrape:\n"
            "  host: {enabled: false}\n"
            "  scrape_configs:\n"
            "    - job_name: sd\n"
            "      scrape_interval: 1s\n"
            "      file_sd_configs: [{files: ['%s/*.json']}]\n"
            "      relabel_configs:\n"
            "        - {source_labels: [__meta_x], target_label: from_meta}\n"
            "        - {source_labels: [team], regex: drop-me, action: drop}\n"
            "probes: {checks: []}\n" % tmp, tmp)
        with Daemon(config=cfg) as d:
            wait_until(lambda: value(d, 'good_total{job="sd",team="a",from_meta="m"}') == 1, 15,
                       what="file_sd target scraped with relabeled labels")
            with open(sd + ".tmp", "w") as f:
                json.dump([{"targets": ["127.0.0.1:%d" % port], "labels": {"team": "b"}}], f)
            os.rename(sd + ".tmp", sd)
            wait_until(lambda: value(d, 'good_total{job="sd",team="b"}') == 1, 15,
                       what="changed file_sd file picked up")
            # The old target's series are marked stale, so they vanish at once.
            wait_until(lambda: value(d, 'good_total{job="sd",team="a"}') is None, 5,
                       what="old target stale")
            with open(sd + ".tmp", "w") as f:
                json.dump([{"targets": ["127.0.0.1:%d" % port], "labels": {"team": "drop-me"}}], f)
            os.rename(sd + ".tmp", sd)
            wait_until(lambda: len(targets(d, "dropped")["droppedTargets"]) == 1, 15,
                       what="relabeling drops the target")
            assert targets(d, "active")["activeTargets"] == []
    finally:
        srv.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


@test
def bad_targets_fail_with_a_reason_and_do_not_delay_good_ones():
    tmp = tempfile.mkdtemp(prefix="dwcol-")
    srv = bad_server()
    port = srv.server_address[1]
    refused = free_port()
    try:
        cfg = config_with(
            "scrape:\n"
            "  host: {enabled: false}\n"
            "  scrape_configs:\n"
            "    - {job_name: good, scrape_interval: 1s, static_configs: [{targets: ['127.0.0.1:%d']}]}\n"
            "    - {job_name: slow, scrape_interval: 2s, scrape_timeout: 500ms, metrics_path: /slow,\n"
            "       static_configs: [{targets: ['127.0.0.1:%d']}]}\n"
            "    - {job_name: garbage, scrape_interval: 1s, metrics_path: /garbage,\n"
            "       static_configs: [{targets: ['127.0.0.1:%d']}]}\n"
            "    - {job_name: huge, scrape_interval: 1s, metrics_path: /huge, body_size_limit: 64KiB,\n"
            "       static_configs: [{targets: ['127.0.0.1:%d']}]}\n"
            "    - {job_name: limited, scrape_interval: 1s, metrics_path: /huge, sample_limit: 100,\n"
            "       static_configs: [{targets: ['127.0.0.1:%d']}]}\n"
            "    - {job_name: refused, scrape_interval: 1s, static_configs: [{targets: ['127.0.0.1:%d']}]}\n"
            "    - {job_name: nodns, scrape_interval: 1s, static_configs: [{targets: ['no-such-host.invalid:80']}]}\n"
            "probes: {checks: []}\n" % (port, port, port, port, port, refused), tmp)
        with Daemon(config=cfg) as d:
            def errors():
                return {x["labels"]["job"]: (x["health"], x["lastError"])
                        for x in targets(d)["activeTargets"]}
            wait_until(lambda: all(h != "unknown" for h, _ in errors().values()), 15,
                       what="every target tried")
            e = errors()
            assert e["good"] == ("up", ""), e
            assert "deadline" in e["slow"][1] or "timeout" in e["slow"][1].lower(), e
            assert e["garbage"][0] == "down" and e["garbage"][1], e
            assert "body size limit" in e["huge"][1], e
            assert "sample limit" in e["limited"][1], e
            assert "connect" in e["refused"][1].lower(), e
            assert e["nodns"][0] == "down" and "resolve" in e["nodns"][1].lower(), e
            for job in ("slow", "garbage", "huge", "limited", "refused", "nodns"):
                assert value(d, 'up{job="%s"}' % job) == 0, job
            # The good target kept its cadence: a sample every second meanwhile.
            time.sleep(3)
            n = value(d, 'count_over_time(up{job="good"}[3s])')
            assert n >= 2, n
            assert value(d, 'max_over_time(scrape_duration_seconds{job="good"}[5s])') < 0.5
    finally:
        srv.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


@test
def invalid_scrape_section_is_rejected_with_position():
    tmp = tempfile.mkdtemp(prefix="dwcol-")
    try:
        cfg = config_with("scrape:\n  scrape_configs:\n    - job_name: x\n      scrape_intervall: 1s\n", tmp)
        from dwtest import cli
        rc, out, err = cli("check-config", cfg)
        assert rc == 2, (rc, out, err)
        text = out + err
        line = open(cfg).read().splitlines().index("      scrape_intervall: 1s") + 1
        assert "%s:%d:7: scrape.scrape_configs[0].scrape_intervall" % (cfg, line) in text, text
        assert "did you mean" in text and "scrape_interval" in text, text
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Site(http.server.BaseHTTPRequestHandler):
    """A healthy site for the probes: /health answers {"status":"ok"}."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        body = b'{"status":"ok"}' if self.path.startswith("/health") else b"missing"
        self.send_response(200 if self.path.startswith("/health") else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def site():
    srv = ThreadingServer(("127.0.0.1", 0), Site)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def probes(d):
    r = d.get("/api/v1/probes", token=TOKENS["viewer"])
    assert r.status == 200, r.text
    return r.json()["data"]


@test
def probes_are_scheduled_stored_and_explained():
    tmp = tempfile.mkdtemp(prefix="dwcol-")
    srv = site()
    port = srv.server_address[1]
    refused = free_port()
    try:
        cfg = config_with(
            "scrape: {host: {enabled: false}}\n"
            "probes:\n"
            "  checks:\n"
            "    - {name: ok, kind: http, interval: 1s, timeout: 900ms,\n"
            "       target: 'http://127.0.0.1:%d/health', devices: [desktop, mobile],\n"
            "       labels: {plan_check: api-response-time}, http: {json: ['$.status == \"ok\"']}}\n"
            "    - {name: down, kind: http, interval: 1s, timeout: 900ms,\n"
            "       target: 'http://127.0.0.1:%d/'}\n"
            "    - {name: notfound, kind: http, interval: 1s, timeout: 900ms,\n"
            "       target: 'http://127.0.0.1:%d/nope'}\n" % (port, refused, port), tmp)
        with Daemon(config=cfg) as d:
            wait_until(lambda: value(d, 'count(probe_success{probe="ok"} == 1)') == 2, 15,
                       what="both device runs of the healthy probe")
            res = query(d, 'probe_success{probe="ok"}')
            devices = sorted(x["metric"]["device"] for x in res)
            assert devices == ["desktop", "mobile"], res
            m = res[0]["metric"]
            assert m["job"] == "probes" and m["kind"] == "http" and m["class"] == "system_health", m
            assert m["plan_check"] == "api-response-time", m
            assert value(d, 'probe_http_status_code{probe="ok",device="mobile"}') == 200
            assert value(d, 'probe_http_duration_seconds{probe="ok",device="desktop",phase="connect"}') is not None
            wait_until(lambda: value(d, 'probe_failure_info{probe="down",reason="connection_refused"}') == 1,
                       10, what="failure reason series")
            wait_until(lambda: value(d, 'probe_failure_info{probe="notfound",reason="status_code"}') == 1,
                       10, what="status code reason")
            assert value(d, 'probe_success{probe="down"}') == 0
            assert value(d, 'probe_failure_info{probe="ok"}') is None
            p = {(x["name"], x["device"]): x for x in probes(d)}
            assert p[("down", None)]["health"] == "down" and p[("down", None)]["reason"] == "connection_refused", p
            assert "127.0.0.1" in p[("down", None)]["detail"], p
            assert p[("ok", "mobile")]["health"] == "up" and p[("ok", "mobile")]["runs"] >= 1, p
            assert p[("ok", "mobile")]["interval"] == "1s"
    finally:
        srv.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


@test
def a_thousand_failing_probes_do_not_starve_a_healthy_one():
    import socket
    tmp = tempfile.mkdtemp(prefix="dwcol-")
    srv = site()
    port = srv.server_address[1]
    # A black hole: a listener that never accepts, so connections hang until the timeout.
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(4096)
    hole_port = hole.getsockname()[1]
    try:
        lines = ["scrape: {host: {enabled: false}}", "probes:", "  checks:",
                 "    - {name: healthy, kind: http, interval: 1s, timeout: 900ms, "
                 "target: 'http://127.0.0.1:%d/health'}" % port]
        for i in range(1000):
            lines.append("    - {name: hole-%d, kind: http, interval: 3s, timeout: 2s, "
                         "target: 'http://127.0.0.1:%d/x%d'}" % (i, hole_port, i))
        cfg = config_with("\n".join(lines) + "\n", tmp)
        with Daemon(config=cfg) as d:
            wait_until(lambda: value(d, 'count(probe_failure_info{reason="timeout"})') is not None
                       and value(d, 'count(probe_failure_info{reason="timeout"})') > 900, 30,
                       what="the black-holed probes time out")
            time.sleep(4)
            # The healthy probe kept its 1 s cadence and stayed fast meanwhile.
            n = value(d, 'count_over_time(probe_success{probe="healthy"}[4s])')
            ok = value(d, 'min_over_time(probe_success{probe="healthy"}[4s])')
            slow = value(d, 'max_over_time(probe_duration_seconds{probe="healthy"}[4s])')
            assert n >= 3 and ok == 1, (n, ok)
            assert slow < 0.5, slow
            fails = [x for x in probes(d) if x["name"].startswith("hole-")]
            assert all(x["reason"] in ("timeout", "") for x in fails), fails[:3]
            worst = max(x["lastDuration"] for x in fails)
            assert worst < 3.5, "bounded by the 2 s timeout (plus scheduling slack): %s" % worst
    finally:
        hole.close()
        srv.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


def clock(d, **kw):
    r = d.post("/-/test/clock", token=TOKENS["admin"], data=urllib.parse.urlencode(kw).encode(),
               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 200, r.text


@test
def plan_cadence_switches_at_exactly_72h():
    tmp = tempfile.mkdtemp(prefix="dwcol-")
    srv = site()
    port = srv.server_address[1]
    launch = 1796115600  # 2026-12-01T09:00:00Z, launch.at of the example
    try:
        cfg = config_with(
            "scrape: {host: {enabled: false}}\n"
            "probes:\n"
            "  checks:\n"
            "    - {name: journey-ux, kind: http, class: user_experience, interval: plan,\n"
            "       target: 'http://127.0.0.1:%d/health'}\n" % port, tmp)
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(launch + 71 * 3600))
        with Daemon(config=cfg, args=["--test-clock=" + start]) as d:
            p = probes(d)[0]
            assert p["interval"] == "plan" and p["currentInterval"] == "30m", p
            # Walk the clock through the phase change in 10-minute steps.
            for step in range(1, 21):  # 71:10 ... 74:20
                clock(d, advance="10m")
                t = launch + 71 * 3600 + step * 600
                want = {71 * 3600, 71 * 3600 + 1800, 72 * 3600, 74 * 3600}
                due = [w for w in want if w <= t - launch]
                wait_until(lambda: probes(d)[0]["runs"] >= len(due), 5,
                           what="runs at %s" % sorted(due))
            q = 'probe_success{probe="journey-ux"}[4h]'
            r = d.get("/api/v1/query?" + urllib.parse.urlencode(
                {"query": q, "time": launch + 74 * 3600 + 1200}), token=TOKENS["viewer"]).json()
            stamps = [int(float(v[0])) - launch for v in r["data"]["result"][0]["values"]]
            # On the 30-min grid in the critical phase (71:00 is a slot, so the
            # first run is at start-up), then exactly at 72 h, then every 2 h.
            assert stamps == [71 * 3600, 71 * 3600 + 1800, 72 * 3600, 74 * 3600], \
                [s / 3600 for s in stamps]
            assert probes(d)[0]["currentInterval"] == "2h"
    finally:
        srv.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run()
