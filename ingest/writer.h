/*
 * writer.h — from line protocol bytes to durable rows.
 *
 * An ingest_engine ties the storage engine and the catalog together and is
 * shared by every listener. Each thread that writes owns an ingest_session:
 * its parser, catalog transaction, write batch, scratch buffers and a cache
 * from the raw series bytes of a line (measurement and tags as written) to
 * the series id, so that a line repeating a recent series skips sorting its
 * tags and asking the catalog.
 *
 * A write parses every line of a buffer, rejects the bad ones (syntax,
 * field type conflicts, limits) with a message naming the line, resolves
 * series and fields (new ones made durable in the catalog first), and
 * writes the good points in write batches, each point as a MERGE of its
 * fields under its series-timestamp key. It returns once every accepted
 * point is in the WAL (and synced, when asked): the caller may then
 * acknowledge.
 */
#ifndef STRATA_INGEST_WRITER_H
#define STRATA_INGEST_WRITER_H

#include "ingest/line_protocol.h"
#include "lsm/catalog.h"
#include "lsm/lsm.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ingest_options {
	bool auto_create_db;        /* writing to an unknown database creates it */
	size_t batch_bytes;         /* write batches are cut at about this size (4 MiB) */
	ingest_lp_limits limits;    /* per-line limits */
	uint32_t max_errors_kept;   /* error messages kept per write (8) */
} ingest_options;

void ingest_options_default(ingest_options *out);

/* Counters shared by every session (for /metrics). */
typedef struct ingest_counters {
	atomic_uint_fast64_t points;
	atomic_uint_fast64_t fields;
	atomic_uint_fast64_t bytes;
	atomic_uint_fast64_t lines_rejected;
	atomic_uint_fast64_t type_conflicts;
	atomic_uint_fast64_t series_created;
	atomic_uint_fast64_t write_errors;
	atomic_uint_fast64_t points_beyond_retention; /* older than their database keeps */
} ingest_counters;

typedef struct ingest_engine {
	lsm_db *db;
	lsm_catalog *catalog;
	ingest_options opt;
	ingest_counters counters;
} ingest_engine;

/* Caller's memory; db and catalog are borrowed and must outlive the engine. */
void ingest_engine_init(ingest_engine *e, lsm_db *db, lsm_catalog *catalog, const ingest_options *opt);

typedef struct ingest_session ingest_session;

int ingest_session_new(ingest_session **out, ingest_engine *e);
void ingest_session_free(ingest_session *s);

/* What one write did. */
typedef struct ingest_report {
	uint64_t points;          /* points written */
	uint64_t lines_rejected;  /* bad lines (not written), beyond_retention included */
	/* Points older than the database's retention (docs/retention.md): rejected, not written. */
	uint64_t beyond_retention;
	/* The first errors, one per line, "\n"-separated: "line 3 column 7: ..." */
	char errors[2048];
	size_t errors_len;
} ingest_report;

/*
 * Writes the line protocol in buf to retention policy rp of database db
 * (rp NULL or "": the default policy). Points without a timestamp get
 * now_ns. Returns:
 *   0 — every good line is written (durable when sync); report says how
 *       many lines were rejected and why (the caller answers 400 then);
 *   STRATA_ENOTFOUND — the database does not exist (and auto-create is off),
 *       or the policy does not (the message says which);
 *   STRATA_EINVAL — a bad database name;
 *   STRATA_EREADONLY, -errno — the engine could not write: nothing of this
 *       call may be acknowledged (points before the failure may be stored).
 */
int ingest_session_write(ingest_session *s, const char *db, const char *rp, const char *buf, size_t len,
			 enum ingest_lp_precision precision, int64_t now_ns, bool sync,
			 ingest_report *out);

/* As ingest_session_write, numbering the buffer's first line first_line (for files read in chunks). */
int ingest_session_write_lines(ingest_session *s, const char *db, const char *rp, const char *buf, size_t len,
			       enum ingest_lp_precision precision, int64_t now_ns, bool sync,
			       uint64_t first_line, ingest_report *out);

/* The wall clock in nanoseconds since the epoch. */
int64_t ingest_now_ns(void);

#endif
