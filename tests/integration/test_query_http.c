/*
 * Integration test: InfluxQL through the real `strata serve` (/query) and
 * the `strata query` command. A small data set is written with curl to
 * /write; the expected answers are worked out by hand (and are what
 * InfluxDB 1.x answers for the same points):
 *
 *   cpu,host=a,region=us value=1..6 at 2026-01-01T00:00:00Z + 0, 30, ... 150 s
 *   cpu,host=b value=10, 20        at + 0 and + 60 s
 *   mem,host=a used=5i,ok=true,s="x y" at + 0
 *
 * Asked with curl (GET, POST with a form body, POST with q in the URL),
 * every epoch, pretty, chunked, CSV by Accept; with the influx CLI (Debian
 * influxdb-client, JSON, CSV and column formats) and python3-influxdb;
 * every query of grafana_queries.txt as Grafana sends it; request errors;
 * chunked responses (chunk_size, "partial", streaming, a client leaving
 * mid-stream) checked document by document against the unchunked answer;
 * the response size limit. Then, with the server stopped, `strata query`
 * in its three formats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/server.h"

/* The three minutes the data covers. */
#define RANGE "time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:03:00Z'"
#define Q_MEAN "SELECT mean(value) FROM cpu WHERE " RANGE " GROUP BY time(1m)"
#define Q_MEAN_HOST "SELECT mean(value) FROM cpu WHERE " RANGE " GROUP BY time(1m), host"

#define JSON_MEAN(t0, t1, t2)                                                                        \
	"{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"mean\"]," \
	"\"values\":[[" t0 ",4.333333333333333],[" t1 ",9],[" t2 ",5.5]]}]}]}\n"

#define JSON_MEAN_HOST_SERIES                                                                           \
	"{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"mean\"],\"values\":"          \
	"[[\"2026-01-01T00:00:00Z\",1.5],[\"2026-01-01T00:01:00Z\",3.5],[\"2026-01-01T00:02:00Z\",5.5]]},"  \
	"{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"mean\"],\"values\":"          \
	"[[\"2026-01-01T00:00:00Z\",10],[\"2026-01-01T00:01:00Z\",20],[\"2026-01-01T00:02:00Z\",null]]}"
#define JSON_MEAN_HOST "{\"results\":[{\"statement_id\":0,\"series\":[" JSON_MEAN_HOST_SERIES "]}]}\n"

#define CSV_MEAN_HOST                                                                     \
	"name,tags,time,mean\n"                                                           \
	"cpu,host=a,1767225600000000000,1.5\n"                                            \
	"cpu,host=a,1767225660000000000,3.5\n"                                            \
	"cpu,host=a,1767225720000000000,5.5\n"                                            \
	"cpu,host=b,1767225600000000000,10\n"                                             \
	"cpu,host=b,1767225660000000000,20\n"                                             \
	"cpu,host=b,1767225720000000000,\n"

#define JSON_DATABASES                                                                              \
	"{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"databases\",\"columns\":[\"name\"]," \
	"\"values\":[[\"strata\"],[\"tsdb\"]]}]}]}\n"

static char dir[64], data[128], log_path[128];
static test_server srv;
static char out[1 << 20];

/*
 * Sends q to /query with curl: extra are more curl arguments (-G to put
 * the parameters in the URL, headers, other --data-urlencode parameters).
 * Returns the HTTP status; the body in out, the headers in headers (when
 * not NULL).
 */
static int query_h(const char *extra, const char *q, char *headers, size_t headers_len)
{
	char cmd[2048], qfile[128], resp[128], hdr[128], code[16];

	snprintf(qfile, sizeof qfile, "%s/q.txt", dir);
	snprintf(resp, sizeof resp, "%s/resp.txt", dir);
	snprintf(hdr, sizeof hdr, "%s/headers.txt", dir);
	test_write_file(qfile, q);
	snprintf(cmd, sizeof cmd,
		 "curl -s -o %s -D %s -w '%%{http_code}' %s --data-urlencode q@%s 'http://127.0.0.1:%d/query'",
		 resp, hdr, extra, qfile, srv.port);
	if (test_run(cmd, code, sizeof code) != 0)
		return -1;
	test_read_file(resp, out, sizeof out);
	if (headers)
		test_read_file(hdr, headers, headers_len);
	return atoi(code);
}

static int query(const char *extra, const char *q)
{
	return query_h(extra, q, NULL, 0);
}

/* Runs a shell command, its standard output in out; returns its exit status. */
static int run(const char *cmd)
{
	return test_run(cmd, out, sizeof out);
}

static void expect_body(int status, int want_status, const char *want)
{
	if (status != want_status || strcmp(out, want) != 0)
		fail_msg("got %d:\n%s\nwant %d:\n%s", status, out, want_status, want);
}

static int setup(void **state)
{
	char cmd[1024];

	(void)state;
	if (test_make_temp_dir(dir, sizeof dir) != 0)
		return -1;
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(log_path, sizeof log_path, "%s/serve.log", dir);
	if (!test_server_start(&srv, data, log_path, NULL))
		return -1;
	/* CREATE DATABASE as the influx CLI and python clients send it: POST, q in a form body */
	if (query("", "CREATE DATABASE tsdb") != 200 || strcmp(out, "{\"results\":[{\"statement_id\":0}]}\n") != 0)
		return -1;
	snprintf(cmd, sizeof cmd,
		 "printf 'cpu,host=a,region=us value=1 1767225600\\ncpu,host=a,region=us value=2 1767225630\\n"
		 "cpu,host=a,region=us value=3 1767225660\\ncpu,host=a,region=us value=4 1767225690\\n"
		 "cpu,host=a,region=us value=5 1767225720\\ncpu,host=a,region=us value=6 1767225750\\n"
		 "cpu,host=b value=10 1767225600\\ncpu,host=b value=20 1767225660\\n"
		 "mem,host=a used=5i,ok=true,s=\"x y\" 1767225600\\n' | "
		 "curl -s -o /dev/null -w '%%{http_code}' --data-binary @- 'http://127.0.0.1:%d/write?db=tsdb&precision=s'",
		 srv.port);
	if (run(cmd) != 0 || strcmp(out, "204") != 0)
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

/* SHOW / CREATE / DROP DATABASE, by GET and by POST. */
static void test_query_http_meta(void **state)
{
	(void)state;
	expect_body(query("-G", "SHOW DATABASES"), 200, JSON_DATABASES);
	expect_body(query("", "CREATE DATABASE tmp"), 200, "{\"results\":[{\"statement_id\":0}]}\n");
	expect_body(query("-G", "SHOW DATABASES"), 200,
		    "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"databases\",\"columns\":[\"name\"],"
		    "\"values\":[[\"strata\"],[\"tmp\"],[\"tsdb\"]]}]}]}\n");
	expect_body(query("", "DROP DATABASE tmp"), 200, "{\"results\":[{\"statement_id\":0}]}\n");
	expect_body(query("", "SHOW DATABASES"), 200, JSON_DATABASES);
	expect_body(query("-G --data-urlencode db=tsdb", "SHOW MEASUREMENTS"), 200,
		    "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"measurements\",\"columns\":[\"name\"],"
		    "\"values\":[[\"cpu\"],[\"mem\"]]}]}]}\n");
}

/* SELECT: aggregates by time and by tag, raw points, every epoch. */
static void test_query_http_select(void **state)
{
	static const struct {
		const char *epoch;
		const char *t0, *t1, *t2;
	} epochs[] = {
		{ "", "\"2026-01-01T00:00:00Z\"", "\"2026-01-01T00:01:00Z\"", "\"2026-01-01T00:02:00Z\"" },
		{ "ns", "1767225600000000000", "1767225660000000000", "1767225720000000000" },
		{ "u", "1767225600000000", "1767225660000000", "1767225720000000" },
		{ "ms", "1767225600000", "1767225660000", "1767225720000" },
		{ "s", "1767225600", "1767225660", "1767225720" },
		{ "m", "29453760", "29453761", "29453762" },
		{ "h", "490896", "490896", "490896" },
	};
	char extra[128], want[1024];

	(void)state;
	for (size_t i = 0; i < sizeof epochs / sizeof epochs[0]; i++) {
		snprintf(extra, sizeof extra, "-G --data-urlencode db=tsdb%s%s", epochs[i].epoch[0] ? " --data-urlencode epoch=" : "",
			 epochs[i].epoch);
		snprintf(want, sizeof want,
			 "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"mean\"],"
			 "\"values\":[[%s,4.333333333333333],[%s,9],[%s,5.5]]}]}]}\n",
			 epochs[i].t0, epochs[i].t1, epochs[i].t2);
		expect_body(query(extra, Q_MEAN), 200, want);
	}
	expect_body(query("-G --data-urlencode db=tsdb", Q_MEAN_HOST), 200, JSON_MEAN_HOST);
	expect_body(query("-G --data-urlencode db=tsdb --data-urlencode epoch=s",
			  "SELECT max(value), min(value), count(value) FROM cpu WHERE " RANGE),
		    200,
		    "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"max\",\"min\",\"count\"],"
		    "\"values\":[[1767225600,20,1,8]]}]}]}\n");
	expect_body(query("-G --data-urlencode db=tsdb --data-urlencode epoch=ms", "SELECT value FROM cpu WHERE host = 'b'"),
		    200,
		    "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"value\"],"
		    "\"values\":[[1767225600000,10],[1767225660000,20]]}]}]}\n");
	expect_body(query("-G --data-urlencode db=tsdb", "SELECT * FROM mem"), 200,
		    "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"mem\",\"columns\":[\"time\",\"host\",\"ok\",\"s\",\"used\"],"
		    "\"values\":[[\"2026-01-01T00:00:00Z\",\"a\",true,\"x y\",5]]}]}]}\n");
	/* several statements, one failing: the others still answer */
	expect_body(query("-G --data-urlencode db=tsdb --data-urlencode epoch=s",
			  "SELECT value FROM cpu WHERE host = 'b'; SELECT value FROM nodb..cpu; SHOW DATABASES"),
		    200,
		    "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"value\"],"
		    "\"values\":[[1767225600,10],[1767225660,20]]}]},"
		    "{\"statement_id\":1,\"error\":\"database not found: nodb\"},"
		    "{\"statement_id\":2,\"series\":[{\"name\":\"databases\",\"columns\":[\"name\"],"
		    "\"values\":[[\"strata\"],[\"tsdb\"]]}]}]}\n");
	expect_body(query("-G", "SELECT value FROM cpu"), 200,
		    "{\"results\":[{\"statement_id\":0,\"error\":\"database name required\"}]}\n");
}

/* Where the parameters come from: URL, form body, both. */
static void test_query_http_parameters(void **state)
{
	char cmd[1024];

	(void)state;
	/* POST, everything in a form body (the influx CLI's and python's way for writes) */
	expect_body(query("--data-urlencode db=tsdb", Q_MEAN_HOST), 200, JSON_MEAN_HOST);
	/* POST with an explicit form Content-Type carrying a charset */
	expect_body(query("-H 'Content-Type: application/x-www-form-urlencoded; charset=UTF-8'", "SHOW DATABASES"), 200,
		    JSON_DATABASES);
	/* POST with everything in the URL and an empty body */
	snprintf(cmd, sizeof cmd,
		 "curl -s -XPOST 'http://127.0.0.1:%d/query?db=tsdb&epoch=s&q=SELECT+value+FROM+cpu+WHERE+host+%%3D+%%27b%%27'",
		 srv.port);
	assert_int_equal(run(cmd), 0);
	assert_string_equal(out, "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"value\"],"
				 "\"values\":[[1767225600,10],[1767225660,20]]}]}]}\n");
	/* the body's q comes before the URL's (Go's FormValue) */
	snprintf(cmd, sizeof cmd, "curl -s 'http://127.0.0.1:%d/query?q=SELEC' --data 'q=SHOW+DATABASES'", srv.port);
	assert_int_equal(run(cmd), 0);
	assert_string_equal(out, JSON_DATABASES);
	/* %-escapes and + in a hand-made form body */
	snprintf(cmd, sizeof cmd, "curl -s 'http://127.0.0.1:%d/query' --data '%%64b=tsdb&q=SHOW%%20MEASUREMENTS+LIMIT+1'",
		 srv.port);
	assert_int_equal(run(cmd), 0);
	assert_string_equal(out, "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"measurements\",\"columns\":[\"name\"],"
				 "\"values\":[[\"cpu\"]]}]}]}\n");
}

/* pretty, chunked, CSV; the headers. */
static void test_query_http_formats(void **state)
{
	char headers[4096];

	(void)state;
	assert_int_equal(query_h("-G --data-urlencode pretty=true", "SHOW DATABASES", headers, sizeof headers), 200);
	assert_string_equal(out, "{\n"
				 "    \"results\": [\n"
				 "        {\n"
				 "            \"statement_id\": 0,\n"
				 "            \"series\": [\n"
				 "                {\n"
				 "                    \"name\": \"databases\",\n"
				 "                    \"columns\": [\n"
				 "                        \"name\"\n"
				 "                    ],\n"
				 "                    \"values\": [\n"
				 "                        [\n"
				 "                            \"strata\"\n"
				 "                        ],\n"
				 "                        [\n"
				 "                            \"tsdb\"\n"
				 "                        ]\n"
				 "                    ]\n"
				 "                }\n"
				 "            ]\n"
				 "        }\n"
				 "    ]\n"
				 "}\n");
	assert_non_null(strstr(headers, "Content-Type: application/json"));
	assert_non_null(strstr(headers, "X-Influxdb-Version: "));

	/* chunked: documents one per line, a SELECT cut in chunk_size rows, SHOW whole */
	expect_body(query("-G --data-urlencode db=tsdb --data-urlencode chunked=true --data-urlencode chunk_size=1 "
			  "--data-urlencode epoch=s",
			  "SHOW DATABASES; SELECT value FROM cpu WHERE host = 'b'; SELECT value FROM nodb..cpu"),
		    200,
		    "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"databases\",\"columns\":[\"name\"],"
		    "\"values\":[[\"strata\"],[\"tsdb\"]]}]}]}\n"
		    "{\"results\":[{\"statement_id\":1,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"value\"],"
		    "\"values\":[[1767225600,10]],\"partial\":true}],\"partial\":true}]}\n"
		    "{\"results\":[{\"statement_id\":1,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"value\"],"
		    "\"values\":[[1767225660,20]]}]}]}\n"
		    "{\"results\":[{\"statement_id\":2,\"error\":\"database not found: nodb\"}]}\n");

	/* CSV by Accept */
	assert_int_equal(query_h("-G --data-urlencode db=tsdb -H 'Accept: application/csv'", Q_MEAN_HOST, headers,
				 sizeof headers),
			 200);
	assert_string_equal(out, CSV_MEAN_HOST);
	assert_non_null(strstr(headers, "Content-Type: text/csv"));
	expect_body(query("-G --data-urlencode db=tsdb --data-urlencode epoch=s -H 'Accept: text/csv'",
			  Q_MEAN_HOST "; SHOW DATABASES"),
		    200,
		    "name,tags,time,mean\n"
		    "cpu,host=a,1767225600,1.5\n"
		    "cpu,host=a,1767225660,3.5\n"
		    "cpu,host=a,1767225720,5.5\n"
		    "cpu,host=b,1767225600,10\n"
		    "cpu,host=b,1767225660,20\n"
		    "cpu,host=b,1767225720,\n"
		    "\n"
		    "name,tags,name\n"
		    "databases,,strata\n"
		    "databases,,tsdb\n");
}

/* Request errors. */
static void test_query_http_errors(void **state)
{
	char cmd[512], headers[4096];

	(void)state;
	snprintf(cmd, sizeof cmd, "curl -s -w ' %%{http_code}' 'http://127.0.0.1:%d/query?db=tsdb'", srv.port);
	assert_int_equal(run(cmd), 0);
	assert_string_equal(out, "{\"error\":\"missing required parameter \\\"q\\\"\"}\n 400");
	expect_body(query("-G", "   "), 400, "{\"error\":\"missing required parameter \\\"q\\\"\"}\n");
	/* in CSV as InfluxDB writes it, quoted by Go's encoding/csv */
	expect_body(query("-G -H 'Accept: application/csv'", ""), 400, "error\n\"missing required parameter \"\"q\"\"\"\n");

	assert_int_equal(query_h("-G", "SELEC", headers, sizeof headers), 400);
	{
		static const char want[] = "{\"error\":\"error parsing query: found SELEC, expected SELECT";

		if (strncmp(out, want, sizeof want - 1) != 0)
			fail_msg("parse error answered:\n%s", out);
	}
	assert_non_null(strstr(headers, "X-Influxdb-Error: error parsing query: found SELEC"));
	assert_int_equal(query("-G --data-urlencode db=tsdb", "SELECT mean(value) FROM cpu WHERE"), 400);
	assert_non_null(strstr(out, "error parsing query: "));

	assert_int_equal(query_h("-G -XPUT", "SHOW DATABASES", headers, sizeof headers), 405);
	assert_non_null(strstr(headers, "Allow: GET, POST"));
	assert_non_null(strstr(out, "method not allowed"));
	assert_int_equal(query("-G --data-urlencode 'params={\"x\":1}'", "SHOW DATABASES"), 400);
	assert_non_null(strstr(out, "bound parameters"));

	snprintf(cmd, sizeof cmd, "curl -s -w ' %%{http_code}' 'http://127.0.0.1:%d/query' -F 'q=SHOW DATABASES'", srv.port);
	assert_int_equal(run(cmd), 0);
	assert_non_null(strstr(out, "multipart/form-data bodies are not supported"));
	assert_non_null(strstr(out, " 400"));
	snprintf(cmd, sizeof cmd, "curl -s -w ' %%{http_code}' 'http://127.0.0.1:%d/query' --data 'q=SHOW%%2'", srv.port);
	assert_int_equal(run(cmd), 0);
	assert_string_equal(out, "{\"error\":\"invalid form body: bad %-escape at byte 6\"}\n 400");

	/* strata query cannot open a directory a server holds */
	snprintf(cmd, sizeof cmd, "%s query --data %s 'SHOW DATABASES' 2>&1", test_strata_bin(), data);
	assert_int_equal(run(cmd), 1);
	assert_non_null(strstr(out, "in use by another strata process"));

	/* the counters of /metrics saw all of it */
	snprintf(cmd, sizeof cmd, "curl -s 'http://127.0.0.1:%d/metrics'", srv.port);
	assert_int_equal(run(cmd), 0);
	assert_non_null(strstr(out, "strata_query_requests_total "));
	assert_null(strstr(out, "strata_query_bad_requests_total 0\n"));
	assert_null(strstr(out, "strata_query_statement_errors_total 0\n"));
}

/* The influx CLI (Debian influxdb-client) and python3-influxdb. */
static void test_query_http_clients(void **state)
{
	char cmd[2048];

	(void)state;
	/* the CLI asks chunked=true: one result per series document, as it shows InfluxDB's */
	snprintf(cmd, sizeof cmd, "influx -host 127.0.0.1 -port %d -database tsdb -execute \"%s\" -format json", srv.port,
		 Q_MEAN_HOST);
	assert_int_equal(run(cmd), 0);
	assert_string_equal(out,
			    "{\"results\":[{\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"mean\"],"
			    "\"values\":[[1767225600000000000,1.5],[1767225660000000000,3.5],[1767225720000000000,5.5]]}]},"
			    "{\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"mean\"],"
			    "\"values\":[[1767225600000000000,10],[1767225660000000000,20],[1767225720000000000,null]]}]}]}\n");
	snprintf(cmd, sizeof cmd, "influx -host 127.0.0.1 -port %d -database tsdb -execute \"%s\" -format csv", srv.port,
		 Q_MEAN_HOST);
	assert_int_equal(run(cmd), 0);
	assert_string_equal(out,
			    "name,tags,time,mean\n"
			    "cpu,host=a,1767225600000000000,1.5\n"
			    "cpu,host=a,1767225660000000000,3.5\n"
			    "cpu,host=a,1767225720000000000,5.5\n"
			    "name,tags,time,mean\n"
			    "cpu,host=b,1767225600000000000,10\n"
			    "cpu,host=b,1767225660000000000,20\n"
			    "cpu,host=b,1767225720000000000,\n");
	snprintf(cmd, sizeof cmd, "influx -host 127.0.0.1 -port %d -database tsdb -execute \"%s\"", srv.port, Q_MEAN_HOST);
	assert_int_equal(run(cmd), 0);
	assert_string_equal(out,
			    "name: cpu\n"
			    "tags: host=a\n"
			    "time                mean\n"
			    "----                ----\n"
			    "1767225600000000000 1.5\n"
			    "1767225660000000000 3.5\n"
			    "1767225720000000000 5.5\n"
			    "\n"
			    "name: cpu\n"
			    "tags: host=b\n"
			    "time                mean\n"
			    "----                ----\n"
			    "1767225600000000000 10\n"
			    "1767225660000000000 20\n"
			    "1767225720000000000 \n");
	/* CREATE and SHOW through the CLI; a statement error exits 1 */
	snprintf(cmd, sizeof cmd,
		 "influx -host 127.0.0.1 -port %d -execute 'CREATE DATABASE cli; SHOW DATABASES; DROP DATABASE cli' -format csv",
		 srv.port);
	assert_int_equal(run(cmd), 0);
	assert_string_equal(out, "name,name\ndatabases,cli\ndatabases,strata\ndatabases,tsdb\n");
	snprintf(cmd, sizeof cmd, "influx -host 127.0.0.1 -port %d -execute 'SELECT x FROM nodb..cpu' 2>/dev/null",
		 srv.port);
	assert_int_equal(run(cmd), 1);
	assert_non_null(strstr(out, "ERR: database not found: nodb"));

	snprintf(cmd, sizeof cmd,
		 "/usr/bin/python3 -c \"import influxdb\n"
		 "c = influxdb.InfluxDBClient('127.0.0.1', %d, database='tsdb')\n"
		 "rs = c.query(\\\"%s\\\", epoch='s')\n"
		 "print(list(rs.get_points(tags={'host': 'a'})))\n"
		 "print(list(rs.get_points(tags={'host': 'b'})))\n"
		 "print([list(r.get_points()) for r in c.query('SHOW DATABASES; SELECT value FROM cpu WHERE host = \\'b\\'', chunked=True)])\n"
		 "c.create_database('py')\n"
		 "print(c.get_list_database())\n"
		 "c.drop_database('py')\n"
		 "print(c.get_list_database())\" 2>&1",
		 srv.port, Q_MEAN_HOST);
	assert_int_equal(run(cmd), 0);
	assert_string_equal(out,
			    "[{'time': 1767225600, 'mean': 1.5}, {'time': 1767225660, 'mean': 3.5}, {'time': 1767225720, 'mean': 5.5}]\n"
			    "[{'time': 1767225600, 'mean': 10}, {'time': 1767225660, 'mean': 20}, {'time': 1767225720, 'mean': None}]\n"
			    "[[{'name': 'strata'}, {'name': 'tsdb'}], [{'time': '2026-01-01T00:00:00Z', 'value': 10}, "
			    "{'time': '2026-01-01T00:01:00Z', 'value': 20}]]\n"
			    "[{'name': 'py'}, {'name': 'strata'}, {'name': 'tsdb'}]\n"
			    "[{'name': 'strata'}, {'name': 'tsdb'}]\n");
}

/*
 * Checks chunked answers against the unchunked one, for every query and
 * chunk size given: each line one JSON document of one statement; each
 * SELECT document one series of at most chunk_size rows; "partial" on a
 * series exactly when its next document goes on with the same series after
 * a full chunk, on a result exactly when the statement has more documents;
 * the rows of the documents, joined, the unchunked answer's.
 */
static const char chunk_check_py[] =
	"import json, sys, urllib.parse, urllib.request\n"
	"port, db = sys.argv[1], sys.argv[2]\n"
	"queries = [l.rstrip('\\n') for l in open(sys.argv[3]) if l.strip()]\n"
	"def get(q, **extra):\n"
	"    args = dict(q=q, db=db, epoch='s', **extra)\n"
	"    url = 'http://127.0.0.1:%s/query?%s' % (port, urllib.parse.urlencode(args))\n"
	"    with urllib.request.urlopen(url) as r:\n"
	"        return r.read().decode()\n"
	"def key(s):\n"
	"    return (s.get('name'), sorted(s.get('tags', {}).items()), s.get('columns'))\n"
	"docs_total = 0\n"
	"for q in queries:\n"
	"    whole = json.loads(get(q))['results']\n"
	"    selects = {i for i, st in enumerate(q.split(';')) if st.strip().upper().startswith('SELECT')}\n"
	"    for n in (1, 2, 3, 5, 7, 10000):\n"
	"        text = get(q, chunked='true', chunk_size=str(n))\n"
	"        assert text.endswith('\\n'), text\n"
	"        docs = [json.loads(l)['results'] for l in text[:-1].split('\\n')]\n"
	"        docs_total += len(docs)\n"
	"        got = {}\n"
	"        for i, d in enumerate(docs):\n"
	"            assert len(d) == 1, d\n"
	"            r = d[0]\n"
	"            sid = r['statement_id']\n"
	"            more = i + 1 < len(docs) and docs[i + 1][0]['statement_id'] == sid\n"
	"            assert r.get('partial', False) == more, (q, n, i, r)\n"
	"            assert 'partial' not in r or r['partial'] is True\n"
	"            series = r.get('series', [])\n"
	"            for s in series:\n"
	"                vals = s.get('values', [])\n"
	"                nxt = docs[i + 1][0].get('series', []) if more else []\n"
	"                cont = len(series) == 1 and bool(nxt) and key(nxt[0]) == key(s) and len(vals) == n\n"
	"                assert s.get('partial', False) == cont, (q, n, i, s)\n"
	"                out = got.setdefault(sid, {'statement_id': sid, 'series': []})\n"
	"                out.setdefault('series', [])\n"
	"                prev = out['series'][-1] if out['series'] else None\n"
	"                if prev is not None and prev.pop('partial', False):\n"
	"                    assert key(prev) == key(s)\n"
	"                    prev['values'] = prev.get('values', []) + vals\n"
	"                    if s.get('partial'):\n"
	"                        prev['partial'] = True\n"
	"                else:\n"
	"                    out['series'].append(dict(s))\n"
	"            if 'error' in r:\n"
	"                got.setdefault(sid, {'statement_id': sid})['error'] = r['error']\n"
	"            got.setdefault(sid, {'statement_id': sid})\n"
	"        joined = []\n"
	"        for sid in sorted(got):\n"
	"            r = got[sid]\n"
	"            if not r.get('series'):\n"
	"                r.pop('series', None)\n"
	"            joined.append(r)\n"
	"        assert joined == whole, (q, n, joined, whole)\n"
	"        for i, d in enumerate(docs):\n"
	"            if d[0]['statement_id'] in selects:\n"
	"                assert len(d[0].get('series', [])) <= 1, d\n"
	"                for s in d[0].get('series', []):\n"
	"                    assert len(s.get('values', [])) <= n, (n, s)\n"
	"print('ok', docs_total)\n";

/* Polls /metrics until no chunked response is streaming; whether it got there within 10 s. */
static bool streams_drained(void)
{
	char cmd[256];

	snprintf(cmd, sizeof cmd, "curl -s 'http://127.0.0.1:%d/metrics' | grep '^strata_query_streams '", srv.port);
	for (int i = 0; i < 100; i++) {
		if (run(cmd) == 0 && strcmp(out, "strata_query_streams 0\n") == 0)
			return true;
		usleep(100000);
	}
	return false;
}

/* chunked=true: chunk_size, "partial", the python client, CSV, bad sizes, a client leaving. */
static void test_query_http_chunked(void **state)
{
	char cmd[4096], script[128], queries[128], headers[4096];

	(void)state;
	/* one series cut in 4 + 2 rows, the next whole; the statement's documents partial but the last */
	assert_int_equal(query_h("-G --data-urlencode db=tsdb --data-urlencode epoch=s --data-urlencode chunked=true "
				 "--data-urlencode chunk_size=4",
				 "SELECT value FROM cpu GROUP BY host", headers, sizeof headers),
			 200);
	assert_string_equal(out,
			    "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},"
			    "\"columns\":[\"time\",\"value\"],\"values\":[[1767225600,1],[1767225630,2],[1767225660,3],"
			    "[1767225690,4]],\"partial\":true}],\"partial\":true}]}\n"
			    "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},"
			    "\"columns\":[\"time\",\"value\"],\"values\":[[1767225720,5],[1767225750,6]]}],\"partial\":true}]}\n"
			    "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},"
			    "\"columns\":[\"time\",\"value\"],\"values\":[[1767225600,10],[1767225660,20]]}]}]}\n");
	/* streamed: no length known in advance */
	assert_non_null(strstr(headers, "Transfer-Encoding: chunked"));
	assert_non_null(strstr(headers, "Content-Type: application/json"));

	/* document by document against the unchunked answers */
	snprintf(script, sizeof script, "%s/chunk_check.py", dir);
	test_write_file(script, chunk_check_py);
	snprintf(queries, sizeof queries, "%s/chunk_queries.txt", dir);
	test_write_file(queries, "SELECT value FROM cpu GROUP BY host\n" Q_MEAN_HOST "\n"
				 "SELECT * FROM cpu GROUP BY *; SHOW MEASUREMENTS; SELECT x FROM nodb..cpu; "
				 "SELECT value FROM cpu WHERE host = 'zz'; SHOW TAG KEYS\n"
				 "SELECT mean(value) FROM cpu WHERE " RANGE " GROUP BY time(10s), host fill(0)\n"
				 "SELECT value, host FROM cpu; SELECT * FROM mem, cpu\n");
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %d tsdb %s 2>&1", script, srv.port, queries);
	if (run(cmd) != 0 || strncmp(out, "ok ", 3) != 0)
		fail_msg("chunk check failed:\n%s", out);

	/* python-influxdb: one ResultSet per document */
	snprintf(cmd, sizeof cmd,
		 "/usr/bin/python3 -c \"import influxdb\n"
		 "c = influxdb.InfluxDBClient('127.0.0.1', %d, database='tsdb')\n"
		 "rs = list(c.query('SELECT value FROM cpu GROUP BY host', epoch='s', chunked=True, chunk_size=4))\n"
		 "print([len(list(r.get_points())) for r in rs])\n"
		 "print(sum([[p['value'] for p in r.get_points()] for r in rs], []))\" 2>&1",
		 srv.port);
	assert_int_equal(run(cmd), 0);
	assert_string_equal(out, "[4, 2, 2]\n[1, 2, 3, 4, 5, 6, 10, 20]\n");

	/* CSV: the same bytes as unchunked */
	expect_body(query("-G --data-urlencode db=tsdb -H 'Accept: application/csv' --data-urlencode chunked=true "
			  "--data-urlencode chunk_size=1",
			  Q_MEAN_HOST),
		    200, CSV_MEAN_HOST);

	/* chunk_size: a whole number of rows from 1 to 1000000, read only when chunked */
	assert_int_equal(query("-G --data-urlencode db=tsdb --data-urlencode chunked=true --data-urlencode chunk_size=0",
			       "SELECT value FROM cpu"),
			 400);
	assert_string_equal(out, "{\"error\":\"invalid chunk_size \\\"0\\\": a number of rows from 1 to 1000000 is required\"}\n");
	assert_int_equal(query("-G --data-urlencode db=tsdb --data-urlencode chunked=true --data-urlencode chunk_size=1000001",
			       "SELECT value FROM cpu"),
			 400);
	assert_int_equal(query("-G --data-urlencode db=tsdb --data-urlencode chunked=true --data-urlencode chunk_size=-5",
			       "SELECT value FROM cpu"),
			 400);
	assert_int_equal(query("-G --data-urlencode db=tsdb --data-urlencode chunked=true --data-urlencode 'chunk_size=1 0'",
			       "SELECT value FROM cpu"),
			 400);
	expect_body(query("-G --data-urlencode db=tsdb --data-urlencode chunk_size=x", Q_MEAN_HOST), 200, JSON_MEAN_HOST);
	/* empty is the default, 10000 rows: the series whole */
	expect_body(query("-G --data-urlencode db=tsdb --data-urlencode chunked=true --data-urlencode chunk_size=", Q_MEAN),
		    200, JSON_MEAN("\"2026-01-01T00:00:00Z\"", "\"2026-01-01T00:01:00Z\"", "\"2026-01-01T00:02:00Z\""));
	/* a parse error is still a 400 before anything is streamed */
	assert_int_equal(query("-G --data-urlencode chunked=true", "SELEC"), 400);
	assert_non_null(strstr(out, "error parsing query"));

	/* a client leaving mid-stream (86400 rows in chunks of 10): the stream stops, the server serves on */
	snprintf(cmd, sizeof cmd,
		 "curl -s -G 'http://127.0.0.1:%d/query' --data-urlencode db=tsdb --data-urlencode chunked=true "
		 "--data-urlencode chunk_size=10 --data-urlencode 'q=SELECT mean(value) FROM cpu WHERE "
		 "time >= '\\''2026-01-01T00:00:00Z'\\'' AND time < '\\''2026-01-02T00:00:00Z'\\'' GROUP BY time(1s) fill(0)' "
		 "| head -c 2000 | wc -c",
		 srv.port);
	assert_int_equal(run(cmd), 0);
	assert_string_equal(out, "2000\n");
	assert_true(streams_drained());
	expect_body(query("-G", "SHOW DATABASES"), 200, JSON_DATABASES);
}

/* Every query Grafana sends (grafana_queries.txt): 200, results, no request error. */
static void test_query_http_grafana(void **state)
{
	const char *src = getenv("STRATA_SOURCE_DIR");
	char path[512], line[4096];
	FILE *f;
	int n = 0;

	(void)state;
	snprintf(path, sizeof path, "%s/tests/integration/grafana_queries.txt", src ? src : ".");
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f)) {
		size_t len = strlen(line);
		int status;

		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		status = query("-G --data-urlencode db=tsdb --data-urlencode epoch=ms", line);
		if (status != 200 || strncmp(out, "{\"results\":[{\"statement_id\":0", 29) != 0)
			fail_msg("Grafana query got %d:\n%s\n%s", status, line, out);
		n++;
	}
	fclose(f);
	assert_true(n >= 40);
}

/* With the server stopped: strata query in its three formats; then the response limit. */
static void test_query_cli_and_limit(void **state)
{
	char cmd[2048];
	const char *const tight[] = { "--max-query-response-bytes", "1024", NULL };

	(void)state;
	assert_int_equal(test_server_stop(&srv), 0);

	snprintf(cmd, sizeof cmd, "%s query --data %s --db tsdb \"%s\"", test_strata_bin(), data, Q_MEAN_HOST);
	assert_int_equal(run(cmd), 0);
	assert_string_equal(out,
			    "name: cpu\n"
			    "tags: host=a\n"
			    "time                 mean\n"
			    "----                 ----\n"
			    "2026-01-01T00:00:00Z 1.5\n"
			    "2026-01-01T00:01:00Z 3.5\n"
			    "2026-01-01T00:02:00Z 5.5\n"
			    "\n"
			    "name: cpu\n"
			    "tags: host=b\n"
			    "time                 mean\n"
			    "----                 ----\n"
			    "2026-01-01T00:00:00Z 10\n"
			    "2026-01-01T00:01:00Z 20\n"
			    "2026-01-01T00:02:00Z \n");
	snprintf(cmd, sizeof cmd, "%s query --data %s --db tsdb --format table --epoch s 'SELECT * FROM mem; SHOW DATABASES'",
		 test_strata_bin(), data);
	assert_int_equal(run(cmd), 0);
	assert_string_equal(out,
			    "name: mem\n"
			    "time       host ok   s   used\n"
			    "----       ---- --   -   ----\n"
			    "1767225600 a    true x y 5\n"
			    "\n"
			    "name: databases\n"
			    "name\n"
			    "----\n"
			    "strata\n"
			    "tsdb\n");
	snprintf(cmd, sizeof cmd, "%s query --data %s --db tsdb --format csv \"%s\"", test_strata_bin(), data, Q_MEAN_HOST);
	assert_int_equal(run(cmd), 0);
	assert_string_equal(out, CSV_MEAN_HOST);
	snprintf(cmd, sizeof cmd, "%s query --data %s --db=tsdb --format=json \"%s\"", test_strata_bin(), data, Q_MEAN_HOST);
	assert_int_equal(run(cmd), 0);
	assert_string_equal(out, JSON_MEAN_HOST);
	snprintf(cmd, sizeof cmd, "echo 'SHOW DATABASES' | %s query --data %s --format json --pretty - | head -3",
		 test_strata_bin(), data);
	assert_int_equal(run(cmd), 0);
	assert_string_equal(out, "{\n    \"results\": [\n        {\n");

	/* a statement error: reported, exit 1; a parse error likewise; usage errors exit 2 */
	snprintf(cmd, sizeof cmd, "%s query --data %s 'SHOW DATABASES; SELECT x FROM nodb..cpu'", test_strata_bin(), data);
	assert_int_equal(run(cmd), 1);
	assert_string_equal(out, "name: databases\nname\n----\nstrata\ntsdb\n\nERR: database not found: nodb\n");
	snprintf(cmd, sizeof cmd, "%s query --data %s 'SELEC'", test_strata_bin(), data);
	assert_int_equal(run(cmd), 1);
	assert_non_null(strstr(out, "ERR: found SELEC"));
	snprintf(cmd, sizeof cmd, "%s query --data %s 2>&1", test_strata_bin(), data);
	assert_int_equal(run(cmd), 2);
	snprintf(cmd, sizeof cmd, "%s query --data %s --format xml 'SHOW DATABASES' 2>&1", test_strata_bin(), data);
	assert_int_equal(run(cmd), 2);
	snprintf(cmd, sizeof cmd, "%s serve --data %s --query-timeout 5 2>&1", test_strata_bin(), data);
	assert_int_equal(run(cmd), 2);
	assert_non_null(strstr(out, "--query-timeout takes a duration"));

	/* the response limit: a clear 400 instead of a response past it */
	if (!test_server_start(&srv, data, log_path, tight))
		fail_msg("strata serve did not come up; see %s", log_path);
	expect_body(query("-G --data-urlencode db=tsdb", "SHOW DATABASES"), 200, JSON_DATABASES);
	assert_int_equal(query("-G --data-urlencode db=tsdb",
			       "SELECT mean(value) FROM cpu WHERE " RANGE " GROUP BY time(1s) fill(0)"),
			 400);
	assert_non_null(strstr(out, "larger than the 1024 byte limit"));
	/* a chunked response is streamed: not bounded by the limit, 180 rows in 18 documents */
	snprintf(cmd, sizeof cmd,
		 "curl -s -G 'http://127.0.0.1:%d/query' --data-urlencode db=tsdb --data-urlencode chunked=true "
		 "--data-urlencode chunk_size=10 --data-urlencode \"q=SELECT mean(value) FROM cpu WHERE %s GROUP BY "
		 "time(1s) fill(0)\" | /usr/bin/python3 -c 'import json, sys\n"
		 "d = [json.loads(l) for l in sys.stdin]\n"
		 "print(len(d), sum(len(x[\"results\"][0][\"series\"][0][\"values\"]) for x in d))'",
		 srv.port, RANGE);
	assert_int_equal(run(cmd), 0);
	assert_string_equal(out, "18 180\n");
	assert_int_equal(test_server_stop(&srv), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_http_meta),
		cmocka_unit_test(test_query_http_select),
		cmocka_unit_test(test_query_http_parameters),
		cmocka_unit_test(test_query_http_formats),
		cmocka_unit_test(test_query_http_errors),
		cmocka_unit_test(test_query_http_clients),
		cmocka_unit_test(test_query_http_chunked),
		cmocka_unit_test(test_query_http_grafana),
		cmocka_unit_test(test_query_cli_and_limit),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
