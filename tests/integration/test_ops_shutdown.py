#!/usr/bin/python3
"""test_ops_shutdown: SIGTERM while requests are in flight.

The daemon (2 workers) serves a database of 10,000 transmissions. When SIGTERM reaches
the master:
  - a client that asked for /api/packets?limit=10000 (about 9 MB) and had read only the
    first bytes, with a small receive buffer so that most of the body is still in the
    worker, pauses one second and then reads on: it gets the whole body (Content-Length
    bytes, valid JSON, 10,000 packets). This request is in flight for longer than the
    worker's idle-connection grace, which must not cut it;
  - keep-alive clients fetching /api/packets?limit=500 in a loop see no response cut
    short: every response whose status line arrived is complete (connections refused
    or closed before an answer are the expected end of service);
  - wrk (when installed) adds 64 connections of /api/stats load until the stop;
  - the master exits with status 0 within the 5 s shutdown timeout (measured and
    printed; the bound asserted is 7 s), nothing had to be killed, and no process of
    the daemon is left.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402

TRANSMISSIONS = 10000


def read_headers(sock):
    """Reads up to the end of the response headers; returns (status, {name: value}, rest)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = sock.recv(4096)
        if not d:
            raise AssertionError("connection closed before the headers ended: %r" % buf[:200])
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, rest


class SlowReader:
    """One request whose response stays in flight: a 64 KiB receive buffer, and nothing read
    beyond the headers until finish() is called."""

    def __init__(self, host, port, path):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        self.sock.settimeout(10)
        self.sock.connect((host, port))
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (path, host, port)).encode())
        self.status, self.headers, self.body = read_headers(self.sock)
        self.length = int(self.headers.get("content-length", "-1"))

    def finish(self):
        """Reads to Content-Length or EOF; returns the body."""
        chunks = [self.body]
        got = len(self.body)
        while got < self.length:
            try:
                d = self.sock.recv(1 << 20)
            except OSError:
                break
            if not d:
                break
            chunks.append(d)
            got += len(d)
        self.sock.close()
        return b"".join(chunks)


class LoopClients(msnlib.KeepAliveGets):
    """Keep-alive clients fetching path in a loop until the server goes away. Each response
    whose status line arrived is recorded as complete or cut short."""

    def __init__(self, host, port, path, threads=3):
        super().__init__(host, port, path, threads)
        self.complete = 0
        self.cut = []

    def answered(self, r, body):
        ok = r.status == 200 and len(body) == int(r.getheader("content-length", "-1"))
        with self.lock:
            if ok:
                self.complete += 1
            else:
                self.cut.append("status %d, %d bytes" % (r.status, len(body)))
        return ok

    def failed(self, stage, e):
        if stage == "request":
            time.sleep(0.01)  # refused or closed before an answer: the server is stopping
            return
        with self.lock:
            self.cut.append("%s: %s" % (e.__class__.__name__, e))


class ShutdownTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-ops-shutdown-", "shutdown.db", nodes=200, observers=10,
                                              transmissions=TRANSMISSIONS, obs_per_tx=2.0, days=3, seed=41)
        # The stop under test is that of a daemon serving requests. A SIGTERM that reaches
        # the master while it republishes after a backfill waits for that publish, which
        # can outlast the shutdown timeout on a slow build: the database is migrated first,
        # so that the daemon has no backfill to republish.
        msnlib.run_backfiller(cls.db, cls.tmp)

    def test_sigterm_with_requests_in_flight(self):
        d = msnlib.start_daemon(self.db, self.tmp, test=self, workers=2, poll_interval_ms=200)
        wrk = None
        if shutil.which("wrk"):
            wrk = msnlib.Wrk(d.url("/api/stats"), 30, connections=64, threads=1).start()
            self.addCleanup(wrk.kill)
        else:
            msnlib.log("wrk is not installed (Debian package `wrk`): no extra load")
        with LoopClients(d.host, d.port, "/api/packets?limit=500") as loop:
            time.sleep(0.8)
            slow = [SlowReader(d.host, d.port, "/api/packets?limit=%d" % TRANSMISSIONS) for _ in range(2)]
            for s in slow:
                self.assertEqual(s.status, 200)
                self.assertGreater(s.length, 4 << 20, "a body bigger than the socket buffers")
            workers = list(d.worker_pids().values())
            t0 = time.monotonic()
            d.kill(signal.SIGTERM)
            time.sleep(1.0)  # in flight across the stop
            bodies = [s.finish() for s in slow]
            try:
                rc = d.proc.wait(10)
            except subprocess.TimeoutExpired:
                rc = None
            took = time.monotonic() - t0
        if wrk:
            wrk.kill()
        msnlib.log("SIGTERM: exit status %s after %.2f s; slow readers got %s of %s bytes; loop clients: "
                   "%d complete, %d cut short" % (rc, took, [len(b) for b in bodies], [s.length for s in slow],
                                                  loop.complete, len(loop.cut)))
        for s, body in zip(slow, bodies):
            self.assertEqual(len(body), s.length, "an in-flight response was cut short by the stop")
            self.assertEqual(len(json.loads(body)["packets"]), TRANSMISSIONS)
        self.assertGreater(loop.complete, 5)
        self.assertEqual(loop.cut, [], "responses cut short")
        self.assertEqual(rc, 0, "exit status after SIGTERM")
        self.assertLess(took, 7.0, "stopped within the shutdown timeout")
        log = d.log_text()
        self.assertNotRegex(log, r"did not stop in \d+ ms; killing them")
        self.assertIn("stopped", log.splitlines()[-1])
        self.assertEqual(d.processes(), [], "no process of the daemon left")
        self.assertEqual([p for p in workers if msnlib.pid_alive(p)], [], "no worker left")
        d.stop()  # already exited: checks the status and the log for sanitizer reports


if __name__ == "__main__":
    msnlib.main(ShutdownTest)
