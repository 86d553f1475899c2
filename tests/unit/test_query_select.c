/*
 * test_query_select.c — SELECT through query_run over a real data directory,
 * compared byte for byte with the JSON InfluxDB 1.x answers: raw points
 * (fields, tags, SELECT *, arithmetic, WHERE on tags, fields and time in
 * every form, ORDER BY, LIMIT, OFFSET, GROUP BY tags, SLIMIT, SOFFSET,
 * several measurements), aggregates and selectors (types, times, column
 * names, wildcards, GROUP BY time with offsets, every fill), the
 * transformations, and the errors and limits.
 *
 * The data is small and written as line protocol through the ingest
 * writer, so every expected answer can be worked out by hand. Times are
 * seconds after T0 = 2026-01-01T00:00:00Z (1767225600).
 *
 * Expected JSON is written with ' for " to stay readable; check() swaps
 * them back (check_raw() does not, for messages that hold a ').
 *
 * Tests whose comment starts "InfluxDB 1.x:" pin a behaviour of InfluxDB that
 * is easy to get wrong; the comment says where it comes from.
 */
#include "ingest/writer.h"
#include "lsm/alloc.h"
#include "lsm/catalog.h"
#include "lsm/lsm.h"
#include "lsm/row.h"
#include "lsm/status.h"
#include "query/exec.h"
#include "query/output.h"
#include "tests/into_writer.h"
#include "tests/query_sink.h"
#include "tests/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>

#define T0_S 1767225600LL
#define SEC 1000000000LL
/* now() of every query unless a test says otherwise: T0 + 1h. */
#define NOW_NS ((T0_S + 3600) * SEC)

struct fx {
	char dir[64];
	lsm_db *db;
	lsm_catalog *c;
	query_engine *qe;
	int64_t now_ns;
};

/* ---- the data (precision s) ---- */

static const char data[] =
	/* cpu: two full series, one without usage and region */
	"cpu,host=a,region=us usage=1.5,idle=90i 1767225600\n"
	"cpu,host=b,region=eu usage=3,idle=70i 1767225605\n"
	"cpu,host=a,region=us usage=2.5,idle=80i 1767225610\n"
	"cpu,host=b,region=eu usage=4.5 1767225615\n"
	"cpu,host=c idle=60i 1767225620\n"
	/* mem: strings and booleans */
	"mem,host=a status=\"ok\",up=true,free=100i 1767225600\n"
	"mem,host=a status=\"bad\",up=false,free=50i 1767225610\n"
	/* disk: another measurement for regex sources */
	"disk,host=a used=10i 1767225600\n"
	/* agg: one series for aggregates */
	"agg,host=x f=1.5,i=1i 1767225600\n"
	"agg,host=x f=2.5,i=2i 1767225610\n"
	"agg,host=x f=4,i=4i 1767225620\n"
	"agg,host=x f=8,i=4i 1767225630\n"
	/* gap: empty buckets for fill */
	"gap v=10i,w=1 1767225600\n"
	"gap v=5i,w=4 1767225620\n"
	/* ctr: raw transformations */
	"ctr v=10 1767225601\n"
	"ctr v=15 1767225602\n"
	"ctr v=10 1767225603\n"
	"ctr v=20 1767225604\n"
	/* grp, grp2: transformations over GROUP BY time (InfluxDB's own test data) */
	"grp v=10 1767225600\n"
	"grp v=15 1767225601\n"
	"grp v=20 1767225602\n"
	"grp v=25 1767225603\n"
	"grp2 v=10 1767225600\n"
	"grp2 v=20 1767225601\n";

static int setup_limits(void **state, const query_limits *limits)
{
	struct fx *f = calloc(1, sizeof(*f));
	lsm_options opt;
	ingest_options iopt;
	ingest_engine ie;
	ingest_session *s = NULL;
	ingest_report rep;

	if (!f || test_make_temp_dir(f->dir, sizeof f->dir) != 0)
		return -1;
	f->now_ns = NOW_NS;
	lsm_options_default(&opt);
	opt.merge = lsm_row_merge;
	if (lsm_open(&f->db, f->dir, &opt) != 0 || lsm_catalog_open(&f->c, f->dir) != 0)
		return -1;
	if (lsm_catalog_create_database(f->c, "db") != 0)
		return -1;
	ingest_options_default(&iopt);
	ingest_engine_init(&ie, f->db, f->c, &iopt);
	if (ingest_session_new(&s, &ie) != 0)
		return -1;
	memset(&rep, 0, sizeof rep);
	if (ingest_session_write(s, "db", NULL, data, sizeof data - 1, INGEST_LP_S, 0, false, &rep) != 0 ||
	    rep.lines_rejected != 0) {
		fprintf(stderr, "load: %.*s\n", (int)rep.errors_len, rep.errors);
		ingest_session_free(s);
		return -1;
	}
	ingest_session_free(s);
	if (query_engine_new(&f->qe, f->db, f->c, limits) != 0)
		return -1;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_limits(state, NULL);
}

static int setup_small_limits(void **state)
{
	query_limits lim;

	query_limits_default(&lim);
	lim.max_buckets = 10;
	lim.max_points = 3;
	lim.max_series = 2;
	return setup_limits(state, &lim);
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
static char *run(struct fx *f, const char *dbname, const char *text, enum query_output_epoch epoch)
{
	struct test_sink s = { 0 };
	query_output *o = NULL;
	query_request req = { .db = dbname, .now_ns = f->now_ns };

	assert_int_equal(query_output_new(&o, QUERY_OUTPUT_JSON, epoch, test_sink_write, &s), 0);
	assert_int_equal(query_run(f->qe, text, strlen(text), &req, o), 0);
	query_output_free(o);
	assert_non_null(s.buf);
	assert_true(s.len > 0 && s.buf[s.len - 1] == '\n');
	s.buf[s.len - 1] = '\0';
	return s.buf;
}

static void check_epoch(struct fx *f, const char *text, enum query_output_epoch epoch, const char *results,
			bool swap_quotes)
{
	char *got = run(f, "db", text, epoch);
	char want[16384];
	bool same;

	snprintf(want, sizeof want, "{\"results\":[%s]}", results);
	for (char *p = want; swap_quotes && *p; p++)
		if (*p == '\'')
			*p = '"';
	same = strcmp(got, want) == 0;
	if (!same)
		print_error("query: %s\n want: %s\n  got: %s\n", text, want, got);
	/* Freed before the assertion, which does not return when it fails. */
	strata_free(got);
	assert_true(same);
}

/* The response to text (db=db) must be {"results":[<results>]}, ' standing for ". */
static void check(struct fx *f, const char *text, const char *results)
{
	check_epoch(f, text, QUERY_EPOCH_RFC3339, results, true);
}

/* As check, with epoch=ns. */
static void check_ns(struct fx *f, const char *text, const char *results)
{
	check_epoch(f, text, QUERY_EPOCH_NS, results, true);
}

/* As check, without swapping quotes. */
static void check_raw(struct fx *f, const char *text, const char *results)
{
	check_epoch(f, text, QUERY_EPOCH_RFC3339, results, false);
}

/* The statement fails with a message that starts with prefix. */
static void check_error_prefix(struct fx *f, const char *text, const char *prefix)
{
	char *got = run(f, "db", text, QUERY_EPOCH_RFC3339);
	char want[1024];
	bool same;

	snprintf(want, sizeof want, "{\"results\":[{\"statement_id\":0,\"error\":\"%s", prefix);
	same = strncmp(got, want, strlen(want)) == 0;
	if (!same)
		print_error("query: %s\n want prefix: %s\n  got: %s\n", text, want, got);
	strata_free(got);
	assert_true(same);
}

/* One statement's result with the given series (a JSON list body). */
#define ONE(series) "{'statement_id':0,'series':[" series "]}"
#define NONE "{'statement_id':0}"
#define ERR(msg) "{'statement_id':0,'error':'" msg "'}"
/* A series without tags. */
#define S(name, cols, values) "{'name':'" name "','columns':['time'," cols "],'values':[" values "]}"
/* A series with tags (a JSON object body). */
#define ST(name, tags, cols, values) \
	"{'name':'" name "','tags':{" tags "},'columns':['time'," cols "],'values':[" values "]}"
/* T0 + x seconds, x two digits (under a minute). */
#define T(x) "'2026-01-01T00:00:" #x "Z'"
#define EPOCH0 "'1970-01-01T00:00:00Z'"

/* ---- raw points ---- */

static void test_select_raw_fields(void **state)
{
	struct fx *f = *state;

	/* Series merged by time; host=c has no usage and gives no row. */
	check(f, "SELECT usage FROM cpu",
	      ONE(S("cpu", "'usage'", "[" T(00) ",1.5],[" T(05) ",3],[" T(10) ",2.5],[" T(15) ",4.5]")));
	/* A row when any selected field has a value; the others are null. */
	check(f, "SELECT usage, idle FROM cpu",
	      ONE(S("cpu", "'usage','idle'",
		    "[" T(00) ",1.5,90],[" T(05) ",3,70],[" T(10) ",2.5,80],[" T(15) ",4.5,null],"
		    "[" T(20) ",null,60]")));
	check_ns(f, "SELECT usage FROM cpu WHERE host = 'a'",
		 ONE(S("cpu", "'usage'", "[1767225600000000000,1.5],[1767225610000000000,2.5]")));
	/* Strings and booleans. */
	check(f, "SELECT status, up, free FROM mem",
	      ONE(S("mem", "'status','up','free'", "[" T(00) ",'ok',true,100],[" T(10) ",'bad',false,50]")));
}

/*
 * InfluxDB 1.x: drops `time` from the selected fields (it is
 * always the first column) and an alias on it renames that column
 * (compileFields: TimeFieldName). Confidence: high.
 */
static void test_select_time_column(void **state)
{
	struct fx *f = *state;

	check(f, "SELECT time, usage FROM cpu WHERE host = 'a'",
	      ONE(S("cpu", "'usage'", "[" T(00) ",1.5],[" T(10) ",2.5]")));
	check(f, "SELECT time AS t, usage FROM cpu WHERE host = 'a'",
	      "{'statement_id':0,'series':[{'name':'cpu','columns':['t','usage'],'values':[[" T(00)
	      ",1.5],[" T(10) ",2.5]]}]}");
	check(f, "SELECT time AS t, count(usage) FROM cpu",
	      "{'statement_id':0,'series':[{'name':'cpu','columns':['t','count'],'values':[[" EPOCH0 ",4]]}]}");
}

static void test_select_raw_wildcard_and_tags(void **state)
{
	struct fx *f = *state;

	/* Fields and tags interleaved by name; a missing tag is null. */
	check(f, "SELECT * FROM cpu",
	      ONE(S("cpu", "'host','idle','region','usage'",
		    "[" T(00) ",'a',90,'us',1.5],[" T(05) ",'b',70,'eu',3],[" T(10) ",'a',80,'us',2.5],"
		    "[" T(15) ",'b',null,'eu',4.5],[" T(20) ",'c',60,null,null]")));
	check(f, "SELECT *::field FROM cpu WHERE host = 'b'",
	      ONE(S("cpu", "'idle','usage'", "[" T(05) ",70,3],[" T(15) ",null,4.5]")));
	/* A grouped tag is left out of *. */
	check(f, "SELECT * FROM cpu GROUP BY host",
	      ONE(ST("cpu", "'host':'a'", "'idle','region','usage'", "[" T(00) ",90,'us',1.5],[" T(10) ",80,'us',2.5]")
		  "," ST("cpu", "'host':'b'", "'idle','region','usage'", "[" T(05) ",70,'eu',3],[" T(15) ",null,'eu',4.5]")
		  "," ST("cpu", "'host':'c'", "'idle','region','usage'", "[" T(20) ",60,null,null]")));
	/* Tags as columns: rows come from the fields only. */
	check(f, "SELECT usage, host, region FROM cpu",
	      ONE(S("cpu", "'usage','host','region'",
		    "[" T(00) ",1.5,'a','us'],[" T(05) ",3,'b','eu'],[" T(10) ",2.5,'a','us'],[" T(15) ",4.5,'b','eu']")));
	check(f, "SELECT idle, region::tag FROM cpu WHERE host = 'c'",
	      ONE(S("cpu", "'idle','region'", "[" T(20) ",60,null]")));
}

static void test_select_raw_arithmetic(void **state)
{
	struct fx *f = *state;

	/* integer / integer is a float; + - * % of integers stay integers. */
	check(f, "SELECT usage * 2, idle / 20, idle + usage, idle % 7, idle - 100 FROM cpu WHERE host = 'a'",
	      ONE(S("cpu", "'usage','idle','idle_usage','idle_1','idle_2'",
		    "[" T(00) ",3,4.5,91.5,6,-10],[" T(10) ",5,4,82.5,3,-20]")));
	/* A null operand makes the column null; the row stays when another column has a value. */
	check(f, "SELECT idle * usage AS p, usage FROM cpu WHERE host = 'b'",
	      ONE(S("cpu", "'p','usage'", "[" T(05) ",210,3],[" T(15) ",null,4.5]")));
	/* A row whose every column is null is skipped. */
	check(f, "SELECT idle * usage FROM cpu WHERE host = 'b'", ONE(S("cpu", "'idle_usage'", "[" T(05) ",210]")));
	check(f, "SELECT (usage + 1) * 2 AS x FROM cpu WHERE host = 'a'",
	      ONE(S("cpu", "'x'", "[" T(00) ",5],[" T(10) ",7]")));
}

static void test_select_where_tags(void **state)
{
	struct fx *f = *state;

	check(f, "SELECT idle FROM cpu WHERE host = 'a'", ONE(S("cpu", "'idle'", "[" T(00) ",90],[" T(10) ",80]")));
	check(f, "SELECT idle FROM cpu WHERE host != 'a'", ONE(S("cpu", "'idle'", "[" T(05) ",70],[" T(20) ",60]")));
	check(f, "SELECT idle FROM cpu WHERE host =~ /^[bc]$/",
	      ONE(S("cpu", "'idle'", "[" T(05) ",70],[" T(20) ",60]")));
	check(f, "SELECT idle FROM cpu WHERE host !~ /b/",
	      ONE(S("cpu", "'idle'", "[" T(00) ",90],[" T(10) ",80],[" T(20) ",60]")));
	/* A tag the series lacks compares as ''. */
	check(f, "SELECT idle FROM cpu WHERE region = ''", ONE(S("cpu", "'idle'", "[" T(20) ",60]")));
	check(f, "SELECT idle FROM cpu WHERE region != 'us'", ONE(S("cpu", "'idle'", "[" T(05) ",70],[" T(20) ",60]")));
	check(f, "SELECT idle FROM cpu WHERE nokey = ''",
	      ONE(S("cpu", "'idle'", "[" T(00) ",90],[" T(05) ",70],[" T(10) ",80],[" T(20) ",60]")));
	check(f, "SELECT idle FROM cpu WHERE host = 'nobody'", NONE);
	check(f, "SELECT idle FROM cpu WHERE 'a' = host", ONE(S("cpu", "'idle'", "[" T(00) ",90],[" T(10) ",80]")));
}

static void test_select_where_fields(void **state)
{
	struct fx *f = *state;

	check(f, "SELECT usage FROM cpu WHERE usage > 2",
	      ONE(S("cpu", "'usage'", "[" T(05) ",3],[" T(10) ",2.5],[" T(15) ",4.5]")));
	/* Integers and floats compare as numbers. */
	check(f, "SELECT idle FROM cpu WHERE idle >= 80", ONE(S("cpu", "'idle'", "[" T(00) ",90],[" T(10) ",80]")));
	check(f, "SELECT idle FROM cpu WHERE idle > 79.5", ONE(S("cpu", "'idle'", "[" T(00) ",90],[" T(10) ",80]")));
	check(f, "SELECT usage FROM cpu WHERE usage = 3", ONE(S("cpu", "'usage'", "[" T(05) ",3]")));
	/* A point without the field does not match, whatever the operator. */
	check(f, "SELECT usage FROM cpu WHERE idle != 70",
	      ONE(S("cpu", "'usage'", "[" T(00) ",1.5],[" T(10) ",2.5]")));
	/* The condition's field need not be selected. */
	check(f, "SELECT free FROM mem WHERE status = 'ok'", ONE(S("mem", "'free'", "[" T(00) ",100]")));
	check(f, "SELECT free FROM mem WHERE status =~ /^b/", ONE(S("mem", "'free'", "[" T(10) ",50]")));
	check(f, "SELECT free FROM mem WHERE status !~ /^b/", ONE(S("mem", "'free'", "[" T(00) ",100]")));
	check(f, "SELECT free FROM mem WHERE up = false", ONE(S("mem", "'free'", "[" T(10) ",50]")));
	check(f, "SELECT free FROM mem WHERE up = true AND free > 10", ONE(S("mem", "'free'", "[" T(00) ",100]")));
	/* Arithmetic in the condition. */
	check(f, "SELECT idle FROM cpu WHERE idle / 10 = 7", ONE(S("cpu", "'idle'", "[" T(05) ",70]")));
}

static void test_select_where_and_or(void **state)
{
	struct fx *f = *state;

	check(f, "SELECT usage FROM cpu WHERE (host = 'a' OR usage > 4) AND usage < 4.5",
	      ONE(S("cpu", "'usage'", "[" T(00) ",1.5],[" T(10) ",2.5]")));
	check(f, "SELECT usage FROM cpu WHERE host = 'b' AND (usage < 3.5 OR usage > 4)",
	      ONE(S("cpu", "'usage'", "[" T(05) ",3],[" T(15) ",4.5]")));
	check(f, "SELECT usage FROM cpu WHERE host = 'a' OR usage > 4 AND usage < 4.5",
	      ONE(S("cpu", "'usage'", "[" T(00) ",1.5],[" T(10) ",2.5]")));
	check(f, "SELECT idle FROM cpu WHERE (host = 'a' AND idle < 85) OR (host = 'c')",
	      ONE(S("cpu", "'idle'", "[" T(10) ",80],[" T(20) ",60]")));
}

static void test_select_where_time(void **state)
{
	struct fx *f = *state;

	check(f, "SELECT usage FROM cpu WHERE time >= '2026-01-01T00:00:05Z' AND time < '2026-01-01T00:00:15Z'",
	      ONE(S("cpu", "'usage'", "[" T(05) ",3],[" T(10) ",2.5]")));
	/* > is exclusive, >= inclusive. */
	check(f, "SELECT usage FROM cpu WHERE time > '2026-01-01T00:00:05Z'",
	      ONE(S("cpu", "'usage'", "[" T(10) ",2.5],[" T(15) ",4.5]")));
	check(f, "SELECT usage FROM cpu WHERE time <= '2026-01-01T00:00:05Z'",
	      ONE(S("cpu", "'usage'", "[" T(00) ",1.5],[" T(05) ",3]")));
	check(f, "SELECT usage FROM cpu WHERE time = '2026-01-01T00:00:05Z'", ONE(S("cpu", "'usage'", "[" T(05) ",3]")));
	check(f, "SELECT usage FROM cpu WHERE '2026-01-01T00:00:10Z' <= time",
	      ONE(S("cpu", "'usage'", "[" T(10) ",2.5],[" T(15) ",4.5]")));
	/* now() is the request's (T0 + 1h). */
	check(f, "SELECT usage FROM cpu WHERE time > now() - 3590s",
	      ONE(S("cpu", "'usage'", "[" T(15) ",4.5]")));
	check(f, "SELECT usage FROM cpu WHERE time >= now() - 3590s",
	      ONE(S("cpu", "'usage'", "[" T(10) ",2.5],[" T(15) ",4.5]")));
	check(f, "SELECT usage FROM cpu WHERE time >= now() - 1h AND time < now() - 3595s",
	      ONE(S("cpu", "'usage'", "[" T(00) ",1.5]")));
	/* Epoch numbers with a unit, and plain nanoseconds. */
	check(f, "SELECT usage FROM cpu WHERE time >= 1767225605000ms AND time <= 1767225610000ms",
	      ONE(S("cpu", "'usage'", "[" T(05) ",3],[" T(10) ",2.5]")));
	check(f, "SELECT usage FROM cpu WHERE time >= 1767225610s", ONE(S("cpu", "'usage'", "[" T(10) ",2.5],[" T(15) ",4.5]")));
	check(f, "SELECT usage FROM cpu WHERE time > 1767225610000000000", ONE(S("cpu", "'usage'", "[" T(15) ",4.5]")));
	/* A date alone, and a space for the T. */
	check(f, "SELECT usage FROM cpu WHERE time < '2026-01-01'", NONE);
	check(f, "SELECT usage FROM cpu WHERE time > '2026-01-01 00:00:10'", ONE(S("cpu", "'usage'", "[" T(15) ",4.5]")));
	/* Time with tags and fields. */
	check(f, "SELECT usage FROM cpu WHERE time >= '2026-01-01T00:00:05Z' AND host = 'a' AND usage > 1",
	      ONE(S("cpu", "'usage'", "[" T(10) ",2.5]")));
	/* A raw query has no upper bound at now(). */
	f->now_ns = (T0_S + 5) * SEC;
	check(f, "SELECT usage FROM cpu WHERE time >= now() - 5s",
	      ONE(S("cpu", "'usage'", "[" T(00) ",1.5],[" T(05) ",3],[" T(10) ",2.5],[" T(15) ",4.5]")));
	/* No point in the range: no series. */
	check(f, "SELECT usage FROM cpu WHERE time > '2026-01-01T00:01:00Z'", NONE);
}

static void test_select_order_limit_offset(void **state)
{
	struct fx *f = *state;

	check(f, "SELECT usage FROM cpu ORDER BY time DESC",
	      ONE(S("cpu", "'usage'", "[" T(15) ",4.5],[" T(10) ",2.5],[" T(05) ",3],[" T(00) ",1.5]")));
	check(f, "SELECT usage FROM cpu ORDER BY time ASC LIMIT 2",
	      ONE(S("cpu", "'usage'", "[" T(00) ",1.5],[" T(05) ",3]")));
	check(f, "SELECT usage FROM cpu LIMIT 2 OFFSET 1", ONE(S("cpu", "'usage'", "[" T(05) ",3],[" T(10) ",2.5]")));
	check(f, "SELECT usage FROM cpu ORDER BY time DESC LIMIT 1 OFFSET 1", ONE(S("cpu", "'usage'", "[" T(10) ",2.5]")));
	check(f, "SELECT usage FROM cpu OFFSET 4", NONE);
	/* LIMIT counts rows per series. */
	check(f, "SELECT usage FROM cpu GROUP BY host LIMIT 1",
	      ONE(ST("cpu", "'host':'a'", "'usage'", "[" T(00) ",1.5]") ","
		  ST("cpu", "'host':'b'", "'usage'", "[" T(05) ",3]")));
}

/*
 * InfluxDB 1.x: with ORDER BY time DESC InfluxDB also walks the series in
 * descending order (the engine reverses the tag sets; the merge heaps
 * compare name and tags with > when not ascending), so host=b comes before
 * host=a. Confidence: medium to high.
 */
static void test_select_desc_series_order(void **state)
{
	struct fx *f = *state;

	check(f, "SELECT usage FROM cpu GROUP BY host ORDER BY time DESC LIMIT 1",
	      ONE(ST("cpu", "'host':'b'", "'usage'", "[" T(15) ",4.5]") ","
		  ST("cpu", "'host':'a'", "'usage'", "[" T(10) ",2.5]")));
}

static void test_select_group_by_tags(void **state)
{
	struct fx *f = *state;

	check(f, "SELECT usage FROM cpu GROUP BY host",
	      ONE(ST("cpu", "'host':'a'", "'usage'", "[" T(00) ",1.5],[" T(10) ",2.5]") ","
		  ST("cpu", "'host':'b'", "'usage'", "[" T(05) ",3],[" T(15) ",4.5]")));
	/* A series without the tag groups under ''. */
	check(f, "SELECT idle FROM cpu GROUP BY region",
	      ONE(ST("cpu", "'region':''", "'idle'", "[" T(20) ",60]") ","
		  ST("cpu", "'region':'eu'", "'idle'", "[" T(05) ",70]") ","
		  ST("cpu", "'region':'us'", "'idle'", "[" T(00) ",90],[" T(10) ",80]")));
	check(f, "SELECT idle FROM cpu GROUP BY *",
	      ONE(ST("cpu", "'host':'a','region':'us'", "'idle'", "[" T(00) ",90],[" T(10) ",80]") ","
		  ST("cpu", "'host':'b','region':'eu'", "'idle'", "[" T(05) ",70]") ","
		  ST("cpu", "'host':'c','region':''", "'idle'", "[" T(20) ",60]")));
	/* Groups in the order of their tags sorted by key: host before region. */
	check(f, "SELECT idle FROM cpu GROUP BY region, host SLIMIT 2",
	      ONE(ST("cpu", "'host':'a','region':'us'", "'idle'", "[" T(00) ",90],[" T(10) ",80]") ","
		  ST("cpu", "'host':'b','region':'eu'", "'idle'", "[" T(05) ",70]")));
	check(f, "SELECT idle FROM cpu GROUP BY host SLIMIT 1",
	      ONE(ST("cpu", "'host':'a'", "'idle'", "[" T(00) ",90],[" T(10) ",80]")));
	check(f, "SELECT idle FROM cpu GROUP BY host SLIMIT 1 SOFFSET 1",
	      ONE(ST("cpu", "'host':'b'", "'idle'", "[" T(05) ",70]")));
	check(f, "SELECT idle FROM cpu GROUP BY host SOFFSET 2", ONE(ST("cpu", "'host':'c'", "'idle'", "[" T(20) ",60]")));
	check(f, "SELECT idle FROM cpu GROUP BY host SOFFSET 3", NONE);
	check(f, "SELECT idle FROM cpu GROUP BY /^reg/",
	      ONE(ST("cpu", "'region':''", "'idle'", "[" T(20) ",60]") ","
		  ST("cpu", "'region':'eu'", "'idle'", "[" T(05) ",70]") ","
		  ST("cpu", "'region':'us'", "'idle'", "[" T(00) ",90],[" T(10) ",80]")));
	/* Grouping by a tag the measurement lacks: one group, tag ''. */
	check(f, "SELECT used FROM disk GROUP BY nokey", ONE(ST("disk", "'nokey':''", "'used'", "[" T(00) ",10]")));
}

static void test_select_sources(void **state)
{
	struct fx *f = *state;

	/* Measurements in name order, each with the statement's columns. */
	check(f, "SELECT used, free FROM /^(disk|mem)$/",
	      ONE(S("disk", "'used','free'", "[" T(00) ",10,null]") ","
		  S("mem", "'used','free'", "[" T(00) ",null,100],[" T(10) ",null,50]")));
	check(f, "SELECT used, free FROM mem, disk, mem",
	      ONE(S("disk", "'used','free'", "[" T(00) ",10,null]") ","
		  S("mem", "'used','free'", "[" T(00) ",null,100],[" T(10) ",null,50]")));
	/* A measurement without any of the fields gives no series. */
	check(f, "SELECT used FROM /^(disk|mem)$/", ONE(S("disk", "'used'", "[" T(00) ",10]")));
	/* db..m and db.rp.m without db=. */
	check_raw(f, "SELECT used FROM db..disk",
		  "{\"statement_id\":0,\"series\":[{\"name\":\"disk\",\"columns\":[\"time\",\"used\"],"
		  "\"values\":[[\"2026-01-01T00:00:00Z\",10]]}]}");
	{
		char *got = run(f, NULL, "SELECT used FROM db.autogen.disk; SELECT used FROM disk", QUERY_EPOCH_NS);
		bool same = strcmp(got, "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"disk\","
					"\"columns\":[\"time\",\"used\"],\"values\":[[1767225600000000000,10]]}]},"
					"{\"statement_id\":1,\"error\":\"database name required\"}]}") == 0;

		if (!same)
			print_error("got: %s\n", got);
		strata_free(got);
		assert_true(same);
	}
	/* Unknown measurement, field, database. */
	check(f, "SELECT usage FROM nope", NONE);
	check(f, "SELECT nope FROM cpu", NONE);
	check(f, "SELECT usage FROM /^zzz/", NONE);
	check(f, "SELECT usage FROM nope..cpu", ERR("database not found: nope"));
	/* A field and an unknown one: the unknown column is null. */
	check(f, "SELECT used, nope FROM disk", ONE(S("disk", "'used','nope'", "[" T(00) ",10,null]")));
}

/*
 * InfluxDB 1.x: a wildcard over several measurements expands to the union
 * of their fields and tags in InfluxDB (RewriteFields runs once against the
 * field dimensions of every source), so every series has the same columns.
 * Confidence: high.
 */
static void test_select_wildcard_several_measurements(void **state)
{
	struct fx *f = *state;

	check(f, "SELECT * FROM disk, mem",
	      ONE(S("disk", "'free','host','status','up','used'", "[" T(00) ",null,'a',null,null,10]") ","
		  S("mem", "'free','host','status','up','used'",
		    "[" T(00) ",100,'a','ok',true,null],[" T(10) ",50,'a','bad',false,null]")));
}

/*
 * InfluxDB 1.x: applies SLIMIT and SOFFSET to the tag sets of each
 * measurement (LimitTagSets in the engine's CreateIterator, called once per
 * measurement), so SLIMIT 1 over two measurements gives one series of each.
 * Confidence: medium.
 */
static void test_select_slimit_per_measurement(void **state)
{
	struct fx *f = *state;

	check(f, "SELECT used, free FROM disk, mem GROUP BY host SLIMIT 1",
	      ONE(ST("disk", "'host':'a'", "'used','free'", "[" T(00) ",10,null]") ","
		  ST("mem", "'host':'a'", "'used','free'", "[" T(00) ",null,100],[" T(10) ",null,50]")));
}

/* ---- aggregates ---- */

static void test_select_aggregates(void **state)
{
	struct fx *f = *state;

	/*
	 * f: 1.5 2.5 4 8 (float); i: 1 2 4 4 (integer). Sums of integers are
	 * integers, means and medians floats. Without GROUP BY time and
	 * without a lower bound the time is the epoch.
	 */
	check(f, "SELECT count(f), sum(f), sum(i), mean(f), mean(i), median(f), median(i), mode(i), spread(f), "
		 "spread(i) FROM agg",
	      ONE(S("agg", "'count','sum','sum_1','mean','mean_1','median','median_1','mode','spread','spread_1'",
		    "[" EPOCH0 ",4,16,11,4,2.75,3.25,3,4,6.5,3]")));
	check(f, "SELECT stddev(usage) FROM cpu WHERE host = 'a'", ONE(S("cpu", "'stddev'", "[" EPOCH0 ",0.7071067811865476]")));
	/* One value: null. */
	check(f, "SELECT stddev(used) FROM disk", ONE(S("disk", "'stddev'", "[" EPOCH0 ",null]")));
	check(f, "SELECT min(f), max(f), first(i), last(i) FROM agg",
	      ONE(S("agg", "'min','max','first','last'", "[" EPOCH0 ",1.5,8,1,4]")));
	check(f, "SELECT count(status), first(status), last(up), count(up) FROM mem",
	      ONE(S("mem", "'count','first','last','count_1'", "[" EPOCH0 ",2,'ok',false,2]")));
	/* Several series in one group. */
	check(f, "SELECT sum(usage), count(idle), mean(usage) FROM cpu",
	      ONE(S("cpu", "'sum','count','mean'", "[" EPOCH0 ",11.5,4,2.875]")));
	check(f, "SELECT mean(usage) FROM cpu GROUP BY host",
	      ONE(ST("cpu", "'host':'a'", "'mean'", "[" EPOCH0 ",2]") ","
		  ST("cpu", "'host':'b'", "'mean'", "[" EPOCH0 ",3.75]")));
	/* The lower time bound is the row's time. */
	check(f, "SELECT mean(f) FROM agg WHERE time >= '2025-12-31T23:00:00Z'",
	      ONE(S("agg", "'mean'", "['2025-12-31T23:00:00Z',4]")));
	check(f, "SELECT mean(f) FROM agg WHERE time > '2025-12-31T23:00:00Z' AND time < '2026-01-01T00:00:15Z'",
	      ONE(S("agg", "'mean'", "['2025-12-31T23:00:00.000000001Z',2]")));
	check(f, "SELECT count(f) FROM agg WHERE time <= '2026-01-01T00:00:10Z'", ONE(S("agg", "'count'", "[" EPOCH0 ",2]")));
	/* No point, no series. */
	check(f, "SELECT count(f) FROM agg WHERE time > '2026-01-01T00:01:00Z'", NONE);
	check(f, "SELECT mean(nope) FROM agg", NONE);
	check(f, "SELECT mean(f), mean(nope) FROM agg", ONE(S("agg", "'mean','mean_1'", "[" EPOCH0 ",4,null]")));
	/* Arithmetic over aggregates. */
	check(f, "SELECT sum(i) / count(i), max(f) - min(f) AS range, mean(f) * 2 FROM agg",
	      ONE(S("agg", "'sum_count','range','mean'", "[" EPOCH0 ",2.75,6.5,8]")));
}

/*
 * InfluxDB 1.x: InfluxDB's stddev() takes the mean first, then the sum of
 * squared deviations (FloatStddevReduceSlice, IntegerStddevReduceSlice):
 * 1 2 4 4 gives exactly 1.5 (a running update gives 1.4999999999999998).
 * Confidence: high (the last digits of a float, but the answer differs).
 */
static void test_select_stddev_exact(void **state)
{
	struct fx *f = *state;

	check(f, "SELECT stddev(i), stddev(f) FROM agg",
	      ONE(S("agg", "'stddev','stddev_1'", "[" EPOCH0 ",1.5,2.857738033247041]")));
}

static void test_select_selectors(void **state)
{
	struct fx *f = *state;

	/* A selector alone: the selected point's time. */
	check(f, "SELECT min(f) FROM agg", ONE(S("agg", "'min'", "[" T(00) ",1.5]")));
	check(f, "SELECT max(f) FROM agg", ONE(S("agg", "'max'", "[" T(30) ",8]")));
	check(f, "SELECT first(i) FROM agg", ONE(S("agg", "'first'", "[" T(00) ",1]")));
	check(f, "SELECT last(status) FROM mem", ONE(S("mem", "'last'", "[" T(10) ",'bad']")));
	/* percentile: the value at rank floor(n * p / 100 + 0.5) - 1 of the sorted values. */
	check(f, "SELECT percentile(f, 50) FROM agg", ONE(S("agg", "'percentile'", "[" T(10) ",2.5]")));
	check(f, "SELECT percentile(f, 75.0) FROM agg", ONE(S("agg", "'percentile'", "[" T(20) ",4]")));
	check(f, "SELECT percentile(f, 100) FROM agg", ONE(S("agg", "'percentile'", "[" T(30) ",8]")));
	check(f, "SELECT percentile(f, 10) FROM agg", NONE);
	/* top, bottom, sample: one row per point, in time order. */
	check(f, "SELECT top(f, 2) FROM agg", ONE(S("agg", "'top'", "[" T(20) ",4],[" T(30) ",8]")));
	check(f, "SELECT bottom(f, 2) FROM agg", ONE(S("agg", "'bottom'", "[" T(00) ",1.5],[" T(10) ",2.5]")));
	check(f, "SELECT top(i, 2) FROM agg", ONE(S("agg", "'top'", "[" T(20) ",4],[" T(30) ",4]")));
	check(f, "SELECT bottom(usage, 3) FROM cpu",
	      ONE(S("cpu", "'bottom'", "[" T(00) ",1.5],[" T(05) ",3],[" T(10) ",2.5]")));
	check(f, "SELECT sample(f, 4) FROM agg",
	      ONE(S("agg", "'sample'", "[" T(00) ",1.5],[" T(10) ",2.5],[" T(20) ",4],[" T(30) ",8]")));
	check(f, "SELECT sample(status, 10) FROM mem", ONE(S("mem", "'sample'", "[" T(00) ",'ok'],[" T(10) ",'bad']")));
	/* distinct: ascending values at the row time of an aggregate. */
	check(f, "SELECT distinct(i) FROM agg", ONE(S("agg", "'distinct'", "[" EPOCH0 ",1],[" EPOCH0 ",2],[" EPOCH0 ",4]")));
	check(f, "SELECT distinct(status) FROM mem", ONE(S("mem", "'distinct'", "[" EPOCH0 ",'bad'],[" EPOCH0 ",'ok']")));
	/* Two selectors: the aggregate row time. */
	check(f, "SELECT min(f), max(f) FROM agg", ONE(S("agg", "'min','max'", "[" EPOCH0 ",1.5,8]")));
	/* sample: N of the points, each with its own time and value. */
	{
		char *got = run(f, "db", "SELECT sample(f, 2) FROM agg", QUERY_EPOCH_NS);
		const char *p = got;
		bool columns = strstr(got, "\"columns\":[\"time\",\"sample\"]") != NULL, all_known = true;
		int rows = 0;

		while ((p = strstr(p, "[17672256")) != NULL && rows < 100) {
			static const char *const points[] = { "[1767225600000000000,1.5]", "[1767225610000000000,2.5]",
							      "[1767225620000000000,4]", "[1767225630000000000,8]" };
			bool known = false;

			for (size_t i = 0; i < 4; i++)
				known |= strncmp(p, points[i], strlen(points[i])) == 0;
			all_known &= known;
			rows++;
			p++;
		}
		if (!columns || !all_known || rows != 2)
			print_error("sample: %s\n", got);
		strata_free(got);
		assert_true(columns && all_known);
		assert_int_equal(rows, 2);
	}
	/* LIMIT over multi-row results. */
	check(f, "SELECT sample(f, 4) FROM agg LIMIT 2 OFFSET 1",
	      ONE(S("agg", "'sample'", "[" T(10) ",2.5],[" T(20) ",4]")));
}

/*
 * InfluxDB 1.x: a statement with a single selector call is a selector
 * statement in InfluxDB (buildCursor: one call, IsSelector), whatever
 * arithmetic surrounds the call, so the row takes the selected point's
 * time. Confidence: high.
 */
static void test_select_selector_in_expression(void **state)
{
	struct fx *f = *state;

	check(f, "SELECT max(f) * 2 FROM agg", ONE(S("agg", "'max'", "[" T(30) ",16]")));
}

/*
 * InfluxDB 1.x: allows tags and fields next to a single selector
 * (validateFields: OnlySelectors with one call) and returns the values of
 * the selected point, as in its documented
 * SELECT MAX("water_level"), "location" FROM "h2o_feet". Confidence: high.
 */
static void test_select_selector_with_fields(void **state)
{
	struct fx *f = *state;

	check(f, "SELECT max(f), host, i FROM agg", ONE(S("agg", "'max','host','i'", "[" T(30) ",8,'x',4]")));
	check(f, "SELECT first(usage), host FROM cpu WHERE time >= '2026-01-01T00:00:05Z'",
	      ONE(S("cpu", "'first','host'", "[" T(05) ",3,'b']")));
}

static void test_select_integral(void **state)
{
	struct fx *f = *state;

	/* Trapezoids: 20 + 32.5 + 60 per second. */
	check(f, "SELECT integral(f) FROM agg", ONE(S("agg", "'integral'", "[" EPOCH0 ",112.5]")));
	check(f, "SELECT integral(f, 10s) FROM agg", ONE(S("agg", "'integral'", "[" EPOCH0 ",11.25]")));
	check(f, "SELECT integral(f, 1m) FROM agg", ONE(S("agg", "'integral'", "[" EPOCH0 ",1.875]")));
	check(f, "SELECT integral(i) FROM agg", ONE(S("agg", "'integral'", "[" EPOCH0 ",85]")));
	/* Across buckets whose boundary falls on a point. */
	check(f, "SELECT integral(f) FROM agg WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:00:40Z' "
		 "GROUP BY time(20s)",
	      ONE(S("agg", "'integral'", "[" T(00) ",52.5],[" T(20) ",60]")));
}

/*
 * InfluxDB 1.x: InfluxDB's integral() over GROUP BY time is a stream
 * reducer returned without a fill iterator (buildCallIterator returns
 * newIntegralIterator directly): empty buckets give no row; the last bucket
 * of a series gives no row when its only point is at its start
 * (FloatIntegralReducer.Close); and the area between a bucket's last point
 * and a point two buckets later goes, past the interpolated boundary, to the
 * later bucket. Confidence: medium to high (read from the 1.x reducer).
 *
 * Points f: 1.5@0 2.5@10 4@20 8@30; 15s buckets:
 *   [0,15): 20 + (2.5+3.25)/2*5 = 34.375
 *   [15,30): (3.25+4)/2*5 + (4+8)/2*10 = 78.125
 *   [30,45): one point at its start: no row.
 */
static void test_select_integral_buckets(void **state)
{
	struct fx *f = *state;

	check(f, "SELECT integral(f) FROM agg WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:00:45Z' "
		 "GROUP BY time(15s)",
	      ONE(S("agg", "'integral'", "[" T(00) ",34.375],[" T(15) ",78.125]")));
	/*
	 * Points 1.5@0 4@20 8@30, 10s buckets: [0,10) interpolates to 2.75 at 10:
	 * 21.25; [20,30) takes (2.75+4)/2*10 + (4+8)/2*10 = 93.75; no null rows.
	 */
	check(f, "SELECT integral(f) FROM agg WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:00:40Z' "
		 "AND (f < 2 OR f > 3) GROUP BY time(10s)",
	      ONE(S("agg", "'integral'", "[" T(00) ",21.25],[" T(20) ",93.75]")));
}

static void test_select_wildcard_calls_and_names(void **state)
{
	struct fx *f = *state;

	/* fn(*): one column per field the function takes, named fn_field. */
	check(f, "SELECT mean(*) FROM agg", ONE(S("agg", "'mean_f','mean_i'", "[" EPOCH0 ",4,2.75]")));
	check(f, "SELECT mean(*) FROM mem", ONE(S("mem", "'mean_free'", "[" EPOCH0 ",75]")));
	check(f, "SELECT last(*) FROM mem", ONE(S("mem", "'last_free','last_status','last_up'", "[" EPOCH0 ",50,'bad',false]")));
	check(f, "SELECT count(*) FROM mem", ONE(S("mem", "'count_free','count_status','count_up'", "[" EPOCH0 ",2,2,2]")));
	/* One selector after the expansion: the point's time. */
	check(f, "SELECT max(/^f/) FROM mem", ONE(S("mem", "'max_free'", "[" T(00) ",100]")));
	/* Duplicates get _1, _2; aliases as written. */
	check(f, "SELECT mean(f), mean(i), mean(f) FROM agg",
	      ONE(S("agg", "'mean','mean_1','mean_2'", "[" EPOCH0 ",4,2.75,4]")));
	check(f, "SELECT mean(f) AS mf, max(i) AS \"top i\" FROM agg", ONE(S("agg", "'mf','top i'", "[" EPOCH0 ",4,4]")));
	check(f, "SELECT mean(f) + mean(i) FROM agg", ONE(S("agg", "'mean_mean'", "[" EPOCH0 ",6.75]")));
}

/*
 * InfluxDB 1.x: names columns with the aliases first
 * (SelectStatement.ColumnNames "Resolve aliases first"), so a generated
 * name that an alias takes is the one renamed: mean_1, mean.
 * Confidence: high.
 */
static void test_select_alias_reserves_name(void **state)
{
	struct fx *f = *state;

	check(f, "SELECT mean(f), mean(i) AS mean FROM agg", ONE(S("agg", "'mean_1','mean'", "[" EPOCH0 ",4,2.75]")));
}

/*
 * InfluxDB 1.x: count(distinct(f)) is InfluxDB's way to count distinct
 * values (compileFunction lets count() take a distinct() call).
 * Confidence: high.
 */
static void test_select_count_distinct(void **state)
{
	struct fx *f = *state;

	check(f, "SELECT count(distinct(i)) FROM agg", ONE(S("agg", "'count'", "[" EPOCH0 ",3]")));
}

/*
 * InfluxDB 1.x: 1.8 answers a SELECT of tags alone with an empty
 * result (its documentation: "If the SELECT clause only includes a single
 * tag key or several tag keys, the query returns an empty response"; the
 * error of 0.x is a skipped test there). Confidence: medium.
 */
static void test_select_tags_only(void **state)
{
	struct fx *f = *state;

	check(f, "SELECT host FROM cpu", NONE);
}

/*
 * InfluxDB 1.x: a retention policy other than the database's (autogen) is
 * an error in InfluxDB ("retention policy not found: nope"). Confidence: high.
 */
static void test_select_unknown_retention_policy(void **state)
{
	struct fx *f = *state;

	check(f, "SELECT used FROM db.nope.disk", ERR("retention policy not found: nope"));
}

/* ---- GROUP BY time and fill ---- */

#define AGG_RANGE "time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:00:40Z'"

static void test_select_group_by_time(void **state)
{
	struct fx *f = *state;

	check(f, "SELECT count(f), mean(f), max(f) FROM agg WHERE " AGG_RANGE " GROUP BY time(20s)",
	      ONE(S("agg", "'count','mean','max'", "[" T(00) ",2,2,2.5],[" T(20) ",2,6,8]")));
	/* A selector with GROUP BY time: the bucket's start. */
	check(f, "SELECT max(f) FROM agg WHERE " AGG_RANGE " GROUP BY time(20s)",
	      ONE(S("agg", "'max'", "[" T(00) ",2.5],[" T(20) ",8]")));
	check(f, "SELECT last(i) FROM agg WHERE " AGG_RANGE " GROUP BY time(20s)",
	      ONE(S("agg", "'last'", "[" T(00) ",2],[" T(20) ",4]")));
	/* ... but top keeps the points' times. */
	check(f, "SELECT top(f, 1) FROM agg WHERE " AGG_RANGE " GROUP BY time(20s)",
	      ONE(S("agg", "'top'", "[" T(10) ",2.5],[" T(30) ",8]")));
	check(f, "SELECT distinct(i) FROM agg WHERE " AGG_RANGE " GROUP BY time(20s)",
	      ONE(S("agg", "'distinct'", "[" T(00) ",1],[" T(00) ",2],[" T(20) ",4]")));
	/* Buckets aligned on the epoch plus the offset: the first starts before the range. */
	check(f, "SELECT count(f) FROM agg WHERE " AGG_RANGE " GROUP BY time(20s, 10s)",
	      ONE(S("agg", "'count'", "['2025-12-31T23:59:50Z',1],[" T(10) ",2],[" T(30) ",1]")));
	check(f, "SELECT count(f) FROM agg WHERE " AGG_RANGE " GROUP BY time(20s, -10s)",
	      ONE(S("agg", "'count'", "['2025-12-31T23:59:50Z',1],[" T(10) ",2],[" T(30) ",1]")));
	check_ns(f, "SELECT sum(i) FROM agg WHERE " AGG_RANGE " GROUP BY time(15s)",
		 ONE(S("agg", "'sum'", "[1767225600000000000,3],[1767225615000000000,4],[1767225630000000000,4]")));
	/* With tags. */
	check(f, "SELECT count(usage) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:00:20Z' "
		 "GROUP BY time(10s), host",
	      ONE(ST("cpu", "'host':'a'", "'count'", "[" T(00) ",1],[" T(10) ",1]") ","
		  ST("cpu", "'host':'b'", "'count'", "[" T(00) ",1],[" T(10) ",1]")));
	/* ORDER BY time DESC, LIMIT and OFFSET over buckets. */
	check(f, "SELECT count(f) FROM agg WHERE " AGG_RANGE " GROUP BY time(10s) ORDER BY time DESC LIMIT 2",
	      ONE(S("agg", "'count'", "[" T(30) ",1],[" T(20) ",1]")));
	check(f, "SELECT count(f) FROM agg WHERE " AGG_RANGE " GROUP BY time(10s) LIMIT 2 OFFSET 1",
	      ONE(S("agg", "'count'", "[" T(10) ",1],[" T(20) ",1]")));
	/* Without an upper bound the buckets end at now(): T0 + 25s leaves f@30 out. */
	f->now_ns = (T0_S + 25) * SEC;
	check(f, "SELECT count(f) FROM agg WHERE time >= '2026-01-01T00:00:00Z' GROUP BY time(20s)",
	      ONE(S("agg", "'count'", "[" T(00) ",2],[" T(20) ",1]")));
	/* Without GROUP BY time there is no such bound. */
	check(f, "SELECT count(f) FROM agg WHERE time >= '2026-01-01T00:00:00Z'",
	      ONE(S("agg", "'count'", "[" T(00) ",4]")));
}

#define GAP_RANGE "WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:00:40Z' GROUP BY time(10s)"

static void test_select_fill(void **state)
{
	struct fx *f = *state;

	/* w: 1@0, 4@20; v: 10@0, 5@20. */
	check(f, "SELECT mean(w) FROM gap " GAP_RANGE,
	      ONE(S("gap", "'mean'", "[" T(00) ",1],[" T(10) ",null],[" T(20) ",4],[" T(30) ",null]")));
	check(f, "SELECT mean(w) FROM gap " GAP_RANGE " fill(null)",
	      ONE(S("gap", "'mean'", "[" T(00) ",1],[" T(10) ",null],[" T(20) ",4],[" T(30) ",null]")));
	check(f, "SELECT mean(w) FROM gap " GAP_RANGE " fill(none)", ONE(S("gap", "'mean'", "[" T(00) ",1],[" T(20) ",4]")));
	check(f, "SELECT mean(w) FROM gap " GAP_RANGE " fill(0)",
	      ONE(S("gap", "'mean'", "[" T(00) ",1],[" T(10) ",0],[" T(20) ",4],[" T(30) ",0]")));
	check(f, "SELECT mean(w) FROM gap " GAP_RANGE " fill(-1.5)",
	      ONE(S("gap", "'mean'", "[" T(00) ",1],[" T(10) ",-1.5],[" T(20) ",4],[" T(30) ",-1.5]")));
	check(f, "SELECT mean(w) FROM gap " GAP_RANGE " fill(previous)",
	      ONE(S("gap", "'mean'", "[" T(00) ",1],[" T(10) ",1],[" T(20) ",4],[" T(30) ",4]")));
	/* count fills 0 under fill(null), the number under fill(x). */
	check(f, "SELECT count(w) FROM gap " GAP_RANGE,
	      ONE(S("gap", "'count'", "[" T(00) ",1],[" T(10) ",0],[" T(20) ",1],[" T(30) ",0]")));
	check(f, "SELECT count(w) FROM gap " GAP_RANGE " fill(none)", ONE(S("gap", "'count'", "[" T(00) ",1],[" T(20) ",1]")));
	check(f, "SELECT count(w) FROM gap " GAP_RANGE " fill(7)",
	      ONE(S("gap", "'count'", "[" T(00) ",1],[" T(10) ",7],[" T(20) ",1],[" T(30) ",7]")));
	check(f, "SELECT count(w) + 1 FROM gap " GAP_RANGE,
	      ONE(S("gap", "'count'", "[" T(00) ",2],[" T(10) ",1],[" T(20) ",2],[" T(30) ",1]")));
	/* Every call is filled on its own. */
	check(f, "SELECT count(w), mean(v) FROM gap " GAP_RANGE " fill(previous)",
	      ONE(S("gap", "'count','mean'", "[" T(00) ",1,10],[" T(10) ",1,10],[" T(20) ",1,5],[" T(30) ",1,5]")));
	/* Buckets before the first point are filled too. */
	check(f, "SELECT max(v) FROM gap WHERE time >= '2025-12-31T23:59:50Z' AND time < '2026-01-01T00:00:10Z' "
		 "GROUP BY time(10s) fill(previous)",
	      ONE(S("gap", "'max'", "['2025-12-31T23:59:50Z',null],[" T(00) ",10]")));
	/* A series without a point in the range gives no series, whatever the fill. */
	check(f, "SELECT mean(w) FROM gap WHERE time >= '2026-01-01T00:01:00Z' AND time < '2026-01-01T00:02:00Z' "
		 "GROUP BY time(10s) fill(0)",
	      NONE);
}

/*
 * InfluxDB 1.x: fill(linear) puts each empty bucket on the line through
 * the known buckets around it; integers are int64(m*x + b) (linearInteger),
 * so sum(v) 10 then 5 two buckets later gives int64(-2.5 + 10) = 7 in
 * between, not 10 + int64(-2.5) = 8.
 */
static void test_select_fill_linear(void **state)
{
	struct fx *f = *state;

	/* Between two known buckets only. */
	check(f, "SELECT mean(w) FROM gap " GAP_RANGE " fill(linear)",
	      ONE(S("gap", "'mean'", "[" T(00) ",1],[" T(10) ",2.5],[" T(20) ",4],[" T(30) ",null]")));
	check(f, "SELECT mean(w), count(v) FROM gap " GAP_RANGE " fill(linear)",
	      ONE(S("gap", "'mean','count'", "[" T(00) ",1,1],[" T(10) ",2.5,1],[" T(20) ",4,1],[" T(30) ",null,null]")));
	check(f, "SELECT sum(v) FROM gap " GAP_RANGE " fill(linear)",
	      ONE(S("gap", "'sum'", "[" T(00) ",10],[" T(10) ",7],[" T(20) ",5],[" T(30) ",null]")));
}

/*
 * InfluxDB 1.x: 1.8 runs GROUP BY time without a lower time
 * bound (compile.go no longer has validateDimensions; Prepare bounds the
 * shards by max-select-buckets instead) and starts the buckets at the
 * first point's (fillIterator: startTime == MinTime).
 * Confidence: high for 1.8 (1.0 and 1.1 refused it with this message).
 */
static void test_select_group_by_time_without_lower_bound(void **state)
{
	struct fx *f = *state;

	f->now_ns = (T0_S + 25) * SEC;
	check(f, "SELECT count(f) FROM agg GROUP BY time(20s)", ONE(S("agg", "'count'", "[" T(00) ",2],[" T(20) ",1]")));
}

/* ---- transformations ---- */

static void test_select_transform_raw(void **state)
{
	struct fx *f = *state;

	/* ctr: 10@1 15@2 10@3 20@4 */
	check(f, "SELECT derivative(v) FROM ctr",
	      ONE(S("ctr", "'derivative'", "[" T(02) ",5],[" T(03) ",-5],[" T(04) ",10]")));
	check(f, "SELECT derivative(v, 10s) FROM ctr",
	      ONE(S("ctr", "'derivative'", "[" T(02) ",50],[" T(03) ",-50],[" T(04) ",100]")));
	check(f, "SELECT non_negative_derivative(v) FROM ctr",
	      ONE(S("ctr", "'non_negative_derivative'", "[" T(02) ",5],[" T(04) ",10]")));
	check(f, "SELECT non_negative_derivative(v, 1m) FROM ctr",
	      ONE(S("ctr", "'non_negative_derivative'", "[" T(02) ",300],[" T(04) ",600]")));
	check(f, "SELECT difference(v) FROM ctr",
	      ONE(S("ctr", "'difference'", "[" T(02) ",5],[" T(03) ",-5],[" T(04) ",10]")));
	check(f, "SELECT non_negative_difference(v) FROM ctr",
	      ONE(S("ctr", "'non_negative_difference'", "[" T(02) ",5],[" T(04) ",10]")));
	check(f, "SELECT moving_average(v, 2) FROM ctr",
	      ONE(S("ctr", "'moving_average'", "[" T(02) ",12.5],[" T(03) ",12.5],[" T(04) ",15]")));
	check(f, "SELECT moving_average(v, 3) FROM ctr",
	      ONE(S("ctr", "'moving_average'", "[" T(03) ",11.666666666666666],[" T(04) ",15]")));
	check(f, "SELECT cumulative_sum(v) FROM ctr",
	      ONE(S("ctr", "'cumulative_sum'", "[" T(01) ",10],[" T(02) ",25],[" T(03) ",35],[" T(04) ",55]")));
	check(f, "SELECT elapsed(v) FROM ctr",
	      ONE(S("ctr", "'elapsed'", "[" T(02) ",1000000000],[" T(03) ",1000000000],[" T(04) ",1000000000]")));
	check(f, "SELECT elapsed(v, 1ms) FROM ctr",
	      ONE(S("ctr", "'elapsed'", "[" T(02) ",1000],[" T(03) ",1000],[" T(04) ",1000]")));
	/* Per series, and with WHERE and LIMIT. */
	check(f, "SELECT difference(usage) FROM cpu GROUP BY host",
	      ONE(ST("cpu", "'host':'a'", "'difference'", "[" T(10) ",1]") ","
		  ST("cpu", "'host':'b'", "'difference'", "[" T(15) ",1.5]")));
	check(f, "SELECT cumulative_sum(v) FROM ctr WHERE v > 10 LIMIT 1", ONE(S("ctr", "'cumulative_sum'", "[" T(02) ",15]")));
	check(f, "SELECT difference(i) FROM agg", ONE(S("agg", "'difference'", "[" T(10) ",1],[" T(20) ",2],[" T(30) ",0]")));
	check(f, "SELECT derivative(v) AS rate, cumulative_sum(v) FROM ctr",
	      ONE(S("ctr", "'rate','cumulative_sum'",
		    "[" T(01) ",null,10],[" T(02) ",5,25],[" T(03) ",-5,35],[" T(04) ",10,55]")));
}

#define GRP_RANGE "WHERE time >= '2026-01-01T00:00:00Z' AND time <= '2026-01-01T00:00:03Z'"

static void test_select_transform_over_aggregates(void **state)
{
	struct fx *f = *state;

	/* grp: 10@0 15@1 20@2 25@3; 2s buckets: mean 12.5, 22.5; sum 25, 45. */
	check(f, "SELECT derivative(mean(v)) FROM grp " GRP_RANGE " GROUP BY time(2s)",
	      ONE(S("grp", "'derivative'", "[" T(02) ",10]")));
	check(f, "SELECT derivative(mean(v), 4s) FROM grp " GRP_RANGE " GROUP BY time(2s)",
	      ONE(S("grp", "'derivative'", "[" T(02) ",20]")));
	check(f, "SELECT derivative(sum(v)) FROM grp " GRP_RANGE " GROUP BY time(2s)",
	      ONE(S("grp", "'derivative'", "[" T(02) ",20]")));
	check(f, "SELECT non_negative_derivative(max(v)) FROM grp " GRP_RANGE " GROUP BY time(2s)",
	      ONE(S("grp", "'non_negative_derivative'", "[" T(02) ",10]")));
	check(f, "SELECT difference(mean(v)) FROM grp " GRP_RANGE " GROUP BY time(2s)",
	      ONE(S("grp", "'difference'", "[" T(02) ",10]")));
	check(f, "SELECT cumulative_sum(mean(v)) FROM grp " GRP_RANGE " GROUP BY time(2s)",
	      ONE(S("grp", "'cumulative_sum'", "[" T(00) ",12.5],[" T(02) ",35]")));
	check(f, "SELECT moving_average(mean(v), 2) FROM grp " GRP_RANGE " GROUP BY time(1s)",
	      ONE(S("grp", "'moving_average'", "[" T(01) ",12.5],[" T(02) ",17.5],[" T(03) ",22.5]")));
	check(f, "SELECT elapsed(mean(v), 1s) FROM grp " GRP_RANGE " GROUP BY time(2s)",
	      ONE(S("grp", "'elapsed'", "[" T(02) ",2]")));
	/* Next to the aggregate itself. */
	check(f, "SELECT mean(v), difference(mean(v)) FROM grp " GRP_RANGE " GROUP BY time(2s)",
	      ONE(S("grp", "'mean','difference'", "[" T(00) ",12.5,null],[" T(02) ",22.5,10]")));
	/* Empty buckets (fill(null)) are skipped: the rate spans them. */
	check(f, "SELECT derivative(mean(w), 10s) FROM gap " GAP_RANGE, ONE(S("gap", "'derivative'", "[" T(20) ",1.5]")));
}

/*
 * InfluxDB 1.x: over GROUP BY time, InfluxDB reads one bucket before the
 * lower bound for derivative, difference, moving_average and elapsed
 * (buildCallIterator: opt.StartTime -= interval; compile.go ExtraIntervals)
 * and fills it, so the first bucket of the range has a value when the
 * bucket before it has one. The first two expectations are InfluxDB's own
 * (TestServer_Query_SelectGroupByTimeDerivative and ...WithFill, same
 * data). Confidence: high.
 */
static void test_select_transform_extra_bucket(void **state)
{
	struct fx *f = *state;

	/* count fills the bucket before with 0: (2 - 0) per 2s at 00. */
	check(f, "SELECT derivative(count(v)) FROM grp " GRP_RANGE " GROUP BY time(2s)",
	      ONE(S("grp", "'derivative'", "[" T(00) ",2],[" T(02) ",0]")));
	/* grp2: 10@0 20@1; fill(0) fills the bucket before and the empty one after. */
	check(f, "SELECT derivative(mean(v)) FROM grp2 " GRP_RANGE " GROUP BY time(2s) fill(0)",
	      ONE(S("grp2", "'derivative'", "[" T(00) ",15],[" T(02) ",-15]")));
	/* The bucket before the range has data: the first bucket of the range has a rate. */
	check(f, "SELECT derivative(mean(v)) FROM grp WHERE time >= '2026-01-01T00:00:02Z' AND "
		 "time <= '2026-01-01T00:00:03Z' GROUP BY time(2s)",
	      ONE(S("grp", "'derivative'", "[" T(02) ",10]")));
	/* gap: fill(0) fills the bucket before the range too: means 0 | 1 0 4 0. */
	check(f, "SELECT derivative(mean(w), 10s) FROM gap " GAP_RANGE " fill(0)",
	      ONE(S("gap", "'derivative'", "[" T(00) ",1],[" T(10) ",-1],[" T(20) ",4],[" T(30) ",-4]")));
	check(f, "SELECT difference(max(v)) FROM grp WHERE time >= '2026-01-01T00:00:02Z' AND "
		 "time <= '2026-01-01T00:00:03Z' GROUP BY time(2s)",
	      ONE(S("grp", "'difference'", "[" T(02) ",10]")));
}

/*
 * InfluxDB 1.x: with ORDER BY time DESC, InfluxDB runs derivative over the
 * points in descending order (FloatDerivativeReducer negates the elapsed
 * time when not ascending): each row is at the older point of a pair, with
 * (older - newer) / elapsed. Confidence: high.
 */
static void test_select_derivative_desc(void **state)
{
	struct fx *f = *state;

	check(f, "SELECT derivative(v) FROM ctr ORDER BY time DESC",
	      ONE(S("ctr", "'derivative'", "[" T(03) ",-10],[" T(02) ",5],[" T(01) ",-5]")));
}

/*
 * InfluxDB 1.x: a transformation is not a selector in InfluxDB
 * (compileDerivative clears OnlySelectors), so a raw field next to it is
 * "mixing aggregate and non-aggregate queries". Confidence: high.
 */
static void test_select_transform_with_raw_field(void **state)
{
	struct fx *f = *state;

	check(f, "SELECT derivative(v), v FROM ctr", ERR("mixing aggregate and non-aggregate queries is not supported"));
}

/* ---- errors ---- */

static void test_select_errors(void **state)
{
	struct fx *f = *state;

	check(f, "SELECT mean(f), f FROM agg", ERR("mixing aggregate and non-aggregate queries is not supported"));
	check(f, "SELECT count(f), * FROM agg", ERR("mixing aggregate and non-aggregate queries is not supported"));
	check(f, "SELECT foo(f) FROM agg", ERR("undefined function foo()"));
	check(f, "SELECT count(f, i) FROM agg", ERR("invalid call count(): expected 1 argument, got 2"));
	check(f, "SELECT percentile(f) FROM agg", ERR("invalid call percentile(): expected 2 arguments, got 1"));
	check(f, "SELECT top(f) FROM agg", ERR("invalid call top(): expected 2 arguments, got 1"));
	check(f, "SELECT moving_average(f) FROM agg", ERR("invalid call moving_average(): wrong number of arguments"));
	check(f, "SELECT moving_average(f, 1) FROM agg",
	      ERR("invalid call moving_average(): second argument must be greater than 1"));
	check(f, "SELECT top(f, 0) FROM agg", ERR("invalid call top(): limit (N) must be greater than 0"));
	check(f, "SELECT mean(max(f)) FROM agg",
	      ERR("mean(max()) is not supported: aggregate functions cannot be nested"));
	check(f, "SELECT top(f, 2), mean(f) FROM agg", ERR("top() cannot be combined with other functions or fields"));
	check(f, "SELECT derivative(f) FROM agg WHERE time >= '2026-01-01T00:00:00Z' GROUP BY time(10s)",
	      ERR("aggregate function required inside the call to derivative"));
	check(f, "SELECT derivative(mean(f)) FROM agg", ERR("derivative aggregate requires a GROUP BY interval"));
	check(f, "SELECT f FROM agg WHERE time >= '2026-01-01T00:00:00Z' GROUP BY time(10s)",
	      ERR("GROUP BY requires at least one aggregate function"));
	check_raw(f, "SELECT mean(f) FROM agg tz('Europe/Paris')",
		  "{\"statement_id\":0,\"error\":\"tz('Europe/Paris') is not supported: strata answers in UTC\"}");
	check(f, "SELECT mean(f) INTO agg_1 FROM agg",
	      ERR("SELECT ... INTO needs a writable engine (strata serve or strata query)"));
	check(f, "SELECT usage FROM cpu WHERE time > '2026-01-01T00:00:05Z' OR host = 'a'",
	      ERR("invalid condition: time conditions cannot be combined with OR"));
	check(f, "SELECT usage FROM cpu WHERE host = 'a' OR (time > '2026-01-01T00:00:05Z' AND usage > 1)",
	      ERR("invalid condition: time conditions cannot be combined with OR"));
	check(f, "SELECT usage FROM cpu WHERE time != '2026-01-01T00:00:05Z'",
	      ERR("invalid time comparison operator: !="));
	check(f, "SELECT usage FROM cpu WHERE time > host", ERR("invalid time expression: host"));
	check(f, "SELECT usage FROM db..cpu, other..cpu", ERR("a statement reads one database: db and other"));
	/* An error in one statement leaves the next one alone. */
	check(f, "SELECT foo(f) FROM agg; SELECT count(f) FROM agg",
	      "{'statement_id':0,'error':'undefined function foo()'},"
	      "{'statement_id':1,'series':[" S("agg", "'count'", "[" EPOCH0 ",4]") "]}");
}

/*
 * The messages of InfluxDB 1.8 for these are recorded in the report; the
 * statement must fail either way.
 */
static void test_select_regex_errors(void **state)
{
	struct fx *f = *state;

	check_error_prefix(f, "SELECT usage FROM /a(/", "error parsing regexp /a(/: ");
	check_error_prefix(f, "SELECT usage FROM cpu WHERE host =~ /a(/", "error parsing regexp /a(/: ");
	check_error_prefix(f, "SELECT free FROM mem WHERE status =~ /[z-a]/", "error parsing regexp /[z-a]/: ");
	check_error_prefix(f, "SELECT usage FROM cpu GROUP BY /(/", "error parsing regexp /(/: ");
	check_error_prefix(f, "SELECT mean(/(/) FROM cpu", "error parsing regexp /(/: ");
}

static void test_select_limits(void **state)
{
	struct fx *f = *state;

	/* max_buckets 10: 4 buckets pass, 20 do not. */
	check(f, "SELECT count(w) FROM gap " GAP_RANGE,
	      ONE(S("gap", "'count'", "[" T(00) ",1],[" T(10) ",0],[" T(20) ",1],[" T(30) ",0]")));
	check(f, "SELECT count(w) FROM gap WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:03:20Z' "
		 "GROUP BY time(10s)",
	      ERR("max-select-buckets limit exceeded: (20/10)"));
	/* max_points 3: 2 points pass, 4 do not. */
	check(f, "SELECT used, free FROM mem", ONE(S("mem", "'used','free'", "[" T(00) ",null,100],[" T(10) ",null,50]")));
	/* Rows already streamed stay; the error follows them. */
	check(f, "SELECT f FROM agg",
	      "{'statement_id':0,'series':[" S("agg", "'f'", "[" T(00) ",1.5],[" T(10) ",2.5],[" T(20) ",4]")
	      "],'error':'max-select-point limit exceeded: (4/3)'}");
	check(f, "SELECT count(f) FROM agg", ERR("max-select-point limit exceeded: (4/3)"));
	/* max_series 2: cpu has 3, a condition on tags narrows them first. */
	check(f, "SELECT usage FROM cpu WHERE host = 'a'", ONE(S("cpu", "'usage'", "[" T(00) ",1.5],[" T(10) ",2.5]")));
	check(f, "SELECT idle FROM cpu WHERE time > '2026-01-01T00:00:15Z'",
	      ERR("max-select-series limit exceeded: more than 2 series selected"));
	/* A cancelled request (its client went away) stops at the next deadline check. */
	{
		static const char text[] = "SELECT usage FROM cpu WHERE host = 'a'";
		atomic_bool cancel = true;
		struct test_sink s = { 0 };
		query_output *o = NULL;
		query_request req = { .db = "db", .now_ns = f->now_ns, .cancel = &cancel };

		assert_int_equal(query_output_new(&o, QUERY_OUTPUT_JSON, QUERY_EPOCH_RFC3339, test_sink_write, &s), 0);
		assert_int_equal(query_run(f->qe, text, strlen(text), &req, o), 0);
		query_output_free(o);
		assert_non_null(s.buf);
		assert_non_null(strstr(s.buf, "query cancelled: the client went away"));
		assert_null(strstr(s.buf, "series"));
		strata_free(s.buf);
	}
}

/* ---- SELECT ... INTO ---- */


/*
 * Rows become points of the target: GROUP BY tags as tags, columns as
 * fields, the row's time; the answer is InfluxDB's "result" series with the
 * number written; reading the target gives the rows back.
 */
static void test_select_into(void **state)
{
	struct fx *f = *state;
	ingest_options iopt;
	ingest_engine ie;
	ingest_session *s = NULL;

	check(f, "SELECT mean(usage) INTO cpu_10s FROM cpu", "{'statement_id':0,'error':'SELECT ... INTO needs a "
	      "writable engine (strata serve or strata query)'}");
	ingest_options_default(&iopt);
	ingest_engine_init(&ie, f->db, f->c, &iopt);
	assert_int_equal(ingest_session_new(&s, &ie), 0);
	query_engine_set_writer(f->qe, test_into_write, s);
	check(f, "SELECT mean(usage) AS m, count(idle) INTO cpu_10s FROM cpu WHERE time >= '2026-01-01T00:00:00Z' "
		 "AND time < '2026-01-01T00:00:20Z' GROUP BY time(10s), host",
	      ONE("{'name':'result','columns':['time','written'],'values':[['1970-01-01T00:00:00Z',4]]}"));
	check(f, "SELECT * FROM cpu_10s GROUP BY host",
	      ONE("{'name':'cpu_10s','tags':{'host':'a'},'columns':['time','count','m'],'values':[[" T(00)
		  ",1,1.5],[" T(10) ",1,2.5]]},{'name':'cpu_10s','tags':{'host':'b'},'columns':['time','count','m'],"
		  "'values':[[" T(00) ",1,3],[" T(10) ",0,4.5]]}"));
	/* Strings and booleans too; :MEASUREMENT with GROUP BY * writes each series back into itself (same points). */
	check(f, "SELECT status, up INTO db.autogen.:MEASUREMENT FROM mem GROUP BY *",
	      ONE("{'name':'result','columns':['time','written'],'values':[['1970-01-01T00:00:00Z',2]]}"));
	check(f, "SELECT * FROM mem WHERE time >= 0",
	      ONE("{'name':'mem','columns':['time','free','host','status','up'],'values':[[" T(00)
		  ",100,'a','ok',true],[" T(10) ",50,'a','bad',false]]}"));
	ingest_session_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_select_raw_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_time_column, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_raw_wildcard_and_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_raw_arithmetic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_where_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_where_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_where_and_or, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_where_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_order_limit_offset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_desc_series_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_group_by_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_wildcard_several_measurements, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_slimit_per_measurement, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_aggregates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_stddev_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_selectors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_selector_in_expression, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_selector_with_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_integral, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_integral_buckets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_wildcard_calls_and_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_alias_reserves_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_count_distinct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_tags_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_unknown_retention_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_group_by_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_fill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_fill_linear, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_group_by_time_without_lower_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_transform_raw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_transform_over_aggregates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_transform_extra_bucket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_derivative_desc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_transform_with_raw_field, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_regex_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select_limits, setup_small_limits, teardown),
		cmocka_unit_test_setup_teardown(test_select_into, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
