/*
 * memtable.h — the in-memory table: a skiplist of internal keys in an arena.
 *
 * Threads: one thread at a time inserts (the commit leader); any number of
 * threads read (iterators) at the same time, without locks: a node is fully
 * written before it is published with a release store, and readers follow
 * links with acquire loads. Nodes are never removed; the arena is freed at
 * once when the last reference goes.
 *
 * A memtable is reference counted: the engine holds one reference while it
 * takes writes or waits to be flushed, and every iterator holds one.
 */
#ifndef STRATA_LSM_MEMTABLE_H
#define STRATA_LSM_MEMTABLE_H

#include "lsm/iter.h"
#include "lsm/key.h"

#include <stddef.h>
#include <stdint.h>

typedef struct lsm_memtable lsm_memtable;

/* A new empty memtable with one reference. -ENOMEM. */
int lsm_memtable_new(lsm_memtable **out);
void lsm_memtable_ref(lsm_memtable *m);
/* Drops a reference; the last one frees the arena. */
void lsm_memtable_unref(lsm_memtable *m);

/*
 * Inserts one entry (inserting thread only). The key and value are copied
 * into the arena. (ukey, seq) pairs are unique: the commit leader gives every
 * entry its own sequence number. -ENOMEM; STRATA_ETOOBIG when value_len is
 * over LSM_VALUE_MAX (batch.h), STRATA_EINVAL when seq is over LSM_SEQ_MAX.
 */
int lsm_memtable_add(lsm_memtable *m, uint64_t seq, enum lsm_kind kind,
		     const uint8_t ukey[LSM_UKEY_LEN], const void *value, size_t value_len);

/* Bytes of arena in use (any thread; approximate while an insert runs). */
size_t lsm_memtable_bytes(const lsm_memtable *m);
/* Entries inserted so far (any thread). */
uint64_t lsm_memtable_count(const lsm_memtable *m);

/*
 * An iterator over the internal keys (LSM_IKEY_LEN bytes) in order. It holds a
 * reference on m and sees entries inserted after its creation as well; callers
 * that need a snapshot skip entries above their sequence number. Any thread.
 * NULL on -ENOMEM.
 */
lsm_iter *lsm_memtable_iter_new(lsm_memtable *m);

#endif
