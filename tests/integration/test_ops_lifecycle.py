#!/usr/bin/python3
"""test_ops_lifecycle: the master's children live and die with it; one daemon per state
directory; a stop does not wait for a publication.

- kill -9 of the master while the backfiller works: every child (workers and backfiller)
  is gone within a few seconds (they get SIGTERM when the master dies), and a daemon
  started at once on the same state directory waits for them, then runs alone: never
  two backfillers on one database.
- A second daemon on the same state directory (another port) while the first runs is
  refused at once: a non-zero exit status and a message naming the running master's pid;
  the first keeps serving.
- SIGTERM while the master publishes a full generation: the publication is abandoned
  (not finished first), the daemon exits with status 0 and nothing had to be killed.
- SIGUSR1 sent to the master in a storm while reloads start new workers: no worker is
  killed by it (only workers that are ready get it), and the log is still reopened.
- A fork that fails when a worker is respawned (RLIMIT_NPROC of the daemon's user, as
  root only) is retried after a backoff: the worker comes back once forks succeed again.
"""

import os
import pwd
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402


def backfillers(pids):
    return [p for p in pids if "backfiller" in msnlib.pid_cmdline(p)]


class LifecycleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-ops-life-", "life.db", nodes=120, observers=8,
                                              transmissions=6000, obs_per_tx=3.0, days=2, seed=77,
                                              legacy_last_seen=True)

    def fresh_db(self, name):
        path = os.path.join(self.tmp, name)
        shutil.copyfile(self.db, path)
        return path

    def test_kill9_master_children_follow_and_restart_waits(self):
        db = self.fresh_db("kill9.db")
        # a slow backfill: it is still running when the master dies
        slow = {"backfill": {"enabled": True, "batch_size": 20, "yield_ms": 1500}}
        d = msnlib.Daemon(db, self.tmp, workers=2, sections=slow).start()
        self.addCleanup(d.cleanup)
        d.wait_ready(timeout=60)
        h = d.wait_health(lambda h: h.get("backfillerPid", 0) > 0 and h.get("async_migrations_running"),
                          timeout=60, what="the backfiller at work")
        old_bf = h["backfillerPid"]
        # every child leads a session of its own (shm/sched.h): found by what they map
        children = [p for p in d.processes() if p != d.pid]
        self.assertIn(old_bf, children)
        self.assertGreaterEqual(len(children), 3)
        d.kill(signal.SIGKILL)
        d.proc.wait(5)
        # the same state directory at once: it waits for the old processes, then runs alone
        d2 = msnlib.Daemon(db, self.tmp, workers=2, sections=slow, state_dir=d.state_dir).start()
        self.addCleanup(d2.cleanup)
        gone = msnlib.poll_until(lambda: not any(msnlib.pid_alive(p) for p in children), timeout=8)
        left = [(p, msnlib.pid_cmdline(p)) for p in children if msnlib.pid_alive(p)]
        self.assertTrue(gone, "children of the killed master still running: %s" % left)
        h2 = d2.wait_health(lambda h: h.get("backfillerPid", 0) > 0, timeout=60, what="the new backfiller")
        self.assertNotEqual(h2["backfillerPid"], old_bf)
        self.assertEqual(len(backfillers(d2.processes())), 1)
        self.assertFalse(msnlib.pid_alive(old_bf), "the backfiller of the killed master is still running")
        d2.stop()

    def test_workers_accept_while_the_background_stops(self):
        """SIGTERM: the workers keep accepting while the master waits for its background
        children to stop (here a backfiller held with SIGSTOP): new connections are answered,
        not refused; once the backfiller goes on, everything stops with status 0."""
        db = self.fresh_db("drain.db")
        slow = {"backfill": {"enabled": True, "batch_size": 20, "yield_ms": 1500}}
        d = msnlib.Daemon(db, self.tmp, workers=1, sections=slow).start()
        self.addCleanup(d.cleanup)
        d.wait_ready(timeout=60)
        h = d.wait_health(lambda h: h.get("backfillerPid", 0) > 0 and h.get("async_migrations_running"),
                          timeout=60, what="the backfiller at work")
        bf = h["backfillerPid"]
        os.kill(bf, signal.SIGSTOP)
        try:
            d.kill(signal.SIGTERM)
            time.sleep(0.3)
            for i in range(10):  # each on a new connection
                self.assertEqual(d.get("/api/stats").status, 200, "request %d after SIGTERM" % i)
                time.sleep(0.05)
        finally:
            os.kill(bf, signal.SIGCONT)
        self.assertEqual(d.proc.wait(30), 0)
        self.assertFalse(msnlib.pid_alive(bf))

    def test_second_daemon_on_same_state_dir_refused(self):
        db = self.fresh_db("second.db")
        d = msnlib.start_daemon(db, self.tmp, test=self, workers=1, sections={"backfill": {"enabled": False}})
        d2 = msnlib.Daemon(db, self.tmp, workers=1, state_dir=d.state_dir).start()
        self.addCleanup(d2.cleanup)
        try:
            rc = d2.proc.wait(15)
        except subprocess.TimeoutExpired:
            rc = None
        self.assertIsNotNone(rc, "the second daemon is running beside the first")
        self.assertNotEqual(rc, 0)
        log = d2.log_text()
        self.assertRegex(log, r"another meshsnapd \(master pid %d\) is running with state_dir" % d.pid)
        # on the shared state_dir, every process but the first daemon's is a stray
        mine = set(msnlib.live_pids(parent=d.pid)) | {d.pid}
        self.assertEqual([p for p in d.processes() if p not in mine], [], "the refused one started children")
        self.assertEqual(d.get("/api/stats").status, 200)
        d.stop()

    def test_sigterm_during_full_publication(self):
        tmp, db = msnlib.generated_db("msn-ops-life-big-", "big.db", nodes=300, observers=20,
                                      transmissions=60000, obs_per_tx=4.0, days=3, seed=78)
        msnlib.run_backfiller(db, tmp)
        d = msnlib.start_daemon(db, tmp, test=self, workers=1, sections={"backfill": {"enabled": False}})
        # a restart loads and publishes in full: stop it while it publishes (this first stop
        # only prepares the snapshot: on a loaded machine it may wait for the shutdown timeout)
        d.stop(timeout=20)
        d2 = msnlib.Daemon(db, tmp, workers=1, state_dir=d.state_dir, sections={"backfill": {"enabled": False}})
        d2.start()
        self.addCleanup(d2.cleanup)
        d2.wait_health(lambda h: "publishing generation" in h.get("status", ""), timeout=120, interval=0.005,
                       what="the full publication in progress")
        took = d2.stop(timeout=10)
        msnlib.log("SIGTERM during the full publication: stopped in %.2f s" % took)
        log = d2.log_text()
        self.assertNotRegex(log, r"did not stop in \d+ ms; killing them")
        term = log.index("received SIGTERM")
        published = re.search(r"published generation \d+: 60000 transmissions", log)
        if published is None or published.start() > term:
            # it had not finished when the signal came: abandoned, not finished first
            self.assertIn("the full load was abandoned before it was published", log[term:])
            self.assertIsNone(published, "the publication was finished before stopping")

    def test_usr1_storm_during_reloads(self):
        db = self.fresh_db("usr1.db")
        access = os.path.join(self.tmp, "access-usr1.log")
        d = msnlib.start_daemon(db, self.tmp, test=self, workers=2, allow_worker_restarts=True,
                                sections={"backfill": {"enabled": False}, "http": {"access_log": access}})
        for _ in range(4):
            d.kill(signal.SIGHUP)
            t_end = time.monotonic() + 0.4
            while time.monotonic() < t_end:
                d.kill(signal.SIGUSR1)
                time.sleep(0.001)
            time.sleep(0.3)
        d.wait_status("/api/stats", 200, timeout=20)
        log = d.log_text()
        self.assertNotRegex(log, r"killed by signal 10", "a worker died of SIGUSR1")
        self.assertNotRegex(log, r"worker \d+ \(pid \d+\) .*respawning")
        # the log still works after a rotation: every ready worker reopened it
        os.rename(access, access + ".1")
        d.kill(signal.SIGUSR1)
        time.sleep(0.5)
        for _ in range(10):
            d.get("/api/stats")
        msnlib.wait_until(lambda: os.path.exists(access) and os.path.getsize(access) > 0, timeout=10,
                          what="the access log reopened after SIGUSR1")
        d.stop()

    def test_fork_failure_is_retried(self):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root: the daemon runs as its own user so its process limit applies")
        if not shutil.which("prlimit"):
            raise unittest.SkipTest("prlimit (util-linux) is missing")
        user = "games"
        try:
            pw = pwd.getpwnam(user)
        except KeyError:
            raise unittest.SkipTest("there is no user %s" % user)
        binary = msnlib.meshsnapd_path()
        if subprocess.run([binary, "--version"], user=pw.pw_uid, group=pw.pw_gid, extra_groups=[],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
            raise unittest.SkipTest("user %s cannot execute %s" % (user, binary))
        def uid_of(pid):
            try:
                return os.stat("/proc/%d" % pid).st_uid
            except OSError:
                return None
        others = [p for p in msnlib.live_pids() if uid_of(p) == pw.pw_uid]
        if others:
            raise unittest.SkipTest("user %s runs other processes (its process count is shared)" % user)
        tmp = msnlib.make_tmpdir("msn-ops-life-fork-")
        os.chmod(tmp, 0o777)
        db = os.path.join(tmp, "fork.db")
        shutil.copyfile(self.db, db)
        os.chmod(db, 0o666)
        # the master runs as `user` with at most 4 processes of that user: itself, two
        # workers and an analytics computation
        wrapper = os.path.join(tmp, "meshsnapd-nproc4")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec prlimit --nproc=4:4 -- %s \"$@\"\n" % binary)
        os.chmod(wrapper, 0o755)
        d = msnlib.Daemon(db, tmp, workers=2, allow_worker_restarts=True, config={"user": user}, binary=wrapper,
                          sections={"backfill": {"enabled": False}, "analytics": {"default_interval_s": 86400}})
        os.chown(d.state_dir, pw.pw_uid, pw.pw_gid)
        d.start()
        self.addCleanup(d.cleanup)
        d.wait_fresh(timeout=60)
        d.wait_for(lambda: len(msnlib.live_pids(parent=d.pid)) == 2, timeout=60,
                   what="the analytics computation over (the two workers are the only children left)")
        # two more processes of that user: once a worker dies, forking another one fails
        sleepers = [subprocess.Popen(["sleep", "120"], user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
                    for _ in range(2)]
        for p in sleepers:
            self.addCleanup(msnlib.stop_process, p)
        victim = msnlib.worker_processes(d.pid)[0]
        msnlib.kill_pid(victim, signal.SIGKILL)
        d.wait_for(lambda: "fork failed" in d.log_text(), timeout=20, what="a failed fork in the log")
        time.sleep(0.5)
        self.assertNotIn(0, msnlib.worker_processes(d.pid))
        for p in sleepers:  # (the analytics computation, retried meanwhile, may take one slot)
            msnlib.stop_process(p)
        d.wait_for(lambda: 0 in msnlib.worker_processes(d.pid), timeout=20,
                   what="worker 0 started again once forks succeed")
        d.wait_status("/api/stats", 200, timeout=20)
        d.stop()


if __name__ == "__main__":
    msnlib.main(LifecycleTest)
