/*
 * status.h — strata's error codes and the per-thread error message.
 *
 * Fallible functions return int: 0 on success, a negative errno passed through
 * from the system or io_uring, or one of strata's own codes below (a reserved
 * range that no errno reaches). Corruption is never reported as an I/O error.
 *
 * The code says what kind of failure; the message says what and where (file,
 * offset, line). A failing function records its message with strata_error(),
 * and the caller that reports to a user reads it with strata_last_error() on
 * the same thread, before the next call that may fail.
 */
#ifndef STRATA_LSM_STATUS_H
#define STRATA_LSM_STATUS_H

#include <stddef.h>

enum {
	STRATA_EBASE = -100000,
	STRATA_ECORRUPT,  /* a checksum, magic or structure on disk is wrong */
	STRATA_ENOTFOUND, /* the key, file or entry does not exist */
	STRATA_EVERSION,  /* a file of a format version this build cannot read */
	STRATA_EREADONLY, /* an earlier write or sync failed; writes are refused */
	STRATA_ELOCKED,   /* another process holds the data directory */
	STRATA_EINVAL,    /* bad argument or input (the message says which) */
	STRATA_ETOOBIG,   /* a size limit was exceeded */
	STRATA_ECLOSED,   /* the object is shutting down */
	STRATA_ETYPE,     /* a field written with another type than it has */
	STRATA_ELAST
};

/* Returns a static description of rc (a strata code or a negative errno). */
const char *strata_strerror(int rc);

/*
 * Records a formatted message for the calling thread and returns rc, so that
 * `return strata_error(rc, "...")` reports and fails in one step.
 */
int strata_error(int rc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The calling thread's last message recorded by strata_error(), or the
 * description of its code when none was given. Valid until the thread's next
 * call to strata_error().
 */
const char *strata_last_error(void);

/* Clears the calling thread's last message. */
void strata_error_clear(void);

#endif
