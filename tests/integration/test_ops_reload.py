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

import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import mkdb  # noqa: E402
import msnlib  # noqa: E402

WRK_SECONDS = 6


def proc_workers(master_pid):
    """{slot: pid} of the live worker processes whose parent is master_pid, from /proc
    (title "meshsnapd: worker N", or "--role worker --slot N" before the title is set)."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rfind(")") + 2:].split()
        if fields[0] in ("Z", "X") or int(fields[1]) != master_pid:
            continue
        cmd = msnlib.pid_cmdline(int(d))
        m = re.match(r"meshsnapd: worker (\d+)", cmd) or re.search(r"--role worker --slot (\d+)", cmd)
        if m:
            out[int(m.group(1))] = int(d)
    return out


class Wrk:
    """wrk in the background against one URL; result() parses its summary."""

    def __init__(self, url, seconds, connections=64, threads=2):
        self.cmd = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds, "--timeout", "10s", url]
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return self

    def running(self):
        return self.proc.poll() is None

    def result(self, timeout=60):
        out, _ = self.proc.communicate(timeout=timeout)
        text = out.decode("utf-8", "replace")
        r = {"text": text, "requests": 0, "non2xx": 0, "socket_errors": {}, "rps": 0.0}
        m = re.search(r"(\d+) requests in", text)
        if m:
            r["requests"] = int(m.group(1))
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
        if m:
            r["non2xx"] = int(m.group(1))
        m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
        if m:
            r["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups())))
        m = re.search(r"Requests/sec:\s+([\d.]+)", text)
        if m:
            r["rps"] = float(m.group(1))
        return r

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class StrictClients:
    """Threads that each keep one HTTP/1.1 connection and GET path in a loop. A
    `Connection: close` answer makes the client reconnect before its next request; any
    exception or non-200 status is a failure (recorded with the time), never retried."""

    def __init__(self, host, port, path, threads=3):
        self.host, self.port, self.path = host, port, path
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def run(self):
        conn = None
        while not self.stop_ev.is_set():
            if conn is None:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
            try:
                conn.request("GET", self.path)
                r = conn.getresponse()
                body = r.read()
                good = r.status == 200 and body.startswith(b"{")
                with self.lock:
                    if good:
                        self.ok += 1
                    else:
                        self.failures.append((time.monotonic(), "status %d" % r.status))
                if r.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.failures.append((time.monotonic(), "%s: %s" % (e.__class__.__name__, e)))
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_ev.set()
        for t in self.threads:
            t.join(15)
        return False


class ReloadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        msnlib.meshsnapd_path()
        cls.tmp = msnlib.make_tmpdir("msn-ops-reload-")
        cls.db = os.path.join(cls.tmp, "reload.db")
        mkdb.build(cls.db, nodes=200, observers=10, transmissions=1500, obs_per_tx=3.0, days=2, seed=21)

    def write_config(self, d, workers, extra_line=None):
        msnlib.write_config(d.config_path, db=self.db, state_dir=d.state_dir, listen="%s:%d" % (d.host, d.port),
                            workers=workers, poll_interval_ms=200)
        if extra_line:
            with open(d.config_path, "a") as f:
                f.write(extra_line + "\n")

    def effective(self, d):
        with open(os.path.join(d.state_dir, "effective.conf")) as f:
            return f.read()

    def wait_generation(self, d, old, want):
        """Waits until exactly `want` live workers run, none of them in `old` ({slot: pid}),
        every old pid has exited, and healthz lists the same pids. Returns {slot: pid}."""
        old_pids = set(old.values())

        def done():
            now = proc_workers(d.pid)
            if len(now) != want or old_pids & set(now.values()):
                return None
            if any(msnlib.pid_alive(p) for p in old_pids):
                return None
            if sorted(d.worker_pids().values()) != sorted(now.values()):
                return None
            return now
        return d.wait_for(done, timeout=30, interval=0.05,
                          what="%d new workers replacing %s" % (want, sorted(old_pids)))

    def count(self, d, text):
        return d.log_text().count(text)

    def test_reload_under_load(self):
        d = msnlib.Daemon(self.db, self.tmp, workers=2, poll_interval_ms=200, allow_worker_restarts=True).start()
        self.addCleanup(d.cleanup)
        d.wait_fresh(timeout=90)
        gen0 = d.wait_for(lambda: (lambda p: p if len(p) == 2 else None)(proc_workers(d.pid)), timeout=10,
                          what="two worker processes")
        wrk = None
        if shutil.which("wrk"):
            wrk = Wrk(d.url("/api/stats"), WRK_SECONDS).start()
            self.addCleanup(wrk.kill)
        else:
            msnlib.log("wrk is not installed (Debian package `wrk`): the load comes from our own clients only")
        with StrictClients(d.host, d.port, "/api/stats") as clients:
            time.sleep(1.0)

            # 1. workers 2 -> 3
            self.write_config(d, 3)
            t0 = time.monotonic()
            d.kill(signal.SIGHUP)
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
            self.write_config(d, 4, extra_line="no_such_key = 1")
            d.kill(signal.SIGHUP)
            d.wait_for(lambda: self.count(d, "reload refused") > refused, timeout=20, what="the reload to be refused")
            time.sleep(0.5)  # would-be new workers would have been forked by now
            self.assertIn("no_such_key", d.log_text().split("reload refused")[-1].splitlines()[0])
            self.assertEqual(proc_workers(d.pid), gen1, "an invalid file leaves the workers untouched")
            self.assertEqual(sorted(d.worker_pids().values()), sorted(gen1.values()))
            self.assertEqual(self.effective(d), eff, "effective.conf is unchanged")
            self.assertEqual(d.get("/api/stats").status, 200)

            # 3. valid again: workers 3 -> 1
            self.write_config(d, 1)
            t0 = time.monotonic()
            d.kill(signal.SIGHUP)
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
            r = wrk.result()
            msnlib.log("wrk: %d requests (%.0f/s), non-2xx %d, socket errors %s"
                       % (r["requests"], r["rps"], r["non2xx"], r["socket_errors"] or "none"))
            self.assertGreater(r["requests"], 100, r["text"])
            self.assertNotIn("Non-2xx", r["text"])
            self.assertNotIn("Socket errors", r["text"])
        d.stop()


if __name__ == "__main__":
    msnlib.main(ReloadTest)
