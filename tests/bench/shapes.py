#!/usr/bin/python3
"""shapes.py: what clients inventing analytics shapes cost the master, for meshsnapd and
(optionally) a baseline binary measured in the same run (for example one built before the
shapes were normalised and capped).

For each binary, with one worker on a cached ~3,000-transmission database: --requests
(15,000) requests for --path (/api/analytics/topology), each with a distinct `from=`
(--step seconds apart, default 300: every one in a recompute interval of its own, the
worst case for the normal form; --step 1 shows the rounding), on one keep-alive
connection. Then it waits until the master's memory and the state directory stop growing
for --quiet seconds (at most --wait). Printed: the master's resident memory (VmRSS, which
counts the snapshot pages it wrote, and RssAnon, its own) and the disk blocks of the state
directory before and after, the time taken, and for meshsnapd the shapes it keeps and
evicted (/api/perf "bounds" on its admin listener). Then, when a baseline was given, the
ratios meshsnapd/baseline of the growths.

Usage: shapes.py [--meshsnapd BIN] [--baseline BIN] [--workdir DIR] [--requests N]
                 [--step S] [--path PATH] [--wait S] [--quiet S]
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import hostile  # noqa: E402
import msnlib  # noqa: E402

MB = 1024.0 * 1024.0
INTERVAL_S = 300


def sample(d):
    return {"rss": hostile.rss_kb(d.pid) * 1024, "anon": hostile.anon_kb(d.pid) * 1024,
            "dir": msnlib.dir_bytes(d.state_dir)}


def perf_bounds(d):
    if not d.admin_port:
        return None
    try:
        return d.admin_get("/api/perf").json().get("bounds")
    except (OSError, ValueError):
        return None


def measure(name, binary, db, tmp, args, new):
    print("== %s (%s)" % (name, binary), flush=True)
    sections = {"backfill": {"enabled": False}, "analytics": {"default_interval_s": INTERVAL_S}}
    d = msnlib.Daemon(db, tmp, workers=1, binary=binary, admin=new, sections=sections).start()
    out = {"name": name}
    try:
        d.wait_fresh(timeout=300)
        d.wait_status("/api/analytics/topology", timeout=300, what="the default analytics published")
        time.sleep(2.0)
        before = sample(d)
        print("  before: master VmRSS %.1f MB, RssAnon %.1f MB; state directory %.1f MB"
              % (before["rss"] / MB, before["anon"] / MB, before["dir"] / MB), flush=True)
        t0 = (int(time.time()) // INTERVAL_S - 1) * INTERVAL_S
        c = msnlib.HttpClient(d.host, d.port, timeout=30.0)
        statuses = {}
        start = time.monotonic()
        for k in range(args.requests):
            try:
                st = c.get("%s?from=%s" % (args.path, msnlib.iso_utc(t0 - k * args.step))).status
            except OSError:
                st = "error"
            statuses[st] = statuses.get(st, 0) + 1
        c.close()
        sent = time.monotonic() - start
        print("  %d requests with distinct from= in %.1f s: %s" % (
            args.requests, sent, ", ".join("%s x%d" % (k, v) for k, v in sorted(statuses.items(), key=str))),
            flush=True)
        # until memory and the state directory stop growing
        last, still, waited = sample(d), 0.0, 0.0
        while waited < args.wait and still < args.quiet:
            time.sleep(2.0)
            waited += 2.0
            now = sample(d)
            grew = now["rss"] > last["rss"] + (1 << 20) or now["dir"] > last["dir"] + (1 << 20)
            still = 0.0 if grew else still + 2.0
            last = now
        after = last
        out.update(rss=(after["rss"] - before["rss"]) / MB, anon=(after["anon"] - before["anon"]) / MB,
                   dir=(after["dir"] - before["dir"]) / MB, after=after, waited=waited, settled=still >= args.quiet)
        b = perf_bounds(d)
        print("  after %.0f s more (%s): master VmRSS %.1f MB (%+.1f), RssAnon %.1f MB (%+.1f); "
              "state directory %.1f MB (%+.1f)%s" % (
                  waited, "settled" if out["settled"] else "still growing", after["rss"] / MB, out["rss"],
                  after["anon"] / MB, out["anon"], after["dir"] / MB, out["dir"],
                  "; shapes kept %d, evicted %d" % (b["analyticsShapes"], b["analyticsShapesEvicted"]) if b else ""),
              flush=True)
        d.stop(timeout=60, expect_code=None)
    finally:
        d.cleanup()
    return out


def main():
    ap = msnlib.bench_parser(__doc__.split("\n")[0])
    ap.add_argument("--baseline")
    ap.add_argument("--requests", type=int, default=15000)
    ap.add_argument("--step", type=int, default=INTERVAL_S)
    ap.add_argument("--path", default="/api/analytics/topology")
    ap.add_argument("--wait", type=int, default=300)
    ap.add_argument("--quiet", type=int, default=20)
    args = ap.parse_args()
    binary = msnlib.need_binary("meshsnapd", args.meshsnapd)
    os.makedirs(args.workdir, exist_ok=True)
    src = os.path.join(args.workdir, "shapes-3000.db")
    msnlib.cached_db(src, nodes=200, observers=10, transmissions=3000, obs_per_tx=3.0, days=2, seed=47,
                     meshsnapd=binary)
    results = msnlib.bench_against_baseline(args.workdir, "shapes", src, binary, args.baseline,
                                            lambda name, b, db, tmp, new: measure(name, b, db, tmp, args, new))
    if len(results) == 2:
        base, new = results
        print("== ratios meshsnapd/baseline (growth after %d distinct shapes)" % args.requests)
        for k, what in (("rss", "master VmRSS"), ("anon", "master RssAnon"), ("dir", "state directory")):
            print("  %-18s %8.1f MB / %8.1f MB = %.3f" % (what, new[k], base[k], msnlib.ratio(new[k], base[k])))


if __name__ == "__main__":
    main()
