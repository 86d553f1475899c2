/*
 * aggregate.c — InfluxQL aggregates, selectors and transformations
 * (aggregate.h), with InfluxDB 1.x's results, types and tie rules.
 *
 * Each function is a small state machine behind one switch, so that an
 * accumulator is a plain struct the executor can keep in an array per bucket
 * without a heap object per function. Functions that InfluxDB computes over
 * the whole bucket (median, mode, percentile, distinct) buffer the points and
 * sort once at result time; top/bottom keep only their N best points (a
 * linear scan for the worst one: N is small in practice and capped), sample
 * keeps an N-point reservoir (Algorithm R) driven by a seeded xorshift
 * generator so that results are reproducible.
 *
 * Tie rules copied from InfluxDB: min/max keep the earliest point among equal
 * values; first/last keep the greater value among points at the same time;
 * top/bottom prefer the earlier point among equal values; mode picks the most
 * frequent value, and among equally frequent ones the value seen earliest;
 * the mode of booleans is true when true is at least as frequent.
 *
 * Integer sums wrap as Go's int64 does (sum(), cumulative_sum()); mean()
 * sums integers in a long double so that it stays exact far beyond 2^53.
 * moving_average() sums its window again at every point (O(N) per point)
 * rather than keeping a running sum: an infinity that leaves the window
 * would otherwise poison every later average with NaN.
 */
#include "query/aggregate.h"

#include "lsm/alloc.h"
#include "lsm/status.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S INT64_C(1000000000)

static const char *const agg_names[QUERY_AGG__COUNT] = {
	[QUERY_AGG_COUNT] = "count",
	[QUERY_AGG_SUM] = "sum",
	[QUERY_AGG_MEAN] = "mean",
	[QUERY_AGG_MEDIAN] = "median",
	[QUERY_AGG_MODE] = "mode",
	[QUERY_AGG_SPREAD] = "spread",
	[QUERY_AGG_STDDEV] = "stddev",
	[QUERY_AGG_INTEGRAL] = "integral",
	[QUERY_AGG_DISTINCT] = "distinct",
	[QUERY_AGG_MIN] = "min",
	[QUERY_AGG_MAX] = "max",
	[QUERY_AGG_FIRST] = "first",
	[QUERY_AGG_LAST] = "last",
	[QUERY_AGG_PERCENTILE] = "percentile",
	[QUERY_AGG_TOP] = "top",
	[QUERY_AGG_BOTTOM] = "bottom",
	[QUERY_AGG_SAMPLE] = "sample",
};

static const char *const transform_names[QUERY_TRANSFORM__COUNT] = {
	[QUERY_TRANSFORM_DERIVATIVE] = "derivative",
	[QUERY_TRANSFORM_NON_NEGATIVE_DERIVATIVE] = "non_negative_derivative",
	[QUERY_TRANSFORM_DIFFERENCE] = "difference",
	[QUERY_TRANSFORM_NON_NEGATIVE_DIFFERENCE] = "non_negative_difference",
	[QUERY_TRANSFORM_MOVING_AVERAGE] = "moving_average",
	[QUERY_TRANSFORM_CUMULATIVE_SUM] = "cumulative_sum",
	[QUERY_TRANSFORM_ELAPSED] = "elapsed",
};

const char *query_value_type_name(enum query_value_type t)
{
	switch (t) {
	case QUERY_VALUE_FLOAT:
		return "float";
	case QUERY_VALUE_INTEGER:
		return "integer";
	case QUERY_VALUE_UNSIGNED:
		return "unsigned";
	case QUERY_VALUE_STRING:
		return "string";
	case QUERY_VALUE_BOOLEAN:
		return "boolean";
	default:
		return "none";
	}
}

const char *query_agg_fn_name(enum query_agg_fn fn)
{
	if (fn <= 0 || fn >= QUERY_AGG__COUNT)
		return "unknown";
	return agg_names[fn];
}

const char *query_transform_fn_name(enum query_transform_fn fn)
{
	if (fn <= 0 || fn >= QUERY_TRANSFORM__COUNT)
		return "unknown";
	return transform_names[fn];
}

static bool type_is_number(enum query_value_type t)
{
	return t == QUERY_VALUE_FLOAT || t == QUERY_VALUE_INTEGER ||
	       t == QUERY_VALUE_UNSIGNED;
}

static bool type_is_valid(enum query_value_type t)
{
	return t >= QUERY_VALUE_FLOAT && t <= QUERY_VALUE_BOOLEAN;
}

/* Which input types fn accepts. */
static bool agg_accepts(enum query_agg_fn fn, enum query_value_type t)
{
	switch (fn) {
	case QUERY_AGG_COUNT:
	case QUERY_AGG_MODE:
	case QUERY_AGG_DISTINCT:
	case QUERY_AGG_FIRST:
	case QUERY_AGG_LAST:
	case QUERY_AGG_SAMPLE:
		return type_is_valid(t);
	case QUERY_AGG_MIN:
	case QUERY_AGG_MAX:
		return type_is_number(t) || t == QUERY_VALUE_BOOLEAN;
	default:
		return type_is_number(t);
	}
}

/* Three-way comparison of two values of the same type. */
static int value_cmp(const query_value *a, const query_value *b)
{
	switch (a->type) {
	case QUERY_VALUE_FLOAT:
		return (a->v.f > b->v.f) - (a->v.f < b->v.f);
	case QUERY_VALUE_INTEGER:
		return (a->v.i > b->v.i) - (a->v.i < b->v.i);
	case QUERY_VALUE_UNSIGNED:
		return (a->v.u > b->v.u) - (a->v.u < b->v.u);
	case QUERY_VALUE_BOOLEAN:
		return (int)a->v.b - (int)b->v.b;
	case QUERY_VALUE_STRING: {
		size_t n = a->v.s.len < b->v.s.len ? a->v.s.len : b->v.s.len;
		int c = n ? memcmp(a->v.s.ptr, b->v.s.ptr, n) : 0;

		if (c)
			return c < 0 ? -1 : 1;
		return (a->v.s.len > b->v.s.len) - (a->v.s.len < b->v.s.len);
	}
	default:
		return 0;
	}
}

static double value_as_double(const query_value *v)
{
	switch (v->type) {
	case QUERY_VALUE_FLOAT:
		return v->v.f;
	case QUERY_VALUE_INTEGER:
		return (double)v->v.i;
	case QUERY_VALUE_UNSIGNED:
		return (double)v->v.u;
	default:
		return 0;
	}
}

/* Makes item own a copy of v's string (other types: a plain copy). */
static int item_set(query_agg_item *item, int64_t time_ns, const query_value *v)
{
	item->time_ns = time_ns;
	if (v->type != QUERY_VALUE_STRING) {
		item->value = *v;
		return 0;
	}
	char *copy = strata_malloc(v->v.s.len ? v->v.s.len : 1);

	if (!copy)
		return -ENOMEM;
	if (v->v.s.len)
		memcpy(copy, v->v.s.ptr, v->v.s.len);
	item->value = *v;
	item->value.v.s.ptr = copy;
	return 0;
}

static void item_free(query_agg_item *item)
{
	if (item->value.type == QUERY_VALUE_STRING)
		strata_free((char *)item->value.v.s.ptr);
	item->value.type = QUERY_VALUE_NONE;
}

/* Copies v into the single kept point sel, reusing one string buffer. */
static int sel_set(query_agg *a, int64_t time_ns, const query_value *v)
{
	if (v->type != QUERY_VALUE_STRING) {
		a->sel.time_ns = time_ns;
		a->sel.value = *v;
		return 0;
	}
	if (v->v.s.len > a->sel_cap) {
		char *nbuf = strata_realloc(a->sel_buf, v->v.s.len);

		if (!nbuf)
			return -ENOMEM;
		a->sel_buf = nbuf;
		a->sel_cap = v->v.s.len;
	}
	if (v->v.s.len)
		memcpy(a->sel_buf, v->v.s.ptr, v->v.s.len);
	a->sel.time_ns = time_ns;
	a->sel.value = *v;
	a->sel.value.v.s.ptr = a->sel_buf ? a->sel_buf : "";
	return 0;
}

static uint64_t rng_next(query_agg *a)
{
	uint64_t x = a->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	a->rng = x;
	return x;
}

int query_agg_init(query_agg *a, enum query_agg_fn fn, const query_agg_args *args)
{
	query_agg_args def = { 0 };

	memset(a, 0, sizeof(*a));
	if (fn <= 0 || fn >= QUERY_AGG__COUNT)
		return strata_error(STRATA_EINVAL, "unknown aggregate function %d", (int)fn);
	if (args)
		def = *args;
	if (def.max_values == 0)
		def.max_values = QUERY_AGG_DEFAULT_MAX_VALUES;
	if (fn == QUERY_AGG_INTEGRAL) {
		if (def.unit_ns < 0)
			return strata_error(STRATA_EINVAL, "integral(): unit must be positive");
		if (def.unit_ns == 0)
			def.unit_ns = NS_PER_S;
	}
	if (fn == QUERY_AGG_PERCENTILE && !isfinite(def.percentile))
		return strata_error(STRATA_EINVAL, "percentile(): percentile must be a finite number");
	if (fn == QUERY_AGG_TOP || fn == QUERY_AGG_BOTTOM || fn == QUERY_AGG_SAMPLE) {
		if (def.n < 1)
			return strata_error(STRATA_EINVAL, "%s(): N must be at least 1, got %lld",
					    agg_names[fn], (long long)def.n);
		if ((uint64_t)def.n > def.max_values)
			return strata_error(STRATA_ETOOBIG, "%s(): N = %lld exceeds the cap of %zu buffered values",
					    agg_names[fn], (long long)def.n, def.max_values);
	}
	a->fn = fn;
	a->args = def;
	a->rng = def.seed ? def.seed : UINT64_C(0x9e3779b97f4a7c15);
	return 0;
}

/* Appends a copy of (time, v) to the buffer, within the cap. */
static int buf_push(query_agg *a, int64_t time_ns, const query_value *v)
{
	int rc;

	if (a->n_buf >= a->args.max_values)
		return strata_error(STRATA_ETOOBIG,
				    "%s(): more than %zu values in one bucket (the cap on buffered values)",
				    agg_names[a->fn], a->args.max_values);
	if (a->n_buf == a->cap_buf) {
		size_t ncap = a->cap_buf ? a->cap_buf * 2 : 16;
		query_agg_item *nbuf;

		if (ncap > a->args.max_values)
			ncap = a->args.max_values;
		nbuf = strata_realloc(a->buf, ncap * sizeof(*nbuf));
		if (!nbuf)
			return -ENOMEM;
		a->buf = nbuf;
		a->cap_buf = ncap;
	}
	rc = item_set(&a->buf[a->n_buf], time_ns, v);
	if (rc == 0)
		a->n_buf++;
	return rc;
}

/* top(): is (t1, v1) better than (t2, v2)? bottom() mirrors the value order. */
static bool topbottom_better(const query_agg *a, int64_t t1, const query_value *v1,
			     int64_t t2, const query_value *v2)
{
	int c = value_cmp(v1, v2);

	if (a->fn == QUERY_AGG_BOTTOM)
		c = -c;
	return c > 0 || (c == 0 && t1 < t2);
}

static int add_topbottom(query_agg *a, int64_t time_ns, const query_value *v)
{
	size_t worst = 0;
	query_agg_item tmp;
	int rc;

	if (a->n_buf < (size_t)a->args.n)
		return buf_push(a, time_ns, v);
	for (size_t i = 1; i < a->n_buf; i++)
		if (topbottom_better(a, a->buf[worst].time_ns, &a->buf[worst].value,
				     a->buf[i].time_ns, &a->buf[i].value))
			worst = i;
	if (!topbottom_better(a, time_ns, v, a->buf[worst].time_ns, &a->buf[worst].value))
		return 0;
	rc = item_set(&tmp, time_ns, v);
	if (rc)
		return rc;
	item_free(&a->buf[worst]);
	a->buf[worst] = tmp;
	return 0;
}

static int add_sample(query_agg *a, int64_t time_ns, const query_value *v)
{
	query_agg_item tmp;
	uint64_t j;
	int rc;

	/* a->n already counts this point. */
	if (a->n_buf < (size_t)a->args.n)
		return buf_push(a, time_ns, v);
	j = rng_next(a) % a->n;
	if (j >= (uint64_t)a->args.n)
		return 0;
	rc = item_set(&tmp, time_ns, v);
	if (rc)
		return rc;
	item_free(&a->buf[j]);
	a->buf[j] = tmp;
	return 0;
}

static void add_minmax(query_agg *a, int64_t time_ns, const query_value *v)
{
	int c;

	if (a->n == 0) {
		sel_set(a, time_ns, v);
		return;
	}
	c = value_cmp(v, &a->sel.value);
	if (a->fn == QUERY_AGG_MIN)
		c = -c;
	if (c > 0 || (c == 0 && time_ns < a->sel.time_ns))
		sel_set(a, time_ns, v);
}

static int add_firstlast(query_agg *a, int64_t time_ns, const query_value *v)
{
	bool take;

	if (a->n == 0)
		return sel_set(a, time_ns, v);
	if (a->fn == QUERY_AGG_FIRST)
		take = time_ns < a->sel.time_ns;
	else
		take = time_ns > a->sel.time_ns;
	if (!take && time_ns == a->sel.time_ns) {
		int c = value_cmp(v, &a->sel.value);

		/* InfluxDB's first() of booleans prefers false at equal times. */
		if (a->fn == QUERY_AGG_FIRST && v->type == QUERY_VALUE_BOOLEAN)
			c = -c;
		take = c > 0;
	}
	return take ? sel_set(a, time_ns, v) : 0;
}

static void add_integral(query_agg *a, int64_t time_ns, const query_value *v)
{
	double y = value_as_double(v);

	if (a->n > 0 && time_ns != a->sel.time_ns) {
		double y0 = value_as_double(&a->sel.value);
		double dt = (double)time_ns - (double)a->sel.time_ns;

		a->area += (y0 + y) * dt / 2.0 / (double)a->args.unit_ns;
	}
	/* A point at the previous point's time replaces it (no area). */
	a->sel.time_ns = time_ns;
	a->sel.value = *v;
}

int query_agg_add(query_agg *a, int64_t time_ns, query_value v)
{
	int rc = 0;

	if (a->fn <= 0 || a->fn >= QUERY_AGG__COUNT)
		return strata_error(STRATA_EINVAL, "aggregate not initialised");
	if (!agg_accepts(a->fn, v.type))
		return strata_error(STRATA_ETYPE, "%s(): %s values are not supported",
				    query_agg_fn_name(a->fn), query_value_type_name(v.type));
	if (a->type != QUERY_VALUE_NONE && v.type != a->type && a->fn != QUERY_AGG_INTEGRAL)
		return strata_error(STRATA_ETYPE, "%s(): a %s value among %s values",
				    query_agg_fn_name(a->fn), query_value_type_name(v.type),
				    query_value_type_name(a->type));

	switch (a->fn) {
	case QUERY_AGG_COUNT:
		break;
	case QUERY_AGG_SUM:
	case QUERY_AGG_MEAN:
		if (v.type == QUERY_VALUE_FLOAT)
			a->fsum += v.v.f;
		else if (v.type == QUERY_VALUE_INTEGER) {
			a->usum += (uint64_t)v.v.i;
			a->lsum += (long double)v.v.i;
		} else {
			a->usum += v.v.u;
			a->lsum += (long double)v.v.u;
		}
		break;
	case QUERY_AGG_STDDEV:
		/* Kept: InfluxDB takes the mean first, then the squared deviations from it. */
		rc = buf_push(a, time_ns, &v);
		break;
	case QUERY_AGG_SPREAD:
		if (a->n == 0 || value_cmp(&v, &a->lo) < 0)
			a->lo = v;
		if (a->n == 0 || value_cmp(&v, &a->hi) > 0)
			a->hi = v;
		break;
	case QUERY_AGG_MIN:
	case QUERY_AGG_MAX:
		add_minmax(a, time_ns, &v);
		break;
	case QUERY_AGG_FIRST:
	case QUERY_AGG_LAST:
		rc = add_firstlast(a, time_ns, &v);
		break;
	case QUERY_AGG_INTEGRAL:
		add_integral(a, time_ns, &v);
		break;
	case QUERY_AGG_TOP:
	case QUERY_AGG_BOTTOM:
		rc = add_topbottom(a, time_ns, &v);
		break;
	case QUERY_AGG_SAMPLE:
		a->n++;
		rc = add_sample(a, time_ns, &v);
		a->n--;
		break;
	default:
		rc = buf_push(a, time_ns, &v);
		break;
	}
	if (rc == 0) {
		a->n++;
		a->type = v.type;
	}
	return rc;
}

static bool bit_set(const uint8_t *bits, size_t i)
{
	return (bits[i / 8] >> (i % 8)) & 1;
}

int query_agg_add_floats(query_agg *a, const int64_t *times, const uint64_t *values, const uint8_t *present,
			 size_t from, size_t to, uint64_t *added)
{
	uint64_t n0 = a->n;
	int rc = 0;

	if ((a->fn == QUERY_AGG_COUNT || a->fn == QUERY_AGG_SUM || a->fn == QUERY_AGG_MEAN) &&
	    (a->type == QUERY_VALUE_NONE || a->type == QUERY_VALUE_FLOAT)) {
		/* Summed in point order, as one add at a time would: the same rounding. */
		double sum = a->fsum;
		uint64_t n = 0;

		for (size_t i = from; i < to; i++) {
			double v;

			if (!bit_set(present, i))
				continue;
			memcpy(&v, &values[i], sizeof(v));
			sum += v;
			n++;
		}
		if (a->fn != QUERY_AGG_COUNT)
			a->fsum = sum;
		a->n += n;
		if (n)
			a->type = QUERY_VALUE_FLOAT;
	} else {
		for (size_t i = from; i < to && rc == 0; i++) {
			query_value v = { .type = QUERY_VALUE_FLOAT };

			if (!bit_set(present, i))
				continue;
			memcpy(&v.v.f, &values[i], sizeof(v.v.f));
			rc = query_agg_add(a, times[i], v);
		}
	}
	if (added)
		*added = a->n - n0;
	return rc;
}

static int item_cmp_value_time(const void *pa, const void *pb)
{
	const query_agg_item *x = pa, *y = pb;
	int c = value_cmp(&x->value, &y->value);

	if (c)
		return c;
	return (x->time_ns > y->time_ns) - (x->time_ns < y->time_ns);
}

static int item_cmp_time_value(const void *pa, const void *pb)
{
	const query_agg_item *x = pa, *y = pb;

	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	return value_cmp(&x->value, &y->value);
}

static query_agg_row row_of(const query_value *v, int64_t time_ns, bool has_time)
{
	query_agg_row r = { .value = *v, .time_ns = has_time ? time_ns : 0,
			    .has_time = has_time };
	return r;
}

static int rows_reserve(query_agg *a, size_t n)
{
	query_agg_row *nrows;

	if (n <= a->cap_rows)
		return 0;
	nrows = strata_realloc(a->rows, n * sizeof(*nrows));
	if (!nrows)
		return -ENOMEM;
	a->rows = nrows;
	a->cap_rows = n;
	return 0;
}

static void result_median(query_agg *a)
{
	const query_agg_item *m = &a->buf[a->n_buf / 2];
	double v;

	qsort(a->buf, a->n_buf, sizeof(*a->buf), item_cmp_value_time);
	if (a->n_buf % 2 == 0) {
		double lo = value_as_double(&a->buf[a->n_buf / 2 - 1].value);
		double hi = value_as_double(&m->value);

		if (m->value.type == QUERY_VALUE_FLOAT)
			v = lo + (hi - lo) / 2;
		else
			/* InfluxDB: lo + (hi - lo) / 2 in the integer domain. */
			v = lo + (double)(m->value.type == QUERY_VALUE_INTEGER ?
					  (uint64_t)m->value.v.i -
						  (uint64_t)a->buf[a->n_buf / 2 - 1].value.v.i :
					  m->value.v.u - a->buf[a->n_buf / 2 - 1].value.v.u) / 2;
	} else {
		v = value_as_double(&m->value);
	}
	a->row = row_of(&(query_value){ .type = QUERY_VALUE_FLOAT, .v.f = v }, 0, false);
}

static void result_mode(query_agg *a)
{
	size_t best = 0, best_freq = 0;
	int64_t best_time = 0;

	if (a->type == QUERY_VALUE_BOOLEAN) {
		size_t n_true = 0;

		for (size_t i = 0; i < a->n_buf; i++)
			n_true += a->buf[i].value.v.b;
		a->row = row_of(&(query_value){ .type = QUERY_VALUE_BOOLEAN,
						.v.b = n_true >= a->n_buf - n_true },
				0, false);
		return;
	}
	qsort(a->buf, a->n_buf, sizeof(*a->buf), item_cmp_value_time);
	for (size_t i = 0; i < a->n_buf;) {
		size_t j = i + 1;

		while (j < a->n_buf && value_cmp(&a->buf[j].value, &a->buf[i].value) == 0)
			j++;
		/* buf[i] holds the group's earliest time. */
		if (j - i > best_freq || (j - i == best_freq && a->buf[i].time_ns < best_time)) {
			best = i;
			best_freq = j - i;
			best_time = a->buf[i].time_ns;
		}
		i = j;
	}
	a->row = row_of(&a->buf[best].value, 0, false);
}

int query_agg_result(query_agg *a, const query_agg_row **out, size_t *n_out)
{
	query_value v = { .type = a->type };
	int rc = 0;

	*out = &a->row;
	*n_out = 0;
	if (a->n == 0)
		return 0;

	switch (a->fn) {
	case QUERY_AGG_COUNT:
		v.type = QUERY_VALUE_INTEGER;
		v.v.i = (int64_t)a->n;
		a->row = row_of(&v, 0, false);
		break;
	case QUERY_AGG_SUM:
		if (a->type == QUERY_VALUE_FLOAT)
			v.v.f = a->fsum;
		else if (a->type == QUERY_VALUE_INTEGER)
			v.v.i = (int64_t)a->usum;
		else
			v.v.u = a->usum;
		a->row = row_of(&v, 0, false);
		break;
	case QUERY_AGG_MEAN:
		v.type = QUERY_VALUE_FLOAT;
		if (a->type == QUERY_VALUE_FLOAT)
			v.v.f = a->fsum / (double)a->n;
		else
			v.v.f = (double)(a->lsum / (long double)a->n);
		a->row = row_of(&v, 0, false);
		break;
	case QUERY_AGG_STDDEV: {
		/* As InfluxDB's stddev reducer: a running mean, then the sum of squared deviations. */
		double mean = 0, var = 0;
		uint64_t count = 0;

		for (size_t i = 0; i < a->n_buf; i++) {
			double x = value_as_double(&a->buf[i].value);

			if (isnan(x))
				continue;
			count++;
			mean += (x - mean) / (double)count;
		}
		for (size_t i = 0; i < a->n_buf; i++) {
			double x = value_as_double(&a->buf[i].value);

			if (!isnan(x))
				var += (x - mean) * (x - mean);
		}
		v.type = QUERY_VALUE_FLOAT;
		v.v.f = count < 2 ? NAN : sqrt(var / (double)(count - 1));
		a->row = row_of(&v, 0, false);
		break;
	}
	case QUERY_AGG_SPREAD:
		if (a->type == QUERY_VALUE_FLOAT)
			v.v.f = a->hi.v.f - a->lo.v.f;
		else if (a->type == QUERY_VALUE_INTEGER)
			v.v.i = (int64_t)((uint64_t)a->hi.v.i - (uint64_t)a->lo.v.i);
		else
			v.v.u = a->hi.v.u - a->lo.v.u;
		a->row = row_of(&v, 0, false);
		break;
	case QUERY_AGG_INTEGRAL:
		v.type = QUERY_VALUE_FLOAT;
		v.v.f = a->area;
		a->row = row_of(&v, 0, false);
		break;
	case QUERY_AGG_MIN:
	case QUERY_AGG_MAX:
	case QUERY_AGG_FIRST:
	case QUERY_AGG_LAST:
		a->row = row_of(&a->sel.value, a->sel.time_ns, true);
		break;
	case QUERY_AGG_MEDIAN:
		result_median(a);
		break;
	case QUERY_AGG_MODE:
		result_mode(a);
		break;
	case QUERY_AGG_PERCENTILE: {
		double r = floor((double)a->n_buf * a->args.percentile / 100.0 + 0.5) - 1;

		if (!(r >= 0 && r < (double)a->n_buf))
			return 0;
		qsort(a->buf, a->n_buf, sizeof(*a->buf), item_cmp_value_time);
		a->row = row_of(&a->buf[(size_t)r].value, a->buf[(size_t)r].time_ns, true);
		break;
	}
	case QUERY_AGG_DISTINCT: {
		size_t n = 0;

		qsort(a->buf, a->n_buf, sizeof(*a->buf), item_cmp_value_time);
		rc = rows_reserve(a, a->n_buf);
		if (rc)
			return rc;
		for (size_t i = 0; i < a->n_buf; i++)
			if (i == 0 || value_cmp(&a->buf[i].value, &a->buf[i - 1].value) != 0)
				a->rows[n++] = row_of(&a->buf[i].value, 0, false);
		*out = a->rows;
		*n_out = n;
		return 0;
	}
	case QUERY_AGG_TOP:
	case QUERY_AGG_BOTTOM:
	case QUERY_AGG_SAMPLE:
		qsort(a->buf, a->n_buf, sizeof(*a->buf), item_cmp_time_value);
		rc = rows_reserve(a, a->n_buf);
		if (rc)
			return rc;
		for (size_t i = 0; i < a->n_buf; i++)
			a->rows[i] = row_of(&a->buf[i].value, a->buf[i].time_ns, true);
		*out = a->rows;
		*n_out = a->n_buf;
		return 0;
	default:
		return 0;
	}
	*n_out = 1;
	return rc;
}

int query_agg_integral_bridge(query_agg *a, int64_t boundary_ns, int64_t next_time_ns,
			      query_value next, query_point *carry)
{
	double y0, y1, y;

	if (a->fn != QUERY_AGG_INTEGRAL || a->n == 0)
		return strata_error(STRATA_EINVAL, "integral bridge: not an integral with points");
	if (!type_is_number(next.type))
		return strata_error(STRATA_ETYPE, "integral(): %s values are not supported",
				    query_value_type_name(next.type));
	if (!(boundary_ns > a->sel.time_ns && boundary_ns <= next_time_ns))
		return strata_error(STRATA_EINVAL,
				    "integral bridge: boundary %lld not after the last point %lld and up to the next %lld",
				    (long long)boundary_ns, (long long)a->sel.time_ns,
				    (long long)next_time_ns);
	y0 = value_as_double(&a->sel.value);
	y1 = value_as_double(&next);
	y = y0 + (y1 - y0) * (((double)boundary_ns - (double)a->sel.time_ns) /
			      ((double)next_time_ns - (double)a->sel.time_ns));
	carry->time_ns = boundary_ns;
	carry->value = query_value_float(y);
	add_integral(a, boundary_ns, &carry->value);
	return 0;
}

void query_agg_reset(query_agg *a)
{
	for (size_t i = 0; i < a->n_buf; i++)
		item_free(&a->buf[i]);
	a->n_buf = 0;
	a->type = QUERY_VALUE_NONE;
	a->n = 0;
	a->fsum = 0;
	a->lsum = 0;
	a->usum = 0;
	a->area = 0;
	memset(&a->lo, 0, sizeof(a->lo));
	memset(&a->hi, 0, sizeof(a->hi));
	/* sel_buf is kept for the next bucket. */
	memset(&a->sel, 0, sizeof(a->sel));
	a->rng = a->args.seed ? a->args.seed : UINT64_C(0x9e3779b97f4a7c15);
}

void query_agg_deinit(query_agg *a)
{
	query_agg_reset(a);
	strata_free(a->sel_buf);
	strata_free(a->buf);
	strata_free(a->rows);
	memset(a, 0, sizeof(*a));
}

/* ---- transformations ---- */

int query_transform_init(query_transform *t, enum query_transform_fn fn,
			 const query_transform_args *args)
{
	query_transform_args def = { 0 };

	memset(t, 0, sizeof(*t));
	if (fn <= 0 || fn >= QUERY_TRANSFORM__COUNT)
		return strata_error(STRATA_EINVAL, "unknown transformation %d", (int)fn);
	if (args)
		def = *args;
	if (def.max_values == 0)
		def.max_values = QUERY_AGG_DEFAULT_MAX_VALUES;
	if (def.unit_ns < 0)
		return strata_error(STRATA_EINVAL, "%s(): unit must be positive",
				    transform_names[fn]);
	if (def.unit_ns == 0)
		def.unit_ns = fn == QUERY_TRANSFORM_ELAPSED ? 1 : NS_PER_S;
	if (fn == QUERY_TRANSFORM_MOVING_AVERAGE) {
		if (def.n < 2)
			return strata_error(STRATA_EINVAL,
					    "moving_average(): window must be greater than 1, got %lld",
					    (long long)def.n);
		if ((uint64_t)def.n > def.max_values)
			return strata_error(STRATA_ETOOBIG,
					    "moving_average(): window of %lld exceeds the cap of %zu values",
					    (long long)def.n, def.max_values);
		t->win = strata_calloc((size_t)def.n, sizeof(*t->win));
		if (!t->win)
			return -ENOMEM;
	}
	t->fn = fn;
	t->args = def;
	return 0;
}

static int transform_difference(query_transform *t, const query_value *v, query_value *out)
{
	const query_value *p = &t->prev.value;

	*out = *v;
	switch (v->type) {
	case QUERY_VALUE_FLOAT:
		out->v.f = v->v.f - p->v.f;
		return !(t->fn == QUERY_TRANSFORM_NON_NEGATIVE_DIFFERENCE && out->v.f < 0);
	case QUERY_VALUE_INTEGER:
		out->v.i = (int64_t)((uint64_t)v->v.i - (uint64_t)p->v.i);
		if (t->fn == QUERY_TRANSFORM_NON_NEGATIVE_DIFFERENCE)
			return out->v.i >= 0;
		return 1;
	default:
		out->v.u = v->v.u - p->v.u;
		return !(t->fn == QUERY_TRANSFORM_NON_NEGATIVE_DIFFERENCE && v->v.u < p->v.u);
	}
}

static void cumulative_add(query_transform *t, const query_value *v)
{
	if (!t->have_prev) {
		t->acc = *v;
		return;
	}
	switch (v->type) {
	case QUERY_VALUE_FLOAT:
		t->acc.v.f += v->v.f;
		break;
	case QUERY_VALUE_INTEGER:
		t->acc.v.i = (int64_t)((uint64_t)t->acc.v.i + (uint64_t)v->v.i);
		break;
	default:
		t->acc.v.u += v->v.u;
		break;
	}
}

static double moving_average(const query_transform *t)
{
	size_t n = t->n_win;

	if (t->type == QUERY_VALUE_FLOAT) {
		double s = 0;

		for (size_t i = 0; i < n; i++)
			s += t->win[i].v.f;
		return s / (double)n;
	}
	long double s = 0;

	for (size_t i = 0; i < n; i++)
		s += t->type == QUERY_VALUE_INTEGER ? (long double)t->win[i].v.i :
						      (long double)t->win[i].v.u;
	return (double)(s / (long double)n);
}

int query_transform_push(query_transform *t, int64_t time_ns, query_value v,
			 query_point *out, bool *emitted)
{
	bool emit = false;

	*emitted = false;
	if (t->fn <= 0 || t->fn >= QUERY_TRANSFORM__COUNT)
		return strata_error(STRATA_EINVAL, "transformation not initialised");
	if (t->fn != QUERY_TRANSFORM_ELAPSED && !type_is_number(v.type))
		return strata_error(STRATA_ETYPE, "%s(): %s values are not supported",
				    query_transform_fn_name(t->fn), query_value_type_name(v.type));
	if (t->fn == QUERY_TRANSFORM_ELAPSED && !type_is_valid(v.type))
		return strata_error(STRATA_ETYPE, "elapsed(): a value without a type");
	if (t->type != QUERY_VALUE_NONE && v.type != t->type)
		return strata_error(STRATA_ETYPE, "%s(): a %s value among %s values",
				    query_transform_fn_name(t->fn), query_value_type_name(v.type),
				    query_value_type_name(t->type));
	t->type = v.type;
	out->time_ns = time_ns;

	switch (t->fn) {
	case QUERY_TRANSFORM_DERIVATIVE:
	case QUERY_TRANSFORM_NON_NEGATIVE_DERIVATIVE:
		if (t->have_prev && t->prev.time_ns == time_ns)
			return 0; /* the first point at a time wins */
		if (t->have_prev) {
			double diff;

			if (v.type == QUERY_VALUE_UNSIGNED)
				diff = v.v.u >= t->prev.value.v.u ?
					       (double)(v.v.u - t->prev.value.v.u) :
					       -(double)(t->prev.value.v.u - v.v.u);
			else if (v.type == QUERY_VALUE_INTEGER)
				diff = (double)(int64_t)((uint64_t)v.v.i -
							 (uint64_t)t->prev.value.v.i);
			else
				diff = v.v.f - t->prev.value.v.f;
			/* The time between the points, whichever order they come in (ORDER BY time DESC). */
			double dt = fabs((double)time_ns - (double)t->prev.time_ns);

			out->value = query_value_float(diff / (dt / (double)t->args.unit_ns));
			emit = !(t->fn == QUERY_TRANSFORM_NON_NEGATIVE_DERIVATIVE && diff < 0);
		}
		break;
	case QUERY_TRANSFORM_DIFFERENCE:
	case QUERY_TRANSFORM_NON_NEGATIVE_DIFFERENCE:
		if (t->have_prev && t->prev.time_ns == time_ns)
			return 0;
		if (t->have_prev)
			emit = transform_difference(t, &v, &out->value);
		break;
	case QUERY_TRANSFORM_ELAPSED:
		if (t->have_prev) {
			out->value = query_value_integer(
				(int64_t)((uint64_t)time_ns - (uint64_t)t->prev.time_ns) /
				t->args.unit_ns);
			emit = true;
		}
		break;
	case QUERY_TRANSFORM_CUMULATIVE_SUM:
		cumulative_add(t, &v);
		out->value = t->acc;
		emit = true;
		break;
	case QUERY_TRANSFORM_MOVING_AVERAGE:
		t->win[t->pos] = v;
		t->pos = (t->pos + 1) % (size_t)t->args.n;
		if (t->n_win < (size_t)t->args.n)
			t->n_win++;
		if (t->n_win == (size_t)t->args.n) {
			out->value = query_value_float(moving_average(t));
			emit = true;
		}
		break;
	default:
		break;
	}
	/* Only numbers and the time are kept: strings need no copy. */
	t->prev.time_ns = time_ns;
	t->prev.value = v;
	if (v.type == QUERY_VALUE_STRING)
		t->prev.value.v.s.ptr = NULL;
	t->have_prev = true;
	*emitted = emit;
	return 0;
}

void query_transform_reset(query_transform *t)
{
	t->type = QUERY_VALUE_NONE;
	t->have_prev = false;
	memset(&t->prev, 0, sizeof(t->prev));
	memset(&t->acc, 0, sizeof(t->acc));
	t->n_win = 0;
	t->pos = 0;
}

void query_transform_deinit(query_transform *t)
{
	strata_free(t->win);
	memset(t, 0, sizeof(*t));
}
