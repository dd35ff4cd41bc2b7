#!/usr/bin/env bash
# Analytics compute times and reader latency with the master idle and recomputing; see analytics.py.
exec /usr/bin/python3 "$(dirname "$0")/analytics.py" "$@"
