/*
 * Concurrency test (run under TSan): queries while points arrive and
 * memtables are flushed.
 *
 * A writer writes, through an ingest session, one point per series (many
 * series) at time T0 + k seconds with f = k and i = k, one request per k,
 * and publishes k once the request is acknowledged. A flusher forces
 * memtable switches and flushes meanwhile. Two query threads share one
 * query engine and ask, over and over:
 *
 *   count(f) over [T0, T0 + a] (a: the last acknowledged k when the query
 *       starts) — every point of that range was acknowledged before the
 *       query began, so the count is exactly (a + 1) * N_SERIES;
 *   count(f) over all time — never below that, never above what was
 *       written, and never lower than this thread's previous answer;
 *   max(f) over [T0, T0 + a] GROUP BY host — every series, each max = a
 *       (its groups on two threads);
 *   a raw SELECT f of one series, newest first, LIMIT 5 — times strictly
 *       decreasing, f matching its time, the first row at least a.
 *
 * Every answer must parse (checked by a scan of its fixed shape) and hold
 * no error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ingest/writer.h"
#include "lsm/alloc.h"
#include "lsm/row.h"
#include "query/exec.h"
#include "tests/util.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_SERIES 40
#define N_BATCHES 150
#define N_QUERIERS 2
#define MAX_QUERY_ROUNDS 4000 /* per query thread */
#define SEC INT64_C(1000000000)
#define T0 (INT64_C(1767225600) * SEC) /* 2026-01-01T00:00:00Z */

static lsm_db *db;
static lsm_catalog *catalog;
static ingest_engine ingest;
static query_engine *qe;
static atomic_int_fast64_t acked = -1; /* the last k whose request was acknowledged */
static atomic_bool writer_done;
static atomic_int failures;
static atomic_int rounds_done;

static void failure(const char *what, const char *query, const char *answer)
{
	/* Only the first few are printed; all are counted. */
	if (atomic_fetch_add(&failures, 1) < 5)
		fprintf(stderr, "FAIL: %s\n  query:  %s\n  answer: %.2000s\n", what, query, answer ? answer : "");
}

/* ---- the writer and the flusher ---- */

static void *writer_main(void *arg)
{
	ingest_session *s = NULL;
	char *buf = strata_malloc(N_SERIES * 96);

	(void)arg;
	if (!buf || ingest_session_new(&s, &ingest) != 0) {
		failure("writer setup", "", NULL);
		goto out;
	}
	for (int64_t k = 0; k < N_BATCHES; k++) {
		ingest_report rep;
		size_t len = 0;

		for (int h = 0; h < N_SERIES; h++)
			len += (size_t)sprintf(buf + len, "m,host=h%02d f=%" PRId64 ",i=%" PRId64 "i %" PRId64 "\n", h, k,
					       k, T0 + k * SEC);
		/* Synced and unsynced writes both: both paths under load. */
		if (ingest_session_write(s, "db", NULL, buf, len, INGEST_LP_NS, T0, k % 3 == 0, &rep) != 0 ||
		    rep.points != N_SERIES || rep.lines_rejected != 0) {
			failure("write", "", NULL);
			break;
		}
		atomic_store_explicit(&acked, k, memory_order_release);
		usleep(1000); /* room for queries between requests */
	}
out:
	atomic_store(&writer_done, true);
	ingest_session_free(s);
	strata_free(buf);
	return NULL;
}

static void *flusher_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5000 && !atomic_load(&writer_done); i++) {
		if (lsm_flush(db) != 0)
			failure("lsm_flush", "", NULL);
		usleep(3000);
	}
	return NULL;
}

/* ---- running a query and reading its answer ---- */

struct sink {
	char *p;
	size_t len, cap;
	bool oom;
};

static int sink_write(void *ctx, const char *p, size_t n)
{
	struct sink *s = ctx;

	if (s->len + n + 1 > s->cap) {
		size_t c = s->cap ? s->cap : 1024;
		char *np;

		while (c < s->len + n + 1)
			c *= 2;
		np = strata_realloc(s->p, c);
		if (!np) {
			s->oom = true;
			return -1;
		}
		s->p = np;
		s->cap = c;
	}
	memcpy(s->p + s->len, p, n);
	s->len += n;
	s->p[s->len] = '\0';
	return 0;
}

/* Runs text; the answer is in s->p (NUL-terminated). false on any failure, reported. */
static bool run(const char *text, struct sink *s)
{
	static const char head[] = "{\"results\":[{\"statement_id\":0";
	query_output *o = NULL;
	int rc;

	s->len = 0;
	if (s->p)
		s->p[0] = '\0';
	if (query_output_new(&o, QUERY_OUTPUT_JSON, QUERY_EPOCH_NS, sink_write, s) != 0) {
		failure("query_output_new", text, NULL);
		return false;
	}
	rc = query_run(qe, text, strlen(text), &(query_request){ .db = "db", .now_ns = T0 + 86400 * SEC }, o);
	query_output_free(o);
	if (rc != 0 || s->oom || !s->p) {
		failure("query_run failed", text, s->p);
		return false;
	}
	if (strncmp(s->p, head, sizeof head - 1) != 0 || strstr(s->p, "\"error\"") ||
	    s->p[s->len - 1] != '\n') {
		failure("not a result", text, s->p);
		return false;
	}
	return true;
}

/* Reads the integer at *p (advancing it); false when there is none. */
static bool read_int(const char **p, int64_t *out)
{
	char *end;
	long long v = strtoll(*p, &end, 10);

	if (end == *p || *end == '.' || *end == 'e' || *end == 'E')
		return false;
	*out = v;
	*p = end;
	return true;
}

/* The rows [time, int] of the series starting at p (after its "values":[); counts them. */
static int read_rows(const char *p, int64_t *times, int64_t *vals, int cap)
{
	int n = 0;

	for (;;) {
		if (*p != '[' || n == cap)
			return -1;
		p++;
		if (!read_int(&p, &times[n]) || *p++ != ',' || !read_int(&p, &vals[n]) || *p++ != ']')
			return -1;
		n++;
		if (*p == ',') {
			p++;
			continue;
		}
		return *p == ']' ? n : -1;
	}
}

static const char *values_of(const char *from)
{
	const char *v = strstr(from, "\"values\":[");

	return v ? v + strlen("\"values\":[") : NULL;
}

/* ---- the query threads ---- */

static void check_count_range(struct sink *s, int64_t a)
{
	char q[256];
	int64_t t[2], v[2];
	const char *p;

	snprintf(q, sizeof q, "SELECT count(f) FROM m WHERE time >= %" PRId64 " AND time <= %" PRId64, T0,
		 T0 + a * SEC);
	if (!run(q, s))
		return;
	p = values_of(s->p);
	if (!p || read_rows(p, t, v, 2) != 1 || t[0] != T0 || v[0] != (a + 1) * N_SERIES)
		failure("count over acknowledged points", q, s->p);
}

static void check_count_all(struct sink *s, int64_t a, int64_t *last)
{
	static const char q[] = "SELECT count(f) FROM m";
	int64_t t[2], v[2];
	const char *p;

	if (!run(q, s))
		return;
	p = values_of(s->p);
	if (!p) {
		if (a >= 0)
			failure("no count although points were acknowledged", q, s->p);
		return;
	}
	if (read_rows(p, t, v, 2) != 1 || t[0] != 0 || v[0] < (a + 1) * N_SERIES ||
	    v[0] > (int64_t)N_BATCHES * N_SERIES || v[0] < *last) {
		failure("count over all time", q, s->p);
		return;
	}
	*last = v[0];
}

static void check_max_by_host(struct sink *s, int64_t a)
{
	char q[256];
	const char *p;
	int n = 0;

	snprintf(q, sizeof q,
		 "SELECT max(f) FROM m WHERE time >= %" PRId64 " AND time <= %" PRId64 " GROUP BY host", T0,
		 T0 + a * SEC);
	if (!run(q, s))
		return;
	p = s->p;
	while ((p = strstr(p, "\"tags\":{\"host\":\"h")) != NULL) {
		char want[64];
		int64_t t[2], v[2];
		const char *vals;

		snprintf(want, sizeof want, "\"tags\":{\"host\":\"h%02d\"}", n);
		vals = values_of(p);
		if (strncmp(p, want, strlen(want)) != 0 || !vals || read_rows(vals, t, v, 2) != 1 ||
		    v[0] != a || t[0] != T0 + a * SEC) {
			failure("max(f) per host", q, s->p);
			return;
		}
		n++;
		p = vals;
	}
	if (n != N_SERIES)
		failure("max(f) per host: not every series", q, s->p);
}

static void check_raw_tail(struct sink *s, int64_t a, unsigned host)
{
	char q[256];
	int64_t t[8], v[8];
	const char *p;
	int n;

	snprintf(q, sizeof q, "SELECT f FROM m WHERE host = 'h%02u' ORDER BY time DESC LIMIT 5", host);
	if (!run(q, s))
		return;
	p = values_of(s->p);
	if (!p) {
		if (a >= 0)
			failure("raw: no rows although points were acknowledged", q, s->p);
		return;
	}
	n = read_rows(p, t, v, 8);
	if (n < 1 || n > 5 || (a >= 4 && n != 5) || v[0] < a) {
		failure("raw: rows", q, s->p);
		return;
	}
	for (int k = 0; k < n; k++) {
		if (t[k] != T0 + v[k] * SEC || (k > 0 && t[k] >= t[k - 1])) {
			failure("raw: row order or value", q, s->p);
			return;
		}
	}
}

static void *querier_main(void *arg)
{
	struct sink s = { 0 };
	unsigned state = (unsigned)(uintptr_t)arg;
	int64_t last_count = 0;
	int after_done = 0;

	for (int r = 0; r < MAX_QUERY_ROUNDS && after_done < 3 && atomic_load(&failures) == 0; r++) {
		int64_t a = atomic_load_explicit(&acked, memory_order_acquire);

		if (atomic_load(&writer_done))
			after_done++;
		state = state * 1103515245u + 12345u;
		if (a >= 0)
			check_count_range(&s, a);
		check_count_all(&s, a, &last_count);
		if (a >= 0)
			check_max_by_host(&s, a);
		check_raw_tail(&s, a, (state >> 8) % N_SERIES);
		atomic_fetch_add(&rounds_done, 1);
	}
	strata_free(s.p);
	return NULL;
}

static void test_query_concurrent_writes_flushes_queries(void **state)
{
	char dir[64];
	lsm_options opt;
	ingest_options iopt;
	pthread_t writer, flusher, queriers[N_QUERIERS];
	struct sink s = { 0 };
	lsm_stats st;

	(void)state;
	assert_int_equal(test_make_temp_dir(dir, sizeof dir), 0);
	lsm_options_default(&opt);
	opt.merge = lsm_row_merge;
	opt.memtable_bytes = 64u << 10; /* switches on its own too */
	opt.block_cache_bytes = 256u << 10;
	assert_int_equal(lsm_open(&db, dir, &opt), 0);
	assert_int_equal(lsm_catalog_open(&catalog, dir), 0);
	assert_int_equal(lsm_catalog_create_database(catalog, "db"), 0);
	ingest_options_default(&iopt);
	ingest_engine_init(&ingest, db, catalog, &iopt);
	{
		query_limits lim;

		query_limits_default(&lim);
		lim.parallel_min_groups = 2; /* GROUP BY host runs its groups on two threads (select.c) */
		assert_int_equal(query_engine_new(&qe, db, catalog, &lim), 0);
	}

	pthread_create(&writer, NULL, writer_main, NULL);
	pthread_create(&flusher, NULL, flusher_main, NULL);
	for (uintptr_t i = 0; i < N_QUERIERS; i++)
		pthread_create(&queriers[i], NULL, querier_main, (void *)(i + 1));
	pthread_join(writer, NULL);
	pthread_join(flusher, NULL);
	for (int i = 0; i < N_QUERIERS; i++)
		pthread_join(queriers[i], NULL);
	assert_int_equal(atomic_load(&failures), 0);
	assert_int_equal(atomic_load(&acked), N_BATCHES - 1);
	assert_true(atomic_load(&rounds_done) >= N_QUERIERS);
	lsm_get_stats(db, &st);
	assert_true(st.flushes > 0);
	assert_int_equal(st.error, 0);
	fprintf(stderr, "query rounds: %d while %d requests were written, %" PRIu64 " flushes\n",
		atomic_load(&rounds_done), N_BATCHES, st.flushes);

	/* Quiet again: the whole range, exactly. */
	check_count_range(&s, N_BATCHES - 1);
	check_max_by_host(&s, N_BATCHES - 1);
	strata_free(s.p);
	assert_int_equal(atomic_load(&failures), 0);

	query_engine_free(qe);
	lsm_catalog_close(catalog);
	assert_int_equal(lsm_close(db), 0);
	test_remove_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_concurrent_writes_flushes_queries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
