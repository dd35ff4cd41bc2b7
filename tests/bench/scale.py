#!/usr/bin/python3
"""scale.py: meshsnapd at operator scale, every figure beside a baseline from the same run.

Serves a copy of --db (for example the 7.2M-observation database `meshsnap gen` makes; see
README.md) and measures, in order (--only picks some of them):

  a  cold start (empty state_dir) to the first 200 and to the first fresh generation;
     baseline: one plain SELECT scan, in C inside SQLite, reading every column the master
     loads from transmissions and observations (and nodes, observers) of the same file
  b  memory: the master's peak RSS during that cold load (VmHWM), then RSS, PSS and
     private bytes of every process (/proc/PID/smaps_rollup) once every analytic is
     published; baseline: the database file's size and the bytes per observation
  c  restart on the unchanged database (the snapshot of (a) present) to the first 200 and
     to the first fresh generation of the new run; baseline: the SELECT scan of (a) and the
     cold start of (a)
  d  throughput, wrk -t1 -c64 per URL, against h2o 2.2.5 serving the same bytes from files
     (throughput.py's configuration), interleaved runs, ratio of the median req/s
  f  reload: the database file is replaced by a copy of itself (a new file at the path, as
     an operator restoring a backup would), which makes the master load and publish it in
     full again while it serves; the master's peak RSS during that reload (VmHWM, reset
     first) against its RSS just before (the loaded store: a master that held the old
     store and the new one at once would peak near twice that)
  e  p99 of /api/stats while the backfiller migrates and backfills the copy and the master
     republishes, against the same server idle just before (the copy is migrated by this
     step, so it comes last)

The backfiller is disabled for a-d, so the copy keeps its schema. Figures, not a test:
nothing is asserted. Every process shares the machine's cores with wrk and the servers.

Usage: scale.py --db PATH [--meshsnapd BIN] [--workdir DIR] [--only abcdef] [--workers W]
                [--duration S] [--runs N] [--restarts N]
"""

import http.client
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
sys.path.insert(0, HERE)
import msnlib  # noqa: E402
import throughput  # noqa: E402  (its h2o configuration and static file names)

URLS = ["/api/stats", "/api/packets?limit=50", "/api/packets?limit=50&type=4", "/api/nodes?limit=50",
        "/api/observers"]
# per-request fields a worker writes into a body (compared without them)
VOLATILE = re.compile(rb'"server_time":"[^"]*"|"serverTime":"[^"]*"')
MB = 1024.0 * 1024.0


# -- baseline: one SELECT scan -------------------------------------------------------------

def scan_tables(db):
    """Seconds of one read of every row and loaded column of the four tables, each summed
    inside SQLite (length() makes SQLite decode every value), and the row counts."""
    conn = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    counts = {}
    c0 = time.process_time()
    t0 = time.monotonic()
    for table in ("transmissions", "observations", "nodes", "observers"):
        cols = [r[1] for r in conn.execute("PRAGMA table_info(%s)" % table)]
        if not cols:
            continue
        expr = " + ".join("coalesce(length(%s), 0)" % c for c in cols)
        n, _ = conn.execute("SELECT count(*), sum(%s) FROM %s" % (expr, table)).fetchone()
        counts[table] = n
    dt = time.monotonic() - t0
    cpu = time.process_time() - c0
    conn.close()
    return dt, cpu, counts


def cpu_s(pid):
    """CPU seconds (user + system, with reaped children) of pid so far."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return 0.0
    fields = st[st.rfind(")") + 2:].split()
    return sum(int(x) for x in fields[11:15]) / float(os.sysconf("SC_CLK_TCK"))


# -- memory ---------------------------------------------------------------------------------

def rollup(pid):
    """{Rss, Pss, Private, Anonymous, ...} in kB from /proc/PID/smaps_rollup ({} when gone)."""
    out = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for ln in f:
                m = re.match(r"(\w+):\s+(\d+) kB", ln)
                if m:
                    out[m.group(1)] = int(m.group(2))
    except OSError:
        return {}
    out["Private"] = out.get("Private_Clean", 0) + out.get("Private_Dirty", 0)
    return out


def status_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                if ln.startswith(field + ":"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return 0


def process_table(master):
    """[(pid, title, rollup)] of the master and every descendant."""
    rows = [(master, msnlib.pid_cmdline(master), rollup(master))]
    unvisited = [master]
    while unvisited:
        p = unvisited.pop()
        for c in msnlib.live_pids(parent=p):
            rows.append((c, msnlib.pid_cmdline(c), rollup(c)))
            unvisited.append(c)
    return rows


class RssSampler(threading.Thread):
    """Samples the master's RSS every 50 ms (its peak is VmHWM; this also gives the time)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.at, self.stop_flag, self.t0 = pid, 0, 0.0, False, time.monotonic()

    def run(self):
        while not self.stop_flag:
            kb = status_kb(self.pid, "VmRSS")
            if kb > self.peak:
                self.peak, self.at = kb, time.monotonic() - self.t0
            time.sleep(0.05)


# -- the daemon -----------------------------------------------------------------------------

def daemon(a, binary, db, run_dir, state, backfill=False, interval=None):
    sections = {"backfill": {"enabled": backfill}}
    if interval:
        sections["analytics"] = {"default_interval_s": interval}
    return msnlib.Daemon(db, run_dir, workers=a.workers, poll_interval_ms=1000, binary=binary, log_level="info",
                         state_dir=state, sections=sections)


def publish_lines(d):
    return [re.sub(r"^\S+\s+\S+\s+", "", ln) for ln in d.log_text().splitlines() if "published generation" in ln]


def first_200(d, t0, timeout=1800):
    """Seconds from t0 until /api/stats answers 200. Polled every 2 ms during the first
    second (a restart answers within it), then every 20 ms: polling at 2 ms through a cold
    start would take a share of the two cores the master loads on."""
    while True:
        try:
            if d.get("/api/stats", timeout=5).status == 200:
                return time.monotonic() - t0
        except (OSError, http.client.HTTPException):
            pass
        d.check_alive()
        elapsed = time.monotonic() - t0
        if elapsed > timeout:
            raise SystemExit("no 200 from /api/stats after %.0f s" % elapsed)
        time.sleep(0.002 if elapsed < 1.0 else 0.02)


def timed_start(d, prev_gen=None):
    """Starts d; returns (first 200 s, first fresh generation s, healthz, sampler)."""
    t0 = time.monotonic()
    d.start()
    s = RssSampler(d.pid)
    s.t0 = t0
    s.start()
    f200 = first_200(d, t0)
    h = d.wait_fresh(timeout=1800, min_generation=None if prev_gen is None else prev_gen + 1, interval=0.01)
    fresh = time.monotonic() - t0
    s.cpu = cpu_s(d.pid)
    return f200, fresh, h, s


def wait_analytics(d):
    from analytics import ANALYTICS  # noqa: E402
    d.wait_status(["/api/analytics/" + x for x in ANALYTICS], 200, timeout=1800, interval=1, request_timeout=120)


def print_memory(d, obs, dbsize):
    rows = process_table(d.pid)
    print("\n(b) memory at steady state (every analytic published), /proc/PID/smaps_rollup:")
    # priv counts the snapshot file's pages only this process has read (clean, reclaimable)
    # as well as its own memory; anon is the process's own memory alone
    print("    %-8s %-34s %9s %9s %9s %9s" % ("pid", "process", "RSS MB", "PSS MB", "priv MB", "anon MB"))
    tot = 0
    for pid, title, r in rows:
        if not r:
            continue
        tot += r.get("Pss", 0)
        print("    %-8d %-34s %9.1f %9.1f %9.1f %9.1f" % (pid, title[:34], r.get("Rss", 0) / 1024.0,
                                                       r.get("Pss", 0) / 1024.0, r["Private"] / 1024.0,
                                                       r.get("Anonymous", 0) / 1024.0))
    m = rows[0][2]
    print("    total PSS %.1f MB; master RSS %.1f MB = %.0f B per observation; baseline: database file %.1f MB"
          % (tot / 1024.0, m.get("Rss", 0) / 1024.0, m.get("Rss", 0) * 1024.0 / max(obs, 1), dbsize / MB))
    return m.get("Rss", 0)


def reload_memory(d, db):
    """(f): replaces the database file by a copy of itself and waits for the full
    publication that follows; prints the master's peak RSS during it against its RSS before."""
    # the line of the publication before (the cold load's is logged just after it is served)
    msnlib.wait_until(lambda: publish_lines(d), 60, interval=0.1, what="the cold load's publication line")
    before = len(publish_lines(d))
    tmp = db + ".reload"
    shutil.copyfile(db, tmp)
    rss0 = status_kb(d.pid, "VmRSS")
    try:
        with open("/proc/%d/clear_refs" % d.pid, "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
    except OSError as e:
        print("\n(f) reload: cannot reset the master's peak RSS (%s): skipped" % e)
        os.unlink(tmp)
        return
    anon0 = status_kb(d.pid, "RssAnon")
    peak_anon = [anon0]
    t0 = time.monotonic()
    os.replace(tmp, db)

    def published():
        peak_anon[0] = max(peak_anon[0], status_kb(d.pid, "RssAnon"))
        return len(publish_lines(d)) > before
    msnlib.wait_until(published, 1800, interval=0.05, what="the full publication of the replaced database")
    took = time.monotonic() - t0
    peak = status_kb(d.pid, "VmHWM")
    print("\n(f) reload of the replaced database file: published %.1f s after the replacement" % took)
    for ln in publish_lines(d)[before:][-1:]:
        print("    %s" % ln)
    print("    master peak RSS during the reload %.1f MB = %.2f x its RSS before (%.1f MB, the loaded store)"
          % (peak / 1024.0, peak / max(rss0, 1), rss0 / 1024.0))
    # RSS counts the snapshot file's pages the publication wrote (page cache, given back
    # after it) as well as the process's own memory
    print("    of which its own memory (RssAnon, sampled every 50 ms): peak %.1f MB = %.2f x before (%.1f MB)"
          % (peak_anon[0] / 1024.0, peak_anon[0] / max(anon0, 1), anon0 / 1024.0), flush=True)


# -- throughput -----------------------------------------------------------------------------

def throughput_runs(a, d, run_dir, wrk, h2o):
    docroot = os.path.join(run_dir, "docroot")
    extra, sizes = {}, {}
    for u in URLS:
        r = d.get(u, timeout=120)
        if r.status != 200:
            print("    %s answered %d: left out" % (u, r.status))
            continue
        f = os.path.join(docroot, throughput.static_name(u).lstrip("/"))
        os.makedirs(os.path.dirname(f), exist_ok=True)
        with open(f, "wb") as fh:
            fh.write(r.body)
        for k, v in r.headers.items():
            if k not in throughput.SKIP_HEADERS:
                extra[k] = v
        sizes[u] = len(r.body)
    port = msnlib.free_port()
    conf = os.path.join(run_dir, "h2o.conf")
    throughput.write_h2o_conf(conf, port, docroot, a.workers, sorted(extra.items()), os.path.join(run_dir, "h2o.err"))
    logf = open(os.path.join(run_dir, "h2o.out"), "wb")
    proc = subprocess.Popen([h2o, "-c", conf], stdout=logf, stderr=logf, stdin=subprocess.DEVNULL)
    out = {}
    try:
        if not throughput.wait_port(port, proc):
            sys.exit("scale.py: h2o did not start (%s)" % os.path.join(run_dir, "h2o.out"))
        for u in list(sizes):
            r = msnlib.http_get("127.0.0.1", port, throughput.static_name(u))
            mine = d.get(u, timeout=120).body
            if r.status != 200:
                print("    h2o answers %d for %s: left out" % (r.status, u))
                del sizes[u]
            elif VOLATILE.sub(b"", r.body) != VOLATILE.sub(b"", mine):
                # a document the master republished between the two reads (stats counts
                # move with the clock): compared by shape and size instead
                same = abs(len(r.body) - len(mine)) <= max(64, len(mine) // 50)
                try:
                    same = same and sorted(json.loads(r.body)) == sorted(json.loads(mine))
                except ValueError:
                    same = False
                if not same:
                    print("    h2o serves other bytes than meshsnapd for %s: left out" % u)
                    del sizes[u]
        print("\n(d) throughput: wrk -t1 -c%d -d%ds, %d workers = h2o num-threads, %d interleaved runs"
              % (a.connections, a.duration, a.workers, a.runs), flush=True)
        for u in sizes:
            targets = [("meshsnap", "http://127.0.0.1:%d%s" % (d.port, u)),
                       ("h2o", "http://127.0.0.1:%d%s" % (port, throughput.static_name(u)))]
            for _, url in targets:
                msnlib.run_wrk(url, 2, connections=a.connections, threads=1, wrk=wrk)
            res = {"meshsnap": [], "h2o": []}
            for _ in range(a.runs):
                for name, url in targets:
                    r = msnlib.run_wrk(url, a.duration, check=False, connections=a.connections, threads=1,
                                       latency=True, wrk=wrk)
                    res[name].append((r["rps"], r["latency_ms"].get("99") or 0.0, r["failed"]))
            m = {k: statistics.median(x[0] for x in v) for k, v in res.items()}
            p99 = {k: statistics.median(x[1] for x in v) for k, v in res.items()}
            failed = sum(x[2] for x in res["meshsnap"])
            out[u] = m["meshsnap"] / m["h2o"] if m["h2o"] else 0.0
            print("    %-30s %8d B  meshsnap %8.0f req/s (p99 %6.2f ms)  h2o %8.0f req/s (p99 %6.2f ms)  "
                  "ratio %.2f%s" % (u, sizes[u], m["meshsnap"], p99["meshsnap"], m["h2o"], p99["h2o"], out[u],
                                    "  FAILED %d" % failed if failed else ""), flush=True)
            d.check_alive()
    finally:
        msnlib.stop_process(proc, signal.SIGTERM)
        logf.close()
    return out


def p99_stats(a, d, wrk, label):
    r = msnlib.run_wrk("http://127.0.0.1:%d/api/stats" % d.port, a.duration, check=False,
                       connections=a.connections, threads=1, latency=True, wrk=wrk)
    p50, p99 = r["latency_ms"].get("50") or 0.0, r["latency_ms"].get("99") or 0.0
    print("    %-34s %8.0f req/s  p50 %7.3f ms  p99 %7.3f ms%s" % (label, r["rps"], p50, p99,
                                                                  "  FAILED %d" % r["failed"] if r["failed"] else ""),
          flush=True)
    return p99


# -- main -----------------------------------------------------------------------------------

def main():
    ap = msnlib.bench_parser(__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True, help="database to serve a copy of (never written)")
    ap.add_argument("--only", default="abcdfe", help="which measurements (letters a-f)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--runs", type=int, default=3, help="interleaved wrk runs per server and URL")
    ap.add_argument("--restarts", type=int, default=2, help="restarts measured in (c)")
    a = ap.parse_args()
    only = set(a.only)
    binary = msnlib.need_binary("meshsnapd", a.meshsnapd)
    wrk = msnlib.need_tool("/usr/bin/wrk", "wrk") if only & set("de") else None
    h2o = msnlib.need_tool("/usr/bin/h2o", "h2o") if "d" in only else None
    os.makedirs(a.workdir, exist_ok=True)
    run_dir, db = msnlib.bench_run_dir(a.workdir, "scale-run", a.db)
    state = os.path.join(run_dir, "state")
    dbsize = os.path.getsize(db)

    scan, scan_cpu, counts = scan_tables(db)
    obs = counts.get("observations", 0)
    print("meshsnapd %s, %d workers\ndatabase  %s (copy of %s, %.0f MB): %s"
          % (binary, a.workers, db, a.db, dbsize / MB, ", ".join("%d %s" % (v, k) for k, v in counts.items())))
    print("baseline: one SELECT scan of every loaded column of those tables: %.2f s (%.2f s CPU)"
          % (scan, scan_cpu))
    print("load average at start: %s\n" % " ".join(open("/proc/loadavg").read().split()[:3]), flush=True)

    d = daemon(a, binary, db, run_dir, state)
    try:
        f200, fresh, h, s = timed_start(d)
        gen = int(h["generation"])
        print("(a) cold start: first 200 %.3f s, first fresh generation %.2f s = %.1f x the SELECT scan (%.2f s);"
              % (f200, fresh, fresh / scan, scan))
        print("    master CPU to it %.2f s = %.1f x the scan's CPU (%.2f s)" % (s.cpu, s.cpu / scan_cpu, scan_cpu))
        for ln in publish_lines(d)[-1:]:
            print("    %s" % ln)
        if "b" in only or "d" in only:
            t0 = time.monotonic()
            wait_analytics(d)
            print("    every analytic published %.1f s after the first fresh generation" % (time.monotonic() - t0))
        s.stop_flag = True
        if "b" in only:
            print("    peak master RSS during the cold load: %.1f MB (VmHWM %.1f MB), sampled at %.1f s"
                  % (s.peak / 1024.0, status_kb(d.pid, "VmHWM") / 1024.0, s.at))
            print_memory(d, obs, dbsize)
        if "f" in only:
            reload_memory(d, db)
        if "d" in only:
            throughput_runs(a, d, run_dir, wrk, h2o)
        d.stop(timeout=60)
    finally:
        d.cleanup()

    if "c" in only:
        print("\n(c) restart of the unchanged database (snapshot present):")
        r200, rfresh = [], []
        for i in range(a.restarts):
            d = daemon(a, binary, db, run_dir, state)
            try:
                f200r, freshr, h, s = timed_start(d, prev_gen=gen)
                s.stop_flag = True
                gen = int(h["generation"])
                r200.append(f200r)
                rfresh.append(freshr)
                print("    restart %d: first 200 %.3f s, first fresh generation %.3f s (generation %d, master CPU %.2f s)"
                      % (i + 1, f200r, freshr, gen, s.cpu))
                for ln in publish_lines(d)[-1:]:
                    print("      %s" % ln)
                d.stop(timeout=60)
            finally:
                d.cleanup()
        print("    median: first 200 %.3f s; first fresh generation %.3f s = %.2f x the SELECT scan (%.2f s), "
              "%.2f x the cold start (%.2f s)" % (statistics.median(r200), statistics.median(rfresh),
                                                 statistics.median(rfresh) / scan, scan,
                                                 statistics.median(rfresh) / fresh, fresh), flush=True)

    if "e" in only:
        print("\n(e) /api/stats, wrk -t1 -c%d -d%ds --latency:" % (a.connections, a.duration))
        d = daemon(a, binary, db, run_dir, state)
        try:
            d.start()
            d.wait_fresh(timeout=1800)
            wait_analytics(d)  # idle: not while the first analytics run computes
            idle = p99_stats(a, d, wrk, "idle")
            d.stop(timeout=60)
        finally:
            d.cleanup()
        d = daemon(a, binary, db, run_dir, state, backfill=True, interval=5)
        try:
            d.start()
            d.wait_status("/api/stats", 200, timeout=600, interval=0.01)
            busy = []
            for i in range(3):
                h = d.health() or {}
                busy.append(p99_stats(a, d, wrk, "busy %d (generation %s)" % (i + 1, h.get("generation"))))
            migs = d.migrations()
            print("    migrations: %s" % ", ".join("%s %s" % (k, v.get("status", v.get("state", "?")))
                                                 for k, v in sorted(migs.items())))
            print("    p99 busy (median of %d) %.3f ms = %.2f x idle (%.3f ms)"
                  % (len(busy), statistics.median(busy), statistics.median(busy) / idle if idle else 0, idle))
            d.stop(timeout=120)
        finally:
            d.cleanup()
    shutil.rmtree(run_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
