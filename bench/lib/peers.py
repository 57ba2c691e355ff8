"""peers - the three systems the side-by-side benchmarks compare, started the same way
everywhere: dojowatch, Prometheus 2.42 and VictoriaMetrics 1.79 (Debian packages), plus the
shared dataset they are loaded with.

DESIGN
  bench/ingest measures what loading costs, bench/query what querying costs; both need the
  same servers on loopback with fresh data directories and the same data. This module holds
  those pieces (benchlib.py holds the generic process, /proc and table helpers):

    - generate_dataset(): ../shared/bench/gen_dataset.py into a directory (OpenMetrics for
      promtool and `dojowatch import`, Prometheus text for the HTTP imports).
    - prometheus_server(), promtool_backfill(): Prometheus on a data directory, e.g. the
      blocks promtool wrote from the OpenMetrics file; without scrape jobs unless the caller
      gives its own prometheus.yml (bench/probes drives blackbox_exporter with one).
    - vm_server(), vm_compact(): VictoriaMetrics with a 100-year retention (the dataset
      starts in 2023), and its flush-and-merge so its parts are settled.
    - Dojowatch: what the binary can do (subcommands, options), the bench configuration
      (examples/dojopool.yaml with 100-year retentions, and any top-level sections a
      benchmark replaces, e.g. scrape and probes), serve and import.

  Every server is a benchlib.Server, so benchlib.stop_all() ends exactly what was started.
"""
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import benchlib as bl

PY = "/usr/bin/python3"  # Debian's, where python3-snappy is installed
GEN = bl.SHARED / "bench" / "gen_dataset.py"
EXAMPLE_CONFIG = bl.REPO / "examples" / "dojopool.yaml"
DEFAULT_DW_BIN = bl.REPO / "build" / "release" / "src" / "cli" / "dojowatch"
SYSTEMS = ("dojowatch", "prometheus", "victoriametrics")


def add_run_args(ap, bench):
    """The options every side-by-side benchmark takes (systems, binary, work dir, output)."""
    ap.add_argument("--systems", default=",".join(SYSTEMS),
                    help="comma-separated subset of: " + ", ".join(SYSTEMS))
    ap.add_argument("--dojowatch", default=os.environ.get("DOJOWATCH_BIN", str(DEFAULT_DW_BIN)),
                    help="dojowatch binary (default build/release/src/cli/dojowatch)")
    ap.add_argument("--no-build", action="store_true",
                    help="do not run `make build` when the dojowatch binary is missing")
    add_output_args(ap, bench)


def add_output_args(ap, bench):
    """The work-dir and output options (--workdir, --keep, --out, --markdown)."""
    ap.add_argument("--workdir", help="parent of the temporary directory (default $TMPDIR)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--out", help="results JSON (default build/bench/%s-<UTC time>.json)" % bench)
    ap.add_argument("--markdown", action="store_true",
                    help="also print the tables as markdown (for docs/BENCHMARKS.md)")


def parse_systems(ap, a):
    """Turns a.systems into a list in the fixed order, or exits with the usage error."""
    a.systems = [s.strip() for s in a.systems.split(",") if s.strip()]
    bad = [s for s in a.systems if s not in SYSTEMS]
    if bad or not a.systems:
        ap.error("--systems: unknown %s (choose from %s)" % (", ".join(bad), ", ".join(SYSTEMS)))
    a.systems = [s for s in SYSTEMS if s in a.systems]
LABELS = {"dojowatch": "dojowatch", "prometheus": "Prometheus 2.42",
          "victoriametrics": "VictoriaMetrics 1.79"}
TOOLS = {"prometheus": ["prometheus", "promtool"], "victoriametrics": ["victoria-metrics"]}
DW_STATE_FILES = {"dojowatch.db", "dojowatch.db-wal", "dojowatch.db-shm", "LOCK", "admin-token"}


# ---- the dataset ----

def generate_dataset(directory, hosts, duration, om=None, prom=None):
    """Runs gen_dataset.py into directory; returns its meta.json as a dict.

    om and prom are output paths (None: not written). Raises RuntimeError on failure.
    """
    directory = Path(directory)
    argv = [PY, str(GEN), "--hosts", str(hosts), "--duration", str(duration),
            "--meta", str(directory / "meta.json")]
    if om:
        argv += ["--om", str(om)]
    if prom:
        argv += ["--prom", str(prom)]
    r = bl.run_timed(argv, directory / "gen.log")
    if r["rc"] != 0:
        raise RuntimeError("gen_dataset.py failed:\n" + (directory / "gen.log").read_text())
    meta = json.loads((directory / "meta.json").read_text())
    meta["generate_wall_s"] = round(r["wall_s"], 2)
    return meta


def write_scrape_ordered(path, hosts, duration, interval=15, seed=42):
    """The dataset as Prometheus text in scrape order: every series' sample at the first
    timestamp, then every series' sample at the next one, and so on; the same samples,
    formatted the same way, as gen_dataset.py --prom writes series by series.

    This is how a stream of scrapes arrives, and the only order in which a store with a
    Prometheus-like head (it takes samples up to 1 h older than its newest one) can take a
    2 h backfill over HTTP. No HELP/TYPE lines: a request body holds several scrapes, and
    a family's TYPE may appear only once per body. Returns the number of samples written.
    """
    sys.path.insert(0, str(GEN.parent))
    import gen_dataset as g  # the simulator of the shared dataset (like rw_loadgen.py)
    steps = duration // interval
    fams = g.generate(hosts, steps, interval, seed)
    series = []  # (prefix, values, formatter)
    for f in fams:
        for metric, labels, values, fmt in f.series:
            series.append(("%s{%s} " % (metric, g._lbl(labels)), values, g.FMT_TXT[fmt]))
        for labels, bvals, cntv, sumv in f.groups:
            ls = g._lbl(labels)
            for b, le in enumerate(g.LE_STR):
                series.append(('%s_bucket{%s,le="%s"} ' % (f.name, ls, le), bvals[b], str))
            series.append(("%s_count{%s} " % (f.name, ls), cntv, str))
            series.append(("%s_sum{%s} " % (f.name, ls), sumv, repr))
    with open(path, "w", buffering=1 << 20) as fh:
        for i in range(steps):
            ts = " %d\n" % ((g.DEFAULT_START + i * interval) * 1000)
            fh.write("".join([pre + fm(vals[i]) + ts for pre, vals, fm in series]))
    return len(series) * steps


def check_inputs(systems, extra=()):
    """Exits with a message when the shared inputs or a peer's binaries are missing."""
    missing = [str(p) for p in [GEN] + list(extra) if not Path(p).exists()]
    if missing:
        sys.exit("missing %s: the shared benchmark inputs live in ../shared/bench beside the "
                 "repository" % ", ".join(missing))
    for s in systems:
        for t in TOOLS.get(s, []):
            if shutil.which(t) is None:
                sys.exit("%s not found: run the benchmark's run.sh, which installs the peers" % t)


PEER_COMMS = ("prometheus", "victoria-metric", "victoria-metrics", "dojowatch")


def warn_other_peers(extra=()):
    """Warns when a Prometheus, VictoriaMetrics or dojowatch that we did not start is running
    (or a process whose /proc/PID/comm is in extra, e.g. a benchmark's other peers)."""
    others = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            comm = Path("/proc", d, "comm").read_text().strip()
        except OSError:
            continue
        if comm in PEER_COMMS + tuple(extra):
            others.append("%s (pid %s)" % (comm, d))
    if others:
        bl.log("warning: already running, competing for the CPU: " + ", ".join(others))
    return others


# ---- Prometheus 2.42 ----

def prometheus_server(work, data, name="prometheus", extra_args=(), config=None):
    """Prometheus on data (a fresh or backfilled TSDB directory), no scrape jobs unless
    config (the whole prometheus.yml text) gives some.

    Returns (server, base URL). Retention is 100 years so backfilled 2023 blocks stay.
    """
    cfg = Path(work) / (name + ".yml")
    cfg.write_text(config or ("global:\n  scrape_interval: 15s\n  evaluation_interval: 1m\n"
                              "scrape_configs: []\n"))
    port = bl.free_port()
    srv = bl.Server("prometheus", [
        "prometheus", "--config.file=%s" % cfg, "--storage.tsdb.path=%s" % data,
        "--storage.tsdb.retention.time=100y",
        "--web.listen-address=127.0.0.1:%d" % port] + list(extra_args),
        Path(work) / (name + ".log"), "http://127.0.0.1:%d/-/ready" % port)
    return srv, "http://127.0.0.1:%d" % port


def promtool_backfill(om, blocks, log, timeout=1800):
    """promtool tsdb create-blocks-from openmetrics OM BLOCKS; run_timed()'s result."""
    return bl.run_timed(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(om),
                         str(blocks)], log, timeout=timeout)


# ---- VictoriaMetrics 1.79 ----

def vm_server(work, name, extra_args=()):
    """VictoriaMetrics on a fresh data dir work/name; (server, data dir, base URL)."""
    data = Path(work) / name
    port = bl.free_port()
    # The dataset's timestamps start in 2023: a retention of 100 years keeps
    # every sample (the default, one month, would drop the whole file import).
    srv = bl.Server("victoria-metrics", [
        "victoria-metrics", "-storageDataPath=%s" % data, "-httpListenAddr=127.0.0.1:%d" % port,
        "-retentionPeriod=100y"] + list(extra_args), Path(work) / (name + ".log"),
        "http://127.0.0.1:%d/health" % port)
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
        self.config_errors = None  # check-config's complaint about the bench config
        self.config = work / "dojowatch-bench.yaml"
        self.serve_args = []
        self.import_args = []

    def prepare(self, build, sections=None):
        """Builds the binary when missing (if build), writes and checks the bench config
        (write_config(sections)) and finds the serve/import options; self.problem says
        why nothing can be measured."""
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
        self.write_config(sections)
        if self.problem:
            return
        if self.supports("serve", "--retention"):
            self.serve_args = ["--retention", "100y"]
        # The dataset is from 2023: without a long retention the import would drop it all.
        if self.supports("import", "--retention"):
            self.import_args = ["--retention", "100y"]
            if self.supports("import", "--output"):
                self.import_args += ["-o", "json"]

    def supports(self, sub, option=None):
        """True when `dojowatch SUB --help` succeeds (and mentions option)."""
        p = subprocess.run([str(self.bin), sub, "--help"], capture_output=True, text=True,
                           env=self.env, timeout=30)
        return p.returncode == 0 and (option is None or option in p.stdout)

    def write_config(self, sections=None):
        """examples/dojopool.yaml with every retention at 100y (the dataset starts in 2023)
        and each top-level section of `sections` ({key: [lines]}) replaced.

        When check-config rejects it: without sections, examples/dojopool.yaml is used as
        is; with sections (the benchmark needs them), self.problem says so and
        self.config_errors holds check-config's output.
        """
        text = replace_top_level_block(EXAMPLE_CONFIG.read_text(), "retention",
                                       ["raw: 100y", "aggregated: 100y"])
        for key, lines in (sections or {}).items():
            text = replace_top_level_block(text, key, lines)
        self.config.write_text(text)
        p = subprocess.run([str(self.bin), "check-config", str(self.config)],
                           capture_output=True, text=True, env=self.env, timeout=120)
        if p.returncode == 0:
            return
        self.config_errors = p.stdout + p.stderr
        if sections:
            self.problem = "config rejected"
            bl.log("bench config %s (%d bytes) rejected by check-config:\n%s"
                   % (self.config, len(text.encode()), self.config_errors[:3000]))
            return
        bl.log("bench config rejected, using examples/dojopool.yaml as is:\n"
               + self.config_errors)
        shutil.copyfile(EXAMPLE_CONFIG, self.config)

    def server(self, data, log_path):
        port = bl.free_port()
        argv = [str(self.bin), "serve", "--config", str(self.config), "--data", str(data),
                "--listen", "127.0.0.1:%d" % port] + self.serve_args
        srv = bl.Server("dojowatch", argv, log_path,
                        "http://127.0.0.1:%d/-/ready" % port, env=self.env)
        return srv, "http://127.0.0.1:%d" % port

    def import_file(self, data, om, log, timeout=1800):
        """`dojowatch import --data DATA OM` with the bench's arguments; run_timed()'s result
        plus the tool's JSON summary (when it prints one) under "summary"."""
        r = bl.run_timed([str(self.bin), "import", "--data", str(data)] + self.import_args
                         + [str(om)], log, env=self.env, timeout=timeout)
        summary = bl.last_json_object(log)
        if summary is not None:
            r["summary"] = summary
        return r

    def endpoint_missing(self, base, path, body, headers):
        """True when POST path is not routed yet (404/405/501)."""
        status, text = bl.http("POST", base + path, body=body, headers=headers)
        if status in (404, 405, 501):
            bl.log("dojowatch: POST %s answers %d: not yet" % (path, status))
            return True
        if status not in (200, 204):
            bl.log("dojowatch POST %s with an empty body: %d %s" % (path, status, text[:200]))
        return False


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
