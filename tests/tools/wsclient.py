"""wsclient: a small blocking WebSocket client (RFC 6455) for meshsnap's tests and
benchmarks. Standard library only.

  c = WsClient(host, port, path="/", origin=None, headers=None, key=None, timeout=10)
      connects and sends the handshake; c.status is the HTTP status of the answer,
      c.headers its headers (lower-case names), c.body the body of a refusal. A 101 answer
      has its Sec-WebSocket-Accept checked (AssertionError when wrong).
  c.recv(timeout)         the next message: ("text", str), ("binary", bytes),
                          ("close", (code, reason)) or ("ping", bytes) when auto_pong is
                          off; pings are answered and skipped when auto_pong is on (the
                          default); raises socket.timeout, or EOFError when the server
                          closed the connection without a close frame
  c.recv_json(timeout)    the next text message parsed as JSON
  c.send(opcode, payload, fin=True, mask=True)   one frame (client frames are masked)
  c.send_text(s), c.ping(b), c.close(code)       shortcuts
  c.sock                  the socket; c.disconnect() closes it

accept_key(key)           the Sec-WebSocket-Accept of a Sec-WebSocket-Key
"""

import base64
import hashlib
import json
import os
import socket
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + GUID).digest()).decode("ascii")


def frame(opcode, payload, fin=True, mask=True):
    """A client frame (masked unless mask is false)."""
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return hdr + payload
    m = os.urandom(4)
    return hdr + m + bytes(b ^ m[i & 3] for i, b in enumerate(payload))


class WsClient:
    def __init__(self, host, port, path="/", origin=None, headers=None, key=None, timeout=10.0,
                 host_header=None, auto_pong=True):
        self.auto_pong = auto_pong
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.key = key or base64.b64encode(os.urandom(16)).decode("ascii")
        h = {"Host": host_header or "%s:%d" % (host, port), "Upgrade": "websocket", "Connection": "Upgrade",
             "Sec-WebSocket-Key": self.key, "Sec-WebSocket-Version": "13"}
        if origin is not None:
            h["Origin"] = origin
        h.update(headers or {})
        req = "GET %s HTTP/1.1\r\n" % path + "".join("%s: %s\r\n" % kv for kv in h.items() if kv[1] is not None)
        self.sock.sendall((req + "\r\n").encode("latin-1"))
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("the server closed the connection during the handshake")
            self.buf += d
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.body = b""
        if self.status != 101:
            n = int(self.headers.get("content-length", "0"))
            while len(self.buf) < n:
                d = self.sock.recv(65536)
                if not d:
                    break
                self.buf += d
            self.body, self.buf = self.buf[:n], self.buf[n:]
            return
        got = self.headers.get("sec-websocket-accept")
        if got != accept_key(self.key):
            raise AssertionError("Sec-WebSocket-Accept %r, expected %r" % (got, accept_key(self.key)))

    def _need(self, n):
        while len(self.buf) < n:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("the server closed the connection")
            self.buf += d

    def recv_frame(self, timeout=None):
        """The next frame: (fin, opcode, payload)."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        if b1 & 0x80:
            raise AssertionError("the server sent a masked frame")
        n, h = b1 & 0x7F, 2
        if n == 126:
            self._need(4)
            n, h = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, h = struct.unpack("!Q", self.buf[2:10])[0], 10
        self._need(h + n)
        payload, self.buf = self.buf[h:h + n], self.buf[h + n:]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def recv(self, timeout=None):
        parts, first_op = [], None
        while True:
            fin, op, payload = self.recv_frame(timeout)
            if op == OP_PING:
                if self.auto_pong:
                    self.send(OP_PONG, payload)
                    continue
                return ("ping", payload)
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                return ("close", (code, payload[2:].decode("utf-8", "replace")))
            if op != OP_CONT:
                first_op = op
            parts.append(payload)
            if fin:
                data = b"".join(parts)
                return ("text", data.decode("utf-8")) if first_op == OP_TEXT else ("binary", data)

    def recv_json(self, timeout=None):
        kind, v = self.recv(timeout)
        if kind != "text":
            raise AssertionError("expected a text message, got %s %r" % (kind, v))
        return json.loads(v)

    def send(self, opcode, payload=b"", fin=True, mask=True):
        self.sock.sendall(frame(opcode, payload, fin, mask))

    def send_text(self, s):
        self.send(OP_TEXT, s.encode("utf-8"))

    def ping(self, payload=b""):
        self.send(OP_PING, payload)

    def close(self, code=1000):
        self.send(OP_CLOSE, struct.pack("!H", code))

    def disconnect(self):
        try:
            self.sock.close()
        except OSError:
            pass
