/*
 * test_query_meta.c — the statements that are not SELECT (query/meta.c),
 * run through query_run over a real data directory and compared byte for
 * byte with the JSON InfluxDB 1.8 writes: SHOW DATABASES, CREATE and DROP
 * DATABASE, SHOW MEASUREMENTS (WITH MEASUREMENT, WHERE, LIMIT, OFFSET),
 * SHOW TAG KEYS, SHOW TAG VALUES (every WITH KEY form, WHERE), SHOW FIELD
 * KEYS, SHOW SERIES, SHOW RETENTION POLICIES, sources in other databases
 * and by regex, a database with several retention policies (the union of
 * their stores, or the one a source names), the statements not supported
 * yet, unknown and missing databases, bad regexes, the row limit, and
 * several statements in one text.
 */
#include "lsm/alloc.h"
#include "lsm/catalog.h"
#include "lsm/lsm.h"
#include "lsm/row.h"
#include "lsm/status.h"
#include "query/exec.h"
#include "query/output.h"
#include "tests/query_sink.h"
#include "tests/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>

struct fx {
	char dir[64];
	lsm_db *db;
	lsm_catalog *c;
	query_engine *qe;
};

/* ---- the data ---- */

struct field_def {
	const char *m, *name;
	enum lsm_field_type type;
};

static const char *const telegraf_series[] = {
	"cpu,host=a,region=us",
	"cpu,host=b,region=eu",
	"cpu,host=c",
	"cpu2,host=x",
	"disk,host=a,path=/",
	"disk,host=b,path=/data",
	"mem,host=a",
	"net,iface=eth\\ 0",
};

static const struct field_def telegraf_fields[] = {
	{ "cpu", "usage_user", LSM_FIELD_FLOAT },
	{ "cpu", "usage_idle", LSM_FIELD_FLOAT },
	{ "cpu2", "load", LSM_FIELD_FLOAT },
	{ "disk", "used", LSM_FIELD_INT },
	{ "disk", "free", LSM_FIELD_UINT },
	{ "mem", "swapping", LSM_FIELD_BOOL },
	{ "mem", "status", LSM_FIELD_STRING },
	{ "mem", "available", LSM_FIELD_INT },
	{ "net", "bytes", LSM_FIELD_INT },
};

static const char *const other_series[] = { "cpu,host=z" };
static const struct field_def other_fields[] = { { "cpu", "usage_user", LSM_FIELD_FLOAT } };

/* Registers series and fields in a store (a database's own id, or a policy's store). */
static void load_store(struct fx *f, uint32_t db, const char *const *series, size_t n_series,
		       const struct field_def *fields, size_t n_fields)
{
	lsm_catalog_txn *t = NULL;

	assert_int_equal(lsm_catalog_txn_new(&t, f->c), 0);
	for (size_t i = 0; i < n_series; i++) {
		uint64_t id;

		assert_int_equal(lsm_catalog_txn_series(t, db, series[i], strlen(series[i]), &id), 0);
	}
	for (size_t i = 0; i < n_fields; i++) {
		uint32_t id;
		enum lsm_field_type type;

		assert_int_equal(lsm_catalog_txn_field(t, db, fields[i].m, strlen(fields[i].m), fields[i].name,
						       strlen(fields[i].name), fields[i].type, &id, &type),
				 0);
	}
	assert_int_equal(lsm_catalog_txn_commit(t), 0);
	lsm_catalog_txn_free(t);
}

static void load(struct fx *f, const char *dbname, const char *const *series, size_t n_series,
		 const struct field_def *fields, size_t n_fields)
{
	uint32_t db;

	assert_int_equal(lsm_catalog_create_database(f->c, dbname), 0);
	assert_int_equal(lsm_catalog_database_id(f->c, dbname, &db), 0);
	load_store(f, db, series, n_series, fields, n_fields);
}

static int setup_limits(void **state, const query_limits *limits)
{
	struct fx *f = calloc(1, sizeof(*f));
	lsm_options opt;

	if (!f || test_make_temp_dir(f->dir, sizeof f->dir) != 0)
		return -1;
	lsm_options_default(&opt);
	opt.merge = lsm_row_merge;
	if (lsm_open(&f->db, f->dir, &opt) != 0 || lsm_catalog_open(&f->c, f->dir) != 0)
		return -1;
	if (query_engine_new(&f->qe, f->db, f->c, limits) != 0)
		return -1;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	int rc = setup_limits(state, NULL);
	struct fx *f;

	if (rc)
		return rc;
	f = *state;
	load(f, "telegraf", telegraf_series, sizeof telegraf_series / sizeof *telegraf_series, telegraf_fields,
	     sizeof telegraf_fields / sizeof *telegraf_fields);
	load(f, "other", other_series, 1, other_fields, 1);
	load(f, "empty", NULL, 0, NULL, 0);
	return 0;
}

static int setup_bare(void **state)
{
	return setup_limits(state, NULL);
}

static int setup_max_rows(void **state)
{
	query_limits lim;
	struct fx *f;
	int rc;

	query_limits_default(&lim);
	lim.max_rows = 3;
	rc = setup_limits(state, &lim);
	if (rc)
		return rc;
	f = *state;
	load(f, "telegraf", telegraf_series, sizeof telegraf_series / sizeof *telegraf_series, telegraf_fields,
	     sizeof telegraf_fields / sizeof *telegraf_fields);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	query_engine_free(f->qe);
	lsm_catalog_close(f->c);
	lsm_close(f->db);
	test_remove_tree(f->dir);
	free(f);
	return 0;
}

/* ---- running a query into memory ---- */

/* Runs text with db= dbname (may be NULL); returns the response without its final newline. */
static char *run(struct fx *f, const char *dbname, const char *text)
{
	struct test_sink s = { 0 };
	query_output *o = NULL;
	query_request req = { .db = dbname };

	assert_int_equal(query_output_new(&o, QUERY_OUTPUT_JSON, QUERY_EPOCH_RFC3339, test_sink_write, &s), 0);
	assert_int_equal(query_run(f->qe, text, strlen(text), &req, o), 0);
	query_output_free(o);
	assert_non_null(s.buf);
	assert_true(s.len > 0 && s.buf[s.len - 1] == '\n');
	s.buf[s.len - 1] = '\0';
	return s.buf;
}

/* The response to text must be {"results":[<results>]}. */
static void check(struct fx *f, const char *dbname, const char *text, const char *results)
{
	char *got = run(f, dbname, text);
	char want[8192];

	snprintf(want, sizeof want, "{\"results\":[%s]}", results);
	if (strcmp(got, want) != 0)
		print_error("query: %s\n want: %s\n  got: %s\n", text, want, got);
	assert_string_equal(got, want);
	strata_free(got);
}

/* One statement's result with the given series (a JSON list body). */
#define ONE(series) "{\"statement_id\":0,\"series\":[" series "]}"
#define NONE "{\"statement_id\":0}"
#define ERR(msg) "{\"statement_id\":0,\"error\":\"" msg "\"}"

/* ---- SHOW DATABASES, CREATE and DROP DATABASE ---- */

static void test_query_meta_show_databases(void **state)
{
	struct fx *f = *state;

	check(f, NULL, "SHOW DATABASES",
	      ONE("{\"name\":\"databases\",\"columns\":[\"name\"],"
		  "\"values\":[[\"empty\"],[\"other\"],[\"telegraf\"]]}"));
}

static void test_query_meta_show_databases_none(void **state)
{
	struct fx *f = *state;

	/* InfluxDB writes the series with its columns even without a database. */
	check(f, NULL, "SHOW DATABASES", ONE("{\"name\":\"databases\",\"columns\":[\"name\"]}"));
}

static void test_query_meta_create_drop_database(void **state)
{
	struct fx *f = *state;
	uint32_t id;

	check(f, NULL,
	      "CREATE DATABASE mydb; CREATE DATABASE mydb; SHOW DATABASES; DROP DATABASE mydb; "
	      "DROP DATABASE mydb; DROP DATABASE never; SHOW DATABASES",
	      "{\"statement_id\":0},{\"statement_id\":1},"
	      "{\"statement_id\":2,\"series\":[{\"name\":\"databases\",\"columns\":[\"name\"],"
	      "\"values\":[[\"mydb\"]]}]},"
	      "{\"statement_id\":3},{\"statement_id\":4},{\"statement_id\":5},"
	      "{\"statement_id\":6,\"series\":[{\"name\":\"databases\",\"columns\":[\"name\"]}]}");
	assert_int_equal(lsm_catalog_database_id(f->c, "mydb", &id), STRATA_ENOTFOUND);

	/* A quoted name with a space is a name like any other. */
	check(f, NULL, "CREATE DATABASE \"my db\"; SHOW DATABASES",
	      "{\"statement_id\":0},{\"statement_id\":1,\"series\":[{\"name\":\"databases\","
	      "\"columns\":[\"name\"],\"values\":[[\"my db\"]]}]}");
	assert_int_equal(lsm_catalog_database_id(f->c, "my db", &id), 0);

	/* The catalog refuses a name with a forbidden byte; the statement says why. */
	check(f, NULL, "CREATE DATABASE \"a/b\"",
	      ERR("database name \\\"a/b\\\" holds a forbidden byte 0x2f at 1"));
}

static void test_query_meta_create_database_with_refused(void **state)
{
	struct fx *f = *state;
	uint32_t id;

	/* Shard durations from an hour to a year, not above the duration (docs/retention.md). */
	check(f, NULL, "CREATE DATABASE rp WITH DURATION 30d SHARD DURATION 30m",
	      ERR("shard duration must be at least 1h0m0s, got 30m0s"));
	check(f, NULL, "CREATE DATABASE rp WITH DURATION INF SHARD DURATION 366d",
	      ERR("shard duration must be at most 8760h0m0s, got 8784h0m0s"));
	check(f, NULL, "CREATE DATABASE rp WITH DURATION 1h SHARD DURATION 2h",
	      ERR("retention policy duration must be greater than the shard duration"));
	/* InfluxDB's shortest retention. */
	check(f, NULL, "CREATE DATABASE rp WITH DURATION 30m NAME one",
	      ERR("retention policy duration must be at least 1h0m0s"));
	/* Refused, not half done. */
	assert_int_equal(lsm_catalog_database_id(f->c, "rp", &id), STRATA_ENOTFOUND);
}

static void test_query_meta_dropped_database_unreachable(void **state)
{
	struct fx *f = *state;

	check(f, "telegraf", "DROP DATABASE other; SHOW MEASUREMENTS ON other; SHOW SERIES FROM other..cpu",
	      "{\"statement_id\":0},"
	      "{\"statement_id\":1,\"error\":\"database not found: other\"},"
	      "{\"statement_id\":2,\"error\":\"database not found: other\"}");
	/* The other databases are untouched. */
	check(f, "telegraf", "SHOW SERIES FROM cpu2", ONE("{\"columns\":[\"key\"],\"values\":[[\"cpu2,host=x\"]]}"));
}

/* ---- SHOW MEASUREMENTS ---- */

#define MEAS(values) "{\"name\":\"measurements\",\"columns\":[\"name\"],\"values\":[" values "]}"

static void test_query_meta_show_measurements(void **state)
{
	struct fx *f = *state;

	check(f, "telegraf", "SHOW MEASUREMENTS",
	      ONE(MEAS("[\"cpu\"],[\"cpu2\"],[\"disk\"],[\"mem\"],[\"net\"]")));
	check(f, NULL, "SHOW MEASUREMENTS ON other", ONE(MEAS("[\"cpu\"]")));
	/* ON wins over db=. */
	check(f, "telegraf", "SHOW MEASUREMENTS ON other", ONE(MEAS("[\"cpu\"]")));
	check(f, "empty", "SHOW MEASUREMENTS", NONE);
	check(f, "telegraf", "SHOW MEASUREMENTS WITH MEASUREMENT = disk", ONE(MEAS("[\"disk\"]")));
	check(f, "telegraf", "SHOW MEASUREMENTS WITH MEASUREMENT = nope", NONE);
	check(f, "telegraf", "SHOW MEASUREMENTS WITH MEASUREMENT =~ /^cpu/", ONE(MEAS("[\"cpu\"],[\"cpu2\"]")));
	/* Unanchored, as Go's regexp searches. */
	check(f, "telegraf", "SHOW MEASUREMENTS WITH MEASUREMENT =~ /s/", ONE(MEAS("[\"disk\"]")));
	check(f, "telegraf", "SHOW MEASUREMENTS WITH MEASUREMENT =~ /(?i)^MEM$/", ONE(MEAS("[\"mem\"]")));
}

static void test_query_meta_show_measurements_where(void **state)
{
	struct fx *f = *state;

	check(f, "telegraf", "SHOW MEASUREMENTS WHERE host = 'a'", ONE(MEAS("[\"cpu\"],[\"disk\"],[\"mem\"]")));
	check(f, "telegraf", "SHOW MEASUREMENTS WHERE region = 'eu'", ONE(MEAS("[\"cpu\"]")));
	check(f, "telegraf", "SHOW MEASUREMENTS WHERE host =~ /^[bx]$/", ONE(MEAS("[\"cpu\"],[\"cpu2\"],[\"disk\"]")));
	check(f, "telegraf", "SHOW MEASUREMENTS WHERE host = 'nobody'", NONE);
	/* A tag a series lacks compares as '': net has no host. */
	check(f, "telegraf", "SHOW MEASUREMENTS WHERE host = ''", ONE(MEAS("[\"net\"]")));
	check(f, "telegraf", "SHOW MEASUREMENTS WHERE host = 'a' OR iface = 'eth 0'",
	      ONE(MEAS("[\"cpu\"],[\"disk\"],[\"mem\"],[\"net\"]")));
	check(f, "telegraf", "SHOW MEASUREMENTS WITH MEASUREMENT =~ /^c/ WHERE host = 'a'", ONE(MEAS("[\"cpu\"]")));
	/* A field term may match any series of a measurement that has the field. */
	check(f, "telegraf", "SHOW MEASUREMENTS WITH MEASUREMENT = disk WHERE host = 'b' AND used > 0",
	      ONE(MEAS("[\"disk\"]")));
	check(f, "telegraf", "SHOW MEASUREMENTS WITH MEASUREMENT = disk WHERE host = 'c' AND used > 0", NONE);
}

static void test_query_meta_show_measurements_limit_offset(void **state)
{
	struct fx *f = *state;

	check(f, "telegraf", "SHOW MEASUREMENTS LIMIT 2", ONE(MEAS("[\"cpu\"],[\"cpu2\"]")));
	check(f, "telegraf", "SHOW MEASUREMENTS LIMIT 2 OFFSET 1", ONE(MEAS("[\"cpu2\"],[\"disk\"]")));
	check(f, "telegraf", "SHOW MEASUREMENTS OFFSET 3", ONE(MEAS("[\"mem\"],[\"net\"]")));
	check(f, "telegraf", "SHOW MEASUREMENTS OFFSET 5", NONE);
	check(f, "telegraf", "SHOW MEASUREMENTS LIMIT 100", ONE(MEAS("[\"cpu\"],[\"cpu2\"],[\"disk\"],[\"mem\"],[\"net\"]")));
	check(f, "telegraf", "SHOW MEASUREMENTS WHERE host = 'a' LIMIT 1 OFFSET 2", ONE(MEAS("[\"mem\"]")));
}

static void test_query_meta_unknown_database(void **state)
{
	struct fx *f = *state;

	check(f, NULL, "SHOW MEASUREMENTS", ERR("database name required"));
	check(f, "", "SHOW TAG KEYS", ERR("database name required"));
	check(f, "nope", "SHOW MEASUREMENTS", ERR("database not found: nope"));
	check(f, "telegraf", "SHOW MEASUREMENTS ON nope", ERR("database not found: nope"));
	check(f, "telegraf", "SHOW TAG KEYS ON nope", ERR("database not found: nope"));
	check(f, "telegraf", "SHOW TAG VALUES ON nope WITH KEY = host", ERR("database not found: nope"));
	check(f, "telegraf", "SHOW FIELD KEYS ON nope", ERR("database not found: nope"));
	check(f, "telegraf", "SHOW SERIES ON nope", ERR("database not found: nope"));
	check(f, "telegraf", "SHOW SERIES FROM nope..cpu", ERR("database not found: nope"));
	check(f, NULL, "SHOW FIELD KEYS FROM cpu", ERR("database name required"));
	check(f, NULL, "SHOW RETENTION POLICIES", ERR("database name required"));
	check(f, NULL, "SHOW RETENTION POLICIES ON nope", ERR("database not found: nope"));
}

/* ---- SHOW TAG KEYS ---- */

#define TK(m, values) "{\"name\":\"" m "\",\"columns\":[\"tagKey\"],\"values\":[" values "]}"

static void test_query_meta_show_tag_keys(void **state)
{
	struct fx *f = *state;

	check(f, "telegraf", "SHOW TAG KEYS",
	      ONE(TK("cpu", "[\"host\"],[\"region\"]") "," TK("cpu2", "[\"host\"]") ","
		  TK("disk", "[\"host\"],[\"path\"]") "," TK("mem", "[\"host\"]") "," TK("net", "[\"iface\"]")));
	check(f, "telegraf", "SHOW TAG KEYS FROM cpu", ONE(TK("cpu", "[\"host\"],[\"region\"]")));
	check(f, "telegraf", "SHOW TAG KEYS FROM nope", NONE);
	check(f, "empty", "SHOW TAG KEYS", NONE);
	/* Sources in name order, each once, whatever order FROM gives. */
	check(f, "telegraf", "SHOW TAG KEYS FROM mem, /^cpu$/, cpu",
	      ONE(TK("cpu", "[\"host\"],[\"region\"]") "," TK("mem", "[\"host\"]")));
	check(f, "telegraf", "SHOW TAG KEYS FROM /^(cpu|disk)$/",
	      ONE(TK("cpu", "[\"host\"],[\"region\"]") "," TK("disk", "[\"host\"],[\"path\"]")));
	/* A source in another database. */
	check(f, "telegraf", "SHOW TAG KEYS FROM other..cpu", ONE(TK("cpu", "[\"host\"]")));
	check(f, NULL, "SHOW TAG KEYS FROM other../c/", ONE(TK("cpu", "[\"host\"]")));
	check(f, "other", "SHOW TAG KEYS ON telegraf FROM disk", ONE(TK("disk", "[\"host\"],[\"path\"]")));
	/* The same measurement in two databases: one series each. */
	check(f, "telegraf", "SHOW TAG KEYS FROM cpu, other..cpu",
	      ONE(TK("cpu", "[\"host\"],[\"region\"]") "," TK("cpu", "[\"host\"]")));
}

static void test_query_meta_show_tag_keys_where_with_limit(void **state)
{
	struct fx *f = *state;

	/* Only the keys of the matching series. */
	check(f, "telegraf", "SHOW TAG KEYS FROM cpu WHERE host = 'c'", ONE(TK("cpu", "[\"host\"]")));
	check(f, "telegraf", "SHOW TAG KEYS FROM cpu WHERE region = 'eu'", ONE(TK("cpu", "[\"host\"],[\"region\"]")));
	check(f, "telegraf", "SHOW TAG KEYS WHERE host = 'a'",
	      ONE(TK("cpu", "[\"host\"],[\"region\"]") "," TK("disk", "[\"host\"],[\"path\"]") ","
		  TK("mem", "[\"host\"]")));
	check(f, "telegraf", "SHOW TAG KEYS WHERE host = 'nobody'", NONE);
	/* WITH KEY filters the keys. */
	check(f, "telegraf", "SHOW TAG KEYS FROM cpu WITH KEY = region", ONE(TK("cpu", "[\"region\"]")));
	check(f, "telegraf", "SHOW TAG KEYS WITH KEY =~ /^[pi]/",
	      ONE(TK("disk", "[\"path\"]") "," TK("net", "[\"iface\"]")));
	check(f, "telegraf", "SHOW TAG KEYS FROM cpu WITH KEY !~ /^h/", ONE(TK("cpu", "[\"region\"]")));
	/* LIMIT and OFFSET count the rows of each measurement. */
	check(f, "telegraf", "SHOW TAG KEYS LIMIT 1",
	      ONE(TK("cpu", "[\"host\"]") "," TK("cpu2", "[\"host\"]") "," TK("disk", "[\"host\"]") ","
		  TK("mem", "[\"host\"]") "," TK("net", "[\"iface\"]")));
	check(f, "telegraf", "SHOW TAG KEYS OFFSET 1",
	      ONE(TK("cpu", "[\"region\"]") "," TK("disk", "[\"path\"]")));
	check(f, "telegraf", "SHOW TAG KEYS OFFSET 2", NONE);
}

/* ---- SHOW TAG VALUES ---- */

#define TV(m, values) "{\"name\":\"" m "\",\"columns\":[\"key\",\"value\"],\"values\":[" values "]}"

static void test_query_meta_show_tag_values(void **state)
{
	struct fx *f = *state;

	check(f, "telegraf", "SHOW TAG VALUES WITH KEY = host",
	      ONE(TV("cpu", "[\"host\",\"a\"],[\"host\",\"b\"],[\"host\",\"c\"]") ","
		  TV("cpu2", "[\"host\",\"x\"]") "," TV("disk", "[\"host\",\"a\"],[\"host\",\"b\"]") ","
		  TV("mem", "[\"host\",\"a\"]")));
	check(f, "telegraf", "SHOW TAG VALUES FROM cpu WITH KEY IN (region, host)",
	      ONE(TV("cpu", "[\"host\",\"a\"],[\"host\",\"b\"],[\"host\",\"c\"],"
			    "[\"region\",\"eu\"],[\"region\",\"us\"]")));
	check(f, "telegraf", "SHOW TAG VALUES FROM cpu WITH KEY != host",
	      ONE(TV("cpu", "[\"region\",\"eu\"],[\"region\",\"us\"]")));
	check(f, "telegraf", "SHOW TAG VALUES WITH KEY =~ /^(path|iface)$/",
	      ONE(TV("disk", "[\"path\",\"/\"],[\"path\",\"/data\"]") "," TV("net", "[\"iface\",\"eth 0\"]")));
	check(f, "telegraf", "SHOW TAG VALUES FROM disk WITH KEY !~ /a/", ONE(TV("disk", "[\"host\",\"a\"],[\"host\",\"b\"]")));
	check(f, "telegraf", "SHOW TAG VALUES WITH KEY = nokey", NONE);
	check(f, "telegraf", "SHOW TAG VALUES FROM /^cpu/ WITH KEY = \"host\"",
	      ONE(TV("cpu", "[\"host\",\"a\"],[\"host\",\"b\"],[\"host\",\"c\"]") ","
		  TV("cpu2", "[\"host\",\"x\"]")));
	check(f, "telegraf", "SHOW TAG VALUES ON other WITH KEY = host", ONE(TV("cpu", "[\"host\",\"z\"]")));
}

static void test_query_meta_show_tag_values_where_limit(void **state)
{
	struct fx *f = *state;

	check(f, "telegraf", "SHOW TAG VALUES FROM cpu WITH KEY = host WHERE region = 'us'",
	      ONE(TV("cpu", "[\"host\",\"a\"]")));
	/* A series without the key gives no row for it. */
	check(f, "telegraf", "SHOW TAG VALUES FROM cpu WITH KEY = region WHERE host != 'a'",
	      ONE(TV("cpu", "[\"region\",\"eu\"]")));
	check(f, "telegraf", "SHOW TAG VALUES FROM cpu WITH KEY = region WHERE host = 'c'", NONE);
	check(f, "telegraf", "SHOW TAG VALUES WITH KEY = host WHERE host =~ /^[ab]$/",
	      ONE(TV("cpu", "[\"host\",\"a\"],[\"host\",\"b\"]") "," TV("disk", "[\"host\",\"a\"],[\"host\",\"b\"]") ","
		  TV("mem", "[\"host\",\"a\"]")));
	check(f, "telegraf", "SHOW TAG VALUES FROM cpu WITH KEY IN (host, region) WHERE region = 'eu' OR host = 'c'",
	      ONE(TV("cpu", "[\"host\",\"b\"],[\"host\",\"c\"],[\"region\",\"eu\"]")));
	/* Per measurement: rows sorted by key then value, then the window. */
	check(f, "telegraf", "SHOW TAG VALUES FROM cpu WITH KEY IN (region, host) LIMIT 2 OFFSET 2",
	      ONE(TV("cpu", "[\"host\",\"c\"],[\"region\",\"eu\"]")));
	check(f, "telegraf", "SHOW TAG VALUES WITH KEY = host LIMIT 1 OFFSET 1",
	      ONE(TV("cpu", "[\"host\",\"b\"]") "," TV("disk", "[\"host\",\"b\"]")));
	check(f, "telegraf", "SHOW TAG VALUES WITH KEY = host WHERE region = 'eu' LIMIT 1 OFFSET 1", NONE);
}

/* ---- SHOW FIELD KEYS ---- */

#define FK(m, values) "{\"name\":\"" m "\",\"columns\":[\"fieldKey\",\"fieldType\"],\"values\":[" values "]}"

static void test_query_meta_show_field_keys(void **state)
{
	struct fx *f = *state;

	check(f, "telegraf", "SHOW FIELD KEYS",
	      ONE(FK("cpu", "[\"usage_idle\",\"float\"],[\"usage_user\",\"float\"]") ","
		  FK("cpu2", "[\"load\",\"float\"]") ","
		  FK("disk", "[\"free\",\"unsigned\"],[\"used\",\"integer\"]") ","
		  FK("mem", "[\"available\",\"integer\"],[\"status\",\"string\"],[\"swapping\",\"boolean\"]") ","
		  FK("net", "[\"bytes\",\"integer\"]")));
	check(f, "telegraf", "SHOW FIELD KEYS FROM mem", ONE(FK("mem", "[\"available\",\"integer\"],[\"status\",\"string\"],[\"swapping\",\"boolean\"]")));
	check(f, "telegraf", "SHOW FIELD KEYS FROM mem LIMIT 1 OFFSET 1", ONE(FK("mem", "[\"status\",\"string\"]")));
	check(f, "telegraf", "SHOW FIELD KEYS FROM /^d/, other..cpu",
	      ONE(FK("cpu", "[\"usage_user\",\"float\"]") "," FK("disk", "[\"free\",\"unsigned\"],[\"used\",\"integer\"]")));
	check(f, "telegraf", "SHOW FIELD KEYS FROM nope", NONE);
	check(f, "telegraf", "SHOW FIELD KEYS OFFSET 3", NONE);
}

/* ---- SHOW SERIES ---- */

#define SER(values) "{\"columns\":[\"key\"],\"values\":[" values "]}"

static void test_query_meta_show_series(void **state)
{
	struct fx *f = *state;

	/* Byte order of the canonical keys: "cpu," before "cpu2". */
	check(f, "telegraf", "SHOW SERIES",
	      ONE(SER("[\"cpu,host=a,region=us\"],[\"cpu,host=b,region=eu\"],[\"cpu,host=c\"],[\"cpu2,host=x\"],"
		      "[\"disk,host=a,path=/\"],[\"disk,host=b,path=/data\"],[\"mem,host=a\"],"
		      "[\"net,iface=eth\\\\ 0\"]")));
	check(f, "telegraf", "SHOW SERIES FROM cpu2, net", ONE(SER("[\"cpu2,host=x\"],[\"net,iface=eth\\\\ 0\"]")));
	check(f, "telegraf", "SHOW SERIES WHERE host = 'a'",
	      ONE(SER("[\"cpu,host=a,region=us\"],[\"disk,host=a,path=/\"],[\"mem,host=a\"]")));
	check(f, "telegraf", "SHOW SERIES FROM cpu WHERE region !~ /s/", ONE(SER("[\"cpu,host=b,region=eu\"],[\"cpu,host=c\"]")));
	check(f, "telegraf", "SHOW SERIES WHERE iface = 'eth 0'", ONE(SER("[\"net,iface=eth\\\\ 0\"]")));
	check(f, "telegraf", "SHOW SERIES WHERE host = 'nobody'", NONE);
	check(f, "telegraf", "SHOW SERIES FROM cpu LIMIT 2 OFFSET 1", ONE(SER("[\"cpu,host=b,region=eu\"],[\"cpu,host=c\"]")));
	check(f, "telegraf", "SHOW SERIES LIMIT 1 OFFSET 7", ONE(SER("[\"net,iface=eth\\\\ 0\"]")));
	check(f, "telegraf", "SHOW SERIES OFFSET 8", NONE);
	check(f, "telegraf", "SHOW SERIES ON other", ONE(SER("[\"cpu,host=z\"]")));
	check(f, "other", "SHOW SERIES FROM cpu, telegraf..cpu2",
	      ONE(SER("[\"cpu,host=z\"],[\"cpu2,host=x\"]")));
	check(f, "empty", "SHOW SERIES", NONE);
}

/* ---- several retention policies: one store each ---- */

static const char *const pol_autogen_series[] = { "cpu,host=a", "cpu,host=b", "mem,host=a" };
static const struct field_def pol_autogen_fields[] = {
	{ "cpu", "usage", LSM_FIELD_FLOAT },
	{ "cpu", "n", LSM_FIELD_INT },
	{ "mem", "free", LSM_FIELD_INT },
};
static const char *const pol_two_series[] = { "cpu,host=a", "cpu,dc=x,host=c", "disk,host=a" };
static const struct field_def pol_two_fields[] = {
	{ "cpu", "usage", LSM_FIELD_FLOAT },
	{ "cpu", "n", LSM_FIELD_FLOAT },
	{ "disk", "used", LSM_FIELD_INT },
};

/* Database pol: autogen (its own store) and policy two (a store of its own). */
static int setup_policies(void **state)
{
	int rc = setup_limits(state, NULL);
	struct fx *f;
	uint32_t db, two;

	if (rc)
		return rc;
	f = *state;
	load(f, "pol", pol_autogen_series, 3, pol_autogen_fields, 3);
	strata_free(run(f, "pol", "CREATE RETENTION POLICY two ON pol DURATION 2h REPLICATION 1"));
	if (lsm_catalog_database_id(f->c, "pol", &db) != 0 || lsm_catalog_store(f->c, db, "two", &two) != 0 ||
	    two == db)
		return -1;
	load_store(f, two, pol_two_series, 3, pol_two_fields, 3);
	return 0;
}

/* Without a policy named, a statement answers for the whole database: the union of its stores. */
static void test_query_meta_policies_union(void **state)
{
	struct fx *f = *state;

	check(f, "pol", "SHOW MEASUREMENTS", ONE(MEAS("[\"cpu\"],[\"disk\"],[\"mem\"]")));
	check(f, "pol", "SHOW MEASUREMENTS WHERE dc = 'x'", ONE(MEAS("[\"cpu\"]")));
	check(f, "pol", "SHOW MEASUREMENTS WHERE host = 'a' LIMIT 2 OFFSET 1", ONE(MEAS("[\"disk\"],[\"mem\"]")));
	check(f, "pol", "SHOW TAG KEYS FROM cpu", ONE(TK("cpu", "[\"dc\"],[\"host\"]")));
	check(f, "pol", "SHOW TAG KEYS", ONE(TK("cpu", "[\"dc\"],[\"host\"]") "," TK("disk", "[\"host\"]") ","
					      TK("mem", "[\"host\"]")));
	check(f, "pol", "SHOW TAG KEYS FROM cpu WHERE host = 'a'", ONE(TK("cpu", "[\"host\"]")));
	check(f, "pol", "SHOW TAG VALUES FROM cpu WITH KEY = host",
	      ONE(TV("cpu", "[\"host\",\"a\"],[\"host\",\"b\"],[\"host\",\"c\"]")));
	check(f, "pol", "SHOW TAG VALUES FROM cpu WITH KEY = host WHERE host != 'b'",
	      ONE(TV("cpu", "[\"host\",\"a\"],[\"host\",\"c\"]")));
	/* A field with another type under another policy: a row per type. */
	check(f, "pol", "SHOW FIELD KEYS FROM cpu",
	      ONE(FK("cpu", "[\"n\",\"float\"],[\"n\",\"integer\"],[\"usage\",\"float\"]")));
	check(f, "pol", "SHOW FIELD KEYS FROM cpu LIMIT 1 OFFSET 1", ONE(FK("cpu", "[\"n\",\"integer\"]")));
	check(f, "pol", "SHOW SERIES",
	      ONE(SER("[\"cpu,dc=x,host=c\"],[\"cpu,host=a\"],[\"cpu,host=b\"],[\"disk,host=a\"],[\"mem,host=a\"]")));
	check(f, "pol", "SHOW SERIES WHERE host = 'a'", ONE(SER("[\"cpu,host=a\"],[\"disk,host=a\"],[\"mem,host=a\"]")));
}

/* A source naming a policy answers for its store alone. */
static void test_query_meta_policies_one(void **state)
{
	struct fx *f = *state;

	check(f, "pol", "SHOW MEASUREMENTS WITH MEASUREMENT = two.disk", ONE(MEAS("[\"disk\"]")));
	check(f, "pol", "SHOW MEASUREMENTS WITH MEASUREMENT = autogen.disk", NONE);
	check(f, NULL, "SHOW MEASUREMENTS WITH MEASUREMENT = pol.autogen.cpu", ONE(MEAS("[\"cpu\"]")));
	check(f, "pol", "SHOW TAG KEYS FROM autogen.cpu", ONE(TK("cpu", "[\"host\"]")));
	check(f, "pol", "SHOW TAG KEYS FROM pol.two.cpu", ONE(TK("cpu", "[\"dc\"],[\"host\"]")));
	check(f, NULL, "SHOW TAG KEYS FROM pol.autogen././", ONE(TK("cpu", "[\"host\"]") "," TK("mem", "[\"host\"]")));
	check(f, "pol", "SHOW TAG KEYS FROM autogen.cpu, two.cpu", ONE(TK("cpu", "[\"dc\"],[\"host\"]")));
	check(f, "pol", "SHOW TAG VALUES FROM two.cpu WITH KEY = host",
	      ONE(TV("cpu", "[\"host\",\"a\"],[\"host\",\"c\"]")));
	check(f, "pol", "SHOW FIELD KEYS FROM two.cpu", ONE(FK("cpu", "[\"n\",\"float\"],[\"usage\",\"float\"]")));
	check(f, "pol", "SHOW SERIES FROM two./.*/",
	      ONE(SER("[\"cpu,dc=x,host=c\"],[\"cpu,host=a\"],[\"disk,host=a\"]")));
	check(f, "pol", "SHOW SERIES FROM autogen.disk", NONE);
	check(f, "pol", "SHOW TAG KEYS FROM nope.cpu", ERR("retention policy not found: nope"));
}

/* ---- SHOW RETENTION POLICIES ---- */

static void test_query_meta_show_retention_policies(void **state)
{
	struct fx *f = *state;
	const char *rp = ONE("{\"columns\":[\"name\",\"duration\",\"shardGroupDuration\",\"replicaN\",\"default\"],"
			     "\"values\":[[\"autogen\",\"0s\",\"24h0m0s\",1,true]]}");

	check(f, "telegraf", "SHOW RETENTION POLICIES", rp);
	check(f, NULL, "SHOW RETENTION POLICIES ON empty", rp);
}

#define RPS(values) ONE("{\"columns\":[\"name\",\"duration\",\"shardGroupDuration\",\"replicaN\",\"default\"]," \
			"\"values\":[" values "]}")

/*
 * Each policy's shard duration: as written (an hour to a year, not above
 * the duration), else InfluxDB's default for the duration; an ALTER
 * changes it or keeps it; the implicit autogen shows the engine's day.
 */
static void test_query_meta_shard_duration(void **state)
{
	struct fx *f = *state;
	lsm_catalog_rp rp;
	uint32_t db;

	check(f, NULL, "CREATE DATABASE d WITH DURATION 1d SHARD DURATION 1h", NONE);
	check(f, NULL, "SHOW RETENTION POLICIES ON d", RPS("[\"autogen\",\"24h0m0s\",\"1h0m0s\",1,true]"));
	check(f, NULL,
	      "CREATE RETENTION POLICY a ON d DURATION 47h REPLICATION 1; "
	      "CREATE RETENTION POLICY b ON d DURATION 2d REPLICATION 1; "
	      "CREATE RETENTION POLICY c ON d DURATION 179d REPLICATION 1; "
	      "CREATE RETENTION POLICY e ON d DURATION 180d REPLICATION 1; "
	      "CREATE RETENTION POLICY g ON d DURATION INF REPLICATION 1; "
	      "CREATE RETENTION POLICY h ON d DURATION 30d REPLICATION 1 SHARD DURATION 0s; "
	      "CREATE RETENTION POLICY i ON d DURATION INF REPLICATION 1 SHARD DURATION 8760h",
	      "{\"statement_id\":0},{\"statement_id\":1},{\"statement_id\":2},{\"statement_id\":3},"
	      "{\"statement_id\":4},{\"statement_id\":5},{\"statement_id\":6}");
	check(f, NULL, "SHOW RETENTION POLICIES ON d",
	      RPS("[\"autogen\",\"24h0m0s\",\"1h0m0s\",1,true],[\"a\",\"47h0m0s\",\"1h0m0s\",1,false],"
		  "[\"b\",\"48h0m0s\",\"24h0m0s\",1,false],[\"c\",\"4296h0m0s\",\"24h0m0s\",1,false],"
		  "[\"e\",\"4320h0m0s\",\"168h0m0s\",1,false],[\"g\",\"0s\",\"168h0m0s\",1,false],"
		  "[\"h\",\"720h0m0s\",\"24h0m0s\",1,false],[\"i\",\"0s\",\"8760h0m0s\",1,false]"));

	/* ALTER: a new shard duration for points flushed from now on; other changes keep it. */
	check(f, NULL, "ALTER RETENTION POLICY b ON d SHARD DURATION 12h", NONE);
	check(f, NULL, "ALTER RETENTION POLICY b ON d DURATION 3d", NONE);
	assert_int_equal(lsm_catalog_database_id(f->c, "d", &db), 0);
	assert_int_equal(lsm_catalog_rp_get(f->c, db, "b", &rp), 0);
	assert_int_equal(rp.shard_duration_ns, INT64_C(12) * 3600 * 1000000000);
	assert_int_equal(rp.duration_ns, INT64_C(72) * 3600 * 1000000000);
	check(f, NULL, "ALTER RETENTION POLICY b ON d DURATION 6h",
	      ERR("retention policy duration must be greater than the shard duration"));
	check(f, NULL, "ALTER RETENTION POLICY b ON d SHARD DURATION 10m", ERR("shard duration must be at least 1h0m0s, got 10m0s"));
	check(f, NULL, "ALTER RETENTION POLICY b ON d SHARD DURATION 9000h",
	      ERR("shard duration must be at most 8760h0m0s, got 9000h0m0s"));
	/* SHARD DURATION 0 in an ALTER: InfluxDB's default for the duration. */
	check(f, NULL, "ALTER RETENTION POLICY h ON d DURATION 200d SHARD DURATION 0s", NONE);
	/* A CREATE repeated with another shard duration is no error and changes nothing (as agents repeat it). */
	check(f, NULL, "CREATE RETENTION POLICY a ON d DURATION 47h REPLICATION 1 SHARD DURATION 2h", NONE);
	check(f, NULL, "SHOW RETENTION POLICIES ON d",
	      RPS("[\"autogen\",\"24h0m0s\",\"1h0m0s\",1,true],[\"a\",\"47h0m0s\",\"1h0m0s\",1,false],"
		  "[\"b\",\"72h0m0s\",\"12h0m0s\",1,false],[\"c\",\"4296h0m0s\",\"24h0m0s\",1,false],"
		  "[\"e\",\"4320h0m0s\",\"168h0m0s\",1,false],[\"g\",\"0s\",\"168h0m0s\",1,false],"
		  "[\"h\",\"4800h0m0s\",\"168h0m0s\",1,false],[\"i\",\"0s\",\"8760h0m0s\",1,false]"));

	/* A policy recorded without one (before shard durations counted) keeps the engine's day, whatever its duration. */
	rp = (lsm_catalog_rp){ .name = "old", .duration_ns = INT64_C(3) * 3600 * 1000000000, .replica_n = 1 };
	assert_int_equal(lsm_catalog_set_rp(f->c, db, &rp, LSM_CATALOG_RP_CREATE), 0);
	check(f, NULL, "SHOW RETENTION POLICIES ON d",
	      RPS("[\"autogen\",\"24h0m0s\",\"1h0m0s\",1,true],[\"a\",\"47h0m0s\",\"1h0m0s\",1,false],"
		  "[\"b\",\"72h0m0s\",\"12h0m0s\",1,false],[\"c\",\"4296h0m0s\",\"24h0m0s\",1,false],"
		  "[\"e\",\"4320h0m0s\",\"168h0m0s\",1,false],[\"g\",\"0s\",\"168h0m0s\",1,false],"
		  "[\"h\",\"4800h0m0s\",\"168h0m0s\",1,false],[\"i\",\"0s\",\"8760h0m0s\",1,false],"
		  "[\"old\",\"3h0m0s\",\"24h0m0s\",1,false]"));
	check(f, NULL, "ALTER RETENTION POLICY old ON d DURATION 2h", NONE);
	/* One that recorded the engine's day with a shorter duration too, until it is given a SHARD DURATION. */
	rp = (lsm_catalog_rp){ .name = "older", .duration_ns = INT64_C(3) * 3600 * 1000000000,
			       .shard_duration_ns = INT64_C(24) * 3600 * 1000000000, .replica_n = 1 };
	assert_int_equal(lsm_catalog_set_rp(f->c, db, &rp, LSM_CATALOG_RP_CREATE), 0);
	check(f, NULL, "ALTER RETENTION POLICY older ON d DURATION 2h", NONE);
	check(f, NULL, "ALTER RETENTION POLICY older ON d SHARD DURATION 1d",
	      ERR("retention policy duration must be greater than the shard duration"));
	check(f, NULL, "ALTER RETENTION POLICY older ON d SHARD DURATION 1h", NONE);
	check(f, NULL, "ALTER RETENTION POLICY older ON d DURATION 30m",
	      ERR("retention policy duration must be at least 1h0m0s"));
	assert_int_equal(lsm_catalog_rp_get(f->c, db, "older", &rp), 0);
	assert_int_equal(rp.shard_duration_ns, INT64_C(3600) * 1000000000);
}

/* ---- what is not supported yet ---- */

static void test_query_meta_cq_without_store(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *text, *kind;
	} cases[] = {
		{ "SHOW CONTINUOUS QUERIES", "SHOW CONTINUOUS QUERIES" },
		{ "CREATE CONTINUOUS QUERY cq ON telegraf BEGIN SELECT mean(usage_user) INTO cpu_1h FROM cpu "
		  "GROUP BY time(1h) END",
		  "CREATE CONTINUOUS QUERY" },
		{ "DROP CONTINUOUS QUERY cq ON telegraf", "DROP CONTINUOUS QUERY" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char want[512];

		snprintf(want, sizeof want,
			 "{\"statement_id\":0,\"error\":\"%s needs a server's data directory (strata serve "
			 "or strata query)\"}",
			 cases[i].kind);
		check(f, "telegraf", cases[i].text, want);
	}
	/* Nothing was dropped. */
	check(f, "telegraf", "SHOW SERIES FROM cpu WHERE host = 'a'", ONE(SER("[\"cpu,host=a,region=us\"]")));
}

/* ---- errors ---- */

static void test_query_meta_bad_regex(void **state)
{
	struct fx *f = *state;
	char *got;

	got = run(f, "telegraf", "SHOW MEASUREMENTS WITH MEASUREMENT =~ /a(/");
	assert_non_null(strstr(got, "\"error\":\"error parsing regexp /a(/: "));
	strata_free(got);
	got = run(f, "telegraf", "SHOW TAG KEYS FROM /[z-a]/");
	assert_non_null(strstr(got, "\"error\":\"error parsing regexp /[z-a]/: "));
	strata_free(got);
	got = run(f, "telegraf", "SHOW TAG VALUES WITH KEY =~ /(/");
	assert_non_null(strstr(got, "\"error\":\"error parsing regexp /(/: "));
	strata_free(got);
	got = run(f, "telegraf", "SHOW SERIES WHERE host =~ /+/");
	assert_non_null(strstr(got, "\"error\":\"error parsing regexp /+/: "));
	strata_free(got);
}

static void test_query_meta_max_rows(void **state)
{
	struct fx *f = *state;

	check(f, "telegraf", "SHOW SERIES FROM cpu", ONE(SER("[\"cpu,host=a,region=us\"],[\"cpu,host=b,region=eu\"],[\"cpu,host=c\"]")));
	check(f, "telegraf", "SHOW SERIES", ERR("max-row-limit exceeded: the statement returns more than 3 rows"));
	/* Counted over all the series of a statement. */
	check(f, "telegraf", "SHOW TAG KEYS FROM cpu, disk",
	      "{\"statement_id\":0,\"series\":[" TK("cpu", "[\"host\"],[\"region\"]") "],"
	      "\"error\":\"max-row-limit exceeded: the statement returns more than 3 rows\"}");
	check(f, "telegraf", "SHOW SERIES LIMIT 3 OFFSET 2",
	      ONE(SER("[\"cpu,host=c\"],[\"cpu2,host=x\"],[\"disk,host=a,path=/\"]")));
}

/* ---- several statements ---- */

static void test_query_meta_several_statements(void **state)
{
	struct fx *f = *state;

	check(f, "telegraf",
	      "SHOW DATABASES; SHOW MEASUREMENTS ON nope; SHOW TAG KEYS FROM mem;\n"
	      "DROP SERIES FROM cpu; SHOW FIELD KEYS FROM cpu2; SHOW SERIES WHERE host = 'x'; "
	      "SHOW RETENTION POLICIES ON other",
	      "{\"statement_id\":0,\"series\":[{\"name\":\"databases\",\"columns\":[\"name\"],"
	      "\"values\":[[\"empty\"],[\"other\"],[\"telegraf\"]]}]},"
	      "{\"statement_id\":1,\"error\":\"database not found: nope\"},"
	      "{\"statement_id\":2,\"series\":[" TK("mem", "[\"host\"]") "]},"
	      "{\"statement_id\":3},"
	      "{\"statement_id\":4,\"series\":[" FK("cpu2", "[\"load\",\"float\"]") "]},"
	      "{\"statement_id\":5,\"series\":[" SER("[\"cpu2,host=x\"]") "]},"
	      "{\"statement_id\":6,\"series\":[{\"columns\":[\"name\",\"duration\",\"shardGroupDuration\","
	      "\"replicaN\",\"default\"],\"values\":[[\"autogen\",\"0s\",\"24h0m0s\",1,true]]}]}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_query_meta_show_databases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_meta_show_databases_none, setup_bare, teardown),
		cmocka_unit_test_setup_teardown(test_query_meta_create_drop_database, setup_bare, teardown),
		cmocka_unit_test_setup_teardown(test_query_meta_create_database_with_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_meta_shard_duration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_meta_dropped_database_unreachable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_meta_show_measurements, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_meta_show_measurements_where, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_meta_show_measurements_limit_offset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_meta_unknown_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_meta_show_tag_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_meta_show_tag_keys_where_with_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_meta_show_tag_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_meta_show_tag_values_where_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_meta_show_field_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_meta_show_series, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_meta_policies_union, setup_policies, teardown),
		cmocka_unit_test_setup_teardown(test_query_meta_policies_one, setup_policies, teardown),
		cmocka_unit_test_setup_teardown(test_query_meta_show_retention_policies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_meta_cq_without_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_meta_bad_regex, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_meta_max_rows, setup_max_rows, teardown),
		cmocka_unit_test_setup_teardown(test_query_meta_several_statements, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
