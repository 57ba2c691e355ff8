#!/usr/bin/python3
"""latency.py - the side-by-side alert latency benchmark (issue 6): from the moment a breaching
sample is acknowledged by POST /api/v1/write (remote write) to the moment a webhook receiver on
loopback gets the P0 notification, with 1,000 rules over 10,000 series loaded; dojowatch next
to Prometheus 2.42 + Alertmanager 0.25 (defaults and tuned). Start it through run.sh, which
installs the Debian packages first.

DESIGN
  Load. 10,000 series dw_load_gauge{shard="0".."999", replica="0".."9"} written every second
  by remote write (hand-encoded protobuf, snappy; 5 requests of 2,000 samples over one
  keep-alive connection, like Prometheus' queue manager), values below 50.

  Rules. 1,000 alerting rules in Prometheus' format, one per shard, each its own alertname
  and priority P0: shards 0-899 threshold rules `dw_load_gauge{shard="17"} > 100` (9 groups
  of 100, interval 15s: dojowatch evaluates them as their data arrives), shards 900-999
  windowed rules `max_over_time(dw_load_gauge{shard="917"}[10s]) > 100` (2 groups of 50,
  interval 1s, as dojowatch's example P0 groups). The alerting section routes everything to
  one receiver whose webhook_configs point at the webhook receiver, group_by [alertname]
  (P0 timing: group_wait 0s, group_interval 1s).

  Webhook. ../shared/bench/alertlat/webhook.py (run from there, never copied), the same
  receiver the Prometheus stack driver uses: it logs the wall-clock arrival time of every
  POST, taken before the body is read.

  dojowatch, two runs on fresh data directories, one after the other:
    1. without rules (rules.files: []): warm-up, then a CPU window (utime + stime from
       /proc/PID/stat over W seconds) -> CPU-s per second for ingesting the load;
    2. with the 1,000 rules: the same warm-up and CPU window (no breach inside it) ->
       the rules' cost is the difference; then repeated breaches: after a uniform random
       delay U(0, 1 s) (a random phase of the load and of the 1 s groups), one remote-write
       request sets dw_load_gauge{shard=S, replica="0"} to 150 (the load keeps sending 150 for
       it until the notification arrived), the time before sending (T0) and after the 2xx
       (T0ack) are taken, and the webhook log is followed until the firing notification of
       that rule's alertname arrives (T1). Each repetition uses a rule not used before, so
       every notification opens a new alert group, like the stack driver's `fresh` mode.
       Threshold and windowed rules are measured separately.

  Prometheus 2.42 + Alertmanager 0.25: ../shared/bench/alertlat/start_stack.sh a|b,
  driver.py --mode fresh, stop_stack.sh (run from ../shared). Config b (tuned: evaluation 1 s,
  group_wait 0 s, resend delay 1 s) runs after dojowatch; config a (defaults: evaluation 1 m,
  group_wait 30 s) needs about two minutes per repetition, so in a full run it runs in the
  background from the start (it is idle between evaluations), and is stopped when the rest
  is done and it has 3 repetitions, or at the time budget; its rows are read from the
  driver's output. --quick skips config a. The driver measures one rule over one series
  (its rules.yml); latency there is dominated by the evaluation interval, not by load.

  Latency is reported from T0ack (the brief's start: the write acknowledged) and, for the
  record, from T0; for the stack, T1 - T0ack = driver's latency_s - rw_ack_s. Percentiles:
  median, p90, p99 (inclusive method; with fewer than 100 repetitions p99 is near the max).

  Output: the tables on stdout, progress on stderr, everything (every repetition, CPU
  windows, load ticks, dojowatch's rule evaluation counters, the machine, versions) as JSON
  in build/bench/alert-latency-<UTC time>.json (--out). Every process started is stopped by
  its pid at the end (also on Ctrl-C); the temporary directory is removed unless --keep.
"""
import argparse
import http.client
import json
import math
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import benchlib as bl  # noqa: E402
import peers  # noqa: E402
from peers import Dojowatch  # noqa: E402

import snappy  # noqa: E402  (Debian's python3-snappy)

ALERTLAT = bl.SHARED / "bench" / "alertlat"
PY = "/usr/bin/python3"

SHARDS, REPLICAS = 1000, 10  # 10,000 series
N_THRESHOLD = 900            # shards 0..899: threshold rules; the rest windowed
BATCH = 2000                 # samples per remote-write request of the load
BREACH, NORMAL_MAX = 150.0, 50.0

TARGET_THRESHOLD_P99_S = 0.100
TARGET_WINDOWED_P99_S = 1.1
TARGET_RULES_CORE = 0.10
STACK_PORTS = {"a": (19090, 19093, 19099), "b": (29090, 29093, 29099)}
STACK_LABELS = {"a": "Prometheus 2.42 + Alertmanager 0.25, defaults (a)",
                "b": "Prometheus 2.42 + Alertmanager 0.25, tuned (b)"}


# ---- remote write, hand-encoded ----

def varint(n):
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def ld(field, payload):
    """A length-delimited protobuf field."""
    return varint((field << 3) | 2) + varint(len(payload)) + payload


def labels_pb(labels):
    """TimeSeries.labels (field 1) for a sorted list of (name, value)."""
    return b"".join(ld(1, ld(1, k.encode()) + ld(2, v.encode())) for k, v in labels)


def series_pb(labels_bytes, value, ts_varint):
    """One TimeSeries (WriteRequest field 1) with one Sample{value=1 double, timestamp=2}."""
    sample = b"\x09" + struct.pack("<d", value) + b"\x10" + ts_varint
    return ld(1, labels_bytes + ld(2, sample))


class Writer:
    """POSTs remote-write bodies to one server over keep-alive connections."""

    HEADERS = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
               "X-Prometheus-Remote-Write-Version": "0.1.0"}

    def __init__(self, base, auth):
        host, port = base.split("//", 1)[1].split(":")
        self.host, self.port = host, int(port)
        self.headers = dict(self.HEADERS, **auth)
        self.conns = {}

    def post(self, name, pb):
        """Sends one request on connection `name`; returns the HTTP status (0: no answer)."""
        body = snappy.compress(pb)
        for attempt in (1, 2):  # a keep-alive connection the server closed: once more
            conn = self.conns.get(name)
            if conn is None:
                conn = self.conns[name] = http.client.HTTPConnection(self.host, self.port,
                                                                    timeout=30)
            try:
                conn.request("POST", "/api/v1/write", body, self.headers)
                r = conn.getresponse()
                r.read()
                return r.status
            except (OSError, http.client.HTTPException):
                conn.close()
                self.conns.pop(name, None)
        return 0

    def close(self):
        for c in self.conns.values():
            c.close()


class Load:
    """10,000 series written every second; breach() and restore() change one of them.

    One lock orders every write, so a series' timestamps always increase (a breach write never
    races a load request carrying the same series)."""

    def __init__(self, writer, seed):
        self.writer = writer
        self.rng = random.Random(seed)
        self.series = [((s, r), labels_pb([("__name__", "dw_load_gauge"), ("replica", str(r)),
                                             ("shard", str(s))]))
                       for s in range(SHARDS) for r in range(REPLICAS)]
        self.lab = dict(self.series)
        self.override = {}
        self.lock = threading.Lock()
        self.last_ts = 0
        self.stop_ev = threading.Event()
        self.ticks, self.late, self.errors, self.tick_s = 0, 0, 0, []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _ts(self):
        ts = max(int(time.time() * 1000), self.last_ts + 1)
        self.last_ts = ts
        return ts

    def _tick(self):
        with self.lock:
            t0 = time.monotonic()
            tsv = varint(self._ts())
            rnd, over = self.rng.random, self.override
            for off in range(0, len(self.series), BATCH):
                pb = b"".join(series_pb(lab, over.get(key, round(rnd() * NORMAL_MAX, 1)), tsv)
                              for key, lab in self.series[off:off + BATCH])
                if self.writer.post("load", pb) not in (200, 204):
                    self.errors += 1
            self.tick_s.append(time.monotonic() - t0)
        self.ticks += 1

    def _run(self):
        nxt = math.ceil(time.time())
        while not self.stop_ev.is_set():
            delay = nxt - time.time()
            if delay > 0 and self.stop_ev.wait(delay):
                break
            self._tick()
            nxt += 1
            if time.time() > nxt:  # the machine could not keep up: skip, count it
                self.late += 1
                nxt = math.ceil(time.time())

    def start(self):
        self.thread.start()

    def stop(self):
        self.stop_ev.set()
        self.thread.join()

    def breach(self, shard):
        """Writes the breaching sample; returns (T0 before sending, T0ack, HTTP status)."""
        key = (shard, 0)
        with self.lock:
            self.override[key] = BREACH
            pb = series_pb(self.lab[key], BREACH, varint(self._ts()))
            t0 = time.time()
            status = self.writer.post("breach", pb)
            t_ack = time.time()
        return t0, t_ack, status

    def restore(self, shard):
        with self.lock:
            self.override.pop((shard, 0), None)

    def snapshot(self):
        return {"ticks": self.ticks, "late": self.late, "errors": self.errors}


# ---- the webhook receiver's log ----

class HookLog:
    """Follows webhook.py's JSON-lines log (one record per POST, arrival time first)."""

    def __init__(self, path):
        self.path, self.off, self.recs = Path(path), 0, []

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                data = f.read()
        except FileNotFoundError:
            return
        cut = data.rfind(b"\n") + 1
        for line in data[:cut].splitlines():
            self.recs.append(json.loads(line))
        self.off += cut

    def wait_firing(self, alertname, after, timeout):
        """The first record at or after `after` carrying alertname firing, or None."""
        deadline = time.time() + timeout
        start = 0
        while True:
            self.poll()
            for rec in self.recs[start:]:
                if rec["t"] >= after and any(a["labels"].get("alertname") == alertname
                                             and a["status"] == "firing"
                                             for a in rec.get("alerts") or []):
                    return rec
            start = len(self.recs)
            if time.time() > deadline:
                return None
            time.sleep(0.001)


def webhook_server(work, name):
    port = bl.free_port()
    log = work / (name + ".jsonl")
    srv = bl.Server("webhook", [PY, str(ALERTLAT / "webhook.py"), str(port), str(log)],
                    work / (name + ".log"), "http://127.0.0.1:%d/" % port, ready_status=(501,))
    srv.start()
    return srv, port, HookLog(log)


# ---- dojowatch ----

def alertname(shard):
    return ("LoadHigh%04d" if shard < N_THRESHOLD else "LoadWindowHigh%04d") % shard


def rules_file(path):
    """The 1,000 rules: 9 threshold groups of 100 (15s), 2 windowed groups of 50 (1s)."""
    out = ["groups:"]
    for g in range(N_THRESHOLD // 100):
        out += ["  - name: load-threshold-%d" % g, "    interval: 15s", "    rules:"]
        for s in range(g * 100, g * 100 + 100):
            out += ["      - alert: %s" % alertname(s),
                    "        expr: dw_load_gauge{shard=\"%d\"} > 100" % s,
                    "        labels: {priority: P0, shard: \"%d\"}" % s,
                    "        annotations: {summary: \"shard {{ $labels.shard }} load "
                    "{{ $value }}\"}"]
    for g in range(2):
        out += ["  - name: load-windowed-%d" % g, "    interval: 1s", "    rules:"]
        first = N_THRESHOLD + g * 50
        for s in range(first, first + 50):
            out += ["      - alert: %s" % alertname(s),
                    "        expr: max_over_time(dw_load_gauge{shard=\"%d\"}[10s]) > 100" % s,
                    "        labels: {priority: P0}"]
    Path(path).write_text("\n".join(out) + "\n")


def dojowatch_sections(rules_path, hook_port):
    return {
        "scrape": ["host: {enabled: false}"],
        "probes": ["checks: []"],
        "rules": ["files: [%s]" % (json.dumps(str(rules_path)) if rules_path else ""),
                  "evaluation_interval: 15s"],
        "alerting": ["route: {receiver: bench, group_by: [alertname]}",
                     "receivers:",
                     "  - name: bench",
                     "    webhook_configs:",
                     "      - {url: 'http://127.0.0.1:%d/hook', send_resolved: true}" % hook_port],
    }


def metric_sum(text, name):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def rule_counters(base, auth):
    status, body = bl.http("GET", base + "/metrics", headers=auth)
    text = body.decode(errors="replace") if status == 200 else ""
    return {"arrival_evaluations": metric_sum(text, "dojowatch_rule_group_arrival_evaluations_total"),
            "interval_evaluations": metric_sum(text, "dojowatch_rule_group_evaluations_total"),
            "webhook_requests": metric_sum(text, "dojowatch_notify_webhook_requests_total")}


def cpu_window(pid, load, seconds, base, auth):
    """CPU-s per second of pid over `seconds`, with what the load and the rules did meanwhile."""
    l0, r0 = load.snapshot(), rule_counters(base, auth)
    c0, t0 = bl.proc_cpu_s(pid), time.monotonic()
    time.sleep(seconds)
    c1, t1 = bl.proc_cpu_s(pid), time.monotonic()
    l1, r1 = load.snapshot(), rule_counters(base, auth)
    return {"seconds": round(t1 - t0, 2), "cpu_s": round(c1 - c0, 3),
            "cpu_per_s": (c1 - c0) / (t1 - t0),
            "load": {k: l1[k] - l0[k] for k in l1},
            "rules": {k: r1[k] - r0[k] for k in r1},
            "rss_bytes": bl.proc_mem(pid).get("VmRSS")}


def rules_loaded(base, auth):
    status, body = bl.http("GET", base + "/api/v1/rules", headers=auth)
    if status != 200:
        return 0
    groups = json.loads(body)["data"]["groups"]
    return sum(len(g["rules"]) for g in groups)


def starts_at(rec, name):
    """The startsAt of alert `name` in a webhook record, as a Unix time (the rule's
    evaluation timestamp that fired it), or None."""
    from datetime import datetime
    for a in rec.get("alerts") or []:
        if a["labels"].get("alertname") == name and a.get("startsAt"):
            return datetime.fromisoformat(a["startsAt"].replace("Z", "+00:00")).timestamp()
    return None


def breach_reps(load, hook, shards, reps, timeout, rng):
    rows = []
    for shard in rng.sample(shards, reps):
        time.sleep(rng.uniform(0, 1.0))  # a random phase of the load and of the 1 s groups
        t0, t_ack, status = load.breach(shard)
        rec = hook.wait_firing(alertname(shard), t0, timeout)
        load.restore(shard)
        row = {"shard": shard, "alertname": alertname(shard), "write_status": status,
               "T0": t0, "rw_ack_s": round(t_ack - t0, 6)}
        if rec:
            row.update(T1=rec["t"], latency_s=rec["t"] - t_ack, latency_from_send_s=rec["t"] - t0)
            ev = starts_at(rec, alertname(shard))
            if ev is not None:
                row["T1_minus_eval_ts_s"] = rec["t"] - ev
        rows.append(row)
    return rows


def run_dojowatch(a, work, with_rules, hook, hook_port, rng):
    name = "dw-rules" if with_rules else "dw-norules"
    sub = work / name
    sub.mkdir()
    rules_path = None
    if with_rules:
        rules_path = sub / "load.rules.yml"
        rules_file(rules_path)
    dw = Dojowatch(a.dojowatch, sub)
    dw.prepare(not a.no_build, dojowatch_sections(rules_path, hook_port))
    if dw.problem:
        return {"problem": dw.problem, "config_errors": dw.config_errors}
    srv, base = dw.server(sub / "data", sub / "dojowatch.log")
    ready_s = srv.start()
    out = {"ready_s": round(ready_s, 2)}
    if with_rules:
        out["rules_loaded"] = rules_loaded(base, dw.auth)
        bl.log("%s: %d rules loaded" % (name, out["rules_loaded"]))
    load = Load(Writer(base, dw.auth), seed=a.seed)
    load.start()
    try:
        bl.log("%s: warm-up %d s, then a %d s CPU window" % (name, a.warmup, a.window))
        time.sleep(a.warmup)
        out["cpu"] = cpu_window(srv.pid, load, a.window, base, dw.auth)
        bl.log("%s: %.3f CPU-s/s" % (name, out["cpu"]["cpu_per_s"]))
        if with_rules:
            bl.log("%s: %d threshold breaches" % (name, a.reps))
            out["threshold"] = breach_reps(load, hook, list(range(N_THRESHOLD)), a.reps, 10, rng)
            bl.log("%s: %d windowed breaches" % (name, a.reps_windowed))
            out["windowed"] = breach_reps(load, hook, list(range(N_THRESHOLD, SHARDS)),
                                          a.reps_windowed, 15, rng)
            out["counters_after"] = rule_counters(base, dw.auth)
    finally:
        load.stop()
        load.writer.close()
        out["load"] = load.snapshot()
        out["load_tick_median_s"] = bl.median(load.tick_s)
        out["exit_status"] = srv.stop()
    return out


# ---- the Prometheus + Alertmanager stack (../shared/bench/alertlat) ----

def port_busy(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Stack:
    """start_stack.sh / driver.py / stop_stack.sh of one configuration."""

    def __init__(self, cfg, work, k, seed):
        self.cfg, self.k, self.seed = cfg, k, seed
        self.env = dict(os.environ, ALERTLAT_WORK=str(work / "alertlat"))
        self.out = work / ("stack-%s.json" % cfg)
        self.stdout = work / ("stack-%s-driver.log" % cfg)
        self.driver = None
        self.started = False
        self.problem = None

    def start(self):
        busy = [p for p in STACK_PORTS[self.cfg] if port_busy(p)]
        if busy:
            self.problem = "ports %s already in use" % busy
            return False
        r = subprocess.run([str(ALERTLAT / "start_stack.sh"), self.cfg], env=self.env,
                           capture_output=True, text=True, timeout=120)
        self.started = True
        if r.returncode != 0:
            self.problem = "start_stack.sh failed: " + (r.stderr or r.stdout)[-500:]
            return False
        bl.log(r.stdout.strip())
        eval_s = "60" if self.cfg == "a" else "1"
        with open(self.stdout, "w") as f:
            self.driver = subprocess.Popen(
                [PY, str(ALERTLAT / "driver.py"), "--cfg", self.cfg, "--k", str(self.k),
                 "--mode", "fresh", "--eval-interval", eval_s, "--out", str(self.out),
                 "--seed", str(self.seed)], stdout=f, stderr=subprocess.STDOUT, env=self.env,
                start_new_session=True)
        return True

    def rows(self):
        rows = []
        try:
            for line in self.stdout.read_text().splitlines():
                if line.startswith('{"rep"'):
                    rows.append(json.loads(line))
        except OSError:
            pass
        return rows

    def wait(self, timeout):
        try:
            self.driver.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass

    def stop(self):
        if self.driver and self.driver.poll() is None:
            self.driver.terminate()
            try:
                self.driver.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.driver.kill()
                self.driver.wait()
        if self.started:
            subprocess.run([str(ALERTLAT / "stop_stack.sh"), self.cfg], env=self.env,
                           capture_output=True, timeout=60)
            self.started = False

    def result(self):
        rows = self.rows()
        for r in rows:
            r["latency_ack_s"] = r["latency_s"] - r["rw_ack_s"]
        return {"cfg": self.cfg, "problem": self.problem, "rows": rows,
                "driver_exit": self.driver.returncode if self.driver else None}


# ---- figures ----

def quantiles(values):
    v = sorted(values)
    if not v:
        return None
    if len(v) == 1:
        return {"n": 1, "median": v[0], "p90": v[0], "p99": v[0], "max": v[0]}
    q = statistics.quantiles(v, n=100, method="inclusive")
    return {"n": len(v), "median": statistics.median(v), "p90": q[89], "p99": q[98],
            "max": v[-1]}


def fmt_s(v):
    if v is None:
        return "-"
    return "%.1f ms" % (v * 1000) if v < 1 else "%.2f s" % v


def latency_rows(dw, stacks):
    rows = []
    for kind, label, target in (("threshold", "dojowatch, threshold rules (on arrival)",
                                 TARGET_THRESHOLD_P99_S),
                                ("windowed", "dojowatch, windowed rules (1 s groups)",
                                 TARGET_WINDOWED_P99_S)):
        reps = dw.get(kind) or []
        q = quantiles([r["latency_s"] for r in reps if "latency_s" in r])
        qs = quantiles([r["latency_from_send_s"] for r in reps if "latency_s" in r])
        missed = sum(1 for r in reps if "latency_s" not in r)
        ev = bl.median([r.get("T1_minus_eval_ts_s") for r in reps])
        rows.append((label, q, qs, missed, target, ev))
    for cfg in ("b", "a"):
        st = stacks.get(cfg)
        if not st:
            rows.append((STACK_LABELS[cfg], None, None, 0, None, None))
            continue
        q = quantiles([r["latency_ack_s"] for r in st["rows"]])
        qs = quantiles([r["latency_s"] for r in st["rows"]])
        ev = bl.median([r.get("T1_minus_eval_ts_s") for r in st["rows"]])
        rows.append((STACK_LABELS[cfg], q, qs, 0, None, ev))
    return rows


def print_latency(rows, markdown):
    headers = ["write acknowledged -> webhook (P0)", "n", "median", "p90", "p99", "max",
               "median from send", "median eval -> webhook", "missed"]
    table = []
    for label, q, qs, missed, _, ev in rows:
        if not q:
            table.append([label, "-", "-", "-", "-", "-", "-", "-", str(missed or "-")])
            continue
        table.append([label, str(q["n"]), fmt_s(q["median"]), fmt_s(q["p90"]),
                      fmt_s(q["p99"]), fmt_s(q["max"]), fmt_s(qs["median"]), fmt_s(ev),
                      str(missed)])
    print(bl.format_table(headers, table))
    if markdown:
        print()
        print(bl.format_markdown(headers, table))


def print_cpu(norules, rules, markdown):
    c0 = (norules.get("cpu") or {}).get("cpu_per_s")
    c1 = (rules.get("cpu") or {}).get("cpu_per_s")
    cost = c1 - c0 if bl.is_num(c0) and bl.is_num(c1) else None
    headers = ["dojowatch, 10,000 series written every second", "CPU-s per s", "% of one core",
               "group evaluations per s", "of which on arrival"]
    ev = (rules.get("cpu") or {}).get("rules") or {}
    secs = (rules.get("cpu") or {}).get("seconds") or 1
    evs = ev.get("interval_evaluations", 0) / secs  # the counter includes arrival ones
    arr = ev.get("arrival_evaluations", 0) / secs
    table = [["without rules", c0, None if c0 is None else 100 * c0, "-", "-"],
             ["with the 1,000 rules", c1, None if c1 is None else 100 * c1, evs, arr],
             ["the rules' cost", cost, None if cost is None else 100 * cost, "-", "-"]]
    print(bl.format_table(headers, table))
    if markdown:
        print()
        print(bl.format_markdown(headers, table))
    return cost


def print_targets(rows, cost):
    def verdict(ok):
        return "met" if ok else "MISSED"
    lines = []
    for label, q, _, missed, target, _ in rows[:2]:
        if target is None:
            continue
        p99 = q["p99"] if q else None
        ok = p99 is not None and p99 < target and not missed
        lines.append("%-45s p99 %s < %s: %s" % (label, fmt_s(p99), fmt_s(target), verdict(ok)))
    ok = cost is not None and cost < TARGET_RULES_CORE
    lines.append("%-45s %s of one core < 10%%: %s" % (
        "the 1,000 rules' CPU cost", "-" if cost is None else "%.1f%%" % (100 * cost),
        verdict(ok)))
    print("\n".join(lines))


# ---- main ----

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run under 3 minutes: shorter windows, fewer breaches, "
                         "no defaults (a) stack")
    ap.add_argument("--reps", type=int, help="threshold-rule breaches (default 100; quick 30)")
    ap.add_argument("--reps-windowed", type=int,
                    help="windowed-rule breaches (default 30; quick 10)")
    ap.add_argument("--warmup", type=int, help="seconds before the CPU window (15; quick 5)")
    ap.add_argument("--window", type=int, help="CPU window in seconds (30; quick 10)")
    ap.add_argument("--stack-reps", type=int, help="tuned-stack repetitions (30; quick 8)")
    ap.add_argument("--budget", type=int, default=570,
                    help="seconds after which the defaults stack is stopped (default 570)")
    ap.add_argument("--stacks", default="a,b", help="stack configs to run: a, b, both or none")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dojowatch", default=os.environ.get("DOJOWATCH_BIN",
                                                          str(peers.DEFAULT_DW_BIN)))
    ap.add_argument("--no-build", action="store_true",
                    help="do not run `make build` when the dojowatch binary is missing")
    peers.add_output_args(ap, "alert-latency")
    a = ap.parse_args()
    q = a.quick
    a.reps = a.reps or (30 if q else 100)
    a.reps_windowed = a.reps_windowed or (10 if q else 30)
    a.warmup = a.warmup or (5 if q else 15)
    a.window = a.window or (10 if q else 30)
    a.stack_reps = a.stack_reps or (8 if q else 30)
    a.stacks = [c for c in ("a", "b") if c in a.stacks.split(",") and not (q and c == "a")]
    return a


def main():
    a = parse_args()
    bl.install_signal_handlers()
    for f in ("webhook.py", "driver.py", "start_stack.sh", "stop_stack.sh"):
        if not (ALERTLAT / f).exists():
            sys.exit("missing %s: the shared benchmark inputs live in ../shared/bench" % (ALERTLAT / f))
    peers.warn_other_peers(extra=("alertmanager", "prometheus-alertmanager"))
    work = Path(tempfile.mkdtemp(prefix="dw-alertlat-", dir=a.workdir))
    rng = random.Random(a.seed)
    t_start = time.monotonic()
    result = {"bench": "alert-latency", "args": vars(a), "machine": bl.machine_info(),
              "versions": {p: bl.deb_version(p) for p in ("prometheus", "prometheus-alertmanager")}}
    stacks, running = {}, {}
    hook_srv = None
    try:
        if "a" in a.stacks:
            st = Stack("a", work, 50, a.seed)
            bl.log("stack a (defaults) in the background: about 2 min per repetition")
            if st.start():
                running["a"] = st
            else:
                stacks["a"] = st.result()
        hook_srv, hook_port, hook = webhook_server(work, "dw-webhook")
        dw_norules = run_dojowatch(a, work, False, hook, hook_port, rng)
        dw_rules = run_dojowatch(a, work, True, hook, hook_port, rng)
        hook_srv.stop()
        result["dojowatch"] = {"without_rules": dw_norules, "with_rules": dw_rules}
        if "b" in a.stacks:
            st = Stack("b", work, a.stack_reps, a.seed)
            bl.log("stack b (tuned): %d repetitions" % a.stack_reps)
            if st.start():
                st.wait(max(60, a.stack_reps * 8))
            st.stop()
            stacks["b"] = st.result()
        if "a" in running:
            st = running.pop("a")
            while (len(st.rows()) < 3 and st.driver.poll() is None
                   and time.monotonic() - t_start < a.budget):
                time.sleep(1)
            st.stop()
            stacks["a"] = st.result()
        result["stacks"] = stacks
        rows = latency_rows(dw_rules, stacks)
        result["summary"] = [{"label": r[0], "ack": r[1], "send": r[2], "missed": r[3],
                              "eval_to_webhook_median_s": r[5]} for r in rows]
        print()
        print_latency(rows, a.markdown)
        print()
        cost = print_cpu(dw_norules, dw_rules, a.markdown)
        result["rules_cpu_core_share"] = cost
        print()
        print_targets(rows, cost)
        result["wall_s"] = round(time.monotonic() - t_start, 1)
        path = bl.write_results(a.out, "alert-latency", result)
        bl.log("results: %s (%.0f s)" % (path, result["wall_s"]))
    finally:
        for st in running.values():
            st.stop()
        bl.end_run(work, a.keep)


if __name__ == "__main__":
    main()
