"""receivers - local stand-ins for the notification services an integration
test or a bench script cannot reach from this machine: Slack incoming webhooks
and its Web API's chat.postMessage (SlackAppReceiver: bot token, threads), Twilio's REST API (Messages, Calls), PagerDuty Events API v2, an Alertmanager
webhook v4 endpoint and an SMTP server (aiosmtpd).

Each receiver listens on 127.0.0.1 on a free port in a background thread,
records every request, checks it against the documented wire format of the real
service (recording `valid` and a list of `problems`) and answers the way the
real service answers: its success body, or the error it would give for that
malformed request. Failures can be injected: a script of answers consumed one
per (well-formed) request, a seeded random 500 ratio, a fixed delay and a rate
limit.

    with SlackReceiver() as slack:
        ...point dojowatch at slack.url + "/services/T0/B0/x"...
        slack.script([(429,), (500,)])        # then success
        reqs = slack.wait_for(1, timeout=10)  # the first valid request(s)

Standard library only, plus Debian's python3-aiosmtpd for SmtpReceiver and the
openssl CLI for its throw-away certificate.
"""
import base64
import email
import email.policy
import email.utils
import hashlib
import hmac
import http.client
import http.server
import json
import os
import random
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections import deque
from datetime import datetime, timezone

MAX_BODY = 1 << 20  # bodies above 1 MiB are refused with 413

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
ISO8601 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d(:?\d\d)?)?$")


# --------------------------------------------------------------------------
# The recorded request and the reply of the client helpers
# --------------------------------------------------------------------------

class Request:
    """One recorded HTTP request.

    method, path (with query), route (path without query), query (dict of
    lists), headers (dict, names lower-cased), body (raw bytes), parsed (the
    decoded body: JSON value or form dict, None if undecodable), valid (bool),
    problems (list of str), time (time.time() on arrival), status (the status
    answered, None while still pending, 0 for a dropped connection), reply (the
    body answered, bytes), info (service-specific: sid, dedup_key, ...)."""

    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        split = urllib.parse.urlsplit(path)
        self.route = split.path
        self.query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        self.headers = headers
        self.body = body
        self.parsed = None
        self.problems = []
        self.time = time.time()
        self.status = None
        self.reply = b""
        self.info = {}

    @property
    def valid(self):
        return not self.problems

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def json(self):
        return json.loads(self.body)

    def summary(self):
        state = "valid" if self.valid else "INVALID: " + "; ".join(self.problems)
        return "%s %s -> %s %s" % (self.method, self.path, self.status, state)

    def __repr__(self):
        return "<Request %s>" % self.summary()


class Reply:
    """What a client helper got back: status, headers (dict), body (bytes)."""

    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Reply %s %r>" % (self.status, self.body[:200])


def http_request(url, data=None, headers=None, method=None, timeout=10):
    """A small urllib client returning a Reply for every HTTP status (no raise)."""
    body = data
    if isinstance(data, (dict, list)):
        body = json.dumps(data).encode()
    elif isinstance(data, str):
        body = data.encode()
    req = urllib.request.Request(url, data=body, headers=dict(headers or {}),
                                 method=method or ("POST" if body is not None else "GET"))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Reply(r.status, dict(r.headers), r.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, dict(e.headers), e.read())


def _jbody(obj):
    return json.dumps(obj).encode()


def _content_type(req):
    """(media type lower-cased, params dict) of the request's Content-Type."""
    raw = req.header("content-type", "")
    parts = [p.strip() for p in raw.split(";")]
    params = {}
    for p in parts[1:]:
        if "=" in p:
            k, v = p.split("=", 1)
            params[k.strip().lower()] = v.strip().strip('"')
    return parts[0].lower(), params


def _decode_json(req):
    """Parses the body as a UTF-8 JSON value into req.parsed; returns an error string or None."""
    try:
        req.parsed = json.loads(req.body.decode("utf-8"))
        return None
    except (UnicodeDecodeError, ValueError) as e:
        return "body is not JSON: %s" % e


# --------------------------------------------------------------------------
# The common HTTP receiver
# --------------------------------------------------------------------------

class _Stopped(Exception):
    pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        import sys
        if isinstance(sys.exc_info()[1], OSError):
            return  # a client that went away (reset, broken pipe, timeout) is not news
        super().handle_error(request, client_address)


class HTTPReceiver:
    """Base of the HTTP receivers: a ThreadingHTTPServer on 127.0.0.1.

    Subclasses implement check(req) (append to req.problems and return the
    service's error answer (status, body, headers) when the request is malformed,
    else None), ok(req) (the success answer) and canned(status) (the body and
    headers the service sends with an injected status).

    Order of answering: over-size body -> 413; malformed -> the service's error
    (does not consume the script); else the next script entry; else the rate
    limit; else fail_ratio; else success. The global delay() applies to every
    answer, a script entry's delay is added to it."""

    name = "http"

    def __init__(self, host="127.0.0.1", port=0, max_body=MAX_BODY):
        self.host, self.port, self.max_body = host, port, max_body
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._requests = []
        self._script = deque()
        self._fail_p = 0.0
        self._rng = random.Random(0)
        self._delay = 0.0
        self._rate = None  # (max requests, window seconds, retry_after)
        self._window = deque()
        self._stop = threading.Event()
        self._conns = set()  # open client connections, closed by stop()
        self._server = None
        self._thread = None

    # ---- lifecycle
    def start(self):
        assert self._server is None, "already started"
        rx = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "receivers/1"
            timeout = 30  # an idle keep-alive connection is closed after this

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                with rx._lock:
                    rx._conns.add(self.connection)

            def finish(self):
                with rx._lock:
                    rx._conns.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def _any(self):
                rx._handle(self)

            do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = _any

        self._stop.clear()
        self._server = _Server((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="%s-receiver" % self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is None:
            return
        self._stop.set()  # wakes handlers sleeping in a delay
        self._server.shutdown()
        self._server.server_close()
        # A stopped service must not keep answering on kept-alive connections.
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    # ---- records
    @property
    def requests(self):
        """A snapshot of every recorded request, oldest first."""
        with self._lock:
            return list(self._requests)

    def valid_requests(self):
        return [r for r in self.requests if r.valid]

    def invalid_requests(self):
        return [r for r in self.requests if not r.valid]

    def clear(self):
        with self._lock:
            self._requests.clear()

    def summary(self):
        reqs = self.requests
        lines = ["%s on %s: %d request(s), %d valid" % (type(self).__name__, self.url, len(reqs),
                                                         sum(r.valid for r in reqs))]
        for i, r in enumerate(reqs):
            lines.append("  #%d %s" % (i, r.summary()))
        return "\n".join(lines)

    def wait_for(self, n, timeout=10.0, ok_only=False):
        """Blocks until n valid requests arrived (with ok_only: valid ones that
        were answered 2xx) and returns the first n of them; raises AssertionError
        with a summary of everything received on timeout."""
        deadline = time.monotonic() + timeout

        def matching():
            return [r for r in self._requests if r.valid and
                    (not ok_only or (r.status is not None and 200 <= r.status < 300))]

        with self._cond:
            while True:
                got = matching()
                if len(got) >= n:
                    return got[:n]
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.1))
        raise AssertionError("timed out after %ss waiting for %d valid%s request(s)\n%s"
                             % (timeout, n, " 2xx" if ok_only else "", self.summary()))

    # ---- failure injection
    def script(self, entries):
        """Queues answers, one consumed per well-formed request before falling
        back to success. An entry is a status int or a tuple (status, body,
        headers, delay_s) with trailing items optional; body None means the
        service's own body for that status (dict/list -> JSON, str -> UTF-8);
        status 0 drops the connection without answering."""
        with self._lock:
            for e in entries:
                if isinstance(e, int):
                    e = (e,)
                e = tuple(e) + (None,) * (4 - len(e))
                self._script.append(e)
        return self

    def pending_script(self):
        with self._lock:
            return len(self._script)

    def fail_ratio(self, p, seed=None):
        """Answers 500 to a well-formed request with probability p, reproducibly for a seed."""
        with self._lock:
            self._fail_p = float(p)
            self._rng = random.Random(seed)
        return self

    def delay(self, s):
        """Delays every answer by s seconds."""
        self._delay = float(s)
        return self

    def rate_limit(self, max_requests, per_s=1.0, retry_after=1):
        """Answers the service's 429 to well-formed requests beyond max_requests
        in any per_s second window (None disables)."""
        with self._lock:
            self._rate = None if max_requests is None else (int(max_requests), float(per_s), retry_after)
            self._window.clear()
        return self

    # ---- to be provided by subclasses
    def check(self, req):
        return None

    def ok(self, req):
        return 200, b"", {}

    def canned(self, status):
        return (http.client.responses.get(status, "error")).encode(), {"Content-Type": "text/plain"}

    def rate_limited(self, retry_after):
        body, hdrs = self.canned(429)
        hdrs = dict(hdrs)
        hdrs["Retry-After"] = str(retry_after)
        return 429, body, hdrs

    # ---- the request path
    def _read_body(self, h):
        """Returns the body, or None when it exceeds max_body (chunked supported)."""
        te = (h.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            out = bytearray()
            while True:
                line = h.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while h.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                if len(out) + size > self.max_body:
                    return None
                out += h.rfile.read(size)
                h.rfile.readline(16)
        n = int(h.headers.get("Content-Length") or 0)
        if n > self.max_body:
            return None
        return h.rfile.read(n) if n > 0 else b""

    def _sleep(self, s):
        if s and s > 0 and self._stop.wait(s):
            raise _Stopped()

    def _handle(self, h):
        headers = {}
        for k, v in h.headers.items():
            k = k.lower()
            headers[k] = headers[k] + ", " + v if k in headers else v
        try:
            body = self._read_body(h)
        except ValueError:
            body = False
        req = Request(h.command, h.path, headers, body or b"")
        extra_delay = 0.0
        if body is False:
            req.problems.append("unparseable Content-Length or chunk size")
            answer = (400, b"bad request framing", {"Content-Type": "text/plain", "Connection": "close"})
            h.close_connection = True
        elif body is None:
            req.problems.append("body larger than %d bytes" % self.max_body)
            answer = (413, b"request entity too large", {"Content-Type": "text/plain", "Connection": "close"})
            h.close_connection = True
        else:
            try:
                answer = self.check(req)
            except Exception as e:  # a checker bug must show, not hang the client
                req.problems.append("checker raised %r" % e)
                answer = (500, b"receiver checker error", {})
            if answer is None and req.problems:
                answer = (400, b"invalid request", {})
        with self._cond:
            self._requests.append(req)
            if answer is None:
                if self._script:
                    status, sbody, shdrs, sdelay = self._script.popleft()
                    extra_delay = sdelay or 0.0
                    if status:
                        cbody, chdrs = self.canned(status)
                        if sbody is not None:
                            cbody = sbody
                        hdrs = dict(chdrs)
                        hdrs.update(shdrs or {})
                        answer = (status, cbody, hdrs)
                    else:
                        answer = (0, b"", {})
                if answer is None and self._rate:
                    mx, per, ra = self._rate
                    now = time.monotonic()
                    while self._window and now - self._window[0] >= per:
                        self._window.popleft()
                    if len(self._window) >= mx:
                        answer = self.rate_limited(ra)
                    else:
                        self._window.append(now)
                if answer is None and self._fail_p > 0 and self._rng.random() < self._fail_p:
                    body500, h500 = self.canned(500)
                    answer = (500, body500, h500)
            self._cond.notify_all()
        if answer is None:
            answer = self.ok(req)
        status, rbody, rhdrs = answer
        if isinstance(rbody, (dict, list)):
            rbody = _jbody(rbody)
        elif isinstance(rbody, str):
            rbody = rbody.encode()
        try:
            self._sleep(self._delay + extra_delay)
        except _Stopped:
            status = 0
        with self._cond:
            req.status, req.reply = status, rbody
            self._cond.notify_all()
        if status == 0:  # drop the connection without an answer
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        try:
            h.send_response(status)
            for k, v in rhdrs.items():
                h.send_header(k, v)
            if not any(k.lower() == "content-length" for k in rhdrs):
                h.send_header("Content-Length", str(len(rbody)))
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(rbody)
        except OSError:
            h.close_connection = True


# --------------------------------------------------------------------------
# Slack incoming webhook
# --------------------------------------------------------------------------

SLACK_BODIES = {400: "invalid_payload", 403: "action_prohibited", 404: "channel_not_found",
                410: "channel_is_archived", 429: "rate_limited", 500: "internal_error"}
SLACK_BLOCK_TYPES = ("header", "section", "context", "actions", "divider")


class SlackReceiver(HTTPReceiver):
    """A Slack incoming webhook: POST application/json to any path.

    Answers 200 "ok"; malformed requests get Slack's 400 (invalid_payload,
    no_text, invalid_blocks, invalid_attachments, too_many_attachments); an
    injected 429 carries Retry-After. block_types: the block types accepted."""

    name = "slack"

    def __init__(self, block_types=SLACK_BLOCK_TYPES, path_prefix=None, **kw):
        super().__init__(**kw)
        self.block_types = tuple(block_types)
        self.path_prefix = path_prefix

    def canned(self, status):
        hdrs = {"Content-Type": "text/plain"}
        if status == 429:
            hdrs["Retry-After"] = "1"
        return SLACK_BODIES.get(status, "error").encode(), hdrs

    def ok(self, req):
        return 200, b"ok", {"Content-Type": "text/html"}

    def _err(self, req, code, problem):
        req.problems.append(problem)
        status = {"no_service": 404, "channel_not_found": 404}.get(code, 400)
        return status, code.encode(), {"Content-Type": "text/plain"}

    def check(self, req):
        if req.method != "POST":
            req.problems.append("method %s, want POST" % req.method)
            return 405, b"invalid_method", {"Content-Type": "text/plain"}
        if self.path_prefix and not req.route.startswith(self.path_prefix):
            return self._err(req, "no_service", "path %s outside %s" % (req.route, self.path_prefix))
        ctype, _ = _content_type(req)
        if ctype != "application/json":
            return self._err(req, "invalid_payload", "Content-Type %r, want application/json"
                             % req.header("content-type"))
        err = _decode_json(req)
        if err:
            return self._err(req, "invalid_payload", err)
        msg = req.parsed
        if not isinstance(msg, dict):
            return self._err(req, "invalid_payload", "body is not a JSON object")
        if "text" in msg and not isinstance(msg["text"], str):
            return self._err(req, "invalid_payload", "text is not a string")
        att = msg.get("attachments")
        if att is not None:
            if not isinstance(att, list) or not all(isinstance(a, dict) for a in att):
                return self._err(req, "invalid_attachments", "attachments is not a list of objects")
            if len(att) > 100:
                return self._err(req, "too_many_attachments", "%d attachments (max 100)" % len(att))
        blocks = msg.get("blocks")
        if blocks is not None:
            problems = slack_block_problems(blocks, self.block_types)
            if problems:
                req.problems.extend(problems)
                return 400, b"invalid_blocks", {"Content-Type": "text/plain"}
        # Slack needs something to show: text, or blocks, or (legacy) attachments.
        if not msg.get("text") and not blocks and not att:
            return self._err(req, "no_text", "neither a non-empty text nor blocks")
        return None


def _text_object(obj, where, types, limit):
    """Problems of a Block Kit text object."""
    if not isinstance(obj, dict):
        return ["%s: text object is not an object" % where]
    out = []
    if obj.get("type") not in types:
        out.append("%s: text type %r, want one of %s" % (where, obj.get("type"), "/".join(types)))
    t = obj.get("text")
    if not isinstance(t, str) or not t:
        out.append("%s: text missing or empty" % where)
    elif len(t) > limit:
        out.append("%s: text is %d chars (max %d)" % (where, len(t), limit))
    if "emoji" in obj and obj.get("type") != "plain_text":
        out.append("%s: emoji is only valid on plain_text" % where)
    if "verbatim" in obj and obj.get("type") != "mrkdwn":
        out.append("%s: verbatim is only valid on mrkdwn" % where)
    return out


def slack_block_problems(blocks, block_types=SLACK_BLOCK_TYPES):
    """Problems of a Block Kit `blocks` array (documented limits), [] when fine."""
    if not isinstance(blocks, list):
        return ["blocks is not a list"]
    out = []
    if len(blocks) > 50:
        out.append("%d blocks (max 50)" % len(blocks))
    ids = set()
    for i, b in enumerate(blocks):
        w = "blocks[%d]" % i
        if not isinstance(b, dict):
            out.append(w + " is not an object")
            continue
        t = b.get("type")
        w += "(%s)" % t
        if t not in block_types:
            out.append("%s: unknown block type %r" % (w, t))
            continue
        if "block_id" in b:
            bid = b["block_id"]
            if not isinstance(bid, str) or not bid or len(bid) > 255:
                out.append(w + ": block_id must be a 1..255 char string")
            elif bid in ids:
                out.append(w + ": duplicate block_id %r" % bid)
            ids.add(bid)
        if t == "header":
            out += _text_object(b.get("text"), w, ("plain_text",), 150)
        elif t == "section":
            if "text" not in b and "fields" not in b:
                out.append(w + ": needs text or fields")
            if "text" in b:
                out += _text_object(b["text"], w + ".text", ("mrkdwn", "plain_text"), 3000)
            if "fields" in b:
                f = b["fields"]
                if not isinstance(f, list) or not f:
                    out.append(w + ": fields must be a non-empty list")
                else:
                    if len(f) > 10:
                        out.append("%s: %d fields (max 10)" % (w, len(f)))
                    for j, fo in enumerate(f):
                        out += _text_object(fo, "%s.fields[%d]" % (w, j), ("mrkdwn", "plain_text"), 2000)
        elif t == "context":
            els = b.get("elements")
            if not isinstance(els, list) or not els:
                out.append(w + ": elements must be a non-empty list")
            else:
                if len(els) > 10:
                    out.append("%s: %d elements (max 10)" % (w, len(els)))
                for j, e in enumerate(els):
                    ew = "%s.elements[%d]" % (w, j)
                    if isinstance(e, dict) and e.get("type") == "image":
                        if not e.get("image_url") or not e.get("alt_text"):
                            out.append(ew + ": image needs image_url and alt_text")
                    else:
                        out += _text_object(e, ew, ("mrkdwn", "plain_text"), 3000)
        elif t == "actions":
            els = b.get("elements")
            if not isinstance(els, list) or not els:
                out.append(w + ": elements must be a non-empty list")
            else:
                if len(els) > 25:
                    out.append("%s: %d elements (max 25)" % (w, len(els)))
                for j, e in enumerate(els):
                    ew = "%s.elements[%d]" % (w, j)
                    if not isinstance(e, dict) or e.get("type") != "button":
                        out.append(ew + ": not a button")
                        continue
                    out += _text_object(e.get("text"), ew, ("plain_text",), 75)
                    if "url" in e and (not isinstance(e["url"], str) or not e["url"] or len(e["url"]) > 3000):
                        out.append(ew + ": url must be a 1..3000 char string")
                    if "action_id" in e and (not isinstance(e["action_id"], str) or len(e["action_id"]) > 255):
                        out.append(ew + ": action_id must be a string of at most 255 chars")
                    if "value" in e and (not isinstance(e["value"], str) or len(e["value"]) > 2000):
                        out.append(ew + ": value must be a string of at most 2000 chars")
                    if "style" in e and e["style"] not in ("primary", "danger"):
                        out.append(ew + ": style must be primary or danger")
        elif t == "divider":
            extra = set(b) - {"type", "block_id"}
            if extra:
                out.append("%s: unexpected fields %s" % (w, sorted(extra)))
    return out


# --------------------------------------------------------------------------
# Slack Web API: chat.postMessage with a bot token
# --------------------------------------------------------------------------

SLACK_APP_PATH = "/api/chat.postMessage"
SLACK_APP_TOKEN = "xoxb-0000-test-token"
SLACK_TEXT_MAX = 40000


class SlackAppReceiver(HTTPReceiver):
    """Slack's Web API method chat.postMessage (POST /api/chat.postMessage).

    Checks the bearer token (missing: not_authed, wrong: invalid_auth), a JSON
    body (application/json, charset allowed) with a channel (channels, when
    given, lists the names accepted; else any), text or blocks (no_text;
    blocks checked like the incoming webhook's: invalid_blocks; text over
    40,000 characters: msg_too_long), and a thread_ts that is a ts this
    receiver issued in that channel (thread_not_found). Like Slack, errors
    are HTTP 200 {"ok": false, "error": ...}. Success answers
    {"ok": true, "channel": <id>, "ts": <ts>, "message": {...}} with a stable
    channel id per channel name ("C" + 10 hex digits; an issued id is accepted
    as the channel) and increasing ts. error(code) queues an ok:false answer;
    an injected 429 carries Retry-After, 5xx an internal_error body.
    req.info: channel (the id), ts, thread_ts (None at top level)."""

    name = "slack-app"

    def __init__(self, token=SLACK_APP_TOKEN, channels=None, **kw):
        super().__init__(**kw)
        self.token = token
        self.channels = None if channels is None else set(channels)
        self._ids = {}  # channel name -> id
        self._issued = {}  # channel id -> set of ts
        self._next = 0
        self._base = int(time.time())
        self._app_lock = threading.Lock()

    def error(self, code, n=1):
        """The next n well-formed requests get HTTP 200 {"ok": false, "error": code}."""
        return self.script([(200, {"ok": False, "error": code},
                             {"Content-Type": "application/json; charset=utf-8"})] * n)

    def canned(self, status):
        hdrs = {"Content-Type": "application/json; charset=utf-8"}
        if status == 429:
            hdrs["Retry-After"] = "1"
            return _jbody({"ok": False, "error": "ratelimited"}), hdrs
        if status >= 500:
            return _jbody({"ok": False, "error": "internal_error"}), hdrs
        return _jbody({"ok": False, "error": "invalid_request"}), hdrs

    def _err(self, req, code, problem):
        req.problems.append(problem)
        return 200, {"ok": False, "error": code}, {"Content-Type": "application/json; charset=utf-8"}

    def channel_id(self, name):
        """The id this receiver answers for a channel name ("#incidents")."""
        return self._channel_id(name)

    def _channel_id(self, name):
        """The id of a channel name or issued id; None for an unknown one."""
        with self._app_lock:
            if name in self._issued:
                return name
            if self.channels is not None and name not in self.channels:
                return None
            if name not in self._ids:
                cid = "C" + hashlib.sha256(name.encode()).hexdigest()[:10].upper()
                self._ids[name] = cid
                self._issued.setdefault(cid, set())
            return self._ids[name]

    def check(self, req):
        if req.method != "POST":
            req.problems.append("method %s, want POST" % req.method)
            return 405, b"", {}
        if req.route != SLACK_APP_PATH:
            req.problems.append("path %s, want %s" % (req.route, SLACK_APP_PATH))
            return 404, {"ok": False, "error": "unknown_method"}, {"Content-Type": "application/json"}
        auth = req.header("authorization")
        if not auth:
            return self._err(req, "not_authed", "no Authorization header")
        if auth != "Bearer " + self.token:
            return self._err(req, "invalid_auth", "Authorization is not Bearer <the token>")
        ctype, params = _content_type(req)
        if ctype != "application/json" or params.get("charset", "utf-8").lower() != "utf-8":
            return self._err(req, "invalid_form_data", "Content-Type %r, want application/json"
                             % req.header("content-type"))
        err = _decode_json(req)
        if err:
            return self._err(req, "invalid_json", err)
        msg = req.parsed
        if not isinstance(msg, dict):
            return self._err(req, "invalid_json", "body is not a JSON object")
        channel = msg.get("channel")
        if not isinstance(channel, str) or not channel:
            return self._err(req, "channel_not_found", "channel missing or empty")
        cid = self._channel_id(channel)
        if cid is None:
            return self._err(req, "channel_not_found", "unknown channel %r" % channel)
        text, blocks = msg.get("text"), msg.get("blocks")
        if text is not None and not isinstance(text, str):
            return self._err(req, "invalid_arguments", "text is not a string")
        if blocks is not None:
            problems = slack_block_problems(blocks)
            if problems:
                req.problems.extend(problems)
                return 200, {"ok": False, "error": "invalid_blocks"}, {"Content-Type": "application/json"}
        if not text and not blocks:
            return self._err(req, "no_text", "neither a non-empty text nor blocks")
        if text and len(text) > SLACK_TEXT_MAX:
            return self._err(req, "msg_too_long", "text is %d chars (max %d)" % (len(text), SLACK_TEXT_MAX))
        thread = msg.get("thread_ts")
        if thread is not None:
            with self._app_lock:
                known = isinstance(thread, str) and thread in self._issued.get(cid, ())
            if not known:
                return self._err(req, "thread_not_found", "thread_ts %r was not issued in %s" % (thread, cid))
        req.info.update(channel=cid, thread_ts=thread)
        return None

    def ok(self, req):
        with self._app_lock:
            self._next += 1
            ts = "%d.%06d" % (self._base, self._next)
            cid = req.info["channel"]
            if req.info.get("thread_ts") is None:  # only a top-level message can be a root
                self._issued[cid].add(ts)
        req.info["ts"] = ts
        echo = {"type": "message", "text": req.parsed.get("text", ""), "ts": ts}
        if req.info.get("thread_ts"):
            echo["thread_ts"] = req.info["thread_ts"]
        return 200, {"ok": True, "channel": cid, "ts": ts, "message": echo}, \
            {"Content-Type": "application/json; charset=utf-8"}

    def messages(self):
        """The requests answered ok:true, oldest first."""
        return [r for r in self.requests if r.valid and r.status == 200 and "ts" in r.info]


# --------------------------------------------------------------------------
# Twilio REST API (Messages, Calls) and inbound callbacks
# --------------------------------------------------------------------------

TWILIO_ROUTE = re.compile(r"^/2010-04-01/Accounts/([^/]+)/(Messages|Calls)\.json$")
TEST_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TEST_AUTH_TOKEN = "f" * 32


def twilio_error(status, code, message):
    return {"code": code, "message": message,
            "more_info": "https://www.twilio.com/docs/errors/%d" % code, "status": status}


def _twilio_date(t=None):
    """RFC 2822 date as in Twilio resources: 'Thu, 30 Jul 2015 20:12:31 +0000'."""
    return email.utils.format_datetime(datetime.fromtimestamp(t or time.time(), timezone.utc))


def _segments(body):
    gsm = all(ord(c) < 128 for c in body)
    single, multi = (160, 153) if gsm else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // multi)


class TwilioReceiver(HTTPReceiver):
    """Twilio's REST API: POST /2010-04-01/Accounts/{AccountSid}/Messages.json
    and /Calls.json with HTTP basic auth (account_sid, auth_token), form encoded.

    invalid_numbers: `To` numbers answered with error 21211. Success: 201 and
    the JSON resource (status queued). Valid requests' resources are in
    req.info["resource"]; see messages() and calls()."""

    name = "twilio"

    def __init__(self, account_sid=TEST_ACCOUNT_SID, auth_token=TEST_AUTH_TOKEN, invalid_numbers=(), **kw):
        super().__init__(**kw)
        self.account_sid, self.auth_token = account_sid, auth_token
        self.invalid_numbers = set(invalid_numbers)

    def canned(self, status):
        msg = {400: (21200, "Bad Request"), 401: (20003, "Authenticate"), 404: (20404, "Not Found"),
               429: (20429, "Too Many Requests"), 500: (20500, "Internal Server Error"),
               503: (20503, "Service Unavailable")}.get(status, (20500, http.client.responses.get(status, "error")))
        return _jbody(twilio_error(status, msg[0], msg[1])), {"Content-Type": "application/json"}

    def _err(self, req, status, code, message, headers=None):
        req.problems.append("%d %d: %s" % (status, code, message))
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        return status, _jbody(twilio_error(status, code, message)), hdrs

    def _auth_ok(self, req):
        auth = req.header("authorization", "")
        if not auth.lower().startswith("basic "):
            return False
        try:
            user, _, pw = base64.b64decode(auth[6:].strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        req.info["auth_user"] = user
        return hmac.compare_digest(user, self.account_sid) and hmac.compare_digest(pw, self.auth_token)

    def check(self, req):
        if not self._auth_ok(req):
            return self._err(req, 401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        m = TWILIO_ROUTE.match(req.route)
        if not m or m.group(1) != self.account_sid:
            return self._err(req, 404, 20404, "The requested resource %s was not found" % req.route)
        if req.method != "POST":
            return self._err(req, 405, 20004, "Method not allowed")
        kind = m.group(2)
        req.info["kind"] = kind
        ctype, _ = _content_type(req)
        params = {}
        if ctype != "application/x-www-form-urlencoded":
            # Twilio reads no parameters from any other body, so 'To' goes missing.
            req.problems.append("Content-Type %r, want application/x-www-form-urlencoded"
                                % req.header("content-type"))
        else:
            try:
                multi = urllib.parse.parse_qs(req.body.decode("utf-8"), keep_blank_values=True,
                                              strict_parsing=bool(req.body), errors="strict")
            except (UnicodeDecodeError, ValueError) as e:
                return self._err(req, 400, 21200, "Unparseable form body: %s" % e)
            params = {k: v[-1] for k, v in multi.items()}
            req.info["params_multi"] = multi
        req.parsed = params
        to, frm = params.get("To"), params.get("From")
        if kind == "Messages":
            if not to:
                return self._err(req, 400, 21604, "A 'To' phone number is required.")
            if not frm:
                return self._err(req, 400, 21603, "A 'From' phone number is required.")
        else:
            if not to:
                return self._err(req, 400, 21201, "No 'To' number is specified")
            if not frm:
                return self._err(req, 400, 21213, "No 'From' number is specified")
        if not E164.match(to) or to in self.invalid_numbers:
            return self._err(req, 400, 21211, "The 'To' number %s is not a valid phone number." % to)
        if not E164.match(frm):
            return self._err(req, 400, 21212, "The 'From' number %s is not a valid phone number, "
                             "shortcode, or alphanumeric sender ID." % frm)
        if kind == "Messages":
            body = params.get("Body")
            if not body and not params.get("MediaUrl"):
                return self._err(req, 400, 21602, "Message body is required.")
            if body and len(body) > 1600:
                return self._err(req, 400, 21617, "The concatenated message body exceeds the 1600 "
                                 "character limit. (%d)" % len(body))
        else:
            twiml, url = params.get("Twiml"), params.get("Url")
            if not twiml and not url:
                return self._err(req, 400, 21205, "Url parameter is required.")
            if url:
                u = urllib.parse.urlsplit(url)
                if u.scheme not in ("http", "https") or not u.netloc:
                    return self._err(req, 400, 21205, "Url is not a valid URL: %s" % url)
            if twiml:
                try:
                    root = ET.fromstring(twiml)
                except ET.ParseError as e:
                    return self._err(req, 400, 12100, "Document parse failure: %s" % e)
                if root.tag != "Response":
                    return self._err(req, 400, 12100, "Document parse failure: root element <%s>, "
                                     "want <Response>" % root.tag)
        if req.problems:  # the Content-Type problem with a plausible body
            return 400, _jbody(twilio_error(400, 21604, "A 'To' phone number is required.")), \
                {"Content-Type": "application/json"}
        return None

    def ok(self, req):
        p, kind = req.parsed, req.info["kind"]
        prefix = "SM" if kind == "Messages" else "CA"
        sid = prefix + uuid.uuid4().hex
        now = _twilio_date()
        uri = "/2010-04-01/Accounts/%s/%s/%s.json" % (self.account_sid, kind, sid)
        base = {"account_sid": self.account_sid, "api_version": "2010-04-01", "date_created": now,
                "date_updated": now, "direction": "outbound-api", "from": p["From"], "price": None,
                "price_unit": "USD", "sid": sid, "status": "queued", "to": p["To"], "uri": uri}
        if kind == "Messages":
            body = p.get("Body", "")
            base.update({"body": body, "date_sent": None, "error_code": None, "error_message": None,
                         "messaging_service_sid": p.get("MessagingServiceSid"),
                         "num_media": str(len(req.info.get("params_multi", {}).get("MediaUrl", []))),
                         "num_segments": str(_segments(body)),
                         "subresource_uris": {"media": uri[:-5] + "/Media.json"}})
        else:
            base.update({"annotation": None, "answered_by": None, "caller_name": None, "duration": None,
                         "end_time": None, "forwarded_from": None, "from_formatted": p["From"],
                         "group_sid": None, "parent_call_sid": None, "phone_number_sid": None,
                         "queue_time": "0", "start_time": None, "to_formatted": p["To"], "trunk_sid": None,
                         "subresource_uris": {"notifications": uri[:-5] + "/Notifications.json",
                                              "recordings": uri[:-5] + "/Recordings.json"}})
        req.info["sid"] = sid
        req.info["resource"] = base
        return 201, _jbody(base), {"Content-Type": "application/json"}

    def messages(self):
        """Params of the valid Messages requests, oldest first."""
        return [r.parsed for r in self.requests if r.valid and r.info.get("kind") == "Messages"]

    def calls(self):
        return [r.parsed for r in self.requests if r.valid and r.info.get("kind") == "Calls"]


def _param_pairs(params):
    if isinstance(params, dict):
        items = []
        for k, v in params.items():
            if isinstance(v, (list, tuple)):
                items += [(k, x) for x in v]
            else:
                items.append((k, v))
        return [(str(k), str(v)) for k, v in items]
    return [(str(k), str(v)) for k, v in params]


def twilio_signature(auth_token, url, params):
    """X-Twilio-Signature as Twilio computes it: the full URL, then for each POST
    parameter sorted by name (repeated names: values sorted) name + value, HMAC-SHA1
    keyed by the auth token, base64. params: dict (values may be lists) or pairs."""
    s = url + "".join(k + v for k, v in sorted(_param_pairs(params)))
    mac = hmac.new(auth_token.encode("utf-8"), s.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def post_inbound(url, params, auth_token, tamper=False, headers=None, timeout=10):
    """POSTs a Twilio callback (form data, X-Twilio-Signature, Twilio's
    User-Agent) to url and returns a Reply. tamper: False; True or "body" (sign,
    then change a value, as a forger would); "signature" (a corrupted signature);
    "missing" (no signature header)."""
    pairs = _param_pairs(params)
    sig = twilio_signature(auth_token, url, pairs)
    if tamper in (True, "body"):
        i = next((i for i, (k, _) in enumerate(pairs) if k in ("Body", "Digits")), 0)
        pairs[i] = (pairs[i][0], pairs[i][1] + "1")
    elif tamper == "signature":
        raw = bytearray(base64.b64decode(sig))
        raw[0] ^= 0x01
        sig = base64.b64encode(bytes(raw)).decode()
    hdrs = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "User-Agent": "TwilioProxy/1.1", "Accept": "*/*", "I-Twilio-Idempotency-Token": str(uuid.uuid4())}
    if tamper != "missing":
        hdrs["X-Twilio-Signature"] = sig
    hdrs.update(headers or {})
    return http_request(url, urllib.parse.urlencode(pairs).encode(), hdrs, "POST", timeout)


def inbound_sms_params(frm, to, body, account_sid=TEST_ACCOUNT_SID, message_sid=None):
    """The form fields of Twilio's incoming-message webhook."""
    sid = message_sid or "SM" + uuid.uuid4().hex
    return {"ToCountry": "US", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "",
            "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received", "FromCity": "",
            "Body": body, "FromCountry": "US", "To": to, "ToZip": "", "NumSegments": "1",
            "MessageSid": sid, "AccountSid": account_sid, "From": frm, "ApiVersion": "2010-04-01"}


def gather_params(digits, call_sid, frm, to, account_sid=TEST_ACCOUNT_SID, call_status="in-progress"):
    """The form fields of a <Gather> action callback (DTMF input)."""
    return {"AccountSid": account_sid, "ApiVersion": "2010-04-01", "CallSid": call_sid,
            "CallStatus": call_status, "Called": to, "Caller": frm, "Digits": digits,
            "Direction": "outbound-api", "FinishedOnKey": "", "From": frm, "To": to, "msg": "Gather End"}


# --------------------------------------------------------------------------
# PagerDuty Events API v2
# --------------------------------------------------------------------------

PD_SEVERITIES = ("critical", "error", "warning", "info")
PD_ACTIONS = ("trigger", "acknowledge", "resolve")


class PagerDutyReceiver(HTTPReceiver):
    """PagerDuty Events API v2: POST /v2/enqueue, JSON.

    routing_keys: the accepted integration keys (None: any 32-char key).
    Answers 202 {"status":"success","message":"Event processed","dedup_key":..}
    or 400 {"status":"invalid event","message":"Event object is invalid",
    "errors":[...]}. alerts: dedup_key -> last action applied
    (triggered/acknowledged/resolved)."""

    name = "pagerduty"
    MAX_EVENT = 512 * 1024

    def __init__(self, routing_keys=None, **kw):
        super().__init__(**kw)
        self.routing_keys = None if routing_keys is None else set(routing_keys)
        self.alerts = {}

    def canned(self, status):
        bodies = {400: {"status": "invalid event", "message": "Event object is invalid", "errors": []},
                  429: {"status": "throttle event",
                        "message": "Requests for this service are arriving too quickly. Please retry later."},
                  500: {"status": "error", "message": "Internal server error"}}
        body = bodies.get(status, {"status": "error", "message": http.client.responses.get(status, "error")})
        return _jbody(body), {"Content-Type": "application/json"}

    def check(self, req):
        hj = {"Content-Type": "application/json"}
        if req.route != "/v2/enqueue":
            req.problems.append("path %s, want /v2/enqueue" % req.route)
            return 404, _jbody({"status": "error", "message": "Not Found"}), hj
        if req.method != "POST":
            req.problems.append("method %s, want POST" % req.method)
            return 405, _jbody({"status": "error", "message": "Method Not Allowed"}), hj
        errors = []
        ctype, _ = _content_type(req)
        if ctype != "application/json":
            errors.append("Content-Type %r, want application/json" % req.header("content-type"))
        if len(req.body) > self.MAX_EVENT:
            errors.append("Event is larger than 512 KB")
        err = _decode_json(req)
        ev = req.parsed
        if err:
            errors.append(err)
        elif not isinstance(ev, dict):
            errors.append("Event object is not a JSON object")
        else:
            errors += pagerduty_event_problems(ev, self.routing_keys)
        if errors:
            req.problems.extend(errors)
            return 400, _jbody({"status": "invalid event", "message": "Event object is invalid",
                                "errors": errors}), hj
        return None

    def ok(self, req):
        ev = req.parsed
        key = ev.get("dedup_key") or uuid.uuid4().hex
        req.info["dedup_key"] = key
        with self._lock:
            self.alerts[key] = {"trigger": "triggered", "acknowledge": "acknowledged",
                                "resolve": "resolved"}[ev["event_action"]]
        return 202, _jbody({"status": "success", "message": "Event processed", "dedup_key": key}), \
            {"Content-Type": "application/json"}

    def events(self):
        """The valid events (parsed JSON), oldest first."""
        return [r.parsed for r in self.requests if r.valid]


def _valid_iso8601(s):
    if not isinstance(s, str) or not ISO8601.match(s):
        return False
    try:
        datetime.fromisoformat(s.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


def pagerduty_event_problems(ev, routing_keys=None):
    """Problems of an Events API v2 alert event, [] when fine."""
    out = []
    rk = ev.get("routing_key")
    if not isinstance(rk, str) or not rk:
        out.append("'routing_key' is missing or blank")
    elif len(rk) != 32:
        out.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    elif routing_keys is not None and rk not in routing_keys:
        out.append("Invalid routing key")
    action = ev.get("event_action")
    if action not in PD_ACTIONS:
        out.append("'event_action' is missing or invalid (should be one of trigger, acknowledge, resolve)")
    dk = ev.get("dedup_key")
    if dk is not None and (not isinstance(dk, str) or len(dk) > 255):
        out.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dk:
        out.append("'dedup_key' is missing or blank (required to %s)" % action)
    if action == "trigger":
        p = ev.get("payload")
        if not isinstance(p, dict):
            out.append("'payload' is missing or not an object")
        else:
            s = p.get("summary")
            if not isinstance(s, str) or not s.strip():
                out.append("'payload.summary' is missing or blank")
            elif len(s) > 1024:
                out.append("'payload.summary' is longer than 1024 characters (%d)" % len(s))
            src = p.get("source")
            if not isinstance(src, str) or not src.strip():
                out.append("'payload.source' is missing or blank")
            if p.get("severity") not in PD_SEVERITIES:
                out.append("'payload.severity' is missing or invalid (should be one of critical, error, "
                           "warning, info)")
            if "timestamp" in p and not _valid_iso8601(p["timestamp"]):
                out.append("'payload.timestamp' is not a valid ISO 8601 timestamp: %r" % (p["timestamp"],))
            for f in ("component", "group", "class"):
                if f in p and not isinstance(p[f], str):
                    out.append("'payload.%s' must be a string" % f)
            if "custom_details" in p and not isinstance(p["custom_details"], (dict, str)):
                out.append("'payload.custom_details' must be an object")
    for f, need in (("links", "href"), ("images", "src")):
        if f in ev:
            v = ev[f]
            if not isinstance(v, list) or not all(isinstance(x, dict) and isinstance(x.get(need), str)
                                                  and x.get(need) for x in v):
                out.append("'%s' must be a list of objects with '%s'" % (f, need))
    for f in ("client", "client_url"):
        if f in ev and not isinstance(ev[f], str):
            out.append("'%s' must be a string" % f)
    return out


# --------------------------------------------------------------------------
# Alertmanager webhook v4
# --------------------------------------------------------------------------

class WebhookReceiver(HTTPReceiver):
    """An Alertmanager-style webhook_config receiver (webhook v4 JSON).

    path: only this path is served (None: any). bearer / basic=(user, pw): the
    Authorization required (401 otherwise). Answers 200 (empty), 400 with the
    problems as text when the JSON is not webhook v4."""

    name = "webhook"

    def __init__(self, path=None, bearer=None, basic=None, **kw):
        super().__init__(**kw)
        self.path, self.bearer, self.basic = path, bearer, basic

    def check(self, req):
        if self.path and req.route != self.path:
            req.problems.append("path %s, want %s" % (req.route, self.path))
            return 404, b"not found", {"Content-Type": "text/plain"}
        if req.method != "POST":
            req.problems.append("method %s, want POST" % req.method)
            return 405, b"method not allowed", {"Content-Type": "text/plain"}
        want = None
        if self.bearer:
            want = "Bearer " + self.bearer
        elif self.basic:
            want = "Basic " + base64.b64encode(("%s:%s" % tuple(self.basic)).encode()).decode()
        if want and not hmac.compare_digest(req.header("authorization", ""), want):
            req.problems.append("Authorization %r, want %r" % (req.header("authorization"), want))
            return 401, b"unauthorized", {"Content-Type": "text/plain"}
        ctype, _ = _content_type(req)
        if ctype != "application/json":
            req.problems.append("Content-Type %r, want application/json" % req.header("content-type"))
        err = _decode_json(req)
        if err:
            req.problems.append(err)
        else:
            req.problems += webhook_v4_problems(req.parsed)
        if req.problems:
            return 400, ("\n".join(req.problems) + "\n").encode(), {"Content-Type": "text/plain"}
        return None

    def ok(self, req):
        return 200, b"", {}

    def alerts(self):
        """Every alert of the valid posts, in order."""
        return [a for r in self.requests if r.valid for a in r.parsed["alerts"]]


def _str_map(v):
    return isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items())


def webhook_v4_problems(body):
    """Problems of an Alertmanager webhook v4 payload, [] when fine."""
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    out = []
    types = {"version": str, "groupKey": str, "truncatedAlerts": int, "status": str, "receiver": str,
             "groupLabels": dict, "commonLabels": dict, "commonAnnotations": dict, "externalURL": str,
             "alerts": list}
    for k, t in types.items():
        if k not in body:
            out.append("missing %s" % k)
        elif not isinstance(body[k], t) or (t is int and isinstance(body[k], bool)):
            out.append("%s is %s, want %s" % (k, type(body[k]).__name__, t.__name__))
    if out:
        return out
    if body["version"] != "4":
        out.append("version %r, want \"4\"" % body["version"])
    if body["status"] not in ("firing", "resolved"):
        out.append("status %r, want firing or resolved" % body["status"])
    if body["truncatedAlerts"] < 0:
        out.append("truncatedAlerts is negative")
    for k in ("groupLabels", "commonLabels", "commonAnnotations"):
        if not _str_map(body[k]):
            out.append("%s is not a string->string map" % k)
    if not body["alerts"]:
        out.append("alerts is empty")
    for i, a in enumerate(body["alerts"]):
        w = "alerts[%d]" % i
        if not isinstance(a, dict):
            out.append(w + " is not an object")
            continue
        for k in ("status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"):
            if k not in a:
                out.append("%s: missing %s" % (w, k))
        if a.get("status") not in ("firing", "resolved"):
            out.append("%s: status %r" % (w, a.get("status")))
        for k in ("labels", "annotations"):
            if k in a and not _str_map(a[k]):
                out.append("%s: %s is not a string->string map" % (w, k))
        for k in ("startsAt", "endsAt"):
            if k in a and not (isinstance(a[k], str) and RFC3339.match(a[k])):
                out.append("%s: %s %r is not RFC 3339" % (w, k, a[k]))
        for k in ("generatorURL", "fingerprint"):
            if k in a and not isinstance(a[k], str):
                out.append("%s: %s is not a string" % (w, k))
        if isinstance(a.get("fingerprint"), str) and not re.match(r"^[0-9a-f]{16}$", a["fingerprint"]):
            out.append("%s: fingerprint %r is not 16 hex digits" % (w, a["fingerprint"]))
    return out


# --------------------------------------------------------------------------
# SMTP (aiosmtpd)
# --------------------------------------------------------------------------

class SmtpMessage:
    """One message received over SMTP: mail_from, rcpt_tos, raw (bytes),
    message (email.message.EmailMessage), valid, problems, time, tls (bool:
    delivered after STARTTLS / over implicit TLS), auth_user (str or None),
    status (the DATA answer)."""

    def __init__(self, mail_from, rcpt_tos, raw, tls, auth_user):
        self.mail_from, self.rcpt_tos, self.raw = mail_from, list(rcpt_tos), raw
        self.tls, self.auth_user = tls, auth_user
        self.time = time.time()
        self.problems = []
        self.status = None
        self._message = None

    @property
    def message(self):
        """The parsed message (parsed on first use: a bulk test reads few of them)."""
        if self._message is None:
            self._message = email.message_from_bytes(self.raw, policy=email.policy.default)
        return self._message

    @property
    def valid(self):
        return not self.problems

    def part(self, ctype):
        """The first part of this content type (e.g. "text/plain") as text with
        \n line ends (bytes for non-text parts), or None."""
        for p in self.message.walk():
            if p.get_content_type() == ctype and not p.is_multipart():
                c = p.get_content()
                return c.replace("\r\n", "\n") if isinstance(c, str) else c
        return None

    def summary(self):
        state = "valid" if self.valid else "INVALID: " + "; ".join(self.problems)
        return "from %s to %s subject %r -> %s %s" % (self.mail_from, ",".join(self.rcpt_tos),
                                                      self.message.get("Subject"), self.status, state)

    def __repr__(self):
        return "<SmtpMessage %s>" % self.summary()


MSGID = re.compile(r"^<[^<>@\s]+@[^<>@\s]+>$")


def _addr_ok(a):
    return bool(re.match(r"^[^@\s<>]+@[^@\s<>]+$", a or ""))


def email_problems(raw, msg=None):
    """Problems of an RFC 5322 alert e-mail, [] when fine: Date, From, To,
    Subject, Message-ID present and well-formed, MIME-Version 1.0, a
    multipart/alternative with text/plain and text/html, lines <= 998 octets."""
    msg = msg or email.message_from_bytes(raw, policy=email.policy.default)
    out = []
    in_head = True
    for i, line in enumerate(raw.split(b"\n")):
        line = line.rstrip(b"\r")
        if len(line) > 998:
            out.append("%s line %d is %d octets (max 998)" % ("header" if in_head else "body", i + 1, len(line)))
        if not line:
            in_head = False
    if re.search(rb"(?<!\r)\n", raw):
        out.append("bare LF line ending (want CRLF)")
    raw_headers = email.message_from_bytes(raw, policy=email.policy.compat32)
    for h in ("Date", "From", "To", "Subject", "Message-ID", "MIME-Version"):
        n = len(raw_headers.get_all(h) or [])
        if n == 0:
            out.append("missing %s header" % h)
        elif n > 1:
            out.append("%d %s headers (want one)" % (n, h))
    date = raw_headers.get("Date")
    if date:
        try:
            if email.utils.parsedate_to_datetime(date) is None:
                raise ValueError
        except (TypeError, ValueError):
            out.append("Date %r is not an RFC 5322 date" % date)
    for h in ("From", "To"):
        v = raw_headers.get(h)
        if v:
            addrs = email.utils.getaddresses([v])
            if not addrs or not all(_addr_ok(a) for _, a in addrs):
                out.append("%s %r has no well-formed address" % (h, v))
    subj = raw_headers.get("Subject")
    if subj is not None and not str(msg.get("Subject", "")).strip():
        out.append("empty Subject")
    mid = raw_headers.get("Message-ID")
    if mid and not MSGID.match(mid.strip()):
        out.append("Message-ID %r is not <left@right>" % mid)
    mv = raw_headers.get("MIME-Version")
    if mv and mv.strip() != "1.0":
        out.append("MIME-Version %r, want 1.0" % mv)
    alt = [p for p in msg.walk() if p.get_content_type() == "multipart/alternative"]
    if not alt:
        out.append("no multipart/alternative part (Content-Type %s)" % msg.get_content_type())
    else:
        kinds = [p.get_content_type() for p in alt[0].iter_parts()]
        for want in ("text/plain", "text/html"):
            if want not in kinds:
                out.append("multipart/alternative lacks %s (has %s)" % (want, kinds))
        for p in alt[0].iter_parts():
            try:
                p.get_content()
            except (LookupError, ValueError) as e:
                out.append("%s part does not decode: %s" % (p.get_content_type(), e))
    for d in getattr(msg, "defects", []):
        out.append("parser defect: %s" % type(d).__name__)
    return out


def make_self_signed(directory, cn="localhost"):
    """A throw-away self-signed certificate for localhost/127.0.0.1 made with the
    openssl CLI; returns (cert path, key path)."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    return cert, key


class SmtpReceiver:
    """A real SMTP server (aiosmtpd) on 127.0.0.1.

    starttls: offer STARTTLS with a throw-away self-signed certificate
    (client_context() / cafile trust it); require_starttls: refuse commands other
    than EHLO/STARTTLS/QUIT before it (530); implicit_tls: SMTPS instead.
    auth=(user, password): offer AUTH LOGIN/PLAIN (only after TLS when TLS is on)
    and, with auth_required (default when auth is set), refuse MAIL before it.
    reject_rcpt: addresses answered "550 5.1.1 no such user" at RCPT;
    fail_next_data(n): answer "451 4.3.0 try again" to the next n DATA.
    reject_invalid: answer 554 to a message failing the checks (default: accept
    it like a real MTA would, recorded as invalid). check_every: run the message
    checks on one message in n (bulk tests: the checks cost more than the SMTP
    session; the first message is always checked)."""

    def __init__(self, starttls=False, require_starttls=False, implicit_tls=False, auth=None,
                 auth_required=None, reject_rcpt=(), reject_invalid=False, hostname="localhost",
                 data_size_limit=10 << 20, check_every=1):
        self.check_every = max(1, int(check_every))
        self._received = 0
        self.starttls = starttls or require_starttls
        self.require_starttls = require_starttls
        self.implicit_tls = implicit_tls
        self.auth = auth
        self.auth_required = bool(auth) if auth_required is None else auth_required
        self.reject_invalid = reject_invalid
        self.hostname = hostname
        self.data_size_limit = data_size_limit
        self.host, self.port = "127.0.0.1", None
        self._reject = {a.lower() for a in reject_rcpt}
        self._fail_data = 0
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._messages = []
        self.rcpt_rejections = []  # (address, time)
        self.auth_attempts = []    # (mechanism, user, success)
        self.session_errors = []   # repr of exceptions in a session (failed TLS handshakes, ...)
        self._tmp = None
        self.cafile = None
        self._controller = None

    # ---- lifecycle
    def start(self):
        import logging
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import SMTP, AuthResult
        logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's chatty INFO/WARNING
        rx = self
        tls_ctx = None
        if self.starttls or self.implicit_tls:
            self._tmp = tempfile.mkdtemp(prefix="dwsmtp-")
            self.cafile, key = make_self_signed(self._tmp)
            tls_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls_ctx.load_cert_chain(self.cafile, key)

        def authenticator(server, session, envelope, mechanism, auth_data):
            user = getattr(auth_data, "login", b"")
            pw = getattr(auth_data, "password", b"")
            user = user.decode("utf-8", "replace") if isinstance(user, bytes) else str(user)
            pw = pw.decode("utf-8", "replace") if isinstance(pw, bytes) else str(pw)
            good = (rx.auth is not None and hmac.compare_digest(user, rx.auth[0])
                    and hmac.compare_digest(pw, rx.auth[1]))
            with rx._lock:
                rx.auth_attempts.append((mechanism, user, good))
            return AuthResult(success=good, handled=False, auth_data=user if good else None)

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        sock.listen(64)
        self.port = sock.getsockname()[1]

        class _SMTP(SMTP):
            # aiosmtpd refuses DATA lines over 1001 octets outright; accept them
            # so the message is recorded and its over-long lines reported.
            line_length_limit = 1 << 16

        class _Controller(Controller):
            def factory(self):
                return _SMTP(self.handler, **self.SMTP_kwargs)

            def _create_server(self):
                return self.loop.create_server(self._factory_invoker, sock=sock, ssl=self.ssl_context)

        kw = dict(hostname=self.host, port=self.port, server_hostname=self.hostname, ready_timeout=10,
                  data_size_limit=self.data_size_limit, decode_data=False, timeout=30)
        if self.implicit_tls:
            kw["ssl_context"] = tls_ctx
        elif self.starttls:
            kw["tls_context"] = tls_ctx
            kw["require_starttls"] = self.require_starttls
        if self.auth:
            kw["authenticator"] = authenticator
            kw["auth_required"] = self.auth_required
            # With implicit TLS the whole session is encrypted; aiosmtpd only knows STARTTLS.
            kw["auth_require_tls"] = self.starttls and not self.implicit_tls
        self._controller = _Controller(_SmtpHandler(self), **kw)
        import warnings
        # Plain-text AUTH is the point when testing without TLS on loopback.
        warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
        self._controller.start()
        return self

    def stop(self):
        if self._controller is not None:
            try:
                self._controller.stop()
            finally:
                self._controller = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def client_context(self):
        """An ssl.SSLContext for clients that trusts this server's certificate."""
        ctx = ssl.create_default_context(cafile=self.cafile)
        return ctx

    # ---- failure injection
    def reject_rcpt(self, *addresses):
        with self._lock:
            self._reject |= {a.lower() for a in addresses}
        return self

    def fail_next_data(self, n=1):
        with self._lock:
            self._fail_data += int(n)
        return self

    # ---- records
    @property
    def messages(self):
        with self._lock:
            return list(self._messages)

    def clear(self):
        with self._lock:
            self._messages.clear()
            self.rcpt_rejections.clear()
            self.auth_attempts.clear()
            self.session_errors.clear()

    def summary(self):
        msgs = self.messages
        lines = ["SmtpReceiver on %s:%s: %d message(s), %d valid, %d RCPT rejection(s)"
                 % (self.host, self.port, len(msgs), sum(m.valid for m in msgs), len(self.rcpt_rejections))]
        for i, m in enumerate(msgs):
            lines.append("  #%d %s" % (i, m.summary()))
        return "\n".join(lines)

    def wait_for(self, n, timeout=10.0):
        """Blocks until n valid messages were accepted (250) and returns them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [m for m in self._messages if m.valid and m.status.startswith("250")]
                if len(got) >= n:
                    return got[:n]
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.1))
        raise AssertionError("timed out after %ss waiting for %d valid message(s)\n%s"
                             % (timeout, n, self.summary()))


class _SmtpHandler:
    def __init__(self, rx):
        self.rx = rx

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        rx = self.rx
        with rx._lock:
            if address.lower() in rx._reject:
                rx.rcpt_rejections.append((address, time.time()))
                return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_exception(self, error):
        # e.g. a client that aborts the STARTTLS handshake: record, don't print
        with self.rx._lock:
            self.rx.session_errors.append(repr(error.__cause__ or error))
        return "421 4.3.0 session error: %s" % type(error).__name__

    async def handle_DATA(self, server, session, envelope):
        rx = self.rx
        raw = envelope.original_content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        m = SmtpMessage(envelope.mail_from, envelope.rcpt_tos, raw, tls=tls,
                        auth_user=session.auth_data if session.authenticated else None)
        rx._received += 1  # one event loop thread: no race
        try:
            if (rx._received - 1) % rx.check_every == 0:
                m.problems = email_problems(raw, m.message)
        except Exception as e:  # a checker bug must show up as a problem
            m.problems = ["checker raised %r" % e]
        with rx._cond:
            if rx._fail_data > 0:
                rx._fail_data -= 1
                m.status = "451 4.3.0 try again"
            elif rx.reject_invalid and m.problems:
                m.status = "554 5.6.0 message rejected: " + m.problems[0][:200]
            else:
                m.status = "250 2.0.0 OK queued as %s" % uuid.uuid4().hex[:12].upper()
            rx._messages.append(m)
            rx._cond.notify_all()
        return m.status
