#!/usr/bin/python3
"""test_bounds_conns: a worker that runs out of descriptors, or reaches [http]
max_connections, keeps serving (worker/conns.c).

- Out of descriptors: the daemon starts with RLIMIT_NOFILE lowered to 128 and one worker,
  and clients open keep-alive connections one after the other, each answered before the
  next, well past what the worker can hold. Every one is answered: the worker closes its
  oldest idle connections to make room (they see the server close them) instead of
  spinning on accept(2) with EMFILE while the listener stays readable. Then, with the
  descriptors still used up and new clients arriving, the failed accepts are bounded by
  the back-off (one pause per [http] accept_backoff_ms at most) and the worker uses little
  CPU; /api/perf "bounds" counts the pauses and the closed idle connections.
- The cap: with [http] max_connections = 20, forty clients in turn are all answered, the
  worker never holds more than 20 connections, and a connection with a response in
  progress (an HTTP/2 stream whose window stays shut) is never taken for an idle one.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import hostile  # noqa: E402
import msnlib  # noqa: E402

FD_LIMIT = 128
BACKOFF_MS = 100


def bounds(d):
    return d.admin_get("/api/perf").json()["bounds"]


class ConnectionBoundsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-bounds-conns-", "conns.db", nodes=60, observers=4,
                                              transmissions=300, obs_per_tx=2.0, days=1, seed=41)

    def worker_pid(self, d):
        return d.wait_for(lambda: (lambda p: p.get(0))(msnlib.worker_processes(d.pid)), timeout=10,
                          what="the worker process")

    def test_out_of_descriptors(self):
        d = msnlib.start_daemon(self.db, self.tmp, test=self, workers=1, rlimit_nofile=FD_LIMIT,
                                sections={"backfill": {"enabled": False},
                                          "http": {"req_timeout_ms": 120000, "accept_backoff_ms": BACKOFF_MS}})
        pid = self.worker_pid(d)
        n = FD_LIMIT + 60
        with hostile.IdleConnections(d.host, d.port, n, timeout=5.0, max_failures=3) as idle:
            self.assertEqual(idle.failed, 0, "every client is answered although the worker has only %d "
                             "descriptors for %d connections" % (FD_LIMIT, n))
            closed = idle.closed_by_server()
            b = bounds(d)
            msnlib.log("%d keep-alive connections with %d descriptors: %d closed by the server, bounds %s"
                       % (n, FD_LIMIT, closed, b))
            self.assertGreater(closed, 0, "the oldest idle connections were closed to make room")
            self.assertGreater(b["shedIdle"], 0)
            self.assertGreater(b["acceptPauses"], 0, "accepting paused when descriptors ran out")
            # still out of descriptors, new clients keep coming: no spinning
            p0, c0, t0 = b["acceptPauses"], hostile.cpu_ticks(pid), time.monotonic()
            failed = idle.add(40, timeout=5.0)
            elapsed = time.monotonic() - t0
            cpu = hostile.cpu_seconds(hostile.cpu_ticks(pid) - c0)
            pauses = bounds(d)["acceptPauses"] - p0
            msnlib.log("40 more clients in %.1f s: %d failed, %d accept pauses, worker CPU %.2f s"
                       % (elapsed, failed, pauses, cpu))
            self.assertEqual(failed, 0)
            self.assertLessEqual(pauses, elapsed * 1000 / BACKOFF_MS + 2,
                                 "at most one failed accept per back-off period")
            self.assertLess(cpu, 0.5 * elapsed + 0.2, "the worker does not spin on accept")
        d.stop()

    def test_connection_cap(self):
        cap = 20
        d = msnlib.start_daemon(self.db, self.tmp, test=self, workers=1,
                                sections={"backfill": {"enabled": False},
                                          "http": {"max_connections": cap, "req_timeout_ms": 120000,
                                                   "http2": True, "write_timeout_ms": 600000}})
        self.worker_pid(d)
        # a connection with a response in progress: an HTTP/2 stream that cannot be sent
        busy = hostile.StalledH2(d.host, d.port, ["/api/nodes?limit=2000"], streams=1)
        self.assertFalse(busy.refused)
        most = 0
        with hostile.IdleConnections(d.host, d.port, 0) as idle:
            for i in range(2 * cap):
                self.assertEqual(idle.add(1, timeout=5.0), 0, "client %d is answered" % i)
                most = max(most, bounds(d)["connections"])
            self.assertLessEqual(most, cap, "the worker never holds more than max_connections")
            self.assertGreaterEqual(idle.closed_by_server(), cap)
        self.assertFalse(hostile.peer_closed(busy.socks[0]), "a connection with a response in progress is not idle")
        busy.close()
        d.stop()


if __name__ == "__main__":
    msnlib.main(ConnectionBoundsTest)
