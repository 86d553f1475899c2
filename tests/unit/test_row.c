/*
 * test_row.c — the row codec (lsm/row.h): round trips of every type at its
 * extremes, normalisation (sorted, last duplicate wins), merge semantics,
 * and malformed input: every truncation, every flipped byte and random
 * garbage decode to STRATA_ECORRUPT (or a valid row), never a crash.
 */
#include "lsm/alloc.h"
#include "lsm/coding.h"
#include "lsm/row.h"
#include "lsm/status.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>

#define MAXF 64

static lsm_row_field fl(uint32_t id, double v)
{
	lsm_row_field f = { .id = id, .type = LSM_FIELD_FLOAT };

	f.v.f = v;
	return f;
}

static lsm_row_field in(uint32_t id, int64_t v)
{
	lsm_row_field f = { .id = id, .type = LSM_FIELD_INT };

	f.v.i = v;
	return f;
}

static lsm_row_field un(uint32_t id, uint64_t v)
{
	lsm_row_field f = { .id = id, .type = LSM_FIELD_UINT };

	f.v.u = v;
	return f;
}

static lsm_row_field bo(uint32_t id, bool v)
{
	lsm_row_field f = { .id = id, .type = LSM_FIELD_BOOL };

	f.v.b = v;
	return f;
}

static lsm_row_field st(uint32_t id, const char *p, size_t len)
{
	lsm_row_field f = { .id = id, .type = LSM_FIELD_STRING };

	f.v.s.p = p;
	f.v.s.len = len;
	return f;
}

static uint64_t bits(double d)
{
	uint64_t b;

	memcpy(&b, &d, sizeof b);
	return b;
}

static double from_bits(uint64_t b)
{
	double d;

	memcpy(&d, &b, sizeof d);
	return d;
}

static void assert_field_eq(const lsm_row_field *a, const lsm_row_field *b)
{
	assert_int_equal(a->id, b->id);
	assert_int_equal(a->type, b->type);
	switch (a->type) {
	case LSM_FIELD_FLOAT:
		assert_true(bits(a->v.f) == bits(b->v.f)); /* bit for bit: NaN payloads, -0 */
		break;
	case LSM_FIELD_INT:
		assert_true(a->v.i == b->v.i);
		break;
	case LSM_FIELD_UINT:
		assert_true(a->v.u == b->v.u);
		break;
	case LSM_FIELD_BOOL:
		assert_int_equal(a->v.b, b->v.b);
		break;
	case LSM_FIELD_STRING:
		assert_int_equal(a->v.s.len, b->v.s.len);
		if (a->v.s.len)
			assert_memory_equal(a->v.s.p, b->v.s.p, a->v.s.len);
		break;
	default:
		fail();
	}
}

/* Encodes, decodes and compares; returns the encoded bytes (caller frees). */
static uint8_t *round_trip(const lsm_row_field *fields, size_t n, size_t *len_out)
{
	size_t cap = lsm_row_encoded_max(fields, n), len, got;
	uint8_t *buf = malloc(cap);
	lsm_row_field *out = calloc(n + 1, sizeof(*out));

	assert_non_null(buf);
	assert_non_null(out);
	len = lsm_row_encode(buf, cap, fields, n);
	assert_true(len > 0 && len <= cap);
	assert_int_equal(lsm_row_decode(buf, len, out, n + 1, &got), 0);
	assert_int_equal(got, n);
	assert_int_equal(lsm_row_count(buf, len), (long)n);
	for (size_t i = 0; i < n; i++)
		assert_field_eq(&fields[i], &out[i]);
	free(out);
	*len_out = len;
	return buf;
}

static void test_row_round_trip_extremes(void **state)
{
	static char big[65536];
	uint64_t nan_payload = 0x7ff8dead0000beefull, snan = 0x7ff0000000000001ull;
	lsm_row_field f[] = {
		fl(1, 0.0), fl(2, -0.0), fl(3, INFINITY), fl(4, -INFINITY), fl(5, from_bits(nan_payload)),
		fl(6, from_bits(snan)), fl(7, 1e-308), fl(8, -1.5),
		in(9, INT64_MIN), in(10, INT64_MAX), in(11, 0), in(12, -1), in(13, 1),
		un(14, 0), un(15, UINT64_MAX), un(16, 127), un(17, 128),
		bo(18, true), bo(19, false),
		st(20, "", 0), st(21, "hello", 5), st(22, big, sizeof big), st(23, "a\0b", 3),
		in(UINT32_MAX, 42),
	};
	size_t n = sizeof f / sizeof f[0], len;
	uint8_t *buf;

	(void)state;
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)(i * 7 + 1);
	buf = round_trip(f, n, &len);
	free(buf);
	/* Each alone, too. */
	for (size_t i = 0; i < n; i++) {
		buf = round_trip(&f[i], 1, &len);
		free(buf);
	}
	/* The empty row. */
	buf = round_trip(NULL, 0, &len);
	assert_int_equal(len, 1);
	free(buf);
}

static void test_row_encode_refuses_bad_input(void **state)
{
	lsm_row_field f[] = { in(2, 1), in(1, 2) };
	lsm_row_field dup[] = { in(1, 1), in(1, 2) };
	lsm_row_field bad = { .id = 1, .type = (enum lsm_field_type)9 };
	uint8_t buf[64];

	(void)state;
	assert_int_equal(lsm_row_encode(buf, sizeof buf, f, 2), 0);   /* not sorted */
	assert_int_equal(lsm_row_encode(buf, sizeof buf, dup, 2), 0); /* duplicate id */
	assert_int_equal(lsm_row_encode(buf, sizeof buf, &bad, 1), 0);
	/* cap too small */
	f[0] = in(1, INT64_MIN);
	assert_int_equal(lsm_row_encode(buf, 5, f, 1), 0);
	assert_true(lsm_row_encode(buf, sizeof buf, f, 1) > 5);
}

static void test_row_decode_too_many_fields(void **state)
{
	lsm_row_field f[] = { in(1, 1), in(2, 2), in(3, 3) }, out[2];
	uint8_t buf[64];
	size_t len = lsm_row_encode(buf, sizeof buf, f, 3), n = 99;

	(void)state;
	assert_true(len > 0);
	assert_int_equal(lsm_row_decode(buf, len, out, 2, &n), STRATA_ETOOBIG);
	assert_int_equal(lsm_row_decode(buf, len, out, 0, &n), STRATA_ETOOBIG);
}

static void test_row_normalize_keeps_last_duplicate(void **state)
{
	lsm_row_field f[] = { in(5, 1), in(2, 10), in(5, 2), fl(1, 3.0), in(2, 20), in(5, 3) };
	size_t n;

	(void)state;
	n = lsm_row_normalize(f, 6);
	assert_int_equal(n, 3);
	assert_int_equal(f[0].id, 1);
	assert_true(f[0].v.f == 3.0);
	assert_int_equal(f[1].id, 2);
	assert_true(f[1].v.i == 20);
	assert_int_equal(f[2].id, 5);
	assert_true(f[2].v.i == 3);
	/* Sorted input is left alone. */
	assert_int_equal(lsm_row_normalize(f, 3), 3);
	assert_int_equal(lsm_row_normalize(f, 0), 0);
}

static void test_row_normalize_large_stable(void **state)
{
	/* Over the insertion-sort threshold: 1000 fields over 100 ids, each id written 10 times. */
	enum { N = 1000, IDS = 100 };
	lsm_row_field *f = calloc(N, sizeof(*f));
	size_t n;

	(void)state;
	assert_non_null(f);
	for (int i = 0; i < N; i++)
		f[i] = in((uint32_t)((i * 37) % IDS + 1), i); /* value = input position */
	n = lsm_row_normalize(f, N);
	assert_int_equal(n, IDS);
	for (size_t i = 0; i < n; i++) {
		int64_t last = -1;

		assert_int_equal(f[i].id, i + 1);
		/* The last position in the input holding this id. */
		for (int j = 0; j < N; j++)
			if ((uint32_t)((j * 37) % IDS + 1) == f[i].id)
				last = j;
		assert_true(f[i].v.i == last);
	}
	free(f);
}

static uint8_t *enc(const lsm_row_field *f, size_t n, size_t *len)
{
	size_t cap = lsm_row_encoded_max(f, n);
	uint8_t *buf = malloc(cap);

	assert_non_null(buf);
	*len = lsm_row_encode(buf, cap, f, n);
	assert_true(*len > 0);
	return buf;
}

static void test_row_merge_newer_wins_union_sorted(void **state)
{
	lsm_row_field older[] = { in(1, 1), st(3, "old", 3), fl(5, 5.0), bo(9, true) };
	lsm_row_field newer[] = { in(2, 22), st(3, "newer", 5), un(7, 7), bo(9, false), in(11, -11) };
	lsm_row_field want[] = { in(1, 1), in(2, 22), st(3, "newer", 5), fl(5, 5.0), un(7, 7), bo(9, false), in(11, -11) };
	lsm_row_field out[MAXF];
	size_t lo, ln, lm, n;
	uint8_t *o = enc(older, 4, &lo), *nw = enc(newer, 5, &ln), *m = NULL;

	(void)state;
	assert_int_equal(lsm_row_merge(NULL, o, lo, nw, ln, &m, &lm), 0);
	assert_int_equal(lsm_row_decode(m, lm, out, MAXF, &n), 0);
	assert_int_equal(n, 7);
	for (size_t i = 0; i < n; i++)
		assert_field_eq(&want[i], &out[i]);
	free(m);

	/* Merging with an empty row gives the other one back. */
	{
		lsm_row_field none[1];
		size_t le;
		uint8_t *e = enc(none, 0, &le);

		assert_int_equal(lsm_row_merge(NULL, e, le, nw, ln, &m, &lm), 0);
		assert_int_equal(lm, ln);
		assert_memory_equal(m, nw, ln);
		free(m);
		assert_int_equal(lsm_row_merge(NULL, o, lo, e, le, &m, &lm), 0);
		assert_int_equal(lm, lo);
		assert_memory_equal(m, o, lo);
		free(m);
		assert_int_equal(lsm_row_merge(NULL, e, le, e, le, &m, &lm), 0);
		assert_int_equal(lm, 1);
		free(m);
		free(e);
	}
	/* Same ids in both: all from newer. */
	assert_int_equal(lsm_row_merge(NULL, nw, ln, nw, ln, &m, &lm), 0);
	assert_int_equal(lm, ln);
	assert_memory_equal(m, nw, ln);
	free(m);
	free(o);
	free(nw);
}

static void test_row_merge_rejects_corrupt(void **state)
{
	lsm_row_field a[] = { in(1, 1), in(4, 4) };
	size_t la, lm = 7;
	uint8_t *ra = enc(a, 2, &la), *m = (uint8_t *)"x";

	(void)state;
	for (size_t cut = 0; cut < la; cut++) {
		assert_int_equal(lsm_row_merge(NULL, ra, cut, ra, la, &m, &lm), STRATA_ECORRUPT);
		assert_null(m);
		assert_int_equal(lsm_row_merge(NULL, ra, la, ra, cut, &m, &lm), STRATA_ECORRUPT);
		assert_null(m);
	}
	free(ra);
}

static void test_row_every_truncation_is_corrupt(void **state)
{
	static char s[300];
	lsm_row_field f[] = { fl(1, 2.5), in(2, INT64_MIN), un(300, UINT64_MAX), bo(400, true),
			      st(70000, s, sizeof s), st(70001, "", 0) };
	lsm_row_field out[MAXF];
	size_t len, n;
	uint8_t *buf;

	(void)state;
	memset(s, 'x', sizeof s);
	buf = enc(f, 6, &len);
	for (size_t cut = 0; cut < len; cut++) {
		/* A copy of exactly cut bytes, so that ASan catches any read past it. */
		uint8_t *p = malloc(cut ? cut : 1);

		assert_non_null(p);
		memcpy(p, buf, cut);
		assert_int_equal(lsm_row_decode(p, cut, out, MAXF, &n), STRATA_ECORRUPT);
		assert_int_equal(lsm_row_count(p, cut), -1);
		free(p);
	}
	/* A trailing byte is damage too. */
	{
		uint8_t *p = malloc(len + 1);

		assert_non_null(p);
		memcpy(p, buf, len);
		p[len] = 0;
		assert_int_equal(lsm_row_decode(p, len + 1, out, MAXF, &n), STRATA_ECORRUPT);
		free(p);
	}
	free(buf);
}

static void test_row_structural_damage(void **state)
{
	lsm_row_field out[MAXF];
	size_t n;
	/* count 2, ids 5 then 5 */
	static const uint8_t dup[] = { 2, 5, LSM_FIELD_BOOL, 1, 5, LSM_FIELD_BOOL, 0 };
	/* ids descending */
	static const uint8_t desc[] = { 2, 5, LSM_FIELD_BOOL, 1, 4, LSM_FIELD_BOOL, 0 };
	/* bool 2 */
	static const uint8_t badbool[] = { 1, 5, LSM_FIELD_BOOL, 2 };
	/* type 0 and 6 */
	static const uint8_t type0[] = { 1, 5, 0, 1 };
	static const uint8_t type6[] = { 1, 5, 6, 1 };
	/* string longer than the row */
	static const uint8_t longstr[] = { 1, 5, LSM_FIELD_STRING, 10, 'a', 'b' };
	/* string length varint of 10 bytes, huge */
	static const uint8_t hugestr[] = { 1, 5, LSM_FIELD_STRING, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	/* field id over 32 bits */
	static const uint8_t bigid[] = { 1, 0x80, 0x80, 0x80, 0x80, 0x10, LSM_FIELD_BOOL, 1 };
	/* a count far over what the bytes can hold */
	static const uint8_t bigcount[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 1, LSM_FIELD_BOOL, 1 };
	/* an 11-byte varint */
	static const uint8_t longvar[] = { 1, 1, LSM_FIELD_INT, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 };
	const struct { const uint8_t *p; size_t len; } cases[] = {
		{ dup, sizeof dup }, { desc, sizeof desc }, { badbool, sizeof badbool }, { type0, sizeof type0 },
		{ type6, sizeof type6 }, { longstr, sizeof longstr }, { hugestr, sizeof hugestr },
		{ bigid, sizeof bigid }, { bigcount, sizeof bigcount }, { longvar, sizeof longvar },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(lsm_row_decode(cases[i].p, cases[i].len, out, MAXF, &n), STRATA_ECORRUPT);
		assert_int_equal(lsm_row_count(cases[i].p, cases[i].len), -1);
	}
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Checks that a row decode claims success for is well formed: re-encodes to the same bytes. */
static void check_accepted(const uint8_t *p, size_t len)
{
	lsm_row_field out[MAXF];
	uint8_t again[512];
	size_t n;

	if (lsm_row_decode(p, len, out, MAXF, &n) != 0)
		return;
	lsm_row_field back[MAXF];
	size_t len2, n2;

	assert_int_equal(lsm_row_count(p, len), (long)n);
	/* What decodes is a normalized row: it encodes again (varints may come out
	 * shorter when the input held non-minimal ones) and decodes the same. */
	len2 = lsm_row_encode(again, sizeof again, out, n);
	assert_true(len2 > 0 && len2 <= len);
	assert_int_equal(lsm_row_decode(again, len2, back, MAXF, &n2), 0);
	assert_int_equal(n2, n);
	for (size_t i = 0; i < n; i++)
		assert_field_eq(&out[i], &back[i]);
}

static void test_row_random_garbage_never_crashes(void **state)
{
	lsm_row_field out[MAXF];
	size_t n;

	(void)state;
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = (size_t)(rnd() % 64);
		uint8_t *p = malloc(len ? len : 1), *m = NULL;
		size_t lm;

		assert_non_null(p);
		for (size_t i = 0; i < len; i++)
			p[i] = (uint8_t)rnd();
		/* Small counts and plausible types make deeper paths likely. */
		if (len > 0 && iter % 2)
			p[0] = (uint8_t)(rnd() % 4);
		if (len > 2 && iter % 3)
			p[2] = (uint8_t)(rnd() % 7);
		(void)lsm_row_decode(p, len, out, MAXF, &n);
		(void)lsm_row_count(p, len);
		if (lsm_row_merge(NULL, p, len, p, len, &m, &lm) == 0)
			free(m);
		free(p);
	}
}

static void test_row_bit_flips_decode_or_corrupt(void **state)
{
	lsm_row_field f[] = { fl(1, 1.25), in(2, -5), un(3, 1000), bo(4, true), st(5, "abcdef", 6) };
	size_t len;
	uint8_t *buf;

	(void)state;
	buf = enc(f, 5, &len);
	for (size_t i = 0; i < len; i++) {
		for (int b = 0; b < 8; b++) {
			uint8_t *p = malloc(len);
			lsm_row_field out[MAXF];
			size_t n;
			int rc;

			assert_non_null(p);
			memcpy(p, buf, len);
			p[i] ^= (uint8_t)(1u << b);
			rc = lsm_row_decode(p, len, out, MAXF, &n);
			assert_true(rc == 0 || rc == STRATA_ECORRUPT);
			if (rc == 0)
				check_accepted(p, len);
			free(p);
		}
	}
	free(buf);
}

static void test_row_type_names(void **state)
{
	(void)state;
	assert_string_equal(lsm_field_type_name(LSM_FIELD_FLOAT), "float");
	assert_string_equal(lsm_field_type_name(LSM_FIELD_INT), "integer");
	assert_string_equal(lsm_field_type_name(LSM_FIELD_UINT), "unsigned");
	assert_string_equal(lsm_field_type_name(LSM_FIELD_STRING), "string");
	assert_string_equal(lsm_field_type_name(LSM_FIELD_BOOL), "boolean");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_row_round_trip_extremes),
		cmocka_unit_test(test_row_encode_refuses_bad_input),
		cmocka_unit_test(test_row_decode_too_many_fields),
		cmocka_unit_test(test_row_normalize_keeps_last_duplicate),
		cmocka_unit_test(test_row_normalize_large_stable),
		cmocka_unit_test(test_row_merge_newer_wins_union_sorted),
		cmocka_unit_test(test_row_merge_rejects_corrupt),
		cmocka_unit_test(test_row_every_truncation_is_corrupt),
		cmocka_unit_test(test_row_structural_damage),
		cmocka_unit_test(test_row_random_garbage_never_crashes),
		cmocka_unit_test(test_row_bit_flips_decode_or_corrupt),
		cmocka_unit_test(test_row_type_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
