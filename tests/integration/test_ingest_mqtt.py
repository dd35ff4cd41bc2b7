#!/usr/bin/python3
"""test_ingest_mqtt: meshsnapd's ingestor against a real broker (Debian's mosquitto on a
free loopback port), compared with `meshsnap import` of the same messages.

  - the database the ingestor writes from published messages (synthetic receptions of
    test_import's generator with status messages and bad-signature adverts; and, when the
    reference fixtures exist, the e2e fixture's receptions) equals what
    `meshsnap import --rules corescope` writes from the same messages as import lines,
    table by table, ids included. With packet_time = message every column compares;
    with the default (receive time) every column but the times, which are then the
    ingest time. resolved_path is the one legitimate difference: the importer resolves
    with every advert of its input (a first pass), the ingestor with the nodes known when
    the message arrives (CoreScope refreshes its resolver every 60 s), so every hop the
    ingestor resolved must be a node with that prefix, the importer's choice when the
    importer made one;
  - the API shows the packets, and a new one within two poll intervals;
  - bad messages (not JSON, bad hex, unknown fields, a 1 MB payload, ...) are counted and
    skipped, the ingestor keeps running;
  - batches the database refuses are rolled back and counted as write errors, never as
    written; the brokers' resends are then written exactly once;
  - without [mqtt.NAME] brokers there is no ingestor and /api/mqtt/status answers
    CoreScope's empty shape.

Helpers: tools/mqttlib.py (broker, publisher), tools/msnlib.py (daemon), test_import.py
(the corpus generator, fixture_lines).
"""

import json
import os
import re
import sqlite3
import sys
import time
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tools"))
sys.path.insert(0, here)
import msnlib  # noqa: E402
import mqttlib  # noqa: E402
import test_import  # noqa: E402

TIME_COLS = {
    "transmissions": ("first_seen", "last_seen", "created_at"),
    "observations": ("timestamp",),
    "nodes": ("first_seen", "last_seen"),
    "observers": ("first_seen", "last_seen", "last_packet_at"),
    "observer_metrics": ("timestamp",),
    "dropped_packets": ("dropped_at",),
}
TABLES = ("transmissions", "observations", "nodes", "observers", "observer_metrics", "dropped_packets")


def dump(db, skip_times=False):
    """Every row of the compared tables, ordered by rowid; resolved_path apart."""
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        out = {}
        for t in TABLES:
            # created_at, dropped_at: the database's clock (column defaults), never equal
            skip = {"created_at", "dropped_at", "resolved_path"} | (set(TIME_COLS.get(t, ())) if skip_times else set())
            cols = [r[1] for r in c.execute("PRAGMA table_info(%s)" % t) if r[1] not in skip]
            order = "rowid" if t not in ("observer_metrics",) else "observer_id, timestamp"
            out[t] = c.execute("SELECT %s FROM %s ORDER BY %s" % (",".join(cols), t, order)).fetchall()
        out["resolved"] = dict(c.execute("SELECT id, resolved_path FROM observations"))
        return out
    finally:
        c.close()


def status_messages(observers, t0):
    """Two status messages per observer (the second overriding a few fields)."""
    out = []
    for i, oid in enumerate(sorted(observers)):
        topic = "meshcore/SJC/%s/status" % oid
        out.append((topic, json.dumps({"origin": "Observer %d" % i, "model": "Heltec V3", "firmware": "1.%d" % i,
                                       "stats": {"battery_mv": 3900 + i, "noise_floor": -112.5, "tx_air_secs": 12,
                                                 "packets_recv": 100 + i},
                                       "repeat": i % 2 == 0, "timestamp": t0 + i})))
        out.append((topic, json.dumps({"origin": "Observer %d" % i, "radio": "915.0,250,11,5",
                                       "uptime_secs": "3600", "timestamp": t0 + 400 + i})))
    return out


def bad_signature_adverts(corpus, t0):
    """Two receptions of one advert whose signature does not verify."""
    k = test_import.Ed25519Key(b"\x42" * 32)
    payload = bytearray(test_import.advert_payload(k, t0, 2, "Forged", 37.5, -122.1))
    payload[40] ^= 0xFF  # inside the signature
    raw = test_import.frame(1, 4, b"", 1, bytes(payload)).hex()
    obs = sorted(corpus.observers)[:2]
    return [("meshcore/SJC/%s/packets" % o, json.dumps({"raw": raw, "origin": "x", "timestamp": t0}))
            for o in obs]


class IngestHarness:
    """Starts a broker and a daemon whose ingestor subscribes to it."""

    def start_pair(self, mqtt_keys=None, channels=None, poll_interval_ms=200):
        mqttlib.need_broker()
        msnlib.meshsnapd_path()
        self.tmp = msnlib.make_tmpdir("msn-ingest-")
        self.broker = mqttlib.Broker(self.tmp).start()
        self.addCleanup(self.broker.stop)
        self.db = os.path.join(self.tmp, "ingest.db")
        p = msnlib.run_meshsnap("init-db", self.db)
        self.assertEqual(p.returncode, 0, p.stderr)
        mq = {"edges_interval_s": 0, "resolver_refresh_s": 1}
        mq.update(mqtt_keys or {})
        sections = {"mqtt": mq, "mqtt.test": {"url": self.broker.url, "client_id": "msn-test-ingest"}}
        if channels:
            sections["channels"] = channels
        self.d = msnlib.start_daemon(self.db, self.tmp, test=self, workers=1, poll_interval_ms=poll_interval_ms,
                                     sections=sections)
        self.wait_connected()

    def wait_connected(self, timeout=30):
        def up():
            s = self.d.get_json("/api/mqtt/status")
            return s["sources"] and all(x["connected"] for x in s["sources"])
        self.d.wait_for(up, timeout=timeout, what="the ingestor connected to the broker")

    def ingestor(self):
        return self.d.health()["ingestor"]

    def wait_ingested(self, n, timeout=120):
        def done():
            i = self.ingestor()
            return i["received"] >= n and i["pending"] == 0 and i["pid"] > 0
        self.d.wait_for(done, timeout=timeout, interval=0.1, what="%d messages ingested" % n)

    def import_same(self, messages, *args):
        path = os.path.join(self.tmp, "same-%d.jsonl" % len(messages))
        with open(path, "w") as f:
            f.write("\n".join(mqttlib.import_lines(messages)) + "\n")
        db = os.path.join(self.tmp, "import-%d.db" % time.monotonic_ns())
        p = test_import.run_import(db, path, "--rules", "corescope", *args)
        self.assertIn(p.returncode, (0, 1), p.stderr)
        return db, p

    def assert_same(self, ing, imp, skip_times):
        a, b = dump(ing, skip_times), dump(imp, skip_times)
        for t in TABLES:
            self.assertEqual(len(a[t]), len(b[t]), "%s: row counts differ" % t)
            for i, (x, y) in enumerate(zip(a[t], b[t])):
                self.assertEqual(x, y, "%s row %d differs" % (t, i))
        self.assertEqual(set(a["resolved"]), set(b["resolved"]))
        con = sqlite3.connect("file:%s?mode=ro" % ing, uri=True)
        paths = dict(con.execute("SELECT id, path_json FROM observations"))
        nodes = {r[0] for r in con.execute("SELECT public_key FROM nodes")}
        con.close()
        resolved = 0
        for oid, rp in a["resolved"].items():
            if rp is None:
                continue
            mine, theirs, hops = json.loads(rp), json.loads(b["resolved"][oid] or "null"), json.loads(paths[oid])
            self.assertEqual(len(mine), len(hops), "observation %d" % oid)
            for h, x in enumerate(mine):
                if x is None:
                    continue
                resolved += 1
                # a node with that prefix; the importer's choice when it made one (it may
                # leave a hop null that the ingestor, knowing fewer nodes then, resolved)
                self.assertIn(x, nodes)
                self.assertTrue(x.startswith(hops[h].lower()), (oid, h, x, hops[h]))
                if theirs is not None and theirs[h] is not None:
                    self.assertEqual(x, theirs[h], "observation %d hop %d" % (oid, h))
        return resolved


class EqualityTest(IngestHarness, unittest.TestCase):
    def corpus(self, n_tx, seed):
        c = test_import.generate(n_tx, seed=seed, n_nodes=50, n_observers=8, obs_per_tx=3.0, t0=1780000000)
        msgs = mqttlib.corpus_messages(c.lines)
        half = len(msgs) // 2
        msgs = msgs[:half] + status_messages(c.observers, 1780000100) + bad_signature_adverts(c, 1780000200) \
            + msgs[half:]
        return c, msgs

    def test_message_time_equals_import(self):
        """packet_time = message: every column equals the importer's, ids included."""
        self.start_pair({"packet_time": "message"})
        c, msgs = self.corpus(700, seed=11)
        mqttlib.publish(self.broker, msgs)
        self.wait_ingested(len(msgs))
        imp, p = self.import_same(msgs, "--rule", "packet_time=message")
        resolved = self.assert_same(self.db, imp, skip_times=False)
        msnlib.log("%d messages, %d hops resolved by the ingestor" % (len(msgs), resolved))
        con = sqlite3.connect(self.db)
        n_tx, = con.execute("SELECT COUNT(*) FROM transmissions").fetchone()
        n_drop, = con.execute("SELECT COUNT(*) FROM dropped_packets").fetchone()
        n_metrics, = con.execute("SELECT COUNT(*) FROM observer_metrics").fetchone()
        nulls, = con.execute("SELECT COUNT(*) FROM observations WHERE observer_idx IS NULL").fetchone()
        meta = con.execute("SELECT model, radio, uptime_secs, battery_mv, can_relay_seen FROM observers"
                           " WHERE model IS NOT NULL").fetchall()
        con.close()
        self.assertEqual(n_drop, 2)                  # one row per copy of the forged advert
        self.assertGreater(n_metrics, 0)
        self.assertEqual(nulls, 8)                   # each observer's first packet (CoreScope's order)
        self.assertEqual(len(meta), 8)
        self.assertTrue(all(m[0] == "Heltec V3" and m[1] and m[2] == 3600 and m[4] == 1 for m in meta))
        # the API serves them
        self.d.wait_for(lambda: self.d.get_json("/api/packets?limit=1")["total"] == n_tx, timeout=30,
                        what="every transmission in /api/packets")
        st = self.d.get_json("/api/mqtt/status")
        self.assertEqual(st["sources"][0]["packetsTotal"], len(msgs))
        self.assertEqual(st["sources"][0]["name"], "test")

    def test_receive_time_equals_import(self):
        """Default rules (receive time): every column but the times equals the importer's;
        the times are the ingest time."""
        self.start_pair()
        c, msgs = self.corpus(300, seed=12)
        t0 = int(time.time())
        mqttlib.publish(self.broker, msgs)
        self.wait_ingested(len(msgs))
        t1 = int(time.time()) + 1
        imp, p = self.import_same(msgs)
        self.assert_same(self.db, imp, skip_times=True)
        con = sqlite3.connect(self.db)
        for ts, in con.execute("SELECT timestamp FROM observations"):
            self.assertTrue(t0 <= ts <= t1, ts)
        last_seen = [r[0] for r in con.execute("SELECT last_seen FROM observers")]
        con.close()
        self.assertTrue(all(test_import.iso(t0) <= x <= test_import.iso(t1) for x in last_seen), last_seen)

    def test_fixture_receptions(self):
        """The e2e fixture's receptions (skipped without the reference fixtures)."""
        fixture = msnlib.fixture_path()
        lines, _rows = test_import.fixture_lines(fixture)
        msgs = mqttlib.corpus_messages(lines)
        self.start_pair({"packet_time": "message"}, channels={"hashtags": "#wardriving"})
        mqttlib.publish(self.broker, msgs)
        self.wait_ingested(len(msgs))
        imp, p = self.import_same(msgs, "--rule", "packet_time=message", "--channel", "#wardriving")
        self.assertIn("packet rejected by the decoder", p.stderr)  # the fixture's tx 465, both sides
        self.assert_same(self.db, imp, skip_times=False)
        self.assertEqual(self.ingestor()["rejected"], 1)


class ApiAndBadMessagesTest(IngestHarness, unittest.TestCase):
    def test_new_packet_visible_within_two_polls(self):
        self.start_pair(poll_interval_ms=500)
        raw = test_import.frame(1, 5, b"\x11\x22", 1, b"\x07" + bytes(range(40))).hex()
        want = test_import.content_hash(bytes.fromhex(raw))
        t0 = time.monotonic()
        mqttlib.publish(self.broker, [("meshcore/SJC/AA11/packets", json.dumps({"raw": raw, "SNR": 4}))])
        got = self.d.wait_for(lambda: self.d.get("/api/packets/%s" % want).status == 200, timeout=30,
                              interval=0.02, what="the packet in the API")
        dt = time.monotonic() - t0
        msnlib.log("published -> served in %.0f ms (poll interval 500 ms)" % (dt * 1000))
        self.assertTrue(got)
        # generous: the guarantee is two poll intervals; a loaded machine adds scheduling delay
        self.assertLess(dt, 10.0)

    def test_bad_messages(self):
        self.start_pair()
        good = test_import.frame(1, 2, b"", 1, bytes(range(30))).hex()
        bad = [
            ("meshcore/SJC/BB22/packets", "not json at all"),
            ("meshcore/SJC/BB22/packets", "[1, 2, 3]"),
            ("meshcore/SJC/BB22/packets", json.dumps({"raw": "zz11"})),
            ("meshcore/SJC/BB22/packets", json.dumps({"raw": "11"})),
            ("meshcore/SJC/BB22/packets", json.dumps({"raw": "AB" * 500000})),  # 1 MB
            ("meshcore/SJC/BB22/packets", b"\xff\xfe\x00garbage"),
            ("meshcore/SJC/BB22/packets", ""),
            ("meshcore/SJC/BB22/packets", "{\"raw\": \"11\", " * 1000),
        ]
        ignored = [
            ("meshcore/status", json.dumps({"x": 1})),
            ("meshcore/message/channel/2", json.dumps({"text": "hi"})),
        ]
        ok = [("meshcore/SJC/BB22/packets", json.dumps({"raw": good, "unknown": {"deep": [1, {"x": None}]},
                                                         "SNR": "7.5 dB", "origin": "B"}))]
        pid = self.ingestor()["pid"]
        mqttlib.publish(self.broker, bad + ignored + ok)
        self.wait_ingested(len(bad) + len(ignored) + len(ok))
        i = self.ingestor()
        self.assertEqual(i["pid"], pid)  # still the same process
        self.assertEqual(i["rejected"], len(bad))
        self.assertEqual(i["packets"], 1)
        con = sqlite3.connect(self.db)
        rows = con.execute("SELECT o.snr, t.raw_hex FROM observations o JOIN transmissions t"
                           " ON t.id = o.transmission_id").fetchall()
        con.close()
        self.assertEqual(rows, [(7.5, good)])
        log = self.d.log_text()
        self.assertIn("skipped a message on meshcore/SJC/BB22/packets: not JSON", log)
        self.assertLessEqual(log.count("skipped a message"), 2)  # sampled, not one line each
        m = self.d.get("/metrics").body.decode()
        self.assertIn("meshsnap_ingest_rejected_total %d" % len(bad), m)
        self.assertIn('meshsnap_mqtt_connected{broker="test"} 1', m)


class FailedBatchTest(IngestHarness, unittest.TestCase):
    def test_failed_batches_then_resend(self):
        """Batches that fail to commit (a trigger refuses every observation while a flag row
        exists) are rolled back, logged and counted as write errors, and count as neither
        received nor written; once the database takes writes again, the brokers' resends
        are written, every message exactly once: the database equals the importer's."""
        self.start_pair({"packet_time": "message"})
        con = sqlite3.connect(self.db)
        con.executescript("CREATE TABLE test_refuse (x); INSERT INTO test_refuse VALUES (1);"
                          "CREATE TRIGGER test_refuse_obs BEFORE INSERT ON observations"
                          " WHEN EXISTS (SELECT 1 FROM test_refuse) BEGIN SELECT RAISE(ABORT, 'test: refused'); END;")
        con.close()
        c = test_import.generate(150, seed=14, n_nodes=30, n_observers=4, obs_per_tx=3.0, t0=1780000000)
        msgs = mqttlib.corpus_messages(c.lines)
        pub = mqttlib.Publisher(self.broker, msgs).start()
        self.d.wait_for(lambda: "test: refused" in (self.ingestor().get("lastError") or ""), timeout=60,
                        what="a batch refused")
        def write_errors():
            m = re.search(r"(?m)^meshsnap_ingest_write_errors_total (\S+)$", self.d.get("/metrics").body.decode())
            return float(m.group(1)) if m else 0
        self.d.wait_for(lambda: write_errors() >= 2, timeout=60, what="two batches refused")
        i = self.ingestor()
        self.assertEqual(i["packets"], 0, "a rolled-back batch counted as written")
        self.assertEqual(i["received"], i["pending"], "a rolled-back batch counted as received")
        self.assertEqual(msnlib.sql_rows(self.db, "SELECT COUNT(*) FROM transmissions")[0][0], 0)
        con = sqlite3.connect(self.db)
        con.execute("DELETE FROM test_refuse")
        con.commit()
        con.close()
        pub.join()
        self.wait_ingested(len(msgs))
        self.d.wait_for(lambda: self.ingestor()["packets"] == len(msgs), timeout=60, what="every message written")
        i = self.ingestor()
        self.assertGreaterEqual(i["received"], len(msgs))
        self.assertIn("failed and was rolled back", self.d.log_text())
        imp, p = self.import_same(msgs, "--rule", "packet_time=message")
        self.assert_same(self.db, imp, skip_times=False)
        orphans = msnlib.sql_rows(self.db, "SELECT COUNT(*) FROM observations o LEFT JOIN transmissions t"
                                           " ON t.id = o.transmission_id WHERE t.id IS NULL")[0][0]
        self.assertEqual(orphans, 0)


class NoBrokerTest(unittest.TestCase):
    def test_no_broker_no_ingestor(self):
        msnlib.meshsnapd_path()
        tmp = msnlib.make_tmpdir("msn-ingest-none-")
        db = os.path.join(tmp, "x.db")
        msnlib.run_meshsnap("init-db", db)
        d = msnlib.start_daemon(db, tmp, test=self, workers=1)
        self.assertEqual(d.get_json("/api/mqtt/status"), {"sources": [], "sampleAt": ""})
        h = d.health()
        self.assertFalse(h["ingestor"]["enabled"])
        self.assertEqual(h["ingestor"]["pid"], 0)
        self.assertNotIn("started ingestor", d.log_text())


if __name__ == "__main__":
    msnlib.main(EqualityTest, ApiAndBadMessagesTest, FailedBatchTest, NoBrokerTest)
