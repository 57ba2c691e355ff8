"""Integration tests of paging end to end: the real daemon, alerts posted on
its Alertmanager API, and local stand-ins for Twilio, Slack, a webhook and an
SMTP server (receivers.py) that check the wire format each service documents.

- A P0 pages the primary on call by call, SMS and Slack #incidents; the
  signed link in the SMS shows a confirmation page on GET and acknowledges on
  POST; a second page is acknowledged by an SMS reply "4" (X-Twilio-Signature
  checked, a forged one refused) and a third resolved from the call keypad.
- A P1 goes to Slack and e-mail over SMTP with STARTTLS and AUTH to the
  on-call engineer and, 15 minutes later on the test clock, the team lead.
- Who is on call, and the iCal feed parsed by Python's icalendar.
- A burst of alert groups to a webhook that fails half the time, the daemon
  killed with SIGKILL in the middle: after the restart every group arrives.
"""
import json
import os
import re
import shutil
import tempfile
import time
import urllib.parse

from collectcfg import config_with
from dwtest import TOKENS, Daemon, run, test, wait_until
import receivers as rx

BASE = "https://dw.example"
PRIMARY, SECONDARY = "+15550100", "+15550101"
T0 = "2026-03-02T10:00:00Z"  # a Monday in business hours
T0_S = 1772445600


def sections(twilio, slack, extra=""):
    return (
        "scrape: {host: {enabled: false}}\nprobes: {checks: []}\n"
        "rules: {files: []}\n"
        "alerting:\n"
        "  route:\n"
        "    receiver: critical\n"
        "    group_by: [alertname]\n"
        "  receivers: [{name: critical}]\n"
        "oncall:\n"
        "  links: {base_url: '%s'}\n"
        "  bundle: {window: 0s}\n"
        "  schedules:\n"
        "    - {id: primary, members: [primary-engineer]}\n"
        "    - {id: secondary, members: [secondary-engineer]}\n"
        # Pages alone: the incidents' own messages are test_incident's.
        "incidents:\n"
        "  communications: {timeline_enabled: false, stakeholders: {every: none},"
        " daily_summary: {enabled: false}}\n"
        "notify:\n"
        "  slack: {api_url: '%s/services/T000/B000/XXXX'}\n"
        "  sms: {api_url: '%s', account_sid: %s, auth_token: '%s', from: '+15550000001'}\n"
        "  voice: {api_url: '%s', account_sid: %s, auth_token: '%s', from: '+15550000001'}\n"
        % (BASE, slack.url, twilio.url, rx.TEST_ACCOUNT_SID, rx.TEST_AUTH_TOKEN, twilio.url,
           rx.TEST_ACCOUNT_SID, rx.TEST_AUTH_TOKEN) + extra)


def post_alert(d, name, priority, status="firing", now=None):
    now = now if now is not None else time.time()
    ends = now + (86400 if status == "firing" else -1)
    body = [{"labels": {"alertname": name, "priority": priority, "service": "api"},
             "annotations": {"summary": "%s is failing" % name},
             "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60)),
             "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ends))}]
    r = d.post("/api/v2/alerts", token="responder", data=json.dumps(body),
               headers={"Content-Type": "application/json"})
    assert r.status == 200, (r.status, r.text)


def pages(d, state=None):
    r = d.get("/api/oncall/pages" + ("?state=" + state if state else ""), token="viewer")
    assert r.status == 200, r.text
    return r.json()["data"]


def page_for(d, summary):
    for p in pages(d):
        if p["summary"] == summary:
            return p
    return None


def signed_post(d, path, params):
    """POSTs a Twilio callback to the daemon, signed over the public URL."""
    sig = rx.twilio_signature(rx.TEST_AUTH_TOKEN, BASE + path, params)
    return rx.http_request(d.url(path), urllib.parse.urlencode(params).encode(),
                           {"Content-Type": "application/x-www-form-urlencoded",
                            "X-Twilio-Signature": sig}, "POST")


def sms_to(tw, number):
    return [m for m in tw.messages() if m["To"] == number]


@test
def p0_pages_by_call_sms_and_slack_and_every_way_of_answering_works():
    tmp = tempfile.mkdtemp(prefix="dwoncall-")
    tw, sl = rx.TwilioReceiver().start(), rx.SlackReceiver().start()
    try:
        cfg = config_with(sections(tw, sl), tmp)
        with Daemon(config=cfg) as d:
            post_alert(d, "ApiDown", "P0")
            tw.wait_for(2, 10)  # the call and the SMS, both well formed
            sl.wait_for(1, 10)
            assert not tw.invalid_requests(), tw.summary()
            assert not sl.invalid_requests(), sl.summary()
            call = tw.calls()[0]
            assert call["To"] == PRIMARY and call["From"] == "+15550000001", call
            assert "<Gather" in call["Twiml"] and "Press 4" in call["Twiml"], call["Twiml"]
            sms = sms_to(tw, PRIMARY)[0]["Body"]
            assert "ApiDown" in sms and "Reply 4" in sms, sms
            slack = sl.valid_requests()[0].parsed
            assert slack["channel"] == "#incidents", slack
            buttons = [e for b in slack.get("blocks", []) if b["type"] == "actions"
                       for e in b["elements"]]
            assert any(BASE + "/oncall/act?t=" in e.get("url", "") for e in buttons), buttons
            page = page_for(d, "ApiDown is failing")
            assert page and page["state"] == "triggered" and page["priority"] == "P0", page

            # The SMS link: GET only shows a form (link previews act on nothing), POST acts.
            link = re.search(re.escape(BASE) + r"(/oncall/act\?t=[A-Za-z0-9_\-.]+)", sms).group(1)
            r = d.get(link)
            assert r.status == 200 and "<form" in r.text, r.text
            assert page_for(d, "ApiDown is failing")["state"] == "triggered"
            token = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["t"][0]
            r = d.post("/oncall/act", data={"t": token, "action": "ack"})
            assert r.status == 200 and "Acknowledged 1 page" in r.text, r.text
            p = d.get("/api/oncall/pages/" + page["id"], token="viewer").json()["data"]
            assert p["state"] == "acknowledged" and p["ackedBy"] == "primary-engineer", p
            kinds = [(e["kind"], e["via"]) for e in p["timeline"]]
            assert ("triggered", "alert") in kinds and ("acknowledged", "link") in kinds, kinds
            assert ("notified", "sms") in kinds and ("notified", "phone") in kinds, kinds
            r = d.post("/oncall/act", data={"t": token[:-2] + "xx", "action": "ack"})
            assert r.status == 403, r.status

            # An SMS reply "4" to the second page; a forged one is refused.
            post_alert(d, "DbDown", "P0")
            wait_until(lambda: len(sms_to(tw, PRIMARY)) >= 2, 10, what="the second SMS")
            params = rx.inbound_sms_params(PRIMARY, "+15550000001", "4")
            bad = dict(params, Body="6")
            sig = rx.twilio_signature(rx.TEST_AUTH_TOKEN, BASE + "/api/oncall/twilio/sms", params)
            r = rx.http_request(d.url("/api/oncall/twilio/sms"), urllib.parse.urlencode(bad).encode(),
                                {"Content-Type": "application/x-www-form-urlencoded",
                                 "X-Twilio-Signature": sig}, "POST")
            assert r.status == 403, r
            r = signed_post(d, "/api/oncall/twilio/sms", params)
            assert r.status == 200 and "<Message>dojowatch: Acknowledged 1 page.</Message>" in r.text, r
            assert page_for(d, "DbDown is failing")["state"] == "acknowledged"

            # The call keypad: 6 resolves the third page.
            post_alert(d, "QueueDown", "P0")
            wait_until(lambda: len(tw.calls()) >= 3, 10, what="the third call")
            twiml = tw.calls()[2]["Twiml"]
            action = re.search(r'action="([^"]+)"', twiml).group(1).replace("&amp;", "&")
            assert action.startswith(BASE + "/api/oncall/twilio/voice?t="), action
            path = action[len(BASE):]
            r = signed_post(d, path, rx.gather_params("6", "CA" + "0" * 32, "+15550000001", PRIMARY))
            assert r.status == 200 and "Resolved 1 page" in r.text, r
            assert page_for(d, "QueueDown is failing")["state"] == "resolved"
            # acknowledging the alert itself stops its page too
            post_alert(d, "CacheDown", "P0")
            wait_until(lambda: page_for(d, "CacheDown is failing"), 10, what="the fourth page")
            fp = [a for a in d.get("/api/v2/alerts", token="viewer").json()
                  if a["labels"]["alertname"] == "CacheDown"][0]["fingerprint"]
            cpage = page_for(d, "CacheDown is failing")
            r = d.post("/api/v1/alerts/%s/ack" % fp, token="responder")
            assert r.status == 200 and r.json()["data"]["pages"] == [cpage["id"]], r.text
            p = d.get("/api/oncall/pages/" + cpage["id"], token="viewer").json()["data"]
            assert p["state"] == "acknowledged" and p["ackedVia"] == "api", p
            # the acknowledge and resolve API and the outbox view
            r = d.post("/api/oncall/pages/NOPE/ack", token="responder")
            assert r.status == 404, r.text
            r = d.post("/api/oncall/pages/%s/ack" % page["id"], token="viewer")
            assert r.status == 403, r.status
            ob = d.get("/api/notify/outbox?state=delivered&attempts=true", token="viewer").json()
            kinds = {row["kind"] for row in ob["data"]}
            assert {"sms", "voice", "slack"} <= kinds, kinds
            assert all(row["attemptLog"] for row in ob["data"]), ob
    finally:
        tw.stop()
        sl.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@test
def p1_goes_by_slack_and_starttls_email_then_escalates_to_the_lead():
    tmp = tempfile.mkdtemp(prefix="dwoncall-")
    tw, sl = rx.TwilioReceiver().start(), rx.SlackReceiver().start()
    smtp = rx.SmtpReceiver(starttls=True, require_starttls=True, auth=("dw", "s3cret")).start()
    try:
        extra = ("  email: {smarthost: '127.0.0.1:%d', from: 'dojowatch@dojopool.example',"
                 " auth_username: dw, auth_password: s3cret, require_tls: true,"
                 " tls_config: {ca_file: '%s'}}\n" % (smtp.port, smtp.cafile))
        cfg = config_with(sections(tw, sl, extra), tmp)
        with Daemon(config=cfg, args=["--test-clock=" + T0]) as d:
            post_alert(d, "SlowApi", "P1", now=T0_S)
            r = d.post("/-/test/clock", token="admin", data={"advance": "6s"})  # P1 group_wait
            assert r.status == 200, r.text
            wait_until(lambda: page_for(d, "SlowApi is failing"), 10, what="the P1 page")
            smtp.wait_for(1, 15)
            m = smtp.messages[0]
            assert m.tls and m.auth_user == "dw", m.summary()
            assert m.rcpt_tos == ["primary-oncall@dojopool.example"], m.rcpt_tos
            assert "SlowApi" in m.message["Subject"], m.message["Subject"]
            assert BASE + "/oncall/act?t=" in m.part("text/html"), m.part("text/html")
            sl.wait_for(1, 10)
            assert not tw.requests, "a P1 makes no calls or SMS"
            # nobody acknowledges: after the 15 minute response target, the team lead
            r = d.post("/-/test/clock", token="admin", data={"advance": "15m"})
            assert r.status == 200, r.text
            smtp.wait_for(2, 15)
            assert smtp.messages[1].rcpt_tos == ["devops-lead@dojopool.example"]
            p = page_for(d, "SlowApi is failing")
            assert p["step"] == 2, p
    finally:
        tw.stop()
        sl.stop()
        smtp.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@test
def who_is_on_call_and_the_ical_feed():
    import icalendar
    tmp = tempfile.mkdtemp(prefix="dwoncall-")
    tw, sl = rx.TwilioReceiver().start(), rx.SlackReceiver().start()
    try:
        cfg = config_with(sections(tw, sl), tmp)
        with Daemon(config=cfg) as d:
            r = d.get("/api/oncall/now", token="viewer")
            assert r.status == 200, r.text
            by_id = {s["id"]: s for s in r.json()["data"]["schedules"]}
            assert by_id["primary"]["onCall"]["id"] == "primary-engineer", by_id
            assert by_id["secondary"]["onCall"]["phone"] == SECONDARY, by_id
            assert d.get("/api/oncall/now?schedule=nope", token="viewer").status == 404
            r = d.get("/api/oncall/schedules/primary/ical", token="viewer")
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/calendar"), r
            assert r.body.startswith(b"BEGIN:VCALENDAR\r\n"), r.body[:40]
            cal = icalendar.Calendar.from_ical(r.body)
            events = [c for c in cal.walk("VEVENT")]
            assert events, r.text
            assert all(e.get("DTSTART") and e.get("UID") for e in events)
            r = d.get("/api/oncall/people/secondary-engineer/ical", token="viewer")
            assert r.status == 200 and b"VEVENT" in r.body, r.text
            assert d.get("/api/oncall/people/nobody/ical", token="viewer").status == 404
            assert d.get("/api/oncall/schedules/primary/ical").status == 401
    finally:
        tw.stop()
        sl.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@test
def kill9_during_a_burst_to_a_flaky_receiver_loses_nothing():
    tmp = tempfile.mkdtemp(prefix="dwoncall-")
    hook = rx.WebhookReceiver().start()
    hook.script([500, 200] * 400)  # every other request fails
    tw, sl = rx.TwilioReceiver().start(), rx.SlackReceiver().start()
    data = os.path.join(tmp, "data")
    n = 120
    try:
        text = sections(tw, sl).replace(
            "  receivers: [{name: critical}]\n",
            "  receivers: [{name: critical, webhook_configs: [{url: '%s/hook'}]}]\n" % hook.url)
        text = text.replace("    group_by: [alertname]\n",
                            "    group_by: [alertname]\n    group_wait: 0s\n")
        cfg = config_with(text, tmp)
        first = Daemon(config=cfg, data=data).start()
        try:
            for i in range(n):
                post_alert(first, "Burst%03d" % i, "P2")  # P2: no pages, webhooks only
            wait_until(lambda: len(hook.valid_requests()) >= 10, 30, what="the first deliveries")
        finally:
            first.kill9()
            shutil.rmtree(first.tmp, ignore_errors=True)
        with Daemon(config=cfg, data=data) as d:
            def delivered():
                return {a["labels"]["alertname"] for r in hook.requests if r.status == 200
                        for a in r.parsed["alerts"]}
            try:
                wait_until(lambda: len(delivered()) == n, 90, interval=0.2, what="every group")
            except AssertionError:
                ob = d.get("/api/notify/outbox?limit=1000", token="viewer").json()["data"]
                states = {}
                for row in ob:
                    states[row["state"]] = states.get(row["state"], 0) + 1
                raise AssertionError("delivered %d of %d; outbox %s; receiver saw %d requests"
                                     % (len(delivered()), n, states, len(hook.requests)))
            assert delivered() == {"Burst%03d" % i for i in range(n)}
            assert not hook.invalid_requests(), hook.summary()
    finally:
        hook.stop()
        tw.stop()
        sl.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@test
def pagerduty_gets_trigger_then_resolve_with_one_dedup_key():
    tmp = tempfile.mkdtemp(prefix="dwoncall-")
    key = "R" + "0123456789abcdef" * 2
    key = key[:32]
    pd = rx.PagerDutyReceiver(routing_keys=[key]).start()
    tw, sl = rx.TwilioReceiver().start(), rx.SlackReceiver().start()
    try:
        text = sections(tw, sl).replace(
            "  receivers: [{name: critical}]\n",
            "  receivers: [{name: critical, pagerduty_configs: [{url: '%s/v2/enqueue',"
            " routing_key: '%s'}]}]\n" % (pd.url, key))
        text = text.replace("    group_by: [alertname]\n",
                            "    group_by: [alertname]\n    group_wait: 0s\n"
                            "    group_interval: 1s\n")
        cfg = config_with(text, tmp)
        with Daemon(config=cfg) as d:
            post_alert(d, "PdDown", "P1")
            pd.wait_for(1, 10)
            ev = pd.events()[0]
            assert ev["event_action"] == "trigger", ev
            assert ev["payload"]["severity"] == "error", ev  # P1
            assert "PdDown" in ev["payload"]["summary"], ev
            post_alert(d, "PdDown", "P1", status="resolved")
            pd.wait_for(2, 15)
            ev2 = pd.events()[1]
            assert ev2["event_action"] == "resolve" and ev2["dedup_key"] == ev["dedup_key"], ev2
            assert not pd.invalid_requests(), pd.summary()
    finally:
        pd.stop()
        tw.stop()
        sl.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run()
