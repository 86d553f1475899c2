/*
 * series_set.c — series selection from the catalog's postings
 * (series_set.h).
 *
 * Two passes. The first turns the condition into a set of series ids with
 * the postings alone (intersections, unions, complements of sorted id
 * lists); terms it cannot decide from postings give the measurement's whole
 * set. The second takes each candidate's tags apart and evaluates the
 * condition in three values (true, false, maybe: a field or time term), so
 * what remains is exactly the series that may contribute a point.
 */
#include "query/series_set.h"
#include "lsm/alloc.h"
#include "lsm/status.h"
#include "query/regex.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A sorted list of series ids; all: the measurement's whole set. */
struct idset {
	uint64_t *v;
	size_t n;
	bool all;
};

struct sel {
	lsm_catalog *c;
	uint32_t db;
	const char *m;
	size_t m_len;
	const lsm_field_info *fields;
	size_t n_fields;
	query_regex_cache regexes;
	uint64_t *every; /* the measurement's series */
	size_t n_every;
};

enum { T_FALSE, T_TRUE, T_MAYBE };

static int cmp_name(const void *key, const void *elem)
{
	return strcmp(key, ((const lsm_field_info *)elem)->name);
}

enum query_ref_kind query_ref_kind(const query_expr *ref, const lsm_field_info *fields, size_t n_fields,
				   const lsm_field_info **field)
{
	const lsm_field_info *f = NULL;

	if (field)
		*field = NULL;
	if (ref->ref.type == QUERY_TYPE_TAG)
		return QUERY_REF_TAG;
	if (strcmp(ref->ref.name, "time") == 0 && ref->ref.type == QUERY_TYPE_NONE)
		return QUERY_REF_TIME;
	if (n_fields)
		f = bsearch(ref->ref.name, fields, n_fields, sizeof(*fields), cmp_name);
	if (f) {
		if (field)
			*field = f;
		return QUERY_REF_FIELD;
	}
	/* A name cast to a field type that the measurement lacks is a missing field, never a tag. */
	if (ref->ref.type != QUERY_TYPE_NONE)
		return QUERY_REF_FIELD;
	return QUERY_REF_TAG;
}

const char *query_series_tag(const lsm_series_parts *parts, const char *key, size_t key_len, size_t *v_len)
{
	size_t lo = 0, hi = parts->n_tags;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const lsm_series_tag *t = &parts->tags[mid];
		size_t n = t->k_len < key_len ? t->k_len : key_len;
		int r = n ? memcmp(t->k, key, n) : 0;

		if (r == 0)
			r = t->k_len < key_len ? -1 : t->k_len > key_len;
		if (r == 0) {
			*v_len = t->v_len;
			return t->v;
		}
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*v_len = 0;
	return NULL;
}

/* ---- sorted id lists ---- */

static void idset_free(struct idset *s)
{
	strata_free(s->v);
	s->v = NULL;
	s->n = 0;
}

static int idset_and(struct idset *a, struct idset *b, struct idset *out)
{
	size_t i = 0, j = 0, n = 0;

	if (a->all || b->all) {
		*out = a->all ? *b : *a;
		if (a->all)
			idset_free(a);
		else
			idset_free(b);
		return 0;
	}
	out->all = false;
	out->v = a->v; /* the intersection fits in a's array */
	while (i < a->n && j < b->n) {
		if (a->v[i] < b->v[j])
			i++;
		else if (a->v[i] > b->v[j])
			j++;
		else {
			out->v[n++] = a->v[i];
			i++;
			j++;
		}
	}
	out->n = n;
	idset_free(b);
	return 0;
}

static int idset_or(struct idset *a, struct idset *b, struct idset *out)
{
	size_t i = 0, j = 0, n = 0;
	uint64_t *v;

	if (a->all || b->all) {
		idset_free(a);
		idset_free(b);
		*out = (struct idset){ .all = true };
		return 0;
	}
	v = strata_malloc((a->n + b->n + 1) * sizeof(*v));
	if (!v) {
		idset_free(a);
		idset_free(b);
		return -ENOMEM;
	}
	while (i < a->n || j < b->n) {
		if (j == b->n || (i < a->n && a->v[i] < b->v[j]))
			v[n++] = a->v[i++];
		else if (i == a->n || b->v[j] < a->v[i])
			v[n++] = b->v[j++];
		else {
			v[n++] = a->v[i++];
			j++;
		}
	}
	idset_free(a);
	idset_free(b);
	*out = (struct idset){ .v = v, .n = n };
	return 0;
}

/* The measurement's series not in s. */
static int idset_complement(struct sel *x, struct idset *s)
{
	size_t i = 0, j = 0, n = 0;
	uint64_t *v;

	if (s->all) {
		*s = (struct idset){ 0 };
		return 0;
	}
	v = strata_malloc((x->n_every + 1) * sizeof(*v));
	if (!v) {
		idset_free(s);
		return -ENOMEM;
	}
	for (; i < x->n_every; i++) {
		while (j < s->n && s->v[j] < x->every[i])
			j++;
		if (j < s->n && s->v[j] == x->every[i])
			continue;
		v[n++] = x->every[i];
	}
	idset_free(s);
	*s = (struct idset){ .v = v, .n = n };
	return 0;
}

/* ---- pass one: postings ---- */

static const query_expr *unparen(const query_expr *e)
{
	while (e->kind == QUERY_EXPR_PAREN)
		e = e->paren;
	return e;
}

/* The tag of a `tag op literal` comparison (either side), or NULL. */
static const query_expr *tag_side(struct sel *x, const query_expr *e, const query_expr **other)
{
	const query_expr *l = unparen(e->binary.lhs), *r = unparen(e->binary.rhs);

	if (l->kind == QUERY_EXPR_VARREF &&
	    query_ref_kind(l, x->fields, x->n_fields, NULL) == QUERY_REF_TAG &&
	    (r->kind == QUERY_EXPR_STRING || r->kind == QUERY_EXPR_REGEX)) {
		*other = r;
		return l;
	}
	if (r->kind == QUERY_EXPR_VARREF &&
	    query_ref_kind(r, x->fields, x->n_fields, NULL) == QUERY_REF_TAG &&
	    (l->kind == QUERY_EXPR_STRING || l->kind == QUERY_EXPR_REGEX)) {
		*other = l;
		return r;
	}
	return NULL;
}

/* Series holding tag key with a value that matches re (or equals str). */
static int postings_matching(struct sel *x, const char *key, const query_expr *lit, struct idset *out)
{
	size_t klen = strlen(key);
	query_regex *re = NULL;
	char **values = NULL;
	size_t n_values = 0;
	int rc;

	*out = (struct idset){ 0 };
	if (lit->kind == QUERY_EXPR_STRING)
		return lsm_catalog_tag_series(x->c, x->db, x->m, x->m_len, key, klen, lit->str,
					      strlen(lit->str), &out->v, &out->n);
	rc = query_regex_cache_get(&x->regexes, lit, lit->regex, &re);
	if (rc)
		return rc;
	rc = lsm_catalog_tag_values(x->c, x->db, x->m, x->m_len, key, klen, &values, &n_values);
	for (size_t i = 0; rc == 0 && i < n_values; i++) {
		struct idset one = { 0 };

		rc = query_regex_match(re, values[i], strlen(values[i]));
		if (rc <= 0)
			continue;
		rc = lsm_catalog_tag_series(x->c, x->db, x->m, x->m_len, key, klen, values[i],
					    strlen(values[i]), &one.v, &one.n);
		if (rc == 0)
			rc = idset_or(out, &one, out);
	}
	lsm_catalog_free_names(values, n_values);
	if (rc)
		idset_free(out);
	return rc;
}

/* True when the empty string satisfies the comparison (a series without the tag). */
static int empty_matches(struct sel *x, const query_expr *lit)
{
	query_regex *re;
	int rc;

	if (lit->kind == QUERY_EXPR_STRING)
		return lit->str[0] == '\0';
	rc = query_regex_cache_get(&x->regexes, lit, lit->regex, &re);
	return rc ? rc : query_regex_match(re, "", 0);
}

static int candidates(struct sel *x, const query_expr *e, struct idset *out)
{
	const query_expr *tag, *lit;
	struct idset a, b;
	int rc;

	*out = (struct idset){ .all = true };
	e = unparen(e);
	if (e->kind != QUERY_EXPR_BINARY)
		return 0;
	switch (e->binary.op) {
	case QUERY_OP_AND:
	case QUERY_OP_OR:
		rc = candidates(x, e->binary.lhs, &a);
		if (rc)
			return rc;
		rc = candidates(x, e->binary.rhs, &b);
		if (rc) {
			idset_free(&a);
			return rc;
		}
		return e->binary.op == QUERY_OP_AND ? idset_and(&a, &b, out) : idset_or(&a, &b, out);
	case QUERY_OP_EQ:
	case QUERY_OP_NEQ:
	case QUERY_OP_EQREGEX:
	case QUERY_OP_NEQREGEX:
		tag = tag_side(x, e, &lit);
		if (!tag || (lit->kind == QUERY_EXPR_REGEX) != (e->binary.op == QUERY_OP_EQREGEX ||
								e->binary.op == QUERY_OP_NEQREGEX))
			return 0;
		rc = empty_matches(x, lit);
		if (rc < 0)
			return rc;
		if (rc == 1)
			return 0; /* series without the tag match too: decided in pass two */
		rc = postings_matching(x, tag->ref.name, lit, out);
		if (rc)
			return rc;
		if (e->binary.op == QUERY_OP_NEQ || e->binary.op == QUERY_OP_NEQREGEX)
			return idset_complement(x, out);
		return 0;
	default:
		return 0;
	}
}

/* ---- pass two: each candidate's tags ---- */

static int tag_cmp_value(struct sel *x, const lsm_series_parts *p, const query_expr *e)
{
	const query_expr *tag, *lit;
	const char *v;
	size_t v_len;
	bool eq;
	int rc;

	tag = tag_side(x, e, &lit);
	if (!tag)
		return T_MAYBE;
	v = query_series_tag(p, tag->ref.name, strlen(tag->ref.name), &v_len);
	if (!v)
		v = "";
	switch (e->binary.op) {
	case QUERY_OP_EQ:
	case QUERY_OP_NEQ:
		if (lit->kind != QUERY_EXPR_STRING)
			return T_MAYBE;
		eq = strlen(lit->str) == v_len && memcmp(lit->str, v, v_len) == 0;
		return (e->binary.op == QUERY_OP_EQ) == eq ? T_TRUE : T_FALSE;
	case QUERY_OP_EQREGEX:
	case QUERY_OP_NEQREGEX: {
		query_regex *re;

		if (lit->kind != QUERY_EXPR_REGEX)
			return T_MAYBE;
		rc = query_regex_cache_get(&x->regexes, lit, lit->regex, &re);
		if (rc == 0)
			rc = query_regex_match(re, v, v_len);
		if (rc < 0)
			return rc;
		return (e->binary.op == QUERY_OP_EQREGEX) == (rc == 1) ? T_TRUE : T_FALSE;
	}
	default:
		return T_MAYBE;
	}
}

static int eval3(struct sel *x, const lsm_series_parts *p, const query_expr *e)
{
	int a, b;

	e = unparen(e);
	if (e->kind == QUERY_EXPR_BOOLEAN)
		return e->b ? T_TRUE : T_FALSE;
	if (e->kind != QUERY_EXPR_BINARY)
		return T_MAYBE;
	if (e->binary.op == QUERY_OP_AND || e->binary.op == QUERY_OP_OR) {
		a = eval3(x, p, e->binary.lhs);
		if (a < 0)
			return a;
		if (e->binary.op == QUERY_OP_AND && a == T_FALSE)
			return T_FALSE;
		if (e->binary.op == QUERY_OP_OR && a == T_TRUE)
			return T_TRUE;
		b = eval3(x, p, e->binary.rhs);
		if (b < 0)
			return b;
		if (a == T_MAYBE || b == T_MAYBE)
			return e->binary.op == QUERY_OP_AND ? (b == T_FALSE ? T_FALSE : T_MAYBE)
							    : (b == T_TRUE ? T_TRUE : T_MAYBE);
		return b;
	}
	return tag_cmp_value(x, p, e);
}

static int cmp_series(const void *pa, const void *pb)
{
	const lsm_series_parts *a = &((const query_series *)pa)->parts;
	const lsm_series_parts *b = &((const query_series *)pb)->parts;

	for (uint32_t i = 0; i < a->n_tags && i < b->n_tags; i++) {
		const lsm_series_tag *ta = &a->tags[i], *tb = &b->tags[i];
		int r = lsm_series_tag_cmp(ta, tb);
		size_t n;

		if (r)
			return r;
		n = ta->v_len < tb->v_len ? ta->v_len : tb->v_len;
		r = n ? memcmp(ta->v, tb->v, n) : 0;
		if (r)
			return r;
		if (ta->v_len != tb->v_len)
			return ta->v_len < tb->v_len ? -1 : 1;
	}
	return a->n_tags < b->n_tags ? -1 : a->n_tags > b->n_tags;
}

/* Takes the canonical key of series id apart into the set's arena. */
static int load_series(struct sel *x, query_series_set *out, uint64_t id, char *buf, size_t cap,
		       query_series *s)
{
	long len = lsm_catalog_series_key(x->c, id, buf, cap);
	size_t max_tags;
	char *unesc;
	lsm_series_tag *tags;

	if (len < 0)
		return (int)len;
	max_tags = lsm_series_key_max_tags(buf, (size_t)len);
	unesc = query_arena_alloc(&out->arena, (size_t)len + 1);
	tags = query_arena_alloc(&out->arena, (max_tags + 1) * sizeof(*tags));
	if (!unesc || !tags)
		return -ENOMEM;
	s->id = id;
	return lsm_series_key_parse(buf, (size_t)len, unesc, tags, &s->parts);
}

int query_series_select(lsm_catalog *c, uint32_t db, const char *m, size_t m_len, const query_expr *cond,
			const lsm_field_info *fields, size_t n_fields, uint64_t max_series,
			query_series_set *out)
{
	struct sel x = { .c = c, .db = db, .m = m, .m_len = m_len, .fields = fields, .n_fields = n_fields };
	struct idset cand = { .all = true };
	const uint64_t *ids;
	size_t n_ids;
	char *keybuf = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	query_arena_init(&out->arena, 0);
	rc = lsm_catalog_measurement_series(c, db, m, m_len, &x.every, &x.n_every);
	if (rc)
		goto done;
	if (cond) {
		rc = candidates(&x, cond, &cand);
		if (rc)
			goto done;
	}
	ids = cand.all ? x.every : cand.v;
	n_ids = cand.all ? x.n_every : cand.n;
	out->v = strata_malloc((n_ids + 1) * sizeof(*out->v));
	keybuf = strata_malloc(LSM_CATALOG_KEY_MAX + 1);
	if (!out->v || !keybuf) {
		rc = -ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < n_ids; i++) {
		query_series *s = &out->v[out->n];

		rc = load_series(&x, out, ids[i], keybuf, LSM_CATALOG_KEY_MAX + 1, s);
		if (rc == STRATA_ENOTFOUND) {
			rc = 0; /* dropped since the postings were read */
			continue;
		}
		if (rc)
			goto done;
		if (cond) {
			rc = eval3(&x, &s->parts, cond);
			if (rc < 0)
				goto done;
			if (rc == T_FALSE) {
				rc = 0;
				continue;
			}
			rc = 0;
		}
		if (max_series && out->n >= max_series) {
			rc = strata_error(STRATA_ETOOBIG,
					  "max-select-series limit exceeded: more than %llu series selected",
					  (unsigned long long)max_series);
			goto done;
		}
		out->n++;
	}
	qsort(out->v, out->n, sizeof(*out->v), cmp_series);
done:
	strata_free(keybuf);
	idset_free(&cand);
	strata_free(x.every);
	query_regex_cache_free(&x.regexes);
	return rc;
}

void query_series_set_free(query_series_set *s)
{
	strata_free(s->v);
	s->v = NULL;
	s->n = 0;
	query_arena_deinit(&s->arena);
}
