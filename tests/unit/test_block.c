/*
 * test_block.c — block builder and reader: round trips, seeks, and damaged
 * blocks (hand-made and randomly flipped or truncated) that must be reported,
 * never crash. Run under ASan: every block is copied into a heap buffer of
 * exactly its size, so any read past it is caught.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lsm/alloc.h"
#include "lsm/block.h"
#include "lsm/block_builder.h"
#include "lsm/coding.h"
#include "lsm/key.h"
#include "lsm/status.h"

#include <stdio.h>
#include <string.h>

struct kv {
	uint8_t *key;
	size_t key_len;
	uint8_t *value;
	size_t value_len;
};

struct kvset {
	struct kv *e;
	size_t n;
};

static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static int cmp_bytes(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
	size_t n = a_len < b_len ? a_len : b_len;
	int c = n ? memcmp(a, b, n) : 0;

	if (c)
		return c;
	return a_len < b_len ? -1 : a_len > b_len;
}

static int cmp_kv(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;

	return cmp_bytes(x->key, x->key_len, y->key, y->key_len);
}

/*
 * A sorted set of distinct keys of three shapes: 24-byte internal keys of a
 * few series, keys behind a 300-byte common prefix, and short random keys.
 * Values: a third empty, the rest 1..100 bytes. With with_empty_key the empty
 * key is in the set too (it sorts first).
 */
static void kvset_make(struct kvset *s, size_t n, bool with_empty_key)
{
	size_t out = 0;

	s->e = calloc(n + 1, sizeof *s->e);
	assert_non_null(s->e);
	for (size_t i = 0; i < n; i++) {
		struct kv *e = &s->e[i];
		uint64_t shape = rng() % 3;

		if (shape == 0) {
			uint8_t ukey[LSM_UKEY_LEN];

			e->key_len = LSM_IKEY_LEN;
			e->key = malloc(e->key_len);
			lsm_ukey_encode(ukey, rng() % 4, (int64_t)(rng() % 100000) - 50000);
			lsm_ikey_encode(e->key, ukey, rng() % 1000, LSM_KIND_PUT);
		} else if (shape == 1) {
			size_t suffix = rng() % 20;

			e->key_len = 300 + suffix;
			e->key = malloc(e->key_len);
			memset(e->key, 'p', 300);
			for (size_t j = 0; j < suffix; j++)
				e->key[300 + j] = (uint8_t)('a' + rng() % 3);
		} else {
			e->key_len = 1 + rng() % 12;
			e->key = malloc(e->key_len);
			for (size_t j = 0; j < e->key_len; j++)
				e->key[j] = (uint8_t)('q' + rng() % 4);
		}
		assert_non_null(e->key);
		e->value_len = rng() % 3 == 0 ? 0 : 1 + rng() % 100;
		e->value = malloc(e->value_len ? e->value_len : 1);
		assert_non_null(e->value);
		for (size_t j = 0; j < e->value_len; j++)
			e->value[j] = (uint8_t)rng();
	}
	if (with_empty_key) {
		s->e[n].key = malloc(1);
		s->e[n].key_len = 0;
		s->e[n].value = malloc(1);
		s->e[n].value_len = 0;
		n++;
	}
	qsort(s->e, n, sizeof *s->e, cmp_kv);
	for (size_t i = 0; i < n; i++) {
		if (out > 0 && cmp_kv(&s->e[out - 1], &s->e[i]) == 0) {
			free(s->e[i].key);
			free(s->e[i].value);
			continue;
		}
		s->e[out++] = s->e[i];
	}
	s->n = out;
}

static void kvset_free(struct kvset *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->e[i].key);
		free(s->e[i].value);
	}
	free(s->e);
}

/* Builds the set into a block; returns a heap copy of exactly its size. */
static uint8_t *build(const struct kvset *s, int restart_interval, size_t *out_len)
{
	lsm_block_builder bb;
	const uint8_t *bytes;
	size_t len, estimate;
	uint8_t *copy;

	lsm_block_builder_init(&bb, restart_interval);
	for (size_t i = 0; i < s->n; i++)
		assert_int_equal(lsm_block_builder_add(&bb, s->e[i].key, s->e[i].key_len,
						       s->e[i].value, s->e[i].value_len), 0);
	estimate = lsm_block_builder_size(&bb);
	assert_int_equal(lsm_block_builder_finish(&bb, &bytes, &len), 0);
	assert_int_equal(len, estimate);
	copy = strata_malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, bytes, len);
	lsm_block_builder_deinit(&bb);
	*out_len = len;
	return copy;
}

static lsm_block *open_block(const struct kvset *s, int restart_interval)
{
	lsm_block *b;
	size_t len;
	uint8_t *data = build(s, restart_interval, &len);

	assert_int_equal(lsm_block_new(&b, data, len), 0);
	assert_true(lsm_block_charge(b) >= len);
	return b;
}

static void assert_at(lsm_iter *it, const struct kv *e)
{
	const uint8_t *k, *v;
	size_t k_len, v_len;

	assert_true(lsm_iter_valid(it));
	k = lsm_iter_key(it, &k_len);
	v = lsm_iter_value(it, &v_len);
	assert_int_equal(k_len, e->key_len);
	assert_int_equal(v_len, e->value_len);
	if (k_len)
		assert_memory_equal(k, e->key, k_len);
	if (v_len)
		assert_memory_equal(v, e->value, v_len);
}

static void check_round_trip(int restart_interval, bool with_empty_key)
{
	struct kvset s;
	lsm_block *b;
	lsm_iter *it;
	size_t i = 0;

	kvset_make(&s, 3000, with_empty_key);
	assert_true(s.n > 2000);
	b = open_block(&s, restart_interval);
	it = lsm_block_iter_new(b);
	assert_non_null(it);
	for (lsm_iter_seek_first(it); lsm_iter_valid(it) && i <= s.n; lsm_iter_next(it))
		assert_at(it, &s.e[i++]);
	assert_int_equal(i, s.n);
	assert_int_equal(lsm_iter_status(it), 0);
	/* next past the end stays invalid */
	lsm_iter_next(it);
	assert_false(lsm_iter_valid(it));
	assert_int_equal(lsm_iter_status(it), 0);
	lsm_iter_free(it);
	lsm_block_free(b);
	kvset_free(&s);
}

static void test_block_round_trip_interval_16(void **state)
{
	(void)state;
	rng_state = 0x9e3779b97f4a7c15ull;
	check_round_trip(16, true);
}

static void test_block_round_trip_interval_1(void **state)
{
	(void)state;
	rng_state = 0x1234567887654321ull;
	check_round_trip(1, true);
}

static void test_block_round_trip_interval_3(void **state)
{
	(void)state;
	rng_state = 0xabcdefull;
	check_round_trip(3, false);
}

static void check_seek(int restart_interval)
{
	struct kvset s;
	lsm_block *b;
	lsm_iter *it;
	uint8_t *target;
	static const uint8_t before[] = { 0x00 };
	static const uint8_t past[] = { 0xff, 0xff, 0xff };

	kvset_make(&s, 2000, false);
	b = open_block(&s, restart_interval);
	it = lsm_block_iter_new(b);
	assert_non_null(it);
	target = malloc(400);
	assert_non_null(target);

	for (size_t i = 0; i < s.n; i++) {
		/* to every key */
		lsm_iter_seek(it, s.e[i].key, s.e[i].key_len);
		assert_at(it, &s.e[i]);
		/* just after it: its immediate successor key lands on the next one */
		memcpy(target, s.e[i].key, s.e[i].key_len);
		target[s.e[i].key_len] = 0;
		lsm_iter_seek(it, target, s.e[i].key_len + 1);
		if (i + 1 < s.n) {
			assert_at(it, &s.e[i + 1]);
			/* and iteration goes on from there */
			lsm_iter_next(it);
			if (i + 2 < s.n)
				assert_at(it, &s.e[i + 2]);
			else
				assert_false(lsm_iter_valid(it));
		} else {
			assert_false(lsm_iter_valid(it));
		}
	}
	/* before the start: the smallest keys are internal keys of series 0..3,
	 * which start with eight zero bytes */
	assert_int_equal(s.e[0].key_len, LSM_IKEY_LEN);
	lsm_iter_seek(it, before, 1);
	assert_at(it, &s.e[0]);
	lsm_iter_seek(it, before, 0);
	assert_at(it, &s.e[0]);
	/* past the end */
	lsm_iter_seek(it, past, sizeof past);
	assert_false(lsm_iter_valid(it));
	assert_int_equal(lsm_iter_status(it), 0);
	/* and back again */
	lsm_iter_seek_first(it);
	assert_at(it, &s.e[0]);

	free(target);
	lsm_iter_free(it);
	lsm_block_free(b);
	kvset_free(&s);
}

static void test_block_seek_interval_16(void **state)
{
	(void)state;
	rng_state = 42;
	check_seek(16);
}

static void test_block_seek_interval_1(void **state)
{
	(void)state;
	rng_state = 4242;
	check_seek(1);
}

static void test_block_empty(void **state)
{
	lsm_block_builder bb;
	const uint8_t *bytes;
	size_t len;
	uint8_t *copy;
	lsm_block *b;
	lsm_iter *it;

	(void)state;
	lsm_block_builder_init(&bb, 16);
	assert_true(lsm_block_builder_empty(&bb));
	assert_int_equal(lsm_block_builder_size(&bb), 8);
	assert_int_equal(lsm_block_builder_finish(&bb, &bytes, &len), 0);
	assert_int_equal(len, 8);
	copy = strata_malloc(len);
	memcpy(copy, bytes, len);
	lsm_block_builder_deinit(&bb);

	assert_int_equal(lsm_block_new(&b, copy, len), 0);
	it = lsm_block_iter_new(b);
	lsm_iter_seek_first(it);
	assert_false(lsm_iter_valid(it));
	lsm_iter_seek(it, (const uint8_t *)"x", 1);
	assert_false(lsm_iter_valid(it));
	assert_int_equal(lsm_iter_status(it), 0);
	lsm_iter_free(it);
	lsm_block_free(b);
}

static void test_block_builder_rejects_unordered(void **state)
{
	lsm_block_builder bb;

	(void)state;
	lsm_block_builder_init(&bb, 16);
	assert_int_equal(lsm_block_builder_add(&bb, (const uint8_t *)"b", 1, NULL, 0), 0);
	assert_int_equal(lsm_block_builder_add(&bb, (const uint8_t *)"b", 1, NULL, 0), STRATA_EINVAL);
	assert_int_equal(lsm_block_builder_add(&bb, (const uint8_t *)"a", 1, NULL, 0), STRATA_EINVAL);
	assert_int_equal(lsm_block_builder_add(&bb, (const uint8_t *)"ba", 2, NULL, 0), 0);
	assert_int_equal(bb.n_entries, 2);
	lsm_block_builder_deinit(&bb);
}

static void test_block_builder_reset_reuses(void **state)
{
	lsm_block_builder bb;
	const uint8_t *bytes;
	size_t len, key_len;
	const uint8_t *last;
	uint8_t *copy;
	lsm_block *b;
	lsm_iter *it;
	size_t v_len;

	(void)state;
	lsm_block_builder_init(&bb, 2);
	assert_int_equal(lsm_block_builder_add(&bb, (const uint8_t *)"zz", 2, (const uint8_t *)"1", 1), 0);
	assert_int_equal(lsm_block_builder_finish(&bb, &bytes, &len), 0);
	lsm_block_builder_reset(&bb);
	assert_true(lsm_block_builder_empty(&bb));
	/* a key below the previous block's last key is fine after reset */
	assert_int_equal(lsm_block_builder_add(&bb, (const uint8_t *)"aa", 2, (const uint8_t *)"2", 1), 0);
	assert_int_equal(lsm_block_builder_add(&bb, (const uint8_t *)"ab", 2, (const uint8_t *)"3", 1), 0);
	assert_int_equal(lsm_block_builder_add(&bb, (const uint8_t *)"abc", 3, (const uint8_t *)"4", 1), 0);
	last = lsm_block_builder_last_key(&bb, &key_len);
	assert_int_equal(key_len, 3);
	assert_memory_equal(last, "abc", 3);
	assert_int_equal(lsm_block_builder_finish(&bb, &bytes, &len), 0);
	/* 3 entries, interval 2: restarts at entries 0 and 2 */
	assert_int_equal(lsm_get_le32(bytes + len - 4), 2);
	copy = strata_malloc(len);
	memcpy(copy, bytes, len);
	lsm_block_builder_deinit(&bb);

	assert_int_equal(lsm_block_new(&b, copy, len), 0);
	it = lsm_block_iter_new(b);
	lsm_iter_seek(it, (const uint8_t *)"abb", 3);
	assert_true(lsm_iter_valid(it));
	assert_memory_equal(lsm_iter_key(it, &key_len), "abc", 3);
	assert_memory_equal(lsm_iter_value(it, &v_len), "4", 1);
	lsm_iter_free(it);
	lsm_block_free(b);
}

/* lsm_block_new on a heap copy of bytes; the block takes the copy. */
static int new_from(lsm_block **out, const uint8_t *bytes, size_t len)
{
	uint8_t *copy = strata_malloc(len ? len : 1);

	assert_non_null(copy);
	if (len)
		memcpy(copy, bytes, len);
	return lsm_block_new(out, copy, len);
}

static void test_block_bad_restart_array(void **state)
{
	uint8_t buf[64];
	lsm_block *b;

	(void)state;
	memset(buf, 0, sizeof buf);
	/* too short for a count and one restart */
	assert_int_equal(new_from(&b, buf, 0), STRATA_ECORRUPT);
	assert_int_equal(new_from(&b, buf, 7), STRATA_ECORRUPT);
	/* zero restarts */
	lsm_put_le32(buf + 12, 0);
	assert_int_equal(new_from(&b, buf, 16), STRATA_ECORRUPT);
	/* more restarts than fit */
	lsm_put_le32(buf + 12, 4);
	assert_int_equal(new_from(&b, buf, 16), STRATA_ECORRUPT);
	lsm_put_le32(buf + 12, 0xffffffffu);
	assert_int_equal(new_from(&b, buf, 16), STRATA_ECORRUPT);
	/* one restart pointing past the entries (entries are bytes 0..7) */
	lsm_put_le32(buf + 8, 8);
	lsm_put_le32(buf + 12, 1);
	assert_int_equal(new_from(&b, buf, 16), STRATA_ECORRUPT);
	/* first restart not at 0 */
	lsm_put_le32(buf + 8, 3);
	assert_int_equal(new_from(&b, buf, 16), STRATA_ECORRUPT);
	/* restarts not ascending: entries 0..3, restarts {0, 2, 1} */
	lsm_put_le32(buf + 4, 0);
	lsm_put_le32(buf + 8, 2);
	lsm_put_le32(buf + 12, 1);
	lsm_put_le32(buf + 16, 3);
	assert_int_equal(new_from(&b, buf, 20), STRATA_ECORRUPT);
	/* an 8-byte empty block is fine */
	lsm_put_le32(buf, 0);
	lsm_put_le32(buf + 4, 1);
	assert_int_equal(new_from(&b, buf, 8), 0);
	lsm_block_free(b);
}

/* Iterates from the start; returns the status once invalid. */
static int scan_status(const uint8_t *bytes, size_t len)
{
	lsm_block *b;
	lsm_iter *it;
	int rc, steps = 0;

	rc = new_from(&b, bytes, len);
	if (rc)
		return rc;
	it = lsm_block_iter_new(b);
	assert_non_null(it);
	for (lsm_iter_seek_first(it); lsm_iter_valid(it) && steps < 1000; lsm_iter_next(it))
		steps++;
	assert_true(steps < 1000);
	rc = lsm_iter_status(it);
	lsm_iter_free(it);
	lsm_block_free(b);
	return rc;
}

static void test_block_bad_entries(void **state)
{
	uint8_t buf[64];
	size_t n;

	(void)state;
	/* first entry shares 1 byte with a previous key that does not exist */
	n = 0;
	buf[n++] = 1; buf[n++] = 1; buf[n++] = 0; buf[n++] = 'a';
	lsm_put_le32(buf + n, 0); n += 4;
	lsm_put_le32(buf + n, 1); n += 4;
	assert_int_equal(scan_status(buf, n), STRATA_ECORRUPT);
	assert_non_null(strstr(strata_last_error(), "offset 0"));

	/* value length runs past the entries */
	n = 0;
	buf[n++] = 0; buf[n++] = 1; buf[n++] = 9; buf[n++] = 'a'; buf[n++] = 'v';
	lsm_put_le32(buf + n, 0); n += 4;
	lsm_put_le32(buf + n, 1); n += 4;
	assert_int_equal(scan_status(buf, n), STRATA_ECORRUPT);

	/* key length runs past the entries */
	n = 0;
	buf[n++] = 0; buf[n++] = 0x7f; buf[n++] = 0; buf[n++] = 'a';
	lsm_put_le32(buf + n, 0); n += 4;
	lsm_put_le32(buf + n, 1); n += 4;
	assert_int_equal(scan_status(buf, n), STRATA_ECORRUPT);

	/* varint cut short by the end of the entries */
	n = 0;
	buf[n++] = 0; buf[n++] = 0x81;
	lsm_put_le32(buf + n, 0); n += 4;
	lsm_put_le32(buf + n, 1); n += 4;
	assert_int_equal(scan_status(buf, n), STRATA_ECORRUPT);

	/* second entry shares 2 bytes with a 1-byte key */
	n = 0;
	buf[n++] = 0; buf[n++] = 1; buf[n++] = 0; buf[n++] = 'a';
	buf[n++] = 2; buf[n++] = 1; buf[n++] = 0; buf[n++] = 'b';
	lsm_put_le32(buf + n, 0); n += 4;
	lsm_put_le32(buf + n, 1); n += 4;
	assert_int_equal(scan_status(buf, n), STRATA_ECORRUPT);

	/* keys out of order: "b" then "a" */
	n = 0;
	buf[n++] = 0; buf[n++] = 1; buf[n++] = 0; buf[n++] = 'b';
	buf[n++] = 0; buf[n++] = 1; buf[n++] = 0; buf[n++] = 'a';
	lsm_put_le32(buf + n, 0); n += 4;
	lsm_put_le32(buf + n, 1); n += 4;
	assert_int_equal(scan_status(buf, n), STRATA_ECORRUPT);

	/* a key equal to the one before it: "ab", then shared "a" + "b" */
	n = 0;
	buf[n++] = 0; buf[n++] = 2; buf[n++] = 0; buf[n++] = 'a'; buf[n++] = 'b';
	buf[n++] = 1; buf[n++] = 1; buf[n++] = 0; buf[n++] = 'b';
	lsm_put_le32(buf + n, 0); n += 4;
	lsm_put_le32(buf + n, 1); n += 4;
	assert_int_equal(scan_status(buf, n), STRATA_ECORRUPT);

	/* a restart key that is not whole: entries at 0 and 4, restart at 4 shares 1 */
	n = 0;
	buf[n++] = 0; buf[n++] = 1; buf[n++] = 0; buf[n++] = 'a';
	buf[n++] = 1; buf[n++] = 1; buf[n++] = 0; buf[n++] = 'b';
	lsm_put_le32(buf + n, 0); n += 4;
	lsm_put_le32(buf + n, 4); n += 4;
	lsm_put_le32(buf + n, 2); n += 4;
	assert_int_equal(scan_status(buf, n), STRATA_ECORRUPT);

	/* a restart in the middle of an entry: entries at 0 and 4, restart at 2 */
	buf[8] = 0; buf[9] = 0; buf[10] = 0; buf[11] = 0;
	lsm_put_le32(buf + 12, 2);
	assert_int_equal(scan_status(buf, n), STRATA_ECORRUPT);

	/* the same block with the restart back at 4 and its key whole: "a", "b" */
	lsm_put_le32(buf + 12, 4);
	buf[4] = 0;
	assert_int_equal(scan_status(buf, n), 0);
}

static void test_block_corrupt_status_is_sticky(void **state)
{
	uint8_t buf[32];
	size_t n = 0;
	lsm_block *b;
	lsm_iter *it;

	(void)state;
	/* "a" then an entry claiming to share 5 bytes */
	buf[n++] = 0; buf[n++] = 1; buf[n++] = 0; buf[n++] = 'a';
	buf[n++] = 5; buf[n++] = 1; buf[n++] = 0; buf[n++] = 'b';
	lsm_put_le32(buf + n, 0); n += 4;
	lsm_put_le32(buf + n, 1); n += 4;
	assert_int_equal(new_from(&b, buf, n), 0);
	it = lsm_block_iter_new(b);
	lsm_iter_seek_first(it);
	assert_true(lsm_iter_valid(it));
	lsm_iter_next(it);
	assert_false(lsm_iter_valid(it));
	assert_int_equal(lsm_iter_status(it), STRATA_ECORRUPT);
	lsm_iter_seek_first(it);
	assert_false(lsm_iter_valid(it));
	assert_int_equal(lsm_iter_status(it), STRATA_ECORRUPT);
	lsm_iter_free(it);
	lsm_block_free(b);
}

/*
 * Opens, scans and seeks a possibly damaged block. Returns 1 when damage was
 * reported, 0 when the block read through; sets *differs when what it read
 * is not exactly the original set.
 */
static int probe(const uint8_t *bytes, size_t len, const struct kvset *s, bool *differs)
{
	lsm_block *b;
	lsm_iter *it;
	size_t i = 0;
	int rc, corrupt = 0;

	*differs = true;
	rc = new_from(&b, bytes, len);
	if (rc) {
		assert_int_equal(rc, STRATA_ECORRUPT);
		return 1;
	}
	it = lsm_block_iter_new(b);
	assert_non_null(it);
	*differs = false;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it) && i <= len; lsm_iter_next(it), i++) {
		size_t k_len, v_len;
		const uint8_t *k = lsm_iter_key(it, &k_len);
		const uint8_t *v = lsm_iter_value(it, &v_len);

		if (i >= s->n || cmp_bytes(k, k_len, s->e[i].key, s->e[i].key_len) != 0 ||
		    cmp_bytes(v, v_len, s->e[i].value, s->e[i].value_len) != 0)
			*differs = true;
	}
	assert_true(i <= len);
	if (i != s->n)
		*differs = true;
	rc = lsm_iter_status(it);
	if (rc) {
		assert_int_equal(rc, STRATA_ECORRUPT);
		corrupt = 1;
	}
	lsm_iter_free(it);

	/*
	 * Seeks on a fresh iterator, to some keys of the set and past the end.
	 * When the scan read back the original entries, damage that went
	 * unseen (a restart moved to another whole key) must not mislead them.
	 */
	it = lsm_block_iter_new(b);
	assert_non_null(it);
	for (size_t j = 0; j < s->n; j += 1 + s->n / 50) {
		lsm_iter_seek(it, s->e[j].key, s->e[j].key_len);
		if (lsm_iter_valid(it)) {
			size_t k_len;
			const uint8_t *k = lsm_iter_key(it, &k_len);

			if (!*differs && !corrupt)
				assert_int_equal(cmp_bytes(k, k_len, s->e[j].key, s->e[j].key_len), 0);
			lsm_iter_next(it);
		} else if (!*differs && !corrupt) {
			assert_int_equal(lsm_iter_status(it), STRATA_ECORRUPT);
		}
	}
	lsm_iter_seek(it, (const uint8_t *)"\xff\xff", 2);
	if (lsm_iter_status(it)) {
		assert_int_equal(lsm_iter_status(it), STRATA_ECORRUPT);
		corrupt = 1;
	}
	lsm_iter_free(it);
	lsm_block_free(b);
	return corrupt;
}

static void test_block_damage_never_crashes(void **state)
{
	struct kvset s;
	uint8_t *good, *bad;
	size_t len;
	int flips = 0, flips_found = 0, flips_changed = 0, cuts = 0, cuts_found = 0;
	int tails = 0, tails_found = 0;
	bool differs;

	(void)state;
	rng_state = 777;
	/* short values so that most bytes are structure rather than payload */
	kvset_make(&s, 200, false);
	for (size_t i = 0; i < s.n; i++)
		s.e[i].value_len = s.e[i].value_len % 4;
	good = build(&s, 16, &len);
	bad = malloc(len);
	assert_non_null(bad);
	assert_int_equal(probe(good, len, &s, &differs), 0);
	assert_false(differs);

	/* single random byte changes */
	for (int round = 0; round < 3000; round++) {
		size_t at = rng() % len;
		uint8_t x = (uint8_t)(1 + rng() % 255);

		memcpy(bad, good, len);
		bad[at] ^= x;
		flips++;
		if (probe(bad, len, &s, &differs))
			flips_found++;
		else if (differs)
			flips_changed++;
	}
	/* several changes at once */
	for (int round = 0; round < 1000; round++) {
		memcpy(bad, good, len);
		for (int j = 0; j < 8; j++)
			bad[rng() % len] = (uint8_t)rng();
		(void)probe(bad, len, &s, &differs);
	}
	/* the restart array and count, damaged */
	for (int round = 0; round < 500; round++) {
		size_t tail = 4 + 4 * (size_t)lsm_get_le32(good + len - 4);

		memcpy(bad, good, len);
		bad[len - 1 - rng() % tail] ^= (uint8_t)(1 + rng() % 255);
		tails++;
		if (probe(bad, len, &s, &differs))
			tails_found++;
	}
	/* truncations, and truncations that keep a plausible trailer */
	for (size_t cut = 0; cut < len; cut += 1 + rng() % 7) {
		cuts++;
		if (probe(good, cut, &s, &differs))
			cuts_found++;
		else
			assert_true(differs || cut == len);
		memcpy(bad, good, cut);
		if (cut >= 8) {
			lsm_put_le32(bad + cut - 4, 1);
			lsm_put_le32(bad + cut - 8, 0);
			(void)probe(bad, cut, &s, &differs);
		}
	}
	/* pure noise */
	for (int round = 0; round < 1000; round++) {
		size_t n = rng() % 200;

		for (size_t j = 0; j < n; j++)
			bad[j] = (uint8_t)rng();
		if (n >= 4 && round % 2)
			lsm_put_le32(bad + n - 4, (uint32_t)(rng() % 4 + 1));
		(void)probe(bad, n, &s, &differs);
	}

	print_message("flips: %d, reported %d, read back changed %d; restart array flips: %d, "
		      "reported %d; cuts: %d, reported %d\n",
		      flips, flips_found, flips_changed, tails, tails_found, cuts, cuts_found);
	/* No checksum at this layer: a flip in a value byte reads back changed
	 * but unreported. Structure damage is reported; nearly every flip is
	 * seen one way or the other, and every truncation is reported. A
	 * restart moved onto another key stored whole reads back the same and
	 * seeks right (probe checks that), so a few restart flips go unseen. */
	assert_true(flips_found + flips_changed >= flips * 99 / 100);
	assert_true(flips_found >= flips * 2 / 5);
	assert_true(tails_found >= tails * 9 / 10);
	assert_int_equal(cuts_found, cuts);

	free(bad);
	strata_free(good);
	kvset_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block_round_trip_interval_16),
		cmocka_unit_test(test_block_round_trip_interval_1),
		cmocka_unit_test(test_block_round_trip_interval_3),
		cmocka_unit_test(test_block_seek_interval_16),
		cmocka_unit_test(test_block_seek_interval_1),
		cmocka_unit_test(test_block_empty),
		cmocka_unit_test(test_block_builder_rejects_unordered),
		cmocka_unit_test(test_block_builder_reset_reuses),
		cmocka_unit_test(test_block_bad_restart_array),
		cmocka_unit_test(test_block_bad_entries),
		cmocka_unit_test(test_block_corrupt_status_is_sticky),
		cmocka_unit_test(test_block_damage_never_crashes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
