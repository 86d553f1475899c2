/*
 * meta.c — the statements that are not SELECT (exec_int.h): the SHOW
 * statements, answered from the catalog, and CREATE / DROP DATABASE.
 *
 * The response shapes are InfluxDB 1.8's:
 *   SHOW DATABASES           one series "databases", ["name"], even when empty
 *   SHOW MEASUREMENTS        one series "measurements", ["name"]
 *   SHOW TAG KEYS            a series per measurement, ["tagKey"]
 *   SHOW TAG VALUES          a series per measurement, ["key","value"]
 *   SHOW FIELD KEYS          a series per measurement, ["fieldKey","fieldType"]
 *   SHOW SERIES              one series without a name, ["key"]
 *   SHOW RETENTION POLICIES  one series without a name, ["name","duration",
 *                            "shardGroupDuration","replicaN","default"]
 * A series left without rows (by WHERE, WITH KEY, LIMIT or OFFSET) is not
 * written, so a statement that finds nothing is {"statement_id":N}, except
 * for SHOW DATABASES and SHOW RETENTION POLICIES. LIMIT and OFFSET count the
 * rows of each series, as InfluxDB does.
 *
 * Where the statement's measurements come from: FROM names them (a name, or
 * a regex matched against the measurements of the database), each source in
 * its own database when it names one (db..m), else in ON db, else in the
 * request's db; without FROM, every measurement of that database. With
 * WHERE, a measurement contributes only the series query_series_select()
 * finds for the condition (a tag comparison decides; field and time terms
 * may match, as InfluxDB's index treats them).
 *
 * Each retention policy keeps its series in a store of its own (catalog.h).
 * As in InfluxDB, a statement answers for the whole database, every store
 * of it, unless a source names a policy (rp.m, db.rp.m; for SHOW
 * MEASUREMENTS, WITH MEASUREMENT = rp.m): then for that policy's store
 * only. A measurement found in several stores is still one series, whose
 * rows are the union of theirs, sorted, each once; a field with another
 * type in another store is a row per type. The request's rp= does not
 * narrow a SHOW statement.
 *
 * DROP SERIES, DELETE and DROP MEASUREMENT are dispatched to delete.c.
 * Retention policies live in the catalog (docs/retention.md): CREATE
 * DATABASE ... WITH, CREATE / ALTER / DROP RETENTION POLICY and SHOW
 * RETENTION POLICIES. Continuous queries are not implemented: their
 * statements fail with an error that says so, never silently.
 */
#include "query/exec_int.h"
#include "lsm/alloc.h"
#include "lsm/retention.h"
#include "lsm/series_key.h"
#include "lsm/status.h"
#include "query/regex.h"
#include "query/sources.h"
#include "query/series_set.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* InfluxDB's shortest finite retention (meta.MinRetentionPolicyDuration). */
#define RP_MIN_DURATION_NS (INT64_C(3600) * 1000000000)
#define HOUR_NS (INT64_C(3600) * 1000000000)
/*
 * Bounds of a SHARD DURATION (catalog.h): InfluxDB's shortest (it raises
 * shorter ones to an hour; strata says so instead), and a year.
 */
#define RP_MIN_SHARD_NS LSM_CATALOG_SHARD_MIN_NS
#define RP_MAX_SHARD_NS LSM_CATALOG_SHARD_MAX_NS

/* Series examined between two deadline checks. */
#define DEADLINE_EVERY 4096

/* Bytes borrowed from a catalog list, a series set or a key copy. */
struct str {
	const char *p;
	size_t len;
};

/* A (key, value) row of SHOW TAG VALUES. */
struct pair {
	struct str k, v;
};

static int oom(void)
{
	return strata_error(-ENOMEM, "out of memory answering the statement");
}

/* The catalog leaves -ENOMEM without a message; every other error has one. */
static int catalog_rc(int rc)
{
	return rc == -ENOMEM ? oom() : rc;
}

/*
 * Makes room for one more item of size bytes in the array whose pointer is
 * at pv (n used, *cap allocated). The pointer is read and written with
 * memcpy, so any array type may be passed.
 */
static int grow(void *pv, size_t *cap, size_t n, size_t size)
{
	void *old, *p;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? 2 * *cap : 16;
	if (ncap > SIZE_MAX / size)
		return oom();
	memcpy(&old, pv, sizeof(old));
	p = strata_realloc(old, ncap * size);
	if (!p)
		return oom();
	memcpy(pv, &p, sizeof(p));
	*cap = ncap;
	return 0;
}

static int str_cmp(const struct str *a, const struct str *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = n ? memcmp(a->p, b->p, n) : 0;

	if (c)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

static bool str_eq(const struct str *a, const char *s)
{
	return strlen(s) == a->len && memcmp(a->p, s, a->len) == 0;
}

static int str_qsort_cmp(const void *a, const void *b)
{
	return str_cmp(a, b);
}

static int pair_qsort_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	int c = str_cmp(&x->k, &y->k);

	return c ? c : str_cmp(&x->v, &y->v);
}

/* Sorts v and drops repeated strings; returns the new count. */
static size_t str_sort_unique(struct str *v, size_t n)
{
	size_t w = 0;

	if (n < 2)
		return n;
	qsort(v, n, sizeof(*v), str_qsort_cmp);
	for (size_t i = 1; i < n; i++)
		if (str_cmp(&v[w], &v[i]) != 0)
			v[++w] = v[i];
	return w + 1;
}

static size_t pair_sort_unique(struct pair *v, size_t n)
{
	size_t w = 0;

	if (n < 2)
		return n;
	qsort(v, n, sizeof(*v), pair_qsort_cmp);
	for (size_t i = 1; i < n; i++)
		if (pair_qsort_cmp(&v[w], &v[i]) != 0)
			v[++w] = v[i];
	return w + 1;
}

/* The rows [*start, *start + *count) of n that OFFSET and LIMIT leave. */
static void window(size_t n, int64_t offset, int64_t limit, size_t *start, size_t *count)
{
	*start = 0;
	if (offset > 0)
		*start = (uint64_t)offset < n ? (size_t)offset : n;
	*count = n - *start;
	if (limit > 0 && (uint64_t)limit < *count)
		*count = (size_t)limit;
}

/* Counts n more rows of the statement against limits.max_rows. */
static int count_rows(const query_stmt_ctx *ctx, uint64_t *total, size_t n)
{
	uint64_t max = ctx->e->limits.max_rows;

	*total += n;
	if (max && *total > max)
		return strata_error(STRATA_ETOOBIG,
				    "max-row-limit exceeded: the statement returns more than %" PRIu64 " rows", max);
	return 0;
}

/* Writes a series of one string column. */
static int write_strings(query_output *o, const char *name, const char *column, const struct str *v, size_t n)
{
	const char *cols[1] = { column };
	int rc = query_output_begin_series(o, name, NULL, 0, cols, 1, false);

	for (size_t i = 0; rc == 0 && i < n; i++) {
		query_value val = query_value_string(v[i].p, v[i].len);

		rc = query_output_row(o, 0, &val, NULL, 1);
	}
	if (rc == 0)
		rc = query_output_end_series(o);
	return rc;
}

/* ---- the measurements a statement reads ---- */

/*
 * A measurement of one database and the stores it is read from: each
 * retention policy keeps its points in a store of its own, and the rows of
 * every store are merged into the measurement's one series.
 */
struct target {
	uint32_t db;
	const char *name; /* borrowed from its entries in struct targets */
	size_t len;
	const uint32_t *stores; /* ascending, each once */
	size_t n_stores;
};

/* A measurement name found in, or named for, one store. */
struct found {
	uint32_t db, store;
	char *name; /* owned */
	size_t len;
};

struct targets {
	struct found *found;
	size_t n_found, cap_found;
	uint32_t *stores; /* the targets' store lists, back to back */
	struct target *v;
	size_t n;
};

static void targets_free(struct targets *t)
{
	for (size_t i = 0; i < t->n_found; i++)
		strata_free(t->found[i].name);
	strata_free(t->found);
	strata_free(t->stores);
	strata_free(t->v);
	memset(t, 0, sizeof(*t));
}

static int found_add(struct targets *t, uint32_t db, uint32_t store, const char *name)
{
	size_t len = strlen(name);
	char *copy;
	int rc = grow(&t->found, &t->cap_found, t->n_found, sizeof(*t->found));

	if (rc)
		return rc;
	copy = strata_malloc(len + 1);
	if (!copy)
		return oom();
	memcpy(copy, name, len + 1);
	t->found[t->n_found++] = (struct found){ .db = db, .store = store, .name = copy, .len = len };
	return 0;
}

/* Adds the measurements of store that regex matches (NULL: all of them). */
static int found_add_matching(struct targets *t, lsm_catalog *c, uint32_t db, uint32_t store, const char *regex)
{
	char **names = NULL;
	size_t n = 0;
	int rc = catalog_rc(query_measurements_matching(c, store, regex, &names, &n));

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = found_add(t, db, store, names[i]);
	lsm_catalog_free_names(names, n);
	return rc;
}

/*
 * Adds the measurement name, or those regex matches (both NULL: all), of
 * database (NULL: the request's), in the store of policy rp, or in every
 * store of the database when rp is NULL, as InfluxDB answers for the whole
 * database then. A name is looked up in each store; where it does not
 * exist the catalog answers nothing.
 */
static int source_add(query_stmt_ctx *ctx, struct targets *t, const char *database, const char *rp,
		      const char *name, const char *regex)
{
	uint32_t db, *stores = NULL;
	size_t n = 0;
	int rc = query_resolve_db(ctx, database, &db);

	if (rc == 0)
		rc = query_resolve_stores(ctx, db, rp, &stores, &n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (name)
			rc = found_add(t, db, stores[i], name);
		else
			rc = found_add_matching(t, ctx->e->catalog, db, stores[i], regex);
	}
	strata_free(stores);
	return rc;
}

static int found_qsort_cmp(const void *a, const void *b)
{
	const struct found *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (x->db != y->db)
		return x->db < y->db ? -1 : 1;
	return x->store < y->store ? -1 : x->store > y->store;
}

/*
 * The measurements of a SHOW statement's FROM (or all of its database),
 * sorted by name, each once per database, as InfluxDB answers them in
 * name order, with the stores each is read from.
 */
static int targets_collect(query_stmt_ctx *ctx, const struct query_show *sh, struct targets *t)
{
	int rc = 0;

	if (sh->n_sources == 0)
		rc = source_add(ctx, t, sh->database, NULL, NULL, NULL);
	for (uint32_t i = 0; rc == 0 && i < sh->n_sources; i++) {
		const struct query_measurement *src = &sh->sources[i];

		rc = source_add(ctx, t, src->database ? src->database : sh->database, src->retention_policy,
				src->name, src->regex);
	}
	if (rc || t->n_found == 0)
		return rc;
	qsort(t->found, t->n_found, sizeof(*t->found), found_qsort_cmp);
	t->stores = strata_malloc(t->n_found * sizeof(*t->stores));
	t->v = strata_malloc(t->n_found * sizeof(*t->v));
	if (!t->stores || !t->v)
		return oom();
	/* Sorted, the entries of one measurement of one database are adjacent, by store. */
	for (size_t i = 0, used = 0; i < t->n_found; i++) {
		const struct found *f = &t->found[i];
		struct target *last = t->n ? &t->v[t->n - 1] : NULL;

		if (last && last->db == f->db && strcmp(last->name, f->name) == 0) {
			if (last->stores[last->n_stores - 1] == f->store)
				continue; /* named twice in FROM */
		} else {
			last = &t->v[t->n++];
			*last = (struct target){ .db = f->db, .name = f->name, .len = f->len, .stores = t->stores + used };
		}
		t->stores[used++] = f->store;
		last->n_stores++;
	}
	return 0;
}

/*
 * The series of measurement m of store that cond may match. The
 * measurement's fields in that store tell field terms (which may match
 * any series) from tag terms. Free *out with query_series_set_free, also
 * after a failure.
 */
static int select_series(query_stmt_ctx *ctx, uint32_t store, const char *m, size_t m_len, const query_expr *cond,
			 query_series_set *out)
{
	lsm_catalog *c = ctx->e->catalog;
	lsm_field_info *fields = NULL;
	size_t n_fields = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = catalog_rc(lsm_catalog_fields(c, store, m, m_len, &fields, &n_fields));
	if (rc == 0)
		rc = catalog_rc(query_series_select(c, store, m, m_len, cond, fields, n_fields, 0, out));
	lsm_catalog_free_fields(fields, n_fields);
	return rc;
}

/* ---- what the rows of a series borrow until it is written ---- */

/*
 * The rows of one series may come from several stores: the catalog lists,
 * field lists and series sets their bytes point into are kept here until
 * the series is written.
 */
struct held {
	struct {
		char **names;
		size_t n;
	} *lists;
	size_t n_lists, cap_lists;
	struct {
		lsm_field_info *v;
		size_t n;
	} *fields;
	size_t n_fields, cap_fields;
	query_series_set *sets;
	size_t n_sets, cap_sets;
};

static void held_free(struct held *h)
{
	for (size_t i = 0; i < h->n_lists; i++)
		lsm_catalog_free_names(h->lists[i].names, h->lists[i].n);
	for (size_t i = 0; i < h->n_fields; i++)
		lsm_catalog_free_fields(h->fields[i].v, h->fields[i].n);
	for (size_t i = 0; i < h->n_sets; i++)
		query_series_set_free(&h->sets[i]);
	strata_free(h->lists);
	strata_free(h->fields);
	strata_free(h->sets);
}

/* Keeps a catalog name list (freed at once when it cannot be kept). */
static int held_names(struct held *h, char **names, size_t n)
{
	int rc = grow(&h->lists, &h->cap_lists, h->n_lists, sizeof(*h->lists));

	if (rc) {
		lsm_catalog_free_names(names, n);
		return rc;
	}
	h->lists[h->n_lists].names = names;
	h->lists[h->n_lists++].n = n;
	return 0;
}

/* Keeps a catalog field list (freed at once when it cannot be kept). */
static int held_fields(struct held *h, lsm_field_info *v, size_t n)
{
	int rc = grow(&h->fields, &h->cap_fields, h->n_fields, sizeof(*h->fields));

	if (rc) {
		lsm_catalog_free_fields(v, n);
		return rc;
	}
	h->fields[h->n_fields].v = v;
	h->fields[h->n_fields++].n = n;
	return 0;
}

/* The series of tg in store that cond may match, kept in h (*out valid until h grows). */
static int held_select(query_stmt_ctx *ctx, struct held *h, const struct target *tg, uint32_t store,
		       const query_expr *cond, const query_series_set **out)
{
	int rc = grow(&h->sets, &h->cap_sets, h->n_sets, sizeof(*h->sets));

	if (rc)
		return rc;
	*out = &h->sets[h->n_sets];
	/* Counted before it is filled: a set failed half-way is freed too. */
	return select_series(ctx, store, tg->name, tg->len, cond, &h->sets[h->n_sets++]);
}

static int str_add(struct str **v, size_t *n, size_t *cap, struct str s)
{
	int rc = grow(v, cap, *n, sizeof(**v));

	if (rc == 0)
		(*v)[(*n)++] = s;
	return rc;
}

/* ---- WITH KEY ---- */

struct key_filter {
	const struct query_show *sh;
	query_regex *re;
};

static int key_filter_init(struct key_filter *f, const struct query_show *sh)
{
	f->sh = sh;
	f->re = NULL;
	if (sh->key_regex)
		return catalog_rc(query_regex_compile(&f->re, sh->key_regex));
	return 0;
}

/* 1 when tag key k passes WITH KEY (or there is none), 0 when not, or a regex error. */
static int key_filter_match(struct key_filter *f, const struct str *k)
{
	const struct query_show *sh = f->sh;
	bool any = false;

	if (f->re) {
		int m = query_regex_match(f->re, k->p, k->len);

		if (m < 0)
			return m;
		return sh->key_op == QUERY_OP_NEQREGEX ? !m : m;
	}
	if (sh->n_keys == 0)
		return 1;
	for (uint32_t i = 0; !any && i < sh->n_keys; i++)
		any = str_eq(k, sh->keys[i]);
	return sh->key_op == QUERY_OP_NEQ ? !any : any;
}

/* Keeps the keys of v[0..*n) that pass f, in order. */
static int key_filter_apply(struct key_filter *f, struct str *v, size_t *n)
{
	size_t w = 0;

	for (size_t i = 0; i < *n; i++) {
		int m = key_filter_match(f, &v[i]);

		if (m < 0)
			return m;
		if (m)
			v[w++] = v[i];
	}
	*n = w;
	return 0;
}

/* ---- SHOW DATABASES, CREATE and DROP DATABASE ---- */

static int show_databases(query_stmt_ctx *ctx)
{
	char **names = NULL;
	size_t n = 0;
	uint64_t rows = 0;
	const char *cols[1] = { "name" };
	int rc = catalog_rc(lsm_catalog_databases(ctx->e->catalog, &names, &n));

	if (rc == 0)
		rc = count_rows(ctx, &rows, n);
	/* InfluxDB writes the series even without a database. */
	if (rc == 0)
		rc = query_output_begin_series(ctx->out, "databases", NULL, 0, cols, 1, false);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		query_value v = query_value_string(names[i], strlen(names[i]));

		rc = query_output_row(ctx->out, 0, &v, NULL, 1);
	}
	if (rc == 0)
		rc = query_output_end_series(ctx->out);
	lsm_catalog_free_names(names, n);
	return rc;
}

static int create_database_with(query_stmt_ctx *ctx, const struct query_database *d);

static int create_database(query_stmt_ctx *ctx, const struct query_database *d)
{
	if (d->with)
		return create_database_with(ctx, d);
	/* An existing database is no error, as in InfluxDB. */
	return catalog_rc(lsm_catalog_create_database(ctx->e->catalog, d->name));
}

static int drop_database(query_stmt_ctx *ctx, const struct query_database *d)
{
	/*
	 * The catalog forgets the database and its series; their points stay
	 * in the tables, unreachable (no query resolves their series ids),
	 * until retention drops their windows: compaction keeps the points of
	 * series the catalog does not know (lsm/retention.h), so that a damaged
	 * catalog never costs data. A database that does not exist is no
	 * error in InfluxDB 1.x.
	 */
	int rc = lsm_catalog_drop_database(ctx->e->catalog, d->name);

	if (rc == STRATA_ENOTFOUND) {
		strata_error_clear();
		return 0;
	}
	return catalog_rc(rc);
}

/* ---- SHOW MEASUREMENTS ---- */

/* Appends the measurements of store that pass WITH MEASUREMENT (re: its regex) and WHERE. */
static int measurements_of_store(query_stmt_ctx *ctx, const struct query_show *sh, query_regex *re, uint32_t store,
				 struct held *h, struct str **keep, size_t *n_keep, size_t *cap_keep)
{
	const struct query_measurement *wm = sh->with_measurement;
	char **names = NULL;
	size_t n = 0;
	int rc = catalog_rc(lsm_catalog_measurements(ctx->e->catalog, store, &names, &n));

	if (rc == 0)
		rc = held_names(h, names, n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct str m = { names[i], strlen(names[i]) };
		int match = 1;

		if (wm && wm->name)
			match = str_eq(&m, wm->name);
		else if (re)
			match = query_regex_match(re, m.p, m.len);
		if (match > 0 && sh->condition) {
			query_series_set set = { 0 };

			rc = query_check_deadline(ctx);
			if (rc == 0)
				rc = select_series(ctx, store, m.p, m.len, sh->condition, &set);
			match = rc == 0 && set.n > 0;
			query_series_set_free(&set);
		}
		if (match < 0)
			rc = match;
		else if (rc == 0 && match)
			rc = str_add(keep, n_keep, cap_keep, m);
	}
	return rc;
}

static int show_measurements(query_stmt_ctx *ctx, const struct query_show *sh)
{
	const struct query_measurement *wm = sh->with_measurement;
	query_regex *re = NULL;
	struct held h = { 0 };
	struct str *keep = NULL;
	size_t n_keep = 0, cap_keep = 0, n_stores = 0, start, count;
	uint32_t db, *stores = NULL;
	uint64_t rows = 0;
	int rc;

	rc = query_resolve_db(ctx, sh->database ? sh->database : wm ? wm->database : NULL, &db);
	if (rc == 0)
		rc = query_resolve_stores(ctx, db, wm ? wm->retention_policy : NULL, &stores, &n_stores);
	if (rc == 0 && wm && wm->regex)
		rc = catalog_rc(query_regex_compile(&re, wm->regex));
	for (size_t s = 0; rc == 0 && s < n_stores; s++)
		rc = measurements_of_store(ctx, sh, re, stores[s], &h, &keep, &n_keep, &cap_keep);
	if (rc == 0) {
		/* A measurement written under several policies is listed once. */
		n_keep = str_sort_unique(keep, n_keep);
		window(n_keep, sh->offset, sh->limit, &start, &count);
		rc = count_rows(ctx, &rows, count);
		if (rc == 0 && count)
			rc = write_strings(ctx->out, "measurements", "name", keep + start, count);
	}
	strata_free(keep);
	strata_free(stores);
	held_free(&h);
	query_regex_free(re);
	return rc;
}

/* ---- SHOW TAG KEYS ---- */

/* Appends the tag keys of the series of set (repeated as often as they occur). */
static int set_tag_keys(const query_series_set *set, struct str **v, size_t *n, size_t *cap)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < set->n; i++) {
		const lsm_series_parts *p = &set->v[i].parts;

		for (uint32_t j = 0; rc == 0 && j < p->n_tags; j++)
			rc = str_add(v, n, cap, (struct str){ p->tags[j].k, p->tags[j].k_len });
	}
	return rc;
}

/* Appends the tag keys of tg in store, from the catalog (the list kept in h). */
static int catalog_tag_keys(lsm_catalog *c, const struct target *tg, uint32_t store, struct held *h,
			    struct str **v, size_t *n, size_t *cap)
{
	char **names = NULL;
	size_t n_names = 0;
	int rc = catalog_rc(lsm_catalog_tag_keys(c, store, tg->name, tg->len, &names, &n_names));

	if (rc == 0)
		rc = held_names(h, names, n_names);
	for (size_t i = 0; rc == 0 && i < n_names; i++)
		rc = str_add(v, n, cap, (struct str){ names[i], strlen(names[i]) });
	return rc;
}

static int show_tag_keys_one(query_stmt_ctx *ctx, const struct query_show *sh, const struct target *tg,
			     struct key_filter *kf, uint64_t *rows)
{
	struct held h = { 0 };
	struct str *keys = NULL;
	size_t n = 0, cap = 0, start, count;
	int rc = 0;

	for (size_t s = 0; rc == 0 && s < tg->n_stores; s++) {
		const query_series_set *set = NULL;

		if (sh->condition) {
			rc = held_select(ctx, &h, tg, tg->stores[s], sh->condition, &set);
			if (rc == 0)
				rc = set_tag_keys(set, &keys, &n, &cap);
		} else {
			rc = catalog_tag_keys(ctx->e->catalog, tg, tg->stores[s], &h, &keys, &n, &cap);
		}
	}
	if (rc == 0) {
		n = str_sort_unique(keys, n);
		rc = key_filter_apply(kf, keys, &n);
	}
	if (rc == 0) {
		window(n, sh->offset, sh->limit, &start, &count);
		rc = count_rows(ctx, rows, count);
		if (rc == 0 && count)
			rc = write_strings(ctx->out, tg->name, "tagKey", keys + start, count);
	}
	strata_free(keys);
	held_free(&h);
	return rc;
}

/* ---- SHOW TAG VALUES ---- */

static int pair_add(struct pair **v, size_t *n, size_t *cap, struct str k, const char *val, size_t val_len)
{
	int rc = grow(v, cap, *n, sizeof(**v));

	if (rc == 0)
		(*v)[(*n)++] = (struct pair){ k, { val, val_len } };
	return rc;
}

/* Writes a series of two string columns. */
static int write_pairs(query_output *o, const char *name, const char *col_k, const char *col_v,
		       const struct pair *v, size_t n)
{
	const char *cols[2] = { col_k, col_v };
	int rc = query_output_begin_series(o, name, NULL, 0, cols, 2, false);

	for (size_t i = 0; rc == 0 && i < n; i++) {
		query_value vals[2] = {
			query_value_string(v[i].k.p, v[i].k.len),
			query_value_string(v[i].v.p, v[i].v.len),
		};

		rc = query_output_row(o, 0, vals, NULL, 2);
	}
	if (rc == 0)
		rc = query_output_end_series(o);
	return rc;
}

/* Appends the (key, value) rows of tg in store for the keys that pass kf. */
static int tag_values_of_store(query_stmt_ctx *ctx, const struct query_show *sh, const struct target *tg,
			       uint32_t store, struct key_filter *kf, struct held *h, struct pair **pairs,
			       size_t *n, size_t *cap)
{
	lsm_catalog *c = ctx->e->catalog;
	const query_series_set *set = NULL;
	struct str *keys = NULL;
	size_t n_keys = 0, cap_keys = 0;
	int rc;

	/* The keys first, from the catalog: WITH KEY is decided once per key. */
	rc = catalog_tag_keys(c, tg, store, h, &keys, &n_keys, &cap_keys);
	if (rc == 0)
		rc = key_filter_apply(kf, keys, &n_keys);
	if (rc == 0 && n_keys && sh->condition) {
		rc = held_select(ctx, h, tg, store, sh->condition, &set);
		for (size_t i = 0; rc == 0 && i < n_keys; i++) {
			for (size_t j = 0; rc == 0 && j < set->n; j++) {
				size_t v_len = 0;
				const char *v = query_series_tag(&set->v[j].parts, keys[i].p, keys[i].len, &v_len);

				if (v)
					rc = pair_add(pairs, n, cap, keys[i], v, v_len);
			}
		}
	} else {
		for (size_t i = 0; rc == 0 && i < n_keys; i++) {
			char **vals = NULL;
			size_t n_vals = 0;

			rc = catalog_rc(lsm_catalog_tag_values(c, store, tg->name, tg->len, keys[i].p, keys[i].len,
							       &vals, &n_vals));
			if (rc == 0)
				rc = held_names(h, vals, n_vals);
			for (size_t j = 0; rc == 0 && j < n_vals; j++)
				rc = pair_add(pairs, n, cap, keys[i], vals[j], strlen(vals[j]));
		}
	}
	strata_free(keys);
	return rc;
}

static int show_tag_values_one(query_stmt_ctx *ctx, const struct query_show *sh, const struct target *tg,
			       struct key_filter *kf, uint64_t *rows)
{
	struct held h = { 0 };
	struct pair *pairs = NULL;
	size_t n = 0, cap = 0, start, count;
	int rc = 0;

	for (size_t s = 0; rc == 0 && s < tg->n_stores; s++)
		rc = tag_values_of_store(ctx, sh, tg, tg->stores[s], kf, &h, &pairs, &n, &cap);
	if (rc == 0) {
		n = pair_sort_unique(pairs, n);
		window(n, sh->offset, sh->limit, &start, &count);
		rc = count_rows(ctx, rows, count);
		if (rc == 0 && count)
			rc = write_pairs(ctx->out, tg->name, "key", "value", pairs + start, count);
	}
	strata_free(pairs);
	held_free(&h);
	return rc;
}

/* ---- SHOW FIELD KEYS ---- */

static int show_field_keys_one(query_stmt_ctx *ctx, const struct query_show *sh, const struct target *tg,
			       uint64_t *rows)
{
	struct held h = { 0 };
	struct pair *v = NULL;
	size_t n = 0, cap = 0, start, count;
	int rc = 0;

	for (size_t s = 0; rc == 0 && s < tg->n_stores; s++) {
		lsm_field_info *fields = NULL;
		size_t n_fields = 0;

		rc = catalog_rc(lsm_catalog_fields(ctx->e->catalog, tg->stores[s], tg->name, tg->len, &fields,
						   &n_fields));
		if (rc == 0)
			rc = held_fields(&h, fields, n_fields);
		for (size_t i = 0; rc == 0 && i < n_fields; i++) {
			const char *type = lsm_field_type_name(fields[i].type);

			rc = pair_add(&v, &n, &cap, (struct str){ fields[i].name, strlen(fields[i].name) }, type,
				      strlen(type));
		}
	}
	if (rc == 0) {
		/* A field of another type under another policy is a row of its own, as in InfluxDB. */
		n = pair_sort_unique(v, n);
		window(n, sh->offset, sh->limit, &start, &count);
		rc = count_rows(ctx, rows, count);
		if (rc == 0 && count)
			rc = write_pairs(ctx->out, tg->name, "fieldKey", "fieldType", v + start, count);
	}
	strata_free(v);
	held_free(&h);
	return rc;
}

/* ---- SHOW SERIES ---- */

struct key_list {
	struct str *v; /* each p strata_malloc'ed */
	size_t n, cap;
};

static void key_list_free(struct key_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		strata_free((char *)l->v[i].p);
	strata_free(l->v);
}

/* Appends the canonical keys of ids[0..n) to l. */
static int add_series_keys(query_stmt_ctx *ctx, struct key_list *l, char *buf, size_t cap,
			   const uint64_t *ids, const query_series *series, size_t n)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		uint64_t id = ids ? ids[i] : series[i].id;
		long len;
		char *copy;

		if (i % DEADLINE_EVERY == DEADLINE_EVERY - 1) {
			rc = query_check_deadline(ctx);
			if (rc)
				break;
		}
		len = lsm_catalog_series_key(ctx->e->catalog, id, buf, cap);
		if (len == STRATA_ENOTFOUND) {
			/* Its database was dropped since the ids were read. */
			strata_error_clear();
			continue;
		}
		if (len < 0) {
			rc = catalog_rc((int)len);
			break;
		}
		rc = grow(&l->v, &l->cap, l->n, sizeof(*l->v));
		if (rc)
			break;
		copy = strata_malloc((size_t)len + 1);
		if (!copy) {
			rc = oom();
			break;
		}
		memcpy(copy, buf, (size_t)len);
		copy[len] = 0;
		l->v[l->n++] = (struct str){ copy, (size_t)len };
	}
	return rc;
}

/* Appends the keys of the series of tg in store that WHERE may match. */
static int series_keys_of_store(query_stmt_ctx *ctx, const struct query_show *sh, const struct target *tg,
				uint32_t store, struct key_list *keys, char *buf, size_t cap)
{
	int rc = query_check_deadline(ctx);

	if (rc)
		return rc;
	if (sh->condition) {
		query_series_set set = { 0 };

		rc = select_series(ctx, store, tg->name, tg->len, sh->condition, &set);
		if (rc == 0)
			rc = add_series_keys(ctx, keys, buf, cap, NULL, set.v, set.n);
		query_series_set_free(&set);
	} else {
		uint64_t *ids = NULL;
		size_t n = 0;

		rc = catalog_rc(lsm_catalog_measurement_series(ctx->e->catalog, store, tg->name, tg->len, &ids, &n));
		if (rc == 0)
			rc = add_series_keys(ctx, keys, buf, cap, ids, NULL, n);
		strata_free(ids);
	}
	return rc;
}

static int show_series(query_stmt_ctx *ctx, const struct query_show *sh)
{
	struct targets tg = { 0 };
	struct key_list keys = { 0 };
	size_t cap = LSM_CATALOG_KEY_MAX + 1, start, count;
	uint64_t rows = 0;
	char *buf = strata_malloc(cap);
	int rc = buf ? 0 : oom();

	if (rc == 0)
		rc = targets_collect(ctx, sh, &tg);
	for (size_t i = 0; rc == 0 && i < tg.n; i++) {
		const struct target *t = &tg.v[i];

		for (size_t s = 0; rc == 0 && s < t->n_stores; s++)
			rc = series_keys_of_store(ctx, sh, t, t->stores[s], &keys, buf, cap);
	}
	if (rc == 0) {
		/* Keys are unique per store; two stores (policies or databases) may share one, shown once. */
		size_t n = keys.n;

		if (n > 1)
			qsort(keys.v, n, sizeof(*keys.v), str_qsort_cmp);
		keys.n = 0;
		for (size_t i = 0; i < n; i++) {
			if (keys.n && str_cmp(&keys.v[keys.n - 1], &keys.v[i]) == 0)
				strata_free((char *)keys.v[i].p);
			else
				keys.v[keys.n++] = keys.v[i];
		}
		window(keys.n, sh->offset, sh->limit, &start, &count);
		rc = count_rows(ctx, &rows, count);
		if (rc == 0 && count)
			rc = write_strings(ctx->out, "", "key", keys.v + start, count);
	}
	key_list_free(&keys);
	targets_free(&tg);
	strata_free(buf);
	return rc;
}

/* ---- SHOW TAG KEYS, TAG VALUES, FIELD KEYS: one series per measurement ---- */

static int show_per_measurement(query_stmt_ctx *ctx, const struct query_stmt *s)
{
	const struct query_show *sh = &s->show;
	struct targets tg = { 0 };
	struct key_filter kf;
	uint64_t rows = 0;
	int rc = key_filter_init(&kf, sh);

	if (rc == 0)
		rc = targets_collect(ctx, sh, &tg);
	for (size_t i = 0; rc == 0 && i < tg.n; i++) {
		rc = query_check_deadline(ctx);
		if (rc)
			break;
		if (s->kind == QUERY_STMT_SHOW_TAG_KEYS)
			rc = show_tag_keys_one(ctx, sh, &tg.v[i], &kf, &rows);
		else if (s->kind == QUERY_STMT_SHOW_TAG_VALUES)
			rc = show_tag_values_one(ctx, sh, &tg.v[i], &kf, &rows);
		else
			rc = show_field_keys_one(ctx, sh, &tg.v[i], &rows);
	}
	targets_free(&tg);
	query_regex_free(kf.re);
	return rc;
}

/* ---- SHOW RETENTION POLICIES ---- */

/* Appends u as decimal digits to buf at *w. */
static void put_uint(char *buf, size_t *w, uint64_t u)
{
	char tmp[24];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	while (n)
		buf[(*w)++] = tmp[--n];
}

/* Appends the fraction of u (prec digits) with trailing zeros dropped, and its '.'. */
static void put_frac(char *buf, size_t *w, uint64_t frac, int prec)
{
	char tmp[12];
	int n = prec;

	while (n > 0 && frac % 10 == 0) {
		frac /= 10;
		n--;
	}
	if (n == 0)
		return;
	for (int i = n - 1; i >= 0; i--) {
		tmp[i] = (char)('0' + frac % 10);
		frac /= 10;
	}
	buf[(*w)++] = '.';
	memcpy(buf + *w, tmp, (size_t)n);
	*w += (size_t)n;
}

/*
 * A duration as Go's time.Duration.String() writes it, which is how
 * InfluxDB shows policy durations: 0s, 1.5s, 168h0m0s, 1m30s, 250ms, 2µs.
 * buf holds at least 40 bytes.
 */
static const char *go_duration(char *buf, int64_t ns)
{
	uint64_t u = ns < 0 ? -(uint64_t)ns : (uint64_t)ns;
	size_t w = 0;

	if (ns < 0)
		buf[w++] = '-';
	if (u == 0) {
		memcpy(buf + w, "0s", 3);
		return buf;
	}
	if (u < 1000) {
		put_uint(buf, &w, u);
		memcpy(buf + w, "ns", 3);
	} else if (u < 1000000) {
		put_uint(buf, &w, u / 1000);
		put_frac(buf, &w, u % 1000, 3);
		memcpy(buf + w, "\xc2\xb5s", 4); /* µs */
	} else if (u < 1000000000) {
		put_uint(buf, &w, u / 1000000);
		put_frac(buf, &w, u % 1000000, 6);
		memcpy(buf + w, "ms", 3);
	} else {
		uint64_t s = u / 1000000000, m = s / 60, h = m / 60;

		if (h) {
			put_uint(buf, &w, h);
			buf[w++] = 'h';
		}
		if (m) {
			put_uint(buf, &w, m % 60);
			buf[w++] = 'm';
		}
		put_uint(buf, &w, s % 60);
		put_frac(buf, &w, u % 1000000000, 9);
		memcpy(buf + w, "s", 2);
	}
	return buf;
}

/* ---- retention policies ---- */

/*
 * The shard duration InfluxDB 1.x gives a policy of duration_ns when none
 * is written (meta.shardGroupDuration): an hour below two days, a day
 * below 180 days, a week beyond and forever.
 */
static int64_t default_shard_ns(int64_t duration_ns)
{
	if (duration_ns == 0 || duration_ns >= 180 * 24 * HOUR_NS)
		return 7 * 24 * HOUR_NS;
	if (duration_ns >= 2 * 24 * HOUR_NS)
		return 24 * HOUR_NS;
	return HOUR_NS;
}

/* The window length of rp's points: its shard duration, or the engine's window for one recorded as 0. */
static int64_t rp_shard_ns(query_stmt_ctx *ctx, const lsm_catalog_rp *rp)
{
	return rp->shard_duration_ns > 0 ? rp->shard_duration_ns : lsm_db_window_ns(ctx->e->db);
}

/*
 * Checks the options of a policy and fills in rp (name set by the caller;
 * an ALTER's rp holds the policy as it is). The shard duration is the
 * length of the time windows its points are stored in
 * (docs/retention.md): a new policy without SHARD DURATION (or with 0)
 * gets InfluxDB's default for its duration; an ALTER keeps the policy's
 * unless it writes one, and applies to points flushed from then on.
 */
static int rp_from_options(query_stmt_ctx *ctx, const struct query_rp_options *o, lsm_catalog_rp *rp, bool creating)
{
	/*
	 * Policies created before shard durations counted recorded the engine's
	 * day whatever their duration: one already shorter than its shard
	 * duration is not held to the rule below until a SHARD DURATION is written.
	 */
	bool was_legacy = rp->shard_duration_ns != 0 && rp->duration_ns != 0 && rp->duration_ns < rp->shard_duration_ns;
	char a[40], b[40];

	if (o->has_duration)
		rp->duration_ns = o->duration_ns;
	if (o->has_replication)
		rp->replica_n = (uint32_t)o->replication;
	if (rp->duration_ns != 0 && rp->duration_ns < RP_MIN_DURATION_NS)
		return strata_error(STRATA_EINVAL, "retention policy duration must be at least %s",
				    go_duration(a, RP_MIN_DURATION_NS));
	if (o->has_replication && o->replication < 1)
		return strata_error(STRATA_EINVAL, "replication factor must be greater than 0");
	if (o->has_shard_duration && o->shard_duration_ns != 0) {
		if (o->shard_duration_ns < RP_MIN_SHARD_NS)
			return strata_error(STRATA_EINVAL, "shard duration must be at least %s, got %s",
					    go_duration(a, RP_MIN_SHARD_NS), go_duration(b, o->shard_duration_ns));
		if (o->shard_duration_ns > RP_MAX_SHARD_NS)
			return strata_error(STRATA_EINVAL, "shard duration must be at most %s, got %s",
					    go_duration(a, RP_MAX_SHARD_NS), go_duration(b, o->shard_duration_ns));
		rp->shard_duration_ns = o->shard_duration_ns;
	} else if (creating || o->has_shard_duration) {
		rp->shard_duration_ns = default_shard_ns(rp->duration_ns);
	}
	/* InfluxDB's rule; a policy recorded without one (0) keeps the engine's window whatever its duration. */
	if (rp->shard_duration_ns != 0 && rp->duration_ns != 0 && rp->duration_ns < rp->shard_duration_ns &&
	    (!was_legacy || o->has_shard_duration))
		return strata_error(STRATA_EINVAL, "retention policy duration must be greater than the shard duration");
	if (o->is_default)
		rp->is_default = true;
	return 0;
}

static int rp_name(lsm_catalog_rp *rp, const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > LSM_CATALOG_NAME_MAX)
		return strata_error(STRATA_EINVAL, "retention policy name must be 1 to %d bytes", LSM_CATALOG_NAME_MAX);
	memcpy(rp->name, name, len + 1);
	return 0;
}

static int create_database_with(query_stmt_ctx *ctx, const struct query_database *d)
{
	lsm_catalog_rp rp = { .replica_n = 1, .is_default = true };
	lsm_catalog *c = ctx->e->catalog;
	lsm_catalog_rp have;
	uint32_t db;
	int rc = rp_name(&rp, d->rp.name ? d->rp.name : LSM_CATALOG_AUTOGEN);

	if (rc == 0)
		rc = rp_from_options(ctx, &d->rp, &rp, true);
	if (rc)
		return rc;
	/* An existing database is no error when its default policy is the one asked for (InfluxDB). */
	if (lsm_catalog_database_id(c, d->name, &db) == 0) {
		if (lsm_catalog_rp_get(c, db, rp.name, &have) != 0 || !have.is_default ||
		    have.duration_ns != rp.duration_ns || have.replica_n != rp.replica_n)
			return strata_error(STRATA_EINVAL, "retention policy conflicts with an existing policy");
		return 0;
	}
	rc = catalog_rc(lsm_catalog_create_database(c, d->name));
	if (rc == 0)
		rc = catalog_rc(lsm_catalog_database_id(c, d->name, &db));
	if (rc == 0)
		rc = catalog_rc(lsm_catalog_set_rp(c, db, &rp, LSM_CATALOG_RP_INITIAL));
	return rc;
}

static int create_rp(query_stmt_ctx *ctx, const struct query_retention_policy *q)
{
	lsm_catalog_rp rp = { .replica_n = 1 };
	uint32_t db;
	int rc = query_resolve_db(ctx, q->database, &db);

	if (rc == 0)
		rc = rp_name(&rp, q->name);
	if (rc == 0)
		rc = rp_from_options(ctx, &q->opts, &rp, true);
	if (rc == 0)
		rc = catalog_rc(lsm_catalog_set_rp(ctx->e->catalog, db, &rp, LSM_CATALOG_RP_CREATE));
	return rc;
}

static int alter_rp(query_stmt_ctx *ctx, const struct query_retention_policy *q)
{
	lsm_catalog_rp rp;
	uint32_t db;
	int rc = query_resolve_db(ctx, q->database, &db);

	/* Options not written keep their values; DEFAULT only ever makes a policy the default. */
	if (rc == 0)
		rc = catalog_rc(lsm_catalog_rp_get(ctx->e->catalog, db, q->name, &rp));
	if (rc == 0)
		rc = rp_from_options(ctx, &q->opts, &rp, false);
	if (rc == 0)
		rc = catalog_rc(lsm_catalog_set_rp(ctx->e->catalog, db, &rp, LSM_CATALOG_RP_ALTER));
	return rc;
}

static int drop_rp(query_stmt_ctx *ctx, const struct query_retention_policy *q)
{
	uint32_t db;
	int rc = query_resolve_db(ctx, q->database, &db);

	if (rc == 0)
		rc = lsm_catalog_rp_get(ctx->e->catalog, db, q->name, &(lsm_catalog_rp){ 0 });
	/* A policy that does not exist is no error, as in InfluxDB 1.x. */
	if (rc == STRATA_ENOTFOUND) {
		strata_error_clear();
		return 0;
	}
	if (rc == 0)
		rc = lsm_catalog_drop_rp(ctx->e->catalog, db, q->name);
	if (rc == STRATA_ENOTFOUND) { /* dropped meanwhile */
		strata_error_clear();
		return 0;
	}
	return catalog_rc(rc);
}

/*
 * One row per policy, in creation order. shardGroupDuration is the length
 * of the windows its points are stored in: its own, or the engine's for a
 * policy recorded without one (docs/retention.md).
 */
static int show_retention_policies(query_stmt_ctx *ctx, const struct query_retention_policy *q)
{
	const char *cols[5] = { "name", "duration", "shardGroupDuration", "replicaN", "default" };
	char dur[40], sgd[40];
	lsm_catalog_rp *rps = NULL;
	size_t n = 0;
	uint64_t rows = 0;
	uint32_t db;
	int rc = query_resolve_db(ctx, q->database, &db);

	if (rc == 0)
		rc = catalog_rc(lsm_catalog_rps(ctx->e->catalog, db, &rps, &n));
	if (rc == 0)
		rc = count_rows(ctx, &rows, n);
	/* InfluxDB writes the series even without a policy. */
	if (rc == 0)
		rc = query_output_begin_series(ctx->out, "", NULL, 0, cols, 5, false);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const char *d = go_duration(dur, rps[i].duration_ns);
		const char *g = go_duration(sgd, rp_shard_ns(ctx, &rps[i]));
		query_value vals[5] = {
			query_value_string(rps[i].name, strlen(rps[i].name)),
			query_value_string(d, strlen(d)),
			query_value_string(g, strlen(g)),
			query_value_integer(rps[i].replica_n),
			query_value_boolean(rps[i].is_default),
		};

		rc = query_output_row(ctx->out, 0, vals, NULL, 5);
	}
	if (rc == 0)
		rc = query_output_end_series(ctx->out);
	strata_free(rps);
	return rc;
}

int query_meta_run(query_stmt_ctx *ctx, const struct query_stmt *s)
{
	switch (s->kind) {
	case QUERY_STMT_SHOW_DATABASES:
		return show_databases(ctx);
	case QUERY_STMT_CREATE_DATABASE:
		return create_database(ctx, &s->database);
	case QUERY_STMT_DROP_DATABASE:
		return drop_database(ctx, &s->database);
	case QUERY_STMT_SHOW_MEASUREMENTS:
		return show_measurements(ctx, &s->show);
	case QUERY_STMT_SHOW_TAG_KEYS:
	case QUERY_STMT_SHOW_TAG_VALUES:
	case QUERY_STMT_SHOW_FIELD_KEYS:
		return show_per_measurement(ctx, s);
	case QUERY_STMT_SHOW_SERIES:
		return show_series(ctx, &s->show);
	case QUERY_STMT_SHOW_RETENTION_POLICIES:
		return show_retention_policies(ctx, &s->rp);
	case QUERY_STMT_DROP_SERIES:
	case QUERY_STMT_DELETE:
	case QUERY_STMT_DROP_MEASUREMENT:
		return query_delete_run(ctx, s);
	case QUERY_STMT_CREATE_RETENTION_POLICY:
		return create_rp(ctx, &s->rp);
	case QUERY_STMT_ALTER_RETENTION_POLICY:
		return alter_rp(ctx, &s->rp);
	case QUERY_STMT_DROP_RETENTION_POLICY:
		return drop_rp(ctx, &s->rp);
	case QUERY_STMT_CREATE_CONTINUOUS_QUERY:
	case QUERY_STMT_SHOW_CONTINUOUS_QUERIES:
	case QUERY_STMT_DROP_CONTINUOUS_QUERY:
		return query_cq_statement(ctx, s);
	case QUERY_STMT_SELECT:
		break;
	}
	return strata_error(STRATA_EINVAL, "%s is not a statement of the catalog", query_stmt_kind_str(s->kind));
}
