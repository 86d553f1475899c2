/*
 * exec.h — running InfluxQL statements against a database directory's
 * engine and catalog, writing InfluxDB 1.x results (output.h).
 *
 *   query_engine *qe;
 *   query_engine_new(&qe, db, catalog, NULL);
 *   query_run(qe, text, len, &(query_request){ .db = "telegraf" }, out);
 *
 * Each statement runs on its own: an error in one (unknown database, bad
 * field, a limit reached) is written as that statement's "error" and the
 * next statement still runs, as InfluxDB does. Only a parse error fails the
 * whole request.
 *
 * Reads pin a snapshot per series scan (lsm_db_iter) and never block
 * writes, flushes or compactions; any number of queries may run at once.
 *
 * Limits (query_limits) bound what one statement may cost: series
 * selected, points read, GROUP BY time buckets, values buffered by an
 * aggregate, and run time. Reaching one ends the statement with an error
 * that names the limit.
 */
#ifndef STRATA_QUERY_EXEC_H
#define STRATA_QUERY_EXEC_H

#include "lsm/catalog.h"
#include "lsm/lsm.h"
#include "query/ast.h"
#include "query/output.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Per-statement limits; 0 in a field means no limit. */
typedef struct query_limits {
	uint64_t max_series;  /* series a SELECT may read (default 0) */
	uint64_t max_points;  /* points a SELECT may read (default 0) */
	uint64_t max_buckets; /* GROUP BY time buckets per series (default 1,000,000) */
	size_t max_values;    /* values one aggregate may buffer: median, distinct... (default 1 Mi) */
	int64_t timeout_ns;   /* run time of one query text (default 0) */
	uint64_t max_rows;    /* rows a statement may return (default 0) */
	/* Not a limit: one-series groups from which a statement runs on two threads (default 32). */
	size_t parallel_min_groups;
} query_limits;

void query_limits_default(query_limits *out);

typedef struct query_engine query_engine;

/*
 * An engine answers queries over db and catalog (both owned by the caller
 * and outliving the engine). limits may be NULL for the defaults.
 * 0 or -ENOMEM.
 */
int query_engine_new(query_engine **out, lsm_db *db, lsm_catalog *catalog, const query_limits *limits);
void query_engine_free(query_engine *e);

/*
 * Writes line protocol (nanosecond timestamps) into retention policy rp of
 * database db (rp NULL: the default policy): how SELECT ... INTO stores
 * its rows. *written counts the points stored. 0, or an error whose
 * message is set (bad lines are an error too).
 */
typedef int (*query_write_fn)(void *ctx, const char *db, const char *rp, const char *lines, size_t len,
			      uint64_t *written);

/* Lets SELECT ... INTO write (without a writer it answers an error). */
void query_engine_set_writer(query_engine *e, query_write_fn write, void *ctx);

typedef struct query_request {
	const char *db;   /* the db= parameter: database of statements that name none; may be NULL */
	const char *rp;   /* the rp= parameter; may be NULL */
	int64_t now_ns;   /* now() of the query; 0: the real-time clock at the call */
	/* Set by another thread when nobody waits for the answer any more: the query stops; may be NULL. */
	const atomic_bool *cancel;
} query_request;

/*
 * Runs the statements of ast in order, writing the whole response to out
 * (query_output_begin_results ... end_results). Returns 0, or the output
 * writer's error (the response is then incomplete).
 */
int query_execute(query_engine *e, const query_ast *ast, const query_request *req, query_output *out);

/*
 * Parses text[0..len) and runs it. A parse error is written as the
 * request's error (query_output_error) and returned (STRATA_EINVAL or
 * STRATA_ETOOBIG): HTTP answers it with 400. Otherwise as query_execute.
 */
int query_run(query_engine *e, const char *text, size_t len, const query_request *req, query_output *out);

#endif
