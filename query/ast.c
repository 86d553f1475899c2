/*
 * ast.c — the syntax tree's arena, names, time helpers and printer (ast.h).
 *
 * The arena is the query's own rather than lsm/arena.h's: that one takes
 * 1 MiB blocks sized for memtables, while most queries need a few KiB, so
 * here blocks start at 4 KiB and double. It also carries a byte cap, so that
 * a hostile text cannot make the parser hold more than a bounded multiple of
 * its length.
 *
 * The printer writes canonical text into a growing heap buffer. It never
 * needs to guess: the tree records parentheses the user wrote (PAREN nodes),
 * and the printer adds the ones that precedence requires when a tree was
 * built another way (a folded unary minus, or a tree made by hand). Floats
 * are printed with the fewest digits that read back to the same double, in
 * plain decimal notation since InfluxQL has no exponent syntax. Recursion
 * follows the tree, whose height the parser bounds.
 */
#include "query/ast.h"

#include "lsm/alloc.h"
#include "lsm/status.h"
#include "query/lexer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ---- */

struct query_arena_block {
	struct query_arena_block *prev;
	size_t size; /* bytes of data */
	alignas(16) char data[];
};

#define ARENA_FIRST_BYTES 4096u
#define ARENA_MAX_BLOCK_BYTES (256u * 1024u)

void query_arena_init(query_arena *a, size_t limit)
{
	a->blocks = NULL;
	a->ptr = NULL;
	a->left = 0;
	a->bytes = 0;
	a->limit = limit;
	a->over_limit = false;
}

void query_arena_deinit(query_arena *a)
{
	struct query_arena_block *b = a->blocks;

	while (b) {
		struct query_arena_block *prev = b->prev;

		strata_free(b);
		b = prev;
	}
	query_arena_init(a, a->limit);
}

void *query_arena_alloc(query_arena *a, size_t n)
{
	struct query_arena_block *b;
	size_t size, total;
	void *p;

	if (n > SIZE_MAX / 2)
		return NULL;
	n = (n + 7) & ~(size_t)7;
	if (n <= a->left && a->ptr) {
		p = a->ptr;
		a->ptr += n;
		a->left -= n;
		return p;
	}
	size = a->blocks ? a->blocks->size * 2 : ARENA_FIRST_BYTES;
	if (size > ARENA_MAX_BLOCK_BYTES)
		size = ARENA_MAX_BLOCK_BYTES;
	if (size < n)
		size = n;
	total = sizeof *b + size;
	if (a->limit && (total > a->limit || a->bytes > a->limit - total)) {
		a->over_limit = true;
		return NULL;
	}
	b = strata_malloc(total);
	if (!b)
		return NULL;
	b->prev = a->blocks;
	b->size = size;
	a->blocks = b;
	a->bytes += total;
	a->ptr = b->data + n;
	a->left = size - n;
	return b->data;
}

char *query_arena_strndup(query_arena *a, const char *s, size_t n)
{
	char *p = query_arena_alloc(a, n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

void query_ast_free(query_ast *ast)
{
	if (!ast)
		return;
	query_arena_deinit(&ast->arena);
	strata_free(ast);
}

/* ---- names ---- */

const char *query_op_str(enum query_op op)
{
	static const char *const names[] = {
		[QUERY_OP_ADD] = "+",       [QUERY_OP_SUB] = "-",        [QUERY_OP_MUL] = "*",
		[QUERY_OP_DIV] = "/",       [QUERY_OP_MOD] = "%",        [QUERY_OP_BITAND] = "&",
		[QUERY_OP_BITOR] = "|",     [QUERY_OP_BITXOR] = "^",     [QUERY_OP_EQ] = "=",
		[QUERY_OP_NEQ] = "!=",      [QUERY_OP_LT] = "<",         [QUERY_OP_LTE] = "<=",
		[QUERY_OP_GT] = ">",        [QUERY_OP_GTE] = ">=",       [QUERY_OP_EQREGEX] = "=~",
		[QUERY_OP_NEQREGEX] = "!~", [QUERY_OP_AND] = "AND",      [QUERY_OP_OR] = "OR",
		[QUERY_OP_IN] = "IN",
	};

	if ((unsigned)op >= sizeof names / sizeof *names)
		return "?";
	return names[op];
}

int query_op_precedence(enum query_op op)
{
	switch (op) {
	case QUERY_OP_OR:
		return 1;
	case QUERY_OP_AND:
		return 2;
	case QUERY_OP_EQ:
	case QUERY_OP_NEQ:
	case QUERY_OP_LT:
	case QUERY_OP_LTE:
	case QUERY_OP_GT:
	case QUERY_OP_GTE:
	case QUERY_OP_EQREGEX:
	case QUERY_OP_NEQREGEX:
	case QUERY_OP_IN:
		return 3;
	case QUERY_OP_ADD:
	case QUERY_OP_SUB:
	case QUERY_OP_BITOR:
	case QUERY_OP_BITXOR:
		return 4;
	case QUERY_OP_MUL:
	case QUERY_OP_DIV:
	case QUERY_OP_MOD:
	case QUERY_OP_BITAND:
		return 5;
	}
	return 0;
}

bool query_op_is_comparison(enum query_op op)
{
	return op >= QUERY_OP_EQ && op <= QUERY_OP_NEQREGEX;
}

const char *query_type_str(enum query_type t)
{
	switch (t) {
	case QUERY_TYPE_NONE: return "";
	case QUERY_TYPE_FLOAT: return "float";
	case QUERY_TYPE_INTEGER: return "integer";
	case QUERY_TYPE_UNSIGNED: return "unsigned";
	case QUERY_TYPE_STRING: return "string";
	case QUERY_TYPE_BOOLEAN: return "boolean";
	case QUERY_TYPE_FIELD: return "field";
	case QUERY_TYPE_TAG: return "tag";
	}
	return "?";
}

const char *query_fill_str(enum query_fill f)
{
	switch (f) {
	case QUERY_FILL_NULL: return "null";
	case QUERY_FILL_NONE: return "none";
	case QUERY_FILL_PREVIOUS: return "previous";
	case QUERY_FILL_LINEAR: return "linear";
	case QUERY_FILL_NUMBER: return "number";
	}
	return "?";
}

const char *query_stmt_kind_str(enum query_stmt_kind k)
{
	switch (k) {
	case QUERY_STMT_SELECT: return "SELECT";
	case QUERY_STMT_SHOW_DATABASES: return "SHOW DATABASES";
	case QUERY_STMT_CREATE_DATABASE: return "CREATE DATABASE";
	case QUERY_STMT_DROP_DATABASE: return "DROP DATABASE";
	case QUERY_STMT_SHOW_MEASUREMENTS: return "SHOW MEASUREMENTS";
	case QUERY_STMT_SHOW_TAG_KEYS: return "SHOW TAG KEYS";
	case QUERY_STMT_SHOW_TAG_VALUES: return "SHOW TAG VALUES";
	case QUERY_STMT_SHOW_FIELD_KEYS: return "SHOW FIELD KEYS";
	case QUERY_STMT_SHOW_SERIES: return "SHOW SERIES";
	case QUERY_STMT_SHOW_RETENTION_POLICIES: return "SHOW RETENTION POLICIES";
	case QUERY_STMT_CREATE_RETENTION_POLICY: return "CREATE RETENTION POLICY";
	case QUERY_STMT_ALTER_RETENTION_POLICY: return "ALTER RETENTION POLICY";
	case QUERY_STMT_DROP_RETENTION_POLICY: return "DROP RETENTION POLICY";
	case QUERY_STMT_DROP_SERIES: return "DROP SERIES";
	case QUERY_STMT_DELETE: return "DELETE";
	case QUERY_STMT_DROP_MEASUREMENT: return "DROP MEASUREMENT";
	case QUERY_STMT_CREATE_CONTINUOUS_QUERY: return "CREATE CONTINUOUS QUERY";
	case QUERY_STMT_SHOW_CONTINUOUS_QUERIES: return "SHOW CONTINUOUS QUERIES";
	case QUERY_STMT_DROP_CONTINUOUS_QUERY: return "DROP CONTINUOUS QUERY";
	}
	return "?";
}

/* ---- time and durations ---- */

#define NS_PER_SEC INT64_C(1000000000)

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era;
	int64_t yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* n decimal digits at s[*i]; false if any is not a digit. */
static bool digits(const char *s, size_t len, size_t *i, int n, int *out)
{
	int v = 0;

	if (*i + (size_t)n > len)
		return false;
	for (int k = 0; k < n; k++) {
		char c = s[*i + (size_t)k];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*i += (size_t)n;
	*out = v;
	return true;
}

int query_time_parse(int64_t *out, const char *s, size_t len)
{
	int year = 0, mon = 0, day = 0, hh = 0, mm = 0, ss = 0, zh = 0, zm = 0;
	int64_t frac = 0, secs, ns;
	size_t i = 0;
	int zsign = 0;

	if (!digits(s, len, &i, 4, &year) || i >= len || s[i++] != '-' ||
	    !digits(s, len, &i, 2, &mon) || i >= len || s[i++] != '-' ||
	    !digits(s, len, &i, 2, &day))
		return STRATA_EINVAL;
	if (i < len) {
		if (s[i] != 'T' && s[i] != 't' && s[i] != ' ')
			return STRATA_EINVAL;
		i++;
		if (!digits(s, len, &i, 2, &hh) || i >= len || s[i++] != ':' ||
		    !digits(s, len, &i, 2, &mm) || i >= len || s[i++] != ':' ||
		    !digits(s, len, &i, 2, &ss))
			return STRATA_EINVAL;
		if (i < len && s[i] == '.') {
			int n = 0;

			i++;
			while (i < len && s[i] >= '0' && s[i] <= '9') {
				if (++n > 9)
					return STRATA_EINVAL;
				frac = frac * 10 + (s[i] - '0');
				i++;
			}
			if (n == 0)
				return STRATA_EINVAL;
			for (; n < 9; n++)
				frac *= 10;
		}
		if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
			i++;
		} else if (i < len && (s[i] == '+' || s[i] == '-')) {
			zsign = s[i] == '+' ? 1 : -1;
			i++;
			if (!digits(s, len, &i, 2, &zh) || i >= len || s[i++] != ':' ||
			    !digits(s, len, &i, 2, &zm) || zh > 23 || zm > 59)
				return STRATA_EINVAL;
		}
		if (i != len)
			return STRATA_EINVAL;
	}
	if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) || hh > 23 ||
	    mm > 59 || ss > 59)
		return STRATA_EINVAL;
	secs = days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss;
	secs -= zsign * (zh * 3600 + zm * 60);
	/*
	 * Years 0..9999 keep secs far inside int64; only the ns scaling can
	 * overflow. Borrow a second before a negative time so that the earliest
	 * representable instant (frac > 0, secs just below the range) still fits.
	 */
	if (secs < 0 && frac > 0) {
		secs++;
		frac -= NS_PER_SEC;
	}
	if (__builtin_mul_overflow(secs, NS_PER_SEC, &ns) || __builtin_add_overflow(ns, frac, &ns))
		return STRATA_EINVAL;
	*out = ns;
	return 0;
}

char *query_time_format(char *buf, int64_t ns)
{
	int64_t secs = ns / NS_PER_SEC, frac = ns % NS_PER_SEC, days, rem, y;
	int m, d, n;

	if (frac < 0) {
		frac += NS_PER_SEC;
		secs--;
	}
	days = secs / 86400;
	rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	n = snprintf(buf, QUERY_TIME_BUF, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d", y, m, d,
		     (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
	if (frac) {
		char f[16];
		int k = 9;

		snprintf(f, sizeof f, "%09" PRId64, frac);
		while (k > 0 && f[k - 1] == '0')
			k--;
		f[k] = '\0';
		n += snprintf(buf + n, (size_t)(QUERY_TIME_BUF - n), ".%s", f);
	}
	snprintf(buf + n, (size_t)(QUERY_TIME_BUF - n), "Z");
	return buf;
}

char *query_duration_format(char *buf, int64_t ns)
{
	static const struct {
		uint64_t ns;
		const char *unit;
	} units[] = {
		{ UINT64_C(604800000000000), "w" }, { UINT64_C(86400000000000), "d" },
		{ UINT64_C(3600000000000), "h" },   { UINT64_C(60000000000), "m" },
		{ UINT64_C(1000000000), "s" },      { UINT64_C(1000000), "ms" },
		{ UINT64_C(1000), "u" },            { 1, "ns" },
	};
	uint64_t mag = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
	size_t k = 0;

	if (mag == 0) {
		snprintf(buf, QUERY_DURATION_BUF, "0s");
		return buf;
	}
	while (mag % units[k].ns != 0)
		k++;
	snprintf(buf, QUERY_DURATION_BUF, "%s%" PRIu64 "%s", ns < 0 ? "-" : "", mag / units[k].ns,
		 units[k].unit);
	return buf;
}

/* ---- printer ---- */

struct sbuf {
	char *buf;
	size_t len, cap;
	bool oom;
};

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 128;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = strata_realloc(b->buf, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->buf = p;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

static void sb_putc(struct sbuf *b, char c)
{
	sb_putn(b, &c, 1);
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		sb_putn(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Writes s between q quotes, escaping q, backslash and newline. */
static void print_quoted(struct sbuf *b, const char *s, char q)
{
	sb_putc(b, q);
	for (; *s; s++) {
		if (*s == q || *s == '\\') {
			sb_putc(b, '\\');
			sb_putc(b, *s);
		} else if (*s == '\n') {
			sb_puts(b, "\\n");
		} else {
			sb_putc(b, *s);
		}
	}
	sb_putc(b, q);
}

static void print_ident(struct sbuf *b, const char *name)
{
	if (query_ident_needs_quotes(name))
		print_quoted(b, name, '"');
	else
		sb_puts(b, name);
}

static void print_regex(struct sbuf *b, const char *re)
{
	sb_putc(b, '/');
	for (; *re; re++) {
		if (*re == '/')
			sb_putc(b, '\\');
		sb_putc(b, *re);
	}
	sb_putc(b, '/');
}

/* The shortest decimal that reads back as v, without an exponent, with a point. */
static void print_float(struct sbuf *b, double v)
{
	char e[48], dig[24];
	int p, exp, nd = 0;
	const char *c;

	for (p = 1; p <= 17; p++) {
		snprintf(e, sizeof e, "%.*e", p - 1, v);
		if (strtod(e, NULL) == v)
			break;
	}
	c = e;
	if (*c == '-') {
		sb_putc(b, '-');
		c++;
	}
	for (; *c && *c != 'e'; c++)
		if (*c >= '0' && *c <= '9' && nd < (int)sizeof dig - 1)
			dig[nd++] = *c;
	exp = *c == 'e' ? atoi(c + 1) : 0;
	while (nd > 1 && dig[nd - 1] == '0')
		nd--;
	dig[nd] = '\0';
	if (exp >= 0) {
		int k;

		for (k = 0; k <= exp; k++)
			sb_putc(b, k < nd ? dig[k] : '0');
		sb_putc(b, '.');
		if (exp + 1 < nd)
			sb_putn(b, dig + exp + 1, (size_t)(nd - exp - 1));
		else
			sb_putc(b, '0');
	} else {
		sb_puts(b, "0.");
		for (int k = 0; k < -exp - 1; k++)
			sb_putc(b, '0');
		sb_putn(b, dig, (size_t)nd);
	}
}

static void print_expr(struct sbuf *b, const query_expr *e);

static void print_operand(struct sbuf *b, const query_expr *e, int parent_prec, bool right)
{
	bool paren = false;

	if (e->kind == QUERY_EXPR_BINARY) {
		int prec = query_op_precedence(e->binary.op);

		paren = right ? prec <= parent_prec : prec < parent_prec;
	}
	if (paren)
		sb_putc(b, '(');
	print_expr(b, e);
	if (paren)
		sb_putc(b, ')');
}

static void print_cast(struct sbuf *b, enum query_type t)
{
	if (t != QUERY_TYPE_NONE) {
		sb_puts(b, "::");
		sb_puts(b, query_type_str(t));
	}
}

static void print_expr(struct sbuf *b, const query_expr *e)
{
	char buf[QUERY_TIME_BUF > QUERY_DURATION_BUF ? QUERY_TIME_BUF : QUERY_DURATION_BUF];

	switch (e->kind) {
	case QUERY_EXPR_VARREF:
		print_ident(b, e->ref.name);
		print_cast(b, e->ref.type);
		break;
	case QUERY_EXPR_WILDCARD:
		sb_putc(b, '*');
		print_cast(b, e->wildcard_type);
		break;
	case QUERY_EXPR_REGEX:
		print_regex(b, e->regex);
		break;
	case QUERY_EXPR_STRING:
		print_quoted(b, e->str, '\'');
		break;
	case QUERY_EXPR_INTEGER:
		sb_printf(b, "%" PRId64, e->i);
		break;
	case QUERY_EXPR_UNSIGNED:
		sb_printf(b, "%" PRIu64, e->u);
		break;
	case QUERY_EXPR_NUMBER:
		print_float(b, e->f);
		break;
	case QUERY_EXPR_DURATION:
		sb_puts(b, query_duration_format(buf, e->ns));
		break;
	case QUERY_EXPR_TIME:
		sb_putc(b, '\'');
		sb_puts(b, query_time_format(buf, e->ns));
		sb_putc(b, '\'');
		break;
	case QUERY_EXPR_BOOLEAN:
		sb_puts(b, e->b ? "true" : "false");
		break;
	case QUERY_EXPR_CALL:
		/* distinct is a keyword, yet distinct(x) reads back as the call. */
		if (strcmp(e->call.name, "distinct") == 0)
			sb_puts(b, e->call.name);
		else
			print_ident(b, e->call.name);
		sb_putc(b, '(');
		for (uint32_t k = 0; k < e->call.n_args; k++) {
			if (k)
				sb_puts(b, ", ");
			print_expr(b, e->call.args[k]);
		}
		sb_putc(b, ')');
		break;
	case QUERY_EXPR_BINARY: {
		int prec = query_op_precedence(e->binary.op);

		print_operand(b, e->binary.lhs, prec, false);
		sb_putc(b, ' ');
		sb_puts(b, query_op_str(e->binary.op));
		sb_putc(b, ' ');
		print_operand(b, e->binary.rhs, prec, true);
		break;
	}
	case QUERY_EXPR_PAREN:
		sb_putc(b, '(');
		print_expr(b, e->paren);
		sb_putc(b, ')');
		break;
	}
}

static void print_measurement(struct sbuf *b, const struct query_measurement *m)
{
	if (m->database) {
		print_ident(b, m->database);
		sb_putc(b, '.');
		if (m->retention_policy)
			print_ident(b, m->retention_policy);
		sb_putc(b, '.');
	} else if (m->retention_policy) {
		print_ident(b, m->retention_policy);
		sb_putc(b, '.');
	}
	if (m->regex)
		print_regex(b, m->regex);
	else if (m->name)
		print_ident(b, m->name);
	else
		sb_puts(b, ":MEASUREMENT");
}

static void print_sources(struct sbuf *b, const struct query_measurement *s, uint32_t n)
{
	if (n == 0)
		return;
	sb_puts(b, " FROM ");
	for (uint32_t k = 0; k < n; k++) {
		if (k)
			sb_puts(b, ", ");
		print_measurement(b, &s[k]);
	}
}

static void print_where(struct sbuf *b, const query_expr *cond)
{
	if (cond) {
		sb_puts(b, " WHERE ");
		print_expr(b, cond);
	}
}

static void print_limits(struct sbuf *b, int64_t limit, int64_t offset)
{
	if (limit > 0)
		sb_printf(b, " LIMIT %" PRId64, limit);
	if (offset > 0)
		sb_printf(b, " OFFSET %" PRId64, offset);
}

static void print_on(struct sbuf *b, const char *db)
{
	if (db) {
		sb_puts(b, " ON ");
		print_ident(b, db);
	}
}

static void print_duration_or_inf(struct sbuf *b, int64_t ns)
{
	char buf[QUERY_DURATION_BUF];

	sb_puts(b, ns == 0 ? "INF" : query_duration_format(buf, ns));
}

static void print_select(struct sbuf *b, const struct query_select *s)
{
	sb_puts(b, "SELECT ");
	for (uint32_t k = 0; k < s->n_fields; k++) {
		if (k)
			sb_puts(b, ", ");
		print_expr(b, s->fields[k].expr);
		if (s->fields[k].alias) {
			sb_puts(b, " AS ");
			print_ident(b, s->fields[k].alias);
		}
	}
	if (s->into) {
		sb_puts(b, " INTO ");
		print_measurement(b, s->into);
	}
	print_sources(b, s->sources, s->n_sources);
	print_where(b, s->condition);
	for (uint32_t k = 0; k < s->n_dimensions; k++) {
		sb_puts(b, k ? ", " : " GROUP BY ");
		print_expr(b, s->dimensions[k]);
	}
	if (s->fill_given) {
		sb_puts(b, " fill(");
		if (s->fill == QUERY_FILL_NUMBER && s->fill_value)
			print_expr(b, s->fill_value);
		else
			sb_puts(b, query_fill_str(s->fill));
		sb_putc(b, ')');
	}
	if (s->order_given)
		sb_puts(b, s->order_desc ? " ORDER BY time DESC" : " ORDER BY time ASC");
	print_limits(b, s->limit, s->offset);
	if (s->slimit > 0)
		sb_printf(b, " SLIMIT %" PRId64, s->slimit);
	if (s->soffset > 0)
		sb_printf(b, " SOFFSET %" PRId64, s->soffset);
	if (s->tz) {
		sb_puts(b, " tz(");
		print_quoted(b, s->tz, '\'');
		sb_putc(b, ')');
	}
}

static void print_rp_options(struct sbuf *b, const struct query_rp_options *o)
{
	char buf[QUERY_DURATION_BUF];

	if (o->has_duration) {
		sb_puts(b, " DURATION ");
		print_duration_or_inf(b, o->duration_ns);
	}
	if (o->has_replication)
		sb_printf(b, " REPLICATION %" PRId32, o->replication);
	if (o->has_shard_duration) {
		sb_puts(b, " SHARD DURATION ");
		sb_puts(b, query_duration_format(buf, o->shard_duration_ns));
	}
	if (o->is_default)
		sb_puts(b, " DEFAULT");
	if (o->name) {
		sb_puts(b, " NAME ");
		print_ident(b, o->name);
	}
}

static void print_stmt(struct sbuf *b, const struct query_stmt *st)
{
	char buf[QUERY_DURATION_BUF];
	const struct query_show *sh = &st->show;

	switch (st->kind) {
	case QUERY_STMT_SELECT:
		print_select(b, &st->select);
		break;
	case QUERY_STMT_SHOW_DATABASES:
	case QUERY_STMT_SHOW_CONTINUOUS_QUERIES:
		sb_puts(b, query_stmt_kind_str(st->kind));
		break;
	case QUERY_STMT_CREATE_DATABASE:
	case QUERY_STMT_DROP_DATABASE:
		sb_puts(b, query_stmt_kind_str(st->kind));
		sb_putc(b, ' ');
		print_ident(b, st->database.name);
		if (st->kind == QUERY_STMT_CREATE_DATABASE && st->database.with) {
			sb_puts(b, " WITH");
			print_rp_options(b, &st->database.rp);
		}
		break;
	case QUERY_STMT_SHOW_MEASUREMENTS:
		sb_puts(b, "SHOW MEASUREMENTS");
		print_on(b, sh->database);
		if (sh->with_measurement) {
			sb_puts(b, sh->with_measurement->regex ? " WITH MEASUREMENT =~ "
							      : " WITH MEASUREMENT = ");
			print_measurement(b, sh->with_measurement);
		}
		print_where(b, sh->condition);
		print_limits(b, sh->limit, sh->offset);
		break;
	case QUERY_STMT_SHOW_TAG_KEYS:
	case QUERY_STMT_SHOW_FIELD_KEYS:
	case QUERY_STMT_SHOW_SERIES:
	case QUERY_STMT_SHOW_TAG_VALUES:
		sb_puts(b, query_stmt_kind_str(st->kind));
		print_on(b, sh->database);
		print_sources(b, sh->sources, sh->n_sources);
		if (st->kind == QUERY_STMT_SHOW_TAG_VALUES || sh->n_keys > 0 || sh->key_regex) {
			sb_puts(b, " WITH KEY ");
			sb_puts(b, query_op_str(sh->key_op));
			sb_putc(b, ' ');
			if (sh->key_op == QUERY_OP_IN) {
				sb_putc(b, '(');
				for (uint32_t k = 0; k < sh->n_keys; k++) {
					if (k)
						sb_puts(b, ", ");
					print_ident(b, sh->keys[k]);
				}
				sb_putc(b, ')');
			} else if (sh->key_regex) {
				print_regex(b, sh->key_regex);
			} else if (sh->n_keys > 0) {
				print_ident(b, sh->keys[0]);
			}
		}
		print_where(b, sh->condition);
		print_limits(b, sh->limit, sh->offset);
		break;
	case QUERY_STMT_SHOW_RETENTION_POLICIES:
		sb_puts(b, "SHOW RETENTION POLICIES");
		print_on(b, st->rp.database);
		break;
	case QUERY_STMT_CREATE_RETENTION_POLICY:
	case QUERY_STMT_ALTER_RETENTION_POLICY:
	case QUERY_STMT_DROP_RETENTION_POLICY:
		sb_puts(b, query_stmt_kind_str(st->kind));
		sb_putc(b, ' ');
		print_ident(b, st->rp.name);
		print_on(b, st->rp.database);
		if (st->kind != QUERY_STMT_DROP_RETENTION_POLICY)
			print_rp_options(b, &st->rp.opts);
		break;
	case QUERY_STMT_DROP_SERIES:
	case QUERY_STMT_DELETE:
		sb_puts(b, query_stmt_kind_str(st->kind));
		print_sources(b, st->del.sources, st->del.n_sources);
		print_where(b, st->del.condition);
		break;
	case QUERY_STMT_DROP_MEASUREMENT:
		sb_puts(b, "DROP MEASUREMENT ");
		print_ident(b, st->measurement);
		break;
	case QUERY_STMT_CREATE_CONTINUOUS_QUERY:
	case QUERY_STMT_DROP_CONTINUOUS_QUERY:
		sb_puts(b, query_stmt_kind_str(st->kind));
		sb_putc(b, ' ');
		print_ident(b, st->cq.name);
		print_on(b, st->cq.database);
		if (st->kind == QUERY_STMT_DROP_CONTINUOUS_QUERY)
			break;
		if (st->cq.resample_every_ns || st->cq.resample_for_ns) {
			sb_puts(b, " RESAMPLE");
			if (st->cq.resample_every_ns) {
				sb_puts(b, " EVERY ");
				sb_puts(b, query_duration_format(buf, st->cq.resample_every_ns));
			}
			if (st->cq.resample_for_ns) {
				sb_puts(b, " FOR ");
				sb_puts(b, query_duration_format(buf, st->cq.resample_for_ns));
			}
		}
		sb_puts(b, " BEGIN ");
		if (st->cq.select)
			print_select(b, st->cq.select);
		sb_puts(b, " END");
		break;
	}
}

static int finish(char **out, struct sbuf *b)
{
	if (!b->oom && !b->buf)
		sb_putn(b, "", 0);
	if (b->oom) {
		strata_free(b->buf);
		*out = NULL;
		return strata_error(-ENOMEM, "out of memory while printing a query");
	}
	*out = b->buf;
	return 0;
}

int query_ast_print(char **out, const query_ast *ast)
{
	struct sbuf b = { 0 };

	for (uint32_t k = 0; k < ast->n_stmts; k++) {
		if (k)
			sb_puts(&b, "; ");
		print_stmt(&b, &ast->stmts[k]);
	}
	return finish(out, &b);
}

int query_stmt_print(char **out, const struct query_stmt *stmt)
{
	struct sbuf b = { 0 };

	print_stmt(&b, stmt);
	return finish(out, &b);
}

int query_expr_print(char **out, const query_expr *expr)
{
	struct sbuf b = { 0 };

	print_expr(&b, expr);
	return finish(out, &b);
}
