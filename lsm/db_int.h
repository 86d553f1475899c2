/*
 * db_int.h — the database object, shared by db.c (open, close, writes,
 * background flush), db_flush.c (memtable to tables) and db_read.c (get and
 * iterators).
 *
 * Threads and locks:
 * - mu guards mem, imm, imm_log_number, wal, bg_error, closing and the stall
 *   and flush counters. It is held only for pointer swaps and counters, never
 *   across I/O, so readers pinning a snapshot never wait behind a disk.
 * - The current commit leader (commit.h: the submitting thread that holds
 *   group commit's leadership, one at a time) is the only writer of mem's
 *   contents and the only one that replaces mem and wal (under mu): it may
 *   read db->mem and db->wal without mu.
 * - The flush thread owns imm from the moment it is published until it
 *   clears it (under mu) after the tables are in the manifest.
 * - version_mu serialises manifest edits (flushes now, compactions later).
 * - A reader pins mem, imm, the current version and the visible sequence
 *   number, all under mu, so the four agree: every entry at or below the
 *   sequence is in one of them.
 */
#ifndef STRATA_LSM_DB_INT_H
#define STRATA_LSM_DB_INT_H

#include "lsm/block_cache.h"
#include "lsm/commit.h"
#include "lsm/lsm.h"
#include "lsm/memtable.h"
#include "lsm/version.h"
#include "lsm/wal.h"

#include <pthread.h>
#include <stdatomic.h>

struct lsm_db {
	char *dir;
	lsm_options opt;
	int lock_fd;
	lsm_cache *cache;
	lsm_versions *versions;
	lsm_wal_io *io;
	lsm_commit *commit;

	pthread_mutex_t mu;
	pthread_cond_t flush_cv;   /* flush thread: imm published or closing */
	pthread_cond_t flushed_cv; /* stalled writers and lsm_flush: imm done */
	lsm_memtable *mem;
	lsm_memtable *imm;
	uint64_t imm_log_number;   /* first WAL segment not covered by imm */
	lsm_wal *wal;
	int bg_error;              /* sticky: the engine is read-only */
	bool closing;
	pthread_t flush_thread;
	bool flush_thread_started;
	uint64_t flushes_done;     /* counts imm flushes, for lsm_flush waiters */

	pthread_mutex_t version_mu;

	/* compaction (compact.c) */
	pthread_mutex_t compact_mu; /* one compaction job at a time */
	pthread_cond_t compact_cv;  /* under mu: a flush happened, or closing */
	pthread_t compact_thread;
	bool compact_thread_started;
	uint64_t compact_wakeups;   /* under mu: flushes since the thread last looked */
	atomic_uint_fast64_t compactions;
	atomic_uint_fast64_t compaction_failures;
	atomic_uint_fast64_t compact_bytes_read;
	atomic_uint_fast64_t compact_bytes_written;
	atomic_uint_fast64_t compact_ns;
	atomic_bool compacting;              /* a compaction job runs now (not while one is planned) */
	_Atomic uint64_t last_write_ns;      /* lsm_now_ns of a recent write (to 100 ms); 0: none yet */

	atomic_uint_fast64_t write_stalls;
	atomic_uint_fast64_t write_stall_ns;
	atomic_uint_fast64_t flushes;
	atomic_uint_fast64_t flush_bytes;
	uint64_t wal_torn_tails;
};

/*
 * Writes the entries of m to tables, one per time window, folding the
 * versions of each key, and logs them in one manifest edit. When
 * set_log_number, the edit also records log_number (WAL segments below it
 * are then obsolete). Called by the flush thread, and at open and close.
 */
int lsm_db_flush_memtable(lsm_db *db, lsm_memtable *m, bool set_log_number, uint64_t log_number);

/* The background compaction thread (compact.c); stops when db->closing. */
void *lsm_compact_main(void *arg);

/* Bytes of the windows that a compaction would rewrite now (compact.c). */
uint64_t lsm_compact_debt(lsm_db *db);

/* Sets the sticky error (first one wins) and logs it. */
void lsm_db_set_bg_error(lsm_db *db, int rc, const char *what);

/* Monotonic clock in nanoseconds. */
uint64_t lsm_now_ns(void);

/*
 * What one read sees, pinned together under db->mu: the memtables (imm may
 * be NULL), the table version and the last visible sequence number.
 */
typedef struct lsm_read_view {
	lsm_memtable *mem, *imm;
	lsm_version *version;
	uint64_t snapshot;
} lsm_read_view;

void lsm_read_view_pin(lsm_db *db, lsm_read_view *v);
/* Lets go of what pin took (each part may already be NULL); leaves v empty. */
void lsm_read_view_unpin(lsm_read_view *v);

#endif
