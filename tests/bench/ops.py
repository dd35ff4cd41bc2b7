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

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import mkdb  # noqa: E402
import msnlib  # noqa: E402


def fail_setup(msg):
    sys.stderr.write("ops.py: %s\n" % msg)
    sys.exit(2)


def find_meshsnapd(arg):
    for p in (arg, os.environ.get("MESHSNAPD"), os.path.join(HERE, "..", "..", "build", "meshsnapd")):
        if p and os.access(p, os.X_OK):
            return os.path.abspath(p)
    fail_setup("meshsnapd not found: pass --meshsnapd or set MESHSNAPD (e.g. build/meshsnapd)")


def proc_workers(master_pid):
    """{slot: pid} of the live worker processes of master_pid, from /proc."""
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


def parse_wrk(text):
    r = {"requests": 0, "rps": 0.0, "non2xx": 0, "socket": {"connect": 0, "read": 0, "write": 0, "timeout": 0}}
    m = re.search(r"(\d+) requests in", text)
    if m:
        r["requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if m:
        r["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        r["socket"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups())))
    r["failed"] = r["non2xx"] + sum(r["socket"].values())
    return r


def start_wrk(wrk, url, a):
    cmd = [wrk, "-t%d" % a.threads, "-c%d" % a.connections, "-d%ds" % a.duration, "--timeout", "10s", url]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish_wrk(proc):
    out, _ = proc.communicate(timeout=120)
    return parse_wrk(out.decode("utf-8", "replace"))


def print_wrk(r):
    s = r["socket"]
    print("  wrk: %d requests, %.0f req/s; non-2xx %d; socket errors: connect %d, read %d, write %d, timeout %d"
          % (r["requests"], r["rps"], r["non2xx"], s["connect"], s["read"], s["write"], s["timeout"]))


def wait_generation(d, old, want, timeout):
    """Waits until `want` workers run, none of them from `old`, and every old one has exited.
    Returns the new {slot: pid}, or None on timeout."""
    old_pids = set(old.values())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = proc_workers(d.pid)
        if len(now) == want and not (old_pids & set(now.values())) and \
                not any(msnlib.pid_alive(p) for p in old_pids):
            return now
        time.sleep(0.01)
    return None


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
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--meshsnapd")
    ap.add_argument("--workdir", default=os.environ.get("MESHSNAP_BENCH_DIR", "/tmp/meshsnap-bench"))
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--reloads", type=int, default=3, help="SIGHUPs during the reload run")
    ap.add_argument("--url", default="/api/stats")
    ap.add_argument("--transmissions", type=int, default=20000)
    a = ap.parse_args()
    wrk = shutil.which("wrk") or fail_setup("wrk is missing; install it with `apt-get install wrk`")
    binary = find_meshsnapd(a.meshsnapd)
    meshsnap = os.path.join(os.path.dirname(binary), "meshsnap")
    meshsnap = meshsnap if os.access(meshsnap, os.X_OK) else None
    os.makedirs(a.workdir, exist_ok=True)

    src = os.path.join(a.workdir, "ops-t%d.db" % a.transmissions)
    if not os.path.exists(src):
        print("building %s (cached for later runs) ..." % src, flush=True)
        mkdb.build(src + ".tmp", nodes=1000, observers=30, transmissions=a.transmissions, obs_per_tx=5.0, days=7,
                   seed=7, meshsnapd=binary, force=True)
        os.rename(src + ".tmp", src)
    run_dir = os.path.join(a.workdir, "ops-run")
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    db = os.path.join(run_dir, "served.db")
    shutil.copyfile(src, db)

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
        gen = proc_workers(d.pid)
        proc = start_wrk(wrk, url, a)
        t0 = time.monotonic()
        for i in range(a.reloads):
            at = t0 + (i + 1) * a.duration / (a.reloads + 1)
            time.sleep(max(0.0, at - time.monotonic()))
            want = a.workers + 1 if i % 2 == 0 else a.workers
            msnlib.write_config(d.config_path, db=db, state_dir=d.state_dir, listen="%s:%d" % (d.host, d.port),
                                workers=want, poll_interval_ms=1000, log_level="warn")
            th = time.monotonic()
            d.kill(signal.SIGHUP)
            new = wait_generation(d, gen, want, timeout=max(1.0, t0 + a.duration - time.monotonic()))
            if new is None:
                print("  reload %d: the new generation of %d workers was not alone before wrk ended" % (i + 1, want))
                ok = False
                break
            print("  reload %d: %d -> %d workers, new generation alone after %.0f ms"
                  % (i + 1, len(gen), want, (time.monotonic() - th) * 1000), flush=True)
            gen = new
        r = finish_wrk(proc)
        print_wrk(r)
        verdict = r["failed"] == 0 and r["requests"] > 0
        ok &= verdict
        print("  failed requests during the reloads: %d (requirement: 0) -> %s\n"
              % (r["failed"], "OK" if verdict else "FAIL"), flush=True)

        # 2. kill -9 of one worker
        gen = wait_generation(d, {}, len(proc_workers(d.pid)), timeout=10) or proc_workers(d.pid)
        slot = min(gen)
        print("kill -9 of worker %d halfway through one wrk run:" % slot)
        proc = start_wrk(wrk, url, a)
        time.sleep(a.duration / 2.0)
        conns = connections_of(meshsnap, d.state_dir, slot)
        victim = proc_workers(d.pid).get(slot)
        tk = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        new = None
        while time.monotonic() - tk < 10:
            new = proc_workers(d.pid).get(slot)
            if new is not None and new != victim:
                break
            time.sleep(0.002)
        took = (time.monotonic() - tk) * 1000
        r = finish_wrk(proc)
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
