/*
 * catalog_int.h — test hooks of the catalog (catalog.c). Not for the engine.
 */
#ifndef STRATA_LSM_CATALOG_INT_H
#define STRATA_LSM_CATALOG_INT_H

#include <stddef.h>
#include <stdint.h>

typedef uint64_t (*lsm_catalog_hash_fn)(const void *p, size_t len);

/*
 * Replaces the hash of series keys and names (XXH3-64 by default) for every
 * catalog of the process; NULL restores XXH3. Tests use it to force every
 * key onto one hash value. Call it only while no catalog is open.
 */
void lsm_catalog_test_set_hash(lsm_catalog_hash_fn fn);

#endif
