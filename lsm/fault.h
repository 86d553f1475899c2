/*
 * fault.h — fault injection points in the I/O paths, for tests.
 *
 * Every write and sync of the WAL, SSTables, manifest and catalog passes a point. A test
 * arms a point to fail the Nth operation from now (and, if sticky, every one
 * after) with a chosen errno. Disarmed points cost one relaxed atomic load.
 * The state is process-wide; tests that arm points run them on one engine.
 *
 * Tests of a whole process (the real `strata serve`) arm the same points
 * through the environment: STRATA_FAULTS, read once by lsm_fault_arm_from_env
 * (docs/faults.md). It is a test facility; unset, nothing is armed and the
 * cost stays one relaxed load per operation.
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

/*
 * Arms points from a spec: items separated by ',', each
 *     <point>[:skip=N][:err=NAME|N][:sticky]
 * where point is wal_write, wal_sync, sst_write, sst_sync, manifest_write,
 * manifest_sync, catalog_write or catalog_sync; skip defaults to 0; err is
 * an errno name (EIO, ENOSPC, EDQUOT, EROFS, EFBIG, ENOMEM) or a positive
 * number, EIO by default. Example: "wal_sync:skip=10:err=ENOSPC:sticky".
 * All or nothing: 0 with every item armed, or STRATA_EINVAL naming the bad
 * item (strata_last_error) with nothing armed.
 */
int lsm_fault_arm_spec(const char *spec);

/*
 * Arms the points named by the STRATA_FAULTS environment variable (spec as
 * above) and logs them at warn level. 0 when it is unset or empty, else as
 * lsm_fault_arm_spec.
 */
int lsm_fault_arm_from_env(void);

/* Called by the I/O paths before an operation: 0 to go on, or -errno to fail it. */
int lsm_fault_check(enum lsm_fault_point p);

/*
 * When set (tests only), the flush thread calls it with the engine after a
 * flush is published and before that flush's WAL segments are deleted: a
 * test runs there what may run concurrently in that gap.
 */
struct lsm_db;
extern void (*_Atomic lsm_fault_flush_gap)(struct lsm_db *db);

#endif
