#!/usr/bin/python3
"""probes.py - the side-by-side synthetic-probe benchmark (issue 5): N HTTP probes a minute
against one local nginx, run by dojowatch and by blackbox_exporter driven the way Prometheus
drives it. Start it through run.sh, which first installs the Debian packages it needs.

DESIGN
  One run, one target, the systems one after the other (never together, so one system's CPU
  figure is never disturbed by the other):

    target       Debian's nginx on 127.0.0.1 with its own prefix and configuration in the
                 temporary directory (daemon off, one worker), serving a 2 KB HTML page at
                 /health. Its access log has the time, connection, status, user agent and
                 URI of every request, so the requests of each prober in a time window are
                 counted where they arrive. The N targets are the same page under distinct
                 query strings: http://127.0.0.1:PORT/health?i=1 ... ?i=N.
    dojowatch    `dojowatch serve` on examples/dojopool.yaml with `scrape:` set to
                 {host: {enabled: false}} and `probes:` replaced by N http checks (interval
                 60s, timeout 10s), so N probes a minute.
    blackbox     prometheus-blackbox-exporter 0.23 with an http_2xx module, and a real
                 Prometheus 2.42 with one scrape job of the same N targets (file_sd),
                 scrape_interval 60s and the standard relabeling (__address__ ->
                 __param_target and instance, __address__ = the exporter), so Prometheus
                 sends one /probe request per target per minute as it does in production.

  For each system: start, wait --warmup seconds (both systems spread their checks over the
  interval by a hash, so the rate is steady once the first minute's schedule is set), then a
  window of --duration seconds. Over the window: CPU seconds (utime + stime from
  /proc/PID/stat) of the prober (dojowatch; blackbox_exporter) and of its driver (Prometheus,
  reported separately as the cost of driving it) and of nginx's worker; VmRSS sampled every
  second (the maximum and the value at the end) and VmHWM at the end. Probes completed =
  nginx access log lines of that prober's user agent whose time falls in the window, checked
  against each system's own count: dojowatch's /metrics counter
  dojowatch_collect_runs_total (and its failures and skipped counters), Prometheus'
  count_over_time(probe_success[window]) (and the same query on dojowatch's API, when it
  answers).

  Output: the table on stdout (probes in window, probes/min, CPU-s per 1,000 probes, % of one
  core, resident memory; the CPU-per-probe ratios; the issue's targets met or missed),
  progress on stderr, everything as JSON in build/bench/probes-<UTC time>.json (--out).
  Every process started is stopped by its pid at the end (also on Ctrl-C) and the temporary
  directory is removed unless --keep.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import benchlib as bl  # noqa: E402
import peers  # noqa: E402
from peers import DEFAULT_DW_BIN, Dojowatch, prometheus_server, vm_metric_sum  # noqa: E402

NGINX = "/usr/sbin/nginx"
BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"
PROMETHEUS = "/usr/bin/prometheus"
SYSTEMS = ("dojowatch", "blackbox")
MIB = 1 << 20

INTERVAL_S = 60  # every probe, both systems: N probes per minute
TIMEOUT_S = 10
# Who sent a request, from its User-Agent: dojowatch's probes say dojowatch-probe/VERSION,
# blackbox_exporter 0.23 says "Blackbox Exporter/0.23.0" (Go's default before 0.21).
UA = {"dojowatch": re.compile(r"^dojowatch"),
      "blackbox": re.compile(r"(?i)^blackbox|^Go-http-client")}

# Targets of issue 5 for 10,000 probes per minute.
TARGET_N = 10000
TARGET_CORE_SHARE = 0.10
TARGET_RSS = 64 * MIB
TARGET_RATIO = 5.0

# $msec: time the request ended (log time), seconds with ms. $connection: the TCP
# connection's serial number, $connection_requests: requests on it so far.
LOG_FORMAT = '$msec $connection $connection_requests $status "$http_user_agent" $request_uri'
LOG_RE = re.compile(r'^(\d+\.\d+) (\d+) (\d+) (\d{3}) "((?:[^"\\]|\\.)*)" (\S+)$')
BUCKET_S = 10  # probes per 10 s in the JSON: the evenness of the rate


# ---- the target: nginx ----

class Nginx:
    """Debian's nginx on a free loopback port, prefix and configuration in dir."""

    def __init__(self, work):
        self.dir = work / "nginx"
        for sub in ("www", "tmp", "logs"):
            (self.dir / sub).mkdir(parents=True)
        self.port = bl.free_port()
        self.access_log = self.dir / "logs" / "access.log"
        (self.dir / "www" / "health").write_bytes(health_page(2048))
        conf = self.dir / "nginx.conf"
        conf.write_text(self.config())
        self.srv = bl.Server("nginx", [NGINX, "-p", str(self.dir), "-c", str(conf),
                                       "-e", str(self.dir / "logs" / "error.log")],
                             work / "nginx.log", self.url(0))

    def config(self):
        d = self.dir
        temp = "".join("    %s_temp_path %s;\n" % (k, d / "tmp" / k)
                       for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        # As root the master would hand the worker to `nobody`, who cannot read our
        # private temporary directory.
        user = "user root;\n" if os.geteuid() == 0 else ""
        return ("daemon off;\nmaster_process on;\nworker_processes 1;\n%s"
                "pid %s;\nerror_log %s warn;\nworker_rlimit_nofile 16384;\n"
                "events { worker_connections 8192; }\n"
                "http {\n"
                "    log_format probes '%s';\n"
                "    access_log %s probes buffer=256k flush=1s;\n%s"
                "    server {\n"
                "        listen 127.0.0.1:%d;\n"
                "        root %s;\n"
                "        location = /health { default_type text/html; }\n"
                "        location / { return 404; }\n"
                "    }\n"
                "}\n") % (user, d / "nginx.pid", d / "logs" / "error.log", LOG_FORMAT,
                          self.access_log, temp, self.port, d / "www")

    def url(self, i):
        return "http://127.0.0.1:%d/health" % self.port + ("?i=%d" % i if i else "")

    def worker_pid(self):
        kids = bl.proc_children(self.srv.pid)
        if len(kids) != 1:
            raise RuntimeError("nginx: expected one worker, found %r" % kids)
        return kids[0]


def health_page(size):
    """A small HTML page of exactly size bytes."""
    head = b"<!doctype html>\n<html><head><title>health</title></head><body>\n<p>ok</p>\n"
    tail = b"</body></html>\n"
    line = b"<p>DojoPool status: all systems operational.</p>\n"
    body = head
    while len(body) + len(line) + len(tail) <= size:
        body += line
    body += b"<!--" + b"-" * (size - len(body) - len(tail) - 7) + b"-->\n"
    return body + tail


def read_access_log(path, t0, t1, ua_re):
    """What nginx logged with a time in [t0, t1): the requests of the user agents ua_re
    matches (the prober's probes) and everything else, by user agent."""
    probes, conns, statuses, per_target, buckets = 0, set(), Counter(), Counter(), Counter()
    agents = Counter()
    with open(path, errors="replace") as f:
        for line in f:
            m = LOG_RE.match(line.rstrip("\n"))
            if not m:
                continue
            t = float(m.group(1))
            if not t0 <= t < t1:
                continue
            ua = m.group(5)
            agents[ua] += 1
            if not ua_re.search(ua):
                continue
            probes += 1
            conns.add(int(m.group(2)))
            statuses[m.group(4)] += 1
            q = urllib.parse.urlsplit(m.group(6)).query
            per_target[q] += 1
            buckets[int((t - t0) // BUCKET_S)] += 1
    nb = int((t1 - t0 + BUCKET_S - 1) // BUCKET_S)
    return {"probes": probes, "tcp_connections": len(conns),
            "requests_per_connection": bl.ratio(probes, len(conns)),
            "statuses": dict(statuses), "distinct_targets": len(per_target),
            "max_per_target": max(per_target.values()) if per_target else 0,
            "per_%ds" % BUCKET_S: [buckets.get(i, 0) for i in range(nb)],
            "user_agents": dict(agents)}


# ---- measuring a window ----

def measure_window(pids, duration):
    """CPU seconds of each process of pids ({name: pid}) over duration seconds from now,
    VmRSS sampled every second (max and last), VmHWM at the end, CPU and RSS per 10 s."""
    t0, m0 = time.time(), time.monotonic()
    cpu0 = {k: bl.proc_cpu_s(p) for k, p in pids.items()}
    rss_max = {k: 0 for k in pids}
    timeline, last_cpu, next_mark = [], dict(cpu0), m0 + BUCKET_S
    while True:
        left = m0 + duration - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(1.0, left))
        for k, p in pids.items():
            rss_max[k] = max(rss_max[k], bl.proc_mem(p)["VmRSS"])
        if time.monotonic() >= next_mark - 0.01:
            now = {k: bl.proc_cpu_s(p) for k, p in pids.items()}
            timeline.append({k: (round(now[k] - last_cpu[k], 2),
                                 round(bl.proc_mem(p)["VmRSS"] / MIB, 1)) for k, p in pids.items()})
            last_cpu, next_mark = now, next_mark + BUCKET_S
    cpu1 = {k: bl.proc_cpu_s(p) for k, p in pids.items()}
    t1 = time.time()
    out = {}
    for k, p in pids.items():
        mem = bl.proc_mem(p)
        out[k] = {"pid": p, "cpu_s": round(cpu1[k] - cpu0[k], 3),
                  "core_share": (cpu1[k] - cpu0[k]) / (t1 - t0),
                  "rss_end": mem["VmRSS"], "rss_max": max(rss_max[k], mem["VmRSS"]),
                  "hwm": mem["VmHWM"],
                  "cpu_per_%ds" % BUCKET_S: [s[k][0] for s in timeline],
                  "rss_mib_every_%ds" % BUCKET_S: [s[k][1] for s in timeline]}
    return t0, t1, out


def warmup_then_window(a, label, pids, counters=lambda: {}):
    """--warmup seconds, then measure_window() over --duration; also the change of the
    numbers counters() returns over the window (a system's own counts)."""
    bl.log("%s: warm-up %d s" % (label, a.warmup))
    time.sleep(a.warmup)
    c0 = counters()
    bl.log("%s: measuring %d s" % (label, a.duration))
    t0, t1, procs = measure_window(pids, a.duration)
    c1 = counters()
    return t0, t1, procs, {k: c1[k] - c0[k] for k in c0}


def promql_count(base, window_s, t1, headers=None):
    """Probe runs stored with a time in the window and how many succeeded, from the
    system's own PromQL API; {'runs', 'succeeded'} or {'error'}."""
    time.sleep(1.0)  # a run still going at t1 is stored under its start time, before t1
    out = {}
    for key, fn in (("runs", "count_over_time"), ("succeeded", "sum_over_time")):
        q = urllib.parse.urlencode({"query": "sum(%s(probe_success[%ds]))" % (fn, window_s),
                                    "time": "%.3f" % t1})
        try:
            status, body = bl.http("GET", base + "/api/v1/query?" + q, headers=headers,
                                   timeout=60)
            res = json.loads(body)["data"]["result"] if status == 200 else None
        except (OSError, ValueError, KeyError, TypeError) as e:
            return {"error": str(e)}
        if res is None:
            return {"error": "%d %s" % (status, body[:200].decode(errors="replace"))}
        out[key] = int(float(res[0]["value"][1])) if res else 0
    return out


def window_figures(det, nginx, system, t0, t1, procs):
    """det with the window's figures for system (a key of UA and of procs): the probes nginx
    logged from it in [t0, t1), probes per minute, its CPU-s per 1,000 probes."""
    time.sleep(2.5)  # nginx writes its access log buffer at least every second
    lg = read_access_log(nginx.access_log, t0, t1, UA[system])
    det.update(t0=t0, t1=t1, procs=procs, nginx_log=lg, probes=lg["probes"],
               probes_per_min=lg["probes"] / (t1 - t0) * 60,
               cpu_s_per_1000=bl.ratio(procs[system]["cpu_s"] * 1000, lg["probes"]))
    return det


# ---- dojowatch ----

def dojowatch_sections(urls):
    """The sections of the bench config: N http checks, nothing else (no host
    collector, no rules: blackbox_exporter does not evaluate the plan's rules either)."""
    checks = ['  - {name: p%05d, kind: http, class: system_health, interval: %ds, '
              'timeout: %ds, target: "%s"}' % (i, INTERVAL_S, TIMEOUT_S, u)
              for i, u in enumerate(urls, 1)]
    return {"scrape": ["host: {enabled: false}"], "rules": ["files: []"],
            "probes": ["defaults: {interval: %ds, timeout: %ds}" % (INTERVAL_S, TIMEOUT_S),
                       "checks:"] + checks}


def run_dojowatch(a, work, nginx, dw):
    det = {"binary": str(dw.bin), "config_bytes": dw.config.stat().st_size
           if dw.config.exists() else None}
    if dw.problem:
        det["problem"] = dw.problem
        if dw.config_errors:
            det["config_errors"] = dw.config_errors[:5000]
        return det
    srv, base = dw.server(work / "dw-data", work / "dojowatch.log")
    det["serve_args"] = dw.serve_args
    try:
        try:
            det["start_to_ready_s"] = round(srv.start(), 2)
        except bl.ServerError as e:
            bl.log(str(e))
            det.update(problem="failed to start", error=str(e)[-3000:])
            return det
        bl.log("dojowatch ready in %.1f s (config %s bytes, %d probes)"
               % (det["start_to_ready_s"], "{:,}".format(det["config_bytes"]), a.probes))
        pids = {"dojowatch": srv.pid, "nginx": nginx.worker_pid()}
        t0, t1, procs, det["own_count"] = warmup_then_window(a, "dojowatch", pids,
                                                             lambda: dw_counters(base))
        det["own_count"]["checks_scheduled"] = dw_counters(base)["checks"]
        det["promql"] = promql_count(base, a.duration, t1, dw.auth)
        det["log_tail"] = srv.log_tail(10)
    finally:
        srv.stop()
    return window_figures(det, nginx, "dojowatch", t0, t1, procs)


def dw_counters(base):
    """dojowatch's collector counters from its /metrics."""
    names = {"runs": "dojowatch_collect_runs_total", "failures": "dojowatch_collect_failures_total",
             "skipped": "dojowatch_collect_skipped_total", "checks": "dojowatch_collect_checks",
             "write_errors": "dojowatch_collect_write_errors_total"}
    return {k: vm_metric_sum(base, n) for k, n in names.items()}


# ---- blackbox_exporter driven by Prometheus ----

def prometheus_config(targets_file, bb_port):
    """One scrape job of the targets in targets_file through blackbox_exporter, with the
    relabeling of blackbox_exporter's README."""
    return """global:
  scrape_interval: {iv}s
  scrape_timeout: {to}s
  evaluation_interval: 1m
scrape_configs:
  - job_name: blackbox
    metrics_path: /probe
    params:
      module: [http_2xx]
    file_sd_configs:
      - files: ['{targets}']
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:{port}
""".format(iv=INTERVAL_S, to=TIMEOUT_S, targets=targets_file, port=bb_port)


def run_blackbox(a, work, nginx, urls):
    det = {}
    bb_cfg = work / "blackbox.yml"
    bb_cfg.write_text("modules:\n  http_2xx:\n    prober: http\n    timeout: %ds\n" % TIMEOUT_S)
    bb_port = bl.free_port()
    bb = bl.Server("blackbox_exporter", [
        BLACKBOX, "--config.file=%s" % bb_cfg, "--web.listen-address=127.0.0.1:%d" % bb_port],
        work / "blackbox.log", "http://127.0.0.1:%d/-/healthy" % bb_port)
    targets = work / "targets.json"
    targets.write_text(json.dumps([{"targets": urls, "labels": {}}]))
    prom, prom_base = prometheus_server(work, work / "prom-data",
                                        config=prometheus_config(targets, bb_port))
    try:
        det["blackbox_start_s"] = round(bb.start(), 2)
        det["prometheus_start_s"] = round(prom.start(), 2)
        bl.log("blackbox_exporter and Prometheus ready (%d targets, file_sd)" % len(urls))
        pids = {"blackbox": bb.pid, "prometheus": prom.pid, "nginx": nginx.worker_pid()}
        t0, t1, procs, _ = warmup_then_window(a, "blackbox_exporter", pids)
        det["promql"] = promql_count(prom_base, a.duration, t1)
        det["prometheus_scrape_pool_targets"] = vm_metric_sum(
            prom_base, "prometheus_sd_discovered_targets")
        det["log_tail"] = {"blackbox": bb.log_tail(10), "prometheus": prom.log_tail(10)}
    finally:
        prom.stop()
        bb.stop()
    return window_figures(det, nginx, "blackbox", t0, t1, procs)


# ---- the table ----

HEADERS = ["system", "probes in window", "probes/min", "CPU-s per 1,000 probes",
           "% of one core", "RSS MiB (max in window)", "RSS MiB (end)", "peak RSS MiB (VmHWM)",
           "CPU per probe / dojowatch"]


def proc_row(name, probes, window, p, dw_cpu_per_probe):
    per = bl.ratio(p["cpu_s"] * 1000, probes)
    return [name, probes, probes / window * 60, per, 100 * p["core_share"],
            p["rss_max"] / MIB, p["rss_end"] / MIB, p["hwm"] / MIB,
            bl.ratio(per, dw_cpu_per_probe)]


def build_rows(res):
    dw, bb = res["systems"].get("dojowatch"), res["systems"].get("blackbox")
    rows, dw_per = [], None
    if dw and "procs" in dw:
        dw_per = dw["cpu_s_per_1000"]
        w = dw["t1"] - dw["t0"]
        rows.append(proc_row("dojowatch", dw["probes"], w, dw["procs"]["dojowatch"], dw_per))
    elif dw:
        rows.append(["dojowatch", dw.get("problem", "failed")] + [None] * (len(HEADERS) - 2))
    if bb and "procs" in bb:
        w, n, pr = bb["t1"] - bb["t0"], bb["probes"], bb["procs"]
        rows.append(proc_row("blackbox_exporter 0.23", n, w, pr["blackbox"], dw_per))
        rows.append(proc_row("Prometheus 2.42 (driving it)", n, w, pr["prometheus"], dw_per))
        both = {"cpu_s": pr["blackbox"]["cpu_s"] + pr["prometheus"]["cpu_s"],
                "core_share": pr["blackbox"]["core_share"] + pr["prometheus"]["core_share"]}
        for k in ("rss_max", "rss_end", "hwm"):
            both[k] = pr["blackbox"][k] + pr["prometheus"][k]
        rows.append(proc_row("blackbox_exporter + Prometheus", n, w, both, dw_per))
    return rows


NGINX_HEADERS = ["nginx worker, while", "requests", "CPU-s per 1,000 requests",
                 "TCP connections", "requests per connection", "statuses"]


def nginx_rows(res):
    rows = []
    for name, key in (("dojowatch probed", "dojowatch"), ("blackbox_exporter probed", "blackbox")):
        d = res["systems"].get(key)
        if not d or "procs" not in d:
            continue
        lg = d["nginx_log"]
        rows.append([name, lg["probes"],
                     bl.ratio(d["procs"]["nginx"]["cpu_s"] * 1000, lg["probes"]),
                     lg["tcp_connections"], lg["requests_per_connection"],
                     " ".join("%s:%d" % kv for kv in sorted(lg["statuses"].items()))])
    return rows


def check_targets(res):
    """The issue's targets, each {'target', 'result', 'met'}; met is None when the run
    cannot say (dojowatch not measured, or fewer than 10,000 probes configured)."""
    dw, bb = res["systems"].get("dojowatch"), res["systems"].get("blackbox")
    n = res["probes_configured"]
    out = []
    if not dw or "procs" not in dw:
        return [{"target": "all", "result": "dojowatch not measured", "met": None}]
    p = dw["procs"]["dojowatch"]
    full = n >= TARGET_N
    note = "" if full else " (this run: %s probes configured, the targets are for %s)" % (
        "{:,}".format(n), "{:,}".format(TARGET_N))
    expected = n * res["window_s"] / INTERVAL_S
    # A window of whole intervals sees every probe exactly once; of the probes spread over
    # a partial interval, a binomial share (3 standard deviations of slack, at least 2 %).
    frac = expected / n % 1
    rate_ok = dw["probes"] >= expected - max(0.02 * expected, 3 * (n * frac * (1 - frac)) ** 0.5)
    out.append({"target": "%s probes per minute kept" % "{:,}".format(n),
                "result": "%s probes in %.0f s = %s/min (expected %s)" % (
                    "{:,}".format(dw["probes"]), res["window_s"],
                    "{:,.0f}".format(dw["probes_per_min"]), "{:,.0f}".format(expected)),
                "met": rate_ok})
    out.append({"target": "within 10% of one core" + note,
                "result": "%.1f %% of one core" % (100 * p["core_share"]),
                "met": (p["core_share"] <= TARGET_CORE_SHARE and rate_ok) if full else None})
    out.append({"target": "within 64 MiB resident" + note,
                "result": "max %.1f MiB in the window, %.1f MiB at its end, peak %.1f MiB "
                          "(VmHWM, includes start-up)" % (p["rss_max"] / MIB, p["rss_end"] / MIB,
                                                          p["hwm"] / MIB),
                "met": (p["rss_max"] <= TARGET_RSS) if full else None})
    if bb and "procs" in bb:
        r = bl.ratio(bb["cpu_s_per_1000"], dw["cpu_s_per_1000"])
        out.append({"target": ">= 5x less CPU per probe than blackbox_exporter" + note,
                    "result": "%sx" % bl.fmt_num(r),
                    "met": None if r is None else r >= TARGET_RATIO})
    return out


def print_report(res, markdown):
    m = res["machine"]
    print("probes benchmark, %s, nproc %s, %s, load average at start %s"
          % (m["date_utc"], m["nproc"], m["cpu_model"],
             " ".join("%.2f" % x for x in m["loadavg_at_start"])))
    print("%s HTTP probes every %d s (2 KB page on local nginx), warm-up %d s, window %d s\n"
          % ("{:,}".format(res["probes_configured"]), INTERVAL_S, res["warmup_s"],
             res["window_s"]))
    print(bl.format_table(HEADERS, res["rows"]))
    dw, bb = res["systems"].get("dojowatch"), res["systems"].get("blackbox")
    if dw and bb and "procs" in dw and "procs" in bb:
        d = dw["cpu_s_per_1000"]
        both = bl.ratio((bb["procs"]["blackbox"]["cpu_s"] + bb["procs"]["prometheus"]["cpu_s"])
                        * 1000, bb["probes"])
        print("\nCPU per probe, blackbox_exporter / dojowatch: %sx; counting Prometheus: %sx"
              % (bl.fmt_num(bl.ratio(bb["cpu_s_per_1000"], d)), bl.fmt_num(bl.ratio(both, d))))
    if res["nginx_rows"]:
        print("\nThe target (same page, same nginx):")
        print(bl.format_table(NGINX_HEADERS, res["nginx_rows"]))
        print("\nCross-checks (each system's own count of the runs in the window):")
    if dw and "own_count" in dw:
        oc = dw["own_count"]
        print("  dojowatch /metrics: %d runs, %d failures, %d skipped, %d write errors, "
              "%d checks scheduled; PromQL %s" % (oc["runs"], oc["failures"], oc["skipped"],
                                                 oc["write_errors"], oc["checks_scheduled"],
                                                 dw.get("promql")))
    if bb and "promql" in bb:
        print("  Prometheus count_over_time(probe_success): %s" % bb["promql"])
    print("\nIssue 5 targets:")
    for t in res["targets"]:
        verdict = {True: "met", False: "MISSED", None: "n/a"}[t["met"]]
        print("  %-6s %s: %s" % (verdict, t["target"], t["result"]))
    if markdown:
        print()
        print(bl.format_markdown(HEADERS, res["rows"]))


# ---- the run ----

def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="bench/probes/run.sh",
        description="Side-by-side synthetic probes: N HTTP probes a minute against a local "
                    "nginx, run by dojowatch and by blackbox_exporter driven by Prometheus "
                    "(see bench/probes/README.md).")
    ap.add_argument("--probes", type=int, help="probes, each every 60 s (default 10000)")
    ap.add_argument("--duration", type=int, help="measuring window, seconds (default 60)")
    ap.add_argument("--warmup", type=int,
                    help="seconds from ready to the window (default 70: every probe has run "
                    "once, so the window measures the steady state, not series creation)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 1,000 probes, 20 s window, 10 s warm-up (under 2 min)")
    ap.add_argument("--systems", default=",".join(SYSTEMS),
                    help="comma-separated subset of: " + ", ".join(SYSTEMS))
    ap.add_argument("--dw-bin", default=os.environ.get("DOJOWATCH_BIN", str(DEFAULT_DW_BIN)),
                    help="dojowatch binary (default build/release/src/cli/dojowatch, "
                         "from `make build`)")
    ap.add_argument("--no-build", action="store_true",
                    help="do not run `make build` when the dojowatch binary is missing")
    peers.add_output_args(ap, "probes")
    a = ap.parse_args(argv)
    quick = {"probes": 1000, "duration": 20, "warmup": 10}
    full = {"probes": 10000, "duration": 60, "warmup": 70}
    for k, v in (quick if a.quick else full).items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    a.systems = [s.strip() for s in a.systems.split(",") if s.strip()]
    if not a.systems or any(s not in SYSTEMS for s in a.systems):
        ap.error("--systems: choose from %s" % ", ".join(SYSTEMS))
    if a.probes < 1 or a.duration < 5 or a.warmup < 0:
        ap.error("--probes >= 1, --duration >= 5, --warmup >= 0")
    return a


def main(argv):
    a = parse_args(argv)
    for tool in (NGINX, BLACKBOX, PROMETHEUS):
        if not os.access(tool, os.X_OK):
            sys.exit("%s not found: run bench/probes/run.sh, which installs it" % tool)
    bl.install_signal_handlers()
    peers.warn_other_peers(extra=("nginx", "prometheus-blac"))

    work = Path(tempfile.mkdtemp(prefix="dw-bench-probes-", dir=a.workdir or None))
    started = time.monotonic()
    res = {"benchmark": "probes", "machine": bl.machine_info(),
           "versions": {p: bl.deb_version(p) for p in (
               "prometheus", "prometheus-blackbox-exporter", "nginx")},
           "args": vars(a), "probes_configured": a.probes, "interval_s": INTERVAL_S,
           "window_s": a.duration, "warmup_s": a.warmup, "systems": {}}
    try:
        bl.log("work dir %s" % work)
        nginx = Nginx(work)
        nginx.srv.start()
        bl.log("nginx on 127.0.0.1:%d (worker pid %d)" % (nginx.port, nginx.worker_pid()))
        urls = [nginx.url(i) for i in range(1, a.probes + 1)]
        if "dojowatch" in a.systems:
            dw = Dojowatch(a.dw_bin, work)
            bl.log("dojowatch: writing and checking the config (%d probes)" % a.probes)
            dw.prepare(build=not a.no_build, sections=dojowatch_sections(urls))
            res["versions"]["dojowatch"] = dw.problem or dw_version(dw)
            res["systems"]["dojowatch"] = run_dojowatch(a, work, nginx, dw)
        if "blackbox" in a.systems:
            res["systems"]["blackbox"] = run_blackbox(a, work, nginx, urls)
        nginx.srv.stop()
    finally:
        bl.end_run(work, a.keep)
    res["rows"] = build_rows(res)
    res["nginx_rows"] = nginx_rows(res)
    res["targets"] = check_targets(res)
    res["wall_s"] = round(time.monotonic() - started, 1)
    out = bl.write_results(a.out, "probes", res)
    print_report(res, a.markdown)
    print("\nresults: %s (%.0f s)" % (out, res["wall_s"]))
    return 0


def dw_version(dw):
    p = subprocess.run([str(dw.bin), "version"], capture_output=True, text=True, timeout=30)
    return "%s (%s)" % (p.stdout.strip() or "?", dw.bin)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
