/*
 * column_block.c — data blocks stored as columns (column_block.h).
 *
 * Layout of the encoding (before zstd; all varints LEB128, bits LSB first):
 *   varint restart_interval, varint n (entries), varint n_runs
 *   n_runs x { varint series id delta (the first run: the id), varint count }
 *   per run: zigzag first timestamp, then zigzag delta-of-delta per entry
 *   per entry: zigzag delta of the 8-byte seq/kind trailer
 *   varint n_cols, then per column (ascending by field id, then type):
 *     varint field id, u8 type, presence bitmap of n bits (bytes),
 *     varint payload length, payload:
 *       float   u8 method: 0 Gorilla XOR stream, 1 grouped deltas of the
 *               bit patterns (the smaller of the two is written)
 *       int     grouped deltas: per 8 values a 7-bit width, then each
 *               value's zigzag delta at that width
 *       uint    the same over the wrapped unsigned deltas
 *       bool    one bit each
 *       string  varint n_dict; n_dict > 0: the dictionary (varint length +
 *               bytes each), u8 width, indices bit-packed; n_dict == 0:
 *               varint length + bytes each
 * Deletes carry no value; every other entry's value is a canonical row.
 */
#include "lsm/column_block.h"
#include "lsm/alloc.h"
#include "lsm/block.h"
#include "lsm/block_builder.h"
#include "lsm/coding.h"
#include "lsm/key.h"
#include "lsm/row.h"
#include "lsm/status.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- output buffer ---- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

static void wb_reserve(struct wbuf *w, size_t more)
{
	size_t cap;
	uint8_t *grown;

	if (w->oom || w->len + more <= w->cap)
		return;
	cap = w->cap ? w->cap : 4096;
	while (cap < w->len + more)
		cap *= 2;
	grown = strata_realloc(w->p, cap);
	if (!grown) {
		w->oom = true;
		return;
	}
	w->p = grown;
	w->cap = cap;
}

static void wb_bytes(struct wbuf *w, const void *p, size_t n)
{
	wb_reserve(w, n);
	if (w->oom)
		return;
	if (n)
		memcpy(w->p + w->len, p, n);
	w->len += n;
}

static void wb_u8(struct wbuf *w, uint8_t v)
{
	wb_bytes(w, &v, 1);
}

static void wb_varint(struct wbuf *w, uint64_t v)
{
	wb_reserve(w, LSM_VARINT64_MAX);
	if (!w->oom)
		w->len += lsm_put_varint64(w->p + w->len, v);
}

static uint64_t zigzag(uint64_t d)
{
	return (d << 1) ^ (uint64_t)((int64_t)d >> 63);
}

static uint64_t unzigzag(uint64_t z)
{
	return (z >> 1) ^ (uint64_t)-(int64_t)(z & 1);
}

/* ---- bits ---- */

/*
 * Bits are packed from the least significant bit of each byte up. The
 * writer gathers them in a 64-bit word and stores whole words: a byte at
 * a time cost a fifth of a compaction.
 */
struct bitw {
	struct wbuf *w;
	uint64_t acc; /* bits not yet stored, from bit 0 */
	unsigned n;   /* how many: 0..63 */
};

static void bw_word(struct bitw *b, uint64_t word)
{
	wb_reserve(b->w, 8);
	if (b->w->oom)
		return;
	lsm_put_le64(b->w->p + b->w->len, word);
	b->w->len += 8;
}

/* Appends the low k bits of v (k 0..64). */
static inline void bw_put(struct bitw *b, uint64_t v, unsigned k)
{
	unsigned used;

	if (k == 0)
		return;
	if (k < 64)
		v &= (UINT64_C(1) << k) - 1;
	b->acc |= v << b->n;
	if (b->n + k < 64) {
		b->n += k;
		return;
	}
	bw_word(b, b->acc);
	used = 64 - b->n; /* bits of v in the stored word */
	b->acc = used < 64 ? v >> used : 0;
	b->n = b->n + k - 64;
}

static void bw_flush(struct bitw *b)
{
	for (; b->n > 0; b->n = b->n > 8 ? b->n - 8 : 0) {
		wb_u8(b->w, (uint8_t)b->acc);
		b->acc >>= 8;
	}
	b->acc = 0;
}

struct bitr {
	const uint8_t *p, *end;
	uint64_t acc;
	unsigned n;
	bool bad;
};

static uint64_t br_get32(struct bitr *r, unsigned k)
{
	uint64_t v;

	if (k == 0)
		return 0;
	if (r->n < k && r->end - r->p >= 8) {
		/*
		 * A word at once: the whole bytes that fit go in; the bits of a
		 * byte that only partly fits land above n, where the next refill
		 * puts the same bits again.
		 */
		unsigned take = (63 - r->n) / 8;

		r->acc |= lsm_get_le64(r->p) << r->n;
		r->p += take;
		r->n += 8 * take;
	}
	while (r->n < k) {
		if (r->p == r->end) {
			r->bad = true;
			return 0;
		}
		r->acc |= (uint64_t)*r->p++ << r->n;
		r->n += 8;
	}
	v = r->acc & ((UINT64_C(1) << k) - 1);
	r->acc >>= k;
	r->n -= k;
	return v;
}

static uint64_t br_get(struct bitr *r, unsigned k)
{
	if (k > 32) {
		uint64_t lo = br_get32(r, 32);

		return lo | br_get32(r, k - 32) << 32;
	}
	return br_get32(r, k);
}

static unsigned width_of(uint64_t v)
{
	return v ? 64 - (unsigned)__builtin_clzll(v) : 0;
}

/*
 * Zigzag deltas bit-packed in groups of PACK_GROUP, each group at its own
 * width (7 bits before it): one outlier widens only its group.
 */
#define PACK_GROUP 8

/* The bits pack_deltas writes for v[0..n). */
static uint64_t pack_deltas_bits(const uint64_t *v, size_t n)
{
	uint64_t prev = 0, bits = 0;

	for (size_t g = 0; g < n; g += PACK_GROUP) {
		size_t end = g + PACK_GROUP < n ? g + PACK_GROUP : n;
		uint64_t or = 0;

		for (size_t i = g; i < end; i++) {
			or |= zigzag(v[i] - prev);
			prev = v[i];
		}
		bits += 7 + (uint64_t)width_of(or) * (end - g);
	}
	return bits;
}

static void pack_deltas(struct bitw *b, const uint64_t *v, size_t n)
{
	uint64_t prev = 0;

	for (size_t g = 0; g < n; g += PACK_GROUP) {
		size_t end = g + PACK_GROUP < n ? g + PACK_GROUP : n;
		uint64_t or = 0, p = prev;
		unsigned width;

		for (size_t i = g; i < end; i++) {
			or |= zigzag(v[i] - p);
			p = v[i];
		}
		width = width_of(or);
		bw_put(b, width, 7);
		for (size_t i = g; i < end; i++) {
			bw_put(b, zigzag(v[i] - prev), width);
			prev = v[i];
		}
	}
}

static bool unpack_deltas(struct bitr *b, uint64_t *v, size_t n)
{
	uint64_t prev = 0;

	for (size_t g = 0; g < n && !b->bad; g += PACK_GROUP) {
		size_t end = g + PACK_GROUP < n ? g + PACK_GROUP : n;
		unsigned width = (unsigned)br_get(b, 7);

		if (width > 64)
			return false;
		for (size_t i = g; i < end; i++) {
			prev += unzigzag(br_get(b, width));
			v[i] = prev;
		}
	}
	return !b->bad;
}

/* ---- the entries of a block ---- */

struct entry {
	uint8_t ikey[LSM_IKEY_LEN];
	const uint8_t *value;
	size_t value_len;
	lsm_row_field *fields; /* decoded row (into the column pass) */
	size_t n_fields;
};

struct column {
	uint32_t id;
	enum lsm_field_type type;
};

static int cmp_column(const void *a, const void *b)
{
	const struct column *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return (int)x->type - (int)y->type;
}


/* Float encodings: a method byte, then the stream. */
enum { FLOAT_XOR = 0, FLOAT_DELTA = 1 };

/*
 * Gorilla: each value XORed with the previous one, its meaningful bits in
 * a window. With b NULL it only counts the bits it would write.
 */
static uint64_t floats_xor(struct bitw *b, const uint64_t *v, size_t n)
{
	unsigned prev_lz = 65, prev_tz = 0;
	uint64_t bits = 0;

#define PUT(val, k)                              \
	do {                                     \
		if (b)                           \
			bw_put(b, (val), (k));   \
		bits += (k);                     \
	} while (0)
	for (size_t i = 0; i < n; i++) {
		uint64_t x;
		unsigned lz, tz;

		if (i == 0) {
			PUT(v[0], 64);
			continue;
		}
		x = v[i] ^ v[i - 1];
		if (x == 0) {
			PUT(0, 1);
			continue;
		}
		lz = (unsigned)__builtin_clzll(x);
		tz = (unsigned)__builtin_ctzll(x);
		if (lz > 31)
			lz = 31;
		if (prev_lz <= 64 && lz >= prev_lz && tz >= prev_tz) {
			/* Fits the previous window: its meaningful bits only (control bits 1, 0). */
			PUT(1, 2);
			PUT(x >> prev_tz, 64 - prev_lz - prev_tz);
		} else {
			unsigned len = 64 - lz - tz;

			/* Control bits 1, 1, then the window: 5 bits of leading zeros, 6 of length - 1. */
			PUT(3 | lz << 2 | (uint64_t)(len - 1) << 7, 13);
			PUT(x >> tz, len);
			prev_lz = lz;
			prev_tz = tz;
		}
	}
#undef PUT
	return bits;
}

/*
 * Floats as the deltas of their bit patterns: for values that wander (a
 * random walk), those are smaller than the XOR windows, which restart
 * whenever the changed bits move. Both sizes are counted first; only the
 * smaller stream is written (XOR on a tie).
 */
static void encode_floats(struct wbuf *w, const lsm_row_field *const *col, size_t n)
{
	uint64_t *v = strata_malloc((n + 1) * sizeof(*v));
	struct bitw b = { .w = w };
	size_t k = 0;

	if (!v) {
		w->oom = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const lsm_row_field *f = col[i];

		if (f)
			memcpy(&v[k++], &f->v.f, sizeof(*v));
	}
	if ((pack_deltas_bits(v, k) + 7) / 8 < (floats_xor(NULL, v, k) + 7) / 8) {
		wb_u8(w, FLOAT_DELTA);
		pack_deltas(&b, v, k);
	} else {
		wb_u8(w, FLOAT_XOR);
		floats_xor(&b, v, k);
	}
	bw_flush(&b);
	strata_free(v);
}

static uint64_t int_bits(const lsm_row_field *f)
{
	return f->type == LSM_FIELD_UINT ? f->v.u : (uint64_t)f->v.i;
}

static void encode_ints(struct wbuf *w, const lsm_row_field *const *col, size_t n)
{
	uint64_t *v = strata_malloc((n + 1) * sizeof(*v));
	struct bitw b = { .w = w };
	size_t k = 0;

	if (!v) {
		w->oom = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const lsm_row_field *f = col[i];

		if (f)
			v[k++] = int_bits(f);
	}
	pack_deltas(&b, v, k);
	bw_flush(&b);
	strata_free(v);
}

static void encode_bools(struct wbuf *w, const lsm_row_field *const *col, size_t n)
{
	struct bitw b = { .w = w };

	for (size_t i = 0; i < n; i++) {
		const lsm_row_field *f = col[i];

		if (f)
			bw_put(&b, f->v.b ? 1 : 0, 1);
	}
	bw_flush(&b);
}

#define DICT_MAX 256

static bool same_str(const lsm_row_field *a, const lsm_row_field *b)
{
	return a->v.s.len == b->v.s.len && (a->v.s.len == 0 || memcmp(a->v.s.p, b->v.s.p, a->v.s.len) == 0);
}

static void encode_strings(struct wbuf *w, const lsm_row_field *const *col, size_t n)
{
	const lsm_row_field *dict[DICT_MAX];
	size_t n_dict = 0, present = 0;
	bool use_dict = true;

	for (size_t i = 0; i < n && use_dict; i++) {
		const lsm_row_field *f = col[i];
		size_t k;

		if (!f)
			continue;
		present++;
		for (k = 0; k < n_dict && !same_str(dict[k], f); k++)
			;
		if (k == n_dict) {
			if (n_dict == DICT_MAX)
				use_dict = false;
			else
				dict[n_dict++] = f;
		}
	}
	if (use_dict && n_dict > 0 && n_dict * 2 <= present) {
		struct bitw b = { .w = w };
		unsigned width = width_of(n_dict - 1);

		wb_varint(w, n_dict);
		for (size_t k = 0; k < n_dict; k++) {
			wb_varint(w, dict[k]->v.s.len);
			wb_bytes(w, dict[k]->v.s.p, dict[k]->v.s.len);
		}
		wb_u8(w, (uint8_t)width);
		for (size_t i = 0; i < n; i++) {
			const lsm_row_field *f = col[i];
			size_t k;

			if (!f)
				continue;
			for (k = 0; !same_str(dict[k], f); k++)
				;
			bw_put(&b, k, width);
		}
		bw_flush(&b);
		return;
	}
	wb_varint(w, 0);
	for (size_t i = 0; i < n; i++) {
		const lsm_row_field *f = col[i];

		if (f) {
			wb_varint(w, f->v.s.len);
			wb_bytes(w, f->v.s.p, f->v.s.len);
		}
	}
}

/*
 * Reads the block's entries and decodes their rows; STRATA_EINVAL when one
 * is not a row. Values and strings point into *blk_out, which the caller
 * frees after them.
 */
static int read_entries(const uint8_t *block, size_t len, struct entry **out, size_t *n_out,
			lsm_row_field **fields_out, lsm_block **blk_out)
{
	uint8_t *copy = strata_malloc(len ? len : 1);
	lsm_block *blk = NULL;
	lsm_iter *it = NULL;
	struct entry *es = NULL;
	lsm_row_field *fields = NULL;
	size_t n = 0, cap = 0, n_fields = 0, cap_fields = 0;
	int rc;

	*out = NULL;
	*fields_out = NULL;
	*blk_out = NULL;
	if (!copy)
		return -ENOMEM;
	memcpy(copy, block, len);
	rc = lsm_block_new(&blk, copy, len);
	if (rc)
		return rc;
	it = lsm_block_iter_new(blk);
	if (!it) {
		lsm_block_free(blk);
		return -ENOMEM;
	}
	for (lsm_iter_seek_first(it); rc == 0 && lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t klen, vlen;
		const uint8_t *k = lsm_iter_key(it, &klen);
		const uint8_t *v = lsm_iter_value(it, &vlen);
		long count;

		if (klen != LSM_IKEY_LEN) {
			rc = STRATA_EINVAL;
			break;
		}
		if (n == cap) {
			struct entry *g;

			cap = cap ? 2 * cap : 256;
			g = strata_realloc(es, cap * sizeof(*g));
			if (!g) {
				rc = -ENOMEM;
				break;
			}
			es = g;
		}
		memset(&es[n], 0, sizeof(es[n]));
		memcpy(es[n].ikey, k, LSM_IKEY_LEN);
		es[n].value = v; /* values are stored whole: this points into the block */
		es[n].value_len = vlen;
		if (lsm_ikey_kind(k) == LSM_KIND_DELETE) {
			if (vlen != 0)
				rc = STRATA_EINVAL;
			n++;
			continue;
		}
		count = lsm_row_count(es[n].value, vlen);
		if (count < 0) {
			rc = STRATA_EINVAL;
			break;
		}
		if (n_fields + (size_t)count > cap_fields) {
			size_t c2 = cap_fields ? 2 * cap_fields : 1024;
			lsm_row_field *g;

			while (c2 < n_fields + (size_t)count)
				c2 *= 2;
			g = strata_realloc(fields, c2 * sizeof(*g));
			if (!g) {
				rc = -ENOMEM;
				break;
			}
			fields = g;
			cap_fields = c2;
		}
		es[n].n_fields = (size_t)count;
		/* fields may move while growing: store the offset now, pointers after. */
		es[n].fields = (lsm_row_field *)(uintptr_t)n_fields;
		if (count == 0) {
			es[n].n_fields = 0;
			n++;
			continue;
		}
		rc = lsm_row_decode(es[n].value, vlen, fields + n_fields, (size_t)count, &es[n].n_fields);
		if (rc)
			rc = STRATA_EINVAL;
		n_fields += es[n].n_fields;
		n++;
	}
	if (rc == 0)
		rc = lsm_iter_status(it) ? STRATA_EINVAL : 0;
	lsm_iter_free(it);
	if (rc) {
		lsm_block_free(blk);
		strata_free(es);
		strata_free(fields);
		return rc;
	}
	*blk_out = blk;
	for (size_t i = 0; i < n; i++)
		es[i].fields = es[i].n_fields ? fields + (size_t)(uintptr_t)es[i].fields : NULL;
	*out = es;
	*n_out = n;
	*fields_out = fields;
	return 0;
}

static int encode_columns(struct wbuf *w, const struct entry *es, size_t n, int restart_interval, size_t limit)
{
	struct column *cols = NULL;
	const lsm_row_field **at;
	size_t n_cols = 0, cap_cols = 0, n_runs = 0;
	uint64_t prev_trailer = 0, prev_series = 0;
	struct wbuf payload = { 0 };

	wb_varint(w, (uint64_t)restart_interval);
	wb_varint(w, n);
	/* Series runs. */
	for (size_t i = 0; i < n; i++)
		if (i == 0 || lsm_ukey_series(es[i].ikey) != lsm_ukey_series(es[i - 1].ikey))
			n_runs++;
	wb_varint(w, n_runs);
	for (size_t i = 0; i < n;) {
		uint64_t sid = lsm_ukey_series(es[i].ikey);
		size_t j = i;

		while (j < n && lsm_ukey_series(es[j].ikey) == sid)
			j++;
		wb_varint(w, sid - prev_series);
		wb_varint(w, j - i);
		prev_series = sid;
		i = j;
	}
	/* Timestamps: delta-of-delta within each run. */
	for (size_t i = 0; i < n; i++) {
		bool run_start = i == 0 || lsm_ukey_series(es[i].ikey) != lsm_ukey_series(es[i - 1].ikey);
		uint64_t t = (uint64_t)lsm_ukey_ts(es[i].ikey);

		if (run_start) {
			wb_varint(w, zigzag(t));
		} else {
			uint64_t d = t - (uint64_t)lsm_ukey_ts(es[i - 1].ikey);
			bool second = i == 1 || lsm_ukey_series(es[i - 1].ikey) != lsm_ukey_series(es[i - 2].ikey);
			uint64_t pd = second ? 0 : (uint64_t)lsm_ukey_ts(es[i - 1].ikey) - (uint64_t)lsm_ukey_ts(es[i - 2].ikey);

			wb_varint(w, zigzag(d - pd));
		}
	}
	/* Sequence/kind trailers. */
	for (size_t i = 0; i < n; i++) {
		uint64_t t = lsm_get_be64(es[i].ikey + LSM_UKEY_LEN);

		wb_varint(w, zigzag(t - prev_trailer));
		prev_trailer = t;
	}
	/* The columns a block's rows hold; rows mostly list them in one order, tried first. */
	for (size_t i = 0, hint = 0; i < n; i++) {
		for (size_t k = 0; k < es[i].n_fields; k++) {
			struct column c = { .id = es[i].fields[k].id, .type = es[i].fields[k].type };
			size_t m;

			if (hint < n_cols && cmp_column(&cols[hint], &c) == 0) {
				hint = (hint + 1) % n_cols;
				continue;
			}
			for (m = 0; m < n_cols && cmp_column(&cols[m], &c) != 0; m++)
				;
			if (m < n_cols) {
				hint = (m + 1) % n_cols;
				continue;
			}
			hint = n_cols + 1; /* the new column's successor: not known yet */
			if (n_cols == cap_cols) {
				struct column *g;

				cap_cols = cap_cols ? 2 * cap_cols : 16;
				g = strata_realloc(cols, cap_cols * sizeof(*g));
				if (!g) {
					strata_free(cols);
					return -ENOMEM;
				}
				cols = g;
			}
			cols[n_cols++] = c;
		}
	}
	if (n_cols)
		qsort(cols, n_cols, sizeof(*cols), cmp_column);
	/* Each column's value in each row (NULL: absent), found once instead of per use. */
	at = n_cols ? strata_calloc(n_cols * n, sizeof(*at)) : NULL;
	if (n_cols && !at) {
		strata_free(cols);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < es[i].n_fields; k++) {
			struct column c = { .id = es[i].fields[k].id, .type = es[i].fields[k].type };
			size_t lo = 0, hi = n_cols;

			while (lo < hi) {
				size_t mid = (lo + hi) / 2;

				if (cmp_column(&cols[mid], &c) < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (!at[lo * n + i])
				at[lo * n + i] = &es[i].fields[k];
		}
	}
	wb_varint(w, n_cols);
	for (size_t m = 0; m < n_cols; m++) {
		const struct column *c = &cols[m];
		const lsm_row_field *const *col = at + m * n;
		size_t bm = w->len;

		wb_varint(w, c->id);
		wb_u8(w, (uint8_t)c->type);
		bm = w->len;
		wb_reserve(w, (n + 7) / 8);
		if (w->oom)
			break;
		memset(w->p + bm, 0, (n + 7) / 8);
		w->len += (n + 7) / 8;
		for (size_t i = 0; i < n; i++)
			if (col[i])
				w->p[bm + i / 8] |= (uint8_t)(1u << (i % 8));
		payload.len = 0;
		switch (c->type) {
		case LSM_FIELD_FLOAT:
			encode_floats(&payload, col, n);
			break;
		case LSM_FIELD_INT:
		case LSM_FIELD_UINT:
			encode_ints(&payload, col, n);
			break;
		case LSM_FIELD_BOOL:
			encode_bools(&payload, col, n);
			break;
		case LSM_FIELD_STRING:
			encode_strings(&payload, col, n);
			break;
		}
		if (payload.oom) {
			w->oom = true;
			break;
		}
		wb_varint(w, payload.len);
		wb_bytes(w, payload.p, payload.len);
		/* Columns far past the block's size are not worth finishing (wide, sparse rows). */
		if (w->len > 2 * limit + 4096) {
			strata_free(payload.p);
			strata_free(at);
			strata_free(cols);
			return STRATA_EINVAL;
		}
	}
	strata_free(payload.p);
	strata_free(at);
	strata_free(cols);
	return w->oom ? -ENOMEM : 0;
}

int lsm_column_encode(const uint8_t *block, size_t len, int restart_interval, uint8_t **out, size_t *out_len)
{
	struct entry *es = NULL;
	lsm_row_field *fields = NULL;
	lsm_block *blk = NULL;
	struct wbuf w = { 0 };
	uint8_t *check = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (restart_interval < 1)
		return STRATA_EINVAL;
	rc = read_entries(block, len, &es, &n, &fields, &blk);
	if (rc == 0 && n == 0)
		rc = STRATA_EINVAL;
	if (rc == 0)
		rc = encode_columns(&w, es, n, restart_interval, len);
	/* Proof: the columns must give the block back byte for byte. */
	if (rc == 0) {
		rc = lsm_column_decode(w.p, w.len, len, &check);
		if (rc == 0 && memcmp(check, block, len) != 0)
			rc = STRATA_EINVAL;
		else if (rc == STRATA_ECORRUPT)
			rc = STRATA_EINVAL;
	}
	strata_free(check);
	strata_free(es);
	strata_free(fields);
	lsm_block_free(blk);
	if (rc) {
		strata_free(w.p);
		return rc;
	}
	*out = w.p;
	*out_len = w.len;
	return 0;
}

/* ---- decoding ---- */

struct rd {
	const uint8_t *p, *end;
	bool bad;
};

static uint64_t rd_varint(struct rd *r)
{
	uint64_t v = 0;
	size_t n = r->bad ? 0 : lsm_get_varint64(r->p, r->end, &v);

	if (n == 0) {
		r->bad = true;
		return 0;
	}
	r->p += n;
	return v;
}

static const uint8_t *rd_bytes(struct rd *r, uint64_t n)
{
	const uint8_t *p = r->p;

	if (r->bad || n > (uint64_t)(r->end - r->p)) {
		r->bad = true;
		return NULL;
	}
	r->p += n;
	return p;
}

static int corrupt(const char *what)
{
	return strata_error(STRATA_ECORRUPT, "column block: %s", what);
}

/* An entry's presence bit in a column. */
static bool bit_at(const uint8_t *bits, size_t i)
{
	return (bits[i / 8] >> (i % 8)) & 1;
}

/* The set bits among the first n of a bitmap. */
static size_t count_bits(const uint8_t *bits, size_t n)
{
	size_t count = 0, i = 0;

	for (; i + 64 <= n; i += 64)
		count += (size_t)__builtin_popcountll(lsm_get_le64(bits + i / 8));
	for (; i + 8 <= n; i += 8)
		count += (size_t)__builtin_popcount(bits[i / 8]);
	if (i < n)
		count += (size_t)__builtin_popcount(bits[i / 8] & ((1u << (n - i)) - 1));
	return count;
}

/*
 * Decodes column c's payload: its n_vals present values, in order, into the
 * first n_vals slots of out (lsm_colval, or lsm_colstr for strings; strings
 * point into the payload).
 */
static int decode_payload(const lsm_colvec *c, void *out)
{
	const uint8_t *p = c->payload;
	size_t len = c->payload_len, n_vals = c->n_vals;
	lsm_colval *num = out;
	lsm_colstr *str = out;
	struct rd r = { p, p + len, false };
	struct bitr b;

	switch (c->type) {
	case LSM_FIELD_FLOAT: {
		const uint8_t *mp = rd_bytes(&r, 1);
		uint64_t prev = 0;
		unsigned lz = 0, tz = 0;
		bool have_window = false;

		if (!mp || *mp > FLOAT_DELTA)
			return corrupt("bad float method");
		b = (struct bitr){ .p = r.p, .end = r.end };
		if (*mp == FLOAT_DELTA)
			return unpack_deltas(&b, &num->u, n_vals) ? 0 : corrupt("float deltas cut short");
		for (size_t i = 0; i < n_vals && !b.bad; i++) {
			uint64_t bits;

			if (i == 0) {
				bits = br_get(&b, 64);
			} else if (br_get(&b, 1) == 0) {
				bits = prev;
			} else {
				uint64_t x;

				if (br_get(&b, 1) == 1) {
					unsigned mlen;

					lz = (unsigned)br_get(&b, 5);
					mlen = (unsigned)br_get(&b, 6) + 1;
					if (lz + mlen > 64)
						return corrupt("float window out of range");
					tz = 64 - lz - mlen;
					have_window = true;
				} else if (!have_window) {
					return corrupt("float reuses a window it never set");
				}
				x = br_get(&b, 64 - lz - tz) << tz;
				bits = prev ^ x;
			}
			prev = bits;
			num[i].u = bits;
		}
		return b.bad ? corrupt("float stream cut short") : 0;
	}
	case LSM_FIELD_INT:
	case LSM_FIELD_UINT:
		b = (struct bitr){ .p = p, .end = p + len };
		return unpack_deltas(&b, &num->u, n_vals) ? 0 : corrupt("integer stream cut short");
	case LSM_FIELD_BOOL:
		b = (struct bitr){ .p = p, .end = p + len };
		for (size_t i = 0; i < n_vals && !b.bad; i++)
			num[i].u = br_get(&b, 1);
		return b.bad ? corrupt("boolean stream cut short") : 0;
	case LSM_FIELD_STRING: {
		uint64_t n_dict = rd_varint(&r);

		if (r.bad || n_dict > DICT_MAX)
			return corrupt("bad string dictionary");
		if (n_dict == 0) {
			for (size_t i = 0; i < n_vals; i++) {
				uint64_t l = rd_varint(&r);
				const uint8_t *s = rd_bytes(&r, l);

				if (!s)
					return corrupt("string cut short");
				str[i] = (lsm_colstr){ (const char *)s, (size_t)l };
			}
			return 0;
		}
		{
			lsm_colstr dict[DICT_MAX];
			const uint8_t *wp;
			unsigned width;

			for (size_t k = 0; k < n_dict; k++) {
				uint64_t l = rd_varint(&r);
				const uint8_t *s = rd_bytes(&r, l);

				if (!s)
					return corrupt("string dictionary cut short");
				dict[k] = (lsm_colstr){ (const char *)s, (size_t)l };
			}
			wp = rd_bytes(&r, 1);
			if (!wp || *wp > 8)
				return corrupt("bad dictionary index width");
			width = *wp;
			b = (struct bitr){ .p = r.p, .end = r.end };
			for (size_t i = 0; i < n_vals && !b.bad; i++) {
				uint64_t k = br_get(&b, width);

				if (k >= n_dict)
					return corrupt("dictionary index out of range");
				str[i] = dict[k];
			}
			return b.bad ? corrupt("dictionary indices cut short") : 0;
		}
	}
	}
	return corrupt("unknown field type");
}

static size_t value_size(const lsm_colvec *c)
{
	return c->type == LSM_FIELD_STRING ? sizeof(lsm_colstr) : sizeof(lsm_colval);
}

/* Column k's values laid out by entry: the present ones decoded, moved to their entries from the back. */
static int decode_column(const lsm_colset *cs, size_t k, void **out)
{
	const lsm_colvec *c = &cs->cols[k];
	size_t size = value_size(c);
	uint8_t *v = strata_calloc(cs->n + 1, size);
	int rc;

	*out = NULL;
	if (!v)
		return -ENOMEM;
	rc = decode_payload(c, v);
	if (rc) {
		strata_free(v);
		return rc;
	}
	/* Slots above i are placed; j counts the present values not yet placed (all at or below i). */
	for (size_t i = cs->n, j = c->n_vals; i-- > 0;) {
		if (bit_at(c->present, i)) {
			j--;
			if (j != i)
				memcpy(v + i * size, v + j * size, size);
		} else {
			memset(v + i * size, 0, size);
		}
	}
	*out = v;
	return 0;
}

const void *lsm_colset_values(lsm_colset *cs, size_t k, int *rc)
{
	lsm_colvec *c = &cs->cols[k];
	void *v = atomic_load_explicit(&c->vals, memory_order_acquire), *expect = NULL;

	*rc = 0;
	if (v)
		return v;
	if (!c->payload) {
		*rc = STRATA_ENOTFOUND;
		return NULL;
	}
	*rc = decode_column(cs, k, &v);
	if (*rc)
		return NULL;
	/* Another reader may have decoded it meanwhile: keep the first, drop ours. */
	if (!atomic_compare_exchange_strong_explicit(&c->vals, &expect, v, memory_order_acq_rel,
						     memory_order_acquire)) {
		strata_free(v);
		v = expect;
	}
	return v;
}

void lsm_colset_free(lsm_colset *cs)
{
	if (!cs)
		return;
	for (size_t k = 0; cs->cols && k < cs->n_cols; k++)
		strata_free(atomic_load_explicit(&cs->cols[k].vals, memory_order_relaxed));
	strata_free(cs->cols);
	strata_free(cs->run_series);
	strata_free(cs->run_start);
	strata_free(cs->ts);
	strata_free(cs->buf);
	strata_free(cs->presence);
	strata_free(cs);
}

static bool wanted(const lsm_colwant *want, uint32_t id)
{
	return !want || (id < want->n_ids && want->by_id[id]);
}

/* Whether set has the column of field id and type decoded. */
static bool holds_decoded(const lsm_colset *set, uint32_t id, enum lsm_field_type type)
{
	for (size_t k = 0; set && k < set->n_cols; k++)
		if (set->cols[k].id == id && set->cols[k].type == type)
			return atomic_load_explicit(&set->cols[k].vals, memory_order_acquire) != NULL;
	return false;
}

bool lsm_colset_needs(const lsm_colwant *want, const lsm_colset *keep, uint32_t id, enum lsm_field_type type)
{
	return wanted(want, id) || holds_decoded(keep, id, type);
}

int lsm_colset_keep(lsm_colset *cs, const lsm_colwant *want, const lsm_colset *keep)
{
	size_t bm = (cs->n + 7) / 8;
	bool strings = false;
	uint8_t *presence;
	int rc = 0;

	for (size_t k = 0; k < cs->n_cols; k++) {
		lsm_colvec *c = &cs->cols[k];

		if (!lsm_colset_needs(want, keep, c->id, c->type))
			continue;
		if (!lsm_colset_values(cs, k, &rc))
			return rc;
		strings |= c->type == LSM_FIELD_STRING;
	}
	if (strings)
		return 0; /* decoded strings point into the buffer: it stays, and every column with it */
	presence = strata_malloc(cs->n_cols * bm + 1);
	if (!presence)
		return -ENOMEM;
	for (size_t k = 0; k < cs->n_cols; k++) {
		lsm_colvec *c = &cs->cols[k];

		if (c->present) { /* NULL: a column the set was built without (lsm_colset_add_unloaded) */
			memcpy(presence + k * bm, c->present, bm);
			c->present = presence + k * bm;
		}
		c->payload = NULL;
		c->payload_len = 0;
	}
	cs->presence = presence;
	cs->trailers = NULL;
	strata_free(cs->buf);
	cs->buf = NULL;
	cs->buf_len = 0;
	return 0;
}

bool lsm_colset_has(const lsm_colset *cs, const lsm_colwant *want)
{
	for (size_t k = 0; k < cs->n_cols; k++) {
		const lsm_colvec *c = &cs->cols[k];

		/*
		 * Decoded only: a column still encoded would be decoded into the
		 * shared set past its cache charge; reading the set again keeps
		 * the charge true.
		 */
		if (wanted(want, c->id) && !atomic_load_explicit(&c->vals, memory_order_acquire))
			return false;
	}
	return true;
}

size_t lsm_colset_charge(const lsm_colset *cs)
{
	size_t bytes = sizeof(*cs) + cs->buf_len + cs->n * sizeof(int64_t) +
		       cs->n_runs * sizeof(uint64_t) + (cs->n_runs + 1) * sizeof(size_t) +
		       cs->n_cols * sizeof(lsm_colvec);

	if (cs->presence)
		bytes += cs->n_cols * ((cs->n + 7) / 8);
	for (size_t k = 0; k < cs->n_cols; k++)
		if (atomic_load_explicit(&cs->cols[k].vals, memory_order_acquire))
			bytes += (cs->n + 1) * value_size(&cs->cols[k]);
	return bytes;
}

int lsm_colset_decode(lsm_colset **out, uint8_t *buf, size_t len)
{
	struct rd r = { buf, buf + len, false };
	lsm_colset *cs;
	uint64_t interval, n, n_runs, n_cols;
	int rc = 0;

	*out = NULL;
	cs = strata_calloc(1, sizeof(*cs));
	if (!cs) {
		strata_free(buf);
		return -ENOMEM;
	}
	cs->buf = buf;
	cs->buf_len = len;
	interval = rd_varint(&r);
	n = rd_varint(&r);
	n_runs = rd_varint(&r);
	/* Every entry costs at least one byte of the input: bounds before allocating. */
	if (r.bad || interval < 1 || interval > 1u << 20 || n == 0 || n > len || n_runs == 0 || n_runs > n) {
		rc = corrupt("bad header");
		goto out;
	}
	cs->restart_interval = (int)interval;
	cs->n = (size_t)n;
	cs->n_runs = (size_t)n_runs;
	cs->run_series = strata_malloc(n_runs * sizeof(*cs->run_series));
	cs->run_start = strata_malloc((n_runs + 1) * sizeof(*cs->run_start));
	cs->ts = strata_malloc(n * sizeof(*cs->ts));
	if (!cs->run_series || !cs->run_start || !cs->ts) {
		rc = -ENOMEM;
		goto out;
	}
	{
		uint64_t sid = 0, total = 0;

		for (uint64_t k = 0; k < n_runs; k++) {
			uint64_t count, delta = rd_varint(&r);

			/* Runs ascend by series (readers binary-search them): no zero or wrapping delta after the first. */
			if (k > 0 && (delta == 0 || sid + delta < sid)) {
				rc = corrupt("series runs out of order");
				goto out;
			}
			sid += delta;
			count = rd_varint(&r);
			if (count == 0 || count > n - total) {
				rc = corrupt("bad series run");
				goto out;
			}
			cs->run_series[k] = sid;
			cs->run_start[k] = (size_t)total;
			total += count;
		}
		if (total != n) {
			rc = corrupt("series runs do not cover the entries");
			goto out;
		}
		cs->run_start[n_runs] = (size_t)n;
	}
	cs->simple = true;
	for (size_t k = 0, i = 0; k < cs->n_runs; k++) {
		uint64_t t = 0, d = 0;

		for (size_t j = 0; i < cs->run_start[k + 1]; j++, i++) {
			uint64_t z = rd_varint(&r);

			if (j == 0) {
				t = unzigzag(z);
			} else {
				d += unzigzag(z);
				t += d;
			}
			cs->ts[i] = (int64_t)t;
			/* Two versions of one key: readers must fold them, not take both. */
			if (j > 0 && cs->ts[i] <= cs->ts[i - 1])
				cs->simple = false;
		}
	}
	cs->trailers = r.p;
	{
		uint64_t t = 0;

		for (uint64_t i = 0; i < n; i++) {
			enum lsm_kind kind;

			t += unzigzag(rd_varint(&r));
			kind = (enum lsm_kind)(~t & 0xff);
			if (kind != LSM_KIND_PUT)
				cs->simple = false;
		}
	}
	n_cols = rd_varint(&r);
	if (r.bad || n_cols > len) {
		rc = corrupt("bad column count");
		goto out;
	}
	cs->cols = strata_calloc(n_cols + 1, sizeof(*cs->cols));
	if (!cs->cols) {
		rc = -ENOMEM;
		goto out;
	}
	cs->n_cols = (size_t)n_cols;
	for (size_t m = 0; m < cs->n_cols; m++) {
		lsm_colvec *c = &cs->cols[m];
		uint64_t id = rd_varint(&r), plen;
		const uint8_t *tp = rd_bytes(&r, 1);

		if (r.bad || id > UINT32_MAX || !tp || *tp < LSM_FIELD_FLOAT || *tp > LSM_FIELD_BOOL) {
			rc = corrupt("bad column header");
			goto out;
		}
		c->id = (uint32_t)id;
		c->type = (enum lsm_field_type)*tp;
		if (m > 0 && (cs->cols[m - 1].id > c->id ||
			      (cs->cols[m - 1].id == c->id && cs->cols[m - 1].type >= c->type))) {
			rc = corrupt("columns out of order");
			goto out;
		}
		c->present = rd_bytes(&r, (n + 7) / 8);
		plen = rd_varint(&r);
		c->payload = rd_bytes(&r, plen);
		c->payload_len = (size_t)plen;
		if (!c->present || !c->payload) {
			rc = corrupt("column cut short");
			goto out;
		}
		c->n_vals = count_bits(c->present, (size_t)n);
	}
	if (r.p != r.end)
		rc = corrupt("trailing bytes");
out:
	if (rc) {
		lsm_colset_free(cs);
		return rc;
	}
	*out = cs;
	return 0;
}

int lsm_column_layout(const uint8_t *enc, size_t len, size_t *head_len, lsm_colspan **cols, size_t *n_cols)
{
	struct rd r = { enc, enc + len, false };
	uint64_t n, n_runs, n_cols_enc;
	lsm_colspan *spans;

	*cols = NULL;
	*n_cols = 0;
	rd_varint(&r); /* restart interval */
	n = rd_varint(&r);
	n_runs = rd_varint(&r);
	if (r.bad || n == 0 || n > len || n_runs == 0 || n_runs > n)
		return corrupt("bad header");
	for (uint64_t k = 0; k < 2 * n_runs + 2 * n && !r.bad; k++)
		rd_varint(&r); /* runs (id delta, count), timestamps, trailers */
	*head_len = (size_t)(r.p - enc);
	n_cols_enc = rd_varint(&r);
	if (r.bad || n_cols_enc > len)
		return corrupt("bad column count");
	spans = strata_calloc(n_cols_enc + 1, sizeof(*spans));
	if (!spans)
		return -ENOMEM;
	for (size_t m = 0; m < n_cols_enc; m++) {
		const uint8_t *start = r.p, *tp;
		uint64_t id = rd_varint(&r);

		tp = rd_bytes(&r, 1);
		rd_bytes(&r, (n + 7) / 8);
		rd_bytes(&r, rd_varint(&r));
		if (r.bad || id > UINT32_MAX || *tp < LSM_FIELD_FLOAT || *tp > LSM_FIELD_BOOL) {
			strata_free(spans);
			return corrupt("column cut short");
		}
		spans[m] = (lsm_colspan){ .id = (uint32_t)id, .type = (enum lsm_field_type)*tp,
					  .offset = (size_t)(start - enc), .len = (size_t)(r.p - start) };
	}
	if (r.p != r.end) {
		strata_free(spans);
		return corrupt("trailing bytes");
	}
	*cols = spans;
	*n_cols = (size_t)n_cols_enc;
	return 0;
}

int lsm_colset_add_unloaded(lsm_colset *cs, const lsm_colspan *cols, size_t n)
{
	lsm_colvec *all;
	size_t a = 0, b = 0, k = 0;

	if (n == 0)
		return 0;
	all = strata_calloc(cs->n_cols + n + 1, sizeof(*all));
	if (!all)
		return -ENOMEM;
	/* Both lists ascend by (id, type): merge them, and refuse a column named in both. */
	while (a < cs->n_cols || b < n) {
		const lsm_colvec *c = a < cs->n_cols ? &cs->cols[a] : NULL;
		const lsm_colspan *u = b < n ? &cols[b] : NULL;

		if (c && u && c->id == u->id && c->type == u->type) {
			strata_free(all);
			return corrupt("a column both read and not");
		}
		if (c && (!u || c->id < u->id || (c->id == u->id && c->type < u->type))) {
			all[k].id = c->id;
			all[k].type = c->type;
			all[k].present = c->present;
			all[k].n_vals = c->n_vals;
			all[k].payload = c->payload;
			all[k].payload_len = c->payload_len;
			atomic_store_explicit(&all[k].vals, atomic_load_explicit(&c->vals, memory_order_relaxed),
					      memory_order_relaxed);
			a++;
		} else {
			all[k].id = u->id;
			all[k].type = u->type;
			b++;
		}
		k++;
	}
	strata_free(cs->cols);
	cs->cols = all;
	cs->n_cols = k;
	return 0;
}

/* Entry i's field from column m (present there), as a row field. */
static lsm_row_field row_field_at(const lsm_colset *cs, size_t m, const void *vals, size_t i)
{
	const lsm_colvec *c = &cs->cols[m];
	lsm_row_field f = { .id = c->id, .type = c->type };
	lsm_colval v;

	if (c->type == LSM_FIELD_STRING) {
		const lsm_colstr *s = (const lsm_colstr *)vals + i;

		f.v.s.p = s->p;
		f.v.s.len = s->len;
		return f;
	}
	v = ((const lsm_colval *)vals)[i];
	switch (c->type) {
	case LSM_FIELD_FLOAT: f.v.f = v.f; break;
	case LSM_FIELD_INT: f.v.i = v.i; break;
	case LSM_FIELD_UINT: f.v.u = v.u; break;
	default: f.v.b = v.u != 0; break;
	}
	return f;
}

int lsm_column_decode(const uint8_t *in, size_t len, size_t block_len, uint8_t **out)
{
	uint8_t *copy = strata_malloc(len ? len : 1);

	*out = NULL;
	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, in, len);
	return lsm_column_decode_buf(copy, len, block_len, out);
}

int lsm_column_decode_buf(uint8_t *buf, size_t len, size_t block_len, uint8_t **out)
{
	lsm_block_builder bb;
	lsm_colset *cs = NULL;
	const void **vals = NULL;
	uint8_t *rowbuf = NULL;
	lsm_row_field *fields = NULL;
	const uint8_t *block;
	size_t block_out_len, rowcap = 0;
	struct rd r;
	uint64_t trailer = 0;
	int rc;

	*out = NULL;
	rc = lsm_colset_decode(&cs, buf, len);
	if (rc)
		return rc;
	lsm_block_builder_init(&bb, cs->restart_interval);
	vals = strata_calloc(cs->n_cols + 1, sizeof(*vals));
	fields = strata_malloc((cs->n_cols + 1) * sizeof(*fields));
	if (!vals || !fields) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t m = 0; m < cs->n_cols && rc == 0; m++)
		vals[m] = lsm_colset_values(cs, m, &rc);
	if (rc)
		goto out;
	r = (struct rd){ cs->trailers, cs->buf + cs->buf_len, false };
	for (size_t i = 0, run = 0; i < cs->n; i++) {
		uint8_t ikey[LSM_IKEY_LEN], ukey[LSM_UKEY_LEN];
		enum lsm_kind kind;
		size_t nf = 0, vlen = 0;

		trailer += unzigzag(rd_varint(&r));
		kind = (enum lsm_kind)(~trailer & 0xff);
		if (kind != LSM_KIND_DELETE && kind != LSM_KIND_PUT && kind != LSM_KIND_MERGE) {
			rc = corrupt("unknown entry kind");
			goto out;
		}
		while (i >= cs->run_start[run + 1])
			run++;
		lsm_ukey_encode(ukey, cs->run_series[run], cs->ts[i]);
		memcpy(ikey, ukey, LSM_UKEY_LEN);
		lsm_put_be64(ikey + LSM_UKEY_LEN, trailer);
		for (size_t m = 0; m < cs->n_cols; m++) {
			if (!bit_at(cs->cols[m].present, i))
				continue;
			if (kind == LSM_KIND_DELETE || (nf > 0 && fields[nf - 1].id == cs->cols[m].id)) {
				rc = corrupt("field in a delete, or twice in a row");
				goto out;
			}
			fields[nf++] = row_field_at(cs, m, vals[m], i);
		}
		if (kind != LSM_KIND_DELETE) {
			size_t need = lsm_row_encoded_max(fields, nf);

			if (need > rowcap) {
				uint8_t *g = strata_realloc(rowbuf, need);

				if (!g) {
					rc = -ENOMEM;
					goto out;
				}
				rowbuf = g;
				rowcap = need;
			}
			vlen = lsm_row_encode(rowbuf, rowcap, fields, nf);
			if (vlen == 0) {
				rc = corrupt("row does not encode");
				goto out;
			}
		}
		rc = lsm_block_builder_add(&bb, ikey, sizeof ikey, rowbuf, vlen);
		if (rc) {
			if (rc == STRATA_EINVAL)
				rc = corrupt("entries out of order");
			goto out;
		}
		/*
		 * Never build much more than the block it must be (the builder's
		 * running size estimate may run ahead a little): a forged encoding
		 * could otherwise ask for gigabytes.
		 */
		if (lsm_block_builder_size(&bb) > 2 * block_len + 4096) {
			rc = corrupt("block of another size");
			goto out;
		}
	}
	rc = lsm_block_builder_finish(&bb, &block, &block_out_len);
	if (rc == 0 && block_out_len != block_len)
		rc = corrupt("block of another size");
	if (rc == 0) {
		*out = strata_malloc(block_len ? block_len : 1);
		if (!*out)
			rc = -ENOMEM;
		else
			memcpy(*out, block, block_len);
	}
out:
	strata_free(vals);
	strata_free(rowbuf);
	strata_free(fields);
	lsm_colset_free(cs);
	lsm_block_builder_deinit(&bb);
	return rc;
}
