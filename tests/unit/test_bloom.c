/*
 * test_bloom.c — the series bloom filter: no false negatives at any size,
 * a false-positive rate near the theory, the documented layout, and damaged
 * filters that answer "maybe" rather than hide data.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lsm/alloc.h"
#include "lsm/bloom.h"
#include "lsm/coding.h"

#include <xxhash.h>

static uint8_t *build(int bits_per_key, uint64_t first_id, size_t n, size_t *out_len)
{
	lsm_bloom_builder b;
	uint8_t *filter;

	lsm_bloom_builder_init(&b, bits_per_key);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(lsm_bloom_builder_add(&b, lsm_bloom_hash_series(first_id + i)), 0);
	assert_int_equal(lsm_bloom_builder_finish(&b, &filter, out_len), 0);
	assert_non_null(filter);
	lsm_bloom_builder_deinit(&b);
	return filter;
}

static void test_bloom_no_false_negatives(void **state)
{
	static const size_t sizes[] = { 1, 2, 7, 10, 100, 1000, 10000, 50000 };
	static const int bits[] = { 1, 2, 5, 10, 16, 30 };

	(void)state;
	for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
		for (size_t k = 0; k < sizeof bits / sizeof *bits; k++) {
			size_t len;
			uint8_t *f = build(bits[k], 1000 * s, sizes[s], &len);

			for (size_t i = 0; i < sizes[s]; i++)
				assert_true(lsm_bloom_may_contain(f, len, lsm_bloom_hash_series(1000 * s + i)));
			strata_free(f);
		}
	}
}

static double fp_rate(int bits_per_key, size_t n_keys)
{
	size_t len, fp = 0, n_probes = 100000;
	uint8_t *f = build(bits_per_key, 0, n_keys, &len);

	/* ids far from the ones added */
	for (size_t i = 0; i < n_probes; i++)
		if (lsm_bloom_may_contain(f, len, lsm_bloom_hash_series(UINT64_C(1) << 40 | i)))
			fp++;
	strata_free(f);
	return (double)fp / (double)n_probes;
}

static void test_bloom_false_positive_rate(void **state)
{
	double r10, r20, r5;

	(void)state;
	r10 = fp_rate(10, 10000);
	r20 = fp_rate(20, 10000);
	r5 = fp_rate(5, 10000);
	print_message("false positives: 5 bits/key %.4f, 10 bits/key %.4f, 20 bits/key %.4f\n",
		      r5, r10, r20);
	assert_true(r10 < 0.02);
	assert_true(r10 > 0.0); /* a filter that answers false to everything is wrong too */
	assert_true(r20 < r10);
	assert_true(r10 < r5);
	assert_true(r5 < 0.15);
	/* small filters (the 64-bit minimum) too */
	assert_true(fp_rate(10, 100) < 0.03);
}

static void test_bloom_layout(void **state)
{
	size_t len;
	uint8_t *f;

	(void)state;
	/* 1000 keys * 10 bits = 1250 bytes, then k = round(6.9) = 7 */
	f = build(10, 0, 1000, &len);
	assert_int_equal(len, 1251);
	assert_int_equal(f[len - 1], 7);
	strata_free(f);
	/* at least 64 bits */
	f = build(10, 0, 1, &len);
	assert_int_equal(len, 9);
	strata_free(f);
	/* k clamped: 1 bit/key -> round(0.69) = 1; 30 bits/key -> 21 */
	f = build(1, 0, 1000, &len);
	assert_int_equal(f[len - 1], 1);
	assert_int_equal(len, 126);
	strata_free(f);
	f = build(30, 0, 1000, &len);
	assert_int_equal(f[len - 1], 21);
	strata_free(f);
	/* bits_per_key out of range is clamped to 1..30 */
	f = build(100, 0, 1000, &len);
	assert_int_equal(len, 3751);
	strata_free(f);
	f = build(0, 0, 1000, &len);
	assert_int_equal(len, 126);
	strata_free(f);
}

static void test_bloom_empty_filter_answers_false(void **state)
{
	size_t len, hits = 0;
	uint8_t *f = build(10, 0, 0, &len);

	(void)state;
	assert_int_equal(len, 9);
	for (uint64_t i = 0; i < 1000; i++)
		hits += lsm_bloom_may_contain(f, len, lsm_bloom_hash_series(i));
	assert_int_equal(hits, 0);
	strata_free(f);
}

static void test_bloom_duplicates_allowed(void **state)
{
	lsm_bloom_builder b;
	uint8_t *f;
	size_t len;

	(void)state;
	lsm_bloom_builder_init(&b, 10);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(lsm_bloom_builder_add(&b, lsm_bloom_hash_series((uint64_t)i % 10)), 0);
	assert_int_equal(lsm_bloom_builder_finish(&b, &f, &len), 0);
	lsm_bloom_builder_deinit(&b);
	for (uint64_t i = 0; i < 10; i++)
		assert_true(lsm_bloom_may_contain(f, len, lsm_bloom_hash_series(i)));
	strata_free(f);
}

static void test_bloom_malformed_answers_true(void **state)
{
	size_t len;
	uint8_t *f = build(10, 0, 0, &len); /* answers false to everything when whole */
	uint64_t h = lsm_bloom_hash_series(12345);

	(void)state;
	assert_false(lsm_bloom_may_contain(f, len, h));
	/* too short: nothing, or fewer than 64 bits */
	assert_true(lsm_bloom_may_contain(NULL, 0, h));
	assert_true(lsm_bloom_may_contain(f, 0, h));
	for (size_t n = 1; n < 9; n++)
		assert_true(lsm_bloom_may_contain(f + len - n, n, h));
	/* probe count 0, or above 30 */
	f[len - 1] = 0;
	assert_true(lsm_bloom_may_contain(f, len, h));
	f[len - 1] = 31;
	assert_true(lsm_bloom_may_contain(f, len, h));
	f[len - 1] = 255;
	assert_true(lsm_bloom_may_contain(f, len, h));
	f[len - 1] = 30;
	assert_false(lsm_bloom_may_contain(f, len, h));
	strata_free(f);
}

static void test_bloom_hash_series(void **state)
{
	uint8_t be[8];
	uint64_t id = UINT64_C(0x0102030405060708);

	(void)state;
	lsm_put_be64(be, id);
	assert_int_equal(be[0], 1);
	assert_true(lsm_bloom_hash_series(id) == XXH3_64bits(be, 8));
	assert_true(lsm_bloom_hash_series(1) != lsm_bloom_hash_series(2));
	assert_true(lsm_bloom_hash_series(0) == lsm_bloom_hash_series(0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bloom_no_false_negatives),
		cmocka_unit_test(test_bloom_false_positive_rate),
		cmocka_unit_test(test_bloom_layout),
		cmocka_unit_test(test_bloom_empty_filter_answers_false),
		cmocka_unit_test(test_bloom_duplicates_allowed),
		cmocka_unit_test(test_bloom_malformed_answers_true),
		cmocka_unit_test(test_bloom_hash_series),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
