/*
 * query_writer.h — the writer that SELECT ... INTO uses (query_write_fn of
 * query/exec.h), over an ingest session: points go through the same write
 * path as /write (catalog, WAL, group commit, durable when acknowledged).
 */
#ifndef STRATA_TOOLS_QUERY_WRITER_H
#define STRATA_TOOLS_QUERY_WRITER_H

#include "ingest/writer.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct query_writer {
	pthread_mutex_t mu; /* one session, shared by the query threads */
	ingest_session *session;
} query_writer;

int query_writer_init(query_writer *w, ingest_engine *e);
void query_writer_deinit(query_writer *w);

/* A query_write_fn: ctx is a query_writer. */
int query_writer_write(void *ctx, const char *db, const char *lines, size_t len, uint64_t *written);

#endif
