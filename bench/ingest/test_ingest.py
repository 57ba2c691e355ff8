#!/usr/bin/python3
"""Tests of the ingest benchmark's own logic: python3 bench/ingest/test_ingest.py (~15 s).

The dojowatch column cannot be measured until the engine's ingestion lands,
so its steps run here against a stand-in: a small Python program that
answers like `dojowatch` will (serve with bearer auth, remote write, text
import, `import` subcommand, restart). That proves the plumbing (arguments,
Authorization header, restart timing, disk accounting) so the real binary
only has to keep those contracts; it also checks that the current binary's
404s become "not yet" cells.
"""
import json
import os
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
sys.path.insert(0, str(HERE))
import benchlib as bl  # noqa: E402
import ingest  # noqa: E402

# Speaks the contract the benchmark expects of dojowatch. Every POST must
# carry the admin token; bodies are appended to files in the data dir so
# that a restart, the import and the disk accounting have something real.
FAKE_DOJOWATCH = textwrap.dedent('''\
    #!/usr/bin/python3
    import http.server, os, shutil, sys
    args = sys.argv[1:]
    if args[:1] == ["check-config"]:
        sys.exit(0)
    if len(args) == 2 and args[1] == "--help":
        print("usage: dojowatch %s ... --retention DURATION" % args[0])
        sys.exit(0)
    opt = {args[i]: args[i + 1] for i in range(1, len(args) - 1, 2)}
    if args[0] == "import":
        data = opt["--data"]
        os.makedirs(os.path.join(data, "blocks"))
        with open(args[-1], "rb") as f, open(os.path.join(data, "blocks", "b"), "wb") as o:
            o.write(f.read()[: os.path.getsize(args[-1]) // 10])
        open(os.path.join(data, "dojowatch.db"), "wb").write(b"x" * 12345)
        sys.exit(0)
    assert args[0] == "serve" and opt["--retention"] == "100y", args
    data = opt["--data"]
    os.makedirs(data, exist_ok=True)
    host, port = opt["--listen"].rsplit(":", 1)
    token = "Bearer " + os.environ["DOJOWATCH_ADMIN_TOKEN"]

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *a):
            pass
        def reply(self, code):
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()
        def do_GET(self):
            self.reply(200 if self.path == "/-/ready" else 404)
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Authorization") != token:
                return self.reply(401)
            name = {"/api/v1/write": "wal", "/api/v1/import/prometheus": "imported"}.get(self.path)
            if not name:
                return self.reply(404)
            with open(os.path.join(data, name), "ab") as f:
                f.write(body)
            self.reply(204)

    http.server.ThreadingHTTPServer((host, int(port)), H).serve_forever()
''')


class Dataset(ingest.Dataset):
    """A tiny shape with short idle and settle windows."""

    def __init__(self, work):
        super().__init__("t", work, hosts=1, duration=300, idle=0.2, settle=0.2, files=True)


class DojowatchColumn(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.work = Path(cls.tmp.name)
        cls.ds = Dataset(cls.work)
        cls.ds.generate()

    @classmethod
    def tearDownClass(cls):
        bl.stop_all()
        cls.tmp.cleanup()

    def run_dir(self, name):
        d = self.work / name
        d.mkdir()
        return d

    def test_contract_measured_end_to_end(self):
        fake = self.work / "fake-dojowatch"
        fake.write_text(FAKE_DOJOWATCH)
        fake.chmod(0o755)
        work = self.run_dir("fake")
        dw = ingest.Dojowatch(fake, work)
        dw.prepare(build=False)
        self.assertIsNone(dw.problem)
        self.assertEqual(dw.serve_args, ["--retention", "100y"])
        out, det = ingest.run_dojowatch(self.ds, work, False, dw)
        for key in ("rw_cpu", "rss_per_series", "wal_replay_sps", "import_http_cpu",
                    "import_http_scrape_cpu", "import_offline_cpu", "disk_bps"):
            self.assertTrue(bl.is_num(out[key]), (key, out[key], det))
        rw = det["remote_write"]
        self.assertEqual(rw["n_errors"], 0, rw["errors"])  # the bearer token went along
        self.assertEqual(rw["samples_sent"], self.ds.samples)
        self.assertEqual(det["http_import"]["n_errors"], 0)
        self.assertEqual(det["http_import_scrape"]["n_errors"], 0)
        self.assertTrue(self.ds.prom_scrape.exists())
        self.assertGreater(out["wal_replay_sps"], 0)
        # Disk: the blocks only, not the SQLite state the import also wrote.
        self.assertAlmostEqual(out["disk_bps"],
                               (os.path.getsize(self.ds.om) // 10) / self.ds.samples)
        self.assertEqual(bl._LIVE, {})

    def test_missing_endpoints_are_not_yet(self):
        binary = Path(os.environ.get("DOJOWATCH_BIN", str(ingest.DEFAULT_DW_BIN)))
        if not binary.exists():
            self.skipTest("no release build")
        work = self.run_dir("real")
        dw = ingest.Dojowatch(binary, work)
        dw.prepare(build=False)
        self.assertIsNone(dw.problem)
        out, _ = ingest.run_dojowatch(self.ds, work, False, dw)
        # Whatever has landed is a number; the rest must say so, not crash.
        for key, v in out.items():
            self.assertTrue(bl.is_num(v) or v == bl.NOT_YET, (key, v))
        self.assertEqual(bl._LIVE, {})

    def test_no_binary_fills_every_cell(self):
        work = self.run_dir("none")
        dw = ingest.Dojowatch(work / "no-such-binary", work)
        dw.prepare(build=False)
        out, _ = ingest.run_dojowatch(self.ds, work, True, dw)
        self.assertEqual(set(out), {k for k, _, _ in ingest.BIG_ROWS})
        self.assertTrue(all(v == "not yet (no binary)" for v in out.values()), out)


class Table(unittest.TestCase):
    def test_cells_and_ratio_column(self):
        class DS:
            series = 9984
        figs = {"dojowatch": {"rw_cpu": [1.0, 3.0, 2.0], "wal_replay_sps": [2e6]},
                "prometheus": {"rw_cpu": [5.0], "wal_replay_sps": [1e6]},
                "victoriametrics": {"rw_cpu": [1.0], "wal_replay_sps": [ingest.NA_NO_WAL]}}
        rows = {r["key"]: r for r in ingest.table_rows(ingest.ROWS, DS, figs)}
        self.assertEqual(rows["rw_cpu"]["dojowatch"], 2.0)  # the median
        self.assertEqual(rows["rw_cpu"]["ratio"], "2.00")
        self.assertIn("9,984 series", rows["rw_cpu"]["figure"])
        self.assertEqual(rows["wal_replay_sps"]["ratio"], "2.00 (/Prom)")
        self.assertEqual(rows["disk_bps"]["dojowatch"], "-")
        json.dumps(rows)  # the results file holds them as they are

    def test_a_failed_run_shows_instead_of_a_median(self):
        self.assertEqual(ingest.cell([1.0, "failed", 2.0]), "failed")


class BenchConfig(unittest.TestCase):
    def test_retention_block_replaced(self):
        text = "a: 1\nretention:  # why\n  raw: 90d\n\n  aggregated: 1y\n# next\nb:\n  c: 2\n"
        out = ingest.replace_top_level_block(text, "retention", ["raw: 100y"])
        self.assertEqual(out, "a: 1\nretention:\n  raw: 100y\n\n# next\nb:\n  c: 2\n")

    def test_retention_block_appended_when_absent(self):
        out = ingest.replace_top_level_block("a: 1\n", "retention", ["raw: 100y"])
        self.assertEqual(out, "a: 1\n\nretention:\n  raw: 100y\n")

    def test_example_config_keeps_every_other_line(self):
        text = ingest.EXAMPLE_CONFIG.read_text()
        out = ingest.replace_top_level_block(text, "retention", ["raw: 100y", "aggregated: 100y"])
        self.assertIn("\nretention:\n  raw: 100y\n  aggregated: 100y\n", out)
        removed = set(text.splitlines()) - set(out.splitlines())
        self.assertTrue(all(ln.startswith("  ") for ln in removed), removed)


if __name__ == "__main__":
    prog = unittest.main(exit=False, verbosity=1)
    r = prog.result
    failed = len(r.failures) + len(r.errors)
    print("test_ingest: %d passed, %d failed" % (r.testsRun - failed, failed))
    sys.exit(1 if failed else 0)
