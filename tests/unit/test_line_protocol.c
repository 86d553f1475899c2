/* Unit tests: the line protocol parser (ingest/line_protocol.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ingest/line_protocol.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------- */

static ingest_lp_parser parser;
static ingest_lp_point point;
static ingest_lp_error error;
static char unescaped[1 << 21];

static int setup(void **state)
{
	(void)state;
	return ingest_lp_parser_init(&parser, NULL);
}

static int teardown(void **state)
{
	(void)state;
	ingest_lp_parser_deinit(&parser);
	return 0;
}

/* Re-creates the shared parser with other limits. */
static void use_limits(const ingest_lp_limits *limits)
{
	ingest_lp_parser_deinit(&parser);
	assert_int_equal(ingest_lp_parser_init(&parser, limits), 0);
}

static void start(const char *buf, size_t len, enum ingest_lp_precision precision)
{
	ingest_lp_parser_reset(&parser, buf, len, precision, 1);
}

/* Parses text (NUL-terminated) that must hold exactly one point and nothing else. */
static void parse_one_prec(const char *text, enum ingest_lp_precision precision)
{
	ingest_lp_point again;
	int rc;

	start(text, strlen(text), precision);
	memset(&error, 0, sizeof error);
	rc = ingest_lp_parser_next(&parser, &point, &error);
	if (rc != 1)
		fail_msg("'%s': rc %d, error line %llu column %u: %s", text, rc,
			 (unsigned long long)error.line, error.column, error.reason);
	/* The point must survive a failed look at the (empty) rest. */
	assert_int_equal(ingest_lp_parser_next(&parser, &again, &error), 0);
}

static void parse_one(const char *text)
{
	parse_one_prec(text, INGEST_LP_NS);
}

/* Parses buf[0, len) that must hold exactly one bad line; checks where and why. */
static void expect_error_buf(const char *buf, size_t len, uint32_t column, const char *why)
{
	ingest_lp_point pt;
	int rc;

	start(buf, len, INGEST_LP_NS);
	memset(&error, 0, sizeof error);
	rc = ingest_lp_parser_next(&parser, &pt, &error);
	if (rc != -1)
		fail_msg("'%.*s': expected an error '%s', got rc %d", (int)(len > 200 ? 200 : len), buf, why, rc);
	assert_true(error.line == 1);
	if (strstr(error.reason, why) == NULL)
		fail_msg("'%.*s': reason '%s' does not say '%s'", (int)(len > 200 ? 200 : len), buf,
			 error.reason, why);
	if (column && error.column != column)
		fail_msg("'%.*s': column %u, expected %u (%s)", (int)(len > 200 ? 200 : len), buf,
			 error.column, column, error.reason);
	assert_true(strncmp(error.reason, "unable to parse '", 17) == 0);
	assert_true(strlen(error.reason) < sizeof error.reason);
	assert_int_equal(ingest_lp_parser_next(&parser, &pt, &error), 0);
}

static void expect_error(const char *text, uint32_t column, const char *why)
{
	expect_error_buf(text, strlen(text), column, why);
}

static bool slice_is(ingest_lp_slice s, enum ingest_lp_context ctx, const char *want)
{
	size_t n = ingest_lp_unescape(unescaped, s, ctx);

	return n == strlen(want) && memcmp(unescaped, want, n) == 0;
}

static void assert_slice(ingest_lp_slice s, enum ingest_lp_context ctx, const char *want, bool escaped)
{
	size_t n = ingest_lp_unescape(unescaped, s, ctx);

	if (n != strlen(want) || memcmp(unescaped, want, n) != 0)
		fail_msg("slice '%.*s' unescapes to '%.*s', expected '%s'", (int)s.len, s.p, (int)n,
			 unescaped, want);
	if (s.escaped != escaped)
		fail_msg("slice '%.*s': escaped %d, expected %d", (int)s.len, s.p, s.escaped, escaped);
}

static const ingest_lp_field *field(uint32_t i)
{
	assert_true(i < point.n_fields);
	return &point.fields[i];
}

static void assert_float_bits(double got, double want)
{
	if (memcmp(&got, &want, sizeof got) != 0)
		fail_msg("float %.17g, expected %.17g", got, want);
}

/* ---- the shape of a line ---------------------------------------------------- */

static void test_line_protocol_full_point(void **state)
{
	const char *text = "cpu,host=a,region=eu-west-1 usage=1.5,n=3i,u=4u,s=\"hi there\",ok=t 1700000000000000000\n";

	(void)state;
	parse_one(text);
	assert_slice(point.measurement, INGEST_LP_CTX_MEASUREMENT, "cpu", false);
	assert_true(point.series.p == text);
	assert_int_equal(point.series.len, strlen("cpu,host=a,region=eu-west-1"));
	assert_int_equal(point.n_tags, 2);
	assert_slice(point.tags[0].key, INGEST_LP_CTX_KEY, "host", false);
	assert_slice(point.tags[0].value, INGEST_LP_CTX_KEY, "a", false);
	assert_slice(point.tags[1].key, INGEST_LP_CTX_KEY, "region", false);
	assert_slice(point.tags[1].value, INGEST_LP_CTX_KEY, "eu-west-1", false);
	assert_int_equal(point.n_fields, 5);
	assert_slice(field(0)->key, INGEST_LP_CTX_KEY, "usage", false);
	assert_int_equal(field(0)->type, INGEST_LP_FLOAT);
	assert_float_bits(field(0)->v.f, 1.5);
	assert_int_equal(field(1)->type, INGEST_LP_INT);
	assert_true(field(1)->v.i == 3);
	assert_int_equal(field(2)->type, INGEST_LP_UINT);
	assert_true(field(2)->v.u == 4);
	assert_int_equal(field(3)->type, INGEST_LP_STRING);
	assert_slice(field(3)->str, INGEST_LP_CTX_STRING, "hi there", false);
	assert_int_equal(field(4)->type, INGEST_LP_BOOL);
	assert_true(field(4)->v.b);
	assert_true(point.has_time);
	assert_true(point.time_ns == 1700000000000000000LL);
	assert_true(point.line == 1);
}

static void test_line_protocol_no_tags_no_time(void **state)
{
	(void)state;
	parse_one("m f=1");
	assert_slice(point.measurement, INGEST_LP_CTX_MEASUREMENT, "m", false);
	assert_int_equal(point.n_tags, 0);
	assert_int_equal(point.series.len, 1);
	assert_int_equal(point.n_fields, 1);
	assert_false(point.has_time);

	/* Several spaces between the sections, and trailing ones, are accepted. */
	parse_one("m,t=v   f=1   17   ");
	assert_int_equal(point.n_tags, 1);
	assert_true(point.has_time && point.time_ns == 17);
	parse_one("m f=1   ");
	assert_false(point.has_time);
	/* '#' inside a line is data, '=' in a measurement too. */
	parse_one("a=b,t=#x f=1");
	assert_slice(point.measurement, INGEST_LP_CTX_MEASUREMENT, "a=b", false);
	assert_slice(point.tags[0].value, INGEST_LP_CTX_KEY, "#x", false);
}

static void test_line_protocol_duplicate_fields_reported(void **state)
{
	(void)state;
	parse_one("m f=1,f=2i,g=3");
	assert_int_equal(point.n_fields, 3);
	assert_slice(field(0)->key, INGEST_LP_CTX_KEY, "f", false);
	assert_slice(field(1)->key, INGEST_LP_CTX_KEY, "f", false);
	assert_int_equal(field(1)->type, INGEST_LP_INT);
}

/* ---- field types ---------------------------------------------------------------- */

static void test_line_protocol_floats(void **state)
{
	static const char *const good[] = {
		"1", "1.5", "-1e10", "1E+3", ".5", "-.5", "1.", "0", "-0", "0.1", "3.14159", "1e-3",
		"123456789012345678901234567890", "0.000000000000000000000000000001234",
		"1.7976931348623157e308", "4.9e-324", "2.2250738585072014e-308", "2.2250738585072011e-308",
		"9007199254740993", "97.48743718592965", "58.13171323049758", "1e22", "1e23", "0.3",
		"00001.5", "1e0000000000000000000000000000001", "123456789012345678.5e-3",
		"7.2057594037927933e16", "1e-400",
	};
	static const char *const bad[] = {
		"inf", "-inf", "nan", "NaN", "Infinity", "1e400", "-1e400", "1e", "1e+", "e5", "--1", "+1",
		"1.2.3", "0x10", "1_000", ".", "-", "-.", "1.5x", "1 e5", "1,5x", "1.5i", "1e3i", "1.0u",
		"\"1", "1\"", "1=", "1-",
	};
	char text[256];

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		snprintf(text, sizeof text, "m f=%s", good[i]);
		parse_one(text);
		assert_int_equal(field(0)->type, INGEST_LP_FLOAT);
		assert_float_bits(field(0)->v.f, strtod(good[i], NULL));
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *why = strstr(bad[i], "e400") ? "out of range" : "";

		snprintf(text, sizeof text, "m f=%s", bad[i]);
		if (strncmp(bad[i], "1 e5", 4) == 0)
			why = "invalid timestamp";
		else if (strncmp(bad[i], "1,5x", 4) == 0)
			why = "missing '=' after field key";
		else if (strncmp(bad[i], "inf", 3) == 0 || strncmp(bad[i], "-inf", 4) == 0 ||
			 bad[i][0] == 'n' || bad[i][0] == 'N' || bad[i][0] == 'I')
			why = "invalid field value";
		else if (strcmp(bad[i], "1\"") == 0)
			why = "invalid field value";
		else if (!why[0])
			why = bad[i][0] == '"' ? "unterminated string" : "invalid field value";
		expect_error(text, 0, why);
	}
}

/* Every float converts exactly as strtod does (the fast paths are exact). */
static void test_line_protocol_floats_match_strtod(void **state)
{
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	char num[64], text[96];

	(void)state;
	for (int k = 0; k < 300000; k++) {
		double d;
		uint64_t bits;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		switch (k % 4) {
		case 0: /* any finite double, 17 digits */
			bits = x;
			memcpy(&d, &bits, sizeof d);
			if (!isfinite(d))
				continue;
			snprintf(num, sizeof num, "%.17g", d);
			break;
		case 1: /* metric-like values with 15 to 17 digits */
			d = (double)(x >> 11) * 0x1p-53 * 100.0;
			snprintf(num, sizeof num, "%.*g", 15 + (int)(x % 3), d);
			break;
		case 2: /* up to 19 random digits with an exponent */
			snprintf(num, sizeof num, "%llue%d", (unsigned long long)(x >> (x % 64)),
				 (int)((x >> 32) % 200) - 100);
			break;
		default: /* exact halfway points between two doubles */
			bits = (x >> 11) | 1;
			snprintf(num, sizeof num, "%llu.5e%d", (unsigned long long)bits, (int)(x % 40) - 20);
			break;
		}
		snprintf(text, sizeof text, "m f=%s", num);
		start(text, strlen(text), INGEST_LP_NS);
		if (ingest_lp_parser_next(&parser, &point, &error) != 1)
			fail_msg("'%s' rejected: %s", num, error.reason);
		assert_float_bits(field(0)->v.f, strtod(num, NULL));
	}
}

static void test_line_protocol_integer_limits(void **state)
{
	(void)state;
	parse_one("m f=9223372036854775807i");
	assert_int_equal(field(0)->type, INGEST_LP_INT);
	assert_true(field(0)->v.i == INT64_MAX);
	parse_one("m f=-9223372036854775808i");
	assert_true(field(0)->v.i == INT64_MIN);
	parse_one("m f=0i,g=-0i,h=007i");
	assert_true(field(0)->v.i == 0 && field(1)->v.i == 0 && field(2)->v.i == 7);

	expect_error("m f=9223372036854775808i", 5, "out of range");
	expect_error("m f=-9223372036854775809i", 5, "out of range");
	expect_error("m f=99999999999999999999999i", 5, "out of range");
	expect_error("m f=i", 5, "invalid field value");
	expect_error("m f=-i", 5, "invalid field value");
	expect_error("m f=1ii", 5, "invalid field value");
	expect_error("m f=1i2", 5, "invalid field value");
	expect_error("m f=+1i", 5, "invalid field value");
}

static void test_line_protocol_unsigned_limits(void **state)
{
	(void)state;
	parse_one("m f=18446744073709551615u,g=0u");
	assert_int_equal(field(0)->type, INGEST_LP_UINT);
	assert_true(field(0)->v.u == UINT64_MAX);
	assert_true(field(1)->v.u == 0);
	expect_error("m f=18446744073709551616u", 5, "out of range");
	expect_error("m f=99999999999999999999u", 5, "out of range");
	expect_error("m f=-1u", 5, "negative unsigned");
	expect_error("m f=-0u", 5, "negative unsigned");
	expect_error("m f=1.5u", 5, "invalid field value");
	expect_error("m f=u", 5, "invalid field value");
}

static void test_line_protocol_booleans(void **state)
{
	static const char *const yes[] = { "t", "T", "true", "True", "TRUE" };
	static const char *const no[] = { "f", "F", "false", "False", "FALSE" };
	static const char *const bad[] = { "tru", "TRue", "truE", "t1", "fals", "falsee", "FaLse", "tt", "f\"" };
	char text[64];

	(void)state;
	for (size_t i = 0; i < 5; i++) {
		snprintf(text, sizeof text, "m a=%s,b=%s", yes[i], no[i]);
		parse_one(text);
		assert_int_equal(field(0)->type, INGEST_LP_BOOL);
		assert_true(field(0)->v.b);
		assert_int_equal(field(1)->type, INGEST_LP_BOOL);
		assert_false(field(1)->v.b);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "m a=%s 1", bad[i]);
		expect_error(text, 5, "invalid boolean");
	}
	/* Anything else that is not quoted is read as a number. */
	expect_error("m a=yes", 5, "invalid field value");
	expect_error("m a=on", 5, "invalid field value");
}

static void test_line_protocol_strings(void **state)
{
	char *big;
	size_t n;

	(void)state;
	parse_one("m s=\"\"");
	assert_int_equal(field(0)->type, INGEST_LP_STRING);
	assert_int_equal(field(0)->str.len, 0);

	/* Delimiters of other contexts mean nothing inside quotes. */
	parse_one("m s=\"a, b=c d\",t=1");
	assert_slice(field(0)->str, INGEST_LP_CTX_STRING, "a, b=c d", false);
	assert_int_equal(point.n_fields, 2);

	/* \" and \\ are escapes; a backslash before anything else stays. */
	parse_one("m s=\"say \\\"hi\\\" \\\\ \\n \\, end\\\\\" 5");
	assert_slice(field(0)->str, INGEST_LP_CTX_STRING, "say \"hi\" \\ \\n \\, end\\", true);
	assert_true(point.has_time && point.time_ns == 5);
	parse_one("m s=\"\\\"\"");
	assert_slice(field(0)->str, INGEST_LP_CTX_STRING, "\"", true);
	parse_one("m s=\"a\\b\"");
	assert_slice(field(0)->str, INGEST_LP_CTX_STRING, "a\\b", false);

	/* A NUL byte and UTF-8 are data in a string. */
	start("m s=\"a\0b\xc3\xa9\"", 11, INGEST_LP_NS);
	assert_int_equal(ingest_lp_parser_next(&parser, &point, &error), 1);
	assert_int_equal(field(0)->str.len, 5);
	assert_true(memcmp(field(0)->str.p, "a\0b\xc3\xa9", 5) == 0);

	expect_error("m s=\"abc", 5, "unterminated string");
	expect_error("m s=\"abc\\\"", 5, "unterminated string");
	expect_error("m s=\"abc\"x", 10, "unexpected character after string");
	expect_error("m s=\"abc\"\"", 10, "unexpected character after string");
	expect_error("m s=\"abc\"=1", 10, "unexpected character after string");
	expect_error("m s=\"a\xff\"", 7, "invalid UTF-8");

	/* 64 KiB is the default limit, counted after unescaping. */
	n = 64 << 10;
	big = malloc(n + 32);
	assert_non_null(big);
	memcpy(big, "m s=\"", 5);
	memset(big + 5, 'x', n);
	memcpy(big + 5 + n, "\"", 2);
	parse_one(big);
	assert_int_equal(field(0)->str.len, n);
	memcpy(big + 5 + n, "x\"", 3);
	expect_error(big, 5, "longer than 65536 bytes");
	/* The same bytes with one escape are one byte shorter: accepted. */
	memcpy(big + 5, "\\\\", 2);
	parse_one(big);
	assert_int_equal(field(0)->str.len, n + 1);
	assert_true(field(0)->str.escaped);
	free(big);
}

/* A raw newline ends the line even inside quotes: the next line is its own. */
static void test_line_protocol_newline_in_string(void **state)
{
	const char *text = "m s=\"abc\ndef\" 1\nm f=2\n";
	int rc;

	(void)state;
	start(text, strlen(text), INGEST_LP_NS);
	rc = ingest_lp_parser_next(&parser, &point, &error);
	assert_int_equal(rc, -1);
	assert_true(error.line == 1);
	assert_int_equal(error.column, 5);
	assert_non_null(strstr(error.reason, "unterminated string"));
	/* Line 2 is read on its own: measurement 'def"', then no '='. */
	rc = ingest_lp_parser_next(&parser, &point, &error);
	assert_int_equal(rc, -1);
	assert_true(error.line == 2);
	assert_non_null(strstr(error.reason, "missing '=' after field key"));
	assert_int_equal(ingest_lp_parser_next(&parser, &point, &error), 1);
	assert_true(point.line == 3);
	assert_float_bits(field(0)->v.f, 2.0);
	assert_int_equal(ingest_lp_parser_next(&parser, &point, &error), 0);
}

/* ---- escapes ---------------------------------------------------------------------- */

static void test_line_protocol_escapes_measurement(void **state)
{
	(void)state;
	parse_one("\\,cpu f=1");
	assert_slice(point.measurement, INGEST_LP_CTX_MEASUREMENT, ",cpu", true);
	parse_one("\\ cpu f=1");
	assert_slice(point.measurement, INGEST_LP_CTX_MEASUREMENT, " cpu", true);
	parse_one("c\\ p\\,u f=1");
	assert_slice(point.measurement, INGEST_LP_CTX_MEASUREMENT, "c p,u", true);
	parse_one("cpu\\, f=1");
	assert_slice(point.measurement, INGEST_LP_CTX_MEASUREMENT, "cpu,", true);
	parse_one("cpu\\  f=1");
	assert_slice(point.measurement, INGEST_LP_CTX_MEASUREMENT, "cpu ", true);
	/* \\ is one backslash, so the comma after it separates a tag. */
	parse_one("a\\\\,t=v f=1");
	assert_slice(point.measurement, INGEST_LP_CTX_MEASUREMENT, "a\\", true);
	assert_int_equal(point.n_tags, 1);
	assert_slice(point.tags[0].key, INGEST_LP_CTX_KEY, "t", false);
	/* '=' is not escapable in a measurement: \= stays as written. */
	parse_one("a\\=b f=1");
	assert_slice(point.measurement, INGEST_LP_CTX_MEASUREMENT, "a\\=b", false);
	parse_one("a\\b\\  f=1");
	assert_slice(point.measurement, INGEST_LP_CTX_MEASUREMENT, "a\\b ", true);
	/* The series slice keeps the escapes as written. */
	parse_one("c\\ pu,t\\=1=v\\,2 f=1");
	assert_int_equal(point.series.len, strlen("c\\ pu,t\\=1=v\\,2"));
	assert_true(memcmp(point.series.p, "c\\ pu,t\\=1=v\\,2", point.series.len) == 0);
}

static void test_line_protocol_escapes_tags(void **state)
{
	(void)state;
	parse_one("m,\\,k\\=e\\ y\\\\=\\,v\\=a\\ l\\\\ f=1");
	assert_int_equal(point.n_tags, 1);
	assert_slice(point.tags[0].key, INGEST_LP_CTX_KEY, ",k=e y\\", true);
	assert_slice(point.tags[0].value, INGEST_LP_CTX_KEY, ",v=a l\\", true);
	parse_one("m,k\\ =v\\  f=1");
	assert_slice(point.tags[0].key, INGEST_LP_CTX_KEY, "k ", true);
	assert_slice(point.tags[0].value, INGEST_LP_CTX_KEY, "v ", true);
	parse_one("m,k=\\=v,k2=\\ \\, f=1");
	assert_slice(point.tags[0].value, INGEST_LP_CTX_KEY, "=v", true);
	assert_slice(point.tags[1].value, INGEST_LP_CTX_KEY, " ,", true);
	assert_false(slice_is(point.tags[1].value, INGEST_LP_CTX_KEY, "\\ \\,"));
	/* An escaped space does not end the tag set: this line has no fields. */
	expect_error("m,k=\\ f1", 9, "missing fields");
	expect_error("m,k=\\ f=1", 8, "unescaped '=' in tag value");
	/* Backslash before another character stays, in keys and values. */
	parse_one("m,a\\b=c\\d f\\g=1");
	assert_slice(point.tags[0].key, INGEST_LP_CTX_KEY, "a\\b", false);
	assert_slice(point.tags[0].value, INGEST_LP_CTX_KEY, "c\\d", false);
	assert_slice(field(0)->key, INGEST_LP_CTX_KEY, "f\\g", false);
}

static void test_line_protocol_escapes_field_keys(void **state)
{
	(void)state;
	parse_one("m \\,f=1,f\\ x=2,f\\=\\\\=3,end\\,=4");
	assert_int_equal(point.n_fields, 4);
	assert_slice(field(0)->key, INGEST_LP_CTX_KEY, ",f", true);
	assert_slice(field(1)->key, INGEST_LP_CTX_KEY, "f x", true);
	assert_slice(field(2)->key, INGEST_LP_CTX_KEY, "f=\\", true);
	assert_slice(field(3)->key, INGEST_LP_CTX_KEY, "end,", true);
	assert_float_bits(field(3)->v.f, 4.0);
}

/* Escapes, delimiters, NUL and UTF-8 at every offset of names up to 40 bytes long. */
static void test_line_protocol_names_every_offset(void **state)
{
	char text[160], want[64];

	(void)state;
	for (size_t n = 1; n <= 40; n++) {
		for (size_t at = 0; at < n; at++) {
			/* Measurement with an escaped space at 'at', then a long tag key. */
			memset(want, 'a', n);
			want[at] = ' ';
			want[n] = '\0';
			snprintf(text, sizeof text, "%.*s\\ %.*s,%.*s=v f=1", (int)at, want, (int)(n - at - 1),
				 want + at + 1, (int)n, "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk");
			parse_one(text);
			assert_slice(point.measurement, INGEST_LP_CTX_MEASUREMENT, want, true);
			assert_int_equal(point.tags[0].key.len, n);

			/* Field key with an escaped '=' at 'at'. */
			want[at] = '=';
			snprintf(text, sizeof text, "m %.*s\\=%.*s=1i", (int)at, want, (int)(n - at - 1), want + at + 1);
			parse_one(text);
			assert_slice(field(0)->key, INGEST_LP_CTX_KEY, want, true);

			/* Tag value ended by a comma at 'at' (a second tag follows). */
			want[at] = 'a';
			snprintf(text, sizeof text, "m,t=%.*s,u=%.*s f=1", (int)at + 1, want, (int)(n - at), want + at);
			parse_one(text);
			assert_int_equal(point.tags[0].value.len, at + 1);
			assert_int_equal(point.tags[1].value.len, n - at);

			/* A two-byte character at 'at', and then a NUL byte there. */
			memset(text, 'a', n + 1);
			memcpy(text + at, "\xc3\xa9", 2);
			memcpy(text + n + 1, " f=1", 5);
			parse_one(text);
			assert_int_equal(point.measurement.len, n + 1);
			text[at] = '\0';
			expect_error_buf(text, n + 5, (uint32_t)at + 1, "NUL byte in measurement");
			text[at] = (char)0xff;
			expect_error_buf(text, n + 5, (uint32_t)at + 1, "invalid UTF-8 in measurement");
		}
	}
}

static void test_line_protocol_unescape_contexts(void **state)
{
	const char *raw = "a\\,b\\ c\\=d\\\\e\\\"f\\x";
	ingest_lp_slice s = { .p = raw, .len = (uint32_t)strlen(raw), .escaped = true };
	char out[64];
	size_t n;

	(void)state;
	n = ingest_lp_unescape(out, s, INGEST_LP_CTX_MEASUREMENT);
	assert_int_equal(n, strlen("a,b c\\=d\\e\\\"f\\x"));
	assert_memory_equal(out, "a,b c\\=d\\e\\\"f\\x", n);
	n = ingest_lp_unescape(out, s, INGEST_LP_CTX_KEY);
	assert_memory_equal(out, "a,b c=d\\e\\\"f\\x", n);
	assert_int_equal(n, strlen("a,b c=d\\e\\\"f\\x"));
	n = ingest_lp_unescape(out, s, INGEST_LP_CTX_STRING);
	assert_int_equal(n, strlen("a\\,b\\ c\\=d\\e\"f\\x"));
	assert_memory_equal(out, "a\\,b\\ c\\=d\\e\"f\\x", n);
	/* A trailing lone backslash is kept; an unescaped slice is copied as is. */
	s.p = "ab\\";
	s.len = 3;
	n = ingest_lp_unescape(out, s, INGEST_LP_CTX_KEY);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "ab\\", 3);
	s.escaped = false;
	s.p = "a\\,b";
	s.len = 4;
	assert_int_equal(ingest_lp_unescape(out, s, INGEST_LP_CTX_KEY), 4);
	assert_memory_equal(out, "a\\,b", 4);
}

/* ---- timestamps ------------------------------------------------------------------- */

static void test_line_protocol_precisions(void **state)
{
	static const struct {
		enum ingest_lp_precision precision;
		int64_t scale;
	} cases[] = {
		{ INGEST_LP_NS, 1 }, { INGEST_LP_US, 1000 }, { INGEST_LP_MS, 1000000 },
		{ INGEST_LP_S, 1000000000 }, { INGEST_LP_M, 60000000000LL }, { INGEST_LP_H, 3600000000000LL },
	};
	char text[96];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int64_t max = INT64_MAX / cases[i].scale;

		parse_one_prec("m f=1 1700", cases[i].precision);
		assert_true(point.time_ns == 1700 * cases[i].scale);
		parse_one_prec("m f=1 -3", cases[i].precision);
		assert_true(point.time_ns == -3 * cases[i].scale);
		snprintf(text, sizeof text, "m f=1 %lld", (long long)max);
		parse_one_prec(text, cases[i].precision);
		assert_true(point.time_ns == max * cases[i].scale);
		snprintf(text, sizeof text, "m f=1 %lld", (long long)-max);
		parse_one_prec(text, cases[i].precision);
		assert_true(point.time_ns == -max * cases[i].scale);
		if (cases[i].scale > 1) {
			snprintf(text, sizeof text, "m f=1 %lld", (long long)max + 1);
			start(text, strlen(text), cases[i].precision);
			assert_int_equal(ingest_lp_parser_next(&parser, &point, &error), -1);
			assert_non_null(strstr(error.reason, "timestamp out of range"));
			assert_int_equal(error.column, 7);
		}
	}
}

static void test_line_protocol_timestamp_limits(void **state)
{
	(void)state;
	parse_one("m f=1 9223372036854775807");
	assert_true(point.time_ns == INT64_MAX);
	parse_one("m f=1 -9223372036854775808");
	assert_true(point.time_ns == INT64_MIN);
	parse_one("m f=1 0");
	assert_true(point.has_time && point.time_ns == 0);
	expect_error("m f=1 9223372036854775808", 7, "timestamp out of range");
	expect_error("m f=1 -9223372036854775809", 7, "timestamp out of range");
	expect_error("m f=1 99999999999999999999999", 7, "timestamp out of range");
	expect_error("m f=1 12a", 7, "invalid timestamp");
	expect_error("m f=1 1.5", 7, "invalid timestamp");
	expect_error("m f=1 +5", 7, "invalid timestamp");
	expect_error("m f=1 -", 7, "invalid timestamp");
	expect_error("m f=1 5\t", 7, "invalid timestamp");
	expect_error("m f=1 12 13", 10, "unexpected text after timestamp");
}

static void test_line_protocol_precision_names(void **state)
{
	static const struct {
		const char *name;
		enum ingest_lp_precision precision;
	} good[] = {
		{ "ns", INGEST_LP_NS }, { "n", INGEST_LP_NS }, { "u", INGEST_LP_US }, { "us", INGEST_LP_US },
		{ "\xc2\xb5", INGEST_LP_US }, { "ms", INGEST_LP_MS }, { "s", INGEST_LP_S },
		{ "m", INGEST_LP_M }, { "h", INGEST_LP_H },
	};
	static const char *const bad[] = { "", "x", "NS", "sec", "mss", "hh", "d" };
	enum ingest_lp_precision p;

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		p = INGEST_LP_H;
		assert_int_equal(ingest_lp_parse_precision(good[i].name, &p), 0);
		assert_int_equal(p, good[i].precision);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(ingest_lp_parse_precision(bad[i], &p), -1);
	assert_int_equal(ingest_lp_parse_precision(NULL, &p), -1);
}

/* ---- rejected lines ----------------------------------------------------------------- */

static void test_line_protocol_structure_errors(void **state)
{
	(void)state;
	expect_error("cpu", 4, "missing fields");
	expect_error("cpu ", 5, "missing fields");
	expect_error("cpu,t=v", 8, "missing fields");
	expect_error("cpu,t=v ", 9, "missing fields");
	expect_error(",t=v f=1", 1, "missing measurement");
	expect_error(",f=1", 1, "missing measurement");
	expect_error("cpu,=v f=1", 5, "missing tag key");
	expect_error("cpu, f=1", 5, "missing tag key");
	expect_error("cpu,t=v, f=1", 9, "missing tag key");
	expect_error("cpu,t= f=1", 7, "missing tag value");
	expect_error("cpu,t=,u=v f=1", 7, "missing tag value");
	expect_error("cpu,t f=1", 6, "missing '=' after tag key");
	expect_error("cpu,t,u=v f=1", 6, "missing '=' after tag key");
	expect_error("cpu,t=a=b f=1", 8, "unescaped '=' in tag value");
	expect_error("cpu f", 6, "missing '=' after field key");
	expect_error("cpu f 1", 6, "missing '=' after field key");
	expect_error("cpu f,g=1", 6, "missing '=' after field key");
	expect_error("cpu f=", 7, "missing field value");
	expect_error("cpu f= 1", 7, "missing field value");
	expect_error("cpu f=,g=1", 7, "missing field value");
	expect_error("cpu =1", 5, "missing field key");
	expect_error("cpu f=1,", 9, "missing field key");
	expect_error("cpu f=1, 5", 9, "missing field key");
	expect_error("cpu f=1,=2", 9, "missing field key");
	expect_error("cpu f=1,,g=2", 9, "missing field key");
}

static void test_line_protocol_nul_bytes(void **state)
{
	(void)state;
	expect_error_buf("c\0pu f=1", 8, 2, "NUL byte in measurement");
	expect_error_buf("\0 f=1", 5, 1, "NUL byte in measurement");
	expect_error_buf("cpu,t\0=v f=1", 12, 6, "NUL byte in tag key");
	expect_error_buf("cpu,t=v\0 f=1", 12, 8, "NUL byte in tag value");
	expect_error_buf("cpu f\0=1", 8, 6, "NUL byte in field key");
	expect_error_buf("cpu f=1\0", 8, 7, "invalid field value");
	expect_error_buf("cpu f=t\0", 8, 7, "invalid boolean");
	expect_error_buf("cpu f=1 1\0", 10, 9, "invalid timestamp");
	/* An escaped NUL is still a NUL. */
	expect_error_buf("c\\\0 f=1", 7, 3, "NUL byte in measurement");
}

static void test_line_protocol_time_names(void **state)
{
	(void)state;
	expect_error("cpu,time=1 f=1", 5, "invalid tag key 'time'");
	expect_error("cpu,a=b,time=x f=1", 9, "invalid tag key 'time'");
	expect_error("cpu time=1", 1, "invalid field name 'time'");
	expect_error("cpu time=1i,time=\"x\" 5", 1, "invalid field name 'time'");
	/* Beside other fields, a field named time is dropped. */
	parse_one("cpu a=1,time=2,b=3 4");
	assert_int_equal(point.n_fields, 2);
	assert_slice(field(0)->key, INGEST_LP_CTX_KEY, "a", false);
	assert_slice(field(1)->key, INGEST_LP_CTX_KEY, "b", false);
	assert_float_bits(field(1)->v.f, 3.0);
	parse_one("cpu time=2,a=1");
	assert_int_equal(point.n_fields, 1);
	assert_slice(field(0)->key, INGEST_LP_CTX_KEY, "a", false);
	/* Its value must still be valid. */
	expect_error("cpu a=1,time=tx", 14, "invalid boolean");
	/* Other spellings are ordinary names, and so is a measurement "time". */
	parse_one("time,Time=1,tim\\ e=2 times=1,TIME=2");
	assert_int_equal(point.n_tags, 2);
	assert_int_equal(point.n_fields, 2);
}

static void test_line_protocol_utf8(void **state)
{
	(void)state;
	parse_one("m\xc3\xa9t\xe2\x82\xac,cl\xc3\xa9=\xf0\x9f\x98\x80 ch\xc3\xa2mp=\"\xe4\xb8\xad\" 1");
	assert_slice(point.measurement, INGEST_LP_CTX_MEASUREMENT, "m\xc3\xa9t\xe2\x82\xac", false);
	assert_slice(point.tags[0].value, INGEST_LP_CTX_KEY, "\xf0\x9f\x98\x80", false);
	assert_slice(field(0)->str, INGEST_LP_CTX_STRING, "\xe4\xb8\xad", false);
	/* Escaped delimiters beside multibyte characters. */
	parse_one("\xc3\xa9\\ \xc3\xa9 f=1");
	assert_slice(point.measurement, INGEST_LP_CTX_MEASUREMENT, "\xc3\xa9 \xc3\xa9", true);

	expect_error("m\xff f=1", 2, "invalid UTF-8 in measurement");
	expect_error("m\x80 f=1", 2, "invalid UTF-8 in measurement");
	expect_error("m\xc0\x80 f=1", 2, "invalid UTF-8");           /* overlong NUL */
	expect_error("m\xe0\x80\xaf f=1", 2, "invalid UTF-8");       /* overlong */
	expect_error("m\xed\xa0\x80 f=1", 2, "invalid UTF-8");       /* surrogate */
	expect_error("m\xf4\x90\x80\x80 f=1", 2, "invalid UTF-8");   /* above U+10FFFF */
	expect_error("m\xf5\x80\x80\x80 f=1", 2, "invalid UTF-8");
	expect_error("m,t=\xc3 f=1", 5, "invalid UTF-8 in tag value");
	expect_error("m,\xe2\x82=v f=1", 3, "invalid UTF-8 in tag key");
	expect_error("m \xe2\x82\xac\xac=1", 6, "invalid UTF-8 in field key");
	expect_error("m\xc3", 2, "invalid UTF-8");                   /* cut at the end */
}

/* ---- limits ------------------------------------------------------------------------- */

/* "m,t0=v,t1=v,... f=1" with n tags. */
static char *line_with_tags(uint32_t n)
{
	size_t cap = 32 + (size_t)n * 16, len;
	char *s = malloc(cap);

	assert_non_null(s);
	len = (size_t)snprintf(s, cap, "m");
	for (uint32_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, ",t%u=v%u", i, i);
	snprintf(s + len, cap - len, " f=1");
	return s;
}

static char *line_with_fields(uint32_t n)
{
	size_t cap = 32 + (size_t)n * 16, len;
	char *s = malloc(cap);

	assert_non_null(s);
	len = (size_t)snprintf(s, cap, "m ");
	for (uint32_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%sf%u=%ui", i ? "," : "", i, i);
	return s;
}

static void test_line_protocol_many_tags(void **state)
{
	ingest_lp_limits limits;
	char *s;

	(void)state;
	s = line_with_tags(100);
	parse_one(s);
	assert_int_equal(point.n_tags, 100);
	assert_slice(point.tags[99].key, INGEST_LP_CTX_KEY, "t99", false);
	free(s);
	s = line_with_tags(256);
	parse_one(s);
	assert_int_equal(point.n_tags, 256);
	free(s);
	s = line_with_tags(257);
	expect_error(s, 0, "more than 256 tags");
	free(s);

	ingest_lp_limits_default(&limits);
	limits.max_tags = 1000;
	use_limits(&limits);
	s = line_with_tags(300);
	parse_one(s);
	assert_int_equal(point.n_tags, 300);
	for (uint32_t i = 0; i < 300; i++) {
		char key[16];

		snprintf(key, sizeof key, "t%u", i);
		assert_true(slice_is(point.tags[i].key, INGEST_LP_CTX_KEY, key));
	}
	/* The arrays were grown once and are reused: a short line still works. */
	parse_one("m,a=b f=1");
	assert_int_equal(point.n_tags, 1);
	free(s);

	limits.max_tags = 3;
	use_limits(&limits);
	parse_one("m,a=1,b=2,c=3 f=1");
	expect_error("m,a=1,b=2,c=3,d=4 f=1", 15, "more than 3 tags");
}

static void test_line_protocol_many_fields(void **state)
{
	ingest_lp_limits limits;
	char *s;

	(void)state;
	s = line_with_fields(1024);
	parse_one(s);
	assert_int_equal(point.n_fields, 1024);
	assert_true(field(1023)->v.i == 1023);
	free(s);
	s = line_with_fields(1025);
	expect_error(s, 0, "more than 1024 fields");
	free(s);

	ingest_lp_limits_default(&limits);
	limits.max_fields = 2;
	use_limits(&limits);
	parse_one("m a=1,b=2");
	expect_error("m a=1,b=2,c=3", 11, "more than 2 fields");
}

static void test_line_protocol_line_length(void **state)
{
	ingest_lp_limits limits;
	size_t max = 1 << 20, len;
	char *buf;
	int rc;

	(void)state;
	/* Exactly the default 1 MiB (the '\n' not counted), then one byte more. */
	buf = malloc(2 * max + 64);
	assert_non_null(buf);
	memcpy(buf, "m,t=", 4);
	memset(buf + 4, 'a', max - 8);
	memcpy(buf + max - 4, " f=1\n", 5);
	len = max + 1;
	memcpy(buf + len, "m,t=", 4);
	memset(buf + len + 4, 'b', max - 7);
	memcpy(buf + len + max - 3, " f=1\r\nm g=2", 11);
	len += max + 1 + 2 + 5;

	start(buf, len, INGEST_LP_NS);
	assert_int_equal(ingest_lp_parser_next(&parser, &point, &error), 1);
	assert_int_equal(point.tags[0].value.len, max - 8);
	rc = ingest_lp_parser_next(&parser, &point, &error);
	assert_int_equal(rc, -1);
	assert_true(error.line == 2);
	assert_int_equal(error.column, max + 1);
	assert_non_null(strstr(error.reason, "line longer than 1048576 bytes"));
	assert_non_null(strstr(error.reason, "'m,t=bbbb"));
	assert_non_null(strstr(error.reason, "...'"));
	assert_true(strlen(error.reason) < 192);
	/* The long line was skipped whole; the next one parses. */
	assert_int_equal(ingest_lp_parser_next(&parser, &point, &error), 1);
	assert_true(point.line == 3);
	assert_slice(field(0)->key, INGEST_LP_CTX_KEY, "g", false);
	assert_int_equal(ingest_lp_parser_next(&parser, &point, &error), 0);
	free(buf);

	/* A small limit, with CRLF: the '\r' is not part of the line. */
	ingest_lp_limits_default(&limits);
	limits.max_line_bytes = 8;
	use_limits(&limits);
	parse_one("m f=1 12\r\n");
	expect_error("m f=1 123", 9, "line longer than 8 bytes");
	/* A comment or blank line longer than the limit is still just skipped. */
	start("# a long comment line\n      \nm f=1", 34, INGEST_LP_NS);
	assert_int_equal(ingest_lp_parser_next(&parser, &point, &error), 1);
	assert_true(point.line == 3);
}

/* ---- lines, comments, errors ---------------------------------------------------------- */

static void test_line_protocol_blank_comment_crlf(void **state)
{
	const char *text = "\n# comment\n   \n\t# indented comment\r\n\r\n"
			   "m f=1\r\n  \t m f=2 5\r\n#last\nm f=3";
	double want[] = { 1, 2, 3 };
	uint64_t lines[] = { 6, 7, 9 };
	int rc;

	(void)state;
	start(text, strlen(text), INGEST_LP_NS);
	for (int i = 0; i < 3; i++) {
		rc = ingest_lp_parser_next(&parser, &point, &error);
		if (rc != 1)
			fail_msg("point %d: rc %d: %s", i, rc, error.reason);
		assert_float_bits(field(0)->v.f, want[i]);
		assert_true(point.line == lines[i]);
		assert_slice(point.measurement, INGEST_LP_CTX_MEASUREMENT, "m", false);
	}
	assert_int_equal(ingest_lp_parser_next(&parser, &point, &error), 0);
	assert_int_equal(ingest_lp_parser_next(&parser, &point, &error), 0);

	/* CRLF after a timestamp, a string and a boolean. */
	parse_one("m f=1 7\r\n");
	assert_true(point.time_ns == 7);
	parse_one("m s=\"x\"\r\n");
	assert_slice(field(0)->str, INGEST_LP_CTX_STRING, "x", false);
	parse_one("m b=true\r\n");
	assert_true(field(0)->v.b);
	/* A '\r' inside a line is data (here, an invalid value). */
	expect_error("m f=1\r2\n", 5, "invalid field value");

	/* Nothing at all, and only blank lines. */
	start("", 0, INGEST_LP_NS);
	assert_int_equal(ingest_lp_parser_next(&parser, &point, &error), 0);
	start("\n\n\r\n  \n#x", 9, INGEST_LP_NS);
	assert_int_equal(ingest_lp_parser_next(&parser, &point, &error), 0);
	start(NULL, 0, INGEST_LP_NS);
	assert_int_equal(ingest_lp_parser_next(&parser, &point, &error), 0);
}

static void test_line_protocol_partial_last_line(void **state)
{
	const char *text = "m f=1\nm,t=v g=2i 99";
	char copy[32];

	(void)state;
	/* Parse from a buffer whose last line has no '\n' and no NUL after it. */
	memcpy(copy, text, strlen(text));
	memset(copy + strlen(text), 'X', sizeof copy - strlen(text));
	start(copy, strlen(text), INGEST_LP_NS);
	assert_int_equal(ingest_lp_parser_next(&parser, &point, &error), 1);
	assert_int_equal(ingest_lp_parser_next(&parser, &point, &error), 1);
	assert_true(point.line == 2);
	assert_true(field(0)->v.i == 2);
	assert_true(point.time_ns == 99);
	assert_int_equal(ingest_lp_parser_next(&parser, &point, &error), 0);

	/* Cut in the middle of a float, of a string, of a name. */
	memcpy(copy, "m f=1.25", 8);
	copy[8] = '7';
	start(copy, 8, INGEST_LP_NS);
	assert_int_equal(ingest_lp_parser_next(&parser, &point, &error), 1);
	assert_float_bits(field(0)->v.f, 1.25);
	start("m s=\"ab\"", 7, INGEST_LP_NS);
	assert_int_equal(ingest_lp_parser_next(&parser, &point, &error), -1);
	assert_non_null(strstr(error.reason, "unterminated string"));
}

static void test_line_protocol_error_positions(void **state)
{
	const char *text = "m f=1\n\n  m,t=v f=tx 1\nm f=2\n";
	ingest_lp_point pt;

	(void)state;
	/* Line numbers count from first_line; columns count the leading blanks. */
	ingest_lp_parser_reset(&parser, text, strlen(text), INGEST_LP_NS, 41);
	assert_int_equal(ingest_lp_parser_next(&parser, &pt, &error), 1);
	assert_true(pt.line == 41);
	assert_int_equal(ingest_lp_parser_next(&parser, &pt, &error), -1);
	assert_true(error.line == 43);
	assert_int_equal(error.column, 11);
	assert_string_equal(error.reason, "unable to parse '  m,t=v f=tx 1': invalid boolean field value");
	assert_int_equal(ingest_lp_parser_next(&parser, &pt, &error), 1);
	assert_true(pt.line == 44);
	assert_int_equal(ingest_lp_parser_next(&parser, &pt, &error), 0);
}

static void test_line_protocol_error_message_format(void **state)
{
	char long_line[300];

	(void)state;
	/* The quoted line is cut (with "...") and control bytes become '?'. */
	memset(long_line, 'a', sizeof long_line);
	memcpy(long_line, "m\x01\x7f", 3);
	long_line[sizeof long_line - 1] = '\0';
	expect_error(long_line, 0, "missing fields");
	assert_true(strncmp(error.reason, "unable to parse 'm??aaaa", 24) == 0);
	assert_non_null(strstr(error.reason, "...': missing fields"));
	assert_true(strlen(error.reason) < 120);

	/* A multibyte character is never cut in half, and bad bytes show as '?'. */
	memset(long_line, 'a', sizeof long_line);
	memcpy(long_line + 46, "\xe2\x82\xac", 3);
	long_line[sizeof long_line - 1] = '\0';
	expect_error(long_line, 0, "missing fields");
	assert_non_null(strstr(error.reason, "aaaa...'"));
	assert_null(strstr(error.reason, "\xe2"));
	expect_error("m\xff\xfe f=1", 2, "invalid UTF-8");
	assert_true(strncmp(error.reason, "unable to parse 'm?? f=1'", 25) == 0);
}

/* A buffer of good, bad and good lines: two points, one error, the right line. */
static void test_line_protocol_continues_after_bad_line(void **state)
{
	const char *text = "cpu,host=a value=1 1\ncpu,host=b value= 2\ncpu,host=c value=3 3\n";
	int points = 0, errors = 0, rc;
	uint64_t error_line = 0;

	(void)state;
	start(text, strlen(text), INGEST_LP_NS);
	for (int guard = 0; guard < 10 && (rc = ingest_lp_parser_next(&parser, &point, &error)) != 0; guard++) {
		if (rc == 1) {
			points++;
			assert_float_bits(field(0)->v.f, points == 1 ? 1.0 : 3.0);
			assert_true(point.line == (points == 1 ? 1u : 3u));
		} else {
			errors++;
			error_line = error.line;
			assert_int_equal(error.column, 18);
			assert_non_null(strstr(error.reason, "missing field value"));
		}
	}
	assert_int_equal(points, 2);
	assert_int_equal(errors, 1);
	assert_true(error_line == 2);
}

/* The parser can be reset onto new buffers and keeps working. */
static void test_line_protocol_reset_reuse(void **state)
{
	char buf[64];

	(void)state;
	for (int i = 0; i < 100; i++) {
		int n = snprintf(buf, sizeof buf, "m%d,t=%d f=%di %d\n", i, i, i, i);

		ingest_lp_parser_reset(&parser, buf, (size_t)n, INGEST_LP_S, 1);
		assert_int_equal(ingest_lp_parser_next(&parser, &point, &error), 1);
		assert_true(field(0)->v.i == i);
		assert_true(point.time_ns == (int64_t)i * 1000000000);
		assert_int_equal(ingest_lp_parser_next(&parser, &point, &error), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_line_protocol_full_point, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_no_tags_no_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_duplicate_fields_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_floats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_floats_match_strtod, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_integer_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_unsigned_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_booleans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_strings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_newline_in_string, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_escapes_measurement, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_escapes_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_escapes_field_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_names_every_offset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_unescape_contexts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_precisions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_timestamp_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_precision_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_structure_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_nul_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_time_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_many_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_many_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_line_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_blank_comment_crlf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_partial_last_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_error_positions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_error_message_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_continues_after_bad_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_protocol_reset_reuse, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
