#!/usr/bin/python3
"""Tests of the benchmark helpers: python3 bench/lib/test_benchlib.py (a few seconds).

The benchmarks' figures are only as good as these pieces: the bodies cut
from a text file must carry every line once, CPU and size accounting must
count what they claim, and every server started must be stopped.
"""
import os
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import benchlib as bl  # noqa: E402


def sample_file(path, families=5, series=7, steps=40):
    lines = []
    for f in range(families):
        lines.append("# HELP fam%d_total Family %d." % (f, f))
        lines.append("# TYPE fam%d_total counter" % f)
        for s in range(series):
            for t in range(steps):
                lines.append('fam%d_total{instance="host-%d"} %d %d' % (f, s, t * 3, 1000 * t))
    Path(path).write_text("\n".join(lines) + "\n")
    return lines


class TextChunks(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.tmp.name, "data.prom")

    def tearDown(self):
        self.tmp.cleanup()

    def test_every_sample_once_and_bodies_bounded(self):
        lines = sample_file(self.path)
        limit = 1500
        bodies = list(bl.text_chunks(self.path, limit))
        self.assertGreater(len(bodies), 10)
        for b in bodies:
            self.assertLessEqual(len(b), limit)
            self.assertTrue(b.endswith(b"\n"))
        got = [ln for b in bodies for ln in b.decode().splitlines() if not ln.startswith("#")]
        want = [ln for ln in lines if not ln.startswith("#")]
        self.assertEqual(got, want)

    def test_body_starting_mid_family_gets_its_type(self):
        sample_file(self.path)
        for b in bl.text_chunks(self.path, 1500):
            first = b.decode().splitlines()[0]
            self.assertTrue(first.startswith("# HELP fam"), first)
            # The header names the family of the first sample that follows it.
            fam = first.split()[2]
            sample = next(ln for ln in b.decode().splitlines() if not ln.startswith("#"))
            self.assertTrue(sample.startswith(fam + "{"), (fam, sample))

    def test_whole_file_in_one_body_is_unchanged(self):
        sample_file(self.path, families=2, series=2, steps=3)
        data = Path(self.path).read_bytes()
        self.assertEqual(list(bl.text_chunks(self.path, 1 << 20)), [data])

    def test_missing_final_newline_is_added(self):
        Path(self.path).write_text("a 1 1000\nb 2 1000")
        self.assertEqual(list(bl.text_chunks(self.path, 1 << 20)), [b"a 1 1000\nb 2 1000\n"])

    def test_line_longer_than_limit_is_an_error(self):
        Path(self.path).write_text("short 1 1000\n" + "x" * 300 + " 1 1000\n")
        with self.assertRaises(ValueError):
            list(bl.text_chunks(self.path, 100))


class Accounting(unittest.TestCase):
    def test_tree_bytes_counts_apparent_size_and_excludes(self):
        with tempfile.TemporaryDirectory() as d:
            Path(d, "a").write_bytes(b"x" * 1000)
            Path(d, "sub").mkdir()
            Path(d, "sub", "b").write_bytes(b"y" * 234)
            Path(d, "LOCK").write_bytes(b"z" * 50)
            os.symlink(os.path.join(d, "a"), os.path.join(d, "link"))
            self.assertEqual(bl.tree_bytes(d), 1284)
            self.assertEqual(bl.tree_bytes(d, exclude={"LOCK"}), 1234)
            self.assertEqual(bl.tree_bytes(d, exclude={"sub", "LOCK"}), 1000)
            self.assertGreaterEqual(bl.tree_bytes(d, allocated=True), 1284)

    def test_last_json_object_after_log_lines(self):
        with tempfile.TemporaryDirectory() as d:
            log = Path(d, "log")
            log.write_text('ts=1 level=warn msg="x"\n{\n  "a": 1\n}\n{\n  "ok": true,\n'
                           '  "n": {\n    "b": 2\n  }\n}\n')
            self.assertEqual(bl.last_json_object(log), {"ok": True, "n": {"b": 2}})
            log.write_text("no json here\n")
            self.assertIsNone(bl.last_json_object(log))
            self.assertIsNone(bl.last_json_object(Path(d, "missing")))

    def test_run_timed_reads_child_cpu(self):
        with tempfile.TemporaryDirectory() as d:
            spin = "import time\nt=time.process_time()\nwhile time.process_time()-t<0.3: pass\n"
            r = bl.run_timed([sys.executable, "-c", spin], os.path.join(d, "log"))
            self.assertEqual(r["rc"], 0)
            self.assertGreaterEqual(r["cpu_s"], 0.28)
            self.assertLess(r["cpu_s"], 5)
            r = bl.run_timed([sys.executable, "-c", "raise SystemExit(3)"], os.path.join(d, "log"))
            self.assertEqual(r["rc"], 3)

    def test_proc_cpu_and_mem_of_self(self):
        c0 = bl.proc_cpu_s(os.getpid())
        t = time.process_time()
        while time.process_time() - t < 0.2:
            pass
        self.assertGreaterEqual(bl.proc_cpu_s(os.getpid()) - c0, 0.15)
        mem = bl.proc_mem(os.getpid())
        self.assertGreater(mem["VmRSS"], 1 << 20)
        self.assertGreaterEqual(mem["VmHWM"], mem["VmRSS"])


class Servers(unittest.TestCase):
    def test_start_ready_stop(self):
        with tempfile.TemporaryDirectory() as d:
            port = bl.free_port()
            srv = bl.Server("http.server", [sys.executable, "-m", "http.server", "--bind",
                                            "127.0.0.1", str(port)],
                            os.path.join(d, "log"), "http://127.0.0.1:%d/" % port, cwd=d)
            ready = srv.start(timeout=30)
            self.assertLess(ready, 30)
            pid = srv.pid
            self.assertIn(pid, bl._LIVE)
            status, _ = bl.http("GET", "http://127.0.0.1:%d/" % port)
            self.assertEqual(status, 200)
            srv.stop()
            self.assertNotIn(pid, bl._LIVE)
            self.assertFalse(os.path.exists("/proc/%d" % pid))

    def test_exit_before_ready_is_reported(self):
        with tempfile.TemporaryDirectory() as d:
            srv = bl.Server("false", [sys.executable, "-c", "print('boom'); raise SystemExit(4)"],
                            os.path.join(d, "log"), "http://127.0.0.1:%d/" % bl.free_port())
            with self.assertRaises(bl.ServerError) as cm:
                srv.start(timeout=30)
            self.assertIn("status 4", str(cm.exception))
            self.assertIn("boom", str(cm.exception))
            self.assertEqual(bl._LIVE, {})


class Figures(unittest.TestCase):
    def test_fmt_and_ratio(self):
        self.assertEqual(bl.fmt_num(1730.4), "1,730")
        self.assertEqual(bl.fmt_num(999.6), "1000")
        self.assertEqual(bl.fmt_num(12345.6), "12,346")
        self.assertEqual(bl.fmt_num(1.154), "1.15")
        self.assertEqual(bl.fmt_num(0.8123), "0.812")
        self.assertEqual(bl.fmt_num("not yet"), "not yet")
        self.assertEqual(bl.ratio(2.0, 4.0), 0.5)
        self.assertIsNone(bl.ratio("not yet", 4.0))
        self.assertIsNone(bl.ratio(1.0, 0))
        self.assertEqual(bl.median([3, "n/a", 1, 2]), 2)

    def test_table_aligns_columns(self):
        t = bl.format_table(["figure", "a", "b"], [["x", 1.5, "not yet"], ["longer", 100.0, 2]])
        lines = t.splitlines()
        self.assertEqual(len({ln.index("|") for ln in lines if "|" in ln}), 1)
        self.assertIn("not yet", lines[2])


if __name__ == "__main__":
    prog = unittest.main(exit=False, verbosity=1)
    r = prog.result
    failed = len(r.failures) + len(r.errors)
    print("test_benchlib: %d passed, %d failed" % (r.testsRun - failed, failed))
    sys.exit(1 if failed else 0)
