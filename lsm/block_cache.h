/*
 * block_cache.h — a sharded LRU cache of decoded blocks with a byte budget.
 *
 * Entries are keyed by (file number, block offset) and carry a charge in
 * bytes. Lookups and inserts return a handle that pins the entry: a pinned
 * entry is never freed, even when evicted from the LRU or replaced. The
 * entry's value is freed by its deleter once it is out of the cache and no
 * handle pins it. Each shard has its own mutex, held only for the hash and
 * list updates (never across I/O or a deleter call). All functions are safe
 * from any thread.
 */
#ifndef STRATA_LSM_BLOCK_CACHE_H
#define STRATA_LSM_BLOCK_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct lsm_cache lsm_cache;
typedef struct lsm_cache_handle lsm_cache_handle;

typedef struct lsm_cache_stats {
	uint64_t hits;
	uint64_t misses;
	uint64_t inserts;
	uint64_t evictions;
	size_t bytes;    /* charge of the entries in the cache */
	size_t entries;
	size_t capacity;
} lsm_cache_stats;

/* A cache of capacity_bytes split over 2^shard_bits shards (0..8). -ENOMEM. */
int lsm_cache_new(lsm_cache **out, size_t capacity_bytes, int shard_bits);
/* Frees the cache; every handle must have been released. */
void lsm_cache_free(lsm_cache *c);

/* The pinned entry for (file_no, offset), or NULL on a miss. Counts a hit or miss. */
lsm_cache_handle *lsm_cache_lookup(lsm_cache *c, uint64_t file_no, uint64_t offset);

/*
 * Inserts value with its charge, replacing any entry with the same key, and
 * returns a pinned handle for it. Evicts unpinned entries, least recently
 * used first, until the shard is within budget (pinned entries may keep it
 * over budget for a while). NULL on -ENOMEM, in which case value has already
 * been passed to deleter.
 */
lsm_cache_handle *lsm_cache_insert(lsm_cache *c, uint64_t file_no, uint64_t offset,
				   void *value, size_t charge, void (*deleter)(void *value));

void *lsm_cache_value(const lsm_cache_handle *h);
/* Unpins h. */
void lsm_cache_release(lsm_cache *c, lsm_cache_handle *h);

/* Drops every unpinned entry of a file (when the file is deleted). */
void lsm_cache_erase_file(lsm_cache *c, uint64_t file_no);

void lsm_cache_get_stats(lsm_cache *c, lsm_cache_stats *out);

#endif
