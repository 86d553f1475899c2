/*
 * test_block_cache_concurrent.c — four threads doing random lookups, inserts,
 * releases and erases on a small sharded cache, holding several handles each.
 * Every value read through a handle must be whole and belong to its key, and
 * at the end every value ever inserted has been deleted exactly once. Built
 * with -fsanitize=thread it also checks the locking.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lsm/alloc.h"
#include "lsm/block_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define N_THREADS 4
#define OPS_PER_THREAD 40000
#define N_HELD 8
#define VALUE_MAGIC UINT64_C(0x5354524154414331)

struct value {
	uint64_t file_no;
	uint64_t offset;
	uint64_t magic;
	atomic_int deletes;
};

static atomic_long n_created;
static atomic_long n_deleted;
static atomic_long n_double_deletes;

static void value_deleter(void *p)
{
	struct value *v = p;

	if (atomic_fetch_add(&v->deletes, 1) != 0)
		atomic_fetch_add(&n_double_deletes, 1);
	v->magic = 0;
	atomic_fetch_add(&n_deleted, 1);
	strata_free(v);
}

struct worker {
	pthread_t thread;
	lsm_cache *cache;
	uint64_t seed;
	long bad_values; /* values that did not match their key */
	long hits;
	long inserts;
};

static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static bool check(const lsm_cache_handle *h, uint64_t file_no, uint64_t offset)
{
	const struct value *v = lsm_cache_value(h);

	return v && v->magic == VALUE_MAGIC && v->file_no == file_no && v->offset == offset;
}

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	lsm_cache_handle *held[N_HELD] = { 0 };
	uint64_t held_file[N_HELD] = { 0 }, held_off[N_HELD] = { 0 };
	uint64_t x = w->seed;

	for (int op = 0; op < OPS_PER_THREAD; op++) {
		uint64_t r = next_rand(&x);
		uint64_t file_no = r % 4, offset = (r >> 8) % 16 * 4096;
		int slot = (int)((r >> 24) % N_HELD);
		unsigned kind = (unsigned)((r >> 32) % 100);

		/* re-check a handle held for a while: still whole */
		if (held[slot]) {
			if (!check(held[slot], held_file[slot], held_off[slot]))
				w->bad_values++;
			lsm_cache_release(w->cache, held[slot]);
			held[slot] = NULL;
		}
		if (kind < 60) {
			held[slot] = lsm_cache_lookup(w->cache, file_no, offset);
			if (held[slot])
				w->hits++;
		} else if (kind < 95) {
			struct value *v = strata_malloc(sizeof *v);

			if (!v)
				continue;
			v->file_no = file_no;
			v->offset = offset;
			v->magic = VALUE_MAGIC;
			atomic_init(&v->deletes, 0);
			atomic_fetch_add(&n_created, 1);
			held[slot] = lsm_cache_insert(w->cache, file_no, offset, v,
						      100 + (r >> 40) % 400, value_deleter);
			w->inserts++;
		} else if (kind < 97) {
			lsm_cache_erase_file(w->cache, file_no);
		} else {
			lsm_cache_stats st;

			lsm_cache_get_stats(w->cache, &st);
		}
		if (held[slot]) {
			held_file[slot] = file_no;
			held_off[slot] = offset;
			if (!check(held[slot], file_no, offset))
				w->bad_values++;
		}
	}
	for (int i = 0; i < N_HELD; i++)
		if (held[i])
			lsm_cache_release(w->cache, held[i]);
	return NULL;
}

static void test_block_cache_concurrent_random_ops(void **state)
{
	struct worker workers[N_THREADS];
	lsm_cache *cache;
	lsm_cache_stats st;
	long hits = 0, inserts = 0;

	(void)state;
	atomic_store(&n_created, 0);
	atomic_store(&n_deleted, 0);
	atomic_store(&n_double_deletes, 0);
	/* about 20 average entries in 4 shards over a key space of 64: constant eviction */
	assert_int_equal(lsm_cache_new(&cache, 6000, 2), 0);
	for (int i = 0; i < N_THREADS; i++) {
		workers[i] = (struct worker){ .cache = cache, .seed = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1) };
		assert_int_equal(pthread_create(&workers[i].thread, NULL, run_worker, &workers[i]), 0);
	}
	for (int i = 0; i < N_THREADS; i++) {
		assert_int_equal(pthread_join(workers[i].thread, NULL), 0);
		assert_int_equal(workers[i].bad_values, 0);
		hits += workers[i].hits;
		inserts += workers[i].inserts;
	}
	lsm_cache_get_stats(cache, &st);
	print_message("inserts %ld, hits %ld, evictions %llu, entries %zu, bytes %zu\n",
		      inserts, hits, (unsigned long long)st.evictions, st.entries, st.bytes);
	assert_int_equal(st.inserts, (uint64_t)inserts);
	assert_int_equal(st.hits, (uint64_t)hits);
	assert_true(st.hits > 0);
	assert_true(st.evictions > 0);
	/* nothing is pinned now, so the budget holds (each shard's share rounded up) */
	assert_true(st.bytes <= 6000);
	/* values in the cache are the only ones not yet deleted */
	assert_int_equal(atomic_load(&n_created) - atomic_load(&n_deleted), (long)st.entries);
	lsm_cache_free(cache);
	assert_int_equal(atomic_load(&n_deleted), atomic_load(&n_created));
	assert_int_equal(atomic_load(&n_double_deletes), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block_cache_concurrent_random_ops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
