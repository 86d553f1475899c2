/*
 * fuzz_line_protocol.c — libFuzzer target for ingest/line_protocol.c.
 *
 * Parses the input at every precision, once with the default limits and
 * once with tiny ones (so the limit paths are reached by small inputs),
 * unescapes every slice of every point and checks what must always hold:
 * - every slice lies inside the line of its point, names are not empty and
 *   hold no NUL or newline, series covers the measurement and the tags;
 * - unescaping never grows a slice, and leaves a slice not marked escaped as
 *   it is;
 * - values have a known type, floats are finite and exactly what strtod
 *   reads from the same text, no field is named "time";
 * - an error names a line of the input and a column within it (or just past
 *   its end), and its reason is a terminated "unable to parse '...'" text;
 * - each call consumes at least one line, so the loop ends.
 */
#include "ingest/line_protocol.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond,     \
				__FILE__, __LINE__);                                  \
			abort();                                                     \
		}                                                                    \
	} while (0)

struct lines {
	size_t n;
	size_t *start; /* offset of each line */
	size_t *len;   /* its length, without the '\n' */
};

static void split_lines(const uint8_t *data, size_t size, struct lines *l)
{
	size_t cap = 1, pos = 0;

	for (size_t i = 0; i < size; i++)
		cap += data[i] == '\n';
	l->start = malloc(cap * sizeof *l->start);
	l->len = malloc(cap * sizeof *l->len);
	CHECK(l->start && l->len);
	l->n = 0;
	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t len = nl ? (size_t)(nl - (data + pos)) : size - pos;

		l->start[l->n] = pos;
		l->len[l->n] = len;
		l->n++;
		pos += len + (nl ? 1 : 0);
	}
}

static void check_slice(const uint8_t *line, size_t line_len, ingest_lp_slice s, enum ingest_lp_context ctx,
			bool name, char *scratch)
{
	size_t n;

	CHECK((const uint8_t *)s.p >= line);
	CHECK((const uint8_t *)s.p + s.len <= line + line_len);
	CHECK(memchr(s.p, '\n', s.len) == NULL);
	if (name) {
		CHECK(s.len > 0);
		CHECK(memchr(s.p, '\0', s.len) == NULL);
	}
	n = ingest_lp_unescape(scratch, s, ctx);
	CHECK(n <= s.len);
	if (s.escaped)
		CHECK(n < s.len);
	else
		CHECK(n == s.len && (n == 0 || memcmp(scratch, s.p, n) == 0));
}

static void check_point(const uint8_t *data, const struct lines *l, const ingest_lp_point *pt,
			const ingest_lp_limits *limits, char *scratch)
{
	const uint8_t *line;
	size_t line_len;

	CHECK(pt->line >= 1 && pt->line <= l->n);
	line = data + l->start[pt->line - 1];
	line_len = l->len[pt->line - 1];
	CHECK(line_len <= limits->max_line_bytes + 1); /* + a '\r' */
	check_slice(line, line_len, pt->measurement, INGEST_LP_CTX_MEASUREMENT, true, scratch);
	check_slice(line, line_len, pt->series, INGEST_LP_CTX_MEASUREMENT, true, scratch);
	CHECK(pt->series.p == pt->measurement.p);
	CHECK(pt->series.len >= pt->measurement.len);
	CHECK(pt->n_tags <= limits->max_tags);
	CHECK(pt->n_fields >= 1 && pt->n_fields <= limits->max_fields);
	for (uint32_t i = 0; i < pt->n_tags; i++) {
		const ingest_lp_tag *t = &pt->tags[i];

		check_slice(line, line_len, t->key, INGEST_LP_CTX_KEY, true, scratch);
		check_slice(line, line_len, t->value, INGEST_LP_CTX_KEY, true, scratch);
		CHECK(t->value.p + t->value.len <= pt->series.p + pt->series.len);
		CHECK(!(t->key.len == 4 && !t->key.escaped && memcmp(t->key.p, "time", 4) == 0));
	}
	for (uint32_t i = 0; i < pt->n_fields; i++) {
		const ingest_lp_field *f = &pt->fields[i];

		check_slice(line, line_len, f->key, INGEST_LP_CTX_KEY, true, scratch);
		CHECK(f->key.p >= pt->series.p + pt->series.len);
		CHECK(!(f->key.len == 4 && !f->key.escaped && memcmp(f->key.p, "time", 4) == 0));
		switch (f->type) {
		case INGEST_LP_FLOAT: {
			/* The value follows "key=": strtod must read the same double. */
			const char *v = f->key.p + f->key.len + 1;
			size_t n = 0;
			double want;

			CHECK(v[-1] == '=');
			while ((const uint8_t *)v + n < line + line_len && v[n] != ',' && v[n] != ' ')
				n++;
			memcpy(scratch, v, n);
			scratch[n] = '\0';
			want = strtod(scratch, NULL);
			CHECK(isfinite(f->v.f));
			CHECK(memcmp(&want, &f->v.f, sizeof want) == 0);
			break;
		}
		case INGEST_LP_STRING:
			check_slice(line, line_len, f->str, INGEST_LP_CTX_STRING, false, scratch);
			CHECK(ingest_lp_unescape(scratch, f->str, INGEST_LP_CTX_STRING) <= limits->max_string_bytes);
			break;
		case INGEST_LP_INT:
		case INGEST_LP_UINT:
			break;
		case INGEST_LP_BOOL:
			CHECK(f->v.b == true || f->v.b == false);
			break;
		default:
			CHECK(!"unknown field type");
		}
	}
}

static void check_error(const struct lines *l, const ingest_lp_error *err)
{
	CHECK(err->line >= 1 && err->line <= l->n);
	CHECK(err->column >= 1);
	CHECK(err->column <= l->len[err->line - 1] + 1);
	CHECK(memchr(err->reason, '\0', sizeof err->reason) != NULL);
	CHECK(strncmp(err->reason, "unable to parse '", 17) == 0);
	for (const char *c = err->reason; *c; c++)
		CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
}

static void run(const uint8_t *data, size_t size, const ingest_lp_limits *limits, enum ingest_lp_precision prec,
		const struct lines *l, char *scratch)
{
	ingest_lp_parser p;
	ingest_lp_point pt;
	ingest_lp_error err;
	size_t calls = 0;
	int rc;

	CHECK(ingest_lp_parser_init(&p, limits) == 0);
	ingest_lp_parser_reset(&p, (const char *)data, size, prec, 1);
	while ((rc = ingest_lp_parser_next(&p, &pt, &err)) != 0) {
		CHECK(rc == 1 || rc == -1);
		CHECK(++calls <= l->n);
		if (rc == 1)
			check_point(data, l, &pt, &p.limits, scratch);
		else
			check_error(l, &err);
	}
	CHECK(ingest_lp_parser_next(&p, &pt, &err) == 0);
	ingest_lp_parser_deinit(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum ingest_lp_precision precisions[] = {
		INGEST_LP_NS, INGEST_LP_US, INGEST_LP_MS, INGEST_LP_S, INGEST_LP_M, INGEST_LP_H,
	};
	ingest_lp_limits tiny = { .max_tags = 2, .max_fields = 3, .max_line_bytes = 48, .max_string_bytes = 5 };
	struct lines l;
	char *scratch = malloc(size + 1);

	CHECK(scratch);
	split_lines(data, size, &l);
	for (size_t i = 0; i < sizeof precisions / sizeof precisions[0]; i++)
		run(data, size, NULL, precisions[i], &l, scratch);
	run(data, size, &tiny, INGEST_LP_NS, &l, scratch);
	free(l.start);
	free(l.len);
	free(scratch);
	return 0;
}
