"""Integration tests of alerting: a real Prometheus 2.42 whose `alerting:`
section points at dojowatch (Alertmanager API v2, with the responder token as
its `authorization`) sends alerts from rules on a gauge this test controls;
they arrive in GET /api/v2/alerts with priorities mapped from severity, group
in /api/v2/alerts/groups, are inhibited and silenced (API and CLI), resolve,
and survive a restart of dojowatch. Plus the API's refusals and the CLI."""
import http.server
import json
import os
import shutil
import socketserver
import tempfile
import threading
import time
import urllib.parse

from collectcfg import config_with
from dwtest import (TOKENS, Daemon, cli, env_with_tokens, free_port, run, start_prometheus,
                    stop_prometheus, test, wait_until)

ALERTING = """
scrape:
  host: {enabled: false}
probes: {checks: []}
alerting:
  resolve_timeout: 5m
  route:
    receiver: default
    group_by: [alertname]
    group_wait: 0s
    group_interval: 1s
    routes:
      - matchers: ['priority="P0"']
        receiver: pager
        continue: true
  receivers: [{name: default}, {name: pager}]
  inhibit_rules:
    - source_matchers: ['priority="P0"']
      target_matchers: ['priority=~"P1|P2"']
      equal: [service]
"""

RULES = """
groups:
  - name: integration
    interval: 1s
    rules:
      - alert: ApiDown
        expr: it_gate{kind="down"} > 0
        labels: {severity: critical, service: api}
        annotations: {summary: "the API is down"}
      - alert: ApiSlow
        expr: it_gate{kind="slow"} > 0
        labels: {severity: warning, service: api}
      - alert: DiskFull
        expr: it_gate{kind="disk"} > 0
        labels: {severity: info, service: db}
"""


def config(tmp):
    """The example plan with ALERTING for its scrape, probes and alerting sections, no rules."""
    return config_with(ALERTING + "rules: {files: []}\n", tmp)


class Gates:
    """The gauge Prometheus scrapes: it_gate{kind, shard} values the test sets."""

    def __init__(self):
        self.values = {}
        gates = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                lines = ["# TYPE it_gate gauge"]
                for (kind, shard), v in sorted(gates.values.items()):
                    lines.append('it_gate{kind="%s",shard="%s"} %g' % (kind, shard, v))
                body = ("\n".join(lines) + "\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def set(self, kind, shard, v):
        self.values[(kind, shard)] = v

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def prometheus_config(gates_port, dw_port):
    """Scrapes the gates every second, evaluates RULES, sends alerts to dojowatch."""
    return ("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "rule_files: [rules.yml]\n"
            "scrape_configs:\n"
            "  - job_name: gates\n"
            "    static_configs: [{targets: ['127.0.0.1:%d']}]\n"
            "alerting:\n"
            "  alertmanagers:\n"
            "    - api_version: v2\n"
            "      static_configs: [{targets: ['127.0.0.1:%d']}]\n"
            "      authorization: {type: Bearer, credentials: '%s'}\n"
            % (gates_port, dw_port, TOKENS["responder"]))


def alerts(d, **params):
    q = urllib.parse.urlencode(params, doseq=True)
    r = d.get("/api/v2/alerts" + ("?" + q if q else ""), token="viewer")
    assert r.status == 200, r.text
    return r.json()


def by_name(items, name):
    return [a for a in items if a["labels"].get("alertname") == name]


def groups(d):
    r = d.get("/api/v2/alerts/groups", token="viewer")
    assert r.status == 200, r.text
    return r.json()


def lifecycle(d):
    r = d.get("/api/v1/alerts/lifecycle", token="viewer")
    assert r.status == 200, r.text
    return r.json()["data"]


def dw_cli(d, *args):
    env = env_with_tokens({"DOJOWATCH_SERVER": d.url(""), "DOJOWATCH_TOKEN": TOKENS["responder"]})
    return cli("alerts", *args, env=env)


@test
def prometheus_alerts_arrive_group_inhibit_silence_and_resolve():
    tmp = tempfile.mkdtemp(prefix="dwalert-")
    gates = Gates()
    gates.set("slow", "1", 1)
    gates.set("disk", "1", 1)
    gates.set("disk", "2", 1)
    gates.set("down", "1", 0)
    prom = None
    # A fixed port: Prometheus keeps sending to it across dojowatch's restart.
    d = Daemon(config=config(tmp), data=os.path.join(tmp, "data"),
               args=["--listen", "127.0.0.1:%d" % free_port()])
    try:
        d.start()
        with open(os.path.join(tmp, "rules.yml"), "w") as f:
            f.write(RULES)
        prom, _ = start_prometheus(tmp, prometheus_config(gates.port, d.port),
                                   log=os.path.join(tmp, "prom.log"))
        wait_until(lambda: len(by_name(alerts(d), "DiskFull")) == 2 and by_name(alerts(d), "ApiSlow"),
                   40, 0.2, "Prometheus's alerts in /api/v2/alerts")
        slow = by_name(alerts(d), "ApiSlow")[0]
        assert slow["labels"]["priority"] == "P1", slow          # severity warning -> P1
        assert slow["labels"]["job"] == "gates", slow
        assert slow["status"] == {"state": "active", "silencedBy": [], "inhibitedBy": []}, slow
        assert slow["receivers"] == [{"name": "default"}], slow
        assert "generatorURL" in slow and "/graph?g0.expr=" in slow["generatorURL"], slow
        assert len(slow["fingerprint"]) == 16
        disk = by_name(alerts(d), "DiskFull")
        assert {a["labels"]["priority"] for a in disk} == {"P2"}

        # grouping: both DiskFull alerts in one group of the default route
        g = [x for x in groups(d) if x["labels"] == {"alertname": "DiskFull"}]
        assert len(g) == 1 and len(g[0]["alerts"]) == 2 and g[0]["receiver"] == {"name": "default"}, g

        # a P0 for the same service inhibits the P1, and goes to the pager too
        gates.set("down", "1", 1)
        wait_until(lambda: by_name(alerts(d), "ApiDown"), 20, 0.2, "ApiDown")
        down = by_name(alerts(d), "ApiDown")[0]
        assert down["labels"]["priority"] == "P0"
        assert down["annotations"]["summary"] == "the API is down"
        assert down["receivers"] == [{"name": "pager"}], down   # continue: no other route matches
        slow = by_name(alerts(d), "ApiSlow")[0]
        assert slow["status"]["state"] == "suppressed"
        assert slow["status"]["inhibitedBy"] == [down["fingerprint"]], slow
        assert not by_name(alerts(d, inhibited="false"), "ApiSlow")
        assert len(alerts(d, filter='alertname="DiskFull"', receiver="default")) == 2
        assert alerts(d, filter='alertname="DiskFull"', receiver="pager") == []

        # a silence through the API
        now = time.time()
        body = json.dumps({
            "matchers": [{"name": "alertname", "value": "DiskFull", "isRegex": False, "isEqual": True}],
            "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
            "createdBy": "integration", "comment": "disk swap"})
        r = d.post("/api/v2/silences", token="responder", data=body,
                   headers={"Content-Type": "application/json"})
        assert r.status == 200, r.text
        sid = r.json()["silenceID"]
        for a in by_name(alerts(d), "DiskFull"):
            assert a["status"]["silencedBy"] == [sid], a
        r = d.get("/api/v2/silence/" + sid, token="viewer")
        assert r.status == 200 and r.json()["status"]["state"] == "active", r.text
        assert r.json()["createdBy"] == "integration"

        # a silence through the CLI, listed, then expired
        rc, out, err = dw_cli(d, "silence", "-c", "checking", "--duration", "10m", 'alertname="ApiDown"')
        assert rc == 0, err
        cid = out.strip()
        assert len(cid) == 36, out
        rc, out, err = dw_cli(d, "silences")
        assert rc == 0 and cid in out and sid in out and "checking" in out, out + err
        assert by_name(alerts(d), "ApiDown")[0]["status"]["silencedBy"] == [cid]
        rc, out, err = dw_cli(d, "unsilence", cid)
        assert rc == 0, err
        assert by_name(alerts(d), "ApiDown")[0]["status"]["state"] == "active"
        rc, out, err = dw_cli(d, "unsilence", cid)
        assert rc == 1 and "already expired" in err, err
        r = d.request("DELETE", "/api/v2/silence/" + sid, token="responder")
        assert r.status == 200, r.text

        # acknowledge through the CLI; the lifecycle shows it
        rc, out, err = dw_cli(d, "ack", down["fingerprint"], "-c", "on it")
        assert rc == 0, err
        lc = {a["fingerprint"]: a for a in lifecycle(d)}
        assert lc[down["fingerprint"]]["acknowledged"]["by"] == "responder", lc[down["fingerprint"]]
        assert lc[down["fingerprint"]]["state"] == "firing"
        rc, out, err = dw_cli(d, "list")
        assert rc == 0 and "ApiDown" in out and "P0" in out and "suppressed" in out, out + err
        rc, out, err = dw_cli(d, "list", "--all", "-o", "json")
        assert rc == 0 and len(json.loads(out)) >= 4, out + err

        # restart: the alerts are still there, with their lifecycle
        first = {a["fingerprint"]: a["firingAt"] for a in lifecycle(d)}
        d.stop()
        d.out_lines.clear()
        d.start()
        lc = {a["fingerprint"]: a for a in lifecycle(d)}
        for fp, firing_at in first.items():
            assert lc[fp]["firingAt"] == firing_at, (fp, lc[fp])
        assert len(alerts(d)) == 4

        # everything resolves
        for k in list(gates.values):
            gates.values[k] = 0
        wait_until(lambda: alerts(d) == [], 30, 0.2, "all alerts resolved")
        wait_until(lambda: all(a["state"] == "resolved" for a in lifecycle(d)), 10, 0.2,
                   "lifecycle resolved")
        assert groups(d) == [] or all(not g["alerts"] for g in groups(d))
        r = d.get("/api/v1/alerts/stats", token="viewer")
        stats = {s["alertname"]: s for s in r.json()["data"]}
        assert stats["ApiDown"]["fired"] == 1 and stats["ApiDown"]["acknowledgedShare"] == 1.0, stats
        assert stats["DiskFull"]["fired"] == 2 and stats["DiskFull"]["resolved"] == 2, stats
        rc, out, err = dw_cli(d, "stats")
        assert rc == 0 and "DiskFull" in out, out + err
    finally:
        if prom:
            stop_prometheus(prom)
        gates.close()
        rc, _ = d.stop()
        log = d.logs()
        shutil.rmtree(tmp, ignore_errors=True)
    assert rc == 0, log[-4000:]
    assert "ERROR: AddressSanitizer" not in log and "runtime error:" not in log, log[-4000:]


@test
def api_refusals_and_status():
    tmp = tempfile.mkdtemp(prefix="dwalert-")
    try:
        with Daemon(config=config(tmp), data=os.path.join(tmp, "data")) as d:
            body = '[{"labels":{"alertname":"X"}}]'
            assert d.post("/api/v2/alerts", data=body).status == 401
            assert d.post("/api/v2/alerts", token="viewer", data=body).status == 403
            r = d.post("/api/v2/alerts", token="responder", data="[{\"labels\":{\"1x\":\"y\"}}]")
            assert r.status == 400 and "invalid" in r.json(), r.text
            r = d.post("/api/v2/alerts", token="responder", data="{not json")
            assert r.status == 400 and "JSON" in r.json(), r.text
            r = d.post("/api/v2/alerts", token="responder", data=body)
            assert r.status == 200, r.text
            assert [a["labels"] for a in alerts(d)] == [{"alertname": "X"}]
            wait_until(lambda: 'dojowatch_alerts{state="firing"} 1' in d.get("/metrics").text, 5,
                       what="dojowatch_alerts gauge")
            m = d.get("/metrics").text
            assert 'dojowatch_alerts_received_total{result="invalid"} 1' in m, m
            r = d.get("/api/v2/alerts?filter=" + urllib.parse.quote('a=~"("'), token="viewer")
            assert r.status == 400, r.text
            r = d.get("/api/v2/alerts?active=maybe", token="viewer")
            assert r.status == 400, r.text
            r = d.get("/api/v2/silence/00000000-0000-0000-0000-000000000000", token="viewer")
            assert r.status == 404, r.text
            r = d.request("DELETE", "/api/v2/silence/nope", token="responder")
            assert r.status == 404, r.text
            r = d.post("/api/v2/silences", token="responder", data='{"matchers":[]}')
            assert r.status == 400, r.text
            r = d.get("/api/v2/status", token="viewer")
            st = r.json()
            assert st["cluster"]["status"] == "disabled" and "receiver: default" in st["config"]["original"]
            assert "versionInfo" in st and st["uptime"].endswith("Z"), st
            r = d.get("/api/v2/receivers", token="viewer")
            assert r.json() == [{"name": "default"}, {"name": "pager"}], r.text
            fp = alerts(d)[0]["fingerprint"]
            r = d.post("/api/v1/alerts/%s/false-positive" % fp, token="responder",
                       data={"comment": "test noise"})
            assert r.status == 200 and r.json()["data"]["by"] == "responder", r.text
            r = d.post("/api/v1/alerts/0123456789abcdef/ack", token="responder")
            assert r.status == 404, r.text
            r = d.post("/api/v1/alerts/xyz/ack", token="responder")
            assert r.status == 400, r.text
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@test
def bad_alerting_section_is_refused_and_reload_keeps_the_old():
    tmp = tempfile.mkdtemp(prefix="dwalert-")
    try:
        good = config(tmp)
        rc, out, err = cli("check-config", good)
        assert rc == 0, out + err
        with Daemon(config=good, data=os.path.join(tmp, "data")) as d:
            with open(good) as f:
                text = f.read()
            with open(good, "w") as f:
                f.write(text.replace("receiver: pager", "receiver: nobody"))
            r = d.post("/-/reload", token="admin")
            assert r.status == 400 and "nobody" in r.text, r.text
            r = d.get("/api/v2/receivers", token="viewer")
            assert r.json() == [{"name": "default"}, {"name": "pager"}]
            rc, out, err = cli("check-config", good)
            assert rc == 2 and "nobody" in err, out + err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@test
def cli_help_and_usage():
    rc, out, err = cli("alerts", "--help")
    assert rc == 0 and "silence" in out and "unsilence" in out
    for sub in ("list", "ack", "silence", "silences", "unsilence", "stats"):
        rc, out, err = cli("alerts", sub, "--help")
        assert rc == 0 and ("dojowatch alerts " + sub) in out, (sub, out, err)
    rc, out, err = cli("alerts", "silence", "-c", "x", 'a=~"("')
    assert rc == 2 and "regular expression" in err, err
    rc, out, err = cli("alerts", "silence", "alertname=X")
    assert rc == 2 and "--comment" in err, err
    rc, out, err = cli("alerts", "frobnicate")
    assert rc == 2, err


if __name__ == "__main__":
    run()
