#!/usr/bin/python3
"""backfill.py: what the backfiller costs on an operator-scale database.

1. Generates (once; cached in the work dir, keyed by its parameters) a database whose
   resolved_path and last_seen still need the backfill:
     meshsnap gen --nodes 2600 --observers 300 --transmissions 325000 --obs-per-tx 22.5
                  --days 7 --empty-backfill
   (325,000 transmissions, ~7.3M observations, CoreScope's production figures). Every
   run works on a fresh copy.
2. Cold start: starts meshsnapd (backfiller enabled) with an empty state directory and
   prints the time from exec to the first 200 on /api/stats.
3. While the backfill runs: `wrk -t2 -c64 --latency` on /api/stats and on
   /api/packets?limit=50 (alternating, --duration seconds each, as long as the backfill
   lasts, at most --load-rounds rounds); prints p99 and req/s of each.
4. Per migration (from /api/perf/async-migrations, polled every 0.5 s): rows, wall time
   from running to done, rows/s; and the total wall time from exec to every migration
   done.
5. Idle: the same wrk runs with the backfiller finished, and the p99 ratio
   during / idle for each URL.
6. Warm restart: stops the daemon and starts it again on the same state directory (the
   previous run's snapshot); prints the time from exec to the first 200 on /api/stats.

It prints figures and asserts nothing. --single-txn runs the backfiller with the test knob
MESHSNAP_BACKFILL_SINGLE_TXN=1 (the whole backfill in one transaction) for comparison.

Usage: backfill.py [--meshsnapd BIN] [--meshsnap BIN] [--workdir DIR] [--nodes N]
                   [--observers M] [--transmissions T] [--obs-per-tx R] [--days D]
                   [--batch-size B] [--yield-ms Y] [--workers W] [--duration S]
                   [--load-rounds K] [--single-txn] [--keep]
"""

import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import msnlib  # noqa: E402

URLS = ["/api/stats", "/api/packets?limit=50"]


def run_wrk(wrk, port, url, seconds):
    """(req/s, p99 ms) of one `wrk -t2 -c64 --latency` run."""
    r = msnlib.run_wrk("http://127.0.0.1:%d%s" % (port, url), seconds, connections=64, threads=2, latency=True,
                       wrk=wrk)
    return r["rps"], r["latency_ms"].get("99")


def first_200(d, timeout=1800):
    """Starts d and returns the seconds from exec to the first 200 on /api/stats."""
    t0 = time.monotonic()
    d.start()
    d.wait_status("/api/stats", 200, timeout=timeout, interval=0.01, request_timeout=5)
    return time.monotonic() - t0


class MigrationWatch(threading.Thread):
    """Polls /api/perf/async-migrations; remembers when each migration was first seen
    running and when it was first seen done, with its rows."""

    def __init__(self, d):
        super().__init__(daemon=True)
        self.d = d
        self.stop_flag = threading.Event()
        self.first_running, self.finished, self.last = {}, {}, {}

    def all_done(self, names):
        return names and all(n in self.finished for n in names)

    def run(self):
        while not self.stop_flag.is_set():
            try:
                ms = self.d.get_json("/api/perf/async-migrations")
            except (OSError, ValueError, AssertionError):
                ms = []
            now = time.monotonic()
            for m in ms:
                self.last[m["name"]] = m
                if m["status"] == "running":
                    self.first_running.setdefault(m["name"], now)
                elif m["status"] in ("done", "failed") and m["name"] not in self.finished:
                    self.finished[m["name"]] = (now, m)
            time.sleep(0.5)


def main():
    ap = msnlib.bench_parser("Backfill cost on an operator-scale database.")
    ap.add_argument("--meshsnap")
    ap.add_argument("--nodes", type=int, default=2600)
    ap.add_argument("--observers", type=int, default=300)
    ap.add_argument("--transmissions", type=int, default=325000)
    ap.add_argument("--obs-per-tx", type=float, default=22.5)
    ap.add_argument("--days", type=float, default=7)
    ap.add_argument("--batch-size", type=int, default=5000)
    ap.add_argument("--yield-ms", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--load-rounds", type=int, default=3, help="wrk rounds (both URLs) during the backfill")
    ap.add_argument("--single-txn", action="store_true", help="the naive one-transaction backfill, for comparison")
    ap.add_argument("--keep", action="store_true", help="keep the run directory")
    a = ap.parse_args()

    meshsnapd = msnlib.need_binary("meshsnapd", a.meshsnapd)
    meshsnap = msnlib.need_binary("meshsnap", a.meshsnap)
    wrk = msnlib.need_tool("/usr/bin/wrk", "wrk")
    os.makedirs(a.workdir, exist_ok=True)

    key = "gen-empty-%d-%d-%d-%g-%g.db" % (a.nodes, a.observers, a.transmissions, a.obs_per_tx, a.days)
    cached = os.path.join(a.workdir, key)
    if not os.path.exists(cached):
        print("generating %s (once) ..." % cached, flush=True)
        t0 = time.monotonic()
        tmp = cached + ".part"
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(tmp + suffix):
                os.unlink(tmp + suffix)
        subprocess.run([meshsnap, "gen", "--db", tmp, "--nodes", str(a.nodes), "--observers", str(a.observers),
                        "--transmissions", str(a.transmissions), "--obs-per-tx", str(a.obs_per_tx),
                        "--days", str(a.days), "--empty-backfill", "--drop-indexes"], check=True)
        os.rename(tmp, cached)
        print("generated in %.0f s" % (time.monotonic() - t0), flush=True)

    run = os.path.join(a.workdir, "backfill-run")
    shutil.rmtree(run, ignore_errors=True)
    os.makedirs(run)
    db = os.path.join(run, "bench.db")
    t0 = time.monotonic()
    shutil.copyfile(cached, db)
    conn = msnlib.sql_connect(db)
    n_tx = conn.execute("SELECT COUNT(*) FROM transmissions").fetchone()[0]
    n_obs = conn.execute("SELECT MAX(id) FROM observations").fetchone()[0]
    conn.close()
    size = os.path.getsize(db)
    print("database: %d transmissions, ~%d observations, %.2f GB (copied in %.0f s)"
          % (n_tx, n_obs, size / 1e9, time.monotonic() - t0), flush=True)
    print("backfill: batch_size %d, yield_ms %d%s; %d workers; meshsnapd %s"
          % (a.batch_size, a.yield_ms, ", SINGLE TRANSACTION (test knob)" if a.single_txn else "", a.workers,
             meshsnapd), flush=True)

    sections = {"backfill": {"enabled": True, "batch_size": a.batch_size, "yield_ms": a.yield_ms}}
    env = {"MESHSNAP_BACKFILL_SINGLE_TXN": "1"} if a.single_txn else {}
    state = os.path.join(run, "state")
    d = msnlib.Daemon(db, run, workers=a.workers, poll_interval_ms=1000, state_dir=state, sections=sections,
                      env=env, binary=meshsnapd, allow_worker_restarts=True)
    results = {}
    try:
        t_exec = time.monotonic()
        cold = first_200(d)
        print("\ncold start (no snapshot): first 200 on /api/stats after %.2f s" % cold, flush=True)
        watch = MigrationWatch(d)
        watch.start()
        names = ["schema_upgrade_v1", "tx_last_seen_backfill_v1", "path_json_backfill_v1", "resolved_path_backfill_v1"]

        during = {u: [] for u in URLS}
        rounds = 0
        while rounds < a.load_rounds and not watch.all_done(names):
            for u in URLS:
                if watch.all_done(names):
                    break
                rps, p99 = run_wrk(wrk, d.port, u, a.duration)
                during[u].append((rps, p99))
                running = [n for n, m in watch.last.items() if m["status"] == "running"]
                print("  during backfill (%s): %-24s %8.0f req/s  p99 %7.2f ms"
                      % (",".join(running) or "-", u, rps, p99), flush=True)
            rounds += 1
        while not watch.all_done(names):
            d.check_alive()
            time.sleep(0.5)
        t_all = max(t for t, _ in watch.finished.values())
        watch.stop_flag.set()
        print("\nmigrations:", flush=True)
        for n in names:
            t_end, m = watch.finished[n]
            t_start = watch.first_running.get(n, t_end)
            wall = max(t_end - t_start, 0.0)
            rows = m["rowsProcessed"]
            rate = rows / m["elapsedSec"] if m.get("elapsedSec") else (rows / wall if wall > 0 else 0.0)
            print("  %-28s %-6s %10d rows  %7.1f s  %10.0f rows/s%s"
                  % (n, m["status"], rows, m.get("elapsedSec") or wall, rate,
                     "  (%s)" % m["errorMessage"] if m.get("errorMessage") else ""), flush=True)
            results[n] = (rows, rate)
        print("  total: %.1f s from exec to every migration finished" % (t_all - t_exec), flush=True)

        # the master reloads once after the backfill; let it settle before the idle runs
        time.sleep(2)
        d.wait_fresh(timeout=600)
        print("\nidle backfiller:", flush=True)
        idle = {}
        for u in URLS:
            rps, p99 = run_wrk(wrk, d.port, u, a.duration)
            idle[u] = (rps, p99)
            print("  idle:                    %-24s %8.0f req/s  p99 %7.2f ms" % (u, rps, p99), flush=True)
        print("\np99 during backfill / idle:", flush=True)
        for u in URLS:
            if during[u]:
                p = statistics.median(x[1] for x in during[u])
                print("  %-24s %7.2f ms / %7.2f ms = %.2f" % (u, p, idle[u][1], p / idle[u][1]), flush=True)
            else:
                print("  %-24s (the backfill ended before a load run)" % u, flush=True)
        d.stop(timeout=60, expect_code=None)

        # warm restart on the same state directory
        d2 = msnlib.Daemon(db, run, workers=a.workers, poll_interval_ms=1000, state_dir=state, sections=sections,
                           env=env, binary=meshsnapd, allow_worker_restarts=True)
        warm = first_200(d2)
        print("\nwarm restart (previous snapshot): first 200 on /api/stats after %.3f s" % warm, flush=True)
        print("cold start (no snapshot):         first 200 on /api/stats after %.3f s" % cold, flush=True)
        d2.stop(timeout=60, expect_code=None)
    finally:
        for x in msnlib._daemons:
            x.cleanup()
        if not a.keep:
            shutil.rmtree(run, ignore_errors=True)
        else:
            print("kept %s" % run)


if __name__ == "__main__":
    main()
