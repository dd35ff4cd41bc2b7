#!/bin/sh
# unit_security.sh: `systemd-analyze security` exposure of meshsnap.service next to the
# units of Debian's h2o and nginx packages (lower is better, 0.0..10.0). Works without
# systemd as PID 1 (--offline=yes, systemd >= 252). Installs nothing: a reference unit
# whose package is missing is reported as such (apt-get install h2o nginx to see it).
#
# Usage: tests/packaging/unit_security.sh [--details] [UNIT_FILE]
#   UNIT_FILE defaults to packaging/meshsnap.service. --details prints the full tables.
# Exit 0; 1 if systemd-analyze is missing or our unit scores above 2.0.
set -u

here=$(cd "$(dirname "$0")" && pwd)
details=0
if [ "${1:-}" = --details ]; then
	details=1
	shift
fi
ours=${1:-$here/../../packaging/meshsnap.service}

command -v systemd-analyze >/dev/null 2>&1 || {
	echo "unit_security: systemd-analyze is missing (apt-get install systemd)" >&2
	exit 1
}

score() { # score UNITFILE -> "9.3 UNSAFE"
	systemd-analyze security --offline=yes "$1" 2>/dev/null | sed -n 's/^→ Overall exposure level for [^:]*: \([0-9.]* [A-Z]*\).*/\1/p'
}
find_unit() { # find_unit NAME -> path of the packaged unit, or nothing
	for d in /usr/lib/systemd/system /lib/systemd/system; do
		[ -f "$d/$1" ] && {
			echo "$d/$1"
			return
		}
	done
}

printf '%-20s %-14s %-32s %s\n' unit exposure package "Type="
our_score=$(score "$ours")
printf '%-20s %-14s %-32s %s\n' meshsnap.service "$our_score" "(this tree)" \
	"$(sed -n 's/^Type=//p' "$ours")"
for ref in h2o.service:h2o nginx.service:nginx-common; do
	unit=${ref%%:*}
	pkg=${ref#*:}
	path=$(find_unit "$unit")
	if [ -z "$path" ]; then
		printf '%-20s %-14s %-32s\n' "$unit" "-" "not installed"
		continue
	fi
	ver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || echo "?")
	printf '%-20s %-14s %-32s %s\n' "$unit" "$(score "$path")" "$pkg $ver" "$(sed -n 's/^Type=//p' "$path")"
	[ "$details" = 1 ] && systemd-analyze security --offline=yes "$path" 2>/dev/null
done
[ "$details" = 1 ] && systemd-analyze security --offline=yes "$ours" 2>/dev/null
echo "systemd $(systemd-analyze --version | sed -n '1s/^systemd \([^ ]*\).*/\1/p')"

# tenths: --threshold=20 fails above 2.0
systemd-analyze security --offline=yes --threshold=20 "$ours" >/dev/null 2>&1
