#!/bin/sh
# restart.sh: cold-start and warm-restart times of meshsnapd on a ~1.1M-observation
# database (see restart.py and README.md). Options are passed to restart.py.
#   MESHSNAPD=build/meshsnapd tests/bench/restart.sh [--runs 3] [--workdir DIR]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3 || true)
if [ -z "$py" ]; then
    echo "restart.sh: python3 is required (apt-get install python3)" >&2
    exit 1
fi
exec "$py" "$here/restart.py" "$@"
