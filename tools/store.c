#include "tools/store.h"
#include "tools/cli.h"
#include "lsm/row.h"

void cli_store_options(lsm_options *out)
{
	lsm_options_default(out);
	out->merge = lsm_row_merge;
}

int cli_store_open(cli_store *out, const char *dir, const lsm_options *opt, const char *what)
{
	int rc;

	out->db = NULL;
	out->catalog = NULL;
	rc = lsm_open(&out->db, dir, opt);
	if (rc) {
		cli_fail(what, rc);
		return rc;
	}
	rc = lsm_catalog_open(&out->catalog, dir);
	if (rc) {
		cli_fail(what, rc);
		lsm_close(out->db);
		out->db = NULL;
	}
	return rc;
}

int cli_store_close(cli_store *s)
{
	int rc;

	if (s->catalog)
		lsm_catalog_close(s->catalog);
	rc = lsm_close(s->db);
	s->db = NULL;
	s->catalog = NULL;
	return rc;
}
