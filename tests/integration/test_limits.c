/*
 * Integration test: the limits of `strata serve` against real sockets on
 * loopback. A slow-loris client trickling its headers, and another its
 * body, are cut within --request-timeout while a normal client is served
 * meanwhile; connections past --max-connections-per-ip are closed at once
 * and a slot freed is usable again; oversized headers are refused and the
 * server goes on; --max-series refuses the lines making new series past the
 * limit, naming it and the series, writes the other lines of the request,
 * and is counted in /metrics (also after a restart); --max-tags refuses a
 * point with too many tags. The TCP line protocol listener: connections
 * past the per-address limit are closed at once, and the partial lines of
 * all connections together stay within their budget (a line that would
 * pass it is dropped, the others go on).
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "ingest/listener_tcp.h"
#include "ingest/stream_batcher.h"
#include "tests/server.h"

#include <pthread.h>

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int connect_port(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	return fd;
}

/*
 * Waits up to ms for fd to be readable, and reads: >0 bytes read into buf
 * (NUL-terminated), 0 the server closed (end of stream or reset), -1
 * nothing arrived in time.
 */
static int read_wait(int fd, char *buf, size_t cap, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return -1;
	n = recv(fd, buf, cap - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return (int)n;
}

/*
 * Sends the bytes of text one at a time, one every interval_ms, until the
 * server cuts the connection: the milliseconds that took, or -1 if it never
 * did (all sent and read_wait found nothing for another 10 s).
 */
static int64_t trickle_until_cut(int fd, const char *text, int interval_ms, int64_t start)
{
	char buf[256];
	size_t n = strlen(text);

	for (size_t i = 0; i < n; i++) {
		if (send(fd, text + i, 1, MSG_NOSIGNAL) != 1)
			return now_ms() - start;
		if (read_wait(fd, buf, sizeof buf, interval_ms) == 0)
			return now_ms() - start;
	}
	return read_wait(fd, buf, sizeof buf, 10000) == 0 ? now_ms() - start : -1;
}

/* The value of a metric in the server's /metrics, or -1. */
static long long metric(int port, const char *name)
{
	char cmd[256], out[65536], key[128], *at;

	snprintf(cmd, sizeof cmd, "curl -s http://127.0.0.1:%d/metrics", port);
	if (test_run(cmd, out, sizeof out) != 0)
		return -1;
	snprintf(key, sizeof key, "\n%s ", name);
	at = strstr(out, key);
	return at ? strtoll(at + strlen(key), NULL, 10) : -1;
}

static void start(test_server *srv, char *dir, size_t dir_len, const char *const *extra)
{
	char data[128], log[128];

	assert_int_equal(test_make_temp_dir(dir, dir_len), 0);
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(log, sizeof log, "%s/serve.log", dir);
	if (!test_server_start(srv, data, log, extra))
		fail_msg("strata serve did not come up; see %s", log);
}

static void test_limits_slow_loris(void **state)
{
	const char *extra[] = { "--request-timeout", "2s", "--auto-create-db", NULL };
	char dir[64], cmd[512], out[4096], big[128 * 1024 + 64];
	char headers[512];
	test_server srv;
	int64_t t0, cut;
	int slow_headers, slow_body;

	(void)state;
	start(&srv, dir, sizeof dir, extra);

	/* Headers, one byte every 100 ms: each byte resets the idle timeout, not the request's. */
	slow_headers = connect_port(srv.port);
	slow_body = connect_port(srv.port);
	t0 = now_ms();
	/* The body's client sends complete headers at once, then trickles the body. */
	snprintf(headers, sizeof headers,
		 "POST /write?db=slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n");
	assert_int_equal(send(slow_body, headers, strlen(headers), MSG_NOSIGNAL), (ssize_t)strlen(headers));

	/* Meanwhile a normal client is served at once, again and again. */
	for (int i = 0; i < 3; i++) {
		snprintf(cmd, sizeof cmd,
			 "curl -s -m 5 -o /dev/null -w '%%{http_code}' -XPOST 'http://127.0.0.1:%d/write?db=fast' "
			 "--data-binary 'cpu v=%d'", srv.port, i);
		assert_int_equal(test_run(cmd, out, sizeof out), 0);
		assert_string_equal(out, "204");
	}
	snprintf(cmd, sizeof cmd, "curl -s -m 5 -G 'http://127.0.0.1:%d/query?db=fast' --data-urlencode "
				  "'q=SELECT count(v) FROM cpu'", srv.port);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_non_null(strstr(out, "[\"1970-01-01T00:00:00Z\",3]"));

	cut = trickle_until_cut(slow_headers,
				"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trickle: "
				"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
				100, t0);
	/* Cut after 2 s (the timeout) and before the sweeper's round after it, with slack for a busy machine. */
	assert_true(cut >= 1900);
	assert_true(cut < 6000);
	close(slow_headers);

	/* The body's trickler has been cut by now too (same deadline, same rounds). */
	{
		char buf[256];
		int64_t body_cut = -1;

		for (int i = 0; i < 100 && body_cut < 0; i++) {
			if (send(slow_body, "x", 1, MSG_NOSIGNAL) != 1 || read_wait(slow_body, buf, sizeof buf, 100) == 0)
				body_cut = now_ms() - t0;
		}
		assert_true(body_cut >= 1900);
		assert_true(body_cut < 6000);
		close(slow_body);
	}
	assert_true(metric(srv.port, "strata_http_request_timeouts_total") >= 2);

	/* A client that takes its time within the limit is served. */
	{
		int fd = connect_port(srv.port);
		const char *req = "GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
		char buf[256];

		for (size_t i = 0; i < strlen(req); i++) {
			assert_int_equal(send(fd, req + i, 1, MSG_NOSIGNAL), 1);
			usleep(20000);
		}
		assert_true(read_wait(fd, buf, sizeof buf, 5000) > 0);
		assert_non_null(strstr(buf, "204"));
		close(fd);
	}

	/* Headers past libmicrohttpd's connection memory: refused, not buffered; the server goes on. */
	memset(big, 'b', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	{
		char path[128];
		FILE *f;

		snprintf(path, sizeof path, "%s/big-header", dir);
		f = fopen(path, "w");
		assert_non_null(f);
		fprintf(f, "X-Big: %s\n", big);
		fclose(f);
		snprintf(cmd, sizeof cmd, "curl -s -m 10 -o /dev/null -w '%%{http_code}' -H @%s http://127.0.0.1:%d/ping",
			 path, srv.port);
		test_run(cmd, out, sizeof out);
		assert_true(strcmp(out, "204") != 0);
	}
	snprintf(cmd, sizeof cmd, "curl -s -m 5 -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/ping", srv.port);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_string_equal(out, "204");

	assert_int_equal(test_server_stop(&srv), 0);
	test_remove_tree(dir);
}

/* Sends GET /ping on fd and reads the answer: true for a 204. */
static bool ping_on(int fd)
{
	const char *req = "GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	char buf[512];

	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
		return false;
	return read_wait(fd, buf, sizeof buf, 5000) > 0 && strstr(buf, " 204") != NULL;
}

static void test_limits_connections_per_ip(void **state)
{
	const char *extra[] = { "--max-connections-per-ip", "3", NULL };
	char dir[64], buf[256];
	test_server srv;
	int fds[3], extra_fd;
	bool served = false;

	(void)state;
	start(&srv, dir, sizeof dir, extra);
	/* Three connections from 127.0.0.1, each kept open and served. */
	for (int i = 0; i < 3; i++) {
		fds[i] = connect_port(srv.port);
		assert_true(ping_on(fds[i]));
	}
	/* A fourth is closed at once, before any request is read. */
	extra_fd = connect_port(srv.port);
	assert_int_equal(read_wait(extra_fd, buf, sizeof buf, 5000), 0);
	close(extra_fd);
	/* The first three go on working. */
	for (int i = 0; i < 3; i++)
		assert_true(ping_on(fds[i]));
	/* One closes: its slot is free again once the server has seen it go (bounded wait). */
	close(fds[0]);
	for (int i = 0; i < 50 && !served; i++) {
		usleep(100000);
		extra_fd = connect_port(srv.port);
		served = ping_on(extra_fd);
		close(extra_fd);
	}
	assert_true(served);
	close(fds[1]);
	close(fds[2]);
	/* /metrics (curl: one more connection of the same address) once the others are gone. */
	{
		long long refused = -1;

		for (int i = 0; i < 50 && refused < 1; i++) {
			usleep(100000);
			refused = metric(srv.port, "strata_http_connections_refused_total");
		}
		assert_true(refused >= 1);
	}
	assert_int_equal(test_server_stop(&srv), 0);
	test_remove_tree(dir);
}

static void test_limits_series_and_tags(void **state)
{
	const char *extra[] = { "--max-series", "5", "--max-tags", "4", "--auto-create-db", NULL };
	char dir[64], cmd[1024], out[8192];
	test_server srv;

	(void)state;
	start(&srv, dir, sizeof dir, extra);
	snprintf(cmd, sizeof cmd,
		 "printf 'cpu,host=h0 v=1 1767225600\\ncpu,host=h1 v=1 1767225600\\ncpu,host=h2 v=1 1767225600\\n"
		 "cpu,host=h3 v=1 1767225600\\ncpu,host=h4 v=1 1767225600' | curl -s -w ' %%{http_code}' "
		 "-XPOST 'http://127.0.0.1:%d/write?db=lim&precision=s' --data-binary @-", srv.port);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_string_equal(out, " 204");

	/* Past the limit: the new series is refused, naming limit and series; the known ones are written. */
	snprintf(cmd, sizeof cmd,
		 "printf 'cpu,host=h0 v=2 1767225660\\ncpu,host=h5 v=2 1767225660\\ncpu,host=h1 v=2 1767225660' | "
		 "curl -s -w ' %%{http_code}' -XPOST 'http://127.0.0.1:%d/write?db=lim&precision=s' --data-binary @-",
		 srv.port);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_non_null(strstr(out, " 400"));
	assert_non_null(strstr(out, "line 2"));
	assert_non_null(strstr(out, "series limit of 5 reached"));
	assert_non_null(strstr(out, "cpu,host=h5"));
	assert_null(strstr(out, "line 1"));
	assert_null(strstr(out, "line 3"));
	snprintf(cmd, sizeof cmd, "curl -s -G 'http://127.0.0.1:%d/query?db=lim' --data-urlencode "
				  "'q=SELECT count(v) FROM cpu GROUP BY host'", srv.port);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_non_null(strstr(out, "{\"host\":\"h0\"},\"columns\":[\"time\",\"count\"],\"values\":[[\"1970-01-01T00:00:00Z\",2]]"));
	assert_non_null(strstr(out, "{\"host\":\"h1\"},\"columns\":[\"time\",\"count\"],\"values\":[[\"1970-01-01T00:00:00Z\",2]]"));
	assert_null(strstr(out, "h5"));
	assert_int_equal(metric(srv.port, "strata_http_writes_series_limited_total"), 1);
	assert_int_equal(metric(srv.port, "strata_series"), 5);
	assert_int_equal(metric(srv.port, "strata_series_limit"), 5);

	/* Too many tags for --max-tags 4. */
	snprintf(cmd, sizeof cmd,
		 "curl -s -w ' %%{http_code}' -XPOST 'http://127.0.0.1:%d/write?db=lim' --data-binary "
		 "'cpu,host=h0,a=1,b=2,c=3,d=4 v=3'", srv.port);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_non_null(strstr(out, " 400"));
	assert_non_null(strstr(out, "tags"));

	/* After a restart the catalog still holds 5 series: still refused. */
	assert_int_equal(test_server_stop(&srv), 0);
	{
		char data[256], log[256];

		snprintf(data, sizeof data, "%s", srv.data);
		snprintf(log, sizeof log, "%s", srv.log);
		if (!test_server_start(&srv, data, log, extra))
			fail_msg("strata serve did not come up again; see %s", log);
	}
	snprintf(cmd, sizeof cmd,
		 "curl -s -w ' %%{http_code}' -XPOST 'http://127.0.0.1:%d/write?db=lim' --data-binary 'mem,host=h9 v=1'",
		 srv.port);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_non_null(strstr(out, "series limit of 5 reached"));
	assert_non_null(strstr(out, "mem,host=h9"));
	assert_int_equal(test_server_stop(&srv), 0);

	/* A bad value is a usage error. */
	snprintf(cmd, sizeof cmd, "%s serve --max-series lots 2>&1", test_strata_bin());
	assert_int_equal(test_run(cmd, out, sizeof out), 2);
	assert_non_null(strstr(out, "--max-series"));
	snprintf(cmd, sizeof cmd, "%s serve --request-timeout 5 2>&1", test_strata_bin());
	assert_int_equal(test_run(cmd, out, sizeof out), 2);
	assert_non_null(strstr(out, "--request-timeout"));
	test_remove_tree(dir);
}

/* A stream sink that keeps what reaches it. */
struct keep_sink {
	pthread_mutex_t mu;
	char *data;
	size_t len, cap;
};

static int keep_write(void *ctx, uint32_t writer, const char *db, const char *buf, size_t len,
		      enum ingest_lp_precision precision, int64_t now_ns, ingest_report *out)
{
	struct keep_sink *k = ctx;

	(void)writer;
	(void)db;
	(void)precision;
	(void)now_ns;
	pthread_mutex_lock(&k->mu);
	if (k->len + len > k->cap) {
		k->cap = (k->len + len) * 2;
		k->data = realloc(k->data, k->cap + 1);
		if (!k->data)
			abort(); /* a writer thread: cmocka's assertions belong to the main thread */
	}
	memcpy(k->data + k->len, buf, len);
	k->len += len;
	k->data[k->len] = '\0';
	pthread_mutex_unlock(&k->mu);
	out->points = 1;
	return 0;
}

/* Waits (bounded) until the sink holds text: true if it does. */
static bool wait_kept(struct keep_sink *k, const char *text)
{
	for (int i = 0; i < 500; i++) {
		bool found;

		pthread_mutex_lock(&k->mu);
		found = k->data && strstr(k->data, text);
		pthread_mutex_unlock(&k->mu);
		if (found)
			return true;
		usleep(10000);
	}
	return false;
}

/* Waits (bounded) until the listener has read at least n bytes. */
static bool wait_read(ingest_tcp_listener *l, uint64_t n)
{
	ingest_tcp_stats st;

	for (int i = 0; i < 500; i++) {
		ingest_tcp_listener_get_stats(l, &st);
		if (st.bytes_read >= n)
			return true;
		usleep(10000);
	}
	return false;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		assert_true(k > 0);
		p += k;
		n -= (size_t)k;
	}
}

static void test_limits_tcp_listener(void **state)
{
	struct keep_sink k = { .mu = PTHREAD_MUTEX_INITIALIZER };
	ingest_stream_sink sink = { .write = keep_write, .ctx = &k };
	ingest_stream_batcher_options bopt;
	ingest_stream_batcher *b = NULL;
	ingest_tcp_options opt;
	ingest_tcp_listener *l = NULL;
	ingest_tcp_stats st;
	size_t big = 200 * 1024;
	char *junk = malloc(big), buf[64];
	int fd[4];

	(void)state;
	memset(junk, 'x', big);
	ingest_stream_batcher_options_default(&bopt);
	bopt.max_delay_ms = 10;
	assert_int_equal(ingest_stream_batcher_new_sink(&b, &sink, &bopt), 0);
	ingest_tcp_options_default(&opt);
	opt.addr = "127.0.0.1:0";
	opt.db = "test";
	opt.max_connections_per_ip = 3;
	opt.max_buffered_bytes = 300 * 1024;
	assert_int_equal(ingest_tcp_listener_start(&l, b, &opt), 0);

	/* Three connections from 127.0.0.1; the fourth is closed at once. */
	for (int i = 0; i < 4; i++)
		fd[i] = connect_port(ingest_tcp_listener_port(l));
	assert_int_equal(read_wait(fd[3], buf, sizeof buf, 5000), 0);
	close(fd[3]);
	ingest_tcp_listener_get_stats(l, &st);
	assert_int_equal(st.connections_rejected, 1);
	assert_int_equal(st.connections_accepted, 3);

	/* One unfinished 200 KiB line takes most of the 300 KiB budget... */
	send_all(fd[0], "a0 v=", 5);
	send_all(fd[0], junk, big);
	assert_true(wait_read(l, big + 5));
	/* ...so another connection's long unfinished line is dropped up to its newline, */
	send_all(fd[1], "b0 v=", 5);
	send_all(fd[1], junk, big);
	send_all(fd[1], "\nb1 v=1\n", 8);
	assert_true(wait_kept(&k, "b1 v=1\n"));
	/* while short lines pass, and the first long line, once ended, is whole. */
	send_all(fd[2], "c0 v=1\n", 7);
	assert_true(wait_kept(&k, "c0 v=1\n"));
	send_all(fd[0], "\n", 1);
	assert_true(wait_kept(&k, "xxx\n"));
	/* Its buffer is given back: a long line fits again. */
	send_all(fd[1], "b2 v=", 5);
	send_all(fd[1], junk, big);
	send_all(fd[1], "\nb3 v=1\n", 8);
	assert_true(wait_kept(&k, "b3 v=1\n"));
	pthread_mutex_lock(&k.mu);
	assert_null(strstr(k.data, "b0 v="));
	assert_non_null(strstr(k.data, "a0 v=xxx"));
	assert_non_null(strstr(k.data, "b2 v=xxx"));
	pthread_mutex_unlock(&k.mu);
	ingest_tcp_listener_get_stats(l, &st);
	assert_int_equal(st.partial_dropped, 1);
	assert_int_equal(st.lines_too_long, 0);

	for (int i = 0; i < 3; i++)
		close(fd[i]);
	ingest_tcp_listener_stop(l);
	ingest_stream_batcher_stop(b);
	ingest_stream_batcher_free(b);
	free(k.data);
	free(junk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits_slow_loris),
		cmocka_unit_test(test_limits_connections_per_ip),
		cmocka_unit_test(test_limits_series_and_tags),
		cmocka_unit_test(test_limits_tcp_listener),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
