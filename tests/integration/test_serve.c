/*
 * Integration test: the real `strata serve` on a random loopback port, asked
 * with curl. Checks /ping (GET and HEAD, with the InfluxDB version header),
 * /health, unknown routes, that a second server on the same data directory
 * is refused with a message naming the holder, and a clean exit 0 on
 * SIGTERM, after which `strata check` finds the directory whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/server.h"

static void test_serve_ping_lock_and_sigterm(void **state)
{
	char dir[64], data[128], log[128], log2[128], cmd[512], out[4096], pid_text[32];
	test_server srv;
	pid_t second;

	(void)state;
	assert_int_equal(test_make_temp_dir(dir, sizeof dir), 0);
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(log, sizeof log, "%s/serve.log", dir);
	snprintf(log2, sizeof log2, "%s/serve2.log", dir);
	if (!test_server_start(&srv, data, log, NULL))
		fail_msg("strata serve did not come up; see %s", log);

	/* GET and HEAD /ping: 204 with the version header InfluxDB clients look for. */
	snprintf(cmd, sizeof cmd, "curl -s -D - -o /dev/null http://127.0.0.1:%d/ping", srv.port);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_non_null(strstr(out, " 204"));
	assert_non_null(strstr(out, "X-Influxdb-Version:"));
	snprintf(cmd, sizeof cmd, "curl -s -I -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/ping", srv.port);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_string_equal(out, "204");
	snprintf(cmd, sizeof cmd, "curl -s http://127.0.0.1:%d/health", srv.port);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_non_null(strstr(out, "\"status\":\"pass\""));
	snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/nothing-here", srv.port);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_string_equal(out, "404");

	/* A second server on the same directory is refused, naming the holder. */
	second = test_spawn_server(data, srv.port + 2, log2, NULL);
	assert_int_equal(test_wait_exit(second, 10), 1);
	snprintf(cmd, sizeof cmd, "cat %s", log2);
	test_run(cmd, out, sizeof out);
	assert_non_null(strstr(out, "in use by another strata process"));
	snprintf(pid_text, sizeof pid_text, "pid %d", (int)srv.pid);
	assert_non_null(strstr(out, pid_text));

	/* SIGTERM: a clean stop, exit 0, and a whole directory. */
	assert_int_equal(test_server_stop(&srv), 0);
	snprintf(cmd, sizeof cmd, "%s/CURRENT", data);
	assert_true(test_file_size(cmd) > 0);
	snprintf(cmd, sizeof cmd, "%s check --data %s", test_strata_bin(), data);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_non_null(strstr(out, "0 damaged"));
	test_remove_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serve_ping_lock_and_sigterm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
