#!/usr/bin/python3
"""test_bounds_shapes: on-demand analytics shapes cannot grow the master or the state
directory without bound (shm/anshape.c normal form, master/ansched.c cap).

- Normal form: 200 requests whose `from` values all fall within one recompute interval
  (every second of it) make one shape, computed once: the master keeps 1 on-demand shape.
- Nonsense is refused with 400 naming the parameter (from after to, from in the future).
- The cap: with [analytics] max_shapes = 20, 60 shapes with distinct `from` hours are
  asked, then 60 more. The master never keeps more than 20 (the least recently asked are
  evicted, counted in /api/perf "bounds"), the newest are published and answer 200, the
  evicted ones are gone from the snapshot (asking again starts over: 503). The state
  directory and the master's own memory grow during the first 60 (the 20 kept shapes) and
  hardly at all during the next 60: deleted documents' pages are reused by later writes.
  Without the cap both grow with every distinct shape.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import hostile  # noqa: E402
import msnlib  # noqa: E402

CAP = 20
INTERVAL_S = 300
ROUND = 60


class ShapeBoundsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-bounds-shapes-", "shapes.db", nodes=200, observers=10,
                                              transmissions=1500, obs_per_tx=3.0, days=2, seed=47)

    def bounds(self, d):
        return d.admin_get("/api/perf").json()["bounds"]

    def test_normal_form_and_cap(self):
        d = msnlib.start_daemon(self.db, self.tmp, test=self, workers=1,
                                sections={"backfill": {"enabled": False},
                                          "analytics": {"max_shapes": CAP, "default_interval_s": INTERVAL_S,
                                                        "node_documents_s": 3600}})
        d.wait_status("/api/analytics/topology", timeout=120, what="the default topology published")
        now = int(time.time())
        t0 = (now // INTERVAL_S - 24) * INTERVAL_S  # two hours ago, on an interval boundary

        # one interval's worth of distinct `from` values: one shape
        for i in range(200):
            r = d.get("/api/analytics/topology?from=%s" % msnlib.iso_utc(t0 + i))
            self.assertIn(r.status, (200, 503))
        d.wait_status("/api/analytics/topology?from=%s" % msnlib.iso_utc(t0 + 299), timeout=60,
                      what="the rounded shape published")
        self.assertEqual(self.bounds(d)["analyticsShapes"], 1, "200 requests within one interval make one shape")

        # nonsense
        for q, why in (("from=%s&to=%s" % (msnlib.iso_utc(t0 + 7200), msnlib.iso_utc(t0)), "invalid from: after to"),
                       ("from=%s" % msnlib.iso_utc(now + 86400), "invalid from: in the future")):
            r = d.get("/api/analytics/rf?" + q)
            self.assertEqual(r.status, 400, q)
            self.assertIn(why, r.json()["error"])

        def ask(k):
            return d.get("/api/analytics/subpaths?from=%s" % msnlib.iso_utc(t0 - 3600 * k))

        def round_of(first):
            most = 0
            for k in range(first, first + ROUND):
                self.assertIn(ask(k).status, (200, 503))
                most = max(most, self.bounds(d)["analyticsShapes"])
            last = first + ROUND - 1
            d.wait_for(lambda: ask(last).status == 200, timeout=120, interval=0.5,
                       what="the newest shape published")
            b = self.bounds(d)
            self.assertLessEqual(most, CAP + 1, "at most max_shapes on-demand shapes (+ the rounded one)")
            self.assertLessEqual(b["analyticsShapes"], CAP)
            time.sleep(1.0)  # the publication of the deletions
            return b, msnlib.dir_bytes(d.state_dir), hostile.anon_kb(d.pid)

        base_dir, base_mem = msnlib.dir_bytes(d.state_dir), hostile.anon_kb(d.pid)
        b1, dir1, mem1 = round_of(1)
        b2, dir2, mem2 = round_of(1 + ROUND)
        doc = len(ask(2 * ROUND).body)
        msnlib.log("state dir %.1f -> %.1f -> %.1f MB, master memory %.1f -> %.1f -> %.1f MB, evicted %d, "
                   "a subpaths document is %d bytes" % (base_dir / 1e6, dir1 / 1e6, dir2 / 1e6, base_mem / 1024.0,
                                                        mem1 / 1024.0, mem2 / 1024.0, b2["analyticsShapesEvicted"],
                                                        doc))
        self.assertGreaterEqual(b2["analyticsShapesEvicted"], 2 * ROUND - CAP)
        # the evicted are gone: asking again starts over
        self.assertEqual(ask(1).status, 503)
        # the second round of distinct shapes takes no more room than the first kept
        unbounded = ROUND * doc
        if not hostile.sanitized(d.pid):
            # (LMDB grows in whole pages, and other documents are rewritten meanwhile: 256 KiB of
            # slack.) Under the sanitizers, slow requests hold their read transactions long enough
            # to keep LMDB from reusing freed pages, and AddressSanitizer's quarantine keeps freed
            # memory: both bounds are checked in the normal build.
            self.assertLess(dir2 - dir1, unbounded // 2 + (256 << 10), "the state directory stays put")
            self.assertLess((mem2 - mem1) * 1024, max(unbounded // 2, 4 << 20), "the master's memory stays put")
        d.stop()


if __name__ == "__main__":
    msnlib.main(ShapeBoundsTest)
