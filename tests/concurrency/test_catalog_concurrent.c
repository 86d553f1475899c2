/*
 * test_catalog_concurrent.c — the series catalog (lsm/catalog.h) under
 * concurrent transactions: 4 writer threads register overlapping sets of new
 * series and fields, walking them in step so that they meet the same new keys
 * at the same time (some transactions dropped without commit), while 2
 * readers look them up and read postings. Every key must end with exactly
 * one id, the same one every thread was given, distinct from every other
 * key's, and the same after a reopen; a field written with two types by
 * different threads gets one type, and the losers get STRATA_ETYPE naming
 * it. Meant to run under ThreadSanitizer too.
 */
#include "lsm/catalog.h"
#include "lsm/status.h"
#include "tests/util.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>

#define N_WRITERS 4
#define N_READERS 2
#define N_KEYS 1200
#define BATCH 20 /* plus 3 per writer, so that commits fall at different points */
#define N_FIELDS 40
#define N_CONFLICT 8
#define READER_MAX_ITERS 2000000

static char keys[N_KEYS][48];

struct shared {
	lsm_catalog *c;
	uint32_t db;
	atomic_int writers_left;
	/* Written by one writer each, read after join. */
	uint64_t ids[N_WRITERS][N_KEYS];          /* 0: not registered by this writer */
	bool committed[N_WRITERS][N_KEYS];
	uint32_t field_ids[N_WRITERS][N_FIELDS];
	uint32_t conflict_ids[N_WRITERS][N_CONFLICT];
	enum lsm_field_type conflict_seen[N_WRITERS][N_CONFLICT]; /* type given, or the type named by ETYPE */
	bool conflict_won[N_WRITERS][N_CONFLICT];
	atomic_int errors;
	/* Readers: the id they saw for a key (0: never found). */
	uint64_t seen[N_READERS][N_KEYS];
	atomic_int reader_errors;
};

struct targ {
	struct shared *s;
	int idx;
};

static enum lsm_field_type field_type(int i)
{
	return (enum lsm_field_type)(i % 5 + 1);
}

static void *writer(void *p)
{
	struct targ *a = p;
	struct shared *s = a->s;
	int w = a->idx;
	lsm_catalog_txn *t;
	int batch_keys[BATCH + 3 * N_WRITERS], n = 0, batch_no = 0, batch = BATCH + 3 * w, last = N_KEYS - 1;

	if (lsm_catalog_txn_new(&t, s->c) != 0) {
		s->errors++;
		goto out;
	}
	/* All writers walk the keys in the same order, each skipping a quarter,
	 * so that most keys are met by three writers at about the same time. */
	while (last > 0 && (last * 7 + w) % N_WRITERS == 0)
		last--;
	for (int i = 0; i < N_KEYS; i++) {
		int k = i;
		uint64_t id;

		if ((k * 7 + w) % N_WRITERS == 0)
			continue;
		if (lsm_catalog_txn_series(t, s->db, keys[k], strlen(keys[k]), &id) != 0) {
			s->errors++;
			break;
		}
		s->ids[w][k] = id;
		batch_keys[n++] = k;
		/* Fields, overlapping across writers, and a few with conflicting types. */
		{
			char name[16];
			int fi = (i + w) % N_FIELDS;
			int ci = i % N_CONFLICT;
			enum lsm_field_type want = w % 2 ? LSM_FIELD_FLOAT : LSM_FIELD_INT, got = 0;
			uint32_t fid;
			int rc;

			snprintf(name, sizeof name, "f%d", fi);
			if (lsm_catalog_txn_field(t, s->db, "cpu", 3, name, strlen(name), field_type(fi), &fid, &got) != 0) {
				s->errors++;
				break;
			}
			if (s->field_ids[w][fi] && s->field_ids[w][fi] != fid)
				s->errors++;
			s->field_ids[w][fi] = fid;
			snprintf(name, sizeof name, "c%d", ci);
			rc = lsm_catalog_txn_field(t, s->db, "cpu", 3, name, strlen(name), want, &fid, &got);
			if (rc == 0) {
				s->conflict_ids[w][ci] = fid;
				s->conflict_won[w][ci] = true;
				s->conflict_seen[w][ci] = want;
			} else if (rc == STRATA_ETYPE) {
				if (got == want)
					s->errors++;
				s->conflict_seen[w][ci] = got;
			} else {
				s->errors++;
			}
		}
		if (n == batch || i == last) {
			/* Every 5th batch is dropped: its reservations go away (or stay with others). */
			if (++batch_no % 5 == 0) {
				lsm_catalog_txn_reset(t);
				for (int j = 0; j < n; j++)
					s->ids[w][batch_keys[j]] = 0;
				memset(s->conflict_won[w], 0, sizeof s->conflict_won[w]);
			} else {
				if (lsm_catalog_txn_commit(t) != 0) {
					s->errors++;
					break;
				}
				for (int j = 0; j < n; j++)
					s->committed[w][batch_keys[j]] = true;
				lsm_catalog_txn_reset(t);
			}
			n = 0;
		}
	}
	lsm_catalog_txn_free(t);
out:
	atomic_fetch_sub(&s->writers_left, 1);
	return NULL;
}

static bool sorted(const uint64_t *ids, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (ids[i - 1] >= ids[i])
			return false;
	return true;
}

static void *reader(void *p)
{
	struct targ *a = p;
	struct shared *s = a->s;
	uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(a->idx + 1);

	for (long it = 0; it < READER_MAX_ITERS && atomic_load(&s->writers_left) > 0; it++) {
		int k;
		uint64_t id, *list;
		size_t n;
		int rc;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		k = (int)(x % N_KEYS);
		rc = lsm_catalog_series_id(s->c, s->db, keys[k], strlen(keys[k]), &id);
		if (rc == 0) {
			/* Once published, a key's id never changes. */
			if (s->seen[a->idx][k] && s->seen[a->idx][k] != id)
				s->reader_errors++;
			s->seen[a->idx][k] = id;
		} else if (rc != STRATA_ENOTFOUND) {
			s->reader_errors++;
		}
		if (it % 64 == 0) {
			if (lsm_catalog_measurement_series(s->c, s->db, "cpu", 3, &list, &n) != 0 || !sorted(list, n))
				s->reader_errors++;
			free(list);
			if (lsm_catalog_tag_series(s->c, s->db, "cpu", 3, "region", 6, "r3", 2, &list, &n) != 0 ||
			    !sorted(list, n))
				s->reader_errors++;
			free(list);
		}
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_catalog_concurrent_transactions(void **state)
{
	struct shared *s = calloc(1, sizeof(*s));
	pthread_t th[N_WRITERS + N_READERS];
	struct targ args[N_WRITERS + N_READERS];
	uint64_t *final = calloc(N_KEYS, sizeof(*final)), *sorted_ids = calloc(N_KEYS, sizeof(*final));
	char dir[64];
	size_t n_final = 0;

	(void)state;
	assert_non_null(s);
	assert_non_null(final);
	assert_non_null(sorted_ids);
	for (int k = 0; k < N_KEYS; k++)
		snprintf(keys[k], sizeof keys[k], "cpu,host=h%04d,region=r%d", k, k % 7);
	assert_int_equal(test_make_temp_dir(dir, sizeof dir), 0);
	assert_int_equal(lsm_catalog_open(&s->c, dir), 0);
	assert_int_equal(lsm_catalog_create_database(s->c, "db"), 0);
	assert_int_equal(lsm_catalog_database_id(s->c, "db", &s->db), 0);
	atomic_store(&s->writers_left, N_WRITERS);
	for (int i = 0; i < N_WRITERS + N_READERS; i++) {
		args[i].s = s;
		args[i].idx = i < N_WRITERS ? i : i - N_WRITERS;
		assert_int_equal(pthread_create(&th[i], NULL, i < N_WRITERS ? writer : reader, &args[i]), 0);
	}
	for (int i = 0; i < N_WRITERS + N_READERS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&s->errors), 0);
	assert_int_equal(atomic_load(&s->reader_errors), 0);

	for (int pass = 0; pass < 2; pass++) {
		n_final = 0;
		for (int k = 0; k < N_KEYS; k++) {
			bool any_committed = false;
			uint64_t id = 0;
			int rc = lsm_catalog_series_id(s->c, s->db, keys[k], strlen(keys[k]), &id);

			for (int w = 0; w < N_WRITERS; w++)
				any_committed |= s->committed[w][k];
			/* A key committed by anyone is there; one only ever dropped may be missing. */
			if (any_committed)
				assert_int_equal(rc, 0);
			if (rc != 0)
				continue;
			/* Every writer that kept it, and every reader, had this same id. */
			for (int w = 0; w < N_WRITERS; w++)
				if (s->committed[w][k])
					assert_true(s->ids[w][k] == id);
			for (int r = 0; r < N_READERS; r++)
				if (s->seen[r][k])
					assert_true(s->seen[r][k] == id);
			if (pass == 0)
				final[k] = id;
			else
				assert_true(final[k] == id); /* stable across reopen */
			sorted_ids[n_final++] = id;
		}
		/* Distinct keys, distinct ids. */
		qsort(sorted_ids, n_final, sizeof(*sorted_ids), cmp_u64);
		for (size_t i = 1; i < n_final; i++)
			assert_true(sorted_ids[i - 1] != sorted_ids[i]);
		assert_int_equal(lsm_catalog_series_count(s->c), n_final);

		/* Fields: one id per name, the same for every writer. */
		for (int fi = 0; fi < N_FIELDS; fi++) {
			char name[16];
			uint32_t id;
			enum lsm_field_type type;
			bool any = false;

			snprintf(name, sizeof name, "f%d", fi);
			for (int w = 0; w < N_WRITERS; w++)
				any |= s->field_ids[w][fi] != 0;
			if (!any)
				continue;
			if (lsm_catalog_field(s->c, s->db, "cpu", 3, name, strlen(name), &id, &type) != 0)
				continue; /* registered only in dropped transactions */
			assert_int_equal(type, field_type(fi));
			for (int w = 0; w < N_WRITERS; w++)
				if (s->field_ids[w][fi])
					assert_int_equal(s->field_ids[w][fi], id);
		}
		/* Conflicting fields: one type, and whoever won it has its id. */
		for (int ci = 0; ci < N_CONFLICT; ci++) {
			char name[16];
			uint32_t id;
			enum lsm_field_type type;

			snprintf(name, sizeof name, "c%d", ci);
			if (lsm_catalog_field(s->c, s->db, "cpu", 3, name, strlen(name), &id, &type) != 0)
				continue;
			for (int w = 0; w < N_WRITERS; w++) {
				if (s->conflict_won[w][ci] && s->conflict_seen[w][ci] == type)
					assert_int_equal(s->conflict_ids[w][ci], id);
			}
		}
		if (pass == 0) {
			lsm_catalog_close(s->c);
			s->c = NULL;
			assert_int_equal(lsm_catalog_open(&s->c, dir), 0);
		}
	}
	lsm_catalog_close(s->c);
	test_remove_tree(dir);
	free(final);
	free(sorted_ids);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catalog_concurrent_transactions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
