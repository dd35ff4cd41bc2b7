#!/usr/bin/python3
"""test_pages_api: the observer, channel and packet-tool endpoints and the analytics pages'
remaining ones, on a real meshsnapd, against SQL truth computed here with CoreScope's own
queries and rules:

  /api/observers/:id, /:id/analytics, /:id/metrics, /api/observers/metrics/summary,
  /api/channels, /api/channels/:hash/messages, /api/known-channels,
  /api/packets/timestamps, POST /api/packets/observations, POST /api/decode,
  /api/traces/:hash, /api/analytics/{relay-airtime-share,subpaths-bulk,subpath-detail},
  /api/scope-stats, /api/audio-lab/buckets

On a generated database (mkdb, every row within the last 3 days, plus observer_metrics
rows written here) and, when the reference fixtures exist (MESHSNAP_SHARED), on a copy of
CoreScope's end-to-end database, where the shapes are also compared with the recorded
CoreScope answers (fixtures/corescope-api/*.json). New rows written while the daemon runs
show up (timestamps, channel messages, channel counts). Bad parameters get CoreScope's
answer or a 400 naming them, and never take a worker down (Daemon.stop checks).
"""

import json
import os
import sqlite3
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import mkdb  # noqa: E402
import msnlib  # noqa: E402
import test_core_api  # noqa: E402
from test_core_api import load_golden, shape_errors  # noqa: E402

# values CoreScope's shapes type as strings or numbers that are null for some rows
test_core_api.NULLABLE_KEYS |= {"lastMessage", "lastSender", "sender_timestamp"}

PRECOMPUTED = ["/api/analytics/relay-airtime-share", "/api/scope-stats",
               "/api/analytics/subpaths-bulk?groups=2-2:50,3-3:30,4-4:20,5-8:15", "/api/audio-lab/buckets",
               "/api/observers/metrics/summary?window=24h"]


def q(s):
    return urllib.parse.quote(s, safe="")


def add_metrics(db, now):
    """observer_metrics rows for the first three observers: every 5 minutes over a day,
    cumulative counters, one reboot, a few gaps and null noise floors."""
    conn = sqlite3.connect(db)
    ids = [r[0] for r in conn.execute("SELECT id FROM observers ORDER BY rowid LIMIT 3")]
    rows = []
    for k, oid in enumerate(ids):
        c = 0
        for i in range(288, -1, -1):
            if i % 40 == 3:
                continue
            t = (now // 300 - i) * 300
            c = 0 if (k == 0 and i == 100) else c + 1
            nf = None if i % 11 == 0 else -112.0 + (i * 7 + k) % 90 / 10.0
            rows.append((oid, mkdb.rfc3339(t), nf, c * 2, c * 25, c, 3600 + i, c * 3, c * 60))
    conn.executemany("INSERT OR REPLACE INTO observer_metrics VALUES (?,?,?,?,?,?,?,?,?)", rows)
    conn.commit()
    conn.close()


def split_sender(text):
    """CoreScope's message text rule: a ': ' at byte offset 1..49 splits sender and text."""
    raw = text.encode()
    idx = raw.find(b": ")
    if 0 < idx < 50:
        return raw[:idx].decode(), raw[idx + 2:].decode()
    return None, text


class Truth:
    def __init__(self, db):
        self.conn = sqlite3.connect(db)
        self.conn.row_factory = sqlite3.Row

    def close(self):
        self.conn.close()

    def channels(self, encrypted=False):
        c = self.conn
        out = []
        like = "LIKE" if encrypted else "NOT LIKE"
        for r in c.execute("SELECT channel_hash, COUNT(*) n, MAX(first_seen) last FROM transmissions "
                           "WHERE payload_type = 5 AND channel_hash IS NOT NULL AND channel_hash %s 'enc_%%' "
                           "GROUP BY channel_hash" % like):
            if not r["channel_hash"]:
                continue
            d = {"hash": r["channel_hash"], "messageCount": r["n"], "lastActivity": r["last"]}
            if encrypted:
                d.update(name="Encrypted (0x%s)" % r["channel_hash"][4:], lastMessage=None, lastSender=None,
                         encrypted=True)
            else:
                d["name"] = r["channel_hash"]
                d["lastMessage"] = d["lastSender"] = None
                newest = [x["decoded_json"] for x in c.execute(
                    "SELECT decoded_json FROM transmissions WHERE channel_hash = ? AND payload_type = 5 "
                    "AND first_seen = ?", (r["channel_hash"], r["last"]))]
                try:
                    dec = json.loads(newest[-1]) if newest and newest[-1] else None
                except ValueError:
                    dec = None
                if isinstance(dec, dict) and isinstance(dec.get("text"), str) and dec["text"]:
                    t = dec["text"]
                    i = t.find(": ")
                    d["lastMessage"] = t[i + 2:] if i > 0 else t
                    if isinstance(dec.get("sender"), str):
                        d["lastSender"] = dec["sender"]
            out.append(d)
        out.sort(key=lambda d: (d["lastActivity"] or ""), reverse=True)
        return out

    def channel_messages(self, ch, limit, offset=0):
        """GetChannelMessages with CoreScope's own page query (no region)."""
        c = self.conn
        total = c.execute("SELECT COUNT(*) FROM transmissions WHERE channel_hash = ? AND payload_type = 5",
                          (ch,)).fetchone()[0]
        page = [r[0] for r in c.execute(
            "SELECT t.id, COALESCE((SELECT MAX(timestamp) FROM observations WHERE transmission_id = t.id), 0) le "
            "FROM transmissions t WHERE t.channel_hash = ? AND t.payload_type = 5 "
            "ORDER BY le DESC, t.id DESC LIMIT ? OFFSET ?", (ch, limit, offset))]
        msgs = []
        for tid in page:
            obs = c.execute("SELECT o.id, o.snr, o.path_json, o.timestamp, obs.id oid, obs.name oname, t.hash, "
                            "t.decoded_json, t.first_seen FROM observations o JOIN transmissions t "
                            "ON t.id = o.transmission_id LEFT JOIN observers obs ON obs.rowid = o.observer_idx "
                            "WHERE t.id = ? ORDER BY o.id", (tid,)).fetchall()
            if not obs or obs[0]["decoded_json"] is None:
                continue
            try:
                dec = json.loads(obs[0]["decoded_json"])
            except ValueError:
                continue
            if dec is not None and not isinstance(dec, dict):
                continue
            dec = dec or {}
            text = dec.get("text") if isinstance(dec.get("text"), str) else ""
            sender = dec.get("sender") if isinstance(dec.get("sender"), str) else ""
            s2, t2 = split_sender(text)
            first = obs[0]
            hops = 0
            try:
                h = json.loads(first["path_json"]) if first["path_json"] else None
                hops = len(h) if isinstance(h, list) else 0
            except ValueError:
                pass
            latest = max(o["timestamp"] for o in obs)
            msgs.append((latest, tid, {
                "first_seen": first["first_seen"], "hops": hops,
                "observers": [first["oname"]] if first["oname"] is not None else
                ([first["oid"]] if first["oid"] is not None else []),
                "packetHash": first["hash"], "packetId": first["id"], "repeats": len(obs),
                "sender": s2 if s2 is not None else sender, "sender_timestamp": dec.get("sender_timestamp"),
                "snr": first["snr"], "text": t2,
                "timestamp": mkdb.rfc3339(latest) if latest > 0 else first["first_seen"]}))
        msgs.sort(key=lambda m: (m[0], m[1]))
        return {"messages": [m[2] for m in msgs], "total": total}

    def traces(self, h):
        return [{"observer": r["oid"], "observer_name": r["oname"], "path_json": r["path_json"],
                 "rssi": r["rssi"], "snr": r["snr"], "time": r["t"]}
                for r in self.conn.execute(
                    "SELECT obs.id oid, obs.name oname, strftime('%Y-%m-%dT%H:%M:%fZ', o.timestamp, 'unixepoch') t, "
                    "o.snr, o.rssi, o.path_json FROM observations o JOIN transmissions t "
                    "ON t.id = o.transmission_id LEFT JOIN observers obs ON obs.rowid = o.observer_idx "
                    "WHERE t.hash = ? ORDER BY o.timestamp, o.id", (h.lower(),))]

    def metrics(self, oid, since, bucket=300):
        rows = [dict(r) for r in self.conn.execute(
            "SELECT * FROM observer_metrics WHERE observer_id = ? AND timestamp >= ? ORDER BY timestamp",
            (oid, since))]
        if bucket != 300:
            last = {}
            for r in rows:
                b = mkdb.rfc3339(int(mkdb.parse_rfc3339(r["timestamp"])) // bucket * bucket)
                last[b] = dict(r, timestamp=b)
            rows = [last[k] for k in sorted(last)]
        out, reboots = [], []
        for i, r in enumerate(rows):
            s = {"timestamp": r["timestamp"], "noise_floor": r["noise_floor"], "battery_mv": r["battery_mv"],
                 "tx_airtime_pct": None, "rx_airtime_pct": None, "recv_error_rate": None}
            if i > 0:
                p = rows[i - 1]
                dt = mkdb.parse_rfc3339(r["timestamp"]) - mkdb.parse_rfc3339(p["timestamp"])
                if 0 < dt <= bucket * 2:
                    keys = ["tx_air_secs", "rx_air_secs", "recv_errors", "packets_sent", "packets_recv"]
                    if any(r[k] is not None and p[k] is not None and r[k] < p[k] for k in keys):
                        s["is_reboot_sample"] = True
                        reboots.append(r["timestamp"])
                    else:
                        for k, out_k in (("tx_air_secs", "tx_airtime_pct"), ("rx_air_secs", "rx_airtime_pct")):
                            if r[k] is not None and p[k] is not None:
                                pct = min(100.0, max(0.0, (r[k] - p[k]) / dt * 100.0))
                                s[out_k] = round(pct * 100) / 100
                        de, dr = r["recv_errors"] - p["recv_errors"], r["packets_recv"] - p["packets_recv"]
                        if de + dr > 0:
                            s["recv_error_rate"] = round(de / (de + dr) * 100.0 * 100) / 100
            out.append(s)
        return out, reboots


class PagesChecks:
    """The checks; a subclass sets cls.d (a ready Daemon), cls.db and cls.truth."""

    d = None
    truth = None
    db = None

    def get(self, path, status=200):
        r = self.d.get(path)
        self.assertEqual(r.status, status, "GET %s: status %d, body %r" % (path, r.status, r.body[:300]))
        self.assertIn("application/json", r.header("content-type", ""), path)
        return r.json()

    def post(self, path, body, status=200):
        r = self.d.request("POST", path, body=body.encode() if isinstance(body, str) else body,
                           headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, status, "POST %s: status %d, body %r" % (path, r.status, r.body[:300]))
        return r.json()

    def observers(self):
        return [dict(r) for r in self.truth.conn.execute("SELECT rowid, * FROM observers ORDER BY rowid")]

    # -- observers ----------------------------------------------------------------------------

    def test_observer_detail(self):
        listed = {o["id"]: o for o in self.get("/api/observers")["observers"]}
        for o in self.observers()[:8]:
            d = self.get("/api/observers/" + q(o["id"]))
            self.assertEqual(d["id"], o["id"])
            for k in ("name", "iata", "last_seen", "first_seen", "packet_count", "model", "firmware", "radio",
                      "battery_mv", "uptime_secs", "noise_floor"):
                self.assertEqual(d[k], o.get(k), k)
            self.assertIsNone(d["lat"])
            self.assertIsNone(d["nodeRole"])
            if o["id"] in listed:
                self.assertAlmostEqual(d["packetsLastHour"], listed[o["id"]]["packetsLastHour"], delta=3)
        self.assertEqual(self.get("/api/observers/no-such-observer", 404), {"error": "Observer not found"})

    def observer_truth(self, oid, days):
        rowid = [o["rowid"] for o in self.observers() if o["id"] == oid][0]
        return self.truth.conn.execute(
            "SELECT o.id, o.timestamp, o.snr, t.payload_type FROM observations o JOIN transmissions t "
            "ON t.id = o.transmission_id WHERE o.observer_idx = ? AND o.timestamp >= ?",
            (rowid, time.time() - days * 86400)).fetchall()

    def test_observer_analytics(self):
        oid = self.busiest_observer()
        path = "/api/observers/%s/analytics?days=7" % q(oid)
        # published, and recomputed soon after the observer's data changed (another test may
        # have added rows): wait until it shows what the database holds
        deadline = time.time() + 60
        while True:
            d = self.get(path)
            rows = self.observer_truth(oid, 7)
            if sum(b["count"] for b in d["timeline"]) == len(rows) or time.time() > deadline:
                break
            time.sleep(0.5)
        self.assertEqual(list(d), ["timeline", "packetTypes", "nodesTimeline", "snrDistribution", "recentPackets"])
        self.assertEqual(sum(b["count"] for b in d["timeline"]), len(rows))
        types = {}
        for r in rows:
            if r["payload_type"] is not None:
                types[str(r["payload_type"])] = types.get(str(r["payload_type"]), 0) + 1
        self.assertEqual(d["packetTypes"], types)
        self.assertEqual(sum(b["count"] for b in d["snrDistribution"]), sum(1 for r in rows if r["snr"] is not None))
        newest = sorted(rows, key=lambda r: (r["timestamp"], r["id"]), reverse=True)[:20]
        self.assertEqual([p["id"] for p in d["recentPackets"]], [r["id"] for r in newest])
        for p in d["recentPackets"]:
            self.assertEqual(list(p), sorted(p))  # a Go map
            self.assertEqual(p["observer_id"], oid)
        # the dashboard's day counts are published; another one is computed on request
        for days in (1, 3, 30):
            self.get("/api/observers/%s/analytics?days=%d" % (q(oid), days))
        self.wait_computed("/api/observers/%s/analytics?days=12" % q(oid))

    def wait_computed(self, path):
        """GET of a shape computed on request: 503 with Retry-After at first, then 200."""
        r = self.d.get(path)
        if r.status == 503:
            self.assertTrue(r.header("retry-after"))
            self.d.wait_status([path], 200, timeout=60, interval=0.3, what="an on-demand shape: " + path)
        return self.get(path)

    def busiest_observer(self):
        return self.truth.conn.execute(
            "SELECT obs.id FROM observations o JOIN observers obs ON obs.rowid = o.observer_idx "
            "GROUP BY obs.id ORDER BY COUNT(*) DESC LIMIT 1").fetchone()[0]

    def test_observer_metrics(self):
        ids = [r[0] for r in self.truth.conn.execute("SELECT DISTINCT observer_id FROM observer_metrics")]
        if not ids:
            self.skipTest("no observer_metrics rows in this database")
        since = mkdb.rfc3339(int(time.time()) - 6 * 3600)
        for oid in ids:
            for res, bucket in (("5m", 300), ("1h", 3600)):
                d = self.get("/api/observers/%s/metrics?since=%s&resolution=%s" % (q(oid), since, res))
                want, reboots = self.truth.metrics(oid, since, bucket)
                self.assertEqual(d["metrics"], want, "%s %s" % (oid, res))
                self.assertEqual(d["reboots"], reboots)
                self.assertEqual(d["observer_id"], oid)
        self.assertEqual(self.get("/api/observers/%s/metrics?resolution=4h" % q(ids[0]), 400),
                         {"error": "invalid resolution: 4h. Must be 5m, 1h, or 1d"})

    def test_metrics_summary(self):
        d = self.get("/api/observers/metrics/summary?window=24h")
        since = mkdb.rfc3339(int(time.time()) - 86400)
        want = {r[0]: r[1] for r in self.truth.conn.execute(
            "SELECT observer_id, COUNT(*) FROM observer_metrics WHERE timestamp >= ? GROUP BY observer_id",
            (since,))}
        got = {o["observer_id"]: o["sample_count"] for o in d["observers"]}
        self.assertEqual(set(got), set(want))
        for k in got:
            self.assertAlmostEqual(got[k], want[k], delta=1)  # a sample may cross the edge meanwhile
        maxes = [o["max_noise_floor_24h"] for o in d["observers"] if o["max_noise_floor_24h"] is not None]
        self.assertEqual(maxes, sorted(maxes, reverse=True))
        for o in d["observers"]:
            self.assertEqual(len(o["sparkline"]), o["sample_count"])
        # the RF Health tab's ranges are published
        for w in ("1h", "3h", "6h", "12h", "3d", "7d", "30d"):
            self.get("/api/observers/metrics/summary?window=" + w)
        self.assertEqual(self.get("/api/observers/metrics/summary?window=fortnight", 400),
                         {"error": "invalid window: fortnight"})

    # -- channels -----------------------------------------------------------------------------

    def test_channels(self):
        got = self.get("/api/channels")["channels"]
        want = self.truth.channels()
        self.assertEqual(sorted(got, key=lambda c: c["hash"]), sorted(want, key=lambda c: c["hash"]))
        acts = [c["lastActivity"] for c in got]
        self.assertEqual(acts, sorted(acts, reverse=True))
        for c in got:
            self.assertEqual(list(c), sorted(c))
        enc = self.get("/api/channels?includeEncrypted=true")["channels"]
        self.assertEqual(enc[:len(got)], got)
        self.assertEqual(sorted(enc[len(got):], key=lambda c: c["hash"]),
                         sorted(self.truth.channels(encrypted=True), key=lambda c: c["hash"]))
        # a region counts its observers' observations
        iata = self.truth.conn.execute("SELECT iata FROM observers WHERE iata IS NOT NULL AND iata != '' "
                                       "GROUP BY iata ORDER BY COUNT(*) DESC LIMIT 1").fetchone()
        if iata:
            reg = self.get("/api/channels?region=" + q(iata[0].lower()))["channels"]
            want = {r[0]: r[1] for r in self.truth.conn.execute(
                "SELECT t.channel_hash, COUNT(*) FROM transmissions t JOIN observations o "
                "ON o.transmission_id = t.id JOIN observers obs ON obs.rowid = o.observer_idx "
                "WHERE t.payload_type = 5 AND t.channel_hash IS NOT NULL AND t.channel_hash NOT LIKE 'enc_%' "
                "AND UPPER(TRIM(obs.iata)) = ? GROUP BY t.channel_hash", (iata[0].strip().upper(),))}
            self.assertEqual({c["hash"]: c["messageCount"] for c in reg}, {k: v for k, v in want.items() if k})
        self.assertEqual(self.get("/api/channels?region=NOWHERE"), {"channels": []})

    def test_channel_messages(self):
        chans = self.truth.channels() + self.truth.channels(encrypted=True)
        self.assertTrue(chans)
        for ch in sorted(chans, key=lambda c: -c["messageCount"])[:3]:
            for limit, offset in ((200, 0), (7, 0), (7, 7)):
                got = self.get("/api/channels/%s/messages?limit=%d&offset=%d" % (q(ch["hash"]), limit, offset))
                self.assertEqual(got, self.truth.channel_messages(ch["hash"], limit, offset), ch["hash"])
        self.assertEqual(self.get("/api/channels/no-such-channel/messages"), {"messages": [], "total": 0})

    def test_known_channels(self):
        self.assertEqual(self.get("/api/known-channels"),
                         {"fetchedAt": "0001-01-01T00:00:00Z", "source": "", "entries": []})

    # -- packets ------------------------------------------------------------------------------

    def test_timestamps(self):
        newest = self.truth.conn.execute("SELECT MAX(first_seen) FROM transmissions").fetchone()[0]
        since = mkdb.rfc3339(int(mkdb.parse_rfc3339(newest)) - 6 * 3600)
        got = self.get("/api/packets/timestamps?since=" + q(since))
        want = [r[0] for r in self.truth.conn.execute(
            "SELECT first_seen FROM transmissions WHERE first_seen > ? ORDER BY first_seen, id", (since,))]
        self.assertEqual(got, want)
        self.assertEqual(self.get("/api/packets/timestamps?since=2999-01-01T00:00:00Z"), [])
        self.assertEqual(self.get("/api/packets/timestamps", 400), {"error": "since required"})

    def test_observations_post(self):
        hashes = [r[0] for r in self.truth.conn.execute("SELECT hash FROM transmissions ORDER BY id DESC LIMIT 5")]
        body = json.dumps({"hashes": hashes + ["not-a-hash", hashes[0].upper()]})
        got = self.post("/api/packets/observations", body)["results"]
        self.assertEqual(list(got), sorted(set(hashes + ["not-a-hash", hashes[0].upper()])))
        for h in hashes:
            self.assertEqual(got[h], self.get("/api/packets/" + h)["observations"])
        self.assertEqual(got["not-a-hash"], [])
        self.assertEqual(self.post("/api/packets/observations", "{oops", 400), {"error": "invalid JSON body"})
        self.assertEqual(self.post("/api/packets/observations", json.dumps({"hashes": ["a"] * 201}), 400),
                         {"error": "too many hashes (max 200)"})
        # a body over the request limit is refused before any handler
        r = self.d.request("POST", "/api/packets/observations", body=b"{\"hashes\":[" + b" " * 70000 + b"]}")
        self.assertIn(r.status, (400, 413))

    def test_decode(self):
        for raw, pt in self.truth.conn.execute(
                "SELECT raw_hex, payload_type FROM transmissions GROUP BY payload_type ORDER BY payload_type"):
            d = self.post("/api/decode", json.dumps({"hex": raw}))["decoded"]
            self.assertEqual(list(d), ["header", "path", "payload"])
            self.assertEqual(d["header"]["payloadType"], pt)
            self.assertEqual(d["header"]["routeType"], int(raw[:2], 16) & 3)
            self.assertIsInstance(d["path"]["hops"], list)
        for body in ("{\"hex\":\"zz\"}", "{\"hex\":\"\"}", "[]", "{\"hex\":[1]}"):
            err = self.post("/api/decode", body, 400)
            self.assertIsInstance(err["error"], str)

    def test_traces(self):
        for (h,) in self.truth.conn.execute("SELECT hash FROM transmissions ORDER BY id DESC LIMIT 5"):
            self.assertEqual(self.get("/api/traces/" + h.upper())["traces"], self.truth.traces(h))
        self.assertEqual(self.get("/api/traces/ffffffffffffffff"), {"traces": []})

    # -- analytics pages ----------------------------------------------------------------------

    def test_analytics_pages(self):
        ra = self.get("/api/analytics/relay-airtime-share")
        n_hashes = self.truth.conn.execute(
            "SELECT COUNT(DISTINCT hash) FROM transmissions WHERE payload_type IS NOT NULL").fetchone()[0]
        self.assertEqual(ra["total_count"], n_hashes)
        self.assertEqual(sum(r["count"] for r in ra["rows"]), n_hashes)
        self.assertEqual(sum(r["score"] for r in ra["rows"]), ra["total_score"])
        self.assertEqual(ra["preset"], {"freq_hz": 869600000, "bw_khz": 62.5, "sf": 8, "cr": 5, "preamble": 32})
        bulk = self.get("/api/analytics/subpaths-bulk?groups=2-2:50,3-3:30,4-4:20,5-8:15")
        self.assertEqual(len(bulk["results"]), 4)
        for res, top in zip(bulk["results"], (50, 30, 20, 15)):
            self.assertLessEqual(len(res["subpaths"]), top)
        first = next((r["subpaths"][0] for r in bulk["results"] if r["subpaths"]), None)
        if first:
            det = self.wait_computed("/api/analytics/subpath-detail?hops=" + q(",".join(first["rawHops"])))
            self.assertEqual(det["hops"], first["rawHops"])
            self.assertGreaterEqual(det["totalMatches"], 1)
            self.assertEqual(len(det["hourDistribution"]), 24)
            self.assertEqual(sum(det["hourDistribution"]), det["totalMatches"])
        for w in ("1h", "24h", "7d"):
            ss = self.get("/api/scope-stats?window=" + w)
            self.assertEqual(ss["window"], w)
        ss = self.get("/api/scope-stats?window=7d")
        since = mkdb.rfc3339(int(time.time()) - 7 * 86400)
        transport = self.truth.conn.execute(
            "SELECT COUNT(*), COUNT(scope_name) FROM transmissions WHERE route_type IN (0, 3) AND first_seen >= ?",
            (since,)).fetchone()
        self.assertEqual([ss["summary"]["transportTotal"], ss["summary"]["scoped"]], list(transport))
        self.assertEqual(self.get("/api/scope-stats?window=2d", 400), {"error": "window must be 1h, 24h, or 7d"})
        al = self.get("/api/audio-lab/buckets")["buckets"]
        self.assertEqual(list(al), sorted(al))
        for picks in al.values():
            self.assertLessEqual(len(picks), 8)
            lens = [len(p["raw_hex"]) for p in picks]
            self.assertEqual(lens, sorted(lens))

    def test_bad_parameters(self):
        """Never a crash: CoreScope's answer or a 400 naming the parameter."""
        oid = q(self.observers()[0]["id"])
        cases = [
            ("/api/observers/%s/analytics?days=abc" % oid, (200,)),
            ("/api/observers/%s/analytics?days=-1" % oid, (200, 503)),
            ("/api/observers/%s/analytics?days=999999999999999999999" % oid, (200,)),
            ("/api/observers/%s/metrics?since=nonsense" % oid, (400,)),
            ("/api/observers/%s/metrics?until=2026-13-45" % oid, (400,)),
            ("/api/observers/metrics/summary?window=-" , (400,)),
            ("/api/observers/metrics/summary?window=1e400h", (400,)),
            ("/api/channels/%23test/messages?limit=abc&offset=xyz", (200,)),
            ("/api/channels/%23test/messages?limit=99999999999999999999", (400,)),
            ("/api/channels?region=" + "A," * 40, (400,)),
            ("/api/packets/timestamps?since=%00", (400,)),
            ("/api/analytics/subpaths-bulk?groups=2-2:50," + "x" * 200, (200,)),
            ("/api/analytics/subpath-detail?hops=" + "ab," * 60, (400,)),
            ("/api/traces/" + "a" * 300, (200,)),
            ("/api/observers/" + "x" * 600, (404,)),
            ("/api/analytics/relay-airtime-share?window=forever", (400,)),
        ]
        for path, statuses in cases:
            r = self.d.get(path)
            self.assertIn(r.status, statuses, "%s: %d %r" % (path, r.status, r.body[:200]))
            body = r.json()
            if r.status == 400:
                self.assertIn("error", body)
        self.d.check_alive()

    # -- shapes against CoreScope's recorded answers --------------------------------------------

    def test_shapes(self):
        golden = load_golden()
        if golden is None:
            self.skipTest("MESHSNAP_SHARED is not set: no golden shapes")
        chans = self.get("/api/channels")
        self.assertEqual(shape_errors(chans, golden["channels"]), [])
        big = max(self.truth.channels(), key=lambda c: c["messageCount"])
        msgs = self.get("/api/channels/%s/messages?limit=50" % q(big["hash"]))
        self.assertEqual(shape_errors(msgs, golden["channel_messages"]), [])
        fixtures = os.path.join(msnlib.shared_dir(), "fixtures", "corescope-api")

        def fixture(name):
            with open(os.path.join(fixtures, name)) as f:
                return json.load(f)

        def keys_cover(ours, theirs, what, except_keys=()):
            missing = set(theirs) - set(ours) - set(except_keys)
            self.assertEqual(missing, set(), what)

        oid = self.busiest_observer()
        keys_cover(self.get("/api/observers/" + q(oid)), fixture("observer-detail.json"), "observer detail")
        # a year: the fixture's rows may be older than the published day counts reach
        oa, fa = self.wait_computed("/api/observers/%s/analytics?days=365" % q(oid)), fixture("observer-analytics.json")
        keys_cover(oa, fa, "observer analytics")
        keys_cover(oa["timeline"][0], fa["timeline"][0], "timeline")
        # the fixture is the older Node server's: CoreScope's Go enrichObs has no transmission_id
        keys_cover(oa["recentPackets"][0], fa["recentPackets"][0], "recentPackets", ("transmission_id",))
        keys_cover(chans["channels"][0], fixture("channels.json")["channels"][0], "channels")
        keys_cover(msgs["messages"][0], fixture("channel-messages.json")["messages"][0], "messages")
        ts = self.get("/api/packets/timestamps?since=2000-01-01T00:00:00Z")
        self.assertIsInstance(ts, list)
        self.assertTrue(all(isinstance(t, str) for t in ts))
        sp = fixture("analytics-subpaths.json")
        for res in self.get("/api/analytics/subpaths-bulk?groups=2-2:50,3-3:30,4-4:20,5-8:15")["results"]:
            keys_cover(res, sp, "subpaths-bulk result")
            if res["subpaths"]:
                keys_cover(res["subpaths"][0], sp["subpaths"][0], "subpath")


class GeneratedTest(PagesChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-pages-", "pages.db", nodes=150, observers=12,
                                              transmissions=3000, obs_per_tx=4, days=3, seed=7)
        add_metrics(cls.db, int(time.time()))
        cls.d = msnlib.start_daemon(cls.db, cls.tmp, timeout=60, workers=2, poll_interval_ms=200)
        try:
            cls.d.wait_status(PRECOMPUTED, 200, timeout=120, interval=0.3, what="the analytics to be published")
        except Exception:
            cls.d.cleanup()
            raise
        cls.truth = Truth(cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.truth.close()
        cls.d.stop()

    def test_live_updates(self):
        """New rows show up: timestamps, channel messages and counts."""
        before = self.get("/api/channels")["channels"]
        rows = mkdb.append_transmissions(self.db, count=6, obs_per_tx=2, payload_type=5, seed=99)
        newest = max(r["first_seen"] for r in rows)
        since = mkdb.rfc3339(int(mkdb.parse_rfc3339(newest)) - 1)
        deadline = time.time() + 20
        while time.time() < deadline:
            if newest in self.get("/api/packets/timestamps?since=" + q(since)):
                break
            time.sleep(0.2)
        else:
            self.fail("the new transmissions never showed in /api/packets/timestamps")
        # the channel counts and pages follow the database
        deadline = time.time() + 20
        while time.time() < deadline:
            got = self.get("/api/channels")["channels"]
            if sorted(got, key=lambda c: c["hash"]) == sorted(self.truth.channels(), key=lambda c: c["hash"]):
                break
            time.sleep(0.2)
        else:
            self.fail("channels never matched the database: %r" % got)
        self.assertNotEqual(got, before)
        ch = self.truth.conn.execute("SELECT channel_hash FROM transmissions WHERE id = ?",
                                     (rows[0]["id"],)).fetchone()[0]
        self.assertEqual(self.get("/api/channels/%s/messages?limit=20" % q(ch)),
                         self.truth.channel_messages(ch, 20))


class E2eFixtureTest(PagesChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        msnlib.fixture_path()
        msnlib.meshsnapd_path()
        cls.tmp = msnlib.make_tmpdir("msn-pages-e2e-")
        cls.db = msnlib.copy_fixture_db(cls.tmp, "corescope-e2e.db")
        cls.d = msnlib.start_daemon(cls.db, cls.tmp, workers=2, poll_interval_ms=200)
        try:
            cls.d.wait_migrations_done(4, timeout=120, interval=0.2)
            n_obs = msnlib.sql_value(cls.db, "SELECT COUNT(*) FROM observations")
            cls.d.wait_health(lambda h: not h.get("stale") and not h.get("async_migrations_running")
                              and h.get("loadedObs") == n_obs, timeout=120, interval=0.2,
                              what="a generation after the migrations")
            cls.d.wait_status(PRECOMPUTED[:4], 200, timeout=120, interval=0.3, what="the analytics")
        except Exception:
            cls.d.cleanup()
            raise
        cls.truth = Truth(cls.db)

    @classmethod
    def tearDownClass(cls):
        if cls.truth:
            cls.truth.close()
        cls.d.stop()


if __name__ == "__main__":
    msnlib.main(GeneratedTest, E2eFixtureTest)
