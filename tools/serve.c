/*
 * serve.c — `strata serve`: the engine, the catalog, the listeners and the
 * query engine behind /query (tools/http_query.h).
 *
 * SIGINT and SIGTERM are blocked in every thread and taken by sigwait() in
 * the main thread, which then stops the listeners (requests in flight
 * finish, and are acknowledged only once durable), closes the catalog and
 * closes the engine (flushing the memtable) before exiting 0.
 */
#include "tools/cli.h"
#include "tools/http_query.h"
#include "tools/store.h"
#include "ingest/http.h"
#include "ingest/listener_tcp.h"
#include "ingest/listener_udp.h"
#include "ingest/stream_batcher.h"
#include "ingest/writer.h"
#include "lsm/catalog.h"
#include "lsm/log.h"
#include "lsm/lsm.h"
#include "query/exec.h"

#include <errno.h>
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
	      "  --log-level LEVEL      debug, info, warn or error (default info)\n",
	      f);
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

/* The TCP and UDP line-protocol listeners and the batcher they share. */
typedef struct serve_listeners {
	ingest_engine *engine;
	ingest_stream_batcher *batcher;
	ingest_tcp_listener *tcp;
	ingest_udp_listener *udp;
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
} serve_metrics;

static void stream_metrics(serve_listeners *l, FILE *f)
{
	if (l->batcher) {
		ingest_stream_batcher_stats b;

		ingest_stream_batcher_get_stats(l->batcher, &b);
		fprintf(f, "# TYPE strata_stream_points_total counter\nstrata_stream_points_total %llu\n"
			   "# TYPE strata_stream_lines_rejected_total counter\nstrata_stream_lines_rejected_total %llu\n"
			   "# TYPE strata_stream_queue_bytes gauge\nstrata_stream_queue_bytes %llu\n"
			   "# TYPE strata_stream_blocked_seconds_total counter\nstrata_stream_blocked_seconds_total %.6f\n",
			(unsigned long long)b.points, (unsigned long long)b.lines_rejected,
			(unsigned long long)b.queue_bytes, (double)b.blocked_ns / 1e9);
	}
	if (l->tcp) {
		ingest_tcp_stats t;

		ingest_tcp_listener_get_stats(l->tcp, &t);
		fprintf(f, "# TYPE strata_tcp_connections gauge\nstrata_tcp_connections %llu\n"
			   "# TYPE strata_tcp_bytes_total counter\nstrata_tcp_bytes_total %llu\n"
			   "# TYPE strata_tcp_lines_too_long_total counter\nstrata_tcp_lines_too_long_total %llu\n",
			(unsigned long long)t.connections_open, (unsigned long long)t.bytes_read,
			(unsigned long long)t.lines_too_long);
	}
	if (l->udp) {
		ingest_udp_stats u;

		ingest_udp_listener_get_stats(l->udp, &u);
		fprintf(f, "# TYPE strata_udp_datagrams_total counter\nstrata_udp_datagrams_total %llu\n"
			   "# TYPE strata_udp_drops_total counter\nstrata_udp_drops_total %llu\n",
			(unsigned long long)u.datagrams, (unsigned long long)(u.drops_kernel + u.drops_truncated));
	}
}

static void serve_metrics_write(void *ctx, void *out)
{
	serve_metrics *m = ctx;

	stream_metrics(m->listeners, out);
	if (m->query)
		http_query_metrics(m->query, out);
}

int cli_serve(int argc, char **argv)
{
	serve_config cfg = { "./strata-data", "127.0.0.1:8086", "127.0.0.1:8089", "127.0.0.1:8089", "strata",
			     false, false, 25u << 20, 256u << 20, 1u << 20, 256u << 20, { 0 } };
	serve_listeners lis = { 0 };
	serve_metrics metrics = { &lis, NULL };
	query_engine *qe = NULL;
	http_query *hq = NULL;
	http_query_options hq_opt;
	ingest_http_options http_opt;
	ingest_options ingest_opt;
	ingest_engine engine;
	ingest_http *http = NULL;
	cli_store store = { 0 };
	lsm_options opt;
	sigset_t signals;
	int sig = 0, rc, exit_code = 1;

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
	opt.commit.relaxed = cfg.relaxed;
	if (cli_store_open(&store, cfg.data_dir, &opt, "cannot open the data directory") != 0)
		return 1;
	ingest_options_default(&ingest_opt);
	ingest_opt.auto_create_db = cfg.auto_create_db;
	ingest_opt.limits.max_line_bytes = (uint32_t)cfg.max_line_bytes;
	ingest_engine_init(&engine, store.db, store.catalog, &ingest_opt);

	lis.engine = &engine;
	if (start_stream_listeners(&lis, &cfg) != 0)
		goto out;
	http_query_options_default(&hq_opt);
	hq_opt.max_response_bytes = cfg.max_query_response_bytes;
	rc = query_engine_new(&qe, store.db, store.catalog, &cfg.limits);
	if (rc == 0)
		rc = http_query_new(&hq, qe, &hq_opt);
	if (rc) {
		cli_fail("cannot start the query engine", rc);
		goto out;
	}
	metrics.query = hq;
	ingest_http_options_default(&http_opt);
	http_opt.addr = cfg.http_addr;
	http_opt.max_body_bytes = cfg.max_body_bytes;
	http_opt.max_inflight_bytes = cfg.max_inflight_bytes;
	http_opt.metrics = serve_metrics_write;
	http_opt.metrics_ctx = &metrics;
	http_opt.query = http_query_handle;
	http_opt.query_ctx = hq;
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
	ingest_http_stop(http); /* no query runs after this */
	http_query_free(hq);
	query_engine_free(qe);
	stop_stream_listeners(&lis);
	rc = cli_store_close(&store);
	if (rc) {
		cli_fail("closing the data directory", rc);
		exit_code = 1;
	}
	return exit_code;
}
