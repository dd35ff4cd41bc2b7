#!/usr/bin/env python3
"""ui/build.py, the dashboard as the workers serve it: fingerprinted names the workers
take for fingerprints (immutable caching), an import map covering every module, gzip
copies that decompress to the file, the vendored libraries named in <script id="assets">
(when ui/node_modules is installed), and a rebuild keeping the previous page's files but
no older ones. Then a live meshsnapd serves the result: the page, a module with
"immutable" caching, the gzip copy to a client that accepts it."""

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402
import mkdb  # noqa: E402

SOURCE = os.environ.get("MESHSNAP_SOURCE") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
UI = os.path.join(SOURCE, "ui")
FINGERPRINT = re.compile(r"\.[0-9a-f]{10,12}\.(js|css)$")


def build(src, out):
    subprocess.run([sys.executable, os.path.join(UI, "build.py"), "--src", src, "--out", out],
                   check=True, capture_output=True)


def page_parts(out):
    with open(os.path.join(out, "index.html"), encoding="utf-8") as f:
        html = f.read()
    imports = json.loads(re.search(r'<script type="importmap">(.*?)</script>', html).group(1))["imports"]
    assets = json.loads(re.search(r'<script id="assets" type="application/json">(.*?)</script>', html).group(1))
    return html, imports, assets


class UiBuild(unittest.TestCase):
    def setUp(self):
        self.tmp = msnlib.make_tmpdir("msn-uibuild-")
        self.out = os.path.join(self.tmp, "out")

    def test_output(self):
        build(UI, self.out)
        html, imports, assets = page_parts(self.out)
        modules = sorted(n for n in os.listdir(UI) if n.endswith(".js"))
        self.assertEqual(sorted(k[2:] for k in imports), modules)
        for plain, real in imports.items():
            self.assertRegex(real, FINGERPRINT)
            path = os.path.join(self.out, real[2:])
            with open(path, "rb") as f:
                data = f.read()
            with open(os.path.join(UI, plain[2:]), "rb") as f:
                self.assertEqual(data, f.read(), plain)
            with open(path + ".gz", "rb") as f:
                self.assertEqual(gzip.decompress(f.read()), data)
        self.assertRegex(re.search(r'<script type="module" src="([^"]+)"', html).group(1), FINGERPRINT)
        self.assertRegex(re.search(r'<link rel="stylesheet" href="([^"]+)"', html).group(1), FINGERPRINT)
        self.assertNotIn("<!--assets-->", html)
        if os.path.isdir(os.path.join(UI, "node_modules", "uplot")):
            self.assertEqual(sorted(assets), ["leaflet.css", "leaflet.js", "uplot.css", "uplot.js"])
            for name in assets.values():
                self.assertRegex(name, FINGERPRINT)
                self.assertTrue(os.path.isfile(os.path.join(self.out, name)), name)
        # nothing in the page refers to another host
        self.assertNotRegex(html, r'(src|href)="(https?:)?//')

    def test_rebuild_keeps_previous_page_only(self):
        src = os.path.join(self.tmp, "src")
        shutil.copytree(UI, src, ignore=shutil.ignore_patterns("node_modules"))
        names = []
        for i in range(3):
            with open(os.path.join(src, "lib.js"), "a") as f:
                f.write("\n// change %d\n" % i)
            build(src, self.out)
            names.append(page_parts(self.out)[1]["./lib.js"][2:])
        self.assertEqual(len(set(names)), 3)
        self.assertFalse(os.path.exists(os.path.join(self.out, names[0])))
        self.assertTrue(os.path.exists(os.path.join(self.out, names[1])))
        self.assertTrue(os.path.exists(os.path.join(self.out, names[2] + ".gz")))


class UiServed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        msnlib.meshsnapd_path()
        cls.tmp = msnlib.make_tmpdir("msn-uiserve-")
        cls.out = os.path.join(cls.tmp, "ui")
        build(UI, cls.out)
        cls.db = os.path.join(cls.tmp, "s.db")
        mkdb.build(cls.db, nodes=20, observers=2, transmissions=50, obs_per_tx=1.0, days=1, seed=3)
        cls.d = msnlib.Daemon(cls.db, cls.tmp, workers=1, sections={"http": {"ui_root": cls.out}})
        cls.d.start()
        cls.d.wait_ready(timeout=60)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def test_served(self):
        r = self.d.get("/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("cache-control"), "no-cache")
        _, imports, _ = page_parts(self.out)
        real = "/" + imports["./app.js"][2:]
        plain = self.d.get(real)
        self.assertEqual(plain.status, 200)
        self.assertIn("javascript", plain.header("content-type"))
        self.assertIn("immutable", plain.header("cache-control"))
        z = self.d.get(real, headers={"Accept-Encoding": "gzip"})
        self.assertEqual(z.header("content-encoding"), "gzip")
        self.assertEqual(gzip.decompress(z.body), plain.body)


if __name__ == "__main__":
    msnlib.main(UiBuild, UiServed)
