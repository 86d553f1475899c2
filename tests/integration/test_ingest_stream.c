/*
 * Integration test: line protocol over TCP and UDP into the real
 * `strata serve`, read back with `strata export` after a clean stop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in sa = { 0 };

	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

/* The value of a counter on /metrics, or -1. */
static long long metric(int port, const char *name)
{
	char cmd[256], out[1 << 16], *p;

	snprintf(cmd, sizeof cmd, "curl -s http://127.0.0.1:%d/metrics", port);
	if (test_run(cmd, out, sizeof out) != 0)
		return -1;
	for (p = out; (p = strstr(p, name)) != NULL; p++)
		if ((p == out || p[-1] == '\n') && p[strlen(name)] == ' ')
			return atoll(p + strlen(name) + 1);
	return -1;
}

static void test_ingest_stream_tcp_and_udp(void **state)
{
	char dir[64], data[128], log[128], cmd[512];
	static char out[1 << 20], lines[1 << 16];
	struct sockaddr_in sa;
	test_server srv;
	size_t len = 0;
	int fd, n_lines = 0;
	long long points = 0;

	(void)state;
	assert_int_equal(test_make_temp_dir(dir, sizeof dir), 0);
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(log, sizeof log, "%s/serve.log", dir);
	if (!test_server_start(&srv, data, log, NULL))
		fail_msg("strata serve did not come up; see %s", log);

	/* TCP: 1000 lines, sent in two writes that split a line in the middle. */
	for (int i = 0; i < 1000; i++)
		len += (size_t)snprintf(lines + len, sizeof lines - len, "tcp,host=h%d v=%di %d000000000\n", i % 10, i, i + 1);
	sa = loopback(srv.port + 1);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(write(fd, lines, len / 2 + 3), (ssize_t)(len / 2 + 3));
	usleep(20000);
	assert_int_equal(write(fd, lines + len / 2 + 3, len - len / 2 - 3), (ssize_t)(len - len / 2 - 3));
	close(fd);
	n_lines += 1000;

	/* UDP: one datagram of three lines, the last without a newline. */
	{
		const char *dgram = "udp,host=u v=1.5 1000000000\nudp,host=u v=2.5 2000000000\nudp,host=w v=3 3000000000";

		fd = socket(AF_INET, SOCK_DGRAM, 0);
		assert_true(fd >= 0);
		assert_int_equal(sendto(fd, dgram, strlen(dgram), 0, (struct sockaddr *)&sa, sizeof sa),
				 (ssize_t)strlen(dgram));
		close(fd);
		n_lines += 3;
	}

	/* Written within a batching interval or so: poll, bounded. */
	for (int i = 0; i < 100 && points < n_lines; i++) {
		usleep(100000);
		points = metric(srv.port, "strata_stream_points_total");
	}
	assert_int_equal(points, n_lines);
	assert_int_equal(test_server_stop(&srv), 0);

	snprintf(cmd, sizeof cmd, "%s export --data %s --db strata 2>/dev/null", test_strata_bin(), data);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_non_null(strstr(out, "tcp,host=h7 v=997i 998000000000\n"));
	assert_non_null(strstr(out, "udp,host=u v=2.5 2000000000\n"));
	assert_non_null(strstr(out, "udp,host=w v=3 3000000000\n"));
	{
		int got = 0;

		for (char *p = out; (p = strchr(p, '\n')) != NULL; p++)
			got++;
		assert_int_equal(got, n_lines + 2); /* plus the CONTEXT-DATABASE and -RETENTION-POLICY lines */
	}
	test_remove_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ingest_stream_tcp_and_udp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
