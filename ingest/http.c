/*
 * http.c — the HTTP API on libmicrohttpd (see http.h).
 *
 * Each request gets a context that gathers its body (bounded by
 * max_body_bytes: past it the rest is discarded and the answer is 413).
 * When the body is complete the worker thread decodes gzip if asked (again
 * bounded), runs the write through its own ingest_session and answers.
 *
 * Connections: each has an http_conn (libmicrohttpd's socket context) on a
 * list guarded by conns_mu, made when the connection is accepted and freed
 * when it closes. It holds the connection's deadline: accept or end of the
 * previous response + request_timeout_ms while a request arrives, none
 * while the request is handled, end of handling + request_timeout_ms while
 * the response leaves. The sweeper thread shuts down (never closes: the fd
 * stays libmicrohttpd's) the sockets past their deadline; libmicrohttpd
 * then sees the end of the stream and closes the connection itself. The
 * close notification comes before libmicrohttpd closes the fd, and takes
 * conns_mu, so the sweeper never touches an fd that was reused.
 */
#include "ingest/http.h"
#include "ingest/address.h"
#include "lsm/alloc.h"
#include "lsm/histogram.h"
#include "lsm/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>


/* One connection, on the list of ingest_http.conns while open. Fields under conns_mu. */
typedef struct http_conn {
	struct http_conn *prev, *next;
	int fd;
	int64_t deadline_ns; /* monotonic; 0: none (a request is being handled) */
	bool counted;        /* counts toward its address's connections */
	bool cut;            /* shut down by the sweeper */
	uint8_t addr[16];    /* client address: IPv4 as v4-mapped IPv6, IPv6 by its /64 */
	int worker;          /* its libmicrohttpd worker in ingest_http.workers, -1 when not known */
} http_conn;

/* A libmicrohttpd worker thread and the connections it holds (under conns_mu). */
typedef struct http_worker {
	pthread_t tid;
	unsigned conns;
} http_worker;

/* Kinds of refused writes counted for /metrics (413, 503 and partial writes have their own counters). */
enum write_error { WERR_BAD_REQUEST, WERR_NOT_FOUND, WERR_ENCODING, WERR_ENGINE, WERR_N };

struct ingest_http {
	struct MHD_Daemon *daemon;
	ingest_engine *engine;
	ingest_http_options opt;
	uint16_t port;
	pthread_key_t session_key;
	pthread_mutex_t sessions_mu; /* guards sessions */
	ingest_session **sessions;
	size_t n_sessions, sessions_cap;
	atomic_uint_fast64_t requests, writes_ok, writes_partial, writes_failed, too_large, overloaded;
	atomic_size_t inflight_bytes; /* body bytes held by all requests */
	pthread_mutex_t jobs_mu;
	pthread_cond_t jobs_cv;       /* a job ended */
	pthread_cond_t work_cv;       /* a job is queued, or the pool stops */
	struct deferred *queue, *queue_tail; /* jobs waiting for a hook thread */
	size_t n_jobs;                /* deferred hooks queued or running */
	pthread_t *pool;              /* the hook threads */
	size_t n_pool;
	bool pool_stop;
	atomic_uint_fast64_t timeouts, ip_refused, auth_refused, auth_limited, series_limited;
	/* /metrics: what writes through this listener brought, and why writes were refused. */
	atomic_uint_fast64_t points, body_bytes, lines_rejected;
	atomic_uint_fast64_t write_errors[WERR_N];

	pthread_mutex_t conns_mu;  /* guards conns, n_conns, stopping and every http_conn */
	pthread_cond_t sweep_cv;   /* wakes the sweeper to stop */
	http_conn *conns;
	uint64_t n_conns;
	http_worker *workers;      /* the workers seen so far (at most opt.threads) */
	size_t n_workers;
	atomic_uint hooks_on_workers; /* hooks running on their own worker (run_on_worker) */
	bool stopping;
	bool sweeper_running;
	pthread_t sweeper;
};

typedef struct request {
	char *body;
	size_t len;
	size_t cap;      /* counted in inflight_bytes while held */
	bool too_large;
	bool overloaded; /* the in-flight budget was spent: answered 503 */
	unsigned refused;        /* status the auth hook refused the request with (its body is dropped) */
	const char *refused_msg;
	struct deferred *job;    /* a hook running off the worker (the connection suspended) */
} request;

/*
 * A route hook (/query, /debug/) run on a thread of its own while its
 * connection is suspended, so that a long query or backup never holds up
 * the other connections of its libmicrohttpd worker. The hook's response
 * (ingest_http_queue_response) is kept here and queued by the worker when
 * the connection is resumed.
 */
typedef struct deferred {
	ingest_http *h;
	struct MHD_Connection *conn;
	ingest_http_handler fn;
	void *ctx;
	char *method, *url;
	const char *body;
	size_t len;
	struct deferred *next;     /* in the queue */
	struct MHD_Response *resp; /* queued on resume */
	unsigned status;
	int ret;                   /* the hook's MHD_YES / MHD_NO */
	bool done;                 /* under h->jobs_mu */
} deferred;

/* Hooks running off the workers at most: past it (a flood of queries) they run on the workers. */
#define MAX_JOBS 64

/* The job of the hook this thread runs, if any. */
static _Thread_local deferred *current_job;

void ingest_http_options_default(ingest_http_options *out)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	memset(out, 0, sizeof *out);
	out->addr = "127.0.0.1:8086";
	out->max_body_bytes = 25u << 20;
	out->max_inflight_bytes = 256u << 20;
	out->threads = cores > 2 ? (unsigned)cores * 2 : 4;
	out->max_connections = 1024;
	out->timeout_s = 60;
	out->max_connections_per_ip = 256;
	out->request_timeout_ms = 60000;
	out->auth_open = INGEST_HTTP_OPEN_PING;
}

/* ---- responses ---- */

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type,
			       const char *body, size_t len)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	if (type)
		MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "X-Influxdb-Version", STRATA_HTTP_VERSION);
	MHD_add_response_header(resp, "X-Influxdb-Build", "OSS");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Appends s to out as the inside of a JSON string. */
static size_t json_escape(char *out, size_t cap, const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 7 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
		} else if (c < 0x20) {
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
	return n;
}

/* {"error":"<msg>"} — or, for the v2 API, {"code":"<code>","message":"<msg>"}. */
static enum MHD_Result respond_error(struct MHD_Connection *conn, unsigned status, bool v2, const char *code,
				     const char *msg)
{
	char body[4096], esc[3500];

	json_escape(esc, sizeof esc, msg, strlen(msg));
	if (v2)
		snprintf(body, sizeof body, "{\"code\":\"%s\",\"message\":\"%s\"}\n", code, esc);
	else
		snprintf(body, sizeof body, "{\"error\":\"%s\"}\n", esc);
	return respond(conn, status, "application/json", body, strlen(body));
}

/* 503 with Retry-After: the server holds too many request bodies right now. */
static enum MHD_Result respond_busy(struct MHD_Connection *conn)
{
	static const char body[] = "{\"error\":\"server busy: too many request bodies in flight, retry later\"}\n";
	struct MHD_Response *resp = MHD_create_response_from_buffer(sizeof body - 1, (void *)body,
								    MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Retry-After", "1");
	MHD_add_response_header(resp, "X-Influxdb-Version", STRATA_HTTP_VERSION);
	ret = MHD_queue_response(conn, MHD_HTTP_SERVICE_UNAVAILABLE, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---- sessions: one per worker thread ---- */

static ingest_session *thread_session(ingest_http *h)
{
	ingest_session *s = pthread_getspecific(h->session_key);

	if (s)
		return s;
	if (ingest_session_new(&s, h->engine) != 0)
		return NULL;
	pthread_mutex_lock(&h->sessions_mu);
	if (h->n_sessions == h->sessions_cap) {
		size_t cap = h->sessions_cap ? h->sessions_cap * 2 : 16;
		ingest_session **grown = strata_realloc(h->sessions, cap * sizeof *grown);

		if (!grown) {
			pthread_mutex_unlock(&h->sessions_mu);
			ingest_session_free(s);
			return NULL;
		}
		h->sessions = grown;
		h->sessions_cap = cap;
	}
	h->sessions[h->n_sessions++] = s;
	pthread_mutex_unlock(&h->sessions_mu);
	pthread_setspecific(h->session_key, s);
	return s;
}

/* ---- /write ---- */

/* Inflates a gzip body into *out (bounded by max). 0, STRATA_ETOOBIG, STRATA_EINVAL. */
static int gunzip(const char *in, size_t in_len, size_t max, char **out, size_t *out_len)
{
	z_stream z = { 0 };
	size_t cap = in_len * 4 + 4096, len = 0;
	char *buf;
	int zrc, rc = 0;

	if (cap > max + 1)
		cap = max + 1;
	buf = strata_malloc(cap);
	if (!buf)
		return -ENOMEM;
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
		strata_free(buf);
		return -ENOMEM;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)in_len;
	do {
		if (len == cap) {
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *grown;

			if (ncap <= cap) {
				rc = STRATA_ETOOBIG;
				break;
			}
			grown = strata_realloc(buf, ncap);
			if (!grown) {
				rc = -ENOMEM;
				break;
			}
			buf = grown;
			cap = ncap;
		}
		z.next_out = (Bytef *)buf + len;
		z.avail_out = (uInt)(cap - len);
		zrc = inflate(&z, Z_NO_FLUSH);
		len = cap - z.avail_out;
		if (zrc == Z_STREAM_END) {
			if (z.avail_in == 0)
				break;
			/* Several gzip members (pigz, concatenated files): decode them all. */
			if (inflateReset(&z) != Z_OK) {
				rc = strata_error(STRATA_EINVAL, "bad gzip body: cannot read the next member");
				break;
			}
			continue;
		}
		if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
			rc = strata_error(STRATA_EINVAL, "bad gzip body: %s", z.msg ? z.msg : "corrupt data");
			break;
		}
		if (zrc == Z_BUF_ERROR && z.avail_in == 0) {
			rc = strata_error(STRATA_EINVAL, "bad gzip body: truncated");
			break;
		}
	} while (1);
	inflateEnd(&z);
	if (rc == 0 && len > max)
		rc = STRATA_ETOOBIG;
	if (rc) {
		strata_free(buf);
		return rc;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

static const char *const write_error_names[WERR_N] = { "bad_request", "not_found", "unsupported_encoding",
							"engine" };

/* respond_error for a refused write, counted by kind. */
static enum MHD_Result refuse_write(ingest_http *h, enum write_error kind, struct MHD_Connection *conn,
				   unsigned status, bool v2, const char *code, const char *msg)
{
	atomic_fetch_add(&h->write_errors[kind], 1);
	return respond_error(conn, status, v2, code, msg);
}

static enum MHD_Result handle_write(ingest_http *h, struct MHD_Connection *conn, request *r, bool v2)
{
	const char *db = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, v2 ? "bucket" : "db");
	const char *rp = v2 ? NULL : MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "rp");
	const char *prec = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "precision");
	const char *enc = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
	enum ingest_lp_precision precision = INGEST_LP_NS;
	char dbname[LSM_CATALOG_NAME_MAX + 1], msg[3000];
	const char *body = r->body;
	size_t body_len = r->len;
	char *inflated = NULL;
	ingest_session *s;
	ingest_report report;
	enum MHD_Result ret;
	int rc;

	if (r->too_large) {
		atomic_fetch_add(&h->too_large, 1);
		return respond_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, v2, "request too large", "request entity too large");
	}
	if (!db || !db[0])
		return refuse_write(h, WERR_BAD_REQUEST, conn, MHD_HTTP_BAD_REQUEST, v2, "invalid",
				    v2 ? "bucket is required" : "database is required");
	/* A v2 bucket may be "db/rp": the database, then the policy after the slash. */
	if (strcspn(db, v2 ? "/" : "") > LSM_CATALOG_NAME_MAX)
		return refuse_write(h, WERR_BAD_REQUEST, conn, MHD_HTTP_BAD_REQUEST, v2, "invalid",
				    "database name too long");
	snprintf(dbname, sizeof dbname, "%.*s", (int)strcspn(db, v2 ? "/" : ""), db);
	if (v2 && db[strlen(dbname)] == '/')
		rp = db + strlen(dbname) + 1;
	if (prec && prec[0] && ingest_lp_parse_precision(prec, &precision) != 0) {
		snprintf(msg, sizeof msg, "invalid precision \"%s\" (ns, u, ms, s, m, h)", prec);
		return refuse_write(h, WERR_BAD_REQUEST, conn, MHD_HTTP_BAD_REQUEST, v2, "invalid", msg);
	}
	if (enc && strcasecmp(enc, "gzip") == 0) {
		rc = gunzip(r->body, r->len, h->opt.max_body_bytes, &inflated, &body_len);
		if (rc == STRATA_ETOOBIG) {
			atomic_fetch_add(&h->too_large, 1);
			return respond_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, v2, "request too large",
					     "request entity too large (after gzip decoding)");
		}
		if (rc)
			return refuse_write(h, WERR_BAD_REQUEST, conn, MHD_HTTP_BAD_REQUEST, v2, "invalid",
					    strata_last_error());
		/* The decoded body counts against the same budget as the bodies held. */
		if (atomic_fetch_add(&h->inflight_bytes, body_len) + body_len > h->opt.max_inflight_bytes) {
			atomic_fetch_sub(&h->inflight_bytes, body_len);
			strata_free(inflated);
			atomic_fetch_add(&h->overloaded, 1);
			return respond_busy(conn);
		}
		body = inflated;
	} else if (enc && enc[0] && strcasecmp(enc, "identity") != 0) {
		snprintf(msg, sizeof msg, "unsupported Content-Encoding \"%s\"", enc);
		return refuse_write(h, WERR_ENCODING, conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, v2, "invalid", msg);
	}
	s = thread_session(h);
	if (!s) {
		if (inflated)
			atomic_fetch_sub(&h->inflight_bytes, body_len);
		strata_free(inflated);
		return respond_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, v2, "internal error", "out of memory");
	}
	rc = ingest_session_write(s, dbname, rp, body, body_len, precision, ingest_now_ns(), true, &report);
	if (inflated) {
		strata_free(inflated);
		atomic_fetch_sub(&h->inflight_bytes, body_len);
	}
	if (rc == STRATA_ENOTFOUND) {
		/* The database or the policy: the writer's message names which. */
		atomic_fetch_add(&h->writes_failed, 1);
		snprintf(msg, sizeof msg, "%s", strata_last_error());
		return refuse_write(h, WERR_NOT_FOUND, conn, MHD_HTTP_NOT_FOUND, v2, "not found", msg);
	}
	if (rc == STRATA_EINVAL) {
		atomic_fetch_add(&h->writes_failed, 1);
		return refuse_write(h, WERR_BAD_REQUEST, conn, MHD_HTTP_BAD_REQUEST, v2, "invalid", strata_last_error());
	}
	if (rc) {
		atomic_fetch_add(&h->writes_failed, 1);
		snprintf(msg, sizeof msg,
			 "write failed: %s (%s); points of this request before the failure may be stored",
			 strata_strerror(rc), strata_last_error());
		LOG_ERROR("event=write_failed db=%s error=\"%s\"", dbname, msg);
		return refuse_write(h, WERR_ENGINE, conn,
				    rc == STRATA_EREADONLY ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_INTERNAL_SERVER_ERROR,
				    v2, "internal error", msg);
	}
	atomic_fetch_add(&h->points, report.points);
	atomic_fetch_add(&h->body_bytes, body_len);
	atomic_fetch_add(&h->lines_rejected, report.lines_rejected);
	if (report.lines_rejected) {
		atomic_fetch_add(&h->writes_partial, 1);
		/* As the catalog words it (lsm_catalog_txn_series); only the first errors are kept. */
		if (strstr(report.errors, "series limit of"))
			atomic_fetch_add(&h->series_limited, 1);
		if (report.beyond_retention == report.lines_rejected) /* InfluxDB's words (docs/retention.md) */
			snprintf(msg, sizeof msg, "partial write: points beyond retention policy dropped=%llu",
				 (unsigned long long)report.lines_rejected);
		else
			snprintf(msg, sizeof msg, "partial write: %.*s dropped=%llu", (int)report.errors_len,
				 report.errors, (unsigned long long)report.lines_rejected);
		return respond_error(conn, MHD_HTTP_BAD_REQUEST, v2, "invalid", msg);
	}
	atomic_fetch_add(&h->writes_ok, 1);
	ret = respond(conn, MHD_HTTP_NO_CONTENT, NULL, "", 0);
	return ret;
}

/* ---- /metrics and /health ---- */

static enum MHD_Result handle_metrics(ingest_http *h, struct MHD_Connection *conn)
{
	ingest_counters *c = &h->engine->counters;
	lsm_stats st;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	enum MHD_Result ret;

	if (!f)
		return respond_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, false, "", "out of memory");
	lsm_get_stats(h->engine->db, &st);
#define COUNTER(name, help, value) \
	fprintf(f, "# HELP " name " " help "\n# TYPE " name " counter\n" name " %llu\n", (unsigned long long)(value))
#define GAUGE(name, help, value) \
	fprintf(f, "# HELP " name " " help "\n# TYPE " name " gauge\n" name " %llu\n", (unsigned long long)(value))
	COUNTER("strata_ingest_points_total", "Points written.", atomic_load(&c->points));
	COUNTER("strata_ingest_fields_total", "Field values written.", atomic_load(&c->fields));
	COUNTER("strata_ingest_bytes_total", "Line protocol bytes received by writes.", atomic_load(&c->bytes));
	COUNTER("strata_ingest_lines_rejected_total", "Lines rejected (syntax, type conflicts, limits).",
		atomic_load(&c->lines_rejected));
	COUNTER("strata_ingest_type_conflicts_total", "Lines rejected for a field type conflict.",
		atomic_load(&c->type_conflicts));
	COUNTER("strata_ingest_series_created_total", "Series created.", atomic_load(&c->series_created));
	COUNTER("strata_ingest_write_errors_total", "Writes that failed in the engine.", atomic_load(&c->write_errors));
	COUNTER("strata_ingest_points_beyond_retention_total", "Points rejected as older than their database keeps.",
		atomic_load(&c->points_beyond_retention));
	COUNTER("strata_http_requests_total", "HTTP requests.", atomic_load(&h->requests));
	COUNTER("strata_http_writes_partial_total", "Writes answered 400 with some lines dropped.",
		atomic_load(&h->writes_partial));
	COUNTER("strata_http_request_too_large_total", "Requests answered 413.", atomic_load(&h->too_large));
	COUNTER("strata_http_points_total", "Points written through HTTP /write and /api/v2/write.",
		atomic_load(&h->points));
	COUNTER("strata_http_write_bytes_total", "Line protocol bytes of HTTP writes (after gzip decoding).",
		atomic_load(&h->body_bytes));
	COUNTER("strata_http_lines_rejected_total", "Lines of HTTP writes rejected (syntax, type conflicts, limits).",
		atomic_load(&h->lines_rejected));
	COUNTER("strata_http_writes_ok_total", "Writes answered 204.", atomic_load(&h->writes_ok));
	fprintf(f, "# HELP strata_http_write_errors_total Writes refused whole, by kind (413, 503 and partial "
		   "writes are counted apart).\n# TYPE strata_http_write_errors_total counter\n");
	for (size_t i = 0; i < WERR_N; i++)
		fprintf(f, "strata_http_write_errors_total{kind=\"%s\"} %llu\n", write_error_names[i],
			(unsigned long long)atomic_load(&h->write_errors[i]));
	COUNTER("strata_http_busy_total", "Requests answered 503: the in-flight body budget was spent.",
		atomic_load(&h->overloaded));
	GAUGE("strata_http_inflight_body_bytes", "Request body bytes held now.", atomic_load(&h->inflight_bytes));
	pthread_mutex_lock(&h->conns_mu);
	GAUGE("strata_http_connections", "HTTP connections open now.", h->n_conns);
	pthread_mutex_unlock(&h->conns_mu);
	COUNTER("strata_http_request_timeouts_total",
		"Connections cut by the request timeout: a request or response too slow, or idle past it.",
		atomic_load(&h->timeouts));
	COUNTER("strata_http_connections_refused_total", "Connections refused: too many from one client address.",
		atomic_load(&h->ip_refused));
	COUNTER("strata_http_writes_series_limited_total",
		"Writes answered 400 with lines refused for the series limit (--max-series).",
		atomic_load(&h->series_limited));
	COUNTER("strata_http_unauthorized_total", "Requests answered 401.", atomic_load(&h->auth_refused));
	COUNTER("strata_http_auth_limited_total", "Requests answered 429 after too many failed logins.",
		atomic_load(&h->auth_limited));
	COUNTER("strata_wal_groups_total", "Group commits.", st.commit.groups);
	COUNTER("strata_wal_batches_total", "Write batches committed.", st.commit.batches);
	COUNTER("strata_wal_bytes_total", "Bytes appended to the WAL.", st.commit.bytes);
	COUNTER("strata_wal_fsyncs_total", "WAL fdatasync calls.", st.commit.syncs);
	COUNTER("strata_write_stalls_total", "Times writes waited for a flush.", st.write_stalls);
	fprintf(f, "# HELP strata_write_stall_seconds_total Time writes waited for a flush.\n"
		   "# TYPE strata_write_stall_seconds_total counter\nstrata_write_stall_seconds_total %.9f\n",
		(double)st.write_stall_ns / 1e9);
	fprintf(f, "# HELP strata_commit_latency_seconds Time from a write batch entering group commit to its "
		   "acknowledgement (durable when synced).\n# TYPE strata_commit_latency_seconds histogram\n");
	lsm_histogram_write_prometheus(f, "strata_commit_latency_seconds", "", &st.commit.latency_ns, 9);
	fprintf(f, "# HELP strata_wal_group_bytes Bytes written to the WAL per commit group.\n"
		   "# TYPE strata_wal_group_bytes histogram\n");
	lsm_histogram_write_prometheus(f, "strata_wal_group_bytes", "", &st.commit.group_bytes, 0);
	fprintf(f, "# HELP strata_wal_group_points Entries (points) written to the WAL per commit group.\n"
		   "# TYPE strata_wal_group_points histogram\n");
	lsm_histogram_write_prometheus(f, "strata_wal_group_points", "", &st.commit.group_entries, 0);
	COUNTER("strata_flushes_total", "Memtable flushes.", st.flushes);
	COUNTER("strata_flush_bytes_total", "Bytes of tables written by flushes.", st.flush_bytes);
	COUNTER("strata_block_cache_hits_total", "Block cache hits.", st.cache.hits);
	COUNTER("strata_block_cache_misses_total", "Block cache misses.", st.cache.misses);
	GAUGE("strata_block_cache_bytes", "Bytes in the block cache.", st.cache.bytes);
	GAUGE("strata_memtable_bytes", "Bytes in the active memtable.", st.memtable_bytes);
	GAUGE("strata_immutable_memtable_bytes", "Bytes in the memtable being flushed.", st.immutable_bytes);
	GAUGE("strata_sstables", "Live SSTables.", st.n_files);
	GAUGE("strata_sstable_bytes", "Bytes of live SSTables.", st.file_bytes);
	GAUGE("strata_time_windows", "Time windows holding tables.", st.n_windows);
	GAUGE("strata_max_files_per_window", "SSTables of the most crowded time window.", st.max_files_per_window);
	COUNTER("strata_compactions_total", "Compactions published.", st.compactions);
	COUNTER("strata_compaction_failures_total", "Compactions abandoned on an error (inputs kept).",
		st.compaction_failures);
	COUNTER("strata_compaction_read_bytes_total", "Table bytes merged by compactions.", st.compact_bytes_read);
	COUNTER("strata_compaction_written_bytes_total", "Table bytes written by compactions.",
		st.compact_bytes_written);
	fprintf(f, "# HELP strata_compaction_seconds_total Time spent compacting.\n"
		   "# TYPE strata_compaction_seconds_total counter\nstrata_compaction_seconds_total %.6f\n",
		(double)st.compact_ns / 1e9);
	GAUGE("strata_compaction_debt_bytes", "Bytes of windows a compaction would rewrite now.",
	      st.compaction_debt_bytes);
	GAUGE("strata_compaction_active", "1 while a compaction (or a retention drop) holds the compaction lock.",
	      st.compaction_active);
	/* Bytes per second of compacting, over every compaction since the start (0 before the first). */
	fprintf(f, "# HELP strata_compaction_write_bytes_per_second Table bytes written by compactions per second "
		   "spent compacting, since the start.\n# TYPE strata_compaction_write_bytes_per_second gauge\n"
		   "strata_compaction_write_bytes_per_second %.0f\n",
		st.compact_ns ? (double)st.compact_bytes_written / ((double)st.compact_ns / 1e9) : 0.0);
	/* Bytes written to tables per byte flushed (1 without compaction). */
	fprintf(f, "# HELP strata_write_amplification Table bytes written (flushes and compactions) per flushed byte.\n"
		   "# TYPE strata_write_amplification gauge\nstrata_write_amplification %.3f\n",
		st.flush_bytes ? (double)(st.flush_bytes + st.compact_bytes_written) / (double)st.flush_bytes : 1.0);
	/* Everything the engine wrote per byte of data it was given (the WAL holds each write once). */
	fprintf(f, "# HELP strata_engine_write_amplification Bytes written to the WAL and to tables (flushes and "
		   "compactions) per byte written to the WAL.\n# TYPE strata_engine_write_amplification gauge\n"
		   "strata_engine_write_amplification %.3f\n",
		st.commit.bytes ? (double)(st.commit.bytes + st.flush_bytes + st.compact_bytes_written) /
					  (double)st.commit.bytes
				: 1.0);
	GAUGE("strata_sstable_entries", "Entries of the live SSTables, every version of a point counted.",
	      st.table_entries);
	GAUGE("strata_sstable_merged_bytes_estimate",
	      "Estimated bytes of the live SSTables once every time window were merged.", st.est_merged_bytes);
	fprintf(f, "# HELP strata_space_amplification Bytes of the live SSTables per byte they would take once every "
		   "time window were merged (estimated).\n# TYPE strata_space_amplification gauge\n"
		   "strata_space_amplification %.3f\n",
		st.est_merged_bytes ? (double)st.file_bytes / (double)st.est_merged_bytes : 1.0);
	GAUGE("strata_series", "Series in the catalog.", lsm_catalog_series_count(h->engine->catalog));
	GAUGE("strata_read_only", "1 when a failed write made the engine read-only.", st.error != 0);
	fprintf(f, "# HELP strata_wal_sync_mode_relaxed 1 in relaxed sync mode (acknowledged before fdatasync).\n"
		   "# TYPE strata_wal_sync_mode_relaxed gauge\nstrata_wal_sync_mode_relaxed %d\n", st.relaxed ? 1 : 0);
#undef COUNTER
#undef GAUGE
	if (h->opt.metrics)
		h->opt.metrics(h->opt.metrics_ctx, f);
	fclose(f);
	ret = respond(conn, MHD_HTTP_OK, "text/plain; version=0.0.4", text, len);
	free(text); /* open_memstream's buffer comes from the C library's malloc */
	return ret;
}

static enum MHD_Result handle_health(ingest_http *h, struct MHD_Connection *conn)
{
	lsm_stats st;
	char body[512];

	lsm_get_stats(h->engine->db, &st);
	if (st.error) {
		snprintf(body, sizeof body,
			 "{\"name\":\"strata\",\"status\":\"fail\",\"message\":\"read-only after a failed write: %s\"}\n",
			 strata_strerror(st.error));
		return respond(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json", body, strlen(body));
	}
	snprintf(body, sizeof body, "{\"name\":\"strata\",\"status\":\"pass\",\"message\":\"ready for queries and writes\"}\n");
	return respond(conn, MHD_HTTP_OK, "application/json", body, strlen(body));
}

/* ---- connections: limits per address, deadlines, the sweeper ---- */

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The key of a client address for the per-address limit (as tools/auth.c keys its failures). */
static void addr_key(const struct sockaddr *sa, uint8_t out[16])
{
	memset(out, 0, 16);
	if (sa && sa->sa_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa && sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		if (memcmp(out, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) != 0)
			memset(out + 8, 0, 8);
	}
}

static int64_t deadline_from(ingest_http *h, int64_t now)
{
	return h->opt.request_timeout_ms ? now + (int64_t)h->opt.request_timeout_ms * 1000000 : 0;
}

/*
 * The calling thread's slot in h->workers (libmicrohttpd accepts a
 * connection on the worker that will serve it), taking a free one the
 * first time; -1 past opt.threads slots. Under conns_mu.
 */
static int worker_of_thread(ingest_http *h)
{
	pthread_t self = pthread_self();

	for (size_t i = 0; i < h->n_workers; i++)
		if (pthread_equal(h->workers[i].tid, self))
			return (int)i;
	if (!h->workers || h->n_workers >= h->opt.threads)
		return -1;
	h->workers[h->n_workers] = (http_worker){ .tid = self, .conns = 0 };
	return (int)h->n_workers++;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	ingest_http *h = cls;
	http_conn *c = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (!c)
			return;
		pthread_mutex_lock(&h->conns_mu);
		if (c->prev)
			c->prev->next = c->next;
		else
			h->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		h->n_conns--;
		if (c->worker >= 0)
			h->workers[c->worker].conns--;
		pthread_mutex_unlock(&h->conns_mu);
		strata_free(c);
		*socket_context = NULL;
		return;
	}
	{
		const union MHD_ConnectionInfo *fd_info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *addr_info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		unsigned same = 0;

		if (!fd_info)
			return;
		c = strata_calloc(1, sizeof *c);
		if (!c) {
			shutdown(fd_info->connect_fd, SHUT_RDWR); /* untracked means unbounded: refuse */
			return;
		}
		c->fd = fd_info->connect_fd;
		addr_key(addr_info ? addr_info->client_addr : NULL, c->addr);
		pthread_mutex_lock(&h->conns_mu);
		if (h->opt.max_connections_per_ip)
			for (http_conn *o = h->conns; o && same < h->opt.max_connections_per_ip; o = o->next)
				same += o->counted && memcmp(o->addr, c->addr, 16) == 0;
		if (h->opt.max_connections_per_ip && same >= h->opt.max_connections_per_ip) {
			/* libmicrohttpd reads the end of the stream and closes it. */
			shutdown(c->fd, SHUT_RDWR);
			c->cut = true;
			atomic_fetch_add(&h->ip_refused, 1);
		} else {
			c->counted = true;
			c->deadline_ns = deadline_from(h, mono_ns());
		}
		c->worker = worker_of_thread(h);
		if (c->worker >= 0)
			h->workers[c->worker].conns++;
		c->next = h->conns;
		if (h->conns)
			h->conns->prev = c;
		h->conns = c;
		h->n_conns++;
		pthread_mutex_unlock(&h->conns_mu);
		*socket_context = c;
	}
}

/* Sets the deadline of the connection of a request: none while handling, else from now. */
static void conn_deadline(ingest_http *h, struct MHD_Connection *conn, bool handling)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	http_conn *c = info ? info->socket_context : NULL;

	if (!c)
		return;
	pthread_mutex_lock(&h->conns_mu);
	c->deadline_ns = handling ? 0 : deadline_from(h, mono_ns());
	pthread_mutex_unlock(&h->conns_mu);
}

static void *sweeper_main(void *arg)
{
	ingest_http *h = arg;
	int64_t period_ns = (int64_t)h->opt.request_timeout_ms * 1000000 / 4;

	if (period_ns < 50000000)
		period_ns = 50000000;
	if (period_ns > 1000000000)
		period_ns = 1000000000;
	pthread_mutex_lock(&h->conns_mu);
	while (!h->stopping) {
		int64_t wake = mono_ns() + period_ns, now;
		struct timespec ts = { (time_t)(wake / 1000000000), (long)(wake % 1000000000) };
		uint64_t cut = 0;

		pthread_cond_timedwait(&h->sweep_cv, &h->conns_mu, &ts);
		now = mono_ns();
		for (http_conn *c = h->conns; c; c = c->next) {
			if (!c->cut && c->deadline_ns && now >= c->deadline_ns) {
				shutdown(c->fd, SHUT_RDWR);
				c->cut = true;
				cut++;
			}
		}
		if (cut) {
			atomic_fetch_add(&h->timeouts, cut);
			LOG_DEBUG("event=http_request_timeout connections=%llu timeout_ms=%u", (unsigned long long)cut,
				  h->opt.request_timeout_ms);
		}
	}
	pthread_mutex_unlock(&h->conns_mu);
	return NULL;
}

/* Whether a route is served only to authenticated requests. */
static bool needs_auth(ingest_http *h, const char *url)
{
	if (!h->opt.auth)
		return false;
	if (strcmp(url, "/ping") == 0)
		return !(h->opt.auth_open & INGEST_HTTP_OPEN_PING);
	if (strcmp(url, "/health") == 0)
		return !(h->opt.auth_open & INGEST_HTTP_OPEN_HEALTH);
	if (strcmp(url, "/metrics") == 0)
		return !(h->opt.auth_open & INGEST_HTTP_OPEN_METRICS);
	return true; /* every other route, known or not */
}

static void authenticate(ingest_http *h, struct MHD_Connection *conn, request *r)
{
	const union MHD_ConnectionInfo *addr = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	ingest_http_credentials c = {
		.user = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "u"),
		.password = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "p"),
		.authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
		.peer = addr ? addr->client_addr : NULL,
	};

	r->refused_msg = "authorization failed";
	r->refused = h->opt.auth(h->opt.auth_ctx, &c, &r->refused_msg);
	if (r->refused == MHD_HTTP_TOO_MANY_REQUESTS)
		atomic_fetch_add(&h->auth_limited, 1);
	else if (r->refused)
		atomic_fetch_add(&h->auth_refused, 1);
}

/* 401 or 429 for a request the auth hook refused. */
static enum MHD_Result respond_refused(struct MHD_Connection *conn, const request *r, bool v2)
{
	char body[512], esc[300];
	struct MHD_Response *resp;
	enum MHD_Result ret;

	json_escape(esc, sizeof esc, r->refused_msg, strlen(r->refused_msg));
	if (v2)
		snprintf(body, sizeof body, "{\"code\":\"%s\",\"message\":\"%s\"}\n",
			 r->refused == MHD_HTTP_TOO_MANY_REQUESTS ? "too many requests" : "unauthorized", esc);
	else
		snprintf(body, sizeof body, "{\"error\":\"%s\"}\n", esc);
	resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "X-Influxdb-Version", STRATA_HTTP_VERSION);
	MHD_add_response_header(resp, "X-Influxdb-Error", r->refused_msg);
	if (r->refused == MHD_HTTP_TOO_MANY_REQUESTS)
		MHD_add_response_header(resp, "Retry-After", "1");
	ret = MHD_queue_response(conn, r->refused, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---- hooks off the worker ---- */

int ingest_http_queue_response(struct MHD_Connection *conn, unsigned status, struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (current_job && current_job->conn == conn && !current_job->resp) {
		current_job->resp = resp;
		current_job->status = status;
		return MHD_YES;
	}
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* A hook thread: runs the queued jobs, one at a time, until the pool stops. */
static void *pool_main(void *arg)
{
	ingest_http *h = arg;

	pthread_mutex_lock(&h->jobs_mu);
	for (;;) {
		deferred *j;
		int ret;

		while (!h->queue && !h->pool_stop)
			pthread_cond_wait(&h->work_cv, &h->jobs_mu);
		if (!h->queue)
			break;
		j = h->queue;
		h->queue = j->next;
		if (!h->queue)
			h->queue_tail = NULL;
		pthread_mutex_unlock(&h->jobs_mu);

		current_job = j;
		ret = j->fn(j->ctx, j->conn, j->method, j->url, j->body, j->len) ? MHD_YES : MHD_NO;
		current_job = NULL;

		pthread_mutex_lock(&h->jobs_mu);
		j->ret = ret;
		j->done = true;
		MHD_resume_connection(j->conn); /* the worker queues the response */
		h->n_jobs--;
		pthread_cond_broadcast(&h->jobs_cv);
	}
	pthread_mutex_unlock(&h->jobs_mu);
	return NULL;
}

static void job_discard(deferred *j)
{
	strata_free(j->method);
	strata_free(j->url);
	strata_free(j);
}

/* Frees a job that has run: the response it made, if never queued. */
static void job_free(deferred *j)
{
	if (!j)
		return;
	if (j->resp)
		MHD_destroy_response(j->resp);
	job_discard(j);
}

static deferred *job_new(ingest_http *h, struct MHD_Connection *conn, const request *r, ingest_http_handler fn,
			 void *ctx, const char *method, const char *url)
{
	deferred *j = strata_calloc(1, sizeof *j);

	if (!j)
		return NULL;
	*j = (deferred){ .h = h, .conn = conn, .fn = fn, .ctx = ctx, .body = r->body ? r->body : "", .len = r->len,
			 .method = strata_strdup(method), .url = strata_strdup(url) };
	if (!j->method || !j->url) {
		job_discard(j);
		return NULL;
	}
	return j;
}

/* Starts the hook threads (as many as the workers); with none, hooks run on the workers. */
static void pool_start(ingest_http *h)
{
	size_t want = h->opt.threads ? h->opt.threads : 1;

	h->pool = strata_calloc(want, sizeof(*h->pool));
	for (size_t i = 0; h->pool && i < want; i++) {
		if (pthread_create(&h->pool[i], NULL, pool_main, h) != 0)
			break;
		h->n_pool++;
	}
	if (h->n_pool < want)
		LOG_WARN("event=http_hook_threads started=%zu wanted=%zu", h->n_pool, want);
}

/* Stops the hook threads once the queue is empty. */
static void pool_stop(ingest_http *h)
{
	size_t n;

	/* n_pool goes to 0 under the lock: a worker deciding where a hook runs reads it there. */
	pthread_mutex_lock(&h->jobs_mu);
	h->pool_stop = true;
	n = h->n_pool;
	h->n_pool = 0;
	pthread_cond_broadcast(&h->work_cv);
	pthread_mutex_unlock(&h->jobs_mu);
	for (size_t i = 0; i < n; i++)
		pthread_join(h->pool[i], NULL);
	strata_free(h->pool);
	h->pool = NULL;
}

/*
 * Whether a hook may run right here on the worker, with no hand-off to a
 * hook thread and back (two thread wake-ups, about as long as a small
 * query itself): when the request's connection is the only one its
 * worker holds, nothing else waits on that worker; and at most threads - 1
 * hooks run on workers at once, so one worker is always free to take new
 * connections. True takes a place among those; hook_left_worker gives it
 * back.
 */
static bool run_on_worker(ingest_http *h, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	http_conn *c = info ? info->socket_context : NULL;
	unsigned n;
	bool alone;

	if (!c || h->opt.threads < 2)
		return false;
	pthread_mutex_lock(&h->conns_mu);
	alone = c->worker >= 0 && pthread_equal(h->workers[c->worker].tid, pthread_self()) &&
		h->workers[c->worker].conns == 1;
	pthread_mutex_unlock(&h->conns_mu);
	if (!alone)
		return false;
	n = atomic_load(&h->hooks_on_workers);
	do {
		if (n + 1 >= h->opt.threads)
			return false;
	} while (!atomic_compare_exchange_weak(&h->hooks_on_workers, &n, n + 1));
	return true;
}

static void hook_left_worker(ingest_http *h)
{
	atomic_fetch_sub(&h->hooks_on_workers, 1);
}

/*
 * Runs hook fn for the complete request r: on the worker when nothing
 * else waits there (run_on_worker); else first on a hook thread with
 * the connection suspended; once resumed, the response it made is queued
 * here. With MAX_JOBS queued or running (or no pool), the hook runs on the
 * worker.
 */
static enum MHD_Result defer(ingest_http *h, struct MHD_Connection *conn, request *r, ingest_http_handler fn,
			     void *ctx, const char *method, const char *url)
{
	deferred *j = r->job;
	bool done;
	int ret;

	if (j) {
		pthread_mutex_lock(&h->jobs_mu);
		done = j->done;
		pthread_mutex_unlock(&h->jobs_mu);
		if (!done)
			return MHD_YES; /* not ours to answer yet */
		ret = j->ret;
		if (j->resp) {
			if (MHD_queue_response(conn, j->status, j->resp) != MHD_YES)
				ret = MHD_NO;
			MHD_destroy_response(j->resp);
			j->resp = NULL;
		}
		r->job = NULL;
		job_free(j);
		return ret == MHD_YES ? MHD_YES : MHD_NO;
	}
	if (run_on_worker(h, conn)) {
		ret = fn(ctx, conn, method, url, r->body ? r->body : "", r->len) ? MHD_YES : MHD_NO;
		hook_left_worker(h);
		return (enum MHD_Result)ret;
	}
	j = job_new(h, conn, r, fn, ctx, method, url);
	if (j) {
		pthread_mutex_lock(&h->jobs_mu);
		if (h->n_pool && h->n_jobs < MAX_JOBS) {
			MHD_suspend_connection(conn);
			if (h->queue_tail)
				h->queue_tail->next = j;
			else
				h->queue = j;
			h->queue_tail = j;
			h->n_jobs++;
			r->job = j;
			pthread_cond_signal(&h->work_cv);
			pthread_mutex_unlock(&h->jobs_mu);
			return MHD_YES;
		}
		pthread_mutex_unlock(&h->jobs_mu);
		job_discard(j);
	}
	return fn(ctx, conn, method, url, r->body ? r->body : "", r->len) ? MHD_YES : MHD_NO;
}

/* ---- dispatch ---- */

static enum MHD_Result handle_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				      const char *version, const char *upload_data, size_t *upload_data_size,
				      void **con_cls)
{
	ingest_http *h = cls;
	request *r = *con_cls;

	(void)version;
	if (!r) {
		r = strata_calloc(1, sizeof *r);
		if (!r)
			return MHD_NO;
		*con_cls = r;
		atomic_fetch_add(&h->requests, 1);
		if (needs_auth(h, url))
			authenticate(h, conn, r);
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (r->refused)
			return MHD_YES; /* keep reading, keep nothing: answered at the end */
		if (r->too_large || r->len + n > h->opt.max_body_bytes) {
			r->too_large = true; /* keep reading, keep nothing: answered 413 at the end */
			return MHD_YES;
		}
		if (r->overloaded)
			return MHD_YES;
		if (r->len + n + 1 > r->cap) {
			size_t cap = r->cap ? r->cap : 65536;
			char *grown;

			while (cap < r->len + n + 1)
				cap *= 2;
			if (atomic_fetch_add(&h->inflight_bytes, cap - r->cap) + (cap - r->cap) > h->opt.max_inflight_bytes) {
				atomic_fetch_sub(&h->inflight_bytes, cap - r->cap);
				r->overloaded = true; /* keep reading, keep nothing: answered 503 at the end */
				return MHD_YES;
			}
			grown = strata_realloc(r->body, cap);
			if (!grown) {
				atomic_fetch_sub(&h->inflight_bytes, cap - r->cap);
				return MHD_NO;
			}
			r->body = grown;
			r->cap = cap;
		}
		memcpy(r->body + r->len, upload_data, n);
		r->len += n;
		return MHD_YES;
	}
	if (r->body)
		r->body[r->len] = '\0';
	if (r->refused)
		return respond_refused(conn, r, strcmp(url, "/api/v2/write") == 0);
	if (r->overloaded) {
		atomic_fetch_add(&h->overloaded, 1);
		return respond_busy(conn);
	}

	if (strcmp(url, "/ping") == 0) {
		if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
			return respond(conn, MHD_HTTP_NO_CONTENT, NULL, "", 0);
	} else if (strcmp(url, "/write") == 0 || strcmp(url, "/api/v2/write") == 0) {
		bool v2 = url[1] == 'a';

		if (strcmp(method, "POST") == 0)
			return handle_write(h, conn, r, v2);
	} else if (strcmp(url, "/query") == 0) {
		if (r->too_large)
			return respond_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, false, "", "request entity too large");
		if (h->opt.query)
			return defer(h, conn, r, h->opt.query, h->opt.query_ctx, method, url);
		return respond_error(conn, MHD_HTTP_NOT_IMPLEMENTED, false, "",
				     "queries are not served by this version of strata");
	} else if (strcmp(url, "/metrics") == 0) {
		if (strcmp(method, "GET") == 0)
			return handle_metrics(h, conn);
	} else if (strcmp(url, "/health") == 0) {
		if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
			return handle_health(h, conn);
	} else if (h->opt.debug && strncmp(url, "/debug/", 7) == 0) {
		if (r->too_large)
			return respond_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, false, "", "request entity too large");
		return defer(h, conn, r, h->opt.debug, h->opt.debug_ctx, method, url);
	} else {
		return respond_error(conn, MHD_HTTP_NOT_FOUND, false, "", "404 page not found");
	}
	return respond_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, false, "", "method not allowed");
}

/* handle_request, with the connection's deadline lifted while the complete request is handled. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	bool complete = *con_cls && *upload_data_size == 0;
	enum MHD_Result ret;

	if (complete)
		conn_deadline(cls, conn, true);
	ret = handle_request(cls, conn, url, method, version, upload_data, upload_data_size, con_cls);
	/* The response must now leave in time; a hook still running off the worker is not counted. */
	if (complete && !(*con_cls && ((request *)*con_cls)->job))
		conn_deadline(cls, conn, false);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	ingest_http *h = cls;
	request *r = *con_cls;

	(void)toe;
	if (r) {
		job_free(r->job);
		atomic_fetch_sub(&h->inflight_bytes, r->cap);
		strata_free(r->body);
		strata_free(r);
		*con_cls = NULL;
	}
	conn_deadline(h, conn, false); /* the next request must arrive in time */
}

int ingest_http_start(ingest_http **out, ingest_engine *e, const ingest_http_options *opt)
{
	struct sockaddr_storage sa;
	socklen_t sa_len;
	const union MHD_DaemonInfo *info;
	ingest_http *h;
	int rc;

	*out = NULL;
	rc = ingest_parse_addr(opt->addr, &sa, &sa_len);
	if (rc)
		return rc;
	h = strata_calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	h->engine = e;
	h->opt = *opt;
	/* Without its slots no hook runs on a worker: they only save a hand-off. */
	h->workers = strata_calloc(opt->threads + 1, sizeof(*h->workers));
	pthread_mutex_init(&h->sessions_mu, NULL);
	pthread_key_create(&h->session_key, NULL);
	pthread_mutex_init(&h->conns_mu, NULL);
	pthread_mutex_init(&h->jobs_mu, NULL);
	pthread_cond_init(&h->jobs_cv, NULL);
	pthread_cond_init(&h->work_cv, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&h->sweep_cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	pool_start(h);
	h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY | MHD_USE_ERROR_LOG |
				     MHD_ALLOW_SUSPEND_RESUME |
				     (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
				     0, NULL, NULL, on_request, h,
				     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				     MHD_OPTION_THREAD_POOL_SIZE, opt->threads,
				     MHD_OPTION_CONNECTION_LIMIT, opt->max_connections,
				     MHD_OPTION_CONNECTION_TIMEOUT, opt->timeout_s,
				     MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
				     MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
				     MHD_OPTION_END);
	if (!h->daemon) {
		rc = strata_error(-(errno ? errno : EADDRINUSE), "cannot listen for HTTP on %s: %s", opt->addr,
				  strerror(errno ? errno : EADDRINUSE));
		goto fail;
	}
	if (opt->request_timeout_ms) {
		rc = -pthread_create(&h->sweeper, NULL, sweeper_main, h);
		if (rc) {
			strata_error(rc, "cannot start the HTTP connection sweeper");
			MHD_stop_daemon(h->daemon);
			goto fail;
		}
		h->sweeper_running = true;
	}
	info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : 0;
	*out = h;
	return 0;
fail:
	pool_stop(h);
	pthread_cond_destroy(&h->sweep_cv);
	pthread_mutex_destroy(&h->conns_mu);
	pthread_cond_destroy(&h->jobs_cv);
	pthread_cond_destroy(&h->work_cv);
	pthread_mutex_destroy(&h->jobs_mu);
	pthread_key_delete(h->session_key);
	pthread_mutex_destroy(&h->sessions_mu);
	strata_free(h->workers);
	strata_free(h);
	return rc;
}

uint16_t ingest_http_port(const ingest_http *h)
{
	return h->port;
}

void ingest_http_stop(ingest_http *h)
{
	if (!h)
		return;
	/* Hooks running off the workers end first: each resumes its connection, which the daemon then closes. */
	pthread_mutex_lock(&h->jobs_mu);
	while (h->n_jobs)
		pthread_cond_wait(&h->jobs_cv, &h->jobs_mu);
	pthread_mutex_unlock(&h->jobs_mu);
	pool_stop(h);
	MHD_stop_daemon(h->daemon); /* joins the workers: no session is in use after this */
	if (h->sweeper_running) {
		pthread_mutex_lock(&h->conns_mu);
		h->stopping = true;
		pthread_cond_signal(&h->sweep_cv);
		pthread_mutex_unlock(&h->conns_mu);
		pthread_join(h->sweeper, NULL);
	}
	pthread_cond_destroy(&h->sweep_cv);
	pthread_mutex_destroy(&h->conns_mu);
	pthread_cond_destroy(&h->jobs_cv);
	pthread_cond_destroy(&h->work_cv);
	pthread_mutex_destroy(&h->jobs_mu);
	for (size_t i = 0; i < h->n_sessions; i++)
		ingest_session_free(h->sessions[i]);
	strata_free(h->sessions);
	pthread_key_delete(h->session_key);
	pthread_mutex_destroy(&h->sessions_mu);
	strata_free(h->workers);
	strata_free(h);
}
