/*
 * catalog.h — the series catalog: what the data means.
 *
 * Per database it holds: series (canonical key <-> 64-bit series id), tag
 * postings (measurement, tag key, tag value -> series ids), and the fields
 * of each measurement (name -> field id and type, fixed once first written).
 * It is the authority on series ids: ids are handed out in sequence, never
 * derived from a hash, so two series never share one, whatever their keys
 * hash to.
 *
 * A canonical series key is the measurement, then the tags sorted by key
 * (bytewise, comparing the unescaped keys), escaped as line protocol escapes
 * them (docs/format-catalog.md gives the exact rules):
 *   cpu,host=a,region=us\ west
 *
 * Durability: the catalog is an append-only log of records (record.h
 * framing; docs/format-catalog.md) in <data dir>/catalog.log. A change
 * (new database, series or field) is written and fdatasync'ed before the
 * call that makes it returns, so every id stored with data is in the
 * catalog after a crash. Known series and fields cost no write: many new
 * ones are registered with one append and one sync (lsm_catalog_txn).
 *
 * Threads: any thread may call anything. Lookups take a read lock;
 * commits serialise on a mutex and take the write lock only to publish.
 */
#ifndef STRATA_LSM_CATALOG_H
#define STRATA_LSM_CATALOG_H

#include "lsm/row.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lsm_catalog lsm_catalog;

#define LSM_CATALOG_NAME_MAX 255        /* database, measurement, field name bytes */
#define LSM_CATALOG_KEY_MAX 65535       /* canonical series key bytes */

/*
 * Opens <dir>/catalog.log (creating it when missing) and replays it. A torn
 * last record (a change never acknowledged) is trimmed and logged; other
 * damage is STRATA_ECORRUPT naming the offset. -errno.
 */
int lsm_catalog_open(lsm_catalog **out, const char *dir);
void lsm_catalog_close(lsm_catalog *c);

/* ---- databases ---- */

/* Creates a database (no-op if it exists). STRATA_EINVAL for a bad name. */
int lsm_catalog_create_database(lsm_catalog *c, const char *name);
/* Drops a database from the catalog (its data is deleted by the caller). STRATA_ENOTFOUND. */
int lsm_catalog_drop_database(lsm_catalog *c, const char *name);
/* The id of a database, or STRATA_ENOTFOUND. */
int lsm_catalog_database_id(lsm_catalog *c, const char *name, uint32_t *out);
/* Names of the databases, sorted; *out is an array of n strata_malloc'ed strings, freed with lsm_catalog_free_names. */
int lsm_catalog_databases(lsm_catalog *c, char ***out, size_t *n_out);
void lsm_catalog_free_names(char **names, size_t n);

/* ---- retention policies ----
 *
 * Every database has policies; one of them may be its default. A database
 * that was never given one has the implicit policy "autogen": infinite,
 * one replica, default. The retention of a database is the duration of its
 * default policy (0, forever, when it has none). Each change is one
 * LSM_CATREC_RP record, written and fdatasync'ed before the call returns.
 */
typedef struct lsm_catalog_rp {
	char name[LSM_CATALOG_NAME_MAX + 1];
	uint32_t store;            /* where its points live (below); set by the catalog */
	int64_t duration_ns;       /* points are kept this long; 0: forever */
	int64_t shard_duration_ns; /* its points' window length; 0: the engine's (as some were recorded before) */
	uint32_t replica_n;        /* >= 1 */
	bool is_default;
} lsm_catalog_rp;

#define LSM_CATALOG_AUTOGEN "autogen"
/*
 * Bounds of a policy's shard duration, the length of its points' windows
 * (0: the engine's window): InfluxDB's shortest, and a year, beyond which a
 * window would only delay its final merge and the dropping of its points.
 * A catalog record outside them is damage: a flush would otherwise cut a
 * table per instant.
 */
#define LSM_CATALOG_SHARD_MIN_NS (INT64_C(3600) * 1000000000)
#define LSM_CATALOG_SHARD_MAX_NS (INT64_C(8760) * LSM_CATALOG_SHARD_MIN_NS)

enum lsm_catalog_rp_op {
	/*
	 * A new policy. One of that name with the same duration and replica
	 * count is no error (nothing written), unless rp asks to be
	 * the default and that one is not: STRATA_EINVAL "retention policy
	 * conflicts with an existing policy"; one that differs is STRATA_EINVAL
	 * "retention policy already exists".
	 */
	LSM_CATALOG_RP_CREATE,
	/* Replaces the policy of that name (STRATA_ENOTFOUND when none). */
	LSM_CATALOG_RP_ALTER,
	/*
	 * The policy a new database is created WITH: when the database has
	 * only the implicit autogen it becomes its one policy, the default (the
	 * implicit autogen goes, whatever rp's name). Otherwise nothing is
	 * written, and unless the database's default policy has rp's name,
	 * duration and replica count it is STRATA_EINVAL "retention policy
	 * conflicts with an existing policy".
	 */
	LSM_CATALOG_RP_INITIAL,
};

/*
 * Creates or changes a policy of database db (rp->is_default makes it the
 * default; the others then are not). STRATA_EINVAL for a bad name (1..255
 * bytes), duration or replica count, and as op says; STRATA_ENOTFOUND for
 * an unknown database; -errno from the write (the catalog then refuses
 * changes with STRATA_EREADONLY until reopened).
 */
int lsm_catalog_set_rp(lsm_catalog *c, uint32_t db, const lsm_catalog_rp *rp, enum lsm_catalog_rp_op op);
/* Drops a policy (the default too: the database then has none). STRATA_ENOTFOUND; -errno. */
int lsm_catalog_drop_rp(lsm_catalog *c, uint32_t db, const char *name);
/* The policies of db in creation order; *out strata_malloc'ed (NULL when none), caller frees. */
int lsm_catalog_rps(lsm_catalog *c, uint32_t db, lsm_catalog_rp **out, size_t *n_out);
/* One policy of db by name: 0 with *out, or STRATA_ENOTFOUND (database or policy). */
int lsm_catalog_rp_get(lsm_catalog *c, uint32_t db, const char *name, lsm_catalog_rp *out);

/* ---- stores: where the points of each policy live ----
 *
 * Each retention policy keeps its points in a store of its own: a set of
 * series with their postings and fields, named by a store id. The series,
 * field and postings calls below take a store id as their `db`. A
 * database's own id is the store of its first policy (the implicit autogen
 * included); every later policy gets a new id from the same sequence as
 * databases, recorded with the policy (docs/format-catalog.md). So the same
 * series key written under two policies is two series with two ids, as in
 * InfluxDB, where each policy has its own shards. Dropping a policy forgets
 * its store's series (their points stay unreachable until compaction drops
 * them); a store no policy uses any more holds no series and is never
 * given to another policy.
 */

/*
 * The store of policy rp of database db; rp NULL or "" is the default
 * policy. STRATA_ENOTFOUND with a message for an unknown database, an
 * unknown policy, or no default policy when rp names none.
 */
int lsm_catalog_store(lsm_catalog *c, uint32_t db, const char *rp, uint32_t *out);
/*
 * Every store of database db: its own id first, then its policies' stores,
 * each once, ascending. *out strata_malloc'ed, caller frees. STRATA_ENOTFOUND.
 */
int lsm_catalog_stores(lsm_catalog *c, uint32_t db, uint32_t **out, size_t *n_out);
/*
 * The retention of a store: the duration of the policy that uses it (the
 * longest when several do, as catalogs written before stores existed share
 * the database's store among all its policies); 0, forever, when none
 * does. STRATA_ENOTFOUND.
 */
int lsm_catalog_retention(lsm_catalog *c, uint32_t store, int64_t *out);
/*
 * The window length of a store's tables: the shard duration its policy
 * records (the shortest when several policies share the store); 0 when
 * none records one (a policy of a catalog written before shard durations
 * counted), which means the engine's window (lsm_options.window_ns).
 * STRATA_ENOTFOUND.
 */
int lsm_catalog_window(lsm_catalog *c, uint32_t store, int64_t *out);
/*
 * The window length of series id's store (lsm_catalog_window); 0 for a
 * series the catalog does not know, or whose policy records none.
 */
int64_t lsm_catalog_series_window(lsm_catalog *c, uint64_t id);

/*
 * The engine's series_window hook (lsm.h) over a catalog opened after the
 * engine (the engine takes the directory's LOCK first): ctx is an
 * lsm_catalog_windows, installed in lsm_options before lsm_open. Until a
 * catalog is attached every series gets the engine's window (the flush of
 * the WAL replayed by lsm_open). Attach after lsm_catalog_open; close the
 * engine (its last flush asks too) before detaching and closing the
 * catalog.
 */
typedef struct lsm_catalog_windows {
	_Atomic(lsm_catalog *) catalog; /* NULL: every series in the engine's window */
} lsm_catalog_windows;

void lsm_catalog_windows_attach(lsm_catalog_windows *w, lsm_catalog *c);
int64_t lsm_catalog_windows_hook(void *ctx, uint64_t series_id);
/*
 * The longest retention among the stores that hold or may receive points
 * when every one of them has a finite retention; 0 when one keeps its
 * points forever, or when there is none (nothing may then be removed by
 * time alone). A store no policy uses receives no points.
 */
int64_t lsm_catalog_retention_horizon(lsm_catalog *c);
/*
 * The horizon of windows window_ns long: the longest retention of the
 * stores that may have points in such windows — those whose policies ever
 * recorded that shard duration (the catalog keeps each one, as the log is
 * never rewritten) and are still used by a policy. 1 with *out (0: one
 * keeps its points forever), or 0 when no such store exists: windows of
 * that length may hold anything (points flushed before the catalog was
 * attached, or before shard durations counted, are in the engine's
 * window), and the caller must use lsm_catalog_retention_horizon. The
 * engine's own window length must always use the latter.
 */
int lsm_catalog_window_horizon(lsm_catalog *c, int64_t window_ns, int64_t *out);
/* The store of a live series: 0, or STRATA_ENOTFOUND (no message: compaction asks per series). */
int lsm_catalog_series_db(lsm_catalog *c, uint64_t id, uint32_t *out);

/* ---- series ---- */

/* The id of a canonical series key in database db, or STRATA_ENOTFOUND. */
int lsm_catalog_series_id(lsm_catalog *c, uint32_t db, const char *key, size_t key_len, uint64_t *out);

/*
 * The canonical key of a series, copied into out (cap bytes); returns its
 * length, STRATA_ENOTFOUND, or STRATA_ETOOBIG when cap is short.
 */
long lsm_catalog_series_key(lsm_catalog *c, uint64_t id, char *out, size_t cap);

/* Total series in the catalog (all databases). */
uint64_t lsm_catalog_series_count(lsm_catalog *c);

/*
 * Caps the series of the catalog (all databases, reserved ones included):
 * past it lsm_catalog_txn_series fails with STRATA_ETOOBIG for a new
 * series. 0, the default, is no limit. Known series are never refused.
 */
void lsm_catalog_set_max_series(lsm_catalog *c, uint64_t max);
/* The same cap for each database on its own (0: no limit). */
void lsm_catalog_set_max_series_per_db(lsm_catalog *c, uint64_t max);

/*
 * Drops series ids[0..n) of database db: one LSM_CATREC_SERIES_DROP record
 * per series, written with one append and one fdatasync, then each series
 * leaves the key map, the index by id and the postings of its measurement
 * and tags; a tag value, tag key or measurement left without series goes
 * too (a measurement with its fields). Ids not live in db (unknown, of
 * another database, already dropped, or repeated) are skipped. Series ids
 * are never handed out again: a key written after its drop gets a new id.
 * The series' points are not touched: the caller deletes them first.
 * Bumps the drop generation (below) when anything was dropped.
 * 0; STRATA_ENOTFOUND for an unknown database; -ENOMEM; -errno from the
 * write or sync (nothing is dropped, and the catalog refuses changes with
 * STRATA_EREADONLY until reopened).
 */
int lsm_catalog_drop_series(lsm_catalog *c, uint32_t db, const uint64_t *ids, size_t n);

/*
 * A counter bumped by every drop (series or database). A writer that
 * caches key -> id reads it before using its cache and clears the cache
 * when it changed, so a key written after a drop registers a new series.
 */
uint64_t lsm_catalog_generation(lsm_catalog *c);

/* ---- fields ---- */

/*
 * The id and type of field name of measurement in db: 0, or
 * STRATA_ENOTFOUND.
 */
int lsm_catalog_field(lsm_catalog *c, uint32_t db, const char *measurement, size_t m_len,
		      const char *name, size_t name_len, uint32_t *out_id, enum lsm_field_type *out_type);

/* The fields of a measurement (for SHOW FIELD KEYS and SELECT *), sorted by name. */
typedef struct lsm_field_info {
	char *name;
	uint32_t id;
	enum lsm_field_type type;
} lsm_field_info;
int lsm_catalog_fields(lsm_catalog *c, uint32_t db, const char *measurement, size_t m_len,
		       lsm_field_info **out, size_t *n_out);
void lsm_catalog_free_fields(lsm_field_info *fields, size_t n);

/* ---- registering many new series and fields at once ---- */

/*
 * A transaction gathers the series and fields one request needs. Adding a
 * known series or field only fills in its id; new ones are written by
 * commit in one record batch with one fdatasync. The ids given by add are
 * final (reserved at add time), but they may be stored with data only once
 * commit has returned 0. One thread uses a transaction.
 */
typedef struct lsm_catalog_txn lsm_catalog_txn;

int lsm_catalog_txn_new(lsm_catalog_txn **out, lsm_catalog *c);
void lsm_catalog_txn_free(lsm_catalog_txn *t);
/* Empties t for the next request, keeping its memory. */
void lsm_catalog_txn_reset(lsm_catalog_txn *t);

/*
 * The id of a canonical series key in db, reserving a new one if needed.
 * STRATA_EINVAL for a key that is not canonical line protocol (the message
 * says why), STRATA_ETOOBIG past LSM_CATALOG_KEY_MAX or the series limit.
 */
int lsm_catalog_txn_series(lsm_catalog_txn *t, uint32_t db, const char *key, size_t key_len, uint64_t *out_id);

/*
 * The id of a field of a measurement in db, of the given type, reserving it
 * if new. STRATA_ETYPE when the field exists (or was added earlier in this
 * transaction) with another type: *out_type then holds that type.
 */
int lsm_catalog_txn_field(lsm_catalog_txn *t, uint32_t db, const char *measurement, size_t m_len,
			  const char *name, size_t name_len, enum lsm_field_type type,
			  uint32_t *out_id, enum lsm_field_type *out_type);

/*
 * Writes and syncs the new entries (nothing when there are none), then
 * publishes them. -errno from the write or sync (nothing is published, and
 * the catalog refuses changes with STRATA_EREADONLY until reopened);
 * STRATA_ENOTFOUND when a database of the entries was dropped meanwhile
 * (nothing written). t keeps its entries until reset.
 */
int lsm_catalog_txn_commit(lsm_catalog_txn *t);

/* ---- postings (for queries) ----
 * An unknown measurement, tag key or value gives an empty list (*out NULL,
 * *n_out 0); an unknown database is STRATA_ENOTFOUND. Names are the
 * unescaped bytes, NUL-terminated; ids and names are copies owned by the
 * caller.
 */

/* Sorted ids of every series of a measurement in db. *out strata_malloc'ed. */
int lsm_catalog_measurement_series(lsm_catalog *c, uint32_t db, const char *measurement, size_t m_len,
				   uint64_t **out, size_t *n_out);
/* Sorted ids of the series of a measurement with tag key = value. */
int lsm_catalog_tag_series(lsm_catalog *c, uint32_t db, const char *measurement, size_t m_len,
			   const char *key, size_t key_len, const char *value, size_t value_len,
			   uint64_t **out, size_t *n_out);
/* Measurement names of db, sorted. */
int lsm_catalog_measurements(lsm_catalog *c, uint32_t db, char ***out, size_t *n_out);
/* Tag keys of a measurement, sorted. */
int lsm_catalog_tag_keys(lsm_catalog *c, uint32_t db, const char *measurement, size_t m_len, char ***out, size_t *n_out);
/* Values of one tag key of a measurement, sorted. */
int lsm_catalog_tag_values(lsm_catalog *c, uint32_t db, const char *measurement, size_t m_len,
			   const char *key, size_t key_len, char ***out, size_t *n_out);

#endif
