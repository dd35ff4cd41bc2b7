#!/bin/sh
# install_check.sh: installs the meshsnap .deb on this machine and takes it through its
# life cycle, on a host where systemd is not PID 1 (a CI container):
#   1. dpkg -i: files in place, conffile registered (0640 root:meshsnap), nothing under
#      /var, the meshsnap system user created, the unit enabled but not started,
#      `systemd-analyze verify` passes on the installed unit, the packaged configuration
#      validates;
#   2. the installed /usr/sbin/meshsnapd runs as meshsnap against a generated database
#      with a temporary state directory: READY=1 on NOTIFY_SOCKET, /api/healthz 200,
#      SIGHUP reload, SIGTERM stop with status 0 and no process left;
#   3. upgrade to a newer version (the same .deb re-versioned): a local edit of the
#      conffile and the contents of /var/lib/meshsnap survive;
#   4. dpkg -r keeps the configuration; dpkg -P removes it, prints what it leaves, and
#      the file system differs from before the test only by what purge promises to leave
#      (/var/lib/meshsnap, the meshsnap user) and empty systemd bookkeeping directories.
# At the end the machine is put back as it was (user, /var/lib/meshsnap, directories).
#
# Usage: MESHSNAP_PACKAGE_TEST=1 tests/packaging/install_check.sh [meshsnap_*.deb]
#   Without an argument the .deb is built with cpack from $MESHSNAP_BUILD_DIR.
# It installs a system package, so it runs only with MESHSNAP_PACKAGE_TEST=1, as root,
# with dpkg present, and when meshsnap is not already installed; otherwise it exits 77.
# Output: one "ok"/"not ok" line per check and a closing "N passed, N failed" line.
set -u

skip() {
	echo "install_check: SKIP: $*"
	exit 77
}
[ "${MESHSNAP_PACKAGE_TEST:-0}" = 1 ] || skip "installs a system package; set MESHSNAP_PACKAGE_TEST=1 to run it"
[ "$(id -u)" = 0 ] || skip "must run as root (dpkg -i)"
command -v dpkg >/dev/null 2>&1 || skip "dpkg is missing (not a Debian system)"
[ "${MESHSNAP_SANITIZE:-0}" = 1 ] && skip "sanitizer build: packages are made from a release build"
for t in dpkg-deb setpriv curl python3 getent; do
	command -v "$t" >/dev/null 2>&1 || {
		echo "install_check: FAIL: '$t' is missing"
		exit 1
	}
done
if dpkg-query -W -f='${Status}' meshsnap 2>/dev/null | grep -qv '^unknown ok not-installed$'; then
	skip "a meshsnap package is installed on this machine; not touching it"
fi

export DEBIAN_FRONTEND=noninteractive
tmp=$(mktemp -d /tmp/meshsnap-install-check.XXXXXX)
chmod 0755 "$tmp"
trap 'rm -rf "$tmp"' EXIT # replaced by cleanup() once the machine is being changed

deb=${1:-}
if [ -z "$deb" ]; then
	build=${MESHSNAP_BUILD_DIR:-}
	if [ -z "$build" ] || [ ! -f "$build/CPackConfig.cmake" ]; then
		echo "install_check: FAIL: no .deb given and no MESHSNAP_BUILD_DIR to build one"
		exit 1
	fi
	if ! HOME=$tmp cpack -G DEB -B "$tmp/pkg" --config "$build/CPackConfig.cmake" >"$tmp/cpack.log" 2>&1; then
		cat "$tmp/cpack.log"
		echo "install_check: FAIL: cpack -G DEB"
		exit 1
	fi
	deb=$(ls "$tmp"/pkg/meshsnap_*.deb)
fi
[ -f "$deb" ] || {
	echo "install_check: FAIL: $deb: no such file"
	exit 1
}
version=$(dpkg-deb -f "$deb" Version)
echo "# $deb (version $version)"

passed=0
failed=0
ok() {
	passed=$((passed + 1))
	echo "ok - $*"
}
bad() {
	failed=$((failed + 1))
	echo "not ok - $*"
}
check() { # check DESCRIPTION COMMAND...
	d=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then ok "$d"; else bad "$d"; sed 's/^/    /' "$tmp/out"; fi
}

# dpkg, waiting (up to 5 minutes) while another dpkg/apt holds the lock.
dpkg_run() {
	n=0
	while :; do
		dpkg "$@" </dev/null >"$tmp/dpkg.log" 2>&1
		rc=$?
		if [ "$rc" != 0 ] && grep -q 'lock' "$tmp/dpkg.log" && [ $n -lt 300 ]; then
			sleep 1
			n=$((n + 1))
			continue
		fi
		cat "$tmp/dpkg.log"
		return "$rc"
	done
}

# What was there before, to put the machine back and to diff against after the purge.
user_existed=0
getent passwd meshsnap >/dev/null && user_existed=1
group_existed=0
getent group meshsnap >/dev/null && group_existed=1
state_existed=0
[ -e /var/lib/meshsnap ] && state_existed=1
snapshot() {
	find /etc /usr /var/lib -xdev \( -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/lib/ucf \
		-o -path /var/lib/man-db -o -path '*/__pycache__' \) -prune -o -print 2>/dev/null | sort
}

daemon_pid=
notify_pid=
cleanup() {
	[ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null
	[ -n "$notify_pid" ] && kill "$notify_pid" 2>/dev/null
	if [ "$user_existed" = 0 ] && getent passwd meshsnap >/dev/null; then
		pkill -KILL -u meshsnap 2>/dev/null
	fi
	if dpkg-query -W -f='${Status}' meshsnap 2>/dev/null | grep -qv 'not-installed'; then
		dpkg_run -P meshsnap >/dev/null 2>&1
	fi
	[ "$state_existed" = 0 ] && rm -rf /var/lib/meshsnap
	[ "$user_existed" = 0 ] && getent passwd meshsnap >/dev/null && userdel meshsnap 2>/dev/null
	[ "$group_existed" = 0 ] && getent group meshsnap >/dev/null && groupdel meshsnap 2>/dev/null
	# directories the test created as parents (left empty by the purge)
	if [ -f "$tmp/after" ]; then
		comm -13 "$tmp/before" "$tmp/after" | sort -r | while read -r p; do
			[ -d "$p" ] && rmdir "$p" 2>/dev/null
		done
	fi
	restore_etc
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# An /etc/meshsnap that no package owns (left by a hand install or an interrupted run)
# would make dpkg ask about the conffile: it is moved aside for the test and put back.
saved_etc=
restore_etc() {
	[ -n "$saved_etc" ] || return 0
	rm -rf /etc/meshsnap
	mv "$saved_etc" /etc/meshsnap && rmdir "${saved_etc%/meshsnap}" && echo "# put back the earlier /etc/meshsnap"
	saved_etc=
}
if [ -e /etc/meshsnap ] && ! dpkg -S /etc/meshsnap >/dev/null 2>&1; then
	saved_etc=$(mktemp -d /var/tmp/meshsnap-install-check-etc.XXXXXX)/meshsnap
	mv /etc/meshsnap "$saved_etc"
	echo "# an /etc/meshsnap no package owns is moved to $saved_etc for the test"
fi
snapshot >"$tmp/before"

# --- 1. install
if dpkg_run -i "$deb" >"$tmp/install.log" 2>&1; then ok "dpkg -i $(basename "$deb")"; else
	bad "dpkg -i $(basename "$deb")"
	sed 's/^/    /' "$tmp/install.log"
	echo "$passed passed, $failed failed"
	exit 1
fi
check "status: install ok installed" sh -c "dpkg-query -W -f='\${Status}' meshsnap | grep -qx 'install ok installed'"
check "/etc/meshsnap/meshsnap.conf is a registered conffile" \
	sh -c "dpkg-query -W -f='\${Conffiles}' meshsnap | grep -q '^ /etc/meshsnap/meshsnap.conf [0-9a-f]\{32\}$'"
for f in /usr/sbin/meshsnapd /usr/bin/meshsnap; do
	check "$f installed and executable" test -x "$f"
done
for f in /etc/meshsnap/meshsnap.conf /usr/lib/systemd/system/meshsnap.service /usr/lib/sysusers.d/meshsnap.conf \
	/usr/share/man/man8/meshsnapd.8.gz /usr/share/man/man1/meshsnap.1.gz \
	/usr/share/doc/meshsnap/copyright /usr/share/doc/meshsnap/changelog.gz; do
	check "$f installed" test -f "$f"
done
check "/etc/meshsnap/meshsnap.conf is 0640 root:meshsnap (dpkg-statoverride)" \
	sh -c "test \"\$(stat -c '%a %U %G' /etc/meshsnap/meshsnap.conf)\" = '640 root meshsnap' &&
	       dpkg-statoverride --list /etc/meshsnap/meshsnap.conf"
check "the package owns nothing under /var" sh -c "! dpkg -L meshsnap | grep -q '^/var'"
check "installation did not create /var/lib/meshsnap" sh -c "[ $state_existed = 1 ] || [ ! -e /var/lib/meshsnap ]"
pw=$(getent passwd meshsnap)
check "system user meshsnap exists ($pw)" test -n "$pw"
uid=$(echo "$pw" | cut -d: -f3)
check "meshsnap is a system user (uid $uid < 1000), home /var/lib/meshsnap, no login shell" \
	sh -c "[ '$uid' -lt 1000 ] && echo '$pw' | cut -d: -f6 | grep -qx /var/lib/meshsnap &&
	       echo '$pw' | cut -d: -f7 | grep -Eq '/(nologin|false)$'"
check "group meshsnap exists" getent group meshsnap
check "unit enabled (multi-user.target.wants symlink, made without a running systemd)" \
	test -L /etc/systemd/system/multi-user.target.wants/meshsnap.service
if [ -d /run/systemd/system ]; then
	echo "# systemd is running here: postinst started the service"
else
	check "not started where systemd does not run" sh -c "! pgrep -u meshsnap"
fi
if command -v systemd-analyze >/dev/null 2>&1; then
	manflag=
	command -v man >/dev/null 2>&1 || manflag=--man=no
	check "systemd-analyze verify /usr/lib/systemd/system/meshsnap.service" \
		systemd-analyze verify $manflag /usr/lib/systemd/system/meshsnap.service
fi
check "the packaged configuration validates as the service user" \
	setpriv --reuid=meshsnap --regid=meshsnap --init-groups -- \
	/usr/sbin/meshsnapd --config /etc/meshsnap/meshsnap.conf --check-config

# --- 2. run the installed daemon as meshsnap
run=$tmp/run
mkdir -p "$run"
chown meshsnap:meshsnap "$run"
chmod 0750 "$run"
as_meshsnap() { setpriv --reuid=meshsnap --regid=meshsnap --init-groups -- "$@"; }
if (cd "$run" && as_meshsnap /usr/bin/meshsnap gen --help) >/dev/null 2>&1; then
	check "meshsnap gen: a generated database" as_meshsnap /usr/bin/meshsnap gen --db "$run/meshsnap.db" \
		--nodes 60 --observers 6 --transmissions 2000 --days 1 --seed 7 --quiet
else
	check "meshsnap init-db (this build has no gen): an empty database" \
		as_meshsnap /usr/bin/meshsnap init-db "$run/meshsnap.db"
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "s|^db = .*|db = $run/meshsnap.db|" -e "s|^state_dir = .*|state_dir = $run/state|" \
	-e "s|^listen = .*|listen = 127.0.0.1:$port|" -e "s|^workers = .*|workers = 2|" \
	/etc/meshsnap/meshsnap.conf >"$run/meshsnap.conf"
chown meshsnap:meshsnap "$run/meshsnap.conf"
check "test configuration (from the packaged one) validates" \
	as_meshsnap /usr/sbin/meshsnapd --config "$run/meshsnap.conf" --check-config

# systemd's side of Type=notify: a datagram socket that records what the master sends
python3 - "$run/notify" "$tmp/notify.log" <<'EOF' &
import os, socket, sys
path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o777)
with open(log, "a", buffering=1) as f:
    f.write("LISTENING\n")
    while True:
        msg = s.recv(4096).decode(errors="replace")
        f.write(msg.replace("\n", " | ") + "\n")
EOF
notify_pid=$!
i=0
while [ $i -lt 50 ] && ! grep -q LISTENING "$tmp/notify.log" 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done

env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin NOTIFY_SOCKET="$run/notify" \
	setpriv --reuid=meshsnap --regid=meshsnap --init-groups -- \
	/usr/sbin/meshsnapd --config "$run/meshsnap.conf" >"$tmp/daemon.log" 2>&1 &
daemon_pid=$!
code=000
i=0
while [ $i -lt 300 ]; do
	code=$(curl -s -o "$tmp/healthz" -w '%{http_code}' "http://127.0.0.1:$port/api/healthz" 2>/dev/null)
	[ "$code" = 200 ] && break
	kill -0 "$daemon_pid" 2>/dev/null || break
	sleep 0.1
	i=$((i + 1))
done
check "GET /api/healthz answers 200 (got $code)" test "$code" = 200
i=0
while [ $i -lt 100 ] && ! grep -q 'READY=1' "$tmp/notify.log"; do
	sleep 0.1
	i=$((i + 1))
done
check "the master sent READY=1 on NOTIFY_SOCKET" grep -q 'READY=1' "$tmp/notify.log"
# (the backfiller may already have exited: it stops once every migration is done)
check "the master and its 2 workers run as meshsnap" sh -c "
	test \"\$(ps -o user= -p $daemon_pid | tr -d ' ')\" = meshsnap &&
	test \"\$(ps -o user= --ppid $daemon_pid | sort -u | tr -d ' ')\" = meshsnap &&
	test \"\$(ps -o pid= --ppid $daemon_pid | wc -l)\" -ge 2"
if (cd "$run" && /usr/bin/meshsnap status --help) >/dev/null 2>&1; then
	check "meshsnap status (as meshsnap) reports the master running" \
		as_meshsnap /usr/bin/meshsnap status --state-dir "$run/state" --interval 0
fi
check "the snapshots are in the temporary state directory, owned by meshsnap" \
	sh -c "test -n \"\$(find '$run/state' -user meshsnap -name 'snap-*')\""
kill -HUP "$daemon_pid" 2>/dev/null
i=0
while [ $i -lt 100 ] && [ "$(grep -c 'READY=1' "$tmp/notify.log")" -lt 2 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "SIGHUP (ExecReload): RELOADING=1 then READY=1 again" \
	sh -c "grep -q 'RELOADING=1' '$tmp/notify.log' && [ \"\$(grep -c 'READY=1' '$tmp/notify.log')\" -ge 2 ]"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/healthz" 2>/dev/null)
check "GET /api/healthz still 200 after the reload (got $code)" test "$code" = 200
kill -TERM "$daemon_pid"
i=0
while [ $i -lt 200 ] && kill -0 "$daemon_pid" 2>/dev/null; do # TimeoutStopSec=15 in the unit
	sleep 0.1
	i=$((i + 1))
done
status=timeout
if ! kill -0 "$daemon_pid" 2>/dev/null; then
	wait "$daemon_pid"
	status=$?
fi
daemon_pid=
check "SIGTERM: the master exits with status 0 within 20 s (got $status)" test "$status" = 0
check "STOPPING=1 sent" grep -q 'STOPPING=1' "$tmp/notify.log"
sleep 0.2
check "no meshsnap process left" sh -c "! pgrep -u meshsnap"
if [ "$failed" != 0 ]; then
	echo "# daemon log:"
	sed 's/^/    /' "$tmp/daemon.log"
	echo "# notifications:"
	sed 's/^/    /' "$tmp/notify.log"
fi
kill "$notify_pid" 2>/dev/null
notify_pid=

# --- 3. upgrade: a local conffile edit and the state directory survive
echo "# local edit kept across upgrades" >>/etc/meshsnap/meshsnap.conf
if [ "$state_existed" = 0 ]; then
	# what systemd's StateDirectory= would hold: the snapshots of the run above
	mkdir -p /var/lib/meshsnap
	cp -a "$run/state/." /var/lib/meshsnap/
	chown -R meshsnap:meshsnap /var/lib/meshsnap
	(cd /var/lib/meshsnap && find . -type f -exec md5sum {} + | sort -k2) >"$tmp/state.sums"
fi
mkdir "$tmp/up"
dpkg-deb -R "$deb" "$tmp/up/root"
upversion="$version+installcheck1"
sed -i "s/^Version: .*/Version: $upversion/" "$tmp/up/root/DEBIAN/control"
dpkg-deb -b "$tmp/up/root" "$tmp/up/meshsnap.deb" >/dev/null
if dpkg_run -i "$tmp/up/meshsnap.deb" >"$tmp/upgrade.log" 2>&1; then
	ok "upgrade $version -> $upversion with dpkg -i (no conffile prompt)"
else
	bad "upgrade $version -> $upversion with dpkg -i"
	sed 's/^/    /' "$tmp/upgrade.log"
fi
check "installed version is $upversion" test "$(dpkg-query -W -f='${Version}' meshsnap)" = "$upversion"
check "upgrade kept the local edit of /etc/meshsnap/meshsnap.conf" \
	grep -qx '# local edit kept across upgrades' /etc/meshsnap/meshsnap.conf
check "upgrade left no .dpkg-new/.dpkg-dist/.dpkg-old beside the conffile" \
	sh -c "! ls /etc/meshsnap/ | grep -q dpkg-"
check "upgrade kept the mode 0640 root:meshsnap of the configuration" \
	test "$(stat -c '%a %U %G' /etc/meshsnap/meshsnap.conf)" = '640 root meshsnap'
check "upgrade kept the meshsnap user (uid $uid)" test "$(id -u meshsnap 2>/dev/null)" = "$uid"
if [ "$state_existed" = 0 ]; then
	check "upgrade kept /var/lib/meshsnap (snapshots) unchanged" \
		sh -c "cd /var/lib/meshsnap && find . -type f -exec md5sum {} + | sort -k2 | diff -u '$tmp/state.sums' -"
fi

# --- 4. remove, then purge
dpkg_run -r meshsnap >"$tmp/remove.log" 2>&1
check "dpkg -r: status config-files" \
	sh -c "dpkg-query -W -f='\${Status}' meshsnap | grep -qx 'deinstall ok config-files'"
check "dpkg -r removed the binaries and the unit" \
	sh -c "[ ! -e /usr/sbin/meshsnapd ] && [ ! -e /usr/bin/meshsnap ] && [ ! -e /usr/lib/systemd/system/meshsnap.service ]"
check "dpkg -r kept the configuration with its local edit" \
	grep -qx '# local edit kept across upgrades' /etc/meshsnap/meshsnap.conf
dpkg_run -P meshsnap >"$tmp/purge.log" 2>&1
sed 's/^/    purge: /' "$tmp/purge.log"
check "dpkg -P: package gone" sh -c "! dpkg-query -W -f='\${Status}' meshsnap 2>/dev/null | grep -q installed"
check "dpkg -P removed /etc/meshsnap" test ! -e /etc/meshsnap
check "dpkg -P removed the enablement symlink and deb-systemd-helper state" \
	sh -c "! find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked \
	         -name 'meshsnap.service*' 2>/dev/null | grep -q ."
check "dpkg -P removed the dpkg-statoverride of the configuration" \
	sh -c "! dpkg-statoverride --list /etc/meshsnap/meshsnap.conf"
check "dpkg -P says it leaves the meshsnap user" grep -q "left the system user and group 'meshsnap'" "$tmp/purge.log"
if [ "$state_existed" = 0 ]; then
	check "dpkg -P says it leaves /var/lib/meshsnap" grep -q 'left /var/lib/meshsnap' "$tmp/purge.log"
	check "dpkg -P left /var/lib/meshsnap (snapshots) in place" \
		sh -c "cd /var/lib/meshsnap && find . -type f -exec md5sum {} + | sort -k2 | diff -u '$tmp/state.sums' -"
fi
check "dpkg -P left the meshsnap user" getent passwd meshsnap

snapshot >"$tmp/after"
# allowed leftovers: the promised /var/lib/meshsnap, /etc/{passwd,group,shadow,gshadow}-
# backups made when the user was added, and empty directories deb-systemd-helper made
comm -13 "$tmp/before" "$tmp/after" >"$tmp/new"
: >"$tmp/unexpected"
while read -r p; do
	case "$p" in
	/var/lib/meshsnap | /var/lib/meshsnap/*) [ "$state_existed" = 0 ] && continue ;;
	/etc/passwd- | /etc/group- | /etc/shadow- | /etc/gshadow-) continue ;;
	/etc/systemd/system/* | /var/lib/systemd/deb-systemd-helper-*)
		if [ -d "$p" ] && [ -z "$(ls -A "$p")" ]; then continue; fi ;;
	esac
	# a file another package brought in meanwhile (apt running beside this test)
	if owner=$(dpkg -S "$p" 2>/dev/null) && ! echo "$owner" | grep -q '^meshsnap:'; then continue; fi
	echo "$p" >>"$tmp/unexpected"
done <"$tmp/new"
check "after purge, nothing new on disk but what purge promises to leave" test ! -s "$tmp/unexpected"
sed 's/^/    left: /' "$tmp/unexpected"
comm -23 "$tmp/before" "$tmp/after" >"$tmp/gone"
check "install and purge removed no pre-existing file" test ! -s "$tmp/gone"
sed 's/^/    gone: /' "$tmp/gone"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
