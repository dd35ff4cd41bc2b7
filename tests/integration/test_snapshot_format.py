#!/usr/bin/python3
"""test_snapshot_format: a snapshot written in another snapshot format is never served.

meshsnapd publishes a snapshot of a generated database and stops. The test then rewrites
the `meta` record of that snapshot in place (through liblmdb with ctypes, and a minimal
msgpack codec for the meta map): once with a format version this binary does not write,
once without any (as binaries from before format versions wrote it). On the restart, an
exclusive SQLite lock holds the master before it can read the database (as in
test_core_restart), so that what the workers do with the old snapshot is observable:

- every data endpoint answers 503 with Retry-After, as when no snapshot exists, and
  /api/healthz answers ready=false with `snapshotRefused` naming the format;
- once the lock is released, the master publishes a fresh generation in a new environment
  (a higher generation number, a new snap-* directory) and the workers serve it;
- the refusal is logged once per process, not at every retry.
"""

import ctypes
import ctypes.util
import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import mkdb  # noqa: E402
import msnlib  # noqa: E402

TX = 1500
WORKERS = 2

# ---- msgpack, the subset the meta map uses (str keys; int, str values) -------------------


def mp_decode(buf):
    """Decodes a msgpack map of str -> int|str. Returns a list of (key, value) pairs."""
    pos = 0

    def take(n):
        nonlocal pos
        b = buf[pos:pos + n]
        if len(b) != n:
            raise ValueError("truncated msgpack")
        pos += n
        return b

    def value():
        c = take(1)[0]
        if c <= 0x7f:
            return c
        if c >= 0xe0:
            return c - 0x100
        if 0xa0 <= c <= 0xbf:
            return take(c & 0x1f).decode()
        fmt = {0xcc: ">B", 0xcd: ">H", 0xce: ">I", 0xcf: ">Q", 0xd0: ">b", 0xd1: ">h", 0xd2: ">i", 0xd3: ">q"}
        if c in fmt:
            f = fmt[c]
            return struct.unpack(f, take(struct.calcsize(f)))[0]
        if c in (0xd9, 0xda, 0xdb):
            f = {0xd9: ">B", 0xda: ">H", 0xdb: ">I"}[c]
            n = struct.unpack(f, take(struct.calcsize(f)))[0]
            return take(n).decode()
        raise ValueError("unexpected msgpack byte 0x%02x" % c)

    c = take(1)[0]
    if 0x80 <= c <= 0x8f:
        n = c & 0x0f
    elif c == 0xde:
        n = struct.unpack(">H", take(2))[0]
    else:
        raise ValueError("meta is not a map")
    return [(value(), value()) for _ in range(n)]


def mp_encode(pairs):
    def enc(v):
        if isinstance(v, str):
            b = v.encode()
            if len(b) < 32:
                return bytes([0xa0 | len(b)]) + b
            if len(b) < 256:
                return b"\xd9" + bytes([len(b)]) + b
            return b"\xda" + struct.pack(">H", len(b)) + b
        if 0 <= v <= 0x7f:
            return bytes([v])
        return b"\xd3" + struct.pack(">q", v)

    out = bytes([0x80 | len(pairs)]) if len(pairs) < 16 else b"\xde" + struct.pack(">H", len(pairs))
    for k, v in pairs:
        out += enc(k) + enc(v)
    return out


# ---- liblmdb through ctypes ----------------------------------------------------------------


class MDBVal(ctypes.Structure):
    _fields_ = [("mv_size", ctypes.c_size_t), ("mv_data", ctypes.c_void_p)]


def load_lmdb():
    name = ctypes.util.find_library("lmdb")
    if not name:
        raise unittest.SkipTest("liblmdb is not installed")
    lib = ctypes.CDLL(name)
    lib.mdb_strerror.restype = ctypes.c_char_p
    return lib


def rewrite_meta(env_dir, edit):
    """Replaces the meta record of the LMDB environment env_dir by edit(pairs) (a list of
    (key, value) pairs). Returns the pairs it found."""
    lib = load_lmdb()

    def ok(rc, what):
        if rc != 0:
            raise AssertionError("%s: %s" % (what, lib.mdb_strerror(rc).decode()))

    env = ctypes.c_void_p()
    txn = ctypes.c_void_p()
    dbi = ctypes.c_uint()
    ok(lib.mdb_env_create(ctypes.byref(env)), "mdb_env_create")
    try:
        ok(lib.mdb_env_set_maxdbs(env, 16), "mdb_env_set_maxdbs")
        ok(lib.mdb_env_open(env, env_dir.encode(), 0, 0o644), "mdb_env_open")
        ok(lib.mdb_txn_begin(env, None, 0, ctypes.byref(txn)), "mdb_txn_begin")
        ok(lib.mdb_dbi_open(txn, b"meta", 0, ctypes.byref(dbi)), "mdb_dbi_open")
        kbuf = ctypes.create_string_buffer(b"meta", 4)
        key = MDBVal(4, ctypes.cast(kbuf, ctypes.c_void_p))
        val = MDBVal()
        ok(lib.mdb_get(txn, dbi, ctypes.byref(key), ctypes.byref(val)), "mdb_get meta")
        pairs = mp_decode(ctypes.string_at(val.mv_data, val.mv_size))
        new = mp_encode(edit(list(pairs)))
        vbuf = ctypes.create_string_buffer(new, len(new))
        nval = MDBVal(len(new), ctypes.cast(vbuf, ctypes.c_void_p))
        ok(lib.mdb_put(txn, dbi, ctypes.byref(key), ctypes.byref(nval), 0), "mdb_put meta")
        ok(lib.mdb_txn_commit(txn), "mdb_txn_commit")
        return pairs
    finally:
        lib.mdb_env_close(env)


class SnapshotFormatTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        msnlib.meshsnapd_path()
        load_lmdb()
        cls.tmp = msnlib.make_tmpdir("msn-snapfmt-")
        cls.db = os.path.join(cls.tmp, "fmt.db")
        mkdb.build(cls.db, nodes=150, observers=8, transmissions=TX, obs_per_tx=2.0, days=2, seed=23)

    def daemon(self, state_dir):
        d = msnlib.Daemon(self.db, self.tmp, workers=WORKERS, poll_interval_ms=200, state_dir=state_dir)
        self.addCleanup(d.cleanup)
        return d

    def publish_once(self, state_dir):
        """Runs the daemon until it serves a fresh generation; returns (generation, env dir)."""
        d = self.daemon(state_dir)
        d.start()
        h = d.wait_fresh(timeout=120)
        self.assertEqual(d.get_json("/api/stats")["totalTransmissions"], TX)
        d.stop()
        env = os.path.realpath(os.path.join(state_dir, "current"))
        return int(h["generation"]), env

    def check_refused_then_rebuilt(self, edit, reason_re):
        state = os.path.join(self.tmp, "state-%s" % self._testMethodName)
        gen, env = self.publish_once(state)
        found = rewrite_meta(env, edit)
        self.assertIn("format", dict(found), "this binary writes a format version into meta")
        d = self.daemon(state)
        # while the lock is held the master cannot read the database, so it cannot have
        # replaced the snapshot: whatever the workers answer comes from the rewritten one
        with msnlib.SqliteLock(self.db):
            d.start()
            h = d.wait_for(lambda: d.health(timeout=1), timeout=30, what="healthz")
            self.assertIs(h["ready"], False, "a snapshot of another format is not ready: %r" % h)
            self.assertEqual(h["generation"], 0)
            self.assertRegex(h.get("snapshotRefused", ""), reason_re)
            for path in ("/api/stats", "/api/packets", "/api/packets?type=4", "/api/nodes", "/api/observers",
                         "/api/packets/1"):
                r = d.get(path, timeout=2)
                self.assertEqual(r.status, 503, "%s from a snapshot of another format: %d %r"
                                 % (path, r.status, r.body[:200]))
                self.assertRegex(r.header("retry-after", ""), r"^\d+$", path)
                self.assertIsInstance(r.json().get("error"), str, path)
        h = d.wait_fresh(timeout=120, min_generation=gen + 1)
        self.assertNotIn("snapshotRefused", h)
        self.assertEqual(d.get_json("/api/stats")["totalTransmissions"], TX)
        body = d.get_json("/api/packets?limit=3&type=4")
        self.assertEqual(len(body["packets"]), 3)
        new_env = os.path.realpath(os.path.join(state, "current"))
        self.assertNotEqual(new_env, env, "the fresh generation is a new environment")
        self.assertFalse(os.path.exists(env), "the old environment is removed")
        d.stop()
        log = d.log_text()
        master = [l for l in log.splitlines() if "master[" in l and "is not served" in l]
        self.assertEqual(len(master), 1, "the master logs the refusal once:\n%s" % "\n".join(master))
        workers = [l for l in log.splitlines() if "not serving the snapshot" in l]
        self.assertGreaterEqual(len(workers), 1)
        self.assertLessEqual(len(workers), WORKERS, "each worker logs the refusal once:\n%s" % "\n".join(workers))

    def test_newer_format_refused_and_rebuilt(self):
        def edit(pairs):
            return [(k, 999 if k == "format" else v) for k, v in pairs]
        self.check_refused_then_rebuilt(edit, r"snapshot format 999; this binary reads format \d+")

    def test_unversioned_snapshot_refused_and_rebuilt(self):
        def edit(pairs):
            return [(k, v) for k, v in pairs if k != "format"]
        self.check_refused_then_rebuilt(edit, r"no format version")


if __name__ == "__main__":
    msnlib.main(SnapshotFormatTest)
