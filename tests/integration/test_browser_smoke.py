"""Integration: the browser assets end to end. GET /assets/{name} serves every bundled
asset of the build (web/ through esbuild, embedded by scripts/embed-assets.py) with its
type, immutable caching, ETag / 304 and gzip when accepted; and in Debian's headless
chromium the bundled console.js runs and console.css applies on a desktop and a phone, and
a page the daemon renders today (/oncall/act) shows without page errors, with screenshots
(tests/browser/smoke.mjs; skipped with a reason when chromium is missing, unless
DW_REQUIRE_BROWSER=1)."""
import gzip
import hashlib
import os

import browser
from dwtest import Daemon, test

CACHE = "public, max-age=31536000, immutable"


@test
def assets_are_served_with_type_and_immutable_caching():
    assets = browser.manifest()
    assert "console.js" in assets and "console.css" in assets, sorted(assets)
    with Daemon() as d:
        for logical, a in assets.items():
            r = d.get(a["url"])  # no token: assets are public
            assert r.status == 200, (logical, r.status, r.text[:200])
            assert hashlib.sha256(r.body).hexdigest() == a["sha256"], logical
            assert a["hashed"].split(".")[-2] == a["sha256"][:8], a
            assert r.headers["Content-Type"] == a["type"], (logical, r.headers)
            assert r.headers["Cache-Control"] == CACHE, r.headers
            assert r.headers["ETag"] == '"%s"' % a["sha256"][:16], r.headers
            assert "Content-Encoding" not in r.headers, r.headers
            assert r.headers.get("X-Content-Type-Options") == "nosniff", r.headers
            if a["gzip_bytes"]:
                assert r.headers.get("Vary") == "Accept-Encoding", r.headers
            h = d.request("HEAD", a["url"])
            assert h.status == 200 and h.body == b"", (h.status, h.body[:50])


@test
def assets_come_gzipped_when_accepted():
    assets = browser.manifest()
    with Daemon() as d:
        for logical, a in assets.items():
            r = d.get(a["url"], headers={"Accept-Encoding": "br, gzip;q=0.8"})
            assert r.status == 200, (logical, r.status)
            if not a["gzip_bytes"]:
                assert "Content-Encoding" not in r.headers, r.headers
                continue
            assert r.headers.get("Content-Encoding") == "gzip", (logical, r.headers)
            assert len(r.body) == a["gzip_bytes"], (len(r.body), a)
            assert hashlib.sha256(gzip.decompress(r.body)).hexdigest() == a["sha256"], logical
            assert r.headers["ETag"] == '"%s-gz"' % a["sha256"][:16], r.headers
            refused = d.get(a["url"], headers={"Accept-Encoding": "gzip;q=0, identity"})
            assert "Content-Encoding" not in refused.headers, refused.headers


@test
def a_matching_etag_answers_304():
    a = browser.manifest()["console.js"]
    with Daemon() as d:
        etag = d.get(a["url"]).headers["ETag"]
        r = d.get(a["url"], headers={"If-None-Match": 'W/"other", ' + etag})
        assert r.status == 304 and r.body == b"", (r.status, r.body[:80])
        assert r.headers["ETag"] == etag and r.headers["Cache-Control"] == CACHE, r.headers
        gz = d.get(a["url"], headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
        assert gz.status == 200, "the gzip variant has its own ETag"
        assert d.get(a["url"], headers={"If-None-Match": '"0000"'}).status == 200


@test
def unknown_and_unhashed_names_are_404():
    with Daemon() as d:
        for path in ("/assets/console.js", "/assets/console.00000000.js", "/assets/nope",
                     "/assets/..%2F..%2Fmeson.build", "/assets/"):
            r = d.get(path)
            assert r.status == 404, (path, r.status)
            assert "Cache-Control" not in r.headers, (path, r.headers)
        r = d.post(browser.manifest()["console.js"]["url"], data=b"x")
        assert r.status == 405, r.status


@browser.test
def console_bundle_runs_in_chromium_on_desktop_and_phone():
    with Daemon() as d:
        r = browser.run_script("smoke", d, "test_browser_smoke")
    shots = {os.path.basename(p): p for p in r["screenshots"]}
    want = {"console-desktop.png": 1280, "console-phone.png": 390 * 3,
            "oncall-act-desktop.png": 1280, "oncall-act-phone.png": 390 * 3}
    assert sorted(shots) == sorted(want), sorted(shots)
    for name, width in want.items():
        assert os.path.getsize(shots[name]) > 1000, (name, os.path.getsize(shots[name]))
        w, h = browser.png_size(shots[name])
        assert w == width and h > 0, (name, w, h)
    print("  chromium %s, %d checks, screenshots in %s"
          % (r["browser"], len(r["checks"]), os.path.dirname(shots["console-phone.png"])))


if __name__ == "__main__":
    browser.run()
