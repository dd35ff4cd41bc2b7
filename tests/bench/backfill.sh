#!/bin/sh
# backfill.sh: what the backfiller costs on an operator-scale generated
# database (7.3M observations; see backfill.py and backfill.md). Options are passed to backfill.py.
#   MESHSNAPD=build/meshsnapd MESHSNAP=build/meshsnap tests/bench/backfill.sh [--workdir DIR] [--single-txn]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3 || true)
if [ -z "$py" ]; then
    echo "backfill.sh: python3 is required (apt-get install python3)" >&2
    exit 1
fi
exec "$py" "$here/backfill.py" "$@"
