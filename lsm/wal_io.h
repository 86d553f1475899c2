/*
 * wal_io.h — how the WAL reaches the disk: io_uring or pwrite.
 *
 * The io_uring backend submits a write that must be synced and its fdatasync
 * in one submission, the sync linked after the write with IOSQE_IO_LINK
 * because completions are unordered; a short write is completed before the
 * sync. A write without a sync is a plain pwrite on both backends (a buffered
 * write gains nothing from the ring). The pwrite backend does the same with
 * pwrite + fdatasync. Both pass the fault points
 * LSM_FAULT_WAL_WRITE and LSM_FAULT_WAL_SYNC, so tests fail either on demand.
 *
 * An io object is used by one thread at a time (the group commit leader).
 */
#ifndef STRATA_LSM_WAL_IO_H
#define STRATA_LSM_WAL_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lsm_io_kind {
	LSM_IO_AUTO,   /* io_uring, or pwrite when io_uring cannot be set up */
	LSM_IO_URING,  /* io_uring or fail */
	LSM_IO_PWRITE,
};

typedef struct lsm_wal_io lsm_wal_io;

/*
 * A new backend. With LSM_IO_AUTO a failed io_uring set-up (seccomp,
 * io_uring_disabled, old kernel) falls back to pwrite and logs it once per
 * process. -errno from io_uring_queue_init with LSM_IO_URING; -ENOMEM.
 * The environment variable STRATA_WAL_IO=pwrite|io_uring forces the choice
 * of LSM_IO_AUTO (forced io_uring fails like LSM_IO_URING).
 */
int lsm_wal_io_new(lsm_wal_io **out, enum lsm_io_kind kind);
void lsm_wal_io_free(lsm_wal_io *io);
/* "io_uring" or "pwrite". */
const char *lsm_wal_io_name(const lsm_wal_io *io);

/*
 * Writes len bytes of buf at off in fd, then, when sync, fdatasyncs fd.
 * Returns 0 once all of it is done, or the first -errno. Never retries a
 * failed write or sync. buf must stay valid until the call returns.
 */
int lsm_wal_io_write(lsm_wal_io *io, int fd, const void *buf, size_t len, uint64_t off, bool sync);
/* fdatasync alone. 0 or -errno. */
int lsm_wal_io_sync(lsm_wal_io *io, int fd);

#endif
