/*
 * memtable.c — the in-memory table (memtable.h): a skiplist of internal keys
 * whose nodes, values included, live in one arena.
 *
 * An entry is a single skiplist node: the 24-byte internal key, the value
 * length (the node's u32 extra_len) and the value bytes right after the
 * node's links. An insert is therefore one pointer bump in the arena, one
 * copy of the value and one skiplist insert; no heap call, no lock.
 *
 * Ingest interleaves many series, each in ascending time, so consecutive
 * inserts land far apart and the previous insert says little about the
 * next. The memtable keeps instead one skiplist insert hint per series: an
 * open-addressing table keyed by series id, probed at most HINTS_PROBE_MAX
 * slots. The next point of a series is then linked right after that
 * series' last one, at the cost of a few cache misses instead of a search
 * from the top (several times faster once the list outgrows the caches).
 * The table is an optimisation only: a missing, evicted or wrong hint costs
 * a search. It doubles when half full as long as it then has no more slots
 * than the memtable has entries plus HINTS_MIN_SLOTS, so it stays under
 * about 40 bytes per entry even when every key is a new series. It is heap
 * memory outside the arena (not counted by lsm_memtable_bytes) and lives as
 * long as the memtable.
 *
 * Threads:
 * - lsm_memtable_add: one thread at a time (the commit leader), which is the
 *   skiplist's single writer. It alone touches the arena, the hint table and
 *   writes `count`.
 * - Iterators, lsm_memtable_bytes, lsm_memtable_count, ref and unref: any
 *   thread, no lock. Readers see nodes through the skiplist's acquire loads;
 *   the two counters are relaxed atomics (statistics that order nothing).
 * - `refs` is an atomic count; the thread that drops it to zero frees the
 *   memtable, and the acq_rel decrement makes every other holder's accesses
 *   happen before that free.
 */
#include "lsm/memtable.h"
#include "lsm/alloc.h"
#include "lsm/arena.h"
#include "lsm/batch.h"
#include "lsm/skiplist.h"
#include "lsm/status.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

/* Hint table: first size, probe limit. */
#define HINTS_MIN_SLOTS 64
#define HINTS_PROBE_MAX 8

struct series_hint {
	uint64_t series;         /* series id; meaningful when hint.prev[0] is set */
	lsm_skiplist_hint hint;  /* hint.prev[0] NULL: a free slot */
};

struct lsm_memtable {
	lsm_skiplist list;     /* its writer fields: inserting thread only */
	lsm_arena arena;       /* allocation: inserting thread only; bytes: any */
	/* Inserting thread only. */
	struct series_hint *hints;
	size_t n_hint_slots;   /* a power of two */
	size_t n_hints_used;   /* slots ever claimed */
	int hints_shift;       /* 64 - log2(n_hint_slots) */
	/* Any thread. */
	_Atomic uint64_t count; /* entries inserted; written by the inserting thread */
	atomic_uint refs;
};

struct memtable_iter {
	lsm_iter base;
	lsm_memtable *m;
	const lsm_skiplist_node *node; /* current entry, NULL when not valid */
};

static inline size_t hint_home(const lsm_memtable *m, uint64_t series)
{
	return (size_t)((series * UINT64_C(0x9E3779B97F4A7C15)) >> m->hints_shift);
}

static int hints_alloc(lsm_memtable *m, size_t n_slots)
{
	struct series_hint *t = strata_calloc(n_slots, sizeof(*t));
	int shift = 64;

	if (!t)
		return -ENOMEM;
	for (size_t s = n_slots; s > 1; s >>= 1)
		shift--;
	m->hints = t;
	m->n_hint_slots = n_slots;
	m->n_hints_used = 0;
	m->hints_shift = shift;
	return 0;
}

/* Doubles the table, keeping the hints that still fit; on -ENOMEM keeps the old one. */
static void hints_grow(lsm_memtable *m)
{
	struct series_hint *old = m->hints;
	size_t n_old = m->n_hint_slots;

	if (hints_alloc(m, n_old * 2))
		return;
	for (size_t i = 0; i < n_old; i++) {
		size_t j;

		if (!old[i].hint.prev[0])
			continue;
		j = hint_home(m, old[i].series);
		for (int probe = 0; probe < HINTS_PROBE_MAX; probe++, j = (j + 1) & (m->n_hint_slots - 1)) {
			if (!m->hints[j].hint.prev[0]) {
				m->hints[j] = old[i];
				m->n_hints_used++;
				break;
			}
		}
	}
	strata_free(old);
}

/*
 * The hint slot of series: its own, a free one (now claimed), or, when the
 * neighbourhood is full, its home slot taken over from another series.
 */
static lsm_skiplist_hint *hint_for(lsm_memtable *m, uint64_t series, uint64_t count)
{
	size_t mask, i;
	struct series_hint *slot;

	if (m->n_hints_used * 2 > m->n_hint_slots && m->n_hint_slots * 2 <= count + HINTS_MIN_SLOTS)
		hints_grow(m);
	mask = m->n_hint_slots - 1;
	i = hint_home(m, series);
	for (int probe = 0; probe < HINTS_PROBE_MAX; probe++, i = (i + 1) & mask) {
		slot = &m->hints[i];
		if (!slot->hint.prev[0]) {
			slot->series = series;
			m->n_hints_used++;
			return &slot->hint;
		}
		if (slot->series == series)
			return &slot->hint;
	}
	slot = &m->hints[hint_home(m, series)];
	slot->series = series;
	memset(&slot->hint, 0, sizeof(slot->hint));
	return &slot->hint;
}

int lsm_memtable_new(lsm_memtable **out)
{
	lsm_memtable *m = strata_malloc(sizeof(*m));
	int rc = -ENOMEM;

	*out = NULL;
	if (!m)
		goto out;
	lsm_arena_init(&m->arena);
	rc = lsm_skiplist_init(&m->list, &m->arena);
	if (rc == 0)
		rc = hints_alloc(m, HINTS_MIN_SLOTS);
	if (rc) {
		lsm_arena_deinit(&m->arena);
		strata_free(m);
		goto out;
	}
	atomic_init(&m->count, 0);
	atomic_init(&m->refs, 1);
	*out = m;
out:
	return rc;
}

void lsm_memtable_ref(lsm_memtable *m)
{
	atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void lsm_memtable_unref(lsm_memtable *m)
{
	if (!m)
		return;
	if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
		return;
	lsm_arena_deinit(&m->arena);
	strata_free(m->hints);
	strata_free(m);
}

int lsm_memtable_add(lsm_memtable *m, uint64_t seq, enum lsm_kind kind,
		     const uint8_t ukey[LSM_UKEY_LEN], const void *value, size_t value_len)
{
	uint8_t ikey[LSM_IKEY_LEN];
	lsm_skiplist_node *n;
	uint64_t count = atomic_load_explicit(&m->count, memory_order_relaxed);

	if (value_len > LSM_VALUE_MAX)
		return strata_error(STRATA_ETOOBIG, "memtable: value of %zu bytes over the %u byte limit",
				    value_len, LSM_VALUE_MAX);
	if (seq > LSM_SEQ_MAX)
		return strata_error(STRATA_EINVAL, "memtable: sequence number %llu over the maximum",
				    (unsigned long long)seq);
	lsm_ikey_encode(ikey, ukey, seq, kind);
	n = lsm_skiplist_node_new(&m->list, ikey, (uint32_t)value_len);
	if (!n)
		return -ENOMEM;
	if (value_len)
		memcpy(lsm_skiplist_node_extra(n), value, value_len);
	lsm_skiplist_insert(&m->list, n, hint_for(m, lsm_ukey_series(ukey), count));
	atomic_store_explicit(&m->count, count + 1, memory_order_relaxed);
	return 0;
}

size_t lsm_memtable_bytes(const lsm_memtable *m)
{
	return lsm_arena_bytes(&m->arena);
}

uint64_t lsm_memtable_count(const lsm_memtable *m)
{
	return atomic_load_explicit(&((lsm_memtable *)m)->count, memory_order_relaxed);
}

static bool iter_valid(lsm_iter *it)
{
	return ((struct memtable_iter *)it)->node != NULL;
}

static void iter_seek_first(lsm_iter *it)
{
	struct memtable_iter *mi = (struct memtable_iter *)it;

	mi->node = lsm_skiplist_first(&mi->m->list);
}

static void iter_seek(lsm_iter *it, const uint8_t *target, size_t target_len)
{
	struct memtable_iter *mi = (struct memtable_iter *)it;

	mi->node = lsm_skiplist_seek(&mi->m->list, target, target_len);
}

static void iter_next(lsm_iter *it)
{
	struct memtable_iter *mi = (struct memtable_iter *)it;

	if (mi->node)
		mi->node = lsm_skiplist_node_next(mi->node);
}

static const uint8_t *iter_key(lsm_iter *it, size_t *out_len)
{
	struct memtable_iter *mi = (struct memtable_iter *)it;

	if (!mi->node) {
		*out_len = 0;
		return NULL;
	}
	*out_len = LSM_IKEY_LEN;
	return mi->node->key;
}

static const uint8_t *iter_value(lsm_iter *it, size_t *out_len)
{
	struct memtable_iter *mi = (struct memtable_iter *)it;

	if (!mi->node) {
		*out_len = 0;
		return NULL;
	}
	*out_len = mi->node->extra_len;
	return lsm_skiplist_node_extra(mi->node);
}

static int iter_status(lsm_iter *it)
{
	(void)it;
	return 0;
}

static void iter_free(lsm_iter *it)
{
	struct memtable_iter *mi = (struct memtable_iter *)it;

	lsm_memtable_unref(mi->m);
	strata_free(mi);
}

static const struct lsm_iter_ops memtable_iter_ops = {
	.valid = iter_valid,
	.seek_first = iter_seek_first,
	.seek = iter_seek,
	.next = iter_next,
	.key = iter_key,
	.value = iter_value,
	.status = iter_status,
	.free = iter_free,
};

lsm_iter *lsm_memtable_iter_new(lsm_memtable *m)
{
	struct memtable_iter *mi = strata_malloc(sizeof(*mi));

	if (!mi)
		return NULL;
	mi->base.ops = &memtable_iter_ops;
	mi->m = m;
	mi->node = NULL;
	lsm_memtable_ref(m);
	return &mi->base;
}
