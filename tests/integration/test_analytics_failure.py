#!/usr/bin/python3
"""test_analytics_failure: a failing analytic keeps its previous result published, is
reported in /api/perf and the log, and takes no process down, whether the computation
returns an error or the computing process dies. Failures are injected with the test knob
MESHSNAP_TEST_ANALYTICS_FAIL=NAME:N[:crash] (from the N-th computation of NAME on).

The computing process belongs to the publisher thread, which alone reaps it: how it ended
(here: killed by signal 9) reaches the log, and while such processes come and go every
second, each worker killed with SIGKILL and the backfiller's exit still reach the
supervisor (logged with their status, the worker respawned). The computing process holds
no listening socket and no database, LMDB or status file open."""

import os
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402


class FailureChecks:
    mode = ""

    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-anfail-", "a.db", nodes=120, observers=6, transmissions=800,
                                              obs_per_tx=3, seed=9)
        env = dict(os.environ, MESHSNAP_TEST_ANALYTICS_FAIL="topology:2" + cls.mode)
        cls.d = msnlib.start_daemon(cls.db, cls.tmp, timeout=60, workers=2, env=env,
                                    sections={"analytics": {"default_interval_s": 1}})

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def test_previous_result_stays(self):
        first = self.d.wait_status("/api/analytics/topology", 200, timeout=30, interval=0.1,
                                   what="the first topology to be published")
        pids = sorted(w["pid"] for w in self.d.health()["workers"])

        def failed():
            a = self.d.get_json("/api/perf")["analytics"]["topology"]
            return a if a["failures"] >= 2 else None

        a = self.d.wait_for(failed, timeout=30, interval=0.2, what="topology to fail twice")
        self.assertTrue(a["lastError"], "the failure's reason is reported")
        again = self.d.get("/api/analytics/topology")
        self.assertEqual(again.status, 200)
        self.assertEqual(again.body, first.body, "the previous result stays published")
        self.assertEqual(again.header("etag"), first.header("etag"))
        # the rest goes on: rf is republished after the failures
        rf = self.d.get_json("/api/perf")["analytics"]["rf"]
        self.assertGreaterEqual(rf["computes"], 1)
        self.d.check_alive()
        self.assertEqual(sorted(w["pid"] for w in self.d.health()["workers"]), pids, "no worker was touched")
        self.assertIn(self.expect_log, self.d.log_text())


def children_named(ppid, comm):
    """Pids of the live processes whose parent is ppid and whose name (comm) is comm."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        name = st[st.find("(") + 1:st.rfind(")")]
        fields = st[st.rfind(")") + 2:].split()
        if name == comm and int(fields[1]) == ppid and fields[0] not in ("Z", "X"):
            out.append(int(d))
    return out


def open_files(pid):
    """The targets of pid's file descriptors (raises OSError once it is gone)."""
    fd_dir = "/proc/%d/fd" % pid
    return [os.readlink(os.path.join(fd_dir, fd)) for fd in os.listdir(fd_dir)]


class ComputationError(FailureChecks, unittest.TestCase):
    mode = ""
    expect_log = "analytics: an/topology failed"

    def test_computing_process_holds_no_handle(self):
        """Caught while it computes (a run every second): its descriptors are the standard
        three and its pipe to the master, none of the master's sockets or files."""
        seen = None
        deadline = time.time() + 60
        while seen is None and time.time() < deadline:
            for pid in children_named(self.d.pid, "msn-analytics"):
                try:
                    files = open_files(pid)
                except OSError:
                    continue  # it finished meanwhile
                if any(f.startswith("pipe:") for f in files):  # seen alive, not half-exited
                    seen = (pid, files)
                    break
            time.sleep(0.002)
        self.assertIsNotNone(seen, "a computing process was seen")
        pid, files = seen
        bad = [f for f in files if f.startswith("socket:") or re.search(r"\.(db|mdb)(-wal|-shm)?$", f)
               or f.endswith("/status")]
        self.assertEqual(bad, [], "computing process %d holds %s" % (pid, files))
        self.assertLessEqual(len(files), 4, files)


class ComputingProcessDies(FailureChecks, unittest.TestCase):
    mode = ":crash"
    expect_log = "the computing process died"

    def test_exit_status_logged(self):
        self.d.wait_for(lambda: re.search(r"analytics: the computing process died \(pid \d+ was killed by signal 9 "
                                          r"\([^)]*\)\)", self.d.log_text()),
                        timeout=30, what="the computing process's exit status in the log")

    def test_zz_worker_and_backfiller_exits_not_lost(self):
        """Runs last (it replaces workers): computing processes die every second meanwhile."""
        self.d.allow_worker_restarts = True
        for _ in range(3):
            self.d.wait_for(lambda: re.search(r"the computing process died \(pid", self.d.log_text()),
                            timeout=30, what="a computing process that died")
            workers = self.d.wait_for(lambda: (lambda w: w if len(w) == 2 and all(w.values()) else None)(
                self.d.worker_pids()), timeout=20, what="two running workers")
            slot, pid = sorted(workers.items())[0]
            os.kill(pid, signal.SIGKILL)
            self.d.wait_for(lambda: re.search(r"worker %d \(pid %d\) was killed by signal 9 [^\n]*respawning"
                                              % (slot, pid), self.d.log_text()),
                            timeout=10, what="the supervisor's log line for worker pid %d" % pid)
            self.d.wait_for(lambda: (lambda p: p not in (None, 0, pid))(self.d.worker_pids().get(slot)),
                            timeout=20, what="a new worker in slot %d" % slot)
        self.d.wait_for(lambda: "backfiller finished all migrations" in self.d.log_text(), timeout=60,
                        what="the backfiller's exit (status 0) seen by the supervisor")
        self.d.check_alive()


if __name__ == "__main__":
    msnlib.main(ComputationError, ComputingProcessDies)
