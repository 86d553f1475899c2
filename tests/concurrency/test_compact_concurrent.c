/*
 * Concurrency test (run under TSan): compaction while everything else runs —
 * writers, readers, forced flushes, lsm_compact in a loop, the background
 * compaction thread, stats, and a clock that closes windows as the writers
 * move on.
 *
 * Writer t owns two series and writes timestamps 0, 1, 2, ... five per
 * batch, in small windows (WINDOW_NS) so that tables spread over many
 * windows. Batch j:
 *   - series A: PUT {1: ts} for its five new points, and MERGE {2: 3 ts}
 *     into the points MERGE_LAG behind;
 *   - series B: PUT {1: ts} for its five new points, and DELETE of the
 *     points DELETE_LAG behind.
 * Batches become visible in order, so any snapshot of series A holds a
 * prefix 0..n-1 whose points below n - MERGE_LAG carry both fields and the
 * others only field 1; series B holds exactly [n - DELETE_LAG, n). Readers
 * check that with iterators (whole series and sub-ranges) and point reads,
 * and that n never goes back — across flushes and compactions that fold
 * those PUTs, MERGEs and DELETEs into fewer tables.
 *
 * Runs for about RUN_NS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lsm/alloc.h"
#include "lsm/log.h"
#include "lsm/lsm.h"
#include "lsm/row.h"
#include "tests/util.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define N_WRITERS 2
#define N_READERS 3
#define POINTS_PER_BATCH 5
#define MAX_POINTS 200000
#define MERGE_LAG 40
#define DELETE_LAG 100
#define WINDOW_NS 100
#define RUN_NS (UINT64_C(3) * 1000000000)

static lsm_db *db;
static atomic_int writers_done;
static atomic_int stop;
static atomic_int failures;
static _Atomic int64_t written[N_WRITERS]; /* points each writer has acknowledged */

#define FAIL(...)                                                                                      \
	do {                                                                                           \
		fprintf(stderr, __VA_ARGS__);                                                          \
		fputc('\n', stderr);                                                                   \
		atomic_fetch_add(&failures, 1);                                                        \
	} while (0)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The wall clock the engine sees: where the slowest writer is, so windows close behind it. */
static int64_t writers_clock(void *ctx)
{
	int64_t t = INT64_MAX;

	(void)ctx;
	for (int i = 0; i < N_WRITERS; i++) {
		int64_t w = atomic_load(&written[i]);

		if (w < t)
			t = w;
	}
	return t;
}

static uint64_t series_a(int t)
{
	return 1 + (uint64_t)t;
}

static uint64_t series_b(int t)
{
	return 101 + (uint64_t)t;
}

/* Row {1: ts}, or {1: ts, 2: 3 ts} when merged. */
static size_t point_row(uint8_t *out, size_t cap, int64_t ts, bool merged)
{
	lsm_row_field f[2] = {
		{ .id = 1, .type = LSM_FIELD_INT, .v.i = ts },
		{ .id = 2, .type = LSM_FIELD_INT, .v.i = 3 * ts },
	};

	return lsm_row_encode(out, cap, f, merged ? 2 : 1);
}

/* The MERGE operand: {2: 3 ts}. */
static size_t merge_row(uint8_t *out, size_t cap, int64_t ts)
{
	lsm_row_field f = { .id = 2, .type = LSM_FIELD_INT, .v.i = 3 * ts };

	return lsm_row_encode(out, cap, &f, 1);
}

static bool value_is(const uint8_t *v, size_t len, int64_t ts, bool merged)
{
	uint8_t want[64];
	size_t n = point_row(want, sizeof want, ts, merged);

	return len == n && memcmp(v, want, n) == 0;
}

static void *writer_main(void *arg)
{
	int t = (int)(uintptr_t)arg;
	uint64_t deadline = now_ns() + RUN_NS;
	lsm_batch b;

	lsm_batch_init(&b);
	for (int64_t ts = 0; ts < MAX_POINTS && now_ns() < deadline && !atomic_load(&stop);) {
		int64_t first = ts;

		lsm_batch_clear(&b);
		for (int i = 0; i < POINTS_PER_BATCH; i++, ts++) {
			uint8_t k[LSM_UKEY_LEN], v[64];
			size_t len = point_row(v, sizeof v, ts, false);

			lsm_ukey_encode(k, series_a(t), ts);
			lsm_batch_put(&b, k, v, len);
			lsm_ukey_encode(k, series_b(t), ts);
			lsm_batch_put(&b, k, v, len);
			if (ts >= MERGE_LAG) {
				len = merge_row(v, sizeof v, ts - MERGE_LAG);
				lsm_ukey_encode(k, series_a(t), ts - MERGE_LAG);
				lsm_batch_merge(&b, k, v, len);
			}
			if (ts >= DELETE_LAG) {
				lsm_ukey_encode(k, series_b(t), ts - DELETE_LAG);
				lsm_batch_delete(&b, k);
			}
		}
		/* Some batches synced, most not: both paths, and enough points to span many windows. */
		if (lsm_write(db, &b, (first / POINTS_PER_BATCH) % 4 ? LSM_WRITE_NOSYNC : 0) != 0) {
			FAIL("writer %d: write at ts %" PRId64 ": %s", t, first, strata_last_error());
			break;
		}
		atomic_store(&written[t], ts);
	}
	lsm_batch_deinit(&b);
	atomic_fetch_add(&writers_done, 1);
	return NULL;
}

/*
 * Scans series A of writer t over [lo, hi): the points must be contiguous
 * from lo, with the merged ones a prefix. Returns the end of the points
 * seen (lo when none), and in *merged_end the end of the merged prefix;
 * -1 on a violation.
 */
static int64_t scan_a(int t, int64_t lo, int64_t hi, int64_t *merged_end)
{
	uint8_t klo[LSM_UKEY_LEN], khi[LSM_UKEY_LEN];
	lsm_db_iter *it;
	int64_t next = lo, m_end = -1;
	int rc;

	lsm_ukey_encode(klo, series_a(t), lo);
	lsm_ukey_encode(khi, series_a(t), hi);
	if ((rc = lsm_db_iter_new(&it, db, klo, khi)) != 0) {
		FAIL("reader: iterator: %s", strata_strerror(rc));
		return -1;
	}
	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it); lsm_db_iter_next(it)) {
		const uint8_t *k = lsm_db_iter_key(it);
		size_t len;
		const uint8_t *v = lsm_db_iter_value(it, &len);
		int64_t ts = lsm_ukey_ts(k);
		bool merged = value_is(v, len, ts, true);

		if (lsm_ukey_series(k) != series_a(t) || ts != next) {
			FAIL("reader: series A of writer %d: point %" PRId64 " where %" PRId64 " was due", t,
			     ts, next);
			next = -1;
			break;
		}
		if (!merged && !value_is(v, len, ts, false)) {
			FAIL("reader: series A of writer %d: point %" PRId64 " has a wrong value", t, ts);
			next = -1;
			break;
		}
		if (merged && m_end != -1) {
			FAIL("reader: series A of writer %d: point %" PRId64 " merged after an unmerged one", t,
			     ts);
			next = -1;
			break;
		}
		if (!merged && m_end == -1)
			m_end = ts;
		next++;
	}
	if (next >= 0 && (rc = lsm_db_iter_status(it)) != 0) {
		FAIL("reader: series A of writer %d: iteration: %s", t, strata_strerror(rc));
		next = -1;
	}
	lsm_db_iter_free(it);
	*merged_end = m_end == -1 ? next : m_end;
	return next;
}

/* Scans series B of writer t: [first, end) contiguous, first == end - DELETE_LAG (or 0). */
static int64_t scan_b(int t, int64_t *first)
{
	uint8_t klo[LSM_UKEY_LEN], khi[LSM_UKEY_LEN];
	lsm_db_iter *it;
	int64_t next = -1, start = -1;
	int rc;

	lsm_ukey_encode(klo, series_b(t), INT64_MIN);
	lsm_ukey_encode(khi, series_b(t) + 1, INT64_MIN);
	if ((rc = lsm_db_iter_new(&it, db, klo, khi)) != 0) {
		FAIL("reader: iterator: %s", strata_strerror(rc));
		return -1;
	}
	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it); lsm_db_iter_next(it)) {
		size_t len;
		const uint8_t *v = lsm_db_iter_value(it, &len);
		int64_t ts = lsm_ukey_ts(lsm_db_iter_key(it));

		if (start == -1)
			start = next = ts;
		if (ts != next || !value_is(v, len, ts, false)) {
			FAIL("reader: series B of writer %d: point %" PRId64 " wrong (%" PRId64 " was due)", t,
			     ts, next);
			next = -1;
			break;
		}
		next++;
	}
	if (next != -1 && (rc = lsm_db_iter_status(it)) != 0) {
		FAIL("reader: series B of writer %d: iteration: %s", t, strata_strerror(rc));
		next = -1;
	}
	lsm_db_iter_free(it);
	if (start == -1)
		start = next = 0;
	if (next != -1) {
		int64_t want = next > DELETE_LAG ? next - DELETE_LAG : 0;

		if (next % POINTS_PER_BATCH != 0 || start != want) {
			FAIL("reader: series B of writer %d holds [%" PRId64 ", %" PRId64 "), want it to "
			     "start at %" PRId64, t, start, next, want);
			next = -1;
		}
	}
	*first = start;
	return next;
}

static void *reader_main(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15u;
	int64_t seen_a[N_WRITERS] = { 0 }, seen_b[N_WRITERS] = { 0 };

	for (int iter = 0; iter < 1000000 && atomic_load(&writers_done) < N_WRITERS; iter++) {
		int t;
		int64_t n, m_end, first;

		rng = rng * 6364136223846793005u + 1442695040888963407u;
		t = (int)((rng >> 33) % N_WRITERS);
		switch ((rng >> 40) % 3) {
		case 0: /* the whole series A */
			n = scan_a(t, 0, INT64_MAX, &m_end);
			if (n < 0)
				return NULL;
			if (n < seen_a[t] || n % POINTS_PER_BATCH != 0 ||
			    m_end != (n > MERGE_LAG ? n - MERGE_LAG : 0)) {
				FAIL("reader: series A of writer %d: %" PRId64 " points (%" PRId64 " before), "
				     "merged up to %" PRId64, t, n, seen_a[t], m_end);
				return NULL;
			}
			seen_a[t] = n;
			/* A point merged in this snapshot reads merged in any later one. */
			if (m_end > 0) {
				uint8_t k[LSM_UKEY_LEN], *v;
				size_t len;
				int64_t ts = (int64_t)((rng >> 20) % (uint64_t)m_end);

				lsm_ukey_encode(k, series_a(t), ts);
				if (lsm_get(db, k, &v, &len) != 0) {
					FAIL("reader: get A %d/%" PRId64 ": %s", t, ts, strata_last_error());
					return NULL;
				}
				if (!value_is(v, len, ts, true))
					FAIL("reader: get A %d/%" PRId64 ": not merged", t, ts);
				strata_free(v);
			}
			break;
		case 1: { /* a sub-range, often across a window boundary */
			const int64_t width = 3 * WINDOW_NS / 2;
			int64_t lo = seen_a[t] > 0 ? (int64_t)((rng >> 24) % (uint64_t)seen_a[t]) : 0;
			int64_t end = scan_a(t, lo, lo + width, &m_end);

			if (end < 0)
				return NULL;
			/* At least what an earlier snapshot held. */
			if (end - lo < (seen_a[t] - lo < width ? seen_a[t] - lo : width)) {
				FAIL("reader: series A of writer %d: [%" PRId64 ", %" PRId64 ") short of %" PRId64, t,
				     lo, end, seen_a[t]);
				return NULL;
			}
			break;
		}
		default: /* series B: deleted points stay deleted */
			n = scan_b(t, &first);
			if (n < 0)
				return NULL;
			if (n < seen_b[t]) {
				FAIL("reader: series B of writer %d went back from %" PRId64 " to %" PRId64, t,
				     seen_b[t], n);
				return NULL;
			}
			seen_b[t] = n;
			if (first > 0) {
				uint8_t k[LSM_UKEY_LEN], *v;
				size_t len;
				int64_t ts = (int64_t)((rng >> 20) % (uint64_t)first);
				int rc;

				lsm_ukey_encode(k, series_b(t), ts);
				rc = lsm_get(db, k, &v, &len);
				if (rc != STRATA_ENOTFOUND) {
					FAIL("reader: deleted point B %d/%" PRId64 " reads %s", t, ts,
					     rc ? strata_strerror(rc) : "back");
					if (rc == 0)
						strata_free(v);
					return NULL;
				}
			}
			break;
		}
	}
	return NULL;
}

static void *flusher_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100000 && atomic_load(&writers_done) < N_WRITERS; i++) {
		if (lsm_flush(db) != 0)
			FAIL("flush: %s", strata_last_error());
		usleep(5000);
	}
	return NULL;
}

static void *compactor_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100000 && atomic_load(&writers_done) < N_WRITERS; i++) {
		int rc = lsm_compact(db, i % 4 == 3);

		if (rc)
			FAIL("lsm_compact: %s", strata_last_error());
		usleep(3000);
	}
	return NULL;
}

static void *stats_main(void *arg)
{
	uint64_t last = 0;

	(void)arg;
	for (int i = 0; i < 100000 && atomic_load(&writers_done) < N_WRITERS; i++) {
		lsm_stats st;

		lsm_get_stats(db, &st);
		if (st.error)
			FAIL("engine error: %s", strata_strerror(st.error));
		if (st.compactions < last)
			FAIL("compactions went back from %" PRIu64 " to %" PRIu64, last, st.compactions);
		last = st.compactions;
		usleep(2000);
	}
	return NULL;
}

static void check_final(int64_t n[N_WRITERS])
{
	for (int t = 0; t < N_WRITERS; t++) {
		int64_t m_end, first;

		assert_int_equal(scan_a(t, 0, INT64_MAX, &m_end), n[t]);
		assert_int_equal(m_end, n[t] > MERGE_LAG ? n[t] - MERGE_LAG : 0);
		assert_int_equal(scan_b(t, &first), n[t]);
	}
	assert_int_equal(atomic_load(&failures), 0);
}

static void test_compact_concurrent_with_everything(void **state)
{
	char dir[64];
	lsm_options opt;
	pthread_t writers[N_WRITERS], readers[N_READERS], flusher, compactor, stater;
	int64_t n[N_WRITERS];
	lsm_stats st;

	(void)state;
	strata_log_set_level(STRATA_LOG_WARN);
	assert_int_equal(test_make_temp_dir(dir, sizeof dir), 0);
	lsm_options_default(&opt);
	opt.merge = lsm_row_merge;
	opt.window_ns = WINDOW_NS;
	opt.memtable_bytes = 48u << 10;
	opt.block_cache_bytes = 256u << 10;
	opt.compact.live_trigger = 3;
	opt.compact.max_files = 6;
	opt.compact.closed_grace_ns = WINDOW_NS;
	opt.compact.clock = writers_clock;
	opt.compact.final_threads = 3; /* closed windows merged by three threads at once, however small */
	opt.compact.final_split_bytes = 0;
	opt.compact.final_split_quiet_ns = 0;
	assert_int_equal(lsm_open(&db, dir, &opt), 0);
	for (uintptr_t i = 0; i < N_WRITERS; i++)
		pthread_create(&writers[i], NULL, writer_main, (void *)i);
	for (uintptr_t i = 0; i < N_READERS; i++)
		pthread_create(&readers[i], NULL, reader_main, (void *)(i + 1));
	pthread_create(&flusher, NULL, flusher_main, NULL);
	pthread_create(&compactor, NULL, compactor_main, NULL);
	pthread_create(&stater, NULL, stats_main, NULL);
	for (int i = 0; i < N_WRITERS; i++)
		pthread_join(writers[i], NULL);
	for (int i = 0; i < N_READERS; i++)
		pthread_join(readers[i], NULL);
	pthread_join(flusher, NULL);
	pthread_join(compactor, NULL);
	pthread_join(stater, NULL);
	assert_int_equal(atomic_load(&failures), 0);
	for (int t = 0; t < N_WRITERS; t++) {
		n[t] = atomic_load(&written[t]);
		if (n[t] < 4 * WINDOW_NS) /* enough windows to close some */
			fail_msg("writer %d wrote only %" PRId64 " points", t, n[t]);
	}
	lsm_get_stats(db, &st);
	printf("concurrent compaction: %" PRId64 " and %" PRId64 " points, %" PRIu64 " flushes, %" PRIu64
	       " compactions, %" PRIu64 " tables in %" PRIu64 " windows\n",
	       n[0], n[1], st.flushes, st.compactions, st.n_files, st.n_windows);
	assert_true(st.compactions > 0);
	assert_int_equal(st.compaction_failures, 0);
	assert_int_equal(st.error, 0);
	check_final(n);

	/* Everything merged whole, then reopened: the same. */
	assert_int_equal(lsm_compact(db, true), 0);
	check_final(n);
	assert_int_equal(lsm_close(db), 0);
	assert_int_equal(lsm_open(&db, dir, &opt), 0);
	check_final(n);
	assert_int_equal(lsm_close(db), 0);
	test_remove_tree(dir);
}

static int64_t far_future(void *ctx)
{
	(void)ctx;
	return INT64_C(1) << 62;
}

static void *stats_loop_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10000000 && !atomic_load(&stop); i++) {
		lsm_stats st;

		lsm_get_stats(db, &st);
		if (st.error)
			FAIL("engine error: %s", strata_strerror(st.error));
	}
	return NULL;
}

/*
 * Stats taken while closed windows are compacted one table at a time (each
 * closed window's table rewritten into its final form): lsm_get_stats may
 * be called from any thread at any time.
 */
static void test_compact_concurrent_stats_while_closing(void **state)
{
	char dir[64];
	lsm_options opt;
	pthread_t stater;
	lsm_batch b;

	(void)state;
	strata_log_set_level(STRATA_LOG_WARN);
	assert_int_equal(test_make_temp_dir(dir, sizeof dir), 0);
	lsm_options_default(&opt);
	opt.merge = lsm_row_merge;
	opt.window_ns = WINDOW_NS;
	opt.compact.disable = true;
	opt.compact.clock = far_future; /* every window closed */
	assert_int_equal(lsm_open(&db, dir, &opt), 0);
	atomic_store(&stop, 0);
	atomic_store(&failures, 0);
	pthread_create(&stater, NULL, stats_loop_main, NULL);
	lsm_batch_init(&b);
	for (int64_t w = 0; w < 40; w++) {
		lsm_batch_clear(&b);
		for (int64_t i = 0; i < 20; i++) {
			uint8_t k[LSM_UKEY_LEN], v[64];
			int64_t ts = w * WINDOW_NS + i;

			lsm_ukey_encode(k, 1, ts);
			assert_int_equal(lsm_batch_put(&b, k, v, point_row(v, sizeof v, ts, false)), 0);
		}
		assert_int_equal(lsm_write(db, &b, LSM_WRITE_NOSYNC), 0);
		assert_int_equal(lsm_flush(db), 0);
		assert_int_equal(lsm_compact(db, false), 0);
	}
	lsm_batch_deinit(&b);
	atomic_store(&stop, 1);
	pthread_join(stater, NULL);
	assert_int_equal(atomic_load(&failures), 0);
	{
		uint8_t lo[LSM_UKEY_LEN], hi[LSM_UKEY_LEN];
		lsm_db_iter *it;
		int64_t n = 0;

		lsm_ukey_encode(lo, 1, 0);
		lsm_ukey_encode(hi, 2, 0);
		assert_int_equal(lsm_db_iter_new(&it, db, lo, hi), 0);
		for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it); lsm_db_iter_next(it), n++) {
			size_t len;
			const uint8_t *v = lsm_db_iter_value(it, &len);
			int64_t ts = lsm_ukey_ts(lsm_db_iter_key(it));

			assert_int_equal(ts, n / 20 * WINDOW_NS + n % 20);
			assert_true(value_is(v, len, ts, false));
		}
		assert_int_equal(lsm_db_iter_status(it), 0);
		lsm_db_iter_free(it);
		assert_int_equal(n, 40 * 20);
	}
	assert_int_equal(lsm_close(db), 0);
	test_remove_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compact_concurrent_with_everything),
		cmocka_unit_test(test_compact_concurrent_stats_while_closing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
