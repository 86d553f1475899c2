/*
 * commit.c — group commit (commit.h) with a leader: the submitting threads
 * do the work themselves, one write (and at most one fdatasync) per group.
 *
 * Why a leader and no commit thread: handing every batch to a thread of its
 * own costs two context switches and several futex calls per write, which
 * is most of the cost of a write that does not sync. As in LevelDB and
 * RocksDB, a submitter that finds nobody committing commits its own batch,
 * and with it whatever queued up meanwhile; an uncontended write makes no
 * futex call at all.
 *
 * The queue: a submitter puts a waiter on its own stack — the batch, its sync
 * flag, the result, a state word — at the tail of one FIFO queue (mu). The
 * queue also holds calls (lsm_commit_run, and the relaxed-mode sync): a
 * waiter with fn set instead of a batch.
 *
 * Leadership is a token held by at most one thread at a time, always by the
 * thread whose waiter is at the head of the queue:
 *   - a submitter that enqueues while nobody leads (leading == false, so the
 *     queue was empty) takes the token at once;
 *   - otherwise it sleeps until its waiter's state becomes DONE (a leader
 *     committed its batch) or LEADER (the token was handed to it).
 * The leader does one step and passes the token on:
 *   - a batch at the head: take the queue from the head (consecutive batches,
 *     up to group_max_bytes; a larger single batch goes alone), ask the
 *     prepare hook for the segment, stamp sequence numbers, frame every batch
 *     as one LSM_REC_BATCH record into one reusable buffer, append it with
 *     one lsm_wal_append (synced when any batch asked for it, outside relaxed
 *     mode), apply the group through the hook, publish visible_seq;
 *   - a call at the head (its own): run fn;
 * then, under mu, it hands the token to the new head of the queue (or sets
 * leading = false when the queue is empty), and only then, outside mu, wakes
 * the followers whose batches it wrote and, last, the new leader (see lead()
 * for why in that order). While a group is
 * written and synced, new submissions queue up behind it and become the next
 * group: no timer, and the disk is never idle while batches wait. With
 * group_min_bytes and group_wait_us set, the leader first waits (on
 * timer_cv) for that many queued bytes or for its batch to have waited that
 * long.
 *
 * Every hook call and every use of the leader-owned state below happens
 * while holding the token, so hooks run one at a time, in queue order, on
 * whichever thread leads. The token passes under mu or through the waiter's
 * state word (release/acquire), so each leader sees everything the previous
 * one did.
 *
 * Waking: each waiter is woken on its own state word with a futex, never
 * through a shared condition variable, so finishing a group wakes exactly
 * its submitters and the next leader. The state goes QUEUED → SLEEPING
 * (the waiter is about to block; compare-and-swap) → DONE or LEADER (the
 * waker's exchange; it issues FUTEX_WAKE only when it saw SLEEPING). A
 * waiter may return as soon as it sees DONE, so the waker touches nothing
 * of it after the exchange; the FUTEX_WAKE that follows may then reach a
 * reused stack address, which is harmless: every futex user re-checks its
 * word after waking.
 *
 * Relaxed mode appends without syncing and syncs when relaxed_sync_ms have
 * passed since the last sync: as part of a group's write, or, once the
 * writes stop, from the sync thread — the only thread of this module, and
 * only in relaxed mode — which sleeps until sync_due_ns and then queues a
 * call that syncs, so that the sync too runs as a leader step.
 *
 * A lsm_commit_run call may retire the current segment (the engine switches
 * memtables that way): the leader forgets its segment afterwards, and the
 * next prepare names the one to use.
 *
 * A failed write, sync or apply is sticky: c->err is set, the failed hook
 * runs once (before any waiter of the group learns of the failure), the
 * group and every queued batch get the error (queued calls still run), and
 * later submits get STRATA_EREADONLY. A failed prepare fails its group only.
 * Nothing is ever retried.
 *
 * Threads and locks:
 *   mu guards the queue (head, tail, queued_bytes, n_queued), leading,
 *   leader_timing, stopping, n_inside, sync_due_ns and stats.
 *   A waiter's rc and msg are written by the leader that completes it before
 *   the release exchange of its state, and read by its owner after the
 *   acquire load that sees DONE.
 *   err and visible_seq are atomics: written by the leader (err under mu),
 *   read by anyone.
 *   last_seq, wal, unsynced, last_sync_ns, the frame buffer and the batch
 *   array belong to the token holder (and to stop, once nobody is inside).
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
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_GROUP_MAX (1u << 20)
#define DEFAULT_RELAXED_SYNC_MS 100

/* Histogram bounds (docs/metrics.md): latency 10 us .. 10 s, group sizes by powers of 4. */
static const uint64_t latency_bounds_ns[] = {
	10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 25000000,
	50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000u, 5000000000u, 10000000000u,
};
static const uint64_t group_bytes_bounds[] = {
	256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864, 268435456,
};
static const uint64_t group_entries_bounds[] = {
	1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576,
};

enum waiter_state {
	W_QUEUED,   /* in the queue, its owner not (yet) blocked */
	W_SLEEPING, /* in the queue, its owner blocked on the state word */
	W_DONE,     /* a leader committed (or failed) it: rc and msg are set */
	W_LEADER,   /* the token was handed to it */
};

struct waiter {
	lsm_batch *b;             /* a batch, or NULL for a call */
	int (*fn)(void *ctx);     /* a call: lsm_commit_run, or the relaxed sync */
	void *ctx;
	struct waiter *next;
	size_t rec_bytes;         /* batch: framed size, record header + batch */
	uint64_t enqueue_ns;      /* batch: only with group_min_bytes */
	atomic_int state;
	int rc;
	bool sync;
	bool keeps_segment;       /* a call that does not retire the segment */
	char msg[192];            /* on failure: the leader's message */
};

struct lsm_commit {
	lsm_commit_options opt;
	lsm_commit_hooks hooks;

	pthread_mutex_t mu;
	pthread_cond_t timer_cv; /* a leader waiting for group_min_bytes (CLOCK_MONOTONIC) */
	pthread_cond_t sync_cv;  /* the relaxed sync thread (CLOCK_MONOTONIC) */
	pthread_cond_t idle_cv;  /* stop waits here for submitters to leave */
	struct waiter *head, *tail;
	size_t queued_bytes;     /* batches only */
	size_t n_queued;         /* batches only */
	bool leading;            /* someone holds the token */
	bool leader_timing;      /* the leader waits on timer_cv */
	bool stopping;
	unsigned n_inside;
	uint64_t sync_due_ns;    /* relaxed: when the unsynced tail must be synced; 0: nothing */
	lsm_commit_stats stats;
	/*
	 * Atomic (histogram.h): get_stats reads them without mu. Observed under
	 * mu anyway, by the leader (groups) and by each submitter (its latency).
	 */
	lsm_histogram latency, group_bytes, group_entries;
	pthread_t sync_thread;
	bool sync_thread_started;

	atomic_int err;
	atomic_uint_least64_t visible_seq;

	/* The token holder only. */
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

static void timed_wait(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t deadline_ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline_ns / 1000000000u),
		.tv_nsec = (long)(deadline_ns % 1000000000u),
	};

	pthread_cond_timedwait(cv, mu, &ts);
}

void lsm_commit_options_default(lsm_commit_options *out)
{
	out->group_max_bytes = DEFAULT_GROUP_MAX;
	out->group_min_bytes = 0;
	out->group_wait_us = 0;
	out->relaxed = false;
	out->relaxed_sync_ms = DEFAULT_RELAXED_SYNC_MS;
}

/* ---- waking one waiter ---- */

static void futex_wake_one(atomic_int *word)
{
	syscall(SYS_futex, (int *)word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/*
 * Sets w's state to to (W_DONE or W_LEADER) and wakes its owner if it
 * sleeps. Once the state is W_DONE the owner may return at once: w must not
 * be touched after this call.
 */
static void waiter_post(struct waiter *w, int to)
{
	if (atomic_exchange_explicit(&w->state, to, memory_order_acq_rel) == W_SLEEPING)
		futex_wake_one(&w->state);
}

/* Blocks until w is W_DONE or W_LEADER and returns which. */
static int waiter_wait(struct waiter *w)
{
	for (;;) {
		int s = atomic_load_explicit(&w->state, memory_order_acquire);

		if (s == W_DONE || s == W_LEADER)
			return s;
		if (s == W_QUEUED) {
			atomic_compare_exchange_strong_explicit(&w->state, &s, W_SLEEPING, memory_order_acq_rel,
								memory_order_acquire);
			continue;
		}
		/* EINTR, or EAGAIN when the state already moved on: look again. */
		syscall(SYS_futex, (int *)&w->state, FUTEX_WAIT_PRIVATE, W_SLEEPING, NULL, NULL, 0);
	}
}

/* ---- the queue (under mu) ---- */

/* Appends w; returns true when w takes the token (nobody was leading). */
static bool enqueue(lsm_commit *c, struct waiter *w)
{
	w->next = NULL;
	if (c->tail)
		c->tail->next = w;
	else
		c->head = w;
	c->tail = w;
	if (w->b) {
		c->queued_bytes += w->rec_bytes;
		c->n_queued++;
		/* A leader waiting for a minimum of bytes: wake it when they are there. */
		if (c->leader_timing && c->queued_bytes >= c->opt.group_min_bytes)
			pthread_cond_signal(&c->timer_cv);
	}
	if (c->leading)
		return false;
	c->leading = true;
	return true;
}

/*
 * Detaches the next group from the head (which is the leader's own batch):
 * consecutive batches up to group_max_bytes, at least one.
 */
static struct waiter *take_group(lsm_commit *c, size_t *n_out, size_t *bytes_out)
{
	struct waiter *group = c->head, *last = NULL, *w = c->head;
	size_t n = 0, bytes = 0;

	while (w && w->b && (n == 0 || bytes + w->rec_bytes <= c->opt.group_max_bytes)) {
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

/*
 * Relaxed mode: after a step, when must the sync thread sync if nothing else
 * does? Wakes it when that moved earlier. Under mu, by the token holder.
 */
static void update_sync_due(lsm_commit *c)
{
	uint64_t due = 0;

	if (!c->opt.relaxed)
		return;
	if (c->unsynced && c->wal && atomic_load(&c->err) == 0)
		due = c->last_sync_ns + (uint64_t)c->opt.relaxed_sync_ms * 1000000u;
	if (due && (c->sync_due_ns == 0 || due < c->sync_due_ns))
		pthread_cond_signal(&c->sync_cv);
	c->sync_due_ns = due;
}

/*
 * Passes the token to the head of the queue, or gives it up when the queue
 * is empty. Under mu. Returns the waiter to post W_LEADER to (after mu is
 * released), or NULL.
 */
static struct waiter *pass_token(lsm_commit *c)
{
	update_sync_due(c);
	if (!c->head)
		c->leading = false;
	return c->head;
}

/* ---- failures ---- */

/* The message for a failed group: what the failing call recorded, else the code's description. */
static void failure_message(char *out, size_t out_len, int rc)
{
	const char *m = strata_last_error();

	/* strata_error_clear() ran before the step: an unchanged thread message means none was recorded. */
	if (strcmp(m, "no error recorded") == 0)
		m = strata_strerror(rc);
	snprintf(out, out_len, "%s", m);
}

/* Completes a detached list of waiters with rc (and msg on failure), skipping self. */
static void complete_list(struct waiter *w, struct waiter *self, int rc, const char *msg)
{
	while (w) {
		struct waiter *next = w->next;

		w->rc = rc;
		if (rc)
			snprintf(w->msg, sizeof w->msg, "%s", msg);
		if (w != self)
			waiter_post(w, W_DONE);
		w = next;
	}
}

/*
 * The first sticky failure: records it, runs the failed hook, then fails
 * every queued batch (queued calls stay and still run). Called by the token
 * holder without mu.
 */
static void fail_sticky(lsm_commit *c, int rc, const char *msg)
{
	struct waiter *failed = NULL, **failed_tail = &failed, **keep_link, *kept_last = NULL;

	if (atomic_load(&c->err) == 0) {
		LOG_ERROR("wal group commit failed, writes refused until reopened error=\"%s\"", msg);
		pthread_mutex_lock(&c->mu);
		atomic_store(&c->err, rc);
		pthread_mutex_unlock(&c->mu);
		if (c->hooks.failed)
			c->hooks.failed(c->hooks.ctx, rc);
	}
	pthread_mutex_lock(&c->mu);
	keep_link = &c->head;
	for (struct waiter *w = c->head, *next; w; w = next) {
		next = w->next;
		if (w->b) {
			*failed_tail = w;
			failed_tail = &w->next;
		} else {
			*keep_link = w;
			keep_link = &w->next;
			kept_last = w;
		}
	}
	*keep_link = NULL;
	*failed_tail = NULL;
	c->tail = kept_last;
	c->queued_bytes = 0;
	c->n_queued = 0;
	pthread_mutex_unlock(&c->mu);
	/* Detached from the queue, they belong to this leader now. */
	complete_list(failed, NULL, rc, msg);
}

/* ---- one group ---- */

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
	uint64_t entries;
};

/*
 * Writes, syncs and applies one group, without mu, holding the token.
 * Returns 0 or the group's error; *sticky says whether the error is the
 * engine's too.
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
	res->entries = total;
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

/* A sync of the current segment outside a group (relaxed mode, stop). Token holder, without mu. */
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

/* ---- leading ---- */

/*
 * The leader's step for its own waiter me, which is the head of the queue.
 * Called and returns with mu held; releases it for the I/O and the hooks.
 * Passes the token on and completes every waiter of the step but me; me's
 * rc (and msg) are set.
 */
static void lead(lsm_commit *c, struct waiter *me)
{
	struct group_result res = { 0 };
	struct waiter *group, *next;
	char msg[192] = "";
	size_t n = 0, bytes = 0;
	bool sticky = false;
	int rc;

	if (me->fn) {
		/* A call: run it between two groups. */
		c->head = me->next;
		if (!c->head)
			c->tail = NULL;
		pthread_mutex_unlock(&c->mu);
		me->rc = me->fn(me->ctx);
		if (!me->keeps_segment) {
			/* fn may have closed the segment (after syncing it). */
			c->wal = NULL;
			c->unsynced = false;
		}
		pthread_mutex_lock(&c->mu);
		next = pass_token(c);
		if (next) {
			pthread_mutex_unlock(&c->mu);
			waiter_post(next, W_LEADER);
			pthread_mutex_lock(&c->mu);
		}
		return;
	}

	if (c->opt.group_min_bytes) {
		uint64_t deadline = me->enqueue_ns + (uint64_t)c->opt.group_wait_us * 1000u;

		while (c->queued_bytes < c->opt.group_min_bytes && !c->stopping && now_ns() < deadline) {
			c->leader_timing = true;
			timed_wait(&c->timer_cv, &c->mu, deadline);
			c->leader_timing = false;
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
		lsm_histogram_observe(&c->group_bytes, bytes);
		lsm_histogram_observe(&c->group_entries, res.entries);
	}
	next = pass_token(c);
	if (!next && n == 1) {
		/* Alone: nobody to wake. */
		me->rc = rc;
		if (rc)
			snprintf(me->msg, sizeof me->msg, "%s", msg);
		return;
	}
	pthread_mutex_unlock(&c->mu);
	/*
	 * The followers first, the next leader last: a follower that writes
	 * again at once can still queue before the next leader takes its
	 * group. Handing over first splits steady synced writers into two
	 * halves that alternate, each fdatasync carrying half of them; this
	 * order makes the groups larger (16 writers on this machine: 12
	 * batches per fdatasync instead of 8) at the cost of a few futex wakes
	 * before the next group starts.
	 */
	complete_list(group, me, rc, msg);
	if (next)
		waiter_post(next, W_LEADER);
	pthread_mutex_lock(&c->mu);
}

/*
 * Queues w (under mu, after the checks) and returns once it is done: led by
 * this thread or committed by another leader. Called and returns with mu held.
 */
static void queue_and_wait(lsm_commit *c, struct waiter *w)
{
	bool leader = enqueue(c, w);

	if (!leader) {
		pthread_mutex_unlock(&c->mu);
		leader = waiter_wait(w) == W_LEADER;
		pthread_mutex_lock(&c->mu);
	}
	if (leader)
		lead(c, w);
}

/* ---- the relaxed-mode sync thread ---- */

static int relaxed_sync_step(void *ctx)
{
	lsm_commit *c = ctx;

	if (c->unsynced && c->wal && atomic_load(&c->err) == 0 &&
	    now_ns() - c->last_sync_ns >= (uint64_t)c->opt.relaxed_sync_ms * 1000000u)
		sync_unsynced(c);
	return 0;
}

static void *sync_main(void *arg)
{
	lsm_commit *c = arg;

	pthread_mutex_lock(&c->mu);
	while (!c->stopping) {
		struct waiter w = { .fn = relaxed_sync_step, .ctx = c, .keeps_segment = true };

		if (c->sync_due_ns == 0) {
			pthread_cond_wait(&c->sync_cv, &c->mu);
			continue;
		}
		if (now_ns() < c->sync_due_ns) {
			timed_wait(&c->sync_cv, &c->mu, c->sync_due_ns);
			continue;
		}
		/* The step recomputes sync_due_ns when it passes the token on. */
		c->sync_due_ns = 0;
		atomic_init(&w.state, W_QUEUED);
		queue_and_wait(c, &w);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* ---- the interface ---- */

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
	lsm_histogram_init(&c->latency, latency_bounds_ns, sizeof latency_bounds_ns / sizeof latency_bounds_ns[0]);
	lsm_histogram_init(&c->group_bytes, group_bytes_bounds, sizeof group_bytes_bounds / sizeof group_bytes_bounds[0]);
	lsm_histogram_init(&c->group_entries, group_entries_bounds,
			   sizeof group_entries_bounds / sizeof group_entries_bounds[0]);
	c->last_seq = last_seq;
	atomic_init(&c->visible_seq, last_seq);
	atomic_init(&c->err, 0);
	c->last_sync_ns = now_ns();
	pthread_mutex_init(&c->mu, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->timer_cv, &attr);
	pthread_cond_init(&c->sync_cv, &attr);
	pthread_condattr_destroy(&attr);
	pthread_cond_init(&c->idle_cv, NULL);
	if (c->opt.relaxed) {
		rc = pthread_create(&c->sync_thread, NULL, sync_main, c);
		if (rc) {
			pthread_cond_destroy(&c->idle_cv);
			pthread_cond_destroy(&c->sync_cv);
			pthread_cond_destroy(&c->timer_cv);
			pthread_mutex_destroy(&c->mu);
			strata_free(c);
			return strata_error(-rc, "wal group commit: starting the sync thread: %s", strerror(rc));
		}
		pthread_setname_np(c->sync_thread, "strata-walsync");
		c->sync_thread_started = true;
	}
	*out = c;
	return 0;
}

/* Entering submit or run: refused once stopping. Under mu. */
static int enter(lsm_commit *c)
{
	c->n_inside++;
	if (c->stopping)
		return strata_error(STRATA_ECLOSED, "wal group commit is stopping");
	return 0;
}

/* Leaving submit or run. Under mu. */
static void leave(lsm_commit *c)
{
	if (--c->n_inside == 0 && c->stopping)
		pthread_cond_signal(&c->idle_cv);
}

int lsm_commit_submit(lsm_commit *c, lsm_batch *b, bool sync)
{
	struct waiter w = { .b = b, .sync = sync };
	uint64_t t0 = now_ns();
	int rc;

	if (!b || lsm_batch_count(b) == 0 || !b->data)
		return strata_error(STRATA_EINVAL, "wal group commit: empty write batch");
	if (b->len > LSM_RECORD_MAX)
		return strata_error(STRATA_ETOOBIG, "wal group commit: batch of %zu bytes over the %u byte record limit",
				    b->len, LSM_RECORD_MAX);
	w.rec_bytes = LSM_RECORD_HEADER_LEN + b->len;
	atomic_init(&w.state, W_QUEUED);
	if (c->opt.group_min_bytes)
		w.enqueue_ns = now_ns();
	pthread_mutex_lock(&c->mu);
	rc = enter(c);
	if (rc)
		goto out;
	if (atomic_load(&c->err)) {
		rc = strata_error(STRATA_EREADONLY, "wal group commit: an earlier write failed (%s)",
				  strata_strerror(atomic_load(&c->err)));
		goto out;
	}
	queue_and_wait(c, &w);
	rc = w.rc;
	if (rc)
		strata_error(rc, "%s", w.msg);
	else /* before leave(): once this thread is out, stop may free c */
		lsm_histogram_observe(&c->latency, now_ns() - t0);
out:
	leave(c);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int lsm_commit_run(lsm_commit *c, int (*fn)(void *ctx), void *ctx)
{
	struct waiter w = { .fn = fn, .ctx = ctx };
	int rc;

	atomic_init(&w.state, W_QUEUED);
	pthread_mutex_lock(&c->mu);
	rc = enter(c);
	if (rc == 0) {
		queue_and_wait(c, &w);
		rc = w.rc;
	}
	leave(c);
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
	lsm_histogram_snapshot_get(&c->latency, &out->latency_ns);
	lsm_histogram_snapshot_get(&c->group_bytes, &out->group_bytes);
	lsm_histogram_snapshot_get(&c->group_entries, &out->group_entries);
}

void lsm_commit_shutdown(lsm_commit *c)
{
	pthread_mutex_lock(&c->mu);
	if (!c->stopping) {
		c->stopping = true;
		/* A leader waiting for more bytes takes what is queued now; the sync thread ends. */
		pthread_cond_broadcast(&c->timer_cv);
		pthread_cond_broadcast(&c->sync_cv);
	}
	pthread_mutex_unlock(&c->mu);
}

void lsm_commit_stop(lsm_commit *c)
{
	if (!c)
		return;
	lsm_commit_shutdown(c);
	if (c->sync_thread_started)
		pthread_join(c->sync_thread, NULL);
	/* Every queued waiter is inside submit or run: once they left, the queue is empty and nobody leads. */
	pthread_mutex_lock(&c->mu);
	while (c->n_inside > 0)
		pthread_cond_wait(&c->idle_cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
	/* Nobody else can hold the token now: sync what no-sync or relaxed batches left. */
	if (c->unsynced && c->wal && atomic_load(&c->err) == 0)
		sync_unsynced(c);
	pthread_cond_destroy(&c->idle_cv);
	pthread_cond_destroy(&c->sync_cv);
	pthread_cond_destroy(&c->timer_cv);
	pthread_mutex_destroy(&c->mu);
	strata_free(c->buf);
	strata_free(c->batches);
	strata_free(c);
}
