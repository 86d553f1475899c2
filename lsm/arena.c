/*
 * arena.c — the slow path and lifetime of the bump allocator (arena.h).
 *
 * The fast path lives inline in arena.h: a pointer bump and one relaxed store
 * of the byte counter, so that a memtable insert costs no heap call. Here a
 * request that does not fit gets a new block: an ordinary 1 MiB block that
 * becomes the current one (the old block's tail is abandoned), or, for a
 * request over a quarter of a block, a block of exactly its size that leaves
 * the current block in place. Blocks are chained through their headers and
 * freed together by lsm_arena_deinit().
 *
 * Threads: as in arena.h, one allocating thread; `used` is the only field
 * other threads read, through a relaxed atomic (a statistic, it orders
 * nothing).
 */
#include "lsm/arena.h"
#include "lsm/alloc.h"

#include <assert.h>
#include <stdalign.h>

struct lsm_arena_block {
	struct lsm_arena_block *prev; /* the block allocated before this one */
	size_t size;                  /* bytes of this block, header included */
	alignas(16) uint8_t data[];
};

/* Requests above this get their own block. */
#define ARENA_BIG_BYTES (LSM_ARENA_BLOCK_BYTES / 4)

void lsm_arena_init(lsm_arena *a)
{
	a->ptr = NULL;
	a->left = 0;
	a->blocks = NULL;
	a->reserved = 0;
	atomic_init(&a->used, 0);
}

void lsm_arena_deinit(lsm_arena *a)
{
	struct lsm_arena_block *b = a->blocks;

	while (b) {
		struct lsm_arena_block *prev = b->prev;

		strata_free(b);
		b = prev;
	}
	lsm_arena_init(a);
}

static struct lsm_arena_block *block_new(lsm_arena *a, size_t size)
{
	struct lsm_arena_block *b = strata_malloc(size);

	if (!b)
		return NULL;
	b->prev = a->blocks;
	b->size = size;
	a->blocks = b;
	a->reserved += size;
	return b;
}

void *lsm_arena_alloc_slow(lsm_arena *a, size_t n, size_t align)
{
	/* Block data is 16-aligned: only a larger alignment needs padding room. */
	size_t pad = align > 16 ? align - 1 : 0;
	size_t hdr = offsetof(struct lsm_arena_block, data);
	struct lsm_arena_block *b;
	uint8_t *p = NULL;

	assert(n > 0 && align > 0 && (align & (align - 1)) == 0);
	if (n > SIZE_MAX - hdr - pad)
		goto out;
	if (n + pad > ARENA_BIG_BYTES) {
		b = block_new(a, hdr + pad + n);
		if (!b)
			goto out;
		p = b->data + (size_t)(-(uintptr_t)b->data & (uintptr_t)(align - 1));
		atomic_store_explicit(&a->used, a->reserved - a->left, memory_order_relaxed);
		goto out;
	}
	b = block_new(a, LSM_ARENA_BLOCK_BYTES);
	if (!b)
		goto out;
	a->ptr = b->data;
	a->left = LSM_ARENA_BLOCK_BYTES - hdr;
	/* Fits now: n + pad <= ARENA_BIG_BYTES is far below a block. */
	p = lsm_arena_alloc_aligned(a, n, align);
out:
	return p;
}
