/*
 * Concurrency test (run under TSan): writers, readers and flushes at once.
 *
 * Writer t writes series t with timestamps 0, 1, 2, ... one batch after the
 * other. Because a batch becomes visible only after every batch committed
 * before it, a reader scanning series t must always see exactly a prefix
 * 0..n-1, with n never shrinking between its scans and each value matching
 * its key — while memtables switch, flush threads write tables and a
 * flusher thread forces more switches.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lsm/alloc.h"
#include "lsm/lsm.h"
#include "tests/util.h"

#include <pthread.h>
#include <stdatomic.h>

#define N_WRITERS 3
#define N_READERS 3
#define POINTS_PER_WRITER 3000
#define POINTS_PER_BATCH 5

static lsm_db *db;
static atomic_int writers_done;
static atomic_int failures;

static void value_of(uint64_t series, int64_t ts, uint8_t out[16])
{
	lsm_put_le64(out, series * 1000003u);
	lsm_put_le64(out + 8, (uint64_t)ts * 7);
}

static void *writer_main(void *arg)
{
	uint64_t series = (uint64_t)(uintptr_t)arg;
	lsm_batch b;

	lsm_batch_init(&b);
	for (int64_t ts = 0; ts < POINTS_PER_WRITER;) {
		lsm_batch_clear(&b);
		for (int i = 0; i < POINTS_PER_BATCH; i++, ts++) {
			uint8_t k[LSM_UKEY_LEN], v[16];

			lsm_ukey_encode(k, series, ts);
			value_of(series, ts, v);
			lsm_batch_put(&b, k, v, sizeof v);
		}
		/* Alternate synced and unsynced writes: both paths under load. */
		if (lsm_write(db, &b, (ts / POINTS_PER_BATCH) % 2 ? LSM_WRITE_NOSYNC : 0) != 0)
			atomic_fetch_add(&failures, 1);
	}
	lsm_batch_deinit(&b);
	atomic_fetch_add(&writers_done, 1);
	return NULL;
}

/* Scans series; returns the prefix length seen, or -1 on a violation. */
static int64_t scan_prefix(uint64_t series)
{
	uint8_t lo[LSM_UKEY_LEN], hi[LSM_UKEY_LEN];
	lsm_db_iter *it;
	int64_t n = 0;

	lsm_ukey_encode(lo, series, INT64_MIN);
	lsm_ukey_encode(hi, series + 1, INT64_MIN);
	if (lsm_db_iter_new(&it, db, lo, hi) != 0)
		return -1;
	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it); lsm_db_iter_next(it)) {
		uint8_t want[16];
		size_t len;
		const uint8_t *v = lsm_db_iter_value(it, &len);

		value_of(series, n, want);
		if (lsm_ukey_ts(lsm_db_iter_key(it)) != n || len != 16 || memcmp(v, want, 16) != 0) {
			n = -1;
			break;
		}
		n++;
	}
	if (lsm_db_iter_status(it) != 0)
		n = -1;
	lsm_db_iter_free(it);
	return n;
}

static void *reader_main(void *arg)
{
	int64_t seen[N_WRITERS] = { 0 };
	unsigned state = (unsigned)(uintptr_t)arg;

	for (int iter = 0; iter < 100000 && atomic_load(&writers_done) < N_WRITERS; iter++) {
		uint64_t series = (state = state * 1103515245u + 12345u) % N_WRITERS;
		int64_t n = scan_prefix(series);

		if (n < 0 || n < seen[series]) {
			atomic_fetch_add(&failures, 1);
			break;
		}
		seen[series] = n;
		/* A point lookup inside the prefix must succeed. */
		if (n > 0) {
			uint8_t k[LSM_UKEY_LEN], *v;
			size_t len;

			lsm_ukey_encode(k, series, n - 1);
			if (lsm_get(db, k, &v, &len) != 0)
				atomic_fetch_add(&failures, 1);
			else
				strata_free(v);
		}
	}
	return NULL;
}

static void *flusher_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000 && atomic_load(&writers_done) < N_WRITERS; i++) {
		if (lsm_flush(db) != 0)
			atomic_fetch_add(&failures, 1);
		usleep(20000);
	}
	return NULL;
}

static void test_db_concurrent_writers_readers_flushes(void **state)
{
	char dir[64];
	lsm_options opt;
	pthread_t writers[N_WRITERS], readers[N_READERS], flusher;
	lsm_stats st;

	(void)state;
	assert_int_equal(test_make_temp_dir(dir, sizeof dir), 0);
	lsm_options_default(&opt);
	opt.memtable_bytes = 128u << 10;
	opt.block_cache_bytes = 256u << 10;
	assert_int_equal(lsm_open(&db, dir, &opt), 0);
	for (uintptr_t i = 0; i < N_WRITERS; i++)
		pthread_create(&writers[i], NULL, writer_main, (void *)i);
	for (uintptr_t i = 0; i < N_READERS; i++)
		pthread_create(&readers[i], NULL, reader_main, (void *)(i + 1));
	pthread_create(&flusher, NULL, flusher_main, NULL);
	for (int i = 0; i < N_WRITERS; i++)
		pthread_join(writers[i], NULL);
	for (int i = 0; i < N_READERS; i++)
		pthread_join(readers[i], NULL);
	pthread_join(flusher, NULL);
	assert_int_equal(atomic_load(&failures), 0);
	for (uint64_t s = 0; s < N_WRITERS; s++)
		assert_int_equal(scan_prefix(s), POINTS_PER_WRITER);
	lsm_get_stats(db, &st);
	assert_true(st.flushes > 0);
	assert_int_equal(st.error, 0);
	assert_int_equal(lsm_close(db), 0);

	/* And all of it after a reopen. */
	assert_int_equal(lsm_open(&db, dir, &opt), 0);
	for (uint64_t s = 0; s < N_WRITERS; s++)
		assert_int_equal(scan_prefix(s), POINTS_PER_WRITER);
	assert_int_equal(lsm_close(db), 0);
	test_remove_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_db_concurrent_writers_readers_flushes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
