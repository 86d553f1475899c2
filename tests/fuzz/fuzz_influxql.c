/*
 * fuzz_influxql.c — libFuzzer target for query/lexer.c, parser.c and ast.c.
 *
 * For each input:
 * - lexes it to the end in plain and in regex mode: every token lies inside
 *   the input, after the previous one, with a 1-based line and column, and
 *   an error stops with an ILLEGAL token and a reason;
 * - parses it with the default bounds and with tiny ones (so the limit paths
 *   are reached by small inputs); a failure must be STRATA_EINVAL,
 *   STRATA_ETOOBIG or -ENOMEM, with a position inside the input and a
 *   message that names it;
 * - prints every tree it accepts, parses the print again (which must
 *   succeed: the printer only writes what the parser reads) and prints that:
 *   both prints must be equal.
 * The reparse allows more depth and height than the first parse, because
 * the printer may add parentheses that the text left to precedence.
 */
#include "lsm/alloc.h"
#include "lsm/status.h"
#include "query/lexer.h"
#include "query/parser.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond,     \
				__FILE__, __LINE__);                                  \
			abort();                                                     \
		}                                                                    \
	} while (0)

static void lex_everything(const char *text, size_t size, unsigned flags)
{
	query_arena arena;
	query_lexer lx;
	uint32_t last = 0;

	query_arena_init(&arena, 0);
	query_lexer_init(&lx, text, size, &arena);
	for (size_t i = 0; i <= size + 1; i++) {
		query_token t;
		int rc = query_lexer_next(&lx, &t, flags);

		CHECK(t.pos.offset <= size);
		CHECK(t.pos.line >= 1 && t.pos.column >= 1);
		if (rc != 0) {
			CHECK(rc == STRATA_EINVAL);
			CHECK(t.type == QUERY_TOK_ILLEGAL);
			CHECK(lx.error != NULL);
			break;
		}
		if (t.type == QUERY_TOK_EOF) {
			CHECK(t.pos.offset == size);
			break;
		}
		CHECK(t.pos.offset >= last);
		CHECK(t.len > 0 && t.pos.offset + t.len <= size);
		CHECK(lx.pos.offset == t.pos.offset + t.len);
		if (t.type == QUERY_TOK_IDENT || t.type == QUERY_TOK_STRING ||
		    t.type == QUERY_TOK_REGEX || t.type == QUERY_TOK_BOUNDPARAM)
			CHECK(t.str != NULL && strlen(t.str) <= t.len);
		if (t.type == QUERY_TOK_DURATION)
			CHECK(t.ns >= 0);
		last = t.pos.offset + t.len;
		CHECK(i < size); /* each token consumes at least one byte */
	}
	query_arena_deinit(&arena);
}

static void print_reparse(const query_ast *ast)
{
	query_parse_opts wide = { 0 };
	query_parse_error err;
	query_ast *again = NULL;
	char *p1 = NULL, *p2 = NULL;
	int rc;

	CHECK(query_ast_print(&p1, ast) == 0);
	wide.max_text_bytes = 64u << 20;
	wide.max_depth = 256;
	wide.max_height = 4 * QUERY_PARSE_DEFAULT_HEIGHT;
	rc = query_parse(&again, p1, strlen(p1), &wide, &err);
	if (rc != 0) {
		fprintf(stderr, "print does not parse (%d): %s\n  print: %s\n", rc, err.message, p1);
		abort();
	}
	CHECK(again->n_stmts == ast->n_stmts);
	CHECK(query_ast_print(&p2, again) == 0);
	if (strcmp(p1, p2) != 0) {
		fprintf(stderr, "unstable print:\n  first:  %s\n  second: %s\n", p1, p2);
		abort();
	}
	for (uint32_t k = 0; k < ast->n_stmts; k++) {
		char *s = NULL;

		CHECK(query_stmt_print(&s, &ast->stmts[k]) == 0);
		CHECK(strstr(p1, s) != NULL);
		strata_free(s);
	}
	strata_free(p1);
	strata_free(p2);
	query_ast_free(again);
}

static void parse_with(const char *text, size_t size, const query_parse_opts *opts)
{
	query_parse_error err;
	query_ast *ast = NULL;
	int rc = query_parse(&ast, text, size, opts, &err);

	if (rc != 0) {
		CHECK(rc == STRATA_EINVAL || rc == STRATA_ETOOBIG || rc == -ENOMEM);
		CHECK(ast == NULL);
		CHECK(err.rc == rc);
		CHECK(err.pos.offset <= size);
		CHECK(err.pos.line >= 1 && err.pos.column >= 1);
		CHECK(strstr(err.message, " at line ") != NULL);
		CHECK(strcmp(strata_last_error(), err.message) == 0);
		return;
	}
	CHECK(ast != NULL);
	print_reparse(ast);
	query_ast_free(ast);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	query_parse_opts tiny = { 0 };

	lex_everything(text, size, 0);
	lex_everything(text, size, QUERY_LEX_REGEX);
	parse_with(text, size, NULL);
	tiny.max_depth = 3;
	tiny.max_height = 8;
	tiny.max_list = 3;
	tiny.max_statements = 2;
	tiny.max_ast_bytes = 4096;
	parse_with(text, size, &tiny);
	return 0;
}
