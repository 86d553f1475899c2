#include "lsm/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_message[512];

const char *strata_strerror(int rc)
{
	switch (rc) {
	case 0: return "ok";
	case STRATA_ECORRUPT: return "data corruption";
	case STRATA_ENOTFOUND: return "not found";
	case STRATA_EVERSION: return "unsupported format version";
	case STRATA_EREADONLY: return "engine is read-only after a failed write";
	case STRATA_ELOCKED: return "data directory is locked by another process";
	case STRATA_EINVAL: return "invalid argument";
	case STRATA_ETOOBIG: return "size limit exceeded";
	case STRATA_ECLOSED: return "closed";
	case STRATA_ETYPE: return "field type conflict";
	default:
		break;
	}
	if (rc < 0 && rc > STRATA_EBASE)
		return strerror(-rc);
	return "unknown error";
}

int strata_error(int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_message, sizeof last_message, fmt, ap);
	va_end(ap);
	return rc;
}

const char *strata_last_error(void)
{
	return last_message[0] ? last_message : "no error recorded";
}

void strata_error_clear(void)
{
	last_message[0] = '\0';
}
