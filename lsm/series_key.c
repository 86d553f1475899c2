/*
 * series_key.c — the canonical series key parser of series_key.h.
 */
#include "lsm/series_key.h"
#include "lsm/catalog.h"
#include "lsm/status.h"

#include <stdbool.h>
#include <string.h>

size_t lsm_series_key_max_tags(const char *key, size_t len)
{
	size_t n = 0;

	for (const char *p = key; (p = memchr(p, ',', len - (size_t)(p - key))) != NULL; p++)
		n++;
	return n;
}

/* Bytes a backslash escapes in each part of a key. */
static inline bool escapable_measurement(char ch)
{
	return ch == ',' || ch == ' ' || ch == '\\';
}

static inline bool escapable_tag(char ch)
{
	return ch == ',' || ch == '=' || ch == ' ' || ch == '\\';
}

static int key_error(int rc, const char *key, size_t len, const char *why, size_t at)
{
	return strata_error(rc, "series key \"%.*s%s\" is not canonical: %s (byte %zu)",
			    len > 200 ? 200 : (int)len, key, len > 200 ? "..." : "", why, at);
}

int lsm_series_tag_cmp(const lsm_series_tag *a, const lsm_series_tag *b)
{
	size_t n = a->k_len < b->k_len ? a->k_len : b->k_len;
	int r = n ? memcmp(a->k, b->k, n) : 0;

	if (r)
		return r;
	return a->k_len < b->k_len ? -1 : a->k_len > b->k_len;
}

/*
 * Takes a canonical key apart into out, unescaping into unesc (len bytes)
 * and filling tags (room for key_max_tags). The measurement ends at the
 * first unescaped comma; each tag key at the first unescaped '=', each tag
 * value at the next unescaped comma or the end. A backslash escapes a comma
 * or space (measurement), a comma, '=' or space (tags), or a backslash; one
 * before any other byte, or at the end, is a plain backslash. An unescaped
 * space is never part of a key. Tags must be sorted by their unescaped key
 * bytes, without duplicates, keys and values non-empty. STRATA_EINVAL,
 * STRATA_ETOOBIG (measurement over LSM_CATALOG_NAME_MAX), with a message.
 */
int lsm_series_key_parse(const char *key, size_t len, char *unesc, lsm_series_tag *tags, lsm_series_parts *out)
{
	size_t i = 0, w = 0, start;
	uint32_t n = 0;

	if (len == 0)
		return strata_error(STRATA_EINVAL, "empty series key");
	while (i < len && key[i] != ',') {
		if (key[i] == '\\' && i + 1 < len && escapable_measurement(key[i + 1])) {
			unesc[w++] = key[i + 1];
			i += 2;
			continue;
		}
		if (key[i] == ' ')
			return key_error(STRATA_EINVAL, key, len, "unescaped space in the measurement", i);
		unesc[w++] = key[i++];
	}
	if (w == 0)
		return key_error(STRATA_EINVAL, key, len, "empty measurement", 0);
	if (w > LSM_CATALOG_NAME_MAX)
		return strata_error(STRATA_ETOOBIG, "series key \"%.*s...\": measurement of %zu bytes, over the %d byte limit",
				    len > 200 ? 200 : (int)len, key, w, LSM_CATALOG_NAME_MAX);
	out->m = unesc;
	out->m_len = (uint32_t)w;
	while (i < len) {
		lsm_series_tag *t = &tags[n];

		i++; /* the comma */
		start = w;
		t->k = unesc + w;
		while (i < len && key[i] != '=') {
			if (key[i] == '\\' && i + 1 < len && escapable_tag(key[i + 1])) {
				unesc[w++] = key[i + 1];
				i += 2;
				continue;
			}
			if (key[i] == ',')
				return key_error(STRATA_EINVAL, key, len, "tag without '='", i);
			if (key[i] == ' ')
				return key_error(STRATA_EINVAL, key, len, "unescaped space in a tag key", i);
			unesc[w++] = key[i++];
		}
		if (i == len)
			return key_error(STRATA_EINVAL, key, len, "tag without '='", i);
		t->k_len = (uint32_t)(w - start);
		if (t->k_len == 0)
			return key_error(STRATA_EINVAL, key, len, "empty tag key", i);
		i++; /* the '=' */
		start = w;
		t->v = unesc + w;
		while (i < len && key[i] != ',') {
			if (key[i] == '\\' && i + 1 < len && escapable_tag(key[i + 1])) {
				unesc[w++] = key[i + 1];
				i += 2;
				continue;
			}
			if (key[i] == ' ')
				return key_error(STRATA_EINVAL, key, len, "unescaped space in a tag value", i);
			unesc[w++] = key[i++];
		}
		t->v_len = (uint32_t)(w - start);
		if (t->v_len == 0)
			return key_error(STRATA_EINVAL, key, len, "empty tag value", i);
		if (n > 0) {
			int r = lsm_series_tag_cmp(&tags[n - 1], t);

			if (r == 0)
				return key_error(STRATA_EINVAL, key, len, "duplicate tag key", i);
			if (r > 0)
				return key_error(STRATA_EINVAL, key, len, "tags not sorted by key", i);
		}
		n++;
	}
	out->n_tags = n;
	out->tags = tags;
	return 0;
}
