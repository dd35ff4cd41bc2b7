#!/usr/bin/python3
"""test_param_sweep: every route of shm/route.h with random and edge values for every
parameter it takes, against the real daemon (under the sanitizer build in the ASan CTest
run, where any memory error or undefined behaviour fails the test through the log).

The routes are read from shm/route.h (MESHSNAP_SOURCE; without it the test skips), so a
new route is swept too; the parameters each route takes come from PARAMS below (the
table of docs/api.md), and every route also gets names it does not know. Values: numbers
at the edges of 32, 53 and 64 bits and past them, with signs and trailing characters;
times in and out of years 0000-9999 with offsets and fractions; windows, regions and
comma lists; percent-encoded bytes (valid, NUL, controls, invalid UTF-8, malformed
escapes); long and empty values; path parameters from the database and invented. Methods
GET, HEAD and now and then POST or PUT.

Seeded (MESHSNAP_SWEEP_SEED, default 1) and bounded (MESHSNAP_SWEEP_REQUESTS, default
2500). Every answer must be one of 200, 304, 400, 404, 405, 409, 503; never a 5xx other
than 503; a JSON body (for HEAD: none) with a string "error" on every error; and at the
end the daemon still runs with the same workers and its log has no sanitizer report
(Daemon.stop).
"""

import json
import os
import random
import re
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402

PARAMS = {
    "/api/packets": ["limit", "offset", "order", "type", "route", "observer", "hash", "since", "until", "region",
                     "node", "channel", "groupByHash", "expand"],
    "/api/nodes": ["limit", "offset", "role", "search", "sortBy", "lastHeard", "before"],
    "/api/analytics/": ["region", "window", "from", "to", "area"],
    "/api/nodes/clock-skew": ["area"],
    "/api/observers/clock-skew": ["area"],
}
ALLOWED = {200, 304, 400, 404, 405, 409, 503}
RAW_SAFE = "%+,:/'\"<>\\!$()*;@[]{}|^`~="  # sent as they are in the raw variant

NUMBERS = ["0", "1", "-1", "50", "10000", "10001", "2147483647", "2147483648", "-2147483649",
           "9007199254740991", "9007199254740992", "9223372036854775807", "9223372036854775808",
           "-9223372036854775808", "-9223372036854775809", "18446744073709551616", "99999999999999999999",
           "007", "+5", " 5", "5 ", "5abc", "0x10", "1e3", "1.5", "-0", "--1", "\u0665"]
TIMES = ["2026-01-02T15:04:05Z", "2026-01-02", "2026-01-02T15:04:05.123456+01:00", "0000-01-01T00:00:00Z",
         "9999-12-31T23:59:59.999Z", "10000-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2026-13-01",
         "2026-02-30T00:00:00Z", "2026-01-02T25:00:00Z", "2026-01-02T15:04:60Z", "2026-01-02 15:04:05",
         "yesterday", "2026-01-02T15:04:05+24:00", "2026-01-02T15:04:05-00:30", "T", "2026"]
WORDS = ["", "all", "ALL", "SFO", "sfo,sjc", "SFO,,SJC, ", "a" * 300, "x-y_z", "repeater", "room", "companion",
         "sensor", "lastSeen", "name", "packetCount", "1h", "6h", "24h", "1d", "3d", "7d", "1w", "30d", "2h",
         "asc", "desc", "true", "1", "observations", "observations,bogus", "#wardriving", "\u00e9t\u00e9",
         "\u202e", "<script>", "'; DROP TABLE nodes; --", "../../etc/passwd", "%", "\\"]
RAW = ["%00", "%01", "%0a", "%7f", "%ff", "%fe%ff", "%c3%28", "%e2%82", "%zz", "%4", "%", "%%", "+", "%2B",
       "%25", "a%00b", "%26", "%3D", "%2F", "%u0041", "%C0%AF"]


def routes_from_header(path):
    """(method, pattern) of every route in shm/route.h's table."""
    text = open(path).read()
    return re.findall(r'R\(\s*\w+\s*,\s*(GET|POST|PUT)\s*,\s*"([^"]+)"', text)


class ParamSweepTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        src = os.environ.get("MESHSNAP_SOURCE", "")
        header = os.path.join(src, "shm", "route.h")
        if not src or not os.path.exists(header):
            raise unittest.SkipTest("MESHSNAP_SOURCE is not set: shm/route.h is needed for the route list")
        cls.routes = routes_from_header(header)
        if len(cls.routes) < 10:
            raise AssertionError("only %d routes found in %s" % (len(cls.routes), header))
        cls.tmp, cls.db = msnlib.generated_db("msn-sweep-", "sweep.db", nodes=80, observers=6,
                                              transmissions=500, obs_per_tx=2.0, days=2, seed=59)
        conn = msnlib.sql_connect(cls.db)
        cls.ids = {
            "id": [str(r[0]) for r in conn.execute("SELECT id FROM transmissions LIMIT 5")] +
                  [r[0] for r in conn.execute("SELECT hash FROM transmissions LIMIT 5")],
            "pubkey": [r[0] for r in conn.execute("SELECT public_key FROM nodes LIMIT 5")],
        }
        cls.ids["pubkey"] += [k[:8] for k in cls.ids["pubkey"]]
        cls.observers = [r[0] for r in conn.execute("SELECT id FROM observers")]
        conn.close()
        cls.d = msnlib.start_daemon(cls.db, cls.tmp, workers=2,
                                    sections={"backfill": {"enabled": False}, "analytics": {"max_shapes": 64}})

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def value(self, rng, name):
        """A value for parameter name, already encoded for the query string."""
        pick = rng.random()
        if pick < 0.12:
            return rng.choice(RAW) + (urllib.parse.quote(rng.choice(WORDS), safe="") if rng.random() < 0.3 else "")
        if name in ("limit", "offset", "type", "route"):
            v = rng.choice(NUMBERS) if pick < 0.85 else str(rng.randint(-10 ** 6, 10 ** 6))
        elif name in ("since", "until", "from", "to", "before"):
            v = rng.choice(TIMES)
        elif name == "observer":
            v = ",".join(rng.sample(self.observers, min(len(self.observers), rng.randint(1, 3)))) \
                if pick < 0.7 else rng.choice(WORDS)
        elif name == "node":
            v = rng.choice(self.ids["pubkey"] + WORDS)
        elif name == "hash":
            v = rng.choice(self.ids["id"][5:] + ["f" * 64, "0" * 65, "xyz"] + WORDS)
        else:
            v = rng.choice(WORDS)
        if rng.random() < 0.05:
            v = v * rng.randint(2, 40)
        if rng.random() < 0.8:
            return urllib.parse.quote(v, safe="")
        # raw: what a careless client sends (a '%' stays itself, so escapes may be malformed)
        return urllib.parse.quote(v, safe=RAW_SAFE)

    def path_value(self, rng, name):
        if rng.random() < 0.5 and name in self.ids:
            v = rng.choice(self.ids[name])
        else:
            v = rng.choice(NUMBERS + WORDS + ["0" * 64, "f" * 63, "g" * 64, "%00", "%2F", "%zz"])
        if v == "" or v.startswith("%"):
            return v or "x"
        return urllib.parse.quote(v, safe="")

    def target(self, rng, pattern):
        segs = []
        for seg in pattern.split("/"):
            segs.append(self.path_value(rng, seg[1:]) if seg.startswith(":") else seg)
        path = "/".join(segs)
        names = []
        for prefix, ps in PARAMS.items():
            if pattern == prefix or (prefix.endswith("/") and pattern.startswith(prefix)):
                names = ps
        chosen = rng.sample(names, rng.randint(0, len(names))) if names else []
        chosen += rng.sample(["bogus", "x", "limit", "LIMIT", "", "a b"], rng.randint(0, 2))
        if rng.random() < 0.03:
            chosen += ["p%d" % i for i in range(rng.randint(30, 40))]
        q = "&".join(urllib.parse.quote(n, safe="" if rng.random() < 0.9 else RAW_SAFE) + "=" + self.value(rng, n)
                     for n in chosen)
        return path + ("?" + q if q else "") + ("/" if rng.random() < 0.02 else "")

    def test_sweep(self):
        seed = int(os.environ.get("MESHSNAP_SWEEP_SEED", "1"))
        n = int(os.environ.get("MESHSNAP_SWEEP_REQUESTS", "2500"))
        rng = random.Random(seed)
        client = self.d.client(timeout=30)
        seen = {}
        for i in range(n):
            method, pattern = rng.choice(self.routes)
            m = method if rng.random() < 0.9 else rng.choice(["GET", "HEAD", "POST", "PUT", "DELETE"])
            if m == "GET" and rng.random() < 0.15:
                m = "HEAD"
            t = self.target(rng, pattern)
            body = b'{"x": 1}' if m in ("POST", "PUT") else None
            r = client.request(m, t, body=body)
            what = "request %d (seed %d): %s %s -> %d %r" % (i, seed, m, t[:300], r.status, r.body[:200])
            # the write endpoints CoreScope has (geo-filter, prune, perf reset) refuse with 403
            allowed = ALLOWED | {403} if m in ("POST", "PUT") else ALLOWED
            self.assertIn(r.status, allowed, what)
            seen[r.status] = seen.get(r.status, 0) + 1
            if m == "HEAD":
                self.assertEqual(r.body, b"", what)
                continue
            if "json" in (r.header("content-type") or ""):
                try:
                    doc = json.loads(r.body.decode("utf-8"))
                except (UnicodeDecodeError, ValueError) as e:
                    self.fail("%s: not JSON: %s" % (what, e))
                if r.status >= 400:
                    self.assertIsInstance(doc, dict, what)
                    self.assertIsInstance(doc.get("error"), str, what)
        client.close()
        msnlib.log("%d requests over %d routes: statuses %s" % (n, len(self.routes), dict(sorted(seen.items()))))
        self.assertGreater(seen.get(200, 0), n // 20, "the sweep also reaches the handlers")
        self.assertGreater(seen.get(400, 0), n // 20, "and their refusals")
        self.d.check_alive()


if __name__ == "__main__":
    msnlib.main(ParamSweepTest)
