/*
 * column_parts.c — a column block stored in parts (column_parts.h).
 *
 * Stored bytes: the directory, then the head part, then one part per
 * column in the encoding's order.
 *   directory: varint block_len, varint enc_len, varint n_cols,
 *              varint head part size,
 *              n_cols x { varint field id, u8 type, varint part size }
 *   part:      u8 method (0 raw, 1 zstd), varint raw size, the bytes,
 *              u32 LE the low 32 bits of XXH3-64 of all before it
 * The head part's raw bytes are the encoding before its column count; a
 * column part's are the column's bytes in the encoding (field id, type,
 * presence, payload size, payload).
 */
#include "lsm/column_parts.h"
#include "lsm/alloc.h"
#include "lsm/coding.h"
#include "lsm/column_block.h"
#include "lsm/sstable_format.h"
#include "lsm/status.h"

#include <errno.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

enum { PART_RAW = 0, PART_ZSTD = 1 };
/* Method byte, a one-byte raw size and the checksum: the least a part takes. */
#define PART_MIN 6

static int corrupt(const char *what)
{
	return strata_error(STRATA_ECORRUPT, "column parts: %s", what);
}

/*
 * Writes one part of src[0..len) at dst (room for PART_MIN +
 * LSM_VARINT64_MAX + ZSTD_compressBound(len)): compressed when smaller.
 * Returns its size.
 */
static size_t put_part(ZSTD_CCtx *cctx, int level, uint8_t *dst, const uint8_t *src, size_t len)
{
	size_t h = 1 + lsm_put_varint64(dst + 1, len);
	size_t z = ZSTD_compressCCtx(cctx, dst + h, ZSTD_compressBound(len), src, len, level);

	if (!ZSTD_isError(z) && z < len) {
		dst[0] = PART_ZSTD;
	} else {
		dst[0] = PART_RAW;
		memcpy(dst + h, src, len);
		z = len;
	}
	lsm_put_le32(dst + h + z, (uint32_t)XXH3_64bits(dst, h + z));
	return h + z + 4;
}

static int reserve(uint8_t **buf, size_t *cap, size_t need)
{
	uint8_t *grown;

	if (need <= *cap)
		return 0;
	grown = strata_realloc(*buf, need);
	if (!grown)
		return -ENOMEM;
	*buf = grown;
	*cap = need;
	return 0;
}

int lsm_colparts_store(ZSTD_CCtx *cctx, int level, const uint8_t *enc, size_t enc_len, size_t block_len,
		       uint8_t **buf, size_t *cap, size_t *out_len, size_t *dir_len)
{
	lsm_colspan *cols = NULL;
	size_t head_len, n_cols, bound, dlen, at;
	size_t *part_len = NULL;
	uint8_t *parts = NULL;
	int rc;

	rc = lsm_column_layout(enc, enc_len, &head_len, &cols, &n_cols);
	if (rc)
		return rc;
	/* Parts first, into a scratch area: the directory before them holds their sizes. */
	bound = (n_cols + 1) * (PART_MIN + LSM_VARINT64_MAX) + ZSTD_compressBound(head_len);
	for (size_t k = 0; k < n_cols; k++)
		bound += ZSTD_compressBound(cols[k].len);
	parts = strata_malloc(bound);
	part_len = strata_malloc((n_cols + 1) * sizeof(*part_len));
	if (!parts || !part_len) {
		rc = -ENOMEM;
		goto out;
	}
	at = part_len[0] = put_part(cctx, level, parts, enc, head_len);
	for (size_t k = 0; k < n_cols; k++) {
		part_len[k + 1] = put_part(cctx, level, parts + at, enc + cols[k].offset, cols[k].len);
		at += part_len[k + 1];
	}
	rc = reserve(buf, cap, (4 + 3 * n_cols) * LSM_VARINT64_MAX + at);
	if (rc)
		goto out;
	dlen = lsm_put_varint64(*buf, block_len);
	dlen += lsm_put_varint64(*buf + dlen, enc_len);
	dlen += lsm_put_varint64(*buf + dlen, n_cols);
	dlen += lsm_put_varint64(*buf + dlen, part_len[0]);
	for (size_t k = 0; k < n_cols; k++) {
		dlen += lsm_put_varint64(*buf + dlen, cols[k].id);
		(*buf)[dlen++] = (uint8_t)cols[k].type;
		dlen += lsm_put_varint64(*buf + dlen, part_len[k + 1]);
	}
	memcpy(*buf + dlen, parts, at);
	*dir_len = dlen;
	*out_len = dlen + at;
out:
	strata_free(parts);
	strata_free(part_len);
	strata_free(cols);
	return rc;
}

void lsm_colparts_dir_free(lsm_colparts_dir *d)
{
	strata_free(d->cols);
	d->cols = NULL;
	d->n_cols = 0;
}

/* A varint from p..end at *at, advancing it; false when there is none. */
static bool get_varint(const uint8_t *p, size_t len, size_t *at, uint64_t *v)
{
	size_t n = *at < len ? lsm_get_varint64(p + *at, p + len, v) : 0;

	*at += n;
	return n != 0;
}

int lsm_colparts_dir_parse(lsm_colparts_dir *d, const uint8_t *p, size_t len, uint64_t stored_len)
{
	uint64_t n_cols, head, next;
	size_t at = 0;

	memset(d, 0, sizeof(*d));
	if (!get_varint(p, len, &at, &d->block_len) || !get_varint(p, len, &at, &d->enc_len) ||
	    !get_varint(p, len, &at, &n_cols) || !get_varint(p, len, &at, &head))
		return corrupt("directory cut short");
	/* Each column takes at least a byte of the encoding, and three of the directory. */
	if (d->block_len == 0 || d->block_len > LSM_SST_BLOCK_MAX || d->enc_len == 0 ||
	    d->enc_len > LSM_SST_BLOCK_MAX || n_cols > d->enc_len || n_cols > len / 3)
		return corrupt("bad directory sizes");
	d->cols = strata_calloc(n_cols + 1, sizeof(*d->cols));
	if (!d->cols)
		return -ENOMEM;
	d->n_cols = (size_t)n_cols;
	d->head.len = head;
	for (size_t k = 0; k < d->n_cols; k++) {
		lsm_colpart *c = &d->cols[k];
		uint64_t id, size;

		if (!get_varint(p, len, &at, &id) || at >= len)
			goto cut;
		c->type = (enum lsm_field_type)p[at++];
		if (!get_varint(p, len, &at, &size))
			goto cut;
		if (id > UINT32_MAX || c->type < LSM_FIELD_FLOAT || c->type > LSM_FIELD_BOOL) {
			lsm_colparts_dir_free(d);
			return corrupt("bad column in the directory");
		}
		c->id = (uint32_t)id;
		c->len = size;
		if (k > 0 && (c[-1].id > c->id || (c[-1].id == c->id && c[-1].type >= c->type))) {
			lsm_colparts_dir_free(d);
			return corrupt("columns out of order");
		}
	}
	d->dir_len = at;
	/* The parts tile the rest of the block, each at least PART_MIN bytes. */
	next = at;
	for (size_t k = 0; k <= d->n_cols; k++) {
		lsm_colpart *c = k == 0 ? &d->head : &d->cols[k - 1];

		if (c->len < PART_MIN || c->len > stored_len || next > stored_len - c->len) {
			lsm_colparts_dir_free(d);
			return corrupt("parts do not fit the block");
		}
		c->offset = next;
		next += c->len;
	}
	if (next != stored_len) {
		lsm_colparts_dir_free(d);
		return corrupt("parts do not fill the block");
	}
	return 0;
cut:
	lsm_colparts_dir_free(d);
	return corrupt("directory cut short");
}

/* Checks part p (len bytes) and writes its raw bytes at dst (cap bytes of room): their size, or 0 on damage. */
static size_t get_part(ZSTD_DCtx *dctx, const uint8_t *p, size_t len, uint8_t *dst, size_t cap, int *rc)
{
	uint64_t raw;
	size_t h, body, r;

	*rc = 0;
	h = 1 + lsm_get_varint64(p + 1, p + len - 4, &raw);
	if (h == 1 || h > len - 4) {
		*rc = corrupt("part header cut short");
		return 0;
	}
	if (lsm_get_le32(p + len - 4) != (uint32_t)XXH3_64bits(p, len - 4)) {
		*rc = corrupt("part checksum mismatch");
		return 0;
	}
	body = len - 4 - h;
	if (raw == 0 || raw > cap) {
		*rc = corrupt("part larger than its encoding");
		return 0;
	}
	switch (p[0]) {
	case PART_RAW:
		if (body != raw) {
			*rc = corrupt("raw part of another size");
			return 0;
		}
		memcpy(dst, p + h, body);
		return body;
	case PART_ZSTD:
		r = ZSTD_decompressDCtx(dctx, dst, (size_t)raw, p + h, body);
		if (ZSTD_isError(r) || r != raw) {
			*rc = corrupt("zstd part does not decode to its size");
			return 0;
		}
		return r;
	default:
		*rc = corrupt("unknown part method");
		return 0;
	}
}

int lsm_colparts_join(ZSTD_DCtx *dctx, const lsm_colparts_dir *d, const uint8_t *block, const bool *load,
		      uint8_t **enc, size_t *enc_len)
{
	size_t cap = (size_t)d->enc_len, at, n_loaded = 0;
	uint8_t *out;
	int rc;

	*enc = NULL;
	*enc_len = 0;
	for (size_t k = 0; k < d->n_cols; k++)
		n_loaded += !load || load[k];
	out = strata_malloc(cap);
	if (!out)
		return -ENOMEM;
	at = get_part(dctx, block + d->head.offset, (size_t)d->head.len, out, cap, &rc);
	if (rc)
		goto fail;
	if (cap - at < lsm_varint64_len(n_loaded)) {
		rc = corrupt("head larger than its encoding");
		goto fail;
	}
	at += lsm_put_varint64(out + at, n_loaded);
	for (size_t k = 0; k < d->n_cols; k++) {
		const lsm_colpart *c = &d->cols[k];
		uint64_t id = 0;
		size_t n, idn;

		if (load && !load[k])
			continue;
		n = get_part(dctx, block + c->offset, (size_t)c->len, out + at, cap - at, &rc);
		if (rc)
			goto fail;
		/* The column's own field id and type must be the directory's. */
		idn = lsm_get_varint64(out + at, out + at + n, &id);
		if (idn == 0 || idn >= n || id != c->id || out[at + idn] != (uint8_t)c->type) {
			rc = corrupt("column part of another field than the directory says");
			goto fail;
		}
		at += n;
	}
	if (n_loaded == d->n_cols && at != cap) {
		rc = corrupt("parts shorter than the encoding");
		goto fail;
	}
	*enc = out;
	*enc_len = at;
	return 0;
fail:
	strata_free(out);
	return rc;
}
