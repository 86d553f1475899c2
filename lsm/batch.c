#include "lsm/batch.h"
#include "lsm/alloc.h"
#include "lsm/status.h"

#include <errno.h>

void lsm_batch_init(lsm_batch *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->count = 0;
}

void lsm_batch_deinit(lsm_batch *b)
{
	strata_free(b->data);
	lsm_batch_init(b);
}

void lsm_batch_clear(lsm_batch *b)
{
	b->len = b->data ? LSM_BATCH_HEADER_LEN : 0;
	b->count = 0;
	if (b->data)
		memset(b->data, 0, LSM_BATCH_HEADER_LEN);
}

static int reserve(lsm_batch *b, size_t extra)
{
	size_t need;

	if (b->data == NULL) {
		size_t cap = 256;

		b->data = strata_calloc(1, cap);
		if (!b->data)
			return -ENOMEM;
		b->cap = cap;
		b->len = LSM_BATCH_HEADER_LEN;
	}
	need = b->len + extra;
	if (need > LSM_BATCH_MAX)
		return strata_error(STRATA_ETOOBIG, "write batch over %u bytes", LSM_BATCH_MAX);
	if (need > b->cap) {
		size_t cap = b->cap * 2;
		uint8_t *grown;

		while (cap < need)
			cap *= 2;
		grown = strata_realloc(b->data, cap);
		if (!grown)
			return -ENOMEM;
		b->data = grown;
		b->cap = cap;
	}
	return 0;
}

static int append(lsm_batch *b, enum lsm_kind kind, const uint8_t *ukey, const void *value, size_t value_len)
{
	int rc;
	uint8_t *p;

	if (value_len > LSM_VALUE_MAX)
		return strata_error(STRATA_ETOOBIG, "value of %zu bytes over the %u byte limit", value_len, LSM_VALUE_MAX);
	rc = reserve(b, 1 + LSM_UKEY_LEN + LSM_VARINT64_MAX + value_len);
	if (rc)
		return rc;
	p = b->data + b->len;
	*p++ = (uint8_t)kind;
	memcpy(p, ukey, LSM_UKEY_LEN);
	p += LSM_UKEY_LEN;
	p += lsm_put_varint64(p, value_len);
	if (value_len)
		memcpy(p, value, value_len);
	p += value_len;
	b->len = (size_t)(p - b->data);
	b->count++;
	lsm_put_le32(b->data + 8, b->count);
	return 0;
}

int lsm_batch_put(lsm_batch *b, const uint8_t ukey[LSM_UKEY_LEN], const void *value, size_t value_len)
{
	return append(b, LSM_KIND_PUT, ukey, value, value_len);
}

int lsm_batch_merge(lsm_batch *b, const uint8_t ukey[LSM_UKEY_LEN], const void *value, size_t value_len)
{
	return append(b, LSM_KIND_MERGE, ukey, value, value_len);
}

int lsm_batch_delete(lsm_batch *b, const uint8_t ukey[LSM_UKEY_LEN])
{
	return append(b, LSM_KIND_DELETE, ukey, NULL, 0);
}

void lsm_batch_set_seq(lsm_batch *b, uint64_t seq)
{
	if (reserve(b, 0) == 0)
		lsm_put_le64(b->data, seq);
}

uint64_t lsm_batch_seq(const lsm_batch *b)
{
	return b->data ? lsm_get_le64(b->data) : 0;
}

int lsm_batch_reader_init(lsm_batch_reader *r, const uint8_t *data, size_t len)
{
	/* Each entry takes at least kind + key + a one-byte length. */
	const size_t min_entry = 1 + LSM_UKEY_LEN + 1;

	if (len < LSM_BATCH_HEADER_LEN)
		return strata_error(STRATA_ECORRUPT, "write batch of %zu bytes is shorter than its header", len);
	r->seq = lsm_get_le64(data);
	r->left = lsm_get_le32(data + 8);
	r->p = data + LSM_BATCH_HEADER_LEN;
	r->end = data + len;
	if ((uint64_t)r->left * min_entry > (uint64_t)(len - LSM_BATCH_HEADER_LEN))
		return strata_error(STRATA_ECORRUPT, "write batch claims %u entries in %zu bytes", r->left, len);
	return 0;
}

int lsm_batch_reader_next(lsm_batch_reader *r, lsm_batch_entry *out)
{
	uint64_t vlen;
	size_t n;

	if (r->left == 0) {
		if (r->p != r->end)
			return strata_error(STRATA_ECORRUPT, "write batch has %zu bytes after its last entry",
					    (size_t)(r->end - r->p));
		return 0;
	}
	if ((size_t)(r->end - r->p) < 1 + LSM_UKEY_LEN)
		return strata_error(STRATA_ECORRUPT, "write batch entry truncated");
	if (r->p[0] > LSM_KIND_MERGE)
		return strata_error(STRATA_ECORRUPT, "write batch entry of unknown kind %u", r->p[0]);
	out->kind = (enum lsm_kind)r->p[0];
	out->ukey = r->p + 1;
	r->p += 1 + LSM_UKEY_LEN;
	n = lsm_get_varint64(r->p, r->end, &vlen);
	if (n == 0 || vlen > LSM_VALUE_MAX || vlen > (uint64_t)(r->end - r->p - n))
		return strata_error(STRATA_ECORRUPT, "write batch entry has a bad value length");
	r->p += n;
	out->value = r->p;
	out->value_len = (size_t)vlen;
	out->seq = r->seq++;
	r->p += vlen;
	r->left--;
	return 1;
}
