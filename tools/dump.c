/*
 * dump.c — `strata dump wal|sst FILE`: one file, human-readable.
 */
#include "tools/cli.h"
#include "lsm/sstable.h"
#include "lsm/wal.h"

#include <stdio.h>
#include <string.h>

int cli_dump(int argc, char **argv)
{
	int rc;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		puts("usage: strata dump wal|sst FILE\n"
		     "  wal FILE   one line per record: offset, type, length, checksum, batch sequence and count\n"
		     "  sst FILE   footer, properties, blocks and every entry with its offset");
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: strata dump wal|sst FILE\n");
		return 2;
	}
	if (strcmp(argv[1], "wal") == 0) {
		rc = lsm_wal_dump(argv[2], stdout);
	} else if (strcmp(argv[1], "sst") == 0) {
		rc = lsm_sst_dump(argv[2], true, stdout);
	} else {
		fprintf(stderr, "strata dump: unknown file kind '%s' (wal or sst)\n", argv[1]);
		return 2;
	}
	if (rc) {
		cli_fail(argv[2], rc);
		return 1;
	}
	return 0;
}
