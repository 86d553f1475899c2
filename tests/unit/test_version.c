/*
 * test_version.c — version edits, versions and the manifest (lsm/version.c).
 *
 * Tables here are dummy files at lsm_sst_path: the version set only opens a
 * table when lsm_file_table is called, so everything but that call works on
 * any bytes. Each case uses its own mkdtemp directory, removed at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lsm/alloc.h"
#include "lsm/coding.h"
#include "lsm/fault.h"
#include "lsm/log.h"
#include "lsm/lsm.h"
#include "lsm/record.h"
#include "lsm/row.h"
#include "lsm/sstable_builder.h"
#include "lsm/sstable_format.h"
#include "lsm/status.h"
#include "lsm/version.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* ---- helpers ------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static char *make_tmpdir(void)
{
	char tmpl[] = "/tmp/strata-test-XXXXXX";
	char *dir = mkdtemp(tmpl);

	assert_non_null(dir);
	return strata_strdup(dir);
}

static void remove_tmpdir(char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	strata_free(dir);
}

static lsm_sst_props make_props(int64_t window, uint64_t min_seq, uint64_t max_seq, uint64_t bytes)
{
	lsm_sst_props p;
	uint8_t uk[LSM_UKEY_LEN];

	memset(&p, 0, sizeof p);
	lsm_ukey_encode(uk, 7, window * 1000);
	lsm_ikey_encode(p.smallest, uk, max_seq, LSM_KIND_PUT);
	lsm_ukey_encode(uk, 9, window * 1000 + 999);
	lsm_ikey_encode(p.largest, uk, min_seq, LSM_KIND_PUT);
	p.window = window;
	p.window_ns = 1000;
	p.min_ts = window * 1000;
	p.max_ts = window * 1000 + 999;
	p.min_seq = min_seq;
	p.max_seq = max_seq;
	p.n_entries = max_seq - min_seq + 1;
	p.n_series = 3;
	p.n_data_blocks = 2;
	p.raw_bytes = bytes * 3;
	p.file_bytes = bytes;
	return p;
}

static void touch_sst(const char *dir, uint64_t number)
{
	char path[PATH_MAX];
	FILE *f;

	lsm_sst_path(path, sizeof path, dir, number);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("not really a table\n", f);
	fclose(f);
}

static bool sst_exists(const char *dir, uint64_t number)
{
	char path[PATH_MAX];

	lsm_sst_path(path, sizeof path, dir, number);
	return access(path, F_OK) == 0;
}

static bool path_exists(const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

/* The manifest CURRENT names, as a path. */
static void current_manifest(const char *dir, char *out, size_t out_len)
{
	char path[PATH_MAX], line[64] = { 0 };
	FILE *f;

	snprintf(path, sizeof path, "%s/CURRENT", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof line, f));
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	snprintf(out, out_len, "%s/%s", dir, line);
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

static int count_manifests(const char *dir)
{
	char name[64];
	int n = 0;

	for (uint64_t i = 0; i < 2000; i++) {
		snprintf(name, sizeof name, "MANIFEST-%06" PRIu64, i);
		if (path_exists(dir, name))
			n++;
	}
	return n;
}

static void flip_byte(const char *path, uint64_t offset)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, (off_t)offset), 1);
	b ^= 0x5a;
	assert_int_equal(pwrite(fd, &b, 1, (off_t)offset), 1);
	close(fd);
}

/* Adds one file numbered from vs, with a dummy file on disk. */
static uint64_t add_file(lsm_versions *vs, const char *dir, lsm_version_edit *e, int64_t window,
			 uint64_t min_seq, uint64_t max_seq)
{
	uint64_t n = lsm_versions_new_file_number(vs);
	lsm_sst_props p = make_props(window, min_seq, max_seq, 1000 + n);

	touch_sst(dir, n);
	assert_int_equal(lsm_version_edit_add_file(e, n, &p), 0);
	return n;
}

static int apply_add(lsm_versions *vs, const char *dir, int64_t window, uint64_t seq, uint64_t *out_number)
{
	lsm_version_edit e;
	int rc;

	lsm_version_edit_init(&e);
	*out_number = add_file(vs, dir, &e, window, seq, seq);
	e.has_last_seq = true;
	e.last_seq = seq;
	rc = lsm_versions_apply(vs, &e);
	lsm_version_edit_deinit(&e);
	return rc;
}

static int apply_delete(lsm_versions *vs, uint64_t number)
{
	lsm_version_edit e;
	int rc;

	lsm_version_edit_init(&e);
	assert_int_equal(lsm_version_edit_delete_file(&e, number), 0);
	rc = lsm_versions_apply(vs, &e);
	lsm_version_edit_deinit(&e);
	return rc;
}

/* The live file numbers of the current version, sorted, into out (cap entries); returns the count. */
static size_t live_numbers(lsm_versions *vs, uint64_t *out, size_t cap)
{
	lsm_version *v = lsm_versions_current(vs);
	size_t n = 0;

	for (size_t w = 0; w < v->n_windows; w++)
		for (size_t i = 0; i < v->windows[w].n_files; i++) {
			assert_true(n < cap);
			out[n++] = v->windows[w].files[i]->number;
		}
	lsm_version_unref(v);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
			uint64_t t = out[j];

			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

/* Checks the ordering invariants of v: windows ascending by start then length, newest first within one. */
static void check_version_order(const lsm_version *v)
{
	for (size_t w = 0; w < v->n_windows; w++) {
		const lsm_window_files *wf = &v->windows[w];

		assert_true(wf->n_files > 0);
		assert_true(wf->window_ns <= v->max_window_ns);
		if (w > 0)
			assert_true(v->windows[w - 1].first_ns < wf->first_ns ||
				    (v->windows[w - 1].first_ns == wf->first_ns && v->windows[w - 1].window_ns < wf->window_ns));
		for (size_t i = 0; i < wf->n_files; i++) {
			assert_int_equal(wf->files[i]->props.window, wf->window);
			assert_int_equal(wf->files[i]->props.window_ns, wf->window_ns);
			if (i > 0) {
				const lsm_file *a = wf->files[i - 1], *b = wf->files[i];

				assert_true(a->props.max_seq > b->props.max_seq ||
					    (a->props.max_seq == b->props.max_seq && a->number > b->number));
			}
		}
	}
}

static void props_equal(const lsm_sst_props *a, const lsm_sst_props *b)
{
	assert_memory_equal(a->smallest, b->smallest, LSM_IKEY_LEN);
	assert_memory_equal(a->largest, b->largest, LSM_IKEY_LEN);
	assert_int_equal(a->window, b->window);
	assert_int_equal(a->window_ns, b->window_ns);
	assert_int_equal(a->min_ts, b->min_ts);
	assert_int_equal(a->max_ts, b->max_ts);
	assert_int_equal(a->min_seq, b->min_seq);
	assert_int_equal(a->max_seq, b->max_seq);
	assert_int_equal(a->n_entries, b->n_entries);
	assert_int_equal(a->n_series, b->n_series);
	assert_int_equal(a->n_data_blocks, b->n_data_blocks);
	assert_int_equal(a->raw_bytes, b->raw_bytes);
	assert_int_equal(a->file_bytes, b->file_bytes);
}

/* ---- edits ---------------------------------------------------------------- */

static void fill_edit(lsm_version_edit *e)
{
	lsm_sst_props p1 = make_props(19000, 10, 20, 4096);
	lsm_sst_props p2 = make_props(-3, 1, 1, 1);
	lsm_sst_props p3 = make_props(0, 0, UINT64_C(1) << 55, UINT64_MAX);

	p2.min_ts = INT64_MIN;
	p2.max_ts = INT64_MIN + 1;
	p3.raw_bytes = UINT64_MAX;
	e->has_log_number = true;
	e->log_number = 17;
	e->has_next_file = true;
	e->next_file = UINT64_MAX;
	e->has_last_seq = true;
	e->last_seq = 300;
	assert_int_equal(lsm_version_edit_add_file(e, 5, &p1), 0);
	assert_int_equal(lsm_version_edit_add_file(e, 6, &p2), 0);
	assert_int_equal(lsm_version_edit_add_file(e, UINT64_C(1) << 40, &p3), 0);
	assert_int_equal(lsm_version_edit_delete_file(e, 2), 0);
	assert_int_equal(lsm_version_edit_delete_file(e, 0), 0);
}

static void test_version_edit_roundtrip(void **state)
{
	lsm_version_edit e, d;
	uint8_t *buf;
	size_t len;

	(void)state;
	lsm_version_edit_init(&e);
	lsm_version_edit_init(&d);
	fill_edit(&e);
	/* Enough entries to grow the arrays past their first capacity. */
	for (uint64_t i = 0; i < 20; i++) {
		lsm_sst_props p = make_props((int64_t)i, i, i + 1, i);

		assert_int_equal(lsm_version_edit_add_file(&e, 100 + i, &p), 0);
		assert_int_equal(lsm_version_edit_delete_file(&e, 200 + i), 0);
	}
	assert_int_equal(lsm_version_edit_encode(&e, &buf, &len), 0);
	assert_int_equal(lsm_version_edit_decode(&d, buf, len), 0);
	assert_true(d.has_log_number && d.has_next_file && d.has_last_seq);
	assert_int_equal(d.log_number, 17);
	assert_int_equal(d.next_file, UINT64_MAX);
	assert_int_equal(d.last_seq, 300);
	assert_int_equal(d.n_added, e.n_added);
	assert_int_equal(d.n_deleted, e.n_deleted);
	for (size_t i = 0; i < e.n_added; i++) {
		assert_int_equal(d.added_numbers[i], e.added_numbers[i]);
		props_equal(&d.added_props[i], &e.added_props[i]);
	}
	for (size_t i = 0; i < e.n_deleted; i++)
		assert_int_equal(d.deleted_numbers[i], e.deleted_numbers[i]);
	strata_free(buf);

	/* An empty edit round-trips to an empty one, clearing what d held. */
	lsm_version_edit_deinit(&e);
	assert_int_equal(lsm_version_edit_encode(&e, &buf, &len), 0);
	assert_int_equal(len, 1);
	assert_int_equal(lsm_version_edit_decode(&d, buf, len), 0);
	assert_false(d.has_log_number || d.has_next_file || d.has_last_seq);
	assert_int_equal(d.n_added, 0);
	assert_int_equal(d.n_deleted, 0);
	strata_free(buf);
	lsm_version_edit_deinit(&d);
}

static void test_version_edit_truncation_is_corrupt(void **state)
{
	lsm_version_edit e, d;
	uint8_t *buf, *copy;
	size_t len;

	(void)state;
	lsm_version_edit_init(&e);
	lsm_version_edit_init(&d);
	fill_edit(&e);
	assert_int_equal(lsm_version_edit_encode(&e, &buf, &len), 0);
	for (size_t cut = 0; cut < len; cut++) {
		/* A heap copy of exactly cut bytes, so ASan sees any overread. */
		copy = strata_malloc(cut ? cut : 1);
		assert_non_null(copy);
		memcpy(copy, buf, cut);
		assert_int_equal(lsm_version_edit_decode(&d, copy, cut), STRATA_ECORRUPT);
		strata_free(copy);
	}
	/* Trailing bytes after the end tag. */
	copy = strata_malloc(len + 1);
	assert_non_null(copy);
	memcpy(copy, buf, len);
	copy[len] = 0;
	assert_int_equal(lsm_version_edit_decode(&d, copy, len + 1), STRATA_ECORRUPT);
	strata_free(copy);
	strata_free(buf);
	lsm_version_edit_deinit(&e);
	lsm_version_edit_deinit(&d);
}

static void test_version_edit_malformed_is_corrupt(void **state)
{
	static const uint8_t unknown_tag[] = { 9, 1, 0 };
	static const uint8_t repeated[] = { 1, 5, 1, 6, 0 };
	static const uint8_t overlong[] = { 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0 };
	lsm_version_edit e, d;
	lsm_sst_props p = make_props(1, 5, 9, 10);
	uint8_t *buf;
	size_t len;

	(void)state;
	lsm_version_edit_init(&d);
	assert_int_equal(lsm_version_edit_decode(&d, unknown_tag, sizeof unknown_tag), STRATA_ECORRUPT);
	assert_int_equal(lsm_version_edit_decode(&d, repeated, sizeof repeated), STRATA_ECORRUPT);
	assert_int_equal(lsm_version_edit_decode(&d, overlong, sizeof overlong), STRATA_ECORRUPT);

	/* Properties that cannot describe a table: min_seq above max_seq. */
	lsm_version_edit_init(&e);
	p.min_seq = 10;
	assert_int_equal(lsm_version_edit_add_file(&e, 3, &p), 0);
	assert_int_equal(lsm_version_edit_encode(&e, &buf, &len), 0);
	assert_int_equal(lsm_version_edit_decode(&d, buf, len), STRATA_ECORRUPT);
	strata_free(buf);
	lsm_version_edit_deinit(&e);
	lsm_version_edit_deinit(&d);
}

/* ---- versions and the manifest -------------------------------------------- */

static void test_version_open_missing_without_create(void **state)
{
	char *dir = make_tmpdir();
	lsm_versions *vs = (lsm_versions *)&vs;

	(void)state;
	assert_int_equal(lsm_versions_open(&vs, dir, NULL, false), STRATA_ENOTFOUND);
	assert_null(vs);
	assert_false(path_exists(dir, "CURRENT"));
	assert_false(path_exists(dir, "sst"));
	remove_tmpdir(dir);
}

static void test_version_reopen_keeps_state(void **state)
{
	char *dir = make_tmpdir();
	lsm_versions *vs;
	lsm_version_edit e;
	lsm_version *v;
	uint64_t nums[8], got[8], max_number = 0, files, bytes, expect_bytes = 0;
	lsm_sst_props props[8];
	size_t n;

	(void)state;
	assert_int_equal(lsm_versions_open(&vs, dir, NULL, true), 0);
	assert_true(path_exists(dir, "CURRENT"));
	assert_true(path_exists(dir, "sst"));
	assert_int_equal(lsm_versions_log_number(vs), 0);
	assert_int_equal(lsm_versions_last_seq(vs), 0);

	lsm_version_edit_init(&e);
	/* Windows out of order, two files per window with different max_seq. */
	nums[0] = add_file(vs, dir, &e, 5, 1, 10);
	nums[1] = add_file(vs, dir, &e, -2, 1, 10);
	nums[2] = add_file(vs, dir, &e, 5, 11, 20);
	nums[3] = add_file(vs, dir, &e, 3, 1, 10);
	for (int i = 0; i < 4; i++)
		props[i] = e.added_props[i];
	e.has_log_number = true;
	e.log_number = 4;
	e.has_last_seq = true;
	e.last_seq = 20;
	assert_int_equal(lsm_versions_apply(vs, &e), 0);
	assert_true(e.has_next_file);
	lsm_version_edit_deinit(&e);

	lsm_version_edit_init(&e);
	nums[4] = add_file(vs, dir, &e, 3, 11, 10 + 20); /* newest of window 3 */
	nums[5] = add_file(vs, dir, &e, 3, 1, 10);       /* same max_seq as nums[3]: higher number first */
	props[4] = e.added_props[0];
	props[5] = e.added_props[1];
	assert_int_equal(lsm_version_edit_delete_file(&e, nums[1]), 0);
	e.has_log_number = true;
	e.log_number = 9;
	e.has_last_seq = true;
	e.last_seq = 35;
	assert_int_equal(lsm_versions_apply(vs, &e), 0);
	lsm_version_edit_deinit(&e);
	for (int i = 0; i < 6; i++)
		max_number = nums[i] > max_number ? nums[i] : max_number;
	assert_int_equal(lsm_versions_log_number(vs), 9);
	assert_int_equal(lsm_versions_last_seq(vs), 35);

	v = lsm_versions_current(vs);
	check_version_order(v);
	assert_int_equal(v->n_windows, 2);
	assert_int_equal(v->windows[0].window, 3);
	assert_int_equal(v->windows[0].n_files, 3);
	assert_int_equal(v->windows[0].files[0]->number, nums[4]);
	assert_int_equal(v->windows[0].files[1]->number, nums[5]);
	assert_int_equal(v->windows[0].files[2]->number, nums[3]);
	assert_int_equal(v->windows[1].window, 5);
	assert_int_equal(v->windows[1].files[0]->number, nums[2]);
	assert_int_equal(v->windows[1].files[1]->number, nums[0]);
	/* Windows 3 and 5 of 1000 ns: [3000, 3999] and [5000, 5999]. */
	assert_int_equal(v->windows[0].first_ns, 3000);
	assert_int_equal(v->windows[0].last_ns, 3999);
	assert_int_equal(lsm_version_first_overlap(v, INT64_MIN), 0);
	assert_int_equal(lsm_version_first_overlap(v, 3000), 0);
	assert_int_equal(lsm_version_first_overlap(v, 3999), 0);
	assert_int_equal(lsm_version_first_overlap(v, 4000), 1);
	assert_int_equal(lsm_version_first_overlap(v, 5999), 1);
	assert_int_equal(lsm_version_first_overlap(v, 6000), 2);
	lsm_version_unref(v);
	lsm_versions_totals(vs, &files, &bytes);
	assert_int_equal(files, 5);
	for (int i = 0; i < 6; i++)
		if (i != 1)
			expect_bytes += props[i].file_bytes;
	assert_int_equal(bytes, expect_bytes);
	lsm_versions_close(vs);
	/* Closing deletes nothing. */
	for (int i = 0; i < 6; i++)
		if (i != 1)
			assert_true(sst_exists(dir, nums[i]));

	for (int round = 0; round < 2; round++) {
		assert_int_equal(lsm_versions_open(&vs, dir, NULL, false), 0);
		assert_int_equal(lsm_versions_log_number(vs), 9);
		assert_int_equal(lsm_versions_last_seq(vs), 35);
		assert_true(lsm_versions_new_file_number(vs) > max_number);
		n = live_numbers(vs, got, 8);
		assert_int_equal(n, 5);
		v = lsm_versions_current(vs);
		check_version_order(v);
		assert_int_equal(v->windows[0].files[0]->number, nums[4]);
		for (size_t w = 0; w < v->n_windows; w++)
			for (size_t i = 0; i < v->windows[w].n_files; i++)
				for (int k = 0; k < 6; k++)
					if (nums[k] == v->windows[w].files[i]->number)
						props_equal(&v->windows[w].files[i]->props, &props[k]);
		lsm_version_unref(v);
		assert_int_equal(count_manifests(dir), 1);
		assert_false(path_exists(dir, "CURRENT.tmp"));
		lsm_versions_close(vs);
	}
	remove_tmpdir(dir);
}

/* A tiny generator, so the sequence of edits is the same on every run. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void check_live(lsm_versions *vs, const uint64_t *model, size_t n_model)
{
	uint64_t got[512];
	size_t n = live_numbers(vs, got, 512);
	lsm_version *v;

	assert_int_equal(n, n_model);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(got[i], model[i]);
	v = lsm_versions_current(vs);
	check_version_order(v);
	lsm_version_unref(v);
}

/* Random adds and deletes against a model; roll_bytes small to force roll-overs when asked. */
static void run_many_applies(uint64_t roll_bytes)
{
	char *dir = make_tmpdir();
	lsm_versions *vs;
	uint64_t model[512], seed = 0x9e3779b97f4a7c15u, seq = 0, max_number = 0;
	char first[PATH_MAX], now[PATH_MAX];
	size_t n_model = 0;
	int rolls = 0;

	assert_int_equal(lsm_versions_open(&vs, dir, NULL, true), 0);
	if (roll_bytes)
		lsm_versions_set_manifest_roll_bytes(vs, roll_bytes);
	current_manifest(dir, first, sizeof first);
	for (int step = 0; step < 300; step++) {
		lsm_version_edit e;
		int adds = (int)(next_rand(&seed) % 3), dels = n_model ? (int)(next_rand(&seed) % 3) : 0;

		lsm_version_edit_init(&e);
		for (int i = 0; i < adds && n_model + (size_t)i < 400; i++) {
			uint64_t n;

			seq += 10;
			n = add_file(vs, dir, &e, (int64_t)(next_rand(&seed) % 20) - 5, seq - 9, seq);
			max_number = n > max_number ? n : max_number;
		}
		for (int i = 0; i < dels && (size_t)i < n_model; i++) {
			size_t pick = (size_t)(next_rand(&seed) % n_model);

			assert_int_equal(lsm_version_edit_delete_file(&e, model[pick]), 0);
			model[pick] = model[--n_model];
		}
		for (size_t i = 0; i < e.n_added; i++)
			model[n_model++] = e.added_numbers[i];
		e.has_last_seq = true;
		e.last_seq = seq;
		e.has_log_number = true;
		e.log_number = (uint64_t)step;
		assert_int_equal(lsm_versions_apply(vs, &e), 0);
		/* Deleted files are gone at once: no reader pins them. */
		for (size_t i = 0; i < e.n_deleted; i++)
			assert_false(sst_exists(dir, e.deleted_numbers[i]));
		lsm_version_edit_deinit(&e);
		current_manifest(dir, now, sizeof now);
		if (strcmp(now, first) != 0) {
			rolls++;
			strcpy(first, now);
		}
		if (roll_bytes)
			assert_int_equal(count_manifests(dir), 1);
	}
	for (size_t i = 1; i < n_model; i++)
		for (size_t j = i; j > 0 && model[j - 1] > model[j]; j--) {
			uint64_t t = model[j];

			model[j] = model[j - 1];
			model[j - 1] = t;
		}
	check_live(vs, model, n_model);
	if (roll_bytes)
		assert_true(rolls >= 5);
	else
		assert_int_equal(rolls, 0);
	lsm_versions_close(vs);

	assert_int_equal(lsm_versions_open(&vs, dir, NULL, false), 0);
	check_live(vs, model, n_model);
	assert_int_equal(lsm_versions_last_seq(vs), seq);
	assert_int_equal(lsm_versions_log_number(vs), 299);
	assert_true(lsm_versions_new_file_number(vs) > max_number);
	for (size_t i = 0; i < n_model; i++)
		assert_true(sst_exists(dir, model[i]));
	lsm_versions_close(vs);
	remove_tmpdir(dir);
}

static void test_version_many_applies_then_reopen(void **state)
{
	(void)state;
	run_many_applies(0);
}

static void test_version_manifest_rollover(void **state)
{
	(void)state;
	run_many_applies(2048);
}

/* Opens dir fresh and applies three one-file edits; returns the manifest and each edit's offset. */
static void three_edits(const char *dir, char *manifest, size_t manifest_len, uint64_t off[4],
			uint64_t nums[3])
{
	lsm_versions *vs;

	assert_int_equal(lsm_versions_open(&vs, dir, NULL, true), 0);
	current_manifest(dir, manifest, manifest_len);
	for (int i = 0; i < 3; i++) {
		off[i] = file_size(manifest);
		assert_int_equal(apply_add(vs, dir, i, (uint64_t)(i + 1) * 10, &nums[i]), 0);
	}
	off[3] = file_size(manifest);
	lsm_versions_close(vs);
}

static void test_version_torn_tail_tolerated(void **state)
{
	char manifest[PATH_MAX];
	uint64_t off[4], nums[3], got[4];

	(void)state;
	/* Cut inside the last record's payload, inside its header, and damage it in place. */
	for (int mode = 0; mode < 3; mode++) {
		char *dir = make_tmpdir();
		lsm_versions *vs;

		three_edits(dir, manifest, sizeof manifest, off, nums);
		if (mode == 0)
			assert_int_equal(truncate(manifest, (off_t)(off[3] - 3)), 0);
		else if (mode == 1)
			assert_int_equal(truncate(manifest, (off_t)(off[2] + 7)), 0);
		else
			flip_byte(manifest, off[3] - 1);
		assert_int_equal(lsm_versions_open(&vs, dir, NULL, false), 0);
		assert_int_equal(live_numbers(vs, got, 4), 2);
		assert_int_equal(got[0], nums[0]);
		assert_int_equal(got[1], nums[1]);
		assert_int_equal(lsm_versions_last_seq(vs), 20);
		/* The never-acknowledged edit's table is an orphan now. */
		assert_false(sst_exists(dir, nums[2]));
		lsm_versions_close(vs);
		/* The new manifest no longer holds the torn record. */
		assert_int_equal(lsm_versions_open(&vs, dir, NULL, false), 0);
		assert_int_equal(live_numbers(vs, got, 4), 2);
		lsm_versions_close(vs);
		remove_tmpdir(dir);
	}
}

static void test_version_damaged_middle_record_is_corrupt(void **state)
{
	char manifest[PATH_MAX];
	uint64_t off[4], nums[3];

	(void)state;
	/* Damage the second edit's payload, its length, its checksum; and zero a run of it. */
	for (int mode = 0; mode < 4; mode++) {
		char *dir = make_tmpdir();
		lsm_versions *vs = NULL;

		three_edits(dir, manifest, sizeof manifest, off, nums);
		if (mode == 0) {
			flip_byte(manifest, off[1] + LSM_RECORD_HEADER_LEN + 2);
		} else if (mode == 1) {
			flip_byte(manifest, off[1] + 9);
		} else if (mode == 2) {
			flip_byte(manifest, off[1]);
		} else {
			int fd = open(manifest, O_RDWR);
			uint8_t zero[16] = { 0 };

			assert_true(fd >= 0);
			assert_int_equal(pwrite(fd, zero, sizeof zero, (off_t)off[1]), 16);
			close(fd);
		}
		assert_int_equal(lsm_versions_open(&vs, dir, NULL, false), STRATA_ECORRUPT);
		assert_null(vs);
		assert_non_null(strstr(strata_last_error(), "MANIFEST-"));
		/* Nothing was removed: the tables of all three edits stay for repair. */
		for (int i = 0; i < 3; i++)
			assert_true(sst_exists(dir, nums[i]));
		remove_tmpdir(dir);
	}
}

static void test_version_damaged_current_is_corrupt(void **state)
{
	char *dir = make_tmpdir();
	char path[PATH_MAX], good[128], bad[128];
	lsm_versions *vs;
	uint64_t n;
	FILE *f;
	size_t len;

	(void)state;
	assert_int_equal(lsm_versions_open(&vs, dir, NULL, true), 0);
	assert_int_equal(apply_add(vs, dir, 1, 5, &n), 0);
	lsm_versions_close(vs);
	snprintf(path, sizeof path, "%s/CURRENT", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	len = fread(good, 1, sizeof good - 1, f);
	fclose(f);
	good[len] = '\0';
	assert_non_null(strstr(good, "\nxxh3="));

	/* Each damage in turn, then the good content back. */
	for (int mode = 0; mode < 6; mode++) {
		size_t blen = len;

		memcpy(bad, good, len + 1);
		switch (mode) {
		case 0: bad[10] = bad[10] == '9' ? '8' : '9'; break; /* another manifest number */
		case 1: bad[len - 2] = bad[len - 2] == 'a' ? 'b' : 'a'; break; /* checksum digit */
		case 2: blen = 0; break;                       /* empty */
		case 3: blen = strchr(bad, '\n') - bad + 1; break; /* no checksum line */
		case 4: blen = len - 1; break;                 /* no final newline */
		case 5: memcpy(bad, "MANIFEST-00000x", 15); break;
		}
		write_file(dir, "CURRENT", bad, blen);
		vs = NULL;
		assert_int_equal(lsm_versions_open(&vs, dir, NULL, true), STRATA_ECORRUPT);
		assert_null(vs);
		assert_true(sst_exists(dir, n));
	}
	write_file(dir, "CURRENT", good, len);
	assert_int_equal(lsm_versions_open(&vs, dir, NULL, false), 0);
	lsm_versions_close(vs);
	remove_tmpdir(dir);
}

/* Writes MANIFEST-<number> with the given edits and a CURRENT naming it. */
static void write_manifest(const char *dir, uint64_t number, uint32_t format,
			   lsm_version_edit *edits, int n_edits)
{
	char name[64], current[128];
	uint8_t header[LSM_FILE_HEADER_PAYLOAD_LEN], rh[LSM_RECORD_HEADER_LEN];
	char path[PATH_MAX];
	FILE *f;
	int n;

	snprintf(name, sizeof name, "MANIFEST-%06" PRIu64, number);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	lsm_record_file_header(header, LSM_MANIFEST_MAGIC, format, number);
	lsm_record_header(rh, LSM_REC_FILE_HEADER, header, sizeof header);
	fwrite(rh, 1, sizeof rh, f);
	fwrite(header, 1, sizeof header, f);
	for (int i = 0; i < n_edits; i++) {
		uint8_t *buf;
		size_t len;

		assert_int_equal(lsm_version_edit_encode(&edits[i], &buf, &len), 0);
		lsm_record_header(rh, LSM_REC_VERSION_EDIT, buf, len);
		fwrite(rh, 1, sizeof rh, f);
		fwrite(buf, 1, len, f);
		strata_free(buf);
	}
	fclose(f);
	n = snprintf(current, sizeof current, "%s\n", name);
	snprintf(current + n, sizeof current - (size_t)n, "xxh3=%016" PRIx64 "\n",
		 (uint64_t)XXH3_64bits(current, (size_t)n));
	write_file(dir, "CURRENT", current, strlen(current));
}


/* ---- data written before tables carried their window's length ---- */

/*
 * Rewrites table path as properties version 2 wrote it: 136 bytes, no
 * window length (the block is the last before the footer; the file
 * shrinks by 8 bytes, the trailer and footer checksums follow).
 */
static void make_props_v2(const char *path)
{
	struct stat st;
	long long size = stat(path, &st) == 0 ? (long long)st.st_size : -1;
	uint8_t *buf = malloc((size_t)size), footer[LSM_SST_FOOTER_LEN], type = LSM_SST_COMP_RAW;
	uint64_t off, new_size;
	uint8_t *props, check[LSM_SST_PROPS_LEN_V2 + 1];
	FILE *f = fopen(path, "rb");

	assert_true(size > 0);
	assert_non_null(buf);
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	memcpy(footer, buf + size - LSM_SST_FOOTER_LEN, sizeof footer);
	off = lsm_get_le64(footer + LSM_SST_FOOTER_PROPS);
	assert_int_equal(lsm_get_le64(footer + LSM_SST_FOOTER_PROPS + 8), LSM_SST_PROPS_LEN);
	assert_int_equal(off + LSM_SST_PROPS_LEN + LSM_SST_TRAILER_LEN + LSM_SST_FOOTER_LEN, (uint64_t)size);
	props = buf + off;
	assert_int_equal(lsm_get_le32(props), 3);
	new_size = (uint64_t)size - (LSM_SST_PROPS_LEN - LSM_SST_PROPS_LEN_V2);
	lsm_put_le32(props, 2);
	lsm_put_le64(props + 128, new_size);
	/* The trailer: raw, XXH3 of the stored bytes then the type byte. */
	memcpy(check, props, LSM_SST_PROPS_LEN_V2);
	check[LSM_SST_PROPS_LEN_V2] = type;
	props[LSM_SST_PROPS_LEN_V2] = type;
	lsm_put_le64(props + LSM_SST_PROPS_LEN_V2 + 1, XXH3_64bits(check, sizeof check));
	lsm_put_le64(footer + LSM_SST_FOOTER_PROPS + 8, LSM_SST_PROPS_LEN_V2);
	lsm_put_le64(footer + LSM_SST_FOOTER_CHECKSUM,
		     XXH3_64bits(footer + LSM_SST_FOOTER_INDEX, LSM_SST_FOOTER_LEN - LSM_SST_FOOTER_INDEX));
	memcpy(props + LSM_SST_PROPS_LEN_V2 + LSM_SST_TRAILER_LEN, footer, sizeof footer);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, (size_t)new_size, f), (size_t)new_size);
	fclose(f);
	free(buf);
}

static uint8_t *put_zigzag(uint8_t *p, int64_t v)
{
	return p + lsm_put_varint64(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

/*
 * Replaces the manifest of dir by a version-1 one listing the same tables
 * with tag-4 add_file records (no window length), each table's properties
 * read from its file.
 */
static void make_manifest_v1(const char *dir)
{
	lsm_versions *vs = NULL;
	lsm_version *v;
	uint8_t *edit = malloc(1 << 20), *p = edit;
	uint8_t header[LSM_FILE_HEADER_PAYLOAD_LEN], rh[LSM_RECORD_HEADER_LEN];
	char name[64], path[PATH_MAX], current[128];
	uint64_t number;
	FILE *f;
	int n;

	assert_non_null(edit);
	assert_int_equal(lsm_versions_open(&vs, dir, NULL, false), 0);
	number = lsm_versions_new_file_number(vs);
	*p++ = 1;
	p += lsm_put_varint64(p, lsm_versions_log_number(vs));
	*p++ = 2;
	p += lsm_put_varint64(p, number + 1);
	*p++ = 3;
	p += lsm_put_varint64(p, lsm_versions_last_seq(vs));
	v = lsm_versions_current(vs);
	for (size_t w = 0; w < v->n_windows; w++)
		for (size_t i = 0; i < v->windows[w].n_files; i++) {
			char sst[PATH_MAX];
			lsm_sst *t;
			const lsm_sst_props *pr;

			lsm_sst_path(sst, sizeof sst, dir, v->windows[w].files[i]->number);
			assert_int_equal(lsm_sst_open(&t, sst, v->windows[w].files[i]->number, NULL), 0);
			pr = lsm_sst_get_props(t);
			*p++ = 4;
			p += lsm_put_varint64(p, v->windows[w].files[i]->number);
			memcpy(p, pr->smallest, LSM_IKEY_LEN);
			memcpy(p + LSM_IKEY_LEN, pr->largest, LSM_IKEY_LEN);
			p += 2 * LSM_IKEY_LEN;
			p = put_zigzag(p, pr->window);
			p = put_zigzag(p, pr->min_ts);
			p = put_zigzag(p, pr->max_ts);
			p += lsm_put_varint64(p, pr->min_seq);
			p += lsm_put_varint64(p, pr->max_seq);
			p += lsm_put_varint64(p, pr->n_entries);
			p += lsm_put_varint64(p, pr->n_series);
			p += lsm_put_varint64(p, pr->n_data_blocks);
			p += lsm_put_varint64(p, pr->raw_bytes);
			p += lsm_put_varint64(p, pr->file_bytes);
			lsm_sst_unref(t);
		}
	*p++ = 0;
	lsm_version_unref(v);
	lsm_versions_close(vs);

	snprintf(name, sizeof name, "MANIFEST-%06" PRIu64, number);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	lsm_record_file_header(header, LSM_MANIFEST_MAGIC, 1, number);
	lsm_record_header(rh, LSM_REC_FILE_HEADER, header, sizeof header);
	fwrite(rh, 1, sizeof rh, f);
	fwrite(header, 1, sizeof header, f);
	lsm_record_header(rh, LSM_REC_VERSION_EDIT, edit, (size_t)(p - edit));
	fwrite(rh, 1, sizeof rh, f);
	fwrite(edit, 1, (size_t)(p - edit), f);
	fclose(f);
	free(edit);
	n = snprintf(current, sizeof current, "%s\n", name);
	snprintf(current + n, sizeof current - (size_t)n, "xxh3=%016" PRIx64 "\n",
		 (uint64_t)XXH3_64bits(current, (size_t)n));
	write_file(dir, "CURRENT", current, strlen(current));
}

/* Every table of dir: its properties' window length must be want_ns; returns how many. */
static size_t tables_with_length(const char *dir, int64_t want_ns)
{
	char sst[PATH_MAX];
	size_t n = 0;

	for (uint64_t no = 1; no < 1000; no++) {
		lsm_sst *t;

		lsm_sst_path(sst, sizeof sst, dir, no);
		if (access(sst, F_OK) != 0)
			continue;
		assert_int_equal(lsm_sst_open(&t, sst, no, NULL), 0);
		assert_int_equal(lsm_sst_get_props(t)->window_ns, want_ns);
		lsm_sst_unref(t);
		n++;
	}
	return n;
}

#define LEGACY_KEYS 300

static void legacy_key(uint8_t k[LSM_UKEY_LEN], int i)
{
	/* Three series over three days, every 20 minutes or so. */
	lsm_ukey_encode(k, 1 + (uint64_t)(i % 3), (int64_t)i * INT64_C(1000) * 1000000000 * 60 * 20 / 3);
}

static void legacy_check(lsm_db *db, const char *what)
{
	lsm_db_iter *it;
	uint8_t lo[LSM_UKEY_LEN] = { 0 }, hi[LSM_UKEY_LEN];
	int n = 0;

	for (int i = 0; i < LEGACY_KEYS; i++) {
		uint8_t k[LSM_UKEY_LEN], *v = NULL;
		size_t len = 0;
		int rc;

		legacy_key(k, i);
		rc = lsm_get(db, k, &v, &len);
		if (rc != 0 || len != sizeof(int) || memcmp(v, &i, sizeof i) != 0)
			fail_msg("%s: key %d: %s", what, i, rc ? strata_strerror(rc) : "wrong value");
		strata_free(v);
	}
	memset(hi, 0xff, sizeof hi);
	assert_int_equal(lsm_db_iter_new(&it, db, lo, hi), 0);
	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it); lsm_db_iter_next(it))
		n++;
	assert_int_equal(lsm_db_iter_status(it), 0);
	lsm_db_iter_free(it);
	assert_int_equal(n, LEGACY_KEYS);
}

/*
 * A data directory as strata wrote it before tables carried their window's
 * length (properties version 2, a version-1 manifest with tag-4 records):
 * it opens, its tables are one-day windows, every point reads, and it
 * compacts and reopens (the manifest is rewritten as version 2 at open).
 */
static void test_version_reads_tables_without_window_length(void **state)
{
	char *dir = make_tmpdir();
	char sst[PATH_MAX];
	lsm_options opt;
	lsm_db *db = NULL;
	lsm_batch b;
	lsm_stats st;

	(void)state;
	lsm_options_default(&opt);
	opt.compact.disable = true;
	assert_int_equal(lsm_open(&db, dir, &opt), 0);
	lsm_batch_init(&b);
	for (int i = 0; i < LEGACY_KEYS; i++) {
		uint8_t k[LSM_UKEY_LEN];

		legacy_key(k, i);
		assert_int_equal(lsm_batch_put(&b, k, (const uint8_t *)&i, sizeof i), 0);
		if (i % 100 == 99) {
			assert_int_equal(lsm_write(db, &b, 0), 0);
			lsm_batch_clear(&b);
			assert_int_equal(lsm_flush(db), 0);
		}
	}
	lsm_batch_deinit(&b);
	assert_int_equal(lsm_close(db), 0);
	db = NULL;
	for (uint64_t no = 1; no < 1000; no++) {
		lsm_sst_path(sst, sizeof sst, dir, no);
		if (access(sst, F_OK) == 0)
			make_props_v2(sst);
	}
	make_manifest_v1(dir);

	assert_int_equal(lsm_open(&db, dir, &opt), 0);
	legacy_check(db, "opened");
	lsm_get_stats(db, &st);
	assert_true(st.n_files >= 3);
	assert_int_equal(tables_with_length(dir, LSM_WINDOW_LEGACY_NS), st.n_files);
	assert_int_equal(lsm_close(db), 0);
	assert_int_equal(lsm_open(&db, dir, &opt), 0);
	legacy_check(db, "reopened");
	assert_int_equal(lsm_compact(db, true), 0);
	legacy_check(db, "compacted");
	lsm_get_stats(db, &st);
	assert_int_equal(st.n_files, st.n_windows);
	assert_int_equal(lsm_close(db), 0);
	/* The merged tables are written as version 3, with the one-day length they had. */
	assert_int_equal(tables_with_length(dir, LSM_WINDOW_LEGACY_NS), st.n_files);
	assert_int_equal(lsm_open(&db, dir, &opt), 0);
	legacy_check(db, "compacted and reopened");
	assert_int_equal(lsm_close(db), 0);
	remove_tmpdir(dir);
}

static void test_version_replay_checks_edits(void **state)
{
	char *dir = make_tmpdir();
	char sst[PATH_MAX];
	lsm_version_edit e[2];
	lsm_sst_props p = make_props(4, 1, 2, 100);
	lsm_versions *vs = NULL;
	uint64_t got[4];

	(void)state;
	snprintf(sst, sizeof sst, "%s/sst", dir);
	assert_int_equal(mkdir(sst, 0755), 0);
	touch_sst(dir, 3);
	lsm_version_edit_init(&e[0]);
	lsm_version_edit_init(&e[1]);
	assert_int_equal(lsm_version_edit_add_file(&e[0], 3, &p), 0);

	/* Deleting a file that is not live. */
	assert_int_equal(lsm_version_edit_delete_file(&e[1], 4), 0);
	write_manifest(dir, 9, LSM_MANIFEST_VERSION, e, 2);
	assert_int_equal(lsm_versions_open(&vs, dir, NULL, false), STRATA_ECORRUPT);
	assert_non_null(strstr(strata_last_error(), "not live"));
	assert_true(sst_exists(dir, 3));

	/* Adding a file that is live already. */
	lsm_version_edit_deinit(&e[1]);
	assert_int_equal(lsm_version_edit_add_file(&e[1], 3, &p), 0);
	write_manifest(dir, 9, LSM_MANIFEST_VERSION, e, 2);
	assert_int_equal(lsm_versions_open(&vs, dir, NULL, false), STRATA_ECORRUPT);

	/* A newer format. */
	write_manifest(dir, 9, LSM_MANIFEST_VERSION + 1, e, 1);
	assert_int_equal(lsm_versions_open(&vs, dir, NULL, false), STRATA_EVERSION);

	/* CURRENT naming a manifest whose header names another number. */
	write_manifest(dir, 9, LSM_MANIFEST_VERSION, e, 1);
	{
		char from[PATH_MAX], to[PATH_MAX], current[128];
		int n;

		snprintf(from, sizeof from, "%s/MANIFEST-000009", dir);
		snprintf(to, sizeof to, "%s/MANIFEST-000011", dir);
		assert_int_equal(rename(from, to), 0);
		n = snprintf(current, sizeof current, "MANIFEST-000011\n");

		snprintf(current + n, sizeof current - (size_t)n, "xxh3=%016" PRIx64 "\n",
			 (uint64_t)XXH3_64bits(current, (size_t)n));
		write_file(dir, "CURRENT", current, strlen(current));
	}
	assert_int_equal(lsm_versions_open(&vs, dir, NULL, false), STRATA_ECORRUPT);

	/* CURRENT naming a manifest that does not exist. */
	snprintf(sst, sizeof sst, "%s/MANIFEST-000011", dir);
	assert_int_equal(unlink(sst), 0);
	assert_int_equal(lsm_versions_open(&vs, dir, NULL, false), STRATA_ECORRUPT);
	assert_null(vs);

	/* The valid manifest opens, and numbering continues above it. */
	write_manifest(dir, 9, LSM_MANIFEST_VERSION, e, 1);
	assert_int_equal(lsm_versions_open(&vs, dir, NULL, false), 0);
	assert_int_equal(live_numbers(vs, got, 4), 1);
	assert_int_equal(got[0], 3);
	assert_true(lsm_versions_new_file_number(vs) > 9);
	assert_false(path_exists(dir, "MANIFEST-000009"));
	lsm_versions_close(vs);
	lsm_version_edit_deinit(&e[0]);
	lsm_version_edit_deinit(&e[1]);
	remove_tmpdir(dir);
}

static void test_version_obsolete_deleted_after_last_release(void **state)
{
	char *dir = make_tmpdir();
	lsm_versions *vs;
	lsm_version *pinned, *v;
	lsm_file *f;
	uint64_t a, b;

	(void)state;
	assert_int_equal(lsm_versions_open(&vs, dir, NULL, true), 0);
	assert_int_equal(apply_add(vs, dir, 1, 10, &a), 0);
	assert_int_equal(apply_add(vs, dir, 1, 20, &b), 0);

	/* A pinned version keeps a deleted file on disk until it is released. */
	pinned = lsm_versions_current(vs);
	assert_int_equal(apply_delete(vs, a), 0);
	assert_true(sst_exists(dir, a));
	v = lsm_versions_current(vs);
	assert_ptr_not_equal(v, pinned);
	assert_int_equal(v->n_windows, 1);
	assert_int_equal(v->windows[0].n_files, 1);
	assert_int_equal(v->windows[0].files[0]->number, b);
	lsm_version_unref(v);
	lsm_version_unref(pinned);
	assert_false(sst_exists(dir, a));
	assert_true(sst_exists(dir, b));

	/* A file pin outlives the versions that listed it. */
	v = lsm_versions_current(vs);
	f = v->windows[0].files[0];
	lsm_file_ref(f);
	lsm_version_unref(v);
	assert_int_equal(apply_delete(vs, b), 0);
	assert_true(sst_exists(dir, b));
	lsm_file_unref(f);
	assert_false(sst_exists(dir, b));

	/* A version pinned across close is released safely afterwards. */
	assert_int_equal(apply_add(vs, dir, 2, 30, &a), 0);
	pinned = lsm_versions_current(vs);
	lsm_versions_close(vs);
	assert_int_equal(pinned->n_windows, 1);
	assert_int_equal(pinned->windows[0].files[0]->number, a);
	lsm_version_unref(pinned);
	assert_true(sst_exists(dir, a));
	remove_tmpdir(dir);
}

static void test_version_orphans_removed_at_open(void **state)
{
	char *dir = make_tmpdir();
	lsm_versions *vs;
	uint64_t live, got[4];

	(void)state;
	assert_int_equal(lsm_versions_open(&vs, dir, NULL, true), 0);
	assert_int_equal(apply_add(vs, dir, 1, 10, &live), 0);
	lsm_versions_close(vs);
	touch_sst(dir, 999);
	write_file(dir, "sst/000123.sst.tmp", "x", 1);
	write_file(dir, "sst/other.tmp", "x", 1);
	write_file(dir, "sst/notes.txt", "keep", 4);
	write_file(dir, "CURRENT.tmp", "x", 1);
	write_file(dir, "MANIFEST-000777", "stale", 5);

	assert_int_equal(lsm_versions_open(&vs, dir, NULL, false), 0);
	assert_false(sst_exists(dir, 999));
	assert_false(path_exists(dir, "sst/000123.sst.tmp"));
	assert_false(path_exists(dir, "sst/other.tmp"));
	assert_false(path_exists(dir, "CURRENT.tmp"));
	assert_false(path_exists(dir, "MANIFEST-000777"));
	assert_true(path_exists(dir, "sst/notes.txt"));
	assert_true(sst_exists(dir, live));
	assert_int_equal(live_numbers(vs, got, 4), 1);
	assert_int_equal(count_manifests(dir), 1);
	/* A removed orphan's number is never handed out again below a live one. */
	assert_true(lsm_versions_new_file_number(vs) > live);
	lsm_versions_close(vs);
	remove_tmpdir(dir);
}

static void test_version_no_current_with_tables_refuses(void **state)
{
	char *dir = make_tmpdir();
	char sst[PATH_MAX];
	lsm_versions *vs = NULL;

	(void)state;
	snprintf(sst, sizeof sst, "%s/sst", dir);
	assert_int_equal(mkdir(sst, 0755), 0);
	touch_sst(dir, 5);
	assert_int_equal(lsm_versions_open(&vs, dir, NULL, true), STRATA_ECORRUPT);
	assert_null(vs);
	assert_true(sst_exists(dir, 5));
	assert_false(path_exists(dir, "CURRENT"));
	remove_tmpdir(dir);
}

static void test_version_apply_rejects_bad_edits(void **state)
{
	char *dir = make_tmpdir();
	lsm_versions *vs;
	lsm_version_edit e;
	lsm_version *before, *after;
	lsm_sst_props p = make_props(1, 1, 1, 1);
	uint64_t a, b;

	(void)state;
	assert_int_equal(lsm_versions_open(&vs, dir, NULL, true), 0);
	assert_int_equal(apply_add(vs, dir, 1, 10, &a), 0);
	before = lsm_versions_current(vs);

	assert_int_equal(apply_delete(vs, a + 100), STRATA_EINVAL);   /* not live */
	lsm_version_edit_init(&e);
	assert_int_equal(lsm_version_edit_add_file(&e, a, &p), 0);   /* live already */
	assert_int_equal(lsm_versions_apply(vs, &e), STRATA_EINVAL);
	lsm_version_edit_deinit(&e);
	lsm_version_edit_init(&e);
	assert_int_equal(lsm_version_edit_delete_file(&e, a), 0);    /* twice */
	assert_int_equal(lsm_version_edit_delete_file(&e, a), 0);
	assert_int_equal(lsm_versions_apply(vs, &e), STRATA_EINVAL);
	lsm_version_edit_deinit(&e);
	lsm_version_edit_init(&e);
	p.min_seq = 5;                                               /* min_seq > max_seq */
	assert_int_equal(lsm_version_edit_add_file(&e, a + 1, &p), 0);
	assert_int_equal(lsm_versions_apply(vs, &e), STRATA_EINVAL);
	lsm_version_edit_deinit(&e);

	after = lsm_versions_current(vs);
	assert_ptr_equal(before, after);
	lsm_version_unref(after);
	lsm_version_unref(before);
	assert_true(sst_exists(dir, a));
	/* Not sticky: nothing was written. */
	assert_int_equal(apply_add(vs, dir, 1, 20, &b), 0);
	lsm_versions_close(vs);
	remove_tmpdir(dir);
}

/*
 * Arms point p (after skip operations), applies an edit that must fail, and
 * checks the version set is unchanged, later applies fail, and a reopen sees
 * only what was applied before.
 */
static void run_fault(enum lsm_fault_point p, uint64_t skip, uint64_t roll_bytes)
{
	char *dir = make_tmpdir();
	lsm_versions *vs;
	lsm_version *before, *after;
	lsm_version_edit e;
	uint64_t a, b, c, got[4];
	int rc;

	assert_int_equal(lsm_versions_open(&vs, dir, NULL, true), 0);
	assert_int_equal(apply_add(vs, dir, 1, 10, &a), 0);
	if (roll_bytes)
		lsm_versions_set_manifest_roll_bytes(vs, roll_bytes);
	before = lsm_versions_current(vs);

	lsm_fault_arm(p, skip, EIO, false);
	lsm_version_edit_init(&e);
	b = add_file(vs, dir, &e, 2, 20, 20);
	assert_int_equal(lsm_version_edit_delete_file(&e, a), 0);
	e.has_last_seq = true;
	e.last_seq = 20;
	rc = lsm_versions_apply(vs, &e);
	lsm_version_edit_deinit(&e);
	lsm_fault_reset();
	assert_int_equal(rc, -EIO);
	after = lsm_versions_current(vs);
	assert_ptr_equal(before, after);
	lsm_version_unref(after);
	assert_int_equal(lsm_versions_last_seq(vs), 10);
	assert_true(sst_exists(dir, a)); /* the failed delete removed nothing */

	/* Sticky: no later edit is accepted, even with the disk healthy again. */
	assert_int_equal(apply_add(vs, dir, 3, 30, &c), STRATA_EREADONLY);
	assert_int_equal(apply_delete(vs, a), STRATA_EREADONLY);
	lsm_version_unref(before);
	lsm_versions_close(vs);

	assert_int_equal(lsm_versions_open(&vs, dir, NULL, false), 0);
	assert_int_equal(live_numbers(vs, got, 4), 1);
	assert_int_equal(got[0], a);
	assert_int_equal(lsm_versions_last_seq(vs), 10);
	assert_true(sst_exists(dir, a));
	assert_false(sst_exists(dir, b)); /* orphans of the failed edits */
	assert_false(sst_exists(dir, c));
	assert_int_equal(count_manifests(dir), 1);
	/* And the reopened set works. */
	assert_int_equal(apply_add(vs, dir, 3, 30, &c), 0);
	lsm_versions_close(vs);
	remove_tmpdir(dir);
}

static void test_version_fault_manifest_write(void **state)
{
	(void)state;
	run_fault(LSM_FAULT_MANIFEST_WRITE, 0, 0);
}

static void test_version_fault_manifest_sync(void **state)
{
	(void)state;
	run_fault(LSM_FAULT_MANIFEST_SYNC, 0, 0);
}

static void test_version_fault_during_rollover(void **state)
{
	(void)state;
	/* Roll-over: the new manifest's write, its sync, CURRENT's write, sync and directory sync. */
	run_fault(LSM_FAULT_MANIFEST_WRITE, 0, 1);
	run_fault(LSM_FAULT_MANIFEST_WRITE, 1, 1);
	run_fault(LSM_FAULT_MANIFEST_WRITE, 2, 1);
	run_fault(LSM_FAULT_MANIFEST_SYNC, 0, 1);
	run_fault(LSM_FAULT_MANIFEST_SYNC, 1, 1);
	run_fault(LSM_FAULT_MANIFEST_SYNC, 2, 1);
	run_fault(LSM_FAULT_MANIFEST_SYNC, 3, 1);
}

static void test_version_fault_at_open(void **state)
{
	char *dir = make_tmpdir();
	lsm_versions *vs;
	uint64_t a, got[4];

	(void)state;
	assert_int_equal(lsm_versions_open(&vs, dir, NULL, true), 0);
	assert_int_equal(apply_add(vs, dir, 1, 10, &a), 0);
	lsm_versions_close(vs);
	for (uint64_t skip = 0; skip < 3; skip++) {
		lsm_fault_arm(LSM_FAULT_MANIFEST_SYNC, skip, EIO, false);
		vs = NULL;
		assert_int_equal(lsm_versions_open(&vs, dir, NULL, false), -EIO);
		lsm_fault_reset();
		assert_null(vs);
		assert_true(sst_exists(dir, a));
	}
	assert_int_equal(lsm_versions_open(&vs, dir, NULL, false), 0);
	assert_int_equal(live_numbers(vs, got, 4), 1);
	assert_int_equal(got[0], a);
	lsm_versions_close(vs);
	remove_tmpdir(dir);
}

static void test_version_file_table_error_remembered(void **state)
{
	char *dir = make_tmpdir();
	lsm_versions *vs;
	lsm_version *v;
	lsm_sst *t = (lsm_sst *)&t;
	uint64_t a, b;
	char path[PATH_MAX];

	(void)state;
	assert_int_equal(lsm_versions_open(&vs, dir, NULL, true), 0);
	assert_int_equal(apply_add(vs, dir, 1, 10, &a), 0); /* a file of garbage */
	assert_int_equal(apply_add(vs, dir, 2, 20, &b), 0);
	lsm_sst_path(path, sizeof path, dir, b);
	assert_int_equal(unlink(path), 0);                  /* a missing file */
	v = lsm_versions_current(vs);
	assert_int_equal(lsm_file_table(v->windows[0].files[0], &t), STRATA_ECORRUPT);
	assert_null(t);
	assert_int_equal(lsm_file_table(v->windows[0].files[0], &t), STRATA_ECORRUPT);
	assert_int_equal(lsm_file_table(v->windows[1].files[0], &t), -ENOENT);
	/* Remembered: the file reappearing does not change the answer. */
	touch_sst(dir, b);
	assert_int_equal(lsm_file_table(v->windows[1].files[0], &t), -ENOENT);
	lsm_version_unref(v);
	lsm_versions_close(vs);
	remove_tmpdir(dir);
}

/* Builds a real table of n entries in window w at lsm_sst_path(dir, number). */
static lsm_sst_props build_table(const char *dir, uint64_t number, int64_t w, int n)
{
	char path[PATH_MAX];
	lsm_sst_options opt;
	lsm_sst_builder *b;
	lsm_sst_props props;

	lsm_sst_path(path, sizeof path, dir, number);
	lsm_sst_options_default(&opt);
	assert_int_equal(lsm_sst_builder_open(&b, path, w, LSM_WINDOW_LEGACY_NS, &opt), 0);
	for (int i = 0; i < n; i++) {
		uint8_t uk[LSM_UKEY_LEN], ik[LSM_IKEY_LEN];

		lsm_ukey_encode(uk, 42, w * 1000 + i);
		lsm_ikey_encode(ik, uk, (uint64_t)(i + 1), LSM_KIND_PUT);
		assert_int_equal(lsm_sst_builder_add(b, ik, sizeof ik, (const uint8_t *)"value", 5), 0);
	}
	assert_int_equal(lsm_sst_builder_finish(b, &props), 0);
	return props;
}

static void test_version_file_table_opens_real_table(void **state)
{
	char *dir = make_tmpdir();
	lsm_versions *vs;
	lsm_version *v;
	lsm_version_edit e;
	lsm_sst_props props, wrong;
	lsm_sst *t1 = NULL, *t2 = NULL;
	uint64_t a, b;

	(void)state;
	assert_int_equal(lsm_versions_open(&vs, dir, NULL, true), 0);
	a = lsm_versions_new_file_number(vs);
	b = lsm_versions_new_file_number(vs);
	props = build_table(dir, a, 0, 100);
	/* b is a real table whose manifest entry describes another table. */
	wrong = build_table(dir, b, 0, 50);
	wrong.n_entries = 51;
	wrong.max_seq = 51;
	lsm_version_edit_init(&e);
	assert_int_equal(lsm_version_edit_add_file(&e, a, &props), 0);
	assert_int_equal(lsm_version_edit_add_file(&e, b, &wrong), 0);
	assert_int_equal(lsm_versions_apply(vs, &e), 0);
	lsm_version_edit_deinit(&e);

	v = lsm_versions_current(vs);
	assert_int_equal(v->windows[0].n_files, 2);
	assert_int_equal(v->windows[0].files[0]->number, a); /* max_seq 100 above 51 */
	assert_int_equal(lsm_file_table(v->windows[0].files[0], &t1), 0);
	assert_non_null(t1);
	assert_int_equal(lsm_file_table(v->windows[0].files[0], &t2), 0);
	assert_ptr_equal(t1, t2); /* opened once */
	assert_int_equal(lsm_sst_file_no(t1), a);
	assert_int_equal(lsm_sst_get_props(t1)->n_entries, 100);
	assert_int_equal(lsm_file_table(v->windows[0].files[1], &t2), STRATA_ECORRUPT);
	lsm_version_unref(v);

	/* Deleting the open table closes and unlinks it once released. */
	assert_int_equal(apply_delete(vs, a), 0);
	assert_false(sst_exists(dir, a));
	lsm_versions_close(vs);
	remove_tmpdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_edit_roundtrip),
		cmocka_unit_test(test_version_edit_truncation_is_corrupt),
		cmocka_unit_test(test_version_edit_malformed_is_corrupt),
		cmocka_unit_test(test_version_open_missing_without_create),
		cmocka_unit_test(test_version_reopen_keeps_state),
		cmocka_unit_test(test_version_many_applies_then_reopen),
		cmocka_unit_test(test_version_manifest_rollover),
		cmocka_unit_test(test_version_torn_tail_tolerated),
		cmocka_unit_test(test_version_damaged_middle_record_is_corrupt),
		cmocka_unit_test(test_version_damaged_current_is_corrupt),
		cmocka_unit_test(test_version_replay_checks_edits),
		cmocka_unit_test(test_version_obsolete_deleted_after_last_release),
		cmocka_unit_test(test_version_orphans_removed_at_open),
		cmocka_unit_test(test_version_no_current_with_tables_refuses),
		cmocka_unit_test(test_version_apply_rejects_bad_edits),
		cmocka_unit_test(test_version_fault_manifest_write),
		cmocka_unit_test(test_version_fault_manifest_sync),
		cmocka_unit_test(test_version_fault_during_rollover),
		cmocka_unit_test(test_version_fault_at_open),
		cmocka_unit_test(test_version_file_table_error_remembered),
		cmocka_unit_test(test_version_file_table_opens_real_table),
		cmocka_unit_test(test_version_reads_tables_without_window_length),
	};

	strata_log_set_level(STRATA_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
