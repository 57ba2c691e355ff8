"""Integration tests of the time-series store's persistence inside the daemon:
with the test clock, samples ingested by remote write over more than 3 hours
are cut into a block by the tsdb maintenance thread (seen in /metrics and on
disk), read back through /api/v1/query, and survive a restart (SIGTERM) and a
kill -9 with the same sample count: the WAL replays only what the block does
not hold."""
import calendar
import os
import shutil
import signal
import tempfile
import time
import urllib.parse

import rwproto
from collectcfg import config_with
from dwtest import Daemon, metric_value, run, test, wait_until

# The example plan without collection: these tests count every sample stored.
QUIET = config_with("scrape: {host: {enabled: false}}\nprobes: {checks: []}\nrules: {files: []}\n")

START = "2026-12-01T08:00:00Z"  # a multiple of the 2 h block range
T0 = calendar.timegm(time.strptime(START, "%Y-%m-%dT%H:%M:%SZ")) * 1000
MIN = 60 * 1000
SERIES = 3


def rfc3339(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


def advance(d, by):
    r = d.post("/-/test/clock", token="admin", data={"advance": by})
    assert r.status == 200, r.text


def write(d, t_from, t_to):
    """One sample a minute per series for t_from <= t < t_to."""
    series = [({"__name__": "persist_test", "i": str(i)},
               [(t, t / 1000.0 + i) for t in range(t_from, t_to, MIN)]) for i in range(SERIES)]
    r = d.post("/api/v1/write", token="responder", data=rwproto.body(series), headers=rwproto.HEADERS)
    assert r.status == 204, (r.status, r.text)


def metrics(d):
    return d.get("/metrics").text


def gauge(d, name, labels=None):
    return metric_value(metrics(d), name, labels)


def query(d, q, at_ms):
    params = urllib.parse.urlencode({"query": q, "time": "%.3f" % (at_ms / 1000.0)})
    r = d.get("/api/v1/query?" + params, token="viewer")
    assert r.status == 200, (r.status, r.text)
    body = r.json()
    assert body["status"] == "success", body
    return {tuple(sorted(s["metric"].items())): float(s["value"][1]) for s in body["data"]["result"]}


def wait_published(d, name, value, labels=None, what=None):
    wait_until(lambda: gauge(d, name, labels) == value, timeout=10, what=what or name)


def check_totals(d, total, at_ms):
    """Blocks plus head hold every sample once; the query API agrees."""
    block = gauge(d, "dojowatch_tsdb_block_samples")
    head = gauge(d, "dojowatch_tsdb_head_samples")
    assert block + head == total, (block, head, total)
    got = query(d, "count_over_time(persist_test[6h])", at_ms)
    assert sum(got.values()) == total, got
    # A sample from the block and one from the head, exact values.
    v = query(d, 'persist_test{i="1"}', T0 + 60 * MIN)
    assert list(v.values()) == [(T0 + 60 * MIN) / 1000.0 + 1], v
    v = query(d, 'persist_test{i="2"}', T0 + 190 * MIN)
    assert list(v.values()) == [(T0 + 190 * MIN) / 1000.0 + 2], v


@test
def head_is_cut_into_a_block_and_survives_restarts():
    tmp = tempfile.mkdtemp(prefix="dwit-persist-")
    data = os.path.join(tmp, "data")
    started = []

    def daemon(at):
        started.append(Daemon(config=QUIET, data=data, args=["--test-clock=" + at]).start())
        return started[-1]

    d = daemon(START)
    try:
        assert gauge(d, "dojowatch_tsdb_blocks", {"resolution": "raw"}) == 0
        assert d.get("/-/ready").status == 200
        # 3 h 15 min of samples, written as the clock moves (never ahead of it).
        now = T0
        write(d, T0, T0 + 1)
        for _ in range(13):
            advance(d, "15m")
            write(d, now + MIN, now + 15 * MIN + 1)
            now += 15 * MIN
        total = SERIES * (195 + 1)
        advance(d, "1m")  # wakes the tsdb thread once more, after the last write
        now += MIN
        wait_published(d, "dojowatch_tsdb_blocks", 1, {"resolution": "raw"}, "a block cut")
        wait_published(d, "dojowatch_tsdb_head_samples", total - SERIES * 120, what="head truncated")
        m = metrics(d)
        assert metric_value(m, "dojowatch_tsdb_block_samples") == SERIES * 120  # [08:00, 10:00)
        assert metric_value(m, "dojowatch_tsdb_head_cuts_total") == 1
        assert metric_value(m, "dojowatch_tsdb_persisted_until_timestamp_seconds") == (T0 + 120 * MIN) / 1000
        assert metric_value(m, "dojowatch_tsdb_last_cut_timestamp_seconds") > T0 / 1000
        assert metric_value(m, "dojowatch_tsdb_block_bytes") > 0
        assert "head range persisted" in d.logs() and "component=tsdb msg=maintenance" in d.logs()
        blocks = os.path.join(data, "tsdb", "blocks")
        ids = [b for b in os.listdir(blocks) if len(b) == 26]
        assert len(ids) == 1 and os.path.exists(os.path.join(blocks, ids[0], "meta.json")), os.listdir(blocks)
        assert any(f.startswith("checkpoint.") for f in os.listdir(os.path.join(data, "tsdb", "wal")))
        check_totals(d, total, now)
        rc, _ = d.stop()
        assert rc == 0, d.logs()[-3000:]

        # Restart: the block is served, the WAL replays only the head's rest.
        d = daemon(rfc3339(now))
        assert gauge(d, "dojowatch_tsdb_blocks", {"resolution": "raw"}) == 1
        assert gauge(d, "dojowatch_tsdb_samples_appended_total") == total - SERIES * 120
        check_totals(d, total, now)
        # Samples older than the block's end are refused, newer ones go on.
        r = d.post("/api/v1/write", token="responder", headers=rwproto.HEADERS,
                   data=rwproto.body([({"__name__": "persist_test", "i": "0"}, [(T0 + 119 * MIN, 1.0)])]))
        assert r.status == 400 and "out of bounds" in r.json()["error"], r.text
        write(d, now + MIN, now + 2 * MIN)
        total += SERIES
        now += MIN
        # kill -9: nothing acknowledged is lost, nothing doubles.
        d.kill9()
        d = daemon(rfc3339(now))
        check_totals(d, total, now)
        assert gauge(d, "dojowatch_tsdb_blocks", {"resolution": "raw"}) == 1
        rc, _ = d.stop()
        assert rc == 0, d.logs()[-3000:]
        assert "ERROR: AddressSanitizer" not in d.logs() and "runtime error:" not in d.logs()
    finally:
        for x in started:
            x.stop(sig=signal.SIGKILL)
            shutil.rmtree(x.tmp, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


@test
def series_dropped_from_the_head_can_come_back():
    """A series that stopped is dropped from the head once its samples are in a
    block; the remote-write threads' series cache still knows its old ref, so
    sending it again must fall back to its labels and store the sample."""
    d = Daemon(config=QUIET, args=["--test-clock=" + START]).start()
    try:
        def send(series):
            r = d.post("/api/v1/write", token="responder", headers=rwproto.HEADERS,
                       data=rwproto.body(series))
            assert r.status == 204, (r.status, r.text)

        gone = {"__name__": "comeback_test", "who": "gone"}
        stays = {"__name__": "comeback_test", "who": "stays"}
        now = T0
        for _ in range(13):  # 3 h 15 min; "gone" only during the first hour
            batch = [(stays, [(now, 1.0)])]
            if now < T0 + 60 * MIN:
                batch.append((gone, [(now, 2.0)]))
            for _ in range(4):  # several requests, so both HTTP threads cache both series
                send(batch)
            advance(d, "15m")
            now += 15 * MIN
        advance(d, "1m")
        now += MIN
        wait_published(d, "dojowatch_tsdb_blocks", 1, {"resolution": "raw"}, "a block cut")
        wait_published(d, "dojowatch_tsdb_head_series", 1, what="the stopped series dropped")
        for k in range(4):
            send([(gone, [(now + k * 1000, 3.0 + k)])])
        got = query(d, 'comeback_test{who="gone"}', now + 3000)
        assert list(got.values()) == [6.0], got
        advance(d, "1m")  # the tsdb thread publishes the head's size again
        wait_published(d, "dojowatch_tsdb_head_series", 2, what="the series back in the head")
    finally:
        d.stop(sig=signal.SIGKILL)
        shutil.rmtree(d.tmp, ignore_errors=True)


run()
