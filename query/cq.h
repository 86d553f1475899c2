/*
 * cq.h — continuous queries: SELECT ... INTO ... GROUP BY time(i) run on
 * a schedule over closed intervals (downsampling).
 *
 *   CREATE CONTINUOUS QUERY name ON db [RESAMPLE EVERY e FOR f]
 *     BEGIN SELECT agg(f) INTO target FROM m ... GROUP BY time(i)[, tags] END
 *
 * A query runs at each multiple of its period (e, or i) and covers
 * [run - f, run) (f defaults to i), so every interval it writes has ended.
 * The time of the last completed run is durable: after a restart the runs
 * missed meanwhile are made in order (no gap), and a run made twice writes
 * the same points again (no duplicate: a point is its series and time).
 * Catching up is bounded (QUERY_CQ_MAX_CATCH_UP runs per query per call);
 * the rest follows at the next call.
 *
 * State lives in <data dir>/cq.state, rewritten whole on each change
 * (temporary file, fdatasync, rename, directory sync) in record framing
 * (lsm/record.h, magic "STRATACQ", version 1): one record holding every
 * query's name, database, statement text and last run. A damaged file
 * stops the open with STRATA_ECORRUPT naming it.
 *
 * Threads: the store has its own lock; statements and runs may come from
 * any thread.
 */
#ifndef STRATA_QUERY_CQ_H
#define STRATA_QUERY_CQ_H

#include "query/exec.h"

#include <stdint.h>

#define QUERY_CQ_MAX_CATCH_UP 1000

typedef struct query_cq_store query_cq_store;

/* Opens (or starts empty) the state of dir. 0, STRATA_ECORRUPT, STRATA_EVERSION, -errno. */
int query_cq_open(query_cq_store **out, const char *dir);
void query_cq_close(query_cq_store *s);

/* CREATE / DROP / SHOW CONTINUOUS QUERIES go to s (without a store they are an error). */
void query_engine_set_cqs(query_engine *e, query_cq_store *s);

/*
 * Makes every run due at now_ns (in order, per query), each through
 * SELECT ... INTO on engine e, and records progress. Returns the number of
 * runs made, or an error of the state file; a failing query is logged and
 * tried again at the next call.
 */
int query_cq_run_due(query_cq_store *s, query_engine *e, int64_t now_ns);

#endif
