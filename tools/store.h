/*
 * store.h — what the subcommands share about a data directory:
 *   - opening it the way the server does (the engine with the row merge
 *     hook, and the catalog beside it);
 *   - reading its files without the engine, for the tools that inspect or
 *     mend a directory the engine may refuse to open (check, dump, stats,
 *     restore): mapped files, record walks, CURRENT, a manifest replayed
 *     into its list of tables;
 *   - copying files durably, and formatting times.
 */
#ifndef STRATA_TOOLS_STORE_H
#define STRATA_TOOLS_STORE_H

#include "lsm/catalog.h"
#include "lsm/lsm.h"
#include "lsm/sstable.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cli_store {
	lsm_db *db;
	lsm_catalog *catalog;
	lsm_catalog_windows windows; /* the engine's series_window hook: each policy's shard duration */
} cli_store;

/*
 * Opens both (the engine first: it takes the LOCK), with the engine's
 * series_window hook reading the catalog, so that each series' tables are
 * in windows of its policy's shard duration; out must stay where it is
 * until closed. On failure prints why (prefixed with what) and returns the
 * error.
 */
int cli_store_open(cli_store *out, const char *dir, const lsm_options *opt, const char *what);
/* Closes both, the engine first (its last flush asks the catalog); returns the first error. */
int cli_store_close(cli_store *s);
/* lsm_options_default plus what strata's data needs (the row merge hook). */
void cli_store_options(lsm_options *out);

/* ---- files without the engine ---- */

/* A whole file mapped read-only. An empty file has data NULL and size 0. */
typedef struct cli_map {
	const uint8_t *data;
	uint64_t size;
} cli_map;

/* 0, or -errno with a message naming path. */
int cli_map_open(cli_map *out, const char *path);
void cli_map_close(cli_map *m);

/* One record of a record file (lsm/record.h framing). */
typedef struct cli_record {
	uint64_t off;
	uint8_t type;
	const uint8_t *payload; /* into the map */
	uint32_t len;
} cli_record;

/*
 * The record at *pos: 1 with *out, *pos moved past it; 0 at the clean end
 * (end of file, or a zero header followed by zeros only), *pos then the end
 * of the valid data; STRATA_ECORRUPT with a message naming path and the
 * offset, *pos left at the damaged record.
 */
int cli_record_next(const cli_map *m, const char *path, uint64_t *pos, cli_record *out);

/* Record types (bit t for type t) an intact record of each kind of file may have. */
#define CLI_TYPES_LOG ((1u << 1) | (1u << 2) | (1u << 3))            /* WAL and manifest */
#define CLI_TYPES_CATALOG ((1u << 1) | (0x3fu << 16))                 /* catalog.log: types 16..21 */

/*
 * The first offset in [from, size) where an intact record starts: a header
 * with zero reserved bytes, a type in types, a length inside the file and a
 * checksum that matches its payload. m->size when there is none. A damaged
 * record with no intact one after it is a torn tail; with one, damage in the
 * middle (the rule recovery applies, docs/format-*.md).
 */
uint64_t cli_record_find(const cli_map *m, uint64_t from, uint32_t types);

/* Numbers of the files named <number><suffix> in dir, ascending (none when dir is missing). */
int cli_list_numbered(const char *dir, const char *suffix, uint64_t **out, size_t *n_out);

/*
 * The manifest number CURRENT names (docs/format-manifest.md): 0;
 * STRATA_ENOTFOUND when there is no CURRENT; STRATA_ECORRUPT when it is
 * malformed or fails its checksum (the message says how).
 */
int cli_current_read(const char *data, uint64_t *out);

typedef struct cli_table {
	uint64_t number;
	lsm_sst_props props;
} cli_table;

/* A manifest replayed: the live tables and counters, and where replay stopped. */
typedef struct cli_manifest {
	uint64_t number;         /* the file number in its header */
	cli_table *tables;       /* ascending by number */
	size_t n_tables, cap;
	uint64_t log_number, next_file, last_seq;
	uint64_t n_edits;        /* edits applied */
	uint64_t file_bytes;
	uint64_t valid_bytes;    /* end of the last record applied */
	int damage;              /* 0, or the error that stopped the replay at valid_bytes */
	bool torn;               /* the damage is a torn tail (nothing intact after it) */
	uint64_t intact_at;      /* damage in the middle: an intact record starts here */
	char why[512];           /* what the damage is */
} cli_manifest;

/*
 * Replays the manifest at path into out (which it initialises): edits are
 * applied with the engine's rules (a file added twice or deleted while not
 * live is damage, counters only grow) until the end or the first damage,
 * which is described in out, not returned. -errno when the file cannot be
 * read at all (out is then empty).
 */
int cli_manifest_load(cli_manifest *out, const char *path);
void cli_manifest_init(cli_manifest *m);
void cli_manifest_free(cli_manifest *m);
cli_table *cli_manifest_find(const cli_manifest *m, uint64_t number);
/* -ENOMEM; STRATA_EINVAL when number is live. */
int cli_manifest_add(cli_manifest *m, uint64_t number, const lsm_sst_props *props);
/* STRATA_ENOTFOUND when number is not live. */
int cli_manifest_remove(cli_manifest *m, uint64_t number);

/* "2026-01-02T03:04:05Z" (with .nnnnnnnnn when not whole seconds), or the number when out of range. */
void cli_format_time(char *out, size_t len, int64_t ts_ns);

/* Human bytes: "512 B", "1.5 KiB", "3.2 GiB". */
void cli_format_bytes(char *out, size_t len, uint64_t bytes);

/*
 * Copies the file at from to a new file at to (which must not exist),
 * fsynced. progress (may be NULL) gets the bytes copied so far. -errno
 * with a message.
 */
int cli_copy_file(const char *from, const char *to, void (*progress)(void *ctx, uint64_t bytes), void *ctx);

/* fsync of a directory. */
int cli_sync_dir(const char *path);

/* Monotonic nanoseconds. */
uint64_t cli_now_ns(void);

#endif
