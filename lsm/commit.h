/*
 * commit.h — group commit: many threads submit write batches; they are
 * written to the WAL in groups, each group made durable with one fdatasync,
 * applied to the memtable through a hook, and the submitters woken.
 *
 * Who does the work: the submitters themselves, one at a time (LevelDB and
 * RocksDB "leader" group commit). A submitter that finds nobody committing
 * becomes the leader: it writes its own batch together with every batch
 * queued behind it, then hands leadership to the next queued submitter.
 * There is no commit thread; relaxed mode alone has a thread, for its timed
 * syncs.
 *
 * Grouping: no timer by default. While one group is being written and synced,
 * new submissions queue up; when it is done the next leader takes all of them
 * (up to group_max_bytes) as the next group. With group_min_bytes and
 * group_wait_us set, the leader instead waits until a group holds that many
 * bytes or its own batch has waited that long, whichever comes first.
 *
 * Sync modes: a batch submitted with sync=true returns only once its bytes
 * are fdatasync'ed. Relaxed mode (options.relaxed) acknowledges sync batches
 * once written to the WAL file and fdatasyncs at most every relaxed_sync_ms.
 * A batch submitted with sync=false never waits for a sync.
 *
 * Failure: a failed write or sync is never retried. The group's submitters get
 * the error; the failed hook is called once; every later submit returns
 * STRATA_EREADONLY until the engine is reopened.
 *
 * Threads: submit and run from any thread. Hooks are called by the current
 * leader — whichever submitting thread (or, in relaxed mode, the sync thread)
 * holds leadership — one call at a time, in order, never concurrently; each
 * call sees everything the earlier calls did.
 */
#ifndef STRATA_LSM_COMMIT_H
#define STRATA_LSM_COMMIT_H

#include "lsm/batch.h"
#include "lsm/histogram.h"
#include "lsm/wal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lsm_commit lsm_commit;

typedef struct lsm_commit_options {
	size_t group_max_bytes;   /* cap on one group (1 MiB); a larger batch goes alone */
	size_t group_min_bytes;   /* 0: no timer (default) */
	uint32_t group_wait_us;   /* with group_min_bytes: the longest wait */
	bool relaxed;
	uint32_t relaxed_sync_ms; /* relaxed mode: fdatasync at most this often (100) */
} lsm_commit_options;

void lsm_commit_options_default(lsm_commit_options *out);

typedef struct lsm_commit_hooks {
	void *ctx;
	/*
	 * Before a group of group_bytes is written: returns in *out the WAL segment
	 * to append to. The hook may switch segments (memtable full); it may block
	 * (a write stall). A non-zero return fails the group (not sticky).
	 * The segment returned stays in use (relaxed-mode syncs, the final sync
	 * of stop) until the next prepare call or stop returns; a hook that
	 * retires a segment holding unsynced batches (relaxed mode, sync=false)
	 * syncs it with lsm_wal_sync before closing it.
	 */
	int (*prepare)(void *ctx, size_t group_bytes, lsm_wal **out);
	/*
	 * After the group is in the WAL (durable when it had to be): applies the
	 * batches, in order; their sequence numbers are stamped. A non-zero return
	 * is a sticky failure (the WAL holds what the memtable lacks).
	 */
	int (*apply)(void *ctx, lsm_batch *const *batches, size_t n);
	/* Once, on the first sticky failure, with its code. May be NULL. */
	void (*failed)(void *ctx, int rc);
} lsm_commit_hooks;

typedef struct lsm_commit_stats {
	uint64_t groups;
	uint64_t batches;
	uint64_t bytes;
	uint64_t syncs;
	uint64_t sync_ns_total;   /* time spent in write+sync */
	uint64_t max_group_batches;
	uint64_t queued_batches;  /* submitted and waiting for a group, now */
	/* Distributions (histogram.h), over committed groups and batches only: */
	lsm_histogram_snapshot latency_ns;    /* a batch's time from entering submit to its return */
	lsm_histogram_snapshot group_bytes;   /* WAL bytes written per group, record headers included */
	lsm_histogram_snapshot group_entries; /* entries (points) per group */
} lsm_commit_stats;

/*
 * Starts group commit (and, in relaxed mode, its sync thread). Sequence
 * numbers continue after last_seq. -ENOMEM, -errno from pthread_create.
 */
int lsm_commit_start(lsm_commit **out, const lsm_commit_options *opt,
		     const lsm_commit_hooks *hooks, uint64_t last_seq);

/*
 * Writes b (count > 0) and returns when it is applied (and durable, see
 * above). Returns 0; the group's -errno; STRATA_EREADONLY after an earlier
 * failure; STRATA_ECLOSED once stop has begun; STRATA_ETOOBIG. b is stamped
 * with its sequence number and must not change until submit returns.
 */
int lsm_commit_submit(lsm_commit *c, lsm_batch *b, bool sync);

/* Sequence number of the last entry applied (readers' snapshot). Any thread. */
uint64_t lsm_commit_visible_seq(const lsm_commit *c);
/* The sticky error, or 0. */
int lsm_commit_error(const lsm_commit *c);
void lsm_commit_get_stats(lsm_commit *c, lsm_commit_stats *out);

/*
 * Runs fn(ctx) as a leader step, between two groups, while no group is
 * being written and no hook runs, and returns its result. fn runs on the
 * calling thread, ordered with the hooks like a hook call. The engine uses it
 * to switch memtables on demand. STRATA_ECLOSED once stop has begun.
 */
int lsm_commit_run(lsm_commit *c, int (*fn)(void *ctx), void *ctx);

/*
 * Begins stopping without waiting: every submit from now on returns
 * STRATA_ECLOSED; batches already queued are still committed. Any thread;
 * idempotent. Lets a caller refuse new writes, wait for its own writer
 * threads to leave, then call lsm_commit_stop.
 */
void lsm_commit_shutdown(lsm_commit *c);

/*
 * Stops accepting batches, commits the ones queued, joins the relaxed-mode
 * sync thread, waits for submitters still inside lsm_commit_submit (or
 * lsm_commit_run) to return, fdatasyncs what no-sync or relaxed batches left
 * unsynced in the last segment, and frees c. No submit may start after stop
 * has returned.
 */
void lsm_commit_stop(lsm_commit *c);

#endif
