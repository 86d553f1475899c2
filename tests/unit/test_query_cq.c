/*
 * test_query_cq.c — continuous queries (query/cq.h): their statements,
 * their runs over closed intervals giving exactly what the same aggregate
 * asked directly gives, no gap and no duplicate across a restart of the
 * store, catching up after a pause, and a damaged state file reported.
 */
#include "ingest/writer.h"
#include "lsm/alloc.h"
#include "lsm/catalog.h"
#include "lsm/lsm.h"
#include "lsm/row.h"
#include "lsm/status.h"
#include "query/cq.h"
#include "query/exec.h"
#include "query/output.h"
#include "tests/into_writer.h"
#include "tests/query_sink.h"
#include "tests/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>

#define S_NS INT64_C(1000000000)
#define T0 (INT64_C(1767225600) * S_NS) /* 2026-01-01T00:00:00Z */

struct fx {
	char dir[64];
	lsm_db *db;
	lsm_catalog *c;
	ingest_engine ie;
	ingest_session *session;
	query_engine *qe;
	query_cq_store *cqs;
};


/* The JSON answer of text at now (epoch ns), without the final newline; the caller frees it. */
static char *ask(struct fx *f, const char *text, int64_t now)
{
	struct test_sink s = { 0 };
	query_output *o = NULL;
	query_request req = { .db = "db", .now_ns = now };

	assert_int_equal(query_output_new(&o, QUERY_OUTPUT_JSON, QUERY_EPOCH_NS, test_sink_write, &s), 0);
	assert_int_equal(query_run(f->qe, text, strlen(text), &req, o), 0);
	query_output_free(o);
	assert_non_null(s.buf);
	s.buf[s.len - 1] = '\0';
	return s.buf;
}

static void expect(struct fx *f, const char *text, int64_t now, const char *want)
{
	char *got = ask(f, text, now);

	if (strcmp(got, want) != 0)
		fail_msg("query: %s\n want: %s\n  got: %s", text, want, got);
	strata_free(got);
}

static void open_store(struct fx *f)
{
	assert_int_equal(query_cq_open(&f->cqs, f->dir), 0);
	query_engine_set_cqs(f->qe, f->cqs);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	lsm_options opt;
	ingest_options iopt;
	char lines[16384];
	size_t n = 0;
	ingest_report rep;

	if (!f || test_make_temp_dir(f->dir, sizeof f->dir) != 0)
		return -1;
	lsm_options_default(&opt);
	opt.merge = lsm_row_merge;
	if (lsm_open(&f->db, f->dir, &opt) != 0 || lsm_catalog_open(&f->c, f->dir) != 0 ||
	    lsm_catalog_create_database(f->c, "db") != 0)
		return -1;
	ingest_options_default(&iopt);
	ingest_engine_init(&f->ie, f->db, f->c, &iopt);
	if (ingest_session_new(&f->session, &f->ie) != 0 || query_engine_new(&f->qe, f->db, f->c, NULL) != 0)
		return -1;
	query_engine_set_writer(f->qe, test_into_write, f->session);
	/* Two hosts, one point every 10 s for 10 minutes: v = minute * 10 + second / 10. */
	for (int host = 0; host < 2; host++)
		for (int s = 0; s < 600; s += 10)
			n += (size_t)snprintf(lines + n, sizeof lines - n, "cpu,host=h%d v=%d %lld\n", host,
					      (s / 60) * 10 + (s % 60) / 10 + host * 100,
					      (long long)(T0 + s * S_NS));
	memset(&rep, 0, sizeof rep);
	if (ingest_session_write(f->session, "db", NULL, lines, n, INGEST_LP_NS, 0, true, &rep) != 0 ||
	    rep.lines_rejected)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	query_cq_close(f->cqs);
	query_engine_free(f->qe);
	ingest_session_free(f->session);
	lsm_catalog_close(f->c);
	lsm_close(f->db);
	test_remove_tree(f->dir);
	free(f);
	return 0;
}

#define CREATE "CREATE CONTINUOUS QUERY cq ON db BEGIN SELECT mean(v), max(v) INTO cpu_1m FROM cpu GROUP BY time(1m), host END"
/* A copy of s with every "from" replaced by "to" (the caller frees it). */
static char *replace_all(const char *s, const char *from, const char *to)
{
	size_t n = 0, lf = strlen(from), lt = strlen(to);
	char *out = strata_malloc(2 * strlen(s) + 1);

	assert_non_null(out);
	while (*s) {
		if (strncmp(s, from, lf) == 0) {
			memcpy(out + n, to, lt);
			n += lt;
			s += lf;
		} else {
			out[n++] = *s++;
		}
	}
	out[n] = '\0';
	return out;
}

/* The CQ's target (read by target_q) holds, per host, exactly what the same aggregate over [T0, to) gives directly. */
static void same_as(struct fx *f, const char *target_q, const char *target_name, int64_t to, int64_t now)
{
	char direct_q[256], name[64];
	char *direct, *target, *renamed;

	snprintf(direct_q, sizeof direct_q,
		 "SELECT mean(v), max(v) FROM cpu WHERE time >= %lld AND time < %lld GROUP BY time(1m), host",
		 (long long)T0, (long long)to);
	snprintf(name, sizeof name, "\"name\":\"%s\"", target_name);
	direct = ask(f, direct_q, now);
	target = ask(f, target_q, now);
	renamed = replace_all(target, name, "\"name\":\"cpu\"");
	assert_string_equal(renamed, direct);
	strata_free(direct);
	strata_free(target);
	strata_free(renamed);
}

static void same_as_direct(struct fx *f, int64_t to, int64_t now)
{
	same_as(f, "SELECT mean, max FROM cpu_1m GROUP BY host", "cpu_1m", to, now);
}

static void test_cq_statements(void **state)
{
	struct fx *f = *state;

	expect(f, CREATE, T0, "{\"results\":[{\"statement_id\":0,\"error\":\"CREATE CONTINUOUS QUERY needs a server's "
	       "data directory (strata serve or strata query)\"}]}");
	open_store(f);
	expect(f, CREATE, T0, "{\"results\":[{\"statement_id\":0}]}");
	expect(f, CREATE, T0, "{\"results\":[{\"statement_id\":0,\"error\":\"continuous query already exists\"}]}");
	expect(f, "CREATE CONTINUOUS QUERY bad ON db BEGIN SELECT mean(v) INTO x FROM cpu END", T0,
	       "{\"results\":[{\"statement_id\":0,\"error\":\"continuous query must have a GROUP BY time(...) "
	       "clause\"}]}");
	expect(f, "SHOW CONTINUOUS QUERIES", T0,
	       "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"db\",\"columns\":[\"name\",\"query\"],"
	       "\"values\":[[\"cq\",\"" CREATE "\"]]}]}]}");
	expect(f, "DROP CONTINUOUS QUERY cq ON db", T0, "{\"results\":[{\"statement_id\":0}]}");
	expect(f, "DROP CONTINUOUS QUERY cq ON db", T0,
	       "{\"results\":[{\"statement_id\":0,\"error\":\"continuous query not found\"}]}");
	expect(f, "SHOW CONTINUOUS QUERIES", T0,
	       "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"db\",\"columns\":[\"name\",\"query\"]}]}]}");
}

static void test_cq_runs(void **state)
{
	struct fx *f = *state;

	open_store(f);
	expect(f, CREATE, T0, "{\"results\":[{\"statement_id\":0}]}");
	/* Nothing is due before the first minute has ended. */
	assert_int_equal(query_cq_run_due(f->cqs, f->qe, T0 + 59 * S_NS), 0);
	/* Three minutes later: three runs, each over a closed minute. */
	assert_int_equal(query_cq_run_due(f->cqs, f->qe, T0 + 3 * 60 * S_NS + S_NS), 3);
	same_as_direct(f, T0 + 3 * 60 * S_NS, T0 + 10 * 60 * S_NS);
	/* A restart of the store: the state is durable, the next runs follow on (no gap, no duplicate). */
	query_cq_close(f->cqs);
	open_store(f);
	assert_int_equal(query_cq_run_due(f->cqs, f->qe, T0 + 3 * 60 * S_NS + 30 * S_NS), 0);
	assert_int_equal(query_cq_run_due(f->cqs, f->qe, T0 + 10 * 60 * S_NS), 7);
	same_as_direct(f, T0 + 10 * 60 * S_NS, T0 + 10 * 60 * S_NS);
	/* Running an interval again writes the same points: still the same answer. */
	expect(f, "SELECT count(mean) FROM cpu_1m", T0 + 20 * 60 * S_NS,
	       "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu_1m\",\"columns\":[\"time\",\"count\"],"
	       "\"values\":[[0,20]]}]}]}");
}

/* The downsampling layout of one database: a CQ writes into another policy of it, under the same name. */
static void test_cq_into_policy(void **state)
{
	struct fx *f = *state;

	open_store(f);
	expect(f, "CREATE RETENTION POLICY m1 ON db DURATION 90d REPLICATION 1", T0, "{\"results\":[{\"statement_id\":0}]}");
	expect(f, "CREATE CONTINUOUS QUERY cq ON db BEGIN SELECT mean(v), max(v) INTO db.m1.cpu FROM cpu "
	       "GROUP BY time(1m), host END", T0, "{\"results\":[{\"statement_id\":0}]}");
	assert_int_equal(query_cq_run_due(f->cqs, f->qe, T0 + 4 * 60 * S_NS), 4);
	query_cq_close(f->cqs);
	open_store(f);
	assert_int_equal(query_cq_run_due(f->cqs, f->qe, T0 + 10 * 60 * S_NS), 6);
	same_as(f, "SELECT mean, max FROM db.m1.cpu GROUP BY host", "cpu", T0 + 10 * 60 * S_NS, T0 + 10 * 60 * S_NS);
	/* The raw points are untouched by the policy's. */
	expect(f, "SELECT count(v) FROM cpu", T0 + 10 * 60 * S_NS,
	       "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"count\"],"
	       "\"values\":[[0,120]]}]}]}");
	expect(f, "SELECT count(mean) FROM db.m1.cpu", T0 + 10 * 60 * S_NS,
	       "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"count\"],"
	       "\"values\":[[0,20]]}]}]}");
}

static void test_cq_damaged_state(void **state)
{
	struct fx *f = *state;
	char path[128];
	FILE *fp;
	long size;

	open_store(f);
	expect(f, CREATE, T0, "{\"results\":[{\"statement_id\":0}]}");
	query_cq_close(f->cqs);
	f->cqs = NULL;
	snprintf(path, sizeof path, "%s/cq.state", f->dir);
	fp = fopen(path, "r+b");
	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	size = ftell(fp);
	fseek(fp, size - 5, SEEK_SET);
	fputc('#', fp);
	fclose(fp);
	assert_int_equal(query_cq_open(&f->cqs, f->dir), STRATA_ECORRUPT);
	assert_non_null(strstr(strata_last_error(), "cq.state"));
	assert_null(f->cqs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cq_statements, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cq_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cq_into_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cq_damaged_state, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
