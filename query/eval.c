/*
 * eval.c — expression evaluation over one row (eval.h).
 */
#include "query/eval.h"
#include "lsm/alloc.h"
#include "lsm/status.h"

#include <math.h>
#include <string.h>

static const query_expr *unparen(const query_expr *e)
{
	while (e->kind == QUERY_EXPR_PAREN)
		e = e->paren;
	return e;
}

static bool is_time_ref(const query_expr *e)
{
	e = unparen(e);
	return e->kind == QUERY_EXPR_VARREF && strcmp(e->ref.name, "time") == 0 &&
	       e->ref.type == QUERY_TYPE_NONE;
}

static bool is_number(const query_value *v)
{
	return v->type == QUERY_VALUE_FLOAT || v->type == QUERY_VALUE_INTEGER || v->type == QUERY_VALUE_UNSIGNED;
}

static double as_double(const query_value *v)
{
	switch (v->type) {
	case QUERY_VALUE_FLOAT:
		return v->v.f;
	case QUERY_VALUE_INTEGER:
		return (double)v->v.i;
	case QUERY_VALUE_UNSIGNED:
		return (double)v->v.u;
	default:
		return NAN;
	}
}

static query_value literal(const query_expr *e)
{
	switch (e->kind) {
	case QUERY_EXPR_STRING:
		return query_value_string(e->str, strlen(e->str));
	case QUERY_EXPR_INTEGER:
		return query_value_integer(e->i);
	case QUERY_EXPR_UNSIGNED:
		return query_value_unsigned(e->u);
	case QUERY_EXPR_NUMBER:
		return query_value_float(e->f);
	case QUERY_EXPR_DURATION:
		return query_value_integer(e->ns);
	case QUERY_EXPR_TIME:
		return query_value_integer(e->ns);
	case QUERY_EXPR_BOOLEAN:
		return query_value_boolean(e->b);
	default:
		return (query_value){ 0 };
	}
}

static query_value arith(enum query_op op, query_value a, query_value b)
{
	query_value none = { 0 };

	if (a.type == QUERY_VALUE_NONE || b.type == QUERY_VALUE_NONE)
		return none;
	if (a.type == QUERY_VALUE_BOOLEAN && b.type == QUERY_VALUE_BOOLEAN) {
		switch (op) {
		case QUERY_OP_BITAND:
			return query_value_boolean(a.v.b && b.v.b);
		case QUERY_OP_BITOR:
			return query_value_boolean(a.v.b || b.v.b);
		case QUERY_OP_BITXOR:
			return query_value_boolean(a.v.b != b.v.b);
		default:
			return none;
		}
	}
	if (!is_number(&a) || !is_number(&b))
		return none;
	if (a.type != QUERY_VALUE_FLOAT && b.type != QUERY_VALUE_FLOAT && op != QUERY_OP_DIV) {
		/* Integer arithmetic wraps as Go's int64 does. */
		uint64_t x = a.type == QUERY_VALUE_INTEGER ? (uint64_t)a.v.i : a.v.u;
		uint64_t y = b.type == QUERY_VALUE_INTEGER ? (uint64_t)b.v.i : b.v.u;
		bool u = a.type == QUERY_VALUE_UNSIGNED && b.type == QUERY_VALUE_UNSIGNED;
		uint64_t r;

		switch (op) {
		case QUERY_OP_ADD:
			r = x + y;
			break;
		case QUERY_OP_SUB:
			r = x - y;
			break;
		case QUERY_OP_MUL:
			r = x * y;
			break;
		case QUERY_OP_MOD:
			if (y == 0)
				return none;
			if (u)
				r = x % y;
			else if ((int64_t)y == -1)
				r = 0;
			else
				r = (uint64_t)((int64_t)x % (int64_t)y);
			break;
		case QUERY_OP_BITAND:
			r = x & y;
			break;
		case QUERY_OP_BITOR:
			r = x | y;
			break;
		case QUERY_OP_BITXOR:
			r = x ^ y;
			break;
		default:
			return none;
		}
		return u ? query_value_unsigned(r) : query_value_integer((int64_t)r);
	}
	{
		double x = as_double(&a), y = as_double(&b);

		switch (op) {
		case QUERY_OP_ADD:
			return query_value_float(x + y);
		case QUERY_OP_SUB:
			return query_value_float(x - y);
		case QUERY_OP_MUL:
			return query_value_float(x * y);
		case QUERY_OP_DIV:
			/* InfluxDB 1.x gives 0 for a division by zero. */
			return query_value_float(y == 0 ? 0 : x / y);
		case QUERY_OP_MOD:
			return query_value_float(y == 0 ? 0 : fmod(x, y));
		default:
			return none;
		}
	}
}

/* -1, 0, 1, or 2 when a and b do not compare. */
static int compare(query_value a, query_value b)
{
	if (is_number(&a) && is_number(&b)) {
		if (a.type == QUERY_VALUE_INTEGER && b.type == QUERY_VALUE_INTEGER)
			return a.v.i < b.v.i ? -1 : a.v.i > b.v.i;
		if (a.type == QUERY_VALUE_UNSIGNED && b.type == QUERY_VALUE_UNSIGNED)
			return a.v.u < b.v.u ? -1 : a.v.u > b.v.u;
		{
			double x = as_double(&a), y = as_double(&b);

			if (isnan(x) || isnan(y))
				return 2;
			return x < y ? -1 : x > y;
		}
	}
	if (a.type == QUERY_VALUE_STRING && b.type == QUERY_VALUE_STRING) {
		size_t n = a.v.s.len < b.v.s.len ? a.v.s.len : b.v.s.len;
		int r = n ? memcmp(a.v.s.ptr, b.v.s.ptr, n) : 0;

		if (r)
			return r < 0 ? -1 : 1;
		return a.v.s.len < b.v.s.len ? -1 : a.v.s.len > b.v.s.len;
	}
	if (a.type == QUERY_VALUE_BOOLEAN && b.type == QUERY_VALUE_BOOLEAN)
		return a.v.b == b.v.b ? 0 : (a.v.b ? 1 : -1);
	return 2;
}

static query_value comparison(const query_expr *e, query_eval_env *env)
{
	enum query_op op = e->binary.op;
	query_value a, b;
	int c;

	if (is_time_ref(e->binary.lhs) || is_time_ref(e->binary.rhs)) {
		const query_expr *other = is_time_ref(e->binary.lhs) ? e->binary.rhs : e->binary.lhs;
		int64_t t;

		if (query_time_value(other, env->now_ns, &t) != 0)
			return query_value_boolean(false);
		a = query_value_integer(is_time_ref(e->binary.lhs) ? env->time_ns : t);
		b = query_value_integer(is_time_ref(e->binary.lhs) ? t : env->time_ns);
	} else if (op == QUERY_OP_EQREGEX || op == QUERY_OP_NEQREGEX) {
		const query_expr *re_node = unparen(e->binary.rhs);
		query_regex *re;
		int rc;

		a = query_eval(e->binary.lhs, env);
		if (a.type != QUERY_VALUE_STRING || re_node->kind != QUERY_EXPR_REGEX)
			return query_value_boolean(false);
		rc = query_regex_cache_get(env->regexes, re_node, re_node->regex, &re);
		if (rc == 0)
			rc = query_regex_match(re, a.v.s.ptr, a.v.s.len);
		if (rc < 0) {
			if (!env->rc)
				env->rc = rc;
			return query_value_boolean(false);
		}
		return query_value_boolean((op == QUERY_OP_EQREGEX) == (rc == 1));
	} else {
		a = query_eval(e->binary.lhs, env);
		b = query_eval(e->binary.rhs, env);
	}
	if (a.type == QUERY_VALUE_NONE || b.type == QUERY_VALUE_NONE)
		return query_value_boolean(false);
	c = compare(a, b);
	switch (op) {
	case QUERY_OP_EQ:
		return query_value_boolean(c == 0);
	case QUERY_OP_NEQ:
		return query_value_boolean(c != 0 && c != 2);
	case QUERY_OP_LT:
		return query_value_boolean(c == -1);
	case QUERY_OP_LTE:
		return query_value_boolean(c == -1 || c == 0);
	case QUERY_OP_GT:
		return query_value_boolean(c == 1);
	case QUERY_OP_GTE:
		return query_value_boolean(c == 1 || c == 0);
	default:
		return query_value_boolean(false);
	}
}

query_value query_eval(const query_expr *e, query_eval_env *env)
{
	e = unparen(e);
	switch (e->kind) {
	case QUERY_EXPR_VARREF:
	case QUERY_EXPR_CALL:
		return env->lookup(env->ctx, e);
	case QUERY_EXPR_BINARY:
		switch (e->binary.op) {
		case QUERY_OP_AND:
			return query_value_boolean(query_eval_cond(e->binary.lhs, env) &&
						   query_eval_cond(e->binary.rhs, env));
		case QUERY_OP_OR:
			return query_value_boolean(query_eval_cond(e->binary.lhs, env) ||
						   query_eval_cond(e->binary.rhs, env));
		default:
			if (query_op_is_comparison(e->binary.op))
				return comparison(e, env);
			return arith(e->binary.op, query_eval(e->binary.lhs, env), query_eval(e->binary.rhs, env));
		}
	default:
		return literal(e);
	}
}

bool query_eval_cond(const query_expr *e, query_eval_env *env)
{
	query_value v = query_eval(e, env);

	return v.type == QUERY_VALUE_BOOLEAN && v.v.b;
}

int query_time_value(const query_expr *e, int64_t now_ns, int64_t *out)
{
	int64_t a, b;

	e = unparen(e);
	switch (e->kind) {
	case QUERY_EXPR_TIME:
	case QUERY_EXPR_DURATION:
		*out = e->ns;
		return 0;
	case QUERY_EXPR_INTEGER:
		*out = e->i;
		return 0;
	case QUERY_EXPR_NUMBER:
		if (!(e->f >= -9.2e18 && e->f <= 9.2e18))
			break;
		*out = (int64_t)e->f;
		return 0;
	case QUERY_EXPR_CALL:
		if (strcmp(e->call.name, "now") != 0 || e->call.n_args != 0)
			break;
		*out = now_ns;
		return 0;
	case QUERY_EXPR_BINARY:
		if (e->binary.op != QUERY_OP_ADD && e->binary.op != QUERY_OP_SUB)
			break;
		if (query_time_value(e->binary.lhs, now_ns, &a) || query_time_value(e->binary.rhs, now_ns, &b))
			break;
		if (e->binary.op == QUERY_OP_ADD ? __builtin_add_overflow(a, b, out) : __builtin_sub_overflow(a, b, out))
			return strata_error(STRATA_EINVAL, "time expression out of range");
		return 0;
	default:
		break;
	}
	{
		char *text = NULL;
		int rc;

		query_expr_print(&text, e);
		rc = strata_error(STRATA_EINVAL, "invalid time expression: %s", text ? text : "?");
		if (text)
			strata_free(text);
		return rc;
	}
}

static int range_walk(const query_expr *e, int64_t now_ns, int64_t *lo, int64_t *hi, bool *has_lo, bool *has_hi,
		      bool under_or)
{
	int rc;

	e = unparen(e);
	if (e->kind != QUERY_EXPR_BINARY)
		return 0;
	if (e->binary.op == QUERY_OP_AND || e->binary.op == QUERY_OP_OR) {
		bool or = under_or || e->binary.op == QUERY_OP_OR;

		rc = range_walk(e->binary.lhs, now_ns, lo, hi, has_lo, has_hi, or);
		return rc ? rc : range_walk(e->binary.rhs, now_ns, lo, hi, has_lo, has_hi, or);
	}
	if (!query_op_is_comparison(e->binary.op) || (!is_time_ref(e->binary.lhs) && !is_time_ref(e->binary.rhs)))
		return 0;
	{
		bool time_left = is_time_ref(e->binary.lhs);
		enum query_op op = e->binary.op;
		int64_t t;

		if (under_or)
			return strata_error(STRATA_EINVAL, "invalid condition: time conditions cannot be combined with OR");
		rc = query_time_value(time_left ? e->binary.rhs : e->binary.lhs, now_ns, &t);
		if (rc)
			return rc;
		if (!time_left) { /* X < time is time > X */
			if (op == QUERY_OP_LT)
				op = QUERY_OP_GT;
			else if (op == QUERY_OP_LTE)
				op = QUERY_OP_GTE;
			else if (op == QUERY_OP_GT)
				op = QUERY_OP_LT;
			else if (op == QUERY_OP_GTE)
				op = QUERY_OP_LTE;
		}
		switch (op) {
		case QUERY_OP_GT:
			t = t == INT64_MAX ? t : t + 1;
			/* fall through */
		case QUERY_OP_GTE:
			if (!*has_lo || t > *lo)
				*lo = t;
			*has_lo = true;
			return 0;
		case QUERY_OP_LT:
			t = t == INT64_MIN ? t : t - 1;
			/* fall through */
		case QUERY_OP_LTE:
			if (!*has_hi || t < *hi)
				*hi = t;
			*has_hi = true;
			return 0;
		case QUERY_OP_EQ:
			if (!*has_lo || t > *lo)
				*lo = t;
			if (!*has_hi || t < *hi)
				*hi = t;
			*has_lo = *has_hi = true;
			return 0;
		default:
			return strata_error(STRATA_EINVAL, "invalid time comparison operator: %s", query_op_str(op));
		}
	}
}

int query_time_range(const query_expr *cond, int64_t now_ns, int64_t *lo, int64_t *hi, bool *has_lo,
		     bool *has_hi)
{
	*lo = INT64_MIN;
	*hi = INT64_MAX;
	*has_lo = *has_hi = false;
	if (!cond)
		return 0;
	return range_walk(cond, now_ns, lo, hi, has_lo, has_hi, false);
}
