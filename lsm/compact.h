/*
 * compact.h — time-window compaction: merging the tables of one window.
 *
 * Every table belongs to one time window, and a window's tables have
 * disjoint sequence ranges (each comes from one flush, or from merging
 * tables that were next to each other in sequence order). A compaction
 * merges a run of tables that are adjacent in sequence order, so folding a
 * key's versions there gives what a reader would see: newer versions win,
 * MERGE operands combine through the merge hook (the field-merge rule).
 * When the run reaches the window's oldest table nothing older exists, so
 * deletions are dropped and merge operands become whole values.
 *
 * Picking (one job at a time, the window with most work first):
 *   - a closed window (its end plus the grace period has passed) is merged
 *     down to one run of tables of bounded size, in its final form: data
 *     blocks as columns (column_block.h), bigger blocks, stronger zstd; a
 *     closed window's single table that is not yet in final form (flags
 *     in the table file) is rewritten once;
 *   - a live window that holds live_trigger tables or more merges its
 *     newest tables of similar size (size-tiered: the run from the newest
 *     grows while the next table is no bigger than twice the run so far);
 *   - any window over max_files tables is merged whole (bounded read
 *     amplification whatever the sizes).
 *
 * Concurrency: readers keep the versions they pinned; a compaction holds
 * the version lock only to publish its edit (inputs out, outputs in), so
 * flushes and compactions take turns on a mutex held for one manifest
 * write. A failed compaction removes its outputs and leaves its inputs
 * live. Outputs are written to .tmp files and renamed, the edit is synced
 * before it counts; after a crash, tables no manifest lists are removed at
 * open, so a compaction either happened whole or not at all.
 */
#ifndef STRATA_LSM_COMPACT_H
#define STRATA_LSM_COMPACT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct lsm_db lsm_db;

typedef struct lsm_compact_options {
	bool disable;              /* no background compaction (lsm_compact still works) */
	unsigned live_trigger;     /* tables in a live window that start a merge (4) */
	unsigned max_files;        /* tables in any window that force a whole merge (16) */
	int64_t closed_grace_ns;   /* a window closes this long after its end (1 h) */
	uint64_t max_file_bytes;   /* an output table is cut after this many bytes (256 MiB) */
	uint64_t rate_bytes_per_s; /* compaction writes at most this fast; 0: no limit */
	/* Wall clock in ns for closing windows (tests inject one); NULL: the real clock. */
	int64_t (*clock)(void *ctx);
	void *clock_ctx;
} lsm_compact_options;

void lsm_compact_options_default(lsm_compact_options *out);

/*
 * Runs compactions in the calling thread until none is due (all: merge
 * every window with more than one table down to one run, as if every
 * window were closed). Serialised with the background compaction. 0, or
 * the first error (the inputs of a failed job stay live).
 */
int lsm_compact(lsm_db *db, bool all);

#endif
