#!/bin/sh
# fuzz_http.sh: a counted libFuzzer campaign of tests/fuzz/fuzz_http.c (the worker's query
# parser and router with every handler, over a published snapshot): two processes, one
# per core, RUNS executions in all (default 10 million), then the totals and what they
# found.
#
#   tests/bench/fuzz_http.sh [BUILD_DIR] [RUNS]      (BUILD_DIR default: build)
#
# The target is built by the build's `build_fuzz_http` target (clang with libFuzzer, see
# tests/fuzz/CMakeLists.txt). Inputs that crash go to WORK/artifacts/ (WORK: a new
# directory under $TMPDIR, printed); reproduce one with `<BUILD_DIR>/tests/fuzz/fuzz_http
# FILE`. Exit status: 0 when nothing was found, 1 when a crash or leak was found, 2 on a
# setup error.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
runs=${2:-10000000}
cmake --build "$build" --target build_fuzz_http >/dev/null || {
	echo "fuzz_http.sh: cannot build the target (is clang with libFuzzer installed? apt-get install clang libclang-rt-14-dev)" >&2
	exit 2
}
bin=$build/tests/fuzz/fuzz_http
[ -x "$bin" ] || { echo "fuzz_http.sh: $bin was not built" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/meshsnap-fuzz-http-bench.XXXXXX")
mkdir -p "$work/artifacts"
echo "fuzz_http.sh: $runs executions in 2 processes; work directory $work"
start=$(date +%s)
pids=
for i in 1 2; do
	mkdir -p "$work/corpus-$i"
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$bin" -runs=$((runs / 2)) -seed=$i -timeout=10 -rss_limit_mb=2048 -max_len=2048 -print_final_stats=1 \
		-dict="$root/tests/fuzz/http.dict" -artifact_prefix="$work/artifacts/" "$work/corpus-$i" \
		"$root/tests/fuzz/corpus-http" >"$work/fuzz-$i.log" 2>&1 &
	pids="$pids $!"
done
status=0
for p in $pids; do
	wait "$p" || status=1
done
took=$(($(date +%s) - start))
total=0
for i in 1 2; do
	n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz-$i.log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$work/fuzz-$i.log" | tail -1)
	echo "  process $i: ${n:-?} executions, $cov, $(grep -c 'NEW ' "$work/fuzz-$i.log") new inputs"
	total=$((total + ${n:-0}))
done
found=$(ls "$work/artifacts" | wc -l)
echo "fuzz_http.sh: $total executions in $took s ($((total / (took > 0 ? took : 1))) per second); findings: $found"
if [ "$status" -ne 0 ] || [ "$found" -ne 0 ]; then
	ls -l "$work/artifacts"
	grep -h -A30 "ERROR\|invariant violated" "$work"/fuzz-*.log | head -80
	exit 1
fi
echo "fuzz_http.sh: nothing found"
