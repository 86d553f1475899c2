#include "lsm/fault.h"

#include <stdatomic.h>

struct fault_state {
	atomic_bool armed;
	atomic_int_fast64_t countdown; /* operations left before the failure */
	atomic_int err;
	atomic_bool sticky;
};

static struct fault_state points[LSM_FAULT_N_POINTS];

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
