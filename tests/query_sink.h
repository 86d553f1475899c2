/*
 * query_sink.h — a query response collected in memory, for the query tests:
 * pass test_sink_write and a zeroed struct test_sink to query_output_new;
 * the text is in buf (NUL-terminated, strata_malloc'ed). It also counts the
 * writes, and can be made to fail one.
 */
#ifndef STRATA_TESTS_QUERY_SINK_H
#define STRATA_TESTS_QUERY_SINK_H

#include "lsm/alloc.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

struct test_sink {
	char *buf;
	size_t len, cap;
	size_t n_writes;
	size_t max_write; /* largest single write */
	int fail_at;      /* write number that fails with -EIO (1-based); 0: never */
};

static inline int test_sink_write(void *ctx, const char *p, size_t n)
{
	struct test_sink *s = ctx;

	s->n_writes++;
	if (s->fail_at && (int)s->n_writes >= s->fail_at)
		return -EIO;
	if (n > s->max_write)
		s->max_write = n;
	if (s->len + n + 1 > s->cap) {
		size_t c = s->cap ? s->cap : 256;
		char *grown;

		while (c < s->len + n + 1)
			c *= 2;
		grown = strata_realloc(s->buf, c);
		if (!grown)
			return -ENOMEM;
		s->buf = grown;
		s->cap = c;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return 0;
}

#endif
