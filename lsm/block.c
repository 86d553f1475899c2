/*
 * block.c — reads one decompressed block (layout in block_builder.h).
 *
 * Blocks come from disk, so nothing in them is trusted:
 *   - lsm_block_new checks the restart array once: n_restarts >= 1, the array
 *     fits in the block, the first restart is at offset 0 and the offsets
 *     ascend strictly, each below the start of the array. (An empty block,
 *     one restart at 0 and no entries, is accepted.)
 *   - the iterator checks every entry as it decodes it: the three varints are
 *     whole, shared <= the previous key's length, entries land exactly on
 *     each restart point and the key there shares nothing (it is stored
 *     whole), and the key and value bytes end before the restart array. A failed check makes the iterator invalid with STRATA_ECORRUPT,
 *     and it stays so: a damaged block never turns good again.
 * Every decode is bounded by the start of the restart array and every step
 * moves forward by at least three bytes, so no input can read out of bounds
 * or loop.
 *
 * Seek binary-searches the restart keys (compared in place, no copy), then
 * scans forward from the last restart whose key is below the target: at most
 * restart_interval entries.
 *
 * A block is immutable after lsm_block_new and shared read-only by any number
 * of threads (through the block cache). Each iterator belongs to one thread;
 * it owns the buffer that holds the current key, rebuilt from the shared
 * prefix, and grown as needed.
 */
#include "lsm/block.h"
#include "lsm/alloc.h"
#include "lsm/coding.h"
#include "lsm/status.h"

#include <errno.h>
#include <string.h>

struct lsm_block {
	uint8_t *data;
	size_t len;
	uint32_t restarts_off; /* start of the restart array == end of the entries */
	uint32_t n_restarts;
};

int lsm_block_new(lsm_block **out, uint8_t *data, size_t len)
{
	lsm_block *b = NULL;
	uint32_t n_restarts, restarts_off, prev = 0;
	int rc = 0;

	*out = NULL;
	if (len < 8 || len > UINT32_MAX) {
		rc = strata_error(STRATA_ECORRUPT, "block of %zu bytes: too %s for a restart array",
				  len, len < 8 ? "short" : "long");
		goto out;
	}
	n_restarts = lsm_get_le32(data + len - 4);
	if (n_restarts < 1 || n_restarts > (len - 4) / 4) {
		rc = strata_error(STRATA_ECORRUPT,
				  "block of %zu bytes: restart count %u at offset %zu does not fit",
				  len, n_restarts, len - 4);
		goto out;
	}
	restarts_off = (uint32_t)(len - 4 - (size_t)n_restarts * 4);
	for (uint32_t i = 0; i < n_restarts; i++) {
		uint32_t r = lsm_get_le32(data + restarts_off + (size_t)i * 4);
		bool bad = i == 0 ? r != 0 : r <= prev;

		/* Offset 0 may equal restarts_off only in the empty block. */
		if (bad || (r >= restarts_off && !(r == 0 && n_restarts == 1))) {
			rc = strata_error(STRATA_ECORRUPT,
					  "block of %zu bytes: restart %u at offset %zu points to %u "
					  "(entries end at %u)",
					  len, i, (size_t)restarts_off + (size_t)i * 4, r, restarts_off);
			goto out;
		}
		prev = r;
	}
	b = strata_malloc(sizeof *b);
	if (!b) {
		rc = -ENOMEM;
		goto out;
	}
	b->data = data;
	b->len = len;
	b->restarts_off = restarts_off;
	b->n_restarts = n_restarts;
	*out = b;
out:
	if (rc)
		strata_free(data);
	return rc;
}

void lsm_block_free(lsm_block *b)
{
	if (!b)
		return;
	strata_free(b->data);
	strata_free(b);
}

size_t lsm_block_charge(const lsm_block *b)
{
	return b->len + sizeof *b;
}

struct block_iter {
	lsm_iter base;
	const lsm_block *b;
	uint32_t cur;      /* offset of the current entry */
	uint32_t next_off; /* offset of the entry after it */
	uint32_t restart_idx; /* the restart at or before cur */
	bool have_prev;       /* key holds the entry before next_off */
	uint8_t *key;      /* the current key, whole */
	size_t key_len;
	size_t key_cap;
	const uint8_t *value;
	size_t value_len;
	bool valid;
	int status;
};

static uint32_t restart_at(const lsm_block *b, uint32_t i)
{
	return lsm_get_le32(b->data + b->restarts_off + (size_t)i * 4);
}

static void set_corrupt(struct block_iter *it, uint32_t off, const char *what)
{
	it->valid = false;
	if (it->status == 0)
		it->status = strata_error(STRATA_ECORRUPT, "block of %zu bytes: entry at offset %u: %s",
					  it->b->len, off, what);
}

/*
 * Decodes the entry header at off into its three lengths and returns the
 * offset of its key bytes, or 0 (never a valid key offset) when the header
 * is cut short or the lengths run past the entries.
 */
static uint32_t decode_header(const lsm_block *b, uint32_t off, uint32_t *shared,
			      uint32_t *unshared, uint32_t *value_len)
{
	const uint8_t *p = b->data + off, *end = b->data + b->restarts_off;
	size_t n;

	if (off >= b->restarts_off)
		return 0;
	if ((n = lsm_get_varint32(p, end, shared)) == 0)
		return 0;
	p += n;
	if ((n = lsm_get_varint32(p, end, unshared)) == 0)
		return 0;
	p += n;
	if ((n = lsm_get_varint32(p, end, value_len)) == 0)
		return 0;
	p += n;
	if (*unshared > (size_t)(end - p) || *value_len > (size_t)(end - p) - *unshared)
		return 0;
	return (uint32_t)(p - b->data);
}

/* Decodes the entry at it->next_off on top of the current key. */
static void parse_next(struct block_iter *it)
{
	const lsm_block *b = it->b;
	uint32_t off = it->next_off, shared, unshared, value_len, key_off;
	size_t key_len;

	if (it->status) {
		it->valid = false;
		return;
	}
	if (off >= b->restarts_off) {
		it->valid = false;
		return;
	}
	key_off = decode_header(b, off, &shared, &unshared, &value_len);
	if (key_off == 0) {
		set_corrupt(it, off, "lengths run past the entries");
		return;
	}
	if (shared > it->key_len) {
		set_corrupt(it, off, "shares more bytes than the previous key has");
		return;
	}
	/* Entries must land on each restart point, and those keys are whole. */
	if (it->restart_idx + 1 < b->n_restarts) {
		uint32_t r = restart_at(b, it->restart_idx + 1);

		if (r < off) {
			set_corrupt(it, off, "entry runs across a restart point");
			return;
		}
		if (r == off) {
			if (shared != 0) {
				set_corrupt(it, off, "restart key is not stored whole");
				return;
			}
			it->restart_idx++;
		}
	}
	key_len = (size_t)shared + unshared;
	if (key_len > it->key_cap) {
		size_t cap = it->key_cap ? it->key_cap : 32;
		uint8_t *grown;

		while (cap < key_len)
			cap *= 2;
		grown = strata_realloc(it->key, cap);
		if (!grown) {
			it->valid = false;
			it->status = -ENOMEM;
			return;
		}
		it->key = grown;
		it->key_cap = cap;
	}
	/*
	 * Keys ascend strictly. The first shared bytes are equal by
	 * construction, so comparing the rest is enough (skipped right after a
	 * seek to a restart, where there is no previous key).
	 */
	if (it->have_prev) {
		size_t prev_rest = it->key_len - shared;
		size_t n = prev_rest < unshared ? prev_rest : unshared;
		int c = n ? memcmp(b->data + key_off, it->key + shared, n) : 0;

		if (c < 0 || (c == 0 && unshared <= prev_rest)) {
			set_corrupt(it, off, "key does not follow the previous key");
			return;
		}
	}
	if (unshared)
		memcpy(it->key + shared, b->data + key_off, unshared);
	it->key_len = key_len;
	it->have_prev = true;
	it->value = b->data + key_off + unshared;
	it->value_len = value_len;
	it->cur = off;
	it->next_off = key_off + unshared + value_len;
	it->valid = true;
}

static void seek_to_restart(struct block_iter *it, uint32_t i)
{
	it->key_len = 0; /* the key at a restart shares nothing */
	it->restart_idx = i;
	it->have_prev = false;
	it->next_off = restart_at(it->b, i);
	it->valid = false;
}

static bool bi_valid(lsm_iter *base)
{
	return ((struct block_iter *)base)->valid;
}

static void bi_seek_first(lsm_iter *base)
{
	struct block_iter *it = (struct block_iter *)base;

	seek_to_restart(it, 0);
	parse_next(it);
}

static int cmp_bytes(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
	size_t n = a_len < b_len ? a_len : b_len;
	int c = n ? memcmp(a, b, n) : 0;

	if (c)
		return c;
	return a_len < b_len ? -1 : a_len > b_len;
}

static void bi_seek(lsm_iter *base, const uint8_t *target, size_t target_len)
{
	struct block_iter *it = (struct block_iter *)base;
	const lsm_block *b = it->b;
	uint32_t left = 0, right = b->n_restarts - 1;

	it->valid = false;
	if (it->status || b->restarts_off == 0)
		return;
	/* Find the last restart whose key is < target (or restart 0). */
	while (left < right) {
		uint32_t mid = left + (right - left + 1) / 2;
		uint32_t off = restart_at(b, mid), shared, unshared, value_len, key_off;

		key_off = decode_header(b, off, &shared, &unshared, &value_len);
		if (key_off == 0) {
			set_corrupt(it, off, "lengths run past the entries");
			return;
		}
		if (shared != 0) {
			set_corrupt(it, off, "restart key is not stored whole");
			return;
		}
		if (cmp_bytes(b->data + key_off, unshared, target, target_len) < 0)
			left = mid;
		else
			right = mid - 1;
	}
	seek_to_restart(it, left);
	for (;;) {
		parse_next(it);
		if (!it->valid)
			return;
		if (cmp_bytes(it->key, it->key_len, target, target_len) >= 0)
			return;
	}
}

static void bi_next(lsm_iter *base)
{
	struct block_iter *it = (struct block_iter *)base;

	if (!it->valid)
		return;
	parse_next(it);
}

static const uint8_t *bi_key(lsm_iter *base, size_t *out_len)
{
	struct block_iter *it = (struct block_iter *)base;

	if (!it->valid) {
		*out_len = 0;
		return NULL;
	}
	*out_len = it->key_len;
	return it->key;
}

static const uint8_t *bi_value(lsm_iter *base, size_t *out_len)
{
	struct block_iter *it = (struct block_iter *)base;

	if (!it->valid) {
		*out_len = 0;
		return NULL;
	}
	*out_len = it->value_len;
	return it->value;
}

static int bi_status(lsm_iter *base)
{
	return ((struct block_iter *)base)->status;
}

static void bi_free(lsm_iter *base)
{
	struct block_iter *it = (struct block_iter *)base;

	strata_free(it->key);
	strata_free(it);
}

static const struct lsm_iter_ops block_iter_ops = {
	.valid = bi_valid,
	.seek_first = bi_seek_first,
	.seek = bi_seek,
	.next = bi_next,
	.key = bi_key,
	.value = bi_value,
	.status = bi_status,
	.free = bi_free,
};

lsm_iter *lsm_block_iter_new(const lsm_block *b)
{
	struct block_iter *it = strata_calloc(1, sizeof *it);

	if (!it)
		return NULL;
	it->base.ops = &block_iter_ops;
	it->b = b;
	return &it->base;
}
