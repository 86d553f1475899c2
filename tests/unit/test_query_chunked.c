/*
 * test_query_chunked.c — chunked JSON responses (query/output.h with a
 * chunk size), compared byte for byte with what InfluxDB 1.x writes for
 * chunked=true&chunk_size=N: one series split over several documents with
 * "partial" on every chunk but its last, several series and statements, a
 * series of exactly N rows, statement errors (alone and after series),
 * empty statements, statements left whole by the split choice, pretty
 * documents, one sink write per document, CSV flushed per chunk, a failing
 * sink, and many rows through a small buffer.
 */
#include "lsm/alloc.h"
#include "lsm/status.h"
#include "query/output.h"
#include "tests/query_sink.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#define S INT64_C(1000000000)

/* ---- writers into a test_sink (tests/query_sink.h) ---- */

/* A JSON writer (epoch s) chunked by rows rows, all statements split. */
static query_output *open_chunked(struct test_sink *s, size_t rows)
{
	query_output *o = NULL;

	memset(s, 0, sizeof(*s));
	assert_int_equal(query_output_new(&o, QUERY_OUTPUT_JSON, QUERY_EPOCH_S, test_sink_write, s), 0);
	assert_int_equal(query_output_set_chunked(o, true), 0);
	assert_int_equal(query_output_set_chunk_size(o, rows, NULL, NULL), 0);
	return o;
}

static void close_out(query_output *o, struct test_sink *s, const char *expected)
{
	query_output_free(o);
	assert_non_null(s->buf);
	assert_string_equal(s->buf, expected);
	strata_free(s->buf);
}

/* One series "cpu" (tags host=<host> when not NULL) of n rows: time i s, value i. */
static void series(query_output *o, const char *host, int n)
{
	static const char *const cols[] = { "time", "value" };
	query_output_tag tag = { "host", 4, host, host ? strlen(host) : 0 };

	assert_int_equal(query_output_begin_series(o, "cpu", &tag, host ? 1 : 0, cols, 2, true), 0);
	for (int i = 0; i < n; i++) {
		query_value v = { .type = QUERY_VALUE_INTEGER, .v.i = i };

		assert_int_equal(query_output_row(o, i * S, &v, NULL, 1), 0);
	}
	assert_int_equal(query_output_end_series(o), 0);
}

/* "[t,t]" rows from..to-1, comma-separated, into out. */
static const char *rows_json(char *out, int from, int to)
{
	size_t len = 0;

	out[0] = '\0';
	for (int i = from; i < to; i++)
		len += (size_t)sprintf(out + len, "%s[%d,%d]", i > from ? "," : "", i, i);
	return out;
}

#define HEAD_A "{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"value\"],\"values\":["
#define HEAD_B "{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"value\"],\"values\":["

/* 25 rows, chunk_size 10: three documents, 10, 10 and 5 rows. */
static void test_query_chunked_one_series(void **state)
{
	struct test_sink s;
	query_output *o = open_chunked(&s, 10);
	char r1[512], r2[512], r3[512], want[4096];

	(void)state;
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	series(o, "a", 25);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_end_results(o), 0);
	/* each document reached the sink in one write, as soon as it was complete */
	assert_int_equal(s.n_writes, 3);
	snprintf(want, sizeof want,
		 "{\"results\":[{\"statement_id\":0,\"series\":[" HEAD_A "%s],\"partial\":true}],\"partial\":true}]}\n"
		 "{\"results\":[{\"statement_id\":0,\"series\":[" HEAD_A "%s],\"partial\":true}],\"partial\":true}]}\n"
		 "{\"results\":[{\"statement_id\":0,\"series\":[" HEAD_A "%s]}]}]}\n",
		 rows_json(r1, 0, 10), rows_json(r2, 10, 20), rows_json(r3, 20, 25));
	close_out(o, &s, want);
}

/*
 * Three series of 3, 12 and 10 rows, chunk_size 10: the first alone (the
 * statement goes on), the second cut once, the third exactly full and last.
 */
static void test_query_chunked_several_series(void **state)
{
	struct test_sink s;
	query_output *o = open_chunked(&s, 10);
	char r1[512], r2[512], r3[512], r4[512], want[8192];

	(void)state;
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	series(o, "a", 3);
	series(o, "b", 12);
	series(o, NULL, 10);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_end_results(o), 0);
	assert_int_equal(s.n_writes, 4);
	snprintf(want, sizeof want,
		 "{\"results\":[{\"statement_id\":0,\"series\":[" HEAD_A "%s]}],\"partial\":true}]}\n"
		 "{\"results\":[{\"statement_id\":0,\"series\":[" HEAD_B "%s],\"partial\":true}],\"partial\":true}]}\n"
		 "{\"results\":[{\"statement_id\":0,\"series\":[" HEAD_B "%s]}],\"partial\":true}]}\n"
		 "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"value\"],"
		 "\"values\":[%s]}]}]}\n",
		 rows_json(r1, 0, 3), rows_json(r2, 0, 10), rows_json(r3, 10, 12), rows_json(r4, 0, 10));
	close_out(o, &s, want);
}

/*
 * Statements: one series of 2 rows, an empty statement, a series then an
 * error, an error alone, and a series without rows.
 */
static void test_query_chunked_statements_and_errors(void **state)
{
	static const char *const cols[] = { "name" };
	struct test_sink s;
	query_output *o = open_chunked(&s, 2);

	(void)state;
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	series(o, "a", 2);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_begin_statement(o, 1), 0);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_begin_statement(o, 2), 0);
	series(o, "b", 3);
	assert_int_equal(query_output_statement_error(o, "shard \"7\" failed"), 0);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_begin_statement(o, 3), 0);
	assert_int_equal(query_output_statement_error(o, "database not found: x"), 0);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_begin_statement(o, 4), 0);
	assert_int_equal(query_output_begin_series(o, "measurements", NULL, 0, cols, 1, false), 0);
	assert_int_equal(query_output_end_series(o), 0);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_end_results(o), 0);
	assert_int_equal(query_output_error_count(o), 2);
	close_out(o, &s,
		  "{\"results\":[{\"statement_id\":0,\"series\":[" HEAD_A "[0,0],[1,1]]}]}]}\n"
		  "{\"results\":[{\"statement_id\":1}]}\n"
		  "{\"results\":[{\"statement_id\":2,\"series\":[" HEAD_B "[0,0],[1,1]],\"partial\":true}],\"partial\":true}]}\n"
		  "{\"results\":[{\"statement_id\":2,\"series\":[" HEAD_B "[2,2]]}],\"partial\":true}]}\n"
		  "{\"results\":[{\"statement_id\":2,\"error\":\"shard \\\"7\\\" failed\"}]}\n"
		  "{\"results\":[{\"statement_id\":3,\"error\":\"database not found: x\"}]}\n"
		  "{\"results\":[{\"statement_id\":4,\"series\":[{\"name\":\"measurements\",\"columns\":[\"name\"]}]}]}\n");
}

static bool split_odd(void *ctx, int id)
{
	int *calls = ctx;

	(*calls)++;
	return id % 2 == 1;
}

/* Statements the split function refuses stay one document, series together. */
static void test_query_chunked_split_choice(void **state)
{
	struct test_sink s;
	query_output *o = NULL;
	int calls = 0;

	(void)state;
	memset(&s, 0, sizeof s);
	assert_int_equal(query_output_new(&o, QUERY_OUTPUT_JSON, QUERY_EPOCH_S, test_sink_write, &s), 0);
	assert_int_equal(query_output_set_chunked(o, true), 0);
	assert_int_equal(query_output_set_chunk_size(o, 1, split_odd, &calls), 0);
	assert_int_equal(query_output_begin_results(o), 0);
	for (int id = 0; id < 2; id++) {
		assert_int_equal(query_output_begin_statement(o, id), 0);
		series(o, "a", 2);
		series(o, "b", 1);
		assert_int_equal(query_output_end_statement(o), 0);
	}
	assert_int_equal(query_output_end_results(o), 0);
	assert_int_equal(calls, 2);
	close_out(o, &s,
		  "{\"results\":[{\"statement_id\":0,\"series\":[" HEAD_A "[0,0],[1,1]]}," HEAD_B "[0,0]]}]}]}\n"
		  "{\"results\":[{\"statement_id\":1,\"series\":[" HEAD_A "[0,0]],\"partial\":true}],\"partial\":true}]}\n"
		  "{\"results\":[{\"statement_id\":1,\"series\":[" HEAD_A "[1,1]]}],\"partial\":true}]}\n"
		  "{\"results\":[{\"statement_id\":1,\"series\":[" HEAD_B "[0,0]]}]}]}\n");
}

/* pretty=true: every chunk indented as json.MarshalIndent writes it. */
static void test_query_chunked_pretty(void **state)
{
	static const char *const cols[] = { "time", "v" };
	struct test_sink s;
	query_output *o = open_chunked(&s, 1);

	(void)state;
	assert_int_equal(query_output_set_pretty(o, true), 0);
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	assert_int_equal(query_output_begin_series(o, "m", NULL, 0, cols, 2, true), 0);
	for (int i = 0; i < 2; i++) {
		query_value v = { .type = QUERY_VALUE_BOOLEAN, .v.b = i == 1 };

		assert_int_equal(query_output_row(o, i * S, &v, NULL, 1), 0);
	}
	assert_int_equal(query_output_end_series(o), 0);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_end_results(o), 0);
	close_out(o, &s,
		  "{\n    \"results\": [\n        {\n            \"statement_id\": 0,\n"
		  "            \"series\": [\n                {\n                    \"name\": \"m\",\n"
		  "                    \"columns\": [\n                        \"time\",\n                        \"v\"\n"
		  "                    ],\n                    \"values\": [\n                        [\n"
		  "                            0,\n                            false\n                        ]\n"
		  "                    ],\n                    \"partial\": true\n                }\n            ],\n"
		  "            \"partial\": true\n        }\n    ]\n}\n"
		  "{\n    \"results\": [\n        {\n            \"statement_id\": 0,\n"
		  "            \"series\": [\n                {\n                    \"name\": \"m\",\n"
		  "                    \"columns\": [\n                        \"time\",\n                        \"v\"\n"
		  "                    ],\n                    \"values\": [\n                        [\n"
		  "                            1,\n                            true\n                        ]\n"
		  "                    ]\n                }\n            ]\n        }\n    ]\n}\n");
}

/*
 * 100000 rows in chunks of 1000 go out as 100 documents of 1000 rows each
 * (the writer's buffer is 64 KiB: a chunk of this size fits in it, so
 * every document is one write); rows counted per document.
 */
static void test_query_chunked_many_rows(void **state)
{
	struct test_sink s;
	query_output *o = open_chunked(&s, 1000);
	const char *p;
	size_t docs = 0;

	(void)state;
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	series(o, "a", 100000);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_end_results(o), 0);
	assert_int_equal(s.n_writes, 100);
	assert_true(s.max_write <= 65536);
	p = s.buf;
	for (const char *nl; (nl = strchr(p, '\n')) != NULL && docs < 1000; p = nl + 1) {
		size_t rows = 0;
		bool last = docs == 99;

		for (const char *q = p; q < nl; q++)
			rows += q[0] == '[' && q[1] >= '0' && q[1] <= '9';
		assert_int_equal(rows, 1000);
		/* the first row of each document continues the previous one */
		{
			char first[64];

			snprintf(first, sizeof first, "\"values\":[[%zu,%zu]", docs * 1000, docs * 1000);
			assert_non_null(strstr(p, first));
		}
		assert_int_equal(strstr(p, "\"partial\":true") != NULL && strstr(p, "\"partial\":true") < nl, !last);
		docs++;
	}
	assert_int_equal(docs, 100);
	assert_int_equal((size_t)(p - s.buf), s.len);
	query_output_free(o);
	strata_free(s.buf);
}

/* CSV: the same bytes as unchunked, flushed every chunk of rows. */
static void test_query_chunked_csv(void **state)
{
	struct test_sink s;
	query_output *o = NULL;

	(void)state;
	memset(&s, 0, sizeof s);
	assert_int_equal(query_output_new(&o, QUERY_OUTPUT_CSV, QUERY_EPOCH_S, test_sink_write, &s), 0);
	assert_int_equal(query_output_set_chunked(o, true), 0);
	assert_int_equal(query_output_set_chunk_size(o, 2, NULL, NULL), 0);
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	series(o, "a", 5);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_end_results(o), 0);
	/* after rows 2 and 4, then at the end of the statement */
	assert_int_equal(s.n_writes, 3);
	close_out(o, &s,
		  "name,tags,time,value\n"
		  "cpu,host=a,0,0\ncpu,host=a,1,1\ncpu,host=a,2,2\ncpu,host=a,3,3\ncpu,host=a,4,4\n");
}

/* Sequence and sink errors. */
static void test_query_chunked_errors(void **state)
{
	struct test_sink s;
	query_output *o = open_chunked(&s, 1);
	query_value v = { .type = QUERY_VALUE_INTEGER, .v.i = 1 };
	static const char *const cols[] = { "time", "value" };

	(void)state;
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_set_chunk_size(o, 5, NULL, NULL), STRATA_EINVAL);
	query_output_free(o);
	strata_free(s.buf);

	/* the second document fails: the error sticks, nothing more is written */
	o = open_chunked(&s, 1);
	s.fail_at = 2;
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	assert_int_equal(query_output_begin_series(o, "cpu", NULL, 0, cols, 2, true), 0);
	assert_int_equal(query_output_row(o, 0, &v, NULL, 1), 0);
	assert_int_equal(query_output_row(o, S, &v, NULL, 1), 0); /* sends the first chunk */
	assert_int_equal(query_output_row(o, 2 * S, &v, NULL, 1), -EIO);
	assert_int_equal(query_output_end_series(o), -EIO);
	assert_int_equal(query_output_end_statement(o), -EIO);
	assert_int_equal(s.n_writes, 2);
	close_out(o, &s,
		  "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"value\"],"
		  "\"values\":[[0,1]],\"partial\":true}],\"partial\":true}]}\n");
}

/*
 * A streamed response that fails may add an error document only where a
 * document ends: the writer says where that is, also when a flush of a
 * full buffer inside a pretty document happens to end in a newline.
 */
static void test_query_chunked_boundary(void **state)
{
	static const char *const cols[] = { "time", "v" };
	struct test_sink s;
	query_output *o = open_chunked(&s, 1000000);
	bool inside_seen = false;

	(void)state;
	assert_true(query_output_at_boundary(o));
	assert_int_equal(query_output_set_pretty(o, true), 0);
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	assert_int_equal(query_output_begin_series(o, "m", NULL, 0, cols, 2, true), 0);
	for (int i = 0; i < 20000; i++) {
		query_value v = { .type = QUERY_VALUE_INTEGER, .v.i = i };

		assert_int_equal(query_output_row(o, i * S, &v, NULL, 1), 0);
		if (s.len > 0) {
			assert_false(query_output_at_boundary(o));
			inside_seen = true;
		}
	}
	assert_true(inside_seen); /* the rows outgrew the writer's buffer mid-document */
	assert_int_equal(query_output_end_series(o), 0);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_true(query_output_at_boundary(o));
	assert_int_equal(query_output_end_results(o), 0);
	assert_true(query_output_at_boundary(o));
	query_output_free(o);
	strata_free(s.buf);

	/* CSV: a chunk of rows flushed before its statement ends is not a boundary either */
	memset(&s, 0, sizeof s);
	assert_int_equal(query_output_new(&o, QUERY_OUTPUT_CSV, QUERY_EPOCH_S, test_sink_write, &s), 0);
	assert_int_equal(query_output_set_chunked(o, true), 0);
	assert_int_equal(query_output_set_chunk_size(o, 2, NULL, NULL), 0);
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	series(o, "a", 3);
	assert_true(s.len > 0);
	assert_false(query_output_at_boundary(o));
	assert_int_equal(query_output_end_statement(o), 0);
	assert_true(query_output_at_boundary(o));
	assert_int_equal(query_output_end_results(o), 0);
	query_output_free(o);
	strata_free(s.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_chunked_one_series),
		cmocka_unit_test(test_query_chunked_several_series),
		cmocka_unit_test(test_query_chunked_statements_and_errors),
		cmocka_unit_test(test_query_chunked_split_choice),
		cmocka_unit_test(test_query_chunked_pretty),
		cmocka_unit_test(test_query_chunked_many_rows),
		cmocka_unit_test(test_query_chunked_csv),
		cmocka_unit_test(test_query_chunked_errors),
		cmocka_unit_test(test_query_chunked_boundary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
