#!/usr/bin/python3
"""test_ops_dbfile: the database file deleted or replaced under a running daemon.

- Replaced (another file renamed over the path): the master notices it within seconds,
  says so in the log and in /api/healthz (`database.changes`, `changedAt`), reopens the
  path, loads the new file in full and serves it; the backfiller is started again on the
  new file.
- Deleted: `database.state` is "missing", the log says so, and the last snapshot stays
  served (the API answers with the data as it was).
- Put back: the daemon loads it and serves it again (`database.state` "ok").
"""

import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import mkdb  # noqa: E402
import msnlib  # noqa: E402


class DbFileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.a = msnlib.generated_db("msn-ops-dbfile-", "a.db", nodes=80, observers=6,
                                             transmissions=1500, obs_per_tx=2.0, days=2, seed=31)
        cls.b = os.path.join(cls.tmp, "b.db")
        mkdb.build(cls.b, nodes=90, observers=7, transmissions=2300, obs_per_tx=2.0, days=2, seed=32)
        # migrated beforehand: the backfiller has nothing to write, so no WAL is left beside a file
        msnlib.run_backfiller(cls.a, cls.tmp, name="bf-a")
        msnlib.run_backfiller(cls.b, cls.tmp, name="bf-b")

    def copy_in(self, src, dst):
        tmp = dst + ".new"
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)

    def test_replaced_deleted_restored(self):
        db = os.path.join(self.tmp, "served.db")
        shutil.copyfile(self.a, db)
        d = msnlib.start_daemon(db, self.tmp, test=self, workers=1, poll_interval_ms=200)
        self.assertEqual(d.get_json("/api/stats")["totalTransmissions"], 1500)
        h = d.health()
        self.assertEqual(h["database"]["state"], "ok")
        self.assertEqual(h["database"]["changes"], 0)
        d.wait_for(lambda: "backfiller finished all migrations" in d.log_text(), timeout=60,
                   what="the backfiller done")

        # replaced: another file at the same path
        self.copy_in(self.b, db)
        d.wait_for(lambda: d.get_json("/api/stats")["totalTransmissions"] == 2300, timeout=30,
                   what="the new file served")
        h = d.wait_health(lambda h: h["database"]["state"] == "ok", timeout=30, what="database ok again")
        self.assertGreaterEqual(h["database"]["changes"], 1)
        self.assertIsNotNone(h["database"]["changedAt"])
        log = d.log_text()
        self.assertRegex(log, r"the database .*served\.db was replaced by another file")
        d.wait_for(lambda: d.log_text().count("started backfiller") >= 2, timeout=30,
                   what="the backfiller started again on the new file")

        # deleted: the last snapshot stays served
        os.unlink(db)
        h = d.wait_health(lambda h: h["database"]["state"] == "missing", timeout=30, what="database missing")
        self.assertIn("was deleted", d.log_text())
        self.assertEqual(d.get_json("/api/stats")["totalTransmissions"], 2300)
        self.assertTrue(h["ready"])

        # put back
        self.copy_in(self.a, db)
        d.wait_for(lambda: d.get_json("/api/stats")["totalTransmissions"] == 1500, timeout=30,
                   what="the restored file served")
        d.wait_health(lambda h: h["database"]["state"] == "ok", timeout=30, what="database ok")
        d.stop()


if __name__ == "__main__":
    msnlib.main(DbFileTest)
