/*
 * cq_runner.c — continuous queries on a one-second tick (cq_runner.h).
 */
#include "tools/cq_runner.h"
#include "lsm/log.h"
#include "lsm/status.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static int64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *runner_main(void *arg)
{
	cq_runner *r = arg;

	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		struct timespec deadline;
		int rc;

		pthread_mutex_unlock(&r->mu);
		rc = query_cq_run_due(r->store, r->engine, wall_ns());
		if (rc < 0)
			LOG_ERROR("event=cq_state_failed error=\"%s\"", strata_last_error());
		pthread_mutex_lock(&r->mu);
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += 1;
		if (!r->stop)
			pthread_cond_timedwait(&r->cv, &r->mu, &deadline);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int cq_runner_start(cq_runner *r, query_cq_store *store, query_engine *engine)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->store = store;
	r->engine = engine;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	rc = pthread_create(&r->thread, NULL, runner_main, r);
	if (rc)
		return strata_error(-rc, "cannot start the continuous query thread");
	r->started = true;
	return 0;
}

void cq_runner_stop(cq_runner *r)
{
	if (!r->started)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	r->started = false;
}
