/*
 * store.h — opening a data directory the way every subcommand needs it:
 * the engine (with the row merge hook) and the catalog beside it.
 */
#ifndef STRATA_TOOLS_STORE_H
#define STRATA_TOOLS_STORE_H

#include "lsm/catalog.h"
#include "lsm/lsm.h"

#include <stdbool.h>

typedef struct cli_store {
	lsm_db *db;
	lsm_catalog *catalog;
} cli_store;

/* Opens both; on failure prints why (prefixed with what) and returns the error. */
int cli_store_open(cli_store *out, const char *dir, const lsm_options *opt, const char *what);
/* Closes both; returns the first error. */
int cli_store_close(cli_store *s);
/* lsm_options_default plus what strata's data needs (the row merge hook). */
void cli_store_options(lsm_options *out);

#endif
