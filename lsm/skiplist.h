/*
 * skiplist.h — an insert-only skiplist of internal keys, in an arena.
 *
 * Keys are LSM_IKEY_LEN-byte internal keys (key.h) ordered by memcmp. Each
 * node carries its key inline and `extra` bytes of payload after its links
 * (the memtable keeps the value there), so a lookup touches one allocation.
 *
 * Threads (the contract of LevelDB's db/skiplist.h):
 * - Writes (lsm_skiplist_node_new, lsm_skiplist_insert) need external
 *   serialisation: one thread at a time. The writer-only fields of the list
 *   (random state, the list's own insert hint) need no lock for that reason.
 * - Reads (first, seek, next, key, extra) need no lock and run concurrently
 *   with a write. A node is fully written, its key, payload and its own links,
 *   before a release store links it in; readers follow links with acquire
 *   loads, so a node they reach is complete. Nodes are never unlinked or
 *   changed after insertion, and live until the arena is freed.
 * - The caller guarantees the list (and its arena) outlives every reader.
 */
#ifndef STRATA_LSM_SKIPLIST_H
#define STRATA_LSM_SKIPLIST_H

#include "lsm/arena.h"
#include "lsm/key.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define LSM_SKIPLIST_MAX_HEIGHT 12
/* One node in LSM_SKIPLIST_BRANCHING reaches the level above. */
#define LSM_SKIPLIST_BRANCHING 4

typedef struct lsm_skiplist_node {
	uint8_t key[LSM_IKEY_LEN];
	uint32_t height;    /* number of links, 1..LSM_SKIPLIST_MAX_HEIGHT */
	uint32_t extra_len; /* payload bytes after next[height] */
	_Atomic(struct lsm_skiplist_node *) next[];
} lsm_skiplist_node;

/* Levels an insert hint remembers; taller nodes (1 in 4^4) take the full search. */
#define LSM_SKIPLIST_HINT_LEVELS 4

/*
 * An insert hint: where an earlier insert went, kept by the writer to insert a
 * key just after it without searching from the top. All zero is empty; after
 * that only lsm_skiplist_insert() writes it, and it belongs to that one list
 * (it points into the list's arena). Writer only. A hint is only a starting
 * point: a stale one, or one made for other keys, costs a search, never order.
 */
typedef struct lsm_skiplist_hint {
	/* prev[i]: a node of height > i (or the head) before the earlier key; NULL when empty */
	lsm_skiplist_node *prev[LSM_SKIPLIST_HINT_LEVELS];
} lsm_skiplist_hint;

/* Caller's memory; the fields are private. */
typedef struct lsm_skiplist {
	/* Read by every thread. */
	lsm_skiplist_node *head;   /* sentinel before the first key; set at init */
	_Atomic int max_height;    /* levels in use; grows, relaxed (see skiplist.c) */
	char pad_[64];             /* keeps the writer's fields off the readers' line */
	/* Writer only. */
	lsm_arena *arena;
	int height;                /* the writer's copy of max_height */
	uint64_t rng;              /* xorshift64* state for node heights */
	lsm_skiplist_hint last;    /* the previous insert, for callers without a hint */
	uint64_t n_hinted;         /* inserts placed from their hint, no search */
} lsm_skiplist;

/* An empty list whose nodes come from arena (the head node at once). -ENOMEM. */
int lsm_skiplist_init(lsm_skiplist *sl, lsm_arena *arena);

/*
 * A new node holding key, with extra_len payload bytes for the caller to fill,
 * not yet in the list. Writer only; NULL when the arena cannot grow.
 */
lsm_skiplist_node *lsm_skiplist_node_new(lsm_skiplist *sl, const uint8_t key[LSM_IKEY_LEN], uint32_t extra_len);

/*
 * Links a node from lsm_skiplist_node_new() into the list, making it visible
 * to readers. Its key must not be in the list yet. Writer only.
 *
 * hint (may be NULL: the list then uses its own, the previous insert) is
 * where a related earlier insert went; it is updated to this insert. A key
 * just after the hint's (the next timestamp of the same series) is linked
 * in O(1); any other key costs an ordinary O(log n) search.
 */
void lsm_skiplist_insert(lsm_skiplist *sl, lsm_skiplist_node *n, lsm_skiplist_hint *hint);

/* The first node, or NULL when the list is empty. Any thread. */
lsm_skiplist_node *lsm_skiplist_first(const lsm_skiplist *sl);

/*
 * The first node whose key is >= target, where target is target_len bytes
 * and keys compare as memcmp with the shorter string first on a tie (so a
 * short target is a prefix bound). NULL when there is none. Any thread.
 */
lsm_skiplist_node *lsm_skiplist_seek(const lsm_skiplist *sl, const uint8_t *target, size_t target_len);

/* The node after n, or NULL. Any thread. */
static inline lsm_skiplist_node *lsm_skiplist_node_next(const lsm_skiplist_node *n)
{
	return atomic_load_explicit(&((lsm_skiplist_node *)n)->next[0], memory_order_acquire);
}

/* The payload of n: extra_len bytes, writable by the writer until inserted. */
static inline uint8_t *lsm_skiplist_node_extra(const lsm_skiplist_node *n)
{
	return (uint8_t *)&((lsm_skiplist_node *)n)->next[n->height];
}

#endif
