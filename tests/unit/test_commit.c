/*
 * test_commit.c — group commit (lsm/commit.h) from one submitting thread:
 * sequence numbers, sync and relaxed modes, grouping options, failures
 * (sticky or not), shutdown, the WAL holding exactly what was applied, and
 * the submitting thread doing the work itself (no commit thread; relaxed
 * mode alone starts one, for its timed syncs).
 * The hooks are fakes: prepare creates segments in a temp dir, apply records
 * what it is given and checks that sequence numbers are contiguous.
 */
#include "lsm/batch.h"
#include "lsm/commit.h"
#include "lsm/fault.h"
#include "lsm/record.h"
#include "lsm/status.h"
#include "lsm/wal.h"
#include "lsm/wal_io.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

struct fix {
	char dir[64];
	lsm_wal_io *io;
	lsm_wal *wal;
	uint64_t first_number, next_number;
	size_t switch_bytes;  /* a new segment when the current would pass this (0: never) */
	int prepare_rc;       /* returned once by the next prepare */
	int apply_rc;         /* returned by apply call number apply_fail_at */
	int apply_fail_at;
	int n_apply_calls;
	uint64_t next_seq;    /* where the next applied batch must start */
	bool seq_ok;
	uint64_t tags[4096], seqs[4096];
	size_t n_applied;
	int n_failed, failed_rc;
	bool in_group;        /* between prepare and apply */
	pthread_t leader_thread; /* the thread of the last prepare */
	int n_prepare_elsewhere; /* prepare calls on another thread than the test's */
	pthread_t test_thread;
	int n_runs;
	bool run_ok;          /* every run was on the leading thread, outside a group */
};

static struct fix fx;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(p);
}

static int prepare(void *ctx, size_t group_bytes, lsm_wal **out)
{
	struct fix *f = ctx;
	int rc;

	f->in_group = true;
	f->leader_thread = pthread_self();
	if (!pthread_equal(f->leader_thread, f->test_thread))
		f->n_prepare_elsewhere++;
	if (f->prepare_rc) {
		f->in_group = false;
		rc = f->prepare_rc;
		f->prepare_rc = 0;
		return rc;
	}
	if (f->wal && f->switch_bytes && lsm_wal_size(f->wal) + group_bytes > f->switch_bytes) {
		/* Retiring a segment: sync what relaxed or no-sync batches left in it. */
		rc = lsm_wal_sync(f->wal);
		if (rc)
			return rc;
		lsm_wal_close(f->wal);
		f->wal = NULL;
	}
	if (!f->wal) {
		rc = lsm_wal_create(&f->wal, f->dir, f->next_number, f->io);
		if (rc)
			return rc;
		f->next_number++;
	}
	*out = f->wal;
	return 0;
}

/* The tag of a batch: the series id of its first entry. */
static uint64_t batch_tag(const uint8_t *data, size_t len)
{
	lsm_batch_reader r;
	lsm_batch_entry e;

	if (lsm_batch_reader_init(&r, data, len) != 0 || lsm_batch_reader_next(&r, &e) != 1)
		return UINT64_MAX;
	return lsm_ukey_series(e.ukey);
}

static int apply(void *ctx, lsm_batch *const *batches, size_t n)
{
	struct fix *f = ctx;

	f->in_group = false;
	if (++f->n_apply_calls == f->apply_fail_at)
		return f->apply_rc;
	for (size_t i = 0; i < n; i++) {
		if (lsm_batch_seq(batches[i]) != f->next_seq)
			f->seq_ok = false;
		f->next_seq += lsm_batch_count(batches[i]);
		if (f->n_applied < 4096) {
			f->tags[f->n_applied] = batch_tag(batches[i]->data, batches[i]->len);
			f->seqs[f->n_applied] = lsm_batch_seq(batches[i]);
		}
		f->n_applied++;
	}
	return 0;
}

static void failed(void *ctx, int rc)
{
	struct fix *f = ctx;

	f->n_failed++;
	f->failed_rc = rc;
}

static const lsm_commit_hooks hooks = { .ctx = &fx, .prepare = prepare, .apply = apply, .failed = failed };

static int setup(void **state)
{
	(void)state;
	memset(&fx, 0, sizeof fx);
	strcpy(fx.dir, "/tmp/strata-test-XXXXXX");
	if (!mkdtemp(fx.dir))
		return -1;
	fx.first_number = fx.next_number = 1;
	fx.seq_ok = true;
	fx.run_ok = true;
	fx.test_thread = pthread_self();
	lsm_fault_reset();
	return lsm_wal_io_new(&fx.io, LSM_IO_AUTO);
}

static int teardown(void **state)
{
	(void)state;
	lsm_fault_reset();
	lsm_wal_close(fx.wal);
	lsm_wal_io_free(fx.io);
	return nftw(fx.dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static lsm_commit *start(const lsm_commit_options *opt, uint64_t last_seq)
{
	lsm_commit *c = NULL;

	fx.next_seq = last_seq + 1;
	assert_int_equal(lsm_commit_start(&c, opt, &hooks, last_seq), 0);
	assert_non_null(c);
	assert_int_equal(lsm_commit_visible_seq(c), last_seq);
	return c;
}

/* A batch tagged tag with n entries of value_len bytes. */
static void make_batch(lsm_batch *b, uint64_t tag, int n, size_t value_len)
{
	uint8_t key[LSM_UKEY_LEN];
	char value[4096];

	assert_true(value_len <= sizeof value);
	memset(value, 'v', value_len);
	lsm_batch_init(b);
	for (int j = 0; j < n; j++) {
		lsm_ukey_encode(key, tag, j);
		assert_int_equal(lsm_batch_put(b, key, value, value_len), 0);
	}
}

static int submit_tagged(lsm_commit *c, uint64_t tag, int n, bool sync)
{
	lsm_batch b;
	int rc;

	make_batch(&b, tag, n, 20);
	rc = lsm_commit_submit(c, &b, sync);
	lsm_batch_deinit(&b);
	return rc;
}

struct replayed {
	size_t n;
	uint64_t tags[4096], seqs[4096];
};

static int replay_fn(void *ctx, const uint8_t *batch, size_t len)
{
	struct replayed *r = ctx;
	lsm_batch_reader br;

	assert_int_equal(lsm_batch_reader_init(&br, batch, len), 0);
	if (r->n < 4096) {
		r->tags[r->n] = batch_tag(batch, len);
		r->seqs[r->n] = br.seq;
	}
	r->n++;
	return 0;
}

/* Replays every segment in order: it must hold exactly the applied batches, plus `extra` after them. */
static void assert_wal_matches_applied(size_t extra)
{
	static struct replayed r;
	char path[4096];

	memset(&r, 0, sizeof r);
	for (uint64_t no = fx.first_number; no < fx.next_number; no++) {
		lsm_wal_replay_result res;

		lsm_wal_path(path, sizeof path, fx.dir, no);
		assert_int_equal(lsm_wal_replay(path, false, replay_fn, &r, &res), 0);
		assert_false(res.torn);
	}
	assert_int_equal(r.n, fx.n_applied + extra);
	for (size_t i = 0; i < fx.n_applied && i < 4096; i++) {
		assert_int_equal(r.tags[i], fx.tags[i]);
		assert_int_equal(r.seqs[i], fx.seqs[i]);
	}
}

static void test_commit_single_batch(void **state)
{
	lsm_commit_stats st;
	lsm_commit *c;
	lsm_batch b;

	(void)state;
	c = start(NULL, 0);
	make_batch(&b, 7, 3, 20);
	assert_int_equal(lsm_commit_submit(c, &b, true), 0);
	/* Stamped, applied and visible. */
	assert_int_equal(lsm_batch_seq(&b), 1);
	assert_int_equal(lsm_commit_visible_seq(c), 3);
	assert_int_equal(lsm_commit_error(c), 0);
	lsm_commit_get_stats(c, &st);
	assert_int_equal(st.groups, 1);
	assert_int_equal(st.batches, 1);
	assert_int_equal(st.bytes, LSM_RECORD_HEADER_LEN + b.len);
	assert_int_equal(st.syncs, 1);
	assert_int_equal(st.max_group_batches, 1);
	assert_int_equal(st.queued_batches, 0);
	lsm_commit_stop(c);
	lsm_batch_deinit(&b);
	assert_true(fx.seq_ok);
	assert_int_equal(fx.n_applied, 1);
	assert_int_equal(fx.tags[0], 7);
	assert_wal_matches_applied(0);
}

/* Sequence numbers go on after last_seq, one per entry, without gaps. */
static void test_commit_sequence_continues(void **state)
{
	lsm_commit *c;
	uint64_t want = 1000;

	(void)state;
	c = start(NULL, 1000);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(submit_tagged(c, (uint64_t)i, i + 1, i % 3 != 0), 0);
		want += (uint64_t)i + 1;
		assert_int_equal(lsm_commit_visible_seq(c), want);
	}
	lsm_commit_stop(c);
	assert_true(fx.seq_ok);
	assert_int_equal(fx.n_applied, 20);
	assert_int_equal(fx.seqs[0], 1001);
	assert_wal_matches_applied(0);
}

static void test_commit_rejects_bad_batches(void **state)
{
	lsm_commit *c;
	lsm_batch b;
	uint8_t fake[64] = { 0 };

	(void)state;
	c = start(NULL, 0);
	lsm_batch_init(&b);
	assert_int_equal(lsm_commit_submit(c, &b, true), STRATA_EINVAL);
	/* Over the record limit (the data is never read). */
	b.data = fake;
	b.len = (size_t)LSM_RECORD_MAX + 1;
	b.count = 1;
	assert_int_equal(lsm_commit_submit(c, &b, true), STRATA_ETOOBIG);
	/* Neither touched the engine. */
	assert_int_equal(lsm_commit_error(c), 0);
	assert_int_equal(submit_tagged(c, 1, 1, true), 0);
	lsm_commit_stop(c);
	assert_int_equal(fx.n_applied, 1);
}

/* Outside relaxed mode, batches submitted without sync never cause one. */
static void test_commit_no_sync_batches(void **state)
{
	lsm_commit_stats st;
	lsm_commit *c;

	(void)state;
	c = start(NULL, 0);
	for (int i = 0; i < 30; i++)
		assert_int_equal(submit_tagged(c, (uint64_t)i, 2, false), 0);
	lsm_commit_get_stats(c, &st);
	assert_int_equal(st.batches, 30);
	assert_int_equal(st.syncs, 0);
	assert_int_equal(submit_tagged(c, 30, 2, true), 0);
	lsm_commit_get_stats(c, &st);
	assert_int_equal(st.syncs, 1);
	lsm_commit_stop(c);
	assert_wal_matches_applied(0);
}

/* Relaxed mode acknowledges sync batches without a sync until the interval has passed. */
static void test_commit_relaxed_defers_sync(void **state)
{
	lsm_commit_options opt;
	lsm_commit_stats st;
	lsm_commit *c;

	(void)state;
	lsm_commit_options_default(&opt);
	opt.relaxed = true;
	opt.relaxed_sync_ms = 600000; /* never within this test */
	c = start(&opt, 0);
	for (int i = 0; i < 30; i++)
		assert_int_equal(submit_tagged(c, (uint64_t)i, 1, true), 0);
	lsm_commit_get_stats(c, &st);
	assert_int_equal(st.batches, 30);
	assert_int_equal(st.syncs, 0);
	assert_int_equal(lsm_commit_visible_seq(c), 30);
	/* Stop syncs what is left: an injected sync failure proves it tried. */
	lsm_fault_arm(LSM_FAULT_WAL_SYNC, 0, EIO, false);
	lsm_commit_stop(c);
	assert_int_equal(fx.n_failed, 1);
	assert_int_equal(fx.failed_rc, -EIO);
	assert_wal_matches_applied(0);
}

/* Relaxed mode syncs on its own when idle, once the interval has passed. */
static void test_commit_relaxed_idle_sync(void **state)
{
	lsm_commit_options opt;
	lsm_commit_stats st;
	lsm_commit *c;

	(void)state;
	lsm_commit_options_default(&opt);
	opt.relaxed = true;
	opt.relaxed_sync_ms = 5;
	c = start(&opt, 0);
	assert_int_equal(submit_tagged(c, 1, 1, true), 0);
	/* Wait (bounded: 20 s) for the timed sync; nothing else will submit. */
	for (int i = 0; i < 2000; i++) {
		lsm_commit_get_stats(c, &st);
		if (st.syncs > 0)
			break;
		usleep(10000);
	}
	assert_true(st.syncs >= 1);
	/* And no more while nothing new was written. */
	{
		uint64_t syncs = st.syncs;

		usleep(30000);
		lsm_commit_get_stats(c, &st);
		assert_int_equal(st.syncs, syncs);
	}
	lsm_commit_stop(c);
}

/* A batch over group_max_bytes is committed alone. */
static void test_commit_large_batch_alone(void **state)
{
	lsm_commit_options opt;
	lsm_commit_stats st;
	lsm_commit *c;
	lsm_batch b;

	(void)state;
	lsm_commit_options_default(&opt);
	opt.group_max_bytes = 64;
	c = start(&opt, 0);
	make_batch(&b, 5, 10, 300);
	assert_true(b.len > 64);
	assert_int_equal(lsm_commit_submit(c, &b, true), 0);
	lsm_batch_deinit(&b);
	lsm_commit_get_stats(c, &st);
	assert_int_equal(st.groups, 1);
	assert_int_equal(st.max_group_batches, 1);
	lsm_commit_stop(c);
	assert_wal_matches_applied(0);
}

/* With a minimum group size that is never reached, the wait bounds the delay. */
static void test_commit_min_bytes_wait_ends(void **state)
{
	lsm_commit_options opt;
	lsm_commit *c;

	(void)state;
	lsm_commit_options_default(&opt);
	opt.group_min_bytes = 1u << 20;
	opt.group_wait_us = 2000;
	c = start(&opt, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(submit_tagged(c, (uint64_t)i, 1, true), 0);
	lsm_commit_stop(c);
	assert_int_equal(fx.n_applied, 3);
	assert_wal_matches_applied(0);
}

/* A failed prepare fails its group only, and uses no sequence numbers. */
static void test_commit_prepare_failure_not_sticky(void **state)
{
	lsm_commit *c;

	(void)state;
	c = start(NULL, 0);
	assert_int_equal(submit_tagged(c, 1, 2, true), 0);
	fx.prepare_rc = -ENOSPC;
	assert_int_equal(submit_tagged(c, 2, 2, true), -ENOSPC);
	assert_int_equal(lsm_commit_error(c), 0);
	assert_int_equal(lsm_commit_visible_seq(c), 2);
	assert_int_equal(submit_tagged(c, 3, 2, true), 0);
	assert_int_equal(lsm_commit_visible_seq(c), 4);
	lsm_commit_stop(c);
	assert_int_equal(fx.n_failed, 0);
	assert_true(fx.seq_ok);
	assert_int_equal(fx.n_applied, 2);
	assert_wal_matches_applied(0);
}

/* A failed write or sync is sticky: the error, the failed hook once, then STRATA_EREADONLY. */
static void failure_is_sticky(enum lsm_fault_point p, size_t extra_in_wal)
{
	lsm_commit *c;

	c = start(NULL, 0);
	assert_int_equal(submit_tagged(c, 1, 1, true), 0);
	lsm_fault_arm(p, 0, EIO, false);
	strata_error_clear();
	assert_int_equal(submit_tagged(c, 2, 1, true), -EIO);
	/* The submitter's message says where. */
	assert_non_null(strstr(strata_last_error(), "000001.wal"));
	assert_int_equal(fx.n_failed, 1);
	assert_int_equal(fx.failed_rc, -EIO);
	assert_int_equal(lsm_commit_error(c), -EIO);
	assert_int_equal(lsm_commit_visible_seq(c), 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(submit_tagged(c, 3, 1, i % 2), STRATA_EREADONLY);
	lsm_commit_stop(c);
	assert_int_equal(fx.n_failed, 1);
	assert_int_equal(fx.n_applied, 1);
	assert_wal_matches_applied(extra_in_wal);
}

static void test_commit_sync_failure_sticky(void **state)
{
	(void)state;
	/* The write went through; only the sync failed: the batch is in the file, unacknowledged. */
	failure_is_sticky(LSM_FAULT_WAL_SYNC, 1);
}

static void test_commit_write_failure_sticky(void **state)
{
	(void)state;
	failure_is_sticky(LSM_FAULT_WAL_WRITE, 0);
}

static void test_commit_apply_failure_sticky(void **state)
{
	lsm_commit *c;

	(void)state;
	c = start(NULL, 0);
	assert_int_equal(submit_tagged(c, 1, 1, true), 0);
	fx.apply_fail_at = 2;
	fx.apply_rc = -ENOMEM;
	assert_int_equal(submit_tagged(c, 2, 1, true), -ENOMEM);
	assert_int_equal(fx.n_failed, 1);
	assert_int_equal(lsm_commit_error(c), -ENOMEM);
	assert_int_equal(submit_tagged(c, 3, 1, true), STRATA_EREADONLY);
	lsm_commit_stop(c);
	assert_int_equal(fx.n_failed, 1);
}

/* The prepare hook switches segments; replaying them in order gives back every batch. */
static void test_commit_segment_switch(void **state)
{
	lsm_commit *c;

	(void)state;
	fx.switch_bytes = 1000;
	c = start(NULL, 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(submit_tagged(c, (uint64_t)i, 1 + i % 4, i % 2), 0);
	lsm_commit_stop(c);
	assert_true(fx.next_number - fx.first_number > 5);
	assert_true(fx.seq_ok);
	assert_int_equal(fx.n_applied, 100);
	assert_wal_matches_applied(0);
}

static void test_commit_shutdown_refuses(void **state)
{
	lsm_commit *c;

	(void)state;
	c = start(NULL, 0);
	assert_int_equal(submit_tagged(c, 1, 1, true), 0);
	lsm_commit_shutdown(c);
	lsm_commit_shutdown(c);
	assert_int_equal(submit_tagged(c, 2, 1, true), STRATA_ECLOSED);
	lsm_commit_stop(c);
	assert_int_equal(fx.n_applied, 1);
	assert_wal_matches_applied(0);
}

/* What the engine does through lsm_commit_run: close the current segment (synced first). */
static int run_retire_segment(void *ctx)
{
	struct fix *f = ctx;
	int rc = 0;

	f->n_runs++;
	if (!pthread_equal(pthread_self(), f->leader_thread) || f->in_group)
		f->run_ok = false;
	if (f->wal) {
		rc = lsm_wal_sync(f->wal);
		lsm_wal_close(f->wal);
		f->wal = NULL;
	}
	return rc ? rc : 42;
}

/* lsm_commit_run calls fn as a leader step (here: on the calling thread) between groups and returns its result. */
static void test_commit_run_between_groups(void **state)
{
	lsm_commit *c;

	(void)state;
	c = start(NULL, 0);
	assert_int_equal(submit_tagged(c, 1, 1, true), 0);
	assert_int_equal(lsm_commit_run(c, run_retire_segment, &fx), 42);
	assert_int_equal(fx.n_runs, 1);
	assert_null(fx.wal);
	/* The next group goes to a new segment. */
	assert_int_equal(submit_tagged(c, 2, 1, true), 0);
	assert_int_equal(fx.next_number, 3);
	assert_int_equal(lsm_commit_run(c, run_retire_segment, &fx), 42);
	assert_int_equal(submit_tagged(c, 3, 1, false), 0);
	lsm_commit_shutdown(c);
	assert_int_equal(lsm_commit_run(c, run_retire_segment, &fx), STRATA_ECLOSED);
	lsm_commit_stop(c);
	assert_int_equal(fx.n_runs, 2);
	assert_true(fx.run_ok);
	assert_true(fx.seq_ok);
	assert_wal_matches_applied(0);
}

/*
 * In relaxed mode the sync thread syncs the current segment when idle, and stop syncs it:
 * after a run closed it, it must not touch it (ASan would see the freed one).
 */
static void test_commit_run_then_relaxed_stop(void **state)
{
	lsm_commit_options opt;
	lsm_commit *c;

	(void)state;
	lsm_commit_options_default(&opt);
	opt.relaxed = true;
	opt.relaxed_sync_ms = 600000;
	c = start(&opt, 0);
	assert_int_equal(submit_tagged(c, 1, 1, true), 0);
	assert_int_equal(lsm_commit_run(c, run_retire_segment, &fx), 42);
	lsm_commit_stop(c);
	assert_int_equal(fx.n_failed, 0);
	assert_true(fx.run_ok);
	assert_wal_matches_applied(0);
}

/*
 * The threads of this process, io_uring's own workers ("iou-wrk-*", which
 * come and go on their own) left out.
 */
static int count_threads(void)
{
	char path[300], comm[64];
	struct dirent *de;
	int n = 0;
	DIR *d = opendir("/proc/self/task");

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/comm", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue; /* a thread that just ended */
		if (!fgets(comm, sizeof comm, f))
			comm[0] = 0;
		fclose(f);
		if (strncmp(comm, "iou-", 4) != 0)
			n++;
	}
	closedir(d);
	return n;
}

/*
 * No commit thread: the submitting thread leads its own group, so every hook
 * runs on it. Only relaxed mode starts a thread (its timed syncs), and stop
 * ends it.
 */
static void test_commit_submitter_leads(void **state)
{
	lsm_commit_options opt;
	lsm_commit *c;
	int before;

	(void)state;
	before = count_threads();
	c = start(NULL, 0);
	assert_int_equal(count_threads(), before);
	for (int i = 0; i < 10; i++)
		assert_int_equal(submit_tagged(c, (uint64_t)i, 1, i % 2), 0);
	assert_int_equal(fx.n_applied, 10);
	assert_int_equal(fx.n_prepare_elsewhere, 0);
	assert_true(pthread_equal(fx.leader_thread, pthread_self()));
	lsm_commit_stop(c);

	lsm_commit_options_default(&opt);
	opt.relaxed = true;
	opt.relaxed_sync_ms = 600000;
	c = start(&opt, 10);
	assert_int_equal(count_threads(), before + 1);
	assert_int_equal(submit_tagged(c, 10, 1, true), 0);
	assert_int_equal(fx.n_prepare_elsewhere, 0);
	lsm_commit_stop(c);
	assert_int_equal(count_threads(), before);
	assert_true(fx.seq_ok);
	assert_wal_matches_applied(0);
}

static void test_commit_start_checks_hooks(void **state)
{
	lsm_commit_hooks bad = hooks;
	lsm_commit *c = NULL;

	(void)state;
	bad.apply = NULL;
	assert_int_equal(lsm_commit_start(&c, NULL, &bad, 0), STRATA_EINVAL);
	assert_null(c);
	assert_int_equal(lsm_commit_start(&c, NULL, &hooks, LSM_SEQ_MAX + 1), STRATA_EINVAL);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_commit_single_batch),
		T(test_commit_sequence_continues),
		T(test_commit_rejects_bad_batches),
		T(test_commit_no_sync_batches),
		T(test_commit_relaxed_defers_sync),
		T(test_commit_relaxed_idle_sync),
		T(test_commit_large_batch_alone),
		T(test_commit_min_bytes_wait_ends),
		T(test_commit_prepare_failure_not_sticky),
		T(test_commit_sync_failure_sticky),
		T(test_commit_write_failure_sticky),
		T(test_commit_apply_failure_sticky),
		T(test_commit_segment_switch),
		T(test_commit_shutdown_refuses),
		T(test_commit_run_between_groups),
		T(test_commit_run_then_relaxed_stop),
		T(test_commit_submitter_leads),
		T(test_commit_start_checks_hooks),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
