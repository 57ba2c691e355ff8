"""Integration test of the status page's subscribers on the real daemon with a
real SMTP server (aiosmtpd) and a webhook receiver on loopback: the public
forms (subscribe, confirm, manage, one-click unsubscribe per RFC 8058), answers
that do not tell a known address from a new one, the limits (per client,
body size, bad input), and the plan's promise on a large list: a P0 incident
reaches the page and every one of the subscribers within its 10-minute
target, at the configured rate (never faster), nobody twice, with the times
recorded on the incident.

DW_SUBSCRIBERS sets the size of the large list (default 100000)."""
import collections
import json
import os
import re
import shutil
import tempfile
import time
import urllib.parse

from collectcfg import config_with
from dwtest import TOKENS, Daemon, run, test, wait_until
from receivers import HTTPReceiver, SmtpReceiver


class StatusHookReceiver(HTTPReceiver):
    """A status page subscriber's webhook: any JSON object POSTed is taken."""

    name = "status-webhook"

    def check(self, req):
        if req.method != "POST":
            req.problems.append("method %s, want POST" % req.method)
            return 405, b"method not allowed", {"Content-Type": "text/plain"}
        try:
            ok = isinstance(req.json(), dict)
        except ValueError:
            ok = False
        if not ok:
            req.problems.append("body is not a JSON object")
            return 400, b"bad body", {"Content-Type": "text/plain"}
        return None

    def ok(self, req):
        return 200, b"", {}

LIST_SIZE = int(os.environ.get("DW_SUBSCRIBERS", "100000"))


def sections(smtp_port, rate=50, per_client=4, reads=1000, burst=1000):
    return """scrape: {host: {enabled: false}}
probes: {checks: []}
alerting:
  route: {receiver: critical, group_by: [alertname]}
  receivers: [{name: critical}]
notify:
  email: {smarthost: '127.0.0.1:%d', from: 'status@dojopool.example', require_tls: false}
status:
  title: DojoPool Status
  url: https://status.dojopool.example
  subscribers: {send_rate: %d, per_client_per_hour: %d, allow_private_webhooks: true}
  rate_limit: {requests_per_second: %d, burst: %d}
  components:
    - {id: api, name: API}
    - {id: web, name: Website}
""" % (smtp_port, rate, per_client, reads, burst)


def link_in(msg, path):
    """The first https://status.dojopool.example/<path>?token=... link of a message's text."""
    text = msg.message.get_body(preferencelist=("plain",)).get_content()
    m = re.search(r"https://status\.dojopool\.example/%s\?token=([0-9a-f.]+)" % re.escape(path),
                  text)
    assert m, (path, text)
    return m.group(1)


def open_incident(d, title, severity=1, systems=("api",)):
    body = {"title": title, "severity": severity, "affectedSystems": list(systems)}
    r = d.post("/api/incidents", token="responder", data=json.dumps(body),
               headers={"Content-Type": "application/json"})
    assert r.status in (200, 201), (r.status, r.text)
    data = r.json()
    return data.get("data", data)["id"]


def incident(d, iid):
    r = d.get("/api/incidents/" + iid, token="viewer")
    assert r.status == 200, (r.status, r.text)
    data = r.json()
    return data.get("data", data)


def subscriber_mail(smtp):
    """What the SMTP server got for subscribers (not the incident's stakeholder updates)."""
    return [m for m in smtp.messages if m.rcpt_tos[0].endswith("@example.test")]


def form(d, path, fields, headers=None):
    return d.post(path, data=urllib.parse.urlencode(fields, doseq=True),
                  headers=dict({"Content-Type": "application/x-www-form-urlencoded"},
                               **(headers or {})))


@test
def subscribe_confirm_notify_and_unsubscribe_in_one_click():
    tmp = tempfile.mkdtemp(prefix="dwsubs-")
    try:
        with SmtpReceiver() as smtp, StatusHookReceiver() as hooks, \
                Daemon(config=config_with(sections(smtp.port), tmp)) as d:
            r = d.get("/status/subscribe")
            assert r.status == 200 and 'name="email"' in r.text, (r.status, r.text[:300])
            assert 'value="api"' in r.text and 'value="web"' in r.text, r.text
            assert r.headers.get("Cache-Control") == "no-store", r.headers
            # a new address and, later, the same one: the same answer byte for byte
            r1 = form(d, "/status/subscribe", {"email": "ann@example.test", "components": ["api"]})
            assert r1.status == 202, (r1.status, r1.text)
            confirm = smtp.wait_for(1, 10)[0]
            assert confirm.rcpt_tos == ["ann@example.test"], confirm.rcpt_tos
            assert "Confirm your subscription" in confirm.message["Subject"], confirm.message["Subject"]
            r2 = form(d, "/status/subscribe", {"email": "ANN@example.test", "components": ["api"]})
            assert (r2.status, r2.body) == (r1.status, r1.body), (r2.status, r2.text)
            time.sleep(0.5)
            assert len(smtp.messages) == 1, smtp.summary()  # no second mail within the hour
            # the webhook subscriber confirms by its owner's mail, JSON this time
            r = d.post("/status/subscribe", data=json.dumps(
                {"email": "ops@example.test", "webhook": hooks.url + "/dw"}),
                headers={"Content-Type": "application/json"})
            assert r.status == 202 and r.json()["status"] == "pending", (r.status, r.text)
            hook_mail = smtp.wait_for(2, 10)[1]
            assert hook_mail.rcpt_tos == ["ops@example.test"], hook_mail.rcpt_tos
            # nothing is sent before confirmation
            iid0 = open_incident(d, "Before confirmation", severity=2)
            time.sleep(2.5)
            assert len(subscriber_mail(smtp)) == 2 and not hooks.requests, smtp.summary()
            # the confirm link shows a button (a GET changes nothing); the POST confirms
            tok = link_in(confirm, "subscribe/confirm")
            r = d.get("/status/subscribe/confirm?token=" + tok)
            assert r.status == 200 and 'type="submit"' in r.text, r.text
            assert r.headers.get("Referrer-Policy") == "no-referrer", r.headers
            r = form(d, "/status/subscribe/confirm", {"token": tok})
            assert r.status == 200 and "You are subscribed" in r.text, (r.status, r.text)
            r = form(d, "/status/subscribe/confirm", {"token": tok[:-1] + ("0" if tok[-1] != "0" else "1")})
            assert r.status == 404, r.status
            r = form(d, "/status/subscribe/confirm", {"token": link_in(hook_mail, "subscribe/confirm")})
            assert r.status == 200, r.text
            subs = d.get("/api/status/subscribers", token="admin").json()["data"]
            assert subs["active"] == 2 and subs["pending"] == 0, subs
            assert d.get("/api/status/subscribers", token="viewer").status == 403

            # an incident on the api: both hear of it, the e-mail with RFC 8058 headers
            iid = open_incident(d, "Login errors <script>")
            wait_until(lambda: len(subscriber_mail(smtp)) >= 3, 15, what="the e-mail notice")
            notice = subscriber_mail(smtp)[2]
            assert notice.rcpt_tos == ["ann@example.test"], notice.summary()
            assert "Investigating: Login errors <script>" in notice.message["Subject"], \
                notice.message["Subject"]
            unsub = notice.message["List-Unsubscribe"]
            assert unsub.startswith("<https://status.dojopool.example/unsubscribe?token="), unsub
            assert notice.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            html = notice.message.get_body(preferencelist=("html",)).get_content()
            assert "<script>" not in html and "&lt;script&gt;" in html, html
            wait_until(lambda: hooks.requests, 10, what="the webhook notice")
            w = hooks.requests[0].json()
            assert w["incident"]["id"] == iid and w["incident"]["status"] == "investigating", w
            assert w["page"]["status_indicator"] == "critical", w
            assert w["meta"]["unsubscribe"].startswith("https://status.dojopool.example/unsubscribe"), w
            assert not any(iid0 in m.message["Subject"] for m in subscriber_mail(smtp)), smtp.summary()

            # manage: web only, then the api's next update skips ann
            mtok = link_in(notice, "subscription")
            r = d.get("/status/subscription?token=" + mtok)
            assert r.status == 200 and "ann@example.test" in r.text, r.text
            r = form(d, "/status/subscription", {"token": mtok, "components": ["web"]})
            assert r.status == 200, r.text
            r = d.post("/api/status/incidents/%s/updates" % iid, token="responder", data=json.dumps(
                {"status": "identified", "body": "A bad deploy."}),
                headers={"Content-Type": "application/json"})
            assert r.status == 200, (r.status, r.text)
            wait_until(lambda: len(hooks.requests) >= 2, 10, what="the second webhook notice")
            time.sleep(1.5)
            assert len(subscriber_mail(smtp)) == 3, smtp.summary()

            # one click: the mail client POSTs List-Unsubscribe=One-Click to the header's URL
            path = unsub.strip("<>").replace("https://status.dojopool.example", "/status")
            r = d.post(path, data="List-Unsubscribe=One-Click",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert r.status == 200, (r.status, r.text)
            r = d.post(path, data="List-Unsubscribe=One-Click",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert r.status == 404, r.status
            subs = d.get("/api/status/subscribers", token="admin").json()["data"]
            assert subs["active"] == 1, subs
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@test
def every_public_route_is_limited_per_client():
    tmp = tempfile.mkdtemp(prefix="dwsubs-")
    try:
        with SmtpReceiver() as smtp, \
                Daemon(config=config_with(sections(smtp.port, reads=1, burst=5), tmp)) as d:
            wait_until(lambda: d.get("/status").status in (200, 429), 10, what="the page")
            time.sleep(5.5)  # a full bucket again (one a second, five at most)
            paths = ["/status", "/status/api/v2/summary.json", "/status/history.rss",
                     "/status/subscribe", "/status/badge/api.svg", "/status/api/banner.json"]
            codes = [d.get(p).status for p in paths]
            assert codes[:5] == [200] * 5 and codes[5] == 429, codes
            r = d.get("/status")
            assert r.status == 429 and int(r.headers["Retry-After"]) >= 1, (r.status, r.headers)
            # operators' routes are not the public's: not limited
            assert d.get("/api/status/components", token="viewer").status == 200
            time.sleep(1.1)
            assert d.get("/status").status == 200
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@test
def limits_and_bad_input_on_the_public_forms():
    tmp = tempfile.mkdtemp(prefix="dwsubs-")
    try:
        with SmtpReceiver() as smtp, \
                Daemon(config=config_with(sections(smtp.port, per_client=3), tmp)) as d:
            for body, why in [({"email": "not-an-address"}, "valid e-mail"),
                              ({"email": "a@b.test", "webhook": "ftp://x.test/"}, "https://"),
                              ({"email": "a@b.test", "components": ["billing"]}, "unknown component")]:
                r = form(d, "/status/subscribe", body, headers={"Accept": "application/json"})
                assert r.status == 400 and why in r.json()["message"], (body, r.status, r.text)
            r = d.post("/status/subscribe", data="{", headers={"Content-Type": "application/json"})
            assert r.status == 400, r.status
            r = d.post("/status/subscribe", data="email=" + "a" * 20000 + "@x.test",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert r.status == 413, r.status
            # three subscribe requests an hour from one address; X-Forwarded-For from an
            # untrusted peer does not make a new client
            codes = [form(d, "/status/subscribe", {"email": "u%d@example.test" % i},
                          headers={"X-Forwarded-For": "203.0.113.%d" % i}).status for i in range(4)]
            assert codes[:1] == [202] and codes[-1] == 429, codes
            r = form(d, "/status/subscribe", {"email": "v@example.test"})
            assert r.status == 429 and int(r.headers["Retry-After"]) > 60, (r.status, r.headers)
            # bad tokens everywhere: 404 with nothing said about why
            for path in ["/status/subscribe/confirm", "/status/unsubscribe", "/status/subscription"]:
                r = form(d, path, {"token": "1.00000000000000000000000000000000"})
                assert r.status == 404, (path, r.status)
            assert d.get("/status/subscription?token=2.x").status == 404
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def import_list(d, size, web_every=20):
    """size confirmed subscribers p000000@example.test...; every web_every-th only for the website."""
    people = [{"email": "p%06d@example.test" % i} for i in range(size)]
    for i in range(0, size, web_every):
        people[i]["components"] = ["web"]
    t = time.time()
    r = d.post("/api/status/subscribers", token="admin", data=json.dumps(people),
               headers={"Content-Type": "application/json"}, timeout=120)
    assert r.status == 200 and r.json()["data"]["added"] == size, (r.status, r.text[:300])
    print("  imported %d subscribers in %.1f s" % (size, time.time() - t))
    return size - len(range(0, size, web_every))


def all_notified(d, smtp, want, iid, t0):
    """Waits for every subscriber's notice; checks nobody twice, nobody left out."""
    wait_until(lambda: len(subscriber_mail(smtp)) >= want, 600, interval=1.0,
               what="every subscriber mail")
    took = time.time() - t0
    got = subscriber_mail(smtp)
    rcpts = collections.Counter(m.rcpt_tos[0] for m in got)
    dup = [a for a, n in rcpts.items() if n > 1]
    assert not dup, dup[:5]
    assert len(rcpts) == want, (len(rcpts), want)
    assert "p000000@example.test" not in rcpts and "p000001@example.test" in rcpts
    assert all(iid in m.message["Subject"] or "Payments down" in m.message["Subject"]
               for m in got[:50]), got[0].message["Subject"]
    return got, took


@test
def a_p0_reaches_the_page_and_a_large_list_within_ten_minutes():
    rate = 5000
    tmp = tempfile.mkdtemp(prefix="dwsubs-")
    try:
        with SmtpReceiver(check_every=100) as smtp, \
                Daemon(config=config_with(sections(smtp.port, rate=rate), tmp)) as d:
            want = import_list(d, LIST_SIZE)
            t0 = time.time()
            iid = open_incident(d, "Payments down", severity=1, systems=("api",))
            got, took = all_notified(d, smtp, want, iid, t0)
            inc = incident(d, iid)
            assert inc.get("statusPageUpdatedAt"), inc
            print("  P0 %s: on the status page after %s, %d subscribers' mail received after "
                  "%.1f s (%.0f/s)" % (iid, inc.get("timeToStatusPage"), want, took, want / took))
            assert took < 600, took  # the plan's 10-minute promise
            # the incident records when its subscribers were notified, within the target
            wait_until(lambda: any(e["kind"] == "notice" and "subscribers notified" in e.get("text", "")
                                   for e in incident(d, iid)["timeline"]), 15,
                       what="the notice entry on the incident")
            entry = [e for e in incident(d, iid)["timeline"] if e["kind"] == "notice"][0]
            assert "%d e-mails" % want in entry["text"], entry
            notices = d.get("/api/status/notices", token="viewer").json()["data"]
            assert notices[0]["emails"] == want and notices[0]["done_at"], notices[0]
            assert notices[0]["done_at"] - notices[0]["created_at"] < 600000, notices[0]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@test
def notices_never_leave_faster_than_the_rate():
    rate, size = 200, 3000
    tmp = tempfile.mkdtemp(prefix="dwsubs-")
    try:
        with SmtpReceiver(check_every=100) as smtp, \
                Daemon(config=config_with(sections(smtp.port, rate=rate), tmp)) as d:
            want = import_list(d, size)
            t0 = time.time()
            iid = open_incident(d, "Payments down", severity=1, systems=("api",))
            got, took = all_notified(d, smtp, want, iid, t0)
            per_s = collections.Counter(int(m.time - t0) for m in got)
            peak = max(per_s.values())
            print("  %d notices in %.1f s: %.0f/s on average, peak %d in one second (rate %d/s)"
                  % (want, took, want / took, peak, rate))
            # a second's worth at once, at most, then the bucket's refill
            assert peak <= 2 * rate, per_s.most_common(3)
            assert want / took <= rate * 1.1, (want, took)
            assert took >= (want / rate) * 0.9, (took, want / rate)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run()
