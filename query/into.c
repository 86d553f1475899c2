/*
 * into.c — rows to line protocol for SELECT ... INTO (into.h).
 */
#include "query/into.h"
#include "lsm/alloc.h"
#include "lsm/status.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Lines are handed to the writer in batches of about this many bytes. */
#define INTO_BATCH_BYTES ((size_t)1 << 20)

void query_into_init(query_into *t, query_write_fn write, void *ctx, const char *db, const char *rp)
{
	memset(t, 0, sizeof(*t));
	t->write = write;
	t->write_ctx = ctx;
	t->db = db;
	t->rp = rp;
}

static int reserve(query_into *t, size_t more)
{
	size_t cap;
	char *grown;

	if (t->len + more <= t->cap)
		return 0;
	cap = t->cap ? t->cap : 64 * 1024;
	while (cap < t->len + more)
		cap *= 2;
	grown = strata_realloc(t->buf, cap);
	if (!grown)
		return -ENOMEM;
	t->buf = grown;
	t->cap = cap;
	return 0;
}

/* Appends s[0..n) with a backslash before each byte of specials. */
static int put_escaped(query_into *t, const char *s, size_t n, const char *specials)
{
	int rc = reserve(t, 2 * n);

	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (strchr(specials, s[i]) && s[i] != '\0')
			t->buf[t->len++] = '\\';
		t->buf[t->len++] = s[i];
	}
	return 0;
}

static int put(query_into *t, const char *s, size_t n)
{
	int rc = reserve(t, n);

	if (rc)
		return rc;
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	return 0;
}

/* The field's value in line protocol, or 0 bytes for one it cannot carry. */
static size_t format_value(char *out, size_t cap, const query_value *v)
{
	switch (v->type) {
	case QUERY_VALUE_FLOAT:
		if (!isfinite(v->v.f))
			return 0;
		return (size_t)snprintf(out, cap, "%.17g", v->v.f);
	case QUERY_VALUE_INTEGER:
		return (size_t)snprintf(out, cap, "%" PRId64 "i", v->v.i);
	case QUERY_VALUE_UNSIGNED:
		return (size_t)snprintf(out, cap, "%" PRIu64 "u", v->v.u);
	case QUERY_VALUE_BOOLEAN:
		return (size_t)snprintf(out, cap, "%s", v->v.b ? "true" : "false");
	default:
		return 0;
	}
}

int query_into_row(query_into *t, const char *measurement, const query_output_tag *tags, size_t n_tags,
		   const char *const *columns, const query_value *vals, size_t n, int64_t time_ns)
{
	size_t start = t->len;
	bool any = false;
	char num[64];
	int rc;

	rc = put_escaped(t, measurement, strlen(measurement), ", ");
	for (size_t i = 0; rc == 0 && i < n_tags; i++) {
		if (tags[i].value_len == 0)
			continue; /* line protocol has no empty tag values */
		rc = put(t, ",", 1);
		if (rc == 0)
			rc = put_escaped(t, tags[i].key, tags[i].key_len, ",= ");
		if (rc == 0)
			rc = put(t, "=", 1);
		if (rc == 0)
			rc = put_escaped(t, tags[i].value, tags[i].value_len, ",= ");
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const query_value *v = &vals[i];
		size_t len;

		if (v->type == QUERY_VALUE_NONE)
			continue;
		len = v->type == QUERY_VALUE_STRING ? 1 : format_value(num, sizeof num, v);
		if (len == 0)
			continue;
		rc = put(t, any ? "," : " ", 1);
		if (rc == 0)
			rc = put_escaped(t, columns[i], strlen(columns[i]), ",= ");
		if (rc == 0)
			rc = put(t, "=", 1);
		if (rc == 0 && v->type == QUERY_VALUE_STRING) {
			rc = put(t, "\"", 1);
			if (rc == 0)
				rc = put_escaped(t, v->v.s.ptr, v->v.s.len, "\"\\");
			if (rc == 0)
				rc = put(t, "\"", 1);
		} else if (rc == 0) {
			rc = put(t, num, len);
		}
		any = true;
	}
	if (rc)
		return rc;
	if (!any) {
		t->len = start;
		return 0;
	}
	snprintf(num, sizeof num, " %" PRId64 "\n", time_ns);
	rc = put(t, num, strlen(num));
	if (rc == 0 && t->len >= INTO_BATCH_BYTES)
		rc = query_into_flush(t);
	return rc;
}

int query_into_flush(query_into *t)
{
	uint64_t n = 0;
	int rc;

	if (t->len == 0)
		return 0;
	rc = t->write(t->write_ctx, t->db, t->rp, t->buf, t->len, &n);
	t->written += n;
	t->len = 0;
	return rc;
}

void query_into_deinit(query_into *t)
{
	strata_free(t->buf);
	t->buf = NULL;
	t->len = t->cap = 0;
}
