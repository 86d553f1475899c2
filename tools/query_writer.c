/*
 * query_writer.c — SELECT ... INTO's points through an ingest session
 * (query_writer.h).
 */
#include "tools/query_writer.h"
#include "lsm/status.h"

int query_writer_write(void *ctx, const char *db, const char *rp, const char *lines, size_t len,
		       uint64_t *written)
{
	ingest_session *s = NULL;
	ingest_report report = { 0 };
	int rc = ingest_session_new(&s, ctx);

	*written = 0;
	if (rc)
		return rc;
	rc = ingest_session_write(s, db, rp, lines, len, INGEST_LP_NS, ingest_now_ns(), true, &report);
	ingest_session_free(s);
	*written = report.points;
	if (rc)
		return rc;
	if (report.lines_rejected)
		return strata_error(STRATA_EINVAL, "%llu points could not be written: %.*s",
				    (unsigned long long)report.lines_rejected, (int)report.errors_len, report.errors);
	return 0;
}
