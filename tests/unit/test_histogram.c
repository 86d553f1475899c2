/*
 * test_histogram.c — the lock-free fixed-bucket histogram: bucket choice
 * (a value equal to a bound counts in that bound's bucket), count and sum,
 * bad bounds refused, exact Prometheus text, and no observation lost when
 * threads observe at once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lsm/histogram.h"
#include "lsm/status.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint64_t bounds[] = { 10, 100, 1000 };

static void test_histogram_buckets_are_le(void **state)
{
	lsm_histogram h;
	lsm_histogram_snapshot s;
	static const uint64_t values[] = { 0, 10, 11, 100, 999, 1000, 1001, UINT64_C(1) << 40 };
	uint64_t sum = 0;

	(void)state;
	assert_int_equal(lsm_histogram_init(&h, bounds, 3), 0);
	for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
		lsm_histogram_observe(&h, values[i]);
		sum += values[i];
	}
	lsm_histogram_snapshot_get(&h, &s);
	assert_int_equal(s.n_bounds, 3);
	assert_int_equal(s.buckets[0], 2); /* 0, 10 */
	assert_int_equal(s.buckets[1], 2); /* 11, 100 */
	assert_int_equal(s.buckets[2], 2); /* 999, 1000 */
	assert_int_equal(s.buckets[3], 2); /* above every bound */
	assert_int_equal(s.count, 8);
	assert_true(s.sum == sum);
}

static void test_histogram_empty_and_no_bounds(void **state)
{
	lsm_histogram h;
	lsm_histogram_snapshot s;

	(void)state;
	assert_int_equal(lsm_histogram_init(&h, bounds, 3), 0);
	lsm_histogram_snapshot_get(&h, &s);
	assert_int_equal(s.count, 0);
	assert_int_equal(s.sum, 0);
	assert_int_equal(lsm_histogram_init(&h, NULL, 0), 0);
	lsm_histogram_observe(&h, 5);
	lsm_histogram_snapshot_get(&h, &s);
	assert_int_equal(s.buckets[0], 1);
	assert_int_equal(s.count, 1);
}

static void test_histogram_bad_bounds_refused(void **state)
{
	static const uint64_t unsorted[] = { 10, 5, 20 };
	static const uint64_t equal[] = { 10, 10 };
	uint64_t many[LSM_HISTOGRAM_MAX_BOUNDS + 1];
	lsm_histogram h;
	lsm_histogram_snapshot s;

	(void)state;
	for (size_t i = 0; i < sizeof many / sizeof *many; i++)
		many[i] = i + 1;
	assert_int_equal(lsm_histogram_init(&h, unsorted, 3), STRATA_EINVAL);
	assert_non_null(strstr(strata_last_error(), "ascending"));
	assert_int_equal(lsm_histogram_init(&h, equal, 2), STRATA_EINVAL);
	assert_int_equal(lsm_histogram_init(&h, many, LSM_HISTOGRAM_MAX_BOUNDS + 1), STRATA_EINVAL);
	/* Refused bounds leave a usable histogram: everything in +Inf. */
	lsm_histogram_observe(&h, 3);
	lsm_histogram_snapshot_get(&h, &s);
	assert_int_equal(s.n_bounds, 0);
	assert_int_equal(s.count, 1);
	assert_int_equal(lsm_histogram_init(&h, many, LSM_HISTOGRAM_MAX_BOUNDS), 0);
}

/* What lsm_histogram_write_prometheus writes, as a string. */
static char *text_of(const lsm_histogram *h, const char *name, const char *labels, unsigned decimals)
{
	lsm_histogram_snapshot s;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	lsm_histogram_snapshot_get(h, &s);
	lsm_histogram_write_prometheus(f, name, labels, &s, decimals);
	fclose(f);
	return text;
}

static void test_histogram_prometheus_text(void **state)
{
	static const uint64_t ns[] = { 1, 100000, 2500000, 1000000000, 2500000000u };
	lsm_histogram h;
	char *text;

	(void)state;
	assert_int_equal(lsm_histogram_init(&h, ns, 5), 0);
	lsm_histogram_observe(&h, 50000);      /* 50 us */
	lsm_histogram_observe(&h, 1500000000); /* 1.5 s */
	text = text_of(&h, "x_seconds", "", 9);
	assert_string_equal(text,
			    "x_seconds_bucket{le=\"0.000000001\"} 0\n"
			    "x_seconds_bucket{le=\"0.0001\"} 1\n"
			    "x_seconds_bucket{le=\"0.0025\"} 1\n"
			    "x_seconds_bucket{le=\"1\"} 1\n"
			    "x_seconds_bucket{le=\"2.5\"} 2\n"
			    "x_seconds_bucket{le=\"+Inf\"} 2\n"
			    "x_seconds_sum 1.50005\n"
			    "x_seconds_count 2\n");
	free(text);
	assert_int_equal(lsm_histogram_init(&h, bounds, 3), 0);
	lsm_histogram_observe(&h, 7);
	lsm_histogram_observe(&h, 5000);
	text = text_of(&h, "y_bytes", "kind=\"select\"", 0);
	assert_string_equal(text,
			    "y_bytes_bucket{kind=\"select\",le=\"10\"} 1\n"
			    "y_bytes_bucket{kind=\"select\",le=\"100\"} 1\n"
			    "y_bytes_bucket{kind=\"select\",le=\"1000\"} 1\n"
			    "y_bytes_bucket{kind=\"select\",le=\"+Inf\"} 2\n"
			    "y_bytes_sum{kind=\"select\"} 5007\n"
			    "y_bytes_count{kind=\"select\"} 2\n");
	free(text);
}

enum { THREADS = 4, PER_THREAD = 200000 };

static void *observer(void *arg)
{
	lsm_histogram *h = arg;

	for (uint64_t i = 0; i < PER_THREAD; i++)
		lsm_histogram_observe(h, i % 2000);
	return NULL;
}

static void test_histogram_concurrent_observers(void **state)
{
	pthread_t t[THREADS];
	lsm_histogram h;
	lsm_histogram_snapshot s, prev = { 0 };
	uint64_t want_sum = 0;

	(void)state;
	assert_int_equal(lsm_histogram_init(&h, bounds, 3), 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, observer, &h), 0);
	/* Snapshots taken meanwhile only ever grow, and +Inf equals the count. */
	for (int k = 0; k < 50; k++) {
		lsm_histogram_snapshot_get(&h, &s);
		assert_true(s.count >= prev.count && s.sum >= prev.sum);
		for (size_t b = 0; b <= 3; b++)
			assert_true(s.buckets[b] >= prev.buckets[b]);
		prev = s;
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (uint64_t i = 0; i < PER_THREAD; i++)
		want_sum += i % 2000;
	lsm_histogram_snapshot_get(&h, &s);
	assert_int_equal(s.count, (uint64_t)THREADS * PER_THREAD);
	assert_true(s.sum == want_sum * THREADS);
	/* Per 2000 values: 0..10 (11), 11..100 (90), 101..1000 (900), 1001..1999 (999). */
	assert_int_equal(s.buckets[0], (uint64_t)THREADS * PER_THREAD / 2000 * 11);
	assert_int_equal(s.buckets[3], (uint64_t)THREADS * PER_THREAD / 2000 * 999);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_histogram_buckets_are_le),
		cmocka_unit_test(test_histogram_empty_and_no_bounds),
		cmocka_unit_test(test_histogram_bad_bounds_refused),
		cmocka_unit_test(test_histogram_prometheus_text),
		cmocka_unit_test(test_histogram_concurrent_observers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
