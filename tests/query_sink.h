/*
 * query_sink.h — a query response collected in memory, for the query tests:
 * pass test_sink_write and a zeroed struct test_sink to query_output_new;
 * the text is in buf (NUL-terminated, strata_malloc'ed).
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
};

static inline int test_sink_write(void *ctx, const char *p, size_t n)
{
	struct test_sink *s = ctx;

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
