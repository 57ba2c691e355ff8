#!/usr/bin/python3
"""Tests of the query benchmark's own logic: python3 bench/query/test_query.py (a few seconds).

The timing loop and the tables are checked against a stand-in server that answers like the
query API, so a change to the script that would misreport a system shows up without
starting the peers.
"""
import http.server
import json
import sys
import threading
import unittest
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
sys.path.insert(0, str(HERE))
import query  # noqa: E402


class Fake(http.server.BaseHTTPRequestHandler):
    """/api/v1/query(_range) answering two series, or an error for queries with 'bad'."""
    protocol_version = "HTTP/1.1"
    seen = []

    def log_message(self, *a):
        pass

    def do_GET(self):
        Fake.seen.append((self.path, self.headers.get("Authorization")))
        if "bad" in self.path:
            body, code = b'{"status":"error","errorType":"bad_data","error":"x"}', 400
        else:
            body, code = json.dumps({"status": "success", "data": {
                "resultType": "vector", "result": [{"metric": {}, "value": [1, "1"]}] * 2}
            }).encode(), 200
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Measure(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fake)
        threading.Thread(target=cls.srv.serve_forever, daemon=True).start()
        cls.base = "http://127.0.0.1:%d" % cls.srv.server_address[1]

    @classmethod
    def tearDownClass(cls):
        cls.srv.shutdown()

    def test_rounds_shapes_and_auth(self):
        Fake.seen.clear()
        c = query.Client(self.base, headers={"Authorization": "Bearer t"})
        meta = {"duration_s": 7200}
        res = query.measure(c, meta, runs=3, warmup=1, queries=[("a", "up"), ("b", "bad")])
        c.close()
        self.assertEqual(set(res), {"range", "instant"})
        self.assertEqual(len(res["range"]["a"]["ms"]), 3)
        self.assertEqual(res["range"]["a"]["series"], 2)
        self.assertEqual(res["instant"]["b"]["series"], "HTTP 400")
        self.assertEqual(len(Fake.seen), 2 * 2 * (1 + 3))
        self.assertTrue(all(a == "Bearer t" for _, a in Fake.seen))
        ranges = [p for p, _ in Fake.seen if p.startswith("/api/v1/query_range?")]
        self.assertIn("start=1699999200", ranges[0])
        self.assertIn("end=1700006400", ranges[0])
        self.assertIn("step=15", ranges[0])
        instants = [p for p, _ in Fake.seen if p.startswith("/api/v1/query?")]
        self.assertIn("time=1700006385", instants[0])


class Report(unittest.TestCase):
    def result(self):
        def r(ms, series=48):
            return {"ms": ms, "cpu_ms": [], "series": series, "bytes": 10}
        return {"queries": [("q1", "x"), ("q2", "y")], "systems": {
            "dojowatch": {"results": {"range": {"q1": r([10, 30, 20]), "q2": r([5])}}},
            "prometheus": {"results": {"range": {"q1": r([100]), "q2": r([10], 47)}}},
            "victoriametrics": {"error": "boom"}}}

    def test_medians_ratios_and_disagreement(self):
        rows = query.table(self.result(), "range")
        self.assertEqual(rows[0]["ms"]["dojowatch"], 20)
        self.assertAlmostEqual(rows[0]["dw_prom"], 0.2)
        self.assertIsNone(rows[0]["dw_vm"])
        self.assertEqual(rows[0]["ms"]["victoriametrics"], "error")
        printed = query.as_rows(rows)
        self.assertEqual(printed[0][1], "48")
        self.assertEqual(printed[1][1], "48/47")  # the systems disagree: both counts
        self.assertEqual(printed[0][6], "0.20")

    def test_geomean_skips_missing(self):
        self.assertAlmostEqual(query.geomean([0.5, 2.0, None, "error"]), 1.0)
        self.assertIsNone(query.geomean([None]))


if __name__ == "__main__":
    prog = unittest.main(exit=False, verbosity=1)
    r = prog.result
    failed = len(r.failures) + len(r.errors)
    print("test_query: %d passed, %d failed" % (r.testsRun - failed, failed))
    sys.exit(1 if failed else 0)
