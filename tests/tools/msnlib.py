"""msnlib: helpers for meshsnap's integration tests and benchmark scripts.

Standard library only (Debian's /usr/bin/python3), plus mkdb beside it. What is here:

binaries
  skip(msg)                      print "SKIP: msg" and exit 77 (CTest's skip code); for use
                                 outside a running test (inside one, raise unittest.SkipTest)
  meshsnapd_path()               the daemon binary from env MESHSNAPD (SkipTest when unset)
  meshsnap_path()                the command-line tool from env MESHSNAP (SkipTest when unset)
  run_meshsnap(*args)            `meshsnap ARGS...`, output captured as text
  find_binary(name, arg)         for benchmarks: --option, env, or build/NAME; None if absent
  need_binary(name, arg)         the same, or exit with a message saying how to give it
  need_tool(name, package)       an installed program, or exit naming its Debian package
  bench_parser(description)      for benchmarks: argparse with --meshsnapd and --workdir
  shared_dir()                   env MESHSNAP_SHARED when it is a directory, else None
  fixture_path(name)             a file of the reference fixtures (SkipTest when absent)

files and databases
  make_tmpdir(prefix)            a temporary directory, removed at exit unless a test failed
                                 or MESHSNAP_KEEP_TMP is set
  generated_db(prefix, name, ..) a new temporary directory holding a mkdb database
  copy_fixture_db(tmpdir, name)  a writable copy of the reference e2e database
  cached_db(path, ...)           for benchmarks: a mkdb database built once, then reused
  bench_run_dir(workdir, ..)     for benchmarks: a fresh run directory with a copy of a db
  bench_against_baseline(..)     for benchmarks: one measure per binary (--baseline first)
  ratio(new, base)               new / base, NaN when base is not positive
  etag_of(body)                  the ETag the server gives body ("<hash64 hex>", shm/etag.c):
                                 a stored document's ETag names its exact bytes
  dir_bytes(path)                disk blocks used under a directory, in bytes
  iso_utc(t)                     unix seconds as ISO-8601 UTC ("...Z"), the API's time form
  run_backfiller(db, tmpdir)     every migration run on db by the backfiller role alone
  write_config(path, ...)        a meshsnap.conf for a test daemon
  sql_connect(path)              a read-only sqlite3 connection (for computing expected values)
  sql_rows / sql_value           one query on a read-only connection: all rows / one value
  table_columns(conn, table)     the column names of a table
  SqliteLock(path)               holds an exclusive lock so that no one else can read the db

HTTP
  free_port(host)                an unused loopback TCP port
  Response                       status, headers (lower-case names), body; .json()
  http_get / http_request        one request (optionally with headers) on a fresh connection
  HttpClient                     a keep-alive connection that reconnects after errors

daemons and processes
  Daemon                         start / wait_ready / wait_fresh / wait_health / admin_get /
                                 wait_status / wait_migrations_done / get / health /
                                 processes / reload / stop / kill a meshsnapd
  start_daemon(db, tmpdir, ...)  a Daemon started and fresh (cleaned up if it never gets so)
  poll_until / wait_until        poll a condition: None on timeout / fail on timeout
  pid_alive(pid), pid_cmdline    whether a process exists (and is not a zombie); its title
  live_pids(parent, group)       the live processes with this parent and/or process group
  processes_of(state_dir)        the live processes of the daemon on state_dir, whatever their session
  worker_processes(master_pid)   {slot: pid} of the workers of a master, from /proc
  worker_generation(pid, old, n) those workers when n new ones run alone, else None
  kill_pid(pid, sig)             signal a process and wait until it is gone
  stop_process(proc)             end a subprocess.Popen (signal, wait, then SIGKILL)

load
  ClientThreads                  base of background client threads (a context manager)
  KeepAliveGets                  such threads, each GETting one path on a kept connection
  Wrk, run_wrk, parse_wrk        wrk in the background or to the end, and its figures
  percentile(values, p)          the p-th percentile (nearest rank)

runner
  log(msg)                       a timestamped progress line on stderr
  main(*test_classes)            run unittest classes, print "N passed, N failed, N skipped",
                                 print the logs of the daemons started on failure, and exit
                                 0 (all passed), 1 (a failure) or 77 (everything skipped)

A Daemon writes its stderr to <tmpdir>/meshsnapd-<n>.log; every Daemon created in the
process is remembered so that main() can print their logs when a test fails.
"""

import argparse
import atexit
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import mkdb

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


def _binary_from_env(name):
    var = name.upper()
    p = os.environ.get(var, "")
    if not p:
        raise unittest.SkipTest("%s is not set (run the tests through ctest, or export %s=path/to/%s)"
                                % (var, var, name))
    if not os.access(p, os.X_OK):
        raise unittest.SkipTest("%s=%s is not an executable file" % (var, p))
    return p


def meshsnapd_path():
    """The meshsnapd binary named by env MESHSNAPD. Raises unittest.SkipTest when it is
    unset or not executable (main() then exits 77 if nothing ran)."""
    return _binary_from_env("meshsnapd")


def meshsnap_path():
    """The meshsnap command-line tool named by env MESHSNAP. Raises unittest.SkipTest when
    it is unset or not executable."""
    return _binary_from_env("meshsnap")


def run_meshsnap(*args, input=None, timeout=300):
    """Runs `meshsnap ARGS...` (meshsnap_path()) with input (text) on its standard input;
    returns the subprocess.CompletedProcess with stdout and stderr as text."""
    return subprocess.run([meshsnap_path()] + [str(a) for a in args], input=input, capture_output=True,
                          text=True, timeout=timeout)


_CHECKOUT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def find_binary(name, arg=None):
    """For benchmark scripts: the absolute path of the binary `name` ("meshsnapd" or
    "meshsnap") given by arg (a command-line option), else by env MESHSNAPD / MESHSNAP,
    else build/NAME of this checkout; None when none of them is executable."""
    for p in (arg, os.environ.get(name.upper()), os.path.join(_CHECKOUT, "build", name)):
        if p and os.access(p, os.X_OK):
            return os.path.abspath(p)
    return None


def _script():
    return os.path.basename(sys.argv[0]) or "python3"


def bench_parser(description=None, workdir=True):
    """For benchmark scripts: an argparse.ArgumentParser with --meshsnapd (see need_binary)
    and, unless workdir is false, --workdir (default $MESHSNAP_BENCH_DIR or
    /tmp/meshsnap-bench, where databases are cached between runs)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--meshsnapd")
    if workdir:
        ap.add_argument("--workdir", default=os.environ.get("MESHSNAP_BENCH_DIR", "/tmp/meshsnap-bench"))
    return ap


def need_binary(name, arg=None, status=1):
    """find_binary(), or exits with `status` and a message saying how to name the binary."""
    p = find_binary(name, arg)
    if p is None:
        sys.stderr.write("%s: %s not found: pass --%s or set %s (e.g. build/%s)\n"
                         % (_script(), name, name, name.upper(), name))
        sys.exit(status)
    return p


def need_tool(name, package, status=1):
    """The program name (a path, or looked up on PATH), or exits with `status` and a message
    naming the Debian package that installs it."""
    p = name if os.sep in name else shutil.which(name)
    if not p or not os.access(p, os.X_OK):
        sys.stderr.write("%s: %s is missing; install it with `apt-get install %s`\n" % (_script(), name, package))
        sys.exit(status)
    return p


def build_c_tool(src, workdir):
    """A benchmark's C helper (tests/bench/NAME.c) compiled with `cc -O2` into workdir
    (again only when the source is newer); its path."""
    out = os.path.join(workdir, os.path.splitext(os.path.basename(src))[0])
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        cc = need_tool("cc", "gcc")
        subprocess.run([cc, "-O2", "-Wall", "-o", out, src], check=True)
    return out


def shared_dir():
    """The reference material directory (env MESHSNAP_SHARED) when it exists, else None."""
    p = os.environ.get("MESHSNAP_SHARED", "")
    if p and os.path.isdir(p):
        return p
    return None


def fixture_path(name="corescope-e2e.db"):
    """The path of fixtures/NAME in the reference directory. Raises unittest.SkipTest
    (saying what is missing) when MESHSNAP_SHARED is unset or the file does not exist."""
    shared = shared_dir()
    if not shared:
        raise unittest.SkipTest("MESHSNAP_SHARED is not set: no reference fixture %s" % name)
    p = os.path.join(shared, "fixtures", name)
    if not os.path.exists(p):
        raise unittest.SkipTest("%s does not exist" % p)
    return p


_ports_given = set()


def free_port(host="127.0.0.1"):
    """A TCP port that is free on host right now (bound to port 0, then released).

    The kernel may hand the same port to two binds in a row once the first is released, so a
    port this process has already handed out is never returned again: a daemon's `listen` and
    `admin_listen`, or two daemons of one test, never get the same port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(64):
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            s.bind((host, 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if port not in _ports_given:
            _ports_given.add(port)
            return port
    raise RuntimeError("no unused port on %s after 64 tries" % host)


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


def generated_db(prefix, name, **build_args):
    """A new make_tmpdir(prefix) holding a database NAME built by mkdb.build(**build_args)
    (the schema from meshsnapd_path(), so SkipTest without the daemon); logs its size.
    Returns (tmpdir, database path)."""
    meshsnapd_path()
    tmpdir = make_tmpdir(prefix)
    path = os.path.join(tmpdir, name)
    st = mkdb.build(path, **build_args)
    log("built %s: %d transmissions, %d observations in %.1f s"
        % (path, st["transmissions"], st["observations"], st["seconds"]))
    return tmpdir, path


def copy_fixture_db(tmpdir, dest_name, name="corescope-e2e.db"):
    """A writable copy (mode 0644) of the reference fixture NAME at tmpdir/dest_name, so
    that a daemon may upgrade it; the original is never touched. SkipTest as fixture_path()."""
    dest = os.path.join(tmpdir, dest_name)
    shutil.copyfile(fixture_path(name), dest)
    os.chmod(dest, 0o644)
    return dest


def cached_db(path, **build_args):
    """For benchmarks: builds a mkdb database at path unless it exists (through path.tmp,
    so that an interrupted build is never mistaken for a finished one). Returns mkdb's
    figures when it built one, None when the cached file was reused."""
    if os.path.exists(path):
        return None
    print("building %s (cached for later runs) ..." % path, flush=True)
    st = mkdb.build(path + ".tmp", force=True, **build_args)
    os.rename(path + ".tmp", path)
    return st


def bench_run_dir(workdir, name, src_db, db_name="served.db"):
    """For benchmarks: an empty directory workdir/NAME (whatever a previous run left there
    is removed) holding a copy of src_db as db_name, written to disk before it returns (a
    few GB still being written back would slow whatever is measured next). Returns
    (directory, database path)."""
    run_dir = os.path.join(workdir, name)
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    db = os.path.join(run_dir, db_name)
    shutil.copyfile(src_db, db)
    fd = os.open(db, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return run_dir, db


def bench_against_baseline(workdir, tag, src_db, binary, baseline, measure):
    """For benchmarks: runs measure(name, binary, db, run_dir, is_new) for the baseline
    binary (when baseline is a path) and then binary, each on its own fresh copy of src_db
    in workdir/TAG-NAME. Returns the results in that order (baseline first)."""
    runs = ([("baseline", os.path.abspath(baseline), False)] if baseline else []) + [("meshsnapd", binary, True)]
    results = []
    for name, b, is_new in runs:
        run_dir, db = bench_run_dir(workdir, "%s-%s" % (tag, name), src_db)
        results.append(measure(name, b, db, run_dir, is_new))
    return results


def ratio(new, base):
    """new / base, or NaN when base is not positive."""
    return new / base if base > 0 else float("nan")


_M64 = (1 << 64) - 1
_P1, _P2, _P3 = 0x9e3779b185ebca87, 0xc2b2ae3d27d4eb4f, 0x165667b19e3779f9


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & _M64


def _round64(acc, w):
    return (_rotl((acc + w * _P2) & _M64, 31) * _P1) & _M64


def etag_of(body):
    """The ETag the server computes for body (msn_etag_of in shm/etag.c: msn_hash64, in
    hex and quotes). Pure Python: about a second per 10 MB."""
    n, p = len(body), 0
    if n >= 32:
        a, b, c, d = (_P1 + _P2) & _M64, _P2, 0, (-_P1) & _M64
        words = struct.unpack_from("<%dQ" % (4 * (n // 32)), body)
        for i in range(0, len(words), 4):
            a = _round64(a, words[i])
            b = _round64(b, words[i + 1])
            c = _round64(c, words[i + 2])
            d = _round64(d, words[i + 3])
        p = 32 * (n // 32)
        h = (_rotl(a, 1) + _rotl(b, 7) + _rotl(c, 12) + _rotl(d, 18)) & _M64
        for lane in (a, b, c, d):
            h = (((h ^ _round64(0, lane)) * _P1) + _P3) & _M64
    else:
        h = _P3
    h = (h + n) & _M64
    while n - p >= 8:
        (w,) = struct.unpack_from("<Q", body, p)
        h = (_rotl(h ^ _round64(0, w), 27) * _P1 + _P3) & _M64
        p += 8
    h ^= _round64(0, int.from_bytes(body[p:], "little"))
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & _M64
    h ^= h >> 33
    h = (h * 0xc4ceb9fe1a85ec53) & _M64
    h ^= h >> 33
    return '"%016x"' % h


def dir_bytes(path):
    """Disk blocks used under path, in bytes (LMDB files are sparse until written)."""
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_blocks * 512
            except OSError:
                pass
    return total


def iso_utc(t):
    """Unix seconds t as ISO-8601 UTC with a Z, whole seconds (as the API's from/to take)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def run_backfiller(db, tmpdir, name="backfill", sections=None):
    """Runs the backfiller role alone on db, to the end of every migration (`meshsnapd
    --config tmpdir/NAME.conf --role backfiller`, state in tmpdir/NAME-state): a database
    a daemon then serves without a backfill. sections: as for write_config. Returns its
    output; raises AssertionError (with the output) when it fails."""
    state = os.path.join(tmpdir, name + "-state")
    os.makedirs(state, exist_ok=True)
    conf = write_config(os.path.join(tmpdir, name + ".conf"), db=db, state_dir=state, listen="127.0.0.1:1",
                        sections=sections)
    r = subprocess.run([meshsnapd_path(), "--config", conf, "--role", "backfiller"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    out = r.stdout.decode("utf-8", "replace")
    if r.returncode != 0:
        raise AssertionError("the backfiller run on %s failed (status %d): %s" % (db, r.returncode, out[-3000:]))
    return out


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
    d.stop()                         # SIGTERM; asserts exit code 0 within timeout (6 s)
    d.reload(workers=3)              # rewrites the config file with a change, then SIGHUP

    config: extra global keys; sections: {section: {key: value}} for the config file;
    args: extra command-line arguments; env: variables added to the inherited environment.
    state_dir defaults to tmpdir/state-<n> (pass the same one to a second Daemon to restart
    on the same snapshots). The port is picked with free_port() unless given.

    admin (default True) adds an admin listener ([http] admin_listen on admin_port): health(),
    and so every wait_* and worker_pids(), read the full /api/healthz there (with the
    process ids); get() and the other requests go to the public port. rlimit_nofile, when
    given, is the descriptor limit (soft and hard) the daemon starts with.

    stop() also fails when the log holds a sanitizer report (UBSan "runtime error:",
    "ERROR: AddressSanitizer"; LeakSanitizer reports too when MESHSNAP_FAIL_ON_LEAKS is
    set) or, unless allow_worker_restarts, when a worker pid seen at wait_ready() was
    replaced (a worker crashed) during the test.
    """

    _count = 0

    def __init__(self, db, tmpdir, workers=2, poll_interval_ms=200, state_dir=None, port=None,
                 host="127.0.0.1", config=None, sections=None, args=(), env=None,
                 binary=None, log_level="info", allow_worker_restarts=False, admin=True, rlimit_nofile=None):
        Daemon._count += 1
        self.n = Daemon._count
        self.binary = binary or meshsnapd_path()
        self.db = db
        self.tmpdir = tmpdir
        self.host = host
        self.port = port or free_port(host)
        self.admin_port = free_port(host) if admin else None
        self.rlimit_nofile = rlimit_nofile
        self.workers = workers
        self.state_dir = state_dir or os.path.join(tmpdir, "state-%d" % self.n)
        os.makedirs(self.state_dir, exist_ok=True)
        self.config_path = os.path.join(tmpdir, "meshsnap-%d.conf" % self.n)
        self.settings = {"workers": workers, "poll_interval_ms": poll_interval_ms, "log_level": log_level,
                         "sections": sections, "config": config}
        self.rewrite_config()
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
        preexec = None
        if self.rlimit_nofile:
            import resource
            lim = self.rlimit_nofile

            def preexec():
                resource.setrlimit(resource.RLIMIT_NOFILE, (lim, lim))
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._logf,
                                     stderr=self._logf, env=self.env, start_new_session=True,
                                     preexec_fn=preexec)
        return self

    def rewrite_config(self, extra_lines=(), **changes):
        """(Re)writes config_path from the constructor's settings, updated with changes
        (workers, poll_interval_ms, log_level, sections, config: as for the constructor),
        then appends extra_lines verbatim (e.g. an invalid key). A running daemon reads it
        on reload()."""
        unknown = set(changes) - set(self.settings)
        if unknown:
            raise TypeError("rewrite_config: unknown settings %s" % sorted(unknown))
        self.settings.update(changes)
        st = self.settings
        sections = {k: dict(v) for k, v in (st["sections"] or {}).items()}
        if self.admin_port:
            sections.setdefault("http", {}).setdefault("admin_listen", "%s:%d" % (self.host, self.admin_port))
        write_config(self.config_path, db=self.db, state_dir=self.state_dir,
                     listen="%s:%d" % (self.host, self.port), workers=st["workers"],
                     poll_interval_ms=st["poll_interval_ms"], log_level=st["log_level"],
                     sections=sections, extra=st["config"])
        if extra_lines:
            with open(self.config_path, "a") as f:
                f.write("".join(line + "\n" for line in extra_lines))

    def reload(self, extra_lines=(), **changes):
        """rewrite_config(extra_lines, **changes), then SIGHUP to the master."""
        self.rewrite_config(extra_lines, **changes)
        self.kill(signal.SIGHUP)

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

    def _kill_all(self):
        """SIGKILLs the master's children and every other process of this daemon (each child
        runs in a session of its own, and one whose master died has another parent), then
        the master's process group."""
        for pid in sorted(set(live_pids(parent=self.proc.pid)) | set(self.processes()) - {self.proc.pid}):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def kill_group(self):
        """SIGKILLs the master, its process group and every process of this daemon (the
        children, in sessions of their own) and reaps the master. For cleanup after a
        failure."""
        if self.proc is None:
            return
        self._kill_all()
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
            self._kill_all()
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

    def admin_get(self, path, headers=None, timeout=10.0):
        """GET on the admin listener (a fresh connection); DaemonError without one."""
        if not self.admin_port:
            raise DaemonError("daemon %d has no admin listener (admin=False)" % self.n)
        return http_get(self.host, self.admin_port, path, headers=headers, timeout=timeout)

    def health(self, timeout=5.0):
        """The parsed /api/healthz body (the admin listener's, with the process ids, when
        there is one), or None when the request fails."""
        try:
            r = self.admin_get("/api/healthz", timeout=timeout) if self.admin_port else \
                self.get("/api/healthz", timeout=timeout)
        except (OSError, http.client.HTTPException):
            return None
        if r.status != 200:
            return None
        try:
            return r.json()
        except ValueError:
            return None

    def wait_for(self, pred, timeout=30.0, interval=0.05, what="condition"):
        """Polls pred() (which may raise OSError / HTTPException / ValueError: treated as
        false) until it returns a true value, which is returned. Fails with the log if the
        daemon exits or timeout seconds pass."""
        v, last_exc = _poll(pred, timeout, interval, self.check_alive)
        if not v:
            self._fail("timed out after %.0f s waiting for %s%s"
                       % (timeout, what, " (last error: %s)" % last_exc if last_exc else ""))
        return v

    def wait_health(self, pred, timeout=30.0, interval=0.05, what="a condition in /api/healthz"):
        """Polls /api/healthz until pred(body) is true; returns that body (see wait_for)."""
        def ok():
            h = self.health()
            return h if h and pred(h) else None
        return self.wait_for(ok, timeout=timeout, interval=interval, what=what)

    def wait_status(self, paths, status=200, timeout=30.0, interval=0.05, request_timeout=10.0, what=None):
        """Polls GET of paths (one path, or a list: all of them in one round) until each
        answers `status`; returns the Response (a list of them for a list). See wait_for."""
        many = not isinstance(paths, str)
        plist = list(paths) if many else [paths]

        def answered():
            out = []
            for p in plist:
                r = self.get(p, timeout=request_timeout)
                if r.status != status:
                    return None
                out.append(r)
            return out
        rs = self.wait_for(answered, timeout=timeout, interval=interval,
                           what=what or "status %d from %s" % (status, ", ".join(plist)))
        return rs if many else rs[0]

    def wait_ready(self, timeout=60.0):
        """Waits until /api/healthz answers ready=true. Returns the healthz body."""
        h = self.wait_health(lambda h: h.get("ready") is True, timeout=timeout, what="/api/healthz ready=true")
        self._note_workers(h)
        return h

    def _note_workers(self, h):
        if self.initial_workers is None:
            pids = self.worker_pids(h)
            if len(pids) == self.workers:
                self.initial_workers = pids

    def wait_fresh(self, timeout=60.0, min_generation=None, interval=0.05):
        """Waits until healthz reports ready, not stale, and (optionally) a generation >=
        min_generation. Returns the healthz body."""
        def fresh(h):
            if h.get("ready") is not True or h.get("stale") is not False:
                return False
            return min_generation is None or int(h.get("generation") or 0) >= min_generation
        h = self.wait_health(fresh, timeout=timeout, interval=interval, what="a fresh generation in /api/healthz")
        self._note_workers(h)
        return h

    def migrations(self):
        """{name: migration} from /api/perf/async-migrations; {} when the request fails."""
        try:
            return {m["name"]: m for m in self.get_json("/api/perf/async-migrations")}
        except (OSError, http.client.HTTPException, ValueError, AssertionError):
            return {}

    def wait_migrations_done(self, count, timeout=120.0, interval=0.05, samples=None):
        """Waits until /api/perf/async-migrations lists at least `count` migrations, every
        one of them done; returns {name: migration}. samples (a list), when given, gets
        (name, rowsProcessed) of every migration seen on every poll."""
        def done():
            ms = self.migrations()
            if samples is not None:
                samples.extend((m["name"], m["rowsProcessed"]) for m in ms.values())
            return ms if len(ms) >= count and all(m["status"] == "done" for m in ms.values()) else None
        return self.wait_for(done, timeout=timeout, interval=interval, what="every migration done")

    def processes(self):
        """The pids (ascending) of every live process of this daemon, whatever its session:
        those that map the status block of its state_dir (the master, every child role it
        starts and every child it forks; not zombies). A process started by another
        daemon on another state_dir is never counted."""
        return processes_of(self.state_dir)

    def worker_pids(self, health=None):
        """{slot: pid} from healthz `workers` (the admin listener's, which has the pids);
        from /proc (worker_processes) for a daemon without an admin listener."""
        h = health or self.health()
        if not h:
            return {}
        workers = h.get("workers") or []
        if workers and "pid" not in workers[0]:
            return worker_processes(self.pid) if self.pid else {}
        return {int(w["slot"]): int(w["pid"]) for w in workers}


def start_daemon(db, tmpdir, timeout=90.0, test=None, **kwargs):
    """Daemon(db, tmpdir, **kwargs) started and waited for until fresh (wait_fresh(timeout)).
    When test (a unittest.TestCase) is given, its cleanup is registered with
    test.addCleanup before the wait; otherwise a daemon that never gets fresh is cleaned
    up before the error propagates. Returns the Daemon."""
    d = Daemon(db, tmpdir, **kwargs).start()
    if test is not None:
        test.addCleanup(d.cleanup)
    try:
        d.wait_fresh(timeout=timeout)
    except BaseException:
        d.cleanup()
        raise
    return d


def _poll(pred, timeout, interval, check=None):
    """Polls pred() (OSError, HTTPException and ValueError count as false) until it returns
    a true value or timeout seconds pass; check(), when given, runs first in every round
    (it may raise). Returns (value or None, the last exception caught)."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        if check is not None:
            check()
        try:
            v = pred()
            if v:
                return v, last_exc
        except (OSError, http.client.HTTPException, ValueError) as e:
            last_exc = e
        if time.monotonic() > deadline:
            return None, last_exc
        time.sleep(interval)


def poll_until(pred, timeout, interval=0.05):
    """pred()'s first true value within timeout seconds (polled every interval; OSError,
    HTTPException and ValueError count as false), or None."""
    return _poll(pred, timeout, interval)[0]


def wait_until(pred, timeout=30.0, interval=0.05, what="condition", check=None):
    """As poll_until, but raises AssertionError naming `what` (and the last error) on
    timeout; check() (optional, e.g. Daemon.check_alive) runs first in every round and may
    raise. For a daemon's own state use Daemon.wait_for, which adds its log on failure."""
    v, last_exc = _poll(pred, timeout, interval, check)
    if not v:
        raise AssertionError("timed out after %.0f s waiting for %s%s"
                             % (timeout, what, " (last error: %s)" % last_exc if last_exc else ""))
    return v


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
    """The command line (process title) of pid, arguments joined by spaces; "" when gone."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def live_pids(parent=None, group=None):
    """The pids (ascending) of the live processes, not zombies, whose parent is `parent`
    and whose process group is `group` (None: any), from /proc."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rfind(")") + 2:].split()  # state, ppid, pgrp, ...
        if fields[0] in ("Z", "X"):
            continue
        if (parent is None or int(fields[1]) == parent) and (group is None or int(fields[2]) == group):
            out.append(int(d))
    return sorted(out)


def processes_of(state_dir):
    """The pids (ascending) of the live processes that map the status block of state_dir
    (state_dir/status): every process of the daemon using it (Daemon.processes)."""
    target = os.path.join(os.path.realpath(state_dir), "status")
    out = []
    for pid in live_pids():
        try:
            with open("/proc/%d/maps" % pid) as f:
                if any(ln.rstrip("\n").endswith(" " + target) for ln in f):
                    out.append(pid)
        except OSError:
            continue
    return out


def worker_processes(master_pid):
    """{slot: pid} of the live worker processes whose parent is master_pid (title
    "meshsnapd: worker N", or "--role worker --slot N" before the title is set)."""
    out = {}
    for pid in live_pids(parent=master_pid):
        cmd = pid_cmdline(pid)
        m = re.match(r"meshsnapd: worker (\d+)", cmd) or re.search(r"--role worker --slot (\d+)", cmd)
        if m:
            out[int(m.group(1))] = pid
    return out


def worker_generation(master_pid, old, want):
    """After a reload: {slot: pid} of the workers of master_pid when exactly `want` of them
    run, none of them in `old` ({slot: pid}), and every old pid has exited; else None."""
    old_pids = set(old.values())
    now = worker_processes(master_pid)
    if len(now) != want or old_pids & set(now.values()) or any(pid_alive(p) for p in old_pids):
        return None
    return now


def kill_pid(pid, sig=signal.SIGKILL, timeout=30.0, check=None):
    """Sends sig to pid and waits until it is gone (exited, or a zombie left to its parent);
    raises AssertionError when it is still alive after timeout seconds (check: as for
    wait_until)."""
    os.kill(pid, sig)
    wait_until(lambda: not pid_alive(pid), timeout=timeout, interval=0.01,
               what="pid %d to end after %s" % (pid, signal.Signals(sig).name), check=check)


def stop_process(proc, sig=signal.SIGKILL, timeout=10.0):
    """Ends a subprocess.Popen that may still run: sig, up to timeout seconds, then SIGKILL.
    Returns its exit status."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


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


def sql_rows(path, query, args=()):
    """Every row of one query on a read-only connection (sql_connect) to path."""
    conn = sql_connect(path)
    try:
        return conn.execute(query, args).fetchall()
    finally:
        conn.close()


def sql_value(path, query, args=()):
    """The first column of the first row of one query (None when there is no row)."""
    rows = sql_rows(path, query, args)
    return rows[0][0] if rows else None


def table_columns(conn, table):
    """The set of column names of table (empty when it does not exist)."""
    return {r[1] for r in conn.execute("PRAGMA table_info(%s)" % table)}


# -- load -----------------------------------------------------------------------------


class ClientThreads:
    """Background clients for the length of a `with` block. A subclass implements run(i),
    which loops until self.stopping() is true; `threads` threads run it (i = 0 ..
    threads-1) from entering the block; leaving it stops them and waits for each up to
    join_timeout seconds. self.lock guards what the subclass records."""

    def __init__(self, threads=3, join_timeout=15.0):
        self.join_timeout = join_timeout
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)]

    def run(self, i):
        raise NotImplementedError

    def stopping(self):
        return self.stop_ev.is_set()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_ev.set()
        for t in self.threads:
            t.join(self.join_timeout)
        return False


class KeepAliveGets(ClientThreads):
    """Threads that each keep one HTTP/1.1 connection to host:port (raw http.client:
    nothing is retried or hidden) and GET path in a loop until stopped. Every round ends in
    one call of the subclass:
      answered(r, body)     the status line and the whole body arrived; a false return
                            drops the connection (so does `Connection: close`)
      failed(stage, error)  stage "request": no status line arrived (refused, reset, closed
                            before an answer); stage "body": the body was cut short. The
                            connection is dropped."""

    def __init__(self, host, port, path, threads=3):
        super().__init__(threads)
        self.host, self.port, self.path = host, port, path

    def answered(self, r, body):
        raise NotImplementedError

    def failed(self, stage, error):
        raise NotImplementedError

    def run(self, i):
        conn = None
        while not self.stopping():
            if conn is None:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
            keep = False
            try:
                conn.request("GET", self.path)
                r = conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                self.failed("request", e)
            else:
                try:
                    body = r.read()
                except (OSError, http.client.HTTPException) as e:
                    self.failed("body", e)
                else:
                    keep = self.answered(r, body) and not r.will_close
            if not keep:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()


_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_wrk(text):
    """The figures of wrk's summary: {"text", "requests", "rps" (0.0 when absent), "non2xx",
    "socket": {connect, read, write, timeout} (zeros when wrk printed none),
    "socket_errors" (that line's text, "" when none), "failed" (non-2xx + socket errors),
    "errors" (whether wrk printed either line), "latency_ms": {"50": ms, "99": ms, ...}
    (with --latency)}."""
    r = {"text": text, "requests": 0, "rps": 0.0, "non2xx": 0, "socket_errors": "",
         "socket": {"connect": 0, "read": 0, "write": 0, "timeout": 0}, "latency_ms": {}}
    m = re.search(r"(\d+) requests in", text)
    if m:
        r["requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if m:
        r["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors:(.*)", text)
    if m:
        r["socket_errors"] = m.group(1).strip()
        m = re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", m.group(1))
        if m:
            r["socket"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups())))
    for p, v, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M):
        r["latency_ms"][p] = float(v) * _WRK_UNITS[unit]
    r["failed"] = r["non2xx"] + sum(r["socket"].values())
    r["errors"] = "Non-2xx" in text or "Socket errors" in text
    return r


class Wrk:
    """wrk against one URL: start() in the background, then result(); or run() to the end.
    request_timeout is wrk's --timeout (e.g. "10s"); latency adds --latency."""

    def __init__(self, url, seconds, connections=64, threads=2, latency=False, request_timeout=None, wrk="wrk"):
        self.seconds = seconds
        self.cmd = [wrk, "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds]
        if request_timeout:
            self.cmd += ["--timeout", request_timeout]
        if latency:
            self.cmd.append("--latency")
        self.cmd.append(url)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def result(self, timeout=None, check=False):
        """Waits for wrk (up to timeout, default its duration + 60 s) and returns
        parse_wrk() of its output plus "returncode". check: raise RuntimeError when wrk
        failed or printed no Requests/sec."""
        out, _ = self.proc.communicate(timeout=timeout if timeout is not None else self.seconds + 60)
        r = parse_wrk(out.decode("utf-8", "replace"))
        r["returncode"] = self.proc.returncode
        if check and (self.proc.returncode != 0 or "Requests/sec" not in r["text"]):
            raise RuntimeError("wrk failed (%d): %s" % (self.proc.returncode, r["text"]))
        return r

    def run(self, timeout=None, check=False):
        return self.start().result(timeout=timeout, check=check)

    def kill(self):
        if self.proc is not None:
            stop_process(self.proc)


def run_wrk(url, seconds, check=True, **kwargs):
    """Wrk(url, seconds, **kwargs).run(check=check): wrk to the end, its figures."""
    return Wrk(url, seconds, **kwargs).run(check=check)


def percentile(values, p):
    """The p-th percentile (0..100) of values by nearest rank (0.0 for no values)."""
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


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
