#!/usr/bin/env bash
# run_compact.sh — how fast strata merges one closed window into its final
# (column) form: the cpu-only file is imported once with `strata import`
# (which leaves its tables unmerged; the data are dated 2026-01-01, a closed
# window), then for each run and each --threads value a fresh copy of that
# directory is served by `strata serve --compact-threads N`, which merges the
# window at once; the run reads the server's `event=compaction` log line
# (input and output bytes, wall ms) and the process's CPU time (utime+stime
# of /proc/PID/stat) when the line appears, then stops the server. Runs are
# interleaved across the --threads values so that drift of this shared
# machine hits each alike; figures are the median [min–max] of the runs.
#
# Usage: bench/run_compact.sh [--runs N] [--threads LIST] [--work DIR] [--build DIR]
#          [--no-build] [--hosts N] [--duration D] [--seed S]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=/tmp/strata-bench
build=$repo/build/release
do_build=1
runs=5
threads_list=1,2
hosts=100
duration=1d
seed=42
keep_logs=0
systems=strata

usage() {
	cat <<'EOF'
usage: bench/run_compact.sh [options]
  --runs N           runs per --threads value [5]
  --threads LIST     values of strata serve --compact-threads to compare [1,2]
  --work DIR         data file cache and temporary data dirs [/tmp/strata-bench]
  --build DIR        CMake build directory (Release) [repo/build/release]
  --no-build         use the binaries already in --build
  --hosts N --duration D --seed S   the data set [100, 1d, 42]
EOF
}

while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift ;;
	--threads) threads_list=$2; shift ;;
	--work) work=$2; shift ;;
	--build) build=$2; shift ;;
	--no-build) do_build=0 ;;
	--hosts) hosts=$2; shift ;;
	--duration) duration=$2; shift ;;
	--seed) seed=$2; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "run_compact.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

log() { echo "$@" >&2; }
die() { echo "run_compact.sh: $*" >&2; exit 1; }
has_system() { [ "$1" = strata ]; }
# shellcheck source=bench/peers.sh
. "$repo/bench/peers.sh"

if [ "$do_build" = 1 ]; then
	build_release strata bench_gen_cpu
fi
strata=$build/strata
gen=$build/bench_gen_cpu
for b in "$strata" "$gen"; do
	[ -x "$b" ] || die "$b is missing (build first, or drop --no-build)"
done
gen_dataset

base=$(mktemp -d "$work/compact-XXXXXX")
trap 'pkill -f -- "--data $base/" 2>/dev/null || true; rm -rf "$base"' EXIT
log "importing $file (tables left unmerged)"
"$strata" import --data "$base/imported" --db bench "$file" >"$base/import.log" 2>&1 ||
	die "import failed: $(tail -3 "$base/import.log")"

# One run: serve a copy with --compact-threads $1; prints "ms cpu_s bytes_in bytes_out".
one_run() {
	local n=$1 data=$base/run pid line cpu
	rm -rf "$data"
	cp -a "$base/imported" "$data"
	free_port
	"$strata" serve --data "$data" --http "127.0.0.1:$port" --no-tcp --no-udp --compact-threads "$n" \
		>"$base/serve.log" 2>&1 &
	pid=$!
	for _ in $(seq 600); do
		grep -q "event=compaction " "$base/serve.log" && break
		kill -0 "$pid" 2>/dev/null || die "strata serve exited: $(tail -3 "$base/serve.log")"
		sleep 0.1
	done
	cpu=$(awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$pid/stat")
	kill -INT "$pid"
	wait "$pid" || true
	line=$(grep "event=compaction " "$base/serve.log" | head -1)
	[ -n "$line" ] || die "no compaction within 60 s"
	echo "$(sed 's/.*ms=\([0-9.]*\).*/\1/' <<<"$line") $cpu $(sed 's/.*bytes_in=\([0-9]*\).*/\1/' <<<"$line")" \
		"$(sed 's/.*bytes_out=\([0-9]*\).*/\1/' <<<"$line")"
}

results=$base/results.txt
: >"$results"
IFS=, read -r -a threads <<<"$threads_list"
for r in $(seq "$runs"); do
	for n in "${threads[@]}"; do
		log "run $r: --compact-threads $n"
		echo "$n $(one_run "$n")" >>"$results"
	done
done

cat <<EOF
strata final-form merge of one closed window: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?'), \
$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null), $(nproc) CPUs
data: $(cat "$file.info")
runs: $runs per value, interleaved; median [min-max]
EOF
# "median min max" of the numbers on stdin.
med_min_max() {
	sort -n | awk '{ a[NR] = $1 } END { printf "%s %s %s", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2, a[1], a[NR] }'
}
printf '%-16s %22s %22s %10s %10s %10s\n' "compact-threads" "wall ms" "CPU s" "MB in" "MB out" "MB/s in"
for n in "${threads[@]}"; do
	read -r ms ms_lo ms_hi <<<"$(awk -v n="$n" '$1 == n { print $2 }' "$results" | med_min_max)"
	read -r cpu cpu_lo cpu_hi <<<"$(awk -v n="$n" '$1 == n { print $3 }' "$results" | med_min_max)"
	read -r in_b out_b <<<"$(awk -v n="$n" '$1 == n { i = $4; o = $5 } END { print i, o }' "$results")"
	awk -v n="$n" -v ms="$ms" -v lo="$ms_lo" -v hi="$ms_hi" -v cpu="$cpu" -v clo="$cpu_lo" -v chi="$cpu_hi" \
		-v i="$in_b" -v o="$out_b" 'BEGIN {
		printf "%-16s %8.0f [%5.0f-%5.0f] %8.2f [%4.2f-%4.2f] %10.1f %10.1f %10.1f\n", n, ms, lo, hi, cpu, clo, chi,
			i / 1e6, o / 1e6, i / 1e6 / (ms / 1000) }'
done
