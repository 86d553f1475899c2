/*
 * test_commit_concurrent.c — group commit (lsm/commit.h) under many
 * submitting threads: every batch applied exactly once with contiguous
 * sequence numbers, the WAL holding exactly the applied batches, grouping,
 * a failed sync reaching every waiter, and shutdown/stop while threads are
 * submitting. Meant to run under ThreadSanitizer too.
 *
 * The hooks are fakes: prepare creates segments in a temp dir (and can be
 * held closed by a gate), apply records every batch and checks the sequence
 * numbers. They run on whichever submitting thread leads, one at a time:
 * every hook (and every lsm_commit_run call) checks that no other one is
 * running and that it runs on a thread that submits, since there is no
 * commit thread. The test reads what they recorded after the submitters
 * returned or after stop.
 */
#include "lsm/batch.h"
#include "lsm/commit.h"
#include "lsm/fault.h"
#include "lsm/record.h"
#include "lsm/status.h"
#include "lsm/wal.h"
#include "lsm/wal_io.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#define N_THREADS 8
#define TAG(t, i) ((uint64_t)(t) * 1000000u + (uint64_t)(i))

struct tags {
	uint64_t *v;
	size_t n, cap;
};

static void tags_push(struct tags *t, uint64_t v)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 1024;
		t->v = realloc(t->v, t->cap * sizeof(*t->v));
		assert_non_null(t->v);
	}
	t->v[t->n++] = v;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct fix {
	char dir[64];
	lsm_wal_io *io;
	lsm_wal *wal;
	uint64_t next_number;
	size_t switch_bytes;
	/* The gate: while closed, prepare waits. */
	pthread_mutex_t gate_mu;
	pthread_cond_t gate_cv;
	bool gate_closed;
	atomic_bool in_prepare;
	atomic_size_t prepare_bytes;
	/* What apply saw (the leading thread, one at a time). */
	uint64_t next_seq;
	bool seq_ok;
	atomic_int in_hook;        /* hooks and runs running now */
	atomic_bool hooks_overlap; /* two ever ran at once */
	atomic_bool foreign_hook;  /* a hook ran on a thread that does not submit */
	struct tags applied, applied_seq;
	int n_failed, failed_rc;
};

static struct fix fx;
/* Set on the threads that submit batches: the only ones that may lead a group. */
static _Thread_local bool tl_submitter;

static void hook_enter(struct fix *f)
{
	if (atomic_fetch_add(&f->in_hook, 1) != 0)
		atomic_store(&f->hooks_overlap, true);
	if (!tl_submitter)
		atomic_store(&f->foreign_hook, true);
}

static void hook_leave(struct fix *f)
{
	atomic_fetch_sub(&f->in_hook, 1);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(p);
}

static int prepare(void *ctx, size_t group_bytes, lsm_wal **out)
{
	struct fix *f = ctx;
	int rc;

	hook_enter(f);
	atomic_store(&f->prepare_bytes, group_bytes);
	atomic_store(&f->in_prepare, true);
	pthread_mutex_lock(&f->gate_mu);
	while (f->gate_closed)
		pthread_cond_wait(&f->gate_cv, &f->gate_mu);
	pthread_mutex_unlock(&f->gate_mu);
	atomic_store(&f->in_prepare, false);
	if (f->wal && f->switch_bytes && lsm_wal_size(f->wal) + group_bytes > f->switch_bytes) {
		rc = lsm_wal_sync(f->wal);
		if (rc)
			goto out;
		lsm_wal_close(f->wal);
		f->wal = NULL;
	}
	if (!f->wal) {
		rc = lsm_wal_create(&f->wal, f->dir, f->next_number, f->io);
		if (rc)
			goto out;
		f->next_number++;
	}
	*out = f->wal;
	rc = 0;
out:
	hook_leave(f);
	return rc;
}

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

	hook_enter(f);
	for (size_t i = 0; i < n; i++) {
		if (lsm_batch_seq(batches[i]) != f->next_seq)
			f->seq_ok = false;
		f->next_seq += lsm_batch_count(batches[i]);
		tags_push(&f->applied, batch_tag(batches[i]->data, batches[i]->len));
		tags_push(&f->applied_seq, lsm_batch_seq(batches[i]));
	}
	hook_leave(f);
	return 0;
}

static void failed(void *ctx, int rc)
{
	struct fix *f = ctx;

	hook_enter(f);
	f->n_failed++;
	f->failed_rc = rc;
	hook_leave(f);
}

static const lsm_commit_hooks hooks = { .ctx = &fx, .prepare = prepare, .apply = apply, .failed = failed };

static int setup_kind(enum lsm_io_kind kind)
{
	memset(&fx, 0, sizeof fx);
	strcpy(fx.dir, "/tmp/strata-test-XXXXXX");
	if (!mkdtemp(fx.dir))
		return -1;
	fx.next_number = 1;
	fx.seq_ok = true;
	fx.next_seq = 1;
	pthread_mutex_init(&fx.gate_mu, NULL);
	pthread_cond_init(&fx.gate_cv, NULL);
	atomic_init(&fx.in_hook, 0);
	atomic_init(&fx.hooks_overlap, false);
	atomic_init(&fx.foreign_hook, false);
	tl_submitter = true; /* the test's own thread submits too */
	lsm_fault_reset();
	return lsm_wal_io_new(&fx.io, kind);
}

static int setup(void **state)
{
	(void)state;
	return setup_kind(LSM_IO_AUTO);
}

static int teardown(void **state)
{
	(void)state;
	/* Whatever the test did, hooks never overlapped and ran only on submitting threads. */
	assert_false(atomic_load(&fx.hooks_overlap));
	assert_false(atomic_load(&fx.foreign_hook));
	lsm_fault_reset();
	lsm_wal_close(fx.wal);
	lsm_wal_io_free(fx.io);
	free(fx.applied.v);
	free(fx.applied_seq.v);
	pthread_cond_destroy(&fx.gate_cv);
	pthread_mutex_destroy(&fx.gate_mu);
	return nftw(fx.dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void open_gate(void)
{
	pthread_mutex_lock(&fx.gate_mu);
	fx.gate_closed = false;
	pthread_cond_broadcast(&fx.gate_cv);
	pthread_mutex_unlock(&fx.gate_mu);
}

static void make_batch(lsm_batch *b, uint64_t tag)
{
	uint8_t key[LSM_UKEY_LEN];
	char value[40];

	memset(value, 'x', sizeof value);
	lsm_batch_init(b);
	/* 2 entries of 16 + 1 + 40 bytes: 126 bytes with the header, like a small write. */
	for (int j = 0; j < 2; j++) {
		lsm_ukey_encode(key, tag, j);
		assert_int_equal(lsm_batch_put(b, key, value, sizeof value), 0);
	}
}

/* A submitting thread: up to n batches; stops at the first ECLOSED. */
struct worker {
	pthread_t thread;
	lsm_commit *c;
	int id;
	int n;
	int sync_mode;   /* 0 no sync, 1 sync, 2 alternate */
	bool go_on_after_error;
	/* results */
	struct tags ok;
	int n_ok, n_eio, n_readonly, n_closed, n_other;
	int last_rc;
	bool readonly_order_ok; /* after a failure, nothing but STRATA_EREADONLY */
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	bool failed_once = false;
	lsm_batch b;

	tl_submitter = true;
	w->readonly_order_ok = true;
	for (int i = 0; i < w->n; i++) {
		bool sync = w->sync_mode == 2 ? (i % 2 == 0) : w->sync_mode == 1;
		int rc;

		make_batch(&b, TAG(w->id, i));
		rc = lsm_commit_submit(w->c, &b, sync);
		lsm_batch_deinit(&b);
		w->last_rc = rc;
		if (rc == 0) {
			if (failed_once)
				w->readonly_order_ok = false;
			tags_push(&w->ok, TAG(w->id, i));
			w->n_ok++;
			continue;
		}
		if (failed_once && rc != STRATA_EREADONLY)
			w->readonly_order_ok = false;
		if (rc == -EIO)
			w->n_eio++;
		else if (rc == STRATA_EREADONLY)
			w->n_readonly++;
		else if (rc == STRATA_ECLOSED)
			w->n_closed++;
		else
			w->n_other++;
		if (rc == STRATA_ECLOSED)
			break;
		if (rc == -EIO || rc == STRATA_EREADONLY) {
			if (failed_once && !w->go_on_after_error)
				break;
			failed_once = true;
		}
	}
	return NULL;
}

static void run_workers(struct worker *ws, lsm_commit *c, int n, int sync_mode)
{
	for (int t = 0; t < N_THREADS; t++) {
		memset(&ws[t], 0, sizeof ws[t]);
		ws[t].c = c;
		ws[t].id = t;
		ws[t].n = n;
		ws[t].sync_mode = sync_mode;
		assert_int_equal(pthread_create(&ws[t].thread, NULL, worker_main, &ws[t]), 0);
	}
}

static void join_workers(struct worker *ws)
{
	for (int t = 0; t < N_THREADS; t++)
		pthread_join(ws[t].thread, NULL);
}

static void free_workers(struct worker *ws)
{
	for (int t = 0; t < N_THREADS; t++)
		free(ws[t].ok.v);
}

/* The batches acknowledged with 0 are exactly the batches applied, each once. */
static void assert_ok_equals_applied(struct worker *ws)
{
	struct tags all = { 0 };
	uint64_t *applied;

	for (int t = 0; t < N_THREADS; t++)
		for (size_t i = 0; i < ws[t].ok.n; i++)
			tags_push(&all, ws[t].ok.v[i]);
	assert_int_equal(all.n, fx.applied.n);
	applied = malloc((fx.applied.n + 1) * sizeof(*applied));
	memcpy(applied, fx.applied.v, fx.applied.n * sizeof(*applied));
	qsort(applied, fx.applied.n, sizeof(*applied), cmp_u64);
	qsort(all.v, all.n, sizeof(*all.v), cmp_u64);
	for (size_t i = 0; i < all.n; i++) {
		assert_int_equal(all.v[i], applied[i]);
		if (i > 0)
			assert_true(applied[i] != applied[i - 1]);
	}
	free(applied);
	free(all.v);
	/* Within a thread, batches were applied in submission order. */
	for (int t = 0; t < N_THREADS; t++) {
		uint64_t last = 0;
		bool first = true;

		for (size_t i = 0; i < fx.applied.n; i++) {
			uint64_t tag = fx.applied.v[i];

			if (tag / 1000000u != (uint64_t)t)
				continue;
			assert_true(first || tag > last);
			last = tag;
			first = false;
		}
	}
}

struct replayed {
	struct tags tags, seqs;
};

static int replay_fn(void *ctx, const uint8_t *batch, size_t len)
{
	struct replayed *r = ctx;
	lsm_batch_reader br;

	assert_int_equal(lsm_batch_reader_init(&br, batch, len), 0);
	tags_push(&r->tags, batch_tag(batch, len));
	tags_push(&r->seqs, br.seq);
	return 0;
}

/* The WAL holds the applied batches in order, then at most max_extra more. */
static void assert_wal_matches_applied(size_t max_extra)
{
	struct replayed r = { 0 };
	char path[4096];

	for (uint64_t no = 1; no < fx.next_number; no++) {
		lsm_wal_replay_result res;

		lsm_wal_path(path, sizeof path, fx.dir, no);
		assert_int_equal(lsm_wal_replay(path, false, replay_fn, &r, &res), 0);
		assert_false(res.torn);
	}
	assert_true(r.tags.n >= fx.applied.n);
	assert_true(r.tags.n - fx.applied.n <= max_extra);
	for (size_t i = 0; i < fx.applied.n; i++) {
		assert_int_equal(r.tags.v[i], fx.applied.v[i]);
		assert_int_equal(r.seqs.v[i], fx.applied_seq.v[i]);
	}
	free(r.tags.v);
	free(r.seqs.v);
}

static void print_stats(const char *what, const lsm_commit_stats *st)
{
	print_message("%s: %llu batches in %llu groups (%.2f per group, largest %llu), %llu syncs\n", what,
		      (unsigned long long)st->batches, (unsigned long long)st->groups,
		      st->groups ? (double)st->batches / (double)st->groups : 0.0,
		      (unsigned long long)st->max_group_batches, (unsigned long long)st->syncs);
}

static void many_threads_sync(const char *name)
{
	struct worker ws[N_THREADS];
	lsm_commit_stats st;
	lsm_commit *c;
	const int n = 300;

	assert_int_equal(lsm_commit_start(&c, NULL, &hooks, 0), 0);
	run_workers(ws, c, n, 1);
	join_workers(ws);
	for (int t = 0; t < N_THREADS; t++) {
		assert_int_equal(ws[t].n_ok, n);
		assert_int_equal(ws[t].last_rc, 0);
	}
	assert_int_equal(lsm_commit_visible_seq(c), (uint64_t)N_THREADS * n * 2);
	lsm_commit_get_stats(c, &st);
	assert_int_equal(st.batches, (uint64_t)N_THREADS * n);
	assert_true(st.groups <= st.batches);
	/* Every group here had a sync batch: one sync per group. */
	assert_int_equal(st.syncs, st.groups);
	print_stats(name, &st);
	lsm_commit_stop(c);
	assert_true(fx.seq_ok);
	assert_ok_equals_applied(ws);
	assert_wal_matches_applied(0);
	free_workers(ws);
}

static void test_commit_concurrent_sync_io_uring(void **state)
{
	(void)state;
	teardown(NULL);
	if (setup_kind(LSM_IO_URING) != 0) {
		print_message("io_uring cannot be set up here: skipping\n");
		skip();
	}
	many_threads_sync("io_uring, 8 threads, sync");
}

static void test_commit_concurrent_sync_pwrite(void **state)
{
	(void)state;
	teardown(NULL);
	assert_int_equal(setup_kind(LSM_IO_PWRITE), 0);
	many_threads_sync("pwrite, 8 threads, sync");
}

/* Relaxed mode, mixed sync flags, segments switching under load. */
static void test_commit_concurrent_relaxed_mixed(void **state)
{
	struct worker ws[N_THREADS];
	lsm_commit_options opt;
	lsm_commit_stats st;
	lsm_commit *c;
	const int n = 300;

	(void)state;
	lsm_commit_options_default(&opt);
	opt.relaxed = true;
	opt.relaxed_sync_ms = 2;
	fx.switch_bytes = 64 << 10;
	assert_int_equal(lsm_commit_start(&c, &opt, &hooks, 0), 0);
	run_workers(ws, c, n, 2);
	join_workers(ws);
	for (int t = 0; t < N_THREADS; t++)
		assert_int_equal(ws[t].n_ok, n);
	lsm_commit_get_stats(c, &st);
	assert_true(st.syncs <= st.groups + 1);
	print_stats("relaxed 2 ms, 8 threads, mixed", &st);
	lsm_commit_stop(c);
	assert_true(fx.next_number > 2);
	assert_true(fx.seq_ok);
	assert_ok_equals_applied(ws);
	assert_wal_matches_applied(0);
	free_workers(ws);
}

/* Without sync batches and outside relaxed mode, no sync at all, however many threads. */
static void test_commit_concurrent_no_sync(void **state)
{
	struct worker ws[N_THREADS];
	lsm_commit_stats st;
	lsm_commit *c;

	(void)state;
	assert_int_equal(lsm_commit_start(&c, NULL, &hooks, 0), 0);
	run_workers(ws, c, 200, 0);
	join_workers(ws);
	lsm_commit_get_stats(c, &st);
	assert_int_equal(st.batches, N_THREADS * 200);
	assert_int_equal(st.syncs, 0);
	print_stats("no sync, 8 threads", &st);
	lsm_commit_stop(c);
	assert_ok_equals_applied(ws);
	assert_wal_matches_applied(0);
	free_workers(ws);
}

/*
 * With a minimum group size of 8 batches, 8 threads submitting one batch
 * each make one group. The wait is long (30 s) so that it is the byte count
 * that ends it; the test does not measure time.
 */
static void test_commit_concurrent_min_bytes_groups(void **state)
{
	struct worker ws[N_THREADS];
	lsm_commit_options opt;
	lsm_commit_stats st;
	lsm_commit *c;
	lsm_batch b;

	(void)state;
	make_batch(&b, 0);
	lsm_commit_options_default(&opt);
	opt.group_min_bytes = N_THREADS * (LSM_RECORD_HEADER_LEN + b.len);
	opt.group_wait_us = 30u * 1000 * 1000;
	lsm_batch_deinit(&b);
	assert_int_equal(lsm_commit_start(&c, &opt, &hooks, 0), 0);
	run_workers(ws, c, 1, 1);
	join_workers(ws);
	lsm_commit_get_stats(c, &st);
	assert_int_equal(st.batches, N_THREADS);
	assert_int_equal(st.groups, 1);
	assert_int_equal(st.max_group_batches, N_THREADS);
	assert_int_equal(st.syncs, 1);
	lsm_commit_stop(c);
	assert_ok_equals_applied(ws);
	free_workers(ws);
}

/*
 * A sync fails while 8 threads submit: the group gets -EIO, the failed hook
 * runs once, every later submit gets STRATA_EREADONLY, and what was
 * acknowledged is exactly what was applied.
 */
static void test_commit_concurrent_sync_failure(void **state)
{
	struct worker ws[N_THREADS];
	lsm_commit *c;
	int eio = 0;

	(void)state;
	/* The segment's creation is sync 1; fail sync 20. */
	lsm_fault_arm(LSM_FAULT_WAL_SYNC, 19, EIO, false);
	assert_int_equal(lsm_commit_start(&c, NULL, &hooks, 0), 0);
	for (int t = 0; t < N_THREADS; t++) {
		memset(&ws[t], 0, sizeof ws[t]);
		ws[t].c = c;
		ws[t].id = t;
		ws[t].n = 400;
		ws[t].sync_mode = 1;
		ws[t].go_on_after_error = false;
		assert_int_equal(pthread_create(&ws[t].thread, NULL, worker_main, &ws[t]), 0);
	}
	join_workers(ws);
	for (int t = 0; t < N_THREADS; t++) {
		assert_true(ws[t].readonly_order_ok);
		assert_int_equal(ws[t].n_other, 0);
		assert_int_equal(ws[t].n_closed, 0);
		/* Each thread met the failure (-EIO or read-only) and then read-only. */
		assert_true(ws[t].n_eio + ws[t].n_readonly == 2 || ws[t].n_ok == 400);
		eio += ws[t].n_eio;
	}
	assert_true(eio >= 1);
	assert_int_equal(fx.n_failed, 1);
	assert_int_equal(fx.failed_rc, -EIO);
	assert_int_equal(lsm_commit_error(c), -EIO);
	{
		lsm_batch b;

		make_batch(&b, TAG(99, 0));
		assert_int_equal(lsm_commit_submit(c, &b, false), STRATA_EREADONLY);
		lsm_batch_deinit(&b);
	}
	lsm_commit_stop(c);
	assert_int_equal(fx.n_failed, 1);
	assert_true(fx.seq_ok);
	assert_ok_equals_applied(ws);
	/* The failed group reached the file before its sync failed: at most the -EIO batches follow. */
	assert_wal_matches_applied((size_t)eio);
	free_workers(ws);
}

/* Shutdown while 8 threads submit in a loop: each ends with STRATA_ECLOSED, none hangs. */
static void test_commit_concurrent_shutdown(void **state)
{
	struct worker ws[N_THREADS];
	lsm_commit *c;

	(void)state;
	assert_int_equal(lsm_commit_start(&c, NULL, &hooks, 0), 0);
	run_workers(ws, c, 1000000, 2);
	/* Let them get going (bounded: 20 s). */
	for (int i = 0; i < 2000 && lsm_commit_visible_seq(c) < 400; i++)
		usleep(10000);
	lsm_commit_shutdown(c);
	join_workers(ws);
	for (int t = 0; t < N_THREADS; t++) {
		assert_int_equal(ws[t].last_rc, STRATA_ECLOSED);
		assert_int_equal(ws[t].n_closed, 1);
		assert_int_equal(ws[t].n_other + ws[t].n_eio + ws[t].n_readonly, 0);
	}
	lsm_commit_stop(c);
	assert_true(fx.seq_ok);
	assert_ok_equals_applied(ws);
	assert_wal_matches_applied(0);
	free_workers(ws);
}

static int run_switch_segment(void *ctx)
{
	struct fix *f = ctx;
	int rc = 0;

	hook_enter(f);
	if (f->wal) {
		rc = lsm_wal_sync(f->wal);
		lsm_wal_close(f->wal);
		f->wal = NULL;
	}
	hook_leave(f);
	return rc;
}

/*
 * lsm_commit_run from another thread while 8 threads submit, in relaxed
 * mode: each run closes the current segment; every batch still lands once,
 * in order, in the segments.
 */
static void test_commit_concurrent_run_switches_segments(void **state)
{
	struct worker ws[N_THREADS];
	lsm_commit_options opt;
	lsm_commit *c;
	int runs = 0;

	(void)state;
	lsm_commit_options_default(&opt);
	opt.relaxed = true;
	opt.relaxed_sync_ms = 1;
	assert_int_equal(lsm_commit_start(&c, &opt, &hooks, 0), 0);
	run_workers(ws, c, 200, 2);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(lsm_commit_run(c, run_switch_segment, &fx), 0);
		runs++;
		usleep(1000);
	}
	join_workers(ws);
	for (int t = 0; t < N_THREADS; t++)
		assert_int_equal(ws[t].n_ok, 200);
	lsm_commit_stop(c);
	print_message("%d runs, %llu segments\n", runs, (unsigned long long)fx.next_number - 1);
	assert_true(fx.next_number > 2);
	assert_true(fx.seq_ok);
	assert_int_equal(fx.n_failed, 0);
	assert_ok_equals_applied(ws);
	assert_wal_matches_applied(0);
	free_workers(ws);
}

static void *stopper_main(void *arg)
{
	lsm_commit_stop(arg);
	return NULL;
}

/*
 * Stop with submitters queued behind a group that cannot be written yet
 * (prepare held by the gate): they are still committed, a late submit gets
 * STRATA_ECLOSED, and stop returns once the queue is drained.
 */
static void test_commit_concurrent_stop_drains_queue(void **state)
{
	struct worker ws[N_THREADS];
	lsm_commit_stats st = { 0 };
	pthread_t stopper;
	size_t rec_bytes;
	lsm_commit *c;
	lsm_batch b;
	int i;

	(void)state;
	make_batch(&b, TAG(99, 0));
	rec_bytes = LSM_RECORD_HEADER_LEN + b.len;
	fx.gate_closed = true;
	assert_int_equal(lsm_commit_start(&c, NULL, &hooks, 0), 0);
	run_workers(ws, c, 1, 1);
	/* Wait (bounded: 20 s) until every worker is inside submit: in the held group or queued. */
	for (i = 0; i < 2000; i++) {
		lsm_commit_get_stats(c, &st);
		if (atomic_load(&fx.in_prepare) &&
		    st.queued_batches + atomic_load(&fx.prepare_bytes) / rec_bytes == N_THREADS)
			break;
		usleep(10000);
	}
	assert_true(i < 2000);
	lsm_commit_shutdown(c);
	assert_int_equal(lsm_commit_submit(c, &b, true), STRATA_ECLOSED);
	lsm_batch_deinit(&b);
	assert_int_equal(pthread_create(&stopper, NULL, stopper_main, c), 0);
	open_gate();
	pthread_join(stopper, NULL);
	join_workers(ws);
	for (int t = 0; t < N_THREADS; t++)
		assert_int_equal(ws[t].last_rc, 0);
	assert_int_equal(fx.applied.n, N_THREADS);
	assert_true(fx.seq_ok);
	assert_ok_equals_applied(ws);
	assert_wal_matches_applied(0);
	free_workers(ws);
}

static int run_answer(void *ctx)
{
	struct fix *f = ctx;

	hook_enter(f);
	hook_leave(f);
	return 42;
}

struct runner {
	pthread_t thread;
	lsm_commit *c;
	int rc;
};

static void *runner_main(void *arg)
{
	struct runner *r = arg;

	tl_submitter = true;
	r->rc = lsm_commit_run(r->c, run_answer, &fx);
	return NULL;
}

/*
 * A write fails while batches and a lsm_commit_run call wait behind the
 * failing group (held in prepare by the gate): the batches get the error
 * (-EIO, or STRATA_EREADONLY for those that came after it), the failed hook
 * runs once, and the call still runs and returns its result.
 */
static void test_commit_concurrent_failure_keeps_queued_runs(void **state)
{
	struct worker ws[N_THREADS];
	lsm_commit_stats st = { 0 };
	struct runner r = { 0 };
	size_t rec_bytes;
	lsm_commit *c;
	lsm_batch b;
	int i, eio = 0;

	(void)state;
	make_batch(&b, TAG(99, 0));
	rec_bytes = LSM_RECORD_HEADER_LEN + b.len;
	assert_int_equal(lsm_commit_start(&c, NULL, &hooks, 0), 0);
	/* The first batch creates the segment, so that the armed fault hits a group's write. */
	assert_int_equal(lsm_commit_submit(c, &b, true), 0);
	lsm_batch_deinit(&b);
	fx.gate_closed = true;
	lsm_fault_arm(LSM_FAULT_WAL_WRITE, 0, EIO, false);
	run_workers(ws, c, 1, 1);
	/* Wait (bounded: 20 s) until every worker is inside submit: in the held group or queued. */
	for (i = 0; i < 2000; i++) {
		lsm_commit_get_stats(c, &st);
		if (atomic_load(&fx.in_prepare) &&
		    st.queued_batches + atomic_load(&fx.prepare_bytes) / rec_bytes == N_THREADS)
			break;
		usleep(10000);
	}
	assert_true(i < 2000);
	r.c = c;
	assert_int_equal(pthread_create(&r.thread, NULL, runner_main, &r), 0);
	/* Give the call time to queue; the assertions hold whether it did or not. */
	usleep(50000);
	open_gate();
	pthread_join(r.thread, NULL);
	join_workers(ws);
	assert_int_equal(r.rc, 42);
	for (int t = 0; t < N_THREADS; t++) {
		assert_int_equal(ws[t].n_ok, 0);
		assert_true(ws[t].last_rc == -EIO || ws[t].last_rc == STRATA_EREADONLY);
		eio += ws[t].n_eio;
	}
	/* The held group and the batches queued behind it at the failure: all of them here. */
	assert_int_equal(eio, N_THREADS);
	assert_int_equal(fx.n_failed, 1);
	assert_int_equal(lsm_commit_error(c), -EIO);
	lsm_commit_get_stats(c, &st);
	assert_int_equal(st.queued_batches, 0);
	lsm_commit_stop(c);
	assert_int_equal(fx.applied.n, 1);
	assert_wal_matches_applied(0);
	free_workers(ws);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_commit_concurrent_sync_io_uring),
		T(test_commit_concurrent_sync_pwrite),
		T(test_commit_concurrent_relaxed_mixed),
		T(test_commit_concurrent_no_sync),
		T(test_commit_concurrent_min_bytes_groups),
		T(test_commit_concurrent_sync_failure),
		T(test_commit_concurrent_shutdown),
		T(test_commit_concurrent_stop_drains_queue),
		T(test_commit_concurrent_run_switches_segments),
		T(test_commit_concurrent_failure_keeps_queued_runs),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
