/*
 * serve.c — `strata serve`: the engine, the catalog and the listeners.
 *
 * SIGINT and SIGTERM are blocked in every thread and taken by sigwait() in
 * the main thread, which then stops the listeners (requests in flight
 * finish, and are acknowledged only once durable), closes the catalog and
 * closes the engine (flushing the memtable) before exiting 0.
 */
#include "tools/cli.h"
#include "tools/store.h"
#include "ingest/http.h"
#include "ingest/writer.h"
#include "lsm/catalog.h"
#include "lsm/log.h"
#include "lsm/lsm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct serve_config {
	const char *data_dir;
	const char *http_addr;
	const char *tcp_addr;
	const char *udp_addr;
	bool relaxed;
	bool auto_create_db;
	size_t max_body_bytes;
} serve_config;

static void serve_usage(FILE *f)
{
	fputs("usage: strata serve [options]\n"
	      "  --data DIR             data directory (default ./strata-data)\n"
	      "  --http ADDR:PORT       HTTP API address (default 127.0.0.1:8086)\n"
	      "  --tcp ADDR:PORT        line protocol over TCP (default 127.0.0.1:8089)\n"
	      "  --udp ADDR:PORT        line protocol over UDP (default 127.0.0.1:8089)\n"
	      "  --sync sync|relaxed    acknowledge after fdatasync (default) or after the WAL write\n"
	      "  --auto-create-db       a write to an unknown database creates it (default: 404)\n"
	      "  --max-body-bytes N     largest HTTP request body, after gzip decoding (default 25 MiB)\n"
	      "  --log-level LEVEL      debug, info, warn or error (default info)\n",
	      f);
}

int cli_serve(int argc, char **argv)
{
	serve_config cfg = { "./strata-data", "127.0.0.1:8086", "127.0.0.1:8089", "127.0.0.1:8089",
			     false, false, 25u << 20 };
	ingest_http_options http_opt;
	ingest_options ingest_opt;
	ingest_engine engine;
	ingest_http *http = NULL;
	cli_store store = { 0 };
	lsm_options opt;
	sigset_t signals;
	int sig = 0, rc, exit_code = 1;

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
		} else if (cli_option(argc, argv, &i, "--max-body-bytes", &v)) {
			char *end;
			unsigned long long n = strtoull(v, &end, 10);

			if (*end || n < 1024 || n > (1ull << 31)) {
				fprintf(stderr, "strata serve: --max-body-bytes takes 1024 .. 2147483648\n");
				return 2;
			}
			cfg.max_body_bytes = (size_t)n;
		} else if (cli_option(argc, argv, &i, "--sync", &v)) {
			if (strcmp(v, "relaxed") != 0 && strcmp(v, "sync") != 0) {
				fprintf(stderr, "strata serve: --sync takes sync or relaxed\n");
				return 2;
			}
			cfg.relaxed = strcmp(v, "relaxed") == 0;
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
	ingest_engine_init(&engine, store.db, store.catalog, &ingest_opt);

	ingest_http_options_default(&http_opt);
	http_opt.addr = cfg.http_addr;
	http_opt.max_body_bytes = cfg.max_body_bytes;
	rc = ingest_http_start(&http, &engine, &http_opt);
	if (rc) {
		cli_fail("cannot start the HTTP API", rc);
		goto out;
	}
	LOG_INFO("event=serving data=%s http=%s sync=%s", cfg.data_dir, cfg.http_addr, cfg.relaxed ? "relaxed" : "sync");

	while (sigwait(&signals, &sig) != 0)
		;
	LOG_INFO("event=stopping signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
	exit_code = 0;
out:
	ingest_http_stop(http);
	rc = cli_store_close(&store);
	if (rc) {
		cli_fail("closing the data directory", rc);
		exit_code = 1;
	}
	return exit_code;
}
