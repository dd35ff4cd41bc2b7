#!/usr/bin/python3
"""ops.py: requests lost to operations under load: a SIGHUP reload and a kill -9 of one
worker, each during a `wrk -t2 -c64` run against meshsnapd.

1. Builds (once; cached under the work dir) a synthetic CoreScope database, starts
   meshsnapd with W workers (default 2) and waits for a fresh generation.
2. Reload: runs wrk for --duration seconds and sends SIGHUP --reloads times, evenly
   spaced, switching the configuration between W and W+1 workers. For each reload it
   prints the time from SIGHUP until the new generation runs alone (every new worker up,
   every old one exited). Then wrk's totals: requests, req/s, non-2xx answers and socket
   errors. Requirement: no failed request (non-2xx + socket errors = 0).
3. kill -9: runs wrk again and, halfway, kills worker 0 with SIGKILL. It prints how many
   connections that worker had open (from `meshsnap status --json`, when the meshsnap
   binary sits beside meshsnapd), the time until a new worker ran in its slot, and wrk's
   totals. Requirement: failed requests <= the killed worker's open connections (wrk keeps
   one request in flight per connection, so that is at most its in-flight requests).
The exit status is 0 when both requirements hold, 1 otherwise (2 on a setup error).
wrk, the daemon and the kernel share the machine: the rates are whole-box figures.

Usage: ops.py [--meshsnapd BIN] [--workdir DIR] [--duration S] [--connections C]
              [--threads T] [--workers W] [--reloads N] [--url PATH] [--transmissions N]
"""

import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import msnlib  # noqa: E402


def print_wrk(r):
    s = r["socket"]
    print("  wrk: %d requests, %.0f req/s; non-2xx %d; socket errors: connect %d, read %d, write %d, timeout %d"
          % (r["requests"], r["rps"], r["non2xx"], s["connect"], s["read"], s["write"], s["timeout"]))


def wait_generation(d, old, want, timeout):
    """Waits until `want` workers run, none of them from `old`, and every old one has exited.
    Returns the new {slot: pid}, or None on timeout."""
    return msnlib.poll_until(lambda: msnlib.worker_generation(d.pid, old, want), timeout, interval=0.01)


def connections_of(meshsnap, state_dir, slot):
    """Open connections of a worker slot from `meshsnap status --json`, or None."""
    if not meshsnap:
        return None
    p = subprocess.run([meshsnap, "status", "--state-dir", state_dir, "--interval", "0", "--json"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30)
    try:
        for w in json.loads(p.stdout)["workers"]:
            if w["slot"] == slot:
                return int(w["connections"])
    except (ValueError, KeyError):
        pass
    return None


def main():
    ap = msnlib.bench_parser(__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--reloads", type=int, default=3, help="SIGHUPs during the reload run")
    ap.add_argument("--url", default="/api/stats")
    ap.add_argument("--transmissions", type=int, default=20000)
    a = ap.parse_args()
    wrk = msnlib.need_tool("wrk", "wrk", status=2)
    binary = msnlib.need_binary("meshsnapd", a.meshsnapd, status=2)
    meshsnap = os.path.join(os.path.dirname(binary), "meshsnap")
    meshsnap = meshsnap if os.access(meshsnap, os.X_OK) else None
    os.makedirs(a.workdir, exist_ok=True)

    src = os.path.join(a.workdir, "ops-t%d.db" % a.transmissions)
    msnlib.cached_db(src, nodes=1000, observers=30, transmissions=a.transmissions, obs_per_tx=5.0, days=7, seed=7,
                     meshsnapd=binary)
    run_dir, db = msnlib.bench_run_dir(a.workdir, "ops-run", src)

    d = msnlib.Daemon(db, run_dir, workers=a.workers, poll_interval_ms=1000, binary=binary, log_level="warn",
                      allow_worker_restarts=True)
    ok = True
    try:
        d.start()
        d.wait_fresh(timeout=600)
        url = d.url(a.url)
        print("meshsnapd %s, %d workers, %s" % (binary, a.workers, url))
        print("wrk -t%d -c%d -d%ds\n" % (a.threads, a.connections, a.duration), flush=True)

        # 1. reloads
        print("SIGHUP reload x%d during one wrk run (workers alternate %d <-> %d):"
              % (a.reloads, a.workers, a.workers + 1))
        gen = msnlib.worker_processes(d.pid)
        proc = msnlib.Wrk(url, a.duration, a.connections, a.threads, request_timeout="10s", wrk=wrk).start()
        t0 = time.monotonic()
        for i in range(a.reloads):
            at = t0 + (i + 1) * a.duration / (a.reloads + 1)
            time.sleep(max(0.0, at - time.monotonic()))
            want = a.workers + 1 if i % 2 == 0 else a.workers
            th = time.monotonic()
            d.reload(workers=want)
            new = wait_generation(d, gen, want, timeout=max(1.0, t0 + a.duration - time.monotonic()))
            if new is None:
                print("  reload %d: the new generation of %d workers was not alone before wrk ended" % (i + 1, want))
                ok = False
                break
            print("  reload %d: %d -> %d workers, new generation alone after %.0f ms"
                  % (i + 1, len(gen), want, (time.monotonic() - th) * 1000), flush=True)
            gen = new
        r = proc.result(timeout=120)
        print_wrk(r)
        verdict = r["failed"] == 0 and r["requests"] > 0
        ok &= verdict
        print("  failed requests during the reloads: %d (requirement: 0) -> %s\n"
              % (r["failed"], "OK" if verdict else "FAIL"), flush=True)

        # 2. kill -9 of one worker
        gen = wait_generation(d, {}, len(msnlib.worker_processes(d.pid)), timeout=10) or \
            msnlib.worker_processes(d.pid)
        slot = min(gen)
        print("kill -9 of worker %d halfway through one wrk run:" % slot)
        proc = msnlib.Wrk(url, a.duration, a.connections, a.threads, request_timeout="10s", wrk=wrk).start()
        time.sleep(a.duration / 2.0)
        conns = connections_of(meshsnap, d.state_dir, slot)
        victim = msnlib.worker_processes(d.pid).get(slot)
        tk = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        def replaced():
            p = msnlib.worker_processes(d.pid).get(slot)
            return p if p not in (None, victim) else None
        new = msnlib.poll_until(replaced, 10, interval=0.002)
        took = (time.monotonic() - tk) * 1000
        r = proc.result(timeout=120)
        print("  worker %d (pid %d) had %s open connections; pid %s replaced it after %.0f ms"
              % (slot, victim, conns if conns is not None else "?", new, took))
        print_wrk(r)
        bound = conns if conns is not None else a.connections
        verdict = r["failed"] <= bound and r["requests"] > 0 and r["socket"]["connect"] == 0
        ok &= verdict
        print("  failed requests around the kill: %d (requirement: <= %d, the killed worker's connections) -> %s"
              % (r["failed"], bound, "OK" if verdict else "FAIL"), flush=True)
        d.stop(timeout=10)
    finally:
        d.cleanup()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
