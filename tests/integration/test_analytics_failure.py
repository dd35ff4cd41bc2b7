#!/usr/bin/python3
"""test_analytics_failure: a failing analytic keeps its previous result published, is
reported in /api/perf and the log, and takes no process down, whether the computation
returns an error or the computing process dies. Failures are injected with the test knob
MESHSNAP_TEST_ANALYTICS_FAIL=NAME:N[:crash] (from the N-th computation of NAME on)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402


class FailureChecks:
    mode = ""

    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-anfail-", "a.db", nodes=120, observers=6, transmissions=800,
                                              obs_per_tx=3, seed=9)
        env = dict(os.environ, MESHSNAP_TEST_ANALYTICS_FAIL="topology:2" + cls.mode)
        cls.d = msnlib.start_daemon(cls.db, cls.tmp, timeout=60, workers=2, env=env,
                                    sections={"analytics": {"default_interval_s": 1}})

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def test_previous_result_stays(self):
        first = self.d.wait_status("/api/analytics/topology", 200, timeout=30, interval=0.1,
                                   what="the first topology to be published")
        pids = sorted(w["pid"] for w in self.d.health()["workers"])

        def failed():
            a = self.d.get_json("/api/perf")["analytics"]["topology"]
            return a if a["failures"] >= 2 else None

        a = self.d.wait_for(failed, timeout=30, interval=0.2, what="topology to fail twice")
        self.assertTrue(a["lastError"], "the failure's reason is reported")
        again = self.d.get("/api/analytics/topology")
        self.assertEqual(again.status, 200)
        self.assertEqual(again.body, first.body, "the previous result stays published")
        self.assertEqual(again.header("etag"), first.header("etag"))
        # the rest goes on: rf is republished after the failures
        rf = self.d.get_json("/api/perf")["analytics"]["rf"]
        self.assertGreaterEqual(rf["computes"], 1)
        self.d.check_alive()
        self.assertEqual(sorted(w["pid"] for w in self.d.health()["workers"]), pids, "no worker was touched")
        self.assertIn(self.expect_log, self.d.log_text())


class ComputationError(FailureChecks, unittest.TestCase):
    mode = ""
    expect_log = "analytics: an/topology failed"


class ComputingProcessDies(FailureChecks, unittest.TestCase):
    mode = ":crash"
    expect_log = "the computing process died"


if __name__ == "__main__":
    msnlib.main(ComputationError, ComputingProcessDies)
