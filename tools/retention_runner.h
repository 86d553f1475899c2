/*
 * retention_runner.h — the thread of `strata serve` that removes expired
 * data (docs/retention.md).
 *
 * Every interval it asks the catalog for the retention horizon (the longest
 * retention of all databases, when every database has a finite one) and
 * drops the engine's windows that end before now less that horizon
 * (lsm_drop_windows_before). With a database that keeps its points forever
 * it drops nothing: the points of finite policies then go one by one
 * through the compaction hook (lsm_retention_filter), which the runner
 * owns and serve installs in the engine's options before opening it.
 */
#ifndef STRATA_TOOLS_RETENTION_RUNNER_H
#define STRATA_TOOLS_RETENTION_RUNNER_H

#include "lsm/catalog.h"
#include "lsm/lsm.h"
#include "lsm/retention.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct cli_retention_runner {
	lsm_retention_filter filter; /* the compaction hook's context */
	lsm_db *db;
	lsm_catalog *catalog;
	int64_t interval_ns;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;  /* signalled by stop */
	bool stopping;      /* mu */
} cli_retention_runner;

#define CLI_RETENTION_INTERVAL_NS (INT64_C(60) * 1000000000)

/* Prepares r and sets opt's compaction hook to r's filter (before lsm_open). */
void cli_retention_init(cli_retention_runner *r, lsm_options *opt);
/* Starts the thread over an open engine and catalog. 0 or -errno. */
int cli_retention_start(cli_retention_runner *r, lsm_db *db, lsm_catalog *catalog, int64_t interval_ns);
/* Stops the thread (if started) and detaches the catalog; before the engine and catalog close. */
void cli_retention_stop(cli_retention_runner *r);
/* After the engine is closed. */
void cli_retention_deinit(cli_retention_runner *r);

#endif
