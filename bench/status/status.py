#!/usr/bin/python3
"""status.py - the side-by-side status-page benchmark: how fast dojowatch answers its public
status URLs next to nginx serving the same bytes as a static file, the ceiling for a page
that is only read. Start it through run.sh, which installs the Debian packages first.

DESIGN
  URLs. --paths (default /status and /status/api/v2/summary.json, the status page and its
  Statuspage-style summary). Each is fetched from dojowatch without credentials; the
  documents are rendered on the status module's first turn, about a second after
  /-/ready, so a 404 is retried for up to 15 s. One that still answers 404 (not built) is
  replaced by /metrics, and the table and the JSON say so. A URL measured already (two
  fallbacks) is measured once.

  dojowatch. --dojowatch (default build/release/src/cli/dojowatch; `make build` first when it
  is missing), examples/dojopool.yaml with 100-year retentions (peers.Dojowatch), `serve` on
  a fresh data directory on a free loopback port, its collectors and rules running as in
  production; the access log is a debug-level line, off at the default level.

  nginx. Debian's /usr/sbin/nginx with a generated configuration in the temporary directory:
  2 worker processes (one per core), `daemon off`, access log off, `etag on`, `gzip off`,
  sendfile, keep-alive without a request limit (wrk keeps its connections), and per URL an
  exact `location` answering the body fetched from dojowatch from a file, with dojowatch's
  Content-Type (`types {}` + `default_type`). So nginx sends the same bytes with the same
  type; dojowatch answers per request from its prebuilt document (what that costs is
  the point).

  gzip. By default neither compresses: wrk sends no Accept-Encoding, as most load tools.
  With --gzip wrk sends "Accept-Encoding: gzip" to both and each serves gzip made ahead
  of time: dojowatch its prebuilt variant, nginx the same bytes (fetched from dojowatch)
  through gzip_static from a .gz file beside the plain one (gzip_vary on). A document
  dojowatch does not compress (under 1 KiB) gets no .gz, so both send it plain.

  Load. wrk (Debian 4.1.0) --latency with --threads (2) and --connections (64) for
  --seconds (BENCH_SECONDS, default 10) per run, a 2 s warm-up run before each. Per URL,
  --rounds (default 3) rounds of dojowatch then nginx, interleaved so that load from
  other processes on a shared machine falls on both alike; the figures are each
  server's median over its rounds, each ratio the median of the rounds' ratios (every
  round is in the JSON). wrk runs on the same 2 cores as the server (both servers meet
  the same limit).

  Figures per URL and server: requests/s (wrk's Requests/sec), p50 and p99 latency (its
  latency distribution), non-2xx/3xx answers and socket errors (a run with errors is
  flagged), bytes per answer, and the server's CPU seconds over the run (utime + stime of
  the process and, for nginx, its workers, from /proc) per 1,000 requests. Ratios are
  dojowatch / nginx: requests/s below 1 and p99 above 1 mean dojowatch is slower; the
  CPU ratio (server CPU per request) is the steadiest figure on a machine shared with
  other work, where requests/s and p99 move with whatever else runs; the
  line under the table checks the issue's target, requests/s at least --target (0.8) of
  nginx's on every URL.
  Table on stdout (--markdown: also as markdown), progress on stderr, everything as JSON in
  build/bench/status-<UTC time>.json (--out). Every process started is stopped by its pid at
  the end (also on Ctrl-C); the temporary directory is removed unless --keep.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
import benchlib as bl  # noqa: E402
import peers  # noqa: E402

WRK = "/usr/bin/wrk"
NGINX = "/usr/sbin/nginx"
DEFAULT_PATHS = "/status,/status/api/v2/summary.json"
FALLBACK = "/metrics"
UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


# ---- wrk ----

def wrk_seconds(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def parse_wrk(out):
    """wrk --latency output -> {rps, p50_s, p99_s, requests, non_2xx, socket_errors}."""
    r = {"rps": None, "p50_s": None, "p99_s": None, "requests": None, "non_2xx": 0,
         "socket_errors": 0}
    for line in out.splitlines():
        s = line.strip()
        m = re.match(r"(50|99)%\s+(\S+)$", s)
        if m:
            r["p%s_s" % m.group(1)] = wrk_seconds(m.group(2))
        elif s.startswith("Requests/sec:"):
            r["rps"] = float(s.split()[1])
        elif re.match(r"\d+ requests in", s):
            r["requests"] = int(s.split()[0])
        elif s.startswith("Non-2xx or 3xx responses:"):
            r["non_2xx"] = int(s.split(":")[1])
        elif s.startswith("Socket errors:"):
            r["socket_errors"] = sum(int(n) for n in re.findall(r"\d+", s))
    return r


def run_wrk(url, a, seconds, log_path):
    argv = [WRK, "--latency", "-t%d" % a.threads, "-c%d" % a.connections, "-d%ds" % seconds,
            "--timeout", "5s"] + (["-H", "Accept-Encoding: gzip"] if a.gzip else []) + [url]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    with open(log_path, "a") as f:
        f.write("$ %s\n%s%s\n" % (" ".join(argv), p.stdout, p.stderr))
    if p.returncode != 0:
        raise RuntimeError("wrk failed (%d): %s" % (p.returncode, p.stderr.strip()[:300]))
    return parse_wrk(p.stdout)


def cpu_of(pids):
    total = 0.0
    for pid in pids:
        try:
            total += bl.proc_cpu_s(pid)
        except OSError:
            pass
    return total


def measure(name, url, pids, a, log_path):
    """One warm-up and one measured wrk run against one server."""
    bl.log("%s: wrk %s (%d s warm-up, %d s run)" % (name, url, 2, a.seconds))
    run_wrk(url, a, 2, log_path)
    c0 = cpu_of(pids)
    r = run_wrk(url, a, a.seconds, log_path)
    r["cpu_s"] = round(cpu_of(pids) - c0, 3)
    r["cpu_ms_per_1k"] = (round(1e6 * r["cpu_s"] / r["requests"], 2)
                          if r["requests"] else None)
    bad = r["non_2xx"] or r["socket_errors"]
    bl.log("%s: %s req/s, p99 %s ms%s" % (name, bl.fmt_num(r["rps"]),
                                          bl.fmt_num((r["p99_s"] or 0) * 1e3),
                                          ", ERRORS %d non-2xx, %d socket" % (
                                              r["non_2xx"], r["socket_errors"]) if bad else ""))
    return r


FIGURES = ("rps", "p50_s", "p99_s", "cpu_ms_per_1k")


def summarize(runs):
    """A server's rounds -> the median of each figure, errors summed, and the rounds."""
    out = {k: bl.median([r[k] for r in runs]) for k in FIGURES}
    out["non_2xx"] = sum(r["non_2xx"] for r in runs)
    out["socket_errors"] = sum(r["socket_errors"] for r in runs)
    out["rounds"] = runs
    return out


def measure_url(u, dw_url, ng_url, dw_pids, ng_pids, a, log_path):
    """--rounds rounds of dojowatch then nginx on one URL; medians into u."""
    runs = {"dojowatch": [], "nginx": []}
    for i in range(a.rounds):
        bl.log("%s: round %d of %d" % (u["measured"], i + 1, a.rounds))
        runs["dojowatch"].append(measure("dojowatch", dw_url, dw_pids, a, log_path))
        runs["nginx"].append(measure("nginx", ng_url, ng_pids, a, log_path))
    u["dojowatch"] = summarize(runs["dojowatch"])
    u["nginx"] = summarize(runs["nginx"])
    # Each ratio is the median of the rounds' own ratios: a round's two runs are
    # seconds apart, so they share the machine's load more than the medians do.
    for key, fig in (("rps_ratio", "rps"), ("p99_ratio", "p99_s"), ("cpu_ratio", "cpu_ms_per_1k")):
        u[key] = bl.median([bl.ratio(d[fig], n[fig])
                            for d, n in zip(runs["dojowatch"], runs["nginx"])])


# ---- nginx ----

def nginx_conf(work, port, bodies, gzip_static):
    """A minimal nginx.conf serving each (path, content type, file) exactly; with
    gzip_static, file.gz (when there is one) to clients that take gzip."""
    locs = []
    for path, ctype, fname in bodies:
        locs.append("""        location = %s {
            types { }
            default_type "%s";
            try_files /%s =404;
        }""" % (path, ctype.replace('"', ""), fname))
    return """worker_processes 2;
daemon off;
pid %(w)s/nginx.pid;
error_log %(w)s/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    etag on;
    gzip off;
    gzip_static %(gzs)s;
    gzip_vary on;
    server_tokens off;
    keepalive_requests 1000000;
    keepalive_timeout 65s;
    open_file_cache max=64 inactive=60s;
    client_body_temp_path %(w)s/nginx-tmp/body;
    proxy_temp_path %(w)s/nginx-tmp/proxy;
    fastcgi_temp_path %(w)s/nginx-tmp/fastcgi;
    uwsgi_temp_path %(w)s/nginx-tmp/uwsgi;
    scgi_temp_path %(w)s/nginx-tmp/scgi;
    server {
        listen 127.0.0.1:%(port)d;
        root %(w)s/docroot;
%(locs)s
    }
}
""" % {"w": work, "port": port, "locs": "\n".join(locs), "gzs": "on" if gzip_static else "off"}


def start_nginx(work, bodies, gzip_static):
    """nginx serving [(path, content type, body, gzip body or None)] from files."""
    (work / "docroot").mkdir()
    (work / "nginx-tmp").mkdir()
    files = []
    for i, (path, ctype, body, gz) in enumerate(bodies):
        fname = "body-%d" % i
        (work / "docroot" / fname).write_bytes(body)
        if gz is not None:
            (work / "docroot" / (fname + ".gz")).write_bytes(gz)
        files.append((path, ctype, fname))
    os.chmod(work, 0o755)  # workers run as nobody when started by root
    port = bl.free_port()
    conf = work / "nginx.conf"
    conf.write_text(nginx_conf(work, port, files, gzip_static))
    base = "http://127.0.0.1:%d" % port
    srv = bl.Server("nginx", [NGINX, "-p", str(work), "-e", str(work / "nginx-error.log"),
                              "-c", str(conf)],
                    work / "nginx.log", base + files[0][0])
    srv.start(timeout=30)
    return srv, base


# ---- the run ----

def pick_paths(base, wanted):
    """[(path asked for, path measured, content type, body)]; 404 falls back to /metrics."""
    out, seen = [], set()
    for path in wanted:
        status, ctype, body = fetch(base + path)
        deadline = time.monotonic() + 15
        while status == 404 and time.monotonic() < deadline:  # not rendered yet
            time.sleep(0.2)
            status, ctype, body = fetch(base + path)
        measured = path
        if status == 404:
            bl.log("dojowatch answers 404 at %s today: measuring %s instead" % (path, FALLBACK))
            measured = FALLBACK
            status, ctype, body = fetch(base + FALLBACK)
        if status != 200:
            raise RuntimeError("GET %s answers %d" % (measured, status))
        if measured in seen:
            bl.log("%s measured already; not again" % measured)
            out.append((path, measured, ctype, None))
            continue
        seen.add(measured)
        out.append((path, measured, ctype, body))
    return out


def fetch(url, gzip=False):
    """(status, content type, body) of GET url; with gzip, Accept-Encoding: gzip, and the
    body is the gzip bytes when the answer is gzip, else None."""
    import urllib.error
    import urllib.request
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzip else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            body = r.read()
            if gzip and r.headers.get("Content-Encoding") != "gzip":
                body = None
            return r.status, r.headers.get("Content-Type", "application/octet-stream"), body
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def table(result):
    headers = ["URL", "bytes sent", "dojowatch req/s", "nginx req/s", "req/s ratio",
               "dojowatch p99 ms", "nginx p99 ms", "p99 ratio", "dw CPU ms/1k req",
               "nginx CPU ms/1k req", "CPU ratio"]
    rows = []
    for u in result["urls"]:
        if "dojowatch" not in u:
            continue
        dw, ng = u["dojowatch"], u["nginx"]
        fell = [x["asked"] for x in result["urls"]
                if x["measured"] == u["measured"] and x["asked"] != x["measured"]]
        label = "%s (for %s: 404)" % (u["measured"], ", ".join(fell)) if fell else u["measured"]
        rows.append([label, u["bytes_sent"], dw["rps"], ng["rps"], u["rps_ratio"],
                     dw["p99_s"] * 1e3 if dw["p99_s"] is not None else None,
                     ng["p99_s"] * 1e3 if ng["p99_s"] is not None else None,
                     u["p99_ratio"], dw["cpu_ms_per_1k"], ng["cpu_ms_per_1k"], u["cpu_ratio"]])
    return headers, rows


def verdict(result, target):
    """One line: is dojowatch at >= target x nginx's requests/s on every URL measured?"""
    got = [(u["measured"], u["rps_ratio"]) for u in result["urls"] if "dojowatch" in u]
    short = [(p, r) for p, r in got if r is None or r < target]
    errors = [u["measured"] for u in result["urls"] if "dojowatch" in u
              and (u["dojowatch"]["non_2xx"] or u["dojowatch"]["socket_errors"]
                   or u["nginx"]["non_2xx"] or u["nginx"]["socket_errors"])]
    line = ("target (dojowatch >= %.2f x nginx req/s): %s" %
            (target, "met on every URL" if not short else "NOT met on " + ", ".join(
                "%s (%s)" % (p, bl.fmt_num(r)) for p, r in short)))
    if errors:
        line += "; runs with errors on " + ", ".join(errors)
    result["target"] = {"ratio": target, "met": not short, "errors": errors}
    return line


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--paths", default=DEFAULT_PATHS, help="comma-separated URL paths (default %s)"
                    % DEFAULT_PATHS)
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", "10")),
                    help="wrk duration per run (default $BENCH_SECONDS or 10)")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "3")),
                    help="interleaved rounds per URL and server, medians reported "
                         "(default $BENCH_ROUNDS or 3)")
    ap.add_argument("--gzip", action="store_true",
                    help="wrk sends Accept-Encoding: gzip; both servers send gzip made ahead")
    ap.add_argument("--target", type=float, default=0.8,
                    help="the req/s ratio the verdict line checks (default 0.8)")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    ap.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    ap.add_argument("--dojowatch", default=os.environ.get("DOJOWATCH_BIN",
                                                          str(peers.DEFAULT_DW_BIN)),
                    help="dojowatch binary (default build/release/src/cli/dojowatch)")
    ap.add_argument("--no-build", action="store_true",
                    help="do not run `make build` when the dojowatch binary is missing")
    peers.add_output_args(ap, "status")
    a = ap.parse_args()

    bl.install_signal_handlers()
    work = Path(tempfile.mkdtemp(prefix="dw-bench-status-", dir=a.workdir))
    result = {"bench": "status", "machine": bl.machine_info(),
              "versions": {"wrk": bl.deb_version("wrk"), "nginx": bl.deb_version("nginx")},
              "params": {"seconds": a.seconds, "rounds": a.rounds, "threads": a.threads,
                         "connections": a.connections, "gzip": a.gzip,
                         "dojowatch": a.dojowatch},
              "urls": []}
    try:
        dw = peers.Dojowatch(a.dojowatch, work)
        dw.prepare(not a.no_build)
        if dw.problem:
            raise RuntimeError("dojowatch: %s" % dw.problem)
        # wrk is one client: the per-client limit stays in the path (its cost is measured)
        # at a rate it never refuses.
        text = dw.config.read_text()
        limit = "  rate_limit: {requests_per_second: 50, burst: 200, trusted_proxies: []}\n"
        assert limit in text, "the status.rate_limit line of examples/dojopool.yaml changed"
        dw.config.write_text(text.replace(
            limit, "  rate_limit: {requests_per_second: 10000000, burst: 10000000}\n"))
        srv, dw_base = dw.server(work / "dojowatch-data", work / "dojowatch.log")
        srv.start()
        chosen = pick_paths(dw_base, [p for p in a.paths.split(",") if p])
        gz = {m: fetch(dw_base + m, gzip=True)[2] if a.gzip else None
              for _, m, _, body in chosen if body is not None}
        measured = [(m, ct, body, gz[m]) for _, m, ct, body in chosen if body is not None]
        ng, ng_base = start_nginx(work, measured, a.gzip)
        ng_pids = [ng.pid] + bl.proc_children(ng.pid)
        for asked, path, ctype, body in chosen:
            if body is None:
                continue
            status, ng_ctype, ng_body = fetch(ng_base + path)
            assert status == 200 and ng_body == body and ng_ctype == ctype, \
                ("nginx does not answer like dojowatch", path, status, ng_ctype, ctype)
            if gz[path] is not None:
                status, _, ng_gz = fetch(ng_base + path, gzip=True)
                assert status == 200 and ng_gz == gz[path], ("nginx's gzip differs", path)
            sent = gz[path] if gz[path] is not None else body
            u = {"asked": asked, "measured": path, "content_type": ctype, "bytes": len(body),
                 "gzip": gz[path] is not None, "bytes_sent": len(sent)}
            measure_url(u, dw_base + path, ng_base + path, [srv.pid], ng_pids, a,
                        work / "wrk.log")
            result["urls"].append(u)
        for asked, path, _, body in chosen:
            if body is None:
                result["urls"].append({"asked": asked, "measured": path, "same_as_above": True})
    finally:
        bl.end_run(work, a.keep)

    headers, rows = table(result)
    print("status pages: wrk -t%d -c%d -d%ds%s, median of %d interleaved rounds, dojowatch %s "
          "vs nginx %s (same bytes, same type%s)"
          % (a.threads, a.connections, a.seconds, " -H 'Accept-Encoding: gzip'" if a.gzip else "",
             a.rounds, a.dojowatch, result["versions"]["nginx"],
             ", gzip made ahead by both" if a.gzip else ", no compression"))
    print(bl.format_table(headers, rows))
    print(verdict(result, a.target))
    if a.markdown:
        print()
        print(bl.format_markdown(headers, rows))
    print("results: %s" % bl.write_results(a.out, "status", result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
