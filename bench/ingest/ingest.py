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
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import benchlib as bl  # noqa: E402

PY = "/usr/bin/python3"  # Debian's, where python3-snappy is installed
GEN = bl.SHARED / "bench" / "gen_dataset.py"
LOADGEN = bl.SHARED / "bench" / "rw_loadgen.py"
EXAMPLE_CONFIG = bl.REPO / "examples" / "dojopool.yaml"
DEFAULT_DW_BIN = bl.REPO / "build" / "release" / "src" / "cli" / "dojowatch"

SYSTEMS = ("dojowatch", "prometheus", "victoriametrics")
LABELS = {"dojowatch": "dojowatch", "prometheus": "Prometheus 2.42",
          "victoriametrics": "VictoriaMetrics 1.79"}
IMPORT_BODY_MAX = 16 << 20  # under dojowatch's max_ingest_body_bytes (32 MiB)
DW_STATE_FILES = {"dojowatch.db", "dojowatch.db-wal", "dojowatch.db-shm", "LOCK", "admin-token"}
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
    "[2] Prometheus has no bulk import API; its bulk path is promtool (next row).",
    "[3] VictoriaMetrics has no offline block writer; its bulk path is the HTTP import (row above).",
]

# (key, figure, target for dojowatch). Targets are the better peer's figures
# from ../shared/bench/README.md (2 cores, medians of three runs); "{series}"
# becomes the dataset's series count.
ROWS = [
    ("rw_cpu", "remote write, server CPU-s per million samples ({series} series)", "< 1.15 (VM)"),
    ("import_http_cpu", "HTTP import /api/v1/import/prometheus, server CPU-s per million",
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
        self.cache = self.dir / "rw-bodies.pickle"
        self.meta = None

    @property
    def series(self):
        return self.meta["series"]

    @property
    def samples(self):
        return self.meta["samples"]

    def generate(self):
        argv = [PY, str(GEN), "--hosts", str(self.hosts), "--duration", str(self.duration),
                "--meta", str(self.dir / "meta.json")]
        if self.files:
            argv += ["--om", str(self.om), "--prom", str(self.prom)]
        bl.log("generating dataset %s: %d hosts, %d s%s" % (
            self.name, self.hosts, self.duration, " (OpenMetrics + Prometheus text)" if self.files
            else ""))
        r = bl.run_timed(argv, self.dir / "gen.log")
        if r["rc"] != 0:
            raise RuntimeError("gen_dataset.py failed:\n" + (self.dir / "gen.log").read_text())
        self.meta = json.loads((self.dir / "meta.json").read_text())
        bl.log("dataset %s: %d series, %d samples, generated in %.1f s" % (
            self.name, self.series, self.samples, r["wall_s"]))


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


def http_import(srv, url, ds, headers=None):
    """POSTs the Prometheus text file to url; server CPU-s as rw_loadgen.py measures it."""
    pid = srv.pid
    i0 = bl.proc_cpu_s(pid)
    time.sleep(ds.idle)
    idle_rate = (bl.proc_cpu_s(pid) - i0) / ds.idle
    c0 = bl.proc_cpu_s(pid)
    t0 = time.monotonic()
    hdr = {"Content-Type": "text/plain; version=0.0.4"}
    hdr.update(headers or {})
    res = bl.post_bodies(url, bl.text_chunks(ds.prom, IMPORT_BODY_MAX), hdr)
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
    cfg = work / "prometheus.yml"
    # No scrape jobs: everything the server does is the data we send.
    cfg.write_text("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
    data = work / "data"
    port = bl.free_port()
    srv = bl.Server("prometheus", [
        "prometheus", "--config.file=%s" % cfg, "--storage.tsdb.path=%s" % data,
        "--web.listen-address=127.0.0.1:%d" % port, "--web.enable-remote-write-receiver"],
        work / "prometheus.log",
        "http://127.0.0.1:%d/-/ready" % port)
    try:
        srv.start()
        res = loadgen(ds, "http://127.0.0.1:%d/api/v1/write" % port, srv.pid, work / "loadgen.log")
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

    out["import_http_cpu"] = NA_NO_IMPORT_API
    blocks = work / "blocks"
    r = bl.run_timed(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(ds.om),
                      str(blocks)], work / "promtool.log", timeout=1800)
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

def vm_server(work, name):
    data = work / name
    port = bl.free_port()
    # The dataset's timestamps start in 2023: a retention of 100 years keeps
    # every sample (the default, one month, would drop the whole file import).
    srv = bl.Server("victoria-metrics", [
        "victoria-metrics", "-storageDataPath=%s" % data, "-httpListenAddr=127.0.0.1:%d" % port,
        "-retentionPeriod=100y"], work / (name + ".log"), "http://127.0.0.1:%d/health" % port)
    return srv, data, "http://127.0.0.1:%d" % port


def vm_metric_sum(base, prefix):
    """Sum of the /metrics lines starting with prefix (e.g. 'vm_active_merges{')."""
    _, body = bl.http("GET", base + "/metrics")
    n = 0
    for line in body.decode(errors="replace").splitlines():
        if line.startswith(prefix):
            n += int(float(line.rsplit(" ", 1)[1]))
    return n


def vm_wait_merges(srv, base, deadline):
    while time.monotonic() < deadline:
        bl.wait_idle(srv.pid, timeout=60)
        if vm_metric_sum(base, "vm_active_merges{") == 0:
            return


def vm_compact(srv, base):
    """Flushes buffered rows and merges the data parts as far as VictoriaMetrics will.

    /internal/force_merge runs in the background and skips parts that a
    background merge holds at that moment, so it is repeated (up to three
    times) while it still lowers the number of data parts. The indexdb is
    left as the server keeps it: force_merge does not touch it, and its few
    parts are what a real instance has on disk after such an import.
    Returns {'seconds', 'data_parts'}.
    """
    t0 = time.monotonic()
    deadline = t0 + 300
    bl.http("GET", base + "/internal/force_flush")
    vm_wait_merges(srv, base, deadline)
    parts = vm_metric_sum(base, 'vm_parts{type="storage/')
    for _ in range(3):
        bl.http("GET", base + "/internal/force_merge")
        time.sleep(0.5)
        vm_wait_merges(srv, base, deadline)
        now = vm_metric_sum(base, 'vm_parts{type="storage/')
        if now >= parts or now <= 1:
            parts = now
            break
        parts = now
    return {"seconds": round(time.monotonic() - t0, 2), "data_parts": parts}


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

class Dojowatch:
    """What the dojowatch binary can do yet, and how to start it for the benchmark."""

    def __init__(self, binary, work):
        self.bin = Path(binary)
        self.work = work
        self.token = secrets.token_hex(16)
        self.env = dict(os.environ, DOJOWATCH_ADMIN_TOKEN=self.token)
        self.auth = {"Authorization": "Bearer " + self.token}
        self.problem = None  # why nothing can be measured, or None
        self.config = work / "dojowatch-bench.yaml"
        self.serve_args = []

    def prepare(self, build):
        if not self.bin.exists() and build and self.bin == DEFAULT_DW_BIN:
            bl.log("dojowatch binary missing: make build")
            r = bl.run_timed(["make", "build"], self.work / "make-build.log", cwd=bl.REPO,
                             timeout=1800)
            if r["rc"] != 0:
                self.problem = "not yet (build failed)"
                bl.log("make build failed; log %s" % (self.work / "make-build.log"))
                return
        if not self.bin.exists():
            self.problem = "not yet (no binary)"
            return
        self.write_config()
        if self.supports("serve", "--retention"):
            self.serve_args = ["--retention", "100y"]

    def supports(self, sub, option=None):
        """True when `dojowatch SUB --help` succeeds (and mentions option)."""
        p = subprocess.run([str(self.bin), sub, "--help"], capture_output=True, text=True,
                           env=self.env, timeout=30)
        return p.returncode == 0 and (option is None or option in p.stdout)

    def write_config(self):
        """examples/dojopool.yaml with every retention at 100y (the dataset starts in 2023)."""
        text = EXAMPLE_CONFIG.read_text()
        self.config.write_text(replace_top_level_block(text, "retention",
                                                       ["raw: 100y", "aggregated: 100y"]))
        p = subprocess.run([str(self.bin), "check-config", str(self.config)],
                           capture_output=True, text=True, env=self.env, timeout=30)
        if p.returncode != 0:
            bl.log("bench config rejected, using examples/dojopool.yaml as is:\n" + p.stdout
                   + p.stderr)
            shutil.copyfile(EXAMPLE_CONFIG, self.config)

    def server(self, data, log_path):
        port = bl.free_port()
        argv = [str(self.bin), "serve", "--config", str(self.config), "--data", str(data),
                "--listen", "127.0.0.1:%d" % port] + self.serve_args
        srv = bl.Server("dojowatch", argv, log_path,
                        "http://127.0.0.1:%d/-/ready" % port, env=self.env)
        return srv, "http://127.0.0.1:%d" % port

    def endpoint_missing(self, base, path, body, headers):
        """True when POST path is not routed yet (404/405/501)."""
        status, text = bl.http("POST", base + path, body=body, headers=headers)
        if status in (404, 405, 501):
            bl.log("dojowatch: POST %s answers %d: not yet" % (path, status))
            return True
        if status not in (200, 204):
            bl.log("dojowatch POST %s with an empty body: %d %s" % (path, status, text[:200]))
        return False


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
            out["import_http_cpu"] = ("failed" if res["n_errors"]
                                      else res["server_cpu_s_per_Msamples"])
            disk_after_http = not res["n_errors"]
    finally:
        srv.stop()
    if disk_after_http:
        # Used only when there is no offline import: the stop must persist.
        det["disk_after_http_import"] = bl.tree_bytes(data, exclude=DW_STATE_FILES)
    shutil.rmtree(data, ignore_errors=True)

    if dw.supports("import"):
        data = work / "dw-offline"
        data.mkdir()
        r = bl.run_timed([str(dw.bin), "import", "--data", str(data), str(ds.om)],
                         work / "dojowatch-import-cli.log", env=dw.env, timeout=1800)
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


def replace_top_level_block(text, key, lines):
    """text with the YAML mapping under top-level `key:` replaced by lines (indented 2).

    The block ends at the next line that starts in column 0 (another key or
    a comment that belongs to it). When the key is absent, it is appended.
    """
    src = text.splitlines()
    out, i, found = [], 0, False
    while i < len(src):
        line = src[i]
        if not found and re.match(r"^%s:\s*(#.*)?$" % re.escape(key), line):
            found = True
            out.append(key + ":")
            out.extend("  " + x for x in lines)
            i += 1
            while i < len(src) and (src[i] == "" or src[i][0] in " \t"):
                i += 1
            if out and i < len(src):
                out.append("")
            continue
        out.append(line)
        i += 1
    if not found:
        out += ["", key + ":"] + ["  " + x for x in lines]
    return "\n".join(out) + "\n"


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
    ap.add_argument("--systems", default=",".join(SYSTEMS),
                    help="comma-separated subset of: " + ", ".join(SYSTEMS))
    ap.add_argument("--dojowatch", default=os.environ.get("DOJOWATCH_BIN", str(DEFAULT_DW_BIN)),
                    help="dojowatch binary (default build/release/src/cli/dojowatch)")
    ap.add_argument("--no-build", action="store_true",
                    help="do not run `make build` when the dojowatch binary is missing")
    ap.add_argument("--workdir", help="parent of the temporary directory (default $TMPDIR)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--out", help="results JSON (default build/bench/ingest-<UTC time>.json)")
    ap.add_argument("--markdown", action="store_true",
                    help="also print the tables as markdown (for docs/BENCHMARKS.md)")
    a = ap.parse_args(argv)
    a.systems = [s.strip() for s in a.systems.split(",") if s.strip()]
    bad = [s for s in a.systems if s not in SYSTEMS]
    if bad or not a.systems:
        ap.error("--systems: unknown %s (choose from %s)" % (", ".join(bad), ", ".join(SYSTEMS)))
    a.systems = [s for s in SYSTEMS if s in a.systems]  # fixed order
    return a


def check_tools(systems):
    need = [str(GEN), str(LOADGEN)]
    missing = [p for p in need if not Path(p).exists()]
    if missing:
        sys.exit("missing %s: the shared benchmark inputs live in ../shared/bench beside the "
                 "repository" % ", ".join(missing))
    tools = {"prometheus": ["prometheus", "promtool"], "victoriametrics": ["victoria-metrics"]}
    for s in systems:
        for t in tools.get(s, []):
            if shutil.which(t) is None:
                sys.exit("%s not found: run bench/ingest/run.sh, which installs the peers" % t)
    p = subprocess.run([PY, "-c", "import snappy"], capture_output=True)
    if p.returncode != 0:
        sys.exit("python3-snappy is missing for %s: apt-get install python3-snappy" % PY)


def warn_other_peers():
    """Warns when a Prometheus or VictoriaMetrics that we did not start is running."""
    others = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            comm = Path("/proc", d, "comm").read_text().strip()
        except OSError:
            continue
        if comm in ("prometheus", "victoria-metric", "victoria-metrics", "dojowatch"):
            others.append("%s (pid %s)" % (comm, d))
    if others:
        bl.log("warning: already running, competing for the CPU: " + ", ".join(others))


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
