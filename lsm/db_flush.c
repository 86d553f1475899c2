/*
 * db_flush.c — turns a memtable into tables, one per time window.
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

typedef struct window_set {
	int64_t *windows; /* ascending, distinct */
	size_t n;
	size_t cap;
} window_set;

static int window_set_add(window_set *s, int64_t w)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->windows[mid] < w)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->n && s->windows[lo] == w)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		int64_t *grown = strata_realloc(s->windows, cap * sizeof *grown);

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

/* The distinct windows of m's keys, and the highest sequence number in m. */
static int collect_windows(lsm_db *db, lsm_memtable *m, window_set *out, uint64_t *max_seq)
{
	lsm_iter *it = lsm_memtable_iter_new(m);
	int64_t last = 0;
	bool have_last = false;
	int rc = 0;

	if (!it)
		return -ENOMEM;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t len;
		const uint8_t *k = lsm_iter_key(it, &len);
		int64_t w = lsm_window_of(lsm_ukey_ts(k), db->opt.window_ns);

		if (lsm_ikey_seq(k) > *max_seq)
			*max_seq = lsm_ikey_seq(k);
		if (have_last && w == last)
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
	const int64_t *windows; /* the windows of this pass */
	size_t n;
	lsm_sst_builder *builders[FLUSH_MAX_OPEN];
	uint64_t numbers[FLUSH_MAX_OPEN];
} flush_pass;

static lsm_sst_builder *builder_for(flush_pass *p, int64_t w, int *rc)
{
	size_t lo = 0, hi = p->n;
	char path[4096];

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->windows[mid] < w)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == p->n || p->windows[lo] != w)
		return NULL; /* another pass handles it */
	if (!p->builders[lo]) {
		p->numbers[lo] = lsm_versions_new_file_number(p->db->versions);
		lsm_sst_path(path, sizeof path, p->db->dir, p->numbers[lo]);
		*rc = lsm_sst_builder_open(&p->builders[lo], path, w, &p->db->opt.sst);
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
	lsm_sst_builder *b = builder_for(p, lsm_window_of(lsm_ukey_ts(ukey), p->db->opt.window_ns), &rc);

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
	lsm_version_edit edit;
	uint64_t bytes = 0, max_seq = 0, start = lsm_now_ns();
	int rc;

	lsm_version_edit_init(&edit);
	rc = collect_windows(db, m, &windows, &max_seq);
	for (size_t first = 0; rc == 0 && first < windows.n; first += FLUSH_MAX_OPEN) {
		flush_pass p = { .db = db, .windows = windows.windows + first };

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
	return rc;
}
