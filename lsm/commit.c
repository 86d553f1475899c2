/*
 * commit.c — group commit (commit.h): many submitting threads, one commit
 * thread, one write (and at most one fdatasync) per group.
 *
 * A submitter puts a waiter — on its own stack: the batch, its sync flag, a
 * done flag, the result and its own condition variable — at the tail of the
 * queue and sleeps on that condition variable. Each waiter has its own so
 * that finishing a group wakes exactly its submitters, not every thread
 * waiting for a later group.
 *
 * The commit thread loops: take the queue (up to group_max_bytes; a larger
 * single batch goes alone), ask the prepare hook for the segment, stamp
 * sequence numbers, frame every batch as one LSM_REC_BATCH record into one
 * reusable buffer, append it with one lsm_wal_append (synced when any batch
 * asked for it, outside relaxed mode), apply the group through the hook,
 * publish visible_seq, and wake the group. While it writes and syncs, new
 * submissions queue up and become the next group: no timer is involved, and
 * the disk is never idle while batches wait. With group_min_bytes and
 * group_wait_us set, the thread waits for that many bytes or for the oldest
 * batch to have waited that long.
 *
 * Relaxed mode appends without syncing and syncs when relaxed_sync_ms have
 * passed since the last sync: as part of a group's write, or, when idle, on
 * a timed wait that ends at the deadline.
 *
 * lsm_commit_run queues a call that the commit thread makes between two
 * groups (the engine switches memtables and segments that way); the thread
 * drops its reference to the current segment afterwards, since the call may
 * have closed it.
 *
 * A failed write, sync or apply is sticky: c->err is set, the failed hook
 * runs once (before any submitter learns of the failure), the group and every
 * queued submitter get the error, and later submits get STRATA_EREADONLY. A
 * failed prepare fails its group only. Nothing is ever retried.
 *
 * Threads and locks:
 *   mu guards the queue (head, tail, queued_bytes, n_queued), the run
 *   requests (runs, runs_tail), stopping,
 *   thread_waiting, n_inside, stats, and every waiter's done and rc.
 *   err and visible_seq are atomics: written by the commit thread (err under
 *   mu), read by anyone.
 *   last_seq, wal, unsynced, last_sync_ns, the frame buffer and the batch
 *   array belong to the commit thread alone.
 *   No lock is held across I/O or while a hook runs.
 *   submit, run: any thread. visible_seq, error, stats, shutdown: any thread.
 *   stop: one thread, once, after which no submit may start.
 */
#include "lsm/commit.h"
#include "lsm/alloc.h"
#include "lsm/log.h"
#include "lsm/record.h"
#include "lsm/status.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DEFAULT_GROUP_MAX (1u << 20)
#define DEFAULT_RELAXED_SYNC_MS 100

struct waiter {
	lsm_batch *b;
	struct waiter *next;
	size_t rec_bytes;    /* framed size: record header + batch */
	uint64_t enqueue_ns; /* only with group_min_bytes */
	pthread_cond_t cv;
	int rc;
	bool sync;
	bool done;
	char msg[192];       /* on failure: the commit thread's message */
};

/* A call waiting to run on the commit thread (lsm_commit_run), on the caller's stack. */
struct run_req {
	int (*fn)(void *ctx);
	void *ctx;
	struct run_req *next;
	pthread_cond_t cv;
	int rc;
	bool done;
};

struct lsm_commit {
	lsm_commit_options opt;
	lsm_commit_hooks hooks;
	pthread_t thread;

	pthread_mutex_t mu;
	pthread_cond_t queue_cv; /* the commit thread waits here (CLOCK_MONOTONIC) */
	pthread_cond_t idle_cv;  /* stop waits here for submitters to leave */
	struct waiter *head, *tail;
	size_t queued_bytes;
	size_t n_queued;
	struct run_req *runs, *runs_tail;
	bool stopping;
	bool thread_waiting;
	unsigned n_inside;
	lsm_commit_stats stats;

	atomic_int err;
	atomic_uint_least64_t visible_seq;

	/* Commit thread only. */
	uint64_t last_seq;
	lsm_wal *wal;
	bool unsynced;
	uint64_t last_sync_ns;
	uint8_t *buf;
	size_t buf_cap;
	lsm_batch **batches;
	size_t batches_cap;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void timed_wait(lsm_commit *c, uint64_t deadline_ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline_ns / 1000000000u),
		.tv_nsec = (long)(deadline_ns % 1000000000u),
	};

	c->thread_waiting = true;
	pthread_cond_timedwait(&c->queue_cv, &c->mu, &ts);
	c->thread_waiting = false;
}

void lsm_commit_options_default(lsm_commit_options *out)
{
	out->group_max_bytes = DEFAULT_GROUP_MAX;
	out->group_min_bytes = 0;
	out->group_wait_us = 0;
	out->relaxed = false;
	out->relaxed_sync_ms = DEFAULT_RELAXED_SYNC_MS;
}

/*
 * Wakes the waiters of a finished list with rc and, on failure, the message
 * (strata_last_error() of the commit thread, where it was recorded). Under mu.
 */
static void wake_list(struct waiter *w, int rc, const char *msg)
{
	while (w) {
		struct waiter *next = w->next;

		if (rc)
			snprintf(w->msg, sizeof w->msg, "%s", msg);
		w->rc = rc;
		w->done = true;
		pthread_cond_signal(&w->cv);
		w = next;
	}
}

/* The message for a failed group: what the failing call recorded, else the code's description. */
static void failure_message(char *out, size_t out_len, int rc)
{
	const char *m = strata_last_error();

	/* strata_error_clear() ran before the group: an unchanged thread message means none was recorded. */
	if (strcmp(m, "no error recorded") == 0)
		m = strata_strerror(rc);
	snprintf(out, out_len, "%s", m);
}

/*
 * The first sticky failure: runs the failed hook (without mu), then, under
 * mu, records it and fails everything queued. Called by the commit thread
 * without mu.
 */
static void fail_sticky(lsm_commit *c, int rc, const char *msg)
{
	struct waiter *queued;

	if (atomic_load(&c->err) == 0) {
		LOG_ERROR("wal group commit failed, writes refused until reopened error=\"%s\"", msg);
		pthread_mutex_lock(&c->mu);
		atomic_store(&c->err, rc);
		pthread_mutex_unlock(&c->mu);
		if (c->hooks.failed)
			c->hooks.failed(c->hooks.ctx, rc);
	}
	pthread_mutex_lock(&c->mu);
	queued = c->head;
	c->head = c->tail = NULL;
	c->queued_bytes = 0;
	c->n_queued = 0;
	wake_list(queued, rc, msg);
	pthread_mutex_unlock(&c->mu);
}

/* Detaches the next group from the queue. Under mu. */
static struct waiter *take_group(lsm_commit *c, size_t *n_out, size_t *bytes_out)
{
	struct waiter *group = c->head, *last = NULL, *w = c->head;
	size_t n = 0, bytes = 0;

	while (w && (n == 0 || bytes + w->rec_bytes <= c->opt.group_max_bytes)) {
		bytes += w->rec_bytes;
		n++;
		last = w;
		w = w->next;
	}
	last->next = NULL;
	c->head = w;
	if (!w)
		c->tail = NULL;
	c->queued_bytes -= bytes;
	c->n_queued -= n;
	*n_out = n;
	*bytes_out = bytes;
	return group;
}

static int reserve(lsm_commit *c, size_t n, size_t bytes)
{
	if (bytes > c->buf_cap) {
		uint8_t *grown = strata_realloc(c->buf, bytes);

		if (!grown)
			return -ENOMEM;
		c->buf = grown;
		c->buf_cap = bytes;
	}
	if (n > c->batches_cap) {
		size_t cap = c->batches_cap ? c->batches_cap * 2 : 64;
		lsm_batch **grown;

		while (cap < n)
			cap *= 2;
		grown = strata_realloc(c->batches, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		c->batches = grown;
		c->batches_cap = cap;
	}
	return 0;
}

/* What one group did, for the stats. */
struct group_result {
	bool synced;
	uint64_t io_ns;
};

/*
 * Writes, syncs and applies one group, without mu. Returns 0 or the group's
 * error; *sticky says whether the error is the engine's too.
 */
static int commit_group(lsm_commit *c, struct waiter *group, size_t n, size_t bytes,
			struct group_result *res, bool *sticky)
{
	uint64_t next_seq = c->last_seq + 1, total = 0, t0;
	bool any_sync = false, need_sync;
	lsm_wal *wal = NULL;
	uint8_t *p;
	size_t i = 0;
	int rc;

	*sticky = false;
	rc = reserve(c, n, bytes);
	if (rc)
		return strata_error(rc, "wal group commit: no memory for a group of %zu bytes", bytes);
	for (struct waiter *w = group; w; w = w->next) {
		total += lsm_batch_count(w->b);
		any_sync |= w->sync;
	}
	if (total > LSM_SEQ_MAX - c->last_seq) {
		*sticky = true;
		return strata_error(STRATA_ETOOBIG, "wal group commit: sequence numbers exhausted at %" PRIu64,
				    c->last_seq);
	}
	rc = c->hooks.prepare(c->hooks.ctx, bytes, &wal);
	if (rc)
		return rc;
	if (!wal)
		return strata_error(STRATA_EINVAL, "wal group commit: prepare hook returned no segment");
	if (wal != c->wal) {
		/* The hook synced whatever it retired (commit.h). */
		c->wal = wal;
		c->unsynced = false;
	}
	p = c->buf;
	for (struct waiter *w = group; w; w = w->next) {
		lsm_batch *b = w->b;

		lsm_batch_set_seq(b, next_seq);
		next_seq += lsm_batch_count(b);
		lsm_record_header(p, LSM_REC_BATCH, b->data, b->len);
		memcpy(p + LSM_RECORD_HEADER_LEN, b->data, b->len);
		p += LSM_RECORD_HEADER_LEN + b->len;
		c->batches[i++] = b;
	}
	t0 = now_ns();
	if (c->opt.relaxed)
		need_sync = t0 - c->last_sync_ns >= (uint64_t)c->opt.relaxed_sync_ms * 1000000u;
	else
		need_sync = any_sync;
	rc = lsm_wal_append(wal, c->buf, bytes, need_sync);
	res->io_ns = now_ns() - t0;
	if (rc) {
		*sticky = true;
		return rc;
	}
	res->synced = need_sync;
	if (need_sync) {
		c->last_sync_ns = t0 + res->io_ns;
		c->unsynced = false;
	} else {
		c->unsynced = true;
	}
	rc = c->hooks.apply(c->hooks.ctx, c->batches, n);
	if (rc) {
		*sticky = true;
		return rc;
	}
	c->last_seq = next_seq - 1;
	atomic_store_explicit(&c->visible_seq, c->last_seq, memory_order_release);
	/* A batch far over the cap grew the buffer: give that memory back. */
	if (c->buf_cap > 4 * c->opt.group_max_bytes && bytes <= c->opt.group_max_bytes) {
		strata_free(c->buf);
		c->buf = NULL;
		c->buf_cap = 0;
	}
	return 0;
}

/* A sync of the current segment outside a group (relaxed idle, stop). Without mu. */
static void sync_unsynced(lsm_commit *c)
{
	uint64_t t0 = now_ns(), dt;
	char msg[192];
	int rc;

	strata_error_clear();
	rc = lsm_wal_sync(c->wal);
	dt = now_ns() - t0;
	if (rc) {
		failure_message(msg, sizeof msg, rc);
		fail_sticky(c, rc, msg);
		return;
	}
	c->unsynced = false;
	c->last_sync_ns = t0 + dt;
	pthread_mutex_lock(&c->mu);
	c->stats.syncs++;
	c->stats.sync_ns_total += dt;
	pthread_mutex_unlock(&c->mu);
}

/*
 * Runs the oldest lsm_commit_run request, between two groups. Called and
 * returns with mu held. fn may retire the current segment (a memtable
 * switch closes it, after syncing what it holds), so the thread forgets it:
 * the next prepare names the segment to use.
 */
static void run_one(lsm_commit *c)
{
	struct run_req *r = c->runs;
	int rc;

	c->runs = r->next;
	if (!c->runs)
		c->runs_tail = NULL;
	pthread_mutex_unlock(&c->mu);
	rc = r->fn(r->ctx);
	c->wal = NULL;
	c->unsynced = false;
	pthread_mutex_lock(&c->mu);
	r->rc = rc;
	r->done = true;
	pthread_cond_signal(&r->cv);
}

static void *commit_main(void *arg)
{
	lsm_commit *c = arg;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		struct group_result res = { 0 };
		char msg[192];
		struct waiter *group;
		size_t n, bytes;
		bool sticky;
		int rc;

		if (c->runs) {
			run_one(c);
			continue;
		}
		if (!c->head) {
			if (c->stopping)
				break;
			if (c->opt.relaxed && c->unsynced && atomic_load(&c->err) == 0) {
				uint64_t deadline = c->last_sync_ns + (uint64_t)c->opt.relaxed_sync_ms * 1000000u;

				if (now_ns() >= deadline) {
					pthread_mutex_unlock(&c->mu);
					sync_unsynced(c);
					pthread_mutex_lock(&c->mu);
				} else {
					timed_wait(c, deadline);
				}
				continue;
			}
			c->thread_waiting = true;
			pthread_cond_wait(&c->queue_cv, &c->mu);
			c->thread_waiting = false;
			continue;
		}
		if (c->opt.group_min_bytes && c->queued_bytes < c->opt.group_min_bytes && !c->stopping) {
			uint64_t deadline = c->head->enqueue_ns + (uint64_t)c->opt.group_wait_us * 1000u;

			if (now_ns() < deadline) {
				timed_wait(c, deadline);
				continue;
			}
		}
		group = take_group(c, &n, &bytes);
		pthread_mutex_unlock(&c->mu);

		strata_error_clear();
		rc = commit_group(c, group, n, bytes, &res, &sticky);
		if (rc)
			failure_message(msg, sizeof msg, rc);
		if (rc && sticky)
			fail_sticky(c, rc, msg);

		pthread_mutex_lock(&c->mu);
		if (rc == 0) {
			c->stats.groups++;
			c->stats.batches += n;
			c->stats.bytes += bytes;
			c->stats.syncs += res.synced;
			c->stats.sync_ns_total += res.io_ns;
			if (n > c->stats.max_group_batches)
				c->stats.max_group_batches = n;
		}
		wake_list(group, rc, msg);
	}
	if (c->unsynced && c->wal && atomic_load(&c->err) == 0) {
		pthread_mutex_unlock(&c->mu);
		sync_unsynced(c);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int lsm_commit_start(lsm_commit **out, const lsm_commit_options *opt,
		     const lsm_commit_hooks *hooks, uint64_t last_seq)
{
	pthread_condattr_t attr;
	lsm_commit *c;
	int rc;

	*out = NULL;
	if (!hooks || !hooks->prepare || !hooks->apply)
		return strata_error(STRATA_EINVAL, "wal group commit: prepare and apply hooks are required");
	if (last_seq > LSM_SEQ_MAX)
		return strata_error(STRATA_EINVAL, "wal group commit: last sequence %" PRIu64 " over the limit", last_seq);
	c = strata_calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (opt)
		c->opt = *opt;
	else
		lsm_commit_options_default(&c->opt);
	if (c->opt.group_max_bytes == 0)
		c->opt.group_max_bytes = DEFAULT_GROUP_MAX;
	c->hooks = *hooks;
	c->last_seq = last_seq;
	atomic_init(&c->visible_seq, last_seq);
	atomic_init(&c->err, 0);
	c->last_sync_ns = now_ns();
	pthread_mutex_init(&c->mu, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->queue_cv, &attr);
	pthread_condattr_destroy(&attr);
	pthread_cond_init(&c->idle_cv, NULL);
	rc = pthread_create(&c->thread, NULL, commit_main, c);
	if (rc) {
		pthread_cond_destroy(&c->idle_cv);
		pthread_cond_destroy(&c->queue_cv);
		pthread_mutex_destroy(&c->mu);
		strata_free(c);
		return strata_error(-rc, "wal group commit: starting the commit thread: %s", strerror(rc));
	}
	pthread_setname_np(c->thread, "strata-commit");
	*out = c;
	return 0;
}

int lsm_commit_submit(lsm_commit *c, lsm_batch *b, bool sync)
{
	struct waiter w = { .b = b, .sync = sync };
	int rc;

	if (!b || lsm_batch_count(b) == 0 || !b->data)
		return strata_error(STRATA_EINVAL, "wal group commit: empty write batch");
	if (b->len > LSM_RECORD_MAX)
		return strata_error(STRATA_ETOOBIG, "wal group commit: batch of %zu bytes over the %u byte record limit",
				    b->len, LSM_RECORD_MAX);
	w.rec_bytes = LSM_RECORD_HEADER_LEN + b->len;
	if (c->opt.group_min_bytes)
		w.enqueue_ns = now_ns();
	pthread_mutex_lock(&c->mu);
	c->n_inside++;
	if (c->stopping) {
		rc = strata_error(STRATA_ECLOSED, "wal group commit is stopping");
		goto out;
	}
	if (atomic_load(&c->err)) {
		rc = strata_error(STRATA_EREADONLY, "wal group commit: an earlier write failed (%s)",
				  strata_strerror(atomic_load(&c->err)));
		goto out;
	}
	pthread_cond_init(&w.cv, NULL);
	if (c->tail)
		c->tail->next = &w;
	else
		c->head = &w;
	c->tail = &w;
	c->queued_bytes += w.rec_bytes;
	c->n_queued++;
	/*
	 * Wake the thread only when it waits for this: for any work when the
	 * queue was empty, for enough bytes when a minimum is set.
	 */
	if (c->thread_waiting && (c->head == &w ||
				  (c->opt.group_min_bytes && c->queued_bytes >= c->opt.group_min_bytes)))
		pthread_cond_signal(&c->queue_cv);
	while (!w.done)
		pthread_cond_wait(&w.cv, &c->mu);
	rc = w.rc;
	pthread_cond_destroy(&w.cv);
	if (rc)
		strata_error(rc, "%s", w.msg);
out:
	if (--c->n_inside == 0 && c->stopping)
		pthread_cond_signal(&c->idle_cv);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int lsm_commit_run(lsm_commit *c, int (*fn)(void *ctx), void *ctx)
{
	struct run_req r = { .fn = fn, .ctx = ctx };
	int rc;

	pthread_mutex_lock(&c->mu);
	c->n_inside++;
	if (c->stopping) {
		rc = strata_error(STRATA_ECLOSED, "wal group commit is stopping");
		goto out;
	}
	pthread_cond_init(&r.cv, NULL);
	if (c->runs_tail)
		c->runs_tail->next = &r;
	else
		c->runs = &r;
	c->runs_tail = &r;
	if (c->thread_waiting)
		pthread_cond_signal(&c->queue_cv);
	while (!r.done)
		pthread_cond_wait(&r.cv, &c->mu);
	pthread_cond_destroy(&r.cv);
	rc = r.rc;
out:
	if (--c->n_inside == 0 && c->stopping)
		pthread_cond_signal(&c->idle_cv);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

uint64_t lsm_commit_visible_seq(const lsm_commit *c)
{
	return atomic_load_explicit(&((lsm_commit *)c)->visible_seq, memory_order_acquire);
}

int lsm_commit_error(const lsm_commit *c)
{
	return atomic_load(&((lsm_commit *)c)->err);
}

void lsm_commit_get_stats(lsm_commit *c, lsm_commit_stats *out)
{
	pthread_mutex_lock(&c->mu);
	*out = c->stats;
	out->queued_batches = c->n_queued;
	pthread_mutex_unlock(&c->mu);
}

void lsm_commit_shutdown(lsm_commit *c)
{
	pthread_mutex_lock(&c->mu);
	if (!c->stopping) {
		c->stopping = true;
		pthread_cond_signal(&c->queue_cv);
	}
	pthread_mutex_unlock(&c->mu);
}

void lsm_commit_stop(lsm_commit *c)
{
	if (!c)
		return;
	lsm_commit_shutdown(c);
	pthread_join(c->thread, NULL);
	pthread_mutex_lock(&c->mu);
	while (c->n_inside > 0)
		pthread_cond_wait(&c->idle_cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
	pthread_cond_destroy(&c->idle_cv);
	pthread_cond_destroy(&c->queue_cv);
	pthread_mutex_destroy(&c->mu);
	strata_free(c->buf);
	strata_free(c->batches);
	strata_free(c);
}
