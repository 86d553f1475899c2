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
		"$strata" serve --data "$srv_dir/data" --http "127.0.0.1:$http_port" --tcp "127.0.0.1:$tcp_port" \
			--udp "127.0.0.1:$tcp_port" "${stream_db[@]}" --auto-create-db --sync "${sys#strata-}" \
			--log-level warn >>"$srv_log" 2>&1 &
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
