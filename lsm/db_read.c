/*
 * db_read.c — point lookups and range iterators.
 *
 * A read pins a snapshot: the active and immutable memtables, the current
 * version and the visible sequence number, taken together under db->mu (see
 * db_int.h). It then merges one iterator per source — memtables first, then
 * the tables of the time windows the range touches — and folds the versions
 * of each key newest first (resolve.h), skipping versions newer than the
 * snapshot. Tables that cannot hold the range are never opened: their key
 * range or, for a single-series range, their bloom filter rules them out.
 *
 * A point lookup gathers the versions of its key from the same sources
 * without the merge heap (lsm_get, at the end), and folds them the same way.
 */
#include "lsm/alloc.h"
#include "lsm/db_int.h"
#include "lsm/merge_iter.h"
#include "lsm/resolve.h"

#include <errno.h>

void lsm_read_view_pin(lsm_db *db, lsm_read_view *v)
{
	pthread_mutex_lock(&db->mu);
	v->mem = db->mem;
	lsm_memtable_ref(v->mem);
	v->imm = db->imm;
	if (v->imm)
		lsm_memtable_ref(v->imm);
	v->version = lsm_versions_current(db->versions);
	v->snapshot = lsm_commit_visible_seq(db->commit);
	pthread_mutex_unlock(&db->mu);
}

void lsm_read_view_unpin(lsm_read_view *v)
{
	if (v->mem)
		lsm_memtable_unref(v->mem);
	if (v->imm)
		lsm_memtable_unref(v->imm);
	if (v->version)
		lsm_version_unref(v->version);
	*v = (lsm_read_view){ 0 };
}

struct lsm_db_iter {
	lsm_db *db;
	lsm_iter *merged;
	lsm_read_view view;
	uint8_t lo[LSM_UKEY_LEN];
	uint8_t hi[LSM_UKEY_LEN];
	uint8_t key[LSM_UKEY_LEN];
	lsm_resolve value;
	bool valid;
	int status;
};

/*
 * The time range a [lo, hi) key range can hold: bounded when it stays within
 * one series (hi in the same series, or the first key of the next one).
 */
static bool single_series_range(const uint8_t *lo, const uint8_t *hi, int64_t *t0, int64_t *t1_incl)
{
	uint64_t s_lo = lsm_ukey_series(lo), s_hi = lsm_ukey_series(hi);

	*t0 = lsm_ukey_ts(lo);
	if (s_hi == s_lo) {
		if (lsm_ukey_ts(hi) == INT64_MIN)
			return false; /* empty range */
		*t1_incl = lsm_ukey_ts(hi) - 1;
		return true;
	}
	if (s_hi == s_lo + 1 && lsm_ukey_ts(hi) == INT64_MIN) {
		*t1_incl = INT64_MAX;
		return true;
	}
	return false;
}

/* Does the table's key range [smallest, largest] meet [lo, hi)? */
static bool table_overlaps(const lsm_sst_props *p, const uint8_t *lo, const uint8_t *hi)
{
	return memcmp(p->largest, lo, LSM_UKEY_LEN) >= 0 && memcmp(p->smallest, hi, LSM_UKEY_LEN) < 0;
}

typedef struct child_list {
	lsm_iter **items;
	size_t n;
	size_t cap;
} child_list;

static int child_list_push(child_list *l, lsm_iter *it)
{
	if (!it)
		return -ENOMEM;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		lsm_iter **grown = strata_realloc(l->items, cap * sizeof *grown);

		if (!grown) {
			lsm_iter_free(it);
			return -ENOMEM;
		}
		l->items = grown;
		l->cap = cap;
	}
	l->items[l->n++] = it;
	return 0;
}

/* Adds an iterator for every table of the version that may hold keys in [lo, hi). */
static int add_table_iters(lsm_db_iter *it, child_list *children)
{
	lsm_version *v = it->view.version;
	int64_t t0 = INT64_MIN, t1 = INT64_MAX; /* the whole of time unless the range is one series's */
	bool single = single_series_range(it->lo, it->hi, &t0, &t1);
	uint64_t series = lsm_ukey_series(it->lo);
	size_t first = single ? lsm_version_first_overlap(v, t0) : 0;

	/* Windows of every length that overlap [t0, t1]: a series may have points in several. */
	for (size_t i = first; i < v->n_windows; i++) {
		const lsm_window_files *wf = &v->windows[i];

		if (single && wf->first_ns > t1)
			break;
		if (single && wf->last_ns < t0)
			continue;
		for (size_t j = 0; j < wf->n_files; j++) {
			lsm_file *f = wf->files[j];
			lsm_sst *table;
			int rc;

			if (!table_overlaps(&f->props, it->lo, it->hi))
				continue;
			rc = lsm_file_table(f, &table);
			if (rc)
				return rc;
			if (single && !lsm_sst_may_contain_series(table, series))
				continue;
			rc = child_list_push(children, lsm_sst_iter_new(table));
			if (rc)
				return rc;
		}
	}
	return 0;
}

int lsm_db_iter_new(lsm_db_iter **out, lsm_db *db, const uint8_t lo[LSM_UKEY_LEN],
		    const uint8_t hi[LSM_UKEY_LEN])
{
	child_list children = { 0 };
	lsm_db_iter *it;
	int rc;

	*out = NULL;
	it = strata_calloc(1, sizeof *it);
	if (!it)
		return -ENOMEM;
	it->db = db;
	memcpy(it->lo, lo, LSM_UKEY_LEN);
	memcpy(it->hi, hi, LSM_UKEY_LEN);
	lsm_resolve_init(&it->value, db->opt.merge, db->opt.merge_ctx);

	lsm_read_view_pin(db, &it->view);

	/* Newest sources first: on equal keys the merge prefers earlier children. */
	rc = child_list_push(&children, lsm_memtable_iter_new(it->view.mem));
	if (rc == 0 && it->view.imm)
		rc = child_list_push(&children, lsm_memtable_iter_new(it->view.imm));
	if (rc == 0)
		rc = add_table_iters(it, &children);
	if (rc) {
		for (size_t i = 0; i < children.n; i++)
			lsm_iter_free(children.items[i]);
		strata_free(children.items);
		lsm_db_iter_free(it);
		return rc;
	}
	it->merged = lsm_merge_iter_new(children.items, children.n);
	strata_free(children.items);
	if (!it->merged) {
		lsm_db_iter_free(it);
		return -ENOMEM;
	}
	*out = it;
	return 0;
}

/*
 * From the merged position, finds the next key below hi with a live value at
 * the snapshot, folding its versions into it->value.
 */
static void find_visible(lsm_db_iter *it)
{
	lsm_iter *m = it->merged;

	it->valid = false;
	while (lsm_iter_valid(m)) {
		uint64_t last_seq = 0;
		bool have_last = false;
		size_t klen;
		const uint8_t *k = lsm_iter_key(m, &klen);

		if (memcmp(k, it->hi, LSM_UKEY_LEN) >= 0)
			return;
		if (lsm_ikey_seq(k) > it->view.snapshot) {
			lsm_iter_next(m);
			continue;
		}
		memcpy(it->key, k, LSM_UKEY_LEN);
		lsm_resolve_reset(&it->value);
		for (; lsm_iter_valid(m); lsm_iter_next(m)) {
			size_t vlen;
			const uint8_t *v;

			k = lsm_iter_key(m, &klen);
			if (!lsm_ukey_equal(k, it->key))
				break;
			/*
			 * The same entry may sit in two sources while a flush
			 * publishes: the memtable's and the table's, folded, with the
			 * same sequence number (sequence numbers are unique per entry;
			 * the folded kind may differ). Take it once.
			 */
			if (lsm_ikey_seq(k) > it->view.snapshot || it->value.done ||
			    (have_last && lsm_ikey_seq(k) == last_seq))
				continue;
			last_seq = lsm_ikey_seq(k);
			have_last = true;
			v = lsm_iter_value(m, &vlen);
			it->status = lsm_resolve_add(&it->value, lsm_ikey_kind(k), v, vlen);
			if (it->status)
				return;
		}
		if (it->value.have && !it->value.deleted) {
			it->valid = true;
			return;
		}
	}
	it->status = lsm_iter_status(m);
}

void lsm_db_iter_seek(lsm_db_iter *it, const uint8_t ukey[LSM_UKEY_LEN])
{
	uint8_t target[LSM_IKEY_LEN];
	const uint8_t *from = memcmp(ukey, it->lo, LSM_UKEY_LEN) < 0 ? it->lo : ukey;

	if (it->status)
		return;
	lsm_ikey_seek_key(target, from, it->view.snapshot);
	lsm_iter_seek(it->merged, target, sizeof target);
	find_visible(it);
}

void lsm_db_iter_seek_first(lsm_db_iter *it)
{
	lsm_db_iter_seek(it, it->lo);
}

bool lsm_db_iter_valid(const lsm_db_iter *it)
{
	return it->valid;
}

void lsm_db_iter_next(lsm_db_iter *it)
{
	if (!it->valid)
		return;
	/* find_visible left the merge on the first entry of the next key. */
	find_visible(it);
}

const uint8_t *lsm_db_iter_key(const lsm_db_iter *it)
{
	return it->key;
}

const uint8_t *lsm_db_iter_value(const lsm_db_iter *it, size_t *out_len)
{
	*out_len = it->value.len;
	return it->value.buf;
}

int lsm_db_iter_status(const lsm_db_iter *it)
{
	return it->status;
}

void lsm_db_iter_free(lsm_db_iter *it)
{
	if (!it)
		return;
	lsm_iter_free(it->merged);
	lsm_read_view_unpin(&it->view);
	lsm_resolve_deinit(&it->value);
	strata_free(it);
}

/* ---- point lookups ---- */

/* One version of the key being looked up; its value lives in get_state.values. */
typedef struct get_version {
	uint64_t seq;
	enum lsm_kind kind;
	size_t off, len;
} get_version;

typedef struct get_state {
	get_version *versions;
	size_t n, cap;
	uint8_t *values;
	size_t values_len, values_cap;
} get_state;

static int get_push(get_state *g, const uint8_t *ikey, const uint8_t *value, size_t len)
{
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 8;
		get_version *grown = strata_realloc(g->versions, cap * sizeof *grown);

		if (!grown)
			return -ENOMEM;
		g->versions = grown;
		g->cap = cap;
	}
	if (g->values_len + len > g->values_cap) {
		size_t cap = g->values_cap ? g->values_cap : 256;
		uint8_t *grown;

		while (cap < g->values_len + len)
			cap *= 2;
		grown = strata_realloc(g->values, cap);
		if (!grown)
			return -ENOMEM;
		g->values = grown;
		g->values_cap = cap;
	}
	if (len)
		memcpy(g->values + g->values_len, value, len);
	g->versions[g->n++] = (get_version){ lsm_ikey_seq(ikey), lsm_ikey_kind(ikey), g->values_len, len };
	g->values_len += len;
	return 0;
}

/* Adds every version of ukey visible at the seek key's snapshot in one source; frees it. */
static int get_collect(get_state *g, lsm_iter *it, const uint8_t *seek, const uint8_t *ukey)
{
	int rc = 0;

	if (!it)
		return -ENOMEM;
	for (lsm_iter_seek(it, seek, LSM_IKEY_LEN); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t klen, vlen;
		const uint8_t *k = lsm_iter_key(it, &klen);
		const uint8_t *v;

		if (!lsm_ukey_equal(k, ukey))
			break;
		v = lsm_iter_value(it, &vlen);
		rc = get_push(g, k, v, vlen);
		if (rc)
			break;
	}
	if (rc == 0)
		rc = lsm_iter_status(it);
	lsm_iter_free(it);
	return rc;
}

/*
 * A point lookup without the merging iterator: the versions of the key are
 * gathered from the memtables and from the tables of the windows (of any
 * length) holding its time that may hold it (key range, then bloom filter), ordered newest first by sequence
 * number — which holds however the tables' sequence ranges overlap — and
 * folded. An entry found twice (in an immutable memtable and in the table
 * just flushed from it) has one sequence number and is taken once.
 */
int lsm_get(lsm_db *db, const uint8_t ukey[LSM_UKEY_LEN], uint8_t **out, size_t *out_len)
{
	get_state g = { 0 };
	lsm_read_view view;
	lsm_memtable *mem, *imm;
	lsm_version *v;
	lsm_resolve r;
	uint64_t snapshot, last_seq = 0;
	uint8_t seek[LSM_IKEY_LEN];
	int64_t ts = lsm_ukey_ts(ukey);
	int rc;

	*out = NULL;
	*out_len = 0;
	lsm_read_view_pin(db, &view);
	mem = view.mem;
	imm = view.imm;
	v = view.version;
	snapshot = view.snapshot;
	lsm_resolve_init(&r, db->opt.merge, db->opt.merge_ctx);
	lsm_ikey_seek_key(seek, ukey, snapshot);

	rc = get_collect(&g, lsm_memtable_iter_new(mem), seek, ukey);
	if (rc == 0 && imm)
		rc = get_collect(&g, lsm_memtable_iter_new(imm), seek, ukey);
	/* Every window holding ts: windows of different lengths may hold versions of the key. */
	for (size_t wi = lsm_version_first_overlap(v, ts); rc == 0 && wi < v->n_windows; wi++) {
		const lsm_window_files *wf = &v->windows[wi];

		if (wf->first_ns > ts)
			break;
		if (wf->last_ns < ts)
			continue;
		for (size_t j = 0; rc == 0 && j < wf->n_files; j++) {
			lsm_file *f = wf->files[j];
			lsm_sst *table;

			if (memcmp(f->props.smallest, ukey, LSM_UKEY_LEN) > 0 ||
			    memcmp(f->props.largest, ukey, LSM_UKEY_LEN) < 0)
				continue;
			rc = lsm_file_table(f, &table);
			if (rc == 0 && lsm_sst_may_contain_series(table, lsm_ukey_series(ukey)))
				rc = get_collect(&g, lsm_sst_iter_new(table), seek, ukey);
		}
	}
	/* Newest first: few versions, insertion sort. */
	for (size_t i = 1; rc == 0 && i < g.n; i++) {
		get_version t = g.versions[i];
		size_t j = i;

		while (j > 0 && g.versions[j - 1].seq < t.seq) {
			g.versions[j] = g.versions[j - 1];
			j--;
		}
		g.versions[j] = t;
	}
	for (size_t i = 0; rc == 0 && i < g.n && !r.done; i++) {
		if (i > 0 && g.versions[i].seq == last_seq)
			continue;
		last_seq = g.versions[i].seq;
		rc = lsm_resolve_add(&r, g.versions[i].kind, g.values + g.versions[i].off, g.versions[i].len);
	}
	if (rc == 0 && (!r.have || r.deleted))
		rc = STRATA_ENOTFOUND;
	if (rc == 0) {
		*out = strata_malloc(r.len ? r.len : 1);
		if (!*out) {
			rc = -ENOMEM;
		} else {
			if (r.len)
				memcpy(*out, r.buf, r.len);
			*out_len = r.len;
		}
	}
	lsm_resolve_deinit(&r);
	strata_free(g.versions);
	strata_free(g.values);
	lsm_read_view_unpin(&view);
	return rc;
}
