/*
 * column_scan.h — one series' points read as arrays, block by block.
 *
 * A closed window ends as one final-form table of column blocks in which
 * every key appears once, as a PUT (compact.h). For a range that lies in
 * such tables only, the series' points are exactly the table's entries:
 * a reader can take them as arrays straight from the decoded columns
 * (column_block.h) instead of merging sources and folding versions entry
 * by entry. A scan does that as far as it can and hands the rest of the
 * range back to the caller, to be read through lsm_db_iter, as soon as
 * something needs the general path: a memtable holding a key of the range,
 * a window with more than one table that may hold the series, a table or
 * block stored as entries, or a block with versions to fold.
 *
 * The scan pins the memtables and version current when it is created, as
 * lsm_db_iter does. One thread uses a scan.
 */
#ifndef STRATA_LSM_COLUMN_SCAN_H
#define STRATA_LSM_COLUMN_SCAN_H

#include "lsm/column_block.h"
#include "lsm/lsm.h"

#include <stddef.h>
#include <stdint.h>

typedef struct lsm_scan lsm_scan;

/* Entries [from, to) of set: points of the scan's series, in time order. */
typedef struct lsm_span {
	lsm_colset *set; /* pinned until the next lsm_scan_next or lsm_scan_free */
	size_t from, to;
} lsm_span;

enum lsm_scan_step {
	LSM_SCAN_END = 0,  /* no more points in the range */
	LSM_SCAN_SPAN = 1, /* *span holds the next points */
	LSM_SCAN_ROWS = 2, /* the points from *resume to hi must be read through lsm_db_iter */
};

/*
 * A scan of series' points with lo <= time <= hi, whose spans hold at
 * least the columns want names (NULL: every column; the caller keeps want
 * alive while the scan is). 0, or -ENOMEM.
 */
int lsm_scan_new(lsm_scan **out, lsm_db *db, uint64_t series, int64_t lo, int64_t hi, const lsm_colwant *want);

/*
 * The next step: an enum lsm_scan_step, or an error (STRATA_ECORRUPT with
 * the file and offset, -errno). After LSM_SCAN_ROWS or LSM_SCAN_END the
 * scan is over.
 */
int lsm_scan_next(lsm_scan *s, lsm_span *span, int64_t *resume);

void lsm_scan_free(lsm_scan *s);

/*
 * A time no point of series is newer than: the newest time of the tables
 * that may hold it (their properties and bloom filters), or INT64_MAX when
 * a memtable holds a point of it. INT64_MIN when nothing holds it. Lets a
 * search for the newest point start where the data ends, not at now().
 */
int64_t lsm_scan_newest_bound(lsm_db *db, uint64_t series);

#endif
