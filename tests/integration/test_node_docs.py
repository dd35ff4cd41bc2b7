#!/usr/bin/python3
"""test_node_docs: the per-node endpoints (/api/nodes/search, /bulk-health,
/{pubkey}/{health,paths,neighbors,clock-skew,analytics,battery,reach}), the neighbour graph,
resolve-hops and paths/inspect against the real daemon.

On a generated database: every endpoint answers for every kind of node; bad parameters get
CoreScope's answer or a 400 naming the parameter (never a 5xx, never a crash); a poll that
brings a packet of one node rewrites that node's documents and leaves the others' untouched
(X-Meshsnap-Document-Generation); on a copy of CoreScope's end-to-end fixture database, the
shapes against the reference fixtures (keys and types; the fixtures come from CoreScope's
older Node server, whose few extra keys are listed below), skipped without MESHSNAP_SHARED.
"""

import json
import os
import random
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402

NODE_SECTIONS = {"analytics": {"node_documents_s": 3600, "node_changes_s": 1}}

# keys of the reference fixtures (CoreScope's Node server) that its Go server, which
# meshsnap follows, does not send
NODE_ERA_KEYS = {"iata", "_parsedDecoded", "direction", "score"}


def value_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


def shape_diff(fixture, ours, path="$"):
    """Keys of fixture missing from ours (minus NODE_ERA_KEYS) and type mismatches, where
    both sides have a value (null matches anything: CoreScope's optional values)."""
    errs = []
    tf, to = value_type(fixture), value_type(ours)
    if tf == "null" or to == "null":
        return errs
    if tf != to:
        return ["%s: fixture %s, ours %s" % (path, tf, to)]
    if tf == "object":
        for k, v in fixture.items():
            if k in NODE_ERA_KEYS:
                continue
            if k not in ours:
                errs.append("%s.%s: missing" % (path, k))
            else:
                errs.extend(shape_diff(v, ours[k], "%s.%s" % (path, k)))
    elif tf == "array" and fixture and ours:
        for x in ours[:20]:
            errs.extend(shape_diff(fixture[0], x, path + "[]"))
    return errs


def load_fixture(name):
    d = msnlib.shared_dir()
    p = os.path.join(d or "", "fixtures", "corescope-api", name)
    if not d or not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


class NodeDocsChecks:
    d = None

    @classmethod
    def serve(cls, db, tmp):
        cls.d = msnlib.start_daemon(db, tmp, workers=2, poll_interval_ms=100, sections=NODE_SECTIONS, timeout=120)
        try:
            cls.d.wait_health(lambda h: not h.get("async_migrations_running") and not h.get("stale"),
                              timeout=120, interval=0.2, what="the migrations to end")
            cls.nodes = cls.d.get_json("/api/nodes?limit=2000")["nodes"]
            cls.busy = max(cls.nodes, key=lambda n: n["advert_count"])["public_key"]
            # every node's documents (the tests below read them all; the first full pass of
            # the documents child ends with the last of them)
            cls.d.wait_status(["/api/nodes/%s/%s" % (n["public_key"], ep) for n in cls.nodes
                               for ep in ("health", "paths", "analytics?days=365", "reach")]
                              + ["/api/analytics/neighbor-graph"],
                              timeout=180, interval=0.5, what="the node documents")
        except Exception:
            cls.d.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def get(self, path, status=200):
        r = self.d.get(path)
        self.assertEqual(r.status, status, "%s: %d %r" % (path, r.status, r.body[:300]))
        return r

    def test_every_node_answers(self):
        roles = {}
        for n in self.nodes:
            roles.setdefault(n["role"], n["public_key"])
        for role, pk in roles.items():
            h = self.get("/api/nodes/%s/health" % pk).json()
            self.assertEqual(set(h), {"node", "observers", "recentPackets", "stats"}, role)
            self.assertEqual(h["node"]["public_key"], pk)
            self.assertEqual(h["stats"]["totalPackets"], h["stats"]["totalTransmissions"])
            self.assertLessEqual(len(h["recentPackets"]), 20)
            p = self.get("/api/nodes/%s/paths" % pk).json()
            self.assertEqual(set(p), {"node", "paths", "totalPaths", "totalTransmissions"})
            self.assertLessEqual(len(p["paths"]), 50)
            for days in (1, 7, 30, 365):
                a = self.get("/api/nodes/%s/analytics?days=%d" % (pk, days)).json()
                self.assertEqual(a["timeRange"]["days"], days)
                self.assertEqual(a["computedStats"]["totalPackets"], sum(b["count"] for b in a["activityTimeline"]))
            for days in (1, 7, 14, 30):
                r = self.get("/api/nodes/%s/reach?days=%d" % (pk, days)).json()
                self.assertEqual(r["window"]["days"], days)
            nb = self.get("/api/nodes/%s/neighbors" % pk).json()
            self.assertEqual(nb["node"], pk)
            self.assertEqual(nb["total_observations"], sum(e["count"] for e in nb["neighbors"]) or 0)
            cs = self.get("/api/nodes/%s/clock-skew" % pk).json()
            self.assertEqual(cs["pubkey"], pk)
            b = self.get("/api/nodes/%s/battery" % pk).json()
            self.assertIn(b["status"], ("ok", "low", "critical", "unknown"))
            det = self.get("/api/nodes/%s" % pk).json()
            self.assertIn("hash_size", det["node"])
            if role in ("repeater", "room"):
                self.assertIn("relay_count_24h", det["node"])

    def test_health_counts_match_packets(self):
        """health's totals agree with the transmissions the node's paths and analytics count."""
        pk = self.busy
        h = self.get("/api/nodes/%s/health" % pk).json()
        a = self.get("/api/nodes/%s/analytics?days=365" % pk).json()
        self.assertEqual(a["computedStats"]["totalPackets"], h["stats"]["totalTransmissions"])
        self.assertEqual(sum(o["packetCount"] for o in h["observers"]),
                         sum(o["packetCount"] for o in a["observerCoverage"]))

    def test_lists(self):
        bh = self.get("/api/nodes/bulk-health?limit=5").json()
        self.assertIsInstance(bh, list)
        self.assertEqual(len(bh), min(5, len(self.nodes)))
        self.assertEqual([e["public_key"] for e in bh], [n["public_key"] for n in
                                                        self.d.get_json("/api/nodes?limit=5")["nodes"]])
        self.assertEqual(len(self.get("/api/nodes/bulk-health?limit=1000").json()), min(200, len(self.nodes)))
        name = self.nodes[0]["name"]
        s = self.get("/api/nodes/search?q=%s" % name[:3].replace(" ", "%20")).json()
        self.assertLessEqual(len(s["nodes"]), 10)
        self.assertTrue(any(n["public_key"] == self.nodes[0]["public_key"] for n in s["nodes"])
                        or len(s["nodes"]) == 10)
        self.assertEqual(self.get("/api/nodes/search?q=%20%20").json(), {"nodes": []})
        g = self.get("/api/analytics/neighbor-graph?min_count=1&min_score=0").json()
        self.assertEqual(g["stats"]["total_edges"], len(g["edges"]))
        self.assertEqual(g["stats"]["total_nodes"], len(g["nodes"]))
        dflt = self.get("/api/analytics/neighbor-graph").json()
        self.assertLessEqual(len(dflt["edges"]), len(g["edges"]))
        self.assertTrue(all(e["weight"] >= 5 and e["score"] >= 0.1 for e in dflt["edges"]))

    def test_hops(self):
        pk = self.busy
        hops = [pk[:2], pk[:4], "zz"]
        r = self.get("/api/resolve-hops?hops=%s&from_node=%s" % (",".join(hops), pk)).json()["resolved"]
        self.assertEqual(set(r), set(hops))
        self.assertEqual(r["zz"]["confidence"], "no_match")
        self.assertTrue(any(c["pubkey"] == pk for c in r[pk[:4]]["candidates"]) or
                        r[pk[:4]]["confidence"] == "no_match")
        body = json.dumps({"prefixes": [pk[:2], pk[:2]]}).encode()
        ins = self.d.request("POST", "/api/paths/inspect", body=body, headers={"Content-Type": "application/json"})
        self.assertEqual(ins.status, 200, ins.body[:300])
        res = ins.json()
        self.assertEqual(res["input"]["hops"], 2)
        for c in res["candidates"]:
            self.assertEqual(len(c["path"]), 2)
            self.assertGreaterEqual(c["score"], 0)
        bad = self.d.request("POST", "/api/paths/inspect", body=b"{\"prefixes\":[\"abc\"]}")
        self.assertEqual(bad.status, 400)
        self.assertEqual(bad.body, b"{\"error\":\"prefixes must be even-length hex\"}\n")
        self.assertTrue(bad.header("content-type").startswith("text/plain"))
        big = self.d.request("POST", "/api/paths/inspect", body=b"{\"prefixes\":[\"aa\"]}" + b" " * 5000)
        self.assertEqual(big.status, 400)

    def test_bad_parameters(self):
        pk = self.busy
        cases = [
            ("/api/nodes/%s/analytics?days=abc" % pk, 200, 7),
            ("/api/nodes/%s/analytics?days=-1" % pk, 200, 1),
            ("/api/nodes/%s/analytics?days=99999999999999999999" % pk, 200, 7),
            ("/api/nodes/%s/analytics?days=100000" % pk, 200, 365),
            ("/api/nodes/%s/analytics?days=2" % pk, 400, None),
            ("/api/nodes/%s/reach?days=abc" % pk, 200, 7),
            ("/api/nodes/%s/reach?days=-5" % pk, 200, 1),
            ("/api/nodes/%s/reach?days=99999999999999999999" % pk, 200, 7),
            ("/api/nodes/%s/reach?days=3" % pk, 400, None),
            ("/api/nodes/%s/battery?days=abc" % pk, 200, 7),
            ("/api/nodes/%s/battery?days=-1" % pk, 200, 7),
            ("/api/nodes/%s/battery?days=99999999999999999999" % pk, 200, 7),
        ]
        for path, status, days in cases:
            r = self.d.get(path)
            self.assertEqual(r.status, status, "%s: %d %r" % (path, r.status, r.body[:200]))
            if status == 400:
                self.assertIn("days", r.json()["error"])
            elif "battery" in path:
                self.assertEqual(r.json()["days"], days)
            elif "reach" in path:
                self.assertEqual(r.json()["window"]["days"], days)
            else:
                self.assertEqual(r.json()["timeRange"]["days"], days)
        unknown = "0" * 64
        for ep, status in (("health", 404), ("paths", 404), ("analytics", 404), ("battery", 404), ("reach", 404),
                           ("clock-skew", 404), ("neighbors", 200)):
            self.get("/api/nodes/%s/%s" % (unknown, ep), status)
        for junk in ("zz", "%00", "..%2F..", "%E2%82", "a" * 300):
            for ep in ("health", "paths", "analytics", "reach", "neighbors", "clock-skew", "battery"):
                r = self.d.get("/api/nodes/%s/%s" % (junk, ep))
                self.assertIn(r.status, (200, 400, 404), "%s %s: %d" % (junk, ep, r.status))
        # an ambiguous key prefix is no key: 404 (CoreScope matches these routes exactly)
        self.get("/api/nodes/%s/health" % pk[:8], 404)
        for q in ("min_count=abc&min_score=x", "min_count=-1", "role=" + "r" * 500):
            self.get("/api/analytics/neighbor-graph?" + q)
        self.get("/api/analytics/neighbor-graph?region=%00", 400)  # a NUL byte: refused on every route
        self.get("/api/resolve-hops?hops=" + ",".join("%02x" % i for i in range(65)), 400)
        self.get("/api/nodes/bulk-health?limit=-4&region=,,ALL")
        self.d.check_alive()

    def test_fixture_shapes(self):
        pk = self.busy
        pairs = [("node-search.json", "/api/nodes/search?q=" + pk[:6]),
                 ("bulk-health.json", "/api/nodes/bulk-health"),
                 ("node-health.json", "/api/nodes/%s/health" % pk),
                 ("node-paths.json", "/api/nodes/%s/paths" % pk),
                 ("node-analytics.json", "/api/nodes/%s/analytics?days=365" % pk),
                 ("node-detail.json", "/api/nodes/%s" % pk)]
        checked = 0
        for name, path in pairs:
            fx = load_fixture(name)
            if fx is None:
                continue
            ours = self.get(path).json()
            self.assertEqual(shape_diff(fx, ours), [], "%s vs %s" % (path, name))
            checked += 1
        if checked == 0:
            self.skipTest("MESHSNAP_SHARED is not set: no reference fixtures to compare shapes with")


class GeneratedDbTest(NodeDocsChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-node-docs-", "mesh.db", nodes=120, observers=10,
                                              transmissions=3000, obs_per_tx=4.0, seed=7)
        cls.serve(cls.db, cls.tmp)

    def doc(self, path):
        r = self.get(path)
        return int(r.header("x-meshsnap-document-generation")), r.body

    def test_poll_rewrites_changed_node_only(self):
        conn = sqlite3.connect(self.db, timeout=30, isolation_level=None)
        try:
            # a node with an advert to copy, and others untouched
            row = conn.execute("SELECT raw_hex, decoded_json, from_pubkey FROM transmissions WHERE payload_type=4 "
                               "AND from_pubkey IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
            pk = row[2].lower()
            others = [n["public_key"] for n in self.nodes if n["public_key"] != pk][:6]
            docs = ["health", "analytics?days=7", "paths"]
            before = {(k, d): self.doc("/api/nodes/%s/%s" % (k, d)) for k in [pk] + others for d in docs}
            total = self.get("/api/nodes/%s/health" % pk).json()["stats"]["totalTransmissions"]
            gen0 = self.d.health()["generation"]
            obs = conn.execute("SELECT rowid FROM observers ORDER BY rowid LIMIT 1").fetchone()[0]
            now = int(time.time())
            conn.execute("BEGIN IMMEDIATE")
            cur = conn.execute("INSERT INTO transmissions (raw_hex, hash, first_seen, route_type, payload_type, "
                               "decoded_json, from_pubkey, last_seen) VALUES (?,?,?,1,4,?,?,?)",
                               (row[0], "%016x" % random.getrandbits(64), msnlib.mkdb.rfc3339(now), row[1], row[2],
                                now))
            conn.execute("INSERT INTO observations (transmission_id, observer_idx, snr, rssi, path_json, timestamp) "
                         "VALUES (?,?,5.5,-90,'[]',?)", (cur.lastrowid, obs, now))
            conn.execute("COMMIT")
        finally:
            conn.close()

        def grown():
            h = self.get("/api/nodes/%s/health" % pk).json()
            return h["stats"]["totalTransmissions"] == total + 1
        self.d.wait_for(grown, timeout=60, interval=0.2, what="the node's health to count its new advert")
        self.d.wait_for(lambda: self.doc("/api/nodes/%s/paths" % pk)[0] >= before[(pk, "paths")][0], timeout=10)
        self.assertGreater(self.d.health()["generation"], gen0)
        for d in ("health", "analytics?days=7"):
            g, body = self.doc("/api/nodes/%s/%s" % (pk, d))
            self.assertGreater(g, before[(pk, d)][0], d)
            self.assertNotEqual(body, before[(pk, d)][1], d)
        # its paths are the same (a zero-hop advert adds none): not rewritten
        self.assertEqual(self.doc("/api/nodes/%s/paths" % pk), before[(pk, "paths")])
        for k in others:
            for d in docs:
                self.assertEqual(self.doc("/api/nodes/%s/%s" % (k, d)), before[(k, d)], "%s %s" % (k, d))


    def test_new_node_gets_every_document(self):
        """A node that appears between two full passes gets its long windows, reach and
        neighbours with its first documents, not at the next full pass (an hour away here)."""
        pk = "%064x" % random.getrandbits(256)
        now = int(time.time())
        conn = sqlite3.connect(self.db, timeout=30, isolation_level=None)
        try:
            obs = conn.execute("SELECT rowid FROM observers ORDER BY rowid LIMIT 1").fetchone()[0]
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO nodes (public_key, name, role, lat, lon, last_seen, first_seen, advert_count) "
                         "VALUES (?, 'Newcomer', 'repeater', 37.5, -122.2, ?, ?, 1)",
                         (pk, msnlib.mkdb.rfc3339(now), msnlib.mkdb.rfc3339(now)))
            cur = conn.execute("INSERT INTO transmissions (raw_hex, hash, first_seen, route_type, payload_type, "
                               "decoded_json, from_pubkey, last_seen) VALUES ('1100', ?, ?, 1, 4, ?, ?, ?)",
                               ("%016x" % random.getrandbits(64), msnlib.mkdb.rfc3339(now),
                                json.dumps({"type": "ADVERT", "pubKey": pk}), pk, now))
            conn.execute("INSERT INTO observations (transmission_id, observer_idx, snr, rssi, path_json, timestamp) "
                         "VALUES (?,?,3.5,-95,'[]',?)", (cur.lastrowid, obs, now))
            conn.execute("COMMIT")
        finally:
            conn.close()
        paths = ["/api/nodes/%s/%s" % (pk, d) for d in
                 ("health", "paths", "analytics?days=1", "analytics?days=365", "reach?days=30", "clock-skew")]
        rs = self.d.wait_status(paths, timeout=60, interval=0.2, what="the new node's documents")
        self.assertEqual(rs[0].json()["stats"]["totalTransmissions"], 1)
        self.assertEqual(rs[3].json()["computedStats"]["totalPackets"], 1)
        self.assertEqual(rs[4].json()["node"]["name"], "Newcomer")
        self.assertEqual(self.get("/api/nodes/%s" % pk).json()["node"]["flood_advert_count_7d"], 1)


class E2eFixtureTest(NodeDocsChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        msnlib.fixture_path()
        msnlib.meshsnapd_path()
        cls.tmp = msnlib.make_tmpdir("msn-node-docs-e2e-")
        cls.db = msnlib.copy_fixture_db(cls.tmp, "corescope-e2e.db")
        cls.serve(cls.db, cls.tmp)

    def test_every_node_has_documents(self):
        for n in self.nodes:
            for ep in ("health", "paths", "analytics?days=365", "reach"):
                self.get("/api/nodes/%s/%s" % (n["public_key"], ep))


if __name__ == "__main__":
    unittest.main(verbosity=2)
