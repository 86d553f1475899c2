/*
 * retention_runner.h — the thread of `strata serve` that removes expired
 * data (docs/retention.md).
 *
 * Every interval it drops the engine's windows that end before now less
 * their horizon (lsm_drop_expired_windows): for a window length that only
 * some stores ever used (their policies' shard durations), the longest
 * retention among them (lsm_catalog_window_horizon); for the engine's own
 * length, and one no store knows, the longest retention of all stores,
 * when every one has a finite retention. The points of other policies
 * go one by one through the compaction hook (lsm_retention_filter), which
 * the runner owns and serve installs in the engine's options before
 * opening it.
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
