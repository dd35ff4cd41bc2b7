#!/usr/bin/python3
"""test_ops_notify: the systemd notification protocol, as a Type=notify service with
NotifyAccess=main sees it.

The test plays systemd: it binds a datagram socket, passes it in NOTIFY_SOCKET and reads
every message with the sender's credentials (SO_PASSCRED). Expected, all from the master:
READY=1 with MAINPID once the workers accept (the API answers by then), STATUS= lines
saying what the daemon does, RELOADING=1 then READY=1 around a SIGHUP, STOPPING=1 on
SIGTERM.
"""

import os
import signal
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402


class NotifySocket:
    """A NOTIFY_SOCKET listener collecting (monotonic time, sender pid, message) tuples."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.settimeout(0.2)
        self.lock = threading.Lock()
        self.messages = []
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        ucred = struct.calcsize("3i")
        while not self.stop_ev.is_set():
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(ucred))
            except socket.timeout:
                continue
            except OSError:
                return
            pid = None
            for level, typ, cdata in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", cdata[:ucred])[0]
            with self.lock:
                self.messages.append((time.monotonic(), pid, data.decode("utf-8", "replace")))

    def lines(self):
        """[(time, pid, "KEY=value")] for every line of every message so far."""
        with self.lock:
            return [(t, pid, line) for t, pid, m in self.messages for line in m.split("\n") if line]

    def close(self):
        self.stop_ev.set()
        self.thread.join(5)
        self.sock.close()


class NotifyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-ops-notify-", "notify.db", nodes=100, observers=6,
                                              transmissions=500, obs_per_tx=2.0, days=2, seed=71)

    def wait_line(self, ns, pred, after, what, d=None):
        """The first (time, pid, line) at or after `after` whose line satisfies pred; fails
        after 30 s, or at once when d is given and its master exited."""
        deadline = time.monotonic() + 30
        while True:
            hit = next((x for x in ns.lines() if x[0] >= after and pred(x[2])), None)
            if hit:
                return hit
            if d is not None:
                d.check_alive()
            if time.monotonic() > deadline:
                self.fail("timed out waiting for %s; got %s" % (what, [m for _, _, m in ns.lines()]))
            time.sleep(0.02)

    def test_notifications(self):
        ns = NotifySocket(os.path.join(self.tmp, "notify.sock"))
        self.addCleanup(ns.close)
        d = msnlib.Daemon(self.db, self.tmp, workers=2, env={"NOTIFY_SOCKET": ns.path},
                          allow_worker_restarts=True).start()
        self.addCleanup(d.cleanup)
        t0 = time.monotonic()
        ready = self.wait_line(ns, lambda m: m == "READY=1", t0, "READY=1", d)
        self.assertEqual(d.get("/api/healthz").status, 200, "the API answers once READY=1 was sent")
        self.assertIn("MAINPID=%d" % d.pid, [m for t, _, m in ns.lines() if t == ready[0]])
        d.wait_ready()
        self.wait_line(ns, lambda m: m.startswith("STATUS="), t0, "a STATUS= line", d)

        t1 = time.monotonic()
        d.kill(signal.SIGHUP)
        rel = self.wait_line(ns, lambda m: m == "RELOADING=1", t1, "RELOADING=1", d)
        self.wait_line(ns, lambda m: m == "READY=1", rel[0], "READY=1 after the reload", d)

        t2 = time.monotonic()
        d.stop()
        self.wait_line(ns, lambda m: m == "STOPPING=1", t2, "STOPPING=1")
        lines = ns.lines()
        msnlib.log("notifications: %s" % [m for _, _, m in lines])
        self.assertEqual({pid for _, pid, _ in lines}, {d.pid}, "only the master notifies (NotifyAccess=main)")
        statuses = [m for _, _, m in lines if m.startswith("STATUS=")]
        self.assertTrue(any("serving" in s or "generation" in s for s in statuses), statuses)


if __name__ == "__main__":
    msnlib.main(NotifyTest)
