#!/usr/bin/python3
"""test_backfill_resume: the backfiller inside the real daemon.

  * The legacy e2e fixture (copied) is upgraded to the current schema by the daemon's
    backfiller: every table, column and index of a database created by `meshsnap
    init-db`, the duplicate observation merged, last_seen backfilled, every migration
    `done` in _async_migrations and in /api/healthz, and the published snapshot no longer
    legacy. A corrupt row (an observation whose path_json is not a JSON array) is skipped
    by resolved_path_backfill_v1: left unchanged, logged, recorded with its reason in
    _meshsnap_skipped and counted (`rowsSkipped`), and the migration completes (it is not
    retried forever).
  * kill -9 and SIGTERM of the backfiller process in the middle of tx_last_seen, path_json
    and resolved_path backfills: the supervisor restarts it, it resumes, rowsProcessed in
    /api/perf/async-migrations never goes backwards, and the final last_seen, path_json
    and resolved_path columns equal those of an uninterrupted run on a copy (the
    backfiller role run alone).
  * batch_size and yield_ms are validated when the configuration is read.
"""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402

MIGS = ["schema_upgrade_v1", "tx_last_seen_backfill_v1", "path_json_backfill_v1", "resolved_path_backfill_v1"]


def wait_all_done(tc, d, timeout=90, samples=None):
    """Waits until every migration is done (exactly those of MIGS); appends (name,
    rowsProcessed) samples."""
    ms = d.wait_migrations_done(len(MIGS), timeout=timeout, samples=samples)
    tc.assertEqual(sorted(ms), sorted(MIGS))
    return ms


def schema_of(path):
    conn = msnlib.sql_connect(path)
    try:
        objs = {(t, n) for t, n in conn.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")}
        cols = {}
        for t, n in objs:
            if t == "table":
                cols[n] = msnlib.table_columns(conn, n)
        return objs, cols
    finally:
        conn.close()


def backfilled_columns(path):
    return (msnlib.sql_rows(path, "SELECT id, path_json, resolved_path FROM observations ORDER BY id"),
            msnlib.sql_rows(path, "SELECT id, last_seen FROM transmissions ORDER BY id"))


class FixtureUpgradeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        binary = msnlib.meshsnapd_path()
        msnlib.fixture_path()
        cls.tmp = msnlib.make_tmpdir("msn-bf-fixture-")
        cls.db = msnlib.copy_fixture_db(cls.tmp, "e2e.db")
        cls.ref = os.path.join(cls.tmp, "ref.db")
        subprocess.run([binary, "--init-db", cls.ref], check=True)

    def test_upgrade_and_corrupt_row(self):
        # a corrupt row: a path_json that is not a JSON array, with resolved_path NULL
        conn = sqlite3.connect(self.db)
        tx = conn.execute("SELECT id FROM transmissions ORDER BY id LIMIT 1").fetchone()[0]
        bad = conn.execute("INSERT INTO observations (transmission_id, observer_idx, path_json, timestamp)"
                           " VALUES (?, 999, '[\"AB\",', 1700000000)", (tx,)).lastrowid
        conn.commit()
        conn.close()
        d = msnlib.Daemon(self.db, self.tmp, workers=2, poll_interval_ms=200,
                          sections={"backfill": {"batch_size": 50, "yield_ms": 5}})
        d.start()
        d.wait_ready(timeout=60)

        ms = wait_all_done(self, d, timeout=90)
        m = ms["resolved_path_backfill_v1"]
        self.assertEqual(m["rowsSkipped"], 1)
        self.assertIsNone(m["errorMessage"])
        self.assertEqual(m["rowsProcessed"], m["rowsTotal"])
        h = d.health()
        self.assertEqual([x["status"] for x in h["async_migrations"] if x["name"] == "resolved_path_backfill_v1"],
                         ["done"])
        conn = msnlib.sql_connect(self.db)
        self.assertEqual(conn.execute("SELECT status FROM _async_migrations WHERE name ="
                                      " 'resolved_path_backfill_v1'").fetchone()[0], "done")
        self.assertIsNone(conn.execute("SELECT resolved_path FROM observations WHERE id = ?", (bad,)).fetchone()[0])
        self.assertEqual([tuple(r) for r in conn.execute("SELECT migration, reason FROM _meshsnap_skipped"
                                                         " WHERE row_id = ?", (bad,))],
                         [("resolved_path_backfill_v1", "path_json is not a JSON array of hop strings")])
        conn.close()
        self.assertIn("row %d left unchanged" % bad, d.log_text())
        self.assertEqual(d.log_text().count("resolved_path_backfill_v1: starting"), 1, "the migration was retried")
        d.wait_health(lambda h: h.get("legacySchema") is False, timeout=60, what="a non-legacy snapshot")
        d.stop()

        # the schema equals that of a database created by init-db
        objs, cols = schema_of(self.db)
        want_objs, want_cols = schema_of(self.ref)
        self.assertEqual(sorted(want_objs - objs), [])
        for t, c in want_cols.items():
            self.assertEqual(sorted(c - cols.get(t, set())), [], t)
        conn = msnlib.sql_connect(self.db)
        self.assertEqual(conn.execute("SELECT COUNT(*) FROM observations WHERE id = 294").fetchone()[0], 0)
        self.assertEqual(conn.execute("SELECT COUNT(*) FROM transmissions WHERE last_seen = 0").fetchone()[0], 0)
        self.assertEqual(conn.execute("SELECT COUNT(*) FROM _async_migrations WHERE status = 'done'").fetchone()[0],
                         len(MIGS))
        conn.close()


class KillResumeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.binary = msnlib.meshsnapd_path()
        cls.tmp, cls.base = msnlib.generated_db("msn-bf-resume-", "base.db", nodes=60, observers=25,
                                                transmissions=8000, obs_per_tx=5.0, days=3, seed=5,
                                                legacy_last_seen=True)
        conn = sqlite3.connect(cls.base)
        # observations that carry only their raw_hex: path_json to derive, then to resolve
        conn.execute("UPDATE observations SET path_json = NULL, resolved_path = NULL WHERE raw_hex IS NOT NULL")
        conn.commit()
        conn.close()
        # the uninterrupted reference: the backfiller role alone on a copy
        cls.ref = os.path.join(cls.tmp, "ref.db")
        shutil.copyfile(cls.base, cls.ref)
        msnlib.run_backfiller(cls.ref, cls.tmp, name="ref", sections={"backfill": {"batch_size": 400, "yield_ms": 0}})
        conn = msnlib.sql_connect(cls.ref)
        cls.totals = {n: t for n, t in conn.execute("SELECT name, rows_total FROM _async_migrations")}
        conn.close()

    def test_config_validation(self):
        for bad, msg in (("batch_size = 0", "batch_size: 0 is out of range"),
                         ("yield_ms = -5", "yield_ms: -5 is out of range")):
            conf = os.path.join(self.tmp, "bad.conf")
            with open(conf, "w") as f:
                f.write("db = %s\n[backfill]\n%s\n" % (self.base, bad))
            r = subprocess.run([self.binary, "--config", conf, "--check-config"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(msg, r.stdout.decode())

    def test_kill_and_resume(self):
        db = os.path.join(self.tmp, "killed.db")
        shutil.copyfile(self.base, db)
        d = msnlib.Daemon(db, self.tmp, workers=2, poll_interval_ms=200,
                          sections={"backfill": {"batch_size": 200, "yield_ms": 15}})
        d.start()
        samples = []
        # (migration, fraction of its rows, signal)
        plan = [("tx_last_seen_backfill_v1", 0.4, signal.SIGKILL),
                ("path_json_backfill_v1", 0.5, signal.SIGTERM),
                ("resolved_path_backfill_v1", 0.3, signal.SIGKILL)]
        hits = []
        for name, frac, sig in plan:
            def reached():
                h = d.health()
                if not h:
                    return None
                for m in h.get("async_migrations") or []:
                    samples.append((m["name"], m["rowsProcessed"]))
                    if m["name"] == name and m["status"] == "running" and m["rowsTotal"] > 0 \
                            and m["rowsProcessed"] >= frac * m["rowsTotal"]:
                        return (h["backfillerPid"], m["rowsProcessed"], m["rowsTotal"])
                    if m["name"] == name and m["status"] == "done":
                        return ("done", 0, 0)
                return None
            pid, done_rows, total = d.wait_for(reached, timeout=90, interval=0.01, what="%s at %d%%" % (name, frac * 100))
            if pid == "done":
                msnlib.log("%s finished before the signal could be sent" % name)
                continue
            msnlib.kill_pid(pid, sig, timeout=30, check=d.check_alive)
            hits.append(name)
            msnlib.log("sent %s to the backfiller (pid %d) at %d / %d rows of %s"
                       % (signal.Signals(sig).name, pid, done_rows, total, name))
            conn = msnlib.sql_connect(db)
            st = conn.execute("SELECT status, error FROM _async_migrations WHERE name = ?", (name,)).fetchone()
            saved = conn.execute("SELECT processed FROM _meshsnap_backfill WHERE name = ?", (name,)).fetchone()
            conn.close()
            self.assertNotEqual(st[0], "done", "%s must not be done after the signal" % name)
            if sig == signal.SIGTERM:
                self.assertEqual(tuple(st), ("failed", "cancelled"))
            self.assertIsNotNone(saved, "the committed chunks of %s are recorded" % name)
            self.assertGreater(saved[0], 0)
        self.assertGreaterEqual(len(hits), 2, "the signals landed while the migrations ran")
        final = wait_all_done(self, d, timeout=120, samples=samples)
        d.stop()

        # progress never went backwards, across the restarts too
        for name in MIGS:
            seq = [p for n, p in samples if n == name]
            self.assertEqual(seq, sorted(seq), "%s rowsProcessed went backwards" % name)
        for name in MIGS[1:]:
            self.assertEqual(final[name]["rowsTotal"], self.totals[name], name)
            self.assertEqual(final[name]["rowsProcessed"], final[name]["rowsTotal"], name)
        log = d.log_text()
        self.assertIn("resuming after id", log)
        self.assertGreaterEqual(log.count("started backfiller"), 1 + len(hits))

        got_obs, got_tx = backfilled_columns(db)
        ref_obs, ref_tx = backfilled_columns(self.ref)
        self.assertEqual(len(got_obs), len(ref_obs))
        self.assertEqual(sum(1 for a, b in zip(got_obs, ref_obs) if a != b), 0, "observations differ")
        self.assertEqual(sum(1 for a, b in zip(got_tx, ref_tx) if a != b), 0, "last_seen differs")
        self.assertGreater(sum(1 for o in ref_obs if o[2] is not None), 1000)


if __name__ == "__main__":
    msnlib.main(FixtureUpgradeTest, KillResumeTest)
