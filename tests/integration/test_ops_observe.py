#!/usr/bin/python3
"""test_ops_observe: what an operator sees of a running meshsnapd.

One daemon (2 workers) on a database whose transmissions still need the last_seen
backfill, with a slow backfill ([backfill] batch_size 50, yield_ms 250) so that the
backfiller is still at work while the tests look at it.

- Process titles (/proc/PID/cmdline): "meshsnapd: master", "meshsnapd: worker N" for each
  slot, "meshsnapd: backfiller"; the thread names (/proc/PID/comm) match ("msn-...").
- /metrics: served as text/plain; version=0.0.4, parsed by the Prometheus client's own
  text parser (Debian python3-prometheus-client; skipped when missing), plus stricter
  checks of our own: every sample belongs to a family with one HELP and one TYPE line
  before it, no series is repeated, histogram buckets are cumulative and end with
  le="+Inf" equal to _count. After 20 requests to /api/stats and 3 to an unknown
  endpoint, the request, duration and byte counters moved by at least that much.
- `meshsnap status` (text and --json, with --state-dir and with --config) against the
  running daemon: the master and worker pids and their liveness, phase, generation,
  requests per second under load, the migration with its progress, and aligned tables;
  a missing state directory gives exit status 3 and says so, and so does a daemon that
  stopped; a status block whose master vanished while serving gives exit status 1.
"""

import http.client
import json
import os
import re
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402

TRANSMISSIONS = 3000


class Load(msnlib.ClientThreads):
    """Keep-alive clients sending GET path until stopped (failures are not this test's topic)."""

    def __init__(self, d, path="/api/stats", threads=2):
        super().__init__(threads, join_timeout=10)
        self.d, self.path = d, path

    def run(self, i):
        c = self.d.client(timeout=5)
        while not self.stopping():
            try:
                c.get(self.path)
            except (OSError, http.client.HTTPException):
                c.close()
                time.sleep(0.01)
        c.close()


def read_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


SCHED_OTHER, SCHED_BATCH = 0, 3


def sched_fields(pid, tid=None):
    """The numeric fields of /proc/PID[/task/TID]/sched ({} when gone)."""
    path = "/proc/%d/sched" % pid if tid is None else "/proc/%d/task/%s/sched" % (pid, tid)
    out = {}
    try:
        with open(path) as f:
            for line in f:
                k, sep, v = line.partition(":")
                if sep:
                    try:
                        out[k.strip()] = int(float(v.strip()))
                    except ValueError:
                        pass
    except OSError:
        pass
    return out


def group_nice(pid):
    """The nice value of pid's scheduling group (/proc/PID/autogroup: "/autogroup-N nice V"),
    or None where the kernel does not group processes by session (or pid is gone)."""
    try:
        with open("/proc/%d/autogroup" % pid) as f:
            m = re.search(r" nice (-?\d+)", f.read())
    except OSError:
        return None
    return int(m.group(1)) if m else None


class ObserveTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-ops-observe-", "observe.db", nodes=200, observers=10,
                                              transmissions=TRANSMISSIONS, obs_per_tx=2.0, days=2, seed=51,
                                              legacy_last_seen=True)
        cls.d = msnlib.start_daemon(cls.db, cls.tmp, workers=2, poll_interval_ms=200,
                                    sections={"backfill": {"batch_size": 50, "yield_ms": 250}})

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    # -- process titles -------------------------------------------------------------------

    def test_1_process_titles(self):
        d = self.d
        self.assertEqual(msnlib.pid_cmdline(d.pid), "meshsnapd: master")
        self.assertEqual(read_comm(d.pid), "msn-master")
        workers = d.worker_pids()
        self.assertEqual(sorted(workers), [0, 1])
        for slot, pid in workers.items():
            self.assertEqual(msnlib.pid_cmdline(pid), "meshsnapd: worker %d" % slot)
            self.assertEqual(read_comm(pid), "msn-worker %d" % slot)
        h = d.health()
        bf = int(h.get("backfillerPid") or 0)
        self.assertGreater(bf, 0, "healthz names the backfiller")
        if msnlib.pid_alive(bf):
            self.assertEqual(msnlib.pid_cmdline(bf), "meshsnapd: backfiller")
            self.assertEqual(read_comm(bf), "msn-backfiller")
        else:
            self.skipTest("the backfiller had already finished (a slow machine?); its title was not seen")

    def test_1b_scheduling_classes(self):
        # shm/sched.h: the workers answer first (a short slice), background work is batch
        d = self.d
        self.assertEqual(sched_fields(d.pid).get("policy"), SCHED_OTHER, "the supervisor thread")
        policies = [sched_fields(d.pid, tid).get("policy") for tid in os.listdir("/proc/%d/task" % d.pid)]
        self.assertIn(SCHED_BATCH, policies, "the publisher thread is a batch task: %r" % policies)
        release = tuple(int(x) for x in re.findall(r"\d+", os.uname().release)[:2])
        for slot, pid in d.worker_pids().items():
            f = sched_fields(pid)
            self.assertEqual(f.get("policy"), SCHED_OTHER, "worker %d" % slot)
            # a session of its own: never one scheduling group (autogroup) with the background work
            self.assertEqual(os.getsid(pid), pid, "worker %d leads its own session" % slot)
            if release >= (6, 12) and "se.slice" in f:  # custom slices: Linux 6.12
                self.assertEqual(f["se.slice"], 200000, "worker %d's slice" % slot)
            if group_nice(pid) is not None:
                self.assertEqual(group_nice(pid), 0, "worker %d's group keeps the default" % slot)
        # the master leads its session here (the test starts it so, as a service manager
        # does): its group goes behind the workers'
        self.assertEqual(os.getsid(d.pid), d.pid)
        if group_nice(d.pid) is not None:
            self.assertEqual(group_nice(d.pid), 5, "the master's group")
        bf = int(d.health().get("backfillerPid") or 0)
        f = sched_fields(bf) if bf else {}
        if f:
            self.assertEqual(f.get("policy"), SCHED_BATCH, "the backfiller")
            try:  # read before the backfiller may finish
                sid, nice = os.getsid(bf), group_nice(bf)
            except OSError:
                sid = None
            if sid is not None and msnlib.pid_alive(bf):
                self.assertEqual(sid, bf, "the backfiller leads its own session")
                if nice is not None:
                    self.assertEqual(nice, 10, "the backfiller's group")

    # -- /metrics -------------------------------------------------------------------------

    def scrape(self):
        r = self.d.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-type"), "text/plain; version=0.0.4; charset=utf-8")
        return r.body.decode("utf-8")

    def strict_check(self, text):
        """Our own checks of the exposition format; returns {(name, labels): value}."""
        declared, helped, series = {}, set(), {}
        line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
        label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')
        self.assertTrue(text.endswith("\n"), "the exposition ends with a newline")
        for line in text.splitlines():
            if line.startswith("# HELP "):
                name = line.split()[2]
                self.assertNotIn(name, helped, "one HELP per family: %s" % name)
                helped.add(name)
                continue
            if line.startswith("# TYPE "):
                _, _, name, typ = line.split()
                self.assertNotIn(name, declared, "one TYPE per family: %s" % name)
                self.assertIn(typ, ("counter", "gauge", "histogram", "summary", "untyped"))
                declared[name] = typ
                continue
            self.assertFalse(line.startswith("#") or not line.strip(), "unexpected line %r" % line)
            m = line_re.match(line)
            self.assertIsNotNone(m, "malformed sample line %r" % line)
            name, labels, value = m.group(1), m.group(3) or "", m.group(4)
            fam = name
            if name not in declared:
                fam = re.sub(r"_(bucket|sum|count)$", "", name)
                self.assertEqual(declared.get(fam), "histogram", "sample %s without a TYPE line before it" % name)
            self.assertIn(fam, helped, "family %s has a HELP line" % fam)
            lab = tuple((k, v) for k, v, _ in label_re.findall(labels))
            self.assertEqual(",".join('%s="%s"' % kv for kv in lab), labels, "labels of %r" % line)
            key = (name, lab)
            self.assertNotIn(key, series, "series repeated: %r" % line)
            series[key] = float(value)
        # histograms: cumulative buckets ending with +Inf == _count
        for fam, typ in declared.items():
            if typ != "histogram":
                continue
            groups = {}
            for (name, lab), v in series.items():
                if name == fam + "_bucket":
                    rest = tuple(kv for kv in lab if kv[0] != "le")
                    le = dict(lab)["le"]
                    groups.setdefault(rest, []).append((float("inf") if le == "+Inf" else float(le), v))
            for rest, buckets in groups.items():
                les = [b[0] for b in buckets]
                self.assertEqual(les, sorted(les), "buckets in le order")
                vals = [b[1] for b in buckets]
                self.assertEqual(vals, sorted(vals), "buckets are cumulative for %s %s" % (fam, rest))
                self.assertEqual(les[-1], float("inf"))
                self.assertEqual(vals[-1], series[(fam + "_count", rest)])
        return series

    def test_2_metrics(self):
        try:
            from prometheus_client.parser import text_string_to_metric_families
        except ImportError:
            self.skipTest("python3-prometheus-client is not installed (apt-get install python3-prometheus-client)")
        d = self.d
        before_text = self.scrape()
        families = {f.name: f for f in text_string_to_metric_families(before_text)}
        want = {"meshsnap_http_requests": "counter", "meshsnap_http_request_duration_seconds": "histogram",
                "meshsnap_http_response_bytes": "counter", "meshsnap_http_connections": "gauge",
                "meshsnap_http_connections_accepted": "counter", "meshsnap_workers": "gauge",
                "meshsnap_worker_restarts": "counter", "meshsnap_snapshot_generation": "gauge",
                "meshsnap_snapshot_age_seconds": "gauge", "meshsnap_sqlite_poll_lag_seconds": "gauge",
                "meshsnap_analytic_compute_seconds": "gauge", "meshsnap_analytic_age_seconds": "gauge",
                "meshsnap_analytic_failures": "counter", "meshsnap_backfill_rows_processed": "gauge",
                "meshsnap_backfill_rows_remaining": "gauge"}
        for name, typ in want.items():
            self.assertIn(name, families, "family %s parsed" % name)
            self.assertEqual(families[name].type, typ, name)
        before = self.strict_check(before_text)

        body_len = len(d.get("/api/stats").body)
        c = d.client()
        for _ in range(20):
            self.assertEqual(c.get("/api/stats").status, 200)
        for _ in range(3):
            self.assertEqual(c.get("/api/no-such-endpoint").status, 404)
        c.close()

        def moved(after, name, labels):
            cur = next((v for (n, lab), v in after.items() if n == name and dict(lab) == labels), 0)
            old = next((v for (n, lab), v in before.items() if n == name and dict(lab) == labels), 0)
            return cur - old

        want_moves = [("meshsnap_http_requests_total", {"endpoint": "/api/stats", "status": "2xx"}, 21),
                      ("meshsnap_http_requests_total", {"endpoint": "other", "status": "4xx"}, 3),
                      ("meshsnap_http_request_duration_seconds_count", {"endpoint": "/api/stats"}, 21),
                      ("meshsnap_http_response_bytes_total", {"endpoint": "/api/stats"}, 21 * (body_len - 64)),
                      ("meshsnap_http_connections_accepted_total", {}, 2)]
        # a worker counts a request once it has answered it: poll until the scrape shows them all
        deadline = time.monotonic() + 10
        while True:
            after_text = self.scrape()
            list(text_string_to_metric_families(after_text))  # parses again
            after = self.strict_check(after_text)
            short = [(n, lab, moved(after, n, lab), want) for n, lab, want in want_moves if moved(after, n, lab) < want]
            if not short or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(short, [], "counters that did not move by (at least) the requests made")
        self.assertGreater(moved(after, "meshsnap_http_request_duration_seconds_sum", {"endpoint": "/api/stats"}), 0)
        self.assertEqual(after[("meshsnap_workers", ())], 2)
        self.assertGreaterEqual(after[("meshsnap_snapshot_generation", ())], 1)
        migs = {dict(lab)["migration"] for (name, lab) in after if name == "meshsnap_backfill_rows_processed"}
        self.assertTrue(migs, "the backfill migration has a series")
        msnlib.log("/metrics: %d families, %d series; migrations %s" % (len(families), len(after), sorted(migs)))

    # -- meshsnap status ------------------------------------------------------------------

    def status(self, *args):
        p = msnlib.run_meshsnap("status", *args, timeout=30)
        return p.returncode, p.stdout, p.stderr

    def check_table(self, text, header):
        """The rows of the table starting with `header` have equal widths (aligned columns,
        the last one right-aligned); returns the rows split into cells."""
        lines = text.splitlines()
        start = next(i for i, line in enumerate(lines) if line.strip().startswith(header))
        rows = []
        for line in lines[start:]:
            if not line.strip():
                break
            rows.append(line)
        self.assertGreater(len(rows), 1, text)
        self.assertEqual(len({len(r) for r in rows}), 1, "aligned rows:\n%s" % "\n".join(rows))
        return [r.split() for r in rows]

    def test_3_status(self):
        d = self.d
        with Load(d):
            time.sleep(0.3)
            h0 = d.health()
            rc, out, err = self.status("--state-dir", d.state_dir, "--interval", "0.5")
            rcj, outj, errj = self.status("--state-dir", d.state_dir, "--interval", "0.5", "--json")
            h1 = d.health()
        msnlib.log("meshsnap status:\n" + out)
        self.assertEqual(rc, 0, err)
        self.assertIn("meshsnapd is running (state_dir %s)" % d.state_dir, out)
        self.assertRegex(out, r"master +pid %d, up [^,]+, phase ready" % d.pid)
        m = re.search(r"requests +([\d.]+)/s over ", out)
        self.assertIsNotNone(m, out)
        self.assertGreater(float(m.group(1)), 0, "requests per second under load")
        procs = self.check_table(out, "ROLE")
        self.assertEqual(procs[0], ["ROLE", "SLOT", "PID", "STATE", "REQUESTS", "REQ/S", "CONNS"])
        self.assertEqual(procs[1][:4], ["master", "-", str(d.pid), "alive"])
        rows = {int(r[1]): r for r in procs if r[0] == "worker"}
        self.assertEqual({s: int(r[2]) for s, r in rows.items()}, d.worker_pids(h1))
        for r in rows.values():
            self.assertEqual(r[3], "ready")
        self.assertEqual(procs[-1][0], "backfiller")
        migs = self.check_table(out, "MIGRATION")
        self.assertEqual(migs[0], ["MIGRATION", "STATUS", "PROCESSED", "TOTAL", "DONE", "ROWS/S", "ETA"])
        self.assertTrue(any(r[0] == "tx_last_seen_backfill_v1" and r[3] == str(TRANSMISSIONS) for r in migs[1:]), out)

        self.assertEqual(rcj, 0, errj)
        j = json.loads(outj)
        self.assertIs(j["running"], True)
        self.assertEqual(j["stateDir"], d.state_dir)
        self.assertEqual(j["master"]["pid"], d.pid)
        self.assertIs(j["master"]["alive"], True)
        self.assertEqual(j["master"]["phase"], "ready")
        self.assertEqual({w["slot"]: w["pid"] for w in j["workers"]}, d.worker_pids(h1))
        for w in j["workers"]:
            self.assertIs(w["alive"], True)
            self.assertIs(w["ready"], True)
            self.assertGreater(w["requests"], 0)
        self.assertGreater(j["requests"]["perSec"], 0)
        self.assertAlmostEqual(j["requests"]["intervalSec"], 0.5, delta=0.4)
        snap = j["snapshot"]
        self.assertIsNone(snap["error"])
        self.assertTrue(h0["generation"] <= snap["generation"] <= h1["generation"],
                        (h0["generation"], snap, h1["generation"]))
        self.assertEqual(snap["transmissions"], TRANSMISSIONS)
        self.assertEqual(snap["sourceDb"], self.db)
        self.assertIs(snap["stale"], False)
        mig = next((m for m in j["migrations"] if m["name"] == "tx_last_seen_backfill_v1"), None)
        self.assertIsNotNone(mig, j["migrations"])
        self.assertEqual(mig["rowsTotal"], TRANSMISSIONS)
        msnlib.log("migration %s: %s, %s%%, %s rows/s, ETA %s s" % (mig["name"], mig["status"], mig["percent"],
                                                                   mig["perSec"], mig["etaSec"]))
        if mig["status"] == "running":
            self.assertTrue(0 <= mig["percent"] < 100, mig)
            self.assertGreater(mig["perSec"], 0)
            self.assertGreater(mig["etaSec"], 0)
            self.assertIs(j["backfiller"]["alive"], True)
            self.assertEqual(j["backfiller"]["pid"], int(h1["backfillerPid"]))
        else:
            self.assertEqual(mig["status"], "done", mig)
            self.assertEqual(mig["percent"], 100)

        # --config finds the same state directory; --interval 0 gives no rates
        rc, out, err = self.status("--config", d.config_path, "--interval", "0", "--json")
        self.assertEqual(rc, 0, err)
        j = json.loads(out)
        self.assertEqual(j["stateDir"], d.state_dir)
        self.assertIsNone(j["requests"]["perSec"])
        self.assertGreater(j["requests"]["total"], 0)

        # a copy of the live block: once the daemon is gone, its master "exited without stopping"
        os.makedirs(os.path.join(self.tmp, "copied-state"), exist_ok=True)
        shutil.copyfile(os.path.join(d.state_dir, "status"), os.path.join(self.tmp, "copied-state", "status"))

        # no status block: exit 3 and a clear message (and a JSON object with --json)
        missing = os.path.join(self.tmp, "no-such-state")
        rc, out, err = self.status("--state-dir", missing)
        self.assertEqual(rc, 3)
        self.assertIn("no meshsnapd status in %s" % missing, err)
        rc, out, err = self.status("--state-dir", missing, "--json")
        self.assertEqual(rc, 3)
        self.assertIs(json.loads(out)["running"], False)
        # usage errors
        self.assertEqual(self.status("--state-dir", d.state_dir, "--config", d.config_path)[0], 2)
        self.assertEqual(self.status("--interval", "soon", "--state-dir", d.state_dir)[0], 2)

    def test_4_status_after_stop(self):
        d = self.d
        pid = d.pid
        d.stop()
        # a clean stop: not running (3)
        rc, out, err = self.status("--state-dir", d.state_dir, "--interval", "0")
        self.assertEqual(rc, 3, out + err)
        self.assertIn("meshsnapd is not running: it stopped (master pid %d)" % pid, err)
        self.assertIn("NOT running: it stopped", out)
        rc, out, err = self.status("--state-dir", d.state_dir, "--json")
        self.assertEqual(rc, 3)
        j = json.loads(out)
        self.assertIs(j["running"], False)
        self.assertIs(j["master"]["alive"], False)
        self.assertEqual(j["master"]["phase"], "stopping")
        # a master that vanished while serving (the block copied in test_3): 1
        rc, out, err = self.status("--state-dir", os.path.join(self.tmp, "copied-state"), "--interval", "0")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("master pid %d has exited without stopping" % pid, err)
        for w in re.findall(r"(?m)^  worker +\d+ +\d+ +(\S+)", out):
            self.assertEqual(w, "exited")


if __name__ == "__main__":
    msnlib.main(ObserveTest)
