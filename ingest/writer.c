/*
 * writer.c — line protocol to durable rows (see writer.h).
 *
 * The hot path, per line: parse (zero copy), look the raw series bytes up in
 * the session's series cache, look each field up in the session's field
 * cache, encode the row, append it to the write batch. Only a cache miss
 * pays for canonicalising the series key (unescape, sort tags, escape) and
 * a catalog lookup; only a series or field the catalog has never seen costs
 * a catalog write, and all of a request's new ones share one fdatasync.
 *
 * Order of durability: the catalog transaction is committed before the
 * batch that uses its ids goes to the WAL, so after any crash every id in
 * the data is in the catalog.
 */
#include "ingest/writer.h"
#include "lsm/alloc.h"
#include "lsm/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#define SERIES_CACHE_SLOTS 65536 /* power of two; cleared when too full */
#define FIELD_CACHE_SLOTS 4096

typedef struct series_slot {
	uint64_t hash;    /* 0: empty */
	uint64_t id;
	uint32_t db;
	uint32_t len;
	char *raw;        /* the raw series bytes, as written */
} series_slot;

typedef struct field_slot {
	uint64_t hash;    /* 0: empty */
	uint32_t db;
	uint32_t id;
	enum lsm_field_type type;
	uint16_t m_len, f_len;
	char *names;      /* measurement then field name, unescaped */
} field_slot;

/* A growable byte buffer. */
typedef struct scratch {
	char *p;
	size_t len;
	size_t cap;
} scratch;

struct ingest_session {
	ingest_engine *engine;
	ingest_lp_parser parser;
	lsm_catalog_txn *txn;
	lsm_batch batch;
	series_slot *series;
	size_t n_series;
	field_slot *fields;
	size_t n_fields;
	uint64_t generation; /* the catalog's drop generation the caches hold ids of */
	lsm_row_field *row_fields;
	size_t row_fields_cap;
	uint8_t *row;
	size_t row_cap;
	scratch key;      /* canonical series key */
	scratch names;    /* unescaped measurement, tag and field names */
	scratch strings;  /* unescaped string values of one line */
	struct tag_ref {
		const char *k;
		size_t k_len;
		const char *v;
		size_t v_len;
	} *tags;
	size_t tags_cap;
};

void ingest_options_default(ingest_options *out)
{
	memset(out, 0, sizeof *out);
	out->auto_create_db = false;
	out->batch_bytes = 4u << 20;
	ingest_lp_limits_default(&out->limits);
	out->max_errors_kept = 8;
}

void ingest_engine_init(ingest_engine *e, lsm_db *db, lsm_catalog *catalog, const ingest_options *opt)
{
	memset(e, 0, sizeof *e);
	e->db = db;
	e->catalog = catalog;
	e->opt = *opt;
}

int64_t ingest_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int scratch_reserve(scratch *s, size_t extra)
{
	if (s->len + extra > s->cap) {
		size_t cap = s->cap ? s->cap : 256;
		char *grown;

		while (cap < s->len + extra)
			cap *= 2;
		grown = strata_realloc(s->p, cap);
		if (!grown)
			return -ENOMEM;
		s->p = grown;
		s->cap = cap;
	}
	return 0;
}

int ingest_session_new(ingest_session **out, ingest_engine *e)
{
	ingest_session *s = strata_calloc(1, sizeof *s);
	int rc;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->engine = e;
	lsm_batch_init(&s->batch);
	rc = ingest_lp_parser_init(&s->parser, &e->opt.limits);
	if (rc) {
		strata_free(s);
		return rc;
	}
	rc = lsm_catalog_txn_new(&s->txn, e->catalog);
	s->series = strata_calloc(SERIES_CACHE_SLOTS, sizeof *s->series);
	s->fields = strata_calloc(FIELD_CACHE_SLOTS, sizeof *s->fields);
	if (rc || !s->series || !s->fields) {
		ingest_session_free(s);
		return rc ? rc : -ENOMEM;
	}
	*out = s;
	return 0;
}

static void clear_caches(ingest_session *s)
{
	for (size_t i = 0; i < SERIES_CACHE_SLOTS; i++) {
		strata_free(s->series[i].raw);
		s->series[i].raw = NULL;
		s->series[i].hash = 0;
	}
	s->n_series = 0;
	for (size_t i = 0; i < FIELD_CACHE_SLOTS; i++) {
		strata_free(s->fields[i].names);
		s->fields[i].names = NULL;
		s->fields[i].hash = 0;
	}
	s->n_fields = 0;
}

void ingest_session_free(ingest_session *s)
{
	if (!s)
		return;
	if (s->series && s->fields)
		clear_caches(s);
	strata_free(s->series);
	strata_free(s->fields);
	if (s->txn)
		lsm_catalog_txn_free(s->txn);
	ingest_lp_parser_deinit(&s->parser);
	lsm_batch_deinit(&s->batch);
	strata_free(s->row_fields);
	strata_free(s->row);
	strata_free(s->key.p);
	strata_free(s->names.p);
	strata_free(s->strings.p);
	strata_free(s->tags);
	strata_free(s);
}

/* ---- caches ---- */

static uint64_t hash_nonzero(uint64_t h)
{
	return h ? h : 1;
}

static series_slot *series_cache_find(ingest_session *s, uint32_t db, const char *raw, size_t len, uint64_t hash)
{
	size_t mask = SERIES_CACHE_SLOTS - 1;

	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		series_slot *slot = &s->series[i];

		if (slot->hash == 0)
			return slot;
		if (slot->hash == hash && slot->db == db && slot->len == len && memcmp(slot->raw, raw, len) == 0)
			return slot;
	}
}

static void series_cache_put(ingest_session *s, series_slot *slot, uint32_t db, const char *raw, size_t len,
			     uint64_t hash, uint64_t id)
{
	if (s->n_series >= SERIES_CACHE_SLOTS / 2) {
		/* Full enough that probes get long: start over (cheap, rare). */
		for (size_t i = 0; i < SERIES_CACHE_SLOTS; i++) {
			strata_free(s->series[i].raw);
			s->series[i].raw = NULL;
			s->series[i].hash = 0;
		}
		s->n_series = 0;
		slot = series_cache_find(s, db, raw, len, hash);
	}
	slot->raw = strata_malloc(len ? len : 1);
	if (!slot->raw)
		return; /* a cache miss next time, nothing worse */
	memcpy(slot->raw, raw, len);
	slot->hash = hash;
	slot->db = db;
	slot->len = (uint32_t)len;
	slot->id = id;
	s->n_series++;
}

static uint64_t field_hash(uint32_t db, const char *m, size_t m_len, const char *f, size_t f_len)
{
	/* Short names: one-shot hashes of the two parts, combined. */
	return hash_nonzero(XXH3_64bits_withSeed(m, m_len, db) * 31 + XXH3_64bits(f, f_len));
}

static field_slot *field_cache_find(ingest_session *s, uint32_t db, const char *m, size_t m_len,
				    const char *f, size_t f_len, uint64_t hash)
{
	size_t mask = FIELD_CACHE_SLOTS - 1;

	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		field_slot *slot = &s->fields[i];

		if (slot->hash == 0)
			return slot;
		if (slot->hash == hash && slot->db == db && slot->m_len == m_len && slot->f_len == f_len &&
		    memcmp(slot->names, m, m_len) == 0 && memcmp(slot->names + m_len, f, f_len) == 0)
			return slot;
	}
}

static void field_cache_put(ingest_session *s, field_slot *slot, uint32_t db, const char *m, size_t m_len,
			    const char *f, size_t f_len, uint64_t hash, uint32_t id, enum lsm_field_type type)
{
	if (m_len > UINT16_MAX || f_len > UINT16_MAX)
		return;
	if (s->n_fields >= FIELD_CACHE_SLOTS / 2) {
		for (size_t i = 0; i < FIELD_CACHE_SLOTS; i++) {
			strata_free(s->fields[i].names);
			s->fields[i].names = NULL;
			s->fields[i].hash = 0;
		}
		s->n_fields = 0;
		slot = field_cache_find(s, db, m, m_len, f, f_len, hash);
	}
	slot->names = strata_malloc(m_len + f_len + 1);
	if (!slot->names)
		return;
	memcpy(slot->names, m, m_len);
	memcpy(slot->names + m_len, f, f_len);
	slot->hash = hash;
	slot->db = db;
	slot->m_len = (uint16_t)m_len;
	slot->f_len = (uint16_t)f_len;
	slot->id = id;
	slot->type = type;
	s->n_fields++;
}

/* ---- names and canonical keys ---- */

/*
 * The plain bytes of a slice: the slice itself when it has no escapes, or an
 * unescaped copy in s->names (valid until the names buffer is reset).
 */
static int plain(ingest_session *s, ingest_lp_slice sl, enum ingest_lp_context ctx, const char **out, size_t *len)
{
	size_t at;
	int rc;

	if (!sl.escaped) {
		*out = sl.p;
		*len = sl.len;
		return 0;
	}
	rc = scratch_reserve(&s->names, sl.len);
	if (rc)
		return rc;
	at = s->names.len;
	*len = ingest_lp_unescape(s->names.p + at, sl, ctx);
	s->names.len += *len;
	*out = NULL; /* set below: the buffer may have moved */
	*out = s->names.p + at;
	return 0;
}

/* Appends name escaped canonically: specials are the characters to escape. */
static int append_escaped(scratch *k, const char *p, size_t len, const char *specials)
{
	int rc = scratch_reserve(k, 2 * len);

	if (rc)
		return rc;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\\' || strchr(specials, p[i]))
			k->p[k->len++] = '\\';
		k->p[k->len++] = p[i];
	}
	return 0;
}

static int cmp_bytes(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	return c ? c : (al < bl ? -1 : al > bl);
}

/*
 * Builds the canonical series key of pt into s->key: measurement, then tags
 * sorted by key, escaped as line protocol escapes them. The unescaped
 * measurement goes to *m / *m_len. STRATA_EINVAL (message set) for a
 * duplicate tag key.
 */
static int canonical_key(ingest_session *s, const ingest_lp_point *pt, const char **m, size_t *m_len)
{
	size_t m_at;
	int rc;

	s->key.len = 0;
	if (pt->n_tags > s->tags_cap) {
		struct tag_ref *grown = strata_realloc(s->tags, pt->n_tags * sizeof *grown);

		if (!grown)
			return -ENOMEM;
		s->tags = grown;
		s->tags_cap = pt->n_tags;
	}
	/*
	 * Unescape every name first (the names buffer may move while it grows),
	 * then take pointers into it.
	 */
	{
		size_t offs[2 * 1024 + 1], lens[2 * 1024 + 1];
		bool copied[2 * 1024 + 1];
		const char *p;
		size_t n = 0, len;

		if (pt->n_tags > 1024)
			return strata_error(STRATA_EINVAL, "too many tags");
		m_at = s->names.len;
		rc = plain(s, pt->measurement, INGEST_LP_CTX_MEASUREMENT, &p, &len);
		if (rc)
			return rc;
		copied[n] = pt->measurement.escaped;
		offs[n] = copied[n] ? (size_t)(p - s->names.p) : 0;
		lens[n++] = len;
		for (uint32_t i = 0; i < pt->n_tags; i++) {
			rc = plain(s, pt->tags[i].key, INGEST_LP_CTX_KEY, &p, &len);
			if (rc)
				return rc;
			copied[n] = pt->tags[i].key.escaped;
			offs[n] = copied[n] ? (size_t)(p - s->names.p) : 0;
			lens[n++] = len;
			rc = plain(s, pt->tags[i].value, INGEST_LP_CTX_KEY, &p, &len);
			if (rc)
				return rc;
			copied[n] = pt->tags[i].value.escaped;
			offs[n] = copied[n] ? (size_t)(p - s->names.p) : 0;
			lens[n++] = len;
		}
		(void)m_at;
		*m = copied[0] ? s->names.p + offs[0] : pt->measurement.p;
		*m_len = lens[0];
		for (uint32_t i = 0; i < pt->n_tags; i++) {
			size_t ki = 1 + 2 * i, vi = ki + 1;

			s->tags[i].k = copied[ki] ? s->names.p + offs[ki] : pt->tags[i].key.p;
			s->tags[i].k_len = lens[ki];
			s->tags[i].v = copied[vi] ? s->names.p + offs[vi] : pt->tags[i].value.p;
			s->tags[i].v_len = lens[vi];
		}
	}
	/* Insertion sort: tag sets are small and often already sorted. */
	for (uint32_t i = 1; i < pt->n_tags; i++) {
		struct tag_ref t = s->tags[i];
		uint32_t j = i;

		while (j > 0 && cmp_bytes(s->tags[j - 1].k, s->tags[j - 1].k_len, t.k, t.k_len) > 0) {
			s->tags[j] = s->tags[j - 1];
			j--;
		}
		s->tags[j] = t;
	}
	rc = append_escaped(&s->key, *m, *m_len, ", ");
	for (uint32_t i = 0; rc == 0 && i < pt->n_tags; i++) {
		if (i > 0 && cmp_bytes(s->tags[i - 1].k, s->tags[i - 1].k_len, s->tags[i].k, s->tags[i].k_len) == 0)
			return strata_error(STRATA_EINVAL, "duplicate tag key \"%.*s\"", (int)s->tags[i].k_len, s->tags[i].k);
		rc = scratch_reserve(&s->key, 2);
		if (rc)
			return rc;
		s->key.p[s->key.len++] = ',';
		rc = append_escaped(&s->key, s->tags[i].k, s->tags[i].k_len, ",= ");
		if (rc)
			return rc;
		rc = scratch_reserve(&s->key, 1);
		if (rc)
			return rc;
		s->key.p[s->key.len++] = '=';
		rc = append_escaped(&s->key, s->tags[i].v, s->tags[i].v_len, ",= ");
	}
	return rc;
}

/* ---- one write ---- */

static void report_error(ingest_session *s, ingest_report *r, uint64_t line, uint32_t column, const char *reason)
{
	int n;

	r->lines_rejected++;
	if (r->lines_rejected > s->engine->opt.max_errors_kept || r->errors_len >= sizeof r->errors - 1)
		return;
	n = snprintf(r->errors + r->errors_len, sizeof r->errors - r->errors_len, "%sline %llu%s%.0u: %s",
		     r->errors_len ? "\n" : "", (unsigned long long)line, column ? " column " : "", column, reason);
	if (n > 0)
		r->errors_len += (size_t)n < sizeof r->errors - r->errors_len ? (size_t)n : sizeof r->errors - r->errors_len - 1;
}

static enum lsm_field_type field_type_of(enum ingest_lp_type t)
{
	switch (t) {
	case INGEST_LP_INT: return LSM_FIELD_INT;
	case INGEST_LP_UINT: return LSM_FIELD_UINT;
	case INGEST_LP_STRING: return LSM_FIELD_STRING;
	case INGEST_LP_BOOL: return LSM_FIELD_BOOL;
	default: return LSM_FIELD_FLOAT;
	}
}

/* Commits the catalog's new entries, then writes the batch. */
static int flush_batch(ingest_session *s, bool sync)
{
	int rc = lsm_catalog_txn_commit(s->txn);

	if (rc) {
		/* Ids reserved by the failed transaction must not be reused from the caches. */
		clear_caches(s);
		lsm_catalog_txn_reset(s->txn);
		lsm_batch_clear(&s->batch);
		return rc;
	}
	lsm_catalog_txn_reset(s->txn);
	if (lsm_batch_count(&s->batch) > 0)
		rc = lsm_write(s->engine->db, &s->batch, sync ? 0 : LSM_WRITE_NOSYNC);
	lsm_batch_clear(&s->batch);
	return rc;
}

/*
 * Turns one parsed point into a batch entry. Returns 0 (written), 1 (line
 * rejected: reason in *why), or a fatal error.
 */
static int add_point(ingest_session *s, uint32_t db, const ingest_lp_point *pt, int64_t now_ns,
		     char *why, size_t why_len)
{
	ingest_engine *e = s->engine;
	uint64_t hash = hash_nonzero(XXH3_64bits_withSeed(pt->series.p, pt->series.len, db));
	series_slot *slot = series_cache_find(s, db, pt->series.p, pt->series.len, hash);
	const char *m;
	size_t m_len, n_fields, row_len;
	uint64_t series_id;
	uint8_t ukey[LSM_UKEY_LEN];
	int rc;

	s->names.len = 0;
	s->strings.len = 0;
	/* Room for every unescaped name of the point, so s->names never moves below. */
	{
		size_t need = pt->measurement.len;

		for (uint32_t i = 0; i < pt->n_tags; i++)
			need += pt->tags[i].key.len + pt->tags[i].value.len;
		for (uint32_t i = 0; i < pt->n_fields; i++)
			need += pt->fields[i].key.len;
		rc = scratch_reserve(&s->names, 2 * need);
		if (rc)
			return rc;
	}
	if (slot->hash) {
		series_id = slot->id;
		rc = plain(s, pt->measurement, INGEST_LP_CTX_MEASUREMENT, &m, &m_len);
		if (rc)
			return rc;
	} else {
		uint64_t before = 0;

		rc = canonical_key(s, pt, &m, &m_len);
		if (rc == STRATA_EINVAL) {
			snprintf(why, why_len, "%s", strata_last_error());
			return 1;
		}
		if (rc)
			return rc;
		if (lsm_catalog_series_id(e->catalog, db, s->key.p, s->key.len, &before) != 0)
			before = 0;
		rc = lsm_catalog_txn_series(s->txn, db, s->key.p, s->key.len, &series_id);
		if (rc == STRATA_EINVAL || rc == STRATA_ETOOBIG) {
			snprintf(why, why_len, "%s", strata_last_error());
			return 1;
		}
		if (rc)
			return rc;
		if (!before)
			atomic_fetch_add(&e->counters.series_created, 1);
		series_cache_put(s, slot, db, pt->series.p, pt->series.len, hash, series_id);
	}

	if (pt->n_fields > s->row_fields_cap) {
		lsm_row_field *grown = strata_realloc(s->row_fields, pt->n_fields * sizeof *grown);

		if (!grown)
			return -ENOMEM;
		s->row_fields = grown;
		s->row_fields_cap = pt->n_fields;
	}
	/* String values are unescaped into s->strings: size it first so it never moves. */
	{
		size_t need = 0;

		for (uint32_t i = 0; i < pt->n_fields; i++)
			if (pt->fields[i].type == INGEST_LP_STRING)
				need += pt->fields[i].str.len;
		rc = scratch_reserve(&s->strings, need);
		if (rc)
			return rc;
	}
	for (uint32_t i = 0; i < pt->n_fields; i++) {
		const ingest_lp_field *f = &pt->fields[i];
		lsm_row_field *rf = &s->row_fields[i];
		enum lsm_field_type type = field_type_of(f->type), have;
		const char *name;
		size_t name_len;
		uint64_t fh;
		field_slot *fs;

		rc = plain(s, f->key, INGEST_LP_CTX_KEY, &name, &name_len);
		if (rc)
			return rc;
		fh = field_hash(db, m, m_len, name, name_len);
		fs = field_cache_find(s, db, m, m_len, name, name_len, fh);
		if (fs->hash && fs->type == type) {
			rf->id = fs->id;
		} else {
			rc = lsm_catalog_txn_field(s->txn, db, m, m_len, name, name_len, type, &rf->id, &have);
			if (rc == STRATA_ETYPE) {
				atomic_fetch_add(&e->counters.type_conflicts, 1);
				snprintf(why, why_len,
					 "field type conflict: input field \"%.*s\" on measurement \"%.*s\" is type %s, already exists as type %s",
					 (int)name_len, name, (int)m_len, m, lsm_field_type_name(type),
					 lsm_field_type_name(have));
				return 1;
			}
			if (rc == STRATA_EINVAL || rc == STRATA_ETOOBIG) {
				snprintf(why, why_len, "%s", strata_last_error());
				return 1;
			}
			if (rc)
				return rc;
			if (!fs->hash)
				field_cache_put(s, fs, db, m, m_len, name, name_len, fh, rf->id, type);
		}
		rf->type = type;
		switch (f->type) {
		case INGEST_LP_INT: rf->v.i = f->v.i; break;
		case INGEST_LP_UINT: rf->v.u = f->v.u; break;
		case INGEST_LP_BOOL: rf->v.b = f->v.b; break;
		case INGEST_LP_STRING:
			rf->v.s.p = s->strings.p + s->strings.len;
			rf->v.s.len = ingest_lp_unescape(s->strings.p + s->strings.len, f->str, INGEST_LP_CTX_STRING);
			s->strings.len += rf->v.s.len;
			break;
		default: rf->v.f = f->v.f; break;
		}
	}
	n_fields = lsm_row_normalize(s->row_fields, pt->n_fields);
	row_len = lsm_row_encoded_max(s->row_fields, n_fields);
	if (row_len > s->row_cap) {
		uint8_t *grown = strata_realloc(s->row, row_len);

		if (!grown)
			return -ENOMEM;
		s->row = grown;
		s->row_cap = row_len;
	}
	row_len = lsm_row_encode(s->row, s->row_cap, s->row_fields, n_fields);
	lsm_ukey_encode(ukey, series_id, pt->has_time ? pt->time_ns : now_ns);
	rc = lsm_batch_merge(&s->batch, ukey, s->row, row_len);
	if (rc == STRATA_ETOOBIG) {
		snprintf(why, why_len, "point too large");
		return 1;
	}
	if (rc)
		return rc;
	atomic_fetch_add_explicit(&e->counters.fields, n_fields, memory_order_relaxed);
	return 0;
}

/* The store of policy rp of database name (created when missing and auto-create is on). */
static int resolve_store(ingest_session *s, const char *name, const char *rp, uint32_t *out)
{
	ingest_engine *e = s->engine;
	uint32_t db;
	int rc = lsm_catalog_database_id(e->catalog, name, &db);

	if (rc == STRATA_ENOTFOUND && e->opt.auto_create_db) {
		rc = lsm_catalog_create_database(e->catalog, name);
		if (rc == 0)
			rc = lsm_catalog_database_id(e->catalog, name, &db);
	}
	if (rc == STRATA_ENOTFOUND)
		return strata_error(STRATA_ENOTFOUND, "database not found: \"%s\"", name);
	if (rc == 0)
		rc = lsm_catalog_store(e->catalog, db, rp, out);
	return rc;
}

int ingest_session_write(ingest_session *s, const char *db_name, const char *rp, const char *buf, size_t len,
			 enum ingest_lp_precision precision, int64_t now_ns, bool sync,
			 ingest_report *out)
{
	return ingest_session_write_lines(s, db_name, rp, buf, len, precision, now_ns, sync, 1, out);
}

int ingest_session_write_lines(ingest_session *s, const char *db_name, const char *rp, const char *buf, size_t len,
			       enum ingest_lp_precision precision, int64_t now_ns, bool sync,
			       uint64_t first_line, ingest_report *out)
{
	ingest_engine *e = s->engine;
	ingest_lp_point pt;
	ingest_lp_error err;
	uint32_t db;
	uint64_t points = 0, gen;
	int64_t keep = 0, expired_before = INT64_MIN;
	char why[512];
	int rc, got;

	memset(out, 0, sizeof *out);
	rc = resolve_store(s, db_name, rp, &db);
	if (rc)
		return rc;
	/*
	 * A drop since the last request may have forgotten cached series (and
	 * the fields of a dropped measurement): a key written again must get a
	 * new id from the catalog, not the dropped one.
	 */
	gen = lsm_catalog_generation(e->catalog);
	if (gen != s->generation) {
		clear_caches(s);
		s->generation = gen;
	}
	/* Retention: points older than the policy keeps are refused, as InfluxDB does. */
	if (lsm_catalog_retention(e->catalog, db, &keep) == 0 && keep > 0 &&
	    __builtin_sub_overflow(now_ns, keep, &expired_before))
		expired_before = INT64_MIN;
	ingest_lp_parser_reset(&s->parser, buf, len, precision, first_line);
	lsm_catalog_txn_reset(s->txn);
	lsm_batch_clear(&s->batch);
	while ((got = ingest_lp_parser_next(&s->parser, &pt, &err)) != 0) {
		if (got < 0) {
			report_error(s, out, err.line, err.column, err.reason);
			continue;
		}
		if ((pt.has_time ? pt.time_ns : now_ns) < expired_before) {
			out->beyond_retention++;
			report_error(s, out, pt.line, 0, "point beyond retention policy");
			continue;
		}
		rc = add_point(s, db, &pt, now_ns, why, sizeof why);
		if (rc == 1) {
			report_error(s, out, pt.line, 0, why);
			continue;
		}
		if (rc)
			goto fail;
		points++;
		if (lsm_batch_bytes(&s->batch) >= e->opt.batch_bytes) {
			rc = flush_batch(s, sync);
			if (rc)
				goto fail;
		}
	}
	rc = flush_batch(s, sync);
	if (rc)
		goto fail;
	out->points = points;
	atomic_fetch_add_explicit(&e->counters.points, points, memory_order_relaxed);
	atomic_fetch_add_explicit(&e->counters.bytes, len, memory_order_relaxed);
	atomic_fetch_add_explicit(&e->counters.lines_rejected, out->lines_rejected, memory_order_relaxed);
	atomic_fetch_add_explicit(&e->counters.points_beyond_retention, out->beyond_retention, memory_order_relaxed);
	return 0;
fail:
	/* Ids the caches took from the abandoned transaction were never published. */
	clear_caches(s);
	lsm_batch_clear(&s->batch);
	lsm_catalog_txn_reset(s->txn);
	atomic_fetch_add(&e->counters.write_errors, 1);
	return rc;
}
