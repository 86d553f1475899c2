/*
 * sources.h — the measurements a statement's FROM names: by name, or those
 * of a database that a /regex/ matches.
 */
#ifndef STRATA_QUERY_SOURCES_H
#define STRATA_QUERY_SOURCES_H

#include "lsm/catalog.h"

#include <stddef.h>
#include <stdint.h>

/*
 * The measurement names of database db that regex matches (NULL: all of
 * them), sorted, in *out (n_out of them; free with
 * lsm_catalog_free_names). 0, STRATA_EINVAL for a bad regex, STRATA_ETOOBIG
 * for one that backtracks too much, STRATA_ENOTFOUND, -ENOMEM (each with a
 * message).
 */
int query_measurements_matching(lsm_catalog *c, uint32_t db, const char *regex, char ***out, size_t *n_out);

#endif
