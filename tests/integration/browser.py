"""browser - the Python side of the browser tests: runs tests/browser/<script>.mjs under
node against a running daemon and reads its one-line JSON result.

    import browser
    from dwtest import Daemon, run

    @browser.test                       # registered like @dwtest.test, or skipped (below)
    def console_renders():
        with Daemon() as d:
            r = browser.run_script("smoke", d, "console_renders")
            browser.assert_pngs(r["screenshots"])

Skipping. A browser test needs node and Debian's chromium (/usr/bin/chromium, or
$DW_CHROMIUM). When chromium is absent and DW_REQUIRE_BROWSER is unset, @browser.test
does not register the test and report_skips() (called by run() here) prints one "skip" line
per test with the reason; the module's count then leaves them out (neither passed nor
failed). With DW_REQUIRE_BROWSER=1 (CI) a missing browser fails every browser test with the
same reason. Nothing else skips: a missing playwright-core or manifest is a failure.

Output. Screenshots go to <build dir>/browser-screenshots/<name>/ ($DW_BUILD_ROOT, set by
tests/integration/meson.build; else beside the binary's build dir; else tests/out/).
The asset manifest the build wrote is passed on as $DW_ASSET_MANIFEST (assetUrl() in
tests/browser/lib.mjs).
"""
import json
import os
import shutil
import subprocess

import dwtest

ROOT = dwtest.ROOT
CHROMIUM = os.environ.get("DW_CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node")
REQUIRED = os.environ.get("DW_REQUIRE_BROWSER", "") not in ("", "0")
_skipped = []


def missing():
    """Why browser tests cannot run here, or None when they can."""
    if not NODE:
        return "node is not on PATH (scripts/deps.sh build installs Debian's nodejs)"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return "%s is not installed (scripts/deps.sh test installs Debian's chromium)" % CHROMIUM
    return None


def test(fn):
    """@dwtest.test for a browser test: skipped with a reason when the browser is missing."""
    reason = missing()
    if reason and not REQUIRED:
        _skipped.append((fn.__name__, reason))
        return fn
    if reason:
        def required(*a, **kw):
            raise AssertionError("DW_REQUIRE_BROWSER is set but %s" % reason)
        required.__name__ = fn.__name__
        return dwtest.test(required)
    return dwtest.test(fn)


def report_skips():
    for name, reason in _skipped:
        print("skip %s: %s; set DW_REQUIRE_BROWSER=1 to make this a failure" % (name, reason),
              flush=True)


def run():
    """dwtest.run() after printing the skipped browser tests."""
    report_skips()
    dwtest.run()


def build_root():
    if os.environ.get("DW_BUILD_ROOT"):
        return os.environ["DW_BUILD_ROOT"]
    b = os.path.abspath(dwtest.BINARY)
    if b.endswith(os.path.join("src", "cli", "dojowatch")):
        return os.path.dirname(os.path.dirname(os.path.dirname(b)))
    return os.path.join(ROOT, "tests", "out")


def manifest_path():
    path = os.environ.get("DW_ASSET_MANIFEST") or os.path.join(
        build_root(), "src", "http", "assets-manifest.json")
    assert os.path.isfile(path), "no asset manifest at %s (is the build configured with web_assets?)" % path
    return path


def manifest():
    """The build's assets: {"console.js": {"hashed", "url", "type", "sha256", ...}}."""
    with open(manifest_path()) as f:
        return json.load(f)


def out_dir(name):
    path = os.path.join(build_root(), "browser-screenshots", name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def run_script(script, daemon, name, timeout=120, env=None):
    """Runs tests/browser/<script>.mjs against daemon (a dwtest.Daemon or a base URL) with the
    output folder browser-screenshots/<name>; returns its JSON result and raises
    AssertionError, with the failed checks and page errors, unless it is ok."""
    base = daemon if isinstance(daemon, str) else daemon.url("")
    assert os.path.isdir(os.path.join(ROOT, "web", "node_modules", "playwright-core")), \
        "web/node_modules/playwright-core is missing: run scripts/web-build.sh (it runs npm ci)"
    path = os.path.join(ROOT, "tests", "browser", script + ".mjs")
    out = out_dir(name)
    e = dict(os.environ, DW_ASSET_MANIFEST=manifest_path(), DW_CHROMIUM=CHROMIUM)
    e.update(env or {})
    try:
        p = subprocess.run([NODE, path, "--base", base, "--out", out], capture_output=True,
                           text=True, timeout=timeout, env=e, stdin=subprocess.DEVNULL, cwd=ROOT)
    except subprocess.TimeoutExpired as ex:
        raise AssertionError("%s.mjs ran over %ss:\n%s" % (script, timeout, ex.stderr or ""))
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise AssertionError("%s.mjs printed no result (exit %s):\n%s\n%s"
                             % (script, p.returncode, p.stdout[-2000:], p.stderr[-4000:]))
    result = json.loads(lines[-1])
    if not result.get("ok") or p.returncode != 0:
        bad = [c for c in result.get("checks", []) if not c.get("ok")]
        raise AssertionError("%s.mjs failed (exit %s)\nfailed checks: %s\npage errors: %s\nstderr:\n%s"
                             % (script, p.returncode, json.dumps(bad, indent=1),
                                json.dumps(result.get("errors"), indent=1), p.stderr[-4000:]))
    return result


def png_size(path):
    """(width, height) of a PNG file; AssertionError when it is empty or not a PNG."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert len(head) == 24 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", \
        "%s is not a PNG (%d bytes)" % (path, os.path.getsize(path))
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def assert_pngs(paths):
    for p in paths:
        assert os.path.getsize(p) > 0, "%s is empty" % p
        png_size(p)


def checks(result, prefix=""):
    """The checks of a run_script result whose name starts with prefix, as (name, detail)."""
    return [(c["name"], c.get("detail")) for c in result.get("checks", [])
            if c["name"].startswith(prefix)]
