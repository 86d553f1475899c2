/*
 * test_memtable.c — the memtable, its skiplist and its arena.
 *
 * Order of internal keys (versions newest first, negative, zero and positive
 * timestamps), seek semantics (full, short and long targets, snapshot seeks),
 * values of many sizes, byte accounting, iterators pinning the memtable, and
 * large random and patterned insert runs checked against a sorted array, at
 * every level of the skiplist, with good, stale and wrong insert hints.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lsm/arena.h"
#include "lsm/batch.h"
#include "lsm/memtable.h"
#include "lsm/skiplist.h"
#include "lsm/status.h"

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* Deterministic value bytes for (seed, len). */
static void fill_value(uint8_t *buf, size_t len, uint64_t seed)
{
	uint64_t s = seed * UINT64_C(0x9E3779B97F4A7C15) + 1;

	for (size_t i = 0; i < len; i++) {
		if ((i & 7) == 0)
			rng_next(&s);
		buf[i] = (uint8_t)(s >> (8 * (i & 7)));
	}
}

static void check_value(const uint8_t *v, size_t len, uint64_t seed)
{
	uint8_t buf[256];

	assert_true(len <= sizeof(buf));
	fill_value(buf, len, seed);
	assert_memory_equal(v, buf, len);
}

static lsm_memtable *memtable_new(void)
{
	lsm_memtable *m = NULL;

	assert_int_equal(lsm_memtable_new(&m), 0);
	assert_non_null(m);
	return m;
}

static void add(lsm_memtable *m, uint64_t series, int64_t ts, uint64_t seq, enum lsm_kind kind,
		const void *v, size_t len)
{
	uint8_t ukey[LSM_UKEY_LEN];

	lsm_ukey_encode(ukey, series, ts);
	assert_int_equal(lsm_memtable_add(m, seq, kind, ukey, v, len), 0);
}

static void test_memtable_empty(void **state)
{
	(void)state;
	lsm_memtable *m = memtable_new();
	lsm_iter *it = lsm_memtable_iter_new(m);
	uint8_t k[LSM_IKEY_LEN] = { 0 };

	assert_non_null(it);
	assert_int_equal(lsm_memtable_count(m), 0);
	lsm_iter_seek_first(it);
	assert_false(lsm_iter_valid(it));
	lsm_iter_seek(it, k, sizeof(k));
	assert_false(lsm_iter_valid(it));
	lsm_iter_seek(it, NULL, 0);
	assert_false(lsm_iter_valid(it));
	assert_int_equal(lsm_iter_status(it), 0);
	lsm_iter_free(it);
	lsm_memtable_unref(m);
}

static void test_memtable_versions_newest_first(void **state)
{
	(void)state;
	lsm_memtable *m = memtable_new();
	const uint64_t seqs[] = { 5, 1, 9, 3, 7 };
	const uint64_t want[] = { 9, 7, 5, 3, 1 };
	const enum lsm_kind kinds[] = { LSM_KIND_PUT, LSM_KIND_PUT, LSM_KIND_DELETE, LSM_KIND_MERGE, LSM_KIND_PUT };
	lsm_iter *it;
	size_t n = 0;

	/* Neighbours on both sides, so the versions sit in the middle. */
	add(m, 7, 99, 100, LSM_KIND_PUT, "b", 1);
	add(m, 7, 101, 101, LSM_KIND_PUT, "a", 1);
	for (size_t i = 0; i < 5; i++) {
		char v[8];

		snprintf(v, sizeof(v), "v%llu", (unsigned long long)seqs[i]);
		add(m, 7, 100, seqs[i], kinds[i], v, strlen(v));
	}
	assert_int_equal(lsm_memtable_count(m), 7);

	it = lsm_memtable_iter_new(m);
	assert_non_null(it);
	lsm_iter_seek_first(it);
	assert_true(lsm_iter_valid(it));
	assert_int_equal(lsm_ukey_ts(lsm_iter_key(it, &(size_t){ 0 })), 99);
	lsm_iter_next(it);
	for (; n < 5; n++, lsm_iter_next(it)) {
		size_t klen, vlen;
		const uint8_t *k, *v;
		char expect[8];

		assert_true(lsm_iter_valid(it));
		k = lsm_iter_key(it, &klen);
		v = lsm_iter_value(it, &vlen);
		assert_int_equal(klen, LSM_IKEY_LEN);
		assert_int_equal(lsm_ukey_series(k), 7);
		assert_int_equal(lsm_ukey_ts(k), 100);
		assert_int_equal(lsm_ikey_seq(k), want[n]);
		for (size_t j = 0; j < 5; j++)
			if (seqs[j] == want[n])
				assert_int_equal(lsm_ikey_kind(k), kinds[j]);
		snprintf(expect, sizeof(expect), "v%llu", (unsigned long long)want[n]);
		assert_int_equal(vlen, strlen(expect));
		assert_memory_equal(v, expect, vlen);
	}
	assert_true(lsm_iter_valid(it));
	assert_int_equal(lsm_ukey_ts(lsm_iter_key(it, &(size_t){ 0 })), 101);
	lsm_iter_next(it);
	assert_false(lsm_iter_valid(it));
	lsm_iter_free(it);
	lsm_memtable_unref(m);
}

static void test_memtable_timestamp_order(void **state)
{
	(void)state;
	const int64_t ts[] = { INT64_MIN, INT64_MIN + 1, -1000000000, -1, 0, 1, 1000000000, INT64_MAX - 1, INT64_MAX };
	const uint64_t series[] = { 0, 1, 0x00ff00ff00ff00ffull, UINT64_MAX };
	const size_t n_ts = sizeof(ts) / sizeof(ts[0]), n_series = sizeof(series) / sizeof(series[0]);
	lsm_memtable *m = memtable_new();
	uint64_t rng = 42, seq = 1;
	size_t order[64], n = n_ts * n_series, seen = 0;
	lsm_iter *it;

	/* Insert in a shuffled order. */
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = rng_next(&rng) % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (size_t i = 0; i < n; i++)
		add(m, series[order[i] / n_ts], ts[order[i] % n_ts], seq++, LSM_KIND_PUT, &order[i], sizeof(order[i]));

	it = lsm_memtable_iter_new(m);
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), seen++) {
		size_t klen, vlen;
		const uint8_t *k = lsm_iter_key(it, &klen);
		const uint8_t *v = lsm_iter_value(it, &vlen);

		assert_true(seen < n);
		assert_int_equal(lsm_ukey_series(k), series[seen / n_ts]);
		assert_int_equal(lsm_ukey_ts(k), ts[seen % n_ts]);
		assert_int_equal(vlen, sizeof(size_t));
		assert_memory_equal(v, &seen, sizeof(size_t));
	}
	assert_int_equal(seen, n);
	lsm_iter_free(it);
	lsm_memtable_unref(m);
}

static void assert_at(lsm_iter *it, uint64_t series, int64_t ts, uint64_t seq)
{
	size_t klen;
	const uint8_t *k;

	assert_true(lsm_iter_valid(it));
	k = lsm_iter_key(it, &klen);
	assert_int_equal(klen, LSM_IKEY_LEN);
	assert_int_equal(lsm_ukey_series(k), series);
	assert_int_equal(lsm_ukey_ts(k), ts);
	assert_int_equal(lsm_ikey_seq(k), seq);
}

static void test_memtable_seek(void **state)
{
	(void)state;
	lsm_memtable *m = memtable_new();
	lsm_iter *it;
	uint8_t ukey[LSM_UKEY_LEN], target[LSM_IKEY_LEN + 4];

	/* series 1: ts -5 (seq 10), ts 0 (seqs 20, 30, 40), ts 5 (seq 50); series 3: ts 0 (seq 60) */
	add(m, 1, -5, 10, LSM_KIND_PUT, "a", 1);
	add(m, 1, 0, 30, LSM_KIND_PUT, "c", 1);
	add(m, 1, 0, 20, LSM_KIND_PUT, "b", 1);
	add(m, 1, 0, 40, LSM_KIND_DELETE, NULL, 0);
	add(m, 1, 5, 50, LSM_KIND_PUT, "e", 1);
	add(m, 3, 0, 60, LSM_KIND_PUT, "f", 1);
	it = lsm_memtable_iter_new(m);

	/* An exact internal key. */
	lsm_ukey_encode(ukey, 1, 0);
	lsm_ikey_encode(target, ukey, 30, LSM_KIND_PUT);
	lsm_iter_seek(it, target, LSM_IKEY_LEN);
	assert_at(it, 1, 0, 30);
	lsm_iter_next(it);
	assert_at(it, 1, 0, 20);

	/* Snapshot seeks land on the newest version at or below the snapshot. */
	lsm_ikey_seek_key(target, ukey, 35);
	lsm_iter_seek(it, target, LSM_IKEY_LEN);
	assert_at(it, 1, 0, 30);
	lsm_ikey_seek_key(target, ukey, 40);
	lsm_iter_seek(it, target, LSM_IKEY_LEN);
	assert_at(it, 1, 0, 40);
	assert_int_equal(lsm_ikey_kind(lsm_iter_key(it, &(size_t){ 0 })), LSM_KIND_DELETE);
	lsm_ikey_seek_key(target, ukey, LSM_SEQ_MAX);
	lsm_iter_seek(it, target, LSM_IKEY_LEN);
	assert_at(it, 1, 0, 40);
	/* Below every version of the key: the next user key. */
	lsm_ikey_seek_key(target, ukey, 19);
	lsm_iter_seek(it, target, LSM_IKEY_LEN);
	assert_at(it, 1, 5, 50);

	/* Between user keys. */
	lsm_ukey_encode(ukey, 1, 2);
	lsm_ikey_seek_key(target, ukey, LSM_SEQ_MAX);
	lsm_iter_seek(it, target, LSM_IKEY_LEN);
	assert_at(it, 1, 5, 50);
	lsm_ukey_encode(ukey, 2, INT64_MIN);
	lsm_ikey_seek_key(target, ukey, LSM_SEQ_MAX);
	lsm_iter_seek(it, target, LSM_IKEY_LEN);
	assert_at(it, 3, 0, 60);

	/* Before everything and past everything. */
	memset(target, 0, sizeof(target));
	lsm_iter_seek(it, target, LSM_IKEY_LEN);
	assert_at(it, 1, -5, 10);
	memset(target, 0xff, sizeof(target));
	lsm_iter_seek(it, target, LSM_IKEY_LEN);
	assert_false(lsm_iter_valid(it));
	lsm_ukey_encode(ukey, 3, 1);
	lsm_ikey_seek_key(target, ukey, LSM_SEQ_MAX);
	lsm_iter_seek(it, target, LSM_IKEY_LEN);
	assert_false(lsm_iter_valid(it));

	/* Short targets are prefix bounds: a series id, a user key, nothing. */
	lsm_put_be64(target, 1);
	lsm_iter_seek(it, target, 8);
	assert_at(it, 1, -5, 10);
	lsm_put_be64(target, 2);
	lsm_iter_seek(it, target, 8);
	assert_at(it, 3, 0, 60);
	lsm_ukey_encode(ukey, 1, 0);
	lsm_iter_seek(it, ukey, LSM_UKEY_LEN);
	assert_at(it, 1, 0, 40);
	lsm_iter_seek(it, NULL, 0);
	assert_at(it, 1, -5, 10);

	/* A longer target sorts after its 24-byte prefix. */
	lsm_ikey_encode(target, ukey, 30, LSM_KIND_PUT);
	memset(target + LSM_IKEY_LEN, 0, 4);
	lsm_iter_seek(it, target, LSM_IKEY_LEN + 1);
	assert_at(it, 1, 0, 20);

	/* Re-seeking backwards works from any position. */
	lsm_iter_seek_first(it);
	assert_at(it, 1, -5, 10);
	lsm_iter_free(it);
	lsm_memtable_unref(m);
}

static void test_memtable_value_sizes(void **state)
{
	(void)state;
	const size_t sizes[] = { 0, 1, 2, 7, 8, 9, 15, 16, 17, 100, 255, 4095, 4096, 65536,
				 (1u << 18) - 100, (1u << 18), (1u << 18) + 1, 1u << 20, (1u << 20) + 1, 3u << 20 };
	const size_t n = sizeof(sizes) / sizeof(sizes[0]);
	lsm_memtable *m = memtable_new();
	uint8_t *buf = malloc(3u << 20), *expect = malloc(3u << 20);
	lsm_iter *it;
	size_t i = 0;

	assert_non_null(buf);
	assert_non_null(expect);
	for (size_t j = 0; j < n; j++) {
		fill_value(buf, sizes[j], j);
		/* A zero-length value may come with a NULL pointer. */
		add(m, 9, (int64_t)j, j + 1, LSM_KIND_PUT, sizes[j] ? buf : NULL, sizes[j]);
	}
	it = lsm_memtable_iter_new(m);
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), i++) {
		size_t vlen;
		const uint8_t *v = lsm_iter_value(it, &vlen);

		assert_true(i < n);
		assert_int_equal(lsm_ukey_ts(lsm_iter_key(it, &(size_t){ 0 })), (int64_t)i);
		assert_int_equal(vlen, sizes[i]);
		assert_non_null(v);
		fill_value(expect, sizes[i], i);
		assert_memory_equal(v, expect, vlen);
	}
	assert_int_equal(i, n);
	lsm_iter_free(it);
	lsm_memtable_unref(m);
	free(buf);
	free(expect);
}

static void test_memtable_bytes_grow(void **state)
{
	(void)state;
	lsm_memtable *m = memtable_new();
	size_t prev = lsm_memtable_bytes(m), start = prev;
	uint8_t big[1 << 16];

	assert_true(prev > 0); /* the head node */
	for (int i = 0; i < 50000; i++) {
		size_t now;

		add(m, 1, i, (uint64_t)i + 1, LSM_KIND_PUT, "0123456789", 10);
		now = lsm_memtable_bytes(m);
		/* Every entry costs at least its key and value. */
		assert_true(now >= prev + LSM_IKEY_LEN + 10);
		prev = now;
	}
	assert_int_equal(lsm_memtable_count(m), 50000);
	assert_true(prev - start >= 50000u * (LSM_IKEY_LEN + 10));
	/* Not wildly more than what was stored: the accounting follows use, not a guess. */
	assert_true(prev - start <= 50000u * 128 + 2 * LSM_ARENA_BLOCK_BYTES);

	memset(big, 'x', sizeof(big));
	for (int i = 0; i < 40; i++) {
		add(m, 2, i, 100000 + (uint64_t)i, LSM_KIND_PUT, big, sizeof(big));
		assert_true(lsm_memtable_bytes(m) >= prev + sizeof(big));
		prev = lsm_memtable_bytes(m);
	}
	lsm_memtable_unref(m);
}

static void test_memtable_iter_pins(void **state)
{
	(void)state;
	lsm_memtable *m = memtable_new();
	lsm_iter *a, *b;
	size_t n = 0;

	for (int i = 0; i < 1000; i++)
		add(m, 4, i, (uint64_t)i + 1, LSM_KIND_PUT, &i, sizeof(i));
	a = lsm_memtable_iter_new(m);
	b = lsm_memtable_iter_new(m);
	assert_non_null(a);
	assert_non_null(b);
	lsm_memtable_ref(m);
	lsm_memtable_unref(m);
	/* The engine's reference goes; both iterators keep the memtable alive. */
	lsm_memtable_unref(m);
	lsm_iter_seek_first(b);
	lsm_iter_free(b);
	for (lsm_iter_seek_first(a); lsm_iter_valid(a); lsm_iter_next(a), n++) {
		size_t vlen;
		const uint8_t *v = lsm_iter_value(a, &vlen);
		int i = (int)n;

		assert_int_equal(vlen, sizeof(int));
		assert_memory_equal(v, &i, sizeof(int));
	}
	assert_int_equal(n, 1000);
	/* Frees the memtable: the sanitizer build reports a leak or a bad free otherwise. */
	lsm_iter_free(a);
}

static void test_memtable_limits(void **state)
{
	(void)state;
	lsm_memtable *m = memtable_new();
	uint8_t ukey[LSM_UKEY_LEN];

	lsm_ukey_encode(ukey, 1, 1);
	/* The length is checked before any byte is read. */
	assert_int_equal(lsm_memtable_add(m, 1, LSM_KIND_PUT, ukey, ukey, (size_t)LSM_VALUE_MAX + 1), STRATA_ETOOBIG);
	assert_int_equal(lsm_memtable_add(m, LSM_SEQ_MAX + 1, LSM_KIND_PUT, ukey, "x", 1), STRATA_EINVAL);
	assert_int_equal(lsm_memtable_count(m), 0);
	assert_int_equal(lsm_memtable_add(m, LSM_SEQ_MAX, LSM_KIND_PUT, ukey, "x", 1), 0);
	assert_int_equal(lsm_memtable_count(m), 1);
	lsm_memtable_unref(m);
}

struct entry {
	uint8_t key[LSM_IKEY_LEN];
	uint64_t id;
};

static int entry_cmp(const void *a, const void *b)
{
	return memcmp(((const struct entry *)a)->key, ((const struct entry *)b)->key, LSM_IKEY_LEN);
}

/* Index of the first entry whose key is >= target (target_len <= LSM_IKEY_LEN). */
static size_t lower_bound(const struct entry *e, size_t n, const uint8_t *target, size_t target_len)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(e[mid].key, target, target_len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Inserts e[0..n) in that order (value derived from id), then checks everything against the sorted array. */
static void check_against_sorted(struct entry *e, size_t n, uint64_t seed)
{
	lsm_memtable *m = memtable_new();
	lsm_iter *it;
	uint8_t val[64];
	size_t i = 0;

	for (size_t j = 0; j < n; j++) {
		size_t len = e[j].id % 41;

		fill_value(val, len, e[j].id);
		assert_int_equal(lsm_memtable_add(m, lsm_ikey_seq(e[j].key), lsm_ikey_kind(e[j].key), e[j].key, val, len), 0);
	}
	assert_int_equal(lsm_memtable_count(m), n);
	qsort(e, n, sizeof(*e), entry_cmp);

	it = lsm_memtable_iter_new(m);
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), i++) {
		size_t klen, vlen;
		const uint8_t *k = lsm_iter_key(it, &klen);
		const uint8_t *v = lsm_iter_value(it, &vlen);

		assert_true(i < n);
		assert_int_equal(klen, LSM_IKEY_LEN);
		assert_memory_equal(k, e[i].key, LSM_IKEY_LEN);
		assert_int_equal(vlen, e[i].id % 41);
		check_value(v, vlen, e[i].id);
	}
	assert_int_equal(i, n);

	/* Random seeks: at existing keys, between them, and with short targets. */
	for (int s = 0; s < 20000; s++) {
		uint8_t t[LSM_IKEY_LEN];
		size_t tlen, want;

		switch (rng_next(&seed) % 4) {
		case 0:
			memcpy(t, e[rng_next(&seed) % n].key, LSM_IKEY_LEN);
			tlen = LSM_IKEY_LEN;
			break;
		case 1:
			memcpy(t, e[rng_next(&seed) % n].key, LSM_IKEY_LEN);
			t[LSM_IKEY_LEN - 1 - rng_next(&seed) % 12] ^= (uint8_t)(1 + rng_next(&seed) % 255);
			tlen = LSM_IKEY_LEN;
			break;
		case 2:
			memcpy(t, e[rng_next(&seed) % n].key, LSM_IKEY_LEN);
			tlen = (rng_next(&seed) & 1) ? LSM_UKEY_LEN : 8;
			break;
		default:
			for (size_t b = 0; b < LSM_IKEY_LEN; b++)
				t[b] = (uint8_t)rng_next(&seed);
			tlen = LSM_IKEY_LEN;
			break;
		}
		want = lower_bound(e, n, t, tlen);
		lsm_iter_seek(it, t, tlen);
		if (want == n) {
			assert_false(lsm_iter_valid(it));
			continue;
		}
		assert_true(lsm_iter_valid(it));
		assert_memory_equal(lsm_iter_key(it, &(size_t){ 0 }), e[want].key, LSM_IKEY_LEN);
	}
	lsm_iter_free(it);
	lsm_memtable_unref(m);
}

static void make_key(struct entry *e, uint64_t series, int64_t ts, uint64_t seq, uint64_t id)
{
	uint8_t ukey[LSM_UKEY_LEN];

	lsm_ukey_encode(ukey, series, ts);
	lsm_ikey_encode(e->key, ukey, seq, (enum lsm_kind)(id % 3));
	e->id = id;
}

static uint64_t mix_series(uint64_t i)
{
	return (i + 1) * UINT64_C(0x9E3779B97F4A7C15);
}

static void test_memtable_random_100k(void **state)
{
	(void)state;
	const size_t n = 100000;
	struct entry *e = calloc(n, sizeof(*e));
	uint64_t rng = 7;

	assert_non_null(e);
	/* Few series and a narrow time range, so many user keys repeat with several versions. */
	for (size_t i = 0; i < n; i++)
		make_key(&e[i], rng_next(&rng) % 50, (int64_t)(rng_next(&rng) % 4000) - 2000, i + 1, i);
	check_against_sorted(e, n, 11);
	free(e);
}

static void test_memtable_insert_patterns(void **state)
{
	(void)state;
	const size_t n = 30000;
	struct entry *e = calloc(n, sizeof(*e));
	uint64_t rng = 99;

	assert_non_null(e);
	/* Ascending timestamps of one series. */
	for (size_t i = 0; i < n; i++)
		make_key(&e[i], 5, (int64_t)i - 1000, i + 1, i);
	check_against_sorted(e, n, 1);
	/* Descending. */
	for (size_t i = 0; i < n; i++)
		make_key(&e[i], 5, (int64_t)(n - i), i + 1, i);
	check_against_sorted(e, n, 2);
	/* Round robin over 100 series, each ascending in time: what ingest sees. */
	for (size_t i = 0; i < n; i++)
		make_key(&e[i], (i % 100) * 1000003, (int64_t)(i / 100) * 10, i + 1, i);
	check_against_sorted(e, n, 3);
	/* More series than the memtable's hint table holds at first: hints are evicted and regrown. */
	for (size_t i = 0; i < n; i++)
		make_key(&e[i], mix_series(i % 5000), (int64_t)(i / 5000), i + 1, i);
	check_against_sorted(e, n, 6);
	/* Interleaved series with late points (older than the series' last) now and then. */
	for (size_t i = 0; i < n; i++) {
		int64_t ts = (int64_t)(i / 50) * 10;

		if (rng_next(&rng) % 10 == 0)
			ts -= (int64_t)(rng_next(&rng) % 1000);
		make_key(&e[i], i % 50, ts, i + 1, i);
	}
	check_against_sorted(e, n, 7);
	/* One key rewritten over and over: versions arrive newest last, sort newest first. */
	for (size_t i = 0; i < n; i++)
		make_key(&e[i], 1, i % 3, i + 1, i);
	check_against_sorted(e, n, 4);
	/* Ascending runs of random length starting at random places. */
	for (size_t i = 0; i < n;) {
		uint64_t series = rng_next(&rng) % 20;
		int64_t ts = (int64_t)(rng_next(&rng) % 100000);
		size_t run = 1 + rng_next(&rng) % 200;

		for (size_t j = 0; j < run && i < n; j++, i++)
			make_key(&e[i], series, ts + (int64_t)j, i + 1, i);
	}
	check_against_sorted(e, n, 5);
	free(e);
}

/* White box: every level of the skiplist is sorted and a sub-list of the one below. */
static void check_levels(lsm_skiplist *sl, size_t n)
{
	int max = atomic_load(&sl->max_height);
	size_t count0 = 0;

	assert_true(max >= 1 && max <= LSM_SKIPLIST_MAX_HEIGHT);
	for (int level = 0; level < LSM_SKIPLIST_MAX_HEIGHT; level++) {
		lsm_skiplist_node *x = atomic_load(&sl->head->next[level]);
		lsm_skiplist_node *below = atomic_load(&sl->head->next[level ? level - 1 : 0]);
		lsm_skiplist_node *prev = NULL;
		size_t count = 0;

		if (level >= max)
			assert_null(x);
		for (; x; prev = x, x = atomic_load(&x->next[level])) {
			assert_true(count++ < n);
			assert_true((int)x->height > level);
			if (prev)
				assert_true(memcmp(prev->key, x->key, LSM_IKEY_LEN) < 0);
			if (level > 0) {
				/* x appears on the level below, after the previous node. */
				while (below && below != x)
					below = atomic_load(&below->next[level - 1]);
				assert_ptr_equal(below, x);
			}
		}
		if (level == 0)
			count0 = count;
	}
	assert_int_equal(count0, n);
}

static void test_memtable_skiplist_levels(void **state)
{
	(void)state;
	const size_t n = 20000;
	lsm_arena arena;
	lsm_skiplist sl;
	uint64_t rng = 3;
	int max_height_seen = 0;

	for (int pattern = 0; pattern < 4; pattern++) {
		lsm_arena_init(&arena);
		assert_int_equal(lsm_skiplist_init(&sl, &arena), 0);
		for (size_t i = 0; i < n; i++) {
			struct entry e;
			lsm_skiplist_node *node;

			switch (pattern) {
			case 0: make_key(&e, 1, (int64_t)i, 1, i); break;
			case 1: make_key(&e, 1, -(int64_t)i, 1, i); break;
			case 2: make_key(&e, i % 37, (int64_t)(i / 37), 1, i); break;
			default: make_key(&e, rng_next(&rng) % 1000, (int64_t)rng_next(&rng), i + 1, i); break;
			}
			node = lsm_skiplist_node_new(&sl, e.key, 8);
			assert_non_null(node);
			memcpy(lsm_skiplist_node_extra(node), &e.id, 8);
			lsm_skiplist_insert(&sl, node, NULL);
		}
		check_levels(&sl, n);
		if (atomic_load(&sl.max_height) > max_height_seen)
			max_height_seen = atomic_load(&sl.max_height);
		lsm_arena_deinit(&arena);
	}
	/* With branching 4, 20000 nodes reach well above level 4. */
	assert_true(max_height_seen >= 5);
}

static void skiplist_add(lsm_skiplist *sl, uint64_t series, int64_t ts, uint64_t seq, lsm_skiplist_hint *hint)
{
	struct entry e;
	lsm_skiplist_node *node;

	make_key(&e, series, ts, seq, seq);
	node = lsm_skiplist_node_new(sl, e.key, 0);
	assert_non_null(node);
	lsm_skiplist_insert(sl, node, hint);
}

static void test_memtable_skiplist_hints(void **state)
{
	(void)state;
	enum { N_SERIES = 300, ROUNDS = 100, N = N_SERIES * ROUNDS };
	static lsm_skiplist_hint hints[N_SERIES];
	lsm_arena arena;
	lsm_skiplist sl;
	uint64_t rng = 17;

	/* One hint per series, series interleaved: nearly every insert is placed from its hint. */
	lsm_arena_init(&arena);
	assert_int_equal(lsm_skiplist_init(&sl, &arena), 0);
	memset(hints, 0, sizeof(hints));
	for (size_t i = 0; i < N; i++)
		skiplist_add(&sl, i % N_SERIES, (int64_t)(i / N_SERIES), i + 1, &hints[i % N_SERIES]);
	check_levels(&sl, N);
	/* All but the first round, and the rare nodes taller than a hint, minus a margin. */
	assert_true(sl.n_hinted >= (uint64_t)(N - N_SERIES) * 9 / 10);
	lsm_arena_deinit(&arena);

	/* Hints of the wrong series (before or after the key, near or far) only cost a search. */
	lsm_arena_init(&arena);
	assert_int_equal(lsm_skiplist_init(&sl, &arena), 0);
	memset(hints, 0, sizeof(hints));
	for (size_t i = 0; i < N; i++) {
		size_t s = i % N_SERIES;
		size_t h = rng_next(&rng) % 4 ? s : rng_next(&rng) % N_SERIES;

		skiplist_add(&sl, s, (int64_t)(rng_next(&rng) % 50000), i + 1, &hints[h]);
	}
	check_levels(&sl, N);
	lsm_arena_deinit(&arena);

	/*
	 * Few series, narrow time ranges, hints picked at random: hints often
	 * sit just before another series' keys, and later keys of that series
	 * land on both sides of the hint's successor.
	 */
	for (int round = 0; round < 20; round++) {
		lsm_arena_init(&arena);
		assert_int_equal(lsm_skiplist_init(&sl, &arena), 0);
		memset(hints, 0, sizeof(hints));
		for (size_t i = 0; i < 2000; i++)
			skiplist_add(&sl, rng_next(&rng) % 4, (int64_t)(rng_next(&rng) % 64), i + 1,
				     &hints[rng_next(&rng) % 3]);
		check_levels(&sl, 2000);
		lsm_arena_deinit(&arena);
	}

	/* No hint: the list's own (the previous insert) makes an ascending load cheap. */
	lsm_arena_init(&arena);
	assert_int_equal(lsm_skiplist_init(&sl, &arena), 0);
	for (size_t i = 0; i < N; i++)
		skiplist_add(&sl, 1, (int64_t)i, i + 1, NULL);
	check_levels(&sl, N);
	assert_true(sl.n_hinted >= (uint64_t)N * 9 / 10);
	lsm_arena_deinit(&arena);
}

static void test_memtable_arena(void **state)
{
	(void)state;
	lsm_arena a;
	uint8_t *ptrs[2000];
	size_t lens[2000];
	uint64_t rng = 5;
	size_t total = 0;

	lsm_arena_init(&a);
	assert_int_equal(lsm_arena_bytes(&a), 0);
	for (size_t i = 0; i < 2000; i++) {
		size_t align = (size_t)1 << (rng_next(&rng) % 8); /* 1 .. 128 */
		size_t len;

		if (i % 500 == 7)
			len = LSM_ARENA_BLOCK_BYTES / 4 + 1 + i; /* a block of its own */
		else
			len = 1 + rng_next(&rng) % 3000;
		ptrs[i] = lsm_arena_alloc_aligned(&a, len, align);
		assert_non_null(ptrs[i]);
		assert_int_equal((uintptr_t)ptrs[i] % align, 0);
		lens[i] = len;
		memset(ptrs[i], (int)(i & 0xff), len);
		total += len;
		assert_true(lsm_arena_bytes(&a) >= total);
	}
	/* Nothing overlapped: every allocation still holds its own byte. */
	for (size_t i = 0; i < 2000; i++)
		for (size_t j = 0; j < lens[i]; j++)
			if (ptrs[i][j] != (uint8_t)(i & 0xff))
				fail_msg("allocation %zu byte %zu overwritten", i, j);
	/* Big allocations did not abandon the current block: little waste. */
	assert_true(lsm_arena_bytes(&a) <= total + 2000 * 128 + 2 * LSM_ARENA_BLOCK_BYTES);
	assert_non_null(lsm_arena_alloc(&a, 1));
	assert_null(lsm_arena_alloc(&a, SIZE_MAX - 8));
	lsm_arena_deinit(&a);
	assert_int_equal(lsm_arena_bytes(&a), 0);
	/* Usable again after deinit. */
	assert_non_null(lsm_arena_alloc(&a, 10));
	lsm_arena_deinit(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memtable_empty),
		cmocka_unit_test(test_memtable_versions_newest_first),
		cmocka_unit_test(test_memtable_timestamp_order),
		cmocka_unit_test(test_memtable_seek),
		cmocka_unit_test(test_memtable_value_sizes),
		cmocka_unit_test(test_memtable_bytes_grow),
		cmocka_unit_test(test_memtable_iter_pins),
		cmocka_unit_test(test_memtable_limits),
		cmocka_unit_test(test_memtable_random_100k),
		cmocka_unit_test(test_memtable_insert_patterns),
		cmocka_unit_test(test_memtable_skiplist_levels),
		cmocka_unit_test(test_memtable_skiplist_hints),
		cmocka_unit_test(test_memtable_arena),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
