/*
 * stream_batcher.h — gathers line protocol from the TCP and UDP listeners
 * into large durable writes.
 *
 * Listeners hand over chunks of complete lines ('\n'-terminated, copied in)
 * for a database. A batcher thread writes what is pending, through its own
 * ingest_session with sync=true, as soon as max_lines lines are pending or
 * max_delay_ms have passed since the oldest pending chunk arrived — and, on
 * stop, whatever is left. Bad lines are counted and logged (rate-limited),
 * never fatal; a write the engine refuses (read-only, unknown database) is
 * dropped, counted and logged: streams get no reply, so there is no one to
 * tell but the log and /metrics.
 *
 * Backpressure: the bytes queued — pending plus being written — are bounded
 * by max_queue_bytes. A push that does not fit either blocks until the
 * batcher has written enough (ingest_stream_batcher_push, for threads that
 * may sleep, such as the UDP listener) or fails at once with -EAGAIN and
 * arranges a wake-up on an eventfd of the caller's (try_push, for epoll
 * loops such as the TCP listener, which then stops reading its sockets
 * until the eventfd fires). A chunk always fits into an empty queue, so
 * memory is bounded by max_queue_bytes plus one chunk.
 *
 * Points without a timestamp are stamped with the time at which the first
 * chunk of their write arrived (one time per write of up to segment_bytes):
 * untimestamped points of one series gathered into one write collapse into
 * one point, as they do within one InfluxDB write request. Agents that care
 * send timestamps.
 *
 * Order: with one writer thread (the default) chunks are written in the
 * order they were pushed, so the lines of one connection keep their order
 * (a field written later wins). With n_writers > 1 parsing runs on several
 * threads and writes of different batches may complete in any order.
 *
 * Threads: push, try_push, forget_wake_fd and stats from any thread; stop
 * once, from one thread, after which only stats and free may be called.
 */
#ifndef STRATA_INGEST_STREAM_BATCHER_H
#define STRATA_INGEST_STREAM_BATCHER_H

#include "ingest/writer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct ingest_stream_batcher ingest_stream_batcher;

typedef struct ingest_stream_batcher_options {
	uint32_t max_lines;          /* write once this many lines are pending (5000) */
	uint32_t max_delay_ms;       /* ... or the oldest pending chunk is this old (100) */
	size_t max_queue_bytes;      /* pending + in-flight bytes before pushes are held back (64 MiB) */
	size_t segment_bytes;        /* largest single write; chunks are packed up to this (4 MiB) */
	uint32_t n_writers;          /* writer threads, each with its own session (1) */
	enum ingest_lp_precision precision; /* timestamps of stream lines (INGEST_LP_NS) */
	uint32_t log_interval_ms;    /* at most one warning per kind this often (10000) */
} ingest_stream_batcher_options;

void ingest_stream_batcher_options_default(ingest_stream_batcher_options *out);

/*
 * Where batches go: a test double, or the engine (ingest_stream_batcher_new
 * builds this over an ingest_session). write() is called from a writer
 * thread with one or more complete lines for db, and behaves like
 * ingest_session_write with sync=true: 0 with *out filled (bad lines
 * counted and described there), or an error meaning nothing of the call may
 * be counted as written. writer is the index of the calling writer thread
 * (0 .. n_writers-1); calls with the same index never overlap.
 */
typedef struct ingest_stream_sink {
	int (*write)(void *ctx, uint32_t writer, const char *db, const char *buf, size_t len,
		     enum ingest_lp_precision precision, int64_t now_ns, ingest_report *out);
	void *ctx;
} ingest_stream_sink;

/*
 * Starts a batcher writing into the engine e (borrowed: it must outlive the
 * batcher), one ingest_session per writer thread. opt may be NULL
 * (defaults). -ENOMEM, -errno from pthread_create.
 */
int ingest_stream_batcher_new(ingest_stream_batcher **out, ingest_engine *e,
			      const ingest_stream_batcher_options *opt);

/* Starts a batcher writing through sink (copied; its ctx must outlive the batcher). */
int ingest_stream_batcher_new_sink(ingest_stream_batcher **out, const ingest_stream_sink *sink,
				   const ingest_stream_batcher_options *opt);

/*
 * Queues the n_iov pieces, together forming one or more complete lines (the
 * last piece ends with '\n'; empty pieces are allowed), for database db.
 * The bytes are copied: the caller may reuse its buffers on return. Blocks
 * while the queue is full. Returns 0; STRATA_EINVAL for a chunk that does
 * not end with '\n' or a bad database name (empty or longer than
 * LSM_CATALOG_NAME_MAX); STRATA_ECLOSED once stop has begun; -ENOMEM.
 */
int ingest_stream_batcher_pushv(ingest_stream_batcher *b, const char *db,
				const struct iovec *iov, int n_iov);
int ingest_stream_batcher_push(ingest_stream_batcher *b, const char *db, const char *buf, size_t len);

/*
 * Like pushv, without blocking: -EAGAIN when the queue is full. wake_fd
 * (an eventfd, or -1 for none) is then remembered, and the batcher writes 1
 * to it once space has been freed; the caller reads it and tries again. The
 * batcher remembers a few fds at a time (8); a caller that closes its
 * eventfd calls forget_wake_fd first.
 */
int ingest_stream_batcher_try_pushv(ingest_stream_batcher *b, const char *db,
				    const struct iovec *iov, int n_iov, int wake_fd);

/* The batcher writes nothing more to fd after this returns. */
void ingest_stream_batcher_forget_wake_fd(ingest_stream_batcher *b, int fd);

/*
 * Stops taking pushes (they fail with STRATA_ECLOSED; blocked pushers are
 * woken and fail too), writes everything queued, and joins the writer
 * threads. Stop the listeners first, so that their last lines are queued.
 */
void ingest_stream_batcher_stop(ingest_stream_batcher *b);

/* Stops (if not yet) and frees. NULL is fine. */
void ingest_stream_batcher_free(ingest_stream_batcher *b);

/* Counters for /metrics; a consistent-enough snapshot (each field atomic). */
typedef struct ingest_stream_batcher_stats {
	uint64_t chunks_in;      /* chunks accepted */
	uint64_t bytes_in;       /* bytes accepted */
	uint64_t lines_in;       /* '\n'-terminated lines accepted */
	uint64_t points;         /* points written (durable) */
	uint64_t bytes_written;  /* bytes handed to the engine with success */
	uint64_t lines_rejected; /* bad lines (parse, type conflict, limits) */
	uint64_t batches;        /* writes to the engine */
	uint64_t write_errors;   /* writes the engine refused (their lines are dropped) */
	uint64_t lines_dropped;  /* lines of refused writes */
	uint64_t push_refusals;  /* pushes held back or refused because the queue was full */
	uint64_t blocked_ns;     /* total time during which producers were held back */
	uint64_t queue_bytes;    /* now: pending + in flight */
	uint64_t queue_bytes_peak;
} ingest_stream_batcher_stats;

void ingest_stream_batcher_get_stats(ingest_stream_batcher *b, ingest_stream_batcher_stats *out);

#endif
