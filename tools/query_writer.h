/*
 * query_writer.h — the writer that SELECT ... INTO uses (query_write_fn of
 * query/exec.h), over the ingest engine: points go through the same write
 * path as /write (catalog, WAL, group commit, durable when acknowledged).
 */
#ifndef STRATA_TOOLS_QUERY_WRITER_H
#define STRATA_TOOLS_QUERY_WRITER_H

#include "ingest/writer.h"

#include <stddef.h>
#include <stdint.h>

/*
 * A query_write_fn: ctx is the ingest_engine. Each call writes through a
 * session of its own, so queries on several threads never wait for each
 * other's WAL syncs (INTO is rare; a session costs a few allocations).
 */
int query_writer_write(void *ctx, const char *db, const char *rp, const char *lines, size_t len, uint64_t *written);

#endif
