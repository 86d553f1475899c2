/*
 * into_writer.h — SELECT ... INTO's writer for the query tests: pass
 * test_into_write and an ingest session to query_engine_set_writer. Bad
 * lines are an error, as tools/query_writer.c makes them for the server.
 */
#ifndef STRATA_TESTS_INTO_WRITER_H
#define STRATA_TESTS_INTO_WRITER_H

#include "ingest/writer.h"
#include "lsm/status.h"

#include <string.h>

static inline int test_into_write(void *session, const char *db, const char *rp, const char *lines, size_t len,
				  uint64_t *written)
{
	ingest_report rep;
	int rc;

	memset(&rep, 0, sizeof rep);
	rc = ingest_session_write(session, db, rp, lines, len, INGEST_LP_NS, 0, true, &rep);
	*written = rep.points;
	return rc ? rc : rep.lines_rejected ? STRATA_EINVAL : 0;
}

#endif
