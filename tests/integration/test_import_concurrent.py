#!/usr/bin/python3
"""test_import_concurrent: readers of the database keep their latency while `meshsnap
import` writes into it, and see the import's rows arrive batch by batch.

A reader process polls the database the way meshsnapd does (new observations by id with
their transmissions, the newest nodes, counts), timing every query: first on the
database alone, then while a larger import runs. The latencies are compared as ratios of
the two phases (never as absolute times), with generous bounds: WAL readers never wait for
the writer, and short batches keep the WAL small. The reader must also see the row count
grow several times during the import (commits are visible as they happen), and no query
may fail with "database is locked".

Two more writers' cases: an import waits for another connection's write lock instead of
failing, and follows a schema change made by another writer between two of its batches.
"""

import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402
from test_import import generate, run_import  # noqa: E402

READER = r'''
import json, sqlite3, sys, time
db, stop_file, out = sys.argv[1], sys.argv[2], sys.argv[3]
c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
lat, counts, errors, last = [], [], 0, 0
t_end = time.monotonic() + 600
while time.monotonic() < t_end:
    import os
    if os.path.exists(stop_file):
        break
    t0 = time.perf_counter()
    try:
        rows = c.execute("SELECT o.id, o.path_json, o.timestamp, t.hash, t.payload_type FROM observations o"
                         " JOIN transmissions t ON t.id = o.transmission_id WHERE o.id > ? ORDER BY o.id LIMIT 2000",
                         (last,)).fetchall()
        if rows:
            last = rows[-1][0]
        c.execute("SELECT public_key, name, last_seen FROM nodes ORDER BY last_seen DESC LIMIT 50").fetchall()
        n = c.execute("SELECT COUNT(*) FROM observations").fetchone()[0]
    except sqlite3.OperationalError:
        errors += 1
        continue
    lat.append(time.perf_counter() - t0)
    counts.append(n)
    time.sleep(0.002)
json.dump({"lat": lat, "counts": counts, "errors": errors}, open(out, "w"))
'''

pct = msnlib.percentile


class ConcurrentReaderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        msnlib.meshsnap_path()
        cls.tmp = msnlib.make_tmpdir("msn-import-conc-")
        cls.base = os.path.join(cls.tmp, "base.jsonl")
        cls.big = os.path.join(cls.tmp, "big.jsonl")
        generate(800, seed=31, n_nodes=60, n_observers=10).write(cls.base)
        cls.big_corpus = generate(8000, seed=32, n_nodes=120, n_observers=12)
        cls.big_corpus.write(cls.big)

    def reader_phase(self, db, tag, during=None):
        stop = os.path.join(self.tmp, "stop-" + tag)
        out = os.path.join(self.tmp, "lat-%s.json" % tag)
        r = subprocess.Popen([sys.executable, "-c", READER, db, stop, out])
        try:
            if during is None:
                time.sleep(2.0)
            else:
                time.sleep(0.3)
                during()
        finally:
            open(stop, "w").close()
            r.wait(timeout=60)
        with open(out) as f:
            return json.load(f)

    def test_reader_latency_while_importing(self):
        db = os.path.join(self.tmp, "conc.db")
        p = run_import(db, self.base)
        self.assertEqual(p.returncode, 0, p.stderr)
        before = self.reader_phase(db, "before")
        result = {}

        def do_import():
            t0 = time.monotonic()
            result["p"] = run_import(db, self.big, "--batch", "1000")
            result["s"] = time.monotonic() - t0

        during = self.reader_phase(db, "during", do_import)
        p = result["p"]
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(before["errors"], 0)
        self.assertEqual(during["errors"], 0, "readers got 'database is locked'")
        lb, ld = before["lat"], during["lat"]
        self.assertGreater(len(lb), 50)
        self.assertGreater(len(ld), 50)
        msnlib.log("reader latency before: p50 %.2f ms p90 %.2f ms max %.2f ms (%d queries)" %
                   (pct(lb, 50) * 1e3, pct(lb, 90) * 1e3, max(lb) * 1e3, len(lb)))
        msnlib.log("reader latency during a %.1f s import: p50 %.2f ms p90 %.2f ms max %.2f ms (%d queries)" %
                   (result["s"], pct(ld, 50) * 1e3, pct(ld, 90) * 1e3, max(ld) * 1e3, len(ld)))
        # the reader also fetched the new rows (up to 2000 per query), so allow for that work
        self.assertLess(pct(ld, 50), 15 * pct(lb, 50))
        self.assertLess(pct(ld, 90), 30 * pct(lb, 90))
        # commits became visible while the import ran, batch after batch
        grew = len(set(during["counts"]))
        self.assertGreater(grew, 3, "the reader saw the observation count change only %d times" % grew)

    def test_waits_for_another_writer(self):
        """Another connection holds the write lock for a while: the import waits for it
        (busy timeout) instead of failing, and then writes everything."""
        import sqlite3
        db = os.path.join(self.tmp, "locked.db")
        p = run_import(db, self.base)
        self.assertEqual(p.returncode, 0, p.stderr)
        c = sqlite3.connect(db, isolation_level=None)
        c.execute("BEGIN IMMEDIATE")
        c.execute("UPDATE observers SET name = name")
        proc = subprocess.Popen([msnlib.meshsnap_path(), "import", "--db", db, "--batch", "500", self.big],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        self.assertIsNone(proc.poll(), "the import should be waiting for the lock")
        c.execute("COMMIT")
        c.close()
        _, err = proc.communicate(timeout=300)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("rejected:      0 lines", err)

    def test_follows_schema_change(self):
        """A migration by another writer during the import (here: transmissions.last_seen
        added back) is picked up at the next batch: later rows fill the new column."""
        import sqlite3
        db = os.path.join(self.tmp, "migrating.db")
        p = msnlib.run_meshsnap("init-db", db)
        self.assertEqual(p.returncode, 0, p.stderr)
        c = sqlite3.connect(db, isolation_level=None, timeout=60)
        c.execute("DROP INDEX idx_tx_last_seen_zero")
        c.execute("ALTER TABLE transmissions DROP COLUMN last_seen")
        proc = subprocess.Popen([msnlib.meshsnap_path(), "import", "--db", db, "--batch", "20", self.big],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if c.execute("SELECT COUNT(*) FROM transmissions").fetchone()[0] > 0:
                break
            time.sleep(0.005)
        c.execute("ALTER TABLE transmissions ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0")
        _, err = proc.communicate(timeout=300)
        self.assertEqual(proc.returncode, 0, err)
        zero, total = c.execute("SELECT SUM(last_seen = 0), COUNT(*) FROM transmissions").fetchone()
        if zero == total:
            c.close()
            self.skipTest("the import finished before the column came back")
        self.assertIn("schema changed", err)
        self.assertGreater(zero, 0)
        # every transmission written after the change carries the newest of all its
        # observations (also those written before the column existed); the others stay 0
        # for the backfill
        bad = c.execute("SELECT COUNT(*) FROM transmissions t WHERE last_seen != 0 AND last_seen !="
                        " (SELECT MAX(timestamp) FROM observations o WHERE o.transmission_id = t.id)").fetchone()[0]
        last = c.execute("SELECT last_seen = (SELECT MAX(timestamp) FROM observations o WHERE o.transmission_id = t.id)"
                         " FROM transmissions t ORDER BY id DESC LIMIT 1").fetchone()[0]
        c.close()
        self.assertEqual(bad, 0)
        self.assertEqual(last, 1)


if __name__ == "__main__":
    msnlib.main(ConcurrentReaderTest)
