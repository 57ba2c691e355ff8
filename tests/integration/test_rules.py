"""Integration tests of rule evaluation in the daemon: rule files named by the
configuration, recording and alerting rules over pushed data, ALERTS series,
Prometheus' /api/v1/rules and /api/v1/alerts, evaluation as data arrives,
check-config and reload rejecting a broken rule file at its line."""
import os
import shutil
import signal
import tempfile
import time
import urllib.parse

from collectcfg import config_with
from dwtest import TOKENS, Daemon, cli, run, test, wait_until

RULES = """groups:
  - name: api
    interval: 1s
    rules:
      - record: job:latency:max
        expr: max by (job) (latency_seconds)
      - alert: SlowAPI
        expr: job:latency:max > 0.5
        for: 2s
        labels: {priority: P1, plan_check: api-response-time}
        annotations:
          summary: "{{ $labels.job }} answers in {{ $value | humanizeDuration }}"
          instances: '{{ with query "count(latency_seconds)" }}{{ . | first | value }}{{ end }}'
      - alert: Down
        expr: up_gauge == 0
        labels: {priority: P0}
"""


def push(d, text):
    r = d.post("/api/v1/push", token=TOKENS["responder"], data=text.encode())
    assert r.status in (200, 204), r.text


def get(d, path):
    r = d.get(path, token=TOKENS["viewer"])
    assert r.status == 200, r.text
    return r.json()["data"]


def query(d, q):
    return get(d, "/api/v1/query?" + urllib.parse.urlencode({"query": q}))["result"]


def setup(tmp, rules=RULES):
    path = os.path.join(tmp, "api.rules.yml")
    with open(path, "w") as f:
        f.write(rules)
    cfg = config_with("scrape: {host: {enabled: false}}\nprobes: {checks: []}\n"
                      "rules:\n  files: ['%s']\n  evaluation_interval: 1s\n" % path, tmp)
    return path, cfg


@test
def rules_record_alert_and_show_in_the_api():
    tmp = tempfile.mkdtemp(prefix="dwrules-")
    try:
        _, cfg = setup(tmp)
        with Daemon(config=cfg) as d:
            deadline = time.time() + 20
            def firing():
                push(d, 'latency_seconds{job="api",instance="a"} 0.9\n')
                return any(a["state"] == "firing" for a in get(d, "/api/v1/alerts")["alerts"])
            wait_until(firing, 20, interval=0.3, what="SlowAPI firing")
            assert time.time() < deadline
            rec = query(d, "job:latency:max")
            assert rec and rec[0]["metric"] == {"__name__": "job:latency:max", "job": "api"}, rec
            alerts = get(d, "/api/v1/alerts")["alerts"]
            a = [x for x in alerts if x["labels"]["alertname"] == "SlowAPI"][0]
            assert a["labels"]["priority"] == "P1" and a["labels"]["job"] == "api", a
            assert a["annotations"]["summary"] == "api answers in 900ms", a
            assert a["annotations"]["instances"] == "1", a  # the templates' query function
            assert query(d, 'ALERTS{alertname="SlowAPI",alertstate="firing"}'), "ALERTS series"
            assert query(d, 'ALERTS_FOR_STATE{alertname="SlowAPI"}')
            # Handed to the alerter: the Alertmanager API shows it, grouped and routed.
            r = d.get("/api/v2/alerts", token=TOKENS["viewer"])
            assert r.status == 200, r.text
            am = [x for x in r.json() if x["labels"]["alertname"] == "SlowAPI"]
            assert am and am[0]["status"]["state"] == "active", r.text
            assert am[0]["annotations"]["summary"] == "api answers in 900ms", am
            groups = get(d, "/api/v1/rules")["groups"]
            assert groups[0]["name"] == "api" and groups[0]["interval"] == 1, groups
            kinds = [r["type"] for r in groups[0]["rules"]]
            assert kinds == ["recording", "alerting", "alerting"], kinds
            assert all(r["health"] == "ok" for r in groups[0]["rules"]), groups
            only = get(d, "/api/v1/rules?type=record")["groups"][0]["rules"]
            assert [r["name"] for r in only] == ["job:latency:max"]
            assert d.get("/api/v1/rules?type=x", token=TOKENS["viewer"]).status == 400
            # The threshold rule fires as the sample lands, not at the next interval.
            push(d, 'up_gauge{job="db"} 0\n')
            wait_until(lambda: any(x["labels"]["alertname"] == "Down"
                                   for x in get(d, "/api/v1/alerts")["alerts"]), 2,
                       what="Down firing on arrival")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@test
def broken_rule_file_is_rejected_with_its_line_and_reload_keeps_the_old_rules():
    tmp = tempfile.mkdtemp(prefix="dwrules-")
    try:
        path, cfg = setup(tmp)
        with Daemon(config=cfg) as d:
            wait_until(lambda: get(d, "/api/v1/rules")["groups"], 10, what="rules loaded")
            with open(path, "w") as f:
                f.write(RULES.replace("max by (job) (latency_seconds)", "max by (job (latency_seconds)"))
            rc, out, err = cli("check-config", cfg)
            assert rc == 2, (rc, out, err)
            assert "%s:6:" % path in out + err, out + err
            r = d.post("/-/reload", token=TOKENS["admin"])
            assert r.status >= 400, r.text
            assert "%s:6:" % path in r.text, r.text
            names = [x["name"] for x in get(d, "/api/v1/rules")["groups"][0]["rules"]]
            assert names == ["job:latency:max", "SlowAPI", "Down"], names
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run()
