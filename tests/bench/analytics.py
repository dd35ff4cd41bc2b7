#!/usr/bin/python3
"""analytics.py: what the master's analytics cost, and what they cost the readers.

1. Serves a copy of DB (an operator-scale database: `meshsnap gen --nodes 2600
   --observers 300 --transmissions 325000 --obs-per-tx 22.5 --days 7`) with 2 workers,
   analytics intervals of one day (so the master is idle once the first round is done),
   and prints the time from start to the first fresh generation, to every analytic
   published, and each analytic's compute time (from /api/perf: the default shape's last
   computation, measured in the computing process).
   The backfiller is off: this measures the analytics alone (backfill.sh measures backfills).
2. Latency under load with the master idle: for every P0 endpoint, `wrk -t2 -c64` for
   --duration seconds, p50 and p99.
3. Restarts on the same snapshot with every analytic due every --busy-interval seconds, so
   the master recomputes and republishes continuously (new generations), and measures the
   same; prints the ratio of the p99 while recomputing to the p99 while idle.
Throughput of /api/analytics/topology and /api/stats against h2o serving the same bytes is
throughput.sh --db DB --url /api/analytics/topology --url /api/stats.

Usage: analytics.py --db PATH [--meshsnapd BIN] [--duration S] [--busy-interval S] [--workdir DIR]
"""

import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import msnlib  # noqa: E402

ANALYTICS = ["topology", "rf", "distance", "channels", "hash-sizes", "hash-collisions", "roles", "subpaths"]
ENDPOINTS = ["/api/stats", "/api/healthz", "/api/packets?limit=50", "/api/packets?type=4&limit=50",
             "/api/packets/1", "/api/nodes?limit=50", "/api/observers", "/api/perf"] + \
            ["/api/analytics/" + a for a in ANALYTICS] + ["/api/observers/clock-skew", "/api/nodes/clock-skew"]


def wrk_latency(wrk, url, duration):
    r = msnlib.run_wrk(url, duration, check=False, connections=64, threads=2, latency=True, wrk=wrk)
    return {"50": r["latency_ms"].get("50"), "99": r["latency_ms"].get("99"), "rps": r["rps"], "errors": r["errors"]}


def start(binary, db, run_dir, interval, state_dir=None):
    d = msnlib.Daemon(db, run_dir, workers=2, poll_interval_ms=1000, binary=binary, log_level="info",
                      state_dir=state_dir, sections={"analytics": {"default_interval_s": interval},
                                                     "backfill": {"enabled": "no"}})
    t0 = time.time()
    d.start()
    return d, t0


def wait_analytics(d, timeout=1800):
    """Whether every analytic answers 200 within timeout seconds."""
    try:
        d.wait_status(["/api/analytics/" + a for a in ANALYTICS] + ["/api/observers/clock-skew", "/api/nodes/clock-skew"],
                      200, timeout=timeout, interval=1, request_timeout=120)
        return True
    except msnlib.DaemonError:
        return False


def measure(wrk, d, duration, label):
    res = {}
    for u in ENDPOINTS:
        r = wrk_latency(wrk, "http://127.0.0.1:%d%s" % (d.port, u), duration)
        res[u] = r
        print("%-7s %-36s %9.0f req/s  p50 %8.3f ms  p99 %8.3f ms%s" % (label, u, r["rps"], r.get("50") or -1,
                                                                       r.get("99") or -1,
                                                                       "  ERRORS" if r["errors"] else ""),
              flush=True)
    return res


def main():
    ap = msnlib.bench_parser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--busy-interval", type=int, default=5)
    a = ap.parse_args()
    wrk = msnlib.need_tool("/usr/bin/wrk", "wrk")
    binary = msnlib.need_binary("meshsnapd", a.meshsnapd)
    run_dir, db = msnlib.bench_run_dir(a.workdir, "analytics-run", a.db)
    state = os.path.join(run_dir, "state")

    d, t0 = start(binary, db, run_dir, 86400, state)
    try:
        d.wait_fresh(timeout=1800)
        t_fresh = time.time() - t0
        if not wait_analytics(d):
            sys.exit("analytics.py: the analytics were not all published in time")
        t_all = time.time() - t0
        perf = d.get_json("/api/perf")
        print("database %s: %s transmissions, %s observations" % (a.db, perf["packetStore"]["totalLoaded"],
                                                                  perf["packetStore"]["totalObservations"]))
        print("start -> first fresh generation %.1f s; -> every analytic published %.1f s" % (t_fresh, t_all))
        print("compute time of each analytic (default shape):")
        for name, v in sorted(perf["analytics"].items()):
            print("  %-22s %8.2f s" % (name, v["lastComputeMs"] / 1000.0))
        idle = measure(wrk, d, a.duration, "idle")
    finally:
        d.stop(timeout=30)

    d, t0 = start(binary, db, run_dir, a.busy_interval, state)
    try:
        d.wait_fresh(timeout=1800)
        wait_analytics(d)
        gen0 = d.health()["generation"]
        busy = measure(wrk, d, a.duration, "busy")
        gen1 = d.health()["generation"]
        perf = d.get_json("/api/perf")
        computes = sum(v["computes"] for v in perf["analytics"].values())
        print("while measuring: generations %d -> %d, %d analytic computations" % (gen0, gen1, computes))
    finally:
        d.stop(timeout=30)
    print("\n%-36s %12s %12s %8s" % ("endpoint", "p99 idle ms", "p99 busy ms", "ratio"))
    for u in ENDPOINTS:
        i, b = idle[u].get("99"), busy[u].get("99")
        if i and b:
            print("%-36s %12.3f %12.3f %8.2f" % (u, i, b, b / i))
    shutil.rmtree(run_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
