/* Unit tests: one process per data directory (lsm/lockfile.h through lsm_open). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lsm/lsm.h"
#include "tests/util.h"

#include <signal.h>
#include <sys/wait.h>

static void test_lockfile_second_process_is_refused(void **state)
{
	char dir[64], pid_text[32];
	int ready[2];
	pid_t pid;
	lsm_options opt;
	lsm_db *db = NULL;
	char byte;
	int status;

	(void)state;
	assert_int_equal(test_make_temp_dir(dir, sizeof dir), 0);
	lsm_options_default(&opt);
	opt.memtable_bytes = 1u << 20;
	opt.block_cache_bytes = 1u << 20;
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		lsm_db *child_db;

		if (lsm_open(&child_db, dir, &opt) != 0)
			_exit(2);
		if (write(ready[1], "r", 1) != 1)
			_exit(3);
		pause(); /* until killed */
		_exit(0);
	}
	assert_int_equal(read(ready[0], &byte, 1), 1);

	/* Held by the child: refused with a message naming the directory and pid. */
	assert_int_equal(lsm_open(&db, dir, &opt), STRATA_ELOCKED);
	assert_null(db);
	snprintf(pid_text, sizeof pid_text, "pid %d", (int)pid);
	assert_non_null(strstr(strata_last_error(), pid_text));
	assert_non_null(strstr(strata_last_error(), dir));

	/* The kernel drops the lock with the process: no stale lock after a crash. */
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	assert_int_equal(lsm_open(&db, dir, &opt), 0);
	/* And the same process cannot open it twice either. */
	{
		lsm_db *again = NULL;

		assert_int_equal(lsm_open(&again, dir, &opt), STRATA_ELOCKED);
	}
	assert_int_equal(lsm_close(db), 0);
	close(ready[0]);
	close(ready[1]);
	test_remove_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lockfile_second_process_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
