/*
 * bench_query.c — the query client of the query figures (BENCHMARKS.md):
 * runs Q1–Q6 over the cpu-only data set against strata or InfluxDB 1.x
 * (InfluxQL over GET /query) or VictoriaMetrics (the equivalent
 * PromQL/MetricsQL over /api/v1/query_range, /api/v1/query and
 * /api/v1/export), and prints p50/p99/min/max latency per query.
 *
 *   bench_query --target strata|influx|vm --addr 127.0.0.1:PORT [--runs 50] [--seed 42]
 *               [--warmup N] [--queries Q1,...] [--hosts 100] [--duration 1d]
 *
 * Why it is built this way:
 * - One keep-alive HTTP/1.1 connection over a plain socket, requests one
 *   after the other: the latency of a query is from its first byte sent to
 *   the last byte of its answer (Content-Length or chunked, read whole).
 *   No library or connection pool sits between the figure and the server.
 *   A keep-alive connection the server closed between two requests is
 *   reopened and the request sent again (once), the time counted.
 * - Parameters (host, time window) are drawn from xorshift64* seeded by
 *   --seed and the query's number, so a query kind draws the same sequence
 *   whether it runs alone or with the others, against every system.
 * - The warm-up is untimed and sends the timed sequence's own requests (by
 *   default all of them once), so the warm figures read data already read
 *   once. --warmup 0 gives the cold figures when the caller has just
 *   restarted the server and dropped the page cache; "first" is then the
 *   very first query of the process.
 * - Every answer is checked: status 200, a body; InfluxQL: "results", no
 *   "error", "series" where the query must find data (all but Q5), and the
 *   column the query asks for ("max", "max_4", "mean", "last_usage_user",
 *   "usage_user");
 *   PromQL: "status":"success" and a non-empty result (export: at least one
 *   series). A bad answer is counted, the first one printed, and its
 *   latency left out; any bad answer makes the exit status 1.
 * - "rows" is the median size of an answer: InfluxQL rows (one row holds
 *   every selected field of one time); PromQL range and export answers:
 *   samples over all series (one per field and time); instant answers:
 *   series. So Q2, Q5, Q6 answers hold the same values in 5 or 10 times the
 *   "rows" under PromQL.
 * - The client's own ceiling is the round trip of GET /ping (VictoriaMetrics:
 *   /health) on the same connection, printed first.
 * - The last lines of the output are "RESULT key=value ..." for scripts
 *   (bench/run_query.sh).
 *
 * Single-threaded.
 */
#include "lsm/alloc.h"

#include "cpu_workload.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define Q_N_KINDS 6
#define Q_MAX_RUNS 100000
#define Q_MAX_WARMUP 1000000
#define Q_Q2_HOSTS 8
#define Q_RBUF_BYTES 65536
#define Q_PATH_BYTES 8192
#define Q_TEXT_BYTES 2048
#define Q_BAD_BODY_BYTES 300

enum target { TARGET_STRATA, TARGET_INFLUX, TARGET_VM };

static const char *const target_names[] = { "strata", "influx", "vm" };

struct endpoint {
	char host[256];
	char port[16];
	struct sockaddr_storage sa;
	socklen_t sa_len;
};

struct options {
	enum target target;
	struct endpoint ep;
	const char *addr;
	const char *db;
	uint64_t hosts;
	int64_t duration_s;
	unsigned runs;
	long warmup; /* requests before the timed runs; -1: the timed sequence once */
	uint64_t seed;
	bool kinds[Q_N_KINDS];
	bool q4_all; /* Q4 asks for every field (last(*)), else usage_user only */
	unsigned ping_runs;
	unsigned timeout_s;
	double max_seconds;    /* bound on a query's warm-up, and on its timed runs; 0: none */
	double warmup_seconds; /* a tighter bound on the warm-up; 0: none */
	const char *dataset, *commit;
};

/* One query's parameters. */
struct qparams {
	uint64_t host[Q_Q2_HOSTS];
	unsigned n_hosts;
	int64_t t0_s, t1_s; /* [t0, t1) */
};

/* ---- time, statistics ---- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Percentile q in [0, 1] of sorted v[0..n), linear between ranks; NAN when n is 0. */
static double percentile(const double *v, size_t n, double q)
{
	double pos, frac;
	size_t i;

	if (n == 0)
		return NAN;
	pos = q * (double)(n - 1);
	i = (size_t)pos;
	frac = pos - (double)i;
	if (i + 1 >= n)
		return v[n - 1];
	return v[i] + (v[i + 1] - v[i]) * frac;
}

static void format_rfc3339(char *out, size_t cap, int64_t t_s)
{
	time_t t = (time_t)t_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- sockets and a minimal HTTP/1.1 client ---- */

static int resolve(struct endpoint *ep, const char *addr)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	const char *colon = strrchr(addr, ':');
	size_t hlen;
	int rc;

	if (!colon || colon == addr || !colon[1]) {
		fprintf(stderr, "bench_query: --addr takes host:port, not '%s'\n", addr);
		return -1;
	}
	hlen = (size_t)(colon - addr);
	if (addr[0] == '[' && colon[-1] == ']') {
		addr++;
		hlen -= 2;
	}
	if (hlen >= sizeof ep->host || strlen(colon + 1) >= sizeof ep->port) {
		fprintf(stderr, "bench_query: --addr too long: '%s'\n", addr);
		return -1;
	}
	memcpy(ep->host, addr, hlen);
	ep->host[hlen] = '\0';
	snprintf(ep->port, sizeof ep->port, "%s", colon + 1);
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(ep->host, ep->port, &hints, &res);
	if (rc) {
		fprintf(stderr, "bench_query: cannot resolve %s:%s: %s\n", ep->host, ep->port, gai_strerror(rc));
		return -1;
	}
	memcpy(&ep->sa, res->ai_addr, res->ai_addrlen);
	ep->sa_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

struct http_conn {
	int fd;          /* -1 when closed */
	unsigned served; /* requests answered on this connection */
	unsigned timeout_s;
	char rbuf[Q_RBUF_BYTES];
	size_t rpos, rlen;
};

/* An answer; body grows as needed and stays NUL-terminated. */
struct http_answer {
	int status;
	bool close; /* the server closes the connection after it */
	char *body;
	size_t body_len, body_cap;
};

static void http_close(struct http_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->rpos = c->rlen = 0;
	c->served = 0;
}

static int http_connect(struct http_conn *c, const struct endpoint *ep)
{
	struct timeval tv = { (time_t)c->timeout_s, 0 };
	int fd, one = 1;

	http_close(c);
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
	c->fd = fd;
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* More bytes into rbuf: >0 read, 0 EOF, -errno (-EAGAIN: the timeout). */
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
			size_t n = (size_t)(nl - (c->rbuf + c->rpos)), keep = n;

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

static int answer_reserve(struct http_answer *a, size_t more)
{
	size_t cap = a->body_cap ? a->body_cap : 65536;
	char *p;

	if (a->body_len + more + 1 <= a->body_cap)
		return 0;
	while (cap < a->body_len + more + 1)
		cap *= 2;
	p = strata_realloc(a->body, cap);
	if (!p)
		return -ENOMEM;
	a->body = p;
	a->body_cap = cap;
	return 0;
}

/* Appends n body bytes to a->body (UINT64_MAX: up to EOF, then -EPIPE). */
static int http_read_body(struct http_conn *c, struct http_answer *a, uint64_t n)
{
	while (n > 0) {
		size_t have = c->rlen - c->rpos, take;
		int rc;

		if (have == 0) {
			ssize_t r = http_fill(c);

			if (r == 0)
				return -EPIPE;
			if (r < 0)
				return (int)r;
			continue;
		}
		take = have < n ? have : (size_t)n;
		rc = answer_reserve(a, take);
		if (rc)
			return rc;
		memcpy(a->body + a->body_len, c->rbuf + c->rpos, take);
		a->body_len += take;
		c->rpos += take;
		n -= take;
	}
	return 0;
}

/*
 * Reads one answer: status line, headers, body (Content-Length, chunked, or
 * up to EOF when neither). 0, -EPIPE when the connection closed before the
 * status line, -EPROTO, -ENOMEM, -errno.
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
			char *end;
			uint64_t n;

			rc = http_read_line(c, line, sizeof line);
			if (rc)
				return rc == -EPIPE ? -EPROTO : rc;
			n = strtoull(line, &end, 16);
			if (end == line)
				return -EPROTO;
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
		rc = http_read_body(c, a, UINT64_MAX);
		if (rc != -EPIPE)
			return rc ? rc : -EPROTO;
		a->close = true;
	}
out:
	rc = answer_reserve(a, 0);
	if (rc)
		return rc;
	a->body[a->body_len] = '\0';
	return 0;
}

/*
 * GET path on c, opening the connection if needed; a reused connection
 * that turns out closed is reopened and the request sent again, once
 * (*reconnected says so). 0 or -errno; on error the connection is closed.
 */
static int http_get(struct http_conn *c, const struct endpoint *ep, const char *path, struct http_answer *a,
		    bool *reconnected)
{
	char head[Q_PATH_BYTES + 256];
	int n = snprintf(head, sizeof head,
			 "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: bench_query\r\nAccept: */*\r\n\r\n", path,
			 ep->host, ep->port);

	if (n < 0 || (size_t)n >= sizeof head)
		return -E2BIG;
	for (int attempt = 0;; attempt++) {
		bool reused;
		int rc = 0;

		if (c->fd < 0)
			rc = http_connect(c, ep);
		if (rc)
			return rc;
		reused = c->served > 0;
		rc = write_all(c->fd, head, (size_t)n);
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

/* ---- the queries ---- */

static const char *const kind_names[Q_N_KINDS] = { "Q1", "Q2", "Q3", "Q4", "Q5", "Q6" };

static const char *const kind_titles[Q_N_KINDS] = {
	"max(usage_user), 1 host, 1 h, by 1 min",
	"max of 5 fields, 8 hosts, 1 h, by 1 min",
	"mean(usage_user), every host, 12 h, by host and 1 h",
	"last point of every host",
	"points of 1 host in 12 h where usage_user > 90",
	"raw: every field of 1 host, 1 h",
};

/* Whether an answer must hold data (Q5's filter may match nothing). */
static bool kind_expects_data(int kind)
{
	return kind != 4;
}

/*
 * A window of span_s starting at a random multiple of align_s inside the
 * data; a data set shorter than span_s is taken whole (rounded down to
 * align_s, at least one align_s).
 */
static void draw_window(struct cpu_rng *r, const struct options *o, int64_t span_s, int64_t align_s,
			struct qparams *out)
{
	int64_t start_s = CPU_START_NS / 1000000000LL, slots = 0;

	if (span_s > o->duration_s)
		span_s = o->duration_s / align_s > 0 ? o->duration_s / align_s * align_s : align_s;
	if (o->duration_s > span_s)
		slots = (o->duration_s - span_s) / align_s;
	out->t0_s = start_s + align_s * (int64_t)(cpu_rng_next(r) % (uint64_t)(slots + 1));
	out->t1_s = out->t0_s + span_s;
}

/* n distinct hosts of o->hosts (Floyd's sampling: bounded, no retries), in drawing order. */
static void draw_hosts(struct cpu_rng *r, const struct options *o, unsigned n, struct qparams *out)
{
	uint64_t m = o->hosts;

	if (n > m)
		n = (unsigned)m;
	out->n_hosts = 0;
	for (uint64_t j = m - n; j < m; j++) {
		uint64_t t = cpu_rng_next(r) % (j + 1);
		bool seen = false;

		for (unsigned k = 0; k < out->n_hosts; k++)
			seen |= out->host[k] == t;
		out->host[out->n_hosts++] = seen ? j : t;
	}
}

static void draw_params(int kind, struct cpu_rng *r, const struct options *o, struct qparams *out)
{
	memset(out, 0, sizeof *out);
	switch (kind) {
	case 0: /* Q1 */
	case 5: /* Q6 */
		draw_hosts(r, o, 1, out);
		draw_window(r, o, 3600, 60, out);
		break;
	case 1: /* Q2 */
		draw_hosts(r, o, Q_Q2_HOSTS, out);
		draw_window(r, o, 3600, 60, out);
		break;
	case 2: /* Q3 */
		draw_window(r, o, 12 * 3600, 3600, out);
		break;
	case 3: /* Q4: no parameter */
		break;
	case 4: /* Q5 */
		draw_hosts(r, o, 1, out);
		draw_window(r, o, 12 * 3600, 3600, out);
		break;
	}
}

/* The query text: InfluxQL, or the PromQL/MetricsQL expression (export: its match[] selector). */
static void query_text(const struct options *o, int kind, const struct qparams *p, char *out, size_t cap)
{
	static const char *const q2_fields[] = { "usage_user", "usage_system", "usage_idle", "usage_nice",
						 "usage_iowait" };
	char t0[32], t1[32], hosts[Q_Q2_HOSTS * 40] = "";
	size_t hl = 0;

	format_rfc3339(t0, sizeof t0, p->t0_s);
	format_rfc3339(t1, sizeof t1, p->t1_s);
	if (o->target != TARGET_VM) {
		switch (kind) {
		case 0:
			snprintf(out, cap,
				 "SELECT max(usage_user) FROM cpu WHERE hostname = 'host_%" PRIu64
				 "' AND time >= '%s' AND time < '%s' GROUP BY time(1m)",
				 p->host[0], t0, t1);
			break;
		case 1: {
			char sel[256];
			size_t sl = 0;

			for (unsigned i = 0; i < 5; i++)
				sl += (size_t)snprintf(sel + sl, sizeof sel - sl, "%smax(%s)", i ? ", " : "",
						       q2_fields[i]);
			for (unsigned i = 0; i < p->n_hosts; i++)
				hl += (size_t)snprintf(hosts + hl, sizeof hosts - hl, "%shostname = 'host_%" PRIu64 "'",
						       i ? " OR " : "", p->host[i]);
			snprintf(out, cap,
				 "SELECT %s FROM cpu WHERE (%s) AND time >= '%s' AND time < '%s' GROUP BY time(1m)", sel,
				 hosts, t0, t1);
			break;
		}
		case 2:
			snprintf(out, cap,
				 "SELECT mean(usage_user) FROM cpu WHERE time >= '%s' AND time < '%s' "
				 "GROUP BY time(1h), hostname",
				 t0, t1);
			break;
		case 3:
			snprintf(out, cap, "SELECT last(%s) FROM cpu GROUP BY hostname", o->q4_all ? "*" : "usage_user");
			break;
		case 4:
			snprintf(out, cap,
				 "SELECT * FROM cpu WHERE hostname = 'host_%" PRIu64
				 "' AND usage_user > 90 AND time >= '%s' AND time < '%s'",
				 p->host[0], t0, t1);
			break;
		case 5:
			snprintf(out, cap,
				 "SELECT * FROM cpu WHERE hostname = 'host_%" PRIu64 "' AND time >= '%s' AND time < '%s'",
				 p->host[0], t0, t1);
			break;
		}
		return;
	}
	switch (kind) {
	case 0:
		snprintf(out, cap, "max_over_time(cpu_usage_user{hostname=\"host_%" PRIu64 "\"}[1m])", p->host[0]);
		break;
	case 1:
		for (unsigned i = 0; i < p->n_hosts; i++)
			hl += (size_t)snprintf(hosts + hl, sizeof hosts - hl, "%shost_%" PRIu64, i ? "|" : "",
					       p->host[i]);
		snprintf(out, cap,
			 "max(max_over_time({__name__=~\"cpu_(usage_user|usage_system|usage_idle|usage_nice|"
			 "usage_iowait)\",hostname=~\"%s\"}[1m])) by (__name__)",
			 hosts);
		break;
	case 2:
		snprintf(out, cap, "avg(avg_over_time(cpu_usage_user[1h])) by (hostname)");
		break;
	case 3:
		snprintf(out, cap, "%s", o->q4_all ? "{__name__=~\"cpu_.*\"}" : "cpu_usage_user");
		break;
	case 4:
		snprintf(out, cap,
			 "{__name__=~\"cpu_.*\",hostname=\"host_%" PRIu64
			 "\"} and on(hostname) (cpu_usage_user{hostname=\"host_%" PRIu64 "\"} > 90)",
			 p->host[0], p->host[0]);
		break;
	case 5:
		snprintf(out, cap, "{__name__=~\"cpu_.*\",hostname=\"host_%" PRIu64 "\"}", p->host[0]);
		break;
	}
}

/* Percent-encodes s after out[*len] (RFC 3986 unreserved kept). -E2BIG past cap. */
static int url_append(char *out, size_t cap, size_t *len, const char *s, bool encode)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		bool plain = !encode || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			     (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~';

		if (*len + 4 >= cap)
			return -E2BIG;
		if (plain) {
			out[(*len)++] = (char)ch;
		} else {
			out[(*len)++] = '%';
			out[(*len)++] = hex[ch >> 4];
			out[(*len)++] = hex[ch & 15];
		}
	}
	out[*len] = '\0';
	return 0;
}

/*
 * The request path (with its query string) of one query. VictoriaMetrics:
 * the PromQL windows end at the last second of each InfluxQL bucket, so
 * (t - 1m, t] holds the same 10-s points as [t', t' + 1m); the result cache
 * is off (nocache=1), as strata and InfluxDB have none.
 */
static int query_path(const struct options *o, int kind, const struct qparams *p, char *out, size_t cap)
{
	char text[Q_TEXT_BYTES], num[160];
	size_t len = 0;
	int rc = 0;

	query_text(o, kind, p, text, sizeof text);
	if (o->target != TARGET_VM) {
		rc |= url_append(out, cap, &len, "/query?db=", false);
		rc |= url_append(out, cap, &len, o->db, true);
		rc |= url_append(out, cap, &len, "&epoch=ns&q=", false);
		rc |= url_append(out, cap, &len, text, true);
		return rc ? -E2BIG : 0;
	}
	switch (kind) {
	case 0:
	case 1:
		snprintf(num, sizeof num, "&start=%" PRId64 "&end=%" PRId64 "&step=60&nocache=1", p->t0_s + 59,
			 p->t1_s - 1);
		break;
	case 2:
		snprintf(num, sizeof num, "&start=%" PRId64 "&end=%" PRId64 "&step=3600&nocache=1", p->t0_s + 3599,
			 p->t1_s - 1);
		break;
	case 3: /* the instant after the data's last point; its lookback (5 min) finds it */
		snprintf(num, sizeof num, "&time=%" PRId64 "&nocache=1", (int64_t)(CPU_START_NS / 1000000000LL) + o->duration_s);
		break;
	case 4: /* one step per 10-s point */
		snprintf(num, sizeof num, "&start=%" PRId64 "&end=%" PRId64 "&step=10&nocache=1", p->t0_s,
			 p->t1_s - 10);
		break;
	case 5: /* export's end is inclusive; points are on whole 10 s */
		snprintf(num, sizeof num, "&start=%" PRId64 "&end=%" PRId64, p->t0_s, p->t1_s - 1);
		break;
	}
	if (kind == 5)
		rc |= url_append(out, cap, &len, "/api/v1/export?match%5B%5D=", false);
	else if (kind == 3)
		rc |= url_append(out, cap, &len, "/api/v1/query?query=", false);
	else
		rc |= url_append(out, cap, &len, "/api/v1/query_range?query=", false);
	rc |= url_append(out, cap, &len, text, true);
	rc |= url_append(out, cap, &len, num, false);
	return rc ? -E2BIG : 0;
}

/* ---- answers ---- */

/* Elements of every array that follows key (e.g. "\"values\":[") in body, summed. */
static uint64_t count_array_items(const char *body, const char *key)
{
	size_t klen = strlen(key);
	uint64_t n = 0;

	for (const char *p = strstr(body, key); p; p = strstr(p, key)) {
		int depth = 1;
		bool in_str = false;

		p += klen; /* just after the '[' */
		while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
			p++;
		if (*p == ']')
			continue;
		n++; /* one element, plus one per comma at depth 1 */
		for (; *p && depth > 0; p++) {
			char ch = *p;

			if (in_str) {
				if (ch == '\\' && p[1])
					p++;
				else if (ch == '"')
					in_str = false;
			} else if (ch == '"') {
				in_str = true;
			} else if (ch == '[' || ch == '{') {
				depth++;
			} else if (ch == ']' || ch == '}') {
				depth--;
			} else if (ch == ',' && depth == 1) {
				n++;
			}
		}
	}
	return n;
}

static uint64_t count_substr(const char *body, const char *s)
{
	uint64_t n = 0;

	for (const char *p = strstr(body, s); p; p = strstr(p + 1, s))
		n++;
	return n;
}

/* A column name (quoted) every InfluxQL answer with series must hold. */
static const char *influxql_column(const struct options *o, int kind)
{
	switch (kind) {
	case 0: return "\"max\"";
	case 1: return "\"max_4\""; /* the fifth max() */
	case 2: return "\"mean\"";
	case 3: return o->q4_all ? "\"last_usage_user\"" : "\"last\"";
	default: return "\"usage_user\"";
	}
}

/* NULL when the answer is good (rows set), else why not. */
static const char *check_answer(const struct options *o, int kind, const struct http_answer *a, uint64_t *rows)
{
	const char *b = a->body;

	*rows = 0;
	if (a->status != 200)
		return "status is not 200";
	if (a->body_len == 0)
		return "empty body";
	if (strlen(b) != a->body_len)
		return "NUL byte in the body";
	if (o->target != TARGET_VM) {
		if (!strstr(b, "\"results\""))
			return "no \"results\"";
		if (strstr(b, "\"error\""))
			return "\"error\" in the answer";
		if (kind_expects_data(kind) && !strstr(b, "\"series\""))
			return "no \"series\" where data is expected";
		if (strstr(b, "\"series\"") && !strstr(b, influxql_column(o, kind)))
			return "the answer lacks the column the query asks for";
		*rows = count_array_items(b, "\"values\":[");
		return NULL;
	}
	if (kind == 5) {
		*rows = count_array_items(b, "\"values\":[");
		if (kind_expects_data(kind) && *rows == 0)
			return "no series exported where data is expected";
		return NULL;
	}
	if (!strstr(b, "\"status\":\"success\""))
		return "no \"status\":\"success\"";
	*rows = kind == 3 ? count_substr(b, "\"value\":[") : count_array_items(b, "\"values\":[");
	if (kind_expects_data(kind) && *rows == 0)
		return "empty result where data is expected";
	return NULL;
}

/* ---- running ---- */

struct kind_result {
	unsigned timed, bad, reconnects;
	long warmup_planned, warmup_sent;
	double p50, p99, min, max, first, rows;
	double seconds;
	bool stopped; /* --max-seconds cut the timed runs short */
};

static void note_bad(const struct options *o, int kind, const char *why, int rc, const struct http_answer *a,
		     const char *text, bool *printed)
{
	if (*printed)
		return;
	*printed = true;
	if (why)
		fprintf(stderr, "bench_query: %s %s: %s; status %d, body: %.*s\n  query: %s\n",
			target_names[o->target], kind_names[kind], why, a->status, Q_BAD_BODY_BYTES, a->body ? a->body : "",
			text);
	else
		fprintf(stderr, "bench_query: %s %s: %s\n  query: %s\n", target_names[o->target], kind_names[kind],
			strerror(-rc), text);
}

static int run_kind(const struct options *o, int kind, struct http_conn *c, struct http_answer *a,
		    struct kind_result *out)
{
	struct qparams *params = strata_calloc(o->runs, sizeof *params);
	double *lat = strata_calloc(o->runs, sizeof *lat), *rows = strata_calloc(o->runs, sizeof *rows);
	char path[Q_PATH_BYTES], text[Q_TEXT_BYTES];
	struct cpu_rng r;
	bool printed = false;
	unsigned n_ok = 0;
	long warmup;
	double t_start, warmup_ms;
	int rc = 0;

	memset(out, 0, sizeof *out);
	out->first = NAN;
	if (!params || !lat || !rows) {
		rc = -ENOMEM;
		goto out;
	}
	cpu_rng_seed(&r, o->seed + 1000003ULL * (uint64_t)(kind + 1));
	for (unsigned i = 0; i < o->runs; i++)
		draw_params(kind, &r, o, &params[i]);
	warmup = o->warmup < 0 ? (long)o->runs : o->warmup;
	warmup_ms = o->max_seconds * 1e3;
	if (o->warmup_seconds > 0 && (warmup_ms == 0 || o->warmup_seconds * 1e3 < warmup_ms))
		warmup_ms = o->warmup_seconds * 1e3;
	out->warmup_planned = warmup;
	t_start = now_ms();
	for (long i = 0; i < warmup; i++) {
		bool rec = false;
		uint64_t nrows;

		if (warmup_ms > 0 && now_ms() - t_start > warmup_ms)
			break;
		out->warmup_sent++;

		rc = query_path(o, kind, &params[(unsigned long)i % o->runs], path, sizeof path);
		if (rc)
			goto out;
		rc = http_get(c, &o->ep, path, a, &rec);
		if (rc == 0 && check_answer(o, kind, a, &nrows) == NULL)
			continue;
		query_text(o, kind, &params[(unsigned long)i % o->runs], text, sizeof text);
		note_bad(o, kind, rc ? NULL : check_answer(o, kind, a, &nrows), rc, a, text, &printed);
		rc = 0;
	}
	t_start = now_ms();
	for (unsigned i = 0; i < o->runs; i++) {
		const char *why;
		bool rec = false;
		uint64_t nrows = 0;
		double t0, t1;
		int grc;

		if (o->max_seconds > 0 && i > 0 && now_ms() - t_start > o->max_seconds * 1e3) {
			out->stopped = true;
			break;
		}
		rc = query_path(o, kind, &params[i], path, sizeof path);
		if (rc)
			goto out;
		t0 = now_ms();
		grc = http_get(c, &o->ep, path, a, &rec);
		t1 = now_ms();
		out->timed++;
		out->reconnects += rec;
		why = grc ? NULL : check_answer(o, kind, a, &nrows);
		if (grc || why) {
			out->bad++;
			query_text(o, kind, &params[i], text, sizeof text);
			note_bad(o, kind, why, grc, a, text, &printed);
			continue;
		}
		if (i == 0)
			out->first = t1 - t0;
		lat[n_ok] = t1 - t0;
		rows[n_ok] = (double)nrows;
		n_ok++;
	}
	out->seconds = (now_ms() - t_start) / 1e3;
	qsort(lat, n_ok, sizeof *lat, cmp_double);
	qsort(rows, n_ok, sizeof *rows, cmp_double);
	out->p50 = percentile(lat, n_ok, 0.50);
	out->p99 = percentile(lat, n_ok, 0.99);
	out->min = n_ok ? lat[0] : NAN;
	out->max = n_ok ? lat[n_ok - 1] : NAN;
	out->rows = percentile(rows, n_ok, 0.50);
out:
	strata_free(params);
	strata_free(lat);
	strata_free(rows);
	return rc;
}

/* Round trips of the health page: the client's and the HTTP stack's floor. */
static int run_ping(const struct options *o, struct http_conn *c, struct http_answer *a, double *p50, double *p99)
{
	const char *path = o->target == TARGET_VM ? "/health" : "/ping";
	double *lat = strata_calloc(o->ping_runs, sizeof *lat);
	unsigned n = 0;
	int rc = 0;

	*p50 = *p99 = NAN;
	if (!lat)
		return -ENOMEM;
	for (unsigned i = 0; i < o->ping_runs + 10; i++) {
		bool rec = false;
		double t0 = now_ms(), t1;

		rc = http_get(c, &o->ep, path, a, &rec);
		t1 = now_ms();
		if (rc || a->status / 100 != 2) {
			fprintf(stderr, "bench_query: GET %s: %s\n", path, rc ? strerror(-rc) : "status is not 2xx");
			rc = rc ? rc : -EPROTO;
			goto out;
		}
		if (i >= 10) /* the first ones open the connection */
			lat[n++] = t1 - t0;
	}
	qsort(lat, n, sizeof *lat, cmp_double);
	*p50 = percentile(lat, n, 0.50);
	*p99 = percentile(lat, n, 0.99);
out:
	strata_free(lat);
	return rc;
}

static void print_configuration(const struct options *o)
{
	char text[Q_TEXT_BYTES];
	struct qparams p;
	struct cpu_rng r;

	printf("query benchmark (bench_query)\n");
	printf("target      %s at %s:%s, %s\n", target_names[o->target], o->ep.host, o->ep.port,
	       o->target == TARGET_VM ? "PromQL/MetricsQL: /api/v1/query_range, /api/v1/query, /api/v1/export, nocache=1"
				      : "InfluxQL: GET /query?db=...&epoch=ns&q=...");
	printf("dataset     %s (queries assume %" PRIu64 " hosts x %" PRId64 " s from 2026-01-01T00:00:00Z)\n",
	       o->dataset ? o->dataset : "cpu-only", o->hosts, o->duration_s);
	printf("commit      %s\n", o->commit ? o->commit : "unknown");
	if (o->warmup < 0)
		printf("runs        %u per query, after a warm-up of the same %u requests (untimed); seed %" PRIu64 "\n",
		       o->runs, o->runs, o->seed);
	else
		printf("runs        %u per query, after %ld warm-up requests%s; seed %" PRIu64 "\n", o->runs, o->warmup,
		       o->warmup == 0 ? " (cold: first is the process's first query)" : "", o->seed);
	if (o->warmup_seconds > 0)
		printf("warm-up     of one query stops after %.0f s (the row says so)\n", o->warmup_seconds);
	if (o->max_seconds > 0)
		printf("bound       the warm-up, and the timed runs, of one query stop after %.0f s each (the row "
		       "says so)\n",
		       o->max_seconds);
	printf("latency     first byte sent to last byte read, one keep-alive connection; p99 interpolated\n");
	for (int k = 0; k < Q_N_KINDS; k++) {
		if (!o->kinds[k])
			continue;
		cpu_rng_seed(&r, o->seed + 1000003ULL * (uint64_t)(k + 1));
		draw_params(k, &r, o, &p);
		query_text(o, k, &p, text, sizeof text);
		printf("%s          %s\n            e.g. %s\n", kind_names[k], kind_titles[k], text);
	}
	fflush(stdout);
}

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s --target strata|influx|vm --addr HOST:PORT [options]\n"
		"  --db NAME           database of InfluxQL queries (bench)\n"
		"  --hosts N           hosts of the data set (100)\n"
		"  --duration D        span of the data set: 1d, 12h, 600s... (1d)\n"
		"  --runs N            timed runs per query (50)\n"
		"  --warmup N          untimed requests first, from the timed sequence (default: all of it once);\n"
		"                      0 for cold figures\n"
		"  --seed S            seed of the parameters (42)\n"
		"  --queries LIST      of Q1,...,Q6 (all)\n"
		"  --q4 all|usage_user fields of Q4: last(*) or last(usage_user) (all)\n"
		"  --ping N            round trips of /ping (/health) for the ceiling, 0 for none (200)\n"
		"  --timeout S         give up on one answer after S s (120)\n"
		"  --max-seconds S     stop a query's warm-up, and its timed runs, after S s each; 0: never (0)\n"
		"  --warmup-seconds S  stop a query's warm-up after S s; 0: only --max-seconds (0)\n"
		"  --dataset TEXT      --commit TEXT   printed with the figures\n",
		argv0);
}

static int parse_duration(const char *s, int64_t *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	int64_t mul = 1;

	if (end == s || v <= 0)
		return -1;
	if (*end == 'd')
		mul = 86400;
	else if (*end == 'h')
		mul = 3600;
	else if (*end == 'm')
		mul = 60;
	else if (*end == 's' || *end == '\0')
		mul = 1;
	else
		return -1;
	if (*end && end[1])
		return -1;
	*out = (int64_t)v * mul;
	return 0;
}

static int parse_kinds(const char *s, bool kinds[Q_N_KINDS])
{
	char buf[128], *save = NULL;

	if (strlen(s) >= sizeof buf)
		return -1;
	snprintf(buf, sizeof buf, "%s", s);
	memset(kinds, 0, Q_N_KINDS * sizeof *kinds);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int k = -1;

		for (int i = 0; i < Q_N_KINDS; i++)
			if (strcasecmp(t, kind_names[i]) == 0)
				k = i;
		if (k < 0)
			return -1;
		kinds[k] = true;
	}
	return 0;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return end != s && !*end && !errno && s[0] != '-';
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "target", required_argument, NULL, 't' },   { "addr", required_argument, NULL, 'a' },
		{ "db", required_argument, NULL, 'd' },       { "hosts", required_argument, NULL, 'H' },
		{ "duration", required_argument, NULL, 'D' }, { "runs", required_argument, NULL, 'r' },
		{ "warmup", required_argument, NULL, 'w' },   { "seed", required_argument, NULL, 's' },
		{ "queries", required_argument, NULL, 'q' },  { "q4", required_argument, NULL, '4' },
		{ "ping", required_argument, NULL, 'p' },     { "timeout", required_argument, NULL, 'T' },
		{ "max-seconds", required_argument, NULL, 'm' }, { "warmup-seconds", required_argument, NULL, 'W' },
		{ "dataset", required_argument, NULL, 'S' },
		{ "commit", required_argument, NULL, 'c' },   { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = { .db = "bench", .hosts = 100, .duration_s = 86400, .runs = 50, .warmup = -1,
			     .seed = 42, .q4_all = true, .ping_runs = 200, .timeout_s = 120 };
	struct http_conn *conn = NULL;
	struct http_answer a = { 0 };
	struct kind_result res[Q_N_KINDS];
	const char *target = NULL;
	double ping50 = NAN, ping99 = NAN;
	uint64_t v, bad = 0;
	int c, rc = 1;

	for (int k = 0; k < Q_N_KINDS; k++)
		o.kinds[k] = true;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		bool ok = true;

		switch (c) {
		case 't': target = optarg; break;
		case 'a': o.addr = optarg; break;
		case 'd': o.db = optarg; break;
		case 'H': ok = parse_u64(optarg, &o.hosts) && o.hosts > 0; break;
		case 'D': ok = parse_duration(optarg, &o.duration_s) == 0; break;
		case 'r':
			ok = parse_u64(optarg, &v) && v > 0 && v <= Q_MAX_RUNS;
			o.runs = (unsigned)v;
			break;
		case 'w':
			ok = parse_u64(optarg, &v) && v <= Q_MAX_WARMUP;
			o.warmup = (long)v;
			break;
		case 's': ok = parse_u64(optarg, &o.seed); break;
		case 'q': ok = parse_kinds(optarg, o.kinds) == 0; break;
		case '4':
			ok = strcmp(optarg, "all") == 0 || strcmp(optarg, "usage_user") == 0;
			o.q4_all = strcmp(optarg, "all") == 0;
			break;
		case 'p':
			ok = parse_u64(optarg, &v) && v <= Q_MAX_RUNS;
			o.ping_runs = (unsigned)v;
			break;
		case 'T':
			ok = parse_u64(optarg, &v) && v > 0 && v <= 3600;
			o.timeout_s = (unsigned)v;
			break;
		case 'm':
		case 'W': {
			char *end;
			double d = strtod(optarg, &end);

			ok = end != optarg && !*end && d >= 0 && d <= 86400;
			*(c == 'm' ? &o.max_seconds : &o.warmup_seconds) = d;
			break;
		}
		case 'S': o.dataset = optarg; break;
		case 'c': o.commit = optarg; break;
		case 'h': usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
		if (!ok) {
			const char *name = "?";

			for (const struct option *lo = long_opts; lo->name; lo++)
				if (lo->val == c)
					name = lo->name;
			fprintf(stderr, "bench_query: bad value for --%s: '%s'\n", name, optarg);
			return 2;
		}
	}
	if (optind != argc || !target || !o.addr) {
		usage(stderr, argv[0]);
		return 2;
	}
	if (strcmp(target, "strata") == 0) {
		o.target = TARGET_STRATA;
	} else if (strcmp(target, "influx") == 0) {
		o.target = TARGET_INFLUX;
	} else if (strcmp(target, "vm") == 0) {
		o.target = TARGET_VM;
	} else {
		fprintf(stderr, "bench_query: --target is strata, influx or vm, not '%s'\n", target);
		return 2;
	}
	if (resolve(&o.ep, o.addr) != 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	conn = strata_malloc(sizeof *conn);
	if (!conn)
		goto out;
	conn->fd = -1;
	conn->timeout_s = o.timeout_s;
	http_close(conn);

	print_configuration(&o);
	if (o.ping_runs) {
		if (run_ping(&o, conn, &a, &ping50, &ping99) != 0)
			goto out;
		printf("ceiling     GET %s round trip: p50 %.3f ms, p99 %.3f ms (%u runs)\n",
		       o.target == TARGET_VM ? "/health" : "/ping", ping50, ping99, o.ping_runs);
	} else {
		int crc = http_connect(conn, &o.ep);

		if (crc) {
			fprintf(stderr, "bench_query: cannot connect to %s: %s\n", o.addr, strerror(-crc));
			goto out;
		}
	}
	printf("\nquery   p50 ms   p99 ms   min ms   max ms  first ms      rows  bad  runs\n");
	fflush(stdout);
	for (int k = 0; k < Q_N_KINDS; k++) {
		struct kind_result *r = &res[k];

		if (!o.kinds[k])
			continue;
		if (run_kind(&o, k, conn, &a, r) != 0) {
			fprintf(stderr, "bench_query: %s: out of memory or query too long\n", kind_names[k]);
			goto out;
		}
		bad += r->bad;
		printf("%-5s %8.2f %8.2f %8.2f %8.2f %9.2f %9.0f %4u %5u", kind_names[k], r->p50, r->p99, r->min,
		       r->max, r->first, r->rows, r->bad, r->timed);
		if (r->warmup_sent < r->warmup_planned)
			printf("  warm-up cut at %ld of %ld requests", r->warmup_sent, r->warmup_planned);
		printf("%s%s\n", r->stopped ? "  STOPPED by --max-seconds" : "", r->reconnects ? "  (reconnected)" : "");
		fflush(stdout);
	}
	printf("\n");
	if (o.ping_runs)
		printf("RESULT target=%s query=ping runs=%u p50_ms=%.4f p99_ms=%.4f\n", target_names[o.target],
		       o.ping_runs, ping50, ping99);
	for (int k = 0; k < Q_N_KINDS; k++) {
		const struct kind_result *r = &res[k];

		if (!o.kinds[k])
			continue;
		printf("RESULT target=%s query=%s runs=%u bad=%u p50_ms=%.4f p99_ms=%.4f min_ms=%.4f max_ms=%.4f "
		       "first_ms=%.4f rows=%.0f stopped=%d seconds=%.2f warmup=%ld\n",
		       target_names[o.target], kind_names[k], r->timed, r->bad, r->p50, r->p99, r->min, r->max,
		       r->first, r->rows, r->stopped ? 1 : 0, r->seconds, r->warmup_sent);
	}
	rc = bad ? 1 : 0;
out:
	if (conn)
		http_close(conn);
	strata_free(conn);
	strata_free(a.body);
	return rc;
}
