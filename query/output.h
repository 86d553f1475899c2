/*
 * output.h — query results written exactly as InfluxDB 1.x's /query endpoint
 * writes them, as JSON (the default) or CSV (Accept: application/csv or
 * text/csv), or as a table for people as the influx CLI prints it,
 * independent of execution.
 *
 * The executor streams a response through a writer:
 *
 *   query_output_begin_results
 *     query_output_begin_statement(id)
 *       query_output_begin_series(name, tags, columns)
 *         query_output_row(time, values) ...
 *       query_output_end_series
 *       ... more series ...
 *       [query_output_statement_error(msg)]
 *     query_output_end_statement
 *     ... more statements ...
 *   query_output_end_results
 *
 * or, for a failure of the whole request (a parse error),
 * query_output_error(msg) alone, which writes {"error":"..."}.
 *
 * JSON, as Go's encoding/json marshals InfluxDB's Response:
 *   {"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"a"},
 *   "columns":["time","mean"],"values":[["2026-01-01T00:00:00Z",1.5]]}]},
 *   {"statement_id":1,"error":"..."}]}
 * followed by "\n". A series omits "name" when empty, "tags" when there are
 * none, "columns" when there are none and "values" when it has no row; a
 * response without statements is {}. Strings are escaped as encoding/json
 * does (", \, \n, \r, \t, \b, \f; other control characters as \u00XX;
 * <, >, & as \u003c, \u003e, \u0026; U+2028 and U+2029 escaped; invalid
 * UTF-8 bytes as \ufffd; valid UTF-8 passes through). Floats in the shortest
 * form that reads back to the same double, in exponent form below 1e-6 and
 * from 1e21 (1e-7, 1e+21), -0 as -0. NaN and ±Inf, which InfluxDB cannot
 * encode at all (its response fails with "json: unsupported value"), are
 * written as null.
 *
 * The time column: with QUERY_EPOCH_RFC3339 (no epoch parameter) a string in
 * UTC as Go's time.RFC3339Nano writes it, fraction trimmed of trailing zeros
 * (2026-01-01T00:00:00Z, 2026-01-01T00:00:00.5Z); otherwise an integer, the
 * nanoseconds divided by the unit with truncation toward zero (Go's integer
 * division, so -1500ms in seconds is -1).
 *
 * CSV, as InfluxDB's csvFormatter writes it (Go's encoding/csv: fields quoted
 * when they hold a comma, a quote, CR or LF, or start with a space; "\n" line
 * ends): per statement a header "name,tags,<columns...>", then one line per
 * row "cpu,host=a,1767225600000000000,1.5", tags as the series key
 * (key=value pairs, sorted, ",", " " and "=" escaped with a backslash, pairs
 * with an empty value left out). The header is written again, after a blank
 * line, when a series has other columns than the previous one of the same
 * statement; statements are separated by a blank line. The time is an
 * integer per epoch (nanoseconds by default); floats are written without
 * exponent (1000000000000000000000, 0.0000001), NaN and ±Inf as NaN, +Inf,
 * -Inf; null values as empty fields. As in InfluxDB, a statement without
 * series writes nothing and statement errors are not written; a request
 * error is written as "error\n<message>\n".
 *
 * Chunked JSON (query_output_set_chunked), as InfluxDB answers chunked=true:
 * a sequence of complete documents, each followed by "\n" and sent to the
 * sink as soon as it is complete; a response without statements writes
 * nothing. With a chunk size (query_output_set_chunk_size, rows > 0), the
 * statements it chooses (all by default; InfluxDB chunks SELECT results)
 * are written as InfluxDB's emitter cuts them: one document per series and
 * at most rows rows per document,
 *   {"results":[{"statement_id":0,"series":[{"name":"cpu","columns":[...],
 *   "values":[...rows rows...],"partial":true}],"partial":true}]}
 * "partial":true after "values" when the series goes on in the next
 * document (every chunk of a series but its last), and after "series" when
 * the statement has more documents to come (every document of a statement
 * but its last); the last document of a statement has neither. A series is
 * cut only when a further row of it arrives, so one of exactly rows rows
 * is not partial. A statement error is a document of its own,
 * {"results":[{"statement_id":N,"error":"..."}]}, after any series of the
 * statement (the last of which is then written "partial" on the result); a
 * statement without series or error is {"results":[{"statement_id":N}]}.
 * The other statements, and every statement when there is no chunk size,
 * are one document each, {"results":[{"statement_id":N,...}]}, series
 * together and never cut. Chunked CSV is the same bytes as unchunked,
 * flushed to the sink every rows rows and at the end of each statement.
 * Memory stays bounded by the writer's buffer and one series' head (name,
 * tags, columns), whatever the number of rows.
 *
 * Table, the influx CLI's "column" format: per series a line
 * "name: cpu", a line "tags: host=a, region=us" (when it has tags), the
 * column names, a row of dashes under each (as long as the column name),
 * then the rows; every cell but the last of a line is padded with spaces to
 * the widest cell of its column (counted in UTF-8 code points) plus one,
 * as Go's text/tabwriter does for the CLI. Times as RFC3339Nano strings with
 * QUERY_EPOCH_RFC3339, else integers as in JSON; floats as in JSON, NaN and
 * ±Inf as NaN, +Inf, -Inf; strings raw; nulls empty. A statement error, and
 * a request error, is the line "ERR: <message>". Blocks (series, errors)
 * are separated by one blank line; a statement without series writes
 * nothing. The cells of a series are held in memory until it ends.
 *
 * Errors: calls out of sequence fail with STRATA_EINVAL (nothing written);
 * the sink's first failure (any nonzero return, passed through) is sticky
 * and returned by every later call. -ENOMEM (CSV, table and chunked JSON
 * series only) leaves the response incomplete: the caller abandons it.
 *
 * Threads: a writer is used by one thread at a time.
 */
#ifndef STRATA_QUERY_OUTPUT_H
#define STRATA_QUERY_OUTPUT_H

#include "query/aggregate.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The sink: writes n bytes at p; returns 0, or nonzero to fail the writer. */
typedef int (*query_output_write_fn)(void *ctx, const char *p, size_t n);

enum query_output_format {
	QUERY_OUTPUT_JSON = 0,
	QUERY_OUTPUT_CSV,
	QUERY_OUTPUT_TABLE,
};

enum query_output_epoch {
	QUERY_EPOCH_RFC3339 = 0, /* JSON, table: RFC3339Nano strings; CSV: ns integers */
	QUERY_EPOCH_NS,
	QUERY_EPOCH_US,
	QUERY_EPOCH_MS,
	QUERY_EPOCH_S,
	QUERY_EPOCH_M,
	QUERY_EPOCH_H,
};

/*
 * The epoch query parameter as InfluxDB reads it: NULL or "" gives
 * RFC3339; "u", "ms", "s", "m", "h" their unit; anything else ("ns", "n",
 * "x") nanoseconds.
 */
enum query_output_epoch query_output_epoch_parse(const char *s);

/* One tag of a series: borrowed bytes, need not be NUL-terminated. */
typedef struct query_output_tag {
	const char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
} query_output_tag;

typedef struct query_output query_output;

/*
 * Creates a writer that sends its output to write(ctx, ...) through a
 * buffer of its own. Returns 0, STRATA_EINVAL (no write function, unknown
 * format or epoch) or -ENOMEM.
 */
int query_output_new(query_output **out, enum query_output_format format,
		     enum query_output_epoch epoch, query_output_write_fn write, void *ctx);

/* Frees o without flushing. Safe on NULL. */
void query_output_free(query_output *o);

/*
 * pretty=true: JSON indented with 4 spaces per level as InfluxDB's
 * json.MarshalIndent(resp, "", "    ") writes it (no effect on CSV). Only
 * before the first write; STRATA_EINVAL after.
 */
int query_output_set_pretty(query_output *o, bool pretty);

/*
 * chunked=true: JSON as a sequence of documents, each flushed to the sink
 * when complete, one per statement unless a chunk size is set; CSV flushed
 * per chunk of rows (no effect on the table). Only before the first write;
 * STRATA_EINVAL after.
 */
int query_output_set_chunked(query_output *o, bool chunked);

/* Whether statement id is cut into chunks (ctx as given to set_chunk_size). */
typedef bool (*query_output_split_fn)(void *ctx, int statement_id);

/*
 * With chunked=true: at most rows rows per JSON document (InfluxDB's
 * chunk_size), for the statements split(split_ctx, id) accepts (split NULL:
 * all of them); rows 0 (the default) keeps one document per statement.
 * split is called from begin_statement and must stay valid until then.
 * Only before the first write; STRATA_EINVAL after.
 */
int query_output_set_chunk_size(query_output *o, size_t rows, query_output_split_fn split,
				void *split_ctx);

/* Statement errors and request errors written so far. */
size_t query_output_error_count(const query_output *o);

/* Starts the response. Once per writer. */
int query_output_begin_results(query_output *o);

/* Starts the statement numbered id (>= 0). */
int query_output_begin_statement(query_output *o, int id);

/*
 * Sets the current statement's error (JSON: "error" after any series
 * already written). At most once per statement, outside a series.
 */
int query_output_statement_error(query_output *o, const char *msg);

/*
 * Starts a series of the current statement. name may be "" (left out in
 * JSON); tags (n_tags, may be 0) must be sorted by key in byte order, as Go
 * writes map keys; columns (NUL-terminated, n_columns of them) are the
 * column names; when time_column, columns[0] is the time column (n_columns
 * >= 1) and each row's time_ns fills it. Everything is copied or written
 * before the call returns.
 */
int query_output_begin_series(query_output *o, const char *name,
			      const query_output_tag *tags, size_t n_tags,
			      const char *const *columns, size_t n_columns, bool time_column);

/*
 * Writes one row of the current series: the time (when the series has a
 * time column), then n_values values, n_values being the number of columns
 * after the time column. A value is null when nulls[i] is true (nulls may
 * be NULL) or its type is QUERY_VALUE_NONE. Strings are borrowed for the
 * call. STRATA_EINVAL when n_values does not match.
 */
int query_output_row(query_output *o, int64_t time_ns, const query_value *values,
		     const bool *nulls, size_t n_values);

int query_output_end_series(query_output *o);
int query_output_end_statement(query_output *o);

/* Ends the response and flushes everything to the sink. */
int query_output_end_results(query_output *o);

/*
 * Writes a whole response that is one request error ({"error":"msg"}\n, or
 * CSV "error\n<msg>\n") and flushes it. Only before begin_results.
 */
int query_output_error(query_output *o, const char *msg);

/* Sends the buffered bytes to the sink (for streaming responses). */
int query_output_flush(query_output *o);

/*
 * Whether the bytes the sink has received end a document (a chunk, a
 * statement, the response): true before any and after each document's
 * last byte, false while the sink holds part of one. A streamed response
 * that fails at a boundary may still tell the failure in a document of
 * its own; inside one it must be cut.
 */
bool query_output_at_boundary(const query_output *o);

#endif
