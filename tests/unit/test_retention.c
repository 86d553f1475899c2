/*
 * test_retention.c — retention policies (catalog, statements) and the
 * removal of expired points: writes refused, queries that never see them,
 * whole windows dropped (also the hour-long windows of a short policy's
 * shard duration), and the compaction hook.
 */
#include "ingest/writer.h"
#include "lsm/alloc.h"
#include "lsm/catalog.h"
#include "lsm/lsm.h"
#include "lsm/retention.h"
#include "lsm/row.h"
#include "query/exec.h"
#include "tests/into_writer.h"
#include "tests/query_sink.h"
#include "tests/util.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>

#define HOUR (INT64_C(3600) * 1000000000)
#define DAY (24 * HOUR)

struct fx {
	char dir[64];
	lsm_db *db;
	lsm_catalog *c;
	query_engine *qe;
	ingest_engine ie;
	ingest_session *s;
	lsm_retention_filter filter;
	lsm_catalog_windows windows; /* the engine's series_window hook: each policy's shard duration */
	int64_t now;
};

static int64_t fx_clock(void *ctx)
{
	return ((struct fx *)ctx)->now;
}

static int64_t wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void fx_open(struct fx *f)
{
	lsm_options opt;
	ingest_options io;

	lsm_options_default(&opt);
	opt.merge = lsm_row_merge;
	opt.compact.disable = true; /* compactions only when a test asks */
	opt.compact.drop = lsm_retention_filter_drop;
	opt.compact.drop_ctx = &f->filter;
	opt.series_window = lsm_catalog_windows_hook;
	opt.series_window_ctx = &f->windows;
	assert_int_equal(lsm_open(&f->db, f->dir, &opt), 0);
	assert_int_equal(lsm_catalog_open(&f->c, f->dir), 0);
	lsm_catalog_windows_attach(&f->windows, f->c);
	lsm_retention_filter_set_catalog(&f->filter, f->c);
	assert_int_equal(query_engine_new(&f->qe, f->db, f->c, NULL), 0);
	ingest_options_default(&io);
	ingest_engine_init(&f->ie, f->db, f->c, &io);
	assert_int_equal(ingest_session_new(&f->s, &f->ie), 0);
	query_engine_set_writer(f->qe, test_into_write, f->s);
}

static void fx_close(struct fx *f)
{
	ingest_session_free(f->s);
	query_engine_free(f->qe);
	lsm_retention_filter_set_catalog(&f->filter, NULL);
	assert_int_equal(lsm_close(f->db), 0);
	lsm_catalog_windows_attach(&f->windows, NULL);
	lsm_catalog_close(f->c);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || test_make_temp_dir(f->dir, sizeof f->dir) != 0)
		return -1;
	f->now = wall_now();
	lsm_retention_filter_init(&f->filter);
	f->filter.clock = fx_clock;
	f->filter.clock_ctx = f;
	fx_open(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	fx_close(f);
	lsm_retention_filter_deinit(&f->filter);
	test_remove_tree(f->dir);
	free(f);
	return 0;
}

/* ---- running statements ---- */

/* The response to text (db= dbname, now() = f->now) must be {"results":[<want>]}. */
static void check(struct fx *f, const char *dbname, const char *text, const char *want_results)
{
	struct test_sink s = { 0 };
	query_output *o = NULL;
	query_request req = { .db = dbname, .now_ns = f->now };
	char want[4096];

	assert_int_equal(query_output_new(&o, QUERY_OUTPUT_JSON, QUERY_EPOCH_NS, test_sink_write, &s), 0);
	assert_int_equal(query_run(f->qe, text, strlen(text), &req, o), 0);
	query_output_free(o);
	assert_non_null(s.buf);
	s.buf[--s.len] = '\0'; /* the final newline */
	snprintf(want, sizeof want, "{\"results\":[%s]}", want_results);
	if (strcmp(s.buf, want) != 0)
		print_error("query: %s\n want: %s\n  got: %s\n", text, want, s.buf);
	assert_string_equal(s.buf, want);
	strata_free(s.buf);
}

#define RP_COLS "\"columns\":[\"name\",\"duration\",\"shardGroupDuration\",\"replicaN\",\"default\"]"
#define RPS(values) "{\"statement_id\":0,\"series\":[{" RP_COLS ",\"values\":[" values "]}]}"
#define OK "{\"statement_id\":0}"
#define ERR(msg) "{\"statement_id\":0,\"error\":\"" msg "\"}"

/* Writes lines to dbname at now f->now; returns the report. */
static ingest_report write_lines(struct fx *f, const char *dbname, const char *text)
{
	ingest_report r;

	assert_int_equal(ingest_session_write(f->s, dbname, NULL, text, strlen(text), INGEST_LP_NS, f->now, true, &r), 0);
	return r;
}

/* ---- the catalog ---- */

static void test_retention_catalog_persists(void **state)
{
	struct fx *f = *state;
	lsm_catalog_rp rp = { .name = "week", .duration_ns = 7 * DAY, .shard_duration_ns = DAY, .replica_n = 2,
			      .is_default = true };
	lsm_catalog_rp *rps = NULL;
	size_t n = 0;
	uint32_t a, b, store;
	int64_t keep = -1;

	assert_int_equal(lsm_catalog_create_database(f->c, "a"), 0);
	assert_int_equal(lsm_catalog_create_database(f->c, "b"), 0);
	assert_int_equal(lsm_catalog_database_id(f->c, "a", &a), 0);
	assert_int_equal(lsm_catalog_database_id(f->c, "b", &b), 0);
	/* The implicit autogen: infinite, so nothing may go by time alone. */
	assert_int_equal(lsm_catalog_retention(f->c, a, &keep), 0);
	assert_int_equal(keep, 0);
	assert_int_equal(lsm_catalog_retention_horizon(f->c), 0);

	assert_int_equal(lsm_catalog_set_rp(f->c, a, &rp, LSM_CATALOG_RP_CREATE), 0);
	/* The same again is no error; another duration under the name is. */
	assert_int_equal(lsm_catalog_set_rp(f->c, a, &rp, LSM_CATALOG_RP_CREATE), 0);
	rp.duration_ns = 8 * DAY;
	assert_int_equal(lsm_catalog_set_rp(f->c, a, &rp, LSM_CATALOG_RP_CREATE), STRATA_EINVAL);
	assert_int_equal(lsm_catalog_set_rp(f->c, a, &rp, LSM_CATALOG_RP_ALTER), 0);
	rp.is_default = false;
	memcpy(rp.name, "nope", 5);
	assert_int_equal(lsm_catalog_set_rp(f->c, a, &rp, LSM_CATALOG_RP_ALTER), STRATA_ENOTFOUND);
	/* b: created WITH a policy, which replaces autogen. */
	rp = (lsm_catalog_rp){ .name = "short", .duration_ns = 2 * HOUR, .replica_n = 1, .is_default = true };
	assert_int_equal(lsm_catalog_set_rp(f->c, b, &rp, LSM_CATALOG_RP_INITIAL), 0);
	assert_int_equal(lsm_catalog_drop_rp(f->c, a, "autogen"), 0);
	assert_int_equal(lsm_catalog_drop_rp(f->c, a, "autogen"), STRATA_ENOTFOUND);
	assert_int_equal(lsm_catalog_retention_horizon(f->c), 8 * DAY);

	/* Everything survives a reopen. */
	fx_close(f);
	fx_open(f);
	assert_int_equal(lsm_catalog_rps(f->c, a, &rps, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rps[0].name, "week");
	assert_int_equal(rps[0].duration_ns, 8 * DAY);
	assert_int_equal(rps[0].replica_n, 2);
	assert_int_equal(rps[0].shard_duration_ns, DAY);
	assert_true(rps[0].is_default);
	strata_free(rps);
	/* The window length of a store is its policy's shard duration; none recorded: 0, the engine's. */
	assert_int_equal(lsm_catalog_store(f->c, a, "week", &store), 0);
	assert_int_equal(lsm_catalog_window(f->c, store, &keep), 0);
	assert_int_equal(keep, DAY);
	assert_int_equal(lsm_catalog_store(f->c, b, "short", &store), 0);
	assert_int_equal(lsm_catalog_window(f->c, store, &keep), 0);
	assert_int_equal(keep, 0);
	assert_int_equal(lsm_catalog_rps(f->c, b, &rps, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rps[0].name, "short");
	strata_free(rps);
	assert_int_equal(lsm_catalog_retention(f->c, b, &keep), 0);
	assert_int_equal(keep, 2 * HOUR);
	assert_int_equal(lsm_catalog_retention_horizon(f->c), 8 * DAY);
	/* A database without policies holds no points and receives none: it holds nothing back. */
	assert_int_equal(lsm_catalog_drop_rp(f->c, b, "short"), 0);
	assert_int_equal(lsm_catalog_retention(f->c, b, &keep), 0);
	assert_int_equal(keep, 0);
	assert_int_equal(lsm_catalog_retention_horizon(f->c), 8 * DAY);
	fx_close(f);
	fx_open(f);
	assert_int_equal(lsm_catalog_rps(f->c, b, &rps, &n), 0);
	assert_int_equal(n, 0);
	assert_null(rps);
}

/* ---- the statements ---- */

static void test_retention_statements(void **state)
{
	struct fx *f = *state;

	check(f, NULL, "CREATE DATABASE d WITH DURATION 30d", OK);
	check(f, NULL, "SHOW RETENTION POLICIES ON d", RPS("[\"autogen\",\"720h0m0s\",\"24h0m0s\",1,true]"));
	/* The same again is fine; another policy is a conflict. */
	check(f, NULL, "CREATE DATABASE d WITH DURATION 30d", OK);
	check(f, NULL, "CREATE DATABASE d WITH DURATION 2d", ERR("retention policy conflicts with an existing policy"));
	check(f, NULL, "CREATE DATABASE e WITH DURATION 1h SHARD DURATION 1d NAME one",
	      ERR("retention policy duration must be greater than the shard duration"));
	check(f, NULL, "CREATE DATABASE e WITH DURATION 2d SHARD DURATION 1d NAME one", OK);
	check(f, "e", "SHOW RETENTION POLICIES", RPS("[\"one\",\"48h0m0s\",\"24h0m0s\",1,true]"));

	check(f, NULL, "CREATE RETENTION POLICY fast ON d DURATION 1h REPLICATION 1", OK);
	check(f, NULL, "CREATE RETENTION POLICY fast ON d DURATION 2h REPLICATION 1",
	      ERR("retention policy already exists"));
	check(f, NULL, "CREATE RETENTION POLICY fast ON d DURATION 1h REPLICATION 1 SHARD DURATION 2h",
	      ERR("retention policy duration must be greater than the shard duration"));
	check(f, NULL, "CREATE RETENTION POLICY slow ON d DURATION INF REPLICATION 3 DEFAULT", OK);
	/* Without SHARD DURATION, InfluxDB's default for the duration: 1h below 2d, 1d below 180d, else 7d. */
	check(f, NULL, "SHOW RETENTION POLICIES ON d",
	      RPS("[\"autogen\",\"720h0m0s\",\"24h0m0s\",1,false],[\"fast\",\"1h0m0s\",\"1h0m0s\",1,false],"
		  "[\"slow\",\"0s\",\"168h0m0s\",3,true]"));
	check(f, NULL, "ALTER RETENTION POLICY fast ON d DURATION 3h DEFAULT", OK);
	check(f, NULL, "ALTER RETENTION POLICY nope ON d DURATION 3h", ERR("retention policy not found: nope"));
	check(f, NULL, "ALTER RETENTION POLICY fast ON d DURATION 10m",
	      ERR("retention policy duration must be at least 1h0m0s"));
	check(f, NULL, "DROP RETENTION POLICY autogen ON d", OK);
	check(f, NULL, "DROP RETENTION POLICY autogen ON d", OK);
	check(f, "d", "SHOW RETENTION POLICIES",
	      RPS("[\"fast\",\"3h0m0s\",\"1h0m0s\",1,true],[\"slow\",\"0s\",\"168h0m0s\",3,false]"));
	check(f, NULL, "SHOW RETENTION POLICIES ON nope", ERR("database not found: nope"));

	/* FROM db.rp.m and rp= name a policy of the database; a point is in its policy's store only. */
	write_lines(f, "d", "m v=1\n");
	check(f, "d", "SELECT v FROM d.nope.m", ERR("retention policy not found: nope"));
	check(f, "d", "SELECT v FROM d.autogen.m", ERR("retention policy not found: autogen"));
	check(f, "d", "SELECT count(v) FROM d.fast.m",
	      "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"count\"],\"values\":[[0,1]]}]}");
	check(f, "d", "SELECT count(v) FROM d.slow.m", OK);
	check(f, "d", "SELECT v FROM d.slow.m, d.fast.m", ERR("a statement reads one retention policy: slow and fast"));
	check(f, "d", "SELECT v FROM d.slow.m, m", ERR("a statement reads one retention policy: slow and the default"));
	check(f, "d", "SELECT count(v) FROM d.fast.m, m",
	      "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"count\"],\"values\":[[0,1]]}]}");
}

/* Reopens the catalog and engine: policy rp of database db (NULL: the default) is still in store want. */
static void reopen_keeps_store(struct fx *f, uint32_t db, const char *rp, uint32_t want)
{
	uint32_t store = 0;

	fx_close(f);
	fx_open(f);
	assert_int_equal(lsm_catalog_store(f->c, db, rp, &store), 0);
	assert_int_equal(store, want);
}

/* The points of each policy (rp=, FROM db.rp.m, INTO db.rp.m) are kept apart, each under its own retention. */
static void test_retention_policies_keep_points_apart(void **state)
{
	struct fx *f = *state;
	query_request req = { .db = "d", .rp = "short", .now_ns = f->now };
	char text[256], want[512];
	long long old = (long long)(f->now - 3 * HOUR), young = (long long)(f->now - HOUR);
	uint32_t d, store_auto, store_short, store_again;
	uint8_t k[LSM_UKEY_LEN];
	uint64_t sid;
	int64_t keep = -1;
	ingest_report r;

	check(f, NULL, "CREATE DATABASE d", OK);
	check(f, NULL, "CREATE RETENTION POLICY short ON d DURATION 2h REPLICATION 1", OK);
	assert_int_equal(lsm_catalog_database_id(f->c, "d", &d), 0);
	assert_int_equal(lsm_catalog_store(f->c, d, NULL, &store_auto), 0);
	assert_int_equal(store_auto, d);
	assert_int_equal(lsm_catalog_store(f->c, d, "short", &store_short), 0);
	assert_true(store_short != d);
	assert_int_equal(lsm_catalog_store(f->c, d, "nope", &store_again), STRATA_ENOTFOUND);
	assert_int_equal(lsm_catalog_retention(f->c, store_short, &keep), 0);
	assert_int_equal(keep, 2 * HOUR);
	assert_int_equal(lsm_catalog_retention(f->c, d, &keep), 0);
	assert_int_equal(keep, 0);
	assert_int_equal(lsm_catalog_retention_horizon(f->c), 0);

	/* The same series under two policies: the old point is beyond short's retention only. */
	snprintf(text, sizeof text, "m,h=a v=1 %lld\n", old);
	assert_int_equal(write_lines(f, "d", text).points, 1);
	snprintf(text, sizeof text, "m,h=a v=2 %lld\nm,h=a v=3 %lld\n", old, young);
	assert_int_equal(ingest_session_write(f->s, "d", "short", text, strlen(text), INGEST_LP_NS, f->now, true, &r), 0);
	assert_int_equal(r.points, 1);
	assert_int_equal(r.beyond_retention, 1);
	assert_int_equal(ingest_session_write(f->s, "d", "nope", text, strlen(text), INGEST_LP_NS, f->now, true, &r),
			 STRATA_ENOTFOUND);
	snprintf(want, sizeof want,
		 "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"v\"],\"values\":[[%lld,1]]}]}", old);
	check(f, "d", "SELECT v FROM m", want);
	check(f, "d", "SELECT v FROM d.autogen.m", want);
	snprintf(want, sizeof want,
		 "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"v\"],\"values\":[[%lld,3]]}]}", young);
	check(f, "d", "SELECT v FROM d.short.m", want);
	{
		/* rp= of the request picks the policy of statements that name none. */
		struct test_sink s = { 0 };
		query_output *o = NULL;
		char full[600];

		assert_int_equal(query_output_new(&o, QUERY_OUTPUT_JSON, QUERY_EPOCH_NS, test_sink_write, &s), 0);
		assert_int_equal(query_run(f->qe, "SELECT v FROM m", 15, &req, o), 0);
		query_output_free(o);
		snprintf(full, sizeof full, "{\"results\":[%s]}\n", want);
		assert_string_equal(s.buf, full);
		strata_free(s.buf);
	}
	/* One series key, two series: one per store. */
	check(f, "d", "SHOW SERIES", "{\"statement_id\":0,\"series\":[{\"columns\":[\"key\"],\"values\":[[\"m,h=a\"]]}]}");
	check(f, "d", "SHOW MEASUREMENTS",
	      "{\"statement_id\":0,\"series\":[{\"name\":\"measurements\",\"columns\":[\"name\"],\"values\":[[\"m\"]]}]}");

	/* Compaction's filter drops a store's points past that store's policy, not the other's. */
	assert_int_equal(lsm_catalog_series_id(f->c, store_short, "m,h=a", 5, &sid), 0);
	lsm_ukey_encode(k, sid, old);
	assert_true(lsm_retention_filter_drop(&f->filter, k));
	assert_int_equal(lsm_catalog_series_id(f->c, d, "m,h=a", 5, &sid), 0);
	lsm_ukey_encode(k, sid, old);
	assert_false(lsm_retention_filter_drop(&f->filter, k));

	/* INTO db.rp.m writes into that policy's store; without a policy, into the default one. */
	check(f, "d", "SELECT v INTO d.short.copy FROM d.short.m",
	      "{\"statement_id\":0,\"series\":[{\"name\":\"result\",\"columns\":[\"time\",\"written\"],\"values\":[[0,1]]}]}");
	check(f, "d", "SELECT v FROM copy", OK);
	check(f, "d", "SELECT count(v) FROM d.short.copy",
	      "{\"statement_id\":0,\"series\":[{\"name\":\"copy\",\"columns\":[\"time\",\"count\"],\"values\":[[0,1]]}]}");

	/* Dropping a policy forgets its points; one made again under the name starts empty, also after a reopen. */
	check(f, NULL, "DROP RETENTION POLICY short ON d", OK);
	check(f, "d", "SELECT v FROM d.short.m", ERR("retention policy not found: short"));
	check(f, NULL, "CREATE RETENTION POLICY short ON d DURATION 2h REPLICATION 1", OK);
	assert_int_equal(lsm_catalog_store(f->c, d, "short", &store_again), 0);
	assert_true(store_again != store_short && store_again != d);
	check(f, "d", "SELECT v FROM d.short.m", OK);
	reopen_keeps_store(f, d, "short", store_again);
	check(f, "d", "SELECT v FROM d.short.m", OK);
	store_short = store_again;
	snprintf(want, sizeof want,
		 "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"v\"],\"values\":[[%lld,1]]}]}", old);
	check(f, "d", "SELECT v FROM m", want);

	/* Without a default policy, a write or query naming none is refused. */
	check(f, NULL, "DROP RETENTION POLICY autogen ON d", OK);
	check(f, "d", "SELECT v FROM m", ERR("retention policy not found: database \\\"d\\\" has no default policy"));
	assert_int_equal(ingest_session_write(f->s, "d", NULL, text, strlen(text), INGEST_LP_NS, f->now, true, &r),
			 STRATA_ENOTFOUND);
	assert_int_equal(lsm_catalog_retention_horizon(f->c), 2 * HOUR);
	/* The database's own store is not given to a later policy (a write racing the drop stays out of it). */
	check(f, NULL, "CREATE RETENTION POLICY again ON d DURATION 1h REPLICATION 1 DEFAULT", OK);
	assert_int_equal(lsm_catalog_store(f->c, d, "again", &store_again), 0);
	assert_true(store_again != d && store_again != store_short);
	check(f, "d", "SELECT v FROM m", OK);
	reopen_keeps_store(f, d, NULL, store_again);
}

/* ---- expired points: writes and queries ---- */

static void test_retention_writes_beyond_refused(void **state)
{
	struct fx *f = *state;
	char text[256];
	ingest_report r;

	check(f, NULL, "CREATE DATABASE d WITH DURATION 1h", OK);
	snprintf(text, sizeof text, "m v=1 %lld\nm v=2 %lld\nm v=3 %lld\n", (long long)(f->now - 2 * HOUR),
		 (long long)(f->now - 30 * 60 * INT64_C(1000000000)), (long long)(f->now - 3 * HOUR));
	r = write_lines(f, "d", text);
	assert_int_equal(r.points, 1);
	assert_int_equal(r.beyond_retention, 2);
	assert_int_equal(r.lines_rejected, 2);
	assert_non_null(strstr(r.errors, "line 1: point beyond retention policy"));
	assert_int_equal(atomic_load(&f->ie.counters.points_beyond_retention), 2);
	check(f, "d", "SELECT count(v) FROM m",
	      "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"count\"],\"values\":[[0,1]]}]}");
}

static void test_retention_queries_skip_expired(void **state)
{
	struct fx *f = *state;
	char text[256], want[512];
	long long old = (long long)(f->now - 5 * HOUR), young = (long long)(f->now - HOUR);

	/* Written while the database kept everything, then its retention shrinks. */
	check(f, NULL, "CREATE DATABASE d", OK);
	snprintf(text, sizeof text, "m v=1 %lld\nm v=2 %lld\n", old, young);
	assert_int_equal(write_lines(f, "d", text).points, 2);
	check(f, NULL, "ALTER RETENTION POLICY autogen ON d DURATION 2h", OK);
	snprintf(want, sizeof want,
		 "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"v\"],\"values\":[[%lld,2]]}]}",
		 young);
	check(f, "d", "SELECT v FROM m", want);
	/* Also from the tables, before any compaction or window drop removed it. */
	assert_int_equal(lsm_flush(f->db), 0);
	check(f, "d", "SELECT v FROM m", want);
	check(f, "d", "SELECT count(v) FROM m WHERE time > 0",
	      "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"count\"],\"values\":[[1,1]]}]}");
	snprintf(want, sizeof want,
		 "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"first\"],\"values\":[[%lld,2]]}]}",
		 young);
	check(f, "d", "SELECT first(v) FROM m", want);
}

/* ---- removing expired points from disk ---- */

static void put_point(struct fx *f, uint64_t sid, int64_t ts)
{
	lsm_batch b;
	uint8_t k[LSM_UKEY_LEN];

	lsm_batch_init(&b);
	lsm_ukey_encode(k, sid, ts);
	assert_int_equal(lsm_batch_put(&b, k, (const uint8_t *)"x", 1), 0);
	assert_int_equal(lsm_write(f->db, &b, 0), 0);
	lsm_batch_deinit(&b);
}

static bool has_point(struct fx *f, uint64_t sid, int64_t ts)
{
	uint8_t k[LSM_UKEY_LEN], *v = NULL;
	size_t len;
	int rc;

	lsm_ukey_encode(k, sid, ts);
	rc = lsm_get(f->db, k, &v, &len);
	strata_free(v);
	assert_true(rc == 0 || rc == STRATA_ENOTFOUND);
	return rc == 0;
}

static void test_retention_drop_windows(void **state)
{
	struct fx *f = *state;
	int64_t w = lsm_db_window_ns(f->db), base = 100 * w;
	lsm_stats st;

	/* Three windows: [base - 2w, base - w), [base - w, base), [base, base + w). */
	put_point(f, 1, base - 2 * w + 5);
	put_point(f, 1, base - w + 5);
	put_point(f, 1, base + 5);
	assert_int_equal(lsm_flush(f->db), 0);
	put_point(f, 2, base - w + 7);
	assert_int_equal(lsm_flush(f->db), 0);
	lsm_get_stats(f->db, &st);
	assert_int_equal(st.n_windows, 3);
	assert_int_equal(st.n_files, 4);

	/* A window that ends after ts stays whole, even when ts is inside it. */
	assert_int_equal(lsm_drop_windows_before(f->db, base - w + 1), 1);
	assert_false(has_point(f, 1, base - 2 * w + 5));
	assert_true(has_point(f, 1, base - w + 5));
	/* The end of a window is enough. */
	assert_int_equal(lsm_drop_windows_before(f->db, base), 2);
	assert_false(has_point(f, 1, base - w + 5));
	assert_false(has_point(f, 2, base - w + 7));
	assert_true(has_point(f, 1, base + 5));
	assert_int_equal(lsm_drop_windows_before(f->db, base), 0);
	lsm_get_stats(f->db, &st);
	assert_int_equal(st.n_windows, 1);
	assert_int_equal(st.n_files, 1);
	/* The edit is durable. */
	fx_close(f);
	fx_open(f);
	assert_false(has_point(f, 1, base - w + 5));
	assert_true(has_point(f, 1, base + 5));
}

static void test_retention_compaction_drops_expired(void **state)
{
	struct fx *f = *state;
	int64_t w = lsm_db_window_ns(f->db), start = (f->now / w - 3) * w; /* a closed window */
	char text[512];
	uint64_t keep_sid, short_sid;
	uint32_t db;

	check(f, NULL, "CREATE DATABASE forever", OK);
	check(f, NULL, "CREATE DATABASE brief", OK);
	/* Points of one window in two tables, in both databases. */
	snprintf(text, sizeof text, "m v=1 %lld\nm v=2 %lld\n", (long long)(start + 1), (long long)(start + 2));
	assert_int_equal(write_lines(f, "forever", text).points, 2);
	assert_int_equal(write_lines(f, "brief", text).points, 2);
	assert_int_equal(lsm_flush(f->db), 0);
	snprintf(text, sizeof text, "m v=3 %lld\n", (long long)(start + HOUR));
	assert_int_equal(write_lines(f, "forever", text).points, 1);
	assert_int_equal(write_lines(f, "brief", text).points, 1);
	assert_int_equal(lsm_flush(f->db), 0);
	assert_int_equal(lsm_catalog_database_id(f->c, "forever", &db), 0);
	assert_int_equal(lsm_catalog_series_id(f->c, db, "m", 1, &keep_sid), 0);
	assert_int_equal(lsm_catalog_database_id(f->c, "brief", &db), 0);
	assert_int_equal(lsm_catalog_series_id(f->c, db, "m", 1, &short_sid), 0);

	/* brief keeps points for a day, so at now its points before now - 1d go. */
	check(f, NULL, "ALTER RETENTION POLICY autogen ON brief DURATION 1d", OK);
	f->now = start + DAY + HOUR / 2; /* start + 1 and + 2 expired, start + 1h not yet */
	assert_int_equal(lsm_compact(f->db, true), 0);
	assert_int_equal(lsm_retention_filter_dropped(&f->filter), 2);
	assert_false(has_point(f, short_sid, start + 1));
	assert_false(has_point(f, short_sid, start + 2));
	assert_true(has_point(f, short_sid, start + HOUR));
	assert_true(has_point(f, keep_sid, start + 1));
	assert_true(has_point(f, keep_sid, start + 2));
	assert_true(has_point(f, keep_sid, start + HOUR));
}

/*
 * A policy of three hours gets InfluxDB's shard duration for it, an hour:
 * its points are in hour-long windows, and the one that ended more than
 * three hours ago is dropped while the next, which ends later, stays.
 */
static void test_retention_drops_short_windows(void **state)
{
	struct fx *f = *state;
	int64_t hour0 = (f->now / HOUR) * HOUR;
	char text[512];
	uint64_t sid;
	uint32_t db;
	lsm_stats st;

	check(f, NULL, "CREATE DATABASE brief WITH DURATION 3h", OK);
	check(f, "brief", "SHOW RETENTION POLICIES", RPS("[\"autogen\",\"3h0m0s\",\"1h0m0s\",1,true]"));
	f->now = hour0 + HOUR / 6;
	snprintf(text, sizeof text, "m v=1 %lld\nm v=2 %lld\nm v=3 %lld\n", (long long)(hour0 - 2 * HOUR + 5),
		 (long long)(hour0 - HOUR + 5), (long long)(hour0 + 5));
	assert_int_equal(write_lines(f, "brief", text).points, 3);
	assert_int_equal(lsm_flush(f->db), 0);
	assert_int_equal(lsm_catalog_database_id(f->c, "brief", &db), 0);
	assert_int_equal(lsm_catalog_series_id(f->c, db, "m", 1, &sid), 0);
	lsm_get_stats(f->db, &st);
	assert_int_equal(st.n_windows, 3); /* one per hour (a day's window would hold two or three) */

	/* What the retention thread does: now - the longest retention. */
	f->now = hour0 + 2 * HOUR + HOUR / 2;
	assert_int_equal(lsm_catalog_retention_horizon(f->c), 3 * HOUR);
	assert_int_equal(lsm_drop_windows_before(f->db, f->now - 3 * HOUR), 1);
	assert_false(has_point(f, sid, hour0 - 2 * HOUR + 5));
	assert_true(has_point(f, sid, hour0 - HOUR + 5));
	assert_true(has_point(f, sid, hour0 + 5));
	lsm_get_stats(f->db, &st);
	assert_int_equal(st.n_windows, 2);

	/* A longer shard duration from now on: later points go to a day's window, the hours stay readable. */
	check(f, NULL, "ALTER RETENTION POLICY autogen ON brief DURATION 2d SHARD DURATION 1d", OK);
	check(f, "brief", "SHOW RETENTION POLICIES", RPS("[\"autogen\",\"48h0m0s\",\"24h0m0s\",1,true]"));
	snprintf(text, sizeof text, "m v=4 %lld\n", (long long)(hour0 + HOUR + 5));
	assert_int_equal(write_lines(f, "brief", text).points, 1);
	fx_close(f);
	fx_open(f);
	assert_true(has_point(f, sid, hour0 - HOUR + 5));
	assert_true(has_point(f, sid, hour0 + 5));
	assert_true(has_point(f, sid, hour0 + HOUR + 5));
	lsm_get_stats(f->db, &st);
	assert_int_equal(st.n_windows, 3);
}

/*
 * Windows go by their length's horizon: a three-hour policy's hour-long
 * windows are dropped although another database keeps its points forever
 * (in the engine's day-long windows, which stay); once a policy that keeps
 * its points forever also records an hour, hour-long windows stay too,
 * until it is dropped. The catalog remembers which lengths each store used,
 * across a reopen and an ALTER to another length.
 */
static void test_retention_drops_by_window_length(void **state)
{
	struct fx *f = *state;
	int64_t hour0 = (f->now / HOUR) * HOUR, horizon = -1;
	char text[512];
	uint64_t brief, keep;
	uint32_t db;

	check(f, NULL, "CREATE DATABASE keep", OK);
	check(f, NULL, "CREATE DATABASE brief WITH DURATION 3h", OK);
	f->now = hour0 + HOUR / 6;
	snprintf(text, sizeof text, "m v=1 %lld\nm v=2 %lld\nm v=3 %lld\n", (long long)(hour0 - 2 * HOUR + 5),
		 (long long)(hour0 - HOUR + 5), (long long)(hour0 + 5));
	assert_int_equal(write_lines(f, "brief", text).points, 3);
	assert_int_equal(write_lines(f, "keep", text).points, 3);
	assert_int_equal(lsm_flush(f->db), 0);
	assert_int_equal(lsm_catalog_database_id(f->c, "brief", &db), 0);
	assert_int_equal(lsm_catalog_series_id(f->c, db, "m", 1, &brief), 0);
	assert_int_equal(lsm_catalog_database_id(f->c, "keep", &db), 0);
	assert_int_equal(lsm_catalog_series_id(f->c, db, "m", 1, &keep), 0);
	assert_int_equal(lsm_catalog_retention_horizon(f->c), 0); /* keep's autogen: forever */
	assert_int_equal(lsm_catalog_window_horizon(f->c, HOUR, &horizon), 1);
	assert_int_equal(horizon, 3 * HOUR);
	assert_int_equal(lsm_catalog_window_horizon(f->c, 2 * HOUR, &horizon), 0);

	f->now = hour0 + 2 * HOUR + HOUR / 2;
	assert_int_equal(lsm_drop_expired(f->db, f->c, f->now), 1);
	assert_false(has_point(f, brief, hour0 - 2 * HOUR + 5));
	assert_true(has_point(f, brief, hour0 - HOUR + 5));
	for (int64_t h = -2; h <= 0; h++)
		assert_true(has_point(f, keep, hour0 + h * HOUR + 5));

	/* A policy that keeps its points forever in hour-long windows: hour-long windows stay. */
	check(f, NULL, "CREATE RETENTION POLICY ever ON brief DURATION INF REPLICATION 1 SHARD DURATION 1h", OK);
	assert_int_equal(lsm_catalog_window_horizon(f->c, HOUR, &horizon), 1);
	assert_int_equal(horizon, 0);
	f->now = hour0 + 4 * HOUR;
	assert_int_equal(lsm_drop_expired(f->db, f->c, f->now), 0);
	assert_true(has_point(f, brief, hour0 - HOUR + 5));
	check(f, NULL, "DROP RETENTION POLICY ever ON brief", OK);

	/* brief moves to day-long windows; its hours are still its own, also after a reopen. */
	check(f, NULL, "ALTER RETENTION POLICY autogen ON brief DURATION 2d SHARD DURATION 1d", OK);
	check(f, NULL, "ALTER RETENTION POLICY autogen ON brief DURATION 3h SHARD DURATION 1h", OK);
	fx_close(f);
	fx_open(f);
	assert_int_equal(lsm_catalog_window_horizon(f->c, HOUR, &horizon), 1);
	assert_int_equal(horizon, 3 * HOUR);
	assert_int_equal(lsm_drop_expired(f->db, f->c, f->now), 2);
	assert_false(has_point(f, brief, hour0 - HOUR + 5));
	assert_false(has_point(f, brief, hour0 + 5));
	for (int64_t h = -2; h <= 0; h++)
		assert_true(has_point(f, keep, hour0 + h * HOUR + 5));
}

/* Writes text to policy rp of d at f->now; all its points must be written. */
static void write_rp(struct fx *f, const char *rp, const char *text, uint64_t points)
{
	ingest_report r;

	assert_int_equal(ingest_session_write(f->s, "d", rp, text, strlen(text), INGEST_LP_NS, f->now, true, &r), 0);
	assert_int_equal(r.points, points);
}

/*
 * Two policies of one database, an hour's and a day's shard duration: a
 * flush writes each store's points in windows of its own length; after an
 * ALTER of the short one to a day, its points go to the day's window beside
 * the other policy's; each policy reads exactly its points, also reopened.
 */
static void test_retention_stores_keep_their_window_lengths(void **state)
{
	struct fx *f = *state;
	int64_t day = (f->now / DAY) * DAY - DAY; /* yesterday, midnight */
	char text[512];
	lsm_stats st;

	check(f, NULL, "CREATE DATABASE d WITH DURATION 2d SHARD DURATION 1h NAME short", OK);
	check(f, NULL, "CREATE RETENTION POLICY long ON d DURATION 30d REPLICATION 1", OK);
	check(f, "d", "SHOW RETENTION POLICIES",
	      RPS("[\"short\",\"48h0m0s\",\"1h0m0s\",1,true],[\"long\",\"720h0m0s\",\"24h0m0s\",1,false]"));
	snprintf(text, sizeof text, "m v=1 %lld\nm v=2 %lld\nm v=3 %lld\n", (long long)(day + HOUR + 1),
		 (long long)(day + 2 * HOUR + 1), (long long)(day + 3 * HOUR + 1));
	write_rp(f, "short", text, 3);
	write_rp(f, "long", text, 3);
	assert_int_equal(lsm_flush(f->db), 0);
	lsm_get_stats(f->db, &st);
	assert_int_equal(st.n_windows, 3 + 1); /* three hours of short, one day of long */
	assert_int_equal(st.n_files, 3 + 1);

	check(f, NULL, "ALTER RETENTION POLICY short ON d SHARD DURATION 1d", OK);
	snprintf(text, sizeof text, "m v=4 %lld\nm v=5 %lld\n", (long long)(day + 2 * HOUR + 1),
		 (long long)(day + 5 * HOUR + 1));
	write_rp(f, "short", text, 2);
	assert_int_equal(lsm_flush(f->db), 0);
	lsm_get_stats(f->db, &st);
	assert_int_equal(st.n_windows, 3 + 1); /* short's new table is in long's window: (a day, that day) */
	assert_int_equal(st.n_files, 3 + 1 + 1);
	for (int round = 0; round < 2; round++) {
		check(f, "d", "SELECT count(v), sum(v) FROM d.short.m",
		      "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"count\",\"sum\"],"
		      "\"values\":[[0,4,13]]}]}");
		check(f, "d", "SELECT count(v), sum(v) FROM d.long.m",
		      "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"count\",\"sum\"],"
		      "\"values\":[[0,3,6]]}]}");
		fx_close(f);
		fx_open(f);
	}
	/* Compacted, the same. */
	assert_int_equal(lsm_compact(f->db, true), 0);
	check(f, "d", "SELECT count(v), sum(v) FROM d.short.m",
	      "{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"count\",\"sum\"],"
	      "\"values\":[[0,4,13]]}]}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_retention_catalog_persists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_statements, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_policies_keep_points_apart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_writes_beyond_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_queries_skip_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_drop_windows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_compaction_drops_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_drops_short_windows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_stores_keep_their_window_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_drops_by_window_length, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
