/*
 * export.c — `strata export`: writes the points of a data directory as line
 * protocol, streaming, series by series in key order, each retention
 * policy of each database after InfluxDB's context lines
 *   # CONTEXT-DATABASE: db
 *   # CONTEXT-RETENTION-POLICY: rp
 * The points import back exactly (`strata import`): the canonical series
 * key is printed as it is stored, floats with the fewest digits that read
 * back to the same bits.
 */
#include "tools/cli.h"
#include "tools/store.h"
#include "lsm/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROW_FIELDS 4096

/* The shortest %g form of v that reads back to v. */
static void format_float(char *out, size_t cap, double v)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, cap, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

static void put_escaped(FILE *f, const char *p, size_t len, const char *specials)
{
	for (size_t i = 0; i < len; i++) {
		if (strchr(specials, p[i]) && p[i])
			fputc('\\', f);
		fputc(p[i], f);
	}
}

/* Field names by id, for one measurement. */
typedef struct field_names {
	lsm_field_info *fields;
	size_t n;
} field_names;

static const char *field_name(const field_names *fn, uint32_t id)
{
	for (size_t i = 0; i < fn->n; i++)
		if (fn->fields[i].id == id)
			return fn->fields[i].name;
	return NULL;
}

static int export_series(FILE *out, cli_store *s, uint64_t sid, const field_names *fn, int64_t from, int64_t to,
			 uint64_t *points)
{
	char key[LSM_CATALOG_KEY_MAX + 1], num[64];
	uint8_t lo[LSM_UKEY_LEN], hi[LSM_UKEY_LEN];
	lsm_row_field *fields = strata_malloc(MAX_ROW_FIELDS * sizeof *fields);
	lsm_db_iter *it = NULL;
	long key_len = lsm_catalog_series_key(s->catalog, sid, key, sizeof key);
	int rc;

	if (!fields)
		return -ENOMEM;
	if (key_len < 0) {
		strata_free(fields);
		return (int)key_len;
	}
	lsm_ukey_encode(lo, sid, from);
	lsm_ukey_encode(hi, sid, to);
	rc = lsm_db_iter_new(&it, s->db, lo, hi);
	if (rc)
		goto out;
	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it); lsm_db_iter_next(it)) {
		size_t len, n;
		const uint8_t *row = lsm_db_iter_value(it, &len);
		bool first = true;

		rc = lsm_row_decode(row, len, fields, MAX_ROW_FIELDS, &n);
		if (rc)
			goto out;
		fwrite(key, 1, (size_t)key_len, out);
		for (size_t i = 0; i < n; i++) {
			const char *name = field_name(fn, fields[i].id);

			if (!name) {
				rc = strata_error(STRATA_ECORRUPT, "series %llu has a field id %u the catalog does not know",
						  (unsigned long long)sid, fields[i].id);
				goto out;
			}
			fputc(first ? ' ' : ',', out);
			first = false;
			put_escaped(out, name, strlen(name), ",= \\");
			fputc('=', out);
			switch (fields[i].type) {
			case LSM_FIELD_FLOAT:
				format_float(num, sizeof num, fields[i].v.f);
				fputs(num, out);
				break;
			case LSM_FIELD_INT: fprintf(out, "%lldi", (long long)fields[i].v.i); break;
			case LSM_FIELD_UINT: fprintf(out, "%lluu", (unsigned long long)fields[i].v.u); break;
			case LSM_FIELD_BOOL: fputs(fields[i].v.b ? "true" : "false", out); break;
			case LSM_FIELD_STRING:
				fputc('"', out);
				put_escaped(out, fields[i].v.s.p, fields[i].v.s.len, "\"\\");
				fputc('"', out);
				break;
			}
		}
		fprintf(out, " %lld\n", (long long)lsm_ukey_ts(lsm_db_iter_key(it)));
		(*points)++;
	}
	rc = lsm_db_iter_status(it);
out:
	lsm_db_iter_free(it);
	strata_free(fields);
	return rc;
}

/* Writes the points of one store after a context block naming its database and policy. */
static int export_store(FILE *out, cli_store *s, const char *db, const char *rp, uint32_t store,
			const char *only_measurement, int64_t from, int64_t to, uint64_t *points)
{
	char **measurements = NULL;
	size_t n_measurements = 0;
	int rc;

	fprintf(out, "# CONTEXT-DATABASE: %s\n# CONTEXT-RETENTION-POLICY: %s\n", db, rp);
	rc = lsm_catalog_measurements(s->catalog, store, &measurements, &n_measurements);
	for (size_t m = 0; rc == 0 && m < n_measurements; m++) {
		const char *name = measurements[m];
		field_names fn = { 0 };
		uint64_t *ids = NULL;
		size_t n_ids = 0;

		if (only_measurement && strcmp(only_measurement, name) != 0)
			continue;
		rc = lsm_catalog_fields(s->catalog, store, name, strlen(name), &fn.fields, &fn.n);
		if (rc == 0)
			rc = lsm_catalog_measurement_series(s->catalog, store, name, strlen(name), &ids, &n_ids);
		for (size_t i = 0; rc == 0 && i < n_ids; i++)
			rc = export_series(out, s, ids[i], &fn, from, to, points);
		strata_free(ids);
		lsm_catalog_free_fields(fn.fields, fn.n);
	}
	lsm_catalog_free_names(measurements, n_measurements);
	return rc;
}

/*
 * Writes every retention policy of database db: the points of each policy
 * live in a store of their own, written after a context block that names
 * the policy, as InfluxDB's export does, so that they import back into it.
 * A store several policies share (catalogs written before each policy had
 * one) is written once, under the default policy when that is one of them,
 * else under the first. A store no policy uses holds no series: skipped.
 */
static int export_database(FILE *out, cli_store *s, const char *db, const char *only_measurement, int64_t from,
			   int64_t to, uint64_t *points)
{
	lsm_catalog_rp *rps = NULL;
	size_t n_rps = 0;
	uint32_t db_id;
	int rc = lsm_catalog_database_id(s->catalog, db, &db_id);

	if (rc)
		return strata_error(rc, "database not found: \"%s\"", db);
	rc = lsm_catalog_rps(s->catalog, db_id, &rps, &n_rps);
	for (size_t i = 0; rc == 0 && i < n_rps; i++) {
		const lsm_catalog_rp *named = &rps[i];
		bool written = false;

		for (size_t j = 0; j < n_rps; j++) {
			if (rps[j].store != rps[i].store)
				continue;
			written = written || j < i;
			if (rps[j].is_default)
				named = &rps[j];
		}
		if (!written)
			rc = export_store(out, s, db, named->name, rps[i].store, only_measurement, from, to, points);
	}
	strata_free(rps);
	return rc;
}

static int parse_time(const char *v, int64_t *out)
{
	char *end;
	long long t;

	errno = 0;
	t = strtoll(v, &end, 10);
	if (errno || *end)
		return -1;
	*out = t;
	return 0;
}

int cli_export(int argc, char **argv)
{
	const char *data = "./strata-data", *db = NULL, *measurement = NULL;
	int64_t from = INT64_MIN, to = INT64_MAX;
	cli_store store;
	lsm_options opt;
	uint64_t points = 0;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *v;

		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			puts("usage: strata export [--data DIR] [--db NAME] [--measurement M] [--from NS] [--to NS]\n"
			     "Writes the points as line protocol to standard output, every database unless --db,\n"
			     "each retention policy after its # CONTEXT-DATABASE / # CONTEXT-RETENTION-POLICY lines.\n"
			     "--from and --to are nanosecond timestamps (from inclusive, to exclusive).");
			return 0;
		} else if (cli_option(argc, argv, &i, "--data", &v)) {
			data = v;
		} else if (cli_option(argc, argv, &i, "--db", &v)) {
			db = v;
		} else if (cli_option(argc, argv, &i, "--measurement", &v)) {
			measurement = v;
		} else if (cli_option(argc, argv, &i, "--from", &v)) {
			if (parse_time(v, &from) != 0) {
				fprintf(stderr, "strata export: --from takes nanoseconds since the epoch\n");
				return 2;
			}
		} else if (cli_option(argc, argv, &i, "--to", &v)) {
			if (parse_time(v, &to) != 0) {
				fprintf(stderr, "strata export: --to takes nanoseconds since the epoch\n");
				return 2;
			}
		} else {
			fprintf(stderr, "strata export: unknown option '%s'\n", argv[i]);
			return 2;
		}
	}
	cli_store_options(&opt);
	opt.compact.disable = true; /* a short read: no background merging */
	if (cli_store_open(&store, data, &opt, "cannot open the data directory") != 0)
		return 1;
	if (db) {
		rc = export_database(stdout, &store, db, measurement, from, to, &points);
	} else {
		char **names = NULL;
		size_t n = 0;

		rc = lsm_catalog_databases(store.catalog, &names, &n);
		for (size_t i = 0; rc == 0 && i < n; i++)
			rc = export_database(stdout, &store, names[i], measurement, from, to, &points);
		lsm_catalog_free_names(names, n);
	}
	if ((fflush(stdout) != 0 || ferror(stdout)) && rc == 0)
		rc = strata_error(-EIO, "cannot write the output");
	if (rc)
		cli_fail("export", rc);
	else
		fprintf(stderr, "exported %llu points\n", (unsigned long long)points);
	if (cli_store_close(&store) != 0 && rc == 0)
		rc = -EIO;
	return rc ? 1 : 0;
}
