#!/usr/bin/python3
"""test_ingest_crash: nothing acknowledged is lost, nothing is written twice.

  - kill -9 of the ingestor 10 times, at random moments, while 50,000 packet messages are
    published at QoS 1: the master restarts it, the broker resends what was not
    acknowledged, and the final database equals `meshsnap import` of the same messages
    (packet_time = message, so every column compares, ids and per-message counters such
    as observers.packet_count included: a resend of a committed message is recognised
    and not written again);
  - the broker restarted twice while messages flow (its persistence keeps the
    ingestor's session and what was queued): every transmission, observation, node and
    observer of the import is there, and nothing else. Ids and per-message counters are
    not compared here: a broker that dies between receiving a message and acknowledging
    it to its publisher gets it again (QoS 1 is at least once) and delivers it twice, and
    the restart changes the order of delivery; CoreScope counts such copies too.
"""

import os
import random
import signal
import sys
import time
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tools"))
sys.path.insert(0, here)
import msnlib  # noqa: E402
import mqttlib  # noqa: E402
import test_import  # noqa: E402
import test_ingest_mqtt  # noqa: E402


def keyed(db):
    """The rows by their natural keys: transmissions by hash, observations by (hash,
    observer, path), nodes by key, observers by id (-> packet_count)."""
    import sqlite3
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        out = {"tx": [r[0] for r in c.execute("SELECT hash FROM transmissions")]}
        out["obs"] = list(c.execute(
            "SELECT t.hash, ob.id, o.path_json FROM observations o JOIN transmissions t ON t.id = o.transmission_id"
            " LEFT JOIN observers ob ON ob.rowid = o.observer_idx"))
        out["nodes"] = [r for r in c.execute("SELECT public_key, name, role, lat, lon, advert_count FROM nodes")]
        out["observers"] = dict(c.execute("SELECT id, packet_count FROM observers"))
        return out
    finally:
        c.close()


def messages(n_tx, seed):
    c = test_import.generate(n_tx, seed=seed, n_nodes=40, n_observers=12, obs_per_tx=3.0, t0=1780000000,
                             advert_share=0.03)
    return mqttlib.corpus_messages(c.lines)


class CrashTest(test_ingest_mqtt.IngestHarness, unittest.TestCase):
    def wait_db_complete(self, expected_obs, timeout=180):
        import sqlite3

        def complete():
            i = self.ingestor()
            if i["pid"] <= 0 or i["pending"] != 0:
                return False
            con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
            try:
                n, = con.execute("SELECT COUNT(*) FROM observations").fetchone()
            finally:
                con.close()
            return n >= expected_obs
        self.d.wait_for(complete, timeout=timeout, interval=0.2, what="%d observations" % expected_obs)

    def expected(self, msgs):
        import sqlite3
        imp, p = self.import_same(msgs, "--rule", "packet_time=message")
        con = sqlite3.connect(imp)
        n, = con.execute("SELECT COUNT(*) FROM observations").fetchone()
        con.close()
        return imp, n

    def test_kill9_ingestor_ten_times(self):
        self.start_pair({"packet_time": "message", "batch_size": 500})
        msgs = messages(17000, seed=21)
        self.assertGreaterEqual(len(msgs), 50000)
        msgs = msgs[:50000]
        imp, n_obs = self.expected(msgs)
        rng = random.Random(7)
        pub = mqttlib.Publisher(self.broker, msgs, rate=1500).start()
        kills = 0
        last_pid = None
        while kills < 10:
            pid = self.d.wait_for(lambda: (self.ingestor()["pid"] or None) if self.ingestor()["pid"] != last_pid
                                  else None, timeout=60, interval=0.05, what="a restarted ingestor")
            time.sleep(rng.uniform(2.1, 3.4))  # past the master's 2 s crash-loop threshold
            os.kill(pid, signal.SIGKILL)
            kills += 1
            last_pid = pid
        pub.join()
        self.wait_connected(timeout=60)
        self.wait_db_complete(n_obs)
        h = self.ingestor()
        msnlib.log("10 kills; restarts %d; %d messages published; ingestor received %d in its last life"
                   % (h["restarts"], len(msgs), h["received"]))
        self.assertGreaterEqual(h["restarts"], 10)
        self.assert_same(self.db, imp, skip_times=False)
        st = self.d.get_json("/api/mqtt/status")
        msnlib.log("broker status: %s" % st["sources"][0])

    def test_broker_restart_mid_stream(self):
        mqttlib.need_broker()
        msnlib.meshsnapd_path()
        self.tmp = msnlib.make_tmpdir("msn-ingest-brk-")
        self.broker = mqttlib.Broker(self.tmp, persistence=True).start()
        self.addCleanup(self.broker.stop)
        self.db = os.path.join(self.tmp, "ingest.db")
        msnlib.run_meshsnap("init-db", self.db)
        sections = {"mqtt": {"packet_time": "message", "edges_interval_s": 0, "reconnect_max_s": 1},
                    "mqtt.test": {"url": self.broker.url, "client_id": "msn-test-brk"}}
        self.d = msnlib.start_daemon(self.db, self.tmp, test=self, workers=1, sections=sections)
        self.wait_connected()
        msgs = messages(3000, seed=22)
        imp, n_obs = self.expected(msgs)
        pub = mqttlib.Publisher(self.broker, msgs, rate=1200).start()
        for _ in range(2):
            time.sleep(2.0)
            self.broker.restart()
        pub.join()
        self.wait_connected(timeout=60)
        self.wait_db_complete(n_obs)
        st = self.d.get_json("/api/mqtt/status")["sources"][0]
        self.assertGreaterEqual(st["disconnectCount"], 2)
        self.assertGreaterEqual(st["connectCount"], 3)
        a, b = keyed(self.db), keyed(imp)
        for t in ("tx", "obs", "nodes"):
            self.assertEqual(len(a[t]), len(b[t]), t)
            self.assertEqual(set(a[t]), set(b[t]), t)
        self.assertEqual(set(a["observers"]), set(b["observers"]))
        for k, n in b["observers"].items():
            self.assertGreaterEqual(a["observers"][k], n, k)
        msnlib.log("packet_count over all observers: %d (import: %d)"
                   % (sum(a["observers"].values()), sum(b["observers"].values())))


if __name__ == "__main__":
    msnlib.main(CrashTest)
