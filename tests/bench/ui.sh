#!/bin/sh
# ui.sh: weight and time to first render of the dashboard's overview in chromium, against
# CoreScope's frontend when CORESCOPE_PUBLIC is set (see ui.py and README.md).
#   MESHSNAPD=build/meshsnapd [CORESCOPE_PUBLIC=/path/public] tests/bench/ui.sh [--runs 5]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3 || true)
if [ -z "$py" ]; then
    echo "ui.sh: python3 is required (apt-get install python3)" >&2
    exit 1
fi
exec "$py" "$here/ui.py" "$@"
