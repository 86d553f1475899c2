/*
 * stream_batcher.c — chunks of lines from the stream listeners, gathered
 * into few large sync writes (stream_batcher.h).
 *
 * Why batch: a stream line has no one waiting for an answer, but it must
 * still reach the WAL, and a sync write costs an fdatasync. Writing each
 * read or datagram alone would cost one sync per few hundred bytes; writing
 * thousands of lines per call costs one per batch and lets the parser run on
 * long buffers. The delay bound keeps a trickle of lines from waiting long.
 *
 * The queue is a list of segments. A segment is one contiguous buffer of
 * whole lines for one database (allocated at segment_bytes, so appending
 * never moves it; the kernel backs only the pages written); a push copies
 * its pieces to the end of the last segment when they fit and the database
 * matches, else starts a new one. A writer thread waits until the pending
 * lines reach max_lines, the oldest pending chunk is max_delay_ms old, or
 * stop has begun; it then detaches the whole list, and writes each segment
 * with one sink call (one sync), without the lock. Segments come back to a
 * small spare list, so a steady stream allocates nothing.
 *
 * queue_bytes counts pending and in-flight bytes, and is lowered only once
 * a batch is written: while the engine stalls the queue stays full and the
 * listeners are held back. A push into an empty queue always fits, so one
 * oversized chunk can never wedge a producer.
 *
 * Threads and locks: mu guards everything below it in the struct (the
 * list, counters, wake fds, stopping); work_cv wakes writers (work, stop),
 * space_cv wakes blocked pushers (space, stop). sessions[i] belongs to
 * writer thread i. No lock is held while the sink writes; the lock is held
 * while a push copies its bytes (at most one chunk, microseconds), so that
 * chunks land in the order their pushes were admitted.
 */
#include "ingest/stream_batcher.h"
#include "lsm/alloc.h"
#include "lsm/catalog.h"
#include "lsm/log.h"
#include "lsm/status.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_WAKE_FDS 8
#define MAX_SPARE_SEGS 2
#define MAX_WRITERS 64

struct seg {
	struct seg *next;
	char *data;
	size_t len;
	size_t cap;
	uint64_t n_lines;
	int64_t recv_ns; /* wall clock when its first chunk arrived (stamps untimed points) */
	char db[LSM_CATALOG_NAME_MAX + 1];
};

/* At most one log line per interval; the rest counted and mentioned in the next. */
struct ratelimit {
	int64_t last_ns; /* monotonic; guarded by the batcher's mu */
	uint64_t suppressed;
};

struct ingest_stream_batcher {
	ingest_stream_batcher_options opt;
	ingest_stream_sink sink;
	ingest_session **sessions; /* engine mode: one per writer */
	pthread_t *threads;
	uint32_t n_threads;        /* started */

	pthread_mutex_t mu;
	pthread_cond_t work_cv;
	pthread_cond_t space_cv;
	struct seg *head, *tail;   /* pending, oldest first */
	uint64_t pending_lines;
	int64_t oldest_mono_ns;    /* arrival of the oldest pending chunk; valid when head */
	size_t queue_bytes;        /* pending + in flight */
	struct seg *spare;
	uint32_t n_spare;
	int wake_fds[MAX_WAKE_FDS];
	uint32_t n_wake_fds;
	int64_t full_since_ns;     /* monotonic time a producer was first held back, 0 */
	bool stopping;
	bool stopped;
	struct ratelimit rl_reject, rl_error;
	ingest_stream_batcher_stats st;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void ingest_stream_batcher_options_default(ingest_stream_batcher_options *out)
{
	memset(out, 0, sizeof *out);
	out->max_lines = 5000;
	out->max_delay_ms = 100;
	out->max_queue_bytes = (size_t)64 << 20;
	out->segment_bytes = (size_t)4 << 20;
	out->n_writers = 1;
	out->precision = INGEST_LP_NS;
	out->log_interval_ms = 10000;
}

/* Caller holds mu. True when this event may be logged; *out_suppressed says how many were not. */
static bool ratelimit_ok(ingest_stream_batcher *b, struct ratelimit *r, uint64_t *out_suppressed)
{
	int64_t now = mono_ns();

	if (r->last_ns != 0 && now - r->last_ns < (int64_t)b->opt.log_interval_ms * 1000000) {
		r->suppressed++;
		return false;
	}
	r->last_ns = now;
	*out_suppressed = r->suppressed;
	r->suppressed = 0;
	return true;
}

static void seg_free(struct seg *s)
{
	if (s) {
		strata_free(s->data);
		strata_free(s);
	}
}

/* Caller holds mu. A segment for db holding at least len bytes. */
static struct seg *seg_get(ingest_stream_batcher *b, const char *db, size_t db_len, size_t len)
{
	struct seg *s = NULL;

	if (len <= b->opt.segment_bytes && b->spare) {
		s = b->spare;
		b->spare = s->next;
		b->n_spare--;
	} else {
		size_t cap = len > b->opt.segment_bytes ? len : b->opt.segment_bytes;

		s = strata_malloc(sizeof *s);
		if (!s)
			return NULL;
		s->data = strata_malloc(cap);
		if (!s->data) {
			strata_free(s);
			return NULL;
		}
		s->cap = cap;
	}
	s->next = NULL;
	s->len = 0;
	s->n_lines = 0;
	s->recv_ns = wall_ns();
	memcpy(s->db, db, db_len);
	s->db[db_len] = '\0';
	return s;
}

/* Caller holds mu. Keeps a few segments of the standard size for reuse. */
static void seg_put(ingest_stream_batcher *b, struct seg *s)
{
	if (s->cap == b->opt.segment_bytes && b->n_spare < MAX_SPARE_SEGS) {
		s->next = b->spare;
		b->spare = s;
		b->n_spare++;
	} else {
		seg_free(s);
	}
}

/* Caller holds mu. Ends a stretch of held-back producers, if one is running. */
static void blocked_end(ingest_stream_batcher *b)
{
	if (b->full_since_ns) {
		b->st.blocked_ns += (uint64_t)(mono_ns() - b->full_since_ns);
		b->full_since_ns = 0;
	}
}

/* Caller holds mu. Space was freed (or stop began): wake everyone waiting for it. */
static void space_freed(ingest_stream_batcher *b)
{
	uint64_t one = 1;

	blocked_end(b);
	pthread_cond_broadcast(&b->space_cv);
	for (uint32_t i = 0; i < b->n_wake_fds; i++) {
		/* An eventfd write fails only when its counter would overflow: it is readable then anyway. */
		if (write(b->wake_fds[i], &one, sizeof one) < 0)
			continue;
	}
	b->n_wake_fds = 0;
}

/* Caller holds mu. */
static bool ready(const ingest_stream_batcher *b, int64_t now)
{
	if (!b->head)
		return false;
	return b->stopping || b->pending_lines >= b->opt.max_lines ||
	       now - b->oldest_mono_ns >= (int64_t)b->opt.max_delay_ms * 1000000;
}

static void log_reject(ingest_stream_batcher *b, const struct seg *s, const ingest_report *rep)
{
	const char *first = rep->errors;
	size_t first_len = rep->errors_len < sizeof rep->errors ? rep->errors_len : sizeof rep->errors;
	const char *nl = memchr(first, '\n', first_len);
	uint64_t suppressed = 0;
	bool ok;

	if (nl)
		first_len = (size_t)(nl - first);
	pthread_mutex_lock(&b->mu);
	ok = ratelimit_ok(b, &b->rl_reject, &suppressed);
	pthread_mutex_unlock(&b->mu);
	if (ok)
		LOG_WARN("stream lines rejected: db=%s rejected=%" PRIu64 " of=%" PRIu64
			 " first=\"batch %.*s\" suppressed_warnings=%" PRIu64,
			 s->db, rep->lines_rejected, s->n_lines, (int)first_len, first, suppressed);
}

static void log_write_error(ingest_stream_batcher *b, const struct seg *s)
{
	uint64_t suppressed = 0;
	bool ok;

	pthread_mutex_lock(&b->mu);
	ok = ratelimit_ok(b, &b->rl_error, &suppressed);
	pthread_mutex_unlock(&b->mu);
	if (ok)
		LOG_ERROR("stream write failed, lines dropped: db=%s lines=%" PRIu64 " error=\"%s\""
			  " suppressed_errors=%" PRIu64,
			  s->db, s->n_lines, strata_last_error(), suppressed);
}

struct writer_arg {
	ingest_stream_batcher *b;
	uint32_t index;
};

/* Writes one segment through the sink; counts what happened. No lock held. */
static void write_seg(ingest_stream_batcher *b, uint32_t index, struct seg *s, ingest_report *rep)
{
	int rc;

	rep->points = 0;
	rep->lines_rejected = 0;
	rep->errors_len = 0;
	rep->errors[0] = '\0';
	strata_error_clear();
	rc = b->sink.write(b->sink.ctx, index, s->db, s->data, s->len, b->opt.precision, s->recv_ns, rep);
	pthread_mutex_lock(&b->mu);
	b->st.batches++;
	if (rc == 0) {
		b->st.points += rep->points;
		b->st.lines_rejected += rep->lines_rejected;
		b->st.bytes_written += s->len;
	} else {
		b->st.write_errors++;
		b->st.lines_dropped += s->n_lines;
	}
	pthread_mutex_unlock(&b->mu);
	if (rc != 0)
		log_write_error(b, s);
	else if (rep->lines_rejected)
		log_reject(b, s, rep);
}

static void *writer_main(void *arg)
{
	struct writer_arg *wa = arg;
	ingest_stream_batcher *b = wa->b;
	uint32_t index = wa->index;
	ingest_report *rep = strata_malloc(sizeof *rep);

	strata_free(wa);
	pthread_mutex_lock(&b->mu);
	for (;;) {
		struct seg *batch, *s, *next;
		size_t bytes = 0;
		int64_t now = mono_ns();

		if (!ready(b, now)) {
			if (b->stopping && !b->head)
				break;
			if (b->head) {
				int64_t due = b->oldest_mono_ns + (int64_t)b->opt.max_delay_ms * 1000000;
				struct timespec ts = { .tv_sec = due / 1000000000, .tv_nsec = due % 1000000000 };

				pthread_cond_timedwait(&b->work_cv, &b->mu, &ts);
			} else {
				pthread_cond_wait(&b->work_cv, &b->mu);
			}
			continue;
		}
		batch = b->head;
		b->head = b->tail = NULL;
		b->pending_lines = 0;
		pthread_mutex_unlock(&b->mu);

		for (s = batch; s; s = s->next) {
			bytes += s->len;
			if (rep) {
				write_seg(b, index, s, rep);
			} else {
				/* No memory for a report (2 KiB) at start: count the segment as dropped. */
				pthread_mutex_lock(&b->mu);
				b->st.write_errors++;
				b->st.lines_dropped += s->n_lines;
				pthread_mutex_unlock(&b->mu);
				strata_error(-ENOMEM, "out of memory for the write report");
				log_write_error(b, s);
			}
		}

		pthread_mutex_lock(&b->mu);
		for (s = batch; s; s = next) {
			next = s->next;
			seg_put(b, s);
		}
		b->queue_bytes -= bytes;
		space_freed(b);
	}
	pthread_mutex_unlock(&b->mu);
	strata_free(rep);
	return NULL;
}

static int session_sink_write(void *ctx, uint32_t writer, const char *db, const char *buf, size_t len,
			      enum ingest_lp_precision precision, int64_t now_ns, ingest_report *out)
{
	ingest_stream_batcher *b = ctx;

	return ingest_session_write(b->sessions[writer], db, NULL, buf, len, precision, now_ns, true, out);
}

static void batcher_destroy(ingest_stream_batcher *b)
{
	struct seg *s, *next;

	for (s = b->head; s; s = next) {
		next = s->next;
		seg_free(s);
	}
	for (s = b->spare; s; s = next) {
		next = s->next;
		seg_free(s);
	}
	if (b->sessions) {
		for (uint32_t i = 0; i < b->opt.n_writers; i++)
			if (b->sessions[i])
				ingest_session_free(b->sessions[i]);
		strata_free(b->sessions);
	}
	pthread_cond_destroy(&b->space_cv);
	pthread_cond_destroy(&b->work_cv);
	pthread_mutex_destroy(&b->mu);
	strata_free(b->threads);
	strata_free(b);
}

/* Allocates b and its locks; sessions are added by the caller before start. */
static int batcher_alloc(ingest_stream_batcher **out, const ingest_stream_batcher_options *opt)
{
	ingest_stream_batcher *b;
	pthread_condattr_t ca;
	int rc = -ENOMEM;

	*out = NULL;
	b = strata_calloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	if (opt)
		b->opt = *opt;
	else
		ingest_stream_batcher_options_default(&b->opt);
	if (b->opt.max_lines == 0)
		b->opt.max_lines = 1;
	if (b->opt.max_queue_bytes == 0)
		b->opt.max_queue_bytes = (size_t)64 << 20;
	if (b->opt.segment_bytes == 0)
		b->opt.segment_bytes = (size_t)4 << 20;
	if (b->opt.n_writers == 0)
		b->opt.n_writers = 1;
	if (b->opt.n_writers > MAX_WRITERS)
		b->opt.n_writers = MAX_WRITERS;
	pthread_mutex_init(&b->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->work_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&b->space_cv, NULL);
	b->threads = strata_calloc(b->opt.n_writers, sizeof *b->threads);
	if (!b->threads)
		goto fail;
	*out = b;
	return 0;
fail:
	batcher_destroy(b);
	return rc;
}

static int batcher_start(ingest_stream_batcher *b)
{
	int rc = 0;

	for (uint32_t i = 0; i < b->opt.n_writers; i++) {
		struct writer_arg *wa = strata_malloc(sizeof *wa);

		if (!wa) {
			rc = -ENOMEM;
			break;
		}
		wa->b = b;
		wa->index = i;
		rc = -pthread_create(&b->threads[i], NULL, writer_main, wa);
		if (rc) {
			strata_free(wa);
			break;
		}
		b->n_threads++;
	}
	if (rc)
		strata_error(rc, "cannot start the stream batcher's writer threads");
	return rc;
}

int ingest_stream_batcher_new_sink(ingest_stream_batcher **out, const ingest_stream_sink *sink,
				   const ingest_stream_batcher_options *opt)
{
	ingest_stream_batcher *b;
	int rc;

	*out = NULL;
	rc = batcher_alloc(&b, opt);
	if (rc)
		return rc;
	b->sink = *sink;
	rc = batcher_start(b);
	if (rc) {
		ingest_stream_batcher_free(b);
		return rc;
	}
	*out = b;
	return 0;
}

int ingest_stream_batcher_new(ingest_stream_batcher **out, ingest_engine *e,
			      const ingest_stream_batcher_options *opt)
{
	ingest_stream_batcher *b;
	int rc;

	*out = NULL;
	rc = batcher_alloc(&b, opt);
	if (rc)
		return rc;
	b->sessions = strata_calloc(b->opt.n_writers, sizeof *b->sessions);
	if (!b->sessions) {
		rc = -ENOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < b->opt.n_writers; i++) {
		rc = ingest_session_new(&b->sessions[i], e);
		if (rc)
			goto fail;
	}
	b->sink.write = session_sink_write;
	b->sink.ctx = b;
	rc = batcher_start(b);
	if (rc)
		goto fail;
	*out = b;
	return 0;
fail:
	ingest_stream_batcher_free(b);
	return rc;
}

static uint64_t count_lines(const char *p, size_t n)
{
	const char *end = p + n;
	uint64_t c = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		c++;
		p++;
	}
	return c;
}

static int push(ingest_stream_batcher *b, const char *db, const struct iovec *iov, int n_iov,
		bool wait, int wake_fd)
{
	size_t db_len = db ? strlen(db) : 0;
	size_t len = 0;
	uint64_t n_lines = 0;
	char last = 0;
	bool counted = false, was_empty;
	struct seg *s;
	int rc = 0;

	if (db_len == 0 || db_len > LSM_CATALOG_NAME_MAX)
		return strata_error(STRATA_EINVAL, "bad database name for a stream write");
	for (int i = 0; i < n_iov; i++) {
		if (iov[i].iov_len == 0)
			continue;
		len += iov[i].iov_len;
		last = ((const char *)iov[i].iov_base)[iov[i].iov_len - 1];
		n_lines += count_lines(iov[i].iov_base, iov[i].iov_len);
	}
	if (len == 0)
		return 0;
	if (last != '\n')
		return strata_error(STRATA_EINVAL, "a stream chunk must end with a newline");

	pthread_mutex_lock(&b->mu);
	for (;;) {
		if (b->stopping) {
			rc = strata_error(STRATA_ECLOSED, "the stream batcher is stopping");
			goto out;
		}
		if (b->queue_bytes == 0 || b->queue_bytes + len <= b->opt.max_queue_bytes)
			break;
		if (!counted) {
			b->st.push_refusals++;
			counted = true;
		}
		if (!b->full_since_ns)
			b->full_since_ns = mono_ns();
		if (!wait) {
			bool known = false;

			for (uint32_t i = 0; i < b->n_wake_fds; i++)
				known |= b->wake_fds[i] == wake_fd;
			if (wake_fd >= 0 && !known && b->n_wake_fds < MAX_WAKE_FDS)
				b->wake_fds[b->n_wake_fds++] = wake_fd;
			rc = -EAGAIN;
			goto out;
		}
		pthread_cond_wait(&b->space_cv, &b->mu);
	}

	was_empty = b->head == NULL;
	s = b->tail;
	if (!s || strcmp(s->db, db) != 0 || s->cap - s->len < len) {
		s = seg_get(b, db, db_len, len);
		if (!s) {
			rc = strata_error(-ENOMEM, "out of memory queueing %zu bytes of stream lines", len);
			goto out;
		}
		if (b->tail)
			b->tail->next = s;
		else
			b->head = s;
		b->tail = s;
	}
	for (int i = 0; i < n_iov; i++) {
		if (iov[i].iov_len == 0)
			continue;
		memcpy(s->data + s->len, iov[i].iov_base, iov[i].iov_len);
		s->len += iov[i].iov_len;
	}
	s->n_lines += n_lines;
	if (was_empty)
		b->oldest_mono_ns = mono_ns();
	/* Wake a writer when it has a deadline to set (first chunk) or a full batch. */
	if (was_empty ||
	    (b->pending_lines < b->opt.max_lines && b->pending_lines + n_lines >= b->opt.max_lines))
		pthread_cond_signal(&b->work_cv);
	b->pending_lines += n_lines;
	b->queue_bytes += len;
	if (b->queue_bytes > b->st.queue_bytes_peak)
		b->st.queue_bytes_peak = b->queue_bytes;
	b->st.chunks_in++;
	b->st.bytes_in += len;
	b->st.lines_in += n_lines;
out:
	pthread_mutex_unlock(&b->mu);
	return rc;
}

int ingest_stream_batcher_pushv(ingest_stream_batcher *b, const char *db,
				const struct iovec *iov, int n_iov)
{
	return push(b, db, iov, n_iov, true, -1);
}

int ingest_stream_batcher_push(ingest_stream_batcher *b, const char *db, const char *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return push(b, db, &iov, 1, true, -1);
}

int ingest_stream_batcher_try_pushv(ingest_stream_batcher *b, const char *db,
				    const struct iovec *iov, int n_iov, int wake_fd)
{
	return push(b, db, iov, n_iov, false, wake_fd);
}

void ingest_stream_batcher_forget_wake_fd(ingest_stream_batcher *b, int fd)
{
	pthread_mutex_lock(&b->mu);
	for (uint32_t i = 0; i < b->n_wake_fds; i++) {
		if (b->wake_fds[i] == fd) {
			b->wake_fds[i] = b->wake_fds[--b->n_wake_fds];
			break;
		}
	}
	pthread_mutex_unlock(&b->mu);
}

void ingest_stream_batcher_stop(ingest_stream_batcher *b)
{
	pthread_mutex_lock(&b->mu);
	if (b->stopped) {
		pthread_mutex_unlock(&b->mu);
		return;
	}
	b->stopped = true;
	b->stopping = true;
	pthread_cond_broadcast(&b->work_cv);
	space_freed(b);
	pthread_mutex_unlock(&b->mu);
	for (uint32_t i = 0; i < b->n_threads; i++)
		pthread_join(b->threads[i], NULL);
	b->n_threads = 0;
}

void ingest_stream_batcher_free(ingest_stream_batcher *b)
{
	if (!b)
		return;
	ingest_stream_batcher_stop(b);
	batcher_destroy(b);
}

void ingest_stream_batcher_get_stats(ingest_stream_batcher *b, ingest_stream_batcher_stats *out)
{
	pthread_mutex_lock(&b->mu);
	*out = b->st;
	out->queue_bytes = b->queue_bytes;
	if (b->full_since_ns)
		out->blocked_ns += (uint64_t)(mono_ns() - b->full_since_ns);
	pthread_mutex_unlock(&b->mu);
}
