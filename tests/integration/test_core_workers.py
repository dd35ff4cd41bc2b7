#!/usr/bin/python3
"""test_core_workers: the process model of meshsnapd under failure and on stop.

- A worker killed with SIGKILL is replaced: a new pid appears in its slot of
  /api/healthz, the master and the other worker are untouched, and clients hammering the
  API meanwhile see at most a few failed requests (those in flight on the dead worker).
- Killing every worker at once is survived the same way.
- SIGTERM (and SIGINT) stop the whole daemon with exit status 0 in time, even with idle
  keep-alive connections open and requests in flight; no child process is left behind
  and the port is closed.
"""

import http.client
import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402

MAX_FAILED = 8  # requests allowed to fail around one kill (in flight on the dead worker)


class Hammer(msnlib.ClientThreads):
    """Client threads sending GETs (fresh connections and keep-alive ones) until stopped;
    records (monotonic time, ok, detail)."""

    PATHS = ["/api/stats", "/api/packets?limit=20", "/api/nodes?limit=20", "/api/observers", "/api/healthz"]

    def __init__(self, d, threads=3):
        super().__init__(threads, join_timeout=10)
        self.d = d
        self.events = []

    def record(self, ok, detail):
        with self.lock:
            self.events.append((time.monotonic(), ok, detail))

    def run(self, i):
        keep = self.d.client(timeout=5) if i % 2 else None
        n = 0
        while not self.stopping():
            path = self.PATHS[n % len(self.PATHS)]
            n += 1
            try:
                r = keep.get(path) if keep else self.d.get(path, timeout=5)
                ok = r.status == 200
                if ok:
                    r.json()
                self.record(ok, "%s -> %d" % (path, r.status))
            except (OSError, http.client.HTTPException, ValueError) as e:
                self.record(False, "%s -> %s" % (path, e.__class__.__name__))
                if keep:
                    keep.close()
        if keep:
            keep.close()

    def counts(self, t0=None, t1=None):
        with self.lock:
            ev = [e for e in self.events if (t0 is None or e[0] >= t0) and (t1 is None or e[0] <= t1)]
        ok = sum(1 for e in ev if e[1])
        bad = [e[2] for e in ev if not e[1]]
        return ok, bad


class WorkersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-core-workers-", "workers.db", nodes=400, observers=12,
                                              transmissions=3000, obs_per_tx=3.0, days=2, seed=3)

    def start(self, workers=2):
        return msnlib.start_daemon(self.db, self.tmp, test=self, workers=workers, poll_interval_ms=200,
                                   allow_worker_restarts=True)

    def wait_replaced(self, d, old):
        """Waits until every slot of `old` ({slot: pid}) has a new live pid; returns the map."""
        def replaced():
            now = d.worker_pids()
            if sorted(now) != sorted(old):
                return None
            for slot, pid in now.items():
                if pid == old[slot] or not msnlib.pid_alive(pid):
                    return None
            return now
        return d.wait_for(replaced, timeout=20, interval=0.05, what="replacement workers in %s" % sorted(old))

    def check_after_kill(self, d, ham, t_kill, killed, what):
        time.sleep(0.5)  # let the hammer run on the new workers a little
        t_end = time.monotonic()
        ok_after, bad_after = ham.counts(t_kill, t_end)
        ok_all, bad_all = ham.counts()
        msnlib.log("%s: %d ok / %d failed after the kill (%s)" % (what, ok_after, len(bad_after), bad_after[:5]))
        self.assertLessEqual(len(bad_all), MAX_FAILED, "%s: failed requests %s" % (what, bad_all))
        self.assertGreater(ok_after, 10, "%s: requests kept succeeding" % what)
        self.assertTrue(d.alive(), "the master survived")
        for pid in killed:
            self.assertFalse(msnlib.pid_alive(pid), "killed worker %d was reaped" % pid)
        pids = d.worker_pids()
        self.assertEqual(sorted(pids), list(range(d.workers)))
        for pid in pids.values():
            self.assertTrue(msnlib.pid_alive(pid))
        # the fresh workers serve the same data
        s = d.get_json("/api/stats")
        self.assertEqual(s["totalTransmissions"], 3000)

    def test_kill9_one_worker(self):
        d = self.start()
        old = d.worker_pids()
        self.assertEqual(sorted(old), [0, 1])
        with Hammer(d) as ham:
            time.sleep(0.5)
            t_kill = time.monotonic()
            os.kill(old[0], signal.SIGKILL)
            new = d.wait_for(lambda: (lambda p: p if p.get(0) not in (None, old[0]) and msnlib.pid_alive(p[0]) else None)
                             (d.worker_pids()), timeout=20, what="a new pid in slot 0")
            msnlib.log("slot 0: pid %d replaced by %d after %.0f ms" % (old[0], new[0], (time.monotonic() - t_kill) * 1000))
            self.assertEqual(new[1], old[1], "the other worker is untouched")
            self.check_after_kill(d, ham, t_kill, [old[0]], "kill -9 of worker 0")
            # and the other slot too
            mid = d.worker_pids()
            t_kill = time.monotonic()
            os.kill(mid[1], signal.SIGKILL)
            d.wait_for(lambda: (lambda p: p if p.get(1) not in (None, mid[1]) and msnlib.pid_alive(p[1]) else None)
                       (d.worker_pids()), timeout=20, what="a new pid in slot 1")
            self.check_after_kill(d, ham, t_kill, [mid[1]], "kill -9 of worker 1")
        d.stop()

    def test_kill9_all_workers(self):
        d = self.start()
        old = d.worker_pids()
        with Hammer(d) as ham:
            time.sleep(0.3)
            t_kill = time.monotonic()
            for pid in old.values():
                os.kill(pid, signal.SIGKILL)
            self.wait_replaced(d, old)
            self.check_after_kill(d, ham, t_kill, list(old.values()), "kill -9 of every worker")
        d.stop()

    def check_stopped(self, d, children, port):
        for pid in children:
            self.assertFalse(msnlib.pid_alive(pid), "child %d is gone after the stop" % pid)
        self.assertEqual(d.processes(), [], "no process of the daemon left")
        with self.assertRaises(OSError, msg="the port is closed"):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()

    def children(self, d):
        """The worker pids and, when healthz names it, the backfiller's."""
        h = d.health()
        pids = list(d.worker_pids(h).values())
        if h and h.get("backfillerPid"):
            pids.append(int(h["backfillerPid"]))
        self.assertTrue(pids)
        return pids

    def test_sigterm_with_idle_keepalive_and_load(self):
        d = self.start()
        workers = self.children(d)
        idle = []
        for _ in range(4):  # keep-alive connections that stay open and idle
            c = d.client()
            self.assertEqual(c.get("/api/stats").status, 200)
            idle.append(c)
        try:
            with Hammer(d, threads=2):
                time.sleep(0.5)
                took = d.stop(timeout=6.0)  # asserts exit status 0 in time
            msnlib.log("SIGTERM: exited 0 after %.2f s" % took)
        finally:
            for c in idle:
                c.close()
        self.check_stopped(d, workers, d.port)

    def test_sigint(self):
        d = self.start()
        workers = self.children(d)
        took = d.stop(timeout=6.0, sig=signal.SIGINT)
        msnlib.log("SIGINT: exited 0 after %.2f s" % took)
        self.check_stopped(d, workers, d.port)


if __name__ == "__main__":
    msnlib.main(WorkersTest)
