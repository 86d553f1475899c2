/*
 * arena.h — a bump allocator in large blocks, freed all at once.
 *
 * The memtable allocates every node from an arena: an allocation is a pointer
 * bump in the current block (1 MiB), and the whole arena goes back to the heap
 * in one pass when the memtable dies. Requests larger than a quarter of a
 * block get a block of their own, so that the tail of the current block is
 * not wasted on them.
 *
 * Threads: one thread at a time allocates (the memtable's inserting thread);
 * lsm_arena_bytes() may be called from any thread. Memory handed out stays
 * valid and in place until lsm_arena_deinit().
 */
#ifndef STRATA_LSM_ARENA_H
#define STRATA_LSM_ARENA_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Size of an ordinary block, its header included. */
#define LSM_ARENA_BLOCK_BYTES (1u << 20)

struct lsm_arena_block;

/* Caller's memory (embedded in its owner); the fields are private. */
typedef struct lsm_arena {
	uint8_t *ptr;                   /* next free byte of the current block */
	size_t left;                    /* free bytes after ptr in the current block */
	struct lsm_arena_block *blocks; /* every block, newest first */
	size_t reserved;                /* bytes of all blocks, headers included */
	_Atomic size_t used;            /* reserved - left: written by the allocator, read by anyone */
} lsm_arena;

/* An empty arena; allocates nothing. */
void lsm_arena_init(lsm_arena *a);
/* Frees every block; everything the arena handed out becomes invalid. */
void lsm_arena_deinit(lsm_arena *a);

/* The slow path of lsm_arena_alloc_aligned(): a new block. */
void *lsm_arena_alloc_slow(lsm_arena *a, size_t n, size_t align);

/*
 * n bytes (n > 0) aligned to align (a power of two), valid until
 * lsm_arena_deinit(). NULL when the heap is exhausted. Allocating thread only.
 */
static inline void *lsm_arena_alloc_aligned(lsm_arena *a, size_t n, size_t align)
{
	size_t pad = (size_t)(-(uintptr_t)a->ptr & (uintptr_t)(align - 1));
	uint8_t *p;

	if (n > a->left || pad > a->left - n)
		return lsm_arena_alloc_slow(a, n, align);
	p = a->ptr + pad;
	a->ptr = p + n;
	a->left -= pad + n;
	atomic_store_explicit(&a->used, a->reserved - a->left, memory_order_relaxed);
	return p;
}

/* n bytes (n > 0) with no alignment promised. Allocating thread only. */
static inline void *lsm_arena_alloc(lsm_arena *a, size_t n)
{
	return lsm_arena_alloc_aligned(a, n, 1);
}

/*
 * Bytes the arena holds from the heap minus the free tail of its current
 * block: what it handed out plus alignment padding, abandoned block tails and
 * block headers. Never decreases until deinit. Any thread; while an
 * allocation runs it may lag by that allocation.
 */
static inline size_t lsm_arena_bytes(const lsm_arena *a)
{
	return atomic_load_explicit(&a->used, memory_order_relaxed);
}

#endif
