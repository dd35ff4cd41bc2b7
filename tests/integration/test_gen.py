#!/usr/bin/python3
"""test_gen: the `meshsnap gen` command line (the generator itself is covered in depth by
tests/unit/cli/test_gen.c).

  * `meshsnap gen --help` and `meshsnap --help` document it;
  * it writes a database, refuses to overwrite an existing file (which stays untouched)
    unless --force is given;
  * the same arguments give the same rows, another seed other rows;
  * --empty-backfill leaves resolved_path NULL and last_seen 0 and changes nothing else;
  * the database is in WAL mode and passes SQLite's integrity check;
  * bad arguments exit with status 2.
"""

import hashlib
import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402

ARGS = ["--nodes", "80", "--observers", "10", "--transmissions", "1500", "--obs-per-tx", "6", "--days", "2",
        "--seed", "11", "--end", "1780000000", "--quiet"]


def gen(db, *extra):
    return msnlib.run_meshsnap("gen", "--db", db, *ARGS, *extra)


def checksum(db, skip=()):
    """A digest of every table's rows in rowid order, leaving out the (table, column) pairs in skip."""
    h = hashlib.sha256()
    conn = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
        cur = conn.execute('SELECT * FROM "%s" ORDER BY rowid' % name)
        cols = [d[0] for d in cur.description]
        keep = [i for i, c in enumerate(cols) if (name, c) not in skip]
        h.update(name.encode())
        for row in cur:
            h.update(repr([row[i] for i in keep]).encode())
    conn.close()
    return h.hexdigest()


class GenCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        msnlib.meshsnap_path()
        cls.tmp = msnlib.make_tmpdir("msn-gen-")

    def path(self, name):
        return os.path.join(self.tmp, name)

    def test_help(self):
        r = msnlib.run_meshsnap("gen", "--help")
        self.assertEqual(r.returncode, 0)
        for opt in ("--db", "--nodes", "--observers", "--transmissions", "--obs-per-tx", "--days", "--seed",
                    "--empty-backfill", "--force", "--demo"):
            self.assertIn(opt, r.stdout)
        r = msnlib.run_meshsnap("--help")
        self.assertIn("gen", r.stdout)

    def test_writes_and_refuses_to_overwrite(self):
        db = self.path("one.db")
        r = gen(db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1500 transmissions", r.stdout)
        self.assertIn("0 wrong", r.stdout)
        before = checksum(db)
        r = gen(db, "--seed", "12")
        self.assertEqual(r.returncode, 1)
        self.assertIn("exists", r.stderr)
        self.assertEqual(checksum(db), before)
        r = gen(db, "--seed", "12", "--force")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotEqual(checksum(db), before)
        conn = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        self.assertEqual(conn.execute("PRAGMA journal_mode").fetchone()[0], "wal")
        self.assertEqual(conn.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        self.assertEqual(conn.execute("SELECT COUNT(*) FROM transmissions").fetchone()[0], 1500)
        self.assertEqual(conn.execute("SELECT COUNT(*) FROM nodes").fetchone()[0], 80)
        conn.close()

    def test_same_arguments_same_rows(self):
        a, b, c = self.path("a.db"), self.path("b.db"), self.path("c.db")
        for db, extra in ((a, []), (b, ["--threads", "1"]), (c, ["--seed", "12"])):
            r = gen(db, *extra)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(checksum(a), checksum(b))
        self.assertNotEqual(checksum(a), checksum(c))

    def test_empty_backfill(self):
        full, empty = self.path("full.db"), self.path("empty.db")
        self.assertEqual(gen(full).returncode, 0)
        r = gen(empty, "--empty-backfill")
        self.assertEqual(r.returncode, 0, r.stderr)
        conn = sqlite3.connect("file:%s?mode=ro" % empty, uri=True)
        self.assertEqual(conn.execute("SELECT COUNT(*) FROM observations WHERE resolved_path IS NOT NULL").fetchone()[0],
                         0)
        self.assertEqual(conn.execute("SELECT COUNT(*) FROM transmissions WHERE last_seen != 0").fetchone()[0], 0)
        conn.close()
        conn = sqlite3.connect("file:%s?mode=ro" % full, uri=True)
        self.assertGreater(conn.execute("SELECT COUNT(*) FROM observations WHERE resolved_path IS NOT NULL")
                           .fetchone()[0], 1000)
        conn.close()
        skip = {("observations", "resolved_path"), ("transmissions", "last_seen"), ("_gen_info", "value")}
        self.assertEqual(checksum(full, skip), checksum(empty, skip))

    def test_bad_arguments(self):
        for args in (["gen"], ["gen", "--db", self.path("x.db"), "--nodes", "many"],
                     ["gen", "--db", self.path("x.db"), "--bogus"], ["gen", "--db", self.path("x.db"), "--end", "soon"]):
            r = msnlib.run_meshsnap(*args)
            self.assertEqual(r.returncode, 2, args)
        self.assertFalse(os.path.exists(self.path("x.db")))


if __name__ == "__main__":
    msnlib.main(GenCliTest)
