/*
 * Unit tests: the storage engine end to end through lsm/lsm.h — writes,
 * reads, merges, windows, flushes, reopen, torn WAL tails, damaged tables
 * and failed writes.
 *
 * Values in these tests are field lists: pairs of bytes (field name, value),
 * sorted by name. The merge hook combines two lists, the newer value of a
 * field winning, as the ingest layer merges the fields of a point.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lsm/alloc.h"
#include "lsm/fault.h"
#include "lsm/lsm.h"
#include "tests/util.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define DAY_NS (INT64_C(86400) * 1000000000)

static int field_merge(void *ctx, const uint8_t *older, size_t older_len, const uint8_t *newer,
		       size_t newer_len, uint8_t **out, size_t *out_len)
{
	uint8_t fields[256] = { 0 }, present[256] = { 0 };
	uint8_t *buf;
	size_t n = 0;

	(void)ctx;
	if (older_len % 2 || newer_len % 2)
		return STRATA_ECORRUPT;
	for (size_t i = 0; i < older_len; i += 2) {
		fields[older[i]] = older[i + 1];
		present[older[i]] = 1;
	}
	for (size_t i = 0; i < newer_len; i += 2) {
		fields[newer[i]] = newer[i + 1];
		present[newer[i]] = 1;
	}
	buf = strata_malloc(512);
	if (!buf)
		return -ENOMEM;
	for (int f = 0; f < 256; f++) {
		if (present[f]) {
			buf[n++] = (uint8_t)f;
			buf[n++] = fields[f];
		}
	}
	*out = buf;
	*out_len = n;
	return 0;
}

typedef struct fixture {
	char dir[64];
	lsm_options opt;
	lsm_db *db;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);

	if (!f || test_make_temp_dir(f->dir, sizeof f->dir) != 0)
		return -1;
	lsm_options_default(&f->opt);
	f->opt.merge = field_merge;
	f->opt.memtable_bytes = 1u << 20;
	f->opt.block_cache_bytes = 1u << 20;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	if (f->db)
		lsm_close(f->db);
	lsm_fault_reset();
	test_remove_tree(f->dir);
	free(f);
	return 0;
}

static void open_db(fixture *f)
{
	int rc = lsm_open(&f->db, f->dir, &f->opt);

	if (rc)
		fail_msg("lsm_open: %s (%s)", strata_last_error(), strata_strerror(rc));
}

static void reopen_db(fixture *f)
{
	assert_int_equal(lsm_close(f->db), 0);
	f->db = NULL;
	open_db(f);
}

static void write_one(lsm_db *db, enum lsm_kind kind, uint64_t series, int64_t ts, const char *fields)
{
	lsm_batch b;
	uint8_t k[LSM_UKEY_LEN];
	int rc;

	lsm_batch_init(&b);
	lsm_ukey_encode(k, series, ts);
	if (kind == LSM_KIND_PUT)
		rc = lsm_batch_put(&b, k, fields, strlen(fields));
	else if (kind == LSM_KIND_MERGE)
		rc = lsm_batch_merge(&b, k, fields, strlen(fields));
	else
		rc = lsm_batch_delete(&b, k);
	assert_int_equal(rc, 0);
	assert_int_equal(lsm_write(db, &b, 0), 0);
	lsm_batch_deinit(&b);
}

/* Asserts the value of (series, ts): want NULL means absent. */
static void assert_value(lsm_db *db, uint64_t series, int64_t ts, const char *want)
{
	uint8_t k[LSM_UKEY_LEN], *v = NULL;
	size_t len = 0;
	int rc;

	lsm_ukey_encode(k, series, ts);
	rc = lsm_get(db, k, &v, &len);
	if (!want) {
		assert_int_equal(rc, STRATA_ENOTFOUND);
		return;
	}
	if (rc)
		fail_msg("get %llu/%lld: %s", (unsigned long long)series, (long long)ts, strata_strerror(rc));
	if (len != strlen(want) || memcmp(v, want, len) != 0)
		fail_msg("get %llu/%lld: got '%.*s', want '%s'", (unsigned long long)series, (long long)ts,
			 (int)len, (const char *)v, want);
	strata_free(v);
}

static void test_db_put_get_delete(void **state)
{
	fixture *f = *state;

	open_db(f);
	write_one(f->db, LSM_KIND_PUT, 1, 100, "a1");
	write_one(f->db, LSM_KIND_PUT, 1, -100, "b2");
	write_one(f->db, LSM_KIND_PUT, 2, 0, "c3");
	assert_value(f->db, 1, 100, "a1");
	assert_value(f->db, 1, -100, "b2");
	assert_value(f->db, 2, 0, "c3");
	assert_value(f->db, 1, 0, NULL);
	write_one(f->db, LSM_KIND_PUT, 1, 100, "a9");
	write_one(f->db, LSM_KIND_DELETE, 2, 0, NULL);
	assert_value(f->db, 1, 100, "a9");
	assert_value(f->db, 2, 0, NULL);

	/* The same answers from tables, and after a reopen. */
	assert_int_equal(lsm_flush(f->db), 0);
	assert_value(f->db, 1, 100, "a9");
	assert_value(f->db, 2, 0, NULL);
	reopen_db(f);
	assert_value(f->db, 1, 100, "a9");
	assert_value(f->db, 1, -100, "b2");
	assert_value(f->db, 2, 0, NULL);
}

static void test_db_merge_across_sources(void **state)
{
	fixture *f = *state;

	open_db(f);
	write_one(f->db, LSM_KIND_MERGE, 5, 10, "a1b2");
	assert_int_equal(lsm_flush(f->db), 0);
	write_one(f->db, LSM_KIND_MERGE, 5, 10, "b5");
	assert_value(f->db, 5, 10, "a1b5"); /* memtable over table */
	assert_int_equal(lsm_flush(f->db), 0);
	assert_value(f->db, 5, 10, "a1b5"); /* table over table */
	write_one(f->db, LSM_KIND_MERGE, 5, 10, "c7");
	write_one(f->db, LSM_KIND_MERGE, 5, 10, "a0");
	assert_value(f->db, 5, 10, "a0b5c7");
	reopen_db(f);
	assert_value(f->db, 5, 10, "a0b5c7");

	/* A delete hides what came before; a merge after it starts afresh. */
	write_one(f->db, LSM_KIND_DELETE, 5, 10, NULL);
	write_one(f->db, LSM_KIND_MERGE, 5, 10, "z1");
	assert_value(f->db, 5, 10, "z1");
	assert_int_equal(lsm_flush(f->db), 0);
	assert_value(f->db, 5, 10, "z1");
	/* A put replaces every field. */
	write_one(f->db, LSM_KIND_PUT, 5, 10, "q2");
	write_one(f->db, LSM_KIND_MERGE, 5, 10, "r3");
	assert_int_equal(lsm_flush(f->db), 0);
	reopen_db(f);
	assert_value(f->db, 5, 10, "q2r3");
}

/* Counts and checks the keys an iterator over one series yields. */
static int scan_series(lsm_db *db, uint64_t series, int64_t t0, int64_t t1, int64_t *first, int64_t *last)
{
	uint8_t lo[LSM_UKEY_LEN], hi[LSM_UKEY_LEN];
	lsm_db_iter *it;
	int64_t prev = INT64_MIN;
	int n = 0;

	lsm_ukey_encode(lo, series, t0);
	lsm_ukey_encode(hi, series, t1);
	assert_int_equal(lsm_db_iter_new(&it, db, lo, hi), 0);
	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it); lsm_db_iter_next(it)) {
		const uint8_t *k = lsm_db_iter_key(it);
		int64_t ts = lsm_ukey_ts(k);

		assert_true(lsm_ukey_series(k) == series);
		assert_true(ts >= t0 && ts < t1);
		assert_true(n == 0 || ts > prev);
		if (n == 0 && first)
			*first = ts;
		prev = ts;
		n++;
	}
	assert_int_equal(lsm_db_iter_status(it), 0);
	if (last)
		*last = prev;
	lsm_db_iter_free(it);
	return n;
}

static void test_db_windows_and_ranges(void **state)
{
	fixture *f = *state;
	lsm_stats st;
	int64_t first, last;
	const int64_t step = DAY_NS / 24; /* hourly points over three days, from day -1 */

	open_db(f);
	for (uint64_t s = 1; s <= 3; s++)
		for (int64_t i = 0; i < 72; i++)
			write_one(f->db, LSM_KIND_PUT, s, -DAY_NS + i * step, "v1");
	assert_int_equal(lsm_flush(f->db), 0);
	lsm_get_stats(f->db, &st);
	assert_int_equal(st.n_windows, 3);
	assert_int_equal(st.n_files, 3); /* one table per window */

	assert_int_equal(scan_series(f->db, 2, INT64_MIN, INT64_MAX, &first, &last), 72);
	assert_true(first == -DAY_NS);
	assert_true(last == -DAY_NS + 71 * step);
	/* A range inside one window, one across a window boundary. */
	assert_int_equal(scan_series(f->db, 2, 0, 6 * step, NULL, NULL), 6);
	assert_int_equal(scan_series(f->db, 2, -2 * step, 2 * step, &first, NULL), 4);
	assert_true(first == -2 * step);
	assert_int_equal(scan_series(f->db, 4, INT64_MIN, INT64_MAX, NULL, NULL), 0);

	/* Late points into a flushed window: a second table there, merged on read. */
	write_one(f->db, LSM_KIND_PUT, 2, step / 2, "v2");
	write_one(f->db, LSM_KIND_PUT, 2, 0, "v3");
	assert_int_equal(lsm_flush(f->db), 0);
	lsm_get_stats(f->db, &st);
	assert_int_equal(st.n_files, 4);
	assert_int_equal(scan_series(f->db, 2, 0, 6 * step, NULL, NULL), 7);
	assert_value(f->db, 2, 0, "v3");
	assert_value(f->db, 2, step / 2, "v2");
	reopen_db(f);
	assert_value(f->db, 2, 0, "v3");
	assert_int_equal(scan_series(f->db, 2, INT64_MIN, INT64_MAX, NULL, NULL), 73);
}

static void test_db_iter_across_series_and_seek(void **state)
{
	fixture *f = *state;
	uint8_t lo[LSM_UKEY_LEN], hi[LSM_UKEY_LEN], k[LSM_UKEY_LEN];
	lsm_db_iter *it;
	int n = 0;

	open_db(f);
	for (uint64_t s = 10; s < 20; s++)
		for (int64_t t = 0; t < 10; t++)
			write_one(f->db, LSM_KIND_PUT, s, t, "x1");
	assert_int_equal(lsm_flush(f->db), 0);
	/* Half in a table, half (overwritten) in the memtable. */
	for (uint64_t s = 15; s < 20; s++)
		for (int64_t t = 0; t < 10; t += 2)
			write_one(f->db, LSM_KIND_PUT, s, t, "x2");
	lsm_ukey_encode(lo, 12, 5);
	lsm_ukey_encode(hi, 17, 3);
	assert_int_equal(lsm_db_iter_new(&it, f->db, lo, hi), 0);
	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it); lsm_db_iter_next(it)) {
		size_t len;
		const uint8_t *v = lsm_db_iter_value(it, &len);
		const uint8_t *key = lsm_db_iter_key(it);
		bool newer = lsm_ukey_series(key) >= 15 && lsm_ukey_ts(key) % 2 == 0;

		assert_int_equal(len, 2);
		assert_int_equal(v[1], newer ? '2' : '1');
		n++;
	}
	assert_int_equal(n, 5 + 4 * 10 + 3); /* 12/5..9, 13..16 whole, 17/0..2 */
	lsm_ukey_encode(k, 16, 7);
	lsm_db_iter_seek(it, k);
	assert_true(lsm_db_iter_valid(it));
	assert_true(lsm_ukey_series(lsm_db_iter_key(it)) == 16 && lsm_ukey_ts(lsm_db_iter_key(it)) == 7);
	lsm_ukey_encode(k, 1, 0); /* before lo: clamps to lo */
	lsm_db_iter_seek(it, k);
	assert_true(lsm_ukey_series(lsm_db_iter_key(it)) == 12 && lsm_ukey_ts(lsm_db_iter_key(it)) == 5);
	lsm_ukey_encode(k, 30, 0); /* past hi */
	lsm_db_iter_seek(it, k);
	assert_false(lsm_db_iter_valid(it));
	lsm_db_iter_free(it);
}

static void test_db_snapshot_isolation(void **state)
{
	fixture *f = *state;
	uint8_t lo[LSM_UKEY_LEN], hi[LSM_UKEY_LEN];
	lsm_db_iter *it;
	int n = 0;

	open_db(f);
	write_one(f->db, LSM_KIND_PUT, 1, 1, "a1");
	lsm_ukey_encode(lo, 1, INT64_MIN);
	lsm_ukey_encode(hi, 2, INT64_MIN);
	assert_int_equal(lsm_db_iter_new(&it, f->db, lo, hi), 0);
	/* Written after the iterator was made: invisible to it, even once flushed. */
	write_one(f->db, LSM_KIND_PUT, 1, 2, "a2");
	write_one(f->db, LSM_KIND_PUT, 1, 1, "a3");
	assert_int_equal(lsm_flush(f->db), 0);
	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it); lsm_db_iter_next(it)) {
		size_t len;
		const uint8_t *v = lsm_db_iter_value(it, &len);

		assert_int_equal(v[1], '1');
		n++;
	}
	assert_int_equal(n, 1);
	lsm_db_iter_free(it);
	assert_value(f->db, 1, 1, "a3");
}

/* Many memtable switches: everything is readable, during and after. */
static void test_db_many_switches(void **state)
{
	fixture *f = *state;
	lsm_batch b;
	uint8_t k[LSM_UKEY_LEN];
	char value[200];
	lsm_stats st;

	f->opt.memtable_bytes = 64u << 10;
	open_db(f);
	memset(value, 'p', sizeof value);
	lsm_batch_init(&b);
	for (int round = 0; round < 200; round++) {
		lsm_batch_clear(&b);
		for (int i = 0; i < 20; i++) {
			lsm_ukey_encode(k, (uint64_t)(i % 7), (int64_t)round * 100 + i);
			value[0] = 'a';
			value[1] = (char)('0' + round % 10);
			assert_int_equal(lsm_batch_put(&b, k, value, 2), 0);
		}
		assert_int_equal(lsm_write(f->db, &b, round % 2 ? LSM_WRITE_NOSYNC : 0), 0);
	}
	lsm_batch_deinit(&b);
	lsm_get_stats(f->db, &st);
	assert_true(st.flushes >= 1);
	assert_int_equal(st.error, 0);
	for (int round = 0; round < 200; round += 37) {
		char want[3] = { 'a', (char)('0' + round % 10), 0 };

		assert_value(f->db, 3, (int64_t)round * 100 + 3, want);
	}
	reopen_db(f);
	{
		int total = 0;

		for (uint64_t s = 0; s < 7; s++)
			total += scan_series(f->db, s, INT64_MIN, INT64_MAX, NULL, NULL);
		assert_int_equal(total, 200 * 20);
	}
}

/* A crash image (copy of the directory while open) with its WAL cut short. */
static void test_db_torn_wal_tail(void **state)
{
	fixture *f = *state;
	char image[128], wal_dir[160], wal[512];
	lsm_db *db2;
	long long size;
	lsm_stats st;

	open_db(f);
	for (int64_t t = 0; t < 50; t++)
		write_one(f->db, LSM_KIND_PUT, 9, t, "w1");
	snprintf(image, sizeof image, "%s-image", f->dir);
	assert_int_equal(test_copy_tree(f->dir, image), 0);
	snprintf(wal_dir, sizeof wal_dir, "%s/wal", image);
	assert_int_equal(test_find_file(wal_dir, ".wal", wal, sizeof wal), 0);
	size = test_file_size(wal);
	assert_true(size > 100);
	/* Cut the last record in half: the first 49 batches survive. */
	assert_int_equal(truncate(wal, size - 10), 0);
	unlink(strcat(strcpy(wal_dir, image), "/LOCK"));
	assert_int_equal(lsm_open(&db2, image, &f->opt), 0);
	lsm_get_stats(db2, &st);
	assert_int_equal(st.wal_torn_tails, 1);
	assert_value(db2, 9, 48, "w1");
	assert_value(db2, 9, 49, NULL);
	assert_int_equal(scan_series(db2, 9, INT64_MIN, INT64_MAX, NULL, NULL), 49);
	/* New writes go on; a second reopen meets no damage. */
	write_one(db2, LSM_KIND_PUT, 9, 49, "w2");
	assert_int_equal(lsm_close(db2), 0);
	assert_int_equal(lsm_open(&db2, image, &f->opt), 0);
	lsm_get_stats(db2, &st);
	assert_int_equal(st.wal_torn_tails, 0);
	assert_value(db2, 9, 49, "w2");
	assert_int_equal(lsm_close(db2), 0);
	test_remove_tree(image);
}

/* Damage in the middle of an older WAL segment is corruption, not a torn tail. */
static void test_db_damaged_wal_is_reported(void **state)
{
	fixture *f = *state;
	char image[128], wal_dir[160], wal[512];
	lsm_db *db2 = NULL;

	open_db(f);
	for (int64_t t = 0; t < 20; t++)
		write_one(f->db, LSM_KIND_PUT, 9, t, "w1");
	snprintf(image, sizeof image, "%s-image", f->dir);
	assert_int_equal(test_copy_tree(f->dir, image), 0);
	snprintf(wal_dir, sizeof wal_dir, "%s/wal", image);
	assert_int_equal(test_find_file(wal_dir, ".wal", wal, sizeof wal), 0);
	/* An older, whole segment follows it: the damaged one is not the newest. */
	{
		char newer[600];
		char *slash = strrchr(wal, '/');
		FILE *fp;

		snprintf(newer, sizeof newer, "%.*s/99999999.wal", (int)(slash - wal), wal);
		fp = fopen(newer, "w");
		assert_non_null(fp);
		fclose(fp);
	}
	assert_int_equal(test_flip_byte(wal, test_file_size(wal) / 2, 0x40), 0);
	unlink(strcat(strcpy(wal_dir, image), "/LOCK"));
	assert_int_equal(lsm_open(&db2, image, &f->opt), STRATA_ECORRUPT);
	assert_null(db2);
	assert_non_null(strstr(strata_last_error(), ".wal"));
	test_remove_tree(image);
}

static void test_db_damaged_table_is_reported(void **state)
{
	fixture *f = *state;
	char sst_dir[160], sst[512];
	uint8_t lo[LSM_UKEY_LEN], hi[LSM_UKEY_LEN], *v;
	size_t len;
	lsm_db_iter *it;
	char value[64];

	open_db(f);
	memset(value, 0, sizeof value);
	for (int64_t t = 0; t < 2000; t++) {
		snprintf(value, sizeof value, "v%c", (int)('a' + t % 26));
		write_one(f->db, LSM_KIND_PUT, 3, t, value);
	}
	assert_int_equal(lsm_close(f->db), 0);
	f->db = NULL;
	snprintf(sst_dir, sizeof sst_dir, "%s/sst", f->dir);
	assert_int_equal(test_find_file(sst_dir, ".sst", sst, sizeof sst), 0);
	assert_int_equal(test_flip_byte(sst, 20, 0x01), 0); /* inside the first data block */
	open_db(f);
	lsm_ukey_encode(lo, 3, INT64_MIN);
	lsm_ukey_encode(hi, 4, INT64_MIN);
	assert_int_equal(lsm_db_iter_new(&it, f->db, lo, hi), 0);
	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it); lsm_db_iter_next(it))
		;
	assert_int_equal(lsm_db_iter_status(it), STRATA_ECORRUPT);
	lsm_db_iter_free(it);
	lsm_ukey_encode(lo, 3, 0);
	assert_int_equal(lsm_get(f->db, lo, &v, &len), STRATA_ECORRUPT);
}

static void test_db_failed_sync_goes_read_only(void **state)
{
	fixture *f = *state;
	lsm_batch b;
	uint8_t k[LSM_UKEY_LEN];
	lsm_stats st;
	int rc;

	open_db(f);
	write_one(f->db, LSM_KIND_PUT, 1, 1, "ok");
	lsm_fault_arm(LSM_FAULT_WAL_SYNC, 0, EIO, false);
	lsm_batch_init(&b);
	lsm_ukey_encode(k, 1, 2);
	assert_int_equal(lsm_batch_put(&b, k, "no", 2), 0);
	rc = lsm_write(f->db, &b, 0);
	assert_int_equal(rc, -EIO);
	/* Never retried and acknowledged: every later write is refused. */
	assert_int_equal(lsm_write(f->db, &b, 0), STRATA_EREADONLY);
	lsm_batch_deinit(&b);
	lsm_get_stats(f->db, &st);
	assert_int_equal(st.error, -EIO);
	assert_value(f->db, 1, 1, "ok");
	lsm_close(f->db);
	f->db = NULL;
	lsm_fault_reset();
	open_db(f);
	assert_value(f->db, 1, 1, "ok");
	write_one(f->db, LSM_KIND_PUT, 1, 3, "ok");
}

static void test_db_failed_flush_goes_read_only(void **state)
{
	fixture *f = *state;
	lsm_batch b;
	uint8_t k[LSM_UKEY_LEN];

	open_db(f);
	write_one(f->db, LSM_KIND_PUT, 1, 1, "ok");
	lsm_fault_arm(LSM_FAULT_SST_SYNC, 0, ENOSPC, true);
	assert_int_equal(lsm_flush(f->db), -ENOSPC);
	lsm_batch_init(&b);
	lsm_ukey_encode(k, 1, 2);
	assert_int_equal(lsm_batch_put(&b, k, "no", 2), 0);
	assert_int_equal(lsm_write(f->db, &b, 0), STRATA_EREADONLY);
	lsm_batch_deinit(&b);
	assert_value(f->db, 1, 1, "ok"); /* still readable from the memtable */
	lsm_close(f->db);
	f->db = NULL;
	lsm_fault_reset();
	/* The WAL kept it: after space is back, a restart recovers it. */
	open_db(f);
	assert_value(f->db, 1, 1, "ok");
}

/*
 * What a reader sees in the gap after a flush is published: a compaction
 * there folds the flushed MERGE with the base it applies to (as a PUT of
 * the MERGE's sequence number), and a read must still give base and
 * operand together, not the operand alone from the flushed memtable.
 */
static char gap_value[32];
static int gap_rc = -1;
static atomic_bool gap_done;

static void in_flush_gap(lsm_db *db)
{
	uint8_t k[LSM_UKEY_LEN], *v = NULL;
	size_t len = 0;

	atomic_store(&lsm_fault_flush_gap, NULL); /* once */
	gap_rc = lsm_compact(db, true);
	lsm_ukey_encode(k, 7, 1000);
	if (gap_rc == 0)
		gap_rc = lsm_get(db, k, &v, &len);
	if (gap_rc == 0 && len < sizeof gap_value)
		memcpy(gap_value, v, len);
	strata_free(v);
	atomic_store(&gap_done, true);
}

static void test_db_read_in_flush_gap(void **state)
{
	fixture *f = *state;

	open_db(f);
	write_one(f->db, LSM_KIND_PUT, 7, 1000, "a1b2");
	assert_int_equal(lsm_flush(f->db), 0);
	write_one(f->db, LSM_KIND_MERGE, 7, 1000, "b9");
	atomic_store(&lsm_fault_flush_gap, in_flush_gap);
	assert_int_equal(lsm_flush(f->db), 0);
	/* The flush returns once published; the gap's reader runs on the flush thread: wait for it. */
	for (int i = 0; i < 10000 && !atomic_load(&gap_done); i++)
		usleep(1000);
	assert_true(atomic_load(&gap_done));
	assert_int_equal(gap_rc, 0);
	assert_string_equal(gap_value, "a1b9");
	assert_value(f->db, 7, 1000, "a1b9");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_db_put_get_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_merge_across_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_windows_and_ranges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_iter_across_series_and_seek, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_snapshot_isolation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_many_switches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_torn_wal_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_damaged_wal_is_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_damaged_table_is_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_failed_sync_goes_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_failed_flush_goes_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_read_in_flush_gap, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
