/*
 * select_plan.h — a SELECT statement prepared for one measurement: its
 * columns with wildcards expanded, the aggregate and transformation calls
 * they hold, the GROUP BY tags and the time range. select.c runs it.
 */
#ifndef STRATA_QUERY_SELECT_PLAN_H
#define STRATA_QUERY_SELECT_PLAN_H

#include "lsm/catalog.h"
#include "query/aggregate.h"
#include "query/ast.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum select_mode {
	SELECT_RAW,       /* points: columns are fields, tags and arithmetic */
	SELECT_AGGREGATE, /* one row per time bucket (or one row) from aggregates */
};

/* One aggregate call (count(f), max(f) ...) of the statement. */
struct select_slot {
	const query_expr *node; /* the call */
	enum query_agg_fn fn;
	query_agg_args args;
	int field; /* index into the plan's fields, or -1 for a field the measurement lacks */
	bool count_distinct; /* count(distinct(f)): fn is DISTINCT, the result is the number of values */
};

/*
 * Names a wildcard expands to when FROM holds several measurements: every
 * series gets the union of their fields and tags, as in InfluxDB.
 */
typedef struct select_names {
	char **fields; /* sorted, unique */
	size_t n_fields;
	char **tags;   /* sorted, unique */
	size_t n_tags;
} select_names;

/* A transformation at the top of a column: derivative(mean(f), 1m), difference(f). */
struct select_transform {
	enum query_transform_fn fn;
	query_transform_args args;
	const query_expr *arg; /* the aggregate call or field it transforms */
};

struct select_column {
	const char *name;
	const query_expr *expr;   /* without a top transformation */
	bool has_transform;
	struct select_transform transform;
	bool bare_count;          /* the column is count(...) alone: empty buckets give 0 */
	bool aliased;             /* named by AS */
	int aux;                  /* a field or tag beside a single selector: its index among those, or -1 */
	bool uses_field;          /* a field appears in it (raw mode) */
};

typedef struct select_plan {
	query_arena arena; /* expanded nodes and names */
	const struct query_select *stmt;
	const char *measurement;
	const select_names *wildcard; /* NULL: wildcards expand to this measurement's names */
	lsm_field_info *fields; /* of the measurement, sorted by name */
	size_t n_fields;
	uint32_t max_field_id;
	char **tag_keys;        /* of the measurement, sorted */
	size_t n_tag_keys;

	enum select_mode mode;
	struct select_column *columns;
	size_t n_columns;
	struct select_slot *slots;
	size_t n_slots;
	bool multi_row;       /* one slot of top, bottom, sample or distinct */
	bool selector_time;   /* rows take the selected point's time */
	bool has_transform;
	size_t n_aux;         /* columns of fields and tags beside a single selector */
	bool no_fields;       /* the columns name tags only: no rows (as InfluxDB 1.8) */
	const char *time_name; /* "time", or the alias of a `time` column */

	const char **group_tags; /* GROUP BY tag keys, sorted */
	size_t n_group_tags;

	/*
	 * What of the condition is left to check per point: its top-level AND
	 * terms minus the time bounds (the scan's range) and the terms on tags
	 * alone (decided per series by the series set).
	 */
	const query_expr **residual;
	size_t n_residual;
	bool *needed; /* by field index: read from each point */

	int64_t lo, hi; /* inclusive time range */
	bool has_lo;
	int64_t scan_lo; /* lo less the buckets transformations read before it */
	int64_t interval, offset; /* GROUP BY time; interval 0 without */
} select_plan;

/*
 * Prepares stmt for measurement m of database db. 0, or an error with
 * InfluxDB's message (STRATA_EINVAL for a statement it cannot run, as
 * "mixing aggregate and non-aggregate queries is not supported"). Free
 * with select_plan_free, also after a failure.
 */
int select_plan_init(select_plan *p, lsm_catalog *c, uint32_t db, const char *m,
		     const struct query_select *stmt, const select_names *wildcard, int64_t now_ns);
void select_plan_free(select_plan *p);

/* Index of field name in p->fields, or -1. */
int select_plan_field(const select_plan *p, const char *name);

#endif
