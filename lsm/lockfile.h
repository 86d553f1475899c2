/*
 * lockfile.h — one process per data directory.
 *
 * The LOCK file is held with flock(LOCK_EX | LOCK_NB) for as long as the
 * database is open, and holds the owner's pid so that a second process can
 * say who has it. The kernel drops the lock when the process dies, so a
 * crash never leaves a stale lock behind.
 */
#ifndef STRATA_LSM_LOCKFILE_H
#define STRATA_LSM_LOCKFILE_H

/*
 * Takes <dir>/LOCK. Returns a file descriptor (>= 0) to pass to
 * lsm_lockfile_release, STRATA_ELOCKED with a message naming the directory
 * and the holder's pid, or -errno.
 */
int lsm_lockfile_acquire(const char *dir);
void lsm_lockfile_release(int fd);

#endif
