#!/usr/bin/python3
"""test_publish_lists: the packet lists of a full publication (written in key order,
master/fxbulk.c) serve the same packets as lists built entry by entry.

Two daemons serve the same generated database:

- A starts cold on all of it: its first (full) publication writes every packet list in
  key order;
- B starts on a prefix of it (the first transmissions and their observations by id), then
  the rest is inserted while it runs: its incremental publications add each list entry one
  by one (new transmissions, and new observations of transmissions it already had).

/api/packets with each filter that reads a packet list (type, route, observer, region,
node, channel; one value at a time and as lists where the filter takes them) answers the
same ids in the same order, with the same total, from both; the unfiltered list and each
transmission's observation ids agree too.
"""

import os
import shutil
import sqlite3
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import mkdb  # noqa: E402
import msnlib  # noqa: E402

TX = 900
SPLIT = 300  # B starts with the transmissions up to this id


class PublishListsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        msnlib.meshsnapd_path()
        cls.tmp = msnlib.make_tmpdir("msn-publists-")
        full = os.path.join(cls.tmp, "full.db")
        mkdb.build(full, nodes=60, observers=8, transmissions=TX, obs_per_tx=3.0, days=2, seed=47)
        c = sqlite3.connect(full, isolation_level=None)
        # later sightings of early transmissions (B takes them in for transmissions it had)
        c.execute("INSERT INTO observations (id, transmission_id, observer_idx, path_json, timestamp, resolved_path)"
                  " SELECT (SELECT MAX(id) FROM observations) + t.id, t.id, o.observer_idx, '[\"EE\"]',"
                  " o.timestamp + 60, o.resolved_path FROM transmissions t JOIN observations o"
                  " ON o.id = (SELECT MIN(id) FROM observations WHERE transmission_id = t.id)"
                  " WHERE t.id <= ? AND t.id % 5 = 0", (SPLIT,))
        c.close()
        part = os.path.join(cls.tmp, "part.db")
        shutil.copyfile(full, part)
        c = sqlite3.connect(part, isolation_level=None)
        # observations by id up to the first one of a later transmission: all of them are of
        # transmissions B starts with, and every later one has a higher id (polls read by id)
        first_later = c.execute("SELECT MIN(id) FROM observations WHERE transmission_id > ?", (SPLIT,)).fetchone()[0]
        c.execute("DELETE FROM observations WHERE id >= ?", (first_later,))
        c.execute("DELETE FROM transmissions WHERE id > ?", (SPLIT,))
        kept = c.execute("SELECT COUNT(*) FROM transmissions").fetchone()[0]
        c.close()
        if kept != SPLIT:
            raise AssertionError("the prefix keeps %d transmissions, not %d" % (kept, SPLIT))

        # no backfiller: it would resolve paths of the rows there at start only
        no_backfill = {"backfill": {"enabled": False}}
        cls.b = msnlib.Daemon(part, cls.tmp, workers=1, poll_interval_ms=200, sections=no_backfill)
        cls.b.start()
        cls.b.wait_fresh(timeout=120)
        c = sqlite3.connect(part, isolation_level=None)
        c.execute("ATTACH DATABASE ? AS f", (full,))
        c.execute("BEGIN")
        c.execute("INSERT INTO transmissions SELECT * FROM f.transmissions WHERE id > ?", (SPLIT,))
        c.execute("INSERT INTO observations SELECT * FROM f.observations WHERE id >= ?", (first_later,))
        c.execute("COMMIT")
        cls.n_tx = c.execute("SELECT COUNT(*) FROM transmissions").fetchone()[0]
        cls.n_obs = c.execute("SELECT COUNT(*) FROM observations").fetchone()[0]
        # some of the new observations belong to transmissions B already served
        cls.old_tx_new_obs = c.execute("SELECT COUNT(*) FROM observations WHERE id >= ? AND transmission_id <= ?",
                                       (first_later, SPLIT)).fetchone()[0]
        cls.values = {
            "type": [r[0] for r in c.execute("SELECT DISTINCT payload_type FROM transmissions ORDER BY 1")],
            "route": [r[0] for r in c.execute("SELECT DISTINCT route_type FROM transmissions ORDER BY 1")],
            "observer": [r[0] for r in c.execute("SELECT id FROM observers ORDER BY 1")],
            "region": [r[0] for r in c.execute("SELECT DISTINCT iata FROM observers WHERE iata IS NOT NULL ORDER BY 1")],
            "node": [r[0] for r in c.execute("SELECT public_key FROM nodes ORDER BY 1")],
            "channel": [r[0] for r in c.execute("SELECT DISTINCT channel_hash FROM transmissions"
                                                 " WHERE channel_hash IS NOT NULL ORDER BY 1")],
        }
        c.close()
        cls.b.wait_for(lambda: cls.totals(cls.b) == (cls.n_tx, cls.n_obs), timeout=120,
                       what="B serving every row inserted while it ran")

        cls.a = msnlib.Daemon(full, cls.tmp, workers=1, poll_interval_ms=200, sections=no_backfill)
        cls.a.start()
        cls.a.wait_fresh(timeout=120)

    @classmethod
    def tearDownClass(cls):
        for d in (getattr(cls, "a", None), getattr(cls, "b", None)):
            if d is not None:
                d.stop(timeout=30)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @staticmethod
    def totals(d):
        r = d.get("/api/stats")
        if r.status != 200:
            return None
        s = r.json()
        return s.get("totalTransmissions"), s.get("totalObservations")

    def page(self, d, params):
        q = urllib.parse.urlencode(dict(params, limit=10000))
        r = d.get("/api/packets?" + q)
        self.assertEqual(r.status, 200, "GET /api/packets?%s: %d %r" % (q, r.status, r.body[:200]))
        body = r.json()
        return body["total"], [p["id"] for p in body["packets"]]

    def same(self, params):
        got_a = self.page(self.a, params)
        got_b = self.page(self.b, params)
        self.assertEqual(got_a, got_b, "/api/packets?%s: the full and the incremental publication differ"
                         % urllib.parse.urlencode(params))
        return got_a

    def test_setup_covers_both_paths(self):
        self.assertEqual(self.totals(self.a), (self.n_tx, self.n_obs))
        self.assertGreater(self.old_tx_new_obs, 0, "no observation arrived for a transmission B already had")

    def test_unfiltered(self):
        total, ids = self.same({})
        self.assertEqual(total, self.n_tx)
        self.same({"order": "asc"})

    def test_each_filter(self):
        for name, values in sorted(self.values.items()):
            self.assertTrue(values, "the database has no value for %s" % name)
            nonempty = 0
            for v in values:
                total, ids = self.same({name: v})
                nonempty += total > 0
                self.same({name: v, "order": "asc"})
            self.assertGreater(nonempty, 0, "no %s value lists any packet" % name)

    def test_filters_combined_and_lists(self):
        v = self.values
        self.same({"observer": ",".join(v["observer"][:3])})
        self.same({"region": ",".join(v["region"][:2])})
        self.same({"type": v["type"][0], "observer": v["observer"][0]})
        self.same({"route": v["route"][-1], "region": v["region"][0]})
        self.same({"node": v["node"][0][:6]})  # a key prefix

    def test_observations_of_each_packet(self):
        for pid in range(1, self.n_tx + 1, 7):
            ra, rb = self.a.get("/api/packets/%d" % pid), self.b.get("/api/packets/%d" % pid)
            self.assertEqual(ra.status, rb.status, "packet %d" % pid)
            if ra.status != 200:
                continue
            ia = sorted(o["id"] for o in ra.json().get("observations", []))
            ib = sorted(o["id"] for o in rb.json().get("observations", []))
            self.assertEqual(ia, ib, "packet %d: observation ids" % pid)


if __name__ == "__main__":
    unittest.main()
