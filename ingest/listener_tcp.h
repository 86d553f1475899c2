/*
 * listener_tcp.h — line protocol over TCP: newline-delimited lines, many
 * concurrent connections, no reply.
 *
 * One thread runs an epoll loop over the listening socket and every
 * connection. Complete lines go to a stream batcher (which makes them
 * durable within one group-commit interval); a partial last line waits for
 * the rest. A line longer than max_line_bytes is dropped (logged and
 * counted) and the connection goes on after its newline. When the batcher
 * is full the listener stops reading (the kernel's receive window then
 * pushes back on the clients), so memory is bounded by the configuration:
 * one read buffer, plus per connection at most max_line_bytes of partial
 * line and one read of complete lines waiting for the batcher; and the
 * partial lines of all connections together at most max_buffered_bytes
 * (past it, the line that would grow is dropped), so that many
 * connections each sending one huge unfinished line cannot multiply
 * max_line_bytes by max_connections. At most max_connections_per_ip
 * connections come from one client address (an IPv6 one by its /64).
 *
 * A peer that closes its side ends its last line, newline or not. Idle
 * connections are closed after idle_timeout_ms.
 *
 * Threads: start, port and get_stats from any thread; stop once.
 */
#ifndef STRATA_INGEST_LISTENER_TCP_H
#define STRATA_INGEST_LISTENER_TCP_H

#include "ingest/stream_batcher.h"

#include <stdint.h>
#include <sys/socket.h>

typedef struct ingest_tcp_listener ingest_tcp_listener;

typedef struct ingest_tcp_options {
	const char *addr;           /* "host:port", "[v6]:port"; port 0 picks a free port (127.0.0.1:8089) */
	const char *db;             /* database the lines are written to ("strata") */
	uint32_t max_connections;   /* more are accepted and closed at once, with a log line (1024) */
	uint32_t max_connections_per_ip; /* from one client address, likewise (256; UINT32_MAX: no limit) */
	size_t max_buffered_bytes;  /* partial lines of all connections together (64 MiB) */
	uint32_t max_line_bytes;    /* longer lines are dropped (1 MiB) */
	uint32_t read_bytes;        /* bytes per read (64 KiB; at most max_line_bytes + 1) */
	uint32_t idle_timeout_ms;   /* close connections silent this long; 0 never (300000) */
	uint32_t log_interval_ms;   /* at most one warning per kind this often (10000) */
} ingest_tcp_options;

void ingest_tcp_options_default(ingest_tcp_options *out);

/*
 * Binds opt->addr, listens, and starts the listener thread, which hands
 * lines to b (borrowed: it must outlive the listener; one batcher may serve
 * several listeners). Strings in opt are copied. STRATA_EINVAL for a bad
 * address or database name (the message says why), -errno from socket, bind (-EADDRINUSE),
 * listen or pthread_create; the message names the address.
 */
int ingest_tcp_listener_start(ingest_tcp_listener **out, ingest_stream_batcher *b,
			      const ingest_tcp_options *opt);

/* The bound port (the one picked when opt->addr asked for port 0). */
uint16_t ingest_tcp_listener_port(const ingest_tcp_listener *l);

/*
 * Stops accepting, reads what each connection has pending (a bounded
 * amount), hands every complete line to the batcher (waiting for space),
 * closes the connections, joins the thread and frees l. A partial line of a
 * connection still open is dropped (counted). Call before stopping the
 * batcher. NULL is fine.
 */
void ingest_tcp_listener_stop(ingest_tcp_listener *l);

typedef struct ingest_tcp_stats {
	uint64_t connections_accepted;
	uint64_t connections_rejected;  /* over max_connections or max_connections_per_ip */
	uint64_t connections_open;      /* now */
	uint64_t connections_idle_closed;
	uint64_t bytes_read;
	uint64_t lines_too_long;        /* dropped: longer than max_line_bytes */
	uint64_t lines_dropped;         /* dropped: the batcher refused them (stopping, no memory) */
	uint64_t partial_dropped;       /* unfinished lines dropped at reset, idle close or stop, or past
					   max_buffered_bytes */
	uint64_t read_pauses;           /* times a connection stopped reading because the batcher was full */
} ingest_tcp_stats;

void ingest_tcp_listener_get_stats(ingest_tcp_listener *l, ingest_tcp_stats *out);

/*
 * Shared by the stream listeners: parses "host:port" ("[v6]:port"; an empty
 * host means every interface; a name is resolved), makes a non-blocking
 * close-on-exec socket of socktype (SOCK_STREAM: with SO_REUSEADDR, then
 * listening) and binds it. 0 with *out_fd, STRATA_EINVAL, -errno.
 */
int ingest_listener_bind(const char *addr, int socktype, int *out_fd);

/* The local port of a bound socket, or 0. */
uint16_t ingest_listener_local_port(int fd);

#endif
