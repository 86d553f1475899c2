/*
 * listener_udp.h — line protocol over UDP: each datagram holds one or more
 * lines (the last one may lack its newline), no reply.
 *
 * One thread receives datagrams in bursts (recvmmsg) and hands each burst
 * to a stream batcher as one chunk, which makes the lines durable within one
 * group-commit interval. When the batcher is full the thread waits for it;
 * meanwhile the kernel's receive buffer fills and then drops datagrams,
 * which are counted (SO_RXQ_OVFL): UDP has no other way to push back.
 *
 * Threads: start, port and get_stats from any thread; stop once.
 */
#ifndef STRATA_INGEST_LISTENER_UDP_H
#define STRATA_INGEST_LISTENER_UDP_H

#include "ingest/stream_batcher.h"

#include <stdint.h>

typedef struct ingest_udp_listener ingest_udp_listener;

#define INGEST_UDP_MAX_DATAGRAM 65536

typedef struct ingest_udp_options {
	const char *addr;          /* "host:port", "[v6]:port"; port 0 picks a free port (127.0.0.1:8089) */
	const char *db;            /* database the lines are written to ("strata") */
	uint32_t batch_datagrams;  /* datagrams per receive call and per chunk handed over (32) */
	uint32_t rcvbuf_bytes;     /* SO_RCVBUF asked for, capped by net.core.rmem_max; 0: system default (8 MiB) */
	uint32_t log_interval_ms;  /* at most one warning per kind this often (10000) */
} ingest_udp_options;

void ingest_udp_options_default(ingest_udp_options *out);

/*
 * Binds opt->addr and starts the receiving thread, which hands lines to b
 * (borrowed: it must outlive the listener). Strings in opt are copied.
 * STRATA_EINVAL for a bad address or database name, -errno (-EADDRINUSE, ...); the message
 * names the address.
 */
int ingest_udp_listener_start(ingest_udp_listener **out, ingest_stream_batcher *b,
			      const ingest_udp_options *opt);

/* The bound port (the one picked when opt->addr asked for port 0). */
uint16_t ingest_udp_listener_port(const ingest_udp_listener *l);

/*
 * Receives what is already queued on the socket (bounded), hands it to the
 * batcher (waiting for space), closes the socket, joins the thread and
 * frees l. Call before stopping the batcher. NULL is fine.
 */
void ingest_udp_listener_stop(ingest_udp_listener *l);

typedef struct ingest_udp_stats {
	uint64_t datagrams;        /* received (including those dropped below) */
	uint64_t bytes;
	uint64_t drops_truncated;  /* larger than INGEST_UDP_MAX_DATAGRAM: dropped */
	uint64_t drops_kernel;     /* dropped by the kernel: receive buffer full (SO_RXQ_OVFL) */
	uint64_t lines_dropped;    /* the batcher refused them (stopping, no memory) */
} ingest_udp_stats;

void ingest_udp_listener_get_stats(ingest_udp_listener *l, ingest_udp_stats *out);

#endif
