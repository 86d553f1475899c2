/*
 * Integration test: writes through the real `strata serve` with real
 * clients — curl (plain, gzip, v1 and v2 APIs), python3-influxdb and the
 * influx CLI's -import — then kills the server with SIGKILL, restarts it,
 * and reads every point back with `strata export`, comparing line by line.
 * Also: partial writes (400, good lines kept), field type conflicts, 404 for
 * an unknown database, 413 past the body limit, bad precision.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/server.h"

static char dir[64], data[128], log_path[128];
static test_server srv;

/* POSTs body (a file) with curl; returns the HTTP status, the response body in out. */
static int post_file(const char *path_and_query, const char *file, const char *headers, char *out, size_t len)
{
	char cmd[1024], resp[128];
	int code;

	snprintf(resp, sizeof resp, "%s/resp.txt", dir);
	snprintf(cmd, sizeof cmd,
		 "curl -s -o %s -w '%%{http_code}' %s --data-binary @%s 'http://127.0.0.1:%d%s'", resp,
		 headers ? headers : "", file, srv.port, path_and_query);
	if (test_run(cmd, out, len) != 0)
		return -1;
	code = atoi(out);
	snprintf(cmd, sizeof cmd, "cat %s", resp);
	test_run(cmd, out, len);
	return code;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int post_text(const char *path_and_query, const char *text, char *out, size_t len)
{
	char file[128];

	snprintf(file, sizeof file, "%s/body.txt", dir);
	write_text(file, text);
	return post_file(path_and_query, file, NULL, out, len);
}

static void start(const char *const *extra)
{
	if (!test_server_start(&srv, data, log_path, extra))
		fail_msg("strata serve did not come up; see %s", log_path);
}

/* Every expected line is in the export of db, and nothing else is. */
static void expect_export(const char *db, const char *const *lines, size_t n)
{
	char cmd[512];
	static char out[1 << 20];
	size_t got = 0;

	snprintf(cmd, sizeof cmd, "%s export --data %s --db %s 2>/dev/null", test_strata_bin(), data, db);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	for (size_t i = 0; i < n; i++) {
		char want[512];

		snprintf(want, sizeof want, "%s\n", lines[i]);
		if (!strstr(out, want))
			fail_msg("export of %s lacks '%s'; it has:\n%s", db, lines[i], out);
	}
	for (char *p = out; *p; p = strchr(p, '\n') + 1) {
		if (*p != '#')
			got++;
		if (!strchr(p, '\n'))
			break;
	}
	if (got != n)
		fail_msg("export of %s has %zu points, want %zu:\n%s", db, got, n, out);
}

static void test_ingest_http_clients_and_restart(void **state)
{
	char out[8192], cmd[1024], file[256];
	const char *const no_auto[] = { "--max-body-bytes", "4096", NULL };

	(void)state;
	assert_int_equal(test_make_temp_dir(dir, sizeof dir), 0);
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(log_path, sizeof log_path, "%s/serve.log", dir);
	/* Databases made offline by import: the server itself does not auto-create. */
	snprintf(cmd, sizeof cmd, "%s import --data %s --db test /dev/null 2>&1 && %s import --data %s --db py /dev/null 2>&1",
		 test_strata_bin(), data, test_strata_bin(), data);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	start(no_auto);

	/* Every field type, escapes, precision. */
	assert_int_equal(post_text("/write?db=test",
				   "cpu,host=a,region=eu usage=1.5,count=3i,ok=true,note=\"x \\\"y\\\"\" 1000000000\n"
				   "cpu,region=eu,host=b usage=2.25,count=-4i,ok=false,note=\"z\" 2000000000\n"
				   "my\\ m,t\\,k=v\\=1 f=7u 3000000000\n",
				   out, sizeof out), 204);
	assert_int_equal(post_text("/write?db=test&precision=s", "cpu,host=a,region=eu usage=9 4\n", out, sizeof out), 204);

	/* gzip. */
	snprintf(file, sizeof file, "%s/gz.txt", dir);
	write_text(file, "cpu,host=c,region=us usage=0.125 5000000000\n");
	snprintf(cmd, sizeof cmd, "gzip -f %s", file);
	assert_int_equal(test_run(cmd, NULL, 0), 0);
	strcat(file, ".gz");
	assert_int_equal(post_file("/write?db=test", file, "-H 'Content-Encoding: gzip'", out, sizeof out), 204);

	/* Partial write: the bad lines are named, the good ones kept. */
	assert_int_equal(post_text("/write?db=test",
				   "cpu,host=d,region=us usage=1 6000000000\n"
				   "cpu,host=d,region=us usage= 7000000000\n"
				   "cpu,host=d,region=us usage=2 8000000000\n",
				   out, sizeof out), 400);
	assert_non_null(strstr(out, "partial write"));
	assert_non_null(strstr(out, "line 2"));
	/* A field type conflict rejects only its line. */
	assert_int_equal(post_text("/write?db=test",
				   "cpu,host=e,region=us usage=5i 9000000000\n"
				   "cpu,host=e,region=us usage=5 9000000000\n",
				   out, sizeof out), 400);
	assert_non_null(strstr(out, "field type conflict"));
	assert_non_null(strstr(out, "line 1"));

	/* Errors: unknown database, bad precision, no database, too large. */
	assert_int_equal(post_text("/write?db=nope", "cpu v=1\n", out, sizeof out), 404);
	assert_non_null(strstr(out, "database not found"));
	assert_int_equal(post_text("/write?db=test&precision=fortnight", "cpu v=1\n", out, sizeof out), 400);
	assert_int_equal(post_text("/write", "cpu v=1\n", out, sizeof out), 400);
	{
		static char big[10000];

		for (size_t i = 0; i + 1 < sizeof big; i += 25)
			memcpy(big + i, "cpu,host=z usage=1 1000\n\n", 25 < sizeof big - 1 - i ? 25 : sizeof big - 1 - i);
		big[sizeof big - 1] = '\0';
		assert_int_equal(post_text("/write?db=test", big, out, sizeof out), 413);
	}

	/* The v2 API with a token. */
	snprintf(file, sizeof file, "%s/v2.txt", dir);
	write_text(file, "cpu,host=f,region=us usage=3.5 10\n");
	assert_int_equal(post_file("/api/v2/write?bucket=test&org=o&precision=s", file,
				   "-H 'Authorization: Token secret'", out, sizeof out), 204);

	/* python3-influxdb (Debian's python3 carries it). */
	snprintf(cmd, sizeof cmd,
		 "/usr/bin/python3 -c \"import influxdb; c = influxdb.InfluxDBClient('127.0.0.1', %d, database='py'); "
		 "print(c.write_points([{'measurement': 'py', 'tags': {'host': 'p1'}, 'fields': {'value': 0.5}, 'time': 1000000000}, "
		 "{'measurement': 'py', 'tags': {'host': 'p2'}, 'fields': {'value': 1.0}, 'time': 2000000000}], time_precision='n'))\" 2>&1",
		 srv.port);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_non_null(strstr(out, "True"));

	/* The influx CLI's import (Debian influxdb-client). */
	snprintf(file, sizeof file, "%s/import.txt", dir);
	write_text(file, "# DML\n# CONTEXT-DATABASE: test\nload,host=g value=42i 11000000000\nload,host=h value=43i 12000000000\n");
	snprintf(cmd, sizeof cmd, "influx -host 127.0.0.1 -port %d -import -path %s -precision ns 2>&1", srv.port, file);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_non_null(strstr(out, "Processed 2 inserts"));
	assert_non_null(strstr(out, "Failed 0 inserts"));

	/* A crash right after the acknowledgements: all of it is there after a restart. */
	test_server_kill(&srv);
	start(no_auto);
	assert_int_equal(test_server_stop(&srv), 0);
	{
		const char *const want[] = {
			"cpu,host=a,region=eu usage=1.5,count=3i,ok=true,note=\"x \\\"y\\\"\" 1000000000",
			"cpu,host=b,region=eu usage=2.25,count=-4i,ok=false,note=\"z\" 2000000000",
			"cpu,host=a,region=eu usage=9 4000000000",
			"cpu,host=c,region=us usage=0.125 5000000000",
			"cpu,host=d,region=us usage=1 6000000000",
			"cpu,host=d,region=us usage=2 8000000000",
			"cpu,host=e,region=us usage=5 9000000000",
			"cpu,host=f,region=us usage=3.5 10000000000",
			"my\\ m,t\\,k=v\\=1 f=7u 3000000000",
			"load,host=g value=42i 11000000000",
			"load,host=h value=43i 12000000000",
		};
		const char *const want_py[] = {
			"py,host=p1 value=0.5 1000000000",
			"py,host=p2 value=1 2000000000",
		};

		expect_export("test", want, sizeof want / sizeof want[0]);
		expect_export("py", want_py, 2);
	}

	/* The bodies of all connections share a budget: past it, 503 with Retry-After. */
	{
		const char *const tight[] = { "--max-body-bytes", "1000000", "--max-inflight-bytes", "100000", NULL };
		static char body[90000];

		start(tight);
		for (size_t i = 0; i + 1 < sizeof body; i++)
			body[i] = i % 30 == 29 ? '\n' : '#';
		body[sizeof body - 1] = '\0';
		assert_int_equal(post_text("/write?db=test", body, out, sizeof out), 503);
		assert_non_null(strstr(out, "server busy"));
		assert_int_equal(post_text("/write?db=test", "cpu,host=a,region=eu usage=1 1\n", out, sizeof out), 204);
		assert_int_equal(test_server_stop(&srv), 0);
	}
	test_remove_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ingest_http_clients_and_restart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
