"""Integration tests of the notify module's webhook channel: a rule on pushed
data fires a P0, the alerting section routes it to a receiver with
webhook_configs, and a stdlib webhook receiver gets Alertmanager's webhook v4
JSON (every documented field checked), then the resolve. Then at least once
across a kill -9: the receiver answers 503, the daemon is killed while it
retries, restarted, and delivers the same notification when the receiver
recovers. Plus check-config's position for a bad webhook url."""
import http.server
import json
import os
import re
import shutil
import socketserver
import tempfile
import threading
import time

from collectcfg import config_with
from dwtest import TOKENS, Daemon, cli, metric_value, run, test, wait_until

RULES = """groups:
  - name: notify-it
    interval: 1s
    rules:
      - alert: ItDown
        expr: it_notify_gate > 0
        labels: {priority: P0, service: api}
        annotations:
          summary: "gate {{ $labels.gate }} is open"
"""

ALERTING = """alerting:
  route:
    receiver: default
    group_by: [alertname]
    routes:
      - matchers: ['priority="P0"']
        receiver: pager
  receivers:
    - name: default
    - name: pager
      webhook_configs:
        - url: http://127.0.0.1:%d/hook
          send_resolved: true
          timeout: 2s
          http_config:
            authorization: {credentials: hook-token}
"""

TOP_KEYS = {"version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels",
            "commonLabels", "commonAnnotations", "externalURL", "alerts"}
ALERT_KEYS = {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL",
              "fingerprint"}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


class Receiver:
    """A webhook receiver answering `status` (settable) and recording every POST."""

    def __init__(self):
        self.status = 200
        self.posts = []  # (status answered, headers, decoded body)
        self.lock = threading.Lock()
        rx = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(n))
                with rx.lock:
                    status = rx.status
                    rx.posts.append((status, dict(self.headers), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def set_status(self, status):
        with self.lock:
            self.status = status

    def find(self, gate, status, answered=None):
        """Posts carrying an alert of this gate with this status."""
        with self.lock:
            posts = list(self.posts)
        return [p for p in posts
                if (answered is None or p[0] == answered)
                and any(a["labels"].get("gate") == gate and a["status"] == status
                        for a in p[2]["alerts"])]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def setup(tmp, rx):
    path = os.path.join(tmp, "notify.rules.yml")
    with open(path, "w") as f:
        f.write(RULES)
    return config_with("scrape: {host: {enabled: false}}\nprobes: {checks: []}\n"
                       "rules:\n  files: ['%s']\n  evaluation_interval: 1s\n" % path
                       + ALERTING % rx.port, tmp)


def push(d, text):
    r = d.post("/api/v1/push", token=TOKENS["responder"], data=text.encode())
    assert r.status in (200, 204), r.text


def check_v4(body, status, gate):
    assert set(body) == TOP_KEYS, sorted(body)
    assert body["version"] == "4"
    assert body["status"] == status, body
    assert body["receiver"] == "pager"
    assert body["groupKey"] == '{}/{priority="P0"}/0:{alertname="ItDown"}', body["groupKey"]
    assert body["truncatedAlerts"] == 0
    assert body["groupLabels"] == {"alertname": "ItDown"}, body["groupLabels"]
    assert body["commonLabels"] == {"alertname": "ItDown", "gate": gate, "priority": "P0",
                                    "service": "api"}, body["commonLabels"]
    assert body["commonAnnotations"] == {"summary": "gate %s is open" % gate}
    assert isinstance(body["externalURL"], str)
    assert len(body["alerts"]) == 1, body["alerts"]
    a = body["alerts"][0]
    assert set(a) == ALERT_KEYS, sorted(a)
    assert a["status"] == status
    assert a["labels"] == body["commonLabels"]
    assert a["annotations"] == {"summary": "gate %s is open" % gate}
    assert RFC3339.match(a["startsAt"]), a["startsAt"]
    if status == "firing":
        assert a["endsAt"] == "0001-01-01T00:00:00Z", a["endsAt"]
    else:
        assert RFC3339.match(a["endsAt"]) and a["endsAt"] > a["startsAt"], a
    assert isinstance(a["generatorURL"], str)
    assert re.match(r"^[0-9a-f]{16}$", a["fingerprint"]), a["fingerprint"]


@test
def webhook_gets_the_v4_json_then_the_resolve():
    tmp = tempfile.mkdtemp(prefix="dwnotify-")
    rx = Receiver()
    try:
        cfg = setup(tmp, rx)
        with Daemon(config=cfg) as d:
            push(d, 'it_notify_gate{gate="a"} 1\n')
            wait_until(lambda: rx.find("a", "firing"), 10, what="the firing webhook")
            _, headers, body = rx.find("a", "firing")[0]
            check_v4(body, "firing", "a")
            hdr = {k.lower(): v for k, v in headers.items()}
            assert hdr["content-type"] == "application/json", hdr
            assert hdr["authorization"] == "Bearer hook-token", hdr
            assert hdr["user-agent"].startswith("dojowatch/"), hdr
            push(d, 'it_notify_gate{gate="a"} 0\n')
            wait_until(lambda: rx.find("a", "resolved"), 10, what="the resolved webhook")
            check_v4(rx.find("a", "resolved")[0][2], "resolved", "a")
            assert len(rx.find("a", "firing")) == 1, "fired once"
            m = d.get("/metrics").text
            ok = metric_value(m, "dojowatch_notify_requests_total",
                              {"channel": "webhook", "receiver": "pager", "result": "success"})
            assert ok == 2, m
            assert metric_value(m, "dojowatch_notify_notifications_total",
                                {"channel": "webhook", "receiver": "pager",
                                 "result": "delivered"}) == 2
            assert "dojowatch_notify_request_duration_seconds_bucket" in m
    finally:
        rx.close()
        shutil.rmtree(tmp, ignore_errors=True)


@test
def kill9_while_the_receiver_fails_loses_nothing():
    tmp = tempfile.mkdtemp(prefix="dwnotify-")
    rx = Receiver()
    data = os.path.join(tmp, "data")
    try:
        cfg = setup(tmp, rx)
        rx.set_status(503)
        first = Daemon(config=cfg, data=data).start()
        try:
            push(first, 'it_notify_gate{gate="b"} 1\n')
            wait_until(lambda: len(rx.find("b", "firing")) >= 2, 15,
                       what="the notification retried while the receiver answers 503")
        finally:
            first.kill9()
            shutil.rmtree(first.tmp, ignore_errors=True)
        assert not rx.find("b", "firing", answered=200)
        tried = len(rx.find("b", "firing"))
        with Daemon(config=cfg, data=data) as d:
            wait_until(lambda: len(rx.find("b", "firing")) > tried, 15,
                       what="the restarted daemon retrying the unacknowledged event")
            rx.set_status(200)
            wait_until(lambda: rx.find("b", "firing", answered=200), 30,
                       what="delivery after the receiver recovered")
            check_v4(rx.find("b", "firing", answered=200)[0][2], "firing", "b")
            wait_until(lambda: metric_value(d.get("/metrics").text,
                                            "dojowatch_notify_notifications_total",
                                            {"channel": "webhook", "receiver": "pager",
                                             "result": "delivered"}) == 1,
                       5, what="the delivered counter")
    finally:
        rx.close()
        shutil.rmtree(tmp, ignore_errors=True)


@test
def check_config_points_at_a_bad_webhook():
    tmp = tempfile.mkdtemp(prefix="dwnotify-")
    rx = Receiver()
    try:
        cfg = setup(tmp, rx)
        with open(cfg) as f:
            text = f.read()
        with open(cfg, "w") as f:
            f.write(text.replace("url: http://127.0.0.1", "url: ftp://127.0.0.1"))
        with open(cfg) as f:
            line = 1 + f.read().split("url: ftp://")[0].count("\n")
        rc, out, err = cli("check-config", cfg)
        assert rc != 0, (rc, out, err)
        assert "%s:%d:" % (cfg, line) in out + err, out + err
        assert "webhook_configs" in out + err, out + err
    finally:
        rx.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run()
