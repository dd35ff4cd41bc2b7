#!/usr/bin/python3
"""test_web: what a web page needs from the real daemon.

- [http] web_root: files with their content types, the index page with every __BUST__
  replaced by one value all workers share, the SPA fallback, refusals (traversal, dotfiles,
  a symbolic link leading outside), ETag/Last-Modified and 304, HEAD, gzip (a precompressed
  sibling, or compressed by the worker) with Vary; /api/ and /metrics are unaffected.
- the dashboard: [http] ui_root served without a web root, `ui = off` and a missing
  directory leave the plain-text page.
- /api/config/{cache,client,theme,regions,map,areas,areas/polygons,geo-filter}: CoreScope's
  shapes (compared with the reference fixtures when they exist), the [frontend] values, and
  what the master derives from the data (regions = configured names and every observer IATA
  code; the map centre = the centroid of the node positions).
- /api/health (CoreScope's golden shape), /api/perf/{io,sqlite,write-sources},
  /api/iata-coords (every code of the reference fixture, at the same place), the write
  endpoints (403), and /api/packets?hash=<not hex> (200, nothing).
- a web_root that is missing or has no index.html is refused by --check-config (FILE:LINE:
  reason) and at start.
"""

import gzip
import json
import math
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import mkdb  # noqa: E402
import msnlib  # noqa: E402
from test_core_api import load_golden, shape_errors  # noqa: E402

INDEX = ('<!DOCTYPE html><html><head><script src="app.js?v=__BUST__"></script>'
         '<link rel="stylesheet" href="style.css?v=__BUST__"></head><body>__BUST__</body></html>\n')
APP_JS = "".join("function f%d(a) { return a + %d; }\n" % (i, i) for i in range(200))


def fixture_json(name):
    """A reference fixture of CoreScope's API, or None without the reference material."""
    d = msnlib.shared_dir()
    p = os.path.join(d, "fixtures", "corescope-api", name) if d else None
    if not p or not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def make_site(tmp):
    """A web root: index.html with __BUST__, assets, a subdirectory, a dotfile, a
    precompressed sibling and links inside and outside."""
    root = os.path.join(tmp, "site")
    outside = os.path.join(tmp, "outside")
    for d in (root, outside, os.path.join(root, "img"), os.path.join(root, "fonts")):
        os.makedirs(d, exist_ok=True)
    files = {
        "index.html": INDEX,
        "app.js": APP_JS,
        "app.0a1b2c3d4e.js": "console.log('fingerprinted');\n",
        "style.css": "body { color: #111; }\n" * 40,
        "data.json": json.dumps({"k": list(range(300))}),
        "img/logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'></svg>\n",
        "fonts/a.woff2": "wOF2" + "\0" * 60,
        "favicon.ico": "\0\0\1\0" + "x" * 60,
        "app.webmanifest": '{"name":"t"}',
        ".env": "SECRET=1\n",
        "vendor.js": "var vendor = 1;\n" * 50,
    }
    for rel, body in files.items():
        with open(os.path.join(root, rel), "w") as f:
            f.write(body)
    with open(os.path.join(root, "vendor.js.gz"), "wb") as f:
        f.write(gzip.compress(b"precompressed vendor\n"))
    with open(os.path.join(outside, "secret.txt"), "w") as f:
        f.write("outside secret\n")
    os.symlink(os.path.join(root, "app.js"), os.path.join(root, "alias.js"))
    os.symlink(os.path.join(outside, "secret.txt"), os.path.join(root, "leak.txt"))
    os.symlink(outside, os.path.join(root, "leakdir"))
    return root


class WebRootTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        msnlib.meshsnapd_path()
        cls.tmp = msnlib.make_tmpdir("msn-web-")
        cls.db = os.path.join(cls.tmp, "web.db")
        mkdb.build(cls.db, nodes=150, observers=8, transmissions=800, obs_per_tx=2.0, days=2, seed=7)
        cls.root = make_site(cls.tmp)
        cls.d = msnlib.Daemon(cls.db, cls.tmp, workers=2, sections={
            "http": {"web_root": cls.root},
            "frontend": {"site_name": "Test Mesh", "tagline": "heard here", "hero_title": "Hello",
                         "region": "SJC San Jose, US", "theme_accent_hover": "#123456",
                         "theme_dark_nav_bg": "#000000", "node_color_repeater": "#dc2626",
                         "type_color_req": "#aa00aa", "map_zoom": 11, "live_map_max_nodes": 500,
                         "timestamp_timezone": "utc", "tiles_dark_url": "http://tiles.local/{z}/{x}/{y}.png"},
            "analytics": {"rf": 120}})
        cls.d.start()
        cls.d.wait_fresh(timeout=120)
        conn = msnlib.sql_connect(cls.db)
        cls.iatas = sorted({r[0] for r in conn.execute("SELECT iata FROM observers")
                            if r[0] and re.fullmatch(r"[A-Za-z0-9_-]+", r[0])})
        pos = [(r[0], r[1]) for r in conn.execute("SELECT lat, lon FROM nodes WHERE lat IS NOT NULL AND lon IS NOT NULL")
               if not (r[0] == 0 and r[1] == 0) and -90 <= r[0] <= 90 and -180 <= r[1] <= 180]
        cls.centroid = (sum(p[0] for p in pos) / len(pos), sum(p[1] for p in pos) / len(pos))
        cls.page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        conn.close()
        cls.master_start = time.time() - cls.d.get_json("/api/health")["uptime"]

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def get(self, path, headers=None):
        return self.d.get(path, headers=headers)

    # -- static files ---------------------------------------------------------------------

    def test_index_bust(self):
        bodies = set()
        for _ in range(12):  # fresh connections: both workers answer
            r = self.get("/")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("content-type"), "text/html; charset=utf-8")
            self.assertEqual(r.header("cache-control"), "no-cache")
            bodies.add(r.body)
        self.assertEqual(len(bodies), 1, "every worker sends the same index page")
        body = bodies.pop().decode()
        self.assertNotIn("__BUST__", body)
        m = re.search(r'app\.js\?v=(\d+)"', body)
        self.assertIsNotNone(m)
        bust = int(m.group(1))
        self.assertEqual(body.count(str(bust)), 3, "every occurrence replaced")
        self.assertLess(abs(bust - self.master_start), 5, "the master's start time")
        self.assertEqual(self.get("/index.html").body.decode(), body)

    def test_spa_fallback(self):
        index = self.get("/").body
        for path in ("/packets", "/nodes/abc/def", "/missing.js", "/img", "/img/", "/fonts/"):
            r = self.get(path)
            self.assertEqual(r.status, 200, path)
            self.assertEqual(r.body, index, path)
            self.assertEqual(r.header("content-type"), "text/html; charset=utf-8", path)
        r = self.get("/api/nosuch")  # the API keeps its own 404
        self.assertEqual(r.status, 404)
        self.assertIn("error", r.json())
        self.assertEqual(self.get("/metrics").status, 200)
        self.assertEqual(self.get("/api/stats").status, 200)

    def test_content_types(self):
        want = {"/app.js": "text/javascript; charset=utf-8", "/style.css": "text/css; charset=utf-8",
                "/data.json": "application/json", "/img/logo.svg": "image/svg+xml",
                "/fonts/a.woff2": "font/woff2", "/favicon.ico": "image/x-icon",
                "/app.webmanifest": "application/manifest+json"}
        for path, ctype in want.items():
            r = self.get(path)
            self.assertEqual(r.status, 200, path)
            self.assertEqual(r.header("content-type"), ctype, path)
            with open(os.path.join(self.root, path[1:]), "rb") as f:
                self.assertEqual(r.body, f.read(), path)
            self.assertEqual(r.header("x-content-type-options"), "nosniff")
        self.assertEqual(self.get("/app.js").header("cache-control"), "public, max-age=300, must-revalidate")
        self.assertEqual(self.get("/app.0a1b2c3d4e.js").header("cache-control"),
                         "public, max-age=31536000, immutable")
        self.assertEqual(self.get("/alias.js").body, APP_JS.encode(), "a link inside the root")

    def test_refusals(self):
        for path in ("/../outside/secret.txt", "/%2e%2e/outside/secret.txt", "/img/..%2f..%2foutside/secret.txt",
                     "/a%5c..%5cb", "/a\\b", "/a%00b", "/./app.js"):
            r = self.get(path)
            self.assertEqual(r.status, 400, path)
            self.assertNotIn(b"secret", r.body)
        for path in ("/.env", "/%2eenv", "/leak.txt", "/leakdir/secret.txt", "/leakdir"):
            r = self.get(path)
            self.assertEqual(r.status, 404, path)
            self.assertNotIn(b"secret", r.body)
        r = self.d.request("POST", "/app.js", body=b"x")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("allow"), "GET, HEAD")

    def test_validators_and_head(self):
        r = self.get("/app.js")
        etag, lm = r.header("etag"), r.header("last-modified")
        self.assertTrue(etag and lm)
        r2 = self.get("/app.js", headers={"If-None-Match": etag})
        self.assertEqual(r2.status, 304)
        self.assertEqual(r2.body, b"")
        self.assertEqual(self.get("/app.js", headers={"If-Modified-Since": lm}).status, 304)
        self.assertEqual(self.get("/app.js", headers={"If-None-Match": '"nope"'}).status, 200)
        idx = self.get("/")
        self.assertEqual(self.get("/some/route", headers={"If-None-Match": idx.header("etag")}).status, 304)
        h = self.d.request("HEAD", "/app.js")
        self.assertEqual(h.status, 200)
        self.assertEqual(h.body, b"")
        self.assertEqual(int(h.header("content-length")), len(APP_JS))
        self.assertEqual(h.header("etag"), etag)

    def test_gzip(self):
        r = self.get("/app.js", headers={"Accept-Encoding": "gzip, deflate"})
        self.assertEqual(r.header("content-encoding"), "gzip")
        self.assertEqual(r.header("vary"), "Accept-Encoding")
        self.assertEqual(gzip.decompress(r.body), APP_JS.encode())
        self.assertLess(len(r.body), len(APP_JS))
        plain = self.get("/app.js")
        self.assertIsNone(plain.header("content-encoding"))
        self.assertNotEqual(r.header("etag"), plain.header("etag"))
        again = self.get("/app.js", headers={"Accept-Encoding": "gzip", "If-None-Match": r.header("etag")})
        self.assertEqual(again.status, 304)
        sib = self.get("/vendor.js", headers={"Accept-Encoding": "gzip"})
        self.assertEqual(gzip.decompress(sib.body), b"precompressed vendor\n", "the .gz sibling")
        self.assertEqual(sib.header("content-type"), "text/javascript; charset=utf-8")
        self.assertIsNone(self.get("/fonts/a.woff2", headers={"Accept-Encoding": "gzip"}).header("content-encoding"))

    # -- the pages' configuration ---------------------------------------------------------

    def test_config_shapes(self):
        for path, name in (("/api/config/cache", "config-cache.json"), ("/api/config/client", "config-client.json"),
                           ("/api/config/theme", "config-theme.json"), ("/api/config/map", "config-map.json"),
                           ("/api/config/regions", "config-regions.json")):
            r = self.get(path)
            self.assertEqual(r.status, 200, path)
            self.assertIn("application/json", r.header("content-type"))
            body = r.json()
            fx = fixture_json(name)
            if fx is None:
                continue
            self.assertIsInstance(body, type(fx), path)
            if path in ("/api/config/cache", "/api/config/regions"):
                for k, v in body.items():  # maps: values of the fixture's type
                    self.assertIsInstance(v, type(next(iter(fx.values()))) if k[0] != "_" else str, (path, k))
                continue
            for k, v in fx.items():  # CoreScope's keys are all there
                self.assertIn(k, body, (path, k))
                if v is not None and body[k] is not None:
                    self.assertIsInstance(body[k], type(v), (path, k))
        if fixture_json("config-map.json") is None:
            print("note: the reference fixtures are absent: shapes checked against the spec only")

    def test_config_values(self):
        c = self.get("/api/config/client").json()
        self.assertEqual(list(c)[:3], ["roles", "healthThresholds", "map"], "Go's field order")
        self.assertEqual(c["liveMapMaxNodes"], 500)
        self.assertEqual(c["propagationBufferMs"], 5000)
        self.assertEqual(c["timestamps"]["timezone"], "utc")
        self.assertEqual(c["map"], {"tiles": {"darkUrl": "http://tiles.local/{z}/{x}/{y}.png"}})
        self.assertIs(c["clientRxCoverage"], False)
        self.assertEqual(c["customizer"], {"disabledTabs": []})
        t = self.get("/api/config/theme").json()
        self.assertEqual(list(t), ["branding", "theme", "themeDark", "nodeColors", "typeColors", "home",
                                   "markerStroke"])
        self.assertEqual(t["branding"], {"siteName": "Test Mesh", "tagline": "heard here"})
        self.assertEqual(t["theme"], {"accentHover": "#123456"})
        self.assertEqual(t["themeDark"], {"navBg": "#000000"})
        self.assertEqual(t["nodeColors"], {"repeater": "#dc2626"})
        self.assertEqual(t["typeColors"], {"REQ": "#aa00aa", "REQUEST": "#aa00aa"})
        self.assertEqual(t["home"], {"heroTitle": "Hello"})
        cache = self.get("/api/config/cache").json()
        self.assertEqual(cache["analyticsRF"], 120)
        self.assertEqual(cache["analyticsTopology"], 300)
        self.assertEqual(self.get("/api/config/areas").json(), [])
        self.assertEqual(self.get("/api/config/areas/polygons").json(), [])
        self.assertEqual(self.get("/api/config/geo-filter").json(),
                         {"bufferKm": 0, "polygon": None, "writeEnabled": False})

    def test_config_from_data(self):
        regions = self.get("/api/config/regions").json()
        want = {c: c for c in self.iatas}
        want["SJC"] = "San Jose, US"
        self.assertEqual(regions, want)
        self.assertEqual(list(regions), sorted(regions), "keys sorted")
        m = self.get("/api/config/map").json()
        self.assertEqual(m["zoom"], 11)
        self.assertAlmostEqual(m["center"][0], self.centroid[0], places=3)
        self.assertAlmostEqual(m["center"][1], self.centroid[1], places=3)

    def test_write_endpoints_refused(self):
        for method, path in (("PUT", "/api/config/geo-filter"), ("POST", "/api/admin/prune-geo-filter"),
                             ("POST", "/api/perf/reset")):
            r = self.d.request(method, path, body=b"{}", headers={"Content-Type": "application/json"})
            self.assertEqual(r.status, 403, path)
            self.assertIn("error", r.json())

    # -- small endpoints ------------------------------------------------------------------

    def test_health(self):
        h = self.get("/api/health").json()
        golden = load_golden()
        if golden and "health" in golden:
            errs = shape_errors(h, golden["health"])
            self.assertEqual(errs, [], "CoreScope's golden shape of /api/health")
        self.assertEqual(h["status"], "ok")
        self.assertEqual(h["engine"], "c")
        self.assertRegex(h["uptimeHuman"], r"^\d+h \d+m$")
        for k in ("rss", "heapUsed", "heapTotal"):
            self.assertGreater(h["memory"][k], 0, k)
        for k in ("currentLagMs", "maxLagMs", "p50Ms", "p95Ms", "p99Ms"):
            self.assertIsInstance(h["eventLoop"][k], (int, float))
        self.assertIsInstance(h["websocket"]["clients"], int)
        self.assertGreater(h["perf"]["totalRequests"], 0)
        self.assertIsInstance(h["perf"]["recentSlow"], list)
        self.assertGreater(h["packetStore"]["packets"], 0)
        self.assertGreaterEqual(h["processes"], 3, "the master and two workers at least")
        # the perf page reads these from /api/perf, which keeps its own figures
        p = self.get("/api/perf").json()
        for k in ("totalRequests", "avgMs", "uptime", "endpoints", "slowQueries", "snapshot", "analytics"):
            self.assertIn(k, p)
        self.assertIsInstance(p["slowQueries"], list)

    def test_perf_extras(self):
        io1 = self.get("/api/perf/io").json()
        for k in ("readBytesPerSec", "writeBytesPerSec", "cancelledWriteBytesPerSec", "syscallsRead", "syscallsWrite"):
            self.assertIsInstance(io1[k], (int, float), k)
            self.assertGreaterEqual(io1[k], 0, k)
        c = self.d.client()
        try:
            for _ in range(3):  # the same worker: a rate over the interval since its previous answer
                r = c.request("GET", "/api/perf/io")
                self.assertEqual(r.status, 200)
                time.sleep(0.05)
            self.assertGreater(r.json()["syscallsRead"] + r.json()["syscallsWrite"], 0)
        finally:
            c.close()
        sq = self.get("/api/perf/sqlite").json()
        self.assertEqual(sq["pageSize"], self.page_size)
        self.assertEqual(sq["pageCount"], os.path.getsize(self.db) // self.page_size)
        for k in ("walSizeMB", "walSize", "cacheSize", "cacheHitRate"):
            self.assertIn(k, sq)
        ws = self.get("/api/perf/write-sources").json()
        self.assertEqual(list(ws), ["sampleAt", "sources", "writer_perf"])
        self.assertRegex(ws["sampleAt"], r"^\d{4}-\d\d-\d\dT")
        for k, v in ws["sources"].items():
            self.assertTrue(k.startswith("backfill_"), k)
            self.assertIsInstance(v, int)

    def test_iata_coords(self):
        coords = self.get("/api/iata-coords").json()["coords"]
        self.assertGreaterEqual(len(coords), 54)
        for code in self.iatas + ["APC", "STS"]:
            self.assertIn(code, coords)
        self.assertEqual(list(coords), sorted(coords))
        fx = fixture_json("iata-coords.json")
        if fx is None:
            return
        for code, c in fx["coords"].items():
            self.assertIn(code, coords)
            self.assertLess(math.hypot(coords[code]["lat"] - c["lat"], coords[code]["lon"] - c["lon"]), 0.05, code)

    def test_search_text_as_hash(self):
        for q in ("Gilroy", "zz", "a" * 65, "ab cd"):
            r = self.get("/api/packets?limit=5&hash=" + q.replace(" ", "%20"))
            self.assertEqual(r.status, 200, q)
            body = r.json()
            self.assertEqual(body["packets"], [])
            self.assertEqual(body["total"], 0)
        r = self.get("/api/packets?limit=5&groupByHash=true&hash=Gilroy")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["packets"], [])


class DashboardTest(unittest.TestCase):
    """The dashboard (ui_root) without a web root, `ui = off`, and a missing directory."""

    @classmethod
    def setUpClass(cls):
        msnlib.meshsnapd_path()
        cls.tmp = msnlib.make_tmpdir("msn-ui-")
        cls.db = os.path.join(cls.tmp, "ui.db")
        mkdb.build(cls.db, nodes=20, observers=2, transmissions=50, obs_per_tx=1.0, days=1, seed=3)
        cls.ui = os.path.join(cls.tmp, "ui")
        os.makedirs(cls.ui)
        with open(os.path.join(cls.ui, "index.html"), "w") as f:
            f.write("<!DOCTYPE html><title>dashboard</title>\n")

    def run_daemon(self, http, check):
        d = msnlib.Daemon(self.db, self.tmp, workers=1, sections={"http": http})
        d.start()
        try:
            d.wait_ready(timeout=60)
            check(d)
        finally:
            d.stop()

    def test_dashboard(self):
        def check(d):
            r = d.get("/")
            self.assertEqual(r.status, 200)
            self.assertIn(b"dashboard", r.body)
            self.assertEqual(d.get("/some/page").body, r.body)
        self.run_daemon({"ui_root": self.ui}, check)

    def test_ui_off_and_missing(self):
        def check(d):
            r = d.get("/")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("content-type"), "text/plain; charset=utf-8")
            self.assertIn(b"/api/", r.body)
            self.assertEqual(d.get("/elsewhere").status, 404)
            self.assertEqual(d.request("HEAD", "/").body, b"")
        self.run_daemon({"ui_root": self.ui, "ui": "off"}, check)
        self.run_daemon({"ui_root": os.path.join(self.tmp, "no-such-dir")}, check)


class WebRootRefusedTest(unittest.TestCase):
    """A web_root that cannot be served is a configuration error, not a 500 per request."""

    @classmethod
    def setUpClass(cls):
        msnlib.meshsnapd_path()
        cls.tmp = msnlib.make_tmpdir("msn-webbad-")
        cls.empty = os.path.join(cls.tmp, "empty")
        os.makedirs(cls.empty)

    def conf(self, web_root):
        return msnlib.write_config(os.path.join(self.tmp, "bad.conf"), db=os.path.join(self.tmp, "x.db"),
                                   state_dir=os.path.join(self.tmp, "state"), listen="127.0.0.1:%d" % msnlib.free_port(),
                                   sections={"http": {"web_root": web_root}})

    def test_check_config(self):
        for root, why in ((os.path.join(self.tmp, "missing"), "No such file or directory"),
                          (self.empty, "no index.html in it")):
            conf = self.conf(root)
            with open(conf) as f:
                line = 1 + [i for i, text in enumerate(f) if text.startswith("web_root")][0]
            r = subprocess.run([msnlib.meshsnapd_path(), "--config", conf, "--check-config"], capture_output=True,
                               text=True, timeout=30)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("%s:%d: [http] web_root: %s: %s" % (conf, line, root, why), r.stderr)
        r = subprocess.run([msnlib.meshsnapd_path(), "--config", self.conf(self.empty), "--web-root", "/nonexistent/w",
                            "--check-config"], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("web_root", r.stderr)

    def test_start_refused(self):
        conf = self.conf(self.empty)
        r = subprocess.run([msnlib.meshsnapd_path(), "--config", conf], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0, "meshsnapd does not start")
        self.assertIn("no index.html in it", r.stderr)


if __name__ == "__main__":
    msnlib.main(WebRootTest, DashboardTest, WebRootRefusedTest)
