"""benchlib - shared helpers for dojowatch's side-by-side benchmarks (bench/*/).

DESIGN
  A benchmark here starts real servers (dojowatch and its peers: Prometheus,
  VictoriaMetrics, ...) on 127.0.0.1, drives them, and reads what they cost
  from /proc: CPU time (utime + stime of every thread) and resident memory.
  This module holds what every such benchmark needs so that each one only
  describes its own steps:

    - Server: start a process with a fresh data dir on a free loopback port,
      wait until its readiness URL answers, stop or kill it by its pid.
      Every live Server is in one registry; stop_all() (run from atexit and
      from the SIGINT/SIGTERM handlers install_signal_handlers() sets) ends
      exactly the processes this benchmark started, never anything by name.
    - run_timed(): a child process whose own CPU time is read from wait4()'s
      rusage (for offline tools such as promtool), no /usr/bin/time needed.
    - proc_cpu_s(), proc_mem(), proc_children(), tree_bytes(): /proc and disk
      accounting.
    - http(): one request with urllib, returning status and body even on 4xx;
      post_bodies() sends many bodies over one keep-alive connection, and
      text_chunks() cuts a Prometheus text file into bounded bodies.
    - format_table(), ratio(), median(), fmt_num(): the printed figures.
    - machine_info(), deb_version(): what the results were measured on.
    - end_run(), write_results(): the end of a run (stop everything, remove the
      temporary directory) and its JSON under build/bench/.

  Threads: none; the benchmarks drive servers sequentially so that one
  server's CPU figure is never disturbed by another server we started.

  Standard library only; runs with Debian's /usr/bin/python3 (3.11).
  Paths: REPO is the dojowatch checkout, SHARED its sibling ../shared, both
  found from this file's own location so the scripts run from anywhere.
"""
import atexit
import http.client as httpclient
import json
import os
import platform
import shutil
import signal
import socket
import stat
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def log(msg):
    """Progress goes to stderr so stdout stays the table."""
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


# ---- /proc and disk accounting ----

def proc_cpu_s(pid):
    """utime + stime of process pid (all its threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        # The command name may hold spaces and parentheses: split after the last ')'.
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_mem(pid):
    """{'VmRSS': bytes, 'VmHWM': bytes} of process pid."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, val = line.split(":", 1)
                out[key] = int(val.split()[0]) * 1024
    return out


def proc_children(pid):
    """Pids of the live processes whose parent is pid (e.g. a master's workers), sorted."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if ppid == pid:
            kids.append(int(d))
    return sorted(kids)


def tree_bytes(path, exclude=(), allocated=False):
    """Apparent size (st_size) of the regular files under path.

    Apparent size, not allocated blocks: a store of many small files would
    otherwise be charged for filesystem rounding rather than for its format.
    allocated=True counts the blocks instead (what `du` shows), for the
    record. Names in exclude are skipped wherever they appear (files or
    directories); symbolic links are not followed or counted.
    """
    def size(st):
        return st.st_blocks * 512 if allocated else st.st_size

    path = Path(path)
    if path.is_file():
        return size(path.stat())
    total = 0
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d not in exclude]
        for name in files:
            if name in exclude:
                continue
            try:
                st = os.lstat(os.path.join(root, name))
            except FileNotFoundError:  # a part merged away while we walk
                continue
            if stat.S_ISREG(st.st_mode):
                total += size(st)
    return total


def wait_idle(pid, threshold=0.05, window=1.0, timeout=120.0):
    """Waits until process pid uses less than threshold cores over window seconds.

    Background merges and flushes that a request started belong to its cost;
    callers wait for them to end before reading disk usage. Returns the
    seconds waited (timeout at most).
    """
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        c0 = proc_cpu_s(pid)
        time.sleep(window)
        if (proc_cpu_s(pid) - c0) / window < threshold:
            break
    return time.monotonic() - t0


# ---- HTTP ----

def http(method, url, body=None, headers=None, timeout=60):
    """One request; returns (status, body bytes). Connection errors raise OSError."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def post_bodies(url, bodies, headers=None, timeout=120):
    """POSTs each body of the iterable over one keep-alive connection, in order.

    Returns {'requests', 'bytes', 'n_errors', 'errors' (the first five),
    'statuses' (count per status)}. Any status other than 200 and 204 is
    an error; sending goes on so that one bad body does not hide the rest.
    """
    u = urllib.parse.urlsplit(url)
    path = u.path + ("?" + u.query if u.query else "")
    conn = httpclient.HTTPConnection(u.hostname, u.port, timeout=timeout)
    res = {"requests": 0, "bytes": 0, "n_errors": 0, "errors": [], "statuses": {}}
    try:
        for body in bodies:
            conn.request("POST", path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            res["requests"] += 1
            res["bytes"] += len(body)
            key = str(r.status)
            res["statuses"][key] = res["statuses"].get(key, 0) + 1
            if r.status not in (200, 204):
                res["n_errors"] += 1
                if len(res["errors"]) < 5:
                    res["errors"].append("%d %s" % (r.status, data[:200].decode(errors="replace")))
    finally:
        conn.close()
    return res


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago.

    Servers that cannot report the port they bound (Prometheus,
    VictoriaMetrics) need it on the command line; the short race with other
    programs picking the same port is accepted.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _header_block(body, start):
    """The run of '#' lines around the line starting at start (HELP and TYPE of one family)."""
    while start > 0:
        prev = body.rfind(b"\n", 0, start - 1) + 1
        if body[prev:prev + 1] != b"#":
            break
        start = prev
    end = start
    while end < len(body) and body[end:end + 1] == b"#":
        nl = body.find(b"\n", end)
        end = len(body) if nl < 0 else nl + 1
    return body[start:end]


def _last_header_start(body):
    best = -1
    for tag in (b"# HELP ", b"# TYPE "):
        p = body.rfind(b"\n" + tag)
        p = p + 1 if p >= 0 else (0 if body.startswith(tag) else -1)
        best = max(best, p)
    return best


def text_chunks(path, max_bytes):
    """Yields the Prometheus text file at path as request bodies of at most max_bytes.

    Cuts only between lines. A body that starts in the middle of a metric
    family gets that family's '# HELP'/'# TYPE' lines in front, so every body
    parses on its own with the right type. This is how a bulk importer feeds
    a server whose request size is bounded (dojowatch takes at most
    server.limits.max_ingest_body_bytes); VictoriaMetrics gets the same
    bodies so both do the same work.
    """
    head = b""  # HELP/TYPE lines of the family the previous body ended in
    pending = b""  # an incomplete last line, carried to the next body
    with open(path, "rb") as f:
        while True:
            room = max_bytes - len(head) - len(pending)
            if room <= 0:
                raise ValueError("%s: a line or family header does not fit in %d bytes"
                                 % (path, max_bytes))
            data = f.read(room)
            buf = pending + data
            if len(data) < room:  # end of file: the rest fits
                if buf.strip():
                    if not buf.endswith(b"\n"):
                        buf += b"\n"
                    yield (b"" if buf.startswith(b"#") else head) + buf
                return
            cut = buf.rfind(b"\n") + 1
            if cut == 0:
                pending = buf
                continue  # room shrinks to <= 0 on the next turn unless the line ends
            body, pending = buf[:cut], buf[cut:]
            yield (b"" if body.startswith(b"#") else head) + body
            p = _last_header_start(body)
            if p >= 0:
                head = _header_block(body, p)


# ---- processes ----

_LIVE = {}  # pid -> Server, every server started and not yet reaped


class ServerError(RuntimeError):
    pass


class Server:
    """A server process on loopback, started from argv with its log in log_path.

    ready_url is polled until it answers one of ready_status; start() returns
    the seconds from exec to ready, which is also what restart timings use.
    """

    def __init__(self, name, argv, log_path, ready_url, env=None, ready_status=(200,), cwd=None):
        self.name, self.argv, self.log_path = name, list(argv), Path(log_path)
        self.ready_url, self.env, self.ready_status, self.cwd = ready_url, env, ready_status, cwd
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid

    def start(self, timeout=120.0):
        if self.proc is not None:
            raise ServerError("%s: already started" % self.name)
        logf = open(self.log_path, "ab")
        t0 = time.monotonic()
        # Own session: a Ctrl-C in the terminal reaches only this script,
        # which then stops the server itself (and measures nothing twice).
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=logf,
                                     stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd,
                                     start_new_session=True)
        logf.close()
        _LIVE[self.proc.pid] = self
        while True:
            rc = self.proc.poll()
            if rc is not None:
                _LIVE.pop(self.proc.pid, None)
                self.proc = None
                raise ServerError("%s exited with status %s before it was ready; log %s:\n%s"
                                  % (self.name, rc, self.log_path, self.log_tail()))
            try:
                status, _ = http("GET", self.ready_url, timeout=2)
                if status in self.ready_status:
                    return time.monotonic() - t0
            except OSError:
                pass  # not listening yet
            if time.monotonic() - t0 > timeout:
                self.stop()
                raise ServerError("%s: not ready after %.0f s; log %s:\n%s"
                                  % (self.name, timeout, self.log_path, self.log_tail()))
            time.sleep(0.02)

    def log_tail(self, n=15):
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def stop(self, timeout=30.0):
        """SIGTERM, then SIGKILL after timeout; returns the exit status."""
        return self._end(signal.SIGTERM, timeout)

    def kill(self):
        """SIGKILL: a crash, so the next start must replay what it logged."""
        return self._end(signal.SIGKILL, 10.0)

    def _end(self, sig, timeout):
        if self.proc is None:
            return None
        proc = self.proc
        try:
            proc.send_signal(sig)
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log("%s did not stop within %.0f s: SIGKILL" % (self.name, timeout))
            proc.kill()
            rc = proc.wait()
        _LIVE.pop(proc.pid, None)
        self.proc = None
        return rc


def stop_all():
    """Stops every server this process started and has not stopped yet."""
    for srv in list(_LIVE.values()):
        try:
            srv.stop(timeout=15)
        except Exception as e:  # keep stopping the others
            log("stopping %s: %s" % (srv.name, e))


def _on_signal(signum, frame):
    # Turn the signal into an exception so every finally: block runs
    # (temporary directories are removed there) and then stop_all() at exit.
    raise SystemExit(128 + signum)


def install_signal_handlers():
    atexit.register(stop_all)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)


def run_timed(argv, log_path, env=None, cwd=None, timeout=None):
    """Runs argv to completion; returns rc, wall_s and the child's own cpu_s and max RSS.

    The CPU time comes from wait4()'s rusage, so it is the tool's own user +
    system time over all its threads, whatever else runs on the machine.
    """
    with open(log_path, "ab") as logf:
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                                stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)
        deadline = None if timeout is None else t0 + timeout
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid != 0:
                break
            if deadline is not None and time.monotonic() > deadline:
                os.kill(proc.pid, signal.SIGKILL)
                pid, status, ru = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)  # keeps Popen from waiting again
    return {"rc": proc.returncode, "wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime,
            "maxrss_bytes": ru.ru_maxrss * 1024,
            "timed_out": deadline is not None and wall > timeout}


# ---- figures ----

NOT_YET = "not yet"


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def median(values):
    """Median of the numbers in values; None when there are none."""
    nums = [v for v in values if is_num(v)]
    return statistics.median(nums) if nums else None


def ratio(a, b):
    """a / b when both are numbers and b is not zero, else None."""
    if is_num(a) and is_num(b) and b != 0:
        return a / b
    return None


def fmt_num(v, digits=3):
    """A figure for a table cell: strings pass through, numbers get ~digits significant digits."""
    if v is None:
        return "-"
    if not is_num(v):
        return str(v)
    a = abs(v)
    if a >= 1000:
        return "{:,.0f}".format(v)
    if a >= 100:
        return "{:.0f}".format(v)
    if a >= 10:
        return "{:.1f}".format(v)
    if a >= 1:
        return "{:.2f}".format(v)
    return "{:.{}g}".format(v, digits)


def format_table(headers, rows):
    """Plain-text table, first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [[fmt_num(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r):
        out = [r[0].ljust(widths[0])] + [r[i].rjust(widths[i]) for i in range(1, len(r))]
        return " | ".join(out).rstrip()

    sep = "-+-".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), sep] + [line(r) for r in cells[1:]])


def format_markdown(headers, rows):
    """The same table as GitHub markdown, for docs/BENCHMARKS.md."""
    out = ["| " + " | ".join(str(h) for h in headers) + " |",
           "|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|"]
    for r in rows:
        out.append("| " + " | ".join(fmt_num(c) for c in r) + " |")
    return "\n".join(out)


# ---- what it ran on ----

def deb_version(pkg):
    """Installed version of a Debian package, or None."""
    try:
        p = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                           text=True, timeout=10)
    except OSError:
        return None
    return p.stdout.strip() if p.returncode == 0 and p.stdout.strip() else None


def machine_info():
    model = None
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
                break
    except OSError:
        pass
    return {"date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "nproc": os.cpu_count(), "cpu_model": model, "mem_bytes": mem,
            "kernel": platform.release(), "python": platform.python_version(),
            "loadavg_at_start": os.getloadavg()}


def last_json_object(path):
    """The last top-level JSON object printed in a log file (a tool's -o json summary), or None.

    Tools print their summary last, possibly after log lines: the object is the text from the
    last line that is exactly "{" to the end.
    """
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return None
    for i in range(len(lines) - 1, -1, -1):
        if lines[i] == "{":
            try:
                return json.loads("\n".join(lines[i:]))
            except ValueError:
                return None
    return None


def end_run(work, keep):
    """The end of a benchmark run (its finally: block): stops every server still running,
    then removes the temporary directory work, or says where it is kept."""
    stop_all()
    if keep:
        log("kept %s" % work)
    else:
        shutil.rmtree(work, ignore_errors=True)


def write_results(out, bench, result):
    """Writes result as JSON to out, or to build/bench/BENCH-<UTC time>.json when out is
    empty; returns the path."""
    path = Path(out) if out else REPO / "build" / "bench" / time.strftime(
        bench + "-%Y%m%dT%H%M%SZ.json", time.gmtime())
    write_json(path, result)
    return path


def write_json(path, obj):
    """Writes obj to path through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=False) + "\n")
    os.replace(tmp, path)
