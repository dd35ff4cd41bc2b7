#!/usr/bin/python3
"""test_bounds_params: what the query string may hold, against the real daemon
(worker/query.c, the numeric parsers).

- More parameters than [http] max_query_params (default 32) get 400 naming the limit; the
  limit is configurable (40 takes 33 and refuses 41). Nothing is silently dropped: before,
  parameters past the 32nd were ignored.
- A value holding a NUL byte (%00) or a malformed escape (%zz, a lone %) gets 400 naming
  the parameter: `limit=1%00abc` is no longer read as 1.
- A number followed by anything ("5abc", "1 ") gets 400 naming the parameter, for limit,
  offset, type and route; a value that is no number at all keeps CoreScope's rule (limit:
  the default, offset: 0).
- Unknown parameter names are ignored, as CoreScope does.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402


class QueryParamsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-bounds-params-", "params.db", nodes=80, observers=5,
                                              transmissions=400, obs_per_tx=2.0, days=1, seed=53)
        cls.d = msnlib.start_daemon(cls.db, cls.tmp, workers=1, sections={"backfill": {"enabled": False}})

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def assert_400(self, target, *fragments, d=None):
        r = (d or self.d).get(target)
        self.assertEqual(r.status, 400, "%s: %d %r" % (target, r.status, r.body[:200]))
        err = r.json()["error"]
        for f in fragments:
            self.assertIn(f, err, target)
        self.assertEqual(r.header("cache-control"), "no-store")
        return err

    def test_too_many_parameters(self):
        q = "&".join("p%d=1" % i for i in range(32))
        self.assertEqual(self.d.get("/api/nodes?" + q).status, 200, "32 parameters are fine")
        self.assert_400("/api/nodes?" + q + "&limit=1", "too many query parameters", "the limit is 32")
        # empty pairs do not count
        self.assertEqual(self.d.get("/api/nodes?" + q + "&&&").status, 200)

    def test_limit_configurable(self):
        d = msnlib.start_daemon(self.db, self.tmp, test=self, workers=1,
                                sections={"backfill": {"enabled": False}, "http": {"max_query_params": 40}})
        self.assertEqual(d.get("/api/stats?" + "&".join("p%d=1" % i for i in range(33))).status, 200)
        self.assert_400("/api/stats?" + "&".join("p%d=1" % i for i in range(41)), "the limit is 40", d=d)
        d.stop()

    def test_bad_bytes(self):
        self.assert_400("/api/packets?limit=1%00abc", "invalid limit", "NUL byte")
        self.assert_400("/api/nodes?search=a%00b", "invalid search", "NUL byte")
        self.assert_400("/api/packets?since=%zz", "invalid since", "percent-encoding")
        self.assert_400("/api/packets?hash=abc%", "invalid hash", "percent-encoding")
        self.assert_400("/api/analytics/rf?region=%0a", "invalid region", "control character")
        self.assert_400("/api/stats?li%zzmit=1", "invalid parameter name")

    def test_trailing_characters(self):
        for target, name in (("/api/packets?limit=5abc", "limit"), ("/api/nodes?limit=5abc", "limit"),
                             ("/api/packets?offset=1x", "offset"), ("/api/nodes?offset=10%20", "offset"),
                             ("/api/packets?type=4z", "type"), ("/api/packets?route=1.0", "route")):
            self.assert_400(target, "invalid %s" % name, "characters after the number")
        # no number at all: CoreScope's defaults
        body = self.d.get_json("/api/packets?limit=abc&offset=x")
        self.assertEqual((body["limit"], body["offset"]), (50, 0))

    def test_unknown_names_ignored(self):
        a = self.d.get_json("/api/nodes?limit=3")
        b = self.d.get_json("/api/nodes?limit=3&frobnicate=%41&x")
        self.assertEqual(a["nodes"], b["nodes"])


if __name__ == "__main__":
    msnlib.main(QueryParamsTest)
