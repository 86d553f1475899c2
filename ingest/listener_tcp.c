/*
 * listener_tcp.c — line protocol over TCP (listener_tcp.h): one epoll
 * thread for the listening socket and every connection.
 *
 * Why one thread: reading sockets is cheap next to parsing, which the
 * batcher's writers do; a single level-triggered epoll loop, one read per
 * ready connection per round, is fair between connections and simple to
 * stop cleanly.
 *
 * Reads land in one shared buffer of read_size bytes. The complete lines of
 * a read — joined to the partial line the connection carried from earlier
 * reads — go to the batcher as one chunk (two iovec pieces, copied there
 * once); the new partial tail is copied into the connection's small buffer.
 * So a connection owns only its unfinished line, not a read buffer.
 *
 * Line limit: read_size is at most max_line_bytes + 1, so a line contained
 * in one read always fits the limit; only the line continuing the carried
 * partial one needs a check. A line found too long is dropped; when its
 * newline has not arrived yet the connection discards bytes up to it.
 *
 * Backpressure: when the batcher is full (try_push says -EAGAIN) the
 * connection keeps the refused bytes, leaves epoll and joins the paused
 * list; the batcher writes our eventfd once it has written a batch, and the
 * loop then hands the paused connections' bytes over again, oldest first,
 * and puts those that succeed back into epoll. Nothing is read from a
 * paused connection, so the kernel's window holds its clients back.
 *
 * Memory: l->buffered counts the buffer capacity of every connection; a
 * partial line may grow only while it stays within max_buffered_bytes (the
 * refused complete lines of a paused connection are not held to it: one
 * read each at most, and they are there because we stopped, not the client).
 *
 * Idle connections: the active list is kept in order of last read (a read
 * moves a connection to the tail), so the sweep looks at the head only.
 * Paused connections are not idle (we are the ones not reading).
 *
 * Stop: the stopping flag and the eventfd end the loop; the thread then
 * accepts what is already in the backlog, closes the listening socket, hands
 * over every paused connection's lines, reads each connection until it has
 * nothing more (bounded), handing lines over with blocking pushes, and
 * closes everything.
 *
 * Threads: the listener thread owns the sockets, the lists, the
 * connections and the read buffer; stopping and the stats are atomics read
 * by any thread; port is set before the thread starts.
 */
#include "ingest/listener_tcp.h"
#include "ingest/address.h"
#include "lsm/alloc.h"
#include "lsm/log.h"
#include "lsm/status.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 128
#define ACCEPTS_PER_ROUND 256
#define DRAIN_MAX_READS 4096      /* per connection at stop */
#define ACCEPT_PAUSE_NS 100000000 /* after EMFILE and the like */
#define SHRINK_BYTES (64u << 10)  /* a partial-line buffer this big is freed once empty */

struct conn {
	int fd;
	char *buf;        /* the partial line; while paused, the refused complete lines first */
	size_t len;
	size_t cap;
	size_t complete;  /* while paused: bytes of buf that are complete lines */
	bool discarding;  /* dropping a too-long line up to its newline */
	bool paused;
	bool eof;
	int64_t last_ns;  /* monotonic time of the last read */
	uint8_t addr[16]; /* client address: IPv4 as v4-mapped IPv6, IPv6 by its /64 */
	struct conn *prev, *next;
	char peer[INET6_ADDRSTRLEN + 8];
};

struct conn_list {
	struct conn *head, *tail;
};

struct log_limit {
	int64_t last_ns;
	uint64_t suppressed;
};

struct ingest_tcp_listener {
	ingest_tcp_options opt;
	char *addr;
	char *db;
	ingest_stream_batcher *b;
	int listen_fd;
	int epoll_fd;
	int event_fd;
	uint16_t port;
	pthread_t thread;
	atomic_bool stopping;

	/* Listener thread only. */
	char *rbuf;
	size_t read_size;
	struct conn_list active;  /* in epoll, least recently read first */
	struct conn_list paused;  /* out of epoll, waiting for batcher space, oldest first */
	uint32_t n_conns;
	size_t buffered;          /* capacity of every connection's buffer */
	bool accept_paused;
	int64_t accept_resume_ns;
	struct log_limit ll_reject, ll_long, ll_drop, ll_accept, ll_budget;

	/* Stats: any thread reads. */
	atomic_uint_fast64_t n_accepted, n_rejected, n_open, n_idle_closed, n_bytes,
		n_too_long, n_dropped, n_partial_dropped, n_pauses;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void stat_add(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

void ingest_tcp_options_default(ingest_tcp_options *out)
{
	memset(out, 0, sizeof *out);
	out->addr = "127.0.0.1:8089";
	out->db = "strata";
	out->max_connections = 1024;
	out->max_connections_per_ip = 256;
	out->max_buffered_bytes = (size_t)64 << 20;
	out->max_line_bytes = 1u << 20;
	out->read_bytes = 64u << 10;
	out->idle_timeout_ms = 300000;
	out->log_interval_ms = 10000;
}

/* ---- addresses ---- */

int ingest_listener_bind(const char *addr, int socktype, int *out_fd)
{
	struct sockaddr_storage sa;
	socklen_t sa_len;
	int fd, rc, one = 1;

	*out_fd = -1;
	rc = ingest_parse_addr(addr, &sa, &sa_len);
	if (rc)
		return rc;
	fd = socket(sa.ss_family, socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		rc = -errno;
	else if (socktype == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
		rc = -errno;
	else if (bind(fd, (struct sockaddr *)&sa, sa_len) != 0)
		rc = -errno;
	else if (socktype == SOCK_STREAM && listen(fd, SOMAXCONN) != 0)
		rc = -errno;
	if (rc) {
		if (fd >= 0)
			close(fd);
		return strata_error(rc, "cannot listen on %s %s: %s", socktype == SOCK_STREAM ? "tcp" : "udp",
				    addr, strerror(-rc));
	}
	*out_fd = fd;
	return 0;
}

uint16_t ingest_listener_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

static void format_peer(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
		port = ntohs(a->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
		port = ntohs(a->sin6_port);
	}
	snprintf(out, cap, "%s:%u", ip, port);
}

/* The key of a client address for the per-address limit: IPv4 v4-mapped, IPv6 by its /64. */
static void addr_key(const struct sockaddr_storage *ss, uint8_t out[16])
{
	memset(out, 0, 16);
	if (ss->ss_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
		if (memcmp(out, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) != 0)
			memset(out + 8, 0, 8);
	}
}

/* ---- helpers ---- */

/* True when a warning may be logged now; *out_suppressed says how many were not. */
static bool log_ok(ingest_tcp_listener *l, struct log_limit *ll, uint64_t *out_suppressed)
{
	int64_t now = mono_ns();

	if (ll->last_ns != 0 && now - ll->last_ns < (int64_t)l->opt.log_interval_ms * 1000000) {
		ll->suppressed++;
		return false;
	}
	ll->last_ns = now;
	*out_suppressed = ll->suppressed;
	ll->suppressed = 0;
	return true;
}

static uint64_t count_newlines(const char *p, size_t n)
{
	const char *end = p + n;
	uint64_t c = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		c++;
		p++;
	}
	return c;
}

static void list_append(struct conn_list *list, struct conn *c)
{
	c->next = NULL;
	c->prev = list->tail;
	if (list->tail)
		list->tail->next = c;
	else
		list->head = c;
	list->tail = c;
}

static void list_remove(struct conn_list *list, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		list->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		list->tail = c->prev;
	c->prev = c->next = NULL;
}

static void conn_close(ingest_tcp_listener *l, struct conn *c)
{
	list_remove(c->paused ? &l->paused : &l->active, c);
	/* Counted first: whoever sees the close sees the stats that go with it. */
	l->n_conns--;
	atomic_fetch_sub_explicit(&l->n_open, 1, memory_order_relaxed);
	close(c->fd); /* also leaves epoll */
	l->buffered -= c->cap;
	strata_free(c->buf);
	strata_free(c);
}

/*
 * Makes room for need more bytes (plus one for a final newline). -ENOMEM;
 * -ENOBUFS when budgeted and the buffers of all connections would pass
 * max_buffered_bytes.
 */
static int conn_reserve(ingest_tcp_listener *l, struct conn *c, size_t need, bool budgeted)
{
	size_t cap = c->cap ? c->cap : 256;
	char *nb;

	if (c->len + need + 1 <= c->cap)
		return 0;
	while (cap < c->len + need + 1)
		cap *= 2;
	if (budgeted && l->buffered + (cap - c->cap) > l->opt.max_buffered_bytes)
		return -ENOBUFS;
	nb = strata_realloc(c->buf, cap);
	if (!nb)
		return -ENOMEM;
	l->buffered += cap - c->cap;
	c->buf = nb;
	c->cap = cap;
	return 0;
}

static void conn_shrink(ingest_tcp_listener *l, struct conn *c)
{
	if (c->len == 0 && c->cap > SHRINK_BYTES) {
		l->buffered -= c->cap;
		strata_free(c->buf);
		c->buf = NULL;
		c->cap = 0;
	}
}

static void drop_partial(ingest_tcp_listener *l, struct conn *c)
{
	if (c->len > 0 && !c->discarding)
		stat_add(&l->n_partial_dropped, 1);
	c->len = 0;
}

static void too_long(ingest_tcp_listener *l, struct conn *c)
{
	uint64_t suppressed = 0;

	stat_add(&l->n_too_long, 1);
	if (log_ok(l, &l->ll_long, &suppressed))
		LOG_WARN("tcp line dropped: peer=%s reason=\"longer than %" PRIu32 " bytes\" suppressed_warnings=%" PRIu64,
			 c->peer, l->opt.max_line_bytes, suppressed);
}

/*
 * Hands c->buf[0..head_len) followed by data[0..n) (complete lines) to the
 * batcher. 0: taken (or dropped, when the batcher refused them for good);
 * -EAGAIN: the batcher is full (only when !block).
 */
static int hand_over(ingest_tcp_listener *l, struct conn *c, size_t head_len, const char *data, size_t n,
		     bool block)
{
	struct iovec iov[2] = { { c->buf, head_len }, { (void *)data, n } };
	uint64_t suppressed = 0;
	int rc;

	if (block)
		rc = ingest_stream_batcher_pushv(l->b, l->db, iov, 2);
	else
		rc = ingest_stream_batcher_try_pushv(l->b, l->db, iov, 2, l->event_fd);
	if (rc == 0 || rc == -EAGAIN)
		return rc;
	stat_add(&l->n_dropped, count_newlines(c->buf, head_len) + count_newlines(data, n));
	if (log_ok(l, &l->ll_drop, &suppressed))
		LOG_WARN("tcp lines dropped: peer=%s error=\"%s\" suppressed_warnings=%" PRIu64,
			 c->peer, strata_last_error(), suppressed);
	return 0;
}

static void conn_pause(ingest_tcp_listener *l, struct conn *c)
{
	epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	list_remove(&l->active, c);
	c->paused = true;
	list_append(&l->paused, c);
	stat_add(&l->n_pauses, 1);
}

/*
 * Takes n bytes just read from c: hands the complete lines over, keeps the
 * partial tail, enforces the line limit. With !block the connection may end
 * up paused, holding what the batcher refused.
 */
static void conn_take(ingest_tcp_listener *l, struct conn *c, const char *data, size_t n, bool block)
{
	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t k;
		int rc;

		if (c->discarding) {
			if (!nl)
				return;
			k = (size_t)(nl - data) + 1;
			data += k;
			n -= k;
			c->discarding = false;
			continue;
		}
		if (!nl) {
			if (c->len + n > l->opt.max_line_bytes) {
				too_long(l, c);
				c->len = 0;
				c->discarding = true;
				conn_shrink(l, c);
			} else if ((rc = conn_reserve(l, c, n, true)) != 0) {
				uint64_t suppressed = 0;

				stat_add(&l->n_partial_dropped, 1);
				if (rc == -ENOBUFS && log_ok(l, &l->ll_budget, &suppressed))
					LOG_WARN("tcp line dropped: peer=%s reason=\"partial lines of all connections past "
						 "%zu bytes\" suppressed_warnings=%" PRIu64, c->peer,
						 l->opt.max_buffered_bytes, suppressed);
				c->len = 0;
				c->discarding = true;
				conn_shrink(l, c);
			} else {
				memcpy(c->buf + c->len, data, n);
				c->len += n;
			}
			return;
		}
		k = (size_t)(nl - data);
		if (c->len + k > l->opt.max_line_bytes) {
			/* The carried partial line ends here, too long: drop it with its end. */
			too_long(l, c);
			c->len = 0;
			data += k + 1;
			n -= k + 1;
			continue;
		}
		k = (size_t)((const char *)memrchr(data, '\n', n) - data) + 1;
		if (hand_over(l, c, c->len, data, k, block) == -EAGAIN) {
			size_t head = c->len;

			if (conn_reserve(l, c, n, false) != 0) {
				/* Cannot keep the refused lines: drop them rather than stall. */
				stat_add(&l->n_dropped, count_newlines(c->buf, c->len) + count_newlines(data, k));
				c->len = 0;
				data += k;
				n -= k;
				continue;
			}
			memcpy(c->buf + c->len, data, n);
			c->len += n;
			c->complete = head + k;
			conn_pause(l, c);
			return;
		}
		c->len = 0;
		conn_shrink(l, c);
		data += k;
		n -= k;
	}
}

/* The peer closed its side: its last line ends here, newline or not. */
static void conn_eof(ingest_tcp_listener *l, struct conn *c, bool block)
{
	c->eof = true;
	if (c->discarding || c->len == 0) {
		conn_close(l, c);
		return;
	}
	/* conn_reserve always leaves a byte for this newline. */
	c->buf[c->len++] = '\n';
	if (hand_over(l, c, c->len, NULL, 0, block) == -EAGAIN) {
		c->complete = c->len;
		conn_pause(l, c);
		return;
	}
	conn_close(l, c);
}

/* Reads once from c. Returns the bytes read, 0 at end of stream or after an error (c closed), -1 nothing now. */
static ssize_t conn_read(ingest_tcp_listener *l, struct conn *c, bool block)
{
	ssize_t n = read(c->fd, l->rbuf, l->read_size);

	if (n > 0) {
		stat_add(&l->n_bytes, (uint64_t)n);
		c->last_ns = mono_ns();
		if (!block) {
			list_remove(&l->active, c);
			list_append(&l->active, c);
		}
		conn_take(l, c, l->rbuf, (size_t)n, block);
		return n;
	}
	if (n == 0) {
		conn_eof(l, c, block);
		return 0;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return -1;
	LOG_DEBUG("tcp connection error: peer=%s error=\"%s\"", c->peer, strerror(errno));
	drop_partial(l, c);
	conn_close(l, c);
	return 0;
}

/* ---- the loop ---- */

/* Connections open from the address key (stops counting at limit). */
static uint32_t conns_from(ingest_tcp_listener *l, const uint8_t key[16], uint32_t limit)
{
	const struct conn_list *lists[2] = { &l->active, &l->paused };
	uint32_t n = 0;

	for (int i = 0; i < 2; i++)
		for (const struct conn *c = lists[i]->head; c && n < limit; c = c->next)
			n += memcmp(c->addr, key, 16) == 0;
	return n;
}

static void accept_all(ingest_tcp_listener *l)
{
	for (int i = 0; i < ACCEPTS_PER_ROUND; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		struct epoll_event ev = { .events = EPOLLIN };
		uint64_t suppressed = 0;
		uint8_t key[16];
		struct conn *c;
		int fd = accept4(l->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (log_ok(l, &l->ll_accept, &suppressed))
				LOG_WARN("tcp accept failed, pausing accepts: addr=%s error=\"%s\" suppressed_warnings=%" PRIu64,
					 l->addr, strerror(errno), suppressed);
			/* EMFILE and the like: the socket stays readable; look away for a while. */
			if (!l->accept_paused && epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, l->listen_fd, NULL) == 0) {
				l->accept_paused = true;
				l->accept_resume_ns = mono_ns() + ACCEPT_PAUSE_NS;
			}
			return;
		}
		if (l->n_conns >= l->opt.max_connections) {
			char peer[INET6_ADDRSTRLEN + 8];

			stat_add(&l->n_rejected, 1);
			close(fd);
			if (log_ok(l, &l->ll_reject, &suppressed)) {
				format_peer(&ss, peer, sizeof peer);
				LOG_WARN("tcp connection refused: peer=%s reason=\"%" PRIu32 " connections open\""
					 " suppressed_warnings=%" PRIu64, peer, l->opt.max_connections, suppressed);
			}
			continue;
		}
		addr_key(&ss, key);
		if (l->opt.max_connections_per_ip != UINT32_MAX &&
		    conns_from(l, key, l->opt.max_connections_per_ip) >= l->opt.max_connections_per_ip) {
			char peer[INET6_ADDRSTRLEN + 8];

			stat_add(&l->n_rejected, 1);
			close(fd);
			if (log_ok(l, &l->ll_reject, &suppressed)) {
				format_peer(&ss, peer, sizeof peer);
				LOG_WARN("tcp connection refused: peer=%s reason=\"%" PRIu32 " connections open from this "
					 "address\" suppressed_warnings=%" PRIu64, peer, l->opt.max_connections_per_ip,
					 suppressed);
			}
			continue;
		}
		c = strata_calloc(1, sizeof *c);
		if (!c) {
			close(fd);
			stat_add(&l->n_rejected, 1);
			continue;
		}
		c->fd = fd;
		memcpy(c->addr, key, 16);
		c->last_ns = mono_ns();
		format_peer(&ss, c->peer, sizeof c->peer);
		ev.data.ptr = c;
		if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			close(fd);
			strata_free(c);
			stat_add(&l->n_rejected, 1);
			continue;
		}
		list_append(&l->active, c);
		l->n_conns++;
		stat_add(&l->n_accepted, 1);
		stat_add(&l->n_open, 1);
	}
}

/* The batcher has room again: hand over what paused connections hold, oldest first. */
static void resume_paused(ingest_tcp_listener *l)
{
	struct conn *c;

	while ((c = l->paused.head) != NULL) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		if (hand_over(l, c, c->complete, NULL, 0, false) == -EAGAIN)
			return;
		memmove(c->buf, c->buf + c->complete, c->len - c->complete);
		c->len -= c->complete;
		c->complete = 0;
		if (c->eof) {
			conn_close(l, c);
			continue;
		}
		list_remove(&l->paused, c);
		c->paused = false;
		c->last_ns = mono_ns();
		list_append(&l->active, c);
		if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
			drop_partial(l, c);
			conn_close(l, c);
		}
	}
}

static void idle_sweep(ingest_tcp_listener *l, int64_t now)
{
	int64_t idle_ns = (int64_t)l->opt.idle_timeout_ms * 1000000;
	struct conn *c;

	if (l->opt.idle_timeout_ms == 0)
		return;
	while ((c = l->active.head) != NULL && now - c->last_ns >= idle_ns) {
		LOG_DEBUG("tcp connection idle, closing: peer=%s", c->peer);
		stat_add(&l->n_idle_closed, 1);
		drop_partial(l, c);
		conn_close(l, c);
	}
}

/* At stop: everything pending is read and handed over (blocking), then closed. */
static void drain(ingest_tcp_listener *l)
{
	struct conn *c;

	if (!l->accept_paused)
		accept_all(l);
	epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, l->listen_fd, NULL);
	close(l->listen_fd);
	l->listen_fd = -1;
	while ((c = l->paused.head) != NULL) {
		hand_over(l, c, c->complete, NULL, 0, true);
		memmove(c->buf, c->buf + c->complete, c->len - c->complete);
		c->len -= c->complete;
		c->complete = 0;
		list_remove(&l->paused, c);
		c->paused = false;
		list_append(&l->active, c);
		if (c->eof)
			conn_close(l, c);
	}
	while ((c = l->active.head) != NULL) {
		ssize_t n = -1;

		for (int i = 0; i < DRAIN_MAX_READS; i++) {
			n = conn_read(l, c, true);
			if (n <= 0)
				break;
		}
		if (n != 0) {
			/* Still open: a line the client has not finished is dropped. */
			drop_partial(l, c);
			conn_close(l, c);
		}
	}
}

static void *listener_main(void *arg)
{
	ingest_tcp_listener *l = arg;
	struct epoll_event evs[MAX_EVENTS];

	while (!atomic_load(&l->stopping)) {
		int timeout = 1000, n;
		int64_t now;

		if (l->opt.idle_timeout_ms && l->opt.idle_timeout_ms < (uint32_t)timeout)
			timeout = (int)l->opt.idle_timeout_ms;
		if (l->accept_paused)
			timeout = ACCEPT_PAUSE_NS / 1000000;
		n = epoll_wait(l->epoll_fd, evs, MAX_EVENTS, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			LOG_ERROR("tcp listener epoll_wait failed: addr=%s error=\"%s\"", l->addr, strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == NULL) {
				accept_all(l);
			} else if (p == &l->event_fd) {
				uint64_t v;

				if (read(l->event_fd, &v, sizeof v) < 0 && errno != EAGAIN)
					LOG_ERROR("tcp listener eventfd read failed: %s", strerror(errno));
				resume_paused(l);
			} else {
				conn_read(l, p, false);
			}
		}
		now = mono_ns();
		idle_sweep(l, now);
		if (l->accept_paused && now >= l->accept_resume_ns) {
			struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

			if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, l->listen_fd, &ev) == 0)
				l->accept_paused = false;
			else
				l->accept_resume_ns = now + ACCEPT_PAUSE_NS;
		}
	}
	drain(l);
	return NULL;
}

/* ---- lifecycle ---- */

static void listener_free(ingest_tcp_listener *l)
{
	if (l->listen_fd >= 0)
		close(l->listen_fd);
	if (l->epoll_fd >= 0)
		close(l->epoll_fd);
	if (l->event_fd >= 0) {
		ingest_stream_batcher_forget_wake_fd(l->b, l->event_fd);
		close(l->event_fd);
	}
	strata_free(l->rbuf);
	strata_free(l->addr);
	strata_free(l->db);
	strata_free(l);
}

int ingest_tcp_listener_start(ingest_tcp_listener **out, ingest_stream_batcher *b,
			      const ingest_tcp_options *opt)
{
	ingest_tcp_listener *l;
	struct epoll_event ev = { .events = EPOLLIN };
	ingest_tcp_options def;
	int rc;

	*out = NULL;
	ingest_tcp_options_default(&def);
	l = strata_calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	l->listen_fd = l->epoll_fd = l->event_fd = -1;
	l->b = b;
	l->opt = opt ? *opt : def;
	if (!l->opt.addr)
		l->opt.addr = def.addr;
	if (!l->opt.db)
		l->opt.db = def.db;
	if (!l->opt.max_connections)
		l->opt.max_connections = def.max_connections;
	if (!l->opt.max_line_bytes)
		l->opt.max_line_bytes = def.max_line_bytes;
	if (!l->opt.max_connections_per_ip)
		l->opt.max_connections_per_ip = def.max_connections_per_ip;
	if (!l->opt.max_buffered_bytes)
		l->opt.max_buffered_bytes = def.max_buffered_bytes;
	if (!l->opt.read_bytes)
		l->opt.read_bytes = def.read_bytes;
	l->read_size = l->opt.read_bytes;
	if (l->read_size > (size_t)l->opt.max_line_bytes + 1)
		l->read_size = (size_t)l->opt.max_line_bytes + 1;
	l->addr = strata_strdup(l->opt.addr);
	l->db = strata_strdup(l->opt.db);
	l->rbuf = strata_malloc(l->read_size);
	if (!l->addr || !l->db || !l->rbuf) {
		rc = -ENOMEM;
		goto fail;
	}
	l->opt.addr = l->addr;
	l->opt.db = l->db;
	if (l->db[0] == '\0' || strlen(l->db) > LSM_CATALOG_NAME_MAX) {
		rc = strata_error(STRATA_EINVAL, "tcp listener %s: bad database name '%s'", l->addr, l->db);
		goto fail;
	}

	rc = ingest_listener_bind(l->addr, SOCK_STREAM, &l->listen_fd);
	if (rc)
		goto fail;
	l->port = ingest_listener_local_port(l->listen_fd);
	l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epoll_fd < 0) {
		rc = strata_error(-errno, "tcp listener %s: epoll_create1: %s", l->addr, strerror(errno));
		goto fail;
	}
	l->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->event_fd < 0) {
		rc = strata_error(-errno, "tcp listener %s: eventfd: %s", l->addr, strerror(errno));
		goto fail;
	}
	ev.data.ptr = NULL;
	if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, l->listen_fd, &ev) != 0) {
		rc = strata_error(-errno, "tcp listener %s: epoll_ctl: %s", l->addr, strerror(errno));
		goto fail;
	}
	ev.data.ptr = &l->event_fd;
	if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, l->event_fd, &ev) != 0) {
		rc = strata_error(-errno, "tcp listener %s: epoll_ctl: %s", l->addr, strerror(errno));
		goto fail;
	}
	rc = -pthread_create(&l->thread, NULL, listener_main, l);
	if (rc) {
		strata_error(rc, "tcp listener %s: cannot start its thread", l->addr);
		goto fail;
	}
	LOG_INFO("tcp listener started: addr=%s port=%u db=%s", l->addr, (unsigned)l->port, l->db);
	*out = l;
	return 0;
fail:
	listener_free(l);
	return rc;
}

uint16_t ingest_tcp_listener_port(const ingest_tcp_listener *l)
{
	return l->port;
}

void ingest_tcp_listener_stop(ingest_tcp_listener *l)
{
	uint64_t one = 1;

	if (!l)
		return;
	atomic_store(&l->stopping, true);
	if (write(l->event_fd, &one, sizeof one) < 0)
		LOG_ERROR("tcp listener stop: eventfd write failed: %s", strerror(errno));
	pthread_join(l->thread, NULL);
	LOG_INFO("tcp listener stopped: addr=%s", l->addr);
	listener_free(l);
}

void ingest_tcp_listener_get_stats(ingest_tcp_listener *l, ingest_tcp_stats *out)
{
	out->connections_accepted = atomic_load_explicit(&l->n_accepted, memory_order_relaxed);
	out->connections_rejected = atomic_load_explicit(&l->n_rejected, memory_order_relaxed);
	out->connections_open = atomic_load_explicit(&l->n_open, memory_order_relaxed);
	out->connections_idle_closed = atomic_load_explicit(&l->n_idle_closed, memory_order_relaxed);
	out->bytes_read = atomic_load_explicit(&l->n_bytes, memory_order_relaxed);
	out->lines_too_long = atomic_load_explicit(&l->n_too_long, memory_order_relaxed);
	out->lines_dropped = atomic_load_explicit(&l->n_dropped, memory_order_relaxed);
	out->partial_dropped = atomic_load_explicit(&l->n_partial_dropped, memory_order_relaxed);
	out->read_pauses = atomic_load_explicit(&l->n_pauses, memory_order_relaxed);
}
