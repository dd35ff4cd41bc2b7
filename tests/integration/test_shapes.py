#!/usr/bin/python3
"""test_shapes: every endpoint's response against CoreScope's shapes, recursively (keys and
types): the Go server's golden shapes where the fixtures give one, else the keys the API
spec lists. Run on a generated database and, when the reference fixtures exist, on a copy
of CoreScope's real end-to-end database. Also: analytics come precomputed (gzip copy and
ETag included), a shape nobody asked for is requested from the master (503 + Retry-After,
then 200), and a bad shape parameter is a 400.
"""

import gzip
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402
import test_core_api  # noqa: E402
from test_core_api import load_golden, shape_errors  # noqa: E402

# CoreScope's Go types these interface{}: null when no observation carried an SNR
test_core_api.NULLABLE_KEYS |= {"bestSnr", "medianSnr", "avgSnr"}

# endpoint -> golden shape name (None: the spec's key list below)
ENDPOINTS = [
    ("/api/stats", "stats"),
    ("/api/packets?limit=20", "packets"),
    ("/api/packets?limit=20&groupByHash=true", "packets_grouped"),
    ("/api/nodes?limit=20", "nodes"),
    ("/api/observers", "observers"),
    ("/api/perf", "perf"),
    ("/api/analytics/topology", "analytics_topology"),
    ("/api/analytics/rf", "analytics_rf"),
    ("/api/analytics/distance", "analytics_distance"),
    ("/api/analytics/hash-sizes", "analytics_hash_sizes"),
    ("/api/analytics/subpaths", "analytics_subpaths"),
    ("/api/analytics/channels", None),
    ("/api/analytics/hash-collisions", None),
    ("/api/analytics/roles", None),
    ("/api/observers/clock-skew", None),
    ("/api/nodes/clock-skew", None),
    ("/api/healthz", None),
    ("/api/perf/async-migrations", None),
]

# API spec keys for the endpoints without a golden shape
SPEC_KEYS = {
    "/api/analytics/channels": ["activeChannels", "decryptable", "channels", "topSenders", "channelTimeline",
                                "msgLengths"],
    "/api/healthz": ["ready", "loadedTx", "loadedObs", "async_migrations", "async_migrations_running",
                     "from_pubkey_backfill"],
}

ANALYTICS = ["/api/analytics/topology", "/api/analytics/rf", "/api/analytics/distance",
             "/api/analytics/channels", "/api/analytics/hash-sizes", "/api/analytics/hash-collisions",
             "/api/analytics/roles", "/api/analytics/subpaths", "/api/observers/clock-skew",
             "/api/nodes/clock-skew"]


class ShapeChecks:
    d = None

    @classmethod
    def serve(cls, tmp, db):
        """Serves db (cls.d) and waits until every analytic is published."""
        cls.tmp, cls.db = tmp, db
        cls.d = msnlib.start_daemon(db, tmp, timeout=60, workers=2, poll_interval_ms=200)
        try:
            cls.d.wait_status(ANALYTICS, 200, timeout=120, interval=0.5, what="every analytic to be published")
        except Exception:
            cls.d.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def body(self, path):
        r = self.d.get(path)
        self.assertEqual(r.status, 200, "%s: status %d %r" % (path, r.status, r.body[:200]))
        return r.json()

    def test_every_endpoint_shape(self):
        golden = load_golden()
        for path, name in ENDPOINTS:
            b = self.body(path)
            if name and golden and name in golden:
                errs = shape_errors(b, golden[name])
                self.assertEqual(errs, [], "%s does not match the golden shape %s" % (path, name))
            for k in SPEC_KEYS.get(path, []):
                self.assertIn(k, b, "%s: key %s" % (path, k))
            if path.startswith("/api/analytics") or path.endswith("clock-skew"):
                self.assertIsInstance(b, (dict, list), path)

    def test_packet_and_node_detail_shapes(self):
        golden = load_golden()
        rows = self.body("/api/packets?limit=5")["packets"]
        self.assertTrue(rows)
        d = self.body("/api/packets/%s" % rows[0]["hash"])
        for k in ("packet", "path", "observation_count"):
            self.assertIn(k, d)
        self.assertIsInstance(d["packet"].get("observations"), list)
        nodes = self.body("/api/nodes?limit=5")["nodes"]
        if nodes and golden and "node_detail" in golden:
            nd = self.body("/api/nodes/" + nodes[0]["public_key"])
            self.assertEqual(shape_errors(nd, golden["node_detail"]), [])

    def test_gzip_copy_and_etag(self):
        for path in ("/api/analytics/topology", "/api/stats"):
            plain = self.d.get(path)
            self.assertEqual(plain.status, 200)
            z = self.d.get(path, headers={"Accept-Encoding": "gzip"})
            self.assertEqual(z.status, 200)
            if z.header("content-encoding") == "gzip":
                self.assertEqual(gzip.decompress(z.body), plain.body, path)
                self.assertIn("accept-encoding", (z.header("vary") or "").lower())
                self.assertNotEqual(z.header("etag"), plain.header("etag"))
            else:
                self.assertLess(len(plain.body), 1024, "%s: a large document has a gzip copy" % path)
            etag = plain.header("etag")
            self.assertRegex(etag or "", r'^"[0-9a-f]{16}"$')
            self.assertRegex(plain.header("cache-control") or "", r"^public, max-age=\d+$")
            again = self.d.get(path, headers={"If-None-Match": etag})
            if again.header("etag") == etag:  # not republished in between
                self.assertEqual(again.status, 304, path)
                self.assertEqual(again.body, b"")

    def test_on_demand_shape(self):
        path = "/api/analytics/rf?window=3d&region=%s" % self.region
        first = self.d.get(path)
        self.assertIn(first.status, (200, 503))
        if first.status == 503:
            self.assertTrue(first.header("retry-after"), "Retry-After on 503")
            first = self.d.wait_status(path, 200, timeout=60, interval=0.5, what="the requested shape published")
        self.assertIn("totalPackets", first.json())
        # the same shape written differently is the same document
        alt = self.d.get("/api/analytics/rf?region=%s&window=3d" % self.region.lower())
        self.assertEqual(alt.status, 200)
        self.assertEqual(alt.header("etag"), first.header("etag"))

    def test_bad_shape_parameter(self):
        for q in ("window=5y", "from=yesterday", "region=S%3BJC"):
            r = self.d.get("/api/analytics/rf?" + q)
            self.assertEqual(r.status, 400, q)
            self.assertIn("error", r.json())


class GeneratedDbShapes(ShapeChecks, unittest.TestCase):
    region = "SJC"

    @classmethod
    def setUpClass(cls):
        cls.serve(*msnlib.generated_db("msn-shapes-", "gen.db", nodes=300, observers=12, transmissions=3000,
                                       obs_per_tx=4, seed=5))
        iatas = sorted({o["iata"] for o in cls.d.get_json("/api/observers")["observers"] if o.get("iata")})
        cls.region = iatas[0] if iatas else "SJC"


class FixtureDbShapes(ShapeChecks, unittest.TestCase):
    region = "SJC"

    @classmethod
    def setUpClass(cls):
        msnlib.fixture_path()
        msnlib.meshsnapd_path()
        tmp = msnlib.make_tmpdir("msn-shapes-e2e-")
        cls.serve(tmp, msnlib.copy_fixture_db(tmp, "corescope-e2e.db"))


if __name__ == "__main__":
    msnlib.main(GeneratedDbShapes, FixtureDbShapes)
