/*
 * test_block_cache.c — the sharded LRU block cache: hit and miss counts,
 * eviction by bytes in LRU order, pinning, replacement, erase_file, and a
 * deleter that runs exactly once per value.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lsm/block_cache.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define MAX_VALUES 20000

/* Values are small integers cast to pointers; deleted[v] counts deleter calls. */
static int deleted[MAX_VALUES];

static void count_deleter(void *value)
{
	uintptr_t v = (uintptr_t)value;

	assert_true(v < MAX_VALUES);
	deleted[v]++;
}

static void *val(uintptr_t v)
{
	return (void *)v;
}

static int setup(void **state)
{
	(void)state;
	memset(deleted, 0, sizeof deleted);
	return 0;
}

static lsm_cache *new_cache(size_t capacity, int shard_bits)
{
	lsm_cache *c;

	assert_int_equal(lsm_cache_new(&c, capacity, shard_bits), 0);
	assert_non_null(c);
	return c;
}

/* Inserts and releases at once. */
static void put(lsm_cache *c, uint64_t file, uint64_t off, uintptr_t v, size_t charge)
{
	lsm_cache_handle *h = lsm_cache_insert(c, file, off, val(v), charge, count_deleter);

	assert_non_null(h);
	assert_ptr_equal(lsm_cache_value(h), val(v));
	lsm_cache_release(c, h);
}

/* True when (file, off) is cached; a hit refreshes the entry's recency. */
static bool has(lsm_cache *c, uint64_t file, uint64_t off)
{
	lsm_cache_handle *h = lsm_cache_lookup(c, file, off);

	if (!h)
		return false;
	lsm_cache_release(c, h);
	return true;
}

static void test_block_cache_hit_miss_counts(void **state)
{
	lsm_cache *c = new_cache(1 << 20, 2);
	lsm_cache_handle *h;
	lsm_cache_stats st;

	(void)state;
	assert_null(lsm_cache_lookup(c, 1, 0));
	put(c, 1, 0, 1, 100);
	h = lsm_cache_lookup(c, 1, 0);
	assert_non_null(h);
	assert_ptr_equal(lsm_cache_value(h), val(1));
	lsm_cache_release(c, h);
	assert_null(lsm_cache_lookup(c, 1, 4096)); /* same file, other offset */
	assert_null(lsm_cache_lookup(c, 2, 0));    /* same offset, other file */
	assert_true(has(c, 1, 0));

	lsm_cache_get_stats(c, &st);
	assert_int_equal(st.hits, 2);
	assert_int_equal(st.misses, 3);
	assert_int_equal(st.inserts, 1);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(st.bytes, 100);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.capacity, 1 << 20);
	assert_int_equal(deleted[1], 0);
	lsm_cache_free(c);
	assert_int_equal(deleted[1], 1);
}

static void test_block_cache_evicts_lru_by_bytes(void **state)
{
	lsm_cache *c = new_cache(100, 0);
	lsm_cache_stats st;

	(void)state;
	for (uintptr_t i = 0; i < 10; i++)
		put(c, 7, i * 10, i, 10);
	lsm_cache_get_stats(c, &st);
	assert_int_equal(st.bytes, 100);
	assert_int_equal(st.evictions, 0);
	/* use 0 and 1 so that 2 becomes the oldest */
	assert_true(has(c, 7, 0));
	assert_true(has(c, 7, 10));
	/* 25 more bytes: the three least recently used (2, 3, 4) go, in that order */
	put(c, 7, 1000, 100, 25);
	for (uintptr_t i = 0; i < 10; i++)
		assert_int_equal(deleted[i], i >= 2 && i <= 4);
	assert_false(has(c, 7, 20));
	assert_false(has(c, 7, 40));
	assert_true(has(c, 7, 50));
	assert_true(has(c, 7, 1000));
	lsm_cache_get_stats(c, &st);
	assert_int_equal(st.evictions, 3);
	assert_int_equal(st.bytes, 95);
	assert_int_equal(st.entries, 8);
	/* one entry bigger than the whole cache: it empties the cache and then goes itself */
	put(c, 8, 0, 200, 500);
	lsm_cache_get_stats(c, &st);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.entries, 0);
	assert_int_equal(deleted[200], 1);
	lsm_cache_free(c);
	for (uintptr_t i = 0; i < 10; i++)
		assert_int_equal(deleted[i], 1);
	assert_int_equal(deleted[100], 1);
}

static void test_block_cache_pinned_survive_eviction(void **state)
{
	lsm_cache *c = new_cache(100, 0);
	lsm_cache_handle *pinned, *big;
	lsm_cache_stats st;

	(void)state;
	pinned = lsm_cache_insert(c, 1, 0, val(1), 40, count_deleter);
	assert_non_null(pinned);
	/* churn far past the budget: the pinned entry is never chosen */
	for (uintptr_t i = 0; i < 50; i++)
		put(c, 2, i, 100 + i, 30);
	assert_int_equal(deleted[1], 0);
	assert_ptr_equal(lsm_cache_value(pinned), val(1));
	assert_true(has(c, 1, 0));
	lsm_cache_get_stats(c, &st);
	assert_true(st.bytes <= 100);

	/* pinned entries may hold the shard over budget until released */
	big = lsm_cache_insert(c, 3, 0, val(3), 90, count_deleter);
	assert_non_null(big);
	lsm_cache_get_stats(c, &st);
	assert_int_equal(st.bytes, 130); /* every unpinned entry is gone */
	assert_int_equal(st.entries, 2);
	assert_int_equal(deleted[1], 0);
	assert_int_equal(deleted[3], 0);
	/* releasing brings it back under budget: the released (now oldest) goes */
	lsm_cache_release(c, pinned);
	assert_int_equal(deleted[1], 1);
	assert_int_equal(deleted[3], 0);
	lsm_cache_release(c, big);
	assert_int_equal(deleted[3], 0);
	assert_true(has(c, 3, 0));
	lsm_cache_free(c);
	assert_int_equal(deleted[3], 1);
	for (uintptr_t i = 0; i < 50; i++)
		assert_int_equal(deleted[100 + i], 1);
}

static void test_block_cache_replace(void **state)
{
	lsm_cache *c = new_cache(1000, 0);
	lsm_cache_handle *h1, *h2, *h;
	lsm_cache_stats st;

	(void)state;
	h1 = lsm_cache_insert(c, 5, 64, val(1), 100, count_deleter);
	h2 = lsm_cache_insert(c, 5, 64, val(2), 30, count_deleter);
	assert_non_null(h1);
	assert_non_null(h2);
	/* the old value stays valid for its holder */
	assert_int_equal(deleted[1], 0);
	assert_ptr_equal(lsm_cache_value(h1), val(1));
	h = lsm_cache_lookup(c, 5, 64);
	assert_ptr_equal(lsm_cache_value(h), val(2));
	lsm_cache_release(c, h);
	lsm_cache_get_stats(c, &st);
	assert_int_equal(st.bytes, 30);
	assert_int_equal(st.entries, 1);
	/* freed on its last release, and only then */
	lsm_cache_release(c, h1);
	assert_int_equal(deleted[1], 1);
	assert_int_equal(deleted[2], 0);
	lsm_cache_release(c, h2);
	/* replacing an unpinned entry frees the old value at once */
	put(c, 5, 64, 3, 30);
	assert_int_equal(deleted[2], 1);
	lsm_cache_free(c);
	assert_int_equal(deleted[1], 1);
	assert_int_equal(deleted[2], 1);
	assert_int_equal(deleted[3], 1);
}

static void test_block_cache_erase_file(void **state)
{
	lsm_cache *c = new_cache(1 << 20, 3);
	lsm_cache_handle *pinned;
	lsm_cache_stats st;

	(void)state;
	for (uintptr_t i = 0; i < 100; i++) {
		put(c, 1, i * 4096, i, 10);
		put(c, 2, i * 4096, 1000 + i, 10);
	}
	pinned = lsm_cache_lookup(c, 1, 0);
	assert_non_null(pinned);
	lsm_cache_erase_file(c, 1);
	/* unpinned entries of file 1 are freed, the pinned one lives on */
	assert_int_equal(deleted[0], 0);
	for (uintptr_t i = 1; i < 100; i++)
		assert_int_equal(deleted[i], 1);
	for (uintptr_t i = 0; i < 100; i++)
		assert_int_equal(deleted[1000 + i], 0);
	assert_ptr_equal(lsm_cache_value(pinned), val(0));
	/* no entry of file 1 can be found any more; file 2 is intact */
	for (uint64_t i = 0; i < 100; i++) {
		assert_false(has(c, 1, i * 4096));
		assert_true(has(c, 2, i * 4096));
	}
	lsm_cache_get_stats(c, &st);
	assert_int_equal(st.entries, 100);
	assert_int_equal(st.bytes, 1000);
	assert_int_equal(st.evictions, 0);
	lsm_cache_release(c, pinned);
	assert_int_equal(deleted[0], 1);
	/* erasing a file with nothing cached is harmless */
	lsm_cache_erase_file(c, 99);
	lsm_cache_free(c);
	for (uintptr_t i = 0; i < 100; i++)
		assert_int_equal(deleted[1000 + i], 1);
}

static void test_block_cache_capacity_split_over_shards(void **state)
{
	lsm_cache *c = new_cache(16 * 100, 4);
	lsm_cache_stats st;

	(void)state;
	for (uintptr_t i = 0; i < 5000; i++) {
		put(c, i % 3, i, i, 7);
		lsm_cache_get_stats(c, &st);
		/* each of the 16 shards holds at most its 100 bytes */
		assert_true(st.bytes <= 1600);
	}
	lsm_cache_get_stats(c, &st);
	/* most shards are near full: well over half the budget is in use */
	assert_true(st.bytes > 1200);
	assert_int_equal(st.entries * 7, st.bytes);
	assert_int_equal(st.inserts, 5000);
	assert_int_equal(st.evictions + st.entries, 5000);
	lsm_cache_free(c);
	for (uintptr_t i = 0; i < 5000; i++)
		assert_int_equal(deleted[i], 1);
}

static void test_block_cache_deleter_once_per_value(void **state)
{
	lsm_cache *c = new_cache(3000, 2);
	lsm_cache_handle *held[64] = { 0 };
	uint64_t x = 12345;
	uintptr_t next_value = 0;

	(void)state;
	/* random inserts over a small key space (many replacements), lookups,
	 * held handles released late, and erases */
	for (int round = 0; round < 20000; round++) {
		uint64_t r, file, off;
		int slot;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		r = x;
		file = r % 4;
		off = (r >> 8) % 64;
		slot = (int)((r >> 20) % 64);
		if (held[slot]) {
			lsm_cache_release(c, held[slot]);
			held[slot] = NULL;
		}
		switch ((r >> 32) % 8) {
		case 0: case 1: case 2:
			assert_true(next_value < MAX_VALUES);
			held[slot] = lsm_cache_insert(c, file, off, val(next_value++),
						      1 + (r >> 40) % 100, count_deleter);
			assert_non_null(held[slot]);
			break;
		case 7:
			if ((r >> 40) % 50 == 0)
				lsm_cache_erase_file(c, file);
			break;
		default:
			held[slot] = lsm_cache_lookup(c, file, off);
			if (held[slot])
				assert_true((uintptr_t)lsm_cache_value(held[slot]) < next_value);
			break;
		}
		if (held[slot])
			assert_int_equal(deleted[(uintptr_t)lsm_cache_value(held[slot])], 0);
	}
	for (int i = 0; i < 64; i++)
		if (held[i])
			lsm_cache_release(c, held[i]);
	lsm_cache_free(c);
	for (uintptr_t v = 0; v < next_value; v++)
		assert_int_equal(deleted[v], 1);
}

static void test_block_cache_null_deleter(void **state)
{
	lsm_cache *c = new_cache(10, 0);
	lsm_cache_handle *h;

	(void)state;
	h = lsm_cache_insert(c, 1, 1, val(1), 5, NULL);
	assert_non_null(h);
	lsm_cache_release(c, h);
	h = lsm_cache_insert(c, 1, 2, val(2), 50, NULL);
	lsm_cache_release(c, h);
	lsm_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_block_cache_hit_miss_counts, setup),
		cmocka_unit_test_setup(test_block_cache_evicts_lru_by_bytes, setup),
		cmocka_unit_test_setup(test_block_cache_pinned_survive_eviction, setup),
		cmocka_unit_test_setup(test_block_cache_replace, setup),
		cmocka_unit_test_setup(test_block_cache_erase_file, setup),
		cmocka_unit_test_setup(test_block_cache_capacity_split_over_shards, setup),
		cmocka_unit_test_setup(test_block_cache_deleter_once_per_value, setup),
		cmocka_unit_test_setup(test_block_cache_null_deleter, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
