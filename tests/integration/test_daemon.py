"""Integration tests of `dojowatch serve`, `check-config` and the foundation's
HTTP endpoints, against the real binary on loopback."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

from dwtest import (BINARY, EXAMPLE, ROOT, Daemon, cli, env_with_tokens, metric_value, run, test,
                    wait_until)


def copy_example(tmpdir):
    path = os.path.join(tmpdir, "plan.yaml")
    shutil.copy(EXAMPLE, path)
    return path


@test
def serves_health_ready_and_metrics():
    with Daemon() as d:
        r = d.get("/-/healthy")
        assert r.status == 200 and "Healthy" in r.text, (r.status, r.text)
        r = d.get("/-/ready")
        assert r.status == 200, r.status
        d.get("/-/healthy")
        # A request is counted when libmicrohttpd reports it complete, which may come just
        # after the client has the answer (another polling thread): wait for the count.
        wait_until(lambda: (metric_value(d.get("/metrics").text, "dojowatch_http_requests_total",
                                         {"route": "/-/healthy", "code": "200"}) or 0) >= 2,
                   5, what="the two /-/healthy requests counted")
        m = d.get("/metrics")
        assert m.status == 200
        assert m.headers.get("Content-Type", "").startswith("text/plain"), m.headers
        t = m.text
        assert metric_value(t, "dojowatch_build_info") == 1, t[:2000]
        assert metric_value(t, "dojowatch_start_time_seconds") > 1.6e9
        assert metric_value(t, "dojowatch_http_requests_total", {"route": "/-/healthy", "code": "200"}) >= 2
        assert "dojowatch_http_request_duration_seconds_bucket" in t
        assert metric_value(t, "dojowatch_config_last_reload_successful") == 1
        assert metric_value(t, "dojowatch_config_last_reload_success_timestamp_seconds") > 1.6e9
        phases = [l for l in t.splitlines() if l.startswith("dojowatch_plan_phase{")]
        assert len(phases) == 4 and sum(float(l.split()[-1]) for l in phases) == 1, phases


@test
def prints_urls_and_structured_logs():
    with Daemon() as d:
        out = "".join(d.out_lines)
        for path in ("/-/healthy", "/-/ready", "/metrics", "/api/plan"):
            assert ("127.0.0.1:%d%s" % (d.port, path)) in out, out
        logs = d.logs()
        assert "level=info component=daemon msg=\"dojowatch started\"" in logs, logs
        assert "component=http msg=listening address=127.0.0.1:0 port=%d" % d.port in logs, logs
        for line in logs.splitlines():
            assert line.startswith("ts="), "not logfmt: " + line


@test
def graceful_shutdown_on_sigterm_and_sigint():
    for sig in (signal.SIGTERM, signal.SIGINT):
        d = Daemon().start()
        try:
            assert d.get("/-/healthy").status == 200
            rc, took = d.stop(sig)
            assert rc == 0, (rc, d.logs())
            assert took < 5.0, took
            assert "stopped cleanly" in d.logs(), d.logs()
            # The lock is released: a new instance can use the same data directory.
            d2 = Daemon(data=d.data).start()
            assert d2.get("/-/healthy").status == 200
            rc2, _ = d2.stop()
            assert rc2 == 0
            d2.cleanup()
        finally:
            d.cleanup()


@test
def second_instance_on_same_data_dir_is_refused():
    with Daemon() as d:
        rc, out, err = cli("serve", "--config", EXAMPLE, "--data", d.data, "--listen", "127.0.0.1:0")
        assert rc == 1, (rc, err)
        assert "is in use by another dojowatch (pid %d)" % d.proc.pid in err, err
        assert d.get("/-/healthy").status == 200


@test
def roles_are_enforced():
    with Daemon() as d:
        # open
        assert d.get("/-/healthy").status == 200
        assert d.get("/metrics").status == 200
        # viewer route
        r = d.get("/api/plan")
        assert r.status == 401, r.status
        assert r.json()["errorType"] == "unauthorized"
        assert "Bearer" in r.headers.get("WWW-Authenticate", "")
        assert d.get("/api/plan", token="not-a-token").status == 401
        for role in ("viewer", "responder", "admin"):
            assert d.get("/api/plan", token=role).status == 200, role
        # responder route
        path = "/api/plan/checks/api-response-time/review"
        r = d.post(path, token="viewer", data={"note": "x"})
        assert r.status == 403, r.status
        assert "responder" in r.json()["error"], r.json()
        for role in ("responder", "admin"):
            r = d.post(path, token=role, data={"note": "looked fine"})
            assert r.status == 200, (role, r.status, r.text)
        # admin routes
        for role in ("viewer", "responder"):
            assert d.get("/api/config", token=role).status == 403
            assert d.post("/-/reload", token=role).status == 403
        r = d.get("/api/config", token="admin")
        assert r.status == 200
        assert "it-admin-token" not in r.text
        assert d.post("/-/reload", token="admin").status == 200
        # tokens never reach the logs
        for t in ("it-admin-token", "it-viewer-token", "it-responder-token", "not-a-token"):
            assert t not in d.logs(), t


@test
def plan_review_is_recorded_and_survives_kill_9():
    d = Daemon().start()
    try:
        r = d.post("/api/plan/checks/error-rate/review", token="responder", data={"note": "2% ok"})
        assert r.status == 200, r.text
        plan = d.get("/api/plan", token="viewer").json()["data"]
        row = [c for c in plan["checks"] if c["id"] == "error-rate"][0]
        assert row["last_review"] is not None and row["last_reviewer"] == "responder", row
        d.kill9()
        d2 = Daemon(data=d.data).start()
        plan = d2.get("/api/plan", token="viewer").json()["data"]
        row2 = [c for c in plan["checks"] if c["id"] == "error-rate"][0]
        assert row2["last_review"] == row["last_review"], (row, row2)
        r = d2.post("/api/plan/checks/no_such_check/review", token="responder")
        assert r.status == 404 and "no check" in r.json()["error"], r.text
        d2.stop()
        d2.cleanup()
    finally:
        d.cleanup()


@test
def reload_rejects_bad_config_and_keeps_old():
    tmp = tempfile.mkdtemp()
    try:
        cfg = copy_example(tmp)
        with Daemon(config=cfg) as d:
            before = d.get("/api/config", token="admin").json()["data"]["sha256"]
            good = open(cfg).read()
            open(cfg, "w").write(good.replace("launch:", "launch:\n  bogus_key: 1", 1))
            r = d.post("/-/reload", token="admin")
            assert r.status == 400, (r.status, r.text)
            body = r.json()
            assert body["status"] == "error" and "bogus_key" in body["error"], body
            assert "plan.yaml:" in body["error"], body
            assert d.get("/api/config", token="admin").json()["data"]["sha256"] == before
            m = d.get("/metrics").text
            assert metric_value(m, "dojowatch_config_last_reload_successful") == 0
            # SIGHUP with the same bad file: still the old config, still serving
            d.send_signal(signal.SIGHUP)
            wait_until(lambda: d.logs().count("reload rejected") >= 2, what="second rejection")
            assert d.get("/api/plan", token="viewer").status == 200
            # a good change is picked up
            open(cfg, "w").write(good.replace("name: DojoPool", "name: DojoPool Staging", 1))
            r = d.post("/-/reload", token="admin")
            assert r.status == 200, r.text
            data = d.get("/api/config", token="admin").json()["data"]
            assert data["sha256"] != before and data["service"] == "DojoPool Staging", data
            assert metric_value(d.get("/metrics").text, "dojowatch_config_last_reload_successful") == 1
            # SIGHUP with a good file
            open(cfg, "w").write(good)
            d.send_signal(signal.SIGHUP)
            wait_until(lambda: d.get("/api/config", token="admin").json()["data"]["sha256"] == before,
                       what="SIGHUP reload")
    finally:
        shutil.rmtree(tmp)


@test
def invalid_config_at_start_exits_2_with_position():
    tmp = tempfile.mkdtemp()
    try:
        cfg = copy_example(tmp)
        text = open(cfg).read()
        open(cfg, "w").write(text.replace("launch:", "launch:\n  at_typo: 2026-12-01T09:00:00Z", 1))
        rc, out, err = cli("serve", "--config", cfg, "--data", os.path.join(tmp, "d"), "--listen", "127.0.0.1:0")
        assert rc == 2, (rc, err)
        assert "plan.yaml:" in err and "at_typo" in err, err
        rc, out, err = cli("check-config", cfg)
        assert rc == 2, (rc, out, err)
        line = [l for l in err.splitlines() if "at_typo" in l][0]
        file_, ln, col = line.split(":")[:3]
        assert file_.endswith("plan.yaml") and int(ln) > 0 and int(col) > 0, line
    finally:
        shutil.rmtree(tmp)


@test
def check_config_example_and_json_output():
    rc, out, err = cli("check-config", EXAMPLE)
    assert rc == 0, (rc, out, err)
    assert "valid" in out
    rc, out, err = cli("check-config", "-o", "json", EXAMPLE)
    import json
    res = json.loads(out)
    assert rc == 0 and res[0]["valid"] is True and res[0]["errors"] == [], res
    rc, out, err = cli("check-config", "/nonexistent/plan.yaml")
    assert rc == 2 and "/nonexistent/plan.yaml" in err, err


@test
def test_clock_drives_phases():
    # Freeze the clock one hour before launch, then walk through the phases.
    with Daemon(args=["--test-clock=2026-12-01T08:00:00Z"]) as d:
        plan = d.get("/api/plan", token="viewer").json()["data"]
        assert plan["before_launch"] is True and plan["phase"]["name"] == "critical", plan
        def phase():
            return d.get("/api/plan", token="viewer").json()["data"]["phase"]["name"]
        def advance(by):
            r = d.post("/-/test/clock", token="admin", data={"advance": by})
            assert r.status == 200, r.text
        advance("1h")
        advance("71h59m59s")
        assert phase() == "critical"
        advance("1s")  # exactly 72 h after launch
        assert phase() == "stabilization"
        wait_until(lambda: metric_value(d.get("/metrics").text, "dojowatch_plan_phase",
                                        {"phase": "stabilization"}) == 1, what="phase gauge")
        m = d.get("/metrics").text
        assert metric_value(m, "dojowatch_plan_review_interval_seconds", {"class": "system_health"}) == 1800
        assert "launch phase changed" in d.logs()
        advance("4d")  # day 7 ends: optimization
        assert phase() == "optimization"
        advance("23d")  # day 30: steady
        assert phase() == "steady"


@test
def test_clock_route_absent_without_flag():
    with Daemon() as d:
        r = d.post("/-/test/clock", token="admin", data={"advance": "1h"})
        assert r.status == 404, r.status


@test
def request_limits_hold():
    with Daemon() as d:
        # A client that waits for 100 Continue is answered at once.
        r = d.headers_only("POST", "/-/reload", token="admin",
                           headers={"Content-Length": str(1024 * 1024 + 1),
                                    "Expect": "100-continue"})
        assert r.status == 413, r.status
        assert b"limits.max_body_bytes" in r.body, r.body
        # One that sends the whole body reads the 413 once it is done, not a reset.
        for _ in range(3):
            r = d.post("/-/reload", token="admin", data=b"x" * (1024 * 1024 + 1))
            assert r.status == 413, r.status
        assert d.get("/-/healthy").status == 200


@test
def every_command_has_help():
    for cmd in ("serve", "check-config", "import", "query", "query-range", "version", "help"):
        rc, out, err = cli(cmd, "--help")
        assert rc == 0 and out.startswith("usage: dojowatch " + cmd), (cmd, rc, out, err)
    rc, out, err = cli("no-such-command")
    assert rc == 2 and "unknown command" in err
    rc, out, err = cli("serve")
    assert rc == 2 and "--config FILE is required" in err, err
    rc, out, err = cli("version", "-o", "json")
    import json
    assert json.loads(out)["version"]


run()
