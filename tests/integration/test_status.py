"""Integration test of the public status page on the real daemon: a P0 alert
on the API fires, the incident module opens a SEV1, the status page shows
the component down and the incident with its automatic first update (in
the HTML, summary.json and unresolved.json), the incident's timeline has
the status_page entry; the alert resolves, the incident resolves and leaves
unresolved.json with a "resolved" update. Plus conditional GETs (304),
HEAD, CORS on the banner, the override API and its access rules, and the
prebuilt gzip variants (Accept-Encoding, Vary, an ETag per variant)."""
import datetime
import gzip
import http.client
import json
import shutil
import tempfile

from collectcfg import config_with
from dwtest import TOKENS, Daemon, run, test, wait_until

SECTIONS = """scrape: {host: {enabled: false}}
probes: {checks: []}
alerting:
  route: {receiver: critical, group_by: [alertname]}
  receivers: [{name: critical}]
status:
  title: "Status <of> DojoPool"
  url: https://status.example.test
  cors_origins: ["*"]
  groups: [{id: platform, name: Platform}]
  components:
    - {id: api, name: API, group: platform, alerts: {service: api}}
    - {id: web, name: Website, alerts: {service: web}}
"""


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def put_alert(d, firing):
    now = datetime.datetime.now(datetime.timezone.utc)
    end = now + datetime.timedelta(hours=1) if firing else now - datetime.timedelta(seconds=1)
    body = [{"labels": {"alertname": "ApiDown", "priority": "P0", "service": "api"},
             "annotations": {"summary": "the API answers 500"},
             "startsAt": iso(now - datetime.timedelta(minutes=1)), "endsAt": iso(end)}]
    r = d.post("/api/v2/alerts", token=TOKENS["responder"], data=json.dumps(body).encode(),
               headers={"Content-Type": "application/json"})
    assert r.status == 200, (r.status, r.text)


def get_json(d, path, token=None):
    r = d.get(path, token=TOKENS[token] if token else None)
    assert r.status == 200, (path, r.status, r.text)
    return r.json()


def component(summary, cid):
    return [c for c in summary["components"] if c["id"] == cid][0]


@test
def a_p0_reaches_the_page_and_leaves_it_when_resolved():
    tmp = tempfile.mkdtemp(prefix="dwstatus-")
    try:
        with Daemon(config=config_with(SECTIONS, tmp)) as d:
            wait_until(lambda: d.get("/status").status == 200, 10, what="the first rendering")
            r = d.get("/status")
            assert r.headers["Content-Type"].startswith("text/html"), r.headers
            assert "All Systems Operational" in r.text, r.text[:500]
            assert "Status &lt;of&gt; DojoPool" in r.text and "<of>" not in r.text
            s = get_json(d, "/status/api/v2/summary.json")
            assert s["status"] == {"indicator": "none", "description": "All Systems Operational"}
            assert component(s, "api")["status"] == "operational", s

            put_alert(d, True)
            wait_until(lambda: get_json(d, "/status/api/v2/incidents/unresolved.json")["incidents"],
                       15, what="the incident on the page")
            inc = get_json(d, "/status/api/v2/incidents/unresolved.json")["incidents"][0]
            iid = inc["id"]
            assert iid.startswith("INC-") and inc["impact"] == "critical", inc
            assert inc["status"] == "investigating", inc
            assert inc["shortlink"] == "https://status.example.test/incidents/" + iid, inc
            ups = inc["incident_updates"]
            assert len(ups) == 1 and ups[0]["status"] == "investigating", ups
            assert ups[0]["incident_id"] == iid and len(ups[0]["body"]) > 20, ups
            wait_until(lambda: component(get_json(d, "/status/api/v2/summary.json"), "api")
                       ["status"] == "major_outage", 10, what="the API down")
            s = get_json(d, "/status/api/v2/summary.json")
            assert s["status"]["indicator"] == "critical", s["status"]
            assert [i["id"] for i in s["incidents"]] == [iid], s["incidents"]
            assert component(s, "web")["status"] == "operational"
            page = d.get("/status").text
            assert iid in page and "Active incidents" in page, page[:2000]
            # the incident's own timeline has the public update
            tl = get_json(d, "/api/incidents/" + iid, "viewer")["data"]["timeline"]
            assert [e for e in tl if e["kind"] == "status_page"], tl
            # the incident page and the feeds
            assert d.get("/status/incidents/" + iid).status == 200
            assert iid in d.get("/status/history.rss").text
            assert iid in d.get("/status/history.atom").text
            badge = d.get("/status/badge/api.svg")
            assert badge.status == 200 and "Major outage" in badge.text, badge.text
            assert d.get("/status/badge/nope.svg").status == 404

            put_alert(d, False)
            wait_until(lambda: not get_json(d, "/status/api/v2/incidents/unresolved.json")
                       ["incidents"], 20, what="the incident resolved on the page")
            inc = [i for i in get_json(d, "/status/api/v2/incidents.json")["incidents"]
                   if i["id"] == iid][0]
            assert inc["status"] == "resolved" and inc["resolved_at"], inc
            assert inc["incident_updates"][0]["status"] == "resolved", inc["incident_updates"]
            wait_until(lambda: component(get_json(d, "/status/api/v2/summary.json"), "api")
                       ["status"] == "operational", 10, what="the API back")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@test
def caching_cors_and_management():
    tmp = tempfile.mkdtemp(prefix="dwstatus-")
    try:
        with Daemon(config=config_with(SECTIONS, tmp)) as d:
            wait_until(lambda: d.get("/status/api/v2/status.json").status == 200, 10,
                       what="the first rendering")
            r = d.get("/status/api/v2/status.json")
            etag, lm = r.headers["ETag"], r.headers["Last-Modified"]
            assert etag.startswith('"') and r.headers["Cache-Control"] == "public, max-age=10"
            r2 = d.get("/status/api/v2/status.json", headers={"If-None-Match": etag})
            assert r2.status == 304 and r2.body == b"", (r2.status, r2.body)
            r3 = d.get("/status/api/v2/status.json", headers={"If-None-Match": '"other"'})
            assert r3.status == 200
            r4 = d.get("/status/api/v2/status.json", headers={"If-Modified-Since": lm})
            assert r4.status == 304, r4.status
            h = d.headers_only("HEAD", "/status")
            assert h.status == 200 and h.body == b"" and "ETag" in h.headers, h.headers
            # CORS on the banner and the script, with a preflight
            b = d.get("/status/api/banner.json", headers={"Origin": "https://app.example"})
            assert b.headers.get("Access-Control-Allow-Origin") == "*", b.headers
            assert b.json()["active"] is False and b.json()["level"] == "none", b.json()
            js = d.get("/status/embed.js")
            assert js.status == 200 and "banner.json" in js.text
            assert js.headers.get("Access-Control-Allow-Origin") == "*"
            assert "Access-Control-Allow-Origin" not in d.get("/status").headers
            p = d.request("OPTIONS", "/status/api/banner.json",
                          headers={"Origin": "https://app.example",
                                   "Access-Control-Request-Method": "GET"})
            assert p.status == 204 and p.headers["Access-Control-Allow-Origin"] == "*", p.headers
            # override: responders act, viewers read, the page follows at once
            body = json.dumps({"state": "partial_outage"}).encode()
            hdr = {"Content-Type": "application/json"}
            r = d.post("/api/status/components/web", token=TOKENS["viewer"], data=body, headers=hdr)
            assert r.status == 403, r.status
            r = d.post("/api/status/components/web", token=TOKENS["responder"], data=body,
                       headers=hdr)
            assert r.status == 200 and r.json()["data"]["state"] == "partial_outage", r.text
            s = get_json(d, "/status/api/v2/summary.json")
            assert component(s, "web")["status"] == "partial_outage", s
            assert s["status"]["indicator"] == "major", s["status"]
            assert d.get("/status/api/v2/status.json",
                          headers={"If-None-Match": etag}).status == 200  # changed: no 304
            b = get_json(d, "/status/api/banner.json")
            assert b["active"] is True and b["level"] == "major", b
            r = d.post("/api/status/components/web", token=TOKENS["responder"],
                       data=json.dumps({"state": None}).encode(), headers=hdr)
            assert r.status == 200 and r.json()["data"]["override"] is None, r.text
            r = d.post("/api/status/components/nope", token=TOKENS["responder"], data=body,
                       headers=hdr)
            assert r.status == 404, r.status
            r = d.post("/api/status/components/web", token=TOKENS["responder"],
                       data=json.dumps({"state": "on_fire"}).encode(), headers=hdr)
            assert r.status == 400, r.status
            assert d.get("/api/status/components").status == 401
    finally:
        shutil.rmtree(tmp, ignore_errors=True)



def same_page(d, headers):
    """(identity answer, answer with headers) of /status for the same page version."""
    for _ in range(5):
        a = d.get("/status")
        b = d.get("/status", headers=headers)
        if d.get("/status").headers["ETag"] == a.headers["ETag"]:
            return a, b
    raise AssertionError("the page kept changing")


@test
def gzip_when_the_client_takes_it():
    tmp = tempfile.mkdtemp(prefix="dwstatus-")
    try:
        with Daemon(config=config_with(SECTIONS, tmp)) as d:
            wait_until(lambda: d.get("/status").status == 200, 10, what="the first rendering")
            plain, z = same_page(d, {"Accept-Encoding": "br, gzip;q=0.8"})
            assert "Content-Encoding" not in plain.headers, plain.headers
            assert plain.headers["Vary"] == "Accept-Encoding", plain.headers
            assert z.status == 200 and z.headers["Content-Encoding"] == "gzip", z.headers
            assert z.headers["Vary"] == "Accept-Encoding", z.headers
            assert gzip.decompress(z.body) == plain.body
            assert len(z.body) < len(plain.body) and int(z.headers["Content-Length"]) == len(z.body)
            assert z.headers["ETag"] != plain.headers["ETag"], z.headers
            assert z.headers["Last-Modified"] == plain.headers["Last-Modified"]
            assert z.headers["Cache-Control"] == "public, no-cache"  # pages: checked every view
            # a conditional GET compares with the variant the client would get
            r = d.get("/status", headers={"Accept-Encoding": "gzip",
                                          "If-None-Match": z.headers["ETag"]})
            assert r.status == 304 and r.body == b"", (r.status, r.headers)
            assert r.headers["ETag"] == z.headers["ETag"] and r.headers["Vary"] == "Accept-Encoding"
            assert "Content-Encoding" not in r.headers, r.headers
            r = d.get("/status", headers={"If-None-Match": z.headers["ETag"]})
            assert r.status == 200 and "Content-Encoding" not in r.headers, r.headers
            # gzip refused with q=0; HEAD says what GET would send
            r = d.get("/status", headers={"Accept-Encoding": "gzip;q=0, identity"})
            assert r.status == 200 and "Content-Encoding" not in r.headers, r.headers
            conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
            conn.putrequest("HEAD", "/status", skip_accept_encoding=True)
            conn.putheader("Accept-Encoding", "gzip")
            conn.endheaders()
            h = conn.getresponse()
            assert h.status == 200 and h.read() == b"", h.status
            assert h.getheader("Content-Encoding") == "gzip", h.getheaders()
            assert h.getheader("Content-Length") == str(len(z.body)), h.getheaders()
            conn.close()
            # small documents are sent as they are, without Vary
            s = d.get("/status/api/v2/status.json", headers={"Accept-Encoding": "gzip"})
            assert s.status == 200 and "Content-Encoding" not in s.headers, s.headers
            assert "Vary" not in s.headers, s.headers
            json.loads(s.body)
            # the embeddable script: CORS and gzip together
            js = d.get("/status/embed.js", headers={"Accept-Encoding": "gzip",
                                                    "Origin": "https://app.example"})
            assert js.headers["Content-Encoding"] == "gzip", js.headers
            assert js.headers["Access-Control-Allow-Origin"] == "*", js.headers
            assert js.headers["Vary"] == "Accept-Encoding", js.headers
            assert b"banner.json" in gzip.decompress(js.body)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run()
