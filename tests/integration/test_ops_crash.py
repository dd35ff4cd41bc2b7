#!/usr/bin/python3
"""test_ops_crash: the master's answer to dying workers.

- A healthy worker (up for more than a second) killed with SIGKILL is replaced at once:
  the time from the kill to the new process in the same slot is measured and printed
  (the supervisor ticks every 50 ms; the bound asserted is a generous 2 s), and the log
  says "respawning" without a crash loop.
- A worker that dies less than a second after it started is a crash loop: each such
  worker of one slot is killed as soon as it appears, four times in a row. The log shows
  "crash loop 1 .. 4" with respawn delays of 100, 200, 400 and 800 ms, the replacement
  never comes before its delay, and the master stays up and keeps serving from the other
  worker. Once the kills stop, the slot runs a worker again; after it has been up for a
  second, a kill is again answered at once (the backoff was reset).
- The connections a killed worker held are no longer counted: with every client gone,
  /metrics meshsnap_http_connections falls back to 1 (the scrape itself).
- /api/perf (snapshot.workerRestarts) and /metrics count every respawn.
"""

import os
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402

REPLACE_BOUND_S = 2.0  # generous: the supervisor respawns on its next 50 ms tick


class CrashTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-ops-crash-", "crash.db", nodes=150, observers=8,
                                              transmissions=1000, obs_per_tx=2.0, days=2, seed=31)

    def next_in_slot(self, d, slot, not_pids, timeout=20.0):
        """Polls /proc (every 2 ms) until slot runs a pid not in not_pids; returns it."""
        def new_pid():
            pid = msnlib.worker_processes(d.pid).get(slot)
            return pid if pid is not None and pid not in not_pids else None
        return d.wait_for(new_pid, timeout=timeout, interval=0.002, what="a new worker in slot %d" % slot)

    def kill_healthy(self, d, slot, seen):
        """Kills the (long-running) worker of slot and measures its replacement."""
        pid = msnlib.worker_processes(d.pid)[slot]
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        new = self.next_in_slot(d, slot, seen | {pid})
        took = time.monotonic() - t0
        msnlib.log("kill -9 of healthy worker %d (pid %d): pid %d replaced it after %.0f ms"
                   % (slot, pid, new, took * 1000))
        self.assertLess(took, REPLACE_BOUND_S, "a healthy worker is replaced at once")
        d.wait_for(lambda: re.search(r"worker %d \(pid %d\) was killed by signal 9 [^\n]*; respawning\n" % (slot, pid),
                                     d.log_text()), timeout=10, what="the respawn log line of pid %d" % pid)
        seen |= {pid, new}
        return new

    def metric(self, d, name):
        m = re.search(r"(?m)^%s (\S+)$" % re.escape(name), d.get("/metrics").body.decode())
        return float(m.group(1)) if m else None

    def test_crash_loop_and_replacement(self):
        d = msnlib.start_daemon(self.db, self.tmp, test=self, workers=2, poll_interval_ms=200,
                                allow_worker_restarts=True)
        workers = d.wait_for(lambda: (lambda p: p if len(p) == 2 else None)(msnlib.worker_processes(d.pid)),
                             timeout=10, what="two worker processes")
        time.sleep(max(0.0, 1.5 - (time.monotonic() - d.started_at)))  # the workers are healthy by then
        seen = set(workers.values())

        # idle keep-alive connections spread over both workers; the one holding more dies
        idle = []
        for _ in range(16):
            c = d.client()
            self.assertEqual(c.get("/api/stats").status, 200)
            idle.append(c)
        self.assertGreaterEqual(self.metric(d, "meshsnap_http_connections"), 16)
        per_slot = {}
        for slot, pid in msnlib.worker_processes(d.pid).items():
            per_slot[slot] = sum(1 for f in os.listdir("/proc/%d/fd" % pid)
                                 if os.readlink("/proc/%d/fd/%s" % (pid, f)).startswith("socket:"))
        big = max(per_slot, key=per_slot.get)
        other = 1 - big

        # a healthy worker: replaced at once; its connections are no longer counted
        self.kill_healthy(d, big, seen)
        for c in idle:
            c.close()
        d.wait_for(lambda: self.metric(d, "meshsnap_http_connections") == 1, timeout=10,
                   what="meshsnap_http_connections back to 1 (the scrape itself) after the kill")

        # the other slot: the first kill is of a healthy worker, the next four come right after start
        pid = self.kill_healthy(d, other, seen)
        delays = []
        for _ in range(4):
            os.kill(pid, signal.SIGKILL)
            t_kill = time.monotonic()
            self.assertEqual(d.get("/api/stats").status, 200, "the other worker keeps serving")
            pid = self.next_in_slot(d, other, seen)
            delays.append(time.monotonic() - t_kill)
            seen.add(pid)
        msnlib.log("crash loop: respawn delays after each kill: %s ms" % [int(x * 1000) for x in delays])
        log = d.log_text()
        loop = re.findall(r"worker %d \(pid \d+\) was killed by signal 9 [^\n]* (\d+) ms after start; "
                          r"crash loop (\d+), respawning in (\d+) ms" % other, log)
        self.assertEqual([(int(c), int(b)) for _, c, b in loop], [(1, 100), (2, 200), (3, 400), (4, 800)], log[-3000:])
        for (_, _, backoff), delay in zip(loop, delays):
            self.assertGreaterEqual(delay, int(backoff) / 1000.0 * 0.95, "no respawn before its backoff")
        self.assertTrue(d.alive(), "the master stays up")
        self.assertEqual(d.get("/api/stats").status, 200)

        # the worker left running becomes healthy; its death is answered at once again
        time.sleep(1.2)
        self.assertEqual(msnlib.worker_processes(d.pid).get(other), pid, "slot %d kept its last worker" % other)
        self.kill_healthy(d, other, seen)
        d.wait_for(lambda: len(d.worker_pids()) == 2, timeout=10, what="both slots serving")

        perf = d.get_json("/api/perf")
        msnlib.log("workerRestarts = %s" % perf["snapshot"]["workerRestarts"])
        self.assertEqual(perf["snapshot"]["workerRestarts"], 7)
        self.assertEqual(self.metric(d, "meshsnap_worker_restarts_total"), 7)
        d.stop()


if __name__ == "__main__":
    msnlib.main(CrashTest)
