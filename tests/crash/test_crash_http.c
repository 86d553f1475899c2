/*
 * Crash test through the real server: `strata serve` on a random loopback
 * port takes POST /write from N_WRITERS threads, each on its own keep-alive
 * connection, each writing batches of points whose series, timestamp and
 * value say which writer, round and batch they belong to. At a random
 * moment the server gets SIGKILL; it is restarted on the same directory and
 * the round is read back over /query:
 *   - every point of a batch answered 204 is there, with its value;
 *   - nothing is there that was never sent;
 *   - a batch (one request, one WAL record) is whole or absent, including
 *     the one batch per writer that was in flight at the kill;
 *   - the restarted server answers a new write with 204.
 * What one round found present must still be there after every later
 * crash: at the end the server stops cleanly and `strata export` reads the
 * whole directory back, every round and every probe write, and `strata
 * check` finds nothing damaged.
 *
 * A small memtable makes flushes and compactions frequent, so kills land in
 * them too (the timestamps are in a closed time window, which every start
 * compacts). The second case kills the server during a flush: while
 * /metrics shows an immutable memtable and a table is being written (a .tmp
 * file in sst/), and checks that the next start removes the cut table.
 *
 * STRATA_CRASH_HTTP_ROUNDS: rounds of the first case (default 4; 50 or more
 * by hand, see docs/faults.md); STRATA_CRASH_HTTP_FLUSH_ROUNDS: rounds of
 * the second (default 2); STRATA_CRASH_HTTP_SEED repeats a run (the seed is
 * printed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>

#define N_WRITERS 6
#define MAX_BATCHES 20000           /* per writer and round: bounds every writer loop */
#define MAX_ROUNDS 10000
#define IO_TIMEOUT_S 10             /* socket send and receive timeouts */
#define T0 INT64_C(1600000000000000000) /* 2020-09-13: a closed window, so compactions run */
#define ROUND_STRIDE INT64_C(10000000000) /* 10 s of timestamps per round */
#define WRITER_STRIDE INT64_C(100000000)  /* 0.1 s per writer: batches * points fit */
#define PROBE_T0 INT64_C(1500000000000000000)

/* The run's own random numbers (tests/server.h seeds rand() for its ports). */
static unsigned rng;

/* What happened to a batch: sent, answered 204, and what the checks found. */
enum {
	B_UNSENT = 0,
	B_IN_FLIGHT = 1, /* sent, no complete answer: may or may not be stored */
	B_ACKED = 2,
	B_PRESENT = 0x10, /* found whole after the restart that followed its round */
};

typedef struct round_log {
	int points; /* per batch */
	uint32_t n_sent[N_WRITERS];
	uint8_t *state[N_WRITERS];
	bool probe_acked;
} round_log;

typedef struct crash_run {
	char dir[64], data[128], log[128], query_out[160];
	test_server srv;
	const char *const *extra;
	round_log *rounds;
	int n_rounds;
	uint64_t acked_points, present_points, in_flight_present, in_flight_absent;
	uint64_t kills_during_flush; /* a memtable was being flushed and a table written */
	uint64_t kills_mid_table;    /* of those, a .tmp table was left behind, cut */
} crash_run;

static int64_t point_ts(int round, int writer, uint32_t batch, int points, int i)
{
	return T0 + round * ROUND_STRIDE + writer * WRITER_STRIDE + (int64_t)batch * points + i;
}

/* The value of the point at ts: a function of the timestamp, so a misplaced value shows. */
static int64_t point_value(int64_t ts)
{
	return (ts - T0) * 7 + 3;
}

/* ---- a small HTTP/1.1 client: one keep-alive connection per writer ---- */

static int http_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The value of header name (lower case) in the header block [h, end), or NULL. */
static const char *header_value(const char *h, const char *end, const char *name)
{
	size_t nl = strlen(name);

	for (const char *p = h; p < end;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (!eol)
			break;
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			p += nl + 1;
			while (*p == ' ')
				p++;
			return p;
		}
		p = eol + 1;
	}
	return NULL;
}

/*
 * Sends a request on fd (a POST with body when body is not NULL, else a
 * GET) and reads the whole answer: 0 with *status and the first out_len - 1
 * bytes of the answer's body in out (NUL-terminated), or -1 when the
 * connection failed before a complete answer (a request may or may not have
 * been handled). *keep is false when the server closes the connection
 * after this answer.
 */
static int http_request(int fd, const char *target, const char *body, size_t len, int *status, bool *keep,
			char *out, size_t out_len)
{
	char head[512], resp[16384];
	size_t got = 0, body_have, clen = 0, kept;
	const char *end = NULL, *v;
	int hl = body ? snprintf(head, sizeof head,
				 "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain; charset=utf-8\r\n"
				 "Content-Length: %zu\r\n\r\n",
				 target, len)
		      : snprintf(head, sizeof head, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", target);

	if (send_all(fd, head, (size_t)hl) != 0 || (body && send_all(fd, body, len) != 0))
		return -1;
	while (!end) {
		ssize_t n;

		if (got == sizeof resp - 1)
			return -1; /* headers this long: not an answer of ours */
		n = recv(fd, resp + got, sizeof resp - 1 - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
		resp[got] = '\0';
		end = strstr(resp, "\r\n\r\n");
	}
	if (sscanf(resp, "HTTP/1.%*d %d", status) != 1)
		return -1;
	v = header_value(resp, end + 2, "content-length");
	if (v)
		clen = strtoul(v, NULL, 10);
	v = header_value(resp, end + 2, "connection");
	*keep = !(v && strncasecmp(v, "close", 5) == 0);
	body_have = got - (size_t)(end + 4 - resp);
	kept = body_have < out_len ? body_have : out_len - 1;
	memcpy(out, end + 4, kept);
	/* The rest of the body: kept while out has room, then dropped. */
	while (body_have < clen) {
		char sink[4096];
		size_t want = clen - body_have < sizeof sink ? clen - body_have : sizeof sink;
		ssize_t n = recv(fd, sink, want, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		if (kept < out_len - 1) {
			size_t k = (size_t)n < out_len - 1 - kept ? (size_t)n : out_len - 1 - kept;

			memcpy(out + kept, sink, k);
			kept += k;
		}
		body_have += (size_t)n;
	}
	out[kept] = '\0';
	return 0;
}

/* ---- writers ---- */

typedef struct writer {
	int port, round, k, points;
	atomic_bool *stop;
	uint8_t *state;
	uint32_t n_sent;
	int bad_status; /* an answer other than 204 (a failure of the test) */
	char bad_body[512];
} writer;

static void *writer_main(void *arg)
{
	writer *w = arg;
	size_t cap = (size_t)w->points * 64 + 64, len;
	char *body = malloc(cap), target[64];
	int fd = -1;

	snprintf(target, sizeof target, "/write?db=crash&precision=ns");
	for (uint32_t b = 0; body && b < MAX_BATCHES && !atomic_load(w->stop); b++) {
		int status;
		bool keep;

		if (fd < 0 && (fd = http_connect(w->port)) < 0)
			break; /* the server is gone; batch b was never sent */
		len = 0;
		for (int i = 0; i < w->points; i++) {
			int64_t ts = point_ts(w->round, w->k, b, w->points, i);

			len += (size_t)snprintf(body + len, cap - len, "crash,w=%d v=%" PRId64 "i %" PRId64 "\n", w->k,
						point_value(ts), ts);
		}
		w->state[b] = B_IN_FLIGHT;
		w->n_sent = b + 1;
		if (http_request(fd, target, body, len, &status, &keep, w->bad_body, sizeof w->bad_body) != 0)
			break; /* killed with the batch in flight */
		if (status != 204) {
			w->bad_status = status;
			break;
		}
		w->state[b] = B_ACKED;
		if (!keep) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	free(body);
	return NULL;
}

/* ---- the server and the checks ---- */

static void start_server(crash_run *c)
{
	if (!test_server_start(&c->srv, c->data, c->log, c->extra))
		fail_msg("strata serve did not come up on %s; see %s", c->data, c->log);
}

/* POSTs one body with curl; the HTTP status. */
static int curl_post(crash_run *c, const char *target, const char *body)
{
	char cmd[1024], out[64];

	snprintf(cmd, sizeof cmd,
		 "curl -s -m 20 -o /dev/null -w '%%{http_code}' -XPOST 'http://127.0.0.1:%d%s' --data-binary '%s'",
		 c->srv.port, target, body);
	if (test_run(cmd, out, sizeof out) != 0)
		return -1;
	return atoi(out);
}

/* The batch of writer k's point at ts in round r, checked against what was sent. */
static uint32_t batch_of(crash_run *c, int r, int k, int64_t ts, int64_t v, const char *where)
{
	round_log *rl = &c->rounds[r];
	int64_t off = ts - T0 - r * ROUND_STRIDE - k * WRITER_STRIDE;
	uint32_t b;

	if (k < 0 || k >= N_WRITERS || off < 0 || off >= WRITER_STRIDE)
		fail_msg("%s: point of writer %d at %" PRId64 " was never sent", where, k, ts);
	b = (uint32_t)(off / rl->points);
	if (b >= rl->n_sent[k])
		fail_msg("%s: round %d writer %d batch %u (ts %" PRId64 ") was never sent (%u sent)", where, r, k, b, ts,
			 rl->n_sent[k]);
	if (v != point_value(ts))
		fail_msg("%s: round %d writer %d ts %" PRId64 " has v=%" PRId64 ", sent %" PRId64, where, r, k, ts, v,
			 point_value(ts));
	return b;
}

/*
 * Whole-batch and acknowledgement checks over counts[k][b] (points found);
 * first: the first look at this round (records what was present), else the
 * final look (everything seen before must still be there).
 */
static void check_counts(crash_run *c, int r, uint16_t *counts[N_WRITERS], bool first, const char *where)
{
	round_log *rl = &c->rounds[r];

	for (int k = 0; k < N_WRITERS; k++) {
		for (uint32_t b = 0; b < rl->n_sent[k]; b++) {
			uint8_t *st = &rl->state[k][b];
			int n = counts[k][b];

			if (n != 0 && n != rl->points)
				fail_msg("%s: round %d writer %d batch %u is torn: %d of %d points", where, r, k, b, n,
					 rl->points);
			if ((*st & 0x0f) == B_ACKED && n == 0)
				fail_msg("%s: round %d writer %d batch %u was acknowledged (204) and is missing", where, r,
					 k, b);
			if (first) {
				if (n)
					*st |= B_PRESENT;
				if ((*st & 0x0f) == B_ACKED)
					c->acked_points += (uint64_t)n;
				else if (n)
					c->in_flight_present++;
				else
					c->in_flight_absent++;
				c->present_points += (uint64_t)n;
			} else if ((*st & B_PRESENT) && n == 0) {
				fail_msg("%s: round %d writer %d batch %u was there after its round and is gone now",
					 where, r, k, b);
			}
		}
	}
}

static void alloc_counts(crash_run *c, int r, uint16_t *counts[N_WRITERS])
{
	for (int k = 0; k < N_WRITERS; k++) {
		counts[k] = calloc(c->rounds[r].n_sent[k] + 1, sizeof *counts[k]);
		assert_non_null(counts[k]);
	}
}

static void free_counts(uint16_t *counts[N_WRITERS])
{
	for (int k = 0; k < N_WRITERS; k++)
		free(counts[k]);
}

/* Reads round r back over /query (CSV, nanosecond times) from the restarted server. */
static void verify_round_over_query(crash_run *c, int r)
{
	char cmd[1024], out[64], line[512], where[64];
	uint16_t *counts[N_WRITERS];
	FILE *f;
	uint64_t rows = 0;

	snprintf(where, sizeof where, "/query after round %d", r);
	snprintf(cmd, sizeof cmd,
		 "curl -s -m 60 -o %s -w '%%{http_code}' -G 'http://127.0.0.1:%d/query' -H 'Accept: application/csv' "
		 "--data-urlencode db=crash --data-urlencode epoch=ns "
		 "--data-urlencode 'q=SELECT v FROM crash WHERE time >= %" PRId64 " AND time < %" PRId64 " GROUP BY w'",
		 c->query_out, c->srv.port, T0 + r * ROUND_STRIDE, T0 + (r + 1) * ROUND_STRIDE);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	if (strcmp(out, "200") != 0)
		fail_msg("%s: HTTP %s", where, out);
	f = fopen(c->query_out, "r");
	assert_non_null(f);
	alloc_counts(c, r, counts);
	while (fgets(line, sizeof line, f)) {
		int k;
		int64_t ts, v;

		if (rows == 0 && strncmp(line, "error", 5) == 0) {
			char msg[512] = "";

			if (!fgets(msg, sizeof msg, f))
				msg[0] = '\0';
			fail_msg("%s: %s", where, msg);
		}
		if (strncmp(line, "name,", 5) == 0 || line[0] == '\n')
			continue;
		if (sscanf(line, "crash,w=%d,%" SCNd64 ",%" SCNd64, &k, &ts, &v) != 3)
			fail_msg("%s: unexpected line: %s", where, line);
		counts[k][batch_of(c, r, k, ts, v, where)]++;
		rows++;
	}
	fclose(f);
	check_counts(c, r, counts, true, where);
	free_counts(counts);
}

/* Stops the server cleanly and reads every round back with `strata export`, then `strata check`. */
static void verify_all_with_export(crash_run *c)
{
	char cmd[1024], out[256], path[192], line[512];
	uint16_t **counts;
	uint64_t probes = 0, expected_probes = 0, points = 0;
	FILE *f;

	assert_int_equal(test_server_stop(&c->srv), 0);
	snprintf(path, sizeof path, "%s/export.lp", c->dir);
	snprintf(cmd, sizeof cmd, "%s export --data %s --db crash > %s 2>/dev/null", test_strata_bin(), c->data, path);
	assert_int_equal(test_run(cmd, NULL, 0), 0);
	counts = calloc((size_t)c->n_rounds * N_WRITERS, sizeof *counts);
	assert_non_null(counts);
	for (int r = 0; r < c->n_rounds; r++)
		alloc_counts(c, r, counts + r * N_WRITERS);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f)) {
		int k;
		int64_t ts, v, r;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "probe v=%" SCNd64 "i %" SCNd64, &v, &ts) == 2) {
			if (v < 0 || v >= c->n_rounds || ts != PROBE_T0 + v || !c->rounds[v].probe_acked)
				fail_msg("export: unexpected probe point: %s", line);
			probes++;
			continue;
		}
		if (sscanf(line, "crash,w=%d v=%" SCNd64 "i %" SCNd64, &k, &v, &ts) != 3)
			fail_msg("export: unexpected line: %s", line);
		r = (ts - T0) / ROUND_STRIDE;
		if (ts < T0 || r >= c->n_rounds)
			fail_msg("export: point outside every round: %s", line);
		counts[r * N_WRITERS + k][batch_of(c, (int)r, k, ts, v, "export")]++;
		points++;
	}
	fclose(f);
	for (int r = 0; r < c->n_rounds; r++) {
		check_counts(c, r, counts + r * N_WRITERS, false, "export at the end");
		free_counts(counts + r * N_WRITERS);
		expected_probes += c->rounds[r].probe_acked;
	}
	free(counts);
	assert_int_equal(probes, expected_probes);
	assert_int_equal(points, c->present_points);
	/* The whole report goes to a file: a pipe read only in part would kill check with SIGPIPE. */
	snprintf(path, sizeof path, "%s/check.txt", c->dir);
	snprintf(cmd, sizeof cmd, "%s check --data %s > %s 2>&1", test_strata_bin(), c->data, path);
	if (test_run(cmd, NULL, 0) != 0) {
		snprintf(cmd, sizeof cmd, "grep -v '^ok' %s", path);
		test_run(cmd, out, sizeof out);
		fail_msg("strata check found damage: %s", out);
	}
}

/* How to pick the moment of the kill. */
enum kill_at { KILL_AT_RANDOM_TIME, KILL_DURING_FLUSH };

/* True when sst/ holds a table being written (its .tmp name). */
static bool table_in_progress(const crash_run *c)
{
	char sst[192];

	snprintf(sst, sizeof sst, "%s/sst", c->data);
	return test_count_files(sst, ".tmp") > 0;
}

/* The value of a /metrics gauge, asked on *fd (reconnected when needed), or -1. */
static long long metric(int *fd, int port, const char *name, char *buf, size_t len)
{
	int status;
	bool keep;
	const char *p;
	size_t nl = strlen(name);

	if (*fd < 0 && (*fd = http_connect(port)) < 0)
		return -1;
	if (http_request(*fd, "/metrics", NULL, 0, &status, &keep, buf, len) != 0 || status != 200) {
		close(*fd);
		*fd = -1;
		return -1;
	}
	if (!keep) {
		close(*fd);
		*fd = -1;
	}
	for (p = buf; (p = strstr(p, name)) != NULL; p += nl)
		if ((p == buf || p[-1] == '\n') && p[nl] == ' ')
			return atoll(p + nl + 1);
	return -1;
}

/*
 * Polls every millisecond, for at most 30 s, until a flush is writing a
 * table: a .tmp file in sst/ while /metrics shows an immutable memtable.
 * True when found (the caller kills at once).
 */
static bool wait_for_flush(crash_run *c)
{
	size_t len = 256 << 10;
	char *buf = malloc(len);
	int fd = -1;
	bool found = false;

	assert_non_null(buf);
	for (int i = 0; i < 30000 && !found; i++) {
		if (table_in_progress(c) &&
		    metric(&fd, c->srv.port, "strata_immutable_memtable_bytes", buf, len) > 0)
			found = true;
		else
			usleep(1000);
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return found;
}

static void run_round(crash_run *c, int r, int points, enum kill_at at)
{
	round_log *rl = &c->rounds[r];
	pthread_t threads[N_WRITERS];
	writer w[N_WRITERS];
	atomic_bool stop = false;
	char probe[128];
	bool mid_table = false, flushing = false;

	rl->points = points;
	for (int k = 0; k < N_WRITERS; k++) {
		rl->state[k] = calloc(MAX_BATCHES, 1);
		assert_non_null(rl->state[k]);
		w[k] = (writer){ .port = c->srv.port, .round = r, .k = k, .points = points, .stop = &stop,
				 .state = rl->state[k] };
		assert_int_equal(pthread_create(&threads[k], NULL, writer_main, &w[k]), 0);
	}
	if (at == KILL_AT_RANDOM_TIME) {
		usleep((useconds_t)(100 + rand_r(&rng) % 1400) * 1000);
	} else {
		flushing = wait_for_flush(c);
	}
	kill(c->srv.pid, SIGKILL);
	/* The process is gone now: a .tmp table still there was cut in the middle. */
	test_server_kill(&c->srv);
	mid_table = table_in_progress(c);
	c->kills_during_flush += flushing;
	c->kills_mid_table += flushing && mid_table;
	atomic_store(&stop, true);
	for (int k = 0; k < N_WRITERS; k++) {
		pthread_join(threads[k], NULL);
		if (w[k].bad_status)
			fail_msg("round %d writer %d: HTTP %d before the kill: %s", r, k, w[k].bad_status, w[k].bad_body);
		rl->n_sent[k] = w[k].n_sent;
	}
	if (at == KILL_DURING_FLUSH)
		printf("round %d: killed %s%s\n", r, flushing ? "during a flush" : "with no flush seen in 30 s",
		       flushing && mid_table ? ", a table cut in the middle" : "");

	start_server(c);
	verify_round_over_query(c, r);
	/* The restarted server takes writes. */
	snprintf(probe, sizeof probe, "probe v=%di %" PRId64, r, PROBE_T0 + r);
	assert_int_equal(curl_post(c, "/write?db=crash&precision=ns", probe), 204);
	rl->probe_acked = true;
	c->n_rounds = r + 1;
}

static void run_setup(crash_run *c, const char *const *extra, int max_rounds)
{
	char cmd[512], out[256];

	memset(c, 0, sizeof *c);
	assert_int_equal(test_make_temp_dir(c->dir, sizeof c->dir), 0);
	snprintf(c->data, sizeof c->data, "%s/data", c->dir);
	snprintf(c->log, sizeof c->log, "%s/serve.log", c->dir);
	snprintf(c->query_out, sizeof c->query_out, "%s/query.csv", c->dir);
	c->extra = extra;
	c->rounds = calloc((size_t)max_rounds, sizeof *c->rounds);
	assert_non_null(c->rounds);
	start_server(c);
	snprintf(cmd, sizeof cmd,
		 "curl -s -m 20 -XPOST 'http://127.0.0.1:%d/query' --data-urlencode 'q=CREATE DATABASE crash'",
		 c->srv.port);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_null(strstr(out, "error"));
}

static void run_teardown(crash_run *c, int max_rounds)
{
	for (int r = 0; r < max_rounds; r++)
		for (int k = 0; k < N_WRITERS; k++)
			free(c->rounds[r].state[k]);
	free(c->rounds);
	test_remove_tree(c->dir);
}

static int env_int(const char *name, int dflt, int max)
{
	const char *v = getenv(name);
	int n = v ? atoi(v) : dflt;

	return n < 1 ? 1 : n > max ? max : n;
}

static void test_crash_http_acknowledged_writes_survive_sigkill(void **state)
{
	static const char *const extra[] = { "--memtable-bytes", "524288", "--no-udp", NULL };
	int rounds = env_int("STRATA_CRASH_HTTP_ROUNDS", 4, MAX_ROUNDS);
	crash_run c;

	(void)state;
	run_setup(&c, extra, rounds);
	for (int r = 0; r < rounds; r++)
		run_round(&c, r, 1 + (int)(rand_r(&rng) % 40), KILL_AT_RANDOM_TIME);
	verify_all_with_export(&c);
	printf("crash over HTTP: %d rounds, %" PRIu64 " points present and verified (%" PRIu64
	       " acknowledged), in-flight batches: %" PRIu64 " present, %" PRIu64 " absent\n",
	       c.n_rounds, c.present_points, c.acked_points, c.in_flight_present, c.in_flight_absent);
	assert_true(c.acked_points > 0);
	run_teardown(&c, rounds);
}

static void test_crash_http_kill_during_flush(void **state)
{
	static const char *const extra[] = { "--memtable-bytes", "4194304", "--no-udp", NULL };
	int rounds = env_int("STRATA_CRASH_HTTP_FLUSH_ROUNDS", 2, MAX_ROUNDS);
	crash_run c;
	char cmd[512], out[64];

	(void)state;
	run_setup(&c, extra, rounds);
	for (int r = 0; r < rounds; r++)
		run_round(&c, r, 200, KILL_DURING_FLUSH);
	/* Every start after a kill in the middle of a table removed the .tmp file. */
	snprintf(cmd, sizeof cmd, "grep -c 'event=orphan_deleted.*reason=temporary' %s", c.log);
	test_run(cmd, out, sizeof out);
	assert_true((uint64_t)atoi(out) >= c.kills_mid_table);
	verify_all_with_export(&c);
	printf("kill during a flush: %d rounds, %" PRIu64 " of them during a flush (%" PRIu64
	       " with a table cut in the middle), %" PRIu64 " points verified\n",
	       c.n_rounds, c.kills_during_flush, c.kills_mid_table, c.present_points);
	assert_true(c.kills_during_flush > 0);
	run_teardown(&c, rounds);
}

int main(void)
{
	const char *seed_env = getenv("STRATA_CRASH_HTTP_SEED");
	unsigned seed = seed_env ? (unsigned)strtoul(seed_env, NULL, 10) : (unsigned)time(NULL) ^ (unsigned)getpid();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crash_http_acknowledged_writes_survive_sigkill),
		cmocka_unit_test(test_crash_http_kill_during_flush),
	};

	printf("crash over HTTP: seed %u (STRATA_CRASH_HTTP_SEED)\n", seed);
	rng = seed;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
