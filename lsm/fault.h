/*
 * fault.h — fault injection points in the I/O paths, for tests.
 *
 * Every write and sync of the WAL, SSTables, manifest and catalog passes a point. A test
 * arms a point to fail the Nth operation from now (and, if sticky, every one
 * after) with a chosen errno. Disarmed points cost one relaxed atomic load.
 * The state is process-wide; tests that arm points run them on one engine.
 */
#ifndef STRATA_LSM_FAULT_H
#define STRATA_LSM_FAULT_H

#include <stdbool.h>
#include <stdint.h>

enum lsm_fault_point {
	LSM_FAULT_WAL_WRITE,
	LSM_FAULT_WAL_SYNC,
	LSM_FAULT_SST_WRITE,
	LSM_FAULT_SST_SYNC,
	LSM_FAULT_MANIFEST_WRITE,
	LSM_FAULT_MANIFEST_SYNC,
	LSM_FAULT_CATALOG_WRITE,
	LSM_FAULT_CATALOG_SYNC,
	LSM_FAULT_N_POINTS
};

/*
 * Arms point p: the (skip + 1)th operation from now fails with -err; when
 * sticky, so does every later one until lsm_fault_reset().
 */
void lsm_fault_arm(enum lsm_fault_point p, uint64_t skip, int err, bool sticky);

/* Disarms every point. */
void lsm_fault_reset(void);

/* Called by the I/O paths before an operation: 0 to go on, or -errno to fail it. */
int lsm_fault_check(enum lsm_fault_point p);

#endif
