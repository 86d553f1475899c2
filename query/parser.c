/*
 * parser.c — InfluxQL recursive-descent parser (parser.h).
 *
 * One token of lookahead, read lazily. Where InfluxQL allows a regex the
 * parser asks the lexer for the next token in regex mode; if the lookahead
 * was already read in the other mode and starts with '/', the lexer is set
 * back to where that token's blanks began and reads it again, so a '/' is
 * never misread whichever question came first.
 *
 * Binary expressions use precedence climbing: one C frame per precedence
 * level (five) and a loop for operators of equal precedence, so chains like
 * a + b + c ... cost no stack. Recursion happens only at parentheses, call
 * arguments and nested statements, and each of those counts against
 * max_depth. The height of every node is computed as it is built and checked
 * against max_height, which also bounds the few walks done here (field
 * checks, time literals) and every walk done later on the tree.
 *
 * Errors: the first one wins and is kept in the parser; every function
 * returns at once when it sees it (expression builders return NULL, the
 * others the code). A lexical error leaves an ILLEGAL lookahead that nothing
 * accepts, so the parse unwinds without reading further.
 *
 * Where the tree differs from the text: a string compared with `time`
 * (directly or through + and -) becomes a TIME node with its nanoseconds;
 * unary minus on a literal negates the literal and on anything else becomes
 * -1 * x (as in InfluxDB); distinct x becomes distinct(x); function names
 * are lower-cased. GROUP BY time(...) is validated and copied into the
 * select's group_* fields; fill(...) into fill and fill_value.
 */
#include "query/parser.h"

#include "lsm/alloc.h"
#include "lsm/status.h"
#include "query/lexer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct parser {
	query_lexer lx;
	query_arena *arena;
	query_parse_opts o;
	query_parse_error *err;
	int rc;                  /* the first error, 0 until then */
	query_token tok;         /* the lookahead when `have` */
	bool have;
	unsigned tok_flags;      /* lexer flags the lookahead was read with */
	struct query_pos before; /* lexer position before the lookahead */
	uint32_t depth;
};

/* ---- errors ---- */

static void describe(const query_token *t, char *buf, size_t n)
{
	const char *s;
	size_t len;

	switch (t->type) {
	case QUERY_TOK_IDENT:
	case QUERY_TOK_STRING:
		s = t->str;
		len = strlen(s);
		break;
	case QUERY_TOK_BOUNDPARAM:
	case QUERY_TOK_INTEGER:
	case QUERY_TOK_NUMBER:
	case QUERY_TOK_DURATION:
	case QUERY_TOK_REGEX:
	case QUERY_TOK_ILLEGAL:
		s = t->text;
		len = t->len;
		break;
	default:
		s = query_tok_str(t->type);
		len = strlen(s);
		break;
	}
	if (len > n - 1) {
		snprintf(buf, n, "%.*s...", (int)(n - 4), s);
	} else {
		memcpy(buf, s, len);
		buf[len] = '\0';
	}
}

/* Records the first error: message "<what> at line L, char C". */
static int fail_at(struct parser *p, int rc, struct query_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail_at(struct parser *p, int rc, struct query_pos pos, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	if (p->rc)
		return p->rc;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	p->rc = rc;
	p->err->rc = rc;
	p->err->pos = pos;
	snprintf(p->err->message, sizeof p->err->message, "%s at line %" PRIu32 ", char %" PRIu32,
		 what, pos.line, pos.column);
	return rc;
}

/* "found X, expected Y at line L, char C" for token t. */
static int fail_found(struct parser *p, const query_token *t, const char *expected)
{
	if (p->rc)
		return p->rc;
	describe(t, p->err->found, sizeof p->err->found);
	return fail_at(p, STRATA_EINVAL, t->pos, "found %s, expected %s", p->err->found, expected);
}

static int fail_nomem(struct parser *p, struct query_pos pos)
{
	if (p->arena->over_limit)
		return fail_at(p, STRATA_ETOOBIG, pos, "query too large: its syntax tree exceeds %zu bytes",
			       p->arena->limit);
	return fail_at(p, -ENOMEM, pos, "out of memory");
}

/* ---- tokens ---- */

static query_token *peek_mode(struct parser *p, unsigned flags)
{
	int rc;

	if (p->have && (p->rc || p->tok_flags == flags || p->tok.type == QUERY_TOK_EOF ||
			p->tok.text[0] != '/'))
		return &p->tok;
	if (p->have)
		p->lx.pos = p->before;
	p->before = p->lx.pos;
	rc = query_lexer_next(&p->lx, &p->tok, flags);
	p->have = true;
	p->tok_flags = flags;
	if (rc == STRATA_EINVAL)
		fail_at(p, rc, p->tok.pos, "%s", p->lx.error ? p->lx.error : "bad token");
	else if (rc)
		fail_nomem(p, p->tok.pos);
	return &p->tok;
}

static query_token *peek(struct parser *p)
{
	return peek_mode(p, 0);
}

static void consume(struct parser *p)
{
	p->have = false;
}

static bool accept(struct parser *p, enum query_tok type)
{
	if (peek(p)->type != type || p->rc)
		return false;
	consume(p);
	return true;
}

static int expect(struct parser *p, enum query_tok type)
{
	if (accept(p, type))
		return 0;
	return fail_found(p, peek(p), query_tok_str(type));
}

/* True when the lookahead is the bare or quoted identifier `word` (any case). */
static bool peek_word(struct parser *p, const char *word)
{
	query_token *t = peek(p);

	return !p->rc && t->type == QUERY_TOK_IDENT && strcasecmp(t->str, word) == 0;
}

static int parse_ident(struct parser *p, const char **out)
{
	query_token *t = peek(p);

	if (t->type != QUERY_TOK_IDENT || p->rc)
		return fail_found(p, t, "identifier");
	*out = t->str;
	consume(p);
	return 0;
}

/* An INTEGER token in [min, max]. */
static int parse_int(struct parser *p, uint64_t min, uint64_t max, uint64_t *out)
{
	query_token *t = peek(p);

	if (t->type != QUERY_TOK_INTEGER || p->rc)
		return fail_found(p, t, "integer");
	if (t->u < min || t->u > max)
		return fail_at(p, STRATA_EINVAL, t->pos,
			       "invalid value %" PRIu64 ": must be %" PRIu64 " <= n <= %" PRIu64, t->u,
			       min, max);
	*out = t->u;
	consume(p);
	return 0;
}

/* A DURATION token; INF (as 0) too when allow_inf. */
static int parse_duration(struct parser *p, bool allow_inf, int64_t *out)
{
	query_token *t = peek(p);

	if (allow_inf && t->type == QUERY_TOK_INF && !p->rc) {
		*out = 0;
		consume(p);
		return 0;
	}
	if (t->type != QUERY_TOK_DURATION || p->rc)
		return fail_found(p, t, "duration");
	*out = t->ns;
	consume(p);
	return 0;
}

/* [LIMIT|OFFSET|SLIMIT|SOFFSET n]: n >= 0, fits int64; 0 when absent. */
static int parse_opt_count(struct parser *p, enum query_tok kw, int64_t *out)
{
	uint64_t v = 0;

	if (!accept(p, kw))
		return p->rc;
	if (parse_int(p, 0, INT64_MAX, &v))
		return p->rc;
	*out = (int64_t)v;
	return 0;
}

/* ---- lists in the arena ---- */

struct vec {
	char *data;
	uint32_t n, cap;
	size_t size; /* bytes of one item */
	uint32_t max; /* items allowed; 0 for max_list */
};

/* A zeroed new last item, or NULL (error set) past the list's bound or out of memory. */
static void *vec_push(struct parser *p, struct vec *v, struct query_pos pos)
{
	uint32_t max = v->max ? v->max : p->o.max_list;
	void *slot;

	if (v->n >= max) {
		fail_at(p, STRATA_ETOOBIG, pos, "too many items in a list (max %" PRIu32 ")", max);
		return NULL;
	}
	if (v->n == v->cap) {
		uint32_t cap = v->cap ? v->cap * 2 : 4;
		char *data;

		if (cap > max)
			cap = max;
		data = query_arena_alloc(p->arena, (size_t)cap * v->size);
		if (!data) {
			fail_nomem(p, pos);
			return NULL;
		}
		if (v->n)
			memcpy(data, v->data, (size_t)v->n * v->size);
		v->data = data;
		v->cap = cap;
	}
	slot = v->data + (size_t)v->n * v->size;
	memset(slot, 0, v->size);
	v->n++;
	return slot;
}

/* ---- expressions ---- */

static query_expr *parse_expr(struct parser *p);
static query_expr *parse_unary(struct parser *p);

static query_expr *new_expr(struct parser *p, enum query_expr_kind kind, struct query_pos pos)
{
	query_expr *e = query_arena_alloc(p->arena, sizeof *e);

	if (!e) {
		fail_nomem(p, pos);
		return NULL;
	}
	memset(e, 0, sizeof *e);
	e->kind = kind;
	e->pos = pos;
	e->height = 1;
	return e;
}

/* Sets e's height to 1 + child; NULL (error set) past max_height. */
static query_expr *set_height(struct parser *p, query_expr *e, uint32_t child)
{
	if (child >= p->o.max_height) {
		fail_at(p, STRATA_ETOOBIG, e->pos, "expression too complex (height over %" PRIu32 ")",
			p->o.max_height);
		return NULL;
	}
	if (child + 1 > e->height)
		e->height = child + 1;
	return e;
}

static query_expr *regex_expr(struct parser *p, const query_token *t)
{
	query_expr *e = new_expr(p, QUERY_EXPR_REGEX, t->pos);

	if (e)
		e->regex = t->str;
	return e;
}

/* A regex if the lookahead read in regex mode is one (consumed), else NULL without error. */
static query_expr *try_regex(struct parser *p)
{
	query_token *t = peek_mode(p, QUERY_LEX_REGEX);

	if (p->rc || t->type != QUERY_TOK_REGEX)
		return NULL;
	consume(p);
	return regex_expr(p, t);
}

static bool tok_to_op(enum query_tok t, enum query_op *op)
{
	switch (t) {
	case QUERY_TOK_ADD: *op = QUERY_OP_ADD; return true;
	case QUERY_TOK_SUB: *op = QUERY_OP_SUB; return true;
	case QUERY_TOK_MUL: *op = QUERY_OP_MUL; return true;
	case QUERY_TOK_DIV: *op = QUERY_OP_DIV; return true;
	case QUERY_TOK_MOD: *op = QUERY_OP_MOD; return true;
	case QUERY_TOK_BITAND: *op = QUERY_OP_BITAND; return true;
	case QUERY_TOK_BITOR: *op = QUERY_OP_BITOR; return true;
	case QUERY_TOK_BITXOR: *op = QUERY_OP_BITXOR; return true;
	case QUERY_TOK_EQ: *op = QUERY_OP_EQ; return true;
	case QUERY_TOK_NEQ: *op = QUERY_OP_NEQ; return true;
	case QUERY_TOK_LT: *op = QUERY_OP_LT; return true;
	case QUERY_TOK_LTE: *op = QUERY_OP_LTE; return true;
	case QUERY_TOK_GT: *op = QUERY_OP_GT; return true;
	case QUERY_TOK_GTE: *op = QUERY_OP_GTE; return true;
	case QUERY_TOK_EQREGEX: *op = QUERY_OP_EQREGEX; return true;
	case QUERY_TOK_NEQREGEX: *op = QUERY_OP_NEQREGEX; return true;
	case QUERY_TOK_AND: *op = QUERY_OP_AND; return true;
	case QUERY_TOK_OR: *op = QUERY_OP_OR; return true;
	default: return false;
	}
}

static bool is_time_ref(const query_expr *e)
{
	return e->kind == QUERY_EXPR_VARREF && strcasecmp(e->ref.name, "time") == 0;
}

/* Turns the strings of a time operand (through + - and parentheses) into TIME nodes. */
static int convert_times(struct parser *p, query_expr *e)
{
	int64_t ns;

	switch (e->kind) {
	case QUERY_EXPR_STRING:
		if (query_time_parse(&ns, e->str, strlen(e->str)) != 0)
			return fail_at(p, STRATA_EINVAL, e->pos,
				       "invalid time '%.64s': expected RFC3339 or 'YYYY-MM-DD[ HH:MM:SS]'",
				       e->str);
		e->kind = QUERY_EXPR_TIME;
		e->ns = ns;
		return 0;
	case QUERY_EXPR_PAREN:
		return convert_times(p, e->paren);
	case QUERY_EXPR_BINARY:
		if (e->binary.op != QUERY_OP_ADD && e->binary.op != QUERY_OP_SUB)
			return 0;
		if (convert_times(p, e->binary.lhs))
			return p->rc;
		return convert_times(p, e->binary.rhs);
	default:
		return 0;
	}
}

static query_expr *make_binary(struct parser *p, enum query_op op, struct query_pos pos,
			       query_expr *lhs, query_expr *rhs)
{
	query_expr *e = new_expr(p, QUERY_EXPR_BINARY, pos);

	if (!e)
		return NULL;
	e->binary.op = op;
	e->binary.lhs = lhs;
	e->binary.rhs = rhs;
	if (!set_height(p, e, lhs->height > rhs->height ? lhs->height : rhs->height))
		return NULL;
	if (query_op_is_comparison(op) && op != QUERY_OP_EQREGEX && op != QUERY_OP_NEQREGEX) {
		if (is_time_ref(lhs) && convert_times(p, rhs))
			return NULL;
		if (is_time_ref(rhs) && convert_times(p, lhs))
			return NULL;
	}
	return e;
}

/* Operators of precedence >= min_prec, left-associative. */
static query_expr *parse_binary(struct parser *p, int min_prec)
{
	query_expr *lhs = parse_unary(p);

	while (lhs) {
		query_token *t = peek(p);
		struct query_pos pos = t->pos;
		query_expr *rhs;
		enum query_op op;
		int prec;

		if (p->rc || !tok_to_op(t->type, &op))
			break;
		prec = query_op_precedence(op);
		if (prec < min_prec)
			break;
		consume(p);
		if (op == QUERY_OP_EQREGEX || op == QUERY_OP_NEQREGEX) {
			rhs = try_regex(p);
			if (!rhs) {
				fail_found(p, peek_mode(p, QUERY_LEX_REGEX), "regex");
				return NULL;
			}
		} else {
			rhs = parse_binary(p, prec + 1);
			if (!rhs)
				return NULL;
		}
		lhs = make_binary(p, op, pos, lhs, rhs);
	}
	return p->rc ? NULL : lhs;
}

static query_expr *parse_expr(struct parser *p)
{
	query_expr *e;

	if (p->depth >= p->o.max_depth) {
		fail_at(p, STRATA_ETOOBIG, peek(p)->pos, "query nested too deeply (max %" PRIu32 ")",
			p->o.max_depth);
		return NULL;
	}
	p->depth++;
	e = parse_binary(p, 1);
	p->depth--;
	return e;
}

static char *lowercase(struct parser *p, const char *s, struct query_pos pos)
{
	size_t n = strlen(s);
	char *d = query_arena_alloc(p->arena, n + 1);

	if (!d) {
		fail_nomem(p, pos);
		return NULL;
	}
	for (size_t i = 0; i <= n; i++)
		d[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] | 0x20) : s[i];
	return d;
}

/* name( already read: the arguments and ')'. */
static query_expr *parse_call(struct parser *p, const char *name, struct query_pos pos)
{
	query_expr *e = new_expr(p, QUERY_EXPR_CALL, pos);
	struct vec args = { .size = sizeof(query_expr *) };
	uint32_t h = 0;

	if (!e)
		return NULL;
	e->call.name = lowercase(p, name, pos);
	if (!e->call.name)
		return NULL;
	if (!accept(p, QUERY_TOK_RPAREN)) {
		do {
			query_expr **slot;
			query_expr *a = try_regex(p);

			if (!a && !p->rc)
				a = parse_expr(p);
			if (!a)
				return NULL;
			slot = vec_push(p, &args, a->pos);
			if (!slot)
				return NULL;
			*slot = a;
			if (a->height > h)
				h = a->height;
		} while (accept(p, QUERY_TOK_COMMA));
		if (p->rc)
			return NULL;
		if (!accept(p, QUERY_TOK_RPAREN)) {
			fail_found(p, peek(p), ",, )");
			return NULL;
		}
	}
	e->call.args = (query_expr **)args.data;
	e->call.n_args = args.n;
	return set_height(p, e, h);
}

static int parse_cast(struct parser *p, bool wildcard, enum query_type *out)
{
	static const struct {
		const char *name;
		enum query_type type;
	} types[] = {
		{ "float", QUERY_TYPE_FLOAT },     { "integer", QUERY_TYPE_INTEGER },
		{ "unsigned", QUERY_TYPE_UNSIGNED }, { "string", QUERY_TYPE_STRING },
		{ "boolean", QUERY_TYPE_BOOLEAN },
	};
	query_token *t;

	*out = QUERY_TYPE_NONE;
	if (!accept(p, QUERY_TOK_DOUBLECOLON))
		return p->rc;
	t = peek(p);
	if (p->rc)
		return p->rc;
	if (t->type == QUERY_TOK_FIELD || t->type == QUERY_TOK_TAG) {
		*out = t->type == QUERY_TOK_FIELD ? QUERY_TYPE_FIELD : QUERY_TYPE_TAG;
		consume(p);
		return 0;
	}
	if (!wildcard && t->type == QUERY_TOK_IDENT && !t->quoted) {
		for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
			if (strcasecmp(t->str, types[k].name) == 0) {
				*out = types[k].type;
				consume(p);
				return 0;
			}
		}
	}
	return fail_found(p, t, wildcard ? "field, tag"
					 : "float, integer, unsigned, string, boolean, field, tag");
}

/* first already read: more .segments, then an optional ::type. */
static query_expr *parse_varref(struct parser *p, const char *first, struct query_pos pos)
{
	query_expr *e = new_expr(p, QUERY_EXPR_VARREF, pos);
	const char *name = first;
	int segments = 1;

	if (!e)
		return NULL;
	while (accept(p, QUERY_TOK_DOT)) {
		const char *seg;
		size_t a, b;
		char *joined;

		if (++segments > 3) {
			fail_at(p, STRATA_EINVAL, pos, "too many segments in %.64s", name);
			return NULL;
		}
		if (parse_ident(p, &seg))
			return NULL;
		a = strlen(name);
		b = strlen(seg);
		joined = query_arena_alloc(p->arena, a + b + 2);
		if (!joined) {
			fail_nomem(p, pos);
			return NULL;
		}
		memcpy(joined, name, a);
		joined[a] = '.';
		memcpy(joined + a + 1, seg, b + 1);
		name = joined;
	}
	if (p->rc)
		return NULL;
	e->ref.name = name;
	if (parse_cast(p, false, &e->ref.type))
		return NULL;
	return e;
}

/* Unary + or - already read at pos. */
static query_expr *parse_signed(struct parser *p, bool negative, struct query_pos pos)
{
	query_token *t = peek(p);
	query_expr *e, *one, *mul;

	if (p->rc)
		return NULL;
	switch (t->type) {
	case QUERY_TOK_NUMBER:
	case QUERY_TOK_INTEGER:
	case QUERY_TOK_DURATION:
	case QUERY_TOK_LPAREN:
	case QUERY_TOK_IDENT:
		break;
	default:
		fail_found(p, t, "identifier, number, duration, (");
		return NULL;
	}
	e = parse_unary(p);
	if (!e)
		return NULL;
	switch (e->kind) {
	case QUERY_EXPR_NUMBER:
		if (negative)
			e->f = -e->f;
		e->pos = pos;
		return e;
	case QUERY_EXPR_INTEGER:
		if (negative)
			e->i = -e->i;
		e->pos = pos;
		return e;
	case QUERY_EXPR_DURATION:
		if (negative)
			e->ns = -e->ns;
		e->pos = pos;
		return e;
	case QUERY_EXPR_UNSIGNED:
		if (!negative) {
			e->pos = pos;
			return e;
		}
		if (e->u != (uint64_t)INT64_MAX + 1) {
			fail_at(p, STRATA_EINVAL, pos, "constant -%" PRIu64 " underflows int64", e->u);
			return NULL;
		}
		e->kind = QUERY_EXPR_INTEGER;
		e->i = INT64_MIN;
		e->pos = pos;
		return e;
	default:
		one = new_expr(p, QUERY_EXPR_INTEGER, pos);
		if (!one)
			return NULL;
		one->i = negative ? -1 : 1;
		mul = make_binary(p, QUERY_OP_MUL, pos, one, e);
		return mul;
	}
}

static query_expr *parse_unary(struct parser *p)
{
	query_token *t = peek(p);
	query_token tok;
	query_expr *e;

	if (p->rc)
		return NULL;
	tok = *t;
	switch (tok.type) {
	case QUERY_TOK_LPAREN:
		consume(p);
		e = new_expr(p, QUERY_EXPR_PAREN, tok.pos);
		if (!e)
			return NULL;
		e->paren = parse_expr(p);
		if (!e->paren)
			return NULL;
		if (expect(p, QUERY_TOK_RPAREN))
			return NULL;
		return set_height(p, e, e->paren->height);
	case QUERY_TOK_IDENT:
		consume(p);
		if (accept(p, QUERY_TOK_LPAREN))
			return parse_call(p, tok.str, tok.pos);
		if (p->rc)
			return NULL;
		return parse_varref(p, tok.str, tok.pos);
	case QUERY_TOK_DISTINCT: {
		query_expr *arg, **args;

		consume(p);
		if (accept(p, QUERY_TOK_LPAREN))
			return parse_call(p, "distinct", tok.pos);
		t = peek(p);
		if (p->rc || t->type != QUERY_TOK_IDENT) {
			fail_found(p, t, "(, identifier");
			return NULL;
		}
		consume(p);
		arg = new_expr(p, QUERY_EXPR_VARREF, t->pos);
		e = new_expr(p, QUERY_EXPR_CALL, tok.pos);
		args = query_arena_alloc(p->arena, sizeof *args);
		if (!arg || !e || !args) {
			fail_nomem(p, tok.pos);
			return NULL;
		}
		arg->ref.name = t->str;
		args[0] = arg;
		e->call.name = "distinct";
		e->call.args = args;
		e->call.n_args = 1;
		return set_height(p, e, 1);
	}
	case QUERY_TOK_STRING:
		consume(p);
		e = new_expr(p, QUERY_EXPR_STRING, tok.pos);
		if (e)
			e->str = tok.str;
		return e;
	case QUERY_TOK_NUMBER:
		consume(p);
		e = new_expr(p, QUERY_EXPR_NUMBER, tok.pos);
		if (e)
			e->f = tok.f;
		return e;
	case QUERY_TOK_INTEGER:
		consume(p);
		if (tok.u > INT64_MAX) {
			e = new_expr(p, QUERY_EXPR_UNSIGNED, tok.pos);
			if (e)
				e->u = tok.u;
		} else {
			e = new_expr(p, QUERY_EXPR_INTEGER, tok.pos);
			if (e)
				e->i = (int64_t)tok.u;
		}
		return e;
	case QUERY_TOK_DURATION:
		consume(p);
		e = new_expr(p, QUERY_EXPR_DURATION, tok.pos);
		if (e)
			e->ns = tok.ns;
		return e;
	case QUERY_TOK_TRUE:
	case QUERY_TOK_FALSE:
		consume(p);
		e = new_expr(p, QUERY_EXPR_BOOLEAN, tok.pos);
		if (e)
			e->b = tok.type == QUERY_TOK_TRUE;
		return e;
	case QUERY_TOK_MUL:
		consume(p);
		e = new_expr(p, QUERY_EXPR_WILDCARD, tok.pos);
		if (e && parse_cast(p, true, &e->wildcard_type))
			return NULL;
		return e;
	case QUERY_TOK_ADD:
	case QUERY_TOK_SUB:
		consume(p);
		return parse_signed(p, tok.type == QUERY_TOK_SUB, tok.pos);
	default:
		fail_found(p, t, "identifier, string, number, bool");
		return NULL;
	}
}

/* ---- clauses ---- */

/* SELECT fields may not compare or combine with AND / OR. */
static int check_field(struct parser *p, const query_expr *e)
{
	switch (e->kind) {
	case QUERY_EXPR_BINARY:
		if (query_op_is_comparison(e->binary.op) || e->binary.op == QUERY_OP_AND ||
		    e->binary.op == QUERY_OP_OR)
			return fail_at(p, STRATA_EINVAL, e->pos,
				       "invalid operator %s in SELECT clause; operator is intended for WHERE clause",
				       query_op_str(e->binary.op));
		if (check_field(p, e->binary.lhs))
			return p->rc;
		return check_field(p, e->binary.rhs);
	case QUERY_EXPR_PAREN:
		return check_field(p, e->paren);
	case QUERY_EXPR_CALL:
		for (uint32_t k = 0; k < e->call.n_args; k++)
			if (check_field(p, e->call.args[k]))
				return p->rc;
		return 0;
	default:
		return 0;
	}
}

/* A ":MEASUREMENT" INTO target (the ':' is the lookahead). */
static int parse_source_name(struct parser *p, struct query_measurement *m)
{
	if (expect(p, QUERY_TOK_COLON) || expect(p, QUERY_TOK_MEASUREMENT))
		return p->rc;
	m->from_source = true;
	return 0;
}

/*
 * [db.[rp].]name, [db.[rp].]/regex/ (when allow_regex), or for an INTO
 * target [db.[rp].]:MEASUREMENT.
 */
static int parse_measurement(struct parser *p, struct query_measurement *m, bool allow_regex,
			     bool target)
{
	unsigned mode = allow_regex ? QUERY_LEX_REGEX : 0;
	query_token *t = peek_mode(p, mode);
	const char *seg[3] = { NULL, NULL, NULL };
	int n = 0;
	query_expr *re = NULL;
	bool from_source = false;

	if (p->rc)
		return p->rc;
	m->pos = t->pos;
	if (t->type == QUERY_TOK_LPAREN && allow_regex && !target)
		return fail_at(p, STRATA_EINVAL, t->pos, "subqueries are not supported");
	if (t->type == QUERY_TOK_REGEX) {
		consume(p);
		m->regex = t->str;
		return 0;
	}
	if (target && t->type == QUERY_TOK_COLON)
		return parse_source_name(p, m);
	if (parse_ident(p, &seg[n++]))
		return p->rc;
	while (accept(p, QUERY_TOK_DOT)) {
		if (n == 3)
			return fail_at(p, STRATA_EINVAL, m->pos, "too many segments in measurement name");
		t = peek_mode(p, mode);
		if (p->rc)
			return p->rc;
		if (t->type == QUERY_TOK_DOT) {
			seg[n++] = NULL;
			continue;
		}
		if (t->type == QUERY_TOK_REGEX) {
			re = try_regex(p);
			if (!re)
				return p->rc;
			break;
		}
		if (target && t->type == QUERY_TOK_COLON) {
			if (parse_source_name(p, m))
				return p->rc;
			from_source = true;
			break;
		}
		if (parse_ident(p, &seg[n++]))
			return p->rc;
	}
	if (p->rc)
		return p->rc;
	if (re || from_source) {
		/* the segments read are the prefix: rp, or db and rp */
		if (n == 3)
			return fail_at(p, STRATA_EINVAL, m->pos, "too many segments in measurement name");
		if (n == 2) {
			m->database = seg[0];
			m->retention_policy = seg[1];
		} else {
			m->retention_policy = seg[0];
		}
		m->regex = re ? re->regex : NULL;
	} else if (n == 1) {
		m->name = seg[0];
	} else if (n == 2) {
		m->retention_policy = seg[0];
		m->name = seg[1];
	} else {
		m->database = seg[0];
		m->retention_policy = seg[1];
		m->name = seg[2];
	}
	if (m->database && !*m->database)
		m->database = NULL;
	if (m->retention_policy && !*m->retention_policy)
		m->retention_policy = NULL;
	return 0;
}

static int parse_sources(struct parser *p, struct query_measurement **out, uint32_t *n_out)
{
	struct vec v = { .size = sizeof(struct query_measurement) };

	do {
		struct query_measurement *m = vec_push(p, &v, peek(p)->pos);

		if (!m || parse_measurement(p, m, true, false))
			return p->rc;
	} while (accept(p, QUERY_TOK_COMMA));
	*out = (struct query_measurement *)v.data;
	*n_out = v.n;
	return p->rc;
}

static int parse_where(struct parser *p, query_expr **out)
{
	if (!accept(p, QUERY_TOK_WHERE))
		return p->rc;
	*out = parse_expr(p);
	return p->rc;
}

/* Checks one GROUP BY item and records a time(...) one in s. */
static int check_dimension(struct parser *p, struct query_select *s, query_expr *d)
{
	const query_expr *a0, *a1;

	switch (d->kind) {
	case QUERY_EXPR_VARREF:
	case QUERY_EXPR_WILDCARD:
	case QUERY_EXPR_REGEX:
		return 0;
	case QUERY_EXPR_CALL:
		break;
	default:
		return fail_at(p, STRATA_EINVAL, d->pos, "only time and tag dimensions allowed");
	}
	if (strcmp(d->call.name, "time") != 0)
		return fail_at(p, STRATA_EINVAL, d->pos, "only time() calls allowed in dimensions");
	if (s->group_time)
		return fail_at(p, STRATA_EINVAL, d->pos, "multiple time dimensions");
	if (d->call.n_args < 1 || d->call.n_args > 2)
		return fail_at(p, STRATA_EINVAL, d->pos, "time dimension expected 1 or 2 arguments");
	a0 = d->call.args[0];
	if (a0->kind != QUERY_EXPR_DURATION || a0->ns <= 0)
		return fail_at(p, STRATA_EINVAL, a0->pos,
			       "time dimension must have a positive duration argument");
	if (d->call.n_args == 2) {
		a1 = d->call.args[1];
		if (a1->kind == QUERY_EXPR_DURATION) {
			s->group_offset_ns = a1->ns;
		} else if (a1->kind == QUERY_EXPR_CALL && strcmp(a1->call.name, "now") == 0 &&
			   a1->call.n_args == 0) {
			s->group_offset_now = true;
		} else {
			return fail_at(p, STRATA_EINVAL, a1->pos,
				       "time dimension offset must be a duration or now()");
		}
	}
	s->group_time = d;
	s->group_interval_ns = a0->ns;
	return 0;
}

static int parse_dimensions(struct parser *p, struct query_select *s)
{
	struct vec v = { .size = sizeof(query_expr *) };

	if (!accept(p, QUERY_TOK_GROUP))
		return p->rc;
	if (expect(p, QUERY_TOK_BY))
		return p->rc;
	do {
		query_expr **slot, *d = try_regex(p);

		if (!d && !p->rc)
			d = parse_expr(p);
		if (!d || check_dimension(p, s, d))
			return p->rc;
		slot = vec_push(p, &v, d->pos);
		if (!slot)
			return p->rc;
		*slot = d;
	} while (accept(p, QUERY_TOK_COMMA));
	s->dimensions = (query_expr **)v.data;
	s->n_dimensions = v.n;
	return p->rc;
}

static int parse_fill(struct parser *p, struct query_select *s)
{
	static const struct {
		const char *name;
		enum query_fill fill;
	} names[] = {
		{ "null", QUERY_FILL_NULL },
		{ "none", QUERY_FILL_NONE },
		{ "previous", QUERY_FILL_PREVIOUS },
		{ "linear", QUERY_FILL_LINEAR },
	};
	query_expr *arg;

	if (!peek_word(p, "fill"))
		return p->rc;
	consume(p);
	if (expect(p, QUERY_TOK_LPAREN))
		return p->rc;
	arg = parse_expr(p);
	if (!arg)
		return p->rc;
	s->fill_given = true;
	switch (arg->kind) {
	case QUERY_EXPR_VARREF:
		for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
			if (arg->ref.type == QUERY_TYPE_NONE && strcasecmp(arg->ref.name, names[k].name) == 0) {
				s->fill = names[k].fill;
				return expect(p, QUERY_TOK_RPAREN);
			}
		}
		break;
	case QUERY_EXPR_INTEGER:
	case QUERY_EXPR_UNSIGNED:
	case QUERY_EXPR_NUMBER:
		s->fill = QUERY_FILL_NUMBER;
		s->fill_value = arg;
		return expect(p, QUERY_TOK_RPAREN);
	default:
		break;
	}
	return fail_at(p, STRATA_EINVAL, arg->pos,
		       "fill requires an argument: null, none, previous, linear or a number");
}

static int parse_order_by(struct parser *p, bool *given, bool *desc)
{
	query_token *t;

	if (!accept(p, QUERY_TOK_ORDER))
		return p->rc;
	if (expect(p, QUERY_TOK_BY))
		return p->rc;
	t = peek(p);
	if (p->rc)
		return p->rc;
	if (t->type == QUERY_TOK_IDENT) {
		if (strcasecmp(t->str, "time") != 0)
			return fail_at(p, STRATA_EINVAL, t->pos, "only ORDER BY time supported at this time");
		consume(p);
	} else if (t->type != QUERY_TOK_ASC && t->type != QUERY_TOK_DESC) {
		return fail_found(p, t, "identifier, ASC, DESC");
	}
	*given = true;
	if (accept(p, QUERY_TOK_DESC))
		*desc = true;
	else
		accept(p, QUERY_TOK_ASC);
	if (peek(p)->type == QUERY_TOK_COMMA && !p->rc)
		return fail_at(p, STRATA_EINVAL, peek(p)->pos, "only ORDER BY time supported at this time");
	return p->rc;
}

static int parse_tz(struct parser *p, struct query_select *s)
{
	query_token *t;

	if (!peek_word(p, "tz"))
		return p->rc;
	consume(p);
	if (expect(p, QUERY_TOK_LPAREN))
		return p->rc;
	t = peek(p);
	if (p->rc || t->type != QUERY_TOK_STRING)
		return fail_found(p, t, "string");
	s->tz = t->str;
	consume(p);
	return expect(p, QUERY_TOK_RPAREN);
}

/* SELECT already read. */
static int parse_select(struct parser *p, struct query_select *s, bool into_required)
{
	struct vec fields = { .size = sizeof(struct query_field) };

	do {
		struct query_field *f = vec_push(p, &fields, peek(p)->pos);

		if (!f)
			return p->rc;
		f->expr = try_regex(p);
		if (!f->expr && !p->rc)
			f->expr = parse_expr(p);
		if (!f->expr || check_field(p, f->expr))
			return p->rc;
		if (accept(p, QUERY_TOK_AS) && parse_ident(p, &f->alias))
			return p->rc;
	} while (accept(p, QUERY_TOK_COMMA));
	if (p->rc)
		return p->rc;
	s->fields = (struct query_field *)fields.data;
	s->n_fields = fields.n;

	if (accept(p, QUERY_TOK_INTO)) {
		s->into = query_arena_alloc(p->arena, sizeof *s->into);
		if (!s->into)
			return fail_nomem(p, peek(p)->pos);
		memset(s->into, 0, sizeof *s->into);
		if (parse_measurement(p, s->into, false, true))
			return p->rc;
	} else if (into_required) {
		return fail_found(p, peek(p), "INTO");
	}
	if (expect(p, QUERY_TOK_FROM) || parse_sources(p, &s->sources, &s->n_sources) ||
	    parse_where(p, &s->condition) || parse_dimensions(p, s) || parse_fill(p, s) ||
	    parse_order_by(p, &s->order_given, &s->order_desc) ||
	    parse_opt_count(p, QUERY_TOK_LIMIT, &s->limit) ||
	    parse_opt_count(p, QUERY_TOK_OFFSET, &s->offset) ||
	    parse_opt_count(p, QUERY_TOK_SLIMIT, &s->slimit) ||
	    parse_opt_count(p, QUERY_TOK_SOFFSET, &s->soffset) || parse_tz(p, s))
		return p->rc;
	return 0;
}

/* ---- statements ---- */

static int parse_on(struct parser *p, const char **db)
{
	if (!accept(p, QUERY_TOK_ON))
		return p->rc;
	return parse_ident(p, db);
}

/* A tag key after WITH KEY = or IN: an identifier (or, leniently, a string). */
static int parse_key_name(struct parser *p, const char **out)
{
	query_token *t = peek(p);

	if (!p->rc && t->type == QUERY_TOK_STRING) {
		*out = t->str;
		consume(p);
		return 0;
	}
	return parse_ident(p, out);
}

/* WITH KEY = k | != k | =~ /re/ | !~ /re/ | IN (k, ...), WITH already read. */
static int parse_with_key(struct parser *p, struct query_show *sh)
{
	query_token *t;

	if (expect(p, QUERY_TOK_KEY))
		return p->rc;
	t = peek(p);
	if (p->rc)
		return p->rc;
	switch (t->type) {
	case QUERY_TOK_EQ:
	case QUERY_TOK_NEQ:
		sh->key_op = t->type == QUERY_TOK_EQ ? QUERY_OP_EQ : QUERY_OP_NEQ;
		consume(p);
		sh->keys = query_arena_alloc(p->arena, sizeof *sh->keys);
		if (!sh->keys)
			return fail_nomem(p, t->pos);
		sh->n_keys = 1;
		return parse_key_name(p, &sh->keys[0]);
	case QUERY_TOK_EQREGEX:
	case QUERY_TOK_NEQREGEX: {
		query_expr *re;

		sh->key_op = t->type == QUERY_TOK_EQREGEX ? QUERY_OP_EQREGEX : QUERY_OP_NEQREGEX;
		consume(p);
		re = try_regex(p);
		if (!re)
			return fail_found(p, peek_mode(p, QUERY_LEX_REGEX), "regex");
		sh->key_regex = re->regex;
		return 0;
	}
	case QUERY_TOK_IN: {
		struct vec v = { .size = sizeof(const char *) };

		sh->key_op = QUERY_OP_IN;
		consume(p);
		if (expect(p, QUERY_TOK_LPAREN))
			return p->rc;
		do {
			const char **slot = vec_push(p, &v, peek(p)->pos);

			if (!slot || parse_key_name(p, slot))
				return p->rc;
		} while (accept(p, QUERY_TOK_COMMA));
		if (expect(p, QUERY_TOK_RPAREN))
			return p->rc;
		sh->keys = (const char **)v.data;
		sh->n_keys = v.n;
		return 0;
	}
	default:
		return fail_found(p, t, "IN, =, !=, =~, !~");
	}
}

static int parse_show_measurements(struct parser *p, struct query_show *sh)
{
	if (parse_on(p, &sh->database))
		return p->rc;
	if (accept(p, QUERY_TOK_WITH)) {
		query_token *t;
		bool regex;

		if (expect(p, QUERY_TOK_MEASUREMENT))
			return p->rc;
		t = peek(p);
		if (p->rc)
			return p->rc;
		if (t->type != QUERY_TOK_EQ && t->type != QUERY_TOK_EQREGEX)
			return fail_found(p, t, "=, =~");
		regex = t->type == QUERY_TOK_EQREGEX;
		consume(p);
		sh->with_measurement = query_arena_alloc(p->arena, sizeof *sh->with_measurement);
		if (!sh->with_measurement)
			return fail_nomem(p, t->pos);
		memset(sh->with_measurement, 0, sizeof *sh->with_measurement);
		if (regex && peek_mode(p, QUERY_LEX_REGEX)->type != QUERY_TOK_REGEX)
			return fail_found(p, peek_mode(p, QUERY_LEX_REGEX), "regex");
		if (parse_measurement(p, sh->with_measurement, true, false))
			return p->rc;
	}
	if (parse_where(p, &sh->condition) || parse_opt_count(p, QUERY_TOK_LIMIT, &sh->limit) ||
	    parse_opt_count(p, QUERY_TOK_OFFSET, &sh->offset))
		return p->rc;
	return 0;
}

/* [ON db] [FROM ...] [WITH KEY ...] [WHERE ...] [LIMIT n] [OFFSET n] */
static int parse_show_keys(struct parser *p, struct query_show *sh, enum query_stmt_kind kind)
{
	if (parse_on(p, &sh->database))
		return p->rc;
	if (accept(p, QUERY_TOK_FROM) && parse_sources(p, &sh->sources, &sh->n_sources))
		return p->rc;
	if (kind == QUERY_STMT_SHOW_TAG_VALUES) {
		if (expect(p, QUERY_TOK_WITH) || parse_with_key(p, sh))
			return p->rc;
	} else if (kind == QUERY_STMT_SHOW_TAG_KEYS && accept(p, QUERY_TOK_WITH)) {
		if (parse_with_key(p, sh))
			return p->rc;
	}
	if (kind != QUERY_STMT_SHOW_FIELD_KEYS && parse_where(p, &sh->condition))
		return p->rc;
	if (parse_opt_count(p, QUERY_TOK_LIMIT, &sh->limit) ||
	    parse_opt_count(p, QUERY_TOK_OFFSET, &sh->offset))
		return p->rc;
	return 0;
}

static int parse_show(struct parser *p, struct query_stmt *st)
{
	query_token *t = peek(p);

	if (p->rc)
		return p->rc;
	switch (t->type) {
	case QUERY_TOK_DATABASES:
		consume(p);
		st->kind = QUERY_STMT_SHOW_DATABASES;
		return 0;
	case QUERY_TOK_MEASUREMENTS:
		consume(p);
		st->kind = QUERY_STMT_SHOW_MEASUREMENTS;
		return parse_show_measurements(p, &st->show);
	case QUERY_TOK_TAG:
		consume(p);
		t = peek(p);
		if (p->rc)
			return p->rc;
		if (t->type == QUERY_TOK_KEYS)
			st->kind = QUERY_STMT_SHOW_TAG_KEYS;
		else if (t->type == QUERY_TOK_VALUES)
			st->kind = QUERY_STMT_SHOW_TAG_VALUES;
		else
			return fail_found(p, t, "KEYS, VALUES");
		consume(p);
		return parse_show_keys(p, &st->show, st->kind);
	case QUERY_TOK_FIELD:
		consume(p);
		if (expect(p, QUERY_TOK_KEYS))
			return p->rc;
		st->kind = QUERY_STMT_SHOW_FIELD_KEYS;
		return parse_show_keys(p, &st->show, st->kind);
	case QUERY_TOK_SERIES:
		consume(p);
		st->kind = QUERY_STMT_SHOW_SERIES;
		return parse_show_keys(p, &st->show, st->kind);
	case QUERY_TOK_RETENTION:
		consume(p);
		if (expect(p, QUERY_TOK_POLICIES))
			return p->rc;
		st->kind = QUERY_STMT_SHOW_RETENTION_POLICIES;
		return parse_on(p, &st->rp.database);
	case QUERY_TOK_CONTINUOUS:
		consume(p);
		st->kind = QUERY_STMT_SHOW_CONTINUOUS_QUERIES;
		return expect(p, QUERY_TOK_QUERIES);
	default:
		return fail_found(p, t, "CONTINUOUS, DATABASES, FIELD, MEASUREMENTS, RETENTION, SERIES, TAG");
	}
}

static int parse_replication(struct parser *p, struct query_rp_options *o)
{
	uint64_t n = 0;

	if (parse_int(p, 1, INT32_MAX, &n))
		return p->rc;
	o->has_replication = true;
	o->replication = (int32_t)n;
	return 0;
}

/* SHARD already read: DURATION d (not INF). */
static int parse_shard_duration(struct parser *p, struct query_rp_options *o)
{
	if (expect(p, QUERY_TOK_DURATION_KW))
		return p->rc;
	if (peek(p)->type == QUERY_TOK_INF && !p->rc)
		return fail_at(p, STRATA_EINVAL, peek(p)->pos, "invalid duration INF for shard duration");
	if (parse_duration(p, false, &o->shard_duration_ns))
		return p->rc;
	o->has_shard_duration = true;
	return 0;
}

/* CREATE DATABASE already read. */
static int parse_create_database(struct parser *p, struct query_database *db)
{
	struct query_rp_options *o = &db->rp;

	if (parse_ident(p, &db->name))
		return p->rc;
	if (!accept(p, QUERY_TOK_WITH))
		return p->rc;
	db->with = true;
	if (accept(p, QUERY_TOK_DURATION_KW)) {
		if (parse_duration(p, true, &o->duration_ns))
			return p->rc;
		o->has_duration = true;
	}
	if (accept(p, QUERY_TOK_REPLICATION) && parse_replication(p, o))
		return p->rc;
	if (accept(p, QUERY_TOK_SHARD) && parse_shard_duration(p, o))
		return p->rc;
	if (accept(p, QUERY_TOK_NAME) && parse_ident(p, &o->name))
		return p->rc;
	if (p->rc)
		return p->rc;
	if (!o->has_duration && !o->has_replication && !o->has_shard_duration && !o->name)
		return fail_found(p, peek(p), "DURATION, NAME, REPLICATION, SHARD");
	return 0;
}

/* name ON db (RETENTION POLICY or CONTINUOUS QUERY already read). */
static int parse_name_on(struct parser *p, const char **name, const char **db)
{
	if (parse_ident(p, name) || expect(p, QUERY_TOK_ON) || parse_ident(p, db))
		return p->rc;
	return 0;
}

static int parse_create_rp(struct parser *p, struct query_retention_policy *rp)
{
	struct query_rp_options *o = &rp->opts;

	if (parse_name_on(p, &rp->name, &rp->database) || expect(p, QUERY_TOK_DURATION_KW) ||
	    parse_duration(p, true, &o->duration_ns))
		return p->rc;
	o->has_duration = true;
	if (expect(p, QUERY_TOK_REPLICATION) || parse_replication(p, o))
		return p->rc;
	if (accept(p, QUERY_TOK_SHARD) && parse_shard_duration(p, o))
		return p->rc;
	if (accept(p, QUERY_TOK_DEFAULT))
		o->is_default = true;
	return p->rc;
}

static int parse_alter_rp(struct parser *p, struct query_retention_policy *rp)
{
	struct query_rp_options *o = &rp->opts;
	bool any = false;

	if (parse_name_on(p, &rp->name, &rp->database))
		return p->rc;
	for (int guard = 0; guard < 8; guard++) {
		query_token *t = peek(p);
		bool dup = false;

		if (p->rc)
			return p->rc;
		switch (t->type) {
		case QUERY_TOK_DURATION_KW:
			dup = o->has_duration;
			break;
		case QUERY_TOK_REPLICATION:
			dup = o->has_replication;
			break;
		case QUERY_TOK_SHARD:
			dup = o->has_shard_duration;
			break;
		case QUERY_TOK_DEFAULT:
			dup = o->is_default;
			break;
		default:
			if (!any)
				return fail_found(p, t, "DURATION, REPLICATION, SHARD, DEFAULT");
			return 0;
		}
		if (dup)
			return fail_at(p, STRATA_EINVAL, t->pos, "found duplicate %s option",
				       query_tok_str(t->type));
		consume(p);
		any = true;
		switch (t->type) {
		case QUERY_TOK_DURATION_KW:
			if (parse_duration(p, true, &o->duration_ns))
				return p->rc;
			o->has_duration = true;
			break;
		case QUERY_TOK_REPLICATION:
			if (parse_replication(p, o))
				return p->rc;
			break;
		case QUERY_TOK_SHARD:
			if (parse_shard_duration(p, o))
				return p->rc;
			break;
		default:
			o->is_default = true;
			break;
		}
	}
	return p->rc;
}

static int parse_positive_duration(struct parser *p, const char *what, int64_t *out)
{
	struct query_pos pos = peek(p)->pos;

	if (parse_duration(p, false, out))
		return p->rc;
	if (*out <= 0)
		return fail_at(p, STRATA_EINVAL, pos, "%s must be a positive duration", what);
	return 0;
}

static int parse_create_cq(struct parser *p, struct query_cq *cq)
{
	if (parse_name_on(p, &cq->name, &cq->database))
		return p->rc;
	if (accept(p, QUERY_TOK_RESAMPLE)) {
		bool any = false;

		if (accept(p, QUERY_TOK_EVERY)) {
			if (parse_positive_duration(p, "RESAMPLE EVERY", &cq->resample_every_ns))
				return p->rc;
			any = true;
		}
		if (accept(p, QUERY_TOK_FOR)) {
			if (parse_positive_duration(p, "RESAMPLE FOR", &cq->resample_for_ns))
				return p->rc;
			any = true;
		}
		if (p->rc)
			return p->rc;
		if (!any)
			return fail_found(p, peek(p), "EVERY, FOR");
	}
	if (expect(p, QUERY_TOK_BEGIN) || expect(p, QUERY_TOK_SELECT))
		return p->rc;
	cq->select = query_arena_alloc(p->arena, sizeof *cq->select);
	if (!cq->select)
		return fail_nomem(p, peek(p)->pos);
	memset(cq->select, 0, sizeof *cq->select);
	if (p->depth >= p->o.max_depth)
		return fail_at(p, STRATA_ETOOBIG, peek(p)->pos, "query nested too deeply (max %" PRIu32 ")",
			       p->o.max_depth);
	p->depth++;
	parse_select(p, cq->select, true);
	p->depth--;
	if (p->rc)
		return p->rc;
	return expect(p, QUERY_TOK_END);
}

/* DROP SERIES / DELETE already read: [FROM ...] [WHERE ...], at least one. */
static int parse_delete(struct parser *p, struct query_delete *del, bool series)
{
	query_token first = *peek(p);

	if (p->rc)
		return p->rc;
	if (accept(p, QUERY_TOK_FROM)) {
		if (parse_sources(p, &del->sources, &del->n_sources))
			return p->rc;
		for (uint32_t k = 0; k < del->n_sources; k++) {
			if (del->sources[k].database)
				return fail_at(p, STRATA_EINVAL, del->sources[k].pos, "database not supported");
			if (series && del->sources[k].retention_policy)
				return fail_at(p, STRATA_EINVAL, del->sources[k].pos,
					       "retention policy not supported");
		}
	}
	if (parse_where(p, &del->condition))
		return p->rc;
	if (!del->sources && !del->condition)
		return fail_found(p, &first, "FROM, WHERE");
	return 0;
}

static int parse_create(struct parser *p, struct query_stmt *st)
{
	query_token *t = peek(p);

	if (p->rc)
		return p->rc;
	switch (t->type) {
	case QUERY_TOK_DATABASE:
		consume(p);
		st->kind = QUERY_STMT_CREATE_DATABASE;
		return parse_create_database(p, &st->database);
	case QUERY_TOK_RETENTION:
		consume(p);
		if (expect(p, QUERY_TOK_POLICY))
			return p->rc;
		st->kind = QUERY_STMT_CREATE_RETENTION_POLICY;
		return parse_create_rp(p, &st->rp);
	case QUERY_TOK_CONTINUOUS:
		consume(p);
		if (expect(p, QUERY_TOK_QUERY))
			return p->rc;
		st->kind = QUERY_STMT_CREATE_CONTINUOUS_QUERY;
		return parse_create_cq(p, &st->cq);
	default:
		return fail_found(p, t, "CONTINUOUS, DATABASE, RETENTION");
	}
}

static int parse_drop(struct parser *p, struct query_stmt *st)
{
	query_token *t = peek(p);

	if (p->rc)
		return p->rc;
	switch (t->type) {
	case QUERY_TOK_DATABASE:
		consume(p);
		st->kind = QUERY_STMT_DROP_DATABASE;
		return parse_ident(p, &st->database.name);
	case QUERY_TOK_MEASUREMENT:
		consume(p);
		st->kind = QUERY_STMT_DROP_MEASUREMENT;
		return parse_ident(p, &st->measurement);
	case QUERY_TOK_SERIES:
		consume(p);
		st->kind = QUERY_STMT_DROP_SERIES;
		return parse_delete(p, &st->del, true);
	case QUERY_TOK_RETENTION:
		consume(p);
		if (expect(p, QUERY_TOK_POLICY))
			return p->rc;
		st->kind = QUERY_STMT_DROP_RETENTION_POLICY;
		return parse_name_on(p, &st->rp.name, &st->rp.database);
	case QUERY_TOK_CONTINUOUS:
		consume(p);
		if (expect(p, QUERY_TOK_QUERY))
			return p->rc;
		st->kind = QUERY_STMT_DROP_CONTINUOUS_QUERY;
		return parse_name_on(p, &st->cq.name, &st->cq.database);
	default:
		return fail_found(p, t, "CONTINUOUS, DATABASE, MEASUREMENT, RETENTION, SERIES");
	}
}

static int parse_statement(struct parser *p, struct query_stmt *st)
{
	query_token *t = peek(p);

	if (p->rc)
		return p->rc;
	st->pos = t->pos;
	switch (t->type) {
	case QUERY_TOK_SELECT:
		consume(p);
		st->kind = QUERY_STMT_SELECT;
		return parse_select(p, &st->select, false);
	case QUERY_TOK_SHOW:
		consume(p);
		return parse_show(p, st);
	case QUERY_TOK_CREATE:
		consume(p);
		return parse_create(p, st);
	case QUERY_TOK_DROP:
		consume(p);
		return parse_drop(p, st);
	case QUERY_TOK_ALTER:
		consume(p);
		if (expect(p, QUERY_TOK_RETENTION) || expect(p, QUERY_TOK_POLICY))
			return p->rc;
		st->kind = QUERY_STMT_ALTER_RETENTION_POLICY;
		return parse_alter_rp(p, &st->rp);
	case QUERY_TOK_DELETE:
		consume(p);
		st->kind = QUERY_STMT_DELETE;
		return parse_delete(p, &st->del, false);
	default:
		return fail_found(p, t, "SELECT, DELETE, SHOW, CREATE, DROP, ALTER");
	}
}

static void resolve_opts(query_parse_opts *o, const query_parse_opts *in, size_t len)
{
	if (in)
		*o = *in;
	else
		memset(o, 0, sizeof *o);
	if (!o->max_text_bytes)
		o->max_text_bytes = QUERY_PARSE_DEFAULT_TEXT_BYTES;
	if (o->max_text_bytes > UINT32_MAX - 1)
		o->max_text_bytes = UINT32_MAX - 1;
	if (!o->max_ast_bytes)
		o->max_ast_bytes = 64 * len + 64 * 1024;
	if (!o->max_depth)
		o->max_depth = QUERY_PARSE_DEFAULT_DEPTH;
	if (!o->max_height)
		o->max_height = QUERY_PARSE_DEFAULT_HEIGHT;
	if (!o->max_statements)
		o->max_statements = QUERY_PARSE_DEFAULT_STATEMENTS;
	if (!o->max_list)
		o->max_list = QUERY_PARSE_DEFAULT_LIST;
}

int query_parse(query_ast **out, const char *text, size_t len, const query_parse_opts *opts,
		query_parse_error *err)
{
	static const struct query_pos start = { 0, 1, 1 };
	query_parse_error local;
	struct parser p;
	struct vec stmts = { .size = sizeof(struct query_stmt) };
	query_ast *ast = NULL;
	bool need_sep = false;

	*out = NULL;
	memset(&p, 0, sizeof p);
	p.err = err ? err : &local;
	memset(p.err, 0, sizeof *p.err);
	resolve_opts(&p.o, opts, len);
	stmts.max = p.o.max_statements;
	if (len > p.o.max_text_bytes) {
		fail_at(&p, STRATA_ETOOBIG, start, "query text too long: %zu bytes (max %zu)", len,
			p.o.max_text_bytes);
		goto out;
	}
	ast = strata_calloc(1, sizeof *ast);
	if (!ast) {
		fail_at(&p, -ENOMEM, start, "out of memory");
		goto out;
	}
	query_arena_init(&ast->arena, p.o.max_ast_bytes);
	p.arena = &ast->arena;
	query_lexer_init(&p.lx, text, len, p.arena);

	for (;;) {
		query_token *t = peek(&p);
		struct query_stmt *st;

		if (p.rc || t->type == QUERY_TOK_EOF)
			break;
		if (t->type == QUERY_TOK_SEMICOLON) {
			consume(&p);
			need_sep = false;
			continue;
		}
		if (need_sep) {
			fail_found(&p, t, ";");
			break;
		}
		if (stmts.n >= p.o.max_statements) {
			fail_at(&p, STRATA_ETOOBIG, t->pos, "too many statements (max %" PRIu32 ")",
				p.o.max_statements);
			break;
		}
		st = vec_push(&p, &stmts, t->pos);
		if (!st || parse_statement(&p, st))
			break;
		need_sep = true;
	}
	if (p.rc)
		goto out;
	ast->stmts = (struct query_stmt *)stmts.data;
	ast->n_stmts = stmts.n;
	*out = ast;
	ast = NULL;
out:
	query_ast_free(ast);
	if (p.rc)
		strata_error(p.rc, "%s", p.err->message);
	return p.rc;
}
