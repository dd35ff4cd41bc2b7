#!/bin/sh
# syscall_check.sh: checks that meshsnapd keeps to the system calls the unit allows
# (SystemCallFilter=@system-service, then ~@privileged @resources) without needing
# systemd as PID 1: it runs the daemon under strace, as an unprivileged user as the
# service does, through start, readiness, API reads, a SIGHUP reload and a SIGTERM stop,
# and compares every system call made with the unit's filter, expanded by
# `systemd-analyze syscall-filter`.
#
# Usage: tests/packaging/syscall_check.sh [MESHSNAPD] [UNIT_FILE]
#   MESHSNAPD defaults to $MESHSNAPD, UNIT_FILE to packaging/meshsnap.service.
# Needs root (to switch to the user nobody), strace, python3, curl, systemd-analyze;
# exits 77 when one is missing or ptrace is not permitted. The database is
# $MESHSNAP_SHARED/fixtures/corescope-e2e.db when present, else an empty one.
set -u

here=$(cd "$(dirname "$0")" && pwd)
daemon=${1:-${MESHSNAPD:-}}
unit=${2:-$here/../../packaging/meshsnap.service}
skip() {
	echo "syscall_check: SKIP: $*"
	exit 77
}
if [ -z "$daemon" ] || [ ! -x "$daemon" ]; then
	skip "no meshsnapd (pass it or set MESHSNAPD)"
fi
daemon=$(cd "$(dirname "$daemon")" && pwd)/$(basename "$daemon")
[ "${MESHSNAP_SANITIZE:-0}" = 1 ] && skip "sanitizer build: the sanitizer runtime makes calls the release binary does not"
[ "$(id -u)" = 0 ] || skip "must run as root (to run the daemon as the user nobody)"
for t in strace python3 curl systemd-analyze setpriv; do
	command -v "$t" >/dev/null 2>&1 || skip "'$t' is not installed"
done
strace -f -qq -o /dev/null true 2>/dev/null || skip "ptrace is not permitted here"

tmp=$(mktemp -d /tmp/meshsnap-syscall-check.XXXXXX)
chmod 0755 "$tmp"
master=
tracer=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	[ -n "$master" ] && kill -KILL "$master" 2>/dev/null
	[ -n "$tracer" ] && kill "$tracer" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

run=$tmp/run
mkdir "$run"
fixture=${MESHSNAP_SHARED:-}/fixtures/corescope-e2e.db
if [ -n "${MESHSNAP_SHARED:-}" ] && [ -f "$fixture" ]; then
	cp "$fixture" "$run/meshsnap.db"
else
	"$daemon" --init-db "$run/meshsnap.db" || exit 1
fi
chown -R nobody:nogroup "$run"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# NOTIFY_SOCKET names no socket: the sd_notify calls are still made (and traced)
NOTIFY_SOCKET=$tmp/notify strace -f -qq -o "$tmp/trace" setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
	"$daemon" --db "$run/meshsnap.db" --state-dir "$run/state" --listen "127.0.0.1:$port" --workers 2 \
	>"$tmp/daemon.log" 2>&1 &
tracer=$!
code=000
i=0
while [ $i -lt 600 ]; do
	code=$(curl -s -o "$tmp/healthz" -w '%{http_code}' "http://127.0.0.1:$port/api/healthz" 2>/dev/null)
	[ "$code" = 200 ] && grep -q '"ready":true' "$tmp/healthz" && break
	kill -0 "$tracer" 2>/dev/null || break
	sleep 0.1
	i=$((i + 1))
done
if [ "$code" != 200 ]; then
	cat "$tmp/daemon.log"
	echo "syscall_check: FAIL: the daemon did not answer /api/healthz"
	exit 1
fi
# the master is strace's child (the public healthz shows no process ids)
master=$(python3 -c '
import os, sys
for p in os.listdir("/proc"):
    try:
        st = open("/proc/%s/status" % p).read()
    except (OSError, ValueError):
        continue
    if "\nPPid:\t%s\n" % sys.argv[1] in st:
        print(p)
        break
' "$tracer")
[ -n "$master" ] || {
	echo "syscall_check: FAIL: cannot find the master (the child of strace, pid $tracer)"
	exit 1
}
for p in /api/stats /api/packets /api/packets?limit=5000 /api/nodes /api/observers /api/healthz /api/nope; do
	curl -s -o /dev/null "http://127.0.0.1:$port$p"
done
kill -HUP "$master"
sleep 2
curl -s -o /dev/null "http://127.0.0.1:$port/api/stats"
kill -TERM "$master"
i=0
while [ $i -lt 200 ] && kill -0 "$master" 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
master=
wait "$tracer"
tracer=

# From the exec of meshsnapd on (what setpriv did before stands for systemd's own set-up),
# the names in "PID name(args) = ..." and "PID <... name resumed>" lines.
start=$(grep -n "execve(\"$daemon\"" "$tmp/trace" | head -1 | cut -d: -f1)
[ -n "$start" ] || {
	echo "syscall_check: FAIL: no execve of $daemon in the trace"
	exit 1
}
tail -n +"$start" "$tmp/trace" |
	sed -n 's/^[0-9][0-9]* *\([a-z_0-9]*\)(.*/\1/p; s/^[0-9][0-9]* *<\.\.\. \([a-z_0-9]*\) resumed>.*/\1/p' | sort -u >"$tmp/used"
if [ "$(wc -l <"$tmp/used")" -lt 20 ]; then
	echo "syscall_check: FAIL: only $(wc -l <"$tmp/used") system calls found in the trace"
	exit 1
fi
python3 - "$unit" "$tmp/used" <<'EOF'
import subprocess, sys, functools

@functools.lru_cache(None)
def expand(name):
    if not name.startswith("@"):
        return frozenset([name])
    out = subprocess.run(["systemd-analyze", "syscall-filter", name],
                         capture_output=True, text=True, check=True).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        t = line.strip()
        if t and not t.startswith("#"):
            calls |= expand(t)
    return frozenset(calls)

# SystemCallFilter= lines in order: an allow list, then "~" lines that deny
allowed, filters = None, []
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("SystemCallFilter="):
        filters.append(line.split("=", 1)[1])
for f in filters:
    deny = f.startswith("~")
    names = set()
    for n in f.lstrip("~").split():
        names |= expand(n)
    if deny:
        allowed = (allowed if allowed is not None else set()) - names
    else:
        allowed = (allowed or set()) | names
used = [l.strip() for l in open(sys.argv[2]) if l.strip()]
denied = [u for u in used if u not in allowed]
print("filters: %s" % " | ".join(filters))
print("%d distinct system calls made; %d allowed by the unit" % (len(used), len(used) - len(denied)))
for u in denied:
    print("DENIED by the unit: %s" % u)
sys.exit(1 if denied else 0)
EOF
rc=$?
[ "$rc" = 0 ] && echo "syscall_check: every system call meshsnapd made is allowed by $(basename "$unit")"
exit "$rc"
