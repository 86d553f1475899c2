/*
 * fuzz_http.c — libFuzzer target for the HTTP API: the request handling of
 * ingest/http.c (routing, /write and /api/v2/write parameters, body limits,
 * gzip decoding, the line protocol writer behind it, /metrics, /health) and
 * of tools/http_query.c (/query parameters from the URL and from form
 * bodies, %-decoding, Accept, the executor behind it), on libmicrohttpd.
 *
 * How: one in-process server, as `strata serve` runs it (engine, catalog,
 * query engine, metrics hook), on 127.0.0.1 at a port the kernel picks,
 * over a data directory on tmpfs; each input is sent as a raw request on a
 * new connection, the write side is shut, and the answer is read until the
 * server closes. libmicrohttpd keeps its own request parser, so driving it
 * over a socket exercises exactly what a client reaches. The server is
 * built afresh every RESTART_EVERY inputs, so the data the inputs write
 * never grows without bound.
 *
 * An input is a request head (request line and headers), a blank line
 * (CRLF CRLF) and a body. The harness owns the framing: it drops any
 * Content-Length and Transfer-Encoding of the head, adds its own and
 * Connection: close, so that every request is whole and an answer is
 * always due (a request cut short would only make the server wait for the
 * rest until its idle timeout). The low two bits of the first byte say how
 * the body is sent:
 *   0  as it is, with Content-Length ('0', '4', ...);
 *   1  gzip-compressed here, with Content-Encoding: gzip, so the line
 *      protocol behind gzip is fuzzed, not only the gzip framing (a head
 *      that says Content-Encoding: gzip itself, with mode 0, sends raw
 *      bytes to the gzip decoder);
 *   2  as it is, in chunks (Transfer-Encoding: chunked);
 *   3  gzip-compressed and in chunks.
 * Once an answer is whole, the client still waits up to CLOSE_GRACE_MS for
 * the server to close before it resets the connection: libmicrohttpd
 * 0.9.75 (Debian 12) itself dereferences a NULL response in its worker
 * thread, now and then, when a client goes away while it finishes a 400
 * for a malformed request (a bare libmicrohttpd server with strata's
 * daemon flags crashes the same way; docs/fuzzing.md). Left to happen,
 * that crash would end every run before anything of strata's is found.
 * What must hold: every request is answered (or the connection closed)
 * within ANSWER_TIMEOUT_S seconds, the answer is an HTTP/1.x status line
 * with a 1xx-5xx code, and the server keeps running; a crash, leak or
 * sanitizer report in any server thread is a finding as well.
 */
#include "tests/fuzz/fuzz_util.h"

#include "ingest/http.h"
#include "ingest/writer.h"
#include "lsm/catalog.h"
#include "lsm/log.h"
#include "lsm/lsm.h"
#include "lsm/row.h"
#include "lsm/status.h"
#include "query/exec.h"
#include "tools/http_query.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <zlib.h>

#define RESTART_EVERY 2000
#define ANSWER_TIMEOUT_S 10
#define CLOSE_GRACE_MS 200

/* ---- the server ---- */

typedef struct server {
	char dir[600];
	lsm_db *db;
	lsm_catalog *catalog;
	ingest_engine engine;
	query_engine *qe;
	http_query *hq;
	ingest_http *http;
	uint16_t port;
} server;

static server srv;
static unsigned srv_generation;
static uint64_t srv_inputs;

static void metrics_hook(void *ctx, void *f)
{
	http_query_metrics(ctx, f);
}

static void server_start(void)
{
	lsm_options opt;
	ingest_options iopt;
	query_limits limits;
	http_query_options hopt;
	ingest_http_options h;
	int rc;

	snprintf(srv.dir, sizeof srv.dir, "%s/db-%u", fuzz_scratch_dir(), srv_generation++);
	lsm_options_default(&opt);
	opt.merge = lsm_row_merge;
	opt.memtable_bytes = 1u << 20;
	opt.block_cache_bytes = 1u << 20;
	opt.wal_io = LSM_IO_PWRITE;
	rc = lsm_open(&srv.db, srv.dir, &opt);
	if (rc == 0)
		rc = lsm_catalog_open(&srv.catalog, srv.dir);
	if (rc == 0) {
		lsm_catalog_set_max_series(srv.catalog, 20000);
		rc = lsm_catalog_create_database(srv.catalog, "db0");
	}
	if (rc) {
		fprintf(stderr, "cannot open the fuzz server's store: %s\n", strata_last_error());
		abort();
	}
	ingest_options_default(&iopt);
	iopt.auto_create_db = true;
	ingest_engine_init(&srv.engine, srv.db, srv.catalog, &iopt);
	/* Tight query limits: a fuzzed query must not run for long. */
	query_limits_default(&limits);
	limits.timeout_ns = 500 * 1000000LL;
	limits.max_series = 1000;
	limits.max_points = 100000;
	limits.max_buckets = 10000;
	limits.max_values = 100000;
	limits.max_rows = 10000;
	CHECK(query_engine_new(&srv.qe, srv.db, srv.catalog, &limits) == 0);
	http_query_options_default(&hopt);
	hopt.max_response_bytes = 1u << 20;
	CHECK(http_query_new(&srv.hq, srv.qe, &hopt) == 0);
	ingest_http_options_default(&h);
	h.addr = "127.0.0.1:0";
	h.max_body_bytes = 1u << 20;
	h.max_inflight_bytes = 8u << 20;
	h.threads = 2;
	h.timeout_s = ANSWER_TIMEOUT_S;
	h.query = http_query_handle;
	h.query_ctx = srv.hq;
	h.metrics = metrics_hook;
	h.metrics_ctx = srv.hq;
	rc = ingest_http_start(&srv.http, &srv.engine, &h);
	if (rc) {
		fprintf(stderr, "cannot start the fuzz server: %s\n", strata_last_error());
		abort();
	}
	srv.port = ingest_http_port(srv.http);
	CHECK(srv.port != 0);
}

static void server_stop(void)
{
	if (!srv.http)
		return;
	http_query_quiesce(srv.hq);
	ingest_http_stop(srv.http);
	http_query_free(srv.hq);
	query_engine_free(srv.qe);
	lsm_catalog_close(srv.catalog);
	/* A store the inputs made read-only still closes; what it says is no finding. */
	lsm_close(srv.db);
	fuzz_remove_tree(srv.dir);
	memset(&srv, 0, sizeof srv);
}

/* ---- building the request ---- */

typedef struct buf {
	uint8_t *p;
	size_t len, cap;
} buf;

static void put(buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;

		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		CHECK(b->p != NULL);
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void puts_buf(buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void gzip_body(buf *out, const uint8_t *p, size_t n)
{
	z_stream z = { 0 };
	uLong bound;

	CHECK(deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
	bound = deflateBound(&z, (uLong)n);
	out->p = malloc(bound);
	CHECK(out->p != NULL);
	out->cap = bound;
	z.next_in = (Bytef *)p;
	z.avail_in = (uInt)n;
	z.next_out = out->p;
	z.avail_out = (uInt)bound;
	CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
	out->len = bound - z.avail_out;
	deflateEnd(&z);
}

/* Whether the header line at p (of a head) is a framing header the harness replaces. */
static bool framing_header(const uint8_t *p, const uint8_t *end)
{
	static const char *const names[] = { "content-length:", "transfer-encoding:" };

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		size_t n = strlen(names[i]);

		if ((size_t)(end - p) >= n && strncasecmp((const char *)p, names[i], n) == 0)
			return true;
	}
	return false;
}

/* The request to send for an input (see the opening comment). */
static void build_request(buf *req, const uint8_t *data, size_t size)
{
	unsigned mode = data[0] & 3;
	const uint8_t *rest = data + 1, *head_end = NULL, *line;
	size_t n = size - 1, head_len, body_len;
	buf body = { 0 };
	char text[96];

	for (size_t i = 0; i + 4 <= n; i++) {
		if (memcmp(rest + i, "\r\n\r\n", 4) == 0) {
			head_end = rest + i;
			break;
		}
	}
	head_len = head_end ? (size_t)(head_end - rest) : n;
	body_len = head_end ? n - head_len - 4 : 0;
	/* The head line by line (split at LF, as a lenient parser would), without framing headers. */
	for (line = rest; line < rest + head_len;) {
		const uint8_t *nl = memchr(line, '\n', (size_t)(rest + head_len - line));
		const uint8_t *next = nl ? nl + 1 : rest + head_len;

		if (line == rest || !framing_header(line, rest + head_len))
			put(req, line, (size_t)(next - line));
		line = next;
	}
	if (req->len && req->p[req->len - 1] != '\n')
		puts_buf(req, "\r\n");
	if (mode & 1) {
		gzip_body(&body, head_end ? head_end + 4 : rest + n, body_len);
		puts_buf(req, "Content-Encoding: gzip\r\n");
	} else if (body_len) {
		put(&body, head_end + 4, body_len);
	}
	puts_buf(req, "Connection: close\r\n");
	if (mode & 2) {
		puts_buf(req, "Transfer-Encoding: chunked\r\n\r\n");
		/* Chunks of 7 bytes: several chunk headers for even a short body. */
		for (size_t off = 0; off < body.len; off += 7) {
			size_t c = body.len - off < 7 ? body.len - off : 7;

			snprintf(text, sizeof text, "%zx\r\n", c);
			puts_buf(req, text);
			put(req, body.p + off, c);
			puts_buf(req, "\r\n");
		}
		puts_buf(req, "0\r\n\r\n");
	} else {
		snprintf(text, sizeof text, "Content-Length: %zu\r\n\r\n", body.len);
		puts_buf(req, text);
		if (body.len)
			put(req, body.p, body.len);
	}
	free(body.p);
}

/* ---- sending it ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads an unsigned number (decimal, or hex for chunk sizes) at p; false if there is none. */
static bool read_number(const uint8_t *p, const uint8_t *end, int base, size_t *out, const uint8_t **after)
{
	size_t v = 0;
	const uint8_t *q = p;

	for (; q < end; q++) {
		int d = *q >= '0' && *q <= '9' ? *q - '0' :
			base == 16 && (*q | 0x20) >= 'a' && (*q | 0x20) <= 'f' ? (*q | 0x20) - 'a' + 10 : -1;

		if (d < 0)
			break;
		if (v > (SIZE_MAX - (size_t)d) / (size_t)base)
			return false;
		v = v * (size_t)base + (size_t)d;
	}
	*out = v;
	*after = q;
	return q > p;
}

/*
 * Whether resp holds a whole answer to a request (head_only: to a HEAD):
 * the interim 1xx answers, then a head and the body its Content-Length or
 * chunked framing announces. An answer framed by the end of the connection
 * is whole only once the server closes.
 */
static bool answer_complete(const buf *resp, bool head_only)
{
	const uint8_t *p = resp->p, *end = resp->p + resp->len;

	for (;;) {
		const uint8_t *hend = NULL, *h;
		size_t code, n;

		for (const uint8_t *q = p; q + 4 <= end; q++) {
			if (memcmp(q, "\r\n\r\n", 4) == 0) {
				hend = q + 4;
				break;
			}
		}
		if (!hend || end - p < 12 || !read_number(p + 9, p + 12, 10, &code, &h))
			return false;
		if (code >= 100 && code < 200) {
			p = hend;
			continue;
		}
		if (head_only || code == 204 || code == 304)
			return true;
		for (const uint8_t *q = p; q < hend; q++) {
			if (q != p && q[-1] != '\n')
				continue;
			if (hend - q > 15 && strncasecmp((const char *)q, "content-length:", 15) == 0) {
				q += 15;
				while (q < hend && *q == ' ')
					q++;
				return read_number(q, hend, 10, &n, &h) && (size_t)(end - hend) >= n;
			}
			if (hend - q > 26 && strncasecmp((const char *)q, "transfer-encoding: chunked", 26) == 0) {
				/* Walk the chunks: size line, data, CRLF; the last has size 0. */
				for (q = hend;;) {
					if (!read_number(q, end, 16, &n, &h))
						return false;
					while (h + 1 < end && !(h[0] == '\r' && h[1] == '\n'))
						h++;
					if (h + 2 > end)
						return false;
					q = h + 2;
					if (n == 0)
						return end - q >= 2; /* no trailers: the final CRLF */
					if ((size_t)(end - q) < n + 2)
						return false;
					q += n + 2;
				}
			}
		}
		return false;
	}
}

/* Sends req and reads the answer into *resp until the server closes, or CLOSE_GRACE_MS after it is whole. */
static void exchange(const buf *req, buf *resp)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(srv.port) };
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int64_t deadline = mono_ms() + ANSWER_TIMEOUT_S * 1000;
	size_t sent = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
	bool write_open = true, whole = false;

	CHECK(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
		fprintf(stderr, "connect to the fuzz server: %s\n", strerror(errno));
		abort();
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN | (write_open ? POLLOUT : 0) };
		int64_t left = deadline - mono_ms();
		uint8_t chunk[16384];
		ssize_t got;

		if (left <= 0) {
			if (whole)
				break; /* answered, and the connection kept open: done with it */
			fprintf(stderr, "no answer within %d s (sent %zu of %zu bytes, read %zu)\n", ANSWER_TIMEOUT_S,
				sent, req->len, resp->len);
			abort();
		}
		if (poll(&pfd, 1, (int)left) < 0) {
			CHECK(errno == EINTR);
			continue;
		}
		if (write_open && (pfd.revents & POLLOUT)) {
			ssize_t n = sent < req->len ? send(fd, req->p + sent, req->len - sent, MSG_NOSIGNAL) : 0;

			if (n > 0)
				sent += (size_t)n;
			if (sent == req->len || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				/* Done sending (or the server stopped reading): the end of the request. */
				shutdown(fd, SHUT_WR);
				write_open = false;
			}
		}
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		got = recv(fd, chunk, sizeof chunk, 0);
		if (got > 0) {
			put(resp, chunk, (size_t)got);
			/* A keep-alive answer leaves the connection open: once whole, wait only a little for the close. */
			if (!whole && answer_complete(resp, req->len >= 5 && memcmp(req->p, "HEAD ", 5) == 0)) {
				whole = true;
				deadline = mono_ms() + CLOSE_GRACE_MS;
			}
			continue;
		}
		if (got == 0 || (errno != EAGAIN && errno != EINTR))
			break; /* closed, or reset: the server is done with this request */
	}
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg); /* no TIME_WAIT left behind */
	close(fd);
}

static void check_answer(const buf *resp)
{
	unsigned code;

	if (resp->len == 0)
		return; /* closed without an answer: a request libmicrohttpd could not read */
	CHECK(resp->len >= 12);
	CHECK(memcmp(resp->p, "HTTP/1.", 7) == 0);
	CHECK(resp->p[8] == ' ');
	CHECK(resp->p[9] >= '1' && resp->p[9] <= '5' && resp->p[10] >= '0' && resp->p[10] <= '9' &&
	      resp->p[11] >= '0' && resp->p[11] <= '9');
	code = (unsigned)(resp->p[9] - '0') * 100 + (unsigned)(resp->p[10] - '0') * 10 + (unsigned)(resp->p[11] - '0');
	CHECK(code >= 100 && code <= 599);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	/* Rejected writes and failed queries are logged as warnings: expected here, and slow on every input. */
	strata_log_set_level(STRATA_LOG_ERROR);
	server_start();
	atexit(server_stop);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	buf req = { 0 }, resp = { 0 };

	if (size == 0)
		return 0;
	if (++srv_inputs % RESTART_EVERY == 0) {
		server_stop();
		server_start();
	}
	build_request(&req, data, size);
	if (req.len)
		exchange(&req, &resp);
	check_answer(&resp);
	free(req.p);
	free(resp.p);
	return 0;
}
