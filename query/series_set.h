/*
 * series_set.h — the series of a measurement that a WHERE condition can
 * match, found through the catalog's tag postings.
 *
 * A condition mixes tags, fields and time. Here a tag comparison is
 * decided from a series' tags; a field comparison or a time condition
 * "may match" (the executor checks it per point). So the set holds every
 * series that could contribute a point, and no other:
 *   tag = 'v'            the postings of (tag, v)
 *   tag =~ /re/          the union of the postings of the matching values
 *   tag != 'v', !~ /re/  the measurement's series minus those
 *   a AND b, a OR b      intersection, union (merges of sorted id lists)
 *   field/time terms     the measurement's series
 * A tag a series does not have compares as the empty string, as in
 * InfluxDB (so host != 'a' holds for a series without host, and
 * host = '' selects the series without one).
 *
 * A name is a field when the measurement has a field of that name, unless
 * it is cast ::tag; `time` is the time; anything else is a tag.
 */
#ifndef STRATA_QUERY_SERIES_SET_H
#define STRATA_QUERY_SERIES_SET_H

#include "lsm/catalog.h"
#include "lsm/series_key.h"
#include "query/ast.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct query_series {
	uint64_t id;
	lsm_series_parts parts; /* measurement and tags (sorted by key), in the set's memory */
} query_series;

typedef struct query_series_set {
	query_series *v; /* sorted by tags: key by key, value by value */
	size_t n;
	query_arena arena; /* holds the tags */
} query_series_set;

/* What a name in a condition refers to. */
enum query_ref_kind {
	QUERY_REF_TAG,
	QUERY_REF_FIELD,
	QUERY_REF_TIME,
};

/*
 * The kind of a VARREF: fields (n_fields, sorted by name as
 * lsm_catalog_fields gives them; may be empty) tell fields from tags.
 * With field, *field (when not NULL) is set to the matching entry.
 */
enum query_ref_kind query_ref_kind(const query_expr *ref, const lsm_field_info *fields, size_t n_fields,
				   const lsm_field_info **field);

/*
 * Selects into *out the series of measurement m (m_len bytes) of database
 * db that cond (NULL: every series) may match. Returns 0 (an unknown
 * measurement gives an empty set); STRATA_ENOTFOUND for an unknown
 * database; STRATA_EINVAL for a bad regex or a condition that is not one
 * (the message says which); STRATA_ETOOBIG when more than max_series
 * series match (0: no limit) or a regex needs too much backtracking;
 * -ENOMEM. Free *out with query_series_set_free (also after a failure).
 */
int query_series_select(lsm_catalog *c, uint32_t db, const char *m, size_t m_len, const query_expr *cond,
			const lsm_field_info *fields, size_t n_fields, uint64_t max_series,
			query_series_set *out);

void query_series_set_free(query_series_set *s);

/* The value of tag key in parts (not NUL-terminated), or NULL when the series has none. */
const char *query_series_tag(const lsm_series_parts *parts, const char *key, size_t key_len, size_t *v_len);

#endif
