/*
 * compact.h — time-window compaction: merging the tables of one window.
 *
 * Every table belongs to one time window. Ordered newest first, a window's
 * tables come from flushes (disjoint sequence ranges) or from merges of
 * tables next to each other in that order (possibly split into
 * key-disjoint tables of one sequence range). A compaction merges a run of
 * tables from the newest, so folding a key's versions there gives what a
 * reader would see: newer versions win,
 * MERGE operands combine through the merge hook (the field-merge rule).
 * When the run reaches the window's oldest table nothing older exists, so
 * deletions are dropped and merge operands become whole values.
 *
 * A window is a length and a number (version.h): a series whose length
 * changed (its policy's shard duration) has points in windows of both
 * lengths, which share time. For each series the merge asks the bloom
 * filters of the tables of those other windows and of the inputs: when an
 * older table may hold the series, the run is no bottom for it (tombstones
 * and merge operands stay); when one with sequence numbers among its
 * inputs' may, folding would skip the versions in between, so every
 * version of its keys is written as it is; when only newer ones may, its
 * keys keep their own sequence numbers in a final merge (which otherwise
 * gives every key the inputs' newest).
 *
 * Picking (one job at a time, the window with most work first):
 *   - a closed window (its end plus the grace period has passed) is merged
 *     down to one run of key-disjoint tables of bounded size, in its final
 *     form: data blocks as columns (column_block.h), bigger blocks,
 *     stronger zstd. Once every table of the window is final (a flag in
 *     the table file) nothing more is done, until a late write adds a
 *     table that is not;
 *   - a live window that holds live_trigger tables or more merges its
 *     newest tables of similar size (size-tiered: the run from the newest
 *     grows while the next table is no bigger than twice the run so far);
 *   - a live window with max_files tables or more merges its newest tables
 *     whatever their sizes (bounded read amplification).
 * Tables cut at max_file_bytes by a merge count as full: they join no tier
 * and no count, so a merge's own outputs are not merged again.
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
	/*
	 * Late tables of a closed window already in final form are tiered among
	 * themselves and folded into the final form once they hold a quarter of
	 * its bytes, or once no new table has come for this long (10 min).
	 */
	int64_t late_settle_ns;
	uint64_t max_file_bytes;   /* an output table is cut after this many bytes (256 MiB) */
	/*
	 * Threads that merge a big closed window into its final form, each
	 * a range of its series (2; 1: the compaction thread alone; at most 8).
	 */
	unsigned final_threads;
	uint64_t final_split_bytes; /* ... when its tables hold at least this many bytes (16 MiB) */
	int64_t final_split_quiet_ns; /* ... and no write came for this long (2 s): writes keep the other cores */
	uint64_t rate_bytes_per_s; /* compaction writes at most this fast; 0: no limit */
	/* Wall clock in ns for closing windows (tests inject one); NULL: the real clock. */
	int64_t (*clock)(void *ctx);
	void *clock_ctx;
	/*
	 * Retention (retention.h): called for each key a merge writes, with
	 * drop_ctx, from the compaction's thread; true leaves the key out
	 * (every version of it). NULL keeps every key.
	 */
	bool (*drop)(void *ctx, const uint8_t ukey[16]);
	void *drop_ctx;
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
