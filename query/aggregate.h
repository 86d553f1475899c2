/*
 * aggregate.h — InfluxQL aggregate, selector and transformation functions,
 * computed as InfluxDB 1.x computes them, independent of storage and parsing.
 *
 * Aggregates and selectors: one query_agg per (function, series, time
 * bucket). The executor feeds the bucket's points with query_agg_add() (in
 * any order for the order-free functions; in time order for integral()), then
 * asks query_agg_result() for the output rows. An accumulator that saw no
 * point gives no row: filling empty buckets (fill(), count's 0) is the
 * executor's business.
 *
 * Result types (InfluxDB 1.x):
 *   count                        integer (any input type)
 *   sum, spread                  the input type (float, integer, unsigned)
 *   mean, median, stddev         float
 *   integral                     float (trapezoids, per unit of time)
 *   mode, distinct               the input type (any input type)
 *   min, max                     the input type (numbers and booleans)
 *   first, last, sample          the input type (any input type)
 *   percentile, top, bottom      the input type (numbers)
 * A value of a type the function refuses, or of another type than the
 * accumulator's first value (integral excepted: it works on the numbers as
 * floats), fails with STRATA_ETYPE and a message naming the function and the
 * type.
 *
 * Times: the selectors min, max, first, last, percentile, top, bottom and
 * sample return the time of the selected point (row.has_time); the others
 * return rows without a time, which take the bucket's start time.
 *
 * Memory: count, sum, mean, spread, min, max, first, last and integral hold
 * O(1) state. median, mode, percentile, distinct and stddev (which, as
 * InfluxDB, takes the mean before the deviations) keep every value of the
 * bucket; top, bottom and sample keep N values. Those
 * buffers are capped by args.max_values: one value more fails with
 * STRATA_ETOOBIG, and an N above the cap fails at init.
 *
 * Transformations (derivative, non_negative_derivative, difference,
 * non_negative_difference, moving_average, cumulative_sum, elapsed) are
 * stream operators over one series' points in time order (raw points, or
 * the rows of an inner aggregate): each input point gives at most one output
 * point, at the input point's time.
 *
 * Strings: query_value strings are borrowed (ptr, len) and need not be
 * NUL-terminated. An accumulator copies what it keeps; strings in result
 * rows stay valid until the next add, reset or deinit of that accumulator.
 *
 * Threads: an accumulator or transform is used by one thread at a time.
 */
#ifndef STRATA_QUERY_AGGREGATE_H
#define STRATA_QUERY_AGGREGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum query_value_type {
	QUERY_VALUE_NONE = 0, /* no value yet */
	QUERY_VALUE_FLOAT,
	QUERY_VALUE_INTEGER,
	QUERY_VALUE_UNSIGNED,
	QUERY_VALUE_STRING,
	QUERY_VALUE_BOOLEAN,
};

typedef struct query_value {
	enum query_value_type type;
	union {
		double f;
		int64_t i;
		uint64_t u;
		bool b;
		struct {
			const char *ptr;
			size_t len;
		} s;
	} v;
} query_value;

/* Name of a value type as InfluxQL spells it ("float", "integer", ...). */
const char *query_value_type_name(enum query_value_type t);

static inline query_value query_value_float(double f)
{
	query_value q = { .type = QUERY_VALUE_FLOAT };

	q.v.f = f;
	return q;
}

static inline query_value query_value_integer(int64_t i)
{
	query_value q = { .type = QUERY_VALUE_INTEGER };

	q.v.i = i;
	return q;
}

static inline query_value query_value_unsigned(uint64_t u)
{
	query_value q = { .type = QUERY_VALUE_UNSIGNED };

	q.v.u = u;
	return q;
}

static inline query_value query_value_boolean(bool b)
{
	query_value q = { .type = QUERY_VALUE_BOOLEAN };

	q.v.b = b;
	return q;
}

static inline query_value query_value_string(const char *ptr, size_t len)
{
	query_value q = { .type = QUERY_VALUE_STRING };

	q.v.s.ptr = ptr;
	q.v.s.len = len;
	return q;
}

/* One time-stamped value. */
typedef struct query_point {
	int64_t time_ns;
	query_value value;
} query_point;

enum query_agg_fn {
	QUERY_AGG_COUNT = 1,
	QUERY_AGG_SUM,
	QUERY_AGG_MEAN,
	QUERY_AGG_MEDIAN,
	QUERY_AGG_MODE,
	QUERY_AGG_SPREAD,
	QUERY_AGG_STDDEV,
	QUERY_AGG_INTEGRAL,
	QUERY_AGG_DISTINCT,
	QUERY_AGG_MIN,
	QUERY_AGG_MAX,
	QUERY_AGG_FIRST,
	QUERY_AGG_LAST,
	QUERY_AGG_PERCENTILE,
	QUERY_AGG_TOP,
	QUERY_AGG_BOTTOM,
	QUERY_AGG_SAMPLE,
	QUERY_AGG__COUNT
};

/* The InfluxQL name of fn ("count", "non_negative_derivative", ...). */
const char *query_agg_fn_name(enum query_agg_fn fn);

/* Default cap on buffered values per accumulator (args.max_values == 0). */
#define QUERY_AGG_DEFAULT_MAX_VALUES ((size_t)1 << 20)

typedef struct query_agg_args {
	size_t max_values; /* cap on buffered values; 0: the default */
	double percentile; /* percentile(): any finite number */
	int64_t n;         /* top(), bottom(), sample(): N >= 1 */
	int64_t unit_ns;   /* integral(): unit of time; 0: 1s */
	uint64_t seed;     /* sample(): seed of the reservoir's generator */
} query_agg_args;

/* One output row. */
typedef struct query_agg_row {
	query_value value;
	int64_t time_ns; /* the selected point's time when has_time */
	bool has_time;   /* false: the row takes the bucket's start time */
} query_agg_row;

/* A value kept by an accumulator (strings owned by it). */
typedef struct query_agg_item {
	int64_t time_ns;
	query_value value;
} query_agg_item;

/*
 * The accumulator. Fields are private to aggregate.c; the struct is public
 * only so that callers can hold it by value (arrays of buckets).
 */
typedef struct query_agg {
	enum query_agg_fn fn;
	query_agg_args args;
	enum query_value_type type; /* of the first value; NONE before it */
	uint64_t n;                 /* values added */
	/* count, sum, mean, spread */
	double fsum;
	long double lsum; /* mean of integers: exact up to 2^64 */
	uint64_t usum;    /* sum of integers/unsigned, wrapping like InfluxDB */
	query_value lo, hi;
	/* min, max, first, last, integral (prev point) */
	query_agg_item sel;
	char *sel_buf;  /* first/last: storage of sel's string */
	size_t sel_cap; /* bytes allocated at sel_buf */
	double area;
	/* median, mode, percentile, distinct, top, bottom, sample */
	query_agg_item *buf;
	size_t n_buf, cap_buf;
	uint64_t rng;
	/* result rows */
	query_agg_row row;
	query_agg_row *rows;
	size_t cap_rows;
} query_agg;

/*
 * Prepares a for fn. args may be NULL for functions without arguments.
 * Returns 0, or STRATA_EINVAL (unknown fn, N < 1, percentile not finite,
 * unit <= 0), or STRATA_ETOOBIG (N above the cap). On failure a needs no
 * deinit.
 */
int query_agg_init(query_agg *a, enum query_agg_fn fn, const query_agg_args *args);

/*
 * Adds one point. Returns 0, STRATA_ETYPE (a type the function refuses, or
 * not the type of the first value), STRATA_ETOOBIG (the buffer cap), or
 * -ENOMEM. A failed add leaves the accumulator as it was.
 */
int query_agg_add(query_agg *a, int64_t time_ns, query_value v);

/*
 * Adds the float points i in [from, to) whose bit i is set in present
 * (least significant bit first): values[i] holds the bit pattern of the
 * double, times[i] its time. The same as query_agg_add for each in order,
 * in one pass for the functions that only sum or count. *added (may be
 * NULL) gets the number of points added; on an error the points before the
 * failing one stay added.
 */
int query_agg_add_floats(query_agg *a, const int64_t *times, const uint64_t *values, const uint8_t *present,
			 size_t from, size_t to, uint64_t *added);

/*
 * The output rows: *out points at *n_out rows (0 when no point was added or
 * percentile's rank falls outside the values), owned by a and valid until
 * the next add, result, reset or deinit. distinct() gives its values in
 * ascending order; top(), bottom() and sample() give points in time order.
 * stddev() of a single value is NaN, as in InfluxDB. Returns 0 or -ENOMEM.
 */
int query_agg_result(query_agg *a, const query_agg_row **out, size_t *n_out);

/*
 * integral() across GROUP BY time buckets, as InfluxDB computes it: the
 * trapezoid between a bucket's last point and the next bucket's first point
 * (next_time_ns, next) is cut at the boundary (boundary_ns, the next
 * bucket's start) by linear interpolation. Adds the part before the boundary
 * to a and stores the interpolated point in *carry, which the executor adds
 * first to the next bucket's accumulator (integral accepts any numeric type
 * there). Returns 0, or STRATA_EINVAL (a is not an integral with points,
 * or the boundary is not within (last point, next_time_ns]), or STRATA_ETYPE.
 */
int query_agg_integral_bridge(query_agg *a, int64_t boundary_ns, int64_t next_time_ns,
			      query_value next, query_point *carry);

/* Forgets every point (for the next bucket); keeps fn, args and buffers. */
void query_agg_reset(query_agg *a);

/* Frees what a holds. Safe on a zeroed struct. */
void query_agg_deinit(query_agg *a);

enum query_transform_fn {
	QUERY_TRANSFORM_DERIVATIVE = 1,
	QUERY_TRANSFORM_NON_NEGATIVE_DERIVATIVE,
	QUERY_TRANSFORM_DIFFERENCE,
	QUERY_TRANSFORM_NON_NEGATIVE_DIFFERENCE,
	QUERY_TRANSFORM_MOVING_AVERAGE,
	QUERY_TRANSFORM_CUMULATIVE_SUM,
	QUERY_TRANSFORM_ELAPSED,
	QUERY_TRANSFORM__COUNT
};

const char *query_transform_fn_name(enum query_transform_fn fn);

typedef struct query_transform_args {
	/*
	 * derivative(): 0 means 1s (the planner passes the GROUP BY interval
	 * when the call wraps an aggregate, as InfluxDB does); elapsed(): 0
	 * means 1ns.
	 */
	int64_t unit_ns;
	int64_t n;         /* moving_average(): window of N >= 2 points */
	size_t max_values; /* cap on N; 0: QUERY_AGG_DEFAULT_MAX_VALUES */
} query_transform_args;

/*
 * Output types: derivative and moving_average give floats; difference and
 * cumulative_sum keep the input type (unsigned difference wraps as in
 * InfluxDB); elapsed gives integers (time difference / unit, truncated).
 * derivative and difference skip a point whose time equals the previous
 * point's (the first one at a time wins); non_negative_* drop negative
 * results but still move to the new point. Points come in ascending time
 * order, or descending for ORDER BY time DESC (derivative then divides by
 * the time between the points, as InfluxDB does).
 */
typedef struct query_transform {
	enum query_transform_fn fn;
	query_transform_args args;
	enum query_value_type type;
	bool have_prev;
	query_point prev;
	query_value acc; /* cumulative_sum */
	query_value *win; /* moving_average ring */
	size_t n_win, pos;
} query_transform;

/*
 * Prepares t. Returns 0, STRATA_EINVAL (unknown fn, unit < 0, window < 2),
 * STRATA_ETOOBIG (window above the cap) or -ENOMEM. On failure t needs no
 * deinit.
 */
int query_transform_init(query_transform *t, enum query_transform_fn fn,
			 const query_transform_args *args);

/*
 * Feeds one point. *emitted says whether *out holds an output point.
 * Returns 0 or STRATA_ETYPE (strings or booleans to a numeric function,
 * or a type change). elapsed() accepts every type.
 */
int query_transform_push(query_transform *t, int64_t time_ns, query_value v,
			 query_point *out, bool *emitted);

/* Forgets the stream (next series or bucket); keeps fn and args. */
void query_transform_reset(query_transform *t);

void query_transform_deinit(query_transform *t);

#endif
