#!/usr/bin/python3
"""test_core_e2e: the core endpoint checks of test_core_api against a copy of CoreScope's
real end-to-end fixture database (legacy schema: no transmissions.last_seen and other
later columns, 499 transmissions, 200 nodes, 31 observers).

The fixture lives in the reference directory (env MESHSNAP_SHARED); without it the test
is skipped. The daemon's backfiller upgrades the copy, never the original; the checks
run once it reports no migration running, against what the copy then holds.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402
from test_core_api import CoreApiChecks, Truth  # noqa: E402


class E2eFixtureTest(CoreApiChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        msnlib.fixture_path()
        msnlib.meshsnapd_path()
        cls.tmp = msnlib.make_tmpdir("msn-core-e2e-")
        cls.db = msnlib.copy_fixture_db(cls.tmp, "corescope-e2e.db")
        cls.t_start = time.time()
        cls.d = msnlib.start_daemon(cls.db, cls.tmp, workers=2, poll_interval_ms=200)
        try:
            # the backfiller upgrades the legacy copy (schema, last_seen, paths); wait until every
            # migration it registered is done, then for the master's republication after them
            cls.d.wait_migrations_done(4, timeout=120, interval=0.2)
            cls.d.wait_health(lambda h: not h.get("stale") and not h.get("async_migrations_running")
                              and h.get("loadedObs") == cls.obs_count(),
                              timeout=120, interval=0.2, what="a generation after the migrations")
        except Exception:
            cls.d.cleanup()
            raise
        cls.truth = Truth(cls.db)

    @classmethod
    def obs_count(cls):
        return msnlib.sql_value(cls.db, "SELECT COUNT(*) FROM observations")

    @classmethod
    def tearDownClass(cls):
        if cls.truth:
            cls.truth.close()
        cls.d.stop()

    def test_fixture_counts(self):
        s = self.get("/api/stats")
        self.assertEqual(s["totalTransmissions"], 499)
        self.assertEqual(s["totalNodesAllTime"], 200)
        self.assertEqual(s["totalObservers"], 31)
        self.assertIn(s["totalObservations"], (499, 500))
        self.assertEqual(len(self.get("/api/observers")["observers"]), 31)
        self.assertEqual(self.get("/api/nodes")["total"], 200)


if __name__ == "__main__":
    msnlib.main(E2eFixtureTest)
