/*
 * test_memtable_concurrent.c — one inserting thread, three readers, no locks.
 *
 * The writer inserts a fixed sequence of keys (round-robin series with
 * ascending timestamps, mixed with random keys) and publishes how many it has
 * inserted. Readers scan and seek all the while and check that what they see
 * is sorted, that every entry is one the writer made with exactly the value
 * derived from its key, that every published key is found, and that a key
 * once seen is still there later. The memtable's last reference is dropped by
 * whichever reader finishes last. Run it under -fsanitize=thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>

#include "lsm/memtable.h"

#define N_KEYS 100000
#define N_READERS 3
#define MAX_ROUNDS 1000000
#define N_REMEMBERED 64

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

/* The ith key the writer inserts; its sequence number is i + 1. */
static void key_of(uint8_t out[LSM_IKEY_LEN], uint64_t i)
{
	uint8_t ukey[LSM_UKEY_LEN];

	if (i % 4 == 3)
		lsm_ukey_encode(ukey, mix(i) % 1000, (int64_t)(mix(i + N_KEYS) % 2000000) - 1000000);
	else
		lsm_ukey_encode(ukey, (i / 4) % 64, (int64_t)i * 10);
	lsm_ikey_encode(out, ukey, i + 1, (enum lsm_kind)(i % 3));
}

/* The value stored under the ith key: 0..63 bytes derived from i. */
static size_t value_of(uint8_t out[64], uint64_t i)
{
	size_t len = mix(i ^ 0xabcdef) % 64;

	for (size_t b = 0; b < len; b++)
		out[b] = (uint8_t)mix(i * 64 + b);
	return len;
}

struct shared {
	lsm_memtable *m;
	_Atomic uint64_t published; /* keys 0..published-1 are in the memtable */
	atomic_bool writer_done;
	int writer_rc;
};

struct reader {
	pthread_t thread;
	struct shared *sh;
	uint64_t rng;
	lsm_iter *it;
	uint64_t errors;
	char first_error[256];
	uint64_t rounds, scans, seeks;
	uint64_t last_scan_count;
	uint64_t remembered[N_REMEMBERED]; /* indexes of keys seen in earlier scans */
	size_t n_remembered;
};

static void reader_fail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Counts an error and keeps the first message (cmocka asserts only on the main thread). */
static void reader_fail(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	if (r->errors++ == 0) {
		va_start(ap, fmt);
		vsnprintf(r->first_error, sizeof(r->first_error), fmt, ap);
		va_end(ap);
	}
}

/* Checks the entry under the iterator; returns its writer index, or UINT64_MAX if bad. */
static uint64_t check_entry(struct reader *r, lsm_iter *it)
{
	uint8_t want_key[LSM_IKEY_LEN], want_val[64];
	size_t klen, vlen, want_len;
	const uint8_t *k = lsm_iter_key(it, &klen);
	const uint8_t *v = lsm_iter_value(it, &vlen);
	uint64_t seq, i;

	if (klen != LSM_IKEY_LEN) {
		reader_fail(r, "key of %zu bytes", klen);
		return UINT64_MAX;
	}
	seq = lsm_ikey_seq(k);
	if (seq == 0 || seq > N_KEYS) {
		reader_fail(r, "unknown sequence number %llu", (unsigned long long)seq);
		return UINT64_MAX;
	}
	i = seq - 1;
	key_of(want_key, i);
	if (memcmp(k, want_key, LSM_IKEY_LEN) != 0) {
		reader_fail(r, "key of entry %llu garbled", (unsigned long long)i);
		return UINT64_MAX;
	}
	want_len = value_of(want_val, i);
	if (vlen != want_len || memcmp(v, want_val, vlen) != 0) {
		reader_fail(r, "value of entry %llu wrong (%zu bytes)", (unsigned long long)i, vlen);
		return UINT64_MAX;
	}
	return i;
}

static void full_scan(struct reader *r, bool final)
{
	uint64_t before = atomic_load_explicit(&r->sh->published, memory_order_acquire);
	uint8_t prev[LSM_IKEY_LEN];
	uint64_t n = 0;

	for (lsm_iter_seek_first(r->it); lsm_iter_valid(r->it); lsm_iter_next(r->it)) {
		const uint8_t *k = lsm_iter_key(r->it, &(size_t){ 0 });
		uint64_t i = check_entry(r, r->it);

		if (i == UINT64_MAX)
			return;
		if (n > 0 && memcmp(prev, k, LSM_IKEY_LEN) >= 0) {
			reader_fail(r, "out of order at entry %llu of a scan", (unsigned long long)n);
			return;
		}
		memcpy(prev, k, LSM_IKEY_LEN);
		if (++n > N_KEYS) {
			reader_fail(r, "scan longer than %d entries", N_KEYS);
			return;
		}
		if (r->n_remembered < N_REMEMBERED && (mix(r->rng + n) & 1023) == 0)
			r->remembered[r->n_remembered++] = i;
	}
	if (n < before)
		reader_fail(r, "scan saw %llu entries, %llu were published before it", (unsigned long long)n,
			    (unsigned long long)before);
	if (n < r->last_scan_count)
		reader_fail(r, "scan saw %llu entries, an earlier one %llu", (unsigned long long)n,
			    (unsigned long long)r->last_scan_count);
	if (final && n != N_KEYS)
		reader_fail(r, "final scan saw %llu of %d entries", (unsigned long long)n, N_KEYS);
	r->last_scan_count = n;
	r->scans++;
}

/* Seeks to key i, which must be there; why says which promise that is. */
static void seek_present(struct reader *r, uint64_t i, const char *why)
{
	uint8_t k[LSM_IKEY_LEN];

	key_of(k, i);
	lsm_iter_seek(r->it, k, LSM_IKEY_LEN);
	r->seeks++;
	if (!lsm_iter_valid(r->it)) {
		reader_fail(r, "%s: key %llu not found (end of list)", why, (unsigned long long)i);
		return;
	}
	if (memcmp(lsm_iter_key(r->it, &(size_t){ 0 }), k, LSM_IKEY_LEN) != 0) {
		reader_fail(r, "%s: key %llu not found (landed elsewhere)", why, (unsigned long long)i);
		return;
	}
	check_entry(r, r->it);
}

static void seek_round(struct reader *r)
{
	uint64_t published = atomic_load_explicit(&r->sh->published, memory_order_acquire);

	for (int s = 0; s < 100 && published > 0; s++) {
		uint64_t x = mix(r->rng++);

		/* Mostly recent keys, where the writer is working. */
		if (x & 1)
			seek_present(r, published - 1 - (x >> 1) % (published < 256 ? published : 256),
				     "published");
		else
			seek_present(r, (x >> 1) % published, "published");
	}
	for (size_t j = 0; j < r->n_remembered; j++)
		seek_present(r, r->remembered[j], "seen in an earlier scan");
	/* A seek between keys lands on a key >= the target, in order. */
	for (int s = 0; s < 50; s++) {
		uint8_t t[LSM_IKEY_LEN], prev[LSM_IKEY_LEN];
		uint64_t x = mix(r->rng++);

		key_of(t, x % N_KEYS);
		t[8 + (x >> 20) % 16] ^= (uint8_t)(x >> 40);
		lsm_iter_seek(r->it, t, LSM_IKEY_LEN);
		r->seeks++;
		for (int step = 0; step < 8 && lsm_iter_valid(r->it); step++, lsm_iter_next(r->it)) {
			const uint8_t *k = lsm_iter_key(r->it, &(size_t){ 0 });

			if (check_entry(r, r->it) == UINT64_MAX)
				return;
			/* The first key is >= the target, each next one > the one before. */
			if (step == 0 ? memcmp(k, t, LSM_IKEY_LEN) < 0 : memcmp(k, prev, LSM_IKEY_LEN) <= 0) {
				reader_fail(r, "seek near key %llu out of order at step %d", (unsigned long long)(x % N_KEYS),
					    step);
				return;
			}
			memcpy(prev, k, LSM_IKEY_LEN);
		}
	}
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	uint64_t last_count = 0;
	size_t last_bytes = 0;

	while (r->rounds < MAX_ROUNDS && r->errors == 0) {
		bool done = atomic_load_explicit(&r->sh->writer_done, memory_order_acquire);
		uint64_t count = lsm_memtable_count(r->sh->m);
		size_t bytes = lsm_memtable_bytes(r->sh->m);

		if (count < last_count || bytes < last_bytes)
			reader_fail(r, "counters went back: count %llu bytes %zu", (unsigned long long)count, bytes);
		last_count = count;
		last_bytes = bytes;
		if (r->rounds % 8 == 0)
			full_scan(r, false);
		else
			seek_round(r);
		r->rounds++;
		if (done)
			break;
	}
	full_scan(r, true);
	/* Drops this reader's reference; the last one out frees the memtable. */
	lsm_iter_free(r->it);
	r->it = NULL;
	return NULL;
}

static void test_memtable_concurrent_one_writer_three_readers(void **state)
{
	(void)state;
	struct shared sh;
	struct reader readers[N_READERS];
	uint8_t k[LSM_IKEY_LEN], v[64];

	assert_int_equal(lsm_memtable_new(&sh.m), 0);
	atomic_init(&sh.published, 0);
	atomic_init(&sh.writer_done, false);
	sh.writer_rc = 0;
	memset(readers, 0, sizeof(readers));
	for (int t = 0; t < N_READERS; t++) {
		readers[t].sh = &sh;
		readers[t].rng = (uint64_t)t * 1000003 + 1;
		readers[t].it = lsm_memtable_iter_new(sh.m);
		assert_non_null(readers[t].it);
		assert_int_equal(pthread_create(&readers[t].thread, NULL, reader_main, &readers[t]), 0);
	}

	/* This thread is the writer. */
	for (uint64_t i = 0; i < N_KEYS; i++) {
		size_t len = value_of(v, i);
		int rc;

		key_of(k, i);
		rc = lsm_memtable_add(sh.m, i + 1, lsm_ikey_kind(k), k, v, len);
		if (rc) {
			sh.writer_rc = rc;
			break;
		}
		atomic_store_explicit(&sh.published, i + 1, memory_order_release);
	}
	atomic_store_explicit(&sh.writer_done, true, memory_order_release);
	assert_int_equal(sh.writer_rc, 0);
	assert_int_equal(lsm_memtable_count(sh.m), N_KEYS);
	/* The engine lets go while readers still run. */
	lsm_memtable_unref(sh.m);

	for (int t = 0; t < N_READERS; t++) {
		assert_int_equal(pthread_join(readers[t].thread, NULL), 0);
		printf("reader %d: %llu rounds, %llu scans, %llu seeks\n", t,
		       (unsigned long long)readers[t].rounds, (unsigned long long)readers[t].scans,
		       (unsigned long long)readers[t].seeks);
		if (readers[t].errors)
			fail_msg("reader %d: %llu errors, first: %s", t, (unsigned long long)readers[t].errors,
				 readers[t].first_error);
		assert_int_equal(readers[t].last_scan_count, N_KEYS);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memtable_concurrent_one_writer_three_readers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
