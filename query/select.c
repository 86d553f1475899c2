/*
 * select.c — SELECT: series from the catalog, range scans merged in time
 * order, rows or per-bucket aggregates, fill, transformations, limits.
 *
 * For each measurement of FROM (select_plan.h prepares the statement):
 *   1. the series the condition may match (series_set.h), grouped by the
 *      values of the GROUP BY tags; groups in tag-value order;
 *   2. per group, one range scan [series‖lo, series‖hi] per series, merged
 *      by time (a heap of cursors; ties in series order), each point's
 *      fields decoded and the condition checked;
 *   3. raw statements write each matching point as a row as it comes
 *      (ORDER BY time DESC gathers the group first); aggregate statements
 *      feed one accumulator per call, close a bucket when the stream
 *      passes its end, and keep only each closed bucket's results: memory
 *      follows the buckets and series, not the points read;
 *   4. fill, transformations over the buckets, ORDER BY, OFFSET and LIMIT,
 *      then the series is written.
 */
#include "lsm/alloc.h"
#include "lsm/key.h"
#include "lsm/status.h"
#include "query/eval.h"
#include "query/exec_int.h"
#include "query/select_plan.h"
#include "query/series_set.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* How often (in points) a long scan looks at the clock. */
#define DEADLINE_EVERY 16384

/* One series' range scan in the merge. */
struct cursor {
	lsm_db_iter *it;
	const query_series *series;
	size_t order; /* position in the group: ties go to the earlier series */
	int64_t t;
};

/* A closed bucket's results: n_slots values in the group's value array. */
struct entry {
	int64_t bucket; /* start of its bucket */
	int64_t time;   /* time of its row */
};

struct exec {
	query_stmt_ctx *ctx;
	select_plan *p;
	query_series_set set;
	query_regex_cache regexes;
	uint64_t points;        /* points read by the statement */
	uint64_t rows;          /* rows written by the statement */
	uint64_t groups_with_rows;
	uint64_t series_written;
	bool done;              /* SLIMIT reached */

	/* the point at hand */
	const query_series *series;
	int64_t time;
	query_value *vals;      /* by field index */
	lsm_row_field *fbuf;
	size_t fcap;
	int32_t *idx_by_id;     /* field id -> field index, or -1 */

	/* the group at hand */
	size_t g_first, g_end;   /* its series in order[] */
	const query_series **order;
	struct cursor *cur;
	size_t *heap;
	size_t n_heap;
	query_arena garena;      /* strings kept for the group */
	bool series_open;
	bool skip_group;         /* SOFFSET: read, not written */

	/* raw */
	query_transform *tr;     /* per column */
	query_value *colvals;
	bool desc_buffer;
	int64_t *buf_times;
	query_value *buf_vals;
	size_t n_buf, cap_buf;

	/* aggregate */
	query_agg *accs;         /* per slot */
	bool *acc_live;          /* an accumulator holds points */
	query_point *carry;      /* integral bridge */
	bool *has_carry;
	bool bucket_open;
	int64_t bucket;
	struct entry *entries;
	query_value *evals;      /* n_slots per entry */
	size_t n_entries, cap_entries;
	const query_value *slot_row; /* the slot values eval looks up */
};

static int oom(void)
{
	return strata_error(-ENOMEM, "out of memory running the query");
}

/* ---- values ---- */

/* The value of a decoded field, written member by member into *out. */
static void field_value(const lsm_row_field *f, query_value *out)
{
	switch (f->type) {
	case LSM_FIELD_FLOAT:
		out->type = QUERY_VALUE_FLOAT;
		out->v.f = f->v.f;
		return;
	case LSM_FIELD_INT:
		out->type = QUERY_VALUE_INTEGER;
		out->v.i = f->v.i;
		return;
	case LSM_FIELD_UINT:
		out->type = QUERY_VALUE_UNSIGNED;
		out->v.u = f->v.u;
		return;
	case LSM_FIELD_STRING:
		out->type = QUERY_VALUE_STRING;
		out->v.s.ptr = f->v.s.p;
		out->v.s.len = f->v.s.len;
		return;
	case LSM_FIELD_BOOL:
		out->type = QUERY_VALUE_BOOLEAN;
		out->v.b = f->v.b;
		return;
	}
	out->type = QUERY_VALUE_NONE;
}

/* v with its string copied into the group's arena. */
static int keep_value(struct exec *x, query_value *v)
{
	char *s;

	if (v->type != QUERY_VALUE_STRING || v->v.s.len == 0)
		return 0;
	s = query_arena_alloc(&x->garena, v->v.s.len);
	if (!s)
		return oom();
	memcpy(s, v->v.s.ptr, v->v.s.len);
	v->v.s.ptr = s;
	return 0;
}

static query_value tag_value(const query_series *s, const char *key)
{
	size_t len;
	const char *v = query_series_tag(&s->parts, key, strlen(key), &len);

	return v ? query_value_string(v, len) : (query_value){ 0 };
}

/* eval lookup over the point at hand. */
static query_value lookup_point(void *ctx, const query_expr *e)
{
	struct exec *x = ctx;
	int i;

	if (e->kind != QUERY_EXPR_VARREF)
		return (query_value){ 0 };
	if (e->ref.type != QUERY_TYPE_TAG) {
		i = select_plan_field(x->p, e->ref.name);
		if (i >= 0)
			return x->vals[i];
		if (e->ref.type != QUERY_TYPE_NONE)
			return (query_value){ 0 };
	}
	return tag_value(x->series, e->ref.name);
}

/* eval lookup over a bucket's slot values. */
static query_value lookup_slots(void *ctx, const query_expr *e)
{
	struct exec *x = ctx;

	if (e->kind == QUERY_EXPR_CALL)
		for (size_t i = 0; i < x->p->n_slots; i++)
			if (x->p->slots[i].node == e)
				return x->slot_row[i];
	return (query_value){ 0 };
}

static query_eval_env env_for(struct exec *x, query_eval_lookup lookup)
{
	return (query_eval_env){ .lookup = lookup, .ctx = x, .time_ns = x->time, .now_ns = x->ctx->now_ns,
				 .regexes = &x->regexes };
}

/* ---- reading points ---- */

static void key_bounds(const select_plan *p, uint64_t sid, uint8_t lo[LSM_UKEY_LEN], uint8_t hi[LSM_UKEY_LEN])
{
	lsm_ukey_encode(lo, sid, p->lo);
	if (p->hi == INT64_MAX)
		lsm_ukey_encode(hi, sid + 1, INT64_MIN);
	else
		lsm_ukey_encode(hi, sid, p->hi + 1);
}

static bool heap_less(const struct exec *x, size_t a, size_t b)
{
	const struct cursor *ca = &x->cur[a], *cb = &x->cur[b];

	return ca->t < cb->t || (ca->t == cb->t && ca->order < cb->order);
}

static void heap_down(struct exec *x, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < x->n_heap && heap_less(x, x->heap[l], x->heap[m]))
			m = l;
		if (r < x->n_heap && heap_less(x, x->heap[r], x->heap[m]))
			m = r;
		if (m == i)
			return;
		size_t t = x->heap[i];

		x->heap[i] = x->heap[m];
		x->heap[m] = t;
		i = m;
	}
}

static void close_cursors(struct exec *x)
{
	for (size_t i = 0; x->cur && i < x->g_end - x->g_first; i++) {
		lsm_db_iter_free(x->cur[i].it);
		x->cur[i].it = NULL;
	}
	x->n_heap = 0;
}

static int open_cursors(struct exec *x)
{
	size_t n = x->g_end - x->g_first;

	x->n_heap = 0;
	for (size_t i = 0; i < n; i++) {
		struct cursor *c = &x->cur[i];
		uint8_t lo[LSM_UKEY_LEN], hi[LSM_UKEY_LEN];
		int rc;

		c->series = x->order[x->g_first + i];
		c->order = i;
		key_bounds(x->p, c->series->id, lo, hi);
		rc = lsm_db_iter_new(&c->it, x->ctx->e->db, lo, hi);
		if (rc) {
			c->it = NULL;
			return rc;
		}
		lsm_db_iter_seek_first(c->it);
		rc = lsm_db_iter_status(c->it);
		if (rc)
			return rc;
		if (lsm_db_iter_valid(c->it)) {
			c->t = lsm_ukey_ts(lsm_db_iter_key(c->it));
			x->heap[x->n_heap++] = i;
		}
	}
	for (size_t i = x->n_heap / 2; i-- > 0;)
		heap_down(x, i);
	return 0;
}

/* Decodes the value of the smallest cursor into x->vals. */
static int decode_point(struct exec *x, struct cursor *c)
{
	size_t len, n = 0;
	const uint8_t *v = lsm_db_iter_value(c->it, &len);
	int rc;

	for (;;) {
		rc = lsm_row_decode(v, len, x->fbuf, x->fcap, &n);
		if (rc != STRATA_ETOOBIG)
			break;
		{
			size_t cap = 2 * x->fcap;
			lsm_row_field *f = strata_realloc(x->fbuf, cap * sizeof(*f));

			if (!f || cap > 1u << 20)
				return f ? strata_error(STRATA_ECORRUPT, "a point with too many fields") : oom();
			x->fbuf = f;
			x->fcap = cap;
		}
	}
	if (rc)
		return strata_error(rc, "series %llu at %lld: undecodable point",
				    (unsigned long long)c->series->id, (long long)c->t);
	for (size_t i = 0; i < x->p->n_fields; i++)
		x->vals[i].type = QUERY_VALUE_NONE;
	for (size_t i = 0; i < n; i++) {
		uint32_t id = x->fbuf[i].id;
		int32_t idx = id <= x->p->max_field_id ? x->idx_by_id[id] : -1;

		if (idx >= 0 && x->p->needed[idx])
			field_value(&x->fbuf[i], &x->vals[idx]);
	}
	return 0;
}

/*
 * Reads the point at cursor c into x (series, time, field values): 1 when
 * it passes the condition, 0 when not, or an error (a limit, a damaged
 * value).
 */
static int take_point(struct exec *x, struct cursor *c)
{
	int rc;

	if (++x->points > x->ctx->e->limits.max_points && x->ctx->e->limits.max_points)
		return strata_error(STRATA_ETOOBIG, "max-select-point limit exceeded: (%llu/%llu)",
				    (unsigned long long)x->points, (unsigned long long)x->ctx->e->limits.max_points);
	if (x->points % DEADLINE_EVERY == 0) {
		rc = query_check_deadline(x->ctx);
		if (rc)
			return rc;
	}
	rc = decode_point(x, c);
	if (rc)
		return rc;
	x->series = c->series;
	x->time = c->t;
	if (x->p->n_residual) {
		query_eval_env env = env_for(x, lookup_point);
		bool pass = true;

		for (size_t i = 0; i < x->p->n_residual && pass; i++)
			pass = query_eval_cond(x->p->residual[i], &env);
		if (env.rc)
			return env.rc;
		return pass;
	}
	return 1;
}

/*
 * Positions on the next point of the group that passes the condition:
 * 1 with x->series, x->time and x->vals set; 0 at the end; or an error.
 * The point stays valid until the next call.
 */
static int next_point(struct exec *x, bool *advance)
{
	int rc;

	while (x->n_heap) {
		struct cursor *c = &x->cur[x->heap[0]];

		if (*advance) {
			lsm_db_iter_next(c->it);
			rc = lsm_db_iter_status(c->it);
			if (rc)
				return rc;
			if (lsm_db_iter_valid(c->it)) {
				c->t = lsm_ukey_ts(lsm_db_iter_key(c->it));
			} else {
				x->heap[0] = x->heap[--x->n_heap];
			}
			if (x->n_heap)
				heap_down(x, 0);
			*advance = false;
			continue;
		}
		*advance = true;
		rc = take_point(x, c);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ---- writing ---- */

/* Starts the group's series unless SOFFSET skips it; false when it is not written. */
static int begin_series(struct exec *x)
{
	const select_plan *p = x->p;
	const query_series *s = x->order[x->g_first];
	query_output_tag tags[p->n_group_tags ? p->n_group_tags : 1];
	const char *cols[p->n_columns + 1];
	int rc;

	if (x->series_open || x->skip_group)
		return 0;
	if (x->groups_with_rows++ < (uint64_t)p->stmt->soffset) {
		x->skip_group = true;
		return 0;
	}
	for (size_t i = 0; i < p->n_group_tags; i++) {
		size_t len;
		const char *v = query_series_tag(&s->parts, p->group_tags[i], strlen(p->group_tags[i]), &len);

		tags[i] = (query_output_tag){ .key = p->group_tags[i], .key_len = strlen(p->group_tags[i]),
					      .value = v ? v : "", .value_len = v ? len : 0 };
	}
	cols[0] = "time";
	for (size_t i = 0; i < p->n_columns; i++)
		cols[i + 1] = p->columns[i].name;
	rc = query_output_begin_series(x->ctx->out, p->measurement, tags, p->n_group_tags, cols, p->n_columns + 1,
				       true);
	if (rc)
		return rc;
	x->series_open = true;
	x->series_written++;
	return 0;
}

static int write_row(struct exec *x, int64_t t, const query_value *vals)
{
	int rc;

	if (x->ctx->e->limits.max_rows && x->rows >= x->ctx->e->limits.max_rows)
		return strata_error(STRATA_ETOOBIG, "max-rows limit exceeded: more than %llu rows",
				    (unsigned long long)x->ctx->e->limits.max_rows);
	rc = begin_series(x);
	if (rc || x->skip_group)
		return rc;
	x->rows++;
	return query_output_row(x->ctx->out, t, vals, NULL, x->p->n_columns);
}

static int end_series(struct exec *x)
{
	int rc = 0;

	if (x->series_open) {
		rc = query_output_end_series(x->ctx->out);
		x->series_open = false;
		if (x->p->stmt->slimit && x->series_written >= (uint64_t)x->p->stmt->slimit)
			x->done = true;
	}
	return rc;
}

/* ---- raw points ---- */

static int buffer_row(struct exec *x, const query_value *vals)
{
	size_t nc = x->p->n_columns;

	if (x->n_buf == x->cap_buf) {
		size_t cap = x->cap_buf ? 2 * x->cap_buf : 256;
		int64_t *t = strata_realloc(x->buf_times, cap * sizeof(*t));
		query_value *v;

		if (!t)
			return oom();
		x->buf_times = t;
		v = strata_realloc(x->buf_vals, cap * nc * sizeof(*v));
		if (!v)
			return oom();
		x->buf_vals = v;
		x->cap_buf = cap;
	}
	x->buf_times[x->n_buf] = x->time;
	for (size_t i = 0; i < nc; i++) {
		query_value v = vals[i];
		int rc = keep_value(x, &v);

		if (rc)
			return rc;
		x->buf_vals[x->n_buf * nc + i] = v;
	}
	x->n_buf++;
	return 0;
}

static int run_raw_group(struct exec *x)
{
	const select_plan *p = x->p;
	uint64_t offset = (uint64_t)p->stmt->offset, limit = (uint64_t)p->stmt->limit, seen = 0;
	bool advance = false;
	int rc;

	for (size_t i = 0; i < p->n_columns; i++)
		if (p->columns[i].has_transform)
			query_transform_reset(&x->tr[i]);
	x->n_buf = 0;
	rc = open_cursors(x);
	if (rc)
		return rc;
	while ((rc = next_point(x, &advance)) == 1) {
		query_eval_env env = env_for(x, lookup_point);
		bool any = false;

		for (size_t i = 0; i < p->n_columns; i++) {
			const struct select_column *c = &p->columns[i];
			query_value v = query_eval(c->expr, &env);

			if (c->has_transform) {
				query_point out;
				bool emitted = false;

				if (v.type != QUERY_VALUE_NONE) {
					rc = query_transform_push(&x->tr[i], x->time, v, &out, &emitted);
					if (rc)
						return rc;
				}
				v = emitted ? out.value : (query_value){ 0 };
				any |= emitted;
			} else {
				any |= c->uses_field && v.type != QUERY_VALUE_NONE;
			}
			x->colvals[i] = v;
		}
		if (!any)
			continue;
		if (x->desc_buffer) {
			rc = buffer_row(x, x->colvals);
		} else {
			if (seen++ < offset)
				continue;
			rc = write_row(x, x->time, x->colvals);
			if (rc == 0 && (x->skip_group || (limit && seen - offset >= limit)))
				break; /* a skipped group needed one row; a full one needs no more */
		}
		if (rc)
			return rc;
	}
	if (rc < 0)
		return rc;
	if (x->desc_buffer) {
		size_t nc = p->n_columns;

		for (size_t k = x->n_buf; k-- > 0;) {
			if (seen++ < offset)
				continue;
			if (limit && seen - offset > limit)
				break;
			rc = write_row(x, x->buf_times[k], &x->buf_vals[k * nc]);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* ---- aggregates ---- */

static int64_t bucket_of(const select_plan *p, int64_t t)
{
	int64_t r;

	if (!p->interval)
		return 0;
	/* Floor of (t - offset) / interval, without overflow near the ends of time. */
	if (__builtin_sub_overflow(t, p->offset, &r))
		r = (int64_t)(((__int128)t - p->offset) % p->interval);
	else
		r %= p->interval;
	if (r < 0)
		r += p->interval;
	return t - r;
}

static int push_entry(struct exec *x, int64_t bucket, int64_t time, const query_value *vals)
{
	size_t ns = x->p->n_slots;

	if (x->n_entries == x->cap_entries) {
		size_t cap = x->cap_entries ? 2 * x->cap_entries : 64;
		struct entry *e = strata_realloc(x->entries, cap * sizeof(*e));
		query_value *v;

		if (!e)
			return oom();
		x->entries = e;
		v = strata_realloc(x->evals, cap * ns * sizeof(*v));
		if (!v)
			return oom();
		x->evals = v;
		x->cap_entries = cap;
	}
	x->entries[x->n_entries] = (struct entry){ .bucket = bucket, .time = time };
	for (size_t i = 0; i < ns; i++) {
		query_value v = vals[i];
		int rc = keep_value(x, &v);

		if (rc)
			return rc;
		x->evals[x->n_entries * ns + i] = v;
	}
	x->n_entries++;
	return 0;
}

/* Closes the open bucket: its results become entries, its accumulators are reset. */
static int close_bucket(struct exec *x)
{
	const select_plan *p = x->p;
	query_value vals[p->n_slots];
	int64_t time = p->interval ? x->bucket : (p->has_lo ? p->lo : 0);
	bool any = false;
	int rc = 0;

	if (!x->bucket_open)
		return 0;
	x->bucket_open = false;
	for (size_t i = 0; i < p->n_slots; i++) {
		const query_agg_row *rows;
		size_t n = 0;

		vals[i] = (query_value){ 0 };
		if (!x->acc_live[i])
			continue;
		rc = query_agg_result(&x->accs[i], &rows, &n);
		if (rc)
			return rc;
		if (p->multi_row) {
			for (size_t k = 0; k < n && rc == 0; k++)
				rc = push_entry(x, x->bucket, rows[k].has_time ? rows[k].time_ns : time, &rows[k].value);
			if (rc)
				return rc;
			continue;
		}
		if (n == 0)
			continue;
		vals[i] = rows[0].value;
		if (p->selector_time && rows[0].has_time)
			time = rows[0].time_ns;
		any = true;
	}
	if (any)
		rc = push_entry(x, x->bucket, time, vals);
	for (size_t i = 0; i < p->n_slots; i++) {
		query_agg_reset(&x->accs[i]);
		x->acc_live[i] = false;
	}
	return rc;
}

static int add_point(struct exec *x)
{
	const select_plan *p = x->p;
	int64_t b = bucket_of(p, x->time);
	int rc;

	if (x->bucket_open && b != x->bucket) {
		/* integral(): the trapezoid across the boundary is cut there. */
		for (size_t i = 0; i < p->n_slots; i++) {
			const struct select_slot *s = &p->slots[i];

			x->has_carry[i] = false;
			if (s->fn != QUERY_AGG_INTEGRAL || !x->acc_live[i] || s->field < 0 ||
			    x->vals[s->field].type == QUERY_VALUE_NONE)
				continue;
			rc = query_agg_integral_bridge(&x->accs[i], x->bucket + p->interval, x->time,
						       x->vals[s->field], &x->carry[i]);
			if (rc)
				return rc;
			x->has_carry[i] = b == x->bucket + p->interval;
		}
		rc = close_bucket(x);
		if (rc)
			return rc;
		for (size_t i = 0; i < p->n_slots; i++) {
			if (!x->has_carry[i])
				continue;
			rc = query_agg_add(&x->accs[i], x->carry[i].time_ns, x->carry[i].value);
			if (rc)
				return rc;
			x->acc_live[i] = true;
		}
	}
	if (!x->bucket_open) {
		x->bucket_open = true;
		x->bucket = b;
	}
	for (size_t i = 0; i < p->n_slots; i++) {
		const struct select_slot *s = &p->slots[i];

		if (s->field < 0 || x->vals[s->field].type == QUERY_VALUE_NONE)
			continue;
		rc = query_agg_add(&x->accs[i], x->time, x->vals[s->field]);
		if (rc)
			return rc;
		x->acc_live[i] = true;
	}
	return 0;
}

/* The value fill() puts in slot i of an empty bucket (linear is done after). */
static query_value fill_value(const select_plan *p, size_t i, const query_value *prev)
{
	const struct query_select *s = p->stmt;

	switch (s->fill) {
	case QUERY_FILL_NULL:
		if (p->slots[i].fn == QUERY_AGG_COUNT)
			return query_value_integer(0);
		return (query_value){ 0 };
	case QUERY_FILL_NUMBER: {
		const query_expr *v = s->fill_value;

		if (v->kind == QUERY_EXPR_INTEGER)
			return query_value_integer(v->i);
		if (v->kind == QUERY_EXPR_UNSIGNED)
			return query_value_unsigned(v->u);
		return query_value_float(v->f);
	}
	case QUERY_FILL_PREVIOUS:
		return prev ? *prev : (query_value){ 0 };
	default:
		return (query_value){ 0 };
	}
}

static double num(const query_value *v)
{
	return v->type == QUERY_VALUE_FLOAT ? v->v.f : v->type == QUERY_VALUE_INTEGER ? (double)v->v.i : (double)v->v.u;
}

static bool is_num(const query_value *v)
{
	return v->type == QUERY_VALUE_FLOAT || v->type == QUERY_VALUE_INTEGER || v->type == QUERY_VALUE_UNSIGNED;
}

/* fill(linear): slot values of empty rows between two known ones, on a line through them. */
static void fill_linear(size_t n_rows, size_t ns, const int64_t *times, query_value *sv, const bool *empty)
{
	for (size_t i = 0; i < ns; i++) {
		size_t prev = SIZE_MAX;

		for (size_t r = 0; r < n_rows; r++) {
			query_value *v = &sv[r * ns + i];
			size_t next;

			if (!empty[r] || v->type != QUERY_VALUE_NONE) {
				if (is_num(v))
					prev = r;
				continue;
			}
			if (prev == SIZE_MAX)
				continue;
			for (next = r + 1; next < n_rows && !(!empty[next] && is_num(&sv[next * ns + i])); next++)
				;
			if (next == n_rows)
				continue;
			{
				const query_value *a = &sv[prev * ns + i], *b = &sv[next * ns + i];
				double frac = (double)(times[r] - times[prev]) / (double)(times[next] - times[prev]);

				if (a->type == QUERY_VALUE_INTEGER && b->type == QUERY_VALUE_INTEGER)
					*v = query_value_integer(a->v.i + (int64_t)((double)(b->v.i - a->v.i) * frac));
				else
					*v = query_value_float(num(a) + (num(b) - num(a)) * frac);
			}
		}
	}
}

/* Writes the group's rows: buckets (filled), columns, transformations, order, limits. */
static int emit_aggregate_group(struct exec *x)
{
	const select_plan *p = x->p;
	const struct query_select *s = p->stmt;
	size_t ns = p->n_slots, nc = p->n_columns, n_rows = 0, cap;
	int64_t b_first, b_last;
	int64_t *times = NULL;
	query_value *sv = NULL, *cv = NULL;
	bool *empty = NULL, *keep = NULL;
	int rc = 0;

	if (x->n_entries == 0)
		return 0;
	if (p->interval && !p->multi_row && s->fill != QUERY_FILL_NONE) {
		b_first = bucket_of(p, p->lo);
		b_last = bucket_of(p, p->hi);
		cap = (size_t)((b_last - b_first) / p->interval) + 1;
	} else {
		b_first = b_last = 0;
		cap = x->n_entries;
	}
	times = strata_malloc(cap * sizeof(*times));
	sv = strata_malloc(cap * ns * sizeof(*sv));
	cv = strata_malloc(cap * nc * sizeof(*cv));
	empty = strata_calloc(cap, sizeof(*empty));
	keep = strata_malloc(cap * sizeof(*keep));
	if (!times || !sv || !cv || !empty || !keep) {
		rc = oom();
		goto out;
	}
	if (cap == x->n_entries && !(p->interval && !p->multi_row && s->fill != QUERY_FILL_NONE)) {
		for (size_t r = 0; r < x->n_entries; r++) {
			times[r] = x->entries[r].time;
			memcpy(&sv[r * ns], &x->evals[r * ns], ns * sizeof(*sv));
		}
		n_rows = x->n_entries;
	} else {
		size_t e = 0;

		for (int64_t b = b_first; n_rows < cap; b += p->interval) {
			times[n_rows] = b;
			if (e < x->n_entries && x->entries[e].bucket == b) {
				memcpy(&sv[n_rows * ns], &x->evals[e * ns], ns * sizeof(*sv));
				e++;
			} else {
				empty[n_rows] = true;
				for (size_t i = 0; i < ns; i++)
					sv[n_rows * ns + i] = (query_value){ 0 };
			}
			n_rows++;
		}
	}
	/* Slot-level fill, as InfluxDB fills each call's stream. */
	if (p->interval && !p->multi_row) {
		for (size_t r = 0; r < n_rows; r++) {
			for (size_t i = 0; i < ns; i++) {
				query_value *v = &sv[r * ns + i];

				if (v->type != QUERY_VALUE_NONE || s->fill == QUERY_FILL_LINEAR ||
				    s->fill == QUERY_FILL_NONE)
					continue;
				*v = fill_value(p, i, r ? &sv[(r - 1) * ns + i] : NULL);
			}
		}
		if (s->fill == QUERY_FILL_LINEAR) {
			bool *all = strata_malloc(n_rows * sizeof(*all));

			if (!all) {
				rc = oom();
				goto out;
			}
			/* Every row is a candidate: a bucket with some calls empty is filled per call. */
			for (size_t r = 0; r < n_rows; r++)
				all[r] = true;
			fill_linear(n_rows, ns, times, sv, all);
			strata_free(all);
		}
	}
	/* Columns. */
	for (size_t r = 0; r < n_rows; r++) {
		query_eval_env env = env_for(x, lookup_slots);

		x->slot_row = &sv[r * ns];
		env.time_ns = times[r];
		for (size_t c = 0; c < nc; c++)
			cv[r * nc + c] = query_eval(p->columns[c].expr, &env);
		keep[r] = true;
	}
	/* Transformations run over the rows in time order. */
	if (p->has_transform) {
		for (size_t c = 0; c < nc; c++) {
			if (!p->columns[c].has_transform)
				continue;
			query_transform_reset(&x->tr[c]);
			for (size_t r = 0; r < n_rows; r++) {
				query_value *v = &cv[r * nc + c];
				query_point out;
				bool emitted = false;

				if (v->type != QUERY_VALUE_NONE) {
					rc = query_transform_push(&x->tr[c], times[r], *v, &out, &emitted);
					if (rc)
						goto out;
				}
				*v = emitted ? out.value : (query_value){ 0 };
			}
		}
		for (size_t r = 0; r < n_rows; r++) {
			bool any = false;

			for (size_t c = 0; c < nc; c++)
				any |= cv[r * nc + c].type != QUERY_VALUE_NONE;
			keep[r] = any;
		}
	}
	{
		uint64_t seen = 0, offset = (uint64_t)s->offset, limit = (uint64_t)s->limit, written = 0;

		for (size_t k = 0; k < n_rows; k++) {
			size_t r = s->order_desc ? n_rows - 1 - k : k;

			if (!keep[r] || seen++ < offset)
				continue;
			if (limit && written >= limit)
				break;
			rc = write_row(x, times[r], &cv[r * nc]);
			if (rc)
				goto out;
			written++;
			if (x->skip_group)
				break;
		}
	}
out:
	strata_free(times);
	strata_free(sv);
	strata_free(cv);
	strata_free(empty);
	strata_free(keep);
	return rc;
}

static bool all_live(const struct exec *x)
{
	for (size_t i = 0; i < x->p->n_slots; i++)
		if (!x->acc_live[i])
			return false;
	return true;
}

static bool only_fn(const select_plan *p, enum query_agg_fn fn)
{
	if (p->interval || p->n_slots == 0)
		return false;
	for (size_t i = 0; i < p->n_slots; i++)
		if (p->slots[i].fn != fn)
			return false;
	return true;
}

/* True when every accumulator got a value since before[] was taken. */
static bool all_fed(const struct exec *x, const uint64_t *before)
{
	for (size_t i = 0; i < x->p->n_slots; i++)
		if (x->accs[i].n == before[i])
			return false;
	return true;
}

/* Feeds the points of series s in [lo, hi] to the accumulators. */
static int scan_range(struct exec *x, const query_series *s, int64_t lo, int64_t hi)
{
	struct cursor c = { .series = s };
	uint8_t klo[LSM_UKEY_LEN], khi[LSM_UKEY_LEN];
	int rc;

	lsm_ukey_encode(klo, s->id, lo);
	if (hi == INT64_MAX)
		lsm_ukey_encode(khi, s->id + 1, INT64_MIN);
	else
		lsm_ukey_encode(khi, s->id, hi + 1);
	rc = lsm_db_iter_new(&c.it, x->ctx->e->db, klo, khi);
	if (rc)
		return rc;
	for (lsm_db_iter_seek_first(c.it); rc >= 0 && lsm_db_iter_valid(c.it); lsm_db_iter_next(c.it)) {
		c.t = lsm_ukey_ts(lsm_db_iter_key(c.it));
		rc = take_point(x, &c);
		if (rc == 1)
			rc = add_point(x);
	}
	if (rc >= 0)
		rc = lsm_db_iter_status(c.it);
	lsm_db_iter_free(c.it);
	return rc < 0 ? rc : 0;
}

/*
 * last() alone: each series is read backwards in growing steps (1 minute,
 * then doubling) from the upper bound, or from now() when there is none
 * (after a look at the future), until every call has a value: the newest
 * points cost a few short scans instead of the whole range.
 */
static int run_last_only(struct exec *x)
{
	const select_plan *p = x->p;
	int rc = 0;

	for (size_t k = x->g_first; rc == 0 && k < x->g_end; k++) {
		const query_series *s = x->order[k];
		int64_t top = p->hi, step = 60 * (int64_t)1000000000;

		uint64_t before[p->n_slots];

		for (size_t i = 0; i < p->n_slots; i++)
			before[i] = x->accs[i].n;
		if (top == INT64_MAX && x->ctx->now_ns < INT64_MAX) {
			if (x->ctx->now_ns >= p->lo)
				rc = scan_range(x, s, x->ctx->now_ns + 1, INT64_MAX);
			top = x->ctx->now_ns < p->lo ? top : x->ctx->now_ns;
		}
		while (rc == 0 && !all_fed(x, before) && top >= p->lo) {
			int64_t bottom;

			if (__builtin_sub_overflow(top, step - 1, &bottom) || bottom < p->lo)
				bottom = p->lo;
			rc = scan_range(x, s, bottom, top);
			if (bottom == p->lo)
				break;
			top = bottom - 1;
			if (step < INT64_MAX / 2)
				step *= 2;
		}
	}
	return rc;
}

static int run_aggregate_group(struct exec *x)
{
	bool advance = false, first_only = only_fn(x->p, QUERY_AGG_FIRST);
	int64_t first_time = 0;
	bool have_first = false;
	int rc;

	x->n_entries = 0;
	x->bucket_open = false;
	if (only_fn(x->p, QUERY_AGG_LAST)) {
		rc = run_last_only(x);
	} else {
		rc = open_cursors(x);
		while (rc == 0 && (rc = next_point(x, &advance)) == 1) {
			/* first() alone: done once every call has a value and time moves on. */
			if (first_only && have_first && x->time > first_time)
				break;
			rc = add_point(x);
			if (rc)
				return rc;
			if (first_only && !have_first && all_live(x)) {
				have_first = true;
				first_time = x->time;
			}
		}
		rc = rc == 1 ? 0 : rc;
	}
	if (rc < 0)
		return rc;
	rc = close_bucket(x);
	return rc ? rc : emit_aggregate_group(x);
}

/* ---- groups ---- */

static const select_plan *sort_plan; /* qsort has no context argument */

static int cmp_group(const void *pa, const void *pb)
{
	const query_series *a = *(const query_series *const *)pa, *b = *(const query_series *const *)pb;

	for (size_t i = 0; i < sort_plan->n_group_tags; i++) {
		const char *k = sort_plan->group_tags[i];
		size_t la, lb, n;
		const char *va = query_series_tag(&a->parts, k, strlen(k), &la);
		const char *vb = query_series_tag(&b->parts, k, strlen(k), &lb);
		int r;

		if (!va)
			la = 0;
		if (!vb)
			lb = 0;
		n = la < lb ? la : lb;
		r = n ? memcmp(va, vb, n) : 0;
		if (r)
			return r;
		if (la != lb)
			return la < lb ? -1 : 1;
	}
	return a < b ? -1 : a > b; /* the set's own order within a group */
}

static bool same_group(const select_plan *p, const query_series *a, const query_series *b)
{
	for (size_t i = 0; i < p->n_group_tags; i++) {
		const char *k = p->group_tags[i];
		size_t la, lb;
		const char *va = query_series_tag(&a->parts, k, strlen(k), &la);
		const char *vb = query_series_tag(&b->parts, k, strlen(k), &lb);

		if (!va)
			la = 0;
		if (!vb)
			lb = 0;
		if (la != lb || (la && memcmp(va, vb, la) != 0))
			return false;
	}
	return true;
}

static pthread_mutex_t sort_mu = PTHREAD_MUTEX_INITIALIZER;

static int prepare(struct exec *x)
{
	select_plan *p = x->p;
	size_t n = x->set.n;

	x->order = strata_malloc((n + 1) * sizeof(*x->order));
	x->cur = strata_calloc(n + 1, sizeof(*x->cur));
	x->heap = strata_malloc((n + 1) * sizeof(*x->heap));
	x->vals = strata_calloc(p->n_fields + 1, sizeof(*x->vals));
	x->idx_by_id = strata_malloc((p->max_field_id + 1) * sizeof(*x->idx_by_id));
	x->fcap = 16;
	x->fbuf = strata_malloc(x->fcap * sizeof(*x->fbuf));
	x->colvals = strata_calloc(p->n_columns, sizeof(*x->colvals));
	x->tr = strata_calloc(p->n_columns, sizeof(*x->tr));
	x->accs = strata_calloc(p->n_slots + 1, sizeof(*x->accs));
	x->acc_live = strata_calloc(p->n_slots + 1, sizeof(*x->acc_live));
	x->carry = strata_calloc(p->n_slots + 1, sizeof(*x->carry));
	x->has_carry = strata_calloc(p->n_slots + 1, sizeof(*x->has_carry));
	if (!x->order || !x->cur || !x->heap || !x->vals || !x->idx_by_id || !x->fbuf || !x->colvals || !x->tr ||
	    !x->accs || !x->acc_live || !x->carry || !x->has_carry)
		return oom();
	for (uint32_t i = 0; i <= p->max_field_id; i++)
		x->idx_by_id[i] = -1;
	for (size_t i = 0; i < p->n_fields; i++)
		x->idx_by_id[p->fields[i].id] = (int32_t)i;
	for (size_t i = 0; i < n; i++)
		x->order[i] = &x->set.v[i];
	if (p->n_group_tags) {
		pthread_mutex_lock(&sort_mu);
		sort_plan = p;
		qsort(x->order, n, sizeof(*x->order), cmp_group);
		pthread_mutex_unlock(&sort_mu);
	}
	for (size_t i = 0; i < p->n_columns; i++) {
		int rc;

		if (!p->columns[i].has_transform)
			continue;
		rc = query_transform_init(&x->tr[i], p->columns[i].transform.fn, &p->columns[i].transform.args);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < p->n_slots; i++) {
		query_agg_args args = p->slots[i].args;
		int rc;

		args.max_values = x->ctx->e->limits.max_values;
		rc = query_agg_init(&x->accs[i], p->slots[i].fn, &args);
		if (rc)
			return rc;
	}
	x->desc_buffer = p->mode == SELECT_RAW && p->stmt->order_desc;
	if (p->interval && p->mode == SELECT_AGGREGATE) {
		uint64_t max = x->ctx->e->limits.max_buckets;
		__int128 nb = ((__int128)bucket_of(p, p->hi) - bucket_of(p, p->lo)) / p->interval + 1;

		if (max && nb > (__int128)max)
			return strata_error(STRATA_ETOOBIG, "max-select-buckets limit exceeded: (%llu/%llu)",
					    nb > (__int128)UINT64_MAX ? (unsigned long long)UINT64_MAX
								  : (unsigned long long)nb,
					    (unsigned long long)max);
	}
	return 0;
}

static void release(struct exec *x)
{
	const select_plan *p = x->p;

	close_cursors(x);
	for (size_t i = 0; x->tr && i < p->n_columns; i++)
		if (p->columns[i].has_transform)
			query_transform_deinit(&x->tr[i]);
	for (size_t i = 0; x->accs && i < p->n_slots; i++)
		query_agg_deinit(&x->accs[i]);
	strata_free(x->order);
	strata_free(x->cur);
	strata_free(x->heap);
	strata_free(x->vals);
	strata_free(x->idx_by_id);
	strata_free(x->fbuf);
	strata_free(x->colvals);
	strata_free(x->tr);
	strata_free(x->accs);
	strata_free(x->acc_live);
	strata_free(x->carry);
	strata_free(x->has_carry);
	strata_free(x->buf_times);
	strata_free(x->buf_vals);
	strata_free(x->entries);
	strata_free(x->evals);
	query_series_set_free(&x->set);
	query_regex_cache_free(&x->regexes);
}

static int run_measurement(query_stmt_ctx *ctx, const struct query_select *stmt, uint32_t db, const char *m,
			   uint64_t *series_written,
			   uint64_t *groups_with_rows, uint64_t *points, uint64_t *rows)
{
	select_plan plan;
	struct exec x = { .ctx = ctx, .p = &plan, .series_written = *series_written,
			  .groups_with_rows = *groups_with_rows, .points = *points, .rows = *rows };
	int rc = select_plan_init(&plan, ctx->e->catalog, db, m, stmt, ctx->now_ns);

	if (rc)
		goto out;
	rc = query_series_select(ctx->e->catalog, db, m, strlen(m), plan.stmt->condition, plan.fields,
				 plan.n_fields, ctx->e->limits.max_series, &x.set);
	if (rc)
		goto out;
	rc = prepare(&x);
	query_arena_init(&x.garena, 0);
	for (size_t g = 0; rc == 0 && g < x.set.n && !x.done;) {
		size_t end = g + 1;

		while (end < x.set.n && same_group(&plan, x.order[g], x.order[end]))
			end++;
		x.g_first = g;
		x.g_end = end;
		x.skip_group = false;
		rc = plan.mode == SELECT_RAW ? run_raw_group(&x) : run_aggregate_group(&x);
		close_cursors(&x);
		if (rc == 0)
			rc = end_series(&x);
		query_arena_deinit(&x.garena);
		query_arena_init(&x.garena, 0);
		g = end;
	}
	query_arena_deinit(&x.garena);
out:
	*series_written = x.series_written;
	*groups_with_rows = x.groups_with_rows;
	*points = x.points;
	*rows = x.rows;
	release(&x);
	select_plan_free(&plan);
	return rc;
}

/* ---- the statement ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Measurements of the sources of database dbname (NULL: the request's), sorted and unique. */
static int source_measurements(query_stmt_ctx *ctx, const struct query_select *s, uint32_t db, char ***out,
			       size_t *n_out)
{
	char **all = NULL, **v;
	size_t n_all = 0, n = 0;
	int rc = lsm_catalog_measurements(ctx->e->catalog, db, &all, &n_all);

	*out = NULL;
	*n_out = 0;
	if (rc)
		return rc;
	v = strata_calloc(n_all + 1, sizeof(*v));
	if (!v) {
		lsm_catalog_free_names(all, n_all);
		return oom();
	}
	for (size_t i = 0; i < n_all && rc == 0; i++) {
		bool take = false;

		for (uint32_t k = 0; k < s->n_sources && !take && rc == 0; k++) {
			const struct query_measurement *m = &s->sources[k];

			if (m->name) {
				take = strcmp(m->name, all[i]) == 0;
			} else if (m->regex) {
				query_regex *re;

				rc = query_regex_compile(&re, m->regex);
				if (rc)
					break;
				rc = query_regex_match(re, all[i], strlen(all[i]));
				query_regex_free(re);
				take = rc == 1;
				rc = rc < 0 ? rc : 0;
			}
		}
		if (take) {
			v[n++] = all[i];
			all[i] = NULL;
		}
	}
	lsm_catalog_free_names(all, n_all);
	if (rc) {
		lsm_catalog_free_names(v, n);
		return rc;
	}
	qsort(v, n, sizeof(*v), cmp_str);
	*out = v;
	*n_out = n;
	return 0;
}

int query_select_run(query_stmt_ctx *ctx, const struct query_select *s)
{
	const char *dbname = NULL;
	uint64_t series_written = 0, groups = 0, points = 0, rows = 0;
	char **ms = NULL;
	size_t n_ms = 0;
	uint32_t db;
	int rc;

	if (s->into)
		return strata_error(STRATA_EINVAL, "SELECT ... INTO is not supported yet: it arrives with downsampling");
	if (s->tz)
		return strata_error(STRATA_EINVAL, "tz('%s') is not supported: strata answers in UTC", s->tz);
	for (uint32_t i = 0; i < s->n_sources; i++) {
		const char *d = s->sources[i].database;

		if (d && dbname && strcmp(d, dbname) != 0)
			return strata_error(STRATA_EINVAL, "a statement reads one database: %s and %s", dbname, d);
		if (d)
			dbname = d;
	}
	rc = query_resolve_db(ctx, dbname, &db);
	if (rc == 0)
		rc = source_measurements(ctx, s, db, &ms, &n_ms);
	for (size_t i = 0; rc == 0 && i < n_ms; i++) {
		rc = run_measurement(ctx, s, db, ms[i], &series_written, &groups, &points, &rows);
		if (s->slimit && series_written >= (uint64_t)s->slimit)
			break;
	}
	lsm_catalog_free_names(ms, n_ms);
	return rc;
}
