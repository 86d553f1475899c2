/*
 * Unit tests: checkpoints of an open database (lsm_checkpoint) — what they
 * hold, under concurrent writes, flushes and compactions, their catalog,
 * copies across file systems, and the refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lsm/alloc.h"
#include "lsm/catalog.h"
#include "lsm/lsm.h"
#include "lsm/version.h"
#include "tests/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#define DAY_NS (INT64_C(86400) * 1000000000)

typedef struct fixture {
	char dir[64];   /* the database */
	char out[128];  /* where checkpoints go (a sibling of dir) */
	char shm[128];  /* a directory on /dev/shm, when there is one */
	lsm_options opt;
	lsm_db *db;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);

	if (!f || test_make_temp_dir(f->dir, sizeof f->dir) != 0)
		return -1;
	snprintf(f->out, sizeof f->out, "%s-checkpoint", f->dir);
	lsm_options_default(&f->opt);
	f->opt.memtable_bytes = 64u << 10;
	f->opt.block_cache_bytes = 1u << 20;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	char tmp[160];

	if (f->db)
		lsm_close(f->db);
	test_remove_tree(f->dir);
	test_remove_tree(f->out);
	snprintf(tmp, sizeof tmp, "%s.tmp", f->out);
	test_remove_tree(tmp);
	if (f->shm[0])
		test_remove_tree(f->shm);
	free(f);
	return 0;
}

static lsm_db *open_at(const char *dir, const lsm_options *opt)
{
	lsm_db *db = NULL;
	int rc = lsm_open(&db, dir, opt);

	if (rc)
		fail_msg("lsm_open %s: %s (%s)", dir, strata_last_error(), strata_strerror(rc));
	return db;
}

/* The value of point i: its number, as text. */
static void put_point(lsm_db *db, uint64_t series, int64_t ts, uint64_t i)
{
	char v[32];
	uint8_t k[LSM_UKEY_LEN];
	lsm_batch b;

	snprintf(v, sizeof v, "v%llu", (unsigned long long)i);
	lsm_batch_init(&b);
	lsm_ukey_encode(k, series, ts);
	assert_int_equal(lsm_batch_put(&b, k, v, strlen(v)), 0);
	/* Not synced: a checkpoint copies what was written, synced or not. */
	assert_int_equal(lsm_write(db, &b, LSM_WRITE_NOSYNC), 0);
	lsm_batch_deinit(&b);
}

/* Point i of a test: 4 series, spread over 3 days. */
static uint64_t series_of(uint64_t i) { return 1 + i % 4; }
static int64_t ts_of(uint64_t i) { return (int64_t)(i % 3) * DAY_NS + (int64_t)i * 1000; }

static bool has_point(lsm_db *db, uint64_t i)
{
	uint8_t k[LSM_UKEY_LEN], *v = NULL;
	size_t len = 0;
	char want[32];
	bool ok;

	lsm_ukey_encode(k, series_of(i), ts_of(i));
	if (lsm_get(db, k, &v, &len) != 0)
		return false;
	snprintf(want, sizeof want, "v%llu", (unsigned long long)i);
	ok = len == strlen(want) && memcmp(v, want, len) == 0;
	strata_free(v);
	return ok;
}

static void write_points(lsm_db *db, uint64_t from, uint64_t to)
{
	for (uint64_t i = from; i < to; i++)
		put_point(db, series_of(i), ts_of(i), i);
}

static void test_checkpoint_holds_tables_and_wal(void **state)
{
	fixture *f = *state;
	lsm_checkpoint_info info;
	lsm_db *copy;
	char path[256];

	f->db = open_at(f->dir, &f->opt);
	write_points(f->db, 0, 3000);         /* several flushes: tables in three windows */
	assert_int_equal(lsm_flush(f->db), 0);
	write_points(f->db, 3000, 3100);      /* only in the memtable and the WAL */
	assert_int_equal(lsm_checkpoint(f->db, f->out, &info), 0);
	assert_true(info.n_tables >= 3);
	assert_int_equal(info.n_linked, info.n_tables); /* same file system: hard links */
	assert_true(info.n_wal_segments >= 1);
	assert_true(info.wal_bytes > 0);
	assert_int_equal(info.last_seq, 3100);
	snprintf(path, sizeof path, "%s.tmp", f->out);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof path, "%s/CURRENT", f->out);
	assert_int_equal(access(path, F_OK), 0);

	/* Written after the checkpoint: not in it. */
	write_points(f->db, 3100, 3200);
	assert_int_equal(lsm_close(f->db), 0);
	f->db = NULL;

	copy = open_at(f->out, &f->opt);
	for (uint64_t i = 0; i < 3100; i++)
		if (!has_point(copy, i))
			fail_msg("point %llu missing from the checkpoint", (unsigned long long)i);
	for (uint64_t i = 3100; i < 3200; i++)
		assert_false(has_point(copy, i));
	assert_int_equal(lsm_close(copy), 0);
}

/* The checkpoint keeps its tables when the database compacts them away. */
static void test_checkpoint_survives_compaction_of_its_tables(void **state)
{
	fixture *f = *state;
	lsm_checkpoint_info info;
	lsm_db *copy;
	lsm_stats st;

	f->opt.compact.disable = true;
	f->db = open_at(f->dir, &f->opt);
	for (int round = 0; round < 4; round++) {
		write_points(f->db, (uint64_t)round * 500, (uint64_t)(round + 1) * 500);
		assert_int_equal(lsm_flush(f->db), 0);
	}
	lsm_get_stats(f->db, &st);
	assert_true(st.max_files_per_window > 1);
	assert_int_equal(lsm_checkpoint(f->db, f->out, &info), 0);
	assert_int_equal(info.n_tables, st.n_files);
	assert_int_equal(lsm_compact(f->db, true), 0);
	lsm_get_stats(f->db, &st);
	assert_int_equal(st.max_files_per_window, 1);
	assert_int_equal(lsm_close(f->db), 0);
	f->db = NULL;

	copy = open_at(f->out, &f->opt);
	for (uint64_t i = 0; i < 2000; i++)
		if (!has_point(copy, i))
			fail_msg("point %llu missing from the checkpoint", (unsigned long long)i);
	assert_int_equal(lsm_close(copy), 0);
}

typedef struct writer {
	lsm_db *db;
	atomic_uint_fast64_t acked; /* points 0..acked-1 are acknowledged */
	atomic_bool stop;
	int rc;
} writer;

static void *writer_main(void *arg)
{
	writer *w = arg;

	for (uint64_t i = 0; i < 2000000 && !atomic_load(&w->stop); i++) {
		char v[32];
		uint8_t k[LSM_UKEY_LEN];
		lsm_batch b;

		snprintf(v, sizeof v, "v%llu", (unsigned long long)i);
		lsm_batch_init(&b);
		lsm_ukey_encode(k, series_of(i), ts_of(i));
		w->rc = lsm_batch_put(&b, k, v, strlen(v));
		if (w->rc == 0)
			w->rc = lsm_write(w->db, &b, LSM_WRITE_NOSYNC);
		lsm_batch_deinit(&b);
		if (w->rc)
			break;
		atomic_store(&w->acked, i + 1);
	}
	return NULL;
}

/* Every write acknowledged before the call is in the checkpoint, while flushes and compactions run. */
static void test_checkpoint_under_concurrent_writes(void **state)
{
	fixture *f = *state;
	writer w = { 0 };
	pthread_t t;
	lsm_checkpoint_info info;
	uint64_t before, after;
	lsm_stats st;
	lsm_db *copy;

	f->opt.compact.live_trigger = 2; /* compactions run too */
	f->db = open_at(f->dir, &f->opt);
	w.db = f->db;
	assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
	for (int i = 0; i < 2000 && atomic_load(&w.acked) < 20000; i++)
		usleep(1000);
	before = atomic_load(&w.acked);
	assert_int_equal(lsm_checkpoint(f->db, f->out, &info), 0);
	after = atomic_load(&w.acked);
	for (int i = 0; i < 500 && atomic_load(&w.acked) < after + 5000; i++)
		usleep(1000);
	atomic_store(&w.stop, true);
	pthread_join(t, NULL);
	assert_int_equal(w.rc, 0);
	lsm_get_stats(f->db, &st);
	assert_true(st.flushes > 0);
	assert_true(info.last_seq >= before);
	assert_true(info.last_seq <= after + 1);
	assert_int_equal(lsm_close(f->db), 0);
	f->db = NULL;

	copy = open_at(f->out, &f->opt);
	/* Point i has sequence number i + 1: exactly the points up to last_seq are there. */
	for (uint64_t i = 0; i < info.last_seq; i++)
		if (!has_point(copy, i))
			fail_msg("point %llu (acknowledged: %llu before the checkpoint) missing", (unsigned long long)i,
				 (unsigned long long)before);
	for (uint64_t i = info.last_seq; i < info.last_seq + 100; i++)
		assert_false(has_point(copy, i));
	assert_int_equal(lsm_close(copy), 0);
}

/* The catalog log comes along, and opens with every series. */
static void test_checkpoint_copies_the_catalog(void **state)
{
	fixture *f = *state;
	lsm_catalog *cat = NULL, *copy_cat = NULL;
	lsm_catalog_txn *txn = NULL;
	uint64_t ids[50], id;
	uint32_t dbid;
	char key[64];

	f->db = open_at(f->dir, &f->opt);
	assert_int_equal(lsm_catalog_open(&cat, f->dir), 0);
	assert_int_equal(lsm_catalog_create_database(cat, "mydb"), 0);
	assert_int_equal(lsm_catalog_database_id(cat, "mydb", &dbid), 0);
	assert_int_equal(lsm_catalog_txn_new(&txn, cat), 0);
	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof key, "cpu,host=h%d", i);
		assert_int_equal(lsm_catalog_txn_series(txn, dbid, key, strlen(key), &ids[i]), 0);
	}
	assert_int_equal(lsm_catalog_txn_commit(txn), 0);
	lsm_catalog_txn_free(txn);
	for (int i = 0; i < 50; i++)
		put_point(f->db, ids[i], 0, (uint64_t)i);
	assert_int_equal(lsm_checkpoint(f->db, f->out, NULL), 0);
	lsm_catalog_close(cat);
	assert_int_equal(lsm_close(f->db), 0);
	f->db = NULL;

	assert_int_equal(lsm_catalog_open(&copy_cat, f->out), 0);
	assert_int_equal(lsm_catalog_database_id(copy_cat, "mydb", &dbid), 0);
	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof key, "cpu,host=h%d", i);
		assert_int_equal(lsm_catalog_series_id(copy_cat, dbid, key, strlen(key), &id), 0);
		assert_int_equal(id, ids[i]);
	}
	lsm_catalog_close(copy_cat);
}

static void test_checkpoint_refuses_an_existing_directory(void **state)
{
	fixture *f = *state;
	char tmp[160];

	f->db = open_at(f->dir, &f->opt);
	write_points(f->db, 0, 10);
	assert_int_equal(mkdir(f->out, 0755), 0);
	assert_int_equal(lsm_checkpoint(f->db, f->out, NULL), -EEXIST);
	assert_non_null(strstr(strata_last_error(), "already exists"));
	assert_int_equal(rmdir(f->out), 0);

	/* A leftover temporary directory is not overwritten either. */
	snprintf(tmp, sizeof tmp, "%s.tmp", f->out);
	assert_int_equal(mkdir(tmp, 0755), 0);
	assert_int_equal(lsm_checkpoint(f->db, f->out, NULL), -EEXIST);
	assert_int_equal(access(f->out, F_OK), -1);
	assert_int_equal(rmdir(tmp), 0);

	/* A parent that does not exist: an error, nothing left behind. */
	snprintf(tmp, sizeof tmp, "%s/no/such/dir", f->out);
	assert_true(lsm_checkpoint(f->db, tmp, NULL) < 0);
	assert_int_equal(access(f->out, F_OK), -1);
	assert_int_equal(lsm_checkpoint(f->db, f->out, NULL), 0);
}

/* On another file system the tables are copied, not linked. */
static void test_checkpoint_copies_across_file_systems(void **state)
{
	fixture *f = *state;
	struct stat a, b;
	lsm_checkpoint_info info;
	char target[160];
	lsm_db *copy;

	if (stat("/dev/shm", &b) != 0 || stat(f->dir, &a) != 0 || a.st_dev == b.st_dev)
		skip(); /* no second file system here */
	snprintf(f->shm, sizeof f->shm, "/dev/shm/strata-test-XXXXXX");
	assert_non_null(mkdtemp(f->shm));
	snprintf(target, sizeof target, "%s/copy", f->shm);
	f->db = open_at(f->dir, &f->opt);
	write_points(f->db, 0, 2000);
	assert_int_equal(lsm_flush(f->db), 0);
	assert_int_equal(lsm_checkpoint(f->db, target, &info), 0);
	assert_true(info.n_tables > 0);
	assert_int_equal(info.n_linked, 0);
	assert_int_equal(lsm_close(f->db), 0);
	f->db = NULL;
	copy = open_at(target, &f->opt);
	for (uint64_t i = 0; i < 2000; i++)
		assert_true(has_point(copy, i));
	assert_int_equal(lsm_close(copy), 0);
}

static void test_checkpoint_write_manifest_wants_a_snapshot(void **state)
{
	fixture *f = *state;
	lsm_version_edit e;

	lsm_version_edit_init(&e);
	e.has_log_number = e.has_last_seq = true;
	assert_int_equal(lsm_checkpoint_write_manifest(f->dir, 5, &e), STRATA_EINVAL);
	e.has_next_file = true;
	e.next_file = 5; /* not above the manifest's own number */
	assert_int_equal(lsm_checkpoint_write_manifest(f->dir, 5, &e), STRATA_EINVAL);
	e.next_file = 6;
	assert_int_equal(lsm_checkpoint_write_manifest(f->dir, 5, &e), 0);
	assert_int_equal(lsm_checkpoint_write_manifest(f->dir, 5, &e), -EEXIST);
	lsm_version_edit_deinit(&e);
	/* What it wrote opens as an empty database. */
	f->db = open_at(f->dir, &f->opt);
	write_points(f->db, 0, 10);
	assert_true(has_point(f->db, 9));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_checkpoint_holds_tables_and_wal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_survives_compaction_of_its_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_under_concurrent_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_copies_the_catalog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_refuses_an_existing_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_copies_across_file_systems, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_write_manifest_wants_a_snapshot, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
