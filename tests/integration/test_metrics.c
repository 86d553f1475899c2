/*
 * Integration test: /metrics of the real `strata serve` after writes over
 * HTTP (plain, gzip, partial, to an unknown database), TCP and UDP, and
 * queries of every kind (select, meta, error). The text must pass
 * `promtool check metrics` (Debian's prometheus package, installed by
 * scripts/deps.sh --test) with exit 0 and no lint problem at all; a
 * missing promtool fails the test, it never skips it. Then the values are
 * checked against what was sent: the per-listener counters, the write
 * errors by kind, and the histograms (group-commit latency, WAL group
 * sizes, query latency by kind), whose buckets must be cumulative with
 * +Inf equal to _count. A second server, with a tiny memtable, checks the
 * compaction figures once its compaction is at rest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/server.h"

#include <math.h>

/* The value of the sample whose name and labels are exactly series ("name" or "name{a=\"b\"}"), or -1. */
static double sample(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, series, n) == 0 && line[n] == ' ')
			return strtod(line + n + 1, NULL);
	}
	return -1;
}

/* GETs /metrics into out. */
static void scrape(const test_server *srv, char *out, size_t len)
{
	char cmd[256];

	snprintf(cmd, sizeof cmd, "curl -s -f http://127.0.0.1:%d/metrics", srv->port);
	assert_int_equal(test_run(cmd, out, len), 0);
	assert_true(strlen(out) + 1 < len); /* not cut short */
}

/*
 * Every histogram of the text: buckets never decrease within one label
 * set, and the +Inf bucket equals _count. Returns the number of +Inf
 * buckets seen (one per histogram and label set).
 */
static int check_histograms(const char *text)
{
	char key[512] = "", prev_key[512] = "";
	double prev = 0;
	int n_inf = 0;

	for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
		const char *b = strstr(line, "_bucket{"), *nl = strchr(line, '\n'), *le, *end;
		double v;

		assert_non_null(nl);
		if (line[0] == '#' || !b || b > nl)
			continue;
		le = strstr(b, "le=\"");
		assert_true(le && le < nl);
		/* The family and its labels without le. */
		snprintf(key, sizeof key, "%.*s", (int)(le - line), line);
		end = strchr(le + 4, '"');
		v = strtod(strchr(end, ' ') + 1, NULL);
		if (strcmp(key, prev_key) == 0)
			assert_true(v >= prev);
		snprintf(prev_key, sizeof prev_key, "%s", key);
		prev = v;
		if (strncmp(le + 4, "+Inf\"", 5) == 0) {
			char count[600];
			size_t fam = (size_t)(b - line);
			const char *labels = b + 8; /* after "_bucket{" */

			/* name_count{labels}: the labels before le, without the trailing comma. */
			if (le > labels)
				snprintf(count, sizeof count, "%.*s_count{%.*s}", (int)fam, line, (int)(le - labels - 1),
					 labels);
			else
				snprintf(count, sizeof count, "%.*s_count", (int)fam, line);
			assert_true(sample(text, count) == v);
			n_inf++;
		}
	}
	return n_inf;
}

static void post(const test_server *srv, const char *path_and_query, const char *extra, const char *body_file,
		 const char *want_code)
{
	char cmd[1024], out[4096];
	int rc;

	snprintf(cmd, sizeof cmd,
		 "curl -s -o /dev/null -w '%%{http_code}' -XPOST %s --data-binary @%s 'http://127.0.0.1:%d%s'",
		 extra, body_file, srv->port, path_and_query);
	rc = test_run(cmd, out, sizeof out);
	if (rc != 0 || strcmp(out, want_code) != 0)
		fail_msg("POST %s: curl exited %d, answer %s, expected %s; see %s", path_and_query, rc, out, want_code,
			 srv->log);
}

static void query(const test_server *srv, const char *q, const char *want_code)
{
	char cmd[1024], out[4096];
	int rc;

	snprintf(cmd, sizeof cmd,
		 "curl -s -o /dev/null -w '%%{http_code}' -XPOST 'http://127.0.0.1:%d/query?db=db0' "
		 "--data-urlencode 'q=%s'",
		 srv->port, q);
	rc = test_run(cmd, out, sizeof out);
	if (rc != 0 || strcmp(out, want_code) != 0)
		fail_msg("query %s: curl exited %d, answer %s, expected %s; see %s", q, rc, out, want_code, srv->log);
}

static void test_metrics_promtool_and_values(void **state)
{
	static char text[1 << 20];
	char dir[64], data[128], log[128], lp[128], gz[128], bad[128], metrics[128], cmd[1024], out[8192];
	test_server srv;
	int rc;

	(void)state;
	/* promtool is a test dependency: missing, the test fails and says where it comes from. */
	if (test_run("command -v promtool", out, sizeof out) != 0)
		fail_msg("promtool not found: install Debian's prometheus package (scripts/deps.sh --test)");

	assert_int_equal(test_make_temp_dir(dir, sizeof dir), 0);
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(log, sizeof log, "%s/serve.log", dir);
	snprintf(lp, sizeof lp, "%s/points.lp", dir);
	snprintf(gz, sizeof gz, "%s/points2.lp", dir);
	snprintf(bad, sizeof bad, "%s/bad.lp", dir);
	snprintf(metrics, sizeof metrics, "%s/metrics.txt", dir);
	if (!test_server_start(&srv, data, log, NULL))
		fail_msg("strata serve did not come up; see %s", log);

	query(&srv, "CREATE DATABASE db0", "200");
	test_write_file(lp, "cpu,host=a usage=1.5 1700000000000000000\n"
		       "cpu,host=b usage=2.5 1700000000000000000\n"
		       "cpu,host=a usage=3.5 1700000060000000000\n");
	test_write_file(gz, "mem,host=a used=10i 1700000000000000000\nmem,host=a used=11i 1700000060000000000\n");
	test_write_file(bad, "cpu,host=c usage=4.5 1700000000000000000\nthis is not line protocol\n");
	snprintf(cmd, sizeof cmd, "gzip -k %s", gz);
	assert_int_equal(test_run(cmd, NULL, 0), 0);
	strcat(gz, ".gz");
	post(&srv, "/write?db=db0", "", lp, "204");
	post(&srv, "/write?db=db0", "-H 'Content-Encoding: gzip'", gz, "204");
	post(&srv, "/write?db=db0", "", bad, "400");
	post(&srv, "/write?db=nosuchdb", "", lp, "404");
	post(&srv, "/write?db=db0&precision=fortnights", "", lp, "400");
	/* TCP and UDP go to the stream database (strata), on the port after the HTTP one. */
	snprintf(cmd, sizeof cmd,
		 "bash -c 'printf \"tcp_m v=1 1700000000000000000\\ntcp_m v=2 1700000001000000000\\n\" "
		 "> /dev/tcp/127.0.0.1/%d && printf \"udp_m v=1 1700000000000000000\\n\" > /dev/udp/127.0.0.1/%d'",
		 srv.port + 1, srv.port + 1);
	assert_int_equal(test_run(cmd, NULL, 0), 0);

	query(&srv, "SELECT mean(usage) FROM cpu WHERE time >= 1699999999s AND time < 1700000120s GROUP BY time(1m), host",
	      "200");
	query(&srv, "SELECT last(used) FROM mem", "200");
	query(&srv, "SHOW MEASUREMENTS", "200");
	query(&srv, "SHOW TAG VALUES WITH KEY = host", "200");
	query(&srv, "SELECT FROM WHERE", "400");                       /* parse error */
	query(&srv, "SELECT usage FROM nosuchdb..cpu", "200");          /* statement error */

	/*
	 * The stream batcher writes on its own schedule: wait (bounded) for the
	 * TCP and UDP points. A scrape reads the engine's count before the
	 * listeners': a batch written between the two reads shows in the
	 * second only, so wait for both.
	 */
	for (int i = 0; i < 100; i++) {
		scrape(&srv, text, sizeof text);
		if (sample(text, "strata_stream_points_total") >= 3 && sample(text, "strata_ingest_points_total") >= 9)
			break;
		usleep(50000);
	}

	/* promtool: exit 0 and not one line of output (lint problems are printed, exit 3). */
	test_write_file(metrics, text);
	snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", metrics);
	rc = test_run(cmd, out, sizeof out);
	if (rc != 0 || out[0] != '\0')
		fail_msg("promtool check metrics exited %d:\n%s", rc, out);

	/* Per listener. */
	assert_true(sample(text, "strata_http_points_total") == 6);
	assert_true(sample(text, "strata_http_lines_rejected_total") == 1);
	assert_true(sample(text, "strata_http_write_bytes_total") > 100);
	assert_true(sample(text, "strata_stream_points_total") == 3);
	assert_true(sample(text, "strata_stream_bytes_total") > 50);
	assert_true(sample(text, "strata_tcp_bytes_total") > 50);
	assert_true(sample(text, "strata_udp_bytes_total") > 20);
	assert_true(sample(text, "strata_udp_datagrams_total") == 1);
	assert_true(sample(text, "strata_ingest_points_total") == 9);
	/* Errors by kind. */
	assert_true(sample(text, "strata_http_write_errors_total{kind=\"not_found\"}") == 1);
	assert_true(sample(text, "strata_http_write_errors_total{kind=\"bad_request\"}") == 1);
	assert_true(sample(text, "strata_http_write_errors_total{kind=\"engine\"}") == 0);
	assert_true(sample(text, "strata_http_writes_partial_total") == 1);
	assert_true(sample(text, "strata_query_statement_errors_total") >= 1);
	/* Histograms. */
	assert_true(check_histograms(text) >= 6);
	assert_true(sample(text, "strata_commit_latency_seconds_count") >= 4);
	assert_true(sample(text, "strata_commit_latency_seconds_sum") > 0);
	assert_true(sample(text, "strata_wal_group_points_sum") == 9);
	assert_true(sample(text, "strata_wal_group_bytes_sum") == sample(text, "strata_wal_bytes_total"));
	assert_true(sample(text, "strata_query_duration_seconds_count{kind=\"select\"}") == 2);
	assert_true(sample(text, "strata_query_duration_seconds_count{kind=\"meta\"}") == 3);
	assert_true(sample(text, "strata_query_duration_seconds_count{kind=\"error\"}") == 2);
	assert_true(sample(text, "strata_query_duration_seconds_bucket{kind=\"meta\",le=\"60\"}") == 3);

	assert_int_equal(test_server_stop(&srv), 0);
	test_remove_tree(dir);
}

/*
 * The compaction figures: a server with a tiny memtable flushes every
 * write of points from 2023 (a closed window), and the background
 * compaction merges the window into its final form. At rest, every point
 * flushed is one entry, the space amplification is 1, and the engine wrote more
 * than its WAL (flushes and compactions) per WAL byte.
 */
static void test_metrics_compaction_figures(void **state)
{
	static char text[1 << 20];
	const char *extra[] = { "--memtable-bytes", "1024", NULL };
	char dir[64], data[128], log[128], lp[128], metrics[128], cmd[1024], out[8192];
	test_server srv;
	int rc, settled = 0;
	double wal, flushed, compacted, wa;

	(void)state;
	if (test_run("command -v promtool", out, sizeof out) != 0)
		fail_msg("promtool not found: install Debian's prometheus package (scripts/deps.sh --test)");
	assert_int_equal(test_make_temp_dir(dir, sizeof dir), 0);
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(log, sizeof log, "%s/serve.log", dir);
	snprintf(lp, sizeof lp, "%s/points.lp", dir);
	snprintf(metrics, sizeof metrics, "%s/metrics.txt", dir);
	if (!test_server_start(&srv, data, log, extra))
		fail_msg("strata serve did not come up; see %s", log);
	query(&srv, "CREATE DATABASE db0", "200");
	/* Four writes of 50 points each (2 hosts x 25 times), in time order. */
	for (int w = 0; w < 4; w++) {
		char body[8192];
		size_t len = 0;

		for (int t = 0; t < 25; t++)
			for (int h = 0; h < 2; h++)
				len += (size_t)snprintf(body + len, sizeof body - len,
							"cpu,host=h%d usage=%d.5 %lld\n", h, w * 25 + t,
							1700000000000000000LL + (long long)(w * 25 + t) * 10000000000LL);
		test_write_file(lp, body);
		post(&srv, "/write?db=db0", "", lp, "204");
	}
	/* A write finds the memtable full and switches it first: this one sends the last 50 to a table. */
	test_write_file(lp, "cpu,host=h0 usage=0 1700001000000000000\n");
	post(&srv, "/write?db=db0", "", lp, "204");
	/*
	 * At rest: the four flushes done (none in flight), no debt and no
	 * compaction running, seen twice in a row (bounded).
	 */
	for (int i = 0; i < 200 && settled < 2; i++) {
		scrape(&srv, text, sizeof text);
		if (sample(text, "strata_flushes_total") >= 4 && sample(text, "strata_immutable_memtable_bytes") == 0 &&
		    sample(text, "strata_compactions_total") >= 1 && sample(text, "strata_compaction_debt_bytes") == 0 &&
		    sample(text, "strata_compaction_active") == 0)
			settled++;
		else
			settled = 0;
		usleep(50000);
	}
	if (settled < 2)
		fail_msg("compaction not at rest after 10 s: %.0f flushes, %.0f compactions, debt %.0f bytes, active %.0f",
			 sample(text, "strata_flushes_total"), sample(text, "strata_compactions_total"),
			 sample(text, "strata_compaction_debt_bytes"), sample(text, "strata_compaction_active"));

	test_write_file(metrics, text);
	snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", metrics);
	rc = test_run(cmd, out, sizeof out);
	if (rc != 0 || out[0] != '\0')
		fail_msg("promtool check metrics exited %d:\n%s", rc, out);

	assert_true(sample(text, "strata_ingest_points_total") == 201);
	/* The 200 points of the tables, one entry each once merged; the last point is in the memtable. */
	assert_true(sample(text, "strata_sstable_entries") == 200);
	assert_true(sample(text, "strata_sstable_bytes") > 0);
	assert_true(sample(text, "strata_sstable_merged_bytes_estimate") == sample(text, "strata_sstable_bytes"));
	assert_true(sample(text, "strata_space_amplification") == 1);
	assert_true(sample(text, "strata_compaction_written_bytes_total") > 0);
	assert_true(sample(text, "strata_compaction_write_bytes_per_second") > 0);
	/* (WAL + flushed + compacted) / WAL, as printed (three decimals). */
	wal = sample(text, "strata_wal_bytes_total");
	flushed = sample(text, "strata_flush_bytes_total");
	compacted = sample(text, "strata_compaction_written_bytes_total");
	wa = sample(text, "strata_engine_write_amplification");
	assert_true(wal > 0 && flushed > 0);
	assert_true(wa > 1 && fabs(wa - (wal + flushed + compacted) / wal) < 0.001);

	assert_int_equal(test_server_stop(&srv), 0);
	test_remove_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_promtool_and_values),
		cmocka_unit_test(test_metrics_compaction_figures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
