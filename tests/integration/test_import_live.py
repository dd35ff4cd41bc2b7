#!/usr/bin/python3
"""test_import_live: `meshsnap import` into the database a running meshsnapd serves; the
daemon picks the new rows up through its poll and serves them.

The database is created by a first import (current schema), the daemon started on it,
then a second, larger import runs while the daemon polls every 200 ms. The test waits
(generously) until /api/stats counts every transmission and observation in the database,
then checks a sample of packets through /api/packets?hash= (observation counts) and that
the daemon stayed up. The time the rows took to appear is printed, not asserted.
"""

import os
import random
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402
from test_import import generate, run_import  # noqa: E402

WAIT_S = 60.0


class LiveImportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        msnlib.meshsnapd_path()
        msnlib.meshsnap_path()
        cls.tmp = msnlib.make_tmpdir("msn-import-live-")
        cls.db = os.path.join(cls.tmp, "live.db")
        now = int(time.time())
        first = os.path.join(cls.tmp, "first.jsonl")
        generate(200, seed=41, n_nodes=40, n_observers=6, t0=now - 7200).write(first)
        cls.second = os.path.join(cls.tmp, "second.jsonl")
        generate(3000, seed=42, n_nodes=80, n_observers=8, t0=now - 3600).write(cls.second)
        p = run_import(cls.db, first)
        if p.returncode != 0:
            raise AssertionError(p.stderr)
        cls.d = msnlib.start_daemon(cls.db, cls.tmp, workers=2, poll_interval_ms=200)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def sql(self, q):
        return msnlib.sql_rows(self.db, q)

    def test_import_while_serving(self):
        s0 = self.d.get_json("/api/stats")
        n_tx0, n_obs0 = self.sql("SELECT (SELECT COUNT(*) FROM transmissions), (SELECT COUNT(*) FROM observations)")[0]
        self.assertEqual((s0["totalTransmissions"], s0["totalObservations"]), (n_tx0, n_obs0))
        t0 = time.monotonic()
        p = run_import(self.db, self.second, "--batch", "500")
        self.assertEqual(p.returncode, 0, p.stderr)
        n_tx, n_obs = self.sql("SELECT (SELECT COUNT(*) FROM transmissions), (SELECT COUNT(*) FROM observations)")[0]
        self.assertGreater(n_tx, n_tx0)

        def caught_up():
            s = self.d.get_json("/api/stats")
            return s if (s["totalTransmissions"], s["totalObservations"]) == (n_tx, n_obs) else None

        self.d.wait_for(caught_up, timeout=WAIT_S, interval=0.1, what="the imported rows in /api/stats")
        msnlib.log("all imported rows served %.1f s after the import started" % (time.monotonic() - t0))
        rows = self.sql("SELECT t.hash, COUNT(o.id) FROM transmissions t JOIN observations o"
                        " ON o.transmission_id = t.id WHERE t.id > %d GROUP BY t.id" % n_tx0)
        for h, n in random.Random(1).sample(rows, 25) + [rows[-1]]:
            b = self.d.get_json("/api/packets?hash=" + h)
            self.assertEqual(b["total"], 1, h)
            self.assertEqual(b["packets"][0]["observation_count"], n, h)
        self.d.check_alive()


if __name__ == "__main__":
    msnlib.main(LiveImportTest)
