/*
 * ast.h — the InfluxQL syntax tree: what query_parse() (parser.h) produces
 * and what the planner and executor read.
 *
 * Memory: every node, list and string of one parsed query lives in the
 * query_ast's arena and is freed at once by query_ast_free(). Nothing in the
 * tree is heap-owned on its own; pointers stay valid until that call. A tree
 * is immutable after parsing and may be read from any number of threads.
 *
 * Strings (names, string literals, regex patterns) are unescaped and
 * NUL-terminated; the lexer refuses NUL bytes in the text, so no string holds
 * one. Identifiers keep their case; function names are lower-cased; keywords
 * are case-insensitive and do not appear in the tree.
 *
 * Shape guarantees that walkers may rely on: every expression's height is at
 * most the parse option max_height (default 1000), so a recursive walk is
 * bounded; lists hold at most max_list items; optional parts are NULL (or 0)
 * when absent.
 *
 * The printer turns a tree back into canonical InfluxQL: keywords in upper
 * case, identifiers quoted only when they must be, durations in their largest
 * exact unit, parentheses where precedence needs them. Printing a parsed
 * query and parsing the text again gives a tree that prints the same.
 */
#ifndef STRATA_QUERY_AST_H
#define STRATA_QUERY_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where a token or node starts in the query text. */
struct query_pos {
	uint32_t offset; /* byte offset from the start of the text */
	uint32_t line;   /* 1-based */
	uint32_t column; /* 1-based, in characters (UTF-8 code points) */
};

/*
 * A bump allocator in small, growing blocks, freed at once. Blocks start at
 * 4 KiB and double up to 256 KiB, so a short query costs one small malloc.
 * `limit` caps the bytes held from the heap (0: no cap); an allocation over
 * it fails and sets `over_limit`. One thread at a time.
 */
struct query_arena_block;
typedef struct query_arena {
	struct query_arena_block *blocks; /* newest first */
	char *ptr;                        /* next free byte in the newest block */
	size_t left;                      /* free bytes after ptr */
	size_t bytes;                     /* bytes held from the heap */
	size_t limit;                     /* cap on bytes, 0 for none */
	bool over_limit;                  /* an allocation failed on the cap */
} query_arena;

void query_arena_init(query_arena *a, size_t limit);
/* Frees every block; all memory handed out becomes invalid. */
void query_arena_deinit(query_arena *a);
/* n bytes aligned to 8 (n may be 0). NULL when the heap or the cap is exhausted. */
void *query_arena_alloc(query_arena *a, size_t n);
/* A NUL-terminated copy of s[0..n). NULL as above. */
char *query_arena_strndup(query_arena *a, const char *s, size_t n);

/* Binary operators, in the order of their tokens. */
enum query_op {
	QUERY_OP_ADD,      /* + */
	QUERY_OP_SUB,      /* - */
	QUERY_OP_MUL,      /* * */
	QUERY_OP_DIV,      /* / */
	QUERY_OP_MOD,      /* % */
	QUERY_OP_BITAND,   /* & */
	QUERY_OP_BITOR,    /* | */
	QUERY_OP_BITXOR,   /* ^ */
	QUERY_OP_EQ,       /* = */
	QUERY_OP_NEQ,      /* != or <> */
	QUERY_OP_LT,       /* < */
	QUERY_OP_LTE,      /* <= */
	QUERY_OP_GT,       /* > */
	QUERY_OP_GTE,      /* >= */
	QUERY_OP_EQREGEX,  /* =~ (right side is always a REGEX) */
	QUERY_OP_NEQREGEX, /* !~ (right side is always a REGEX) */
	QUERY_OP_AND,
	QUERY_OP_OR,
	QUERY_OP_IN, /* only in SHOW TAG VALUES WITH KEY IN (...) */
};

/* The operator's text ("+", "AND", ...). */
const char *query_op_str(enum query_op op);
/* 1 OR, 2 AND, 3 comparisons, 4 + - | ^, 5 * / % &; higher binds tighter. */
int query_op_precedence(enum query_op op);
/* True for = != < <= > >= =~ !~. */
bool query_op_is_comparison(enum query_op op);

/* A `::type` cast on a variable or wildcard. */
enum query_type {
	QUERY_TYPE_NONE, /* no cast */
	QUERY_TYPE_FLOAT,
	QUERY_TYPE_INTEGER,
	QUERY_TYPE_UNSIGNED,
	QUERY_TYPE_STRING,
	QUERY_TYPE_BOOLEAN,
	QUERY_TYPE_FIELD, /* ::field — any field */
	QUERY_TYPE_TAG,   /* ::tag */
};

/* "float", ..., or "" for QUERY_TYPE_NONE. */
const char *query_type_str(enum query_type t);

enum query_expr_kind {
	QUERY_EXPR_VARREF,   /* ref: a field, tag or `time` */
	QUERY_EXPR_WILDCARD, /* `*`, type: optional ::field / ::tag */
	QUERY_EXPR_REGEX,    /* regex: the pattern between the slashes */
	QUERY_EXPR_STRING,   /* str */
	QUERY_EXPR_INTEGER,  /* i */
	QUERY_EXPR_UNSIGNED, /* u: an integer literal above INT64_MAX */
	QUERY_EXPR_NUMBER,   /* f: a literal with a decimal point, finite */
	QUERY_EXPR_DURATION, /* ns: a duration literal (1h30m), may be negative */
	QUERY_EXPR_TIME,     /* ns since the Unix epoch, UTC: a string compared with `time` */
	QUERY_EXPR_BOOLEAN,  /* b */
	QUERY_EXPR_CALL,     /* call: name(args) — any name; distinct x is distinct(x) */
	QUERY_EXPR_BINARY,   /* binary: lhs op rhs; unary -x is -1 * x */
	QUERY_EXPR_PAREN,    /* paren: a parenthesized expression, kept for printing */
};

/*
 * Time in conditions: in a comparison with `time`, a TIME node, an INTEGER
 * (nanoseconds) and a DURATION (Grafana's 1767225600000ms) all stand for an
 * instant since the epoch, and now() for the query's start; + and - combine
 * them with durations, as in InfluxDB.
 */
typedef struct query_expr query_expr;
struct query_expr {
	enum query_expr_kind kind;
	uint32_t height; /* 1 for a leaf, 1 + the highest child otherwise */
	/* Where the node starts; for a BINARY, its operator; for a literal or
	 * -1 * x made from a unary minus, the sign. */
	struct query_pos pos;
	union {
		struct {
			const char *name; /* segments joined by '.' ("cpu"."x" is "cpu.x") */
			enum query_type type;
		} ref;
		enum query_type wildcard_type;
		const char *regex; /* \/ turned into /, other escapes kept */
		const char *str;
		int64_t i;
		uint64_t u;
		double f;
		int64_t ns;
		bool b;
		struct {
			const char *name; /* lower case */
			query_expr **args; /* NULL when n_args is 0 */
			uint32_t n_args;
		} call;
		struct {
			enum query_op op;
			query_expr *lhs, *rhs;
		} binary;
		query_expr *paren;
	};
};

/*
 * A measurement in FROM, INTO or WITH MEASUREMENT: [db.[rp].]name or
 * [db.[rp].]/regex/. Exactly one of name and regex is set, except for an
 * INTO target written :MEASUREMENT, where both are NULL and from_source is
 * true (the name of each source measurement).
 */
struct query_measurement {
	struct query_pos pos;
	const char *database;         /* NULL: the query's database */
	const char *retention_policy; /* NULL: the default policy (also db..m) */
	const char *name;
	const char *regex;
	bool from_source;
};

/* One SELECT column. */
struct query_field {
	query_expr *expr;
	const char *alias; /* AS name, or NULL */
};

enum query_fill {
	QUERY_FILL_NULL, /* the default */
	QUERY_FILL_NONE,
	QUERY_FILL_PREVIOUS,
	QUERY_FILL_LINEAR,
	QUERY_FILL_NUMBER, /* fill_value holds the number */
};

const char *query_fill_str(enum query_fill f);

struct query_select {
	struct query_field *fields;
	uint32_t n_fields;
	struct query_measurement *into; /* INTO target, or NULL */
	struct query_measurement *sources;
	uint32_t n_sources;
	query_expr *condition; /* WHERE, or NULL */
	/*
	 * GROUP BY items in order: VARREF (tag keys, maybe ::tag), WILDCARD,
	 * REGEX, and at most one time(...) CALL, which is also described below.
	 */
	query_expr **dimensions;
	uint32_t n_dimensions;
	query_expr *group_time;   /* the time(...) dimension, or NULL */
	int64_t group_interval_ns; /* > 0 when group_time is set */
	int64_t group_offset_ns;   /* time(i, offset): may be negative; 0 if none */
	bool group_offset_now;     /* time(i, now()) */
	bool fill_given;           /* fill(...) was written */
	enum query_fill fill;
	query_expr *fill_value; /* QUERY_FILL_NUMBER: an INTEGER, UNSIGNED or NUMBER literal */
	bool order_given;       /* ORDER BY time [ASC|DESC] was written */
	bool order_desc;
	int64_t limit, offset, slimit, soffset; /* >= 0; 0 when absent (as in InfluxDB) */
	const char *tz;                         /* tz('...') argument, or NULL */
};

/*
 * SHOW MEASUREMENTS / TAG KEYS / TAG VALUES / FIELD KEYS / SERIES: the parts a
 * statement does not have stay NULL or 0.
 */
struct query_show {
	const char *database; /* ON db, or NULL */
	struct query_measurement *sources; /* FROM (not SHOW MEASUREMENTS) */
	uint32_t n_sources;
	/* SHOW MEASUREMENTS WITH MEASUREMENT = name | =~ /regex/ */
	struct query_measurement *with_measurement;
	/*
	 * WITH KEY (required in SHOW TAG VALUES, optional in SHOW TAG KEYS,
	 * present when n_keys > 0 or key_regex): key_op is EQ or NEQ with one
	 * key, IN with n_keys keys, or EQREGEX / NEQREGEX with key_regex.
	 */
	enum query_op key_op;
	const char **keys;
	uint32_t n_keys;
	const char *key_regex;
	query_expr *condition; /* WHERE (not SHOW FIELD KEYS) */
	int64_t limit, offset; /* 0 when absent */
};

/* DROP SERIES and DELETE: at least one of sources and condition is set. */
struct query_delete {
	struct query_measurement *sources; /* no database in these */
	uint32_t n_sources;
	query_expr *condition;
};

/* Retention policy options; has_* says which were written. */
struct query_rp_options {
	bool has_duration;
	int64_t duration_ns; /* 0 for INF */
	bool has_replication;
	int32_t replication; /* >= 1 */
	bool has_shard_duration;
	int64_t shard_duration_ns;
	bool is_default;  /* DEFAULT (CREATE/ALTER RETENTION POLICY) */
	const char *name; /* NAME rp (CREATE DATABASE ... WITH) */
};

/* CREATE DATABASE name [WITH ...] and DROP DATABASE name. */
struct query_database {
	const char *name;
	bool with; /* WITH was written: rp holds its options */
	struct query_rp_options rp;
};

/*
 * CREATE / ALTER / DROP RETENTION POLICY name ON db, and SHOW RETENTION
 * POLICIES [ON db] (only database set, maybe NULL).
 */
struct query_retention_policy {
	const char *name;
	const char *database;
	struct query_rp_options opts;
};

/* CREATE CONTINUOUS QUERY (all fields) and DROP CONTINUOUS QUERY (name, database). */
struct query_cq {
	const char *name;
	const char *database;
	int64_t resample_every_ns; /* 0 when not given */
	int64_t resample_for_ns;   /* 0 when not given */
	struct query_select *select; /* has an INTO target */
};

enum query_stmt_kind {
	QUERY_STMT_SELECT,                  /* select */
	QUERY_STMT_SHOW_DATABASES,          /* (no fields) */
	QUERY_STMT_CREATE_DATABASE,         /* database */
	QUERY_STMT_DROP_DATABASE,           /* database.name */
	QUERY_STMT_SHOW_MEASUREMENTS,       /* show */
	QUERY_STMT_SHOW_TAG_KEYS,           /* show */
	QUERY_STMT_SHOW_TAG_VALUES,         /* show */
	QUERY_STMT_SHOW_FIELD_KEYS,         /* show */
	QUERY_STMT_SHOW_SERIES,             /* show */
	QUERY_STMT_SHOW_RETENTION_POLICIES, /* rp.database */
	QUERY_STMT_CREATE_RETENTION_POLICY, /* rp: duration and replication given */
	QUERY_STMT_ALTER_RETENTION_POLICY,  /* rp: at least one option given */
	QUERY_STMT_DROP_RETENTION_POLICY,   /* rp.name, rp.database */
	QUERY_STMT_DROP_SERIES,             /* del */
	QUERY_STMT_DELETE,                  /* del */
	QUERY_STMT_DROP_MEASUREMENT,        /* measurement */
	QUERY_STMT_CREATE_CONTINUOUS_QUERY, /* cq */
	QUERY_STMT_SHOW_CONTINUOUS_QUERIES, /* (no fields) */
	QUERY_STMT_DROP_CONTINUOUS_QUERY,   /* cq.name, cq.database */
};

/* "SELECT", "SHOW TAG VALUES", ... */
const char *query_stmt_kind_str(enum query_stmt_kind k);

struct query_stmt {
	enum query_stmt_kind kind;
	struct query_pos pos; /* of its first keyword */
	union {
		struct query_select select;
		struct query_show show;
		struct query_delete del;
		struct query_database database;
		struct query_retention_policy rp;
		struct query_cq cq;
		const char *measurement;
	};
};

/* One parsed query text: its statements and the arena that holds them. */
typedef struct query_ast {
	query_arena arena;
	struct query_stmt *stmts;
	uint32_t n_stmts; /* 0 for a text of only blanks, comments and ';' */
} query_ast;

/* Frees the tree and everything in it. NULL is fine. */
void query_ast_free(query_ast *ast);

/*
 * Canonical InfluxQL text of the whole query (statements joined by "; "),
 * of one statement, or of one expression, in a NUL-terminated heap string
 * that the caller frees with strata_free(). 0 or -ENOMEM.
 */
int query_ast_print(char **out, const query_ast *ast);
int query_stmt_print(char **out, const struct query_stmt *stmt);
int query_expr_print(char **out, const query_expr *expr);

/*
 * Parses a time string as InfluxQL accepts it: RFC3339 with optional
 * fraction (2026-01-01T00:00:00Z, ...00.5+02:00), the same with a space for
 * the T and no zone ('2026-01-01 00:00:00', UTC), or a date alone
 * (2026-01-01). *out is nanoseconds since the Unix epoch. 0, or
 * STRATA_EINVAL when the text is no such time or falls outside the int64
 * nanosecond range (years 1677 to 2262).
 */
int query_time_parse(int64_t *out, const char *s, size_t len);

/*
 * Formats ns since the epoch as RFC3339 in UTC with the fraction trimmed
 * (2026-01-01T00:00:00Z, 2026-01-01T00:00:00.25Z) into buf, which holds at
 * least QUERY_TIME_BUF bytes. Returns buf.
 */
#define QUERY_TIME_BUF 40
char *query_time_format(char *buf, int64_t ns);

/*
 * Formats a duration in its largest exact unit (90m, 1500ms, -6h, 0s; u for
 * microseconds) into buf of at least QUERY_DURATION_BUF bytes. Returns buf.
 */
#define QUERY_DURATION_BUF 32
char *query_duration_format(char *buf, int64_t ns);

#endif
