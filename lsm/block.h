/*
 * block.h — reads one decompressed block (layout in block_builder.h).
 *
 * A block is immutable once made and may be read by many threads at once
 * (each with its own iterator); it is shared through the block cache.
 */
#ifndef STRATA_LSM_BLOCK_H
#define STRATA_LSM_BLOCK_H

#include "lsm/iter.h"

#include <stddef.h>
#include <stdint.h>

typedef struct lsm_block lsm_block;

/*
 * Wraps len bytes at data (heap memory from strata_malloc; the block takes
 * ownership and frees it). Checks the restart array: STRATA_ECORRUPT when it
 * does not fit the block. -ENOMEM. On any error data is freed too.
 */
int lsm_block_new(lsm_block **out, uint8_t *data, size_t len);
void lsm_block_free(lsm_block *b);
/* Bytes held (for the cache's budget). */
size_t lsm_block_charge(const lsm_block *b);

/*
 * An iterator over the block's entries, binary-searching the restarts on seek.
 * It borrows b: b must outlive it. A malformed entry makes it invalid with
 * status STRATA_ECORRUPT. NULL on -ENOMEM.
 */
lsm_iter *lsm_block_iter_new(const lsm_block *b);

#endif
