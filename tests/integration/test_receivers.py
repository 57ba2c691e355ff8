"""Self-test of receivers.py, the local stand-ins for Slack, Twilio, PagerDuty,
an Alertmanager webhook and SMTP: each accepts a correctly formed request and
answers a malformed one with the documented status and body; failure scripting,
the fail ratio, delays and rate limits behave; the Twilio signature helper
matches a second, independent computation and Twilio's published example; SMTP
works with STARTTLS + AUTH. The clients here are urllib and smtplib."""
import base64
import email.utils
import hashlib
import hmac
import http.client
import http.server
import json
import random
import re
import smtplib
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from email.message import EmailMessage

from dwtest import run, test
from receivers import (SLACK_APP_TOKEN, PagerDutyReceiver, SlackAppReceiver, SlackReceiver, SmtpReceiver,
                       TwilioReceiver, WebhookReceiver, gather_params, http_request, inbound_sms_params,
                       post_inbound, twilio_signature)

JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def post_json(url, obj, headers=JSON):
    return http_request(url, json.dumps(obj).encode(), headers, "POST")


def head_only(port, path, length):
    """Sends a request head announcing `length` body bytes but no body; returns the status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.putrequest("POST", path)
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(length))
    conn.endheaders()
    r = conn.getresponse()
    r.read()
    conn.close()
    return r.status


# ---------------------------------------------------------------- Slack

GOOD_BLOCKS = [
    {"type": "header", "text": {"type": "plain_text", "text": "P0 ApiDown", "emoji": True}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "*api* is down"},
     "fields": [{"type": "mrkdwn", "text": "*service*\napi"}, {"type": "plain_text", "text": "P0"}]},
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "dojowatch"}]},
    {"type": "divider"},
    {"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "Acknowledge"},
         "url": "https://dojowatch.example/ack/1", "style": "primary", "action_id": "ack"}]},
]


@test
def slack_accepts_text_and_block_kit():
    with SlackReceiver() as rx:
        r = post_json(rx.url + "/services/T0/B0/xyz", {"text": "hello"})
        assert (r.status, r.body) == (200, b"ok"), r
        r = post_json(rx.url + "/services/T0/B0/xyz", {"text": "fallback", "blocks": GOOD_BLOCKS},
                      {"Content-Type": "application/json; charset=utf-8"})
        assert (r.status, r.body) == (200, b"ok"), (r, rx.summary())
        got = rx.wait_for(2, timeout=2)
        assert got[1].parsed["blocks"][0]["type"] == "header"
        assert got[0].route == "/services/T0/B0/xyz" and got[0].method == "POST"
        assert got[0].header("Content-Type") == "application/json"
        assert got[0].body == b'{"text": "hello"}' and got[0].status == 200
        assert got[0].time <= got[1].time


@test
def slack_rejects_malformed_payloads_with_slacks_400s():
    def section(text):
        return {"type": "section", "text": {"type": "mrkdwn", "text": text}}

    button = {"type": "button", "text": {"type": "plain_text", "text": "x" * 76}, "url": "https://e.x/"}
    cases = [  # (body bytes or object, headers, want status, want body, problem substring)
        ({"text": "hi"}, {"Content-Type": "text/plain"}, 400, b"invalid_payload", "Content-Type"),
        (b"{not json", JSON, 400, b"invalid_payload", "not JSON"),
        ([1, 2], JSON, 400, b"invalid_payload", "not a JSON object"),
        ({}, JSON, 400, b"no_text", "neither"),
        ({"text": ""}, JSON, 400, b"no_text", "neither"),
        ({"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]}, JSON,
         400, b"invalid_blocks", "151 chars (max 150)"),
        ({"blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}]}, JSON,
         400, b"invalid_blocks", "want one of plain_text"),
        ({"blocks": [section("s" * 3001)]}, JSON, 400, b"invalid_blocks", "3001 chars (max 3000)"),
        ({"blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}]}, JSON,
         400, b"invalid_blocks", "11 fields (max 10)"),
        ({"blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}]}, JSON,
         400, b"invalid_blocks", "2001 chars (max 2000)"),
        ({"blocks": [{"type": "actions", "elements": [button]}]}, JSON, 400, b"invalid_blocks",
         "76 chars (max 75)"),
        ({"blocks": [{"type": "actions", "elements": [dict(button, text={"type": "plain_text", "text": "ok"},
                                                           url="https://e.x/" + "u" * 3000)]}]}, JSON,
         400, b"invalid_blocks", "url must be"),
        ({"blocks": [{"type": "actions", "elements": [{"type": "static_select"}]}]}, JSON,
         400, b"invalid_blocks", "not a button"),
        ({"blocks": [{"type": "video"}]}, JSON, 400, b"invalid_blocks", "unknown block type"),
        ({"blocks": [section("s")] * 51}, JSON, 400, b"invalid_blocks", "51 blocks (max 50)"),
        ({"text": "t", "attachments": {"color": "red"}}, JSON, 400, b"invalid_attachments", "attachments"),
    ]
    with SlackReceiver() as rx:
        for i, (body, hdrs, status, rbody, problem) in enumerate(cases):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            r = http_request(rx.url + "/hook", data, hdrs, "POST")
            assert (r.status, r.body) == (status, rbody), (i, r)
            rec = rx.requests[-1]
            assert not rec.valid and rec.status == status, (i, rec)
            assert any(problem in p for p in rec.problems), (i, problem, rec.problems)
        assert head_only(rx.port, "/hook", (1 << 20) + 1) == 413
        assert rx.requests[-1].problems == ["body larger than 1048576 bytes"]
        assert http_request(rx.url + "/hook").status == 405
        assert rx.valid_requests() == []
        assert len(rx.invalid_requests()) == len(cases) + 2


@test
def slack_failure_script_then_success():
    with SlackReceiver() as rx:
        rx.script([(429,), (404, "channel_not_found"), 410, (403,), (404, "no_service"),
                   (500, None, {"X-Test": "1"}, 0.3), (503, b"", None)])
        want = [(429, b"rate_limited"), (404, b"channel_not_found"), (410, b"channel_is_archived"),
                (403, b"action_prohibited"), (404, b"no_service"), (500, b"internal_error"), (503, b"")]
        for status, body in want:
            t0 = time.monotonic()
            r = post_json(rx.url + "/h", {"text": "x"})
            assert (r.status, r.body) == (status, body), (status, r)
            if status == 429:
                assert r.headers["Retry-After"] == "1", r.headers
            if status == 500:
                assert time.monotonic() - t0 >= 0.3 and r.headers["X-Test"] == "1"
        assert rx.pending_script() == 0
        # Malformed requests do not consume the script.
        rx.script([500])
        assert post_json(rx.url + "/h", {}).body == b"no_text"
        assert post_json(rx.url + "/h", {"text": "x"}).status == 500
        assert post_json(rx.url + "/h", {"text": "x"}).body == b"ok"
        # Status 0 drops the connection without an answer.
        rx.script([0])
        try:
            post_json(rx.url + "/h", {"text": "x"})
            raise AssertionError("expected a dropped connection")
        except (http.client.HTTPException, urllib.error.URLError, ConnectionError):
            pass
        assert rx.requests[-1].status == 0
        assert len(rx.wait_for(10, timeout=1)) == 10  # every well-formed one counts
        assert len(rx.wait_for(1, timeout=1, ok_only=True)) == 1
        assert rx.wait_for(1, timeout=1, ok_only=True)[0].status == 200


@test
def fail_ratio_is_deterministic_with_a_seed():
    def pattern(seed, n=40):
        with SlackReceiver() as rx:
            rx.fail_ratio(0.5, seed=seed)
            return [post_json(rx.url + "/h", {"text": "x"}).status for _ in range(n)]

    a, b = pattern(7), pattern(7)
    assert a == b, (a, b)
    rng = random.Random(7)
    assert a == [500 if rng.random() < 0.5 else 200 for _ in range(40)], a
    assert 5 < a.count(500) < 35
    with PagerDutyReceiver() as rx:
        rx.fail_ratio(1.0, seed=1)
        r = post_json(rx.url + "/v2/enqueue", pd_trigger())
        assert r.status == 500 and r.json()["status"] == "error", r
        rx.fail_ratio(0)
        assert post_json(rx.url + "/v2/enqueue", pd_trigger()).status == 202


@test
def delay_and_rate_limit():
    with SlackReceiver() as rx:
        rx.delay(0.3)
        t0 = time.monotonic()
        assert post_json(rx.url + "/h", {"text": "x"}).status == 200
        assert time.monotonic() - t0 >= 0.3
        rx.delay(0)
        rx.rate_limit(2, per_s=30, retry_after=7)
        got = [post_json(rx.url + "/h", {"text": "x"}) for _ in range(3)]
        assert [r.status for r in got] == [200, 200, 429], got
        assert got[2].body == b"rate_limited" and got[2].headers["Retry-After"] == "7"
        rx.rate_limit(None)
        assert post_json(rx.url + "/h", {"text": "x"}).status == 200
        # A stop() does not wait for a long delay.
        rx.delay(30)
        outcome = []

        def slow():
            try:
                outcome.append(http_request(rx.url + "/h", b'{"text":"x"}', JSON, timeout=5))
            except (OSError, http.client.HTTPException) as e:
                outcome.append(e)

        th = threading.Thread(target=slow)
        th.start()
        rx.wait_for(6, timeout=2)
        t0 = time.monotonic()
    assert time.monotonic() - t0 < 3
    th.join(6)
    assert outcome and isinstance(outcome[0], (OSError, http.client.HTTPException)), outcome
    assert rx.requests[-1].status == 0  # stopped during the delay: dropped


@test
def stop_closes_kept_alive_connections():
    rx = SlackReceiver().start()
    conn = http.client.HTTPConnection("127.0.0.1", rx.port, timeout=5)
    try:
        for _ in range(2):  # two requests on one connection
            conn.request("POST", "/h", body=b'{"text": "x"}', headers=JSON)
            r = conn.getresponse()
            assert (r.status, r.read()) == (200, b"ok")
        rx.stop()
        try:
            conn.request("POST", "/h", body=b'{"text": "x"}', headers=JSON)
            r = conn.getresponse()
            raise AssertionError("a stopped receiver answered %s" % r.status)
        except (OSError, http.client.HTTPException):
            pass
        assert len(rx.requests) == 2
    finally:
        conn.close()
        rx.stop()


@test
def wait_for_times_out_with_a_readable_summary():
    with SlackReceiver() as rx:
        post_json(rx.url + "/h", {"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 200}}]})
        t0 = time.monotonic()
        try:
            rx.wait_for(1, timeout=0.3)
            raise AssertionError("wait_for did not time out")
        except AssertionError as e:
            msg = str(e)
        assert time.monotonic() - t0 < 2
        assert "timed out after 0.3s" in msg and "1 request(s), 0 valid" in msg, msg
        assert "-> 400 INVALID: blocks[0](header): text is 200 chars (max 150)" in msg, msg


# ---------------------------------------------------------------- Twilio

SID = "AC" + "a1" * 16
TOKEN = "tok" + "0" * 29


def twilio_post(rx, kind, params, sid=SID, token=TOKEN, headers=None, account=None):
    hdrs = dict(FORM)
    if token is not None:
        hdrs["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % (sid, token)).encode()).decode()
    hdrs.update(headers or {})
    url = "%s/2010-04-01/Accounts/%s/%s.json" % (rx.url, account or SID, kind)
    data = params if isinstance(params, bytes) else urllib.parse.urlencode(params).encode()
    return http_request(url, data, hdrs, "POST")


@test
def twilio_accepts_messages_and_calls():
    with TwilioReceiver(SID, TOKEN) as rx:
        r = twilio_post(rx, "Messages", {"To": "+15005550006", "From": "+15005550001", "Body": "P0 api down"})
        assert r.status == 201, r
        m = r.json()
        assert re.match(r"^SM[0-9a-f]{32}$", m["sid"]) and len(m["sid"]) == 34, m
        assert (m["status"], m["to"], m["from"], m["body"], m["account_sid"]) == \
            ("queued", "+15005550006", "+15005550001", "P0 api down", SID), m
        assert email.utils.parsedate_to_datetime(m["date_created"]).tzinfo is not None, m
        assert re.match(r"^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000$", m["date_created"]), m
        assert m["uri"] == "/2010-04-01/Accounts/%s/Messages/%s.json" % (SID, m["sid"]), m
        assert r.headers["Content-Type"] == "application/json"
        twiml = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>api is down</Say>' \
                '<Gather numDigits="1" action="https://dw.example/twilio/gather"/></Response>'
        r = twilio_post(rx, "Calls", {"To": "+15005550006", "From": "+15005550001", "Twiml": twiml})
        assert r.status == 201, r
        c = r.json()
        assert re.match(r"^CA[0-9a-f]{32}$", c["sid"]) and c["status"] == "queued", c
        assert c["account_sid"] == SID and c["to"] == "+15005550006" and c["from"] == "+15005550001"
        assert c["uri"].endswith("/Calls/%s.json" % c["sid"])
        r = twilio_post(rx, "Calls", {"To": "+15005550006", "From": "+15005550001",
                                      "Url": "https://dw.example/twilio/voice"})
        assert r.status == 201, r
        rx.wait_for(3, timeout=2)
        assert [p["Body"] for p in rx.messages()] == ["P0 api down"]
        assert len(rx.calls()) == 2
        assert rx.requests[0].info["sid"] == m["sid"]


@test
def twilio_rejects_bad_auth_params_and_twiml():
    with TwilioReceiver(SID, TOKEN, invalid_numbers={"+15005550001"}) as rx:
        ok = {"To": "+15005550006", "From": "+15005550002", "Body": "b"}
        r = twilio_post(rx, "Messages", ok, token=None)
        assert r.status == 401 and r.json() == {"code": 20003, "message": "Authenticate",
                                                "more_info": "https://www.twilio.com/docs/errors/20003",
                                                "status": 401}, r
        assert r.headers["WWW-Authenticate"].startswith("Basic"), r.headers
        assert twilio_post(rx, "Messages", ok, token="wrong").json()["code"] == 20003
        assert twilio_post(rx, "Messages", ok, sid="AC" + "b" * 32).status == 401
        r = twilio_post(rx, "Messages", dict(ok, To="+15005550001"))
        assert r.status == 400 and r.json() == {
            "code": 21211, "message": "The 'To' number +15005550001 is not a valid phone number.",
            "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}, r
        cases = [
            ("Messages", dict(ok, To="5550006"), 400, 21211),
            ("Messages", dict(ok, From="15005550002"), 400, 21212),
            ("Messages", {"From": ok["From"], "Body": "b"}, 400, 21604),
            ("Messages", {"To": ok["To"], "Body": "b"}, 400, 21603),
            ("Messages", dict(ok, Body=""), 400, 21602),
            ("Messages", dict(ok, Body="x" * 1601), 400, 21617),
            ("Calls", {"To": ok["To"], "From": ok["From"]}, 400, 21205),
            ("Calls", {"From": ok["From"], "Url": "https://e.x/"}, 400, 21201),
            ("Calls", {"To": ok["To"], "Url": "https://e.x/"}, 400, 21213),
            ("Calls", dict(ok, Url="not a url"), 400, 21205),
            ("Calls", dict(ok, Twiml="<Response><Say>unclosed</Response>"), 400, 12100),
            ("Calls", dict(ok, Twiml="<Reply><Say>x</Say></Reply>"), 400, 12100),
        ]
        for kind, params, status, code in cases:
            r = twilio_post(rx, kind, params)
            assert r.status == status and r.json()["code"] == code, (kind, params, r)
            assert r.json()["more_info"] == "https://www.twilio.com/docs/errors/%d" % code
            assert not rx.requests[-1].valid
        assert twilio_post(rx, "Messages", ok, account="AC" + "c" * 32).status == 404
        r = twilio_post(rx, "Messages", json.dumps(ok).encode(), headers=JSON)
        assert r.status == 400 and r.json()["code"] == 21604, r
        assert any("x-www-form-urlencoded" in p for p in rx.requests[-1].problems)
        assert twilio_post(rx, "Messages", dict(ok, Body="x" * 1600)).status == 201
        assert len(rx.valid_requests()) == 1
        # Failure scripting: Twilio's JSON error bodies.
        rx.script([429, (503, None, None, 0)])
        r = twilio_post(rx, "Messages", ok)
        assert r.status == 429 and r.json()["code"] == 20429, r
        assert twilio_post(rx, "Messages", ok).status == 503
        assert twilio_post(rx, "Messages", ok).status == 201


# The example on Twilio's webhook-security page (auth token 12345).
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
              "From": "+12349013030", "To": "+18005551212"}
DOC_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def manual_signature(token, url, params):
    """A second code path: string building by hand, hashlib/hmac directly."""
    data = url
    for name in sorted(params.keys()):
        data += name + params[name]
    digest = hmac.HMAC(token.encode(), data.encode(), digestmod=hashlib.sha1).digest()
    return base64.standard_b64encode(digest).decode()


@test
def twilio_signature_matches_an_independent_computation():
    assert manual_signature("12345", DOC_URL, DOC_PARAMS) == DOC_SIGNATURE
    assert twilio_signature("12345", DOC_URL, DOC_PARAMS) == DOC_SIGNATURE
    assert twilio_signature("12345", DOC_URL, list(reversed(list(DOC_PARAMS.items())))) == DOC_SIGNATURE
    p = inbound_sms_params("+15005550006", "+15005550001", "ACK 42 ünïcode")
    assert twilio_signature(TOKEN, "http://127.0.0.1:1/twilio/sms", p) == \
        manual_signature(TOKEN, "http://127.0.0.1:1/twilio/sms", p)
    assert twilio_signature("12346", DOC_URL, DOC_PARAMS) != DOC_SIGNATURE


@test
def post_inbound_signs_what_a_verifier_accepts():
    seen = []

    class Verifier(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            params = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
            url = "http://127.0.0.1:%d%s" % (self.server.server_address[1], self.path)
            good = self.headers.get("X-Twilio-Signature") == manual_signature(TOKEN, url, params)
            seen.append((params, self.headers.get("Content-Type"), good))
            status = 200 if good else 403
            out = b"<Response/>" if good else b""
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Verifier)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % srv.server_address[1]
    try:
        sms = inbound_sms_params("+15005550006", "+15005550001", "ACK 42", account_sid=SID)
        assert post_inbound(base + "/twilio/sms", sms, TOKEN).status == 200
        assert seen[-1][0]["Body"] == "ACK 42" and seen[-1][0]["AccountSid"] == SID
        assert seen[-1][1].startswith("application/x-www-form-urlencoded")
        gather = gather_params("1", "CA" + "d" * 32, "+15005550006", "+15005550001")
        assert post_inbound(base + "/twilio/gather?alert=7", gather, TOKEN).status == 200
        assert seen[-1][0]["Digits"] == "1" and seen[-1][0]["CallStatus"] == "in-progress"
        for tamper in (True, "body", "signature", "missing"):
            assert post_inbound(base + "/twilio/sms", sms, TOKEN, tamper=tamper).status == 403, tamper
        assert post_inbound(base + "/twilio/sms", sms, "other-token").status == 403
        assert [s[2] for s in seen] == [True, True, False, False, False, False, False]
    finally:
        srv.shutdown()
        srv.server_close()


# ---------------------------------------------------------------- PagerDuty

KEY = "R0" + "0123456789abcdef" + "0123456789abcd"  # 32 chars


def pd_trigger(**over):
    ev = {"routing_key": KEY, "event_action": "trigger", "dedup_key": "dw-api-down",
          "payload": {"summary": "api down", "source": "dojowatch", "severity": "critical",
                      "timestamp": "2015-07-17T08:42:58.315+0000", "component": "api",
                      "custom_details": {"value": "1"}},
          "links": [{"href": "https://dw.example/alerts/1", "text": "alert"}], "client": "dojowatch"}
    ev.update(over)
    return ev


@test
def pagerduty_accepts_trigger_ack_resolve():
    assert len(KEY) == 32
    with PagerDutyReceiver(routing_keys={KEY}) as rx:
        url = rx.url + "/v2/enqueue"
        r = post_json(url, pd_trigger())
        assert r.status == 202 and r.json() == {"status": "success", "message": "Event processed",
                                                "dedup_key": "dw-api-down"}, r
        assert rx.alerts == {"dw-api-down": "triggered"}
        r = post_json(url, pd_trigger(dedup_key=None))
        ev = pd_trigger()
        del ev["dedup_key"]
        r = post_json(url, ev)
        assert r.status == 202 and re.match(r"^[0-9a-f]{32}$", r.json()["dedup_key"]), r
        for action, state in (("acknowledge", "acknowledged"), ("resolve", "resolved")):
            r = post_json(url, {"routing_key": KEY, "event_action": action, "dedup_key": "dw-api-down"})
            assert r.status == 202, r
            assert rx.alerts["dw-api-down"] == state
        for ts in ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00.5+02:00", "2024-05-01T10:00:00"):
            assert post_json(url, pd_trigger(payload=dict(pd_trigger()["payload"], timestamp=ts))).status == 202
        assert len(rx.wait_for(7, timeout=2)) == 7
        assert rx.requests[0].info["dedup_key"] == "dw-api-down"
        assert rx.events()[-1]["payload"]["timestamp"] == "2024-05-01T10:00:00"


@test
def pagerduty_rejects_invalid_events_with_400_invalid_event():
    p = pd_trigger()["payload"]
    cases = [
        (pd_trigger(routing_key=KEY[:31]), "Length of 'routing_key' is incorrect"),
        (pd_trigger(routing_key="x" * 32), "Invalid routing key"),
        (pd_trigger(event_action="create"), "'event_action'"),
        (pd_trigger(payload=dict(p, summary="")), "'payload.summary' is missing"),
        (pd_trigger(payload=dict(p, summary="s" * 1025)), "longer than 1024"),
        (pd_trigger(payload={k: v for k, v in p.items() if k != "source"}), "'payload.source'"),
        (pd_trigger(payload=dict(p, severity="high")), "'payload.severity'"),
        (pd_trigger(payload=dict(p, timestamp="yesterday")), "'payload.timestamp'"),
        (pd_trigger(payload=dict(p, timestamp="2024-13-01T10:00:00Z")), "'payload.timestamp'"),
        (pd_trigger(dedup_key="d" * 256), "'dedup_key' must be"),
        ({"routing_key": KEY, "event_action": "resolve"}, "'dedup_key' is missing"),
        (pd_trigger(payload=None), "'payload'"),
        (pd_trigger(links=[{"text": "no href"}]), "'links'"),
    ]
    with PagerDutyReceiver(routing_keys={KEY}) as rx:
        url = rx.url + "/v2/enqueue"
        for ev, problem in cases:
            r = post_json(url, ev)
            assert r.status == 400, (ev, r)
            body = r.json()
            assert body["status"] == "invalid event" and body["message"] == "Event object is invalid", body
            assert any(problem in e for e in body["errors"]), (problem, body)
            assert not rx.requests[-1].valid and rx.requests[-1].problems == body["errors"]
        r = http_request(url, b"{", JSON, "POST")
        assert r.status == 400 and "not JSON" in r.json()["errors"][0], r
        r = http_request(url, json.dumps(pd_trigger()).encode(), {"Content-Type": "text/plain"}, "POST")
        assert r.status == 400, r
        assert post_json(rx.url + "/v1/enqueue", pd_trigger()).status == 404
        assert rx.alerts == {} and rx.valid_requests() == []
        rx.script([(429,), (500,)])
        r = post_json(url, pd_trigger())
        assert r.status == 429 and r.json()["status"] == "throttle event", r
        assert post_json(url, pd_trigger()).status == 500
        assert post_json(url, pd_trigger()).status == 202
    with PagerDutyReceiver() as rx:  # any 32-char key by default
        assert post_json(rx.url + "/v2/enqueue", pd_trigger(routing_key="y" * 32)).status == 202


# ---------------------------------------------------------------- Alertmanager webhook

def am_payload(**over):
    alert = {"status": "firing", "labels": {"alertname": "ApiDown", "priority": "P0"},
             "annotations": {"summary": "api down"}, "startsAt": "2024-05-01T10:00:00.123Z",
             "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://dw/graph", "fingerprint": "0123456789abcdef"}
    body = {"version": "4", "groupKey": '{}:{alertname="ApiDown"}', "truncatedAlerts": 0, "status": "firing",
            "receiver": "pager", "groupLabels": {"alertname": "ApiDown"},
            "commonLabels": {"alertname": "ApiDown", "priority": "P0"}, "commonAnnotations": {},
            "externalURL": "http://dw:9090", "alerts": [alert]}
    body.update(over)
    return body


@test
def webhook_validates_alertmanager_v4():
    with WebhookReceiver(path="/hook", bearer="hook-token") as rx:
        auth = dict(JSON, Authorization="Bearer hook-token")
        r = post_json(rx.url + "/hook", am_payload(), auth)
        assert r.status == 200, (r, rx.summary())
        assert rx.alerts()[0]["labels"]["alertname"] == "ApiDown"
        assert post_json(rx.url + "/hook", am_payload()).status == 401
        assert post_json(rx.url + "/other", am_payload(), auth).status == 404
        bad_alert = dict(am_payload()["alerts"][0], startsAt="yesterday")
        del bad_alert["fingerprint"]
        cases = [
            (am_payload(version=4), "version is int"),
            (am_payload(status="pending"), "status 'pending'"),
            ({k: v for k, v in am_payload().items() if k != "groupKey"}, "missing groupKey"),
            (am_payload(commonLabels={"a": 1}), "commonLabels is not a string->string map"),
            (am_payload(truncatedAlerts="0"), "truncatedAlerts is str"),
            (am_payload(alerts=[]), "alerts is empty"),
            (am_payload(alerts=[bad_alert]), "alerts[0]: missing fingerprint"),
            (am_payload(alerts=[bad_alert]), "startsAt 'yesterday' is not RFC 3339"),
        ]
        for body, problem in cases:
            r = post_json(rx.url + "/hook", body, auth)
            assert r.status == 400 and problem in r.text, (problem, r)
            assert any(problem in p for p in rx.requests[-1].problems)
        rx.script([503])
        assert post_json(rx.url + "/hook", am_payload(), auth).status == 503
        assert post_json(rx.url + "/hook", am_payload(), auth).status == 200
        assert len(rx.wait_for(3, timeout=1)) == 3


# ---------------------------------------------------------------- SMTP

def good_mail(to="oncall@dojo.test", subject="[P0] ApiDown firing"):
    m = EmailMessage()
    m["Date"] = email.utils.formatdate()
    m["From"] = "dojowatch <dojowatch@dojo.test>"
    m["To"] = to
    m["Subject"] = subject
    m["Message-ID"] = email.utils.make_msgid(domain="dojo.test")
    m.set_content("api is down\n")
    m.add_alternative("<p>api is <b>down</b></p>\n", subtype="html")
    return m


@test
def smtp_plain_accepts_checks_and_injects_failures():
    with SmtpReceiver(reject_rcpt=["nobody@dojo.test"]) as rx:
        with smtplib.SMTP(rx.host, rx.port, timeout=5) as s:
            s.ehlo("client.test")
            assert s.send_message(good_mail()) == {}
        got = rx.wait_for(1, timeout=5)[0]
        assert got.mail_from == "dojowatch@dojo.test" and got.rcpt_tos == ["oncall@dojo.test"]
        assert got.message["Subject"] == "[P0] ApiDown firing" and got.valid and not got.tls
        assert got.part("text/plain") == "api is down\n" and "<b>down</b>" in got.part("text/html")
        assert got.status.startswith("250")

        bad = EmailMessage()
        bad["From"] = "not an address"
        bad["To"] = "oncall@dojo.test"
        bad["Subject"] = "x" * 1200  # folded by nobody: a 1209-octet header line
        bad.set_content("text only\n")
        raw = bad.as_bytes(policy=bad.policy.clone(max_line_length=0, linesep="\r\n"))
        with smtplib.SMTP(rx.host, rx.port, timeout=5) as s:
            s.sendmail("dojowatch@dojo.test", ["oncall@dojo.test"], raw)
        m = rx.messages[-1]
        assert not m.valid
        for want in ("missing Date", "missing Message-ID", "From 'not an address'",
                     "no multipart/alternative", "header line 3 is 1209 octets"):
            assert any(want in p for p in m.problems), (want, m.problems)

        with smtplib.SMTP(rx.host, rx.port, timeout=5) as s:
            try:
                s.send_message(good_mail(to="nobody@dojo.test"))
                raise AssertionError("RCPT was not refused")
            except smtplib.SMTPRecipientsRefused as e:
                assert e.recipients["nobody@dojo.test"] == (550, b"5.1.1 no such user"), e.recipients
        assert rx.rcpt_rejections[0][0] == "nobody@dojo.test"

        rx.fail_next_data(1)
        with smtplib.SMTP(rx.host, rx.port, timeout=5) as s:
            try:
                s.send_message(good_mail(subject="retry me"))
                raise AssertionError("DATA was not refused")
            except smtplib.SMTPDataError as e:
                assert (e.smtp_code, e.smtp_error) == (451, b"4.3.0 try again"), e
            s.send_message(good_mail(subject="retry me"))
        got = rx.wait_for(2, timeout=5)
        assert got[1].message["Subject"] == "retry me"
        assert [m.status[:3] for m in rx.messages] == ["250", "250", "451", "250"]


@test
def smtp_starttls_and_auth():
    with SmtpReceiver(starttls=True, require_starttls=True, auth=("dw", "s3cret")) as rx:
        ctx = rx.client_context()
        with smtplib.SMTP(rx.host, rx.port, timeout=5) as s:
            s.ehlo("client.test")
            assert s.has_extn("starttls") and not s.has_extn("auth")
            code, _ = s.mail("dojowatch@dojo.test")
            assert code == 530, code  # must STARTTLS first
            s.starttls(context=ctx)
            s.ehlo("client.test")
            assert "LOGIN" in s.esmtp_features["auth"] and "PLAIN" in s.esmtp_features["auth"]
            code, msg = s.mail("dojowatch@dojo.test")
            assert code == 530 and b"Authentication required" in msg, (code, msg)
            try:
                s.login("dw", "wrong")
                raise AssertionError("bad password accepted")
            except smtplib.SMTPAuthenticationError as e:
                assert e.smtp_code == 535
            s.user, s.password = "dw", "s3cret"
            code, _ = s.auth("LOGIN", s.auth_login)
            assert code == 235
            s.send_message(good_mail(subject="over tls"))
        with smtplib.SMTP(rx.host, rx.port, timeout=5) as s:
            s.starttls(context=ctx)
            s.ehlo("client.test")
            s.user, s.password = "dw", "s3cret"
            assert s.auth("PLAIN", s.auth_plain)[0] == 235
            s.send_message(good_mail(subject="plain auth"))
        got = rx.wait_for(2, timeout=5)
        assert [m.message["Subject"] for m in got] == ["over tls", "plain auth"]
        assert all(m.tls and m.auth_user == "dw" for m in got), got
        assert [(a[0], a[2]) for a in rx.auth_attempts] == [
            ("PLAIN", False), ("LOGIN", False), ("LOGIN", True), ("PLAIN", True)]
        # The certificate is really checked: a default context does not trust it.
        with smtplib.SMTP(rx.host, rx.port, timeout=5) as s:
            try:
                s.starttls(context=ssl.create_default_context())
                raise AssertionError("self-signed certificate trusted by default")
            except ssl.SSLCertVerificationError:
                pass
        deadline = time.monotonic() + 2
        while not rx.session_errors and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "unknown ca" in rx.session_errors[0].lower(), rx.session_errors


@test
def smtp_implicit_tls_and_auth_without_tls():
    with SmtpReceiver(implicit_tls=True, auth=("dw", "pw")) as rx:
        with smtplib.SMTP_SSL(rx.host, rx.port, timeout=5, context=rx.client_context()) as s:
            s.login("dw", "pw")
            s.send_message(good_mail(subject="smtps"))
        assert rx.wait_for(1, timeout=5)[0].tls
    with SmtpReceiver(auth=("dw", "pw")) as rx:  # loopback, no TLS: AUTH allowed in clear
        with smtplib.SMTP(rx.host, rx.port, timeout=5) as s:
            s.login("dw", "pw")
            s.send_message(good_mail(subject="clear"))
        m = rx.wait_for(1, timeout=5)[0]
        assert not m.tls and m.auth_user == "dw"
    port = rx.port
    with socket.socket() as so:  # stopped means closed
        so.settimeout(1)
        assert so.connect_ex(("127.0.0.1", port)) != 0


# ---------------------------------------------------------------- Slack Web API

APP = {"Content-Type": "application/json; charset=utf-8", "Authorization": "Bearer " + SLACK_APP_TOKEN}


def app_post(rx, body, headers=APP, path="/api/chat.postMessage"):
    return http_request(rx.url + path, json.dumps(body).encode(), headers, "POST")


@test
def slack_app_posts_and_threads_with_issued_ts():
    with SlackAppReceiver() as rx:
        r = app_post(rx, {"channel": "#incidents", "text": "INC-1 opened", "blocks": GOOD_BLOCKS})
        first = r.json()
        assert r.status == 200 and first["ok"] is True, r
        assert re.match(r"^C[0-9A-F]{10}$", first["channel"]) and re.match(r"^\d+\.\d{6}$", first["ts"]), first
        assert first["message"]["ts"] == first["ts"]
        # a reply by the channel's name or by its id, with the root's ts
        r2 = app_post(rx, {"channel": "#incidents", "text": "update", "thread_ts": first["ts"]}).json()
        r3 = app_post(rx, {"channel": first["channel"], "text": "more", "thread_ts": first["ts"]}).json()
        assert r2["ok"] and r3["ok"] and r2["channel"] == first["channel"] == r3["channel"], (r2, r3)
        assert float(first["ts"]) < float(r2["ts"]) < float(r3["ts"]), (first, r2, r3)
        assert r3["message"]["thread_ts"] == first["ts"]
        other = app_post(rx, {"channel": "#other", "blocks": GOOD_BLOCKS}).json()
        assert other["ok"] and other["channel"] != first["channel"]
        msgs = rx.messages()
        assert [m.info["thread_ts"] for m in msgs] == [None, first["ts"], first["ts"], None], msgs
        assert [m.info["ts"] for m in msgs] == [first["ts"], r2["ts"], r3["ts"], other["ts"]]
        assert len(rx.wait_for(4, timeout=1, ok_only=True)) == 4


@test
def slack_app_rejects_like_slack_with_ok_false():
    with SlackAppReceiver(channels=["#incidents"]) as rx:
        root = app_post(rx, {"channel": "#incidents", "text": "root"}).json()
        reply = app_post(rx, {"channel": "#incidents", "text": "r", "thread_ts": root["ts"]}).json()
        bad_blocks = [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]
        cases = [  # (body, headers, want error, problem substring)
            ({"channel": "#incidents", "text": "x"}, {"Content-Type": "application/json"}, "not_authed",
             "no Authorization"),
            ({"channel": "#incidents", "text": "x"}, dict(APP, Authorization="Bearer xoxb-wrong"),
             "invalid_auth", "not Bearer"),
            ({"text": "x"}, APP, "channel_not_found", "channel missing"),
            ({"channel": "#nowhere", "text": "x"}, APP, "channel_not_found", "unknown channel"),
            ({"channel": "#incidents"}, APP, "no_text", "neither"),
            ({"channel": "#incidents", "text": ""}, APP, "no_text", "neither"),
            ({"channel": "#incidents", "blocks": bad_blocks}, APP, "invalid_blocks", "151 chars"),
            ({"channel": "#incidents", "text": "x" * 40001}, APP, "msg_too_long", "40001 chars"),
            ({"channel": "#incidents", "text": "x", "thread_ts": "1.000001"}, APP, "thread_not_found",
             "was not issued"),
            ({"channel": "#incidents", "text": "x", "thread_ts": reply["ts"]}, APP, "thread_not_found",
             "was not issued"),  # a reply's ts is not a thread
            ({"channel": "#incidents", "text": "x"}, dict(APP, **{"Content-Type": "text/plain"}),
             "invalid_form_data", "Content-Type"),
        ]
        for i, (body, hdrs, error, problem) in enumerate(cases):
            r = app_post(rx, body, hdrs)
            assert r.status == 200 and r.json() == {"ok": False, "error": error}, (i, r)
            rec = rx.requests[-1]
            assert not rec.valid and any(problem in p for p in rec.problems), (i, rec.problems)
        r = app_post(rx, {"channel": "#incidents", "text": "x"}, path="/api/chat.update")
        assert r.status == 404 and r.json()["error"] == "unknown_method"
        assert len(rx.messages()) == 2


@test
def slack_app_injected_errors_and_rate_limit():
    with SlackAppReceiver() as rx:
        rx.error("channel_not_found")
        rx.error("is_archived")
        rx.script([(429,), (500,)])
        body = {"channel": "#incidents", "text": "x"}
        assert app_post(rx, body).json() == {"ok": False, "error": "channel_not_found"}
        assert app_post(rx, body).json() == {"ok": False, "error": "is_archived"}
        r = app_post(rx, body)
        assert r.status == 429 and r.headers["Retry-After"] == "1", r
        assert r.json() == {"ok": False, "error": "ratelimited"}
        r = app_post(rx, body)
        assert r.status == 500 and r.json()["error"] == "internal_error", r
        r = app_post(rx, body)
        assert r.status == 200 and r.json()["ok"] is True, r
        # injected answers issue no ts: only the last one can be a thread's root
        assert len(rx.messages()) == 1
        rx.rate_limit(1, per_s=30, retry_after=9)
        assert app_post(rx, body).status == 200
        r = app_post(rx, body)
        assert r.status == 429 and r.headers["Retry-After"] == "9", r
        assert r.json() == {"ok": False, "error": "ratelimited"}


if __name__ == "__main__":
    run()
