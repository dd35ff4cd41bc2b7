#!/usr/bin/python3
"""test_core_restart: what meshsnapd serves before its master has loaded the database.

To make "before the master has loaded" a state the test controls rather than a race,
the test holds an exclusive SQLite lock on the database while the daemon starts: the
master (and the backfiller) then wait in SQLite's busy handler, while the workers must
already answer. The lock is held for at most LOCK_HOLD_S, well below the daemon's 5 s
busy timeout, and released as soon as the check is done.

- No snapshot yet (empty state_dir): /api/healthz answers 200 with ready=false; data
  endpoints answer 503 with Retry-After and {"error": ...} and a loading status header.
- Restart on the same state_dir after rows were added: the first answers come from the
  previous run's snapshot (X-Meshsnap-Snapshot-Stale: 1, the old generation and the old
  counts, healthz stale=true); once the lock is gone the master publishes a fresh
  generation (stale 0, a higher generation, the new counts).
"""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import mkdb  # noqa: E402
import msnlib  # noqa: E402

LOCK_HOLD_S = 3.0  # must stay below the daemon's 5 s SQLite busy timeout
TX = 4000


class RestartTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-core-restart-", "restart.db", nodes=500, observers=12,
                                              transmissions=TX, obs_per_tx=3.0, days=2, seed=17)

    def daemon(self, state_dir):
        d = msnlib.Daemon(self.db, self.tmp, workers=2, poll_interval_ms=200, state_dir=state_dir)
        self.addCleanup(d.cleanup)
        return d

    def first_answer(self, d, path, deadline):
        """Polls path until the daemon answers anything; fails after deadline (monotonic)."""
        while True:
            d.check_alive()
            try:
                return d.get(path, timeout=2)
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.fail("no answer to %s within %.1f s of the start while SQLite was locked: the workers "
                          "must serve before the master has read the database" % (path, LOCK_HOLD_S))
            time.sleep(0.01)

    def test_no_snapshot_yet_503(self):
        state = os.path.join(self.tmp, "state-empty")
        d = self.daemon(state)
        with msnlib.SqliteLock(self.db):
            t0 = time.monotonic()
            d.start()
            deadline = t0 + LOCK_HOLD_S
            r = self.first_answer(d, "/api/healthz", deadline)
            self.assertEqual(r.status, 200, "healthz answers 200 even without a snapshot")
            h = r.json()
            self.assertIs(h["ready"], False)
            self.assertIn(h["phase"], ("starting", "loading"))
            for path in ("/api/stats", "/api/packets", "/api/nodes", "/api/observers", "/api/packets/1"):
                r = d.get(path)
                self.assertEqual(r.status, 503, "%s without a snapshot: %d %r" % (path, r.status, r.body[:200]))
                self.assertRegex(r.header("retry-after", ""), r"^\d+$", path + ": Retry-After")
                self.assertIsInstance(r.json().get("error"), str, path)
                ls = r.header("x-corescope-load-status", "")
                self.assertTrue(re.match(r"^loading(; progress=\d+)?$", ls), path + ": load status %r" % ls)
        h = d.wait_fresh(timeout=90)
        self.assertIs(h["ready"], True)
        self.assertEqual(d.get_json("/api/stats")["totalTransmissions"], TX)
        d.stop()

    def test_restart_serves_previous_snapshot(self):
        state = os.path.join(self.tmp, "state-restart")
        a = self.daemon(state).start()
        ha = a.wait_fresh(timeout=90)
        gen_a = ha["generation"]
        stats_a = a.get_json("/api/stats")
        a.stop()

        added = mkdb.append_transmissions(self.db, count=5, obs_per_tx=2, seed=99)
        b = self.daemon(state)
        with msnlib.SqliteLock(self.db):
            t0 = time.monotonic()
            b.start()
            r = self.first_answer(b, "/api/stats", t0 + LOCK_HOLD_S)
            msnlib.log("first answer %.0f ms after exec: %d, stale=%s, generation=%s"
                       % ((time.monotonic() - t0) * 1000, r.status, r.header("x-meshsnap-snapshot-stale"),
                          r.header("x-meshsnap-generation")))
            self.assertEqual(r.status, 200, "the previous snapshot is served at once: %r" % r.body[:200])
            self.assertEqual(r.header("x-meshsnap-snapshot-stale"), "1")
            self.assertEqual(int(r.header("x-meshsnap-generation")), gen_a)
            self.assertEqual(r.json()["totalTransmissions"], stats_a["totalTransmissions"])
            h = b.health()
            self.assertIsNotNone(h)
            self.assertIs(h["ready"], True)
            self.assertIs(h["stale"], True)
            self.assertEqual(h["generation"], gen_a)
            pk = b.get("/api/packets?limit=1")
            self.assertEqual(pk.status, 200)
            self.assertEqual(pk.header("x-meshsnap-snapshot-stale"), "1")
            self.assertNotEqual(pk.json()["packets"][0]["id"], added[-1]["id"], "old data before the reload")

        hb = b.wait_fresh(timeout=90)
        self.assertGreater(hb["generation"], gen_a)
        r = b.get("/api/stats")
        self.assertEqual(r.header("x-meshsnap-snapshot-stale"), "0")
        self.assertGreaterEqual(int(r.header("x-meshsnap-generation")), hb["generation"])
        s = r.json()
        self.assertEqual(s["totalTransmissions"], stats_a["totalTransmissions"] + 5)
        self.assertEqual(b.get_json("/api/packets?limit=1")["packets"][0]["id"], added[-1]["id"])
        b.stop()


if __name__ == "__main__":
    msnlib.main(RestartTest)
