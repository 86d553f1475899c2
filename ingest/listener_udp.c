/*
 * listener_udp.c — line protocol over UDP (listener_udp.h).
 *
 * One thread waits in poll() on the socket and an eventfd (stop), then
 * receives up to batch_datagrams datagrams with one recvmmsg into fixed
 * slots of INGEST_UDP_MAX_DATAGRAM + 1 bytes: the spare byte holds the
 * newline added to a datagram whose last line lacks one, so each datagram
 * is whole lines in place and the burst goes to the batcher as one chunk of
 * iovec pieces, copied once. A datagram larger than a slot arrives cut
 * (MSG_TRUNC) and is dropped: half a line must not be written.
 *
 * The push blocks while the batcher is full. That is the intended
 * backpressure for UDP: the socket's receive buffer fills, the kernel drops
 * what does not fit, and SO_RXQ_OVFL reports the running count of those
 * drops with each datagram, which the stats expose.
 *
 * Stop: the stopping flag and the eventfd end the wait; the thread then
 * receives what is already queued (bounded rounds), hands it over, exits.
 *
 * Threads: the listener thread owns the socket and the slots; stopping and
 * the stats are atomics read by any thread; port is set before the thread
 * starts.
 */
#include "ingest/listener_udp.h"
#include "ingest/listener_tcp.h"
#include "lsm/alloc.h"
#include "lsm/log.h"
#include "lsm/status.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SLOT_BYTES (INGEST_UDP_MAX_DATAGRAM + 1)
#define MAX_BATCH 1024
#define DRAIN_MAX_ROUNDS 4096
#define ROUNDS_PER_WAKE 64

struct ingest_udp_listener {
	ingest_udp_options opt;
	char *addr;
	char *db;
	ingest_stream_batcher *b;
	int fd;
	int event_fd;
	uint16_t port;
	pthread_t thread;
	atomic_bool stopping;

	/* Listener thread only. */
	char *slots;              /* batch_datagrams slots of SLOT_BYTES */
	struct mmsghdr *msgs;
	struct iovec *recv_iov;
	struct iovec *push_iov;
	char *control;            /* per message: room for SO_RXQ_OVFL */
	size_t control_len;
	int64_t last_log_ns;
	uint64_t log_suppressed;

	atomic_uint_fast64_t n_datagrams, n_bytes, n_truncated, n_kernel_drops, n_dropped;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void ingest_udp_options_default(ingest_udp_options *out)
{
	memset(out, 0, sizeof *out);
	out->addr = "127.0.0.1:8089";
	out->db = "strata";
	out->batch_datagrams = 32;
	out->rcvbuf_bytes = 8u << 20;
	out->log_interval_ms = 10000;
}

static bool log_ok(ingest_udp_listener *l, uint64_t *out_suppressed)
{
	int64_t now = mono_ns();

	if (l->last_log_ns != 0 && now - l->last_log_ns < (int64_t)l->opt.log_interval_ms * 1000000) {
		l->log_suppressed++;
		return false;
	}
	l->last_log_ns = now;
	*out_suppressed = l->log_suppressed;
	l->log_suppressed = 0;
	return true;
}

static uint64_t count_newlines(const struct iovec *iov, int n)
{
	uint64_t c = 0;

	for (int i = 0; i < n; i++) {
		const char *p = iov[i].iov_base, *end = p + iov[i].iov_len;

		while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
			c++;
			p++;
		}
	}
	return c;
}

/*
 * Receives one burst and hands it over. Returns the datagrams received
 * (possibly 0 when the socket had none), or -1 after an error that was
 * logged.
 */
static int receive_burst(ingest_udp_listener *l)
{
	uint32_t batch = l->opt.batch_datagrams;
	uint64_t bytes = 0, suppressed = 0;
	int n, n_push = 0, rc;

	for (uint32_t i = 0; i < batch; i++) {
		l->recv_iov[i].iov_base = l->slots + (size_t)i * SLOT_BYTES;
		l->recv_iov[i].iov_len = INGEST_UDP_MAX_DATAGRAM;
		memset(&l->msgs[i].msg_hdr, 0, sizeof l->msgs[i].msg_hdr);
		l->msgs[i].msg_hdr.msg_iov = &l->recv_iov[i];
		l->msgs[i].msg_hdr.msg_iovlen = 1;
		l->msgs[i].msg_hdr.msg_control = l->control + (size_t)i * l->control_len;
		l->msgs[i].msg_hdr.msg_controllen = l->control_len;
		l->msgs[i].msg_len = 0;
	}
	n = recvmmsg(l->fd, l->msgs, batch, MSG_DONTWAIT, NULL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		if (log_ok(l, &suppressed))
			LOG_WARN("udp receive failed: addr=%s error=\"%s\" suppressed_warnings=%" PRIu64,
				 l->addr, strerror(errno), suppressed);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct msghdr *h = &l->msgs[i].msg_hdr;
		char *p = l->recv_iov[i].iov_base;
		size_t len = l->msgs[i].msg_len;

		for (struct cmsghdr *cm = CMSG_FIRSTHDR(h); cm; cm = CMSG_NXTHDR(h, cm)) {
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_RXQ_OVFL) {
				uint32_t drops;

				memcpy(&drops, CMSG_DATA(cm), sizeof drops);
				atomic_store_explicit(&l->n_kernel_drops, drops, memory_order_relaxed);
			}
		}
		bytes += len;
		if (h->msg_flags & MSG_TRUNC) {
			atomic_fetch_add_explicit(&l->n_truncated, 1, memory_order_relaxed);
			if (log_ok(l, &suppressed))
				LOG_WARN("udp datagram dropped: addr=%s reason=\"larger than %d bytes\""
					 " suppressed_warnings=%" PRIu64, l->addr, INGEST_UDP_MAX_DATAGRAM, suppressed);
			continue;
		}
		if (len == 0)
			continue;
		if (p[len - 1] != '\n')
			p[len++] = '\n';
		l->push_iov[n_push].iov_base = p;
		l->push_iov[n_push].iov_len = len;
		n_push++;
	}
	atomic_fetch_add_explicit(&l->n_datagrams, (uint64_t)n, memory_order_relaxed);
	atomic_fetch_add_explicit(&l->n_bytes, bytes, memory_order_relaxed);
	if (n_push == 0)
		return n;
	rc = ingest_stream_batcher_pushv(l->b, l->db, l->push_iov, n_push);
	if (rc != 0) {
		atomic_fetch_add_explicit(&l->n_dropped, count_newlines(l->push_iov, n_push), memory_order_relaxed);
		if (log_ok(l, &suppressed))
			LOG_WARN("udp lines dropped: addr=%s error=\"%s\" suppressed_warnings=%" PRIu64,
				 l->addr, strata_last_error(), suppressed);
	}
	return n;
}

static void *listener_main(void *arg)
{
	ingest_udp_listener *l = arg;

	while (!atomic_load(&l->stopping)) {
		struct pollfd pfd[2] = { { .fd = l->fd, .events = POLLIN }, { .fd = l->event_fd, .events = POLLIN } };
		int n = poll(pfd, 2, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			LOG_ERROR("udp listener poll failed: addr=%s error=\"%s\"", l->addr, strerror(errno));
			break;
		}
		if (pfd[1].revents)
			continue; /* stop: the loop condition sees it */
		if (pfd[0].revents) {
			/* Keep receiving while bursts come back full, a bounded number of times. */
			for (int r = 0; r < ROUNDS_PER_WAKE; r++)
				if (receive_burst(l) < (int)l->opt.batch_datagrams)
					break;
		}
	}
	for (int r = 0; r < DRAIN_MAX_ROUNDS; r++)
		if (receive_burst(l) <= 0)
			break;
	return NULL;
}

static void listener_free(ingest_udp_listener *l)
{
	if (l->fd >= 0)
		close(l->fd);
	if (l->event_fd >= 0)
		close(l->event_fd);
	strata_free(l->slots);
	strata_free(l->msgs);
	strata_free(l->recv_iov);
	strata_free(l->push_iov);
	strata_free(l->control);
	strata_free(l->addr);
	strata_free(l->db);
	strata_free(l);
}

int ingest_udp_listener_start(ingest_udp_listener **out, ingest_stream_batcher *b,
			      const ingest_udp_options *opt)
{
	ingest_udp_listener *l;
	ingest_udp_options def;
	uint32_t batch;
	int one = 1, rc;

	*out = NULL;
	ingest_udp_options_default(&def);
	l = strata_calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	l->fd = l->event_fd = -1;
	l->b = b;
	l->opt = opt ? *opt : def;
	if (!l->opt.addr)
		l->opt.addr = def.addr;
	if (!l->opt.db)
		l->opt.db = def.db;
	if (!l->opt.batch_datagrams)
		l->opt.batch_datagrams = def.batch_datagrams;
	if (l->opt.batch_datagrams > MAX_BATCH)
		l->opt.batch_datagrams = MAX_BATCH;
	batch = l->opt.batch_datagrams;
	l->control_len = CMSG_SPACE(sizeof(uint32_t));
	l->addr = strata_strdup(l->opt.addr);
	l->db = strata_strdup(l->opt.db);
	l->slots = strata_malloc((size_t)batch * SLOT_BYTES);
	l->msgs = strata_calloc(batch, sizeof *l->msgs);
	l->recv_iov = strata_calloc(batch, sizeof *l->recv_iov);
	l->push_iov = strata_calloc(batch, sizeof *l->push_iov);
	l->control = strata_calloc(batch, l->control_len);
	if (!l->addr || !l->db || !l->slots || !l->msgs || !l->recv_iov || !l->push_iov || !l->control) {
		rc = -ENOMEM;
		goto fail;
	}
	l->opt.addr = l->addr;
	l->opt.db = l->db;
	if (l->db[0] == '\0' || strlen(l->db) > LSM_CATALOG_NAME_MAX) {
		rc = strata_error(STRATA_EINVAL, "udp listener %s: bad database name '%s'", l->addr, l->db);
		goto fail;
	}

	rc = ingest_listener_bind(l->addr, SOCK_DGRAM, &l->fd);
	if (rc)
		goto fail;
	l->port = ingest_listener_local_port(l->fd);
	if (l->opt.rcvbuf_bytes) {
		int v = l->opt.rcvbuf_bytes > (uint32_t)INT32_MAX / 2 ? INT32_MAX / 2 : (int)l->opt.rcvbuf_bytes;

		if (setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v) != 0)
			LOG_DEBUG("udp listener: SO_RCVBUF %d refused: %s", v, strerror(errno));
	}
	if (setsockopt(l->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) != 0)
		LOG_DEBUG("udp listener: SO_RXQ_OVFL refused (kernel drops are not counted): %s", strerror(errno));
	l->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->event_fd < 0) {
		rc = strata_error(-errno, "udp listener %s: eventfd: %s", l->addr, strerror(errno));
		goto fail;
	}
	rc = -pthread_create(&l->thread, NULL, listener_main, l);
	if (rc) {
		strata_error(rc, "udp listener %s: cannot start its thread", l->addr);
		goto fail;
	}
	LOG_INFO("udp listener started: addr=%s port=%u db=%s", l->addr, (unsigned)l->port, l->db);
	*out = l;
	return 0;
fail:
	listener_free(l);
	return rc;
}

uint16_t ingest_udp_listener_port(const ingest_udp_listener *l)
{
	return l->port;
}

void ingest_udp_listener_stop(ingest_udp_listener *l)
{
	uint64_t one = 1;

	if (!l)
		return;
	atomic_store(&l->stopping, true);
	if (write(l->event_fd, &one, sizeof one) < 0)
		LOG_ERROR("udp listener stop: eventfd write failed: %s", strerror(errno));
	pthread_join(l->thread, NULL);
	LOG_INFO("udp listener stopped: addr=%s", l->addr);
	listener_free(l);
}

void ingest_udp_listener_get_stats(ingest_udp_listener *l, ingest_udp_stats *out)
{
	out->datagrams = atomic_load_explicit(&l->n_datagrams, memory_order_relaxed);
	out->bytes = atomic_load_explicit(&l->n_bytes, memory_order_relaxed);
	out->drops_truncated = atomic_load_explicit(&l->n_truncated, memory_order_relaxed);
	out->drops_kernel = atomic_load_explicit(&l->n_kernel_drops, memory_order_relaxed);
	out->lines_dropped = atomic_load_explicit(&l->n_dropped, memory_order_relaxed);
}
