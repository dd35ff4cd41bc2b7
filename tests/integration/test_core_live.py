#!/usr/bin/python3
"""test_core_live: rows written to SQLite while meshsnapd runs show up through the API.

The daemon polls with poll_interval_ms = 200. Each test writes rows the way CoreScope's
ingestor does (transmission + observations in one transaction; late observations of an
old transmission; a burst bigger than one poll batch; a new node and a new observer) and
waits (generously) until the API shows them, then checks the counts, the lists, the
detail view and the generation number. The time each change took to appear is printed,
not asserted.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import mkdb  # noqa: E402
import msnlib  # noqa: E402

POLL_MS = 200
WAIT_S = 20.0  # generous upper bound for "visible within two poll intervals"


class LiveTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-core-live-", "live.db", nodes=300, observers=12,
                                              transmissions=2000, obs_per_tx=3.0, days=2, seed=11)
        cls.d = msnlib.start_daemon(cls.db, cls.tmp, workers=2, poll_interval_ms=POLL_MS)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def stats(self):
        return self.d.get_json("/api/stats")

    def wait_visible(self, pred, what):
        t0 = time.monotonic()
        v = self.d.wait_for(pred, timeout=WAIT_S, interval=0.02, what=what)
        msnlib.log("%s visible after %.0f ms (poll interval %d ms)" % (what, (time.monotonic() - t0) * 1000, POLL_MS))
        return v

    def sql(self, query, args=()):
        return msnlib.sql_rows(self.db, query, args)

    def test_new_transmission_appears(self):
        s0 = self.stats()
        h0 = self.d.health()
        new = mkdb.append_transmissions(self.db, count=1, obs_per_tx=3, payload_type=2, route_type=1, seed=5)[0]

        def visible():
            b = self.d.get_json("/api/packets?hash=" + new["hash"])
            return b if b["total"] == 1 else None

        b = self.wait_visible(visible, "new transmission %d" % new["id"])
        p = b["packets"][0]
        self.assertEqual(p["id"], new["id"])
        self.assertEqual(p["payload_type"], 2)
        self.assertEqual(p["observation_count"], 3)

        det = self.d.get_json("/api/packets/" + new["hash"])
        self.assertEqual(det["observation_count"], 3)
        self.assertEqual(sorted(o["id"] for o in det["observations"]), sorted(new["observation_ids"]))
        self.assertEqual(self.d.get_json("/api/packets/%d" % new["id"])["packet"]["hash"], new["hash"])

        # the newest id heads the default (DESC) list and the type list
        self.assertEqual(self.d.get_json("/api/packets?limit=1")["packets"][0]["id"], new["id"])
        self.assertEqual(self.d.get_json("/api/packets?type=2&limit=1")["packets"][0]["id"], new["id"])
        oid = self.sql("SELECT id FROM observers WHERE rowid=?", (new["observer_idx"][0],))[0][0]
        self.assertEqual(self.d.get_json("/api/packets?observer=%s&limit=1" % oid)["packets"][0]["id"], new["id"])

        s1 = self.stats()
        self.assertEqual(s1["totalTransmissions"], s0["totalTransmissions"] + 1)
        self.assertEqual(s1["totalPackets"], s0["totalPackets"] + 1)
        self.assertEqual(s1["totalObservations"], s0["totalObservations"] + 3)
        h1 = self.d.health()
        self.assertGreater(h1["generation"], h0["generation"], "a new generation was published")
        self.assertEqual(h1["loadedTx"], h0["loadedTx"] + 1)
        r = self.d.get("/api/stats")
        self.assertGreaterEqual(int(r.header("x-meshsnap-generation")), h1["generation"])

    def test_late_observations_of_old_transmission(self):
        tx_id = self.sql("SELECT id FROM transmissions ORDER BY id LIMIT 1 OFFSET 10")[0][0]
        h = self.sql("SELECT hash FROM transmissions WHERE id=?", (tx_id,))[0][0]
        before = self.d.get_json("/api/packets/%d" % tx_id)
        s0 = self.stats()
        ids = mkdb.append_observations(self.db, tx_id, count=2, seed=9)
        self.assertEqual(len(ids), 2, "the database has observers that have not seen the packet")
        n0 = before["observation_count"]

        def visible():
            b = self.d.get_json("/api/packets/%d" % tx_id)
            return b if b["observation_count"] == n0 + 2 else None

        det = self.wait_visible(visible, "2 late observations of transmission %d" % tx_id)
        self.assertTrue(set(ids) <= {o["id"] for o in det["observations"]})
        self.assertEqual(det["packet"]["hash"], h)
        self.assertEqual(self.stats()["totalObservations"], s0["totalObservations"] + 2)
        lst = self.d.get_json("/api/packets?hash=" + h)
        self.assertEqual(lst["packets"][0]["observation_count"], n0 + 2)

    def test_burst_bigger_than_one_poll_batch(self):
        s0 = self.stats()
        new = mkdb.append_transmissions(self.db, count=250, obs_per_tx=2, seed=21)

        def visible():
            s = self.stats()
            return s if s["totalTransmissions"] >= s0["totalTransmissions"] + 250 else None

        s1 = self.wait_visible(visible, "a burst of 250 transmissions")
        self.assertEqual(s1["totalTransmissions"], s0["totalTransmissions"] + 250)
        self.assertEqual(s1["totalObservations"], s0["totalObservations"] + sum(len(n["observation_ids"]) for n in new))
        body = self.d.get_json("/api/packets?limit=250")
        self.assertEqual([p["id"] for p in body["packets"]], sorted((n["id"] for n in new), reverse=True))

    def test_new_node_and_observer(self):
        now = int(time.time())
        pk = "ab" * 31 + "%04x" % (now % 65536)
        pk = pk[:64]
        name = "Livetest Node %d" % now
        oid = ("CD" * 32)[:60] + "%04X" % (now % 65536)
        conn = msnlib.sql_connect(self.db, readonly=False)
        try:
            with conn:
                conn.execute("INSERT INTO nodes (public_key, name, role, lat, lon, last_seen, first_seen, advert_count) "
                             "VALUES (?,?,?,?,?,?,?,?)",
                             (pk, name, "repeater", 37.25, -122.5, mkdb.rfc3339(now), mkdb.rfc3339(now - 86400), 3))
                conn.execute("INSERT INTO observers (id, name, iata, last_seen, first_seen, packet_count, inactive) "
                             "VALUES (?,?,?,?,?,?,0)", (oid, "live-observer", "SJC", mkdb.rfc3339(now),
                                                        mkdb.rfc3339(now - 600), 1))
        finally:
            conn.close()

        def node_visible():
            b = self.d.get_json("/api/nodes?search=" + name.replace(" ", "%20"))
            return b if b["total"] == 1 else None

        b = self.wait_visible(node_visible, "new node")
        n = b["nodes"][0]
        self.assertEqual((n["public_key"], n["name"], n["role"], n["advert_count"]), (pk, name, "repeater", 3))
        det = self.d.get_json("/api/nodes/" + pk)
        self.assertEqual(det["node"]["public_key"], pk)
        self.assertEqual(self.d.get_json("/api/nodes?sortBy=lastSeen&limit=1")["nodes"][0]["public_key"], pk)

        def observer_visible():
            b = self.d.get_json("/api/observers")
            return next((o for o in b["observers"] if o["id"] == oid), None)

        o = self.wait_visible(observer_visible, "new observer")
        self.assertEqual((o["name"], o["iata"]), ("live-observer", "SJC"))


if __name__ == "__main__":
    msnlib.main(LiveTest)
