/*
 * test_influxql_parser.c — InfluxQL parser, syntax tree and printer: every
 * statement form with the tree it builds, precedence, time literals,
 * GROUP BY time / fill / ORDER BY / limits, errors with their position and
 * wording, the printer's round trip (parse, print, parse, print: the same
 * text), the bounds against hostile input, and the Grafana query file in
 * tests/integration/grafana_queries.txt.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lsm/alloc.h"
#include "lsm/status.h"
#include "query/lexer.h"
#include "query/parser.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC INT64_C(1000000000)

static query_ast *parse_ok(const char *text)
{
	query_parse_error err;
	query_ast *ast = NULL;
	int rc = query_parse(&ast, text, strlen(text), NULL, &err);

	if (rc != 0)
		fail_msg("parse failed (%d) for <%s>: %s", rc, text, err.message);
	assert_non_null(ast);
	assert_int_equal(err.rc, 0);
	return ast;
}

/* The single statement of text; *ast_out to free. */
static const struct query_stmt *one_stmt(const char *text, query_ast **ast_out)
{
	query_ast *ast = parse_ok(text);

	assert_int_equal(ast->n_stmts, 1);
	*ast_out = ast;
	return &ast->stmts[0];
}

static char *print_ast(const query_ast *ast)
{
	char *s = NULL;

	assert_int_equal(query_ast_print(&s, ast), 0);
	assert_non_null(s);
	return s;
}

/*
 * Parses, prints, parses the print and prints again: both prints must be
 * equal. Returns the print (caller frees).
 */
static char *round_trip(const char *text)
{
	query_ast *a = parse_ok(text), *b;
	char *p1 = print_ast(a), *p2;
	query_parse_error err;
	int rc = query_parse(&b, p1, strlen(p1), NULL, &err);

	if (rc != 0)
		fail_msg("reparse failed for <%s> printed as <%s>: %s", text, p1, err.message);
	p2 = print_ast(b);
	if (strcmp(p1, p2) != 0)
		fail_msg("print not stable for <%s>:\n  first:  %s\n  second: %s", text, p1, p2);
	assert_int_equal(a->n_stmts, b->n_stmts);
	strata_free(p2);
	query_ast_free(a);
	query_ast_free(b);
	return p1;
}

/* text prints as want (after a round trip). */
static void prints_as(const char *text, const char *want)
{
	char *p = round_trip(text);

	if (strcmp(p, want) != 0)
		fail_msg("<%s> printed as\n  <%s>, want\n  <%s>", text, p, want);
	strata_free(p);
}

/* text fails with rc at line:column and a message containing `part`. */
static void parse_fails(const char *text, int rc, uint32_t line, uint32_t column, const char *part)
{
	query_parse_error err;
	query_ast *ast = (query_ast *)1;
	int got = query_parse(&ast, text, strlen(text), NULL, &err);

	if (got != rc)
		fail_msg("<%s>: rc %d, want %d (%s)", text, got, rc, err.message);
	assert_null(ast);
	assert_int_equal(err.rc, rc);
	if (err.pos.line != line || err.pos.column != column)
		fail_msg("<%s>: error at %u:%u, want %u:%u (%s)", text, err.pos.line, err.pos.column,
			 line, column, err.message);
	if (!strstr(err.message, part))
		fail_msg("<%s>: message <%s> lacks <%s>", text, err.message, part);
	assert_string_equal(strata_last_error(), err.message);
}

static const query_expr *field_expr(const struct query_stmt *st, uint32_t k)
{
	assert_int_equal(st->kind, QUERY_STMT_SELECT);
	assert_true(k < st->select.n_fields);
	return st->select.fields[k].expr;
}

static void assert_varref(const query_expr *e, const char *name, enum query_type type)
{
	assert_int_equal(e->kind, QUERY_EXPR_VARREF);
	assert_string_equal(e->ref.name, name);
	assert_int_equal(e->ref.type, type);
}

static void assert_binary(const query_expr *e, enum query_op op)
{
	assert_int_equal(e->kind, QUERY_EXPR_BINARY);
	assert_int_equal(e->binary.op, op);
}

/* ---- SELECT ---- */

static void test_influxql_parser_select_grafana_panel(void **state)
{
	query_ast *ast;
	const struct query_stmt *st = one_stmt(
		"SELECT mean(\"usage_user\") FROM \"cpu\" WHERE (\"host\" =~ /^host_1$/) AND "
		"time >= now() - 6h and time <= now() GROUP BY time(1m), \"host\" fill(null)",
		&ast);
	const struct query_select *s = &st->select;
	const query_expr *e, *c;

	(void)state;
	assert_int_equal(st->kind, QUERY_STMT_SELECT);
	assert_int_equal(st->pos.offset, 0);
	assert_int_equal(s->n_fields, 1);
	e = s->fields[0].expr;
	assert_int_equal(e->kind, QUERY_EXPR_CALL);
	assert_string_equal(e->call.name, "mean");
	assert_int_equal(e->call.n_args, 1);
	assert_varref(e->call.args[0], "usage_user", QUERY_TYPE_NONE);
	assert_null(s->fields[0].alias);
	assert_int_equal(s->n_sources, 1);
	assert_string_equal(s->sources[0].name, "cpu");
	assert_null(s->sources[0].database);
	assert_null(s->sources[0].retention_policy);
	assert_null(s->sources[0].regex);

	/* ((host =~ re) AND time >= now() - 6h) AND time <= now() */
	c = s->condition;
	assert_binary(c, QUERY_OP_AND);
	assert_binary(c->binary.rhs, QUERY_OP_LTE);
	assert_varref(c->binary.rhs->binary.lhs, "time", QUERY_TYPE_NONE);
	assert_int_equal(c->binary.rhs->binary.rhs->kind, QUERY_EXPR_CALL);
	assert_string_equal(c->binary.rhs->binary.rhs->call.name, "now");
	assert_int_equal(c->binary.rhs->binary.rhs->call.n_args, 0);
	c = c->binary.lhs;
	assert_binary(c, QUERY_OP_AND);
	assert_int_equal(c->binary.lhs->kind, QUERY_EXPR_PAREN);
	assert_binary(c->binary.lhs->paren, QUERY_OP_EQREGEX);
	assert_varref(c->binary.lhs->paren->binary.lhs, "host", QUERY_TYPE_NONE);
	assert_int_equal(c->binary.lhs->paren->binary.rhs->kind, QUERY_EXPR_REGEX);
	assert_string_equal(c->binary.lhs->paren->binary.rhs->regex, "^host_1$");
	assert_binary(c->binary.rhs, QUERY_OP_GTE);
	assert_binary(c->binary.rhs->binary.rhs, QUERY_OP_SUB);
	assert_int_equal(c->binary.rhs->binary.rhs->binary.rhs->kind, QUERY_EXPR_DURATION);
	assert_true(c->binary.rhs->binary.rhs->binary.rhs->ns == 6 * 3600 * SEC);

	assert_int_equal(s->n_dimensions, 2);
	assert_ptr_equal(s->group_time, s->dimensions[0]);
	assert_true(s->group_interval_ns == 60 * SEC);
	assert_true(s->group_offset_ns == 0);
	assert_false(s->group_offset_now);
	assert_varref(s->dimensions[1], "host", QUERY_TYPE_NONE);
	assert_true(s->fill_given);
	assert_int_equal(s->fill, QUERY_FILL_NULL);
	assert_false(s->order_given);
	assert_true(s->limit == 0 && s->offset == 0 && s->slimit == 0 && s->soffset == 0);
	assert_null(s->tz);
	assert_null(s->into);
	query_ast_free(ast);

	prints_as("SELECT mean(\"usage_user\") FROM \"cpu\" WHERE (\"host\" =~ /^host_1$/) AND "
		  "time >= now() - 6h and time <= now() GROUP BY time(1m), \"host\" fill(null)",
		  "SELECT mean(usage_user) FROM cpu WHERE (host =~ /^host_1$/) AND time >= now() - 6h "
		  "AND time <= now() GROUP BY time(1m), host fill(null)");
}

static void test_influxql_parser_select_fields(void **state)
{
	query_ast *ast;
	const struct query_stmt *st = one_stmt(
		"select *, \"a b\", x AS y, \"usage\" + 2 * 3, (a - b) / c, x::float, y::tag, "
		"*::field, /usage_.*/ AS \"re\", 'str', true, -1.5, 18446744073709551615 FROM m",
		&ast);
	const query_expr *e;

	(void)state;
	assert_int_equal(st->select.n_fields, 13);
	assert_int_equal(field_expr(st, 0)->kind, QUERY_EXPR_WILDCARD);
	assert_int_equal(field_expr(st, 0)->wildcard_type, QUERY_TYPE_NONE);
	assert_varref(field_expr(st, 1), "a b", QUERY_TYPE_NONE);
	assert_varref(field_expr(st, 2), "x", QUERY_TYPE_NONE);
	assert_string_equal(st->select.fields[2].alias, "y");
	e = field_expr(st, 3);
	assert_binary(e, QUERY_OP_ADD);
	assert_binary(e->binary.rhs, QUERY_OP_MUL);
	assert_int_equal(e->binary.rhs->binary.lhs->i, 2);
	e = field_expr(st, 4);
	assert_binary(e, QUERY_OP_DIV);
	assert_int_equal(e->binary.lhs->kind, QUERY_EXPR_PAREN);
	assert_varref(field_expr(st, 5), "x", QUERY_TYPE_FLOAT);
	assert_varref(field_expr(st, 6), "y", QUERY_TYPE_TAG);
	assert_int_equal(field_expr(st, 7)->wildcard_type, QUERY_TYPE_FIELD);
	assert_int_equal(field_expr(st, 8)->kind, QUERY_EXPR_REGEX);
	assert_string_equal(field_expr(st, 8)->regex, "usage_.*");
	assert_string_equal(st->select.fields[8].alias, "re");
	assert_int_equal(field_expr(st, 9)->kind, QUERY_EXPR_STRING);
	assert_string_equal(field_expr(st, 9)->str, "str");
	assert_int_equal(field_expr(st, 10)->kind, QUERY_EXPR_BOOLEAN);
	assert_true(field_expr(st, 10)->b);
	assert_int_equal(field_expr(st, 11)->kind, QUERY_EXPR_NUMBER);
	assert_true(field_expr(st, 11)->f == -1.5);
	assert_int_equal(field_expr(st, 12)->kind, QUERY_EXPR_UNSIGNED);
	assert_true(field_expr(st, 12)->u == UINT64_MAX);
	query_ast_free(ast);

	/* Segmented field names join with a dot; every cast spelling. */
	st = one_stmt("SELECT \"cpu\".\"usage\", a::integer, b::unsigned, c::string, d::boolean, "
		      "e::FLOAT, f::field FROM m",
		      &ast);
	assert_varref(field_expr(st, 0), "cpu.usage", QUERY_TYPE_NONE);
	assert_varref(field_expr(st, 1), "a", QUERY_TYPE_INTEGER);
	assert_varref(field_expr(st, 2), "b", QUERY_TYPE_UNSIGNED);
	assert_varref(field_expr(st, 3), "c", QUERY_TYPE_STRING);
	assert_varref(field_expr(st, 4), "d", QUERY_TYPE_BOOLEAN);
	assert_varref(field_expr(st, 5), "e", QUERY_TYPE_FLOAT);
	assert_varref(field_expr(st, 6), "f", QUERY_TYPE_FIELD);
	query_ast_free(ast);
}

static void test_influxql_parser_function_calls(void **state)
{
	query_ast *ast;
	const struct query_stmt *st = one_stmt(
		"SELECT non_negative_derivative(mean(\"x\"), 1s), percentile(\"x\", 95), "
		"top(\"x\", \"host\", 3), moving_average(mean(x), 5), count(distinct(x)), "
		"mean(*), mean(/usage_.*/), now(), MAX(x), distinct y, count(DISTINCT z), "
		"holt_winters(first(v), 10, 4), f('s', 1.5, -2, -3s, true) FROM m",
		&ast);
	const query_expr *e;

	(void)state;
	assert_int_equal(st->select.n_fields, 13);
	e = field_expr(st, 0);
	assert_string_equal(e->call.name, "non_negative_derivative");
	assert_int_equal(e->call.n_args, 2);
	assert_string_equal(e->call.args[0]->call.name, "mean");
	assert_int_equal(e->call.args[1]->kind, QUERY_EXPR_DURATION);
	assert_true(e->call.args[1]->ns == SEC);
	assert_int_equal(e->height, 3);
	e = field_expr(st, 1);
	assert_int_equal(e->call.args[1]->kind, QUERY_EXPR_INTEGER);
	assert_int_equal(e->call.args[1]->i, 95);
	e = field_expr(st, 2);
	assert_int_equal(e->call.n_args, 3);
	assert_varref(e->call.args[1], "host", QUERY_TYPE_NONE);
	e = field_expr(st, 4);
	assert_string_equal(e->call.name, "count");
	assert_string_equal(e->call.args[0]->call.name, "distinct");
	assert_int_equal(field_expr(st, 5)->call.args[0]->kind, QUERY_EXPR_WILDCARD);
	assert_int_equal(field_expr(st, 6)->call.args[0]->kind, QUERY_EXPR_REGEX);
	assert_int_equal(field_expr(st, 7)->call.n_args, 0);
	assert_string_equal(field_expr(st, 8)->call.name, "max");
	e = field_expr(st, 9);
	assert_string_equal(e->call.name, "distinct");
	assert_varref(e->call.args[0], "y", QUERY_TYPE_NONE);
	e = field_expr(st, 10)->call.args[0];
	assert_string_equal(e->call.name, "distinct");
	assert_varref(e->call.args[0], "z", QUERY_TYPE_NONE);
	e = field_expr(st, 12);
	assert_int_equal(e->call.n_args, 5);
	assert_int_equal(e->call.args[0]->kind, QUERY_EXPR_STRING);
	assert_int_equal(e->call.args[2]->i, -2);
	assert_true(e->call.args[3]->ns == -3 * SEC);
	assert_int_equal(e->call.args[4]->kind, QUERY_EXPR_BOOLEAN);
	query_ast_free(ast);

	prints_as("SELECT distinct y, count(DISTINCT z), MEAN(x) FROM m",
		  "SELECT distinct(y), count(distinct(z)), mean(x) FROM m");
}

static void test_influxql_parser_precedence_and_unary(void **state)
{
	query_ast *ast;
	const struct query_stmt *st;
	const query_expr *e;

	(void)state;
	st = one_stmt("SELECT a FROM m WHERE a = 1 OR b = 2 AND c = 3", &ast);
	e = st->select.condition;
	assert_binary(e, QUERY_OP_OR);
	assert_binary(e->binary.rhs, QUERY_OP_AND);
	query_ast_free(ast);

	st = one_stmt("SELECT a - b - c, a * b + c * d, a + b % c & d, a | b ^ c FROM m", &ast);
	e = field_expr(st, 0);
	assert_binary(e, QUERY_OP_SUB); /* left-associative: (a - b) - c */
	assert_binary(e->binary.lhs, QUERY_OP_SUB);
	assert_varref(e->binary.rhs, "c", QUERY_TYPE_NONE);
	e = field_expr(st, 1);
	assert_binary(e, QUERY_OP_ADD);
	assert_binary(e->binary.lhs, QUERY_OP_MUL);
	assert_binary(e->binary.rhs, QUERY_OP_MUL);
	e = field_expr(st, 2);
	assert_binary(e, QUERY_OP_ADD);
	assert_binary(e->binary.rhs, QUERY_OP_BITAND);
	assert_binary(e->binary.rhs->binary.lhs, QUERY_OP_MOD);
	e = field_expr(st, 3);
	assert_binary(e, QUERY_OP_BITXOR);
	assert_binary(e->binary.lhs, QUERY_OP_BITOR);
	query_ast_free(ast);

	/* Unary minus: folded into literals, -1 * x otherwise. */
	st = one_stmt("SELECT -5, -x, - (a), +3s, -2.5, -9223372036854775808, +x FROM m", &ast);
	assert_int_equal(field_expr(st, 0)->kind, QUERY_EXPR_INTEGER);
	assert_int_equal(field_expr(st, 0)->i, -5);
	e = field_expr(st, 1);
	assert_binary(e, QUERY_OP_MUL);
	assert_int_equal(e->binary.lhs->i, -1);
	assert_varref(e->binary.rhs, "x", QUERY_TYPE_NONE);
	e = field_expr(st, 2);
	assert_binary(e, QUERY_OP_MUL);
	assert_int_equal(e->binary.rhs->kind, QUERY_EXPR_PAREN);
	assert_true(field_expr(st, 3)->ns == 3 * SEC);
	assert_true(field_expr(st, 4)->f == -2.5);
	assert_int_equal(field_expr(st, 5)->kind, QUERY_EXPR_INTEGER);
	assert_true(field_expr(st, 5)->i == INT64_MIN);
	assert_int_equal(field_expr(st, 6)->binary.lhs->i, 1);
	query_ast_free(ast);

	prints_as("SELECT a+b*c, (a+b)*c, a-(b-c), (a-b)-c, 2 * -a, a - -5, -(a + b) FROM m",
		  "SELECT a + b * c, (a + b) * c, a - (b - c), (a - b) - c, 2 * (-1 * a), a - -5, "
		  "-1 * (a + b) FROM m");
	prints_as("SELECT a FROM m WHERE a = 1 OR (b = 2 OR c = 3) AND d <> 4",
		  "SELECT a FROM m WHERE a = 1 OR (b = 2 OR c = 3) AND d != 4");
	parse_fails("SELECT -9223372036854775809 FROM m", STRATA_EINVAL, 1, 8,
		    "constant -9223372036854775809 underflows int64");
	parse_fails("SELECT -'a' FROM m", STRATA_EINVAL, 1, 9,
		    "found a, expected identifier, number, duration, (");
}

static void test_influxql_parser_field_operators_refused(void **state)
{
	(void)state;
	parse_fails("SELECT a = 1 FROM m", STRATA_EINVAL, 1, 10,
		    "invalid operator = in SELECT clause; operator is intended for WHERE clause");
	parse_fails("SELECT mean(a AND b) FROM m", STRATA_EINVAL, 1, 15, "invalid operator AND");
	parse_fails("SELECT (a =~ /x/) FROM m", STRATA_EINVAL, 1, 11, "invalid operator =~");
}

static void test_influxql_parser_sources(void **state)
{
	query_ast *ast;
	const struct query_stmt *st = one_stmt(
		"SELECT x FROM m, \"quoted m\", rp.m, db.rp.m, \"db\".\"rp\".\"m\", db..m, /^cpu.*/, "
		"rp./re/, db.rp./re/, db../re\\/x/, \"db\".\"\".\"m\"",
		&ast);
	const struct query_measurement *s = st->select.sources;

	(void)state;
	assert_int_equal(st->select.n_sources, 11);
	assert_string_equal(s[0].name, "m");
	assert_string_equal(s[1].name, "quoted m");
	assert_string_equal(s[2].retention_policy, "rp");
	assert_string_equal(s[2].name, "m");
	assert_null(s[2].database);
	for (int k = 3; k <= 4; k++) {
		assert_string_equal(s[k].database, "db");
		assert_string_equal(s[k].retention_policy, "rp");
		assert_string_equal(s[k].name, "m");
	}
	assert_string_equal(s[5].database, "db");
	assert_null(s[5].retention_policy);
	assert_string_equal(s[5].name, "m");
	assert_null(s[6].name);
	assert_string_equal(s[6].regex, "^cpu.*");
	assert_string_equal(s[7].retention_policy, "rp");
	assert_string_equal(s[7].regex, "re");
	assert_string_equal(s[8].database, "db");
	assert_string_equal(s[8].retention_policy, "rp");
	assert_string_equal(s[8].regex, "re");
	assert_string_equal(s[9].database, "db");
	assert_null(s[9].retention_policy);
	assert_string_equal(s[9].regex, "re/x");
	assert_string_equal(s[10].database, "db");
	assert_null(s[10].retention_policy);
	assert_int_equal(s[0].pos.column, 15);
	query_ast_free(ast);

	prints_as("SELECT x FROM \"db\".\"rp\".\"m\", db..m, rp./re/, db../a\\/b/, \"my db\".\"select\".m",
		  "SELECT x FROM db.rp.m, db..m, rp./re/, db../a\\/b/, \"my db\".\"select\".m");
	parse_fails("SELECT x FROM a.b.c.d", STRATA_EINVAL, 1, 15, "too many segments");
	parse_fails("SELECT x FROM a.b.c./re/", STRATA_EINVAL, 1, 15, "too many segments");
	parse_fails("SELECT x FROM (SELECT y FROM z)", STRATA_EINVAL, 1, 15,
		    "subqueries are not supported");
	parse_fails("SELECT x FROM select", STRATA_EINVAL, 1, 15, "found SELECT, expected identifier");
	parse_fails("SELECT x FROM m,", STRATA_EINVAL, 1, 17, "found EOF, expected identifier");
}

static void test_influxql_parser_into(void **state)
{
	query_ast *ast;
	const struct query_stmt *st;

	(void)state;
	st = one_stmt("SELECT mean(x) INTO \"db\".\"rp\".\"down\" FROM m GROUP BY time(5m)", &ast);
	assert_non_null(st->select.into);
	assert_string_equal(st->select.into->database, "db");
	assert_string_equal(st->select.into->retention_policy, "rp");
	assert_string_equal(st->select.into->name, "down");
	query_ast_free(ast);

	st = one_stmt("SELECT mean(x) INTO rp.:MEASUREMENT FROM /.*/ GROUP BY time(5m), *", &ast);
	assert_true(st->select.into->from_source);
	assert_null(st->select.into->name);
	assert_string_equal(st->select.into->retention_policy, "rp");
	query_ast_free(ast);

	prints_as("SELECT x INTO other FROM m", "SELECT x INTO other FROM m");
	prints_as("SELECT x INTO db.rp.:measurement FROM m", "SELECT x INTO db.rp.:MEASUREMENT FROM m");
	prints_as("SELECT x INTO db..:MEASUREMENT FROM m", "SELECT x INTO db..:MEASUREMENT FROM m");
	parse_fails("SELECT x INTO /re/ FROM m", STRATA_EINVAL, 1, 15, "expected identifier");
}

static void test_influxql_parser_where_time_literals(void **state)
{
	query_ast *ast;
	const struct query_stmt *st = one_stmt(
		"SELECT x FROM m WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01 12:00:00' "
		"AND '2026-01-02' > time AND time != '2026-01-01T01:00:00.5+01:00' "
		"AND time > '2026-01-01T00:00:00Z' - 1h AND host = '2026-01-01'",
		&ast);
	const query_expr *c = st->select.condition, *e;
	const int64_t jan1 = INT64_C(1767225600) * SEC;

	(void)state;
	/* host = '...' stays a string */
	assert_binary(c, QUERY_OP_AND);
	assert_int_equal(c->binary.rhs->binary.rhs->kind, QUERY_EXPR_STRING);
	c = c->binary.lhs;
	e = c->binary.rhs->binary.rhs; /* '...Z' - 1h */
	assert_binary(e, QUERY_OP_SUB);
	assert_int_equal(e->binary.lhs->kind, QUERY_EXPR_TIME);
	assert_true(e->binary.lhs->ns == jan1);
	c = c->binary.lhs;
	e = c->binary.rhs->binary.rhs;
	assert_int_equal(e->kind, QUERY_EXPR_TIME);
	assert_true(e->ns == jan1 + SEC / 2);
	c = c->binary.lhs;
	e = c->binary.rhs->binary.lhs;
	assert_int_equal(e->kind, QUERY_EXPR_TIME);
	assert_true(e->ns == jan1 + 86400 * SEC);
	c = c->binary.lhs;
	assert_true(c->binary.rhs->binary.rhs->ns == jan1 + 12 * 3600 * SEC);
	assert_true(c->binary.lhs->binary.rhs->ns == jan1);
	query_ast_free(ast);

	/* Grafana's $timeFilter, raw nanoseconds and now() arithmetic stay as written. */
	st = one_stmt("SELECT x FROM m WHERE time >= 1767225600000ms and time <= 1767312000000ms "
		      "AND time > 1767225600000000000 AND time > now() - 6h",
		      &ast);
	c = st->select.condition;
	assert_int_equal(c->binary.lhs->binary.lhs->binary.lhs->binary.rhs->kind, QUERY_EXPR_DURATION);
	assert_true(c->binary.lhs->binary.lhs->binary.lhs->binary.rhs->ns == jan1);
	assert_true(c->binary.lhs->binary.lhs->binary.rhs->binary.rhs->ns == jan1 + 86400 * SEC);
	assert_int_equal(c->binary.lhs->binary.rhs->binary.rhs->kind, QUERY_EXPR_INTEGER);
	assert_true(c->binary.lhs->binary.rhs->binary.rhs->i == jan1);
	query_ast_free(ast);

	prints_as("SELECT x FROM m WHERE time > '2026-01-01 00:00:00' AND time < '2026-01-01T00:00:01.250+00:00'",
		  "SELECT x FROM m WHERE time > '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:00:01.25Z'");
	parse_fails("SELECT x FROM m WHERE time > 'yesterday'", STRATA_EINVAL, 1, 30,
		    "invalid time 'yesterday'");
	parse_fails("SELECT x FROM m WHERE time > '2026-02-30'", STRATA_EINVAL, 1, 30, "invalid time");
	parse_fails("SELECT x FROM m WHERE a =~ 'x'", STRATA_EINVAL, 1, 28, "found x, expected regex");
	parse_fails("SELECT x FROM m WHERE a = /x/", STRATA_EINVAL, 1, 27,
		    "found /, expected identifier, string, number, bool");
}

static void test_influxql_parser_time_helpers(void **state)
{
	static const struct {
		const char *text;
		int64_t ns;
		const char *canonical;
	} ok[] = {
		{ "1970-01-01T00:00:00Z", 0, "1970-01-01T00:00:00Z" },
		{ "1970-01-01", 0, "1970-01-01T00:00:00Z" },
		{ "2026-01-01T00:00:00Z", INT64_C(1767225600) * SEC, "2026-01-01T00:00:00Z" },
		{ "2026-01-01 00:00:00", INT64_C(1767225600) * SEC, "2026-01-01T00:00:00Z" },
		{ "2026-01-01t02:00:00+02:00", INT64_C(1767225600) * SEC, "2026-01-01T00:00:00Z" },
		{ "2025-12-31T19:30:00-04:30", INT64_C(1767225600) * SEC, "2026-01-01T00:00:00Z" },
		{ "2024-02-29T12:00:00.000000001Z", INT64_C(1709208000) * SEC + 1,
		  "2024-02-29T12:00:00.000000001Z" },
		{ "1969-12-31T23:59:59.5Z", -SEC / 2, "1969-12-31T23:59:59.5Z" },
		{ "1677-09-21T00:12:43.145224192Z", INT64_MIN, "1677-09-21T00:12:43.145224192Z" },
		{ "2262-04-11T23:47:16.854775807Z", INT64_MAX, "2262-04-11T23:47:16.854775807Z" },
	};
	static const char *const bad[] = {
		"", "2026", "2026-1-01", "2026-13-01", "2026-02-29", "2026-01-01T24:00:00Z",
		"2026-01-01T00:60:00Z", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00.1234567890Z",
		"2026-01-01T00:00:00+2:00", "2026-01-01T00:00:00Zjunk", "2026-01-01X00:00:00",
		"2262-04-11T23:47:16.854775808Z", "1677-09-21T00:12:43.145224191Z", "0000-01-01",
	};
	char buf[QUERY_DURATION_BUF > QUERY_TIME_BUF ? QUERY_DURATION_BUF : QUERY_TIME_BUF];

	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		int64_t ns = 42;

		if (query_time_parse(&ns, ok[i].text, strlen(ok[i].text)) != 0)
			fail_msg("time <%s> refused", ok[i].text);
		assert_true(ns == ok[i].ns);
		assert_string_equal(query_time_format(buf, ns), ok[i].canonical);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		int64_t ns;

		if (query_time_parse(&ns, bad[i], strlen(bad[i])) != STRATA_EINVAL)
			fail_msg("time <%s> accepted", bad[i]);
	}
	assert_string_equal(query_duration_format(buf, 0), "0s");
	assert_string_equal(query_duration_format(buf, 90 * 60 * SEC), "90m");
	assert_string_equal(query_duration_format(buf, 1500 * 1000000), "1500ms");
	assert_string_equal(query_duration_format(buf, -6 * 3600 * SEC), "-6h");
	assert_string_equal(query_duration_format(buf, 14 * 86400 * SEC), "2w");
	assert_string_equal(query_duration_format(buf, 3 * 86400 * SEC), "3d");
	assert_string_equal(query_duration_format(buf, 2000), "2u");
	assert_string_equal(query_duration_format(buf, 1001), "1001ns");
	assert_string_equal(query_duration_format(buf, INT64_MAX), "9223372036854775807ns");
	assert_string_equal(query_duration_format(buf, INT64_MIN), "-9223372036854775808ns");
}

static void test_influxql_parser_group_by(void **state)
{
	query_ast *ast;
	const struct query_stmt *st;
	const struct query_select *s;

	(void)state;
	st = one_stmt("SELECT mean(x) FROM m GROUP BY \"host\", time(1h30m, -5m), region::tag, "
		      "/^dc/, *",
		      &ast);
	s = &st->select;
	assert_int_equal(s->n_dimensions, 5);
	assert_varref(s->dimensions[0], "host", QUERY_TYPE_NONE);
	assert_ptr_equal(s->group_time, s->dimensions[1]);
	assert_true(s->group_interval_ns == 90 * 60 * SEC);
	assert_true(s->group_offset_ns == -5 * 60 * SEC);
	assert_varref(s->dimensions[2], "region", QUERY_TYPE_TAG);
	assert_int_equal(s->dimensions[3]->kind, QUERY_EXPR_REGEX);
	assert_int_equal(s->dimensions[4]->kind, QUERY_EXPR_WILDCARD);
	assert_false(s->fill_given);
	query_ast_free(ast);

	st = one_stmt("SELECT mean(x) FROM m GROUP BY time(1d, now())", &ast);
	assert_true(st->select.group_offset_now);
	assert_true(st->select.group_interval_ns == 86400 * SEC);
	query_ast_free(ast);

	st = one_stmt("SELECT x FROM m GROUP BY host", &ast);
	assert_null(st->select.group_time);
	query_ast_free(ast);

	prints_as("select mean(x) from m group by time(60s,30s),\"host name\"",
		  "SELECT mean(x) FROM m GROUP BY time(1m, 30s), \"host name\"");
	parse_fails("SELECT mean(x) FROM m GROUP BY time(0s)", STRATA_EINVAL, 1, 37,
		    "positive duration");
	parse_fails("SELECT mean(x) FROM m GROUP BY time(host)", STRATA_EINVAL, 1, 37,
		    "positive duration");
	parse_fails("SELECT mean(x) FROM m GROUP BY time()", STRATA_EINVAL, 1, 32, "1 or 2 arguments");
	parse_fails("SELECT mean(x) FROM m GROUP BY time(1m, 1m, 1m)", STRATA_EINVAL, 1, 32,
		    "1 or 2 arguments");
	parse_fails("SELECT mean(x) FROM m GROUP BY time(1m, 'a')", STRATA_EINVAL, 1, 41,
		    "offset must be a duration or now()");
	parse_fails("SELECT mean(x) FROM m GROUP BY time(1m), time(2m)", STRATA_EINVAL, 1, 42,
		    "multiple time dimensions");
	parse_fails("SELECT mean(x) FROM m GROUP BY mean(x)", STRATA_EINVAL, 1, 32,
		    "only time() calls allowed in dimensions");
	parse_fails("SELECT mean(x) FROM m GROUP BY 1", STRATA_EINVAL, 1, 32,
		    "only time and tag dimensions allowed");
	parse_fails("SELECT mean(x) FROM m GROUP BY time($__interval)", STRATA_EINVAL, 1, 37,
		    "found $__interval, expected identifier, string, number, bool");
	parse_fails("SELECT mean(x) FROM m GROUP time(1m)", STRATA_EINVAL, 1, 29,
		    "found time, expected BY");
}

static void test_influxql_parser_fill(void **state)
{
	static const struct {
		const char *text;
		enum query_fill fill;
	} cases[] = {
		{ "SELECT mean(x) FROM m GROUP BY time(1m) fill(null)", QUERY_FILL_NULL },
		{ "SELECT mean(x) FROM m GROUP BY time(1m) fill(none)", QUERY_FILL_NONE },
		{ "SELECT mean(x) FROM m GROUP BY time(1m) FILL(Previous)", QUERY_FILL_PREVIOUS },
		{ "SELECT mean(x) FROM m GROUP BY time(1m) fill(linear)", QUERY_FILL_LINEAR },
		{ "SELECT mean(x) FROM m GROUP BY time(1m) fill(0)", QUERY_FILL_NUMBER },
		{ "SELECT mean(x) FROM m fill(-1.5)", QUERY_FILL_NUMBER },
	};
	query_ast *ast;
	const struct query_stmt *st;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *p;

		st = one_stmt(cases[i].text, &ast);
		assert_true(st->select.fill_given);
		assert_int_equal(st->select.fill, cases[i].fill);
		query_ast_free(ast);
		p = round_trip(cases[i].text);
		strata_free(p);
	}
	st = one_stmt("SELECT mean(x) FROM m GROUP BY time(1m) fill(-7)", &ast);
	assert_int_equal(st->select.fill_value->kind, QUERY_EXPR_INTEGER);
	assert_int_equal(st->select.fill_value->i, -7);
	query_ast_free(ast);
	st = one_stmt("SELECT mean(x) FROM m fill(2.5)", &ast);
	assert_true(st->select.fill_value->f == 2.5);
	query_ast_free(ast);

	prints_as("SELECT mean(x) FROM m GROUP BY time(1m) FILL(Previous)",
		  "SELECT mean(x) FROM m GROUP BY time(1m) fill(previous)");
	parse_fails("SELECT mean(x) FROM m GROUP BY time(1m) fill(sometimes)", STRATA_EINVAL, 1, 46,
		    "fill requires an argument");
	parse_fails("SELECT mean(x) FROM m GROUP BY time(1m) fill('x')", STRATA_EINVAL, 1, 46,
		    "fill requires an argument");
	parse_fails("SELECT mean(x) FROM m GROUP BY time(1m) fill()", STRATA_EINVAL, 1, 46,
		    "found ), expected");
	parse_fails("SELECT mean(x) FROM m GROUP BY time(1m) fill(0, 1)", STRATA_EINVAL, 1, 47,
		    "found ,, expected )");
}

static void test_influxql_parser_order_limits_tz(void **state)
{
	query_ast *ast;
	const struct query_stmt *st;

	(void)state;
	st = one_stmt("SELECT x FROM m ORDER BY time DESC LIMIT 10 OFFSET 5 SLIMIT 3 SOFFSET 1 "
		      "tz('America/New_York')",
		      &ast);
	assert_true(st->select.order_given);
	assert_true(st->select.order_desc);
	assert_true(st->select.limit == 10);
	assert_true(st->select.offset == 5);
	assert_true(st->select.slimit == 3);
	assert_true(st->select.soffset == 1);
	assert_string_equal(st->select.tz, "America/New_York");
	query_ast_free(ast);

	st = one_stmt("SELECT x FROM m ORDER BY DESC", &ast);
	assert_true(st->select.order_desc);
	query_ast_free(ast);
	st = one_stmt("SELECT x FROM m ORDER BY time", &ast);
	assert_true(st->select.order_given);
	assert_false(st->select.order_desc);
	query_ast_free(ast);

	prints_as("select x from m order by TIME asc limit 0 offset 9223372036854775807",
		  "SELECT x FROM m ORDER BY time ASC OFFSET 9223372036854775807");
	parse_fails("SELECT x FROM m ORDER BY host", STRATA_EINVAL, 1, 26,
		    "only ORDER BY time supported at this time");
	parse_fails("SELECT x FROM m ORDER BY time, host", STRATA_EINVAL, 1, 30,
		    "only ORDER BY time supported at this time");
	parse_fails("SELECT x FROM m LIMIT -1", STRATA_EINVAL, 1, 23, "found -, expected integer");
	parse_fails("SELECT x FROM m LIMIT 9223372036854775808", STRATA_EINVAL, 1, 23, "invalid value");
	parse_fails("SELECT x FROM m LIMIT 1.5", STRATA_EINVAL, 1, 23, "found 1.5, expected integer");
	parse_fails("SELECT x FROM m tz(3)", STRATA_EINVAL, 1, 20, "found 3, expected string");
	/* Clauses in InfluxDB's order only. */
	parse_fails("SELECT x FROM m LIMIT 1 ORDER BY time", STRATA_EINVAL, 1, 25,
		    "found ORDER, expected ;");
}

/* ---- other statements ---- */

static void test_influxql_parser_show_statements(void **state)
{
	query_ast *ast;
	const struct query_stmt *st;
	const struct query_show *sh;

	(void)state;
	st = one_stmt("SHOW DATABASES", &ast);
	assert_int_equal(st->kind, QUERY_STMT_SHOW_DATABASES);
	query_ast_free(ast);

	st = one_stmt("SHOW MEASUREMENTS ON \"telegraf\" WITH MEASUREMENT =~ /(?i)cpu/ WHERE host = 'a' "
		      "LIMIT 100 OFFSET 2",
		      &ast);
	sh = &st->show;
	assert_int_equal(st->kind, QUERY_STMT_SHOW_MEASUREMENTS);
	assert_string_equal(sh->database, "telegraf");
	assert_string_equal(sh->with_measurement->regex, "(?i)cpu");
	assert_non_null(sh->condition);
	assert_true(sh->limit == 100 && sh->offset == 2);
	query_ast_free(ast);

	st = one_stmt("SHOW MEASUREMENTS WITH MEASUREMENT = cpu", &ast);
	assert_string_equal(st->show.with_measurement->name, "cpu");
	query_ast_free(ast);

	st = one_stmt("SHOW TAG KEYS ON db FROM cpu, mem WHERE host = 'a' LIMIT 5 OFFSET 1", &ast);
	sh = &st->show;
	assert_int_equal(st->kind, QUERY_STMT_SHOW_TAG_KEYS);
	assert_string_equal(sh->database, "db");
	assert_int_equal(sh->n_sources, 2);
	assert_string_equal(sh->sources[1].name, "mem");
	assert_true(sh->limit == 5 && sh->offset == 1);
	query_ast_free(ast);

	st = one_stmt("SHOW TAG VALUES WITH KEY = \"host\"", &ast);
	sh = &st->show;
	assert_int_equal(st->kind, QUERY_STMT_SHOW_TAG_VALUES);
	assert_int_equal(sh->key_op, QUERY_OP_EQ);
	assert_int_equal(sh->n_keys, 1);
	assert_string_equal(sh->keys[0], "host");
	assert_int_equal(sh->n_sources, 0);
	query_ast_free(ast);

	st = one_stmt("SHOW TAG VALUES ON db FROM cpu WITH KEY IN (\"host\", region, 'dc') "
		      "WHERE x = 1 LIMIT 3",
		      &ast);
	sh = &st->show;
	assert_int_equal(sh->key_op, QUERY_OP_IN);
	assert_int_equal(sh->n_keys, 3);
	assert_string_equal(sh->keys[2], "dc");
	assert_non_null(sh->condition);
	query_ast_free(ast);

	st = one_stmt("SHOW TAG VALUES FROM cpu WITH KEY !~ /^_/", &ast);
	assert_int_equal(st->show.key_op, QUERY_OP_NEQREGEX);
	assert_string_equal(st->show.key_regex, "^_");
	query_ast_free(ast);

	st = one_stmt("SHOW FIELD KEYS ON db FROM \"autogen\".\"cpu\" LIMIT 9", &ast);
	assert_int_equal(st->kind, QUERY_STMT_SHOW_FIELD_KEYS);
	assert_string_equal(st->show.sources[0].retention_policy, "autogen");
	query_ast_free(ast);

	st = one_stmt("SHOW SERIES ON db FROM cpu WHERE host = 'a' LIMIT 2 OFFSET 4", &ast);
	assert_int_equal(st->kind, QUERY_STMT_SHOW_SERIES);
	assert_true(st->show.offset == 4);
	query_ast_free(ast);

	st = one_stmt("SHOW RETENTION POLICIES on \"telegraf\"", &ast);
	assert_int_equal(st->kind, QUERY_STMT_SHOW_RETENTION_POLICIES);
	assert_string_equal(st->rp.database, "telegraf");
	query_ast_free(ast);

	st = one_stmt("SHOW CONTINUOUS QUERIES", &ast);
	assert_int_equal(st->kind, QUERY_STMT_SHOW_CONTINUOUS_QUERIES);
	query_ast_free(ast);

	prints_as("show tag values from \"cpu\" with key = \"host\" where \"cpu\" = 'cpu-total'",
		  "SHOW TAG VALUES FROM cpu WITH KEY = host WHERE cpu = 'cpu-total'");
	prints_as("show tag keys with key =~ /a/", "SHOW TAG KEYS WITH KEY =~ /a/");
	prints_as("show measurements with measurement = \"my m\" limit 1",
		  "SHOW MEASUREMENTS WITH MEASUREMENT = \"my m\" LIMIT 1");
	parse_fails("SHOW TAG VALUES FROM cpu", STRATA_EINVAL, 1, 25, "found EOF, expected WITH");
	parse_fails("SHOW TAG VALUES WITH KEY host", STRATA_EINVAL, 1, 26,
		    "found host, expected IN, =, !=, =~, !~");
	parse_fails("SHOW TAG VALUES WITH KEY =~ 'x'", STRATA_EINVAL, 1, 29, "expected regex");
	parse_fails("SHOW MEASUREMENTS WITH MEASUREMENT =~ cpu", STRATA_EINVAL, 1, 39, "expected regex");
	parse_fails("SHOW TAG", STRATA_EINVAL, 1, 9, "found EOF, expected KEYS, VALUES");
	parse_fails("SHOW USERS", STRATA_EINVAL, 1, 6,
		    "found USERS, expected CONTINUOUS, DATABASES, FIELD, MEASUREMENTS, RETENTION, SERIES, TAG");
	parse_fails("SHOW FIELD KEYS WHERE a = 1", STRATA_EINVAL, 1, 17, "found WHERE, expected ;");
}

static void test_influxql_parser_database_and_rp_statements(void **state)
{
	query_ast *ast;
	const struct query_stmt *st;
	const struct query_rp_options *o;

	(void)state;
	st = one_stmt("CREATE DATABASE foo", &ast);
	assert_int_equal(st->kind, QUERY_STMT_CREATE_DATABASE);
	assert_string_equal(st->database.name, "foo");
	assert_false(st->database.with);
	query_ast_free(ast);

	st = one_stmt("CREATE DATABASE \"my db\" WITH DURATION 30d REPLICATION 1 SHARD DURATION 1d NAME "
		      "\"thirty\"",
		      &ast);
	o = &st->database.rp;
	assert_true(st->database.with);
	assert_true(o->has_duration && o->duration_ns == 30 * 86400 * SEC);
	assert_true(o->has_replication && o->replication == 1);
	assert_true(o->has_shard_duration && o->shard_duration_ns == 86400 * SEC);
	assert_string_equal(o->name, "thirty");
	query_ast_free(ast);

	st = one_stmt("DROP DATABASE foo", &ast);
	assert_int_equal(st->kind, QUERY_STMT_DROP_DATABASE);
	assert_string_equal(st->database.name, "foo");
	query_ast_free(ast);

	st = one_stmt("CREATE RETENTION POLICY \"one_week\" ON db DURATION 1w REPLICATION 2 SHARD DURATION "
		      "1h DEFAULT",
		      &ast);
	o = &st->rp.opts;
	assert_int_equal(st->kind, QUERY_STMT_CREATE_RETENTION_POLICY);
	assert_string_equal(st->rp.name, "one_week");
	assert_string_equal(st->rp.database, "db");
	assert_true(o->duration_ns == 7 * 86400 * SEC && o->replication == 2);
	assert_true(o->shard_duration_ns == 3600 * SEC && o->is_default);
	query_ast_free(ast);

	st = one_stmt("ALTER RETENTION POLICY r ON db DEFAULT REPLICATION 3 DURATION INF", &ast);
	o = &st->rp.opts;
	assert_int_equal(st->kind, QUERY_STMT_ALTER_RETENTION_POLICY);
	assert_true(o->is_default && o->has_replication && o->replication == 3);
	assert_true(o->has_duration && o->duration_ns == 0);
	assert_false(o->has_shard_duration);
	query_ast_free(ast);

	st = one_stmt("DROP RETENTION POLICY r ON db", &ast);
	assert_int_equal(st->kind, QUERY_STMT_DROP_RETENTION_POLICY);
	assert_string_equal(st->rp.name, "r");
	query_ast_free(ast);

	prints_as("create database d with duration inf replication 1",
		  "CREATE DATABASE d WITH DURATION INF REPLICATION 1");
	prints_as("alter retention policy r on d shard duration 2h default",
		  "ALTER RETENTION POLICY r ON d SHARD DURATION 2h DEFAULT");
	parse_fails("CREATE DATABASE d WITH", STRATA_EINVAL, 1, 23,
		    "found EOF, expected DURATION, NAME, REPLICATION, SHARD");
	parse_fails("CREATE RETENTION POLICY r ON d DURATION 1d", STRATA_EINVAL, 1, 43,
		    "found EOF, expected REPLICATION");
	parse_fails("CREATE RETENTION POLICY r ON d DURATION 1d REPLICATION 0", STRATA_EINVAL, 1, 56,
		    "invalid value 0: must be 1 <= n <= 2147483647");
	parse_fails("CREATE RETENTION POLICY r ON d DURATION 1d REPLICATION 1 SHARD DURATION INF",
		    STRATA_EINVAL, 1, 73, "invalid duration INF for shard duration");
	parse_fails("ALTER RETENTION POLICY r ON d", STRATA_EINVAL, 1, 30,
		    "found EOF, expected DURATION, REPLICATION, SHARD, DEFAULT");
	parse_fails("ALTER RETENTION POLICY r ON d DEFAULT DEFAULT", STRATA_EINVAL, 1, 39,
		    "found duplicate DEFAULT option");
	parse_fails("DROP DATABASE", STRATA_EINVAL, 1, 14, "found EOF, expected identifier");
	parse_fails("CREATE TABLE t", STRATA_EINVAL, 1, 8,
		    "found TABLE, expected CONTINUOUS, DATABASE, RETENTION");
	/* TABLE is not a keyword: the error shows the word as written. */
}

static void test_influxql_parser_delete_and_drop(void **state)
{
	query_ast *ast;
	const struct query_stmt *st;

	(void)state;
	st = one_stmt("DROP SERIES FROM cpu WHERE host = 'a'", &ast);
	assert_int_equal(st->kind, QUERY_STMT_DROP_SERIES);
	assert_int_equal(st->del.n_sources, 1);
	assert_non_null(st->del.condition);
	query_ast_free(ast);

	st = one_stmt("DROP SERIES WHERE host = 'a'", &ast);
	assert_int_equal(st->del.n_sources, 0);
	query_ast_free(ast);

	st = one_stmt("DELETE FROM cpu", &ast);
	assert_int_equal(st->kind, QUERY_STMT_DELETE);
	assert_null(st->del.condition);
	query_ast_free(ast);

	st = one_stmt("DELETE FROM rp.cpu WHERE time < '2026-01-01'", &ast);
	assert_int_equal(st->del.condition->binary.rhs->kind, QUERY_EXPR_TIME);
	query_ast_free(ast);

	st = one_stmt("DROP MEASUREMENT \"cpu load\"", &ast);
	assert_int_equal(st->kind, QUERY_STMT_DROP_MEASUREMENT);
	assert_string_equal(st->measurement, "cpu load");
	query_ast_free(ast);

	parse_fails("DELETE", STRATA_EINVAL, 1, 7, "found EOF, expected FROM, WHERE");
	parse_fails("DROP SERIES", STRATA_EINVAL, 1, 12, "found EOF, expected FROM, WHERE");
	parse_fails("DELETE FROM db.rp.cpu", STRATA_EINVAL, 1, 13, "database not supported");
	parse_fails("DROP SERIES FROM rp.cpu", STRATA_EINVAL, 1, 18, "retention policy not supported");
}

static void test_influxql_parser_continuous_queries(void **state)
{
	query_ast *ast;
	const struct query_stmt *st;
	const struct query_select *s;

	(void)state;
	st = one_stmt("CREATE CONTINUOUS QUERY \"cq_5m\" ON \"db\" RESAMPLE EVERY 10m FOR 1h BEGIN "
		      "SELECT mean(\"value\") INTO \"db\".\"rp\".\"cpu_5m\" FROM \"cpu\" GROUP BY "
		      "time(5m), * END",
		      &ast);
	assert_int_equal(st->kind, QUERY_STMT_CREATE_CONTINUOUS_QUERY);
	assert_string_equal(st->cq.name, "cq_5m");
	assert_string_equal(st->cq.database, "db");
	assert_true(st->cq.resample_every_ns == 600 * SEC);
	assert_true(st->cq.resample_for_ns == 3600 * SEC);
	s = st->cq.select;
	assert_non_null(s);
	assert_string_equal(s->into->name, "cpu_5m");
	assert_true(s->group_interval_ns == 300 * SEC);
	query_ast_free(ast);

	st = one_stmt("CREATE CONTINUOUS QUERY c ON d BEGIN SELECT max(x) INTO m2 FROM m GROUP BY "
		      "time(1h) END",
		      &ast);
	assert_true(st->cq.resample_every_ns == 0 && st->cq.resample_for_ns == 0);
	query_ast_free(ast);

	st = one_stmt("DROP CONTINUOUS QUERY c ON d", &ast);
	assert_int_equal(st->kind, QUERY_STMT_DROP_CONTINUOUS_QUERY);
	assert_string_equal(st->cq.name, "c");
	assert_string_equal(st->cq.database, "d");
	query_ast_free(ast);

	prints_as("create continuous query c on d resample for 2h begin select mean(x) into "
		  "rp.:MEASUREMENT from /.*/ group by time(30m) end",
		  "CREATE CONTINUOUS QUERY c ON d RESAMPLE FOR 2h BEGIN SELECT mean(x) INTO "
		  "rp.:MEASUREMENT FROM /.*/ GROUP BY time(30m) END");
	parse_fails("CREATE CONTINUOUS QUERY c ON d BEGIN SELECT x FROM m END", STRATA_EINVAL, 1, 47,
		    "found FROM, expected INTO");
	parse_fails("CREATE CONTINUOUS QUERY c ON d RESAMPLE BEGIN SELECT x INTO y FROM m END",
		    STRATA_EINVAL, 1, 41, "found BEGIN, expected EVERY, FOR");
	parse_fails("CREATE CONTINUOUS QUERY c ON d RESAMPLE EVERY 0s BEGIN SELECT x INTO y FROM m END",
		    STRATA_EINVAL, 1, 47, "RESAMPLE EVERY must be a positive duration");
	parse_fails("CREATE CONTINUOUS QUERY c ON d BEGIN SELECT x INTO y FROM m", STRATA_EINVAL, 1, 60,
		    "found EOF, expected END");
}

static void test_influxql_parser_several_statements(void **state)
{
	query_ast *ast;

	(void)state;
	ast = parse_ok("SHOW DATABASES; SELECT x FROM m;; SHOW MEASUREMENTS;");
	assert_int_equal(ast->n_stmts, 3);
	assert_int_equal(ast->stmts[0].kind, QUERY_STMT_SHOW_DATABASES);
	assert_int_equal(ast->stmts[1].kind, QUERY_STMT_SELECT);
	assert_int_equal(ast->stmts[1].pos.offset, 16);
	assert_int_equal(ast->stmts[2].kind, QUERY_STMT_SHOW_MEASUREMENTS);
	query_ast_free(ast);

	/* Nothing but blanks, comments and separators: no statement. */
	ast = parse_ok("  -- nothing\n ; /* here */ ;");
	assert_int_equal(ast->n_stmts, 0);
	query_ast_free(ast);
	ast = parse_ok("");
	assert_int_equal(ast->n_stmts, 0);
	query_ast_free(ast);

	prints_as("show databases;select x from m", "SHOW DATABASES; SELECT x FROM m");
	parse_fails("SHOW DATABASES SHOW DATABASES", STRATA_EINVAL, 1, 16, "found SHOW, expected ;");
}

/* ---- errors ---- */

static void test_influxql_parser_errors_like_influxdb(void **state)
{
	query_parse_error err;
	query_ast *ast;
	int rc;

	(void)state;
	parse_fails("SELECT FROM m", STRATA_EINVAL, 1, 8,
		    "found FROM, expected identifier, string, number, bool at line 1, char 8");
	parse_fails("SELECT x FROM", STRATA_EINVAL, 1, 14,
		    "found EOF, expected identifier at line 1, char 14");
	parse_fails("SELECT x\nFROM m\nWHERE host = ", STRATA_EINVAL, 3, 14,
		    "found EOF, expected identifier, string, number, bool at line 3, char 14");
	parse_fails("SELECT x FROM m WHERE (a = 1", STRATA_EINVAL, 1, 29, "found EOF, expected )");
	parse_fails("SELECT mean(x FROM m", STRATA_EINVAL, 1, 15, "found FROM, expected ,, )");
	parse_fails("SELECT x::int FROM m", STRATA_EINVAL, 1, 11,
		    "found int, expected float, integer, unsigned, string, boolean, field, tag");
	parse_fails("SELECT *::float FROM m", STRATA_EINVAL, 1, 11, "found float, expected field, tag");
	parse_fails("SELECT x AS FROM m", STRATA_EINVAL, 1, 13, "found FROM, expected identifier");
	parse_fails("SELEC x FROM m", STRATA_EINVAL, 1, 1,
		    "found SELEC, expected SELECT, DELETE, SHOW, CREATE, DROP, ALTER at line 1, char 1");
	parse_fails("SELECT x FROM m WHERE $timeFilter", STRATA_EINVAL, 1, 23,
		    "found $timeFilter, expected identifier, string, number, bool");
	/* Lexical errors come through with their own reason and place. */
	parse_fails("SELECT x FROM m WHERE a = 'open", STRATA_EINVAL, 1, 27,
		    "unterminated string at line 1, char 27");
	parse_fails("SELECT x FROM m WHERE a =~ /open", STRATA_EINVAL, 1, 28,
		    "unterminated regex at line 1, char 28");
	parse_fails("SELECT 1h2 FROM m", STRATA_EINVAL, 1, 8, "invalid duration");
	parse_fails("SELECT x FROM m WHERE a = 1 # b", STRATA_EINVAL, 1, 29, "unexpected character '#'");
	/* Columns count characters, not bytes. */
	parse_fails("SELECT 'µµµ' FROM", STRATA_EINVAL, 1, 18, "found EOF, expected identifier");

	/* err may be NULL; the message still goes to strata_last_error(). */
	strata_error_clear();
	rc = query_parse(&ast, "SELECT", 6, NULL, NULL);
	assert_int_equal(rc, STRATA_EINVAL);
	assert_null(ast);
	assert_string_equal(strata_last_error(),
			    "found EOF, expected identifier, string, number, bool at line 1, char 7");
	rc = query_parse(&ast, "SELECT x FROM m", 15, NULL, &err);
	assert_int_equal(rc, 0);
	assert_int_equal(err.rc, 0);
	assert_string_equal(err.message, "");
	query_ast_free(ast);
	/* The found token is given apart too. */
	rc = query_parse(&ast, "SELECT x FROM m LIMIT x", 23, NULL, &err);
	assert_int_equal(rc, STRATA_EINVAL);
	assert_string_equal(err.found, "x");
	assert_int_equal(err.pos.offset, 22);
}

/* ---- printer ---- */

static void test_influxql_parser_round_trip(void **state)
{
	static const char *const queries[] = {
		"SELECT * FROM cpu",
		"SELECT \"a\\\"b\", 'x\\'y\\n', \"select\", \"true\", \"_ok\", \"9x\", \"\" FROM \"my db\".\"\".m",
		"SELECT a AS \"the alias\", b AS c FROM m WHERE \"tag key\" = 'v' AND x > 1.50",
		"SELECT mean(x) / 1000, -sum(y), (a + b) * -(c - d) FROM m",
		"SELECT x FROM m WHERE a =~ /a\\/b\\d/ AND b !~ /^(x|y)$/ OR c <> 'z'",
		"SELECT x FROM m WHERE time > now() - 1h AND time < now() + 30m",
		"SELECT x FROM m WHERE time >= '2026-01-01T00:00:00.123Z' - 1h",
		"SELECT x FROM m WHERE (time > 1767225600000ms) AND (time < 1767312000000ms)",
		"SELECT x FROM m WHERE a = true OR b = false OR c = -0.0 OR d = 0.1",
		"SELECT x FROM m WHERE a = 18446744073709551615 OR b = -9223372036854775808",
		"SELECT 1.0, 100.0, 0.001, 123456789.123456789, 1797693134862315708145274237317043567980705675258449965989174768031572607800285387605895586327668781715404589535143824642343213268894641827684675467035375169860499105765512820762454900903893289440758685541040781210893.0 FROM m",
		"SELECT 0.00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000049 FROM m",
		"SELECT x FROM m WHERE a & 1 = 1 AND b | 2 ^ 3 > 0 AND c % 2 = 0",
		"SELECT top(x, host, 3), bottom(x, 2), sample(x, 10) FROM m GROUP BY *",
		("SELECT x FROM m GROUP BY time(1w, -1d), /re/, a::tag fill(-1) ORDER BY time DESC LIMIT 1 "
		 "OFFSET 2 SLIMIT 3 SOFFSET 4 tz('UTC')"),
		"SELECT x FROM m WHERE x = 'multi\\nline' AND y = \"quoted\\nname\"",
		"SELECT \"µ\" FROM \"µ\" WHERE \"µ\" = 'µ'",
		"SELECT x FROM m WHERE a = (((1)))",
		"SELECT \"distinct\"(x), \"select\"(y), \"a b\"(z) FROM m",
		"DELETE WHERE time < '1970-01-01'",
		"CREATE DATABASE d WITH NAME r; SHOW RETENTION POLICIES",
		"CREATE RETENTION POLICY r ON d DURATION 0s REPLICATION 1 SHARD DURATION 0s",
		"SHOW TAG VALUES WITH KEY IN (\"a b\", c)",
		"SHOW SERIES",
		"SHOW TAG KEYS",
		"SHOW FIELD KEYS",
		"SHOW MEASUREMENTS",
		"SELECT x FROM m WHERE time > 0ns",
		"SELECT x FROM m WHERE v > 1.5 * 2 - 3 / 4 % 5",
		"SELECT x FROM /a*b/ WHERE r =~ //",
	};

	(void)state;
	for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
		char *p = round_trip(queries[i]);

		strata_free(p);
	}
	prints_as("SELECT \"distinct\"(x), \"select\"(y) FROM m",
		  "SELECT distinct(x), \"select\"(y) FROM m");
	prints_as("SELECT x FROM m WHERE c = -0.0 OR d = 1.50 OR e = 007",
		  "SELECT x FROM m WHERE c = -0.0 OR d = 1.5 OR e = 7");
	parse_fails("SELECT x FROM m WHERE f = 2.", STRATA_EINVAL, 1, 28, "found ., expected ;");
}

static void test_influxql_parser_print_floats_exactly(void **state)
{
	uint64_t s = 0x9E3779B97F4A7C15u;

	(void)state;
	for (int i = 0; i < 2000; i++) {
		char text[512], *p;
		query_ast *ast;
		const struct query_stmt *st;
		double v;
		uint64_t bits;

		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		bits = s;
		memcpy(&v, &bits, sizeof v);
		if (!isfinite(v))
			continue;
		v = fabs(v);
		/* print the literal, then parse the print */
		{
			query_expr e;

			memset(&e, 0, sizeof e);
			e.kind = QUERY_EXPR_NUMBER;
			e.f = v;
			e.height = 1;
			assert_int_equal(query_expr_print(&p, &e), 0);
		}
		assert_non_null(strchr(p, '.'));
		assert_null(strchr(p, 'e'));
		assert_true(strlen(p) < 400);
		snprintf(text, sizeof text, "SELECT %s FROM m", p);
		st = one_stmt(text, &ast);
		assert_int_equal(field_expr(st, 0)->kind, QUERY_EXPR_NUMBER);
		if (memcmp(&field_expr(st, 0)->f, &v, sizeof v) != 0)
			fail_msg("%.17g printed as %s reads back as %.17g", v, p, field_expr(st, 0)->f);
		query_ast_free(ast);
		strata_free(p);
	}
}

static void test_influxql_parser_print_hand_built_tree(void **state)
{
	/* Trees built by hand (the planner may rewrite) get the parentheses they need. */
	query_expr a = { .kind = QUERY_EXPR_VARREF, .height = 1, .ref = { "a", QUERY_TYPE_NONE } };
	query_expr b = { .kind = QUERY_EXPR_VARREF, .height = 1, .ref = { "b", QUERY_TYPE_NONE } };
	query_expr c = { .kind = QUERY_EXPR_VARREF, .height = 1, .ref = { "c", QUERY_TYPE_NONE } };
	query_expr or_ = { .kind = QUERY_EXPR_BINARY, .height = 2 };
	query_expr and_ = { .kind = QUERY_EXPR_BINARY, .height = 3 };
	query_expr t = { .kind = QUERY_EXPR_TIME, .height = 1, .ns = 0 };
	char *p;

	(void)state;
	or_.binary.op = QUERY_OP_OR;
	or_.binary.lhs = &a;
	or_.binary.rhs = &b;
	and_.binary.op = QUERY_OP_AND;
	and_.binary.lhs = &or_;
	and_.binary.rhs = &c;
	assert_int_equal(query_expr_print(&p, &and_), 0);
	assert_string_equal(p, "(a OR b) AND c");
	strata_free(p);
	and_.binary.lhs = &c;
	and_.binary.rhs = &or_;
	assert_int_equal(query_expr_print(&p, &and_), 0);
	assert_string_equal(p, "c AND (a OR b)");
	strata_free(p);
	assert_int_equal(query_expr_print(&p, &t), 0);
	assert_string_equal(p, "'1970-01-01T00:00:00Z'");
	strata_free(p);
}

/* ---- bounds and hostile input ---- */

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * n + tl + 1), *w = s;

	assert_non_null(s);
	memcpy(w, head, hl);
	w += hl;
	for (size_t i = 0; i < n; i++, w += ul)
		memcpy(w, unit, ul);
	memcpy(w, tail, tl + 1);
	return s;
}

static int parse_rc(const char *text, const query_parse_opts *opts)
{
	query_ast *ast;
	int rc = query_parse(&ast, text, strlen(text), opts, NULL);

	query_ast_free(ast);
	return rc;
}

static void test_influxql_parser_bounds(void **state)
{
	query_parse_opts o;
	char *s, *t;

	(void)state;
	/* Nesting: parentheses and calls count against max_depth (64). */
	s = repeat("SELECT ", "(", 63, "x");
	t = repeat(s, ")", 63, " FROM m");
	assert_int_equal(parse_rc(t, NULL), 0);
	free(s);
	free(t);
	s = repeat("SELECT ", "(", 64, "x");
	t = repeat(s, ")", 64, " FROM m");
	assert_int_equal(parse_rc(t, NULL), STRATA_ETOOBIG);
	assert_non_null(strstr(strata_last_error(), "nested too deeply (max 64)"));
	free(s);
	free(t);
	s = repeat("SELECT ", "f(", 100, "x");
	t = repeat(s, ")", 100, " FROM m");
	assert_int_equal(parse_rc(t, NULL), STRATA_ETOOBIG);
	free(s);
	free(t);
	/* Hostile: a million open parentheses stop at the bound, not the stack. */
	s = repeat("SELECT ", "(", 1000000, "");
	memset(&o, 0, sizeof o);
	o.max_text_bytes = 2u << 20;
	assert_int_equal(parse_rc(s, &o), STRATA_ETOOBIG);
	free(s);

	/* A flat chain costs no stack but its height is bounded (1000). */
	s = repeat("SELECT 1", " + 1", 998, " FROM m");
	assert_int_equal(parse_rc(s, NULL), 0);
	free(s);
	s = repeat("SELECT 1", " + 1", 1000, " FROM m");
	assert_int_equal(parse_rc(s, NULL), STRATA_ETOOBIG);
	assert_non_null(strstr(strata_last_error(), "expression too complex"));
	free(s);
	s = repeat("SELECT x FROM m WHERE a = 1", " OR a = 1", 100000, "");
	assert_int_equal(parse_rc(s, NULL), STRATA_ETOOBIG);
	free(s);
	memset(&o, 0, sizeof o);
	o.max_height = 5000;
	s = repeat("SELECT 1", " + 1", 3000, " FROM m");
	assert_int_equal(parse_rc(s, &o), 0);
	free(s);

	/* Lists: fields, sources, arguments (4096 by default). */
	s = repeat("SELECT x", ", x", 4095, " FROM m");
	assert_int_equal(parse_rc(s, NULL), 0);
	free(s);
	s = repeat("SELECT x", ", x", 4096, " FROM m");
	assert_int_equal(parse_rc(s, NULL), STRATA_ETOOBIG);
	assert_non_null(strstr(strata_last_error(), "too many items in a list (max 4096)"));
	free(s);
	memset(&o, 0, sizeof o);
	o.max_list = 3;
	assert_int_equal(parse_rc("SELECT f(1, 2, 3) FROM a, b, c", &o), 0);
	assert_int_equal(parse_rc("SELECT f(1, 2, 3, 4) FROM m", &o), STRATA_ETOOBIG);
	assert_int_equal(parse_rc("SELECT x FROM a, b, c, d", &o), STRATA_ETOOBIG);
	assert_int_equal(parse_rc("SELECT x FROM m GROUP BY a, b, c, d", &o), STRATA_ETOOBIG);
	assert_int_equal(parse_rc("SHOW TAG VALUES WITH KEY IN (a, b, c, d)", &o), STRATA_ETOOBIG);

	/* Statements (256 by default). */
	s = repeat("", "SHOW DATABASES;", 256, "");
	assert_int_equal(parse_rc(s, NULL), 0);
	free(s);
	s = repeat("", "SHOW DATABASES;", 257, "");
	assert_int_equal(parse_rc(s, NULL), STRATA_ETOOBIG);
	assert_non_null(strstr(strata_last_error(), "too many statements (max 256)"));
	free(s);

	/* Text length. */
	memset(&o, 0, sizeof o);
	o.max_text_bytes = 10;
	assert_int_equal(parse_rc("SHOW SERIES", &o), STRATA_ETOOBIG);
	assert_int_equal(parse_rc("SHOW TAG", &o), STRATA_EINVAL);
	s = repeat("SELECT x FROM m WHERE a = '", "x", (1u << 20), "'");
	assert_int_equal(parse_rc(s, NULL), STRATA_ETOOBIG);
	assert_non_null(strstr(strata_last_error(), "query text too long"));
	free(s);

	/* Memory of the tree. */
	memset(&o, 0, sizeof o);
	o.max_ast_bytes = 16384;
	s = repeat("SELECT x", ", x", 2000, " FROM m");
	assert_int_equal(parse_rc(s, &o), STRATA_ETOOBIG);
	assert_non_null(strstr(strata_last_error(), "syntax tree exceeds 16384 bytes"));
	free(s);

	/* A CQ nests a statement: it counts as a level. */
	memset(&o, 0, sizeof o);
	o.max_depth = 1;
	assert_int_equal(parse_rc("SELECT x FROM m WHERE a = 1", &o), 0);
	assert_int_equal(parse_rc("SELECT (x) FROM m", &o), STRATA_ETOOBIG);
	assert_int_equal(parse_rc("CREATE CONTINUOUS QUERY c ON d BEGIN SELECT x INTO y FROM m END", &o),
			 STRATA_ETOOBIG);
}

static void test_influxql_parser_random_input_is_safe(void **state)
{
	static const char *const pieces[] = {
		"SELECT ", "FROM ", "WHERE ", "GROUP BY ", "time(1m)", "fill(", "null", ")", "(",
		"mean(", "x", "\"q\"", "'s'", "/re/", "=~ ", "= ", "AND ", "OR ", "+", "-", "*", "/",
		"1", "1.5", "1h", ",", ";", ".", "::", "tag", "SHOW ", "TAG ", "VALUES ", "WITH ",
		"KEY ", "IN ", "LIMIT ", "10", "now()", "'2026-01-01'", "time ", ">= ", "DISTINCT ",
		"CREATE ", "CONTINUOUS ", "QUERY ", "ON ", "BEGIN ", "END ", "INTO ", ":MEASUREMENT",
		"--c\n", "/*c*/", "\\", "'", "\"", "$v", "#", " ", "ORDER BY ", "DESC ", "tz('x')",
	};
	uint64_t s = 12345;
	int parsed = 0;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		char text[512];
		size_t len = 0;
		int n;
		query_ast *ast, *again;
		query_parse_error err;
		int rc;

		s = s * 6364136223846793005u + 1442695040888963407u;
		n = 1 + (int)((s >> 33) % 24);
		for (int k = 0; k < n; k++) {
			const char *piece;
			size_t pl;

			s = s * 6364136223846793005u + 1442695040888963407u;
			piece = pieces[(s >> 33) % (sizeof pieces / sizeof *pieces)];
			pl = strlen(piece);
			if (len + pl >= sizeof text)
				break;
			memcpy(text + len, piece, pl);
			len += pl;
		}
		text[len] = '\0';
		rc = query_parse(&ast, text, len, NULL, &err);
		if (rc != 0) {
			assert_true(rc == STRATA_EINVAL || rc == STRATA_ETOOBIG);
			assert_null(ast);
			assert_true(err.pos.offset <= len);
			assert_true(err.pos.line >= 1 && err.pos.column >= 1);
			assert_true(strstr(err.message, " at line ") != NULL);
			continue;
		}
		parsed++;
		{
			char *p1 = print_ast(ast), *p2;

			rc = query_parse(&again, p1, strlen(p1), NULL, &err);
			if (rc != 0)
				fail_msg("<%s> printed as <%s> does not parse: %s", text, p1, err.message);
			p2 = print_ast(again);
			if (strcmp(p1, p2) != 0)
				fail_msg("<%s>: unstable print <%s> / <%s>", text, p1, p2);
			strata_free(p1);
			strata_free(p2);
			query_ast_free(again);
		}
		query_ast_free(ast);
	}
	/* The pieces are chosen so that some random texts do parse. */
	assert_true(parsed > 0);
}

/* ---- the Grafana query file ---- */

static FILE *open_grafana_file(char *path, size_t n)
{
	const char *dir = getenv("STRATA_SOURCE_DIR");
	FILE *f = NULL;

	if (dir) {
		snprintf(path, n, "%s/tests/integration/grafana_queries.txt", dir);
		f = fopen(path, "r");
	}
	if (!f) {
		/* __FILE__ is tests/unit/test_influxql_parser.c, absolute or relative to the tree */
		const char *slash = strrchr(__FILE__, '/');
		int dl = slash ? (int)(slash - __FILE__) : 1;

		snprintf(path, n, "%.*s/../integration/grafana_queries.txt", dl, slash ? __FILE__ : ".");
		f = fopen(path, "r");
	}
	return f;
}

static void test_influxql_parser_grafana_queries_file(void **state)
{
	char path[4096], line[8192];
	FILE *f = open_grafana_file(path, sizeof path);
	int queries = 0, lineno = 0;

	(void)state;
	if (!f)
		fail_msg("cannot open grafana_queries.txt (set STRATA_SOURCE_DIR); last tried %s", path);
	while (fgets(line, sizeof line, f) && lineno < 10000) {
		size_t len = strlen(line);
		query_parse_error err;
		query_ast *ast;
		char *p;
		int rc;

		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		rc = query_parse(&ast, line, len, NULL, &err);
		if (rc != 0)
			fail_msg("%s:%d does not parse: %s\n  %s", path, lineno, err.message, line);
		assert_true(ast->n_stmts >= 1);
		query_ast_free(ast);
		p = round_trip(line);
		strata_free(p);
		queries++;
	}
	fclose(f);
	assert_true(queries >= 30);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_influxql_parser_select_grafana_panel),
		cmocka_unit_test(test_influxql_parser_select_fields),
		cmocka_unit_test(test_influxql_parser_function_calls),
		cmocka_unit_test(test_influxql_parser_precedence_and_unary),
		cmocka_unit_test(test_influxql_parser_field_operators_refused),
		cmocka_unit_test(test_influxql_parser_sources),
		cmocka_unit_test(test_influxql_parser_into),
		cmocka_unit_test(test_influxql_parser_where_time_literals),
		cmocka_unit_test(test_influxql_parser_time_helpers),
		cmocka_unit_test(test_influxql_parser_group_by),
		cmocka_unit_test(test_influxql_parser_fill),
		cmocka_unit_test(test_influxql_parser_order_limits_tz),
		cmocka_unit_test(test_influxql_parser_show_statements),
		cmocka_unit_test(test_influxql_parser_database_and_rp_statements),
		cmocka_unit_test(test_influxql_parser_delete_and_drop),
		cmocka_unit_test(test_influxql_parser_continuous_queries),
		cmocka_unit_test(test_influxql_parser_several_statements),
		cmocka_unit_test(test_influxql_parser_errors_like_influxdb),
		cmocka_unit_test(test_influxql_parser_round_trip),
		cmocka_unit_test(test_influxql_parser_print_floats_exactly),
		cmocka_unit_test(test_influxql_parser_print_hand_built_tree),
		cmocka_unit_test(test_influxql_parser_bounds),
		cmocka_unit_test(test_influxql_parser_random_input_is_safe),
		cmocka_unit_test(test_influxql_parser_grafana_queries_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
