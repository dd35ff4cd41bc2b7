#!/bin/sh
# throughput.sh: meshsnapd's req/s and latency against h2o serving the same bytes as
# static files (see throughput.py and README.md). Options are passed to throughput.py.
#   MESHSNAPD=build/meshsnapd tests/bench/throughput.sh [--runs 3] [--duration 10]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3 || true)
if [ -z "$py" ]; then
    echo "throughput.sh: python3 is required (apt-get install python3)" >&2
    exit 1
fi
for tool in wrk h2o; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "throughput.sh: $tool is missing; install it with: apt-get install $tool" >&2
        exit 1
    fi
done
exec "$py" "$here/throughput.py" "$@"
