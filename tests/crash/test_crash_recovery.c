/*
 * Crash test: a child process writes synced batches from several threads and
 * reports each acknowledged batch through a pipe; the parent kills it with
 * SIGKILL at a random moment, reopens the directory and checks that
 *   - every acknowledged batch is present, whole, with its values;
 *   - the one batch per thread that was in flight is whole or absent;
 *   - nothing appears that was never sent.
 * Small memtables make flushes (and crashes during them) frequent.
 *
 * STRATA_CRASH_ROUNDS sets the number of rounds (default 12); the seed is
 * printed so a failing run can be repeated with STRATA_CRASH_SEED.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lsm/alloc.h"
#include "lsm/lsm.h"
#include "tests/util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#define N_THREADS 4
#define ENTRIES_PER_BATCH 10
#define MAX_BATCHES_PER_THREAD 100000

static char data_dir[64];

static void crash_options(lsm_options *opt)
{
	lsm_options_default(opt);
	opt->memtable_bytes = 256u << 10;
	opt->block_cache_bytes = 1u << 20;
}

/* Batch ids: round, thread and the thread's batch counter. */
static uint64_t batch_id(uint64_t round, uint64_t thread, uint64_t j)
{
	return round << 40 | thread << 32 | j;
}

static void entry_value(uint64_t id, int i, uint8_t out[12])
{
	lsm_put_le64(out, id * 31 + (uint64_t)i);
	lsm_put_le32(out + 8, (uint32_t)i);
}

typedef struct writer_arg {
	lsm_db *db;
	uint64_t round;
	uint64_t thread;
	int ack_fd;
} writer_arg;

static void *writer_main(void *p)
{
	writer_arg *w = p;
	lsm_batch b;

	lsm_batch_init(&b);
	for (uint64_t j = 0; j < MAX_BATCHES_PER_THREAD; j++) {
		uint64_t id = batch_id(w->round, w->thread, j);

		lsm_batch_clear(&b);
		for (int i = 0; i < ENTRIES_PER_BATCH; i++) {
			uint8_t k[LSM_UKEY_LEN], v[12];

			lsm_ukey_encode(k, id, i);
			entry_value(id, i, v);
			if (lsm_batch_put(&b, k, v, sizeof v) != 0)
				_exit(3);
		}
		if (lsm_write(w->db, &b, 0) != 0)
			_exit(4);
		if (write(w->ack_fd, &id, sizeof id) != sizeof id)
			_exit(5);
	}
	lsm_batch_deinit(&b);
	return NULL;
}

/* The child: open, write until killed. */
static void child_main(uint64_t round, int ack_fd)
{
	lsm_options opt;
	lsm_db *db;
	pthread_t threads[N_THREADS];
	writer_arg args[N_THREADS];

	crash_options(&opt);
	if (lsm_open(&db, data_dir, &opt) != 0) {
		fprintf(stderr, "child: open: %s\n", strata_last_error());
		_exit(2);
	}
	for (uint64_t t = 0; t < N_THREADS; t++) {
		args[t] = (writer_arg){ db, round, t, ack_fd };
		pthread_create(&threads[t], NULL, writer_main, &args[t]);
	}
	for (int t = 0; t < N_THREADS; t++)
		pthread_join(threads[t], NULL);
	_exit(0);
}

/* Entries of batch id present (0..ENTRIES_PER_BATCH); fails on a wrong value. */
static int entries_present(lsm_db *db, uint64_t id)
{
	int n = 0;

	for (int i = 0; i < ENTRIES_PER_BATCH; i++) {
		uint8_t k[LSM_UKEY_LEN], want[12], *v;
		size_t len;
		int rc;

		lsm_ukey_encode(k, id, i);
		rc = lsm_get(db, k, &v, &len);
		if (rc == STRATA_ENOTFOUND)
			continue;
		if (rc != 0)
			fail_msg("get batch %llx entry %d: %s", (unsigned long long)id, i, strata_strerror(rc));
		entry_value(id, i, want);
		if (len != sizeof want || memcmp(v, want, len) != 0)
			fail_msg("batch %llx entry %d has a wrong value", (unsigned long long)id, i);
		strata_free(v);
		n++;
	}
	return n;
}

static void test_crash_acknowledged_batches_survive_sigkill(void **state)
{
	const char *rounds_env = getenv("STRATA_CRASH_ROUNDS");
	const char *seed_env = getenv("STRATA_CRASH_SEED");
	int rounds = rounds_env ? atoi(rounds_env) : 12;
	unsigned seed = seed_env ? (unsigned)strtoul(seed_env, NULL, 10) : (unsigned)time(NULL);
	uint64_t acked[64][N_THREADS]; /* per round and thread: batches acknowledged */
	uint64_t total_acked = 0;

	(void)state;
	if (rounds > 64)
		rounds = 64;
	printf("crash test: %d rounds, seed %u\n", rounds, seed);
	srand(seed);
	assert_int_equal(test_make_temp_dir(data_dir, sizeof data_dir), 0);

	for (int round = 0; round < rounds; round++) {
		int fds[2];
		pid_t pid;
		uint64_t id;
		ssize_t got;
		struct timespec delay;
		lsm_options opt;
		lsm_db *db;
		int status;

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			child_main((uint64_t)round, fds[1]);
		}
		close(fds[1]);
		/* Let it write for 20-300 ms, then kill it mid-flight. */
		delay.tv_sec = 0;
		delay.tv_nsec = (long)(20 + rand() % 280) * 1000000L;
		nanosleep(&delay, NULL);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

		memset(acked[round], 0, sizeof acked[round]);
		while ((got = read(fds[0], &id, sizeof id)) == (ssize_t)sizeof id) {
			uint64_t t = (id >> 32) & 0xff, j = id & 0xffffffffu;

			assert_true(t < N_THREADS);
			/* Each thread acknowledges its batches in order. */
			assert_true(j == acked[round][t]);
			acked[round][t] = j + 1;
			total_acked++;
		}
		close(fds[0]);

		crash_options(&opt);
		if (lsm_open(&db, data_dir, &opt) != 0)
			fail_msg("reopen after round %d: %s", round, strata_last_error());
		for (uint64_t t = 0; t < N_THREADS; t++) {
			uint64_t n = acked[round][t];
			int in_flight;

			for (uint64_t j = 0; j < n; j++) {
				int present = entries_present(db, batch_id((uint64_t)round, t, j));

				if (present != ENTRIES_PER_BATCH)
					fail_msg("round %d thread %llu: acknowledged batch %llu has %d of %d entries",
						 round, (unsigned long long)t, (unsigned long long)j, present,
						 ENTRIES_PER_BATCH);
			}
			in_flight = entries_present(db, batch_id((uint64_t)round, t, n));
			if (in_flight != 0 && in_flight != ENTRIES_PER_BATCH)
				fail_msg("round %d thread %llu: batch %llu is partial (%d entries)", round,
					 (unsigned long long)t, (unsigned long long)n, in_flight);
			/* Never sent: the thread writes one batch at a time. */
			assert_int_equal(entries_present(db, batch_id((uint64_t)round, t, n + 1)), 0);
		}
		/* Earlier rounds are still whole after more crashes. */
		if (round > 0) {
			int r = rand() % round;

			for (uint64_t t = 0; t < N_THREADS; t++)
				for (uint64_t j = 0; j < acked[r][t]; j += 7)
					assert_int_equal(entries_present(db, batch_id((uint64_t)r, t, j)),
							 ENTRIES_PER_BATCH);
		}
		assert_int_equal(lsm_close(db), 0);
	}
	printf("crash test: %d rounds, %llu acknowledged batches verified\n", rounds,
	       (unsigned long long)total_acked);
	assert_true(total_acked > 0);
	test_remove_tree(data_dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crash_acknowledged_batches_survive_sigkill),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
