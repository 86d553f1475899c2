/*
 * Unit tests: time-window compaction (lsm/compact.h) through the engine's
 * public interface — fewer tables with the same contents, field merging
 * across tables, partial (size-tiered) runs that must keep older tables
 * underneath, tombstones dropped at the bottom of a window, closed windows
 * merged by the background thread, late writes, split outputs (and that a
 * window cut into several tables is done), the rate limit, reopen and
 * leftovers, failed table and manifest writes, series in windows of
 * different lengths (a retention policy's shard duration, changed while
 * points are written), and a randomized differential test against an
 * in-memory model.
 *
 * Values are rows (lsm/row.h) and the merge hook is lsm_row_merge, as in
 * the ingest layer. Every lsm_compact call goes through compact_bounded,
 * which fails the test instead of hanging when a compaction never ends.
 *
 * The differential test draws each series a window length (some change
 * while it runs) and runs for about three seconds; STRATA_COMPACT_ROUNDS
 * sets a number of rounds instead and STRATA_COMPACT_SEED repeats a run (the
 * seed is printed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lsm/alloc.h"
#include "lsm/fault.h"
#include "lsm/log.h"
#include "lsm/lsm.h"
#include "lsm/row.h"
#include "lsm/sstable.h"
#include "tests/util.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define WINDOW_NS (INT64_C(3600) * 1000000000) /* one hour */
#define GRACE_NS (WINDOW_NS / 2)
#define N_FIELDS 8
#define ROW_MAX 512
/* A compaction of these tests' few hundred KiB takes milliseconds; this is a hang. */
#define COMPACT_TIMEOUT_S 10

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t mix64(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* A small deterministic generator (the differential test's seed repeats a run). */
static uint64_t rng_next(uint64_t *s)
{
	*s += UINT64_C(0x9e3779b97f4a7c15);
	return mix64(*s);
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return rng_next(s) % n;
}

/* ---- rows ---- */

/*
 * A row holding the fields of mask (bit i: field id i + 1): ids 1, 4, 7 are
 * integers, 2, 5, 8 floats, 3, 6 strings, their values derived from salt.
 */
static size_t make_row(uint8_t *out, size_t cap, unsigned mask, uint64_t salt)
{
	lsm_row_field fields[N_FIELDS];
	char strs[N_FIELDS][32];
	size_t n = 0, len;

	for (uint32_t id = 1; id <= N_FIELDS; id++) {
		uint64_t x = mix64(salt * 131 + id);

		if (!(mask & (1u << (id - 1))))
			continue;
		fields[n].id = id;
		switch (id % 3) {
		case 1:
			fields[n].type = LSM_FIELD_INT;
			fields[n].v.i = (int64_t)(x % 2000001) - 1000000;
			break;
		case 2:
			fields[n].type = LSM_FIELD_FLOAT;
			fields[n].v.f = (double)(x % 100000) / 16.0;
			break;
		default:
			snprintf(strs[n], sizeof strs[n], "s%" PRIu64, x % 100000);
			fields[n].type = LSM_FIELD_STRING;
			fields[n].v.s.p = strs[n];
			fields[n].v.s.len = strlen(strs[n]);
			break;
		}
		n++;
	}
	len = lsm_row_encode(out, cap, fields, n);
	assert_true(len > 0);
	return len;
}

/* A row with one string field of len pseudo-random bytes: tables that zstd cannot shrink. */
static size_t make_blob_row(uint8_t *out, size_t cap, uint64_t salt, size_t len)
{
	lsm_row_field field = { .id = 9, .type = LSM_FIELD_STRING };
	char blob[256];
	size_t n;

	assert_true(len <= sizeof blob);
	for (size_t i = 0; i < len; i++)
		blob[i] = (char)(mix64(salt * 1000 + i) & 0xff);
	field.v.s.p = blob;
	field.v.s.len = len;
	n = lsm_row_encode(out, cap, &field, 1);
	assert_true(n > 0);
	return n;
}

/* ---- snapshots of the whole database ---- */

typedef struct kv {
	uint8_t key[LSM_UKEY_LEN];
	uint8_t *val;
	size_t len;
} kv;

typedef struct snap {
	kv *e;
	size_t n, cap;
} snap;

/*
 * The snapshots the tests hold, here rather than on their stacks so that
 * teardown frees them when a test fails half-way.
 */
enum { SNAP_BEFORE, SNAP_HELD, SNAP_WANT, SNAP_GOT, SNAP_CHECK, N_SNAPS };
static snap snaps[N_SNAPS];

static void snap_free(snap *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->e[i].val);
	free(s->e);
	memset(s, 0, sizeof *s);
}

/* ---- fixture ---- */

static void diff_release(void);

#define N_LENGTHS 16 /* series with a window length of their own: ids below this */

typedef struct fixture {
	char dir[64];
	lsm_options opt;
	lsm_db *db;
	_Atomic int64_t clock_ns; /* the injected wall clock */
	_Atomic int64_t lengths[N_LENGTHS]; /* the series_window hook's answers; 0: the engine's window */
} fixture;

static int64_t fixture_clock(void *ctx)
{
	fixture *f = ctx;

	return atomic_load(&f->clock_ns);
}

static int64_t fixture_window(void *ctx, uint64_t series)
{
	fixture *f = ctx;

	return series < N_LENGTHS ? atomic_load(&f->lengths[series]) : 0;
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);

	if (!f || test_make_temp_dir(f->dir, sizeof f->dir) != 0)
		return -1;
	strata_log_set_level(STRATA_LOG_WARN);
	lsm_options_default(&f->opt);
	f->opt.merge = lsm_row_merge;
	f->opt.window_ns = WINDOW_NS;
	f->opt.memtable_bytes = 1u << 20;
	f->opt.block_cache_bytes = 1u << 20;
	f->opt.compact.disable = true;
	f->opt.compact.closed_grace_ns = GRACE_NS;
	f->opt.compact.clock = fixture_clock;
	f->opt.compact.clock_ctx = f;
	f->opt.series_window = fixture_window;
	f->opt.series_window_ctx = f;
	atomic_store(&f->clock_ns, 0); /* windows 0.. are live */
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
	for (int i = 0; i < N_SNAPS; i++)
		snap_free(&snaps[i]);
	diff_release();
	free(f);
	return 0;
}

static void open_db(fixture *f)
{
	int rc = lsm_open(&f->db, f->dir, &f->opt);

	if (rc)
		fail_msg("lsm_open: %s (%s)", strata_last_error(), strata_strerror(rc));
}

static void close_db(fixture *f)
{
	int rc = lsm_close(f->db);

	f->db = NULL;
	if (rc)
		fail_msg("lsm_close: %s (%s)", strata_last_error(), strata_strerror(rc));
}

static void reopen_db(fixture *f)
{
	close_db(f);
	open_db(f);
}

static void key_of(uint8_t k[LSM_UKEY_LEN], uint64_t series, int64_t window, int64_t i)
{
	lsm_ukey_encode(k, series, window * WINDOW_NS + i * 1000);
}

static void write_entry(lsm_db *db, enum lsm_kind kind, const uint8_t k[LSM_UKEY_LEN], const uint8_t *v,
			size_t len)
{
	lsm_batch b;
	int rc;

	lsm_batch_init(&b);
	if (kind == LSM_KIND_PUT)
		rc = lsm_batch_put(&b, k, v, len);
	else if (kind == LSM_KIND_MERGE)
		rc = lsm_batch_merge(&b, k, v, len);
	else
		rc = lsm_batch_delete(&b, k);
	assert_int_equal(rc, 0);
	rc = lsm_write(db, &b, LSM_WRITE_NOSYNC);
	if (rc)
		fail_msg("lsm_write: %s (%s)", strata_last_error(), strata_strerror(rc));
	lsm_batch_deinit(&b);
}

static void write_row(lsm_db *db, enum lsm_kind kind, uint64_t series, int64_t window, int64_t i,
		      unsigned mask, uint64_t salt)
{
	uint8_t k[LSM_UKEY_LEN], v[ROW_MAX];
	size_t len = kind == LSM_KIND_DELETE ? 0 : make_row(v, sizeof v, mask, salt);

	key_of(k, series, window, i);
	write_entry(db, kind, k, v, len);
}

static void flush(lsm_db *db)
{
	int rc = lsm_flush(db);

	if (rc)
		fail_msg("lsm_flush: %s (%s)", strata_last_error(), strata_strerror(rc));
}

static lsm_stats stats(lsm_db *db)
{
	lsm_stats st;

	lsm_get_stats(db, &st);
	return st;
}

/* ---- lsm_compact with a time limit ---- */

typedef struct compact_call {
	lsm_db *db;
	bool all;
	int rc;
	bool done;
	pthread_mutex_t mu;
	pthread_cond_t cv;
} compact_call;

static void *compact_call_main(void *p)
{
	compact_call *c = p;
	int rc = lsm_compact(c->db, c->all);

	pthread_mutex_lock(&c->mu);
	c->rc = rc;
	c->done = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/*
 * lsm_compact(db, all), failing the test when it has not returned after
 * COMPACT_TIMEOUT_S: a compaction that keeps finding work it just did.
 * The call is then stopped by failing its next table write, so that the
 * database can still be closed.
 */
static int compact_bounded(lsm_db *db, bool all)
{
	compact_call c = { .db = db, .all = all };
	struct timespec deadline;
	pthread_t th;
	bool done;
	uint64_t before = stats(db).compactions;

	pthread_mutex_init(&c.mu, NULL);
	pthread_cond_init(&c.cv, NULL);
	assert_int_equal(pthread_create(&th, NULL, compact_call_main, &c), 0);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += COMPACT_TIMEOUT_S;
	pthread_mutex_lock(&c.mu);
	while (!c.done)
		if (pthread_cond_timedwait(&c.cv, &c.mu, &deadline) == ETIMEDOUT)
			break;
	done = c.done;
	pthread_mutex_unlock(&c.mu);
	if (!done)
		lsm_fault_arm(LSM_FAULT_SST_WRITE, 0, EIO, true);
	pthread_join(th, NULL);
	pthread_mutex_destroy(&c.mu);
	pthread_cond_destroy(&c.cv);
	if (!done) {
		lsm_stats st = stats(db);

		lsm_fault_reset();
		fail_msg("lsm_compact(all=%d) did not return within %d s: %" PRIu64
			 " compactions in that time, %" PRIu64 " tables, at most %" PRIu64 " in a window",
			 all, COMPACT_TIMEOUT_S, (uint64_t)(st.compactions - before), st.n_files,
			 st.max_files_per_window);
	}
	return c.rc;
}

static void compact_ok(lsm_db *db, bool all)
{
	int rc = compact_bounded(db, all);

	if (rc)
		fail_msg("lsm_compact(all=%d): %s (%s)", all, strata_last_error(), strata_strerror(rc));
}

static void snap_push(snap *s, const uint8_t *k, const uint8_t *v, size_t len)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->e = realloc(s->e, s->cap * sizeof *s->e);
		assert_non_null(s->e);
	}
	memcpy(s->e[s->n].key, k, LSM_UKEY_LEN);
	s->e[s->n].val = malloc(len ? len : 1);
	assert_non_null(s->e[s->n].val);
	memcpy(s->e[s->n].val, v, len);
	s->e[s->n].len = len;
	s->n++;
}

/* Every key of an iterator (already created), checking strictly ascending keys. */
static void snap_from_iter(lsm_db_iter *it, snap *out)
{
	memset(out, 0, sizeof *out);
	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it); lsm_db_iter_next(it)) {
		size_t len;
		const uint8_t *k = lsm_db_iter_key(it);
		const uint8_t *v = lsm_db_iter_value(it, &len);

		if (out->n && memcmp(out->e[out->n - 1].key, k, LSM_UKEY_LEN) >= 0)
			fail_msg("iteration: key %zu (series %" PRIu64 " ts %" PRId64 ") not above the one "
				 "before",
				 out->n, lsm_ukey_series(k), lsm_ukey_ts(k));
		snap_push(out, k, v, len);
	}
	if (lsm_db_iter_status(it))
		fail_msg("iteration: %s", strata_strerror(lsm_db_iter_status(it)));
}

static lsm_db_iter *iter_all(lsm_db *db)
{
	uint8_t lo[LSM_UKEY_LEN], hi[LSM_UKEY_LEN];
	lsm_db_iter *it;

	memset(lo, 0, sizeof lo);
	memset(hi, 0xff, sizeof hi);
	assert_int_equal(lsm_db_iter_new(&it, db, lo, hi), 0);
	return it;
}

static void snap_take(lsm_db *db, snap *out)
{
	lsm_db_iter *it = iter_all(db);

	snap_from_iter(it, out);
	lsm_db_iter_free(it);
}

static void snap_assert_equal(const snap *want, const snap *got, const char *what)
{
	for (size_t i = 0; i < want->n && i < got->n; i++) {
		const kv *a = &want->e[i], *b = &got->e[i];

		if (memcmp(a->key, b->key, LSM_UKEY_LEN) != 0)
			fail_msg("%s: entry %zu is series %" PRIu64 " ts %" PRId64 ", want series %" PRIu64
				 " ts %" PRId64, what, i, lsm_ukey_series(b->key), lsm_ukey_ts(b->key),
				 lsm_ukey_series(a->key), lsm_ukey_ts(a->key));
		if (a->len != b->len || memcmp(a->val, b->val, a->len) != 0)
			fail_msg("%s: series %" PRIu64 " ts %" PRId64 " has another value (%zu bytes, "
				 "want %zu)",
				 what, lsm_ukey_series(a->key), lsm_ukey_ts(a->key), b->len, a->len);
	}
	if (want->n != got->n)
		fail_msg("%s: %zu keys, want %zu", what, got->n, want->n);
}

/* The database reads as want: by a full iteration and by lsm_get of each key. */
static void assert_db_equals(lsm_db *db, const snap *want, const char *what)
{
	snap *got = &snaps[SNAP_CHECK];

	snap_take(db, got);
	snap_assert_equal(want, got, what);
	snap_free(got);
	for (size_t i = 0; i < want->n; i++) {
		uint8_t *v;
		size_t len;
		int rc = lsm_get(db, want->e[i].key, &v, &len);

		if (rc)
			fail_msg("%s: get series %" PRIu64 " ts %" PRId64 ": %s", what,
				 lsm_ukey_series(want->e[i].key), lsm_ukey_ts(want->e[i].key),
				 strata_strerror(rc));
		if (len != want->e[i].len || memcmp(v, want->e[i].val, len) != 0) {
			strata_free(v);
			fail_msg("%s: get series %" PRIu64 " ts %" PRId64 " differs from the iteration", what,
				 lsm_ukey_series(want->e[i].key), lsm_ukey_ts(want->e[i].key));
		}
		strata_free(v);
	}
}

/* ---- expected values, field by field ---- */

/* The value of a key should be the given row (want_len 0: absent). */
static void assert_key(lsm_db *db, uint64_t series, int64_t window, int64_t i, const uint8_t *want,
		       size_t want_len)
{
	uint8_t k[LSM_UKEY_LEN], *v = NULL;
	size_t len = 0;
	int rc;

	key_of(k, series, window, i);
	rc = lsm_get(db, k, &v, &len);
	if (want_len == 0) {
		if (rc == 0)
			strata_free(v);
		if (rc != STRATA_ENOTFOUND)
			fail_msg("series %" PRIu64 " window %" PRId64 " #%" PRId64 ": want absent, got %s",
				 series, window, i, rc ? strata_strerror(rc) : "a value");
		return;
	}
	if (rc)
		fail_msg("series %" PRIu64 " window %" PRId64 " #%" PRId64 ": %s", series, window, i,
			 strata_strerror(rc));
	if (len != want_len || memcmp(v, want, len) != 0) {
		strata_free(v);
		fail_msg("series %" PRIu64 " window %" PRId64 " #%" PRId64 ": wrong value (%zu bytes, "
			 "want %zu)",
			 series, window, i, len, want_len);
	}
	strata_free(v);
}

/* Folds merge operands the way a reader should: older first. */
static size_t fold_rows(uint8_t *out, const uint8_t *older, size_t older_len, const uint8_t *newer,
			size_t newer_len)
{
	uint8_t *m;
	size_t len;

	assert_int_equal(lsm_row_merge(NULL, older, older_len, newer, newer_len, &m, &len), 0);
	assert_true(len <= ROW_MAX);
	memcpy(out, m, len);
	strata_free(m);
	return len;
}

/* ---- files on disk ---- */

static int sst_count(const fixture *f, const char *suffix)
{
	char path[128];

	snprintf(path, sizeof path, "%s/sst", f->dir);
	return test_count_files(path, suffix);
}

/* Sums the entries and bytes of the tables in sst/ (no compaction may run meanwhile). */
static void sst_totals(const fixture *f, uint64_t *entries, uint64_t *bytes)
{
	char path[128];
	DIR *d;
	struct dirent *de;

	*entries = 0;
	*bytes = 0;
	snprintf(path, sizeof path, "%s/sst", f->dir);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char file[512];
		size_t nl = strlen(de->d_name);
		lsm_sst *t;

		if (nl < 5 || strcmp(de->d_name + nl - 4, ".sst") != 0)
			continue;
		snprintf(file, sizeof file, "%s/%s", path, de->d_name);
		if (lsm_sst_open(&t, file, strtoull(de->d_name, NULL, 10), NULL) != 0)
			fail_msg("open %s: %s", file, strata_last_error());
		*entries += lsm_sst_get_props(t)->n_entries;
		*bytes += lsm_sst_get_props(t)->file_bytes;
		lsm_sst_unref(t);
	}
	closedir(d);
}

/* The tables on disk are exactly those of the current version, with no temporary files. */
static void assert_files_match(const fixture *f, lsm_db *db)
{
	lsm_stats st = stats(db);
	uint64_t entries, bytes;

	assert_int_equal(sst_count(f, ".tmp"), 0);
	assert_int_equal((uint64_t)sst_count(f, ".sst"), st.n_files);
	sst_totals(f, &entries, &bytes);
	assert_int_equal(bytes, st.file_bytes);
}

/* Polls the stats until done() holds, for at most timeout_ms. */
static bool wait_stats(lsm_db *db, bool (*done)(const lsm_stats *, uint64_t), uint64_t arg, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 10) {
		lsm_stats st = stats(db);

		if (done(&st, arg))
			return true;
		usleep(10000);
	}
	return false;
}

static bool has_n_files(const lsm_stats *st, uint64_t n)
{
	return st->n_files == n;
}

/* ---- tests ---- */

/* Many flushed tables of one window become fewer, and read the same. */
static void test_compact_many_tables_read_the_same(void **state)
{
	fixture *f = *state;
	snap *before = &snaps[SNAP_BEFORE], *held = &snaps[SNAP_HELD];
	lsm_db_iter *it;
	lsm_stats st;
	uint64_t entries, bytes;

	f->opt.compact.live_trigger = 4;
	f->opt.compact.max_files = 100;
	open_db(f);
	for (int t = 0; t < 12; t++) {
		/* Overlapping keys: each table overwrites some and merges into others. */
		for (int64_t i = 0; i < 150; i++) {
			int64_t key = (i * 7 + t * 31) % 400;

			enum lsm_kind kind = t % 3 ? LSM_KIND_MERGE : LSM_KIND_PUT;

			write_row(f->db, kind, 1 + (uint64_t)(key % 3), 0, key,
				  1u << (t % N_FIELDS) | 1u << (key % N_FIELDS), (uint64_t)(t * 1000 + key));
		}
		flush(f->db);
	}
	st = stats(f->db);
	assert_int_equal(st.n_files, 12);
	assert_int_equal(st.max_files_per_window, 12);
	assert_true(st.compaction_debt_bytes > 0);
	assert_int_equal(st.compactions, 0);
	snap_take(f->db, before);
	assert_true(before->n > 300);

	/* An iterator made before keeps its tables while the compaction replaces them. */
	it = iter_all(f->db);
	compact_ok(f->db, false);
	st = stats(f->db);
	assert_true(st.n_files < 12);
	assert_true(st.max_files_per_window < 4);
	assert_true(st.compactions >= 1);
	assert_int_equal(st.compaction_failures, 0);
	assert_true(st.compact_bytes_read > 0 && st.compact_bytes_written > 0);
	assert_int_equal(st.compaction_debt_bytes, 0);
	assert_int_equal(st.error, 0);
	assert_db_equals(f->db, before, "after compaction");
	assert_true(sst_count(f, ".sst") > (int)st.n_files); /* the inputs are pinned */
	snap_from_iter(it, held);
	snap_assert_equal(before, held, "iterator made before the compaction");
	snap_free(held);
	lsm_db_iter_free(it);
	assert_files_match(f, f->db); /* the last pin gone, the inputs are deleted */

	/* Two more tables: under live_trigger, so only a whole merge takes them. */
	for (int t = 0; t < 2; t++) {
		write_row(f->db, LSM_KIND_MERGE, 1, 0, 1000 + t, 1, (uint64_t)t);
		flush(f->db);
	}
	snap_free(before);
	snap_take(f->db, before);
	st = stats(f->db);
	compact_ok(f->db, false);
	assert_int_equal(stats(f->db).compactions, st.compactions);
	assert_int_equal(stats(f->db).n_files, st.n_files);
	compact_ok(f->db, true);
	st = stats(f->db);
	assert_int_equal(st.n_files, 1);
	assert_db_equals(f->db, before, "after a whole-window compaction");
	/* One entry per key at the bottom of the window. */
	sst_totals(f, &entries, &bytes);
	assert_int_equal(entries, before->n);
	reopen_db(f);
	assert_db_equals(f->db, before, "after reopen");
	snap_free(before);
}

/* The estimate of the bytes once merged: st.file_bytes * kept / entries, within rounding. */
static void assert_merged_estimate(const lsm_stats *st, uint64_t kept, uint64_t entries, const char *what)
{
	double want = (double)st->file_bytes * (double)kept / (double)entries;

	if ((double)st->est_merged_bytes < want - 1 || (double)st->est_merged_bytes > want + 1)
		fail_msg("%s: %" PRIu64 " bytes estimated once merged, want %.1f (%" PRIu64 " bytes, %" PRIu64
			 " of %" PRIu64 " entries kept)",
			 what, st->est_merged_bytes, want, st->file_bytes, kept, entries);
}

/*
 * Space amplification (lsm_stats.est_merged_bytes): tables written in time
 * order fold nothing away, a rewrite of the same points counts the older
 * copies, a table of other series over the same time counts nothing, and a
 * whole merge brings the estimate back to the bytes on disk.
 */
static void test_compact_space_amplification(void **state)
{
	fixture *f = *state;
	lsm_stats st;
	uint64_t w0_bytes;
	double want;

	open_db(f);
	st = stats(f->db);
	assert_int_equal(st.table_entries, 0);
	assert_int_equal(st.est_merged_bytes, 0);
	assert_false(st.compaction_active);

	/* A: series 1-3 at points 0-99 of window 0; B: the same series at points 100-199. */
	for (int t = 0; t < 2; t++) {
		for (uint64_t s = 1; s <= 3; s++)
			for (int64_t i = 0; i < 100; i++)
				write_row(f->db, LSM_KIND_PUT, s, 0, t * 100 + i, 3, (uint64_t)(t * 1000 + i));
		flush(f->db);
		st = stats(f->db);
		assert_int_equal(st.n_files, (uint64_t)t + 1);
		assert_int_equal(st.table_entries, 300 * ((uint64_t)t + 1));
		assert_int_equal(st.est_merged_bytes, st.file_bytes); /* time spans apart: nothing to fold */
	}

	/* C rewrites A's points: A's 300 entries are older copies. */
	for (uint64_t s = 1; s <= 3; s++)
		for (int64_t i = 0; i < 100; i++)
			write_row(f->db, LSM_KIND_PUT, s, 0, i, 5, (uint64_t)(7000 + i));
	flush(f->db);
	st = stats(f->db);
	assert_int_equal(st.table_entries, 900);
	assert_merged_estimate(&st, 600, 900, "a rewrite of the oldest table");
	assert_true((double)st.file_bytes / (double)st.est_merged_bytes > 1.3);

	/* D: series 10-12 over the same time, keys apart from every other table. */
	for (uint64_t s = 10; s <= 12; s++)
		for (int64_t i = 0; i < 100; i++)
			write_row(f->db, LSM_KIND_PUT, s, 0, i, 1, (uint64_t)(9000 + i));
	flush(f->db);
	st = stats(f->db);
	assert_int_equal(st.table_entries, 1200);
	assert_merged_estimate(&st, 900, 1200, "a table of other series");
	w0_bytes = st.file_bytes;
	/* E: window 1, one table: kept whole. */
	for (int64_t i = 0; i < 50; i++)
		write_row(f->db, LSM_KIND_PUT, 1, 1, i, 1, (uint64_t)i);
	flush(f->db);
	st = stats(f->db);
	assert_int_equal(st.table_entries, 1250);
	want = (double)w0_bytes * 900.0 / 1200.0 + (double)(st.file_bytes - w0_bytes);
	assert_true((double)st.est_merged_bytes >= want - 1 && (double)st.est_merged_bytes <= want + 1);

	compact_ok(f->db, true);
	st = stats(f->db);
	assert_int_equal(st.n_files, 2);
	assert_int_equal(st.table_entries, 950); /* 3 x 200 + 3 x 100 + 50 distinct points */
	assert_int_equal(st.est_merged_bytes, st.file_bytes);
	assert_false(st.compaction_active);
	reopen_db(f);
	st = stats(f->db);
	assert_int_equal(st.table_entries, 950);
	assert_int_equal(st.est_merged_bytes, st.file_bytes);
}

/* MERGE operands spread over tables: the merged value survives compaction. */
static void test_compact_merges_fields_across_tables(void **state)
{
	fixture *f = *state;
	uint8_t want[8][ROW_MAX], op[ROW_MAX];
	size_t want_len[8] = { 0 }, lt;
	snap *before = &snaps[SNAP_BEFORE];

	open_db(f);
	/* Key i gets one operand per table, each setting two fields, for 6 tables. */
	for (int t = 0; t < 6; t++) {
		for (int64_t i = 0; i < 8; i++) {
			unsigned mask = 1u << ((t + i) % N_FIELDS) | 1u << ((t * 3) % N_FIELDS);
			size_t len = make_row(op, sizeof op, mask, (uint64_t)(t * 100 + i));

			write_row(f->db, LSM_KIND_MERGE, 7, 1, i, mask, (uint64_t)(t * 100 + i));
			want_len[i] = want_len[i] ? fold_rows(want[i], want[i], want_len[i], op, len)
						  : (memcpy(want[i], op, len), len);
		}
		flush(f->db);
	}
	for (int64_t i = 0; i < 8; i++)
		assert_key(f->db, 7, 1, i, want[i], want_len[i]);
	snap_take(f->db, before);
	compact_ok(f->db, true);
	assert_int_equal(stats(f->db).n_files, 1);
	for (int64_t i = 0; i < 8; i++)
		assert_key(f->db, 7, 1, i, want[i], want_len[i]);
	assert_db_equals(f->db, before, "merged fields after compaction");
	/* A merge after the compaction lands on the folded value. */
	write_row(f->db, LSM_KIND_MERGE, 7, 1, 3, 1u << 7, 4242);
	lt = make_row(op, sizeof op, 1u << 7, 4242);
	want_len[3] = fold_rows(want[3], want[3], want_len[3], op, lt);
	flush(f->db);
	assert_key(f->db, 7, 1, 3, want[3], want_len[3]);
	reopen_db(f);
	for (int64_t i = 0; i < 8; i++)
		assert_key(f->db, 7, 1, i, want[i], want_len[i]);
	snap_free(before);
}

/*
 * A live window compacted size-tiered: only the newest small tables are
 * merged, and what they hold must still combine with the older tables left
 * underneath (a PUT in the oldest, a table in between).
 */
static void test_compact_partial_run_keeps_older_tables(void **state)
{
	fixture *f = *state;
	uint8_t v[ROW_MAX], w1[ROW_MAX], w3[ROW_MAX], tmp[ROW_MAX];
	size_t l1, l3, lt;
	snap *before = &snaps[SNAP_BEFORE];
	lsm_stats st;

	f->opt.compact.live_trigger = 4;
	f->opt.compact.max_files = 100;
	open_db(f);
	/* T0, the oldest and biggest: PUTs, plus filler. */
	write_row(f->db, LSM_KIND_PUT, 1, 0, 1, 0x07, 1);  /* k1 {1,2,3} */
	write_row(f->db, LSM_KIND_PUT, 1, 0, 2, 0x01, 2);  /* k2 {1} */
	write_row(f->db, LSM_KIND_PUT, 1, 0, 3, 0x03, 3);  /* k3 {1,2} */
	write_row(f->db, LSM_KIND_MERGE, 1, 0, 4, 0x01, 4); /* k4 operand over nothing */
	write_row(f->db, LSM_KIND_PUT, 1, 0, 6, 0x01, 6);  /* k6 */
	for (int64_t i = 0; i < 3000; i++) {
		uint8_t k[LSM_UKEY_LEN];

		key_of(k, 9, 0, i);
		write_entry(f->db, LSM_KIND_PUT, k, v, make_blob_row(v, sizeof v, (uint64_t)i, 64));
	}
	flush(f->db);
	/* T1, in between: a MERGE over k1, a DELETE of k3, and filler. */
	write_row(f->db, LSM_KIND_MERGE, 1, 0, 1, 0x02, 11); /* k1 field 2 */
	write_row(f->db, LSM_KIND_DELETE, 1, 0, 3, 0, 0);
	for (int64_t i = 0; i < 800; i++) {
		uint8_t k[LSM_UKEY_LEN];

		key_of(k, 8, 0, i);
		write_entry(f->db, LSM_KIND_PUT, k, v, make_blob_row(v, sizeof v, (uint64_t)i + 5000, 64));
	}
	flush(f->db);
	/* T2..T5, small. */
	write_row(f->db, LSM_KIND_MERGE, 1, 0, 1, 0x08, 21); /* k1 field 4 */
	write_row(f->db, LSM_KIND_DELETE, 1, 0, 2, 0, 0);    /* k2 deleted ... */
	flush(f->db);
	write_row(f->db, LSM_KIND_MERGE, 1, 0, 2, 0x10, 31); /* ... then merged afresh */
	write_row(f->db, LSM_KIND_MERGE, 1, 0, 3, 0x04, 32); /* k3 after T1's delete */
	flush(f->db);
	write_row(f->db, LSM_KIND_MERGE, 1, 0, 4, 0x02, 41); /* k4 */
	write_row(f->db, LSM_KIND_DELETE, 1, 0, 6, 0, 0);    /* k6: the tombstone must stay */
	flush(f->db);
	write_row(f->db, LSM_KIND_MERGE, 1, 0, 1, 0x01, 51); /* k1 field 1 again */
	write_row(f->db, LSM_KIND_PUT, 1, 0, 5, 0x20, 52);   /* k5, new */
	flush(f->db);
	st = stats(f->db);
	assert_int_equal(st.n_files, 6);

	/* Expected values, folded by hand. */
	l1 = make_row(w1, sizeof w1, 0x07, 1);
	lt = make_row(tmp, sizeof tmp, 0x02, 11);
	l1 = fold_rows(w1, w1, l1, tmp, lt);
	lt = make_row(tmp, sizeof tmp, 0x08, 21);
	l1 = fold_rows(w1, w1, l1, tmp, lt);
	lt = make_row(tmp, sizeof tmp, 0x01, 51);
	l1 = fold_rows(w1, w1, l1, tmp, lt);
	l3 = make_row(w3, sizeof w3, 0x04, 32);
	snap_take(f->db, before);
	assert_key(f->db, 1, 0, 1, w1, l1);
	assert_key(f->db, 1, 0, 3, w3, l3);
	assert_key(f->db, 1, 0, 6, NULL, 0);

	compact_ok(f->db, false);
	st = stats(f->db);
	/* Only the four small tables were merged: T0 and T1 stay underneath. */
	assert_int_equal(st.compactions, 1);
	assert_int_equal(st.n_files, 3);
	assert_db_equals(f->db, before, "after the size-tiered run");
	assert_key(f->db, 1, 0, 1, w1, l1);
	lt = make_row(tmp, sizeof tmp, 0x10, 31);
	assert_key(f->db, 1, 0, 2, tmp, lt);
	assert_key(f->db, 1, 0, 3, w3, l3);
	lt = make_row(tmp, sizeof tmp, 0x01, 4);
	l3 = make_row(v, sizeof v, 0x02, 41);
	lt = fold_rows(tmp, tmp, lt, v, l3);
	l3 = make_row(w3, sizeof w3, 0x04, 32);
	assert_key(f->db, 1, 0, 4, tmp, lt);
	assert_key(f->db, 1, 0, 6, NULL, 0);
	reopen_db(f);
	assert_db_equals(f->db, before, "after reopen");

	/* Now the bottom: one table, the same answers. */
	compact_ok(f->db, true);
	assert_int_equal(stats(f->db).n_files, 1);
	assert_db_equals(f->db, before, "after the whole-window compaction");
	assert_key(f->db, 1, 0, 6, NULL, 0);
	snap_free(before);
}

/* A DELETE hides an older PUT; at the bottom of the window the tombstone goes. */
static void test_compact_drops_tombstones_at_the_bottom(void **state)
{
	fixture *f = *state;
	uint8_t v[ROW_MAX];
	uint64_t entries, bytes, first_bytes;
	size_t len;
	snap *before = &snaps[SNAP_BEFORE];

	open_db(f);
	for (int64_t i = 0; i < 1000; i++) {
		uint8_t k[LSM_UKEY_LEN];

		key_of(k, 3, 2, i);
		write_entry(f->db, LSM_KIND_PUT, k, v, make_blob_row(v, sizeof v, (uint64_t)i, 48));
	}
	flush(f->db);
	first_bytes = stats(f->db).file_bytes;
	for (int64_t i = 0; i < 1000; i++)
		if (i % 10 != 0)
			write_row(f->db, LSM_KIND_DELETE, 3, 2, i, 0, 0);
	flush(f->db);
	assert_int_equal(stats(f->db).n_files, 2);
	assert_key(f->db, 3, 2, 5, NULL, 0);
	len = make_blob_row(v, sizeof v, 10, 48);
	assert_key(f->db, 3, 2, 10, v, len);
	sst_totals(f, &entries, &bytes);
	assert_int_equal(entries, 1900);
	snap_take(f->db, before);
	assert_int_equal(before->n, 100);

	compact_ok(f->db, true);
	assert_int_equal(stats(f->db).n_files, 1);
	assert_db_equals(f->db, before, "after dropping tombstones");
	sst_totals(f, &entries, &bytes);
	assert_int_equal(entries, 100); /* no tombstone left */
	assert_true(bytes < first_bytes / 4);
	assert_int_equal(stats(f->db).file_bytes, bytes);
	assert_key(f->db, 3, 2, 5, NULL, 0);
	reopen_db(f);
	assert_db_equals(f->db, before, "after reopen");
	assert_key(f->db, 3, 2, 999, NULL, 0);

	/* Every key of a window deleted: the window's tables go away. */
	for (int64_t i = 0; i < 1000; i += 10)
		write_row(f->db, LSM_KIND_DELETE, 3, 2, i, 0, 0);
	flush(f->db);
	compact_ok(f->db, true);
	assert_int_equal(stats(f->db).n_files, 0);
	assert_int_equal(stats(f->db).n_windows, 0);
	assert_key(f->db, 3, 2, 10, NULL, 0);
	reopen_db(f);
	assert_key(f->db, 3, 2, 10, NULL, 0);
	assert_int_equal(stats(f->db).n_files, 0);
	snap_free(before);
}

/*
 * The background thread merges a window once it closes (by the injected
 * clock), whether a flush wakes it or not, leaves live windows alone, and
 * merges again after late writes into the closed window.
 */
static void test_compact_closed_window_in_background(void **state)
{
	fixture *f = *state;
	snap *before = &snaps[SNAP_BEFORE];
	lsm_stats st;
	uint64_t n;

	f->opt.compact.disable = false;
	f->opt.compact.live_trigger = 100;
	f->opt.compact.max_files = 100;
	f->opt.compact.late_settle_ns = 0; /* a late table is folded in at once (see the test below) */
	open_db(f);
	for (int t = 0; t < 5; t++) {
		for (int64_t w = 0; w < 2; w++)
			for (int64_t i = 0; i < 40; i++)
				write_row(f->db, t % 2 ? LSM_KIND_MERGE : LSM_KIND_PUT, 2, w, i * 3 + t,
					  1u << (t % N_FIELDS), (uint64_t)(t * 77 + i));
		flush(f->db);
	}
	usleep(200000);
	st = stats(f->db);
	assert_int_equal(st.n_files, 10);
	assert_int_equal(st.compactions, 0); /* both windows live, under every trigger */
	assert_int_equal(st.compaction_debt_bytes, 0);
	snap_take(f->db, before);

	/* Window 0 closes; a flush into window 2 wakes the thread. */
	atomic_store(&f->clock_ns, WINDOW_NS + GRACE_NS);
	assert_true(stats(f->db).compaction_debt_bytes > 0);
	write_row(f->db, LSM_KIND_PUT, 2, 2, 0, 1, 1);
	flush(f->db);
	snap_free(before);
	snap_take(f->db, before);
	if (!wait_stats(f->db, has_n_files, 1 + 5 + 1, 10000))
		fail_msg("closed window not compacted: %" PRIu64 " tables", stats(f->db).n_files);
	st = stats(f->db);
	assert_int_equal(st.max_files_per_window, 5); /* window 1 untouched */
	assert_int_equal(st.compaction_debt_bytes, 0);
	assert_db_equals(f->db, before, "after the background compaction");
	/* Nothing more to do: the thread stays idle. */
	n = st.compactions;
	usleep(300000);
	assert_int_equal(stats(f->db).compactions, n);

	/* A late write into the closed, compacted window: a small table, merged again. */
	write_row(f->db, LSM_KIND_MERGE, 2, 0, 3, 0x80, 999);
	write_row(f->db, LSM_KIND_DELETE, 2, 0, 6, 0, 0);
	flush(f->db);
	snap_free(before);
	snap_take(f->db, before);
	if (!wait_stats(f->db, has_n_files, 1 + 5 + 1, 10000))
		fail_msg("late write not merged: %" PRIu64 " tables", stats(f->db).n_files);
	assert_true(stats(f->db).compactions > n);
	assert_db_equals(f->db, before, "after merging the late write");

	/* Window 1 closes with no flush to wake the thread: it looks again by itself. */
	atomic_store(&f->clock_ns, 2 * WINDOW_NS + GRACE_NS);
	if (!wait_stats(f->db, has_n_files, 1 + 1 + 1, 15000))
		fail_msg("window closed without a flush not compacted: %" PRIu64 " tables",
			 stats(f->db).n_files);
	assert_db_equals(f->db, before, "after the idle compaction");
	reopen_db(f);
	assert_db_equals(f->db, before, "after reopen");
	snap_free(before);
}

/* The tables of the database that are in final form. */
static uint64_t final_tables(const fixture *f, lsm_db *db)
{
	char path[256];
	uint64_t n = 0;

	(void)db;
	for (uint64_t no = 1; no < 10000; no++) {
		lsm_sst *t;

		snprintf(path, sizeof path, "%s/sst/%06" PRIu64 ".sst", f->dir, no);
		if (access(path, F_OK) != 0 || lsm_sst_open(&t, path, no, NULL) != 0)
			continue;
		n += (lsm_sst_get_props(t)->flags & LSM_SST_FLAG_FINAL) != 0;
		lsm_sst_unref(t);
	}
	return n;
}

/* A closed window's final merge split among three threads: three tables by series range, the same data. */
static void test_compact_final_split(void **state)
{
	fixture *f = *state;
	snap *before = &snaps[SNAP_BEFORE];
	uint64_t entries, bytes;

	f->opt.compact.live_trigger = 100;
	f->opt.compact.max_files = 100;
	f->opt.compact.final_threads = 3;
	f->opt.compact.final_split_bytes = 0;
	f->opt.compact.final_split_quiet_ns = 0;
	open_db(f);
	for (int t = 0; t < 3; t++) {
		for (uint64_t series = 1; series <= 30; series++)
			for (int64_t i = 0; i < 20; i++)
				write_row(f->db, t ? LSM_KIND_MERGE : LSM_KIND_PUT, series, 0, i * 2 + t % 2,
					  1u << (t % N_FIELDS), series * 1000 + (uint64_t)(t * 77 + i));
		flush(f->db);
	}
	snap_take(f->db, before);
	atomic_store(&f->clock_ns, WINDOW_NS + GRACE_NS);
	compact_ok(f->db, false);
	assert_int_equal(stats(f->db).n_files, 3);
	assert_int_equal(final_tables(f, f->db), 3);
	sst_totals(f, &entries, &bytes);
	assert_int_equal(entries, before->n); /* no key twice, none lost */
	assert_db_equals(f->db, before, "after the split final merge");
	assert_files_match(f, f->db);
	/* The window is done: nothing more to merge. */
	compact_ok(f->db, false);
	assert_int_equal(stats(f->db).compactions, 1);
	reopen_db(f);
	assert_db_equals(f->db, before, "after reopen");
	snap_free(before);
}

/* Writes n late points into closed window 0 as one table, and runs the compactions due: the data reads the same. */
static void late_table(fixture *f, int64_t from, int64_t n, uint64_t salt)
{
	snap *want = &snaps[SNAP_WANT];

	for (int64_t i = 0; i < n; i++)
		write_row(f->db, LSM_KIND_MERGE, 1 + (uint64_t)(i % 3), 0, from + i, 1u << (i % N_FIELDS),
			  salt + (uint64_t)i);
	flush(f->db);
	snap_take(f->db, want);
	compact_ok(f->db, false);
	assert_db_equals(f->db, want, "after the compactions due");
	snap_free(want);
}

/*
 * Late tables in a closed window already in final form are not merged
 * into it one by one (loading old data would rewrite the whole window at
 * every flush): they are tiered among themselves, folded in once they hold
 * a quarter of the final bytes, and folded in when the window has been
 * quiet for late_settle_ns; the data reads the same throughout.
 */
static void test_compact_late_tables_tiered(void **state)
{
	fixture *f = *state;
	snap *before = &snaps[SNAP_BEFORE];
	uint64_t written;

	f->opt.compact.live_trigger = 4;
	f->opt.compact.late_settle_ns = 10 * WINDOW_NS;
	atomic_store(&f->clock_ns, WINDOW_NS + GRACE_NS); /* window 0 is closed */
	open_db(f);
	for (int64_t i = 0; i < 3000; i++)
		write_row(f->db, LSM_KIND_PUT, 1 + (uint64_t)(i % 3), 0, i, 0x3f, (uint64_t)i);
	flush(f->db);
	compact_ok(f->db, false);
	assert_int_equal(stats(f->db).n_files, 1);
	assert_int_equal(final_tables(f, f->db), 1);

	/* Three small late tables: left beside the final form. */
	for (int t = 0; t < 3; t++)
		late_table(f, 5000 + t * 10, 10, (uint64_t)t * 100);
	assert_int_equal(stats(f->db).n_files, 4);
	assert_int_equal(final_tables(f, f->db), 1);
	/* Not due yet, but owed: the debt counts the window. */
	assert_int_equal(stats(f->db).compaction_debt_bytes, stats(f->db).file_bytes);
	written = stats(f->db).compact_bytes_written;

	/* A fourth: the four are merged into one (not final), the final form untouched. */
	late_table(f, 5100, 10, 900);
	assert_int_equal(stats(f->db).n_files, 2);
	assert_int_equal(final_tables(f, f->db), 1);
	assert_true(stats(f->db).compact_bytes_written - written < stats(f->db).file_bytes / 2);

	/* Late data of more than a quarter of the final bytes: folded in, one final table again. */
	late_table(f, 0, 1500, 7000);
	assert_int_equal(stats(f->db).n_files, 1);
	assert_int_equal(final_tables(f, f->db), 1);

	/* One small late table, then quiet: folded in after late_settle_ns. */
	late_table(f, 6000, 5, 8000);
	assert_int_equal(stats(f->db).n_files, 2);
	snap_take(f->db, before);
	atomic_store(&f->clock_ns, WINDOW_NS + GRACE_NS + 10 * WINDOW_NS);
	compact_ok(f->db, false);
	assert_int_equal(stats(f->db).n_files, 1);
	assert_int_equal(final_tables(f, f->db), 1);
	assert_int_equal(stats(f->db).compaction_debt_bytes, 0);
	assert_db_equals(f->db, before, "after the quiet window's fold");
	reopen_db(f);
	assert_db_equals(f->db, before, "after reopen");
	snap_free(before);
}

/*
 * Writes n_tables tables of incompressible rows into window 0, keys
 * overlapping, in descending key order when descending (the lowest keys are
 * then the newest).
 */
static void write_blob_tables_order(fixture *f, int n_tables, int64_t keys_per_table, size_t value_len,
				    bool descending)
{
	uint8_t v[ROW_MAX];

	for (int t = 0; t < n_tables; t++) {
		for (int64_t n = 0; n < keys_per_table; n++) {
			uint8_t k[LSM_UKEY_LEN];
			int64_t i = descending ? keys_per_table - 1 - n : n;
			int64_t key = i * 2 + (t % 2); /* half of them overwrite */

			key_of(k, 4, 0, key);
			write_entry(f->db, LSM_KIND_PUT, k, v,
				    make_blob_row(v, sizeof v, (uint64_t)(t * 100000 + key), value_len));
		}
		flush(f->db);
	}
}

static void write_blob_tables(fixture *f, int n_tables, int64_t keys_per_table, size_t value_len)
{
	write_blob_tables_order(f, n_tables, keys_per_table, value_len, false);
}

/* Outputs cut at max_file_bytes: several tables, every key once. */
static void test_compact_splits_outputs(void **state)
{
	fixture *f = *state;
	uint64_t entries, bytes;
	snap *before = &snaps[SNAP_BEFORE];
	lsm_stats st;

	f->opt.compact.live_trigger = 8;
	f->opt.compact.max_files = 100;
	f->opt.compact.max_file_bytes = 24u << 10;
	open_db(f);
	write_blob_tables(f, 8, 150, 100); /* ~16 KiB each, 300 distinct keys */
	st = stats(f->db);
	assert_int_equal(st.n_files, 8);
	snap_take(f->db, before);
	assert_int_equal(before->n, 300);

	/* A live window at live_trigger: all eight merged into a few tables. */
	compact_ok(f->db, false);
	st = stats(f->db);
	assert_int_equal(st.compactions, 1);
	assert_true(st.n_files >= 2 && st.n_files < 8);
	assert_db_equals(f->db, before, "split outputs");
	sst_totals(f, &entries, &bytes);
	assert_int_equal(entries, before->n); /* no key twice */
	assert_files_match(f, f->db);
	reopen_db(f);
	assert_db_equals(f->db, before, "split outputs after reopen");
	snap_free(before);
}

/*
 * A whole window whose merge needs several tables is "one run of tables of
 * bounded size": merging it again has nothing to gain, so lsm_compact(all)
 * returns and a second call does nothing.
 */
static void test_compact_split_window_is_done(void **state)
{
	fixture *f = *state;
	snap *before = &snaps[SNAP_BEFORE];
	lsm_stats st;

	f->opt.compact.live_trigger = 100;
	f->opt.compact.max_files = 100;
	f->opt.compact.max_file_bytes = 64u << 10;
	open_db(f);
	write_blob_tables(f, 4, 600, 200); /* ~280 KiB once merged: more than one table */
	snap_take(f->db, before);
	compact_ok(f->db, true);
	st = stats(f->db);
	assert_true(st.n_files >= 2);
	assert_db_equals(f->db, before, "whole window split");
	compact_ok(f->db, true);
	assert_int_equal(stats(f->db).compactions, st.compactions);
	assert_db_equals(f->db, before, "whole window split, again");
	snap_free(before);
}

/*
 * The same in a live window: a size-tiered merge whose output is cut into
 * tables of similar size must not take them for a new run to merge.
 */
static void test_compact_split_live_window_is_done(void **state)
{
	fixture *f = *state;
	snap *before = &snaps[SNAP_BEFORE];
	lsm_stats st;

	f->opt.compact.live_trigger = 2;
	f->opt.compact.max_files = 100;
	f->opt.compact.max_file_bytes = 12u << 10;
	open_db(f);
	/*
	 * ~33 KiB once merged: two full tables and a smaller last one. Keys
	 * written in descending order make the full tables the newest, so the
	 * sizes from the newest grow as a size-tiered run.
	 */
	write_blob_tables_order(f, 4, 150, 100, true);
	snap_take(f->db, before);
	compact_ok(f->db, false);
	st = stats(f->db);
	assert_true(st.n_files >= 2);
	assert_db_equals(f->db, before, "live window split");
	compact_ok(f->db, false);
	assert_int_equal(stats(f->db).compactions, st.compactions);
	snap_free(before);
}

/* The same for a closed window: the background thread merges it once, then rests. */
static void test_compact_split_closed_window_rests(void **state)
{
	fixture *f = *state;
	snap *before = &snaps[SNAP_BEFORE];
	lsm_stats st;
	uint64_t n;

	f->opt.compact.disable = false;
	f->opt.compact.live_trigger = 100;
	f->opt.compact.max_files = 100;
	f->opt.compact.max_file_bytes = 64u << 10;
	atomic_store(&f->clock_ns, WINDOW_NS + GRACE_NS); /* window 0 is closed */
	open_db(f);
	write_blob_tables(f, 4, 600, 200);
	snap_take(f->db, before);
	for (int i = 0; i < 200 && stats(f->db).compactions == 0; i++)
		usleep(50000);
	st = stats(f->db);
	assert_true(st.compactions >= 1);
	usleep(500000);
	n = stats(f->db).compactions;
	usleep(500000);
	if (stats(f->db).compactions != n)
		fail_msg("closed window compacted again and again: %" PRIu64 " compactions in 0.5 s with no "
			 "new table", stats(f->db).compactions - n);
	assert_int_equal(stats(f->db).compaction_debt_bytes, 0);
	assert_db_equals(f->db, before, "closed split window");
	snap_free(before);
}

/* rate_bytes_per_s bounds how fast a compaction writes. */
static void test_compact_rate_limit(void **state)
{
	fixture *f = *state;
	const uint64_t rate = 1u << 20;
	uint64_t t0, elapsed, written, floor_ns;
	snap *before = &snaps[SNAP_BEFORE];

	f->opt.compact.rate_bytes_per_s = rate;
	f->opt.memtable_bytes = 8u << 20;
	open_db(f);
	write_blob_tables(f, 3, 3000, 200); /* ~1.8 MiB of distinct keys after the merge */
	snap_take(f->db, before);
	t0 = now_ns();
	compact_ok(f->db, true);
	elapsed = now_ns() - t0;
	written = stats(f->db).compact_bytes_written;
	assert_true(written > (1u << 20));
	/* The limit is checked every 64 KiB of output; allow for that much unpaced. */
	floor_ns = (uint64_t)((double)(written - (128u << 10)) / (double)rate * 1e9 * 0.9);
	if (elapsed < floor_ns)
		fail_msg("%" PRIu64 " bytes written in %.3f s, the limit of %" PRIu64
			 " B/s allows no less than %.3f s", written, (double)elapsed / 1e9, rate,
			 (double)floor_ns / 1e9);
	assert_true(stats(f->db).compact_ns >= floor_ns);
	assert_db_equals(f->db, before, "after a paced compaction");
	snap_free(before);
}

/* A compacted database reopens whole; temporary and unlisted tables are removed at open. */
static void test_compact_reopen_removes_leftovers(void **state)
{
	fixture *f = *state;
	char path[256];
	snap *before = &snaps[SNAP_BEFORE];
	FILE *fp;

	open_db(f);
	for (int t = 0; t < 5; t++) {
		for (int64_t i = 0; i < 100; i++)
			write_row(f->db, LSM_KIND_MERGE, 5, t % 2, i, 1u << t, (uint64_t)(t * 1000 + i));
		flush(f->db);
	}
	compact_ok(f->db, true);
	assert_int_equal(stats(f->db).n_files, 2);
	snap_take(f->db, before);
	close_db(f);

	/* What a compaction killed before its edit leaves behind. */
	snprintf(path, sizeof path, "%s/sst/999999.sst.tmp", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("half a table", fp);
	fclose(fp);
	snprintf(path, sizeof path, "%s/sst/999998.sst", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("a table no manifest lists", fp);
	fclose(fp);
	assert_int_equal(sst_count(f, ".tmp"), 1);
	assert_int_equal(sst_count(f, ".sst"), 3);

	open_db(f);
	assert_int_equal(sst_count(f, ".tmp"), 0);
	assert_int_equal(sst_count(f, ".sst"), 2);
	assert_files_match(f, f->db);
	assert_db_equals(f->db, before, "after reopen");
	snap_free(before);
}

/*
 * A table write fails during a compaction, at every write in turn: the
 * call fails, its outputs vanish, its inputs stay live and read right, the
 * engine still takes writes, and a later compaction succeeds.
 */
static void test_compact_failed_write_keeps_inputs(void **state)
{
	fixture *f = *state;
	snap *before = &snaps[SNAP_BEFORE];
	lsm_stats st, st0;
	int failed = 0, skip;

	f->opt.compact.live_trigger = 8;
	f->opt.compact.max_files = 100;
	f->opt.compact.max_file_bytes = 24u << 10; /* several outputs: fail after some are done */
	open_db(f);
	write_blob_tables(f, 8, 150, 100);
	snap_take(f->db, before);
	st0 = stats(f->db);
	for (skip = 0; skip < 500; skip++) {
		int rc;

		lsm_fault_arm(skip % 2 ? LSM_FAULT_SST_SYNC : LSM_FAULT_SST_WRITE, (uint64_t)(skip / 2), EIO,
			      true);
		rc = compact_bounded(f->db, false);
		lsm_fault_reset();
		if (rc == 0)
			break;
		assert_int_equal(rc, -EIO);
		failed++;
		st = stats(f->db);
		assert_int_equal(st.error, 0);
		assert_int_equal(st.n_files, st0.n_files);
		assert_int_equal(st.file_bytes, st0.file_bytes);
		assert_int_equal(st.compactions, 0);
		assert_int_equal(st.compaction_failures, (uint64_t)failed);
		assert_files_match(f, f->db);
		assert_db_equals(f->db, before, "after a failed compaction");
	}
	assert_true(failed >= 4); /* writes and syncs of more than one output failed */
	st = stats(f->db);
	assert_int_equal(st.compactions, 1);
	assert_true(st.n_files < st0.n_files);
	assert_db_equals(f->db, before, "after the compaction that succeeded");
	assert_files_match(f, f->db);
	/* Not read-only. */
	write_row(f->db, LSM_KIND_PUT, 4, 0, 100000, 1, 1);
	flush(f->db);
	assert_int_equal(stats(f->db).error, 0);
	reopen_db(f);
	{
		uint8_t v[ROW_MAX];

		assert_key(f->db, 4, 0, 100000, v, make_row(v, sizeof v, 1, 1));
	}
	snap_free(before);
}

/*
 * The manifest write of a compaction fails: the engine goes read-only (the
 * edit may be on disk), reads stay right, and a reopen finds either the
 * inputs or the outputs, never both, and no unlisted table.
 */
static void test_compact_failed_manifest_write(void **state)
{
	fixture *f = *state;
	snap *before = &snaps[SNAP_BEFORE];
	int rc;

	f->opt.compact.live_trigger = 100;
	f->opt.compact.max_files = 100;
	open_db(f);
	write_blob_tables(f, 4, 150, 100);
	snap_take(f->db, before);
	lsm_fault_arm(LSM_FAULT_MANIFEST_SYNC, 0, EIO, false);
	rc = compact_bounded(f->db, true);
	lsm_fault_reset();
	assert_int_equal(rc, -EIO);
	assert_int_equal(stats(f->db).error, -EIO);
	assert_db_equals(f->db, before, "after a failed manifest write");
	{
		lsm_batch b;
		uint8_t k[LSM_UKEY_LEN];

		lsm_batch_init(&b);
		key_of(k, 4, 0, 1);
		assert_int_equal(lsm_batch_delete(&b, k), 0);
		assert_int_equal(lsm_write(f->db, &b, 0), STRATA_EREADONLY);
		lsm_batch_deinit(&b);
	}
	lsm_close(f->db);
	f->db = NULL;
	open_db(f);
	assert_files_match(f, f->db);
	assert_db_equals(f->db, before, "reopened after a failed manifest write");
	compact_ok(f->db, true);
	assert_int_equal(stats(f->db).n_files, 1);
	assert_db_equals(f->db, before, "compacted after the reopen");
	snap_free(before);
}


/* ---- windows of several lengths ---- */

typedef struct table_window {
	uint64_t number;
	int64_t window, window_ns;
	uint64_t first_series, last_series;
	uint32_t flags;
} table_window;

/* The window, length and series range of every table in sst/ (at most cap); returns how many. */
static size_t table_windows(const fixture *f, table_window *out, size_t cap)
{
	char path[128];
	DIR *d;
	struct dirent *de;
	size_t n = 0;

	snprintf(path, sizeof path, "%s/sst", f->dir);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char file[512];
		size_t nl = strlen(de->d_name);
		const lsm_sst_props *p;
		lsm_sst *t;

		if (nl < 5 || strcmp(de->d_name + nl - 4, ".sst") != 0)
			continue;
		assert_true(n < cap);
		snprintf(file, sizeof file, "%s/%s", path, de->d_name);
		if (lsm_sst_open(&t, file, strtoull(de->d_name, NULL, 10), NULL) != 0)
			fail_msg("open %s: %s", file, strata_last_error());
		p = lsm_sst_get_props(t);
		out[n++] = (table_window){ .number = strtoull(de->d_name, NULL, 10), .window = p->window,
					   .window_ns = p->window_ns, .first_series = lsm_ukey_series(p->smallest),
					   .last_series = lsm_ukey_series(p->largest), .flags = p->flags };
		lsm_sst_unref(t);
	}
	closedir(d);
	return n;
}

/* Tables of series `series` in windows window_ns long (their windows' bits in *mask, windows 0..63). */
static size_t tables_of(const table_window *t, size_t n, uint64_t series, int64_t window_ns, uint64_t *mask)
{
	size_t k = 0;

	*mask = 0;
	for (size_t i = 0; i < n; i++) {
		if (t[i].first_series != series || t[i].window_ns != window_ns)
			continue;
		assert_int_equal(t[i].last_series, series);
		assert_true(t[i].window >= 0 && t[i].window < 64);
		*mask |= UINT64_C(1) << t[i].window;
		k++;
	}
	return k;
}

/* A key of series at ts, written as a row of mask and salt. */
static void write_at(lsm_db *db, enum lsm_kind kind, uint64_t series, int64_t ts, unsigned mask, uint64_t salt)
{
	uint8_t k[LSM_UKEY_LEN], v[ROW_MAX];
	size_t len = kind == LSM_KIND_DELETE ? 0 : make_row(v, sizeof v, mask, salt);

	lsm_ukey_encode(k, series, ts);
	write_entry(db, kind, k, v, len);
}

/* Points of [lo, hi) of one series, read by an iterator. */
static uint64_t count_range(lsm_db *db, uint64_t series, int64_t lo, int64_t hi)
{
	uint8_t a[LSM_UKEY_LEN], b[LSM_UKEY_LEN];
	lsm_db_iter *it;
	uint64_t n = 0;

	lsm_ukey_encode(a, series, lo);
	lsm_ukey_encode(b, series, hi);
	assert_int_equal(lsm_db_iter_new(&it, db, a, b), 0);
	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it); lsm_db_iter_next(it))
		n++;
	assert_int_equal(lsm_db_iter_status(it), 0);
	lsm_db_iter_free(it);
	return n;
}

#define LEN_POINTS 10 /* points of each series in each hour */

/*
 * The expected value of series s's point j of hour h after the two phases
 * of test_compact_window_lengths: written in phase one (fields 1-4), then
 * in phase two merged with fields 5-8 (odd j), deleted (j % 4 == 2), or
 * left (j % 4 == 0); j >= LEN_POINTS are new in phase two.
 */
static size_t len_expected(uint8_t *out, uint64_t s, int64_t h, int64_t j, bool phase_two)
{
	uint64_t salt = s * 100000 + (uint64_t)h * 100 + (uint64_t)j;
	uint8_t a[ROW_MAX], b[ROW_MAX];
	size_t la, lb;

	if (j >= LEN_POINTS)
		return phase_two ? make_row(out, ROW_MAX, 0x33, salt) : 0;
	la = make_row(a, sizeof a, 0x0f, salt);
	if (!phase_two || j % 4 == 0) {
		memcpy(out, a, la);
		return la;
	}
	if (j % 4 == 2)
		return 0;
	lb = make_row(b, sizeof b, 0xf0, salt + 7);
	return fold_rows(out, a, la, b, lb);
}

static int64_t len_ts(int64_t h, int64_t j)
{
	return h * WINDOW_NS + j * (WINDOW_NS / 16);
}

static void len_check(fixture *f, bool phase_two, const char *what)
{
	uint8_t want[ROW_MAX];
	uint64_t present[3] = { 0 };

	for (uint64_t s = 1; s <= 2; s++)
		for (int64_t h = 0; h < 8; h++)
			for (int64_t j = 0; j < LEN_POINTS + 3; j++) {
				size_t len = len_expected(want, s, h, j, phase_two);
				uint8_t k[LSM_UKEY_LEN], *v = NULL;
				size_t got_len = 0;
				int rc;

				lsm_ukey_encode(k, s, len_ts(h, j));
				rc = lsm_get(f->db, k, &v, &got_len);
				if (len == 0 && rc != STRATA_ENOTFOUND)
					fail_msg("%s: series %" PRIu64 " hour %" PRId64 " #%" PRId64 ": want absent, got %s",
						 what, s, h, j, rc ? strata_strerror(rc) : "a value");
				if (len && (rc != 0 || got_len != len || memcmp(v, want, len) != 0))
					fail_msg("%s: series %" PRIu64 " hour %" PRId64 " #%" PRId64 ": wrong value (%s)",
						 what, s, h, j, rc ? strata_strerror(rc) : "bytes differ");
				if (rc == 0)
					strata_free(v);
				present[s] += len != 0;
			}
	/* Ranges that cut windows of either length, and the whole series. */
	for (uint64_t s = 1; s <= 2; s++) {
		uint64_t in_range = 0;

		for (int64_t h = 0; h < 8; h++)
			for (int64_t j = 0; j < LEN_POINTS + 3; j++)
				if (len_ts(h, j) >= len_ts(1, 5) && len_ts(h, j) < len_ts(6, 3))
					in_range += len_expected((uint8_t[ROW_MAX]){ 0 }, s, h, j, phase_two) != 0;
		assert_int_equal(count_range(f->db, s, len_ts(1, 5), len_ts(6, 3)), in_range);
		assert_int_equal(count_range(f->db, s, INT64_MIN, INT64_MAX), present[s]);
	}
}

/*
 * Two series in windows of different lengths (series 1: the engine's hour,
 * series 2: four hours), then their lengths swapped (an ALTER of their
 * policies' shard durations) and points merged into, deleted from and
 * added to the windows written before: a flush makes tables of one series
 * and one length each, and reads see exactly the points written, also
 * across a reopen and after every window is compacted.
 */
static void test_compact_window_lengths(void **state)
{
	fixture *f = *state;
	table_window t[256];
	uint64_t mask;
	size_t n;

	atomic_store(&f->lengths[2], 4 * WINDOW_NS);
	open_db(f);
	for (uint64_t s = 1; s <= 2; s++)
		for (int64_t h = 0; h < 8; h++)
			for (int64_t j = 0; j < LEN_POINTS; j++)
				write_at(f->db, LSM_KIND_PUT, s, len_ts(h, j), 0x0f, s * 100000 + (uint64_t)h * 100 + (uint64_t)j);
	flush(f->db);
	n = table_windows(f, t, 256);
	assert_int_equal(n, 8 + 2);
	assert_int_equal(tables_of(t, n, 1, WINDOW_NS, &mask), 8);
	assert_int_equal(mask, 0xff);
	assert_int_equal(tables_of(t, n, 2, 4 * WINDOW_NS, &mask), 2);
	assert_int_equal(mask, 0x3);
	assert_int_equal(stats(f->db).n_windows, 10);
	len_check(f, false, "flushed");

	/* The lengths change: points flushed from now on go to windows of the new lengths. */
	atomic_store(&f->lengths[1], 4 * WINDOW_NS);
	atomic_store(&f->lengths[2], 0);
	for (uint64_t s = 1; s <= 2; s++)
		for (int64_t h = 0; h < 8; h++)
			for (int64_t j = 0; j < LEN_POINTS + 3; j++) {
				uint64_t salt = s * 100000 + (uint64_t)h * 100 + (uint64_t)j;

				if (j >= LEN_POINTS)
					write_at(f->db, LSM_KIND_PUT, s, len_ts(h, j), 0x33, salt);
				else if (j % 2 == 1)
					write_at(f->db, LSM_KIND_MERGE, s, len_ts(h, j), 0xf0, salt + 7);
				else if (j % 4 == 2)
					write_at(f->db, LSM_KIND_DELETE, s, len_ts(h, j), 0, 0);
			}
	len_check(f, true, "in the memtable");
	flush(f->db);
	n = table_windows(f, t, 256);
	assert_int_equal(n, 10 + 2 + 8);
	assert_int_equal(tables_of(t, n, 1, 4 * WINDOW_NS, &mask), 2);
	assert_int_equal(tables_of(t, n, 2, WINDOW_NS, &mask), 8);
	len_check(f, true, "flushed after the change");
	reopen_db(f);
	len_check(f, true, "reopened");

	/*
	 * Every window compacted: the new windows hold merge operands and
	 * tombstones over points of the old ones, which must survive it.
	 */
	atomic_store(&f->clock_ns, 100 * WINDOW_NS);
	compact_ok(f->db, false);
	len_check(f, true, "closed windows compacted");
	compact_ok(f->db, true);
	len_check(f, true, "compacted");
	assert_files_match(f, f->db);
	reopen_db(f);
	len_check(f, true, "compacted and reopened");
}

/* A hook whose answer changes at every call, as an ALTER racing a flush would make it. */
static int64_t flipping_window(void *ctx, uint64_t series)
{
	fixture *f = ctx;

	(void)series;
	return atomic_fetch_add(&f->lengths[0], 1) % 2 ? 2 * WINDOW_NS : WINDOW_NS / 2;
}

/*
 * A flush asks each series' length once and writes every key of it in a
 * window of that length, however the answer changes meanwhile: no key is
 * lost between the windows it collected and those it writes.
 */
static void test_compact_flush_asks_length_once(void **state)
{
	fixture *f = *state;
	snap *got = &snaps[SNAP_GOT];
	table_window t[64];
	size_t n;

	f->opt.series_window = flipping_window;
	open_db(f);
	for (uint64_t s = 1; s <= 5; s++)
		for (int64_t m = 0; m < 8; m++)
			write_at(f->db, LSM_KIND_PUT, s, m * (WINDOW_NS / 4), 0x0f, s * 100 + (uint64_t)m);
	flush(f->db);
	snap_take(f->db, got);
	assert_int_equal(got->n, 5 * 8);
	/* Series 1, 3, 5 got half hours (four windows), 2 and 4 two hours (one). */
	n = table_windows(f, t, 64);
	assert_int_equal(n, 4 + 1);
	for (size_t i = 0; i < n; i++) {
		bool half = t[i].window_ns == WINDOW_NS / 2;

		assert_true(half || t[i].window_ns == 2 * WINDOW_NS);
		assert_int_equal(t[i].first_series, half ? 1 : 2);
		assert_int_equal(t[i].last_series, half ? 5 : 4);
	}
	snap_free(got);
}

/*
 * A series in quarter-hour windows beside one in the engine's hour: its
 * windows close at their own end plus the grace period and are merged
 * into their final form, while the hour, still open, is left alone.
 */
static void test_compact_short_windows_close(void **state)
{
	fixture *f = *state;
	snap *before = &snaps[SNAP_BEFORE];
	const int64_t quarter = WINDOW_NS / 4, minute = WINDOW_NS / 60;
	table_window t[64];
	uint64_t mask;
	size_t n, finals = 0;

	atomic_store(&f->lengths[1], quarter);
	open_db(f);
	for (int round = 0; round < 2; round++) {
		for (uint64_t s = 1; s <= 2; s++)
			for (int64_t m = 0; m < 60; m += 5)
				write_at(f->db, round ? LSM_KIND_MERGE : LSM_KIND_PUT, s, m * minute + round,
					 round ? 0xf0 : 0x0f, s * 1000 + (uint64_t)m);
		flush(f->db);
	}
	n = table_windows(f, t, 64);
	assert_int_equal(tables_of(t, n, 1, quarter, &mask), 8);
	assert_int_equal(mask, 0xf);
	assert_int_equal(tables_of(t, n, 2, WINDOW_NS, &mask), 2);
	snap_take(f->db, before);

	/* 45 min + grace: the first three quarters are closed, the fourth and the hour are not. */
	atomic_store(&f->clock_ns, 3 * quarter + GRACE_NS);
	compact_ok(f->db, false);
	n = table_windows(f, t, 64);
	assert_int_equal(n, 3 + 2 + 2);
	for (size_t i = 0; i < n; i++) {
		bool closed = t[i].window_ns == quarter && t[i].window < 3;

		if (closed)
			finals++;
		assert_int_equal((t[i].flags & LSM_SST_FLAG_FINAL) != 0, closed);
	}
	assert_int_equal(finals, 3);
	assert_db_equals(f->db, before, "closed quarters merged");

	/* The hour closes too. */
	atomic_store(&f->clock_ns, WINDOW_NS + GRACE_NS);
	compact_ok(f->db, false);
	n = table_windows(f, t, 64);
	assert_int_equal(n, 4 + 1);
	for (size_t i = 0; i < n; i++)
		assert_true(t[i].flags & LSM_SST_FLAG_FINAL);
	assert_db_equals(f->db, before, "every window merged");
	reopen_db(f);
	assert_db_equals(f->db, before, "reopened");
	snap_free(before);
}

/* ---- differential test ---- */

#define DIFF_SERIES 10
#define DIFF_PER_WINDOW 30
#define DIFF_WINDOWS 3
#define DIFF_KEYS (DIFF_SERIES * DIFF_WINDOWS * DIFF_PER_WINDOW)
#define DIFF_STEPS 150

typedef struct model_key {
	uint8_t key[LSM_UKEY_LEN];
	bool present;
	size_t len;
	uint8_t val[ROW_MAX];
} model_key;

/* What the database should hold: every key ascending, present or not. */
typedef struct model {
	model_key k[DIFF_KEYS];
} model;

/* Key index of (series, window, i): keys ascend by series, then time. */
static size_t diff_index(uint64_t series, int64_t window, int64_t i)
{
	return (size_t)((series * DIFF_WINDOWS + (uint64_t)window) * DIFF_PER_WINDOW + (uint64_t)i);
}

static void model_init(model *m)
{
	memset(m, 0, sizeof *m);
	for (uint64_t s = 0; s < DIFF_SERIES; s++)
		for (int64_t w = 0; w < DIFF_WINDOWS; w++)
			for (int64_t i = 0; i < DIFF_PER_WINDOW; i++)
				key_of(m->k[diff_index(s, w, i)].key, s + 1, w, i * 37);
}

static void model_apply(model_key *mk, enum lsm_kind kind, const uint8_t *v, size_t len)
{
	if (kind == LSM_KIND_DELETE) {
		mk->present = false;
	} else if (kind == LSM_KIND_PUT || !mk->present) {
		memcpy(mk->val, v, len);
		mk->len = len;
		mk->present = true;
	} else {
		mk->len = fold_rows(mk->val, mk->val, mk->len, v, len);
	}
}

/* A random row: some of fields 1..8 with fixed types, strings of random bytes. */
static size_t diff_row(uint8_t *out, size_t cap, uint64_t *rng)
{
	lsm_row_field fields[N_FIELDS];
	char strs[N_FIELDS][40];
	unsigned mask = 1 + (unsigned)rng_below(rng, 255);
	size_t n = 0, len;

	for (uint32_t id = 1; id <= N_FIELDS; id++) {
		if (!(mask & (1u << (id - 1))))
			continue;
		fields[n].id = id;
		if (id % 3 == 1) {
			fields[n].type = LSM_FIELD_INT;
			fields[n].v.i = (int64_t)rng_next(rng);
		} else if (id % 3 == 2) {
			fields[n].type = LSM_FIELD_FLOAT;
			fields[n].v.f = (double)rng_below(rng, 1000000) / 7.0;
		} else {
			size_t sl = (size_t)rng_below(rng, sizeof strs[n]);

			for (size_t i = 0; i < sl; i++)
				strs[n][i] = (char)rng_next(rng);
			fields[n].type = LSM_FIELD_STRING;
			fields[n].v.s.p = strs[n];
			fields[n].v.s.len = sl;
		}
		n++;
	}
	len = lsm_row_encode(out, cap, fields, n);
	assert_true(len > 0);
	return len;
}

typedef struct diff_ctx {
	fixture *f;
	model *m;
	uint64_t rng;
	unsigned long long seed;
	int step;
	const char *what;
	uint8_t touched[DIFF_KEYS]; /* written since the last check */
	lsm_batch batch;
} diff_ctx;

/* The round under way, freed by teardown if it fails. */
static diff_ctx *diff_live;

static void diff_release(void)
{
	if (!diff_live)
		return;
	lsm_batch_deinit(&diff_live->batch);
	free(diff_live->m);
	free(diff_live);
	diff_live = NULL;
}

#define DIFF_FAIL(d, fmt, ...)                                                                         \
	fail_msg("seed %llu step %d (%s): " fmt, (d)->seed, (d)->step, (d)->what, __VA_ARGS__)

static void diff_get(diff_ctx *d, size_t i)
{
	const model_key *mk = &d->m->k[i];
	uint8_t *v = NULL;
	size_t len = 0;
	int rc = lsm_get(d->f->db, mk->key, &v, &len);

	if (!mk->present) {
		if (rc == 0)
			strata_free(v);
		if (rc != STRATA_ENOTFOUND)
			DIFF_FAIL(d, "get series %" PRIu64 " ts %" PRId64 ": want absent, got %s",
				  lsm_ukey_series(mk->key), lsm_ukey_ts(mk->key),
				  rc ? strata_strerror(rc) : "a value");
		return;
	}
	if (rc)
		DIFF_FAIL(d, "get series %" PRIu64 " ts %" PRId64 ": %s", lsm_ukey_series(mk->key),
			  lsm_ukey_ts(mk->key), strata_strerror(rc));
	if (len != mk->len || memcmp(v, mk->val, len) != 0) {
		strata_free(v);
		DIFF_FAIL(d, "get series %" PRIu64 " ts %" PRId64 ": wrong value (%zu bytes, want %zu)",
			  lsm_ukey_series(mk->key), lsm_ukey_ts(mk->key), len, mk->len);
	}
	strata_free(v);
}

/* The whole database by iteration; point reads of every key when all, else of some. */
static void diff_check(diff_ctx *d, bool all)
{
	lsm_db_iter *it = iter_all(d->f->db);
	const model *m = d->m;
	size_t mi = 0;

	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it); lsm_db_iter_next(it)) {
		const uint8_t *k = lsm_db_iter_key(it);
		const uint8_t *v;
		size_t len;

		for (; mi < DIFF_KEYS && memcmp(m->k[mi].key, k, LSM_UKEY_LEN) < 0; mi++)
			if (m->k[mi].present)
				DIFF_FAIL(d, "series %" PRIu64 " ts %" PRId64 " missing from the iteration",
					  lsm_ukey_series(m->k[mi].key), lsm_ukey_ts(m->k[mi].key));
		if (mi == DIFF_KEYS || memcmp(m->k[mi].key, k, LSM_UKEY_LEN) != 0 || !m->k[mi].present)
			DIFF_FAIL(d, "series %" PRIu64 " ts %" PRId64 " iterated, should be absent",
				  lsm_ukey_series(k), lsm_ukey_ts(k));
		v = lsm_db_iter_value(it, &len);
		if (len != m->k[mi].len || memcmp(v, m->k[mi].val, len) != 0)
			DIFF_FAIL(d, "series %" PRIu64 " ts %" PRId64 " iterated with a wrong value "
				  "(%zu bytes, want %zu)",
				  lsm_ukey_series(k), lsm_ukey_ts(k), len, m->k[mi].len);
		mi++;
	}
	if (lsm_db_iter_status(it))
		DIFF_FAIL(d, "iteration: %s", strata_strerror(lsm_db_iter_status(it)));
	lsm_db_iter_free(it);
	for (; mi < DIFF_KEYS; mi++)
		if (m->k[mi].present)
			DIFF_FAIL(d, "series %" PRIu64 " ts %" PRId64 " missing at the end of the iteration",
				  lsm_ukey_series(m->k[mi].key), lsm_ukey_ts(m->k[mi].key));
	for (size_t i = 0; i < DIFF_KEYS; i++)
		if (all || d->touched[i] || rng_below(&d->rng, 16) == 0)
			diff_get(d, i);
	memset(d->touched, 0, sizeof d->touched);
	if (stats(d->f->db).error)
		DIFF_FAIL(d, "engine error %s", strata_strerror(stats(d->f->db).error));
}

/* Adds one random entry for key i to b and to the model. */
static void diff_entry(diff_ctx *d, lsm_batch *b, size_t i, unsigned put_pct, unsigned del_pct)
{
	uint64_t r = rng_below(&d->rng, 100);
	enum lsm_kind kind = LSM_KIND_MERGE;
	uint8_t v[ROW_MAX];
	size_t len;

	if (r < put_pct)
		kind = LSM_KIND_PUT;
	else if (r >= 100 - del_pct)
		kind = LSM_KIND_DELETE;
	len = kind == LSM_KIND_DELETE ? 0 : diff_row(v, sizeof v, &d->rng);

	if (kind == LSM_KIND_PUT)
		assert_int_equal(lsm_batch_put(b, d->m->k[i].key, v, len), 0);
	else if (kind == LSM_KIND_MERGE)
		assert_int_equal(lsm_batch_merge(b, d->m->k[i].key, v, len), 0);
	else
		assert_int_equal(lsm_batch_delete(b, d->m->k[i].key), 0);
	model_apply(&d->m->k[i], kind, v, len);
	d->touched[i] = 1;
}

static void diff_write(diff_ctx *d, lsm_batch *b)
{
	int rc = lsm_write(d->f->db, b, LSM_WRITE_NOSYNC);

	if (rc)
		DIFF_FAIL(d, "write: %s", strata_last_error());
	lsm_batch_clear(b);
}

/*
 * A window length for a series: the engine's hour, half of it or twice it,
 * as retention policies' shard durations give them (windows of different
 * lengths then share time).
 */
static int64_t diff_length(diff_ctx *d)
{
	static const int64_t lengths[] = { 0, WINDOW_NS / 2, 2 * WINDOW_NS };

	return lengths[rng_below(&d->rng, 3)];
}

static void diff_options(diff_ctx *d)
{
	static const uint64_t file_bytes[] = { 1u << 20, 2u << 10 };
	lsm_compact_options *c = &d->f->opt.compact;

	d->f->opt.memtable_bytes = (size_t)(8u << 10) << rng_below(&d->rng, 4);
	c->disable = rng_below(&d->rng, 3) != 0;
	c->live_trigger = 2 + (unsigned)rng_below(&d->rng, 3);
	c->max_files = c->live_trigger + 1 + (unsigned)rng_below(&d->rng, 6);
	c->max_file_bytes = file_bytes[rng_below(&d->rng, 2)];
	/* Final merges split among 1 to 3 threads, from any size on or past the default. */
	c->final_threads = 1 + (unsigned)rng_below(&d->rng, 3);
	c->final_split_bytes = rng_below(&d->rng, 2) ? 0 : (uint64_t)16 << 20;
	c->final_split_quiet_ns = 0;
}

static void diff_round(fixture *f, unsigned long long seed)
{
	diff_ctx *d = calloc(1, sizeof *d);
	lsm_batch *b;

	assert_non_null(d);
	diff_live = d;
	lsm_batch_init(&d->batch);
	b = &d->batch;
	d->m = calloc(1, sizeof *d->m);
	assert_non_null(d->m);
	d->f = f;
	d->seed = seed;
	d->rng = seed;
	d->what = "open";
	model_init(d->m);
	atomic_store(&f->clock_ns, 0);
	for (uint64_t s = 1; s <= DIFF_SERIES; s++)
		atomic_store(&f->lengths[s], rng_below(&d->rng, 2) ? diff_length(d) : 0);
	diff_options(d);
	open_db(f);
	for (d->step = 0; d->step < DIFF_STEPS; d->step++) {
		uint64_t r = rng_below(&d->rng, 100);
		bool all = false;

		if (r < 38) {
			/*
			 * Small writes, mostly into the current window (they move
			 * on as the round goes, as time does), some into any window:
			 * late writes once the clock has closed it.
			 */
			int n = 1 + (int)rng_below(&d->rng, 12);
			int64_t w = rng_below(&d->rng, 4) ? (int64_t)d->step * DIFF_WINDOWS / DIFF_STEPS
							  : (int64_t)rng_below(&d->rng, DIFF_WINDOWS);
			bool spread = rng_below(&d->rng, 8) == 0;

			d->what = "write";
			for (int i = 0; i < n; i++) {
				int64_t wi = spread ? (int64_t)rng_below(&d->rng, DIFF_WINDOWS) : w;

				uint64_t series = rng_below(&d->rng, DIFF_SERIES);
				int64_t i_key = (int64_t)rng_below(&d->rng, DIFF_PER_WINDOW);

				diff_entry(d, b, diff_index(series, wi, i_key), 35, 20);
			}
			diff_write(d, b);
		} else if (r < 45) {
			/* A bulk load of one window, flushed: a big table under later small ones. */
			int64_t w = (int64_t)rng_below(&d->rng, DIFF_WINDOWS);

			d->what = "bulk";
			for (uint64_t s = 0; s < DIFF_SERIES; s++)
				for (int64_t i = 0; i < DIFF_PER_WINDOW; i++)
					if (rng_below(&d->rng, 3) != 0)
						diff_entry(d, b, diff_index(s, w, i), 70, 5);
			diff_write(d, b);
			flush(f->db);
		} else if (r < 66) {
			d->what = "flush";
			flush(f->db);
		} else if (r < 70) {
			/* A series' window length changes (an ALTER of its policy's shard duration). */
			d->what = "window length";
			atomic_store(&f->lengths[1 + rng_below(&d->rng, DIFF_SERIES)], diff_length(d));
		} else if (r < 80) {
			d->what = "compact";
			compact_ok(f->db, false);
			all = true;
		} else if (r < 84) {
			d->what = "compact all";
			compact_ok(f->db, true);
			all = true;
		} else if (r < 89) {
			/* Time moves on: the windows close one after the other. */
			d->what = "clock";
			atomic_fetch_add(&f->clock_ns, (int64_t)rng_below(&d->rng, (uint64_t)WINDOW_NS / 3));
		} else if (r < 95) {
			d->what = "reopen";
			close_db(f);
			diff_options(d);
			open_db(f);
			all = true;
		} else {
			/* An iterator made before a compaction reads what it pinned. */
			snap *want = &snaps[SNAP_WANT], *got = &snaps[SNAP_GOT];
			lsm_db_iter *it;

			d->what = "iterator across a compaction";
			snap_take(f->db, want);
			it = iter_all(f->db);
			compact_ok(f->db, rng_below(&d->rng, 2));
			snap_from_iter(it, got);
			lsm_db_iter_free(it);
			snap_assert_equal(want, got, "iterator across a compaction");
			snap_free(want);
			snap_free(got);
		}
		diff_check(d, all);
	}
	/* The end: everything compacted, reopened, as the model says. */
	d->what = "final compaction";
	compact_ok(f->db, true);
	diff_check(d, true);
	close_db(f);
	f->opt.compact.disable = true;
	open_db(f);
	d->what = "final reopen";
	diff_check(d, true);
	assert_files_match(f, f->db);
	close_db(f);
	diff_release();
}

static void test_compact_differential(void **state)
{
	fixture *f = *state;
	const char *rounds_env = getenv("STRATA_COMPACT_ROUNDS");
	const char *seed_env = getenv("STRATA_COMPACT_SEED");
	unsigned long long seed = seed_env ? strtoull(seed_env, NULL, 10) : (unsigned long long)time(NULL);
	int rounds = rounds_env ? atoi(rounds_env) : 0;
	uint64_t start = now_ns();
	int done = 0;

	printf("differential: seed %llu, %s\n", seed,
	       rounds_env ? "rounds from STRATA_COMPACT_ROUNDS" : "about 3 s");
	fflush(stdout);
	/* Each round a fresh database and a seed of its own (failures print it). */
	for (int round = 0; round < 1000000; round++) {
		if (rounds ? round >= rounds : round > 0 && now_ns() - start > UINT64_C(3000000000))
			break;
		test_remove_tree(f->dir);
		assert_int_equal(mkdir(f->dir, 0755), 0);
		diff_round(f, mix64(seed + (unsigned long long)round));
		done++;
	}
	printf("differential: %d rounds\n", done);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_compact_many_tables_read_the_same, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_space_amplification, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_merges_fields_across_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_partial_run_keeps_older_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_drops_tombstones_at_the_bottom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_closed_window_in_background, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_late_tables_tiered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_splits_outputs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_final_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_split_window_is_done, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_split_live_window_is_done, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_split_closed_window_rests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_rate_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_reopen_removes_leftovers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_failed_write_keeps_inputs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_failed_manifest_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_window_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_short_windows_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_flush_asks_length_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_differential, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
