#!/bin/sh
# gen.sh: how fast `meshsnap gen` writes a database. Prints figures, asserts nothing.
#
#   MESHSNAP=build/meshsnap tests/bench/gen.sh [--keep] [--small-only]
#
# Two runs: the demo preset (40,000 transmissions, ~0.4M observations) and the operator
# scale of CoreScope's largest deployment (2,600 nodes, 300 observers, 325,000
# transmissions, 22.5 observations each: ~7.3M observations). For each it prints the
# wall time, rows (transmissions + observations) per second, the file size and the
# generator's own breakdown (world, rows, indexes). The databases go to the work
# directory ($MESHSNAP_BENCH_DIR, default /tmp/meshsnap-bench) and are deleted afterwards
# unless --keep is given (the operator-scale one is about 3 GB).
#
# Build a release binary first; a Debug or sanitizer build measures the instrumentation:
#   cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build -j2
set -eu

here=$(cd "$(dirname "$0")" && pwd)
meshsnap=${MESHSNAP:-$here/../../build/meshsnap}
work=${MESHSNAP_BENCH_DIR:-/tmp/meshsnap-bench}
keep=0
small_only=0
for a in "$@"; do
    case $a in
    --keep) keep=1 ;;
    --small-only) small_only=1 ;;
    -h | --help)
        sed -n '2,15p' "$0"
        exit 0
        ;;
    *)
        echo "gen.sh: unknown option $a" >&2
        exit 2
        ;;
    esac
done
if [ ! -x "$meshsnap" ]; then
    echo "gen.sh: $meshsnap is not built (set MESHSNAP)" >&2
    exit 1
fi
mkdir -p "$work"
echo "meshsnap: $meshsnap"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# run LABEL DB ARGS...: one generation, timed
run() {
    label=$1
    db=$2
    shift 2
    rm -f "$db" "$db-wal" "$db-shm"
    echo
    echo "== $label: meshsnap gen $*"
    t0=$(date +%s.%N)
    "$meshsnap" gen --db "$db" --quiet "$@" >"$work/gen.out"
    t1=$(date +%s.%N)
    tx=$(sed -n 's/^[^:]*: \([0-9]*\) transmissions, \([0-9]*\) observations.*/\1/p' "$work/gen.out")
    obs=$(sed -n 's/^[^:]*: \([0-9]*\) transmissions, \([0-9]*\) observations.*/\2/p' "$work/gen.out")
    size=$(stat -c %s "$db")
    awk -v t0="$t0" -v t1="$t1" -v tx="$tx" -v obs="$obs" -v size="$size" 'BEGIN {
        w = t1 - t0
        printf "wall %.1f s; %d transmissions + %d observations = %.0f rows/s; %.2f GB\n",
               w, tx, obs, (tx + obs) / w, size / 1e9
    }'
    sed 's/^/  /' "$work/gen.out"
    if [ "$keep" = 0 ]; then
        rm -f "$db" "$db-wal" "$db-shm"
    else
        echo "  kept: $db"
    fi
}

run "small (demo preset)" "$work/gen-demo.db" --demo
if [ "$small_only" = 0 ]; then
    run "operator scale" "$work/gen-operator.db" --nodes 2600 --observers 300 --transmissions 325000 \
        --obs-per-tx 22.5 --days 7 --seed 1
fi
rm -f "$work/gen.out"
