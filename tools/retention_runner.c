/*
 * retention_runner.c — the retention thread of `strata serve`
 * (retention_runner.h).
 */
#include "tools/retention_runner.h"
#include "lsm/log.h"
#include "lsm/status.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

void cli_retention_init(cli_retention_runner *r, lsm_options *opt)
{
	memset(r, 0, sizeof *r);
	lsm_retention_filter_init(&r->filter);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	opt->compact.drop = lsm_retention_filter_drop;
	opt->compact.drop_ctx = &r->filter;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One pass: drops the windows every store that may have points in them has let go of. */
static void retention_pass(cli_retention_runner *r)
{
	int rc = lsm_drop_expired(r->db, r->catalog, now_ns());

	if (rc < 0)
		LOG_ERROR("event=retention_failed error=\"%s\" detail=\"%s\"", strata_strerror(rc), strata_last_error());
}

static void *retention_main(void *arg)
{
	cli_retention_runner *r = arg;

	pthread_mutex_lock(&r->mu);
	while (!r->stopping) {
		struct timespec deadline;

		pthread_mutex_unlock(&r->mu);
		retention_pass(r);
		pthread_mutex_lock(&r->mu);
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += (time_t)(r->interval_ns / 1000000000);
		deadline.tv_nsec += (long)(r->interval_ns % 1000000000);
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
		/* Bounded: each wait ends at the deadline or at stop. */
		while (!r->stopping && pthread_cond_timedwait(&r->cv, &r->mu, &deadline) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int cli_retention_start(cli_retention_runner *r, lsm_db *db, lsm_catalog *catalog, int64_t interval_ns)
{
	int rc;

	r->db = db;
	r->catalog = catalog;
	r->interval_ns = interval_ns > 0 ? interval_ns : CLI_RETENTION_INTERVAL_NS;
	lsm_retention_filter_set_catalog(&r->filter, catalog);
	rc = pthread_create(&r->thread, NULL, retention_main, r);
	if (rc)
		return strata_error(-rc, "cannot start the retention thread: %s", strerror(rc));
	r->started = true;
	LOG_INFO("event=retention_started interval_ms=%" PRId64, r->interval_ns / 1000000);
	return 0;
}

void cli_retention_stop(cli_retention_runner *r)
{
	if (r->started) {
		pthread_mutex_lock(&r->mu);
		r->stopping = true;
		pthread_cond_signal(&r->cv);
		pthread_mutex_unlock(&r->mu);
		pthread_join(r->thread, NULL);
		r->started = false;
	}
	lsm_retention_filter_set_catalog(&r->filter, NULL);
}

void cli_retention_deinit(cli_retention_runner *r)
{
	lsm_retention_filter_deinit(&r->filter);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
}
