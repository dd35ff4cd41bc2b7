#!/usr/bin/python3
"""test_snapshot_damage: bytes flipped in a snapshot's data.mdb are never served.

Every value of a snapshot carries a checksum (shm/snaprec.h). The test flips random bytes
inside stored values (records, packet-list and index entries, documents), located through
liblmdb with ctypes: their offsets in data.mdb are their addresses in the map minus its
base. Then, while requests run all the time:

- a stopped daemon's snapshot: on the restart the master checks the earlier run's
  snapshot in full (healthz `snapshotCheck.verify`; a SQLite lock holds the master's load
  meanwhile, so that the snapshot is not replaced first); the check fails, the snapshot
  is set aside ("damaged-*" in state_dir, healthz `setAside`) and rebuilt;
- a running daemon's snapshot: a request that reads a damaged value is answered 503 with
  Retry-After, never with it; the worker reports it, the master sets the snapshot aside
  and publishes a new generation. That holds for endpoints that decode records themselves
  too (/api/traces).

Throughout, a 200 answer is valid JSON equal to the answer of the undamaged snapshot (the
database does not change), no worker crashes, and afterwards every answer is 200 again.
"""

import ctypes
import ctypes.util
import json
import os
import random
import sqlite3
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import mkdb  # noqa: E402
import msnlib  # noqa: E402

TX = 1500
# the databases whose values are damaged (names as in shm/snapshot.h)
DAMAGED_DBS = (b"tx", b"obs", b"node", b"doc", b"hash", b"oid", b"fx", b"ft", b"fl", b"orow")


class MDBVal(ctypes.Structure):
    _fields_ = [("mv_size", ctypes.c_size_t), ("mv_data", ctypes.c_void_p)]


def load_lmdb():
    name = ctypes.util.find_library("lmdb")
    if not name:
        raise unittest.SkipTest("liblmdb is not installed")
    lib = ctypes.CDLL(name)
    lib.mdb_strerror.restype = ctypes.c_char_p
    return lib


def map_base(path):
    """The address this process maps path at (from /proc/self/maps)."""
    st = os.stat(path)
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[2] == "00000000" and int(parts[4]) == st.st_ino:
                return int(parts[0].split("-")[0], 16)
    raise AssertionError("%s is not mapped" % path)


def value_spans(env_dir):
    """{db name: [(file offset, length, key bytes)]} of every value in env_dir (read-only)."""
    lib = load_lmdb()

    def ok(rc, what):
        if rc != 0:
            raise AssertionError("%s: %s" % (what, lib.mdb_strerror(rc).decode()))

    MDB_RDONLY, MDB_NEXT = 0x20000, 8
    env, txn = ctypes.c_void_p(), ctypes.c_void_p()
    out = {}
    ok(lib.mdb_env_create(ctypes.byref(env)), "mdb_env_create")
    try:
        ok(lib.mdb_env_set_maxdbs(env, 16), "mdb_env_set_maxdbs")
        ok(lib.mdb_env_open(env, env_dir.encode(), MDB_RDONLY, 0o644), "mdb_env_open")
        base = map_base(os.path.join(env_dir, "data.mdb"))
        ok(lib.mdb_txn_begin(env, None, MDB_RDONLY, ctypes.byref(txn)), "mdb_txn_begin")
        for name in DAMAGED_DBS:
            dbi, cur = ctypes.c_uint(), ctypes.c_void_p()
            if lib.mdb_dbi_open(txn, name, 0, ctypes.byref(dbi)) != 0:
                continue
            ok(lib.mdb_cursor_open(txn, dbi, ctypes.byref(cur)), "mdb_cursor_open")
            k, v = MDBVal(), MDBVal()
            spans = []
            while lib.mdb_cursor_get(cur, ctypes.byref(k), ctypes.byref(v), MDB_NEXT) == 0:
                if v.mv_size > 0:
                    spans.append((v.mv_data - base, v.mv_size, ctypes.string_at(k.mv_data, k.mv_size)))
            lib.mdb_cursor_close(cur)
            out[name.decode()] = spans
        lib.mdb_txn_abort(txn)
    finally:
        lib.mdb_env_close(env)
    return out


def flip(path, offsets, rng):
    """Changes the byte at each offset of path in place (xor with a random non-zero byte)."""
    with open(path, "r+b") as f:
        for off in offsets:
            f.seek(off)
            b = f.read(1)[0]
            f.seek(off)
            f.write(bytes([b ^ rng.randrange(1, 256)]))
            f.flush()
        os.fsync(f.fileno())


def same(url, got, want):
    """got equals want; for a node's detail, on the fields both have: it is answered from the
    node's record until the master has written the node's documents (which add fields), and
    a rebuild without the damaged snapshot writes them again."""
    if not url.startswith("/api/nodes/") or not isinstance(got, dict) or not isinstance(want, dict):
        return got == want
    for key in set(got) & set(want):
        g, w = got[key], want[key]
        if key == "node" and isinstance(g, dict) and isinstance(w, dict):
            if any(g[k] != w[k] for k in set(g) & set(w)):
                return False
        elif g != w:
            return False
    return "node" in got and "node" in want


class Prober:
    """Requests urls in a loop in a thread; records every answer that is not allowed: a 200
    that is not valid JSON equal to the reference, or any status but 200 and 503."""

    def __init__(self, d, reference):
        self.d = d
        self.reference = reference
        self.bad = []
        self.counts = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            for url, want in self.reference.items():
                try:
                    r = self.d.get(url, timeout=10)
                except OSError as e:  # the daemon restarting: nothing served, nothing wrong
                    self.counts["error"] = self.counts.get("error", 0) + 1
                    time.sleep(0.05)
                    continue
                self.counts[r.status] = self.counts.get(r.status, 0) + 1
                if r.status == 503:
                    if r.header("Retry-After") is None:
                        self.bad.append((url, "503 without Retry-After"))
                    continue
                if r.status != 200:
                    self.bad.append((url, "status %d: %r" % (r.status, r.body[:200])))
                    continue
                try:
                    got = json.loads(r.body)
                except ValueError as e:
                    self.bad.append((url, "invalid JSON (%s): %r" % (e, r.body[:200])))
                    continue
                if not same(url, got, want):
                    self.bad.append((url, "200 with other data than the snapshot held: %r" % (r.body[:300],)))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)


class SnapshotDamageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        msnlib.meshsnapd_path()
        load_lmdb()
        cls.tmp = msnlib.make_tmpdir("msn-snapdmg-")
        cls.db = os.path.join(cls.tmp, "dmg.db")
        mkdb.build(cls.db, nodes=150, observers=8, transmissions=TX, obs_per_tx=2.0, days=2, seed=47)
        msnlib.run_backfiller(cls.db, cls.tmp)
        con = sqlite3.connect(cls.db)
        cls.hashes = {i: h for i, h in con.execute("SELECT id, hash FROM transmissions")}
        cls.keys = [k for (k,) in con.execute("SELECT public_key FROM nodes ORDER BY public_key LIMIT 5")]
        con.close()
        seed = int(os.environ.get("MSN_DAMAGE_SEED", "0")) or random.randrange(1, 1 << 30)
        msnlib.log("damage seed %d (MSN_DAMAGE_SEED to repeat)" % seed)
        cls.rng = random.Random(seed)

    def daemon(self, state_dir):
        d = msnlib.Daemon(self.db, self.tmp, workers=2, poll_interval_ms=200, state_dir=state_dir,
                          sections={"analytics": {"node_documents_s": 3600}})
        self.addCleanup(d.cleanup)
        return d

    def urls(self, tx_ids):
        urls = ["/api/packets?limit=200", "/api/packets?limit=100&order=asc", "/api/nodes?limit=200",
                "/api/packets?limit=50&expand=observations"]  # (observers: counts that move with time)
        urls += ["/api/packets/%s" % self.hashes[i] for i in tx_ids]
        urls += ["/api/nodes/%s" % k for k in self.keys]
        return urls

    def reference(self, d, urls):
        return {u: d.get_json(u) for u in urls}

    def wait_health_or_bad(self, d, p, pred, what):
        """Waits for pred(healthz), failing at once when p met an answer not allowed."""
        d.wait_health(lambda h: pred(h) or p.bad, timeout=60, what=what)
        self.assertEqual(p.bad[:3], [], "answers served from a damaged snapshot (counts %r)" % p.counts)

    def check_served_again(self, d, reference):
        for url, want in reference.items():
            got = d.get_json(url)
            self.assertTrue(same(url, got, want), "%s after the rebuild: %r, want %r" % (url, got, want))

    def pick(self, spans, n, dbs):
        """n (offset, tx id or None) in the values of dbs, each in another value."""
        out = []
        for db in dbs:
            for off, size, key in self.rng.sample(spans[db], min(n, len(spans[db]))):
                tx = int.from_bytes(key, "big") if db == "tx" and len(key) == 8 else None
                out.append((off + self.rng.randrange(size), tx))
        return out

    def test_stopped_daemon_snapshot(self):
        state = os.path.join(self.tmp, "state-stopped")
        d = self.daemon(state)
        d.start()
        h = d.wait_fresh(timeout=120)
        gen = int(h["generation"])
        spans = value_spans(os.path.realpath(os.path.join(state, "current")))
        damaged = self.pick(spans, 3, sorted(spans))
        tx_ids = [t for _, t in damaged if t is not None]
        tx_ids += self.rng.sample(sorted(self.hashes), 4)
        reference = self.reference(d, self.urls(tx_ids))
        d.stop()
        env = os.path.realpath(os.path.join(state, "current"))
        flip(os.path.join(env, "data.mdb"), [off for off, _ in damaged], self.rng)

        d2 = self.daemon(state)
        # while the lock is held the master cannot load the database, so it cannot replace
        # the earlier snapshot; no request reads it meanwhile: the check has to find the
        # damage (workers meeting it are the other test)
        with msnlib.SqliteLock(self.db):
            d2.start()
            h = d2.wait_health(lambda h: h.get("snapshotCheck", {}).get("verify") in ("failed", "passed"),
                               timeout=60, what="the verdict of the check")
            self.assertEqual(h["snapshotCheck"]["verify"], "failed")
            self.assertEqual(h["snapshotCheck"]["setAside"], 1)
            self.assertFalse(os.path.exists(os.path.join(state, "current")), "nothing current to serve")
            with Prober(d2, reference) as p0:
                time.sleep(1)
            self.assertEqual(p0.bad, [], "answers while no snapshot is current (counts %r)" % p0.counts)
            self.assertEqual(set(p0.counts), {503}, p0.counts)
        with Prober(d2, reference) as p:
            d2.wait_fresh(timeout=60, min_generation=gen + 1)
            d2.wait_for(lambda: all(d2.get(u).status == 200 for u in reference), timeout=30,
                        what="every url answered 200 again")
            time.sleep(0.5)
        self.assertEqual(p.bad, [], "answers served from a damaged snapshot (counts %r)" % p.counts)
        self.check_served_again(d2, reference)
        self.assertRegex(d2.log_text(), r"snapshot snap-\d+ (is|was) damaged \(")
        self.assertEqual(len([n for n in os.listdir(state) if n.startswith("damaged-")]), 1)
        self.assertNotEqual(os.path.realpath(os.path.join(state, "current")), env)
        d2.stop()
        # the new snapshot is intact: the next start checks it and keeps it
        d3 = self.daemon(state)
        d3.start()
        d3.wait_health(lambda h: h.get("snapshotCheck", {}).get("verify") == "passed", timeout=60,
                       what="the rebuilt snapshot checked intact")
        d3.stop()

    def damage_running(self, name, choose):
        """Starts a daemon with state dir NAME; while a Prober requests the urls, flips the
        bytes that choose(value spans) names ((file offsets, urls)) in its snapshot, and
        waits until that snapshot is set aside, a new generation published and every url
        answered 200 again. Checks that no answer came from damaged values; returns (the
        daemon, the prober, the damaged environment's directory)."""
        state = os.path.join(self.tmp, name)
        d = self.daemon(state)
        d.start()
        gen = int(d.wait_fresh(timeout=120)["generation"])
        env = os.path.realpath(os.path.join(state, "current"))
        offsets, urls = choose(value_spans(env))
        reference = self.reference(d, urls)
        with Prober(d, reference) as p:
            flip(os.path.join(env, "data.mdb"), offsets, self.rng)
            self.wait_health_or_bad(d, p, lambda h: h.get("snapshotCheck", {}).get("setAside", 0) >= 1,
                                    "the damaged snapshot set aside")
            d.wait_fresh(timeout=60, min_generation=gen + 1)
            d.wait_for(lambda: all(d.get(u).status == 200 for u in reference), timeout=30,
                       what="every url answered 200 again")
            time.sleep(0.5)
        self.assertEqual(p.bad, [], "answers served from a damaged snapshot (counts %r)" % p.counts)
        self.check_served_again(d, reference)
        return d, p, env

    def test_running_daemon_snapshot(self):
        def choose(spans):
            damaged = self.pick(spans, 4, ["tx"])
            tx_ids = [t for _, t in damaged]
            return [off for off, _ in damaged], self.urls(tx_ids + self.rng.sample(sorted(self.hashes), 3))
        d, p, env = self.damage_running("state-running", choose)
        self.assertGreater(p.counts.get(503, 0), 0, "the damage was met by a request (counts %r)" % p.counts)
        log = d.log_text()
        self.assertIn("a value does not match its checksum", log)
        self.assertRegex(log, r"set aside as .*damaged-\d{8}T\d{6}Z-snap-\d+")
        self.assertNotEqual(os.path.realpath(os.path.join(self.tmp, "state-running", "current")), env)
        d.stop()

    def test_damaged_observation_in_traces(self):
        """An observation record read by /api/traces (which decodes the records itself) that
        fails its checksum makes the answer a 503 and the snapshot set aside, never a 200
        with that observation left out."""
        def choose(spans):
            picked = self.rng.sample([x for x in spans["obs"] if len(x[2]) == 16], 2)
            return ([off + self.rng.randrange(size) for off, size, _ in picked],
                    ["/api/traces/%s" % self.hashes[int.from_bytes(key[:8], "big")] for _, _, key in picked])
        d, _, _ = self.damage_running("state-traces", choose)
        d.stop()

if __name__ == "__main__":
    msnlib.main(SnapshotDamageTest)
