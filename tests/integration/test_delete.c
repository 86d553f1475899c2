/*
 * Integration test: DELETE, DROP SERIES and DROP MEASUREMENT through the
 * real `strata serve` with curl. Data written to /write:
 *
 *   cpu,host=a value=1..4  at 2026-01-01T00:00:00Z + 0, 10, 20, 30 s
 *   cpu,host=b value=10    at + 0
 *   mem,host=a used=5i     at + 0
 *
 * then a DELETE of a time range, a DROP SERIES, a DROP MEASUREMENT and
 * InfluxDB's errors, each checked with SELECT and SHOW; a series written
 * again after its drop; the results again after a clean restart and after
 * a kill -9 that follows a drop at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/server.h"

static char dir[64], data[128], log_path[128];
static test_server srv;
static char out[1 << 16];

/* POSTs q with db=d to /query; the HTTP status, the body in out. */
static int query(const char *q)
{
	char cmd[1024], qfile[128], resp[128], code[16];

	snprintf(qfile, sizeof qfile, "%s/q.txt", dir);
	snprintf(resp, sizeof resp, "%s/resp.txt", dir);
	test_write_file(qfile, q);
	snprintf(cmd, sizeof cmd,
		 "curl -s -o %s -w '%%{http_code}' --data-urlencode db=d --data-urlencode q@%s "
		 "'http://127.0.0.1:%d/query'",
		 resp, qfile, srv.port);
	if (test_run(cmd, code, sizeof code) != 0)
		return -1;
	test_read_file(resp, out, sizeof out);
	return atoi(code);
}

/* The answer to q must be 200 with {"results":[<results>]}. */
static void expect(const char *q, const char *results)
{
	char want[4096];
	int status = query(q);

	snprintf(want, sizeof want, "{\"results\":[%s]}\n", results);
	if (status != 200 || strcmp(out, want) != 0)
		fail_msg("query: %s\ngot %d:\n%s\nwant 200:\n%s", q, status, out, want);
}

/* Line protocol (seconds) to /write?db=d: must be 204. */
static void write_lp(const char *lines)
{
	char cmd[1024], file[128], code[16];

	snprintf(file, sizeof file, "%s/lines.txt", dir);
	test_write_file(file, lines);
	snprintf(cmd, sizeof cmd,
		 "curl -s -o /dev/null -w '%%{http_code}' --data-binary @%s 'http://127.0.0.1:%d/write?db=d&precision=s'",
		 file, srv.port);
	assert_int_equal(test_run(cmd, code, sizeof code), 0);
	assert_string_equal(code, "204");
}

#define NONE "{\"statement_id\":0}"
#define ONE(series) "{\"statement_id\":0,\"series\":[" series "]}"
#define ERR(msg) "{\"statement_id\":0,\"error\":\"" msg "\"}"
#define SER(values) ONE("{\"columns\":[\"key\"],\"values\":[" values "]}")
#define MEAS(values) ONE("{\"name\":\"measurements\",\"columns\":[\"name\"],\"values\":[" values "]}")
#define CPU(host, values) \
	"{\"name\":\"cpu\",\"tags\":{\"host\":\"" host "\"},\"columns\":[\"time\",\"value\"],\"values\":[" values "]}"
#define Q_CPU "SELECT value FROM cpu GROUP BY host"

static int setup(void **state)
{
	(void)state;
	if (test_make_temp_dir(dir, sizeof dir) != 0)
		return -1;
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(log_path, sizeof log_path, "%s/serve.log", dir);
	if (!test_server_start(&srv, data, log_path, NULL))
		return -1;
	if (query("CREATE DATABASE d") != 200)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	test_server_kill(&srv);
	test_remove_tree(dir);
	return 0;
}

static void restart(bool crash)
{
	if (crash)
		test_server_kill(&srv);
	else
		assert_int_equal(test_server_stop(&srv), 0);
	assert_true(test_server_start(&srv, data, log_path, NULL));
}

/* What the data looks like after the DELETE, the DROP SERIES and the DROP MEASUREMENT. */
static void check_after_deletes(void)
{
	expect(Q_CPU, ONE(CPU("a", "[\"2026-01-01T00:00:20Z\",3],[\"2026-01-01T00:00:30Z\",4]")));
	expect("SHOW SERIES", SER("[\"cpu,host=a\"]"));
	expect("SHOW MEASUREMENTS", MEAS("[\"cpu\"]"));
	expect("SELECT used FROM mem", NONE);
}

static void test_delete_statements(void **state)
{
	(void)state;
	write_lp("cpu,host=a value=1 1767225600\ncpu,host=a value=2 1767225610\n"
		 "cpu,host=a value=3 1767225620\ncpu,host=a value=4 1767225630\n"
		 "cpu,host=b value=10 1767225600\nmem,host=a used=5i 1767225600\n");
	expect(Q_CPU, ONE(CPU("a", "[\"2026-01-01T00:00:00Z\",1],[\"2026-01-01T00:00:10Z\",2],"
				   "[\"2026-01-01T00:00:20Z\",3],[\"2026-01-01T00:00:30Z\",4]") ","
			  CPU("b", "[\"2026-01-01T00:00:00Z\",10]")));

	/* InfluxDB's refusals delete nothing. */
	expect("DROP SERIES FROM cpu WHERE time > 0", ERR("DROP SERIES doesn't support time in WHERE clause"));
	expect("DELETE FROM cpu WHERE value > 1", ERR("fields not supported in WHERE clause during deletion"));
	expect("SHOW SERIES", SER("[\"cpu,host=a\"],[\"cpu,host=b\"],[\"mem,host=a\"]"));
	expect("SELECT count(value) FROM cpu",
	       ONE("{\"name\":\"cpu\",\"columns\":[\"time\",\"count\"],\"values\":[[\"1970-01-01T00:00:00Z\",5]]}"));

	expect("DELETE FROM cpu WHERE host = 'a' AND time < '2026-01-01T00:00:20Z'", NONE);
	expect(Q_CPU, ONE(CPU("a", "[\"2026-01-01T00:00:20Z\",3],[\"2026-01-01T00:00:30Z\",4]") ","
			  CPU("b", "[\"2026-01-01T00:00:00Z\",10]")));
	expect("SHOW SERIES", SER("[\"cpu,host=a\"],[\"cpu,host=b\"],[\"mem,host=a\"]"));

	expect("DROP SERIES FROM cpu WHERE host = 'b'", NONE);
	expect("DROP MEASUREMENT mem", NONE);
	check_after_deletes();

	restart(false);
	check_after_deletes();

	/* Written again after its drop: a new series, visible. */
	write_lp("cpu,host=b value=11 1767225640\n");
	expect(Q_CPU, ONE(CPU("a", "[\"2026-01-01T00:00:20Z\",3],[\"2026-01-01T00:00:30Z\",4]") ","
			  CPU("b", "[\"2026-01-01T00:00:40Z\",11]")));
	/* Dropped again, then a crash at once: the drop is durable. */
	expect("DROP SERIES FROM cpu WHERE host = 'b'", NONE);
	restart(true);
	check_after_deletes();

	/* A DELETE followed by a crash: durable too. */
	expect("DELETE FROM cpu WHERE time >= '2026-01-01T00:00:30Z'", NONE);
	restart(true);
	expect(Q_CPU, ONE(CPU("a", "[\"2026-01-01T00:00:20Z\",3]")));
	expect("SHOW SERIES", SER("[\"cpu,host=a\"]"));
	expect("DROP MEASUREMENT cpu", NONE);
	restart(true);
	expect("SHOW MEASUREMENTS", NONE);
	expect("SHOW SERIES", NONE);
	expect(Q_CPU, NONE);
}

static void test_delete_unknown_database(void **state)
{
	char cmd[512], code[16];

	(void)state;
	snprintf(cmd, sizeof cmd,
		 "curl -s -o %s/resp.txt -w '%%{http_code}' --data-urlencode db=nope "
		 "--data-urlencode 'q=DROP MEASUREMENT cpu' 'http://127.0.0.1:%d/query'",
		 dir, srv.port);
	assert_int_equal(test_run(cmd, code, sizeof code), 0);
	snprintf(cmd, sizeof cmd, "%s/resp.txt", dir);
	test_read_file(cmd, out, sizeof out);
	assert_string_equal(out, "{\"results\":[{\"statement_id\":0,\"error\":\"database not found: nope\"}]}\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delete_statements),
		cmocka_unit_test(test_delete_unknown_database),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
