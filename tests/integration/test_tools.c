/*
 * Integration test: the operator's subcommands on real data directories —
 * `strata check` and `check --repair` on directories damaged on purpose
 * (a table, a WAL segment, the manifest, CURRENT, the catalog), `dump
 * manifest`, `backup` of a server under write load and of a closed
 * directory, `restore`, `stats`, `export` of a database with several
 * retention policies, and the usage and exit codes of each.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>

#define DAY_NS (INT64_C(86400) * 1000000000)
#define BATCH_POINTS 100

typedef struct fixture {
	char dir[64];
	char data[128];
	char log[128];
	char scratch[192]; /* a file for command output */
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);

	if (!f || test_make_temp_dir(f->dir, sizeof f->dir) != 0)
		return -1;
	snprintf(f->data, sizeof f->data, "%s/data", f->dir);
	snprintf(f->log, sizeof f->log, "%s/serve.log", f->dir);
	snprintf(f->scratch, sizeof f->scratch, "%s/out.txt", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	test_kill_live_servers();
	test_remove_tree(f->dir);
	free(f);
	return 0;
}

/* Runs `strata ARGS` with stdout and stderr into out; returns the exit status. */
static int strata(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int strata(char *out, size_t len, const char *fmt, ...)
{
	char args[2048], cmd[2400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof cmd, "%s %s 2>&1", test_strata_bin(), args);
	return test_run(cmd, out, len);
}

/* Points of `strata export` for db, written to path; returns the number of lines, or -1. */
static long export_to(const char *data, const char *db, const char *path)
{
	char cmd[1024], line[512];
	long n = 0;
	FILE *f;

	snprintf(cmd, sizeof cmd, "%s export --data %s --db %s > %s 2>/dev/null", test_strata_bin(), data, db, path);
	if (test_run(cmd, NULL, 0) != 0)
		return -1;
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (line[0] != '#' && line[0] != '\n')
			n++;
	fclose(f);
	return n;
}

/*
 * A line protocol file: n points of `series` series (cpu,host=hK), spread
 * over three days from t0, one a millisecond.
 */
static void write_lp(const char *path, int n, int series, int64_t t0)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	for (int i = 0; i < n; i++)
		fprintf(f, "cpu,host=h%d usage=%d.5,count=%di %lld\n", i % series, i, i,
			(long long)(t0 + (i % 3) * DAY_NS + (int64_t)i * 1000000));
	fclose(f);
}

/* A directory made by `strata import`: n points, 50 series, in three windows. */
static void import_points(fixture *f, const char *db, int n, int64_t t0)
{
	char lp[256], out[4096];

	snprintf(lp, sizeof lp, "%s/in-%lld.lp", f->dir, (long long)t0);
	write_lp(lp, n, 50, t0);
	if (strata(out, sizeof out, "import --data %s --db %s %s", f->data, db, lp) != 0)
		fail_msg("import failed: %s", out);
}

/* The sum of N over every "LOST ...: N of M points" line. */
static long lost_table_points(const char *out)
{
	long sum = 0;

	for (const char *p = strstr(out, "LOST"); p; p = strstr(p + 4, "LOST")) {
		const char *q = strstr(p, ": ");
		long n, m;

		if (q && sscanf(q + 2, "%ld of %ld points", &n, &m) == 2)
			sum += n;
	}
	return sum;
}

/* ---- plain HTTP for the writer thread (no process per request) ---- */

/* POSTs body to path on 127.0.0.1:port; returns the status code, or -1. */
static int http_post(int port, const char *path, const char *body, size_t len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_sec = 30 };
	char head[512], resp[1024];
	int fd, n, status = -1;
	size_t got = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
		goto out;
	n = snprintf(head, sizeof head, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n", path, len);
	if (send(fd, head, (size_t)n, MSG_NOSIGNAL) != n || send(fd, body, len, MSG_NOSIGNAL) != (ssize_t)len)
		goto out;
	while (got < sizeof resp - 1) {
		ssize_t k = recv(fd, resp + got, sizeof resp - 1 - got, 0);

		if (k <= 0)
			break;
		got += (size_t)k;
	}
	resp[got] = '\0';
	if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1)
		status = -1;
out:
	close(fd);
	return status;
}

typedef struct writer {
	int port;
	int64_t t0;
	atomic_int acked;     /* batches 0..acked-1 answered 204 */
	atomic_bool stop;
	int failed_status;
} writer;

/* Batch b: BATCH_POINTS points, fields b and i, alternating between two days. */
static size_t batch_body(char *out, size_t cap, int64_t t0, int b)
{
	size_t n = 0;

	for (int i = 0; i < BATCH_POINTS && n + 128 < cap; i++)
		n += (size_t)snprintf(out + n, cap - n, "load,host=h%d b=%di,i=%di %lld\n", i % 10, b, i,
				      (long long)(t0 + (b % 2) * DAY_NS + (int64_t)b * 1000000 + i));
	return n;
}

static void *writer_main(void *arg)
{
	writer *w = arg;
	char body[BATCH_POINTS * 80];

	for (int b = 0; b < 100000 && !atomic_load(&w->stop); b++) {
		size_t len = batch_body(body, sizeof body, w->t0, b);
		int status = http_post(w->port, "/write?db=load", body, len);

		if (status != 204) {
			w->failed_status = status;
			break;
		}
		atomic_store(&w->acked, b + 1);
	}
	return NULL;
}

/* Counts, per batch, the points of an export of database load. */
static int count_batches(const char *path, int *counts, int max_batches)
{
	char line[512];
	int other = 0;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	while (fgets(line, sizeof line, f)) {
		const char *p = strstr(line, " b=");
		int b;

		if (line[0] == '#')
			continue;
		if (!p || sscanf(p + 3, "%di", &b) != 1 || b < 0 || b >= max_batches) {
			other++;
			continue;
		}
		counts[b]++;
	}
	fclose(f);
	return other;
}

/* ---- tests ---- */

static void test_tools_usage_and_exit_codes(void **state)
{
	static const char *const cmds[] = { "check", "dump", "backup", "restore", "stats" };
	fixture *f = *state;
	char out[8192];

	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		assert_int_equal(strata(out, sizeof out, "%s --help", cmds[i]), 0);
		assert_non_null(strstr(out, "usage: strata"));
		assert_non_null(strstr(out, "Exit status"));
	}
	assert_int_equal(strata(out, sizeof out, "check --bogus"), 2);
	assert_int_equal(strata(out, sizeof out, "dump manifest"), 2);
	assert_int_equal(strata(out, sizeof out, "dump nothing %s/x", f->dir), 2);
	assert_int_equal(strata(out, sizeof out, "dump manifest %s/no-such-file", f->dir), 1);
	assert_int_equal(strata(out, sizeof out, "backup"), 2);
	assert_int_equal(strata(out, sizeof out, "backup --data a --http 127.0.0.1:1 out"), 2);
	assert_int_equal(strata(out, sizeof out, "restore %s", f->dir), 2);
	assert_int_equal(strata(out, sizeof out, "stats --format xml"), 2);
	assert_int_equal(strata(out, sizeof out, "stats --data %s/none", f->dir), 1);
	assert_int_equal(strata(out, sizeof out, "check --data %s/none", f->dir), 1);
	assert_int_equal(strata(out, sizeof out, "restore %s/none --data %s/r", f->dir, f->dir), 1);
	assert_non_null(strstr(out, "not a backup"));
	/* The top-level usage lists the commands. */
	assert_int_equal(strata(out, sizeof out, "--help"), 0);
	assert_non_null(strstr(out, "backup"));
	assert_non_null(strstr(out, "restore"));
	assert_non_null(strstr(out, "stats"));
}

/* A damaged table: the readable points are kept, the lost ones named; the rest reads back. */
static void test_tools_repair_damaged_table(void **state)
{
	fixture *f = *state;
	char out[65536], sst_dir[256], sst[512], damaged[256];
	long before, after, lost;

	import_points(f, "mydb", 30000, INT64_C(1767225600000000000));
	assert_int_equal(strata(out, sizeof out, "check --data %s", f->data), 0);
	assert_non_null(strstr(out, "0 damaged"));
	before = export_to(f->data, "mydb", f->scratch);
	assert_int_equal(before, 30000);

	snprintf(sst_dir, sizeof sst_dir, "%s/sst", f->data);
	assert_int_equal(test_find_file(sst_dir, ".sst", sst, sizeof sst), 0);
	assert_int_equal(test_flip_byte(sst, test_file_size(sst) / 3, 0x5a), 0);

	assert_int_equal(strata(out, sizeof out, "check --data %s", f->data), 1);
	assert_non_null(strstr(out, "DAMAGED"));
	assert_non_null(strstr(out, "1 damaged"));

	assert_int_equal(strata(out, sizeof out, "check --repair --data %s", f->data), 1);
	assert_non_null(strstr(out, "REPAIRED"));
	assert_non_null(strstr(out, "readable points kept in table"));
	assert_non_null(strstr(out, "LOST"));
	assert_non_null(strstr(out, "time window"));
	assert_non_null(strstr(out, "series: cpu,host=h"));
	lost = lost_table_points(out);
	assert_true(lost > 0 && lost < 10000);
	/* The damaged file was kept aside, under its own name. */
	snprintf(damaged, sizeof damaged, "%s/damaged", f->data);
	assert_int_equal(test_count_files(damaged, "Z"), 1);

	assert_int_equal(strata(out, sizeof out, "check --data %s", f->data), 0);
	after = export_to(f->data, "mydb", f->scratch);
	assert_int_equal(after, before - lost);
}

/* A flipped byte in the middle of a WAL segment: recovery would stop there; repair keeps the batches after it. */
static void test_tools_repair_damaged_wal(void **state)
{
	fixture *f = *state;
	char out[65536], wal_dir[256], wal[512], body[BATCH_POINTS * 80];
	const char *seq;
	test_server srv;
	long n, lost_from, lost_to, lost_points;

	if (!test_server_start(&srv, f->data, f->log, (const char *const[]){ "--auto-create-db", NULL }))
		fail_msg("strata serve did not come up; see %s", f->log);
	for (int b = 0; b < 40; b++) {
		size_t len = batch_body(body, sizeof body, INT64_C(1767225600000000000), b);

		assert_int_equal(http_post(srv.port, "/write?db=load", body, len), 204);
	}
	test_server_kill(&srv); /* everything is in the WAL only */

	snprintf(wal_dir, sizeof wal_dir, "%s/wal", f->data);
	assert_int_equal(test_find_file(wal_dir, ".wal", wal, sizeof wal), 0);
	assert_int_equal(test_flip_byte(wal, test_file_size(wal) / 2, 0x10), 0);
	assert_int_equal(strata(out, sizeof out, "check --data %s", f->data), 1);
	assert_non_null(strstr(out, "DAMAGED"));

	assert_int_equal(strata(out, sizeof out, "check --repair --data %s", f->data), 1);
	assert_non_null(strstr(out, "REPAIRED"));
	seq = strstr(out, "sequence numbers ");
	assert_non_null(seq);
	assert_int_equal(sscanf(seq, "sequence numbers %ld..%ld (%ld points)", &lost_from, &lost_to, &lost_points), 3);
	assert_int_equal(lost_points, BATCH_POINTS); /* exactly the one damaged batch */
	assert_int_equal(lost_to - lost_from + 1, lost_points);

	assert_int_equal(strata(out, sizeof out, "check --data %s", f->data), 0);
	n = export_to(f->data, "load", f->scratch);
	assert_int_equal(n, 40 * BATCH_POINTS - lost_points);
}

/*
 * A damaged edit in the middle of a manifest that recorded many flushes and
 * compactions: the state before the damage plus the whole tables on disk
 * give back every point.
 */
static void test_tools_repair_damaged_manifest(void **state)
{
	fixture *f = *state;
	char out[65536], manifest[512] = "", body[BATCH_POINTS * 80];
	test_server srv;
	long n;

	if (!test_server_start(&srv, f->data, f->log,
			       (const char *const[]){ "--auto-create-db", "--memtable-bytes", "65536", NULL }))
		fail_msg("strata serve did not come up; see %s", f->log);
	for (int b = 0; b < 60; b++) {
		size_t len = batch_body(body, sizeof body, INT64_C(1767225600000000000), b);

		assert_int_equal(http_post(srv.port, "/write?db=load", body, len), 204);
	}
	assert_int_equal(test_server_stop(&srv), 0);
	{
		DIR *d = opendir(f->data);
		struct dirent *de;

		while ((de = readdir(d)) != NULL)
			if (strncmp(de->d_name, "MANIFEST-", 9) == 0)
				snprintf(manifest, sizeof manifest, "%s/%s", f->data, de->d_name);
		closedir(d);
	}
	assert_int_equal(strata(out, sizeof out, "dump manifest %s", manifest), 0);
	assert_non_null(strstr(out, "type=file_header(1)"));
	assert_non_null(strstr(out, "type=version_edit(3)"));
	assert_non_null(strstr(out, "  add    file="));
	assert_non_null(strstr(out, "0 damaged"));
	assert_true(test_file_size(manifest) > 1000); /* many edits */

	assert_int_equal(test_flip_byte(manifest, test_file_size(manifest) / 2, 0x20), 0);
	assert_int_equal(strata(out, sizeof out, "dump manifest %s", manifest), 1);
	assert_non_null(strstr(out, "damaged"));
	assert_int_equal(strata(out, sizeof out, "check --data %s", f->data), 1);
	assert_non_null(strstr(out, "the engine refuses it"));

	assert_int_equal(strata(out, sizeof out, "check --repair --data %s", f->data), 0);
	assert_non_null(strstr(out, "new manifest"));
	assert_null(strstr(out, "LOST"));
	assert_int_equal(strata(out, sizeof out, "check --data %s", f->data), 0);
	n = export_to(f->data, "load", f->scratch);
	assert_int_equal(n, 60 * BATCH_POINTS);
}

/* CURRENT damaged, then gone with every manifest: rebuilt from what is on disk. */
static void test_tools_repair_current(void **state)
{
	fixture *f = *state;
	char out[65536], path[512];
	FILE *cur;

	import_points(f, "mydb", 6000, INT64_C(1767225600000000000));
	snprintf(path, sizeof path, "%s/CURRENT", f->data);
	cur = fopen(path, "w");
	assert_non_null(cur);
	fputs("MANIFEST-000999\nxxh3=0000000000000000\n", cur);
	fclose(cur);
	assert_int_equal(strata(out, sizeof out, "check --data %s", f->data), 1);
	assert_non_null(strstr(out, "DAMAGED"));
	assert_int_equal(strata(out, sizeof out, "check --repair --data %s", f->data), 0);
	assert_int_equal(strata(out, sizeof out, "check --data %s", f->data), 0);
	assert_int_equal(export_to(f->data, "mydb", f->scratch), 6000);

	/* No CURRENT and no manifest at all: the tables alone. */
	assert_int_equal(unlink(path), 0);
	{
		DIR *d = opendir(f->data);
		struct dirent *de;

		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, "MANIFEST-", 9) == 0) {
				snprintf(path, sizeof path, "%s/%s", f->data, de->d_name);
				assert_int_equal(unlink(path), 0);
			}
		}
		closedir(d);
	}
	assert_int_equal(strata(out, sizeof out, "check --repair --data %s", f->data), 0);
	assert_non_null(strstr(out, "adopted"));
	assert_int_equal(export_to(f->data, "mydb", f->scratch), 6000);
}

/* A damaged catalog record: the records after it are kept; the lost series is named by id. */
static void test_tools_repair_damaged_catalog(void **state)
{
	fixture *f = *state;
	char out[65536], path[256];
	long n;

	import_points(f, "mydb", 6000, INT64_C(1767225600000000000));
	snprintf(path, sizeof path, "%s/catalog.log", f->data);
	assert_int_equal(test_flip_byte(path, test_file_size(path) / 2, 0x01), 0);
	assert_int_equal(strata(out, sizeof out, "check --data %s", f->data), 1);
	assert_non_null(strstr(out, "DAMAGED"));
	assert_int_equal(strata(out, sizeof out, "check --repair --data %s", f->data), 1);
	assert_non_null(strstr(out, "rebuilt from its valid records"));
	assert_non_null(strstr(out, "LOST"));
	assert_non_null(strstr(out, "series id"));
	assert_int_equal(strata(out, sizeof out, "check --data %s", f->data), 0);
	/* One series of 50 can no longer be named: its 120 points are not exported. */
	n = export_to(f->data, "mydb", f->scratch);
	assert_int_equal(n, 6000 - 6000 / 50);
}

/*
 * The backup of a server under continuous writes holds every point
 * acknowledged before it began, and restores into a directory that reads
 * back; so does the backup of a closed directory.
 */
static void test_tools_backup_under_load_and_restore(void **state)
{
	fixture *f = *state;
	char out[65536], bk[256], bk2[256], restored[256], restored2[256];
	static int counts[100000];
	writer w = { 0 };
	pthread_t t;
	test_server srv;
	int before, after, final, k, other;
	long n_src, n;

	snprintf(bk, sizeof bk, "%s/backup", f->dir);
	snprintf(bk2, sizeof bk2, "%s/backup2", f->dir);
	snprintf(restored, sizeof restored, "%s/restored", f->dir);
	snprintf(restored2, sizeof restored2, "%s/restored2", f->dir);
	/* Small memtables: flushes and compactions run while the backup is taken. */
	if (!test_server_start(&srv, f->data, f->log,
			       (const char *const[]){ "--auto-create-db", "--memtable-bytes", "131072", NULL }))
		fail_msg("strata serve did not come up; see %s", f->log);
	w.port = srv.port;
	w.t0 = INT64_C(1767225600000000000);
	assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
	for (int i = 0; i < 3000 && atomic_load(&w.acked) < 150 && !w.failed_status; i++)
		usleep(10000);
	before = atomic_load(&w.acked);
	assert_true(before >= 150);
	assert_int_equal(strata(out, sizeof out, "backup --http 127.0.0.1:%d %s", srv.port, bk), 0);
	assert_non_null(strstr(out, "\"tables\":"));
	after = atomic_load(&w.acked);
	for (int i = 0; i < 3000 && atomic_load(&w.acked) < after + 50 && !w.failed_status; i++)
		usleep(10000);
	/* The directory exists now: a second backup there is refused, and nothing is touched. */
	assert_int_equal(strata(out, sizeof out, "backup --http 127.0.0.1:%d %s", srv.port, bk), 1);
	assert_non_null(strstr(out, "already exists"));
	atomic_store(&w.stop, true);
	pthread_join(t, NULL);
	assert_int_equal(w.failed_status, 0);
	final = atomic_load(&w.acked);
	assert_true(final > after);
	assert_int_equal(test_server_stop(&srv), 0);

	assert_int_equal(strata(out, sizeof out, "restore %s --data %s", bk, restored), 0);
	assert_non_null(strstr(out, "0 damaged"));
	assert_non_null(strstr(out, "restored"));
	/* Not into a directory that holds anything. */
	assert_int_equal(strata(out, sizeof out, "restore %s --data %s", bk, f->data), 1);
	assert_non_null(strstr(out, "not empty"));

	/* Every batch acknowledged before the backup began is there, whole; the rest form a prefix. */
	assert_true(export_to(restored, "load", f->scratch) > 0);
	memset(counts, 0, sizeof counts);
	other = count_batches(f->scratch, counts, final + 1);
	assert_int_equal(other, 0);
	for (k = 0; k <= final && counts[k] == BATCH_POINTS; k++)
		;
	if (k < before)
		fail_msg("batch %d (of %d acknowledged before the backup) has %d points", k, before, counts[k]);
	assert_true(k <= after + 1);
	for (int b = k; b <= final; b++)
		if (counts[b])
			fail_msg("batch %d is in the backup after the incomplete batch %d", b, k);

	/* The source holds every acknowledged batch; a backup of it, closed, holds them too. */
	n_src = export_to(f->data, "load", f->scratch);
	assert_true(n_src >= (long)final * BATCH_POINTS);
	assert_int_equal(strata(out, sizeof out, "backup --data %s %s", f->data, bk2), 0);
	assert_non_null(strstr(out, "hard-linked"));
	assert_int_equal(strata(out, sizeof out, "restore %s --data %s", bk2, restored2), 0);
	n = export_to(restored2, "load", f->scratch);
	assert_int_equal(n, n_src);

	assert_int_equal(strata(out, sizeof out, "stats --data %s --format json", restored), 0);
	assert_non_null(strstr(out, "\"name\":\"load\",\"series\":10,"));
}

/* Every retention policy of a database is exported, each after its context lines. */
static void test_tools_export_policies(void **state)
{
	static const char autogen[] = "cpu,host=a v=1i 1000000000\n";
	static const char two[] = "cpu,host=a v=2i 2000000000\ncpu,host=b v=3i 3000000000\n";
	fixture *f = *state;
	char out[8192], cmd[1024];
	test_server srv;

	if (strata(out, sizeof out,
		   "query --data %s 'CREATE DATABASE mydb; "
		   "CREATE RETENTION POLICY two ON mydb DURATION INF REPLICATION 1; "
		   "CREATE RETENTION POLICY three ON mydb DURATION INF REPLICATION 1'",
		   f->data) != 0)
		fail_msg("query failed: %s", out);
	if (!test_server_start(&srv, f->data, f->log, NULL))
		fail_msg("strata serve did not come up; see %s", f->log);
	assert_int_equal(http_post(srv.port, "/write?db=mydb", autogen, strlen(autogen)), 204);
	assert_int_equal(http_post(srv.port, "/write?db=mydb&rp=two", two, strlen(two)), 204);
	assert_int_equal(test_server_stop(&srv), 0);

	/* The policy without points still has its block. */
	snprintf(cmd, sizeof cmd, "%s export --data %s --db mydb 2>/dev/null", test_strata_bin(), f->data);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_string_equal(out, "# CONTEXT-DATABASE: mydb\n# CONTEXT-RETENTION-POLICY: autogen\n"
				 "cpu,host=a v=1i 1000000000\n"
				 "# CONTEXT-DATABASE: mydb\n# CONTEXT-RETENTION-POLICY: two\n"
				 "cpu,host=a v=2i 2000000000\ncpu,host=b v=3i 3000000000\n"
				 "# CONTEXT-DATABASE: mydb\n# CONTEXT-RETENTION-POLICY: three\n");
	/* Imported into another directory, each policy's points go back to that policy (which must exist). */
	{
		char copy[160], file[160], again[8192];

		snprintf(copy, sizeof copy, "%s/copy", f->dir);
		snprintf(file, sizeof file, "%s/export.lp", f->dir);
		test_write_file(file, out);
		assert_int_equal(strata(again, sizeof again, "import --data %s --db mydb %s", copy, file), 1);
		assert_non_null(strstr(again, "retention policy not found: two"));
		assert_non_null(strstr(again, "CREATE RETENTION POLICY \"two\" ON \"mydb\""));
		if (strata(again, sizeof again,
			   "query --data %s 'CREATE RETENTION POLICY two ON mydb DURATION INF REPLICATION 1; "
			   "CREATE RETENTION POLICY three ON mydb DURATION INF REPLICATION 1'", copy) != 0)
			fail_msg("query failed: %s", again);
		if (strata(again, sizeof again, "import --data %s --db mydb %s", copy, file) != 0)
			fail_msg("import failed: %s", again);
		snprintf(cmd, sizeof cmd, "%s export --data %s --db mydb 2>/dev/null", test_strata_bin(), copy);
		assert_int_equal(test_run(cmd, again, sizeof again), 0);
		assert_string_equal(again, out);
		if (strata(again, sizeof again, "query --data %s --db mydb --rp two --format csv 'SELECT count(v) FROM cpu'",
			   copy) != 0)
			fail_msg("query failed: %s", again);
		assert_string_equal(again, "name,tags,time,count\ncpu,,0,2\n");
	}
	/* A dropped policy's points are gone from the export with it. */
	if (strata(out, sizeof out, "query --data %s 'DROP RETENTION POLICY autogen ON mydb'", f->data) != 0)
		fail_msg("query failed: %s", out);
	snprintf(cmd, sizeof cmd, "%s export --data %s --db mydb --measurement cpu 2>/dev/null", test_strata_bin(), f->data);
	assert_int_equal(test_run(cmd, out, sizeof out), 0);
	assert_string_equal(out, "# CONTEXT-DATABASE: mydb\n# CONTEXT-RETENTION-POLICY: two\n"
				 "cpu,host=a v=2i 2000000000\ncpu,host=b v=3i 3000000000\n"
				 "# CONTEXT-DATABASE: mydb\n# CONTEXT-RETENTION-POLICY: three\n");
}

static void test_tools_stats(void **state)
{
	fixture *f = *state;
	char out[65536], want[128];
	struct timespec now;
	int64_t t0;

	/* Windows still open (tomorrow on): compaction leaves two tables a window alone. */
	clock_gettime(CLOCK_REALTIME, &now);
	t0 = ((int64_t)now.tv_sec / 86400 + 1) * DAY_NS;
	import_points(f, "mydb", 3000, t0);
	import_points(f, "mydb", 3000, t0 + 3600 * INT64_C(1000000000));
	import_points(f, "other", 900, t0);

	assert_int_equal(strata(out, sizeof out, "stats --data %s", f->data), 0);
	assert_non_null(strstr(out, "compaction debt:"));
	assert_non_null(strstr(out, "mydb"));
	assert_non_null(strstr(out, "other"));
	assert_non_null(strstr(out, "in 3 time windows"));

	assert_int_equal(strata(out, sizeof out, "stats --data %s --format json", f->data), 0);
	assert_non_null(strstr(out, "\"name\":\"mydb\",\"series\":50,\"entries\":6000,"));
	assert_non_null(strstr(out, "\"name\":\"other\",\"series\":50,\"entries\":900,"));
	/* Three imports: three tables in each of three windows; merging would leave one each. */
	assert_non_null(strstr(out, "\"compaction_debt\":{\"windows\":3,\"files\":6,"));
	snprintf(want, sizeof want, "\"window\":%lld,", (long long)(t0 / DAY_NS));
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "\"wal\":{"));

	/* A policy with a shard duration of an hour: its points in hour-long windows, shown with their length. */
	assert_int_equal(strata(out, sizeof out, "query --data %s 'CREATE DATABASE short WITH DURATION 2d SHARD DURATION 1h'",
				f->data), 0);
	import_points(f, "short", 300, t0);
	assert_int_equal(strata(out, sizeof out, "stats --data %s --format json", f->data), 0);
	snprintf(want, sizeof want, "\"window\":%lld,\"window_seconds\":3600,", (long long)(t0 / (3600 * INT64_C(1000000000))));
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof want, "\"window\":%lld,\"window_seconds\":86400,", (long long)(t0 / DAY_NS));
	assert_non_null(strstr(out, want));
	assert_int_equal(strata(out, sizeof out, "stats --data %s", f->data), 0);
	assert_non_null(strstr(out, "in 6 time windows"));
	assert_int_equal(strata(out, sizeof out, "check --data %s", f->data), 0);
	assert_non_null(strstr(out, " of 3600 s"));
	assert_non_null(strstr(out, " of 86400 s"));

	/* stats takes the directory's lock: not while a server holds it. */
	{
		test_server srv;

		if (!test_server_start(&srv, f->data, f->log, NULL))
			fail_msg("strata serve did not come up; see %s", f->log);
		assert_int_equal(strata(out, sizeof out, "stats --data %s", f->data), 1);
		assert_non_null(strstr(out, "in use"));
		assert_int_equal(test_server_stop(&srv), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tools_usage_and_exit_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tools_repair_damaged_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tools_repair_damaged_wal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tools_repair_damaged_manifest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tools_repair_current, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tools_repair_damaged_catalog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tools_backup_under_load_and_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tools_export_policies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tools_stats, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
