/*
 * test_retention.c — retention policies through the real server and curl:
 * CREATE DATABASE ... WITH DURATION, writes of old points refused with
 * InfluxDB's 400 while the new ones of the request are written, SHOW,
 * ALTER and DROP RETENTION POLICY, writes and queries naming a policy
 * (each policy's points kept apart, also through python3-influxdb), and
 * the policies after a restart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/server.h"
#include "tests/util.h"

static test_server srv;
static char dir[64], data[128], log_path[128];
static char out[1 << 16];

/* POSTs body (a file's content) to path with curl; the HTTP status, the body in out. */
static int post(const char *path, const char *arg, const char *body)
{
	char cmd[1024], in[128], resp[128], code[16];

	snprintf(in, sizeof in, "%s/in.txt", dir);
	snprintf(resp, sizeof resp, "%s/resp.txt", dir);
	test_write_file(in, body);
	snprintf(cmd, sizeof cmd, "curl -s -o %s -w '%%{http_code}' %s@%s 'http://127.0.0.1:%d%s'", resp, arg, in,
		 srv.port, path);
	if (test_run(cmd, code, sizeof code) != 0)
		return -1;
	test_read_file(resp, out, sizeof out);
	return atoi(code);
}

static int query(const char *q)
{
	return post("/query", "--data-urlencode q", q);
}

static int write_lp(const char *db, const char *lines)
{
	char path[128];

	snprintf(path, sizeof path, "/write?db=%s", db);
	return post(path, "--data-binary ", lines);
}

static void expect(int status, int want_status, const char *want)
{
	if (status != want_status || strcmp(out, want) != 0)
		fail_msg("got %d:\n%s\nwant %d:\n%s", status, out, want_status, want);
}

#define RP_COLS "\"columns\":[\"name\",\"duration\",\"shardGroupDuration\",\"replicaN\",\"default\"]"
#define RPS(values) "{\"results\":[{\"statement_id\":0,\"series\":[{" RP_COLS ",\"values\":[" values "]}]}]}\n"
#define OK "{\"results\":[{\"statement_id\":0}]}\n"

static int setup(void **state)
{
	(void)state;
	if (test_make_temp_dir(dir, sizeof dir) != 0)
		return -1;
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(log_path, sizeof log_path, "%s/serve.log", dir);
	return test_server_start(&srv, data, log_path, NULL) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	test_server_stop(&srv);
	test_remove_tree(dir);
	return 0;
}

static void test_retention_http(void **state)
{
	char lines[256];
	long long now = (long long)time(NULL);

	(void)state;
	expect(query("CREATE DATABASE r WITH DURATION 1h"), 200, OK);
	expect(query("SHOW RETENTION POLICIES ON r"), 200, RPS("[\"autogen\",\"1h0m0s\",\"1h0m0s\",1,true]"));

	/* One point two hours old, one a minute old: the old one is dropped, the new one written. */
	snprintf(lines, sizeof lines, "cpu,host=a v=1 %lld000000000\ncpu,host=a v=2 %lld000000000\n", now - 7200,
		 now - 60);
	expect(write_lp("r", lines), 400, "{\"error\":\"partial write: points beyond retention policy dropped=1\"}\n");
	expect(query("SELECT count(v) FROM r..cpu"), 200,
	       "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"count\"],"
	       "\"values\":[[\"1970-01-01T00:00:00Z\",1]]}]}]}\n");
	/* New points alone: 204. */
	snprintf(lines, sizeof lines, "cpu,host=a v=3 %lld000000000\n", now - 30);
	expect(write_lp("r", lines), 204, "");

	/* Longer: the old point is accepted now. */
	expect(query("ALTER RETENTION POLICY autogen ON r DURATION 3h"), 200, OK);
	snprintf(lines, sizeof lines, "cpu,host=a v=1 %lld000000000\n", now - 7200);
	expect(write_lp("r", lines), 204, "");
	expect(query("CREATE RETENTION POLICY week ON r DURATION 7d REPLICATION 1 SHARD DURATION 1d DEFAULT"), 200, OK);
	expect(query("SHOW RETENTION POLICIES ON r"), 200,
	       RPS("[\"autogen\",\"3h0m0s\",\"1h0m0s\",1,false],[\"week\",\"168h0m0s\",\"24h0m0s\",1,true]"));
	expect(query("CREATE RETENTION POLICY odd ON r DURATION 7d REPLICATION 1 SHARD DURATION 30m"), 200,
	       "{\"results\":[{\"statement_id\":0,\"error\":\"shard duration must be at least 1h0m0s, got 30m0s\"}]}\n");
	/* Each policy keeps its points apart: rp= (v1) and bucket=db/rp (v2) pick one; the default takes the rest. */
	snprintf(lines, sizeof lines, "cpu,host=a v=4 %lld000000000\n", now - 20);
	expect(write_lp("r", lines), 204, "");
	expect(post("/write?db=r&rp=autogen", "--data-binary ", lines), 204, "");
	snprintf(lines, sizeof lines, "cpu,host=a v=5 %lld000000000\n", now - 10);
	expect(post("/api/v2/write?bucket=r/week", "--data-binary ", lines), 204, "");
	expect(post("/write?db=r&rp=nope", "--data-binary ", lines), 404,
	       "{\"error\":\"retention policy not found: nope\"}\n");
	expect(query("SELECT count(v) FROM r.autogen.cpu"), 200,
	       "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"count\"],"
	       "\"values\":[[\"1970-01-01T00:00:00Z\",4]]}]}]}\n");
	expect(post("/query?db=r&rp=autogen", "--data-urlencode q", "SELECT count(v) FROM cpu"), 200,
	       "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"count\"],"
	       "\"values\":[[\"1970-01-01T00:00:00Z\",4]]}]}]}\n");
	expect(query("SELECT count(v) FROM r..cpu"), 200,
	       "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"count\"],"
	       "\"values\":[[\"1970-01-01T00:00:00Z\",2]]}]}]}\n");
	/* Dropping a policy drops its points. */
	expect(query("DROP RETENTION POLICY autogen ON r"), 200, OK);
	expect(query("SELECT count(v) FROM r.autogen.cpu"), 200,
	       "{\"results\":[{\"statement_id\":0,\"error\":\"retention policy not found: autogen\"}]}\n");

	/* Durable: the same after a restart. */
	assert_int_equal(test_server_stop(&srv), 0);
	assert_true(test_server_start(&srv, data, log_path, NULL));
	expect(query("SHOW RETENTION POLICIES ON r"), 200, RPS("[\"week\",\"168h0m0s\",\"24h0m0s\",1,true]"));
	expect(query("SELECT count(v) FROM r.week.cpu"), 200,
	       "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"count\"],"
	       "\"values\":[[\"1970-01-01T00:00:00Z\",2]]}]}]}\n");
}

/* python3-influxdb's policy calls: each policy's points apart, rp= of a query, a drop taking its points. */
static void test_retention_python_client(void **state)
{
	char cmd[2048];

	(void)state;
	snprintf(cmd, sizeof cmd,
		 "/usr/bin/python3 -c \"import influxdb\n"
		 "c = influxdb.InfluxDBClient('127.0.0.1', %d, database='py')\n"
		 "c.create_database('py')\n"
		 "c.create_retention_policy('week', '7d', 1, database='py')\n"
		 "c.write_points([{'measurement': 'm', 'tags': {'h': 'a'}, 'fields': {'v': 1.0}}])\n"
		 "c.write_points([{'measurement': 'm', 'tags': {'h': 'a'}, 'fields': {'v': 2.0}},\n"
		 "                {'measurement': 'm', 'tags': {'h': 'b'}, 'fields': {'v': 3.0}}], retention_policy='week')\n"
		 "print([r['name'] for r in c.get_list_retention_policies('py')])\n"
		 "print(list(c.query('SELECT sum(v) FROM m').get_points()))\n"
		 "print(list(c.query('SELECT sum(v) FROM py.week.m').get_points()))\n"
		 "print(list(c.query('SELECT count(v) FROM m', params={'rp': 'week'}).get_points()))\n"
		 "print(list(c.query('SHOW SERIES').get_points()))\n"
		 "c.drop_retention_policy('week', database='py')\n"
		 "print(list(c.query('SELECT count(v) FROM m GROUP BY h').get_points()))\" 2>&1",
		 srv.port);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_string_equal(out, "['autogen', 'week']\n"
				 "[{'time': '1970-01-01T00:00:00Z', 'sum': 1}]\n"
				 "[{'time': '1970-01-01T00:00:00Z', 'sum': 5}]\n"
				 "[{'time': '1970-01-01T00:00:00Z', 'count': 2}]\n"
				 "[{'key': 'm,h=a'}, {'key': 'm,h=b'}]\n"
				 "[{'time': '1970-01-01T00:00:00Z', 'count': 1}]\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_retention_http, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_python_client, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
