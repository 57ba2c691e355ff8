#!/usr/bin/python3
"""notify.py - the side-by-side notification benchmark (issue 7): a burst of 10,000 alert
groups through to a local webhook receiver, dojowatch next to Alertmanager 0.25: throughput,
enqueue-to-delivery latency, memory and CPU; then the same burst with a receiver that fails
half the time (zero lost), and dojowatch killed with SIGKILL mid-burst and restarted (zero
lost). Start it through run.sh, which installs the Debian packages first.

DESIGN
  Input. N alerts (10,000; --quick 1,000), each its own alertname (NotifyBench00000...), so
  with group_by [alertname] every alert is its own group and its own notification. Labels
  alertname, job, instance; no priority and no severity; annotation summary; startsAt now,
  endsAt now + 1 h (nothing resolves during a run). POSTed to /api/v2/alerts in batches of
  100 (--batch) over one keep-alive connection, one after the other, as Prometheus' notifier
  does; the time each batch was acknowledged is T_ack of its alerts. Every tool gets the same
  label sets; the timestamps are taken when its run starts.

  Routing, both tools: one route, receiver `bench`, group_by [alertname], group_wait 0s,
  group_interval 1s, repeat_interval 4h; the receiver has one webhook_config pointing at
  receiver.py (send_resolved true).
    dojowatch: examples/dojopool.yaml with scrape, probes and rules emptied and the alerting
    section replaced (peers.Dojowatch.write_config); `serve` on a fresh data dir. The
    example's priorities and on-call section stay: an alert without priority counts as P2
    there, so every group also opens an on-call page (P2's policy: team engineering on
    slack:engineering, business hours only). Alertmanager has no such thing; the pages opened
    are counted and shown.
    Alertmanager: /usr/bin/prometheus-alertmanager --cluster.listen-address= (no cluster, so
    no peer wait) on a fresh storage path.

  Receiver. receiver.py, a separate process (asyncio, backlog 4,096): it takes the arrival
  time of each POST when its header block is complete, before reading the body, answers at
  once (200, or 500 by the run's script) and keeps the bodies; the driver decodes them after
  the run (alertnames, webhook v4 checks with tests/integration/receivers.py's
  webhook_v4_problems). Its CPU over the run is shown, to show it is not the bottleneck.

  Runs, each on a fresh data dir and a fresh receiver:
    burst    both tools: post the N alerts, wait until every alertname got a 2xx (bounded).
    failing  both tools (--runs): the receiver answers 500 to every other POST (--fail-mode
             alternate; or random, seeded, p = 0.5); wait until every alertname got a 2xx or
             --drain-timeout (300 s; quick 120 s): lost = alertnames without a 2xx.
    kill     dojowatch only: after half of the batches were acknowledged, SIGKILL, restart on
             the same data dir and port, post the other half, wait for all. Lost = acknowledged
             alertnames never delivered. (Alertmanager keeps alerts in memory only, with
             Prometheus resending them every minute; it is not run here.)

  Figures per run and tool:
    latency      T_recv - T_ack per alertname, T_recv the arrival of its first 2xx delivery;
                 percentiles p50/p90/p99 (inclusive method) and max.
    throughput   groups delivered / (last T_recv - first T_ack).
    memory       VmRSS before the burst, VmRSS sampled every 100 ms (peak and at the end),
                 VmHWM at the end (the process' peak since start).
    CPU          utime + stime of the server from /proc/PID/stat, from just before the first
                 POST to the moment the last alertname was seen delivered.
    deliveries   POSTs the receiver got, 2xx ones, duplicates (2xx deliveries beyond the first
                 per alertname), attempts per notification; the tools' own counters
                 (dojowatch_notify_requests_total / _notifications_total,
                 alertmanager_notification_requests[_failed]_total).
  Tables on stdout (each tool side by side and dojowatch / Alertmanager), progress on stderr,
  everything as JSON in build/bench/notify-<UTC time>.json (--out). Every process started is
  stopped by its pid at the end (also on Ctrl-C); the temporary directory is removed unless
  --keep.
"""
import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
import benchlib as bl  # noqa: E402
import peers  # noqa: E402
from peers import Dojowatch  # noqa: E402

try:  # the integration tests' webhook v4 checker
    sys.path.insert(0, str(bl.REPO / "tests" / "integration"))
    from receivers import webhook_v4_problems  # noqa: E402
except ImportError:  # pragma: no cover - the checks are then skipped
    webhook_v4_problems = None

PY = "/usr/bin/python3"
AM_BIN = "/usr/bin/prometheus-alertmanager"
TOOLS = ("dojowatch", "alertmanager")
LABELS = {"dojowatch": "dojowatch", "alertmanager": "Alertmanager 0.25"}
RUNS = ("burst", "failing", "kill")
NAME = "NotifyBench%05d"
MIB = 1 << 20


# ---- input ----

def rfc3339(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def batches(n, size, now):
    """The N alerts as JSON bodies of `size` alerts each: [(alertnames, body bytes)]."""
    starts, ends = rfc3339(now), rfc3339(now + 3600)
    out = []
    for off in range(0, n, size):
        names = [NAME % i for i in range(off, min(n, off + size))]
        alerts = [{"labels": {"alertname": nm, "job": "notify-bench",
                              "instance": "bench-%d" % (i % 10)},
                   "annotations": {"summary": "notify bench alert %s" % nm},
                   "startsAt": starts, "endsAt": ends,
                   "generatorURL": "http://127.0.0.1/bench/notify"}
                  for i, nm in zip(range(off, off + size), names)]
        out.append((names, json.dumps(alerts).encode()))
    return out


class Poster:
    """POSTs alert batches over one keep-alive connection; records T_ack per alertname."""

    def __init__(self, base, headers):
        host, port = base.split("//", 1)[1].split(":")
        self.host, self.port = host, int(port)
        self.headers = dict(headers, **{"Content-Type": "application/json"})
        self.conn = None
        self.t_ack = {}
        self.t_send = {}
        self.post_s = []
        self.errors = []
        self.conn_errors = 0

    def post(self, names, body, retry_s=0.0):
        """One batch; on a connection error it tries again (for retry_s seconds, e.g. while a
        killed server restarts, as Prometheus' notifier would). True when acknowledged."""
        deadline = time.monotonic() + retry_s
        err = None
        while True:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            t0 = time.time()
            try:
                self.conn.request("POST", "/api/v2/alerts", body, self.headers)
                r = self.conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException) as e:
                self.conn.close()
                self.conn = None
                err = repr(e)
                self.conn_errors += 1
                if self.conn_errors > 1 and time.monotonic() > deadline:
                    break
                time.sleep(0.02 if self.conn_errors > 1 else 0)
                continue
            t1 = time.time()
            self.post_s.append(t1 - t0)
            if r.status == 200:
                for nm in names:
                    self.t_ack[nm] = t1
                    self.t_send[nm] = t0
                return True
            err = "%d %s" % (r.status, data[:200].decode(errors="replace"))
            break
        if len(self.errors) < 5:
            self.errors.append(err)
        return False

    def close(self):
        if self.conn:
            self.conn.close()


# ---- the receiver ----

class Receiver:
    def __init__(self, work, name, fail, seed):
        self.port = bl.free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.srv = bl.Server("receiver", [PY, "-B", str(HERE / "receiver.py"), str(self.port),
                                          "--fail", fail, "--seed", str(seed)],
                             work / (name + "-receiver.log"), self.base + "/-/ready")
        self.url = self.base + "/hook"

    def start(self):
        self.srv.start()

    def stats(self):
        return json.loads(bl.http("GET", self.base + "/-/stats", timeout=30)[1])

    def records(self):
        return json.loads(bl.http("GET", self.base + "/-/records", timeout=120)[1])

    def cpu_s(self):
        return bl.proc_cpu_s(self.srv.pid)

    def stop(self):
        self.srv.stop()


# ---- the two tools ----

def dojowatch_sections(hook_url):
    return {
        "scrape": ["host: {enabled: false}"],
        "probes": ["checks: []"],
        "rules": ["files: []", "evaluation_interval: 15s"],
        "alerting": ["route:",
                     "  receiver: bench",
                     "  group_by: [alertname]",
                     "  group_wait: 0s",
                     "  group_interval: 1s",
                     "  repeat_interval: 4h",
                     "receivers:",
                     "  - name: bench",
                     "    webhook_configs:",
                     "      - {url: '%s', send_resolved: true}" % hook_url],
    }


AM_CONFIG = """global:
  resolve_timeout: 5m
route:
  receiver: bench
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: bench
    webhook_configs:
      - url: '%s'
        send_resolved: true
"""


class Tool:
    """One server of a run: start, restart (same data and port), metrics, stop."""

    def __init__(self, a, kind, work, hook_url):
        self.kind, self.work = kind, work
        self.data = work / "data"
        self.data.mkdir(parents=True)
        self.problem = None
        self.auth = {}
        if kind == "dojowatch":
            dw = Dojowatch(a.dojowatch, work)
            dw.prepare(not a.no_build, dojowatch_sections(hook_url))
            self.problem = dw.problem
            self.auth = dw.auth
            self.srv, self.base = (None, None) if dw.problem else dw.server(
                self.data, work / "dojowatch.log")
        else:
            cfg = work / "alertmanager.yml"
            cfg.write_text(AM_CONFIG % hook_url)
            port = bl.free_port()
            self.base = "http://127.0.0.1:%d" % port
            self.srv = bl.Server("alertmanager", [
                AM_BIN, "--config.file=%s" % cfg, "--storage.path=%s" % self.data,
                "--web.listen-address=127.0.0.1:%d" % port, "--cluster.listen-address=",
                "--log.level=warn"], work / "alertmanager.log", self.base + "/-/ready")

    def start(self):
        return self.srv.start()

    def metrics(self):
        try:
            status, body = bl.http("GET", self.base + "/metrics", headers=self.auth, timeout=30)
        except OSError:
            return {}
        return parse_metrics(body.decode(errors="replace")) if status == 200 else {}

    def counters(self):
        """The tool's own delivery counters, summed over labels except the result."""
        m = self.metrics()
        if self.kind == "dojowatch":
            return {"requests_by_result": by_label(m, "dojowatch_notify_requests_total", "result"),
                    "notifications_by_result": by_label(m, "dojowatch_notify_notifications_total",
                                                        "result"),
                    "pending": total(m, "dojowatch_notify_pending_notifications")}
        return {"requests": total(m, "alertmanager_notification_requests_total"),
                "requests_failed": total(m, "alertmanager_notification_requests_failed_total"),
                "notifications": total(m, "alertmanager_notifications_total"),
                "notifications_failed": total(m, "alertmanager_notifications_failed_total"),
                "alerts_received": total(m, "alertmanager_alerts_received_total"),
                "aggregation_groups": total(m, "alertmanager_dispatcher_aggregation_groups")}

    def log_tail(self, n=10):
        return self.srv.log_tail(n)


def parse_metrics(text):
    """[(name, {label: value}, value)] of a Prometheus text exposition."""
    out = []
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        try:
            head, val = line.rsplit(" ", 1)
            if head.endswith("}"):
                name, lab = head[:-1].split("{", 1)
                labels = {}
                for part in lab.split('",'):
                    if "=" in part:
                        k, v = part.split("=", 1)
                        labels[k.strip()] = v.strip().strip('"')
            else:
                name, labels = head, {}
            out.append((name, labels, float(val)))
        except ValueError:
            continue
    return out


def total(metrics, name):
    vals = [v for n, _, v in metrics if n == name]
    return sum(vals) if vals else None


def by_label(metrics, name, label):
    out = {}
    for n, lab, v in metrics:
        if n == name:
            out[lab.get(label, "")] = out.get(lab.get(label, ""), 0) + v
    return out


def store_counts(tool):
    """dojowatch's store after the run (read-only, the server stopped): on-call pages, outbox
    rows and attempts by kind and state, the data directory's size."""
    if tool.kind != "dojowatch":
        return {"data_bytes": bl.tree_bytes(tool.data)}
    import sqlite3
    out = {"data_bytes": bl.tree_bytes(tool.data)}
    try:
        db = sqlite3.connect("file:%s?mode=ro" % (tool.data / "dojowatch.db"), uri=True)
        try:
            out["oncall_pages"] = db.execute("SELECT count(*) FROM oncall_pages").fetchone()[0]
            out["outbox"] = [list(r) for r in db.execute(
                "SELECT kind, state, count(*), sum(attempts), max(attempts) FROM notify_outbox"
                " GROUP BY kind, state")]
            out["attempt_rows"] = db.execute("SELECT count(*) FROM notify_attempts").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error as e:
        out["error"] = str(e)
    return out


# ---- one run ----

class Sampler(threading.Thread):
    """VmRSS of a pid every 100 ms (peak and last), until stopped."""

    def __init__(self, pid_fn):
        super().__init__(daemon=True)
        self.pid_fn, self.peak, self.last, self.n = pid_fn, 0, 0, 0
        self.stop_ev = threading.Event()

    def run(self):
        while not self.stop_ev.is_set():
            try:
                rss = bl.proc_mem(self.pid_fn()).get("VmRSS", 0)
            except (OSError, AttributeError):
                rss = 0  # killed meanwhile
            if rss:
                self.peak, self.last, self.n = max(self.peak, rss), rss, self.n + 1
            self.stop_ev.wait(0.1)

    def stop(self):
        self.stop_ev.set()
        self.join()


def wait_delivered(rcv, n, timeout, poll=0.05, t_started=None):
    """Polls the receiver until n distinct alertnames got a 2xx; returns (done, seconds)."""
    t0 = t_started or time.monotonic()
    last_log = time.monotonic()
    while True:
        st = rcv.stats()
        if st["distinct_ok"] >= n:
            return True, time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            return False, time.monotonic() - t0
        if time.monotonic() - last_log > 10:
            bl.log("  %d of %d delivered (%d requests)" % (st["distinct_ok"], n, st["requests"]))
            last_log = time.monotonic()
        time.sleep(poll)


def analyse(records, t_ack, t_send):
    """Deliveries per alertname from the receiver's records."""
    first_ok, first_any, oks, reqs_per = {}, {}, {}, {}
    statuses, bad, bad_examples, alerts_per_req, firing = {}, 0, [], [], 0
    for t, status, body in records:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if webhook_v4_problems is not None:
            probs = webhook_v4_problems(doc)
            if probs:
                bad += 1
                if len(bad_examples) < 3:
                    bad_examples.append(probs[:3])
        alerts = (doc.get("alerts") or []) if isinstance(doc, dict) else []
        alerts_per_req.append(len(alerts))
        if isinstance(doc, dict) and doc.get("status") == "firing":
            firing += 1
        for al in alerts:
            try:
                nm = al["labels"]["alertname"]
            except (KeyError, TypeError):
                continue
            first_any.setdefault(nm, t)
            reqs_per[nm] = reqs_per.get(nm, 0) + 1
            if 200 <= status < 300:
                first_ok.setdefault(nm, t)
                oks[nm] = oks.get(nm, 0) + 1
    lat = [first_ok[nm] - t_ack[nm] for nm in first_ok if nm in t_ack]
    lat_first = [first_any[nm] - t_ack[nm] for nm in first_any if nm in t_ack]
    lat_send = [first_ok[nm] - t_send[nm] for nm in first_ok if nm in t_send]
    acked = set(t_ack)
    delivered = acked & set(first_ok)
    t0 = min(t_ack.values()) if t_ack else None
    t_last = max(first_ok[nm] for nm in delivered) if delivered else None
    span = (t_last - t0) if t0 is not None and t_last is not None else None
    return {
        "alerts_acked": len(acked),
        "delivered": len(delivered),
        "lost": len(acked - set(first_ok)),
        "lost_examples": sorted(acked - set(first_ok))[:5],
        "unexpected_alertnames": len(set(first_any) - acked),
        "requests": len(records),
        "requests_by_status": statuses,
        "duplicates": sum(c - 1 for c in oks.values()),
        "attempts_per_notification": (sum(reqs_per.values()) / len(reqs_per)) if reqs_per else None,
        "max_attempts": max(reqs_per.values()) if reqs_per else None,
        "alerts_per_request_max": max(alerts_per_req) if alerts_per_req else None,
        "firing_requests": firing,
        "v4_invalid": bad if webhook_v4_problems is not None else None,
        "v4_invalid_examples": bad_examples,
        "latency_s": quantiles(lat),
        "latency_first_attempt_s": quantiles(lat_first),
        "latency_from_send_s": quantiles(lat_send),
        "delivered_before_ack": sum(1 for x in lat if x < 0),
        "span_s": span,
        "throughput_per_s": (len(delivered) / span) if span else None,
    }


def kill_restart(tool, poster, rcv, after_batches, k, name):
    """The kill run's second thread: once `after_batches` batches were acknowledged (the next
    one is on its way), SIGKILL the server, start it again on the same data dir and port."""
    try:
        while len(poster.post_s) < after_batches:
            time.sleep(0.001)
        pid = tool.srv.pid
        k["alerts_acked_before"] = len(poster.t_ack)
        k["hwm_before_bytes"] = bl.proc_mem(pid).get("VmHWM")
        k["cpu_before_s"] = bl.proc_cpu_s(pid) - k.pop("_c0", 0)
        k["exit_status"] = tool.srv.kill()
        t_k = time.monotonic()
        k["delivered_before"] = rcv.stats()["distinct_ok"]
        bl.log("%s: SIGKILL with %d alerts acknowledged, %d delivered"
               % (name, k["alerts_acked_before"], k["delivered_before"]))
        k["restart_ready_s"] = round(tool.start(), 3)
        k["down_s"] = round(time.monotonic() - t_k, 3)
        k["delivered_at_restart"] = rcv.stats()["distinct_ok"]
    except Exception as e:  # reported by the main thread
        k["error"] = "kill/restart: %r" % e


def run_one(a, kind, run, work, alert_batches):
    """One tool, one run; returns the run's figures."""
    name = "%s-%s" % (kind, run)
    sub = work / name
    sub.mkdir()
    fail = a.fail_mode if run == "failing" else "none"
    rcv = Receiver(sub, name, fail, a.seed)
    out = {"tool": kind, "run": run, "receiver_fail": fail}
    rcv.start()
    tool = Tool(a, kind, sub, rcv.url)
    if tool.problem:
        rcv.stop()
        out["problem"] = tool.problem
        return out
    sampler = None
    try:
        out["ready_s"] = round(tool.start(), 3)
        time.sleep(a.settle)
        pid = tool.srv.pid
        out["rss_before_bytes"] = bl.proc_mem(pid).get("VmRSS")
        out["hwm_before_bytes"] = bl.proc_mem(pid).get("VmHWM")
        poster = Poster(tool.base, tool.auth)
        sampler = Sampler(lambda: tool.srv.pid)
        sampler.start()
        killer = None
        if run == "kill":
            out["kill"] = {}
            killer = threading.Thread(target=kill_restart, daemon=True,
                                      args=(tool, poster, rcv, len(alert_batches) // 2,
                                            out["kill"], name))
        rc0, c0, m0 = rcv.cpu_s(), bl.proc_cpu_s(pid), time.monotonic()
        if killer:
            out["kill"]["_c0"] = c0
            killer.start()
        bl.log("%s: posting %d alerts in %d batches" % (name, a.groups, len(alert_batches)))
        for names, body in alert_batches:
            poster.post(names, body, retry_s=60 if run == "kill" else 0)
        if killer:
            killer.join()
            if "error" in out["kill"]:
                raise bl.ServerError(out["kill"]["error"])
            pid = tool.srv.pid
            c0 = -out["kill"]["cpu_before_s"]  # the new process started at 0
        m_posted = time.monotonic()
        out["post"] = {"batches": len(poster.post_s), "errors": poster.errors,
                       "seconds": round(m_posted - m0, 3),
                       "median_batch_ms": 1000 * bl.median(poster.post_s) if poster.post_s
                       else None,
                       "max_batch_ms": 1000 * max(poster.post_s) if poster.post_s else None}
        poster.close()
        bl.log("%s: %d alerts acknowledged in %.2f s; waiting for the deliveries"
               % (name, len(poster.t_ack), m_posted - m0))
        timeout = a.drain_timeout if run != "burst" else max(120, a.drain_timeout // 2)
        done, waited = wait_delivered(rcv, len(poster.t_ack), timeout, t_started=m0)
        m1 = time.monotonic()
        c1, rc1 = bl.proc_cpu_s(pid), rcv.cpu_s()
        out["drained"] = done
        out["drain_s"] = round(waited, 3)
        out["cpu_s"] = round(c1 - c0, 3)
        out["receiver_cpu_s"] = round(rc1 - rc0, 3)
        out["receiver_cpu_share"] = (rc1 - rc0) / (m1 - m0) if m1 > m0 else None
        nreq = rcv.stats()["requests"]
        out["receiver_cpu_us_per_request"] = 1e6 * (rc1 - rc0) / nreq if nreq else None
        if not done:
            bl.log("%s: NOT all delivered after %.0f s" % (name, waited))
        time.sleep(a.after)  # late duplicates and repeats show up here
        if a.idle > 0:  # every group still held, nothing to send: the cost of holding them
            i0, t_i = bl.proc_cpu_s(pid), time.monotonic()
            time.sleep(a.idle)
            out["idle_cpu_share"] = (bl.proc_cpu_s(pid) - i0) / (time.monotonic() - t_i)
        sampler.stop()
        mem = bl.proc_mem(pid)
        out["rss_peak_sampled_bytes"] = sampler.peak
        out["rss_after_bytes"] = mem.get("VmRSS")
        out["hwm_bytes"] = mem.get("VmHWM")
        if run == "kill":
            out["hwm_bytes"] = max(mem.get("VmHWM") or 0, out["kill"]["hwm_before_bytes"] or 0)
            out["post"]["connection_errors"] = poster.conn_errors
        out["counters"] = tool.counters()
        records = rcv.records()
        out["deliveries"] = analyse(records, poster.t_ack, poster.t_send)
        d = out["deliveries"]
        bl.log("%s: %d of %d delivered, %d lost, %d duplicates, p99 %s, %.0f groups/s"
               % (name, d["delivered"], d["alerts_acked"], d["lost"], d["duplicates"],
                  fmt_ms(((d["latency_s"] or {}).get("p99"))), d["throughput_per_s"] or 0))
        out["exit_status"] = tool.srv.stop()
        out["log_tail"] = tool.log_tail(8)
        out["store"] = store_counts(tool)
    except bl.ServerError as e:
        out["problem"] = str(e)
        bl.log("%s: %s" % (name, e))
    finally:
        if sampler is not None and sampler.is_alive():
            sampler.stop()
        if tool.srv is not None and tool.srv.proc is not None:
            tool.srv.stop()
        rcv.stop()
    return out


# ---- figures ----

def quantiles(values):
    v = sorted(values)
    if not v:
        return None
    if len(v) == 1:
        return {"n": 1, "p50": v[0], "p90": v[0], "p99": v[0], "max": v[0]}
    q = statistics.quantiles(v, n=100, method="inclusive")
    return {"n": len(v), "p50": statistics.median(v), "p90": q[89], "p99": q[98], "max": v[-1]}


def fmt_ms(v):
    return "-" if v is None else "%.1f ms" % (v * 1000)


def mib(v):
    return None if v is None else v / MIB


def lat(r, k, which="latency_s"):
    q = ((r or {}).get("deliveries") or {}).get(which) or {}
    return None if q.get(k) is None else q[k] * 1000


def dv(r, k):
    return ((r or {}).get("deliveries") or {}).get(k)


def dw_requests(r):
    c = (r or {}).get("counters") or {}
    if "requests_by_result" in c:
        return sum(c["requests_by_result"].values())
    return c.get("requests")


def dw_failed(r):
    c = (r or {}).get("counters") or {}
    if "requests_by_result" in c:
        return sum(v for k, v in c["requests_by_result"].items() if k != "success")
    return c.get("requests_failed")


ROWS = [
    ("groups delivered", lambda r: dv(r, "delivered")),
    ("lost (acknowledged, never delivered)", lambda r: dv(r, "lost")),
    ("duplicates (2xx beyond the first)", lambda r: dv(r, "duplicates")),
    ("throughput, groups/s", lambda r: dv(r, "throughput_per_s")),
    ("latency p50, ms", lambda r: lat(r, "p50")),
    ("latency p90, ms", lambda r: lat(r, "p90")),
    ("latency p99, ms", lambda r: lat(r, "p99")),
    ("latency max, ms", lambda r: lat(r, "max")),
    ("from POST sent: latency p50, ms", lambda r: lat(r, "p50", "latency_from_send_s")),
    ("from POST sent: latency p99, ms", lambda r: lat(r, "p99", "latency_from_send_s")),
    ("delivered before its POST was answered", lambda r: dv(r, "delivered_before_ack")),
    ("POST of all batches, s", lambda r: ((r or {}).get("post") or {}).get("seconds")),
    ("first ack -> last delivery, s", lambda r: dv(r, "span_s")),
    ("webhook requests received", lambda r: dv(r, "requests")),
    ("attempts per notification", lambda r: dv(r, "attempts_per_notification")),
    ("requests counted by the tool", dw_requests),
    ("failed requests counted by the tool", dw_failed),
    ("RSS before the burst, MiB", lambda r: mib((r or {}).get("rss_before_bytes"))),
    ("peak RSS (VmHWM), MiB", lambda r: mib((r or {}).get("hwm_bytes"))),
    ("RSS after the burst, MiB", lambda r: mib((r or {}).get("rss_after_bytes"))),
    ("CPU seconds over the burst", lambda r: (r or {}).get("cpu_s")),
    ("idle afterwards, groups held: CPU share", lambda r: (r or {}).get("idle_cpu_share")),
    ("on-call pages opened (dojowatch)", lambda r: ((r or {}).get("store") or {}).get(
        "oncall_pages")),
    ("receiver CPU, share of one core", lambda r: (r or {}).get("receiver_cpu_share")),
    ("receiver CPU per request, us", lambda r: (r or {}).get("receiver_cpu_us_per_request")),
]
HIGHER_BETTER = {"throughput, groups/s"}


def print_run(title, res, markdown, rows=ROWS):
    dw, am = res.get("dojowatch"), res.get("alertmanager")
    headers = [title, LABELS["dojowatch"], LABELS["alertmanager"], "dojowatch / AM"]
    table = []
    for label, f in rows:
        a, b = f(dw), f(am)
        if a is None and b is None:
            continue
        table.append([label, a, b, bl.ratio(a, b)])
    for r, who in ((dw, "dojowatch"), (am, "alertmanager")):
        if r and r.get("problem"):
            table.append(["%s: problem" % who, r["problem"][:60], "", ""])
    print(bl.format_table(headers, table))
    if markdown:
        print()
        print(bl.format_markdown(headers, table))


KILL_ROWS = [
    ("alerts acknowledged before SIGKILL", lambda r: r["kill"]["alerts_acked_before"]),
    ("delivered at SIGKILL", lambda r: r["kill"]["delivered_before"]),
    ("SIGKILL to ready again, s", lambda r: r["kill"]["down_s"]),
    ("POSTs refused while down (retried)", lambda r: r["post"].get("connection_errors")),
    ("alerts acknowledged in all", lambda r: dv(r, "alerts_acked")),
    ("groups delivered", lambda r: dv(r, "delivered")),
    ("lost (acknowledged, never delivered)", lambda r: dv(r, "lost")),
    ("duplicates (2xx beyond the first)", lambda r: dv(r, "duplicates")),
    ("first ack -> last delivery, s", lambda r: dv(r, "span_s")),
    ("latency p50, ms", lambda r: lat(r, "p50")),
    ("latency p99, ms", lambda r: lat(r, "p99")),
    ("latency max, ms", lambda r: lat(r, "max")),
    ("peak RSS (VmHWM, both processes), MiB", lambda r: mib(r.get("hwm_bytes"))),
    ("on-call pages opened", lambda r: (r.get("store") or {}).get("oncall_pages")),
]


def print_kill(r, markdown):
    headers = ["kill -9 mid-burst, restart (dojowatch)", "value"]
    if not r or r.get("problem") or "kill" not in r:
        print(bl.format_table(headers, [["problem", (r or {}).get("problem", "not run")]]))
        return
    table = [[label, f(r)] for label, f in KILL_ROWS]
    print(bl.format_table(headers, table))
    if markdown:
        print()
        print(bl.format_markdown(headers, table))


# ---- main ----

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 1,000 groups, drain time-out 120 s (under 2 minutes)")
    ap.add_argument("--groups", type=int, help="alert groups in the burst (10,000; quick 1,000)")
    ap.add_argument("--batch", type=int, default=100, help="alerts per POST (default 100)")
    ap.add_argument("--tools", default=",".join(TOOLS), help="dojowatch, alertmanager or both")
    ap.add_argument("--runs", default=",".join(RUNS),
                    help="comma-separated subset of: burst, failing, kill (default all)")
    ap.add_argument("--fail-mode", choices=("alternate", "random"), default="alternate",
                    help="failing run: every other POST answers 500 (alternate, default) or "
                         "each with probability 0.5 (random, --seed)")
    ap.add_argument("--drain-timeout", type=int,
                    help="seconds to wait for every delivery in the failing and kill runs "
                         "(300; quick 120); the burst run waits half as long, at least 120")
    ap.add_argument("--settle", type=float, default=2.0,
                    help="seconds between ready and the burst (default 2)")
    ap.add_argument("--after", type=float, default=3.0,
                    help="seconds after the last delivery before counting (late duplicates; "
                         "default 3)")
    ap.add_argument("--idle", type=float, default=5.0,
                    help="seconds of CPU measured after each run while every group is held "
                         "and nothing is sent (default 5; 0: skip)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dojowatch", default=os.environ.get("DOJOWATCH_BIN",
                                                          str(peers.DEFAULT_DW_BIN)),
                    help="dojowatch binary (default build/release/src/cli/dojowatch)")
    ap.add_argument("--no-build", action="store_true",
                    help="do not run `make build` when the dojowatch binary is missing")
    peers.add_output_args(ap, "notify")
    a = ap.parse_args()
    a.groups = a.groups or (1000 if a.quick else 10000)
    a.drain_timeout = a.drain_timeout or (120 if a.quick else 300)
    a.tools = [t for t in TOOLS if t in a.tools.split(",")]
    a.runs = [r for r in RUNS if r in a.runs.split(",")]
    if not a.tools or not a.runs or a.groups < 1 or a.batch < 1:
        ap.error("nothing to run")
    return a


def main():
    a = parse_args()
    bl.install_signal_handlers()
    if "alertmanager" in a.tools and not Path(AM_BIN).exists():
        sys.exit("%s not found: run bench/notify/run.sh, which installs it" % AM_BIN)
    peers.warn_other_peers(extra=("alertmanager", "prometheus-alertm"))
    work = Path(tempfile.mkdtemp(prefix="dw-notify-", dir=a.workdir))
    t_start = time.monotonic()
    result = {"bench": "notify", "args": vars(a), "machine": bl.machine_info(),
              "versions": {"prometheus-alertmanager": bl.deb_version("prometheus-alertmanager")},
              "runs": {}}
    try:
        for run in a.runs:
            res = result["runs"][run] = {}
            for kind in a.tools:
                if run == "kill" and kind != "dojowatch":
                    continue
                now = time.time()
                res[kind] = run_one(a, kind, run, work, batches(a.groups, a.batch, now))
        titles = {"burst": "burst of %s groups" % "{:,}".format(a.groups),
                  "failing": "receiver failing half the time (%s)" % a.fail_mode}
        for run in a.runs:
            print()
            if run == "kill":
                print_kill(result["runs"][run].get("dojowatch"), a.markdown)
            else:
                print_run(titles[run], result["runs"][run], a.markdown)
        result["wall_s"] = round(time.monotonic() - t_start, 1)
        path = bl.write_results(a.out, "notify", result)
        bl.log("results: %s (%.0f s)" % (path, result["wall_s"]))
    finally:
        bl.end_run(work, a.keep)


if __name__ == "__main__":
    main()
