/*
 * histogram.c — lock-free fixed-bucket histograms (histogram.h).
 *
 * Finding the bucket is a binary search over at most
 * LSM_HISTOGRAM_MAX_BOUNDS bounds (five steps); the two updates are
 * relaxed fetch-adds: nothing orders them with anything else, because a
 * reader only needs every counter to be monotonic, which each atomic is on
 * its own.
 *
 * Prometheus wants the bounds in its base units (seconds, bytes) while the
 * engine counts integers (nanoseconds): the bounds and the sum are written
 * as exact decimals of the integers (100000 ns is "0.0001"), never through
 * a double, so a bound reads the same in every scrape and in the docs.
 */
#include "lsm/histogram.h"
#include "lsm/status.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int lsm_histogram_init(lsm_histogram *h, const uint64_t *bounds, size_t n_bounds)
{
	memset(h, 0, sizeof *h);
	for (size_t i = 0; i <= LSM_HISTOGRAM_MAX_BOUNDS; i++)
		atomic_init(&h->buckets[i], 0);
	atomic_init(&h->sum, 0);
	if (n_bounds > LSM_HISTOGRAM_MAX_BOUNDS)
		return strata_error(STRATA_EINVAL, "histogram of %zu bounds, over the limit of %d", n_bounds,
				    LSM_HISTOGRAM_MAX_BOUNDS);
	for (size_t i = 1; i < n_bounds; i++)
		if (bounds[i - 1] >= bounds[i])
			return strata_error(STRATA_EINVAL, "histogram bounds not ascending at %zu", i);
	h->bounds = bounds;
	h->n_bounds = n_bounds;
	return 0;
}

void lsm_histogram_observe(lsm_histogram *h, uint64_t value)
{
	size_t lo = 0, hi = h->n_bounds;

	/* The first bound >= value; n_bounds (the +Inf bucket) when there is none. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (h->bounds[mid] < value)
			lo = mid + 1;
		else
			hi = mid;
	}
	atomic_fetch_add_explicit(&h->buckets[lo], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum, value, memory_order_relaxed);
}

void lsm_histogram_snapshot_get(const lsm_histogram *h, lsm_histogram_snapshot *out)
{
	lsm_histogram *m = (lsm_histogram *)h; /* atomic loads take non-const pointers */

	memset(out, 0, sizeof *out);
	out->n_bounds = h->n_bounds;
	for (size_t i = 0; i < h->n_bounds; i++)
		out->bounds[i] = h->bounds[i];
	for (size_t i = 0; i <= h->n_bounds; i++) {
		out->buckets[i] = atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
		out->count += out->buckets[i];
	}
	out->sum = atomic_load_explicit(&m->sum, memory_order_relaxed);
}

/* v / 10^decimals as an exact decimal, without trailing zeros: 100000 with 9 is "0.0001". */
static void format_scaled(char *out, size_t cap, uint64_t v, unsigned decimals)
{
	uint64_t scale = 1;
	uint64_t frac;
	int n;

	if (decimals > 19)
		decimals = 19;
	for (unsigned i = 0; i < decimals; i++)
		scale *= 10;
	frac = v % scale;
	n = snprintf(out, cap, "%" PRIu64, v / scale);
	if (frac == 0 || n < 0 || (size_t)n >= cap)
		return;
	n += snprintf(out + n, cap - (size_t)n, ".%0*" PRIu64, (int)decimals, frac);
	while (n > 0 && (size_t)n < cap && out[n - 1] == '0')
		out[--n] = '\0';
}

void lsm_histogram_write_prometheus(void *file, const char *name, const char *labels,
				    const lsm_histogram_snapshot *s, unsigned decimals)
{
	FILE *f = file;
	const char *sep = labels[0] ? "," : "";
	uint64_t cumulative = 0;
	char num[48];

	for (size_t i = 0; i < s->n_bounds; i++) {
		cumulative += s->buckets[i];
		format_scaled(num, sizeof num, s->bounds[i], decimals);
		fprintf(f, "%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n", name, labels, sep, num, cumulative);
	}
	cumulative += s->buckets[s->n_bounds];
	fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels, sep, cumulative);
	format_scaled(num, sizeof num, s->sum, decimals);
	if (labels[0]) {
		fprintf(f, "%s_sum{%s} %s\n", name, labels, num);
		fprintf(f, "%s_count{%s} %" PRIu64 "\n", name, labels, s->count);
	} else {
		fprintf(f, "%s_sum %s\n", name, num);
		fprintf(f, "%s_count %" PRIu64 "\n", name, s->count);
	}
}
