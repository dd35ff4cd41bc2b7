#!/usr/bin/python3
"""snapsum.py: what the snapshot checksums cost: publish time and request throughput of
this meshsnapd against a baseline binary (one built without them), same database, same
run, interleaved.

1. Builds (once; cached under the work dir) a synthetic database and runs the backfiller
   on it, so that nothing writes it while the daemons run.
2. For each round and each binary (baseline, then this one): starts meshsnapd with a
   fresh state directory, reads "publish X s" of generation 1 from its log (the full
   publication), then runs `wrk -t2 -cC -dS` on each URL (packet list pages, a packet
   detail, the node list) and keeps req/s. This binary is also restarted on its own
   snapshot, and the log's "checked in X s" (the full check of an earlier run's
   snapshot) is printed.
3. Prints the medians per binary and the ratios this / baseline.

It prints figures and asserts nothing.

Usage: snapsum.py --baseline BIN [--meshsnapd BIN] [--workdir DIR] [--transmissions T]
                  [--rounds R] [--duration S] [--connections C]
"""

import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import mkdb  # noqa: E402
import msnlib  # noqa: E402


def wrk(url, duration, connections):
    out = subprocess.run(["wrk", "-t2", "-c%d" % connections, "-d%ds" % duration, url],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout.decode()
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        msnlib.log("%s: %s non-2xx answers" % (url, bad.group(1)))
    return float(m.group(1)) if m else 0.0


def run_one(binary, db, workdir, name, urls, a):
    state = os.path.join(workdir, "state-" + name)
    shutil.rmtree(state, ignore_errors=True)
    d = msnlib.Daemon(db, workdir, workers=2, state_dir=state, binary=binary, allow_worker_restarts=True)
    d.start()
    try:
        d.wait_fresh(timeout=600)
        m = re.search(r"published generation 1: .*publish ([\d.]+) s", d.log_text())
        publish = float(m.group(1)) if m else float("nan")
        rates = {u: wrk(d.url(u), a.duration, a.connections) for u in urls}
    finally:
        d.stop(timeout=30, expect_code=None)
    check = None
    if binary == a.meshsnapd:
        d2 = msnlib.Daemon(db, workdir, workers=2, state_dir=state, binary=binary, allow_worker_restarts=True)
        d2.start()
        try:
            d2.wait_for(lambda: "checked in" in d2.log_text(), timeout=600, what="the snapshot check")
            m = re.search(r"is intact \((\d+) entries intact, checked in ([\d.]+) s\)", d2.log_text())
            check = (int(m.group(1)), float(m.group(2))) if m else None
        finally:
            d2.stop(timeout=30, expect_code=None)
    return publish, rates, check


def main():
    ap = msnlib.bench_parser("Cost of the snapshot checksums against a baseline binary.")
    ap.add_argument("--baseline", required=True, help="a meshsnapd built without snapshot checksums")
    ap.add_argument("--transmissions", type=int, default=40000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=32)
    a = ap.parse_args()
    a.meshsnapd = msnlib.need_binary("meshsnapd", a.meshsnapd)
    msnlib.need_tool("wrk", "wrk")
    os.makedirs(a.workdir, exist_ok=True)
    db = os.path.join(a.workdir, "snapsum-%d.db" % a.transmissions)
    if not os.path.exists(db):
        mkdb.build(db, nodes=800, observers=60, transmissions=a.transmissions, obs_per_tx=4.0, days=7, seed=5)
        msnlib.run_backfiller(db, a.workdir, name="snapsum-bf")
    con = sqlite3.connect(db)
    h = con.execute("SELECT hash FROM transmissions ORDER BY id DESC LIMIT 1 OFFSET 100").fetchone()[0]
    con.close()
    urls = ["/api/packets?limit=50", "/api/packets?limit=1000", "/api/packets/" + h,
            "/api/nodes?limit=200", "/api/packets?limit=50&expand=observations"]
    res = {"baseline": [], "this": []}
    checks = []
    for r in range(a.rounds):
        for name, binary in (("baseline", a.baseline), ("this", a.meshsnapd)):
            publish, rates, check = run_one(binary, db, a.workdir, name, urls, a)
            res[name].append((publish, rates))
            if check:
                checks.append(check)
            print("round %d %-8s publish %.2f s  %s" % (r + 1, name, publish,
                  "  ".join("%.0f" % rates[u] for u in urls)), flush=True)
    print("\nmedians (%d rounds, %d transmissions, wrk -t2 -c%d -d%ds, 2 workers)"
          % (a.rounds, a.transmissions, a.connections, a.duration))
    pb = statistics.median(p for p, _ in res["baseline"])
    pt = statistics.median(p for p, _ in res["this"])
    print("  full publish: baseline %.2f s, this %.2f s, ratio %.3f" % (pb, pt, pt / pb if pb else float("nan")))
    for u in urls:
        b = statistics.median(rt[u] for _, rt in res["baseline"])
        t = statistics.median(rt[u] for _, rt in res["this"])
        print("  %-45s req/s baseline %8.0f  this %8.0f  ratio %.3f" % (u, b, t, t / b if b else float("nan")))
    if checks:
        print("  check of an earlier run's snapshot at start: %d entries in %.2f s (median of %d; the "
              "baseline has no such check)" % (checks[0][0], statistics.median(c[1] for c in checks), len(checks)))


if __name__ == "__main__":
    main()
