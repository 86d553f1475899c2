/*
 * sources.c — measurements named by FROM (sources.h).
 */
#include "query/sources.h"
#include "lsm/alloc.h"
#include "lsm/status.h"
#include "query/regex.h"

#include <errno.h>
#include <string.h>

int query_measurements_matching(lsm_catalog *c, uint32_t db, const char *regex, char ***out, size_t *n_out)
{
	query_regex *re = NULL;
	char **names = NULL;
	size_t n = 0, kept = 0;
	int rc;

	*out = NULL;
	*n_out = 0;
	if (regex) {
		rc = query_regex_compile(&re, regex);
		if (rc)
			return rc;
	}
	rc = lsm_catalog_measurements(c, db, &names, &n);
	if (rc == -ENOMEM)
		rc = strata_error(-ENOMEM, "out of memory listing measurements");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		int m = re ? query_regex_match(re, names[i], strlen(names[i])) : 1;

		if (m < 0) {
			rc = m;
		} else {
			char *name = names[i];

			names[i] = NULL;
			if (m)
				names[kept++] = name; /* kept <= i: the slot is free */
			else
				strata_free(name);
		}
	}
	query_regex_free(re);
	if (rc) {
		lsm_catalog_free_names(names, n);
		return rc;
	}
	*out = names;
	*n_out = kept;
	return 0;
}
