/*
 * Integration tests of the TCP and UDP line-protocol listeners with the
 * stream batcher, on 127.0.0.1 ephemeral ports: many concurrent TCP
 * connections sending in random-sized writes that split lines, lines over
 * the limit dropped while the connection goes on, a last line ended by the
 * peer's close, the connection limit, idle timeouts, backpressure (reads
 * pause while the batcher is full, and nothing is lost), a clean stop that
 * keeps pending lines, UDP datagrams of several lines, bad addresses — each
 * checked line by line through a recording sink — and finally TCP and UDP
 * into the real engine, read back through the catalog and lsm_db_iter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ingest/listener_tcp.h"
#include "ingest/listener_udp.h"
#include "ingest/stream_batcher.h"
#include "ingest/writer.h"
#include "lsm/catalog.h"
#include "lsm/key.h"
#include "lsm/lsm.h"
#include "lsm/row.h"
#include "lsm/status.h"
#include "tests/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WAIT_ROUNDS 3000 /* × 10 ms: 30 s, the longest any wait lasts */

/* ---- a sink recording what reaches the engine ---- */

struct rec_sink {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *data;
	size_t len, cap;
	bool gate_closed;
};

static void sink_init(struct rec_sink *s)
{
	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
}

static void sink_deinit(struct rec_sink *s)
{
	free(s->data);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
}

static int sink_write(void *ctx, uint32_t writer, const char *db, const char *buf, size_t len,
		      enum ingest_lp_precision precision, int64_t now_ns, ingest_report *out)
{
	struct rec_sink *s = ctx;
	uint64_t lines = 0;

	(void)writer;
	(void)db;
	(void)precision;
	(void)now_ns;
	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < 30000 && s->gate_closed; i++) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	if (s->len + len > s->cap) {
		s->cap = (s->len + len) * 2;
		s->data = realloc(s->data, s->cap);
		if (!s->data)
			abort(); /* a writer thread: cmocka's assertions belong to the main thread */
	}
	memcpy(s->data + s->len, buf, len);
	s->len += len;
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	out->points = lines;
	return 0;
}

static void sink_set_gate(struct rec_sink *s, bool closed)
{
	pthread_mutex_lock(&s->mu);
	s->gate_closed = closed;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static ingest_stream_batcher *batcher_start(struct rec_sink *s, size_t max_queue)
{
	ingest_stream_batcher_options opt;
	ingest_stream_sink sink = { .write = sink_write, .ctx = s };
	ingest_stream_batcher *b = NULL;

	ingest_stream_batcher_options_default(&opt);
	opt.max_lines = 1000;
	opt.max_delay_ms = 10;
	if (max_queue)
		opt.max_queue_bytes = max_queue;
	assert_int_equal(ingest_stream_batcher_new_sink(&b, &sink, &opt), 0);
	return b;
}

static uint64_t batcher_lines(ingest_stream_batcher *b)
{
	ingest_stream_batcher_stats st;

	ingest_stream_batcher_get_stats(b, &st);
	return st.lines_in;
}

/* Waits (bounded) until the batcher has taken n lines; true if it has. */
static bool wait_lines(ingest_stream_batcher *b, uint64_t n)
{
	for (int i = 0; i < WAIT_ROUNDS; i++) {
		if (batcher_lines(b) >= n)
			return true;
		usleep(10000);
	}
	return false;
}

static ingest_tcp_listener *tcp_start(ingest_stream_batcher *b, uint32_t max_line, uint32_t max_conns,
				      uint32_t idle_ms)
{
	ingest_tcp_options opt;
	ingest_tcp_listener *l = NULL;

	ingest_tcp_options_default(&opt);
	opt.addr = "127.0.0.1:0";
	opt.db = "test";
	if (max_line)
		opt.max_line_bytes = max_line;
	if (max_conns)
		opt.max_connections = max_conns;
	opt.idle_timeout_ms = idle_ms;
	assert_int_equal(ingest_tcp_listener_start(&l, b, &opt), 0);
	assert_true(ingest_tcp_listener_port(l) != 0);
	return l;
}

static int tcp_connect(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 30 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Bounded: a send or recv never waits more than 30 s. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends buf in pieces of 1..max_piece bytes. 0 or -1. */
static int send_split(int fd, const char *buf, size_t len, size_t max_piece, unsigned *seed)
{
	size_t pos = 0;

	while (pos < len) {
		size_t piece = 1 + (size_t)rand_r(seed) % max_piece;
		ssize_t n;

		if (piece > len - pos)
			piece = len - pos;
		n = send(fd, buf + pos, piece, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		pos += (size_t)n;
	}
	return 0;
}

/* Waits (bounded) until everything sent on fd has been acknowledged by the peer. */
static bool wait_acked(int fd)
{
	for (int i = 0; i < WAIT_ROUNDS; i++) {
		int outq = -1;

		if (ioctl(fd, SIOCOUTQ, &outq) == 0 && outq == 0)
			return true;
		usleep(10000);
	}
	return false;
}

/* Checks that data holds, for each client c < n_clients, lines "c<c> v=<0..per-1> ..." in order, nothing else. */
static void check_clients(const char *data, size_t len, int n_clients, int per)
{
	int *next = calloc((size_t)n_clients, sizeof *next);
	size_t pos = 0;

	assert_non_null(next);
	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		int c, seq;

		assert_non_null(nl);
		assert_int_equal(sscanf(data + pos, "c%d v=%d", &c, &seq), 2);
		assert_true(c >= 0 && c < n_clients);
		assert_int_equal(seq, next[c]);
		next[c]++;
		pos = (size_t)(nl - data) + 1;
	}
	for (int c = 0; c < n_clients; c++)
		assert_int_equal(next[c], per);
	free(next);
}

/* ---- TCP ---- */

struct client {
	uint16_t port;
	int id;
	int n_lines;
	size_t max_piece;
	unsigned seed;
	size_t bytes;
	int rc;
};

/* Builds "c<id> v=<seq> pad=<0..40 x>\n" lines. */
static char *client_lines(int id, int n, unsigned *seed, size_t *out_len)
{
	char *buf = malloc((size_t)n * 80);
	size_t len = 0;

	*out_len = 0;
	if (!buf)
		return NULL;
	for (int i = 0; i < n; i++) {
		int pad = (int)(rand_r(seed) % 41);

		len += (size_t)sprintf(buf + len, "c%d v=%d pad=", id, i);
		memset(buf + len, 'x', (size_t)pad);
		len += (size_t)pad;
		buf[len++] = '\n';
	}
	*out_len = len;
	return buf;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	size_t len;
	char *buf = client_lines(c->id, c->n_lines, &c->seed, &len);
	int fd = tcp_connect(c->port);

	c->rc = -1;
	if (buf && fd >= 0 && send_split(fd, buf, len, c->max_piece, &c->seed) == 0) {
		c->rc = 0;
		c->bytes = len;
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

static void test_listeners_tcp_many_connections(void **state)
{
	enum { N = 16, PER = 3000 };
	struct rec_sink s;
	ingest_stream_batcher *b;
	ingest_tcp_listener *l;
	ingest_tcp_stats ts;
	struct client cl[N];
	pthread_t th[N];
	uint64_t bytes = 0;

	(void)state;
	sink_init(&s);
	b = batcher_start(&s, 0);
	l = tcp_start(b, 0, 0, 0);
	for (int i = 0; i < N; i++) {
		cl[i] = (struct client){ .port = ingest_tcp_listener_port(l), .id = i, .n_lines = PER,
					 .max_piece = 700, .seed = 77u * (unsigned)i + 1 };
		assert_int_equal(pthread_create(&th[i], NULL, client_main, &cl[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(cl[i].rc, 0);
		bytes += cl[i].bytes;
	}
	assert_true(wait_lines(b, (uint64_t)N * PER));
	ingest_tcp_listener_get_stats(l, &ts);
	ingest_tcp_listener_stop(l);
	ingest_stream_batcher_stop(b);
	check_clients(s.data, s.len, N, PER);
	assert_int_equal(ts.connections_accepted, N);
	assert_int_equal(ts.bytes_read, bytes);
	assert_int_equal(ts.lines_too_long, 0);
	assert_int_equal(ts.partial_dropped, 0);
	ingest_stream_batcher_free(b);
	sink_deinit(&s);
}

/* Appends a line "c0 v=<seq> pad=xxx\n" whose content (without the newline) is exactly len bytes. */
static size_t put_line(char *out, int seq, size_t len)
{
	int n = sprintf(out, "c0 v=%d pad=", seq);

	memset(out + n, 'x', len - (size_t)n);
	out[len] = '\n';
	return len + 1;
}

static void test_listeners_tcp_long_line_dropped(void **state)
{
	enum { MAX_LINE = 1000, N = 300 };
	static const size_t long_lens[] = { 1001, 1500, 5000, 70000, 2002 };
	struct rec_sink s;
	ingest_stream_batcher *b;
	ingest_tcp_listener *l;
	ingest_tcp_stats ts;
	char *buf = malloc((size_t)1 << 20);
	size_t len = 0;
	unsigned seed = 5;
	int fd, seq = 0, n_long = 0;

	(void)state;
	assert_non_null(buf);
	sink_init(&s);
	b = batcher_start(&s, 0);
	l = tcp_start(b, MAX_LINE, 0, 0);
	for (int i = 0; i < N; i++) {
		if (i % 10 == 5) {
			/* Too long: dropped, its bytes never reach the batcher. */
			size_t ll = long_lens[n_long % 5];

			memset(buf + len, 'L', ll);
			len += ll;
			buf[len++] = '\n';
			n_long++;
		} else if (i % 10 == 7) {
			/* Exactly at the limit: kept. */
			len += put_line(buf + len, seq++, MAX_LINE);
		} else {
			len += (size_t)sprintf(buf + len, "c0 v=%d\n", seq++);
		}
	}
	fd = tcp_connect(ingest_tcp_listener_port(l));
	assert_true(fd >= 0);
	assert_int_equal(send_split(fd, buf, len, 3000, &seed), 0);
	close(fd);
	assert_true(wait_lines(b, (uint64_t)seq));
	for (int i = 0; i < WAIT_ROUNDS; i++) {
		ingest_tcp_listener_get_stats(l, &ts);
		if (ts.connections_open == 0)
			break;
		usleep(10000);
	}
	ingest_tcp_listener_stop(l);
	ingest_stream_batcher_stop(b);
	check_clients(s.data, s.len, 1, seq);
	assert_int_equal(ts.lines_too_long, n_long);
	assert_int_equal(ts.bytes_read, len);
	assert_null(memchr(s.data, 'L', s.len));
	ingest_stream_batcher_free(b);
	sink_deinit(&s);
	free(buf);
}

static void test_listeners_tcp_close_ends_last_line(void **state)
{
	struct rec_sink s;
	ingest_stream_batcher *b;
	ingest_tcp_listener *l;
	const char *msg = "c0 v=0\nc0 v=1";
	int fd;

	(void)state;
	sink_init(&s);
	b = batcher_start(&s, 0);
	l = tcp_start(b, 0, 0, 0);
	fd = tcp_connect(ingest_tcp_listener_port(l));
	assert_true(fd >= 0);
	assert_int_equal(send(fd, msg, strlen(msg), MSG_NOSIGNAL), (ssize_t)strlen(msg));
	close(fd);
	assert_true(wait_lines(b, 2));
	ingest_tcp_listener_stop(l);
	ingest_stream_batcher_stop(b);
	assert_int_equal(s.len, strlen(msg) + 1);
	assert_memory_equal(s.data, "c0 v=0\nc0 v=1\n", s.len);
	ingest_stream_batcher_free(b);
	sink_deinit(&s);
}

/* True when the peer closes fd within the bounded wait (recv gives 0 or a reset). */
static bool wait_closed_by_peer(int fd)
{
	for (int i = 0; i < WAIT_ROUNDS; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char c;

		if (poll(&p, 1, 10) == 1) {
			ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

			return n == 0 || (n < 0 && errno == ECONNRESET);
		}
	}
	return false;
}

static void test_listeners_tcp_connection_limit(void **state)
{
	struct rec_sink s;
	ingest_stream_batcher *b;
	ingest_tcp_listener *l;
	ingest_tcp_stats ts;
	int fd[3];

	(void)state;
	sink_init(&s);
	b = batcher_start(&s, 0);
	l = tcp_start(b, 0, 2, 0);
	for (int i = 0; i < 2; i++) {
		fd[i] = tcp_connect(ingest_tcp_listener_port(l));
		assert_true(fd[i] >= 0);
	}
	for (int i = 0; i < WAIT_ROUNDS; i++) {
		ingest_tcp_listener_get_stats(l, &ts);
		if (ts.connections_open == 2)
			break;
		usleep(10000);
	}
	assert_int_equal(ts.connections_open, 2);
	fd[2] = tcp_connect(ingest_tcp_listener_port(l));
	assert_true(fd[2] >= 0);
	/* The third is accepted and closed at once; the first two still work. */
	assert_true(wait_closed_by_peer(fd[2]));
	assert_int_equal(send(fd[0], "c0 v=0\n", 7, MSG_NOSIGNAL), 7);
	assert_int_equal(send(fd[1], "c1 v=0\n", 7, MSG_NOSIGNAL), 7);
	assert_true(wait_lines(b, 2));
	ingest_tcp_listener_get_stats(l, &ts);
	assert_int_equal(ts.connections_rejected, 1);
	assert_int_equal(ts.connections_accepted, 2);
	for (int i = 0; i < 3; i++)
		close(fd[i]);
	ingest_tcp_listener_stop(l);
	ingest_stream_batcher_stop(b);
	check_clients(s.data, s.len, 2, 1);
	ingest_stream_batcher_free(b);
	sink_deinit(&s);
}

static void test_listeners_tcp_idle_timeout(void **state)
{
	struct rec_sink s;
	ingest_stream_batcher *b;
	ingest_tcp_listener *l;
	ingest_tcp_stats ts;
	int fd;

	(void)state;
	sink_init(&s);
	b = batcher_start(&s, 0);
	l = tcp_start(b, 0, 0, 100);
	fd = tcp_connect(ingest_tcp_listener_port(l));
	assert_true(fd >= 0);
	/* A finished line and an unfinished one; then silence. */
	assert_int_equal(send(fd, "c0 v=0\nc0 v=", 12, MSG_NOSIGNAL), 12);
	assert_true(wait_closed_by_peer(fd));
	close(fd);
	ingest_tcp_listener_get_stats(l, &ts);
	assert_int_equal(ts.connections_idle_closed, 1);
	assert_int_equal(ts.partial_dropped, 1);
	assert_int_equal(ts.connections_open, 0);
	ingest_tcp_listener_stop(l);
	ingest_stream_batcher_stop(b);
	assert_int_equal(s.len, 7);
	assert_memory_equal(s.data, "c0 v=0\n", 7);
	ingest_stream_batcher_free(b);
	sink_deinit(&s);
}

static void test_listeners_tcp_backpressure(void **state)
{
	enum { N = 2, PER = 20000, QUEUE = 64 << 10 };
	struct rec_sink s;
	ingest_stream_batcher *b;
	ingest_stream_batcher_stats bs;
	ingest_tcp_listener *l;
	ingest_tcp_stats ts, ts2;
	struct client cl[N];
	pthread_t th[N];

	(void)state;
	sink_init(&s);
	sink_set_gate(&s, true);
	b = batcher_start(&s, QUEUE);
	l = tcp_start(b, 0, 0, 0);
	for (int i = 0; i < N; i++) {
		cl[i] = (struct client){ .port = ingest_tcp_listener_port(l), .id = i, .n_lines = PER,
					 .max_piece = 5000, .seed = 3u + (unsigned)i };
		assert_int_equal(pthread_create(&th[i], NULL, client_main, &cl[i]), 0);
	}
	/* The engine is stalled: both connections end up paused. */
	for (int i = 0; i < WAIT_ROUNDS; i++) {
		ingest_tcp_listener_get_stats(l, &ts);
		if (ts.read_pauses >= N)
			break;
		usleep(10000);
	}
	assert_true(ts.read_pauses >= N);
	usleep(100000);
	/* While paused and stalled, nothing more is read. */
	ingest_tcp_listener_get_stats(l, &ts2);
	assert_int_equal(ts2.bytes_read, ts.bytes_read);
	ingest_stream_batcher_get_stats(b, &bs);
	assert_true(bs.queue_bytes <= QUEUE + (64 << 10) + 200);
	assert_true(bs.push_refusals >= 1);
	sink_set_gate(&s, false);
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(cl[i].rc, 0);
	}
	assert_true(wait_lines(b, (uint64_t)N * PER));
	ingest_tcp_listener_stop(l);
	ingest_stream_batcher_stop(b);
	check_clients(s.data, s.len, N, PER);
	ingest_stream_batcher_get_stats(b, &bs);
	assert_true(bs.queue_bytes_peak <= QUEUE + (64 << 10) + 200);
	ingest_stream_batcher_free(b);
	sink_deinit(&s);
}

static void test_listeners_tcp_stop_keeps_pending_lines(void **state)
{
	enum { N = 500 };
	struct rec_sink s;
	ingest_stream_batcher *b;
	ingest_tcp_listener *l;
	unsigned seed = 9;
	size_t len = 0;
	char *buf = client_lines(0, N, &seed, &len);
	int fd;

	(void)state;
	assert_non_null(buf);
	sink_init(&s);
	b = batcher_start(&s, 0);
	l = tcp_start(b, 0, 0, 0);
	fd = tcp_connect(ingest_tcp_listener_port(l));
	assert_true(fd >= 0);
	assert_int_equal(send_split(fd, buf, len, 900, &seed), 0);
	assert_int_equal(send(fd, "c0 v=", 5, MSG_NOSIGNAL), 5);
	/* Everything is in the listener's socket; the connection stays open. */
	assert_true(wait_acked(fd));
	ingest_tcp_listener_stop(l);
	ingest_stream_batcher_stop(b);
	/* Every finished line, and not the unfinished one (check_clients would choke on it). */
	check_clients(s.data, s.len, 1, N);
	close(fd);
	ingest_stream_batcher_free(b);
	sink_deinit(&s);
	free(buf);
}

static void test_listeners_bad_addresses(void **state)
{
	static const char *bad[] = { "nonsense", "127.0.0.1:99999", "127.0.0.1:", "[::1", "127.0.0.1:12x" };
	struct rec_sink s;
	ingest_stream_batcher *b;
	ingest_tcp_listener *l, *l2 = NULL;
	ingest_udp_listener *u, *u2 = NULL;
	ingest_tcp_options opt;
	ingest_udp_options uopt;
	char addr[64];

	(void)state;
	sink_init(&s);
	b = batcher_start(&s, 0);
	ingest_tcp_options_default(&opt);
	ingest_udp_options_default(&uopt);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		opt.addr = bad[i];
		uopt.addr = bad[i];
		assert_int_equal(ingest_tcp_listener_start(&l2, b, &opt), STRATA_EINVAL);
		assert_null(l2);
		assert_int_equal(ingest_udp_listener_start(&u2, b, &uopt), STRATA_EINVAL);
		assert_null(u2);
	}
	opt.addr = uopt.addr = "127.0.0.1:0";
	opt.db = uopt.db = "";
	assert_int_equal(ingest_tcp_listener_start(&l2, b, &opt), STRATA_EINVAL);
	assert_int_equal(ingest_udp_listener_start(&u2, b, &uopt), STRATA_EINVAL);
	opt.db = uopt.db = "test";
	l = tcp_start(b, 0, 0, 0);
	snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)ingest_tcp_listener_port(l));
	opt.addr = addr;
	assert_int_equal(ingest_tcp_listener_start(&l2, b, &opt), -EADDRINUSE);
	assert_non_null(strstr(strata_last_error(), addr));
	uopt.addr = "127.0.0.1:0";
	assert_int_equal(ingest_udp_listener_start(&u, b, &uopt), 0);
	snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)ingest_udp_listener_port(u));
	uopt.addr = addr;
	assert_int_equal(ingest_udp_listener_start(&u2, b, &uopt), -EADDRINUSE);
	ingest_udp_listener_stop(u);
	ingest_tcp_listener_stop(l);
	ingest_stream_batcher_free(b);
	sink_deinit(&s);
}

/* ---- UDP ---- */

static ingest_udp_listener *udp_start(ingest_stream_batcher *b)
{
	ingest_udp_options opt;
	ingest_udp_listener *u = NULL;

	ingest_udp_options_default(&opt);
	opt.addr = "127.0.0.1:0";
	opt.db = "test";
	assert_int_equal(ingest_udp_listener_start(&u, b, &opt), 0);
	assert_true(ingest_udp_listener_port(u) != 0);
	return u;
}

static int udp_socket(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static bool wait_datagrams(ingest_udp_listener *u, uint64_t n)
{
	for (int i = 0; i < WAIT_ROUNDS; i++) {
		ingest_udp_stats st;

		ingest_udp_listener_get_stats(u, &st);
		if (st.datagrams >= n)
			return true;
		usleep(10000);
	}
	return false;
}

static void test_listeners_udp_datagrams(void **state)
{
	enum { N_DGRAMS = 600, BIG_LINES = 2000 };
	struct rec_sink s;
	ingest_stream_batcher *b;
	ingest_udp_listener *u;
	ingest_udp_stats us;
	char *dg = malloc(65536);
	unsigned seed = 11;
	int fd, seq = 0;
	uint64_t sent = 0;
	char *seen;
	size_t pos = 0;

	(void)state;
	assert_non_null(dg);
	sink_init(&s);
	b = batcher_start(&s, 0);
	u = udp_start(b);
	fd = udp_socket(ingest_udp_listener_port(u));
	assert_true(fd >= 0);
	for (int i = 0; i < N_DGRAMS; i++) {
		int k = 1 + (int)(rand_r(&seed) % 5);
		size_t len = 0;

		for (int j = 0; j < k; j++)
			len += (size_t)sprintf(dg + len, "c0 v=%d\n", seq++);
		/* Every third datagram's last line lacks its newline. */
		if (i % 3 == 0)
			len--;
		assert_int_equal(send(fd, dg, len, 0), (ssize_t)len);
		sent++;
		/* Pace: the kernel drops what does not fit the socket buffer. */
		if (i % 50 == 49)
			assert_true(wait_datagrams(u, sent));
	}
	/* One big datagram of many lines (about 30 KB). */
	{
		size_t len = 0;

		for (int j = 0; j < BIG_LINES; j++)
			len += (size_t)sprintf(dg + len, "c0 v=%d\n", seq++);
		assert_true(len < 65000);
		assert_int_equal(send(fd, dg, len, 0), (ssize_t)len);
		sent++;
	}
	/* Empty datagrams are ignored. */
	assert_int_equal(send(fd, dg, 0, 0), 0);
	sent++;
	assert_true(wait_datagrams(u, sent));
	assert_true(wait_lines(b, (uint64_t)seq));
	ingest_udp_listener_get_stats(u, &us);
	ingest_udp_listener_stop(u);
	ingest_stream_batcher_stop(b);
	assert_int_equal(us.datagrams, sent);
	assert_int_equal(us.drops_kernel, 0);
	assert_int_equal(us.drops_truncated, 0);
	/* Every line exactly once (datagram order is the kernel's business). */
	seen = calloc((size_t)seq, 1);
	assert_non_null(seen);
	while (pos < s.len) {
		const char *nl = memchr(s.data + pos, '\n', s.len - pos);
		int c, v;

		assert_non_null(nl);
		assert_int_equal(sscanf(s.data + pos, "c%d v=%d", &c, &v), 2);
		assert_true(v >= 0 && v < seq);
		assert_int_equal(seen[v], 0);
		seen[v] = 1;
		pos = (size_t)(nl - s.data) + 1;
	}
	for (int i = 0; i < seq; i++)
		assert_int_equal(seen[i], 1);
	free(seen);
	close(fd);
	ingest_stream_batcher_free(b);
	sink_deinit(&s);
	free(dg);
}

/* ---- through the real engine ---- */

struct engine_client {
	uint16_t port;
	int host;
	int n;
	int rc;
};

static void *engine_client_main(void *arg)
{
	struct engine_client *c = arg;
	char *buf = malloc((size_t)c->n * 64);
	size_t len = 0;
	unsigned seed = (unsigned)c->host;
	int fd = tcp_connect(c->port);

	c->rc = -1;
	if (buf && fd >= 0) {
		for (int i = 0; i < c->n; i++)
			len += (size_t)sprintf(buf + len, "cpu,host=h%d value=%di %d\n", c->host, i, 1000 + i);
		if (send_split(fd, buf, len, 500, &seed) == 0)
			c->rc = 0;
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* Reads back series key over [ts 0, ∞): the number of points, checking times and values 1000+i / i. */
static int count_series(lsm_db *db, lsm_catalog *cat, uint32_t db_id, const char *key, int expect)
{
	uint8_t lo[LSM_UKEY_LEN], hi[LSM_UKEY_LEN];
	lsm_db_iter *it = NULL;
	uint64_t id;
	int n = 0;

	if (lsm_catalog_series_id(cat, db_id, key, strlen(key), &id) != 0)
		return -1;
	lsm_ukey_encode(lo, id, INT64_MIN);
	lsm_ukey_encode(hi, id + 1, INT64_MIN);
	if (lsm_db_iter_new(&it, db, lo, hi) != 0)
		return -1;
	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it) && n <= expect; lsm_db_iter_next(it)) {
		const uint8_t *k = lsm_db_iter_key(it);
		size_t vlen;
		const uint8_t *v = lsm_db_iter_value(it, &vlen);
		lsm_row_field f[4];
		size_t nf = 0;

		if (lsm_ukey_series(k) != id || lsm_ukey_ts(k) != 1000 + n)
			break;
		if (lsm_row_decode(v, vlen, f, 4, &nf) != 0 || nf != 1 || f[0].type != LSM_FIELD_INT ||
		    f[0].v.i != n)
			break;
		n++;
	}
	if (lsm_db_iter_status(it) != 0)
		n = -1;
	lsm_db_iter_free(it);
	return n;
}

static void test_listeners_real_engine(void **state)
{
	enum { N = 8, PER = 2000, UDP_LINES = 300 };
	char dir[64];
	lsm_options lopt;
	lsm_db *db = NULL;
	lsm_catalog *cat = NULL;
	ingest_options iopt;
	ingest_engine engine;
	ingest_stream_batcher *b = NULL;
	ingest_stream_batcher_options bopt;
	ingest_stream_batcher_stats bs;
	ingest_tcp_options topt;
	ingest_tcp_listener *l = NULL;
	ingest_udp_options uopt;
	ingest_udp_listener *u = NULL;
	struct engine_client cl[N];
	pthread_t th[N];
	uint32_t db_id;
	char key[64];
	int fd;

	(void)state;
	assert_int_equal(test_make_temp_dir(dir, sizeof dir), 0);
	lsm_options_default(&lopt);
	lopt.merge = lsm_row_merge;
	assert_int_equal(lsm_open(&db, dir, &lopt), 0);
	assert_int_equal(lsm_catalog_open(&cat, dir), 0);
	assert_int_equal(lsm_catalog_create_database(cat, "strata"), 0);
	ingest_options_default(&iopt);
	ingest_engine_init(&engine, db, cat, &iopt);
	ingest_stream_batcher_options_default(&bopt);
	bopt.max_delay_ms = 10;
	assert_int_equal(ingest_stream_batcher_new(&b, &engine, &bopt), 0);
	ingest_tcp_options_default(&topt);
	topt.addr = "127.0.0.1:0";
	assert_int_equal(ingest_tcp_listener_start(&l, b, &topt), 0);
	ingest_udp_options_default(&uopt);
	uopt.addr = "127.0.0.1:0";
	assert_int_equal(ingest_udp_listener_start(&u, b, &uopt), 0);

	for (int i = 0; i < N; i++) {
		cl[i] = (struct engine_client){ .port = ingest_tcp_listener_port(l), .host = i, .n = PER };
		assert_int_equal(pthread_create(&th[i], NULL, engine_client_main, &cl[i]), 0);
	}
	fd = udp_socket(ingest_udp_listener_port(u));
	assert_true(fd >= 0);
	for (int i = 0; i < UDP_LINES; i++) {
		char line[96];
		int n = snprintf(line, sizeof line, "cpu,host=udp value=%di %d", i, 1000 + i);

		assert_int_equal(send(fd, line, (size_t)n, 0), n);
		if (i % 50 == 49)
			assert_true(wait_datagrams(u, (uint64_t)i + 1));
	}
	/* A bad line is counted, not fatal. */
	assert_int_equal(send(fd, "cpu,host=udp value=\n", 20, 0), 20);
	close(fd);
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(cl[i].rc, 0);
	}
	assert_true(wait_lines(b, (uint64_t)N * PER + UDP_LINES + 1));
	ingest_udp_listener_stop(u);
	ingest_tcp_listener_stop(l);
	ingest_stream_batcher_stop(b);
	ingest_stream_batcher_get_stats(b, &bs);
	assert_int_equal(bs.points, (uint64_t)N * PER + UDP_LINES);
	assert_int_equal(bs.lines_rejected, 1);
	assert_int_equal(bs.write_errors, 0);
	ingest_stream_batcher_free(b);

	assert_int_equal(lsm_catalog_database_id(cat, "strata", &db_id), 0);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof key, "cpu,host=h%d", i);
		assert_int_equal(count_series(db, cat, db_id, key, PER), PER);
	}
	assert_int_equal(count_series(db, cat, db_id, "cpu,host=udp", UDP_LINES), UDP_LINES);
	lsm_catalog_close(cat);
	assert_int_equal(lsm_close(db), 0);
	test_remove_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listeners_tcp_many_connections),
		cmocka_unit_test(test_listeners_tcp_long_line_dropped),
		cmocka_unit_test(test_listeners_tcp_close_ends_last_line),
		cmocka_unit_test(test_listeners_tcp_connection_limit),
		cmocka_unit_test(test_listeners_tcp_idle_timeout),
		cmocka_unit_test(test_listeners_tcp_backpressure),
		cmocka_unit_test(test_listeners_tcp_stop_keeps_pending_lines),
		cmocka_unit_test(test_listeners_bad_addresses),
		cmocka_unit_test(test_listeners_udp_datagrams),
		cmocka_unit_test(test_listeners_real_engine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
