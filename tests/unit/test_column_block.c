/*
 * test_column_block.c — data blocks stored as columns (lsm/column_block.c)
 * and SSTables written with them:
 * - thousands of random blocks (runs of series, regular and irregular
 *   timestamps, every field type with its edge values, sparse fields, rows
 *   without fields, deletes, merges, several restart intervals) encode and
 *   decode back to the very same bytes; each encoding is also walked by the
 *   layout of docs/format-sstable.md, which counts the methods chosen so the
 *   generator is known to reach every one;
 * - blocks the encoder cannot reproduce (a value that is not a canonical
 *   row, a delete with a value, ...) are refused with STRATA_EINVAL, which
 *   the table writer takes as "store this block as it is";
 * - damaged encodings (bytes flipped, cut, added) and wrong block sizes are
 *   STRATA_ECORRUPT, or now and then another well-formed block; inputs are
 *   copied into heap buffers of exactly their size, so ASan sees any read
 *   past them;
 * - tables written with columns read back exactly, carry their flags, and
 *   report a damaged column block (with a good checksum or not) as
 *   STRATA_ECORRUPT;
 * - the bytes per field value of the cpu-only workload with and without
 *   columns are printed (not asserted).
 * STRATA_COLUMN_SEED and STRATA_COLUMN_ROUNDS choose the seed and the
 * number of random blocks; a failure names the seed that rebuilds its block
 * as round 0.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "bench/cpu_workload.h"
#include "lsm/alloc.h"
#include "lsm/block.h"
#include "lsm/block_builder.h"
#include "lsm/block_cache.h"
#include "lsm/coding.h"
#include "lsm/column_block.h"
#include "lsm/column_parts.h"
#include "lsm/key.h"
#include "lsm/row.h"
#include "lsm/sstable.h"
#include "lsm/sstable_builder.h"
#include "lsm/sstable_format.h"
#include "lsm/status.h"
#include "tests/util.h"

#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define DEFAULT_SEED UINT64_C(20260101)
#define DEFAULT_ROUNDS 3000

static char test_dir[64];
static uint64_t seed;
static int rounds;

/* ---- random numbers ------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t mix64(uint64_t x)
{
	x += UINT64_C(0x9E3779B97F4A7C15);
	x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
	return x ^ (x >> 31);
}

static uint64_t rnd(void)
{
	rng_state += UINT64_C(0x9E3779B97F4A7C15);
	return mix64(rng_state);
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static bool chance(unsigned percent)
{
	return below(100) < percent;
}

static double unit(void)
{
	return (double)(rnd() >> 11) * 0x1p-53;
}

/* The seed of round r: round 0 is the seed itself, so a failing round replays alone. */
static uint64_t round_seed(uint64_t base, int r)
{
	return r == 0 ? base : mix64(base + (uint64_t)r);
}

/* ---- a set of entries: sorted internal keys and their values -------------- */

struct entries {
	size_t n, cap;
	uint8_t (*key)[LSM_IKEY_LEN];
	size_t *voff, *vlen; /* entry i's value: arena[voff[i], voff[i] + vlen[i]) */
	uint8_t *arena;
	size_t arena_len, arena_cap;
};

static void es_free(struct entries *es)
{
	strata_free(es->key);
	strata_free(es->voff);
	strata_free(es->vlen);
	strata_free(es->arena);
	memset(es, 0, sizeof *es);
}

static void es_add_key(struct entries *es, uint64_t series, int64_t ts, uint64_t seq, enum lsm_kind kind)
{
	uint8_t ukey[LSM_UKEY_LEN];

	if (es->n == es->cap) {
		es->cap = es->cap ? 2 * es->cap : 64;
		es->key = strata_realloc(es->key, es->cap * sizeof *es->key);
		es->voff = strata_realloc(es->voff, es->cap * sizeof *es->voff);
		es->vlen = strata_realloc(es->vlen, es->cap * sizeof *es->vlen);
		assert_non_null(es->key);
		assert_non_null(es->voff);
		assert_non_null(es->vlen);
	}
	lsm_ukey_encode(ukey, series, ts);
	lsm_ikey_encode(es->key[es->n], ukey, seq, kind);
	es->voff[es->n] = 0;
	es->vlen[es->n] = 0;
	es->n++;
}

static int cmp_ikey(const void *a, const void *b)
{
	return memcmp(a, b, LSM_IKEY_LEN);
}

/* Sorts the keys (no values yet) and drops repeated ones. */
static void es_sort_unique(struct entries *es)
{
	size_t out = 0;

	if (es->n > 1)
		qsort(es->key, es->n, sizeof *es->key, cmp_ikey);
	for (size_t i = 0; i < es->n; i++) {
		if (out > 0 && memcmp(es->key[out - 1], es->key[i], LSM_IKEY_LEN) == 0)
			continue;
		memmove(es->key[out++], es->key[i], LSM_IKEY_LEN);
	}
	es->n = out;
}

/* Sets entry i's value (a copy at the arena's end: a value may be set again). */
static void es_set_value(struct entries *es, size_t i, const void *p, size_t len)
{
	if (es->arena_len + len > es->arena_cap) {
		size_t cap = es->arena_cap ? es->arena_cap : 4096;

		while (cap < es->arena_len + len)
			cap *= 2;
		es->arena = strata_realloc(es->arena, cap);
		assert_non_null(es->arena);
		es->arena_cap = cap;
	}
	if (len)
		memcpy(es->arena + es->arena_len, p, len);
	es->voff[i] = es->arena_len;
	es->vlen[i] = len;
	es->arena_len += len;
}

static const uint8_t *es_value(const struct entries *es, size_t i)
{
	return es->arena ? es->arena + es->voff[i] : (const uint8_t *)"";
}

/* Runs of one series among entries [lo, hi). */
static size_t es_runs(const struct entries *es, size_t lo, size_t hi)
{
	size_t runs = 0;

	for (size_t i = lo; i < hi; i++)
		if (i == lo || lsm_ukey_series(es->key[i]) != lsm_ukey_series(es->key[i - 1]))
			runs++;
	return runs;
}

/* The block of entries [lo, hi) with the given restart interval, in a heap buffer of exactly *len bytes. */
static uint8_t *build_block(const struct entries *es, size_t lo, size_t hi, int interval, size_t *len)
{
	lsm_block_builder bb;
	const uint8_t *p;
	uint8_t *copy;

	lsm_block_builder_init(&bb, interval);
	for (size_t i = lo; i < hi; i++)
		assert_int_equal(lsm_block_builder_add(&bb, es->key[i], LSM_IKEY_LEN, es_value(es, i), es->vlen[i]), 0);
	assert_int_equal(lsm_block_builder_finish(&bb, &p, len), 0);
	copy = strata_malloc(*len);
	assert_non_null(copy);
	memcpy(copy, p, *len);
	lsm_block_builder_deinit(&bb);
	return copy;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t len)
{
	uint8_t *copy = strata_malloc(len ? len : 1);

	assert_non_null(copy);
	if (len)
		memcpy(copy, p, len);
	return copy;
}

/* ---- random keys -------------------------------------------------------- */

static const int64_t ts_edges[] = {
	INT64_MIN, INT64_MIN + 1, -INT64_C(1000000000000000000), -1000000000, -1, 0, 1, 1000000000,
	CPU_START_NS, INT64_C(1000000000000000000), INT64_MAX - 1, INT64_MAX,
};

enum ts_mode { TS_REGULAR, TS_JITTER, TS_GAPS, TS_VERSIONS, TS_RANDOM, TS_EDGES, TS_MODES };

/*
 * The timestamps of one run of count entries, in a mode drawn for it.
 * Reckoned modulo 2^64: a run that passes INT64_MAX wraps to the most
 * negative times, which the sort then puts first.
 */
static void gen_run_ts(int64_t *ts, size_t count)
{
	static const uint64_t steps[] = { 1, 1000, 1000000000, CPU_STEP_NS, UINT64_C(1) << 40 };
	static const int64_t starts[] = { CPU_START_NS, 0, -INT64_C(500000000000000000), INT64_MIN, -7 };
	enum ts_mode mode = (enum ts_mode)below(TS_MODES);
	uint64_t step = steps[below(N_OF(steps))];
	uint64_t t = (uint64_t)starts[below(N_OF(starts))];

	for (size_t k = 0; k < count; k++) {
		switch (mode) {
		case TS_REGULAR:
			ts[k] = (int64_t)t;
			t += step;
			break;
		case TS_JITTER:
			ts[k] = (int64_t)(t + below(step / 4 + 1) - step / 8);
			t += step;
			break;
		case TS_GAPS:
			ts[k] = (int64_t)t;
			t += chance(5) ? step * (1 + below(1000)) : step;
			break;
		case TS_VERSIONS: /* the same timestamp several times: versions of a point */
			ts[k] = (int64_t)t;
			if (chance(50))
				t += step;
			break;
		case TS_RANDOM:
			ts[k] = (int64_t)rnd();
			break;
		case TS_EDGES:
			ts[k] = (int64_t)((uint64_t)ts_edges[below(N_OF(ts_edges))] + below(3) - 1);
			break;
		case TS_MODES:
			break;
		}
	}
	if (mode == TS_REGULAR && chance(10)) /* the last point of time */
		ts[count - 1] = INT64_MAX;
}

struct key_params {
	unsigned p_delete, p_merge; /* percent of the entries */
};

/* About n random internal keys, sorted and unique; kinds in the proportions of fixed, or drawn. */
static void gen_keys(struct entries *es, size_t n, const struct key_params *fixed)
{
	static const unsigned deletes[] = { 0, 0, 3, 30, 100 };
	static const unsigned merges[] = { 0, 0, 10, 50, 100 };
	struct key_params kp = { deletes[below(5)], merges[below(5)] };
	size_t n_runs;
	uint64_t sid, seq_base = below(100) < 10 ? LSM_SEQ_MAX - 5000 : below(1u << 20);
	int seq_mode = (int)below(4);
	int64_t *ts = strata_malloc(n * sizeof *ts);
	size_t made = 0;

	assert_non_null(ts);
	if (fixed)
		kp = *fixed;
	switch (below(4)) {
	case 0: n_runs = 1; break;
	case 1: n_runs = 1 + below(5); break;
	case 2: n_runs = 1 + below(n); break;
	default: n_runs = n; break; /* a series per entry */
	}
	switch (below(5)) {
	case 0: sid = 0; break;
	case 1: sid = 1; break;
	case 2: sid = UINT64_MAX - n_runs * 3; break;
	default: sid = rnd() >> below(64); break;
	}
	for (size_t r = 0; r < n_runs && made < n; r++) {
		size_t count = r + 1 == n_runs ? n - made : 1 + below(2 * (n - made) / (n_runs - r));

		if (count > n - made)
			count = n - made;
		gen_run_ts(ts, count);
		for (size_t k = 0; k < count; k++) {
			uint64_t seq;
			enum lsm_kind kind = LSM_KIND_PUT;

			switch (seq_mode) {
			case 0: seq = seq_base; break;
			case 1: seq = seq_base + made + k; break;
			case 2: seq = below(LSM_SEQ_MAX + 1); break;
			default: seq = chance(50) ? 0 : LSM_SEQ_MAX - below(3); break;
			}
			if (chance(kp.p_delete))
				kind = LSM_KIND_DELETE;
			else if (chance(kp.p_merge))
				kind = LSM_KIND_MERGE;
			es_add_key(es, sid, ts[k], seq, kind);
		}
		made += count;
		/* Series ids wrap: the sort puts the runs in order whatever they are. */
		switch (below(4)) {
		case 0: sid += 1; break;
		case 1: sid += 1 + below(1000); break;
		case 2: sid = rnd(); break;
		default: sid += UINT64_C(1) << below(64); break;
		}
	}
	strata_free(ts);
	es_sort_unique(es);
}

/* ---- random rows -------------------------------------------------------- */

#define STR_MAX 2100
#define SCHEMA_MAX 48

static const uint64_t float_edges[] = {
	UINT64_C(0x0000000000000000), /* +0 */
	UINT64_C(0x8000000000000000), /* -0 */
	UINT64_C(0x7ff0000000000000), /* +Inf */
	UINT64_C(0xfff0000000000000), /* -Inf */
	UINT64_C(0x7ff8000000000000), /* quiet NaN */
	UINT64_C(0xfff8000000000000), /* negative quiet NaN */
	UINT64_C(0x7ff0000000000001), /* signalling NaN, payload 1 */
	UINT64_C(0x7ff4dead0000beef), /* NaN with a payload */
	UINT64_C(0xfff7ffffffffffff), /* negative NaN, every payload bit */
	UINT64_C(0x0000000000000001), /* smallest denormal */
	UINT64_C(0x000fffffffffffff), /* largest denormal */
	UINT64_C(0x800fffffffffffff), /* largest negative denormal */
	UINT64_C(0x0010000000000000), /* DBL_MIN */
	UINT64_C(0x7fefffffffffffff), /* DBL_MAX */
	UINT64_C(0xffefffffffffffff), /* -DBL_MAX */
	UINT64_C(0x3ff0000000000000), /* 1 */
	UINT64_C(0x3fb999999999999a), /* 0.1 */
};

static const int64_t int_edges[] = { INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX };
static const uint64_t uint_edges[] = { 0, 1, UINT64_C(1) << 63, UINT64_MAX - 1, UINT64_MAX };

enum value_mode {
	V_WALK,     /* floats: a random walk; integers: a counter */
	V_CONSTANT,
	V_EDGES,    /* the edge values above */
	V_RANDOM,   /* any 64 bits (floats: NaNs too) */
	V_WIDTH,    /* integers of a few bits; floats with integer values */
	V_MIXED,    /* mostly a walk, now and then an edge */
	V_MODES
};

enum string_mode { S_POOL, S_UNIQUE, S_EMPTY, S_MODES };

struct gen_field {
	uint32_t id;
	enum lsm_field_type type;
	unsigned presence; /* percent of the entries that have it */
	int mode;
	uint64_t n_pool, pool_seed; /* strings: drawn from n_pool values */
	bool long_strings, binary, cyclic;
	double f;
	uint64_t u, step, counter;
	unsigned width;
	bool b;
	char s[STR_MAX];
};

struct schema {
	size_t n;
	struct gen_field f[SCHEMA_MAX];
};

static void gen_schema(struct schema *s, bool allow_long)
{
	static const unsigned presence[] = { 100, 100, 100, 95, 50, 10, 1 };
	static const uint64_t pools[] = { 1, 2, 3, 8, 100, 256, 256, 257, 1000 };
	uint32_t id = (uint32_t)below(3);
	int id_mode = (int)below(4);
	bool all_float = chance(20);

	switch (below(10)) {
	case 0: s->n = 0; break;
	case 1: case 2: s->n = 1; break;
	case 3: case 4: case 5: case 6: s->n = 2 + below(5); break;
	case 7: case 8: s->n = 7 + below(10); break;
	default: s->n = 17 + below(SCHEMA_MAX - 16); break;
	}
	for (size_t k = 0; k < s->n; k++) {
		struct gen_field *g = &s->f[k];

		memset(g, 0, sizeof *g);
		if (k > 0 && chance(10)) {
			/* An id some rows hold with one type and others with another. */
			g->id = s->f[k - 1].id;
			g->type = (enum lsm_field_type)(1 + (s->f[k - 1].type % 5));
		} else {
			switch (id_mode) {
			case 0: g->id = id++; break;
			case 1: g->id = (uint32_t)below(64); break;
			case 2: g->id = (uint32_t)rnd(); break;
			default:
				g->id = chance(20) ? UINT32_MAX - (uint32_t)below(2) : (uint32_t)below(1u << 16);
				break;
			}
			g->type = all_float ? LSM_FIELD_FLOAT : (enum lsm_field_type)(1 + below(5));
		}
		g->presence = presence[below(N_OF(presence))];
		g->mode = (int)below(g->type == LSM_FIELD_STRING ? S_MODES + 1 : V_MODES);
		if (g->type == LSM_FIELD_STRING && g->mode == S_MODES) /* strings from a pool: the likeliest */
			g->mode = S_POOL;
		g->n_pool = pools[below(N_OF(pools))];
		g->pool_seed = rnd();
		g->long_strings = allow_long && chance(10);
		g->binary = chance(30);
		g->cyclic = chance(50);
		g->f = unit() * 100.0;
		g->u = rnd();
		g->step = (uint64_t)1 << below(12);
		g->width = (unsigned)below(65);
		g->b = chance(50);
	}
}

/* String k of a field's pool, into g->s; returns its length. */
static size_t pool_string(struct gen_field *g, uint64_t k)
{
	uint64_t h = mix64(g->pool_seed ^ mix64(k));
	size_t len = g->long_strings ? 100 + h % 2000 : h % 25;

	for (size_t i = 0; i < len; i++) {
		uint64_t b = mix64(h + i);

		g->s[i] = g->binary ? (char)(uint8_t)b : (char)('a' + b % 26);
	}
	return len;
}

static void draw(struct gen_field *g, lsm_row_field *out)
{
	uint64_t bits;

	out->id = g->id;
	out->type = g->type;
	switch (g->type) {
	case LSM_FIELD_FLOAT:
		switch (g->mode) {
		case V_WALK:
			g->f += (unit() - 0.5) * 2.0;
			break;
		case V_CONSTANT:
			break;
		case V_EDGES:
			memcpy(&g->f, &float_edges[below(N_OF(float_edges))], sizeof g->f);
			break;
		case V_RANDOM:
			bits = rnd();
			memcpy(&g->f, &bits, sizeof bits);
			break;
		case V_WIDTH:
			g->f = (double)(int64_t)(g->counter += 1 + below(g->step));
			break;
		default:
			if (chance(10)) {
				memcpy(&out->v.f, &float_edges[below(N_OF(float_edges))], sizeof out->v.f);
				return;
			}
			g->f = round((g->f + (unit() - 0.5)) * 100.0) / 100.0;
			break;
		}
		out->v.f = g->f;
		break;
	case LSM_FIELD_INT:
	case LSM_FIELD_UINT:
		switch (g->mode) {
		case V_WALK:
			g->u += below(g->step + 1);
			break;
		case V_CONSTANT:
			break;
		case V_EDGES:
			g->u = g->type == LSM_FIELD_INT ? (uint64_t)int_edges[below(N_OF(int_edges))]
							 : uint_edges[below(N_OF(uint_edges))];
			break;
		case V_RANDOM:
			g->u = rnd();
			break;
		case V_WIDTH:
			g->u = g->width == 64 ? rnd() : rnd() & ((UINT64_C(1) << g->width) - 1);
			if (g->type == LSM_FIELD_INT && chance(50))
				g->u = (uint64_t)-(int64_t)g->u;
			break;
		default:
			g->u += chance(10) ? rnd() : below(3);
			break;
		}
		if (g->type == LSM_FIELD_INT)
			out->v.i = (int64_t)g->u;
		else
			out->v.u = g->u;
		break;
	case LSM_FIELD_BOOL:
		if (g->mode == V_RANDOM || g->mode == V_MIXED)
			g->b = chance(50);
		else if (g->mode == V_WALK)
			g->b = !g->b;
		out->v.b = g->b;
		break;
	case LSM_FIELD_STRING:
		switch (g->mode) {
		case S_POOL: /* drawn at random, or every value of the pool in turn */
			out->v.s.len = pool_string(g, g->cyclic ? g->counter++ % g->n_pool : below(g->n_pool));
			break;
		case S_UNIQUE:
			out->v.s.len = pool_string(g, g->counter++);
			break;
		default:
			out->v.s.len = 0;
			break;
		}
		out->v.s.p = g->s;
		break;
	}
}

/* Counts of what the generator made. */
struct gen_stats {
	uint64_t entries, deletes, merges, empty_rows, fields;
};

/* Gives every entry of es (keys set, no values yet) its value: rows from the schema, deletes empty. */
static void gen_values(struct entries *es, struct schema *s, struct gen_stats *st)
{
	lsm_row_field fields[SCHEMA_MAX];
	uint8_t *row = NULL;
	size_t cap = 0;

	for (size_t i = 0; i < es->n; i++) {
		size_t nf = 0, len, need;

		if (lsm_ikey_kind(es->key[i]) == LSM_KIND_DELETE) {
			es_set_value(es, i, NULL, 0);
			if (st)
				st->deletes++;
			continue;
		}
		for (size_t k = 0; k < s->n; k++) {
			bool taken = false;

			if (!chance(s->f[k].presence))
				continue;
			for (size_t j = 0; j < nf; j++)
				taken |= fields[j].id == s->f[k].id;
			if (!taken)
				draw(&s->f[k], &fields[nf++]);
		}
		nf = lsm_row_normalize(fields, nf);
		need = lsm_row_encoded_max(fields, nf);
		if (need > cap) {
			row = strata_realloc(row, need);
			assert_non_null(row);
			cap = need;
		}
		len = lsm_row_encode(row, cap, fields, nf);
		assert_true(len > 0);
		es_set_value(es, i, row, len);
		if (st) {
			st->merges += lsm_ikey_kind(es->key[i]) == LSM_KIND_MERGE;
			st->empty_rows += nf == 0;
			st->fields += nf;
		}
	}
	if (st)
		st->entries += es->n;
	strata_free(row);
}

/* A random block's entries: n drawn from a spread of sizes. */
static void gen_block_entries(struct entries *es, size_t max_n, struct gen_stats *st)
{
	struct schema *s = strata_malloc(sizeof *s);
	size_t n;
	uint64_t r = below(100);

	assert_non_null(s);
	if (r < 5)
		n = 1;
	else if (r < 30)
		n = 2 + below(20);
	else if (r < 85)
		n = 20 + below(300);
	else
		n = 300 + below(1700);
	if (n > max_n)
		n = max_n;
	gen_keys(es, n, NULL);
	gen_schema(s, n <= 200);
	gen_values(es, s, st);
	strata_free(s);
}

static int pick_interval(void)
{
	static const int intervals[] = { 16, 16, 16, 1, 2, 3, 7, 32, 128, 1 << 20 };

	return intervals[below(N_OF(intervals))];
}

/* ---- reading an encoding by the documented layout ------------------------ */

struct enc_stats {
	uint64_t blocks, block_bytes, enc_bytes;
	uint64_t cols[6];            /* by field type */
	uint64_t float_xor, float_delta, str_dict, str_raw, dict_full;
};

#define GET_VARINT(p, end, v)                                                          \
	do {                                                                           \
		size_t k_ = lsm_get_varint64((p), (end), &(v));                        \
		if (k_ == 0)                                                           \
			return "a varint runs past the end";                           \
		(p) += k_;                                                             \
	} while (0)

/*
 * Walks enc as docs/format-sstable.md lays it out and checks what the
 * block says it must hold; NULL or what is wrong.
 */
static const char *walk_encoding(const uint8_t *p, size_t len, int interval, size_t n_entries, size_t n_runs,
				 struct enc_stats *st)
{
	const uint8_t *end = p + len;
	uint64_t v, n, runs, n_cols, total = 0, prev_id = 0;
	int prev_type = 0;

	GET_VARINT(p, end, v);
	if (v != (uint64_t)interval)
		return "the restart interval is not the block's";
	GET_VARINT(p, end, n);
	if (n != n_entries)
		return "the entry count is not the block's";
	GET_VARINT(p, end, runs);
	if (runs != n_runs)
		return "the run count is not the block's";
	for (uint64_t r = 0; r < runs; r++) {
		uint64_t count;

		GET_VARINT(p, end, v);
		GET_VARINT(p, end, count);
		if (count == 0)
			return "an empty run";
		total += count;
	}
	if (total != n)
		return "the runs do not cover the entries";
	for (uint64_t i = 0; i < 2 * n; i++) /* timestamps, then trailers */
		GET_VARINT(p, end, v);
	GET_VARINT(p, end, n_cols);
	for (uint64_t m = 0; m < n_cols; m++) {
		uint64_t id, plen;
		int type;
		const uint8_t *bitmap, *payload;

		GET_VARINT(p, end, id);
		if (p == end)
			return "a column cut before its type";
		type = *p++;
		if (type < LSM_FIELD_FLOAT || type > LSM_FIELD_BOOL)
			return "a column of an unknown type";
		if (m > 0 && (id < prev_id || (id == prev_id && type <= prev_type)))
			return "columns out of order";
		prev_id = id;
		prev_type = type;
		if ((size_t)(end - p) < (n + 7) / 8)
			return "a bitmap runs past the end";
		bitmap = p;
		p += (n + 7) / 8;
		if (n % 8 && (bitmap[n / 8] >> (n % 8)) != 0)
			return "bits set past the last entry";
		GET_VARINT(p, end, plen);
		if (plen > (uint64_t)(end - p))
			return "a payload runs past the end";
		payload = p;
		p += plen;
		st->cols[type]++;
		if (type == LSM_FIELD_FLOAT) {
			if (plen < 1 || payload[0] > 1)
				return "a float column without a known method";
			if (payload[0] == 0)
				st->float_xor++;
			else
				st->float_delta++;
		} else if (type == LSM_FIELD_STRING) {
			uint64_t n_dict;

			GET_VARINT(payload, payload + plen, n_dict);
			if (n_dict > 256)
				return "a dictionary of more than 256 strings";
			if (n_dict)
				st->str_dict++;
			else
				st->str_raw++;
			st->dict_full += n_dict == 256;
		}
	}
	if (p != end)
		return "bytes after the last column";
	st->blocks++;
	st->enc_bytes += len;
	return NULL;
}

/*
 * Encodes entries [lo, hi) built as a block with interval, checks the
 * encoding's layout and decodes it back; NULL or what went wrong.
 */
static const char *roundtrip(const struct entries *es, size_t lo, size_t hi, int interval, struct enc_stats *st)
{
	size_t len, enc_len;
	uint8_t *block = build_block(es, lo, hi, interval, &len);
	uint8_t *enc = NULL, *exact = NULL, *dec = NULL;
	const char *why = NULL;
	int rc;

	rc = lsm_column_encode(block, len, interval, &enc, &enc_len);
	if (rc) {
		why = strata_last_error();
		goto out;
	}
	why = walk_encoding(enc, enc_len, interval, hi - lo, es_runs(es, lo, hi), st);
	if (why)
		goto out;
	/* Decoded from a buffer of exactly its size: ASan sees any read past it. */
	exact = dup_bytes(enc, enc_len);
	rc = lsm_column_decode(exact, enc_len, len, &dec);
	if (rc) {
		why = "the encoding does not decode";
		goto out;
	}
	if (memcmp(dec, block, len) != 0) {
		why = "the decoded block differs";
		goto out;
	}
	strata_free(dec);
	dec = NULL;
	if (lsm_column_decode(exact, enc_len, len + 1, &dec) != STRATA_ECORRUPT || dec ||
	    lsm_column_decode(exact, enc_len, len - 1, &dec) != STRATA_ECORRUPT || dec)
		why = "a wrong block size is not STRATA_ECORRUPT";
	st->block_bytes += len;
out:
	strata_free(dec);
	strata_free(exact);
	strata_free(enc);
	strata_free(block);
	return why;
}

/* ---- checks of a decoded block ------------------------------------------ */

/*
 * What a decoder may give back: a block of len bytes whose entries are
 * internal keys in ascending order, deletes without a value and canonical
 * rows otherwise. Returns the number of entries.
 */
static size_t check_decoded_block(const uint8_t *data, size_t len)
{
	lsm_block *blk;
	lsm_iter *it;
	uint8_t prev[LSM_IKEY_LEN];
	size_t n = 0;

	assert_int_equal(lsm_block_new(&blk, dup_bytes(data, len), len), 0);
	it = lsm_block_iter_new(blk);
	assert_non_null(it);
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), n++) {
		size_t klen, vlen;
		const uint8_t *k = lsm_iter_key(it, &klen), *v = lsm_iter_value(it, &vlen);
		enum lsm_kind kind;

		assert_int_equal(klen, LSM_IKEY_LEN);
		if (n > 0)
			assert_true(memcmp(prev, k, LSM_IKEY_LEN) < 0);
		memcpy(prev, k, LSM_IKEY_LEN);
		kind = lsm_ikey_kind(k);
		assert_true(kind == LSM_KIND_DELETE || kind == LSM_KIND_PUT || kind == LSM_KIND_MERGE);
		if (kind == LSM_KIND_DELETE) {
			assert_int_equal(vlen, 0);
		} else {
			long count = lsm_row_count(v, vlen);
			lsm_row_field *f;
			size_t nf, need;
			uint8_t *again;

			assert_true(count >= 0);
			f = strata_malloc(((size_t)count + 1) * sizeof *f);
			assert_non_null(f);
			assert_int_equal(lsm_row_decode(v, vlen, f, (size_t)count, &nf), 0);
			need = lsm_row_encoded_max(f, nf);
			again = strata_malloc(need);
			assert_non_null(again);
			assert_int_equal(lsm_row_encode(again, need, f, nf), vlen);
			assert_memory_equal(again, v, vlen);
			strata_free(again);
			strata_free(f);
		}
	}
	assert_int_equal(lsm_iter_status(it), 0);
	assert_true(n > 0);
	lsm_iter_free(it);
	lsm_block_free(blk);
	return n;
}

/* ---- random round trips -------------------------------------------------- */

static void test_column_block_random_roundtrip(void **state)
{
	struct enc_stats st = { 0 };
	struct gen_stats gs = { 0 };

	(void)state;
	print_message("column round trips: STRATA_COLUMN_SEED=%" PRIu64 " STRATA_COLUMN_ROUNDS=%d\n", seed, rounds);
	for (int r = 0; r < rounds; r++) {
		struct entries es = { 0 };
		uint64_t rs = round_seed(seed, r);
		const char *why;
		int interval;

		rng_state = rs;
		gen_block_entries(&es, SIZE_MAX, &gs);
		interval = pick_interval();
		why = roundtrip(&es, 0, es.n, interval, &st);
		if (why)
			fail_msg("round %d (STRATA_COLUMN_SEED=%" PRIu64 " STRATA_COLUMN_ROUNDS=1 replays it): "
				 "%zu entries, restart interval %d: %s",
				 r, rs, es.n, interval, why);
		es_free(&es);
	}
	print_message("  %" PRIu64 " blocks, %" PRIu64 " entries (%" PRIu64 " deletes, %" PRIu64 " merges, %" PRIu64
		      " rows without fields), %" PRIu64 " field values\n",
		      st.blocks, gs.entries, gs.deletes, gs.merges, gs.empty_rows, gs.fields);
	print_message("  columns: %" PRIu64 " float (%" PRIu64 " XOR, %" PRIu64 " deltas), %" PRIu64
		      " integer, %" PRIu64 " unsigned, %" PRIu64 " boolean, %" PRIu64 " string (%" PRIu64
		      " dictionary, %" PRIu64 " of 256, %" PRIu64 " raw)\n",
		      st.cols[LSM_FIELD_FLOAT], st.float_xor, st.float_delta, st.cols[LSM_FIELD_INT],
		      st.cols[LSM_FIELD_UINT], st.cols[LSM_FIELD_BOOL], st.cols[LSM_FIELD_STRING], st.str_dict,
		      st.dict_full, st.str_raw);
	print_message("  %" PRIu64 " block bytes as %" PRIu64 " column bytes (before zstd)\n", st.block_bytes,
		      st.enc_bytes);
	assert_int_equal(st.blocks, (uint64_t)rounds);
	/* Enough rounds reach every encoding the format has. */
	if (rounds >= 1000) {
		assert_true(st.float_xor > 0 && st.float_delta > 0);
		assert_true(st.str_dict > 0 && st.str_raw > 0);
		assert_true(st.cols[LSM_FIELD_INT] > 0 && st.cols[LSM_FIELD_UINT] > 0 && st.cols[LSM_FIELD_BOOL] > 0);
		assert_true(gs.deletes > 0 && gs.merges > 0 && gs.empty_rows > 0);
	}
}

/* Hand-made blocks at the edges: one entry, the extreme keys, every edge value in one row. */
static void test_column_block_edges(void **state)
{
	struct enc_stats st = { 0 };
	struct entries es = { 0 };
	lsm_row_field f[16];
	uint8_t row[1024];
	size_t nf = 0, len;
	static const char bin[] = { 0, (char)0xff, 'a', 0, '\n', (char)0x80 };
	double d;
	const char *why;

	(void)state;
	/* The edge values of every type: one series, each entry a field of every type. */
	for (size_t i = 0; i < N_OF(float_edges); i++)
		es_add_key(&es, UINT64_MAX, ts_edges[i % N_OF(ts_edges)], LSM_SEQ_MAX - i,
			   i % 3 == 1 ? LSM_KIND_MERGE : LSM_KIND_PUT);
	es_sort_unique(&es);
	assert_int_equal(es.n, N_OF(float_edges));
	for (size_t i = 0; i < es.n; i++) {
		nf = 0;
		memcpy(&d, &float_edges[i], sizeof d);
		f[nf++] = (lsm_row_field){ .id = 0, .type = LSM_FIELD_FLOAT, .v.f = d };
		f[nf++] = (lsm_row_field){ .id = 1, .type = LSM_FIELD_INT,
					   .v.i = int_edges[i % N_OF(int_edges)] };
		f[nf++] = (lsm_row_field){ .id = 2, .type = LSM_FIELD_UINT,
					   .v.u = uint_edges[i % N_OF(uint_edges)] };
		f[nf++] = (lsm_row_field){ .id = 3, .type = LSM_FIELD_BOOL, .v.b = i % 2 };
		f[nf++] = (lsm_row_field){ .id = 4, .type = LSM_FIELD_STRING,
					   .v.s = { bin, i % (sizeof bin + 1) } };
		f[nf++] = (lsm_row_field){ .id = UINT32_MAX, .type = LSM_FIELD_FLOAT, .v.f = DBL_MAX };
		len = lsm_row_encode(row, sizeof row, f, nf);
		assert_true(len > 0);
		es_set_value(&es, i, row, len);
	}
	for (int interval = 1; interval <= 17; interval += 4) {
		why = roundtrip(&es, 0, es.n, interval, &st);
		if (why)
			fail_msg("edge values, interval %d: %s", interval, why);
	}
	es_free(&es);

	/* One entry: a row without fields; then one delete at the smallest key. */
	es_add_key(&es, 0, INT64_MIN, 0, LSM_KIND_PUT);
	len = lsm_row_encode(row, sizeof row, f, 0);
	assert_int_equal(len, 1);
	es_set_value(&es, 0, row, len);
	assert_null(roundtrip(&es, 0, 1, 16, &st));
	es_free(&es);
	es_add_key(&es, 0, INT64_MIN, 0, LSM_KIND_DELETE);
	es_set_value(&es, 0, NULL, 0);
	assert_null(roundtrip(&es, 0, 1, 16, &st));
	es_free(&es);

	/* Deletes only, across series with the largest ids and sequence numbers. */
	for (uint64_t i = 0; i < 100; i++)
		es_add_key(&es, UINT64_MAX - i / 7, INT64_MAX - (int64_t)(i % 7), LSM_SEQ_MAX - i, LSM_KIND_DELETE);
	es_sort_unique(&es);
	for (size_t i = 0; i < es.n; i++)
		es_set_value(&es, i, NULL, 0);
	assert_null(roundtrip(&es, 0, es.n, 16, &st));
	es_free(&es);
	assert_int_equal(st.blocks, 8);

	/*
	 * Dictionary bounds: 256 distinct strings are a dictionary, 257 are
	 * not; and one is used when each string comes at least twice.
	 */
	{
		static const struct {
			size_t n, distinct;
			bool dict;
		} bounds[] = { { 512, 256, true }, { 1028, 257, false }, { 20, 10, true }, { 19, 10, false },
			  { 2, 1, true }, { 1, 1, false } };

		for (size_t c = 0; c < N_OF(bounds); c++) {
			struct enc_stats ds = { 0 };
			char text[16];

			for (size_t i = 0; i < bounds[c].n; i++)
				es_add_key(&es, 7, (int64_t)i, 1, LSM_KIND_PUT);
			for (size_t i = 0; i < bounds[c].n; i++) {
				f[0] = (lsm_row_field){ .id = 1, .type = LSM_FIELD_STRING,
							.v.s = { text, (size_t)snprintf(text, sizeof text, "s%zu",
											i % bounds[c].distinct) } };
				len = lsm_row_encode(row, sizeof row, f, 1);
				es_set_value(&es, i, row, len);
			}
			assert_null(roundtrip(&es, 0, es.n, 16, &ds));
			assert_int_equal(ds.str_dict, bounds[c].dict);
			assert_int_equal(ds.str_raw, !bounds[c].dict);
			assert_int_equal(ds.dict_full, bounds[c].dict && bounds[c].distinct == 256);
			es_free(&es);
		}
	}
}

/* ---- refusals ------------------------------------------------------------ */

/* Encoding es as a block must be refused with STRATA_EINVAL, and nothing returned. */
static void assert_refused(const struct entries *es, int interval, const char *what)
{
	size_t len, enc_len = 7;
	uint8_t *block = build_block(es, 0, es->n, interval, &len);
	uint8_t *enc = (uint8_t *)&enc_len;
	int rc = lsm_column_encode(block, len, interval, &enc, &enc_len);

	if (rc != STRATA_EINVAL)
		fail_msg("%s: lsm_column_encode gave %d (%s), not STRATA_EINVAL", what, rc, strata_strerror(rc));
	assert_null(enc);
	assert_int_equal(enc_len, 0);
	strata_free(block);
}

/*
 * A random block (from seed rs) with one entry, *at, given the kind and the
 * value v instead of its own; an entry whose new key still sorts between
 * its neighbours.
 */
static void with_value(struct entries *out, uint64_t rs, const uint8_t *v, size_t vlen, enum lsm_kind kind,
		       size_t *at)
{
	struct entries es = { 0 };
	uint8_t ukey[LSM_UKEY_LEN], key[LSM_IKEY_LEN];
	size_t i = 0;
	bool found = false;

	rng_state = rs;
	for (int tries = 0; tries < 100 && !found; tries++) {
		es_free(&es);
		gen_block_entries(&es, 400, NULL);
		for (int k = 0; k < 10 && !found; k++) {
			i = below(es.n);
			lsm_ukey_encode(ukey, lsm_ukey_series(es.key[i]), lsm_ukey_ts(es.key[i]));
			lsm_ikey_encode(key, ukey, lsm_ikey_seq(es.key[i]), kind);
			found = (i == 0 || memcmp(es.key[i - 1], key, LSM_IKEY_LEN) < 0) &&
				(i + 1 == es.n || memcmp(key, es.key[i + 1], LSM_IKEY_LEN) < 0);
		}
	}
	assert_true(found);
	memset(out, 0, sizeof *out);
	for (size_t k = 0; k < es.n; k++) {
		const uint8_t *kk = es.key[k];

		es_add_key(out, lsm_ukey_series(kk), lsm_ukey_ts(kk), lsm_ikey_seq(kk),
			   k == i ? kind : lsm_ikey_kind(kk));
	}
	for (size_t k = 0; k < es.n; k++) {
		if (k == i)
			es_set_value(out, k, v, vlen);
		else
			es_set_value(out, k, es_value(&es, k), es.vlen[k]);
	}
	*at = i;
	es_free(&es);
}

static void test_column_block_refusals(void **state)
{
	/*
	 * Entries the encoder cannot reproduce: values that are no row, rows in
	 * a form lsm_row_encode never writes, deletes with a value, unknown kinds.
	 */
	static const struct {
		const char *what;
		uint8_t v[12];
		size_t len;
		enum lsm_kind kind;
	} bad[] = {
		{ "not a row", { 0xff, 0xff, 0xff }, 3, LSM_KIND_PUT },
		{ "a row with a byte after it", { 1, 1, LSM_FIELD_BOOL, 1, 0 }, 5, LSM_KIND_PUT },
		{ "a field count of two bytes", { 0x81, 0x00, 1, LSM_FIELD_BOOL, 1 }, 5, LSM_KIND_MERGE },
		{ "a field id of two bytes", { 1, 0x81, 0x00, LSM_FIELD_BOOL, 1 }, 5, LSM_KIND_PUT },
		{ "an integer of two bytes", { 1, 1, LSM_FIELD_INT, 0x80, 0x00 }, 5, LSM_KIND_PUT },
		{ "a string length of two bytes", { 1, 1, LSM_FIELD_STRING, 0x81, 0x00, 'x' }, 6, LSM_KIND_PUT },
		{ "a boolean of 2", { 1, 1, LSM_FIELD_BOOL, 2 }, 4, LSM_KIND_PUT },
		{ "field ids out of order", { 2, 5, LSM_FIELD_BOOL, 1, 3, LSM_FIELD_BOOL, 0 }, 7, LSM_KIND_PUT },
		{ "a field twice", { 2, 3, LSM_FIELD_BOOL, 1, 3, LSM_FIELD_INT, 0 }, 7, LSM_KIND_PUT },
		{ "a field of type 9", { 1, 1, 9, 0 }, 4, LSM_KIND_PUT },
		{ "an empty value that is not a delete", { 0 }, 0, LSM_KIND_PUT },
		{ "a delete with a row", { 1, 1, LSM_FIELD_BOOL, 1 }, 4, LSM_KIND_DELETE },
		{ "a delete with an empty row", { 0 }, 1, LSM_KIND_DELETE },
		{ "an entry of kind 3", { 0 }, 1, (enum lsm_kind)3 },
		{ "an entry of kind 255", { 0 }, 1, (enum lsm_kind)255 },
	};
	struct entries es = { 0 };
	lsm_block_builder bb;
	const uint8_t *p;
	uint8_t ukey[LSM_UKEY_LEN], ikey[LSM_IKEY_LEN], *enc;
	size_t len, enc_len;
	char what[160];

	(void)state;
	for (size_t b = 0; b < N_OF(bad); b++) {
		for (int r = 0; r < 20; r++) {
			size_t at;

			with_value(&es, round_seed(seed ^ 0xbad, (int)(b * 20 + (size_t)r)), bad[b].v, bad[b].len,
				   bad[b].kind, &at);
			snprintf(what, sizeof what, "%s (entry %zu of %zu)", bad[b].what, at, es.n);
			assert_refused(&es, 16, what);
			es_free(&es);
		}
	}

	/* The restart interval must be the block's, and at least 1. */
	rng_state = seed;
	for (int tries = 0; tries < 1000 && es.n < 40; tries++) {
		es_free(&es);
		gen_block_entries(&es, 400, NULL);
	}
	assert_true(es.n >= 40);
	{
		uint8_t *block = build_block(&es, 0, es.n, 16, &len);

		assert_int_equal(lsm_column_encode(block, len, 4, &enc, &enc_len), STRATA_EINVAL);
		assert_int_equal(lsm_column_encode(block, len, 32, &enc, &enc_len), STRATA_EINVAL);
		assert_int_equal(lsm_column_encode(block, len, 0, &enc, &enc_len), STRATA_EINVAL);
		assert_int_equal(lsm_column_encode(block, len, -1, &enc, &enc_len), STRATA_EINVAL);
		assert_null(enc);
		strata_free(block);
	}
	/* An interval past what a decoder accepts (2^20), though the block has it. */
	assert_refused(&es, (1 << 20) + 1, "restart interval 2^20 + 1");
	es_free(&es);

	/* Keys that are not internal keys. */
	lsm_block_builder_init(&bb, 16);
	lsm_ukey_encode(ukey, 1, 1);
	assert_int_equal(lsm_block_builder_add(&bb, ukey, sizeof ukey, (const uint8_t *)"\0", 1), 0);
	assert_int_equal(lsm_block_builder_finish(&bb, &p, &len), 0);
	assert_int_equal(lsm_column_encode(p, len, 16, &enc, &enc_len), STRATA_EINVAL);
	lsm_block_builder_reset(&bb);
	lsm_ikey_encode(ikey, ukey, 1, LSM_KIND_PUT);
	assert_int_equal(lsm_block_builder_add(&bb, ikey, sizeof ikey, (const uint8_t *)"\0", 1), 0);
	assert_int_equal(lsm_block_builder_add(&bb, (const uint8_t *)"\xff\xff", 2, (const uint8_t *)"\0", 1), 0);
	assert_int_equal(lsm_block_builder_finish(&bb, &p, &len), 0);
	assert_int_equal(lsm_column_encode(p, len, 16, &enc, &enc_len), STRATA_EINVAL);
	/* A block without entries. */
	lsm_block_builder_reset(&bb);
	assert_int_equal(lsm_block_builder_finish(&bb, &p, &len), 0);
	assert_int_equal(lsm_column_encode(p, len, 16, &enc, &enc_len), STRATA_EINVAL);
	assert_null(enc);
	lsm_block_builder_deinit(&bb);
}

/* ---- damage ------------------------------------------------------------- */

struct damage_stats {
	uint64_t decodes, corrupt, other_block;
};

/*
 * Decodes in[0, len) (copied into a buffer of exactly that size) expecting
 * a block of block_len bytes: STRATA_ECORRUPT with a message, or, unless
 * must_fail, a well-formed block of that size.
 */
static void decode_damaged(const uint8_t *in, size_t len, size_t block_len, bool must_fail, struct damage_stats *ds)
{
	uint8_t *exact = dup_bytes(in, len), *out = (uint8_t *)&len;
	int rc = lsm_column_decode(exact, len, block_len, &out);

	ds->decodes++;
	if (rc == STRATA_ECORRUPT) {
		assert_null(out);
		assert_true(strncmp(strata_last_error(), "column block: ", 14) == 0);
		ds->corrupt++;
	} else {
		if (rc != 0 || must_fail)
			fail_msg("damaged encoding of %zu bytes (block of %zu): rc %d, expected STRATA_ECORRUPT", len,
				 block_len, rc);
		assert_non_null(out);
		check_decoded_block(out, block_len);
		ds->other_block++;
	}
	strata_free(out);
	strata_free(exact);
}

static void test_column_block_damage(void **state)
{
	struct damage_stats ds = { 0 };
	int n_rounds = rounds / 5 > 100 ? rounds / 5 : 100;

	(void)state;
	for (int r = 0; r < n_rounds; r++) {
		struct entries es = { 0 };
		struct enc_stats st = { 0 };
		size_t len, enc_len;
		uint8_t *block, *enc, *m;
		int interval;

		rng_state = round_seed(seed ^ 0xda3a9e, r);
		gen_block_entries(&es, 300, NULL);
		interval = pick_interval();
		block = build_block(&es, 0, es.n, interval, &len);
		assert_int_equal(lsm_column_encode(block, len, interval, &enc, &enc_len), 0);
		assert_null(walk_encoding(enc, enc_len, interval, es.n, es_runs(&es, 0, es.n), &st));
		m = strata_malloc(enc_len + 32);
		assert_non_null(m);

		/* Another expected size. */
		decode_damaged(enc, enc_len, 0, true, &ds);
		decode_damaged(enc, enc_len, len - 1, true, &ds);
		decode_damaged(enc, enc_len, len + 1, true, &ds);
		decode_damaged(enc, enc_len, 2 * len, true, &ds);
		decode_damaged(enc, enc_len, SIZE_MAX, true, &ds);
		/* Cut short anywhere: a prefix never parses to its end. */
		decode_damaged(enc, 0, len, true, &ds);
		decode_damaged(enc, enc_len - 1, len, true, &ds);
		for (int k = 0; k < 8; k++)
			decode_damaged(enc, (size_t)below(enc_len), len, true, &ds);
		/* Bytes after it: never read as part of it. */
		for (int k = 0; k < 4; k++) {
			size_t extra = 1 + below(16);

			memcpy(m, enc, enc_len);
			for (size_t j = 0; j < extra; j++)
				m[enc_len + j] = k == 0 ? 0 : (uint8_t)rnd();
			decode_damaged(m, enc_len + extra, len, true, &ds);
		}
		/* Flipped bits: damage, or now and then another well-formed block. */
		for (int k = 0; k < 24; k++) {
			int flips = 1 + (int)below(3);

			memcpy(m, enc, enc_len);
			for (int j = 0; j < flips; j++)
				m[below(enc_len)] ^= (uint8_t)(1u << below(8));
			if (k % 4 == 3)
				m[below(enc_len)] = (uint8_t)rnd();
			decode_damaged(m, enc_len, len, false, &ds);
		}
		/* A byte taken out or put in. */
		for (int k = 0; k < 4; k++) {
			size_t at = below(enc_len);

			memcpy(m, enc, at);
			if (k % 2) {
				memcpy(m + at, enc + at + 1, enc_len - at - 1);
				decode_damaged(m, enc_len - 1, len, false, &ds);
			} else {
				m[at] = (uint8_t)rnd();
				memcpy(m + at + 1, enc + at, enc_len - at);
				decode_damaged(m, enc_len + 1, len, false, &ds);
			}
		}
		strata_free(m);
		strata_free(enc);
		strata_free(block);
		es_free(&es);
	}
	/* Bytes that were never an encoding. */
	rng_state = seed ^ 0x9a7ba9e;
	for (int k = 0; k < 20 * n_rounds; k++) {
		uint8_t g[96];
		size_t glen = below(sizeof g + 1);

		for (size_t j = 0; j < glen; j++)
			g[j] = chance(30) ? (uint8_t)below(4) : (uint8_t)rnd();
		decode_damaged(g, glen, below(4096), false, &ds);
	}
	print_message("damage: %" PRIu64 " decodes, %" PRIu64 " STRATA_ECORRUPT, %" PRIu64
		      " another well-formed block\n",
		      ds.decodes, ds.corrupt, ds.other_block);
	assert_true(ds.corrupt > ds.decodes / 2);
}

/* ---- SSTables with column blocks ----------------------------------------- */

struct block_types {
	uint64_t n[LSM_SST_COMP_PARTS + 1]; /* data blocks by trailer type */
	uint64_t first_columns_off, first_columns_size; /* the first of type COLUMNS */
	uint64_t first_parts_off, first_parts_size;     /* the first of type PARTS */
};

static uint8_t *read_whole(const char *path, size_t *len)
{
	long long size = test_file_size(path);
	uint8_t *buf;
	int fd = open(path, O_RDONLY);

	assert_true(size > 0 && fd >= 0);
	buf = strata_malloc((size_t)size);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)size, 0), size);
	close(fd);
	*len = (size_t)size;
	return buf;
}

static void write_whole(const char *path, const uint8_t *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, len, 0), (ssize_t)len);
	close(fd);
}

/* The data blocks of a table by trailer type, read through its index. */
static void count_block_types(const char *path, struct block_types *bt)
{
	size_t len, raw_len = 0;
	uint8_t *f = read_whole(path, &len), *raw;
	const uint8_t *footer = f + len - LSM_SST_FOOTER_LEN;
	uint64_t off = lsm_get_le64(footer + LSM_SST_FOOTER_INDEX);
	uint64_t size = lsm_get_le64(footer + LSM_SST_FOOTER_INDEX + 8);
	lsm_block *idx;
	lsm_iter *it;

	memset(bt, 0, sizeof *bt);
	assert_true(off + size + LSM_SST_TRAILER_LEN <= len);
	if (f[off + size] == LSM_SST_COMP_ZSTD) {
		uint64_t want = 0;
		size_t n = lsm_get_varint64(f + off, f + off + size, &want);

		assert_true(n > 0);
		raw = strata_malloc((size_t)want);
		assert_non_null(raw);
		raw_len = ZSTD_decompress(raw, (size_t)want, f + off + n, (size_t)size - n);
		assert_int_equal(raw_len, want);
	} else {
		assert_int_equal(f[off + size], LSM_SST_COMP_RAW);
		raw = dup_bytes(f + off, (size_t)size);
		raw_len = (size_t)size;
	}
	assert_int_equal(lsm_block_new(&idx, raw, raw_len), 0);
	it = lsm_block_iter_new(idx);
	assert_non_null(it);
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t vlen, n;
		const uint8_t *v = lsm_iter_value(it, &vlen);
		uint64_t boff = 0, bsize = 0;

		n = lsm_get_varint64(v, v + vlen, &boff);
		assert_true(n > 0);
		assert_true(lsm_get_varint64(v + n, v + vlen, &bsize) > 0);
		assert_true(boff + bsize + LSM_SST_TRAILER_LEN <= len);
		assert_true(f[boff + bsize] <= LSM_SST_COMP_PARTS);
		if (f[boff + bsize] == LSM_SST_COMP_COLUMNS && bt->n[LSM_SST_COMP_COLUMNS] == 0) {
			bt->first_columns_off = boff;
			bt->first_columns_size = bsize;
		}
		if (f[boff + bsize] == LSM_SST_COMP_PARTS && bt->n[LSM_SST_COMP_PARTS] == 0) {
			bt->first_parts_off = boff;
			bt->first_parts_size = bsize;
		}
		bt->n[f[boff + bsize]]++;
	}
	assert_int_equal(lsm_iter_status(it), 0);
	lsm_iter_free(it);
	lsm_block_free(idx);
	strata_free(f);
}

static void write_table(const char *path, const struct entries *es, const lsm_sst_options *opt, lsm_sst_props *props)
{
	lsm_sst_builder *b;

	assert_int_equal(lsm_sst_builder_open(&b, path, 3, LSM_WINDOW_LEGACY_NS, opt), 0);
	for (size_t i = 0; i < es->n; i++)
		assert_int_equal(lsm_sst_builder_add(b, es->key[i], LSM_IKEY_LEN, es_value(es, i), es->vlen[i]), 0);
	assert_int_equal(lsm_sst_builder_finish(b, props), 0);
}

/*
 * Every entry of the table, in order, exactly as written; then the seeks
 * land on their keys. file_no keys the cache: one number per table.
 */
static void check_table(const char *path, const struct entries *es, lsm_cache *cache, uint64_t file_no)
{
	lsm_sst *s;
	lsm_iter *it;
	size_t i = 0;

	assert_int_equal(lsm_sst_open(&s, path, file_no, cache), 0);
	assert_int_equal(lsm_sst_verify(s, NULL, NULL), 0);
	it = lsm_sst_iter_new(s);
	assert_non_null(it);
	for (lsm_iter_seek_first(it); lsm_iter_valid(it) && i <= es->n; lsm_iter_next(it), i++) {
		size_t klen, vlen;
		const uint8_t *k = lsm_iter_key(it, &klen), *v = lsm_iter_value(it, &vlen);

		assert_true(i < es->n);
		assert_int_equal(klen, LSM_IKEY_LEN);
		assert_memory_equal(k, es->key[i], LSM_IKEY_LEN);
		assert_int_equal(vlen, es->vlen[i]);
		if (vlen)
			assert_memory_equal(v, es_value(es, i), vlen);
	}
	assert_int_equal(lsm_iter_status(it), 0);
	assert_int_equal(i, es->n);
	for (int k = 0; k < 100; k++) {
		size_t j = below(es->n), klen;

		lsm_iter_seek(it, es->key[j], LSM_IKEY_LEN);
		assert_true(lsm_iter_valid(it));
		assert_memory_equal(lsm_iter_key(it, &klen), es->key[j], LSM_IKEY_LEN);
	}
	lsm_iter_free(it);
	lsm_sst_unref(s);
}

/*
 * Entries of a table: runs of several series, a schema of random fields, a
 * few deletes and merges; when odd, every 300th row is replaced by bytes
 * that are not a row, which keeps its block in the entry form.
 */
static void table_entries(struct entries *es, size_t n, uint64_t rs, bool odd)
{
	static const struct key_params kp = { .p_delete = 3, .p_merge = 10 };
	struct schema *s = strata_malloc(sizeof *s);

	assert_non_null(s);
	rng_state = rs;
	for (int tries = 0; tries < 1000 && (es->n < n / 2 || s->n == 0); tries++) {
		es_free(es);
		gen_keys(es, n, &kp);
		gen_schema(s, false);
	}
	assert_true(es->n >= n / 2 && s->n > 0);
	gen_values(es, s, NULL);
	for (size_t i = 0; odd && i < es->n; i += 300) {
		while (i < es->n && lsm_ikey_kind(es->key[i]) == LSM_KIND_DELETE)
			i++;
		if (i < es->n)
			es_set_value(es, i, "\xff\xff\xff", 3);
	}
	strata_free(s);
}

static void test_column_block_sstable_roundtrip(void **state)
{
	static const struct {
		size_t block_bytes;
		int interval, zstd_level;
		bool odd, whole;
	} cfg[] = {
		{ 4096, 16, 1, false, false },
		{ 16384, 16, 3, false, false },
		{ 65536, 4, 3, false, false },
		{ 1024, 1, 1, false, false },
		{ 4096, 16, 1, true, false },
		{ 4096, 16, 1, false, true }, /* one frame a block, as format version 2 wrote them */
		{ 4096, 16, 1, true, true },
	};
	lsm_cache *cache;

	(void)state;
	assert_int_equal(lsm_cache_new(&cache, 8u << 20, 2), 0);
	for (size_t c = 0; c < N_OF(cfg); c++) {
		struct entries es = { 0 };
		lsm_sst_options opt;
		lsm_sst_props props;
		struct block_types bt;
		char path[128];

		table_entries(&es, 6000, round_seed(seed ^ 0x55, (int)c), cfg[c].odd);
		lsm_sst_options_default(&opt);
		opt.block_bytes = cfg[c].block_bytes;
		opt.restart_interval = cfg[c].interval;
		opt.zstd_level = cfg[c].zstd_level;
		opt.columns = true;
		opt.columns_whole = cfg[c].whole;
		snprintf(path, sizeof path, "%s/columns-%zu.sst", test_dir, c);
		write_table(path, &es, &opt, &props);
		assert_int_equal(props.flags, LSM_SST_FLAG_COLUMNS | LSM_SST_FLAG_FINAL);
		assert_int_equal(props.n_entries, es.n);
		count_block_types(path, &bt);
		assert_int_equal(bt.n[0] + bt.n[1] + bt.n[2] + bt.n[3], props.n_data_blocks);
		assert_true(bt.n[cfg[c].whole ? LSM_SST_COMP_COLUMNS : LSM_SST_COMP_PARTS] > 0);
		assert_int_equal(bt.n[cfg[c].whole ? LSM_SST_COMP_PARTS : LSM_SST_COMP_COLUMNS], 0);
		if (cfg[c].odd) /* the blocks holding a value that is not a row stay entries */
			assert_true(bt.n[LSM_SST_COMP_RAW] + bt.n[LSM_SST_COMP_ZSTD] > 0);
		check_table(path, &es, NULL, 1);
		check_table(path, &es, cache, 100 + c); /* fills the cache */
		check_table(path, &es, cache, 100 + c); /* reads the decoded blocks from it */
		/* Re-opening with the flags read from the file. */
		{
			lsm_sst *s;

			assert_int_equal(lsm_sst_open(&s, path, 2, NULL), 0);
			assert_int_equal(lsm_sst_get_props(s)->flags, LSM_SST_FLAG_COLUMNS | LSM_SST_FLAG_FINAL);
			lsm_sst_unref(s);
		}
		/* The same entries without columns: no flags, no column blocks. */
		opt.columns = false;
		snprintf(path, sizeof path, "%s/entries-%zu.sst", test_dir, c);
		write_table(path, &es, &opt, &props);
		assert_int_equal(props.flags, 0);
		count_block_types(path, &bt);
		assert_int_equal(bt.n[LSM_SST_COMP_COLUMNS] + bt.n[LSM_SST_COMP_PARTS], 0);
		check_table(path, &es, NULL, 1);
		es_free(&es);
	}
	lsm_cache_free(cache);
}

/* Iterating the table at path ends with STRATA_ECORRUPT naming it, and so does verify. */
static void assert_table_corrupt(const char *path, const char *what)
{
	lsm_sst *s;
	lsm_iter *it;
	char msg[512];
	size_t n = 0;
	int rc, verify_rc;

	assert_int_equal(lsm_sst_open(&s, path, 9, NULL), 0);
	it = lsm_sst_iter_new(s);
	assert_non_null(it);
	for (lsm_iter_seek_first(it); lsm_iter_valid(it) && n < 1000000; lsm_iter_next(it))
		n++;
	rc = lsm_iter_status(it);
	snprintf(msg, sizeof msg, "%s", strata_last_error());
	lsm_iter_free(it);
	verify_rc = lsm_sst_verify(s, NULL, NULL);
	lsm_sst_unref(s);
	if (rc != STRATA_ECORRUPT || verify_rc != STRATA_ECORRUPT)
		fail_msg("%s: iteration status %d, verify %d, not STRATA_ECORRUPT", what, rc, verify_rc);
	/* The message names the file, and the column decoder's reason unless the checksum stopped it. */
	if (strstr(msg, path) == NULL || (strstr(what, "checksum") == NULL && strstr(msg, "column block: ") == NULL &&
					  strstr(msg, "column parts") == NULL))
		fail_msg("%s: the message does not say where and why: %s", what, msg);
}

/*
 * Writes a column block's stored bytes again in place, size bytes at off:
 * varint raw size, varint column size, a zstd frame of cols, padded to the
 * very same size (a zstd skippable frame, or a longer varint for fewer
 * than 8 bytes), then recomputes its checksum. False when it does not fit.
 */
static bool rewrite_column_block(uint8_t *file, uint64_t off, uint64_t size, uint64_t raw_len, const uint8_t *cols,
				 size_t cols_len)
{
	size_t cap = ZSTD_compressBound(cols_len), z, head, pad;
	uint8_t *frame = strata_malloc(cap), *p = file + off;
	bool ok = false;

	assert_non_null(frame);
	z = ZSTD_compress(frame, cap, cols, cols_len, 19);
	assert_false(ZSTD_isError(z));
	head = lsm_varint64_len(raw_len) + lsm_varint64_len(cols_len);
	if (head + z <= size) {
		pad = size - head - z;
		p += lsm_put_varint64(p, raw_len);
		if (pad > 0 && pad < 8) {
			/* The column size as a varint of pad more bytes: continuation bits over zero groups. */
			size_t k = lsm_varint64_len(cols_len);

			if (k + pad <= LSM_VARINT64_MAX) {
				uint64_t v = cols_len;

				for (size_t i = 0; i < k + pad; i++, v >>= 7)
					*p++ = (uint8_t)((v & 0x7f) | (i + 1 < k + pad ? 0x80 : 0));
				memcpy(p, frame, z);
				ok = true;
			}
		} else {
			p += lsm_put_varint64(p, cols_len);
			memcpy(p, frame, z);
			p += z;
			if (pad >= 8) {
				lsm_put_le32(p, 0x184D2A50); /* a skippable frame of pad - 8 bytes */
				lsm_put_le32(p + 4, (uint32_t)(pad - 8));
				memset(p + 8, 0, pad - 8);
			}
			ok = true;
		}
	}
	if (ok)
		lsm_put_le64(file + off + size + 1, XXH3_64bits(file + off, (size_t)size + 1));
	strata_free(frame);
	return ok;
}

/*
 * Writes a table of n random entries (seed rs) in 4 KiB blocks as columns
 * at path (under test_dir): in parts, or with whole one frame a block (type
 * 2, as format version 2 wrote them). Some block must be of that type.
 */
static void write_column_table(char *path, size_t path_len, const char *name, struct entries *es, size_t n,
			       uint64_t rs, bool whole, struct block_types *bt, lsm_sst_props *props)
{
	lsm_sst_options opt;

	table_entries(es, n, rs, false);
	lsm_sst_options_default(&opt);
	opt.block_bytes = 4096;
	opt.columns = true;
	opt.columns_whole = whole;
	snprintf(path, path_len, "%s/%s", test_dir, name);
	write_table(path, es, &opt, props);
	count_block_types(path, bt);
	assert_true(bt->n[whole ? LSM_SST_COMP_COLUMNS : LSM_SST_COMP_PARTS] > 0);
}

static void test_column_block_sstable_damage(void **state)
{
	struct entries es = { 0 };
	lsm_sst_props props;
	struct block_types bt;
	char path[128], what[128];
	uint8_t *orig, *f, *cols;
	size_t len, cols_len;
	uint64_t raw_len = 0, clen = 0, off = 0, size = 0;
	size_t n;

	(void)state;
	/* The one-frame form (type 2) of format version 2; parts: test_column_block_parts_*. */
	write_column_table(path, sizeof path, "damage.sst", &es, 3000, seed ^ 0xd00d, true, &bt, &props);
	off = bt.first_columns_off;
	size = bt.first_columns_size;
	orig = read_whole(path, &len);

	/* Any byte flipped in the stored block or its trailer: the checksum. */
	for (uint64_t at = off; at < off + size + LSM_SST_TRAILER_LEN; at += 1 + size / 8) {
		f = dup_bytes(orig, len);
		f[at] ^= 0x20;
		write_whole(path, f, len);
		snprintf(what, sizeof what, "byte %" PRIu64 " of the block flipped (checksum)", at - off);
		assert_table_corrupt(path, what);
		strata_free(f);
	}

	/* The columns themselves, under a good checksum. */
	n = lsm_get_varint64(orig + off, orig + off + size, &raw_len);
	assert_true(n > 0);
	n += lsm_get_varint64(orig + off + n, orig + off + size, &clen);
	cols_len = (size_t)clen;
	cols = strata_malloc(cols_len);
	assert_non_null(cols);
	assert_int_equal(ZSTD_decompress(cols, cols_len, orig + off + n, (size_t)size - n), cols_len);

	/* First the same columns rewritten: what follows fails for its damage only. */
	f = dup_bytes(orig, len);
	assert_true(rewrite_column_block(f, off, size, raw_len, cols, cols_len));
	write_whole(path, f, len);
	check_table(path, &es, NULL, 1);
	strata_free(f);

	/* Cut by a byte. */
	f = dup_bytes(orig, len);
	assert_true(rewrite_column_block(f, off, size, raw_len, cols, cols_len - 1));
	write_whole(path, f, len);
	assert_table_corrupt(path, "columns cut by a byte");
	strata_free(f);
	/* Said to decode to a block of another size. */
	f = dup_bytes(orig, len);
	assert_true(rewrite_column_block(f, off, size, raw_len + 1, cols, cols_len));
	write_whole(path, f, len);
	assert_table_corrupt(path, "a block size one more");
	strata_free(f);
	f = dup_bytes(orig, len);
	assert_true(rewrite_column_block(f, off, size, raw_len - 1, cols, cols_len));
	write_whole(path, f, len);
	assert_table_corrupt(path, "a block size one less");
	strata_free(f);
	/* Another restart interval (the first varint, 16): more restarts, a larger block. */
	assert_int_equal(cols[0], 16);
	cols[0] = 1;
	f = dup_bytes(orig, len);
	assert_true(rewrite_column_block(f, off, size, raw_len, cols, cols_len));
	write_whole(path, f, len);
	assert_table_corrupt(path, "restart interval 1");
	strata_free(f);

	write_whole(path, orig, len);
	check_table(path, &es, NULL, 1);
	strata_free(cols);
	strata_free(orig);
	es_free(&es);
}

/* ---- column parts: reads of a few columns ------------------------------ */

/* The column of a set with field id and type, by index: n_cols when none. */
static size_t column_index(const lsm_colset *cs, uint32_t id, enum lsm_field_type type)
{
	size_t k = 0;

	while (k < cs->n_cols && (cs->cols[k].id != id || cs->cols[k].type != type))
		k++;
	return k;
}

/* Column ka of a and column kb of b hold the same values for the same entries. */
static void assert_same_column(lsm_colset *a, size_t ka, lsm_colset *b, size_t kb)
{
	const lsm_colvec *ca = &a->cols[ka], *cb = &b->cols[kb];
	const void *va, *vb;
	int rc;

	assert_int_equal(a->n, b->n);
	va = lsm_colset_values(a, ka, &rc);
	assert_non_null(va);
	vb = lsm_colset_values(b, kb, &rc);
	assert_non_null(vb);
	for (size_t i = 0; i < a->n; i++) {
		assert_int_equal(lsm_colset_present(ca, i), lsm_colset_present(cb, i));
		if (!lsm_colset_present(ca, i))
			continue;
		if (ca->type == LSM_FIELD_STRING) {
			const lsm_colstr *sa = (const lsm_colstr *)va + i, *sb = (const lsm_colstr *)vb + i;

			assert_int_equal(sa->len, sb->len);
			if (sa->len)
				assert_memory_equal(sa->p, sb->p, sa->len);
		} else {
			assert_true(((const lsm_colval *)va)[i].u == ((const lsm_colval *)vb)[i].u);
		}
	}
}

/* The set of the block b is on, wanting only field id (want NULL: all); owned by the caller (no cache). */
static int block_columns(lsm_sst_blocks *b, const lsm_colwant *want, lsm_colset **out)
{
	lsm_cache_handle *pin = NULL;
	int rc = lsm_sst_blocks_columns(b, want, &pin, out);

	assert_null(pin);
	return rc;
}

/*
 * A table of column part blocks read one column at a time gives each
 * column exactly as a read of all; the others are in the set as not read.
 */
static void test_column_block_parts_partial_reads(void **state)
{
	struct entries es = { 0 };
	lsm_sst_props props;
	struct block_types bt;
	lsm_sst *full_t, *part_t;
	lsm_sst_blocks *fb, *pb;
	uint8_t zero[LSM_IKEY_LEN] = { 0 };
	bool by_id[256];
	lsm_colwant want = { .by_id = by_id, .n_ids = 256 };
	uint64_t blocks = 0, partial = 0;
	char path[128];

	(void)state;
	write_column_table(path, sizeof path, "parts.sst", &es, 6000, seed ^ 0x9a57, false, &bt, &props);
	assert_int_equal(lsm_sst_open(&full_t, path, 1, NULL), 0);
	assert_int_equal(lsm_sst_open(&part_t, path, 2, NULL), 0);
	fb = lsm_sst_blocks_new(full_t);
	pb = lsm_sst_blocks_new(part_t);
	assert_non_null(fb);
	assert_non_null(pb);
	for (lsm_sst_blocks_seek(fb, zero); lsm_sst_blocks_valid(fb); lsm_sst_blocks_next(fb), blocks++) {
		lsm_colset *all;
		int rc = block_columns(fb, NULL, &all);

		if (rc == STRATA_ENOTFOUND)
			continue; /* stored as entries */
		assert_int_equal(rc, 0);
		lsm_sst_blocks_seek(pb, lsm_sst_blocks_last_key(fb));
		for (size_t k = 0; k < all->n_cols; k++) {
			lsm_colset *one;

			assert_true(all->cols[k].id < 256);
			memset(by_id, 0, sizeof by_id);
			by_id[all->cols[k].id] = true;
			assert_int_equal(block_columns(pb, &want, &one), 0);
			assert_int_equal(one->n, all->n);
			assert_int_equal(one->n_cols, all->n_cols);
			assert_memory_equal(one->ts, all->ts, all->n * sizeof(*all->ts));
			for (size_t m = 0; m < one->n_cols; m++) {
				int vrc;

				assert_int_equal(one->cols[m].id, all->cols[m].id);
				assert_int_equal(one->cols[m].type, all->cols[m].type);
				if (one->cols[m].id == all->cols[k].id) {
					assert_same_column(all, m, one, m);
					continue;
				}
				/* Not read at all: no presence, no values. */
				assert_null(one->cols[m].present);
				assert_null(lsm_colset_values(one, m, &vrc));
				assert_int_equal(vrc, STRATA_ENOTFOUND);
				partial++;
			}
			lsm_colset_free(one);
		}
		lsm_colset_free(all);
	}
	assert_int_equal(lsm_sst_blocks_status(fb), 0);
	assert_int_equal(blocks, props.n_data_blocks);
	assert_true(partial > 0);
	lsm_sst_blocks_free(fb);
	lsm_sst_blocks_free(pb);
	lsm_sst_unref(part_t);

	/* Through a cache: a set read for one column, then wanted for another, holds both. */
	{
		lsm_cache *cache;
		lsm_sst *t;
		lsm_sst_blocks *b;
		lsm_cache_handle *pin;
		lsm_colset *set, *all;
		uint32_t a, c;
		bool by_a[256] = { false }, by_c[256] = { false };
		lsm_colwant want_a = { .by_id = by_a, .n_ids = 256 }, want_c = { .by_id = by_c, .n_ids = 256 };

		assert_int_equal(lsm_cache_new(&cache, 8u << 20, 1), 0);
		assert_int_equal(lsm_sst_open(&t, path, 3, cache), 0);
		b = lsm_sst_blocks_new(t);
		fb = lsm_sst_blocks_new(full_t);
		assert_non_null(b);
		assert_non_null(fb);
		lsm_sst_blocks_seek(b, zero);
		lsm_sst_blocks_seek(fb, zero);
		assert_int_equal(block_columns(fb, NULL, &all), 0);
		assert_true(all->n_cols >= 2);
		a = all->cols[0].id;
		c = all->cols[all->n_cols - 1].id;
		by_a[a] = by_c[c] = true;
		assert_int_equal(lsm_sst_blocks_columns(b, &want_a, &pin, &set), 0);
		assert_true(lsm_colset_has(set, &want_a));
		assert_false(lsm_colset_has(set, &want_c));
		lsm_cache_release(cache, pin);
		assert_int_equal(lsm_sst_blocks_columns(b, &want_c, &pin, &set), 0);
		assert_true(lsm_colset_has(set, &want_a));
		assert_true(lsm_colset_has(set, &want_c));
		assert_same_column(all, 0, set, column_index(set, a, all->cols[0].type));
		assert_same_column(all, all->n_cols - 1, set, column_index(set, c, all->cols[all->n_cols - 1].type));
		lsm_cache_release(cache, pin);
		lsm_colset_free(all);
		lsm_sst_blocks_free(fb);
		lsm_sst_blocks_free(b);
		lsm_sst_unref(t);
		lsm_cache_free(cache);
	}
	lsm_sst_unref(full_t);
	es_free(&es);
}

/*
 * Damage in one column part fails the reads that need it, and those only
 * (a read of other columns does not touch it); iteration and verify, which
 * read blocks whole, report it too.
 */
static void test_column_block_parts_damage(void **state)
{
	struct entries es = { 0 };
	lsm_sst_props props;
	struct block_types bt;
	lsm_colparts_dir d;
	uint8_t zero[LSM_IKEY_LEN] = { 0 }, *orig, *f;
	bool by_id[256];
	lsm_colwant want = { .by_id = by_id, .n_ids = 256 };
	lsm_colset *before, *set;
	lsm_sst *t;
	lsm_sst_blocks *b;
	size_t len, big = 0;
	char path[128];

	(void)state;
	write_column_table(path, sizeof path, "parts-damage.sst", &es, 3000, seed ^ 0xbad, false, &bt, &props);
	orig = read_whole(path, &len);
	assert_int_equal(lsm_colparts_dir_parse(&d, orig + bt.first_parts_off, (size_t)bt.first_parts_size,
						bt.first_parts_size), 0);
	assert_true(d.n_cols >= 2);
	for (size_t k = 1; k < d.n_cols; k++)
		if (d.cols[k].len > d.cols[big].len)
			big = k;
	/* The block's sets as they were, then its largest column part with a byte flipped. */
	assert_int_equal(lsm_sst_open(&t, path, 1, NULL), 0);
	b = lsm_sst_blocks_new(t);
	assert_non_null(b);
	lsm_sst_blocks_seek(b, zero);
	assert_int_equal(block_columns(b, NULL, &before), 0);
	lsm_sst_blocks_free(b);
	lsm_sst_unref(t);
	f = dup_bytes(orig, len);
	f[bt.first_parts_off + d.cols[big].offset + d.cols[big].len / 2] ^= 0x10;
	write_whole(path, f, len);
	assert_int_equal(lsm_sst_open(&t, path, 1, NULL), 0);
	b = lsm_sst_blocks_new(t);
	assert_non_null(b);
	for (size_t k = 0; k < d.n_cols; k++) {
		int rc;

		memset(by_id, 0, sizeof by_id);
		assert_true(d.cols[k].id < 256);
		by_id[d.cols[k].id] = true;
		lsm_sst_blocks_seek(b, zero);
		rc = block_columns(b, &want, &set);
		if (d.cols[k].id == d.cols[big].id) {
			assert_int_equal(rc, STRATA_ECORRUPT);
			assert_non_null(strstr(strata_last_error(), path));
			assert_non_null(strstr(strata_last_error(), "column parts"));
			continue;
		}
		assert_int_equal(rc, 0);
		assert_same_column(before, k, set, k);
		lsm_colset_free(set);
	}
	lsm_sst_blocks_free(b);
	lsm_sst_unref(t);
	assert_table_corrupt(path, "a column part's byte flipped (checksum)");
	strata_free(f);

	/* The head part: every read of the block needs it. */
	f = dup_bytes(orig, len);
	f[bt.first_parts_off + d.head.offset + d.head.len / 2] ^= 0x10;
	write_whole(path, f, len);
	assert_int_equal(lsm_sst_open(&t, path, 1, NULL), 0);
	b = lsm_sst_blocks_new(t);
	assert_non_null(b);
	memset(by_id, 0, sizeof by_id);
	by_id[d.cols[0].id] = true;
	lsm_sst_blocks_seek(b, zero);
	assert_int_equal(block_columns(b, &want, &set), STRATA_ECORRUPT);
	lsm_sst_blocks_free(b);
	lsm_sst_unref(t);
	assert_table_corrupt(path, "the head part's byte flipped (checksum)");
	strata_free(f);

	/* A directory in the block other than its index entry's, under a good checksum. */
	f = dup_bytes(orig, len);
	f[bt.first_parts_off] ^= 0x01; /* the entry form's size */
	lsm_put_le64(f + bt.first_parts_off + bt.first_parts_size + 1,
		     XXH3_64bits(f + bt.first_parts_off, (size_t)bt.first_parts_size + 1));
	write_whole(path, f, len);
	assert_table_corrupt(path, "directory unlike the index's");
	strata_free(f);

	write_whole(path, orig, len);
	check_table(path, &es, NULL, 1);
	lsm_colset_free(before);
	lsm_colparts_dir_free(&d);
	strata_free(orig);
	es_free(&es);
}

/* The parts codec alone: a round trip, and any byte of a stored block changed is caught or harmless. */
static void test_column_block_parts_codec(void **state)
{
	struct entries es = { 0 };
	lsm_block_builder bb;
	const uint8_t *block;
	uint8_t *enc, *stored = NULL, *joined;
	size_t block_len, enc_len, cap = 0, stored_len, dir_len, joined_len;
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	lsm_colparts_dir d;

	(void)state;
	assert_non_null(cctx);
	assert_non_null(dctx);
	table_entries(&es, 400, seed ^ 0xc0de, false);
	lsm_block_builder_init(&bb, 16);
	for (size_t i = 0; i < es.n; i++)
		assert_int_equal(lsm_block_builder_add(&bb, es.key[i], LSM_IKEY_LEN, es_value(&es, i), es.vlen[i]), 0);
	assert_int_equal(lsm_block_builder_finish(&bb, &block, &block_len), 0);
	assert_int_equal(lsm_column_encode(block, block_len, 16, &enc, &enc_len), 0);
	assert_int_equal(lsm_colparts_store(cctx, 3, enc, enc_len, block_len, &stored, &cap, &stored_len, &dir_len), 0);
	assert_int_equal(lsm_colparts_dir_parse(&d, stored, stored_len, stored_len), 0);
	assert_int_equal(d.dir_len, dir_len);
	assert_int_equal(d.block_len, block_len);
	assert_int_equal(d.enc_len, enc_len);
	assert_int_equal(lsm_colparts_join(dctx, &d, stored, NULL, &joined, &joined_len), 0);
	assert_int_equal(joined_len, enc_len);
	assert_memory_equal(joined, enc, enc_len);
	strata_free(joined);
	/* The directory alone (the index's copy) parses to the same parts. */
	{
		lsm_colparts_dir alone;

		assert_int_equal(lsm_colparts_dir_parse(&alone, stored, dir_len, stored_len), 0);
		assert_int_equal(alone.n_cols, d.n_cols);
		assert_int_equal(alone.cols[d.n_cols - 1].offset, d.cols[d.n_cols - 1].offset);
		lsm_colparts_dir_free(&alone);
		assert_int_equal(lsm_colparts_dir_parse(&alone, stored, dir_len, stored_len + 1), STRATA_ECORRUPT);
		assert_int_equal(lsm_colparts_dir_parse(&alone, stored, dir_len - 1, stored_len), STRATA_ECORRUPT);
	}
	/* Every byte changed: the directory refuses it, or joining does, or (unused bits) the same encoding. */
	for (size_t at = 0; at < stored_len; at++) {
		uint8_t *copy = dup_bytes(stored, stored_len);
		lsm_colparts_dir dd;
		int rc;

		copy[at] ^= (uint8_t)(1u << (at % 8));
		rc = lsm_colparts_dir_parse(&dd, copy, stored_len, stored_len);
		if (rc == 0) {
			rc = lsm_colparts_join(dctx, &dd, copy, NULL, &joined, &joined_len);
			if (rc == 0) {
				/* Only the directory's sizes of the whole can change without a checksum noticing. */
				assert_true(at < dir_len);
				strata_free(joined);
			}
			lsm_colparts_dir_free(&dd);
		}
		assert_true(rc == 0 || rc == STRATA_ECORRUPT);
		strata_free(copy);
	}
	lsm_colparts_dir_free(&d);
	strata_free(stored);
	strata_free(enc);
	lsm_block_builder_deinit(&bb);
	ZSTD_freeCCtx(cctx);
	ZSTD_freeDCtx(dctx);
	es_free(&es);
}

/* ---- what columns save on the cpu-only workload ------------------------- */

#define CPU_HOSTS 100
#define CPU_STEPS 1440 /* 4 hours at 10 s */

static void test_column_block_cpu_bytes_per_value(void **state)
{
	static const struct {
		const char *name;
		size_t block_bytes;
		int zstd_level;
	} cfg[] = {
		{ "flush (16 KiB blocks, zstd 1)", 16u << 10, 1 },
		{ "final (64 KiB blocks, zstd 3)", 64u << 10, 3 },
	};
	struct entries es = { 0 };
	struct cpu_rng r;
	double *walk = strata_malloc(CPU_HOSTS * CPU_N_FIELDS * sizeof *walk);
	double *vals = strata_malloc((size_t)CPU_HOSTS * CPU_STEPS * CPU_N_FIELDS * sizeof *vals);
	char tagset[512];
	uint64_t values = (uint64_t)CPU_HOSTS * CPU_STEPS * CPU_N_FIELDS;

	(void)state;
	assert_non_null(walk);
	assert_non_null(vals);
	/* The draws in the generator's order: hosts, then every step of every host. */
	cpu_rng_seed(&r, 42);
	for (uint64_t h = 0; h < CPU_HOSTS; h++)
		cpu_host_init(tagset, sizeof tagset, h, &walk[h * CPU_N_FIELDS], &r);
	for (size_t s = 0; s < CPU_STEPS; s++)
		for (size_t h = 0; h < CPU_HOSTS; h++) {
			cpu_walk_step(&walk[h * CPU_N_FIELDS], &r);
			memcpy(&vals[(h * CPU_STEPS + s) * CPU_N_FIELDS], &walk[h * CPU_N_FIELDS],
			       CPU_N_FIELDS * sizeof *walk);
		}
	/* Series 1.. by host, keys in table order; sequence numbers in the order the points came. */
	for (uint64_t h = 0; h < CPU_HOSTS; h++)
		for (uint64_t s = 0; s < CPU_STEPS; s++)
			es_add_key(&es, h + 1, CPU_START_NS + (int64_t)s * CPU_STEP_NS, 1 + s * CPU_HOSTS + h,
				   LSM_KIND_PUT);
	for (size_t i = 0; i < es.n; i++) {
		lsm_row_field f[CPU_N_FIELDS];
		uint8_t row[256];
		size_t len;

		for (int k = 0; k < CPU_N_FIELDS; k++)
			f[k] = (lsm_row_field){ .id = (uint32_t)k + 1, .type = LSM_FIELD_FLOAT,
						.v.f = vals[i * CPU_N_FIELDS + (size_t)k] };
		len = lsm_row_encode(row, sizeof row, f, CPU_N_FIELDS);
		assert_true(len > 0);
		es_set_value(&es, i, row, len);
	}
	print_message("cpu-only workload, %d hosts x %d steps of 10 s, %" PRIu64 " float values:\n", CPU_HOSTS,
		      CPU_STEPS, values);
	for (size_t c = 0; c < N_OF(cfg); c++) {
		uint64_t bytes[2];

		for (int columns = 0; columns < 2; columns++) {
			lsm_sst_options opt;
			lsm_sst_props props;
			char path[128];

			lsm_sst_options_default(&opt);
			opt.block_bytes = cfg[c].block_bytes;
			opt.zstd_level = cfg[c].zstd_level;
			opt.columns = columns;
			snprintf(path, sizeof path, "%s/cpu-%zu-%d.sst", test_dir, c, columns);
			write_table(path, &es, &opt, &props);
			assert_int_equal(props.n_entries, es.n);
			assert_int_equal(props.flags, columns ? LSM_SST_FLAG_COLUMNS | LSM_SST_FLAG_FINAL : 0);
			bytes[columns] = props.file_bytes;
			assert_int_equal((uint64_t)test_file_size(path), props.file_bytes);
			if (columns)
				check_table(path, &es, NULL, 1);
			unlink(path);
		}
		print_message("  %s: entries %.2f B/value, columns %.2f B/value (%.0f%%)\n", cfg[c].name,
			      (double)bytes[0] / (double)values, (double)bytes[1] / (double)values,
			      100.0 * (double)bytes[1] / (double)bytes[0]);
	}
	es_free(&es);
	strata_free(vals);
	strata_free(walk);
}

/* ---- main ---------------------------------------------------------------- */

static int group_setup(void **state)
{
	(void)state;
	return test_make_temp_dir(test_dir, sizeof test_dir);
}

static int group_teardown(void **state)
{
	(void)state;
	test_remove_tree(test_dir);
	return 0;
}

int main(void)
{
	const char *s = getenv("STRATA_COLUMN_SEED"), *r = getenv("STRATA_COLUMN_ROUNDS");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_column_block_random_roundtrip),
		cmocka_unit_test(test_column_block_edges),
		cmocka_unit_test(test_column_block_refusals),
		cmocka_unit_test(test_column_block_damage),
		cmocka_unit_test(test_column_block_sstable_roundtrip),
		cmocka_unit_test(test_column_block_sstable_damage),
		cmocka_unit_test(test_column_block_parts_codec),
		cmocka_unit_test(test_column_block_parts_partial_reads),
		cmocka_unit_test(test_column_block_parts_damage),
		cmocka_unit_test(test_column_block_cpu_bytes_per_value),
	};

	seed = s && *s ? strtoull(s, NULL, 10) : DEFAULT_SEED;
	rounds = r && *r ? atoi(r) : DEFAULT_ROUNDS;
	if (rounds < 1)
		rounds = 1;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
