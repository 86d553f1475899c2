/*
 * bench_load.c — the load client of the ingest figures (BENCHMARKS.md): sends
 * a line protocol file to a server over HTTP /write or over TCP line
 * protocol, and prints lines/s, field values/s, MB/s and batch latency.
 *
 *   bench_load --file F --url http://127.0.0.1:8086/write?db=bench&precision=ns [--conns C] [--batch N]
 *   bench_load --file F --tcp 127.0.0.1:8089 [--conns C] --wait-metric URL NAME | --wait-query URL
 *   bench_load --file F --sink http|tcp [--conns C]      (the client's own ceiling)
 *
 * Why it is built this way:
 * - The whole file is read into memory and cut into batches of --batch lines
 *   before the clock starts, so reading the file is never measured, and
 *   sending a batch is one writev of a ready buffer.
 * - --conns threads each own one connection and take the next batch from a
 *   shared counter, so the connections stay busy until the file is sent, in
 *   file order overall. HTTP is a minimal hand-written HTTP/1.1 client on
 *   plain sockets (POST with Content-Length, keep-alive; the answer is read
 *   with its headers and its body by Content-Length or chunked): no library
 *   cost or connection pool policy sits between the figure and the server.
 *   Every answer but 204 is counted and the first one printed. A keep-alive
 *   connection the server closed between two requests is reopened and the
 *   batch sent again (once).
 * - The latency of a batch is from its first byte sent to the end of its
 *   answer (HTTP: for a server that acknowledges durable writes, this
 *   includes waiting for the fsync). Over TCP there is no answer: the latency
 *   is only the time to hand the batch to the kernel, and the figure that
 *   counts is the time until every point is queryable: after the last byte
 *   the client polls --wait-metric (a counter of a Prometheus /metrics page,
 *   summed over its label sets, until it has grown by --wait-count) or
 *   --wait-query (a Prometheus-style JSON query answer whose first value
 *   reaches --wait-count). The rates over TCP are over that time.
 * - --sink runs an in-process server on loopback that reads and discards
 *   (answering 204 to every HTTP request), so the client's own ceiling on
 *   this machine is printed by the same code that measures the servers.
 * - The last line of the output is "RESULT key=value ...", the median of
 *   the runs, for scripts (bench/run_ingest.sh).
 *
 * Threads: the main thread reads the file, starts and joins the senders and
 * polls the wait condition. Sender threads share only the batch counter and
 * the error counters (atomics) and write their own slots of the latency
 * array; the first bad answer is kept under first_bad_mu. Sink threads (one
 * acceptor, one per connection) share only atomic byte and line counters.
 */
#include "lsm/alloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define LOAD_MAX_CONNS 256
#define LOAD_MAX_RUNS 20
#define LOAD_RBUF_BYTES 65536
#define LOAD_IO_TIMEOUT_S 300
#define LOAD_WAIT_POLL_MS 50
#define LOAD_BAD_BODY_BYTES 400

enum load_mode { MODE_HTTP, MODE_TCP };

struct options {
	const char *file;
	const char *url;
	const char *tcp;
	const char *sink; /* "http" or "tcp" */
	const char *wait_metric_url, *wait_metric_name, *wait_query_url;
	uint64_t wait_count; /* 0: the lines of the file */
	unsigned conns, runs, wait_timeout_s;
	uint64_t batch_lines;
	enum load_mode mode;
};

struct endpoint {
	char host[256];
	char port[16];
	char path[2048]; /* path and query of an HTTP URL */
	struct sockaddr_storage sa;
	socklen_t sa_len;
};

struct batch {
	const char *data;
	size_t len;
	uint64_t lines, values;
};

struct dataset {
	char *buf; /* the file, mapped read-only */
	size_t len;
	struct batch *batches;
	size_t n_batches;
	uint64_t lines, values;
};

/* One run's shared state (see the threads note at the top). */
struct run_state {
	const struct options *o;
	const struct dataset *ds;
	const struct endpoint *ep;
	atomic_size_t next_batch;
	atomic_uint_fast64_t non204, errors, reconnects, bytes_sent;
	double *latency_ms; /* per batch; NAN when it failed */
	pthread_mutex_t first_bad_mu;
	char first_bad[LOAD_BAD_BODY_BYTES + 128]; /* guarded by first_bad_mu */
};

struct run_result {
	double seconds;     /* first byte to last answer, or to queryable (TCP) */
	double send_seconds;
	double p50_ms, p99_ms;
	double client_cpu_s;
	uint64_t non204, errors, reconnects;
	bool wait_failed;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double process_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* ---- addresses and sockets ---- */

static int resolve(struct endpoint *ep)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	int rc;

	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(ep->host, ep->port, &hints, &res);
	if (rc) {
		fprintf(stderr, "bench_load: cannot resolve %s:%s: %s\n", ep->host, ep->port, gai_strerror(rc));
		return -1;
	}
	memcpy(&ep->sa, res->ai_addr, res->ai_addrlen);
	ep->sa_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* "host:port" or "[v6]:port". */
static int parse_hostport(const char *text, size_t text_len, struct endpoint *ep)
{
	const char *colon;
	size_t hlen;

	if (text_len && text[0] == '[') {
		const char *close = memchr(text, ']', text_len);

		if (!close || close + 1 >= text + text_len || close[1] != ':')
			return -1;
		hlen = (size_t)(close - text - 1);
		if (hlen >= sizeof ep->host)
			return -1;
		memcpy(ep->host, text + 1, hlen);
		ep->host[hlen] = '\0';
		colon = close + 1;
	} else {
		colon = NULL;
		for (size_t i = text_len; i > 0; i--) {
			if (text[i - 1] == ':') {
				colon = text + i - 1;
				break;
			}
		}
		if (!colon || colon == text || (size_t)(colon - text) >= sizeof ep->host)
			return -1;
		hlen = (size_t)(colon - text);
		memcpy(ep->host, text, hlen);
		ep->host[hlen] = '\0';
	}
	hlen = text_len - (size_t)(colon + 1 - text);
	if (hlen == 0 || hlen >= sizeof ep->port)
		return -1;
	memcpy(ep->port, colon + 1, hlen);
	ep->port[hlen] = '\0';
	return 0;
}

/* "http://host:port/path?query". */
static int parse_url(const char *url, struct endpoint *ep)
{
	const char *hp, *slash;

	if (strncmp(url, "http://", 7) != 0) {
		fprintf(stderr, "bench_load: only http:// URLs: %s\n", url);
		return -1;
	}
	hp = url + 7;
	slash = strchr(hp, '/');
	if (!slash)
		slash = hp + strlen(hp);
	if (parse_hostport(hp, (size_t)(slash - hp), ep) != 0) {
		fprintf(stderr, "bench_load: URL needs host:port: %s\n", url);
		return -1;
	}
	snprintf(ep->path, sizeof ep->path, "%s", *slash ? slash : "/");
	return resolve(ep);
}

static int tcp_connect(const struct endpoint *ep)
{
	struct timeval tv = { LOAD_IO_TIMEOUT_S, 0 };
	int fd, one = 1;

	fd = socket(ep->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (const struct sockaddr *)&ep->sa, ep->sa_len) != 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

/* Writes every byte of iov (modified). 0 or -errno. */
static int write_all(int fd, struct iovec *iov, int n_iov)
{
	while (n_iov > 0) {
		ssize_t n = writev(fd, iov, n_iov);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (n_iov > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			n_iov--;
		}
		if (n_iov > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* ---- a minimal HTTP/1.1 client connection ---- */

struct http_conn {
	int fd;            /* -1 when closed */
	unsigned served;   /* requests answered on this connection */
	char rbuf[LOAD_RBUF_BYTES];
	size_t rpos, rlen;
};

struct http_answer {
	int status;
	bool close;        /* the server closes the connection after it */
	char *body;        /* the caller's buffer: the start of the body, NUL-terminated */
	size_t body_cap;   /* its size */
	size_t body_len;   /* bytes kept in body */
};

static void http_close(struct http_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->rpos = c->rlen = 0;
	c->served = 0;
}

/* More bytes into rbuf: >0 read, 0 EOF, -errno. */
static ssize_t http_fill(struct http_conn *c)
{
	ssize_t n;

	if (c->rpos == c->rlen)
		c->rpos = c->rlen = 0;
	if (c->rlen == sizeof c->rbuf) {
		if (c->rpos == 0)
			return -EMSGSIZE;
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
	do
		n = read(c->fd, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	c->rlen += (size_t)n;
	return n;
}

/* One line without its CRLF into out (truncated to cap - 1). 0, -EPIPE at EOF, -errno. */
static int http_read_line(struct http_conn *c, char *out, size_t cap)
{
	for (;;) {
		char *nl = memchr(c->rbuf + c->rpos, '\n', c->rlen - c->rpos);

		if (nl) {
			size_t n = (size_t)(nl - (c->rbuf + c->rpos));
			size_t keep = n;

			if (keep && c->rbuf[c->rpos + keep - 1] == '\r')
				keep--;
			if (keep >= cap)
				keep = cap - 1;
			memcpy(out, c->rbuf + c->rpos, keep);
			out[keep] = '\0';
			c->rpos += n + 1;
			return 0;
		}
		ssize_t r = http_fill(c);

		if (r == 0)
			return -EPIPE;
		if (r < 0)
			return (int)r;
	}
}

/* Consumes n body bytes, keeping the first ones in a->body. */
static int http_read_body(struct http_conn *c, struct http_answer *a, uint64_t n)
{
	while (n > 0) {
		size_t have = c->rlen - c->rpos, take;

		if (have == 0) {
			ssize_t r = http_fill(c);

			if (r == 0)
				return -EPIPE;
			if (r < 0)
				return (int)r;
			continue;
		}
		take = have < n ? have : (size_t)n;
		if (a->body_len + 1 < a->body_cap) {
			size_t room = a->body_cap - 1 - a->body_len, keep = room < take ? room : take;

			memcpy(a->body + a->body_len, c->rbuf + c->rpos, keep);
			a->body_len += keep;
		}
		c->rpos += take;
		n -= take;
	}
	return 0;
}

/*
 * Reads one answer: status line, headers, body (Content-Length, chunked, or
 * up to EOF when neither and the server closes). 0, -EPIPE when the
 * connection closed before the status line, -EPROTO, -errno.
 */
static int http_read_answer(struct http_conn *c, struct http_answer *a)
{
	char line[1024];
	uint64_t content_length = UINT64_MAX;
	bool chunked = false;
	int rc;

	a->status = 0;
	a->close = false;
	a->body_len = 0;
	a->body[0] = '\0';
	rc = http_read_line(c, line, sizeof line);
	if (rc)
		return rc;
	if (strncmp(line, "HTTP/1.", 7) != 0 || strlen(line) < 12)
		return -EPROTO;
	a->status = atoi(line + 9);
	a->close = line[7] == '0';
	for (;;) {
		rc = http_read_line(c, line, sizeof line);
		if (rc)
			return rc == -EPIPE ? -EPROTO : rc;
		if (!line[0])
			break;
		if (strncasecmp(line, "content-length:", 15) == 0)
			content_length = strtoull(line + 15, NULL, 10);
		else if (strncasecmp(line, "transfer-encoding:", 18) == 0 && strcasestr(line + 18, "chunked"))
			chunked = true;
		else if (strncasecmp(line, "connection:", 11) == 0)
			a->close = strcasestr(line + 11, "close") != NULL;
	}
	if (a->status == 204 || a->status == 304 || (a->status >= 100 && a->status < 200))
		goto out;
	if (chunked) {
		for (;;) {
			uint64_t n;

			rc = http_read_line(c, line, sizeof line);
			if (rc)
				return rc == -EPIPE ? -EPROTO : rc;
			n = strtoull(line, NULL, 16);
			if (n == 0)
				break;
			rc = http_read_body(c, a, n);
			if (!rc)
				rc = http_read_line(c, line, sizeof line); /* the CRLF after the chunk */
			if (rc)
				return rc == -EPIPE ? -EPROTO : rc;
		}
		do { /* trailers, up to the empty line */
			rc = http_read_line(c, line, sizeof line);
			if (rc)
				return rc == -EPIPE ? -EPROTO : rc;
		} while (line[0]);
	} else if (content_length != UINT64_MAX) {
		rc = http_read_body(c, a, content_length);
		if (rc)
			return rc == -EPIPE ? -EPROTO : rc;
	} else {
		rc = http_read_body(c, a, UINT64_MAX); /* up to EOF */
		if (rc != -EPIPE)
			return rc ? rc : -EPROTO;
		a->close = true;
	}
out:
	a->body[a->body_len] = '\0';
	return 0;
}

/*
 * Sends one request and reads its answer, opening the connection if needed;
 * a reused connection that turns out closed is reopened and the request sent
 * again, once (*reconnected says so). 0 or -errno.
 */
static int http_exchange(struct http_conn *c, const struct endpoint *ep, const char *head, size_t head_len,
			 const char *body, size_t body_len, struct http_answer *a, bool *reconnected)
{
	for (int attempt = 0;; attempt++) {
		struct iovec iov[2] = { { (void *)head, head_len }, { (void *)body, body_len } };
		bool reused;
		int rc;

		if (c->fd < 0) {
			rc = tcp_connect(ep);
			if (rc < 0)
				return rc;
			c->fd = rc;
		}
		reused = c->served > 0;
		rc = write_all(c->fd, iov, body_len ? 2 : 1);
		if (!rc)
			rc = http_read_answer(c, a);
		if (rc == 0) {
			c->served++;
			if (a->close)
				http_close(c);
			return 0;
		}
		http_close(c);
		if (!reused || attempt > 0 || (rc != -EPIPE && rc != -ECONNRESET))
			return rc;
		*reconnected = true;
	}
}

/* GET of ep's path on a fresh connection; the body into a->body. 0 or -errno. */
static int http_get(const struct endpoint *ep, struct http_answer *a)
{
	struct http_conn *c = strata_malloc(sizeof *c);
	char head[2600];
	struct iovec iov;
	int n, rc;

	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->rpos = c->rlen = 0;
	c->served = 0;
	n = snprintf(head, sizeof head, "GET %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n", ep->path,
		     ep->host, ep->port);
	rc = tcp_connect(ep);
	if (rc < 0)
		goto out;
	c->fd = rc;
	iov.iov_base = head;
	iov.iov_len = (size_t)n;
	rc = write_all(c->fd, &iov, 1);
	if (!rc)
		rc = http_read_answer(c, a);
out:
	http_close(c);
	strata_free(c);
	return rc;
}

/* ---- the data ---- */

/* Field values of one line: the commas of its field set, plus one. */
static uint64_t count_values(const char *p, const char *end)
{
	uint64_t n = 1;
	bool quoted = false;

	while (p < end && *p != ' ') { /* measurement and tags */
		if (*p == '\\' && p + 1 < end)
			p++;
		p++;
	}
	for (p++; p < end; p++) {
		if (*p == '\\' && p + 1 < end)
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == ',')
			n++;
		else if (!quoted && *p == ' ')
			break;
	}
	return n;
}

static int load_file(const struct options *o, struct dataset *ds)
{
	struct stat st;
	size_t cap = 0, pos = 0;
	int fd, rc = -1;

	fd = open(o->file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "bench_load: cannot open %s: %s\n", o->file, strerror(errno));
		goto out;
	}
	/*
	 * Mapped, not read into the heap: the large set is bigger than this
	 * machine's free memory once the servers run, and page-cache pages can
	 * be dropped and read again while anonymous ones cannot.
	 */
	if (st.st_size == 0) {
		fprintf(stderr, "bench_load: %s is empty\n", o->file);
		goto out;
	}
	ds->buf = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (ds->buf == MAP_FAILED) {
		ds->buf = NULL;
		fprintf(stderr, "bench_load: mapping %s: %s\n", o->file, strerror(errno));
		goto out;
	}
	ds->len = (size_t)st.st_size;
	madvise(ds->buf, ds->len, MADV_SEQUENTIAL);
	/* Cut into batches of batch_lines lines; blank and comment lines go along, uncounted. */
	while (pos < ds->len) {
		struct batch b = { ds->buf + pos, 0, 0, 0 };

		while (pos < ds->len && b.lines < o->batch_lines) {
			const char *line = ds->buf + pos, *nl = memchr(line, '\n', ds->len - pos);
			const char *end = nl ? nl : ds->buf + ds->len;

			if (end > line && line[0] != '#') {
				b.lines++;
				b.values += count_values(line, end);
			}
			pos = (size_t)(end - ds->buf) + (nl ? 1 : 0);
		}
		b.len = (size_t)(ds->buf + pos - b.data);
		if (ds->n_batches == cap) {
			size_t ncap = cap ? cap * 2 : 1024;
			struct batch *grown = strata_realloc(ds->batches, ncap * sizeof *grown);

			if (!grown)
				goto oom;
			ds->batches = grown;
			cap = ncap;
		}
		ds->batches[ds->n_batches++] = b;
		ds->lines += b.lines;
		ds->values += b.values;
	}
	if (o->mode == MODE_TCP && ds->len && ds->buf[ds->len - 1] != '\n')
		fprintf(stderr, "bench_load: warning: %s does not end with a newline\n", o->file);
	rc = 0;
	goto out;
oom:
	fprintf(stderr, "bench_load: out of memory reading %s\n", o->file);
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ---- senders ---- */

static void note_bad(struct run_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note_bad(struct run_state *s, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->first_bad_mu);
	if (!s->first_bad[0]) {
		va_start(ap, fmt);
		vsnprintf(s->first_bad, sizeof s->first_bad, fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&s->first_bad_mu);
}

static void *http_sender(void *arg)
{
	struct run_state *s = arg;
	struct http_conn *c = strata_malloc(sizeof *c);
	struct http_answer *a = strata_malloc(sizeof *a);
	char head[2600], body[LOAD_BAD_BODY_BYTES + 1];

	if (!c || !a) {
		atomic_fetch_add(&s->errors, 1);
		goto out;
	}
	c->fd = -1;
	c->rpos = c->rlen = 0;
	c->served = 0;
	a->body = body;
	a->body_cap = sizeof body;
	for (;;) {
		size_t i = atomic_fetch_add(&s->next_batch, 1);
		const struct batch *b;
		bool reconnected = false;
		double t0;
		int n, rc;

		if (i >= s->ds->n_batches)
			break;
		b = &s->ds->batches[i];
		n = snprintf(head, sizeof head,
			     "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
			     "Content-Length: %zu\r\n\r\n",
			     s->ep->path, s->ep->host, s->ep->port, b->len);
		t0 = now_s();
		rc = http_exchange(c, s->ep, head, (size_t)n, b->data, b->len, a, &reconnected);
		if (reconnected)
			atomic_fetch_add(&s->reconnects, 1);
		if (rc) {
			atomic_fetch_add(&s->errors, 1);
			note_bad(s, "batch %zu: %s", i, strerror(-rc));
			continue;
		}
		s->latency_ms[i] = (now_s() - t0) * 1e3;
		atomic_fetch_add(&s->bytes_sent, b->len);
		if (a->status != 204) {
			atomic_fetch_add(&s->non204, 1);
			note_bad(s, "batch %zu: HTTP %d %s", i, a->status, a->body);
		}
	}
out:
	if (c)
		http_close(c);
	strata_free(c);
	strata_free(a);
	return NULL;
}

static void *tcp_sender(void *arg)
{
	struct run_state *s = arg;
	int fd = tcp_connect(s->ep);

	if (fd < 0) {
		atomic_fetch_add(&s->errors, 1);
		note_bad(s, "connect: %s", strerror(-fd));
		return NULL;
	}
	for (;;) {
		size_t i = atomic_fetch_add(&s->next_batch, 1);
		struct iovec iov;
		double t0;
		int rc;

		if (i >= s->ds->n_batches)
			break;
		iov.iov_base = (void *)s->ds->batches[i].data;
		iov.iov_len = s->ds->batches[i].len;
		t0 = now_s();
		rc = write_all(fd, &iov, 1);
		if (rc) {
			atomic_fetch_add(&s->errors, 1);
			note_bad(s, "batch %zu: %s", i, strerror(-rc));
			break; /* the connection is gone; the other senders take the rest */
		}
		s->latency_ms[i] = (now_s() - t0) * 1e3;
		atomic_fetch_add(&s->bytes_sent, s->ds->batches[i].len);
	}
	shutdown(fd, SHUT_WR);
	close(fd);
	return NULL;
}

/* ---- the wait until queryable (TCP) ---- */

/* Sum of the samples of metric name (a bare name matches every label set) in a Prometheus text page. */
static bool metric_sum(const char *page, const char *name, double *out)
{
	size_t nlen = strlen(name);
	bool has_labels = strchr(name, '{') != NULL, found = false;
	double sum = 0;

	for (const char *p = page; *p;) {
		const char *eol = strchr(p, '\n');

		if (strncmp(p, name, nlen) == 0 && (has_labels ? p[nlen] == ' ' : (p[nlen] == ' ' || p[nlen] == '{'))) {
			const char *v = p + nlen;

			if (*v == '{')
				v = strchr(v, '}') ? strchr(v, '}') + 1 : v;
			sum += strtod(v, NULL);
			found = true;
		}
		if (!eol)
			break;
		p = eol + 1;
	}
	*out = sum;
	return found;
}

/* The first value of a Prometheus JSON query answer: "value":[<time>,"<v>"]; 0 for an empty result. */
static bool query_value(const char *body, double *out)
{
	const char *v = strstr(body, "\"value\":[");

	*out = 0;
	if (!strstr(body, "\"status\":\"success\""))
		return false;
	if (!v)
		return true;
	v = strchr(v, ',');
	if (!v)
		return false;
	v++;
	if (*v == '"')
		v++;
	*out = strtod(v, NULL);
	return true;
}

struct waiter {
	struct endpoint ep;
	bool metric; /* else a query */
	const char *name;
	char *page;
	size_t page_cap;
	double base;
};

/* The current count, or a negative value when the poll failed. */
static double wait_poll(struct waiter *w)
{
	struct http_answer a = { .body = w->page, .body_cap = w->page_cap };
	double v;

	if (http_get(&w->ep, &a) != 0 || a.status != 200)
		return -1;
	if (w->metric)
		return metric_sum(w->page, w->name, &v) ? v : -1;
	return query_value(w->page, &v) ? v : -1;
}

/* ---- the sink ---- */

struct sink {
	int listen_fd;
	bool http;
	pthread_t acceptor;
	atomic_uint_fast64_t bytes, lines, requests;
	atomic_bool stop;
	struct endpoint ep;
};

struct sink_conn {
	struct sink *sink;
	int fd;
};

/* Reads and discards a TCP stream, counting its newlines, until EOF. */
static void sink_stream(struct sink *k, int fd, char *buf, size_t cap)
{
	for (;;) {
		ssize_t n = read(fd, buf, cap);
		uint64_t lines = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + n - p))) != NULL; p++)
			lines++;
		atomic_fetch_add(&k->bytes, (uint64_t)n);
		atomic_fetch_add(&k->lines, lines);
	}
}

/* Reads HTTP requests (Content-Length bodies), discards them, answers 204 to each. */
static void sink_http(struct sink *k, int fd, char *buf, size_t cap)
{
	static const char answer[] = "HTTP/1.1 204 No Content\r\nX-Influxdb-Version: sink\r\n\r\n";
	size_t len = 0;

	for (;;) {
		char *end = len >= 4 ? memmem(buf, len, "\r\n\r\n", 4) : NULL;
		uint64_t body = 0, have;
		ssize_t n;

		if (!end) {
			if (len == cap)
				return; /* a head larger than the buffer: not from our client */
			do
				n = read(fd, buf + len, cap - len);
			while (n < 0 && errno == EINTR);
			if (n <= 0)
				return;
			len += (size_t)n;
			continue;
		}
		*end = '\0';
		for (char *h = buf; h && h < end; h = strstr(h, "\r\n") ? strstr(h, "\r\n") + 2 : NULL)
			if (strncasecmp(h, "content-length:", 15) == 0)
				body = strtoull(h + 15, NULL, 10);
		have = len - (size_t)(end + 4 - buf);
		if (have >= body) { /* the body is in the buffer, and maybe the next request */
			size_t used = (size_t)(end + 4 - buf) + body;

			memmove(buf, buf + used, len - used);
			len -= used;
		} else {
			uint64_t left = body - have;

			len = 0;
			while (left > 0) {
				do
					n = read(fd, buf, left < cap ? (size_t)left : cap);
				while (n < 0 && errno == EINTR);
				if (n <= 0)
					return;
				left -= (uint64_t)n;
			}
		}
		atomic_fetch_add(&k->bytes, body);
		atomic_fetch_add(&k->requests, 1);
		if (write(fd, answer, sizeof answer - 1) != (ssize_t)(sizeof answer - 1))
			return;
	}
}

static void *sink_conn_main(void *arg)
{
	struct sink_conn *sc = arg;
	size_t cap = 1u << 20;
	char *buf = strata_malloc(cap);

	if (buf) {
		if (sc->sink->http)
			sink_http(sc->sink, sc->fd, buf, cap);
		else
			sink_stream(sc->sink, sc->fd, buf, cap);
	}
	strata_free(buf);
	close(sc->fd);
	strata_free(sc);
	return NULL;
}

static void *sink_acceptor(void *arg)
{
	struct sink *k = arg;

	while (!atomic_load(&k->stop)) {
		int fd = accept4(k->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		struct sink_conn *sc;
		pthread_t t;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break; /* the listening socket was shut down */
		}
		sc = strata_malloc(sizeof *sc);
		if (!sc) {
			close(fd);
			continue;
		}
		sc->sink = k;
		sc->fd = fd;
		if (pthread_create(&t, NULL, sink_conn_main, sc) != 0) {
			close(fd);
			strata_free(sc);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

static int sink_start(struct sink *k, bool http)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;

	k->http = http;
	k->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (k->listen_fd < 0 || bind(k->listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(k->listen_fd, 128) != 0 || getsockname(k->listen_fd, (struct sockaddr *)&sa, &len) != 0) {
		fprintf(stderr, "bench_load: sink: %s\n", strerror(errno));
		return -1;
	}
	snprintf(k->ep.host, sizeof k->ep.host, "127.0.0.1");
	snprintf(k->ep.port, sizeof k->ep.port, "%u", ntohs(sa.sin_port));
	snprintf(k->ep.path, sizeof k->ep.path, "/write?db=sink&precision=ns");
	if (resolve(&k->ep) != 0 || pthread_create(&k->acceptor, NULL, sink_acceptor, k) != 0)
		return -1;
	return 0;
}

static void sink_stop(struct sink *k)
{
	atomic_store(&k->stop, true);
	shutdown(k->listen_fd, SHUT_RDWR);
	pthread_join(k->acceptor, NULL);
	close(k->listen_fd);
}

/* ---- one run ---- */

static int run_once(const struct options *o, const struct dataset *ds, const struct endpoint *ep,
		    struct waiter *w, struct sink *k, struct run_result *r)
{
	struct run_state *s = strata_calloc(1, sizeof *s);
	pthread_t threads[LOAD_MAX_CONNS];
	unsigned started = 0;
	uint64_t target = o->wait_count ? o->wait_count : ds->lines;
	double t0, cpu0, *sorted = NULL;
	size_t n_ok = 0;
	int rc = -1;

	memset(r, 0, sizeof *r);
	if (!s)
		return -1;
	s->o = o;
	s->ds = ds;
	s->ep = ep;
	pthread_mutex_init(&s->first_bad_mu, NULL);
	s->latency_ms = strata_malloc((ds->n_batches + 1) * sizeof *s->latency_ms);
	sorted = strata_malloc((ds->n_batches + 1) * sizeof *sorted);
	if (!s->latency_ms || !sorted)
		goto out;
	for (size_t i = 0; i < ds->n_batches; i++)
		s->latency_ms[i] = -1;
	if (w) {
		w->base = w->metric ? wait_poll(w) : 0;
		if (w->base < 0) {
			fprintf(stderr, "bench_load: cannot read the wait condition before the run\n");
			goto out;
		}
	}
	if (k) {
		atomic_store(&k->lines, 0);
		atomic_store(&k->bytes, 0);
	}

	cpu0 = process_cpu_s();
	t0 = now_s();
	for (; started < o->conns; started++)
		if (pthread_create(&threads[started], NULL, o->mode == MODE_HTTP ? http_sender : tcp_sender, s) != 0)
			break;
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	r->send_seconds = now_s() - t0;
	r->seconds = r->send_seconds;
	if (started < o->conns) {
		fprintf(stderr, "bench_load: cannot start %u sender threads\n", o->conns);
		goto out;
	}
	if (o->mode == MODE_TCP && (w || k)) {
		double deadline = t0 + r->send_seconds + o->wait_timeout_s, v = 0;

		for (;;) {
			v = k ? (double)atomic_load(&k->lines) : wait_poll(w) - w->base;
			if (v >= (double)target)
				break;
			if (now_s() > deadline) {
				r->wait_failed = true;
				fprintf(stderr, "bench_load: only %.0f of %" PRIu64 " points queryable after %u s\n", v,
					target, o->wait_timeout_s);
				break;
			}
			usleep(k ? 1000 : LOAD_WAIT_POLL_MS * 1000);
		}
		r->seconds = now_s() - t0;
	}
	r->client_cpu_s = process_cpu_s() - cpu0;
	for (size_t i = 0; i < ds->n_batches; i++)
		if (s->latency_ms[i] >= 0)
			sorted[n_ok++] = s->latency_ms[i];
	qsort(sorted, n_ok, sizeof *sorted, cmp_double);
	r->p50_ms = n_ok ? sorted[(n_ok - 1) / 2] : 0;
	r->p99_ms = n_ok ? sorted[(size_t)((double)(n_ok - 1) * 0.99 + 0.5)] : 0;
	r->non204 = atomic_load(&s->non204);
	r->errors = atomic_load(&s->errors);
	r->reconnects = atomic_load(&s->reconnects);
	if (s->first_bad[0])
		fprintf(stderr, "bench_load: first failure: %s\n", s->first_bad);
	rc = 0;
out:
	pthread_mutex_destroy(&s->first_bad_mu);
	strata_free(s->latency_ms);
	strata_free(sorted);
	strata_free(s);
	return rc;
}

/* ---- report ---- */

static double median_of(const struct run_result *r, unsigned n, size_t offset, double *min, double *max)
{
	double v[LOAD_MAX_RUNS];

	for (unsigned i = 0; i < n; i++)
		v[i] = *(const double *)((const char *)&r[i] + offset);
	qsort(v, n, sizeof v[0], cmp_double);
	*min = v[0];
	*max = v[n - 1];
	return v[n / 2];
}

static void describe(const struct options *o, const struct dataset *ds, const char *target)
{
	printf("client      bench_load, %u connection(s), batches of %" PRIu64 " lines (%zu batches), %s\n", o->conns,
	       o->batch_lines, ds->n_batches, o->mode == MODE_HTTP ? "HTTP/1.1 keep-alive" : "TCP line protocol");
	printf("target      %s\n", target);
	printf("file        %s: %" PRIu64 " lines, %" PRIu64 " field values, %.1f MB\n", o->file, ds->lines, ds->values,
	       (double)ds->len / 1e6);
	printf("machine     %ld cores online\n", sysconf(_SC_NPROCESSORS_ONLN));
}

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s --file FILE (--url URL | --tcp HOST:PORT | --sink http|tcp) [options]\n"
		"  --url URL             POST batches to http://host:port/path?query (e.g. .../write?db=bench&precision=ns)\n"
		"  --tcp HOST:PORT       write the lines over TCP (no answer)\n"
		"  --sink http|tcp       an in-process server that discards: the client's own ceiling\n"
		"  --conns C             concurrent connections (1)\n"
		"  --batch N             lines per batch (5000)\n"
		"  --runs R              runs, median [min-max] printed (1)\n"
		"  --wait-metric URL NAME  TCP: poll a Prometheus page until counter NAME grew by the count\n"
		"  --wait-query URL      TCP: poll a JSON query answer until its first value reaches the count\n"
		"  --wait-count N        the count to wait for (the lines of the file)\n"
		"  --wait-timeout S      give up waiting after S s (300)\n",
		argv0);
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "url", required_argument, NULL, 'u' },
		{ "tcp", required_argument, NULL, 't' },
		{ "sink", required_argument, NULL, 'k' },
		{ "conns", required_argument, NULL, 'c' },
		{ "batch", required_argument, NULL, 'b' },
		{ "runs", required_argument, NULL, 'r' },
		{ "wait-metric", required_argument, NULL, 'm' },
		{ "wait-query", required_argument, NULL, 'q' },
		{ "wait-count", required_argument, NULL, 'n' },
		{ "wait-timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = { .conns = 1, .runs = 1, .batch_lines = 5000, .wait_timeout_s = 300 };
	struct dataset ds = { 0 };
	struct endpoint ep = { 0 };
	struct waiter *w = NULL;
	struct sink *k = NULL;
	struct run_result res[LOAD_MAX_RUNS];
	char target[2600];
	double mn, mx, secs, p50, p99, send_s;
	uint64_t non204 = 0, errors = 0, reconnects = 0;
	bool wait_failed = false;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (c) {
		case 'f': o.file = optarg; break;
		case 'u': o.url = optarg; break;
		case 't': o.tcp = optarg; break;
		case 'k': o.sink = optarg; break;
		case 'c': o.conns = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'b': o.batch_lines = strtoull(optarg, NULL, 10); break;
		case 'r': o.runs = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'm':
			if (optind >= argc) {
				usage(stderr, argv[0]);
				return 2;
			}
			o.wait_metric_url = optarg;
			o.wait_metric_name = argv[optind++];
			break;
		case 'q': o.wait_query_url = optarg; break;
		case 'n': o.wait_count = strtoull(optarg, NULL, 10); break;
		case 'T': o.wait_timeout_s = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
	}
	if (optind != argc || !o.file || (!!o.url + !!o.tcp + !!o.sink) != 1 || o.conns == 0 ||
	    o.conns > LOAD_MAX_CONNS || o.batch_lines == 0 || o.runs == 0 || o.runs > LOAD_MAX_RUNS ||
	    (o.sink && strcmp(o.sink, "http") != 0 && strcmp(o.sink, "tcp") != 0) ||
	    (o.wait_metric_url && o.wait_query_url) || ((o.wait_metric_url || o.wait_query_url) && !o.tcp)) {
		usage(stderr, argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	o.mode = (o.tcp || (o.sink && strcmp(o.sink, "tcp") == 0)) ? MODE_TCP : MODE_HTTP;
	if (o.url) {
		if (parse_url(o.url, &ep) != 0)
			return 2;
		snprintf(target, sizeof target, "%s", o.url);
	} else if (o.tcp) {
		if (parse_hostport(o.tcp, strlen(o.tcp), &ep) != 0 || resolve(&ep) != 0) {
			fprintf(stderr, "bench_load: --tcp takes host:port\n");
			return 2;
		}
		snprintf(target, sizeof target, "tcp://%s (then %s %s until +count)", o.tcp,
			 o.wait_metric_url ? o.wait_metric_url : o.wait_query_url ? o.wait_query_url : "no wait",
			 o.wait_metric_name ? o.wait_metric_name : "");
	}
	if (o.wait_metric_url || o.wait_query_url) {
		w = strata_calloc(1, sizeof *w);
		if (!w)
			goto out;
		w->metric = o.wait_metric_url != NULL;
		w->name = o.wait_metric_name;
		w->page_cap = 4u << 20;
		w->page = strata_malloc(w->page_cap);
		if (!w->page || parse_url(w->metric ? o.wait_metric_url : o.wait_query_url, &w->ep) != 0)
			goto out;
	}
	if (o.sink) {
		k = strata_calloc(1, sizeof *k);
		if (!k || sink_start(k, o.mode == MODE_HTTP) != 0)
			goto out;
		ep = k->ep;
		snprintf(target, sizeof target, "in-process %s sink on 127.0.0.1:%s (reads and discards)", o.sink,
			 k->ep.port);
	}
	if (load_file(&o, &ds) != 0)
		goto out;
	describe(&o, &ds, target);
	fflush(stdout);

	for (unsigned i = 0; i < o.runs; i++) {
		if (run_once(&o, &ds, &ep, w, k, &res[i]) != 0)
			goto out;
		non204 += res[i].non204;
		errors += res[i].errors;
		reconnects += res[i].reconnects;
		wait_failed |= res[i].wait_failed;
		printf("run %u       %.3f s%s: %.0f lines/s, %.0f values/s, %.1f MB/s, p50 %.2f ms, p99 %.2f ms, "
		       "client CPU %.2f s%s\n",
		       i + 1, res[i].seconds, o.mode == MODE_TCP && (w || k) ? " to queryable" : "",
		       (double)ds.lines / res[i].seconds, (double)ds.values / res[i].seconds,
		       (double)ds.len / res[i].seconds / 1e6, res[i].p50_ms, res[i].p99_ms, res[i].client_cpu_s,
		       res[i].non204 || res[i].errors ? " (FAILURES)" : "");
		fflush(stdout);
	}
	secs = median_of(res, o.runs, offsetof(struct run_result, seconds), &mn, &mx);
	printf("lines/s     %.0f  [%.0f – %.0f]\n", (double)ds.lines / secs, (double)ds.lines / mx,
	       (double)ds.lines / mn);
	printf("values/s    %.0f  [%.0f – %.0f]\n", (double)ds.values / secs, (double)ds.values / mx,
	       (double)ds.values / mn);
	printf("MB/s        %.1f  [%.1f – %.1f]\n", (double)ds.len / secs / 1e6, (double)ds.len / mx / 1e6,
	       (double)ds.len / mn / 1e6);
	p50 = median_of(res, o.runs, offsetof(struct run_result, p50_ms), &mn, &mx);
	p99 = median_of(res, o.runs, offsetof(struct run_result, p99_ms), &mn, &mx);
	send_s = median_of(res, o.runs, offsetof(struct run_result, send_seconds), &mn, &mx);
	printf("batch       p50 %.2f ms, p99 %.2f ms%s\n", p50, p99,
	       o.mode == MODE_TCP ? " (time to hand a batch to the kernel)" : " (request to answer)");
	printf("failures    %" PRIu64 " non-204 answers, %" PRIu64 " errors, %" PRIu64 " reconnects%s\n", non204,
	       errors, reconnects, wait_failed ? ", WAIT TIMED OUT" : "");
	printf("RESULT lines=%" PRIu64 " values=%" PRIu64 " bytes=%zu seconds=%.4f send_seconds=%.4f lines_per_s=%.0f "
	       "values_per_s=%.0f mb_per_s=%.2f p50_ms=%.3f p99_ms=%.3f non204=%" PRIu64 " errors=%" PRIu64
	       " reconnects=%" PRIu64 " wait_failed=%d\n",
	       ds.lines, ds.values, ds.len, secs, send_s, (double)ds.lines / secs, (double)ds.values / secs,
	       (double)ds.len / secs / 1e6, p50, p99, non204, errors, reconnects, wait_failed ? 1 : 0);
	rc = non204 || errors || wait_failed ? 1 : 0;
out:
	if (k)
		sink_stop(k);
	strata_free(k);
	if (w)
		strata_free(w->page);
	strata_free(w);
	if (ds.buf)
		munmap(ds.buf, ds.len);
	strata_free(ds.batches);
	return rc;
}
