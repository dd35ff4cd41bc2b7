#!/usr/bin/python3
"""test_browser: CoreScope's own frontend, unmodified, served by meshsnapd and driven in a
real browser (Debian's Chromium through playwright-core; browse.mjs beside this file).

For a generated database whose packets are recent, and again for the reference e2e
database when it is present, the daemon serves the frontend from [http] web_root and every
page of its router is opened in a fresh tab: home, packets, packet detail, nodes, node
detail, node analytics, node reach, map, live, channels, one channel, observers, observer
detail, compare, every analytics tab, perf, tools, trace, path inspector, audio lab,
coverage (MSN_COMPAT_ONLY=name,name... visits only those; MSN_COMPAT_VERBOSE=1 logs each API call's time). Each page must show no console error, no uncaught error and no failed request
(HTTP >= 400 on the daemon's origin, or a network failure). Then the live page stays open
while transmissions are inserted into the database with sqlite3: every one of them must
reach each of its WebSockets and its packet counter. A screenshot of each page goes to MSN_COMPAT_OUT.

Skipped (exit 77, with the reason) without CORESCOPE_PUBLIC (a CoreScope checkout's public/
folder: its files are GPL and never part of this tree), without /usr/bin/chromium (or
CHROMIUM), without node, or without tests/compat/node_modules (`npm ci` there; `make test`
runs it).
"""

import json
import os
import shutil
import subprocess
import sys
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import mkdb  # noqa: E402
import msnlib  # noqa: E402

ANALYTICS_TABS = ["overview", "rf", "topology", "channels", "hashsizes", "collisions", "subpaths", "nodes",
                  "my-repeaters", "distance", "neighbor-graph", "rf-health", "clock-health", "roles", "scopes",
                  "prefix-tool"]


def requirements():
    """(public folder, chromium, node) or raise SkipTest naming what is missing."""
    public = os.environ.get("CORESCOPE_PUBLIC", "")
    if not public:
        raise unittest.SkipTest("CORESCOPE_PUBLIC is unset (give a CoreScope checkout's public/ folder)")
    if not os.path.isfile(os.path.join(public, "index.html")):
        raise unittest.SkipTest("CORESCOPE_PUBLIC=%s has no index.html" % public)
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not os.access(chromium, os.X_OK):
        raise unittest.SkipTest("%s not found (Debian package chromium)" % chromium)
    node = shutil.which("node")
    if not node:
        raise unittest.SkipTest("node not found (Debian package nodejs)")
    if not os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")):
        raise unittest.SkipTest("tests/compat/node_modules is missing (run `npm ci` in tests/compat)")
    return public, chromium, node


def page_list(d):
    """[(name, hash route)] of every page, with ids taken from the daemon's own answers."""
    nodes = d.get_json("/api/nodes?limit=200")["nodes"]
    placed = [n for n in nodes if n.get("lat") and n.get("lon")] or nodes
    relays = [n for n in placed if n.get("role") == "repeater"] or placed
    pk = relays[0]["public_key"]
    observers = d.get_json("/api/observers")["observers"]
    obs_a = observers[0]["id"]
    obs_b = observers[1]["id"] if len(observers) > 1 else obs_a
    # The published analytics and the node's documents first: their 503 warm-up answers
    # (which the frontend retries) would count as failed requests.
    d.wait_status(["/api/analytics/rf", "/api/analytics/topology", "/api/observers/clock-skew",
                   "/api/nodes/%s/health" % pk, "/api/nodes/%s/analytics?days=7" % pk], timeout=240, interval=0.5)
    pkt = d.get_json("/api/packets?limit=1")["packets"][0]["hash"]
    channels = d.get_json("/api/channels")["channels"]
    q = urllib.parse.quote
    pages = [("home", "#/home"), ("packets", "#/packets"), ("packet-detail", "#/packet/" + pkt),
             ("nodes", "#/nodes"), ("node-detail", "#/nodes/" + pk),
             ("node-analytics", "#/nodes/%s/analytics" % pk), ("node-reach", "#/nodes/%s/reach" % pk),
             ("map", "#/map"), ("live", "#/live"), ("channels", "#/channels")]
    if channels:
        pages.append(("channel", "#/channels/" + q(channels[0]["hash"], safe="")))
    pages += [("observers", "#/observers"), ("observer-detail", "#/observers/" + q(obs_a, safe="")),
              ("compare", "#/compare?a=%s&b=%s" % (q(obs_a, safe=""), q(obs_b, safe="")))]
    pages += [("analytics-" + t, "#/analytics?tab=" + t) for t in ANALYTICS_TABS]
    pages += [("perf", "#/perf"), ("tools", "#/tools"), ("trace", "#/tools/trace/" + pkt),
              ("path-inspector", "#/tools/path-inspector?prefixes=" + ",".join(h[:2] for h in (pk, pkt))),
              ("audio-lab", "#/audio-lab"), ("rx-coverage", "#/rx-coverage")]
    only = os.environ.get("MSN_COMPAT_ONLY")
    if only:
        pages = [p for p in pages if p[0] in only.split(",")]
    return pages


class BrowserRun:
    """One daemon on one database, the pages visited by browse.mjs; the reports kept."""

    def __init__(self, test, db, tmp, label, live):
        public, chromium, node = requirements()
        self.test, self.db, self.label, self.live = test, db, label, live
        self.d = msnlib.Daemon(db, tmp, workers=2, poll_interval_ms=200,
                               sections={"http": {"web_root": public}})
        self.d.start()
        self.d.wait_fresh(timeout=120)
        out = os.path.join(os.environ.get("MSN_COMPAT_OUT") or os.path.join(tmp, "screens"), label)
        env = dict(os.environ, MSN_BASE="http://127.0.0.1:%d" % self.d.port, CHROMIUM=chromium, MSN_OUT=out,
                   MSN_PAGES=json.dumps(page_list(self.d)), MSN_LIVE_ROUTE="#/live" if live else "")
        self.reports, self.inserted = [], []
        msnlib.log("%s: browsing, screenshots in %s" % (label, out))
        proc = subprocess.Popen([node, os.path.join(HERE, "browse.mjs")], cwd=HERE, env=env, text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            for line in proc.stdout:
                try:
                    ev = json.loads(line)
                except ValueError:
                    sys.stderr.write(line)
                    continue
                if ev.get("event") == "live-ready":
                    self.insert_while_live(proc)
                elif ev.get("event") == "page":
                    self.reports.append(ev)
                    msnlib.log("%s %-24s %5d ms %3d api calls %8d bytes  errors %d/%d/%d" % (
                        label, ev["name"], ev.get("ms", 0), ev.get("apiCalls", 0), ev.get("apiBytes", 0),
                        len(ev["consoleErrors"]), len(ev["pageErrors"]), len(ev["failedRequests"])))
                    if os.environ.get("MSN_COMPAT_VERBOSE"):
                        for u, status, ms, at in ev.get("api", []):
                            msnlib.log("    api %3d %5d ms (at +%d ms) %s" % (status, ms, at, u))
                    for kind in ("tolerated", "consoleErrors", "pageErrors", "failedRequests"):
                        for x in ev.get(kind, []):
                            msnlib.log("    %s: %s" % (kind, x[:600]))
                elif ev.get("event") in ("fatal", "done", "live"):
                    msnlib.log("%s %s" % (label, line.strip()))
                    if ev["event"] == "fatal":
                        self.reports.append({"name": "fatal", "pageErrors": [ev["error"]], "consoleErrors": [],
                                             "failedRequests": []})
            self.rc = proc.wait(timeout=60)
        finally:
            msnlib.stop_process(proc)
        self.d.stop()

    def insert_while_live(self, proc):
        """Inserts transmissions in a few transactions, as an ingestor would, then tells
        the browser which hashes to expect."""
        for i in range(5):
            for row in mkdb.append_transmissions(self.db, count=3, obs_per_tx=2, seed=1000 + i):
                self.inserted.append(row["hash"])
            time.sleep(0.3)
        proc.stdin.write(json.dumps({"hashes": self.inserted}) + "\n")
        proc.stdin.flush()

    def check(self):
        t = self.test
        problems = []
        for r in self.reports:
            for kind in ("consoleErrors", "pageErrors", "failedRequests"):
                problems += ["%s %s: %s" % (r["name"], kind, x) for x in r[kind]]
            if r.get("unsettled"):
                msnlib.log("%s %s: still loading after the settle limit: %s" % (self.label, r["name"], r["unsettled"]))
        t.assertEqual(problems, [], "%s: %d problems:\n  %s" % (self.label, len(problems), "\n  ".join(problems)))
        if self.live:
            live = [r for r in self.reports if r["name"] == "live-feed"]
            t.assertTrue(live and live[0].get("live"), "%s: the live page never got ready" % self.label)
            figures = live[0]["live"]
            t.assertEqual(figures["inserted"], len(self.inserted))
            t.assertEqual(figures["received"], figures["inserted"],
                          "%s: of %d inserted transmissions, the live page's sockets received %s" % (
                              self.label, figures["inserted"], figures["receivedPerSocket"]))
            t.assertGreaterEqual(figures["pageCountAfter"] - figures["pageCountBefore"], figures["inserted"],
                                 "%s: the live page's packet counter did not count them: %s" % (self.label, figures))
        t.assertEqual(self.rc, 0, "%s: browse.mjs exited %d" % (self.label, self.rc))


class GeneratedDbTest(unittest.TestCase):
    def test_every_page(self):
        requirements()
        tmp = msnlib.make_tmpdir("msn-compat-")
        db = os.path.join(tmp, "mesh.db")
        mkdb.build(db, nodes=200, observers=10, transmissions=3000, obs_per_tx=2.5, days=2, seed=11)
        BrowserRun(self, db, tmp, "generated", live=True).check()


class FixtureDbTest(unittest.TestCase):
    def test_every_page(self):
        requirements()
        tmp = msnlib.make_tmpdir("msn-compat-e2e-")
        db = msnlib.copy_fixture_db(tmp, "e2e.db")
        BrowserRun(self, db, tmp, "e2e", live=True).check()


if __name__ == "__main__":
    msnlib.main(GeneratedDbTest, FixtureDbTest)
