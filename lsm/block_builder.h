/*
 * block_builder.h — builds one data or index block.
 *
 * Block layout (before compression):
 *   entries: { shared varint, unshared varint, value_len varint,
 *              key bytes after the shared prefix, value bytes }
 *   restarts: u32 LE offsets of the entries whose key is stored whole
 *             (shared = 0), one every restart_interval entries
 *   n_restarts: u32 LE (at least 1)
 * Keys are added in strictly ascending memcmp order.
 */
#ifndef STRATA_LSM_BLOCK_BUILDER_H
#define STRATA_LSM_BLOCK_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lsm_block_builder {
	uint8_t *buf;
	size_t len;
	size_t cap;
	uint32_t *restarts;
	size_t n_restarts;
	size_t restarts_cap;
	int restart_interval;
	int counter; /* entries since the last restart */
	uint8_t *last_key;
	size_t last_key_len;
	size_t last_key_cap;
	size_t n_entries;
	bool finished;
} lsm_block_builder;

/* Caller's memory. restart_interval >= 1 (16 for data blocks, 1 for index). */
void lsm_block_builder_init(lsm_block_builder *b, int restart_interval);
void lsm_block_builder_deinit(lsm_block_builder *b);
/* Empties the builder for the next block, keeping its buffers. */
void lsm_block_builder_reset(lsm_block_builder *b);
/* Appends an entry (key > the previous key). -ENOMEM. */
int lsm_block_builder_add(lsm_block_builder *b, const uint8_t *key, size_t key_len,
			  const uint8_t *value, size_t value_len);
/* Size the block would have if finished now. */
size_t lsm_block_builder_size(const lsm_block_builder *b);
static inline bool lsm_block_builder_empty(const lsm_block_builder *b) { return b->n_entries == 0; }
/*
 * Appends the restart array and returns the block's bytes, owned by the
 * builder until reset or deinit. -ENOMEM leaves *out NULL.
 */
int lsm_block_builder_finish(lsm_block_builder *b, const uint8_t **out, size_t *out_len);
/* The last key added (valid until the next add or reset). */
static inline const uint8_t *lsm_block_builder_last_key(const lsm_block_builder *b, size_t *len)
{
	*len = b->last_key_len;
	return b->last_key;
}

#endif
