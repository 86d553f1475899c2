/*
 * sstable_builder.h — writes one SSTable (format: docs/format-sstable.md).
 *
 * The builder writes to "<path>.tmp"; finish() writes the filter, properties,
 * index and footer, fsyncs the file, renames it to path and fsyncs the
 * directory, so a table either exists whole under its name or not at all.
 * Writes and syncs pass the fault points LSM_FAULT_SST_WRITE / _SYNC.
 * One thread uses a builder.
 */
#ifndef STRATA_LSM_SSTABLE_BUILDER_H
#define STRATA_LSM_SSTABLE_BUILDER_H

#include "lsm/sstable.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lsm_sst_options {
	size_t block_bytes;     /* target data block size before compression (4-16 KiB) */
	int restart_interval;   /* keys between restart points (16) */
	int bloom_bits_per_key; /* per distinct series id (10); 0 for no filter */
	int zstd_level;         /* 1..19; a block stays raw when zstd does not shrink it */
	bool columns;           /* data blocks as columns (column_block.h) where they can be */
	/*
	 * Column blocks as one zstd frame (type 2, what tables of format
	 * version 2 hold) instead of in parts (type 3, column_parts.h): only
	 * for tests of the reader of older tables.
	 */
	bool columns_whole;
} lsm_sst_options;

void lsm_sst_options_default(lsm_sst_options *out);

typedef struct lsm_sst_builder lsm_sst_builder;

/*
 * Creates "<path>.tmp" for a table of window `window` of windows window_ns
 * long (recorded in its properties). STRATA_EINVAL for a window length
 * that is not positive or bad options; -errno, -ENOMEM.
 */
int lsm_sst_builder_open(lsm_sst_builder **out, const char *path, int64_t window, int64_t window_ns,
			 const lsm_sst_options *opt);
/*
 * Appends an entry. Keys are internal keys (LSM_IKEY_LEN bytes) in strictly
 * ascending order (STRATA_EINVAL otherwise), all in the builder's window:
 * the caller (flush, compaction) guarantees that, the builder does not
 * check. A value over LSM_VALUE_MAX is STRATA_ETOOBIG. -errno on a write
 * error, which sticks: every later call returns it.
 */
int lsm_sst_builder_add(lsm_sst_builder *b, const uint8_t *ikey, size_t ikey_len,
			const uint8_t *value, size_t value_len);
/* Entries added so far. */
uint64_t lsm_sst_builder_entries(const lsm_sst_builder *b);
/* Bytes written to the file so far (for splitting output into files). */
uint64_t lsm_sst_builder_file_bytes(const lsm_sst_builder *b);
/*
 * Completes the table (see above) and fills *out with its properties, then
 * frees the builder. On error the temporary file is removed and the builder
 * freed too. An empty builder is STRATA_EINVAL.
 */
int lsm_sst_builder_finish(lsm_sst_builder *b, lsm_sst_props *out);
/* Removes the temporary file and frees the builder. */
void lsm_sst_builder_abandon(lsm_sst_builder *b);

#endif
