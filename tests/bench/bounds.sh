#!/bin/sh
# bounds.sh: what misbehaving clients cost a worker (slow readers, stalled HTTP/2 streams,
# running out of descriptors), for meshsnapd and optionally a baseline binary; see
# bounds.py. Options are passed to bounds.py.
#   MESHSNAPD=build/meshsnapd tests/bench/bounds.sh [--baseline OLD/meshsnapd] [--slow 300]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3 || true)
if [ -z "$py" ]; then
    echo "bounds.sh: python3 is required (apt-get install python3)" >&2
    exit 2
fi
exec "$py" "$here/bounds.py" "$@"
