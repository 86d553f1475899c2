/*
 * lsm.h — the storage core's public interface.
 *
 * A database is one data directory holding a write-ahead log (wal/), sorted
 * tables split by time window (sst/), and the manifest that lists them.
 * Keys are the 16-byte series-timestamp keys of key.h; values are opaque
 * bytes. Writing the same key again adds a newer version: a PUT replaces, a
 * MERGE is combined with the older value through the merge hook (the ingest
 * layer uses it to merge the fields of a point), a DELETE removes.
 *
 * Threads: every function may be called from any thread, concurrently,
 * except lsm_close (once, after every other call has returned). Writes are
 * serialised by group commit (commit.h: one leader at a time); reads pin a
 * snapshot and never wait for writes, flushes or compactions.
 *
 * Durability: lsm_write returns 0 only once the batch is in the WAL and, in
 * the default sync mode and without LSM_WRITE_NOSYNC, fdatasync'ed. After a
 * failed WAL or table write the database refuses writes (STRATA_EREADONLY)
 * until it is reopened; lsm_stats.error says why.
 */
#ifndef STRATA_LSM_LSM_H
#define STRATA_LSM_LSM_H

#include "lsm/batch.h"
#include "lsm/block_cache.h"
#include "lsm/commit.h"
#include "lsm/compact.h"
#include "lsm/key.h"
#include "lsm/sstable_builder.h"
#include "lsm/status.h"
#include "lsm/wal_io.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lsm_db lsm_db;

/*
 * Combines an older value with a newer MERGE operand into *out (a heap
 * buffer from strata_malloc, owned by the caller) of *out_len bytes. Returns
 * 0, or an error that fails the read (STRATA_ECORRUPT for a value it cannot
 * decode). Called from any thread.
 */
typedef int (*lsm_merge_fn)(void *ctx, const uint8_t *older, size_t older_len,
			    const uint8_t *newer, size_t newer_len, uint8_t **out, size_t *out_len);

typedef struct lsm_options {
	bool create_if_missing;    /* true */
	size_t memtable_bytes;     /* a memtable this full is flushed (64 MiB) */
	int64_t window_ns;         /* time window of a table, unless series_window says otherwise (1 day) */
	/*
	 * The window length in ns of a series' tables (the shard duration of
	 * its retention policy: catalog.h lsm_catalog_series_window). A flush
	 * asks once per series it writes, from the flush thread (and from
	 * lsm_open and lsm_close); 0 or less means window_ns. NULL: window_ns
	 * for every series. Tables keep the length they were written with.
	 */
	int64_t (*series_window)(void *ctx, uint64_t series_id);
	void *series_window_ctx;
	lsm_sst_options sst;       /* block size, bloom bits, zstd level */
	size_t block_cache_bytes;  /* 256 MiB */
	lsm_commit_options commit; /* grouping and sync mode */
	enum lsm_io_kind wal_io;   /* LSM_IO_AUTO */
	lsm_merge_fn merge;        /* NULL: a MERGE replaces like a PUT */
	void *merge_ctx;
	lsm_compact_options compact; /* time-window compaction (compact.h) */
} lsm_options;

void lsm_options_default(lsm_options *out);

/*
 * Opens (or creates) the database in dir: takes the LOCK, replays the
 * manifest and the WAL segments not yet flushed (a torn tail of the newest
 * segment is trimmed and logged), flushes what was replayed, and starts the
 * commit and flush threads. STRATA_ELOCKED when another process holds the
 * directory (the message names it and the holder's pid); STRATA_ECORRUPT,
 * STRATA_EVERSION with the file and offset; -errno. The message is in
 * strata_last_error().
 */
int lsm_open(lsm_db **out, const char *dir, const lsm_options *opt);

/*
 * Flushes the memtable, stops the threads, releases the LOCK and frees db.
 * Returns the first error met while closing (the data acknowledged before is
 * in the WAL either way).
 */
int lsm_close(lsm_db *db);

enum { LSM_WRITE_NOSYNC = 1 };

/* Writes b atomically (see the durability note above). b may be reused after. */
int lsm_write(lsm_db *db, lsm_batch *b, int flags);

/*
 * The newest value of ukey: 0 with *out (strata_malloc'ed, caller frees) and
 * *out_len; STRATA_ENOTFOUND; STRATA_ECORRUPT or -errno from a table.
 */
int lsm_get(lsm_db *db, const uint8_t ukey[LSM_UKEY_LEN], uint8_t **out, size_t *out_len);

/*
 * An iterator over the newest values of the keys in [lo, hi), in key order,
 * at the snapshot taken when it is created. When lo and hi have the same
 * series id (or hi is the first key of the next series) only the time windows
 * of that range are read, and tables without that series are skipped by
 * their bloom filters. One thread uses an iterator; it pins memtables and
 * tables until freed.
 */
typedef struct lsm_db_iter lsm_db_iter;

int lsm_db_iter_new(lsm_db_iter **out, lsm_db *db, const uint8_t lo[LSM_UKEY_LEN],
		    const uint8_t hi[LSM_UKEY_LEN]);
/* Positions at the first key >= ukey (and >= lo). */
void lsm_db_iter_seek(lsm_db_iter *it, const uint8_t ukey[LSM_UKEY_LEN]);
/* Positions at lo. */
void lsm_db_iter_seek_first(lsm_db_iter *it);
bool lsm_db_iter_valid(const lsm_db_iter *it);
void lsm_db_iter_next(lsm_db_iter *it);
/* The current user key (16 bytes) and value; valid until the iterator moves. */
const uint8_t *lsm_db_iter_key(const lsm_db_iter *it);
const uint8_t *lsm_db_iter_value(const lsm_db_iter *it, size_t *out_len);
/* 0, or the error that ended the iteration early (STRATA_ECORRUPT, -errno). */
int lsm_db_iter_status(const lsm_db_iter *it);
void lsm_db_iter_free(lsm_db_iter *it);

/*
 * Makes every write acknowledged before the call part of a table: switches
 * the memtable and waits until it is flushed. 0 or the flush's error.
 */
int lsm_flush(lsm_db *db);

typedef struct lsm_stats {
	lsm_commit_stats commit;
	lsm_cache_stats cache;
	const char *wal_io;           /* "io_uring" or "pwrite" */
	bool relaxed;                 /* relaxed sync mode */
	uint64_t visible_seq;
	uint64_t memtable_bytes;      /* active memtable */
	uint64_t immutable_bytes;     /* memtable waiting to be flushed, or 0 */
	uint64_t write_stalls;        /* times a writer waited for a flush */
	uint64_t write_stall_ns;
	uint64_t flushes;
	uint64_t flush_bytes;         /* bytes of tables written by flushes */
	uint64_t n_files;
	uint64_t file_bytes;
	uint64_t n_windows;
	uint64_t max_files_per_window;
	uint64_t compactions;         /* compactions published */
	uint64_t compaction_failures; /* compactions abandoned on an error (inputs kept) */
	uint64_t compact_bytes_read;  /* table bytes merged */
	uint64_t compact_bytes_written;
	uint64_t compact_ns;          /* time spent compacting */
	uint64_t compaction_debt_bytes; /* bytes of windows a compaction would rewrite now, or once their late tables settle */
	uint64_t wal_torn_tails;      /* torn WAL tails trimmed at open */
	int error;                    /* sticky error (read-only), or 0 */
	uint64_t table_entries;       /* entries of the live tables, every version counted */
	/*
	 * The bytes the live tables would take once every window were merged,
	 * estimated from the tables' properties without reading them (how:
	 * docs/metrics.md); file_bytes / this is the space amplification.
	 */
	uint64_t est_merged_bytes;
	bool compaction_active;       /* a compaction job runs now */
} lsm_stats;

void lsm_get_stats(lsm_db *db, lsm_stats *out);

/*
 * A consistent copy of the database in dir, taken while it serves
 * (checkpoint.c): the live tables hard-linked (copied across file systems),
 * the WAL segments not yet flushed copied up to the end of the last group
 * written, the catalog log copied after that cut (so every series id in the
 * copied data is in the copied catalog), and a fresh MANIFEST and CURRENT
 * listing exactly those tables. Every write acknowledged before the call is
 * in the copy. It is written under "<dir>.tmp" and renamed to dir when
 * whole. -EEXIST when dir (or dir.tmp) exists; STRATA_ECLOSED while
 * closing; -errno, with the file named in strata_last_error(). out (may be
 * NULL) says what was copied.
 */
typedef struct lsm_checkpoint_info {
	uint64_t n_tables;
	uint64_t n_linked;        /* tables hard-linked; the rest were copied */
	uint64_t table_bytes;
	uint64_t n_wal_segments;
	uint64_t wal_bytes;
	uint64_t catalog_bytes;
	uint64_t last_seq;        /* every write up to this sequence number is in the copy */
} lsm_checkpoint_info;

int lsm_checkpoint(lsm_db *db, const char *dir, lsm_checkpoint_info *out);

/*
 * Writes <dir>/MANIFEST-<number> holding a file header and the one snapshot
 * edit given (every live table added, all three counters set, next_file
 * above number, nothing deleted), fsynced, then points <dir>/CURRENT at it
 * (CURRENT.tmp, rename, directory fsync). For checkpoints and repair tools;
 * never on an open database. STRATA_EINVAL for an edit that is not a
 * snapshot; -EEXIST when the manifest exists; -errno.
 */
struct lsm_version_edit;
int lsm_checkpoint_write_manifest(const char *dir, uint64_t number, const struct lsm_version_edit *snapshot);

#endif
