/*
 * test_catalog.c — the series catalog (lsm/catalog.h): databases, series
 * ids (unique, stable across reopen, apart under forced hash collisions),
 * postings, tag and measurement lists, field types, transactions and their
 * durability, recovery (torn tail trimmed, damage in the middle reported),
 * injected write and sync failures, key validation and escapes, and the
 * series limit.
 */
#include "lsm/catalog.h"
#include "lsm/catalog_format.h"
#include "lsm/catalog_int.h"
#include "lsm/coding.h"
#include "lsm/fault.h"
#include "lsm/record.h"
#include "lsm/status.h"
#include "tests/util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

struct fx {
	char dir[64];
	char path[128];
	lsm_catalog *c;
	uint32_t db;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || test_make_temp_dir(f->dir, sizeof f->dir) != 0)
		return -1;
	snprintf(f->path, sizeof f->path, "%s/%s", f->dir, LSM_CATALOG_FILE);
	if (lsm_catalog_open(&f->c, f->dir) != 0)
		return -1;
	if (lsm_catalog_create_database(f->c, "db") != 0 || lsm_catalog_database_id(f->c, "db", &f->db) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	lsm_fault_reset();
	lsm_catalog_test_set_hash(NULL);
	lsm_catalog_close(f->c);
	test_remove_tree(f->dir);
	free(f);
	return 0;
}

static void reopen(struct fx *f)
{
	lsm_catalog_close(f->c);
	f->c = NULL;
	assert_int_equal(lsm_catalog_open(&f->c, f->dir), 0);
}

/* Registers keys in one transaction and commits; ids into out. */
static void add_series(struct fx *f, uint32_t db, const char *const *keys, size_t n, uint64_t *out)
{
	lsm_catalog_txn *t;

	assert_int_equal(lsm_catalog_txn_new(&t, f->c), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(lsm_catalog_txn_series(t, db, keys[i], strlen(keys[i]), &out[i]), 0);
	assert_int_equal(lsm_catalog_txn_commit(t), 0);
	lsm_catalog_txn_free(t);
}

static uint64_t add_one(struct fx *f, const char *key)
{
	uint64_t id = 0;

	add_series(f, f->db, &key, 1, &id);
	return id;
}

static uint64_t id_of(struct fx *f, uint32_t db, const char *key)
{
	uint64_t id = 0;

	assert_int_equal(lsm_catalog_series_id(f->c, db, key, strlen(key), &id), 0);
	return id;
}

static bool has_series(struct fx *f, uint32_t db, const char *key)
{
	uint64_t id;
	int rc = lsm_catalog_series_id(f->c, db, key, strlen(key), &id);

	assert_true(rc == 0 || rc == STRATA_ENOTFOUND);
	return rc == 0;
}

static void assert_names(char **names, size_t n, const char *const *want, size_t n_want)
{
	assert_int_equal(n, n_want);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(names[i], want[i]);
}

static void assert_ids(const uint64_t *ids, size_t n, const uint64_t *want, size_t n_want)
{
	assert_int_equal(n, n_want);
	for (size_t i = 0; i < n; i++)
		assert_true(ids[i] == want[i]);
}

/* ---- databases ---- */

static void test_catalog_databases(void **state)
{
	struct fx *f = *state;
	static const char *const want1[] = { "alpha", "db", "zeta" };
	static const char *const want2[] = { "alpha", "db", "zeta" };
	char long_name[LSM_CATALOG_NAME_MAX + 2];
	uint32_t a, z, a2, z2, x;
	char **names;
	size_t n;

	assert_int_equal(lsm_catalog_create_database(f->c, "zeta"), 0);
	assert_int_equal(lsm_catalog_create_database(f->c, "alpha"), 0);
	assert_int_equal(lsm_catalog_create_database(f->c, "alpha"), 0); /* exists: no-op */
	assert_int_equal(lsm_catalog_database_id(f->c, "alpha", &a), 0);
	assert_int_equal(lsm_catalog_database_id(f->c, "zeta", &z), 0);
	assert_true(a != z && a != f->db && z != f->db);
	assert_int_equal(lsm_catalog_databases(f->c, &names, &n), 0);
	assert_names(names, n, want1, 3);
	lsm_catalog_free_names(names, n);

	/* Bad names. */
	memset(long_name, 'x', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = 0;
	assert_int_equal(lsm_catalog_create_database(f->c, ""), STRATA_EINVAL);
	assert_int_equal(lsm_catalog_create_database(f->c, long_name), STRATA_EINVAL);
	assert_int_equal(lsm_catalog_create_database(f->c, "a/b"), STRATA_EINVAL);
	assert_int_equal(lsm_catalog_create_database(f->c, "a\nb"), STRATA_EINVAL);
	assert_int_equal(lsm_catalog_create_database(f->c, ".."), STRATA_EINVAL);
	assert_int_equal(lsm_catalog_database_id(f->c, "nope", &x), STRATA_ENOTFOUND);

	/* Drop, then create again: a new id. */
	assert_int_equal(lsm_catalog_drop_database(f->c, "zeta"), 0);
	assert_int_equal(lsm_catalog_drop_database(f->c, "zeta"), STRATA_ENOTFOUND);
	assert_int_equal(lsm_catalog_database_id(f->c, "zeta", &x), STRATA_ENOTFOUND);
	assert_int_equal(lsm_catalog_databases(f->c, &names, &n), 0);
	assert_int_equal(n, 2);
	lsm_catalog_free_names(names, n);
	assert_int_equal(lsm_catalog_create_database(f->c, "zeta"), 0);
	assert_int_equal(lsm_catalog_database_id(f->c, "zeta", &z2), 0);
	assert_true(z2 != z);

	reopen(f);
	assert_int_equal(lsm_catalog_database_id(f->c, "alpha", &a2), 0);
	assert_int_equal(a2, a);
	assert_int_equal(lsm_catalog_database_id(f->c, "zeta", &x), 0);
	assert_int_equal(x, z2);
	assert_int_equal(lsm_catalog_databases(f->c, &names, &n), 0);
	assert_names(names, n, want2, 3);
	lsm_catalog_free_names(names, n);
	/* Ids continue after the largest seen. */
	assert_int_equal(lsm_catalog_create_database(f->c, "new"), 0);
	assert_int_equal(lsm_catalog_database_id(f->c, "new", &x), 0);
	assert_true(x > z2);
}

/* ---- series ---- */

static void test_catalog_series_ids_unique_and_stable(void **state)
{
	struct fx *f = *state;
	enum { N = 2000 };
	char (*keys)[64] = calloc(N, 64);
	const char **kp = calloc(N, sizeof(*kp));
	uint64_t *ids = calloc(N, sizeof(*ids)), id, next;
	char buf[128];
	long len;

	assert_non_null(keys);
	assert_non_null(kp);
	assert_non_null(ids);
	for (int i = 0; i < N; i++) {
		snprintf(keys[i], 64, "cpu,host=h%d,region=r%d", i, i % 7);
		kp[i] = keys[i];
	}
	add_series(f, f->db, kp, N, ids);
	for (int i = 0; i < N; i++) {
		assert_true(ids[i] > 0);
		for (int j = i + 1; j < N && j < i + 50; j++)
			assert_true(ids[i] != ids[j]);
		if (i > 0)
			assert_true(ids[i] > ids[i - 1]); /* handed out in sequence */
	}
	assert_int_equal(lsm_catalog_series_count(f->c), N);
	/* Known keys get the same id again, in a new transaction. */
	{
		uint64_t again[10];

		add_series(f, f->db, kp, 10, again);
		for (int i = 0; i < 10; i++)
			assert_true(again[i] == ids[i]);
	}
	for (int i = 0; i < N; i += 97)
		assert_true(id_of(f, f->db, keys[i]) == ids[i]);

	reopen(f);
	assert_int_equal(lsm_catalog_series_count(f->c), N);
	for (int i = 0; i < N; i++) {
		assert_true(id_of(f, f->db, keys[i]) == ids[i]);
		len = lsm_catalog_series_key(f->c, ids[i], buf, sizeof buf);
		assert_int_equal(len, (long)strlen(keys[i]));
		assert_memory_equal(buf, keys[i], (size_t)len);
	}
	assert_int_equal(lsm_catalog_series_key(f->c, ids[0], buf, 3), STRATA_ETOOBIG);
	assert_int_equal(lsm_catalog_series_key(f->c, ids[N - 1] + 1000, buf, sizeof buf), STRATA_ENOTFOUND);
	assert_int_equal(lsm_catalog_series_key(f->c, 0, buf, sizeof buf), STRATA_ENOTFOUND);
	next = add_one(f, "cpu,host=new");
	assert_true(next > ids[N - 1]);
	assert_int_equal(lsm_catalog_series_id(f->c, f->db, "cpu,host=none", 13, &id), STRATA_ENOTFOUND);
	assert_int_equal(lsm_catalog_series_id(f->c, 999, "cpu", 3, &id), STRATA_ENOTFOUND);
	free(keys);
	free(kp);
	free(ids);
}

static uint64_t const_hash(const void *p, size_t len)
{
	(void)p;
	(void)len;
	return 42;
}

static void test_catalog_hash_collision_keeps_series_apart(void **state)
{
	struct fx *f = *state;
	enum { N = 300 };
	char keys[N][40];
	const char *kp[N];
	uint64_t ids[N], *list;
	size_t n;

	/* Every key and name hashes to 42 from now on, in a fresh catalog. */
	lsm_catalog_close(f->c);
	f->c = NULL;
	test_remove_tree(f->dir);
	assert_int_equal(mkdir(f->dir, 0755), 0);
	lsm_catalog_test_set_hash(const_hash);
	assert_int_equal(lsm_catalog_open(&f->c, f->dir), 0);
	assert_int_equal(lsm_catalog_create_database(f->c, "db"), 0);
	assert_int_equal(lsm_catalog_database_id(f->c, "db", &f->db), 0);
	for (int i = 0; i < N; i++) {
		snprintf(keys[i], sizeof keys[i], "m%d,k=v%d", i % 3, i);
		kp[i] = keys[i];
	}
	add_series(f, f->db, kp, N, ids);
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			assert_true(ids[i] != ids[j]);
	for (int i = 0; i < N; i++)
		assert_true(id_of(f, f->db, keys[i]) == ids[i]);
	assert_false(has_series(f, f->db, "m0,k=v1")); /* v1 is in m1 */
	assert_false(has_series(f, f->db, "m0,k=v"));
	/* Postings are right too, though every name collides. */
	assert_int_equal(lsm_catalog_tag_series(f->c, f->db, "m1", 2, "k", 1, "v4", 2, &list, &n), 0);
	assert_ids(list, n, &ids[4], 1);
	free(list);
	assert_int_equal(lsm_catalog_measurement_series(f->c, f->db, "m2", 2, &list, &n), 0);
	assert_int_equal(n, N / 3);
	free(list);
	reopen(f);
	for (int i = 0; i < N; i++)
		assert_true(id_of(f, f->db, keys[i]) == ids[i]);
}

static void test_catalog_postings(void **state)
{
	struct fx *f = *state;
	static const char *const keys[] = {
		"cpu,host=a,region=us", "cpu,host=b,region=us", "cpu,host=a,region=eu", "mem,host=a", "cpu",
	};
	static const char *const meas[] = { "cpu", "mem" };
	static const char *const tkeys[] = { "host", "region" };
	static const char *const hosts[] = { "a", "b" };
	uint64_t ids[5], *list;
	char **names;
	size_t n;
	uint32_t other;

	add_series(f, f->db, keys, 5, ids);
	assert_int_equal(lsm_catalog_measurement_series(f->c, f->db, "cpu", 3, &list, &n), 0);
	assert_ids(list, n, (uint64_t[]){ ids[0], ids[1], ids[2], ids[4] }, 4);
	free(list);
	assert_int_equal(lsm_catalog_tag_series(f->c, f->db, "cpu", 3, "host", 4, "a", 1, &list, &n), 0);
	assert_ids(list, n, (uint64_t[]){ ids[0], ids[2] }, 2);
	free(list);
	assert_int_equal(lsm_catalog_tag_series(f->c, f->db, "cpu", 3, "region", 6, "us", 2, &list, &n), 0);
	assert_ids(list, n, (uint64_t[]){ ids[0], ids[1] }, 2);
	free(list);
	assert_int_equal(lsm_catalog_tag_series(f->c, f->db, "mem", 3, "host", 4, "a", 1, &list, &n), 0);
	assert_ids(list, n, &ids[3], 1);
	free(list);
	/* Unknown: empty. */
	assert_int_equal(lsm_catalog_tag_series(f->c, f->db, "cpu", 3, "host", 4, "zz", 2, &list, &n), 0);
	assert_int_equal(n, 0);
	assert_null(list);
	assert_int_equal(lsm_catalog_tag_series(f->c, f->db, "disk", 4, "host", 4, "a", 1, &list, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(lsm_catalog_measurement_series(f->c, f->db, "disk", 4, &list, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(lsm_catalog_measurement_series(f->c, 777, "cpu", 3, &list, &n), STRATA_ENOTFOUND);

	assert_int_equal(lsm_catalog_measurements(f->c, f->db, &names, &n), 0);
	assert_names(names, n, meas, 2);
	lsm_catalog_free_names(names, n);
	assert_int_equal(lsm_catalog_tag_keys(f->c, f->db, "cpu", 3, &names, &n), 0);
	assert_names(names, n, tkeys, 2);
	lsm_catalog_free_names(names, n);
	assert_int_equal(lsm_catalog_tag_values(f->c, f->db, "cpu", 3, "host", 4, &names, &n), 0);
	assert_names(names, n, hosts, 2);
	lsm_catalog_free_names(names, n);
	assert_int_equal(lsm_catalog_tag_values(f->c, f->db, "cpu", 3, "nope", 4, &names, &n), 0);
	assert_int_equal(n, 0);

	/* Databases are separate: the same key elsewhere is another series. */
	assert_int_equal(lsm_catalog_create_database(f->c, "other"), 0);
	assert_int_equal(lsm_catalog_database_id(f->c, "other", &other), 0);
	{
		uint64_t oid;

		add_series(f, other, keys, 1, &oid);
		assert_true(oid != ids[0]);
		assert_int_equal(lsm_catalog_measurement_series(f->c, other, "cpu", 3, &list, &n), 0);
		assert_ids(list, n, &oid, 1);
		free(list);
	}
	assert_int_equal(lsm_catalog_series_count(f->c), 6);

	/* The same after a replay. */
	reopen(f);
	assert_int_equal(lsm_catalog_tag_series(f->c, f->db, "cpu", 3, "host", 4, "a", 1, &list, &n), 0);
	assert_ids(list, n, (uint64_t[]){ ids[0], ids[2] }, 2);
	free(list);
	assert_int_equal(lsm_catalog_tag_values(f->c, f->db, "cpu", 3, "host", 4, &names, &n), 0);
	assert_names(names, n, hosts, 2);
	lsm_catalog_free_names(names, n);
}

static void test_catalog_postings_sorted_when_published_out_of_order(void **state)
{
	struct fx *f = *state;
	lsm_catalog_txn *t1, *t2;
	uint64_t a, b, *list;
	size_t n;

	assert_int_equal(lsm_catalog_txn_new(&t1, f->c), 0);
	assert_int_equal(lsm_catalog_txn_new(&t2, f->c), 0);
	assert_int_equal(lsm_catalog_txn_series(t1, f->db, "cpu,host=a", 10, &a), 0);
	assert_int_equal(lsm_catalog_txn_series(t2, f->db, "cpu,host=b", 10, &b), 0);
	assert_true(a < b);
	assert_int_equal(lsm_catalog_txn_commit(t2), 0); /* the larger id first */
	assert_int_equal(lsm_catalog_txn_commit(t1), 0);
	assert_int_equal(lsm_catalog_measurement_series(f->c, f->db, "cpu", 3, &list, &n), 0);
	assert_ids(list, n, (uint64_t[]){ a, b }, 2);
	free(list);
	lsm_catalog_txn_free(t1);
	lsm_catalog_txn_free(t2);
	reopen(f);
	assert_int_equal(lsm_catalog_measurement_series(f->c, f->db, "cpu", 3, &list, &n), 0);
	assert_ids(list, n, (uint64_t[]){ a, b }, 2);
	free(list);
}

/* ---- keys ---- */

static void test_catalog_non_canonical_keys(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
		"cpu,region=us,host=a", /* unsorted */
		"cpu,host=a,host=b",    /* duplicate key */
		"cpu,host=",            /* empty value */
		"cpu,host=a,region=",   /* empty value, last */
		"cpu,=a",               /* empty key */
		"cpu,host",             /* no '=' */
		"cpu,host,x=y",         /* no '=' before a comma */
		"cpu,",                 /* trailing comma */
		",host=a",              /* empty measurement */
		"cpu host=a",           /* unescaped space */
		"cpu,host=a b",
		"cpu,ho st=a",
		"cpu,b=1,a\\ =2",       /* "a " < "b": unsorted */
	};
	lsm_catalog_txn *t;
	char *huge;
	uint64_t id;

	assert_int_equal(lsm_catalog_txn_new(&t, f->c), 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		strata_error_clear();
		assert_int_equal(lsm_catalog_txn_series(t, f->db, bad[i], strlen(bad[i]), &id), STRATA_EINVAL);
		assert_non_null(strstr(strata_last_error(), "series key"));
	}
	assert_int_equal(lsm_catalog_txn_series(t, f->db, "", 0, &id), STRATA_EINVAL);
	/* Too long. */
	huge = malloc(LSM_CATALOG_KEY_MAX + 2);
	assert_non_null(huge);
	memset(huge, 'm', LSM_CATALOG_KEY_MAX + 1);
	assert_int_equal(lsm_catalog_txn_series(t, f->db, huge, LSM_CATALOG_KEY_MAX + 1, &id), STRATA_ETOOBIG);
	/* A measurement over the name limit. */
	assert_int_equal(lsm_catalog_txn_series(t, f->db, huge, LSM_CATALOG_NAME_MAX + 1, &id), STRATA_ETOOBIG);
	free(huge);
	/* Unknown database. */
	assert_int_equal(lsm_catalog_txn_series(t, 999, "cpu", 3, &id), STRATA_ENOTFOUND);
	/* Nothing was reserved or written. */
	assert_int_equal(lsm_catalog_txn_commit(t), 0);
	lsm_catalog_txn_free(t);
	assert_int_equal(lsm_catalog_series_count(f->c), 0);
	assert_int_equal(test_file_size(f->path), LSM_RECORD_HEADER_LEN + LSM_FILE_HEADER_PAYLOAD_LEN +
			 /* the database record of setup */ LSM_RECORD_HEADER_LEN + 1 + 1 + 2);
}

static void test_catalog_escapes_in_keys(void **state)
{
	struct fx *f = *state;
	static const char *const keys[] = {
		"cpu\\,x,host=a\\ b",
		"cpu\\,x,host=c\\,d,k\\=1=v\\=2",
		"w\\ x\\\\y,t\\\\=a\\b",   /* measurement "w x\y", tag "t\" = "a\b" (\b is no escape) */
		"m=1,a=b=c",               /* '=' needs no escape in a measurement; one in a value is kept */
	};
	static const char *const meas[] = { "cpu,x", "m=1", "w x\\y" };
	static const char *const hosts[] = { "a b", "c,d" };
	uint64_t ids[4], *list;
	char **names;
	size_t n;

	add_series(f, f->db, keys, 4, ids);
	assert_int_equal(lsm_catalog_measurements(f->c, f->db, &names, &n), 0);
	assert_names(names, n, meas, 3);
	lsm_catalog_free_names(names, n);
	assert_int_equal(lsm_catalog_tag_values(f->c, f->db, "cpu,x", 5, "host", 4, &names, &n), 0);
	assert_names(names, n, hosts, 2);
	lsm_catalog_free_names(names, n);
	assert_int_equal(lsm_catalog_tag_series(f->c, f->db, "cpu,x", 5, "host", 4, "a b", 3, &list, &n), 0);
	assert_ids(list, n, &ids[0], 1);
	free(list);
	assert_int_equal(lsm_catalog_tag_series(f->c, f->db, "cpu,x", 5, "k=1", 3, "v=2", 3, &list, &n), 0);
	assert_ids(list, n, &ids[1], 1);
	free(list);
	assert_int_equal(lsm_catalog_tag_series(f->c, f->db, "w x\\y", 5, "t\\", 2, "a\\b", 3, &list, &n), 0);
	assert_ids(list, n, &ids[2], 1);
	free(list);
	assert_int_equal(lsm_catalog_tag_series(f->c, f->db, "m=1", 3, "a", 1, "b=c", 3, &list, &n), 0);
	assert_ids(list, n, &ids[3], 1);
	free(list);
	/* The escaped form is the identity. */
	assert_true(id_of(f, f->db, keys[0]) == ids[0]);
	assert_false(has_series(f, f->db, "cpu,x,host=a b"));
}

/* ---- fields ---- */

static void test_catalog_field_types(void **state)
{
	struct fx *f = *state;
	lsm_catalog_txn *t;
	uint32_t id1, id2, id3, id, other;
	enum lsm_field_type type;
	lsm_field_info *fields;
	size_t n;

	assert_int_equal(lsm_catalog_txn_new(&t, f->c), 0);
	assert_int_equal(lsm_catalog_txn_field(t, f->db, "cpu", 3, "usage", 5, LSM_FIELD_FLOAT, &id1, &type), 0);
	assert_int_equal(id1, 1);
	assert_int_equal(lsm_catalog_txn_field(t, f->db, "cpu", 3, "count", 5, LSM_FIELD_INT, &id2, &type), 0);
	assert_int_equal(id2, 2);
	assert_int_equal(lsm_catalog_txn_field(t, f->db, "cpu", 3, "usage", 5, LSM_FIELD_FLOAT, &id, &type), 0);
	assert_int_equal(id, id1);
	/* A conflict inside one transaction. */
	type = 0;
	assert_int_equal(lsm_catalog_txn_field(t, f->db, "cpu", 3, "usage", 5, LSM_FIELD_STRING, &id, &type), STRATA_ETYPE);
	assert_int_equal(type, LSM_FIELD_FLOAT);
	assert_non_null(strstr(strata_last_error(), "float"));
	/* Another measurement may use the name with another type. */
	assert_int_equal(lsm_catalog_txn_field(t, f->db, "mem", 3, "usage", 5, LSM_FIELD_UINT, &id3, &type), 0);
	assert_int_equal(id3, 3);
	/* Not visible before commit. */
	assert_int_equal(lsm_catalog_field(f->c, f->db, "cpu", 3, "usage", 5, &id, &type), STRATA_ENOTFOUND);
	assert_int_equal(lsm_catalog_txn_commit(t), 0);
	lsm_catalog_txn_free(t);

	assert_int_equal(lsm_catalog_field(f->c, f->db, "cpu", 3, "usage", 5, &id, &type), 0);
	assert_int_equal(id, id1);
	assert_int_equal(type, LSM_FIELD_FLOAT);
	/* A conflict against a published field. */
	assert_int_equal(lsm_catalog_txn_new(&t, f->c), 0);
	assert_int_equal(lsm_catalog_txn_field(t, f->db, "cpu", 3, "count", 5, LSM_FIELD_BOOL, &id, &type), STRATA_ETYPE);
	assert_int_equal(type, LSM_FIELD_INT);
	/* Bad arguments. */
	assert_int_equal(lsm_catalog_txn_field(t, f->db, "", 0, "x", 1, LSM_FIELD_INT, &id, &type), STRATA_EINVAL);
	assert_int_equal(lsm_catalog_txn_field(t, f->db, "cpu", 3, "", 0, LSM_FIELD_INT, &id, &type), STRATA_EINVAL);
	assert_int_equal(lsm_catalog_txn_field(t, f->db, "cpu", 3, "x", 1, (enum lsm_field_type)0, &id, &type), STRATA_EINVAL);
	assert_int_equal(lsm_catalog_txn_field(t, f->db, "cpu", 3, "x", 1, (enum lsm_field_type)6, &id, &type), STRATA_EINVAL);
	assert_int_equal(lsm_catalog_txn_field(t, 999, "cpu", 3, "x", 1, LSM_FIELD_INT, &id, &type), STRATA_ENOTFOUND);
	lsm_catalog_txn_free(t);

	assert_int_equal(lsm_catalog_fields(f->c, f->db, "cpu", 3, &fields, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(fields[0].name, "count");
	assert_int_equal(fields[0].id, id2);
	assert_int_equal(fields[0].type, LSM_FIELD_INT);
	assert_string_equal(fields[1].name, "usage");
	assert_int_equal(fields[1].type, LSM_FIELD_FLOAT);
	lsm_catalog_free_fields(fields, n);

	/* Field ids are per database. */
	assert_int_equal(lsm_catalog_create_database(f->c, "other"), 0);
	assert_int_equal(lsm_catalog_database_id(f->c, "other", &other), 0);
	assert_int_equal(lsm_catalog_txn_new(&t, f->c), 0);
	assert_int_equal(lsm_catalog_txn_field(t, other, "cpu", 3, "usage", 5, LSM_FIELD_STRING, &id, &type), 0);
	assert_int_equal(id, 1);
	assert_int_equal(lsm_catalog_txn_commit(t), 0);
	lsm_catalog_txn_free(t);

	reopen(f);
	assert_int_equal(lsm_catalog_field(f->c, f->db, "mem", 3, "usage", 5, &id, &type), 0);
	assert_int_equal(id, id3);
	assert_int_equal(type, LSM_FIELD_UINT);
	assert_int_equal(lsm_catalog_field(f->c, other, "cpu", 3, "usage", 5, &id, &type), 0);
	assert_int_equal(type, LSM_FIELD_STRING);
	assert_int_equal(lsm_catalog_txn_new(&t, f->c), 0);
	assert_int_equal(lsm_catalog_txn_field(t, f->db, "cpu", 3, "usage", 5, LSM_FIELD_INT, &id, &type), STRATA_ETYPE);
	assert_int_equal(type, LSM_FIELD_FLOAT);
	/* Ids continue after the largest seen. */
	assert_int_equal(lsm_catalog_txn_field(t, f->db, "cpu", 3, "new", 3, LSM_FIELD_INT, &id, &type), 0);
	assert_int_equal(id, 4);
	lsm_catalog_txn_free(t);
}

static void test_catalog_field_conflict_across_transactions(void **state)
{
	struct fx *f = *state;
	lsm_catalog_txn *t1, *t2;
	enum lsm_field_type type;
	uint32_t a, b;

	assert_int_equal(lsm_catalog_txn_new(&t1, f->c), 0);
	assert_int_equal(lsm_catalog_txn_new(&t2, f->c), 0);
	assert_int_equal(lsm_catalog_txn_field(t1, f->db, "cpu", 3, "x", 1, LSM_FIELD_INT, &a, &type), 0);
	/* Pending in t1: t2 gets the same id for the same type, a conflict for another. */
	assert_int_equal(lsm_catalog_txn_field(t2, f->db, "cpu", 3, "x", 1, LSM_FIELD_INT, &b, &type), 0);
	assert_int_equal(a, b);
	assert_int_equal(lsm_catalog_txn_field(t2, f->db, "cpu", 3, "x", 1, LSM_FIELD_FLOAT, &b, &type), STRATA_ETYPE);
	assert_int_equal(type, LSM_FIELD_INT);
	assert_int_equal(lsm_catalog_txn_commit(t1), 0);
	assert_int_equal(lsm_catalog_txn_commit(t2), 0);
	lsm_catalog_txn_free(t1);
	lsm_catalog_txn_free(t2);
	reopen(f);
	assert_int_equal(lsm_catalog_field(f->c, f->db, "cpu", 3, "x", 1, &b, &type), 0);
	assert_int_equal(b, a);
}

/* ---- transactions and durability ---- */

static void test_catalog_txn_commit_durability(void **state)
{
	struct fx *f = *state;
	lsm_catalog_txn *t;
	uint64_t a, b, c2, again;
	uint32_t fid;
	enum lsm_field_type type;
	long long size;

	assert_int_equal(lsm_catalog_txn_new(&t, f->c), 0);
	assert_int_equal(lsm_catalog_txn_series(t, f->db, "cpu,host=a", 10, &a), 0);
	assert_int_equal(lsm_catalog_txn_series(t, f->db, "cpu,host=a", 10, &again), 0);
	assert_true(a == again);
	assert_int_equal(lsm_catalog_txn_field(t, f->db, "cpu", 3, "v", 1, LSM_FIELD_FLOAT, &fid, &type), 0);
	/* Not visible before commit. */
	assert_false(has_series(f, f->db, "cpu,host=a"));
	assert_int_equal(lsm_catalog_txn_commit(t), 0);
	assert_true(id_of(f, f->db, "cpu,host=a") == a);
	/* A commit with nothing new writes nothing. */
	size = test_file_size(f->path);
	lsm_catalog_txn_reset(t);
	assert_int_equal(lsm_catalog_txn_series(t, f->db, "cpu,host=a", 10, &again), 0);
	assert_true(again == a);
	assert_int_equal(lsm_catalog_txn_commit(t), 0);
	assert_int_equal(test_file_size(f->path), size);
	/* Reserved, then dropped without commit. */
	lsm_catalog_txn_reset(t);
	assert_int_equal(lsm_catalog_txn_series(t, f->db, "cpu,host=b", 10, &b), 0);
	assert_int_equal(lsm_catalog_txn_field(t, f->db, "cpu", 3, "w", 1, LSM_FIELD_INT, &fid, &type), 0);
	lsm_catalog_txn_free(t);
	assert_int_equal(test_file_size(f->path), size);
	assert_false(has_series(f, f->db, "cpu,host=b"));

	reopen(f);
	assert_true(id_of(f, f->db, "cpu,host=a") == a);
	assert_false(has_series(f, f->db, "cpu,host=b"));
	assert_int_equal(lsm_catalog_field(f->c, f->db, "cpu", 3, "v", 1, &fid, &type), 0);
	assert_int_equal(lsm_catalog_field(f->c, f->db, "cpu", 3, "w", 1, &fid, &type), STRATA_ENOTFOUND);
	c2 = add_one(f, "cpu,host=c");
	assert_true(c2 > a);
}

static void test_catalog_shared_reservation(void **state)
{
	struct fx *f = *state;
	lsm_catalog_txn *t1, *t2;
	uint64_t a, b;
	long long size;

	/* Two transactions meet one new key: one id; the first is dropped, the second commits. */
	assert_int_equal(lsm_catalog_txn_new(&t1, f->c), 0);
	assert_int_equal(lsm_catalog_txn_new(&t2, f->c), 0);
	assert_int_equal(lsm_catalog_txn_series(t1, f->db, "cpu,host=a", 10, &a), 0);
	assert_int_equal(lsm_catalog_txn_series(t2, f->db, "cpu,host=a", 10, &b), 0);
	assert_true(a == b);
	lsm_catalog_txn_reset(t1);
	assert_int_equal(lsm_catalog_txn_commit(t2), 0);
	assert_true(id_of(f, f->db, "cpu,host=a") == a);

	/* Both commit: the record is written once. */
	lsm_catalog_txn_reset(t2);
	assert_int_equal(lsm_catalog_txn_series(t1, f->db, "cpu,host=b", 10, &a), 0);
	assert_int_equal(lsm_catalog_txn_series(t2, f->db, "cpu,host=b", 10, &b), 0);
	assert_true(a == b);
	assert_int_equal(lsm_catalog_txn_commit(t1), 0);
	size = test_file_size(f->path);
	assert_int_equal(lsm_catalog_txn_commit(t2), 0);
	assert_int_equal(test_file_size(f->path), size);
	lsm_catalog_txn_free(t1);
	lsm_catalog_txn_free(t2);
	reopen(f);
	assert_true(id_of(f, f->db, "cpu,host=b") == a);
	assert_int_equal(lsm_catalog_series_count(f->c), 2);
}

static void test_catalog_dropped_database_series(void **state)
{
	struct fx *f = *state;
	lsm_catalog_txn *t;
	uint64_t a, b, *list;
	uint32_t db2;
	char buf[64];
	size_t n;

	a = add_one(f, "cpu,host=a");
	assert_int_equal(lsm_catalog_create_database(f->c, "two"), 0);
	assert_int_equal(lsm_catalog_database_id(f->c, "two", &db2), 0);
	{
		const char *k = "cpu,host=a";

		add_series(f, db2, &k, 1, &b);
	}
	assert_int_equal(lsm_catalog_series_count(f->c), 2);
	/* A transaction holding a new series of a database dropped before it commits. */
	assert_int_equal(lsm_catalog_txn_new(&t, f->c), 0);
	assert_int_equal(lsm_catalog_txn_series(t, f->db, "cpu,host=z", 10, &b), 0);
	assert_int_equal(lsm_catalog_drop_database(f->c, "db"), 0);
	assert_int_equal(lsm_catalog_txn_commit(t), STRATA_ENOTFOUND);
	lsm_catalog_txn_free(t);
	assert_int_equal(lsm_catalog_series_count(f->c), 1);
	assert_int_equal(lsm_catalog_series_key(f->c, a, buf, sizeof buf), STRATA_ENOTFOUND);
	assert_int_equal(lsm_catalog_measurement_series(f->c, f->db, "cpu", 3, &list, &n), STRATA_ENOTFOUND);
	reopen(f);
	assert_int_equal(lsm_catalog_series_count(f->c), 1);
	assert_int_equal(lsm_catalog_series_key(f->c, a, buf, sizeof buf), STRATA_ENOTFOUND);
	assert_int_equal(lsm_catalog_measurement_series(f->c, db2, "cpu", 3, &list, &n), 0);
	assert_int_equal(n, 1);
	free(list);
	/* Ids are never reused, even those of a dropped database. */
	assert_int_equal(lsm_catalog_create_database(f->c, "db"), 0);
	assert_int_equal(lsm_catalog_database_id(f->c, "db", &f->db), 0);
	assert_true(add_one(f, "cpu,host=a") > a);
}

/* ---- recovery ---- */

static void append_bytes(const char *path, const void *p, size_t len)
{
	FILE *fp = fopen(path, "ab");

	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, len, fp), len);
	fclose(fp);
}

static void test_catalog_torn_tail_trimmed(void **state)
{
	struct fx *f = *state;
	uint64_t a, b, c2;
	long long before, full;
	uint8_t *image;
	int fd;

	a = add_one(f, "cpu,host=a");
	before = test_file_size(f->path);
	b = add_one(f, "cpu,host=b");
	full = test_file_size(f->path);
	lsm_catalog_close(f->c);
	f->c = NULL;
	/* Every cut inside the last record loses just that record. */
	image = malloc((size_t)full);
	assert_non_null(image);
	fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, image, (size_t)full, 0), (ssize_t)full);
	close(fd);
	for (long long cut = before + 1; cut < full; cut++) {
		fd = open(f->path, O_WRONLY | O_TRUNC);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, image, (size_t)cut), (ssize_t)cut);
		close(fd);
		strata_error_clear();
		assert_int_equal(lsm_catalog_open(&f->c, f->dir), 0);
		assert_int_equal(test_file_size(f->path), before); /* trimmed */
		assert_true(id_of(f, f->db, "cpu,host=a") == a);
		assert_false(has_series(f, f->db, "cpu,host=b"));
		lsm_catalog_close(f->c);
		f->c = NULL;
	}
	/* A last record whose payload is damaged is a tear too. */
	assert_int_equal(lsm_catalog_open(&f->c, f->dir), 0);
	b = add_one(f, "cpu,host=b");
	lsm_catalog_close(f->c);
	f->c = NULL;
	assert_int_equal(test_flip_byte(f->path, test_file_size(f->path) - 1, 0x01), 0);
	assert_int_equal(lsm_catalog_open(&f->c, f->dir), 0);
	assert_false(has_series(f, f->db, "cpu,host=b"));
	/* A zero-filled tail (space extended, never written) is cut as well. */
	lsm_catalog_close(f->c);
	f->c = NULL;
	{
		static const uint8_t zeros[100];

		append_bytes(f->path, zeros, sizeof zeros);
	}
	assert_int_equal(lsm_catalog_open(&f->c, f->dir), 0);
	assert_int_equal(test_file_size(f->path), before);
	/* Appends continue after valid data; a new id never repeats one handed out before the tear. */
	c2 = add_one(f, "cpu,host=c");
	assert_true(c2 > a);
	reopen(f);
	assert_true(id_of(f, f->db, "cpu,host=c") == c2);
	assert_true(id_of(f, f->db, "cpu,host=a") == a);
	free(image);
	(void)b;
}

static void test_catalog_middle_damage_is_corrupt(void **state)
{
	struct fx *f = *state;
	long long first, size;
	char msg[64];

	first = test_file_size(f->path);
	add_one(f, "cpu,host=a");
	add_one(f, "cpu,host=b");
	lsm_catalog_close(f->c);
	f->c = NULL;
	size = test_file_size(f->path);
	/* A flipped payload byte of the first series record: a checksum error with a record after it. */
	assert_int_equal(test_flip_byte(f->path, first + LSM_RECORD_HEADER_LEN + 2, 0x40), 0);
	assert_int_equal(lsm_catalog_open(&f->c, f->dir), STRATA_ECORRUPT);
	assert_null(f->c);
	snprintf(msg, sizeof msg, "offset %lld", first);
	assert_non_null(strstr(strata_last_error(), msg));
	/* The file is left as it was for inspection. */
	assert_int_equal(test_file_size(f->path), size);
	/* A damaged length claiming an extent past the end of the file is no tear either. */
	assert_int_equal(test_flip_byte(f->path, first + LSM_RECORD_HEADER_LEN + 2, 0x40), 0);
	assert_int_equal(test_flip_byte(f->path, first + 11, 0x80), 0);
	assert_int_equal(lsm_catalog_open(&f->c, f->dir), STRATA_ECORRUPT);
	assert_non_null(strstr(strata_last_error(), msg));
	assert_int_equal(test_file_size(f->path), size);
	assert_int_equal(test_flip_byte(f->path, first + 11, 0x80), 0);
	/* A zero header followed by records. */
	{
		uint8_t rec[LSM_RECORD_HEADER_LEN];
		int fd = open(f->path, O_RDWR);

		assert_true(fd >= 0);
		assert_int_equal(pread(fd, rec, sizeof rec, first), (ssize_t)sizeof rec);
		assert_int_equal(pwrite(fd, (uint8_t[LSM_RECORD_HEADER_LEN]){ 0 }, sizeof rec, first), (ssize_t)sizeof rec);
		assert_int_equal(lsm_catalog_open(&f->c, f->dir), STRATA_ECORRUPT);
		assert_int_equal(test_file_size(f->path), size);
		assert_int_equal(pwrite(fd, rec, sizeof rec, first), (ssize_t)sizeof rec);
		close(fd);
	}
	/* Repaired, then the header damaged instead. */
	assert_int_equal(test_flip_byte(f->path, 3, 0x01), 0);
	assert_int_equal(lsm_catalog_open(&f->c, f->dir), STRATA_ECORRUPT);
	assert_int_equal(test_flip_byte(f->path, 3, 0x01), 0);
	assert_int_equal(lsm_catalog_open(&f->c, f->dir), 0);
}

/* Writes a record with a valid checksum but bad contents at the end of the log. */
static void append_record(const char *path, uint8_t type, const uint8_t *payload, size_t len)
{
	uint8_t h[LSM_RECORD_HEADER_LEN];

	lsm_record_header(h, (enum lsm_record_type)type, payload, len);
	append_bytes(path, h, sizeof h);
	append_bytes(path, payload, len);
}

static void test_catalog_bad_record_contents_are_corrupt(void **state)
{
	struct fx *f = *state;
	static const uint8_t unsorted[] = { 1, 2, 11, 'c', 'p', 'u', ',', 'b', '=', '1', ',', 'a', '=', '2' };
	static const uint8_t unknown_db[] = { 9, 1, 3, 'c', 'p', 'u' };
	static const uint8_t trailing[] = { 1, 1, 3, 'c', 'p', 'u', 0 };
	static const uint8_t bad_type[] = { 1, 1, 9, 3, 'c', 'p', 'u', 1, 'v' };
	/* series id 2^40: far past every id before it */
	static const uint8_t far_id[] = { 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 3, 'c', 'p', 'u' };
	/* a series id used twice (id 1 is registered below, before each case) */
	static const uint8_t twice[] = { 1, 1, 3, 'm', 'e', 'm' };
	/* policies of database 1 with a store of their own (flag 8): id of the database, 0, none, or with INITIAL */
	static const uint8_t store_is_db[] = { 1, 8, 0, 0, 1, 1, 'x', 1 };
	static const uint8_t store_zero[] = { 1, 8, 0, 0, 1, 1, 'x', 0 };
	static const uint8_t store_missing[] = { 1, 8, 0, 0, 1, 1, 'x' };
	static const uint8_t store_initial[] = { 1, 12, 0, 0, 1, 1, 'x', 5 };
	static const uint8_t store_dropped[] = { 1, 10, 0, 0, 0, 1, 'x', 5 };
	/* a policy whose windows would be 1 ns long: out of 1h .. 8760h */
	static const uint8_t shard_tiny[] = { 1, 0, 0, 1, 1, 1, 'z' };
	const struct { uint8_t type; const uint8_t *p; size_t len; } cases[] = {
		{ LSM_CATREC_SERIES, unsorted, sizeof unsorted },
		{ LSM_CATREC_SERIES, unknown_db, sizeof unknown_db },
		{ LSM_CATREC_SERIES, trailing, sizeof trailing },
		{ LSM_CATREC_FIELD, bad_type, sizeof bad_type },
		{ LSM_CATREC_SERIES, far_id, sizeof far_id },
		{ LSM_CATREC_SERIES, twice, sizeof twice },
		{ LSM_CATREC_RP, store_is_db, sizeof store_is_db },
		{ LSM_CATREC_RP, store_zero, sizeof store_zero },
		{ LSM_CATREC_RP, store_missing, sizeof store_missing },
		{ LSM_CATREC_RP, store_initial, sizeof store_initial },
		{ LSM_CATREC_RP, store_dropped, sizeof store_dropped },
		{ LSM_CATREC_RP, shard_tiny, sizeof shard_tiny },
		{ 99, trailing, sizeof trailing },
	};
	long long size;

	assert_int_equal(add_one(f, "cpu"), 1);
	lsm_catalog_close(f->c);
	f->c = NULL;
	size = test_file_size(f->path);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(truncate(f->path, size), 0);
		append_record(f->path, cases[i].type, cases[i].p, cases[i].len);
		/* A whole record with a good checksum is never a tear, even at the end. */
		assert_int_equal(lsm_catalog_open(&f->c, f->dir), STRATA_ECORRUPT);
		assert_non_null(strstr(strata_last_error(), "offset"));
		assert_int_equal(test_file_size(f->path), size + LSM_RECORD_HEADER_LEN + (long long)cases[i].len);
	}
	/* A database record naming an id twice. */
	assert_int_equal(truncate(f->path, size), 0);
	{
		static const uint8_t again[] = { 1, 2, 'd', '2' };

		append_record(f->path, LSM_CATREC_DB_CREATE, again, sizeof again);
	}
	assert_int_equal(lsm_catalog_open(&f->c, f->dir), STRATA_ECORRUPT);
	/* A store id given twice: the second policy's record is damage. */
	assert_int_equal(truncate(f->path, size), 0);
	{
		static const uint8_t x[] = { 1, 8, 0, 0, 1, 1, 'x', 2 }, y[] = { 1, 8, 0, 0, 1, 1, 'y', 2 };
		uint32_t store = 0;

		append_record(f->path, LSM_CATREC_RP, x, sizeof x);
		assert_int_equal(lsm_catalog_open(&f->c, f->dir), 0);
		assert_int_equal(lsm_catalog_store(f->c, 1, "x", &store), 0);
		assert_int_equal(store, 2);
		lsm_catalog_close(f->c);
		f->c = NULL;
		append_record(f->path, LSM_CATREC_RP, y, sizeof y);
	}
	assert_int_equal(lsm_catalog_open(&f->c, f->dir), STRATA_ECORRUPT);
	assert_int_equal(truncate(f->path, size), 0);
	assert_int_equal(lsm_catalog_open(&f->c, f->dir), 0);
}

static void test_catalog_newer_version_refused(void **state)
{
	struct fx *f = *state;
	uint8_t rec[LSM_RECORD_HEADER_LEN + LSM_FILE_HEADER_PAYLOAD_LEN];
	int fd;

	lsm_catalog_close(f->c);
	f->c = NULL;
	lsm_record_file_header(rec + LSM_RECORD_HEADER_LEN, LSM_CATALOG_MAGIC, LSM_CATALOG_VERSION + 1, 0);
	lsm_record_header(rec, LSM_REC_FILE_HEADER, rec + LSM_RECORD_HEADER_LEN, LSM_FILE_HEADER_PAYLOAD_LEN);
	fd = open(f->path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, rec, sizeof rec, 0), (ssize_t)sizeof rec);
	close(fd);
	assert_int_equal(lsm_catalog_open(&f->c, f->dir), STRATA_EVERSION);
	/* The wrong magic. */
	lsm_record_file_header(rec + LSM_RECORD_HEADER_LEN, LSM_WAL_MAGIC, 1, 0);
	lsm_record_header(rec, LSM_REC_FILE_HEADER, rec + LSM_RECORD_HEADER_LEN, LSM_FILE_HEADER_PAYLOAD_LEN);
	fd = open(f->path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, rec, sizeof rec, 0), (ssize_t)sizeof rec);
	close(fd);
	assert_int_equal(lsm_catalog_open(&f->c, f->dir), STRATA_ECORRUPT);
}

static void run_fault(struct fx *f, enum lsm_fault_point point)
{
	lsm_catalog_txn *t;
	uint64_t a, b, id;
	uint32_t fid;
	enum lsm_field_type type;
	long long size;

	a = add_one(f, "cpu,host=a");
	size = test_file_size(f->path);
	assert_int_equal(lsm_catalog_txn_new(&t, f->c), 0);
	assert_int_equal(lsm_catalog_txn_series(t, f->db, "cpu,host=b", 10, &b), 0);
	assert_int_equal(lsm_catalog_txn_field(t, f->db, "cpu", 3, "v", 1, LSM_FIELD_INT, &fid, &type), 0);
	lsm_fault_arm(point, 0, EIO, false);
	assert_int_equal(lsm_catalog_txn_commit(t), -EIO);
	lsm_fault_reset();
	/* Nothing of it is published, and the file is back to its size. */
	assert_false(has_series(f, f->db, "cpu,host=b"));
	assert_int_equal(lsm_catalog_field(f->c, f->db, "cpu", 3, "v", 1, &fid, &type), STRATA_ENOTFOUND);
	assert_int_equal(test_file_size(f->path), size);
	/* Sticky: later changes fail, lookups still work. */
	assert_int_equal(lsm_catalog_txn_commit(t), STRATA_EREADONLY);
	lsm_catalog_txn_free(t);
	assert_int_equal(lsm_catalog_txn_new(&t, f->c), 0);
	assert_int_equal(lsm_catalog_txn_series(t, f->db, "cpu,host=c", 10, &id), 0);
	assert_int_equal(lsm_catalog_txn_commit(t), STRATA_EREADONLY);
	lsm_catalog_txn_free(t);
	assert_int_equal(lsm_catalog_create_database(f->c, "new"), STRATA_EREADONLY);
	assert_int_equal(lsm_catalog_drop_database(f->c, "db"), STRATA_EREADONLY);
	assert_true(id_of(f, f->db, "cpu,host=a") == a);
	/* A reopen recovers: the failed commit is not there, changes work again. */
	reopen(f);
	assert_false(has_series(f, f->db, "cpu,host=b"));
	assert_true(id_of(f, f->db, "cpu,host=a") == a);
	id = add_one(f, "cpu,host=b");
	assert_true(id != a);
}

static void test_catalog_fault_on_write(void **state)
{
	run_fault(*state, LSM_FAULT_CATALOG_WRITE);
}

static void test_catalog_fault_on_sync(void **state)
{
	run_fault(*state, LSM_FAULT_CATALOG_SYNC);
}

/* ---- limits ---- */

static void test_catalog_series_limit(void **state)
{
	struct fx *f = *state;
	lsm_catalog_txn *t1, *t2;
	uint64_t id;
	char key[32];

	lsm_catalog_set_max_series(f->c, 5);
	assert_int_equal(lsm_catalog_txn_new(&t1, f->c), 0);
	assert_int_equal(lsm_catalog_txn_new(&t2, f->c), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(key, sizeof key, "cpu,host=%d", i);
		assert_int_equal(lsm_catalog_txn_series(t1, f->db, key, strlen(key), &id), 0);
	}
	assert_int_equal(lsm_catalog_txn_commit(t1), 0);
	/* Reserved but uncommitted series count against the limit too. */
	for (int i = 3; i < 5; i++) {
		snprintf(key, sizeof key, "cpu,host=%d", i);
		assert_int_equal(lsm_catalog_txn_series(t2, f->db, key, strlen(key), &id), 0);
	}
	assert_int_equal(lsm_catalog_txn_series(t1, f->db, "cpu,host=x", 10, &id), STRATA_ETOOBIG);
	assert_non_null(strstr(strata_last_error(), "series limit"));
	/* Known and reserved series are still found. */
	assert_int_equal(lsm_catalog_txn_series(t1, f->db, "cpu,host=0", 10, &id), 0);
	assert_int_equal(lsm_catalog_txn_series(t1, f->db, "cpu,host=4", 10, &id), 0);
	/* Dropping the reservations makes room again. */
	lsm_catalog_txn_reset(t1);
	lsm_catalog_txn_reset(t2);
	assert_int_equal(lsm_catalog_txn_series(t1, f->db, "cpu,host=x", 10, &id), 0);
	assert_int_equal(lsm_catalog_txn_commit(t1), 0);
	lsm_catalog_set_max_series(f->c, 0);
	assert_int_equal(lsm_catalog_txn_series(t2, f->db, "cpu,host=y", 10, &id), 0);
	assert_int_equal(lsm_catalog_txn_commit(t2), 0);
	lsm_catalog_txn_free(t1);
	lsm_catalog_txn_free(t2);
	assert_int_equal(lsm_catalog_series_count(f->c), 5);
}

/* Each database has its own room under --max-series-per-db; pending reservations count. */
static void test_catalog_series_limit_per_db(void **state)
{
	struct fx *f = *state;
	lsm_catalog_txn *t;
	uint32_t other;
	uint64_t id;
	char key[32];

	assert_int_equal(lsm_catalog_create_database(f->c, "other"), 0);
	assert_int_equal(lsm_catalog_database_id(f->c, "other", &other), 0);
	lsm_catalog_set_max_series_per_db(f->c, 3);
	assert_int_equal(lsm_catalog_txn_new(&t, f->c), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(key, sizeof key, "cpu,host=%d", i);
		assert_int_equal(lsm_catalog_txn_series(t, f->db, key, strlen(key), &id), 0);
	}
	assert_int_equal(lsm_catalog_txn_series(t, f->db, "cpu,host=x", 10, &id), STRATA_ETOOBIG);
	assert_non_null(strstr(strata_last_error(), "per database"));
	/* The other database is not affected; its policies' stores count together. */
	{
		lsm_catalog_rp rp = { .name = "week", .duration_ns = INT64_C(604800000000000), .replica_n = 1 };
		uint32_t week;

		/* Windows outside 1h .. 8760h are refused before anything is written. */
		rp.shard_duration_ns = LSM_CATALOG_SHARD_MIN_NS - 1;
		assert_int_equal(lsm_catalog_set_rp(f->c, other, &rp, LSM_CATALOG_RP_CREATE), STRATA_EINVAL);
		rp.shard_duration_ns = LSM_CATALOG_SHARD_MAX_NS + 1;
		assert_int_equal(lsm_catalog_set_rp(f->c, other, &rp, LSM_CATALOG_RP_CREATE), STRATA_EINVAL);
		rp.shard_duration_ns = 0;
		assert_int_equal(lsm_catalog_set_rp(f->c, other, &rp, LSM_CATALOG_RP_CREATE), 0);
		assert_int_equal(lsm_catalog_store(f->c, other, "week", &week), 0);
		assert_true(week != other);
		for (int i = 0; i < 2; i++) {
			snprintf(key, sizeof key, "cpu,host=%d", i);
			assert_int_equal(lsm_catalog_txn_series(t, other, key, strlen(key), &id), 0);
		}
		assert_int_equal(lsm_catalog_txn_series(t, week, "cpu,host=0", 10, &id), 0);
		assert_int_equal(lsm_catalog_txn_series(t, week, "cpu,host=1", 10, &id), STRATA_ETOOBIG);
		assert_non_null(strstr(strata_last_error(), "in database other"));
	}
	assert_int_equal(lsm_catalog_txn_commit(t), 0);
	lsm_catalog_txn_reset(t);
	/* Published series count as the reserved ones did. */
	assert_int_equal(lsm_catalog_txn_series(t, f->db, "cpu,host=y", 10, &id), STRATA_ETOOBIG);
	assert_int_equal(lsm_catalog_txn_series(t, f->db, "cpu,host=1", 10, &id), 0);
	lsm_catalog_set_max_series_per_db(f->c, 0);
	assert_int_equal(lsm_catalog_txn_series(t, f->db, "cpu,host=y", 10, &id), 0);
	assert_int_equal(lsm_catalog_txn_commit(t), 0);
	lsm_catalog_txn_free(t);
	assert_int_equal(lsm_catalog_series_count(f->c), 7);
}

/* ---- figures (printed, never asserted) ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_catalog_commit_many_series(void **state)
{
	struct fx *f = *state;
	enum { N = 5000, LOOKUPS = 200000 };
	char (*keys)[80] = calloc(N, 80);
	uint64_t *ids = calloc(N, sizeof(*ids)), sum = 0;
	lsm_catalog_txn *t;
	double t0, t1, t2, t3, t4;

	assert_non_null(keys);
	assert_non_null(ids);
	for (int i = 0; i < N; i++)
		snprintf(keys[i], 80, "cpu,cpu=cpu%d,host=server%05d,region=us-west-%d", i % 8, i, i % 4);
	assert_int_equal(lsm_catalog_txn_new(&t, f->c), 0);
	t0 = now_s();
	for (int i = 0; i < N; i++)
		assert_int_equal(lsm_catalog_txn_series(t, f->db, keys[i], strlen(keys[i]), &ids[i]), 0);
	t1 = now_s();
	assert_int_equal(lsm_catalog_txn_commit(t), 0);
	t2 = now_s();
	lsm_catalog_txn_free(t);
	for (int i = 0; i < LOOKUPS; i++) {
		uint64_t id;

		assert_int_equal(lsm_catalog_series_id(f->c, f->db, keys[i % N], strlen(keys[i % N]), &id), 0);
		sum += id;
	}
	t3 = now_s();
	reopen(f);
	t4 = now_s();
	assert_true(sum > 0);
	assert_int_equal(lsm_catalog_series_count(f->c), N);
	print_message("catalog: %d new series: reserve %.2f ms, commit (write + fdatasync + publish) %.2f ms; "
		      "known-series lookup %.0f ns; reopen %.2f ms\n",
		      N, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e9 / LOOKUPS, (t4 - t3) * 1e3);
	free(keys);
	free(ids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_catalog_databases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_series_ids_unique_and_stable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_hash_collision_keeps_series_apart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_postings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_postings_sorted_when_published_out_of_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_non_canonical_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_escapes_in_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_field_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_field_conflict_across_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_txn_commit_durability, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_shared_reservation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_dropped_database_series, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_torn_tail_trimmed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_middle_damage_is_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_bad_record_contents_are_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_newer_version_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_fault_on_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_fault_on_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_series_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_series_limit_per_db, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_commit_many_series, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
