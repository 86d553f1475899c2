/*
 * skiplist.c — the memtable's sorted index: LevelDB's lock-free-reader
 * skiplist with keys and payload inline in arena nodes.
 *
 * Why this shape:
 * - One writer, many readers, no locks (skiplist.h has the contract). A node
 *   is built completely, its own links set with relaxed stores, then made
 *   reachable level by level from the bottom with release stores; readers
 *   load links with acquire. A reader may see a node at level 0 before it is
 *   linked higher up, which only makes its search a little longer.
 * - max_height is read relaxed, as in LevelDB: a reader that sees the new
 *   height early finds NULL (or the new node, published by a release store)
 *   in the head's upper links, and either is correct.
 * - The 24-byte key sits at the start of the node and is compared as three
 *   big-endian words, which is memcmp order without a call.
 * - Inserts start from a hint (skiplist.h): the predecessors, one per level,
 *   of an earlier insert. The memtable keeps one hint per series, so the
 *   next timestamp of a series is linked right after the series' last entry
 *   with a few comparisons, however many series are interleaved; a hint that
 *   does not place the key within a few steps falls back to the ordinary
 *   search from the top. Hints hold nodes, which are never removed, and the
 *   keys of prev[0..] do not increase with the level (each insert leaves
 *   itself at its levels and its true predecessors above): so one comparison
 *   with prev[0] shows every level's start precedes the key, and a stale hint
 *   is slow at worst, never wrong.
 */
#include "lsm/skiplist.h"

#include <errno.h>
#include <stdalign.h>
#include <string.h>

static inline uint64_t load_be64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/* memcmp(a, b, LSM_IKEY_LEN) < 0, a word at a time. */
static inline bool key_less(const uint8_t *a, const uint8_t *b)
{
	uint64_t x = load_be64(a), y = load_be64(b);

	if (x != y)
		return x < y;
	x = load_be64(a + 8);
	y = load_be64(b + 8);
	if (x != y)
		return x < y;
	return load_be64(a + 16) < load_be64(b + 16);
}

static int random_height(lsm_skiplist *sl)
{
	uint64_t x = sl->rng;
	uint64_t r;
	int h = 1;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	sl->rng = x;
	r = (x * UINT64_C(0x2545F4914F6CDD1D)) >> 32; /* the good high bits of xorshift64* */
	while (h < LSM_SKIPLIST_MAX_HEIGHT && (r % LSM_SKIPLIST_BRANCHING) == 0) {
		h++;
		r /= LSM_SKIPLIST_BRANCHING;
	}
	return h;
}

static lsm_skiplist_node *node_alloc(lsm_arena *arena, int height, uint32_t extra_len)
{
	size_t size = sizeof(lsm_skiplist_node) + (size_t)height * sizeof(lsm_skiplist_node *) + extra_len;
	lsm_skiplist_node *n = lsm_arena_alloc_aligned(arena, size, alignof(lsm_skiplist_node));

	if (n) {
		n->height = (uint32_t)height;
		n->extra_len = extra_len;
	}
	return n;
}

int lsm_skiplist_init(lsm_skiplist *sl, lsm_arena *arena)
{
	lsm_skiplist_node *head = node_alloc(arena, LSM_SKIPLIST_MAX_HEIGHT, 0);

	if (!head)
		return -ENOMEM;
	memset(head->key, 0, sizeof(head->key));
	for (int i = 0; i < LSM_SKIPLIST_MAX_HEIGHT; i++)
		atomic_init(&head->next[i], NULL);
	sl->head = head;
	atomic_init(&sl->max_height, 1);
	memset(sl->pad_, 0, sizeof(sl->pad_));
	sl->arena = arena;
	sl->height = 1;
	sl->rng = UINT64_C(0x9E3779B97F4A7C15);
	memset(&sl->last, 0, sizeof(sl->last));
	sl->n_hinted = 0;
	return 0;
}

lsm_skiplist_node *lsm_skiplist_node_new(lsm_skiplist *sl, const uint8_t key[LSM_IKEY_LEN], uint32_t extra_len)
{
	lsm_skiplist_node *n = node_alloc(sl->arena, random_height(sl), extra_len);

	if (n)
		memcpy(n->key, key, LSM_IKEY_LEN);
	return n;
}

static inline lsm_skiplist_node *next_relaxed(lsm_skiplist_node *x, int level)
{
	return atomic_load_explicit(&x->next[level], memory_order_relaxed);
}

/* Nodes a hinted insert may step over on one level before it searches instead. */
#define HINT_WALK_MAX 4

/*
 * The predecessors of k at levels [0, h) found from hint, in prev; false when
 * the hint is empty, not before k, too short for h, or too far behind.
 */
static bool find_from_hint(lsm_skiplist *sl, const lsm_skiplist_hint *hint, const uint8_t *k, int h,
			   lsm_skiplist_node **prev)
{
	lsm_skiplist_node *first = hint->prev[0];

	if (h > LSM_SKIPLIST_HINT_LEVELS || !first)
		return false;
	if (first != sl->head && !key_less(first->key, k))
		return false;
	for (int level = 0; level < h; level++) {
		lsm_skiplist_node *x = hint->prev[level];
		lsm_skiplist_node *next = next_relaxed(x, level);

		for (int steps = 0; next && key_less(next->key, k); steps++) {
			if (steps == HINT_WALK_MAX)
				return false;
			x = next;
			next = next_relaxed(x, level);
		}
		prev[level] = x;
	}
	return true;
}

/* The predecessors of k at every level, searching from the top. */
static void find_by_search(lsm_skiplist *sl, const uint8_t *k, lsm_skiplist_node **prev)
{
	lsm_skiplist_node *x = sl->head;
	lsm_skiplist_node *last = NULL; /* known not to precede k: never compared twice */

	for (int level = sl->height - 1; level >= 0; level--) {
		lsm_skiplist_node *next = next_relaxed(x, level);

		while (next && next != last && key_less(next->key, k)) {
			x = next;
			next = next_relaxed(x, level);
		}
		prev[level] = x;
		last = next;
	}
	for (int level = sl->height; level < LSM_SKIPLIST_MAX_HEIGHT; level++)
		prev[level] = sl->head;
}

void lsm_skiplist_insert(lsm_skiplist *sl, lsm_skiplist_node *n, lsm_skiplist_hint *hint)
{
	lsm_skiplist_node *prev[LSM_SKIPLIST_MAX_HEIGHT];
	int h = (int)n->height;
	bool hinted;

	if (!hint)
		hint = &sl->last;
	hinted = find_from_hint(sl, hint, n->key, h, prev);
	if (hinted)
		sl->n_hinted++;
	else
		find_by_search(sl, n->key, prev);

	if (h > sl->height) {
		sl->height = h;
		atomic_store_explicit(&sl->max_height, h, memory_order_relaxed);
	}
	/* Bottom up, each link complete before the release store that publishes it. */
	for (int i = 0; i < h; i++) {
		atomic_store_explicit(&n->next[i], next_relaxed(prev[i], i), memory_order_relaxed);
		atomic_store_explicit(&prev[i]->next[i], n, memory_order_release);
	}
	/* The hint now describes this insert; levels a hinted insert did not look at keep theirs. */
	for (int i = 0; i < LSM_SKIPLIST_HINT_LEVELS; i++) {
		if (i < h)
			hint->prev[i] = n;
		else if (!hinted)
			hint->prev[i] = prev[i];
	}
}

lsm_skiplist_node *lsm_skiplist_first(const lsm_skiplist *sl)
{
	return atomic_load_explicit(&sl->head->next[0], memory_order_acquire);
}

lsm_skiplist_node *lsm_skiplist_seek(const lsm_skiplist *sl, const uint8_t *target, size_t target_len)
{
	uint8_t t[LSM_IKEY_LEN] = { 0 };
	/*
	 * A target shorter than a key bounds like the key padded with zeros; a
	 * longer one sorts after its first LSM_IKEY_LEN bytes, so the answer is
	 * the first key strictly greater than those.
	 */
	bool past = target_len > LSM_IKEY_LEN;
	lsm_skiplist_node *x = sl->head;
	lsm_skiplist_node *last = NULL;
	lsm_skiplist_node *next;
	int level = atomic_load_explicit(&((lsm_skiplist *)sl)->max_height, memory_order_relaxed) - 1;

	if (target_len)
		memcpy(t, target, target_len < LSM_IKEY_LEN ? target_len : LSM_IKEY_LEN);
	for (;;) {
		next = atomic_load_explicit(&x->next[level], memory_order_acquire);
		if (next && next != last && (past ? !key_less(t, next->key) : key_less(next->key, t))) {
			x = next;
			continue;
		}
		if (level == 0)
			break;
		last = next;
		level--;
	}
	return next;
}
