#!/usr/bin/python3
"""test_core_resume: a restart on an unchanged database serves the previous run's snapshot
as its first fresh generation.

- Restart after nothing changed: the master finds that the snapshot covers the database
  (same format, file, schema, max ids and counts, no migration since) and makes it this
  run's generation (stale false, generation + 1, the same answers) before loading; the
  load and a full publication follow (generation + 2). Rows added afterwards are
  published incrementally, and the packet lists then equal, byte for byte, those of a
  daemon that built its snapshot from scratch on the same database.
- Restart after rows were added while no daemon ran: the snapshot no longer covers the
  database; the master says why and publishes a new environment.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import mkdb  # noqa: E402
import msnlib  # noqa: E402

TX = 3000
COMPARED = ["/api/packets?limit=50", "/api/packets?limit=50&type=4", "/api/packets?limit=30&offset=40",
            "/api/packets?groupByHash=true&limit=40", "/api/packets?limit=20&order=asc"]


def snap_dirs(state):
    return sorted(n for n in os.listdir(state) if n.startswith("snap-"))


class ResumeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-core-resume-", "resume.db", nodes=400, observers=10,
                                              transmissions=TX, obs_per_tx=3.0, days=2, seed=23)

    def daemon(self, state_dir):
        # no backfill: the database does not change under the test unless it says so
        d = msnlib.Daemon(self.db, self.tmp, workers=2, poll_interval_ms=200, state_dir=state_dir,
                          sections={"backfill": {"enabled": False}})
        self.addCleanup(d.cleanup)
        return d

    def test_unchanged_database_keeps_the_snapshot(self):
        state = os.path.join(self.tmp, "state-keep")
        a = self.daemon(state).start()
        gen_a = a.wait_fresh(timeout=90)["generation"]
        before = {u: a.get(u).body for u in COMPARED}
        a.stop()
        dirs = snap_dirs(state)

        b = self.daemon(state).start()
        b.wait_fresh(timeout=90, min_generation=gen_a + 1)
        # (on this small database the load may be over before the first look: the log says
        # which generation was the resumed one; the line follows the publication it reports)
        line = "generation %d: the snapshot of generation %d covers the database" % (gen_a + 1, gen_a)
        b.wait_for(lambda: line in b.log_text(), timeout=10, what="the log line of the resumed generation")
        for u in COMPARED:
            self.assertEqual(b.get(u).body, before[u], u + ": the same answer after the restart")
        b.wait_fresh(timeout=90, min_generation=gen_a + 2)
        self.assertNotEqual(snap_dirs(state), dirs, "the full publication after the load wrote a new environment")

        # increments after the resumed start
        total = b.get_json("/api/stats")["totalTransmissions"]
        added = mkdb.append_transmissions(self.db, count=7, obs_per_tx=2, seed=5)
        b.wait_for(lambda: b.get_json("/api/stats")["totalTransmissions"] == total + 7, timeout=60,
                   what="the added rows to be published")
        self.assertEqual(b.get_json("/api/packets?limit=1")["packets"][0]["id"], added[-1]["id"])
        after_b = {u: b.get(u).body for u in COMPARED}
        b.stop()

        # a snapshot built from scratch on the same rows answers the same bytes
        c = self.daemon(os.path.join(self.tmp, "state-scratch")).start()
        c.wait_fresh(timeout=90)
        for u in COMPARED:
            self.assertEqual(c.get(u).body, after_b[u], u + ": resumed + incremental equals a full build")
        c.stop()

    def test_added_rows_rebuild(self):
        state = os.path.join(self.tmp, "state-rebuild")
        a = self.daemon(state).start()
        gen_a = a.wait_fresh(timeout=90)["generation"]
        a.stop()
        dirs = snap_dirs(state)
        mkdb.append_transmissions(self.db, count=3, obs_per_tx=2, seed=8)
        b = self.daemon(state).start()
        b.wait_fresh(timeout=90, min_generation=gen_a + 1)
        log = b.log_text()
        self.assertNotIn("covers the database", log)
        self.assertRegex(log, r"the snapshot of generation \d+ is rebuilt: the largest transmission id is \d+ in "
                              r"the database, \d+ in the snapshot")
        self.assertNotEqual(snap_dirs(state), dirs, "a new environment replaced the old one")
        b.stop()


if __name__ == "__main__":
    msnlib.main(ResumeTest)
