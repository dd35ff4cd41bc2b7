#!/usr/bin/python3
"""test_bounds_buffers: clients that do not read cannot make a worker hold responses
without bound (worker/respond.c, worker/conns.c).

- The bound in bytes: one worker with [http] worker_buffer_mb = 8 and conn_buffer_kb =
  1024 takes 60 HTTP/1.1 slow readers (each asks for a ~7 MB packet list and reads
  nothing) and 3 cleartext HTTP/2 clients that open 100 streams each with a flow-control
  window of 0 (stored analytics documents and assembled lists). The bytes the worker
  holds for them (its buffered_bytes gauge, and the high-water mark) never exceed
  max(worker budget, the largest single response), and the worker's own resident memory
  (RssAnon: the LMDB map is page cache, not counted) grows by less than that plus a
  per-connection allowance (not checked under AddressSanitizer, whose quarantine keeps
  freed memory). Without the bounds it grows by hundreds of MB.
- Still sendable: before the attack, a normal client gets the large stored document and
  the ~7 MB list whole; during it, the admin listener still answers.
- The write timeout: with [http] write_timeout_ms = 1500, the same slow readers and a
  stalled HTTP/2 connection are closed by the server (counted as writeTimeouts) and the
  gauge falls back to 0. So are slow readers whose requests name a WebSocket upgrade on
  an API path (only a handshake taken exempts a connection).
- h2c is off by default: the HTTP/2 preface is answered as a bad HTTP/1 request.
"""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import hostile  # noqa: E402
import msnlib  # noqa: E402

MIB = 1024 * 1024
WORKER_BUDGET = 8 * MIB
CONN_BUDGET_KB = 1024
BIG = "/api/packets?limit=10000&expand=observations"
DOC = "/api/analytics/topology"
H2_PATHS = [DOC, "/api/analytics/channels", "/api/packets?limit=300", "/api/nodes?limit=2000"]
SLOW_READERS = 60
PER_CONN_ALLOWANCE = 64 * 1024  # libh2o's own per-connection memory (buffers, pools), generously
SLACK = 16 * MIB
ADMIN_ALLOWANCE = 256 * 1024  # what the admin listener's own answers (/api/perf, healthz) hold meanwhile


def bounds(d):
    return d.admin_get("/api/perf").json()["bounds"]


class BufferBoundsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-bounds-buf-", "buf.db", nodes=300, observers=12,
                                              transmissions=3000, obs_per_tx=4.0, days=2, seed=43)

    def start(self, **http):
        conf = {"http2": True, "worker_buffer_mb": WORKER_BUDGET // MIB, "conn_buffer_kb": CONN_BUDGET_KB}
        conf.update(http)
        d = msnlib.start_daemon(self.db, self.tmp, test=self, workers=1,
                                sections={"backfill": {"enabled": False}, "http": conf})
        d.wait_status(DOC, timeout=120, what="the topology analytic published")
        pid = d.wait_for(lambda: msnlib.worker_processes(d.pid).get(0), timeout=10, what="the worker")
        return d, pid

    def settle(self, d, pid, timeout=60.0):
        """Waits until the worker has taken every request: its CPU use stops."""
        last = [hostile.cpu_ticks(pid)]

        def idle():
            now = hostile.cpu_ticks(pid)
            quiet = now - last[0] <= 2
            last[0] = now
            return quiet
        d.wait_for(idle, timeout=timeout, interval=1.0, what="the worker to take every request")

    def test_bound_in_bytes(self):
        d, pid = self.start(write_timeout_ms=600000)
        # a normal client gets everything whole, the large list and the stored documents
        big = d.get(BIG, timeout=60)
        self.assertEqual(big.status, 200)
        self.assertEqual(len(big.body), int(big.header("content-length")))
        largest = len(big.body)
        for p in H2_PATHS:
            r = d.get(p, headers={"Accept-Encoding": "gzip"})
            self.assertEqual(r.status, 200, p)
            self.assertEqual(len(r.body), int(r.header("content-length")), p)
            largest = max(largest, len(r.body))
        msnlib.log("the largest response is %d bytes (topology %d)" % (largest, len(d.get(DOC).body)))
        self.assertGreater(largest, CONN_BUDGET_KB * 1024, "a response larger than the connection budget is sent")
        base = hostile.anon_kb(pid)
        with hostile.SlowReaders(d.host, d.port, [BIG], SLOW_READERS) as slow:
            # the worker answers the HTTP/2 preface once it has taken the slow readers' requests
            # (each list is built before it is refused): slow under the sanitizers, hence the wait
            h2 = [hostile.StalledH2(d.host, d.port, H2_PATHS, streams=100, timeout=180) for _ in range(3)]
            try:
                self.assertEqual([c.reason for c in h2 if c.refused], [], "HTTP/2 is on ([http] http2 = yes)")
                self.settle(d, pid, timeout=180)
                grown = (hostile.anon_kb(pid) - base) * 1024
                b = bounds(d)
                msnlib.log("%d slow readers + 3 stalled HTTP/2 x 100 streams: worker memory +%.1f MB, held %d "
                           "bytes (peak %d), %d refused busy" % (SLOW_READERS, grown / MIB, b["bufferedBytes"],
                                                                 b["bufferedPeakBytes"], b["busyRefusals"]))
                bound = max(WORKER_BUDGET, largest)
                allowance = bound + (SLOW_READERS + 3) * PER_CONN_ALLOWANCE + SLACK
                if hostile.sanitized(pid):
                    msnlib.log("AddressSanitizer build: its quarantine holds freed memory; resident memory not checked")
                else:
                    self.assertLess(grown, allowance, "the worker's memory grows by the bound, not by the clients")
                # the admin listener is always answered: its (small) answers count on top
                self.assertLessEqual(b["bufferedPeakBytes"], bound + ADMIN_ALLOWANCE)
                self.assertLessEqual(b["bufferedBytes"], bound + ADMIN_ALLOWANCE)
                self.assertGreater(b["busyRefusals"], 0, "what does not fit is refused with 503")
                self.assertEqual(d.admin_get("/api/healthz").status, 200, "the admin listener still answers")
            finally:
                for c in h2:
                    c.close()
        d.stop()

    def test_write_timeout(self):
        d, pid = self.start(write_timeout_ms=1500)
        with hostile.SlowReaders(d.host, d.port, [BIG], 10) as slow:
            h2 = hostile.StalledH2(d.host, d.port, [DOC], streams=5)
            self.assertFalse(h2.refused)
            # polled on the admin listener: reading the stalled connections would be progress
            d.wait_for(lambda: bounds(d)["writeTimeouts"] >= 2, timeout=60, what="stalled connections closed")
            d.wait_for(lambda: bounds(d)["bufferedBytes"] == 0, timeout=60, what="nothing held any more")
            self.assertEqual(h2.closed_by_server(), 1, "the stalled HTTP/2 connection was closed")
            self.assertGreaterEqual(slow.closed_by_server(), 1, "the stalled slow reader was closed")
            h2.close()
        d.stop()

    def test_upgrade_header_is_no_exemption(self):
        """A request that only names a WebSocket upgrade (on an API path, where no handshake
        is taken) is a slow reader like any other: closed at the write timeout."""
        d, pid = self.start(write_timeout_ms=1500)
        with hostile.SlowReaders(d.host, d.port, [BIG], 3,
                                 headers="Upgrade: websocket\r\nConnection: Upgrade\r\n") as slow:
            d.wait_for(lambda: bounds(d)["writeTimeouts"] >= 1, timeout=60, what="a stalled reader closed")
            d.wait_for(lambda: bounds(d)["bufferedBytes"] == 0, timeout=60, what="nothing held any more")
            self.assertGreaterEqual(slow.closed_by_server(), 1)
        d.stop()

    def test_h2c_off_by_default(self):
        d = msnlib.start_daemon(self.db, self.tmp, test=self, workers=1, sections={"backfill": {"enabled": False}})
        c = hostile.StalledH2(d.host, d.port, ["/api/stats"], streams=1)
        self.assertTrue(c.refused, "the HTTP/2 preface is not taken without [http] http2 = yes")
        c.close()
        self.assertIsNone(re.search(r"h2|HTTP/2", d.get("/api/stats").header("upgrade", "") or ""))
        d.stop()


if __name__ == "__main__":
    msnlib.main(BufferBoundsTest)
