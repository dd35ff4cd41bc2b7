#!/bin/sh
# ws.sh: the live feed under 1,000 idle WebSocket clients: delivery lag and worker
# memory (see ws.py and README.md). Options are passed to ws.py.
#   MESHSNAPD=build/meshsnapd tests/bench/ws.sh [--clients 1000] [--rate 100] [--seconds 30] [--churn 100000]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3 || true)
if [ -z "$py" ]; then
    echo "ws.sh: python3 is required (apt-get install python3)" >&2
    exit 1
fi
exec "$py" "$here/ws.py" "$@"
