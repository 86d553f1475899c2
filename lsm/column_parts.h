/*
 * column_parts.h — a column block stored in parts (docs/format-sstable.md,
 * "Column part blocks").
 *
 * A query of one field of ten needs a tenth of a column block, but a block
 * stored as one zstd frame must be read and decompressed whole. Stored in
 * parts, the block's head (its keys: series runs, timestamps, trailers)
 * and each of its columns are compressed and checksummed on their own,
 * after a directory of their sizes; the table's index holds a copy of the
 * directory, so a reader finds the bytes of the columns it wants without
 * reading anything else, and checks each part it reads on its own.
 * Joined, the parts are exactly the column encoding of column_block.h.
 */
#ifndef STRATA_LSM_COLUMN_PARTS_H
#define STRATA_LSM_COLUMN_PARTS_H

#include "lsm/row.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zstd.h>

/* One part: where it lies in the stored block. */
typedef struct lsm_colpart {
	uint32_t id;              /* field id (columns) */
	enum lsm_field_type type; /* field type (columns) */
	uint64_t offset;          /* from the start of the stored block */
	uint64_t len;             /* stored bytes */
} lsm_colpart;

/* The directory of a stored block. */
typedef struct lsm_colparts_dir {
	uint64_t block_len;   /* size of the entry form the encoding decodes to */
	uint64_t enc_len;     /* size of the whole column encoding */
	size_t dir_len;       /* bytes of the directory, at the start of the block */
	lsm_colpart head;
	size_t n_cols;
	lsm_colpart *cols;    /* ascending by (id, type) */
} lsm_colparts_dir;

/*
 * Stores the column encoding enc (enc_len bytes, of an entry block of
 * block_len bytes) in parts, each compressed with cctx at level when that
 * makes it smaller: the stored bytes go to *buf (grown as needed, its
 * capacity in *cap), *out_len of them, the first *dir_len the directory.
 * 0; STRATA_ECORRUPT when enc is not an encoding; -ENOMEM.
 */
int lsm_colparts_store(ZSTD_CCtx *cctx, int level, const uint8_t *enc, size_t enc_len, size_t block_len,
		       uint8_t **buf, size_t *cap, size_t *out_len, size_t *dir_len);

/*
 * Parses a directory from p[0..len) (a block's stored bytes, or the copy
 * in the index, which is the directory alone) for a block of stored_len
 * bytes: the parts must tile the rest of the block exactly. d->cols is a
 * new heap array (lsm_colparts_dir_free). 0; STRATA_ECORRUPT; -ENOMEM.
 */
int lsm_colparts_dir_parse(lsm_colparts_dir *d, const uint8_t *p, size_t len, uint64_t stored_len);
void lsm_colparts_dir_free(lsm_colparts_dir *d);

/*
 * The column encoding of the parts of d that block holds (block: the
 * stored bytes, of which the head and the columns with load[k] set must be
 * there; load NULL: every column): the head, the count of columns loaded
 * and those columns, in a new heap buffer *enc of *enc_len bytes. Each
 * part read is checked (checksum, size, its field against the directory);
 * with every column loaded the result must be the whole encoding.
 * 0; STRATA_ECORRUPT; -ENOMEM.
 */
int lsm_colparts_join(ZSTD_DCtx *dctx, const lsm_colparts_dir *d, const uint8_t *block, const bool *load,
		      uint8_t **enc, size_t *enc_len);

#endif
