#!/usr/bin/python3
"""test_backfill_truth: resolved paths written by the backfill agree with the truth.

`meshsnap gen --empty-backfill` writes a simulated mesh whose observations have
resolved_path NULL and whose transmissions have last_seen 0, plus the truth: the node that
really relayed each hop (_gen_truth_keys). The daemon's backfiller fills both columns;
then:

  * no hop is resolved to a wrong node (the conservative rule of data-model spec §4.2
    under-attributes rather than mis-attributes); the share of hops resolved is printed;
  * the result is row for row what the generator writes when it resolves at insert time
    (same seed, without --empty-backfill), i.e. what CoreScope's ingestor would store;
  * last_seen is MAX(observations.timestamp) of every transmission with observations.
"""

import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402

GEN_ARGS = ["--nodes", "400", "--observers", "40", "--transmissions", "6000", "--obs-per-tx", "8",
            "--days", "3", "--seed", "17", "--end", "1795363200", "--quiet"]


def meshsnap():
    """meshsnap, when its generator has --empty-backfill (SkipTest otherwise)."""
    r = msnlib.run_meshsnap("gen", "--help")
    if r.returncode != 0 or "--empty-backfill" not in r.stdout + r.stderr:
        raise unittest.SkipTest("meshsnap gen --empty-backfill is not available")
    return msnlib.meshsnap_path()


class TruthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        msnlib.meshsnapd_path()
        tool = meshsnap()
        cls.tmp = msnlib.make_tmpdir("msn-bf-truth-")
        cls.db = os.path.join(cls.tmp, "empty.db")
        cls.ref = os.path.join(cls.tmp, "resolved-at-insert.db")
        subprocess.run([tool, "gen", "--db", cls.db, "--empty-backfill"] + GEN_ARGS, check=True)
        subprocess.run([tool, "gen", "--db", cls.ref] + GEN_ARGS, check=True)
        conn = msnlib.sql_connect(cls.db)
        cls.before = conn.execute("SELECT COUNT(*) FROM observations WHERE resolved_path IS NOT NULL").fetchone()[0]
        cls.zero = conn.execute("SELECT COUNT(*) FROM transmissions WHERE last_seen = 0").fetchone()[0]
        conn.close()
        d = msnlib.Daemon(cls.db, cls.tmp, workers=2, poll_interval_ms=200,
                          sections={"backfill": {"batch_size": 2000, "yield_ms": 5}})
        d.start()
        t0 = time.monotonic()
        try:
            cls.migs = d.wait_migrations_done(4, timeout=120)
            d.stop()
        finally:
            d.cleanup()
        msnlib.log("backfill of the generated database done in %.1f s" % (time.monotonic() - t0))

    def test_empty_before(self):
        self.assertEqual(self.before, 0)
        self.assertEqual(self.zero, 6000)

    def test_no_hop_resolved_wrongly(self):
        conn = msnlib.sql_connect(self.db)
        hops = resolved = wrong = paths = 0
        examples = []
        for oid, pj, rp, truth in conn.execute(
                "SELECT o.id, o.path_json, o.resolved_path, k.route_json FROM observations o"
                " JOIN _gen_truth_keys k ON k.observation_id = o.id"):
            p = json.loads(pj) if pj else []
            t = json.loads(truth)
            self.assertEqual(len(p), len(t), "truth of observation %d" % oid)
            hops += len(p)
            paths += 1
            if rp is None:
                continue
            r = json.loads(rp)
            self.assertEqual(len(r), len(p), "resolved_path of observation %d has one entry per hop" % oid)
            self.assertTrue(any(x is not None for x in r), "an all-null result is stored as NULL (%d)" % oid)
            for i, key in enumerate(r):
                if key is None:
                    continue
                resolved += 1
                if key != t[i]:
                    wrong += 1
                    if len(examples) < 5:
                        examples.append((oid, i, p[i], key, t[i]))
        conn.close()
        share = resolved / hops if hops else 0
        msnlib.log("%d paths, %d hops: %d resolved (%.1f %%), %d wrong" % (paths, hops, resolved, 100 * share, wrong))
        print("resolved share: %.3f of %d hops, %d wrong" % (share, hops, wrong))
        self.assertGreater(hops, 50000)
        self.assertGreater(resolved, hops // 4, "the rule resolves a good share on a realistic mesh")
        self.assertEqual(wrong, 0, "hops resolved to the wrong node: %r" % examples)

    def test_same_as_resolving_at_insert(self):
        conn = msnlib.sql_connect(self.db)
        conn.execute("ATTACH DATABASE ? AS ref", (self.ref,))
        n, diff = conn.execute("SELECT COUNT(*), SUM(o.resolved_path IS NOT r.resolved_path) FROM observations o"
                               " JOIN ref.observations r ON r.id = o.id").fetchone()
        ls = conn.execute("SELECT COUNT(*) FROM transmissions t JOIN ref.transmissions r ON r.id = t.id"
                          " WHERE t.last_seen != r.last_seen").fetchone()[0]
        conn.close()
        self.assertGreater(n, 40000)
        self.assertEqual(diff, 0)
        self.assertEqual(ls, 0)

    def test_last_seen(self):
        conn = msnlib.sql_connect(self.db)
        wrong = conn.execute("SELECT COUNT(*) FROM transmissions t WHERE t.last_seen !="
                             " COALESCE((SELECT MAX(o.timestamp) FROM observations o"
                             " WHERE o.transmission_id = t.id), 0)").fetchone()[0]
        conn.close()
        self.assertEqual(wrong, 0)
        m = self.migs["tx_last_seen_backfill_v1"]
        self.assertEqual(m["rowsProcessed"], m["rowsTotal"])
        self.assertGreater(m["rowsTotal"], 5000)
        m = self.migs["resolved_path_backfill_v1"]
        self.assertEqual(m["rowsProcessed"], m["rowsTotal"])


if __name__ == "__main__":
    msnlib.main(TruthTest)
