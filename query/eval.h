/*
 * eval.h — InfluxQL expressions evaluated over one row: the arithmetic of
 * SELECT columns (mean(a) * 100, a + b) and the WHERE condition of a point,
 * with InfluxDB 1.x's rules:
 *   - integers stay integers under + - * %, / always gives a float; a float
 *     on either side gives a float; & | ^ work on integers and booleans;
 *   - a null operand (a field the point lacks, an empty aggregate) makes the
 *     result null, and a comparison with null is false;
 *   - numbers compare as numbers whatever their types, strings and booleans
 *     with their own type only; =~ and !~ match strings.
 * Time: `time` compared with a time expression (now() - 1h, '2026-01-01',
 * 1767225600000ms) compares nanoseconds since the epoch.
 */
#ifndef STRATA_QUERY_EVAL_H
#define STRATA_QUERY_EVAL_H

#include "query/aggregate.h"
#include "query/ast.h"
#include "query/regex.h"

#include <stdbool.h>
#include <stdint.h>

/* Resolves a VARREF (not `time`) or a CALL to its value; QUERY_VALUE_NONE is null. */
typedef query_value (*query_eval_lookup)(void *ctx, const query_expr *e);

typedef struct query_eval_env {
	query_eval_lookup lookup;
	void *ctx;
	int64_t time_ns;            /* the row's time, for `time` in a condition */
	int64_t now_ns;             /* now() of the query */
	query_regex_cache *regexes;
	int rc;                     /* the first error met (a regex), sticky; 0 */
} query_eval_env;

query_value query_eval(const query_expr *e, query_eval_env *env);

/* True when e evaluates to boolean true. */
bool query_eval_cond(const query_expr *e, query_eval_env *env);

/*
 * The instant a time expression stands for (TIME, INTEGER ns, DURATION,
 * now(), and + - of those with durations). STRATA_EINVAL when e is no
 * time expression.
 */
int query_time_value(const query_expr *e, int64_t now_ns, int64_t *out);

/*
 * The time bounds of a condition: the intersection of its `time` terms
 * joined by AND at the top (through parentheses), as an inclusive range
 * [*lo, *hi] (time > X gives X + 1). *has_lo / *has_hi say whether a bound
 * was written. STRATA_EINVAL for a time term under OR or NOT-like
 * positions, or a time compared with something that is no time.
 */
int query_time_range(const query_expr *cond, int64_t now_ns, int64_t *lo, int64_t *hi, bool *has_lo,
		     bool *has_hi);

#endif
