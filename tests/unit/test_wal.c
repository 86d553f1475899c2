/*
 * test_wal.c — WAL segments (lsm/wal.h) and their io backends
 * (lsm/wal_io.h): append and replay on io_uring and pwrite, torn tails and
 * corruption at the right offsets, truncation, injected write and sync
 * failures (sticky), short writes, and the dump.
 */
#include "lsm/batch.h"
#include "lsm/coding.h"
#include "lsm/fault.h"
#include "lsm/record.h"
#include "lsm/status.h"
#include "lsm/wal.h"
#include "lsm/wal_io.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#define N_RECS 6

static char tmpdir[64];
static char seg_path[4096];

struct seg {
	lsm_wal_io *io;
	lsm_wal *w;
	uint64_t rec_off[N_RECS + 1]; /* offset of each batch record; [N_RECS] = end */
};

/* What a replay saw. */
struct seen {
	int n;
	uint64_t seq[64];
	uint32_t count[64];
};

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/strata-test-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	lsm_wal_path(seg_path, sizeof seg_path, tmpdir, 7);
	lsm_fault_reset();
	unsetenv("STRATA_WAL_IO");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	lsm_fault_reset();
	return nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* A new io of that kind, or skips the test when io_uring cannot be set up here. */
static lsm_wal_io *new_io(enum lsm_io_kind kind)
{
	lsm_wal_io *io = NULL;
	int rc = lsm_wal_io_new(&io, kind);

	if (rc && kind == LSM_IO_URING) {
		print_message("io_uring cannot be set up here (%s): skipping\n", strata_strerror(rc));
		skip();
	}
	assert_int_equal(rc, 0);
	assert_non_null(io);
	return io;
}

/* Batch i: i + 1 entries, keys of series i, values of i * 10 bytes. */
static void make_batch(lsm_batch *b, int i)
{
	uint8_t key[LSM_UKEY_LEN];
	char value[64];

	lsm_batch_init(b);
	for (int j = 0; j <= i; j++) {
		memset(value, 'a' + i, sizeof value);
		lsm_ukey_encode(key, (uint64_t)i, j);
		assert_int_equal(lsm_batch_put(b, key, value, (size_t)(i * 10) % sizeof value), 0);
	}
	lsm_batch_set_seq(b, 100 + (uint64_t)i * 10);
}

/* Appends batch i as one framed record. */
static int append_batch(lsm_wal *w, int i, bool sync)
{
	lsm_batch b;
	uint8_t *rec;
	int rc;

	make_batch(&b, i);
	rec = malloc(LSM_RECORD_HEADER_LEN + b.len);
	lsm_record_header(rec, LSM_REC_BATCH, b.data, b.len);
	memcpy(rec + LSM_RECORD_HEADER_LEN, b.data, b.len);
	rc = lsm_wal_append(w, rec, LSM_RECORD_HEADER_LEN + b.len, sync);
	free(rec);
	lsm_batch_deinit(&b);
	return rc;
}

/* A segment with N_RECS batch records, closed. */
static void write_segment(struct seg *s, enum lsm_io_kind kind)
{
	s->io = new_io(kind);
	assert_int_equal(lsm_wal_create(&s->w, tmpdir, 7, s->io), 0);
	assert_int_equal(lsm_wal_number(s->w), 7);
	assert_int_equal(lsm_wal_size(s->w), LSM_RECORD_HEADER_LEN + LSM_FILE_HEADER_PAYLOAD_LEN);
	for (int i = 0; i < N_RECS; i++) {
		s->rec_off[i] = lsm_wal_size(s->w);
		assert_int_equal(append_batch(s->w, i, i % 2 == 0), 0);
	}
	s->rec_off[N_RECS] = lsm_wal_size(s->w);
	assert_int_equal(lsm_wal_sync(s->w), 0);
	lsm_wal_close(s->w);
	lsm_wal_io_free(s->io);
	s->w = NULL;
	s->io = NULL;
}

static int collect(void *ctx, const uint8_t *batch, size_t len)
{
	struct seen *seen = ctx;
	lsm_batch_reader r;
	lsm_batch_entry e;
	int rc;

	assert_int_equal(lsm_batch_reader_init(&r, batch, len), 0);
	assert_true(seen->n < 64);
	seen->seq[seen->n] = r.seq;
	seen->count[seen->n] = r.left;
	while ((rc = lsm_batch_reader_next(&r, &e)) == 1)
		assert_int_equal(lsm_ukey_series(e.ukey), (uint64_t)seen->n);
	assert_int_equal(rc, 0);
	seen->n++;
	return 0;
}

static void assert_seen_prefix(const struct seen *seen, int n)
{
	assert_int_equal(seen->n, n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(seen->seq[i], 100 + (uint64_t)i * 10);
		assert_int_equal(seen->count[i], (uint32_t)i + 1);
	}
}

static uint64_t file_size(const char *p)
{
	struct stat st;

	assert_int_equal(stat(p, &st), 0);
	return (uint64_t)st.st_size;
}

static void flip_byte(const char *p, uint64_t off)
{
	int fd = open(p, O_RDWR);
	uint8_t b;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
	b ^= 0x10;
	assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

static void cut_file(const char *p, uint64_t len)
{
	assert_int_equal(truncate(p, (off_t)len), 0);
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof buf)) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

static void assert_message_names_offset(const char *p, uint64_t off)
{
	char want[64];

	snprintf(want, sizeof want, "offset %" PRIu64, off);
	if (!strstr(strata_last_error(), want) || !strstr(strata_last_error(), p))
		fail_msg("message '%s' should name %s and '%s'", strata_last_error(), p, want);
}

/*
 * Replays the segment as the newest (torn tail allowed) and as an older one,
 * expecting damage at record rec.
 */
static void expect_torn_at(int rec, const struct seg *s)
{
	lsm_wal_replay_result res;
	struct seen seen = { 0 };

	assert_int_equal(lsm_wal_replay(seg_path, true, collect, &seen, &res), 0);
	assert_true(res.torn);
	assert_int_equal(res.valid_bytes, s->rec_off[rec]);
	assert_int_equal(res.file_bytes, file_size(seg_path));
	assert_int_equal(res.n_batches, (uint64_t)rec);
	assert_seen_prefix(&seen, rec);

	memset(&seen, 0, sizeof seen);
	assert_int_equal(lsm_wal_replay(seg_path, false, collect, &seen, &res), STRATA_ECORRUPT);
	assert_message_names_offset(seg_path, s->rec_off[rec]);
	assert_int_equal(seen.n, rec);
}

static void test_wal_path(void **state)
{
	char p[4096];

	(void)state;
	lsm_wal_path(p, sizeof p, "/data", 12);
	assert_string_equal(p, "/data/wal/000012.wal");
}

static void round_trip(enum lsm_io_kind kind, const char *name)
{
	struct seg s;
	lsm_wal_replay_result res;
	struct seen seen = { 0 };

	write_segment(&s, kind);
	assert_int_equal(file_size(seg_path), s.rec_off[N_RECS]);
	assert_int_equal(lsm_wal_replay(seg_path, false, collect, &seen, &res), 0);
	assert_false(res.torn);
	assert_int_equal(res.n_batches, N_RECS);
	assert_int_equal(res.valid_bytes, s.rec_off[N_RECS]);
	assert_int_equal(res.file_bytes, s.rec_off[N_RECS]);
	assert_seen_prefix(&seen, N_RECS);
	if (name) {
		lsm_wal_io *io = new_io(kind);

		assert_string_equal(lsm_wal_io_name(io), name);
		lsm_wal_io_free(io);
	}
}

static void test_wal_round_trip_io_uring(void **state)
{
	(void)state;
	round_trip(LSM_IO_URING, "io_uring");
}

static void test_wal_round_trip_pwrite(void **state)
{
	(void)state;
	round_trip(LSM_IO_PWRITE, "pwrite");
}

static void test_wal_round_trip_auto(void **state)
{
	(void)state;
	round_trip(LSM_IO_AUTO, NULL);
}

/* STRATA_WAL_IO picks the backend for LSM_IO_AUTO only. */
static void test_wal_io_env_forces_backend(void **state)
{
	lsm_wal_io *io;

	(void)state;
	setenv("STRATA_WAL_IO", "pwrite", 1);
	assert_int_equal(lsm_wal_io_new(&io, LSM_IO_AUTO), 0);
	assert_string_equal(lsm_wal_io_name(io), "pwrite");
	lsm_wal_io_free(io);
	setenv("STRATA_WAL_IO", "io_uring", 1);
	if (lsm_wal_io_new(&io, LSM_IO_AUTO) == 0) {
		assert_string_equal(lsm_wal_io_name(io), "io_uring");
		lsm_wal_io_free(io);
	} else {
		print_message("io_uring cannot be set up here: forced io_uring fails, as it should\n");
	}
	setenv("STRATA_WAL_IO", "pwrite", 1);
	if (lsm_wal_io_new(&io, LSM_IO_URING) == 0) {
		assert_string_equal(lsm_wal_io_name(io), "io_uring");
		lsm_wal_io_free(io);
	}
	unsetenv("STRATA_WAL_IO");
}

static int count_any(void *ctx, const uint8_t *batch, size_t len)
{
	(void)batch;
	(void)len;
	(*(int *)ctx)++;
	return 0;
}

/*
 * Where io_uring is blocked (a container's seccomp profile), LSM_IO_AUTO
 * falls back to pwrite, says so once per process, and the WAL works; forced
 * io_uring fails with the errno. Runs in a child under a seccomp filter that
 * fails io_uring_setup with EPERM; stderr goes to a file to count the lines.
 */
static int child_under_seccomp(const char *log_path)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof filter / sizeof filter[0], .filter = filter };
	lsm_wal_io *io = NULL, *io2 = NULL;
	lsm_wal_replay_result res;
	lsm_wal *w;
	int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int n = 0;

	if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
		return 10;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		return 11;
	if (lsm_wal_io_new(&io, LSM_IO_URING) != -EPERM)
		return 12;
	if (lsm_wal_io_new(&io, LSM_IO_AUTO) || strcmp(lsm_wal_io_name(io), "pwrite") != 0)
		return 13;
	if (lsm_wal_io_new(&io2, LSM_IO_AUTO) || strcmp(lsm_wal_io_name(io2), "pwrite") != 0)
		return 14;
	if (lsm_wal_create(&w, tmpdir, 7, io) || append_batch(w, 0, true) || append_batch(w, 1, true))
		return 15;
	lsm_wal_close(w);
	if (lsm_wal_replay(seg_path, false, count_any, &n, &res) || n != 2)
		return 16;
	lsm_wal_io_free(io);
	lsm_wal_io_free(io2);
	return 0;
}

static void test_wal_io_auto_falls_back(void **state)
{
	char log_path[128], text[4096];
	int status, fd;
	ssize_t len;
	pid_t pid;

	(void)state;
	snprintf(log_path, sizeof log_path, "%s/stderr.log", tmpdir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_under_seccomp(log_path));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	fd = open(log_path, O_RDONLY);
	assert_true(fd >= 0);
	len = read(fd, text, sizeof text - 1);
	close(fd);
	assert_true(len >= 0);
	text[len] = '\0';
	if (WEXITSTATUS(status) != 0)
		fail_msg("child failed at step %d; its stderr:\n%s", WEXITSTATUS(status), text);
	/* Said once, with the errno, though two io objects fell back. */
	{
		const char *first = strstr(text, "wal io_uring unavailable, using pwrite");

		assert_non_null(first);
		assert_null(strstr(first + 1, "wal io_uring unavailable"));
		assert_non_null(strstr(first, "errno=1"));
	}
}

/* A large append, over several MiB, goes out whole. */
static void big_append(enum lsm_io_kind kind)
{
	lsm_wal_io *io = new_io(kind);
	size_t big = 5u << 20;
	uint8_t *rec = malloc(big + LSM_RECORD_HEADER_LEN);
	uint8_t *payload = rec + LSM_RECORD_HEADER_LEN;
	lsm_wal_replay_result res;
	lsm_wal *w;
	int n = 0;

	for (size_t i = 0; i < big; i++)
		payload[i] = (uint8_t)(i * 13);
	lsm_record_header(rec, LSM_REC_BATCH, payload, big);
	assert_int_equal(lsm_wal_create(&w, tmpdir, 7, io), 0);
	assert_int_equal(lsm_wal_append(w, rec, big + LSM_RECORD_HEADER_LEN, true), 0);
	assert_int_equal(lsm_wal_size(w), 2 * LSM_RECORD_HEADER_LEN + LSM_FILE_HEADER_PAYLOAD_LEN + big);
	lsm_wal_close(w);
	lsm_wal_io_free(io);
	assert_int_equal(lsm_wal_replay(seg_path, false, count_any, &n, &res), 0);
	assert_int_equal(n, 1);
	assert_int_equal(res.n_batches, 1);
	assert_int_equal(res.file_bytes, 2 * LSM_RECORD_HEADER_LEN + LSM_FILE_HEADER_PAYLOAD_LEN + big);
	free(rec);
}

static void test_wal_big_append_io_uring(void **state)
{
	(void)state;
	big_append(LSM_IO_URING);
}

static void test_wal_big_append_pwrite(void **state)
{
	(void)state;
	big_append(LSM_IO_PWRITE);
}

static void test_wal_create_existing_fails(void **state)
{
	lsm_wal_io *io = new_io(LSM_IO_PWRITE);
	lsm_wal *w, *w2 = NULL;

	(void)state;
	assert_int_equal(lsm_wal_create(&w, tmpdir, 7, io), 0);
	assert_int_equal(lsm_wal_create(&w2, tmpdir, 7, io), -EEXIST);
	assert_null(w2);
	/* The first one is untouched. */
	assert_int_equal(append_batch(w, 0, true), 0);
	lsm_wal_close(w);
	lsm_wal_io_free(io);
	{
		struct seen seen = { 0 };

		assert_int_equal(lsm_wal_replay(seg_path, false, collect, &seen, NULL), 0);
		assert_seen_prefix(&seen, 1);
	}
}

/* A flipped payload byte in the last record: torn in the newest segment, corruption in an older one. */
static void test_wal_replay_flipped_payload_byte(void **state)
{
	struct seg s;
	char orig[4200];

	(void)state;
	write_segment(&s, LSM_IO_PWRITE);
	snprintf(orig, sizeof orig, "%s.orig", seg_path);
	copy_file(seg_path, orig);
	for (uint64_t at = s.rec_off[N_RECS - 1] + LSM_RECORD_HEADER_LEN; at < s.rec_off[N_RECS]; at += 7) {
		copy_file(orig, seg_path);
		flip_byte(seg_path, at);
		expect_torn_at(N_RECS - 1, &s);
	}
}

/* Flipped length, type and checksum bytes in a record header. */
static void test_wal_replay_flipped_header_bytes(void **state)
{
	struct seg s;
	char orig[4200];

	(void)state;
	write_segment(&s, LSM_IO_PWRITE);
	snprintf(orig, sizeof orig, "%s.orig", seg_path);
	copy_file(seg_path, orig);
	for (uint64_t i = 0; i < LSM_RECORD_HEADER_LEN; i++) {
		copy_file(orig, seg_path);
		flip_byte(seg_path, s.rec_off[N_RECS - 1] + i);
		expect_torn_at(N_RECS - 1, &s);
	}
}

/* Damage in the middle of a segment ends the replay there too. */
static void test_wal_replay_damage_in_middle(void **state)
{
	struct seg s;

	(void)state;
	write_segment(&s, LSM_IO_PWRITE);
	flip_byte(seg_path, s.rec_off[2] + LSM_RECORD_HEADER_LEN + 3);
	expect_torn_at(2, &s);
}

/* Cut at every byte of the last record. */
static void test_wal_replay_truncated_every_byte(void **state)
{
	struct seg s;
	char orig[4200];

	(void)state;
	write_segment(&s, LSM_IO_PWRITE);
	snprintf(orig, sizeof orig, "%s.orig", seg_path);
	copy_file(seg_path, orig);
	for (uint64_t cut = s.rec_off[N_RECS - 1]; cut < s.rec_off[N_RECS]; cut++) {
		copy_file(orig, seg_path);
		cut_file(seg_path, cut);
		if (cut == s.rec_off[N_RECS - 1]) {
			lsm_wal_replay_result res;
			struct seen seen = { 0 };

			/* At a record boundary the segment simply ends. */
			assert_int_equal(lsm_wal_replay(seg_path, false, collect, &seen, &res), 0);
			assert_false(res.torn);
			assert_int_equal(res.valid_bytes, cut);
			assert_seen_prefix(&seen, N_RECS - 1);
		} else {
			expect_torn_at(N_RECS - 1, &s);
		}
	}
}

/* After truncating to valid_bytes, the segment replays clean and whole. */
static void test_wal_truncate_then_replay_clean(void **state)
{
	struct seg s;
	lsm_wal_replay_result res;
	struct seen seen = { 0 };

	(void)state;
	write_segment(&s, LSM_IO_PWRITE);
	cut_file(seg_path, s.rec_off[N_RECS] - 5);
	assert_int_equal(lsm_wal_replay(seg_path, true, collect, &seen, &res), 0);
	assert_true(res.torn);
	assert_int_equal(lsm_wal_truncate(seg_path, res.valid_bytes), 0);
	assert_int_equal(file_size(seg_path), s.rec_off[N_RECS - 1]);
	memset(&seen, 0, sizeof seen);
	assert_int_equal(lsm_wal_replay(seg_path, false, collect, &seen, &res), 0);
	assert_false(res.torn);
	assert_int_equal(res.valid_bytes, res.file_bytes);
	assert_seen_prefix(&seen, N_RECS - 1);
	/* Growing a file is not what truncate is for. */
	assert_int_equal(lsm_wal_truncate(seg_path, res.file_bytes + 1), STRATA_EINVAL);
}

/* A crash while the segment was created: an empty or half-written header. */
static void test_wal_replay_torn_segment_header(void **state)
{
	static const uint64_t cuts[] = { 0, 5, 20, 35 };
	struct seg s;

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		lsm_wal_replay_result res;
		struct seen seen = { 0 };

		write_segment(&s, LSM_IO_PWRITE);
		cut_file(seg_path, cuts[i]);
		assert_int_equal(lsm_wal_replay(seg_path, true, collect, &seen, &res), 0);
		assert_true(res.torn);
		assert_int_equal(res.valid_bytes, 0);
		assert_int_equal(res.n_batches, 0);
		assert_int_equal(lsm_wal_replay(seg_path, false, collect, &seen, &res), STRATA_ECORRUPT);
		assert_int_equal(seen.n, 0);
		unlink(seg_path);
	}
}

/* A whole header that says the wrong thing is corruption even in the newest segment. */
static void test_wal_replay_wrong_magic_is_corrupt(void **state)
{
	uint8_t rec[LSM_RECORD_HEADER_LEN + LSM_FILE_HEADER_PAYLOAD_LEN];
	lsm_wal_replay_result res;
	struct seen seen = { 0 };
	struct seg s;
	int fd;

	(void)state;
	write_segment(&s, LSM_IO_PWRITE);
	lsm_record_file_header(rec + LSM_RECORD_HEADER_LEN, LSM_MANIFEST_MAGIC, 1, 7);
	lsm_record_header(rec, LSM_REC_FILE_HEADER, rec + LSM_RECORD_HEADER_LEN, LSM_FILE_HEADER_PAYLOAD_LEN);
	fd = open(seg_path, O_WRONLY);
	assert_int_equal(pwrite(fd, rec, sizeof rec, 0), (ssize_t)sizeof rec);
	close(fd);
	assert_int_equal(lsm_wal_replay(seg_path, true, collect, &seen, &res), STRATA_ECORRUPT);
	assert_int_equal(seen.n, 0);
	/* And a newer version is reported as such. */
	lsm_record_file_header(rec + LSM_RECORD_HEADER_LEN, LSM_WAL_MAGIC, LSM_WAL_VERSION + 1, 7);
	lsm_record_header(rec, LSM_REC_FILE_HEADER, rec + LSM_RECORD_HEADER_LEN, LSM_FILE_HEADER_PAYLOAD_LEN);
	fd = open(seg_path, O_WRONLY);
	assert_int_equal(pwrite(fd, rec, sizeof rec, 0), (ssize_t)sizeof rec);
	close(fd);
	assert_int_equal(lsm_wal_replay(seg_path, true, collect, &seen, &res), STRATA_EVERSION);
}

/* A whole record of another type in a WAL segment is corruption, not a tear. */
static void test_wal_replay_foreign_record_is_corrupt(void **state)
{
	lsm_wal_io *io = new_io(LSM_IO_PWRITE);
	uint8_t rec[LSM_RECORD_HEADER_LEN + 12] = { 0 };
	lsm_wal_replay_result res;
	struct seen seen = { 0 };
	uint64_t off;
	lsm_wal *w;

	(void)state;
	assert_int_equal(lsm_wal_create(&w, tmpdir, 7, io), 0);
	assert_int_equal(append_batch(w, 0, false), 0);
	off = lsm_wal_size(w);
	lsm_record_header(rec, LSM_REC_VERSION_EDIT, rec + LSM_RECORD_HEADER_LEN, 12);
	assert_int_equal(lsm_wal_append(w, rec, sizeof rec, true), 0);
	lsm_wal_close(w);
	lsm_wal_io_free(io);
	assert_int_equal(lsm_wal_replay(seg_path, true, collect, &seen, &res), STRATA_ECORRUPT);
	assert_message_names_offset(seg_path, off);
	assert_int_equal(seen.n, 1);
}

static int stop_at_three(void *ctx, const uint8_t *batch, size_t len)
{
	struct seen *seen = ctx;

	if (seen->n == 3)
		return -ECANCELED;
	return collect(ctx, batch, len);
}

static void test_wal_replay_callback_stops(void **state)
{
	struct seg s;
	struct seen seen = { 0 };
	lsm_wal_replay_result res;

	(void)state;
	write_segment(&s, LSM_IO_PWRITE);
	assert_int_equal(lsm_wal_replay(seg_path, false, stop_at_three, &seen, &res), -ECANCELED);
	assert_int_equal(res.n_batches, 3);
	assert_seen_prefix(&seen, 3);
}

/* Arms point p to fail the next operation, appends, and checks the failure is sticky. */
static void fault_is_sticky(enum lsm_io_kind kind, enum lsm_fault_point p, bool sync)
{
	lsm_wal_io *io = new_io(kind);
	lsm_wal_replay_result res;
	struct seen seen = { 0 };
	lsm_wal *w;

	assert_int_equal(lsm_wal_create(&w, tmpdir, 7, io), 0);
	assert_int_equal(append_batch(w, 0, sync), 0);
	lsm_fault_arm(p, 0, EIO, false);
	assert_int_equal(append_batch(w, 1, sync), -EIO);
	/* The point is disarmed now; the segment still refuses. */
	assert_int_equal(append_batch(w, 2, sync), STRATA_EREADONLY);
	assert_int_equal(lsm_wal_sync(w), STRATA_EREADONLY);
	assert_int_equal(append_batch(w, 2, false), STRATA_EREADONLY);
	lsm_wal_close(w);
	/* The io object itself is fine: a new segment works. */
	assert_int_equal(lsm_wal_create(&w, tmpdir, 8, io), 0);
	assert_int_equal(append_batch(w, 0, true), 0);
	lsm_wal_close(w);
	lsm_wal_io_free(io);
	/* An injected write failure writes nothing; an injected sync failure leaves the write in the file. */
	assert_int_equal(lsm_wal_replay(seg_path, false, collect, &seen, &res), 0);
	assert_int_equal(seen.n, p == LSM_FAULT_WAL_WRITE ? 1 : 2);
}

static void test_wal_fault_write_io_uring(void **state)
{
	(void)state;
	fault_is_sticky(LSM_IO_URING, LSM_FAULT_WAL_WRITE, true);
}

static void test_wal_fault_write_pwrite(void **state)
{
	(void)state;
	fault_is_sticky(LSM_IO_PWRITE, LSM_FAULT_WAL_WRITE, false);
	teardown(NULL);
	setup(NULL);
	fault_is_sticky(LSM_IO_PWRITE, LSM_FAULT_WAL_WRITE, true);
}

static void test_wal_fault_sync_io_uring(void **state)
{
	(void)state;
	fault_is_sticky(LSM_IO_URING, LSM_FAULT_WAL_SYNC, true);
}

static void test_wal_fault_sync_pwrite(void **state)
{
	(void)state;
	fault_is_sticky(LSM_IO_PWRITE, LSM_FAULT_WAL_SYNC, true);
}

/* lsm_wal_sync passes the sync point and is sticky like append. */
static void sync_alone_fails(enum lsm_io_kind kind)
{
	lsm_wal_io *io = new_io(kind);
	lsm_wal *w;

	assert_int_equal(lsm_wal_create(&w, tmpdir, 7, io), 0);
	assert_int_equal(append_batch(w, 0, false), 0);
	lsm_fault_arm(LSM_FAULT_WAL_SYNC, 0, ENOSPC, false);
	assert_int_equal(lsm_wal_sync(w), -ENOSPC);
	assert_int_equal(lsm_wal_sync(w), STRATA_EREADONLY);
	assert_int_equal(append_batch(w, 1, false), STRATA_EREADONLY);
	lsm_wal_close(w);
	lsm_wal_io_free(io);
}

static void test_wal_fault_sync_alone(void **state)
{
	(void)state;
	sync_alone_fails(LSM_IO_PWRITE);
	teardown(NULL);
	setup(NULL);
	sync_alone_fails(LSM_IO_URING);
}

/* A failed segment header write leaves no segment behind. */
static void test_wal_fault_at_create(void **state)
{
	lsm_wal_io *io = new_io(LSM_IO_PWRITE);
	lsm_wal *w = NULL;
	struct stat st;

	(void)state;
	lsm_fault_arm(LSM_FAULT_WAL_WRITE, 0, EIO, false);
	assert_int_equal(lsm_wal_create(&w, tmpdir, 7, io), -EIO);
	assert_null(w);
	assert_int_equal(stat(seg_path, &st), -1);
	lsm_fault_arm(LSM_FAULT_WAL_SYNC, 0, EIO, false);
	assert_int_equal(lsm_wal_create(&w, tmpdir, 7, io), -EIO);
	assert_int_equal(stat(seg_path, &st), -1);
	assert_int_equal(lsm_wal_create(&w, tmpdir, 7, io), 0);
	lsm_wal_close(w);
	lsm_wal_io_free(io);
}

/*
 * A write that the file size limit cuts short: the backend writes what fits,
 * goes on with the rest, gets EFBIG, and reports it (never success).
 */
static void short_write(enum lsm_io_kind kind)
{
	lsm_wal_io *io = new_io(kind);
	struct rlimit old, lim;
	uint8_t rec[600];
	uint64_t start;
	lsm_wal *w;
	int rc;

	assert_int_equal(lsm_wal_create(&w, tmpdir, 7, io), 0);
	start = lsm_wal_size(w);
	memset(rec, 0, sizeof rec);
	lsm_record_header(rec, LSM_REC_BATCH, rec + LSM_RECORD_HEADER_LEN, sizeof rec - LSM_RECORD_HEADER_LEN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = start + 100;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	rc = lsm_wal_append(w, rec, sizeof rec, true);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(rc, -EFBIG);
	assert_int_equal(file_size(seg_path), start + 100);
	assert_int_equal(append_batch(w, 0, true), STRATA_EREADONLY);
	lsm_wal_close(w);
	lsm_wal_io_free(io);
}

static void test_wal_short_write_io_uring(void **state)
{
	(void)state;
	short_write(LSM_IO_URING);
}

static void test_wal_short_write_pwrite(void **state)
{
	(void)state;
	short_write(LSM_IO_PWRITE);
}

/*
 * A real failing fdatasync, not an injected one: a pipe takes the write and
 * refuses the sync (EINVAL). The io_uring backend must report the linked
 * sync's result; both report a failed sync alone.
 */
static void test_wal_io_real_sync_error(void **state)
{
	lsm_wal_io *io;
	char buf[8];
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	io = new_io(LSM_IO_PWRITE);
	/* pwrite cannot write to a pipe at an offset: the error passes through, nothing is written. */
	assert_int_equal(lsm_wal_io_write(io, p[1], "abc", 3, 0, true), -ESPIPE);
	assert_int_equal(lsm_wal_io_sync(io, p[1]), -EINVAL);
	lsm_wal_io_free(io);
	assert_int_equal(read(p[0], buf, sizeof buf), -1);
	io = new_io(LSM_IO_URING);
	assert_int_equal(lsm_wal_io_write(io, p[1], "abc", 3, 0, true), -EINVAL);
	assert_int_equal(read(p[0], buf, sizeof buf), 3);
	assert_int_equal(lsm_wal_io_sync(io, p[1]), -EINVAL);
	/* Without sync the write is a plain pwrite on this backend too: a pipe refuses the offset. */
	assert_int_equal(lsm_wal_io_write(io, p[1], "de", 2, 0, false), -ESPIPE);
	assert_int_equal(read(p[0], buf, sizeof buf), -1);
	lsm_wal_io_free(io);
	close(p[0]);
	close(p[1]);
}

static char *dump_to_string(const char *p, int *rc)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	*rc = lsm_wal_dump(p, f);
	fclose(f);
	return text;
}

static void test_wal_dump_lists_every_record(void **state)
{
	struct seg s;
	char want[128];
	char *text;
	int rc;

	(void)state;
	write_segment(&s, LSM_IO_PWRITE);
	text = dump_to_string(seg_path, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(text, "offset=0 type=file_header(1) len=20 checksum=ok magic=STRATAWL version=1 number=7"));
	for (int i = 0; i < N_RECS; i++) {
		snprintf(want, sizeof want, "offset=%" PRIu64 " type=batch(2) len=%" PRIu64 " checksum=ok seq=%d count=%d\n",
			 s.rec_off[i], s.rec_off[i + 1] - s.rec_off[i] - LSM_RECORD_HEADER_LEN, 100 + i * 10, i + 1);
		if (!strstr(text, want))
			fail_msg("dump lacks '%s':\n%s", want, text);
	}
	free(text);

	/* A bad checksum is shown and the walk goes on; a cut record ends it. */
	flip_byte(seg_path, s.rec_off[2] + LSM_RECORD_HEADER_LEN + 1);
	cut_file(seg_path, s.rec_off[N_RECS] - 1);
	text = dump_to_string(seg_path, &rc);
	assert_int_equal(rc, STRATA_ECORRUPT);
	snprintf(want, sizeof want, "offset=%" PRIu64 " type=batch(2)", s.rec_off[2]);
	assert_non_null(strstr(text, want));
	assert_non_null(strstr(text, "checksum=BAD"));
	snprintf(want, sizeof want, "offset=%" PRIu64 " type=batch(2)", s.rec_off[3]);
	assert_non_null(strstr(text, want));
	snprintf(want, sizeof want, "offset=%" PRIu64 " type=batch(2) len=%" PRIu64 " damaged",
		 s.rec_off[N_RECS - 1], s.rec_off[N_RECS] - s.rec_off[N_RECS - 1] - LSM_RECORD_HEADER_LEN);
	if (!strstr(text, want))
		fail_msg("dump lacks '%s':\n%s", want, text);
	free(text);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_wal_path),
		T(test_wal_round_trip_io_uring),
		T(test_wal_round_trip_pwrite),
		T(test_wal_round_trip_auto),
		T(test_wal_io_env_forces_backend),
		T(test_wal_io_auto_falls_back),
		T(test_wal_big_append_io_uring),
		T(test_wal_big_append_pwrite),
		T(test_wal_create_existing_fails),
		T(test_wal_replay_flipped_payload_byte),
		T(test_wal_replay_flipped_header_bytes),
		T(test_wal_replay_damage_in_middle),
		T(test_wal_replay_truncated_every_byte),
		T(test_wal_truncate_then_replay_clean),
		T(test_wal_replay_torn_segment_header),
		T(test_wal_replay_wrong_magic_is_corrupt),
		T(test_wal_replay_foreign_record_is_corrupt),
		T(test_wal_replay_callback_stops),
		T(test_wal_fault_write_io_uring),
		T(test_wal_fault_write_pwrite),
		T(test_wal_fault_sync_io_uring),
		T(test_wal_fault_sync_pwrite),
		T(test_wal_fault_sync_alone),
		T(test_wal_fault_at_create),
		T(test_wal_short_write_io_uring),
		T(test_wal_short_write_pwrite),
		T(test_wal_io_real_sync_error),
		T(test_wal_dump_lists_every_record),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
