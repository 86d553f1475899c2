/*
 * row.c — the row codec of row.h: the fields of one point, encoded as a
 * count and then (field id, type, value) in ascending field id order.
 *
 * Rows come back from the WAL, memtables and SSTables, so decoding trusts
 * nothing: every varint is bounded by the bytes that remain, a string length
 * is checked against them before use, field ids must ascend strictly, a
 * boolean is 0 or 1, and a row must end exactly after its last field. Any
 * breach is STRATA_ECORRUPT; no input makes the decoder read out of bounds.
 *
 * Decoding is one forward walk (row_next) shared by decode, count and merge.
 * Merge never re-encodes values: both rows are already in the wire format,
 * so it copies each winning field's encoded bytes as they are, in one pass
 * over both rows (they are sorted by id), and writes the new count in front.
 *
 * Everything here is pure and reentrant: any thread may call anything.
 */
#include "lsm/row.h"
#include "lsm/alloc.h"
#include "lsm/coding.h"
#include "lsm/status.h"

#include <errno.h>
#include <string.h>

/* Bytes of the smallest field: a one-byte id, the type, a one-byte value. */
#define ROW_FIELD_MIN_BYTES 3

const char *lsm_field_type_name(enum lsm_field_type t)
{
	switch (t) {
	case LSM_FIELD_FLOAT: return "float";
	case LSM_FIELD_INT: return "integer";
	case LSM_FIELD_UINT: return "unsigned";
	case LSM_FIELD_STRING: return "string";
	case LSM_FIELD_BOOL: return "boolean";
	}
	return "unknown";
}

static inline uint64_t zigzag_encode(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t zigzag_decode(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Encoded bytes of one field, or 0 for an unknown type. */
static size_t field_encoded_len(const lsm_row_field *f)
{
	size_t n = lsm_varint64_len(f->id) + 1;

	switch (f->type) {
	case LSM_FIELD_FLOAT: return n + 8;
	case LSM_FIELD_INT: return n + lsm_varint64_len(zigzag_encode(f->v.i));
	case LSM_FIELD_UINT: return n + lsm_varint64_len(f->v.u);
	case LSM_FIELD_BOOL: return n + 1;
	case LSM_FIELD_STRING: return n + lsm_varint64_len(f->v.s.len) + f->v.s.len;
	}
	return 0;
}

size_t lsm_row_encoded_max(const lsm_row_field *fields, size_t n)
{
	size_t total = LSM_VARINT64_MAX;

	for (size_t i = 0; i < n; i++) {
		total += LSM_VARINT32_MAX + 1 + LSM_VARINT64_MAX;
		if (fields[i].type == LSM_FIELD_STRING)
			total += fields[i].v.s.len;
	}
	return total;
}

/* Stable merge of the sorted runs a[0, na) and b[0, nb) into out. */
static void merge_runs(lsm_row_field *out, const lsm_row_field *a, size_t na,
		       const lsm_row_field *b, size_t nb)
{
	size_t i = 0, j = 0, k = 0;

	while (i < na && j < nb) {
		/* Equal ids: the one from a came first in the input, so it goes first. */
		if (b[j].id < a[i].id)
			out[k++] = b[j++];
		else
			out[k++] = a[i++];
	}
	while (i < na)
		out[k++] = a[i++];
	while (j < nb)
		out[k++] = b[j++];
}

static void insertion_sort(lsm_row_field *f, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		lsm_row_field x = f[i];
		size_t j = i;

		while (j > 0 && f[j - 1].id > x.id) {
			f[j] = f[j - 1];
			j--;
		}
		f[j] = x;
	}
}

/* Stable sort by id: bottom-up merge sort, insertion sort when small or out of memory. */
static void stable_sort(lsm_row_field *f, size_t n)
{
	lsm_row_field *tmp, *src, *dst;

	if (n <= 16) {
		insertion_sort(f, n);
		return;
	}
	tmp = strata_malloc(n * sizeof(*tmp));
	if (!tmp) {
		insertion_sort(f, n);
		return;
	}
	src = f;
	dst = tmp;
	for (size_t width = 1; width < n; width *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * width) {
			size_t mid = lo + width < n ? lo + width : n;
			size_t hi = lo + 2 * width < n ? lo + 2 * width : n;

			merge_runs(dst + lo, src + lo, mid - lo, src + mid, hi - mid);
		}
		lsm_row_field *t = src;
		src = dst;
		dst = t;
	}
	if (src != f)
		memcpy(f, src, n * sizeof(*f));
	strata_free(tmp);
}

size_t lsm_row_normalize(lsm_row_field *fields, size_t n)
{
	size_t out = 0;
	bool sorted = true;

	for (size_t i = 1; i < n && sorted; i++)
		sorted = fields[i - 1].id < fields[i].id;
	if (sorted)
		return n;
	stable_sort(fields, n);
	/* Equal ids are now adjacent in input order: keep the last of each run. */
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n && fields[i + 1].id == fields[i].id)
			continue;
		fields[out++] = fields[i];
	}
	return out;
}

size_t lsm_row_encode(uint8_t *out, size_t cap, const lsm_row_field *fields, size_t n)
{
	size_t need = lsm_varint64_len(n), pos;

	for (size_t i = 0; i < n; i++) {
		size_t len = field_encoded_len(&fields[i]);

		/* Not normalized, or an unknown type: nothing a decoder would accept. */
		if (len == 0 || (i > 0 && fields[i - 1].id >= fields[i].id))
			return 0;
		need += len;
	}
	if (need > cap)
		return 0;
	pos = lsm_put_varint64(out, n);
	for (size_t i = 0; i < n; i++) {
		const lsm_row_field *f = &fields[i];

		pos += lsm_put_varint64(out + pos, f->id);
		out[pos++] = (uint8_t)f->type;
		switch (f->type) {
		case LSM_FIELD_FLOAT: {
			uint64_t bits;

			memcpy(&bits, &f->v.f, sizeof bits);
			lsm_put_le64(out + pos, bits);
			pos += 8;
			break;
		}
		case LSM_FIELD_INT:
			pos += lsm_put_varint64(out + pos, zigzag_encode(f->v.i));
			break;
		case LSM_FIELD_UINT:
			pos += lsm_put_varint64(out + pos, f->v.u);
			break;
		case LSM_FIELD_BOOL:
			out[pos++] = f->v.b ? 1 : 0;
			break;
		case LSM_FIELD_STRING:
			pos += lsm_put_varint64(out + pos, f->v.s.len);
			if (f->v.s.len)
				memcpy(out + pos, f->v.s.p, f->v.s.len);
			pos += f->v.s.len;
			break;
		}
	}
	return pos;
}

/* A forward walk over an encoded row. */
struct row_cursor {
	const uint8_t *p;
	const uint8_t *end;
	uint64_t left;     /* fields still to read */
	uint64_t last_id;  /* id of the field last read */
	bool started;
};

/* Reads the count; 0 or STRATA_ECORRUPT. */
static int row_begin(struct row_cursor *c, const uint8_t *row, size_t len)
{
	size_t n;

	c->p = row;
	c->end = row + len;
	c->last_id = 0;
	c->started = false;
	n = lsm_get_varint64(c->p, c->end, &c->left);
	if (n == 0)
		return STRATA_ECORRUPT;
	c->p += n;
	/* Each field takes at least ROW_FIELD_MIN_BYTES: a count beyond that is a lie. */
	if (c->left > (uint64_t)(c->end - c->p) / ROW_FIELD_MIN_BYTES)
		return STRATA_ECORRUPT;
	return 0;
}

/*
 * Reads the next field into *f (when f is not NULL) and sets *raw / *raw_len
 * to its encoded bytes. 1 for a field, 0 at the end (the row must end
 * exactly there), STRATA_ECORRUPT.
 */
static int row_next(struct row_cursor *c, lsm_row_field *f, const uint8_t **raw, size_t *raw_len)
{
	const uint8_t *start = c->p;
	uint32_t id;
	uint64_t v;
	size_t n;
	uint8_t type;

	if (c->left == 0)
		return c->p == c->end ? 0 : STRATA_ECORRUPT;
	n = lsm_get_varint32(c->p, c->end, &id);
	if (n == 0)
		return STRATA_ECORRUPT;
	c->p += n;
	if (c->started && id <= c->last_id)
		return STRATA_ECORRUPT;
	if (c->p >= c->end)
		return STRATA_ECORRUPT;
	type = *c->p++;
	if (f) {
		f->id = id;
		f->type = (enum lsm_field_type)type;
	}
	switch (type) {
	case LSM_FIELD_FLOAT:
		if (c->end - c->p < 8)
			return STRATA_ECORRUPT;
		if (f) {
			uint64_t bits = lsm_get_le64(c->p);

			memcpy(&f->v.f, &bits, sizeof bits);
		}
		c->p += 8;
		break;
	case LSM_FIELD_INT:
	case LSM_FIELD_UINT:
		n = lsm_get_varint64(c->p, c->end, &v);
		if (n == 0)
			return STRATA_ECORRUPT;
		c->p += n;
		if (f) {
			if (type == LSM_FIELD_INT)
				f->v.i = zigzag_decode(v);
			else
				f->v.u = v;
		}
		break;
	case LSM_FIELD_BOOL:
		if (c->p >= c->end || *c->p > 1)
			return STRATA_ECORRUPT;
		if (f)
			f->v.b = *c->p == 1;
		c->p++;
		break;
	case LSM_FIELD_STRING:
		n = lsm_get_varint64(c->p, c->end, &v);
		if (n == 0)
			return STRATA_ECORRUPT;
		c->p += n;
		if (v > (uint64_t)(c->end - c->p))
			return STRATA_ECORRUPT;
		if (f) {
			f->v.s.p = (const char *)c->p;
			f->v.s.len = (size_t)v;
		}
		c->p += v;
		break;
	default:
		return STRATA_ECORRUPT;
	}
	c->last_id = id;
	c->started = true;
	c->left--;
	if (raw) {
		*raw = start;
		*raw_len = (size_t)(c->p - start);
	}
	return 1;
}

/* Walks a whole row, storing up to max fields in out; *n_out gets the row's count. */
static int row_walk(const uint8_t *row, size_t len, lsm_row_field *out, size_t max, size_t *n_out)
{
	struct row_cursor c;
	size_t i = 0;
	int rc;

	rc = row_begin(&c, row, len);
	if (rc)
		return rc;
	for (;;) {
		rc = row_next(&c, i < max ? &out[i] : NULL, NULL, NULL);
		if (rc <= 0)
			break;
		i++;
	}
	if (rc == 0)
		*n_out = i;
	return rc;
}

int lsm_row_decode(const uint8_t *row, size_t len, lsm_row_field *out, size_t max, size_t *n_out)
{
	size_t n = 0;
	int rc;

	*n_out = 0;
	rc = row_walk(row, len, out, max, &n);
	if (rc)
		return strata_error(STRATA_ECORRUPT, "malformed row (%zu bytes)", len);
	if (n > max)
		return strata_error(STRATA_ETOOBIG, "row holds %zu fields, room for %zu", n, max);
	*n_out = n;
	return 0;
}

int lsm_row_decode_some(const uint8_t *row, size_t len, const bool *want, uint32_t n_want, lsm_row_field *out,
			size_t max, size_t *n_out)
{
	struct row_cursor c;
	lsm_row_field f;
	size_t n = 0;
	int rc;

	*n_out = 0;
	rc = row_begin(&c, row, len);
	while (rc == 0 && (rc = row_next(&c, &f, NULL, NULL)) == 1) {
		rc = 0;
		if (f.id >= n_want || !want[f.id])
			continue;
		if (n == max)
			return strata_error(STRATA_ETOOBIG, "row holds more than %zu wanted fields", max);
		out[n++] = f;
	}
	if (rc)
		return strata_error(STRATA_ECORRUPT, "malformed row (%zu bytes)", len);
	*n_out = n;
	return 0;
}

long lsm_row_count(const uint8_t *row, size_t len)
{
	size_t n = 0;

	if (row_walk(row, len, NULL, 0, &n) != 0)
		return -1;
	return (long)n;
}

int lsm_row_merge(void *ctx, const uint8_t *older, size_t older_len, const uint8_t *newer,
		  size_t newer_len, uint8_t **out, size_t *out_len)
{
	struct row_cursor a, b;
	const uint8_t *ra = NULL, *rb = NULL;
	size_t la = 0, lb = 0, body, pos = LSM_VARINT64_MAX, head;
	uint64_t n = 0;
	lsm_row_field fa, fb;
	uint8_t *buf = NULL, count[LSM_VARINT64_MAX];
	int ha, hb, rc;

	(void)ctx;
	*out = NULL;
	*out_len = 0;
	if (row_begin(&a, older, older_len) || row_begin(&b, newer, newer_len)) {
		rc = STRATA_ECORRUPT;
		goto corrupt;
	}
	/* The union is never longer than both rows together. */
	buf = strata_malloc(LSM_VARINT64_MAX + older_len + newer_len);
	if (!buf)
		return -ENOMEM;
	ha = row_next(&a, &fa, &ra, &la);
	hb = row_next(&b, &fb, &rb, &lb);
	while (ha == 1 || hb == 1) {
		if (ha < 0 || hb < 0)
			break;
		if (hb == 1 && (ha == 0 || fb.id <= fa.id)) {
			memcpy(buf + pos, rb, lb);
			pos += lb;
			if (ha == 1 && fa.id == fb.id)
				ha = row_next(&a, &fa, &ra, &la);
			hb = row_next(&b, &fb, &rb, &lb);
		} else {
			memcpy(buf + pos, ra, la);
			pos += la;
			ha = row_next(&a, &fa, &ra, &la);
		}
		n++;
	}
	if (ha < 0 || hb < 0) {
		rc = STRATA_ECORRUPT;
		goto corrupt;
	}
	body = pos - LSM_VARINT64_MAX;
	head = lsm_put_varint64(count, n);
	memcpy(buf, count, head);
	memmove(buf + head, buf + LSM_VARINT64_MAX, body);
	*out = buf;
	*out_len = head + body;
	return 0;
corrupt:
	strata_free(buf);
	return strata_error(rc, "merge: malformed row (older %zu bytes, newer %zu bytes)", older_len, newer_len);
}
