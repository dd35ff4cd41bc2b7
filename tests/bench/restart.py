#!/usr/bin/python3
"""restart.py: how long meshsnapd takes to serve after a start, cold and warm.

1. Builds (once; cached under the work dir) a synthetic CoreScope database with about
   1.1 million observations (tests/tools/mkdb.py) and serves a copy of it.
2. Cold start (empty state_dir): times exec -> first 200 on /api/stats and
   exec -> first fresh generation (healthz ready, stale=false).
3. Warm restarts (the snapshot of the previous run present), RUNS times: exec -> first
   200 on /api/stats (served from the previous snapshot, X-Meshsnap-Snapshot-Stale: 1)
   and exec -> the first fresh generation of the new run.
Prints every run and the medians. Figures, not a test: nothing is asserted.

Usage: restart.py [--meshsnapd BIN] [--workdir DIR] [--runs N] [--transmissions T]
                  [--obs-per-tx R] [--nodes N] [--observers M] [--workers W]
"""

import os
import re
import shutil
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import msnlib  # noqa: E402


def cached_db(workdir, meshsnapd, a):
    """The cached database for these parameters, built when missing."""
    key = "t%d-r%g-n%d-o%d-s%d" % (a.transmissions, a.obs_per_tx, a.nodes, a.observers, a.seed)
    path = os.path.join(workdir, "bench-%s.db" % key)
    st = msnlib.cached_db(path, nodes=a.nodes, observers=a.observers, transmissions=a.transmissions,
                          obs_per_tx=a.obs_per_tx, days=7, seed=a.seed, meshsnapd=meshsnapd)
    if st:
        print("  %d transmissions, %d observations in %.1f s" % (st["transmissions"], st["observations"], st["seconds"]))
    return path


def last_publish_line(d):
    lines = [ln for ln in d.log_text().splitlines() if "published generation" in ln]
    return re.sub(r"^\S+\s+\S+\s+", "", lines[-1]) if lines else "(no publish line in the log)"


def one_run(binary, db, workdir, state_dir, workers, prev_gen):
    """Starts meshsnapd, measures, stops. Returns (first_200_s, fresh_s, stale_first, gen, log line)."""
    d = msnlib.Daemon(db, workdir, workers=workers, poll_interval_ms=1000, state_dir=state_dir, binary=binary)
    t0 = time.monotonic()
    d.start()
    try:
        r = d.wait_status("/api/stats", 200, timeout=600, interval=0.002, request_timeout=5)
        first_200 = time.monotonic() - t0
        stale_first = r.header("x-meshsnap-snapshot-stale")
        h = d.wait_fresh(timeout=900, min_generation=None if prev_gen is None else prev_gen + 1, interval=0.01)
        fresh = time.monotonic() - t0
        gen = int(h["generation"])
        line = last_publish_line(d)
        d.stop(timeout=10)
    finally:
        d.cleanup()
    return first_200, fresh, stale_first, gen, line


def main():
    ap = msnlib.bench_parser(__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="warm restarts")
    ap.add_argument("--transmissions", type=int, default=55000)
    ap.add_argument("--obs-per-tx", type=float, default=20.0)
    ap.add_argument("--nodes", type=int, default=2500)
    ap.add_argument("--observers", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    binary = msnlib.need_binary("meshsnapd", a.meshsnapd)
    os.makedirs(a.workdir, exist_ok=True)
    src = cached_db(a.workdir, binary, a)
    run_dir, db = msnlib.bench_run_dir(a.workdir, "restart-run", src)
    state = os.path.join(run_dir, "state")
    print("meshsnapd: %s\ndatabase:  %s (%.0f MB, copy of %s)\nworkers:   %d\n"
          % (binary, db, os.path.getsize(db) / 1e6, os.path.basename(src), a.workers), flush=True)

    f200, fresh, stale, gen, line = one_run(binary, db, run_dir, state, a.workers, None)
    print("cold start (no snapshot):   first 200 on /api/stats %7.3f s   first fresh generation %7.3f s"
          % (f200, fresh))
    print("    %s" % line, flush=True)
    warm_200, warm_fresh = [], []
    for i in range(a.runs):
        f200, fresh, stale, gen2, line = one_run(binary, db, run_dir, state, a.workers, gen)
        warm_200.append(f200)
        warm_fresh.append(fresh)
        print("warm restart %d (snapshot): first 200 on /api/stats %7.3f s (stale=%s)   first fresh generation %7.3f s"
              % (i + 1, f200, stale, fresh))
        print("    %s" % line, flush=True)
        gen = gen2
    if warm_200:
        print("\nwarm restart, median of %d: exec -> first 200 %.3f s (min %.3f, max %.3f); "
              "exec -> first fresh generation %.3f s (min %.3f, max %.3f)"
              % (len(warm_200), statistics.median(warm_200), min(warm_200), max(warm_200),
                 statistics.median(warm_fresh), min(warm_fresh), max(warm_fresh)))
    shutil.rmtree(run_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
