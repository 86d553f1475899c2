/*
 * iter.h — the forward iterator shared by memtables, blocks, SSTables and
 * merges. Keys are internal keys (key.h) compared with memcmp.
 *
 * An iterator is used by one thread at a time. key() and value() point into
 * memory the iterator owns or pins; they stay valid until the next call that
 * moves the iterator or frees it. A damaged block or a failed read makes the
 * iterator invalid and status() returns the error (STRATA_ECORRUPT, -EIO...):
 * callers check status() once valid() turns false.
 */
#ifndef STRATA_LSM_ITER_H
#define STRATA_LSM_ITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lsm_iter lsm_iter;

struct lsm_iter_ops {
	bool (*valid)(lsm_iter *it);
	void (*seek_first)(lsm_iter *it);
	/* Positions at the first entry whose key is >= target. */
	void (*seek)(lsm_iter *it, const uint8_t *target, size_t target_len);
	void (*next)(lsm_iter *it);
	const uint8_t *(*key)(lsm_iter *it, size_t *out_len);
	const uint8_t *(*value)(lsm_iter *it, size_t *out_len);
	int (*status)(lsm_iter *it);
	void (*free)(lsm_iter *it);
};

/* Implementations embed this as their first member. */
struct lsm_iter {
	const struct lsm_iter_ops *ops;
};

static inline bool lsm_iter_valid(lsm_iter *it) { return it->ops->valid(it); }
static inline void lsm_iter_seek_first(lsm_iter *it) { it->ops->seek_first(it); }
static inline void lsm_iter_seek(lsm_iter *it, const uint8_t *t, size_t n) { it->ops->seek(it, t, n); }
static inline void lsm_iter_next(lsm_iter *it) { it->ops->next(it); }
static inline const uint8_t *lsm_iter_key(lsm_iter *it, size_t *n) { return it->ops->key(it, n); }
static inline const uint8_t *lsm_iter_value(lsm_iter *it, size_t *n) { return it->ops->value(it, n); }
static inline int lsm_iter_status(lsm_iter *it) { return it->ops->status(it); }
static inline void lsm_iter_free(lsm_iter *it) { if (it) it->ops->free(it); }

#endif
