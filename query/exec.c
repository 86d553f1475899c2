/*
 * exec.c — the executor's entry points (exec.h): one statement after the
 * other, each in its own "results" entry, its failure written as that
 * statement's error.
 */
#include "query/exec.h"
#include "lsm/alloc.h"
#include "lsm/status.h"
#include "query/exec_int.h"
#include "query/parser.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void query_limits_default(query_limits *out)
{
	memset(out, 0, sizeof(*out));
	out->max_buckets = 1000000;
	out->max_values = (size_t)1 << 20;
	out->parallel_min_groups = 32;
}

int query_engine_new(query_engine **out, lsm_db *db, lsm_catalog *catalog, const query_limits *limits)
{
	query_engine *e = strata_calloc(1, sizeof(*e));

	*out = NULL;
	if (!e)
		return -ENOMEM;
	e->db = db;
	e->catalog = catalog;
	if (limits)
		e->limits = *limits;
	else
		query_limits_default(&e->limits);
	*out = e;
	return 0;
}

void query_engine_set_writer(query_engine *e, query_write_fn write, void *ctx)
{
	e->write = write;
	e->write_ctx = ctx;
}

void query_engine_free(query_engine *e)
{
	strata_free(e);
}

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int query_check_deadline(const query_stmt_ctx *ctx)
{
	if (ctx->req->cancel && atomic_load_explicit(ctx->req->cancel, memory_order_relaxed))
		return strata_error(-ECANCELED, "query cancelled: the client went away");
	if (ctx->deadline_ns && clock_ns(CLOCK_MONOTONIC) > ctx->deadline_ns)
		return strata_error(-ETIMEDOUT, "query timeout: the query ran longer than the %g s limit",
				    (double)ctx->e->limits.timeout_ns / 1e9);
	return 0;
}

int query_resolve_db(query_stmt_ctx *ctx, const char *name, uint32_t *out)
{
	if (!name)
		name = ctx->req->db;
	if (!name || !*name)
		return strata_error(STRATA_ENOTFOUND, "database name required");
	if (lsm_catalog_database_id(ctx->e->catalog, name, out) != 0)
		return strata_error(STRATA_ENOTFOUND, "database not found: %s", name);
	return 0;
}

int query_resolve_store(query_stmt_ctx *ctx, uint32_t db, const char *rp, uint32_t *out)
{
	if (!rp || !*rp)
		rp = ctx->req->rp;
	return lsm_catalog_store(ctx->e->catalog, db, rp, out);
}

int query_resolve_stores(query_stmt_ctx *ctx, uint32_t db, const char *rp, uint32_t **out, size_t *n_out)
{
	int rc;

	*out = NULL;
	*n_out = 0;
	if (!rp || !*rp) {
		rc = lsm_catalog_stores(ctx->e->catalog, db, out, n_out);
		return rc == -ENOMEM ? strata_error(rc, "out of memory listing the stores of a database") : rc;
	}
	*out = strata_malloc(sizeof(**out));
	if (!*out)
		return strata_error(-ENOMEM, "out of memory listing the stores of a database");
	rc = lsm_catalog_store(ctx->e->catalog, db, rp, *out);
	if (rc) {
		strata_free(*out);
		*out = NULL;
		return rc;
	}
	*n_out = 1;
	return 0;
}

static int run_stmt(query_stmt_ctx *ctx, const struct query_stmt *s)
{
	int rc = query_check_deadline(ctx);

	if (rc)
		return rc;
	if (s->kind == QUERY_STMT_SELECT)
		return query_select_run(ctx, &s->select);
	return query_meta_run(ctx, s);
}

int query_execute(query_engine *e, const query_ast *ast, const query_request *req, query_output *out)
{
	query_stmt_ctx ctx = { .e = e, .req = req, .out = out };
	int rc;

	ctx.now_ns = req->now_ns ? req->now_ns : clock_ns(CLOCK_REALTIME);
	if (e->limits.timeout_ns > 0)
		ctx.deadline_ns = clock_ns(CLOCK_MONOTONIC) + e->limits.timeout_ns;
	rc = query_output_begin_results(out);
	for (uint32_t i = 0; rc == 0 && i < ast->n_stmts; i++) {
		rc = query_output_begin_statement(out, (int)i);
		if (rc)
			break;
		rc = run_stmt(&ctx, &ast->stmts[i]);
		if (rc) {
			char msg[1024];

			/* Copied first: closing the series may record a message of its own. */
			snprintf(msg, sizeof msg, "%s", strata_last_error());
			(void)query_output_end_series(out); /* one may be open; out of sequence otherwise */
			rc = query_output_statement_error(out, msg);
			if (rc)
				break;
		}
		rc = query_output_end_statement(out);
	}
	if (rc == 0)
		rc = query_output_end_results(out);
	return rc;
}

int query_run(query_engine *e, const char *text, size_t len, const query_request *req, query_output *out)
{
	query_ast *ast = NULL;
	query_parse_error perr;
	int rc = query_parse(&ast, text, len, NULL, &perr);

	if (rc) {
		int wrc = query_output_error(out, perr.message[0] ? perr.message : strata_last_error());

		return wrc ? wrc : rc;
	}
	rc = query_execute(e, ast, req, out);
	query_ast_free(ast);
	return rc;
}
