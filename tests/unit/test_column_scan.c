/*
 * Unit tests: reading one series as columns (lsm/column_scan.h) gives
 * exactly the points lsm_db_iter gives, in every state the storage can be
 * in: closed windows in their final form (read as spans), late writes
 * still in the memtable, overwrites and deletes, a window with two tables,
 * entries damaged on disk, series in windows of different lengths and a
 * series whose window length changed; and it takes the column path where
 * it should.
 *
 * Each check reads random ranges of random series both ways and compares
 * the points field by field. STRATA_SCAN_SEED repeats a run (the seed is
 * printed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lsm/alloc.h"
#include "lsm/column_scan.h"
#include "lsm/log.h"
#include "lsm/lsm.h"
#include "lsm/row.h"
#include "tests/util.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WINDOW_NS (INT64_C(3600) * 1000000000) /* one hour */
#define N_WINDOWS 3
#define N_SERIES 24
#define N_FIELDS 6
#define MAX_POINTS 200000

typedef struct fixture {
	char dir[64];
	lsm_options opt;
	lsm_db *db;
	uint64_t rng;
	_Atomic int64_t lengths[N_SERIES + 2]; /* each series' window length (0: the engine's) */
} fixture;

static int64_t fixture_window(void *ctx, uint64_t series)
{
	fixture *f = ctx;

	return series < N_SERIES + 2 ? atomic_load(&f->lengths[series]) : 0;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = (*s += UINT64_C(0x9e3779b97f4a7c15));

	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return rng_next(s) % n;
}

/* The injected clock: far past every window, so that all of them are closed. */
static int64_t late_clock(void *ctx)
{
	(void)ctx;
	return 1000 * WINDOW_NS;
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	const char *seed = getenv("STRATA_SCAN_SEED");

	if (!f || test_make_temp_dir(f->dir, sizeof f->dir) != 0)
		return -1;
	strata_log_set_level(STRATA_LOG_WARN);
	lsm_options_default(&f->opt);
	f->opt.merge = lsm_row_merge;
	f->opt.window_ns = WINDOW_NS;
	f->opt.memtable_bytes = 4u << 20;
	f->opt.block_cache_bytes = 2u << 20; /* smaller than the data: sets are evicted and read again */
	f->opt.sst.block_bytes = 4096;       /* many blocks, many series cut across blocks */
	f->opt.compact.disable = true;
	f->opt.compact.clock = late_clock;
	f->opt.series_window = fixture_window;
	f->opt.series_window_ctx = f;
	f->rng = seed ? strtoull(seed, NULL, 0) : (uint64_t)time(NULL);
	print_message("seed %" PRIu64 " (STRATA_SCAN_SEED repeats it)\n", f->rng);
	if (lsm_open(&f->db, f->dir, &f->opt) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	if (f->db)
		lsm_close(f->db);
	test_remove_tree(f->dir);
	free(f);
	return 0;
}

/* ---- writing ---- */

/* A row of the fields in mask (field id k + 1 for bit k), of every type, from salt. */
static size_t make_row(uint8_t *out, size_t cap, unsigned mask, uint64_t salt)
{
	lsm_row_field fields[N_FIELDS];
	char strs[N_FIELDS][24];
	size_t n = 0, len;

	for (uint32_t id = 1; id <= N_FIELDS; id++) {
		uint64_t x = rng_next(&salt);

		if (!(mask & (1u << (id - 1))))
			continue;
		fields[n].id = id;
		switch (id) {
		case 1:
		case 6:
			fields[n].type = LSM_FIELD_FLOAT;
			fields[n].v.f = (double)(x % 100000) / 8.0 - 5000;
			break;
		case 2:
			fields[n].type = LSM_FIELD_INT;
			fields[n].v.i = (int64_t)(x % 2000001) - 1000000;
			break;
		case 3:
			fields[n].type = LSM_FIELD_UINT;
			fields[n].v.u = x;
			break;
		case 4:
			fields[n].type = LSM_FIELD_BOOL;
			fields[n].v.b = x & 1;
			break;
		default:
			snprintf(strs[n], sizeof strs[n], "v%" PRIu64, x % 40);
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

static void write_point(fixture *f, enum lsm_kind kind, uint64_t series, int64_t t)
{
	uint8_t k[LSM_UKEY_LEN], v[256];
	unsigned mask = (unsigned)rng_below(&f->rng, 1u << N_FIELDS) | 1u;
	size_t len = make_row(v, sizeof v, mask, rng_next(&f->rng));
	lsm_batch b;
	int rc;

	lsm_ukey_encode(k, series, t);
	lsm_batch_init(&b);
	if (kind == LSM_KIND_PUT)
		rc = lsm_batch_put(&b, k, v, len);
	else if (kind == LSM_KIND_MERGE)
		rc = lsm_batch_merge(&b, k, v, len);
	else
		rc = lsm_batch_delete(&b, k);
	assert_int_equal(rc, 0);
	rc = lsm_write(f->db, &b, LSM_WRITE_NOSYNC);
	if (rc)
		fail_msg("lsm_write: %s (%s)", strata_last_error(), strata_strerror(rc));
	lsm_batch_deinit(&b);
}

/* Every series gets irregular points in every window (a series may skip a window). */
static void write_windows(fixture *f)
{
	for (uint64_t s = 1; s <= N_SERIES; s++) {
		for (int64_t w = 0; w < N_WINDOWS; w++) {
			int64_t t = w * WINDOW_NS + (int64_t)rng_below(&f->rng, 1000000);
			uint64_t n = rng_below(&f->rng, 6) == 0 ? 0 : 50 + rng_below(&f->rng, 400);

			for (uint64_t i = 0; i < n && t < (w + 1) * WINDOW_NS; i++) {
				write_point(f, LSM_KIND_PUT, s, t);
				t += 1 + (int64_t)rng_below(&f->rng, 20) * 1000000000;
			}
		}
	}
}

static void flush(fixture *f)
{
	int rc = lsm_flush(f->db);

	if (rc)
		fail_msg("lsm_flush: %s (%s)", strata_last_error(), strata_strerror(rc));
}

static void compact_all(fixture *f)
{
	int rc = lsm_compact(f->db, true);

	if (rc)
		fail_msg("lsm_compact: %s (%s)", strata_last_error(), strata_strerror(rc));
}

/* ---- reading both ways ---- */

/* A point as a canonical string: time, then each field as id:type:value. */
typedef struct points {
	char *text;
	size_t len, cap;
	size_t n;
	const lsm_colwant *only; /* the fields kept (NULL: all) */
} points;

static void put_text(points *p, const char *s, size_t n)
{
	if (p->len + n + 1 > p->cap) {
		p->cap = (p->len + n + 1) * 2;
		p->text = realloc(p->text, p->cap);
		assert_non_null(p->text);
	}
	memcpy(p->text + p->len, s, n);
	p->len += n;
	p->text[p->len] = '\0';
}

static void put_field(points *p, uint32_t id, enum lsm_field_type type, const lsm_row_field *f)
{
	char buf[96];
	int n;

	if (p->only && (id >= p->only->n_ids || !p->only->by_id[id]))
		return;
	switch (type) {
	case LSM_FIELD_FLOAT: n = snprintf(buf, sizeof buf, " %u:f:%a", id, f->v.f); break;
	case LSM_FIELD_INT: n = snprintf(buf, sizeof buf, " %u:i:%" PRId64, id, f->v.i); break;
	case LSM_FIELD_UINT: n = snprintf(buf, sizeof buf, " %u:u:%" PRIu64, id, f->v.u); break;
	case LSM_FIELD_BOOL: n = snprintf(buf, sizeof buf, " %u:b:%d", id, (int)f->v.b); break;
	default:
		n = snprintf(buf, sizeof buf, " %u:s:", id);
		put_text(p, buf, (size_t)n);
		put_text(p, f->v.s.p, f->v.s.len);
		return;
	}
	put_text(p, buf, (size_t)n);
}

static void put_time(points *p, int64_t t)
{
	char buf[32];
	int n = snprintf(buf, sizeof buf, "\n%" PRId64, t);

	put_text(p, buf, (size_t)n);
	p->n++;
	assert_true(p->n <= MAX_POINTS);
}

/* Points of series in [lo, hi] through lsm_db_iter, from `from` on. */
static void read_rows(lsm_db *db, uint64_t series, int64_t from, int64_t hi, points *out)
{
	uint8_t klo[LSM_UKEY_LEN], khi[LSM_UKEY_LEN];
	lsm_row_field fields[N_FIELDS];
	lsm_db_iter *it;

	lsm_ukey_encode(klo, series, from);
	if (hi == INT64_MAX)
		lsm_ukey_encode(khi, series + 1, INT64_MIN);
	else
		lsm_ukey_encode(khi, series, hi + 1);
	assert_int_equal(lsm_db_iter_new(&it, db, klo, khi), 0);
	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it); lsm_db_iter_next(it)) {
		size_t len, n;
		const uint8_t *v = lsm_db_iter_value(it, &len);

		put_time(out, lsm_ukey_ts(lsm_db_iter_key(it)));
		assert_int_equal(lsm_row_decode(v, len, fields, N_FIELDS, &n), 0);
		for (size_t i = 0; i < n; i++)
			put_field(out, fields[i].id, fields[i].type, &fields[i]);
	}
	assert_int_equal(lsm_db_iter_status(it), 0);
	lsm_db_iter_free(it);
}

typedef struct scan_counts {
	uint64_t spans, span_points, rows_fallbacks;
	uint64_t dropped; /* columns a span's set holds no more, or was read without (not wanted) */
} scan_counts;

/*
 * The same points through lsm_scan, finishing with lsm_db_iter when the
 * scan hands over; the fields out->only wants, which the scan is asked for.
 */
static void read_scan(lsm_db *db, uint64_t series, int64_t lo, int64_t hi, points *out, scan_counts *c)
{
	lsm_scan *s;
	lsm_span span;
	int64_t resume;
	int step;

	assert_int_equal(lsm_scan_new(&s, db, series, lo, hi, out->only), 0);
	for (int guard = 0; guard < 1000000; guard++) {
		step = lsm_scan_next(s, &span, &resume);
		if (step < 0)
			fail_msg("lsm_scan_next: %s (%s)", strata_last_error(), strata_strerror(step));
		if (step != LSM_SCAN_SPAN)
			break;
		c->spans++;
		assert_true(span.from < span.to && span.to <= span.set->n);
		for (size_t i = span.from; i < span.to; i++) {
			assert_true(span.set->ts[i] >= lo && span.set->ts[i] <= hi);
			put_time(out, span.set->ts[i]);
			c->span_points++;
			for (size_t k = 0; k < span.set->n_cols; k++) {
				const lsm_colvec *col = &span.set->cols[k];
				lsm_row_field f = { .id = col->id, .type = col->type };
				const void *vals;
				int rc;

				if (!col->present) {
					/* A column the set was read without: never one asked for. */
					assert_non_null(out->only);
					assert_false(col->id < out->only->n_ids && out->only->by_id[col->id]);
					assert_null(lsm_colset_values(span.set, k, &rc));
					assert_int_equal(rc, STRATA_ENOTFOUND);
					c->dropped++;
					continue;
				}
				if (!lsm_colset_present(col, i))
					continue;
				vals = lsm_colset_values(span.set, k, &rc);
				if (out->only && (col->id >= out->only->n_ids || !out->only->by_id[col->id])) {
					/* Not asked for: kept only beside a wanted string column, or another reader's. */
					if (!vals) {
						assert_int_equal(rc, STRATA_ENOTFOUND);
						c->dropped++;
					}
					continue;
				}
				assert_non_null(vals);
				if (col->type == LSM_FIELD_STRING) {
					f.v.s.p = ((const lsm_colstr *)vals)[i].p;
					f.v.s.len = ((const lsm_colstr *)vals)[i].len;
				} else if (col->type == LSM_FIELD_BOOL) {
					f.v.b = ((const lsm_colval *)vals)[i].u != 0;
				} else {
					f.v.u = ((const lsm_colval *)vals)[i].u;
				}
				put_field(out, col->id, col->type, &f);
			}
		}
	}
	if (step == LSM_SCAN_ROWS) {
		c->rows_fallbacks++;
		assert_true(resume >= lo && resume <= hi);
		read_rows(db, series, resume, hi, out);
	}
	/* Over: further calls end. */
	assert_int_equal(lsm_scan_next(s, &span, &resume), LSM_SCAN_END);
	lsm_scan_free(s);
}

/* The time of a random point of the series (from its rows), or a random time when it has none. */
static int64_t some_time(fixture *f, const points *all)
{
	const char *p = all->text;
	uint64_t k;

	if (all->n == 0)
		return (int64_t)rng_below(&f->rng, N_WINDOWS * WINDOW_NS);
	k = rng_below(&f->rng, all->n);
	for (uint64_t i = 0; i <= k; i++)
		p = strchr(p, '\n') + 1;
	return strtoll(p, NULL, 10);
}

/*
 * A random range: everything, a whole window, or bounds on the series'
 * own points (exactly, or one nanosecond either side), random times.
 */
static void random_range(fixture *f, const points *all, int64_t *lo, int64_t *hi)
{
	int64_t end = (N_WINDOWS + 1) * WINDOW_NS, t;

	switch (rng_below(&f->rng, 5)) {
	case 0:
		*lo = INT64_MIN;
		*hi = INT64_MAX;
		return;
	case 1:
		*lo = (int64_t)rng_below(&f->rng, N_WINDOWS + 1) * WINDOW_NS;
		*hi = *lo + WINDOW_NS - 1;
		return;
	case 2:
	case 3:
		*lo = some_time(f, all) + (int64_t)rng_below(&f->rng, 3) - 1;
		*hi = some_time(f, all) + (int64_t)rng_below(&f->rng, 3) - 1;
		if (*lo > *hi) {
			t = *lo;
			*lo = *hi;
			*hi = t;
		}
		return;
	default:
		*lo = (int64_t)rng_below(&f->rng, (uint64_t)end) - WINDOW_NS / 4;
		*hi = *lo + (int64_t)rng_below(&f->rng, (uint64_t)end);
		return;
	}
}

/* Reads n random ranges both ways; the scan's figures are added to c. */
/*
 * n random ranges of random series read both ways; every third asks for
 * every field, the others for a random few (the scan may then drop the
 * rest from the sets it caches: column_block.h, lsm_colset_keep).
 */
static void check_ranges(fixture *f, int n, scan_counts *c, const char *what)
{
	for (int r = 0; r < n; r++) {
		uint64_t series = 1 + rng_below(&f->rng, N_SERIES + 1); /* one past the last: none */
		int64_t lo, hi;
		bool by_id[N_FIELDS + 1] = { false };
		lsm_colwant only = { .by_id = by_id, .n_ids = N_FIELDS + 1 };
		points want = { 0 }, got = { 0 }, all = { 0 };

		if (r % 3) {
			for (uint32_t id = 1; id <= N_FIELDS; id++)
				by_id[id] = rng_below(&f->rng, 3) == 0;
			want.only = got.only = &only;
		}
		read_rows(f->db, series, INT64_MIN, INT64_MAX, &all);
		random_range(f, &all, &lo, &hi);
		free(all.text);
		read_rows(f->db, series, lo, hi, &want);
		read_scan(f->db, series, lo, hi, &got, c);
		if (want.n != got.n || (want.len && strcmp(want.text, got.text) != 0))
			fail_msg("%s: series %" PRIu64 " [%" PRId64 ", %" PRId64 "]: %zu points by rows, %zu by "
				 "the scan, or other values", what, series, lo, hi, want.n, got.n);
		free(want.text);
		free(got.text);
	}
}

/* ---- tests ---- */

static void test_scan_final_form_reads_spans(void **state)
{
	fixture *f = *state;
	scan_counts c = { 0 };

	write_windows(f);
	flush(f);
	compact_all(f);
	check_ranges(f, 400, &c, "final form");
	/* Everything is in final-form tables: the scan never needed rows. */
	assert_true(c.spans > 100);
	assert_int_equal(c.rows_fallbacks, 0);
	/* Reading a few fields, the cache kept sets without the others. */
	assert_true(c.dropped > 0);
}

static void test_scan_late_writes_overwrites_and_deletes(void **state)
{
	fixture *f = *state;
	scan_counts c = { 0 };

	write_windows(f);
	flush(f);
	compact_all(f);
	/* Late points into closed windows, overwrites (PUT and MERGE) and deletes of existing keys. */
	for (int i = 0; i < 300; i++) {
		uint64_t series = 1 + rng_below(&f->rng, N_SERIES);
		int64_t t = (int64_t)rng_below(&f->rng, N_WINDOWS * WINDOW_NS);
		enum lsm_kind kind = (enum lsm_kind)rng_below(&f->rng, 3);
		points p = { 0 };

		read_rows(f->db, series, t, INT64_MAX, &p);
		if (p.n > 0 && rng_below(&f->rng, 2)) /* hit an existing key */
			t = strtoll(p.text + 1, NULL, 10);
		free(p.text);
		write_point(f, kind, series, t);
	}
	/* And points in a window no table holds yet. */
	for (int i = 0; i < 100; i++)
		write_point(f, LSM_KIND_PUT, 1 + rng_below(&f->rng, N_SERIES),
			    N_WINDOWS * WINDOW_NS + (int64_t)rng_below(&f->rng, WINDOW_NS));
	check_ranges(f, 300, &c, "late writes in the memtable");
	assert_true(c.rows_fallbacks > 0);
	flush(f); /* now windows hold two tables */
	memset(&c, 0, sizeof c);
	check_ranges(f, 300, &c, "late writes in a second table");
	assert_true(c.rows_fallbacks > 0);
	compact_all(f);
	memset(&c, 0, sizeof c);
	check_ranges(f, 300, &c, "late writes merged");
	assert_int_equal(c.rows_fallbacks, 0);
	assert_true(c.spans > 0);
}

static void test_scan_live_windows_and_reopen(void **state)
{
	fixture *f = *state;
	scan_counts c = { 0 };

	/* Flushed but not compacted: no final form yet, everything through rows. */
	write_windows(f);
	flush(f);
	check_ranges(f, 200, &c, "flushed tables");
	assert_int_equal(c.spans, 0);
	compact_all(f);
	assert_int_equal(lsm_close(f->db), 0);
	f->db = NULL;
	assert_int_equal(lsm_open(&f->db, f->dir, &f->opt), 0);
	memset(&c, 0, sizeof c);
	check_ranges(f, 200, &c, "reopened");
	assert_true(c.spans > 0);
}

/*
 * Odd series in two-hour windows, even ones in the engine's hour: final
 * tables of both lengths share time but not series, so the scan reads
 * spans. Then the lengths swap and late points, overwrites and deletes go
 * to windows of the new lengths, over the final tables of the old: the
 * scan must hand over to rows there, before and after compaction.
 */
static void test_scan_window_lengths(void **state)
{
	fixture *f = *state;
	scan_counts c = { 0 };

	for (uint64_t s = 1; s <= N_SERIES; s += 2)
		atomic_store(&f->lengths[s], 2 * WINDOW_NS);
	write_windows(f);
	flush(f);
	compact_all(f);
	check_ranges(f, 400, &c, "two lengths, final form");
	assert_true(c.spans > 100);
	/* Only a bloom filter's false positive on another length's table sends a scan to rows. */
	print_message("spans %" PRIu64 " fallbacks %" PRIu64 "\n", c.spans, c.rows_fallbacks);
	assert_true(c.rows_fallbacks < 80);

	for (uint64_t s = 1; s <= N_SERIES; s++)
		atomic_store(&f->lengths[s], s % 2 ? 0 : 2 * WINDOW_NS);
	for (int i = 0; i < 400; i++) {
		uint64_t series = 1 + rng_below(&f->rng, N_SERIES);
		int64_t t = (int64_t)rng_below(&f->rng, N_WINDOWS * WINDOW_NS);
		enum lsm_kind kind = (enum lsm_kind)rng_below(&f->rng, 3);
		points p = { 0 };

		read_rows(f->db, series, t, INT64_MAX, &p);
		if (p.n > 0 && rng_below(&f->rng, 2)) /* hit an existing key */
			t = strtoll(p.text + 1, NULL, 10);
		free(p.text);
		write_point(f, kind, series, t);
	}
	flush(f);
	memset(&c, 0, sizeof c);
	check_ranges(f, 300, &c, "lengths changed, flushed");
	assert_true(c.rows_fallbacks > 0);
	compact_all(f);
	memset(&c, 0, sizeof c);
	check_ranges(f, 300, &c, "lengths changed, compacted");
	assert_true(c.rows_fallbacks > 0); /* a series' points in windows of two lengths are merged as rows */
	assert_int_equal(lsm_close(f->db), 0);
	f->db = NULL;
	assert_int_equal(lsm_open(&f->db, f->dir, &f->opt), 0);
	memset(&c, 0, sizeof c);
	check_ranges(f, 300, &c, "lengths changed, reopened");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scan_final_form_reads_spans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_late_writes_overwrites_and_deletes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_live_windows_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_window_lengths, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
