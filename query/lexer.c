/*
 * lexer.c — InfluxQL tokens (lexer.h).
 *
 * A hand-written scanner over a byte range: one switch on the first byte of
 * a token, no backtracking beyond a byte or two of lookahead. Quoted text is
 * scanned twice, once to find its end and check its escapes, once to copy it
 * unescaped into the arena at its exact size, so no temporary buffer grows.
 * Keywords are found by binary search in a sorted table, case-insensitively.
 *
 * Lines and columns are counted as bytes go by: '\n' starts a line, and every
 * byte that is not a UTF-8 continuation byte is a column, so columns count
 * characters as InfluxDB does. Positions are 32-bit: the text is shorter than
 * 4 GiB (the parser bounds it far lower).
 *
 * Numbers follow InfluxQL: digits with an optional fraction (no exponent);
 * digits directly followed by a letter make a duration (1h30m), and a
 * malformed one is an error rather than two tokens.
 */
#include "query/lexer.h"

#include "lsm/status.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const tok_names[QUERY_TOK__COUNT] = {
	[QUERY_TOK_EOF] = "EOF",
	[QUERY_TOK_ILLEGAL] = "ILLEGAL",
	[QUERY_TOK_IDENT] = "identifier",
	[QUERY_TOK_BOUNDPARAM] = "bound parameter",
	[QUERY_TOK_STRING] = "string",
	[QUERY_TOK_INTEGER] = "integer",
	[QUERY_TOK_NUMBER] = "number",
	[QUERY_TOK_DURATION] = "duration",
	[QUERY_TOK_REGEX] = "regex",
	[QUERY_TOK_TRUE] = "TRUE",
	[QUERY_TOK_FALSE] = "FALSE",
	[QUERY_TOK_ADD] = "+",
	[QUERY_TOK_SUB] = "-",
	[QUERY_TOK_MUL] = "*",
	[QUERY_TOK_DIV] = "/",
	[QUERY_TOK_MOD] = "%",
	[QUERY_TOK_BITAND] = "&",
	[QUERY_TOK_BITOR] = "|",
	[QUERY_TOK_BITXOR] = "^",
	[QUERY_TOK_EQ] = "=",
	[QUERY_TOK_NEQ] = "!=",
	[QUERY_TOK_LT] = "<",
	[QUERY_TOK_LTE] = "<=",
	[QUERY_TOK_GT] = ">",
	[QUERY_TOK_GTE] = ">=",
	[QUERY_TOK_EQREGEX] = "=~",
	[QUERY_TOK_NEQREGEX] = "!~",
	[QUERY_TOK_AND] = "AND",
	[QUERY_TOK_OR] = "OR",
	[QUERY_TOK_IN] = "IN",
	[QUERY_TOK_LPAREN] = "(",
	[QUERY_TOK_RPAREN] = ")",
	[QUERY_TOK_COMMA] = ",",
	[QUERY_TOK_SEMICOLON] = ";",
	[QUERY_TOK_DOT] = ".",
	[QUERY_TOK_COLON] = ":",
	[QUERY_TOK_DOUBLECOLON] = "::",
	[QUERY_TOK_ALL] = "ALL",
	[QUERY_TOK_ALTER] = "ALTER",
	[QUERY_TOK_ANALYZE] = "ANALYZE",
	[QUERY_TOK_ANY] = "ANY",
	[QUERY_TOK_AS] = "AS",
	[QUERY_TOK_ASC] = "ASC",
	[QUERY_TOK_BEGIN] = "BEGIN",
	[QUERY_TOK_BY] = "BY",
	[QUERY_TOK_CARDINALITY] = "CARDINALITY",
	[QUERY_TOK_CONTINUOUS] = "CONTINUOUS",
	[QUERY_TOK_CREATE] = "CREATE",
	[QUERY_TOK_DATABASE] = "DATABASE",
	[QUERY_TOK_DATABASES] = "DATABASES",
	[QUERY_TOK_DEFAULT] = "DEFAULT",
	[QUERY_TOK_DELETE] = "DELETE",
	[QUERY_TOK_DESC] = "DESC",
	[QUERY_TOK_DESTINATIONS] = "DESTINATIONS",
	[QUERY_TOK_DIAGNOSTICS] = "DIAGNOSTICS",
	[QUERY_TOK_DISTINCT] = "DISTINCT",
	[QUERY_TOK_DROP] = "DROP",
	[QUERY_TOK_DURATION_KW] = "DURATION",
	[QUERY_TOK_END] = "END",
	[QUERY_TOK_EVERY] = "EVERY",
	[QUERY_TOK_EXACT] = "EXACT",
	[QUERY_TOK_EXPLAIN] = "EXPLAIN",
	[QUERY_TOK_FIELD] = "FIELD",
	[QUERY_TOK_FOR] = "FOR",
	[QUERY_TOK_FROM] = "FROM",
	[QUERY_TOK_GRANT] = "GRANT",
	[QUERY_TOK_GRANTS] = "GRANTS",
	[QUERY_TOK_GROUP] = "GROUP",
	[QUERY_TOK_GROUPS] = "GROUPS",
	[QUERY_TOK_INF] = "INF",
	[QUERY_TOK_INSERT] = "INSERT",
	[QUERY_TOK_INTO] = "INTO",
	[QUERY_TOK_KEY] = "KEY",
	[QUERY_TOK_KEYS] = "KEYS",
	[QUERY_TOK_KILL] = "KILL",
	[QUERY_TOK_LIMIT] = "LIMIT",
	[QUERY_TOK_MEASUREMENT] = "MEASUREMENT",
	[QUERY_TOK_MEASUREMENTS] = "MEASUREMENTS",
	[QUERY_TOK_NAME] = "NAME",
	[QUERY_TOK_OFFSET] = "OFFSET",
	[QUERY_TOK_ON] = "ON",
	[QUERY_TOK_ORDER] = "ORDER",
	[QUERY_TOK_PASSWORD] = "PASSWORD",
	[QUERY_TOK_POLICIES] = "POLICIES",
	[QUERY_TOK_POLICY] = "POLICY",
	[QUERY_TOK_PRIVILEGES] = "PRIVILEGES",
	[QUERY_TOK_QUERIES] = "QUERIES",
	[QUERY_TOK_QUERY] = "QUERY",
	[QUERY_TOK_READ] = "READ",
	[QUERY_TOK_REPLICATION] = "REPLICATION",
	[QUERY_TOK_RESAMPLE] = "RESAMPLE",
	[QUERY_TOK_RETENTION] = "RETENTION",
	[QUERY_TOK_REVOKE] = "REVOKE",
	[QUERY_TOK_SELECT] = "SELECT",
	[QUERY_TOK_SERIES] = "SERIES",
	[QUERY_TOK_SET] = "SET",
	[QUERY_TOK_SHARD] = "SHARD",
	[QUERY_TOK_SHARDS] = "SHARDS",
	[QUERY_TOK_SHOW] = "SHOW",
	[QUERY_TOK_SLIMIT] = "SLIMIT",
	[QUERY_TOK_SOFFSET] = "SOFFSET",
	[QUERY_TOK_STATS] = "STATS",
	[QUERY_TOK_SUBSCRIPTION] = "SUBSCRIPTION",
	[QUERY_TOK_SUBSCRIPTIONS] = "SUBSCRIPTIONS",
	[QUERY_TOK_TAG] = "TAG",
	[QUERY_TOK_TO] = "TO",
	[QUERY_TOK_USER] = "USER",
	[QUERY_TOK_USERS] = "USERS",
	[QUERY_TOK_VALUES] = "VALUES",
	[QUERY_TOK_WHERE] = "WHERE",
	[QUERY_TOK_WITH] = "WITH",
	[QUERY_TOK_WRITE] = "WRITE",
};

const char *query_tok_str(enum query_tok t)
{
	if ((unsigned)t >= QUERY_TOK__COUNT || !tok_names[t])
		return "?";
	return tok_names[t];
}

/* Every word that is not an identifier, sorted by its lower-case spelling. */
static const struct keyword {
	const char *name;
	enum query_tok tok;
} keywords[] = {
	{ "all", QUERY_TOK_ALL },
	{ "alter", QUERY_TOK_ALTER },
	{ "analyze", QUERY_TOK_ANALYZE },
	{ "and", QUERY_TOK_AND },
	{ "any", QUERY_TOK_ANY },
	{ "as", QUERY_TOK_AS },
	{ "asc", QUERY_TOK_ASC },
	{ "begin", QUERY_TOK_BEGIN },
	{ "by", QUERY_TOK_BY },
	{ "cardinality", QUERY_TOK_CARDINALITY },
	{ "continuous", QUERY_TOK_CONTINUOUS },
	{ "create", QUERY_TOK_CREATE },
	{ "database", QUERY_TOK_DATABASE },
	{ "databases", QUERY_TOK_DATABASES },
	{ "default", QUERY_TOK_DEFAULT },
	{ "delete", QUERY_TOK_DELETE },
	{ "desc", QUERY_TOK_DESC },
	{ "destinations", QUERY_TOK_DESTINATIONS },
	{ "diagnostics", QUERY_TOK_DIAGNOSTICS },
	{ "distinct", QUERY_TOK_DISTINCT },
	{ "drop", QUERY_TOK_DROP },
	{ "duration", QUERY_TOK_DURATION_KW },
	{ "end", QUERY_TOK_END },
	{ "every", QUERY_TOK_EVERY },
	{ "exact", QUERY_TOK_EXACT },
	{ "explain", QUERY_TOK_EXPLAIN },
	{ "false", QUERY_TOK_FALSE },
	{ "field", QUERY_TOK_FIELD },
	{ "for", QUERY_TOK_FOR },
	{ "from", QUERY_TOK_FROM },
	{ "grant", QUERY_TOK_GRANT },
	{ "grants", QUERY_TOK_GRANTS },
	{ "group", QUERY_TOK_GROUP },
	{ "groups", QUERY_TOK_GROUPS },
	{ "in", QUERY_TOK_IN },
	{ "inf", QUERY_TOK_INF },
	{ "insert", QUERY_TOK_INSERT },
	{ "into", QUERY_TOK_INTO },
	{ "key", QUERY_TOK_KEY },
	{ "keys", QUERY_TOK_KEYS },
	{ "kill", QUERY_TOK_KILL },
	{ "limit", QUERY_TOK_LIMIT },
	{ "measurement", QUERY_TOK_MEASUREMENT },
	{ "measurements", QUERY_TOK_MEASUREMENTS },
	{ "name", QUERY_TOK_NAME },
	{ "offset", QUERY_TOK_OFFSET },
	{ "on", QUERY_TOK_ON },
	{ "or", QUERY_TOK_OR },
	{ "order", QUERY_TOK_ORDER },
	{ "password", QUERY_TOK_PASSWORD },
	{ "policies", QUERY_TOK_POLICIES },
	{ "policy", QUERY_TOK_POLICY },
	{ "privileges", QUERY_TOK_PRIVILEGES },
	{ "queries", QUERY_TOK_QUERIES },
	{ "query", QUERY_TOK_QUERY },
	{ "read", QUERY_TOK_READ },
	{ "replication", QUERY_TOK_REPLICATION },
	{ "resample", QUERY_TOK_RESAMPLE },
	{ "retention", QUERY_TOK_RETENTION },
	{ "revoke", QUERY_TOK_REVOKE },
	{ "select", QUERY_TOK_SELECT },
	{ "series", QUERY_TOK_SERIES },
	{ "set", QUERY_TOK_SET },
	{ "shard", QUERY_TOK_SHARD },
	{ "shards", QUERY_TOK_SHARDS },
	{ "show", QUERY_TOK_SHOW },
	{ "slimit", QUERY_TOK_SLIMIT },
	{ "soffset", QUERY_TOK_SOFFSET },
	{ "stats", QUERY_TOK_STATS },
	{ "subscription", QUERY_TOK_SUBSCRIPTION },
	{ "subscriptions", QUERY_TOK_SUBSCRIPTIONS },
	{ "tag", QUERY_TOK_TAG },
	{ "to", QUERY_TOK_TO },
	{ "true", QUERY_TOK_TRUE },
	{ "user", QUERY_TOK_USER },
	{ "users", QUERY_TOK_USERS },
	{ "values", QUERY_TOK_VALUES },
	{ "where", QUERY_TOK_WHERE },
	{ "with", QUERY_TOK_WITH },
	{ "write", QUERY_TOK_WRITE },
};

#define KEYWORD_MAX_LEN 13 /* "subscriptions" */

static inline bool is_letter(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline bool is_ident_char(unsigned char c)
{
	return is_letter(c) || is_digit(c) || c == '_';
}

static inline bool is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

enum query_tok query_keyword_lookup(const char *s, size_t len)
{
	char low[KEYWORD_MAX_LEN + 1];
	size_t lo = 0, hi = sizeof keywords / sizeof *keywords;

	if (len < 2 || len > KEYWORD_MAX_LEN)
		return QUERY_TOK_IDENT;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!is_letter(c))
			return QUERY_TOK_IDENT;
		low[i] = (char)(c | 0x20);
	}
	low[len] = '\0';
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(low, keywords[mid].name);

		if (cmp == 0)
			return keywords[mid].tok;
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return QUERY_TOK_IDENT;
}

bool query_ident_needs_quotes(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || is_digit((unsigned char)name[0]))
		return true;
	for (size_t i = 0; i < n; i++)
		if (!is_ident_char((unsigned char)name[i]))
			return true;
	return query_keyword_lookup(name, n) != QUERY_TOK_IDENT;
}

void query_lexer_init(query_lexer *lx, const char *src, size_t len, query_arena *arena)
{
	lx->src = src;
	lx->len = len;
	lx->pos.offset = 0;
	lx->pos.line = 1;
	lx->pos.column = 1;
	lx->arena = arena;
	lx->error = NULL;
	lx->error_buf[0] = '\0';
}

static inline unsigned char peek_at(const query_lexer *lx, size_t off)
{
	return off < lx->len ? (unsigned char)lx->src[off] : 0;
}

/* Moves pos over n bytes (all inside the text). */
static void advance(query_lexer *lx, size_t n)
{
	const unsigned char *p = (const unsigned char *)lx->src + lx->pos.offset;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			lx->pos.line++;
			lx->pos.column = 1;
		} else if ((p[i] & 0xC0) != 0x80) {
			lx->pos.column++;
		}
	}
	lx->pos.offset += (uint32_t)n;
}

/* Records a lexical error at `at` and marks the token illegal. */
static int lex_error(query_lexer *lx, query_token *out, struct query_pos at, const char *why)
{
	out->type = QUERY_TOK_ILLEGAL;
	out->pos = at;
	out->text = lx->src + at.offset;
	out->len = lx->pos.offset > at.offset ? lx->pos.offset - at.offset : 0;
	lx->error = why;
	return strata_error(STRATA_EINVAL, "%s at line %u, char %u", why, at.line, at.column);
}

static int nomem(const query_lexer *lx)
{
	if (lx->arena->over_limit)
		return strata_error(STRATA_ETOOBIG, "query too large: its syntax tree exceeds %zu bytes",
				    lx->arena->limit);
	return strata_error(-ENOMEM, "out of memory while parsing a query");
}

/* Skips blanks and comments; STRATA_EINVAL for an unterminated block comment. */
static int skip_blank(query_lexer *lx, query_token *out)
{
	for (;;) {
		size_t off = lx->pos.offset;
		unsigned char c = peek_at(lx, off);

		if (off >= lx->len)
			return 0;
		if (is_blank(c)) {
			size_t n = 1;

			while (off + n < lx->len && is_blank(peek_at(lx, off + n)))
				n++;
			advance(lx, n);
		} else if (c == '-' && peek_at(lx, off + 1) == '-') {
			const char *nl = memchr(lx->src + off, '\n', lx->len - off);

			advance(lx, nl ? (size_t)(nl - (lx->src + off)) : lx->len - off);
		} else if (c == '/' && peek_at(lx, off + 1) == '*') {
			struct query_pos start = lx->pos;
			size_t i = off + 2;

			while (i + 1 < lx->len && !(lx->src[i] == '*' && lx->src[i + 1] == '/'))
				i++;
			if (i + 1 >= lx->len) {
				advance(lx, lx->len - off);
				return lex_error(lx, out, start, "unterminated comment");
			}
			advance(lx, i + 2 - off);
		} else {
			return 0;
		}
	}
}

/*
 * A quoted string or identifier starting at the quote. Escapes: \n \\ \" \'.
 * A raw newline or the end of the text before the closing quote is an error.
 */
static int scan_quoted(query_lexer *lx, query_token *out)
{
	struct query_pos start = lx->pos;
	size_t off = start.offset, i = off + 1, n = 0;
	char quote = lx->src[off];
	const char *what = quote == '"' ? "unterminated quoted identifier" : "unterminated string";
	char *dst;

	for (;;) {
		unsigned char c = peek_at(lx, i);

		if (i >= lx->len || c == '\n') {
			advance(lx, i - off);
			return lex_error(lx, out, start, what);
		}
		if (c == 0) {
			advance(lx, i - off);
			return lex_error(lx, out, lx->pos, "unexpected NUL byte");
		}
		if (c == (unsigned char)quote)
			break;
		if (c == '\\') {
			unsigned char e = peek_at(lx, i + 1);

			if (e != 'n' && e != '\\' && e != '"' && e != '\'') {
				struct query_pos at;

				advance(lx, i - off);
				at = lx->pos;
				advance(lx, i + 1 < lx->len ? 2 : 1);
				return lex_error(lx, out, at, "bad escape sequence");
			}
			i += 2;
		} else {
			i++;
		}
		n++;
	}
	dst = query_arena_alloc(lx->arena, n + 1);
	if (!dst)
		return nomem(lx);
	n = 0;
	for (size_t j = off + 1; j < i; j++) {
		char c = lx->src[j];

		if (c == '\\') {
			c = lx->src[++j];
			if (c == 'n')
				c = '\n';
		}
		dst[n++] = c;
	}
	dst[n] = '\0';
	advance(lx, i + 1 - off);
	out->type = quote == '"' ? QUERY_TOK_IDENT : QUERY_TOK_STRING;
	out->quoted = quote == '"';
	out->str = dst;
	return 0;
}

/*
 * A regex starting at '/': \/ is a slash, any other backslash stays with the
 * byte after it read normally (as InfluxDB does). No newline inside.
 */
static int scan_regex(query_lexer *lx, query_token *out)
{
	struct query_pos start = lx->pos;
	size_t off = start.offset, i = off + 1, n = 0;
	char *dst;

	for (;;) {
		unsigned char c = peek_at(lx, i);

		if (i >= lx->len || c == '\n') {
			advance(lx, i - off);
			return lex_error(lx, out, start, "unterminated regex");
		}
		if (c == 0) {
			advance(lx, i - off);
			return lex_error(lx, out, lx->pos, "unexpected NUL byte");
		}
		if (c == '/')
			break;
		if (c == '\\' && peek_at(lx, i + 1) == '/' && i + 1 < lx->len)
			i += 2;
		else
			i++;
		n++;
	}
	if (n > 0 && lx->src[off + 1] == '*') {
		advance(lx, i + 1 - off);
		return lex_error(lx, out, start, "bad regex: nothing to repeat at its start");
	}
	dst = query_arena_alloc(lx->arena, n + 1);
	if (!dst)
		return nomem(lx);
	n = 0;
	for (size_t j = off + 1; j < i; j++) {
		if (lx->src[j] == '\\' && lx->src[j + 1] == '/')
			j++;
		dst[n++] = lx->src[j];
	}
	dst[n] = '\0';
	advance(lx, i + 1 - off);
	out->type = QUERY_TOK_REGEX;
	out->str = dst;
	return 0;
}

static bool is_micro(const query_lexer *lx, size_t off)
{
	return peek_at(lx, off) == 0xC2 && peek_at(lx, off + 1) == 0xB5;
}

/* An integer, a number with a fraction, or a duration. */
static int scan_number(query_lexer *lx, query_token *out)
{
	struct query_pos start = lx->pos;
	size_t off = start.offset, i = off;
	bool fraction = false;

	while (is_digit(peek_at(lx, i)) && i < lx->len)
		i++;
	if (peek_at(lx, i) == '.' && is_digit(peek_at(lx, i + 1)) && i + 1 < lx->len) {
		fraction = true;
		i++;
		while (is_digit(peek_at(lx, i)) && i < lx->len)
			i++;
	}
	if (fraction) {
		char small[64], *buf = small;
		char *end;
		double v;

		if (i - off >= sizeof small) {
			buf = query_arena_alloc(lx->arena, i - off + 1);
			if (!buf)
				return nomem(lx);
		}
		memcpy(buf, lx->src + off, i - off);
		buf[i - off] = '\0';
		v = strtod(buf, &end);
		advance(lx, i - off);
		if (end != buf + (i - off) || !isfinite(v))
			return lex_error(lx, out, start, "number out of range");
		out->type = QUERY_TOK_NUMBER;
		out->f = v;
		return 0;
	}
	if (i < lx->len && (is_letter(peek_at(lx, i)) || is_micro(lx, i))) {
		int64_t ns;

		for (;;) {
			if (i < lx->len && (is_letter(peek_at(lx, i)) || is_digit(peek_at(lx, i))))
				i++;
			else if (is_micro(lx, i))
				i += 2;
			else
				break;
		}
		advance(lx, i - off);
		if (query_duration_parse(&ns, lx->src + off, i - off) != 0)
			return lex_error(lx, out, start, "invalid duration");
		out->type = QUERY_TOK_DURATION;
		out->ns = ns;
		return 0;
	}
	{
		uint64_t v = 0;

		for (size_t j = off; j < i; j++) {
			unsigned d = (unsigned)(lx->src[j] - '0');

			if (v > (UINT64_MAX - d) / 10) {
				advance(lx, i - off);
				return lex_error(lx, out, start, "integer out of range");
			}
			v = v * 10 + d;
		}
		advance(lx, i - off);
		out->type = QUERY_TOK_INTEGER;
		out->u = v;
	}
	return 0;
}

static int scan_word(query_lexer *lx, query_token *out)
{
	size_t off = lx->pos.offset, i = off;
	enum query_tok kw;

	while (i < lx->len && is_ident_char(peek_at(lx, i)))
		i++;
	kw = query_keyword_lookup(lx->src + off, i - off);
	if (kw == QUERY_TOK_IDENT) {
		char *s = query_arena_strndup(lx->arena, lx->src + off, i - off);

		if (!s)
			return nomem(lx);
		out->str = s;
	}
	out->type = kw;
	advance(lx, i - off);
	return 0;
}

static int scan_param(query_lexer *lx, query_token *out)
{
	size_t off = lx->pos.offset, i = off + 1;
	char *s;

	while (i < lx->len && is_ident_char(peek_at(lx, i)))
		i++;
	if (i == off + 1) {
		struct query_pos at = lx->pos;

		advance(lx, 1);
		return lex_error(lx, out, at, "unexpected character '$'");
	}
	s = query_arena_strndup(lx->arena, lx->src + off + 1, i - off - 1);
	if (!s)
		return nomem(lx);
	out->type = QUERY_TOK_BOUNDPARAM;
	out->str = s;
	advance(lx, i - off);
	return 0;
}

/* One- and two-byte operators and punctuation; 0 when c starts none. */
static size_t scan_symbol(const query_lexer *lx, unsigned char c, enum query_tok *tok)
{
	unsigned char c1 = peek_at(lx, lx->pos.offset + 1);

	switch (c) {
	case '+': *tok = QUERY_TOK_ADD; return 1;
	case '-': *tok = QUERY_TOK_SUB; return 1;
	case '*': *tok = QUERY_TOK_MUL; return 1;
	case '/': *tok = QUERY_TOK_DIV; return 1;
	case '%': *tok = QUERY_TOK_MOD; return 1;
	case '&': *tok = QUERY_TOK_BITAND; return 1;
	case '|': *tok = QUERY_TOK_BITOR; return 1;
	case '^': *tok = QUERY_TOK_BITXOR; return 1;
	case '(': *tok = QUERY_TOK_LPAREN; return 1;
	case ')': *tok = QUERY_TOK_RPAREN; return 1;
	case ',': *tok = QUERY_TOK_COMMA; return 1;
	case ';': *tok = QUERY_TOK_SEMICOLON; return 1;
	case '.': *tok = QUERY_TOK_DOT; return 1;
	case '=':
		if (c1 == '~') {
			*tok = QUERY_TOK_EQREGEX;
			return 2;
		}
		*tok = QUERY_TOK_EQ;
		return 1;
	case '!':
		if (c1 == '=') {
			*tok = QUERY_TOK_NEQ;
			return 2;
		}
		if (c1 == '~') {
			*tok = QUERY_TOK_NEQREGEX;
			return 2;
		}
		return 0;
	case '<':
		if (c1 == '=') {
			*tok = QUERY_TOK_LTE;
			return 2;
		}
		if (c1 == '>') {
			*tok = QUERY_TOK_NEQ;
			return 2;
		}
		*tok = QUERY_TOK_LT;
		return 1;
	case '>':
		if (c1 == '=') {
			*tok = QUERY_TOK_GTE;
			return 2;
		}
		*tok = QUERY_TOK_GT;
		return 1;
	case ':':
		if (c1 == ':') {
			*tok = QUERY_TOK_DOUBLECOLON;
			return 2;
		}
		*tok = QUERY_TOK_COLON;
		return 1;
	default:
		return 0;
	}
}

int query_lexer_next(query_lexer *lx, query_token *out, unsigned flags)
{
	size_t off;
	unsigned char c;
	int rc;

	memset(out, 0, sizeof *out);
	lx->error = NULL;
	rc = skip_blank(lx, out);
	if (rc)
		return rc;
	off = lx->pos.offset;
	out->pos = lx->pos;
	out->text = lx->src + off;
	if (off >= lx->len) {
		out->type = QUERY_TOK_EOF;
		return 0;
	}
	c = (unsigned char)lx->src[off];
	if (is_letter(c) || c == '_')
		rc = scan_word(lx, out);
	else if (is_digit(c) || (c == '.' && is_digit(peek_at(lx, off + 1)) && off + 1 < lx->len))
		rc = scan_number(lx, out);
	else if (c == '"' || c == '\'')
		rc = scan_quoted(lx, out);
	else if (c == '/' && (flags & QUERY_LEX_REGEX))
		rc = scan_regex(lx, out);
	else if (c == '$')
		rc = scan_param(lx, out);
	else {
		enum query_tok tok = QUERY_TOK_ILLEGAL;
		size_t n = scan_symbol(lx, c, &tok);

		if (n == 0) {
			struct query_pos at = lx->pos;
			size_t w = 1;

			/* Step over a whole UTF-8 character so the error shows it. */
			while (off + w < lx->len && w < 4 && (peek_at(lx, off + w) & 0xC0) == 0x80)
				w++;
			advance(lx, w);
			if (c >= 0x21 && c < 0x7f)
				snprintf(lx->error_buf, sizeof lx->error_buf, "unexpected character '%c'", c);
			else if (c == 0)
				snprintf(lx->error_buf, sizeof lx->error_buf, "unexpected NUL byte");
			else
				snprintf(lx->error_buf, sizeof lx->error_buf,
					 "unexpected character '%.*s'", (int)w, lx->src + off);
			return lex_error(lx, out, at, lx->error_buf);
		}
		advance(lx, n);
		out->type = tok;
	}
	if (rc == 0)
		out->len = lx->pos.offset - (uint32_t)off;
	return rc;
}

int query_duration_parse(int64_t *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint64_t total = 0;
	size_t i = 0;

	if (len == 0)
		return STRATA_EINVAL;
	while (i < len) {
		uint64_t n = 0, unit;
		size_t start = i;

		while (i < len && is_digit(p[i])) {
			unsigned d = p[i] - '0';

			if (n > (UINT64_MAX - d) / 10)
				return STRATA_EINVAL;
			n = n * 10 + d;
			i++;
		}
		if (i == start || i == len)
			return STRATA_EINVAL;
		if (p[i] == 'n' && i + 1 < len && p[i + 1] == 's') {
			unit = 1;
			i += 2;
		} else if (p[i] == 'u' || (p[i] == 0xC2 && i + 1 < len && p[i + 1] == 0xB5)) {
			unit = 1000;
			i += p[i] == 'u' ? 1 : 2;
			if (i < len && p[i] == 's')
				i++;
		} else if (p[i] == 'm' && i + 1 < len && p[i + 1] == 's') {
			unit = 1000000;
			i += 2;
		} else {
			switch (p[i]) {
			case 's': unit = UINT64_C(1000000000); break;
			case 'm': unit = UINT64_C(60000000000); break;
			case 'h': unit = UINT64_C(3600000000000); break;
			case 'd': unit = UINT64_C(86400000000000); break;
			case 'w': unit = UINT64_C(604800000000000); break;
			default: return STRATA_EINVAL;
			}
			i++;
		}
		if (n > (uint64_t)INT64_MAX / unit)
			return STRATA_EINVAL;
		n *= unit;
		if (total > (uint64_t)INT64_MAX - n)
			return STRATA_EINVAL;
		total += n;
	}
	*out = (int64_t)total;
	return 0;
}
