"""mqttlib: a real MQTT broker and publishers for the ingestor's tests and benchmark.

  b = Broker(tmpdir).start()          # Debian's mosquitto on a free loopback port, with a
                                      # generated config; stopped by its pid (b.stop())
  b = Broker(tmpdir, tls=TlsFiles(tmpdir), users={"u": "pw"}, persistence=True)
  b.url                               # mqtt://127.0.0.1:PORT (mqtts:// with tls)
  b.restart()                         # SIGTERM, wait, start again on the same port
  publish(b, [(topic, payload), ...]) # one paho-mqtt connection, QoS 1, in order; returns
                                      # when the broker acknowledged every message
  Publisher(b) ...                    # the same, in a background thread (start/join)
  TlsFiles(tmpdir)                    # a test CA and a server certificate for 127.0.0.1,
                                      # made with the openssl command line
  corpus_messages(corpus_lines)       # (topic, payload) pairs of test_import's JSON lines

The tests skip (msnlib.skip) when mosquitto, openssl or python3-paho-mqtt is missing
(make test installs them: DEB_PACKAGES).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import msnlib


def need_broker():
    """Skips the test unless mosquitto and paho-mqtt are installed."""
    if shutil.which("mosquitto") is None and not os.path.exists("/usr/sbin/mosquitto"):
        msnlib.skip("mosquitto is not installed (apt-get install mosquitto)")
    try:
        import paho.mqtt.client  # noqa: F401
    except ImportError:
        msnlib.skip("python3-paho-mqtt is not installed (apt-get install python3-paho-mqtt)")


def _mosquitto():
    return shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class TlsFiles:
    """A CA and a server certificate (CN and subjectAltName 127.0.0.1, localhost) signed by
    it, plus a second, unrelated CA (other_ca) for verification failures. Paths: ca,
    server_cert, server_key, other_ca."""

    def __init__(self, tmpdir):
        if shutil.which("openssl") is None:
            msnlib.skip("openssl is not installed (apt-get install openssl)")
        d = os.path.join(tmpdir, "tls")
        os.makedirs(d, exist_ok=True)
        self.ca, self.ca_key = os.path.join(d, "ca.pem"), os.path.join(d, "ca.key")
        self.other_ca, other_key = os.path.join(d, "other-ca.pem"), os.path.join(d, "other-ca.key")
        self.server_cert, self.server_key = os.path.join(d, "server.pem"), os.path.join(d, "server.key")
        csr, ext = os.path.join(d, "server.csr"), os.path.join(d, "ext.cnf")

        def run(*args):
            subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        for cert, key, cn in ((self.ca, self.ca_key, "meshsnap test CA"), (self.other_ca, other_key, "other CA")):
            run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                "-subj", "/CN=%s" % cn)
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", self.server_key, "-out", csr, "-subj",
            "/CN=127.0.0.1")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        run("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key, "-CAcreateserial", "-out",
            self.server_cert, "-days", "2", "-extfile", ext)


class Broker:
    """Debian's mosquitto on 127.0.0.1 (a free port), config generated in tmpdir. With tls
    (a TlsFiles) the listener speaks TLS only; with users ({name: password}) anonymous
    clients are refused; persistence keeps sessions and queued messages across restart().
    Queues are unlimited (max_queued_messages 0) so nothing is dropped while the ingestor
    is down."""

    _n = 0

    def __init__(self, tmpdir, tls=None, users=None, persistence=False, port=None):
        Broker._n += 1
        self.n = Broker._n
        self.dir = os.path.join(tmpdir, "broker-%d" % self.n)
        os.makedirs(self.dir, exist_ok=True)
        self.port = port or msnlib.free_port()
        self.tls = tls
        self.users = users or {}
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        self.log_path = os.path.join(self.dir, "mosquitto.log")
        import pwd
        # as root, mosquitto drops to its own user unless told to stay: its files are ours
        lines = ["listener %d 127.0.0.1" % self.port, "max_queued_messages 0", "max_inflight_messages 0",
                 "log_dest stderr", "log_type error", "log_type warning",
                 "user %s" % pwd.getpwuid(os.geteuid()).pw_name]
        if persistence:
            lines += ["persistence true", "persistence_location %s/" % self.dir, "autosave_interval 1"]
        else:
            lines += ["persistence false"]
        if tls is not None:
            lines += ["cafile %s" % tls.ca, "certfile %s" % tls.server_cert, "keyfile %s" % tls.server_key]
        if self.users:
            pwfile = os.path.join(self.dir, "passwd")
            open(pwfile, "w").close()
            for u, p in self.users.items():
                subprocess.run(["mosquitto_passwd", "-b", pwfile, u, p], check=True)
            lines += ["allow_anonymous false", "password_file %s" % pwfile]
        else:
            lines += ["allow_anonymous true"]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None
        self._log = None

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("mqtts" if self.tls else "mqtt", self.port)

    def start(self, timeout=10.0):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([_mosquitto(), "-c", self.conf], stdout=self._log, stderr=self._log,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("mosquitto exited (%d): %s" % (self.proc.returncode, self.log_text()))
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("mosquitto did not listen on %d: %s" % (self.port, self.log_text()))

    def stop(self):
        """SIGTERM to our mosquitto (by pid), then waits; SIGKILL after 5 s."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self):
        self.stop()
        return self.start()

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-3000:]
        except OSError:
            return ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def _client(broker, client_id, clean=True):
    import paho.mqtt.client as mqtt
    c = mqtt.Client(client_id=client_id, clean_session=clean)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    if broker.users:
        u = sorted(broker.users)[0]
        c.username_pw_set(u, broker.users[u])
    if broker.tls is not None:
        c.tls_set(ca_certs=broker.tls.ca)
    return c


class Publisher:
    """Publishes messages [(topic, payload str|bytes)] in order at QoS qos over one
    connection (a persistent session: messages not acknowledged when the broker goes away
    are sent again after the reconnect), in a background thread. rate: messages per second
    at most (None: as fast as the broker takes them). done is set when the broker has
    acknowledged them all; error holds an exception text if it failed."""

    _n = 0

    def __init__(self, broker, messages, qos=1, rate=None, timeout=300.0):
        Publisher._n += 1
        self.broker, self.messages, self.qos, self.rate, self.timeout = broker, messages, qos, rate, timeout
        self.client_id = "msn-test-pub-%d-%d" % (os.getpid(), Publisher._n)
        self.sent = 0
        self.acked = 0
        self.done = threading.Event()
        self.error = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def join(self, timeout=None):
        self._thread.join(timeout if timeout is not None else self.timeout)
        if self.error:
            raise AssertionError("publishing failed: %s" % self.error)
        if not self.done.is_set():
            raise AssertionError("publishing did not finish: %d of %d acknowledged" % (self.acked, len(self.messages)))

    def _run(self):
        try:
            c = _client(self.broker, self.client_id, clean=False)
            lock = threading.Lock()

            def on_publish(client, userdata, mid):
                with lock:
                    self.acked += 1

            c.on_publish = on_publish
            c.reconnect_delay_set(0.1, 1)
            deadline = time.monotonic() + self.timeout
            while True:
                try:
                    c.connect("127.0.0.1", self.broker.port, keepalive=30)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            c.loop_start()
            t0 = time.monotonic()
            for i, (topic, payload) in enumerate(self.messages):
                if self.rate:
                    wait = t0 + i / self.rate - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                # keep the client's queue short: the broker may be away
                while self.sent - self.acked > 5000 and time.monotonic() < deadline:
                    time.sleep(0.005)
                c.publish(topic, payload, qos=self.qos)
                self.sent += 1
            while self.acked < len(self.messages) and time.monotonic() < deadline:
                time.sleep(0.01)
            c.loop_stop()
            c.disconnect()
            if self.acked >= len(self.messages):
                self.done.set()
        except Exception as e:  # reported by join()
            self.error = "%s: %s" % (type(e).__name__, e)


def publish(broker, messages, qos=1, rate=None, timeout=300.0):
    """Publishes and waits until the broker acknowledged every message."""
    p = Publisher(broker, messages, qos=qos, rate=rate, timeout=timeout).start()
    p.join()
    return p


def corpus_messages(lines, prefix="meshcore"):
    """(topic, payload) of import lines (test_import's corpus): the observer and its region
    move to the topic meshcore/<IATA>/<OBSERVER>/packets; observer_name becomes origin; the
    rest (raw, snr, rssi, direction, timestamp) stays in the JSON. A line whose iata has
    blanks or is absent keeps it as JSON "region" (the topic region is then "NONE")."""
    out = []
    for ln in lines:
        d = json.loads(ln)
        obs = d.pop("observer")
        iata = d.pop("iata", None)
        name = d.pop("observer_name", None)
        p = {}
        if name is not None:
            p["origin"] = name
        topic_region = "NONE"
        if iata is not None:
            if iata.strip() == iata and "/" not in iata and iata:
                topic_region = iata
            else:
                p["region"] = iata
        p.update(d)
        out.append(("%s/%s/%s/packets" % (prefix, topic_region, obs), json.dumps(p)))
    return out


def import_lines(messages):
    """Import lines ({"topic": ..., payload fields}) for (topic, payload) messages, so that
    `meshsnap import` reads them as the same MQTT messages."""
    out = []
    for topic, payload in messages:
        d = json.loads(payload)
        d = dict([("topic", topic)] + list(d.items()))
        out.append(json.dumps(d))
    return out
