/*
 * cq_runner.h — the thread of strata serve that makes the continuous
 * queries' runs when they are due (query/cq.h), checking once a second.
 */
#ifndef STRATA_TOOLS_CQ_RUNNER_H
#define STRATA_TOOLS_CQ_RUNNER_H

#include "query/cq.h"

#include <pthread.h>
#include <stdbool.h>

typedef struct cq_runner {
	query_cq_store *store;
	query_engine *engine;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	bool started;
} cq_runner;

int cq_runner_start(cq_runner *r, query_cq_store *store, query_engine *engine);
/* Stops after the run in progress. Safe on a runner that never started. */
void cq_runner_stop(cq_runner *r);

#endif
