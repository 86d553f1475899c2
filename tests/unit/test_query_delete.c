/*
 * test_query_delete.c — DROP SERIES, DELETE and DROP MEASUREMENT
 * (query/delete.c) through query_run over a real data directory, with the
 * data split between tables and the memtable: the exact JSON of queries
 * before and after each statement, after reopening, SHOW SERIES / TAG
 * VALUES / MEASUREMENTS / FIELD KEYS after drops, a key written again
 * through the same ingest session after its drop (a new series id), time
 * ranges that keep the other points, the catalog call (ids skipped and
 * repeated), deletes across retention policies, InfluxDB's errors, and a
 * compaction after a delete shrinking the tables.
 */
#include "ingest/writer.h"
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
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>

#define NOW_NS INT64_C(1767312000000000000) /* 2026-01-02T00:00:00Z */

struct fx {
	char dir[64];
	lsm_db *db;
	lsm_catalog *c;
	query_engine *qe;
	ingest_engine ie;
	ingest_session *s;
};

static void open_all(struct fx *f)
{
	lsm_options opt;
	ingest_options iopt;

	lsm_options_default(&opt);
	opt.merge = lsm_row_merge;
	opt.compact.disable = true; /* compactions only when a test asks */
	assert_int_equal(lsm_open(&f->db, f->dir, &opt), 0);
	assert_int_equal(lsm_catalog_open(&f->c, f->dir), 0);
	assert_int_equal(query_engine_new(&f->qe, f->db, f->c, NULL), 0);
	ingest_options_default(&iopt);
	ingest_engine_init(&f->ie, f->db, f->c, &iopt);
	assert_int_equal(ingest_session_new(&f->s, &f->ie), 0);
}

static void close_all(struct fx *f)
{
	ingest_session_free(f->s);
	query_engine_free(f->qe);
	lsm_catalog_close(f->c);
	assert_int_equal(lsm_close(f->db), 0);
	f->s = NULL;
	f->qe = NULL;
	f->c = NULL;
	f->db = NULL;
}

static void reopen(struct fx *f)
{
	close_all(f);
	open_all(f);
}

/* Writes line protocol (seconds) to db through the fixture's one session. */
static void write_lp(struct fx *f, const char *dbname, const char *lines)
{
	ingest_report rep;

	memset(&rep, 0, sizeof rep);
	assert_int_equal(ingest_session_write(f->s, dbname, NULL, lines, strlen(lines), INGEST_LP_S, NOW_NS, true, &rep), 0);
	if (rep.lines_rejected)
		print_error("rejected: %.*s\n", (int)rep.errors_len, rep.errors);
	assert_int_equal(rep.lines_rejected, 0);
}

/* Half of the data in tables, the other half in the memtable. */
static const char data_old[] =
	"cpu,host=a,region=us usage=1,idle=90i 1767225600\n"
	"cpu,host=a,region=us usage=2 1767225610\n"
	"cpu,host=b,region=eu usage=3 1767225600\n"
	"mem,host=a free=100i 1767225600\n";
static const char data_new[] =
	"cpu,host=a,region=us usage=4 1767225620\n"
	"cpu,host=b,region=eu usage=5 1767225620\n"
	"cpu,host=c usage=6 1767225630\n"
	"mem,host=a free=50i 1767225620\n";

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || test_make_temp_dir(f->dir, sizeof f->dir) != 0)
		return -1;
	open_all(f);
	if (lsm_catalog_create_database(f->c, "db") != 0 || lsm_catalog_create_database(f->c, "other") != 0)
		return -1;
	write_lp(f, "db", data_old);
	write_lp(f, "other", "cpu,host=a usage=7 1767225600\n");
	if (lsm_flush(f->db) != 0)
		return -1;
	write_lp(f, "db", data_new);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	close_all(f);
	test_remove_tree(f->dir);
	free(f);
	return 0;
}

/* ---- running a query into memory ---- */

static char *run(struct fx *f, const char *dbname, const char *text)
{
	struct test_sink s = { 0 };
	query_output *o = NULL;
	query_request req = { .db = dbname, .now_ns = NOW_NS };

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

#define NONE "{\"statement_id\":0}"
#define ERR(msg) "{\"statement_id\":0,\"error\":\"" msg "\"}"
#define ONE(series) "{\"statement_id\":0,\"series\":[" series "]}"
#define SER(values) "{\"columns\":[\"key\"],\"values\":[" values "]}"
#define MEAS(values) "{\"name\":\"measurements\",\"columns\":[\"name\"],\"values\":[" values "]}"

#define T0 "2026-01-01T00:00:00Z"
#define T10 "2026-01-01T00:00:10Z"
#define T20 "2026-01-01T00:00:20Z"
#define T30 "2026-01-01T00:00:30Z"

/* SELECT usage FROM cpu GROUP BY host of the whole data set. */
#define CPU_ALL                                                                                            \
	ONE("{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"" T0 \
	    "\",1],[\"" T10 "\",2],[\"" T20 "\",4]]},"                                                      \
	    "{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"" T0 \
	    "\",3],[\"" T20 "\",5]]},"                                                                      \
	    "{\"name\":\"cpu\",\"tags\":{\"host\":\"c\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"" T30 \
	    "\",6]]}")
#define CPU_Q "SELECT usage FROM cpu GROUP BY host"

/* ---- DROP SERIES ---- */

static void check_after_drop_series(struct fx *f)
{
	check(f, "db", CPU_Q,
	      ONE("{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"" T0
		  "\",3],[\"" T20 "\",5]]},"
		  "{\"name\":\"cpu\",\"tags\":{\"host\":\"c\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"" T30
		  "\",6]]}"));
	check(f, "db", "SHOW SERIES", ONE(SER("[\"cpu,host=b,region=eu\"],[\"cpu,host=c\"],[\"mem,host=a\"]")));
	/* The tag value a of cpu is gone; mem keeps its own host=a. */
	check(f, "db", "SHOW TAG VALUES FROM cpu, mem WITH KEY = host",
	      ONE("{\"name\":\"cpu\",\"columns\":[\"key\",\"value\"],\"values\":[[\"host\",\"b\"],[\"host\",\"c\"]]},"
		  "{\"name\":\"mem\",\"columns\":[\"key\",\"value\"],\"values\":[[\"host\",\"a\"]]}"));
	check(f, "db", "SELECT free FROM mem",
	      ONE("{\"name\":\"mem\",\"columns\":[\"time\",\"free\"],\"values\":[[\"" T0 "\",100],[\"" T20
		  "\",50]]}"));
	/* The other database's cpu,host=a is untouched. */
	check(f, "other", "SELECT usage FROM cpu",
	      ONE("{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"" T0 "\",7]]}"));
}

static void test_query_delete_drop_series(void **state)
{
	struct fx *f = *state;

	check(f, "db", CPU_Q, CPU_ALL);
	check(f, "db", "DROP SERIES FROM cpu WHERE host = 'a'", NONE);
	check_after_drop_series(f);
	reopen(f);
	check_after_drop_series(f);
	/* Again: nothing left to drop, still no error. */
	check(f, "db", "DROP SERIES FROM cpu WHERE host = 'a'", NONE);
	check_after_drop_series(f);
}

static void test_query_delete_drop_series_regex_and_all(void **state)
{
	struct fx *f = *state;

	/* Without FROM: every measurement; a regex on tags. */
	check(f, "db", "DROP SERIES WHERE host =~ /^[ab]$/", NONE);
	check(f, "db", "SHOW SERIES", ONE(SER("[\"cpu,host=c\"]")));
	check(f, "db", "SHOW MEASUREMENTS", ONE(MEAS("[\"cpu\"]")));
	check(f, "db", "SELECT free FROM mem", NONE);
	/* FROM a regex, no WHERE: the last series, and the measurement with it. */
	check(f, "db", "DROP SERIES FROM /^c/", NONE);
	check(f, "db", "SHOW SERIES", NONE);
	check(f, "db", "SHOW MEASUREMENTS", NONE);
	check(f, "db", CPU_Q, NONE);
	reopen(f);
	check(f, "db", "SHOW SERIES", NONE);
	check(f, "db", "SHOW MEASUREMENTS", NONE);
	check(f, "db", CPU_Q, NONE);
	assert_int_equal(lsm_catalog_series_count(f->c), 1); /* other's */
}

/* ---- DELETE ---- */

static void check_after_delete(struct fx *f)
{
	check(f, "db", CPU_Q,
	      ONE("{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"" T20
		  "\",4]]},"
		  "{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"" T0
		  "\",3],[\"" T20 "\",5]]},"
		  "{\"name\":\"cpu\",\"tags\":{\"host\":\"c\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"" T30
		  "\",6]]}"));
	/* The series stays: DELETE removes points only. */
	check(f, "db", "SHOW SERIES FROM cpu",
	      ONE(SER("[\"cpu,host=a,region=us\"],[\"cpu,host=b,region=eu\"],[\"cpu,host=c\"]")));
	/* mem lost its points from T20 on (the second DELETE). */
	check(f, "db", "SELECT free FROM mem",
	      ONE("{\"name\":\"mem\",\"columns\":[\"time\",\"free\"],\"values\":[[\"" T0 "\",100]]}"));
}

static void test_query_delete_time_range(void **state)
{
	struct fx *f = *state;

	/* Host a's points before T20 (both in a table); b's and the later ones stay. */
	check(f, "db", "DELETE FROM cpu WHERE host = 'a' AND time < '2026-01-01T00:00:20Z'", NONE);
	/* Without FROM: every measurement. Host a at T20 (in the memtable): cpu's and mem's. */
	check(f, "db", "DELETE WHERE time >= '2026-01-01T00:00:20Z' AND time <= '2026-01-01T00:00:20Z' AND host = 'a'",
	      NONE);
	/* Put back host a's T20 point of cpu, deleted by the second statement with mem's. */
	write_lp(f, "db", "cpu,host=a,region=us usage=4 1767225620\n");
	check_after_delete(f);
	reopen(f);
	check_after_delete(f);
	/* An empty range deletes nothing. */
	check(f, "db", "DELETE FROM cpu WHERE time > '2026-01-01T00:00:30Z' AND time < '2026-01-01T00:00:10Z'", NONE);
	check_after_delete(f);
	/* now() in the condition: everything before it. */
	check(f, "db", "DELETE FROM cpu WHERE time < now()", NONE);
	check(f, "db", CPU_Q, NONE);
	check(f, "db", "SHOW SERIES FROM cpu",
	      ONE(SER("[\"cpu,host=a,region=us\"],[\"cpu,host=b,region=eu\"],[\"cpu,host=c\"]")));
	/* Written again after the delete: visible. */
	write_lp(f, "db", "cpu,host=b,region=eu usage=9 1767225640\n");
	check(f, "db", CPU_Q,
	      ONE("{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"usage\"],\"values\":[["
		  "\"2026-01-01T00:00:40Z\",9]]}"));
}

static void test_query_delete_all_points(void **state)
{
	struct fx *f = *state;

	check(f, "db", "DELETE FROM cpu", NONE);
	check(f, "db", CPU_Q, NONE);
	check(f, "db", "SELECT free FROM mem",
	      ONE("{\"name\":\"mem\",\"columns\":[\"time\",\"free\"],\"values\":[[\"" T0 "\",100],[\"" T20
		  "\",50]]}"));
	check(f, "db", "SHOW MEASUREMENTS", ONE(MEAS("[\"cpu\"],[\"mem\"]")));
	reopen(f);
	check(f, "db", CPU_Q, NONE);
}

/* ---- DROP MEASUREMENT ---- */

static void check_after_drop_measurement(struct fx *f)
{
	check(f, "db", "SHOW MEASUREMENTS", ONE(MEAS("[\"mem\"]")));
	check(f, "db", "SHOW SERIES", ONE(SER("[\"mem,host=a\"]")));
	check(f, "db", "SHOW FIELD KEYS FROM cpu", NONE);
	check(f, "db", "SHOW TAG KEYS FROM cpu", NONE);
	check(f, "db", CPU_Q, NONE);
	check(f, "other", "SHOW MEASUREMENTS", ONE(MEAS("[\"cpu\"]")));
}

static void test_query_delete_drop_measurement(void **state)
{
	struct fx *f = *state;

	check(f, "db", "DROP MEASUREMENT cpu", NONE);
	check_after_drop_measurement(f);
	reopen(f);
	check_after_drop_measurement(f);
	/* An unknown measurement is no error. */
	check(f, "db", "DROP MEASUREMENT nope", NONE);
	/* Its fields went with it: usage may come back as a string. */
	write_lp(f, "db", "cpu,host=a,region=us usage=\"high\" 1767225650\n");
	check(f, "db", "SELECT usage FROM cpu",
	      ONE("{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2026-01-01T00:00:50Z\","
		  "\"high\"]]}"));
	check(f, "db", "SHOW FIELD KEYS FROM cpu",
	      ONE("{\"name\":\"cpu\",\"columns\":[\"fieldKey\",\"fieldType\"],\"values\":[[\"usage\",\"string\"]]}"));
	reopen(f);
	check(f, "db", "SHOW FIELD KEYS FROM cpu",
	      ONE("{\"name\":\"cpu\",\"columns\":[\"fieldKey\",\"fieldType\"],\"values\":[[\"usage\",\"string\"]]}"));
	check(f, "db", "SHOW SERIES", ONE(SER("[\"cpu,host=a,region=us\"],[\"mem,host=a\"]")));
}

/* ---- writing a key again after its drop ---- */

static void test_query_delete_rewrite_after_drop(void **state)
{
	struct fx *f = *state;
	const char *key = "cpu,host=a,region=us";
	uint64_t before, after;
	uint32_t db;
	uint64_t gen;

	assert_int_equal(lsm_catalog_database_id(f->c, "db", &db), 0);
	assert_int_equal(lsm_catalog_series_id(f->c, db, key, strlen(key), &before), 0);
	gen = lsm_catalog_generation(f->c);
	check(f, "db", "DROP SERIES FROM cpu WHERE host = 'a'", NONE);
	assert_true(lsm_catalog_generation(f->c) > gen);
	assert_int_equal(lsm_catalog_series_id(f->c, db, key, strlen(key), &after), STRATA_ENOTFOUND);
	/* The same session cached the key's id: the write must register it anew. */
	write_lp(f, "db", "cpu,host=a,region=us usage=8 1767225640\n");
	assert_int_equal(lsm_catalog_series_id(f->c, db, key, strlen(key), &after), 0);
	assert_true(after > before);
	check(f, "db", "SELECT usage FROM cpu WHERE host = 'a'",
	      ONE("{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2026-01-01T00:00:40Z\",8]]}"));
	check(f, "db", "SHOW SERIES FROM cpu",
	      ONE(SER("[\"cpu,host=a,region=us\"],[\"cpu,host=b,region=eu\"],[\"cpu,host=c\"]")));
	reopen(f);
	assert_int_equal(lsm_catalog_series_id(f->c, db, key, strlen(key), &before), 0);
	assert_int_equal(before, after);
	check(f, "db", "SELECT usage FROM cpu WHERE host = 'a'",
	      ONE("{\"name\":\"cpu\",\"columns\":[\"time\",\"usage\"],\"values\":[[\"2026-01-01T00:00:40Z\",8]]}"));
	/* A new series after the reopen does not take a dropped id either. */
	write_lp(f, "db", "cpu,host=d usage=1 1767225640\n");
	assert_int_equal(lsm_catalog_series_id(f->c, db, "cpu,host=d", 10, &before), 0);
	assert_true(before > after);
}

/* ---- the catalog call itself ---- */

static void test_query_delete_catalog_drop_series(void **state)
{
	struct fx *f = *state;
	uint64_t a, b, o, ids[5];
	uint32_t db, other;
	uint64_t gen, n;

	assert_int_equal(lsm_catalog_database_id(f->c, "db", &db), 0);
	assert_int_equal(lsm_catalog_database_id(f->c, "other", &other), 0);
	assert_int_equal(lsm_catalog_series_id(f->c, db, "cpu,host=a,region=us", 20, &a), 0);
	assert_int_equal(lsm_catalog_series_id(f->c, db, "cpu,host=b,region=eu", 20, &b), 0);
	assert_int_equal(lsm_catalog_series_id(f->c, other, "cpu,host=a", 10, &o), 0);
	n = lsm_catalog_series_count(f->c);
	gen = lsm_catalog_generation(f->c);
	/* Nothing to drop: no record, no new generation. */
	assert_int_equal(lsm_catalog_drop_series(f->c, db, NULL, 0), 0);
	ids[0] = o;          /* of another database: skipped */
	ids[1] = 999999;     /* unknown: skipped */
	assert_int_equal(lsm_catalog_drop_series(f->c, db, ids, 2), 0);
	assert_int_equal(lsm_catalog_generation(f->c), gen);
	assert_int_equal(lsm_catalog_drop_series(f->c, 77, ids, 2), STRATA_ENOTFOUND);
	/* Repeated ids are dropped once. */
	ids[0] = b;
	ids[1] = o;
	ids[2] = a;
	ids[3] = b;
	ids[4] = a;
	assert_int_equal(lsm_catalog_drop_series(f->c, db, ids, 5), 0);
	assert_true(lsm_catalog_generation(f->c) > gen);
	assert_int_equal(lsm_catalog_series_count(f->c), n - 2);
	assert_int_equal(lsm_catalog_series_id(f->c, other, "cpu,host=a", 10, &o), 0);
	check(f, "db", "SHOW TAG KEYS FROM cpu",
	      ONE("{\"name\":\"cpu\",\"columns\":[\"tagKey\"],\"values\":[[\"host\"]]}"));
	reopen(f);
	assert_int_equal(lsm_catalog_series_count(f->c), n - 2);
	check(f, "db", "SHOW TAG KEYS FROM cpu",
	      ONE("{\"name\":\"cpu\",\"columns\":[\"tagKey\"],\"values\":[[\"host\"]]}"));
	check(f, "db", "SHOW SERIES", ONE(SER("[\"cpu,host=c\"],[\"mem,host=a\"]")));
}

/* ---- several retention policies ---- */

/* Writes line protocol (seconds) to policy rp of db. */
static void write_lp_rp(struct fx *f, const char *dbname, const char *rp, const char *lines)
{
	ingest_report rep;

	memset(&rep, 0, sizeof rep);
	assert_int_equal(ingest_session_write(f->s, dbname, rp, lines, strlen(lines), INGEST_LP_S, NOW_NS, true, &rep), 0);
	assert_int_equal(rep.lines_rejected, 0);
}

/* Deletes cover every policy of the database; a DELETE source naming one covers that one alone. */
static void test_query_delete_policies(void **state)
{
	struct fx *f = *state;

	check(f, "db", "CREATE RETENTION POLICY two ON db DURATION INF REPLICATION 1", NONE);
	write_lp_rp(f, "db", "two",
		    "cpu,host=a,region=us usage=10 1767225600\ncpu,host=d usage=11 1767225600\nmem,host=a free=1i 1767225600\n");
	check(f, "db", "SHOW SERIES",
	      ONE(SER("[\"cpu,host=a,region=us\"],[\"cpu,host=b,region=eu\"],[\"cpu,host=c\"],[\"cpu,host=d\"],"
		      "[\"mem,host=a\"]")));
	check(f, "db", "DELETE FROM two.cpu WHERE host = 'a'", NONE);
	check(f, "db", "SELECT usage FROM two.cpu GROUP BY host",
	      ONE("{\"name\":\"cpu\",\"tags\":{\"host\":\"d\"},\"columns\":[\"time\",\"usage\"],\"values\":[[\"" T0
		  "\",11]]}"));
	check(f, "db", CPU_Q, CPU_ALL);
	check(f, "db", "DELETE FROM nope.cpu", ERR("retention policy not found: nope"));
	/* From every policy: host a's series, and mem with them. */
	check(f, "db", "DROP SERIES WHERE host = 'a'", NONE);
	check(f, "db", "SHOW SERIES", ONE(SER("[\"cpu,host=b,region=eu\"],[\"cpu,host=c\"],[\"cpu,host=d\"]")));
	check(f, "db", "SHOW SERIES FROM two./.*/", ONE(SER("[\"cpu,host=d\"]")));
	check(f, "db", "SHOW MEASUREMENTS", ONE(MEAS("[\"cpu\"]")));
	check(f, "db", "DROP MEASUREMENT cpu", NONE);
	check(f, "db", "SHOW SERIES", NONE);
	check(f, "db", "SELECT usage FROM two.cpu", NONE);
	reopen(f);
	check(f, "db", "SHOW SERIES", NONE);
	check(f, "db", "SHOW MEASUREMENTS", NONE);
	check(f, "other", "SHOW SERIES", ONE(SER("[\"cpu,host=a\"]")));
}

/* ---- errors ---- */

static void test_query_delete_errors(void **state)
{
	struct fx *f = *state;

	check(f, "db", "DROP SERIES FROM cpu WHERE time < '2026-01-01T00:00:20Z'",
	      ERR("DROP SERIES doesn't support time in WHERE clause"));
	check(f, "db", "DROP SERIES FROM cpu WHERE host = 'a' AND time > 0",
	      ERR("DROP SERIES doesn't support time in WHERE clause"));
	check(f, "db", "DROP SERIES FROM cpu WHERE usage > 1", ERR("fields not supported in WHERE clause during deletion"));
	check(f, "db", "DELETE FROM cpu WHERE usage > 1 AND time < now()",
	      ERR("fields not supported in WHERE clause during deletion"));
	check(f, "db", "DELETE WHERE free = 100", ERR("fields not supported in WHERE clause during deletion"));
	check(f, "db", "DELETE FROM cpu WHERE usage > 1 AND time > '2026-01-01T00:00:30Z' AND time < '2026-01-01T00:00:10Z'",
	      ERR("fields not supported in WHERE clause during deletion"));
	/* The time range of a deletion must be one interval, as in SELECT. */
	check(f, "db", "DELETE FROM cpu WHERE time < now() OR host = 'a'",
	      ERR("invalid condition: time conditions cannot be combined with OR"));
	check(f, "nope", "DROP SERIES FROM cpu", ERR("database not found: nope"));
	check(f, "nope", "DELETE FROM cpu", ERR("database not found: nope"));
	check(f, "nope", "DROP MEASUREMENT cpu", ERR("database not found: nope"));
	check(f, NULL, "DROP MEASUREMENT cpu", ERR("database name required"));
	/* Nothing was deleted by the refused statements. */
	check(f, "db", CPU_Q, CPU_ALL);
	check(f, "db", "SHOW SERIES",
	      ONE(SER("[\"cpu,host=a,region=us\"],[\"cpu,host=b,region=eu\"],[\"cpu,host=c\"],[\"mem,host=a\"]")));
}

/* ---- compaction reclaims deleted points ---- */

static void test_query_delete_compaction_shrinks(void **state)
{
	struct fx *f = *state;
	enum { N = 20000 };
	size_t cap = (size_t)N * 64, len = 0;
	char *lines = malloc(cap);
	lsm_stats before, after;

	assert_non_null(lines);
	/* A day's window well in the past: closed, so a full compaction merges it down. */
	for (int i = 0; i < N; i++)
		len += (size_t)snprintf(lines + len, cap - len, "big,host=h%d v=%d.5 %lld\n", i % 10, i,
					(long long)(1767139200 + i));
	write_lp(f, "db", lines);
	free(lines);
	assert_int_equal(lsm_flush(f->db), 0);
	assert_int_equal(lsm_compact(f->db, true), 0);
	lsm_get_stats(f->db, &before);
	check(f, "db", "SELECT count(v) FROM big",
	      ONE("{\"name\":\"big\",\"columns\":[\"time\",\"count\"],\"values\":[[\"1970-01-01T00:00:00Z\",20000]]}"));
	check(f, "db", "DELETE FROM big WHERE host != 'h0'", NONE);
	check(f, "db", "SELECT count(v) FROM big",
	      ONE("{\"name\":\"big\",\"columns\":[\"time\",\"count\"],\"values\":[[\"1970-01-01T00:00:00Z\",2000]]}"));
	assert_int_equal(lsm_flush(f->db), 0);
	assert_int_equal(lsm_compact(f->db, true), 0);
	lsm_get_stats(f->db, &after);
	print_message("tables before %llu bytes, after %llu bytes\n", (unsigned long long)before.file_bytes,
		      (unsigned long long)after.file_bytes);
	assert_true(after.file_bytes < before.file_bytes / 2);
	check(f, "db", "SELECT count(v) FROM big",
	      ONE("{\"name\":\"big\",\"columns\":[\"time\",\"count\"],\"values\":[[\"1970-01-01T00:00:00Z\",2000]]}"));
	reopen(f);
	check(f, "db", "SELECT count(v) FROM big",
	      ONE("{\"name\":\"big\",\"columns\":[\"time\",\"count\"],\"values\":[[\"1970-01-01T00:00:00Z\",2000]]}"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_query_delete_drop_series, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_delete_drop_series_regex_and_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_delete_time_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_delete_all_points, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_delete_drop_measurement, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_delete_rewrite_after_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_delete_catalog_drop_series, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_delete_policies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_delete_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_delete_compaction_shrinks, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
