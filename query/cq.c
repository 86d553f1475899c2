/*
 * cq.c — continuous queries (cq.h): their durable state, their statements
 * and their runs.
 */
#include "query/cq.h"
#include "lsm/alloc.h"
#include "lsm/coding.h"
#include "lsm/file_io.h"
#include "lsm/log.h"
#include "lsm/record.h"
#include "lsm/status.h"
#include "query/exec_int.h"
#include "query/parser.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CQ_MAGIC "STRATACQ"
#define CQ_VERSION 1

struct cq {
	char *name;
	char *db;
	char *text;       /* the CREATE CONTINUOUS QUERY statement, canonical */
	int64_t last_run; /* the last run made (ns); runs go on from there */
};

struct query_cq_store {
	pthread_mutex_t mu;
	struct cq *v;
	size_t n, cap;
	char *path;
	char *dir;
};

static void cq_free(struct cq *q)
{
	strata_free(q->name);
	strata_free(q->db);
	strata_free(q->text);
}

/* ---- the state file ---- */

static size_t put_str(uint8_t *p, const char *s)
{
	size_t len = strlen(s), n = lsm_put_varint64(p, len);

	memcpy(p + n, s, len);
	return n + len;
}

static int save(query_cq_store *s)
{
	size_t cap = LSM_VARINT64_MAX, n = 0;
	uint8_t *payload, hdr[LSM_RECORD_HEADER_LEN], fh[LSM_FILE_HEADER_PAYLOAD_LEN];
	char tmp[4096];
	int fd, rc = 0;

	for (size_t i = 0; i < s->n; i++)
		cap += 3 * LSM_VARINT64_MAX + strlen(s->v[i].name) + strlen(s->v[i].db) + strlen(s->v[i].text) +
		       LSM_VARINT64_MAX;
	payload = strata_malloc(cap);
	if (!payload)
		return -ENOMEM;
	n += lsm_put_varint64(payload + n, s->n);
	for (size_t i = 0; i < s->n; i++) {
		uint64_t t = (uint64_t)s->v[i].last_run;

		n += put_str(payload + n, s->v[i].name);
		n += put_str(payload + n, s->v[i].db);
		n += put_str(payload + n, s->v[i].text);
		n += lsm_put_varint64(payload + n, (t << 1) ^ (uint64_t)((int64_t)t >> 63));
	}
	snprintf(tmp, sizeof tmp, "%s.tmp", s->path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = strata_error(-errno, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	lsm_record_file_header(fh, CQ_MAGIC, CQ_VERSION, 0);
	lsm_record_header(hdr, LSM_REC_FILE_HEADER, fh, sizeof fh);
	rc = lsm_write_full(fd, hdr, sizeof hdr, LSM_FAULT_CATALOG_WRITE);
	if (rc == 0)
		rc = lsm_write_full(fd, fh, sizeof fh, LSM_FAULT_CATALOG_WRITE);
	lsm_record_header(hdr, LSM_REC_STATE, payload, n);
	if (rc == 0)
		rc = lsm_write_full(fd, hdr, sizeof hdr, LSM_FAULT_CATALOG_WRITE);
	if (rc == 0)
		rc = lsm_write_full(fd, payload, n, LSM_FAULT_CATALOG_WRITE);
	if (rc == 0)
		rc = lsm_datasync(fd, LSM_FAULT_CATALOG_SYNC);
	close(fd);
	if (rc == 0 && rename(tmp, s->path) != 0)
		rc = strata_error(-errno, "%s: rename: %s", tmp, strerror(errno));
	if (rc == 0)
		rc = lsm_sync_dir(s->dir, LSM_FAULT_CATALOG_SYNC);
	if (rc)
		unlink(tmp);
out:
	strata_free(payload);
	return rc;
}

static char *get_str(const uint8_t **p, const uint8_t *end)
{
	uint64_t len;
	size_t n = lsm_get_varint64(*p, end, &len);
	char *s;

	if (n == 0 || len > (uint64_t)(end - *p - (ptrdiff_t)n))
		return NULL;
	s = strata_malloc((size_t)len + 1);
	if (!s)
		return NULL;
	memcpy(s, *p + n, (size_t)len);
	s[len] = '\0';
	*p += n + len;
	return s;
}

static int load(query_cq_store *s)
{
	lsm_record_reader *r = NULL;
	const uint8_t *payload, *p, *end;
	size_t len, n;
	uint64_t count, z;
	uint8_t type;
	int rc;

	if (access(s->path, F_OK) != 0)
		return 0; /* no continuous query yet */
	rc = lsm_record_reader_open(&r, s->path, CQ_MAGIC, CQ_VERSION, NULL);
	if (rc)
		return rc;
	rc = lsm_record_reader_next(r, &type, &payload, &len);
	if (rc == 1 && type != LSM_REC_STATE)
		rc = STRATA_ECORRUPT;
	if (rc != 1) {
		lsm_record_reader_close(r);
		return strata_error(rc < 0 ? rc : STRATA_ECORRUPT, "%s: continuous query state is damaged", s->path);
	}
	p = payload;
	end = payload + len;
	n = lsm_get_varint64(p, end, &count);
	rc = n == 0 || count > len ? STRATA_ECORRUPT : 0;
	p += n;
	for (uint64_t i = 0; rc == 0 && i < count; i++) {
		struct cq q = { 0 };

		q.name = get_str(&p, end);
		q.db = q.name ? get_str(&p, end) : NULL;
		q.text = q.db ? get_str(&p, end) : NULL;
		n = q.text ? lsm_get_varint64(p, end, &z) : 0;
		if (n == 0) {
			cq_free(&q);
			rc = STRATA_ECORRUPT;
			break;
		}
		p += n;
		q.last_run = (int64_t)((z >> 1) ^ (uint64_t)-(int64_t)(z & 1));
		if (s->n == s->cap) {
			size_t cap = s->cap ? 2 * s->cap : 8;
			struct cq *v = strata_realloc(s->v, cap * sizeof(*v));

			if (!v) {
				cq_free(&q);
				rc = -ENOMEM;
				break;
			}
			s->v = v;
			s->cap = cap;
		}
		s->v[s->n++] = q;
	}
	if (rc == 0 && (p != end || lsm_record_reader_next(r, &type, &payload, &len) != 0))
		rc = STRATA_ECORRUPT;
	lsm_record_reader_close(r);
	if (rc == STRATA_ECORRUPT)
		return strata_error(rc, "%s: continuous query state is damaged", s->path);
	return rc;
}

int query_cq_open(query_cq_store **out, const char *dir)
{
	query_cq_store *s = strata_calloc(1, sizeof(*s));
	size_t dl = strlen(dir);
	int rc;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->mu, NULL);
	s->dir = strata_malloc(dl + 1);
	s->path = strata_malloc(dl + sizeof("/cq.state"));
	if (!s->dir || !s->path) {
		query_cq_close(s);
		return -ENOMEM;
	}
	memcpy(s->dir, dir, dl + 1);
	snprintf(s->path, dl + sizeof("/cq.state"), "%s/cq.state", dir);
	rc = load(s);
	if (rc) {
		query_cq_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void query_cq_close(query_cq_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		cq_free(&s->v[i]);
	strata_free(s->v);
	strata_free(s->path);
	strata_free(s->dir);
	pthread_mutex_destroy(&s->mu);
	strata_free(s);
}

void query_engine_set_cqs(query_engine *e, query_cq_store *s)
{
	e->cqs = s;
}

/* ---- statements ---- */

static struct cq *find(query_cq_store *s, const char *db, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].db, db) == 0 && strcmp(s->v[i].name, name) == 0)
			return &s->v[i];
	return NULL;
}

static int64_t period_of(const struct query_cq *cq)
{
	return cq->resample_every_ns > 0 ? cq->resample_every_ns : cq->select->group_interval_ns;
}

static int create(query_stmt_ctx *ctx, query_cq_store *s, const struct query_stmt *st)
{
	const struct query_cq *cq = &st->cq;
	struct cq q = { 0 };
	uint32_t db;
	int64_t period;
	int rc = query_resolve_db(ctx, cq->database, &db);

	if (rc)
		return rc;
	if (!cq->select->group_time || cq->select->group_interval_ns <= 0)
		return strata_error(STRATA_EINVAL, "continuous query must have a GROUP BY time(...) clause");
	if (!cq->select->into)
		return strata_error(STRATA_EINVAL, "continuous query must have an INTO clause");
	if (find(s, cq->database, cq->name))
		return strata_error(STRATA_EINVAL, "continuous query already exists");
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 8;
		struct cq *v = strata_realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	rc = query_stmt_print(&q.text, st);
	if (rc)
		return rc;
	q.name = strata_strdup(cq->name);
	q.db = strata_strdup(cq->database);
	if (!q.name || !q.db) {
		cq_free(&q);
		return -ENOMEM;
	}
	/* From now on: a new query does not rewrite the past (SELECT ... INTO does that by hand). */
	period = period_of(cq);
	q.last_run = ctx->now_ns - (ctx->now_ns % period + period) % period;
	s->v[s->n++] = q;
	rc = save(s);
	if (rc) {
		cq_free(&s->v[--s->n]);
		return rc;
	}
	LOG_INFO("event=cq_created name=%s db=%s", q.name, q.db);
	return 0;
}

static int drop(query_cq_store *s, const struct query_cq *cq)
{
	struct cq *q = find(s, cq->database, cq->name), removed;
	int rc;

	if (!q)
		return strata_error(STRATA_ENOTFOUND, "continuous query not found");
	removed = *q;
	memmove(q, q + 1, (size_t)(s->v + s->n - (q + 1)) * sizeof(*q));
	s->n--;
	rc = save(s);
	if (rc) {
		/* Not durable: keep it. */
		memmove(q + 1, q, (size_t)(s->v + s->n - q) * sizeof(*q));
		*q = removed;
		s->n++;
		return rc;
	}
	cq_free(&removed);
	return 0;
}

/* One series per database: [name, query], as InfluxDB lists them. */
static int show(query_stmt_ctx *ctx, query_cq_store *s)
{
	static const char *const cols[] = { "name", "query" };
	char **dbs = NULL;
	size_t n_dbs = 0;
	int rc = lsm_catalog_databases(ctx->e->catalog, &dbs, &n_dbs);

	for (size_t d = 0; rc == 0 && d < n_dbs; d++) {
		rc = query_output_begin_series(ctx->out, dbs[d], NULL, 0, cols, 2, false);
		for (size_t i = 0; rc == 0 && i < s->n; i++) {
			query_value v[2];

			if (strcmp(s->v[i].db, dbs[d]) != 0)
				continue;
			v[0] = query_value_string(s->v[i].name, strlen(s->v[i].name));
			v[1] = query_value_string(s->v[i].text, strlen(s->v[i].text));
			rc = query_output_row(ctx->out, 0, v, NULL, 2);
		}
		if (rc == 0)
			rc = query_output_end_series(ctx->out);
	}
	lsm_catalog_free_names(dbs, n_dbs);
	return rc;
}

int query_cq_statement(query_stmt_ctx *ctx, const struct query_stmt *st)
{
	query_cq_store *s = ctx->e->cqs;
	int rc;

	if (!s)
		return strata_error(STRATA_EINVAL, "%s needs a server's data directory (strata serve or strata query)",
				    query_stmt_kind_str(st->kind));
	pthread_mutex_lock(&s->mu);
	switch (st->kind) {
	case QUERY_STMT_CREATE_CONTINUOUS_QUERY:
		rc = create(ctx, s, st);
		break;
	case QUERY_STMT_DROP_CONTINUOUS_QUERY:
		rc = drop(s, &st->cq);
		break;
	default:
		rc = show(ctx, s);
		break;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* ---- runs ---- */

static query_expr *new_node(query_arena *a)
{
	query_expr *e = query_arena_alloc(a, sizeof(*e));

	if (e)
		memset(e, 0, sizeof(*e));
	return e;
}

/* time op t, with t in nanoseconds. */
static query_expr *time_cmp(query_arena *a, enum query_op op, int64_t t)
{
	query_expr *ref = new_node(a), *lit = new_node(a), *b = new_node(a);

	if (!ref || !lit || !b)
		return NULL;
	ref->kind = QUERY_EXPR_VARREF;
	ref->height = 1;
	ref->ref.name = "time";
	lit->kind = QUERY_EXPR_INTEGER;
	lit->height = 1;
	lit->i = t;
	b->kind = QUERY_EXPR_BINARY;
	b->height = 2;
	b->binary.op = op;
	b->binary.lhs = ref;
	b->binary.rhs = lit;
	return b;
}

static query_expr *and_of(query_arena *a, query_expr *l, query_expr *r)
{
	query_expr *b = new_node(a);

	if (!b || !l || !r)
		return NULL;
	b->kind = QUERY_EXPR_BINARY;
	b->height = 1 + (l->height > r->height ? l->height : r->height);
	b->binary.op = QUERY_OP_AND;
	b->binary.lhs = l;
	b->binary.rhs = r;
	return b;
}

/* Collects the response of a run, to find a statement error in it. */
struct sink {
	char buf[512];
	size_t len;
	bool error;
};

static int sink_write(void *ctx, const char *p, size_t n)
{
	struct sink *k = ctx;
	size_t room = sizeof(k->buf) - 1 - k->len;

	if (memmem(p, n, "\"error\"", 7))
		k->error = true;
	if (n > room)
		n = room;
	memcpy(k->buf + k->len, p, n);
	k->len += n;
	k->buf[k->len] = '\0';
	return 0;
}

/* Runs q's query over [run - for, run). */
static int run_once(query_engine *e, const struct cq *q, const query_ast *ast, int64_t run)
{
	const struct query_cq *cq = &ast->stmts[0].cq;
	int64_t span = cq->resample_for_ns > 0 ? cq->resample_for_ns : cq->select->group_interval_ns;
	struct query_select sel = *cq->select;
	struct query_stmt stmt = { .kind = QUERY_STMT_SELECT, .pos = ast->stmts[0].pos };
	query_ast one = *ast;
	query_request req = { .db = q->db, .now_ns = run };
	query_output *out = NULL;
	struct sink k = { 0 };
	query_expr *range;
	int rc;

	range = and_of(&one.arena, time_cmp(&one.arena, QUERY_OP_GTE, run - span), time_cmp(&one.arena, QUERY_OP_LT, run));
	if (range && sel.condition)
		range = and_of(&one.arena, sel.condition, range);
	if (!range)
		return -ENOMEM;
	sel.condition = range;
	stmt.select = sel;
	one.stmts = &stmt;
	one.n_stmts = 1;
	rc = query_output_new(&out, QUERY_OUTPUT_JSON, QUERY_EPOCH_NS, sink_write, &k);
	if (rc == 0)
		rc = query_execute(e, &one, &req, out);
	if (rc == 0)
		rc = query_output_flush(out);
	query_output_free(out);
	if (rc == 0 && k.error)
		rc = strata_error(STRATA_EINVAL, "%s", k.buf);
	return rc;
}

int query_cq_run_due(query_cq_store *s, query_engine *e, int64_t now_ns)
{
	int runs = 0, rc = 0;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; rc == 0 && i < s->n; i++) {
		struct cq *q = &s->v[i];
		query_ast *ast = NULL;
		int64_t period;
		int done = 0;

		if (query_parse(&ast, q->text, strlen(q->text), NULL, NULL) != 0 || ast->n_stmts != 1 ||
		    ast->stmts[0].kind != QUERY_STMT_CREATE_CONTINUOUS_QUERY) {
			LOG_ERROR("event=cq_unreadable name=%s db=%s", q->name, q->db);
			query_ast_free(ast);
			continue;
		}
		period = period_of(&ast->stmts[0].cq);
		while (rc == 0 && done < QUERY_CQ_MAX_CATCH_UP && q->last_run <= now_ns - period) {
			int64_t run = q->last_run + period;
			/* The arena grows by a few nodes a run: a fresh tree each time keeps it small. */
			int err = run_once(e, q, ast, run);

			if (err) {
				LOG_WARN("event=cq_failed name=%s db=%s run=%" PRId64 " error=\"%s\"", q->name, q->db,
					 run, strata_last_error());
				break;
			}
			q->last_run = run;
			rc = save(s);
			done++;
			runs++;
		}
		query_ast_free(ast);
	}
	pthread_mutex_unlock(&s->mu);
	return rc ? rc : runs;
}
