/*
 * Concurrency test (run under TSan): a route hook (/query) runs off
 * libmicrohttpd's worker, its connection suspended: with a single worker,
 * /ping and /write are answered while a query is still running, and the
 * query's answer arrives once it ends. With two workers, a query alone on
 * its worker may run there, but never so many that no worker is left for
 * new connections.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ingest/http.h"
#include "lsm/catalog.h"
#include "lsm/lsm.h"
#include "lsm/row.h"
#include "tests/loopback.h"
#include "tests/util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 10000 /* bound on every wait of the test */

/* The hook: tells it has started, then waits until released. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool started, released;
static int n_started; /* hooks that have started since the last reset */

static int slow_query(void *ctx, struct MHD_Connection *conn, const char *method, const char *url, const char *body,
		      size_t len)
{
	static const char answer[] = "{\"results\":[]}\n";
	struct MHD_Response *resp;
	struct timespec until;

	(void)ctx, (void)method, (void)url, (void)body, (void)len;
	test_deadline_in(&until, WAIT_MS);
	pthread_mutex_lock(&mu);
	started = true;
	n_started++;
	pthread_cond_broadcast(&cv);
	while (!released && pthread_cond_timedwait(&cv, &mu, &until) == 0)
		;
	pthread_mutex_unlock(&mu);
	resp = MHD_create_response_from_buffer(strlen(answer), (void *)answer, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	return ingest_http_queue_response(conn, MHD_HTTP_OK, resp);
}

static int connect_to(uint16_t port)
{
	int fd = test_connect_loopback(port);

	assert_true(fd >= 0);
	return fd;
}

/* Sends req on fd and reads until the answer's status line and the body text want arrive: the status code. */
static int exchange(int fd, const char *req, const char *want, int wait_ms)
{
	char buf[4096];
	size_t len = 0;
	int64_t end = test_mono_ms() + wait_ms;

	if (req)
		assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (test_mono_ms() < end && len + 1 < sizeof buf) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf + len, sizeof buf - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") && (!want || strstr(buf, want)))
			return atoi(buf + 9); /* "HTTP/1.1 NNN" */
	}
	return 0;
}

static void test_http_query_off_the_worker(void **state)
{
	char dir[64];
	lsm_options opt;
	lsm_db *db;
	lsm_catalog *catalog;
	ingest_options iopt;
	ingest_engine engine;
	ingest_http_options h;
	ingest_http *http;
	struct timespec until;
	int q, other;

	(void)state;
	assert_int_equal(test_make_temp_dir(dir, sizeof dir), 0);
	lsm_options_default(&opt);
	opt.merge = lsm_row_merge;
	assert_int_equal(lsm_open(&db, dir, &opt), 0);
	assert_int_equal(lsm_catalog_open(&catalog, dir), 0);
	assert_int_equal(lsm_catalog_create_database(catalog, "db"), 0);
	ingest_options_default(&iopt);
	ingest_engine_init(&engine, db, catalog, &iopt);
	ingest_http_options_default(&h);
	h.addr = "127.0.0.1:0";
	h.threads = 1; /* one worker: a query on it would otherwise hold up every connection */
	h.query = slow_query;
	assert_int_equal(ingest_http_start(&http, &engine, &h), 0);

	q = connect_to(ingest_http_port(http));
	assert_int_equal(write(q, "GET /query?q=x HTTP/1.1\r\nHost: a\r\n\r\n", 36), 36);
	test_deadline_in(&until, WAIT_MS);
	pthread_mutex_lock(&mu);
	while (!started && pthread_cond_timedwait(&cv, &mu, &until) == 0)
		;
	assert_true(started);
	pthread_mutex_unlock(&mu);

	/* The query is running: the worker still answers others. */
	other = connect_to(ingest_http_port(http));
	assert_int_equal(exchange(other, "GET /ping HTTP/1.1\r\nHost: a\r\n\r\n", NULL, WAIT_MS), 204);
	assert_int_equal(exchange(other,
				  "POST /write?db=db HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\nm f=1i 1000\n",
				  NULL, WAIT_MS),
			 204);
	close(other);
	/* Nothing has come back for the query yet; once released, its answer does. */
	assert_int_equal(exchange(q, NULL, NULL, 200), 0);
	pthread_mutex_lock(&mu);
	released = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	assert_int_equal(exchange(q, NULL, "results", WAIT_MS), 200);

	/* Stopping waits for a query still running, which then ends with its connection. */
	pthread_mutex_lock(&mu);
	started = released = false;
	pthread_mutex_unlock(&mu);
	assert_int_equal(write(q, "GET /query?q=x HTTP/1.1\r\nHost: a\r\n\r\n", 36), 36);
	test_deadline_in(&until, WAIT_MS);
	pthread_mutex_lock(&mu);
	while (!started && pthread_cond_timedwait(&cv, &mu, &until) == 0)
		;
	released = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	ingest_http_stop(http);
	close(q);
	lsm_catalog_close(catalog);
	assert_int_equal(lsm_close(db), 0);
	test_remove_tree(dir);
}

/* Waits until n hooks have started. */
static void wait_started(int n)
{
	struct timespec until;

	test_deadline_in(&until, WAIT_MS);
	pthread_mutex_lock(&mu);
	while (n_started < n && pthread_cond_timedwait(&cv, &mu, &until) == 0)
		;
	assert_int_equal(n_started, n);
	pthread_mutex_unlock(&mu);
}

static void test_http_query_on_workers_leaves_one_free(void **state)
{
	static const char query[] = "GET /query?q=x HTTP/1.1\r\nHost: a\r\n\r\n";
	char dir[64];
	lsm_options opt;
	lsm_db *db;
	lsm_catalog *catalog;
	ingest_options iopt;
	ingest_engine engine;
	ingest_http_options h;
	ingest_http *http;
	int q1, q2, other;

	(void)state;
	pthread_mutex_lock(&mu);
	started = released = false;
	n_started = 0;
	pthread_mutex_unlock(&mu);
	assert_int_equal(test_make_temp_dir(dir, sizeof dir), 0);
	lsm_options_default(&opt);
	opt.merge = lsm_row_merge;
	assert_int_equal(lsm_open(&db, dir, &opt), 0);
	assert_int_equal(lsm_catalog_open(&catalog, dir), 0);
	ingest_options_default(&iopt);
	ingest_engine_init(&engine, db, catalog, &iopt);
	ingest_http_options_default(&h);
	h.addr = "127.0.0.1:0";
	h.threads = 2;
	h.query = slow_query;
	assert_int_equal(ingest_http_start(&http, &engine, &h), 0);

	/* The first query is alone on its worker and may run there; the second gets the other worker. */
	q1 = connect_to(ingest_http_port(http));
	assert_int_equal(write(q1, query, strlen(query)), (ssize_t)strlen(query));
	wait_started(1);
	q2 = connect_to(ingest_http_port(http));
	assert_int_equal(write(q2, query, strlen(query)), (ssize_t)strlen(query));
	wait_started(2);
	/*
	 * Both running: a new connection is still answered, so one of them is
	 * not holding a worker (well before the hooks give up waiting).
	 */
	other = connect_to(ingest_http_port(http));
	assert_int_equal(exchange(other, "GET /ping HTTP/1.1\r\nHost: a\r\n\r\n", NULL, WAIT_MS / 4), 204);
	close(other);
	pthread_mutex_lock(&mu);
	released = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	assert_int_equal(exchange(q1, NULL, "results", WAIT_MS), 200);
	assert_int_equal(exchange(q2, NULL, "results", WAIT_MS), 200);
	/* Again on the same connections, one after the other: each answered. */
	assert_int_equal(exchange(q1, query, "results", WAIT_MS), 200);
	assert_int_equal(exchange(q2, query, "results", WAIT_MS), 200);
	ingest_http_stop(http);
	close(q1);
	close(q2);
	lsm_catalog_close(catalog);
	assert_int_equal(lsm_close(db), 0);
	test_remove_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_query_off_the_worker),
		cmocka_unit_test(test_http_query_on_workers_leaves_one_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
