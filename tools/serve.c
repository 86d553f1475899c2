/*
 * serve.c — `strata serve`: the engine, the catalog, the listeners and the
 * query engine behind /query (tools/http_query.h).
 *
 * SIGINT and SIGTERM are blocked in every thread and taken by sigwait() in
 * the main thread, which then stops the listeners (requests in flight
 * finish, and are acknowledged only once durable), closes the catalog and
 * closes the engine (flushing the memtable) before exiting 0.
 */
#include "tools/auth.h"
#include "tools/cli.h"
#include "tools/cq_runner.h"
#include "tools/http_query.h"
#include "tools/query_writer.h"
#include "tools/retention_runner.h"
#include "tools/store.h"
#include "ingest/http.h"
#include "ingest/listener_tcp.h"
#include "ingest/listener_udp.h"
#include "ingest/stream_batcher.h"
#include "ingest/writer.h"
#include "lsm/catalog.h"
#include "lsm/fault.h"
#include "lsm/log.h"
#include "lsm/lsm.h"
#include "query/exec.h"

#include <errno.h>
#include <unistd.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct serve_config {
	const char *data_dir;
	const char *http_addr;
	const char *tcp_addr;
	const char *udp_addr;
	const char *stream_db;
	bool relaxed;
	bool auto_create_db;
	size_t max_body_bytes;
	size_t max_inflight_bytes;
	size_t max_line_bytes;
	size_t max_query_response_bytes;
	query_limits limits;
	size_t memtable_bytes; /* 0: the engine's default */
	int64_t retention_check_interval_ns; /* how often expired windows are dropped */
	int64_t compact_settle_ns;           /* -1: the engine's default */
	uint64_t compact_threads;            /* 0: the engine's default */
	uint64_t cache_bytes;                /* 0: an eighth of the memory (default_cache_bytes) */
} serve_config;

static void serve_usage(FILE *f)
{
	fputs("usage: strata serve [options]\n"
	      "  --data DIR             data directory (default ./strata-data)\n"
	      "  --http ADDR:PORT       HTTP API address (default 127.0.0.1:8086)\n"
	      "  --tcp ADDR:PORT        line protocol over TCP (default 127.0.0.1:8089)\n"
	      "  --udp ADDR:PORT        line protocol over UDP (default 127.0.0.1:8089)\n"
	      "  --stream-db NAME       database of TCP and UDP lines (default strata, created if missing)\n"
	      "  --no-tcp, --no-udp     do not listen for line protocol over TCP / UDP\n"
	      "  --sync sync|relaxed    acknowledge after fdatasync (default) or after the WAL write\n"
	      "  --auto-create-db       a write to an unknown database creates it (default: 404)\n"
	      "  --max-body-bytes N     largest HTTP request body, after gzip decoding (default 25 MiB)\n"
	      "  --max-inflight-bytes N request bodies held at once over all connections; past it\n"
	      "                         writes are answered 503 + Retry-After (default 256 MiB)\n"
	      "  --max-line-bytes N     longest line protocol line (default 1 MiB); over TCP a longer\n"
	      "                         line is dropped and logged, the connection goes on\n"
	      "  --query-timeout DUR    longest run of one /query request, e.g. 30s, 5m, 500ms;\n"
	      "                         0 for none (default 60s)\n"
	      "  --query-max-series N   series one SELECT may read (default 0: no limit)\n"
	      "  --query-max-points N   points one SELECT may read (default 0: no limit)\n"
	      "  --query-max-buckets N  GROUP BY time buckets per series (default 1000000; 0: no limit)\n"
	      "  --max-query-response-bytes N\n"
	      "                         largest /query response, built in memory before it is sent;\n"
	      "                         past it the answer is 400 with an error (default 256 MiB)\n"
	      "  --memtable-bytes N     a memtable this full is flushed to tables (default 64 MiB)\n"
	      "  --max-series N         series in the catalog, all databases; a line making one more\n"
	      "                         is refused naming the limit (default 0: no limit)\n"
	      "  --max-series-per-db N  the same limit for each database on its own (default 0: no limit)\n"
	      "  --max-tags N           tags of one point (default 256)\n"
	      "  --max-connections N    HTTP connections open at once (default 1024)\n"
	      "  --max-connections-per-ip N\n"
	      "                         HTTP (and line protocol TCP) connections from one client address\n"
	      "                         (default 256; 0: no limit)\n"
	      "  --request-timeout DUR  longest time to receive one HTTP request, headers and body, or to\n"
	      "                         send its response; a slower connection is cut (default 60s; 0: none)\n"
	      "  --auth FILE            require credentials on the HTTP API: users and tokens of FILE\n"
	      "                         (made with `strata auth`; see docs/security.md)\n"
	      "  --auth-open LIST       routes open without credentials: none or any of ping,health,metrics\n"
	      "                         (default ping)\n"
	      "  --retention-check-interval DUR\n"
	      "                         how often expired time windows are dropped (default 1m;\n"
	      "                         docs/retention.md)\n"
	      "  --cache-bytes N        block cache of decoded blocks, in bytes (default an eighth of\n"
	      "                         the machine's memory, at least 256 MiB)\n"
	      "  --compact-settle DUR   late writes into a closed window are folded into its final form\n"
	      "                         once it has had no new table for this long, or once they hold\n"
	      "                         a quarter of its bytes (default 10m; docs/storage-engine.md)\n"
	      "  --compact-threads N    threads that merge a big closed window into its final form,\n"
	      "                         each a range of its series (default 2; 1 .. 8)\n"
	      "  --log-level LEVEL      debug, info, warn or error (default info)\n",
	      f);
}

/*
 * An eighth of the machine's memory, at least 256 MiB: a server's memory is
 * there to keep decoded blocks, and the page cache keeps the files beside.
 */
static size_t default_cache_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	uint64_t eighth = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page / 8 : 0;

	return eighth > (256u << 20) ? (size_t)eighth : (size_t)256 << 20;
}

/* A byte count in 1 KiB .. 2 GiB. 0 or -1. */
static int parse_size(const char *text, size_t *out)
{
	char *end;
	unsigned long long n = strtoull(text, &end, 10);

	if (*end || end == text || n < 1024 || n > (1ull << 31))
		return -1;
	*out = (size_t)n;
	return 0;
}

/*
 * A duration: an integer and a unit (ns, us, ms, s, m, h), or 0. 0 or -1.
 */
static int parse_duration(const char *text, int64_t *out)
{
	static const struct {
		const char *unit;
		int64_t ns;
	} units[] = { { "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", INT64_C(1000000000) },
		      { "m", INT64_C(60000000000) }, { "h", INT64_C(3600000000000) } };
	char *end;
	unsigned long long n;

	if (*text < '0' || *text > '9')
		return -1;
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno)
		return -1;
	if (*end == '\0') {
		if (n != 0)
			return -1; /* a bare number other than 0 says no unit */
		*out = 0;
		return 0;
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(end, units[i].unit) == 0) {
			if (n > (unsigned long long)(INT64_MAX / units[i].ns))
				return -1;
			*out = (int64_t)n * units[i].ns;
			return 0;
		}
	}
	return -1;
}

/* A count in 0 .. 2^63. 0 or -1. */
static int parse_count(const char *text, uint64_t *out)
{
	char *end;
	unsigned long long n;

	if (*text < '0' || *text > '9')
		return -1;
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno || *end || n > (unsigned long long)INT64_MAX)
		return -1;
	*out = n;
	return 0;
}

/* Limits of the connections and the catalog, and authentication (docs/security.md). */
typedef struct serve_security {
	uint64_t max_series;       /* 0: no limit */
	uint64_t max_series_per_db; /* 0: no limit */
	uint64_t max_tags;
	uint64_t max_connections;
	uint64_t max_connections_per_ip;
	int64_t request_timeout_ns;
	const char *auth_file;     /* NULL: no authentication */
	unsigned auth_open;        /* INGEST_HTTP_OPEN_* */
} serve_security;

/* "none" or a comma-separated list of ping, health, metrics. 0 or -1. */
static int parse_open_routes(const char *text, unsigned *out)
{
	static const struct {
		const char *name;
		unsigned flag;
	} routes[] = { { "ping", INGEST_HTTP_OPEN_PING }, { "health", INGEST_HTTP_OPEN_HEALTH },
		       { "metrics", INGEST_HTTP_OPEN_METRICS } };

	*out = 0;
	if (strcmp(text, "none") == 0)
		return 0;
	while (*text) {
		size_t n = strcspn(text, ","), i;

		for (i = 0; i < sizeof routes / sizeof routes[0]; i++)
			if (strlen(routes[i].name) == n && strncmp(text, routes[i].name, n) == 0)
				break;
		if (i == sizeof routes / sizeof routes[0])
			return -1;
		*out |= routes[i].flag;
		text += n;
		if (*text == ',' && *++text == '\0')
			return -1;
	}
	return 0;
}

/*
 * One option of serve_security at argv[*i]: 1 taken, 0 another option, -1
 * a bad value (the message is printed).
 */
static int security_option(int argc, char **argv, int *i, serve_security *sec)
{
	const char *v;

	if (cli_option(argc, argv, i, "--max-series", &v)) {
		if (parse_count(v, &sec->max_series) == 0)
			return 1;
		fprintf(stderr, "strata serve: --max-series takes a count (0: no limit)\n");
	} else if (cli_option(argc, argv, i, "--max-series-per-db", &v)) {
		if (parse_count(v, &sec->max_series_per_db) == 0)
			return 1;
		fprintf(stderr, "strata serve: --max-series-per-db takes a count (0: no limit)\n");
	} else if (cli_option(argc, argv, i, "--max-tags", &v)) {
		if (parse_count(v, &sec->max_tags) == 0 && sec->max_tags >= 1 && sec->max_tags <= 65535)
			return 1;
		fprintf(stderr, "strata serve: --max-tags takes 1 .. 65535\n");
	} else if (cli_option(argc, argv, i, "--max-connections", &v)) {
		if (parse_count(v, &sec->max_connections) == 0 && sec->max_connections >= 1 &&
		    sec->max_connections <= 65536)
			return 1;
		fprintf(stderr, "strata serve: --max-connections takes 1 .. 65536\n");
	} else if (cli_option(argc, argv, i, "--max-connections-per-ip", &v)) {
		if (parse_count(v, &sec->max_connections_per_ip) == 0 && sec->max_connections_per_ip <= 65536)
			return 1;
		fprintf(stderr, "strata serve: --max-connections-per-ip takes 0 .. 65536 (0: no limit)\n");
	} else if (cli_option(argc, argv, i, "--request-timeout", &v)) {
		if (parse_duration(v, &sec->request_timeout_ns) == 0 &&
		    (sec->request_timeout_ns == 0 || sec->request_timeout_ns >= INT64_C(100000000)) &&
		    sec->request_timeout_ns <= INT64_C(86400000000000))
			return 1;
		fprintf(stderr, "strata serve: --request-timeout takes a duration from 100ms to 24h, or 0 for none\n");
	} else if (cli_option(argc, argv, i, "--auth", &v)) {
		sec->auth_file = v;
		return 1;
	} else if (cli_option(argc, argv, i, "--auth-open", &v)) {
		if (parse_open_routes(v, &sec->auth_open) == 0)
			return 1;
		fprintf(stderr, "strata serve: --auth-open takes none or a list of ping, health, metrics\n");
	} else {
		return 0;
	}
	return -1;
}

/* Whether an address "host:port" is a loopback one (no other machine can reach it). */
static bool loopback_addr(const char *addr)
{
	return strncmp(addr, "127.", 4) == 0 || strncmp(addr, "[::1]:", 6) == 0 || strncmp(addr, "localhost:", 10) == 0;
}

/* The TCP and UDP line-protocol listeners and the batcher they share. */
typedef struct serve_listeners {
	ingest_engine *engine;
	ingest_stream_batcher *batcher;
	ingest_tcp_listener *tcp;
	ingest_udp_listener *udp;
	uint32_t max_connections_per_ip; /* of the TCP listener (0: no limit) */
} serve_listeners;

static int start_stream_listeners(serve_listeners *l, const serve_config *cfg)
{
	ingest_tcp_options tcp;
	ingest_udp_options udp;
	int rc;

	if (!cfg->tcp_addr && !cfg->udp_addr)
		return 0;
	rc = lsm_catalog_create_database(l->engine->catalog, cfg->stream_db);
	if (rc == 0)
		rc = ingest_stream_batcher_new(&l->batcher, l->engine, NULL);
	if (rc == 0 && cfg->tcp_addr) {
		ingest_tcp_options_default(&tcp);
		tcp.addr = cfg->tcp_addr;
		tcp.db = cfg->stream_db;
		tcp.max_line_bytes = (uint32_t)cfg->max_line_bytes;
		tcp.max_connections_per_ip = l->max_connections_per_ip ? l->max_connections_per_ip : UINT32_MAX;
		rc = ingest_tcp_listener_start(&l->tcp, l->batcher, &tcp);
	}
	if (rc == 0 && cfg->udp_addr) {
		ingest_udp_options_default(&udp);
		udp.addr = cfg->udp_addr;
		udp.db = cfg->stream_db;
		rc = ingest_udp_listener_start(&l->udp, l->batcher, &udp);
	}
	if (rc)
		cli_fail("cannot start the line protocol listeners", rc);
	return rc;
}

/* Stops reading, then writes what the batcher still holds. */
static void stop_stream_listeners(serve_listeners *l)
{
	if (l->tcp)
		ingest_tcp_listener_stop(l->tcp);
	if (l->udp)
		ingest_udp_listener_stop(l->udp);
	if (l->batcher)
		ingest_stream_batcher_free(l->batcher);
	memset(l, 0, sizeof *l);
}

/* What /metrics adds to the HTTP API's own counters. */
typedef struct serve_metrics {
	serve_listeners *listeners;
	http_query *query;
	auth *auth;          /* NULL without --auth */
	uint64_t max_series; /* --max-series */
} serve_metrics;

static void stream_metrics(serve_listeners *l, FILE *f)
{
	if (l->batcher) {
		ingest_stream_batcher_stats b;

		ingest_stream_batcher_get_stats(l->batcher, &b);
		fprintf(f, "# HELP strata_stream_points_total Points written from the TCP and UDP listeners.\n"
			   "# TYPE strata_stream_points_total counter\nstrata_stream_points_total %llu\n"
			   "# HELP strata_stream_bytes_total Line protocol bytes the TCP and UDP listeners queued.\n"
			   "# TYPE strata_stream_bytes_total counter\nstrata_stream_bytes_total %llu\n"
			   "# HELP strata_stream_lines_rejected_total Lines from TCP and UDP rejected (syntax, type "
			   "conflicts, limits).\n"
			   "# TYPE strata_stream_lines_rejected_total counter\nstrata_stream_lines_rejected_total %llu\n"
			   "# HELP strata_stream_write_errors_total TCP and UDP writes the engine refused.\n"
			   "# TYPE strata_stream_write_errors_total counter\nstrata_stream_write_errors_total %llu\n"
			   "# HELP strata_stream_queue_bytes Bytes queued or being written for TCP and UDP now.\n"
			   "# TYPE strata_stream_queue_bytes gauge\nstrata_stream_queue_bytes %llu\n"
			   "# HELP strata_stream_blocked_seconds_total Time TCP and UDP readers were held back by a "
			   "full queue.\n"
			   "# TYPE strata_stream_blocked_seconds_total counter\nstrata_stream_blocked_seconds_total %.6f\n",
			(unsigned long long)b.points, (unsigned long long)b.bytes_in, (unsigned long long)b.lines_rejected,
			(unsigned long long)b.write_errors, (unsigned long long)b.queue_bytes, (double)b.blocked_ns / 1e9);
	}
	if (l->tcp) {
		ingest_tcp_stats t;

		ingest_tcp_listener_get_stats(l->tcp, &t);
		fprintf(f, "# HELP strata_tcp_connections TCP line protocol connections open now.\n"
			   "# TYPE strata_tcp_connections gauge\nstrata_tcp_connections %llu\n"
			   "# HELP strata_tcp_bytes_total Bytes read by the TCP listener.\n"
			   "# TYPE strata_tcp_bytes_total counter\nstrata_tcp_bytes_total %llu\n"
			   "# HELP strata_tcp_lines_too_long_total TCP lines dropped past --max-line-bytes.\n"
			   "# TYPE strata_tcp_lines_too_long_total counter\nstrata_tcp_lines_too_long_total %llu\n",
			(unsigned long long)t.connections_open, (unsigned long long)t.bytes_read,
			(unsigned long long)t.lines_too_long);
	}
	if (l->udp) {
		ingest_udp_stats u;

		ingest_udp_listener_get_stats(l->udp, &u);
		fprintf(f, "# HELP strata_udp_datagrams_total Datagrams read by the UDP listener.\n"
			   "# TYPE strata_udp_datagrams_total counter\nstrata_udp_datagrams_total %llu\n"
			   "# HELP strata_udp_bytes_total Bytes of the datagrams read by the UDP listener.\n"
			   "# TYPE strata_udp_bytes_total counter\nstrata_udp_bytes_total %llu\n"
			   "# HELP strata_udp_drops_total Datagrams lost: dropped by the kernel or cut short.\n"
			   "# TYPE strata_udp_drops_total counter\nstrata_udp_drops_total %llu\n",
			(unsigned long long)u.datagrams, (unsigned long long)u.bytes,
			(unsigned long long)(u.drops_kernel + u.drops_truncated));
	}
}

static void serve_metrics_write(void *ctx, void *out)
{
	serve_metrics *m = ctx;

	stream_metrics(m->listeners, out);
	if (m->query)
		http_query_metrics(m->query, out);
	if (m->auth)
		auth_metrics(m->auth, out);
	fprintf(out, "# HELP strata_series_limit The --max-series limit (0: none).\n"
		     "# TYPE strata_series_limit gauge\nstrata_series_limit %llu\n",
		(unsigned long long)m->max_series);
}

int cli_serve(int argc, char **argv)
{
	serve_config cfg = { "./strata-data", "127.0.0.1:8086", "127.0.0.1:8089", "127.0.0.1:8089", "strata",
			     false, false, 25u << 20, 256u << 20, 1u << 20, 256u << 20, { 0 }, 0, 0, -1, 0, 0 };
	serve_listeners lis = { 0 };
	serve_metrics metrics = { .listeners = &lis };
	query_engine *qe = NULL;
	http_query *hq = NULL;
	http_query_options hq_opt;
	ingest_http_options http_opt;
	ingest_options ingest_opt;
	ingest_engine engine;
	query_cq_store *cqs = NULL;
	cq_runner cq_run = { 0 };
	ingest_http *http = NULL;
	cli_store store = { 0 };
	lsm_options opt;
	cli_retention_runner retention;
	sigset_t signals;
	int sig = 0, rc, exit_code = 1;
	serve_security sec = { .max_tags = 256, .max_connections = 1024, .max_connections_per_ip = 256,
			       .request_timeout_ns = INT64_C(60000000000), .auth_open = INGEST_HTTP_OPEN_PING };
	auth *creds = NULL;

	query_limits_default(&cfg.limits);
	cfg.limits.timeout_ns = INT64_C(60000000000);
	for (int i = 1; i < argc; i++) {
		const char *v;

		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			serve_usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--auto-create-db") == 0) {
			cfg.auto_create_db = true;
		} else if (cli_option(argc, argv, &i, "--data", &v)) {
			cfg.data_dir = v;
		} else if (cli_option(argc, argv, &i, "--http", &v)) {
			cfg.http_addr = v;
		} else if (cli_option(argc, argv, &i, "--tcp", &v)) {
			cfg.tcp_addr = v;
		} else if (cli_option(argc, argv, &i, "--udp", &v)) {
			cfg.udp_addr = v;
		} else if (strcmp(argv[i], "--no-tcp") == 0) {
			cfg.tcp_addr = NULL;
		} else if (strcmp(argv[i], "--no-udp") == 0) {
			cfg.udp_addr = NULL;
		} else if (cli_option(argc, argv, &i, "--stream-db", &v)) {
			cfg.stream_db = v;
		} else if (cli_option(argc, argv, &i, "--max-body-bytes", &v)) {
			if (parse_size(v, &cfg.max_body_bytes) != 0) {
				fprintf(stderr, "strata serve: --max-body-bytes takes 1024 .. 2147483648\n");
				return 2;
			}
		} else if (cli_option(argc, argv, &i, "--max-inflight-bytes", &v)) {
			if (parse_size(v, &cfg.max_inflight_bytes) != 0) {
				fprintf(stderr, "strata serve: --max-inflight-bytes takes 1024 .. 2147483648\n");
				return 2;
			}
		} else if (cli_option(argc, argv, &i, "--max-line-bytes", &v)) {
			if (parse_size(v, &cfg.max_line_bytes) != 0 || cfg.max_line_bytes > (64u << 20)) {
				fprintf(stderr, "strata serve: --max-line-bytes takes 1024 .. 67108864\n");
				return 2;
			}
		} else if (cli_option(argc, argv, &i, "--sync", &v)) {
			if (strcmp(v, "relaxed") != 0 && strcmp(v, "sync") != 0) {
				fprintf(stderr, "strata serve: --sync takes sync or relaxed\n");
				return 2;
			}
			cfg.relaxed = strcmp(v, "relaxed") == 0;
		} else if (cli_option(argc, argv, &i, "--query-timeout", &v)) {
			if (parse_duration(v, &cfg.limits.timeout_ns) != 0) {
				fprintf(stderr, "strata serve: --query-timeout takes a duration such as 30s, 5m or 500ms, "
						"or 0 for none\n");
				return 2;
			}
		} else if (cli_option(argc, argv, &i, "--query-max-series", &v)) {
			if (parse_count(v, &cfg.limits.max_series) != 0) {
				fprintf(stderr, "strata serve: --query-max-series takes a count (0: no limit)\n");
				return 2;
			}
		} else if (cli_option(argc, argv, &i, "--query-max-points", &v)) {
			if (parse_count(v, &cfg.limits.max_points) != 0) {
				fprintf(stderr, "strata serve: --query-max-points takes a count (0: no limit)\n");
				return 2;
			}
		} else if (cli_option(argc, argv, &i, "--query-max-buckets", &v)) {
			if (parse_count(v, &cfg.limits.max_buckets) != 0) {
				fprintf(stderr, "strata serve: --query-max-buckets takes a count (0: no limit)\n");
				return 2;
			}
		} else if (cli_option(argc, argv, &i, "--max-query-response-bytes", &v)) {
			if (parse_size(v, &cfg.max_query_response_bytes) != 0) {
				fprintf(stderr, "strata serve: --max-query-response-bytes takes 1024 .. 2147483648\n");
				return 2;
			}
		} else if (cli_option(argc, argv, &i, "--memtable-bytes", &v)) {
			if (parse_size(v, &cfg.memtable_bytes) != 0) {
				fprintf(stderr, "strata serve: --memtable-bytes takes 1024 .. 2147483648\n");
				return 2;
			}
		} else if (cli_option(argc, argv, &i, "--retention-check-interval", &v)) {
			if (parse_duration(v, &cfg.retention_check_interval_ns) != 0 ||
			    cfg.retention_check_interval_ns < INT64_C(1000000000)) {
				fprintf(stderr, "strata serve: --retention-check-interval takes a duration of 1s or more\n");
				return 2;
			}
		} else if (cli_option(argc, argv, &i, "--cache-bytes", &v)) {
			if (parse_count(v, &cfg.cache_bytes) != 0 || cfg.cache_bytes < (1u << 20) ||
			    cfg.cache_bytes > (UINT64_C(1) << 40)) {
				fprintf(stderr, "strata serve: --cache-bytes takes 1048576 .. 1099511627776\n");
				return 2;
			}
		} else if (cli_option(argc, argv, &i, "--compact-settle", &v)) {
			if (parse_duration(v, &cfg.compact_settle_ns) != 0 || cfg.compact_settle_ns < 0) {
				fprintf(stderr, "strata serve: --compact-settle takes a duration (0s or more)\n");
				return 2;
			}
		} else if (cli_option(argc, argv, &i, "--compact-threads", &v)) {
			if (parse_count(v, &cfg.compact_threads) != 0 || cfg.compact_threads < 1 || cfg.compact_threads > 8) {
				fprintf(stderr, "strata serve: --compact-threads takes 1 .. 8\n");
				return 2;
			}
		} else if ((rc = security_option(argc, argv, &i, &sec)) != 0) {
			if (rc < 0)
				return 2;
		} else if (cli_option(argc, argv, &i, "--log-level", &v)) {
			enum strata_log_level level;

			if (strata_log_parse_level(v, &level) != 0) {
				fprintf(stderr, "strata serve: %s\n", strata_last_error());
				return 2;
			}
			strata_log_set_level(level);
		} else {
			fprintf(stderr, "strata serve: unknown option '%s'\n", argv[i]);
			serve_usage(stderr);
			return 2;
		}
	}

	/* Block the stop signals before any thread starts, so only sigwait sees them. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	cli_store_options(&opt);
	cli_retention_init(&retention, &opt); /* the compaction hook, before the engine opens */
	opt.commit.relaxed = cfg.relaxed;
	if (cfg.memtable_bytes)
		opt.memtable_bytes = cfg.memtable_bytes;
	if (cfg.compact_settle_ns >= 0)
		opt.compact.late_settle_ns = cfg.compact_settle_ns;
	if (cfg.compact_threads)
		opt.compact.final_threads = (unsigned)cfg.compact_threads;
	opt.block_cache_bytes = cfg.cache_bytes ? (size_t)cfg.cache_bytes : default_cache_bytes();
	if (cli_store_open(&store, cfg.data_dir, &opt, "cannot open the data directory") != 0)
		return 1;
	ingest_options_default(&ingest_opt);
	ingest_opt.auto_create_db = cfg.auto_create_db;
	ingest_opt.limits.max_line_bytes = (uint32_t)cfg.max_line_bytes;
	ingest_opt.limits.max_tags = (uint32_t)sec.max_tags;
	lsm_catalog_set_max_series(store.catalog, sec.max_series);
	lsm_catalog_set_max_series_per_db(store.catalog, sec.max_series_per_db);
	rc = cli_retention_start(&retention, store.db, store.catalog, cfg.retention_check_interval_ns);
	if (rc) {
		cli_fail("cannot start the retention thread", rc);
		goto out;
	}
	metrics.max_series = sec.max_series;
	if (sec.auth_file) {
		rc = auth_open(&creds, sec.auth_file, NULL);
		if (rc) {
			cli_fail("cannot read the credentials file", rc);
			goto out;
		}
		metrics.auth = creds;
	} else if (!loopback_addr(cfg.http_addr)) {
		LOG_WARN("event=no_authentication http=%s reason=\"anyone who reaches this address may write and "
			 "query: start with --auth FILE (docs/security.md)\"", cfg.http_addr);
	}
	ingest_engine_init(&engine, store.db, store.catalog, &ingest_opt);

	lis.engine = &engine;
	lis.max_connections_per_ip = (uint32_t)sec.max_connections_per_ip;
	if (start_stream_listeners(&lis, &cfg) != 0)
		goto out;
	http_query_options_default(&hq_opt);
	hq_opt.max_response_bytes = cfg.max_query_response_bytes;
	rc = query_engine_new(&qe, store.db, store.catalog, &cfg.limits);
	if (rc == 0)
		query_engine_set_writer(qe, query_writer_write, &engine); /* SELECT ... INTO */
	if (rc == 0 && (rc = query_cq_open(&cqs, cfg.data_dir)) == 0) {
		query_engine_set_cqs(qe, cqs);
		rc = cq_runner_start(&cq_run, cqs, qe);
	}
	if (rc == 0)
		rc = http_query_new(&hq, qe, &hq_opt);
	if (rc) {
		cli_fail("cannot start the query engine", rc);
		goto out;
	}
	metrics.query = hq;
	/*
	 * Fault injection for tests (STRATA_FAULTS, lsm/fault.h), armed once the
	 * directory is open and recovered, so that a skip count counts only the
	 * operations of serving.
	 */
	rc = lsm_fault_arm_from_env();
	if (rc) {
		fprintf(stderr, "strata serve: %s\n", strata_last_error());
		exit_code = 2;
		goto out;
	}
	ingest_http_options_default(&http_opt);
	http_opt.addr = cfg.http_addr;
	http_opt.max_body_bytes = cfg.max_body_bytes;
	http_opt.max_inflight_bytes = cfg.max_inflight_bytes;
	http_opt.metrics = serve_metrics_write;
	http_opt.metrics_ctx = &metrics;
	http_opt.query = http_query_handle;
	http_opt.query_ctx = hq;
	http_opt.debug = cli_backup_http_handle; /* POST /debug/backup, from loopback only */
	http_opt.debug_ctx = store.db;
	http_opt.max_connections = (unsigned)sec.max_connections;
	http_opt.max_connections_per_ip = (unsigned)sec.max_connections_per_ip;
	http_opt.request_timeout_ms = (unsigned)(sec.request_timeout_ns / 1000000);
	if (creds) {
		http_opt.auth = auth_http_check;
		http_opt.auth_ctx = creds;
		http_opt.auth_open = sec.auth_open;
	}
	rc = ingest_http_start(&http, &engine, &http_opt);
	if (rc) {
		cli_fail("cannot start the HTTP API", rc);
		goto out;
	}
	LOG_INFO("event=serving data=%s http=%s tcp=%s udp=%s sync=%s query_timeout_ms=%" PRId64, cfg.data_dir,
		 cfg.http_addr, cfg.tcp_addr ? cfg.tcp_addr : "off", cfg.udp_addr ? cfg.udp_addr : "off",
		 cfg.relaxed ? "relaxed" : "sync", cfg.limits.timeout_ns / 1000000);

	while (sigwait(&signals, &sig) != 0)
		;
	LOG_INFO("event=stopping signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
	exit_code = 0;
out:
	if (hq)
		http_query_quiesce(hq); /* streamed responses let go of their connections */
	ingest_http_stop(http); /* no query runs after this */
	cq_runner_stop(&cq_run); /* before the engine it runs on */
	http_query_free(hq);
	query_engine_free(qe);
	query_cq_close(cqs);
	auth_close(creds);
	stop_stream_listeners(&lis);
	cli_retention_stop(&retention); /* before the catalog its hook reads closes */
	rc = cli_store_close(&store);
	if (rc) {
		cli_fail("closing the data directory", rc);
		exit_code = 1;
	}
	cli_retention_deinit(&retention);
	return exit_code;
}
