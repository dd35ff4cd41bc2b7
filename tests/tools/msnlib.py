"""msnlib: helpers for meshsnap's integration tests and benchmark scripts.

Standard library only (Debian's /usr/bin/python3). What is here:

  skip(msg)                      print "SKIP: msg" and exit 77 (CTest's skip code); for use
                                 outside a running test (inside one, raise unittest.SkipTest)
  meshsnapd_path()               the daemon binary from env MESHSNAPD (SkipTest when unset)
  shared_dir()                   env MESHSNAP_SHARED when it is a directory, else None
  free_port(host)                an unused loopback TCP port
  make_tmpdir(prefix)            a temporary directory, removed at exit unless a test failed
                                 or MESHSNAP_KEEP_TMP is set
  write_config(path, ...)        a meshsnap.conf for a test daemon
  Response                       status, headers (lower-case names), body; .json()
  http_get / http_request        one request on a fresh connection
  HttpClient                     a keep-alive connection that reconnects after errors
  Daemon                         start / wait_ready / get / health / stop / kill a meshsnapd
  pid_alive(pid)                 whether a process exists (and is not a zombie)
  sql_connect(path)              a read-only sqlite3 connection (for computing expected values)
  table_columns(conn, table)     the column names of a table
  SqliteLock(path)               holds an exclusive lock so that no one else can read the db
  main(*test_classes)            run unittest classes, print "N passed, N failed, N skipped",
                                 print the logs of the daemons started on failure, and exit
                                 0 (all passed), 1 (a failure) or 77 (everything skipped)

A Daemon writes its stderr to <tmpdir>/meshsnapd-<n>.log; every Daemon created in the
process is remembered so that main() can print their logs when a test fails.
"""

import atexit
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

SKIP_EXIT = 77

_daemons = []    # every Daemon created in this process, for printing logs on failure
_tmpdirs = []    # temporary directories made by make_tmpdir()
_failed = False  # set by main() when a test failed: keep the temporary directories


def log(msg):
    """Prints a progress line on stderr (CTest shows it with --output-on-failure)."""
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def skip(msg):
    """Prints why and exits with 77, which CTest reports as "skipped"."""
    print("SKIP: %s" % msg)
    sys.stdout.flush()
    sys.exit(SKIP_EXIT)


def meshsnapd_path():
    """The meshsnapd binary named by env MESHSNAPD. Raises unittest.SkipTest when it is
    unset or not executable (main() then exits 77 if nothing ran)."""
    p = os.environ.get("MESHSNAPD", "")
    if not p:
        raise unittest.SkipTest("MESHSNAPD is not set (run the tests through ctest, or export "
                                "MESHSNAPD=path/to/meshsnapd)")
    if not os.access(p, os.X_OK):
        raise unittest.SkipTest("MESHSNAPD=%s is not an executable file" % p)
    return p


def shared_dir():
    """The reference material directory (env MESHSNAP_SHARED) when it exists, else None."""
    p = os.environ.get("MESHSNAP_SHARED", "")
    if p and os.path.isdir(p):
        return p
    return None


def free_port(host="127.0.0.1"):
    """A TCP port that is free on host right now (bound to port 0, then released)."""
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def _cleanup_tmpdirs():
    if _failed or os.environ.get("MESHSNAP_KEEP_TMP"):
        for p in _tmpdirs:
            if os.path.isdir(p):
                sys.stderr.write("kept temporary directory %s\n" % p)
        return
    for p in _tmpdirs:
        shutil.rmtree(p, ignore_errors=True)


atexit.register(_cleanup_tmpdirs)


def make_tmpdir(prefix="msn-test-"):
    """Creates a temporary directory under $MESHSNAP_TMPDIR (or the system default). It is
    removed at exit unless a test failed or MESHSNAP_KEEP_TMP is set."""
    base = os.environ.get("MESHSNAP_TMPDIR") or None
    p = tempfile.mkdtemp(prefix=prefix, dir=base)
    _tmpdirs.append(p)
    return p


def write_config(path, db, state_dir, listen, workers=2, poll_interval_ms=200,
                 log_level="info", sections=None, extra=None):
    """Writes a meshsnap.conf. listen is "host:port" (or a list of them); sections maps a
    section name to {key: value}; extra maps further global keys to values. Values are
    written as str(); booleans become yes/no. Returns path."""

    def fmt(v):
        if isinstance(v, bool):
            return "yes" if v else "no"
        return str(v)

    if isinstance(listen, (list, tuple)):
        listen = " ".join(listen)
    lines = ["# written by msnlib.write_config", "db = %s" % db, "state_dir = %s" % state_dir,
             "listen = %s" % listen, "workers = %s" % fmt(workers),
             "poll_interval_ms = %d" % poll_interval_ms, "log_level = %s" % log_level]
    for k, v in (extra or {}).items():
        lines.append("%s = %s" % (k, fmt(v)))
    for sec, kv in (sections or {}).items():
        lines.append("")
        lines.append("[%s]" % sec)
        for k, v in kv.items():
            lines.append("%s = %s" % (k, fmt(v)))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


class Response:
    """An HTTP response: status (int), headers (dict with lower-case names; repeated
    headers joined with ", "), body (bytes)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self._json = None

    def json(self):
        """The body parsed as JSON (cached). Raises ValueError with the body on error."""
        if self._json is None:
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                raise ValueError("response (status %d) is not JSON: %s; body starts %r"
                                 % (self.status, e, self.body[:200]))
        return self._json

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def __repr__(self):
        return "<Response %d %d bytes>" % (self.status, len(self.body))


def _read_response(conn, method, path, body, headers):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    hdrs = {}
    for k, v in r.getheaders():
        k = k.lower()
        hdrs[k] = v if k not in hdrs else hdrs[k] + ", " + v
    return Response(r.status, hdrs, data), r


def http_request(host, port, method, path, body=None, headers=None, timeout=10.0):
    """One request on a fresh connection (Connection: close). Returns a Response; raises
    OSError / http.client.HTTPException when the connection fails."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        h = {"Connection": "close"}
        h.update(headers or {})
        resp, _ = _read_response(conn, method, path, body, h)
        return resp
    finally:
        conn.close()


def http_get(host, port, path, headers=None, timeout=10.0):
    """GET on a fresh connection; see http_request."""
    return http_request(host, port, "GET", path, headers=headers, timeout=timeout)


class HttpClient:
    """A keep-alive HTTP/1.1 connection. request() reconnects once when the kept
    connection turns out to be closed; connection errors on a fresh connection propagate.
    `reconnects` counts how often a new connection was opened after the first."""

    def __init__(self, host, port, timeout=10.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn = None
        self.reconnects = 0
        self.requests = 0

    def _connect(self):
        if self.conn is not None:
            self.reconnects += 1
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def request(self, method, path, body=None, headers=None):
        fresh = False
        if self.conn is None:
            self._connect()
            fresh = True
        try:
            resp, r = _read_response(self.conn, method, path, body, headers)
        except (OSError, http.client.HTTPException):
            self.conn.close()
            if fresh:
                self.conn = None
                raise
            self._connect()
            try:
                resp, r = _read_response(self.conn, method, path, body, headers)
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                raise
        self.requests += 1
        if r.will_close:
            self.conn.close()
            self.conn = None
        return resp

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class DaemonError(AssertionError):
    """The daemon did not start, did not get ready, or did not stop as required."""


class Daemon:
    """A meshsnapd process under test.

    d = Daemon(db_path, tmpdir)      # writes tmpdir/meshsnap-<n>.conf, nothing started yet
    d.start(); d.wait_ready()
    r = d.get("/api/stats")          # Response
    d.stop()                         # SIGTERM; asserts exit code 0 within stop_timeout

    config: extra global keys; sections: {section: {key: value}} for the config file;
    args: extra command-line arguments; env: variables added to the inherited environment.
    state_dir defaults to tmpdir/state-<n> (pass the same one to a second Daemon to restart
    on the same snapshots). The port is picked with free_port() unless given.

    stop() also fails when the log holds a sanitizer report (UBSan "runtime error:",
    "ERROR: AddressSanitizer"; LeakSanitizer reports too when MESHSNAP_FAIL_ON_LEAKS is
    set) or, unless allow_worker_restarts, when a worker pid seen at wait_ready() was
    replaced (a worker crashed) during the test.
    """

    _count = 0

    def __init__(self, db, tmpdir, workers=2, poll_interval_ms=200, state_dir=None, port=None,
                 host="127.0.0.1", config=None, sections=None, args=(), env=None,
                 binary=None, log_level="info", allow_worker_restarts=False):
        Daemon._count += 1
        self.n = Daemon._count
        self.binary = binary or meshsnapd_path()
        self.db = db
        self.tmpdir = tmpdir
        self.host = host
        self.port = port or free_port(host)
        self.workers = workers
        self.state_dir = state_dir or os.path.join(tmpdir, "state-%d" % self.n)
        os.makedirs(self.state_dir, exist_ok=True)
        self.config_path = os.path.join(tmpdir, "meshsnap-%d.conf" % self.n)
        write_config(self.config_path, db=db, state_dir=self.state_dir,
                     listen="%s:%d" % (host, self.port), workers=workers,
                     poll_interval_ms=poll_interval_ms, log_level=log_level,
                     sections=sections, extra=config)
        self.log_path = os.path.join(tmpdir, "meshsnapd-%d.log" % self.n)
        self.args = list(args)
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.allow_worker_restarts = allow_worker_restarts
        self.initial_workers = None
        self.proc = None
        self.started_at = None
        self.returncode = None
        self._logf = None
        _daemons.append(self)

    # -- process control -------------------------------------------------------------

    def start(self):
        """Starts meshsnapd in the foreground (its own process group) with stderr and
        stdout appended to log_path. Returns self."""
        if self.proc is not None and self.proc.poll() is None:
            raise DaemonError("daemon %d already running" % self.n)
        self._logf = open(self.log_path, "ab")
        cmd = [self.binary, "--config", self.config_path] + self.args
        self._logf.write(("### %s: %s\n" % (time.strftime("%H:%M:%S"), " ".join(cmd))).encode())
        self._logf.flush()
        self.started_at = time.monotonic()
        self.returncode = None
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._logf,
                                     stderr=self._logf, env=self.env, start_new_session=True)
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def url(self, path):
        return "http://%s:%d%s" % (self.host, self.port, path)

    def log_text(self, tail_bytes=None):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        if tail_bytes and len(data) > tail_bytes:
            data = b"...\n" + data[-tail_bytes:]
        return data.decode("utf-8", "replace")

    def _fail(self, msg):
        raise DaemonError("%s\n--- meshsnapd log (%s) ---\n%s--- end of log ---"
                          % (msg, self.log_path, self.log_text(20000)))

    def check_alive(self):
        """Raises DaemonError (with the log) when the master has exited."""
        if self.proc is None:
            self._fail("daemon %d was never started" % self.n)
        rc = self.proc.poll()
        if rc is not None:
            self.returncode = rc
            self._fail("meshsnapd exited with status %s" % rc)

    def stop(self, timeout=6.0, expect_code=0, sig=signal.SIGTERM):
        """Sends sig (SIGTERM) to the master and waits up to timeout seconds. Asserts the
        exit status (expect_code; None = don't check) and that it exited in time (it is
        killed with SIGKILL otherwise). Returns the seconds the exit took."""
        if self.proc is None:
            return 0.0
        if self.proc.poll() is not None:
            self.returncode = self.proc.returncode
            self._close_log()
            if expect_code is not None and self.returncode != expect_code:
                self._fail("meshsnapd had already exited with status %s before stop()"
                           % self.returncode)
            return 0.0
        replaced = None
        if self.initial_workers and not self.allow_worker_restarts:
            now = self.worker_pids()
            if now and now != self.initial_workers:
                replaced = "workers %s were replaced by %s during the test (did one crash?)" % (
                    self.initial_workers, now)
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill_group()
            self._fail("meshsnapd did not exit within %.1f s of %s" % (timeout, signal.Signals(sig).name))
        took = time.monotonic() - t0
        self.returncode = rc
        self._close_log()
        if expect_code is not None and rc != expect_code:
            self._fail("meshsnapd exited with status %s after %s (expected %s)"
                       % (rc, signal.Signals(sig).name, expect_code))
        time.sleep(0.1)  # let children that outlive the master finish their reports
        self.check_log()
        if replaced:
            self._fail(replaced)
        return took

    SANITIZER_PATTERNS = ("runtime error:", "ERROR: AddressSanitizer", "ERROR: ThreadSanitizer")

    def check_log(self):
        """Fails when the log holds a sanitizer report (see the class comment)."""
        text = self.log_text()
        pats = list(self.SANITIZER_PATTERNS)
        if os.environ.get("MESHSNAP_FAIL_ON_LEAKS"):
            pats.append("ERROR: LeakSanitizer")
        for p in pats:
            if p in text:
                self._fail("the log holds a sanitizer report (%r)" % p)

    def kill_group(self):
        """SIGKILLs the master's process group (the master and every child that stayed in
        it) and reaps the master. For cleanup after a failure."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.returncode = self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self._close_log()

    def kill(self, sig=signal.SIGKILL):
        """Sends sig to the master only."""
        if self.alive():
            self.proc.send_signal(sig)

    def _close_log(self):
        if self._logf is not None:
            self._logf.close()
            self._logf = None

    def cleanup(self):
        """Stops the daemon if still running (SIGTERM, then SIGKILL of the group)."""
        if self.alive():
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(6)
            except subprocess.TimeoutExpired:
                pass
        if self.proc is not None:
            # children that outlived the master would keep the port and the state dir busy
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self._close_log()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False

    # -- HTTP -------------------------------------------------------------------------

    def request(self, method, path, body=None, headers=None, timeout=10.0):
        return http_request(self.host, self.port, method, path, body=body, headers=headers,
                            timeout=timeout)

    def get(self, path, headers=None, timeout=10.0):
        """GET on a fresh connection. Returns a Response."""
        return http_get(self.host, self.port, path, headers=headers, timeout=timeout)

    def get_json(self, path, expect_status=200):
        """GET path, assert the status, return the parsed body."""
        r = self.get(path)
        if r.status != expect_status:
            raise AssertionError("GET %s: status %d (expected %d), body %r"
                                 % (path, r.status, expect_status, r.body[:300]))
        return r.json()

    def client(self, timeout=10.0):
        """A keep-alive HttpClient to this daemon."""
        return HttpClient(self.host, self.port, timeout=timeout)

    def health(self, timeout=5.0):
        """The parsed /api/healthz body, or None when the request fails."""
        try:
            r = self.get("/api/healthz", timeout=timeout)
        except (OSError, http.client.HTTPException):
            return None
        if r.status != 200:
            return None
        try:
            return r.json()
        except ValueError:
            return None

    def wait_for(self, pred, timeout=30.0, interval=0.05, what="condition"):
        """Polls pred() (which may raise OSError / HTTPException: treated as false) until it
        returns a true value, which is returned. Fails with the log if the daemon exits or
        timeout seconds pass."""
        deadline = time.monotonic() + timeout
        last_exc = None
        while True:
            self.check_alive()
            try:
                v = pred()
                if v:
                    return v
            except (OSError, http.client.HTTPException, ValueError) as e:
                last_exc = e
            if time.monotonic() > deadline:
                self._fail("timed out after %.0f s waiting for %s%s"
                           % (timeout, what, " (last error: %s)" % last_exc if last_exc else ""))
            time.sleep(interval)

    def wait_ready(self, timeout=60.0):
        """Waits until /api/healthz answers ready=true. Returns the healthz body."""
        def ready():
            h = self.health()
            return h if h and h.get("ready") is True else None
        h = self.wait_for(ready, timeout=timeout, what="/api/healthz ready=true")
        self._note_workers(h)
        return h

    def _note_workers(self, h):
        if self.initial_workers is None:
            pids = self.worker_pids(h)
            if len(pids) == self.workers:
                self.initial_workers = pids

    def wait_fresh(self, timeout=60.0, min_generation=None):
        """Waits until healthz reports ready, not stale, and (optionally) a generation >=
        min_generation. Returns the healthz body."""
        def fresh():
            h = self.health()
            if not h or h.get("ready") is not True or h.get("stale") is not False:
                return None
            if min_generation is not None and int(h.get("generation") or 0) < min_generation:
                return None
            return h
        h = self.wait_for(fresh, timeout=timeout, what="a fresh generation in /api/healthz")
        self._note_workers(h)
        return h

    def worker_pids(self, health=None):
        """{slot: pid} from healthz `workers`."""
        h = health or self.health()
        if not h:
            return {}
        return {int(w["slot"]): int(w["pid"]) for w in h.get("workers") or []}


def pid_alive(pid):
    """True when a process with this pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    state = st[st.rfind(")") + 2:].split()[0]
    return state not in ("Z", "X")


def pid_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def sql_connect(path, readonly=True):
    """A sqlite3 connection for computing expected values (read-only by default, 10 s busy
    timeout, rows as sqlite3.Row)."""
    if readonly:
        conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
    else:
        conn = sqlite3.connect(path, timeout=10)
    conn.row_factory = sqlite3.Row
    return conn


class SqliteLock:
    """Holds an exclusive lock on a database so that no other connection can read it
    (readers wait in their busy handler) until release(). Works in WAL and rollback
    journal modes. Use as a context manager or call acquire()/release()."""

    def __init__(self, path):
        self.path = path
        self.conn = None

    def acquire(self):
        self.conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        self.conn.execute("BEGIN EXCLUSIVE")
        self.conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return self

    def release(self):
        if self.conn is not None:
            try:
                self.conn.execute("COMMIT")
            finally:
                self.conn.close()  # closing drops the exclusive-mode lock
                self.conn = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


def table_columns(conn, table):
    """The set of column names of table (empty when it does not exist)."""
    return {r[1] for r in conn.execute("PRAGMA table_info(%s)" % table)}


# -- runner ---------------------------------------------------------------------------


def main(*test_classes):
    """Runs the given unittest.TestCase classes (verbosely, in order) and exits: 0 when all
    passed, 1 when any failed or errored, 77 when every test was skipped. Prints the tail of
    every daemon log when something failed."""
    global _failed
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for cls in test_classes:
        suite.addTests(loader.loadTestsFromTestCase(cls))
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2)
    result = runner.run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    # a class skipped or failed in setUpClass counts once but is not in testsRun
    passed = max(0, result.testsRun - failed - skipped)
    if failed:
        _failed = True
        for d in _daemons:
            print("\n--- meshsnapd log %s (tail) ---\n%s--- end ---" % (d.log_path, d.log_text(8000)))
    for d in _daemons:
        d.cleanup()
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    sys.stdout.flush()
    if failed:
        sys.exit(1)
    if result.testsRun == 0 or skipped == result.testsRun:
        for _, reason in result.skipped[:1]:
            print("SKIP: %s" % reason)
        sys.stdout.flush()
        sys.exit(SKIP_EXIT)
    sys.exit(0)
