/*
 * exec_int.h — what the statement runners of the executor share (exec.c
 * dispatches; select.c runs SELECT; meta.c the SHOW, CREATE and DROP
 * statements). Not for users of the query module: they use exec.h.
 */
#ifndef STRATA_QUERY_EXEC_INT_H
#define STRATA_QUERY_EXEC_INT_H

#include "query/exec.h"

struct query_engine {
	lsm_db *db;
	lsm_catalog *catalog;
	query_limits limits;
	query_write_fn write; /* SELECT ... INTO; may be NULL */
	void *write_ctx;
	struct query_cq_store *cqs; /* continuous queries; may be NULL */
};

/* One statement being run. */
typedef struct query_stmt_ctx {
	query_engine *e;
	const query_request *req;
	int64_t now_ns;       /* now() of the whole query text */
	int64_t deadline_ns;  /* CLOCK_MONOTONIC time the query must end by; 0: none */
	query_output *out;    /* between begin_statement and end_statement */
} query_stmt_ctx;

/*
 * Statement runners. Each writes its series to ctx->out and returns 0, or
 * an error whose message it has set with strata_error(): exec.c closes a
 * series left open and writes the message as the statement's error. The
 * output writer's own failure is sticky, so exec.c sees it too.
 */
int query_select_run(query_stmt_ctx *ctx, const struct query_select *s);
int query_meta_run(query_stmt_ctx *ctx, const struct query_stmt *s);
/* CREATE / DROP / SHOW CONTINUOUS QUERIES (cq.c). */
int query_cq_statement(query_stmt_ctx *ctx, const struct query_stmt *s);
/* DROP SERIES, DELETE and DROP MEASUREMENT (delete.c); meta.c dispatches them. */
int query_delete_run(query_stmt_ctx *ctx, const struct query_stmt *s);

/*
 * The catalog id of database name, or of the request's db= when name is
 * NULL: 0, or STRATA_ENOTFOUND with InfluxDB's messages ("database not
 * found: x", "database name required").
 */
int query_resolve_db(query_stmt_ctx *ctx, const char *name, uint32_t *out);

/*
 * The store (lsm_catalog_store) of policy rp of database db, where a
 * SELECT reads and INTO writes: rp NULL or "" is the request's rp=, else
 * the default policy. STRATA_ENOTFOUND with a message.
 */
int query_resolve_store(query_stmt_ctx *ctx, uint32_t db, const char *rp, uint32_t *out);
/*
 * The stores SHOW and delete statements cover: policy rp's only when rp
 * names one, else every store of db (lsm_catalog_stores). *out
 * strata_malloc'ed, caller frees; 0 or an error with a message.
 */
int query_resolve_stores(query_stmt_ctx *ctx, uint32_t db, const char *rp, uint32_t **out, size_t *n_out);

/* -ETIMEDOUT with a message once the deadline has passed, -ECANCELED once the request is cancelled; else 0. */
int query_check_deadline(const query_stmt_ctx *ctx);

#endif
