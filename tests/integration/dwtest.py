"""dwtest - the integration-test harness: start the real dojowatch binary on an
ephemeral loopback port, talk HTTP to it, and count test cases.

Each test module registers functions with @test and ends with run(); the
module prints "ok"/"FAIL" per test and "<module>: N passed, N failed".
Standard library only.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("DOJOWATCH_BIN", os.path.join(ROOT, "build", "test", "src", "cli", "dojowatch"))
EXAMPLE = os.path.join(ROOT, "examples", "dojopool.yaml")
TOKENS = {"admin": "it-admin-token-0123456789", "responder": "it-responder-token-0123456789",
          "viewer": "it-viewer-token-0123456789"}

_tests = []


def test(fn):
    _tests.append(fn)
    return fn


def run():
    only = sys.argv[1] if len(sys.argv) > 1 else None
    passed = failed = 0
    for fn in _tests:
        if only and only not in fn.__name__:
            continue
        try:
            fn()
            passed += 1
            print("ok   " + fn.__name__, flush=True)
        except Exception:  # any failure, including assertion errors
            failed += 1
            print("FAIL " + fn.__name__, flush=True)
            traceback.print_exc(file=sys.stdout)
    name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    print("%s: %d passed, %d failed" % (name, passed, failed), flush=True)
    sys.exit(1 if failed else 0)


def env_with_tokens(extra=None):
    env = dict(os.environ)
    env["DOJOWATCH_ADMIN_TOKEN"] = TOKENS["admin"]
    env["DOJOWATCH_RESPONDER_TOKEN"] = TOKENS["responder"]
    env["DOJOWATCH_VIEWER_TOKEN"] = TOKENS["viewer"]
    # Sanitizer reports must fail the test, not scroll by.
    # The example's probes aim at DojoPool; in tests they hit a closed local port.
    for var in ("DOJOPOOL_HOST", "DOJOPOOL_CDN_HOST", "DOJOPOOL_DB", "DOJOWATCH_LISTEN"):
        env.setdefault(var, "127.0.0.1:9")
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1")
    env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
    if extra:
        env.update(extra)
    return env


def cli(*args, env=None, timeout=30):
    """Runs the binary with args; returns (exit status, stdout, stderr)."""
    p = subprocess.run([BINARY] + list(args), capture_output=True, text=True, timeout=timeout,
                       env=env or env_with_tokens(), stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")


class Daemon:
    """A dojowatch serve process on 127.0.0.1:0 with its own data directory."""

    def __init__(self, config=EXAMPLE, data=None, args=(), env=None):
        self.tmp = tempfile.mkdtemp(prefix="dwit-")
        self.data = data or os.path.join(self.tmp, "data")
        self.config = config
        self.args = list(args)
        self.env = env or env_with_tokens()
        self.proc = None
        self.port = None
        self.log_lines = []
        self.out_lines = []

    def start(self, wait=True):
        cmd = [BINARY, "serve", "--config", self.config, "--data", self.data,
               "--listen", "127.0.0.1:0"] + self.args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True, env=self.env)
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.log_lines), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.out_lines), daemon=True).start()
        if wait:
            self.wait_port()
        return self

    @staticmethod
    def _pump(stream, sink):
        for line in stream:
            sink.append(line)

    def wait_port(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for line in list(self.out_lines):
                m = re.search(r"http://127\.0\.0\.1:(\d+)/-/healthy", line)
                if m:
                    self.port = int(m.group(1))
                    return self.port
            if self.proc.poll() is not None:
                time.sleep(0.2)
                raise AssertionError("daemon exited with %s:\n%s" % (self.proc.returncode, self.logs()))
            time.sleep(0.02)
        raise AssertionError("daemon did not print its URL in %ss:\n%s" % (timeout, self.logs()))

    def logs(self):
        return "".join(self.log_lines)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def request(self, method, path, token=None, data=None, headers=None, timeout=10):
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = "Bearer " + TOKENS.get(token, token)
        body = data
        if isinstance(data, dict):
            body = urllib.parse.urlencode(data).encode()
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif isinstance(data, str):
            body = data.encode()
        req = urllib.request.Request(self.url(path), data=body, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Response(r.status, dict(r.headers), r.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, dict(e.headers), e.read())

    def headers_only(self, method, path, token=None, headers=None, timeout=10):
        """Sends only the request head (no body) and returns the status the server
        answers with: how a limit on Content-Length is checked without racing the
        server's early close against the upload."""
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        conn.putrequest(method, path)
        if token:
            conn.putheader("Authorization", "Bearer " + TOKENS.get(token, token))
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        out = Response(r.status, dict(r.getheaders()), r.read())
        conn.close()
        return out

    def get(self, path, token=None, **kw):
        return self.request("GET", path, token=token, **kw)

    def post(self, path, token=None, data=b"", **kw):
        return self.request("POST", path, token=token, data=data, **kw)

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops the daemon and returns (exit status, seconds it took)."""
        if not self.proc or self.proc.poll() is not None:
            return (self.proc.returncode if self.proc else None), 0.0
        t0 = time.time()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        return rc, time.time() - t0

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        rc, _ = self.stop()
        self.last_status = rc
        shutil.rmtree(self.tmp, ignore_errors=True)
        if exc[0] is None:
            # A sanitizer report or a non-zero exit on a clean stop is a failure.
            assert rc == 0, "daemon exited with %s on SIGTERM:\n%s" % (rc, self.logs()[-4000:])
            assert "ERROR: AddressSanitizer" not in self.logs(), self.logs()[-4000:]
            assert "runtime error:" not in self.logs(), self.logs()[-4000:]


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=15):
    """Waits until something accepts TCP connections on 127.0.0.1:port."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("port %d did not open" % port)


PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def start_prometheus(tmp, config, log=None, timeout=30):
    """A real Prometheus on a free loopback port, configured by the YAML text
    `config` (written to tmp/prom.yml, so rule_files resolve in tmp), its TSDB
    in tmp/pd, stderr to the file `log` (default: discarded). Returns
    (process, port) once it accepts connections."""
    port = free_port()
    cfg = os.path.join(tmp, "prom.yml")
    with open(cfg, "w") as f:
        f.write(config)
    err = open(log, "w") if log else subprocess.DEVNULL
    try:
        p = subprocess.Popen([PROMETHEUS, "--config.file=" + cfg,
                              "--storage.tsdb.path=" + os.path.join(tmp, "pd"),
                              "--web.listen-address=127.0.0.1:%d" % port],
                             stdout=subprocess.DEVNULL, stderr=err)
    finally:
        if log:
            err.close()
    wait_port(port, timeout)
    return p, port


def stop_prometheus(p, timeout=15):
    """SIGTERM, then SIGKILL when it has not stopped within timeout seconds."""
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def wait_until(pred, timeout=5.0, interval=0.02, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)


def metric_value(text, name, labels=None):
    """Value of one series in Prometheus text, or None."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if labels and any(got.get(k) != v for k, v in labels.items()):
            continue
        return float(m.group(3))
    return None


import urllib.parse  # noqa: E402  (used by Daemon.request)
