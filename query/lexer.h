/*
 * lexer.h — InfluxQL tokens from a query text.
 *
 * The lexer reads a text of known length (it need not be NUL-terminated and
 * must not contain NUL bytes) and hands out one token per call, skipping
 * blanks and comments (-- to the end of the line, and C-style block comments). Each token
 * carries its position (byte offset, line, column) and, where it has one,
 * its value: unescaped text in the caller's arena, the integer, the float or
 * the duration in nanoseconds.
 *
 * A '/' is a division sign or the start of a regex depending on where the
 * parser stands, so the caller says which it wants: with QUERY_LEX_REGEX a
 * '/' starts a regex /.../ (in which \/ stands for a slash and every other
 * backslash escape is kept as written); without it '/' is QUERY_TOK_DIV.
 *
 * Thread: a lexer is used by one thread; several lexers may run at once.
 */
#ifndef STRATA_QUERY_LEXER_H
#define STRATA_QUERY_LEXER_H

#include "query/ast.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum query_tok {
	QUERY_TOK_EOF,
	QUERY_TOK_ILLEGAL, /* a lexical error: the lexer's `error` says what */

	/* Literals. */
	QUERY_TOK_IDENT,      /* bare or "quoted"; str: the name */
	QUERY_TOK_BOUNDPARAM, /* $name; str: the name without '$' */
	QUERY_TOK_STRING,     /* 'text'; str: the text */
	QUERY_TOK_INTEGER,    /* 123; u: the value (fits uint64) */
	QUERY_TOK_NUMBER,     /* 1.5 or .5; f: the value (finite) */
	QUERY_TOK_DURATION,   /* 1h30m; ns: the value (>= 0) */
	QUERY_TOK_REGEX,      /* /re/ (only with QUERY_LEX_REGEX); str: the pattern */
	QUERY_TOK_TRUE,
	QUERY_TOK_FALSE,

	/* Operators. */
	QUERY_TOK_ADD,
	QUERY_TOK_SUB,
	QUERY_TOK_MUL,
	QUERY_TOK_DIV,
	QUERY_TOK_MOD,
	QUERY_TOK_BITAND,
	QUERY_TOK_BITOR,
	QUERY_TOK_BITXOR,
	QUERY_TOK_EQ,
	QUERY_TOK_NEQ, /* != or <> */
	QUERY_TOK_LT,
	QUERY_TOK_LTE,
	QUERY_TOK_GT,
	QUERY_TOK_GTE,
	QUERY_TOK_EQREGEX,
	QUERY_TOK_NEQREGEX,
	QUERY_TOK_AND,
	QUERY_TOK_OR,
	QUERY_TOK_IN,

	/* Punctuation. */
	QUERY_TOK_LPAREN,
	QUERY_TOK_RPAREN,
	QUERY_TOK_COMMA,
	QUERY_TOK_SEMICOLON,
	QUERY_TOK_DOT,
	QUERY_TOK_COLON,
	QUERY_TOK_DOUBLECOLON,

	/* Keywords (InfluxDB 1.x's full list, so names that need quotes there need them here). */
	QUERY_TOK_ALL,
	QUERY_TOK_ALTER,
	QUERY_TOK_ANALYZE,
	QUERY_TOK_ANY,
	QUERY_TOK_AS,
	QUERY_TOK_ASC,
	QUERY_TOK_BEGIN,
	QUERY_TOK_BY,
	QUERY_TOK_CARDINALITY,
	QUERY_TOK_CONTINUOUS,
	QUERY_TOK_CREATE,
	QUERY_TOK_DATABASE,
	QUERY_TOK_DATABASES,
	QUERY_TOK_DEFAULT,
	QUERY_TOK_DELETE,
	QUERY_TOK_DESC,
	QUERY_TOK_DESTINATIONS,
	QUERY_TOK_DIAGNOSTICS,
	QUERY_TOK_DISTINCT,
	QUERY_TOK_DROP,
	QUERY_TOK_DURATION_KW, /* the keyword DURATION (QUERY_TOK_DURATION is a literal) */
	QUERY_TOK_END,
	QUERY_TOK_EVERY,
	QUERY_TOK_EXACT,
	QUERY_TOK_EXPLAIN,
	QUERY_TOK_FIELD,
	QUERY_TOK_FOR,
	QUERY_TOK_FROM,
	QUERY_TOK_GRANT,
	QUERY_TOK_GRANTS,
	QUERY_TOK_GROUP,
	QUERY_TOK_GROUPS,
	QUERY_TOK_INF,
	QUERY_TOK_INSERT,
	QUERY_TOK_INTO,
	QUERY_TOK_KEY,
	QUERY_TOK_KEYS,
	QUERY_TOK_KILL,
	QUERY_TOK_LIMIT,
	QUERY_TOK_MEASUREMENT,
	QUERY_TOK_MEASUREMENTS,
	QUERY_TOK_NAME,
	QUERY_TOK_OFFSET,
	QUERY_TOK_ON,
	QUERY_TOK_ORDER,
	QUERY_TOK_PASSWORD,
	QUERY_TOK_POLICIES,
	QUERY_TOK_POLICY,
	QUERY_TOK_PRIVILEGES,
	QUERY_TOK_QUERIES,
	QUERY_TOK_QUERY,
	QUERY_TOK_READ,
	QUERY_TOK_REPLICATION,
	QUERY_TOK_RESAMPLE,
	QUERY_TOK_RETENTION,
	QUERY_TOK_REVOKE,
	QUERY_TOK_SELECT,
	QUERY_TOK_SERIES,
	QUERY_TOK_SET,
	QUERY_TOK_SHARD,
	QUERY_TOK_SHARDS,
	QUERY_TOK_SHOW,
	QUERY_TOK_SLIMIT,
	QUERY_TOK_SOFFSET,
	QUERY_TOK_STATS,
	QUERY_TOK_SUBSCRIPTION,
	QUERY_TOK_SUBSCRIPTIONS,
	QUERY_TOK_TAG,
	QUERY_TOK_TO,
	QUERY_TOK_USER,
	QUERY_TOK_USERS,
	QUERY_TOK_VALUES,
	QUERY_TOK_WHERE,
	QUERY_TOK_WITH,
	QUERY_TOK_WRITE,

	QUERY_TOK__COUNT
};

/* A keyword's upper-case spelling, an operator's symbol, or a class name ("identifier"). */
const char *query_tok_str(enum query_tok t);

/* The keyword token spelled s[0..len) in any case, or QUERY_TOK_IDENT. */
enum query_tok query_keyword_lookup(const char *s, size_t len);

/*
 * True when the name must be written "quoted": empty, not [A-Za-z_][A-Za-z0-9_]*,
 * or a keyword (including and, or, in, true, false).
 */
bool query_ident_needs_quotes(const char *name);

typedef struct query_token {
	enum query_tok type;
	struct query_pos pos; /* of its first byte */
	const char *text;     /* the token as written (not terminated) */
	uint32_t len;         /* bytes of text */
	const char *str;      /* see enum query_tok; in the arena, NUL-terminated */
	bool quoted;          /* an IDENT written in double quotes */
	union {
		uint64_t u;
		double f;
		int64_t ns;
	};
} query_token;

/* Caller's memory; the fields are read-only for callers except `pos`. */
typedef struct query_lexer {
	const char *src;
	size_t len;
	struct query_pos pos; /* where the next token is searched; a caller may
	                       * set it back to a position this lexer produced */
	query_arena *arena;   /* holds token strings */
	const char *error;    /* reason of the last STRATA_EINVAL, valid until the next call */
	char error_buf[48];
} query_lexer;

/* Read '/' as the start of a regex. */
#define QUERY_LEX_REGEX 1u

/* src[0..len) with len < 4 GiB; token strings go to arena. */
void query_lexer_init(query_lexer *lx, const char *src, size_t len, query_arena *arena);

/*
 * The next token into *out (QUERY_TOK_EOF at the end, again and again).
 * Returns 0; STRATA_EINVAL for a lexical error (unterminated string or
 * comment, bad escape, bad number or duration, unexpected character), with
 * out->type QUERY_TOK_ILLEGAL, out->pos where it is, lx->error the reason and
 * the message recorded by strata_error(); -ENOMEM or STRATA_ETOOBIG when the
 * arena cannot hold a token's text.
 */
int query_lexer_next(query_lexer *lx, query_token *out, unsigned flags);

/*
 * Parses a duration literal: one or more <digits><unit> with unit ns, u, us,
 * µ, µs, ms, s, m, h, d or w (1h30m). 0, or STRATA_EINVAL when malformed or
 * over INT64_MAX nanoseconds.
 */
int query_duration_parse(int64_t *out, const char *s, size_t len);

#endif
