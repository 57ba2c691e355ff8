"""Integration tests of ingestion: remote write, text import and push, and a
real Prometheus 2.42 sending remote write to dojowatch."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import rwproto
from dwtest import TOKENS, Daemon, metric_value, run, test, wait_until, free_port


def stored(d, path):
    return metric_value(d.get("/metrics").text, "dojowatch_ingest_samples_total", {"path": path}) or 0


def now_ms():
    return int(time.time() * 1000)


@test
def remote_write_stores_and_answers_204():
    with Daemon() as d:
        t = now_ms()
        series = [({"__name__": "rw_test", "job": "api", "i": str(i)}, [(t - 1000, 1.0), (t, 2.5)])
                  for i in range(50)]
        r = d.post("/api/v1/write", token="responder", data=rwproto.body(series), headers=rwproto.HEADERS)
        assert r.status == 204, (r.status, r.text)
        assert stored(d, "/api/v1/write") == 100
        # The same samples again are redundant (same values): still 204, nothing new stored.
        r = d.post("/api/v1/write", token="responder", data=rwproto.body(series), headers=rwproto.HEADERS)
        assert r.status == 204, (r.status, r.text)
        assert stored(d, "/api/v1/write") == 100
        # An older sample for an existing series is out of order: 400 naming it.
        old = [({"__name__": "rw_test", "job": "api", "i": "0"}, [(t - 5000, 9.0)])]
        r = d.post("/api/v1/write", token="responder", data=rwproto.body(old), headers=rwproto.HEADERS)
        assert r.status == 400 and "out of order" in r.json()["error"], r.text


@test
def remote_write_rejects_bad_requests_whole():
    with Daemon() as d:
        t = now_ms()
        good = ({"__name__": "ok_metric"}, [(t, 1.0)])
        bad = ({"__name__": "bad metric name"}, [(t, 1.0)])
        r = d.post("/api/v1/write", token="responder", data=rwproto.body([good, bad]), headers=rwproto.HEADERS)
        assert r.status == 400, (r.status, r.text)
        assert r.json()["status"] == "error" and r.json()["errorType"] == "bad_data"
        assert stored(d, "/api/v1/write") == 0  # nothing of the request was stored
        r = d.post("/api/v1/write", token="responder", data=b"\x05garbage", headers=rwproto.HEADERS)
        assert r.status == 400, r.status
        hdr = dict(rwproto.HEADERS, **{"Content-Type": "application/json"})
        r = d.post("/api/v1/write", token="responder", data=rwproto.body([good]), headers=hdr)
        assert r.status == 415, r.status
        r = d.post("/api/v1/write", token="viewer", data=rwproto.body([good]), headers=rwproto.HEADERS)
        assert r.status == 403, r.status
        r = d.post("/api/v1/write", data=rwproto.body([good]), headers=rwproto.HEADERS)
        assert r.status == 401, r.status
        assert d.get("/-/healthy").status == 200


@test
def import_text_with_timestamps_and_extra_labels():
    with Daemon() as d:
        t = now_ms()
        text = ("# TYPE http_requests_total counter\n"
                'http_requests_total{code="200"} 10 %d\n'
                'http_requests_total{code="500"} 1 %d\n'
                "up 1\n") % (t - 15000, t - 15000)
        r = d.post("/api/v1/import/prometheus?extra_label=job=web", token="responder", data=text)
        assert r.status == 204, (r.status, r.text)
        assert stored(d, "/api/v1/import/prometheus") == 3
        r = d.post("/api/v1/import/prometheus", token="responder", data='bad{code="200" 1\n')
        assert r.status == 400 and "line 1" in r.json()["error"], r.text
        r = d.post("/api/v1/import/prometheus?extra_label=novalue", token="responder", data="up 1\n")
        assert r.status == 400 and "extra_label" in r.json()["error"], r.text
        assert stored(d, "/api/v1/import/prometheus") == 3


@test
def push_stamps_on_arrival_and_refuses_timestamps():
    with Daemon() as d:
        r = d.post("/api/v1/push", token="responder", data="queue_depth 7\nworkers 3\n")
        assert r.status == 204, (r.status, r.text)
        assert stored(d, "/api/v1/push") == 2
        r = d.post("/api/v1/push", token="responder", data="queue_depth 7 %d\n" % now_ms())
        assert r.status == 400 and "takes no timestamps" in r.json()["error"], r.text
        assert stored(d, "/api/v1/push") == 2


@test
def ingest_body_limit_is_32_mib():
    with Daemon() as d:
        # One byte more than 32 MiB is refused from the headers alone when the
        # client waits for 100 Continue, and so is a body far beyond the limit.
        for length, expect in ((32 * 1024 * 1024 + 1, "Expect: 100-continue\r\n"),
                               (200 * 1024 * 1024, "")):
            with socket.create_connection(("127.0.0.1", d.port), timeout=10) as s:
                s.sendall(("POST /api/v1/import/prometheus HTTP/1.1\r\nHost: x\r\n"
                           "Authorization: Bearer %s\r\nContent-Length: %d\r\n%s\r\n"
                           % (TOKENS["responder"], length, expect)).encode())
                reply = s.recv(4096).decode()
            assert reply.startswith("HTTP/1.1 413"), (length, reply)
            assert "limits.max_ingest_body_bytes" in reply, reply
        # Exactly 32 MiB is accepted by the limit (and then parsed: it is garbage).
        body = b"#" + b"x" * (32 * 1024 * 1024 - 2) + b"\n"
        r = d.post("/api/v1/import/prometheus", token="responder", data=body, timeout=60)
        assert r.status in (204, 400), r.status
        assert d.get("/-/healthy").status == 200


def limited_config(tmp):
    """The example with tiny storage limits, written into tmp."""
    import re
    from dwtest import EXAMPLE
    text = open(EXAMPLE).read()
    small = ("storage:\n  wal_fsync: always\n  max_series: 3\n  max_labels_per_series: 3\n"
             "  max_label_name_bytes: 8\n  max_label_value_bytes: 10\n"
             "  max_samples_per_request: 5\n")
    text, n = re.subn(r"(?m)^storage:\n(?:  .*\n)+", small, text)
    assert n == 1
    path = os.path.join(tmp, "limited.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


@test
def storage_limits_refuse_the_request_whole():
    tmp = tempfile.mkdtemp(prefix="dwit-lim-")
    try:
        with Daemon(config=limited_config(tmp)) as d:
            t = now_ms()

            def write(series):
                return d.post("/api/v1/write", token="responder", data=rwproto.body(series),
                              headers=rwproto.HEADERS)

            cases = [
                # (series, words the reason must contain)
                ([({"__name__": "m", "a": "1", "b": "2", "c": "3"}, [(t, 1.0)])], "max_labels"),
                ([({"__name__": "m", "abcdefghi": "1"}, [(t, 1.0)])], "label name of 9 bytes"),
                ([({"__name__": "m", "i": "0123456789a"}, [(t, 1.0)])], "has 11 bytes"),
                ([({"__name__": "m", "i": "0"}, [(t + k, 1.0) for k in range(6)])],
                 "more than 5 samples"),
                ([({"__name__": "m", "i": str(k)}, [(t, 1.0)]) for k in range(4)], "max_series"),
            ]
            for series, why in cases:
                r = write(series)
                assert r.status == 400, (why, r.status, r.text)
                assert why in r.json()["error"], (why, r.text)
                assert stored(d, "/api/v1/write") == 0, why  # nothing of it was stored
            # Exactly at every limit is accepted.
            at = [({"__name__": "m", "abcdefgh": "0123456789"}, [(t + k, 1.0) for k in range(2)]),
                  ({"__name__": "m", "i": "1"}, [(t, 1.0)]),
                  ({"__name__": "m", "i": "2"}, [(t, 1.0)])]
            r = write(at)
            assert r.status == 204, r.text
            assert stored(d, "/api/v1/write") == 4
            # The head is full: one more series is refused, known ones still take samples.
            r = write([({"__name__": "m", "i": "3"}, [(t + 5, 1.0)])])
            assert r.status == 400 and "max_series" in r.json()["error"], r.text
            r = write([({"__name__": "m", "i": "2"}, [(t + 5, 2.0)])])
            assert r.status == 204, r.text
    finally:
        shutil.rmtree(tmp, ignore_errors=True)



@test
def real_prometheus_remote_writes_to_dojowatch():
    prom = shutil.which("prometheus")
    assert prom, "prometheus (Debian package) is not installed: scripts/deps.sh test installs it"
    with Daemon() as d:
        tmp = tempfile.mkdtemp(prefix="dwprom-")
        port = free_port()
        cfg = os.path.join(tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("""global:
  scrape_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:%d']
remote_write:
  - url: http://127.0.0.1:%d/api/v1/write
    authorization:
      credentials: %s
    queue_config:
      batch_send_deadline: 1s
""" % (port, d.port, TOKENS["responder"]))
        p = subprocess.Popen([prom, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(tmp, "data"),
                              "--web.listen-address=127.0.0.1:%d" % port],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:
            wait_until(lambda: stored(d, "/api/v1/write") > 100, timeout=60, interval=0.5,
                       what="samples from Prometheus")
            m = d.get("/metrics").text
            assert metric_value(m, "dojowatch_ingest_requests_rejected_total", {"path": "/api/v1/write"}) is None, m
        finally:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
            shutil.rmtree(tmp, ignore_errors=True)


run()
