#!/usr/bin/python3
"""test_ingest_tls: the ingestor over TLS, with a username and password.

A test CA and a server certificate for 127.0.0.1 are made with the openssl command line;
mosquitto listens with TLS only and refuses anonymous clients. With ca_file = that CA and
the right credentials, packets arrive; with another CA the connection is refused because
the certificate does not verify (verification is on by default); with tls_verify = no it
connects anyway; a wrong password is refused. Every refusal shows in /api/mqtt/status
(connected false, lastError) while the HTTP side answers, and is retried with backoff.
`meshsnapd --check-config` refuses a TLS key without its certificate.
"""

import json
import os
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


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        mqttlib.need_broker()
        msnlib.meshsnapd_path()
        cls.tmp = msnlib.make_tmpdir("msn-ingest-tls-")
        cls.tls = mqttlib.TlsFiles(cls.tmp)
        cls.broker = mqttlib.Broker(cls.tmp, tls=cls.tls, users={"observer": "s3cret"}).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def daemon(self, name, **broker_keys):
        db = os.path.join(self.tmp, "%s.db" % name)
        msnlib.run_meshsnap("init-db", db)
        keys = {"url": self.broker.url, "username": "observer", "password": "s3cret", "ca_file": self.tls.ca,
                "client_id": "msn-tls-%s" % name}
        keys.update(broker_keys)
        keys = {k: v for k, v in keys.items() if v is not None}
        d = msnlib.start_daemon(db, self.tmp, test=self, workers=1,
                                sections={"mqtt": {"reconnect_max_s": 2}, "mqtt.secure": keys})
        return d, db

    def status(self, d):
        return d.get_json("/api/mqtt/status")["sources"][0]

    def test_verified_tls_with_password(self):
        d, db = self.daemon("good")
        d.wait_for(lambda: self.status(d)["connected"], timeout=30, what="a TLS connection")
        self.assertEqual(self.status(d)["broker"], "mqtts://127.0.0.1:%d" % self.broker.port)
        raw = test_import.frame(1, 2, b"\x0a", 1, bytes(range(12))).hex()
        mqttlib.publish(self.broker, [("meshcore/SJC/CC33/packets", json.dumps({"raw": raw}))])
        d.wait_for(lambda: d.health()["ingestor"]["packets"] == 1, timeout=30, what="the packet")
        con = sqlite3.connect(db)
        self.assertEqual(con.execute("SELECT raw_hex FROM transmissions").fetchall(), [(raw,)])
        con.close()

    def refused(self, d, what):
        def failing():
            # the broker's error, not the placeholder shown until the ingestor's first report
            s = self.status(d)
            err = s.get("lastError")
            return not s["connected"] and err and err != "the ingestor is not running" and err
        err = d.wait_for(failing, timeout=30, what=what)
        time.sleep(2.5)  # retried meanwhile, still failing, the HTTP side unaffected
        s = self.status(d)
        self.assertFalse(s["connected"])
        self.assertEqual(d.get("/api/healthz").status, 200)
        return err

    def test_unknown_ca_is_refused(self):
        d, _ = self.daemon("otherca", ca_file=self.tls.other_ca)
        self.refused(d, "a verification failure")
        self.assertIn("cannot connect", d.log_text())

    def test_no_verification(self):
        d, _ = self.daemon("noverify", ca_file=self.tls.other_ca, tls_verify="no")
        d.wait_for(lambda: self.status(d)["connected"], timeout=30, what="a connection without verification")

    def test_wrong_password(self):
        d, _ = self.daemon("badpw", password="wrong")
        err = self.refused(d, "a refused login")
        self.assertIn("not authorized", err.lower())

    def test_check_config(self):
        conf = os.path.join(self.tmp, "bad.conf")
        with open(conf, "w") as f:
            f.write("db = %s/x.db\n[mqtt.a]\nurl = mqtts://127.0.0.1:1\nkey_file = %s\n"
                    % (self.tmp, self.tls.server_key))
        p = msnlib.run_meshsnap.__globals__["subprocess"].run(
            [msnlib.meshsnapd_path(), "--check-config", "--config", conf], capture_output=True, text=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cert_file and key_file go together", p.stderr)


if __name__ == "__main__":
    msnlib.main(TlsTest)
