#!/usr/bin/python3
"""test_doc_hold: large stored documents are sent from the snapshot's map under a held
read transaction (worker/respond.h "held", worker/snapview.h holds), within the bounds
[http] doc_holds and doc_hold_ms, and copied otherwise.

- Sent from the map: the large stored analytics document (/api/analytics/topology, a few
  hundred KiB) arrives whole, its bytes hashing to the ETag the master stored
  (msnlib.etag_of; its gzip copy too, small enough to be sent whole); it took a hold
  (docHoldsStarted) and nothing fell back.
- A slow reader across a republication: an HTTP/2 stream asked with a window of 0 keeps
  its hold (docHolds 1, no buffered bytes, one active reader slot of the worker in the
  environment's reader table when mdb_stat is installed) while new rows make the master
  republish the document; when the client then reads, it receives the document as it was
  when asked, whole (copying would have cut it short at the change). Afterwards the gauge
  is 0 and the worker has no active reader slot left.
- A client that closes its connection mid-send releases its hold at once; a daemon
  stopped while a send holds a transaction exits cleanly (under the sanitizers: no leak).
- The bounds: with doc_holds = 1 and doc_hold_ms = 1, a stalled stream takes the only
  hold; a request meanwhile finds none free and is copied (fallback, a 32 KiB buffered
  piece for a second stalled stream), and the first stream's hold expires after its first
  piece, the rest copied: every body still arrives whole and exact, the fallback counter
  rises by three (/metrics too), and the gauge returns to 0.
"""

import gzip
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import hostile  # noqa: E402
import mkdb  # noqa: E402
import msnlib  # noqa: E402

DOC = "/api/analytics/topology"
PIECE = 32 * 1024


def bounds(d):
    return d.admin_get("/api/perf").json()["bounds"]


def active_readers(d, pid):
    """The worker pid's active read transactions in the served environment's reader table
    (mdb_stat -r), or None without mdb_stat (lmdb-utils)."""
    tool = shutil.which("mdb_stat")
    if tool is None:
        return None
    env = os.path.realpath(os.path.join(d.state_dir, "current"))
    out = subprocess.run([tool, "-r", env], capture_output=True, text=True, timeout=30).stdout
    n = 0
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[0] == str(pid) and f[2] != "-":
            n += 1
    return n


class DocHoldTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-doc-hold-", "hold.db", nodes=300, observers=12,
                                              transmissions=3000, obs_per_tx=4.0, days=2, seed=43)

    def start(self, analytics=None, **http):
        conf = {"http2": True}
        conf.update(http)
        sections = {"backfill": {"enabled": False}, "http": conf}
        if analytics:
            sections["analytics"] = analytics
        d = msnlib.start_daemon(self.db, self.tmp, test=self, workers=1, sections=sections)
        d.wait_status(DOC, timeout=120, what="the topology analytic published")
        pid = d.wait_for(lambda: msnlib.worker_processes(d.pid).get(0), timeout=10, what="the worker")
        return d, pid

    def exact(self, r, what):
        """r is a whole 200 answer whose bytes are the stored document its ETag names."""
        self.assertEqual(r.status, 200, what)
        self.assertEqual(len(r.body), int(r.header("content-length")), what)
        etag = r.header("etag")
        if r.header("content-encoding") == "gzip":
            self.assertTrue(etag.endswith('-gz"'), etag)
            self.assertEqual(msnlib.etag_of(gzip.decompress(r.body)), etag[:-4] + '"', what)
        else:
            self.assertEqual(msnlib.etag_of(r.body), etag, what)
        return etag

    def test_sent_from_the_map_across_a_republication(self):
        d, pid = self.start(doc_hold_ms=600000, write_timeout_ms=600000, analytics={"topology": 1})
        b0 = bounds(d)
        r = d.get(DOC, timeout=30)
        self.exact(r, "identity")
        self.assertGreater(len(r.body), 8 * PIECE, "the document is large")
        self.exact(d.get(DOC, headers={"Accept-Encoding": "gzip"}, timeout=30), "gzip")  # small: copied whole
        b1 = bounds(d)
        self.assertEqual(b1["docHoldsStarted"] - b0["docHoldsStarted"], 1, b1)
        self.assertEqual(b1["docHoldFallbacks"], b0["docHoldFallbacks"], "nothing was copied")
        d.wait_for(lambda: bounds(d)["docHolds"] == 0, timeout=10, what="the holds released")

        # a client that goes away mid-send: its hold is released with the request
        gone = hostile.HeldH2(d.host, d.port, DOC)
        d.wait_for(lambda: bounds(d)["docHolds"] == 1, timeout=30, what="the stalled stream's hold")
        gone.close()
        d.wait_for(lambda: bounds(d)["docHolds"] == 0, timeout=30, what="the hold released at the close")

        # a reader that asks and then does not read: its hold stays, at no buffered cost
        for _ in range(20):
            before = d.get(DOC, timeout=30).header("etag")
            slow = hostile.HeldH2(d.host, d.port, DOC)
            self.addCleanup(slow.close)
            d.wait_for(lambda: bounds(d)["docHolds"] == 1, timeout=30, what="the stalled stream's hold")
            asked = d.get(DOC, timeout=30).header("etag")
            if asked == before:
                break  # the stream was asked for this very document
            slow.close()  # the periodic republication fell in between: ask again
            d.wait_for(lambda: bounds(d)["docHolds"] == 0, timeout=30, what="the holds released")
        self.assertEqual(asked, before)
        b = bounds(d)
        self.assertEqual(b["bufferedBytes"], 0, "a document sent from the map costs no buffer")
        held = active_readers(d, pid)
        if held is None:
            msnlib.log("mdb_stat (lmdb-utils) is not installed: the reader table is not inspected")
        else:  # polled: the worker's own view is active for a moment now and then (the live feed)
            d.wait_for(lambda: active_readers(d, pid) == 1, timeout=30,
                       what="one active read transaction, held for the stalled stream")

        # new rows: the master republishes the document while the client is not reading
        deadline = time.monotonic() + 120
        seed = 1
        while d.get(DOC, timeout=30).header("etag") == asked:
            self.assertLess(time.monotonic(), deadline, "the topology document was never republished")
            mkdb.append_transmissions(self.db, count=40, obs_per_tx=3, seed=seed)
            seed += 1
            until = time.monotonic() + 8
            while time.monotonic() < until and d.get(DOC, timeout=30).header("etag") == asked:
                time.sleep(0.2)
        msnlib.log("republished: %s -> %s while the stream was stalled" % (asked, d.get(DOC).header("etag")))

        status, body, complete = slow.read_all()
        self.assertTrue(complete, "the stream ends normally (got %d bytes)" % len(body))
        self.assertEqual(status, 200)
        self.assertEqual(msnlib.etag_of(body), asked, "the document as it was when asked, whole")
        slow.close()
        d.wait_for(lambda: bounds(d)["docHolds"] == 0, timeout=30, what="the hold released after the send")
        if held is not None:
            d.wait_for(lambda: active_readers(d, pid) == 0, timeout=30, what="the reader slot released")
        b2 = bounds(d)
        self.assertEqual(b2["docHoldFallbacks"], b0["docHoldFallbacks"], "nothing was copied")
        d.stop()

    def test_stop_with_a_held_send(self):
        d, pid = self.start(shutdown_timeout_ms=1000)
        slow = hostile.HeldH2(d.host, d.port, DOC)
        self.addCleanup(slow.close)
        d.wait_for(lambda: bounds(d)["docHolds"] == 1, timeout=30, what="the stalled stream's hold")
        d.stop()  # the worker waits shutdown_timeout_ms for the send, then releases the hold and exits cleanly

    def test_bounds_fall_back_to_copying(self):
        d, pid = self.start(doc_holds=1, doc_hold_ms=1)
        expect = d.get(DOC, timeout=30)
        etag = self.exact(expect, "the reference answer")
        self.assertGreater(len(expect.body), 8 * PIECE, "the document is large")
        d.wait_for(lambda: bounds(d)["docHolds"] == 0, timeout=10, what="the hold released")
        b0 = bounds(d)
        held = hostile.HeldH2(d.host, d.port, DOC)
        self.addCleanup(held.close)
        d.wait_for(lambda: bounds(d)["docHolds"] == 1, timeout=30, what="the stalled stream's hold")
        # the only hold is taken: this one is copied
        self.assertEqual(self.exact(d.get(DOC, timeout=30), "copied for want of a hold"), etag)
        copied = hostile.HeldH2(d.host, d.port, DOC)
        self.addCleanup(copied.close)
        d.wait_for(lambda: bounds(d)["bufferedBytes"] == PIECE, timeout=30,
                   what="the second stalled stream costing one copied piece")
        self.assertEqual(bounds(d)["docHolds"], 1)
        time.sleep(0.05)  # past doc_hold_ms: the first stream's hold expires at its first piece
        for c, what in ((held, "the stream whose hold expired"), (copied, "the copied stream")):
            status, body, complete = c.read_all()
            self.assertTrue(complete, "%s ends normally (got %d bytes)" % (what, len(body)))
            self.assertEqual(status, 200, what)
            self.assertEqual(msnlib.etag_of(body), etag, what)
            self.assertEqual(body, expect.body, what)
        held.close()
        copied.close()
        d.wait_for(lambda: bounds(d)["docHolds"] == 0 and bounds(d)["bufferedBytes"] == 0, timeout=30,
                   what="every hold and buffer released")
        b = bounds(d)
        self.assertEqual(b["docHoldFallbacks"] - b0["docHoldFallbacks"], 3, b)
        self.assertEqual(b["docHoldsStarted"] - b0["docHoldsStarted"], 1, b)
        metrics = d.get("/metrics").body.decode()
        self.assertIn("meshsnap_http_doc_holds 0\n", metrics)
        self.assertIn("meshsnap_http_doc_holds_total %d\n" % b["docHoldsStarted"], metrics)
        self.assertIn("meshsnap_http_doc_hold_fallbacks_total %d\n" % b["docHoldFallbacks"], metrics)
        d.stop()


if __name__ == "__main__":
    msnlib.main(DocHoldTest)
