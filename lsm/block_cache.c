/*
 * block_cache.c — sharded LRU cache of decoded blocks (see block_cache.h).
 *
 * The key (file_no, offset) is hashed once; the top bits pick one of 2^bits
 * shards, so that threads reading different blocks rarely meet on a lock, and
 * the low bits pick a bucket in that shard's hash table. The capacity is
 * split evenly across shards (rounded up), and each shard evicts on its own.
 *
 * An entry (its struct is also the handle) holds a reference count:
 *   - the cache holds one reference while the entry is in the cache
 *     (in_cache: reachable from the hash table, its charge in usage);
 *   - each handle returned by lookup or insert holds one more.
 * So an entry is
 *   in the cache and unpinned: refs == 1, in_cache, on the shard's LRU list;
 *   in the cache and pinned:   refs >= 2, in_cache, on no list;
 *   out of the cache, pinned:  refs >= 1, !in_cache, on no list (it was
 *                              replaced or erased while a handle held it);
 * and it is freed, its deleter called, when refs reaches 0. Eviction takes
 * only entries on the LRU list, oldest first, so pinned ones may keep a shard
 * over budget until they are released; release evicts right away when the
 * shard is over. Stats count as evictions only entries dropped for space
 * (not replacements or erase_file).
 *
 * Threads: every function may be called from any thread. Each shard's mutex
 * guards all of that shard's fields (table, lru list, usage, counters) and
 * the refs, in_cache and link fields of its entries. An entry's key, charge,
 * value and deleter are written before it is published under the lock and
 * never change after, so lsm_cache_value needs no lock. Deleters are called
 * with no lock held: the entries to free are unlinked under the lock into a
 * local list, and freed after unlocking.
 *
 * lsm_cache_erase_file removes every entry of the file from the cache;
 * entries still pinned stay valid for their holders and are freed on their
 * last release, like replaced ones. A deleted file's blocks can then never
 * be found again, pinned or not.
 */
#include "lsm/block_cache.h"
#include "lsm/alloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

struct lsm_cache_handle {
	uint64_t file_no;
	uint64_t offset;
	uint64_t hash;
	void *value;
	size_t charge;
	void (*deleter)(void *value);
	/* Guarded by the shard's mutex. */
	uint32_t refs;
	bool in_cache;
	struct lsm_cache_handle *next_hash; /* bucket chain; the free list once unlinked */
	struct lsm_cache_handle *lru_prev;  /* LRU list, when refs == 1 && in_cache */
	struct lsm_cache_handle *lru_next;
};

struct cache_shard {
	pthread_mutex_t mu;
	/* Everything below is guarded by mu. */
	struct lsm_cache_handle **buckets;
	size_t n_buckets; /* a power of two */
	size_t n_entries; /* entries in the table (in_cache) */
	size_t usage;     /* charge of the entries in the table */
	size_t capacity;
	/* LRU list of unpinned entries; lru.lru_next is the oldest. */
	struct lsm_cache_handle lru;
	uint64_t hits, misses, inserts, evictions;
};

struct lsm_cache {
	struct cache_shard *shards;
	int shard_bits;
	size_t capacity;
};

#define INITIAL_BUCKETS 16

static uint64_t hash_key(uint64_t file_no, uint64_t offset)
{
	/* Two rounds of a 64-bit finaliser (from MurmurHash3) over both words. */
	uint64_t h = file_no * UINT64_C(0x9e3779b97f4a7c15) ^ offset;

	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

static struct cache_shard *shard_of(lsm_cache *c, uint64_t hash)
{
	return &c->shards[c->shard_bits ? hash >> (64 - c->shard_bits) : 0];
}

/* --- LRU list (shard lock held) --- */

static void lru_remove(struct lsm_cache_handle *e)
{
	e->lru_next->lru_prev = e->lru_prev;
	e->lru_prev->lru_next = e->lru_next;
	e->lru_next = e->lru_prev = NULL;
}

static void lru_append(struct cache_shard *s, struct lsm_cache_handle *e)
{
	e->lru_next = &s->lru;
	e->lru_prev = s->lru.lru_prev;
	e->lru_prev->lru_next = e;
	e->lru_next->lru_prev = e;
}

/* --- hash table (shard lock held) --- */

static struct lsm_cache_handle **find_slot(struct cache_shard *s, uint64_t hash,
					   uint64_t file_no, uint64_t offset)
{
	struct lsm_cache_handle **slot = &s->buckets[hash & (s->n_buckets - 1)];

	while (*slot && ((*slot)->hash != hash || (*slot)->file_no != file_no ||
			 (*slot)->offset != offset))
		slot = &(*slot)->next_hash;
	return slot;
}

/* Doubles the table; on allocation failure keeps the old one (longer chains). */
static void table_grow(struct cache_shard *s)
{
	size_t n = s->n_buckets * 2;
	struct lsm_cache_handle **grown = strata_calloc(n, sizeof *grown);

	if (!grown)
		return;
	for (size_t i = 0; i < s->n_buckets; i++) {
		struct lsm_cache_handle *e = s->buckets[i];

		while (e) {
			struct lsm_cache_handle *next = e->next_hash;
			struct lsm_cache_handle **slot = &grown[e->hash & (n - 1)];

			e->next_hash = *slot;
			*slot = e;
			e = next;
		}
	}
	strata_free(s->buckets);
	s->buckets = grown;
	s->n_buckets = n;
}

/*
 * Drops the cache's reference to e, which has just been unlinked from the
 * table: it leaves the LRU list if it was there, and goes to *dead when no
 * handle pins it.
 */
static void finish_erase(struct cache_shard *s, struct lsm_cache_handle *e,
			 struct lsm_cache_handle **dead)
{
	e->in_cache = false;
	s->usage -= e->charge;
	s->n_entries--;
	if (e->lru_next)
		lru_remove(e);
	if (--e->refs == 0) {
		e->next_hash = *dead;
		*dead = e;
	}
}

/* Evicts the least recently used unpinned entries while over budget. */
static void evict(struct cache_shard *s, struct lsm_cache_handle **dead)
{
	while (s->usage > s->capacity && s->lru.lru_next != &s->lru) {
		struct lsm_cache_handle *old = s->lru.lru_next;
		struct lsm_cache_handle **slot = find_slot(s, old->hash, old->file_no, old->offset);

		*slot = old->next_hash;
		finish_erase(s, old, dead);
		s->evictions++;
	}
}

/* Calls the deleters of unlinked entries; no lock held. */
static void free_dead(struct lsm_cache_handle *dead)
{
	while (dead) {
		struct lsm_cache_handle *next = dead->next_hash;

		if (dead->deleter)
			dead->deleter(dead->value);
		strata_free(dead);
		dead = next;
	}
}

int lsm_cache_new(lsm_cache **out, size_t capacity_bytes, int shard_bits)
{
	lsm_cache *c;
	size_t n_shards, per_shard;
	int rc = 0;

	*out = NULL;
	if (shard_bits < 0)
		shard_bits = 0;
	if (shard_bits > 8)
		shard_bits = 8;
	n_shards = (size_t)1 << shard_bits;
	per_shard = capacity_bytes / n_shards + (capacity_bytes % n_shards != 0);

	c = strata_calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->shard_bits = shard_bits;
	c->capacity = capacity_bytes;
	c->shards = strata_calloc(n_shards, sizeof *c->shards);
	if (!c->shards) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_shards; i++) {
		struct cache_shard *s = &c->shards[i];

		s->capacity = per_shard;
		s->lru.lru_next = s->lru.lru_prev = &s->lru;
		s->buckets = strata_calloc(INITIAL_BUCKETS, sizeof *s->buckets);
		if (!s->buckets) {
			rc = -ENOMEM;
			goto out;
		}
		s->n_buckets = INITIAL_BUCKETS;
		pthread_mutex_init(&s->mu, NULL);
	}
	*out = c;
out:
	if (rc) {
		if (c->shards) {
			for (size_t i = 0; i < n_shards; i++) {
				if (c->shards[i].buckets)
					pthread_mutex_destroy(&c->shards[i].mu);
				strata_free(c->shards[i].buckets);
			}
			strata_free(c->shards);
		}
		strata_free(c);
	}
	return rc;
}

void lsm_cache_free(lsm_cache *c)
{
	size_t n_shards;

	if (!c)
		return;
	n_shards = (size_t)1 << c->shard_bits;
	for (size_t i = 0; i < n_shards; i++) {
		struct cache_shard *s = &c->shards[i];
		struct lsm_cache_handle *dead = NULL;

		/* Every handle has been released: each entry holds only the cache's ref. */
		for (size_t j = 0; j < s->n_buckets; j++) {
			struct lsm_cache_handle *e = s->buckets[j];

			while (e) {
				struct lsm_cache_handle *next = e->next_hash;

				finish_erase(s, e, &dead);
				e = next;
			}
		}
		free_dead(dead);
		strata_free(s->buckets);
		pthread_mutex_destroy(&s->mu);
	}
	strata_free(c->shards);
	strata_free(c);
}

lsm_cache_handle *lsm_cache_lookup(lsm_cache *c, uint64_t file_no, uint64_t offset)
{
	uint64_t hash = hash_key(file_no, offset);
	struct cache_shard *s = shard_of(c, hash);
	struct lsm_cache_handle *e;

	pthread_mutex_lock(&s->mu);
	e = *find_slot(s, hash, file_no, offset);
	if (e) {
		if (e->refs == 1)
			lru_remove(e); /* pinned now: off the list */
		e->refs++;
		s->hits++;
	} else {
		s->misses++;
	}
	pthread_mutex_unlock(&s->mu);
	return e;
}

lsm_cache_handle *lsm_cache_insert(lsm_cache *c, uint64_t file_no, uint64_t offset,
				   void *value, size_t charge, void (*deleter)(void *value))
{
	uint64_t hash = hash_key(file_no, offset);
	struct cache_shard *s = shard_of(c, hash);
	struct lsm_cache_handle *e, **slot, *dead = NULL;

	e = strata_calloc(1, sizeof *e);
	if (!e) {
		if (deleter)
			deleter(value);
		return NULL;
	}
	e->file_no = file_no;
	e->offset = offset;
	e->hash = hash;
	e->value = value;
	e->charge = charge;
	e->deleter = deleter;
	e->refs = 2; /* the cache's and the returned handle's */
	e->in_cache = true;

	pthread_mutex_lock(&s->mu);
	slot = find_slot(s, hash, file_no, offset);
	if (*slot) {
		struct lsm_cache_handle *old = *slot;

		/* Replace in place in the chain; the old entry leaves the cache. */
		e->next_hash = old->next_hash;
		*slot = e;
		finish_erase(s, old, &dead);
	} else {
		e->next_hash = NULL;
		*slot = e;
	}
	s->n_entries++;
	s->usage += charge;
	s->inserts++;
	if (s->n_entries > s->n_buckets)
		table_grow(s);
	evict(s, &dead);
	pthread_mutex_unlock(&s->mu);
	free_dead(dead);
	return e;
}

void *lsm_cache_value(const lsm_cache_handle *h)
{
	return h->value;
}

void lsm_cache_release(lsm_cache *c, lsm_cache_handle *h)
{
	struct cache_shard *s = shard_of(c, h->hash);
	struct lsm_cache_handle *dead = NULL;

	pthread_mutex_lock(&s->mu);
	if (--h->refs == 0) {
		/* Already out of the cache (replaced, erased): this was the last pin. */
		h->next_hash = NULL;
		dead = h;
	} else if (h->refs == 1 && h->in_cache) {
		lru_append(s, h);
		evict(s, &dead);
	}
	pthread_mutex_unlock(&s->mu);
	free_dead(dead);
}

void lsm_cache_erase_file(lsm_cache *c, uint64_t file_no)
{
	size_t n_shards = (size_t)1 << c->shard_bits;

	for (size_t i = 0; i < n_shards; i++) {
		struct cache_shard *s = &c->shards[i];
		struct lsm_cache_handle *dead = NULL;

		pthread_mutex_lock(&s->mu);
		for (size_t j = 0; j < s->n_buckets; j++) {
			struct lsm_cache_handle **slot = &s->buckets[j];

			while (*slot) {
				struct lsm_cache_handle *e = *slot;

				if (e->file_no == file_no) {
					*slot = e->next_hash;
					finish_erase(s, e, &dead);
				} else {
					slot = &e->next_hash;
				}
			}
		}
		pthread_mutex_unlock(&s->mu);
		free_dead(dead);
	}
}

void lsm_cache_get_stats(lsm_cache *c, lsm_cache_stats *out)
{
	size_t n_shards = (size_t)1 << c->shard_bits;

	memset(out, 0, sizeof *out);
	out->capacity = c->capacity;
	for (size_t i = 0; i < n_shards; i++) {
		struct cache_shard *s = &c->shards[i];

		pthread_mutex_lock(&s->mu);
		out->hits += s->hits;
		out->misses += s->misses;
		out->inserts += s->inserts;
		out->evictions += s->evictions;
		out->bytes += s->usage;
		out->entries += s->n_entries;
		pthread_mutex_unlock(&s->mu);
	}
}
