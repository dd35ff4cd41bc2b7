#!/usr/bin/python3
"""test_core_api: the core read API of meshsnapd against SQL truth.

A synthetic database (mkdb) is served by a real meshsnapd with 2 workers on a free
loopback port. Every answer of /api/healthz, /api/stats, /api/packets (each filter,
ordering, paging, the limit clamp), /api/packets/{hash|id}, /api/nodes (each filter and
sort, paging, the clamp), /api/nodes/{pubkey}, /api/observers is compared with what the
database holds, computed here with sqlite3. Also: the error statuses (400/404/405), the
meshsnap/CoreScope headers on every answer, the JSON shapes of the CoreScope API spec, and
keep-alive.

The checks live in CoreApiChecks so that test_core_e2e can run them against a copy of the
real CoreScope fixture database.
"""

import json
import os
import re
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import mkdb  # noqa: E402
import msnlib  # noqa: E402

PACKETS_MAX = 10000
NODES_MAX = 2000
DEFAULT_LIMIT = 50
ROLE_KEYS = [("repeater", "repeaters"), ("room", "rooms"), ("companion", "companions"), ("sensor", "sensors")]
LAST_HEARD = {"1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}

# Minimal shapes (spec §3.1-§3.8); the golden shapes file is used too when present.
HEALTHZ_KEYS = ["ready", "loadedTx", "loadedObs", "generation", "snapshotAgeSec", "stale", "phase",
                "loadProgress", "workers", "from_pubkey_backfill", "async_migrations",
                "async_migrations_running"]
STATS_KEYS = ["totalPackets", "totalTransmissions", "totalObservations", "totalNodes", "totalNodesAllTime",
              "totalObservers", "packetsLastHour", "packetsLast24h", "counts"]
PACKET_KEYS = ["id", "raw_hex", "hash", "first_seen", "timestamp", "route_type", "payload_type",
               "decoded_json", "observation_count", "observer_id", "observer_name", "snr", "rssi",
               "path_json"]
NODE_KEYS = ["public_key", "name", "role", "lat", "lon", "last_seen", "first_seen", "advert_count",
             "battery_mv", "temperature_c", "last_heard", "hash_size", "hash_size_inconsistent"]
OBSERVER_KEYS = ["id", "name", "iata", "last_seen", "first_seen", "packet_count", "model", "firmware",
                 "client_version", "radio", "battery_mv", "uptime_secs", "noise_floor", "packetsLastHour",
                 "lat", "lon", "nodeRole"]
# keys the golden shapes list but CoreScope omits in some rows
OPTIONAL_KEYS = {"hash_sizes_seen"}
# values the golden shapes type as number/string but which are NULL in some databases
NULLABLE_KEYS = {"hash_size", "lat", "lon", "name", "role", "observer_id", "observer_name", "iata", "last_seen",
                 "first_seen", "route_type", "payload_type", "decoded_json", "path_json"}

ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def iso_of_epoch(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))


def hops_of(path_json):
    """The hop list of a path_json value ([] when NULL, empty or invalid)."""
    if not path_json:
        return []
    try:
        v = json.loads(path_json)
    except ValueError:
        return []
    return v if isinstance(v, list) else []


def ts_of(text):
    """RFC3339 text -> epoch seconds (float); None stays None."""
    return None if text is None else mkdb.parse_rfc3339(text)


class Truth:
    """The database's content, read once with sqlite3, plus the expected answers."""

    def __init__(self, db_path):
        self.path = db_path
        self.conn = msnlib.sql_connect(db_path)
        c = self.conn
        self.observers = {r["rowid"]: dict(r) for r in c.execute("SELECT rowid, * FROM observers")}
        self.observer_rowid_by_id = {o["id"]: rid for rid, o in self.observers.items()}
        self.tx = {}
        for r in c.execute("SELECT id, raw_hex, hash, first_seen, route_type, payload_type, decoded_json, "
                           "from_pubkey FROM transmissions ORDER BY id"):
            d = dict(r)
            d["obs"] = []
            self.tx[d["id"]] = d
        for r in c.execute("SELECT id, transmission_id, observer_idx, direction, snr, rssi, path_json, "
                           "timestamp FROM observations ORDER BY id"):
            t = self.tx.get(r["transmission_id"])
            if t is not None:
                t["obs"].append(dict(r))
        self.tx_by_hash = {t["hash"]: t for t in self.tx.values()}
        self.nodes = {r["public_key"]: dict(r) for r in c.execute("SELECT * FROM nodes")}
        self.n_obs_rows = c.execute("SELECT COUNT(*) FROM observations").fetchone()[0]
        # CoreScope drops a copy whose (observer, path) the transmission already has
        self.n_obs_dedup = c.execute(
            "SELECT COUNT(*) FROM (SELECT DISTINCT transmission_id, observer_idx, COALESCE(path_json,'') "
            "FROM observations)").fetchone()[0]

    def close(self):
        self.conn.close()

    # -- packets ------------------------------------------------------------------------

    def obs_counts(self, t):
        """The accepted observation counts of tx t: all rows, or without duplicates."""
        n = len(t["obs"])
        d = len({(o["observer_idx"], o["path_json"] or "") for o in t["obs"]})
        return {n, d}

    def best_obs(self, t):
        """The display observation: most hops, then newest timestamp, then largest id."""
        if not t["obs"]:
            return None
        return max(t["obs"], key=lambda o: (len(hops_of(o["path_json"])), o["timestamp"], o["id"]))

    def packet_ids(self, type_=None, route=None, observers=None, hash_=None, since=None, until=None,
                   order="desc"):
        where, args = ["hash != ''", "first_seen != ''"], []
        for cond, value in (("payload_type = ?", type_), ("route_type = ?", route),
                            ("hash = ?", None if hash_ is None else hash_.lower()),
                            ("first_seen > ?", since), ("first_seen < ?", until)):
            if value is not None:
                where.append(cond)
                args.append(value)
        if observers is not None:
            where.append("id IN (SELECT o.transmission_id FROM observations o JOIN observers obs "
                         "ON obs.rowid = o.observer_idx WHERE obs.id IN (%s))" % ",".join("?" * len(observers)))
            args.extend(observers)
        sql = "SELECT id FROM transmissions WHERE %s ORDER BY id %s" % (
            " AND ".join(where), "ASC" if order == "asc" else "DESC")
        return [r[0] for r in self.conn.execute(sql, args)]

    # -- nodes --------------------------------------------------------------------------

    def node_list(self, role=None, search=None, last_heard_s=None, now=None):
        out = []
        for n in self.nodes.values():
            if role is not None and n["role"] != role:
                continue
            if search is not None and (n["name"] is None or search.lower() not in n["name"].lower()):
                continue
            if last_heard_s is not None:
                ls = ts_of(n["last_seen"]) if n["last_seen"] else None
                if ls is None or ls <= now - last_heard_s:
                    continue
            out.append(n)
        return out

    def active_nodes(self, now, days=7):
        return [n for n in self.nodes.values() if n["last_seen"] and ts_of(n["last_seen"]) > now - days * 86400]

    def obs_since(self, now, seconds):
        return self.conn.execute("SELECT COUNT(*) FROM observations WHERE timestamp > ?",
                                 (int(now - seconds),)).fetchone()[0]


def shape_errors(value, shape, path="$"):
    """Differences between value and a golden shape ({type, keys, elementShape})."""
    errs = []
    t = shape.get("type")
    key = path.rsplit(".", 1)[-1]
    if value is None and (t in ("nullable", "nullable_number") or key in NULLABLE_KEYS):
        return errs
    if t == "object":
        if not isinstance(value, dict):
            return ["%s: expected an object, got %r" % (path, type(value).__name__)]
        for k, sub in (shape.get("keys") or {}).items():
            if k not in value:
                if k not in OPTIONAL_KEYS:
                    errs.append("%s.%s: missing" % (path, k))
                continue
            errs.extend(shape_errors(value[k], sub, "%s.%s" % (path, k)))
    elif t == "array":
        if not isinstance(value, list):
            return ["%s: expected an array" % path]
        el = shape.get("elementShape")
        if el:
            for i, v in enumerate(value[:50]):
                errs.extend(shape_errors(v, el, "%s[%d]" % (path, i)))
    elif t == "number" or t == "nullable_number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            errs.append("%s: expected a number, got %r" % (path, value))
    elif t == "string":
        if not isinstance(value, str):
            errs.append("%s: expected a string, got %r" % (path, value))
    elif t == "boolean":
        if not isinstance(value, bool):
            errs.append("%s: expected a boolean, got %r" % (path, value))
    return errs


def load_golden():
    d = msnlib.shared_dir()
    if not d:
        return None
    p = os.path.join(d, "fixtures", "corescope-api", "golden-shapes.json")
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


class CoreApiChecks:
    """The endpoint checks. A subclass (also a unittest.TestCase) sets, in setUpClass:
    cls.d (a ready msnlib.Daemon), cls.truth (a Truth of the served database) and
    cls.t_start (time.time() before the daemon started)."""

    d = None
    truth = None
    t_start = None

    # -- helpers ------------------------------------------------------------------------

    def get(self, path, status=200):
        r = self.d.get(path)
        self.assertEqual(r.status, status, "GET %s: status %d, body %r" % (path, r.status, r.body[:300]))
        self.assertIn("application/json", r.header("content-type", ""), "GET %s: content type" % path)
        return r.json()

    def packets(self, **params):
        q = urllib.parse.urlencode(params)
        return self.get("/api/packets" + ("?" + q if q else ""))

    def nodes(self, **params):
        q = urllib.parse.urlencode(params)
        return self.get("/api/nodes" + ("?" + q if q else ""))

    def assertBetween(self, value, lo, hi, what):
        self.assertTrue(lo <= value <= hi, "%s: %r not within [%r, %r]" % (what, value, lo, hi))

    def check_packet_row(self, p):
        """A packet of a list against the database."""
        t = self.truth.tx.get(p.get("id"))
        self.assertIsNotNone(t, "packet id %r is not in the database" % p.get("id"))
        for k in ("hash", "raw_hex", "route_type", "payload_type", "decoded_json"):
            self.assertEqual(p.get(k), t[k], "packet %d: %s" % (t["id"], k))
        self.assertEqual(ts_of(p["first_seen"]), ts_of(t["first_seen"]), "packet %d: first_seen" % t["id"])
        self.assertIn(p.get("observation_count"), self.truth.obs_counts(t), "packet %d: observation_count" % t["id"])
        best = self.truth.best_obs(t)
        if best is None:
            return
        self.assertEqual(p.get("path_json"), best["path_json"], "packet %d: path_json of the best observation" % t["id"])
        o = self.truth.observers.get(best["observer_idx"])
        if o is not None:
            self.assertEqual(p.get("observer_id"), o["id"], "packet %d: observer_id" % t["id"])
            self.assertEqual(p.get("observer_name"), o["name"], "packet %d: observer_name" % t["id"])
        self.assertEqual(p.get("snr"), best["snr"], "packet %d: snr" % t["id"])
        self.assertEqual(p.get("rssi"), best["rssi"], "packet %d: rssi" % t["id"])
        hops = hops_of(best["path_json"])
        if "_parsedPath" in p:
            if hops:
                self.assertEqual(p["_parsedPath"], hops, "packet %d: _parsedPath" % t["id"])
            else:
                self.assertIn(p["_parsedPath"], (None, []), "packet %d: _parsedPath" % t["id"])

    def check_list(self, params, expected_ids, limit=DEFAULT_LIMIT, offset=0, check_rows=False):
        body = self.packets(**params)
        got = [p["id"] for p in body["packets"]]
        what = "/api/packets?%s" % urllib.parse.urlencode(params)
        self.assertEqual(body["total"], len(expected_ids), what + ": total")
        self.assertEqual(got, expected_ids[offset:offset + limit], what + ": ids")
        if "limit" in body:
            self.assertEqual(body["limit"], limit, what + ": limit")
        if "offset" in body:
            self.assertEqual(body["offset"], offset, what + ": offset")
        if check_rows:
            for p in body["packets"]:
                self.check_packet_row(p)
        return body

    def check_node_row(self, n):
        t = self.truth.nodes.get(n.get("public_key"))
        self.assertIsNotNone(t, "node %r is not in the database" % n.get("public_key"))
        for k in ("name", "role", "last_seen", "first_seen", "advert_count", "battery_mv"):
            self.assertEqual(n.get(k), t[k], "node %s: %s" % (t["public_key"], k))
        for k in ("lat", "lon", "temperature_c"):
            if t[k] is None:
                self.assertIsNone(n.get(k), "node %s: %s" % (t["public_key"], k))
            else:
                self.assertAlmostEqual(n.get(k), t[k], 6, "node %s: %s" % (t["public_key"], k))
        self.assertIn("last_heard", n)

    def check_node_page(self, got, expected_rows, key, reverse, offset, limit, what):
        """got (node dicts) is page [offset, offset+limit) of expected_rows sorted by key;
        rows with equal keys may come in any order."""
        exp = sorted(expected_rows, key=key, reverse=reverse)
        page = exp[offset:offset + limit]
        self.assertEqual(len(got), len(page), what + ": page length")
        keys_got = []
        for n in got:
            t = self.truth.nodes.get(n["public_key"])
            self.assertIsNotNone(t, what + ": unknown node %s" % n["public_key"])
            keys_got.append(key(t))
        self.assertEqual(keys_got, [key(t) for t in page], what + ": order")
        self.assertEqual(len({n["public_key"] for n in got}), len(got), what + ": duplicates")
        allowed = {t["public_key"] for t in expected_rows}
        for n in got:
            self.assertIn(n["public_key"], allowed, what + ": node outside the filter")

    @staticmethod
    def key_last_seen(n):
        return (1, ts_of(n["last_seen"])) if n["last_seen"] else (0, 0)

    @staticmethod
    def key_name(n):
        return (0, "") if n["name"] is None else (1, n["name"])

    @staticmethod
    def key_adverts(n):
        return n["advert_count"] or 0

    def some_observer_ids(self, k):
        """k observer ids that have observations, the busiest first."""
        cnt = {}
        for t in self.truth.tx.values():
            for o in t["obs"]:
                cnt[o["observer_idx"]] = cnt.get(o["observer_idx"], 0) + 1
        rids = sorted((r for r in cnt if r in self.truth.observers), key=lambda r: -cnt[r])
        return [self.truth.observers[r]["id"] for r in rids[:k]]

    def search_term(self):
        """An ASCII word (≥ 3 letters) that several node names contain."""
        cnt = {}
        for n in self.truth.nodes.values():
            for w in re.findall(r"[A-Za-z]{3,}", n["name"] or ""):
                cnt[w.lower()] = cnt.get(w.lower(), 0) + 1
        good = [w for w, c in cnt.items() if 2 <= c < len(self.truth.nodes)]
        self.assertTrue(good, "no usable search term in node names")
        return max(good, key=lambda w: (cnt[w], w))

    # -- /api/healthz ---------------------------------------------------------------------

    def test_healthz(self):
        h = self.get("/api/healthz")
        for k in HEALTHZ_KEYS:
            self.assertIn(k, h, "healthz key %s" % k)
        self.assertIs(h["ready"], True)
        self.assertEqual(h["phase"], "ready")
        self.assertIs(h["stale"], False)
        self.assertEqual(h["loadedTx"], len(self.truth.tx))
        self.assertIn(h["loadedObs"], {self.truth.n_obs_rows, self.truth.n_obs_dedup})
        self.assertGreaterEqual(h["generation"], 1)
        self.assertGreaterEqual(h["snapshotAgeSec"], 0)
        fb = h["from_pubkey_backfill"]
        for k in ("total", "processed", "done"):
            self.assertIn(k, fb, "from_pubkey_backfill.%s" % k)
        self.assertIsInstance(h["async_migrations"], list)
        self.assertIsInstance(h["async_migrations_running"], bool)
        for m in h["async_migrations"]:
            for k in ("name", "status", "rowsProcessed", "rowsTotal"):
                self.assertIn(k, m, "async_migrations[].%s" % k)
            self.assertIn(m["status"], ("running", "done", "failed", "unknown"))
        self.assertEqual(h["async_migrations_running"],
                         any(m["status"] == "running" for m in h["async_migrations"]))
        workers = h["workers"]
        self.assertEqual(sorted(w["slot"] for w in workers), list(range(self.d.workers)))
        for w in workers:
            self.assertNotIn("pid", w, "the public healthz shows no process ids")
        for k in ("masterPid", "backfillerPid", "sourceDb", "status"):
            self.assertNotIn(k, h, "the public healthz has no %s" % k)
        # the admin listener shows them
        workers = self.d.health()["workers"]
        pids = [w["pid"] for w in workers]
        self.assertEqual(len(set(pids)), len(pids), "worker pids must differ")
        for pid in pids:
            self.assertNotEqual(pid, self.d.pid)
            self.assertTrue(msnlib.pid_alive(pid), "worker %d is not running" % pid)

    # -- /api/stats -------------------------------------------------------------------------

    def test_stats(self):
        s = self.get("/api/stats")
        now = time.time()
        for k in STATS_KEYS:
            self.assertIn(k, s, "stats key %s" % k)
        tr = self.truth
        self.assertEqual(s["totalTransmissions"], len(tr.tx))
        self.assertEqual(s["totalPackets"], len(tr.tx))
        self.assertIn(s["totalObservations"], {tr.n_obs_rows, tr.n_obs_dedup})
        self.assertEqual(s["totalNodesAllTime"], len(tr.nodes))
        n_obs_all = len(tr.observers)
        n_obs_active = sum(1 for o in tr.observers.values() if not o.get("inactive"))
        self.assertIn(s["totalObservers"], {n_obs_all, n_obs_active})
        # time-relative counts only shrink as time passes: the answer lies between the
        # value at the daemon's start and the value now
        lo, hi = len(tr.active_nodes(now)), len(tr.active_nodes(self.t_start))
        self.assertBetween(s["totalNodes"], min(lo, hi), max(lo, hi), "totalNodes (7-day active)")
        self.assertBetween(s["packetsLastHour"], tr.obs_since(now, 3600), tr.obs_since(self.t_start, 3600),
                           "packetsLastHour")
        self.assertBetween(s["packetsLast24h"], tr.obs_since(now, 86400), tr.obs_since(self.t_start, 86400),
                           "packetsLast24h")
        for role, key in ROLE_KEYS:
            lo = sum(1 for n in tr.active_nodes(now) if n["role"] == role)
            hi = sum(1 for n in tr.active_nodes(self.t_start) if n["role"] == role)
            self.assertBetween(s["counts"][key], lo, hi, "counts.%s" % key)

    def test_golden_shapes(self):
        g = load_golden()
        if g is None:
            self.skipTest("no golden shapes (MESHSNAP_SHARED not set)")
        pk = max(self.truth.nodes.values(), key=lambda n: (n["lat"] is not None, n["name"] is not None))["public_key"]
        for name, path in (("stats", "/api/stats"), ("packets", "/api/packets?limit=20"),
                           ("nodes", "/api/nodes?limit=20"), ("observers", "/api/observers"),
                           ("node_detail", "/api/nodes/" + pk)):
            errs = shape_errors(self.get(path), g[name])
            self.assertEqual(errs, [], "%s does not match the golden shape %s" % (path, name))

    # -- /api/packets -----------------------------------------------------------------------

    def test_packets_default(self):
        ids = self.truth.packet_ids()
        body = self.check_list({}, ids, check_rows=True)
        for k in ("packets", "total", "limit", "offset"):
            self.assertIn(k, body)
        for p in body["packets"]:
            for k in PACKET_KEYS:
                self.assertIn(k, p, "packet key %s" % k)

    def test_packets_order(self):
        self.check_list({"order": "asc"}, self.truth.packet_ids(order="asc"), check_rows=True)
        self.check_list({"order": "desc"}, self.truth.packet_ids(order="desc"))
        # anything but asc means DESC
        self.check_list({"order": "sideways"}, self.truth.packet_ids(order="desc"))

    def test_packets_paging(self):
        ids = self.truth.packet_ids()
        self.check_list({"limit": 7, "offset": 13}, ids, limit=7, offset=13)
        self.check_list({"limit": 5, "offset": 3, "order": "asc"}, self.truth.packet_ids(order="asc"),
                        limit=5, offset=3)
        last = max(0, len(ids) - 4)
        self.check_list({"limit": 10, "offset": last}, ids, limit=10, offset=last)
        body = self.packets(limit=10, offset=len(ids) + 5)
        self.assertEqual(body["packets"], [])
        self.assertEqual(body["total"], len(ids))

    def test_packets_limit_defaults_and_clamp(self):
        ids = self.truth.packet_ids()
        for bad in ("abc", "0", "-5", ""):
            self.check_list({"limit": bad}, ids, limit=DEFAULT_LIMIT)
        body = self.packets(limit=PACKETS_MAX * 2)
        self.assertEqual(len(body["packets"]), min(len(ids), PACKETS_MAX), "limit above the cap is clamped")
        self.assertEqual([p["id"] for p in body["packets"]], ids[:PACKETS_MAX])
        self.assertEqual(body["total"], len(ids))
        if "limit" in body:
            self.assertEqual(body["limit"], PACKETS_MAX)

    def test_packets_type_route(self):
        types = sorted({t["payload_type"] for t in self.truth.tx.values() if t["payload_type"] is not None})
        routes = sorted({t["route_type"] for t in self.truth.tx.values() if t["route_type"] is not None})
        self.assertTrue(types and routes)
        for ty in types:
            self.check_list({"type": ty}, self.truth.packet_ids(type_=ty), check_rows=(ty == types[0]))
        for rt in routes:
            self.check_list({"route": rt}, self.truth.packet_ids(route=rt))
        ty, rt = types[len(types) // 2], routes[0]
        self.check_list({"type": ty, "route": rt, "order": "asc", "limit": 20},
                        self.truth.packet_ids(type_=ty, route=rt, order="asc"), limit=20)
        # a type no packet has
        self.check_list({"type": 14}, self.truth.packet_ids(type_=14))

    def test_packets_observer(self):
        obs = self.some_observer_ids(3)
        self.assertTrue(obs)
        for oid in obs:
            self.check_list({"observer": oid}, self.truth.packet_ids(observers=[oid]), check_rows=(oid == obs[0]))
        self.check_list({"observer": ",".join(obs[:2])}, self.truth.packet_ids(observers=obs[:2]))
        tys = sorted({t["payload_type"] for t in self.truth.tx.values() if t["payload_type"] is not None})
        self.check_list({"observer": obs[0], "type": tys[0], "limit": 100},
                        self.truth.packet_ids(observers=[obs[0]], type_=tys[0]), limit=100)
        self.check_list({"observer": "NO-SUCH-OBSERVER"}, [])

    def test_packets_hash(self):
        ids = self.truth.packet_ids()
        t = next(self.truth.tx[i] for i in ids[len(ids) // 2:] if self.truth.tx[i]["hash"] == self.truth.tx[i]["hash"].lower())
        self.check_list({"hash": t["hash"]}, [t["id"]], check_rows=True)
        self.check_list({"hash": t["hash"].upper()}, [t["id"]])
        self.check_list({"hash": "0000000000000000"}, self.truth.packet_ids(hash_="0000000000000000"))
        self.check_list({"hash": t["hash"], "type": (t["payload_type"] + 1) % 16}, [])

    def test_packets_since_until(self):
        asc = self.truth.packet_ids(order="asc")
        fs = sorted(self.truth.tx[i]["first_seen"] for i in asc)
        a, b = fs[len(fs) // 4], fs[3 * len(fs) // 4]
        # since and until are exclusive: a packet whose first_seen equals the bound is out
        self.check_list({"since": a}, self.truth.packet_ids(since=a), check_rows=True)
        self.check_list({"until": b}, self.truth.packet_ids(until=b))
        self.check_list({"since": a, "until": b, "order": "asc", "limit": 100},
                        self.truth.packet_ids(since=a, until=b, order="asc"), limit=100)
        self.check_list({"since": b, "until": a}, [])
        self.check_list({"since": fs[-1]}, self.truth.packet_ids(since=fs[-1]))
        tys = sorted({t["payload_type"] for t in self.truth.tx.values() if t["payload_type"] is not None})
        self.check_list({"since": a, "type": tys[-1]}, self.truth.packet_ids(since=a, type_=tys[-1]))

    # -- /api/packets/{id} ------------------------------------------------------------------

    def check_detail(self, body, t):
        self.assertEqual(body["packet"]["id"], t["id"])
        self.assertEqual(body["packet"]["hash"], t["hash"])
        self.assertEqual(body["packet"]["raw_hex"], t["raw_hex"])
        self.assertIn(body["observation_count"], self.truth.obs_counts(t))
        obs = body.get("observations") or []
        self.assertEqual(len(obs), body["observation_count"])
        ids = {o["id"] for o in t["obs"]}
        self.assertTrue({o["id"] for o in obs} <= ids, "observation ids")
        for o in obs:
            src = next(x for x in t["obs"] if x["id"] == o["id"])
            self.assertEqual(o.get("path_json"), src["path_json"], "observation %d path_json" % o["id"])
            obsr = self.truth.observers.get(src["observer_idx"])
            if obsr is not None:
                self.assertEqual(o.get("observer_id"), obsr["id"], "observation %d observer_id" % o["id"])
            self.assertEqual(int(ts_of(o["timestamp"])), src["timestamp"], "observation %d timestamp" % o["id"])
        best = self.truth.best_obs(t)
        self.assertEqual(body["path"], hops_of(best["path_json"]) if best else [])

    def test_packet_detail(self):
        ids = self.truth.packet_ids()
        picks = [ids[0], ids[len(ids) // 3], ids[-1]]
        picks.append(max(ids, key=lambda i: len(self.truth.tx[i]["obs"])))
        for i in picks:
            t = self.truth.tx[i]
            by_id = self.get("/api/packets/%d" % i)
            for k in ("packet", "path", "observation_count", "observations"):
                self.assertIn(k, by_id, "packet detail key %s" % k)
            self.check_detail(by_id, t)
            if t["hash"] == t["hash"].lower():
                self.check_detail(self.get("/api/packets/" + t["hash"]), t)
                self.check_detail(self.get("/api/packets/" + t["hash"].upper()), t)

    def test_packet_detail_by_observation_id(self):
        max_tx = max(self.truth.tx)
        o = next((o for t in self.truth.tx.values() for o in t["obs"] if o["id"] > max_tx), None)
        if o is None:
            self.skipTest("every observation id is also a transmission id")
        body = self.get("/api/packets/%d" % o["id"])
        self.assertEqual(body["packet"]["hash"], self.truth.tx[o["transmission_id"]]["hash"])

    def test_packet_detail_not_found(self):
        for p in ("/api/packets/0123456789abcdef", "/api/packets/%d" % (10 ** 9 + 7), "/api/packets/zzz"):
            if p.endswith("abcdef") and "0123456789abcdef" in self.truth.tx_by_hash:
                continue
            body = self.get(p, status=404)
            self.assertIsInstance(body.get("error"), str)

    # -- /api/nodes -------------------------------------------------------------------------

    def test_nodes_default(self):
        body = self.nodes()
        for k in ("nodes", "total", "counts"):
            self.assertIn(k, body)
        all_nodes = list(self.truth.nodes.values())
        self.assertEqual(body["total"], len(all_nodes))
        self.check_node_page(body["nodes"], all_nodes, self.key_last_seen, True, 0, DEFAULT_LIMIT, "/api/nodes")
        for n in body["nodes"]:
            for k in NODE_KEYS:
                self.assertIn(k, n, "node key %s" % k)
            self.check_node_row(n)
        for role, key in ROLE_KEYS:
            self.assertEqual(body["counts"][key], sum(1 for n in all_nodes if n["role"] == role),
                             "counts.%s (all time)" % key)

    def test_nodes_role(self):
        for role, _ in ROLE_KEYS:
            exp = self.truth.node_list(role=role)
            body = self.nodes(role=role, limit=NODES_MAX)
            self.assertEqual(body["total"], len(exp), "role=%s total" % role)
            self.check_node_page(body["nodes"], exp, self.key_last_seen, True, 0, NODES_MAX, "role=" + role)

    def test_nodes_search(self):
        term = self.search_term()
        for q in (term, term.upper(), term[1:]):
            exp = self.truth.node_list(search=q)
            body = self.nodes(search=q, limit=NODES_MAX)
            self.assertEqual(body["total"], len(exp), "search=%s total" % q)
            self.check_node_page(body["nodes"], exp, self.key_last_seen, True, 0, NODES_MAX, "search=" + q)
        body = self.nodes(search="zzqqxxnotaname")
        self.assertEqual((body["total"], body["nodes"]), (0, []))

    def test_nodes_sort(self):
        all_nodes = list(self.truth.nodes.values())
        for sort, key, rev in (("name", self.key_name, False), ("lastSeen", self.key_last_seen, True),
                               ("packetCount", self.key_adverts, True)):
            body = self.nodes(sortBy=sort, limit=100)
            self.check_node_page(body["nodes"], all_nodes, key, rev, 0, 100, "sortBy=" + sort)
            body = self.nodes(sortBy=sort, limit=9, offset=31)
            self.check_node_page(body["nodes"], all_nodes, key, rev, 31, 9, "sortBy=%s paged" % sort)

    def test_nodes_last_heard(self):
        for lh, secs in LAST_HEARD.items():
            body = self.nodes(lastHeard=lh, limit=NODES_MAX)
            now = time.time()
            exp_now = self.truth.node_list(last_heard_s=secs, now=now)
            exp_start = self.truth.node_list(last_heard_s=secs, now=self.t_start)
            self.assertBetween(body["total"], len(exp_now), len(exp_start), "lastHeard=%s total" % lh)
            # the server's cutoff lies between t_start - secs and now - secs
            for n in body["nodes"]:
                self.assertGreater(ts_of(self.truth.nodes[n["public_key"]]["last_seen"]), self.t_start - secs - 1,
                                   "lastHeard=%s returned an older node" % lh)
            if len(exp_now) == len(exp_start) and len(exp_now) <= NODES_MAX:
                self.assertEqual({n["public_key"] for n in body["nodes"]}, {n["public_key"] for n in exp_now},
                                 "lastHeard=%s nodes" % lh)

    def test_nodes_combined_and_paging(self):
        term = self.search_term()
        role = max((r for r, _ in ROLE_KEYS), key=lambda r: len(self.truth.node_list(role=r, search=term)))
        exp = self.truth.node_list(role=role, search=term)
        body = self.nodes(role=role, search=term, sortBy="name", limit=5, offset=1)
        self.assertEqual(body["total"], len(exp))
        self.check_node_page(body["nodes"], exp, self.key_name, False, 1, 5, "role+search+name")
        body = self.nodes(limit=NODES_MAX * 3)
        self.assertEqual(len(body["nodes"]), min(NODES_MAX, len(self.truth.nodes)), "limit above the cap is clamped")
        for bad in ("abc", "0", "-1"):
            self.assertEqual(len(self.nodes(limit=bad)["nodes"]), min(DEFAULT_LIMIT, len(self.truth.nodes)))
        body = self.nodes(offset=len(self.truth.nodes) + 10)
        self.assertEqual(body["nodes"], [])
        self.assertEqual(body["total"], len(self.truth.nodes))

    # -- /api/nodes/{pubkey} ----------------------------------------------------------------

    def test_node_detail(self):
        adverts = {}
        for t in self.truth.tx.values():
            if t["from_pubkey"]:
                adverts.setdefault(t["from_pubkey"], []).append(t["id"])
        with_adverts = [pk for pk in adverts if pk in self.truth.nodes]
        self.assertTrue(with_adverts, "no node has adverts")
        busiest = max(with_adverts, key=lambda pk: len(adverts[pk]))
        quiet = next((pk for pk in self.truth.nodes if pk not in adverts), None)
        for pk in [busiest, with_adverts[0]] + ([quiet] if quiet else []):
            body = self.get("/api/nodes/" + pk)
            self.assertIn("node", body)
            self.assertIn("recentAdverts", body)
            self.assertEqual(body["node"]["public_key"], pk)
            self.check_node_row(body["node"])
            exp = sorted(adverts.get(pk, []), reverse=True)[:20]
            self.assertEqual([a["id"] for a in body["recentAdverts"]], exp, "recentAdverts of %s" % pk)
            for a in body["recentAdverts"]:
                t = self.truth.tx[a["id"]]
                self.assertEqual(a["hash"], t["hash"])
                self.assertIn(a["observation_count"], self.truth.obs_counts(t))
        # a unique hex prefix of 8..63 characters finds the node
        body = self.get("/api/nodes/" + busiest[:12])
        self.assertEqual(body["node"]["public_key"], busiest)

    def test_node_not_found(self):
        for pk in ("f" * 64, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdee"):
            if pk in self.truth.nodes:
                continue
            body = self.get("/api/nodes/" + pk, status=404)
            self.assertIsInstance(body.get("error"), str)

    # -- /api/observers ---------------------------------------------------------------------

    def test_observers(self):
        body = self.get("/api/observers")
        now = time.time()
        self.assertIn("observers", body)
        self.assertTrue(ISO_RE.match(body.get("server_time", "")), "server_time %r" % body.get("server_time"))
        self.assertLess(abs(ts_of(body["server_time"]) - now), 300, "server_time is the current time")
        active = {o["id"]: o for o in self.truth.observers.values() if not o.get("inactive")}
        got = body["observers"]
        self.assertEqual(sorted(o["id"] for o in got), sorted(active), "active observers")
        lss = [ts_of(o["last_seen"]) if o["last_seen"] else float("-inf") for o in got]
        self.assertEqual(lss, sorted(lss, reverse=True), "observers sorted by last_seen DESC")
        conn = self.truth.conn
        for o in got:
            for k in OBSERVER_KEYS:
                self.assertIn(k, o, "observer key %s" % k)
            t = active[o["id"]]
            for k in ("name", "iata", "last_seen", "first_seen", "packet_count", "client_version", "radio"):
                self.assertEqual(o[k], t[k], "observer %s: %s" % (o["id"], k))
            node = self.truth.nodes.get(o["id"].lower())
            self.assertEqual(o["nodeRole"], node["role"] if node else None, "observer %s: nodeRole" % o["id"])
            if node and node["lat"] is not None:
                self.assertAlmostEqual(o["lat"], node["lat"], 6)
            elif not node:
                self.assertIsNone(o["lat"])
            rid = self.truth.observer_rowid_by_id[o["id"]]
            q = "SELECT COUNT(*) FROM observations WHERE observer_idx=? AND timestamp > ?"
            lo = conn.execute(q, (rid, int(now) - 3600)).fetchone()[0]
            hi = conn.execute(q, (rid, int(self.t_start) - 3600)).fetchone()[0]
            self.assertBetween(o["packetsLastHour"], lo, hi, "observer %s packetsLastHour" % o["id"])

    # -- errors and headers -----------------------------------------------------------------

    def test_bad_parameters_400(self):
        for p in ("/api/packets?type=abc", "/api/packets?route=x", "/api/packets?since=garbage",
                  "/api/packets?until=yesterday", "/api/packets?type=1.5", "/api/nodes?role=no-such-role",
                  "/api/nodes?sortBy=bogus"):
            body = self.get(p, status=400)
            self.assertIsInstance(body.get("error"), str, p)

    def test_unknown_path_404(self):
        for p in ("/api/nosuchthing", "/api/packets/1/nope", "/api/stats/extra"):
            body = self.get(p, status=404)
            self.assertIsInstance(body.get("error"), str, p)

    def test_wrong_method_405(self):
        for method, p in (("POST", "/api/stats"), ("POST", "/api/nodes"), ("PUT", "/api/observers"),
                          ("DELETE", "/api/packets/1"), ("POST", "/api/healthz")):
            r = self.d.request(method, p, body=b"{}", headers={"Content-Type": "application/json"})
            self.assertEqual(r.status, 405, "%s %s: status %d" % (method, p, r.status))
            self.assertIsInstance(r.json().get("error"), str)

    def check_headers(self, r, what):
        h = r.headers
        ls = h.get("x-corescope-load-status")
        self.assertIsNotNone(ls, what + ": X-CoreScope-Load-Status")
        self.assertTrue(ls == "ready" or re.match(r"^loading; progress=\d+$", ls), what + ": load status %r" % ls)
        self.assertRegex(h.get("x-meshsnap-generation", ""), r"^\d+$", what + ": X-Meshsnap-Generation")
        self.assertRegex(h.get("x-meshsnap-snapshot-age", ""), r"^\d+(\.\d+)?$", what + ": X-Meshsnap-Snapshot-Age")
        self.assertIn(h.get("x-meshsnap-snapshot-stale"), ("0", "1"), what + ": X-Meshsnap-Snapshot-Stale")
        self.assertIn(h.get("x-corescope-status"), ("ready", "backfilling"), what + ": X-CoreScope-Status")
        self.assertRegex(h.get("x-corescope-backfill-remaining", ""), r"^\d+$", what + ": X-CoreScope-Backfill-Remaining")
        # live status and errors: no-store; assembled lists: no-cache (revalidate with the
        # ETag); published documents: public, max-age until the next publication
        cc = h.get("cache-control", "")
        self.assertRegex(cc, r"^(no-store|no-cache|public, max-age=\d+)$", what + ": Cache-Control")
        if what.split(" (")[0].endswith("/api/healthz"):
            self.assertEqual(cc, "no-store", what)
        self.assertRegex(h.get("etag", ""), r'^"[0-9a-f]{16}(-gz)?"$', what + ": ETag")

    def test_headers_everywhere(self):
        pk = next(iter(self.truth.nodes))
        for method, p in (("GET", "/api/healthz"), ("GET", "/api/stats"), ("GET", "/api/packets"),
                          ("GET", "/api/packets/%d" % next(iter(self.truth.tx))), ("GET", "/api/nodes"),
                          ("GET", "/api/nodes/" + pk), ("GET", "/api/observers"), ("GET", "/api/packets?type=abc"),
                          ("GET", "/api/nosuch"), ("GET", "/api/nodes/" + "e" * 64), ("POST", "/api/stats")):
            r = self.d.request(method, p)
            self.check_headers(r, "%s %s (%d)" % (method, p, r.status))
        r = self.d.get("/api/stats")
        self.assertEqual(r.header("x-meshsnap-snapshot-stale"), "0", "a fresh snapshot is not stale")
        self.assertGreaterEqual(int(r.header("x-meshsnap-generation")), 1)

    def test_keep_alive(self):
        c = self.d.client()
        try:
            for p in ("/api/stats", "/api/packets?limit=5", "/api/nodes?limit=5", "/api/observers",
                      "/api/nosuch", "/api/healthz") * 3:
                r = c.get(p)
                self.assertIn(r.status, (200, 404))
                r.json()
            self.assertEqual(c.reconnects, 0, "the connection was kept alive")
        finally:
            c.close()


class CoreApiTest(CoreApiChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-core-api-", "core.db", nodes=2300, observers=24,
                                              transmissions=12000, obs_per_tx=3.0, days=3, seed=7,
                                              inactive_observers=1)
        cls.t_start = time.time()
        cls.d = msnlib.start_daemon(cls.db, cls.tmp, timeout=180, workers=2, poll_interval_ms=200)
        cls.truth = Truth(cls.db)

    @classmethod
    def tearDownClass(cls):
        if cls.truth:
            cls.truth.close()
        cls.d.stop()


if __name__ == "__main__":
    msnlib.main(CoreApiTest)
