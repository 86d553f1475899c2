/*
 * block_builder.c — builds one block in the layout of block_builder.h.
 *
 * Sorted keys share long prefixes (the same series id, nearby timestamps), so
 * each entry stores only the bytes after the prefix it shares with the key
 * before it. Every restart_interval entries the key is stored whole and its
 * offset goes into the restart array, so a reader can binary-search those
 * keys and then decode at most restart_interval entries forward; 16 keeps
 * that scan short while leaving most of the prefix saving. Index blocks use
 * an interval of 1 (every key whole, pure binary search).
 *
 * An empty block is written as one restart at offset 0 and n_restarts = 1,
 * i.e. the 8 bytes 00 00 00 00 01 00 00 00; block.c reads it as a block with
 * no entries.
 *
 * A builder belongs to one thread. Its bytes stay in its own buffer until
 * reset or deinit, so a table builder can compress them straight from there.
 */
#include "lsm/block_builder.h"
#include "lsm/alloc.h"
#include "lsm/coding.h"
#include "lsm/status.h"

#include <errno.h>
#include <string.h>

/* Offsets in the restart array are u32: a block stays below 4 GiB. */
#define BLOCK_MAX_LEN ((size_t)UINT32_MAX)

void lsm_block_builder_init(lsm_block_builder *b, int restart_interval)
{
	memset(b, 0, sizeof *b);
	b->restart_interval = restart_interval < 1 ? 1 : restart_interval;
}

void lsm_block_builder_deinit(lsm_block_builder *b)
{
	strata_free(b->buf);
	strata_free(b->restarts);
	strata_free(b->last_key);
	lsm_block_builder_init(b, b->restart_interval);
}

void lsm_block_builder_reset(lsm_block_builder *b)
{
	b->len = 0;
	b->n_restarts = 0;
	b->counter = 0;
	b->last_key_len = 0;
	b->n_entries = 0;
	b->finished = false;
}

/* Grows *buf (of *cap bytes) to hold at least need bytes. */
static int grow(void **buf, size_t *cap, size_t need, size_t min_cap)
{
	size_t n = *cap ? *cap : min_cap;
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return -ENOMEM;
		n *= 2;
	}
	p = strata_realloc(*buf, n);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = n;
	return 0;
}

static int push_restart(lsm_block_builder *b, uint32_t offset)
{
	size_t cap_bytes = b->restarts_cap * sizeof *b->restarts;
	void *p = b->restarts;
	int rc;

	rc = grow(&p, &cap_bytes, (b->n_restarts + 1) * sizeof *b->restarts,
		  16 * sizeof *b->restarts);
	if (rc)
		return rc;
	b->restarts = p;
	b->restarts_cap = cap_bytes / sizeof *b->restarts;
	b->restarts[b->n_restarts++] = offset;
	return 0;
}

static int key_cmp(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
	size_t n = a_len < b_len ? a_len : b_len;
	int c = n ? memcmp(a, b, n) : 0;

	if (c)
		return c;
	return a_len < b_len ? -1 : a_len > b_len;
}

int lsm_block_builder_add(lsm_block_builder *b, const uint8_t *key, size_t key_len,
			  const uint8_t *value, size_t value_len)
{
	size_t shared = 0, unshared, need;
	bool restart;
	uint8_t *p;
	void *vp;
	int rc;

	if (b->finished)
		return strata_error(STRATA_EINVAL, "block builder: add after finish");
	if (b->n_entries > 0 && key_cmp(key, key_len, b->last_key, b->last_key_len) <= 0)
		return strata_error(STRATA_EINVAL, "block builder: keys out of order (entry %zu)",
				    b->n_entries);

	restart = b->n_entries == 0 || b->counter >= b->restart_interval;
	if (!restart) {
		size_t max = key_len < b->last_key_len ? key_len : b->last_key_len;

		while (shared < max && key[shared] == b->last_key[shared])
			shared++;
	}
	unshared = key_len - shared;

	need = 3 * LSM_VARINT64_MAX + unshared + value_len;
	if (key_len > BLOCK_MAX_LEN || value_len > BLOCK_MAX_LEN ||
	    b->len + need + (b->n_restarts + 2) * 4 > BLOCK_MAX_LEN)
		return strata_error(STRATA_ETOOBIG, "block builder: block over %zu bytes", BLOCK_MAX_LEN);

	/* Reserve everything first so a failure leaves the builder unchanged. */
	vp = b->buf;
	rc = grow(&vp, &b->cap, b->len + need, 4096);
	if (rc)
		return rc;
	b->buf = vp;
	vp = b->last_key;
	rc = grow(&vp, &b->last_key_cap, key_len ? key_len : 1, 64);
	if (rc)
		return rc;
	b->last_key = vp;
	if (restart) {
		rc = push_restart(b, (uint32_t)b->len);
		if (rc)
			return rc;
		b->counter = 0;
	}

	p = b->buf + b->len;
	p += lsm_put_varint64(p, shared);
	p += lsm_put_varint64(p, unshared);
	p += lsm_put_varint64(p, value_len);
	if (unshared)
		memcpy(p, key + shared, unshared);
	p += unshared;
	if (value_len)
		memcpy(p, value, value_len);
	p += value_len;
	b->len = (size_t)(p - b->buf);

	if (unshared)
		memcpy(b->last_key + shared, key + shared, unshared);
	b->last_key_len = key_len;
	b->counter++;
	b->n_entries++;
	return 0;
}

size_t lsm_block_builder_size(const lsm_block_builder *b)
{
	size_t n_restarts = b->n_restarts ? b->n_restarts : 1;

	if (b->finished)
		return b->len;
	return b->len + n_restarts * 4 + 4;
}

int lsm_block_builder_finish(lsm_block_builder *b, const uint8_t **out, size_t *out_len)
{
	size_t n_restarts = b->n_restarts ? b->n_restarts : 1;
	uint8_t *p;
	void *vp;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (!b->finished) {
		vp = b->buf;
		rc = grow(&vp, &b->cap, b->len + n_restarts * 4 + 4, 4096);
		if (rc)
			return rc;
		b->buf = vp;
		p = b->buf + b->len;
		if (b->n_restarts == 0) {
			lsm_put_le32(p, 0);
			p += 4;
		}
		for (size_t i = 0; i < b->n_restarts; i++, p += 4)
			lsm_put_le32(p, b->restarts[i]);
		lsm_put_le32(p, (uint32_t)n_restarts);
		p += 4;
		b->len = (size_t)(p - b->buf);
		b->finished = true;
	}
	*out = b->buf;
	*out_len = b->len;
	return 0;
}
