#!/usr/bin/env python3
"""The dashboard in a real browser: Debian's chromium driven by playwright-core
(tests/browser/views.mjs) against a live meshsnapd serving the built dashboard
(MESHSNAP_UI_BUILD, the build's ui/) on a generated database.

Every view (overview, packets, nodes, a node, map, each analytic, the overview on a phone
in dark mode) must render real data with no console error, no failed request, no answer
>= 400 and no request leaving the machine; a packet filter change and a packet click must
work. Screenshots: MESHSNAP_SCREENSHOTS (default: the build's screenshots/).

Skipped (exit 77, with the reason) without chromium (apt-get install chromium), node, or
playwright-core in ui/node_modules (npm ci in ui/), or without the built dashboard.
"""

import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402
import mkdb  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("MESHSNAP_SOURCE") or os.path.normpath(os.path.join(HERE, "..", ".."))


def requirements():
    """(node, node_modules, ui_build) or raises unittest.SkipTest naming what is missing."""
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not os.access(chromium, os.X_OK):
        raise unittest.SkipTest("no chromium at %s (apt-get install chromium)" % chromium)
    node = shutil.which("node")
    if not node:
        raise unittest.SkipTest("node is not installed (apt-get install nodejs)")
    nm = os.path.join(SOURCE, "ui", "node_modules")
    if not os.path.isfile(os.path.join(nm, "playwright-core", "package.json")):
        raise unittest.SkipTest("playwright-core is not in %s (npm ci in ui/)" % nm)
    ui = os.environ.get("MESHSNAP_UI_BUILD", "")
    if not ui or not os.path.isfile(os.path.join(ui, "index.html")):
        raise unittest.SkipTest("MESHSNAP_UI_BUILD does not name a built dashboard (cmake --build writes BUILD/ui)")
    return node, nm, ui


class DashboardInBrowser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node, cls.nm, cls.ui = requirements()
        msnlib.meshsnapd_path()
        cls.tmp = msnlib.make_tmpdir("msn-ui-")
        cls.db = os.path.join(cls.tmp, "ui.db")
        mkdb.build(cls.db, nodes=150, observers=8, transmissions=3000, obs_per_tx=3.0, days=7, seed=11)
        cls.d = msnlib.start_daemon(cls.db, cls.tmp, timeout=120, workers=2,
                                    sections={"http": {"ui_root": cls.ui}})

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def test_every_view(self):
        shots = os.environ.get("MESHSNAP_SCREENSHOTS") or os.path.join(os.path.dirname(self.ui), "screenshots")
        base = "http://%s:%d" % (self.d.host, self.d.port)
        p = subprocess.run([self.node, os.path.join(HERE, "views.mjs"), base, shots, self.nm],
                           capture_output=True, text=True, timeout=540)
        lines = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")]
        for x in lines:
            msnlib.log(json.dumps(x))
        if p.returncode != 0:
            self.fail("browser check failed (exit %d): %s\n%s" % (
                p.returncode, lines[-1].get("error") if lines else "", p.stderr[-3000:]))
        views = {x["view"] for x in lines if x.get("view")}
        for v in ("overview", "packets", "nodes", "node", "map", "analytics-rf", "analytics-clock-skew"):
            self.assertIn(v, views)
        for v in views:
            self.assertTrue(os.path.getsize(os.path.join(shots, "ui-%s.png" % v)) > 1000, v)


if __name__ == "__main__":
    msnlib.main(DashboardInBrowser)
