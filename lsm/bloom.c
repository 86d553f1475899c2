/*
 * bloom.c — the bloom filter of an SSTable, over 64-bit hashes of series ids.
 *
 * Filter layout (written once, read by lsm_bloom_may_contain):
 *   bits:  m = 8 * (len - 1) bits, bit i at byte i / 8, mask 1 << (i % 8);
 *          m >= 64 and m is a multiple of 8
 *   k:     one byte, the number of probes (1..30)
 *
 * Sizing: m = max(64, n * bits_per_key) rounded up to a byte, for n hashes
 * added (duplicates included); k = round(bits_per_key * ln 2) clamped to
 * 1..30, which minimises the false-positive rate for that m / n.
 *
 * Probing: the key is hashed once (XXH3, 64 bits) and the k probe positions
 * come from double hashing, as in LevelDB:
 *   h     = low 32 bits of the hash
 *   delta = low 32 bits of the hash rotated right by 17 (mixes in the high half)
 *   probe j sets/tests bit (h + j * delta) mod m, in 32-bit arithmetic.
 * Kirsch and Mitzenmacher show two hashes are enough for the usual rate.
 * Positions are 32-bit, so bits past 2^32 would never be used: the builder
 * caps m there (a 512 MiB filter, far beyond any table).
 *
 * Readers are pure functions over immutable bytes: any thread, no locks. A
 * builder belongs to one thread.
 */
#include "lsm/bloom.h"
#include "lsm/alloc.h"
#include "lsm/coding.h"

#include <errno.h>
#include <xxhash.h>

#define BLOOM_MIN_BITS 64
#define BLOOM_MAX_BITS (UINT64_C(1) << 32)
#define BLOOM_MAX_PROBES 30

static int clamp_bits_per_key(int bits_per_key)
{
	if (bits_per_key < 1)
		return 1;
	if (bits_per_key > 30)
		return 30;
	return bits_per_key;
}

static uint32_t probe_delta(uint64_t hash)
{
	return (uint32_t)(hash >> 17 | hash << 47);
}

void lsm_bloom_builder_init(lsm_bloom_builder *b, int bits_per_key)
{
	b->hashes = NULL;
	b->n_hashes = 0;
	b->cap = 0;
	b->bits_per_key = clamp_bits_per_key(bits_per_key);
}

void lsm_bloom_builder_deinit(lsm_bloom_builder *b)
{
	strata_free(b->hashes);
	b->hashes = NULL;
	b->n_hashes = 0;
	b->cap = 0;
}

int lsm_bloom_builder_add(lsm_bloom_builder *b, uint64_t hash)
{
	if (b->n_hashes == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		uint64_t *grown;

		if (cap > SIZE_MAX / sizeof *grown)
			return -ENOMEM;
		grown = strata_realloc(b->hashes, cap * sizeof *grown);
		if (!grown)
			return -ENOMEM;
		b->hashes = grown;
		b->cap = cap;
	}
	b->hashes[b->n_hashes++] = hash;
	return 0;
}

int lsm_bloom_builder_finish(lsm_bloom_builder *b, uint8_t **out, size_t *out_len)
{
	uint64_t n_bits;
	size_t n_bytes;
	uint8_t *filter;
	int k;

	*out = NULL;
	*out_len = 0;
	k = (int)(b->bits_per_key * 0.69 + 0.5);
	if (k < 1)
		k = 1;
	if (k > BLOOM_MAX_PROBES)
		k = BLOOM_MAX_PROBES;

	if (b->n_hashes > BLOOM_MAX_BITS / (uint64_t)b->bits_per_key)
		n_bits = BLOOM_MAX_BITS;
	else
		n_bits = (uint64_t)b->n_hashes * (uint64_t)b->bits_per_key;
	if (n_bits < BLOOM_MIN_BITS)
		n_bits = BLOOM_MIN_BITS;
	n_bytes = (size_t)((n_bits + 7) / 8);
	n_bits = (uint64_t)n_bytes * 8;

	filter = strata_calloc(1, n_bytes + 1);
	if (!filter)
		return -ENOMEM;
	for (size_t i = 0; i < b->n_hashes; i++) {
		uint64_t hash = b->hashes[i];
		uint32_t h = (uint32_t)hash;
		uint32_t delta = probe_delta(hash);

		for (int j = 0; j < k; j++) {
			uint64_t pos = h % n_bits;

			filter[pos / 8] |= (uint8_t)(1u << (pos % 8));
			h += delta;
		}
	}
	filter[n_bytes] = (uint8_t)k;
	*out = filter;
	*out_len = n_bytes + 1;
	return 0;
}

bool lsm_bloom_may_contain(const uint8_t *filter, size_t len, uint64_t hash)
{
	uint64_t n_bits;
	uint32_t h, delta;
	int k;

	/* A filter we cannot read must not hide data: answer "maybe". */
	if (!filter || len < BLOOM_MIN_BITS / 8 + 1)
		return true;
	k = filter[len - 1];
	if (k < 1 || k > BLOOM_MAX_PROBES)
		return true;
	n_bits = (uint64_t)(len - 1) * 8;
	h = (uint32_t)hash;
	delta = probe_delta(hash);
	for (int j = 0; j < k; j++) {
		uint64_t pos = h % n_bits;

		if (!(filter[pos / 8] & (1u << (pos % 8))))
			return false;
		h += delta;
	}
	return true;
}

uint64_t lsm_bloom_hash_series(uint64_t series_id)
{
	uint8_t buf[8];

	lsm_put_be64(buf, series_id);
	return XXH3_64bits(buf, sizeof buf);
}
