/*
 * http.h — the HTTP API (InfluxDB 1.x and 2.x compatible), on libmicrohttpd.
 *
 *   GET|HEAD /ping          204 with X-Influxdb-Version
 *   POST /write             ?db=&rp=&precision=; body line protocol, may be gzip
 *   POST /api/v2/write      ?bucket=&org=&precision=
 *   GET /health             {"status":"pass"} or 503 with the read-only reason
 *   GET /metrics            Prometheus text of the server's counters
 *   /query                  handed to the query hook when one is set
 *   /debug/...              handed to the debug hook when one is set
 *
 * A write is answered 204 only once every accepted point is durable in the
 * WAL; 400 with {"error": ...} naming the bad lines (the good lines of the
 * request are written); 404 for an unknown database; 413 past the body
 * limit; 503 when the engine is read-only.
 *
 * Threads: libmicrohttpd runs a pool of worker threads; each owns one
 * ingest_session, so the write path takes no lock of its own. A request
 * waits in its worker while its group commit syncs: the pool size bounds
 * the requests being written, the body limit bounds the memory of each, and
 * max_inflight_bytes bounds the bodies of all connections together: what a
 * client sends never decides how much memory the server uses. The route
 * hooks (/query, /debug/) run on a pool of hook threads, their connections
 * suspended meanwhile, so a long query holds up no other connection of its
 * worker (at most 64 queued or running; past that they run on the workers).
 * A hook whose connection is the only one its worker holds runs on that
 * worker instead, sparing two thread hand-offs (as long as a small query
 * itself); at most threads - 1 hooks do so at once, so a worker is always
 * left for new connections.
 *
 * Connections: at most max_connections, max_connections_per_ip of them from
 * one client address (more are closed at once, counted). A connection must
 * deliver each request, headers and body, within request_timeout_ms of its
 * accept or of the end of the previous response, and read each response
 * within request_timeout_ms: a sweeper thread shuts down the connections
 * past their deadline, so a client trickling bytes (slow loris) holds a
 * connection for a bounded time even though every byte resets the idle
 * timeout. The time a request runs (a query, a group commit) is not counted.
 *
 * Authentication: when an auth hook is set, every request but the routes
 * of auth_open is shown to it once its headers have arrived; a refused
 * request has its body read and dropped (nothing kept) and is answered with
 * the hook's status and {"error": ...}.
 */
#ifndef STRATA_INGEST_HTTP_H
#define STRATA_INGEST_HTTP_H

#include "ingest/writer.h"

#include <stddef.h>
#include <stdint.h>

struct MHD_Connection;
struct MHD_Response;
struct sockaddr;

/* The X-Influxdb-Version header of every response: the InfluxDB API version served. */
#define STRATA_HTTP_VERSION "1.8.10-strata"

typedef struct ingest_http ingest_http;

/*
 * A handler for a route outside ingest (the query module's /query). It
 * receives the complete request and must queue a response with
 * ingest_http_queue_response; it returns MHD_YES / MHD_NO like an access
 * handler. It runs on one of a pool of hook threads (as many as the
 * workers) while its connection is suspended, so a long query never holds
 * up the other connections of a worker; the response is queued once it
 * returns. When its connection is alone on its worker it may run on the
 * worker itself (see Threads above).
 */
typedef int (*ingest_http_handler)(void *ctx, struct MHD_Connection *conn, const char *method,
				   const char *url, const char *body, size_t body_len);

/* Appends Prometheus text lines to f (a FILE *) for /metrics. */
typedef void (*ingest_http_metrics_fn)(void *ctx, void *f);

/* Routes served without credentials when authentication is on (auth_open). */
#define INGEST_HTTP_OPEN_PING 1u
#define INGEST_HTTP_OPEN_HEALTH 2u
#define INGEST_HTTP_OPEN_METRICS 4u

/* What a request carries, shown to the auth hook. Borrowed for the call. */
typedef struct ingest_http_credentials {
	const char *user;            /* the u URL parameter, or NULL */
	const char *password;        /* the p URL parameter, or NULL */
	const char *authorization;   /* the Authorization header, or NULL */
	const struct sockaddr *peer; /* the client's address, or NULL */
} ingest_http_credentials;

/*
 * Decides whether a request is served: 0 yes; else the status to refuse it
 * with (401, 429) and, in *msg, a static message for the client. Called on
 * a worker thread once per request, before its body is read; it may take
 * the time of one password hash.
 */
typedef unsigned (*ingest_http_auth_fn)(void *ctx, const ingest_http_credentials *c, const char **msg);

typedef struct ingest_http_options {
	const char *addr;          /* "host:port" (127.0.0.1:8086); port 0 picks one */
	size_t max_body_bytes;     /* after gzip decoding too (25 MiB) */
	size_t max_inflight_bytes; /* request bodies held at once, all connections (256 MiB);
				      past it a write is answered 503 with Retry-After */
	unsigned threads;          /* worker threads (2 × cores, at least 4) */
	unsigned max_connections;  /* 1024 */
	unsigned timeout_s;        /* idle connection timeout (60) */
	unsigned max_connections_per_ip; /* from one client address (256); 0: no limit */
	unsigned request_timeout_ms;     /* to receive a request or send a response (60000); 0: none */
	ingest_http_auth_fn auth;        /* NULL: no authentication */
	void *auth_ctx;
	unsigned auth_open;              /* INGEST_HTTP_OPEN_* routes open to all (PING) */
	ingest_http_handler query; /* may be NULL: /query answers 501 */
	void *query_ctx;
	ingest_http_metrics_fn metrics; /* extra metrics (may be NULL) */
	void *metrics_ctx;
	ingest_http_handler debug; /* every route under /debug/ (strata serve: /debug/backup); NULL: 404 */
	void *debug_ctx;
} ingest_http_options;

void ingest_http_options_default(ingest_http_options *out);

/*
 * A handler's answer: queues resp with status (or keeps it for the worker
 * to queue, from a handler running off it) and lets go of resp. MHD_YES or
 * MHD_NO.
 */
int ingest_http_queue_response(struct MHD_Connection *conn, unsigned status, struct MHD_Response *resp);

/* Starts serving. STRATA_EINVAL for a bad address, -errno if it cannot listen. */
int ingest_http_start(ingest_http **out, ingest_engine *e, const ingest_http_options *opt);
/* The port it listens on (useful with port 0). */
uint16_t ingest_http_port(const ingest_http *h);
/* Stops accepting, finishes requests in flight, frees h. */
void ingest_http_stop(ingest_http *h);

#endif
