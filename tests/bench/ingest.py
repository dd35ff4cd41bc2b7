#!/usr/bin/python3
"""ingest.py: how fast the ingestor writes while the API serves, against a real broker.

1. Builds (once per parameters, cached in the work dir) the messages of --observers
   simulated observers (default 20): --tx transmissions (TXT_MSG, GRP_TXT, ACK and RESPONSE
   frames with 0-3 hops), each heard by about 3 observers; one file of JSON payloads per observer.
2. Starts Debian's mosquitto on a free loopback port and meshsnapd (1 worker by default)
   on an empty database with [mqtt.bench] pointing at it.
3. Idle: the API's latency on /api/stats for --duration seconds (the ingestor connected,
   nothing published), measured at a fixed rate, --rate requests/s over --connections
   keep-alive connections (tests/bench/rateprobe.c, compiled here: open loop, each
   request's latency counted from when it was due, so a stall is charged to every
   request behind it): p50/p99/p99.9.
4. Load: one `mosquitto_pub -l -q 1` per observer publishes its file as fast as the
   broker takes it, while the same probe runs until the last message is committed; the
   ingestor's counters (status block, via /api/healthz) are sampled every 0.5 s. Printed:
   messages/s sustained (over the middle of the run, and over the whole run until the
   last message is committed), transaction hold time p50/p99 (BEGIN to COMMIT, from the
   status block), the /api/stats p99 and its ratio to idle.
   The publishers and the broker stand for the observers' radios and a broker elsewhere
   on the network: they run at nice --harness-nice (default 10), in one session whose
   scheduling group has the same nice where the kernel groups by session (autogroup), so
   that the figures are the server's, not the simulated network's; the server's processes
   keep their own priorities and groups.
5. The same with the per-row variant (the writer's knob [mqtt] batch_size = 1: one
   transaction per message, as CoreScope's ingestor commits every statement) on
   --per-row-share of the messages, same run: the baseline. The summary gives the
   batched writer's figures as ratios to it (and the p99 as a ratio to idle).

With --static-baseline, h2o 2.2.5 (as many threads as workers) serves the bytes of
/api/stats from a file, and a second probe at the same rate measures it in the same idle
and load phases of the batched run: the p99 a static file server gets on this machine
under the same load, the floor for the API's (the two probes then share the cores too).

With --closed-loop, `wrk -t1 --latency` with --connections replaces the fixed-rate
probe (as many requests as the server answers: the p99 then measures how the CPU is
shared, since wrk takes every cycle the ingest leaves).

It also prints the CPU seconds each process spent per 10,000 messages (ingestor,
master, broker, workers, and the publishers with the probe) and the ingestor's ceiling (messages per second of its own CPU):
figures that hold on a busy machine, where wall-clock rates depend on what else runs.

Goal (on the 2-core development machine): >= 20,000 messages/s while serving, /api/stats
p99 during ingest <= 1.5 x idle. It prints figures and asserts nothing.

Usage: ingest.py [--meshsnapd BIN] [--workdir DIR] [--observers 20] [--tx 60000]
                 [--duration 5] [--workers 1] [--batch-size 2000] [--batch-ms 50]
                 [--rate 2000] [--connections 16] [--harness-nice 10] [--closed-loop]
                 [--per-row-share 0.02]
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import msnlib  # noqa: E402
import mqttlib  # noqa: E402
import throughput  # noqa: E402  (the h2o configuration of the static baseline)


def build_messages(path_dir, n_obs, n_tx, seed=3):
    """One file per observer: (topic, lines). Cached."""
    os.makedirs(path_dir, exist_ok=True)
    done = os.path.join(path_dir, "done")
    obs = ["%064X" % random.Random(seed * 1000 + i).getrandbits(256) for i in range(n_obs)]
    if not os.path.exists(done):
        rng = random.Random(seed)
        nodes = [rng.randbytes(32) for _ in range(300)]
        per = {o: [] for o in obs}
        t = 1780000000
        for _ in range(n_tx):
            t += rng.randint(0, 1)
            pt = rng.choice([2, 5, 5, 3, 1])
            payload = rng.randbytes(4) if pt == 3 else bytes([rng.randrange(256)]) + rng.randbytes(rng.randint(20, 80))
            for o in rng.sample(obs, rng.randint(1, 5)):
                hops = rng.sample(nodes, rng.randint(0, 3))
                raw = bytes([(pt << 2) | 1, len(hops)]) + b"".join(h[:1] for h in hops) + payload
                per[o].append(json.dumps({"raw": raw.hex().upper(), "SNR": round(rng.uniform(-12, 10), 1),
                                          "RSSI": rng.randint(-120, -50), "origin": "bench %s" % o[:6],
                                          "timestamp": t}))
        for i, o in enumerate(obs):
            with open(os.path.join(path_dir, "obs-%02d.jsonl" % i), "w") as f:
                f.write("\n".join(per[o]) + "\n")
        open(done, "w").close()
    out = []
    for i, o in enumerate(obs):
        p = os.path.join(path_dir, "obs-%02d.jsonl" % i)
        with open(p) as f:
            n = sum(1 for _ in f)
        out.append(("meshcore/BEN/%s/packets" % o, p, n))
    return out


def cpu_s(pid):
    """User + system CPU seconds of a process (0 when gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def role_pids(d, broker):
    h = d.health()
    pids = {"ingestor": h["ingestor"]["pid"], "master": h["masterPid"], "broker": broker.proc.pid}
    for w in h.get("workers") or []:
        pids["worker %d" % w["slot"]] = w["pid"]
    return pids


def ingest_counts(d):
    """(messages received, messages received and not committed yet) of the ingestor."""
    i = d.health()["ingestor"]
    return i["received"], i["pending"]


def children_cpu_s():
    """CPU seconds of this script's waited-for children (mosquitto_pub, the probe)."""
    t = os.times()
    return t.children_user + t.children_system


class Latency:
    """The API's latency on one URL for a phase: rateprobe at a fixed rate until stop()
    (or --duration when run()), or wrk (closed loop) for --duration."""

    def __init__(self, args, probe, wrk, port, path):
        self.args, self.probe, self.wrk, self.port, self.path = args, probe, wrk, port, path
        self.proc = self.w = None

    def start(self, seconds=3600):
        a = self.args
        if a.closed_loop:
            self.w = msnlib.Wrk("http://127.0.0.1:%d%s" % (self.port, self.path), a.duration,
                                connections=a.connections, threads=1, latency=True, wrk=self.wrk).start()
        else:
            # a session of its own: where the kernel schedules by session (autogroup), the
            # probe must not share a group with the publishers it stands apart from
            self.proc = subprocess.Popen([self.probe, "127.0.0.1", str(self.port), self.path, str(a.rate),
                                          str(a.connections), str(seconds)], stdout=subprocess.PIPE,
                                         start_new_session=True)
        return self

    def stop(self):
        """{"rps", "latency_ms": {"50", "99", ...}, "failed"}."""
        if self.w is not None:
            r = self.w.result()
            return {"rps": r["rps"], "latency_ms": r["latency_ms"], "failed": 0}
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=60)
        r = json.loads(out.decode())
        return {"rps": r["rate"], "latency_ms": r["latency_ms"], "failed": r["failed"]}

    def wait(self):
        """The figures of a probe started with start(--duration), once it has ended."""
        out, _ = self.proc.communicate(timeout=self.args.duration + 60)
        r = json.loads(out.decode())
        return {"rps": r["rate"], "latency_ms": r["latency_ms"], "failed": r["failed"]}

    def run(self):
        if self.w is None and self.args.closed_loop:
            self.start()
            return self.stop()
        self.start(self.args.duration)
        out, _ = self.proc.communicate(timeout=self.args.duration + 60)
        r = json.loads(out.decode())
        return {"rps": r["rate"], "latency_ms": r["latency_ms"], "failed": r["failed"]}


def lowered(n):
    """A preexec_fn: the child runs at nice n."""
    return lambda: os.nice(n)


def run_phase(a, d, broker, files, lat, label, others=()):
    """Publishes every file (one mosquitto_pub per observer) while lat measures the API
    (and each of `others` its server); returns the figures (those of `others` as
    "others", in their order)."""
    total = sum(n for _, _, n in files)
    base, _ = ingest_counts(d)
    pids = role_pids(d, broker)
    cpu0 = {k: cpu_s(p) for k, p in pids.items()}
    kids0 = children_cpu_s()
    samples = []
    lat.start()
    for o in others:
        o.start()
    t0 = time.monotonic()
    pubs = []
    for topic, path, _n in files:
        f = open(path, "rb")
        pubs.append((subprocess.Popen(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1",
                                       "-M", "1000", "-l", "-t", topic], stdin=f, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, preexec_fn=lowered(a.harness_nice)), f))
    deadline = t0 + 600
    while time.monotonic() < deadline:
        rec, pending = ingest_counts(d)
        samples.append((time.monotonic() - t0, rec - pending - base))  # committed
        if rec - base >= total and pending == 0:
            break
        time.sleep(0.5)
    t_end = time.monotonic() - t0
    for p, f in pubs:
        p.wait(60)
        f.close()
    r = lat.stop()
    rest = [o.stop() for o in others]
    cpu = {k: cpu_s(p) - cpu0[k] for k, p in pids.items()}
    cpu["publishers+probe"] = children_cpu_s() - kids0
    # sustained: the middle half of the samples
    mid = [s for s in samples if samples[-1][1] * 0.25 <= s[1] <= samples[-1][1] * 0.75]
    sustained = (mid[-1][1] - mid[0][1]) / (mid[-1][0] - mid[0][0]) if len(mid) >= 2 and mid[-1][0] > mid[0][0] \
        else float("nan")
    h = d.health()["ingestor"]
    return {"label": label, "messages": total, "seconds": t_end, "overall": total / t_end if t_end else 0,
            "sustained": sustained, "api": r, "others": rest, "batches": h["batches"], "cpu": cpu,
            "wrk_outlived": a.closed_loop and t_end < a.duration}


def harness_group(nice):
    """Runs the rest of this script in a session of its own (this script, the broker and the
    publishers: the simulated network) and gives that session's scheduling group the nice
    value `nice`, where the kernel groups processes by session (autogroup). The daemon and
    the probe have sessions of their own. Returns how the harness is grouped, for the
    header."""
    if os.getsid(0) != os.getpid():
        child = subprocess.Popen([sys.executable] + sys.argv, start_new_session=True)
        try:
            sys.exit(child.wait())
        except KeyboardInterrupt:
            child.send_signal(signal.SIGINT)
            sys.exit(child.wait())
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write("%d" % nice)
        return "one session, its scheduling group at nice %d" % nice
    except OSError as e:
        return "one session (its group keeps its nice: %s)" % e.strerror


def start_static(a, tmp, d):
    """h2o (as many threads as workers, a session of its own as the daemon has) serving
    /api/stats's current bytes as /stats.json from --workdir; its configuration and logs in
    tmp. Returns (process, port)."""
    h2o = msnlib.need_tool("/usr/bin/h2o", "h2o")
    # in the work dir: h2o started as root serves as nobody, who cannot enter a private tmp dir
    root = os.path.join(a.workdir, "static-baseline")
    os.makedirs(root, mode=0o755, exist_ok=True)
    with open(os.path.join(root, "stats.json"), "wb") as f:
        f.write(d.get("/api/stats").body)
    port = msnlib.free_port()
    conf = os.path.join(tmp, "h2o.conf")
    throughput.write_h2o_conf(conf, port, root, a.workers, [], os.path.join(tmp, "h2o.err"))
    log = open(os.path.join(tmp, "h2o.out"), "wb")
    proc = subprocess.Popen([h2o, "-c", conf], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    if not throughput.wait_port(port, proc):
        proc.kill()
        sys.exit("ingest.py: h2o did not start (%s)" % os.path.join(tmp, "h2o.out"))
    r = msnlib.http_get("127.0.0.1", port, "/stats.json", timeout=5)
    if r.status != 200:
        proc.kill()
        sys.exit("ingest.py: h2o answers %d for the static file (%s)" % (r.status, root))
    return proc, port


def main():
    ap = msnlib.bench_parser(__doc__.splitlines()[0])
    ap.add_argument("--observers", type=int, default=20)
    ap.add_argument("--tx", type=int, default=60000)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=2000)
    ap.add_argument("--batch-ms", type=int, default=50)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--rate", type=int, default=2000, help="requests/s of the fixed-rate probe")
    ap.add_argument("--harness-nice", type=int, default=10, help="nice of the broker and the publishers")
    ap.add_argument("--closed-loop", action="store_true", help="wrk instead of the fixed-rate probe")
    ap.add_argument("--per-row-share", type=float, default=0.02)
    ap.add_argument("--static-baseline", action="store_true",
                    help="also probe h2o serving /api/stats's bytes from a file, in the batched run")
    args = ap.parse_args()
    if args.static_baseline and args.closed_loop:
        ap.error("--static-baseline needs the fixed-rate probe (not --closed-loop)")
    grouped = harness_group(args.harness_nice)
    exe = msnlib.need_binary("meshsnapd", args.meshsnapd)
    os.environ["MESHSNAPD"] = exe
    meshsnap = os.path.join(os.path.dirname(exe), "meshsnap")
    wrk = msnlib.need_tool("wrk", "wrk") if args.closed_loop else None
    for tool, pkg in (("mosquitto_pub", "mosquitto-clients"),):
        msnlib.need_tool(tool, pkg)
    mqttlib.need_broker()
    work = os.path.join(args.workdir, "ingest-%d-%d" % (args.observers, args.tx))
    files = build_messages(work, args.observers, args.tx)
    probe = None if args.closed_loop else msnlib.build_c_tool(os.path.join(HERE, "rateprobe.c"), args.workdir)
    total = sum(n for _, _, n in files)
    print("messages: %d from %d observers (%d transmissions), cached in %s" % (total, args.observers, args.tx, work))
    print("machine: %d CPUs, load average %.1f %.1f %.1f at start (wall-clock rates fall with load; the CPU"
          " figures hold)" % ((os.cpu_count() or 0,) + os.getloadavg()))

    how = ("wrk -t1 -c%d, closed loop" % args.connections if args.closed_loop else
           "%d requests/s over %d connections, open loop" % (args.rate, args.connections))
    print("harness: broker and publishers at nice %d, in %s" % (args.harness_nice, grouped))
    results = []
    for variant in ("batched", "per-row"):
        tmp = msnlib.make_tmpdir("msn-bench-ingest-")
        broker = mqttlib.Broker(tmp).start()
        os.setpriority(os.PRIO_PROCESS, broker.proc.pid, args.harness_nice)
        db = os.path.join(tmp, "bench.db")
        subprocess.run([meshsnap, "init-db", db], check=True)
        mq = {"batch_size": 1 if variant == "per-row" else args.batch_size, "batch_ms": args.batch_ms}
        d = msnlib.start_daemon(db, tmp, workers=args.workers, poll_interval_ms=1000,
                                sections={"mqtt": mq, "mqtt.bench": {"url": broker.url}})
        try:
            msnlib.wait_until(lambda: d.get_json("/api/mqtt/status")["sources"][0]["connected"], 30,
                              what="the ingestor connected")
            d.wait_status("/api/stats", 200, timeout=60)
            lat = Latency(args, probe, wrk, d.port, "/api/stats")
            others = []
            if variant == "batched":
                if args.static_baseline:
                    h2o_proc, h2o_port = start_static(args, tmp, d)
                    others = [Latency(args, probe, wrk, h2o_port, "/stats.json")]
                if others:  # the two probes side by side
                    lat.start(args.duration)
                    for o in others:
                        o.start(args.duration)
                    idle = lat.wait()
                else:
                    idle = lat.run()
                static_idle = [o.wait() for o in others]
                print("idle: /api/stats %s: %.0f req/s, p50 %s ms, p99 %s ms, p99.9 %s ms"
                      % (how, idle["rps"], idle["latency_ms"].get("50"), idle["latency_ms"].get("99"),
                         idle["latency_ms"].get("99.9", "-")))
                for si in static_idle:
                    print("idle: the same bytes from h2o, same probe: p50 %s ms, p99 %s ms, p99.9 %s ms"
                          % (si["latency_ms"].get("50"), si["latency_ms"].get("99"), si["latency_ms"].get("99.9", "-")))
                use = files
            else:
                # the same observers, a share of each file
                use = []
                for topic, path, n in files:
                    k = max(1, int(n * args.per_row_share))
                    sub = path + ".head%d" % k
                    if not os.path.exists(sub):
                        with open(path) as f, open(sub, "w") as g:
                            for i, line in enumerate(f):
                                if i >= k:
                                    break
                                g.write(line)
                    use.append((topic, sub, k))
            r = run_phase(args, d, broker, use, lat, variant, others)
            h = d.get("/metrics").body.decode()
            q = {}
            for line in h.splitlines():
                if line.startswith("meshsnap_ingest_commit_seconds{quantile="):
                    q[line.split('"')[1]] = float(line.split()[-1]) * 1000
            r["p50_ms"], r["p99_ms"] = q.get("0.5"), q.get("0.99")
            results.append(r)
            print("%s: %d messages in %.1f s: %.0f msg/s overall, %.0f msg/s sustained; %d transactions,"
                  " hold p50 %.2f ms, p99 %.2f ms; /api/stats during: %.0f req/s, p99 %s ms"
                  % (variant, r["messages"], r["seconds"], r["overall"], r["sustained"], r["batches"],
                     r["p50_ms"] or 0, r["p99_ms"] or 0, r["api"]["rps"], r["api"]["latency_ms"].get("99")))
            if r["api"]["failed"]:
                print("  %d requests failed during the ingest" % r["api"]["failed"])
            print("  CPU seconds per 10,000 messages: " + ", ".join(
                "%s %.2f" % (k, v * 10000.0 / r["messages"]) for k, v in sorted(r["cpu"].items())))
            ing_cpu = r["cpu"].get("ingestor", 0)
            if ing_cpu > 0:
                print("  the ingestor's own ceiling: %.0f msg/s per core of CPU" % (r["messages"] / ing_cpu))
            i99, b99 = idle["latency_ms"].get("99"), r["api"]["latency_ms"].get("99")
            r["p99_ratio"] = b99 / i99 if i99 and b99 else None
            if r["p99_ratio"] is not None:
                print("  /api/stats p99 during ingest / idle: %.2f" % r["p99_ratio"])
            for si, sb in zip(static_idle if variant == "batched" else [], r["others"]):
                s99, t99 = si["latency_ms"].get("99"), sb["latency_ms"].get("99")
                if s99 and t99:
                    print("  baseline, h2o serving the same bytes from a file: p99 idle %s ms, during ingest %s ms:"
                          " %.2f x" % (s99, t99, t99 / s99))
            if r["wrk_outlived"]:
                print("  note: the ingest ended before the %d s wrk run: its p99 covers idle time too"
                      " (use more --tx)" % args.duration)
        finally:
            if others:
                h2o_proc.terminate()
                h2o_proc.wait(10)
            d.cleanup()
            broker.stop()
    if len(results) == 2 and results[1]["overall"]:
        b, p = results
        print("summary, against the per-row writer (CoreScope's commit per message) in this run:")
        print("  ingest rate batched / per-row: %.1f x (overall), %.1f x (sustained)"
              % (b["overall"] / p["overall"], b["sustained"] / p["sustained"] if p["sustained"] else float("nan")))
        bi, pi = b["cpu"].get("ingestor", 0), p["cpu"].get("ingestor", 0)
        if bi > 0 and pi > 0:
            print("  ingestor CPU per message per-row / batched: %.1f x"
                  % ((pi / p["messages"]) / (bi / b["messages"])))
        print("  goal >= 20,000 msg/s while serving: %.0f msg/s sustained (%.2f of the goal); ingestor ceiling"
              " %.0f msg/s per core" % (b["sustained"], b["sustained"] / 20000.0,
                                        b["messages"] / bi if bi > 0 else float("nan")))
        if b.get("p99_ratio") is not None:
            print("  goal /api/stats p99 during / idle <= 1.5: %.2f" % b["p99_ratio"])


if __name__ == "__main__":
    main()
