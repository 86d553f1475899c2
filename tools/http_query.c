/*
 * http_query.c — /query over the query engine (see http_query.h).
 *
 * A request is read into one small set of parameters (each an owned,
 * NUL-terminated copy, the form body's value taken before the URL's). The
 * query is parsed (a parse error is answered 400 at once, as query_run
 * would write it), then executed into a memory buffer that refuses to grow
 * past the response limit, and answered with that buffer: 200, or, when
 * the limit was reached, a 400 error document in its place.
 *
 * chunked=true is streamed instead: the query runs on a thread of its own
 * (a stream) that writes into a fixed ring buffer, and libmicrohttpd pulls
 * from the ring through a content reader callback as the socket takes
 * bytes. The producer waits while the ring is full; the reader, finding it
 * empty, parks its connection (suspends it and returns no bytes) rather
 * than wait on the worker, which serves other connections meanwhile, and
 * the producer resumes it once it has written bytes or ended. The
 * response's free callback (the response sent, or the client gone, or the
 * server stopping) cancels the producer, whose next write then fails and
 * ends the query, and joins it. So a chunked response holds the ring, the
 * writer's buffer and one series' head whatever its length, and no thread
 * of the HTTP API while its query computes. Before the HTTP API stops,
 * http_query_quiesce cancels every stream and resumes the parked ones (the
 * server cannot stop with a connection suspended).
 */
#include "tools/http_query.h"
#include "ingest/http.h"
#include "lsm/alloc.h"
#include "lsm/histogram.h"
#include "lsm/log.h"
#include "lsm/status.h"
#include "query/output.h"
#include "query/parser.h"

#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* As /ping answers it (ingest/http.c): clients read the version from any response. */

struct http_query {
	query_engine *engine;
	http_query_options opt;
	atomic_uint_fast64_t requests;         /* /query requests answered */
	atomic_uint_fast64_t bad_requests;     /* answered 4xx */
	atomic_uint_fast64_t statement_errors; /* statements answered with an error */
	atomic_uint_fast64_t too_large;        /* responses past max_response_bytes */
	atomic_uint_fast64_t response_bytes;   /* bodies sent */
	atomic_uint_fast64_t chunked;          /* chunked (streamed) responses started */
	atomic_uint streams;                   /* streams running now */
	lsm_histogram latency[3];              /* by enum query_kind */
	pthread_mutex_t live_mu;               /* guards live and stopping (taken before a stream's mu) */
	struct stream *live;                   /* the streams not yet freed */
	bool stopping;                         /* http_query_quiesce: no new stream */
};

/*
 * What a request was, for its latency: every statement answered and at
 * least one SELECT; every statement answered, none a SELECT (SHOW, CREATE,
 * DROP...); or a request error or any statement error.
 */
enum query_kind { Q_SELECT, Q_META, Q_ERROR };
static const char *const query_kind_names[] = { "select", "meta", "error" };

/* 100 us .. 60 s (docs/metrics.md). */
static const uint64_t latency_bounds_ns[] = {
	100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 25000000, 50000000, 100000000,
	250000000, 500000000, 1000000000, 2500000000u, 5000000000u, 10000000000u, 30000000000u, 60000000000u,
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void http_query_options_default(http_query_options *out)
{
	memset(out, 0, sizeof *out);
	out->max_response_bytes = (size_t)256 << 20;
	out->max_streams = 64;
}

int http_query_new(http_query **out, query_engine *e, const http_query_options *opt)
{
	http_query *q = strata_calloc(1, sizeof *q);

	*out = NULL;
	if (!q)
		return -ENOMEM;
	q->engine = e;
	for (int k = Q_SELECT; k <= Q_ERROR; k++)
		lsm_histogram_init(&q->latency[k], latency_bounds_ns, sizeof latency_bounds_ns / sizeof latency_bounds_ns[0]);
	if (opt)
		q->opt = *opt;
	else
		http_query_options_default(&q->opt);
	pthread_mutex_init(&q->live_mu, NULL);
	*out = q;
	return 0;
}

void http_query_free(http_query *q)
{
	if (!q)
		return;
	pthread_mutex_destroy(&q->live_mu);
	strata_free(q);
}

void http_query_metrics(http_query *q, FILE *f)
{
	fprintf(f,
		"# HELP strata_query_requests_total /query requests answered.\n"
		"# TYPE strata_query_requests_total counter\nstrata_query_requests_total %llu\n"
		"# HELP strata_query_bad_requests_total /query requests answered 4xx.\n"
		"# TYPE strata_query_bad_requests_total counter\nstrata_query_bad_requests_total %llu\n"
		"# HELP strata_query_statement_errors_total Statements answered with an error.\n"
		"# TYPE strata_query_statement_errors_total counter\nstrata_query_statement_errors_total %llu\n"
		"# HELP strata_query_too_large_total Responses refused past the response size limit.\n"
		"# TYPE strata_query_too_large_total counter\nstrata_query_too_large_total %llu\n"
		"# HELP strata_query_response_bytes_total Bytes of /query response bodies.\n"
		"# TYPE strata_query_response_bytes_total counter\nstrata_query_response_bytes_total %llu\n"
		"# HELP strata_query_chunked_total /query responses streamed in chunks (chunked=true).\n"
		"# TYPE strata_query_chunked_total counter\nstrata_query_chunked_total %llu\n"
		"# HELP strata_query_streams Chunked /query responses being streamed now.\n"
		"# TYPE strata_query_streams gauge\nstrata_query_streams %u\n",
		(unsigned long long)atomic_load(&q->requests), (unsigned long long)atomic_load(&q->bad_requests),
		(unsigned long long)atomic_load(&q->statement_errors), (unsigned long long)atomic_load(&q->too_large),
		(unsigned long long)atomic_load(&q->response_bytes), (unsigned long long)atomic_load(&q->chunked),
		(unsigned)atomic_load(&q->streams));
	fprintf(f, "# HELP strata_query_duration_seconds Time to run and answer a /query request, by kind: select, "
		   "meta (no SELECT) or error (a request or statement error).\n"
		   "# TYPE strata_query_duration_seconds histogram\n");
	for (int k = Q_SELECT; k <= Q_ERROR; k++) {
		lsm_histogram_snapshot s;
		char labels[32];

		lsm_histogram_snapshot_get(&q->latency[k], &s);
		snprintf(labels, sizeof labels, "kind=\"%s\"", query_kind_names[k]);
		lsm_histogram_write_prometheus(f, "strata_query_duration_seconds", labels, &s, 9);
	}
}

/* ---- the response buffer ---- */

/* A query_output sink into memory that refuses to grow past max. */
typedef struct membuf {
	char *p;
	size_t len, cap, max;
	bool overflow; /* a write was refused for the limit */
} membuf;

static int membuf_write(void *ctx, const char *p, size_t n)
{
	membuf *b = ctx;

	if (n > b->max - b->len) {
		b->overflow = true;
		return STRATA_ETOOBIG;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		char *grown;

		while (cap < b->len + n)
			cap = cap > b->max / 2 ? b->max : cap * 2;
		grown = strata_realloc(b->p, cap);
		if (!grown)
			return -ENOMEM;
		b->p = grown;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

/*
 * Queues body (taken over, freed by libmicrohttpd; may be NULL when len is
 * 0). error, when not NULL, also goes in X-Influxdb-Error as InfluxDB sends it.
 */
static int queue(http_query *q, struct MHD_Connection *conn, unsigned status, const char *type,
		 struct MHD_Response *resp, size_t len, const char *error);

static int respond(http_query *q, struct MHD_Connection *conn, unsigned status, const char *type, char *body,
		   size_t len, const char *error)
{
	struct MHD_Response *resp;

	if (body)
		resp = MHD_create_response_from_buffer_with_free_callback(len, body, strata_free);
	else
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		strata_free(body);
		return MHD_NO;
	}
	return queue(q, conn, status, type, resp, len, error);
}

/* Adds the headers to resp, queues it and lets go of it; counts the answer (len bytes of body). */
static int queue(http_query *q, struct MHD_Connection *conn, unsigned status, const char *type,
		 struct MHD_Response *resp, size_t len, const char *error)
{
	enum MHD_Result ret;

	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "X-Influxdb-Version", STRATA_HTTP_VERSION);
	MHD_add_response_header(resp, "X-Influxdb-Build", "OSS");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, "Allow", "GET, POST");
	if (error) {
		char value[512];
		size_t n = 0;

		/* a header value holds no control characters */
		for (; error[n] && n + 1 < sizeof value; n++)
			value[n] = (unsigned char)error[n] < 0x20 ? ' ' : error[n];
		value[n] = '\0';
		MHD_add_response_header(resp, "X-Influxdb-Error", value);
	}
	ret = ingest_http_queue_response(conn, status, resp);
	atomic_fetch_add(&q->requests, 1);
	if (status >= 400 && status < 500)
		atomic_fetch_add(&q->bad_requests, 1);
	if (ret == MHD_YES)
		atomic_fetch_add(&q->response_bytes, len);
	return ret;
}

/*
 * Answers a request error, written by query_output_error in the format the
 * client asked for ({"error":"..."} or CSV "error\n...").
 */
static int respond_error(http_query *q, struct MHD_Connection *conn, unsigned status,
			 enum query_output_format format, const char *type, const char *msg)
{
	membuf b = { .max = 65536 };
	query_output *o = NULL;
	int rc = query_output_new(&o, format, QUERY_EPOCH_RFC3339, membuf_write, &b);

	if (rc == 0)
		rc = query_output_error(o, msg);
	query_output_free(o);
	if (rc) {
		strata_free(b.p);
		return MHD_NO;
	}
	return respond(q, conn, status, type, b.p, b.len, msg);
}

/* ---- parameters ---- */

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Decodes one form-encoded component s[0..n) into out (room for n bytes):
 * '+' is a space, %XX the byte XX. Returns the decoded length, or -1 for a
 * '%' not followed by two hex digits.
 */
static long form_decode(char *out, const char *s, size_t n)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			out[len++] = ' ';
		} else if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -1;
			hi = hex_digit(s[i + 1]);
			lo = hex_digit(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			out[len++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[len++] = s[i];
		}
	}
	return (long)len;
}

/*
 * Checks every escape of a form body; 0, or -1 with the offending offset
 * in *at.
 */
static int form_check(const char *body, size_t len, size_t *at)
{
	for (size_t i = 0; i < len; i++) {
		if (body[i] != '%')
			continue;
		if (i + 2 >= len || hex_digit(body[i + 1]) < 0 || hex_digit(body[i + 2]) < 0) {
			*at = i;
			return -1;
		}
		i += 2;
	}
	return 0;
}

/*
 * The first value of key in the (checked) form body, decoded into a new
 * NUL-terminated string: 1 found, 0 not there, -ENOMEM.
 */
static int form_value(const char *body, size_t len, const char *key, char **out, size_t *out_len)
{
	size_t key_len = strlen(key), i = 0;

	while (i < len) {
		const char *pair = body + i, *amp = memchr(pair, '&', len - i);
		size_t pair_len = amp ? (size_t)(amp - pair) : len - i;
		const char *eq = memchr(pair, '=', pair_len);
		size_t k_len = eq ? (size_t)(eq - pair) : pair_len;
		char k[64];

		i += pair_len + 1;
		/* a key that decodes to key is at most 3 bytes per byte of key long */
		if (k_len == 0 || k_len > 3 * key_len || k_len > sizeof k)
			continue;
		if (form_decode(k, pair, k_len) != (long)key_len || memcmp(k, key, key_len) != 0)
			continue;
		{
			const char *v = eq ? eq + 1 : pair + pair_len;
			size_t v_len = eq ? pair_len - k_len - 1 : 0;
			char *dec = strata_malloc(v_len + 1);
			long n;

			if (!dec)
				return -ENOMEM;
			n = form_decode(dec, v, v_len);
			dec[n < 0 ? 0 : n] = '\0';
			*out = dec;
			*out_len = n < 0 ? 0 : (size_t)n;
			return 1;
		}
	}
	return 0;
}

enum { P_Q, P_DB, P_RP, P_EPOCH, P_PRETTY, P_CHUNKED, P_CHUNK_SIZE, P_PARAMS, P_COUNT };
static const char *const param_names[P_COUNT] = { "q", "db", "rp", "epoch", "pretty", "chunked", "chunk_size",
						   "params" };

typedef struct params {
	char *v[P_COUNT]; /* owned; NULL when absent */
	size_t len[P_COUNT];
} params;

static void params_free(params *p)
{
	for (int i = 0; i < P_COUNT; i++)
		strata_free(p->v[i]);
}

/*
 * Fills p from the form body (when form) and the URL. 0, -ENOMEM, or
 * STRATA_EINVAL with a message for a value holding a NUL byte.
 */
static int params_read(params *p, struct MHD_Connection *conn, const char *body, size_t body_len, bool form)
{
	for (int i = 0; i < P_COUNT; i++) {
		const char *v = NULL;
		size_t n = 0;
		int rc = 0;

		if (form)
			rc = form_value(body, body_len, param_names[i], &p->v[i], &p->len[i]);
		if (rc < 0)
			return rc;
		if (rc == 0 && MHD_lookup_connection_value_n(conn, MHD_GET_ARGUMENT_KIND, param_names[i],
							     strlen(param_names[i]), &v, &n) == MHD_YES && v) {
			p->v[i] = strata_malloc(n + 1);
			if (!p->v[i])
				return -ENOMEM;
			memcpy(p->v[i], v, n);
			p->v[i][n] = '\0';
			p->len[i] = n;
		}
		/* q goes to the parser with its length; the others are C strings */
		if (i != P_Q && p->v[i] && strlen(p->v[i]) != p->len[i])
			return strata_error(STRATA_EINVAL, "parameter %s holds a NUL byte", param_names[i]);
	}
	return 0;
}

/* Whether the media type of a header value (before ';' or ',') is type. */
static bool media_type_is(const char *value, const char *type)
{
	size_t n = strlen(type);

	if (!value)
		return false;
	while (*value == ' ' || *value == '\t')
		value++;
	if (strncasecmp(value, type, n) != 0)
		return false;
	value += n;
	while (*value == ' ' || *value == '\t')
		value++;
	return *value == '\0' || *value == ';' || *value == ',';
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return false;
	return true;
}

/* The response writer of a request: its format, epoch= and pretty=. */
static int output_open(query_output **o, enum query_output_format format, const params *p, query_output_write_fn write,
		       void *ctx)
{
	int rc = query_output_new(o, format, query_output_epoch_parse(p->v[P_EPOCH]), write, ctx);

	if (rc == 0)
		rc = query_output_set_pretty(*o, p->v[P_PRETTY] && strcmp(p->v[P_PRETTY], "true") == 0);
	return rc;
}

/* ---- chunked responses: streamed from a thread of their own ---- */

#define STREAM_RING_BYTES ((size_t)256 << 10) /* between the query and the socket */
#define STREAM_BLOCK_BYTES ((size_t)64 << 10) /* asked of the reader at a time */

/*
 * One chunked response. Threads: the producer (stream_main) runs the query
 * and writes the ring through stream_write; libmicrohttpd's worker reads
 * it in stream_read and, once, calls stream_free. mu guards ring_head,
 * ring_len, done, cancelled and failed; the query's own fields (ast, p, o)
 * are the producer's until it is joined. stop tells the query itself to
 * end at its next deadline check (query_request.cancel).
 */
typedef struct stream {
	http_query *q;
	struct MHD_Connection *conn;
	struct stream *prev, *next; /* on q->live, under q->live_mu */
	pthread_mutex_t mu;
	pthread_cond_t cv; /* bytes, room, done or cancelled */
	bool parked;    /* the connection is suspended until there are bytes or the end */
	char *ring;
	size_t ring_head, ring_len;
	bool done;      /* the producer has finished */
	bool cancelled; /* the response is gone: the producer's writes fail */
	bool failed;    /* the response cannot end well: cut the connection */
	bool started;   /* thread runs and must be joined */
	atomic_bool stop;
	pthread_t thread;

	query_ast *ast;
	params p;
	query_output *o;
	enum query_output_format format;
	bool has_select;
	uint64_t t0;
} stream;

/* Resumes the stream's connection if its reader parked it (under s->mu): there are bytes, or the end. */
static void unpark(stream *s)
{
	if (!s->parked)
		return;
	s->parked = false;
	MHD_resume_connection(s->conn);
}

/* The query_output sink of a stream: waits for room in the ring. -ECANCELED once the response is gone. */
static int stream_write(void *ctx, const char *p, size_t n)
{
	stream *s = ctx;
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	while (n > 0) {
		size_t tail, k;

		while (s->ring_len == STREAM_RING_BYTES && !s->cancelled)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->cancelled) {
			rc = -ECANCELED;
			break;
		}
		tail = (s->ring_head + s->ring_len) % STREAM_RING_BYTES;
		k = STREAM_RING_BYTES - s->ring_len;
		if (k > STREAM_RING_BYTES - tail)
			k = STREAM_RING_BYTES - tail; /* up to the end of the ring, the rest from its start */
		if (k > n)
			k = n;
		memcpy(s->ring + tail, p, k);
		s->ring_len += k;
		p += k;
		n -= k;
		pthread_cond_broadcast(&s->cv);
		unpark(s);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static bool split_select(void *ctx, int id)
{
	const query_ast *ast = ctx;

	/* InfluxDB cuts SELECT results in chunks; SHOW and the others come whole */
	return id >= 0 && (uint32_t)id < ast->n_stmts && ast->stmts[id].kind == QUERY_STMT_SELECT;
}

void (*_Atomic http_query_stream_hook)(void);

static void *stream_main(void *arg)
{
	void (*hook)(void) = atomic_load(&http_query_stream_hook);
	stream *s = arg;
	query_request req = { .db = s->p.v[P_DB], .rp = s->p.v[P_RP], .now_ns = 0, .cancel = &s->stop };
	int rc;

	if (hook)
		hook();
	rc = query_execute(s->q->engine, s->ast, &req, s->o);
	size_t stmt_errors = query_output_error_count(s->o);
	bool cancelled, failed = false;

	atomic_fetch_add(&s->q->statement_errors, stmt_errors);
	pthread_mutex_lock(&s->mu);
	cancelled = s->cancelled;
	pthread_mutex_unlock(&s->mu);
	if (rc && !cancelled) {
		char msg[512];
		query_output *e = NULL;

		if (rc == -ENOMEM)
			snprintf(msg, sizeof msg, "out of memory");
		else
			snprintf(msg, sizeof msg, "query failed: %s", strata_last_error());
		LOG_WARN("event=query_failed chunked=true error=\"%s\"", msg);
		/*
		 * The status went out with the first bytes: between documents the
		 * failure is told as a last document, {"error":...}; inside one the
		 * connection is cut, so that no client takes the response for whole.
		 */
		failed = !query_output_at_boundary(s->o);
		if (!failed) {
			failed = query_output_new(&e, s->format, QUERY_EPOCH_RFC3339, stream_write, s) != 0 ||
				 query_output_error(e, msg) != 0;
			query_output_free(e);
		}
	}
	lsm_histogram_observe(&s->q->latency[rc || stmt_errors ? Q_ERROR : s->has_select ? Q_SELECT : Q_META],
			      mono_ns() - s->t0);
	pthread_mutex_lock(&s->mu);
	s->done = true;
	s->failed = failed;
	pthread_cond_broadcast(&s->cv);
	unpark(s);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/*
 * libmicrohttpd's content reader: the bytes in the ring; with none yet,
 * parks the connection and returns none (libmicrohttpd's way for a
 * response that is not ready; the producer resumes it). Once the server is
 * stopping (cancelled with the producer still running), the response is
 * cut instead.
 */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	stream *s = cls;
	size_t k = 0;
	bool failed;

	(void)pos;
	pthread_mutex_lock(&s->mu);
	if (s->ring_len == 0 && !s->done) {
		if (s->cancelled) {
			pthread_mutex_unlock(&s->mu);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		s->parked = true;
		MHD_suspend_connection(s->conn);
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	while (k < max && s->ring_len > 0) { /* at most twice: to the end of the ring, then from its start */
		size_t n = s->ring_len;

		if (n > STREAM_RING_BYTES - s->ring_head)
			n = STREAM_RING_BYTES - s->ring_head;
		if (n > max - k)
			n = max - k;
		memcpy(buf + k, s->ring + s->ring_head, n);
		k += n;
		s->ring_head = (s->ring_head + n) % STREAM_RING_BYTES;
		s->ring_len -= n;
	}
	failed = s->failed;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (k) {
		atomic_fetch_add(&s->q->response_bytes, k);
		return (ssize_t)k;
	}
	return failed ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
}

/* libmicrohttpd is done with the response (or it was never queued): stop and free the stream. */
static void stream_free(void *cls)
{
	stream *s = cls;

	atomic_store(&s->stop, true);
	pthread_mutex_lock(&s->mu);
	s->cancelled = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (s->started)
		pthread_join(s->thread, NULL);
	if (s->conn) {
		pthread_mutex_lock(&s->q->live_mu);
		if (s->prev)
			s->prev->next = s->next;
		else
			s->q->live = s->next;
		if (s->next)
			s->next->prev = s->prev;
		pthread_mutex_unlock(&s->q->live_mu);
	}
	query_output_free(s->o);
	query_ast_free(s->ast);
	params_free(&s->p);
	strata_free(s->ring);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	atomic_fetch_sub(&s->q->streams, 1);
	strata_free(s);
}

/*
 * Answers a chunked query: takes over *p and *ast (left empty), starts the
 * producer and queues a response read from it. 0 with *ret the handler's
 * answer; -ENOMEM, -EAGAIN (no thread) or -EBUSY with msg for an error answer.
 */
static int stream_start(http_query *q, struct MHD_Connection *conn, params *p, query_ast **ast,
			enum query_output_format format, const char *type, size_t chunk_size, bool has_select,
			uint64_t t0, int *ret, char *msg, size_t msg_len)
{
	stream *s;
	struct MHD_Response *resp;
	unsigned running = atomic_fetch_add(&q->streams, 1);
	int rc;

	if (running >= q->opt.max_streams) {
		atomic_fetch_sub(&q->streams, 1);
		snprintf(msg, msg_len, "too many chunked queries running (%u): retry later", q->opt.max_streams);
		return -EBUSY;
	}
	s = strata_calloc(1, sizeof *s);
	if (!s || !(s->ring = strata_malloc(STREAM_RING_BYTES))) {
		strata_free(s);
		atomic_fetch_sub(&q->streams, 1);
		snprintf(msg, msg_len, "out of memory");
		return -ENOMEM;
	}
	s->q = q;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->format = format;
	s->has_select = has_select;
	s->t0 = t0;
	s->p = *p;
	memset(p, 0, sizeof *p);
	s->ast = *ast;
	*ast = NULL;
	rc = output_open(&s->o, format, &s->p, stream_write, s);
	if (rc == 0)
		rc = query_output_set_chunked(s->o, true);
	if (rc == 0)
		rc = query_output_set_chunk_size(s->o, chunk_size, split_select, s->ast);
	if (rc == 0) {
		pthread_mutex_lock(&q->live_mu);
		if (q->stopping) {
			rc = -EBUSY;
		} else {
			s->conn = conn;
			s->next = q->live;
			if (q->live)
				q->live->prev = s;
			q->live = s;
		}
		pthread_mutex_unlock(&q->live_mu);
	}
	if (rc == 0) {
		rc = -pthread_create(&s->thread, NULL, stream_main, s);
		s->started = rc == 0;
	}
	if (rc) {
		stream_free(s);
		snprintf(msg, msg_len, "%s", rc == -ENOMEM ? "out of memory" : rc == -EBUSY ? "the server is stopping"
											    : "cannot start the query thread");
		return rc;
	}
	atomic_fetch_add(&q->chunked, 1);
	/* from here the response owns s: stream_free runs when libmicrohttpd lets go of it */
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK_BYTES, stream_read, s, stream_free);
	if (!resp) {
		stream_free(s);
		*ret = MHD_NO;
		return 0;
	}
	*ret = queue(q, conn, MHD_HTTP_OK, type, resp, 0, NULL);
	return 0;
}

/*
 * chunk_size as a number of rows, 1 to MAX_CHUNK_SIZE, digits only; 0, or
 * -1 with the reason in msg.
 */
#define DEFAULT_CHUNK_SIZE 10000 /* InfluxDB's DefaultChunkSize */
#define MAX_CHUNK_SIZE 1000000

static int chunk_size_parse(const char *v, size_t *out, char *msg, size_t msg_len)
{
	size_t n = 0, i = 0;

	for (; v[i] >= '0' && v[i] <= '9' && n <= MAX_CHUNK_SIZE; i++)
		n = n * 10 + (size_t)(v[i] - '0');
	if (i == 0 || v[i] != '\0' || n < 1 || n > MAX_CHUNK_SIZE) {
		snprintf(msg, msg_len, "invalid chunk_size \"%.40s\": a number of rows from 1 to %d is required", v,
			 MAX_CHUNK_SIZE);
		return -1;
	}
	*out = n;
	return 0;
}

void http_query_quiesce(http_query *q)
{
	pthread_mutex_lock(&q->live_mu);
	q->stopping = true;
	for (stream *s = q->live; s; s = s->next) {
		atomic_store(&s->stop, true);
		pthread_mutex_lock(&s->mu);
		s->cancelled = true;
		pthread_cond_broadcast(&s->cv);
		unpark(s);
		pthread_mutex_unlock(&s->mu);
	}
	pthread_mutex_unlock(&q->live_mu);
}

/* ---- the handler ---- */

int http_query_handle(void *ctx, struct MHD_Connection *conn, const char *method, const char *url,
		      const char *body, size_t body_len)
{
	http_query *q = ctx;
	const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	const char *ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	bool csv = media_type_is(accept, "application/csv") || media_type_is(accept, "text/csv");
	enum query_output_format format = csv ? QUERY_OUTPUT_CSV : QUERY_OUTPUT_JSON;
	const char *type = csv ? "text/csv" : "application/json";
	bool post = strcmp(method, "POST") == 0, form = false;
	unsigned status = MHD_HTTP_BAD_REQUEST; /* of an error answer */
	membuf b = { 0 };
	params p = { 0 };
	query_output *o = NULL;
	query_request req = { 0 };
	query_ast *ast = NULL;
	query_parse_error perr;
	char msg[512];
	uint64_t t0 = mono_ns();
	size_t at, stmt_errors = 0, chunk_size = DEFAULT_CHUNK_SIZE;
	bool has_select = false, chunked;
	int rc, ret;

	(void)url;
	msg[0] = '\0';
	if (!post && strcmp(method, "GET") != 0) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		snprintf(msg, sizeof msg, "method not allowed: /query takes GET or POST");
		goto out;
	}
	if (post && media_type_is(ctype, "multipart/form-data")) {
		snprintf(msg, sizeof msg, "multipart/form-data bodies are not supported: send the parameters in "
					  "the URL or as application/x-www-form-urlencoded");
		goto out;
	}
	if (post && media_type_is(ctype, "application/x-www-form-urlencoded")) {
		form = true;
		if (form_check(body, body_len, &at) != 0) {
			snprintf(msg, sizeof msg, "invalid form body: bad %%-escape at byte %zu", at);
			goto out;
		}
	}
	rc = params_read(&p, conn, body, body_len, form);
	if (rc) {
		if (rc == -ENOMEM)
			status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		snprintf(msg, sizeof msg, "%s", rc == -ENOMEM ? "out of memory" : strata_last_error());
		goto out;
	}
	if (!p.v[P_Q] || blank(p.v[P_Q], p.len[P_Q])) {
		snprintf(msg, sizeof msg, "missing required parameter \"q\"");
		goto out;
	}
	if (p.v[P_PARAMS] && !blank(p.v[P_PARAMS], p.len[P_PARAMS])) {
		snprintf(msg, sizeof msg, "bound parameters (params=) are not supported: write the values into q");
		goto out;
	}
	/* chunk_size is read only with chunked=true, as InfluxDB reads it; empty is the default */
	chunked = p.v[P_CHUNKED] && strcmp(p.v[P_CHUNKED], "true") == 0;
	if (chunked && p.v[P_CHUNK_SIZE] && p.v[P_CHUNK_SIZE][0] &&
	    chunk_size_parse(p.v[P_CHUNK_SIZE], &chunk_size, msg, sizeof msg) != 0)
		goto out;
	rc = query_parse(&ast, p.v[P_Q], p.len[P_Q], NULL, &perr);
	if (rc) {
		if (rc == -ENOMEM)
			status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		snprintf(msg, sizeof msg, rc == -ENOMEM ? "out of memory" : "error parsing query: %s",
			 perr.message[0] ? perr.message : strata_last_error());
		goto out;
	}
	for (uint32_t i = 0; i < ast->n_stmts; i++)
		has_select |= ast->stmts[i].kind == QUERY_STMT_SELECT;
	if (chunked) {
		rc = stream_start(q, conn, &p, &ast, format, type, chunk_size, has_select, t0, &ret, msg, sizeof msg);
		if (rc == 0)
			return ret; /* the producer observes the latency when the query ends */
		status = rc == -EBUSY ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_INTERNAL_SERVER_ERROR;
		goto out;
	}

	b.max = q->opt.max_response_bytes;
	rc = output_open(&o, format, &p, membuf_write, &b);
	if (rc == 0) {
		req.db = p.v[P_DB];
		req.rp = p.v[P_RP];
		req.now_ns = 0; /* now() is the time the query runs */
		rc = query_execute(q->engine, ast, &req, o);
		stmt_errors = query_output_error_count(o);
		atomic_fetch_add(&q->statement_errors, stmt_errors);
	}
	if (b.overflow) {
		atomic_fetch_add(&q->too_large, 1);
		snprintf(msg, sizeof msg,
			 "the response is larger than the %zu byte limit of the server "
			 "(strata serve --max-query-response-bytes): narrow the time range, add LIMIT or GROUP BY time",
			 q->opt.max_response_bytes);
	} else if (rc) {
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		if (rc == -ENOMEM)
			snprintf(msg, sizeof msg, "out of memory");
		else
			snprintf(msg, sizeof msg, "query failed: %s", strata_last_error());
		LOG_WARN("event=query_failed error=\"%s\"", msg);
	}
out:
	query_output_free(o);
	query_ast_free(ast);
	params_free(&p);
	lsm_histogram_observe(&q->latency[msg[0] || stmt_errors ? Q_ERROR : has_select ? Q_SELECT : Q_META],
			      mono_ns() - t0);
	if (msg[0]) {
		strata_free(b.p);
		return respond_error(q, conn, status, format, type, msg);
	}
	return respond(q, conn, MHD_HTTP_OK, type, b.p, b.len, NULL);
}
