/*
 * alloc.h — the one path to the heap. Binaries link jemalloc as the process
 * allocator (CMake option STRATA_JEMALLOC), so these are jemalloc's calls in
 * production and the sanitizers' in test builds. A failed allocation returns
 * NULL; callers turn it into -ENOMEM.
 */
#ifndef STRATA_LSM_ALLOC_H
#define STRATA_LSM_ALLOC_H

#include <stdlib.h>
#include <string.h>

static inline void *strata_malloc(size_t n) { return malloc(n); }
static inline void *strata_calloc(size_t count, size_t n) { return calloc(count, n); }
static inline void *strata_realloc(void *p, size_t n) { return realloc(p, n); }
static inline void strata_free(void *p) { free(p); }

static inline char *strata_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *copy = strata_malloc(n);

	if (copy)
		memcpy(copy, s, n);
	return copy;
}

#endif
