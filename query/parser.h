/*
 * parser.h — InfluxQL text to syntax tree (ast.h).
 *
 * A recursive-descent parser over the lexer (lexer.h) with one token of
 * lookahead. It accepts what InfluxDB 1.x accepts for the statements in
 * enum query_stmt_kind, in the same clause order, and reports errors the way
 * InfluxDB does: "found FROM, expected identifier at line 1, char 8".
 *
 * Every recursion is bounded: parentheses, calls and nested statements by
 * max_depth, the height of each expression tree by max_height (so code
 * walking the tree recursively is safe too), lists by max_list, statements
 * by max_statements, the text by max_text_bytes and the tree's memory by
 * max_ast_bytes.
 *
 * Thread: query_parse() is reentrant; it keeps no state between calls.
 */
#ifndef STRATA_QUERY_PARSER_H
#define STRATA_QUERY_PARSER_H

#include "query/ast.h"

#include <stddef.h>
#include <stdint.h>

/* Bounds; a zero field takes its default. */
typedef struct query_parse_opts {
	size_t max_text_bytes;   /* default 1 MiB (at most 4 GiB - 1) */
	size_t max_ast_bytes;    /* default 64 * text length + 64 KiB */
	uint32_t max_depth;      /* nesting of (), calls and statements; default 64 */
	uint32_t max_height;     /* height of an expression tree; default 1000 */
	uint32_t max_statements; /* default 256 */
	uint32_t max_list;       /* fields, sources, dimensions, arguments, keys; default 4096 */
} query_parse_opts;

#define QUERY_PARSE_DEFAULT_TEXT_BYTES ((size_t)1 << 20)
#define QUERY_PARSE_DEFAULT_DEPTH 64u
#define QUERY_PARSE_DEFAULT_HEIGHT 1000u
#define QUERY_PARSE_DEFAULT_STATEMENTS 256u
#define QUERY_PARSE_DEFAULT_LIST 4096u

/* Where and why a parse failed. */
typedef struct query_parse_error {
	int rc;              /* as returned */
	struct query_pos pos; /* of the offending token (1-based line and column) */
	char found[64];      /* the token found ("FROM", "EOF", "cpu"), "" if not a token error */
	char message[256];   /* "found FROM, expected identifier at line 1, char 8" */
} query_parse_error;

/*
 * Parses text[0..len) — one or more statements separated by ';' — into a
 * new tree in *out, which the caller frees with query_ast_free(). opts may
 * be NULL for the defaults; err may be NULL.
 *
 * Returns 0; STRATA_EINVAL for a syntax or lexical error, STRATA_ETOOBIG when
 * a bound is exceeded (text, depth, height, list, statements, memory),
 * -ENOMEM. On failure *out is NULL, err (when given) says where and why, and
 * the same message is recorded with strata_error().
 */
int query_parse(query_ast **out, const char *text, size_t len, const query_parse_opts *opts,
		query_parse_error *err);

#endif
