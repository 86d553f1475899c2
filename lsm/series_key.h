/*
 * series_key.h — canonical series keys taken apart.
 *
 * A canonical key is the measurement, then the tags sorted by their
 * unescaped key bytes, escaped as line protocol escapes them
 * (docs/format-catalog.md):  cpu,host=a,region=us\ west
 * The catalog checks every key it stores with this parser; queries use it
 * to read the tags of a series.
 */
#ifndef STRATA_LSM_SERIES_KEY_H
#define STRATA_LSM_SERIES_KEY_H

#include <stddef.h>
#include <stdint.h>

/* One tag: unescaped bytes, not NUL-terminated. */
typedef struct lsm_series_tag {
	const char *k;
	const char *v;
	uint32_t k_len;
	uint32_t v_len;
} lsm_series_tag;

/* A canonical key taken apart: unescaped measurement and tags. */
typedef struct lsm_series_parts {
	const char *m;
	uint32_t m_len;
	uint32_t n_tags;
	lsm_series_tag *tags;
} lsm_series_parts;

/* Room for tags that a key of len bytes needs (its commas). */
size_t lsm_series_key_max_tags(const char *key, size_t len);

/*
 * Takes key[0..len) apart into out, unescaping into unesc (len bytes) and
 * filling tags (room for lsm_series_key_max_tags). STRATA_EINVAL when the
 * key is not canonical, STRATA_ETOOBIG for a measurement over
 * LSM_CATALOG_NAME_MAX bytes; the message says why and where.
 */
int lsm_series_key_parse(const char *key, size_t len, char *unesc, lsm_series_tag *tags,
			 lsm_series_parts *out);

/* Compares two tags by key bytes (shorter first on a common prefix). */
int lsm_series_tag_cmp(const lsm_series_tag *a, const lsm_series_tag *b);

#endif
