#!/usr/bin/python3
"""throughput.py: meshsnapd's HTTP throughput against h2o serving the same bytes as
static files.

1. Builds (once; cached under the work dir) a synthetic CoreScope database, starts
   meshsnapd with W workers (default 2) and waits for a fresh generation.
2. Fetches the exact response bodies of each benchmarked URL (/api/stats,
   /api/packets?limit=50 and the large stored analytics document
   /api/analytics/topology, about 2 MB on the default database) and writes them into a
   docroot as static files. h2o cannot
   serve a file name containing '?', so a query becomes part of the name:
   /api/packets?limit=50 -> docroot/api/packets-limit-50.
3. Starts h2o 2.2.5 standalone (/usr/bin/h2o) with num-threads = W and the stripped
   configuration of c-server-notes §6.6 (no server name, no etag, no last-modified, no
   accept-ranges, default MIME application/json) plus the X-* and Cache-Control headers
   meshsnapd sent (their values frozen), so both answers have about the same size.
4. After a warm-up, runs `wrk -t2 -c64 -d10s --latency` against each server, interleaved
   (meshsnap, h2o, meshsnap, h2o, ...), RUNS times per URL, and prints req/s, MB/s
   (req/s times the answer's bytes), p50 and p99 of every run, the medians, and the
   ratio meshsnap/h2o of the median req/s (the same ratio as of MB/s when both answers
   have the same size; the MB/s ratio is printed too).
5. With --baseline BIN, a second meshsnapd (for example one built from an earlier
   commit) serves its own copy of the database with the same workers, and takes its
   turn in the same interleaving (meshsnap, baseline, h2o, ...): its ratio to h2o and
   the ratio meshsnap/baseline are printed too.
Both servers and wrk share the machine unpinned: these are whole-box figures; the load
average is printed at the start and the end.

Usage: throughput.py [--meshsnapd BIN] [--baseline BIN] [--workdir DIR] [--runs N] [--duration S]
                     [--connections C] [--threads T] [--workers W] [--url PATH ...] [--db PATH]
With --db, a copy of that database is served (e.g. the operator-scale one from
`meshsnap gen`); URLs still 503 while the master computes them are waited for.
"""

import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import msnlib  # noqa: E402

DEFAULT_URLS = ["/api/stats", "/api/packets?limit=50", "/api/analytics/topology"]
# headers h2o adds itself or that describe the body; everything else meshsnapd sends is
# copied into the h2o configuration
SKIP_HEADERS = {"date", "connection", "content-length", "content-type", "server", "transfer-encoding",
                "keep-alive"}


def static_name(url):
    """/api/packets?limit=50 -> /api/packets-limit-50 (h2o serves no '?' in file names)."""
    path, _, q = url.partition("?")
    if not q:
        return path
    return path + "-" + re.sub(r"[^A-Za-z0-9]+", "-", q).strip("-")


def run_wrk(wrk, url, a, duration=None):
    """(req/s, p50 ms, p99 ms, non-2xx count, socket error text) of one wrk --latency run."""
    r = msnlib.run_wrk(url, duration or a.duration, connections=a.connections, threads=a.threads, latency=True,
                       wrk=wrk)
    return r["rps"], r["latency_ms"].get("50"), r["latency_ms"].get("99"), r["non2xx"], r["socket_errors"]


def write_h2o_conf(path, port, docroot, threads, headers, log):
    lines = ["num-threads: %d" % threads,
             "send-server-name: OFF",
             'file.mime.setdefaulttype: "application/json"',
             "error-log: %s" % log,
             "listen: {host: 127.0.0.1, port: %d}" % port,
             "hosts:",
             "  default:",
             "    paths:",
             "      /:",
             "        file.dir: %s" % docroot,
             "        file.etag: OFF",
             '        header.unset: "last-modified"',
             '        header.unset: "accept-ranges"']
    for name, value in headers:
        lines.append('        header.set: "%s: %s"' % (name, value.replace('"', '\\"')))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def wait_port(port, proc, timeout=15):
    """Whether h2o (proc) answers on port within timeout seconds."""
    def answers():
        if proc.poll() is not None:
            return "exited"
        msnlib.http_get("127.0.0.1", port, "/", timeout=1)  # OSError until it listens
        return "up"
    return msnlib.poll_until(answers, timeout) == "up"


def response_bytes(r):
    """Bytes of an answer: status line, headers, blank line, body (approximate: the header
    lines are rebuilt from the parsed headers)."""
    head = "HTTP/1.1 %d X\r\n" % r.status + "".join("%s: %s\r\n" % kv for kv in r.headers.items()) + "\r\n"
    return len(head) + len(r.body)


def main():
    ap = msnlib.bench_parser(__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per server and URL (at least 3)")
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--workers", type=int, default=2, help="meshsnapd workers = h2o num-threads")
    ap.add_argument("--transmissions", type=int, default=20000)
    ap.add_argument("--obs-per-tx", type=float, default=10.0)
    ap.add_argument("--url", action="append", help="URL path to benchmark (repeatable)")
    ap.add_argument("--db", help="serve a copy of this database instead of a synthetic one")
    ap.add_argument("--baseline", help="another meshsnapd binary measured in the same interleaving")
    a = ap.parse_args()
    urls = a.url or DEFAULT_URLS
    wrk = msnlib.need_tool("/usr/bin/wrk", "wrk")
    h2o = msnlib.need_tool("/usr/bin/h2o", "h2o")
    binary = msnlib.need_binary("meshsnapd", a.meshsnapd)
    os.makedirs(a.workdir, exist_ok=True)

    src = a.db or os.path.join(a.workdir, "throughput-t%d-r%g.db" % (a.transmissions, a.obs_per_tx))
    msnlib.cached_db(src, nodes=2000, observers=40, transmissions=a.transmissions, obs_per_tx=a.obs_per_tx, days=7,
                     seed=2, meshsnapd=binary)
    run_dir, db = msnlib.bench_run_dir(a.workdir, "throughput-run", src)
    servers = ["meshsnap"] + (["baseline"] if a.baseline else []) + ["h2o"]
    print("load average at the start: %.2f %.2f %.2f" % os.getloadavg(), flush=True)

    d = msnlib.Daemon(db, run_dir, workers=a.workers, poll_interval_ms=1000, binary=binary, log_level="warn")
    base = None
    if a.baseline:
        base_dir, base_db = msnlib.bench_run_dir(a.workdir, "throughput-baseline", src)
        base = msnlib.Daemon(base_db, base_dir, workers=a.workers, poll_interval_ms=1000,
                             binary=os.path.abspath(a.baseline), log_level="warn")
    h2o_proc = None
    try:
        d.start()
        d.wait_fresh(timeout=600)
        if base is not None:
            base.start()
            base.wait_fresh(timeout=600)
        docroot = os.path.join(run_dir, "docroot")
        extra = {}
        sizes = {}
        base_sizes = {}

        def ready(srv, u):
            r = srv.get(u, timeout=120)
            deadline = time.time() + 900  # analytics are published after the first generation
            while r.status == 503 and time.time() < deadline:
                time.sleep(1)
                r = srv.get(u, timeout=120)
            if r.status != 200:
                sys.exit("throughput.py: %s answered %d" % (u, r.status))
            return r
        for u in urls:
            if base is not None:
                base_sizes[u] = response_bytes(ready(base, u))
            r = ready(d, u)
            f = os.path.join(docroot, static_name(u).lstrip("/"))
            os.makedirs(os.path.dirname(f), exist_ok=True)
            with open(f, "wb") as fh:
                fh.write(r.body)
            for k, v in r.headers.items():
                if k not in SKIP_HEADERS:
                    extra[k] = v
            sizes[u] = [response_bytes(r)]
        port = msnlib.free_port()
        conf = os.path.join(run_dir, "h2o.conf")
        write_h2o_conf(conf, port, docroot, a.workers, sorted(extra.items()), os.path.join(run_dir, "h2o-error.log"))
        h2o_log = open(os.path.join(run_dir, "h2o.out"), "wb")
        h2o_proc = subprocess.Popen([h2o, "-c", conf], stdout=h2o_log, stderr=h2o_log, stdin=subprocess.DEVNULL)
        if not wait_port(port, h2o_proc):
            h2o_log.close()
            with open(os.path.join(run_dir, "h2o.out"), "rb") as fh:
                sys.exit("throughput.py: h2o did not start:\n" + fh.read().decode("utf-8", "replace"))
        for u in urls:
            for _ in range(5):  # a document the master republished meanwhile is written again
                r = msnlib.http_get("127.0.0.1", port, static_name(u))
                want = d.get(u, timeout=120).body
                if r.status == 200 and r.body == want:
                    break
                with open(os.path.join(docroot, static_name(u).lstrip("/")), "wb") as fh:
                    fh.write(want)
                time.sleep(0.2)
            else:
                sys.exit("throughput.py: h2o serves different bytes for %s (status %d)" % (u, r.status))
            sizes[u].append(response_bytes(r))
            if base is not None:
                sizes[u].insert(1, base_sizes[u])

        print("meshsnapd %s, %d workers, http://127.0.0.1:%d" % (binary, a.workers, d.port))
        if base is not None:
            print("baseline  %s, %d workers, http://127.0.0.1:%d" % (os.path.abspath(a.baseline), a.workers, base.port))
        print("h2o       %s, num-threads %d, http://127.0.0.1:%d (static copies of the same bodies)" % (h2o, a.workers, port))
        print("wrk -t%d -c%d -d%ds --latency, %d interleaved runs per server and URL\n"
              % (a.threads, a.connections, a.duration, a.runs), flush=True)

        results = {}
        for u in urls:
            targets = [("meshsnap", "http://127.0.0.1:%d%s" % (d.port, u))]
            if base is not None:
                targets.append(("baseline", "http://127.0.0.1:%d%s" % (base.port, u)))
            targets.append(("h2o", "http://127.0.0.1:%d%s" % (port, static_name(u))))
            for _, url in targets:  # warm-up
                run_wrk(wrk, url, a, duration=2)
            for i in range(a.runs):
                for name, url in targets:
                    res = run_wrk(wrk, url, a)
                    results.setdefault((u, name), []).append(res)
                    rps, p50, p99, non2xx, sock = res
                    mbs = rps * sizes[u][servers.index(name)] / 1e6
                    print("%-24s %-8s run %d: %9.0f req/s %8.1f MB/s  p50 %7.3f ms  p99 %7.3f ms%s%s"
                          % (u, name, i + 1, rps, mbs, p50 or -1, p99 or -1,
                             "  NON-2xx: %d" % non2xx if non2xx else "", "  socket errors:" + sock if sock else ""),
                          flush=True)
            d.check_alive()
            if base is not None:
                base.check_alive()

        print("\n%-24s %-8s %10s %10s %10s %10s %10s %10s %9s"
              % ("url", "server", "req/s", "min", "max", "MB/s", "p50 ms", "p99 ms", "bytes"))
        for u in urls:
            med, mbs = {}, {}
            for j, name in enumerate(servers):
                rs = results[(u, name)]
                rps = [x[0] for x in rs]
                med[name] = statistics.median(rps)
                mbs[name] = med[name] * sizes[u][j] / 1e6
                print("%-24s %-8s %10.0f %10.0f %10.0f %10.1f %10.3f %10.3f %9d"
                      % (u, name, med[name], min(rps), max(rps), mbs[name], statistics.median([x[1] for x in rs]),
                         statistics.median([x[2] for x in rs]), sizes[u][j]))
            for name in servers[:-1]:
                print("%-24s ratio %s/h2o: req/s %.2f, MB/s %.2f"
                      % (u, name, msnlib.ratio(med[name], med["h2o"]), msnlib.ratio(mbs[name], mbs["h2o"])))
            if base is not None:
                print("%-24s ratio meshsnap/baseline: req/s %.2f, MB/s %.2f"
                      % (u, msnlib.ratio(med["meshsnap"], med["baseline"]),
                         msnlib.ratio(mbs["meshsnap"], mbs["baseline"])))
        print("\nload average at the end: %.2f %.2f %.2f" % os.getloadavg())
    finally:
        if h2o_proc is not None:
            msnlib.stop_process(h2o_proc, signal.SIGTERM)
        d.cleanup()
        if base is not None:
            base.cleanup()
    shutil.rmtree(run_dir, ignore_errors=True)
    if base is not None:
        shutil.rmtree(base_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
