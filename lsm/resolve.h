/*
 * resolve.h — folds the versions of one user key into its value.
 *
 * Versions are fed newest first. A PUT or DELETE ends the fold; MERGE
 * operands accumulate through the merge hook (each older value is merged
 * under the newer ones). Used by reads (the value a user sees) and by flush
 * (one entry per key in a table). Caller's memory, one thread.
 */
#ifndef STRATA_LSM_RESOLVE_H
#define STRATA_LSM_RESOLVE_H

#include "lsm/key.h"
#include "lsm/lsm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lsm_resolve {
	lsm_merge_fn merge;
	void *merge_ctx;
	uint8_t *buf;         /* the value folded so far */
	size_t len;
	size_t cap;
	bool have;            /* a value (or merge operands) was seen */
	bool done;            /* a PUT or DELETE ended the fold */
	bool deleted;         /* the key is deleted */
	bool base;            /* the value is whole (a PUT was reached) */
} lsm_resolve;

void lsm_resolve_init(lsm_resolve *r, lsm_merge_fn merge, void *merge_ctx);
void lsm_resolve_deinit(lsm_resolve *r);
/* Starts a new key, keeping the buffer. */
void lsm_resolve_reset(lsm_resolve *r);
/* Feeds the next older version. 0, -ENOMEM, or the merge hook's error. */
int lsm_resolve_add(lsm_resolve *r, enum lsm_kind kind, const uint8_t *value, size_t len);

#endif
