/*
 * test_influxql_lexer.c — InfluxQL tokens: every token class with its value,
 * keywords in any case, durations in every unit, regex only where asked
 * for, comments, positions (byte offset, line, column in characters) and
 * each lexical error with the place it names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lsm/status.h"
#include "query/lexer.h"

#include <stdio.h>
#include <string.h>

#define MAX_TOKENS 64

struct lexed {
	query_arena arena;
	query_token tok[MAX_TOKENS];
	int n;  /* tokens before EOF */
	int rc; /* of the call that stopped the loop */
};

/* Lexes text (flags for every token) until EOF or an error. */
static void lex_all(struct lexed *l, const char *text, unsigned flags)
{
	query_lexer lx;

	query_arena_init(&l->arena, 0);
	query_lexer_init(&lx, text, strlen(text), &l->arena);
	l->n = 0;
	l->rc = 0;
	for (int i = 0; i < MAX_TOKENS; i++) {
		query_token t;

		l->rc = query_lexer_next(&lx, &t, flags);
		if (l->rc) {
			l->tok[l->n] = t;
			return;
		}
		if (t.type == QUERY_TOK_EOF)
			return;
		l->tok[l->n++] = t;
	}
	fail_msg("more than %d tokens", MAX_TOKENS);
}

static void lexed_free(struct lexed *l)
{
	query_arena_deinit(&l->arena);
}

/* The single token of text. */
static query_token lex_one(struct lexed *l, const char *text, unsigned flags)
{
	lex_all(l, text, flags);
	assert_int_equal(l->rc, 0);
	assert_int_equal(l->n, 1);
	return l->tok[0];
}

static void test_influxql_lexer_identifiers(void **state)
{
	struct lexed l;

	(void)state;
	lex_all(&l, "cpu _x A1_b \"quoted id\" \"esc\\\"q\\\\b\\n\" \"select\" \"\"", 0);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.n, 7);
	for (int i = 0; i < 7; i++)
		assert_int_equal(l.tok[i].type, QUERY_TOK_IDENT);
	assert_string_equal(l.tok[0].str, "cpu");
	assert_false(l.tok[0].quoted);
	assert_string_equal(l.tok[1].str, "_x");
	assert_string_equal(l.tok[2].str, "A1_b");
	assert_string_equal(l.tok[3].str, "quoted id");
	assert_true(l.tok[3].quoted);
	assert_string_equal(l.tok[4].str, "esc\"q\\b\n");
	/* a quoted keyword is an identifier */
	assert_string_equal(l.tok[5].str, "select");
	assert_string_equal(l.tok[6].str, "");
	lexed_free(&l);
}

static void test_influxql_lexer_keywords_any_case(void **state)
{
	struct lexed l;
	char low[32];

	(void)state;
	lex_all(&l, "SELECT select SeLeCt from AND or In TRUE false", 0);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.n, 9);
	assert_int_equal(l.tok[0].type, QUERY_TOK_SELECT);
	assert_int_equal(l.tok[1].type, QUERY_TOK_SELECT);
	assert_int_equal(l.tok[2].type, QUERY_TOK_SELECT);
	assert_null(l.tok[2].str);
	assert_int_equal(l.tok[3].type, QUERY_TOK_FROM);
	assert_int_equal(l.tok[4].type, QUERY_TOK_AND);
	assert_int_equal(l.tok[5].type, QUERY_TOK_OR);
	assert_int_equal(l.tok[6].type, QUERY_TOK_IN);
	assert_int_equal(l.tok[7].type, QUERY_TOK_TRUE);
	assert_int_equal(l.tok[8].type, QUERY_TOK_FALSE);
	lexed_free(&l);

	/* Every keyword reads back from its spelling, upper and lower case. */
	for (int t = QUERY_TOK_ALL; t <= QUERY_TOK_WRITE; t++) {
		const char *name = query_tok_str((enum query_tok)t);
		size_t n = strlen(name);

		assert_true(n < sizeof low);
		for (size_t i = 0; i <= n; i++)
			low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] | 0x20 : name[i]);
		assert_int_equal(query_keyword_lookup(name, n), t);
		assert_int_equal(query_keyword_lookup(low, n), t);
		assert_true(query_ident_needs_quotes(low));
	}
	/* Words that are not keywords in InfluxQL. */
	assert_int_equal(query_keyword_lookup("time", 4), QUERY_TOK_IDENT);
	assert_int_equal(query_keyword_lookup("fill", 4), QUERY_TOK_IDENT);
	assert_int_equal(query_keyword_lookup("now", 3), QUERY_TOK_IDENT);
	assert_int_equal(query_keyword_lookup("selects", 7), QUERY_TOK_IDENT);
	assert_int_equal(query_keyword_lookup("a", 1), QUERY_TOK_IDENT);
	/* A prefix of the text only. */
	assert_int_equal(query_keyword_lookup("selectx", 6), QUERY_TOK_SELECT);
}

static void test_influxql_lexer_ident_needs_quotes(void **state)
{
	(void)state;
	assert_false(query_ident_needs_quotes("cpu"));
	assert_false(query_ident_needs_quotes("usage_user"));
	assert_false(query_ident_needs_quotes("_x9"));
	assert_false(query_ident_needs_quotes("time"));
	assert_true(query_ident_needs_quotes(""));
	assert_true(query_ident_needs_quotes("9x"));
	assert_true(query_ident_needs_quotes("a b"));
	assert_true(query_ident_needs_quotes("a.b"));
	assert_true(query_ident_needs_quotes("a-b"));
	assert_true(query_ident_needs_quotes("µ"));
	assert_true(query_ident_needs_quotes("name"));
	assert_true(query_ident_needs_quotes("true"));
	assert_true(query_ident_needs_quotes("AND"));
}

static void test_influxql_lexer_strings(void **state)
{
	static const struct {
		const char *text, *value;
	} cases[] = {
		{ "'abc'", "abc" },           { "''", "" },
		{ "'it\\'s'", "it's" },       { "'a\\\\b'", "a\\b" },
		{ "'line\\nnext'", "line\nnext" }, { "'say \\\"hi\\\"'", "say \"hi\"" },
		{ "'µs and \"dq\"'", "µs and \"dq\"" }, { "'2026-01-01T00:00:00Z'", "2026-01-01T00:00:00Z" },
	};
	struct lexed l;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		query_token t = lex_one(&l, cases[i].text, 0);

		assert_int_equal(t.type, QUERY_TOK_STRING);
		assert_string_equal(t.str, cases[i].value);
		assert_int_equal(t.len, strlen(cases[i].text));
		lexed_free(&l);
	}
}

static void test_influxql_lexer_numbers(void **state)
{
	struct lexed l;
	query_token t;

	(void)state;
	lex_all(&l, "0 42 18446744073709551615 9223372036854775808", 0);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.n, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(l.tok[i].type, QUERY_TOK_INTEGER);
	assert_true(l.tok[0].u == 0);
	assert_true(l.tok[1].u == 42);
	assert_true(l.tok[2].u == UINT64_MAX);
	assert_true(l.tok[3].u == (uint64_t)INT64_MAX + 1);
	lexed_free(&l);

	lex_all(&l, "1.5 .5 0.25 10.0 3.14159", 0);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.n, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(l.tok[i].type, QUERY_TOK_NUMBER);
	assert_true(l.tok[0].f == 1.5);
	assert_true(l.tok[1].f == 0.5);
	assert_true(l.tok[2].f == 0.25);
	assert_true(l.tok[3].f == 10.0);
	assert_true(l.tok[4].f == 3.14159);
	lexed_free(&l);

	/* A point not followed by a digit is a DOT; a sign is its own token. */
	lex_all(&l, "1. -2", 0);
	assert_int_equal(l.n, 4);
	assert_int_equal(l.tok[0].type, QUERY_TOK_INTEGER);
	assert_int_equal(l.tok[1].type, QUERY_TOK_DOT);
	assert_int_equal(l.tok[2].type, QUERY_TOK_SUB);
	assert_int_equal(l.tok[3].type, QUERY_TOK_INTEGER);
	lexed_free(&l);

	/* A long fraction goes through the arena copy. */
	t = lex_one(&l, "0.0000000000000000000000000000000000000000000000000000000000000000000000000001", 0);
	assert_int_equal(t.type, QUERY_TOK_NUMBER);
	assert_true(t.f > 0.99e-76 && t.f < 1.01e-76);
	lexed_free(&l);

	lex_all(&l, "18446744073709551616", 0);
	assert_int_equal(l.rc, STRATA_EINVAL);
	assert_int_equal(l.tok[0].type, QUERY_TOK_ILLEGAL);
	lexed_free(&l);
}

static void test_influxql_lexer_durations(void **state)
{
	static const struct {
		const char *text;
		int64_t ns;
	} ok[] = {
		{ "1ns", 1 },
		{ "1u", 1000 },
		{ "1us", 1000 },
		{ "1µ", 1000 },
		{ "1µs", 1000 },
		{ "1ms", 1000000 },
		{ "1s", INT64_C(1000000000) },
		{ "1m", INT64_C(60000000000) },
		{ "1h", INT64_C(3600000000000) },
		{ "1d", INT64_C(86400000000000) },
		{ "1w", INT64_C(604800000000000) },
		{ "1h30m", INT64_C(5400000000000) },
		{ "2d12h", INT64_C(216000000000000) },
		{ "1m30s500ms", INT64_C(90500000000) },
		{ "0s", 0 },
		{ "1767225600000ms", INT64_C(1767225600000000000) },
		{ "9223372036854775807ns", INT64_MAX },
	};
	static const char *const bad[] = {
		"1x", "1e5", "1hm", "1n", "1h3", "9223372036854775808ns", "10000000w", "5h5000000000000h",
	};
	struct lexed l;

	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		query_token t = lex_one(&l, ok[i].text, 0);
		int64_t v = -1;

		assert_int_equal(t.type, QUERY_TOK_DURATION);
		assert_true(t.ns == ok[i].ns);
		assert_int_equal(t.len, strlen(ok[i].text));
		assert_int_equal(query_duration_parse(&v, ok[i].text, strlen(ok[i].text)), 0);
		assert_true(v == ok[i].ns);
		lexed_free(&l);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		int64_t v;

		lex_all(&l, bad[i], 0);
		assert_int_equal(l.rc, STRATA_EINVAL);
		assert_int_equal(l.tok[0].type, QUERY_TOK_ILLEGAL);
		assert_int_equal(l.tok[0].pos.offset, 0);
		assert_int_equal(query_duration_parse(&v, bad[i], strlen(bad[i])), STRATA_EINVAL);
		lexed_free(&l);
	}
	/* A duration ends at a non-letter: 10s) is a duration and a paren. */
	lex_all(&l, "time(10s)", 0);
	assert_int_equal(l.n, 4);
	assert_int_equal(l.tok[2].type, QUERY_TOK_DURATION);
	assert_int_equal(l.tok[3].type, QUERY_TOK_RPAREN);
	lexed_free(&l);
}

static void test_influxql_lexer_regex_only_when_asked(void **state)
{
	struct lexed l;
	query_token t;

	(void)state;
	t = lex_one(&l, "/^host_1$/", QUERY_LEX_REGEX);
	assert_int_equal(t.type, QUERY_TOK_REGEX);
	assert_string_equal(t.str, "^host_1$");
	lexed_free(&l);

	/* \/ is a slash; other escapes stay as written. */
	t = lex_one(&l, "/a\\/b\\d+\\.c/", QUERY_LEX_REGEX);
	assert_string_equal(t.str, "a/b\\d+\\.c");
	lexed_free(&l);

	t = lex_one(&l, "//", QUERY_LEX_REGEX);
	assert_int_equal(t.type, QUERY_TOK_REGEX);
	assert_string_equal(t.str, "");
	lexed_free(&l);

	/* Without the flag the same text is division and identifiers. */
	lex_all(&l, "/a/", 0);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.tok[0].type, QUERY_TOK_DIV);
	assert_int_equal(l.tok[1].type, QUERY_TOK_IDENT);
	assert_int_equal(l.tok[2].type, QUERY_TOK_DIV);
	lexed_free(&l);

	/* Comments are still comments in regex mode. */
	t = lex_one(&l, "/* c */ -- d\n /x/", QUERY_LEX_REGEX);
	assert_int_equal(t.type, QUERY_TOK_REGEX);
	assert_string_equal(t.str, "x");
	assert_int_equal(t.pos.line, 2);
	assert_int_equal(t.pos.column, 2);
	lexed_free(&l);

	/* Other tokens read the same in both modes. */
	lex_all(&l, "a = 1", QUERY_LEX_REGEX);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.tok[1].type, QUERY_TOK_EQ);
	lexed_free(&l);

	lex_all(&l, "/abc", QUERY_LEX_REGEX);
	assert_int_equal(l.rc, STRATA_EINVAL);
	assert_int_equal(l.tok[0].pos.offset, 0);
	lexed_free(&l);

	lex_all(&l, "/ab\nc/", QUERY_LEX_REGEX);
	assert_int_equal(l.rc, STRATA_EINVAL);
	lexed_free(&l);

	/* An escaped closing slash does not close. */
	lex_all(&l, "/abc\\/", QUERY_LEX_REGEX);
	assert_int_equal(l.rc, STRATA_EINVAL);
	lexed_free(&l);
}

static void test_influxql_lexer_operators_and_punctuation(void **state)
{
	static const enum query_tok want[] = {
		QUERY_TOK_EQ,     QUERY_TOK_NEQ,      QUERY_TOK_NEQ,       QUERY_TOK_LT,
		QUERY_TOK_LTE,    QUERY_TOK_GT,       QUERY_TOK_GTE,       QUERY_TOK_EQREGEX,
		QUERY_TOK_NEQREGEX, QUERY_TOK_ADD,    QUERY_TOK_SUB,       QUERY_TOK_MUL,
		QUERY_TOK_DIV,    QUERY_TOK_MOD,      QUERY_TOK_BITAND,    QUERY_TOK_BITOR,
		QUERY_TOK_BITXOR, QUERY_TOK_COMMA,    QUERY_TOK_LPAREN,    QUERY_TOK_RPAREN,
		QUERY_TOK_SEMICOLON, QUERY_TOK_DOT,   QUERY_TOK_DOUBLECOLON, QUERY_TOK_COLON,
	};
	struct lexed l;

	(void)state;
	lex_all(&l, "= != <> < <= > >= =~ !~ + - * / % & | ^ , ( ) ; . :: :", 0);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.n, (int)(sizeof want / sizeof *want));
	for (int i = 0; i < l.n; i++)
		assert_int_equal(l.tok[i].type, want[i]);
	lexed_free(&l);

	/* Without blanks: the longest operator wins. */
	lex_all(&l, "a<=b>=c!=d=~e<>f::float", 0);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.n, 13);
	assert_int_equal(l.tok[1].type, QUERY_TOK_LTE);
	assert_int_equal(l.tok[3].type, QUERY_TOK_GTE);
	assert_int_equal(l.tok[5].type, QUERY_TOK_NEQ);
	assert_int_equal(l.tok[7].type, QUERY_TOK_EQREGEX);
	assert_int_equal(l.tok[9].type, QUERY_TOK_NEQ);
	assert_int_equal(l.tok[11].type, QUERY_TOK_DOUBLECOLON);
	assert_string_equal(l.tok[12].str, "float");
	lexed_free(&l);
}

static void test_influxql_lexer_comments_are_skipped(void **state)
{
	struct lexed l;

	(void)state;
	lex_all(&l, "a -- to the end\nb /* x\n y */ c/**/d -- last", 0);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.tok[0].str, "a");
	assert_string_equal(l.tok[1].str, "b");
	assert_string_equal(l.tok[2].str, "c");
	assert_int_equal(l.tok[2].pos.line, 3);
	assert_int_equal(l.tok[2].pos.column, 7);
	assert_string_equal(l.tok[3].str, "d");
	lexed_free(&l);

	/* A minus followed by a minus is a comment, not two operators. */
	lex_all(&l, "a--b\nc", 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.tok[1].str, "c");
	lexed_free(&l);
}

static void test_influxql_lexer_positions(void **state)
{
	struct lexed l;

	(void)state;
	/* 'µµ' is 6 bytes but 4 characters. */
	lex_all(&l, "SELECT 'µµ' x\n\tfoo\r\n  bar", 0);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.n, 5);
	assert_int_equal(l.tok[0].pos.offset, 0);
	assert_int_equal(l.tok[0].pos.line, 1);
	assert_int_equal(l.tok[0].pos.column, 1);
	assert_int_equal(l.tok[0].len, 6);
	assert_int_equal(l.tok[1].pos.offset, 7);
	assert_int_equal(l.tok[1].pos.column, 8);
	assert_int_equal(l.tok[1].len, 6);
	assert_int_equal(l.tok[2].pos.offset, 14);
	assert_int_equal(l.tok[2].pos.line, 1);
	assert_int_equal(l.tok[2].pos.column, 13);
	assert_int_equal(l.tok[3].pos.offset, 17);
	assert_int_equal(l.tok[3].pos.line, 2);
	assert_int_equal(l.tok[3].pos.column, 2);
	assert_int_equal(l.tok[4].pos.line, 3);
	assert_int_equal(l.tok[4].pos.column, 3);
	assert_memory_equal(l.tok[4].text, "bar", 3);
	lexed_free(&l);
}

static void test_influxql_lexer_bound_parameters(void **state)
{
	struct lexed l;

	(void)state;
	lex_all(&l, "$timeFilter $__interval", 0);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.tok[0].type, QUERY_TOK_BOUNDPARAM);
	assert_string_equal(l.tok[0].str, "timeFilter");
	assert_string_equal(l.tok[1].str, "__interval");
	lexed_free(&l);
}

static void test_influxql_lexer_errors_name_their_place(void **state)
{
	static const struct {
		const char *text;
		uint32_t offset, line, column;
		const char *why;
	} cases[] = {
		{ "a 'abc", 2, 1, 3, "unterminated string" },
		{ "a\n  'ab\ncd'", 4, 2, 3, "unterminated string" },
		{ "\"abc", 0, 1, 1, "unterminated quoted identifier" },
		{ "'a\\qb'", 2, 1, 3, "bad escape sequence" },
		{ "x /* never closed", 2, 1, 3, "unterminated comment" },
		{ "a # b", 2, 1, 3, "unexpected character '#'" },
		{ "a ! b", 2, 1, 3, "unexpected character '!'" },
		{ "a $ b", 2, 1, 3, "unexpected character '$'" },
		{ "'µ' é", 5, 1, 5, "unexpected character 'é'" },
		{ "1h5x", 0, 1, 1, "invalid duration" },
	};
	struct lexed l;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char msg[128];

		lex_all(&l, cases[i].text, 0);
		assert_int_equal(l.rc, STRATA_EINVAL);
		assert_int_equal(l.tok[l.n].type, QUERY_TOK_ILLEGAL);
		assert_int_equal(l.tok[l.n].pos.offset, cases[i].offset);
		assert_int_equal(l.tok[l.n].pos.line, cases[i].line);
		assert_int_equal(l.tok[l.n].pos.column, cases[i].column);
		snprintf(msg, sizeof msg, "%s at line %u, char %u", cases[i].why, cases[i].line,
			 cases[i].column);
		assert_string_equal(strata_last_error(), msg);
		lexed_free(&l);
	}
}

static void test_influxql_lexer_nul_bytes_refused(void **state)
{
	static const char with_nul[] = "a \0 b";
	static const char in_string[] = "'a\0b'";
	query_arena arena;
	query_lexer lx;
	query_token t;

	(void)state;
	query_arena_init(&arena, 0);
	query_lexer_init(&lx, with_nul, sizeof with_nul - 1, &arena);
	assert_int_equal(query_lexer_next(&lx, &t, 0), 0);
	assert_int_equal(query_lexer_next(&lx, &t, 0), STRATA_EINVAL);
	assert_int_equal(t.pos.offset, 2);

	query_lexer_init(&lx, in_string, sizeof in_string - 1, &arena);
	assert_int_equal(query_lexer_next(&lx, &t, 0), STRATA_EINVAL);
	assert_int_equal(t.pos.offset, 2);
	query_arena_deinit(&arena);
}

static void test_influxql_lexer_reads_only_its_range(void **state)
{
	/* The text is not NUL-terminated at len: nothing past it is read. */
	static const char text[] = "abcdef 'x'";
	query_arena arena;
	query_lexer lx;
	query_token t;

	(void)state;
	query_arena_init(&arena, 0);
	query_lexer_init(&lx, text, 2, &arena);
	assert_int_equal(query_lexer_next(&lx, &t, 0), 0);
	assert_int_equal(t.type, QUERY_TOK_IDENT);
	assert_string_equal(t.str, "ab");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(query_lexer_next(&lx, &t, 0), 0);
		assert_int_equal(t.type, QUERY_TOK_EOF);
		assert_int_equal(t.pos.offset, 2);
	}
	/* A string cut by the end of the range is unterminated. */
	query_lexer_init(&lx, text, 9, &arena);
	assert_int_equal(query_lexer_next(&lx, &t, 0), 0);
	assert_int_equal(query_lexer_next(&lx, &t, 0), STRATA_EINVAL);
	/* A regex cut likewise, and a dangling backslash is no escape. */
	query_lexer_init(&lx, "/a\\/", 3, &arena);
	assert_int_equal(query_lexer_next(&lx, &t, QUERY_LEX_REGEX), STRATA_EINVAL);
	query_arena_deinit(&arena);
}

static void test_influxql_lexer_setting_back_rereads(void **state)
{
	/* The parser sets pos back to read a token again in the other mode. */
	static const char text[] = "x =~ /a.b/";
	query_arena arena;
	query_lexer lx;
	query_token t;
	struct query_pos before;

	(void)state;
	query_arena_init(&arena, 0);
	query_lexer_init(&lx, text, strlen(text), &arena);
	assert_int_equal(query_lexer_next(&lx, &t, 0), 0);
	assert_int_equal(query_lexer_next(&lx, &t, 0), 0);
	assert_int_equal(t.type, QUERY_TOK_EQREGEX);
	before = lx.pos;
	assert_int_equal(query_lexer_next(&lx, &t, 0), 0);
	assert_int_equal(t.type, QUERY_TOK_DIV);
	lx.pos = before;
	assert_int_equal(query_lexer_next(&lx, &t, QUERY_LEX_REGEX), 0);
	assert_int_equal(t.type, QUERY_TOK_REGEX);
	assert_string_equal(t.str, "a.b");
	assert_int_equal(t.pos.offset, 5);
	assert_int_equal(query_lexer_next(&lx, &t, 0), 0);
	assert_int_equal(t.type, QUERY_TOK_EOF);
	query_arena_deinit(&arena);
}

static void test_influxql_lexer_arena_cap(void **state)
{
	char text[20000];
	query_arena arena;
	query_lexer lx;
	query_token t;

	(void)state;
	text[0] = '\'';
	memset(text + 1, 'x', sizeof text - 3);
	text[sizeof text - 2] = '\'';
	text[sizeof text - 1] = '\0';
	query_arena_init(&arena, 8192);
	query_lexer_init(&lx, text, strlen(text), &arena);
	assert_int_equal(query_lexer_next(&lx, &t, 0), STRATA_ETOOBIG);
	assert_true(arena.over_limit);
	assert_true(arena.bytes <= 8192);
	query_arena_deinit(&arena);

	query_arena_init(&arena, 0);
	query_lexer_init(&lx, text, strlen(text), &arena);
	assert_int_equal(query_lexer_next(&lx, &t, 0), 0);
	assert_int_equal(strlen(t.str), sizeof text - 3);
	query_arena_deinit(&arena);
}

static void test_influxql_lexer_arena_alignment_and_growth(void **state)
{
	query_arena arena;
	void *prev = NULL;

	(void)state;
	query_arena_init(&arena, 0);
	for (size_t i = 0; i < 2000; i++) {
		size_t n = 1 + (i * 37) % 3000;
		char *p = query_arena_alloc(&arena, n);

		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 8, 0);
		assert_ptr_not_equal(p, prev);
		memset(p, (int)i, n);
		prev = p;
	}
	/* A request bigger than any block gets its own. */
	assert_non_null(query_arena_alloc(&arena, 1u << 20));
	query_arena_deinit(&arena);
	assert_null(arena.blocks);
	assert_int_equal(arena.bytes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_influxql_lexer_identifiers),
		cmocka_unit_test(test_influxql_lexer_keywords_any_case),
		cmocka_unit_test(test_influxql_lexer_ident_needs_quotes),
		cmocka_unit_test(test_influxql_lexer_strings),
		cmocka_unit_test(test_influxql_lexer_numbers),
		cmocka_unit_test(test_influxql_lexer_durations),
		cmocka_unit_test(test_influxql_lexer_regex_only_when_asked),
		cmocka_unit_test(test_influxql_lexer_operators_and_punctuation),
		cmocka_unit_test(test_influxql_lexer_comments_are_skipped),
		cmocka_unit_test(test_influxql_lexer_positions),
		cmocka_unit_test(test_influxql_lexer_bound_parameters),
		cmocka_unit_test(test_influxql_lexer_errors_name_their_place),
		cmocka_unit_test(test_influxql_lexer_nul_bytes_refused),
		cmocka_unit_test(test_influxql_lexer_reads_only_its_range),
		cmocka_unit_test(test_influxql_lexer_setting_back_rereads),
		cmocka_unit_test(test_influxql_lexer_arena_cap),
		cmocka_unit_test(test_influxql_lexer_arena_alignment_and_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
