/*
 * server.h — starting the real `strata serve` for integration tests: on a
 * random loopback port, its output in a log file, readiness by asking
 * /ping with curl, and stopping it by signal with a bounded wait.
 */
#ifndef STRATA_TESTS_SERVER_H
#define STRATA_TESTS_SERVER_H

#include "tests/util.h"

#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>

typedef struct test_server {
	pid_t pid;
	int port;        /* HTTP; TCP and UDP line protocol on port + 1 */
	char data[256];
	char log[256];
} test_server;

/* Servers still running: killed at exit, so a failed assertion leaves none behind. */
static pid_t test_live_servers[16];

static inline void test_kill_live_servers(void)
{
	for (int i = 0; i < 16; i++) {
		if (test_live_servers[i] > 0) {
			kill(test_live_servers[i], SIGKILL);
			waitpid(test_live_servers[i], NULL, 0);
			test_live_servers[i] = 0;
		}
	}
}

static inline void test_track_server(pid_t pid, bool live)
{
	static bool registered;

	if (!registered) {
		atexit(test_kill_live_servers);
		registered = true;
	}
	for (int i = 0; i < 16; i++) {
		if (live && test_live_servers[i] == 0) {
			test_live_servers[i] = pid;
			return;
		}
		if (!live && test_live_servers[i] == pid) {
			test_live_servers[i] = 0;
			return;
		}
	}
}

static inline const char *test_strata_bin(void)
{
	const char *bin = getenv("STRATA_BIN");

	return bin ? bin : "./strata";
}

/* Runs a shell command; its output (up to len - 1 bytes) in out; returns the exit status. */
static inline int test_run(const char *cmd, char *out, size_t len)
{
	FILE *p = popen(cmd, "r");
	size_t n = 0;
	int status;

	if (!p)
		return -1;
	if (out && len) {
		n = fread(out, 1, len - 1, p);
		out[n] = '\0';
	} else {
		char sink[4096];

		while (fread(sink, 1, sizeof sink, p) > 0)
			;
	}
	status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static inline pid_t test_spawn_server(const char *data, int port, const char *log, const char *const *extra)
{
	pid_t pid = fork();

	if (pid == 0) {
		char http[64], stream[64];
		const char *argv[32];
		int n = 0, fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		snprintf(http, sizeof http, "127.0.0.1:%d", port);
		snprintf(stream, sizeof stream, "127.0.0.1:%d", port + 1);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		argv[n++] = "strata";
		argv[n++] = "serve";
		argv[n++] = "--data";
		argv[n++] = data;
		argv[n++] = "--http";
		argv[n++] = http;
		argv[n++] = "--tcp";
		argv[n++] = stream;
		argv[n++] = "--udp";
		argv[n++] = stream;
		for (int i = 0; extra && extra[i] && n < 31; i++)
			argv[n++] = extra[i];
		argv[n] = NULL;
		execv(test_strata_bin(), (char *const *)argv);
		_exit(127);
	}
	if (pid > 0)
		test_track_server(pid, true);
	return pid;
}

/*
 * Polls /ping until 204 (true), or until the server exits or 90 s pass: a
 * restart after a crash replays the WAL and flushes it before it listens,
 * which under the sanitizers on a busy machine takes a while.
 */
static inline bool test_wait_ready(pid_t pid, int port)
{
	char cmd[256], out[64];

	snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/ping", port);
	for (int i = 0; i < 1800; i++) {
		int status;

		if (waitpid(pid, &status, WNOHANG) == pid) {
			test_track_server(pid, false);
			return false;
		}
		if (test_run(cmd, out, sizeof out) == 0 && strcmp(out, "204") == 0)
			return true;
		usleep(50000);
	}
	return false;
}

/* Waits up to seconds for pid to exit: its exit code, 128 + signal, or -1 (then killed). */
static inline int test_wait_exit(pid_t pid, int seconds)
{
	for (int i = 0; i < seconds * 20; i++) {
		int status;

		if (waitpid(pid, &status, WNOHANG) == pid) {
			test_track_server(pid, false);
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		usleep(50000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	test_track_server(pid, false);
	return -1;
}

/*
 * Starts a server on data (a directory path) at a random port, retrying on
 * another port if it does not come up. extra: more arguments, NULL-ended.
 */
static inline bool test_server_start(test_server *s, const char *data, const char *log, const char *const *extra)
{
	static bool seeded;

	if (!seeded) {
		srand((unsigned)time(NULL) ^ (unsigned)getpid());
		seeded = true;
	}
	snprintf(s->data, sizeof s->data, "%s", data);
	snprintf(s->log, sizeof s->log, "%s", log);
	for (int attempt = 0; attempt < 10; attempt++) {
		s->port = 20000 + 2 * (rand() % 20000);
		s->pid = test_spawn_server(data, s->port, log, extra);
		if (s->pid > 0 && test_wait_ready(s->pid, s->port))
			return true;
		if (s->pid > 0) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
			test_track_server(s->pid, false);
		}
	}
	s->pid = -1;
	return false;
}

/* SIGTERM and wait: the exit code (0 for a clean stop). */
static inline int test_server_stop(test_server *s)
{
	int rc;

	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	rc = test_wait_exit(s->pid, 30);
	s->pid = -1;
	return rc;
}

/* SIGKILL: a crash. */
static inline void test_server_kill(test_server *s)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	test_track_server(s->pid, false);
	s->pid = -1;
}

#endif
