/*
 * into.h — the rows of SELECT ... INTO (and of continuous queries) turned
 * back into points: line protocol handed to the engine's writer
 * (query_engine_set_writer) in bounded batches.
 *
 * A row becomes one point of the target measurement: the GROUP BY tags
 * are its tags, every non-null column a field of that name (floats,
 * integers "i", unsigned "u", strings quoted, booleans; NaN and ±Inf,
 * which line protocol cannot carry, are left out), the row's time its
 * timestamp in nanoseconds. A row without any field is no point.
 */
#ifndef STRATA_QUERY_INTO_H
#define STRATA_QUERY_INTO_H

#include "query/aggregate.h"
#include "query/exec.h"
#include "query/output.h"

#include <stddef.h>
#include <stdint.h>

typedef struct query_into {
	query_write_fn write;
	void *write_ctx;
	const char *db;    /* target database */
	const char *rp;    /* and policy (NULL: its default) */
	char *buf;         /* pending line protocol */
	size_t len, cap;
	uint64_t written;  /* points the writer took */
} query_into;

void query_into_init(query_into *t, query_write_fn write, void *ctx, const char *db, const char *rp);
/* Appends one row (see above); flushes past a bounded batch. 0 or the writer's error. */
int query_into_row(query_into *t, const char *measurement, const query_output_tag *tags, size_t n_tags,
		   const char *const *columns, const query_value *vals, size_t n, int64_t time_ns);
/* Hands the pending lines to the writer. */
int query_into_flush(query_into *t);
void query_into_deinit(query_into *t);

#endif
