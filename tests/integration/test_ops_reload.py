#!/usr/bin/python3
"""test_ops_reload: SIGHUP reloads the configuration under load without failing a request.

One daemon (2 workers) serves /api/stats to wrk (64 connections; Debian package `wrk`)
and to a few strict keep-alive clients of our own (a request counts as failed on any
connection error or non-200 answer; nothing is retried). Meanwhile the configuration
file is changed three times, each followed by SIGHUP:

  1. workers = 3: a new generation of three workers (new pids, titled
     "meshsnapd: worker N") replaces the two old ones, which exit with status 0;
     effective.conf says workers = 3.
  2. an invalid file (an unknown key): "reload refused" is logged, the workers are the
     same processes as before, effective.conf is unchanged, and the daemon keeps serving.
  3. workers = 1: one new worker replaces the three.

Then: wrk saw no non-2xx answer and no socket error, our clients saw no failure, and the
daemon stops with status 0. Without wrk the test still runs with our own clients only
(lighter load) and says so.
"""

import os
import re
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402

WRK_SECONDS = 6


class StrictClients(msnlib.KeepAliveGets):
    """Threads that each keep one HTTP/1.1 connection and GET path in a loop. A
    `Connection: close` answer makes the client reconnect before its next request; any
    exception or non-200 status is a failure (recorded with the time), never retried."""

    def __init__(self, host, port, path, threads=3):
        super().__init__(host, port, path, threads)
        self.ok = 0
        self.failures = []

    def answered(self, r, body):
        with self.lock:
            if r.status == 200 and body.startswith(b"{"):
                self.ok += 1
            else:
                self.failures.append((time.monotonic(), "status %d" % r.status))
        return True

    def failed(self, stage, e):
        with self.lock:
            self.failures.append((time.monotonic(), "%s: %s" % (e.__class__.__name__, e)))


class ReloadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-ops-reload-", "reload.db", nodes=200, observers=10,
                                              transmissions=1500, obs_per_tx=3.0, days=2, seed=21)

    def effective(self, d):
        with open(os.path.join(d.state_dir, "effective.conf")) as f:
            return f.read()

    def wait_generation(self, d, old, want):
        """Waits until exactly `want` live workers run, none of them in `old` ({slot: pid}),
        every old pid has exited, and healthz lists the same pids. Returns {slot: pid}."""
        def done():
            now = msnlib.worker_generation(d.pid, old, want)
            return now if now and sorted(d.worker_pids().values()) == sorted(now.values()) else None
        return d.wait_for(done, timeout=30, interval=0.05,
                          what="%d new workers replacing %s" % (want, sorted(old.values())))

    def count(self, d, text):
        return d.log_text().count(text)

    def test_reload_under_load(self):
        d = msnlib.start_daemon(self.db, self.tmp, test=self, workers=2, poll_interval_ms=200,
                                allow_worker_restarts=True)
        gen0 = d.wait_for(lambda: (lambda p: p if len(p) == 2 else None)(msnlib.worker_processes(d.pid)),
                          timeout=10, what="two worker processes")
        wrk = None
        if shutil.which("wrk"):
            wrk = msnlib.Wrk(d.url("/api/stats"), WRK_SECONDS, request_timeout="10s").start()
            self.addCleanup(wrk.kill)
        else:
            msnlib.log("wrk is not installed (Debian package `wrk`): the load comes from our own clients only")
        with StrictClients(d.host, d.port, "/api/stats") as clients:
            time.sleep(1.0)

            # 1. workers 2 -> 3
            t0 = time.monotonic()
            d.reload(workers=3)
            gen1 = self.wait_generation(d, gen0, 3)
            msnlib.log("reload 2 -> 3 workers: %s replaced by %s in %.0f ms"
                       % (sorted(gen0.values()), sorted(gen1.values()), (time.monotonic() - t0) * 1000))
            self.assertIn("reloaded the configuration: 3 new workers replacing 2", d.log_text())
            self.assertRegex(self.effective(d), r"(?m)^workers = 3$")
            for slot, pid in gen1.items():
                self.assertEqual(msnlib.pid_cmdline(pid), "meshsnapd: worker %d" % slot)

            # 2. an invalid file is refused; nothing changes
            eff = self.effective(d)
            refused = self.count(d, "reload refused")
            d.reload(workers=4, extra_lines=["no_such_key = 1"])
            d.wait_for(lambda: self.count(d, "reload refused") > refused, timeout=20, what="the reload to be refused")
            time.sleep(0.5)  # would-be new workers would have been forked by now
            self.assertIn("no_such_key", d.log_text().split("reload refused")[-1].splitlines()[0])
            self.assertEqual(msnlib.worker_processes(d.pid), gen1, "an invalid file leaves the workers untouched")
            self.assertEqual(sorted(d.worker_pids().values()), sorted(gen1.values()))
            self.assertEqual(self.effective(d), eff, "effective.conf is unchanged")
            self.assertEqual(d.get("/api/stats").status, 200)

            # 3. valid again: workers 3 -> 1
            t0 = time.monotonic()
            d.reload(workers=1)
            gen3 = self.wait_generation(d, gen1, 1)
            msnlib.log("reload 3 -> 1 worker: %s replaced by %s in %.0f ms"
                       % (sorted(gen1.values()), sorted(gen3.values()), (time.monotonic() - t0) * 1000))
            self.assertRegex(self.effective(d), r"(?m)^workers = 1$")
            if wrk and not wrk.running():
                msnlib.log("note: wrk finished before the last reload completed (a slow machine)")
            time.sleep(0.5)
        d.wait_for(lambda: len(re.findall(r"retired worker \d+ ", d.log_text())) >= 5, timeout=10,
                   what="the master to log five retired workers")
        retired = re.findall(r"retired worker \d+ \(pid \d+\) (.*)", d.log_text())
        self.assertEqual(len(retired), 5, "five old workers retired: %s" % retired)
        self.assertEqual(set(retired), {"exited with status 0"}, "retired workers exit cleanly")
        msnlib.log("our clients: %d ok, %d failed %s" % (clients.ok, len(clients.failures), clients.failures[:5]))
        self.assertGreater(clients.ok, 50)
        self.assertEqual(clients.failures, [], "no request of our clients failed")
        if wrk:
            r = wrk.result(timeout=60)
            msnlib.log("wrk: %d requests (%.0f/s), non-2xx %d, socket errors %s"
                       % (r["requests"], r["rps"], r["non2xx"], r["socket_errors"] or "none"))
            self.assertGreater(r["requests"], 100, r["text"])
            self.assertNotIn("Non-2xx", r["text"])
            self.assertNotIn("Socket errors", r["text"])
        d.stop()


if __name__ == "__main__":
    msnlib.main(ReloadTest)
