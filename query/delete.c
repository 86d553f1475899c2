/*
 * delete.c — DROP SERIES, DELETE and DROP MEASUREMENT (exec_int.h), with
 * InfluxDB 1.x's semantics:
 *   DROP SERIES [FROM m, /re/] [WHERE tags]   the points and the series
 *   DELETE [FROM m, /re/] [WHERE tags, time]  the points in the time range
 *   DROP MEASUREMENT m                        every series of m, and m
 * in the request's database, across all of its retention policies (each
 * keeps its series in a store of its own, catalog.h), as InfluxDB drops
 * from every policy; a source of DELETE that names a policy (FROM rp.m)
 * covers that policy's store only. WHERE compares tags (and, in DELETE,
 * time); a field in it is refused ("fields not supported in WHERE clause
 * during deletion"), and so is time in DROP SERIES. Without FROM, every
 * measurement of the database. An unknown measurement deletes nothing and
 * is no error. Success is an empty statement result.
 *
 * How: the series come from the tag postings (query_series_select, where
 * time terms "may match"); for each one the keys of its points in the time
 * range are read with an iterator and a DELETE written for each, in
 * batches of DELETE_BATCH_KEYS per lsm_write (each durable in the WAL
 * before the next; reads see them at once; compaction drops the points and
 * the tombstones when it merges their window down). Points written after a
 * delete are visible again, as in InfluxDB.
 *
 * DROP SERIES and DROP MEASUREMENT then drop the series from the catalog
 * (lsm_catalog_drop_series: one durable record batch per store), after
 * every point DELETE of that store is durable: a crash between the two
 * leaves series without points, never points of a forgotten series. A key
 * written after the drop gets a new series id (the ingest writer clears
 * its key cache on the catalog's drop generation).
 *
 * DELETE keeps the series in the catalog even when no point is left: SHOW
 * SERIES still lists them (InfluxDB 1.x may drop such series from its
 * index; here DROP SERIES does that).
 *
 * A write racing a drop on the same series may store points under the
 * dropped id after its DELETEs were written: those points are unreachable
 * (no query resolves that id) but stay on disk, as compaction does not
 * consult the catalog; deletes are not meant to run against live writes
 * to the same series.
 */
#include "query/exec_int.h"
#include "lsm/alloc.h"
#include "lsm/log.h"
#include "lsm/status.h"
#include "query/eval.h"
#include "query/regex.h"
#include "query/sources.h"
#include "query/series_set.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

/* DELETEs per lsm_write: bounds the batch (about 20 bytes a key). */
#define DELETE_BATCH_KEYS 10000
/* Series deleted between two deadline checks. */
#define DEADLINE_EVERY 1024
/* A progress line every this many points deleted. */
#define DELETE_LOG_EVERY 1000000

static int oom(void)
{
	return strata_error(-ENOMEM, "out of memory running the deletion");
}

/* The catalog leaves -ENOMEM without a message; every other error has one. */
static int catalog_rc(int rc)
{
	return rc == -ENOMEM ? oom() : rc;
}

/* Measurement names of a statement, each owned. */
struct names {
	char **v;
	size_t n, cap;
};

static void names_free(struct names *t)
{
	for (size_t i = 0; i < t->n; i++)
		strata_free(t->v[i]);
	strata_free(t->v);
	memset(t, 0, sizeof(*t));
}

static int names_add(struct names *t, const char *name)
{
	size_t len = strlen(name);
	char *copy;

	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		char **v = strata_realloc(t->v, cap * sizeof(*v));

		if (!v)
			return oom();
		t->v = v;
		t->cap = cap;
	}
	copy = strata_malloc(len + 1);
	if (!copy)
		return oom();
	memcpy(copy, name, len + 1);
	t->v[t->n++] = copy;
	return 0;
}

/* Adds the measurements of store that regex matches (NULL: all of them). */
static int names_add_matching(struct names *t, lsm_catalog *c, uint32_t store, const char *regex)
{
	char **names = NULL;
	size_t n = 0;
	int rc = catalog_rc(query_measurements_matching(c, store, regex, &names, &n));

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = names_add(t, names[i]);
	lsm_catalog_free_names(names, n);
	return rc;
}

/*
 * The measurements of store that FROM names (names and regexes), or all of
 * them without FROM. A source that names a policy covers only its store.
 */
static int collect_measurements(query_stmt_ctx *ctx, uint32_t db, uint32_t store, const struct query_measurement *src,
				uint32_t n_src, struct names *out)
{
	lsm_catalog *c = ctx->e->catalog;
	int rc = 0;

	if (n_src == 0)
		return names_add_matching(out, c, store, NULL);
	for (uint32_t i = 0; rc == 0 && i < n_src; i++) {
		uint32_t rp_store;

		if (src[i].retention_policy) {
			rc = query_resolve_store(ctx, db, src[i].retention_policy, &rp_store);
			if (rc || rp_store != store)
				continue;
		}
		if (src[i].name)
			rc = names_add(out, src[i].name);
		else
			rc = names_add_matching(out, c, store, src[i].regex);
	}
	return rc;
}

/*
 * Refuses what a deletion's WHERE may not hold: a field of measurement
 * (fields[0..n_fields)), and time when !time_ok. Recursion is bounded by
 * the parser's expression height.
 */
static int check_condition(const query_expr *e, const lsm_field_info *fields, size_t n_fields, bool time_ok)
{
	int rc;

	if (!e)
		return 0;
	switch (e->kind) {
	case QUERY_EXPR_VARREF:
		switch (query_ref_kind(e, fields, n_fields, NULL)) {
		case QUERY_REF_FIELD:
			return strata_error(STRATA_EINVAL, "fields not supported in WHERE clause during deletion");
		case QUERY_REF_TIME:
			if (!time_ok)
				return strata_error(STRATA_EINVAL, "DROP SERIES doesn't support time in WHERE clause");
			return 0;
		case QUERY_REF_TAG:
			return 0;
		}
		return 0;
	case QUERY_EXPR_BINARY:
		rc = check_condition(e->binary.lhs, fields, n_fields, time_ok);
		return rc ? rc : check_condition(e->binary.rhs, fields, n_fields, time_ok);
	case QUERY_EXPR_PAREN:
		return check_condition(e->paren, fields, n_fields, time_ok);
	default:
		return 0;
	}
}

/* True when a VARREF `time` appears anywhere in e. */
static bool has_time(const query_expr *e)
{
	if (!e)
		return false;
	switch (e->kind) {
	case QUERY_EXPR_VARREF:
		return query_ref_kind(e, NULL, 0, NULL) == QUERY_REF_TIME;
	case QUERY_EXPR_BINARY:
		return has_time(e->binary.lhs) || has_time(e->binary.rhs);
	case QUERY_EXPR_PAREN:
		return has_time(e->paren);
	default:
		return false;
	}
}

/* What one statement deletes, and how far it got. */
struct deletion {
	query_stmt_ctx *ctx;
	const char *what;  /* statement name for the log */
	int64_t lo, hi;    /* inclusive time range of the points */
	lsm_batch batch;
	uint64_t points;   /* DELETEs written */
	uint64_t series;   /* series whose points were scanned */
	uint64_t next_log; /* points at the next progress line */
};

static int write_batch(struct deletion *d)
{
	int rc;

	if (lsm_batch_count(&d->batch) == 0)
		return 0;
	rc = lsm_write(d->ctx->e->db, &d->batch, 0);
	if (rc)
		return strata_error(rc, "%s: writing %" PRIu32 " deletes: %s", d->what, lsm_batch_count(&d->batch),
				    strata_strerror(rc));
	d->points += lsm_batch_count(&d->batch);
	lsm_batch_clear(&d->batch);
	if (d->points >= d->next_log) {
		LOG_INFO("event=delete_progress statement=\"%s\" points=%" PRIu64 " series=%" PRIu64, d->what,
			 d->points, d->series);
		d->next_log = d->points + DELETE_LOG_EVERY;
	}
	return 0;
}

/* Writes a DELETE for every point of series id in [d->lo, d->hi]. */
static int delete_points(struct deletion *d, uint64_t id)
{
	uint8_t lo[LSM_UKEY_LEN], hi[LSM_UKEY_LEN];
	lsm_db_iter *it = NULL;
	int rc;

	lsm_ukey_encode(lo, id, d->lo);
	/* hi is exclusive: the next instant, or the first key of the next series. */
	if (d->hi == INT64_MAX)
		lsm_ukey_encode(hi, id + 1, INT64_MIN);
	else
		lsm_ukey_encode(hi, id, d->hi + 1);
	rc = lsm_db_iter_new(&it, d->ctx->e->db, lo, hi);
	if (rc)
		return strata_error(rc, "%s: reading series %" PRIu64 ": %s", d->what, id, strata_strerror(rc));
	d->series++;
	for (lsm_db_iter_seek_first(it); rc == 0 && lsm_db_iter_valid(it); lsm_db_iter_next(it)) {
		rc = lsm_batch_delete(&d->batch, lsm_db_iter_key(it));
		if (rc)
			rc = rc == -ENOMEM ? oom() : strata_error(rc, "%s: %s", d->what, strata_strerror(rc));
		else if (lsm_batch_count(&d->batch) >= DELETE_BATCH_KEYS)
			rc = write_batch(d);
	}
	if (rc == 0) {
		rc = lsm_db_iter_status(it);
		if (rc)
			rc = strata_error(rc, "%s: reading series %" PRIu64 ": %s", d->what, id, strata_strerror(rc));
	}
	lsm_db_iter_free(it);
	return rc;
}

/* Appends ids[0..n) to *v (n_v used, cap_v allocated). */
static int ids_append(uint64_t **v, size_t *n_v, size_t *cap_v, const query_series *s, size_t n)
{
	if (*n_v + n > *cap_v) {
		size_t cap = *cap_v ? *cap_v : 64;
		uint64_t *grown;

		while (cap < *n_v + n)
			cap *= 2;
		grown = strata_realloc(*v, cap * sizeof(*grown));
		if (!grown)
			return oom();
		*v = grown;
		*cap_v = cap;
	}
	for (size_t i = 0; i < n; i++)
		(*v)[(*n_v)++] = s[i].id;
	return 0;
}

/*
 * The deletion in one store: the series of measurements ms that cond
 * selects lose their points in [d->lo, d->hi]; with drop, they then leave
 * the catalog (counted in *dropped).
 */
static int delete_in_store(struct deletion *d, uint32_t store, const struct names *ms, const query_expr *cond,
			   bool drop, size_t *dropped)
{
	query_stmt_ctx *ctx = d->ctx;
	lsm_catalog *c = ctx->e->catalog;
	uint64_t *ids = NULL;
	size_t n_ids = 0, cap_ids = 0;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < ms->n; i++) {
		const char *m = ms->v[i];
		size_t m_len = strlen(m);
		lsm_field_info *fields = NULL;
		query_series_set set = { 0 };
		size_t n_fields = 0;

		rc = query_check_deadline(ctx);
		if (rc == 0)
			rc = catalog_rc(lsm_catalog_fields(c, store, m, m_len, &fields, &n_fields));
		if (rc == 0)
			rc = check_condition(cond, fields, n_fields, !drop);
		if (rc == 0)
			rc = catalog_rc(query_series_select(c, store, m, m_len, cond, fields, n_fields, 0, &set));
		/* An empty time range deletes nothing (the checks above still apply). */
		for (size_t j = 0; rc == 0 && d->lo <= d->hi && j < set.n; j++) {
			if (j % DEADLINE_EVERY == DEADLINE_EVERY - 1)
				rc = query_check_deadline(ctx);
			if (rc == 0)
				rc = delete_points(d, set.v[j].id);
		}
		if (rc == 0 && drop)
			rc = ids_append(&ids, &n_ids, &cap_ids, set.v, set.n);
		query_series_set_free(&set);
		lsm_catalog_free_fields(fields, n_fields);
	}
	if (rc == 0)
		rc = write_batch(d);
	/* Every DELETE is durable: now the catalog may forget the series. */
	if (rc == 0 && drop && n_ids)
		rc = catalog_rc(lsm_catalog_drop_series(c, store, ids, n_ids));
	if (rc == 0)
		*dropped += n_ids;
	strata_free(ids);
	return rc;
}

/*
 * Runs one deletion in every store of the request's database (a source
 * that names a policy: in its store only): the series of sources (or all
 * measurements) that cond selects lose their points in [lo, hi]; with
 * drop, they leave the catalog.
 */
static int run_deletion(query_stmt_ctx *ctx, const char *what, const struct query_measurement *sources,
			uint32_t n_sources, const query_expr *cond, bool drop)
{
	struct deletion d = { .ctx = ctx, .what = what, .lo = INT64_MIN, .hi = INT64_MAX,
			      .next_log = DELETE_LOG_EVERY };
	uint32_t db, *stores = NULL;
	size_t n_stores = 0, dropped = 0;
	int rc;

	lsm_batch_init(&d.batch);
	rc = query_resolve_db(ctx, NULL, &db);
	if (rc == 0)
		rc = query_resolve_stores(ctx, db, NULL, &stores, &n_stores);
	if (rc)
		goto out;
	if (drop && has_time(cond)) {
		rc = strata_error(STRATA_EINVAL, "DROP SERIES doesn't support time in WHERE clause");
		goto out;
	}
	if (!drop && cond) {
		bool has_lo, has_hi;

		rc = query_time_range(cond, ctx->now_ns, &d.lo, &d.hi, &has_lo, &has_hi);
		if (rc)
			goto out;
		if (!has_lo)
			d.lo = INT64_MIN;
		if (!has_hi)
			d.hi = INT64_MAX;
	}
	for (size_t s = 0; rc == 0 && s < n_stores; s++) {
		struct names ms = { 0 };

		rc = collect_measurements(ctx, db, stores[s], sources, n_sources, &ms);
		if (rc == 0)
			rc = delete_in_store(&d, stores[s], &ms, cond, drop, &dropped);
		names_free(&ms);
	}
	if (rc == 0 && (d.points || dropped))
		LOG_INFO("event=delete_done statement=\"%s\" points=%" PRIu64 " series=%" PRIu64 " series_dropped=%zu",
			 what, d.points, d.series, dropped);
out:
	lsm_batch_deinit(&d.batch);
	strata_free(stores);
	return rc;
}

int query_delete_run(query_stmt_ctx *ctx, const struct query_stmt *s)
{
	switch (s->kind) {
	case QUERY_STMT_DROP_SERIES:
		return run_deletion(ctx, "DROP SERIES", s->del.sources, s->del.n_sources, s->del.condition, true);
	case QUERY_STMT_DELETE:
		return run_deletion(ctx, "DELETE", s->del.sources, s->del.n_sources, s->del.condition, false);
	case QUERY_STMT_DROP_MEASUREMENT: {
		struct query_measurement m = { .pos = s->pos, .name = s->measurement };

		return run_deletion(ctx, "DROP MEASUREMENT", &m, 1, NULL, true);
	}
	default:
		return strata_error(STRATA_EINVAL, "%s is not a deletion", query_stmt_kind_str(s->kind));
	}
}
