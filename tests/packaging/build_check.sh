#!/bin/sh
# build_check.sh: builds the meshsnap .deb and .rpm from a configured build tree with
# CPack and checks them without installing anything on this machine:
#   - file names, file lists (nothing under /var), control fields, conffiles, scripts;
#   - the changelog names the project version; the man pages document every flag and
#     subcommand the built binaries' --help lists, and render without groff warnings;
#   - the unit: required directives, `systemd-analyze verify`, exposure score <= 2.0;
#   - lintian (no error or warning that is not overridden), rpmlint (no error);
#   - RPM: %config(noreplace) conffile, not relocatable, system dirs not owned, and it
#     installs into a scratch root (when run as root).
#
# Usage: tests/packaging/build_check.sh [BUILD_DIR]      (default: $MESHSNAP_BUILD_DIR)
# Output: the packages in BUILD_DIR/pkg-check/, one "ok"/"not ok" line per check and a
# closing "N passed, N failed" line. Exit 0, 1 on a failed check, 77 when skipped.
# A missing tool skips the test, unless MESHSNAP_PACKAGE_TEST=1 (CI), where it fails.
set -u

here=$(cd "$(dirname "$0")" && pwd)
src=${MESHSNAP_SOURCE:-$(cd "$here/../.." && pwd)}
build=${1:-${MESHSNAP_BUILD_DIR:-}}
strict=${MESHSNAP_PACKAGE_TEST:-0}

skip() {
	echo "build_check: SKIP: $*"
	exit 77
}
need() { # need TOOL...: every tool present, or skip (fail under MESHSNAP_PACKAGE_TEST=1)
	for t in "$@"; do
		if ! command -v "$t" >/dev/null 2>&1; then
			if [ "$strict" = 1 ]; then
				echo "build_check: FAIL: '$t' is missing (apt-get install rpm lintian rpmlint dpkg-dev)"
				exit 1
			fi
			skip "'$t' is not installed (apt-get install rpm lintian rpmlint dpkg-dev)"
		fi
	done
}

if [ -z "$build" ] || [ ! -f "$build/CPackConfig.cmake" ]; then
	skip "no configured build directory (pass BUILD_DIR)"
fi
[ "${MESHSNAP_SANITIZE:-0}" = 1 ] && skip "sanitizer build: packages are made from a release build"
need cpack dpkg-deb dpkg-shlibdeps rpmbuild rpm lintian rpmlint

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
check() { # check DESCRIPTION COMMAND...: ok when the command succeeds
	d=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then ok "$d"; else bad "$d"; sed 's/^/    /' "$tmp/out"; fi
}

out=$build/pkg-check
tmp=$(mktemp -d "${TMPDIR:-/tmp}/meshsnap-build-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
rm -rf "$out"
mkdir -p "$out" "$tmp/home"
# rpm and rpmbuild keep a database under $HOME (~/.rpmdb): give them a throwaway one.
HOME=$tmp/home
export HOME

if ! cpack -G "DEB;RPM" -B "$out" --config "$build/CPackConfig.cmake" >"$tmp/cpack.log" 2>&1; then
	sed 's/^/    /' "$tmp/cpack.log"
	echo "not ok - cpack"
	echo "0 passed, 1 failed"
	exit 1
fi
ok "cpack -G DEB;RPM"

version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
darch=$(dpkg --print-architecture)
rarch=$(uname -m)
deb=$out/meshsnap_${version}_${darch}.deb
rpm=$out/meshsnap-${version}-1.${rarch}.rpm
check "deb file name meshsnap_${version}_${darch}.deb" test -f "$deb"
check "rpm file name meshsnap-${version}-1.${rarch}.rpm" test -f "$rpm"
if [ ! -f "$deb" ] || [ ! -f "$rpm" ]; then
	ls -l "$out"
	echo "$passed passed, $failed failed"
	exit 1
fi

# --- file lists: exactly these (directories included), in both packages
cat >"$tmp/expected" <<'EOF'
/etc/meshsnap/meshsnap.conf
/usr/bin/meshsnap
/usr/lib/systemd/system/meshsnap.service
/usr/lib/sysusers.d/meshsnap.conf
/usr/sbin/meshsnapd
/usr/share/doc/meshsnap/changelog.gz
/usr/share/doc/meshsnap/copyright
/usr/share/man/man1/meshsnap.1.gz
/usr/share/man/man8/meshsnapd.8.gz
EOF
# and the dashboard: every file ui/build.py wrote into the build's ui/
src=${MESHSNAP_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
(cd "$build/ui" && find . -type f | sed 's|^\./|/usr/share/meshsnap/ui/|') >>"$tmp/expected"
sort -o "$tmp/expected" "$tmp/expected"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\.||; s|/$||' | sort >"$tmp/deb.all"
# regular files of the .deb (the lintian overrides are .deb-only)
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\.||' |
	grep -v '^/usr/share/lintian/overrides/meshsnap$' | sort >"$tmp/deb.files"
check "deb ships exactly the expected files" diff -u "$tmp/expected" "$tmp/deb.files"
check "deb ships its lintian overrides" grep -qx /usr/share/lintian/overrides/meshsnap "$tmp/deb.all"
check "deb ships nothing under /var" sh -c "! grep -q '^/var' '$tmp/deb.all'"
rpm -qlp "$rpm" 2>/dev/null | grep -v '^/usr/lib/\.build-id' | sort >"$tmp/rpm.all"
# %dir entries of the rpm: only our own directories
{
	printf '%s\n' /etc/meshsnap /usr/share/doc/meshsnap /usr/share/meshsnap
	(cd "$build/ui" && find . -type d | sed 's|^\.$|/usr/share/meshsnap/ui|; s|^\./|/usr/share/meshsnap/ui/|')
} | sort >"$tmp/rpm.dirs.expected"
rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpm" 2>/dev/null | awk '$1 ~ /^d/ {print $2}' |
	grep -v '^/usr/lib/\.build-id' | sort >"$tmp/rpm.dirs"
check "rpm owns only /etc/meshsnap, /usr/share/doc/meshsnap and /usr/share/meshsnap (the dashboard) as directories" \
	diff -u "$tmp/rpm.dirs.expected" "$tmp/rpm.dirs"
grep -vxF -f "$tmp/rpm.dirs" "$tmp/rpm.all" >"$tmp/rpm.files"
check "rpm ships exactly the expected files" diff -u "$tmp/expected" "$tmp/rpm.files"

# --- deb control data
dpkg-deb -e "$deb" "$tmp/control"
field() { dpkg-deb -f "$deb" "$1"; }
check "deb Version is $version" test "$(field Version)" = "$version"
check "deb Depends from dpkg-shlibdeps (liblmdb0, libh2o-evloop) and adduser" \
	sh -c "dpkg-deb -f '$deb' Depends | grep -q liblmdb0 && dpkg-deb -f '$deb' Depends | grep -q libh2o-evloop &&
	       dpkg-deb -f '$deb' Depends | grep -q 'adduser'"
check "deb Pre-Depends on init-system-helpers (deb-systemd-helper)" \
	sh -c "dpkg-deb -f '$deb' Pre-Depends | grep -q 'init-system-helpers (>= 1.54~)'"
check "deb conffiles lists /etc/meshsnap/meshsnap.conf only" \
	test "$(cat "$tmp/control/conffiles")" = /etc/meshsnap/meshsnap.conf
for s in postinst prerm postrm; do
	check "deb $s is an executable sh script" sh -c "test -x '$tmp/control/$s' && head -1 '$tmp/control/$s' | grep -qx '#!/bin/sh' && sh -n '$tmp/control/$s'"
done
check "deb postinst creates the user (systemd-sysusers, adduser fallback)" \
	sh -c "grep -q 'systemd-sysusers' '$tmp/control/postinst' && grep -q 'adduser --system' '$tmp/control/postinst'"
check "deb postinst starts only where systemd runs" grep -q '\[ -d /run/systemd/system \]' "$tmp/control/postinst"
check "deb maintainer scripts use deb-systemd-helper, not systemctl enable/start" \
	sh -c "grep -q 'deb-systemd-helper' '$tmp/control/postinst' &&
	       ! grep -Eq 'systemctl +(enable|start|stop|restart|disable)' '$tmp/control/postinst' '$tmp/control/prerm' '$tmp/control/postrm'"
if command -v shellcheck >/dev/null 2>&1; then
	check "shellcheck on the maintainer scripts and rpm scriptlets" \
		shellcheck -s sh "$tmp/control/postinst" "$tmp/control/prerm" "$tmp/control/postrm" \
		"$src/packaging/rpm/pre.sh" "$src/packaging/rpm/post.sh" "$src/packaging/rpm/preun.sh" "$src/packaging/rpm/postun.sh"
fi

# --- the payload: changelog, man pages against --help, the unit
root=$tmp/root
mkdir -p "$root"
dpkg-deb -x "$deb" "$root"
top=$(zcat "$root/usr/share/doc/meshsnap/changelog.gz" | head -1)
check "changelog.gz: newest entry is version $version (got: $top)" \
	sh -c "echo '$top' | grep -q '^meshsnap ($version) '"
if command -v dpkg-parsechangelog >/dev/null 2>&1; then
	zcat "$root/usr/share/doc/meshsnap/changelog.gz" >"$tmp/changelog"
	check "changelog parses (dpkg-parsechangelog)" \
		sh -c "test \"\$(dpkg-parsechangelog -l '$tmp/changelog' -S Version)\" = '$version'"
fi
check "changelog.gz is gzip -9n (no name, no time stamp)" \
	sh -c "gzip -lv '$root/usr/share/doc/meshsnap/changelog.gz' >/dev/null && test \"\$(od -An -tu4 -j4 -N4 '$root/usr/share/doc/meshsnap/changelog.gz' | tr -d ' ')\" = 0"

man8=$tmp/meshsnapd.8
man1=$tmp/meshsnap.1
zcat "$root/usr/share/man/man8/meshsnapd.8.gz" >"$man8"
zcat "$root/usr/share/man/man1/meshsnap.1.gz" >"$man1"
# roff writes "-" as "\-"; compare on the plain text
sed 's/\\-/-/g' "$man8" >"$tmp/man8.txt"
sed 's/\\-/-/g' "$man1" >"$tmp/man1.txt"
daemon=$root/usr/sbin/meshsnapd
cli=$root/usr/bin/meshsnap
if "$daemon" --help >"$tmp/d.help" 2>&1; then
	grep -oE '(^|[ ,])-(-[a-z][a-z0-9-]*|[a-zA-Z])' "$tmp/d.help" | sed 's/^[ ,]*//' | sort -u >"$tmp/d.flags"
	missing=$(while read -r f; do grep -qF -- "$f" "$tmp/man8.txt" || echo "$f"; done <"$tmp/d.flags")
	check "meshsnapd(8) documents every flag of meshsnapd --help ($(wc -l <"$tmp/d.flags") flags)" test -z "$missing"
	[ -n "$missing" ] && echo "    missing: $(echo "$missing" | tr "\n" " ")"
	for f in --role --slot --listen-fds; do
		check "meshsnapd(8) mentions the internal flag $f" grep -qF -- "$f" "$tmp/man8.txt"
	done
else
	bad "the packaged meshsnapd --help runs"
	sed 's/^/    /' "$tmp/d.help"
fi
"$cli" --help >"$tmp/c.help" 2>&1
# commands: the first word of the indented lines under "Commands:"
sed -n '/^Commands:/,$p' "$tmp/c.help" | sed -n 's/^  \([a-z][a-z-]*\).*/\1/p' | sort -u >"$tmp/c.cmds"
check "meshsnap --help lists commands" test -s "$tmp/c.cmds"
missing=$(while read -r c; do grep -qE "^\.B[IR]* \"?$c( |\"|$)" "$tmp/man1.txt" || echo "$c"; done <"$tmp/c.cmds")
check "meshsnap(1) has an entry for every command of meshsnap --help ($(tr '\n' ' ' <"$tmp/c.cmds"))" test -z "$missing"
[ -n "$missing" ] && echo "    missing: $(echo "$missing" | tr "\n" " ")"
mkdir -p "$tmp/cwd"
while read -r c; do
	# each command's own --help: every flag it lists is in meshsnap(1) (run in a scratch
	# directory: a command that takes a path might treat "--help" as one)
	(cd "$tmp/cwd" && "$cli" "$c" --help) >"$tmp/sub.help" 2>&1 || true
	grep -oE '(^|[ ,\[])-(-[a-z][a-z0-9-]*|[a-zA-Z])' "$tmp/sub.help" | sed 's/^[] ,[]*//' |
		grep -vx -- '-h' | grep -vx -- '--help' | sort -u >"$tmp/sub.flags"
	[ -s "$tmp/sub.flags" ] || continue
	missing=$(while read -r f; do grep -qF -- "$f" "$tmp/man1.txt" || echo "$f"; done <"$tmp/sub.flags")
	check "meshsnap(1) documents every flag of meshsnap $c --help" test -z "$missing"
	[ -n "$missing" ] && echo "    missing: $(echo "$missing" | tr "\n" " ")"
done <"$tmp/c.cmds"
if command -v man >/dev/null 2>&1; then
	for p in "$man8" "$man1"; do
		LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$p" >/dev/null 2>"$tmp/man.err"
		check "$(basename "$p") renders without groff warnings" test ! -s "$tmp/man.err"
		[ -s "$tmp/man.err" ] && sed 's/^/    /' "$tmp/man.err"
	done
fi

unit=$root/usr/lib/systemd/system/meshsnap.service
# shellcheck disable=SC2016 # $MAINPID is literal unit text
for d in 'Type=notify' 'NotifyAccess=main' 'ExecReload=/bin/kill -HUP $MAINPID' 'KillMode=mixed' \
	'TimeoutStopSec=15' 'LimitNOFILE=65536' 'ProtectSystem=strict' 'ReadWritePaths=/var/lib/meshsnap' \
	'StateDirectory=meshsnap' 'NoNewPrivileges=yes' 'PrivateTmp=yes' 'ProtectHome=yes' \
	'ProtectKernelTunables=yes' 'ProtectKernelModules=yes' 'ProtectKernelLogs=yes' \
	'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' 'SystemCallFilter=@system-service' \
	'User=meshsnap' 'ExecStart=/usr/sbin/meshsnapd --config /etc/meshsnap/meshsnap.conf' \
	'WantedBy=multi-user.target'; do
	check "unit has $d" grep -qxF -- "$d" "$unit"
done
if command -v systemd-analyze >/dev/null 2>&1; then
	# verify wants the executables to exist: point the unit at the unpacked binary
	sed "s|/usr/sbin/meshsnapd|$root/usr/sbin/meshsnapd|g" "$unit" >"$tmp/meshsnap.service"
	check "systemd-analyze verify meshsnap.service" systemd-analyze verify --man=no "$tmp/meshsnap.service"
	systemd-analyze security --offline=yes "$tmp/meshsnap.service" 2>/dev/null | tail -1 >"$tmp/score"
	check "systemd-analyze security: exposure <= 2.0 ($(sed 's/.*: //' "$tmp/score"))" \
		systemd-analyze security --offline=yes --threshold=20 "$tmp/meshsnap.service"
fi

# --- lintian and rpmlint
lint_user=
mkdir -p "$tmp/lint"
cp "$deb" "$tmp/lint/"
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 && command -v runuser >/dev/null 2>&1; then
	lint_user="runuser -u nobody --" # lintian advises against running as root
	chmod 0755 "$tmp" "$tmp/lint"
	chmod 0644 "$tmp/lint/$(basename "$deb")"
fi
# shellcheck disable=SC2086
$lint_user env HOME=/tmp lintian --fail-on error,warning --display-info "$tmp/lint/$(basename "$deb")" >"$tmp/lintian" 2>&1
rc=$?
sed 's/^/    /' "$tmp/lintian"
check "lintian: no error or warning beyond the overrides" test "$rc" = 0
rpmlint -c "$src/packaging/rpmlint.toml" "$rpm" >"$tmp/rpmlint" 2>&1
sed -n 's/^/    /; /meshsnap\|errors/p' "$tmp/rpmlint"
check "rpmlint: no errors" grep -q ' 0 errors,' "$tmp/rpmlint"

# --- rpm metadata, scriptlets, scratch install
check "rpm: /etc/meshsnap/meshsnap.conf is %config(noreplace)" \
	sh -c "rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' '$rpm' 2>/dev/null | grep -qx 'cn /etc/meshsnap/meshsnap.conf'"
check "rpm: /etc/meshsnap/meshsnap.conf is 0640 root:meshsnap" \
	sh -c "rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILENAMES}\n]' '$rpm' 2>/dev/null |
	       grep -qx -- '-rw-r----- root meshsnap /etc/meshsnap/meshsnap.conf'"
check "rpm: only the configuration is %config" \
	test "$(rpm -qcp "$rpm" 2>/dev/null)" = /etc/meshsnap/meshsnap.conf
check "rpm: not relocatable" sh -c "test \"\$(rpm -qp --qf '%{PREFIXES}' '$rpm' 2>/dev/null)\" = '(none)'"
check "rpm: Packager, Summary, License set" \
	sh -c "rpm -qp --qf '%{PACKAGER}|%{SUMMARY}|%{LICENSE}' '$rpm' 2>/dev/null | grep -qv '(none)'"
rpm -qp --scripts "$rpm" >"$tmp/scripts" 2>/dev/null
for s in preinstall postinstall preuninstall postuninstall; do
	check "rpm: $s scriptlet" grep -q "^$s scriptlet" "$tmp/scripts"
done
check "rpm: %pre creates the user" grep -q 'useradd -r' "$tmp/scripts"
check "rpm: file digests" rpm -K --nosignature "$rpm"
if [ "$(id -u)" = 0 ]; then
	rr=$tmp/rpmroot
	check "rpm: installs into a scratch root" sh -c "rpm --root '$rr' --initdb && rpm --root '$rr' -i --nodeps --noscripts '$rpm' &&
		test -x '$rr/usr/sbin/meshsnapd' && test -f '$rr/etc/meshsnap/meshsnap.conf' && rpm --root '$rr' -q meshsnap"
fi

echo "packages: $(stat -c '%s' "$deb") bytes $(basename "$deb"), $(stat -c '%s' "$rpm") bytes $(basename "$rpm")"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
