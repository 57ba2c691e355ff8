#!/usr/bin/python3
"""query.py - the side-by-side query benchmark: dojowatch, Prometheus 2.42 and
VictoriaMetrics 1.79 answering the same dashboard queries over HTTP on the same data.
Start it through run.sh, which first installs the peers (Debian packages).

DESIGN
  One run: generate the shared dataset (../shared/bench/gen_dataset.py, default 48 hosts x
  2 h at 15 s = 9,984 series) into a temporary directory, then for each system in turn:

    load     VictoriaMetrics: the Prometheus text file POSTed to /api/v1/import/prometheus
             in bodies of at most 16 MiB, then flushed and merged; Prometheus: promtool tsdb
             create-blocks-from openmetrics, then the server on those blocks; dojowatch:
             `dojowatch import` of the OpenMetrics file, then `dojowatch serve` on it.
    settle   wait until the server uses less than 5 % of a core (background merges, the
             downsampling dojowatch runs over old blocks at start).
    warm up  every query once per shape (range and instant), --warmup times.
    measure  --runs rounds; each round sends every query once, as a range query over the
             whole dataset at a 15 s step (/api/v1/query_range, 481 points) and as an instant
             query at its end (/api/v1/query). Wall time from sending the request to the last
             byte of the answer, over one keep-alive connection, nothing else running; the
             server's CPU time for the request from /proc is recorded as well.

  Servers run one at a time on 127.0.0.1 with fresh data directories. VictoriaMetrics runs
  with -search.disableCache: its rollup result cache would otherwise answer the repeated
  range queries from memory (neither Prometheus nor dojowatch caches results), which is not
  what a dashboard opening the first time costs. Each answer's series count is recorded so a
  system that answers something else (an error, nothing) shows up in the table.

  Output: one table per shape (query | medians in ms | dojowatch/VM | dojowatch/Prom) on
  stdout, progress on stderr, every run's figures as JSON in build/bench/query-<UTC>.json.
"""
import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import benchlib as bl  # noqa: E402
import peers  # noqa: E402

START = 1699999200  # gen_dataset.py's default start, on a 2 h boundary
STEP = 15
IMPORT_BODY_MAX = 16 << 20

# The dashboard set (issue 4): CPU by instance, latency quantiles, error ratios, topk,
# predict_linear, and the two figures the shared README has for the peers.
QUERIES = [
    ("cpu-busy", 'sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))'),
    ("cpu-all", "sum by (instance) (rate(node_cpu_seconds_total[5m]))"),
    ("p95-route", "histogram_quantile(0.95, sum by (le, route) "
                  "(rate(http_request_duration_seconds_bucket[5m])))"),
    ("p95-all", "histogram_quantile(0.95, sum by (le) "
                "(rate(http_request_duration_seconds_bucket[5m])))"),
    ("err-ratio", 'sum by (route) (rate(http_requests_total{status="500"}[5m])) / '
                  "sum by (route) (rate(http_requests_total[5m]))"),
    ("err-ratio-svc", 'sum by (service) (rate(http_requests_total{status=~"5.."}[5m])) / '
                      "sum by (service) (rate(http_requests_total[5m]))"),
    ("topk-net", "topk(5, sum by (instance) (rate(node_network_receive_bytes_total[5m])))"),
    ("disk-full", "predict_linear(node_filesystem_avail_bytes[1h], 4 * 3600) < 0"),
    ("disk-predict", "predict_linear(node_filesystem_avail_bytes[1h], 4 * 3600)"),
    ("cpu-idle", '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))'),
    ("mem-ratio", "node_memory_MemAvailable_bytes / on(instance) node_memory_MemTotal_bytes"),
]

# The shared README's peer figures for two of them (range query, 2 h at 15 s).
ANCHORS = {"cpu-all": (141, 26), "p95-all": (299, 49)}

PROFILES = {
    "quick": {"hosts": 8, "duration": 1800, "runs": 3, "warmup": 1},
    "default": {"hosts": 48, "duration": 7200, "runs": 10, "warmup": 2},
}


class Client:
    """Keep-alive HTTP GETs to one server, timed from request to last byte."""

    def __init__(self, base, headers=None, pid=None):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.headers = headers or {}
        self.pid = pid
        self.conn = None

    def get(self, path, params):
        url = path + "?" + urllib.parse.urlencode(params)
        for attempt in (1, 2):  # a server may close an idle keep-alive connection
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=300)
            try:
                c0 = bl.proc_cpu_s(self.pid) if self.pid else 0.0
                t0 = time.perf_counter()
                self.conn.request("GET", url, headers=self.headers)
                r = self.conn.getresponse()
                body = r.read()
                wall = time.perf_counter() - t0
                cpu = (bl.proc_cpu_s(self.pid) - c0) if self.pid else None
                return r.status, body, wall, cpu
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None


def shapes(meta):
    """The two request shapes over the dataset: the whole range at 15 s, and its end."""
    end = START + meta["duration_s"]
    return [("range", "/api/v1/query_range", {"start": str(START), "end": str(end),
                                              "step": str(STEP)}),
            ("instant", "/api/v1/query", {"time": str(end - STEP)})]


def answer_series(status, body):
    """Series in a successful answer, or an error marker for the table."""
    if status != 200:
        return "HTTP %d" % status
    try:
        d = json.loads(body)
    except ValueError:
        return "bad JSON"
    if d.get("status") != "success":
        return "error"
    res = d["data"]["result"]
    return len(res) if isinstance(res, list) else 1


def measure(client, meta, runs, warmup, queries):
    """{shape: {query name: {'ms': [...], 'cpu_ms': [...], 'series': n}}}."""
    out = {}
    for shape, path, params in shapes(meta):
        res = out[shape] = {}
        for name, q in queries:
            res[name] = {"ms": [], "cpu_ms": [], "series": None, "bytes": None}
            for _ in range(warmup):
                client.get(path, dict(params, query=q))
        for run in range(runs):
            for name, q in queries:  # interleaved: a slow moment hits every query alike
                status, body, wall, cpu = client.get(path, dict(params, query=q))
                r = res[name]
                r["ms"].append(round(wall * 1000, 3))
                if cpu is not None:
                    r["cpu_ms"].append(round(cpu * 1000, 1))
                r["series"] = answer_series(status, body)
                r["bytes"] = len(body)
                if run == 0 and not isinstance(r["series"], int):
                    bl.log("%s %s: %s %s" % (shape, name, r["series"], body[:300]))
    return out


def settle(srv):
    waited = bl.wait_idle(srv.pid, threshold=0.05, window=1.0, timeout=300)
    return round(waited, 1)


# ---- the three systems ----

def run_victoriametrics(ds, work, runs, warmup, queries, cache=False):
    det = {"cache": cache}
    srv, data, base = peers.vm_server(work, "vm",
                                      extra_args=[] if cache else ["-search.disableCache"])
    try:
        srv.start()
        t0 = time.monotonic()
        c0 = bl.proc_cpu_s(srv.pid)
        res = bl.post_bodies(base + "/api/v1/import/prometheus",
                             bl.text_chunks(ds["prom"], IMPORT_BODY_MAX),
                             {"Content-Type": "text/plain; version=0.0.4"})
        if res["n_errors"]:
            raise RuntimeError("VictoriaMetrics import failed: %s" % res["errors"])
        det["compact"] = peers.vm_compact(srv, base)
        det["load"] = {"wall_s": round(time.monotonic() - t0, 2),
                       "server_cpu_s": round(bl.proc_cpu_s(srv.pid) - c0, 2)}
        det["settle_s"] = settle(srv)
        det["results"] = measure(Client(base, pid=srv.pid), ds["meta"], runs, warmup, queries)
    finally:
        srv.stop()
        shutil.rmtree(data, ignore_errors=True)
    return det


def run_prometheus(ds, work, runs, warmup, queries):
    det = {}
    blocks = work / "prom-data"
    r = peers.promtool_backfill(ds["om"], blocks, work / "promtool.log")
    if r["rc"] != 0:
        raise RuntimeError("promtool failed; log %s" % (work / "promtool.log"))
    det["load"] = {"wall_s": round(r["wall_s"], 2), "tool_cpu_s": round(r["cpu_s"], 2)}
    srv, base = peers.prometheus_server(work, blocks)
    try:
        srv.start()
        det["settle_s"] = settle(srv)
        det["results"] = measure(Client(base, pid=srv.pid), ds["meta"], runs, warmup, queries)
    finally:
        srv.stop()
        shutil.rmtree(blocks, ignore_errors=True)
    return det


def run_dojowatch(ds, work, runs, warmup, queries, dw):
    det = {"serve_args": dw.serve_args, "import_args": dw.import_args}
    data = work / "dw-data"
    data.mkdir()
    r = dw.import_file(data, ds["om"], work / "dojowatch-import.log")
    if r["rc"] != 0:
        raise RuntimeError("dojowatch import failed; log %s" % (work / "dojowatch-import.log"))
    det["load"] = {"wall_s": round(r["wall_s"], 2), "tool_cpu_s": round(r["cpu_s"], 2),
                   "summary": r.get("summary")}
    srv, base = dw.server(data, work / "dojowatch.log")
    try:
        srv.start()
        det["settle_s"] = settle(srv)
        det["results"] = measure(Client(base, headers=dw.auth, pid=srv.pid), ds["meta"], runs,
                                 warmup, queries)
    finally:
        srv.stop()
        shutil.rmtree(data, ignore_errors=True)
    return det


# ---- report ----

def med(values):
    return statistics.median(values) if values else None


def table(result, shape):
    rows = []
    sysres = result["systems"]
    for name, q in result["queries"]:
        cells = {}
        for s in peers.SYSTEMS:
            r = sysres.get(s, {}).get("results", {}).get(shape, {}).get(name)
            if r is None:
                cells[s] = sysres.get(s, {}).get("error") and "error" or "-"
                continue
            cells[s] = med(r["ms"]) if isinstance(r["series"], int) else r["series"]
        rvm = bl.ratio(cells["dojowatch"], cells["victoriametrics"])
        rprom = bl.ratio(cells["dojowatch"], cells["prometheus"])
        series = {s: sysres.get(s, {}).get("results", {}).get(shape, {}).get(name, {}).get(
            "series") for s in peers.SYSTEMS}
        rows.append({"query": name, "promql": q, "ms": cells, "series": series,
                     "dw_vm": rvm, "dw_prom": rprom})
    return rows


HEADERS = ["query", "series", "dojowatch ms", "Prometheus ms", "VictoriaMetrics ms",
           "dojowatch/VM", "dojowatch/Prom"]


def as_rows(rows):
    out = []
    for r in rows:
        counts = {v for v in r["series"].values() if v is not None}
        series = "/".join(str(v) for v in r["series"].values() if v is not None) \
            if len(counts) > 1 else (str(next(iter(counts))) if counts else "-")
        out.append([r["query"], series, r["ms"]["dojowatch"], r["ms"]["prometheus"],
                    r["ms"]["victoriametrics"],
                    "-" if r["dw_vm"] is None else "%.2f" % r["dw_vm"],
                    "-" if r["dw_prom"] is None else "%.2f" % r["dw_prom"]])
    return out


def geomean(values):
    vals = [v for v in values if bl.is_num(v) and v > 0]
    if not vals:
        return None
    return statistics.geometric_mean(vals)


def print_report(result, markdown):
    m, meta = result["machine"], result["dataset"]
    print("query benchmark, %s, nproc %s, %s" % (m["date_utc"], m["nproc"], m["cpu_model"]))
    print("dataset: %d hosts, %d s at 15 s = %s series, %s samples; median of %d runs after "
          "%d warm-up(s)" % (meta["hosts"], meta["duration_s"], "{:,}".format(meta["series"]),
                             "{:,}".format(meta["samples"]), result["runs"], result["warmup"]))
    for shape, title in (("range", "range queries, the whole %d s at a 15 s step (%d points)"
                          % (meta["duration_s"], meta["duration_s"] // STEP + 1)),
                         ("instant", "instant queries at the last sample")):
        rows = result["tables"][shape]
        print("\n" + title)
        print(bl.format_table(HEADERS, as_rows(rows)))
        gvm = geomean([r["dw_vm"] for r in rows])
        gp = geomean([r["dw_prom"] for r in rows])
        print("geometric mean of the ratios: dojowatch/VM %s, dojowatch/Prom %s" % (
            "-" if gvm is None else "%.2f" % gvm, "-" if gp is None else "%.2f" % gp))
        if markdown:
            print()
            print(bl.format_markdown(HEADERS, as_rows(rows)))
    print("\nseries: the answer's series count (several numbers when the systems disagree); "
          "shared README (range, Prom / VM ms): %s" % ", ".join(
              "%s %d / %d" % (k, a, b) for k, (a, b) in ANCHORS.items()))


# ---- main ----

def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="bench/query/run.sh",
        description="Side-by-side query benchmark: dojowatch, Prometheus 2.42 and "
                    "VictoriaMetrics 1.79 answering dashboard queries over HTTP on the shared "
                    "dataset (see bench/query/README.md).")
    ap.add_argument("--quick", action="store_true", help="smoke run: 8 hosts x 30 min, 3 runs")
    ap.add_argument("--runs", type=int, help="measured rounds per query (default 10)")
    ap.add_argument("--warmup", type=int, help="warm-up rounds (default 2)")
    ap.add_argument("--hosts", type=int, help="hosts of the dataset (default 48)")
    ap.add_argument("--duration", type=int, help="seconds of data (default 7200)")
    ap.add_argument("--filter", help="only the queries whose name contains this")
    ap.add_argument("--vm-cache", action="store_true",
                    help="leave VictoriaMetrics' rollup result cache on (repeated range queries "
                         "are then partly answered from memory; default off)")
    peers.add_run_args(ap, "query")
    a = ap.parse_args(argv)
    peers.parse_systems(ap, a)
    return a


def main(argv):
    a = parse_args(argv)
    prof = dict(PROFILES["quick" if a.quick else "default"])
    for k in ("runs", "warmup", "hosts", "duration"):
        if getattr(a, k) is not None:
            prof[k] = getattr(a, k)
    queries = [(n, q) for n, q in QUERIES if not a.filter or a.filter in n]
    peers.check_inputs(a.systems)
    bl.install_signal_handlers()
    peers.warn_other_peers()

    work = Path(tempfile.mkdtemp(prefix="dw-bench-query-", dir=a.workdir or None))
    started = time.monotonic()
    result = {"benchmark": "query", "machine": bl.machine_info(),
              "versions": {"prometheus": bl.deb_version("prometheus"),
                           "victoria-metrics": bl.deb_version("victoria-metrics")},
              "args": vars(a), "runs": prof["runs"], "warmup": prof["warmup"],
              "queries": queries, "systems": {}}
    try:
        bl.log("work dir %s" % work)
        dw = peers.Dojowatch(a.dojowatch, work)
        if "dojowatch" in a.systems:
            dw.prepare(build=not a.no_build)
            if dw.problem:
                sys.exit("dojowatch: " + dw.problem)
            result["versions"]["dojowatch"] = str(dw.bin)
        ds = {"om": work / "data.om", "prom": work / "data.prom"}
        bl.log("generating dataset: %d hosts, %d s" % (prof["hosts"], prof["duration"]))
        ds["meta"] = peers.generate_dataset(
            work, prof["hosts"], prof["duration"], om=ds["om"],
            prom=ds["prom"] if "victoriametrics" in a.systems else None)
        result["dataset"] = ds["meta"]
        bl.log("dataset: %d series, %d samples" % (ds["meta"]["series"], ds["meta"]["samples"]))
        for s in a.systems:
            bl.log("%s: loading, settling, %d warm-up and %d measured rounds of %d queries x 2" % (
                peers.LABELS[s], prof["warmup"], prof["runs"], len(queries)))
            t0 = time.monotonic()
            try:
                if s == "dojowatch":
                    det = run_dojowatch(ds, work, prof["runs"], prof["warmup"], queries, dw)
                elif s == "prometheus":
                    det = run_prometheus(ds, work, prof["runs"], prof["warmup"], queries)
                else:
                    det = run_victoriametrics(ds, work, prof["runs"], prof["warmup"], queries,
                                              cache=a.vm_cache)
            except (RuntimeError, bl.ServerError, OSError) as e:
                bl.log("%s failed: %s" % (peers.LABELS[s], e))
                bl.stop_all()
                det = {"error": str(e)}
            det["wall_s"] = round(time.monotonic() - t0, 1)
            result["systems"][s] = det
            bl.log("%s done in %.0f s" % (peers.LABELS[s], det["wall_s"]))
    finally:
        bl.stop_all()
        if a.keep:
            bl.log("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    result["tables"] = {shape: table(result, shape) for shape in ("range", "instant")}
    result["wall_s"] = round(time.monotonic() - started, 1)
    out = Path(a.out) if a.out else bl.REPO / "build" / "bench" / time.strftime(
        "query-%Y%m%dT%H%M%SZ.json", time.gmtime())
    bl.write_json(out, result)
    print_report(result, a.markdown)
    print("\nresults: %s (%.0f s)" % (out, result["wall_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
