#!/usr/bin/python3
"""test_answer_cache: a worker answers a repeated request with the answer it assembled
earlier, within one generation and [http] answer_cache_ms, and never across generations.

One worker, so that every request meets the same cache:
  - a repeated list request is counted as a cache hit (/metrics) and gets the same body;
  - with answer_cache_ms = 60000, new rows still show at once after the generation that
    carries them (the generation is part of what an answer is kept for), and an answer
    with the clock in it (/api/observers' server_time) stays the same while it is reused
    in one generation;
  - with answer_cache_ms = 0 nothing is reused: server_time moves on, no hit is counted.
"""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import mkdb  # noqa: E402
import msnlib  # noqa: E402

LIST = "/api/packets?limit=3"


def hits(d):
    m = re.search(r"(?m)^meshsnap_http_answer_cache_hits_total (\d+)$", d.get("/metrics").body.decode())
    assert m, "meshsnap_http_answer_cache_hits_total is missing from /metrics"
    return int(m.group(1))


class AnswerCacheTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-answer-cache-", "cache.db", nodes=80, observers=6,
                                              transmissions=400, obs_per_tx=2.0, days=1, seed=31)

    def daemon(self, ttl_ms):
        return msnlib.start_daemon(self.db, self.tmp, test=self, workers=1, poll_interval_ms=200,
                                   sections={"backfill": {"enabled": False},
                                             "http": {"answer_cache_ms": ttl_ms}})

    def test_reused_within_a_generation_never_across(self):
        d = self.daemon(60000)
        first = d.get(LIST)
        self.assertEqual(first.status, 200)
        self.assertIsNone(first.header("x-meshsnap-document-generation"), "an assembled answer, not a document")
        before = hits(d)
        again = d.get(LIST)
        self.assertEqual(again.body, first.body)
        self.assertEqual(again.header("etag"), first.header("etag"))
        self.assertGreaterEqual(hits(d), before + 1, "the repeated request was answered from the cache")

        # new rows: the next generation's answer, whatever the time to live
        gen = int(first.header("x-meshsnap-generation"))
        added = mkdb.append_transmissions(self.db, count=2, obs_per_tx=2, seed=7)
        d.wait_fresh(timeout=60, min_generation=gen + 1)
        d.wait_for(lambda: d.get_json("/api/stats")["totalTransmissions"] >= 402, timeout=30,
                   what="the added rows in /api/stats")
        newest = d.get_json(LIST)["packets"][0]["id"]
        self.assertEqual(newest, added[-1]["id"], "a new generation is never answered from an older one")

        # a kept answer is the same bytes, the clock in it included
        # (the master also publishes a generation when analytics land: look until two
        # answers 2 s apart come from one generation)
        for _ in range(10):
            ra = d.get("/api/observers")
            time.sleep(2.1)
            rb = d.get("/api/observers")
            if ra.header("x-meshsnap-generation") == rb.header("x-meshsnap-generation"):
                break
        self.assertEqual(ra.header("x-meshsnap-generation"), rb.header("x-meshsnap-generation"),
                         "two answers of one generation")
        self.assertEqual(ra.json()["server_time"], rb.json()["server_time"], "reused within answer_cache_ms")

    def test_off(self):
        d = self.daemon(0)
        before = hits(d)
        a = d.get("/api/observers").json()["server_time"]
        time.sleep(2.1)
        b = d.get("/api/observers").json()["server_time"]
        self.assertNotEqual(a, b, "answer_cache_ms = 0: every answer is assembled again")
        d.get(LIST)
        d.get(LIST)
        self.assertEqual(hits(d), before)


if __name__ == "__main__":
    msnlib.main(AnswerCacheTest)
