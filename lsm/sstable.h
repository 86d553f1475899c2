/*
 * sstable.h — reading an SSTable: a sorted, immutable file of internal keys,
 * all in one time window. The format is specified in docs/format-sstable.md
 * and its constants live in lsm/sstable_format.h.
 *
 * An open table (lsm_sst) keeps its file descriptor, index block, bloom
 * filter and properties in memory; data blocks are read with pread through
 * the shared block cache. A table is reference counted and immutable: any
 * number of threads read it at once. Iterators hold a reference.
 */
#ifndef STRATA_LSM_SSTABLE_H
#define STRATA_LSM_SSTABLE_H

#include "lsm/block_cache.h"
#include "lsm/iter.h"
#include "lsm/key.h"

#include <stdbool.h>
#include <stdint.h>

/* What the builder records about a table; stored in its properties block. */
typedef struct lsm_sst_props {
	uint8_t smallest[LSM_IKEY_LEN]; /* first internal key */
	uint8_t largest[LSM_IKEY_LEN];  /* last internal key */
	int64_t window;                 /* time window index (key.h lsm_window_of) ... */
	int64_t window_ns;              /* ... of windows this long (> 0) */
	int64_t min_ts, max_ts;         /* of the keys' timestamps */
	uint64_t min_seq, max_seq;
	uint64_t n_entries;
	uint64_t n_series;      /* distinct series ids */
	uint64_t n_data_blocks;
	uint64_t raw_bytes;     /* keys + values before compression */
	uint64_t file_bytes;    /* size of the whole file */
	uint32_t flags;         /* LSM_SST_FLAG_*; in the file, not in the manifest */
} lsm_sst_props;

/* Some data blocks are stored as columns (column_block.h). */
#define LSM_SST_FLAG_COLUMNS 1u
/* Written as a closed window's final form (column blocks asked for): not rewritten again alone. */
#define LSM_SST_FLAG_FINAL 2u
#define LSM_SST_FLAGS_KNOWN (LSM_SST_FLAG_COLUMNS | LSM_SST_FLAG_FINAL)

typedef struct lsm_sst lsm_sst;

/*
 * Opens the table at path. Reads and checks the footer, properties, index and
 * filter: STRATA_ECORRUPT (bad checksum, magic or structure; the message names
 * the file and offset), STRATA_EVERSION, or -errno. cache may be NULL (blocks
 * are then read and decoded on every access). file_no keys the cache.
 */
int lsm_sst_open(lsm_sst **out, const char *path, uint64_t file_no, lsm_cache *cache);
void lsm_sst_ref(lsm_sst *s);
/* Drops a reference; the last one closes the file. */
void lsm_sst_unref(lsm_sst *s);

const lsm_sst_props *lsm_sst_get_props(const lsm_sst *s);
uint64_t lsm_sst_file_no(const lsm_sst *s);

/* False when the table certainly holds no key of series_id (bloom filter). */
bool lsm_sst_may_contain_series(const lsm_sst *s, uint64_t series_id);

/*
 * An iterator over the table's entries (two levels: index, then data blocks
 * through the cache). Holds a reference on s. A bad block checksum or a read
 * error ends it with status() STRATA_ECORRUPT / -errno. NULL on -ENOMEM.
 */
lsm_iter *lsm_sst_iter_new(lsm_sst *s);
/*
 * The same for one pass over a table (a compaction's input): it reads
 * the blocks the cache holds, but caches none of those it reads from the
 * file, which would push out the blocks queries want (and, with a big
 * cache, grow the server's memory by the tables merged).
 */
lsm_iter *lsm_sst_iter_new_once(lsm_sst *s);

/*
 * The data blocks of a table, each taken whole as columns (column_scan.h)
 * rather than entry by entry. Holds a reference on the table; one thread.
 */
typedef struct lsm_sst_blocks lsm_sst_blocks;

lsm_sst_blocks *lsm_sst_blocks_new(lsm_sst *s); /* NULL on -ENOMEM */
void lsm_sst_blocks_free(lsm_sst_blocks *b);
/* Positions on the first block whose last key is >= ikey (the only one that can hold ikey). */
void lsm_sst_blocks_seek(lsm_sst_blocks *b, const uint8_t ikey[LSM_IKEY_LEN]);
bool lsm_sst_blocks_valid(const lsm_sst_blocks *b);
void lsm_sst_blocks_next(lsm_sst_blocks *b);
/* The block's last internal key (its index key). */
const uint8_t *lsm_sst_blocks_last_key(const lsm_sst_blocks *b);
/* 0, or the error (STRATA_ECORRUPT, -errno) that ended the walk. */
int lsm_sst_blocks_status(const lsm_sst_blocks *b);
/*
 * The block at hand as a column set holding at least the columns want
 * names (NULL: every column; lsm_colset_keep), through the cache: 0 with
 * *out, pinned by *pin (release it with lsm_cache_release), or, for a table
 * opened without a cache, *pin NULL and *out the caller's to free. A cached
 * set that lacks a wanted column is read again and replaced by one holding
 * both its columns and the wanted ones. STRATA_ENOTFOUND when the block is
 * stored as entries; STRATA_ECORRUPT, -errno, -ENOMEM.
 */
struct lsm_colset;
struct lsm_colwant;
int lsm_sst_blocks_columns(lsm_sst_blocks *b, const struct lsm_colwant *want, lsm_cache_handle **pin,
			   struct lsm_colset **out);

/*
 * Reads every block of the file and checks its checksum and structure,
 * bypassing the cache. 0, or the first STRATA_ECORRUPT / -errno with a
 * message naming the offset. progress (may be NULL) is called after each
 * block with the bytes checked so far and the file size.
 */
int lsm_sst_verify(lsm_sst *s, void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx);

/*
 * Writes a human-readable description of the file at path to out: footer,
 * properties, index entries and, when show_entries, every key and value
 * length, with offsets. Damage is described, not crashed on.
 */
int lsm_sst_dump(const char *path, bool show_entries, void *out_file /* FILE * */);

#endif
