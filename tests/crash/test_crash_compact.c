/*
 * Crash test: SIGKILL during compactions. A child process writes synced
 * batches of PUT, MERGE and DELETE into a few keys spread over a few time
 * windows, with tiny memtables (many small tables), a flusher thread, a
 * thread calling lsm_compact in a loop and the background compaction
 * thread, while a clock closes the windows one after the other. Each
 * acknowledged batch is reported through a pipe. The parent kills the child
 * at a random moment, reopens the directory and checks that
 *   - every acknowledged batch is there: each key holds exactly the value
 *     the batches give it, merge operands folded once (the merge hook of
 *     one of the two databases concatenates operands, so an operand applied
 *     twice or lost shows), deleted keys absent;
 *   - the one batch per thread that was in flight is whole or absent;
 *   - sst/ holds no temporary file and exactly the tables the manifest lists.
 * The batches are derived from the seed, so the parent rebuilds them.
 *
 * Two databases take turns: one whose values are opaque bytes merged by
 * concatenation, one whose values are rows merged by lsm_row_merge (closed
 * windows then take their column form).
 *
 * STRATA_CRASH_COMPACT_ROUNDS sets the number of rounds (default 8); the
 * seed is printed so that a failing run can be repeated with
 * STRATA_CRASH_COMPACT_SEED.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lsm/alloc.h"
#include "lsm/log.h"
#include "lsm/lsm.h"
#include "lsm/row.h"
#include "tests/util.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>

#define N_THREADS 2
#define KEYS_PER_THREAD 48
#define N_WINDOWS 4
#define WINDOW_NS (INT64_C(100) * 1000000) /* windows close 100 ms apart on the child's clock */
#define MAX_OPS 4
#define MAX_BATCHES 1000000
#define VALUE_MAX 4096
#define STATS_TAG 0xff

enum { MODE_CONCAT, MODE_ROWS, N_MODES };

static char data_dir[N_MODES][64];
static unsigned long long seed;

static uint64_t mix64(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The concatenating merge hook: an operand applied twice, or lost, changes the value. */
static int concat_merge(void *ctx, const uint8_t *older, size_t older_len, const uint8_t *newer,
			size_t newer_len, uint8_t **out, size_t *out_len)
{
	uint8_t *buf = strata_malloc(older_len + newer_len + 1);

	(void)ctx;
	if (!buf)
		return -ENOMEM;
	memcpy(buf, older, older_len);
	memcpy(buf + older_len, newer, newer_len);
	*out = buf;
	*out_len = older_len + newer_len;
	return 0;
}

static void key_of(uint8_t k[LSM_UKEY_LEN], int thread, int i)
{
	int64_t ts = (int64_t)(i % N_WINDOWS) * WINDOW_NS + (int64_t)(i / N_WINDOWS) * 1000;

	lsm_ukey_encode(k, 1 + (uint64_t)thread, ts);
}

typedef struct op {
	enum lsm_kind kind;
	int key;
	size_t len;
	uint8_t value[64];
} op;

/* The entries of batch j of a thread in a round: the same in the child and the parent. */
static int batch_ops(int mode, int round, int thread, uint64_t j, op *out)
{
	uint64_t r = mix64(seed ^ mix64((uint64_t)round << 40 ^ (uint64_t)thread << 32 ^ j));
	int n = 1 + (int)(r % MAX_OPS);

	for (int i = 0; i < n; i++) {
		uint64_t x = mix64(r + (uint64_t)i);
		uint64_t token = (uint64_t)round << 40 | (uint64_t)thread << 36 | j << 4 | (uint64_t)i;
		unsigned pick = (unsigned)(x % 100);

		out[i].key = (int)((x >> 8) % KEYS_PER_THREAD);
		out[i].kind = pick < 30 ? LSM_KIND_PUT : pick < 85 ? LSM_KIND_MERGE : LSM_KIND_DELETE;
		out[i].len = 0;
		if (out[i].kind == LSM_KIND_DELETE)
			continue;
		if (mode == MODE_CONCAT) {
			lsm_put_le64(out[i].value, token);
			out[i].len = 8;
		} else {
			/* One to three of fields 1..6, their values from the token. */
			lsm_row_field f[3];
			char s[24];
			size_t nf = 0;

			uint32_t id = 1 + (uint32_t)((x >> 16) % 3);

			for (; id <= 6 && nf < 3; id += 1 + (uint32_t)((x >> (20 + id)) % 2)) {
				f[nf].id = id;
				if (id % 3 == 0) {
					snprintf(s, sizeof s, "v%" PRIx64, token);
					f[nf].type = LSM_FIELD_STRING;
					f[nf].v.s.p = s;
					f[nf].v.s.len = strlen(s);
				} else if (id % 3 == 1) {
					f[nf].type = LSM_FIELD_INT;
					f[nf].v.i = (int64_t)token;
				} else {
					f[nf].type = LSM_FIELD_FLOAT;
					f[nf].v.f = (double)(token % 100000) / 4.0;
				}
				nf++;
			}
			out[i].len = lsm_row_encode(out[i].value, sizeof out[i].value, f, nf);
		}
	}
	return n;
}

static void db_options(lsm_options *opt, int mode, int round)
{
	lsm_options_default(opt);
	opt->merge = mode == MODE_CONCAT ? concat_merge : lsm_row_merge;
	opt->window_ns = WINDOW_NS;
	opt->memtable_bytes = 8u << 10;
	opt->block_cache_bytes = 1u << 20;
	opt->compact.live_trigger = 2 + (unsigned)(round % 2);
	opt->compact.max_files = 5;
	opt->compact.closed_grace_ns = WINDOW_NS / 2;
	/* Some rounds cut outputs small: a crash can leave several finished outputs behind. */
	opt->compact.max_file_bytes = round % 3 == 2 ? 4u << 10 : 1u << 20;
}

/* ---- the child ---- */

static uint64_t child_start_ns;
static atomic_int child_stop;

/* The child's wall clock: time since it started, so the windows close one by one. */
static int64_t child_clock(void *ctx)
{
	(void)ctx;
	return (int64_t)(now_ns() - child_start_ns);
}

typedef struct writer_arg {
	lsm_db *db;
	int mode, round, thread, ack_fd;
} writer_arg;

static void *writer_main(void *p)
{
	writer_arg *w = p;
	lsm_batch b;
	op ops[MAX_OPS];

	lsm_batch_init(&b);
	for (uint64_t j = 0; j < MAX_BATCHES; j++) {
		int n = batch_ops(w->mode, w->round, w->thread, j, ops);
		uint64_t ack = (uint64_t)w->thread << 32 | j;

		lsm_batch_clear(&b);
		for (int i = 0; i < n; i++) {
			uint8_t k[LSM_UKEY_LEN];
			int rc;

			key_of(k, w->thread, ops[i].key);
			if (ops[i].kind == LSM_KIND_PUT)
				rc = lsm_batch_put(&b, k, ops[i].value, ops[i].len);
			else if (ops[i].kind == LSM_KIND_MERGE)
				rc = lsm_batch_merge(&b, k, ops[i].value, ops[i].len);
			else
				rc = lsm_batch_delete(&b, k);
			if (rc)
				_exit(3);
		}
		if (lsm_write(w->db, &b, 0) != 0) {
			fprintf(stderr, "child: write: %s\n", strata_last_error());
			_exit(4);
		}
		if (write(w->ack_fd, &ack, sizeof ack) != sizeof ack)
			_exit(5);
	}
	lsm_batch_deinit(&b);
	return NULL;
}

typedef struct flusher_arg {
	lsm_db *db;
	int ack_fd;
} flusher_arg;

/* Flushes, and reports the compactions done so far (a message of thread STATS_TAG). */
static void *flusher_main(void *p)
{
	flusher_arg *a = p;

	for (int i = 0; i < 1000000 && !atomic_load(&child_stop); i++) {
		lsm_stats st;
		uint64_t msg;

		if (lsm_flush(a->db) != 0) {
			fprintf(stderr, "child: flush: %s\n", strata_last_error());
			_exit(6);
		}
		lsm_get_stats(a->db, &st);
		msg = (uint64_t)STATS_TAG << 32 | (st.compactions & 0xffffffffu);
		if (write(a->ack_fd, &msg, sizeof msg) != sizeof msg)
			_exit(5);
		usleep(2000 + (useconds_t)(mix64((uint64_t)i) % 6000));
	}
	return NULL;
}

static void *compactor_main(void *p)
{
	lsm_db *db = p;

	for (int i = 0; i < 1000000 && !atomic_load(&child_stop); i++) {
		if (lsm_compact(db, mix64((uint64_t)i) % 4 == 0) != 0) {
			fprintf(stderr, "child: compact: %s\n", strata_last_error());
			_exit(7);
		}
		usleep(1000 + (useconds_t)(mix64((uint64_t)i + 99) % 4000));
	}
	return NULL;
}

static void child_main(int mode, int round, int ack_fd)
{
	lsm_options opt;
	lsm_db *db;
	pthread_t writers[N_THREADS], flusher, compactor;
	writer_arg args[N_THREADS];
	flusher_arg fa;

	child_start_ns = now_ns();
	db_options(&opt, mode, round);
	opt.compact.clock = child_clock;
	if (lsm_open(&db, data_dir[mode], &opt) != 0) {
		fprintf(stderr, "child: open: %s\n", strata_last_error());
		_exit(2);
	}
	for (int t = 0; t < N_THREADS; t++) {
		args[t] = (writer_arg){ db, mode, round, t, ack_fd };
		pthread_create(&writers[t], NULL, writer_main, &args[t]);
	}
	fa = (flusher_arg){ db, ack_fd };
	pthread_create(&flusher, NULL, flusher_main, &fa);
	pthread_create(&compactor, NULL, compactor_main, db);
	for (int t = 0; t < N_THREADS; t++)
		pthread_join(writers[t], NULL);
	_exit(0);
}

/* ---- the parent's model ---- */

typedef struct model_key {
	bool present;
	size_t len;
	uint8_t *val; /* heap, VALUE_MAX bytes */
} model_key;

typedef struct model {
	model_key k[N_THREADS][KEYS_PER_THREAD];
} model;

static void model_alloc(model *m)
{
	for (int t = 0; t < N_THREADS; t++)
		for (int i = 0; i < KEYS_PER_THREAD; i++) {
			m->k[t][i].present = false;
			m->k[t][i].len = 0;
			m->k[t][i].val = malloc(VALUE_MAX);
			assert_non_null(m->k[t][i].val);
		}
}

static void model_release(model *m)
{
	for (int t = 0; t < N_THREADS; t++)
		for (int i = 0; i < KEYS_PER_THREAD; i++)
			free(m->k[t][i].val);
}

static void model_copy_thread(model *dst, const model *src, int t)
{
	for (int i = 0; i < KEYS_PER_THREAD; i++) {
		dst->k[t][i].present = src->k[t][i].present;
		dst->k[t][i].len = src->k[t][i].len;
		memcpy(dst->k[t][i].val, src->k[t][i].val, src->k[t][i].len);
	}
}

static void model_apply_batch(model *m, int mode, int round, int t, uint64_t j)
{
	op ops[MAX_OPS];
	int n = batch_ops(mode, round, t, j, ops);

	for (int i = 0; i < n; i++) {
		model_key *mk = &m->k[t][ops[i].key];

		if (ops[i].kind == LSM_KIND_DELETE) {
			mk->present = false;
		} else if (ops[i].kind == LSM_KIND_PUT || !mk->present) {
			memcpy(mk->val, ops[i].value, ops[i].len);
			mk->len = ops[i].len;
			mk->present = true;
		} else {
			uint8_t *merged;
			size_t len;
			lsm_merge_fn merge = mode == MODE_CONCAT ? concat_merge : lsm_row_merge;

			assert_int_equal(merge(NULL, mk->val, mk->len, ops[i].value, ops[i].len, &merged, &len), 0);
			if (len > VALUE_MAX)
				fail_msg("a value of %zu bytes: seed %llu makes too long merge runs", len,
					 seed);
			memcpy(mk->val, merged, len);
			mk->len = len;
			strata_free(merged);
		}
	}
}

/* Whether the keys of thread t read as m says; the first difference in *why. */
static bool thread_matches(lsm_db *db, const model *m, int t, char *why, size_t why_len)
{
	for (int i = 0; i < KEYS_PER_THREAD; i++) {
		const model_key *mk = &m->k[t][i];
		uint8_t k[LSM_UKEY_LEN], *v = NULL;
		size_t len = 0;
		int rc;

		key_of(k, t, i);
		rc = lsm_get(db, k, &v, &len);
		if (rc != 0 && rc != STRATA_ENOTFOUND)
			fail_msg("get thread %d key %d: %s", t, i, strata_last_error());
		bool same = rc == 0 ? mk->present && len == mk->len && memcmp(v, mk->val, len) == 0 : !mk->present;

		if (!same) {
			snprintf(why, why_len, "key %d: %s (%zu bytes), want %s (%zu bytes)", i,
				 rc == 0 ? "present" : "absent", len, mk->present ? "present" : "absent",
				 mk->len);
			strata_free(v);
			return false;
		}
		strata_free(v);
	}
	return true;
}

/* Every key of the database by iteration: ascending, known, and as m says. */
static void check_iteration(lsm_db *db, const model *m, int round)
{
	uint8_t lo[LSM_UKEY_LEN], hi[LSM_UKEY_LEN], prev[LSM_UKEY_LEN];
	lsm_db_iter *it;
	int seen = 0, want = 0;

	memset(lo, 0, sizeof lo);
	memset(hi, 0xff, sizeof hi);
	assert_int_equal(lsm_db_iter_new(&it, db, lo, hi), 0);
	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it); lsm_db_iter_next(it)) {
		const uint8_t *k = lsm_db_iter_key(it);
		int t = (int)lsm_ukey_series(k) - 1;
		int64_t ts = lsm_ukey_ts(k);
		int i = ts >= 0 ? (int)(ts / WINDOW_NS + (ts % WINDOW_NS) / 1000 * N_WINDOWS) : -1;
		uint8_t known[LSM_UKEY_LEN];
		size_t len;
		const uint8_t *v = lsm_db_iter_value(it, &len);

		if (seen && memcmp(prev, k, LSM_UKEY_LEN) >= 0)
			fail_msg("round %d: iteration goes back or repeats a key (series %" PRIu64
				 " ts %" PRId64 ")", round, lsm_ukey_series(k), ts);
		memcpy(prev, k, LSM_UKEY_LEN);
		if (t >= 0 && t < N_THREADS && i >= 0 && i < KEYS_PER_THREAD)
			key_of(known, t, i);
		if (t < 0 || t >= N_THREADS || i < 0 || i >= KEYS_PER_THREAD ||
		    memcmp(known, k, LSM_UKEY_LEN) != 0)
			fail_msg("round %d: a key never written: series %" PRIu64 " ts %" PRId64, round,
				 lsm_ukey_series(k), ts);
		if (!m->k[t][i].present || len != m->k[t][i].len || memcmp(v, m->k[t][i].val, len) != 0)
			fail_msg("round %d: thread %d key %d iterated %s", round, t, i,
				 m->k[t][i].present ? "with a wrong value" : "though deleted");
		seen++;
	}
	assert_int_equal(lsm_db_iter_status(it), 0);
	lsm_db_iter_free(it);
	for (int t = 0; t < N_THREADS; t++)
		for (int i = 0; i < KEYS_PER_THREAD; i++)
			want += m->k[t][i].present;
	if (seen != want)
		fail_msg("round %d: %d keys iterated, want %d", round, seen, want);
}

/* sst/ holds exactly the tables of the current version and nothing temporary. */
static void check_files(lsm_db *db, const char *dir, int round)
{
	char path[128];
	lsm_stats st;
	DIR *d;
	struct dirent *de;
	uint64_t n = 0, bytes = 0;

	lsm_get_stats(db, &st);
	snprintf(path, sizeof path, "%s/sst", dir);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char file[512];
		size_t nl = strlen(de->d_name);

		if (de->d_name[0] == '.')
			continue;
		if (nl < 5 || strcmp(de->d_name + nl - 4, ".sst") != 0)
			fail_msg("round %d: %s/%s left after open", round, path, de->d_name);
		snprintf(file, sizeof file, "%s/%s", path, de->d_name);
		n++;
		bytes += (uint64_t)test_file_size(file);
	}
	closedir(d);
	if (n != st.n_files || bytes != st.file_bytes)
		fail_msg("round %d: sst/ holds %" PRIu64 " tables of %" PRIu64 " bytes, the manifest %" PRIu64
			 " of %" PRIu64, round, n, bytes, st.n_files, st.file_bytes);
	if (st.error)
		fail_msg("round %d: engine error after open: %s", round, strata_strerror(st.error));
}

static void test_crash_compact_sigkill(void **state)
{
	const char *rounds_env = getenv("STRATA_CRASH_COMPACT_ROUNDS");
	const char *seed_env = getenv("STRATA_CRASH_COMPACT_SEED");
	int rounds = rounds_env ? atoi(rounds_env) : 8;
	model *committed = calloc(N_MODES, sizeof *committed);
	model *next = calloc(1, sizeof *next);
	uint64_t total_acked = 0, compactions = 0;

	(void)state;
	seed = seed_env ? strtoull(seed_env, NULL, 10) : (unsigned long long)time(NULL);
	printf("crash compact test: %d rounds, seed %llu\n", rounds, seed);
	fflush(stdout);
	strata_log_set_level(STRATA_LOG_ERROR);
	assert_non_null(committed);
	assert_non_null(next);
	for (int mode = 0; mode < N_MODES; mode++) {
		assert_int_equal(test_make_temp_dir(data_dir[mode], sizeof data_dir[mode]), 0);
		model_alloc(&committed[mode]);
	}
	model_alloc(next);

	for (int round = 0; round < rounds; round++) {
		int mode = round % N_MODES;
		uint64_t acked[N_THREADS] = { 0 }, ack, child_compactions = 0;
		int fds[2], status;
		pid_t pid;
		ssize_t got;
		struct timespec delay;
		lsm_options opt;
		lsm_db *db;

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			child_main(mode, round, fds[1]);
		}
		close(fds[1]);
		/* 20-450 ms: before, while and after the windows close on the child's clock. */
		delay.tv_sec = 0;
		delay.tv_nsec = (long)(20 + mix64(seed + (uint64_t)round) % 430) * 1000000L;
		nanosleep(&delay, NULL);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			fail_msg("round %d: the child ended by itself (status %d) before it was killed", round,
				 status);
		while ((got = read(fds[0], &ack, sizeof ack)) == (ssize_t)sizeof ack) {
			uint64_t t = ack >> 32, j = ack & 0xffffffffu;

			if (t == STATS_TAG) {
				child_compactions = j;
				continue;
			}
			assert_true(t < N_THREADS);
			assert_true(j == acked[t]); /* each thread acknowledges in order */
			acked[t] = j + 1;
			total_acked++;
		}
		close(fds[0]);
		compactions += child_compactions;

		db_options(&opt, mode, round);
		opt.compact.disable = true;
		if (lsm_open(&db, data_dir[mode], &opt) != 0)
			fail_msg("round %d: reopen: %s", round, strata_last_error());
		check_files(db, data_dir[mode], round);
		for (int t = 0; t < N_THREADS; t++) {
			char why[2][160];

			/* All acknowledged batches... */
			model_copy_thread(next, &committed[mode], t);
			for (uint64_t j = 0; j < acked[t]; j++)
				model_apply_batch(next, mode, round, t, j);
			if (thread_matches(db, next, t, why[0], sizeof why[0])) {
				model_copy_thread(&committed[mode], next, t);
				continue;
			}
			/* ... and maybe the one in flight, whole. */
			model_apply_batch(next, mode, round, t, acked[t]);
			if (!thread_matches(db, next, t, why[1], sizeof why[1]))
				fail_msg("round %d (seed %llu) thread %d after %" PRIu64 " acknowledged batches: "
					 "%s; with the batch in flight: %s", round, seed, t, acked[t], why[0],
					 why[1]);
			model_copy_thread(&committed[mode], next, t);
		}
		check_iteration(db, &committed[mode], round);

		/* Now and then a whole compaction after the recovery, and a reopen. */
		if (round % 3 == 1) {
			if (lsm_compact(db, true) != 0)
				fail_msg("round %d: compact after recovery: %s", round, strata_last_error());
			check_iteration(db, &committed[mode], round);
			assert_int_equal(lsm_close(db), 0);
			if (lsm_open(&db, data_dir[mode], &opt) != 0)
				fail_msg("round %d: reopen: %s", round, strata_last_error());
			check_files(db, data_dir[mode], round);
			check_iteration(db, &committed[mode], round);
		}
		assert_int_equal(lsm_close(db), 0);
	}
	printf("crash compact test: %d rounds, %" PRIu64 " acknowledged batches verified, %" PRIu64
	       " compactions seen in the children\n", rounds, total_acked, compactions);
	assert_true(rounds == 0 || total_acked > 0);
	assert_true(rounds < 4 || compactions > 0);
	for (int mode = 0; mode < N_MODES; mode++) {
		model_release(&committed[mode]);
		test_remove_tree(data_dir[mode]);
	}
	model_release(next);
	free(committed);
	free(next);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crash_compact_sigkill),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
