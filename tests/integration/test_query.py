"""Integration tests of the Prometheus query API (/api/v1/query, query_range,
series, labels, label values, metadata, status, exemplars) and of the
`dojowatch query` / `query-range` commands: a daemon loaded with a known hour
of samples, exact JSON answers, Prometheus's error messages, the requests
Grafana 10 sends when a data source is added, promtool as a client, the same
requests answered byte for byte like a real Prometheus 2.42 holding the same
samples, limits from the configuration, timeouts and cancellation."""
import atexit
import http.client
import http.server
import json
import math
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

from collectcfg import config_with
from dwtest import EXAMPLE, TOKENS, Daemon, cli, env_with_tokens, metric_value, run, test, wait_until, free_port

T0 = 1700000000  # first sample (2023-11-14T22:13:20Z); one every 15 s for an hour
T = T0 + 3600    # the last sample
# Seconds of CPU in a range query over 5,500 steps (HEAVY_RANGE), holding about 420,000 samples.
HEAVY = "quantile_over_time(0.5, vector(time())[1d:1s])"
HEAVY_RANGE = {"query": HEAVY, "start": 0, "end": 330000, "step": 60}


def dataset(seconds):
    """The samples as Prometheus text (ms timestamps) or OpenMetrics (s), the same for both."""
    fams = {}

    def s(name, labels, v, t):
        lab = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
        ts = t if seconds else t * 1000
        fam = name[:-len("_bucket")] if name.endswith("_bucket") else name
        fams.setdefault(fam, []).append("%s{%s} %r %d" % (name, lab, float(v), ts))

    for i in range(241):
        t = T0 + 15 * i
        s("req_total", {"job": "api", "instance": "a", "code": "200"}, 10 * i, t)
        s("req_total", {"job": "api", "instance": "b", "code": "500"}, (i % 100) * 3, t)  # resets
        s("up", {"job": "api", "instance": "a"}, 1, t)
        if i < 120:  # instance b stops half-way
            s("up", {"job": "api", "instance": "b"}, 0, t)
        s("up", {"job": "db", "instance": "c"}, 1, t)
        s("temp_celsius", {"room": "x"}, 20 + 5 * math.sin(i / 10.0), t)
        for le, frac in (("0.1", 0.5), ("0.5", 0.8), ("1", 0.95), ("+Inf", 1.0)):
            s("lat_seconds_bucket", {"job": "api", "le": le}, int(i * 4 * frac), t)
    out = []
    if seconds:
        out += ["# TYPE req_total counter", "# TYPE up gauge", "# TYPE temp_celsius gauge",
                "# TYPE lat_seconds histogram"]
    for lines in fams.values():
        out += lines
    if seconds:
        out.append("# EOF")
    return "\n".join(out) + "\n"


# ---- one daemon (and one reference Prometheus) shared by the tests ----

_shared = {}


def daemon():
    if "d" not in _shared:
        # Only the imported samples: no host collector, probes or rules writing series of
        # their own (they would show in label lists the reference Prometheus does not have).
        quiet = config_with("scrape: {host: {enabled: false}}\nprobes: {checks: []}\n"
                            "rules: {files: []}\n")
        d = Daemon(config=quiet, args=["--retention", "100y"])  # the samples are from 2023
        d.start()
        _shared["d"] = d
        r = d.post("/api/v1/import/prometheus", token="responder", data=dataset(False))
        assert r.status == 204, (r.status, r.text)
    return _shared["d"]



def prometheus():
    """A real Prometheus 2.42 serving the same samples from a block promtool made."""
    if "p" not in _shared:
        prom, promtool = shutil.which("prometheus"), shutil.which("promtool")
        assert prom and promtool, "prometheus/promtool missing: scripts/deps.sh test installs them"
        tmp = tempfile.mkdtemp(prefix="dwprom-")
        with open(os.path.join(tmp, "data.om"), "w") as f:
            f.write(dataset(True))
        with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1h\n")
        subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics",
                        os.path.join(tmp, "data.om"), os.path.join(tmp, "data")],
                       check=True, capture_output=True)
        port = free_port()
        p = subprocess.Popen([prom, "--config.file=" + os.path.join(tmp, "prometheus.yml"),
                              "--storage.tsdb.path=" + os.path.join(tmp, "data"),
                              "--storage.tsdb.retention.time=100y",
                              "--web.listen-address=127.0.0.1:%d" % port],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL)
        _shared["p"] = (p, port, tmp)

        def ready():
            try:
                return call(port, None, "GET", "/-/ready")[0] == 200
            except OSError:
                return False
        wait_until(ready, timeout=30, interval=0.2, what="prometheus to start")
    return _shared["p"][1]


def call(port, token, method, path, params=None, headers=None, timeout=30):
    """One request with params as query string (GET) or form body (POST); (status, headers, body)."""
    hdrs = dict(headers or {})
    if token:
        hdrs["Authorization"] = "Bearer " + TOKENS.get(token, token)
    body = None
    if params is not None:
        enc = urllib.parse.urlencode(params, doseq=True)
        if method == "GET":
            path += "?" + enc
        else:
            body = enc.encode()
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request(method, path, body=body, headers=hdrs)
    r = conn.getresponse()
    out = (r.status, dict(r.getheaders()), r.read().decode())
    conn.close()
    return out


def api(method, path, params=None, token="viewer", headers=None, timeout=30):
    return call(daemon().port, token, method, path, params, headers, timeout)


def ok_json(method, path, params=None, **kw):
    status, hdrs, body = api(method, path, params, **kw)
    assert status == 200, (path, params, status, body)
    assert hdrs.get("Content-Type") == "application/json", hdrs
    doc = json.loads(body)
    assert doc["status"] == "success", body
    return doc


def error(method, path, params, status, etype, message, token="viewer"):
    got, hdrs, body = api(method, path, params, token=token)
    assert got == status, (path, params, got, body)
    doc = json.loads(body)
    assert doc == {"status": "error", "errorType": etype, "error": doc.get("error")}, body
    assert message in doc["error"], (message, doc["error"])
    return doc


def up_series(instance, job):
    return {"__name__": "up", "instance": instance, "job": job}


# ---- the answers ----

@test
def instant_query_shapes_and_values():
    # Instance b stopped half-way: older than the 5 m lookback at T, so absent.
    status, _, body = api("GET", "/api/v1/query", {"query": "up", "time": T})
    assert status == 200
    assert body == ('{"status":"success","data":{"resultType":"vector","result":['
                    '{"metric":{"__name__":"up","instance":"a","job":"api"},"value":[1700003600,"1"]},'
                    '{"metric":{"__name__":"up","instance":"c","job":"db"},"value":[1700003600,"1"]}]}}'), body
    d = ok_json("GET", "/api/v1/query", {"query": "up", "time": T0 + 600})["data"]
    assert [s["metric"] for s in d["result"]] == [up_series("a", "api"), up_series("b", "api"),
                                                  up_series("c", "db")]
    # 10 per 15 s is 2/3 per second; Prometheus's extrapolation gives the last digit.
    d = ok_json("GET", "/api/v1/query", {"query": 'rate(req_total{code="200"}[5m])', "time": T})["data"]
    assert d["result"] == [{"metric": {"code": "200", "instance": "a", "job": "api"},
                            "value": [T, "0.6666666666666667"]}], d
    status, _, body = api("POST", "/api/v1/query", {"query": "1+1", "time": "4"})
    assert (status, body) == (200, '{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}')
    d = ok_json("GET", "/api/v1/query", {"query": '"hello"', "time": "7"})["data"]
    assert d == {"resultType": "string", "result": [7, "hello"]}, d
    # A range selector at the top: the raw samples in [t - 1m, t], both ends included (2.42).
    d = ok_json("GET", "/api/v1/query", {"query": 'up{instance="a"}[1m]', "time": T})["data"]
    assert d["resultType"] == "matrix"
    assert d["result"][0]["values"] == [[T - 60 + 15 * k, "1"] for k in range(5)], d
    # Special values are strings; no "warnings" member when there are none.
    doc = ok_json("GET", "/api/v1/query", {"query": "vector(1) / 0 or vector(0) / 0", "time": T})
    assert doc["data"]["result"][0]["value"][1] == "+Inf" and "warnings" not in doc, doc
    d = ok_json("GET", "/api/v1/query", {"query": "-vector(0)/0", "time": T})["data"]
    assert d["result"][0]["value"][1] == "NaN", d


@test
def range_query_shapes_and_steps():
    d = ok_json("GET", "/api/v1/query_range",
                {"query": "sum by (job) (up)", "start": T - 600, "end": T, "step": 300})["data"]
    assert d == {"resultType": "matrix", "result": [
        {"metric": {"job": "api"}, "values": [[T - 600, "1"], [T - 300, "1"], [T, "1"]]},
        {"metric": {"job": "db"}, "values": [[T - 600, "1"], [T - 300, "1"], [T, "1"]]}]}, d
    # step as a float of seconds or a duration; RFC 3339 times; a scalar becomes a series.
    for step in ("90", "1m30s", "90.0"):
        d = ok_json("POST", "/api/v1/query_range",
                    {"query": "time()", "start": "2023-11-14T23:03:20Z", "end": T, "step": step})["data"]
        assert d["result"] == [{"metric": {}, "values": [[T - 600 + 90 * k, str(T - 600 + 90 * k)]
                                                          for k in range(7)]}], (step, d)
    # Fractional steps: timestamps are written with three decimals, like Prometheus.
    status, _, body = api("GET", "/api/v1/query_range", {"query": "1", "start": T, "end": T + 3, "step": "1.5"})
    assert '"values":[[1700003600,"1"],[1700003601.500,"1"],[1700003603,"1"]]' in body, body


@test
def series_labels_and_values():
    d = ok_json("GET", "/api/v1/series", {"match[]": "up"})["data"]
    assert d == [up_series("a", "api"), up_series("b", "api"), up_series("c", "db")], d
    # Several selectors: merged, sorted, each series once.
    d = ok_json("POST", "/api/v1/series", {"match[]": ['up{job="db"}', "temp_celsius", "up"]})["data"]
    assert d == [{"__name__": "temp_celsius", "room": "x"}, up_series("a", "api"),
                 up_series("b", "api"), up_series("c", "db")], d
    # start/end restrict to series with samples in the range.
    d = ok_json("GET", "/api/v1/series", {"match[]": "up", "start": T - 600, "end": T})["data"]
    assert d == [up_series("a", "api"), up_series("c", "db")], d
    assert ok_json("GET", "/api/v1/series", {"match[]": "up", "end": T0 - 3600})["data"] == []
    d = ok_json("GET", "/api/v1/labels")["data"]
    assert d == ["__name__", "code", "instance", "job", "le", "room"], d
    d = ok_json("POST", "/api/v1/labels", {"match[]": ["temp_celsius", "up"]})["data"]
    assert d == ["__name__", "instance", "job", "room"], d
    d = ok_json("GET", "/api/v1/label/__name__/values")["data"]
    assert d == ["lat_seconds_bucket", "req_total", "temp_celsius", "up"], d
    d = ok_json("GET", "/api/v1/label/instance/values", {"match[]": "up", "start": T - 60, "end": T})["data"]
    assert d == ["a", "c"], d
    assert ok_json("GET", "/api/v1/label/nope/values")["data"] == []


@test
def metadata_status_and_exemplars():
    # The ingest path keeps no HELP/TYPE, so metadata is an empty object.
    assert ok_json("GET", "/api/v1/metadata")["data"] == {}
    assert ok_json("GET", "/api/v1/metadata", {"metric": "up", "limit": "5"})["data"] == {}
    d = ok_json("GET", "/api/v1/status/buildinfo")["data"]
    assert set(d) == {"version", "revision", "branch", "buildUser", "buildDate", "goVersion"}, d
    assert re.match(r"^\d+\.\d+\.\d+", d["version"]), d
    d = ok_json("GET", "/api/v1/status/runtimeinfo")["data"]
    for k in ("startTime", "CWD", "reloadConfigSuccess", "lastConfigTime", "corruptionCount",
              "goroutineCount", "GOMAXPROCS", "GOGC", "GODEBUG", "storageRetention"):
        assert k in d, (k, d)
    assert d["reloadConfigSuccess"] is True and d["storageRetention"] == "90d", d
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", d["startTime"]), d
    assert ok_json("POST", "/api/v1/query_exemplars",
                   {"query": "up", "start": T - 60, "end": T})["data"] == []
    status, _, body = api("GET", "/api/v1/query_exemplars", {"query": "1"})
    assert (status, body) == (204, ""), (status, body)  # no selector: Prometheus's "no data"


@test
def errors_match_prometheus_messages():
    q, qr, se = "/api/v1/query", "/api/v1/query_range", "/api/v1/series"
    error("GET", q, {"query": "sum(up"}, 400, "bad_data",
          'invalid parameter "query": 1:7: parse error: unclosed left parenthesis')
    error("GET", q, {"query": ""}, 400, "bad_data",
          'invalid parameter "query": 1:1: parse error: no expression found in input')
    error("GET", q, {"query": "up", "time": "yesterday"}, 400, "bad_data",
          'invalid parameter "time": Invalid time value for \'time\': cannot parse "yesterday" to a valid timestamp')
    error("GET", q, {"query": "up", "timeout": "soon"}, 400, "bad_data",
          'invalid parameter "timeout": cannot parse "soon" to a valid duration')
    error("GET", qr, {"query": "up", "start": T, "end": T - 1, "step": 1}, 400, "bad_data",
          'invalid parameter "end": end timestamp must not be before start time')
    error("GET", qr, {"query": "up", "start": 0, "end": 11001, "step": 1}, 400, "bad_data",
          "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
    d = ok_json("GET", qr, {"query": "1", "start": 0, "end": 11000, "step": 1})["data"]
    assert len(d["result"][0]["values"]) == 11001
    for step in ("0", "-15"):
        error("GET", qr, {"query": "up", "start": 0, "end": 10, "step": step}, 400, "bad_data",
              'invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer')
    error("GET", qr, {"query": "up", "start": 0, "end": 10}, 400, "bad_data",
          'invalid parameter "step": cannot parse "" to a valid duration')
    error("GET", qr, {"query": "up", "end": 10, "step": 1}, 400, "bad_data",
          'invalid parameter "start": cannot parse "" to a valid timestamp')
    error("GET", qr, {"query": "up[5m]", "start": 0, "end": 10, "step": 1}, 400, "bad_data",
          'invalid expression type "range vector" for range query, must be Scalar or instant Vector')
    error("GET", se, {}, 400, "bad_data", "no match[] parameter provided")
    error("GET", se, {"match[]": '{job=""}'}, 400, "bad_data",
          'invalid parameter "match[]": match[] must contain at least one non-empty matcher')
    error("GET", se, {"match[]": "up", "start": "x"}, 400, "bad_data",
          'invalid parameter "start": Invalid time value for \'start\': cannot parse "x" to a valid timestamp')
    error("GET", "/api/v1/labels", {"match[]": "up{"}, 400, "bad_data", "1:4: parse error")
    error("GET", "/api/v1/label/1x/values", None, 400, "bad_data", 'invalid label name: "1x"')
    error("GET", "/api/v1/metadata", {"limit": "ten"}, 400, "bad_data", "limit must be a number")
    error("GET", "/api/v1/query_exemplars", {"query": "up", "start": 10, "end": 5}, 400, "bad_data",
          "end timestamp must not be before start timestamp")
    error("GET", "/api/v1/nope", None, 404, "not_found", "no route for GET /api/v1/nope")
    status, hdrs, _ = api("DELETE", se)
    assert status == 405 and hdrs.get("Allow") == "GET, POST", (status, hdrs)
    # Evaluation errors: 422 execution, like Prometheus.
    error("GET", q, {"query": "up + on(job) up", "time": T0 + 600}, 422, "execution",
          "many-to-many matching not allowed: matching labels must be unique on one side")


@test
def access_needs_a_viewer_token():
    for path in ("/api/v1/query?query=up", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels",
                 "/api/v1/label/job/values", "/api/v1/metadata", "/api/v1/status/buildinfo",
                 "/api/v1/status/runtimeinfo", "/api/v1/query_exemplars"):
        status, hdrs, body = api("GET", path, token=None)
        assert status == 401 and "missing bearer token" in body, (path, status, body)
        assert hdrs.get("WWW-Authenticate") == 'Bearer realm="dojowatch"', hdrs
        status, _, body = api("GET", path, token="not-a-token")
        assert status == 401 and "unknown bearer token" in body, (path, status, body)
    status, _, body = api("POST", "/api/v1/query", {"query": "1"}, token=None)
    assert status == 401, (status, body)  # refused before the body is read
    status, _, body = api("GET", "/api/v1/query", {"query": "up"}, token=None,
                          headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert status == 401 and "unsupported authorization scheme" in body, body
    for role in ("viewer", "responder", "admin"):
        assert ok_json("GET", "/api/v1/query", {"query": "1", "time": T}, token=role)["data"]["result"] == [T, "1"]
    # 403 is for a lower role: a viewer token may read but not write.
    status, _, body = api("POST", "/api/v1/import/prometheus", token="viewer", headers={},
                          params={"x": "1"})
    assert status == 403 and "needs the responder role" in body, (status, body)


@test
def post_form_answers_like_get():
    for path, params in (("/api/v1/query", {"query": "sum(rate(req_total[5m])) by (code)", "time": T}),
                         ("/api/v1/query_range", {"query": "up", "start": T - 300, "end": T, "step": 60}),
                         ("/api/v1/series", {"match[]": ["up", "temp_celsius"], "end": T}),
                         ("/api/v1/labels", {"match[]": "req_total", "start": T0})):
        g, p = api("GET", path, params), api("POST", path, params)
        assert g[0] == p[0] == 200 and g[2] == p[2], (path, g, p)
    # Form values win over the query string (Go's r.Form order).
    d = ok_json("POST", "/api/v1/query?query=up&time=%d" % T, {"query": "2", "time": T})["data"]
    assert d["result"] == [T, "2"], d


# ---- the clients: Grafana, promtool, Prometheus as the reference ----

@test
def grafana_10_adds_the_data_source():
    """What Grafana 10 sends on "Save & test" and when the query editor opens: the backend
    health check (instant 1+1 at t=4, POST form), buildinfo for its heuristics (no
    "features" means Prometheus, not Mimir), then the editor's label values, metadata,
    labels and series (POST, the default HTTP method), and panel range queries and
    exemplars. Grafana formats times as Unix seconds (FormatFloat 'f', -1)."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, hdrs, body = api("POST", "/api/v1/query", {"query": "1+1", "time": "4"}, headers=form)
    assert (status, body) == (200, '{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}'), body
    assert hdrs["Content-Type"] == "application/json"
    d = ok_json("GET", "/api/v1/status/buildinfo")["data"]
    assert "features" not in d and d["version"], d
    start, end = str(T - 3600), str(T)
    assert "up" in ok_json("GET", "/api/v1/label/__name__/values", {"start": start, "end": end})["data"]
    assert ok_json("GET", "/api/v1/metadata")["data"] == {}
    assert "job" in ok_json("POST", "/api/v1/labels", {"start": start, "end": end})["data"]
    d = ok_json("POST", "/api/v1/series", {"match[]": "up", "start": start, "end": end})["data"]
    assert up_series("a", "api") in d, d
    d = ok_json("POST", "/api/v1/query_range",
                {"query": 'sum(rate(req_total{job="api"}[1m]))', "start": "1700000300",
                 "end": "1700003600", "step": "15"})["data"]
    assert d["resultType"] == "matrix" and len(d["result"][0]["values"]) == 221, d
    assert ok_json("POST", "/api/v1/query_exemplars", {"query": "up", "start": start, "end": end})["data"] == []
    # The Prometheus Go client (Grafana's backend resource calls, promtool) sends its
    # sentinel min/max times for open ranges.
    d = ok_json("GET", "/api/v1/series", {"match[]": "up", "start": "-292273086-05-16T16:47:06Z",
                                          "end": "292277025-08-18T07:12:54.999999999Z"})["data"]
    assert len(d) == 3, d


# Requests answered byte for byte like Prometheus 2.42 with the same samples.
SAME_AS_PROMETHEUS = [
    ("query", {"query": "up", "time": T}),
    ("query", {"query": "up", "time": T - 1800}),
    ("query", {"query": "rate(req_total[5m])", "time": T}),
    ("query", {"query": "increase(req_total[10m])", "time": T - 600}),
    ("query", {"query": "sum by (job) (rate(req_total[5m]))", "time": T}),
    ("query", {"query": "histogram_quantile(0.9, rate(lat_seconds_bucket[5m]))", "time": T}),
    ("query", {"query": "topk(1, temp_celsius)", "time": T}),
    ("query", {"query": "avg_over_time(temp_celsius[10m])", "time": T}),
    ("query", {"query": "temp_celsius[1m]", "time": T}),
    ("query", {"query": "up == 0", "time": T - 2000}),
    ("query", {"query": "count(up) by (job)", "time": T}),
    ("query", {"query": "absent(nope)", "time": T}),
    ("query", {"query": "label_replace(up, \"x\", \"$1\", \"instance\", \"(.*)\")", "time": T}),
    ("query", {"query": "up", "time": T + 3600}),
    ("query", {"query": "deriv(temp_celsius[10m])", "time": T}),
    ("query", {"query": "1+1", "time": "4"}),
    ("query", {"query": "vector(time())", "time": "2023-11-14T23:13:20.5Z"}),
    ("query", {"query": "up + on(job) up", "time": T0 + 600}),
    ("query", {"query": "vector(time())", "time": "1700003600.0005"}),
    ("query", {"query": "sum(up", "time": T}),
    ("query", {"query": "up", "time": "noon"}),
    ("query", {"query": "up", "timeout": "1.5m"}),
    ("query_range", {"query": "up", "start": T - 3600, "end": T, "step": 300}),
    ("query_range", {"query": "rate(req_total[5m])", "start": T - 3600, "end": T, "step": "2m"}),
    ("query_range", {"query": "sum(rate(req_total[1m]))", "start": T - 600, "end": T, "step": 45}),
    ("query_range", {"query": "temp_celsius", "start": T - 100, "end": T, "step": 7.5}),
    ("query_range", {"query": "max_over_time(temp_celsius[5m:30s])", "start": T - 600, "end": T, "step": 60}),
    ("query_range", {"query": "up", "start": T + 600, "end": T + 1200, "step": 60}),
    ("query_range", {"query": "1+", "start": 0, "end": 10, "step": 1}),
    ("query_range", {"query": "\"s\"", "start": 0, "end": 10, "step": 1}),
    ("query_range", {"query": "up", "start": 0, "end": 10, "step": "1e20"}),
    ("query_range", {"query": "up", "start": 0, "end": 10, "step": "0.0001"}),
    ("series", {"match[]": ["up", "req_total{code=\"500\"}"]}),
    ("series", {"match[]": "up", "start": T - 600, "end": T}),
    ("series", {"match[]": "{__name__=~\"req.*|temp.*\"}"}),
    ("series", {"match[]": "{__name__=~\".*\"}"}),
    ("labels", {}),
    ("labels", {"match[]": ["temp_celsius", "up"]}),
    ("labels", {"start": T - 60, "end": T}),
    ("labels", {"match[]": "{a=\"\"}"}),
    ("label/__name__/values", {}),
    ("label/instance/values", {"match[]": "up"}),
    ("label/le/values", {"start": T + 100000}),
    ("metadata", {}),
    ("query_exemplars", {"query": "up"}),
    ("query_exemplars", {"query": "up", "start": 5, "end": 1}),
]


@test
def same_answers_as_prometheus_2_42():
    pport = prometheus()
    diffs = []
    for ep, params in SAME_AS_PROMETHEUS:
        for method in ("GET",) if ep.startswith("label/") or ep == "metadata" else ("GET", "POST"):
            want = call(pport, None, method, "/api/v1/" + ep, params)
            got = api(method, "/api/v1/" + ep, params)
            if (want[0], want[2]) != (got[0], got[2]):
                diffs.append("%s %s %s\n  prometheus: %s %s\n  dojowatch:  %s %s" % (
                    method, ep, params, want[0], want[2][:400], got[0], got[2][:400]))
    assert not diffs, "\n".join(diffs)


class _BearerProxy(http.server.BaseHTTPRequestHandler):
    """Forwards to the daemon adding the viewer token: promtool 2.42's query instant,
    series and labels have no flag for headers."""
    target = None

    def _forward(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        hdrs = {k: v for k, v in self.headers.items() if k.lower() in ("content-type",)}
        hdrs["Authorization"] = "Bearer " + TOKENS["viewer"]
        conn = http.client.HTTPConnection("127.0.0.1", self.target, timeout=60)
        conn.request(self.command, self.path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() in ("content-type",):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_POST = _forward

    def log_message(self, *args):
        pass


@test
def promtool_queries_dojowatch():
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian prometheus package) missing: scripts/deps.sh test installs it"
    d = daemon()
    _BearerProxy.target = d.port
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BearerProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    via = "http://127.0.0.1:%d" % proxy.server_address[1]
    try:
        def tool(*args):
            p = subprocess.run([promtool, "query"] + list(args), capture_output=True, text=True, timeout=60)
            assert p.returncode == 0, (args, p.returncode, p.stdout, p.stderr)
            return p.stdout

        out = tool("instant", "--time=%d" % T, via, "up")
        assert 'up{instance="a", job="api"} => 1 @[%d]' % T in out, out
        assert 'up{instance="c", job="db"} => 1 @[%d]' % T in out, out
        out = json.loads(tool("instant", "-o", "json", "--time=2023-11-14T23:13:20Z", via,
                              'rate(req_total{code="200"}[5m])'))
        assert out == [{"metric": {"code": "200", "instance": "a", "job": "api"},
                        "value": [T, "0.6666666666666667"]}], out
        out = tool("instant", "--time=%d" % T, via, "1+1")
        assert out.strip() == "scalar: 2 @[%d]" % T, out
        # query range sends its own headers: straight to the daemon with the token.
        out = tool("range", "--header=Authorization=Bearer " + TOKENS["viewer"],
                   "--start=%d" % (T - 120), "--end=%d" % T, "--step=1m",
                   "http://127.0.0.1:%d" % d.port, 'up{job="db"}')
        assert out.split("\n")[0] == 'up{instance="c", job="db"} =>', out
        assert "1 @[%d]" % (T - 120) in out and "1 @[%d]" % T in out, out
        span = ("--start=%d" % T0, "--end=%d" % T)  # promtool's defaults are relative to now
        out = json.loads(tool("series", "-o", "json", "--match=up", *span, via))
        assert out == [up_series("a", "api"), up_series("b", "api"), up_series("c", "db")], out
        out = tool("labels", "--match=up", *span, via, "instance")
        assert out.split() == ["a", "b", "c"], out
        # Without a token, promtool reports the server's error.
        p = subprocess.run([promtool, "query", "instant", "http://127.0.0.1:%d" % d.port, "up"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode != 0 and "unauthorized" in p.stderr, (p.returncode, p.stderr)
    finally:
        proxy.shutdown()
        proxy.server_close()


# ---- the CLI ----

def dw(*args, token="viewer", server=None):
    env = env_with_tokens()
    env.pop("DOJOWATCH_SERVER", None)
    if token:
        env["DOJOWATCH_TOKEN"] = TOKENS.get(token, token)
    else:
        env.pop("DOJOWATCH_TOKEN", None)
    srv = server or "http://127.0.0.1:%d" % daemon().port
    return cli(*(list(args[:1]) + ["--server", srv] + list(args[1:])), env=env)


@test
def cli_query_prints_a_table_or_the_api_data():
    rc, out, err = dw("query", "--time", str(T), "up")
    assert rc == 0, (rc, out, err)
    lines = out.splitlines()
    assert re.match(r"^SERIES\s+VALUE$", lines[0]), out
    assert re.match(r'^up\{instance="a", job="api"\}\s+1$', lines[1]), out
    assert re.match(r'^up\{instance="c", job="db"\}\s+1$', lines[2]), out
    assert lines[3] == "(2 series at 2023-11-14T23:13:20Z)", out
    # -o json is the API's data member, byte for byte.
    rc, out, err = dw("query", "-o", "json", "--time", "2023-11-14T23:13:20Z", 'sum by (job) (up)')
    _, _, body = api("GET", "/api/v1/query", {"query": "sum by (job) (up)", "time": T})
    assert rc == 0 and out.strip() == body[len('{"status":"success","data":'):-1], (out, body)
    rc, out, _ = dw("query", "--time", "4", "1+1")
    assert (rc, out) == (0, "2\n"), out
    rc, out, err = dw("query-range", "--start", str(T - 60), "--end", str(T), "--step", "30s",
                      'up{instance="a"}')
    assert rc == 0, (rc, out, err)
    assert out == ('up{instance="a", job="api"}\n'
                   "  2023-11-14T23:12:20Z      1\n"
                   "  2023-11-14T23:12:50Z      1\n"
                   "  2023-11-14T23:13:20Z      1\n"), out
    rc, out, _ = dw("query-range", "-o", "json", "--start", str(T - 30), "--end", str(T), "--step", "15",
                    "time()")
    assert rc == 0 and json.loads(out) == {"resultType": "matrix", "result": [
        {"metric": {}, "values": [[T - 30, str(T - 30)], [T - 15, str(T - 15)], [T, str(T)]]}]}, out
    # The token may come from --token instead of the environment; no series is not an error.
    rc, out, err = dw("query", "--token", TOKENS["viewer"], "--time", str(T), "nope", token=None)
    assert (rc, out) == (0, "") and "no series" in err, (rc, out, err)
    for cmd in ("query", "query-range"):
        rc, out, _ = cli(cmd, "--help")
        assert rc == 0 and out.startswith("usage: dojowatch " + cmd), out


@test
def cli_errors_and_exit_codes():
    rc, out, err = dw("query", "sum(up")
    assert rc == 1 and out == "", (rc, out)
    assert err.strip() == ('dojowatch query: bad_data: invalid parameter "query": 1:7: parse error: '
                           "unclosed left parenthesis"), err
    rc, _, err = dw("query-range", "--start", "0", "--end", "20000", "--step", "1", "up")
    assert rc == 1 and "bad_data: exceeded maximum resolution of 11,000 points" in err, err
    rc, _, err = dw("query", "up", token=None)
    assert rc == 1 and "unauthorized: missing bearer token" in err, err
    rc, _, err = dw("query", "up", token="wrong-token")
    assert rc == 1 and "unauthorized: unknown bearer token" in err, err
    rc, _, err = dw("query", "up", server="http://127.0.0.1:%d" % free_port())
    assert rc == 1 and "cannot reach" in err, err
    for args in (("query",), ("query", "--time", "noon", "up"), ("query", "--step", "1m", "up"),
                 ("query", "-o", "yaml", "up"), ("query-range", "up"),
                 ("query-range", "--start", "10", "--end", "5", "up"),
                 ("query-range", "--start", "0", "--step", "0", "up"), ("query", "up", "extra")):
        rc, out, err = dw(*args)
        assert rc == 2 and "run 'dojowatch" in err, (args, rc, out, err)


# ---- limits, timeouts, cancellation ----

def tight_config(tmpdir):
    # Nothing that writes samples of now (the host collector, probes, scrapes): the import
    # below is of old samples, refused once the head has newer ones.
    text = open(config_with("scrape: {host: {enabled: false}}\nprobes: {checks: []}\n",
                            tmpdir)).read()
    old = "query:\n  max_samples: 50000000\n  timeout: 2m\n"
    assert old in text, "the query section of examples/dojopool.yaml changed; update this test"
    text = text.replace(old, "query:\n  max_samples: 1000000\n  timeout: 1s\n")
    text = text.replace("  max_length: 64KiB", "  max_length: 256")
    text = text.replace("max_body_bytes: 1MiB ", "max_body_bytes: 4KiB ")
    path = os.path.join(tmpdir, "tight.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


@test
def limits_come_from_the_query_section():
    tmp = tempfile.mkdtemp(prefix="dwq-")
    try:
        with Daemon(config=tight_config(tmp), args=["--retention", "100y"]) as d:
            r = d.post("/api/v1/import/prometheus", token="responder", data=dataset(False))
            assert r.status == 204, r.text

            def q(method, path, params, timeout=30):
                return call(d.port, "viewer", method, path, params, timeout=timeout)

            # query.max_samples: 1,000,000 (a subquery's steps count)
            status, _, body = q("GET", "/api/v1/query",
                                {"query": "count_over_time(vector(time())[100d:1s])", "time": T})
            assert status == 422 and json.loads(body) == {
                "status": "error", "errorType": "execution",
                "error": "query processing would load too many samples into memory in query execution"}, body
            assert q("GET", "/api/v1/query", {"query": "up", "time": T})[0] == 200
            # query.max_length: 256 bytes
            status, _, body = q("POST", "/api/v1/query", {"query": "up" + " " * 300})
            assert status == 400 and "limit is 256 (query.max_length)" in body, body
            # query.timeout: 1s, and a longer timeout parameter does not raise it.
            t0 = time.time()
            status, _, body = q("POST", "/api/v1/query_range", dict(HEAVY_RANGE, timeout="1h"))
            took = time.time() - t0
            assert status == 503 and json.loads(body)["errorType"] == "timeout", body
            assert took < 20, took
            # limits.max_body_bytes bounds the form body.
            status, _, body = q("POST", "/api/v1/query", {"query": "x" * 5000})
            assert status == 413 and "payload_too_large" in body, (status, body)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@test
def timeout_parameter_and_client_disconnect():
    d = daemon()
    params = HEAVY_RANGE
    t0 = time.time()
    status, _, body = api("POST", "/api/v1/query_range", dict(params, timeout="1s"))
    assert status == 503 and json.loads(body) == {
        "status": "error", "errorType": "timeout",
        "error": "query timed out in expression evaluation"}, body
    assert time.time() - t0 < 20

    # A client that hangs up mid-query cancels it (the engine stops, the core is free).
    def canceled():
        return metric_value(d.get("/metrics").text, "dojowatch_api_queries_total",
                            {"kind": "range", "result": "canceled"}) or 0
    before = canceled()
    body = urllib.parse.urlencode(dict(params, timeout="60s")).encode()
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as s:
        s.sendall(("POST /api/v1/query_range HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n"
                   % (TOKENS["viewer"], len(body))).encode() + body)
        time.sleep(0.5)
    wait_until(lambda: canceled() > before, timeout=20, interval=0.2, what="the query to be canceled")
    assert ok_json("GET", "/api/v1/query", {"query": "1", "time": T})["data"]["result"] == [T, "1"]


def _stop_prometheus():
    if "p" in _shared:
        p, _, tmp = _shared.pop("p")
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def _leftovers():
    """When a filtered run skipped the last test: stop what is still running."""
    _stop_prometheus()
    d = _shared.pop("d", None)
    if d:
        d.cleanup()


atexit.register(_leftovers)


@test
def zz_shared_daemons_stop_cleanly():
    _stop_prometheus()
    d = _shared.pop("d", None)
    if d:
        rc, _ = d.stop()
        logs = d.logs()
        shutil.rmtree(d.tmp, ignore_errors=True)
        assert rc == 0, "daemon exited with %s:\n%s" % (rc, logs[-4000:])
        assert "ERROR: AddressSanitizer" not in logs and "runtime error:" not in logs, logs[-4000:]


run()
