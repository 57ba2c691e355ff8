#!/usr/bin/python3
"""ingest.py - the side-by-side ingest benchmark: dojowatch, Prometheus 2.42 and
VictoriaMetrics 1.79 on the same data. Start it through run.sh, which first
installs the peers (Debian packages) and python3-snappy for the load generator.

DESIGN
  One run: generate the shared dataset (../shared/bench/gen_dataset.py) into a
  temporary directory, then for each system in turn and each repetition start
  the server alone on 127.0.0.1 with a fresh data dir and measure:

    remote write   ../shared/bench/rw_loadgen.py sends the dataset (timestamps
                   shifted to end now) to the server's /api/v1/write and reads
                   the server's CPU time from /proc before and after, idle CPU
                   subtracted; its figure is server CPU-s per million samples.
                   The same run gives resident bytes per series (VmRSS after
                   the settle window / series).
    WAL replay     right after that run the server is killed (SIGKILL: a
                   crash, so nothing can be snapshotted on the way out) and
                   started again on the same data dir; samples in the WAL /
                   seconds from exec to a 200 from its readiness URL.
    HTTP import    the Prometheus text file (--prom) POSTed to
                   /api/v1/import/prometheus of a fresh server in bodies of at
                   most 16 MiB; server CPU as above.
    offline import a command that writes persisted blocks from the OpenMetrics
                   file (--om): promtool tsdb create-blocks-from openmetrics,
                   dojowatch import; CPU of the tool from wait4().
    bytes/sample   apparent size of data + index once persisted and compacted:
                   Prometheus the blocks promtool wrote; VictoriaMetrics data/
                   and indexdb/ after the HTTP import, /internal/force_flush
                   and /internal/force_merge and the merges have ended;
                   dojowatch its data dir without the SQLite state after
                   dojowatch import.

  --big adds a 100,000-series case (--hosts 480, 30 min) for remote write
  CPU including series creation, resident bytes per series and WAL replay.

  dojowatch: the binary is build/release/src/cli/dojowatch (`make build` when
  missing). Each step first checks that its endpoint or subcommand exists
  (POST of an empty body answers 404, or `dojowatch import --help` fails) and
  prints "not yet" in its cell otherwise, so the same script measures the
  engine as its parts land.

  Nothing but the servers it starts runs during a measurement; servers run
  one at a time. Every process is stopped by pid at the end, also on Ctrl-C,
  and the temporary directory is removed (unless --keep).

  Output: the table on stdout (one row per figure; dojowatch | Prometheus |
  VictoriaMetrics | dojowatch/VM | target), progress on stderr, every figure
  and every run's raw numbers as JSON in --out.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import benchlib as bl  # noqa: E402
import peers  # noqa: E402
from peers import (DEFAULT_DW_BIN, DW_STATE_FILES, EXAMPLE_CONFIG, GEN, LABELS, PY,  # noqa: E402,F401
                   SYSTEMS, Dojowatch, check_inputs, generate_dataset, prometheus_server,
                   promtool_backfill, replace_top_level_block, vm_compact, vm_server,
                   warn_other_peers, write_scrape_ordered)

LOADGEN = bl.SHARED / "bench" / "rw_loadgen.py"

IMPORT_BODY_MAX = 16 << 20  # under dojowatch's max_ingest_body_bytes (32 MiB)
EMPTY_WRITE_REQUEST = b"\x00"  # snappy block of zero bytes = an empty prompb.WriteRequest

# Shapes: the shared default (48 hosts, 2 h at 15 s = 9,984 series) and the
# 100,000-series case of issue 3 (480 hosts, shorter so it stays bounded).
PROFILES = {
    "quick": {"hosts": 8, "duration": 1800, "repeat": 1, "idle": 1.0, "settle": 2.0},
    "default": {"hosts": 48, "duration": 7200, "repeat": 3, "idle": 3.0, "settle": 5.0},
}
BIG = {"hosts": 480, "duration": 1800, "repeat": 1, "idle": 3.0, "settle": 5.0}

NA_NO_WAL = "n/a [1]"
NA_NO_IMPORT_API = "n/a [2]"
NA_NO_OFFLINE = "n/a [3]"
FOOTNOTES = [
    "[1] VictoriaMetrics has no write-ahead log: it keeps the newest samples in memory for about a "
    "second before writing a part, and loses them on a crash, by design.",
    "[2] Prometheus has no bulk import API; its bulk path is promtool (the offline backfill row).",
    "[3] VictoriaMetrics has no offline block writer; its bulk path is the HTTP import.",
    "[4] Refused (400): dojowatch's head, like Prometheus', takes samples at most half a block "
    "range (1 h) older than its newest one. The file holds each series' whole 2 h one series "
    "after the other, so from the second body on about half of every body is out of bounds and "
    "the request is refused whole. History goes through `dojowatch import`; the scrape-order "
    "row sends the same samples in the order scrapes produce them.",
]
NA_REFUSED_OOB = "refused [4]"

# (key, figure, target for dojowatch). Targets are the better peer's figures
# from ../shared/bench/README.md (2 cores, medians of three runs); "{series}"
# becomes the dataset's series count.
ROWS = [
    ("rw_cpu", "remote write, server CPU-s per million samples ({series} series)", "< 1.15 (VM)"),
    ("import_http_cpu", "HTTP import /api/v1/import/prometheus, server CPU-s per million",
     "< 0.9 (VM)"),
    ("import_http_scrape_cpu", "HTTP import of the same samples in scrape order, CPU-s per million",
     "< 0.9 (VM)"),
    ("import_offline_cpu", "offline backfill (promtool / dojowatch import), CPU-s per million",
     "< 2.2 (promtool)"),
    ("disk_bps", "bytes per sample on disk, data + index, persisted and compacted", "< 1.39 (VM)"),
    ("rss_per_series", "resident bytes per series, whole process ({series} series)", "-"),
    ("wal_replay_sps", "WAL replay at restart after a crash, samples/s ({series} series)",
     "> Prometheus"),
]
BIG_ROWS = [
    ("rw_cpu", "remote write incl. creating series, CPU-s per million ({series} series)",
     "< 2.5 (VM)"),
    ("rss_per_series", "resident bytes per active series ({series} series)", "< 1,730 (VM)"),
    ("wal_replay_sps", "WAL replay at restart after a crash, samples/s ({series} series)",
     "> Prometheus"),
]


# ---- datasets ----

class Dataset:
    """One shape of the shared dataset and the files generated for it."""

    def __init__(self, name, work, hosts, duration, idle, settle, files):
        self.name, self.hosts, self.duration = name, hosts, duration
        self.idle, self.settle, self.files = idle, settle, files
        self.dir = Path(work) / ("ds-" + name)
        self.dir.mkdir(parents=True)
        self.om, self.prom = self.dir / "data.om", self.dir / "data.prom"
        self.prom_scrape = self.dir / "data-scrape.prom"  # the same samples in scrape order
        self.cache = self.dir / "rw-bodies.pickle"
        self.meta = None

    @property
    def series(self):
        return self.meta["series"]

    @property
    def samples(self):
        return self.meta["samples"]

    def generate(self):
        bl.log("generating dataset %s: %d hosts, %d s%s" % (
            self.name, self.hosts, self.duration, " (OpenMetrics + Prometheus text)" if self.files
            else ""))
        self.meta = generate_dataset(self.dir, self.hosts, self.duration,
                                     om=self.om if self.files else None,
                                     prom=self.prom if self.files else None)
        bl.log("dataset %s: %d series, %d samples, generated in %.1f s" % (
            self.name, self.series, self.samples, self.meta["generate_wall_s"]))
        if self.files:
            t0 = time.monotonic()
            n = write_scrape_ordered(self.prom_scrape, self.hosts, self.duration)
            if n != self.samples:
                raise RuntimeError("scrape-ordered file: %d samples, expected %d" % (
                    n, self.samples))
            bl.log("dataset %s: scrape-ordered text written in %.1f s" % (
                self.name, time.monotonic() - t0))


# ---- the steps every system shares ----

def loadgen(ds, url, pid, log_path, bearer=None, max_seconds=600):
    """rw_loadgen.py against url; returns its JSON result."""
    argv = [PY, str(LOADGEN), "--url", url, "--pid", str(pid), "--hosts", str(ds.hosts),
            "--duration", str(ds.duration), "--cache", str(ds.cache), "--idle", str(ds.idle),
            "--settle", str(ds.settle), "--max-seconds", str(max_seconds)]
    env = dict(os.environ)
    env.pop("DOJOWATCH_ADMIN_TOKEN", None)  # peers get no Authorization header
    if bearer:
        argv += ["--bearer", bearer]
    with open(log_path, "ab") as logf:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=logf, env=env,
                           stdin=subprocess.DEVNULL, timeout=max_seconds + 600)
    if p.returncode != 0:
        raise RuntimeError("rw_loadgen.py failed (status %d); log %s" % (p.returncode, log_path))
    return json.loads(p.stdout.decode().strip().splitlines()[-1])


def rw_figures(ds, res):
    """The figures of one remote-write run, or the reason it has none."""
    complete = res["n_errors"] == 0 and res["samples_sent"] == ds.samples
    if not complete:
        bl.log("remote write incomplete: %d of %d samples, errors %s" % (
            res["samples_sent"], ds.samples, res["errors"]))
        return {"rw_cpu": "failed", "rss_per_series": "failed"}
    return {"rw_cpu": res["server_cpu_s_per_Msamples"],
            "rss_per_series": res["rss_after_settle"] / ds.series}


def http_import(srv, url, ds, headers=None, path=None):
    """POSTs the Prometheus text file (ds.prom, or path) to url; server CPU-s as rw_loadgen.py
    measures it."""
    pid = srv.pid
    i0 = bl.proc_cpu_s(pid)
    time.sleep(ds.idle)
    idle_rate = (bl.proc_cpu_s(pid) - i0) / ds.idle
    c0 = bl.proc_cpu_s(pid)
    t0 = time.monotonic()
    hdr = {"Content-Type": "text/plain; version=0.0.4"}
    hdr.update(headers or {})
    res = bl.post_bodies(url, bl.text_chunks(path or ds.prom, IMPORT_BODY_MAX), hdr)
    wall = time.monotonic() - t0
    c1 = bl.proc_cpu_s(pid)
    time.sleep(ds.settle)
    c2 = bl.proc_cpu_s(pid)
    cpu = (c2 - c0) - idle_rate * ds.settle
    res.update({"wall_s": round(wall, 3), "server_idle_cpu_rate": round(idle_rate, 4),
                "server_cpu_send_s": round(c1 - c0, 2), "server_cpu_incl_settle_s": round(cpu, 2),
                "server_cpu_s_per_Msamples": round(cpu / ds.samples * 1e6, 3)})
    return res


def restart_timed(srv, samples):
    """Kills srv, starts it again on the same data; WAL replay figures."""
    srv.kill()
    ready_s = srv.start(timeout=600)
    cpu = bl.proc_cpu_s(srv.pid)
    return {"restart_ready_s": round(ready_s, 3), "restart_cpu_s": round(cpu, 2),
            "wal_replay_sps": samples / ready_s}


def disk_split(path, index_names):
    """{'total': bytes, 'index': bytes under the given names} of a store."""
    total = bl.tree_bytes(path)
    index = 0
    for root, dirs, files in os.walk(path):
        for name in list(dirs) + files:
            if name in index_names:
                index += bl.tree_bytes(os.path.join(root, name))
                if name in dirs:
                    dirs.remove(name)
    return {"total": total, "index": index}


def wait_stable_size(path, measure, timeout=60.0):
    """Re-measures until two readings 1 s apart agree (parts deleted after a merge)."""
    last = measure(path)
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        time.sleep(1.0)
        cur = measure(path)
        if cur == last:
            return cur
        last = cur
    return last


# ---- Prometheus 2.42 ----

def run_prometheus(ds, work, big):
    out, det = {}, {}
    data = work / "data"
    # No scrape jobs: everything the server does is the data we send.
    srv, base = prometheus_server(work, data, extra_args=["--web.enable-remote-write-receiver"])
    try:
        srv.start()
        res = loadgen(ds, base + "/api/v1/write", srv.pid, work / "loadgen.log")
        det["remote_write"] = res
        out.update(rw_figures(ds, res))
        det["wal_bytes"] = bl.tree_bytes(data / "wal")
        det["head_chunks_bytes"] = bl.tree_bytes(data / "chunks_head")
        if out["rw_cpu"] != "failed":
            r = restart_timed(srv, res["samples_sent"])
            m = re.findall(r'msg="WAL replay completed".*total_replay_duration=(\S+)',
                           (work / "prometheus.log").read_text(errors="replace"))
            r["log_total_replay_duration"] = m[-1] if m else None
            det["restart"] = r
            out["wal_replay_sps"] = r["wal_replay_sps"]
    finally:
        srv.stop()
    shutil.rmtree(data, ignore_errors=True)
    if big:
        return out, det

    out["import_http_cpu"] = out["import_http_scrape_cpu"] = NA_NO_IMPORT_API
    blocks = work / "blocks"
    r = promtool_backfill(ds.om, blocks, work / "promtool.log")
    det["promtool"] = r
    if r["rc"] != 0:
        bl.log("promtool failed; log %s" % (work / "promtool.log"))
        out["import_offline_cpu"] = out["disk_bps"] = "failed"
        return out, det
    out["import_offline_cpu"] = r["cpu_s"] / ds.samples * 1e6
    disk = disk_split(blocks, {"index"})
    disk["allocated"] = bl.tree_bytes(blocks, allocated=True)
    det["disk"] = disk
    out["disk_bps"] = disk["total"] / ds.samples
    shutil.rmtree(blocks, ignore_errors=True)
    return out, det


# ---- VictoriaMetrics 1.79 ----

def run_victoriametrics(ds, work, big):
    out, det = {}, {}
    srv, data, base = vm_server(work, "vm-rw")
    try:
        srv.start()
        res = loadgen(ds, base + "/api/v1/write", srv.pid, work / "loadgen.log")
        det["remote_write"] = res
        out.update(rw_figures(ds, res))
        # Not a WAL replay, but what a crash costs it in time: kept in the JSON.
        det["restart"] = restart_timed(srv, res["samples_sent"])
        out["wal_replay_sps"] = NA_NO_WAL
    finally:
        srv.stop()
    shutil.rmtree(data, ignore_errors=True)
    if big:
        return out, det

    out["import_offline_cpu"] = NA_NO_OFFLINE
    srv, data, base = vm_server(work, "vm-import-scrape")
    try:
        srv.start()
        res = http_import(srv, base + "/api/v1/import/prometheus", ds, path=ds.prom_scrape)
        det["http_import_scrape"] = res
        out["import_http_scrape_cpu"] = ("failed" if res["n_errors"]
                                         else res["server_cpu_s_per_Msamples"])
    finally:
        srv.stop()
        shutil.rmtree(data, ignore_errors=True)

    srv, data, base = vm_server(work, "vm-import")
    try:
        srv.start()
        res = http_import(srv, base + "/api/v1/import/prometheus", ds)
        det["http_import"] = res
        if res["n_errors"]:
            out["import_http_cpu"] = out["disk_bps"] = "failed"
            return out, det
        out["import_http_cpu"] = res["server_cpu_s_per_Msamples"]
        det["compact"] = vm_compact(srv, base)

        def measure(p):
            return {"data": bl.tree_bytes(p / "data"), "index": bl.tree_bytes(p / "indexdb")}

        disk = wait_stable_size(data, measure)
        disk["total"] = disk["data"] + disk["index"]
        disk["allocated"] = (bl.tree_bytes(data / "data", allocated=True)
                             + bl.tree_bytes(data / "indexdb", allocated=True))
        det["disk"] = disk
        out["disk_bps"] = disk["total"] / ds.samples
    finally:
        srv.stop()
        shutil.rmtree(data, ignore_errors=True)
    return out, det


# ---- dojowatch ----

def run_dojowatch(ds, work, big, dw):
    keys = [k for k, _, _ in (BIG_ROWS if big else ROWS)]
    if dw.problem:
        return {k: dw.problem for k in keys}, {"problem": dw.problem}
    out = {k: bl.NOT_YET for k in keys}
    det = {"serve_args": dw.serve_args}

    data = work / "dw-rw"
    srv, base = dw.server(data, work / "dojowatch-rw.log")
    try:
        srv.start()
        rw_hdr = dict(dw.auth, **{"Content-Encoding": "snappy",
                                  "Content-Type": "application/x-protobuf",
                                  "X-Prometheus-Remote-Write-Version": "0.1.0"})
        if not dw.endpoint_missing(base, "/api/v1/write", EMPTY_WRITE_REQUEST, rw_hdr):
            res = loadgen(ds, base + "/api/v1/write", srv.pid, work / "loadgen.log",
                          bearer=dw.token)
            det["remote_write"] = res
            out.update(rw_figures(ds, res))
            if out["rw_cpu"] != "failed":
                det["restart"] = restart_timed(srv, res["samples_sent"])
                out["wal_replay_sps"] = det["restart"]["wal_replay_sps"]
    finally:
        srv.stop()
    shutil.rmtree(data, ignore_errors=True)
    if big:
        return out, det

    data = work / "dw-import"
    srv, base = dw.server(data, work / "dojowatch-import.log")
    disk_after_http = None
    try:
        srv.start()
        if not dw.endpoint_missing(base, "/api/v1/import/prometheus", b"",
                                   dict(dw.auth, **{"Content-Type": "text/plain"})):
            res = http_import(srv, base + "/api/v1/import/prometheus", ds, dw.auth)
            det["http_import"] = res
            out["import_http_cpu"] = res["server_cpu_s_per_Msamples"]
            if res["n_errors"]:
                oob = all("out of bounds" in e for e in res["errors"])
                out["import_http_cpu"] = NA_REFUSED_OOB if oob else "failed"
            disk_after_http = not res["n_errors"]
    finally:
        srv.stop()
    if disk_after_http:
        # Used only when there is no offline import: the stop must persist.
        det["disk_after_http_import"] = bl.tree_bytes(data, exclude=DW_STATE_FILES)
    shutil.rmtree(data, ignore_errors=True)

    if "http_import" in det:  # the endpoint exists
        data = work / "dw-import-scrape"
        srv, base = dw.server(data, work / "dojowatch-import-scrape.log")
        try:
            srv.start()
            res = http_import(srv, base + "/api/v1/import/prometheus", ds, dw.auth,
                              path=ds.prom_scrape)
            det["http_import_scrape"] = res
            out["import_http_scrape_cpu"] = ("failed" if res["n_errors"]
                                             else res["server_cpu_s_per_Msamples"])
        finally:
            srv.stop()
        shutil.rmtree(data, ignore_errors=True)

    if dw.supports("import"):
        data = work / "dw-offline"
        data.mkdir()
        r = dw.import_file(data, ds.om, work / "dojowatch-import-cli.log")
        det["offline_import"] = r
        if r["rc"] != 0:
            out["import_offline_cpu"] = out["disk_bps"] = "failed"
        else:
            out["import_offline_cpu"] = r["cpu_s"] / ds.samples * 1e6
            det["disk"] = {"total": bl.tree_bytes(data, exclude=DW_STATE_FILES),
                           "allocated": bl.tree_bytes(data, exclude=DW_STATE_FILES,
                                                      allocated=True)}
            out["disk_bps"] = det["disk"]["total"] / ds.samples
        shutil.rmtree(data, ignore_errors=True)
    else:
        bl.log("dojowatch: no import subcommand yet")
        if "disk_after_http_import" in det:
            out["disk_bps"] = det["disk_after_http_import"] / ds.samples
    return out, det


# ---- the run ----

RUNNERS = {"prometheus": run_prometheus, "victoriametrics": run_victoriametrics}


def run_case(ds, systems, repeat, work, big, dw):
    """Every system, repeat times, on dataset ds; {system: {key: [per-run values]}}, details."""
    figs = {s: {} for s in systems}
    details = {s: [] for s in systems}
    for rep in range(repeat):
        for s in systems:
            run_dir = work / ("%s-%s-%d" % (ds.name, s, rep + 1))
            run_dir.mkdir()
            bl.log("%s: %s, run %d of %d" % (ds.name, LABELS[s], rep + 1, repeat))
            t0 = time.monotonic()
            try:
                if s == "dojowatch":
                    out, det = run_dojowatch(ds, run_dir, big, dw)
                else:
                    out, det = RUNNERS[s](ds, run_dir, big)
            except (RuntimeError, bl.ServerError, OSError, ValueError) as e:
                # One system failing (a crash, a refused connection) must not
                # cost the figures of the others: its cells say "error".
                bl.log("%s failed: %s" % (LABELS[s], e))
                bl.stop_all()
                out = {k: "error" for k, _, _ in (BIG_ROWS if big else ROWS)}
                det = {"error": str(e)}
            det["wall_s"] = round(time.monotonic() - t0, 1)
            details[s].append(det)
            for k, v in out.items():
                figs[s].setdefault(k, []).append(v)
            bl.log("%s: %s" % (LABELS[s], ", ".join(
                "%s=%s" % (k, bl.fmt_num(v)) for k, v in sorted(out.items()))))
    return figs, details


def cell(values):
    """Median of the runs' numbers; a reason (string) when a run had none."""
    if not values:
        return "-"
    texts = [v for v in values if not bl.is_num(v)]
    if texts:
        return texts[0]
    return bl.median(values)


def table_rows(rows, ds, figs):
    out = []
    for key, figure, target in rows:
        cells = {s: cell(figs.get(s, {}).get(key, [])) for s in SYSTEMS}
        r = bl.ratio(cells["dojowatch"], cells["victoriametrics"])
        rtext = "-" if r is None else "%.2f" % r
        if r is None and not bl.is_num(cells["victoriametrics"]):
            rp = bl.ratio(cells["dojowatch"], cells["prometheus"])
            if rp is not None:
                rtext = "%.2f (/Prom)" % rp
        out.append({"key": key, "figure": figure.format(series="{:,}".format(ds.series)),
                    "dojowatch": cells["dojowatch"], "prometheus": cells["prometheus"],
                    "victoriametrics": cells["victoriametrics"], "ratio": rtext,
                    "target": target, "runs": {s: figs.get(s, {}).get(key, []) for s in SYSTEMS}})
    return out


HEADERS = ["figure", "dojowatch", "Prometheus 2.42", "VictoriaMetrics 1.79", "dojowatch/VM",
           "target"]


def as_table_rows(rows):
    return [[r["figure"], r["dojowatch"], r["prometheus"], r["victoriametrics"], r["ratio"],
             r["target"]] for r in rows]


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="bench/ingest/run.sh",
        description="Side-by-side ingest benchmark: dojowatch, Prometheus 2.42 and "
                    "VictoriaMetrics 1.79 on the shared dataset (see bench/ingest/README.md).")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 8 hosts x 30 min, one repetition (about a minute)")
    ap.add_argument("--big", action="store_true",
                    help="also the 100,000-series case (480 hosts x 30 min)")
    ap.add_argument("--repeat", type=int, help="repetitions of the main case (default 3; "
                    "--quick 1); the table shows medians")
    ap.add_argument("--big-repeat", type=int, default=1, help="repetitions of the --big case")
    ap.add_argument("--hosts", type=int, help="override the main case's hosts")
    ap.add_argument("--duration", type=int, help="override the main case's seconds of data")
    peers.add_run_args(ap, "ingest")
    a = ap.parse_args(argv)
    peers.parse_systems(ap, a)
    return a


def check_tools(systems):
    check_inputs(systems, extra=[LOADGEN])
    p = subprocess.run([PY, "-c", "import snappy"], capture_output=True)
    if p.returncode != 0:
        sys.exit("python3-snappy is missing for %s: apt-get install python3-snappy" % PY)


def main(argv):
    a = parse_args(argv)
    prof = dict(PROFILES["quick" if a.quick else "default"])
    if a.repeat:
        prof["repeat"] = a.repeat
    for k in ("hosts", "duration"):
        if getattr(a, k):
            prof[k] = getattr(a, k)
    check_tools(a.systems)
    bl.install_signal_handlers()
    warn_other_peers()

    parent = a.workdir or None
    work = Path(tempfile.mkdtemp(prefix="dw-bench-ingest-", dir=parent))
    started = time.monotonic()
    result = {"benchmark": "ingest", "machine": bl.machine_info(),
              "versions": {"prometheus": bl.deb_version("prometheus"),
                           "victoria-metrics": bl.deb_version("victoria-metrics")},
              "args": vars(a), "cases": {}}
    try:
        bl.log("work dir %s" % work)
        dw = Dojowatch(a.dojowatch, work)
        if "dojowatch" in a.systems:
            dw.prepare(build=not a.no_build)
            result["versions"]["dojowatch"] = dw.problem or str(dw.bin)
        cases = [("main", prof, ROWS, False)]
        if a.big:
            cases.append(("big", dict(BIG, repeat=a.big_repeat), BIG_ROWS, True))
        for name, p, rows, big in cases:
            ds = Dataset(name, work, p["hosts"], p["duration"], p["idle"], p["settle"],
                         files=not big)
            ds.generate()
            figs, details = run_case(ds, a.systems, p["repeat"], work, big, dw)
            result["cases"][name] = {"dataset": ds.meta, "repeat": p["repeat"],
                                     "rows": table_rows(rows, ds, figs), "details": details}
            shutil.rmtree(ds.dir, ignore_errors=True)  # gigabytes; done with them
    finally:
        bl.stop_all()
        if a.keep:
            bl.log("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    result["wall_s"] = round(time.monotonic() - started, 1)

    out = Path(a.out) if a.out else bl.REPO / "build" / "bench" / time.strftime(
        "ingest-%Y%m%dT%H%M%SZ.json", time.gmtime())
    bl.write_json(out, result)
    print_report(result, a.markdown)
    print("\nresults: %s (%.0f s)" % (out, result["wall_s"]))
    return 0


def print_report(result, markdown):
    m = result["machine"]
    print("ingest benchmark, %s, nproc %s, %s" % (m["date_utc"], m["nproc"], m["cpu_model"]))
    rows_all = []
    for name, case in result["cases"].items():
        ds = case["dataset"]
        print("\n%s case: %d hosts, %d s at %d s = %s series, %s samples; median of %d run(s)"
              % (name, ds["hosts"], ds["duration_s"], ds["interval_s"],
                 "{:,}".format(ds["series"]), "{:,}".format(ds["samples"]), case["repeat"]))
        rows = as_table_rows(case["rows"])
        rows_all += rows
        print(bl.format_table(HEADERS, rows))
    print()
    for f in FOOTNOTES:
        print(f)
    if markdown:
        print()
        print(bl.format_markdown(HEADERS, rows_all))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
