#!/usr/bin/python3
"""mkdb: builds CoreScope databases with realistic-looking synthetic data, for meshsnap's
integration tests and benchmarks.

The schema comes from `meshsnapd --init-db PATH` (the binary named by --meshsnapd or env
MESHSNAPD), so the database always has the schema the daemon considers current. Rows are
then written with the standard sqlite3 module:

  nodes         N rows: 64-hex lowercase keys, roles repeater/companion/room/sensor, unique
                names, lat/lon around the SF bay, RFC3339 last_seen spread so that every
                `lastHeard` window (1h/6h/24h/7d/30d) holds some nodes and none sits within
                5 minutes of a window edge (relative to `now`), unique advert_count
  observers     M rows: uppercase 64-hex ids (half of them equal to a repeater's key, like
                real repeater-observers), IATA codes, packet_count = their observations
  transmissions T rows: raw_hex is a well-formed MeshCore frame whose header matches
                route_type/payload_type; hash is the CoreScope content hash of that frame
                (16 lowercase hex, unique); decoded_json follows the ingestor's shapes;
                ADVERTs carry from_pubkey of an existing node; GRP_TXT rows carry
                channel_hash; first_seen is RFC3339 seconds, spread over D days, mostly
                increasing with id (a few arrive late, so id order != first_seen order)
  observations  about R per transmission (at least 1), each from a distinct observer:
                observer_idx = observers.rowid, path_json = JSON array of 1-byte uppercase
                hops, timestamp = unix seconds >= first_seen, snr/rssi mostly set
  last_seen     transmissions.last_seen = MAX(observations.timestamp), or 0 everywhere with
                --legacy-last-seen (a database that still needs the backfill)

Speed: indexes of transmissions/observations are dropped during the bulk insert and
rebuilt afterwards; one transaction per 50k rows, journal_mode=WAL, synchronous=OFF.
A 1M-observation database takes well under a minute.

Command line:
  mkdb.py PATH [--nodes N] [--observers M] [--transmissions T] [--obs-per-tx R] [--days D]
               [--seed S] [--legacy-last-seen] [--inactive-observers K] [--force]
               [--meshsnapd BIN]

Module use:
  build(path, nodes=..., ...)            -> dict of counts and timings
  append_transmissions(path, count, ...) -> list of dicts describing the new rows
  append_observations(path, tx_id, count, ...) -> list of new observation ids
  rfc3339(epoch) / parse_rfc3339(text)   time helpers used by the tests
"""

import argparse
import calendar
import hashlib
import json
import math
import os
import random
import sqlite3
import subprocess
import sys
import time

ROLE_WEIGHTS = [("repeater", 55), ("companion", 25), ("room", 12), ("sensor", 8)]
ROLE_ADVERT_TYPE = {"companion": 1, "repeater": 2, "room": 3, "sensor": 4}
# payload_type -> weight (the fixture's mix, plus a few ACKs)
TYPE_WEIGHTS = [(0, 12), (1, 15), (2, 9), (3, 3), (4, 20), (5, 30), (7, 3), (8, 4), (9, 2), (11, 2)]
TYPE_NAMES = {0: "REQ", 1: "RESPONSE", 2: "TXT_MSG", 3: "ACK", 4: "ADVERT", 5: "GRP_TXT",
              6: "GRP_DATA", 7: "ANON_REQ", 8: "PATH", 9: "TRACE", 10: "MULTIPART",
              11: "CONTROL", 15: "RAW_CUSTOM"}
# route_type -> weight: 0 TRANSPORT_FLOOD, 1 FLOOD, 2 DIRECT, 3 TRANSPORT_DIRECT
ROUTE_WEIGHTS = [(1, 68), (2, 27), (0, 3), (3, 2)]
IATAS = ["SJC", "OAK", "SFO", "SEA", "PDX", "LAX", "SMF", "SAN", "RNO", "MRY"]
NAME_WORDS = ["Ridge", "Harbor", "Summit", "Valley", "Canyon", "Mesa", "Bayview", "Redwood",
              "Granite", "Cedar", "Lookout", "Pioneer", "Coyote", "Juniper", "Tamalpais", "Diablo",
              "Skyline", "Marina", "Orchard", "Willow"]
ROLE_SUFFIX = {"repeater": "Rptr", "companion": "Comp", "room": "Room", "sensor": "Sens"}
CHANNELS = [("Public", 0x11), ("#test", 0xD9), ("#wardriving", 0x4B), ("#bot", 0x2C)]
# node last_seen buckets: (weight, min age s, max age s); the edges of the lastHeard windows
# (1h, 6h, 24h, 7d, 30d) are avoided by EDGE_GAP seconds on both sides
NODE_AGE_BUCKETS = [(6, 0, 3600), (10, 3600, 6 * 3600), (14, 6 * 3600, 86400),
                    (30, 86400, 7 * 86400), (25, 7 * 86400, 30 * 86400), (15, 30 * 86400, 90 * 86400)]
WINDOW_EDGES = [3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400]
EDGE_GAP = 300
ROWS_PER_COMMIT = 50000


# -- time helpers -----------------------------------------------------------------------

def rfc3339(epoch, millis=None):
    """Unix seconds -> "YYYY-MM-DDTHH:MM:SSZ" (UTC); with millis (0..999) the
    "YYYY-MM-DDTHH:MM:SS.mmmZ" form."""
    s = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(epoch)))
    if millis is None:
        return s + "Z"
    return "%s.%03dZ" % (s, millis)


def parse_rfc3339(text):
    """"YYYY-MM-DDTHH:MM:SS[.fff]Z" (or +00:00) -> unix seconds as a float."""
    t = text.strip()
    frac = 0.0
    if t.endswith("Z"):
        t = t[:-1]
    elif t.endswith("+00:00"):
        t = t[:-6]
    if "." in t:
        t, f = t.split(".", 1)
        frac = float("0." + f)
    return calendar.timegm(time.strptime(t, "%Y-%m-%dT%H:%M:%S")) + frac


def content_hash(frame):
    """CoreScope's content hash of a raw frame (bytes): SHA-256 over the payload type, the
    path length (TRACE only) and the payload; 16 lowercase hex characters."""
    header = frame[0]
    rt = header & 3
    pt = (header >> 2) & 0x0F
    off = 1 + (4 if rt in (0, 3) else 0)
    path_byte = frame[off]
    hash_size = (path_byte >> 6) + 1
    count = path_byte & 0x3F
    payload = frame[off + 1 + hash_size * count:]
    data = bytes([pt]) + (bytes([path_byte, 0]) if pt == 9 else b"") + payload
    return hashlib.sha256(data).hexdigest()[:16]


def _weighted(rng, pairs):
    vals = [p[0] for p in pairs]
    weights = [p[1] for p in pairs]
    return rng.choices(vals, weights=weights)[0]


def _obs_count_sampler(rng, mean):
    """Returns f() giving 1 + a geometric number of extra copies, so the mean is `mean`."""
    if mean <= 1.0:
        return lambda: 1
    scale = 1.0 / math.log(1.0 + 1.0 / (mean - 1.0))
    cap = int(mean * 6) + 4
    expo = rng.expovariate
    return lambda: min(cap, 1 + int(expo(1.0 / scale)))


# -- schema -----------------------------------------------------------------------------

def init_schema(path, meshsnapd=None):
    """Creates the current CoreScope schema in a new database file at path by running
    `meshsnapd --init-db path`. meshsnapd defaults to env MESHSNAPD."""
    binary = meshsnapd or os.environ.get("MESHSNAPD")
    if not binary:
        raise RuntimeError("mkdb needs the meshsnapd binary to create the schema: pass "
                           "--meshsnapd or set MESHSNAPD")
    r = subprocess.run([binary, "--init-db", path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("%s --init-db %s failed (status %d): %s"
                           % (binary, path, r.returncode, r.stdout.decode("utf-8", "replace")))


def _columns(conn, table):
    return [r[1] for r in conn.execute("PRAGMA table_info(%s)" % table)]


def _insert_sql(table, cols):
    return "INSERT INTO %s (%s) VALUES (%s)" % (table, ", ".join(cols), ", ".join("?" * len(cols)))


# -- generator --------------------------------------------------------------------------

class _Gen:
    """Row generator. Holds the random source, the nodes (for ADVERT origins and path
    hops), the observer rowids and a pool of observation paths."""

    def __init__(self, rng, now, node_keys, relay_keys, observer_rowids):
        self.rng = rng
        self.now = int(now)
        self.node_keys = node_keys
        self.relay_keys = relay_keys or node_keys or [rng.randbytes(32).hex()]
        self.observer_rowids = observer_rowids
        self.node_roles, self.node_pos, self.node_names = {}, {}, {}  # see _attach_node_info
        self._build_path_pool()

    def _build_path_pool(self, size=4096):
        rng = self.rng
        lens = [(0, 20), (1, 15), (2, 18), (3, 14), (4, 10), (5, 8), (6, 6), (7, 4), (8, 3),
                (9, 1), (10, 1), (12, 1)]
        pool = []
        for _ in range(size):
            n = _weighted(rng, lens)
            keys = [rng.choice(self.relay_keys) for _ in range(n)]
            hops = [k[:2].upper() for k in keys]
            pj = "[" + ",".join('"%s"' % h for h in hops) + "]"
            rp = "[" + ",".join('"%s"' % k for k in keys) + "]" if n else None
            pool.append((pj, rp, bytes.fromhex("".join(hops))))
        self.path_pool = pool

    # one transmission: returns (row dict, frame prefix hex, payload hex)
    def transmission(self, first_seen_epoch, pt=None, rt=None):
        rng = self.rng
        if pt is None:
            pt = _weighted(rng, TYPE_WEIGHTS)
        if rt is None:
            rt = 2 if pt == 9 else _weighted(rng, ROUTE_WEIGHTS)
        from_pubkey = None
        channel_hash = None
        scope_name = None
        if pt in (0, 1, 2):
            dest, src, mac = rng.randbytes(1), rng.randbytes(1), rng.randbytes(2)
            ct = rng.randbytes(16 * rng.randint(1, 4))
            payload = dest + src + mac + ct
            dj = {"type": TYPE_NAMES[pt], "destHash": dest.hex(), "srcHash": src.hex(),
                  "mac": mac.hex(), "encryptedData": ct.hex()}
        elif pt == 3:
            payload = rng.randbytes(4)
            dj = {"type": "ACK", "extraHash": "%08x" % int.from_bytes(payload, "little"), "ackLen": 4}
        elif pt == 4:
            # a few chatty nodes send half of the adverts
            if self.node_keys and rng.random() < 0.5:
                pk = self.node_keys[rng.randrange(max(1, len(self.node_keys) // 20))]
            elif self.node_keys:
                pk = rng.choice(self.node_keys)
            else:
                pk = rng.randbytes(32).hex()
            from_pubkey = pk
            role = self.node_roles.get(pk, "repeater")
            atype = ROLE_ADVERT_TYPE.get(role, 2)
            ts = first_seen_epoch - rng.randint(0, 30)
            sig = rng.randbytes(64)
            lat, lon = self.node_pos.get(pk, (37.5, -122.0))
            name = self.node_names.get(pk, "node")
            flags = atype | 0x10 | 0x80
            app = bytes([flags]) + int(round(lat * 1e6)).to_bytes(4, "little", signed=True) \
                + int(round(lon * 1e6)).to_bytes(4, "little", signed=True) + name.encode("utf-8")[:32]
            payload = bytes.fromhex(pk) + ts.to_bytes(4, "little") + sig + app
            dj = {"type": "ADVERT", "pubKey": pk, "timestamp": ts,
                  "timestampISO": rfc3339(ts, 0), "signature": sig.hex(), "signatureValid": True,
                  "flags": {"raw": flags, "type": atype, "chat": atype == 1, "repeater": atype == 2,
                            "room": atype == 3, "sensor": atype == 4, "hasLocation": True,
                            "hasFeat1": False, "hasFeat2": False, "hasName": True},
                  "lat": lat, "lon": lon, "name": name}
        elif pt == 5:
            if rng.random() < 0.45:
                ch, chb = rng.choice(CHANNELS)
                mac = rng.randbytes(2)
                ct = rng.randbytes(16 * rng.randint(1, 5))
                payload = bytes([chb]) + mac + ct
                sender = "user%02d" % rng.randint(0, 40)
                dj = {"type": "CHAN", "channelHash": chb, "channelHashHex": "%02X" % chb,
                      "decryptionStatus": "decrypted", "channel": ch,
                      "text": "%s: message %d" % (sender, rng.randint(0, 99999)),
                      "sender": sender, "sender_timestamp": first_seen_epoch - rng.randint(0, 20)}
                channel_hash = ch
            else:
                chb = rng.randint(1, 255)
                mac = rng.randbytes(2)
                ct = rng.randbytes(16 * rng.randint(1, 5))
                payload = bytes([chb]) + mac + ct
                dj = {"type": "GRP_TXT", "mac": mac.hex(), "encryptedData": ct.hex(),
                      "channelHash": chb, "channelHashHex": "%02X" % chb,
                      "decryptionStatus": "no_key"}
                channel_hash = "enc_%02X" % chb
        elif pt == 7:
            dest, eph, mac = rng.randbytes(1), rng.randbytes(32), rng.randbytes(2)
            ct = rng.randbytes(16 * rng.randint(1, 3))
            payload = dest + eph + mac + ct
            dj = {"type": "ANON_REQ", "destHash": dest.hex(), "mac": mac.hex(),
                  "encryptedData": ct.hex(), "ephemeralPubKey": eph.hex()}
        elif pt == 8:
            dest, src, mac = rng.randbytes(1), rng.randbytes(1), rng.randbytes(2)
            pd = rng.randbytes(rng.randint(4, 20))
            payload = dest + src + mac + pd
            dj = {"type": "PATH", "destHash": dest.hex(), "srcHash": src.hex(), "mac": mac.hex(),
                  "pathData": pd.hex()}
        elif pt == 9:
            tag, auth, fl = rng.randbytes(4), rng.randbytes(4), 0
            hops = bytes.fromhex("".join(k[:2] for k in rng.sample(self.relay_keys, min(3, len(self.relay_keys)))))
            payload = tag + auth + bytes([fl]) + hops
            dj = {"type": "TRACE", "pathData": hops.hex(), "tag": int.from_bytes(tag, "little"),
                  "authCode": int.from_bytes(auth, "little"), "traceFlags": fl}
        else:  # 11 CONTROL
            body = bytes([0x80, 0x02]) + rng.randbytes(8)
            payload = body
            dj = {"type": "CONTROL", "raw": body.hex(), "ctrlFlags": "80", "ctrlZeroHop": True,
                  "ctrlLength": len(body), "ctrlSubtype": "DISCOVER_REQ", "ctrlFilter": 2,
                  "ctrlTag": int.from_bytes(body[2:6], "little"),
                  "ctrlSince": int.from_bytes(body[6:10], "little")}
        header = bytes([(pt << 2) | rt])
        transport = b""
        if rt in (0, 3):
            transport = rng.randbytes(4)
            scope_name = ""
        # the first copy's own path (1-byte hops)
        if pt == 9:
            snrs = bytes(rng.randint(0, 60) for _ in range(rng.randint(0, 2)))
            path_byte, path = len(snrs), snrs
        else:
            pj, _, path = self.path_pool[self.rng.randrange(len(self.path_pool))]
            path_byte = len(path)
        frame = header + transport + bytes([path_byte]) + path + payload
        raw = frame.hex()
        raw = raw.upper() if rng.random() < 0.7 else raw
        row = {"raw_hex": raw, "hash": content_hash(frame), "route_type": rt, "payload_type": pt,
               "payload_version": 0, "decoded_json": json.dumps(dj, separators=(",", ":"), ensure_ascii=False),
               "from_pubkey": from_pubkey, "channel_hash": channel_hash, "scope_name": scope_name}
        return row, (header + transport).hex().upper(), payload.hex().upper()

    def observations(self, tx_id, fs_epoch, k, prefix_hex, payload_hex, exclude=()):
        """k observation rows (dicts) from distinct observers not in exclude."""
        rng = self.rng
        cands = self.observer_rowids
        if exclude:
            ex = set(exclude)
            cands = [o for o in cands if o not in ex]
        k = min(k, len(cands))
        if k <= 0:
            return []
        chosen = rng.sample(cands, k)
        out = []
        now = self.now
        pool = self.path_pool
        npool = len(pool)
        rnd = rng.random
        for i, oidx in enumerate(chosen):
            pj, rp, pbytes = pool[rng.randrange(npool)]
            ts = fs_epoch + (rng.randint(0, 2) if i == 0 else int(rng.expovariate(0.2)))
            if ts > now:
                ts = now
            r = rnd()
            out.append({
                "transmission_id": tx_id, "observer_idx": oidx,
                "direction": "rx" if r < 0.5 else None,
                "snr": round(rng.uniform(-14, 14) * 4) / 4 if r < 0.85 else None,
                "rssi": float(rng.randint(-125, -40)) if r < 0.85 else None,
                "score": rng.randint(0, 1000) if r < 0.3 else None,
                "path_json": pj, "timestamp": ts,
                "resolved_path": rp if r < 0.1 else None,
                "raw_hex": (prefix_hex + "%02X" % len(pbytes) + pbytes.hex().upper() + payload_hex)
                           if r > 0.9 else None,
            })
        return out


def _node_rows(rng, n, now):
    rows = []
    keys = set()
    advert_counts = rng.sample(range(1, 20 * n + 20), n)
    for i in range(n):
        while True:
            pk = rng.randbytes(32).hex()
            if pk not in keys:
                keys.add(pk)
                break
        role = _weighted(rng, ROLE_WEIGHTS)
        w = rng.choice(NAME_WORDS)
        name = "%s %s %04d" % (w, ROLE_SUFFIX[role], i)
        if i % 29 == 7:
            name += " \U0001F410"  # goat
        elif i % 31 == 11:
            name = "Caf\u00e9 " + name
        _, lo, hi = NODE_AGE_BUCKETS[_weighted(rng, [(j, b[0]) for j, b in enumerate(NODE_AGE_BUCKETS)])]
        while True:
            age = rng.uniform(lo + EDGE_GAP if lo else 0, hi - EDGE_GAP)
            if all(abs(age - e) > EDGE_GAP for e in WINDOW_EDGES):
                break
        ls = now - age
        fs = ls - rng.uniform(0, 60 * 86400)
        ms = rng.randint(0, 999) if rng.random() < 0.3 else None
        if rng.random() < 0.03:
            lat, lon = 0.0, 0.0
        else:
            lat = round(rng.uniform(36.9, 38.1), 5)
            lon = round(rng.uniform(-122.6, -121.6), 5)
        rows.append({
            "public_key": pk, "name": name, "role": role, "lat": lat, "lon": lon,
            "last_seen": rfc3339(ls, ms), "first_seen": rfc3339(fs, rng.randint(0, 999)),
            "advert_count": advert_counts[i],
            "battery_mv": rng.randint(3300, 4200) if role == "sensor" else None,
            "temperature_c": round(rng.uniform(-5, 35), 2) if role == "sensor" else None,
            "foreign_advert": 0,
        })
    return rows


def _observer_rows(rng, m, now, nodes):
    rows = []
    ids = set()
    relay_nodes = [n for n in nodes if n["role"] in ("repeater", "room")]
    for i in range(m):
        if i < m // 2 and i < len(relay_nodes):
            oid = relay_nodes[i]["public_key"].upper()
            name = relay_nodes[i]["name"]
        else:
            while True:
                oid = rng.randbytes(32).hex().upper()
                if oid not in ids:
                    break
            name = "observer-%s-%02d" % (rng.choice(NAME_WORDS).lower(), i)
        ids.add(oid)
        ls = now - rng.uniform(0, 3000)
        rows.append({
            "id": oid, "name": name, "iata": IATAS[i % len(IATAS)],
            "last_seen": rfc3339(ls, rng.randint(0, 999)),
            "first_seen": rfc3339(ls - rng.uniform(86400, 60 * 86400), rng.randint(0, 999)),
            "packet_count": 0, "model": None, "firmware": None,
            "client_version": rng.choice(["meshcoretomqtt/1.1.0.0-622ce04", "meshcore-dev/meshcore-ha:2.4.0",
                                          "pyMC_repeater/1.0.6"]),
            "radio": rng.choice(["910.525,62.5,7,5", "910.5250244,62.5,7,5"]),
            "battery_mv": None, "uptime_secs": None, "noise_floor": None, "inactive": 0,
            "last_packet_at": rfc3339(ls, rng.randint(0, 999)),
        })
    return rows


def _insert_dicts(conn, table, rows, cols_present):
    if not rows:
        return
    cols = [c for c in rows[0].keys() if c in cols_present]
    sql = _insert_sql(table, cols)
    conn.executemany(sql, ([r[c] for c in cols] for r in rows))


def _attach_node_info(gen, nodes):
    gen.node_roles = {n["public_key"]: n["role"] for n in nodes}
    gen.node_pos = {n["public_key"]: (n["lat"], n["lon"]) for n in nodes}
    gen.node_names = {n["public_key"]: n["name"] for n in nodes}


def build(path, nodes=200, observers=20, transmissions=2000, obs_per_tx=4.0, days=7.0, seed=1,
          legacy_last_seen=False, inactive_observers=0, now=None, meshsnapd=None, force=False,
          verbose=False):
    """Builds a database at path (see the module comment). Refuses to overwrite an existing
    file unless force. Returns {"nodes", "observers", "transmissions", "observations",
    "now", "seconds"}."""
    t0 = time.monotonic()
    if os.path.exists(path):
        if not force:
            raise FileExistsError("%s exists (use --force to replace it)" % path)
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    now = int(now if now is not None else time.time())
    rng = random.Random(seed)
    init_schema(path, meshsnapd)

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-131072")
    conn.execute("PRAGMA temp_store=MEMORY")
    cols = {t: set(_columns(conn, t)) for t in ("nodes", "observers", "transmissions", "observations")}
    for t, c in cols.items():
        if not c:
            raise RuntimeError("%s: the schema created by --init-db has no table %s" % (path, t))
    if not legacy_last_seen and "last_seen" not in cols["transmissions"]:
        raise RuntimeError("%s: transmissions has no last_seen column" % path)

    # drop the secondary indexes of the two big tables during the bulk insert
    idx = conn.execute("SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL "
                       "AND tbl_name IN ('transmissions','observations')").fetchall()
    conn.execute("BEGIN")
    for name, _ in idx:
        conn.execute('DROP INDEX "%s"' % name)

    node_rows = _node_rows(rng, nodes, now)
    _insert_dicts(conn, "nodes", node_rows, cols["nodes"])
    obs_rows = _observer_rows(rng, observers, now, node_rows)
    if inactive_observers:
        for r in obs_rows[-inactive_observers:]:
            r["inactive"] = 1
    _insert_dicts(conn, "observers", obs_rows, cols["observers"])
    conn.execute("COMMIT")
    rowids = [r[0] for r in conn.execute("SELECT rowid FROM observers ORDER BY rowid")]
    relay_keys = [n["public_key"] for n in node_rows if n["role"] in ("repeater", "room")]
    gen = _Gen(rng, now, [n["public_key"] for n in node_rows], relay_keys, rowids)
    _attach_node_info(gen, node_rows)

    # first_seen: sorted uniform times over `days`, a few shifted earlier (late arrivals)
    span = max(60.0, days * 86400.0)
    times = sorted(rng.uniform(now - span, now - 60) for _ in range(transmissions))
    tx_cols = ["id", "raw_hex", "hash", "first_seen", "route_type", "payload_type", "payload_version",
               "decoded_json", "from_pubkey", "last_seen", "channel_hash", "scope_name"]
    tx_cols = [c for c in tx_cols if c in cols["transmissions"]]
    obs_cols = ["id", "transmission_id", "observer_idx", "direction", "snr", "rssi", "score",
                "path_json", "timestamp", "resolved_path", "raw_hex"]
    obs_cols = [c for c in obs_cols if c in cols["observations"]]
    tx_sql = _insert_sql("transmissions", tx_cols)
    obs_sql = _insert_sql("observations", obs_cols)
    kcount = _obs_count_sampler(rng, obs_per_tx)
    hashes = set()
    obs_id = 0
    n_obs = 0
    per_observer = {}
    last_per_observer = {}
    tx_batch, obs_batch = [], []
    conn.execute("BEGIN")
    pending = 0
    for i in range(transmissions):
        tx_id = i + 1
        fs = int(times[i])
        if rng.random() < 0.04:
            fs -= rng.randint(1, 900)
        while True:
            row, prefix, payload = gen.transmission(fs)
            if row["hash"] not in hashes:
                hashes.add(row["hash"])
                break
        obs = gen.observations(tx_id, fs, kcount(), prefix, payload)
        last_seen = max(o["timestamp"] for o in obs) if obs else 0
        row["id"] = tx_id
        row["first_seen"] = rfc3339(fs)
        row["last_seen"] = 0 if legacy_last_seen else last_seen
        tx_batch.append([row[c] for c in tx_cols])
        for o in obs:
            obs_id += 1
            o["id"] = obs_id
            obs_batch.append([o[c] for c in obs_cols])
            oi = o["observer_idx"]
            per_observer[oi] = per_observer.get(oi, 0) + 1
            if o["timestamp"] > last_per_observer.get(oi, 0):
                last_per_observer[oi] = o["timestamp"]
        pending += 1 + len(obs)
        if pending >= ROWS_PER_COMMIT or i == transmissions - 1:
            conn.executemany(tx_sql, tx_batch)
            conn.executemany(obs_sql, obs_batch)
            n_obs += len(obs_batch)
            tx_batch, obs_batch = [], []
            conn.execute("COMMIT")
            if verbose:
                sys.stderr.write("mkdb: %d/%d transmissions, %d observations, %.1f s\n"
                                 % (i + 1, transmissions, n_obs, time.monotonic() - t0))
            conn.execute("BEGIN")
            pending = 0
    for oi, cnt in per_observer.items():
        conn.execute("UPDATE observers SET packet_count=? WHERE rowid=?", (cnt, oi))
    conn.execute("COMMIT")
    if verbose:
        sys.stderr.write("mkdb: rebuilding %d indexes\n" % len(idx))
    conn.execute("BEGIN")
    for _, sql in idx:
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return {"nodes": nodes, "observers": observers, "transmissions": transmissions,
            "observations": n_obs, "now": now, "seconds": time.monotonic() - t0}


def _gen_from_db(conn, rng, now):
    nodes = [dict(public_key=r[0], role=r[1] or "", name=r[2] or "", lat=r[3] or 0.0, lon=r[4] or 0.0)
             for r in conn.execute("SELECT public_key, role, name, lat, lon FROM nodes")]
    relay = [n["public_key"] for n in nodes if n["role"] in ("repeater", "room")]
    rowids = [r[0] for r in conn.execute("SELECT rowid FROM observers ORDER BY rowid")]
    if not rowids:
        raise RuntimeError("the database has no observers to append observations from")
    gen = _Gen(rng, now, [n["public_key"] for n in nodes], relay, rowids)
    _attach_node_info(gen, nodes)
    return gen


def append_transmissions(path, count=1, obs_per_tx=2, now=None, seed=None, payload_type=None,
                         route_type=None):
    """Appends count new transmissions, each with obs_per_tx observations from distinct
    existing observers, in one transaction (as the ingestor would; first_seen = now).
    transmissions.last_seen is set when the column exists. Returns a list of dicts
    {"id", "hash", "first_seen", "payload_type", "route_type", "from_pubkey",
    "observation_ids", "observer_idx"}."""
    now = int(now if now is not None else time.time())
    rng = random.Random(seed if seed is not None else time.time_ns())
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        gen = _gen_from_db(conn, rng, now)
        txc = set(_columns(conn, "transmissions"))
        obc = set(_columns(conn, "observations"))
        out = []
        conn.execute("BEGIN IMMEDIATE")
        for _ in range(count):
            while True:
                row, prefix, payload = gen.transmission(now, pt=payload_type, rt=route_type)
                if conn.execute("SELECT 1 FROM transmissions WHERE hash=?", (row["hash"],)).fetchone() is None:
                    break
            row["first_seen"] = rfc3339(now)
            row["last_seen"] = now
            cols = [c for c in row if c in txc]
            cur = conn.execute(_insert_sql("transmissions", cols), [row[c] for c in cols])
            tx_id = cur.lastrowid
            obs = gen.observations(tx_id, now, obs_per_tx, prefix, payload)
            ids = []
            for o in obs:
                o["timestamp"] = now
                ocols = [c for c in o if c in obc]
                ids.append(conn.execute(_insert_sql("observations", ocols), [o[c] for c in ocols]).lastrowid)
                conn.execute("UPDATE observers SET packet_count = packet_count + 1 WHERE rowid=?",
                             (o["observer_idx"],))
            out.append({"id": tx_id, "hash": row["hash"], "first_seen": row["first_seen"],
                        "payload_type": row["payload_type"], "route_type": row["route_type"],
                        "from_pubkey": row["from_pubkey"], "observation_ids": ids,
                        "observer_idx": [o["observer_idx"] for o in obs]})
        conn.execute("COMMIT")
        return out
    finally:
        conn.close()


def append_observations(path, tx_id, count=1, now=None, seed=None):
    """Appends count late observations of existing transmission tx_id from observers that
    have not seen it yet (timestamp = now), and raises its last_seen (when the column
    exists) as the ingestor does. Returns the new observation ids."""
    now = int(now if now is not None else time.time())
    rng = random.Random(seed if seed is not None else time.time_ns())
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        gen = _gen_from_db(conn, rng, now)
        r = conn.execute("SELECT raw_hex FROM transmissions WHERE id=?", (tx_id,)).fetchone()
        if r is None:
            raise KeyError("no transmission with id %d" % tx_id)
        seen = [x[0] for x in conn.execute("SELECT observer_idx FROM observations WHERE transmission_id=?",
                                           (tx_id,))]
        obc = set(_columns(conn, "observations"))
        conn.execute("BEGIN IMMEDIATE")
        ids = []
        for o in gen.observations(tx_id, now, count, "", "", exclude=seen):
            o["timestamp"] = now
            o["raw_hex"] = None
            ocols = [c for c in o if c in obc]
            ids.append(conn.execute(_insert_sql("observations", ocols), [o[c] for c in ocols]).lastrowid)
        if "last_seen" in set(_columns(conn, "transmissions")):
            conn.execute("UPDATE transmissions SET last_seen=? WHERE id=? AND last_seen < ?", (now, tx_id, now))
        conn.execute("COMMIT")
        return ids
    finally:
        conn.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description="Build a synthetic CoreScope database.")
    ap.add_argument("path")
    ap.add_argument("--nodes", type=int, default=200)
    ap.add_argument("--observers", type=int, default=20)
    ap.add_argument("--transmissions", type=int, default=2000)
    ap.add_argument("--obs-per-tx", type=float, default=4.0, help="average observations per transmission")
    ap.add_argument("--days", type=float, default=7.0, help="first_seen spread, in days before now")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--legacy-last-seen", action="store_true",
                    help="leave transmissions.last_seen = 0 everywhere (needs the backfill)")
    ap.add_argument("--inactive-observers", type=int, default=0,
                    help="mark the last K observers inactive")
    ap.add_argument("--meshsnapd", help="meshsnapd binary for --init-db (default: env MESHSNAPD)")
    ap.add_argument("--force", action="store_true", help="replace an existing file")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)
    try:
        st = build(a.path, nodes=a.nodes, observers=a.observers, transmissions=a.transmissions,
                   obs_per_tx=a.obs_per_tx, days=a.days, seed=a.seed, legacy_last_seen=a.legacy_last_seen,
                   inactive_observers=a.inactive_observers, meshsnapd=a.meshsnapd, force=a.force,
                   verbose=not a.quiet)
    except (RuntimeError, FileExistsError, sqlite3.Error, OSError) as e:
        sys.stderr.write("mkdb: %s\n" % e)
        return 1
    print("%s: %d nodes, %d observers, %d transmissions, %d observations in %.1f s"
          % (a.path, st["nodes"], st["observers"], st["transmissions"], st["observations"], st["seconds"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
