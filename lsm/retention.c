/*
 * retention.c — removing expired points (retention.h): whole windows by one
 * manifest edit, and the compaction hook that leaves out expired points.
 */
#include "lsm/retention.h"
#include "lsm/alloc.h"
#include "lsm/db_int.h"
#include "lsm/key.h"
#include "lsm/log.h"

#include <errno.h>
#include <inttypes.h>
#include <time.h>

/* Keys of one series between two fresh looks at the catalog and the clock. */
#define FILTER_REFRESH_EVERY 4096

int64_t lsm_db_window_ns(const lsm_db *db)
{
	return db->opt.window_ns;
}

static int64_t same_cutoff(void *ctx, int64_t window_ns)
{
	(void)window_ns;
	return *(const int64_t *)ctx;
}

int lsm_drop_windows_before(lsm_db *db, int64_t ts)
{
	return lsm_drop_expired_windows(db, same_cutoff, &ts);
}

#define KNOWN_MAX 16

int lsm_drop_expired_windows(lsm_db *db, int64_t (*cutoff)(void *ctx, int64_t window_ns), void *ctx)
{
	struct known_cutoff {
		int64_t window_ns, cutoff;
	} known[KNOWN_MAX];
	size_t n_known = 0;
	lsm_version_edit edit;
	lsm_version *v = NULL;
	size_t n = 0, n_windows = 0;
	int rc;

	/* Compactions pin and delete tables too: one at a time, so no edit deletes a table twice. */
	pthread_mutex_lock(&db->compact_mu);
	lsm_version_edit_init(&edit);
	pthread_mutex_lock(&db->mu);
	rc = db->bg_error;
	pthread_mutex_unlock(&db->mu);
	if (rc)
		goto out;
	v = lsm_versions_current(db->versions);
	/* A window ends at or before its length's cutoff when its last time is before it. */
	for (size_t i = 0; rc == 0 && i < v->n_windows; i++) {
		const lsm_window_files *w = &v->windows[i];
		int64_t ts = INT64_MIN;
		size_t c;

		/* A version has windows of a few lengths: ask once per length. */
		for (c = 0; c < n_known && known[c].window_ns != w->window_ns; c++)
			;
		if (c < n_known) {
			ts = known[c].cutoff;
		} else {
			ts = cutoff(ctx, w->window_ns);
			if (n_known < KNOWN_MAX)
				known[n_known++] = (struct known_cutoff){ .window_ns = w->window_ns, .cutoff = ts };
		}
		if (w->last_ns >= ts)
			continue;
		for (size_t k = 0; rc == 0 && k < w->n_files; k++, n++)
			rc = lsm_version_edit_delete_file(&edit, w->files[k]->number);
		n_windows++;
	}
	if (rc || n == 0)
		goto out;
	/* Flushes only add tables, so the tables listed above are still live under version_mu. */
	pthread_mutex_lock(&db->version_mu);
	rc = lsm_versions_apply(db->versions, &edit);
	pthread_mutex_unlock(&db->version_mu);
	if (rc) {
		lsm_db_set_bg_error(db, rc, "dropping expired windows could not record its edit");
		goto out;
	}
	LOG_INFO("event=retention_windows_dropped windows=%zu tables=%zu", n_windows, n);
out:
	if (v)
		lsm_version_unref(v);
	lsm_version_edit_deinit(&edit);
	pthread_mutex_unlock(&db->compact_mu);
	return rc ? rc : (int)(n > INT32_MAX ? INT32_MAX : n);
}

typedef struct expiry {
	lsm_db *db;
	lsm_catalog *catalog;
	int64_t now;
	int64_t horizon; /* of every store (0: none may go by time alone) */
} expiry;

/*
 * Windows of a length only stores with a finite retention ever used go at
 * their horizon; the engine's own length, and one no store knows, may hold
 * any store's points: the longest retention of all.
 */
static int64_t expiry_cutoff(void *ctx, int64_t window_ns)
{
	expiry *e = ctx;
	int64_t horizon = e->horizon, before;

	if (window_ns != e->db->opt.window_ns)
		lsm_catalog_window_horizon(e->catalog, window_ns, &horizon);
	if (horizon <= 0 || __builtin_sub_overflow(e->now, horizon, &before))
		return INT64_MIN;
	return before;
}

int lsm_drop_expired(lsm_db *db, lsm_catalog *catalog, int64_t now)
{
	expiry e = { .db = db, .catalog = catalog, .now = now, .horizon = lsm_catalog_retention_horizon(catalog) };

	return lsm_drop_expired_windows(db, expiry_cutoff, &e);
}

/* ---- the compaction hook ---- */

/* Generation numbers of every filter of the process (threads cache answers by filter and number). */
static _Atomic uint64_t generations = 1;

void lsm_retention_filter_init(lsm_retention_filter *f)
{
	pthread_mutex_init(&f->mu, NULL);
	f->catalog = NULL;
	f->clock = NULL;
	f->clock_ctx = NULL;
	atomic_init(&f->generation, atomic_fetch_add(&generations, 1));
	atomic_init(&f->dropped, 0);
}

void lsm_retention_filter_deinit(lsm_retention_filter *f)
{
	pthread_mutex_destroy(&f->mu);
}

void lsm_retention_filter_set_catalog(lsm_retention_filter *f, lsm_catalog *c)
{
	pthread_mutex_lock(&f->mu);
	f->catalog = c;
	/* Answers cached before are stale; a number never used before, so no other filter's match. */
	atomic_store_explicit(&f->generation, atomic_fetch_add(&generations, 1), memory_order_release);
	pthread_mutex_unlock(&f->mu);
}

uint64_t lsm_retention_filter_dropped(lsm_retention_filter *f)
{
	return atomic_load_explicit(&f->dropped, memory_order_relaxed);
}

static int64_t filter_now(const lsm_retention_filter *f)
{
	struct timespec ts;

	if (f->clock)
		return f->clock(f->clock_ctx);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Points of series id before the returned time have expired (mu held). */
static int64_t filter_cutoff(lsm_retention_filter *f, uint64_t id)
{
	int64_t keep = 0, cutoff;
	uint32_t db;

	if (!f->catalog || lsm_catalog_series_db(f->catalog, id, &db) != 0 ||
	    lsm_catalog_retention(f->catalog, db, &keep) != 0 || keep <= 0)
		return INT64_MIN;
	if (__builtin_sub_overflow(filter_now(f), keep, &cutoff))
		return INT64_MIN;
	return cutoff;
}

/*
 * The answer for the series a thread asked about last: a compaction asks
 * for every key, a series' keys come together, and merges of one window
 * may run on several threads at once, so each keeps its own and the lock
 * is taken only for a new series or a fresh look.
 */
static _Thread_local struct {
	const lsm_retention_filter *f;
	uint64_t id;
	int64_t cutoff;
	uint64_t generation; /* the filter's, when the answer was taken */
	uint32_t calls;
} last;

bool lsm_retention_filter_drop(void *ctx, const uint8_t ukey[LSM_UKEY_LEN])
{
	lsm_retention_filter *f = ctx;
	uint64_t id = lsm_ukey_series(ukey);
	bool drop;

	if (last.f != f || last.id != id || ++last.calls % FILTER_REFRESH_EVERY == 0 ||
	    last.generation != atomic_load_explicit(&f->generation, memory_order_acquire)) {
		pthread_mutex_lock(&f->mu);
		last.cutoff = filter_cutoff(f, id);
		last.generation = atomic_load_explicit(&f->generation, memory_order_relaxed);
		pthread_mutex_unlock(&f->mu);
		last.f = f;
		last.id = id;
	}
	drop = lsm_ukey_ts(ukey) < last.cutoff;
	if (drop)
		atomic_fetch_add_explicit(&f->dropped, 1, memory_order_relaxed);
	return drop;
}
