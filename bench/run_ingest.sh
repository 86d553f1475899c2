#!/usr/bin/env bash
# run_ingest.sh — the ingest figures of shared/BENCHMARKS.md (beside this repository): strata
# against VictoriaMetrics and InfluxDB 1.x, same file, same client, same run.
#
# Generates the cpu-only data set once (bench_gen_cpu, cached under --work),
# then sends it with bench_load to each system, each run against a server
# started fresh on loopback with an empty temporary data directory, stopped
# by its pid (SIGTERM, a clean shutdown) and removed after. The runs are
# interleaved (run 1 of every configuration, then run 2, ...) so that drift
# of this shared machine hits every system alike; figures are the median of
# the runs with [min–max], and a ratio pairs run r of strata with run r of
# the peer. Measured around each client run: the server's CPU time
# (utime+stime of /proc/PID/stat), its peak RSS (VmHWM), strata's WAL
# counters (/metrics); after the clean stop: the data directory's size.
#
# The compaction phase loads the file the same way (HTTP, 4 connections,
# durable acknowledgements where the system has them) with each system's
# compaction running, then waits until its compaction is at rest (strata:
# no compaction debt and none running; VictoriaMetrics: no merge and no
# pending rows; InfluxDB: cache written to TSM and compacted), and reports
# the sustained rate and ack latency of the load, the time to rest, the
# bytes the server process wrote (/proc/PID/io) per byte of line protocol,
# strata's own write and space amplification (/metrics), and bytes on disk
# per field value at rest after a clean stop (strata: stopped, restarted on
# its data and at rest again, so that the memtable its stop flushes is
# compacted too).
#
# Usage: bench/run_ingest.sh [--quick] [--large] [--runs N] [--work DIR] [--build DIR]
#          [--no-build] [--hosts N] [--duration D] [--seed S] [--batch N]
#          [--systems strata,vm,influx] [--phases ingest,compaction] [--perf] [--keep-logs]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=/tmp/strata-bench
build=$repo/build/release
do_build=1
runs=3
hosts=100
duration=1d
seed=42
batch=5000
systems=strata,vm,influx
quick=0
perf=0
keep_logs=0
strata_http_conns="1 2 4"   # durable acks (sync)
strata_relaxed_conns="1 4"  # against VictoriaMetrics, which does not fsync before answering
tcp_conns="1 4"
vm_http_conns="1 4"
influx_http_conns="1 4"
phases=ingest,compaction
compact_conns=4
settle_timeout=3600 # seconds a system may take to bring its compaction to rest

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	cat <<'EOF'

Options:
  --quick            1 run, 100 hosts x 2 h (72,000 lines), 4 connections only
  --large            the large set: 4,000 hosts x 1 day (34.6 M lines; takes a long
                     while: with --phases compaction --runs 1 for the compaction figures)
  --phases LIST      of ingest (the rates table), compaction (load with compaction,
                     then at rest) [both]
  --runs N           runs per configuration [3]
  --work DIR         data file cache, logs, temporary data dirs [/tmp/strata-bench]
  --build DIR        CMake build directory (Release) [repo/build/release]
  --no-build         use the binaries already in --build
  --hosts N --duration D --seed S   the data set [100, 1d, 42]
  --batch N          lines per HTTP request / TCP write [5000]
  --systems LIST     of strata, vm, influx [all]
  --perf             also profile strata during one extra HTTP 4-connection run
                     (perf record -g), summary printed and kept in --work
  --keep-logs        keep the servers' logs in --work/logs
EOF
}

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--large) hosts=4000 ;;
	--phases) phases=$2; shift ;;
	--runs) runs=$2; shift ;;
	--work) work=$2; shift ;;
	--build) build=$2; shift ;;
	--no-build) do_build=0 ;;
	--hosts) hosts=$2; shift ;;
	--duration) duration=$2; shift ;;
	--seed) seed=$2; shift ;;
	--batch) batch=$2; shift ;;
	--systems) systems=$2; shift ;;
	--perf) perf=1 ;;
	--keep-logs) keep_logs=1 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "run_ingest.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
if [ "$quick" = 1 ]; then
	runs=1
	duration=2h
	strata_http_conns="4"
	strata_relaxed_conns="4"
	tcp_conns="4"
	vm_http_conns="4"
	influx_http_conns="4"
	settle_timeout=300
fi
case ",$phases," in *,ingest,*|*,compaction,*) ;; *) echo "run_ingest.sh: --phases takes ingest and/or compaction" >&2; exit 2 ;; esac

log() { echo "$@" >&2; }
die() { echo "run_ingest.sh: $*" >&2; exit 1; }
has_system() { case ",$systems," in *",$1,"*) return 0 ;; esac; return 1; }
has_phase() { case ",$phases," in *",$1,"*) return 0 ;; esac; return 1; }

mkdir -p "$work/logs"
results=$work/results-$(date +%Y%m%d-%H%M%S).tsv
: >"$results"

# ---- binaries ----

# shellcheck source=bench/peers.sh
. "$repo/bench/peers.sh"
if [ "$do_build" = 1 ]; then
	build_release strata bench_gen_cpu bench_load
	cmake --build "$build" --target bench_parser -j"$(nproc)" >>"$work/logs/cmake.log" 2>&1 ||
		log "bench_parser does not build (yet): its row is skipped"
fi
strata=$build/strata
gen=$build/bench_gen_cpu
load=$build/bench_load
parser=$build/bench_parser
for b in "$strata" "$gen" "$load"; do
	[ -x "$b" ] || die "$b is missing (build first, or drop --no-build)"
done
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
[ "$build_type" = Release ] || [ "$build_type" = RelWithDebInfo ] ||
	log "warning: build type '${build_type:-unknown}' is not optimized: figures mean little"

find_servers

# ---- the data set (cached) ----

gen_dataset

# ---- servers ----

clk_tck=$(getconf CLK_TCK)
perf_pid=""

cleanup() {
	[ -n "$perf_pid" ] && kill -INT "$perf_pid" 2>/dev/null && wait "$perf_pid" 2>/dev/null
	if [ -n "$srv_pid" ]; then
		kill -TERM "$srv_pid" 2>/dev/null || true
		wait "$srv_pid" 2>/dev/null || true
	fi
	[ -n "$srv_dir" ] && rm -rf "$srv_dir"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cpu_ticks() { # utime + stime of a process, in clock ticks
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
vm_hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

result_field() { # key, bench_load output -> value of key= in the RESULT line
	sed -n "s/^RESULT.* $1=\([^ ]*\).*/\1/p" <<<"$2"
}

# Appends one row to the results file:
# key run lines/s values/s MB/s p50 p99 cpu_s hwm_kb fsyncs_per_s points_per_fsync disk_bytes failures note
# [seconds from the last byte sent to every point queryable (TCP)]
# [then, compaction phase: seconds from the last ack to rest, bytes the server wrote / line protocol bytes,
#  strata_engine_write_amplification, strata table bytes written per line protocol byte, strata_space_amplification]
emit() {
	local f=("$@")
	while [ ${#f[@]} -lt 15 ]; do f+=(""); done
	(IFS=$'\t'; echo "${f[*]}") >>"$results"
}

# One run of a server configuration: key system transport conns run.
run_server() {
	local key=$1 sys=$2 transport=$3 conns=$4 run=$5 out rc=0 cpu0 cpu1 hwm m0 m1 fs ps
	local fsync_s=nan pts_fsync=nan note="" failures=0
	log "run $run: $key"
	if ! start_server "$sys"; then
		emit "$key" "$run" nan nan nan nan nan nan nan nan nan nan 1 "server did not start"
		stop_server
		return
	fi
	if [ "$transport" = tcp ] && ! (exec 3<>"/dev/tcp/127.0.0.1/$tcp_port") 2>/dev/null; then
		emit "$key" "$run" nan nan nan nan nan nan nan nan nan nan 0 "no TCP listener on --tcp (not wired into serve)"
		stop_server
		return
	fi
	local args=(--file "$file" --batch "$batch" --conns "$conns" --wait-timeout 120)
	if [ "$transport" = http ]; then
		args+=(--url "$write_url")
	else
		args+=(--tcp "127.0.0.1:$tcp_port")
		case "$sys" in
		strata-*) args+=(--wait-metric "http://127.0.0.1:$http_port/metrics" strata_ingest_points_total) ;;
		vm) # points of one field over the data's whole span, no result cache
			local q="sum(count_over_time(cpu_usage_user%5B$((duration_s + 60))s%5D))"
			args+=(--wait-query "http://127.0.0.1:$http_port/api/v1/query?query=$q&time=$((1767225600 + duration_s))&nocache=1") ;;
		esac
	fi
	[[ "$sys" == strata-* ]] && m0=$(strata_metrics strata_wal_fsyncs_total strata_ingest_points_total)
	cpu0=$(cpu_ticks "$srv_pid")
	out=$("$load" "${args[@]}" 2>&1) || rc=$?
	cpu1=$(cpu_ticks "$srv_pid")
	hwm=$(vm_hwm_kb "$srv_pid")
	local secs lines_s values_s mb_s p50 p99 lag=""
	secs=$(result_field seconds "$out")
	lines_s=$(result_field lines_per_s "$out")
	values_s=$(result_field values_per_s "$out")
	mb_s=$(result_field mb_per_s "$out")
	p50=$(result_field p50_ms "$out")
	p99=$(result_field p99_ms "$out")
	if [ -n "$secs" ]; then
		failures=$(($(result_field non204 "$out") + $(result_field errors "$out")))
		[ "$transport" = tcp ] && lag=$(awk -v a="$secs" -v b="$(result_field send_seconds "$out")" \
			'BEGIN { printf "%.2f", a - b }')
	fi
	if [ -z "$secs" ]; then
		note="bench_load: $(grep -m1 -i 'bench_load' <<<"$out" || echo "exit $rc")"
		secs=nan lines_s=nan values_s=nan mb_s=nan p50=nan p99=nan failures=1
	elif [ "$rc" != 0 ]; then
		note=$(grep -m1 'first failure\|queryable after' <<<"$out" || echo "bench_load exit $rc")
		[ "$failures" = 0 ] && failures=1
	fi
	if [[ "$sys" == strata-* ]] && [ "$secs" != nan ]; then
		m1=$(strata_metrics strata_wal_fsyncs_total strata_ingest_points_total)
		read -r fs ps <<<"$(awk -v a="$m0" -v b="$m1" 'BEGIN { split(a, x, " "); split(b, y, " ");
			print y[1] - x[1], y[2] - x[2] }')"
		fsync_s=$(awk -v f="$fs" -v s="$secs" 'BEGIN { printf "%.1f", f / s }')
		pts_fsync=$(awk -v f="$fs" -v p="$ps" 'BEGIN { if (f > 0) printf "%.0f", p / f; else print "nan" }')
	fi
	stop_server
	[ -n "$stop_note" ] && note="${note:+$note; }stop: $stop_note"
	emit "$key" "$run" "$lines_s" "$values_s" "$mb_s" "$p50" "$p99" \
		"$(awk -v a="$cpu0" -v b="$cpu1" -v t="$clk_tck" 'BEGIN { printf "%.2f", (b - a) / t }')" \
		"$hwm" "$fsync_s" "$pts_fsync" "$disk_bytes" "$failures" "$note" "$lag"
}

io_written() { # bytes a process has had written to storage (write_bytes - cancelled_write_bytes), or nan
	awk '/^write_bytes:/ { w = $2 } /^cancelled_write_bytes:/ { c = $2 } END { if (w == "") print "nan"; else print w - c }' \
		"/proc/$1/io" 2>/dev/null || echo nan
}

# The compaction phase, one run of a system: key system run.
run_compaction() {
	local key=$1 sys=$2 run=$3 out rc=0 cpu0 cpu1 hwm io0 io1 note="" failures=0 m
	local lines_s=nan values_s=nan mb_s=nan p50=nan p99=nan io_wa=nan ewa=nan twa=nan samp=nan rest=nan
	log "run $run: $key"
	# InfluxDB writes its cache to TSM 5 s after the last write and compacts a shard fully 10 s after
	# (defaults: 10 min and 4 h), so that it comes to rest within the run.
	[ "$sys" = influx ] && influx_data_conf='  cache-snapshot-write-cold-duration = "5s"
  compact-full-write-cold-duration = "10s"'
	if ! start_server "$sys"; then
		influx_data_conf=""
		emit "$key" "$run" nan nan nan nan nan nan nan nan nan nan 1 "server did not start"
		stop_server
		return
	fi
	influx_data_conf=""
	io0=$(io_written "$srv_pid")
	cpu0=$(cpu_ticks "$srv_pid")
	out=$("$load" --file "$file" --batch "$batch" --conns "$compact_conns" --url "$write_url" 2>&1) || rc=$?
	if [ -n "$(result_field seconds "$out")" ]; then
		lines_s=$(result_field lines_per_s "$out")
		values_s=$(result_field values_per_s "$out")
		mb_s=$(result_field mb_per_s "$out")
		p50=$(result_field p50_ms "$out")
		p99=$(result_field p99_ms "$out")
		failures=$(($(result_field non204 "$out") + $(result_field errors "$out")))
		[ "$rc" = 0 ] || note=$(grep -m1 'first failure' <<<"$out" || echo "bench_load exit $rc")
	else
		note="bench_load: $(grep -m1 -i 'bench_load' <<<"$out" || echo "exit $rc")"
		failures=1
	fi
	wait_rest "$sys" || note="${note:+$note; }not at rest after $settle_timeout s"
	rest=$settle_s
	cpu1=$(cpu_ticks "$srv_pid")
	io1=$(io_written "$srv_pid")
	hwm=$(vm_hwm_kb "$srv_pid")
	io_wa=$(awk -v a="$io0" -v b="$io1" -v n="$file_bytes" 'BEGIN { if (a == "nan" || b == "nan") print "nan"; else printf "%.3f", (b - a) / n }')
	if [[ "$sys" == strata-* ]]; then
		local m1 m2
		m1=$(strata_metrics strata_engine_write_amplification strata_flush_bytes_total \
			strata_compaction_written_bytes_total strata_ingest_bytes_total strata_sstable_bytes)
		ewa=${m1%% *}
		# At rest for the bytes on disk: the stop flushes the memtable; compacted after a restart.
		stop_server keep
		if start_server "$sys" "$srv_dir"; then
			wait_rest "$sys" || note="${note:+$note; }not at rest after a restart within $settle_timeout s"
			m2=$(strata_metrics strata_flush_bytes_total strata_compaction_written_bytes_total \
				strata_compaction_read_bytes_total strata_sstable_bytes strata_space_amplification)
			samp=${m2##* }
			# Table bytes written over the load, the stop and the restart: the stop's flush is
			# not on any page, but the live bytes only change by what is written and merged away:
			# stop flush = live after - live before - flushed after restart - compacted + merged.
			twa=$(awk -v a="$m1" -v b="$m2" 'BEGIN { split(a, x, " "); split(b, y, " ")
				stop = y[4] - x[5] - y[1] - y[2] + y[3]
				if (x[4] > 0) printf "%.3f", (x[2] + x[3] + stop + y[1] + y[2]) / x[4]; else print "nan" }')
		else
			note="${note:+$note; }did not restart"
		fi
	fi
	stop_server
	[ -n "$stop_note" ] && note="${note:+$note; }stop: $stop_note"
	emit "$key" "$run" "$lines_s" "$values_s" "$mb_s" "$p50" "$p99" \
		"$(awk -v a="$cpu0" -v b="$cpu1" -v t="$clk_tck" 'BEGIN { printf "%.2f", (b - a) / t }')" \
		"$hwm" nan nan "$disk_bytes" "$failures" "$note" "" "$rest" "$io_wa" "$ewa" "$twa" "$samp"
}

# strata import into an empty directory, timed by /usr/bin/time.
run_import() {
	local key=$1 run=$2 dir tfile secs user sys rss rc=0 note="" failures=0
	log "run $run: $key"
	dir=$(mktemp -d "$work/run-import-XXXXXX")
	srv_dir=$dir
	tfile=$dir/time
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -o "$tfile" -f "%e %U %S %M" "$strata" import --data "$dir/data" --db bench "$file" \
			>"$work/logs/import.log" 2>&1 || rc=$?
		read -r secs user sys rss <"$tfile"
	else
		local t0 t1
		t0=$(date +%s.%N)
		"$strata" import --data "$dir/data" --db bench "$file" >"$work/logs/import.log" 2>&1 || rc=$?
		t1=$(date +%s.%N)
		secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
		user=nan sys=0 rss=nan
	fi
	if [ "$rc" != 0 ]; then
		failures=1
		note="strata import exit $rc: $(tail -1 "$work/logs/import.log")"
	fi
	emit "$key" "$run" \
		"$(awk -v n="$file_lines" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')" \
		"$(awk -v n="$file_values" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')" \
		"$(awk -v n="$file_bytes" -v s="$secs" 'BEGIN { printf "%.2f", n / s / 1e6 }')" \
		nan nan "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" "$rss" nan nan \
		"$(du -s -B1 "$dir/data" | cut -f1)" "$failures" "$note"
	rm -rf "$dir"
	srv_dir=""
}

# The client's own ceiling: all runs in one bench_load process.
run_sink() {
	local key=$1 transport=$2 conns=$3 out r
	log "runs 1-$runs: $key"
	out=$("$load" --file "$file" --batch "$batch" --conns "$conns" --sink "$transport" --runs "$runs" 2>&1) || true
	r=1
	while read -r line; do
		local l v m p50 p99
		l=$(sed -n 's/.*s[a-z ]*: \([0-9]*\) lines\/s, \([0-9]*\) values\/s, \([0-9.]*\) MB\/s, p50 \([0-9.]*\) ms, p99 \([0-9.]*\) ms.*/\1 \2 \3 \4 \5/p' <<<"$line")
		[ -n "$l" ] || continue
		read -r l v m p50 p99 <<<"$l"
		emit "$key" "$r" "$l" "$v" "$m" "$p50" "$p99" nan nan nan nan nan 0 ""
		r=$((r + 1))
	done < <(grep '^run ' <<<"$out")
	[ "$r" -gt 1 ] || emit "$key" 1 nan nan nan nan nan nan nan nan nan nan 1 "sink failed: $(tail -1 <<<"$out")"
}

# bench_parser (bench/bench_parser.c, written separately): its per-core rates.
run_parser() {
	local out mb lines values
	[ -x "$parser" ] || { log "no $parser: parser row skipped"; return; }
	log "runs 1-$runs: parser"
	out=$("$parser" --hosts "$hosts" --mb 100 --runs "$((runs < 3 ? 3 : runs))" --seed "$seed" 2>/dev/null) || {
		emit parser 1 nan nan nan nan nan nan nan nan nan nan 1 "bench_parser failed"
		return
	}
	mb=$(awk '$1 == "MB/s" { print $2 }' <<<"$out")
	lines=$(awk '$1 == "lines/s" { printf "%.0f", $2 * 1e6 }' <<<"$out")
	values=$(awk '$1 == "values/s" { printf "%.0f", $2 * 1e6 }' <<<"$out")
	emit parser 1 "$lines" "$values" "$mb" nan nan nan nan nan nan nan 0 "median of its runs, per core"
}

# ---- the plan ----

# key|system|transport|conns|label
plan=()
if has_phase ingest && has_system strata; then
	for c in $strata_http_conns; do plan+=("strata-sync-http-$c|strata-sync|http|$c|strata HTTP, sync"); done
	for c in $strata_relaxed_conns; do plan+=("strata-relaxed-http-$c|strata-relaxed|http|$c|strata HTTP, relaxed"); done
	for c in $tcp_conns; do plan+=("strata-tcp-$c|strata-sync|tcp|$c|strata TCP, sync"); done
	plan+=("strata-import|import|file|1|strata import")
fi
if has_phase ingest && has_system vm; then
	for c in $vm_http_conns; do plan+=("vm-http-$c|vm|http|$c|VictoriaMetrics HTTP"); done
	for c in $tcp_conns; do plan+=("vm-tcp-$c|vm|tcp|$c|VictoriaMetrics TCP"); done
fi
if has_phase ingest && has_system influx; then
	for c in $influx_http_conns; do plan+=("influx-http-$c|influx|http|$c|InfluxDB 1.x HTTP"); done
fi
if has_phase compaction; then
	c=$compact_conns
	has_system strata && plan+=("strata-compact-http-$c|compact:strata-sync|http|$c|strata HTTP, sync, to rest")
	has_system vm && plan+=("vm-compact-http-$c|compact:vm|http|$c|VictoriaMetrics HTTP, to rest")
	has_system influx && plan+=("influx-compact-http-$c|compact:influx|http|$c|InfluxDB 1.x HTTP, to rest")
fi

commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit-dirty"
fs_type=$(df -T "$work" | awk 'NR == 2 { print $2 }')
cat <<EOF
ingest benchmark (bench/run_ingest.sh)
commit      $commit
build       ${build_type:-unknown} ($build)
machine     $(nproc) cores online, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(uname -sr)
file        $file ($file_lines lines, $file_values field values, $(awk -v b="$file_bytes" 'BEGIN { printf "%.1f", b / 1e6 }') MB)
            cpu-only: $hosts hosts x $duration from 2026-01-01T00:00:00Z, seed $seed
client      bench_load, batches of $batch lines; HTTP /write keep-alive; TCP line protocol
data dirs   under $work ($fs_type); each run starts empty; removed after
runs        $runs per configuration, interleaved; median [min–max]
sync modes  strata sync      HTTP 204 after the WAL fdatasync (group commit); TCP: the batcher writes with sync
            strata relaxed   HTTP 204 after the WAL write, before fdatasync
            strata import    no sync per chunk; tables flushed at the end
            VictoriaMetrics  $(dpkg-query -W -f='${Version}' victoria-metrics 2>/dev/null || true): answers once parsed into memory; flushed about every second, no fsync per request
            InfluxDB         $(dpkg-query -W -f='${Version}' influxdb 2>/dev/null || true): wal-fsync-delay 0, the WAL is fsynced before each write is answered
EOF
echo

start_all=$(date +%s)
for ((r = 1; r <= runs; r++)); do
	for p in "${plan[@]}"; do
		IFS='|' read -r key sys transport conns label <<<"$p"
		if [ "$sys" = import ]; then
			run_import "$key" "$r"
		elif [[ "$sys" == compact:* ]]; then
			run_compaction "$key" "${sys#compact:}" "$r"
		else
			run_server "$key" "$sys" "$transport" "$conns" "$r"
		fi
	done
done
if has_phase ingest && has_system strata; then
	for c in $strata_http_conns; do run_sink "sink-http-$c" http "$c"; done
	for c in $tcp_conns; do run_sink "sink-tcp-$c" tcp "$c"; done
	run_parser
fi

# ---- profile: one extra strata HTTP 4-connection run under perf ----

perf_report=""
perf_top() { # sort keys, percent limit, lines: self time, no call chains
	perf report -i "$work/perf-strata-http4.data" --stdio --no-children --sort "$1" --percent-limit "$2" \
		-g none 2>/dev/null | grep -v '^#' | grep -v '^$' | sed 's/[[:space:]-]*$//' | head -"$3" || true
}
if [ "$perf" = 1 ] && has_system strata; then
	if command -v perf >/dev/null; then
		log "perf: strata HTTP sync, 4 connections"
		start_server strata-sync
		rm -f "$work/perf-strata-http4.data"*
		perf record -g -o "$work/perf-strata-http4.data" -p "$srv_pid" >"$work/logs/perf.log" 2>&1 &
		perf_pid=$!
		sleep 0.5
		"$load" --file "$file" --batch "$batch" --conns 4 --url "$write_url" >/dev/null 2>&1 || true
		kill -INT "$perf_pid" 2>/dev/null || true
		wait "$perf_pid" 2>/dev/null || true
		perf_pid=""
		stop_server
		{
			echo "by thread and object (MHD-worker: HTTP requests; strata: flush; iou-wrk: WAL I/O):"
			perf_top comm,dso 0.3 12
			echo "by symbol:"
			perf_top dso,symbol 0.6 30
		} >"$work/perf-strata-http4.txt"
		perf_report=$work/perf-strata-http4.txt
	else
		log "perf not installed: no profile"
	fi
fi

# ---- report ----

elapsed=$(($(date +%s) - start_all))
labels=""
for p in "${plan[@]}"; do
	IFS='|' read -r key sys transport conns label <<<"$p"
	labels+="$key|$label|$transport|$conns"$'\n'
done
if has_phase ingest; then
	for c in $strata_http_conns; do labels+="sink-http-$c|client ceiling (sink)|http|$c"$'\n'; done
	for c in $tcp_conns; do labels+="sink-tcp-$c|client ceiling (sink)|tcp|$c"$'\n'; done
	labels+="parser|parser alone, 1 core|memory|-"$'\n'
fi

awk -F'\t' -v labels="$labels" '
function med(key, col,    n, i, j, t, a) {
	n = 0
	for (i = 1; i <= nrun[key]; i++) {
		t = val[key, i, col]
		if (t != "nan" && t != "") a[++n] = t + 0
	}
	if (n == 0) return "nan"
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	lo[key, col] = a[1]; hi[key, col] = a[n]
	return a[int((n + 1) / 2)]
}
function fmt(v, d) { return v == "nan" ? "-" : sprintf("%." d "f", v) }
function big(v) {
	if (v == "nan") return "-"
	if (v >= 1e6) return sprintf("%.2fM", v / 1e6)
	if (v >= 1e3) return sprintf("%.0fk", v / 1e3)
	return sprintf("%.0f", v)
}
BEGIN {
	nl = split(labels, L, "\n")
	for (i = 1; i <= nl; i++) if (L[i] != "") { split(L[i], f, "|"); order[++n_keys] = f[1]; label[f[1]] = f[2]; tr[f[1]] = f[3]; cn[f[1]] = f[4] }
}
{
	key = $1; r = $2
	if (!(key in nrun) || r > nrun[key]) nrun[key] = r
	for (c = 3; c <= 20; c++) val[key, r, c] = ($c == "" ? "nan" : $c)
	if ($13 + 0 > 0) fail[key] += $13
	if ($14 != "") note[key] = $14
	if ($3 != "nan" && $4 != "nan") ok[key, r] = 1
}
END {
	printf "%-24s %-5s %5s  %-26s %8s %6s %8s %8s %9s %8s %8s %9s %8s  %s\n", "system", "via", "conns",
		"values/s median [min-max]", "lines/s", "MB/s", "p50 ms", "p99 ms", "CPUs/Mval", "RSS MB", "fsync/s",
		"pts/fsync", "B/value", "notes"
	for (k = 1; k <= n_keys; k++) {
		key = order[k]
		if (!(key in nrun)) continue
		v = med(key, 4)
		range = v == "nan" ? "-" : sprintf("%s [%s-%s]", big(v), big(lo[key, 4]), big(hi[key, 4]))
		l = med(key, 3); mb = med(key, 5); p50 = med(key, 6); p99 = med(key, 7)
		# CPU-seconds per million values, per run
		for (i = 1; i <= nrun[key]; i++) {
			cpu = val[key, i, 8]
			val[key, i, 30] = (cpu == "nan" || cpu == "" || val[key, i, 4] == "nan" || val[key, i, 4] == "") ? "nan" : cpu / (values_total / 1e6)
			d = val[key, i, 12]
			val[key, i, 31] = (d == "nan" || d == "") ? "nan" : d / values_total
			h = val[key, i, 9]
			val[key, i, 32] = (h == "nan" || h == "") ? "nan" : h / 1024
		}
		cpuv = med(key, 30); rss = med(key, 32); fs = med(key, 10); pf = med(key, 11); bpv = med(key, 31)
		medv[key] = v; medcpu[key] = cpuv; medrss[key] = rss; medbpv[key] = bpv
		n = note[key]
		lag = med(key, 15)
		if (lag != "nan") n = sprintf("queryable %.1f s after the last byte sent%s", lag, n != "" ? "; " n : "")
		if (fail[key] > 0) n = "FAILURES " fail[key] (n != "" ? ": " n : "")
		printf "%-24s %-5s %5s  %-26s %8s %6s %8s %8s %9s %8s %8s %9s %8s  %s\n", label[key], tr[key], cn[key],
			range, big(l), fmt(mb, 1), fmt(p50, 1), fmt(p99, 1), fmt(cpuv, 2), fmt(rss, 0), fmt(fs, 0),
			fmt(pf, 0), fmt(bpv, 2), n
	}
	np = split(pairs, P, " ")
	for (i = 1; i <= np; i++) {
		split(P[i], q, ":"); a = q[1]; b = q[2]
		if (!(a in nrun) || !(b in nrun) || medv[a] == "nan" || medv[b] == "nan") continue
		if (!pair_header++) {
			print ""
			print "strata / peer (values/s: >1 strata faster; CPU, RSS, bytes: <1 strata uses less); values/s bracket: run-paired ratios"
			printf "%-46s %-28s %10s %8s %8s\n", "pair", "values/s [min-max]", "CPUs/Mval", "RSS", "B/value"
		}
		lo_r = 1e300; hi_r = 0
		for (r = 1; r <= nrun[a]; r++) if (ok[a, r] && ok[b, r]) {
			x = val[a, r, 4] / val[b, r, 4]; if (x < lo_r) lo_r = x; if (x > hi_r) hi_r = x
		}
		printf "%-46s %-28s %10s %8s %8s\n", label[a] " " cn[a] " / " label[b] " " cn[b],
			sprintf("%.2f [%.2f-%.2f]", medv[a] / medv[b], lo_r, hi_r),
			(medcpu[a] != "nan" && medcpu[b] != "nan" && medcpu[b] > 0) ? sprintf("%.2f", medcpu[a] / medcpu[b]) : "-",
			(medrss[a] != "nan" && medrss[b] != "nan" && medrss[b] > 0) ? sprintf("%.2f", medrss[a] / medrss[b]) : "-",
			(medbpv[a] != "nan" && medbpv[b] != "nan" && medbpv[b] > 0) ? sprintf("%.2f", medbpv[a] / medbpv[b]) : "-"
	}
	# The compaction phase: its own columns (16-20 of the raw rows).
	nc = 0
	for (k = 1; k <= n_keys; k++) if (order[k] ~ /-compact-/ && (order[k] in nrun)) nc++
	if (nc == 0) exit
	print ""
	print "after compaction: HTTP load with compaction running, then at rest (median of the runs)"
	printf "%-36s %9s %8s %8s %8s %8s %9s %9s %8s %8s\n", "system", "values/s", "p50 ms", "p99 ms", "rest s",
		"io-wa", "engine-wa", "tables-wa", "space-a", "B/value"
	for (k = 1; k <= n_keys; k++) {
		key = order[k]
		if (key !~ /-compact-/ || !(key in nrun)) continue
		rest[key] = med(key, 16); iowa[key] = med(key, 17)
		printf "%-36s %9s %8s %8s %8s %8s %9s %9s %8s %8s\n", label[key] " " cn[key], big(medv[key]),
			fmt(med(key, 6), 1), fmt(med(key, 7), 1), fmt(rest[key], 1), fmt(iowa[key], 2), fmt(med(key, 18), 2),
			fmt(med(key, 19), 2), fmt(med(key, 20), 2), fmt(medbpv[key], 3)
		p99m[key] = med(key, 7)
	}
	print ""
	printf "%-58s %9s %8s %8s %8s\n", "strata / peer, to rest", "values/s", "p99", "io-wa", "B/value"
	for (k = 1; k <= n_keys; k++) {
		b = order[k]; a = "strata-compact-http-" cn[b]
		if (b !~ /^(vm|influx)-compact-/ || !(a in nrun) || !(b in nrun)) continue
		printf "%-58s %9s %8s %8s %8s\n", label[a] " / " label[b],
			(medv[a] != "nan" && medv[b] != "nan" && medv[b] > 0) ? sprintf("%.2f", medv[a] / medv[b]) : "-",
			(p99m[a] != "nan" && p99m[b] != "nan" && p99m[b] > 0) ? sprintf("%.2f", p99m[a] / p99m[b]) : "-",
			(iowa[a] != "nan" && iowa[b] != "nan" && iowa[b] > 0) ? sprintf("%.2f", iowa[a] / iowa[b]) : "-",
			(medbpv[a] != "nan" && medbpv[b] != "nan" && medbpv[b] > 0) ? sprintf("%.2f", medbpv[a] / medbpv[b]) : "-"
	}
}' values_total="$file_values" pairs="$(
	for c in 1 2 4; do
		echo "strata-sync-http-$c:influx-http-$c strata-relaxed-http-$c:vm-http-$c strata-sync-http-$c:vm-http-$c strata-tcp-$c:vm-tcp-$c"
	done | tr '\n' ' ')" "$results"

cat <<EOF

columns: values/s and lines/s over the whole file (HTTP: first request to last 204; TCP: to every point
  queryable); MB/s of line protocol; p50/p99 of one batch (HTTP: request to answer; TCP: handing it to the
  kernel); CPUs/Mval: server CPU-seconds (utime+stime) during the client run per million values (import:
  the whole process); RSS: peak (VmHWM) MB; fsync/s and pts/fsync: strata WAL fdatasyncs per second and
  points per fdatasync; B/value: data directory bytes on disk (du) after a clean stop / field values
  (ingest rows: right after the load, strata's compaction not at rest; InfluxDB: a clean stop leaves the
  cache in its WAL, not compacted to TSM). The client and the server share the machine's cores.
after compaction: the file over HTTP, $compact_conns connections, with each system's compaction running
  (InfluxDB told to write its cache and compact 5 s / 10 s after the last write), then waited for until at
  rest: strata no compaction debt and none running, VictoriaMetrics no merge, no pending rows and its
  directory's size, InfluxDB WAL written to TSM and no TSM file being written; each unchanged for 3 s
  (VictoriaMetrics 10 s: it writes the parts it holds in memory every 5 s). values/s, p50/p99:
  the load (durable acks for strata and InfluxDB, not for VictoriaMetrics); rest s: from the last answer
  to at rest; io-wa: bytes the server process had written to storage (/proc/PID/io write_bytes less
  cancelled_write_bytes) from the start of the load to rest, per byte of line protocol: WAL, tables,
  indexes, merges alike, not what the stop writes (strata's memtable, VictoriaMetrics' caches); strata engine-wa: strata_engine_write_amplification at rest after the load
  ((WAL + flushed + compacted bytes) / WAL bytes, docs/metrics.md); strata tables-wa: table bytes written
  (flushes, compactions, the stop's flush and the compaction after the restart) / line protocol bytes;
  space-a: strata_space_amplification at the end (docs/metrics.md); B/value: data directory bytes (du) after a clean
  stop at rest / field values (strata: stopped, restarted on its data and at rest again, so that the
  memtable the stop flushes is compacted too). CPUs/Mval of these rows covers the load and the time to rest.
raw results: $results   (elapsed ${elapsed} s)
EOF
if [ -n "$perf_report" ]; then
	echo
	echo "perf (strata serve, HTTP sync, 4 connections; self time by symbol; $work/perf-strata-http4.data):"
	cat "$perf_report"
fi
