/*
 * retention.h — removing expired points from the storage engine.
 *
 * Two ways, both driven by the retention policies of the catalog (see
 * docs/retention.md):
 *   - whole time windows: lsm_drop_windows_before() deletes every table of
 *     the windows that end at or before a time, in one manifest edit;
 *     lsm_drop_expired() does so with a time per window length, each the
 *     longest retention of the stores that may have points in windows of
 *     that length (all stores for the engine's own length);
 *   - single points: the compaction hook (compact.h, lsm_compact_options
 *     drop) of an lsm_retention_filter leaves out, while merging, the
 *     points of a series whose database's retention has passed them.
 *
 * Threads: any thread may call lsm_drop_windows_before; it takes turns
 * with compactions (a job in progress finishes first) and with flushes
 * (the manifest lock, held for the edit's write only).
 */
#ifndef STRATA_LSM_RETENTION_H
#define STRATA_LSM_RETENTION_H

#include "lsm/catalog.h"
#include "lsm/lsm.h"

#include <stdatomic.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Deletes every table of the windows that end at or before ts, whatever
 * their length (window w of length L covers [w * L, (w + 1) * L)): one
 * manifest edit, synced
 * before it counts. Readers that pinned the tables keep reading them; each
 * file is unlinked when its last pin goes. Points of those windows still in
 * the memtable are not touched (they reach a table at the next flush and
 * the next call). Returns the number of tables deleted (0: none), or an
 * error: the database's sticky error, or the manifest's (which makes it
 * sticky: lsm.h).
 */
int lsm_drop_windows_before(lsm_db *db, int64_t ts);
/*
 * The same with a time per window length: windows window_ns long that end
 * at or before cutoff(ctx, window_ns) (INT64_MIN: none) are deleted, in one
 * edit. cutoff is called with the compaction lock held, once per length.
 */
int lsm_drop_expired_windows(lsm_db *db, int64_t (*cutoff)(void *ctx, int64_t window_ns), void *ctx);
/*
 * What the retention thread does at time now: drops the windows every
 * store that may have points in them has let go of. Windows of a length
 * that only some stores' policies ever recorded as their shard duration
 * go at now less the longest retention among those stores
 * (lsm_catalog_window_horizon); windows of the engine's own length, or of
 * a length no store knows, may hold any store's points and go at now less
 * the longest retention of all (lsm_catalog_retention_horizon), when every
 * store's is finite. Returns as lsm_drop_expired_windows.
 */
int lsm_drop_expired(lsm_db *db, lsm_catalog *catalog, int64_t now);

/*
 * The engine's window length in ns (lsm_options.window_ns): that of the
 * series whose retention policy records no shard duration.
 */
int64_t lsm_db_window_ns(const lsm_db *db);

/*
 * The compaction hook that drops expired points: series id -> database
 * (catalog) -> retention -> cutoff (clock - retention). A series the
 * catalog no longer knows is kept (a drop in progress removes its points
 * itself). The catalog may be attached after the engine opens (the hook
 * keeps everything until then). It remembers the last series asked about:
 * keys come in series order, so the catalog is asked about once per series
 * of a merge. Calls from several threads are serialised on its mutex.
 */
typedef struct lsm_retention_filter {
	pthread_mutex_t mu;
	lsm_catalog *catalog;      /* mu; NULL: keep everything */
	int64_t (*clock)(void *ctx); /* wall clock in ns; NULL: the real-time clock */
	void *clock_ctx;
	_Atomic uint64_t generation; /* bumped when the catalog changes: threads' cached answers are stale */
	_Atomic uint64_t dropped;    /* points left out so far */
} lsm_retention_filter;

void lsm_retention_filter_init(lsm_retention_filter *f);
void lsm_retention_filter_deinit(lsm_retention_filter *f);
void lsm_retention_filter_set_catalog(lsm_retention_filter *f, lsm_catalog *c);
/* Points left out by the hook since init. */
uint64_t lsm_retention_filter_dropped(lsm_retention_filter *f);
/* The hook: ctx is an lsm_retention_filter. True when ukey's point has expired. */
bool lsm_retention_filter_drop(void *ctx, const uint8_t ukey[LSM_UKEY_LEN]);

#endif
