/*
 * db_flush.c — turns a memtable into tables, one per time window.
 *
 * A series' window length is its retention policy's shard duration, asked
 * of the series_window hook (lsm.h) once per run of the series; a window
 * is a length and a number, so series of different lengths never share a
 * table.
 *
 * The memtable is sorted by series then time, so the windows of one flush
 * interleave: every series walks through them in turn. The flush therefore
 * keeps one table builder open per window. To bound open files and buffers
 * when a memtable spans many windows (a backfill of old data), it handles at
 * most FLUSH_MAX_OPEN windows per pass over the memtable.
 *
 * Each key is written once: its versions in the memtable are folded
 * (resolve.h) into one entry carrying the newest sequence number. That is
 * safe because a reader that could see an older version of the key still
 * pins this memtable, not the tables made from it.
 */
#include "lsm/alloc.h"
#include "lsm/db_int.h"
#include "lsm/log.h"
#include "lsm/resolve.h"
#include "lsm/sstable_builder.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#define FLUSH_MAX_OPEN 64

/* A window: its length and its number among windows of that length. */
typedef struct window_id {
	int64_t window_ns;
	int64_t window;
} window_id;

static int window_cmp(window_id a, window_id b)
{
	if (a.window_ns != b.window_ns)
		return a.window_ns < b.window_ns ? -1 : 1;
	if (a.window != b.window)
		return a.window < b.window ? -1 : 1;
	return 0;
}

/* Index of the first of ids[0..n) not below w. */
static size_t window_find(const window_id *ids, size_t n, window_id w)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (window_cmp(ids[mid], w) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

typedef struct window_set {
	window_id *windows; /* ascending, distinct */
	size_t n;
	size_t cap;
} window_set;

static int window_set_add(window_set *s, window_id w)
{
	size_t lo = window_find(s->windows, s->n, w);

	if (lo < s->n && window_cmp(s->windows[lo], w) == 0)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		window_id *grown = strata_realloc(s->windows, cap * sizeof *grown);

		if (!grown)
			return -ENOMEM;
		s->windows = grown;
		s->cap = cap;
	}
	memmove(s->windows + lo + 1, s->windows + lo, (s->n - lo) * sizeof *s->windows);
	s->windows[lo] = w;
	s->n++;
	return 0;
}

/*
 * The window length of each series of the memtable, asked of the hook once
 * per series when the windows are collected, and kept for the passes: an
 * ALTER between two looks must not move a key to a window no pass writes.
 * Kept as runs (the first series of each change of length; keys are sorted
 * by series first, and most neighbours share a length), read by the passes
 * with a cursor in the same order.
 */
typedef struct length_run {
	uint64_t first_series;
	int64_t window_ns;
} length_run;

typedef struct lengths {
	length_run *runs;
	size_t n, cap;
	bool have_last;
	uint64_t last_series;  /* asked last while collecting */
	size_t cursor;         /* of a pass: the run of the series at hand */
} lengths;

/* While collecting: the length of series, from the hook. */
static int length_ask(lsm_db *db, lengths *l, uint64_t series, int64_t *out)
{
	int64_t len;

	if (l->have_last && l->last_series == series) {
		*out = l->runs[l->n - 1].window_ns;
		return 0;
	}
	len = db->opt.series_window ? db->opt.series_window(db->opt.series_window_ctx, series) : 0;
	if (len <= 0)
		len = db->opt.window_ns;
	l->have_last = true;
	l->last_series = series;
	*out = len;
	if (l->n > 0 && l->runs[l->n - 1].window_ns == len)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		length_run *grown = strata_realloc(l->runs, cap * sizeof *grown);

		if (!grown)
			return -ENOMEM;
		l->runs = grown;
		l->cap = cap;
	}
	l->runs[l->n++] = (length_run){ .first_series = series, .window_ns = len };
	return 0;
}

/* In a pass (series ascending from the cursor's): the length collected for series. */
static int64_t length_of(lengths *l, uint64_t series)
{
	while (l->cursor + 1 < l->n && l->runs[l->cursor + 1].first_series <= series)
		l->cursor++;
	return l->runs[l->cursor].window_ns;
}

static window_id window_at(int64_t window_ns, const uint8_t *ukey)
{
	return (window_id){ .window_ns = window_ns, .window = lsm_window_of(lsm_ukey_ts(ukey), window_ns) };
}

/* The distinct windows of m's keys with each series' length in *lens, and the highest sequence number in m. */
static int collect_windows(lsm_db *db, lsm_memtable *m, window_set *out, lengths *lens, uint64_t *max_seq)
{
	lsm_iter *it = lsm_memtable_iter_new(m);
	window_id last = { 0 };
	bool have_last = false;
	int rc = 0;

	if (!it)
		return -ENOMEM;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t len;
		const uint8_t *k = lsm_iter_key(it, &len);
		int64_t window_ns;
		window_id w;

		rc = length_ask(db, lens, lsm_ukey_series(k), &window_ns);
		if (rc)
			break;
		w = window_at(window_ns, k);
		if (lsm_ikey_seq(k) > *max_seq)
			*max_seq = lsm_ikey_seq(k);
		if (have_last && window_cmp(w, last) == 0)
			continue;
		rc = window_set_add(out, w);
		if (rc)
			break;
		last = w;
		have_last = true;
	}
	lsm_iter_free(it);
	return rc;
}

typedef struct flush_pass {
	lsm_db *db;
	const window_id *windows; /* the windows of this pass */
	size_t n;
	lengths *lens;            /* each series' length, as collected */
	lsm_sst_builder *builders[FLUSH_MAX_OPEN];
	uint64_t numbers[FLUSH_MAX_OPEN];
} flush_pass;

static lsm_sst_builder *builder_for(flush_pass *p, window_id w, int *rc)
{
	size_t lo = window_find(p->windows, p->n, w);
	char path[4096];

	if (lo == p->n || window_cmp(p->windows[lo], w) != 0)
		return NULL; /* another pass handles it */
	if (!p->builders[lo]) {
		p->numbers[lo] = lsm_versions_new_file_number(p->db->versions);
		lsm_sst_path(path, sizeof path, p->db->dir, p->numbers[lo]);
		*rc = lsm_sst_builder_open(&p->builders[lo], path, w.window, w.window_ns, &p->db->opt.sst);
		if (*rc)
			return NULL;
	}
	return p->builders[lo];
}

/* Writes one folded key to its window's table. */
static int emit(flush_pass *p, const uint8_t *ukey, uint64_t seq, const lsm_resolve *r)
{
	uint8_t ikey[LSM_IKEY_LEN];
	enum lsm_kind kind = r->deleted ? LSM_KIND_DELETE : r->base ? LSM_KIND_PUT : LSM_KIND_MERGE;
	int rc = 0;
	lsm_sst_builder *b = builder_for(p, window_at(length_of(p->lens, lsm_ukey_series(ukey)), ukey), &rc);

	if (!b)
		return rc;
	lsm_ikey_encode(ikey, ukey, seq, kind);
	return lsm_sst_builder_add(b, ikey, sizeof ikey, kind == LSM_KIND_DELETE ? NULL : r->buf,
				   kind == LSM_KIND_DELETE ? 0 : r->len);
}

/* One pass over m for the windows of p; finished tables go into edit. */
static int flush_pass_run(flush_pass *p, lsm_memtable *m, lsm_version_edit *edit, uint64_t *bytes)
{
	lsm_iter *it = lsm_memtable_iter_new(m);
	lsm_resolve r;
	uint8_t ukey[LSM_UKEY_LEN];
	uint64_t seq = 0;
	bool in_key = false;
	int rc = 0;

	if (!it)
		return -ENOMEM;
	lsm_resolve_init(&r, p->db->opt.merge, p->db->opt.merge_ctx);
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t klen, vlen;
		const uint8_t *k = lsm_iter_key(it, &klen);
		const uint8_t *v = lsm_iter_value(it, &vlen);

		if (!in_key || !lsm_ukey_equal(k, ukey)) {
			if (in_key && (rc = emit(p, ukey, seq, &r)) != 0)
				goto out;
			memcpy(ukey, k, LSM_UKEY_LEN);
			seq = lsm_ikey_seq(k); /* the newest version comes first */
			lsm_resolve_reset(&r);
			in_key = true;
		}
		rc = lsm_resolve_add(&r, lsm_ikey_kind(k), v, vlen);
		if (rc)
			goto out;
	}
	if (in_key)
		rc = emit(p, ukey, seq, &r);
	if (rc)
		goto out;
	for (size_t i = 0; i < p->n; i++) {
		lsm_sst_props props;
		lsm_sst_builder *b = p->builders[i];

		if (!b)
			continue;
		p->builders[i] = NULL;
		rc = lsm_sst_builder_finish(b, &props);
		if (rc)
			goto out;
		*bytes += props.file_bytes;
		rc = lsm_version_edit_add_file(edit, p->numbers[i], &props);
		if (rc)
			goto out;
	}
out:
	for (size_t i = 0; i < p->n; i++) {
		if (p->builders[i])
			lsm_sst_builder_abandon(p->builders[i]);
		p->builders[i] = NULL;
	}
	lsm_resolve_deinit(&r);
	lsm_iter_free(it);
	return rc;
}

int lsm_db_flush_memtable(lsm_db *db, lsm_memtable *m, bool set_log_number, uint64_t log_number)
{
	window_set windows = { 0 };
	lengths lens = { 0 };
	lsm_version_edit edit;
	uint64_t bytes = 0, max_seq = 0, start = lsm_now_ns();
	int rc;

	lsm_version_edit_init(&edit);
	rc = collect_windows(db, m, &windows, &lens, &max_seq);
	for (size_t first = 0; rc == 0 && first < windows.n; first += FLUSH_MAX_OPEN) {
		flush_pass p = { .db = db, .windows = windows.windows + first, .lens = &lens };

		lens.cursor = 0; /* each pass reads the series from the first */
		p.n = windows.n - first < FLUSH_MAX_OPEN ? windows.n - first : FLUSH_MAX_OPEN;
		rc = flush_pass_run(&p, m, &edit, &bytes);
	}
	if (rc)
		goto out;
	if (max_seq > 0) {
		edit.has_last_seq = true;
		edit.last_seq = max_seq;
	}
	if (set_log_number) {
		edit.has_log_number = true;
		edit.log_number = log_number;
	}
	pthread_mutex_lock(&db->version_mu);
	rc = lsm_versions_apply(db->versions, &edit);
	/*
	 * The flushed memtable leaves the read path with the same publish:
	 * while version_mu is held no compaction can fold the new tables with
	 * older ones, and a reader pins memtables and version together under
	 * db->mu. Left set any longer, a reader could pin it beside a version
	 * where a compaction had folded its entries (a MERGE with the base it
	 * applies to, as a PUT of the same sequence number): the memtable's
	 * copy sorts first and the folded one is skipped as the same entry, so
	 * the read gave the operand without its base.
	 */
	if (rc == 0) {
		pthread_mutex_lock(&db->mu);
		if (db->imm == m) {
			db->imm = NULL;
			db->flushes_done++;
			pthread_cond_broadcast(&db->flushed_cv);
		}
		pthread_mutex_unlock(&db->mu);
	}
	pthread_mutex_unlock(&db->version_mu);
	if (rc) {
		/*
		 * The edit may have reached the disk before its sync failed, and
		 * then names these tables: keep them. The next open removes them
		 * as orphans if the edit did not survive.
		 */
		edit.n_added = 0;
		goto out;
	}
	if (edit.n_added == 0)
		goto out; /* nothing to flush: the edit only moved log_number */
	atomic_fetch_add(&db->flushes, 1);
	atomic_fetch_add(&db->flush_bytes, bytes);
	LOG_INFO("event=flush entries=%llu tables=%zu windows=%zu bytes=%llu ms=%.1f",
		 (unsigned long long)lsm_memtable_count(m), edit.n_added, windows.n,
		 (unsigned long long)bytes, (double)(lsm_now_ns() - start) / 1e6);
out:
	if (rc) {
		/* Tables finished before the failure are in no version: remove them. */
		for (size_t i = 0; i < edit.n_added; i++) {
			char path[4096];

			lsm_sst_path(path, sizeof path, db->dir, edit.added_numbers[i]);
			unlink(path);
		}
	}
	lsm_version_edit_deinit(&edit);
	strata_free(windows.windows);
	strata_free(lens.runs);
	return rc;
}
