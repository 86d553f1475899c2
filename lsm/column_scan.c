/*
 * column_scan.c — one series' points read as arrays (column_scan.h).
 *
 * The scan walks the windows of its range in time order, keeping `cur`,
 * the first time it has not handed out yet. In each window it looks for
 * the tables that may hold the series (key range, time range, bloom
 * filter): none, and the window is skipped; one final-form table of column
 * blocks, and its blocks are walked from cur, each giving the run of the
 * series as a span; anything else, and the rest of the range, from cur, is
 * the caller's to read as rows. Points at or after the first time a
 * memtable holds for the series in the range are left to rows as well:
 * there the memtable and the tables must be merged. So is a window that
 * shares time with a window of another length that may hold the series
 * (its length changed with its retention policy's shard duration): the
 * points of the two must be merged too.
 */
#include "lsm/column_scan.h"
#include "lsm/alloc.h"
#include "lsm/db_int.h"
#include "lsm/memtable.h"
#include "lsm/sstable.h"

#include <errno.h>
#include <string.h>

struct lsm_scan {
	lsm_db *db;
	uint64_t series;
	int64_t hi;
	const lsm_colwant *want;
	lsm_read_view view;     /* its version and snapshot (the memtables let go once checked) */
	bool mem_hit;           /* a memtable holds a point of the range... */
	int64_t mem_first;      /* ...first at this time */
	int64_t cur;            /* the first time not handed out yet */
	bool done;              /* the tables gave every point they hold up to hi */
	bool over;              /* LSM_SCAN_END or LSM_SCAN_ROWS was returned */
	size_t win;             /* the window at hand, in version->windows */
	int64_t win_end;        /* first time after it (INT64_MAX at the end of time) */
	bool win_last;          /* no time after the window */
	lsm_sst_blocks *blocks; /* its table's blocks, while walking them */
	lsm_cache_handle *pin;  /* the set of the last span */
	lsm_colset *owned;      /* ...when the table has no cache */
};

/* The first time a memtable holds for series in [lo, hi]: false when none. */
static bool memtable_first(lsm_memtable *m, uint64_t series, int64_t lo, int64_t hi, int64_t *first, int *rc)
{
	uint8_t ukey[LSM_UKEY_LEN], target[LSM_IKEY_LEN];
	lsm_iter *it = lsm_memtable_iter_new(m);
	bool found = false;
	size_t len;

	if (!it) {
		*rc = -ENOMEM;
		return false;
	}
	lsm_ukey_encode(ukey, series, lo);
	lsm_ikey_seek_key(target, ukey, LSM_SEQ_MAX);
	lsm_iter_seek(it, target, sizeof target);
	if (lsm_iter_valid(it)) {
		const uint8_t *k = lsm_iter_key(it, &len);

		if (lsm_ukey_series(k) == series && lsm_ukey_ts(k) <= hi) {
			*first = lsm_ukey_ts(k);
			found = true;
		}
	}
	lsm_iter_free(it);
	return found;
}

int lsm_scan_new(lsm_scan **out, lsm_db *db, uint64_t series, int64_t lo, int64_t hi, const lsm_colwant *want)
{
	lsm_scan *s;
	int rc = 0;

	*out = NULL;
	s = strata_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->db = db;
	s->series = series;
	s->hi = hi;
	s->want = want;
	s->cur = lo;
	s->done = lo > hi;

	lsm_read_view_pin(db, &s->view);
	/* Whatever a memtable holds from here on is left to rows: the check needs no pin after. */
	for (int i = 0; i < 2; i++) {
		lsm_memtable **m = i ? &s->view.imm : &s->view.mem;
		int64_t t;

		if (!*m)
			continue;
		if (rc == 0 && memtable_first(*m, series, lo, hi, &t, &rc) && (!s->mem_hit || t < s->mem_first)) {
			s->mem_hit = true;
			s->mem_first = t;
		}
		lsm_memtable_unref(*m);
		*m = NULL;
	}
	if (rc) {
		lsm_scan_free(s);
		return rc;
	}
	s->win = lsm_version_first_overlap(s->view.version, lo);
	*out = s;
	return 0;
}

static void release_set(lsm_scan *s)
{
	if (s->pin)
		lsm_cache_release(s->db->cache, s->pin);
	s->pin = NULL;
	lsm_colset_free(s->owned);
	s->owned = NULL;
}

static void end_window(lsm_scan *s)
{
	lsm_sst_blocks_free(s->blocks);
	s->blocks = NULL;
	s->win++;
	if (s->win_last)
		s->done = true;
	else if (s->cur < s->win_end)
		s->cur = s->win_end;
}

/* May a table of window wf hold points of the series in [lo, hi]? */
static int window_may_hold(const lsm_window_files *wf, uint64_t series, int64_t lo, int64_t hi, bool *out)
{
	uint8_t klo[LSM_UKEY_LEN], khi[LSM_UKEY_LEN];

	*out = false;
	lsm_ukey_encode(klo, series, lo);
	lsm_ukey_encode(khi, series, hi);
	for (size_t j = 0; j < wf->n_files && !*out; j++) {
		lsm_file *f = wf->files[j];
		lsm_sst *t;
		int rc;

		if (memcmp(f->props.largest, klo, LSM_UKEY_LEN) < 0 || memcmp(f->props.smallest, khi, LSM_UKEY_LEN) > 0 ||
		    f->props.max_ts < lo || f->props.min_ts > hi)
			continue;
		rc = lsm_file_table(f, &t);
		if (rc)
			return rc;
		*out = lsm_sst_may_contain_series(t, series);
	}
	return 0;
}

/* Does another window of the version, sharing time with s->win from cur on, hold points of the series? */
static int others_hold(lsm_scan *s, int64_t from, bool *out)
{
	const lsm_version *v = s->view.version;
	const lsm_window_files *self = &v->windows[s->win];
	int64_t to = self->last_ns < s->hi ? self->last_ns : s->hi;
	int rc = 0;

	*out = false;
	for (size_t i = lsm_version_first_overlap(v, from); i < v->n_windows && rc == 0 && !*out; i++) {
		const lsm_window_files *wf = &v->windows[i];

		if (wf->first_ns > to)
			break;
		if (i == s->win || wf->last_ns < from)
			continue;
		rc = window_may_hold(wf, s->series, from, to, out);
	}
	return rc;
}

/*
 * Starts on the window at s->win: 1 walking its one table's blocks, 0 when
 * it holds nothing of the series (the window is passed), LSM_SCAN_ROWS when
 * it needs the general path, or an error.
 */
static int start_window(lsm_scan *s)
{
	const lsm_window_files *wf = &s->view.version->windows[s->win];
	uint8_t klo[LSM_UKEY_LEN], khi[LSM_UKEY_LEN], target[LSM_IKEY_LEN];
	lsm_sst *table = NULL;
	size_t n = 0;
	bool shared;
	int rc;

	if (wf->last_ns < s->cur) {
		/* Ends before what is left (windows of other lengths start later or end sooner). */
		s->win++;
		return 0;
	}
	s->win_last = wf->last_ns == INT64_MAX;
	s->win_end = s->win_last ? INT64_MAX : wf->last_ns + 1;
	if (s->cur < wf->first_ns)
		s->cur = wf->first_ns;
	if (s->cur > s->hi) {
		s->done = true;
		return 0;
	}
	lsm_ukey_encode(klo, s->series, s->cur);
	lsm_ukey_encode(khi, s->series, s->hi);
	for (size_t j = 0; j < wf->n_files; j++) {
		lsm_file *f = wf->files[j];
		lsm_sst *t;

		if (memcmp(f->props.largest, klo, LSM_UKEY_LEN) < 0 || memcmp(f->props.smallest, khi, LSM_UKEY_LEN) > 0 ||
		    f->props.max_ts < s->cur || f->props.min_ts > s->hi)
			continue;
		rc = lsm_file_table(f, &t);
		if (rc)
			return rc;
		if (!lsm_sst_may_contain_series(t, s->series))
			continue;
		if (++n > 1)
			return LSM_SCAN_ROWS;
		table = t;
	}
	/* Windows of other lengths sharing this one's time that hold the series: their points come in between. */
	rc = others_hold(s, s->cur, &shared);
	if (rc)
		return rc;
	if (n == 0 && shared) {
		s->win++; /* nothing here, but cur must not pass the others' points */
		return 0;
	}
	if (n == 0) {
		end_window(s);
		return 0;
	}
	if (shared)
		return LSM_SCAN_ROWS;
	if (!(lsm_sst_get_props(table)->flags & LSM_SST_FLAG_FINAL) || lsm_sst_get_props(table)->max_seq > s->view.snapshot)
		return LSM_SCAN_ROWS;
	s->blocks = lsm_sst_blocks_new(table);
	if (!s->blocks)
		return -ENOMEM;
	lsm_ikey_seek_key(target, klo, LSM_SEQ_MAX);
	lsm_sst_blocks_seek(s->blocks, target);
	return 1;
}

/* Index of the run of series in set, or set->n_runs. */
static size_t find_run(const lsm_colset *set, uint64_t series)
{
	size_t a = 0, b = set->n_runs;

	while (a < b) {
		size_t m = a + (b - a) / 2;

		if (set->run_series[m] < series)
			a = m + 1;
		else
			b = m;
	}
	return a < set->n_runs && set->run_series[a] == series ? a : set->n_runs;
}

/* The first index in [a, b) whose time is above t (or >= t when `at`), or b. */
static size_t time_bound(const int64_t *ts, size_t a, size_t b, int64_t t, bool at)
{
	while (a < b) {
		size_t m = a + (b - a) / 2;

		if (ts[m] < t || (!at && ts[m] == t))
			a = m + 1;
		else
			b = m;
	}
	return a;
}

/* One block of the walk: 1 with a span, 0 when it gave none, LSM_SCAN_ROWS, or an error. */
static int scan_block(lsm_scan *s, lsm_span *span)
{
	lsm_colset *set;
	int64_t end_t = s->mem_hit && s->mem_first - 1 < s->hi ? s->mem_first - 1 : s->hi;
	size_t run, rs, re, from, to;
	int rc;

	if (!lsm_sst_blocks_valid(s->blocks)) {
		rc = lsm_sst_blocks_status(s->blocks);
		if (rc)
			return rc;
		end_window(s);
		return 0;
	}
	rc = lsm_sst_blocks_columns(s->blocks, s->want, &s->pin, &set);
	if (rc == STRATA_ENOTFOUND)
		return LSM_SCAN_ROWS;
	if (rc)
		return rc;
	if (!s->pin)
		s->owned = set;
	if (!set->simple)
		return LSM_SCAN_ROWS;
	run = find_run(set, s->series);
	if (run == set->n_runs) {
		/* Not here: past the series when the block ends beyond it. */
		if (lsm_ukey_series(lsm_sst_blocks_last_key(s->blocks)) > s->series)
			end_window(s);
		else
			lsm_sst_blocks_next(s->blocks);
		return 0;
	}
	rs = set->run_start[run];
	re = set->run_start[run + 1];
	from = time_bound(set->ts, rs, re, s->cur, true);
	to = time_bound(set->ts, from, re, end_t, false);
	if (to < re) {
		/* The run goes past end_t: the rest is rows (a memtable) or nothing (hi). */
		if (end_t == s->hi)
			s->done = true;
		else
			s->cur = end_t + 1;
	} else if (re < set->n) {
		end_window(s); /* the series ends inside this block */
	} else {
		lsm_sst_blocks_next(s->blocks);
		if (from < to) {
			if (set->ts[to - 1] == INT64_MAX)
				s->done = true;
			else
				s->cur = set->ts[to - 1] + 1;
		}
	}
	if (from == to)
		return 0;
	*span = (lsm_span){ .set = set, .from = from, .to = to };
	return 1;
}

int lsm_scan_next(lsm_scan *s, lsm_span *span, int64_t *resume)
{
	int rc;

	release_set(s);
	*span = (lsm_span){ 0 };
	*resume = s->cur;
	if (s->over)
		return LSM_SCAN_END;
	for (;;) {
		/* The tables gave every point before the memtable's first: rows from there. */
		if (s->mem_hit && (s->done || s->cur >= s->mem_first))
			break;
		if (s->done || s->cur > s->hi) {
			s->over = true;
			return LSM_SCAN_END;
		}
		if (!s->blocks) {
			if (s->win == s->view.version->n_windows || s->view.version->windows[s->win].first_ns > s->hi) {
				/* No table holds more of the range: what is left is in a memtable, or nowhere. */
				s->done = true;
				continue;
			}
			rc = start_window(s);
		} else {
			rc = scan_block(s, span);
			if (rc == 1)
				return LSM_SCAN_SPAN;
			if (rc == 0)
				release_set(s);
		}
		if (rc == LSM_SCAN_ROWS)
			break;
		if (rc < 0)
			return rc;
	}
	release_set(s);
	lsm_sst_blocks_free(s->blocks);
	s->blocks = NULL;
	s->over = true;
	/*
	 * Every point of the tables before cur was handed out, and none at or
	 * after it; past a window the tables end early in, cur may have jumped
	 * beyond the memtable's first point, which rows must then start at.
	 */
	*resume = s->mem_hit && s->mem_first < s->cur ? s->mem_first : s->cur;
	return LSM_SCAN_ROWS;
}

void lsm_scan_free(lsm_scan *s)
{
	if (!s)
		return;
	release_set(s);
	lsm_sst_blocks_free(s->blocks);
	lsm_read_view_unpin(&s->view);
	strata_free(s);
}

int64_t lsm_scan_newest_bound(lsm_db *db, uint64_t series)
{
	lsm_read_view view;
	lsm_memtable *mems[2];
	lsm_version *v;
	int64_t bound = INT64_MIN, t;
	int rc = 0;

	lsm_read_view_pin(db, &view);
	mems[0] = view.mem;
	mems[1] = view.imm;
	v = view.version;
	for (int i = 0; i < 2 && mems[i]; i++)
		if (bound != INT64_MAX && memtable_first(mems[i], series, INT64_MIN, INT64_MAX, &t, &rc))
			bound = INT64_MAX;
	if (rc)
		bound = INT64_MAX; /* could not look: no bound */
	/*
	 * Latest windows first. The windows before one that start more than
	 * the longest window's length before bound end before it: stop there.
	 */
	for (size_t w = v->n_windows; w-- > 0 && bound != INT64_MAX;) {
		const lsm_window_files *wf = &v->windows[w];
		int64_t newest = INT64_MIN, reach;

		if (bound != INT64_MIN && !__builtin_add_overflow(wf->first_ns, v->max_window_ns - 1, &reach) &&
		    reach <= bound)
			break;
		for (size_t j = 0; j < wf->n_files; j++) {
			lsm_file *f = wf->files[j];
			lsm_sst *table;

			if (lsm_ukey_series(f->props.smallest) > series || lsm_ukey_series(f->props.largest) < series ||
			    f->props.max_ts <= newest || f->props.max_ts <= bound)
				continue;
			if (lsm_file_table(f, &table) != 0) {
				newest = INT64_MAX; /* unreadable here: the read itself will say why */
				break;
			}
			if (lsm_sst_may_contain_series(table, series))
				newest = f->props.max_ts;
		}
		if (newest > bound)
			bound = newest;
	}
	lsm_read_view_unpin(&view);
	return bound;
}
