#!/usr/bin/python3
"""test_core_e2e: the core endpoint checks of test_core_api against a copy of CoreScope's
real end-to-end fixture database (legacy schema: no transmissions.last_seen and other
later columns, 499 transmissions, 200 nodes, 31 observers).

The fixture lives in the reference directory (env MESHSNAP_SHARED); without it the test
is skipped. The daemon's backfiller upgrades the copy, never the original; the checks
run once it reports no migration running, against what the copy then holds.
"""

import os
import shutil
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
        shared = msnlib.shared_dir()
        if not shared:
            raise unittest.SkipTest("MESHSNAP_SHARED is not set: no CoreScope fixture database")
        src = os.path.join(shared, "fixtures", "corescope-e2e.db")
        if not os.path.exists(src):
            raise unittest.SkipTest("%s does not exist" % src)
        msnlib.meshsnapd_path()
        cls.tmp = msnlib.make_tmpdir("msn-core-e2e-")
        cls.db = os.path.join(cls.tmp, "corescope-e2e.db")
        shutil.copyfile(src, cls.db)
        os.chmod(cls.db, 0o644)
        cls.t_start = time.time()
        cls.d = msnlib.Daemon(cls.db, cls.tmp, workers=2, poll_interval_ms=200).start()
        try:
            cls.d.wait_fresh(timeout=90)

            # the backfiller upgrades the legacy copy (schema, last_seen, paths); wait until every
            # migration it registered is done, then for the master's republication after them
            def migrations_done():
                r = cls.d.get("/api/perf/async-migrations")
                if r.status != 200:
                    return None
                migs = r.json()
                if len(migs) < 4 or any(m.get("status") != "done" for m in migs):
                    return None
                return migs

            cls.d.wait_for(migrations_done, timeout=120, interval=0.2, what="the backfiller's migrations to finish")

            def republished():
                h = cls.d.health()
                if not h or h.get("stale") or h.get("async_migrations_running"):
                    return None
                return h if h.get("loadedObs") == cls.obs_count() else None

            cls.d.wait_for(republished, timeout=120, interval=0.2, what="a generation after the migrations")
        except Exception:
            cls.d.cleanup()
            raise
        cls.truth = Truth(cls.db)

    @classmethod
    def obs_count(cls):
        conn = msnlib.sql_connect(cls.db)
        try:
            return conn.execute("SELECT COUNT(*) FROM observations").fetchone()[0]
        finally:
            conn.close()

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
