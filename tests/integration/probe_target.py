#!/usr/bin/env python3
"""probe_target - good and bad targets on 127.0.0.1 for dojowatch's synthetic probes.

Python 3 standard library only (plus the `openssl` command for a certificate).
Every listener takes a free port; the first line on stdout is JSON naming them:

  {"http": P, "https": P, "tcp": P, "tcps": P, "dns": P, "refused": P, "silent": P,
   "cert": "/tmp/.../cert.pem", "cert_days": 20}

The server runs until its stdin closes (the test that started it went away) or
SIGTERM.

HTTP and HTTPS (same endpoints; the certificate is self-signed for localhost and
127.0.0.1, generated at start, valid for --cert-days days):
  /ok                  200 {"status":"ok","items":[1,2,3],"version":"1.2.3"}
  /degraded            200 {"status":"degraded"}
  /text                200 text/plain "hello dojowatch"
  /status/N            status N
  /delay/MS            {"status":"ok"} after MS milliseconds
  /slow                200, then one body byte every 0.2 s for a minute (slow drip)
  /slowhead            waits 30 s before answering at all
  /huge                200 with Content-Length 64 MiB, streamed
  /huge-stream         200 without a length, streamed until the client leaves
  /loop/a, /loop/b     redirect to each other forever
  /redirect/N          N redirects, then /ok
  /garbage             not HTTP at all
  /login               GET: an HTML form with a csrf token and a session cookie
  /api/login           POST {"user": U} with the cookie and X-CSRF-Token -> {"token": ...}
  /api/me              GET with the cookie and "Authorization: Bearer <token>" -> {"status":"ok"}
  /cdn/V               CDN cache headers, V one of cs-hit, cs-miss, cf-hit, cf-miss,
                       xcache-hit, xcache-miss, age, none
  /device              {"device": "mobile"|"desktop", ...} from the User-Agent
  /headers             the request headers as JSON
  /ws                  WebSocket: answers pings with pongs, echoes messages
  /ws-nopong           WebSocket that never answers pings
  /ws-drop?every=S     WebSocket whose connection is cut S seconds after it opened
  /ws-bad              answers 200 instead of upgrading
TCP (tcp plain, tcps TLS): answers a line "PING" with "+PONG", "BANNER" with
  "+OK dojowatch", anything else is echoed.
DNS (UDP): ok.test A 192.0.2.10 / AAAA 2001:db8::10, two.test two A records,
  nx.test NXDOMAIN, fail.test SERVFAIL, drop.test never answered, retry.test
  answered only from the second copy of a query on, anything else NXDOMAIN.
refused: a port nobody listens on. silent: a port that accepts connections and
  never says anything.
"""
import argparse
import base64
import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from dwtest import free_port

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CSRF = "csrf-5f2b9c"
SESSION = "sess-81d3aa"
MB = 1 << 20

CDN_VARIANTS = {
    "cs-hit": [("Cache-Status", "edge-fra1; hit; ttl=100")],
    "cs-miss": [("Cache-Status", "edge-fra1; fwd=uri-miss; stored")],
    "cf-hit": [("CF-Cache-Status", "HIT"), ("Age", "33")],
    "cf-miss": [("CF-Cache-Status", "MISS")],
    "xcache-hit": [("X-Cache", "HIT from edge-ams2")],
    "xcache-miss": [("X-Cache", "MISS from edge-ams2")],
    "age": [("Age", "120"), ("Via", "1.1 varnish (Varnish/7.1)")],
    "none": [],
}


# ---- HTTP ----

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "probe-target/1"

    def log_message(self, *args):
        pass

    def handle(self):
        try:
            super().handle()
        except (ConnectionError, ssl.SSLError, OSError, socket.timeout):
            pass  # the prober gave up or the TLS handshake failed: both expected

    def send_body(self, status, body, ctype="application/json", headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def redirect(self, where):
        self.send_response(302)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def cookie(self, name):
        for part in (self.headers.get("Cookie") or "").split(";"):
            k, _, v = part.strip().partition("=")
            if k == name:
                return v
        return None

    def do_HEAD(self):
        self.do_GET()

    def do_POST(self):
        self.route()

    def do_GET(self):
        self.route()

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        path, query = url.path, urllib.parse.parse_qs(url.query)
        parts = path.strip("/").split("/")
        simple = {
            "/ok": lambda: self.send_body(200, {"status": "ok", "items": [1, 2, 3], "version": "1.2.3"}),
            "/degraded": lambda: self.send_body(200, {"status": "degraded"}),
            "/text": lambda: self.send_body(200, "hello dojowatch", "text/plain"),
            "/slow": self.slow_drip,
            "/slowhead": self.slow_head,
            "/huge": lambda: self.huge(True),
            "/huge-stream": lambda: self.huge(False),
            "/garbage": self.garbage,
            "/login": self.login_page,
            "/api/login": self.api_login,
            "/api/me": self.api_me,
            "/device": self.device,
            "/headers": lambda: self.send_body(200, {k: v for k, v in self.headers.items()}),
            "/ws": lambda: self.websocket("echo", query),
            "/ws-nopong": lambda: self.websocket("nopong", query),
            "/ws-drop": lambda: self.websocket("drop", query),
            "/ws-bad": lambda: self.send_body(200, "no upgrade here", "text/plain"),
        }
        if path in simple:
            simple[path]()
        elif parts[0] == "status" and len(parts) == 2 and parts[1].isdigit():
            self.send_body(int(parts[1]), "status %s" % parts[1], "text/plain")
        elif parts[0] == "delay" and len(parts) == 2 and parts[1].isdigit():
            time.sleep(int(parts[1]) / 1000.0)
            self.send_body(200, {"status": "ok", "delayed_ms": int(parts[1])})
        elif parts[0] == "loop" and len(parts) == 2:
            self.redirect("/loop/" + ("b" if parts[1] == "a" else "a"))
        elif parts[0] == "redirect" and len(parts) == 2 and parts[1].isdigit():
            n = int(parts[1])
            self.redirect("/redirect/%d" % (n - 1) if n > 1 else "/ok")
        elif parts[0] == "cdn" and len(parts) == 2 and parts[1] in CDN_VARIANTS:
            self.send_body(200, "cached thing", "text/plain", CDN_VARIANTS[parts[1]])
        else:
            self.send_body(404, {"error": "not found", "path": path})

    def slow_drip(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "300")
        self.end_headers()
        for _ in range(300):
            self.wfile.write(b".")
            self.wfile.flush()
            time.sleep(0.2)

    def slow_head(self):
        time.sleep(30)
        self.send_body(200, "finally", "text/plain")

    def huge(self, with_length):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if with_length:
            self.send_header("Content-Length", str(64 * MB))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        chunk = b"x" * 65536
        for _ in range(64 * MB // len(chunk)):
            self.wfile.write(chunk)

    def garbage(self):
        self.wfile.write(b"THIS IS NOT HTTP\r\n\r\n")
        self.close_connection = True

    def login_page(self):
        html = ('<html><form method="post" action="/api/login">'
                '<input type="hidden" name="csrf" value="%s"></form></html>' % CSRF)
        self.send_body(200, html, "text/html",
                       [("Set-Cookie", "session=%s; Path=/; HttpOnly" % SESSION)])

    def api_login(self):
        body = self.read_body()
        if self.command != "POST":
            return self.send_body(405, {"error": "POST only"})
        if self.cookie("session") != SESSION:
            return self.send_body(403, {"error": "no session cookie"})
        if self.headers.get("X-CSRF-Token") != CSRF:
            return self.send_body(403, {"error": "bad csrf token"})
        try:
            user = json.loads(body or b"{}").get("user") or "anonymous"
        except ValueError:
            return self.send_body(400, {"error": "body is not JSON"})
        self.send_body(200, {"token": "tok-" + user, "user": user})

    def api_me(self):
        auth = self.headers.get("Authorization") or ""
        if self.cookie("session") != SESSION or not auth.startswith("Bearer tok-"):
            return self.send_body(401, {"error": "log in first"})
        self.send_body(200, {"status": "ok", "user": auth[len("Bearer tok-"):], "feature": "dashboard"})

    def device(self):
        ua = self.headers.get("User-Agent") or ""
        mobile = "Mobile" in ua or self.headers.get("Sec-CH-UA-Mobile") == "?1"
        self.send_body(200, {"device": "mobile" if mobile else "desktop", "ua": ua,
                             "viewport": self.headers.get("Viewport-Width")})

    # ---- WebSocket (RFC 6455, server side) ----

    def websocket(self, mode, query):
        key = self.headers.get("Sec-WebSocket-Key")
        if (self.headers.get("Upgrade") or "").lower() != "websocket" or not key:
            return self.send_body(400, {"error": "not a WebSocket upgrade"})
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        proto = self.headers.get("Sec-WebSocket-Protocol")
        if proto:
            self.send_header("Sec-WebSocket-Protocol", proto.split(",")[0].strip())
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        every = float((query.get("every") or ["1"])[0])
        self.ws_loop(mode, time.time() + every if mode == "drop" else None)

    def ws_loop(self, mode, cut_at):
        while True:
            try:
                if cut_at is not None:
                    left = cut_at - time.time()
                    if left <= 0:
                        raise socket.timeout()
                    self.connection.settimeout(left)
                frame = read_frame(self.rfile)
            except socket.timeout:
                self.connection.shutdown(socket.SHUT_RDWR)  # the drop
                return
            if frame is None:
                return
            opcode, payload = frame
            if opcode == 9 and mode != "nopong":
                self.wfile.write(encode_frame(10, payload))
            elif opcode in (1, 2):
                self.wfile.write(encode_frame(opcode, payload))
            elif opcode == 8:
                self.wfile.write(encode_frame(8, payload[:2]))
                return
            self.wfile.flush()


def read_exact(f, n):
    data = b""
    while len(data) < n:
        chunk = f.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_frame(f):
    head = read_exact(f, 2)
    if head is None:
        return None
    opcode, n = head[0] & 0x0F, head[1] & 0x7F
    masked = head[1] & 0x80
    if n == 126:
        ext = read_exact(f, 2)
        n = struct.unpack("!H", ext)[0] if ext else 0
    elif n == 127:
        ext = read_exact(f, 8)
        n = struct.unpack("!Q", ext)[0] if ext else 0
    mask = read_exact(f, 4) if masked else b"\0\0\0\0"
    payload = read_exact(f, n) if n else b""
    if mask is None or payload is None:
        return None
    return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def encode_frame(opcode, payload):
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # many probes connect at once

    def handle_error(self, request, client_address):
        pass  # broken pipes and failed handshakes are what bad-target tests provoke


def tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def wrap_tls(server, ctx):
    # The handshake happens on first read, in the handler's thread, so a client
    # that never finishes it cannot block accept().
    server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)


# ---- TCP line service ----

class LineHandler(socketserver.StreamRequestHandler):
    def handle(self):
        try:
            for raw in self.rfile:
                line = raw.strip()
                if line == b"PING":
                    self.wfile.write(b"+PONG\r\n")
                elif line == b"BANNER":
                    self.wfile.write(b"+OK dojowatch\r\n")
                elif line == b"QUIT":
                    return
                else:
                    self.wfile.write(raw)
                self.wfile.flush()
        except (ConnectionError, ssl.SSLError, OSError):
            pass


class LineServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        pass


# ---- DNS ----

def parse_question(data):
    pos, labels = 12, []
    while pos < len(data):
        n = data[pos]
        if n == 0:
            break
        labels.append(data[pos + 1:pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    qtype, _qclass = struct.unpack("!HH", data[pos + 1:pos + 5])
    return ".".join(labels).lower(), qtype, data[12:pos + 5]


def dns_answer(query, rcode, records):
    qid, flags = struct.unpack("!HH", query[:4])
    _name, _qtype, question = parse_question(query)
    out_flags = 0x8000 | (flags & 0x0100) | 0x0080 | rcode  # QR, RD copied, RA
    head = struct.pack("!HHHHHH", qid, out_flags, 1, len(records), 0, 0)
    body = b""
    for rtype, rdata in records:
        body += struct.pack("!HHHIH", 0xC00C, rtype, 1, 300, len(rdata)) + rdata
    return head + question + body


class DnsResponder(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.seen = {}

    def run(self):
        while True:
            data, peer = self.sock.recvfrom(4096)
            try:
                reply = self.answer(data)
            except (struct.error, IndexError):
                continue
            if reply is not None:
                self.sock.sendto(reply, peer)

    def answer(self, data):
        name, qtype, _ = parse_question(data)
        a = lambda ip: (1, socket.inet_aton(ip))
        aaaa = lambda ip: (28, socket.inet_pton(socket.AF_INET6, ip))
        if name == "drop.test":
            return None
        if name == "retry.test":
            key = data[:2]
            self.seen[key] = self.seen.get(key, 0) + 1
            if self.seen[key] < 2:
                return None
            return dns_answer(data, 0, [a("192.0.2.20")] if qtype == 1 else [])
        if name == "ok.test":
            recs = [a("192.0.2.10")] if qtype == 1 else [aaaa("2001:db8::10")] if qtype == 28 else []
            return dns_answer(data, 0, recs)
        if name == "two.test":
            return dns_answer(data, 0, [a("192.0.2.1"), a("192.0.2.2")] if qtype == 1 else [])
        if name == "fail.test":
            return dns_answer(data, 2, [])
        return dns_answer(data, 3, [])


# ---- setup ----

def make_cert(tmp, days):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", str(days),
                    "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key



def serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cert-days", type=int, default=20)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="probe-target-")
    try:
        cert, key = make_cert(tmp, args.cert_days)
        ctx = tls_context(cert, key)
        http_srv = Server(("127.0.0.1", 0), Handler)
        https_srv = Server(("127.0.0.1", 0), Handler)
        wrap_tls(https_srv, ctx)
        tcp_srv = LineServer(("127.0.0.1", 0), LineHandler)
        tcps_srv = LineServer(("127.0.0.1", 0), LineHandler)
        wrap_tls(tcps_srv, ctx)
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(256)  # never accepted: the kernel completes connects, no one answers
        dns = DnsResponder()
        dns.start()
        ports = {"http": serve(http_srv), "https": serve(https_srv), "tcp": serve(tcp_srv),
                 "tcps": serve(tcps_srv), "dns": dns.port, "refused": free_port(),
                 "silent": silent.getsockname()[1], "cert": cert, "cert_days": args.cert_days}
        print(json.dumps(ports), flush=True)
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
