/*
 * Integration test: the real `strata serve` on a random loopback port, asked
 * with curl. Checks /ping (GET and HEAD, with the InfluxDB version header),
 * unknown routes, that a second server on the same data directory is refused
 * with a message naming the holder, and a clean exit 0 on SIGTERM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/util.h"

#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

static const char *strata_bin(void)
{
	const char *bin = getenv("STRATA_BIN");

	return bin ? bin : "./strata";
}

/* Runs a shell command and returns its first line of output in out. */
static int run_capture(const char *cmd, char *out, size_t len)
{
	FILE *p = popen(cmd, "r");
	size_t n;

	if (!p)
		return -1;
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	return pclose(p);
}

static pid_t start_server(const char *dir, int port, const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		char http[64], tcp[64];
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		snprintf(http, sizeof http, "127.0.0.1:%d", port);
		snprintf(tcp, sizeof tcp, "127.0.0.1:%d", port + 1);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execl(strata_bin(), "strata", "serve", "--data", dir, "--http", http, "--tcp", tcp,
		      "--udp", tcp, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Polls /ping until it answers 204 (true) or the server exits / 10 s pass. */
static bool wait_ready(pid_t pid, int port)
{
	char cmd[256], out[64];

	snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/ping", port);
	for (int i = 0; i < 200; i++) {
		int status;

		if (waitpid(pid, &status, WNOHANG) == pid)
			return false;
		if (run_capture(cmd, out, sizeof out) == 0 && strcmp(out, "204") == 0)
			return true;
		usleep(50000);
	}
	return false;
}

static int wait_exit(pid_t pid, int seconds)
{
	for (int i = 0; i < seconds * 20; i++) {
		int status;

		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(50000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static void test_serve_ping_lock_and_sigterm(void **state)
{
	char dir[64], data[128], log[128], log2[128], cmd[512], out[4096];
	pid_t pid = -1, second;
	int port = 0;

	(void)state;
	assert_int_equal(test_make_temp_dir(dir, sizeof dir), 0);
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(log, sizeof log, "%s/serve.log", dir);
	snprintf(log2, sizeof log2, "%s/serve2.log", dir);
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	/* A random port; another one if it was taken. */
	for (int attempt = 0; attempt < 10; attempt++) {
		port = 20000 + rand() % 40000;
		pid = start_server(data, port, log);
		assert_true(pid > 0);
		if (wait_ready(pid, port))
			break;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	if (pid < 0) {
		fail_msg("strata serve did not come up; see %s", log);
	}

	/* GET and HEAD /ping: 204 with the version header InfluxDB clients look for. */
	snprintf(cmd, sizeof cmd, "curl -s -D - -o /dev/null http://127.0.0.1:%d/ping", port);
	assert_int_equal(run_capture(cmd, out, sizeof out), 0);
	assert_non_null(strstr(out, " 204"));
	assert_non_null(strstr(out, "X-Influxdb-Version:"));
	snprintf(cmd, sizeof cmd, "curl -s -I -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/ping", port);
	assert_int_equal(run_capture(cmd, out, sizeof out), 0);
	assert_string_equal(out, "204");
	snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/nothing-here", port);
	assert_int_equal(run_capture(cmd, out, sizeof out), 0);
	assert_string_equal(out, "404");

	/* A second server on the same directory is refused, naming the holder. */
	second = start_server(data, port + 2, log2);
	assert_int_equal(wait_exit(second, 10), 1);
	snprintf(cmd, sizeof cmd, "cat %s", log2);
	run_capture(cmd, out, sizeof out);
	assert_non_null(strstr(out, "in use by another strata process"));
	{
		char pid_text[32];

		snprintf(pid_text, sizeof pid_text, "pid %d", (int)pid);
		assert_non_null(strstr(out, pid_text));
	}

	/* SIGTERM: a clean stop, exit 0, the lock released. */
	kill(pid, SIGTERM);
	assert_int_equal(wait_exit(pid, 20), 0);
	snprintf(cmd, sizeof cmd, "%s/CURRENT", data);
	assert_true(test_file_size(cmd) > 0);
	snprintf(cmd, sizeof cmd, "%s check --data %s", strata_bin(), data);
	assert_int_equal(run_capture(cmd, out, sizeof out), 0);
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
