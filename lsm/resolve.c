#include "lsm/resolve.h"
#include "lsm/alloc.h"

#include <errno.h>

void lsm_resolve_init(lsm_resolve *r, lsm_merge_fn merge, void *merge_ctx)
{
	memset(r, 0, sizeof *r);
	r->merge = merge;
	r->merge_ctx = merge_ctx;
}

void lsm_resolve_deinit(lsm_resolve *r)
{
	strata_free(r->buf);
	r->buf = NULL;
}

void lsm_resolve_reset(lsm_resolve *r)
{
	r->len = 0;
	r->have = r->done = r->deleted = r->base = false;
}

static int set_value(lsm_resolve *r, const uint8_t *value, size_t len)
{
	if (len > r->cap) {
		size_t cap = r->cap ? r->cap : 64;
		uint8_t *grown;

		while (cap < len)
			cap *= 2;
		grown = strata_realloc(r->buf, cap);
		if (!grown)
			return -ENOMEM;
		r->buf = grown;
		r->cap = cap;
	}
	if (len)
		memcpy(r->buf, value, len);
	r->len = len;
	return 0;
}

int lsm_resolve_add(lsm_resolve *r, enum lsm_kind kind, const uint8_t *value, size_t len)
{
	uint8_t *merged = NULL;
	size_t merged_len = 0;
	int rc;

	if (r->done)
		return 0;
	if (!r->have) {
		if (kind == LSM_KIND_DELETE) {
			r->done = r->deleted = true;
			return 0;
		}
		rc = set_value(r, value, len);
		if (rc)
			return rc;
		r->have = true;
		/* Without a merge hook a MERGE replaces, as a PUT does. */
		if (kind == LSM_KIND_PUT || !r->merge)
			r->done = r->base = true;
		return 0;
	}
	/* r holds merge operands newer than this version. */
	if (kind == LSM_KIND_DELETE) {
		r->done = r->base = true;
		return 0;
	}
	rc = r->merge(r->merge_ctx, value, len, r->buf, r->len, &merged, &merged_len);
	if (rc)
		return rc;
	rc = set_value(r, merged, merged_len);
	strata_free(merged);
	if (rc)
		return rc;
	if (kind == LSM_KIND_PUT)
		r->done = r->base = true;
	return 0;
}
