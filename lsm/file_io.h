/*
 * file_io.h — the durable-write steps every on-disk structure shares:
 * writing a whole buffer, fdatasync, and fsync of a directory (after a file
 * is created or renamed in it). Each passes a fault point (fault.h) first,
 * so tests can fail it on demand. Errors are -errno with a message naming
 * the file or directory (strata_last_error).
 */
#ifndef STRATA_LSM_FILE_IO_H
#define STRATA_LSM_FILE_IO_H

#include "lsm/fault.h"

#include <stddef.h>

/* Writes all len bytes at the descriptor's position (retrying EINTR and short writes). */
int lsm_write_full(int fd, const void *buf, size_t len, enum lsm_fault_point point);
/* fdatasync(fd). */
int lsm_datasync(int fd, enum lsm_fault_point point);
/* fsync of the directory at path. */
int lsm_sync_dir(const char *path, enum lsm_fault_point point);

#endif
