/*
 * test_aggregate.c — InfluxQL aggregates, selectors and transformations
 * (query/aggregate.h) on small hand-computed inputs: values, result types,
 * selector times, ties, empty input, percentile edges, infinities, type
 * errors, the buffer cap, and each transformation on irregular timestamps.
 */
#include "lsm/status.h"
#include "query/aggregate.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>

#define S INT64_C(1000000000)

static query_value F(double f) { return query_value_float(f); }
static query_value I(int64_t i) { return query_value_integer(i); }
static query_value U(uint64_t u) { return query_value_unsigned(u); }
static query_value B(bool b) { return query_value_boolean(b); }
static query_value STR(const char *s) { return query_value_string(s, strlen(s)); }

/* Runs fn over (times[i], vals[i]) and returns its rows. */
static size_t run(query_agg *a, enum query_agg_fn fn, const query_agg_args *args,
		  const int64_t *times, const query_value *vals, size_t n,
		  const query_agg_row **rows)
{
	size_t n_rows = 99;

	assert_int_equal(query_agg_init(a, fn, args), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(query_agg_add(a, times[i], vals[i]), 0);
	assert_int_equal(query_agg_result(a, rows, &n_rows), 0);
	return n_rows;
}

/*
 * One row expected: checks its type and time, returns it. The accumulator is
 * gone on return, so callers must not read a string row's bytes.
 */
static query_agg_row one(enum query_agg_fn fn, const query_agg_args *args,
			 const int64_t *times, const query_value *vals, size_t n,
			 enum query_value_type type, bool has_time, int64_t time_ns)
{
	query_agg a;
	const query_agg_row *rows;
	query_agg_row r;

	assert_int_equal(run(&a, fn, args, times, vals, n, &rows), 1);
	r = rows[0];
	assert_int_equal(r.value.type, type);
	assert_int_equal(r.has_time, has_time);
	if (has_time)
		assert_int_equal(r.time_ns, time_ns);
	query_agg_deinit(&a);
	return r;
}

static const int64_t T5[] = { 10, 20, 30, 40, 50 };

static void test_aggregate_count_sum_mean(void **state)
{
	(void)state;
	const query_value iv[] = { I(3), I(-1), I(4), I(1), I(-5) };
	const query_value fv[] = { F(1.5), F(2.5), F(-1.0), F(0.25), F(0) };
	const query_value uv[] = { U(1), U(2), U(UINT64_MAX - 10), U(0), U(7) };
	const query_value sv[] = { STR("a"), STR("b"), STR("") };
	const query_value bv[] = { B(true), B(false) };
	query_agg_row r;

	r = one(QUERY_AGG_COUNT, NULL, T5, iv, 5, QUERY_VALUE_INTEGER, false, 0);
	assert_int_equal(r.value.v.i, 5);
	r = one(QUERY_AGG_COUNT, NULL, T5, sv, 3, QUERY_VALUE_INTEGER, false, 0);
	assert_int_equal(r.value.v.i, 3);
	r = one(QUERY_AGG_COUNT, NULL, T5, bv, 2, QUERY_VALUE_INTEGER, false, 0);
	assert_int_equal(r.value.v.i, 2);

	r = one(QUERY_AGG_SUM, NULL, T5, iv, 5, QUERY_VALUE_INTEGER, false, 0);
	assert_int_equal(r.value.v.i, 2);
	r = one(QUERY_AGG_SUM, NULL, T5, fv, 5, QUERY_VALUE_FLOAT, false, 0);
	assert_true(r.value.v.f == 3.25);
	r = one(QUERY_AGG_SUM, NULL, T5, uv, 5, QUERY_VALUE_UNSIGNED, false, 0);
	assert_true(r.value.v.u == UINT64_MAX); /* 1+2+(MAX-10)+0+7 */

	r = one(QUERY_AGG_MEAN, NULL, T5, iv, 5, QUERY_VALUE_FLOAT, false, 0);
	assert_true(r.value.v.f == 0.4);
	r = one(QUERY_AGG_MEAN, NULL, T5, fv, 5, QUERY_VALUE_FLOAT, false, 0);
	assert_true(r.value.v.f == 0.65);

	/* Integer mean stays exact where a double sum would not. */
	const query_value big[] = { I(INT64_MAX), I(INT64_MAX), I(-INT64_MAX) };
	r = one(QUERY_AGG_MEAN, NULL, T5, big, 3, QUERY_VALUE_FLOAT, false, 0);
	assert_true(fabs(r.value.v.f - (double)INT64_MAX / 3) < 1e3);
}

static void test_aggregate_empty_gives_no_row(void **state)
{
	(void)state;
	query_agg_args args = { .n = 2, .percentile = 50 };

	for (int fn = QUERY_AGG_COUNT; fn < QUERY_AGG__COUNT; fn++) {
		query_agg a;
		const query_agg_row *rows;
		size_t n = 99;

		assert_int_equal(query_agg_init(&a, fn, &args), 0);
		assert_int_equal(query_agg_result(&a, &rows, &n), 0);
		assert_int_equal(n, 0);
		query_agg_deinit(&a);
	}
}

static void test_aggregate_type_errors(void **state)
{
	(void)state;
	static const enum query_agg_fn numeric[] = {
		QUERY_AGG_SUM, QUERY_AGG_MEAN, QUERY_AGG_MEDIAN, QUERY_AGG_SPREAD,
		QUERY_AGG_STDDEV, QUERY_AGG_INTEGRAL, QUERY_AGG_PERCENTILE,
		QUERY_AGG_TOP, QUERY_AGG_BOTTOM, QUERY_AGG_MIN, QUERY_AGG_MAX,
	};
	query_agg_args args = { .n = 2, .percentile = 50 };
	query_agg a;

	for (size_t i = 0; i < sizeof(numeric) / sizeof(numeric[0]); i++) {
		char want[64];

		assert_int_equal(query_agg_init(&a, numeric[i], &args), 0);
		assert_int_equal(query_agg_add(&a, 1, STR("x")), STRATA_ETYPE);
		snprintf(want, sizeof(want), "%s(): string", query_agg_fn_name(numeric[i]));
		assert_non_null(strstr(strata_last_error(), want));
		query_agg_deinit(&a);
	}
	/* Booleans: refused by mean, accepted by min/max as in InfluxDB. */
	assert_int_equal(query_agg_init(&a, QUERY_AGG_MEAN, NULL), 0);
	assert_int_equal(query_agg_add(&a, 1, B(true)), STRATA_ETYPE);
	assert_non_null(strstr(strata_last_error(), "mean(): boolean"));
	query_agg_deinit(&a);

	/* A type change inside one bucket. */
	assert_int_equal(query_agg_init(&a, QUERY_AGG_COUNT, NULL), 0);
	assert_int_equal(query_agg_add(&a, 1, I(1)), 0);
	assert_int_equal(query_agg_add(&a, 2, F(1)), STRATA_ETYPE);
	assert_non_null(strstr(strata_last_error(), "float value among integer"));
	query_agg_deinit(&a);

	assert_int_equal(query_agg_init(&a, (enum query_agg_fn)0, NULL), STRATA_EINVAL);
	assert_int_equal(query_agg_init(&a, QUERY_AGG_TOP, NULL), STRATA_EINVAL);
	/* A failed init leaves nothing usable behind, and says so. */
	assert_int_equal(query_agg_add(&a, 1, F(1)), STRATA_EINVAL);
	assert_string_equal(query_agg_fn_name(QUERY_AGG_PERCENTILE), "percentile");
	assert_string_equal(query_transform_fn_name(QUERY_TRANSFORM_NON_NEGATIVE_DERIVATIVE),
			    "non_negative_derivative");
	assert_string_equal(query_value_type_name(QUERY_VALUE_UNSIGNED), "unsigned");
	args.percentile = NAN;
	assert_int_equal(query_agg_init(&a, QUERY_AGG_PERCENTILE, &args), STRATA_EINVAL);
}

static void test_aggregate_min_max_ties_and_booleans(void **state)
{
	(void)state;
	const int64_t t[] = { 50, 10, 30, 20, 40 };
	const query_value v[] = { I(7), I(7), I(-2), I(-2), I(3) };
	const query_value bv[] = { B(true), B(false), B(true), B(false) };
	const query_value uv[] = { U(5), U(0), U(9) };
	query_agg_row r;

	/* Equal values: the earliest point wins. */
	r = one(QUERY_AGG_MAX, NULL, t, v, 5, QUERY_VALUE_INTEGER, true, 10);
	assert_int_equal(r.value.v.i, 7);
	r = one(QUERY_AGG_MIN, NULL, t, v, 5, QUERY_VALUE_INTEGER, true, 20);
	assert_int_equal(r.value.v.i, -2);
	r = one(QUERY_AGG_MAX, NULL, t, bv, 4, QUERY_VALUE_BOOLEAN, true, 30);
	assert_true(r.value.v.b);
	r = one(QUERY_AGG_MIN, NULL, t, bv, 4, QUERY_VALUE_BOOLEAN, true, 10);
	assert_false(r.value.v.b);
	r = one(QUERY_AGG_MIN, NULL, t, uv, 3, QUERY_VALUE_UNSIGNED, true, 10);
	assert_true(r.value.v.u == 0);

	const query_value inf[] = { F(1), F(-INFINITY), F(INFINITY) };
	r = one(QUERY_AGG_MAX, NULL, T5, inf, 3, QUERY_VALUE_FLOAT, true, 30);
	assert_true(isinf(r.value.v.f) && r.value.v.f > 0);
	r = one(QUERY_AGG_MIN, NULL, T5, inf, 3, QUERY_VALUE_FLOAT, true, 20);
	assert_true(isinf(r.value.v.f) && r.value.v.f < 0);
}

static void test_aggregate_first_last(void **state)
{
	(void)state;
	const int64_t t[] = { 30, 10, 50, 10, 50 };
	const query_value v[] = { F(1), F(2), F(3), F(5), F(4) };
	const query_value sv[] = { STR("mid"), STR("early"), STR("late"), STR("zz"), STR("a") };
	query_agg_row r;

	/* Same time: the greater value wins, as in InfluxDB. */
	r = one(QUERY_AGG_FIRST, NULL, t, v, 5, QUERY_VALUE_FLOAT, true, 10);
	assert_true(r.value.v.f == 5);
	r = one(QUERY_AGG_LAST, NULL, t, v, 5, QUERY_VALUE_FLOAT, true, 50);
	assert_true(r.value.v.f == 4);

	/* Strings are copied: the caller's buffer may change after add. */
	query_agg a;
	const query_agg_row *rows;
	size_t n;
	char buf[16];

	assert_int_equal(query_agg_init(&a, QUERY_AGG_LAST, NULL), 0);
	for (size_t i = 0; i < 5; i++) {
		snprintf(buf, sizeof(buf), "%.*s", (int)sv[i].v.s.len, sv[i].v.s.ptr);
		assert_int_equal(query_agg_add(&a, t[i], STR(buf)), 0);
		memset(buf, 'X', sizeof(buf) - 1);
	}
	assert_int_equal(query_agg_result(&a, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].time_ns, 50);
	assert_int_equal(rows[0].value.v.s.len, 4);
	assert_memory_equal(rows[0].value.v.s.ptr, "late", 4);

	/* The next bucket reuses the accumulator. */
	query_agg_reset(&a);
	assert_int_equal(query_agg_result(&a, &rows, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(query_agg_add(&a, 7, B(false)), 0);
	assert_int_equal(query_agg_result(&a, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].value.type, QUERY_VALUE_BOOLEAN);
	query_agg_deinit(&a);

	/* "zz" > "early" at time 10. */
	assert_int_equal(run(&a, QUERY_AGG_FIRST, NULL, t, sv, 5, &rows), 1);
	assert_int_equal(rows[0].time_ns, 10);
	assert_int_equal(rows[0].value.v.s.len, 2);
	assert_memory_equal(rows[0].value.v.s.ptr, "zz", 2);
	query_agg_deinit(&a);
}

static void test_aggregate_spread_stddev(void **state)
{
	(void)state;
	const query_value iv[] = { I(3), I(-1), I(4), I(1), I(-5) };
	const query_value fv[] = { F(2), F(4), F(4), F(4), F(5), F(5), F(7), F(9) };
	const query_value uv[] = { U(10), U(3), U(8) };
	const int64_t t8[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	query_agg_row r;

	r = one(QUERY_AGG_SPREAD, NULL, T5, iv, 5, QUERY_VALUE_INTEGER, false, 0);
	assert_int_equal(r.value.v.i, 9);
	r = one(QUERY_AGG_SPREAD, NULL, T5, uv, 3, QUERY_VALUE_UNSIGNED, false, 0);
	assert_true(r.value.v.u == 7);
	r = one(QUERY_AGG_SPREAD, NULL, t8, fv, 8, QUERY_VALUE_FLOAT, false, 0);
	assert_true(r.value.v.f == 7);

	/* Sample standard deviation: sum of squares 32 over n-1 = 7. */
	r = one(QUERY_AGG_STDDEV, NULL, t8, fv, 8, QUERY_VALUE_FLOAT, false, 0);
	assert_true(fabs(r.value.v.f - sqrt(32.0 / 7.0)) < 1e-12);
	r = one(QUERY_AGG_STDDEV, NULL, T5, iv, 5, QUERY_VALUE_FLOAT, false, 0);
	/* mean 0.4; squares 6.76+1.96+12.96+0.36+29.16 = 51.2; /4 */
	assert_true(fabs(r.value.v.f - sqrt(12.8)) < 1e-12);
	/* One value: NaN, as InfluxDB. */
	r = one(QUERY_AGG_STDDEV, NULL, T5, iv, 1, QUERY_VALUE_FLOAT, false, 0);
	assert_true(isnan(r.value.v.f));

	const query_value inf[] = { F(1), F(INFINITY), F(-INFINITY) };
	r = one(QUERY_AGG_SPREAD, NULL, T5, inf, 3, QUERY_VALUE_FLOAT, false, 0);
	assert_true(isinf(r.value.v.f));
	r = one(QUERY_AGG_STDDEV, NULL, T5, inf, 3, QUERY_VALUE_FLOAT, false, 0);
	assert_true(isnan(r.value.v.f));
}

static void test_aggregate_median_mode(void **state)
{
	(void)state;
	const query_value iv[] = { I(9), I(1), I(4), I(2) };
	const query_value fv[] = { F(9), F(1), F(4), F(2), F(-3) };
	const int64_t t[] = { 60, 10, 40, 20, 30, 50 };
	const query_value mv[] = { I(5), I(2), I(5), I(2), I(7), I(9) };
	const query_value sv[] = { STR("b"), STR("a"), STR("b"), STR("c") };
	const query_value bv[] = { B(true), B(false), B(false), B(true) };
	query_agg_row r;

	r = one(QUERY_AGG_MEDIAN, NULL, T5, iv, 4, QUERY_VALUE_FLOAT, false, 0);
	assert_true(r.value.v.f == 3.0);
	r = one(QUERY_AGG_MEDIAN, NULL, T5, fv, 5, QUERY_VALUE_FLOAT, false, 0);
	assert_true(r.value.v.f == 2.0);
	const query_value odd[] = { I(1), I(2) };
	r = one(QUERY_AGG_MEDIAN, NULL, T5, odd, 2, QUERY_VALUE_FLOAT, false, 0);
	assert_true(r.value.v.f == 1.5);

	/* 5 and 2 both twice; 2 was seen first (time 10). */
	r = one(QUERY_AGG_MODE, NULL, t, mv, 6, QUERY_VALUE_INTEGER, false, 0);
	assert_int_equal(r.value.v.i, 2);
	query_agg a;
	const query_agg_row *rows;

	/* Row strings live in the accumulator: check them before deinit. */
	assert_int_equal(run(&a, QUERY_AGG_MODE, NULL, t, sv, 4, &rows), 1);
	assert_int_equal(rows[0].value.type, QUERY_VALUE_STRING);
	assert_int_equal(rows[0].value.v.s.len, 1);
	assert_memory_equal(rows[0].value.v.s.ptr, "b", 1);
	query_agg_deinit(&a);
	/* Booleans: true wins a tie. */
	r = one(QUERY_AGG_MODE, NULL, t, bv, 4, QUERY_VALUE_BOOLEAN, false, 0);
	assert_true(r.value.v.b);
	r = one(QUERY_AGG_MODE, NULL, t, bv + 1, 2, QUERY_VALUE_BOOLEAN, false, 0);
	assert_false(r.value.v.b);
}

static void test_aggregate_percentile(void **state)
{
	(void)state;
	/* sorted: 1@20 2@50 3@10 4@40 5@30 */
	const int64_t t[] = { 10, 20, 30, 40, 50 };
	const query_value v[] = { I(3), I(1), I(5), I(4), I(2) };
	query_agg_args args = { 0 };
	query_agg a;
	const query_agg_row *rows;
	query_agg_row r;

	args.percentile = 50; /* floor(2.5 + 0.5) - 1 = 2 */
	r = one(QUERY_AGG_PERCENTILE, &args, t, v, 5, QUERY_VALUE_INTEGER, true, 10);
	assert_int_equal(r.value.v.i, 3);
	args.percentile = 100;
	r = one(QUERY_AGG_PERCENTILE, &args, t, v, 5, QUERY_VALUE_INTEGER, true, 30);
	assert_int_equal(r.value.v.i, 5);
	args.percentile = 20; /* floor(1.5) - 1 = 0 */
	r = one(QUERY_AGG_PERCENTILE, &args, t, v, 5, QUERY_VALUE_INTEGER, true, 20);
	assert_int_equal(r.value.v.i, 1);
	args.percentile = 90; /* floor(5.0) - 1 = 4 */
	r = one(QUERY_AGG_PERCENTILE, &args, t, v, 5, QUERY_VALUE_INTEGER, true, 30);
	assert_int_equal(r.value.v.i, 5);

	/* Ranks outside the values give no row. */
	args.percentile = 0;
	assert_int_equal(run(&a, QUERY_AGG_PERCENTILE, &args, t, v, 5, &rows), 0);
	query_agg_deinit(&a);
	args.percentile = 9; /* floor(0.95) - 1 = -1 */
	assert_int_equal(run(&a, QUERY_AGG_PERCENTILE, &args, t, v, 5, &rows), 0);
	query_agg_deinit(&a);
	args.percentile = 150;
	assert_int_equal(run(&a, QUERY_AGG_PERCENTILE, &args, t, v, 5, &rows), 0);
	query_agg_deinit(&a);
	args.percentile = 1e300;
	assert_int_equal(run(&a, QUERY_AGG_PERCENTILE, &args, t, v, 5, &rows), 0);
	query_agg_deinit(&a);

	const query_value fv[] = { F(0.5), F(-INFINITY) };
	args.percentile = 50;
	r = one(QUERY_AGG_PERCENTILE, &args, t, fv, 2, QUERY_VALUE_FLOAT, true, 20);
	assert_true(isinf(r.value.v.f));
}

static void test_aggregate_distinct(void **state)
{
	(void)state;
	const int64_t t[] = { 1, 2, 3, 4, 5, 6 };
	const query_value v[] = { I(3), I(-1), I(3), I(7), I(-1), I(0) };
	const query_value sv[] = { STR("b"), STR("a"), STR("b") };
	query_agg a;
	const query_agg_row *rows;

	assert_int_equal(run(&a, QUERY_AGG_DISTINCT, NULL, t, v, 6, &rows), 4);
	assert_int_equal(rows[0].value.v.i, -1);
	assert_int_equal(rows[1].value.v.i, 0);
	assert_int_equal(rows[2].value.v.i, 3);
	assert_int_equal(rows[3].value.v.i, 7);
	assert_int_equal(rows[3].value.type, QUERY_VALUE_INTEGER);
	assert_false(rows[0].has_time);
	query_agg_deinit(&a);

	assert_int_equal(run(&a, QUERY_AGG_DISTINCT, NULL, t, sv, 3, &rows), 2);
	assert_memory_equal(rows[0].value.v.s.ptr, "a", 1);
	assert_memory_equal(rows[1].value.v.s.ptr, "b", 1);
	query_agg_deinit(&a);
}

static void test_aggregate_top_bottom(void **state)
{
	(void)state;
	const int64_t t[] = { 10, 20, 30, 40, 50, 60 };
	const query_value v[] = { F(5), F(9), F(1), F(9), F(5), F(0) };
	query_agg_args args = { .n = 3 };
	query_agg a;
	const query_agg_row *rows;

	/* top 3: 9@20, 9@40, then 5@10 (earlier of the two 5s); in time order. */
	assert_int_equal(run(&a, QUERY_AGG_TOP, &args, t, v, 6, &rows), 3);
	assert_int_equal(rows[0].time_ns, 10);
	assert_true(rows[0].value.v.f == 5);
	assert_int_equal(rows[1].time_ns, 20);
	assert_int_equal(rows[2].time_ns, 40);
	assert_true(rows[2].has_time);
	query_agg_deinit(&a);

	/* bottom 3: 0@60, 1@30, 5@10. */
	assert_int_equal(run(&a, QUERY_AGG_BOTTOM, &args, t, v, 6, &rows), 3);
	assert_int_equal(rows[0].time_ns, 10);
	assert_int_equal(rows[1].time_ns, 30);
	assert_int_equal(rows[2].time_ns, 60);
	assert_true(rows[2].value.v.f == 0);
	query_agg_deinit(&a);

	/* N beyond the points: all of them. */
	args.n = 10;
	assert_int_equal(run(&a, QUERY_AGG_BOTTOM, &args, t, v, 2, &rows), 2);
	query_agg_deinit(&a);
}

static void test_aggregate_sample(void **state)
{
	(void)state;
	query_agg_args args = { .n = 4, .seed = 42 };
	query_agg a;
	const query_agg_row *rows;
	size_t n;
	bool seen[100] = { 0 };

	assert_int_equal(query_agg_init(&a, QUERY_AGG_SAMPLE, &args), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(query_agg_add(&a, i * 10, I(i)), 0);
	assert_int_equal(query_agg_result(&a, &rows, &n), 0);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++) {
		/* Each row is a real input point, distinct, in time order. */
		assert_int_equal(rows[i].time_ns, rows[i].value.v.i * 10);
		assert_true(rows[i].has_time);
		assert_false(seen[rows[i].value.v.i]);
		seen[rows[i].value.v.i] = true;
		if (i)
			assert_true(rows[i].time_ns > rows[i - 1].time_ns);
	}
	query_agg_deinit(&a);

	/* Fewer points than N: all of them. */
	const query_value sv[] = { STR("x"), STR("y") };
	assert_int_equal(run(&a, QUERY_AGG_SAMPLE, &args, T5, sv, 2, &rows), 2);
	assert_memory_equal(rows[1].value.v.s.ptr, "y", 1);
	query_agg_deinit(&a);
}

static void test_aggregate_integral(void **state)
{
	(void)state;
	/* Irregular: 0s:2, 1s:4, 3s:0, 3s:10 (replaces), 4s:10. */
	const int64_t t[] = { 0, 1 * S, 3 * S, 3 * S, 4 * S };
	const query_value v[] = { I(2), I(4), I(0), I(10), I(10) };
	query_agg_args args = { 0 };
	query_agg_row r;

	/* 3 + 4 + 0 (duplicate) + 10 = 17 value-seconds. */
	r = one(QUERY_AGG_INTEGRAL, NULL, t, v, 5, QUERY_VALUE_FLOAT, false, 0);
	assert_true(fabs(r.value.v.f - 17.0) < 1e-9);
	args.unit_ns = 60 * S;
	r = one(QUERY_AGG_INTEGRAL, &args, t, v, 5, QUERY_VALUE_FLOAT, false, 0);
	assert_true(fabs(r.value.v.f - 17.0 / 60) < 1e-12);
	args.unit_ns = S / 1000;
	r = one(QUERY_AGG_INTEGRAL, &args, t, v, 5, QUERY_VALUE_FLOAT, false, 0);
	assert_true(fabs(r.value.v.f - 17000.0) < 1e-6);
	/* One point: no area. */
	r = one(QUERY_AGG_INTEGRAL, NULL, t, v, 1, QUERY_VALUE_FLOAT, false, 0);
	assert_true(r.value.v.f == 0);
	args.unit_ns = -1;
	query_agg a;
	assert_int_equal(query_agg_init(&a, QUERY_AGG_INTEGRAL, &args), STRATA_EINVAL);
}

static void test_aggregate_integral_across_buckets(void **state)
{
	(void)state;
	/* Buckets of 10s: 0@2s, 8@6s | 4@14s, 4@18s. The 6s..14s trapezoid is
	 * cut at 10s where the line is at 6. */
	query_agg a, b;
	query_point carry;
	const query_agg_row *rows;
	size_t n;

	assert_int_equal(query_agg_init(&a, QUERY_AGG_INTEGRAL, NULL), 0);
	assert_int_equal(query_agg_init(&b, QUERY_AGG_INTEGRAL, NULL), 0);
	assert_int_equal(query_agg_add(&a, 2 * S, I(0)), 0);
	assert_int_equal(query_agg_add(&a, 6 * S, I(8)), 0);
	assert_int_equal(query_agg_integral_bridge(&a, 10 * S, 14 * S, I(4), &carry), 0);
	assert_int_equal(carry.time_ns, 10 * S);
	assert_int_equal(carry.value.type, QUERY_VALUE_FLOAT);
	assert_true(fabs(carry.value.v.f - 6.0) < 1e-12);
	assert_int_equal(query_agg_add(&b, carry.time_ns, carry.value), 0);
	assert_int_equal(query_agg_add(&b, 14 * S, I(4)), 0);
	assert_int_equal(query_agg_add(&b, 18 * S, I(4)), 0);

	/* a: 16 + (8+6)/2*4 = 44; b: (6+4)/2*4 + 16 = 36. */
	assert_int_equal(query_agg_result(&a, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_true(fabs(rows[0].value.v.f - 44.0) < 1e-9);
	assert_int_equal(query_agg_result(&b, &rows, &n), 0);
	assert_true(fabs(rows[0].value.v.f - 36.0) < 1e-9);

	/* Misuse is refused. */
	assert_int_equal(query_agg_integral_bridge(&b, 10 * S, 30 * S, I(1), &carry), STRATA_EINVAL);
	assert_int_equal(query_agg_integral_bridge(&b, 20 * S, 30 * S, STR("x"), &carry), STRATA_ETYPE);
	query_agg_reset(&b);
	assert_int_equal(query_agg_integral_bridge(&b, 20 * S, 30 * S, I(1), &carry), STRATA_EINVAL);
	query_agg_deinit(&a);
	query_agg_deinit(&b);
}

static void test_aggregate_buffer_cap(void **state)
{
	(void)state;
	query_agg_args args = { .max_values = 3, .percentile = 50, .n = 3 };
	static const enum query_agg_fn buffered[] = {
		QUERY_AGG_MEDIAN, QUERY_AGG_MODE, QUERY_AGG_PERCENTILE, QUERY_AGG_DISTINCT,
	};
	query_agg a;

	for (size_t i = 0; i < sizeof(buffered) / sizeof(buffered[0]); i++) {
		const query_agg_row *rows;
		size_t n;

		assert_int_equal(query_agg_init(&a, buffered[i], &args), 0);
		for (int k = 0; k < 3; k++)
			assert_int_equal(query_agg_add(&a, k, I(k)), 0);
		strata_error_clear();
		assert_int_equal(query_agg_add(&a, 9, I(9)), STRATA_ETOOBIG);
		assert_non_null(strstr(strata_last_error(), query_agg_fn_name(buffered[i])));
		assert_non_null(strstr(strata_last_error(), "more than 3 values"));
		/* The failed add changed nothing. */
		assert_int_equal(query_agg_result(&a, &rows, &n), 0);
		if (buffered[i] != QUERY_AGG_DISTINCT)
			assert_int_equal(n, 1);
		else
			assert_int_equal(n, 3);
		query_agg_deinit(&a);
	}
	/* top/bottom/sample keep N values: more points are fine, N > cap is not. */
	assert_int_equal(query_agg_init(&a, QUERY_AGG_TOP, &args), 0);
	for (int k = 0; k < 50; k++)
		assert_int_equal(query_agg_add(&a, k, I(k % 7)), 0);
	query_agg_deinit(&a);
	args.n = 4;
	assert_int_equal(query_agg_init(&a, QUERY_AGG_SAMPLE, &args), STRATA_ETOOBIG);
	assert_non_null(strstr(strata_last_error(), "sample()"));
	/* Counting functions need no buffer. */
	assert_int_equal(query_agg_init(&a, QUERY_AGG_COUNT, &args), 0);
	for (int k = 0; k < 50; k++)
		assert_int_equal(query_agg_add(&a, k, I(k)), 0);
	query_agg_deinit(&a);
}

/* Feeds a transform; returns the number of outputs written to out. */
static size_t feed(query_transform *t, const int64_t *times, const query_value *vals,
		   size_t n, query_point *out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		bool emitted;

		assert_int_equal(query_transform_push(t, times[i], vals[i], &out[k], &emitted), 0);
		if (emitted)
			k++;
	}
	return k;
}

/* Irregular times: 0s, 2s, 2s (duplicate), 3s, 7s, 7.5s. */
static const int64_t TT[] = { 0, 2 * S, 2 * S, 3 * S, 7 * S, 7 * S + S / 2 };
static const query_value TV[] = { { .type = QUERY_VALUE_INTEGER, .v.i = 10 },
				  { .type = QUERY_VALUE_INTEGER, .v.i = 14 },
				  { .type = QUERY_VALUE_INTEGER, .v.i = 99 },
				  { .type = QUERY_VALUE_INTEGER, .v.i = 11 },
				  { .type = QUERY_VALUE_INTEGER, .v.i = 19 },
				  { .type = QUERY_VALUE_INTEGER, .v.i = 20 } };

static void test_aggregate_derivative(void **state)
{
	(void)state;
	query_transform t;
	query_transform_args args = { 0 };
	query_point out[8];

	assert_int_equal(query_transform_init(&t, QUERY_TRANSFORM_DERIVATIVE, &args), 0);
	assert_int_equal(feed(&t, TT, TV, 6, out), 4);
	assert_int_equal(out[0].time_ns, 2 * S);
	assert_int_equal(out[0].value.type, QUERY_VALUE_FLOAT);
	assert_true(out[0].value.v.f == 2.0);  /* (14-10)/2s */
	assert_true(out[1].value.v.f == -3.0); /* (11-14)/1s */
	assert_true(out[2].value.v.f == 2.0);  /* (19-11)/4s */
	assert_true(out[3].value.v.f == 2.0);  /* (20-19)/0.5s */
	assert_int_equal(out[3].time_ns, 7 * S + S / 2);
	query_transform_deinit(&t);

	args.unit_ns = 60 * S;
	assert_int_equal(query_transform_init(&t, QUERY_TRANSFORM_NON_NEGATIVE_DERIVATIVE, &args), 0);
	assert_int_equal(feed(&t, TT, TV, 6, out), 3);
	assert_true(fabs(out[0].value.v.f - 120.0) < 1e-9);
	assert_int_equal(out[1].time_ns, 7 * S); /* from 11@3s, whose drop was dropped */
	assert_true(fabs(out[1].value.v.f - 120.0) < 1e-9);
	assert_true(fabs(out[2].value.v.f - 120.0) < 1e-9);
	query_transform_deinit(&t);

	/* Unsigned going down gives a negative float. */
	const int64_t ut[] = { 0, S };
	const query_value uv[] = { U(10), U(4) };
	assert_int_equal(query_transform_init(&t, QUERY_TRANSFORM_DERIVATIVE, NULL), 0);
	assert_int_equal(feed(&t, ut, uv, 2, out), 1);
	assert_true(out[0].value.v.f == -6.0);
	/* Reset: a new series starts without a previous point. */
	query_transform_reset(&t);
	assert_int_equal(feed(&t, ut, TV, 1, out), 0);
	query_transform_deinit(&t);
}

static void test_aggregate_difference(void **state)
{
	(void)state;
	query_transform t;
	query_point out[8];

	assert_int_equal(query_transform_init(&t, QUERY_TRANSFORM_DIFFERENCE, NULL), 0);
	assert_int_equal(feed(&t, TT, TV, 6, out), 4);
	assert_int_equal(out[0].value.type, QUERY_VALUE_INTEGER);
	assert_int_equal(out[0].value.v.i, 4);
	assert_int_equal(out[1].value.v.i, -3);
	assert_int_equal(out[2].value.v.i, 8);
	assert_int_equal(out[3].value.v.i, 1);
	assert_int_equal(out[3].time_ns, 7 * S + S / 2);
	query_transform_deinit(&t);

	assert_int_equal(query_transform_init(&t, QUERY_TRANSFORM_NON_NEGATIVE_DIFFERENCE, NULL), 0);
	assert_int_equal(feed(&t, TT, TV, 6, out), 3);
	assert_int_equal(out[0].value.v.i, 4);
	assert_int_equal(out[1].value.v.i, 8);
	assert_int_equal(out[1].time_ns, 7 * S);
	query_transform_deinit(&t);

	const query_value fv[] = { F(1.5), F(1.0), F(INFINITY) };
	assert_int_equal(query_transform_init(&t, QUERY_TRANSFORM_DIFFERENCE, NULL), 0);
	assert_int_equal(feed(&t, T5, fv, 3, out), 2);
	assert_int_equal(out[0].value.type, QUERY_VALUE_FLOAT);
	assert_true(out[0].value.v.f == -0.5);
	assert_true(isinf(out[1].value.v.f));
	/* Strings and type changes are refused. */
	bool emitted;
	assert_int_equal(query_transform_push(&t, 99, STR("x"), out, &emitted), STRATA_ETYPE);
	assert_non_null(strstr(strata_last_error(), "difference(): string"));
	assert_int_equal(query_transform_push(&t, 99, I(1), out, &emitted), STRATA_ETYPE);
	assert_false(emitted);
	query_transform_deinit(&t);

	const query_value uv[] = { U(5), U(3), U(8) };
	assert_int_equal(query_transform_init(&t, QUERY_TRANSFORM_NON_NEGATIVE_DIFFERENCE, NULL), 0);
	assert_int_equal(feed(&t, T5, uv, 3, out), 1);
	assert_int_equal(out[0].value.type, QUERY_VALUE_UNSIGNED);
	assert_true(out[0].value.v.u == 5);
	query_transform_deinit(&t);
}

static void test_aggregate_moving_average(void **state)
{
	(void)state;
	query_transform t;
	query_transform_args args = { .n = 3 };
	query_point out[8];
	const query_value v[] = { I(1), I(2), I(6), I(4), I(-3) };

	assert_int_equal(query_transform_init(&t, QUERY_TRANSFORM_MOVING_AVERAGE, &args), 0);
	assert_int_equal(feed(&t, T5, v, 5, out), 3);
	assert_int_equal(out[0].time_ns, 30);
	assert_int_equal(out[0].value.type, QUERY_VALUE_FLOAT);
	assert_true(out[0].value.v.f == 3.0);
	assert_true(out[1].value.v.f == 4.0);
	assert_true(fabs(out[2].value.v.f - 7.0 / 3) < 1e-12);
	assert_int_equal(out[2].time_ns, 50);
	query_transform_deinit(&t);

	/* An infinity leaves the window again: later averages are finite. */
	const query_value fv[] = { F(INFINITY), F(1), F(2), F(3) };
	args.n = 2;
	assert_int_equal(query_transform_init(&t, QUERY_TRANSFORM_MOVING_AVERAGE, &args), 0);
	assert_int_equal(feed(&t, T5, fv, 4, out), 3);
	assert_true(isinf(out[0].value.v.f));
	assert_true(out[1].value.v.f == 1.5);
	assert_true(out[2].value.v.f == 2.5);
	query_transform_deinit(&t);

	args.n = 1;
	assert_int_equal(query_transform_init(&t, QUERY_TRANSFORM_MOVING_AVERAGE, &args), STRATA_EINVAL);
	args.n = 10;
	args.max_values = 5;
	assert_int_equal(query_transform_init(&t, QUERY_TRANSFORM_MOVING_AVERAGE, &args), STRATA_ETOOBIG);
}

static void test_aggregate_cumulative_sum_elapsed(void **state)
{
	(void)state;
	query_transform t;
	query_transform_args args = { 0 };
	query_point out[8];
	const query_value fv[] = { F(0.5), F(-2), F(4) };

	assert_int_equal(query_transform_init(&t, QUERY_TRANSFORM_CUMULATIVE_SUM, NULL), 0);
	assert_int_equal(feed(&t, TT, TV, 3, out), 3);
	assert_int_equal(out[0].value.type, QUERY_VALUE_INTEGER);
	assert_int_equal(out[0].value.v.i, 10);
	assert_int_equal(out[1].value.v.i, 24);
	assert_int_equal(out[2].value.v.i, 123);
	query_transform_reset(&t);
	assert_int_equal(feed(&t, T5, fv, 3, out), 3);
	assert_int_equal(out[2].value.type, QUERY_VALUE_FLOAT);
	assert_true(out[2].value.v.f == 2.5);
	assert_int_equal(out[2].time_ns, 30);
	query_transform_deinit(&t);

	/* elapsed: integer (time difference / unit, truncated), any type. */
	const query_value sv[] = { STR("a"), STR("b"), STR("c"), STR("d"), STR("e"), STR("f") };
	args.unit_ns = S;
	assert_int_equal(query_transform_init(&t, QUERY_TRANSFORM_ELAPSED, &args), 0);
	assert_int_equal(feed(&t, TT, sv, 6, out), 5);
	assert_int_equal(out[0].value.type, QUERY_VALUE_INTEGER);
	assert_int_equal(out[0].value.v.i, 2);
	assert_int_equal(out[1].value.v.i, 0);
	assert_int_equal(out[2].value.v.i, 1);
	assert_int_equal(out[3].value.v.i, 4);
	assert_int_equal(out[4].value.v.i, 0); /* 0.5s truncated */
	assert_int_equal(out[4].time_ns, 7 * S + S / 2);
	query_transform_deinit(&t);

	assert_int_equal(query_transform_init(&t, QUERY_TRANSFORM_ELAPSED, NULL), 0);
	assert_int_equal(feed(&t, TT, TV, 2, out), 1);
	assert_int_equal(out[0].value.v.i, 2 * S); /* default unit 1ns */
	query_transform_deinit(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aggregate_count_sum_mean),
		cmocka_unit_test(test_aggregate_empty_gives_no_row),
		cmocka_unit_test(test_aggregate_type_errors),
		cmocka_unit_test(test_aggregate_min_max_ties_and_booleans),
		cmocka_unit_test(test_aggregate_first_last),
		cmocka_unit_test(test_aggregate_spread_stddev),
		cmocka_unit_test(test_aggregate_median_mode),
		cmocka_unit_test(test_aggregate_percentile),
		cmocka_unit_test(test_aggregate_distinct),
		cmocka_unit_test(test_aggregate_top_bottom),
		cmocka_unit_test(test_aggregate_sample),
		cmocka_unit_test(test_aggregate_integral),
		cmocka_unit_test(test_aggregate_integral_across_buckets),
		cmocka_unit_test(test_aggregate_buffer_cap),
		cmocka_unit_test(test_aggregate_derivative),
		cmocka_unit_test(test_aggregate_difference),
		cmocka_unit_test(test_aggregate_moving_average),
		cmocka_unit_test(test_aggregate_cumulative_sum_elapsed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
