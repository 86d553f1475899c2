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
#include "lsm/column_scan.h"
#include "lsm/key.h"
#include "lsm/status.h"
#include "query/eval.h"
#include "query/exec_int.h"
#include "query/into.h"
#include "query/select_plan.h"
#include "query/series_set.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* How often (in points) a long scan looks at the clock. */
#define DEADLINE_EVERY 16384

/* A column of the span at hand that the statement reads. */
struct span_col {
	const lsm_colvec *col;
	const void *vals; /* by entry (column_block.h) */
	int32_t idx;      /* field index */
};

/*
 * One series' range scan in the merge: spans of decoded columns while the
 * storage allows (column_scan.h), then rows through lsm_db_iter.
 */
struct cursor {
	lsm_scan *scan;          /* spans, until the scan ends or hands over */
	lsm_span span;
	size_t pos;              /* the point at hand in span */
	struct span_col *cols;
	size_t n_cols, cap_cols;
	lsm_db_iter *it;         /* rows */
	int64_t hi;              /* inclusive */
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
	query_into *into;        /* SELECT ... INTO: rows become points, not output */
	const char *into_name;   /* the target measurement */
	query_series_set set;
	query_regex_cache regexes;
	int64_t expired_before; /* retention: older points are never read (docs/retention.md) */
	uint64_t points;        /* points read by the statement */
	uint64_t rows;          /* rows written by the statement */

	/* the point at hand */
	const query_series *series;
	int64_t time;
	query_value *vals;      /* by field index */
	lsm_row_field *fbuf;
	size_t fcap;
	int32_t *idx_by_id;     /* field id -> field index, or -1 */
	size_t *needed_idx;     /* the field indexes the statement reads (the others stay NONE) */
	size_t n_needed;
	bool *want_id;          /* field id -> the statement reads it */
	lsm_colwant want;       /* the same, for column scans */

	/* the group at hand */
	size_t g_first, g_end;   /* its series in order[] */
	const query_series **order;
	struct cursor *cur;
	size_t *heap;
	size_t n_heap;
	query_arena garena;      /* strings kept for the group */
	bool series_open;

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
	query_value *aux_cur;    /* columns beside a single selector, at its current choice */
	bool *has_carry;
	bool bucket_open;
	int64_t bucket;
	int64_t bucket_end;      /* first time past the open bucket (INT64_MAX: none) */
	bool has_integral;       /* a slot is integral(): buckets are bridged */
	bool spans_direct;       /* spans feed the accumulators without point-by-point evaluation */
	query_agg *bank;         /* by_series: n_slots accumulators per bucket from bank_first... */
	bool *bank_live;
	int64_t bank_first;
	size_t n_bank;           /* ...buckets */
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

	if (e->kind == QUERY_EXPR_CALL) {
		for (size_t i = 0; i < x->p->n_slots; i++)
			if (x->p->slots[i].node == e)
				return x->slot_row[i];
	} else if (e->kind == QUERY_EXPR_VARREF) {
		for (size_t i = 0; i < x->p->n_columns; i++)
			if (x->p->columns[i].aux >= 0 && x->p->columns[i].expr == e)
				return x->slot_row[x->p->n_slots + (size_t)x->p->columns[i].aux];
	}
	return (query_value){ 0 };
}

/* In a condition a tag the series lacks is the empty string, as in InfluxDB (in a column it is null). */
static query_value lookup_cond(void *ctx, const query_expr *e)
{
	query_value v = lookup_point(ctx, e);

	if (v.type == QUERY_VALUE_NONE && e->kind == QUERY_EXPR_VARREF &&
	    select_plan_field(((struct exec *)ctx)->p, e->ref.name) < 0 && e->ref.type != QUERY_TYPE_FIELD &&
	    (e->ref.type == QUERY_TYPE_NONE || e->ref.type == QUERY_TYPE_TAG))
		return query_value_string("", 0);
	return v;
}

static query_eval_env env_for(struct exec *x, query_eval_lookup lookup)
{
	return (query_eval_env){ .lookup = lookup, .ctx = x, .time_ns = x->time, .now_ns = x->ctx->now_ns,
				 .regexes = &x->regexes };
}

/* ---- reading points ---- */

/* The keys of series sid's points in [from, to]: [lo, hi). */
static void key_bounds(uint64_t sid, int64_t from, int64_t to, uint8_t lo[LSM_UKEY_LEN], uint8_t hi[LSM_UKEY_LEN])
{
	lsm_ukey_encode(lo, sid, from);
	if (to == INT64_MAX)
		lsm_ukey_encode(hi, sid + 1, INT64_MIN);
	else
		lsm_ukey_encode(hi, sid, to + 1);
}

/* Accumulators accs[0..n) for the statement's calls, slot i % n_slots each. 0 or an error. */
static int init_accs(const struct exec *x, query_agg *accs, size_t n)
{
	const select_plan *p = x->p;

	for (size_t i = 0; i < n; i++) {
		query_agg_args args = p->slots[i % p->n_slots].args;
		int rc;

		args.max_values = x->ctx->e->limits.max_values;
		rc = query_agg_init(&accs[i], p->slots[i % p->n_slots].fn, &args);
		if (rc)
			return rc;
	}
	return 0;
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

static void cursor_close(struct cursor *c)
{
	lsm_scan_free(c->scan);
	c->scan = NULL;
	lsm_db_iter_free(c->it);
	c->it = NULL;
	strata_free(c->cols);
	c->cols = NULL;
	c->n_cols = c->cap_cols = 0;
}

static void close_cursors(struct exec *x)
{
	for (size_t i = 0; x->cur && i < x->g_end - x->g_first; i++)
		cursor_close(&x->cur[i]);
	x->n_heap = 0;
}

/* The columns of the new span that the statement reads, decoded. */
static int map_span(struct exec *x, struct cursor *c)
{
	lsm_colset *set = c->span.set;

	c->n_cols = 0;
	for (size_t k = 0; k < set->n_cols; k++) {
		const lsm_colvec *col = &set->cols[k];
		int32_t idx = col->id <= x->p->max_field_id ? x->idx_by_id[col->id] : -1;
		const void *vals;
		int rc;

		if (idx < 0 || !x->p->needed[idx])
			continue;
		vals = lsm_colset_values(set, k, &rc);
		if (!vals)
			return rc;
		if (c->n_cols == c->cap_cols) {
			size_t cap = c->cap_cols ? 2 * c->cap_cols : 8;
			struct span_col *g = strata_realloc(c->cols, cap * sizeof(*g));

			if (!g)
				return oom();
			c->cols = g;
			c->cap_cols = cap;
		}
		c->cols[c->n_cols++] = (struct span_col){ .col = col, .vals = vals, .idx = idx };
	}
	return 0;
}

/* The point the cursor's iterator is on: 1, 0 at its end, or its error. */
static int iter_point(struct cursor *c)
{
	int rc = lsm_db_iter_status(c->it);

	if (rc)
		return rc;
	if (!lsm_db_iter_valid(c->it))
		return 0;
	c->t = lsm_ukey_ts(lsm_db_iter_key(c->it));
	return 1;
}

/* Rows from time `from` to the cursor's end: 1 on a point, 0 at the end, or an error. */
static int cursor_rows(struct exec *x, struct cursor *c, int64_t from)
{
	uint8_t lo[LSM_UKEY_LEN], hi[LSM_UKEY_LEN];
	int rc;

	key_bounds(c->series->id, from, c->hi, lo, hi);
	rc = lsm_db_iter_new(&c->it, x->ctx->e->db, lo, hi);
	if (rc) {
		c->it = NULL;
		return rc;
	}
	lsm_db_iter_seek_first(c->it);
	return iter_point(c);
}

/* Moves to the cursor's next point (its first after cursor_open): 1, 0 at the end, or an error. */
static int cursor_next(struct exec *x, struct cursor *c)
{
	int64_t resume;
	int rc;

	if (c->scan) {
		if (c->span.set && ++c->pos < c->span.to) {
			c->t = c->span.set->ts[c->pos];
			return 1;
		}
		rc = lsm_scan_next(c->scan, &c->span, &resume);
		if (rc == LSM_SCAN_SPAN) {
			c->pos = c->span.from;
			c->t = c->span.set->ts[c->pos];
			rc = map_span(x, c);
			return rc ? rc : 1;
		}
		lsm_scan_free(c->scan);
		c->scan = NULL;
		c->span.set = NULL;
		if (rc != LSM_SCAN_ROWS)
			return rc; /* the end, or an error */
		return cursor_rows(x, c, resume);
	}
	if (!c->it)
		return 0;
	lsm_db_iter_next(c->it);
	return iter_point(c);
}

/* Opens c on series s over [lo, hi] and moves to its first point: 1, 0 when none, or an error. */
static int cursor_open(struct exec *x, struct cursor *c, const query_series *s, int64_t lo, int64_t hi)
{
	int rc;

	c->series = s;
	c->hi = hi;
	c->span.set = NULL;
	if (lo > hi)
		return 0;
	rc = lsm_scan_new(&c->scan, x->ctx->e->db, s->id, lo, hi, &x->want);
	if (rc) {
		c->scan = NULL;
		return rc;
	}
	return cursor_next(x, c);
}

static int open_cursors(struct exec *x)
{
	size_t n = x->g_end - x->g_first;

	x->n_heap = 0;
	for (size_t i = 0; i < n; i++) {
		struct cursor *c = &x->cur[i];
		int rc;

		c->order = i;
		rc = cursor_open(x, c, x->order[x->g_first + i], x->p->scan_lo, x->p->hi);
		if (rc < 0)
			return rc;
		if (rc == 1)
			x->heap[x->n_heap++] = i;
	}
	for (size_t i = x->n_heap / 2; i-- > 0;)
		heap_down(x, i);
	return 0;
}

/* Entry i of a span column (present there) as a value. */
static inline void span_value(const struct span_col *sc, size_t i, query_value *out)
{
	switch (sc->col->type) {
	case LSM_FIELD_FLOAT:
		out->type = QUERY_VALUE_FLOAT;
		out->v.f = ((const lsm_colval *)sc->vals)[i].f;
		break;
	case LSM_FIELD_INT:
		out->type = QUERY_VALUE_INTEGER;
		out->v.i = ((const lsm_colval *)sc->vals)[i].i;
		break;
	case LSM_FIELD_UINT:
		out->type = QUERY_VALUE_UNSIGNED;
		out->v.u = ((const lsm_colval *)sc->vals)[i].u;
		break;
	case LSM_FIELD_BOOL:
		out->type = QUERY_VALUE_BOOLEAN;
		out->v.b = ((const lsm_colval *)sc->vals)[i].u != 0;
		break;
	case LSM_FIELD_STRING:
		out->type = QUERY_VALUE_STRING;
		out->v.s.ptr = ((const lsm_colstr *)sc->vals)[i].p;
		out->v.s.len = ((const lsm_colstr *)sc->vals)[i].len;
		break;
	}
}

/* The point at hand of a cursor reading spans, into x->vals. */
static void decode_span_point(struct exec *x, const struct cursor *c)
{
	size_t i = c->pos;

	for (size_t k = 0; k < x->n_needed; k++)
		x->vals[x->needed_idx[k]].type = QUERY_VALUE_NONE;
	for (size_t k = 0; k < c->n_cols; k++)
		if (lsm_colset_present(c->cols[k].col, i))
			span_value(&c->cols[k], i, &x->vals[c->cols[k].idx]);
}

/* Decodes the value of the smallest cursor into x->vals. */
static int decode_point(struct exec *x, struct cursor *c)
{
	size_t len, n = 0;
	const uint8_t *v;
	int rc;

	if (c->scan) {
		decode_span_point(x, c);
		return 0;
	}
	v = lsm_db_iter_value(c->it, &len);
	for (;;) {
		rc = lsm_row_decode_some(v, len, x->want_id, x->p->max_field_id + 1, x->fbuf, x->fcap, &n);
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
	for (size_t k = 0; k < x->n_needed; k++)
		x->vals[x->needed_idx[k]].type = QUERY_VALUE_NONE;
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

	if (c->t < x->expired_before)
		return 0; /* expired: compaction has not removed it yet */
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
		query_eval_env env = env_for(x, lookup_cond);
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
			rc = cursor_next(x, c);
			if (rc < 0)
				return rc;
			if (rc == 0)
				x->heap[0] = x->heap[--x->n_heap];
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

/* Starts the group's series at its first row. */
/* The GROUP BY tags of the group at hand, as the output writes them (sorted by key). */
static void group_tags_of(const struct exec *x, query_output_tag *tags)
{
	const select_plan *p = x->p;
	const query_series *s = x->order[x->g_first];

	for (size_t i = 0; i < p->n_group_tags; i++) {
		size_t len;
		const char *v = query_series_tag(&s->parts, p->group_tags[i], strlen(p->group_tags[i]), &len);

		tags[i] = (query_output_tag){ .key = p->group_tags[i], .key_len = strlen(p->group_tags[i]),
					      .value = v ? v : "", .value_len = v ? len : 0 };
	}
}

/* Starts the group's series at its first row. */
static int begin_series(struct exec *x)
{
	const select_plan *p = x->p;
	query_output_tag tags[p->n_group_tags ? p->n_group_tags : 1];
	const char *cols[p->n_columns + 1];
	int rc;

	if (x->series_open || x->into)
		return 0;
	group_tags_of(x, tags);
	cols[0] = p->time_name;
	for (size_t i = 0; i < p->n_columns; i++)
		cols[i + 1] = p->columns[i].name;
	rc = query_output_begin_series(x->ctx->out, p->measurement, tags, p->n_group_tags, cols, p->n_columns + 1,
				       true);
	if (rc)
		return rc;
	x->series_open = true;
	return 0;
}

static int write_row(struct exec *x, int64_t t, const query_value *vals)
{
	int rc;

	if (x->ctx->e->limits.max_rows && x->rows >= x->ctx->e->limits.max_rows)
		return strata_error(STRATA_ETOOBIG, "max-rows limit exceeded: more than %llu rows",
				    (unsigned long long)x->ctx->e->limits.max_rows);
	if (x->into) {
		const select_plan *p = x->p;
		query_output_tag tags[p->n_group_tags ? p->n_group_tags : 1];
		const char *cols[p->n_columns + 1];

		group_tags_of(x, tags);
		for (size_t i = 0; i < p->n_columns; i++)
			cols[i] = p->columns[i].name;
		x->rows++;
		return query_into_row(x->into, x->into_name, tags, p->n_group_tags, cols, vals, p->n_columns, t);
	}
	rc = begin_series(x);
	if (rc)
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

/*
 * Runs the transformations of the row at hand (vals: the columns' input
 * values, replaced by their outputs) and says whether the row shows: some
 * transformation emitted, or, without transformations, some field column
 * has a value.
 */
static int transform_row(struct exec *x, int64_t t, query_value *vals, bool *show)
{
	const select_plan *p = x->p;

	*show = false;
	for (size_t i = 0; i < p->n_columns; i++) {
		const struct select_column *c = &p->columns[i];

		if (c->has_transform) {
			query_point out;
			bool emitted = false;

			if (vals[i].type != QUERY_VALUE_NONE) {
				int rc = query_transform_push(&x->tr[i], t, vals[i], &out, &emitted);

				if (rc)
					return rc;
			}
			vals[i] = emitted ? out.value : (query_value){ 0 };
			*show |= emitted;
		} else {
			*show |= c->uses_field && vals[i].type != QUERY_VALUE_NONE;
		}
	}
	return 0;
}

static int run_raw_group(struct exec *x)
{
	const select_plan *p = x->p;
	uint64_t offset = (uint64_t)p->stmt->offset, limit = (uint64_t)p->stmt->limit, seen = 0;
	bool advance = false, show;
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
			x->colvals[i] = query_eval(p->columns[i].expr, &env);
			any |= (p->columns[i].uses_field || p->columns[i].has_transform) &&
			       x->colvals[i].type != QUERY_VALUE_NONE;
		}
		if (!any)
			continue;
		if (x->desc_buffer) {
			/* Transformations run over the points in the order they are shown: later. */
			rc = buffer_row(x, x->colvals);
			if (rc)
				return rc;
			continue;
		}
		rc = transform_row(x, x->time, x->colvals, &show);
		if (rc)
			return rc;
		if (!show || seen++ < offset)
			continue;
		rc = write_row(x, x->time, x->colvals);
		if (rc)
			return rc;
		if (limit && seen - offset >= limit)
			break; /* a full series needs no more */
	}
	if (rc < 0)
		return rc;
	if (x->desc_buffer) {
		size_t nc = p->n_columns;

		for (size_t k = x->n_buf; k-- > 0;) {
			rc = transform_row(x, x->buf_times[k], &x->buf_vals[k * nc], &show);
			if (rc)
				return rc;
			if (!show || seen++ < offset)
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

/* Values kept per entry: the slots, then the fields and tags beside a single selector. */
static size_t stride(const select_plan *p)
{
	return p->n_slots + p->n_aux;
}

static int push_entry(struct exec *x, int64_t bucket, int64_t time, const query_value *vals, size_t n_vals)
{
	size_t st = stride(x->p);

	if (x->n_entries == x->cap_entries) {
		size_t cap = x->cap_entries ? 2 * x->cap_entries : 64;
		struct entry *e = strata_realloc(x->entries, cap * sizeof(*e));
		query_value *v;

		if (!e)
			return oom();
		x->entries = e;
		v = strata_realloc(x->evals, cap * st * sizeof(*v));
		if (!v)
			return oom();
		x->evals = v;
		x->cap_entries = cap;
	}
	x->entries[x->n_entries] = (struct entry){ .bucket = bucket, .time = time };
	for (size_t i = 0; i < st; i++) {
		query_value v = i < n_vals ? vals[i] : (query_value){ 0 };
		int rc = keep_value(x, &v);

		if (rc)
			return rc;
		x->evals[x->n_entries * st + i] = v;
	}
	x->n_entries++;
	return 0;
}

/* Closes the open bucket: its results become entries, its accumulators are reset. */
static int close_bucket(struct exec *x)
{
	const select_plan *p = x->p;
	query_value vals[stride(p) + 1];
	int64_t time = p->interval ? x->bucket : (p->has_lo ? p->lo : 0);
	bool any = false;
	int rc = 0;

	if (!x->bucket_open)
		return 0;
	x->bucket_open = false;
	for (size_t i = 0; i < p->n_slots; i++) {
		const struct select_slot *s = &p->slots[i];
		const query_agg_row *rows;
		size_t n = 0;

		vals[i] = (query_value){ 0 };
		if (!x->acc_live[i])
			continue;
		/* integral(): a bucket holding only the point at its start gives no row (as InfluxDB). */
		if (s->fn == QUERY_AGG_INTEGRAL && x->accs[i].n == 1 && x->accs[i].sel.time_ns == x->bucket &&
		    p->interval)
			continue;
		rc = query_agg_result(&x->accs[i], &rows, &n);
		if (rc)
			return rc;
		if (s->count_distinct) {
			vals[i] = query_value_integer((int64_t)n);
			any = true;
			continue;
		}
		if (p->multi_row) {
			for (size_t k = 0; k < n && rc == 0; k++)
				rc = push_entry(x, x->bucket, rows[k].has_time ? rows[k].time_ns : time, &rows[k].value, 1);
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
	for (size_t k = 0; k < p->n_aux; k++)
		vals[p->n_slots + k] = x->aux_cur[k];
	if (any)
		rc = push_entry(x, x->bucket, time, vals, stride(p));
	for (size_t i = 0; i < p->n_slots; i++) {
		query_agg_reset(&x->accs[i]);
		x->acc_live[i] = false;
	}
	return rc;
}

static bool same_item(const query_agg_item *a, const query_agg_item *b)
{
	if (a->time_ns != b->time_ns || a->value.type != b->value.type)
		return false;
	if (a->value.type == QUERY_VALUE_STRING)
		return a->value.v.s.len == b->value.v.s.len &&
		       (a->value.v.s.len == 0 || memcmp(a->value.v.s.ptr, b->value.v.s.ptr, a->value.v.s.len) == 0);
	return memcmp(&a->value.v, &b->value.v, sizeof(a->value.v)) == 0;
}

/* The point at hand became the selector's choice: keep the values of the columns beside it. */
static int capture_aux(struct exec *x)
{
	const select_plan *p = x->p;

	for (size_t i = 0; i < p->n_columns; i++) {
		const struct select_column *c = &p->columns[i];
		query_value v;
		int rc;

		if (c->aux < 0)
			continue;
		v = lookup_point(x, c->expr);
		rc = keep_value(x, &v);
		if (rc)
			return rc;
		x->aux_cur[c->aux] = v;
	}
	return 0;
}

/*
 * Opens bucket b, closing the open one first when it is another; with a
 * bank (run_by_series), points x->accs at b's accumulators instead, every
 * bucket staying open until the group ends.
 */
static int enter_bucket(struct exec *x, int64_t b)
{
	int rc;

	if (x->bucket_open && b == x->bucket)
		return 0;
	if (x->bank) {
		size_t k = (size_t)((b - x->bank_first) / x->p->interval);

		if (b < x->bank_first || k >= x->n_bank)
			return strata_error(STRATA_EINVAL, "internal error: a point outside the statement's buckets");
		x->accs = &x->bank[k * x->p->n_slots];
		x->acc_live = &x->bank_live[k * x->p->n_slots];
		x->bucket_open = true;
		x->bucket = b;
		if (__builtin_add_overflow(b, x->p->interval, &x->bucket_end))
			x->bucket_end = INT64_MAX;
		return 0;
	}
	rc = close_bucket(x);
	if (rc)
		return rc;
	x->bucket_open = true;
	x->bucket = b;
	/* Points below bucket_end stay in it (none above the end of time). */
	if (!x->p->interval || __builtin_add_overflow(b, x->p->interval, &x->bucket_end))
		x->bucket_end = INT64_MAX;
	return 0;
}

/* The bucket of t: the open one while t is inside it, without the division. */
static int64_t bucket_at(const struct exec *x, int64_t t)
{
	if (x->bucket_open && t >= x->bucket && (t < x->bucket_end || x->bucket_end == INT64_MAX))
		return x->bucket;
	return bucket_of(x->p, t);
}

static int add_point(struct exec *x)
{
	const select_plan *p = x->p;
	int64_t b = bucket_at(x, x->time);
	int rc;

	if (x->bucket_open && b != x->bucket && x->has_integral) {
		/*
		 * integral(): the trapezoid across the boundary is cut there; the
		 * part after it goes to the bucket of the next point (the next
		 * bucket, or a later one past empty buckets, as in InfluxDB).
		 */
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
			x->has_carry[i] = true;
		}
		rc = enter_bucket(x, b);
		if (rc)
			return rc;
		for (size_t i = 0; i < p->n_slots; i++) {
			/* A point right on the boundary stands for itself: no interpolated twin. */
			if (!x->has_carry[i] || x->carry[i].time_ns == x->time)
				continue;
			rc = query_agg_add(&x->accs[i], x->carry[i].time_ns, x->carry[i].value);
			if (rc)
				return rc;
			x->acc_live[i] = true;
		}
	} else {
		rc = enter_bucket(x, b);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < p->n_slots; i++) {
		const struct select_slot *s = &p->slots[i];
		query_agg_item before;
		uint64_t n_before;

		if (s->field < 0 || x->vals[s->field].type == QUERY_VALUE_NONE)
			continue;
		before = x->accs[i].sel;
		n_before = x->accs[i].n;
		rc = query_agg_add(&x->accs[i], x->time, x->vals[s->field]);
		if (rc)
			return rc;
		x->acc_live[i] = true;
		if (p->n_aux && (n_before == 0 || !same_item(&before, &x->accs[i].sel))) {
			rc = capture_aux(x);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* The type of slot i's results: what its function gives for its field's type. */
static enum query_value_type slot_type(const select_plan *p, size_t i)
{
	const struct select_slot *s = &p->slots[i];

	if (s->count_distinct || s->fn == QUERY_AGG_COUNT)
		return QUERY_VALUE_INTEGER;
	switch (s->fn) {
	case QUERY_AGG_MEAN:
	case QUERY_AGG_MEDIAN:
	case QUERY_AGG_STDDEV:
	case QUERY_AGG_INTEGRAL:
		return QUERY_VALUE_FLOAT;
	default:
		break;
	}
	if (s->field < 0)
		return QUERY_VALUE_FLOAT;
	switch (p->fields[s->field].type) {
	case LSM_FIELD_INT:
		return QUERY_VALUE_INTEGER;
	case LSM_FIELD_UINT:
		return QUERY_VALUE_UNSIGNED;
	case LSM_FIELD_STRING:
		return QUERY_VALUE_STRING;
	case LSM_FIELD_BOOL:
		return QUERY_VALUE_BOOLEAN;
	default:
		return QUERY_VALUE_FLOAT;
	}
}

/* The value fill() puts in slot i of an empty bucket (linear is done after). */
static query_value fill_value(const select_plan *p, size_t i, const query_value *prev)
{
	const struct query_select *s = p->stmt;

	switch (s->fill) {
	case QUERY_FILL_NULL:
		if (p->slots[i].fn == QUERY_AGG_COUNT || p->slots[i].count_distinct)
			return query_value_integer(0);
		return (query_value){ 0 };
	case QUERY_FILL_NUMBER: {
		/* The number takes the type of the slot's results, as InfluxDB casts it. */
		const query_expr *v = s->fill_value;
		double f = v->kind == QUERY_EXPR_INTEGER ? (double)v->i
			   : v->kind == QUERY_EXPR_UNSIGNED ? (double)v->u : v->f;

		switch (slot_type(p, i)) {
		case QUERY_VALUE_INTEGER:
			if (v->kind == QUERY_EXPR_INTEGER)
				return query_value_integer(v->i);
			return query_value_integer(f >= 9.2e18 ? INT64_MAX : f <= -9.2e18 ? INT64_MIN : (int64_t)f);
		case QUERY_VALUE_UNSIGNED:
			if (v->kind == QUERY_EXPR_UNSIGNED)
				return query_value_unsigned(v->u);
			return query_value_unsigned(f >= 1.8e19 ? UINT64_MAX : f <= 0 ? 0 : (uint64_t)f);
		case QUERY_VALUE_FLOAT:
			return query_value_float(f);
		default:
			return (query_value){ 0 }; /* no number fills strings or booleans */
		}
	}
	case QUERY_FILL_PREVIOUS:
		return prev ? *prev : (query_value){ 0 };
	default:
		return (query_value){ 0 };
	}
}

static bool is_num(const query_value *v)
{
	return v->type == QUERY_VALUE_FLOAT || v->type == QUERY_VALUE_INTEGER || v->type == QUERY_VALUE_UNSIGNED;
}

static double num(const query_value *v)
{
	return v->type == QUERY_VALUE_FLOAT ? v->v.f : v->type == QUERY_VALUE_INTEGER ? (double)v->v.i : (double)v->v.u;
}

/*
 * fill(linear): each empty value of slot i between two values the data gave
 * lies on the line through them, computed as InfluxDB's linearFloat and
 * linearInteger do (slope times the time since the known point before,
 * plus its value; integers truncated).
 */
static void fill_linear(size_t n_rows, size_t st, size_t i, const int64_t *times, int64_t interval,
			query_value *sv, const bool *given, bool *filled)
{
	size_t prev = SIZE_MAX;

	for (size_t r = 0; r < n_rows; r++) {
		query_value *v = &sv[r * st + i];
		size_t next;

		if (given[r * st + i]) {
			if (is_num(v))
				prev = r;
			continue;
		}
		if (!filled[r])
			continue;
		if (prev == SIZE_MAX || v->type != QUERY_VALUE_NONE)
			continue;
		for (next = r + 1; next < n_rows && !(given[next * st + i] && is_num(&sv[next * st + i])); next++)
			;
		if (next == n_rows)
			return;
		{
			const query_value *a = &sv[prev * st + i], *b = &sv[next * st + i];
			/* In bucket numbers (time / interval), as InfluxDB's fill iterator counts them. */
			double span = (double)(times[next] / interval - times[prev] / interval);
			double x = (double)(times[r] / interval - times[prev] / interval);

			if (a->type == QUERY_VALUE_INTEGER && b->type == QUERY_VALUE_INTEGER) {
				double m = (double)(int64_t)((uint64_t)b->v.i - (uint64_t)a->v.i) / span;

				*v = query_value_integer((int64_t)(m * x + (double)a->v.i));
			} else {
				double m = (num(b) - num(a)) / span;

				*v = query_value_float(m * x + num(a));
			}
		}
	}
}

/* Writes the group's rows: buckets (filled), columns, transformations, order, limits. */
static int emit_aggregate_group(struct exec *x)
{
	const select_plan *p = x->p;
	const struct query_select *s = p->stmt;
	size_t ns = p->n_slots, st = stride(p), nc = p->n_columns, n_rows = 0, cap;
	bool grid = p->interval && !p->multi_row && s->fill != QUERY_FILL_NONE;
	int64_t b_first = 0, b_last = 0, shown_from = INT64_MIN;
	int64_t *times = NULL;
	query_value *sv = NULL, *cv = NULL;
	bool *given = NULL, *keep = NULL, *shown = NULL, *filled = NULL;
	int rc = 0;

	if (x->n_entries == 0)
		return 0;
	if (p->interval && p->has_lo)
		shown_from = bucket_of(p, p->lo); /* earlier buckets only feed transformations */
	if (grid) {
		uint64_t max = x->ctx->e->limits.max_buckets;
		__int128 nb;

		/* Without a lower bound the buckets start at the first point's (InfluxDB 1.8). */
		b_first = p->has_lo ? bucket_of(p, p->scan_lo) : x->entries[0].bucket;
		b_last = bucket_of(p, p->hi);
		if (b_last < x->entries[x->n_entries - 1].bucket)
			b_last = x->entries[x->n_entries - 1].bucket;
		nb = ((__int128)b_last - b_first) / p->interval + 1;
		if (max && nb > (__int128)max)
			return strata_error(STRATA_ETOOBIG, "max-select-buckets limit exceeded: (%llu/%llu)",
					    nb > (__int128)UINT64_MAX ? (unsigned long long)UINT64_MAX
								  : (unsigned long long)nb,
					    (unsigned long long)max);
		cap = (size_t)nb;
	} else {
		cap = x->n_entries;
	}
	times = strata_malloc(cap * sizeof(*times));
	sv = strata_malloc(cap * st * sizeof(*sv));
	cv = strata_malloc(cap * nc * sizeof(*cv));
	given = strata_calloc(cap * st, sizeof(*given));
	keep = strata_malloc(cap * sizeof(*keep));
	shown = strata_malloc(cap * sizeof(*shown));
	filled = strata_malloc(cap * sizeof(*filled));
	if (!times || !sv || !cv || !given || !keep || !shown || !filled) {
		rc = oom();
		goto out;
	}
	if (!grid) {
		for (size_t r = 0; r < x->n_entries; r++) {
			times[r] = x->entries[r].time;
			memcpy(&sv[r * st], &x->evals[r * st], st * sizeof(*sv));
		}
		n_rows = x->n_entries;
	} else {
		size_t e = 0;

		for (int64_t b = b_first; n_rows < cap; b += p->interval) {
			times[n_rows] = b;
			if (e < x->n_entries && x->entries[e].bucket == b) {
				memcpy(&sv[n_rows * st], &x->evals[e * st], st * sizeof(*sv));
				e++;
			} else {
				for (size_t i = 0; i < st; i++)
					sv[n_rows * st + i] = (query_value){ 0 };
			}
			n_rows++;
		}
	}
	for (size_t k = 0; k < n_rows * st; k++)
		given[k] = sv[k].type != QUERY_VALUE_NONE;
	/*
	 * Slot-level fill, as InfluxDB fills each call's stream: a call with no
	 * point in the group has no stream and stays empty; without a lower
	 * time bound a call's stream starts at its own first point.
	 */
	memset(shown, 0, n_rows * sizeof(*shown));
	for (size_t k = 0; k < n_rows * st; k++)
		if (given[k] && k % st < ns)
			shown[k / st] = true;
	if (grid) {
		for (size_t i = 0; i < ns; i++) {
			size_t first = SIZE_MAX;

			if (p->slots[i].fn == QUERY_AGG_INTEGRAL)
				continue;
			for (size_t r = 0; r < n_rows && first == SIZE_MAX; r++)
				if (given[r * st + i])
					first = r;
			if (first == SIZE_MAX)
				continue;
			for (size_t r = 0; r < n_rows; r++)
				filled[r] = p->has_lo || r >= first;
			for (size_t r = 0; r < n_rows; r++)
				shown[r] |= filled[r];
			if (s->fill == QUERY_FILL_LINEAR) {
				fill_linear(n_rows, st, i, times, p->interval, sv, given, filled);
				continue;
			}
			/* In output order: with ORDER BY time DESC, "previous" is the later bucket (as InfluxDB). */
			for (size_t k = 0; k < n_rows; k++) {
				size_t r = s->order_desc ? n_rows - 1 - k : k;
				size_t before = s->order_desc ? r + 1 : r - 1;

				if (filled[r] && sv[r * st + i].type == QUERY_VALUE_NONE)
					sv[r * st + i] = fill_value(p, i, k ? &sv[before * st + i] : NULL);
			}
		}
	}
	/* Columns. */
	for (size_t r = 0; r < n_rows; r++) {
		query_eval_env env = env_for(x, lookup_slots);

		x->slot_row = &sv[r * st];
		env.time_ns = times[r];
		for (size_t c = 0; c < nc; c++)
			cv[r * nc + c] = query_eval(p->columns[c].expr, &env);
		/* A row shows where some call has a value or its stream is filled. */
		keep[r] = shown[r];
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
			keep[r] = keep[r] && any;
		}
	}
	{
		uint64_t seen = 0, offset = (uint64_t)s->offset, limit = (uint64_t)s->limit, written = 0;

		for (size_t k = 0; k < n_rows; k++) {
			size_t r = s->order_desc ? n_rows - 1 - k : k;

			if (!keep[r] || (p->interval && times[r] < shown_from) || seen++ < offset)
				continue;
			if (limit && written >= limit)
				break;
			rc = write_row(x, times[r], &cv[r * nc]);
			if (rc)
				goto out;
			written++;
		}
	}
out:
	strata_free(times);
	strata_free(sv);
	strata_free(cv);
	strata_free(given);
	strata_free(keep);
	strata_free(shown);
	strata_free(filled);
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
	struct cursor c = { 0 };
	int rc;

	for (rc = cursor_open(x, &c, s, lo, hi); rc == 1; rc = cursor_next(x, &c)) {
		rc = take_point(x, &c);
		if (rc == 1)
			rc = add_point(x);
		if (rc < 0)
			break;
	}
	cursor_close(&c);
	return rc < 0 ? rc : 0;
}

/*
 * Is there a point of series sid in [b, hi]? One step of a column scan
 * where the storage allows (no block decoded into rows), else a seek of the
 * iterator from where the scan hands over. Sets *rc on an error.
 */
static bool has_point(struct exec *x, lsm_db_iter *it, uint64_t sid, int64_t b, int64_t hi, int *rc)
{
	uint8_t k[LSM_UKEY_LEN];
	lsm_scan *scan;
	lsm_span span;
	int64_t resume;
	int step;

	if (lsm_scan_new(&scan, x->ctx->e->db, sid, b, hi, &x->want) == 0) {
		step = lsm_scan_next(scan, &span, &resume);
		lsm_scan_free(scan);
		if (step == LSM_SCAN_SPAN || step == LSM_SCAN_END)
			return step == LSM_SCAN_SPAN;
		if (step < 0) {
			*rc = step;
			return false;
		}
		b = resume; /* the tables hold nothing before it */
	}
	lsm_ukey_encode(k, sid, b);
	lsm_db_iter_seek(it, k);
	*rc = lsm_db_iter_status(it);
	return *rc == 0 && lsm_db_iter_valid(it) && lsm_ukey_ts(lsm_db_iter_key(it)) <= hi;
}

/*
 * The start of a short range that holds the newest point of the iterator's
 * series at or below top (and at or above lo): false when there is none.
 * Seeks only: first back in doubling steps until a step holds a point, then
 * halving that step down to about a minute. Each probe is one seek, so a
 * series costs a few dozen seeks whatever its age or density.
 */
static bool newest_from(struct exec *x, lsm_db_iter *it, uint64_t sid, int64_t lo, int64_t top, int64_t *from,
			int *rc)
{
	const int64_t minute = 60 * (int64_t)1000000000;
	int64_t step = minute, b, hi = top;

	for (;;) {
		if (__builtin_sub_overflow(top, step - 1, &b) || b < lo)
			b = lo;
		if (has_point(x, it, sid, b, hi, rc))
			break;
		if (*rc || b == lo)
			return false;
		top = b - 1;
		if (step < INT64_MAX / 2)
			step *= 2;
	}
	/* The newest point is in [b, top]: narrow the range from below. */
	while (top - b > minute) {
		int64_t mid = b + (top - b) / 2;

		if (has_point(x, it, sid, mid, hi, rc))
			b = mid;
		else if (*rc)
			return false;
		else
			top = mid - 1;
	}
	*from = b;
	return true;
}

/*
 * last() alone: for each series, the newest point at or below the upper
 * bound (now() when there is none, after a look at the future) is found by
 * seeking backwards, and only the points from there are read; older ranges
 * are read only while some call still has no value (a field the newest
 * points lack).
 */
static int run_last_only(struct exec *x)
{
	const select_plan *p = x->p;
	int rc = 0;

	for (size_t k = x->g_first; rc == 0 && k < x->g_end; k++) {
		const query_series *s = x->order[k];
		int64_t top = p->hi, from, bound;
		uint64_t before[p->n_slots];
		uint8_t klo[LSM_UKEY_LEN], khi[LSM_UKEY_LEN];
		lsm_db_iter *it;

		for (size_t i = 0; i < p->n_slots; i++)
			before[i] = x->accs[i].n;
		if (top == INT64_MAX && x->ctx->now_ns < INT64_MAX && x->ctx->now_ns >= p->lo) {
			rc = scan_range(x, s, x->ctx->now_ns + 1, INT64_MAX);
			top = x->ctx->now_ns;
		}
		if (rc || all_fed(x, before))
			continue;
		/* Nothing is newer than the data: the search starts there, not at now(). */
		bound = lsm_scan_newest_bound(x->ctx->e->db, s->id);
		if (bound < top)
			top = bound;
		if (top < p->lo)
			continue;
		key_bounds(s->id, p->scan_lo, p->hi, klo, khi);
		rc = lsm_db_iter_new(&it, x->ctx->e->db, klo, khi);
		if (rc)
			break;
		while (rc == 0 && !all_fed(x, before) && top >= p->lo &&
		       newest_from(x, it, s->id, p->lo, top, &from, &rc)) {
			rc = lsm_db_iter_status(it);
			if (rc == 0)
				rc = scan_range(x, s, from, top);
			if (from == p->lo)
				break;
			top = from - 1;
		}
		if (rc == 0)
			rc = lsm_db_iter_status(it);
		lsm_db_iter_free(it);
	}
	return rc;
}

/* The first index in [a, b) whose time is t or later, or b (times ascend). */
static size_t time_bound(const int64_t *ts, size_t a, size_t b, int64_t t)
{
	while (a < b) {
		size_t m = a + (b - a) / 2;

		if (ts[m] < t)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

/*
 * The points of the span at hand straight into the accumulators, for
 * statements whose calls read plain fields with no condition on them and
 * nothing beside (spans_direct): what take_point and add_point do point by
 * point, without evaluating anything. 0, 1 when the span needs the point
 * by point path (a field in two columns of different types), or an error.
 */
static int feed_span(struct exec *x, struct cursor *c)
{
	const select_plan *p = x->p;
	const lsm_colset *set = c->span.set;
	const int64_t *ts = set->ts;
	size_t from = c->pos, to = c->span.to, n_feed = 0;
	struct span_feed {
		const struct span_col *sc;
		size_t slot;
	} feed[p->n_slots + 1];
	uint64_t limit = x->ctx->e->limits.max_points, n;
	int rc;

	for (size_t i = 0; i < p->n_slots; i++) {
		const struct span_col *found = NULL;

		for (size_t k = 0; k < c->n_cols; k++) {
			if (p->slots[i].field < 0 || c->cols[k].idx != p->slots[i].field)
				continue;
			if (found)
				return 1;
			found = &c->cols[k];
		}
		if (found)
			feed[n_feed++] = (struct span_feed){ found, i };
	}
	/* Expired points are skipped, and not counted (take_point). */
	while (from < to && ts[from] < x->expired_before)
		from++;
	n = to - from;
	if (limit && x->points + n > limit) {
		x->points = limit + 1;
		return strata_error(STRATA_ETOOBIG, "max-select-point limit exceeded: (%llu/%llu)",
				    (unsigned long long)x->points, (unsigned long long)limit);
	}
	if ((x->points + n) / DEADLINE_EVERY != x->points / DEADLINE_EVERY) {
		rc = query_check_deadline(x->ctx);
		if (rc)
			return rc;
	}
	x->points += n;
	/* Bucket by bucket: the run of points inside the open bucket goes in at once. */
	for (size_t j = from, end; j < to; j = end) {
		if (!x->bucket_open || ts[j] < x->bucket || ts[j] >= x->bucket_end) {
			rc = enter_bucket(x, bucket_of(p, ts[j]));
			if (rc)
				return rc;
		}
		end = x->bucket_end == INT64_MAX ? to : time_bound(ts, j, to, x->bucket_end);
		for (size_t k = 0; k < n_feed; k++) {
			const struct span_feed *f = &feed[k];
			uint64_t added = 0;

			if (f->sc->col->type == LSM_FIELD_FLOAT) {
				rc = query_agg_add_floats(&x->accs[f->slot], ts, &((const lsm_colval *)f->sc->vals)->u,
							  f->sc->col->present, j, end, &added);
			} else {
				for (size_t i = j; i < end && rc == 0; i++) {
					query_value v;

					if (!lsm_colset_present(f->sc->col, i))
						continue;
					span_value(f->sc, i, &v);
					rc = query_agg_add(&x->accs[f->slot], ts[i], v);
					added++;
				}
			}
			if (added)
				x->acc_live[f->slot] = true;
			if (rc)
				return rc;
		}
	}
	x->series = c->series;
	x->time = ts[to - 1];
	c->pos = to - 1; /* cursor_next goes on after the span */
	return 0;
}

/* Series s of a spans_direct statement into the accumulators: spans fed whole, rows point by point. */
static int run_direct_series(struct exec *x, const query_series *s)
{
	struct cursor *c = &x->cur[0];
	int rc;

	c->order = 0;
	for (rc = cursor_open(x, c, s, x->p->scan_lo, x->p->hi); rc == 1; rc = cursor_next(x, c)) {
		if (c->scan) {
			rc = feed_span(x, c);
			if (rc < 0)
				break;
			if (rc == 0)
				continue;
		}
		rc = take_point(x, c);
		if (rc == 1)
			rc = add_point(x);
		if (rc < 0)
			break;
	}
	cursor_close(c);
	return rc < 0 ? rc : 0;
}

/* A group of one series for a spans_direct statement. */
static int run_direct(struct exec *x)
{
	return run_direct_series(x, x->order[x->g_first]);
}

/* Accumulators a group read series by series may hold at most (run_by_series). */
#define BANK_MAX (1u << 14)

/*
 * Whether a group of several series may be read one series after another
 * (run_by_series): every call is count, sum or mean, whose bucket results
 * do not depend on the order points come in (but for the rounding of float
 * sums), fed from spans, with the buckets few enough to hold at once.
 */
static bool by_series(const struct exec *x)
{
	const select_plan *p = x->p;
	__int128 nb;

	if (!x->spans_direct || p->multi_row || x->g_end - x->g_first < 2)
		return false;
	for (size_t i = 0; i < p->n_slots; i++) {
		enum query_agg_fn fn = p->slots[i].fn;

		if ((fn != QUERY_AGG_COUNT && fn != QUERY_AGG_SUM && fn != QUERY_AGG_MEAN) || p->slots[i].count_distinct)
			return false;
	}
	if (!p->interval)
		return true;
	if (!p->has_lo || p->scan_lo > p->hi)
		return false;
	nb = ((__int128)bucket_of(p, p->hi) - bucket_of(p, p->scan_lo)) / p->interval + 1;
	return nb * (__int128)(p->n_slots ? p->n_slots : 1) <= BANK_MAX;
}

/*
 * A group of several series (by_series): each series read alone, straight
 * from its spans, into the accumulators of the buckets its points fall in
 * (one set per bucket when there are several), then the buckets closed in
 * time order. Without it the group's series are merged point by point
 * through a heap: a mean over every host of a measurement would cost a
 * heap step per point.
 */
static int run_by_series(struct exec *x)
{
	const select_plan *p = x->p;
	size_t ns = p->n_slots;
	query_agg *own = x->accs;
	bool *own_live = x->acc_live;
	int rc = 0;

	if (p->interval) {
		size_t nb = (size_t)((bucket_of(p, p->hi) - bucket_of(p, p->scan_lo)) / p->interval) + 1;

		x->bank_first = bucket_of(p, p->scan_lo);
		x->bank = strata_calloc(nb * ns + 1, sizeof(*x->bank));
		x->bank_live = strata_calloc(nb * ns + 1, sizeof(*x->bank_live));
		x->n_bank = nb;
		rc = x->bank && x->bank_live ? init_accs(x, x->bank, nb * ns) : oom();
	}
	/* Without GROUP BY time every series feeds the one bucket, open from the first point on. */
	for (size_t g = x->g_first; g < x->g_end && rc == 0; g++)
		rc = run_direct_series(x, x->order[g]);
	/* The buckets in time order, each closed as the point-by-point path would. */
	for (size_t k = 0; k < x->n_bank && rc == 0; k++) {
		x->accs = &x->bank[k * ns];
		x->acc_live = &x->bank_live[k * ns];
		x->bucket = x->bank_first + (int64_t)k * p->interval;
		x->bucket_open = true;
		rc = close_bucket(x);
	}
	if (x->bank) {
		x->bucket_open = false;
		for (size_t k = 0; k < x->n_bank * ns; k++)
			query_agg_deinit(&x->bank[k]); /* also those never initialized: zeroed */
	}
	strata_free(x->bank);
	strata_free(x->bank_live);
	x->bank = NULL;
	x->bank_live = NULL;
	x->n_bank = 0;
	x->accs = own;
	x->acc_live = own_live;
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
	} else if (x->spans_direct && !first_only && x->g_end - x->g_first == 1) {
		rc = run_direct(x);
	} else if (!first_only && by_series(x)) {
		rc = run_by_series(x);
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

/* ---- groups on two cores ---- */

/*
 * A statement of many one-series groups fed by spans (GROUP BY every tag
 * of its series, as a dashboard's "per host" panel) spends its time in
 * reading and summing each group's points, which no other group shares.
 * The groups are taken in batches (up to GROUP_BATCH): a helper thread computes
 * every other batch's buckets into an exec of its own, and the statement's
 * thread writes them out in their turn, so the output is the same, in the
 * same order, as from one thread. The helper works one batch ahead at
 * most: memory stays that of two batches. From limits.parallel_min_groups
 * groups on (0: never).
 */
#define GROUP_BATCH 32

/* One group's closed buckets, as exec keeps them (entries, evals). */
struct group_result {
	struct entry *entries;
	query_value *evals;
	size_t n_entries, cap_entries;
};

struct helper {
	struct exec h;            /* the helper's own cursors, accumulators and entries */
	const size_t *starts;     /* group boundaries in order[] */
	size_t first, n;          /* groups picked, in output order */
	size_t batch;             /* groups a batch (at most GROUP_BATCH; fewer for fewer groups) */
	bool desc;
	struct group_result res[GROUP_BATCH];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t done_batch;        /* the batch whose results res holds... */
	bool full;                /* ...until the statement's thread wrote them */
	bool stop;                /* the statement's thread gave up */
	int rc;
	char msg[256];
};

static size_t group_at(const struct helper *hp, size_t k)
{
	return hp->first + (hp->desc ? hp->n - 1 - k : k);
}

/* Trades x's entries for r's: the results move out, and r's old arrays are reused. */
static void swap_results(struct exec *x, struct group_result *r)
{
	struct group_result t = { x->entries, x->evals, x->n_entries, x->cap_entries };

	x->entries = r->entries;
	x->evals = r->evals;
	x->n_entries = r->n_entries;
	x->cap_entries = r->cap_entries;
	*r = t;
}

/* Computes the helper's batch into res: 0 or an error. */
static int helper_batch(struct helper *hp, size_t batch)
{
	struct exec *h = &hp->h;
	size_t k0 = batch * hp->batch;
	int rc = 0;

	query_arena_deinit(&h->garena);
	query_arena_init(&h->garena, 0);
	for (size_t i = 0; i < hp->batch && k0 + i < hp->n && rc == 0; i++) {
		size_t g = group_at(hp, k0 + i);

		swap_results(h, &hp->res[i]);
		h->g_first = hp->starts[g];
		h->g_end = hp->starts[g + 1];
		h->n_entries = 0;
		h->bucket_open = false;
		rc = run_direct(h);
		close_cursors(h);
		if (rc == 0)
			rc = close_bucket(h);
		swap_results(h, &hp->res[i]);
	}
	return rc;
}

static void *helper_main(void *arg)
{
	struct helper *hp = arg;
	size_t n_batches = (hp->n + hp->batch - 1) / hp->batch;

	for (size_t b = 1; b < n_batches; b += 2) {
		int rc;

		pthread_mutex_lock(&hp->mu);
		while (hp->full && !hp->stop)
			pthread_cond_wait(&hp->cv, &hp->mu);
		pthread_mutex_unlock(&hp->mu);
		if (hp->stop)
			break;
		rc = helper_batch(hp, b);
		pthread_mutex_lock(&hp->mu);
		hp->done_batch = b;
		hp->full = true;
		if (rc) {
			hp->rc = rc;
			snprintf(hp->msg, sizeof hp->msg, "%s", strata_last_error());
		}
		pthread_cond_broadcast(&hp->cv);
		pthread_mutex_unlock(&hp->mu);
		if (rc)
			break;
	}
	return NULL;
}

/* The helper's exec: x's plan and series, state of its own. */
static int helper_init(struct helper *hp, const struct exec *x)
{
	const select_plan *p = x->p;
	struct exec *h = &hp->h;

	*h = (struct exec){
		.ctx = x->ctx, .p = x->p, .expired_before = x->expired_before, .order = x->order,
		.idx_by_id = x->idx_by_id, .want_id = x->want_id, .needed_idx = x->needed_idx,
		.n_needed = x->n_needed, .want = x->want, .spans_direct = true,
	};
	h->cur = strata_calloc(2, sizeof(*h->cur));
	h->vals = strata_calloc(p->n_fields + 1, sizeof(*h->vals));
	h->fcap = 16;
	h->fbuf = strata_malloc(h->fcap * sizeof(*h->fbuf));
	h->accs = strata_calloc(p->n_slots + 1, sizeof(*h->accs));
	h->acc_live = strata_calloc(p->n_slots + 1, sizeof(*h->acc_live));
	h->aux_cur = strata_calloc(1, sizeof(*h->aux_cur));
	query_arena_init(&h->garena, 0);
	if (!h->cur || !h->vals || !h->fbuf || !h->accs || !h->acc_live || !h->aux_cur)
		return oom();
	return init_accs(x, h->accs, p->n_slots);
}

static void helper_deinit(struct helper *hp)
{
	struct exec *h = &hp->h;

	for (size_t i = 0; h->accs && i < h->p->n_slots; i++)
		query_agg_deinit(&h->accs[i]);
	for (size_t i = 0; i < GROUP_BATCH; i++) {
		strata_free(hp->res[i].entries);
		strata_free(hp->res[i].evals);
	}
	strata_free(h->cur);
	strata_free(h->vals);
	strata_free(h->fbuf);
	strata_free(h->accs);
	strata_free(h->acc_live);
	strata_free(h->aux_cur);
	strata_free(h->entries);
	strata_free(h->evals);
	query_arena_deinit(&h->garena);
}

/* Writes the helper's batch (waiting for it) through x, then lets the helper go on. */
static int emit_helper_batch(struct exec *x, struct helper *hp, size_t batch)
{
	size_t k0 = batch * hp->batch;
	int rc;

	pthread_mutex_lock(&hp->mu);
	while (!(hp->full && hp->done_batch == batch))
		pthread_cond_wait(&hp->cv, &hp->mu);
	rc = hp->rc;
	pthread_mutex_unlock(&hp->mu);
	if (rc)
		return strata_error(rc, "%s", hp->msg);
	for (size_t i = 0; i < hp->batch && k0 + i < hp->n && rc == 0; i++) {
		size_t g = group_at(hp, k0 + i);

		x->g_first = hp->starts[g];
		x->g_end = hp->starts[g + 1];
		swap_results(x, &hp->res[i]);
		rc = emit_aggregate_group(x);
		swap_results(x, &hp->res[i]);
		if (rc == 0)
			rc = end_series(x);
	}
	pthread_mutex_lock(&hp->mu);
	hp->full = false;
	pthread_cond_broadcast(&hp->cv);
	pthread_mutex_unlock(&hp->mu);
	return rc;
}

/*
 * Whether the picked groups may run on two threads: aggregates fed
 * straight from spans, one series per group, no first()/last() search, no
 * point budget to share (max-select-point counts one thread's points).
 */
static bool parallel_groups(const struct exec *x, size_t n_groups, size_t n_picked)
{
	static _Atomic long cores; /* looked up once */
	long n_cores = atomic_load_explicit(&cores, memory_order_relaxed);
	size_t min = x->ctx->e->limits.parallel_min_groups;

	if (!n_cores) {
		n_cores = sysconf(_SC_NPROCESSORS_ONLN);
		atomic_store_explicit(&cores, n_cores, memory_order_relaxed);
	}
	return n_cores > 1 && min && n_picked >= min && n_groups == x->set.n &&
	       x->p->mode == SELECT_AGGREGATE && x->spans_direct && !x->ctx->e->limits.max_points &&
	       !only_fn(x->p, QUERY_AGG_FIRST) && !only_fn(x->p, QUERY_AGG_LAST);
}

/* The picked groups, every other batch computed by a helper thread (parallel_groups). */
static int run_groups_parallel(struct exec *x, const size_t *starts, size_t first, size_t n, bool desc)
{
	struct helper *hp = strata_calloc(1, sizeof(*hp));
	pthread_t thread;
	bool started = false;
	int rc;

	if (!hp)
		return oom();
	*hp = (struct helper){ .starts = starts, .first = first, .n = n, .desc = desc };
	/* Eight batches at least, so that both threads have some. */
	hp->batch = n / 8 < 1 ? 1 : n / 8 > GROUP_BATCH ? GROUP_BATCH : n / 8;
	pthread_mutex_init(&hp->mu, NULL);
	pthread_cond_init(&hp->cv, NULL);
	rc = helper_init(hp, x);
	if (rc == 0) {
		rc = pthread_create(&thread, NULL, helper_main, hp);
		rc = rc ? strata_error(-rc, "cannot start a query thread") : 0;
		started = rc == 0;
	}
	for (size_t k = 0; rc == 0 && k < n; k++) {
		size_t batch = k / hp->batch, g = group_at(hp, k);

		if (batch % 2) {
			rc = emit_helper_batch(x, hp, batch);
			k = (batch + 1) * hp->batch - 1;
			continue;
		}
		x->g_first = starts[g];
		x->g_end = starts[g + 1];
		rc = run_aggregate_group(x);
		close_cursors(x);
		if (rc == 0)
			rc = end_series(x);
		query_arena_deinit(&x->garena);
		query_arena_init(&x->garena, 0);
	}
	if (started) {
		pthread_mutex_lock(&hp->mu);
		hp->stop = true;
		pthread_cond_broadcast(&hp->cv);
		pthread_mutex_unlock(&hp->mu);
		pthread_join(thread, NULL);
	}
	x->points += hp->h.points;
	helper_deinit(hp);
	pthread_mutex_destroy(&hp->mu);
	pthread_cond_destroy(&hp->cv);
	strata_free(hp);
	return rc;
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
	x->want_id = strata_calloc(p->max_field_id + 1, sizeof(*x->want_id));
	x->needed_idx = strata_malloc((p->n_fields + 1) * sizeof(*x->needed_idx));
	x->fcap = 16;
	x->fbuf = strata_malloc(x->fcap * sizeof(*x->fbuf));
	x->colvals = strata_calloc(p->n_columns, sizeof(*x->colvals));
	x->tr = strata_calloc(p->n_columns, sizeof(*x->tr));
	x->accs = strata_calloc(p->n_slots + 1, sizeof(*x->accs));
	x->acc_live = strata_calloc(p->n_slots + 1, sizeof(*x->acc_live));
	x->carry = strata_calloc(p->n_slots + 1, sizeof(*x->carry));
	x->has_carry = strata_calloc(p->n_slots + 1, sizeof(*x->has_carry));
	x->aux_cur = strata_calloc(p->n_aux + 1, sizeof(*x->aux_cur));
	if (!x->order || !x->cur || !x->heap || !x->vals || !x->idx_by_id || !x->want_id || !x->needed_idx ||
	    !x->fbuf || !x->colvals ||
	    !x->tr || !x->accs || !x->acc_live || !x->carry || !x->has_carry || !x->aux_cur)
		return oom();
	for (uint32_t i = 0; i <= p->max_field_id; i++)
		x->idx_by_id[i] = -1;
	for (size_t i = 0; i < p->n_fields; i++) {
		x->idx_by_id[p->fields[i].id] = (int32_t)i;
		x->want_id[p->fields[i].id] = p->needed[i];
		if (p->needed[i])
			x->needed_idx[x->n_needed++] = i;
	}
	x->want = (lsm_colwant){ .by_id = x->want_id, .n_ids = p->max_field_id + 1 };
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
	{
		int rc = init_accs(x, x->accs, p->n_slots);

		if (rc)
			return rc;
	}
	x->desc_buffer = p->mode == SELECT_RAW && p->stmt->order_desc;
	for (size_t i = 0; i < p->n_slots; i++)
		x->has_integral |= p->slots[i].fn == QUERY_AGG_INTEGRAL;
	x->spans_direct = p->mode == SELECT_AGGREGATE && !p->n_residual && !p->n_aux && !x->has_integral;
	if (p->interval && p->mode == SELECT_AGGREGATE && p->has_lo) {
		uint64_t max = x->ctx->e->limits.max_buckets;
		__int128 nb = ((__int128)bucket_of(p, p->hi) - bucket_of(p, p->scan_lo)) / p->interval + 1;

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
	strata_free(x->want_id);
	strata_free(x->needed_idx);
	strata_free(x->fbuf);
	strata_free(x->colvals);
	strata_free(x->tr);
	strata_free(x->accs);
	strata_free(x->acc_live);
	strata_free(x->carry);
	strata_free(x->has_carry);
	strata_free(x->aux_cur);
	strata_free(x->buf_times);
	strata_free(x->buf_vals);
	strata_free(x->entries);
	strata_free(x->evals);
	query_series_set_free(&x->set);
	query_regex_cache_free(&x->regexes);
}

/* Points of store db before the returned time have expired: now() less its policy's retention. */
static int64_t expired_before(const query_stmt_ctx *ctx, uint32_t db)
{
	int64_t keep = 0, t;

	if (lsm_catalog_retention(ctx->e->catalog, db, &keep) != 0 || keep <= 0 ||
	    __builtin_sub_overflow(ctx->now_ns, keep, &t))
		return INT64_MIN;
	return t;
}

static int run_measurement(query_stmt_ctx *ctx, const struct query_select *stmt, uint32_t db, const char *m,
			   const select_names *wildcard, query_into *into, uint64_t *points, uint64_t *rows)
{
	select_plan plan;
	struct exec x = { .ctx = ctx, .p = &plan, .points = *points, .rows = *rows, .into = into };
	size_t *starts = NULL, n_groups = 0, n_picked = 0, first_picked = 0;
	int rc = select_plan_init(&plan, ctx->e->catalog, db, m, stmt, wildcard, ctx->now_ns);

	if (rc || plan.no_fields)
		goto out;
	x.expired_before = expired_before(ctx, db);
	if (into)
		x.into_name = stmt->into->from_source || !stmt->into->name ? m : stmt->into->name;
	rc = query_series_select(ctx->e->catalog, db, m, strlen(m), plan.stmt->condition, plan.fields,
				 plan.n_fields, ctx->e->limits.max_series, &x.set);
	if (rc)
		goto out;
	rc = prepare(&x);
	if (rc)
		goto out;
	/* Group boundaries; ORDER BY time DESC also walks the groups backwards, as InfluxDB. */
	starts = strata_malloc((x.set.n + 1) * sizeof(*starts));
	if (!starts) {
		rc = oom();
		goto out;
	}
	for (size_t g = 0; g < x.set.n; g++)
		if (g == 0 || !same_group(&plan, x.order[g - 1], x.order[g]))
			starts[n_groups++] = g;
	starts[n_groups] = x.set.n;
	query_arena_init(&x.garena, 0);
	/*
	 * SOFFSET and SLIMIT pick groups (tag sets) in tag order, whether or
	 * not they have points in range; ORDER BY time DESC then writes the
	 * picked ones backwards (as InfluxDB: its engine limits the tag sets,
	 * its merge orders the series).
	 */
	{
		size_t from = (size_t)stmt->soffset < n_groups ? (size_t)stmt->soffset : n_groups;
		size_t to = stmt->slimit && (size_t)stmt->slimit < n_groups - from ? from + (size_t)stmt->slimit
										    : n_groups;

		n_picked = to - from;
		first_picked = from;
	}
	if (parallel_groups(&x, n_groups, n_picked)) {
		rc = run_groups_parallel(&x, starts, first_picked, n_picked, stmt->order_desc);
		n_picked = 0;
	}
	for (size_t k = 0; rc == 0 && k < n_picked; k++) {
		size_t g = first_picked + (stmt->order_desc ? n_picked - 1 - k : k);

		x.g_first = starts[g];
		x.g_end = starts[g + 1];
		rc = plan.mode == SELECT_RAW ? run_raw_group(&x) : run_aggregate_group(&x);
		close_cursors(&x);
		if (rc == 0)
			rc = end_series(&x);
		query_arena_deinit(&x.garena);
		query_arena_init(&x.garena, 0);
	}
	query_arena_deinit(&x.garena);
out:
	strata_free(starts);
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

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts names and drops duplicates (freeing them); returns the new count. */
static size_t sort_unique(char **v, size_t n)
{
	size_t w = 0;

	qsort(v, n, sizeof(*v), cmp_cstr);
	for (size_t i = 0; i < n; i++) {
		if (w && strcmp(v[w - 1], v[i]) == 0) {
			strata_free(v[i]);
			continue;
		}
		v[w++] = v[i];
	}
	return w;
}

static int append_names(char ***v, size_t *n, char **add, size_t n_add)
{
	char **grown = strata_realloc(*v, (*n + n_add + 1) * sizeof(**v));

	if (!grown)
		return oom();
	*v = grown;
	memcpy(grown + *n, add, n_add * sizeof(*add));
	*n += n_add;
	return 0;
}

/* The union of the fields and tags of measurements ms, for wildcards over several of them. */
static int wildcard_union(query_stmt_ctx *ctx, uint32_t db, char **ms, size_t n_ms, select_names *out)
{
	int rc = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; rc == 0 && i < n_ms; i++) {
		lsm_field_info *f = NULL;
		char **tags = NULL, **names;
		size_t nf = 0, nt = 0;

		rc = lsm_catalog_fields(ctx->e->catalog, db, ms[i], strlen(ms[i]), &f, &nf);
		if (rc == 0)
			rc = lsm_catalog_tag_keys(ctx->e->catalog, db, ms[i], strlen(ms[i]), &tags, &nt);
		names = rc == 0 ? strata_calloc(nf + 1, sizeof(*names)) : NULL;
		if (rc == 0 && !names)
			rc = oom();
		for (size_t k = 0; rc == 0 && k < nf; k++) {
			names[k] = f[k].name;
			f[k].name = NULL;
		}
		if (rc == 0)
			rc = append_names(&out->fields, &out->n_fields, names, nf);
		else if (names)
			lsm_catalog_free_names(names, nf);
		if (rc == 0)
			rc = append_names(&out->tags, &out->n_tags, tags, nt);
		else
			lsm_catalog_free_names(tags, nt);
		strata_free(names);
		strata_free(tags);
		lsm_catalog_free_fields(f, nf);
	}
	if (rc == 0) {
		out->n_fields = sort_unique(out->fields, out->n_fields);
		out->n_tags = sort_unique(out->tags, out->n_tags);
	}
	return rc;
}

static bool has_wildcard(const struct query_select *s)
{
	for (uint32_t i = 0; i < s->n_fields; i++) {
		const query_expr *e = s->fields[i].expr;

		while (e->kind == QUERY_EXPR_PAREN)
			e = e->paren;
		if (e->kind == QUERY_EXPR_WILDCARD)
			return true;
	}
	return false;
}

/*
 * The store a statement reads: its sources' policy (FROM db.rp.m), else
 * the request's rp=, else the default policy. Sources naming two policies
 * are refused: each policy's points are a store of their own.
 */
static int statement_store(query_stmt_ctx *ctx, const struct query_select *s, uint32_t db, uint32_t *out)
{
	const char *rp = NULL;
	int rc = query_resolve_store(ctx, db, s->n_sources ? s->sources[0].retention_policy : NULL, out);

	if (s->n_sources)
		rp = s->sources[0].retention_policy;
	for (uint32_t i = 1; rc == 0 && i < s->n_sources; i++) {
		const char *r = s->sources[i].retention_policy;
		uint32_t other;

		rc = query_resolve_store(ctx, db, r, &other);
		if (rc == 0 && other != *out)
			rc = strata_error(STRATA_EINVAL, "a statement reads one retention policy: %s and %s",
					  rp && *rp ? rp : "the default", r && *r ? r : "the default");
	}
	return rc;
}

/* SELECT ... INTO answers the points it wrote, as InfluxDB: series "result", [time, written]. */
static int write_result(query_stmt_ctx *ctx, uint64_t written)
{
	static const char *const cols[] = { "time", "written" };
	query_value v = query_value_integer((int64_t)written);
	int rc = query_output_begin_series(ctx->out, "result", NULL, 0, cols, 2, true);

	if (rc == 0)
		rc = query_output_row(ctx->out, 0, &v, NULL, 1);
	if (rc == 0)
		rc = query_output_end_series(ctx->out);
	return rc;
}

int query_select_run(query_stmt_ctx *ctx, const struct query_select *s)
{
	const char *dbname = NULL;
	uint64_t points = 0, rows = 0;
	select_names all = { 0 };
	query_into into;
	bool into_on = false;
	char **ms = NULL;
	size_t n_ms = 0;
	uint32_t db;
	int rc;

	if (s->into && !ctx->e->write)
		return strata_error(STRATA_EINVAL, "SELECT ... INTO needs a writable engine (strata serve or strata query)");
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
		rc = statement_store(ctx, s, db, &db);
	if (rc == 0)
		rc = source_measurements(ctx, s, db, &ms, &n_ms);
	if (rc == 0 && n_ms > 1 && has_wildcard(s))
		rc = wildcard_union(ctx, db, ms, n_ms, &all);
	if (rc == 0 && s->into) {
		const char *target = s->into->database ? s->into->database : dbname ? dbname : ctx->req->db;
		uint32_t target_id, target_store;

		/* Without a policy, INTO writes to the target's default one (not the request's rp=). */
		rc = query_resolve_db(ctx, target, &target_id);
		if (rc == 0)
			rc = lsm_catalog_store(ctx->e->catalog, target_id, s->into->retention_policy, &target_store);
		if (rc == 0) {
			query_into_init(&into, ctx->e->write, ctx->e->write_ctx, target, s->into->retention_policy);
			into_on = true;
		}
	}
	/* Each measurement on its own (SLIMIT counts per measurement); DESC walks them backwards. */
	for (size_t k = 0; rc == 0 && k < n_ms; k++) {
		size_t i = s->order_desc ? n_ms - 1 - k : k;

		rc = run_measurement(ctx, s, db, ms[i], n_ms > 1 && has_wildcard(s) ? &all : NULL,
				     into_on ? &into : NULL, &points, &rows);
	}
	if (into_on) {
		if (rc == 0)
			rc = query_into_flush(&into);
		if (rc == 0)
			rc = write_result(ctx, into.written);
		query_into_deinit(&into);
	}
	lsm_catalog_free_names(ms, n_ms);
	lsm_catalog_free_names(all.fields, all.n_fields);
	lsm_catalog_free_names(all.tags, all.n_tags);
	return rc;
}
