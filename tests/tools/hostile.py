"""hostile: clients that misbehave on purpose, for the resource-bound tests and benchmarks.

Standard library only. Every client here talks to 127.0.0.1 only and keeps its sockets
until close() (or the end of a `with` block).

  SlowReaders(host, port, paths, n)  n HTTP/1.1 connections, each sends one request for
                                     paths[i % len(paths)] and never reads the answer (a
                                     tiny receive buffer, so the server's response stays
                                     buffered server-side)
  StalledH2(host, port, paths, streams)
                                     one cleartext HTTP/2 connection (prior knowledge) that
                                     opens `streams` streams with a flow-control window of 0
                                     and never opens it: every response stays at the server
  HeldH2(host, port, path)           one cleartext HTTP/2 stream asked with a window of 0 (the
                                     response waits at the server) until read_all() opens
                                     the windows and reads the whole body: a reader that is
                                     as slow as the test wants
  IdleConnections(host, port, n)     n keep-alive connections, each after one answered
                                     request (so they sit idle in the server)
  rss_kb(pid), anon_kb(pid)          the resident set of a process, in KiB: all of it (VmRSS),
                                     or its own memory only (RssAnon, no mapped files)
  cpu_ticks(pid)                     user + system CPU ticks of a process (/proc/PID/stat)
  sanitized(pid)                     whether a process runs with AddressSanitizer
  answered(sock)                     whether the server has sent anything on a connection
  peer_closed(sock)                  whether the server closed (or reset) a connection
                                     (reading what it sent meanwhile)

HTTP/2 framing is written by hand (RFC 7540/7541): the connection preface, a SETTINGS
frame with SETTINGS_INITIAL_WINDOW_SIZE = 0, and HEADERS frames whose header block uses
HPACK literals without indexing and without Huffman coding.
"""

import os
import socket
import struct
import time

_TICKS = os.sysconf("SC_CLK_TCK")


def _status_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb(pid):
    """VmRSS of pid in KiB (0 when the process is gone): everything resident, including
    the pages of mapped files (a worker's LMDB map: page cache, shared and reclaimable)."""
    return _status_kb(pid, "VmRSS")


def anon_kb(pid):
    """RssAnon of pid in KiB (0 when the process is gone): the resident memory that is the
    process's own (heap, its mappings of buffers), which is what a client can make a
    worker hold."""
    return _status_kb(pid, "RssAnon")


def sanitized(pid):
    """True when the process runs with AddressSanitizer (its allocator keeps freed memory in
    quarantine and adds shadow memory: resident memory says little then)."""
    try:
        with open("/proc/%d/maps" % pid) as f:
            if "libasan" in f.read():  # gcc: the runtime is a shared library
                return True
        with open("/proc/%d/exe" % pid, "rb") as f:  # clang links it statically
            return b"__asan_init" in f.read()
    except OSError:
        return False


def cpu_ticks(pid):
    """utime + stime of pid in clock ticks (0 when the process is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def cpu_seconds(ticks):
    return ticks / float(_TICKS)


def peer_closed(sock):
    """True when the server closed (or reset) the connection, False while it is open. Reads
    and drops whatever the server sent meanwhile (so only call it once the client may read:
    reading is progress for the server)."""
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        while True:
            if sock.recv(1 << 16) == b"":
                return True
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True
    finally:
        sock.settimeout(timeout)


def _connect(host, port, rcvbuf=None, timeout=10.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        # before connect, so that the advertised window stays small
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


class _Clients:
    def __init__(self):
        self.socks = []

    def close(self):
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass
        self.socks = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def closed_by_server(self):
        """How many of the connections the server has closed (reads what they were sent:
        see peer_closed)."""
        return sum(1 for s in self.socks if peer_closed(s))


class SlowReaders(_Clients):
    """n connections that each request one path (with `headers`, "Name: value\\r\\n" lines)
    and never read. `failed` counts the connections that could not be opened or written."""

    def __init__(self, host, port, paths, n, rcvbuf=4096, headers=""):
        super().__init__()
        self.failed = 0
        for i in range(n):
            path = paths[i % len(paths)]
            try:
                s = _connect(host, port, rcvbuf=rcvbuf)
                s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (path, host, headers)).encode())
                self.socks.append(s)
            except OSError:
                self.failed += 1


def _hpack_int(value, prefix_bits, first_byte_flags=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte_flags | value])
    out = [first_byte_flags | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _hpack_literal(name, value):
    """A literal header field without indexing, new name, no Huffman (RFC 7541 6.2.2)."""
    n, v = name.encode(), value.encode()
    return b"\x00" + _hpack_int(len(n), 7) + n + _hpack_int(len(v), 7) + v


def _frame(ftype, flags, stream_id, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream_id) + payload


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class StalledH2(_Clients):
    """One HTTP/2 connection that asks for `streams` responses with a window of 0.
    `refused` is set when the server did not take HTTP/2 (it answered the preface as
    HTTP/1, closed the connection or sent nothing within timeout seconds); `reason` then
    says which."""

    def __init__(self, host, port, paths, streams=100, rcvbuf=4096, timeout=30.0):
        super().__init__()
        self.refused = False
        self.reason = None
        s = _connect(host, port, rcvbuf=rcvbuf)
        self.socks.append(s)
        settings = struct.pack(">HI", 0x4, 0)  # SETTINGS_INITIAL_WINDOW_SIZE = 0
        out = [H2_PREFACE, _frame(0x4, 0, 0, settings)]
        for i in range(streams):
            path = paths[i % len(paths)]
            block = (_hpack_literal(":method", "GET") + _hpack_literal(":scheme", "http") +
                     _hpack_literal(":path", path) + _hpack_literal(":authority", "%s:%d" % (host, port)))
            out.append(_frame(0x1, 0x5, 2 * i + 1, block))  # HEADERS, END_STREAM | END_HEADERS
        s.sendall(b"".join(out))
        # the server's preface: its SETTINGS frame, which is acknowledged (a client that
        # never acknowledges may be dropped for that alone); nothing else is ever read
        try:
            s.settimeout(timeout)
            head = _recv_exactly(s, 9)
            if len(head) < 9 or head[3] != 0x4:
                self.refused, self.reason = True, "answered %r" % head[:9] if head else "closed"
                return
            length = struct.unpack(">I", b"\0" + head[:3])[0]
            if len(_recv_exactly(s, length)) < length:
                self.refused, self.reason = True, "closed within its SETTINGS frame"
                return
            s.sendall(_frame(0x4, 0x1, 0))
        except OSError as e:
            self.refused, self.reason = True, "%s (within %.0f s)" % (e, timeout)


class HeldH2(_Clients):
    """One HTTP/2 connection with one stream for path (extra headers as literals), asked
    with SETTINGS_INITIAL_WINDOW_SIZE = 0: the server can send the headers but no body
    until read_all(). `refused` as for StalledH2."""

    def __init__(self, host, port, path, headers=None, timeout=30.0):
        super().__init__()
        self.refused = False
        s = _connect(host, port)
        self.socks.append(s)
        self.sock = s
        settings = struct.pack(">HI", 0x4, 0)
        block = (_hpack_literal(":method", "GET") + _hpack_literal(":scheme", "http") +
                 _hpack_literal(":path", path) + _hpack_literal(":authority", "%s:%d" % (host, port)))
        for k, v in (headers or {}).items():
            block += _hpack_literal(k.lower(), v)
        s.settimeout(timeout)
        s.sendall(H2_PREFACE + _frame(0x4, 0, 0, settings) + _frame(0x1, 0x5, 1, block))

    def _read_frame(self):
        head = _recv_exactly(self.sock, 9)
        if len(head) < 9:
            return None
        length = struct.unpack(">I", b"\0" + head[:3])[0]
        stream = struct.unpack(">I", head[5:9])[0] & 0x7FFFFFFF
        payload = _recv_exactly(self.sock, length)
        return head[3], head[4], stream, payload

    def read_all(self):
        """Opens the stream's and the connection's windows and reads until the stream
        ends. Returns (status, body, complete): status is 200 when the server's header
        block starts with the indexed :status 200 (else None); complete is False when the
        stream was reset or the connection closed first."""
        big = 0x7FFFFFFF
        self.sock.sendall(_frame(0x8, 0, 0, struct.pack(">I", big - 65535)) + _frame(0x8, 0, 1, struct.pack(">I", big)))
        status, body = None, bytearray()
        while True:
            try:
                f = self._read_frame()
            except OSError:
                f = None
            if f is None:
                return status, bytes(body), False
            ftype, flags, stream, payload = f
            if ftype == 0x4 and not flags & 0x1:
                self.sock.sendall(_frame(0x4, 0x1, 0))
            elif ftype == 0x6 and not flags & 0x1:
                self.sock.sendall(_frame(0x6, 0x1, 0, payload))
            elif ftype == 0x7:
                return status, bytes(body), False
            elif stream == 1 and ftype == 0x3:
                return status, bytes(body), False
            elif stream == 1 and ftype == 0x1:
                status = 200 if payload[:1] == b"\x88" else None
                if flags & 0x1:
                    return status, bytes(body), True
            elif stream == 1 and ftype == 0x0:
                if flags & 0x8:  # PADDED
                    payload = payload[1:len(payload) - payload[0]]
                body += payload
                if flags & 0x1:
                    return status, bytes(body), True


def _recv_exactly(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


class IdleConnections(_Clients):
    """n keep-alive connections, each after one answered request for path (one after the
    other). `failed` counts the connections that got no answer within timeout seconds;
    after max_failures of them no more are opened."""

    def __init__(self, host, port, n, path="/api/healthz", timeout=5.0, max_failures=None):
        super().__init__()
        self.host, self.port, self.path = host, port, path
        self.failed = 0
        for _ in range(n):
            if max_failures is not None and self.failed >= max_failures:
                break
            try:
                s = _connect(host, port, timeout=timeout)
                s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)).encode())
                if not _read_response(s):
                    raise OSError("no response")
                self.socks.append(s)
            except OSError:
                self.failed += 1

    def add(self, n=1, **kw):
        """Opens n more such connections (as the constructor); returns how many failed."""
        more = IdleConnections(self.host, self.port, n, **kw)
        self.socks.extend(more.socks)
        return more.failed


def _read_response(s):
    """Reads one HTTP/1.1 response with a Content-Length; returns the status, or None."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            return None
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v.strip())
    while len(body) < length:
        chunk = s.recv(length - len(body))
        if not chunk:
            return None
        body += chunk
    return status


def answered(sock):
    """True when the server has sent something on sock (non-blocking look)."""
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        return len(sock.recv(1, socket.MSG_PEEK)) > 0
    except OSError:
        return False
    finally:
        sock.settimeout(timeout)


def wait_for(pred, timeout, interval=0.1):
    """Polls pred() until it is true (returned) or timeout seconds pass (None)."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= end:
            return None
        time.sleep(interval)
