"""Integration tests of `dojowatch import`: offline backfill of OpenMetrics and
Prometheus text into blocks, the daemon serving them afterwards, errors with
file:line:col that leave the data directory as it was, the LOCK refusal and
the JSON summary."""
import hashlib
import json
import os
import shutil
import tempfile
import urllib.parse

from dwtest import BINARY, Daemon, cli, env_with_tokens, run, test

START = 1699999200  # 2023-11-14T22:00:00Z, on a 2 h block boundary
STEP = 60
STEPS = 181  # 3 h inclusive: two 2 h windows


def openmetrics(start=START, steps=STEPS, scale=1.0):
    """A small OpenMetrics file: a counter, a gauge with an escaped label value, a histogram."""
    out = ["# HELP backfill_requests Requests.", "# TYPE backfill_requests counter"]
    for code in ("200", "500"):
        for i in range(steps):
            v = (i * (10 if code == "200" else 1)) * scale
            out.append('backfill_requests_total{code="%s",route="/a"} %g %d'
                       % (code, v, start + i * STEP))
    out.append("# TYPE backfill_temp gauge")
    for i in range(steps):
        out.append('backfill_temp{room="say \\"hi\\""} %g %d' % (20 + (i % 7) * scale,
                                                                 start + i * STEP))
    out.append("# TYPE backfill_latency histogram")
    for i in range(steps):
        t = start + i * STEP
        for le, c in (("0.1", i), ("1.0", 2 * i), ("+Inf", 3 * i)):
            out.append('backfill_latency_bucket{le="%s"} %d %d' % (le, c, t))
        out.append("backfill_latency_sum %g %d" % (0.5 * i, t))
        out.append("backfill_latency_count %d %d" % (3 * i, t))
    out.append("# EOF")
    return "\n".join(out) + "\n"


SERIES = 2 + 1 + 5
SAMPLES = SERIES * STEPS


class Workspace:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="dwit-import-")
        self.data = os.path.join(self.tmp, "data")

    def file(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def blocks(self):
        d = os.path.join(self.data, "tsdb", "blocks")
        return sorted(n for n in os.listdir(d) if len(n) == 26) if os.path.isdir(d) else []

    def block_samples(self):
        """Samples in the raw blocks (the daemon adds downsampled ones of old data)."""
        total = 0
        for b in self.blocks():
            with open(os.path.join(self.data, "tsdb", "blocks", b, "meta.json")) as f:
                meta = json.load(f)
            if meta["resolution"] == 0:
                total += meta["stats"]["numSamples"]
        return total

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.tmp, ignore_errors=True)


def snapshot(root, skip=("LOCK",)):
    """{relative path: sha256} of every file under root (directories as None)."""
    out = {}
    if not os.path.exists(root):
        return out
    for dirpath, dirs, files in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        out[rel + "/"] = None
        for name in files:
            if name in skip:
                continue
            with open(os.path.join(dirpath, name), "rb") as f:
                out[os.path.join(rel, name)] = hashlib.sha256(f.read()).hexdigest()
    return out


def dw_import(*args):
    return cli("import", *args, timeout=120)


def query(d, q, t):
    """Instant query through /api/v1/query."""
    r = d.get("/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": str(t)}),
              token="viewer")
    assert r.status == 200, (q, r.status, r.text)
    body = r.json()
    assert body["status"] == "success", body
    return body["data"]


@test
def help_and_usage():
    rc, out, _ = dw_import("--help")
    assert rc == 0 and "--retention" in out and "file:line:col" in out, out
    rc, _, err = dw_import("--data", "/nonexistent-dir-for-test")
    assert rc == 2 and "which files" in err, err
    rc, _, err = dw_import("--retention", "forever", "--data", "x", "f.om")
    assert rc == 2 and "--retention" in err, err
    rc, _, err = cli("help")
    assert rc == 0


@test
def import_then_serve_the_blocks():
    with Workspace() as w:
        om = w.file("data.om", openmetrics())
        rc, out, err = dw_import("--data", w.data, "--retention", "100y", "-o", "json", om)
        assert rc == 0, err
        s = json.loads(out)
        assert s["ok"] is True
        assert s["samples"] == SAMPLES and s["series"] == SERIES, s
        assert s["min_time_ms"] == START * 1000, s
        assert s["max_time_ms"] == (START + (STEPS - 1) * STEP) * 1000, s
        assert s["min_time"] == "2023-11-14T22:00:00Z", s
        assert s["blocks_written"] == 2 and s["too_old"] == 0, s  # two 2 h windows
        assert s["files"][0]["format"] == "openmetrics" and s["files"][0]["samples"] == SAMPLES
        assert w.blocks() and w.block_samples() == SAMPLES
        assert err == "", err  # no progress output when stderr is not a terminal

        d = Daemon(data=w.data, args=["--retention", "100y"])
        with d:
            end = START + (STEPS - 1) * STEP
            res = query(d, "sum(backfill_requests_total)", end)
            assert res["resultType"] == "vector", res
            assert float(res["result"][0]["value"][1]) == (STEPS - 1) * 11, res
            res = query(d, 'count_over_time(backfill_temp{room="say \\"hi\\""}[4h])', end)
            assert float(res["result"][0]["value"][1]) == STEPS, res
            res = query(d, "count by (__name__) ({__name__=~\"backfill_.*\"})", end)
            assert {x["metric"]["__name__"]: float(x["value"][1]) for x in res["result"]} == {
                "backfill_requests_total": 2, "backfill_temp": 1, "backfill_latency_bucket": 3,
                "backfill_latency_sum": 1, "backfill_latency_count": 1}, res
            res = query(d, "histogram_quantile(0.5, backfill_latency_bucket)", end)
            assert len(res["result"]) == 1, res
            # The first sample, in the other block.
            res = query(d, "backfill_requests_total", START)
            assert sorted(float(x["value"][1]) for x in res["result"]) == [0, 0], res
        # Serving with a long retention neither deleted nor quarantined the blocks.
        assert w.block_samples() == SAMPLES, w.blocks()
        assert not os.path.exists(os.path.join(w.data, "tsdb", "blocks", "quarantine"))


@test
def text_format_file():
    with Workspace() as w:
        text = "".join('text_metric{i="%d"} %d %d\n' % (i % 3, i, (START + i * 15) * 1000)
                       for i in range(30))
        path = w.file("data.prom", text)
        rc, out, err = dw_import("--data", w.data, "--retention", "100y", "-o", "json", path)
        assert rc == 0, err
        s = json.loads(out)
        assert s["samples"] == 30 and s["series"] == 3 and s["files"][0]["format"] == "text", s


@test
def later_import_wins_on_equal_timestamps():
    with Workspace() as w:
        a = w.file("a.om", openmetrics())
        b = w.file("b.om", openmetrics(scale=2.0))
        for f in (a, b):
            rc, _, err = dw_import("--data", w.data, "--retention", "100y", f)
            assert rc == 0, err
        # The overlapping blocks were compacted into one range.
        assert w.block_samples() == SAMPLES, (w.blocks(), w.block_samples())
        with Daemon(data=w.data, args=["--retention", "100y"]) as d:
            end = START + (STEPS - 1) * STEP
            res = query(d, "sum(backfill_requests_total)", end)
            assert float(res["result"][0]["value"][1]) == (STEPS - 1) * 11 * 2, res


@test
def malformed_file_reports_position_and_changes_nothing():
    with Workspace() as w:
        good = w.file("good.om", openmetrics())
        rc, _, err = dw_import("--data", w.data, "--retention", "100y", good)
        assert rc == 0, err
        before = snapshot(w.data)
        assert len(w.blocks()) >= 1
        bad = w.file("bad.om", "# TYPE x gauge\nx{a=\"1\" 1 1700000000\n# EOF\n")
        # A small buffer makes the good file flush blocks before the bad one fails.
        rc, out, err = dw_import("--data", w.data, "--retention", "100y",
                                 "--max-buffered-samples", "100", good, bad)
        assert rc == 2, (rc, out, err)
        assert bad + ":2:8: " in err, err
        assert "hint:" in err and "nothing was imported" in err, err
        assert snapshot(w.data) == before, "data directory changed"

        # The same with -o json: the error as an object on stdout.
        rc, out, err = dw_import("--data", w.data, "--retention", "100y", "-o", "json", bad)
        assert rc == 2
        e = json.loads(out)
        assert e["ok"] is False and e["rolled_back"] is True, e
        assert (e["error"]["file"], e["error"]["line"], e["error"]["col"]) == (bad, 2, 8), e
        assert e["error"]["hint"], e
        assert snapshot(w.data) == before


@test
def missing_timestamp_and_seconds_in_text():
    with Workspace() as w:
        f = w.file("nots.om", "# TYPE up gauge\nup{job=\"a\"} 1\n# EOF\n")
        rc, _, err = dw_import("--data", w.data, f)
        assert rc == 2 and f + ":2:14: sample has no timestamp" in err, err
        assert "hint: backfill needs a timestamp" in err, err
        # A data directory this run created is removed again.
        assert not os.path.exists(w.data), os.listdir(w.data)
        f = w.file("secs.txt", 'up{job="a"} 1 1700000000\n')
        rc, _, err = dw_import("--data", w.data, f)
        assert rc == 2 and "looks like seconds" in err and "--format" in err, err
        rc, _, err = dw_import("--data", w.data, "--retention", "100y", "--format", "openmetrics",
                               w.file("secs.om2", 'up{job="a"} 1 1700000000\n# EOF\n'))
        assert rc == 0, err


@test
def retention_drops_old_samples_and_says_so():
    with Workspace() as w:
        om = w.file("data.om", openmetrics())
        rc, out, err = dw_import("--data", w.data, om)  # default 90d: 2023 is too old
        assert rc == 0, err
        assert "older than the retention (90d)" in out and "--retention 100y" in out, out
        assert w.blocks() == []
        rc, out, err = dw_import("--data", w.data, "-o", "json", om)
        s = json.loads(out)
        assert s["too_old"] == SAMPLES and s["samples"] == 0, s


@test
def refuses_a_data_dir_the_daemon_holds():
    with Workspace() as w:
        om = w.file("data.om", openmetrics())
        d = Daemon(data=w.data, args=["--retention", "100y"])
        with d:
            before = snapshot(os.path.join(w.data, "tsdb", "blocks"))
            rc, out, err = dw_import("--data", w.data, "--retention", "100y", om)
            assert rc == 1, (rc, out, err)
            assert "in use by another dojowatch (pid %d)" % d.proc.pid in err, err
            assert "hint: stop the daemon first" in err, err
            assert snapshot(os.path.join(w.data, "tsdb", "blocks")) == before
        # Once it has stopped, the import goes through.
        rc, _, err = dw_import("--data", w.data, "--retention", "100y", om)
        assert rc == 0, err
        assert w.block_samples() == SAMPLES


@test
def progress_only_on_a_terminal():
    import pty
    import subprocess
    with Workspace() as w:
        om = w.file("data.om", openmetrics())
        master, slave = pty.openpty()
        p = subprocess.run([BINARY, "import", "--data", w.data, "--retention", "100y", om],
                           stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
                           env=env_with_tokens(), timeout=60)
        os.close(slave)
        err = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO once the child's side is closed and drained
                break
            if not chunk:
                break
            err += chunk
        os.close(master)
        assert p.returncode == 0, err
        text = err.decode()
        assert "\r\x1b[Kimport: " in text and "samples/s, writing blocks" in text, repr(text)
        assert text.endswith("\r\x1b[K"), repr(text)  # the line is cleared for the summary
        assert b"imported %d samples" % SAMPLES in p.stdout.replace(b",", b""), p.stdout


@test
def json_summary_of_several_files():
    with Workspace() as w:
        a = w.file("a.om", openmetrics())
        b = w.file("b.om", openmetrics(start=START + 4 * 3600))
        rc, out, err = dw_import("--data", w.data, "--retention", "100y", "-o", "json", a, b)
        assert rc == 0, err
        s = json.loads(out)
        for key in ("samples", "series", "blocks_written", "compactions", "min_time", "max_time",
                    "seconds", "too_old", "duplicates", "files", "data_dir", "blocks_dir"):
            assert key in s, key
        assert s["samples"] == 2 * SAMPLES and s["series"] == SERIES, s
        assert [f["samples"] for f in s["files"]] == [SAMPLES, SAMPLES], s
        assert s["max_time_ms"] == (START + 4 * 3600 + (STEPS - 1) * STEP) * 1000, s
        assert s["blocks_written"] >= 3, s
        assert w.block_samples() == 2 * SAMPLES


run()
