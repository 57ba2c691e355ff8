#!/usr/bin/python3
"""receiver.py PORT [--fail none|alternate|random] [--seed N] - the webhook receiver of
bench/notify: a lean HTTP/1.1 server on 127.0.0.1 (asyncio, one process, no thread per
connection) that takes every POST, answers at once and keeps what it needs in memory.

Why not http.server: bench/notify sends 10,000 or more webhook requests in a burst, and
Alertmanager opens a connection per concurrent group flush. ThreadingHTTPServer (what
../shared/bench/alertlat/webhook.py uses) starts a thread per connection, parses headers with
the email package and listens with a backlog of 5, so a burst of connects waits for SYN
retransmits: the receiver, not the sender, would be measured. This one listens with a backlog
of 4,096, parses only the request line and Content-Length, and answers before decoding the
body.

Per POST it records: the wall-clock time the request's header block was complete (taken
before the body is read), the status it answered, and the body (the driver decodes and checks
the webhook v4 documents after the run, so the receiver does no checking on the hot path
beyond pulling the alertnames out for its counters).

Answers: --fail none: always 200. --fail alternate: every other POST answers 500 (the first
one fails), whatever its group. --fail random: 500 with probability 0.5 from a seeded RNG.

Control routes (GET, answered 200 with JSON):
  /-/ready    {}
  /-/stats    {"requests", "ok", "distinct_ok"}: POSTs seen, answered 2xx, distinct
              alertnames that got a 2xx
  /-/records  every POST as [arrival time, status, body as text], in arrival order
"""
import argparse
import asyncio
import json
import random
import sys
import time

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
FAIL = (b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 17\r\n\r\nbench: scripted\r\n")
MAX_BODY = 8 << 20


class State:
    def __init__(self, mode, seed):
        self.mode = mode
        self.rng = random.Random(seed)
        self.n = 0
        self.ok = 0
        self.records = []  # [t, status, body bytes]
        self.delivered = set()

    def answer(self):
        self.n += 1
        if self.mode == "alternate":
            return 500 if self.n % 2 == 1 else 200
        if self.mode == "random":
            return 500 if self.rng.random() < 0.5 else 200
        return 200


def alertnames(body):
    try:
        doc = json.loads(body)
        return [a["labels"]["alertname"] for a in doc.get("alerts") or []]
    except (ValueError, KeyError, TypeError, AttributeError):
        return []


def json_reply(obj, close):
    body = json.dumps(obj).encode()
    head = ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
            % (len(body), "Connection: close\r\n" if close else ""))
    return head.encode() + body


async def handle(st, reader, writer):
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                break
            t = time.time()
            lines = head.split(b"\r\n")
            parts = lines[0].split(b" ")
            method = parts[0]
            path = parts[1] if len(parts) > 1 else b"/"
            length, close = 0, lines[0].endswith(b"HTTP/1.0")
            for ln in lines[1:]:
                k, _, v = ln.partition(b":")
                k = k.strip().lower()
                if k == b"content-length":
                    length = int(v.strip())
                elif k == b"connection":
                    close = v.strip().lower() == b"close"
                elif k == b"transfer-encoding" and b"chunked" in v.lower():
                    close = True  # not sent by the peers measured here
                elif k == b"expect" and v.strip().lower() == b"100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            if length > MAX_BODY:
                break
            body = await reader.readexactly(length) if length else b""
            if method == b"POST":
                status = st.answer()
                writer.write(OK if status == 200 else FAIL)
                st.records.append([t, status, body])
                if status == 200:
                    st.ok += 1
                    st.delivered.update(alertnames(body))
            elif path == b"/-/stats":
                writer.write(json_reply({"requests": len(st.records), "ok": st.ok,
                                         "distinct_ok": len(st.delivered)}, close))
            elif path == b"/-/records":
                writer.write(json_reply([[r[0], r[1], r[2].decode("utf-8", "replace")]
                                         for r in st.records], close))
            else:
                writer.write(json_reply({}, close))
            if close:
                break
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            await writer.drain()
            writer.close()
        except (ConnectionError, RuntimeError):
            pass


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("port", type=int)
    ap.add_argument("--fail", choices=("none", "alternate", "random"), default="none")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    st = State(a.fail, a.seed)
    srv = await asyncio.start_server(lambda r, w: handle(st, r, w), "127.0.0.1", a.port,
                                     backlog=4096, limit=1 << 20)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
