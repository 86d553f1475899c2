/*
 * http_query.h — InfluxDB 1.x's /query endpoint: the handler that
 * `strata serve` gives the HTTP API (ingest_http_options.query) to answer
 * /query with the query engine (query/exec.h).
 *
 *   GET|POST /query?q=&db=&rp=&epoch=&pretty=true&chunked=true&chunk_size=
 *
 * Parameters come from the URL and, for a POST with Content-Type
 * application/x-www-form-urlencoded, from the body, the body's value first
 * (Go's Request.FormValue, which InfluxDB uses). q is required. Accept:
 * application/csv or text/csv answers CSV, anything else JSON. Bound
 * parameters (params=) and multipart bodies are refused with 400.
 *
 * chunked=true streams the response as InfluxDB does (query/output.h):
 * JSON documents one after the other, each followed by "\n" and sent as
 * soon as it is complete; a SELECT's series each in documents of at most
 * chunk_size rows (default 10000) marked "partial" as InfluxDB marks them,
 * other statements one document each; CSV as unchunked, sent as it is
 * written. chunk_size (read only with chunked=true; empty is the default)
 * must be a whole number from 1 to 1000000, else 400; InfluxDB falls back
 * to its default on a bad value instead. A chunked response is not bounded
 * by max_response_bytes: its memory is a fixed ring buffer however long it
 * is. Its status, 200, is sent before the query has run: a failure of the
 * query after that is a last document {"error":"..."} when it happens
 * between documents, else the connection is cut (the chunked transfer
 * never ends). The query runs on a thread of its own while the response
 * leaves, at most max_streams of them at once (503 past it); while it has
 * nothing new to send, its connection is suspended rather than a thread of
 * the HTTP API waiting for it; the whole
 * response must leave within the HTTP API's request timeout, which for a
 * streamed response counts the time the query runs.
 *
 * Answers: 200 with the results (statement errors inside them); 400 with
 * {"error":...} (or CSV "error\n...") for a missing q, a parse error
 * ("error parsing query: ...", also in X-Influxdb-Error as InfluxDB sends
 * it), a bad form body, a bad chunk_size or a response past
 * max_response_bytes; 405 for other methods; 500 when memory runs out or
 * the executor fails to write its response; 503 past max_streams. Every answer
 * carries X-Influxdb-Version as /ping does. now() is the time the request
 * is executed.
 *
 * An unchunked response is built in memory, bounded by max_response_bytes,
 * and sent once the query has run; the query runs on the HTTP worker thread
 * that received it, so the worker pool bounds the queries running at once.
 *
 * Threads: http_query_handle may be called from any number of threads at
 * once; the counters are atomic.
 */
#ifndef STRATA_TOOLS_HTTP_QUERY_H
#define STRATA_TOOLS_HTTP_QUERY_H

#include "query/exec.h"

#include <stddef.h>
#include <stdio.h>

struct MHD_Connection;

typedef struct http_query_options {
	size_t max_response_bytes; /* largest unchunked response body (256 MiB) */
	unsigned max_streams;      /* chunked responses streamed at once (64) */
} http_query_options;

void http_query_options_default(http_query_options *out);

typedef struct http_query http_query;

/* e is borrowed and must outlive the handler. 0 or -ENOMEM. */
int http_query_new(http_query **out, query_engine *e, const http_query_options *opt);
/* Safe on NULL. Only once no request is being handled (the HTTP API stopped). */
void http_query_free(http_query *q);

/*
 * Before the HTTP API stops: cancels every chunked response still
 * streaming (each is cut at its next read) and resumes the connections
 * their readers parked, which libmicrohttpd needs before it can stop;
 * chunked queries asked after this are answered 503.
 */
void http_query_quiesce(http_query *q);

/*
 * The ingest_http_handler for /query (ctx: the http_query). Queues the
 * response on conn; returns MHD_YES, or MHD_NO when no response could be
 * queued (the connection is then closed).
 */
int http_query_handle(void *ctx, struct MHD_Connection *conn, const char *method, const char *url,
		      const char *body, size_t body_len);

/* Appends the handler's counters to f as Prometheus text. */
void http_query_metrics(http_query *q, FILE *f);

/*
 * Tests only: when set, a chunked response's query thread calls it before
 * it runs the query (a test holds streams there to see what waits on them).
 */
extern void (*_Atomic http_query_stream_hook)(void);

#endif
