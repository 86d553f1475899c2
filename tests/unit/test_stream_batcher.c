/*
 * Unit tests of the stream batcher (ingest/stream_batcher.h) over a
 * recording sink: grouping by line count and by delay, stop draining
 * everything, no line lost or duplicated under many producers and a tiny
 * queue, the full queue refusing (try_push + eventfd) or blocking (push),
 * bad lines and failed writes counted and survived, databases kept apart,
 * several writer threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ingest/stream_batcher.h"
#include "lsm/status.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_DBS 4
#define MAX_WRITES 100000
#define WAIT_ROUNDS 2000 /* × 5 ms = 10 s: the longest any test waits for a thread */

/* ---- a sink that records what it is asked to write ---- */

struct rec_write {
	char db[16];
	uint64_t lines;
	uint32_t writer;
};

struct rec_sink {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *data[MAX_DBS];         /* everything written per database, in order */
	size_t len[MAX_DBS], cap[MAX_DBS];
	char db_names[MAX_DBS][16];
	int n_dbs;
	struct rec_write *writes;
	size_t n_writes;
	size_t n_entered;            /* calls that reached the sink (even if held at the gate) */
	bool gate_closed;            /* writes wait while set */
	int fail_rc;                 /* next writes fail with this while non-zero */
	bool in_use[8];              /* per writer index: a call is running */
	bool overlap;                /* two calls with one writer index overlapped */
	bool wrong_db;               /* a line of another database reached a write */
	unsigned slow_every;         /* sleep 1 ms in every n-th write (0: never) */
};

static void sink_init(struct rec_sink *s)
{
	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->writes = calloc(MAX_WRITES, sizeof *s->writes);
	assert_non_null(s->writes);
}

static void sink_deinit(struct rec_sink *s)
{
	for (int i = 0; i < MAX_DBS; i++)
		free(s->data[i]);
	free(s->writes);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
}

static int sink_db_index(struct rec_sink *s, const char *db)
{
	for (int i = 0; i < s->n_dbs; i++)
		if (strcmp(s->db_names[i], db) == 0)
			return i;
	if (s->n_dbs == MAX_DBS)
		return -1;
	snprintf(s->db_names[s->n_dbs], sizeof s->db_names[0], "%s", db);
	return s->n_dbs++;
}

/*
 * Lines starting with "bad" are rejected; a line must start with its
 * database's name followed by a space or comma, or with "bad", else
 * wrong_db is set.
 */
static int sink_write(void *ctx, uint32_t writer, const char *db, const char *buf, size_t len,
		      enum ingest_lp_precision precision, int64_t now_ns, ingest_report *out)
{
	struct rec_sink *s = ctx;
	size_t dl = strlen(db);
	uint64_t lines = 0, bad = 0;
	int rc = 0, di;

	(void)precision;
	(void)now_ns;
	pthread_mutex_lock(&s->mu);
	s->n_entered++;
	pthread_cond_broadcast(&s->cv);
	for (int i = 0; i < 10000 && s->gate_closed; i++) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	if (writer >= 8 || s->in_use[writer])
		s->overlap = true;
	else
		s->in_use[writer] = true;
	if (s->fail_rc) {
		rc = strata_error(s->fail_rc, "the test sink fails this write");
		goto out;
	}
	for (size_t p = 0; p < len;) {
		const char *nl = memchr(buf + p, '\n', len - p);
		size_t ll = nl ? (size_t)(nl - (buf + p)) : len - p;

		if (ll >= 3 && memcmp(buf + p, "bad", 3) == 0) {
			if (bad == 0)
				out->errors_len = (size_t)snprintf(out->errors, sizeof out->errors,
								   "line %" PRIu64 " column 1: bad line\n", lines + 1);
			bad++;
		} else if (ll <= dl || memcmp(buf + p, db, dl) != 0 || (buf[p + dl] != ' ' && buf[p + dl] != ',')) {
			s->wrong_db = true;
		}
		lines++;
		p += ll + 1;
	}
	/* Runs on a writer thread: cmocka's assertions belong to the main thread. */
	di = sink_db_index(s, db);
	if (di < 0 || s->n_writes >= MAX_WRITES)
		abort();
	if (s->len[di] + len > s->cap[di]) {
		s->cap[di] = (s->len[di] + len) * 2;
		s->data[di] = realloc(s->data[di], s->cap[di]);
		if (!s->data[di])
			abort();
	}
	memcpy(s->data[di] + s->len[di], buf, len);
	s->len[di] += len;
	snprintf(s->writes[s->n_writes].db, sizeof s->writes[0].db, "%s", db);
	s->writes[s->n_writes].lines = lines;
	s->writes[s->n_writes].writer = writer;
	s->n_writes++;
	out->points = lines - bad;
	out->lines_rejected = bad;
	if (s->slow_every && s->n_writes % s->slow_every == 0)
		usleep(1000);
out:
	if (writer < 8)
		s->in_use[writer] = false;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static size_t sink_n_writes(struct rec_sink *s)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = s->n_writes;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static size_t sink_n_entered(struct rec_sink *s)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = s->n_entered;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static void sink_set_gate(struct rec_sink *s, bool closed)
{
	pthread_mutex_lock(&s->mu);
	s->gate_closed = closed;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void sink_set_fail(struct rec_sink *s, int rc)
{
	pthread_mutex_lock(&s->mu);
	s->fail_rc = rc;
	pthread_mutex_unlock(&s->mu);
}

/* Waits (bounded) until the sink has done n writes; true if it has. */
static bool wait_writes(struct rec_sink *s, size_t n)
{
	for (int i = 0; i < WAIT_ROUNDS; i++) {
		if (sink_n_writes(s) >= n)
			return true;
		usleep(5000);
	}
	return false;
}

static bool wait_entered(struct rec_sink *s, size_t n)
{
	for (int i = 0; i < WAIT_ROUNDS; i++) {
		if (sink_n_entered(s) >= n)
			return true;
		usleep(5000);
	}
	return false;
}

static ingest_stream_batcher *start(struct rec_sink *s, uint32_t max_lines, uint32_t max_delay_ms,
				    size_t max_queue, size_t segment, uint32_t n_writers)
{
	ingest_stream_batcher_options opt;
	ingest_stream_sink sink = { .write = sink_write, .ctx = s };
	ingest_stream_batcher *b = NULL;

	ingest_stream_batcher_options_default(&opt);
	opt.max_lines = max_lines;
	opt.max_delay_ms = max_delay_ms;
	if (max_queue)
		opt.max_queue_bytes = max_queue;
	if (segment)
		opt.segment_bytes = segment;
	opt.n_writers = n_writers;
	assert_int_equal(ingest_stream_batcher_new_sink(&b, &sink, &opt), 0);
	assert_non_null(b);
	return b;
}

/* Pushes lines "<db> v=<first..first+n-1>\n" as one chunk. */
static void push_lines(ingest_stream_batcher *b, const char *db, int first, int n)
{
	char *buf = malloc((size_t)n * 48 + 1);
	size_t len = 0;

	assert_non_null(buf);
	for (int i = 0; i < n; i++)
		len += (size_t)sprintf(buf + len, "%s v=%d\n", db, first + i);
	assert_int_equal(ingest_stream_batcher_push(b, db, buf, len), 0);
	free(buf);
}

/* Checks that data holds exactly "<db> v=0..n-1\n" in order. */
static void check_sequence(const char *data, size_t len, const char *db, int n)
{
	char line[64];
	size_t pos = 0;

	for (int i = 0; i < n; i++) {
		int ll = snprintf(line, sizeof line, "%s v=%d\n", db, i);

		assert_true(pos + (size_t)ll <= len);
		assert_memory_equal(data + pos, line, (size_t)ll);
		pos += (size_t)ll;
	}
	assert_int_equal(pos, len);
}

/* ---- tests ---- */

static void test_stream_batcher_groups_by_count(void **state)
{
	struct rec_sink s;
	ingest_stream_batcher *b;
	ingest_stream_batcher_stats st;

	(void)state;
	sink_init(&s);
	b = start(&s, 100, 3600 * 1000, 0, 0, 1);
	for (int i = 0; i < 10; i++)
		push_lines(b, "cpu", i * 10, 10);
	/* 100 lines pending: written without waiting for the (one-hour) delay. */
	assert_true(wait_writes(&s, 1));
	assert_int_equal(sink_n_writes(&s), 1);
	assert_int_equal(s.writes[0].lines, 100);
	push_lines(b, "cpu", 100, 50);
	usleep(100000);
	/* Below the count, an hour from the delay: nothing written. */
	assert_int_equal(sink_n_writes(&s), 1);
	ingest_stream_batcher_stop(b);
	assert_int_equal(s.n_writes, 2);
	assert_int_equal(s.writes[1].lines, 50);
	check_sequence(s.data[0], s.len[0], "cpu", 150);
	ingest_stream_batcher_get_stats(b, &st);
	assert_int_equal(st.lines_in, 150);
	assert_int_equal(st.points, 150);
	assert_int_equal(st.batches, 2);
	assert_int_equal(st.chunks_in, 11);
	assert_int_equal(st.queue_bytes, 0);
	assert_int_equal(st.bytes_in, s.len[0]);
	assert_int_equal(st.bytes_written, s.len[0]);
	ingest_stream_batcher_free(b);
	sink_deinit(&s);
}

static void test_stream_batcher_groups_by_time(void **state)
{
	struct rec_sink s;
	ingest_stream_batcher *b;

	(void)state;
	sink_init(&s);
	b = start(&s, 1000000, 20, 0, 0, 1);
	push_lines(b, "cpu", 0, 3);
	/* Far below the count: the delay alone gets it written, without stop. */
	assert_true(wait_writes(&s, 1));
	assert_int_equal(s.writes[0].lines, 3);
	push_lines(b, "cpu", 3, 2);
	push_lines(b, "cpu", 5, 1);
	assert_true(wait_writes(&s, 2));
	ingest_stream_batcher_stop(b);
	check_sequence(s.data[0], s.len[0], "cpu", 6);
	ingest_stream_batcher_free(b);
	sink_deinit(&s);
}

static void test_stream_batcher_stop_drains_everything(void **state)
{
	struct rec_sink s;
	ingest_stream_batcher *b;
	ingest_stream_batcher_stats st;

	(void)state;
	sink_init(&s);
	/* Small segments: the drain writes many of them. */
	b = start(&s, 1000000, 3600 * 1000, 0, 4096, 1);
	for (int i = 0; i < 100; i++)
		push_lines(b, "cpu", i * 10, 10);
	assert_int_equal(sink_n_writes(&s), 0);
	ingest_stream_batcher_stop(b);
	check_sequence(s.data[0], s.len[0], "cpu", 1000);
	assert_true(s.n_writes > 1);
	assert_int_equal(ingest_stream_batcher_push(b, "cpu", "cpu v=1\n", 8), STRATA_ECLOSED);
	ingest_stream_batcher_get_stats(b, &st);
	assert_int_equal(st.points, 1000);
	assert_int_equal(st.queue_bytes, 0);
	ingest_stream_batcher_free(b);
	sink_deinit(&s);
}

struct producer {
	ingest_stream_batcher *b;
	int id;
	int n_lines;
	unsigned seed;
	int rc;
};

/* Pushes "p<id> v=<seq>\n" for seq in 0..n-1, in chunks of 1..50 lines. */
static void *producer_main(void *arg)
{
	struct producer *p = arg;
	char buf[50 * 32];
	char db[8];
	int seq = 0;

	snprintf(db, sizeof db, "p%d", p->id);
	while (seq < p->n_lines && p->rc == 0) {
		int k = 1 + (int)(rand_r(&p->seed) % 50);
		size_t len = 0;

		for (int i = 0; i < k && seq < p->n_lines; i++, seq++)
			len += (size_t)sprintf(buf + len, "%s v=%d\n", db, seq);
		p->rc = ingest_stream_batcher_push(p->b, "db", buf, len);
	}
	return NULL;
}

static void test_stream_batcher_never_loses_a_line(void **state)
{
	enum { N_PROD = 4, N_LINES = 20000, QUEUE = 16384 };
	struct rec_sink s;
	ingest_stream_batcher *b;
	ingest_stream_batcher_stats st;
	struct producer prod[N_PROD];
	pthread_t th[N_PROD];
	int next[N_PROD] = { 0 };
	size_t pos = 0;

	(void)state;
	sink_init(&s);
	s.slow_every = 3;
	b = start(&s, 500, 5, QUEUE, 4096, 1);
	for (int i = 0; i < N_PROD; i++) {
		prod[i] = (struct producer){ .b = b, .id = i, .n_lines = N_LINES, .seed = 1234u + (unsigned)i };
		assert_int_equal(pthread_create(&th[i], NULL, producer_main, &prod[i]), 0);
	}
	for (int i = 0; i < N_PROD; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(prod[i].rc, 0);
	}
	ingest_stream_batcher_stop(b);
	/* Every line once, each producer's in order (one writer keeps push order). */
	assert_int_equal(s.n_dbs, 1);
	while (pos < s.len[0]) {
		int id, seq, n = 0;

		assert_int_equal(sscanf(s.data[0] + pos, "p%d v=%d\n%n", &id, &seq, &n), 2);
		assert_true(n > 0);
		assert_true(id >= 0 && id < N_PROD);
		assert_int_equal(seq, next[id]);
		next[id]++;
		pos += (size_t)n;
	}
	for (int i = 0; i < N_PROD; i++)
		assert_int_equal(next[i], N_LINES);
	ingest_stream_batcher_get_stats(b, &st);
	assert_int_equal(st.lines_in, N_PROD * N_LINES);
	assert_int_equal(st.points + st.lines_rejected, N_PROD * N_LINES);
	assert_int_equal(st.queue_bytes, 0);
	/* The bound holds: at most the queue plus one chunk (≤ 50 lines of < 32 bytes). */
	assert_true(st.queue_bytes_peak <= QUEUE + 50 * 32);
	ingest_stream_batcher_free(b);
	sink_deinit(&s);
}

static void fill(char *buf, size_t len)
{
	/* "cpu v=1\n" repeated, the last line padded to end with '\n'. */
	for (size_t i = 0; i < len; i++)
		buf[i] = "cpu v=1\n"[i % 8];
	buf[len - 1] = '\n';
}

static void test_stream_batcher_try_push_full_wakes_fd(void **state)
{
	struct rec_sink s;
	ingest_stream_batcher *b;
	ingest_stream_batcher_stats st;
	char chunk[600];
	struct iovec iov = { chunk, sizeof chunk };
	struct pollfd pfd;
	uint64_t v;
	int efd;

	(void)state;
	sink_init(&s);
	fill(chunk, sizeof chunk);
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(efd >= 0);
	sink_set_gate(&s, true);
	b = start(&s, 1, 3600 * 1000, 1000, 0, 1);
	assert_int_equal(ingest_stream_batcher_try_pushv(b, "cpu", &iov, 1, efd), 0);
	/* The writer holds the chunk at the gate: in flight, still counted. */
	assert_true(wait_entered(&s, 1));
	assert_int_equal(ingest_stream_batcher_try_pushv(b, "cpu", &iov, 1, efd), -EAGAIN);
	pfd = (struct pollfd){ .fd = efd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 0), 0);
	ingest_stream_batcher_get_stats(b, &st);
	assert_int_equal(st.queue_bytes, 600);
	assert_int_equal(st.push_refusals, 1);
	sink_set_gate(&s, false);
	/* Space freed: the eventfd fires. */
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	assert_int_equal(read(efd, &v, sizeof v), (ssize_t)sizeof v);
	assert_int_equal(ingest_stream_batcher_try_pushv(b, "cpu", &iov, 1, efd), 0);
	ingest_stream_batcher_stop(b);
	assert_int_equal(s.len[0], 1200);
	ingest_stream_batcher_get_stats(b, &st);
	assert_true(st.blocked_ns > 0);
	assert_int_equal(st.lines_in, 150);
	ingest_stream_batcher_forget_wake_fd(b, efd);
	ingest_stream_batcher_free(b);
	close(efd);
	sink_deinit(&s);
}

struct blocked_push {
	ingest_stream_batcher *b;
	const char *buf;
	size_t len;
	atomic_bool done;
	int rc;
};

static void *blocked_push_main(void *arg)
{
	struct blocked_push *bp = arg;

	bp->rc = ingest_stream_batcher_push(bp->b, "cpu", bp->buf, bp->len);
	atomic_store(&bp->done, true);
	return NULL;
}

static void test_stream_batcher_push_blocks_while_full(void **state)
{
	struct rec_sink s;
	ingest_stream_batcher *b;
	char chunk[600];
	struct blocked_push bp;
	pthread_t th;

	(void)state;
	sink_init(&s);
	fill(chunk, sizeof chunk);
	sink_set_gate(&s, true);
	b = start(&s, 1, 3600 * 1000, 1000, 0, 1);
	assert_int_equal(ingest_stream_batcher_push(b, "cpu", chunk, sizeof chunk), 0);
	assert_true(wait_entered(&s, 1));
	bp = (struct blocked_push){ .b = b, .buf = chunk, .len = sizeof chunk };
	assert_int_equal(pthread_create(&th, NULL, blocked_push_main, &bp), 0);
	usleep(50000);
	/* The gate is closed, so the queue cannot have drained: the push still waits. */
	assert_false(atomic_load(&bp.done));
	sink_set_gate(&s, false);
	pthread_join(th, NULL);
	assert_int_equal(bp.rc, 0);
	ingest_stream_batcher_stop(b);
	assert_int_equal(s.len[0], 1200);
	ingest_stream_batcher_free(b);
	sink_deinit(&s);
}

static void *stop_main(void *arg)
{
	ingest_stream_batcher_stop(arg);
	return NULL;
}

static void test_stream_batcher_stop_wakes_blocked_push(void **state)
{
	struct rec_sink s;
	ingest_stream_batcher *b;
	char chunk[600];
	struct blocked_push bp;
	pthread_t th, stopper;

	(void)state;
	sink_init(&s);
	fill(chunk, sizeof chunk);
	sink_set_gate(&s, true);
	b = start(&s, 1, 3600 * 1000, 1000, 0, 1);
	assert_int_equal(ingest_stream_batcher_push(b, "cpu", chunk, sizeof chunk), 0);
	assert_true(wait_entered(&s, 1));
	bp = (struct blocked_push){ .b = b, .buf = chunk, .len = sizeof chunk };
	assert_int_equal(pthread_create(&th, NULL, blocked_push_main, &bp), 0);
	usleep(20000);
	/* Stop begins while the writer is held at the gate: the blocked push fails at once. */
	assert_int_equal(pthread_create(&stopper, NULL, stop_main, b), 0);
	for (int i = 0; i < WAIT_ROUNDS && !atomic_load(&bp.done); i++)
		usleep(5000);
	assert_true(atomic_load(&bp.done));
	assert_int_equal(bp.rc, STRATA_ECLOSED);
	sink_set_gate(&s, false);
	pthread_join(stopper, NULL);
	pthread_join(th, NULL);
	/* The chunk taken before stop is still written. */
	assert_int_equal(s.len[0], 600);
	ingest_stream_batcher_free(b);
	sink_deinit(&s);
}

static void test_stream_batcher_counts_bad_lines(void **state)
{
	struct rec_sink s;
	ingest_stream_batcher *b;
	ingest_stream_batcher_stats st;
	const char *chunk = "cpu v=1\nbad line\ncpu v=2\nbad again\nbad third\n";

	(void)state;
	sink_init(&s);
	b = start(&s, 1000000, 3600 * 1000, 0, 0, 1);
	assert_int_equal(ingest_stream_batcher_push(b, "cpu", chunk, strlen(chunk)), 0);
	push_lines(b, "cpu", 3, 1);
	ingest_stream_batcher_stop(b);
	ingest_stream_batcher_get_stats(b, &st);
	assert_int_equal(st.lines_in, 6);
	assert_int_equal(st.lines_rejected, 3);
	assert_int_equal(st.points, 3);
	assert_int_equal(st.write_errors, 0);
	ingest_stream_batcher_free(b);
	sink_deinit(&s);
}

static void test_stream_batcher_write_error_drops_and_goes_on(void **state)
{
	struct rec_sink s;
	ingest_stream_batcher *b;
	ingest_stream_batcher_stats st;

	(void)state;
	sink_init(&s);
	sink_set_fail(&s, STRATA_EREADONLY);
	b = start(&s, 10, 3600 * 1000, 0, 0, 1);
	push_lines(b, "cpu", 0, 10);
	assert_true(wait_entered(&s, 1));
	/* wait until the failed write is counted */
	for (int i = 0; i < WAIT_ROUNDS; i++) {
		ingest_stream_batcher_get_stats(b, &st);
		if (st.write_errors == 1)
			break;
		usleep(5000);
	}
	assert_int_equal(st.write_errors, 1);
	assert_int_equal(st.lines_dropped, 10);
	sink_set_fail(&s, 0);
	push_lines(b, "cpu", 0, 10);
	ingest_stream_batcher_stop(b);
	check_sequence(s.data[0], s.len[0], "cpu", 10);
	ingest_stream_batcher_get_stats(b, &st);
	assert_int_equal(st.points, 10);
	assert_int_equal(st.batches, 2);
	assert_int_equal(st.queue_bytes, 0);
	ingest_stream_batcher_free(b);
	sink_deinit(&s);
}

static void test_stream_batcher_rejects_bad_chunks(void **state)
{
	struct rec_sink s;
	ingest_stream_batcher *b;
	ingest_stream_batcher_stats st;
	char long_db[300];
	struct iovec iov[3] = { { "cpu v=", 6 }, { "1\n", 2 }, { "", 0 } };

	(void)state;
	sink_init(&s);
	memset(long_db, 'd', sizeof long_db - 1);
	long_db[sizeof long_db - 1] = '\0';
	b = start(&s, 1000000, 3600 * 1000, 0, 0, 1);
	assert_int_equal(ingest_stream_batcher_push(b, "cpu", "cpu v=1", 7), STRATA_EINVAL);
	assert_int_equal(ingest_stream_batcher_push(b, "", "cpu v=1\n", 8), STRATA_EINVAL);
	assert_int_equal(ingest_stream_batcher_push(b, long_db, "cpu v=1\n", 8), STRATA_EINVAL);
	assert_int_equal(ingest_stream_batcher_push(b, "cpu", "", 0), 0);
	/* Pieces join into lines; an empty last piece is fine. */
	assert_int_equal(ingest_stream_batcher_pushv(b, "cpu", iov, 3), 0);
	ingest_stream_batcher_stop(b);
	assert_int_equal(s.len[0], 8);
	assert_memory_equal(s.data[0], "cpu v=1\n", 8);
	ingest_stream_batcher_get_stats(b, &st);
	assert_int_equal(st.chunks_in, 1);
	ingest_stream_batcher_free(b);
	sink_deinit(&s);
}

static void test_stream_batcher_separates_databases(void **state)
{
	struct rec_sink s;
	ingest_stream_batcher *b;
	const char *dbs[3] = { "alpha", "beta", "gamma" };
	int next[3] = { 0 };

	(void)state;
	sink_init(&s);
	b = start(&s, 1000000, 3600 * 1000, 0, 0, 1);
	for (int i = 0; i < 300; i++) {
		int d = (i * 7 + i / 5) % 3;

		push_lines(b, dbs[d], next[d], 2);
		next[d] += 2;
	}
	ingest_stream_batcher_stop(b);
	assert_false(s.wrong_db);
	assert_int_equal(s.n_dbs, 3);
	for (int d = 0; d < 3; d++) {
		int di = -1;

		for (int j = 0; j < s.n_dbs; j++)
			if (strcmp(s.db_names[j], dbs[d]) == 0)
				di = j;
		assert_true(di >= 0);
		check_sequence(s.data[di], s.len[di], dbs[d], next[d]);
	}
	ingest_stream_batcher_free(b);
	sink_deinit(&s);
}

static void test_stream_batcher_several_writers(void **state)
{
	enum { N_PROD = 3, N_LINES = 10000 };
	struct rec_sink s;
	ingest_stream_batcher *b;
	struct producer prod[N_PROD];
	pthread_t th[N_PROD];
	char *seen[N_PROD];
	size_t pos = 0;
	bool used[3] = { false };

	(void)state;
	sink_init(&s);
	s.slow_every = 2;
	b = start(&s, 200, 2, 8192, 2048, 3);
	for (int i = 0; i < N_PROD; i++) {
		seen[i] = calloc(N_LINES, 1);
		prod[i] = (struct producer){ .b = b, .id = i, .n_lines = N_LINES, .seed = 99u + (unsigned)i };
		assert_int_equal(pthread_create(&th[i], NULL, producer_main, &prod[i]), 0);
	}
	for (int i = 0; i < N_PROD; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(prod[i].rc, 0);
	}
	ingest_stream_batcher_stop(b);
	assert_false(s.overlap);
	/* Every line exactly once; order across batches is not promised with several writers. */
	while (pos < s.len[0]) {
		int id, seq, n = 0;

		assert_int_equal(sscanf(s.data[0] + pos, "p%d v=%d\n%n", &id, &seq, &n), 2);
		assert_true(id >= 0 && id < N_PROD && seq >= 0 && seq < N_LINES);
		assert_int_equal(seen[id][seq], 0);
		seen[id][seq] = 1;
		pos += (size_t)n;
	}
	for (int i = 0; i < N_PROD; i++) {
		for (int j = 0; j < N_LINES; j++)
			assert_int_equal(seen[i][j], 1);
		free(seen[i]);
	}
	for (size_t i = 0; i < s.n_writes; i++) {
		assert_true(s.writes[i].writer < 3);
		used[s.writes[i].writer] = true;
	}
	assert_true(used[0] || used[1] || used[2]);
	ingest_stream_batcher_free(b);
	sink_deinit(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_batcher_groups_by_count),
		cmocka_unit_test(test_stream_batcher_groups_by_time),
		cmocka_unit_test(test_stream_batcher_stop_drains_everything),
		cmocka_unit_test(test_stream_batcher_never_loses_a_line),
		cmocka_unit_test(test_stream_batcher_try_push_full_wakes_fd),
		cmocka_unit_test(test_stream_batcher_push_blocks_while_full),
		cmocka_unit_test(test_stream_batcher_stop_wakes_blocked_push),
		cmocka_unit_test(test_stream_batcher_counts_bad_lines),
		cmocka_unit_test(test_stream_batcher_write_error_drops_and_goes_on),
		cmocka_unit_test(test_stream_batcher_rejects_bad_chunks),
		cmocka_unit_test(test_stream_batcher_separates_databases),
		cmocka_unit_test(test_stream_batcher_several_writers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
