#!/usr/bin/env bash
# run_query.sh — the query figures of shared/BENCHMARKS.md (beside this repository): Q1–Q6
# over the cpu-only data set, strata against VictoriaMetrics and InfluxDB 1.x,
# same data, same client, same run.
#
# Generates the data set once (bench_gen_cpu, cached under --work, shared with
# run_ingest.sh), loads it into each system over HTTP /write (bench_load),
# waits until every point is queryable, lets InfluxDB write its cache to TSM
# files, and stops each server cleanly. Then, for each repetition and each
# system in turn (one server running at a time), bench_query measures:
#   cold: for each query, the server is restarted on its data, the page cache
#         dropped (root only), and the query's runs sent without a warm-up;
#   warm: on the same process, all queries, each after an untimed warm-up of
#         its own sequence of requests (cut after --warmup-seconds).
# Figures are the median over the repetitions of each run's p50 and p99;
# strata / peer is the ratio of those medians (<1: strata faster).
#
# Usage: bench/run_query.sh [--quick] [--large] [--reps R] [--runs N] [--work DIR]
#          [--build DIR] [--no-build] [--hosts N] [--duration D] [--seed S]
#          [--query-seed S] [--systems strata,vm,influx] [--q4 all|usage_user]
#          [--max-seconds S] [--warmup-seconds S] [--no-drop-caches] [--keep-logs]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=/tmp/strata-bench
build=$repo/build/release
do_build=1
reps=3
runs=50
hosts=100
duration=1d
seed=42
query_seed=42
systems=strata,vm,influx
q4=all
max_seconds=60
warmup_seconds=10
drop_caches=1
keep_logs=0

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	cat <<'EOF'

Options:
  --quick            1 repetition, 20 runs, 100 hosts x 2 h (12 h windows then span it all)
  --large            the large set: 4,000 hosts x 1 day (34.6 M lines; loading alone
                     takes a long while: not run by default)
  --reps R           repetitions, median of their p50 / p99 [3]
  --runs N           timed runs per query and phase (bench_query --runs) [50]
  --work DIR         data file cache, logs, data dirs [/tmp/strata-bench]
  --build DIR        CMake build directory (Release) [repo/build/release]
  --no-build         use the binaries already in --build
  --hosts N --duration D --seed S   the data set [100, 1d, 42]
  --query-seed S     seed of the query parameters [42]
  --systems LIST     of strata, vm, influx [all]
  --q4 all|usage_user  Q4 as last(*) (every field) or last(usage_user) [all]
  --max-seconds S    bound on one query's warm-up, and on its timed runs, per phase [60]
  --warmup-seconds S bound on one query's warm-up [10]
  --no-drop-caches   cold runs restart the server but keep the page cache
  --keep-logs        keep the servers' logs in --work/logs
EOF
}

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) reps=1; runs=20; duration=2h ;;
	--large) hosts=4000 ;;
	--reps) reps=$2; shift ;;
	--runs) runs=$2; shift ;;
	--work) work=$2; shift ;;
	--build) build=$2; shift ;;
	--no-build) do_build=0 ;;
	--hosts) hosts=$2; shift ;;
	--duration) duration=$2; shift ;;
	--seed) seed=$2; shift ;;
	--query-seed) query_seed=$2; shift ;;
	--systems) systems=$2; shift ;;
	--q4) q4=$2; shift ;;
	--max-seconds) max_seconds=$2; shift ;;
	--warmup-seconds) warmup_seconds=$2; shift ;;
	--no-drop-caches) drop_caches=0 ;;
	--keep-logs) keep_logs=1 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "run_query.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

log() { echo "$@" >&2; }
die() { echo "run_query.sh: $*" >&2; exit 1; }
has_system() { case ",$systems," in *",$1,"*) return 0 ;; esac; return 1; }

[[ "$reps" =~ ^[1-9][0-9]*$ ]] || die "--reps takes a positive number"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs takes a positive number"
case "$q4" in all|usage_user) ;; *) die "--q4 is all or usage_user" ;; esac
mkdir -p "$work/logs"
stamp=$(date +%Y%m%d-%H%M%S)
results=$work/query-results-$stamp.tsv
qlogs=$work/query-logs-$stamp
mkdir -p "$qlogs"
: >"$results"

# ---- binaries ----

# shellcheck source=bench/peers.sh
. "$repo/bench/peers.sh"
if [ "$do_build" = 1 ]; then
	build_release strata bench_gen_cpu bench_load bench_query
fi
strata=$build/strata
gen=$build/bench_gen_cpu
load=$build/bench_load
bq=$build/bench_query
for b in "$strata" "$gen" "$load" "$bq"; do
	[ -x "$b" ] || die "$b is missing (build first, or drop --no-build)"
done
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
[ "$build_type" = Release ] || [ "$build_type" = RelWithDebInfo ] ||
	log "warning: build type '${build_type:-unknown}' is not optimized: figures mean little"

# InfluxDB writes its cache to a TSM file 5 s after the last write and fully
# compacts a shard 10 s after (defaults: 10 min and 4 h), so that every
# system is queried with its data at rest on disk, not half in a WAL.
influx_data_conf='  cache-snapshot-write-cold-duration = "5s"
  compact-full-write-cold-duration = "10s"'
find_servers
gen_dataset

data_dirs=()
cleanup() {
	if [ -n "$srv_pid" ]; then
		kill -TERM "$srv_pid" 2>/dev/null || true
		wait "$srv_pid" 2>/dev/null || true
	fi
	local d
	for d in "${data_dirs[@]}"; do rm -rf "$d"; done
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

can_drop=0
if [ "$drop_caches" = 1 ]; then
	if [ -w /proc/sys/vm/drop_caches ]; then
		can_drop=1
	else
		log "cannot write /proc/sys/vm/drop_caches (not root): cold runs keep the page cache"
	fi
fi
drop_page_cache() {
	[ "$can_drop" = 1 ] || return 0
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

sys_label() {
	case "$1" in strata) echo strata ;; vm) echo VictoriaMetrics ;; influx) echo "InfluxDB 1.x" ;; esac
}
server_kind() { # system -> start_server's argument
	case "$1" in strata) echo strata-relaxed ;; *) echo "$1" ;; esac
}

# Points of usage_user the running server answers for: a number, 0 for an
# answer without data, empty when it fails or answers an error.
count_points() {
	local sys=$1 out
	case "$sys" in
	vm)
		out=$(curl -sf -G "http://127.0.0.1:$http_port/api/v1/query" \
			--data-urlencode "query=sum(count_over_time(cpu_usage_user[$((duration_s + 60))s]))" \
			--data-urlencode "time=$((1767225600 + duration_s))" --data-urlencode nocache=1 2>/dev/null) || return 0
		grep -q '"status":"success"' <<<"$out" || return 0
		grep -q '"result":\[\]' <<<"$out" && { echo 0; return 0; }
		sed -n 's/.*"value":\[[^,]*,"\([0-9]*\)"\].*/\1/p' <<<"$out"
		;;
	*)
		out=$(curl -sf -G "http://127.0.0.1:$http_port/query" --data-urlencode db=bench \
			--data-urlencode epoch=ns --data-urlencode "q=SELECT count(usage_user) FROM cpu" 2>/dev/null) ||
			return 0
		grep -q '"error"' <<<"$out" && return 0
		grep -q '"series"' <<<"$out" || { echo 0; return 0; }
		sed -n 's/.*"values":\[\[[^],]*,\([0-9]*\)\]\].*/\1/p' <<<"$out"
		;;
	esac
}

wait_points() { # system, seconds: until count_points is the file's lines (or cannot count for 5 s)
	local sys=$1 i n="" blank=0
	for ((i = 0; i < $2 * 4; i++)); do
		n=$(count_points "$sys")
		[ "$n" = "$file_lines" ] && return 0
		if [ -z "$n" ]; then
			blank=$((blank + 1))
			[ "$blank" -lt 20 ] || break
		else
			blank=0
		fi
		sleep 0.25
	done
	log "$sys: $file_lines points written, ${n:-no count} answered after $2 s"
	return 1
}

# InfluxDB at rest: no WAL segment with data left, the TSM file set unchanged for 3 s.
wait_influx_settled() {
	local i prev="" cur wal stable=0
	for ((i = 0; i < 1200; i++)); do
		wal=$(find "$srv_dir/data/wal" -name '*.wal' -size +1k 2>/dev/null | wc -l)
		cur=$(find "$srv_dir/data/data" \( -name '*.tsm' -o -name '*.tmp' \) -printf '%f:%s\n' 2>/dev/null | sort)
		if [ "$wal" = 0 ] && [ -n "$cur" ] && [ "$cur" = "$prev" ] && ! grep -q '\.tmp:' <<<"$cur"; then
			stable=$((stable + 1))
			[ "$stable" -ge 6 ] && return 0
		else
			stable=0
		fi
		prev=$cur
		sleep 0.5
	done
	log "influx: cache not written to TSM / compaction not done after 600 s: measuring anyway"
	return 0
}

declare -A sys_dir sys_note load_secs disk_mb
load_system() {
	local sys=$1 out t0 t1
	log "load: $(sys_label "$sys")"
	start_server "$(server_kind "$sys")" || die "$sys did not start"
	data_dirs+=("$srv_dir")
	sys_dir[$sys]=$srv_dir
	t0=$(date +%s.%N)
	out=$("$load" --file "$file" --batch 5000 --conns 4 --url "$write_url" 2>&1) ||
		die "$sys: loading failed: $(grep -m1 -i 'first failure\|bench_load' <<<"$out" || tail -1 <<<"$out")"
	if ! wait_points "$sys" 120; then
		sys_note[$sys]="not every point queryable after loading (count: $(count_points "$sys" || true))"
	fi
	t1=$(date +%s.%N)
	load_secs[$sys]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	# Every system queried at rest: its compaction done (strata: also after a restart, since
	# its stop flushes the memtable into a late table that is then folded in).
	case "$sys" in
	influx) wait_influx_settled ;;
	vm) wait_rest vm || sys_note[$sys]="not at rest after loading";;
	strata)
		if wait_rest strata-relaxed; then
			sys_note[$sys]="compaction at rest ${settle_s} s after loading"
		else
			sys_note[$sys]="not at rest after loading"
		fi
		stop_server keep
		start_server strata-relaxed "${sys_dir[$sys]}" || die "strata did not restart"
		wait_rest strata-relaxed || sys_note[$sys]="${sys_note[$sys]:+${sys_note[$sys]}; }not at rest after a restart"
		;;
	esac
	stop_server keep
	[ -n "$stop_note" ] && sys_note[$sys]="${sys_note[$sys]:+${sys_note[$sys]}; }stop after load: $stop_note"
	disk_mb[$sys]=$(awk -v b="$disk_bytes" 'BEGIN { printf "%.0f", b / 1e6 }')
	srv_dir=""
}

# Appends bench_query's RESULT lines as rows: system rep phase query p50 p99 min max first rows bad runs stopped;
# arguments: system rep phase output-file query...
record() {
	local sys=$1 rep=$2 phase=$3 outfile=$4
	awk -v sys="$sys" -v rep="$rep" -v phase="$phase" '
		$1 == "RESULT" {
			delete kv
			for (i = 2; i <= NF; i++) { split($i, f, "="); kv[f[1]] = f[2] }
			if (kv["query"] == "ping") { printf "%s\t%s\t%s\tping\t%s\t%s\t\t\t\t\t0\t%s\t0\n", sys, rep, phase, kv["p50_ms"], kv["p99_ms"], kv["runs"]; next }
			printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", sys, rep, phase, kv["query"],
				kv["p50_ms"], kv["p99_ms"], kv["min_ms"], kv["max_ms"], kv["first_ms"], kv["rows"], kv["bad"],
				kv["runs"], kv["stopped"]
		}' "$outfile" >>"$results"
	local q
	for q in "${@:5}"; do # a query bench_query did not report (it failed before): all bad
		grep -q "^RESULT .* query=$q " "$outfile" ||
			printf '%s\t%s\t%s\t%s\t\t\t\t\t\t\t1\t0\t0\n' "$sys" "$rep" "$phase" "$q" >>"$results"
	done
	return 0
}

bq_args=(--hosts "$hosts" --duration "$duration" --runs "$runs" --seed "$query_seed" --q4 "$q4"
	--max-seconds "$max_seconds" --warmup-seconds "$warmup_seconds" --timeout 60)

# One repetition of a system: the cold runs (a restart per query), then the warm runs.
measure_system() {
	local sys=$1 rep=$2 q out label n
	label=$(sys_label "$sys")
	for q in Q1 Q2 Q3 Q4 Q5 Q6; do
		log "rep $rep: $label, cold $q"
		[ -n "$srv_pid" ] && stop_server keep
		start_server "$(server_kind "$sys")" "${sys_dir[$sys]}" || die "$sys did not restart"
		drop_page_cache
		out=$qlogs/$sys-r$rep-cold-$q.txt
		"$bq" --target "$sys" --addr "127.0.0.1:$http_port" "${bq_args[@]}" --queries "$q" --warmup 0 \
			--ping 0 --dataset "$dataset_desc" --commit "$commit" >"$out" 2>&1 || true
		record "$sys" "$rep" cold "$out" "$q"
	done
	log "rep $rep: $label, warm"
	out=$qlogs/$sys-r$rep-warm.txt
	"$bq" --target "$sys" --addr "127.0.0.1:$http_port" "${bq_args[@]}" \
		--dataset "$dataset_desc" --commit "$commit" >"$out" 2>&1 || true
	record "$sys" "$rep" warm "$out" Q1 Q2 Q3 Q4 Q5 Q6
	n=$(count_points "$sys")
	[ "$n" = "$file_lines" ] ||
		sys_note[$sys]="${sys_note[$sys]:+${sys_note[$sys]}; }rep $rep: ${n:-no} points answered after the runs, not $file_lines"
	stop_server keep
	[ -n "$stop_note" ] && sys_note[$sys]="${sys_note[$sys]:+${sys_note[$sys]}; }stop: $stop_note"
	return 0
}

# ---- the run ----

commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit-dirty"
dataset_desc="cpu-only $hosts hosts x $duration, seed $seed"
sys_list=()
for s in strata vm influx; do has_system "$s" && sys_list+=("$s"); done
[ ${#sys_list[@]} -gt 0 ] || die "no system to measure"
fs_type=$(df -T "$work" | awk 'NR == 2 { print $2 }')

cat <<EOF
query benchmark (bench/run_query.sh)
commit      $commit
build       ${build_type:-unknown} ($build)
machine     $(nproc) cores online, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(uname -sr)
file        $file ($file_lines lines, $file_values field values)
            $dataset_desc, from 2026-01-01T00:00:00Z
systems     $(for s in "${sys_list[@]}"; do
	case $s in
	strata) printf 'strata serve (--sync relaxed for loading); ' ;;
	vm) printf 'VictoriaMetrics %s; ' "$(dpkg-query -W -f='${Version}' victoria-metrics 2>/dev/null || true)" ;;
	influx) printf 'InfluxDB %s; ' "$(dpkg-query -W -f='${Version}' influxdb 2>/dev/null || true)" ;;
	esac
done | sed 's/; $//')
loading     bench_load, HTTP /write, 4 connections, batches of 5000 lines; then until every point is
            queryable; InfluxDB until its cache is in TSM files and compacted; a clean stop
client      bench_query, one keep-alive connection, $runs runs per query and phase, query seed $query_seed,
            Q4 as last($( [ "$q4" = all ] && echo '*' || echo usage_user )); each phase of a query bounded to ${max_seconds} s
cold        server restarted on its data before each query, $( [ "$can_drop" = 1 ] && echo "page cache dropped (sync; echo 3 > /proc/sys/vm/drop_caches) once it answers" || echo "page cache NOT dropped")
warm        same process, each query after an untimed pass over its own requests (at most ${warmup_seconds} s)
reps        $reps, interleaved by system; median of the reps' p50 and p99
data dirs   under $work ($fs_type); removed at the end
EOF
echo

start_all=$(date +%s)
for s in "${sys_list[@]}"; do load_system "$s"; done
for ((r = 1; r <= reps; r++)); do
	for s in "${sys_list[@]}"; do measure_system "$s" "$r"; done
done
elapsed=$(($(date +%s) - start_all))

# ---- report ----

sys_names=""
for s in "${sys_list[@]}"; do sys_names+="$s|$(sys_label "$s")|${load_secs[$s]:-}|${disk_mb[$s]:-}|${sys_note[$s]:-}"$'\n'; done

awk -F'\t' -v sysinfo="$sys_names" '
function med(k, col,    n, i, j, t, a) {
	n = 0
	for (i = 1; i <= nr[k]; i++) {
		t = v[k, i, col]
		if (t != "" && t != "nan" && t != "-nan") a[++n] = t + 0
	}
	if (n == 0) return "nan"
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function ms(x) {
	if (x == "nan") return "-"
	if (x >= 100) return sprintf("%.0f", x)
	if (x >= 10) return sprintf("%.1f", x)
	return sprintf("%.2f", x)
}
function cell(s, ph, q, col,    k) {
	k = s SUBSEP ph SUBSEP q
	if (!(k in nr)) return "-"
	if (bad[k] > 0 && ok[k] == 0) return "ERR"
	return ms(med(k, col)) (bad[k] > 0 ? "!" : "") (stopped[k] > 0 ? "*" : "")
}
function ratio(a, b, ph, q, col,    ka, kb, x, y) {
	ka = a SUBSEP ph SUBSEP q; kb = b SUBSEP ph SUBSEP q
	if (!(ka in nr) || !(kb in nr) || bad[ka] > 0 || bad[kb] > 0) return "-"
	x = med(ka, col); y = med(kb, col)
	if (x == "nan" || y == "nan" || y == 0) return "-"
	return sprintf("%.2f", x / y)
}
BEGIN {
	ns = split(sysinfo, L, "\n")
	for (i = 1; i <= ns; i++) if (L[i] != "") {
		split(L[i], f, "|"); sys[++nsys] = f[1]; label[f[1]] = f[2]; lsec[f[1]] = f[3]; dmb[f[1]] = f[4]; note[f[1]] = f[5]
	}
	nq = split("Q1 Q2 Q3 Q4 Q5 Q6", Q, " ")
}
{
	k = $1 SUBSEP $3 SUBSEP $4
	i = ++nr[k]
	for (c = 5; c <= 13; c++) v[k, i, c] = $c
	bad[k] += $11; if ($11 == 0 || $11 < $12) ok[k]++
	stopped[k] += $13
}
END {
	printf "p50 / p99 latency, ms (median over the reps)\n"
	printf "%-5s %-5s", "query", "cache"
	for (s = 1; s <= nsys; s++) printf "  %21s", label[sys[s]]
	if (sys[1] == "strata") for (s = 2; s <= nsys; s++) printf "  %17s", "strata/" (sys[s] == "vm" ? "VM" : "Influx")
	printf "\n%-5s %-5s", "", ""
	for (s = 1; s <= nsys; s++) printf "  %10s %10s", "p50", "p99"
	if (sys[1] == "strata") for (s = 2; s <= nsys; s++) printf "  %8s %8s", "p50", "p99"
	printf "\n"
	for (qi = 1; qi <= nq; qi++) for (pi = 1; pi <= 2; pi++) {
		ph = pi == 1 ? "cold" : "warm"; q = Q[qi]
		printf "%-5s %-5s", pi == 1 ? q : "", ph
		for (s = 1; s <= nsys; s++) printf "  %10s %10s", cell(sys[s], ph, q, 5), cell(sys[s], ph, q, 6)
		if (sys[1] == "strata") for (s = 2; s <= nsys; s++)
			printf "  %8s %8s", ratio("strata", sys[s], ph, q, 5), ratio("strata", sys[s], ph, q, 6)
		printf "\n"
	}
	printf "\nfirst query after the restart (cold), ms; answer size (rows, warm; see bench/README.md)\n"
	printf "%-5s", "query"
	for (s = 1; s <= nsys; s++) printf "  %21s", label[sys[s]]
	printf "\n%-5s", ""
	for (s = 1; s <= nsys; s++) printf "  %10s %10s", "first", "rows"
	printf "\n"
	for (qi = 1; qi <= nq; qi++) {
		q = Q[qi]
		printf "%-5s", q
		for (s = 1; s <= nsys; s++) {
			k = sys[s] SUBSEP "warm" SUBSEP q
			printf "  %10s %10s", cell(sys[s], "cold", q, 9), (k in nr) ? (med(k, 10) == "nan" ? "-" : sprintf("%.0f", med(k, 10))) : "-"
		}
		printf "\n"
	}
	printf "%-5s", "ping"
	for (s = 1; s <= nsys; s++) printf "  %10s %10s", cell(sys[s], "warm", "ping", 5), ""
	printf "   (client ceiling: GET /ping or /health round trip, p50)\n"
	printf "\nloading (HTTP, to queryable) and data on disk after a clean stop\n"
	for (s = 1; s <= nsys; s++)
		printf "  %-16s %8s s  %6s MB%s\n", label[sys[s]], lsec[sys[s]], dmb[sys[s]], note[sys[s]] != "" ? "  NOTE: " note[sys[s]] : ""
}' "$results"

cat <<EOF

ERR: every answer bad; !: some answers bad (see the logs); *: a phase stopped by --max-seconds.
ratios: strata / peer of the medians, <1 strata faster; "-" where either side had bad answers.
logs: $qlogs (bench_query output of every phase, first bad answer included)
raw results: $results   (elapsed ${elapsed} s)
EOF
