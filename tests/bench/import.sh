#!/bin/sh
# import.sh: lines per second of `meshsnap import`, into a fresh database and again over
# the same input (the re-run after a crash, where every line is already there).
#
#   MESHSNAP=build/meshsnap tests/bench/import.sh [--tx 100000] [--obs-per-tx 4] [--runs 3]
#                                                 [--batch 5000] [--workdir DIR]
#
# The input is the synthetic corpus of tests/integration/test_import.py (signed adverts,
# channel and direct messages, traces, several observers per packet over different paths,
# a timestamp per line): --tx transmissions heard about --obs-per-tx times each, built once
# and cached in the work directory (--workdir, default $MESHSNAP_BENCH_DIR or
# /tmp/meshsnap-bench) keyed by its parameters. Each run imports it into a new database;
# the wall time covers the whole command (first pass, decode, writes, commits). Build a
# release binary first: a Debug or sanitizer build measures the instrumentation.
# The target is at least 50,000 lines/s.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3 || true)
if [ -z "$py" ]; then
    echo "import.sh: python3 is required (apt-get install python3)" >&2
    exit 1
fi
exec "$py" - "$here" "$@" <<'PYEOF'
import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

here = sys.argv[1]
sys.path.insert(0, os.path.join(here, "..", "integration"))
sys.path.insert(0, os.path.join(here, "..", "tools"))
import msnlib  # noqa: E402
import test_import  # noqa: E402

ap = argparse.ArgumentParser(prog="import.sh")
ap.add_argument("--tx", type=int, default=100000, help="transmissions in the corpus (default 100000)")
ap.add_argument("--obs-per-tx", type=float, default=4.0, help="mean receptions per transmission (default 4)")
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--batch", type=int, default=5000)
ap.add_argument("--workdir", default=os.environ.get("MESHSNAP_BENCH_DIR", "/tmp/meshsnap-bench"))
ap.add_argument("--meshsnap", help="the meshsnap binary (default: $MESHSNAP, else build/meshsnap)")
args = ap.parse_args(sys.argv[2:])

sys.argv[0] = "import.sh"  # names the script in msnlib's messages
exe = msnlib.need_binary("meshsnap", args.meshsnap or None)

os.makedirs(args.workdir, exist_ok=True)
corpus = os.path.join(args.workdir, "import-%d-%g.jsonl" % (args.tx, args.obs_per_tx))
if not os.path.exists(corpus):
    t0 = time.monotonic()
    print("building the input (%d transmissions; once, cached in %s) ..." % (args.tx, args.workdir), flush=True)
    c = test_import.generate(args.tx, seed=1, n_nodes=max(100, args.tx // 100), n_observers=40,
                             obs_per_tx=args.obs_per_tx)
    c.write(corpus + ".tmp")
    os.rename(corpus + ".tmp", corpus)
    print("  done in %.0f s" % (time.monotonic() - t0))
with open(corpus, "rb") as f:
    n_lines = sum(1 for _ in f)
size_mb = os.path.getsize(corpus) / 1e6
print("input: %s, %d lines, %.0f MB" % (corpus, n_lines, size_mb))
print("meshsnap: %s, --batch %d" % (exe, args.batch))


def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(db):
    """Wall time and CPU time (both threads, user + system) of one import."""
    t0, c0 = time.monotonic(), cpu_children()
    p = subprocess.run([exe, "import", "--db", db, "--batch", str(args.batch), corpus], capture_output=True,
                       text=True)
    dt, cpu = time.monotonic() - t0, cpu_children() - c0
    if p.returncode != 0:
        sys.exit("import failed (status %d):\n%s" % (p.returncode, p.stderr))
    return dt, cpu


try:
    load = os.getloadavg()[0]
    print("load average %.2f on %d CPUs (other work on the machine lowers the figures)" % (load, os.cpu_count()))
except OSError:
    pass
fresh, again = [], []
for i in range(args.runs):
    db = os.path.join(args.workdir, "import-bench.db")
    for ext in ("", "-wal", "-shm"):
        if os.path.exists(db + ext):
            os.unlink(db + ext)
    dt, cpu = run(db)
    fresh.append(n_lines / dt)
    dt2, cpu2 = run(db)
    again.append(n_lines / dt2)
    print("run %d: fresh database %.2f s (%.0f lines/s, CPU %.2f s); the same input again %.2f s (%.0f lines/s,"
          " CPU %.2f s)" % (i + 1, dt, n_lines / dt, cpu, dt2, n_lines / dt2, cpu2), flush=True)
    if i == args.runs - 1:
        print("database: %.0f MB" % (os.path.getsize(db) / 1e6))

med = statistics.median(fresh)
print("median: %.0f lines/s into a fresh database, %.0f lines/s over an imported one" % (med, statistics.median(again)))
print("target 50000 lines/s: %s" % ("met" if med >= 50000 else "NOT met"))
PYEOF
