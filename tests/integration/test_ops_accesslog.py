#!/usr/bin/python3
"""test_ops_accesslog: the optional access log: one Common Log Format line per request from
every worker, and SIGUSR1 (to the master) makes the workers reopen it, as logrotate needs
after it moved the file away."""

import os
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import msnlib  # noqa: E402

CLF = re.compile(r'^(\S+) - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "(\S+) (\S+) HTTP/\d\.\d" (\d{3}) (\d+)$')


class AccessLogTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.db = msnlib.generated_db("msn-accesslog-", "a.db", nodes=50, observers=4, transmissions=200,
                                              obs_per_tx=2, seed=3)
        cls.log = os.path.join(cls.tmp, "access.log")
        cls.d = msnlib.start_daemon(cls.db, cls.tmp, timeout=60, workers=2, sections={"http": {"access_log": cls.log}})
        # logrotate comes long after the start: SIGUSR1 is sent once every worker accepts
        # (a worker still starting up has no handler for it yet)
        cls.d.wait_for(lambda: "2 of 2 workers accepting" in cls.d.log_text(), timeout=30,
                       what="both workers accepting")

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def lines(self, path):
        with open(path) as f:
            return [line.rstrip("\n") for line in f]

    def wait_lines(self, path, pred, timeout=10):
        def shown():
            got = self.lines(path)  # OSError (not there yet) counts as not shown
            return got if pred(got) else None
        return self.d.wait_for(shown, timeout=timeout, what="the expected lines in the access log %s" % path)

    def test_lines_and_reopen(self):
        for i in range(20):
            self.assertEqual(self.d.get("/api/stats?n=%d" % i).status, 200)
        self.assertEqual(self.d.get("/api/nosuch").status, 404)
        r = msnlib.http_request(self.d.host, self.d.port, "HEAD", "/api/stats?head=1")
        self.assertEqual((r.status, r.body), (200, b""))
        got = self.wait_lines(self.log, lambda ls: sum("/api/stats?n=" in x for x in ls) >= 20 and
                              any("head=1" in x for x in ls))
        heads = [CLF.match(x) for x in got if "head=1" in x]
        self.assertEqual([(m.group(2), m.group(5)) for m in heads], [("HEAD", "0")], "a HEAD sends no body bytes")
        for line in got:
            self.assertRegex(line, CLF)
        m = [CLF.match(x) for x in got if "/api/nosuch" in x]
        self.assertTrue(m and m[0].group(4) == "404", "the 404 is logged with its status")
        stats = [CLF.match(x) for x in got if "/api/stats?n=" in x]
        self.assertTrue(all(x.group(1) == "127.0.0.1" and x.group(4) == "200" and int(x.group(5)) > 0 for x in stats))
        # logrotate: move the file away, signal, and the workers write a new one
        rotated = self.log + ".1"
        os.rename(self.log, rotated)
        os.kill(self.d.proc.pid, signal.SIGUSR1)
        time.sleep(0.5)
        for i in range(10):
            self.assertEqual(self.d.get("/api/stats?after=%d" % i).status, 200)
        new = self.wait_lines(self.log, lambda ls: sum("/api/stats?after=" in x for x in ls) >= 10)
        self.assertFalse(any("/api/stats?n=" in x for x in new), "old lines stay in the rotated file")
        self.assertFalse(any("after=" in x for x in self.lines(rotated)), "new lines go to the new file")
        self.assertEqual(self.d.health()["workers"].__len__(), 2, "SIGUSR1 stopped no worker")


if __name__ == "__main__":
    msnlib.main(AccessLogTest)
