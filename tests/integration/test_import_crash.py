#!/usr/bin/python3
"""test_import_crash: `meshsnap import` killed with SIGKILL seven times, each run picking
up where the previous one died, then run to the end, gives exactly the database an
uninterrupted import gives.

The input carries a timestamp on every line, so both databases are fully determined by it:
every column of transmissions, observations, nodes and observers is compared, ids and
rowids included; only created_at (SQLite's clock) is left out. The interrupted import uses
a small --batch; each run is killed once the database holds a further eighth of the
observations plus a random few milliseconds, so kills land anywhere in a batch or a
commit. After each kill the database must hold whole batches only (no observation without
its transmission or observer, no duplicate dedup key, packet_count and last_seen matching
the rows). A SIGTERM stops an import cleanly with status 2, and its re-run finishes the job.

Both a current database (with the unique dedup index) and a legacy one (without it) are
tested.
"""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402
from test_import import ImportChecks, expected, generate, run_import, table_dump  # noqa: E402

KILLS = 7


def consistent(tc, db):
    """Whole batches only: every observation has its transmission and observer, no
    duplicate dedup keys, packet_count equals the observations of each observer, and
    transmissions.last_seen is the newest of its observations."""
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        q = lambda s: c.execute(s).fetchall()  # noqa: E731
        tc.assertEqual(q("SELECT COUNT(*) FROM observations o LEFT JOIN transmissions t ON t.id = o.transmission_id"
                         " WHERE t.id IS NULL")[0][0], 0)
        tc.assertEqual(q("SELECT COUNT(*) FROM observations o LEFT JOIN observers ob ON ob.rowid = o.observer_idx"
                         " WHERE ob.rowid IS NULL")[0][0], 0)
        tc.assertEqual(q("SELECT COUNT(*) FROM (SELECT 1 FROM observations GROUP BY transmission_id, observer_idx,"
                         " COALESCE(path_json, '') HAVING COUNT(*) > 1)")[0][0], 0)
        tc.assertEqual(q("SELECT COUNT(*) FROM observers ob WHERE packet_count !="
                         " (SELECT COUNT(*) FROM observations o WHERE o.observer_idx = ob.rowid)")[0][0], 0)
        tc.assertEqual(q("SELECT COUNT(*) FROM transmissions t WHERE last_seen !="
                         " (SELECT MAX(timestamp) FROM observations o WHERE o.transmission_id = t.id)")[0][0], 0)
        return q("SELECT COUNT(*) FROM observations")[0][0]
    finally:
        c.close()


class CrashTest(ImportChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        msnlib.meshsnap_path()
        cls.tmp = msnlib.make_tmpdir("msn-import-crash-")
        cls.corpus = generate(3000, seed=11, n_nodes=80, n_observers=10)
        cls.input = os.path.join(cls.tmp, "in.jsonl")
        cls.corpus.write(cls.input)
        cls.exp = expected(cls.corpus.lines)

    def fresh_db(self, name, legacy):
        db = os.path.join(self.tmp, name)
        p = msnlib.run_meshsnap("init-db", db)
        self.assertEqual(p.returncode, 0, p.stderr)
        if legacy:
            c = sqlite3.connect(db)
            c.execute("DROP INDEX idx_observations_dedup")
            c.commit()
            c.close()
        return db

    def interrupted(self, db, batch):
        """Runs the import KILLS times, killing it with SIGKILL once the database holds more
        than i/(KILLS+1) of the observations (plus a random few milliseconds, so that kills
        land anywhere in a batch or a commit), checking after each kill that only whole
        batches are there; then lets a last run finish. Returns the database path."""
        rng = random.Random(7)
        total = len(self.exp["obs"])
        seen = []
        for i in range(1, KILLS + 1):
            target = total * i // (KILLS + 1)
            before = consistent(self, db)
            p = subprocess.Popen([msnlib.meshsnap_path(), "import", "--db", db, "--batch", str(batch), self.input],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 300
            while p.poll() is None and time.monotonic() < deadline:
                c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
                try:
                    n = c.execute("SELECT COUNT(*) FROM observations").fetchone()[0]
                except sqlite3.OperationalError:
                    n = 0
                finally:
                    c.close()
                if n >= target:
                    break
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.02))
            p.send_signal(signal.SIGKILL)
            _, err = p.communicate()
            self.assertEqual(p.returncode, -signal.SIGKILL, "the import ended before the kill: %s" % err)
            after = consistent(self, db)
            self.assertGreaterEqual(after, max(before, target))
            seen.append(after)
        self.assertLess(seen[-1], total, "the last kill came after the last commit")
        p = run_import(db, self.input, "--batch", str(batch))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(consistent(self, db), total)
        msnlib.log("%s: killed with %r of %d observations committed" % (os.path.basename(db), seen, total))
        return db

    def check_against_uninterrupted(self, legacy):
        tag = "legacy" if legacy else "current"
        ref = self.fresh_db("ref-%s.db" % tag, legacy)
        p = run_import(ref, self.input)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.check_db(ref, self.exp)
        db = self.interrupted(self.fresh_db("killed-%s.db" % tag, legacy), batch=25)
        a, b = table_dump(ref), table_dump(db)
        for t in a:
            self.assertEqual(len(a[t]), len(b[t]), t)
            for ra, rb in zip(a[t], b[t]):
                self.assertEqual(ra, rb, t)
        self.check_db(db, self.exp)

    def test_sigkill_current_schema(self):
        self.check_against_uninterrupted(legacy=False)

    def test_sigkill_legacy_schema(self):
        self.check_against_uninterrupted(legacy=True)

    def test_sigterm_commits_and_exits_2(self):
        db = self.fresh_db("term.db", False)
        p = subprocess.Popen([msnlib.meshsnap_path(), "import", "--db", db, "--batch", "10", self.input],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # wait until rows appear, then ask it to stop
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and p.poll() is None:
            try:
                c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
                n = c.execute("SELECT COUNT(*) FROM observations").fetchone()[0]
                c.close()
            except sqlite3.OperationalError:
                n = 0
            if n > 0:
                break
            time.sleep(0.005)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
        if p.returncode == 0:
            self.skipTest("the import finished before SIGTERM arrived")
        self.assertEqual(p.returncode, 2, err)
        self.assertIn("interrupted", err)
        n = consistent(self, db)
        self.assertLess(n, len(self.exp["obs"]))
        p = run_import(db, self.input)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.check_db(db, self.exp)


if __name__ == "__main__":
    msnlib.main(CrashTest)
