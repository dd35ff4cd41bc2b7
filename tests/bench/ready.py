#!/usr/bin/python3
"""ready.py: time from exec of meshsnapd to systemd's READY=1, read from a notify socket
as systemd would (NOTIFY_SOCKET). READY=1 is sent once every worker accepts on the
listening sockets, before the database is loaded: the figure does not depend on the
database's size. Prints the time of each run and the median.

Usage: ready.py [--meshsnapd BIN] [--runs N] [--db PATH]
"""

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import msnlib  # noqa: E402


def main():
    ap = msnlib.bench_parser(workdir=False)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--db", help="database to serve (default: a new empty one)")
    a = ap.parse_args()
    binary = msnlib.need_binary("meshsnapd", a.meshsnapd)
    tmp = msnlib.make_tmpdir("msn-ready-")  # removed at exit
    db = os.path.join(tmp, "r.db")
    if a.db:
        shutil.copyfile(a.db, db)
    else:
        subprocess.run([binary, "--init-db", db], check=True)
    times = []
    for i in range(a.runs):
        sock_path = os.path.join(tmp, "notify.sock")
        if os.path.exists(sock_path):
            os.unlink(sock_path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(sock_path)
        s.settimeout(30)
        port = msnlib.free_port()
        env = dict(os.environ, NOTIFY_SOCKET=sock_path)
        t0 = time.monotonic()
        p = subprocess.Popen([binary, "--db", db, "--state-dir", os.path.join(tmp, "state"), "--listen",
                              "127.0.0.1:%d" % port, "--workers", "2"], env=env, stderr=subprocess.DEVNULL)
        ready = None
        try:
            while ready is None:
                msg = s.recv(4096).decode()
                if "READY=1" in msg.split("\n"):
                    ready = time.monotonic() - t0
        finally:
            msnlib.stop_process(p, signal.SIGTERM)
            s.close()
        times.append(ready)
        print("run %d: exec -> READY=1 %.1f ms" % (i + 1, ready * 1000), flush=True)
    print("median %.1f ms (min %.1f, max %.1f)" % (statistics.median(times) * 1000, min(times) * 1000,
                                                  max(times) * 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
