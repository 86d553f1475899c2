/* Unit tests: write batch encoding and decoding (lsm/batch.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "lsm/batch.h"
#include "lsm/status.h"

static void test_batch_round_trip(void **state)
{
	lsm_batch b;
	lsm_batch_reader r;
	lsm_batch_entry e;
	uint8_t k[LSM_UKEY_LEN];
	char value[300];

	(void)state;
	lsm_batch_init(&b);
	memset(value, 'v', sizeof value);
	for (int i = 0; i < 100; i++) {
		lsm_ukey_encode(k, (uint64_t)i, -i);
		if (i % 3 == 0)
			assert_int_equal(lsm_batch_put(&b, k, value, (size_t)i * 3), 0);
		else if (i % 3 == 1)
			assert_int_equal(lsm_batch_merge(&b, k, value, (size_t)i), 0);
		else
			assert_int_equal(lsm_batch_delete(&b, k), 0);
	}
	lsm_batch_set_seq(&b, 1000);
	assert_int_equal(lsm_batch_count(&b), 100);
	assert_true(lsm_batch_seq(&b) == 1000);

	assert_int_equal(lsm_batch_reader_init(&r, b.data, lsm_batch_bytes(&b)), 0);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(lsm_batch_reader_next(&r, &e), 1);
		assert_true(e.seq == 1000 + (uint64_t)i);
		assert_true(lsm_ukey_series(e.ukey) == (uint64_t)i);
		assert_true(lsm_ukey_ts(e.ukey) == -i);
		if (i % 3 == 0) {
			assert_int_equal(e.kind, LSM_KIND_PUT);
			assert_int_equal(e.value_len, (size_t)i * 3);
		} else if (i % 3 == 1) {
			assert_int_equal(e.kind, LSM_KIND_MERGE);
			assert_int_equal(e.value_len, (size_t)i);
		} else {
			assert_int_equal(e.kind, LSM_KIND_DELETE);
			assert_int_equal(e.value_len, 0);
		}
	}
	assert_int_equal(lsm_batch_reader_next(&r, &e), 0);

	lsm_batch_clear(&b);
	assert_int_equal(lsm_batch_count(&b), 0);
	assert_int_equal(lsm_batch_bytes(&b), LSM_BATCH_HEADER_LEN);
	lsm_batch_deinit(&b);
}

static void test_batch_rejects_damage(void **state)
{
	lsm_batch b;
	lsm_batch_reader r;
	lsm_batch_entry e;
	uint8_t k[LSM_UKEY_LEN];
	int rc;

	(void)state;
	lsm_batch_init(&b);
	lsm_ukey_encode(k, 1, 2);
	assert_int_equal(lsm_batch_put(&b, k, "abcdef", 6), 0);
	assert_int_equal(lsm_batch_put(&b, k, "xyz", 3), 0);

	/* Every truncation is refused: by init, or by an entry, never read past. */
	for (size_t len = 0; len < lsm_batch_bytes(&b); len++) {
		uint8_t *copy = malloc(len ? len : 1);

		memcpy(copy, b.data, len);
		rc = lsm_batch_reader_init(&r, copy, len);
		if (rc == 0) {
			do
				rc = lsm_batch_reader_next(&r, &e);
			while (rc == 1);
		}
		assert_int_equal(rc, STRATA_ECORRUPT);
		free(copy);
	}
	/* An unknown kind. */
	b.data[LSM_BATCH_HEADER_LEN] = 9;
	assert_int_equal(lsm_batch_reader_init(&r, b.data, lsm_batch_bytes(&b)), 0);
	assert_int_equal(lsm_batch_reader_next(&r, &e), STRATA_ECORRUPT);
	/* A count larger than the bytes allow. */
	lsm_put_le32(b.data + 8, 1000000);
	assert_int_equal(lsm_batch_reader_init(&r, b.data, lsm_batch_bytes(&b)), STRATA_ECORRUPT);
	lsm_batch_deinit(&b);
}

static void test_batch_value_limit(void **state)
{
	lsm_batch b;
	uint8_t k[LSM_UKEY_LEN] = { 0 };

	(void)state;
	lsm_batch_init(&b);
	assert_int_equal(lsm_batch_put(&b, k, NULL, LSM_VALUE_MAX + 1), STRATA_ETOOBIG);
	assert_int_equal(lsm_batch_count(&b), 0);
	lsm_batch_deinit(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_round_trip),
		cmocka_unit_test(test_batch_rejects_damage),
		cmocka_unit_test(test_batch_value_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
