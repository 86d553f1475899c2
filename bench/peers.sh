# peers.sh — shell functions shared by bench/run_ingest.sh and bench/run_query.sh
# (sourced, not run): the cpu-only data file, loopback ports, and starting and
# stopping strata, VictoriaMetrics and InfluxDB 1.x on loopback, each by its pid.
#
# The sourcing script defines log and die, and sets before calling:
#   repo, work (data file cache, logs/, the servers' data dirs), keep_logs (0/1),
#   strata, gen (binaries), hosts, duration, seed (the data set), systems and
#   has_system (find_servers drops a peer that is not installed).
# It may set influx_data_conf: lines added to the [data] section of InfluxDB's
# configuration (run_query.sh shortens the cache's cold durations with it).
# State kept here: srv_pid, srv_dir, srv_log, http_port, tcp_port, write_url,
# disk_bytes, stop_note (see start_server and stop_server).

srv_pid=""
srv_dir=""

# Configures $build as a Release build of $repo and builds the targets given
# (log in $work/logs/cmake.log); dies when either step fails.
build_release() {
	log "building $* (Release) in $build"
	mkdir -p "$work/logs"
	cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$work/logs/cmake.log" 2>&1 ||
		die "cmake configure failed, see $work/logs/cmake.log"
	cmake --build "$build" --target "$@" -j"$(nproc)" >>"$work/logs/cmake.log" 2>&1 ||
		die "build failed, see $work/logs/cmake.log"
}
influx_data_conf=${influx_data_conf:-}

# Sets stream_db (the serve option that sends TCP lines to database bench, when
# serve has it), vm_bin and influx_bin; a peer not installed leaves $systems.
find_servers() {
	stream_db=()
	"$strata" serve --help 2>/dev/null | grep -q -- --stream-db && stream_db=(--stream-db bench)
	vm_bin=$(command -v victoria-metrics || true)
	influx_bin=$(command -v influxd || true)
	if has_system vm && [ -z "$vm_bin" ]; then
		log "victoria-metrics not installed (scripts/deps.sh --bench): skipped"
		systems=${systems//vm/}
	fi
	if has_system influx && [ -z "$influx_bin" ]; then
		log "influxd not installed (scripts/deps.sh --bench): skipped"
		systems=${systems//influx/}
	fi
	return 0
}

dur_s() { # 1d, 12h, 10m, 600s, 600 -> seconds
	local v=$1 n=${1%[smhd]}
	case "$v" in
	*d) echo $((n * 86400)) ;; *h) echo $((n * 3600)) ;; *m) echo $((n * 60)) ;; *) echo "$n" ;;
	esac
}

# The cpu-only file of hosts x duration from seed, generated once and cached
# under $work (its name carries the parameters and a checksum of the
# generator's source). Sets duration_s, file, file_lines, file_values, file_bytes.
gen_dataset() {
	local gen_sum
	duration_s=$(dur_s "$duration")
	gen_sum=$(cksum <"$repo/bench/bench_gen_cpu.c" | cut -d' ' -f1)
	file=$work/cpu-only-h$hosts-${duration}-s$seed-g$gen_sum.lp
	if [ ! -s "$file" ] || [ ! -s "$file.info" ]; then
		log "generating $file"
		rm -f "$work/cpu-only-h$hosts-${duration}-s$seed-g"*.lp* # older generators' files of the same set
		"$gen" --hosts "$hosts" --duration "$duration" --seed "$seed" --out "$file.tmp" 2>"$file.info.tmp" ||
			die "bench_gen_cpu failed: $(cat "$file.info.tmp")"
		mv "$file.tmp" "$file"
		mv "$file.info.tmp" "$file.info"
	fi
	file_lines=$(sed -n 's/.*: \([0-9]*\) lines, \([0-9]*\) field values, \([0-9]*\) bytes.*/\1/p' "$file.info")
	file_values=$(sed -n 's/.*: \([0-9]*\) lines, \([0-9]*\) field values, \([0-9]*\) bytes.*/\2/p' "$file.info")
	file_bytes=$(stat -c %s "$file")
	[ -n "$file_lines" ] || die "cannot read $file.info"
}

port_base=$((20000 + RANDOM % 20000))
free_port() { # sets port to the next port from port_base on which nothing listens
	while (exec 3<>"/dev/tcp/127.0.0.1/$port_base") 2>/dev/null; do
		port_base=$((port_base + 1))
	done
	port=$port_base
	port_base=$((port_base + 1))
	[ "$port_base" -lt 60000 ] || port_base=20000
}

wait_http() { # url, seconds: until it answers 2xx
	local url=$1 i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$srv_pid" 2>/dev/null || return 1
		curl -sf -o /dev/null "$url" && return 0
		sleep 0.1
	done
	return 1
}

# Starts a server: system (strata-sync, strata-relaxed, vm, influx), on new
# ports. With a second argument, a directory a previous start_server of the
# same system made and stop_server kept: the server restarts on its data.
# Otherwise on an empty temporary directory under $work.
# Sets srv_pid, srv_dir, srv_log, http_port, tcp_port, write_url.
start_server() {
	local sys=$1 reuse=${2:-}
	if [ -n "$reuse" ]; then
		srv_dir=$reuse
	else
		srv_dir=$(mktemp -d "$work/run-$sys-XXXXXX")
	fi
	srv_log=$work/logs/$sys-$(basename "$srv_dir").log
	free_port
	http_port=$port
	free_port
	tcp_port=$port
	case "$sys" in
	strata-sync|strata-relaxed)
		# --compact-settle: late tables folded 10 s after the load, as InfluxDB is configured to
		# compact fully 10 s after its last write (compact-full-write-cold-duration).
		"$strata" serve --data "$srv_dir/data" --http "127.0.0.1:$http_port" --tcp "127.0.0.1:$tcp_port" \
			--udp "127.0.0.1:$tcp_port" "${stream_db[@]}" --auto-create-db --sync "${sys#strata-}" \
			--compact-settle 10s --log-level warn >>"$srv_log" 2>&1 &
		srv_pid=$!
		wait_http "http://127.0.0.1:$http_port/ping" 30 || { tail -5 "$srv_log" >&2; return 1; }
		;;
	vm)
		"$vm_bin" -storageDataPath "$srv_dir/data" -httpListenAddr "127.0.0.1:$http_port" \
			-influxListenAddr "127.0.0.1:$tcp_port" -retentionPeriod 100y -loggerLevel ERROR \
			>>"$srv_log" 2>&1 &
		srv_pid=$!
		wait_http "http://127.0.0.1:$http_port/health" 30 || { tail -5 "$srv_log" >&2; return 1; }
		;;
	influx)
		local rpc_port
		free_port
		rpc_port=$port
		cat >"$srv_dir/influxdb.conf" <<-EOF
		reporting-disabled = true
		bind-address = "127.0.0.1:$rpc_port"
		[meta]
		  dir = "$srv_dir/data/meta"
		[data]
		  dir = "$srv_dir/data/data"
		  wal-dir = "$srv_dir/data/wal"
		  query-log-enabled = false
		$influx_data_conf
		[http]
		  bind-address = "127.0.0.1:$http_port"
		  log-enabled = false
		[monitor]
		  store-enabled = false
		[continuous_queries]
		  enabled = false
		[subscriber]
		  enabled = false
		[logging]
		  level = "error"
		EOF
		"$influx_bin" -config "$srv_dir/influxdb.conf" >>"$srv_log" 2>&1 &
		srv_pid=$!
		wait_http "http://127.0.0.1:$http_port/ping" 30 || { tail -5 "$srv_log" >&2; return 1; }
		[ -n "$reuse" ] || curl -sf -o /dev/null -XPOST "http://127.0.0.1:$http_port/query" \
			--data-urlencode "q=CREATE DATABASE bench" || return 1
		;;
	esac
	write_url="http://127.0.0.1:$http_port/write?db=bench&precision=ns"
}

# Stops the server by its pid (SIGTERM, a clean stop; SIGKILL after 120 s);
# sets disk_bytes and stop_note. Removes its directory, unless called as
# `stop_server keep` (then srv_dir still names it, for start_server).
stop_server() {
	local keep=${1:-} i
	stop_note=""
	kill -TERM "$srv_pid" 2>/dev/null || true
	for ((i = 0; i < 1200; i++)); do
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$srv_pid" 2>/dev/null; then
		kill -KILL "$srv_pid" 2>/dev/null || true
		stop_note="killed after 120 s"
	fi
	local st=0
	wait "$srv_pid" 2>/dev/null || st=$?
	[ -n "$stop_note" ] || [ "$st" = 0 ] || stop_note="exit status $st"
	srv_pid=""
	disk_bytes=$(du -s -B1 "$srv_dir/data" 2>/dev/null | cut -f1)
	[ "$keep_logs" = 1 ] || rm -f "$srv_log"
	[ "$keep" = keep ] && return 0
	rm -rf "$srv_dir"
	srv_dir=""
}

strata_metrics() { # name... -> values, space-separated, from strata's /metrics
	curl -sf "http://127.0.0.1:$http_port/metrics" | awk -v names="$*" '
		BEGIN { n = split(names, want, " ") }
		{ v[$1] = $2 }
		END { for (i = 1; i <= n; i++) printf "%s%s", (want[i] in v ? v[want[i]] : "nan"), (i < n ? " " : "\n") }'
}

# Prints what must stay unchanged while a system is at rest, or nothing while it is not.
rest_state() {
	local sys=$1 m
	case "$sys" in
	strata-*)
		m=$(strata_metrics strata_compaction_debt_bytes strata_compaction_active)
		[ "$m" = "0 0" ] && strata_metrics strata_compactions_total strata_sstables strata_sstable_bytes
		;;
	vm) # merges running and rows not yet in parts, summed over their label sets
		m=$(curl -sf "http://127.0.0.1:$http_port/metrics" | awk '
			/^vm_active_merges[{ ]/ || /^vm_pending_rows[{ ]/ { busy += $NF; seen = 1 }
			END { if (seen) print busy }')
		[ "$m" = 0 ] && du -s -B1 "$srv_dir/data" | cut -f1
		;;
	influx) # no WAL segment with data, no TSM file being written
		local wal cur
		wal=$(find "$srv_dir/data/wal" -name '*.wal' -size +1k 2>/dev/null | wc -l)
		cur=$(find "$srv_dir/data/data" \( -name '*.tsm' -o -name '*.tmp' \) -printf '%f:%s\n' 2>/dev/null | sort)
		[ "$wal" = 0 ] && [ -n "$cur" ] && ! grep -q '\.tmp:' <<<"$cur" && echo "$cur"
		;;
	esac
	return 0
}

# Waits until rest_state is not empty and unchanged for 3 s (6 looks 0.5 s
# apart; VictoriaMetrics 10 s, longer than the 5 s after which it writes the
# parts it holds in memory), at most settle_timeout s. Sets settle_s, from
# the call to the first of those looks (nan when it never came to rest: the
# figures after are then taken anyway, with a note).
wait_rest() {
	local sys=$1 i prev="" cur stable=0 t0 need=6
	: "${settle_timeout:=3600}"
	[ "$sys" = vm ] && need=20
	t0=$(date +%s.%N)
	settle_s=nan
	for ((i = 0; i < settle_timeout * 2; i++)); do
		kill -0 "$srv_pid" 2>/dev/null || return 1
		cur=$(rest_state "$sys")
		if [ -n "$cur" ] && [ "$cur" = "$prev" ]; then
			stable=$((stable + 1))
			if [ "$stable" -ge "$need" ]; then
				settle_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" -v n="$need" 'BEGIN { s = b - a - n / 2; printf "%.1f", s < 0 ? 0 : s }')
				return 0
			fi
		else
			stable=0
		fi
		prev=$cur
		sleep 0.5
	done
	return 1
}
