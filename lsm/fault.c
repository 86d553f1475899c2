#include "lsm/fault.h"
#include "lsm/log.h"
#include "lsm/status.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fault_state {
	atomic_bool armed;
	atomic_int_fast64_t countdown; /* operations left before the failure */
	atomic_int err;
	atomic_bool sticky;
};

static struct fault_state points[LSM_FAULT_N_POINTS];

void (*_Atomic lsm_fault_flush_gap)(struct lsm_db *db);

void lsm_fault_arm(enum lsm_fault_point p, uint64_t skip, int err, bool sticky)
{
	atomic_store(&points[p].countdown, (int_fast64_t)skip);
	atomic_store(&points[p].err, err);
	atomic_store(&points[p].sticky, sticky);
	atomic_store(&points[p].armed, true);
}

void lsm_fault_reset(void)
{
	for (int i = 0; i < LSM_FAULT_N_POINTS; i++)
		atomic_store(&points[i].armed, false);
}

int lsm_fault_check(enum lsm_fault_point p)
{
	struct fault_state *f = &points[p];

	if (!atomic_load_explicit(&f->armed, memory_order_relaxed))
		return 0;
	if (atomic_fetch_sub(&f->countdown, 1) > 0)
		return 0;
	if (!atomic_load(&f->sticky))
		atomic_store(&f->armed, false);
	return -atomic_load(&f->err);
}

/* ---- arming from a text spec (STRATA_FAULTS) ---- */

static const char *const point_names[LSM_FAULT_N_POINTS] = {
	[LSM_FAULT_WAL_WRITE] = "wal_write",         [LSM_FAULT_WAL_SYNC] = "wal_sync",
	[LSM_FAULT_SST_WRITE] = "sst_write",         [LSM_FAULT_SST_SYNC] = "sst_sync",
	[LSM_FAULT_MANIFEST_WRITE] = "manifest_write", [LSM_FAULT_MANIFEST_SYNC] = "manifest_sync",
	[LSM_FAULT_CATALOG_WRITE] = "catalog_write", [LSM_FAULT_CATALOG_SYNC] = "catalog_sync",
};

static const struct {
	const char *name;
	int err;
} err_names[] = { { "EIO", EIO },     { "ENOSPC", ENOSPC }, { "EDQUOT", EDQUOT },
		  { "EROFS", EROFS }, { "EFBIG", EFBIG },   { "ENOMEM", ENOMEM } };

typedef struct fault_item {
	enum lsm_fault_point point;
	uint64_t skip;
	int err;
	bool sticky;
} fault_item;

/* A decimal number in [min, max] filling [p, end). */
static bool parse_number(const char *p, const char *end, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t n = 0;

	if (p == end)
		return false;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9' || n > (UINT64_MAX - 9) / 10)
			return false;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (n < min || n > max)
		return false;
	*out = n;
	return true;
}

static bool word_is(const char *p, const char *end, const char *word)
{
	return (size_t)(end - p) == strlen(word) && memcmp(p, word, (size_t)(end - p)) == 0;
}

/* One item, [p, end): "<point>[:skip=N][:err=E][:sticky]". */
static int parse_item(const char *p, const char *end, fault_item *out)
{
	const char *colon = memchr(p, ':', (size_t)(end - p));
	const char *name_end = colon ? colon : end;
	int i;

	for (i = 0; i < LSM_FAULT_N_POINTS; i++)
		if (word_is(p, name_end, point_names[i]))
			break;
	if (i == LSM_FAULT_N_POINTS)
		return strata_error(STRATA_EINVAL, "STRATA_FAULTS: unknown fault point \"%.*s\" (one of wal_write, "
				    "wal_sync, sst_write, sst_sync, manifest_write, manifest_sync, catalog_write, catalog_sync)",
				    (int)(name_end - p), p);
	*out = (fault_item){ .point = (enum lsm_fault_point)i, .skip = 0, .err = EIO, .sticky = false };
	while (colon) {
		const char *opt = colon + 1;
		const char *opt_end;
		uint64_t n;

		colon = memchr(opt, ':', (size_t)(end - opt));
		opt_end = colon ? colon : end;
		if (word_is(opt, opt_end, "sticky")) {
			out->sticky = true;
		} else if ((size_t)(opt_end - opt) > 5 && memcmp(opt, "skip=", 5) == 0) {
			if (!parse_number(opt + 5, opt_end, 0, (uint64_t)INT64_MAX, &out->skip))
				return strata_error(STRATA_EINVAL, "STRATA_FAULTS: bad skip count in \"%.*s\"",
						    (int)(end - p), p);
		} else if ((size_t)(opt_end - opt) > 4 && memcmp(opt, "err=", 4) == 0) {
			size_t k, n_errs = sizeof err_names / sizeof err_names[0];

			for (k = 0; k < n_errs; k++)
				if (word_is(opt + 4, opt_end, err_names[k].name))
					break;
			if (k < n_errs)
				out->err = err_names[k].err;
			else if (parse_number(opt + 4, opt_end, 1, 4095, &n))
				out->err = (int)n;
			else
				return strata_error(STRATA_EINVAL, "STRATA_FAULTS: bad errno in \"%.*s\" (EIO, ENOSPC, "
						    "EDQUOT, EROFS, EFBIG, ENOMEM or a number 1..4095)",
						    (int)(end - p), p);
		} else {
			return strata_error(STRATA_EINVAL, "STRATA_FAULTS: unknown option \"%.*s\" in \"%.*s\" "
					    "(skip=N, err=E or sticky)",
					    (int)(opt_end - opt), opt, (int)(end - p), p);
		}
	}
	return 0;
}

int lsm_fault_arm_spec(const char *spec)
{
	fault_item items[LSM_FAULT_N_POINTS];
	size_t n = 0;
	const char *p = spec;

	for (;;) {
		const char *end = strchr(p, ',');
		int rc;

		if (!end)
			end = p + strlen(p);
		if (end == p)
			return strata_error(STRATA_EINVAL, "STRATA_FAULTS: empty item in \"%s\"", spec);
		if (n == LSM_FAULT_N_POINTS)
			return strata_error(STRATA_EINVAL, "STRATA_FAULTS: more than %d items in \"%s\"",
					    LSM_FAULT_N_POINTS, spec);
		rc = parse_item(p, end, &items[n]);
		if (rc)
			return rc;
		for (size_t i = 0; i < n; i++)
			if (items[i].point == items[n].point)
				return strata_error(STRATA_EINVAL, "STRATA_FAULTS: point %s named twice",
						    point_names[items[n].point]);
		n++;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	for (size_t i = 0; i < n; i++)
		lsm_fault_arm(items[i].point, items[i].skip, items[i].err, items[i].sticky);
	return 0;
}

int lsm_fault_arm_from_env(void)
{
	const char *spec = getenv("STRATA_FAULTS");
	int rc;

	if (!spec || !*spec)
		return 0;
	rc = lsm_fault_arm_spec(spec);
	if (rc == 0)
		LOG_WARN("event=faults_armed spec=\"%s\" note=\"test facility: I/O operations will fail on purpose\"",
			 spec);
	return rc;
}
