#!/usr/bin/python3
"""ui.py: the weight and speed of the dashboard's first page (the overview), loaded cold
in Debian's chromium from a live meshsnapd, and the same for CoreScope's frontend served
by the same meshsnapd (web_root) on the same database when CORESCOPE_PUBLIC names its
public/ folder (skipped otherwise).

Figures per frontend (medians over --runs cold loads, cache disabled): bytes transferred
(headers and gzip bodies as on the wire), requests, first contentful paint, time until the
network is idle, and for meshsnap's overview the time until its totals show. Ratios are
meshsnap's figure over CoreScope's, measured in the same run. CoreScope's page asks for
files from a CDN (unpkg.com); those requests are blocked (nothing leaves the machine),
listed and not counted, so its true weight is higher than printed.

Usage: ui.py [--meshsnapd BIN] [--ui BUILD/ui] [--runs 5] [--workdir DIR]
Needs chromium (apt-get install chromium), node, and ui/node_modules (npm ci in ui/).
"""

import json
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import msnlib  # noqa: E402

GOAL = 150 * 1024  # the overview's budget, bytes transferred


def measure(node, nm, base, runs, selector=None):
    cmd = [node, os.path.join(HERE, "ui.mjs"), base + "/", str(runs), nm] + ([selector] if selector else [])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        sys.exit("ui.py: the browser run failed")
    return [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")]


def med(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def report(name, rows):
    fmt = lambda v, unit: "–" if v is None else ("%.0f %s" % (v, unit))  # noqa: E731
    print("%-10s %9s bytes (%.1f KB)  %3d requests  FCP %s  shown %s  idle %s" % (
        name, "{:,}".format(int(med(rows, "bytes"))), med(rows, "bytes") / 1024, med(rows, "requests"),
        fmt(med(rows, "fcpMs"), "ms"), fmt(med(rows, "shownMs"), "ms"), fmt(med(rows, "idleMs"), "ms")), flush=True)
    blocked = sorted({u for r in rows for u in r["blocked"]})
    if blocked:
        print("           blocked, not counted: %s" % ", ".join(blocked))


def main():
    ap = msnlib.bench_parser(__doc__.split("\n")[0])
    ap.add_argument("--ui", default=os.environ.get("MESHSNAP_UI_BUILD", os.path.join(SOURCE, "build", "ui")))
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    binary = msnlib.need_binary("meshsnapd", a.meshsnapd)
    os.environ["MESHSNAPD"] = binary
    if not os.access(os.environ.get("CHROMIUM", "/usr/bin/chromium"), os.X_OK):
        sys.exit("ui.py: chromium is required (apt-get install chromium)")
    node = msnlib.need_tool("node", "nodejs")
    nm = os.path.join(SOURCE, "ui", "node_modules")
    if not os.path.isfile(os.path.join(nm, "playwright-core", "package.json")):
        sys.exit("ui.py: playwright-core is missing (cd ui && npm ci)")
    if not os.path.isfile(os.path.join(a.ui, "index.html")):
        sys.exit("ui.py: no built dashboard at %s (cmake --build build, or pass --ui)" % a.ui)
    os.makedirs(a.workdir, exist_ok=True)
    src = os.path.join(a.workdir, "ui-bench.db")
    msnlib.cached_db(src, nodes=600, observers=60, transmissions=40000, obs_per_tx=8.0, days=7, seed=5)
    tmp = msnlib.make_tmpdir("msn-ui-bench-")
    db = os.path.join(tmp, "served.db")
    shutil.copyfile(src, db)
    state = os.path.join(tmp, "state")

    cs = os.environ.get("CORESCOPE_PUBLIC", "")
    print("cold loads of the first page, median of %d; database %s" % (a.runs, src))
    results = {}
    for name, http, selector in (("meshsnap", {"ui_root": a.ui}, "#totals .card"),
                                 ("CoreScope", {"web_root": cs}, None)):
        if name == "CoreScope" and not cs:
            print("CoreScope  skipped: set CORESCOPE_PUBLIC to CoreScope's public/ folder "
                  "(git -C CORESCOPE.git archive HEAD public | tar -x -C DIR)")
            continue
        d = msnlib.start_daemon(db, tmp, timeout=300, workers=2, state_dir=state, sections={"http": http})
        try:
            base = "http://%s:%d" % (d.host, d.port)
            measure(node, nm, base, 1, selector)  # let the analytics the page asks for be computed
            results[name] = measure(node, nm, base, a.runs, selector)
        finally:
            d.stop(timeout=60)
        report(name, results[name])
    ours = med(results["meshsnap"], "bytes")
    print("meshsnap's overview: %.1f KB transferred, %s the %d KB goal"
          % (ours / 1024, "within" if ours <= GOAL else "OVER", GOAL // 1024))
    if "CoreScope" in results:
        for key, label in (("bytes", "bytes"), ("requests", "requests"), ("fcpMs", "first paint"), ("idleMs", "network idle")):
            o, c = med(results["meshsnap"], key), med(results["CoreScope"], key)
            if o is not None and c:
                print("ratio meshsnap/CoreScope %-13s %.2f" % (label, o / c))


if __name__ == "__main__":
    main()
