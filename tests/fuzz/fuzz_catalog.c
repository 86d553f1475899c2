/*
 * fuzz_catalog.c — libFuzzer target for the catalog log replay
 * (lsm/catalog.c, with the record reader of lsm/record.c and the series key
 * parser of lsm/series_key.c).
 *
 * The input is written as <dir>/catalog.log on tmpfs, once as it is and
 * once with every record checksum recomputed (fuzz_util.h), and opened.
 * What must always hold:
 * - open returns 0, STRATA_ECORRUPT or STRATA_EVERSION, and an error names
 *   the file;
 * - what an open catalog holds is consistent: every series id a
 *   measurement lists has a key, and that key looks up that id; every
 *   field listed looks up with its id and type; the postings of a tag value
 *   are a subset of the measurement's series; lists are sorted;
 * - the catalog takes a change after replaying any file (a new database, a
 *   series and a field, appended after a trimmed tail), and reopening it
 *   gives back exactly what it held before closing.
 * A crash, leak, hang or sanitizer report is a finding as well.
 */
#include "tests/fuzz/fuzz_util.h"

#include "lsm/alloc.h"
#include "lsm/catalog.h"
#include "lsm/log.h"
#include "lsm/status.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* Bounds on what one snapshot walks, so that a large catalog costs little. */
enum { MAX_LIST = 32 };

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	return XXH3_64bits_withSeed(p, n, h);
}

static void check_sorted(char **names, size_t n)
{
	for (size_t i = 1; i < n; i++)
		CHECK(strcmp(names[i - 1], names[i]) < 0);
}

/* Walks one measurement of db; folds what it finds into *h. */
static void snapshot_measurement(lsm_catalog *c, uint32_t db, const char *m, uint64_t *h)
{
	size_t m_len = strlen(m), n_series = 0, n_keys = 0, n_fields = 0;
	uint64_t *series = NULL;
	char **keys = NULL;
	lsm_field_info *fields = NULL;
	static char key[LSM_CATALOG_KEY_MAX + 1];

	CHECK(lsm_catalog_measurement_series(c, db, m, m_len, &series, &n_series) == 0);
	for (size_t i = 0; i < n_series; i++) {
		uint64_t id = 0;
		long len;

		if (i)
			CHECK(series[i - 1] < series[i]);
		if (i >= MAX_LIST)
			continue;
		len = lsm_catalog_series_key(c, series[i], key, sizeof key);
		CHECK(len > 0 && (size_t)len <= LSM_CATALOG_KEY_MAX);
		CHECK(lsm_catalog_series_id(c, db, key, (size_t)len, &id) == 0);
		CHECK(id == series[i]);
		*h = mix(*h, key, (size_t)len);
		*h = mix(*h, &id, sizeof id);
	}
	CHECK(lsm_catalog_tag_keys(c, db, m, m_len, &keys, &n_keys) == 0);
	check_sorted(keys, n_keys);
	for (size_t k = 0; k < n_keys && k < MAX_LIST; k++) {
		char **values = NULL;
		size_t n_values = 0;

		*h = mix(*h, keys[k], strlen(keys[k]));
		CHECK(lsm_catalog_tag_values(c, db, m, m_len, keys[k], strlen(keys[k]), &values, &n_values) == 0);
		check_sorted(values, n_values);
		for (size_t v = 0; v < n_values && v < 4; v++) {
			uint64_t *post = NULL;
			size_t n_post = 0, j = 0;

			*h = mix(*h, values[v], strlen(values[v]));
			CHECK(lsm_catalog_tag_series(c, db, m, m_len, keys[k], strlen(keys[k]), values[v],
						     strlen(values[v]), &post, &n_post) == 0);
			/* A subset of the measurement's series: both lists are sorted. */
			for (size_t i = 0; i < n_post; i++) {
				while (j < n_series && series[j] < post[i])
					j++;
				CHECK(j < n_series && series[j] == post[i]);
			}
			strata_free(post);
		}
		lsm_catalog_free_names(values, n_values);
	}
	lsm_catalog_free_names(keys, n_keys);
	CHECK(lsm_catalog_fields(c, db, m, m_len, &fields, &n_fields) == 0);
	for (size_t f = 0; f < n_fields; f++) {
		uint32_t id = 0;
		enum lsm_field_type type;

		if (f)
			CHECK(strcmp(fields[f - 1].name, fields[f].name) < 0);
		if (f >= MAX_LIST)
			continue;
		CHECK(lsm_catalog_field(c, db, m, m_len, fields[f].name, strlen(fields[f].name), &id, &type) == 0);
		CHECK(id == fields[f].id && type == fields[f].type);
		*h = mix(*h, fields[f].name, strlen(fields[f].name));
		*h = mix(*h, &id, sizeof id);
		*h = mix(*h, &type, sizeof type);
	}
	lsm_catalog_free_fields(fields, n_fields);
	strata_free(series);
}

/* A hash of (a bounded part of) what the catalog holds, checking it on the way. */
static uint64_t snapshot(lsm_catalog *c)
{
	uint64_t h = lsm_catalog_series_count(c);
	char **dbs = NULL;
	size_t n_dbs = 0;

	CHECK(lsm_catalog_databases(c, &dbs, &n_dbs) == 0);
	check_sorted(dbs, n_dbs);
	for (size_t d = 0; d < n_dbs && d < MAX_LIST; d++) {
		char **ms = NULL;
		size_t n_ms = 0;
		uint32_t db = 0;

		CHECK(lsm_catalog_database_id(c, dbs[d], &db) == 0);
		h = mix(h, dbs[d], strlen(dbs[d]));
		h = mix(h, &db, sizeof db);
		CHECK(lsm_catalog_measurements(c, db, &ms, &n_ms) == 0);
		check_sorted(ms, n_ms);
		for (size_t m = 0; m < n_ms && m < MAX_LIST; m++) {
			h = mix(h, ms[m], strlen(ms[m]));
			snapshot_measurement(c, db, ms[m], &h);
		}
		lsm_catalog_free_names(ms, n_ms);
	}
	lsm_catalog_free_names(dbs, n_dbs);
	return h;
}

/* Registers one new database, series and field: must work on any catalog that opened. */
static void change(lsm_catalog *c)
{
	static const char key[] = "fuzz_m,fuzz_t=v";
	lsm_catalog_txn *t = NULL;
	enum lsm_field_type type;
	uint64_t id;
	uint32_t db, fid;
	int rc;

	rc = lsm_catalog_create_database(c, "fuzz_db");
	CHECK(rc == 0);
	CHECK(lsm_catalog_database_id(c, "fuzz_db", &db) == 0);
	CHECK(lsm_catalog_txn_new(&t, c) == 0);
	rc = lsm_catalog_txn_series(t, db, key, sizeof key - 1, &id);
	CHECK(rc == 0 || rc == STRATA_ETOOBIG);
	rc = lsm_catalog_txn_field(t, db, "fuzz_m", 6, "fuzz_f", 6, LSM_FIELD_FLOAT, &fid, &type);
	CHECK(rc == 0 || rc == STRATA_ETYPE);
	CHECK(lsm_catalog_txn_commit(t) == 0);
	lsm_catalog_txn_free(t);
}

static void run(const char *dir, const char *path, const uint8_t *data, size_t size)
{
	lsm_catalog *c = NULL;
	uint64_t before, after;
	int rc;

	fuzz_write_file(path, data, size);
	strata_error_clear();
	rc = lsm_catalog_open(&c, dir);
	if (rc) {
		CHECK(rc == STRATA_ECORRUPT || rc == STRATA_EVERSION);
		CHECK(c == NULL);
		CHECK(strstr(strata_last_error(), path) != NULL);
		return;
	}
	snapshot(c);
	change(c);
	before = snapshot(c);
	lsm_catalog_close(c);
	c = NULL;
	rc = lsm_catalog_open(&c, dir);
	if (rc) {
		fprintf(stderr, "reopen failed: %s\n", strata_last_error());
		abort();
	}
	after = snapshot(c);
	CHECK(before == after);
	lsm_catalog_close(c);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char cat_dir[512], cat_path[600];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Torn tails are logged as warnings: expected here, and slow on every input. */
	strata_log_set_level(STRATA_LOG_ERROR);
	snprintf(cat_dir, sizeof cat_dir, "%s", fuzz_scratch_dir());
	snprintf(cat_path, sizeof cat_path, "%s/catalog.log", cat_dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);

	CHECK(copy != NULL);
	run(cat_dir, cat_path, data, size);
	memcpy(copy, data, size);
	if (fuzz_repair_records(copy, size))
		run(cat_dir, cat_path, copy, size);
	free(copy);
	return 0;
}
