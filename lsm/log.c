#include "lsm/log.h"
#include "lsm/status.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int min_level = STRATA_LOG_INFO;

void strata_log_set_level(enum strata_log_level level)
{
	atomic_store(&min_level, (int)level);
}

int strata_log_parse_level(const char *name, enum strata_log_level *out)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };

	for (int i = 0; i < 4; i++) {
		if (strcmp(name, names[i]) == 0) {
			*out = (enum strata_log_level)i;
			return 0;
		}
	}
	return strata_error(STRATA_EINVAL, "unknown log level '%s' (debug, info, warn, error)", name);
}

void strata_log(enum strata_log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };
	char line[2048];
	struct timespec now;
	struct tm tm;
	size_t len;
	int n;
	va_list ap;

	if ((int)level < atomic_load(&min_level))
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec, now.tv_nsec / 1000000, names[level]);
	len = n > 0 ? (size_t)n : 0;
	va_start(ap, fmt);
	n = vsnprintf(line + len, sizeof line - len - 1, fmt, ap);
	va_end(ap);
	if (n > 0)
		len += (size_t)n < sizeof line - len - 1 ? (size_t)n : sizeof line - len - 2;
	line[len++] = '\n';
	/* One write per line: lines from concurrent threads stay whole. */
	if (write(STDERR_FILENO, line, len) < 0)
		return;
}
