/*
 * Concurrency test (run under TSan): chunked /query responses whose
 * queries have not produced anything yet hold no libmicrohttpd worker.
 * With two workers and three chunked queries held before they run (the
 * test hook of http_query.h), every request is still taken and /ping is
 * answered; once released, each stream ends with its results; the server
 * then stops cleanly.
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
#include "query/exec.h"
#include "tests/loopback.h"
#include "tests/util.h"
#include "tools/http_query.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 10000 /* bound on every wait of the test */
#define STREAMS 3

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int held;       /* query threads waiting in the hook */
static bool released;

/* The stream hook: holds the query thread until released (or WAIT_MS). */
static void hold_query(void)
{
	struct timespec until;

	test_deadline_in(&until, WAIT_MS);
	pthread_mutex_lock(&mu);
	held++;
	pthread_cond_broadcast(&cv);
	while (!released && pthread_cond_timedwait(&cv, &mu, &until) == 0)
		;
	pthread_mutex_unlock(&mu);
}

/* Waits (at most ms) until n query threads are held; how many are. */
static int wait_held(int n, int ms)
{
	struct timespec until;
	int got;

	test_deadline_in(&until, ms);
	pthread_mutex_lock(&mu);
	while (held < n && pthread_cond_timedwait(&cv, &mu, &until) == 0)
		;
	got = held;
	pthread_mutex_unlock(&mu);
	return got;
}

static int connect_to(uint16_t port)
{
	int fd = test_connect_loopback(port);

	assert_true(fd >= 0);
	return fd;
}

static void send_text(int fd, const char *req)
{
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
}

/* Reads until the text want arrives (true) or wait_ms pass (false). */
static bool read_until(int fd, const char *want, int wait_ms)
{
	char buf[8192];
	size_t len = 0;
	int64_t end = test_mono_ms() + wait_ms;

	while (test_mono_ms() < end && len + 1 < sizeof buf) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 50) <= 0)
			continue;
		n = read(fd, buf + len, sizeof buf - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, want))
			return true;
	}
	return false;
}

static void test_http_stream_holds_no_worker(void **state)
{
	static const char query[] = "GET /query?db=db&chunked=true&q=SHOW+DATABASES HTTP/1.1\r\nHost: a\r\n\r\n";
	char dir[64];
	lsm_options opt;
	lsm_db *db;
	lsm_catalog *catalog;
	query_engine *qe;
	http_query *hq;
	ingest_options iopt;
	ingest_engine engine;
	ingest_http_options h;
	ingest_http *http;
	int q[STREAMS], other;

	(void)state;
	assert_int_equal(test_make_temp_dir(dir, sizeof dir), 0);
	lsm_options_default(&opt);
	opt.merge = lsm_row_merge;
	assert_int_equal(lsm_open(&db, dir, &opt), 0);
	assert_int_equal(lsm_catalog_open(&catalog, dir), 0);
	assert_int_equal(lsm_catalog_create_database(catalog, "db"), 0);
	assert_int_equal(query_engine_new(&qe, db, catalog, NULL), 0);
	assert_int_equal(http_query_new(&hq, qe, NULL), 0);
	ingest_options_default(&iopt);
	ingest_engine_init(&engine, db, catalog, &iopt);
	ingest_http_options_default(&h);
	h.addr = "127.0.0.1:0";
	h.threads = 2; /* fewer than the streams: a worker waiting on each would leave none */
	h.query = http_query_handle;
	h.query_ctx = hq;
	assert_int_equal(ingest_http_start(&http, &engine, &h), 0);
	atomic_store(&http_query_stream_hook, hold_query);

	/* Each query is taken and its thread held before it runs: the workers do not wait on them. */
	for (int i = 0; i < STREAMS; i++) {
		q[i] = connect_to(ingest_http_port(http));
		send_text(q[i], query);
		assert_int_equal(wait_held(i + 1, WAIT_MS / 4), i + 1);
	}
	other = connect_to(ingest_http_port(http));
	send_text(other, "GET /ping HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_true(read_until(other, "204", WAIT_MS / 4));
	close(other);

	/* Released, each stream sends its results and ends (the last chunk of the chunked transfer). */
	pthread_mutex_lock(&mu);
	released = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < STREAMS; i++) {
		assert_true(read_until(q[i], "\"db\"]]}]}]}\n\r\n0\r\n\r\n", WAIT_MS));
		close(q[i]);
	}
	atomic_store(&http_query_stream_hook, NULL);
	http_query_quiesce(hq);
	ingest_http_stop(http);
	http_query_free(hq);
	query_engine_free(qe);
	lsm_catalog_close(catalog);
	assert_int_equal(lsm_close(db), 0);
	test_remove_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_stream_holds_no_worker),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
