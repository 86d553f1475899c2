/*
 * merge_iter.c — k-way merge of sorted iterators with a binary min-heap.
 *
 * The heap holds the children that are valid, ordered by their current key;
 * the top is the merge's current entry. next() advances the top child and
 * sifts it down: O(log k) per entry. A child that ends with an error stops
 * the whole merge (a read must not silently miss data).
 */
#include "lsm/merge_iter.h"
#include "lsm/alloc.h"

#include <string.h>

typedef struct merge_iter {
	lsm_iter base;
	lsm_iter **children;
	size_t n_children;
	size_t *heap; /* indexes into children */
	size_t n_heap;
	int status;
} merge_iter;

static int child_cmp(merge_iter *m, size_t a, size_t b)
{
	size_t la, lb;
	const uint8_t *ka = lsm_iter_key(m->children[a], &la);
	const uint8_t *kb = lsm_iter_key(m->children[b], &lb);
	int c = memcmp(ka, kb, la < lb ? la : lb);

	if (c == 0)
		c = la < lb ? -1 : la > lb;
	/* Equal keys: the earlier child (newer source) first, for stability. */
	if (c == 0)
		c = a < b ? -1 : a > b;
	return c;
}

static void sift_down(merge_iter *m, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, min = i;

		if (l < m->n_heap && child_cmp(m, m->heap[l], m->heap[min]) < 0)
			min = l;
		if (r < m->n_heap && child_cmp(m, m->heap[r], m->heap[min]) < 0)
			min = r;
		if (min == i)
			return;
		size_t t = m->heap[i];
		m->heap[i] = m->heap[min];
		m->heap[min] = t;
		i = min;
	}
}

/* Rebuilds the heap from the valid children; an invalid child with an error stops the merge. */
static void rebuild(merge_iter *m)
{
	m->n_heap = 0;
	for (size_t i = 0; i < m->n_children; i++) {
		if (lsm_iter_valid(m->children[i])) {
			m->heap[m->n_heap++] = i;
		} else {
			int rc = lsm_iter_status(m->children[i]);

			if (rc && !m->status)
				m->status = rc;
		}
	}
	if (m->status) {
		m->n_heap = 0;
		return;
	}
	for (size_t i = m->n_heap / 2; i-- > 0;)
		sift_down(m, i);
}

static bool m_valid(lsm_iter *it)
{
	merge_iter *m = (merge_iter *)it;

	return m->n_heap > 0;
}

static void m_seek_first(lsm_iter *it)
{
	merge_iter *m = (merge_iter *)it;

	for (size_t i = 0; i < m->n_children; i++)
		lsm_iter_seek_first(m->children[i]);
	rebuild(m);
}

static void m_seek(lsm_iter *it, const uint8_t *target, size_t len)
{
	merge_iter *m = (merge_iter *)it;

	for (size_t i = 0; i < m->n_children; i++)
		lsm_iter_seek(m->children[i], target, len);
	rebuild(m);
}

static void m_next(lsm_iter *it)
{
	merge_iter *m = (merge_iter *)it;
	lsm_iter *top;

	if (m->n_heap == 0)
		return;
	top = m->children[m->heap[0]];
	lsm_iter_next(top);
	if (!lsm_iter_valid(top)) {
		int rc = lsm_iter_status(top);

		if (rc) {
			m->status = rc;
			m->n_heap = 0;
			return;
		}
		m->heap[0] = m->heap[--m->n_heap];
	}
	if (m->n_heap > 0)
		sift_down(m, 0);
}

static const uint8_t *m_key(lsm_iter *it, size_t *len)
{
	merge_iter *m = (merge_iter *)it;

	return lsm_iter_key(m->children[m->heap[0]], len);
}

static const uint8_t *m_value(lsm_iter *it, size_t *len)
{
	merge_iter *m = (merge_iter *)it;

	return lsm_iter_value(m->children[m->heap[0]], len);
}

static int m_status(lsm_iter *it)
{
	return ((merge_iter *)it)->status;
}

static void m_free(lsm_iter *it)
{
	merge_iter *m = (merge_iter *)it;

	for (size_t i = 0; i < m->n_children; i++)
		lsm_iter_free(m->children[i]);
	strata_free(m->children);
	strata_free(m->heap);
	strata_free(m);
}

static const struct lsm_iter_ops merge_ops = {
	.valid = m_valid,
	.seek_first = m_seek_first,
	.seek = m_seek,
	.next = m_next,
	.key = m_key,
	.value = m_value,
	.status = m_status,
	.free = m_free,
};

lsm_iter *lsm_merge_iter_new(lsm_iter **children, size_t n)
{
	merge_iter *m = strata_calloc(1, sizeof *m);

	if (!m)
		goto fail;
	m->children = strata_malloc((n ? n : 1) * sizeof *m->children);
	m->heap = strata_malloc((n ? n : 1) * sizeof *m->heap);
	if (!m->children || !m->heap)
		goto fail;
	memcpy(m->children, children, n * sizeof *children);
	m->n_children = n;
	m->base.ops = &merge_ops;
	return &m->base;
fail:
	for (size_t i = 0; i < n; i++)
		lsm_iter_free(children[i]);
	if (m) {
		strata_free(m->children);
		strata_free(m->heap);
		strata_free(m);
	}
	return NULL;
}
