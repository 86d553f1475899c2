#!/usr/bin/env bash
# Builds strata and runs every test: all suites in a normal build (warnings
# are errors), the unit and crash tests again under ASan+UBSan, and the
# concurrency tests under TSan. Exits non-zero on any failure or sanitizer
# report.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/deps.sh" --test
jobs=$(nproc)

build() { # dir, extra cmake args...
	local dir=$1; shift
	cmake -S "$here" -B "$here/build/$dir" -DSTRATA_WERROR=ON "$@" >/dev/null
	cmake --build "$here/build/$dir" -j"$jobs"
}

run() { # dir, ctest args...
	local dir=$1; shift
	(cd "$here/build/$dir" && ctest --output-on-failure -j"$jobs" "$@")
}

echo "== normal build: every suite"
build test -DCMAKE_BUILD_TYPE=RelWithDebInfo
run test

echo "== ASan + UBSan: unit and crash tests"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
build asan -DCMAKE_BUILD_TYPE=Debug -DSTRATA_SANITIZE=address
run asan -L 'unit|crash'

echo "== TSan: concurrency tests"
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
build tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_SANITIZE=thread
# TSan needs the address-space layout of older kernels: run without ASLR.
tsan_run=()
if setarch "$(uname -m)" -R true 2>/dev/null; then
	tsan_run=(setarch "$(uname -m)" -R)
fi
(cd "$here/build/tsan" && "${tsan_run[@]}" ctest --output-on-failure -j"$jobs" -L concurrency)

echo "== fuzz: each libFuzzer target for a bounded time"
fuzz_seconds=${STRATA_FUZZ_SECONDS:-30}
cmake -S "$here" -B "$here/build/fuzz" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DSTRATA_FUZZ=ON >/dev/null
cmake --build "$here/build/fuzz" -j"$jobs" --target fuzz_targets
for target in "$here"/build/fuzz/fuzz_*; do
	[ -x "$target" ] || continue
	name=$(basename "$target")
	corpus="$here/tests/fuzz/corpus/${name#fuzz_}"
	work=$(mktemp -d)
	cp -r "$corpus"/. "$work"/ 2>/dev/null || true
	echo "-- $name for ${fuzz_seconds}s"
	"$target" -max_total_time="$fuzz_seconds" -print_final_stats=1 -artifact_prefix="$work/" "$work" 2>&1 | tail -n 3
	rm -rf "$work"
done

echo "all test suites passed"
