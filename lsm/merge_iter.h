/*
 * merge_iter.h — merges several sorted iterators into one sorted stream.
 *
 * Children are internal-key iterators (iter.h); the merge yields every entry
 * of every child in memcmp key order, keeping a binary min-heap of the
 * children's current keys. The merge owns its children and frees them. One
 * thread uses it. Its status is the first non-zero status of a child.
 */
#ifndef STRATA_LSM_MERGE_ITER_H
#define STRATA_LSM_MERGE_ITER_H

#include "lsm/iter.h"

#include <stddef.h>

/*
 * A merge of n children (the array is copied; the iterators are owned from
 * now on, also on failure). NULL on -ENOMEM.
 */
lsm_iter *lsm_merge_iter_new(lsm_iter **children, size_t n);

#endif
