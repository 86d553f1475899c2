/*
 * regex.c — InfluxQL regular expressions on PCRE2 (regex.h).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "query/regex.h"
#include "lsm/alloc.h"
#include "lsm/status.h"

#include <errno.h>
#include <pcre2.h>
#include <string.h>

/*
 * Backtracking bounds: a well-behaved pattern over a tag value or a name
 * needs a few hundred steps; a catastrophic one hits these in well under a
 * millisecond.
 */
#define MATCH_LIMIT 100000u
#define DEPTH_LIMIT 1000u

struct query_regex {
	pcre2_code *code;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	char pattern[];
};

int query_regex_compile(query_regex **out, const char *pattern)
{
	size_t plen = strlen(pattern);
	query_regex *re;
	int errcode = 0;
	PCRE2_SIZE erroff = 0;

	*out = NULL;
	re = strata_calloc(1, sizeof(*re) + plen + 1);
	if (!re)
		return -ENOMEM;
	memcpy(re->pattern, pattern, plen + 1);
	/* UTF mode: . and classes step over whole characters, as in Go. */
	re->code = pcre2_compile((PCRE2_SPTR)pattern, plen, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &errcode,
				 &erroff, NULL);
	if (!re->code) {
		PCRE2_UCHAR msg[160];

		pcre2_get_error_message(errcode, msg, sizeof msg);
		strata_free(re);
		return strata_error(STRATA_EINVAL, "error parsing regexp /%s/: %s at offset %zu", pattern,
				    (const char *)msg, (size_t)erroff);
	}
	re->md = pcre2_match_data_create_from_pattern(re->code, NULL);
	re->mctx = pcre2_match_context_create(NULL);
	if (!re->md || !re->mctx) {
		query_regex_free(re);
		return -ENOMEM;
	}
	pcre2_set_match_limit(re->mctx, MATCH_LIMIT);
	pcre2_set_depth_limit(re->mctx, DEPTH_LIMIT);
	*out = re;
	return 0;
}

int query_regex_match(query_regex *re, const char *s, size_t len)
{
	int rc = pcre2_match(re->code, (PCRE2_SPTR)(len ? s : ""), len, 0, 0, re->md, re->mctx);

	if (rc >= 0)
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT)
		return strata_error(STRATA_ETOOBIG, "regexp /%s/ needs too much backtracking", re->pattern);
	return strata_error(STRATA_EINVAL, "regexp /%s/ failed to match (PCRE2 error %d)", re->pattern, rc);
}

void query_regex_free(query_regex *re)
{
	if (!re)
		return;
	pcre2_match_context_free(re->mctx);
	pcre2_match_data_free(re->md);
	pcre2_code_free(re->code);
	strata_free(re);
}

int query_regex_cache_get(query_regex_cache *c, const void *node, const char *pattern, query_regex **out)
{
	int rc;

	for (size_t i = 0; i < c->n; i++) {
		if (c->v[i].node == node) {
			*out = c->v[i].re;
			return 0;
		}
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 8;
		struct query_regex_entry *v = strata_realloc(c->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	rc = query_regex_compile(out, pattern);
	if (rc)
		return rc;
	c->v[c->n].node = node;
	c->v[c->n].re = *out;
	c->n++;
	return 0;
}

void query_regex_cache_free(query_regex_cache *c)
{
	for (size_t i = 0; i < c->n; i++)
		query_regex_free(c->v[i].re);
	strata_free(c->v);
	c->v = NULL;
	c->n = c->cap = 0;
}
