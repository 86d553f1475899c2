/*
 * version.c — versions (immutable sets of live SSTables), the edits that
 * change them, and the manifest that logs those edits (docs/format-manifest.md).
 *
 * A version is built once, published, and never changed: a reader pins it with
 * a reference and reads its files without any lock, however long it takes.
 * Files (lsm_file) are shared by every version that lists them and carry their
 * own reference count; a file removed by an edit is marked obsolete, and the
 * drop of its last reference (the last version or pin holding it) unlinks it.
 * So deletion follows readers, never the other way round.
 *
 * A new version is the old one minus the deleted files plus the added ones.
 * The old version's files are already in order (window ascending, then newest
 * first), so building is a filter and a merge with the few sorted additions:
 * O(n + a log a) per edit, with one allocation for the whole version.
 *
 * The manifest is a record file (record.h) of version edits. Every open writes
 * a fresh manifest holding one snapshot edit and switches CURRENT to it by
 * atomic rename, so no manifest is ever longer than the edits applied since
 * the last open or roll-over; a manifest that grows past roll_bytes is rolled
 * the same way during apply. Appends are write(2) then fdatasync, through the
 * fault points LSM_FAULT_MANIFEST_WRITE / _SYNC. A failure is sticky: the
 * manifest refuses later edits until the engine is reopened, because after a
 * failed write or sync nothing is known about what the file holds.
 *
 * Threads and locks:
 *   - vs->mu guards vs->current (the pointer). lsm_versions_current and
 *     lsm_versions_totals hold it for a pointer copy and a reference (or a
 *     walk of the pinned version); apply holds it only to swap the pointer.
 *   - next_file, log_number and last_seq are atomics: any thread reads them;
 *     new_file_number increments next_file from any thread.
 *   - The manifest state (fd, number, size, sticky_rc, roll_bytes) belongs to
 *     the one thread that applies edits (the caller serialises apply).
 *   - lsm_file.open_mu serialises the first open of a table; the fast path
 *     reads lsm_file.opened with acquire order and takes no lock. The mutex is
 *     held across the open's I/O on purpose: only threads that want this same
 *     table wait, and they would have to wait for the open anyway.
 *   - vs->refs counts the handle plus every live version and file, so a file
 *     released after lsm_versions_close can still find its directory; the
 *     cache, though, must outlive the last version.
 */
#include "lsm/version.h"
#include "lsm/alloc.h"
#include "lsm/coding.h"
#include "lsm/fault.h"
#include "lsm/file_io.h"
#include "lsm/log.h"
#include "lsm/record.h"
#include "lsm/status.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* Edit field tags (docs/format-manifest.md). */
enum {
	TAG_END = 0,
	TAG_LOG_NUMBER = 1,
	TAG_NEXT_FILE = 2,
	TAG_LAST_SEQ = 3,
	TAG_ADD_FILE_V1 = 4, /* properties without the window length: LSM_WINDOW_LEGACY_NS */
	TAG_DELETE_FILE = 5,
	TAG_ADD_FILE = 6,    /* properties with the window length after the window */
};

/* Largest encoding of one lsm_sst_props: two keys, three zigzag varints, nine varints. */
#define PROPS_MAX_LEN (2 * LSM_IKEY_LEN + 12 * LSM_VARINT64_MAX)
#define CURRENT_MAX_LEN 128

struct lsm_versions {
	atomic_int refs;           /* the handle + live versions + live files */
	char *dir;
	lsm_cache *cache;

	pthread_mutex_t mu;
	lsm_version *current;      /* guarded by mu; holds one reference */

	atomic_uint_fast64_t next_file;
	atomic_uint_fast64_t log_number;
	atomic_uint_fast64_t last_seq;

	/* The applying thread only. */
	int manifest_fd;
	uint64_t manifest_number;
	uint64_t manifest_bytes;
	uint64_t roll_bytes;
	int sticky_rc;
};

/* ---- small helpers ---------------------------------------------------- */

static void owner_ref(lsm_versions *vs)
{
	atomic_fetch_add_explicit(&vs->refs, 1, memory_order_relaxed);
}

static void owner_unref(lsm_versions *vs)
{
	if (atomic_fetch_sub_explicit(&vs->refs, 1, memory_order_acq_rel) != 1)
		return;
	pthread_mutex_destroy(&vs->mu);
	strata_free(vs->dir);
	strata_free(vs);
}

static void store_max(atomic_uint_fast64_t *a, uint64_t v)
{
	uint_fast64_t cur = atomic_load(a);

	while (cur < v && !atomic_compare_exchange_weak(a, &cur, v))
		;
}

/* Re-records the thread's last message prefixed with where it happened. */
static int error_at(int rc, const char *path, uint64_t offset)
{
	char msg[400];

	snprintf(msg, sizeof msg, "%s", strata_last_error());
	return strata_error(rc, "%s: offset %" PRIu64 ": %s", path, offset, msg);
}

/* Parses a non-empty run of decimal digits [s, end) into *out; false on overflow or junk. */
static bool parse_u64(const char *s, const char *end, uint64_t *out)
{
	uint64_t v = 0;

	if (s >= end || end - s > 20)
		return false;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}




static void manifest_path(char *out, size_t out_len, const char *dir, uint64_t number)
{
	snprintf(out, out_len, "%s/MANIFEST-%06" PRIu64, dir, number);
}

void lsm_sst_path(char *out, size_t out_len, const char *dir, uint64_t number)
{
	snprintf(out, out_len, "%s/sst/%06" PRIu64 ".sst", dir, number);
}

/* ---- files ------------------------------------------------------------- */

static lsm_file *file_new(lsm_versions *vs, uint64_t number, const lsm_sst_props *props)
{
	lsm_file *f = strata_calloc(1, sizeof *f);

	if (!f)
		return NULL;
	f->number = number;
	f->props = *props;
	atomic_init(&f->refs, 1);
	atomic_init(&f->obsolete, false);
	atomic_init(&f->opened, false);
	pthread_mutex_init(&f->open_mu, NULL);
	f->owner = vs;
	owner_ref(vs);
	return f;
}

void lsm_file_ref(lsm_file *f)
{
	atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
}

void lsm_file_unref(lsm_file *f)
{
	lsm_versions *vs;

	if (!f || atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
		return;
	vs = f->owner;
	if (atomic_load(&f->opened) && f->table)
		lsm_sst_unref(f->table);
	if (atomic_load(&f->obsolete)) {
		char path[PATH_MAX];

		lsm_sst_path(path, sizeof path, vs->dir, f->number);
		if (unlink(path) != 0 && errno != ENOENT)
			LOG_WARN("event=sst_delete_failed file=%s error=\"%s\"", path, strerror(errno));
		else
			LOG_DEBUG("event=sst_deleted file=%s", path);
		if (vs->cache)
			lsm_cache_erase_file(vs->cache, f->number);
	}
	pthread_mutex_destroy(&f->open_mu);
	strata_free(f);
	owner_unref(vs);
}

/* The table's own properties must describe the file the manifest lists. */
static bool props_match(const lsm_sst_props *a, const lsm_sst_props *b)
{
	return memcmp(a->smallest, b->smallest, LSM_IKEY_LEN) == 0 &&
	       memcmp(a->largest, b->largest, LSM_IKEY_LEN) == 0 &&
	       a->window == b->window && a->window_ns == b->window_ns && a->max_seq == b->max_seq &&
	       a->n_entries == b->n_entries;
}

int lsm_file_table(lsm_file *f, lsm_sst **out)
{
	bool opened_here = false;
	int rc;

	if (!atomic_load_explicit(&f->opened, memory_order_acquire)) {
		pthread_mutex_lock(&f->open_mu);
		if (!atomic_load_explicit(&f->opened, memory_order_relaxed)) {
			char path[PATH_MAX];
			lsm_sst *t = NULL;

			lsm_sst_path(path, sizeof path, f->owner->dir, f->number);
			rc = lsm_sst_open(&t, path, f->number, f->owner->cache);
			if (rc == 0 && !props_match(lsm_sst_get_props(t), &f->props)) {
				lsm_sst_unref(t);
				t = NULL;
				rc = strata_error(STRATA_ECORRUPT,
						  "%s: the table's properties differ from the manifest's", path);
			}
			if (rc < 0 && rc > STRATA_ELAST) /* an errno: name the file */
				rc = strata_error(rc, "open %s: %s", path, strerror(-rc));
			if (rc) {
				char msg[400];

				/* Keep the message: later callers get the remembered code. */
				snprintf(msg, sizeof msg, "%s", strata_last_error());
				LOG_ERROR("event=sst_open_failed file=%s error=\"%s\"", path, msg);
				t = NULL;
			}
			f->table = t;
			f->open_rc = rc;
			atomic_store_explicit(&f->opened, true, memory_order_release);
			opened_here = true;
		}
		pthread_mutex_unlock(&f->open_mu);
	}
	rc = f->open_rc;
	*out = NULL;
	if (rc && opened_here)
		return rc; /* with the open's own message */
	if (rc) {
		return strata_error(rc, "table %06" PRIu64 " could not be opened: %s", f->number,
				    strata_strerror(rc));
	}
	*out = f->table;
	return 0;
}

/* ---- versions ---------------------------------------------------------- */

/* The first time window (window, window_ns) holds. */
static int64_t window_first(const lsm_sst_props *p)
{
	int64_t first, last;

	lsm_window_span(p->window, p->window_ns, &first, &last);
	return first;
}

static bool same_window(const lsm_file *a, const lsm_file *b)
{
	return a->props.window == b->props.window && a->props.window_ns == b->props.window_ns;
}

/* Order of files in a version: window by start then length, then newest first. */
static int file_order(const lsm_file *a, const lsm_file *b)
{
	if (!same_window(a, b)) {
		int64_t fa = window_first(&a->props), fb = window_first(&b->props);

		if (fa != fb)
			return fa < fb ? -1 : 1;
		if (a->props.window_ns != b->props.window_ns)
			return a->props.window_ns < b->props.window_ns ? -1 : 1;
		return a->props.window < b->props.window ? -1 : 1; /* both cut at an end of time */
	}
	if (a->props.max_seq != b->props.max_seq)
		return a->props.max_seq > b->props.max_seq ? -1 : 1;
	if (a->number != b->number)
		return a->number > b->number ? -1 : 1;
	return 0;
}

static int file_order_qsort(const void *a, const void *b)
{
	return file_order(*(lsm_file *const *)a, *(lsm_file *const *)b);
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * A version over files (sorted by file_order), taking over one reference on
 * each. NULL on -ENOMEM, in which case the references are dropped.
 */
static lsm_version *version_new(lsm_versions *vs, lsm_file **files, size_t n)
{
	size_t n_windows = 0, w = 0;
	lsm_version *v;
	lsm_file **slots;

	for (size_t i = 0; i < n; i++)
		if (i == 0 || !same_window(files[i], files[i - 1]))
			n_windows++;
	v = strata_malloc(sizeof *v + n_windows * sizeof(lsm_window_files) + n * sizeof(lsm_file *));
	if (!v) {
		for (size_t i = 0; i < n; i++)
			lsm_file_unref(files[i]);
		return NULL;
	}
	atomic_init(&v->refs, 1);
	v->n_windows = n_windows;
	v->max_window_ns = 1;
	v->windows = (lsm_window_files *)(v + 1);
	slots = (lsm_file **)(v->windows + n_windows);
	if (n)
		memcpy(slots, files, n * sizeof *slots);
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || !same_window(files[i], files[i - 1])) {
			lsm_window_files *wf = &v->windows[w];

			wf->window = files[i]->props.window;
			wf->window_ns = files[i]->props.window_ns;
			lsm_window_span(wf->window, wf->window_ns, &wf->first_ns, &wf->last_ns);
			if (wf->window_ns > v->max_window_ns)
				v->max_window_ns = wf->window_ns;
			v->windows[w].n_files = 0;
			v->windows[w].files = slots + i;
			w++;
		}
		v->windows[w - 1].n_files++;
	}
	v->owner = vs;
	owner_ref(vs);
	return v;
}

void lsm_version_ref(lsm_version *v)
{
	atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
}

void lsm_version_unref(lsm_version *v)
{
	lsm_versions *vs;

	if (!v || atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) != 1)
		return;
	vs = v->owner;
	for (size_t w = 0; w < v->n_windows; w++)
		for (size_t i = 0; i < v->windows[w].n_files; i++)
			lsm_file_unref(v->windows[w].files[i]);
	strata_free(v);
	owner_unref(vs);
}

size_t lsm_version_first_overlap(const lsm_version *v, int64_t t)
{
	size_t lo = 0, hi = v->n_windows;
	int64_t from;

	/* A window starting before t - (max_window_ns - 1) ends before t. */
	if (__builtin_sub_overflow(t, v->max_window_ns - 1, &from))
		return 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->windows[mid].first_ns < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t version_n_files(const lsm_version *v)
{
	size_t n = 0;

	for (size_t w = 0; w < v->n_windows; w++)
		n += v->windows[w].n_files;
	return n;
}

/* Checks what must hold of any table's properties (the same at apply and replay). */
static int props_check(const lsm_sst_props *p, uint64_t number, int bad_rc)
{
	if (memcmp(p->smallest, p->largest, LSM_IKEY_LEN) > 0)
		return strata_error(bad_rc, "file %" PRIu64 ": smallest key above largest", number);
	if (p->min_seq > p->max_seq)
		return strata_error(bad_rc, "file %" PRIu64 ": min_seq %" PRIu64 " above max_seq %" PRIu64,
				    number, p->min_seq, p->max_seq);
	if (p->min_ts > p->max_ts)
		return strata_error(bad_rc, "file %" PRIu64 ": min_ts above max_ts", number);
	if (p->window_ns <= 0)
		return strata_error(bad_rc, "file %" PRIu64 ": window length %" PRId64 " ns", number, p->window_ns);
	return 0;
}

/*
 * Builds base + e into *out. Checks the edit against base: deleting a file
 * that is not live, adding one that is, or naming a file twice is bad_rc
 * (STRATA_EINVAL at apply, STRATA_ECORRUPT at replay). When removed is not
 * NULL it receives the base's deleted files (borrowed from base; the caller
 * frees the array). -ENOMEM.
 */
static int version_build(lsm_versions *vs, const lsm_version *base, const lsm_version_edit *e,
			 lsm_version **out, lsm_file ***removed, int bad_rc)
{
	size_t n_base = version_n_files(base), n_kept = 0, n_removed = 0, n_new = 0;
	uint64_t *dels = NULL, *adds = NULL;
	lsm_file **kept = NULL, **added = NULL, **merged = NULL, **gone = NULL;
	int rc = 0;

	*out = NULL;
	if (removed)
		*removed = NULL;
	dels = strata_malloc((e->n_deleted + 1) * sizeof *dels);
	adds = strata_malloc((e->n_added + 1) * sizeof *adds);
	kept = strata_malloc((n_base + 1) * sizeof *kept);
	added = strata_malloc((e->n_added + 1) * sizeof *added);
	merged = strata_malloc((n_base + e->n_added + 1) * sizeof *merged);
	gone = strata_malloc((e->n_deleted + 1) * sizeof *gone);
	if (!dels || !adds || !kept || !added || !merged || !gone) {
		rc = -ENOMEM;
		goto out;
	}
	if (e->n_deleted)
		memcpy(dels, e->deleted_numbers, e->n_deleted * sizeof *dels);
	qsort(dels, e->n_deleted, sizeof *dels, u64_cmp);
	for (size_t i = 1; i < e->n_deleted; i++) {
		if (dels[i] == dels[i - 1]) {
			rc = strata_error(bad_rc, "edit deletes file %" PRIu64 " twice", dels[i]);
			goto out;
		}
	}
	if (e->n_added)
		memcpy(adds, e->added_numbers, e->n_added * sizeof *adds);
	qsort(adds, e->n_added, sizeof *adds, u64_cmp);
	for (size_t i = 1; i < e->n_added; i++) {
		if (adds[i] == adds[i - 1]) {
			rc = strata_error(bad_rc, "edit adds file %" PRIu64 " twice", adds[i]);
			goto out;
		}
	}
	for (size_t i = 0; i < e->n_added; i++) {
		rc = props_check(&e->added_props[i], e->added_numbers[i], bad_rc);
		if (rc)
			goto out;
	}

	/* One pass over base: drop the deleted, refuse re-adding a live file. */
	for (size_t w = 0; w < base->n_windows; w++) {
		for (size_t i = 0; i < base->windows[w].n_files; i++) {
			lsm_file *f = base->windows[w].files[i];

			if (e->n_added && bsearch(&f->number, adds, e->n_added, sizeof *adds, u64_cmp)) {
				rc = strata_error(bad_rc, "edit adds file %" PRIu64 ", which is already live",
						  f->number);
				goto out;
			}
			if (e->n_deleted && bsearch(&f->number, dels, e->n_deleted, sizeof *dels, u64_cmp) &&
			    n_removed < e->n_deleted)
				gone[n_removed++] = f;
			else
				kept[n_kept++] = f;
		}
	}
	if (n_removed != e->n_deleted) {
		/* Name one file that was not found. */
		for (size_t i = 0; i < e->n_deleted; i++) {
			bool found = false;

			for (size_t j = 0; j < n_removed && !found; j++)
				found = gone[j]->number == dels[i];
			if (!found) {
				rc = strata_error(bad_rc, "edit deletes file %" PRIu64 ", which is not live",
						  dels[i]);
				goto out;
			}
		}
	}

	for (size_t i = 0; i < e->n_added; i++) {
		added[i] = file_new(vs, e->added_numbers[i], &e->added_props[i]);
		if (!added[i]) {
			rc = -ENOMEM;
			goto out;
		}
		n_new++;
	}
	qsort(added, n_new, sizeof *added, file_order_qsort);

	/* Merge the kept files (already in order) with the sorted additions. */
	{
		size_t a = 0, b = 0, m = 0;

		while (a < n_kept || b < n_new) {
			if (b == n_new || (a < n_kept && file_order(kept[a], added[b]) < 0)) {
				lsm_file_ref(kept[a]);
				merged[m++] = kept[a++];
			} else {
				merged[m++] = added[b++];
			}
		}
		n_new = 0; /* the merged array owns them now */
		*out = version_new(vs, merged, m);
		if (!*out) {
			rc = -ENOMEM;
			goto out;
		}
	}
	if (removed) {
		*removed = gone;
		gone = NULL;
	}
out:
	for (size_t i = 0; i < n_new; i++)
		lsm_file_unref(added[i]);
	strata_free(dels);
	strata_free(adds);
	strata_free(kept);
	strata_free(added);
	strata_free(merged);
	strata_free(gone);
	return rc;
}

/* ---- edits ------------------------------------------------------------- */

void lsm_version_edit_init(lsm_version_edit *e)
{
	memset(e, 0, sizeof *e);
}

void lsm_version_edit_deinit(lsm_version_edit *e)
{
	strata_free(e->added_props);
	strata_free(e->added_numbers);
	strata_free(e->deleted_numbers);
	lsm_version_edit_init(e);
}

/* Empties e, keeping its arrays. */
static void edit_clear(lsm_version_edit *e)
{
	e->has_log_number = e->has_next_file = e->has_last_seq = false;
	e->log_number = e->next_file = e->last_seq = 0;
	e->n_added = 0;
	e->n_deleted = 0;
}

int lsm_version_edit_add_file(lsm_version_edit *e, uint64_t number, const lsm_sst_props *props)
{
	if (e->n_added == e->cap_added) {
		size_t cap = e->cap_added ? e->cap_added * 2 : 8;
		lsm_sst_props *p = strata_realloc(e->added_props, cap * sizeof *p);
		uint64_t *n;

		if (!p)
			return -ENOMEM;
		e->added_props = p;
		n = strata_realloc(e->added_numbers, cap * sizeof *n);
		if (!n)
			return -ENOMEM;
		e->added_numbers = n;
		e->cap_added = cap;
	}
	e->added_props[e->n_added] = *props;
	e->added_numbers[e->n_added] = number;
	e->n_added++;
	return 0;
}

int lsm_version_edit_delete_file(lsm_version_edit *e, uint64_t number)
{
	if (e->n_deleted == e->cap_deleted) {
		size_t cap = e->cap_deleted ? e->cap_deleted * 2 : 8;
		uint64_t *n = strata_realloc(e->deleted_numbers, cap * sizeof *n);

		if (!n)
			return -ENOMEM;
		e->deleted_numbers = n;
		e->cap_deleted = cap;
	}
	e->deleted_numbers[e->n_deleted++] = number;
	return 0;
}

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static size_t put_props(uint8_t *p, const lsm_sst_props *props)
{
	uint8_t *start = p;

	memcpy(p, props->smallest, LSM_IKEY_LEN);
	p += LSM_IKEY_LEN;
	memcpy(p, props->largest, LSM_IKEY_LEN);
	p += LSM_IKEY_LEN;
	p += lsm_put_varint64(p, zigzag(props->window));
	p += lsm_put_varint64(p, (uint64_t)props->window_ns);
	p += lsm_put_varint64(p, zigzag(props->min_ts));
	p += lsm_put_varint64(p, zigzag(props->max_ts));
	p += lsm_put_varint64(p, props->min_seq);
	p += lsm_put_varint64(p, props->max_seq);
	p += lsm_put_varint64(p, props->n_entries);
	p += lsm_put_varint64(p, props->n_series);
	p += lsm_put_varint64(p, props->n_data_blocks);
	p += lsm_put_varint64(p, props->raw_bytes);
	p += lsm_put_varint64(p, props->file_bytes);
	return (size_t)(p - start);
}

int lsm_version_edit_encode(const lsm_version_edit *e, uint8_t **out, size_t *out_len)
{
	size_t cap = 1 + 3 * (1 + LSM_VARINT64_MAX) + e->n_added * (1 + LSM_VARINT64_MAX + PROPS_MAX_LEN) +
		     e->n_deleted * (1 + LSM_VARINT64_MAX);
	uint8_t *buf = strata_malloc(cap), *p = buf;

	*out = NULL;
	*out_len = 0;
	if (!buf)
		return -ENOMEM;
	if (e->has_log_number) {
		*p++ = TAG_LOG_NUMBER;
		p += lsm_put_varint64(p, e->log_number);
	}
	if (e->has_next_file) {
		*p++ = TAG_NEXT_FILE;
		p += lsm_put_varint64(p, e->next_file);
	}
	if (e->has_last_seq) {
		*p++ = TAG_LAST_SEQ;
		p += lsm_put_varint64(p, e->last_seq);
	}
	for (size_t i = 0; i < e->n_added; i++) {
		*p++ = TAG_ADD_FILE;
		p += lsm_put_varint64(p, e->added_numbers[i]);
		p += put_props(p, &e->added_props[i]);
	}
	for (size_t i = 0; i < e->n_deleted; i++) {
		*p++ = TAG_DELETE_FILE;
		p += lsm_put_varint64(p, e->deleted_numbers[i]);
	}
	*p++ = TAG_END;
	*out = buf;
	*out_len = (size_t)(p - buf);
	return 0;
}

/* Reads one varint at *pos; false when truncated or malformed. */
static bool get_u64(const uint8_t *data, size_t len, size_t *pos, uint64_t *out)
{
	size_t n = lsm_get_varint64(data + *pos, data + len, out);

	*pos += n;
	return n != 0;
}

static bool get_i64(const uint8_t *data, size_t len, size_t *pos, int64_t *out)
{
	uint64_t v;

	if (!get_u64(data, len, pos, &v))
		return false;
	*out = unzigzag(v);
	return true;
}

/* Properties of an add_file record; with_length: tag 6, else tag 4 (the legacy window length). */
static bool get_props(const uint8_t *data, size_t len, size_t *pos, lsm_sst_props *p, bool with_length)
{
	uint64_t window_ns = (uint64_t)LSM_WINDOW_LEGACY_NS;

	if (len - *pos < 2 * LSM_IKEY_LEN)
		return false;
	p->flags = 0; /* flags live in the table file only */
	memcpy(p->smallest, data + *pos, LSM_IKEY_LEN);
	memcpy(p->largest, data + *pos + LSM_IKEY_LEN, LSM_IKEY_LEN);
	*pos += 2 * LSM_IKEY_LEN;
	if (!get_i64(data, len, pos, &p->window) || (with_length && !get_u64(data, len, pos, &window_ns)))
		return false;
	p->window_ns = (int64_t)window_ns;
	return get_i64(data, len, pos, &p->min_ts) &&
	       get_i64(data, len, pos, &p->max_ts) && get_u64(data, len, pos, &p->min_seq) &&
	       get_u64(data, len, pos, &p->max_seq) && get_u64(data, len, pos, &p->n_entries) &&
	       get_u64(data, len, pos, &p->n_series) && get_u64(data, len, pos, &p->n_data_blocks) &&
	       get_u64(data, len, pos, &p->raw_bytes) && get_u64(data, len, pos, &p->file_bytes);
}

int lsm_version_edit_decode(lsm_version_edit *e, const uint8_t *data, size_t len)
{
	size_t pos = 0;
	int rc;

	edit_clear(e);
	for (;;) {
		size_t field = pos;
		uint64_t tag, number;
		lsm_sst_props props;

		if (pos >= len)
			return strata_error(STRATA_ECORRUPT, "version edit: no end tag in %zu bytes", len);
		if (!get_u64(data, len, &pos, &tag))
			return strata_error(STRATA_ECORRUPT, "version edit: bad tag at byte %zu", field);
		switch (tag) {
		case TAG_END:
			if (pos != len)
				return strata_error(STRATA_ECORRUPT, "version edit: %zu bytes after the end tag",
						    len - pos);
			return 0;
		case TAG_LOG_NUMBER:
		case TAG_NEXT_FILE:
		case TAG_LAST_SEQ: {
			bool *has = tag == TAG_LOG_NUMBER ? &e->has_log_number :
				    tag == TAG_NEXT_FILE ? &e->has_next_file : &e->has_last_seq;
			uint64_t *val = tag == TAG_LOG_NUMBER ? &e->log_number :
					tag == TAG_NEXT_FILE ? &e->next_file : &e->last_seq;

			if (*has)
				return strata_error(STRATA_ECORRUPT, "version edit: field %" PRIu64
						    " repeated at byte %zu", tag, field);
			if (!get_u64(data, len, &pos, val))
				return strata_error(STRATA_ECORRUPT, "version edit: field %" PRIu64
						    " truncated at byte %zu", tag, field);
			*has = true;
			break;
		}
		case TAG_ADD_FILE_V1:
		case TAG_ADD_FILE:
			if (!get_u64(data, len, &pos, &number) ||
			    !get_props(data, len, &pos, &props, tag == TAG_ADD_FILE))
				return strata_error(STRATA_ECORRUPT, "version edit: added file truncated at byte %zu",
						    field);
			rc = props_check(&props, number, STRATA_ECORRUPT);
			if (rc)
				return rc;
			rc = lsm_version_edit_add_file(e, number, &props);
			if (rc)
				return rc;
			break;
		case TAG_DELETE_FILE:
			if (!get_u64(data, len, &pos, &number))
				return strata_error(STRATA_ECORRUPT, "version edit: deleted file truncated at byte %zu",
						    field);
			rc = lsm_version_edit_delete_file(e, number);
			if (rc)
				return rc;
			break;
		default:
			return strata_error(STRATA_ECORRUPT, "version edit: unknown tag %" PRIu64 " at byte %zu",
					    tag, field);
		}
	}
}

/* ---- the manifest ------------------------------------------------------- */

/* Appends one record (header + payload) with a single write. */
static int write_record(int fd, enum lsm_record_type type, const uint8_t *payload, size_t len)
{
	uint8_t *buf;
	int rc;

	if (len > LSM_RECORD_MAX)
		return strata_error(STRATA_ETOOBIG, "manifest record of %zu bytes over the limit", len);
	buf = strata_malloc(LSM_RECORD_HEADER_LEN + len);
	if (!buf)
		return -ENOMEM;
	lsm_record_header(buf, type, payload, len);
	if (len)
		memcpy(buf + LSM_RECORD_HEADER_LEN, payload, len);
	rc = lsm_write_full(fd, buf, LSM_RECORD_HEADER_LEN + len, LSM_FAULT_MANIFEST_WRITE);
	strata_free(buf);
	return rc;
}

/* An edit describing all of v and the counters: the first record of a manifest. */
static int snapshot_edit(lsm_versions *vs, const lsm_version *v, lsm_version_edit *e)
{
	int rc = 0;

	e->has_log_number = true;
	e->log_number = atomic_load(&vs->log_number);
	e->has_last_seq = true;
	e->last_seq = atomic_load(&vs->last_seq);
	e->has_next_file = true;
	e->next_file = atomic_load(&vs->next_file);
	for (size_t w = 0; w < v->n_windows && rc == 0; w++)
		for (size_t i = 0; i < v->windows[w].n_files && rc == 0; i++)
			rc = lsm_version_edit_add_file(e, v->windows[w].files[i]->number,
						       &v->windows[w].files[i]->props);
	return rc;
}

/*
 * Writes MANIFEST-<number> holding a header and a snapshot of v, synced.
 * On success *out_fd is open for appends and *out_bytes is its size; on
 * failure the file is removed.
 */
static int manifest_create(lsm_versions *vs, uint64_t number, const lsm_version *v, int *out_fd,
			   uint64_t *out_bytes)
{
	char path[PATH_MAX];
	uint8_t header[LSM_FILE_HEADER_PAYLOAD_LEN];
	uint8_t *payload = NULL;
	size_t len = 0;
	lsm_version_edit e;
	int fd, rc;

	*out_fd = -1;
	lsm_version_edit_init(&e);
	manifest_path(path, sizeof path, vs->dir, number);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = strata_error(-errno, "create %s: %s", path, strerror(errno));
		goto out;
	}
	rc = snapshot_edit(vs, v, &e);
	if (rc == 0)
		rc = lsm_version_edit_encode(&e, &payload, &len);
	if (rc)
		goto out;
	lsm_record_file_header(header, LSM_MANIFEST_MAGIC, LSM_MANIFEST_VERSION, number);
	rc = write_record(fd, LSM_REC_FILE_HEADER, header, sizeof header);
	if (rc == 0)
		rc = write_record(fd, LSM_REC_VERSION_EDIT, payload, len);
	if (rc) {
		rc = strata_error(rc, "write %s: %s", path, strata_strerror(rc));
		goto out;
	}
	rc = lsm_datasync(fd, LSM_FAULT_MANIFEST_SYNC);
	if (rc) {
		rc = strata_error(rc, "fdatasync %s: %s", path, strata_strerror(rc));
		goto out;
	}
	*out_bytes = 2 * LSM_RECORD_HEADER_LEN + sizeof header + len;
	*out_fd = fd;
	fd = -1;
out:
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	strata_free(payload);
	lsm_version_edit_deinit(&e);
	return rc;
}

static void current_format(char *out, size_t out_len, uint64_t number)
{
	char line[64];
	int n = snprintf(line, sizeof line, "MANIFEST-%06" PRIu64 "\n", number);

	snprintf(out, out_len, "%sxxh3=%016" PRIx64 "\n", line, (uint64_t)XXH3_64bits(line, (size_t)n));
}

/*
 * Points CURRENT at MANIFEST-<number>: CURRENT.tmp written and fsynced, renamed
 * over CURRENT, directory fsynced. *out_renamed tells whether the rename
 * happened (after it, CURRENT may name either manifest until the directory
 * sync succeeds).
 */
static int current_set(lsm_versions *vs, uint64_t number, bool *out_renamed)
{
	char tmp[PATH_MAX], path[PATH_MAX], text[CURRENT_MAX_LEN];
	int fd, rc;

	*out_renamed = false;
	snprintf(tmp, sizeof tmp, "%s/CURRENT.tmp", vs->dir);
	snprintf(path, sizeof path, "%s/CURRENT", vs->dir);
	current_format(text, sizeof text, number);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return strata_error(-errno, "create %s: %s", tmp, strerror(errno));
	rc = lsm_write_full(fd, text, strlen(text), LSM_FAULT_MANIFEST_WRITE);
	if (rc == 0) {
		rc = lsm_fault_check(LSM_FAULT_MANIFEST_SYNC);
		if (rc == 0 && fsync(fd) != 0)
			rc = -errno;
	}
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return strata_error(rc, "write and fsync %s: %s", tmp, strata_strerror(rc));
	}
	if (rename(tmp, path) != 0) {
		rc = strata_error(-errno, "rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		return rc;
	}
	*out_renamed = true;
	return lsm_sync_dir(vs->dir, LSM_FAULT_MANIFEST_SYNC);
}

/*
 * Starts a new manifest holding a snapshot of v and switches CURRENT to it;
 * the previous manifest (if any) is closed and removed.
 */
static int manifest_switch(lsm_versions *vs, const lsm_version *v)
{
	uint64_t number = lsm_versions_new_file_number(vs), bytes = 0;
	char path[PATH_MAX];
	bool renamed;
	int fd, rc;

	rc = manifest_create(vs, number, v, &fd, &bytes);
	if (rc)
		return rc;
	rc = current_set(vs, number, &renamed);
	if (rc) {
		close(fd);
		if (!renamed) {
			manifest_path(path, sizeof path, vs->dir, number);
			unlink(path);
		}
		/*
		 * After a rename with a failed directory sync, CURRENT names either
		 * manifest after a crash; both hold the whole state, so keep both.
		 */
		return rc;
	}
	if (vs->manifest_fd >= 0) {
		close(vs->manifest_fd);
		manifest_path(path, sizeof path, vs->dir, vs->manifest_number);
		if (unlink(path) != 0 && errno != ENOENT)
			LOG_WARN("event=manifest_delete_failed file=%s error=\"%s\"", path, strerror(errno));
	}
	vs->manifest_fd = fd;
	vs->manifest_number = number;
	vs->manifest_bytes = bytes;
	LOG_DEBUG("event=manifest_switch manifest=%06" PRIu64 " bytes=%" PRIu64, number, bytes);
	return 0;
}

/*
 * Reads CURRENT: 0 with the manifest number, STRATA_ENOTFOUND when there is
 * no CURRENT, STRATA_ECORRUPT when it is malformed or fails its checksum.
 */
static int current_read(const char *dir, uint64_t *out)
{
	char path[PATH_MAX], text[CURRENT_MAX_LEN + 1];
	const char *nl1, *nl2, *name_end;
	uint64_t sum, want;
	ssize_t n;
	size_t len = 0;
	int fd, rc = 0;

	snprintf(path, sizeof path, "%s/CURRENT", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return strata_error(STRATA_ENOTFOUND, "%s does not exist", path);
		return strata_error(-errno, "open %s: %s", path, strerror(errno));
	}
	while (len < sizeof text) {
		n = read(fd, text + len, sizeof text - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = strata_error(-errno, "read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > CURRENT_MAX_LEN) {
		rc = strata_error(STRATA_ECORRUPT, "%s: longer than %d bytes", path, CURRENT_MAX_LEN);
		goto out;
	}
	nl1 = memchr(text, '\n', len);
	nl2 = nl1 ? memchr(nl1 + 1, '\n', len - (size_t)(nl1 + 1 - text)) : NULL;
	if (!nl1 || !nl2 || (size_t)(nl2 + 1 - text) != len) {
		rc = strata_error(STRATA_ECORRUPT, "%s: offset 0: not two lines (%zu bytes)", path, len);
		goto out;
	}
	name_end = nl1;
	if ((size_t)(nl1 - text) < 9 || memcmp(text, "MANIFEST-", 9) != 0 ||
	    !parse_u64(text + 9, name_end, out)) {
		rc = strata_error(STRATA_ECORRUPT, "%s: offset 0: not a manifest name", path);
		goto out;
	}
	if (nl2 - (nl1 + 1) != 5 + 16 || memcmp(nl1 + 1, "xxh3=", 5) != 0) {
		rc = strata_error(STRATA_ECORRUPT, "%s: offset %zu: no checksum line", path,
				  (size_t)(nl1 + 1 - text));
		goto out;
	}
	sum = 0;
	for (const char *p = nl1 + 6; p < nl2; p++) {
		int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;

		if (d < 0) {
			rc = strata_error(STRATA_ECORRUPT, "%s: offset %zu: bad checksum digit", path,
					  (size_t)(p - text));
			goto out;
		}
		sum = sum << 4 | (uint64_t)d;
	}
	want = XXH3_64bits(text, (size_t)(nl1 + 1 - text));
	if (sum != want) {
		rc = strata_error(STRATA_ECORRUPT, "%s: checksum %016" PRIx64 " does not match its content (%016"
				  PRIx64 ")", path, sum, want);
		goto out;
	}
out:
	close(fd);
	return rc;
}

/*
 * Whether an intact record starts anywhere in [from, size) of the file: a
 * damaged record followed by an intact one is damage in the middle, not a
 * torn tail. *out_at gets the first such offset.
 */
static int intact_record_after(const char *path, uint64_t from, uint64_t size, bool *out_found,
			       uint64_t *out_at)
{
	uint8_t *buf = NULL, want[LSM_RECORD_HEADER_LEN];
	size_t len, got = 0;
	int fd, rc = 0;

	*out_found = false;
	if (from >= size || size - from < LSM_RECORD_HEADER_LEN)
		return 0;
	if (size - from > SIZE_MAX / 2)
		return strata_error(STRATA_ETOOBIG, "%s: too large to scan", path);
	len = (size_t)(size - from);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return strata_error(-errno, "open %s: %s", path, strerror(errno));
	buf = strata_malloc(len);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(from + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = strata_error(-errno, "read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	len = got;
	for (size_t p = 0; p + LSM_RECORD_HEADER_LEN <= len; p++) {
		const uint8_t *h = buf + p;
		uint32_t plen = lsm_get_le32(h + 8);

		if (h[13] | h[14] | h[15] || h[12] < LSM_REC_FILE_HEADER || h[12] > LSM_REC_VERSION_EDIT)
			continue;
		if (plen > len - p - LSM_RECORD_HEADER_LEN)
			continue;
		lsm_record_header(want, (enum lsm_record_type)h[12], h + LSM_RECORD_HEADER_LEN, plen);
		if (memcmp(want, h, LSM_RECORD_HEADER_LEN) == 0) {
			*out_found = true;
			*out_at = from + p;
			break;
		}
	}
out:
	strata_free(buf);
	close(fd);
	return rc;
}

/* Applies an edit's counters: each only moves forward. */
static void apply_counters(lsm_versions *vs, const lsm_version_edit *e)
{
	if (e->has_log_number)
		store_max(&vs->log_number, e->log_number);
	if (e->has_last_seq)
		store_max(&vs->last_seq, e->last_seq);
	if (e->has_next_file)
		store_max(&vs->next_file, e->next_file);
}

/* Replays MANIFEST-<number> into vs->current and the counters. */
static int manifest_replay(lsm_versions *vs, uint64_t number)
{
	char path[PATH_MAX];
	lsm_record_reader *r = NULL;
	lsm_version_edit e;
	uint64_t file_no = 0, n_edits = 0;
	int rc;

	lsm_version_edit_init(&e);
	manifest_path(path, sizeof path, vs->dir, number);
	rc = lsm_record_reader_open(&r, path, LSM_MANIFEST_MAGIC, LSM_MANIFEST_VERSION, &file_no);
	if (rc == -ENOENT) {
		rc = strata_error(STRATA_ECORRUPT, "CURRENT names %s, which does not exist", path);
		goto out;
	}
	if (rc)
		goto out;
	if (file_no != number) {
		rc = strata_error(STRATA_ECORRUPT, "%s: offset 0: header names file %" PRIu64, path, file_no);
		goto out;
	}
	for (;;) {
		const uint8_t *payload;
		uint8_t type;
		size_t len;
		uint64_t off, at = 0;
		bool found;
		lsm_version *nv;

		rc = lsm_record_reader_next(r, &type, &payload, &len);
		off = lsm_record_reader_offset(r);
		if (rc == 0 || rc == STRATA_ECORRUPT) {
			/*
			 * The clean end, a damaged record, or a torn one. Whatever
			 * follows must not hold an intact record: a damaged record
			 * is a torn tail only when it is the last thing written.
			 */
			uint64_t size = lsm_record_reader_file_size(r);
			bool damaged = rc != 0;
			char why[400];
			int scan;

			snprintf(why, sizeof why, "%s", damaged ? strata_last_error() : "bytes after the end");
			scan = intact_record_after(path, damaged ? off + 1 : off, size, &found, &at);
			if (scan) {
				rc = scan;
				goto out;
			}
			if (found) {
				rc = strata_error(STRATA_ECORRUPT, "%s: offset %" PRIu64 ": damaged record (%s) "
						  "followed by an intact one at offset %" PRIu64,
						  path, off, why, at);
				goto out;
			}
			if (n_edits == 0) {
				/*
				 * The snapshot edit a manifest starts with is synced
				 * before CURRENT names the file: without it the file is
				 * damaged, not torn, and going on with no tables would
				 * remove every table as an orphan.
				 */
				rc = strata_error(STRATA_ECORRUPT, "%s: offset %" PRIu64 ": no intact snapshot edit (%s); "
						  "it was synced before CURRENT named this manifest, so this is damage, "
						  "not a torn write",
						  path, off, damaged ? why : "the file ends there");
				goto out;
			}
			if (damaged || off < size)
				LOG_WARN("event=manifest_torn_tail file=%s offset=%" PRIu64 " bytes=%" PRIu64
					 " detail=\"%s\" action=ignored (an edit that was never acknowledged)",
					 path, off, size - off, why);
			rc = 0;
			break;
		}
		if (rc < 0)
			goto out;
		if (type != LSM_REC_VERSION_EDIT) {
			rc = strata_error(STRATA_ECORRUPT, "%s: offset %" PRIu64 ": record of type %u in a manifest",
					  path, off, type);
			goto out;
		}
		rc = lsm_version_edit_decode(&e, payload, len);
		if (rc == 0)
			rc = version_build(vs, vs->current, &e, &nv, NULL, STRATA_ECORRUPT);
		if (rc) {
			if (rc != -ENOMEM)
				rc = error_at(rc, path, off);
			goto out;
		}
		lsm_version_unref(vs->current);
		vs->current = nv;
		apply_counters(vs, &e);
		n_edits++;
	}
	LOG_INFO("event=manifest_replayed file=%s edits=%" PRIu64 " files=%zu", path, n_edits,
		 version_n_files(vs->current));
out:
	if (r)
		lsm_record_reader_close(r);
	lsm_version_edit_deinit(&e);
	return rc;
}

static bool parse_sst_name(const char *name, uint64_t *out)
{
	size_t n = strlen(name);

	return n > 4 && strcmp(name + n - 4, ".sst") == 0 && parse_u64(name, name + n - 4, out);
}

/* Whether sst/ holds any table (a reason not to start an empty database there). */
static int sst_dir_has_tables(const char *dir, bool *out)
{
	char path[PATH_MAX];
	struct dirent *d;
	DIR *dp;

	*out = false;
	snprintf(path, sizeof path, "%s/sst", dir);
	dp = opendir(path);
	if (!dp)
		return errno == ENOENT ? 0 : strata_error(-errno, "open %s: %s", path, strerror(errno));
	while ((d = readdir(dp)) != NULL) {
		uint64_t n;

		if (parse_sst_name(d->d_name, &n)) {
			*out = true;
			break;
		}
	}
	closedir(dp);
	return 0;
}

/* Removes leftover manifests, CURRENT.tmp, and (in sst/) temporary files and tables no version lists. */
static int remove_leftovers(lsm_versions *vs, uint64_t replayed)
{
	char path[PATH_MAX];
	uint64_t *live = NULL;
	size_t n_live = 0;
	struct dirent *d;
	DIR *dp;
	int rc = 0;

	dp = opendir(vs->dir);
	if (!dp)
		return strata_error(-errno, "open %s: %s", vs->dir, strerror(errno));
	while ((d = readdir(dp)) != NULL) {
		uint64_t n;
		bool manifest = strncmp(d->d_name, "MANIFEST-", 9) == 0 &&
				parse_u64(d->d_name + 9, d->d_name + strlen(d->d_name), &n);

		if (manifest && n == vs->manifest_number)
			continue;
		if (!manifest && strcmp(d->d_name, "CURRENT.tmp") != 0)
			continue;
		if (unlinkat(dirfd(dp), d->d_name, 0) != 0 && errno != ENOENT)
			LOG_WARN("event=leftover_delete_failed file=%s/%s error=\"%s\"", vs->dir, d->d_name,
				 strerror(errno));
		else if (manifest && n == replayed)
			LOG_DEBUG("event=manifest_deleted file=%s/%s", vs->dir, d->d_name);
		else
			LOG_WARN("event=leftover_deleted file=%s/%s", vs->dir, d->d_name);
	}
	closedir(dp);

	{
		lsm_version *v = vs->current;

		live = strata_malloc((version_n_files(v) + 1) * sizeof *live);
		if (!live)
			return -ENOMEM;
		for (size_t w = 0; w < v->n_windows; w++)
			for (size_t i = 0; i < v->windows[w].n_files; i++)
				live[n_live++] = v->windows[w].files[i]->number;
		qsort(live, n_live, sizeof *live, u64_cmp);
	}
	snprintf(path, sizeof path, "%s/sst", vs->dir);
	dp = opendir(path);
	if (!dp) {
		rc = strata_error(-errno, "open %s: %s", path, strerror(errno));
		goto out;
	}
	while ((d = readdir(dp)) != NULL) {
		size_t len = strlen(d->d_name);
		bool tmp = len > 4 && strcmp(d->d_name + len - 4, ".tmp") == 0;
		uint64_t n;

		if (!tmp && (!parse_sst_name(d->d_name, &n) ||
			     (n_live && bsearch(&n, live, n_live, sizeof *live, u64_cmp))))
			continue;
		if (unlinkat(dirfd(dp), d->d_name, 0) != 0 && errno != ENOENT)
			LOG_WARN("event=orphan_delete_failed file=%s/%s error=\"%s\"", path, d->d_name,
				 strerror(errno));
		else
			LOG_WARN("event=orphan_deleted file=%s/%s reason=%s", path, d->d_name,
				 tmp ? "temporary" : "not in the manifest");
	}
	closedir(dp);
out:
	strata_free(live);
	return rc;
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0755) == 0 || errno == EEXIST)
		return 0;
	return strata_error(-errno, "mkdir %s: %s", path, strerror(errno));
}

int lsm_versions_open(lsm_versions **out, const char *dir, lsm_cache *cache, bool create)
{
	char path[PATH_MAX];
	lsm_versions *vs;
	uint64_t number = 0, floor;
	bool found = false;
	int rc;

	*out = NULL;
	vs = strata_calloc(1, sizeof *vs);
	if (!vs)
		return -ENOMEM;
	atomic_init(&vs->refs, 1);
	pthread_mutex_init(&vs->mu, NULL);
	atomic_init(&vs->next_file, 1);
	atomic_init(&vs->log_number, 0);
	atomic_init(&vs->last_seq, 0);
	vs->manifest_fd = -1;
	vs->roll_bytes = LSM_MANIFEST_ROLL_BYTES;
	vs->cache = cache;
	vs->dir = strata_strdup(dir);
	vs->current = vs->dir ? version_new(vs, NULL, 0) : NULL;
	if (!vs->dir || !vs->current) {
		rc = -ENOMEM;
		goto out;
	}

	rc = current_read(dir, &number);
	if (rc == STRATA_ENOTFOUND) {
		bool tables;

		if (!create) {
			rc = strata_error(STRATA_ENOTFOUND, "%s holds no database (no CURRENT)", dir);
			goto out;
		}
		rc = make_dir(dir);
		if (rc == 0)
			rc = sst_dir_has_tables(dir, &tables);
		if (rc)
			goto out;
		if (tables) {
			rc = strata_error(STRATA_ECORRUPT, "%s has no CURRENT but %s/sst holds tables: "
					  "refusing to start an empty database over them", dir, dir);
			goto out;
		}
		LOG_INFO("event=versions_create dir=%s", dir);
	} else if (rc) {
		goto out;
	} else {
		found = true;
		rc = manifest_replay(vs, number);
		if (rc)
			goto out;
	}
	snprintf(path, sizeof path, "%s/sst", dir);
	rc = make_dir(path);
	if (rc)
		goto out;

	/* No number at or below a live file or the replayed manifest is reused. */
	floor = found ? number + 1 : 1;
	for (size_t w = 0; w < vs->current->n_windows; w++)
		for (size_t i = 0; i < vs->current->windows[w].n_files; i++)
			if (vs->current->windows[w].files[i]->number >= floor)
				floor = vs->current->windows[w].files[i]->number + 1;
	store_max(&vs->next_file, floor);

	rc = manifest_switch(vs, vs->current);
	if (rc)
		goto out;
	rc = remove_leftovers(vs, found ? number : 0);
out:
	if (rc) {
		lsm_versions_close(vs);
		return rc;
	}
	*out = vs;
	return 0;
}

void lsm_versions_close(lsm_versions *vs)
{
	lsm_version *v;

	if (!vs)
		return;
	pthread_mutex_lock(&vs->mu);
	v = vs->current;
	vs->current = NULL;
	pthread_mutex_unlock(&vs->mu);
	lsm_version_unref(v);
	if (vs->manifest_fd >= 0)
		close(vs->manifest_fd);
	vs->manifest_fd = -1;
	owner_unref(vs);
}

lsm_version *lsm_versions_current(lsm_versions *vs)
{
	lsm_version *v;

	pthread_mutex_lock(&vs->mu);
	v = vs->current;
	lsm_version_ref(v);
	pthread_mutex_unlock(&vs->mu);
	return v;
}

void lsm_versions_note_file_number(lsm_versions *vs, uint64_t number)
{
	store_max(&vs->next_file, number + 1);
}

uint64_t lsm_versions_new_file_number(lsm_versions *vs)
{
	return atomic_fetch_add(&vs->next_file, 1);
}

uint64_t lsm_versions_log_number(lsm_versions *vs)
{
	return atomic_load(&vs->log_number);
}

uint64_t lsm_versions_last_seq(lsm_versions *vs)
{
	return atomic_load(&vs->last_seq);
}

void lsm_versions_set_manifest_roll_bytes(lsm_versions *vs, uint64_t bytes)
{
	vs->roll_bytes = bytes;
}

void lsm_versions_totals(lsm_versions *vs, uint64_t *out_files, uint64_t *out_bytes)
{
	lsm_version *v = lsm_versions_current(vs);
	uint64_t files = 0, bytes = 0;

	for (size_t w = 0; w < v->n_windows; w++) {
		files += v->windows[w].n_files;
		for (size_t i = 0; i < v->windows[w].n_files; i++)
			bytes += v->windows[w].files[i]->props.file_bytes;
	}
	lsm_version_unref(v);
	*out_files = files;
	*out_bytes = bytes;
}

/* Makes a failure sticky; the record, if partly written, is cut off (best effort). */
static int manifest_fail(lsm_versions *vs, int rc, uint64_t good_bytes)
{
	char path[PATH_MAX];

	manifest_path(path, sizeof path, vs->dir, vs->manifest_number);
	if (vs->manifest_fd >= 0 && ftruncate(vs->manifest_fd, (off_t)good_bytes) == 0)
		(void)fdatasync(vs->manifest_fd);
	vs->sticky_rc = rc;
	LOG_ERROR("event=manifest_failed file=%s error=\"%s\" action=refusing further edits", path,
		  strata_last_error());
	return rc;
}

int lsm_versions_apply(lsm_versions *vs, lsm_version_edit *edit)
{
	char path[PATH_MAX];
	lsm_version *base, *nv = NULL;
	lsm_file **removed = NULL;
	uint8_t *payload = NULL;
	size_t len = 0;
	int rc;

	if (vs->sticky_rc)
		return strata_error(STRATA_EREADONLY, "manifest of %s refuses edits after an earlier failure (%s)",
				    vs->dir, strata_strerror(vs->sticky_rc));
	/* Only this thread changes current: reading the pointer needs no lock. */
	base = vs->current;
	rc = version_build(vs, base, edit, &nv, &removed, STRATA_EINVAL);
	if (rc)
		goto out;

	if (vs->manifest_bytes >= vs->roll_bytes) {
		rc = manifest_switch(vs, base);
		if (rc) {
			rc = manifest_fail(vs, rc, vs->manifest_bytes);
			goto out;
		}
	}
	edit->has_next_file = true;
	edit->next_file = atomic_load(&vs->next_file);
	rc = lsm_version_edit_encode(edit, &payload, &len);
	if (rc)
		goto out;
	if (len > LSM_RECORD_MAX) {
		/* Refused before anything is written: not sticky. */
		rc = strata_error(STRATA_ETOOBIG, "version edit of %zu bytes over the record limit", len);
		goto out;
	}
	manifest_path(path, sizeof path, vs->dir, vs->manifest_number);
	rc = write_record(vs->manifest_fd, LSM_REC_VERSION_EDIT, payload, len);
	if (rc) {
		strata_error(rc, "append to %s at offset %" PRIu64 ": %s", path, vs->manifest_bytes,
			     strata_strerror(rc));
		rc = manifest_fail(vs, rc, vs->manifest_bytes);
		goto out;
	}
	rc = lsm_datasync(vs->manifest_fd, LSM_FAULT_MANIFEST_SYNC);
	if (rc) {
		strata_error(rc, "fdatasync %s: %s", path, strata_strerror(rc));
		rc = manifest_fail(vs, rc, vs->manifest_bytes);
		goto out;
	}
	vs->manifest_bytes += LSM_RECORD_HEADER_LEN + len;

	apply_counters(vs, edit);
	/* Mark before the old version lets go: the last reference unlinks. */
	for (size_t i = 0; i < edit->n_deleted; i++)
		atomic_store(&removed[i]->obsolete, true);
	pthread_mutex_lock(&vs->mu);
	vs->current = nv;
	pthread_mutex_unlock(&vs->mu);
	nv = NULL;
	lsm_version_unref(base);
out:
	lsm_version_unref(nv);
	strata_free(removed);
	strata_free(payload);
	return rc;
}
