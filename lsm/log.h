/*
 * log.h — one line per event: time, level, message (key=value fields by
 * convention), to stderr. Safe from any thread; a line is written with one
 * write(2) so lines from different threads never interleave.
 */
#ifndef STRATA_LSM_LOG_H
#define STRATA_LSM_LOG_H

enum strata_log_level { STRATA_LOG_DEBUG, STRATA_LOG_INFO, STRATA_LOG_WARN, STRATA_LOG_ERROR };

/* Lines below this level are dropped. Default INFO. */
void strata_log_set_level(enum strata_log_level level);
/* Parses "debug", "info", "warn", "error"; returns 0 or STRATA_EINVAL. */
int strata_log_parse_level(const char *name, enum strata_log_level *out);

void strata_log(enum strata_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define LOG_DEBUG(...) strata_log(STRATA_LOG_DEBUG, __VA_ARGS__)
#define LOG_INFO(...) strata_log(STRATA_LOG_INFO, __VA_ARGS__)
#define LOG_WARN(...) strata_log(STRATA_LOG_WARN, __VA_ARGS__)
#define LOG_ERROR(...) strata_log(STRATA_LOG_ERROR, __VA_ARGS__)

#endif
