"""Integration test of an incident's whole life, driven by a real breach: a
sample is pushed, a P0 threshold rule fires, an incident opens (SEV1,
detected by the alert), the primary on call is paged by SMS (a local Twilio
stand-in), nobody acknowledges, the secondary is paged when the step's wait
runs out, the secondary acknowledges the page and the incident follows,
people move it through its states and fill it in over the API, the sample
drops, the rule resolves, the incident resolves, and the report carries the
durations and the timeline. Plus the API's refusals."""
import hashlib
import hmac
import json
import os
import shutil
import tempfile
import time
import urllib.parse

from collectcfg import config_with
from dwtest import TOKENS, Daemon, run, test, wait_until
import receivers as rx

RULES = """groups:
  - name: incident-it
    interval: 1s
    rules:
      - alert: CheckoutDown
        expr: it_checkout_gate > 0
        labels: {priority: P0, service: checkout}
        annotations: {summary: "checkout is failing"}
"""


def setup(tmp, tw):
    path = os.path.join(tmp, "incident.rules.yml")
    with open(path, "w") as f:
        f.write(RULES)
    return config_with(
        "scrape: {host: {enabled: false}}\nprobes: {checks: []}\n"
        "rules:\n  files: ['%s']\n  evaluation_interval: 1s\n"
        "alerting:\n  route: {receiver: critical, group_by: [alertname]}\n"
        "  receivers: [{name: critical}]\n"
        "oncall:\n"
        "  links: {base_url: 'https://dw.example'}\n"
        "  bundle: {window: 0s}\n"
        "  schedules:\n"
        "    - {id: primary, members: [primary-engineer]}\n"
        "    - {id: secondary, members: [secondary-engineer]}\n"
        "  escalation_policies:\n"
        "    - id: fast\n"
        "      priorities: [P0]\n"
        "      steps:\n"
        "        - {notify: [schedule:primary], channels: [sms], wait: 3s}\n"
        "        - {notify: [schedule:secondary], channels: [sms], wait: 3s}\n"
        "notify:\n"
        "  sms: {api_url: '%s', account_sid: %s, auth_token: '%s', from: '+15550000001'}\n"
        % (path, tw.url, rx.TEST_ACCOUNT_SID, rx.TEST_AUTH_TOKEN), tmp)


def push(d, text):
    r = d.post("/api/v1/push", token=TOKENS["responder"], data=text.encode())
    assert r.status in (200, 204), r.text


def api(d, method, path, body=None, token="responder"):
    data = json.dumps(body) if body is not None else (b"" if method != "GET" else None)
    r = d.request(method, path, token=token, data=data,
                  headers={"Content-Type": "application/json"} if body is not None else None)
    return r.status, (r.json() if r.body.startswith(b"{") else r.text)


@test
def a_sev1_from_breach_to_report():
    tmp = tempfile.mkdtemp(prefix="dwincident-")
    tw = rx.TwilioReceiver().start()
    try:
        cfg = setup(tmp, tw)
        with Daemon(config=cfg) as d:
            push(d, "it_checkout_gate 1\n")
            wait_until(lambda: api(d, "GET", "/api/incidents", token="viewer")[1]["data"], 10,
                       what="the incident")
            inc = api(d, "GET", "/api/incidents", token="viewer")[1]["data"][0]
            iid = inc["id"]
            assert iid.startswith("INC-") and inc["severity"] == 1, inc
            assert inc["state"] == "triggered", inc
            # the primary is paged, nobody answers, the secondary is paged 3 s later
            wait_until(lambda: any(m["To"] == "+15550100" for m in tw.messages()), 10,
                       what="the primary's SMS")
            wait_until(lambda: any(m["To"] == "+15550101" for m in tw.messages()), 10,
                       what="the secondary's SMS")
            pages = api(d, "GET", "/api/oncall/pages", token="viewer")[1]["data"]
            assert len(pages) == 1, pages
            st, _ = api(d, "POST", "/api/oncall/pages/%s/ack" % pages[0]["id"])
            assert st == 200
            wait_until(lambda: api(d, "GET", "/api/incidents/" + iid, token="viewer")[1]
                       ["data"]["state"] == "acknowledged", 5, what="the incident acknowledged")
            for state in ("investigating", "identified", "monitoring"):
                st, out = api(d, "POST", "/api/incidents/%s/state" % iid, {"state": state})
                assert st == 200 and out["data"]["state"] == state, out
            st, out = api(d, "PATCH", "/api/incidents/" + iid,
                          {"rootCause": "a bad deploy of checkout", "commander": "primary-engineer",
                           "affectedSystems": ["checkout"], "dataLoss": False})
            assert st == 200 and out["data"]["commander"] == "Primary Engineer", out
            st, _ = api(d, "POST", "/api/incidents/%s/notes" % iid, {"text": "rolled back"})
            assert st == 200
            st, out = api(d, "POST", "/api/incidents/%s/actions" % iid,
                          {"task": "canary deploys", "owner": "devops-lead", "due": "2026-12-31"})
            assert st == 200 and out["data"]["id"] >= 1, out
            # refusals change nothing
            st, out = api(d, "POST", "/api/incidents/%s/state" % iid, {"state": "closed"})
            assert st == 400 and "you can go to" in out["error"], out
            st, out = api(d, "POST", "/api/incidents/%s/notes" % iid, {"text": "x" * 20000})
            assert st == 400, out
            st, out = api(d, "PATCH", "/api/incidents/" + iid, {"commander": "nobody"})
            assert st == 400, out
            st, out = api(d, "GET", "/api/incidents/INC-0", token="viewer")
            assert st == 404, out
            st, _ = api(d, "POST", "/api/incidents/%s/notes" % iid, {"text": "x"}, token="viewer")
            assert st == 403
            # the breach ends: the rule resolves, the incident resolves
            push(d, "it_checkout_gate 0\n")
            wait_until(lambda: api(d, "GET", "/api/incidents/" + iid, token="viewer")[1]
                       ["data"]["state"] == "resolved", 15, what="the incident resolved")
            inc = api(d, "GET", "/api/incidents/" + iid, token="viewer")[1]["data"]
            assert inc["detection"]["alert"] == "CheckoutDown", inc["detection"]
            assert inc["timeToAcknowledgeSeconds"] >= 3, inc
            kinds = {e["kind"] for e in inc["timeline"]}
            assert {"alert", "page", "escalation", "acknowledgement", "state", "note", "field",
                    "role", "action"} <= kinds, kinds
            texts = " ".join(e["text"] or "" for e in inc["timeline"])
            assert "rolled back" in texts, texts
            assert "canary deploys (owner devops-lead)" in texts, texts
            ats = [e["at"] for e in inc["timeline"]]
            assert ats == sorted(ats), ats
            r = d.get("/api/incidents/%s/report" % iid, token="viewer")
            assert r.status == 200 and r.text.startswith("# Incident Report"), r.text[:200]
            assert iid in r.text and "a bad deploy of checkout" in r.text, r.text
            assert "canary deploys" in r.text and inc["duration"] in r.text, r.text
            r = d.get("/api/incidents/%s/report?format=html" % iid, token="viewer")
            assert r.status == 200 and "<h1>" in r.text, r.text[:200]
            st, out = api(d, "GET", "/api/incidents/stats", token="viewer")
            sev1 = [s for s in out["data"]["severities"] if s["severity"] == 1][0]
            assert sev1["mtta"]["count"] == 1 and sev1["mttr"]["count"] == 1, sev1
    finally:
        tw.stop()
        shutil.rmtree(tmp, ignore_errors=True)

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def slack_command(d, text, secret=SIGNING_SECRET, ts=None, user="primary-oncall"):
    """POSTs Slack's slash command form, signed the way Slack signs it."""
    body = urllib.parse.urlencode({
        "token": "ignored", "team_id": "T1", "team_domain": "dojopool", "channel_id": "C1",
        "channel_name": "incidents", "user_id": "U1", "user_name": user,
        "command": "/incident", "text": text,
        "response_url": "https://hooks.slack.com/commands/T1/1/x", "trigger_id": "1.2.3"}).encode()
    ts = str(int(time.time()) if ts is None else ts)
    sig = "v0=" + hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body,
                           hashlib.sha256).hexdigest()
    r = d.request("POST", "/api/incidents/slack", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig})
    return r.status, (r.json() if r.body.startswith(b"{") else r.text)


@test
def opened_from_slack_told_to_slack_and_deleted_by_an_admin():
    tmp = tempfile.mkdtemp(prefix="dwincident-")
    sl = rx.SlackAppReceiver().start()
    try:
        cfg = config_with(
            "scrape: {host: {enabled: false}}\nprobes: {checks: []}\n"
            "notify:\n  slack: {app_url: '%s/api/chat.postMessage', app_token: '%s'}\n"
            "incidents:\n  slack: {signing_secret: '%s'}\n"
            "  communications: {stakeholders: {every: none}}\n"
            % (sl.url, rx.SLACK_APP_TOKEN, SIGNING_SECRET), tmp)
        with Daemon(config=cfg) as d:
            # Usage, a bad signature, a replayed (old) request.
            st, out = slack_command(d, "help")
            assert st == 200 and out["response_type"] == "ephemeral", out
            assert "Usage: /incident" in out["text"], out
            st, out = slack_command(d, "sev1 x", secret="wrong")
            assert st == 403 and "does not verify" in json.dumps(out), out
            st, out = slack_command(d, "sev1 x", ts=int(time.time()) - 600)
            assert st == 403 and "5 minutes" in json.dumps(out), out
            assert api(d, "GET", "/api/incidents", token="viewer")[1]["data"] == []
            # A title too long is refused to the user alone.
            st, out = slack_command(d, "sev2 " + "x" * 300)
            assert st == 200 and out["response_type"] == "ephemeral", out
            assert "Not opened" in out["text"], out
            # Opened: in the channel, by the person whose Slack handle it is.
            st, out = slack_command(d, "SEV1 Payments fail for every card")
            assert st == 200 and out["response_type"] == "in_channel", out
            iid = out["text"].split(" incident ")[1].split(":")[0]
            inc = api(d, "GET", "/api/incidents/" + iid, token="viewer")[1]["data"]
            assert inc["severity"] == 1 and inc["title"] == "Payments fail for every card", inc
            assert inc["createdBy"] == "primary-engineer", inc
            # Its timeline reaches #incidents through the notifier.
            # (a reply names the channel by the id Slack answered for the first message)
            def posted():
                return [r for r in sl.requests
                        if r.parsed and r.info.get("channel") == sl.channel_id("#incidents")
                        and iid in json.dumps(r.parsed)]
            wait_until(posted, 15, what="the timeline in #incidents")
            first = posted()[0]
            assert "[SEV1]" in first.parsed["text"], first.parsed
            assert "Payments fail" in first.parsed["text"], first.parsed
            assert first.info["thread_ts"] is None, first.info
            # A note is a reply in the incident's thread.
            st, out = api(d, "POST", "/api/incidents/%s/notes" % iid,
                          {"text": "Card processor returns 502"})
            assert st == 200, (st, out)
            wait_until(lambda: any("Card processor" in json.dumps(r.parsed) for r in posted()),
                       15, what="the note in the thread")
            note = [r for r in posted() if "Card processor" in json.dumps(r.parsed)][0]
            assert note.info["thread_ts"] == first.info["ts"], (note.info, first.info)
            assert all(r.valid for r in sl.requests), [r.problems for r in sl.requests]
            # Responders act; only admins delete.
            st, out = api(d, "DELETE", "/api/incidents/" + iid, token="responder")
            assert st == 403, (st, out)
            st, out = api(d, "DELETE", "/api/incidents/" + iid, token="admin")
            assert st == 200 and out["data"]["deleted"] == iid, (st, out)
            st, out = api(d, "GET", "/api/incidents/" + iid, token="viewer")
            assert st == 404, (st, out)
            st, out = api(d, "DELETE", "/api/incidents/" + iid, token="admin")
            assert st == 404 and "no incident" in json.dumps(out), (st, out)
    finally:
        sl.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run()
