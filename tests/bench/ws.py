#!/usr/bin/python3
"""ws.py: the live feed under 1,000 idle WebSocket clients: delivery lag and worker memory.

1. Builds (once; cached under the work dir) a synthetic CoreScope database, starts
   meshsnapd with --workers workers (default 2) and --poll-interval-ms (default 100), and
   waits for a fresh generation.
2. Memory without clients: Rss and Pss of each worker (/proc/PID/smaps_rollup).
3. Connects --clients (default 1000) WebSocket clients (tests/bench/wsbench.c, compiled
   here with cc -O2: one epoll process, so the clients do not compete with the server
   for more than one core), then measures worker memory again.
4. A writer process inserts --rate packets per second (default 100) for --seconds
   (default 30) into SQLite, one transmission and one observation per commit, as an
   ingestor would; each packet's hash is its insert time in microseconds, so every client
   computes the lag of every message it gets (insert -> receipt). Meanwhile a poller
   requests /api/packets?limit=500 every --poll-ms (default 1000) and notes when it first
   sees each packet: the baseline, the lag of the same packets for a client that polls.
5. Prints: messages delivered (expected clients x packets), per-client minimum, clients
   the server closed, WebSocket lag p50/p90/p99/max, polling lag p50/p90/p99, the ratio
   of the p99s, worker memory idle / with clients / after the traffic, and the /api/perf
   websocket figures, and the CPU each process used during the traffic.
6. --churn N (default 0): then N connect/disconnect cycles (4 threads, mixed ways of
   leaving) and worker memory before and after, with the clients counted at the end; the
   longer version of the integration test's 10,000 cycles.

Usage: ws.py [--meshsnapd BIN] [--workdir DIR] [--clients N] [--rate R] [--seconds S]
             [--workers W] [--poll-interval-ms MS] [--poll-ms MS] [--churn N]
"""

import os
import random
import resource
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import msnlib  # noqa: E402
import wsclient  # noqa: E402


def smaps(pid):
    """(Rss, Pss) in kB of a process."""
    rss = pss = 0
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def cpu_s(pid):
    """User + system CPU seconds a process has used."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_mem(d):
    return {slot: smaps(pid) for slot, pid in sorted(msnlib.worker_processes(d.pid).items())}


def fmt_mem(m):
    return ", ".join("worker %d Rss %.1f MB Pss %.1f MB" % (s, r / 1024, p / 1024) for s, (r, p) in m.items())


class Writer(threading.Thread):
    """Inserts `rate` packets a second (copies of existing rows with a fresh hash = insert
    time in microseconds), one commit each. .sent = [(hash, t_insert)]."""

    def __init__(self, db, rate, seconds):
        super().__init__(daemon=True)
        self.db, self.rate, self.seconds = db, rate, seconds
        self.sent = []

    def run(self):
        conn = sqlite3.connect(self.db, timeout=30, isolation_level=None)
        txc = [c for c in msnlib.table_columns(conn, "transmissions") if c not in ("id", "hash", "first_seen")]
        obc = [c for c in msnlib.table_columns(conn, "observations") if c not in ("id", "transmission_id", "timestamp")]
        templates = conn.execute("SELECT t.id, o.id FROM transmissions t JOIN observations o ON o.transmission_id = t.id"
                                 " ORDER BY t.id DESC LIMIT 500").fetchall()
        rng = random.Random(1)
        t0 = time.monotonic()
        n_total = int(self.rate * self.seconds)
        for i in range(n_total):
            due = t0 + i / self.rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            tid, oid = rng.choice(templates)
            now_us = time.time_ns() // 1000
            h = "%016x" % now_us
            conn.execute("BEGIN IMMEDIATE")
            cur = conn.execute("INSERT INTO transmissions (hash, first_seen, %s) SELECT ?, ?, %s FROM transmissions "
                               "WHERE id = ?" % (", ".join(txc), ", ".join(txc)),
                               (h, time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()), tid))
            new_id = cur.lastrowid
            conn.execute("INSERT INTO observations (transmission_id, timestamp, %s) SELECT ?, ?, %s FROM observations "
                         "WHERE id = ?" % (", ".join(obc), ", ".join(obc)), (new_id, int(time.time()), oid))
            conn.execute("COMMIT")
            self.sent.append((h, now_us))
        conn.close()


class Poller(threading.Thread):
    """Requests /api/packets?limit=50 every period_ms; .seen = {hash: first time seen (us)}."""

    def __init__(self, d, period_ms):
        super().__init__(daemon=True)
        self.d, self.period = d, period_ms / 1000.0
        self.seen = {}
        self.stop = False

    def run(self):
        client = msnlib.HttpClient(self.d.host, self.d.port)
        nxt = time.monotonic()
        while not self.stop:
            try:
                r = client.request("GET", "/api/packets?limit=500")
                t = time.time_ns() // 1000
                for p in r.json()["packets"]:
                    self.seen.setdefault(p["hash"], t)
            except (OSError, ValueError):
                pass
            nxt += self.period
            time.sleep(max(0.0, nxt - time.monotonic()))


def churn(d, cycles):
    errors = []

    def run(n, seed):
        for i in range(n):
            how = (i + seed) % 4
            try:
                if how == 3:
                    s = socket.create_connection((d.host, d.port), timeout=5)
                    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
                    s.close()
                    continue
                c = wsclient.WsClient(d.host, d.port, "/", timeout=10)
                if how == 0:
                    c.close()
                    c.recv(timeout=5)
                elif how == 1:
                    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.disconnect()
            except (OSError, EOFError) as e:
                errors.append(repr(e))

    threads = [threading.Thread(target=run, args=(cycles // 4, k)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def main():
    ap = msnlib.bench_parser(__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--poll-interval-ms", type=int, default=100, help="the master's poll_interval_ms")
    ap.add_argument("--poll-ms", type=int, default=1000, help="the baseline client's polling period")
    ap.add_argument("--transmissions", type=int, default=20000)
    ap.add_argument("--churn", type=int, default=0)
    a = ap.parse_args()
    os.environ["MESHSNAPD"] = msnlib.need_binary("meshsnapd", a.meshsnapd)
    os.makedirs(a.workdir, exist_ok=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.clients + 256
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            sys.exit("ws.py: %d clients need %d file descriptors; the hard limit is %d" % (a.clients, want, hard))
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    client_bin = msnlib.build_c_tool(os.path.join(HERE, "wsbench.c"), a.workdir)
    src = os.path.join(a.workdir, "ws-%d.db" % a.transmissions)
    msnlib.cached_db(src, nodes=600, observers=20, transmissions=a.transmissions, obs_per_tx=3.0, days=3, seed=42)
    run_dir, db = msnlib.bench_run_dir(a.workdir, "ws-run", src)
    d = msnlib.Daemon(db, run_dir, workers=a.workers, poll_interval_ms=a.poll_interval_ms,
                      sections={"backfill": {"enabled": False}}).start()
    try:
        d.wait_fresh(timeout=300)
        time.sleep(1.0)
        mem_idle = worker_mem(d)
        print("meshsnapd: %d workers, poll_interval_ms %d; %d idle clients; %.0f packets/s for %.0f s"
              % (a.workers, a.poll_interval_ms, a.clients, a.rate, a.seconds), flush=True)
        print("memory, no client:        %s" % fmt_mem(mem_idle), flush=True)
        t0 = time.monotonic()
        cl = subprocess.Popen([client_bin, d.host, str(d.port), str(a.clients)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
        line = cl.stdout.readline().strip()
        if not line.startswith("connected"):
            sys.exit("ws.py: the clients could not connect: %r" % line)
        print("%s clients in %.2f s" % (line.split()[1], time.monotonic() - t0), flush=True)
        time.sleep(2.0)
        mem_clients = worker_mem(d)
        print("memory, %d idle clients: %s" % (a.clients, fmt_mem(mem_clients)), flush=True)
        w = Writer(db, a.rate, a.seconds)
        p = Poller(d, a.poll_ms)
        pids = {"master": d.pid, "clients": cl.pid}
        pids.update({"worker %d" % s: pid for s, pid in msnlib.worker_processes(d.pid).items()})
        cpu0 = {k: cpu_s(v) for k, v in pids.items()}
        t_traffic = time.monotonic()
        p.start()
        w.start()
        w.join()
        cpu = {k: (cpu_s(v) - cpu0[k]) / (time.monotonic() - t_traffic) for k, v in pids.items()}
        time.sleep(max(2.0, 3 * a.poll_interval_ms / 1000.0 + 1.0, 2 * a.poll_ms / 1000.0))
        p.stop = True
        p.join()
        mem_after = worker_mem(d)
        perf = d.get_json("/api/perf")["websocket"]
        cl.stdin.close()
        out = cl.stdout.readline().strip()
        cl.wait(10)
        import json
        r = json.loads(out)
        n = len(w.sent)
        poll_lags = sorted((p.seen[h] - t) / 1000.0 for h, t in w.sent if h in p.seen)
        print()
        print("packets inserted: %d (%.1f/s); messages delivered: %d of %d expected (%d clients x %d); "
              "per client min %d; closed by the server: %d"
              % (n, n / a.seconds, r["messages"], a.clients * n, a.clients, n, r["per_conn_min"], r["closed"]))
        lg = r["lag_ms"]
        print("WebSocket lag (insert -> receipt, %d samples): p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms"
              % (r["lag_samples"], lg["p50"], lg["p90"], lg["p99"], lg["max"]))
        if poll_lags:
            pp99 = msnlib.percentile(poll_lags, 99)
            print("baseline, polling /api/packets every %d ms (%d of %d packets seen): p50 %.1f ms, p90 %.1f ms, "
                  "p99 %.1f ms" % (a.poll_ms, len(poll_lags), n, msnlib.percentile(poll_lags, 50),
                                   msnlib.percentile(poll_lags, 90), pp99))
            print("ratio WebSocket p99 / polling p99: %.2f" % (lg["p99"] / pp99 if pp99 else float("nan")))
        print("memory, no client:        %s" % fmt_mem(mem_idle))
        print("memory, %d idle clients: %s" % (a.clients, fmt_mem(mem_clients)))
        print("memory, after the traffic: %s" % fmt_mem(mem_after))
        drss = sum(mem_clients[s][0] - mem_idle[s][0] for s in mem_idle)
        dpss = sum(mem_clients[s][1] - mem_idle[s][1] for s in mem_idle)
        print("per client: Rss +%.1f kB, Pss +%.1f kB (all workers)" % (drss / a.clients, dpss / a.clients))
        print("CPU during the traffic (cores): %s; load average %.1f"
              % (", ".join("%s %.2f" % kv for kv in sorted(cpu.items())), os.getloadavg()[0]))
        print("/api/perf websocket: %s" % json.dumps(perf))
        if a.churn:
            before = worker_mem(d)
            t0 = time.monotonic()
            errors = churn(d, a.churn)
            took = time.monotonic() - t0
            time.sleep(1.0)
            after = worker_mem(d)
            perf = d.get_json("/api/perf")["websocket"]
            print()
            print("churn: %d connect/disconnect cycles in %.1f s (%.0f/s), %d client errors %s"
                  % (a.churn, took, a.churn / took, len(errors), errors[:3]))
            print("memory before: %s" % fmt_mem(before))
            print("memory after:  %s" % fmt_mem(after))
            print("clients counted at the end: %d; workers restarted: %s"
                  % (perf["clients"], d.get_json("/api/perf")["snapshot"]["workerRestarts"]))
    finally:
        d.stop(timeout=15)


if __name__ == "__main__":
    main()
