/*
 * serve.c — `strata serve`: opens the data directory and answers HTTP.
 *
 * The storage engine runs here today; the line-protocol listeners (HTTP
 * /write, TCP, UDP) and /query arrive with the ingest and query modules.
 * The HTTP server is libmicrohttpd with its own polling thread. SIGINT and
 * SIGTERM are blocked in every thread and taken by sigwait() in the main
 * thread, which then stops the HTTP server and closes the engine (flushing
 * the memtable) before exiting 0.
 */
#include "tools/cli.h"
#include "lsm/log.h"
#include "lsm/lsm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
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
} serve_config;

static void serve_usage(FILE *f)
{
	fputs("usage: strata serve [options]\n"
	      "  --data DIR           data directory (default ./strata-data)\n"
	      "  --http ADDR:PORT     HTTP API address (default 127.0.0.1:8086)\n"
	      "  --tcp ADDR:PORT      line protocol over TCP (default 127.0.0.1:8089; not served yet)\n"
	      "  --udp ADDR:PORT      line protocol over UDP (default 127.0.0.1:8089; not served yet)\n"
	      "  --sync sync|relaxed  acknowledge after fdatasync (default) or after the WAL write\n"
	      "  --log-level LEVEL    debug, info, warn or error (default info)\n",
	      f);
}

/* Parses "host:port" or "[v6]:port" into a socket address (numeric hosts only). */
static int parse_addr(const char *text, struct sockaddr_storage *out, socklen_t *out_len)
{
	char host[256];
	const char *colon, *port;
	struct addrinfo hints = { 0 }, *res = NULL;
	size_t host_len;
	int rc;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			return strata_error(STRATA_EINVAL, "bad address '%s' (want [v6]:port)", text);
		host_len = (size_t)(close - text - 1);
		memcpy(host, text + 1, host_len < sizeof host ? host_len : 0);
		port = close + 2;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return strata_error(STRATA_EINVAL, "bad address '%s' (want host:port)", text);
		host_len = (size_t)(colon - text);
		if (host_len >= sizeof host)
			return strata_error(STRATA_EINVAL, "address too long: '%s'", text);
		memcpy(host, text, host_len);
		port = colon + 1;
	}
	if (host_len >= sizeof host)
		return strata_error(STRATA_EINVAL, "address too long: '%s'", text);
	host[host_len] = '\0';
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host[0] ? host : "0.0.0.0", port, &hints, &res);
	if (rc != 0)
		return strata_error(STRATA_EINVAL, "bad address '%s': %s", text, gai_strerror(rc));
	memcpy(out, res->ai_addr, res->ai_addrlen);
	*out_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static enum MHD_Result send_empty(struct MHD_Connection *conn, unsigned int status)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "X-Influxdb-Version", "1.8.10-strata-" STRATA_VERSION);
	MHD_add_response_header(resp, "X-Influxdb-Build", "OSS");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned int status, const char *body)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), (void *)body,
								    MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "X-Influxdb-Version", "1.8.10-strata-" STRATA_VERSION);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result handle_request(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version, const char *upload_data,
				      size_t *upload_data_size, void **con_cls)
{
	static int first_call_marker;

	(void)cls;
	(void)version;
	(void)upload_data;
	/* The first call only announces the request; answer on the second. */
	if (*con_cls == NULL) {
		*con_cls = &first_call_marker;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0; /* bodies are not read by any route yet */
		return MHD_YES;
	}
	if (strcmp(url, "/ping") == 0) {
		if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
			return send_empty(conn, MHD_HTTP_NO_CONTENT);
		return send_json(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "{\"error\":\"method not allowed\"}\n");
	}
	if (strcmp(url, "/write") == 0 || strcmp(url, "/api/v2/write") == 0 || strcmp(url, "/query") == 0)
		return send_json(conn, MHD_HTTP_NOT_IMPLEMENTED,
				 "{\"error\":\"not implemented in this version of strata\"}\n");
	return send_json(conn, MHD_HTTP_NOT_FOUND, "{\"error\":\"not found\"}\n");
}

int cli_serve(int argc, char **argv)
{
	serve_config cfg = { "./strata-data", "127.0.0.1:8086", "127.0.0.1:8089", "127.0.0.1:8089", false };
	struct sockaddr_storage http_sa;
	socklen_t http_len;
	struct MHD_Daemon *httpd = NULL;
	lsm_options opt;
	lsm_db *db = NULL;
	sigset_t signals;
	int sig = 0, rc, exit_code = 1;

	for (int i = 1; i < argc; i++) {
		const char *v;

		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			serve_usage(stdout);
			return 0;
		} else if (cli_option(argc, argv, &i, "--data", &v)) {
			cfg.data_dir = v;
		} else if (cli_option(argc, argv, &i, "--http", &v)) {
			cfg.http_addr = v;
		} else if (cli_option(argc, argv, &i, "--tcp", &v)) {
			cfg.tcp_addr = v;
		} else if (cli_option(argc, argv, &i, "--udp", &v)) {
			cfg.udp_addr = v;
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
	if (parse_addr(cfg.http_addr, &http_sa, &http_len) != 0) {
		fprintf(stderr, "strata serve: --http: %s\n", strata_last_error());
		return 2;
	}

	/* Block the stop signals before any thread starts, so only sigwait sees them. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	lsm_options_default(&opt);
	opt.commit.relaxed = cfg.relaxed;
	rc = lsm_open(&db, cfg.data_dir, &opt);
	if (rc) {
		cli_fail("cannot open the data directory", rc);
		return 1;
	}
	httpd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY | MHD_USE_ERROR_LOG,
				 0, NULL, NULL, handle_request, NULL,
				 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&http_sa,
				 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
				 MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1024,
				 MHD_OPTION_END);
	if (!httpd) {
		LOG_ERROR("event=http_listen_failed addr=%s error=\"%s\"", cfg.http_addr, strerror(errno));
		fprintf(stderr, "strata serve: cannot listen on %s: %s\n", cfg.http_addr, strerror(errno));
		goto out;
	}
	LOG_INFO("event=serving data=%s http=%s", cfg.data_dir, cfg.http_addr);
	LOG_INFO("event=not_served listeners=\"tcp %s, udp %s, /write, /query\" reason=\"not in this version\"",
		 cfg.tcp_addr, cfg.udp_addr);

	while (sigwait(&signals, &sig) != 0)
		;
	LOG_INFO("event=stopping signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
	exit_code = 0;
out:
	if (httpd)
		MHD_stop_daemon(httpd);
	rc = lsm_close(db);
	if (rc) {
		cli_fail("closing the data directory", rc);
		exit_code = 1;
	}
	return exit_code;
}
