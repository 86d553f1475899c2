/*
 * bloom.h — a bloom filter over 64-bit hashes (series ids, hashed).
 *
 * Filter layout: the bit array, then one byte holding the number of probes k.
 * Probes use double hashing (h, h + delta, ...) from one 64-bit hash, so a
 * key is hashed once. About 10 bits per key gives ~1% false positives.
 */
#ifndef STRATA_LSM_BLOOM_H
#define STRATA_LSM_BLOOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lsm_bloom_builder {
	uint64_t *hashes; /* hashes added so far */
	size_t n_hashes;
	size_t cap;
	int bits_per_key;
} lsm_bloom_builder;

/* Caller's memory. bits_per_key in 1..30. */
void lsm_bloom_builder_init(lsm_bloom_builder *b, int bits_per_key);
void lsm_bloom_builder_deinit(lsm_bloom_builder *b);
/* Adds a hash; adding the same hash twice is allowed. -ENOMEM. */
int lsm_bloom_builder_add(lsm_bloom_builder *b, uint64_t hash);
/*
 * Builds the filter into a new heap buffer (*out, owned by the caller,
 * strata_free) of *out_len bytes. -ENOMEM.
 */
int lsm_bloom_builder_finish(lsm_bloom_builder *b, uint8_t **out, size_t *out_len);

/*
 * False when hash was certainly not added; true when it may have been. A
 * malformed filter (too short, bad probe count) answers true: it never hides
 * data.
 */
bool lsm_bloom_may_contain(const uint8_t *filter, size_t len, uint64_t hash);

/* The hash used for series ids (XXH3 of the 8 bytes). */
uint64_t lsm_bloom_hash_series(uint64_t series_id);

#endif
