/*
 * test_output.c — InfluxDB 1.x /query responses (query/output.h) compared
 * byte for byte with what InfluxDB writes: JSON with one or several series
 * and statements, statement and request errors, empty results, nulls, every
 * value type and the float forms of Go's encoding/json, string escapes and
 * UTF-8, every epoch, RFC3339Nano trimming, times before 1970, the CSV form
 * of the same data, sequence errors, a failing sink and output larger than
 * the writer's buffer. Also the chunked JSON form (one document per
 * statement) and the table the influx CLI prints (its "column" format).
 */
#include "lsm/alloc.h"
#include "lsm/status.h"
#include "query/output.h"
#include "tests/query_sink.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>

#define S INT64_C(1000000000)
#define T2026 (INT64_C(1767225600) * S)

/* ---- writers into a test_sink (tests/query_sink.h) ---- */

static query_output *open_out(struct test_sink *s, enum query_output_format f,
			      enum query_output_epoch e)
{
	query_output *o = NULL;

	memset(s, 0, sizeof(*s));
	assert_int_equal(query_output_new(&o, f, e, test_sink_write, s), 0);
	assert_non_null(o);
	return o;
}

static void close_out(query_output *o, struct test_sink *s, const char *expected)
{
	query_output_free(o);
	assert_non_null(s->buf);
	assert_string_equal(s->buf, expected);
	strata_free(s->buf);
}

static query_value F(double f) { return query_value_float(f); }
static query_value I(int64_t i) { return query_value_integer(i); }
static query_value U(uint64_t u) { return query_value_unsigned(u); }
static query_value B(bool b) { return query_value_boolean(b); }
static query_value STR(const char *s) { return query_value_string(s, strlen(s)); }

static query_output_tag TAG(const char *k, const char *v)
{
	query_output_tag t = { k, strlen(k), v, strlen(v) };

	return t;
}

static const char *const time_mean[] = { "time", "mean" };

/* cpu host=a: two rows; statement 0 */
static void write_simple(query_output *o)
{
	query_output_tag tags[] = { TAG("host", "a") };
	query_value v;

	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	assert_int_equal(query_output_begin_series(o, "cpu", tags, 1, time_mean, 2, true), 0);
	v = F(1.5);
	assert_int_equal(query_output_row(o, T2026, &v, NULL, 1), 0);
	v = F(2);
	assert_int_equal(query_output_row(o, T2026 + 60 * S, &v, NULL, 1), 0);
	assert_int_equal(query_output_end_series(o), 0);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_end_results(o), 0);
}

static void test_output_one_series_json(void **state)
{
	struct test_sink s;
	query_output *o = open_out(&s, QUERY_OUTPUT_JSON, QUERY_EPOCH_RFC3339);

	(void)state;
	write_simple(o);
	close_out(o, &s,
		  "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\","
		  "\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"mean\"],\"values\":["
		  "[\"2026-01-01T00:00:00Z\",1.5],[\"2026-01-01T00:01:00Z\",2]]}]}]}\n");
}

static void test_output_one_series_csv(void **state)
{
	struct test_sink s;
	query_output *o = open_out(&s, QUERY_OUTPUT_CSV, QUERY_EPOCH_RFC3339);

	(void)state;
	write_simple(o);
	close_out(o, &s,
		  "name,tags,time,mean\n"
		  "cpu,host=a,1767225600000000000,1.5\n"
		  "cpu,host=a,1767225660000000000,2\n");
}

/*
 * Statement 0: two series (cpu host=a,region=eu; cpu host=b), the second
 * with other columns; statement 1: an error; statement 2: empty;
 * statement 3: a series without tags and without a time column.
 */
static void write_several(query_output *o)
{
	query_output_tag t1[] = { TAG("host", "a"), TAG("region", "eu") };
	query_output_tag t2[] = { TAG("host", "b") };
	static const char *const cols2[] = { "time", "max", "min" };
	static const char *const cols3[] = { "name" };
	query_value v[2];

	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	assert_int_equal(query_output_begin_series(o, "cpu", t1, 2, time_mean, 2, true), 0);
	v[0] = I(3);
	assert_int_equal(query_output_row(o, T2026, v, NULL, 1), 0);
	assert_int_equal(query_output_end_series(o), 0);
	assert_int_equal(query_output_begin_series(o, "cpu", t2, 1, cols2, 3, true), 0);
	v[0] = I(4);
	v[1] = I(-5);
	assert_int_equal(query_output_row(o, T2026, v, NULL, 2), 0);
	assert_int_equal(query_output_end_series(o), 0);
	assert_int_equal(query_output_end_statement(o), 0);

	assert_int_equal(query_output_begin_statement(o, 1), 0);
	assert_int_equal(query_output_statement_error(o, "measurement not found"), 0);
	assert_int_equal(query_output_end_statement(o), 0);

	assert_int_equal(query_output_begin_statement(o, 2), 0);
	assert_int_equal(query_output_end_statement(o), 0);

	assert_int_equal(query_output_begin_statement(o, 3), 0);
	assert_int_equal(query_output_begin_series(o, "measurements", NULL, 0, cols3, 1, false), 0);
	v[0] = STR("cpu");
	assert_int_equal(query_output_row(o, 0, v, NULL, 1), 0);
	v[0] = STR("mem");
	assert_int_equal(query_output_row(o, 0, v, NULL, 1), 0);
	assert_int_equal(query_output_end_series(o), 0);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_end_results(o), 0);
}

static void test_output_several_json(void **state)
{
	struct test_sink s;
	query_output *o = open_out(&s, QUERY_OUTPUT_JSON, QUERY_EPOCH_S);

	(void)state;
	write_several(o);
	close_out(o, &s,
		  "{\"results\":["
		  "{\"statement_id\":0,\"series\":["
		  "{\"name\":\"cpu\",\"tags\":{\"host\":\"a\",\"region\":\"eu\"},"
		  "\"columns\":[\"time\",\"mean\"],\"values\":[[1767225600,3]]},"
		  "{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},"
		  "\"columns\":[\"time\",\"max\",\"min\"],\"values\":[[1767225600,4,-5]]}]},"
		  "{\"statement_id\":1,\"error\":\"measurement not found\"},"
		  "{\"statement_id\":2},"
		  "{\"statement_id\":3,\"series\":[{\"name\":\"measurements\","
		  "\"columns\":[\"name\"],\"values\":[[\"cpu\"],[\"mem\"]]}]}]}\n");
}

static void test_output_several_csv(void **state)
{
	struct test_sink s;
	query_output *o = open_out(&s, QUERY_OUTPUT_CSV, QUERY_EPOCH_S);

	(void)state;
	write_several(o);
	/* statement errors and empty statements write nothing in CSV */
	close_out(o, &s,
		  "name,tags,time,mean\n"
		  "cpu,\"host=a,region=eu\",1767225600,3\n"
		  "\n"
		  "name,tags,time,max,min\n"
		  "cpu,host=b,1767225600,4,-5\n"
		  "\n"
		  "name,tags,name\n"
		  "measurements,,cpu\n"
		  "measurements,,mem\n");
}

static void test_output_csv_same_columns_one_header(void **state)
{
	struct test_sink s;
	query_output *o = open_out(&s, QUERY_OUTPUT_CSV, QUERY_EPOCH_NS);
	query_output_tag ta[] = { TAG("host", "a") }, tb[] = { TAG("host", "b") };
	query_value v = F(0.25);

	(void)state;
	assert_int_equal(query_output_begin_results(o), 0);
	for (int st = 0; st < 2; st++) {
		assert_int_equal(query_output_begin_statement(o, st), 0);
		assert_int_equal(query_output_begin_series(o, "cpu", ta, 1, time_mean, 2, true), 0);
		assert_int_equal(query_output_row(o, 1, &v, NULL, 1), 0);
		assert_int_equal(query_output_end_series(o), 0);
		assert_int_equal(query_output_begin_series(o, "cpu", tb, 1, time_mean, 2, true), 0);
		assert_int_equal(query_output_row(o, 2, &v, NULL, 1), 0);
		assert_int_equal(query_output_end_series(o), 0);
		assert_int_equal(query_output_end_statement(o), 0);
	}
	assert_int_equal(query_output_end_results(o), 0);
	close_out(o, &s,
		  "name,tags,time,mean\n"
		  "cpu,host=a,1,0.25\n"
		  "cpu,host=b,2,0.25\n"
		  "\n"
		  "name,tags,time,mean\n"
		  "cpu,host=a,1,0.25\n"
		  "cpu,host=b,2,0.25\n");
}

static void test_output_statement_error_after_series(void **state)
{
	struct test_sink s;
	query_output *o = open_out(&s, QUERY_OUTPUT_JSON, QUERY_EPOCH_NS);
	query_value v = I(1);

	(void)state;
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	assert_int_equal(query_output_begin_series(o, "cpu", NULL, 0, time_mean, 2, true), 0);
	assert_int_equal(query_output_row(o, -1, &v, NULL, 1), 0);
	assert_int_equal(query_output_end_series(o), 0);
	assert_int_equal(query_output_statement_error(o, "max-select-point limit exceeded"), 0);
	/* no series after the error, nor a second error */
	assert_int_equal(query_output_begin_series(o, "cpu", NULL, 0, time_mean, 2, true),
			 STRATA_EINVAL);
	assert_int_equal(query_output_statement_error(o, "again"), STRATA_EINVAL);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_end_results(o), 0);
	close_out(o, &s,
		  "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\","
		  "\"columns\":[\"time\",\"mean\"],\"values\":[[-1,1]]}],"
		  "\"error\":\"max-select-point limit exceeded\"}]}\n");
}

static void test_output_empty_result(void **state)
{
	struct test_sink s;
	query_output *o = open_out(&s, QUERY_OUTPUT_JSON, QUERY_EPOCH_RFC3339);

	(void)state;
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_end_results(o), 0);
	close_out(o, &s, "{\"results\":[{\"statement_id\":0}]}\n");

	o = open_out(&s, QUERY_OUTPUT_JSON, QUERY_EPOCH_RFC3339);
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_end_results(o), 0);
	close_out(o, &s, "{}\n");

	/* a series without rows omits "values"; CSV still prints its header */
	o = open_out(&s, QUERY_OUTPUT_JSON, QUERY_EPOCH_RFC3339);
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	assert_int_equal(query_output_begin_series(o, "", NULL, 0, time_mean, 2, true), 0);
	assert_int_equal(query_output_end_series(o), 0);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_end_results(o), 0);
	close_out(o, &s,
		  "{\"results\":[{\"statement_id\":0,\"series\":"
		  "[{\"columns\":[\"time\",\"mean\"]}]}]}\n");

	o = open_out(&s, QUERY_OUTPUT_CSV, QUERY_EPOCH_RFC3339);
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_end_results(o), 0);
	query_output_free(o);
	assert_int_equal(s.len, 0);
	strata_free(s.buf);
}

static void test_output_request_error(void **state)
{
	struct test_sink s;
	query_output *o = open_out(&s, QUERY_OUTPUT_JSON, QUERY_EPOCH_RFC3339);

	(void)state;
	assert_int_equal(query_output_error(o, "error parsing query: found <EOF>"), 0);
	assert_int_equal(query_output_begin_results(o), STRATA_EINVAL);
	close_out(o, &s, "{\"error\":\"error parsing query: found \\u003cEOF\\u003e\"}\n");

	o = open_out(&s, QUERY_OUTPUT_CSV, QUERY_EPOCH_RFC3339);
	assert_int_equal(query_output_error(o, "bad, \"very\" bad"), 0);
	close_out(o, &s, "error\n\"bad, \"\"very\"\" bad\"\n");
}

static void write_one_row(query_output *o, const char *const *cols, size_t n_cols,
			  int64_t t, const query_value *v, const bool *nulls, size_t n)
{
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	assert_int_equal(query_output_begin_series(o, "m", NULL, 0, cols, n_cols, true), 0);
	assert_int_equal(query_output_row(o, t, v, nulls, n), 0);
	assert_int_equal(query_output_end_series(o), 0);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_end_results(o), 0);
}

#define JSON_ROW(row)                                                                      \
	"{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":" \
	"[\"time\",\"a\",\"b\",\"c\",\"d\",\"e\"],\"values\":[[" row "]]}]}]}\n"
#define CSV_ROW(row) "name,tags,time,a,b,c,d,e\nm,," row "\n"

static const char *const cols5[] = { "time", "a", "b", "c", "d", "e" };

static void test_output_nulls(void **state)
{
	struct test_sink s;
	query_output *o = open_out(&s, QUERY_OUTPUT_JSON, QUERY_EPOCH_NS);
	query_value v[5] = { F(1), I(2), STR("x"), B(true), { .type = QUERY_VALUE_NONE } };
	bool nulls[5] = { true, false, true, false, false };

	(void)state;
	write_one_row(o, cols5, 6, 7, v, nulls, 5);
	close_out(o, &s, JSON_ROW("7,null,2,null,true,null"));

	o = open_out(&s, QUERY_OUTPUT_CSV, QUERY_EPOCH_NS);
	write_one_row(o, cols5, 6, 7, v, nulls, 5);
	close_out(o, &s, CSV_ROW("7,,2,,true,"));
}

static void test_output_value_types(void **state)
{
	struct test_sink s;
	query_output *o = open_out(&s, QUERY_OUTPUT_JSON, QUERY_EPOCH_NS);
	query_value v[5] = { I(INT64_MIN), I(INT64_MAX), U(UINT64_MAX), B(false),
			     query_value_string(NULL, 0) };

	(void)state;
	write_one_row(o, cols5, 6, 0, v, NULL, 5);
	close_out(o, &s,
		  JSON_ROW("0,-9223372036854775808,9223372036854775807,"
			   "18446744073709551615,false,\"\""));

	o = open_out(&s, QUERY_OUTPUT_CSV, QUERY_EPOCH_NS);
	write_one_row(o, cols5, 6, 0, v, NULL, 5);
	close_out(o, &s,
		  CSV_ROW("0,-9223372036854775808,9223372036854775807,"
			  "18446744073709551615,false,"));
}

struct float_case {
	double f;
	const char *json;
	const char *csv;
};

static void test_output_floats(void **state)
{
	static const struct float_case cases[] = {
		{ 0.0, "0", "0" },
		{ -0.0, "-0", "-0" },
		{ 1e21, "1e+21", "1000000000000000000000" },
		{ 1e20, "100000000000000000000", "100000000000000000000" },
		{ -1.5e300, "-1.5e+300", NULL },
		{ 1e-7, "1e-7", "0.0000001" },
		{ 1e-6, "0.000001", "0.000001" },
		{ 2.5e-10, "2.5e-10", "0.00000000025" },
		{ 1.234e-6, "0.000001234", "0.000001234" },
		{ 0.1, "0.1", "0.1" },
		{ 1.5, "1.5", "1.5" },
		{ -2.0, "-2", "-2" },
		{ 0.1 + 0.2, "0.30000000000000004", "0.30000000000000004" },
		{ 1.0 / 3.0, "0.3333333333333333", "0.3333333333333333" },
		{ 123456789.125, "123456789.125", "123456789.125" },
		{ 9007199254740993.0, "9007199254740992", "9007199254740992" },
		{ 1.7976931348623157e308, "1.7976931348623157e+308", NULL },
		{ 5e-324, "5e-324", NULL },
		{ 2.2250738585072014e-308, "2.2250738585072014e-308", NULL },
		{ 100, "100", "100" },
		{ 12345.678, "12345.678", "12345.678" },
		{ NAN, "null", "NaN" },
		{ INFINITY, "null", "+Inf" },
		{ -INFINITY, "null", "-Inf" },
	};
	static const char *const cols[] = { "time", "v" };
	char want[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct test_sink s;
		query_output *o = open_out(&s, QUERY_OUTPUT_JSON, QUERY_EPOCH_NS);
		query_value v = F(cases[i].f);

		write_one_row(o, cols, 2, 0, &v, NULL, 1);
		snprintf(want, sizeof(want),
			 "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\","
			 "\"columns\":[\"time\",\"v\"],\"values\":[[0,%s]]}]}]}\n",
			 cases[i].json);
		close_out(o, &s, want);
		if (!cases[i].csv)
			continue;
		o = open_out(&s, QUERY_OUTPUT_CSV, QUERY_EPOCH_NS);
		write_one_row(o, cols, 2, 0, &v, NULL, 1);
		snprintf(want, sizeof(want), "name,tags,time,v\nm,,0,%s\n", cases[i].csv);
		close_out(o, &s, want);
	}
}

static void test_output_json_string_escapes(void **state)
{
	static const struct {
		const char *in;
		const char *out;
	} cases[] = {
		{ "plain", "\"plain\"" },
		{ "a\"b\\c", "\"a\\\"b\\\\c\"" },
		{ "\n\r\t\b\f", "\"\\n\\r\\t\\b\\f\"" },
		{ "\x01\x1f\x7f", "\"\\u0001\\u001f\x7f\"" },
		{ "<a href='x'>&</a>", "\"\\u003ca href='x'\\u003e\\u0026\\u003c/a\\u003e\"" },
		{ "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"" },
		{ "x\xffy", "\"x\\ufffdy\"" },
		{ "\xe2\x82", "\"\\ufffd\\ufffd\"" },
		{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },
		{ "\xc0\x80", "\"\\ufffd\\ufffd\"" },
		{ "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" },
		{ "a\xe2\x80\xa8" "b\xe2\x80\xa9", "\"a\\u2028b\\u2029\"" },
	};
	static const char *const cols[] = { "time", "v" };
	char want[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct test_sink s;
		query_output *o = open_out(&s, QUERY_OUTPUT_JSON, QUERY_EPOCH_NS);
		query_value v = STR(cases[i].in);

		write_one_row(o, cols, 2, 0, &v, NULL, 1);
		snprintf(want, sizeof(want),
			 "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\","
			 "\"columns\":[\"time\",\"v\"],\"values\":[[0,%s]]}]}]}\n",
			 cases[i].out);
		close_out(o, &s, want);
	}

	/* a NUL inside a borrowed string, names and tags escaped too */
	struct test_sink s;
	query_output *o = open_out(&s, QUERY_OUTPUT_JSON, QUERY_EPOCH_NS);
	query_output_tag t = { "k\"", 2, "v\n", 2 };
	static const char *const c2[] = { "time", "<v>" };
	query_value v = query_value_string("a\0b", 3);

	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	assert_int_equal(query_output_begin_series(o, "m&m", &t, 1, c2, 2, true), 0);
	assert_int_equal(query_output_row(o, 0, &v, NULL, 1), 0);
	assert_int_equal(query_output_end_series(o), 0);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_end_results(o), 0);
	close_out(o, &s,
		  "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\\u0026m\","
		  "\"tags\":{\"k\\\"\":\"v\\n\"},\"columns\":[\"time\",\"\\u003cv\\u003e\"],"
		  "\"values\":[[0,\"a\\u0000b\"]]}]}]}\n");
}

static void test_output_csv_quoting(void **state)
{
	struct test_sink s;
	query_output *o = open_out(&s, QUERY_OUTPUT_CSV, QUERY_EPOCH_NS);
	query_output_tag tags[] = { TAG("dc", ""), TAG("host", "x,y"), TAG("k=1", "a b") };
	static const char *const cols[] = { "time", "say, what", "b", "c", "d" };
	query_value v[4] = { STR("say \"hi\", ok"), STR(" lead"), STR("h\xc3\xa9<&>"),
			     STR("two\nlines") };

	(void)state;
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	assert_int_equal(query_output_begin_series(o, "my \"m\"", tags, 3, cols, 5, true), 0);
	assert_int_equal(query_output_row(o, 5, v, NULL, 4), 0);
	assert_int_equal(query_output_end_series(o), 0);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_end_results(o), 0);
	close_out(o, &s,
		  "name,tags,time,\"say, what\",b,c,d\n"
		  "\"my \"\"m\"\"\",\"host=x\\,y,k\\=1=a\\ b\",5,\"say \"\"hi\"\", ok\","
		  "\" lead\",h\xc3\xa9<&>,\"two\nlines\"\n");
}

static void test_output_epochs(void **state)
{
	static const struct {
		enum query_output_epoch e;
		const char *json;
		const char *csv;
	} cases[] = {
		{ QUERY_EPOCH_RFC3339, "\"2026-01-01T00:00:00.123456789Z\"", "1767225600123456789" },
		{ QUERY_EPOCH_NS, "1767225600123456789", "1767225600123456789" },
		{ QUERY_EPOCH_US, "1767225600123456", "1767225600123456" },
		{ QUERY_EPOCH_MS, "1767225600123", "1767225600123" },
		{ QUERY_EPOCH_S, "1767225600", "1767225600" },
		{ QUERY_EPOCH_M, "29453760", "29453760" },
		{ QUERY_EPOCH_H, "490896", "490896" },
	};
	static const char *const cols[] = { "time", "v" };
	char want[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct test_sink s;
		query_output *o = open_out(&s, QUERY_OUTPUT_JSON, cases[i].e);
		query_value v = B(true);

		write_one_row(o, cols, 2, T2026 + 123456789, &v, NULL, 1);
		snprintf(want, sizeof(want),
			 "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\","
			 "\"columns\":[\"time\",\"v\"],\"values\":[[%s,true]]}]}]}\n",
			 cases[i].json);
		close_out(o, &s, want);

		o = open_out(&s, QUERY_OUTPUT_CSV, cases[i].e);
		write_one_row(o, cols, 2, T2026 + 123456789, &v, NULL, 1);
		snprintf(want, sizeof(want), "name,tags,time,v\nm,,%s,true\n", cases[i].csv);
		close_out(o, &s, want);
	}

	assert_int_equal(query_output_epoch_parse(NULL), QUERY_EPOCH_RFC3339);
	assert_int_equal(query_output_epoch_parse(""), QUERY_EPOCH_RFC3339);
	assert_int_equal(query_output_epoch_parse("ns"), QUERY_EPOCH_NS);
	assert_int_equal(query_output_epoch_parse("n"), QUERY_EPOCH_NS);
	assert_int_equal(query_output_epoch_parse("bogus"), QUERY_EPOCH_NS);
	assert_int_equal(query_output_epoch_parse("u"), QUERY_EPOCH_US);
	assert_int_equal(query_output_epoch_parse("ms"), QUERY_EPOCH_MS);
	assert_int_equal(query_output_epoch_parse("s"), QUERY_EPOCH_S);
	assert_int_equal(query_output_epoch_parse("m"), QUERY_EPOCH_M);
	assert_int_equal(query_output_epoch_parse("h"), QUERY_EPOCH_H);
}

static void test_output_times(void **state)
{
	static const struct {
		int64_t t;
		enum query_output_epoch e;
		const char *json;
	} cases[] = {
		{ T2026, QUERY_EPOCH_RFC3339, "\"2026-01-01T00:00:00Z\"" },
		{ T2026 + S / 2, QUERY_EPOCH_RFC3339, "\"2026-01-01T00:00:00.5Z\"" },
		{ T2026 + 1, QUERY_EPOCH_RFC3339, "\"2026-01-01T00:00:00.000000001Z\"" },
		{ T2026 + 120000000, QUERY_EPOCH_RFC3339, "\"2026-01-01T00:00:00.12Z\"" },
		{ T2026 + 100000, QUERY_EPOCH_RFC3339, "\"2026-01-01T00:00:00.0001Z\"" },
		{ INT64_C(1709210096) * S, QUERY_EPOCH_RFC3339, "\"2024-02-29T12:34:56Z\"" },
		{ 0, QUERY_EPOCH_RFC3339, "\"1970-01-01T00:00:00Z\"" },
		{ -1, QUERY_EPOCH_RFC3339, "\"1969-12-31T23:59:59.999999999Z\"" },
		{ -3 * S / 2, QUERY_EPOCH_RFC3339, "\"1969-12-31T23:59:58.5Z\"" },
		{ -INT64_C(86400) * 365 * 70 * S, QUERY_EPOCH_RFC3339, "\"1900-01-18T00:00:00Z\"" },
		{ INT64_MIN, QUERY_EPOCH_RFC3339, "\"1677-09-21T00:12:43.145224192Z\"" },
		{ INT64_MAX, QUERY_EPOCH_RFC3339, "\"2262-04-11T23:47:16.854775807Z\"" },
		/* Go's integer division truncates toward zero */
		{ -3 * S / 2, QUERY_EPOCH_S, "-1" },
		{ -3 * S / 2, QUERY_EPOCH_MS, "-1500" },
		{ -90 * S, QUERY_EPOCH_M, "-1" },
		{ -1, QUERY_EPOCH_US, "0" },
		{ -7199 * S, QUERY_EPOCH_H, "-1" },
		{ INT64_MIN, QUERY_EPOCH_NS, "-9223372036854775808" },
	};
	static const char *const cols[] = { "time", "v" };
	char want[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct test_sink s;
		query_output *o = open_out(&s, QUERY_OUTPUT_JSON, cases[i].e);
		query_value v = I(1);

		write_one_row(o, cols, 2, cases[i].t, &v, NULL, 1);
		snprintf(want, sizeof(want),
			 "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\","
			 "\"columns\":[\"time\",\"v\"],\"values\":[[%s,1]]}]}]}\n",
			 cases[i].json);
		close_out(o, &s, want);
	}
}

static void test_output_sequence_errors(void **state)
{
	struct test_sink s;
	query_output *o = open_out(&s, QUERY_OUTPUT_JSON, QUERY_EPOCH_NS);
	query_value v[2] = { I(1), I(2) };

	(void)state;
	assert_int_equal(query_output_begin_statement(o, 0), STRATA_EINVAL);
	assert_int_equal(query_output_row(o, 0, v, NULL, 1), STRATA_EINVAL);
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_results(o), STRATA_EINVAL);
	assert_int_equal(query_output_begin_statement(o, -1), STRATA_EINVAL);
	assert_int_equal(query_output_end_statement(o), STRATA_EINVAL);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	assert_int_equal(query_output_begin_series(o, "m", NULL, 0, NULL, 0, true), STRATA_EINVAL);
	assert_int_equal(query_output_end_results(o), STRATA_EINVAL);
	assert_int_equal(query_output_begin_series(o, "m", NULL, 0, time_mean, 2, true), 0);
	assert_int_equal(query_output_row(o, 0, v, NULL, 2), STRATA_EINVAL);
	assert_int_equal(query_output_end_statement(o), STRATA_EINVAL);
	assert_int_equal(query_output_statement_error(o, "x"), STRATA_EINVAL);
	assert_int_equal(query_output_row(o, 0, v, NULL, 1), 0);
	assert_int_equal(query_output_end_series(o), 0);
	assert_int_equal(query_output_end_series(o), STRATA_EINVAL);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_end_results(o), 0);
	assert_int_equal(query_output_end_results(o), STRATA_EINVAL);
	close_out(o, &s,
		  "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\","
		  "\"columns\":[\"time\",\"mean\"],\"values\":[[0,1]]}]}]}\n");

	o = NULL;
	assert_int_equal(query_output_new(&o, QUERY_OUTPUT_JSON, QUERY_EPOCH_NS, NULL, NULL),
			 STRATA_EINVAL);
	assert_null(o);
	assert_int_equal(query_output_new(&o, (enum query_output_format)7, QUERY_EPOCH_NS,
					  test_sink_write, &s),
			 STRATA_EINVAL);
	assert_int_equal(query_output_new(&o, QUERY_OUTPUT_CSV, (enum query_output_epoch)42,
					  test_sink_write, &s),
			 STRATA_EINVAL);
	query_output_free(NULL);
}

static void test_output_pretty_json(void **state)
{
	struct test_sink s;
	query_output *o = open_out(&s, QUERY_OUTPUT_JSON, QUERY_EPOCH_RFC3339);
	query_output_tag tags[] = { TAG("host", "a[0],{b}:\"c\"") };
	query_value v = F(1.5);

	(void)state;
	assert_int_equal(query_output_set_pretty(o, true), 0);
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_set_pretty(o, false), STRATA_EINVAL);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	assert_int_equal(query_output_begin_series(o, "cpu", tags, 1, time_mean, 2, true), 0);
	assert_int_equal(query_output_row(o, T2026, &v, NULL, 1), 0);
	assert_int_equal(query_output_end_series(o), 0);
	assert_int_equal(query_output_begin_series(o, "", NULL, 0, NULL, 0, false), 0);
	assert_int_equal(query_output_row(o, 0, NULL, NULL, 0), 0);
	assert_int_equal(query_output_end_series(o), 0);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_begin_statement(o, 1), 0);
	assert_int_equal(query_output_statement_error(o, "oops, {x}"), 0);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_end_results(o), 0);
	close_out(o, &s,
		  "{\n"
		  "    \"results\": [\n"
		  "        {\n"
		  "            \"statement_id\": 0,\n"
		  "            \"series\": [\n"
		  "                {\n"
		  "                    \"name\": \"cpu\",\n"
		  "                    \"tags\": {\n"
		  "                        \"host\": \"a[0],{b}:\\\"c\\\"\"\n"
		  "                    },\n"
		  "                    \"columns\": [\n"
		  "                        \"time\",\n"
		  "                        \"mean\"\n"
		  "                    ],\n"
		  "                    \"values\": [\n"
		  "                        [\n"
		  "                            \"2026-01-01T00:00:00Z\",\n"
		  "                            1.5\n"
		  "                        ]\n"
		  "                    ]\n"
		  "                },\n"
		  "                {\n"
		  "                    \"values\": [\n"
		  "                        []\n"
		  "                    ]\n"
		  "                }\n"
		  "            ]\n"
		  "        },\n"
		  "        {\n"
		  "            \"statement_id\": 1,\n"
		  "            \"error\": \"oops, {x}\"\n"
		  "        }\n"
		  "    ]\n"
		  "}\n");

	/* no effect on CSV */
	o = open_out(&s, QUERY_OUTPUT_CSV, QUERY_EPOCH_RFC3339);
	assert_int_equal(query_output_set_pretty(o, true), 0);
	write_simple(o);
	close_out(o, &s,
		  "name,tags,time,mean\n"
		  "cpu,host=a,1767225600000000000,1.5\n"
		  "cpu,host=a,1767225660000000000,2\n");
}

/* Many rows: the writer's buffer fills and flushes several times. */
static void test_output_large_streams_through_buffer(void **state)
{
	enum { N_ROWS = 20000 };
	struct test_sink s;
	query_output *o = open_out(&s, QUERY_OUTPUT_CSV, QUERY_EPOCH_NS);
	char *want = strata_malloc((size_t)N_ROWS * 48 + 64);
	size_t len = 0;

	(void)state;
	assert_non_null(want);
	len += (size_t)sprintf(want + len, "name,tags,time,mean\n");
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	assert_int_equal(query_output_begin_series(o, "cpu", NULL, 0, time_mean, 2, true), 0);
	for (int64_t i = 0; i < N_ROWS; i++) {
		query_value v = I(i * 7);

		assert_int_equal(query_output_row(o, T2026 + i, &v, NULL, 1), 0);
		len += (size_t)sprintf(want + len, "cpu,,%" PRId64 ",%" PRId64 "\n", T2026 + i,
				       i * 7);
	}
	assert_int_equal(query_output_end_series(o), 0);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_end_results(o), 0);
	assert_true(s.n_writes > 5);
	assert_int_equal(s.len, len);
	close_out(o, &s, want);
	strata_free(want);
}

static void test_output_sink_failure_sticky(void **state)
{
	struct test_sink s;
	query_output *o = open_out(&s, QUERY_OUTPUT_JSON, QUERY_EPOCH_NS);
	query_value v = STR("0123456789abcdef0123456789abcdef");
	int rc = 0;
	int64_t i;

	(void)state;
	s.fail_at = 2;
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	assert_int_equal(query_output_begin_series(o, "m", NULL, 0, time_mean, 2, true), 0);
	for (i = 0; i < 100000 && rc == 0; i++)
		rc = query_output_row(o, i, &v, NULL, 1);
	assert_int_equal(rc, -EIO);
	assert_int_equal(s.n_writes, 2);
	assert_int_equal(query_output_row(o, i, &v, NULL, 1), -EIO);
	assert_int_equal(query_output_end_series(o), -EIO);
	assert_int_equal(query_output_end_results(o), -EIO);
	assert_int_equal(query_output_flush(o), -EIO);
	assert_int_equal(s.n_writes, 2);
	/* the first buffer went out whole, nothing after it */
	assert_int_equal(s.len, 65536);
	query_output_free(o);
	strata_free(s.buf);
}

static void test_output_chunked_json(void **state)
{
	struct test_sink s;
	query_output *o = open_out(&s, QUERY_OUTPUT_JSON, QUERY_EPOCH_S);

	(void)state;
	assert_int_equal(query_output_set_chunked(o, true), 0);
	write_several(o);
	/* one document per statement, each sent to the sink when it ends */
	assert_int_equal(s.n_writes, 4);
	assert_int_equal(query_output_error_count(o), 1);
	close_out(o, &s,
		  "{\"results\":[{\"statement_id\":0,\"series\":["
		  "{\"name\":\"cpu\",\"tags\":{\"host\":\"a\",\"region\":\"eu\"},"
		  "\"columns\":[\"time\",\"mean\"],\"values\":[[1767225600,3]]},"
		  "{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},"
		  "\"columns\":[\"time\",\"max\",\"min\"],\"values\":[[1767225600,4,-5]]}]}]}\n"
		  "{\"results\":[{\"statement_id\":1,\"error\":\"measurement not found\"}]}\n"
		  "{\"results\":[{\"statement_id\":2}]}\n"
		  "{\"results\":[{\"statement_id\":3,\"series\":[{\"name\":\"measurements\","
		  "\"columns\":[\"name\"],\"values\":[[\"cpu\"],[\"mem\"]]}]}]}\n");

	/* pretty: each document indented on its own */
	o = open_out(&s, QUERY_OUTPUT_JSON, QUERY_EPOCH_S);
	assert_int_equal(query_output_set_chunked(o, true), 0);
	assert_int_equal(query_output_set_pretty(o, true), 0);
	assert_int_equal(query_output_begin_results(o), 0);
	for (int id = 0; id < 2; id++) {
		assert_int_equal(query_output_begin_statement(o, id), 0);
		assert_int_equal(query_output_end_statement(o), 0);
	}
	assert_int_equal(query_output_end_results(o), 0);
	close_out(o, &s,
		  "{\n    \"results\": [\n        {\n            \"statement_id\": 0\n        }\n    ]\n}\n"
		  "{\n    \"results\": [\n        {\n            \"statement_id\": 1\n        }\n    ]\n}\n");

	/* no statements: nothing at all; only before the first write */
	o = open_out(&s, QUERY_OUTPUT_JSON, QUERY_EPOCH_S);
	assert_int_equal(query_output_set_chunked(o, true), 0);
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_set_chunked(o, false), STRATA_EINVAL);
	assert_int_equal(query_output_end_results(o), 0);
	query_output_free(o);
	assert_int_equal(s.len, 0);

	/* CSV is the same chunked or not */
	o = open_out(&s, QUERY_OUTPUT_CSV, QUERY_EPOCH_S);
	assert_int_equal(query_output_set_chunked(o, true), 0);
	write_several(o);
	close_out(o, &s,
		  "name,tags,time,mean\n"
		  "cpu,\"host=a,region=eu\",1767225600,3\n"
		  "\n"
		  "name,tags,time,max,min\n"
		  "cpu,host=b,1767225600,4,-5\n"
		  "\n"
		  "name,tags,name\n"
		  "measurements,,cpu\n"
		  "measurements,,mem\n");
}

static void test_output_table(void **state)
{
	struct test_sink s;
	query_output *o = open_out(&s, QUERY_OUTPUT_TABLE, QUERY_EPOCH_S);

	(void)state;
	write_several(o);
	assert_int_equal(query_output_error_count(o), 1);
	close_out(o, &s,
		  "name: cpu\n"
		  "tags: host=a, region=eu\n"
		  "time       mean\n"
		  "----       ----\n"
		  "1767225600 3\n"
		  "\n"
		  "name: cpu\n"
		  "tags: host=b\n"
		  "time       max min\n"
		  "----       --- ---\n"
		  "1767225600 4   -5\n"
		  "\n"
		  "ERR: measurement not found\n"
		  "\n"
		  "name: measurements\n"
		  "name\n"
		  "----\n"
		  "cpu\n"
		  "mem\n");

	/* a request error; an empty response writes nothing */
	o = open_out(&s, QUERY_OUTPUT_TABLE, QUERY_EPOCH_RFC3339);
	assert_int_equal(query_output_error(o, "error parsing query: found EOF"), 0);
	assert_int_equal(query_output_error_count(o), 1);
	close_out(o, &s, "ERR: error parsing query: found EOF\n");
	o = open_out(&s, QUERY_OUTPUT_TABLE, QUERY_EPOCH_RFC3339);
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_end_results(o), 0);
	assert_int_equal(query_output_error_count(o), 0);
	query_output_free(o);
	assert_int_equal(s.len, 0);
	strata_free(s.buf);
}

/*
 * Columns as wide as their widest cell (in code points) plus one, the last
 * cell of a line unpadded; RFC3339 times; every value type; nulls empty.
 */
static void test_output_table_values(void **state)
{
	struct test_sink s;
	query_output *o = open_out(&s, QUERY_OUTPUT_TABLE, QUERY_EPOCH_RFC3339);
	query_value r1[5] = { F(0.1), I(-42), STR("h\xc3\xa9llo"), B(false), F(7) };
	query_value r2[5] = { F(NAN), U(UINT64_MAX), STR(""), B(true), F(1e21) };
	bool n1[5] = { false, false, false, false, true };

	(void)state;
	assert_int_equal(query_output_begin_results(o), 0);
	assert_int_equal(query_output_begin_statement(o, 0), 0);
	assert_int_equal(query_output_begin_series(o, "", NULL, 0, cols5, 6, true), 0);
	assert_int_equal(query_output_row(o, T2026, r1, n1, 5), 0);
	assert_int_equal(query_output_row(o, T2026 + S / 2, r2, NULL, 5), 0);
	assert_int_equal(query_output_end_series(o), 0);
	assert_int_equal(query_output_end_statement(o), 0);
	assert_int_equal(query_output_end_results(o), 0);
	close_out(o, &s,
		  "time                   a   b                    c     d     e\n"
		  "----                   -   -                    -     -     -\n"
		  "2026-01-01T00:00:00Z   0.1 -42                  h\xc3\xa9llo false \n"
		  "2026-01-01T00:00:00.5Z NaN 18446744073709551615       true  1e+21\n");

	/* -Inf, a long column name over short values, integer times */
	{
		static const char *const cols[] = { "time", "a_long_column_name", "x" };
		query_value v[2] = { F(-INFINITY), I(1) };

		o = open_out(&s, QUERY_OUTPUT_TABLE, QUERY_EPOCH_MS);
		write_one_row(o, cols, 3, -1500 * (S / 1000), v, NULL, 2);
		close_out(o, &s,
			  "name: m\n"
			  "time  a_long_column_name x\n"
			  "----  ------------------ -\n"
			  "-1500 -Inf               1\n");
	}
}

/*
 * Random doubles of every magnitude (and their neighbours, powers of two and
 * of ten, where the rounding intervals are uneven) go through the CSV
 * writer, which prints plain digits: each must read back to the same double,
 * with the fewest significant digits that do (the same digits rounded to one
 * digit fewer must not read back).
 */
/* Digits from the first nonzero one to the last nonzero one. */
static size_t significant_digits(const char *s)
{
	size_t n = 0, upto = 0;
	bool started = false;

	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			continue;
		if (!started && *s == '0')
			continue;
		started = true;
		n++;
		if (*s != '0')
			upto = n;
	}
	return upto;
}

static void test_output_float_shortest_random(void **state)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		struct test_sink s;
		query_output *o = open_out(&s, QUERY_OUTPUT_CSV, QUERY_EPOCH_NS);
		const char *cols[] = { "time", "v" };
		query_value v;
		double f;
		char *line, *num, digits_fewer[64];
		size_t sig;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		switch (i % 4) {
		case 0:
			memcpy(&f, &x, sizeof f);
			if (!isfinite(f) || fabs(f) > 1e300 || fabs(f) < 1e-300)
				f = 1.0 / 3;
			break;
		case 1:
			f = (double)(x >> 11) / (double)(UINT64_C(1) << 53) * pow(10, (double)((int)(x % 30) - 12));
			break;
		case 2:
			f = nextafter(ldexp(1.0, (int)(x % 120) - 60), (x & 1) ? INFINITY : 0);
			break;
		default:
			f = nextafter(pow(10, (double)((int)(x % 36) - 18)), (x & 1) ? INFINITY : 0);
			break;
		}
		v = F(f);
		assert_int_equal(query_output_begin_results(o), 0);
		assert_int_equal(query_output_begin_statement(o, 0), 0);
		assert_int_equal(query_output_begin_series(o, "m", NULL, 0, cols, 2, true), 0);
		assert_int_equal(query_output_row(o, 0, &v, NULL, 1), 0);
		assert_int_equal(query_output_end_series(o), 0);
		assert_int_equal(query_output_end_statement(o), 0);
		assert_int_equal(query_output_end_results(o), 0);
		query_output_free(o);
		line = strrchr(s.buf, '\n');
		*line = '\0';
		num = strrchr(s.buf, ',') + 1;
		if (strtod(num, NULL) != f)
			fail_msg("%.17g printed as %s, which reads back as %.17g", f, num, strtod(num, NULL));
		sig = significant_digits(num);
		if (sig > 1) {
			/* The same number with one significant digit fewer, rounded: must not read back. */
			snprintf(digits_fewer, sizeof digits_fewer, "%.*e", (int)sig - 2, f);
			if (strtod(digits_fewer, NULL) == f)
				fail_msg("%.17g printed as %s, but %s (%zu digits) reads back too", f, num,
					 digits_fewer, sig - 1);
		}
		strata_free(s.buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_output_float_shortest_random),
		cmocka_unit_test(test_output_one_series_json),
		cmocka_unit_test(test_output_one_series_csv),
		cmocka_unit_test(test_output_several_json),
		cmocka_unit_test(test_output_several_csv),
		cmocka_unit_test(test_output_csv_same_columns_one_header),
		cmocka_unit_test(test_output_statement_error_after_series),
		cmocka_unit_test(test_output_empty_result),
		cmocka_unit_test(test_output_request_error),
		cmocka_unit_test(test_output_nulls),
		cmocka_unit_test(test_output_value_types),
		cmocka_unit_test(test_output_floats),
		cmocka_unit_test(test_output_json_string_escapes),
		cmocka_unit_test(test_output_csv_quoting),
		cmocka_unit_test(test_output_epochs),
		cmocka_unit_test(test_output_times),
		cmocka_unit_test(test_output_sequence_errors),
		cmocka_unit_test(test_output_pretty_json),
		cmocka_unit_test(test_output_large_streams_through_buffer),
		cmocka_unit_test(test_output_sink_failure_sticky),
		cmocka_unit_test(test_output_chunked_json),
		cmocka_unit_test(test_output_table),
		cmocka_unit_test(test_output_table_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
