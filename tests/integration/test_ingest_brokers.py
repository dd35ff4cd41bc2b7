#!/usr/bin/python3
"""test_ingest_brokers: several brokers as an operator configures them.

  - two [mqtt.NAME] brokers at once, one with iata_filter: the packets of both are
    written, the filtered region's are not (counted as ignored); /api/mqtt/status,
    /api/healthz, /metrics and `meshsnap status --json` show one source per broker;
  - one broker stopped: its source shows disconnected with an error, the other goes on
    ingesting and the API keeps answering; started again on the same port, the ingestor
    reconnects (back-off capped by reconnect_max_s) and ingests from it again;
  - a reload (SIGHUP) that adds a third broker: the restarted ingestor subscribes to it.

Helpers: tools/mqttlib.py (brokers, publisher), tools/msnlib.py (daemon), test_import.py
(packet frames and content hashes).
"""

import json
import os
import sqlite3
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tools"))
sys.path.insert(0, here)
import msnlib  # noqa: E402
import mqttlib  # noqa: E402
import test_import  # noqa: E402


def packet(n):
    """(raw hex, content hash) of a distinct TXT_MSG-like flood packet number n."""
    raw = test_import.frame(1, 2, b"", 1, bytes([n & 0xFF, n >> 8]) + bytes(range(30))).hex()
    return raw, test_import.content_hash(bytes.fromhex(raw))


def msg(region, observer, raw):
    return ("meshcore/%s/%s/packets" % (region, observer), json.dumps({"raw": raw, "SNR": 3, "origin": observer}))


class BrokersTest(unittest.TestCase):
    def setUp(self):
        mqttlib.need_broker()
        msnlib.meshsnapd_path()
        self.tmp = msnlib.make_tmpdir("msn-ingest-brokers-")
        self.a = mqttlib.Broker(self.tmp).start()
        self.addCleanup(self.a.stop)
        self.b = mqttlib.Broker(self.tmp).start()
        self.addCleanup(self.b.stop)
        self.db = os.path.join(self.tmp, "brokers.db")
        p = msnlib.run_meshsnap("init-db", self.db)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.sections = {
            "mqtt": {"edges_interval_s": 0, "reconnect_max_s": 2},
            "mqtt.alpha": {"url": self.a.url},
            "mqtt.beta": {"url": self.b.url, "iata_filter": "SJC"},
        }
        self.d = msnlib.start_daemon(self.db, self.tmp, test=self, workers=1, poll_interval_ms=200,
                                     sections=self.sections)

    def sources(self):
        return {s["name"]: s for s in self.d.get_json("/api/mqtt/status")["sources"]}

    def wait_sources(self, want, what):
        """Waits until /api/mqtt/status's connected flags equal want {name: bool}."""
        def ok():
            s = self.sources()
            return set(s) == set(want) and all(s[n]["connected"] == c for n, c in want.items())
        self.d.wait_for(ok, timeout=60, interval=0.1, what=what)

    def wait_committed(self, n):
        def done():
            i = self.d.health()["ingestor"]
            return i["pid"] > 0 and i["received"] >= n and i["pending"] == 0
        self.d.wait_for(done, timeout=60, interval=0.1, what="%d messages committed" % n)

    def hashes(self):
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        try:
            return {r[0] for r in con.execute("SELECT hash FROM transmissions")}
        finally:
            con.close()

    def test_brokers_filter_outage_reload(self):
        self.wait_sources({"alpha": True, "beta": True}, "both brokers connected")
        p1, p2, p3 = packet(1), packet(2), packet(3)
        mqttlib.publish(self.a, [msg("SFO", "A1", p1[0])])
        mqttlib.publish(self.b, [msg("SJC", "B1", p2[0]), msg("SFO", "B2", p3[0])])
        self.wait_committed(3)
        self.assertEqual(self.hashes(), {p1[1], p2[1]})  # beta's SFO message is filtered out
        i = self.d.health()["ingestor"]
        self.assertEqual((i["packets"], i["rejected"]), (2, 0))
        m = self.d.get("/metrics").body.decode()
        self.assertIn("meshsnap_ingest_ignored_total 1\n", m)
        self.assertIn('meshsnap_mqtt_messages_total{broker="alpha"} 1\n', m)
        self.assertIn('meshsnap_mqtt_messages_total{broker="beta"} 2\n', m)
        s = self.sources()
        self.assertEqual((s["alpha"]["packetsTotal"], s["beta"]["packetsTotal"]), (1, 2))
        self.assertEqual(s["beta"]["broker"], self.b.url)
        # the API serves both packets
        for h in (p1[1], p2[1]):
            self.d.wait_for(lambda: self.d.get("/api/packets/%s" % h).status == 200, timeout=30,
                            what="packet %s in the API" % h)
        self.assertEqual(self.d.get("/api/packets/%s" % p3[1]).status, 404)
        # the command-line view
        p = msnlib.run_meshsnap("status", "--state-dir", self.d.state_dir, "--interval", "0", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        st = json.loads(p.stdout)
        self.assertTrue(st["ingestor"]["alive"])
        self.assertEqual({(x["name"], x["connected"], x["messages"]) for x in st["ingestor"]["brokers"]},
                         {("alpha", True, 1), ("beta", True, 2)})

        # beta goes away: alpha goes on, the API answers, beta's state says so
        self.b.stop()
        self.d.wait_for(lambda: not self.sources()["beta"]["connected"], timeout=30,
                        what="beta shown disconnected")
        self.assertTrue(self.sources()["alpha"]["connected"])
        self.assertIn("lastError", self.sources()["beta"])
        self.assertEqual(self.d.get("/api/stats").status, 200)
        h = self.d.health()["ingestor"]
        self.assertFalse([x for x in h["brokers"] if x["name"] == "beta"][0]["connected"])
        p4 = packet(4)
        mqttlib.publish(self.a, [msg("SFO", "A1", p4[0])])
        self.wait_committed(4)
        self.assertIn(p4[1], self.hashes())
        # beta back on the same port: reconnected within the back-off cap, ingesting again
        self.b.start()
        self.wait_sources({"alpha": True, "beta": True}, "beta reconnected")
        self.assertEqual(self.sources()["beta"]["connectCount"], 2)
        p5 = packet(5)
        mqttlib.publish(self.b, [msg("SJC", "B1", p5[0])])
        self.d.wait_for(lambda: p5[1] in self.hashes(), timeout=60, interval=0.1,
                        what="beta's packet after the reconnect")

        # a third broker added by a reload
        c = mqttlib.Broker(self.tmp).start()
        self.addCleanup(c.stop)
        sections = dict(self.sections)
        sections["mqtt.gamma"] = {"url": c.url}
        self.d.reload(sections=sections)
        self.wait_sources({"alpha": True, "beta": True, "gamma": True}, "gamma connected after the reload")
        p6 = packet(6)
        mqttlib.publish(c, [msg("PDX", "C1", p6[0])])
        self.d.wait_for(lambda: p6[1] in self.hashes(), timeout=60, interval=0.1,
                        what="gamma's packet after the reload")
        self.assertEqual(self.hashes(), {p1[1], p2[1], p4[1], p5[1], p6[1]})


if __name__ == "__main__":
    msnlib.main(BrokersTest)
