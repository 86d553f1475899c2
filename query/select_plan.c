/*
 * select_plan.c — a SELECT prepared for one measurement (select_plan.h):
 * wildcards expanded against the catalog, calls checked and their
 * arguments read, columns named as InfluxDB names them.
 */
#include "query/select_plan.h"
#include "lsm/alloc.h"
#include "lsm/status.h"
#include "query/eval.h"
#include "query/regex.h"
#include "query/series_set.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	enum query_agg_fn fn;
} agg_fns[] = {
	{ "count", QUERY_AGG_COUNT },	  { "sum", QUERY_AGG_SUM },	      { "mean", QUERY_AGG_MEAN },
	{ "median", QUERY_AGG_MEDIAN },	  { "mode", QUERY_AGG_MODE },	      { "spread", QUERY_AGG_SPREAD },
	{ "stddev", QUERY_AGG_STDDEV },	  { "integral", QUERY_AGG_INTEGRAL }, { "distinct", QUERY_AGG_DISTINCT },
	{ "min", QUERY_AGG_MIN },	  { "max", QUERY_AGG_MAX },	      { "first", QUERY_AGG_FIRST },
	{ "last", QUERY_AGG_LAST },	  { "percentile", QUERY_AGG_PERCENTILE },
	{ "top", QUERY_AGG_TOP },	  { "bottom", QUERY_AGG_BOTTOM },     { "sample", QUERY_AGG_SAMPLE },
};

static const struct {
	const char *name;
	enum query_transform_fn fn;
} transform_fns[] = {
	{ "derivative", QUERY_TRANSFORM_DERIVATIVE },
	{ "non_negative_derivative", QUERY_TRANSFORM_NON_NEGATIVE_DERIVATIVE },
	{ "difference", QUERY_TRANSFORM_DIFFERENCE },
	{ "non_negative_difference", QUERY_TRANSFORM_NON_NEGATIVE_DIFFERENCE },
	{ "moving_average", QUERY_TRANSFORM_MOVING_AVERAGE },
	{ "cumulative_sum", QUERY_TRANSFORM_CUMULATIVE_SUM },
	{ "elapsed", QUERY_TRANSFORM_ELAPSED },
};

static enum query_agg_fn agg_fn(const char *name)
{
	for (size_t i = 0; i < sizeof(agg_fns) / sizeof(agg_fns[0]); i++)
		if (strcmp(agg_fns[i].name, name) == 0)
			return agg_fns[i].fn;
	return 0;
}

static enum query_transform_fn transform_fn(const char *name)
{
	for (size_t i = 0; i < sizeof(transform_fns) / sizeof(transform_fns[0]); i++)
		if (strcmp(transform_fns[i].name, name) == 0)
			return transform_fns[i].fn;
	return 0;
}

static const query_expr *unparen(const query_expr *e)
{
	while (e->kind == QUERY_EXPR_PAREN)
		e = e->paren;
	return e;
}

static int cmp_field_name(const void *key, const void *elem)
{
	return strcmp(key, ((const lsm_field_info *)elem)->name);
}

int select_plan_field(const select_plan *p, const char *name)
{
	const lsm_field_info *f = p->n_fields ? bsearch(name, p->fields, p->n_fields, sizeof(*p->fields),
							cmp_field_name)
					      : NULL;

	return f ? (int)(f - p->fields) : -1;
}

static bool is_tag_key(const select_plan *p, const char *name)
{
	for (size_t i = 0; i < p->n_tag_keys; i++)
		if (strcmp(p->tag_keys[i], name) == 0)
			return true;
	return false;
}

static bool is_group_tag(const select_plan *p, const char *name)
{
	for (size_t i = 0; i < p->n_group_tags; i++)
		if (strcmp(p->group_tags[i], name) == 0)
			return true;
	return false;
}

static int oom(void)
{
	return strata_error(-ENOMEM, "out of memory preparing the query");
}

/* ---- columns ---- */

struct colvec {
	struct select_column *v;
	size_t n, cap;
};

static int col_push(select_plan *p, struct colvec *cv, const char *name, const query_expr *e)
{
	if (cv->n == cv->cap) {
		size_t cap = cv->cap ? 2 * cv->cap : 16;
		struct select_column *v = query_arena_alloc(&p->arena, cap * sizeof(*v));

		if (!v)
			return oom();
		if (cv->n)
			memcpy(v, cv->v, cv->n * sizeof(*v));
		cv->v = v;
		cv->cap = cap;
	}
	cv->v[cv->n++] = (struct select_column){ .name = name, .expr = e, .aux = -1 };
	return 0;
}

static query_expr *new_varref(select_plan *p, const char *name)
{
	query_expr *e = query_arena_alloc(&p->arena, sizeof(*e));

	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->kind = QUERY_EXPR_VARREF;
	e->height = 1;
	e->ref.name = name;
	return e;
}

/* A copy of call with its first argument replaced by field. */
static query_expr *new_call_on(select_plan *p, const query_expr *call, const char *field)
{
	query_expr *e = query_arena_alloc(&p->arena, sizeof(*e));
	query_expr **args = query_arena_alloc(&p->arena, call->call.n_args * sizeof(*args));

	if (!e || !args)
		return NULL;
	*e = *call;
	memcpy(args, call->call.args, call->call.n_args * sizeof(*args));
	args[0] = new_varref(p, field);
	if (!args[0])
		return NULL;
	e->call.args = args;
	return e;
}

/* Appends the names of the calls and variables of e, joined by '_' (InfluxDB's column name). */
static void derive_name(const query_expr *e, char *buf, size_t cap, size_t *len)
{
	const char *add = NULL;

	e = unparen(e);
	switch (e->kind) {
	case QUERY_EXPR_VARREF:
		add = e->ref.name;
		break;
	case QUERY_EXPR_CALL:
		add = e->call.name;
		break;
	case QUERY_EXPR_BINARY:
		derive_name(e->binary.lhs, buf, cap, len);
		derive_name(e->binary.rhs, buf, cap, len);
		return;
	default:
		return;
	}
	*len += (size_t)snprintf(buf + (*len < cap ? *len : cap - 1), *len < cap ? cap - *len : 1, "%s%s",
				 *len ? "_" : "", add);
}

static const char *column_name(select_plan *p, const struct query_field *f)
{
	char buf[512];
	size_t len = 0;

	if (f->alias)
		return f->alias;
	buf[0] = '\0';
	derive_name(f->expr, buf, sizeof buf, &len);
	return query_arena_strndup(&p->arena, buf, strlen(buf));
}

/* Sorted names of fields (unless tags_only) and non-grouped tags (unless fields_only). */
static const char *field_name_at(const select_plan *p, size_t i)
{
	return p->wildcard ? p->wildcard->fields[i] : p->fields[i].name;
}

static const char *tag_name_at(const select_plan *p, size_t i)
{
	return p->wildcard ? p->wildcard->tags[i] : p->tag_keys[i];
}

static int expand_wildcard(select_plan *p, struct colvec *cv, enum query_type type)
{
	size_t nf = p->wildcard ? p->wildcard->n_fields : p->n_fields;
	size_t nt = p->wildcard ? p->wildcard->n_tags : p->n_tag_keys;
	size_t i = type == QUERY_TYPE_TAG ? nf : 0, j = type == QUERY_TYPE_FIELD ? nt : 0;
	int rc;

	while (i < nf || j < nt) {
		bool take_field = j == nt || (i < nf && strcmp(field_name_at(p, i), tag_name_at(p, j)) <= 0);
		const char *name = take_field ? field_name_at(p, i++) : tag_name_at(p, j++);
		query_expr *e;

		if (!take_field && is_group_tag(p, name))
			continue;
		e = new_varref(p, name);
		if (!e)
			return oom();
		if (!take_field)
			e->ref.type = QUERY_TYPE_TAG;
		rc = col_push(p, cv, name, e);
		if (rc)
			return rc;
	}
	return 0;
}

static bool numeric_only(enum query_agg_fn fn)
{
	return fn != QUERY_AGG_COUNT && fn != QUERY_AGG_MODE && fn != QUERY_AGG_DISTINCT && fn != QUERY_AGG_FIRST &&
	       fn != QUERY_AGG_LAST && fn != QUERY_AGG_SAMPLE;
}

/* fn(*) and fn(/re/): one column fn_<field> per field the function takes. */
static int expand_call(select_plan *p, struct colvec *cv, const query_expr *call)
{
	const query_expr *arg = unparen(call->call.args[0]);
	enum query_agg_fn afn = agg_fn(call->call.name);
	query_regex *re = NULL;
	int rc = 0;

	if (arg->kind == QUERY_EXPR_REGEX) {
		rc = query_regex_compile(&re, arg->regex);
		if (rc)
			return rc;
	}
	for (size_t i = 0; rc == 0 && i < p->n_fields; i++) {
		const lsm_field_info *f = &p->fields[i];
		bool number = f->type == LSM_FIELD_FLOAT || f->type == LSM_FIELD_INT || f->type == LSM_FIELD_UINT;
		char name[600];
		query_expr *e;

		if (re) {
			rc = query_regex_match(re, f->name, strlen(f->name));
			if (rc < 0)
				break;
			if (rc == 0)
				continue;
			rc = 0;
		}
		if (!number && (afn == 0 || numeric_only(afn)))
			continue;
		if (f->type == LSM_FIELD_BOOL && afn != QUERY_AGG_COUNT && afn != QUERY_AGG_FIRST &&
		    afn != QUERY_AGG_LAST && afn != QUERY_AGG_MIN && afn != QUERY_AGG_MAX && afn != QUERY_AGG_MODE &&
		    afn != QUERY_AGG_DISTINCT && afn != QUERY_AGG_SAMPLE)
			continue;
		snprintf(name, sizeof name, "%s_%s", call->call.name, f->name);
		e = new_call_on(p, call, f->name);
		if (!e)
			rc = oom();
		else
			rc = col_push(p, cv, query_arena_strndup(&p->arena, name, strlen(name)), e);
	}
	query_regex_free(re);
	return rc;
}

/* Makes duplicate column names unique as InfluxDB does: mean, mean_1, mean_2. */
static bool name_taken(const select_plan *p, const bool *fixed, const char *name)
{
	if (strcmp(name, p->time_name) == 0)
		return true;
	for (size_t m = 0; m < p->n_columns; m++)
		if (fixed[m] && strcmp(p->columns[m].name, name) == 0)
			return true;
	return false;
}

/*
 * Makes column names unique as InfluxDB does: aliases keep their names,
 * then each other column in order takes its name or the first free
 * name_1, name_2...
 */
static int dedupe_names(select_plan *p)
{
	bool *fixed = query_arena_alloc(&p->arena, (p->n_columns + 1) * sizeof(*fixed));

	if (!fixed)
		return oom();
	for (size_t i = 0; i < p->n_columns; i++)
		fixed[i] = p->columns[i].aliased;
	for (size_t i = 0; i < p->n_columns; i++) {
		if (p->columns[i].aliased)
			continue;
		if (name_taken(p, fixed, p->columns[i].name)) {
			for (unsigned k = 1; k < 1000000; k++) {
				char name[600];

				snprintf(name, sizeof name, "%s_%u", p->columns[i].name, k);
				if (!name_taken(p, fixed, name)) {
					p->columns[i].name = query_arena_strndup(&p->arena, name, strlen(name));
					if (!p->columns[i].name)
						return oom();
					break;
				}
			}
		}
		fixed[i] = true;
	}
	return 0;
}

/* ---- calls ---- */

static int call_error(const query_expr *call, const char *what)
{
	return strata_error(STRATA_EINVAL, "invalid call %s(): %s", call->call.name, what);
}


static bool uses_field(const select_plan *p, const query_expr *e)
{
	e = unparen(e);
	if (e->kind == QUERY_EXPR_VARREF)
		return e->ref.type != QUERY_TYPE_TAG && select_plan_field(p, e->ref.name) >= 0;
	if (e->kind == QUERY_EXPR_BINARY)
		return uses_field(p, e->binary.lhs) || uses_field(p, e->binary.rhs);
	return false;
}

static bool names_non_tag_expr(const select_plan *p, const query_expr *e)
{
	e = unparen(e);
	if (e->kind == QUERY_EXPR_VARREF)
		return e->ref.type != QUERY_TYPE_TAG && !is_tag_key(p, e->ref.name);
	if (e->kind == QUERY_EXPR_BINARY)
		return names_non_tag_expr(p, e->binary.lhs) || names_non_tag_expr(p, e->binary.rhs);
	return false;
}

static int add_slot(select_plan *p, const query_expr *call, size_t max_slots)
{
	struct select_slot *s;
	const query_expr *arg;
	enum query_agg_fn fn = agg_fn(call->call.name);
	uint32_t want_min = 1, want_max = 1;

	if (p->n_slots >= max_slots)
		return strata_error(STRATA_ETOOBIG, "too many function calls in one statement");
	switch (fn) {
	case QUERY_AGG_PERCENTILE:
	case QUERY_AGG_TOP:
	case QUERY_AGG_BOTTOM:
	case QUERY_AGG_SAMPLE:
		want_min = want_max = 2;
		break;
	case QUERY_AGG_INTEGRAL:
		want_max = 2;
		break;
	default:
		break;
	}
	if (call->call.n_args < want_min || call->call.n_args > want_max) {
		char msg[96];

		snprintf(msg, sizeof msg, "expected %u argument%s, got %u", want_max, want_max == 1 ? "" : "s",
			 call->call.n_args);
		return call_error(call, msg);
	}
	arg = unparen(call->call.args[0]);
	s = &p->slots[p->n_slots];
	memset(s, 0, sizeof(*s));
	if (arg->kind == QUERY_EXPR_CALL && fn == QUERY_AGG_COUNT && strcmp(arg->call.name, "distinct") == 0 &&
	    arg->call.n_args == 1) {
		/* count(distinct(f)): the number of distinct values. */
		s->count_distinct = true;
		fn = QUERY_AGG_DISTINCT;
		arg = unparen(arg->call.args[0]);
	}
	if (arg->kind == QUERY_EXPR_CALL)
		return strata_error(STRATA_EINVAL, "%s(%s()) is not supported: aggregate functions cannot be nested",
				    call->call.name, arg->call.name);
	if (arg->kind != QUERY_EXPR_VARREF)
		return call_error(call, "expected field argument");
	s->node = call;
	s->fn = fn;
	s->field = arg->ref.type == QUERY_TYPE_TAG ? -1 : select_plan_field(p, arg->ref.name);
	if (call->call.n_args == 2) {
		const query_expr *n = unparen(call->call.args[1]);

		switch (fn) {
		case QUERY_AGG_PERCENTILE:
			if (n->kind == QUERY_EXPR_INTEGER)
				s->args.percentile = (double)n->i;
			else if (n->kind == QUERY_EXPR_NUMBER)
				s->args.percentile = n->f;
			else
				return call_error(call, "expected float argument in percentile()");
			break;
		case QUERY_AGG_INTEGRAL:
			if (n->kind != QUERY_EXPR_DURATION || n->ns <= 0)
				return call_error(call, "second argument must be a duration");
			s->args.unit_ns = n->ns;
			break;
		default:
			if (n->kind != QUERY_EXPR_INTEGER)
				return call_error(call, "expected integer as last argument");
			if (n->i < 1)
				return call_error(call, "limit (N) must be greater than 0");
			s->args.n = n->i;
			break;
		}
	}
	s->args.seed = 0x5eed;
	p->n_slots++;
	return 0;
}

/* Collects the aggregate calls of e into slots; fails on a variable outside them. */
static int collect_calls(select_plan *p, const query_expr *e, size_t max_slots, bool *bare_ref)
{
	e = unparen(e);
	switch (e->kind) {
	case QUERY_EXPR_CALL:
		if (agg_fn(e->call.name))
			return add_slot(p, e, max_slots);
		if (transform_fn(e->call.name))
			return strata_error(STRATA_EINVAL, "%s() must be the outermost function of its column",
					    e->call.name);
		return strata_error(STRATA_EINVAL, "undefined function %s()", e->call.name);
	case QUERY_EXPR_BINARY: {
		int rc = collect_calls(p, e->binary.lhs, max_slots, bare_ref);

		return rc ? rc : collect_calls(p, e->binary.rhs, max_slots, bare_ref);
	}
	case QUERY_EXPR_VARREF:
	case QUERY_EXPR_WILDCARD:
		*bare_ref = true;
		return 0;
	default:
		return 0;
	}
}

/* True when some column names something that is not a tag (a field, even one the measurement lacks). */
static bool names_non_tag(const select_plan *p)
{
	for (size_t i = 0; i < p->n_columns; i++)
		if (p->columns[i].uses_field || names_non_tag_expr(p, p->columns[i].expr))
			return true;
	return false;
}

static bool has_call(const query_expr *e)
{
	e = unparen(e);
	if (e->kind == QUERY_EXPR_CALL)
		return true;
	if (e->kind == QUERY_EXPR_BINARY)
		return has_call(e->binary.lhs) || has_call(e->binary.rhs);
	return false;
}

/* derivative(x[, unit]), moving_average(x, n) ...: reads the arguments into t. */
static int read_transform(select_plan *p, const query_expr *call, struct select_transform *t)
{
	uint32_t max_args = 2;

	memset(t, 0, sizeof(*t));
	t->fn = transform_fn(call->call.name);
	switch (t->fn) {
	case QUERY_TRANSFORM_DIFFERENCE:
	case QUERY_TRANSFORM_NON_NEGATIVE_DIFFERENCE:
	case QUERY_TRANSFORM_CUMULATIVE_SUM:
		max_args = 1;
		break;
	default:
		break;
	}
	if (call->call.n_args < 1 || call->call.n_args > max_args ||
	    (t->fn == QUERY_TRANSFORM_MOVING_AVERAGE && call->call.n_args != 2))
		return call_error(call, "wrong number of arguments");
	t->arg = unparen(call->call.args[0]);
	if (call->call.n_args == 2) {
		const query_expr *a = unparen(call->call.args[1]);

		if (t->fn == QUERY_TRANSFORM_MOVING_AVERAGE) {
			if (a->kind != QUERY_EXPR_INTEGER)
				return call_error(call, "second argument must be an integer");
			if (a->i < 2)
				return call_error(call, "second argument must be greater than 1");
			t->args.n = a->i;
		} else {
			if (a->kind != QUERY_EXPR_DURATION)
				return call_error(call, "second argument must be a duration");
			if (a->ns <= 0)
				return call_error(call, "duration argument must be positive");
			t->args.unit_ns = a->ns;
		}
	}
	if (t->arg->kind == QUERY_EXPR_CALL) {
		if (!agg_fn(t->arg->call.name))
			return strata_error(STRATA_EINVAL, "%s(): the argument must be a field or an aggregate",
					    call->call.name);
		if (!p->stmt->group_time)
			return strata_error(STRATA_EINVAL, "%s aggregate requires a GROUP BY interval",
					    call->call.name);
		/* Over an aggregate the default unit is the GROUP BY interval. */
		if (t->args.unit_ns == 0 && (t->fn == QUERY_TRANSFORM_DERIVATIVE ||
					     t->fn == QUERY_TRANSFORM_NON_NEGATIVE_DERIVATIVE))
			t->args.unit_ns = p->interval;
	} else if (t->arg->kind == QUERY_EXPR_VARREF) {
		if (p->stmt->group_time)
			return strata_error(STRATA_EINVAL, "aggregate function required inside the call to %s",
					    call->call.name);
	} else {
		return call_error(call, "expected field argument");
	}
	return 0;
}

/* ---- the plan ---- */

static int group_tags(select_plan *p)
{
	const struct query_select *s = p->stmt;
	const char **v = query_arena_alloc(&p->arena, (p->n_tag_keys + s->n_dimensions + 1) * sizeof(*v));
	size_t n = 0;
	int rc = 0;

	if (!v)
		return oom();
	for (uint32_t i = 0; rc == 0 && i < s->n_dimensions; i++) {
		const query_expr *d = unparen(s->dimensions[i]);

		if (d->kind == QUERY_EXPR_CALL)
			continue; /* time(...) */
		if (d->kind == QUERY_EXPR_VARREF) {
			v[n++] = d->ref.name;
		} else if (d->kind == QUERY_EXPR_WILDCARD) {
			for (size_t j = 0; j < p->n_tag_keys; j++)
				v[n++] = p->tag_keys[j];
		} else if (d->kind == QUERY_EXPR_REGEX) {
			query_regex *re;

			rc = query_regex_compile(&re, d->regex);
			for (size_t j = 0; rc == 0 && j < p->n_tag_keys; j++) {
				rc = query_regex_match(re, p->tag_keys[j], strlen(p->tag_keys[j]));
				if (rc == 1)
					v[n++] = p->tag_keys[j];
				rc = rc < 0 ? rc : 0;
			}
			if (re)
				query_regex_free(re);
		} else {
			rc = strata_error(STRATA_EINVAL, "only time() calls and tags are allowed in GROUP BY");
		}
		if (n > p->n_tag_keys + s->n_dimensions)
			break;
	}
	if (rc)
		return rc;
	/* Sorted and unique: tags are written in key order. */
	for (size_t i = 1; i < n; i++) {
		const char *x = v[i];
		size_t j = i;

		while (j > 0 && strcmp(v[j - 1], x) > 0) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
	p->n_group_tags = 0;
	for (size_t i = 0; i < n; i++)
		if (p->n_group_tags == 0 || strcmp(v[p->n_group_tags - 1], v[i]) != 0)
			v[p->n_group_tags++] = v[i];
	p->group_tags = v;
	return 0;
}

static int time_bounds(select_plan *p, int64_t now_ns)
{
	const struct query_select *s = p->stmt;
	bool has_lo, has_hi;
	int rc = query_time_range(s->condition, now_ns, &p->lo, &p->hi, &has_lo, &has_hi);

	if (rc)
		return rc;
	p->has_lo = has_lo;
	if (s->group_time) {
		p->interval = s->group_interval_ns;
		p->offset = s->group_offset_ns;
		if (s->group_offset_now)
			p->offset = now_ns % p->interval;
		p->offset %= p->interval;
		if (p->offset < 0)
			p->offset += p->interval;
		if (!has_hi)
			p->hi = now_ns; /* as InfluxDB: GROUP BY time ends at now() by default */
	}
	return 0;
}

static bool is_multi_row(enum query_agg_fn fn)
{
	return fn == QUERY_AGG_TOP || fn == QUERY_AGG_BOTTOM || fn == QUERY_AGG_SAMPLE || fn == QUERY_AGG_DISTINCT;
}

static bool is_selector(enum query_agg_fn fn)
{
	return fn == QUERY_AGG_MIN || fn == QUERY_AGG_MAX || fn == QUERY_AGG_FIRST || fn == QUERY_AGG_LAST ||
	       fn == QUERY_AGG_PERCENTILE || fn == QUERY_AGG_SAMPLE || fn == QUERY_AGG_TOP || fn == QUERY_AGG_BOTTOM;
}

static int columns(select_plan *p)
{
	const struct query_select *s = p->stmt;
	struct colvec cv = { 0 };
	bool any_agg = false, bare_ref = false;
	size_t max_slots;
	int rc;

	for (uint32_t i = 0; i < s->n_fields; i++) {
		const query_expr *e = unparen(s->fields[i].expr);

		if (e->kind == QUERY_EXPR_WILDCARD) {
			rc = expand_wildcard(p, &cv, e->wildcard_type);
		} else if (e->kind == QUERY_EXPR_CALL && e->call.n_args >= 1 &&
			   (unparen(e->call.args[0])->kind == QUERY_EXPR_WILDCARD ||
			    unparen(e->call.args[0])->kind == QUERY_EXPR_REGEX)) {
			if (transform_fn(e->call.name))
				rc = strata_error(STRATA_EINVAL, "%s(*) is not supported: name a field",
						  e->call.name);
			else
				rc = expand_call(p, &cv, e);
		} else if (e->kind == QUERY_EXPR_VARREF && e->ref.type == QUERY_TYPE_NONE &&
			   strcmp(e->ref.name, "time") == 0) {
			/* `time` is always the first column; AS renames it. */
			if (s->fields[i].alias)
				p->time_name = s->fields[i].alias;
			continue;
		} else {
			rc = col_push(p, &cv, column_name(p, &s->fields[i]), s->fields[i].expr);
			if (rc == 0)
				cv.v[cv.n - 1].aliased = s->fields[i].alias != NULL;
		}
		if (rc)
			return rc;
	}
	p->columns = cv.v;
	p->n_columns = cv.n;
	if (p->n_columns == 0)
		return strata_error(STRATA_EINVAL, "statement must have at least one field in select clause");
	max_slots = 4 * p->n_columns + 16;
	p->slots = query_arena_alloc(&p->arena, max_slots * sizeof(*p->slots));
	if (!p->slots)
		return oom();
	for (size_t i = 0; i < p->n_columns; i++) {
		struct select_column *c = &p->columns[i];
		const query_expr *e = unparen(c->expr);

		if (e->kind == QUERY_EXPR_CALL && transform_fn(e->call.name)) {
			rc = read_transform(p, e, &c->transform);
			if (rc)
				return rc;
			c->has_transform = true;
			p->has_transform = true;
			c->expr = c->transform.arg;
			e = c->expr;
		}
		if (e->kind == QUERY_EXPR_CALL && strcmp(e->call.name, "count") == 0)
			c->bare_count = true;
		c->uses_field = uses_field(p, c->expr);
		if (has_call(c->expr))
			any_agg = true;
	}
	if (!any_agg) {
		/* Raw points (transformations of fields included). */
		p->mode = SELECT_RAW;
		if (!names_non_tag(p))
			p->no_fields = true; /* InfluxDB 1.8 answers tags alone with nothing */
		for (size_t i = 1; i < p->n_columns; i++)
			if (p->columns[i].has_transform != p->columns[0].has_transform)
				return strata_error(STRATA_EINVAL,
						    "mixing aggregate and non-aggregate queries is not supported");
		if (p->stmt->group_time)
			return strata_error(STRATA_EINVAL, "GROUP BY requires at least one aggregate function");
		return 0;
	}
	p->mode = SELECT_AGGREGATE;
	for (size_t i = 0; i < p->n_columns; i++) {
		rc = collect_calls(p, p->columns[i].expr, max_slots, &bare_ref);
		if (rc)
			return rc;
	}
	if (bare_ref) {
		/* Fields and tags beside one min/max/first/last: the selected point's values. */
		bool selector = p->n_slots == 1 && !p->slots[0].count_distinct &&
				(p->slots[0].fn == QUERY_AGG_MIN || p->slots[0].fn == QUERY_AGG_MAX ||
				 p->slots[0].fn == QUERY_AGG_FIRST || p->slots[0].fn == QUERY_AGG_LAST);

		for (size_t i = 0; selector && i < p->n_columns; i++) {
			const query_expr *e = unparen(p->columns[i].expr);

			if (has_call(e))
				continue;
			if (e->kind != QUERY_EXPR_VARREF || p->columns[i].has_transform) {
				selector = false;
				break;
			}
			p->columns[i].aux = (int)p->n_aux++;
		}
		if (!selector)
			return strata_error(STRATA_EINVAL, "mixing aggregate and non-aggregate queries is not supported");
	}
	for (size_t i = 0; i < p->n_slots; i++) {
		if (!is_multi_row(p->slots[i].fn) || p->slots[i].count_distinct)
			continue;
		if (p->n_slots != 1 || p->n_columns != 1 || unparen(p->columns[0].expr) != p->slots[0].node ||
		    p->columns[0].has_transform)
			return strata_error(STRATA_EINVAL, "%s() cannot be combined with other functions or fields",
					    query_agg_fn_name(p->slots[i].fn));
		p->multi_row = true;
	}
	/* One selector call (in arithmetic too): rows take the selected point's time. */
	if (p->n_slots == 1 && !p->has_transform && is_selector(p->slots[0].fn) && !p->slots[0].count_distinct &&
	    (!p->stmt->group_time || p->multi_row))
		p->selector_time = true;
	return 0;
}

/* Marks the fields e reads; *other set when e reads time or anything but tags and literals. */
static void mark_refs(select_plan *p, const query_expr *e, bool *other)
{
	const lsm_field_info *f;

	e = unparen(e);
	switch (e->kind) {
	case QUERY_EXPR_VARREF:
		switch (query_ref_kind(e, p->fields, p->n_fields, &f)) {
		case QUERY_REF_FIELD:
			if (f)
				p->needed[f - p->fields] = true;
			*other = true;
			break;
		case QUERY_REF_TIME:
			*other = true;
			break;
		case QUERY_REF_TAG:
			break;
		}
		return;
	case QUERY_EXPR_WILDCARD:
		for (size_t i = 0; i < p->n_fields; i++)
			p->needed[i] = true;
		*other = true;
		return;
	case QUERY_EXPR_CALL:
		for (uint32_t i = 0; i < e->call.n_args; i++)
			mark_refs(p, e->call.args[i], other);
		*other = true;
		return;
	case QUERY_EXPR_BINARY:
		mark_refs(p, e->binary.lhs, other);
		mark_refs(p, e->binary.rhs, other);
		return;
	default:
		return;
	}
}

static bool is_time_bound(const query_expr *e)
{
	const query_expr *l, *r;

	if (e->kind != QUERY_EXPR_BINARY || !query_op_is_comparison(e->binary.op))
		return false;
	l = unparen(e->binary.lhs);
	r = unparen(e->binary.rhs);
	return (l->kind == QUERY_EXPR_VARREF && strcmp(l->ref.name, "time") == 0) ||
	       (r->kind == QUERY_EXPR_VARREF && strcmp(r->ref.name, "time") == 0);
}

/* True for terms the series set decides exactly: tags compared with strings or regexes, AND, OR. */
static bool tags_only(const select_plan *p, const query_expr *e)
{
	const query_expr *l, *r;

	e = unparen(e);
	if (e->kind == QUERY_EXPR_BOOLEAN)
		return true;
	if (e->kind != QUERY_EXPR_BINARY)
		return false;
	if (e->binary.op == QUERY_OP_AND || e->binary.op == QUERY_OP_OR)
		return tags_only(p, e->binary.lhs) && tags_only(p, e->binary.rhs);
	l = unparen(e->binary.lhs);
	r = unparen(e->binary.rhs);
	if (l->kind != QUERY_EXPR_VARREF) {
		const query_expr *t = l;

		l = r;
		r = t;
	}
	if (l->kind != QUERY_EXPR_VARREF || query_ref_kind(l, p->fields, p->n_fields, NULL) != QUERY_REF_TAG)
		return false;
	switch (e->binary.op) {
	case QUERY_OP_EQ:
	case QUERY_OP_NEQ:
		return r->kind == QUERY_EXPR_STRING;
	case QUERY_OP_EQREGEX:
	case QUERY_OP_NEQREGEX:
		return r->kind == QUERY_EXPR_REGEX;
	default:
		return false;
	}
}

static int add_residual(select_plan *p, const query_expr *e, size_t cap)
{
	bool other = false;

	e = unparen(e);
	if (e->kind == QUERY_EXPR_BINARY && e->binary.op == QUERY_OP_AND) {
		int rc = add_residual(p, e->binary.lhs, cap);

		return rc ? rc : add_residual(p, e->binary.rhs, cap);
	}
	if (is_time_bound(e) || tags_only(p, e))
		return 0; /* the scan's range, or decided per series by the series set */
	mark_refs(p, e, &other);
	if (p->n_residual == cap)
		return strata_error(STRATA_ETOOBIG, "too many terms in the condition");
	p->residual[p->n_residual++] = e;
	return 0;
}

/* The fields each point must give, and the terms of the condition each point must pass. */
static int point_work(select_plan *p)
{
	size_t cap = 4096;
	bool other = false;

	p->needed = query_arena_alloc(&p->arena, (p->n_fields + 1) * sizeof(*p->needed));
	p->residual = query_arena_alloc(&p->arena, cap * sizeof(*p->residual));
	if (!p->needed || !p->residual)
		return oom();
	memset(p->needed, 0, (p->n_fields + 1) * sizeof(*p->needed));
	for (size_t i = 0; i < p->n_columns; i++) {
		mark_refs(p, p->columns[i].expr, &other);
		if (p->columns[i].has_transform)
			mark_refs(p, p->columns[i].transform.arg, &other);
	}
	return p->stmt->condition ? add_residual(p, p->stmt->condition, cap) : 0;
}

/*
 * Transformations over buckets read buckets before the first one shown, as
 * InfluxDB does (derivative and difference one, moving_average N - 1), so
 * that the first bucket in range has its value.
 */
static int transform_lead(select_plan *p)
{
	int64_t lead = 0;

	p->scan_lo = p->lo;
	if (p->mode != SELECT_AGGREGATE || !p->interval || !p->has_lo)
		return 0;
	for (size_t i = 0; i < p->n_columns; i++) {
		const struct select_transform *t = &p->columns[i].transform;
		int64_t n;

		if (!p->columns[i].has_transform)
			continue;
		switch (t->fn) {
		case QUERY_TRANSFORM_MOVING_AVERAGE:
			n = t->args.n - 1;
			break;
		case QUERY_TRANSFORM_CUMULATIVE_SUM:
			n = 0;
			break;
		default:
			n = 1;
			break;
		}
		if (n > lead)
			lead = n;
	}
	if (lead && __builtin_mul_overflow(lead, p->interval, &lead))
		return strata_error(STRATA_ETOOBIG, "moving_average window too large");
	if (__builtin_sub_overflow(p->lo, lead, &p->scan_lo))
		p->scan_lo = INT64_MIN;
	return 0;
}

int select_plan_init(select_plan *p, lsm_catalog *c, uint32_t db, const char *m,
		     const struct query_select *stmt, const select_names *wildcard, int64_t now_ns)
{
	int rc;

	memset(p, 0, sizeof(*p));
	query_arena_init(&p->arena, 0);
	p->stmt = stmt;
	p->measurement = m;
	p->wildcard = wildcard;
	p->time_name = "time";
	rc = lsm_catalog_fields(c, db, m, strlen(m), &p->fields, &p->n_fields);
	if (rc == 0)
		rc = lsm_catalog_tag_keys(c, db, m, strlen(m), &p->tag_keys, &p->n_tag_keys);
	if (rc)
		return rc;
	for (size_t i = 0; i < p->n_fields; i++)
		if (p->fields[i].id > p->max_field_id)
			p->max_field_id = p->fields[i].id;
	rc = time_bounds(p, now_ns);
	if (rc == 0)
		rc = group_tags(p);
	if (rc == 0)
		rc = columns(p);
	if (rc == 0)
		rc = dedupe_names(p);
	if (rc == 0)
		rc = point_work(p);
	if (rc == 0)
		rc = transform_lead(p);
	return rc;
}

void select_plan_free(select_plan *p)
{
	lsm_catalog_free_fields(p->fields, p->n_fields);
	lsm_catalog_free_names(p->tag_keys, p->n_tag_keys);
	p->fields = NULL;
	p->tag_keys = NULL;
	query_arena_deinit(&p->arena);
}
