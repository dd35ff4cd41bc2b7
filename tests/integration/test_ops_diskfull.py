#!/usr/bin/python3
"""test_ops_diskfull: a full disk under the snapshot while the master publishes.

The state directory is a small tmpfs (mounted by the test: root only, skipped otherwise).
Once the daemon serves, a filler file takes every free block, and new rows are written to
the database (which lives elsewhere):

- the publication that follows fails with an error in the log naming the full disk;
  nothing crashes (the master and the worker keep their pids: no SIGBUS from a page of a
  shared map that had no block), and the previous generation is still served: same
  generation, the old counts, no new packet;
- once the filler is removed, the next publication succeeds: the new rows are served
  and the generation moves on.
"""

import errno
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import mkdb  # noqa: E402
import msnlib  # noqa: E402

FS_MB = 48


class DiskFullTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("mounting a small file system needs root (running as uid %d)" % os.geteuid())
        cls.tmp, cls.db = msnlib.generated_db("msn-ops-diskfull-", "full.db", nodes=120, observers=8,
                                              transmissions=600, obs_per_tx=2.0, days=2, seed=23)
        cls.fs = os.path.join(cls.tmp, "statefs")
        os.mkdir(cls.fs)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % FS_MB, "tmpfs", cls.fs],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise unittest.SkipTest("cannot mount a tmpfs here: %s" % r.stdout.decode(errors="replace").strip())

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["umount", "-l", cls.fs], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def fill(self):
        """Writes a filler file until the file system is full; its path."""
        path = os.path.join(self.fs, "filler")
        chunk = b"\0" * (256 * 1024)
        with open(path, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(chunk)
            except OSError as e:
                self.assertEqual(e.errno, errno.ENOSPC)
        # the last partial blocks too
        with open(path, "ab", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        return path

    def test_full_disk_keeps_serving_then_recovers(self):
        d = msnlib.start_daemon(self.db, self.tmp, test=self, workers=1, poll_interval_ms=200,
                                state_dir=os.path.join(self.fs, "state"),
                                sections={"backfill": {"enabled": False}})
        h0 = d.health()
        pids = {"master": d.pid, "worker": d.worker_pids()[0]}
        s0 = d.get_json("/api/stats")
        filler = self.fill()
        new = mkdb.append_transmissions(self.db, count=5, obs_per_tx=2, seed=7)
        d.wait_for(lambda: "No space left on device" in d.log_text(), timeout=60,
                   what="the publication's error naming the full disk")
        # still serving the previous generation, nothing crashed
        for role, pid in pids.items():
            self.assertTrue(msnlib.pid_alive(pid), "the %s (pid %d) is alive" % (role, pid))
        self.assertEqual(d.worker_pids()[0], pids["worker"], "the worker was not replaced")
        s1 = d.get_json("/api/stats")
        self.assertEqual(s1["totalTransmissions"], s0["totalTransmissions"])
        self.assertEqual(d.get_json("/api/packets?hash=" + new[0]["hash"])["total"], 0)
        h1 = d.wait_for(d.health, timeout=30, what="healthz")
        self.assertEqual(h1["generation"], h0["generation"], "the previous generation is served")

        os.unlink(filler)
        d.wait_for(lambda: d.get_json("/api/stats")["totalTransmissions"] == s0["totalTransmissions"] + 5,
                   timeout=90, what="the new rows served once space is back")
        self.assertEqual(d.get_json("/api/packets?hash=" + new[4]["hash"])["total"], 1)
        self.assertGreater(d.health()["generation"], h0["generation"])
        for role, pid in pids.items():
            self.assertTrue(msnlib.pid_alive(pid), "the %s (pid %d) is alive" % (role, pid))
        d.stop()


if __name__ == "__main__":
    msnlib.main(DiskFullTest)
