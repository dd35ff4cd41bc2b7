#!/bin/sh
# ops.sh: requests lost during a SIGHUP reload and during a kill -9 of one worker, under a
# 64-connection wrk load (see ops.py). Options are passed to ops.py.
#   MESHSNAPD=build/meshsnapd tests/bench/ops.sh [--duration 10] [--reloads 3] [--workdir DIR]
# Exit status: 0 when no request failed during the reloads and at most the killed worker's
# connections failed around the kill; 1 otherwise; 2 on a setup error.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3 || true)
if [ -z "$py" ]; then
    echo "ops.sh: python3 is required (apt-get install python3)" >&2
    exit 2
fi
exec "$py" "$here/ops.py" "$@"
