/*
 * Integration test: `strata serve --auth FILE` with entries made by
 * `strata auth` (passwords from standard input). Every form of credentials
 * with curl (u/p parameters, Basic, Token user:password, Token TOKEN,
 * Bearer TOKEN) on /write, /api/v2/write and /query; InfluxDB's 401 bodies
 * for missing and wrong credentials; the routes left open by --auth-open;
 * the influx CLI (-username -password) and python3-influxdb
 * (username/password); failed logins counted in /metrics and limited per
 * client address (429, then one attempt per second); a malformed file
 * refused at start with its line named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/server.h"

/* The value of a metric in the server's /metrics (open in these servers), or -1. */
static long long metric(int port, const char *name)
{
	char cmd[256], out[65536], key[128], *at;

	snprintf(cmd, sizeof cmd, "curl -s http://127.0.0.1:%d/metrics", port);
	if (test_run(cmd, out, sizeof out) != 0)
		return -1;
	snprintf(key, sizeof key, "\n%s ", name);
	at = strstr(out, key);
	return at ? strtoll(at + strlen(key), NULL, 10) : -1;
}

/* curl with args against the server: the body then " <status>" in out. */
static void curl(int port, char *out, size_t cap, const char *fmt, ...)
{
	char args[2048], cmd[2600];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof cmd, "curl -s -m 10 -w ' %%{http_code}' %s", args);
	(void)port;
	rc = test_run(cmd, out, cap);
	if (rc != 0)
		fail_msg("curl exit %d: %s", rc, cmd);
}

static void test_auth_serve(void **state)
{
	char dir[64], data[128], log[128], creds[128], cmd[1024], out[16384], token[128];
	const char *extra[] = { "--auth", creds, "--auth-open", "ping,metrics", "--auto-create-db", NULL };
	test_server srv;
	int p;

	(void)state;
	assert_int_equal(test_make_temp_dir(dir, sizeof dir), 0);
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(log, sizeof log, "%s/serve.log", dir);
	snprintf(creds, sizeof creds, "%s/creds", dir);

	/* The entries, made as an operator makes them. */
	snprintf(cmd, sizeof cmd, "printf 'hunter2\\n' | %s auth add-user --file %s alice 2>&1", test_strata_bin(), creds);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_non_null(strstr(out, "added user alice"));
	snprintf(cmd, sizeof cmd, "printf 'correct horse\\n' | %s auth add-user --file %s bob 2>&1", test_strata_bin(),
		 creds);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	snprintf(cmd, sizeof cmd, "%s auth add-token --file %s grafana 2>/dev/null", test_strata_bin(), creds);
	assert_int_equal(test_run(cmd, token, sizeof token), 0);
	token[strcspn(token, "\n")] = '\0';
	assert_int_equal(strlen(token), 43);
	snprintf(cmd, sizeof cmd, "grep -c '' %s; grep -c hunter2 %s", creds, creds);
	test_run(cmd, out, sizeof out);
	assert_string_equal(out, "4\n0\n"); /* a comment, two users, a token; no password in clear */
	snprintf(cmd, sizeof cmd, "printf 's3cret\\n' | %s auth hash", test_strata_bin());
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_true(strncmp(out, "$argon2id$v=19$", 15) == 0);
	snprintf(cmd, sizeof cmd, "%s auth add-user --file %s 'no good' </dev/null 2>&1", test_strata_bin(), creds);
	assert_int_equal(test_run(cmd, out, sizeof out), 2);
	snprintf(cmd, sizeof cmd, "%s auth add-user --file %s carol </dev/null 2>&1", test_strata_bin(), creds);
	assert_int_equal(test_run(cmd, out, sizeof out), 1);
	assert_non_null(strstr(out, "no password"));

	if (!test_server_start(&srv, data, log, extra))
		fail_msg("strata serve did not come up; see %s", log);
	p = srv.port;

	/* Open: /ping and (by --auth-open) /metrics. Closed: the rest. */
	curl(p, out, sizeof out, "http://127.0.0.1:%d/ping", p);
	assert_string_equal(out, " 204");
	curl(p, out, sizeof out, "http://127.0.0.1:%d/health", p);
	assert_string_equal(out, "{\"error\":\"unable to parse authentication credentials\"}\n 401");
	curl(p, out, sizeof out, "-u alice:hunter2 http://127.0.0.1:%d/health", p);
	assert_non_null(strstr(out, "\"status\":\"pass\""));
	assert_true(metric(p, "strata_auth_ok_total") >= 1);

	/* /write: none, wrong, and each right form. */
	curl(p, out, sizeof out, "-XPOST 'http://127.0.0.1:%d/write?db=sec' --data-binary 'cpu v=1 1'", p);
	assert_string_equal(out, "{\"error\":\"unable to parse authentication credentials\"}\n 401");
	curl(p, out, sizeof out, "-XPOST 'http://127.0.0.1:%d/write?db=sec&u=alice&p=hunter3' --data-binary 'cpu v=1 1'", p);
	assert_string_equal(out, "{\"error\":\"authorization failed\"}\n 401");
	curl(p, out, sizeof out, "-XPOST 'http://127.0.0.1:%d/write?db=sec&u=alice&p=hunter2' --data-binary 'cpu v=1 1'", p);
	assert_string_equal(out, " 204");
	curl(p, out, sizeof out, "-u 'bob:correct horse' -XPOST 'http://127.0.0.1:%d/write?db=sec' --data-binary 'cpu v=2 2'",
	     p);
	assert_string_equal(out, " 204");
	curl(p, out, sizeof out,
	     "-H 'Authorization: Token alice:hunter2' -XPOST 'http://127.0.0.1:%d/write?db=sec' --data-binary 'cpu v=3 3'", p);
	assert_string_equal(out, " 204");
	curl(p, out, sizeof out,
	     "-H 'Authorization: Token %s' -XPOST 'http://127.0.0.1:%d/api/v2/write?bucket=sec&org=x' "
	     "--data-binary 'cpu v=4 4'", token, p);
	assert_string_equal(out, " 204");
	curl(p, out, sizeof out,
	     "-H 'Authorization: Token not-%s' -XPOST 'http://127.0.0.1:%d/api/v2/write?bucket=sec&org=x' "
	     "--data-binary 'cpu v=5 5'", token, p);
	assert_string_equal(out, "{\"code\":\"unauthorized\",\"message\":\"authorization failed\"}\n 401");
	/* A refused body is read and dropped, never kept nor written, however large. */
	snprintf(cmd, sizeof cmd, "yes 'cpu v=6 6' | head -c 3000000 > %s/big.lp", dir);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	curl(p, out, sizeof out, "-XPOST 'http://127.0.0.1:%d/write?db=sec&u=alice&p=wrong' --data-binary @%s/big.lp", p,
	     dir);
	assert_string_equal(out, "{\"error\":\"authorization failed\"}\n 401");
	assert_int_equal(metric(p, "strata_http_inflight_body_bytes"), 0);

	/* /query: GET with Bearer, POST with a form body and Basic. */
	curl(p, out, sizeof out, "-H 'Authorization: Bearer %s' -G 'http://127.0.0.1:%d/query?db=sec' "
				 "--data-urlencode 'q=SELECT count(v) FROM cpu'", token, p);
	assert_non_null(strstr(out, "[\"1970-01-01T00:00:00Z\",4]]"));
	assert_non_null(strstr(out, " 200"));
	curl(p, out, sizeof out, "-XPOST -u alice:hunter2 'http://127.0.0.1:%d/query' --data-urlencode 'q=SHOW DATABASES'", p);
	assert_non_null(strstr(out, "\"sec\""));
	curl(p, out, sizeof out, "-G 'http://127.0.0.1:%d/query' --data-urlencode 'q=SHOW DATABASES'", p);
	assert_non_null(strstr(out, " 401"));
	curl(p, out, sizeof out, "http://127.0.0.1:%d/no-such-route", p);
	assert_non_null(strstr(out, " 401"));

	/* The influx CLI. */
	snprintf(cmd, sizeof cmd,
		 "influx -host 127.0.0.1 -port %d -username alice -password hunter2 -database sec "
		 "-execute 'SELECT count(v) FROM cpu' -format csv 2>&1", p);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_non_null(strstr(out, "cpu,0,4"));
	snprintf(cmd, sizeof cmd,
		 "influx -host 127.0.0.1 -port %d -username alice -password nope -execute 'SHOW DATABASES' 2>&1", p);
	test_run(cmd, out, sizeof out);
	assert_non_null(strstr(out, "authorization failed"));

	/* python3-influxdb. */
	snprintf(cmd, sizeof cmd,
		 "/usr/bin/python3 -c \"import influxdb\n"
		 "c = influxdb.InfluxDBClient('127.0.0.1', %d, username='bob', password='correct horse', database='sec')\n"
		 "c.write_points([{'measurement': 'mem', 'fields': {'used': 7}, 'time': 1000000000}])\n"
		 "print(list(c.query('SELECT used FROM mem').get_points()))\n"
		 "try:\n"
		 "    influxdb.InfluxDBClient('127.0.0.1', %d, username='bob', password='wrong').query('SHOW DATABASES')\n"
		 "except influxdb.exceptions.InfluxDBClientError as e:\n"
		 "    print('refused', e.code)\n\" 2>&1", p, p);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_non_null(strstr(out, "'used': 7"));
	assert_non_null(strstr(out, "refused 401"));

	/*
	 * Failed logins from 127.0.0.1 so far: hunter3, the bad token, the big
	 * body's, the influx CLI's and python's. The bucket refills one attempt
	 * a second meanwhile; guesses in a row run it dry, then 429.
	 */
	assert_int_equal(metric(p, "strata_auth_failures_total"), 5);
	{
		int denied = 0;
		bool limited = false;

		for (int i = 0; i < 15 && !limited; i++) {
			curl(p, out, sizeof out, "-u alice:guess%d -G 'http://127.0.0.1:%d/query' --data-urlencode "
						 "'q=SHOW DATABASES'", i, p);
			limited = strstr(out, " 429") != NULL;
			denied += strstr(out, " 401") != NULL;
		}
		assert_true(limited);
		assert_true(denied <= 8); /* what is left of the 5, and what refills meanwhile */
		assert_non_null(strstr(out, "too many failed authentication attempts"));
		assert_int_equal(metric(p, "strata_auth_failures_total"), 5 + denied);
	}
	/* Credentials checked recently (python's, cached) pass the limit. */
	curl(p, out, sizeof out, "-u 'bob:correct horse' -G 'http://127.0.0.1:%d/query' --data-urlencode 'q=SHOW DATABASES'",
	     p);
	assert_non_null(strstr(out, " 200"));
	/* One attempt per second (the unit test checks the exact rate). */
	sleep(1);
	usleep(200000);
	curl(p, out, sizeof out, "-H 'Authorization: Token %s' -G 'http://127.0.0.1:%d/query' "
				 "--data-urlencode 'q=SHOW DATABASES'", token, p);
	assert_non_null(strstr(out, " 200"));
	assert_true(metric(p, "strata_auth_limited_total") >= 1);
	assert_true(metric(p, "strata_http_auth_limited_total") >= 1);
	assert_true(metric(p, "strata_auth_cache_hits_total") >= 1);
	assert_int_equal(test_server_stop(&srv), 0);

	/* Default --auth-open: /ping only. */
	extra[2] = "--auto-create-db";
	extra[3] = NULL;
	if (!test_server_start(&srv, data, log, extra))
		fail_msg("strata serve did not come up again; see %s", log);
	curl(srv.port, out, sizeof out, "http://127.0.0.1:%d/metrics", srv.port);
	assert_non_null(strstr(out, " 401"));
	snprintf(cmd, sizeof cmd, "curl -s -u alice:hunter2 http://127.0.0.1:%d/metrics | grep '^strata_auth_ok_total'",
		 srv.port);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_string_equal(out, "strata_auth_ok_total 1\n");
	assert_int_equal(test_server_stop(&srv), 0);

	/* A malformed file: refused at start, naming the line. */
	snprintf(cmd, sizeof cmd, "echo 'user dave plaintext' >> %s; %s serve --data %s --http 127.0.0.1:0 --no-tcp "
				  "--no-udp --auth %s 2>&1", creds, test_strata_bin(), data, creds);
	assert_int_equal(test_run(cmd, out, sizeof out), 1);
	assert_non_null(strstr(out, "line 5"));
	assert_non_null(strstr(out, "argon2id"));
	snprintf(cmd, sizeof cmd, "%s serve --auth-open ping,everything 2>&1", test_strata_bin());
	assert_int_equal(test_run(cmd, out, sizeof out), 2);
	test_remove_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth_serve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
