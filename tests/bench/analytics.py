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

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
sys.path.insert(0, HERE)
import msnlib  # noqa: E402
from throughput import find_meshsnapd, need_tool  # noqa: E402

ANALYTICS = ["topology", "rf", "distance", "channels", "hash-sizes", "hash-collisions", "roles", "subpaths"]
ENDPOINTS = ["/api/stats", "/api/healthz", "/api/packets?limit=50", "/api/packets?type=4&limit=50",
             "/api/packets/1", "/api/nodes?limit=50", "/api/observers", "/api/perf"] + \
            ["/api/analytics/" + a for a in ANALYTICS] + ["/api/observers/clock-skew", "/api/nodes/clock-skew"]


def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk_latency(wrk, url, duration):
    out = subprocess.run([wrk, "-t2", "-c64", "-d%ds" % duration, "--latency", url], capture_output=True,
                         text=True).stdout
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    res = {}
    for k, v in lat.items():
        m = re.match(r"([\d.]+)(us|ms|s)$", v)
        res[k] = ms(m.group(1), m.group(2)) if m else None
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(rps.group(1)) if rps else 0
    res["errors"] = bool(re.search(r"Non-2xx|Socket errors", out))
    return res


def start(binary, db, run_dir, interval, state_dir=None):
    d = msnlib.Daemon(db, run_dir, workers=2, poll_interval_ms=1000, binary=binary, log_level="info",
                      state_dir=state_dir, sections={"analytics": {"default_interval_s": interval},
                                                     "backfill": {"enabled": "no"}})
    t0 = time.time()
    d.start()
    return d, t0


def wait_analytics(d, timeout=1800):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if all(d.get("/api/analytics/" + a, timeout=120).status == 200 for a in ANALYTICS) and \
                d.get("/api/observers/clock-skew").status == 200 and d.get("/api/nodes/clock-skew").status == 200:
            return True
        time.sleep(1)
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
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--meshsnapd")
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--busy-interval", type=int, default=5)
    ap.add_argument("--workdir", default=os.environ.get("MESHSNAP_BENCH_DIR", "/tmp/meshsnap-bench"))
    a = ap.parse_args()
    wrk = need_tool("/usr/bin/wrk", "wrk")
    binary = find_meshsnapd(a.meshsnapd)
    run_dir = os.path.join(a.workdir, "analytics-run")
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    db = os.path.join(run_dir, "served.db")
    shutil.copyfile(a.db, db)
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
