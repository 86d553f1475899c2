/*
 * query_writer.c — SELECT ... INTO's points through an ingest session
 * (query_writer.h).
 */
#include "tools/query_writer.h"
#include "lsm/status.h"

int query_writer_init(query_writer *w, ingest_engine *e)
{
	pthread_mutex_init(&w->mu, NULL);
	return ingest_session_new(&w->session, e);
}

void query_writer_deinit(query_writer *w)
{
	ingest_session_free(w->session);
	w->session = NULL;
	pthread_mutex_destroy(&w->mu);
}

int query_writer_write(void *ctx, const char *db, const char *lines, size_t len, uint64_t *written)
{
	query_writer *w = ctx;
	ingest_report report = { 0 };
	int rc;

	pthread_mutex_lock(&w->mu);
	rc = ingest_session_write(w->session, db, lines, len, INGEST_LP_NS, ingest_now_ns(), true, &report);
	pthread_mutex_unlock(&w->mu);
	*written = report.points;
	if (rc)
		return rc;
	if (report.lines_rejected)
		return strata_error(STRATA_EINVAL, "%llu points could not be written: %.*s",
				    (unsigned long long)report.lines_rejected, (int)report.errors_len, report.errors);
	return 0;
}
