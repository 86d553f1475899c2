/* Unit tests: the series-timestamp key and internal key codecs (lsm/key.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lsm/key.h"

static int ukey_cmp(uint64_t s1, int64_t t1, uint64_t s2, int64_t t2)
{
	uint8_t a[LSM_UKEY_LEN], b[LSM_UKEY_LEN];
	int c;

	lsm_ukey_encode(a, s1, t1);
	lsm_ukey_encode(b, s2, t2);
	c = memcmp(a, b, LSM_UKEY_LEN);
	return c < 0 ? -1 : c > 0;
}

static void test_key_timestamp_order(void **state)
{
	static const int64_t ts[] = { INT64_MIN, INT64_MIN + 1, -86400000000000LL, -1, 0, 1,
				      1767225600000000000LL, INT64_MAX - 1, INT64_MAX };
	size_t n = sizeof ts / sizeof ts[0];

	(void)state;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			int want = i < j ? -1 : i > j;

			assert_int_equal(ukey_cmp(7, ts[i], 7, ts[j]), want);
		}
	}
}

static void test_key_series_before_time(void **state)
{
	(void)state;
	assert_int_equal(ukey_cmp(1, INT64_MAX, 2, INT64_MIN), -1);
	assert_int_equal(ukey_cmp(UINT64_MAX, INT64_MIN, 0, INT64_MAX), 1);
	assert_int_equal(ukey_cmp(0x0100, 0, 0x00ff, 0), 1);
}

static void test_key_round_trip(void **state)
{
	static const int64_t ts[] = { INT64_MIN, -5, 0, 5, INT64_MAX };
	static const uint64_t series[] = { 0, 1, 0x8000000000000000ULL, UINT64_MAX };
	uint8_t k[LSM_UKEY_LEN];

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		for (size_t j = 0; j < 5; j++) {
			lsm_ukey_encode(k, series[i], ts[j]);
			assert_true(lsm_ukey_series(k) == series[i]);
			assert_true(lsm_ukey_ts(k) == ts[j]);
		}
	}
}

static void test_key_internal_newest_first(void **state)
{
	uint8_t u[LSM_UKEY_LEN], u2[LSM_UKEY_LEN], a[LSM_IKEY_LEN], b[LSM_IKEY_LEN], seek[LSM_IKEY_LEN];

	(void)state;
	lsm_ukey_encode(u, 42, -3);
	lsm_ikey_encode(a, u, 100, LSM_KIND_PUT);
	lsm_ikey_encode(b, u, 99, LSM_KIND_MERGE);
	assert_true(memcmp(a, b, LSM_IKEY_LEN) < 0); /* seq 100 before seq 99 */
	assert_true(lsm_ikey_seq(a) == 100);
	assert_int_equal(lsm_ikey_kind(a), LSM_KIND_PUT);
	assert_true(lsm_ikey_seq(b) == 99);
	assert_int_equal(lsm_ikey_kind(b), LSM_KIND_MERGE);
	lsm_ikey_encode(a, u, LSM_SEQ_MAX, LSM_KIND_DELETE);
	assert_true(lsm_ikey_seq(a) == LSM_SEQ_MAX);
	assert_int_equal(lsm_ikey_kind(a), LSM_KIND_DELETE);

	/* A later user key sorts after every version of an earlier one. */
	lsm_ukey_encode(u2, 42, -2);
	lsm_ikey_encode(a, u, 0, LSM_KIND_PUT);
	lsm_ikey_encode(b, u2, LSM_SEQ_MAX, LSM_KIND_PUT);
	assert_true(memcmp(a, b, LSM_IKEY_LEN) < 0);

	/* The seek key lands at or before every version visible at the snapshot. */
	lsm_ikey_seek_key(seek, u, 100);
	lsm_ikey_encode(a, u, 100, LSM_KIND_MERGE);
	lsm_ikey_encode(b, u, 101, LSM_KIND_DELETE);
	assert_true(memcmp(seek, a, LSM_IKEY_LEN) <= 0);
	assert_true(memcmp(seek, b, LSM_IKEY_LEN) > 0);
}

static void test_key_window_of_floors(void **state)
{
	const int64_t day = 86400LL * 1000000000LL;

	(void)state;
	assert_true(lsm_window_of(0, day) == 0);
	assert_true(lsm_window_of(day - 1, day) == 0);
	assert_true(lsm_window_of(day, day) == 1);
	assert_true(lsm_window_of(-1, day) == -1);
	assert_true(lsm_window_of(-day, day) == -1);
	assert_true(lsm_window_of(-day - 1, day) == -2);
	assert_true(lsm_window_of(INT64_MIN, day) == INT64_MIN / day - 1);
	assert_true(lsm_window_of(INT64_MAX, day) == INT64_MAX / day);
}

static void test_key_varint_bounds(void **state)
{
	uint8_t buf[LSM_VARINT64_MAX + 1];
	uint64_t v;
	static const uint64_t values[] = { 0, 1, 127, 128, 16383, 16384, UINT32_MAX, UINT64_MAX };

	(void)state;
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		size_t n = lsm_put_varint64(buf, values[i]);

		assert_int_equal(n, lsm_varint64_len(values[i]));
		assert_int_equal(lsm_get_varint64(buf, buf + n, &v), n);
		assert_true(v == values[i]);
		/* Truncated by one byte: refused. */
		assert_int_equal(lsm_get_varint64(buf, buf + n - 1, &v), 0);
	}
	/* Eleven continuation bytes: refused. */
	memset(buf, 0xff, sizeof buf);
	assert_int_equal(lsm_get_varint64(buf, buf + sizeof buf, &v), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_timestamp_order),
		cmocka_unit_test(test_key_series_before_time),
		cmocka_unit_test(test_key_round_trip),
		cmocka_unit_test(test_key_internal_newest_first),
		cmocka_unit_test(test_key_window_of_floors),
		cmocka_unit_test(test_key_varint_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
