#!/usr/bin/python3
"""test_packets_params: numeric parameters of the list endpoints are range-checked
before any arithmetic on them.

An offset near the top of the 64-bit range used to overflow `offset + limit` in the
worker (undefined behaviour; the sanitizer build's worker died). Now, against the real
daemon:

- offset above 2^53 - 1, and any number outside the 64-bit range for offset or limit,
  answers 400 with {"error": ...} naming the parameter, on every strategy of /api/packets
  (list walk, time index, list filters, hash, groupByHash) and on /api/nodes;
- a since/until outside years 0000-9999 answers 400 naming it;
- the largest accepted offset answers 200 with an empty page and the right total;
- CoreScope's clamping (limit: default 50, at most 10000; offset: negative is 0) stays;
- no worker crashed and no sanitizer report is in the log (Daemon.stop checks both).
"""

import os
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import mkdb  # noqa: E402
import msnlib  # noqa: E402

TX = 1200
MAX_OFFSET = 2 ** 53 - 1


class PacketsParamsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        msnlib.meshsnapd_path()
        cls.tmp = msnlib.make_tmpdir("msn-pkparams-")
        cls.db = os.path.join(cls.tmp, "params.db")
        mkdb.build(cls.db, nodes=120, observers=6, transmissions=TX, obs_per_tx=2.0, days=2, seed=31)
        cls.d = msnlib.Daemon(cls.db, cls.tmp, workers=2)
        cls.d.start()
        cls.d.wait_fresh(timeout=120)
        conn = msnlib.sql_connect(cls.db)
        cls.observer = conn.execute("SELECT id FROM observers LIMIT 1").fetchone()[0]
        cls.hash = conn.execute("SELECT hash FROM transmissions LIMIT 1").fetchone()[0]
        cls.adverts = conn.execute("SELECT COUNT(*) FROM transmissions WHERE payload_type = 4").fetchone()[0]
        conn.close()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def get(self, path, **params):
        q = urllib.parse.urlencode(params)
        return self.d.get(path + ("?" + q if q else ""))

    def assert_400(self, param, path="/api/packets", **params):
        r = self.get(path, **params)
        self.assertEqual(r.status, 400, "%s %r: %d %r" % (path, params, r.status, r.body[:200]))
        err = r.json().get("error", "")
        self.assertIn("invalid %s" % param, err, "the message names the parameter")

    def test_huge_offset_on_every_strategy(self):
        filters = [{}, {"type": 4}, {"route": 1}, {"since": "2020-01-01T00:00:00Z"}, {"observer": self.observer},
                   {"hash": self.hash}, {"groupByHash": "true"}, {"groupByHash": "true", "type": 4},
                   {"expand": "observations"}, {"region": "SJC"}]
        for bad in (str(2 ** 63 - 1), str(MAX_OFFSET + 1), "99999999999999999999", "-99999999999999999999"):
            for f in filters:
                self.assert_400("offset", offset=bad, **f)
        self.assert_400("offset", path="/api/nodes", offset=str(2 ** 63 - 1))
        self.assertEqual(self.d.get("/api/healthz").json()["ready"], True, "the workers are still serving")

    def test_limit_out_of_range(self):
        self.assert_400("limit", limit="99999999999999999999")
        self.assert_400("limit", limit="99999999999999999999", type=4)
        self.assert_400("limit", path="/api/nodes", limit="-99999999999999999999")

    def test_time_out_of_range(self):
        self.assert_400("since", since="0000-01-01T00:00:00+01:00")
        self.assert_400("until", until="9999-12-31T23:59:60Z", type=4)
        r = self.get("/api/packets", since="0000-01-01T00:00:00Z", limit=1)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["total"], TX)

    def test_largest_offset_accepted(self):
        for f in ({}, {"type": 4}, {"groupByHash": "true"}):
            r = self.get("/api/packets", offset=MAX_OFFSET, **f)
            self.assertEqual(r.status, 200, "%r: %r" % (f, r.body[:200]))
            body = r.json()
            self.assertEqual(body["packets"], [])
            self.assertEqual(body["offset"], MAX_OFFSET)
            self.assertEqual(body["total"], self.adverts if f.get("type") == 4 else TX)
        r = self.get("/api/nodes", offset=MAX_OFFSET)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["nodes"], [])

    def test_clamping_unchanged(self):
        body = self.get("/api/packets", limit=20000, offset=-5).json()
        self.assertEqual(body["limit"], 10000)
        self.assertEqual(body["offset"], 0)
        self.assertEqual(len(body["packets"]), TX)
        body = self.get("/api/packets", limit="2147483648", type=4).json()
        self.assertEqual(body["limit"], 10000)
        body = self.get("/api/packets", limit="abc", offset="x").json()
        self.assertEqual((body["limit"], body["offset"]), (50, 0))


if __name__ == "__main__":
    msnlib.main(PacketsParamsTest)
