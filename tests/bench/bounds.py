#!/usr/bin/python3
"""bounds.py: what misbehaving clients cost a worker, for meshsnapd and (optionally) a
baseline binary measured in the same run (for example one built before the bounds).

For each binary, with one worker on a cached ~12,000-transmission database:
 1. slow readers: --slow (300) HTTP/1.1 connections each ask for a --slow-path
    (/api/packets?limit=5000, about 4.5 MB) and never read. Printed: the worker's own
    resident memory (RssAnon; the LMDB map is page cache and not counted) before and after,
    and the bytes the worker reports holding (/api/perf "bounds", when it has them).
 2. stalled HTTP/2: 3 cleartext HTTP/2 connections open 100 streams each (analytics
    documents and lists) with a flow-control window of 0. Printed: the memory growth.
 3. the write timeout: how long until the server closed the stalled connections (at most
    --wait seconds; "never" when it did not).
 4. out of descriptors: a fresh daemon with RLIMIT_NOFILE 128 (and a long keep-alive
    timeout) takes up to --idle (200) keep-alive connections one after the other (until 3
    go unanswered), then 10 more clients send a request. Printed: the clients answered, and
    the worker's CPU use over the next 5 s (a worker that retries accept(2) at once on
    EMFILE spins on it while clients wait).
Then, when a baseline was given, the ratios meshsnapd/baseline of the memory growths.
Options the baseline does not know ([http] http2, admin_listen) are left out for it: its
libh2o takes h2c by default.

Usage: bounds.py [--meshsnapd BIN] [--baseline BIN] [--workdir DIR] [--slow N] [--idle N]
                 [--slow-path PATH] [--wait S]
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import hostile  # noqa: E402
import msnlib  # noqa: E402

H2_PATHS = ["/api/analytics/topology", "/api/analytics/channels", "/api/packets?limit=1000", "/api/nodes?limit=2000"]
MB = 1024.0 * 1024.0


def start(binary, db, tmp, new, **kw):
    """A daemon with one worker; the new binary gets HTTP/2 on and an admin listener."""
    sections = {"backfill": {"enabled": False}}
    if new:
        sections["http"] = {"http2": True}
    d = msnlib.Daemon(db, tmp, workers=1, binary=binary, admin=new, sections=sections, **kw).start()
    d.wait_fresh(timeout=300)
    d.wait_status("/api/analytics/topology", timeout=300, what="the analytics published")
    pid = d.wait_for(lambda: msnlib.worker_processes(d.pid).get(0), timeout=10, what="the worker")
    return d, pid


def held(d):
    if not d.admin_port:
        return None
    try:
        return d.admin_get("/api/perf").json().get("bounds")
    except (OSError, ValueError):
        return None


def settle(d, pid, seconds=3.0):
    """Waits until the worker's CPU use stops (it has taken every request)."""
    last = hostile.cpu_ticks(pid)
    while True:
        time.sleep(seconds)
        now = hostile.cpu_ticks(pid)
        if now - last < 5:
            return
        last = now


def measure(name, binary, db, tmp, args, new):
    out = {"name": name}
    print("== %s (%s)" % (name, binary), flush=True)
    d, pid = start(binary, db, tmp, new)
    try:
        size = len(d.get(args.slow_path, timeout=120).body)
        base = hostile.anon_kb(pid)
        print("  worker memory at rest: %.1f MB; %s is %.1f MB" % (base / 1024.0, args.slow_path, size / MB))
        slow = hostile.SlowReaders(d.host, d.port, [args.slow_path], args.slow)
        settle(d, pid)
        a1 = hostile.anon_kb(pid)
        out["slow"] = (a1 - base) / 1024.0
        b = held(d)
        print("  %d slow readers: worker memory +%.1f MB%s" % (
            args.slow, out["slow"], "; held %.1f MB (peak %.1f), %d refused busy"
            % (b["bufferedBytes"] / MB, b["bufferedPeakBytes"] / MB, b["busyRefusals"]) if b else ""), flush=True)
        h2 = [hostile.StalledH2(d.host, d.port, H2_PATHS, streams=100) for _ in range(3)]
        if any(c.refused for c in h2):
            print("  HTTP/2 refused")
        settle(d, pid)
        a2 = hostile.anon_kb(pid)
        out["h2"] = (a2 - a1) / 1024.0
        b = held(d)
        print("  + 3 stalled HTTP/2 x 100 streams: worker memory +%.1f MB%s" % (
            out["h2"], "; held %.1f MB" % (b["bufferedBytes"] / MB) if b else ""), flush=True)
        t0 = time.monotonic()
        closed = hostile.wait_for(lambda: all(c.socks and hostile.peer_closed(c.socks[0]) for c in h2),
                                  args.wait, interval=1.0)
        took = time.monotonic() - t0
        out["closed"] = took if closed else None
        print("  stalled HTTP/2 connections closed by the server: %s" % (
            "after %.0f s" % took if closed else "never (waited %d s)" % args.wait))
        for c in h2:
            c.close()
        slow.close()
        d.stop(timeout=30, expect_code=None)
    finally:
        d.cleanup()
    d, pid = msnlib.Daemon(db, tmp, workers=1, binary=binary, admin=new, rlimit_nofile=128,
                           sections={"backfill": {"enabled": False}, "http": {"req_timeout_ms": 300000}}).start(), None
    try:
        d.wait_fresh(timeout=300)
        pid = d.wait_for(lambda: msnlib.worker_processes(d.pid).get(0), timeout=10, what="the worker")
        idle = hostile.IdleConnections(d.host, d.port, args.idle, timeout=2.0, max_failures=3)
        # clients keep arriving while the descriptors are used up
        waiting = hostile.SlowReaders(d.host, d.port, ["/api/stats"], 10, rcvbuf=None)
        c0, t0 = hostile.cpu_ticks(pid), time.monotonic()
        time.sleep(5)
        cpu = hostile.cpu_seconds(hostile.cpu_ticks(pid) - c0) / (time.monotonic() - t0)
        answered = sum(1 for s in waiting.socks if hostile.answered(s))
        out["cpu"] = cpu
        print("  RLIMIT_NOFILE 128, keep-alive clients one after the other: %d answered before %d went unanswered; "
              "then 10 more clients: %d answered in 5 s, worker CPU %.0f%%"
              % (len(idle.socks), idle.failed, answered, cpu * 100), flush=True)
        waiting.close()
        idle.close()
        d.stop(timeout=30, expect_code=None)
    finally:
        d.cleanup()
    return out


def main():
    ap = msnlib.bench_parser(__doc__.split("\n")[0])
    ap.add_argument("--baseline")
    ap.add_argument("--slow", type=int, default=300)
    ap.add_argument("--idle", type=int, default=200)
    ap.add_argument("--slow-path", default="/api/packets?limit=5000")
    ap.add_argument("--wait", type=int, default=45)
    args = ap.parse_args()
    binary = msnlib.need_binary("meshsnapd", args.meshsnapd)
    os.makedirs(args.workdir, exist_ok=True)
    src = os.path.join(args.workdir, "bounds-12000.db")
    msnlib.cached_db(src, nodes=300, observers=20, transmissions=12000, obs_per_tx=4.0, days=7, seed=7,
                     meshsnapd=binary)
    results = msnlib.bench_against_baseline(args.workdir, "bounds", src, binary, args.baseline,
                                            lambda name, b, db, tmp, new: measure(name, b, db, tmp, args, new))
    if len(results) == 2:
        base, new = results
        print("== ratios meshsnapd/baseline")
        for k, what in (("slow", "memory growth, slow readers"), ("h2", "memory growth, stalled HTTP/2")):
            print("  %-32s %8.1f MB / %8.1f MB = %.3f" % (what, new[k], base[k], msnlib.ratio(new[k], base[k])))
        print("  %-32s %8.0f%%   / %8.0f%%" % ("worker CPU out of descriptors", new["cpu"] * 100, base["cpu"] * 100))


if __name__ == "__main__":
    main()
