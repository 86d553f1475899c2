/*
 * regex.h — the regular expressions of InfluxQL (/.../ in FROM, WHERE,
 * GROUP BY and SHOW), on PCRE2.
 *
 * InfluxDB uses Go's RE2 syntax; PCRE2 accepts that syntax for what queries
 * use (classes, \d \w \s, anchors, alternation, (?i)), and a match searches
 * anywhere in the subject unless anchored, as in Go. PCRE2 backtracks, so
 * every match runs under a match limit and a depth limit: a catastrophic
 * pattern fails with an error instead of taking the CPU.
 *
 * A compiled regex keeps its match data: one thread uses it at a time.
 */
#ifndef STRATA_QUERY_REGEX_H
#define STRATA_QUERY_REGEX_H

#include <stdbool.h>
#include <stddef.h>

typedef struct query_regex query_regex;

/* 0, STRATA_EINVAL naming the pattern and PCRE2's reason, or -ENOMEM. */
int query_regex_compile(query_regex **out, const char *pattern);

/*
 * 1 when s[0..len) holds a match, 0 when not; STRATA_ETOOBIG when the
 * match exceeds the backtracking limits, STRATA_EINVAL for another PCRE2
 * failure (the message says which pattern).
 */
int query_regex_match(query_regex *re, const char *s, size_t len);

void query_regex_free(query_regex *re);

/*
 * Compiled regexes of one query's tree, by node: each /.../ of the tree is
 * compiled once, when first used. One thread uses a cache at a time.
 */
typedef struct query_regex_cache {
	struct query_regex_entry {
		const void *node;
		query_regex *re;
	} *v;
	size_t n, cap;
} query_regex_cache;

/* The compiled regex of node (a QUERY_EXPR_REGEX or any key), compiling pattern the first time. */
int query_regex_cache_get(query_regex_cache *c, const void *node, const char *pattern, query_regex **out);
void query_regex_cache_free(query_regex_cache *c);

#endif
