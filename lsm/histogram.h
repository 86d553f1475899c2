/*
 * histogram.h — a fixed-bucket histogram that any number of threads update
 * at once without a lock: latencies and sizes for /metrics.
 *
 * The bucket bounds are fixed when the histogram is made: a static array
 * of ascending upper bounds (at most LSM_HISTOGRAM_MAX_BOUNDS), plus the
 * bucket above the last bound (+Inf). lsm_histogram_observe() finds the
 * first bound at or above the value (Prometheus' "le": less than or equal)
 * and adds one to that bucket and the value to the sum, with relaxed
 * atomic adds: no lock, no allocation, no system call.
 *
 * A snapshot reads the counters one at a time. While observations go on it
 * may hold an observation's bucket without its share of the sum (or the
 * reverse), never more than the observations in flight; its count is the
 * sum of its buckets, so the +Inf bucket and the count always agree, and
 * every counter only grows from one snapshot to the next.
 *
 * Threads: init before any other call, then observe and snapshot from any
 * thread.
 */
#ifndef STRATA_LSM_HISTOGRAM_H
#define STRATA_LSM_HISTOGRAM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define LSM_HISTOGRAM_MAX_BOUNDS 24

typedef struct lsm_histogram {
	const uint64_t *bounds; /* ascending upper bounds, borrowed (static) */
	size_t n_bounds;
	atomic_uint_fast64_t buckets[LSM_HISTOGRAM_MAX_BOUNDS + 1]; /* the last one: above every bound */
	atomic_uint_fast64_t sum;
} lsm_histogram;

/*
 * Caller's memory. bounds must be strictly ascending, n_bounds at most
 * LSM_HISTOGRAM_MAX_BOUNDS, and outlive h (a static array). STRATA_EINVAL
 * otherwise (h is then left with no bounds: every value goes to +Inf).
 */
int lsm_histogram_init(lsm_histogram *h, const uint64_t *bounds, size_t n_bounds);

/* Counts one value. Any thread. */
void lsm_histogram_observe(lsm_histogram *h, uint64_t value);

/* What a histogram held at one moment (see above): per-bucket counts, not cumulative. */
typedef struct lsm_histogram_snapshot {
	size_t n_bounds;
	uint64_t bounds[LSM_HISTOGRAM_MAX_BOUNDS];
	uint64_t buckets[LSM_HISTOGRAM_MAX_BOUNDS + 1];
	uint64_t count; /* the sum of buckets */
	uint64_t sum;   /* of the values observed */
} lsm_histogram_snapshot;

void lsm_histogram_snapshot_get(const lsm_histogram *h, lsm_histogram_snapshot *out);

/*
 * Writes a snapshot as the samples of a Prometheus histogram to f (a FILE *):
 * name_bucket{labels,le="..."} for every bound and +Inf (cumulative),
 * name_sum and name_count. labels is "" or label pairs without braces
 * (kind="select"). Values are integers in a unit 10^decimals times smaller
 * than the one exported: decimals 9 exports nanoseconds as seconds, 0 bytes
 * as bytes; bounds and the sum are written exactly, in decimal. The HELP
 * and TYPE lines are the caller's, once per name.
 */
void lsm_histogram_write_prometheus(void *f, const char *name, const char *labels,
				    const lsm_histogram_snapshot *s, unsigned decimals);

#endif
