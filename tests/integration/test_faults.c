/*
 * Integration test: I/O faults and damage with the real `strata serve`.
 *
 * Faults are armed in the server process through STRATA_FAULTS (lsm/fault.h,
 * docs/faults.md): a chosen write or sync of the WAL, a table, the manifest
 * or the catalog fails with ENOSPC or EIO. For each, the server must
 *   - answer the failing write 500 and the later ones 503, with an error
 *     that says what failed and why;
 *   - report read-only with the reason on /health, and still answer reads;
 *   - acknowledge nothing it did not make durable, and lose nothing it
 *     acknowledged: after a restart without the fault every batch answered
 *     204 is there whole, every batch answered 503 is absent, nothing else
 *     is there, /health passes and writes work again;
 *   - keep the tables it had (a failed flush or compaction leaves the old
 *     files live).
 * Damage on disk: a torn WAL tail (recovered up to the cut, named with file
 * and offset), a damaged table block (named with file and offset by the
 * query that reads it and by `strata check`), a damaged or torn manifest
 * (a start refused, or a torn last edit ignored, each naming file and
 * offset).
 *
 * Every batch j is POSTed alone; its points have timestamps TB + j * P + i
 * and values computed from them, so every point read back says which batch
 * it belongs to and whether its value is right.
 *
 * A test fails with the server's log left in its /tmp/strata-test-* directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lsm/record.h"
#include "tests/server.h"

#include <inttypes.h>

/*
 * The first timestamp: the start of the run, so every point is in a live
 * time window, where compaction waits for several tables (a closed window
 * would be rewritten at every start, racing the faults armed after it).
 */
static int64_t TB;

#define P 100 /* points per batch */
#define MAX_BATCHES 400

typedef struct fx {
	char dir[64], data[128], log[128], body[160], resp[160], tmp[160];
	test_server srv;
	int status[MAX_BATCHES]; /* the answer to each batch, 0 if never sent */
	int n_batches;
} fx;

static fx *fx_new(void)
{
	fx *f = calloc(1, sizeof *f);

	assert_non_null(f);
	assert_int_equal(test_make_temp_dir(f->dir, sizeof f->dir), 0);
	snprintf(f->data, sizeof f->data, "%s/data", f->dir);
	snprintf(f->log, sizeof f->log, "%s/serve.log", f->dir);
	snprintf(f->body, sizeof f->body, "%s/body.lp", f->dir);
	snprintf(f->resp, sizeof f->resp, "%s/resp.txt", f->dir);
	snprintf(f->tmp, sizeof f->tmp, "%s/out.txt", f->dir);
	f->srv.pid = -1;
	return f;
}

static void fx_free(fx *f)
{
	test_server_kill(&f->srv);
	test_remove_tree(f->dir);
	free(f);
}

/* Starts the server with STRATA_FAULTS set to faults (NULL: unset). */
static void fx_start(fx *f, const char *faults, const char *const *extra)
{
	bool up;

	if (faults)
		setenv("STRATA_FAULTS", faults, 1);
	else
		unsetenv("STRATA_FAULTS");
	up = test_server_start(&f->srv, f->data, f->log, extra);
	unsetenv("STRATA_FAULTS");
	if (!up)
		fail_msg("strata serve did not come up (faults: %s); see %s", faults ? faults : "none", f->log);
}

/* Reads a whole small file into out (truncated to len - 1 bytes). */
static void read_text(const char *path, char *out, size_t len)
{
	FILE *fp = fopen(path, "r");
	size_t n = 0;

	if (fp) {
		n = fread(out, 1, len - 1, fp);
		fclose(fp);
	}
	out[n] = '\0';
}

/* Runs curl with args (after the URL base); the HTTP status, the body in out. */
static int curl(fx *f, const char *args, char *out, size_t len)
{
	char cmd[2048], code[64];

	snprintf(cmd, sizeof cmd, "curl -s -m 30 -o %s -w '%%{http_code}' %s", f->resp, args);
	if (test_run(cmd, code, sizeof code) != 0)
		return -1;
	if (out)
		read_text(f->resp, out, len);
	return atoi(code);
}

static int get(fx *f, const char *path, char *out, size_t len)
{
	char args[512];

	snprintf(args, sizeof args, "'http://127.0.0.1:%d%s'", f->srv.port, path);
	return curl(f, args, out, len);
}

static void create_db(fx *f)
{
	char args[512], out[512];

	snprintf(args, sizeof args, "-XPOST 'http://127.0.0.1:%d/query' --data-urlencode 'q=CREATE DATABASE fx'",
		 f->srv.port);
	assert_int_equal(curl(f, args, out, sizeof out), 200);
	assert_null(strstr(out, "error"));
}

static int64_t point_value(int64_t ts)
{
	return (ts - TB) * 3 + 1;
}

/* POSTs batch j (P points); records and returns the status, the body in out. */
static int write_batch(fx *f, int j, char *out, size_t len)
{
	char args[512];
	FILE *fp = fopen(f->body, "w");
	int status;

	assert_non_null(fp);
	assert_true(j < MAX_BATCHES);
	for (int i = 0; i < P; i++) {
		int64_t ts = TB + (int64_t)j * P + i;

		fprintf(fp, "fx v=%" PRId64 "i %" PRId64 "\n", point_value(ts), ts);
	}
	fclose(fp);
	snprintf(args, sizeof args, "-XPOST 'http://127.0.0.1:%d/write?db=fx&precision=ns' --data-binary @%s",
		 f->srv.port, f->body);
	status = curl(f, args, out, len);
	f->status[j] = status;
	if (j >= f->n_batches)
		f->n_batches = j + 1;
	return status;
}

/* Writes batches [from, to), each must be answered 204. */
static void write_ok(fx *f, int from, int to)
{
	char out[1024];

	for (int j = from; j < to; j++)
		if (write_batch(f, j, out, sizeof out) != 204)
			fail_msg("batch %d: HTTP %d: %s", j, f->status[j], out);
}

/*
 * Reads every point back over /query and checks it against what was sent:
 * batches answered 204 whole, batches answered 503 absent, batches answered
 * otherwise whole or absent, nothing else. Returns the points found.
 */
static int verify(fx *f, const char *when)
{
	char args[512], line[256];
	int counts[MAX_BATCHES] = { 0 }, total = 0, status;
	FILE *fp;

	snprintf(args, sizeof args,
		 "-G 'http://127.0.0.1:%d/query' -H 'Accept: application/csv' --data-urlencode db=fx "
		 "--data-urlencode epoch=ns --data-urlencode 'q=SELECT v FROM fx'",
		 f->srv.port);
	status = curl(f, args, NULL, 0);
	if (status != 200)
		fail_msg("%s: /query answered %d", when, status);
	fp = fopen(f->resp, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof line, fp)) {
		int64_t ts, v, j;

		if (strncmp(line, "error", 5) == 0) {
			if (!fgets(line, sizeof line, fp))
				line[0] = '\0';
			fail_msg("%s: query error: %s", when, line);
		}
		if (strncmp(line, "name,", 5) == 0 || line[0] == '\n')
			continue;
		if (sscanf(line, "fx,,%" SCNd64 ",%" SCNd64, &ts, &v) != 2)
			fail_msg("%s: unexpected line: %s", when, line);
		j = (ts - TB) / P;
		if (ts < TB || j >= f->n_batches || f->status[j] == 0)
			fail_msg("%s: a point never sent: %s", when, line);
		if (v != point_value(ts))
			fail_msg("%s: wrong value: %s", when, line);
		counts[j]++;
		total++;
	}
	fclose(fp);
	for (int j = 0; j < f->n_batches; j++) {
		if (counts[j] != 0 && counts[j] != P)
			fail_msg("%s: batch %d is torn: %d of %d points", when, j, counts[j], P);
		if (f->status[j] == 204 && counts[j] != P)
			fail_msg("%s: batch %d was answered 204 and is missing", when, j);
		if (f->status[j] == 503 && counts[j] != 0)
			fail_msg("%s: batch %d was refused with 503 and is there", when, j);
	}
	return total;
}

/* The file names in dir ending with suffix, "\n"-joined and sorted, in out. */
static void list_files(const char *dir, const char *suffix, char *out, size_t len)
{
	char cmd[512];

	snprintf(cmd, sizeof cmd, "ls %s 2>/dev/null | grep '%s$' | sort", dir, suffix);
	test_run(cmd, out, len);
}

/* True when every name in the "\n"-joined list is a file in dir. */
static bool all_exist(const char *dir, const char *names)
{
	char name[256], path[512];

	for (const char *p = names; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		snprintf(name, sizeof name, "%.*s", (int)n, p);
		snprintf(path, sizeof path, "%s/%s", dir, name);
		if (n && test_file_size(path) < 0)
			return false;
		p += n + (nl ? 1 : 0);
	}
	return true;
}

/* The value of a /metrics counter or gauge, or -1. */
static long long metric(fx *f, const char *name)
{
	char cmd[512], out[64];

	snprintf(cmd, sizeof cmd, "curl -s -m 30 'http://127.0.0.1:%d/metrics' | grep '^%s ' | cut -d' ' -f2",
		 f->srv.port, name);
	if (test_run(cmd, out, sizeof out) != 0 || !out[0])
		return -1;
	return atoll(out);
}

/* True when the server's log holds text (grep -F). */
static bool log_has(fx *f, const char *text)
{
	char cmd[1024];

	snprintf(cmd, sizeof cmd, "grep -qF -- '%s' %s", text, f->log);
	return test_run(cmd, NULL, 0) == 0;
}

/* Waits up to 10 s for text in the log. */
static bool log_wait(fx *f, const char *text)
{
	for (int i = 0; i < 200; i++) {
		if (log_has(f, text))
			return true;
		usleep(50000);
	}
	return false;
}

/* `strata check` on the (stopped) data directory must exit 0: every checksum good. */
static void check_whole(fx *f)
{
	char cmd[512], out[4096];

	snprintf(cmd, sizeof cmd, "%s check --data %s > %s 2>&1", test_strata_bin(), f->data, f->tmp);
	if (test_run(cmd, NULL, 0) != 0) {
		read_text(f->tmp, out, sizeof out);
		fail_msg("strata check: %s", out);
	}
}

/* Restarts without faults; everything acknowledged is there, /health passes, writes work. */
static void restart_and_verify(fx *f, const char *when)
{
	char out[1024];
	int j = f->n_batches;

	fx_start(f, NULL, NULL);
	verify(f, when);
	assert_int_equal(get(f, "/health", out, sizeof out), 200);
	assert_non_null(strstr(out, "\"status\":\"pass\""));
	write_ok(f, j, j + 2);
	verify(f, "after writing again");
	assert_int_equal(test_server_stop(&f->srv), 0);
	check_whole(f);
}

/*
 * One fault in the write path: a first clean run leaves a table, then the
 * server runs with faults armed (a 64 KiB memtable when flush is set, so
 * that writes soon need a flush) until writes fail; then the checks.
 */
static void write_path_fault(const char *faults, const char *errtext, bool flush, int expect_ok)
{
	static const char *const small_memtable[] = { "--memtable-bytes", "65536", NULL };
	fx *f = fx_new();
	char sst_dir[192], before[4096], out[4096], first_error[4096] = "";
	int j, n_ok = 0, n_failed = 0, rc;

	snprintf(sst_dir, sizeof sst_dir, "%s/sst", f->data);
	/* A clean run: three batches, flushed to a table at the stop. */
	fx_start(f, NULL, NULL);
	create_db(f);
	write_ok(f, 0, 3);
	assert_int_equal(test_server_stop(&f->srv), 0);
	list_files(sst_dir, ".sst", before, sizeof before);
	assert_true(before[0] != '\0');

	fx_start(f, faults, flush ? small_memtable : NULL);
	assert_true(log_has(f, "event=faults_armed"));
	/* Write until the fault answers, then twice more. */
	for (j = 3; j < MAX_BATCHES && n_failed < 3; j++) {
		int status = write_batch(f, j, out, sizeof out);

		if (status == 204) {
			if (n_failed)
				fail_msg("%s: batch %d answered 204 after a failed write", faults, j);
			n_ok++;
			continue;
		}
		if (status != 500 && status != 503)
			fail_msg("%s: batch %d: HTTP %d: %s", faults, j, status, out);
		if (n_failed > 0 && status != 503)
			fail_msg("%s: batch %d after the failure: HTTP %d, not 503: %s", faults, j, status, out);
		if (!strstr(out, "write failed") || !strstr(out, errtext))
			fail_msg("%s: batch %d: the error does not say what failed (%s): %s", faults, j, errtext, out);
		if (!n_failed)
			snprintf(first_error, sizeof first_error, "%s", out);
		n_failed++;
	}
	if (!n_failed)
		fail_msg("%s: %d batches written and no fault answered", faults, j - 3);
	if (expect_ok >= 0)
		assert_int_equal(n_ok, expect_ok);
	printf("%-40s %d batches acknowledged, then: %s", faults, n_ok, first_error);

	/* Read-only, with the reason; reads still answered. */
	assert_int_equal(get(f, "/health", out, sizeof out), 503);
	if (!strstr(out, "read-only") || !strstr(out, errtext))
		fail_msg("%s: /health does not give the reason (%s): %s", faults, errtext, out);
	verify(f, "while read-only");
	/* The old table is still live. */
	assert_true(all_exist(sst_dir, before));

	/* A stop cannot flush now: exit 1, saying so, within the bounded wait. */
	rc = test_server_stop(&f->srv);
	assert_int_equal(rc, 1);
	assert_true(log_has(f, "closing the data directory"));
	assert_true(log_has(f, "the memtable is not flushed: the engine went read-only after a failed write"));
	assert_true(all_exist(sst_dir, before));
	list_files(sst_dir, ".tmp", out, sizeof out);
	assert_string_equal(out, "");

	restart_and_verify(f, "after a restart without the fault");
	fx_free(f);
}

static void test_faults_wal_write_enospc(void **state)
{
	(void)state;
	write_path_fault("wal_write:skip=5:err=ENOSPC", "No space left on device", false, 5);
}

static void test_faults_wal_write_eio(void **state)
{
	(void)state;
	write_path_fault("wal_write:skip=5:err=EIO", "Input/output error", false, 5);
}

static void test_faults_wal_sync_enospc(void **state)
{
	(void)state;
	write_path_fault("wal_sync:skip=5:err=ENOSPC", "No space left on device", false, 5);
}

static void test_faults_wal_sync_eio(void **state)
{
	(void)state;
	write_path_fault("wal_sync:skip=5:err=EIO", "Input/output error", false, 5);
}

/* Disk full during a flush: the table write fails. */
static void test_faults_sst_write_enospc(void **state)
{
	(void)state;
	write_path_fault("sst_write:err=ENOSPC:sticky", "No space left on device", true, -1);
}

static void test_faults_sst_write_eio(void **state)
{
	(void)state;
	write_path_fault("sst_write:err=EIO:sticky", "Input/output error", true, -1);
}

static void test_faults_sst_sync_eio(void **state)
{
	(void)state;
	write_path_fault("sst_sync:err=EIO:sticky", "Input/output error", true, -1);
}

/* The flush's tables are written, then the manifest edit that would list them fails. */
static void test_faults_manifest_write_enospc(void **state)
{
	(void)state;
	write_path_fault("manifest_write:err=ENOSPC", "No space left on device", true, -1);
}

static void test_faults_manifest_write_eio(void **state)
{
	(void)state;
	write_path_fault("manifest_write:err=EIO", "Input/output error", true, -1);
}

static void test_faults_manifest_sync_eio(void **state)
{
	(void)state;
	write_path_fault("manifest_sync:err=EIO", "Input/output error", true, -1);
}

/*
 * The catalog cannot record a new series: that write fails (500) naming the
 * catalog, later writes of new series are refused (503), and after a
 * restart without the fault everything acknowledged is there.
 */
static void test_faults_catalog_write_enospc(void **state)
{
	fx *f = fx_new();
	char args[512], out[1024], path[256];
	FILE *fp;

	(void)state;
	/* Catalog writes: the database, then series fx with field v; the third fails. */
	fx_start(f, "catalog_write:skip=2:err=ENOSPC", NULL);
	create_db(f);
	write_ok(f, 0, 3);
	/* A new measurement is a new series: its catalog record fails. */
	snprintf(path, sizeof path, "%s/new.lp", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "other v=1i %" PRId64 "\n", TB);
	fclose(fp);
	snprintf(args, sizeof args, "-XPOST 'http://127.0.0.1:%d/write?db=fx&precision=ns' --data-binary @%s",
		 f->srv.port, path);
	assert_int_equal(curl(f, args, out, sizeof out), 500);
	assert_non_null(strstr(out, "catalog.log"));
	assert_non_null(strstr(out, "No space left on device"));
	assert_int_equal(curl(f, args, out, sizeof out), 503);
	assert_non_null(strstr(out, "catalog.log"));
	/* Series the catalog holds need no catalog write: they are still written. */
	write_ok(f, 3, 5);
	verify(f, "with the catalog read-only");
	test_server_kill(&f->srv);
	restart_and_verify(f, "after a catalog failure and a restart");
	fx_free(f);
}

/*
 * A compaction that cannot write its output: three clean runs leave three
 * tables in the live window; with the fault armed, a flush goes through
 * (skip=1) and makes the fourth, which starts a compaction; its write
 * fails. Its inputs stay live, nothing is lost, writes go on, and after a
 * restart everything is there.
 */
static void test_faults_failed_compaction_keeps_inputs(void **state)
{
	static const char *const small_memtable[] = { "--memtable-bytes", "65536", NULL };
	fx *f = fx_new();
	char sst_dir[192], before[4096], out[4096];
	int j = 3;

	(void)state;
	snprintf(sst_dir, sizeof sst_dir, "%s/sst", f->data);
	for (int run = 0; run < 3; run++) {
		fx_start(f, NULL, NULL);
		if (run == 0)
			create_db(f);
		write_ok(f, run, run + 1);
		assert_int_equal(test_server_stop(&f->srv), 0);
	}
	assert_int_equal(test_count_files(sst_dir, ".sst"), 3);
	list_files(sst_dir, ".sst", before, sizeof before);

	fx_start(f, "sst_write:skip=1:err=ENOSPC", small_memtable);
	/* Write until one flush is done (its table is the second of the window). */
	for (;;) {
		write_ok(f, j, j + 1);
		j++;
		if (metric(f, "strata_flushes_total") > 0)
			break;
		if (j == 100)
			fail_msg("no flush after %d batches of %d points", j, P);
	}
	if (!log_wait(f, "event=compaction_failed"))
		fail_msg("no compaction failed; see %s", f->log);
	assert_true(all_exist(sst_dir, before));
	assert_int_equal(test_count_files(sst_dir, ".sst"), 4);
	assert_int_equal(test_count_files(sst_dir, ".tmp"), 0);
	/* Not read-only: a failed compaction loses nothing and is retried later. */
	assert_int_equal(get(f, "/health", out, sizeof out), 200);
	write_ok(f, j, j + 1);
	verify(f, "after the failed compaction");
	assert_int_equal(test_server_stop(&f->srv), 0);

	assert_true(all_exist(sst_dir, before));
	restart_and_verify(f, "after the failed compaction and a restart");
	fx_free(f);
}

/* Record offsets of a record file (record.h framing): n records, the end of valid data in *end. */
static int record_offsets(const char *path, uint64_t *off, int max, uint64_t *end)
{
	FILE *fp = fopen(path, "rb");
	uint8_t h[LSM_RECORD_HEADER_LEN];
	uint64_t pos = 0;
	int n = 0;

	assert_non_null(fp);
	while (n < max && fread(h, 1, sizeof h, fp) == sizeof h) {
		uint32_t len = (uint32_t)h[8] | (uint32_t)h[9] << 8 | (uint32_t)h[10] << 16 | (uint32_t)h[11] << 24;

		if (h[12] == 0)
			break; /* a zero header: the clean end */
		off[n++] = pos;
		pos += LSM_RECORD_HEADER_LEN + len;
		if (fseek(fp, (long)pos, SEEK_SET) != 0)
			break;
	}
	fclose(fp);
	*end = pos;
	return n;
}

/* A crash that tore the last WAL record: everything before it comes back; the log names file and offset. */
static void test_faults_torn_wal_tail(void **state)
{
	fx *f = fx_new();
	char wal_dir[192], wal[512], want[700];
	uint64_t off[64], end;
	int n;

	(void)state;
	fx_start(f, NULL, NULL);
	create_db(f);
	write_ok(f, 0, 10);
	test_server_kill(&f->srv);
	snprintf(wal_dir, sizeof wal_dir, "%s/wal", f->data);
	assert_int_equal(test_count_files(wal_dir, ".wal"), 1);
	assert_int_equal(test_find_file(wal_dir, ".wal", wal, sizeof wal), 0);
	n = record_offsets(wal, off, 64, &end);
	assert_int_equal(n, 11); /* the file header and one record per batch */
	/* Cut the last record (batch 9) in the middle. */
	assert_int_equal(truncate(wal, (off_t)(off[10] + LSM_RECORD_HEADER_LEN + 5)), 0);
	f->status[9] = 503; /* its record is gone: it must not come back */

	fx_start(f, NULL, NULL);
	snprintf(want, sizeof want, "event=wal_torn_tail file=%s valid_bytes=%" PRIu64, wal, off[10]);
	if (!log_has(f, want))
		fail_msg("the start-up log does not say \"%s\"; see %s", want, f->log);
	assert_int_equal(verify(f, "after the torn tail"), 9 * P);
	test_server_kill(&f->srv);
	f->status[9] = 0;
	f->n_batches = 9;
	restart_and_verify(f, "after a second restart");
	fx_free(f);
}

/* A damaged table block: the server starts, the query that reads it names the file and offset, check fails. */
static void test_faults_damaged_table_block(void **state)
{
	fx *f = fx_new();
	char sst_dir[192], sst[512], args[512], out[4096];

	(void)state;
	fx_start(f, NULL, NULL);
	create_db(f);
	write_ok(f, 0, 5);
	assert_int_equal(test_server_stop(&f->srv), 0);
	snprintf(sst_dir, sizeof sst_dir, "%s/sst", f->data);
	assert_int_equal(test_count_files(sst_dir, ".sst"), 1);
	assert_int_equal(test_find_file(sst_dir, ".sst", sst, sizeof sst), 0);
	assert_int_equal(test_flip_byte(sst, 20, 0x01), 0); /* inside the first data block */

	fx_start(f, NULL, NULL);
	snprintf(args, sizeof args,
		 "-G 'http://127.0.0.1:%d/query' --data-urlencode db=fx --data-urlencode 'q=SELECT count(v) FROM fx'",
		 f->srv.port);
	curl(f, args, out, sizeof out);
	if (!strstr(out, sst) || !strstr(out, "offset 0") || !strstr(out, "checksum"))
		fail_msg("the query error does not name %s and the offset: %s", sst, out);
	assert_int_equal(test_server_stop(&f->srv), 0);

	snprintf(args, sizeof args, "%s check --data %s > %s 2>&1", test_strata_bin(), f->data, f->tmp);
	assert_int_equal(test_run(args, NULL, 0), 1);
	read_text(f->tmp, out, sizeof out);
	assert_non_null(strstr(out, "DAMAGED"));
	assert_non_null(strstr(out, sst));
	assert_non_null(strstr(out, "offset 0"));
	fx_free(f);
}

/* The manifest CURRENT names, as a full path. */
static void current_manifest(fx *f, char *out, size_t len)
{
	char path[256], text[256];

	snprintf(path, sizeof path, "%s/CURRENT", f->data);
	read_text(path, text, sizeof text);
	text[strcspn(text, "\n")] = '\0';
	snprintf(out, len, "%s/%s", f->data, text);
}

/* Data in tables, and a manifest with records to damage: returns the manifest's path in out. */
static void manifest_setup(fx *f, char *out, size_t len)
{
	fx_start(f, NULL, NULL);
	create_db(f);
	write_ok(f, 0, 5);
	assert_int_equal(test_server_stop(&f->srv), 0);
	current_manifest(f, out, len);
}

/* Damage in the middle of the manifest: the start is refused, naming file and offset. */
static void test_faults_manifest_damaged_record(void **state)
{
	fx *f = fx_new();
	char manifest[512], want[700];
	uint64_t off[64], end;
	pid_t pid;

	(void)state;
	manifest_setup(f, manifest, sizeof manifest);
	assert_true(record_offsets(manifest, off, 64, &end) >= 3);
	assert_int_equal(test_flip_byte(manifest, (long long)off[1] + LSM_RECORD_HEADER_LEN + 1, 0x10), 0);
	pid = test_spawn_server(f->data, 20000 + 2 * (rand() % 20000), f->log, NULL);
	assert_int_equal(test_wait_exit(pid, 20), 1);
	snprintf(want, sizeof want, "%s: offset %" PRIu64 ": damaged record", manifest, off[1]);
	if (!log_has(f, want))
		fail_msg("the start-up error does not say \"%s\"; see %s", want, f->log);
	fx_free(f);
}

/*
 * A torn last manifest edit (a crash in the middle of an append) is
 * ignored and named with file and offset. The edit cut here is the one the
 * last start wrote (a new WAL segment number, no table), so nothing
 * acknowledged depends on it.
 */
static void test_faults_manifest_torn_tail(void **state)
{
	fx *f = fx_new();
	char manifest[512], want[700];
	uint64_t off[64], end;
	int n;

	(void)state;
	manifest_setup(f, manifest, sizeof manifest);
	/* A start and stop with nothing written: the manifest's last edit adds no table. */
	fx_start(f, NULL, NULL);
	assert_int_equal(test_server_stop(&f->srv), 0);
	current_manifest(f, manifest, sizeof manifest);
	n = record_offsets(manifest, off, 64, &end);
	assert_true(n >= 3);
	assert_int_equal(truncate(manifest, (off_t)(end - 2)), 0);

	fx_start(f, NULL, NULL);
	snprintf(want, sizeof want, "event=manifest_torn_tail file=%s offset=%" PRIu64, manifest, off[n - 1]);
	if (!log_has(f, want))
		fail_msg("the start-up log does not say \"%s\"; see %s", want, f->log);
	verify(f, "after the torn manifest tail");
	assert_int_equal(test_server_stop(&f->srv), 0);
	restart_and_verify(f, "after a second restart");
	fx_free(f);
}

/*
 * The snapshot edit a manifest starts with is synced before CURRENT names
 * the file, so a manifest cut inside it is damage, never a torn write: the
 * start must be refused (naming file and offset), not go on with an empty
 * table set and remove every table as an orphan.
 */
static void test_faults_manifest_cut_in_snapshot(void **state)
{
	fx *f = fx_new();
	char manifest[512], want[700], sst_dir[192];
	uint64_t off[64], end;
	pid_t pid;

	(void)state;
	manifest_setup(f, manifest, sizeof manifest);
	snprintf(sst_dir, sizeof sst_dir, "%s/sst", f->data);
	assert_true(record_offsets(manifest, off, 64, &end) >= 2);
	assert_int_equal(truncate(manifest, (off_t)(off[1] + LSM_RECORD_HEADER_LEN / 2)), 0);
	pid = test_spawn_server(f->data, 20000 + 2 * (rand() % 20000), f->log, NULL);
	assert_int_equal(test_wait_exit(pid, 20), 1);
	snprintf(want, sizeof want, "%s: offset %" PRIu64, manifest, off[1]);
	if (!log_has(f, want))
		fail_msg("the start-up error does not say \"%s\"; see %s", want, f->log);
	assert_int_equal(test_count_files(sst_dir, ".sst"), 1);
	fx_free(f);
}

/* A bad STRATA_FAULTS stops the start with a message naming the bad item. */
static void test_faults_bad_spec_is_refused(void **state)
{
	fx *f = fx_new();
	pid_t pid;

	(void)state;
	setenv("STRATA_FAULTS", "wal_sync:skip=1,disk_melt:err=EIO", 1);
	pid = test_spawn_server(f->data, 20000 + 2 * (rand() % 20000), f->log, NULL);
	unsetenv("STRATA_FAULTS");
	assert_int_equal(test_wait_exit(pid, 20), 2);
	assert_true(log_has(f, "unknown fault point \"disk_melt\""));
	fx_free(f);
}

int main(void)
{
	struct timespec now;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_faults_wal_write_enospc),
		cmocka_unit_test(test_faults_wal_write_eio),
		cmocka_unit_test(test_faults_wal_sync_enospc),
		cmocka_unit_test(test_faults_wal_sync_eio),
		cmocka_unit_test(test_faults_sst_write_enospc),
		cmocka_unit_test(test_faults_sst_write_eio),
		cmocka_unit_test(test_faults_sst_sync_eio),
		cmocka_unit_test(test_faults_manifest_write_enospc),
		cmocka_unit_test(test_faults_manifest_write_eio),
		cmocka_unit_test(test_faults_manifest_sync_eio),
		cmocka_unit_test(test_faults_catalog_write_enospc),
		cmocka_unit_test(test_faults_failed_compaction_keeps_inputs),
		cmocka_unit_test(test_faults_torn_wal_tail),
		cmocka_unit_test(test_faults_damaged_table_block),
		cmocka_unit_test(test_faults_manifest_damaged_record),
		cmocka_unit_test(test_faults_manifest_torn_tail),
		cmocka_unit_test(test_faults_manifest_cut_in_snapshot),
		cmocka_unit_test(test_faults_bad_spec_is_refused),
	};

	clock_gettime(CLOCK_REALTIME, &now);
	TB = (int64_t)now.tv_sec * 1000000000;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
