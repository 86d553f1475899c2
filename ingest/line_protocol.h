/*
 * line_protocol.h — a zero-copy parser for InfluxDB line protocol.
 *
 *   measurement[,tag_key=tag_value...] field_key=field_value[,...] [timestamp]
 *
 * The parser walks a caller's buffer once and describes each point with
 * slices into it: nothing is copied and nothing is allocated per line or
 * per field. A slice that contained backslash escapes is marked, and
 * ingest_lp_unescape() produces its plain bytes when needed. String field
 * values likewise.
 *
 * Errors name the line (counting from first_line given to reset), the
 * column (1-based, in bytes) and the reason; the parser skips the bad line
 * and goes on with the next one, so a caller can write the good lines of a
 * request and report the bad ones (InfluxDB's partial writes).
 *
 * Rules follow the written line protocol reference; docs/line-protocol.md
 * lists where strata differs from what InfluxDB 1.x does.
 *
 * One parser per thread; the buffer must outlive the points taken from it.
 */
#ifndef STRATA_INGEST_LINE_PROTOCOL_H
#define STRATA_INGEST_LINE_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A piece of the input. escaped: it holds backslash escapes to remove. */
typedef struct ingest_lp_slice {
	const char *p;
	uint32_t len;
	bool escaped;
} ingest_lp_slice;

enum ingest_lp_type {
	INGEST_LP_FLOAT = 1,
	INGEST_LP_INT = 2,
	INGEST_LP_UINT = 3,
	INGEST_LP_STRING = 4,
	INGEST_LP_BOOL = 5,
};

typedef struct ingest_lp_tag {
	ingest_lp_slice key;
	ingest_lp_slice value;
} ingest_lp_tag;

typedef struct ingest_lp_field {
	ingest_lp_slice key;
	enum ingest_lp_type type;
	union {
		double f;
		int64_t i;
		uint64_t u;
		bool b;
	} v;
	ingest_lp_slice str; /* INGEST_LP_STRING: the bytes between the quotes */
} ingest_lp_field;

typedef struct ingest_lp_point {
	ingest_lp_slice measurement;
	/* The raw bytes of measurement and tag set, as written (for caching series ids). */
	ingest_lp_slice series;
	ingest_lp_tag *tags;     /* in input order; owned by the parser */
	uint32_t n_tags;
	ingest_lp_field *fields; /* in input order; owned by the parser */
	uint32_t n_fields;
	bool has_time;           /* false: the caller stamps the time of receipt */
	int64_t time_ns;         /* timestamp scaled to nanoseconds */
	uint64_t line;           /* line number of the point */
} ingest_lp_point;

typedef struct ingest_lp_error {
	uint64_t line;
	uint32_t column;
	char reason[192];
} ingest_lp_error;

enum ingest_lp_precision {
	INGEST_LP_NS, INGEST_LP_US, INGEST_LP_MS, INGEST_LP_S, INGEST_LP_M, INGEST_LP_H
};

/* "ns"/"n", "u"/"us"/"µ", "ms", "s", "m", "h" (as InfluxDB's precision= parameter). 0 or -1. */
int ingest_lp_parse_precision(const char *text, enum ingest_lp_precision *out);

typedef struct ingest_lp_limits {
	uint32_t max_tags;        /* per point (default 256) */
	uint32_t max_fields;      /* per point (default 1024) */
	uint32_t max_line_bytes;  /* a longer line is an error (default 1 MiB) */
	uint32_t max_string_bytes;/* a string field value longer is an error (default 64 KiB) */
} ingest_lp_limits;

void ingest_lp_limits_default(ingest_lp_limits *out);

typedef struct ingest_lp_parser {
	ingest_lp_limits limits;
	enum ingest_lp_precision precision;
	const char *buf;
	size_t len;
	size_t pos;
	uint64_t line;
	ingest_lp_tag *tags;
	uint32_t tags_cap;
	ingest_lp_field *fields;
	uint32_t fields_cap;
	char *scratch;        /* rare slow path of float conversion; grown on demand */
	uint32_t scratch_cap;
} ingest_lp_parser;

/* Caller's memory. limits may be NULL (defaults). -ENOMEM. */
int ingest_lp_parser_init(ingest_lp_parser *p, const ingest_lp_limits *limits);
void ingest_lp_parser_deinit(ingest_lp_parser *p);

/* Starts on a new buffer; first_line numbers its first line (1 for a request). */
void ingest_lp_parser_reset(ingest_lp_parser *p, const char *buf, size_t len,
			    enum ingest_lp_precision precision, uint64_t first_line);

/*
 * Parses the next point: 1 with *out filled (valid until the next call or
 * reset); 0 at the end of the buffer; -1 when the next non-blank,
 * non-comment line is malformed: *err says where and why, and the line has
 * been skipped. A last line without a newline is parsed like any other.
 */
int ingest_lp_parser_next(ingest_lp_parser *p, ingest_lp_point *out, ingest_lp_error *err);

/*
 * Removes the escapes of s written in the given context, into out (at least
 * s.len bytes), and returns the new length. Contexts differ in what may be
 * escaped (see docs/line-protocol.md).
 */
enum ingest_lp_context {
	INGEST_LP_CTX_MEASUREMENT, /* comma, space, backslash */
	INGEST_LP_CTX_KEY,         /* tag keys, tag values, field keys: comma, equals, space, backslash */
	INGEST_LP_CTX_STRING,      /* string field values: double quote, backslash */
};
size_t ingest_lp_unescape(char *out, ingest_lp_slice s, enum ingest_lp_context ctx);

#endif
