#!/usr/bin/python3
"""test_bounds_exposure: what the daemon shows and leaves readable.

- state_dir/effective.conf holds the channel keys: it is written 0600 whatever the umask
  (the daemon is started with umask 000 here), at start and again on a reload.
- The public /api/healthz keeps CoreScope's fields (ready, loadedTx, loadedObs,
  from_pubkey_backfill, async_migrations, async_migrations_running) and meshsnap's load
  and snapshot state, but shows no database path, no process id and no status line with
  paths; /api/perf shows no path either. The admin listener ([http] admin_listen) shows
  them all, for the operator; without the key there is no admin listener.
"""

import os
import stat
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402

KEY = "00112233445566778899aabbccddeeff"


class ExposureTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-bounds-exposure-", "exposure.db", nodes=50, observers=4,
                                              transmissions=200, obs_per_tx=2.0, days=1, seed=61)

    def start(self, **kw):
        old = os.umask(0)
        try:
            d = msnlib.start_daemon(self.db, self.tmp, test=self, workers=1, allow_worker_restarts=True,
                                    sections={"backfill": {"enabled": False}, "channels": {"Secret": KEY}}, **kw)
        finally:
            os.umask(old)
        return d

    def assert_private(self, path):
        with open(path) as f:
            self.assertIn(KEY, f.read(), "the effective configuration holds the channel key")
        mode = stat.S_IMODE(os.stat(path).st_mode)
        self.assertEqual(mode, 0o600, "%s is mode %o" % (path, mode))

    def test_effective_conf_private(self):
        d = self.start()
        eff = os.path.join(d.state_dir, "effective.conf")
        self.assert_private(eff)
        old = os.umask(0)
        try:
            d.reload(workers=1)
        finally:
            os.umask(old)
        d.wait_for(lambda: d.log_text().count("reloaded the configuration"), timeout=30, what="the reload")
        self.assert_private(eff)
        d.stop()

    def test_public_and_admin_views(self):
        d = self.start()
        pub = d.get_json("/api/healthz")
        for k in ("ready", "loadedTx", "loadedObs", "from_pubkey_backfill", "async_migrations",
                  "async_migrations_running", "generation", "stale", "phase", "workers"):
            self.assertIn(k, pub, "public healthz key %s" % k)
        text = d.get("/api/healthz").body.decode()
        for secret in (self.db, d.state_dir, self.tmp, str(d.pid)):
            self.assertNotIn(secret, text)
        for k in ("sourceDb", "masterPid", "backfillerPid", "status"):
            self.assertNotIn(k, pub)
        self.assertTrue(all(set(w) == {"slot", "requests"} for w in pub["workers"]), pub["workers"])
        perf = d.get("/api/perf").body.decode()
        self.assertNotIn(self.tmp, perf)
        adm = d.health()
        self.assertEqual(adm["masterPid"], d.pid)
        self.assertEqual(adm["sourceDb"], self.db)
        self.assertTrue(all("pid" in w for w in adm["workers"]))
        d.stop()
        # without [http] admin_listen there is none
        d = self.start(admin=False)
        self.assertNotIn("admin listener", d.log_text())
        with open(os.path.join(d.state_dir, "effective.conf")) as f:
            self.assertIn("# admin_listen = (not set)", f.read())
        self.assertNotIn("masterPid", d.get("/api/healthz").body.decode())
        d.stop()


if __name__ == "__main__":
    msnlib.main(ExposureTest)
