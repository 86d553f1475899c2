/*
 * version.h — the set of live SSTables, grouped by time window, and the
 * edits that change it.
 *
 * A version is immutable once published and reference counted: a reader pins
 * the current version (lsm_versions_current) and reads its files for as long
 * as it likes, while flushes and compactions publish newer versions. A file
 * is deleted from disk only when no version lists it any more.
 *
 * A window is identified by its length and its number (props.window_ns,
 * props.window): series of retention policies with different shard
 * durations are in windows of different lengths, which may overlap in time
 * but then hold different series, or the same series' points from before
 * and after a change of its length. Readers therefore look at every window
 * overlapping their time range (lsm_version_first_overlap).
 *
 * Within a window, files are ordered newest first (by max_seq, descending),
 * so that a point lookup can stop at the first file that answers.
 */
#ifndef STRATA_LSM_VERSION_H
#define STRATA_LSM_VERSION_H

#include "lsm/block_cache.h"
#include "lsm/sstable.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One live SSTable. Shared by every version that lists it. */
typedef struct lsm_file {
	uint64_t number;
	lsm_sst_props props;     /* props.window is the file's window */
	atomic_int refs;         /* versions (and pins) that hold it */
	atomic_bool obsolete;    /* removed from the live set: delete at last unref */
	pthread_mutex_t open_mu; /* serialises the first open of table */
	atomic_bool opened;      /* table and open_rc are set (release / acquire) */
	lsm_sst *table;          /* opened at first use */
	int open_rc;
	struct lsm_versions *owner;
	/* When compaction first saw the table (its clock), 0 before: how long a closed window has been quiet. */
	_Atomic int64_t seen_ns;
} lsm_file;

/*
 * The open table of f, opening it on first use. 0 with a borrowed pointer
 * valid while f is pinned; or the open error (STRATA_ECORRUPT, -errno), which
 * is remembered.
 */
int lsm_file_table(lsm_file *f, lsm_sst **out);

/*
 * Pins f beyond the versions that list it (e.g. a compaction's inputs). The
 * last unref of a file removed from the live set unlinks it, drops its
 * blocks from the cache and closes its table.
 */
void lsm_file_ref(lsm_file *f);
void lsm_file_unref(lsm_file *f);

typedef struct lsm_window_files {
	int64_t window;          /* its number ... */
	int64_t window_ns;       /* ... among windows this long */
	int64_t first_ns;        /* the first and last time it holds (key.h lsm_window_span) */
	int64_t last_ns;
	size_t n_files;
	lsm_file **files;        /* newest first */
} lsm_window_files;

typedef struct lsm_version {
	atomic_int refs;
	size_t n_windows;
	lsm_window_files *windows; /* ascending by first_ns, then window_ns */
	int64_t max_window_ns;     /* the longest window (1 when there is none) */
	struct lsm_versions *owner;
} lsm_version;

void lsm_version_ref(lsm_version *v);
void lsm_version_unref(lsm_version *v);
/*
 * Index of the first window that may hold a time >= t: every window before
 * it ends before t. Windows from there on are in order of their start;
 * a reader of [t, u] takes those whose last_ns >= t until first_ns > u.
 */
size_t lsm_version_first_overlap(const lsm_version *v, int64_t t);
/* Do windows a and b (of one version) share a time? */
static inline bool lsm_window_overlaps(const lsm_window_files *a, const lsm_window_files *b)
{
	return a->first_ns <= b->last_ns && b->first_ns <= a->last_ns;
}

/* An edit, as logged in the manifest (docs/format-manifest.md). */
typedef struct lsm_version_edit {
	bool has_log_number;
	uint64_t log_number;     /* WAL segments below this number are flushed */
	bool has_next_file;
	uint64_t next_file;
	bool has_last_seq;
	uint64_t last_seq;
	size_t n_added;
	lsm_sst_props *added_props;  /* properties of each added file */
	uint64_t *added_numbers;
	size_t n_deleted;
	uint64_t *deleted_numbers;
	size_t cap_added, cap_deleted;
} lsm_version_edit;

void lsm_version_edit_init(lsm_version_edit *e);
void lsm_version_edit_deinit(lsm_version_edit *e);
int lsm_version_edit_add_file(lsm_version_edit *e, uint64_t number, const lsm_sst_props *props);
int lsm_version_edit_delete_file(lsm_version_edit *e, uint64_t number);
/* Encodes into a new heap buffer (*out, strata_free). -ENOMEM. */
int lsm_version_edit_encode(const lsm_version_edit *e, uint8_t **out, size_t *out_len);
/* Decodes into an initialised edit. STRATA_ECORRUPT on malformed input. */
int lsm_version_edit_decode(lsm_version_edit *e, const uint8_t *data, size_t len);

/*
 * The version set: the current version, the manifest that records it, and
 * the counters it persists (next file number, last sequence, log number).
 *
 * Threads: lsm_versions_current and the getters from any thread (a mutex
 * held for a pointer copy and a reference). lsm_versions_apply from one
 * thread at a time (the caller serialises flush and compaction edits).
 */
typedef struct lsm_versions lsm_versions;

/*
 * Opens the version set of data directory dir: reads CURRENT and replays the
 * manifest it names, or, when there is none and create is true, starts an
 * empty one. Either way it then writes a fresh manifest holding a snapshot of
 * the state and switches CURRENT to it by atomic rename (manifests carry no
 * history that recovery needs). Files are opened through cache (may be NULL).
 * STRATA_ECORRUPT / STRATA_EVERSION naming the file and offset; -errno;
 * STRATA_ENOTFOUND when there is no CURRENT and create is false.
 */
int lsm_versions_open(lsm_versions **out, const char *dir, lsm_cache *cache, bool create);
/*
 * Closes the manifest and drops the current version. Versions and files still
 * pinned stay valid until released (the directory name lives as long as they
 * do); the cache given to open must outlive them.
 */
void lsm_versions_close(lsm_versions *vs);

/* The current version, with a reference for the caller. */
lsm_version *lsm_versions_current(lsm_versions *vs);

/* A new file number (any thread). */
uint64_t lsm_versions_new_file_number(lsm_versions *vs);
/*
 * Notes that number is taken by a file the manifest does not list (a WAL
 * segment): new numbers come after it.
 */
void lsm_versions_note_file_number(lsm_versions *vs, uint64_t number);
uint64_t lsm_versions_log_number(lsm_versions *vs);
uint64_t lsm_versions_last_seq(lsm_versions *vs);

/*
 * Logs edit to the manifest (synced; fault points LSM_FAULT_MANIFEST_*) and
 * publishes the version it makes. The edit's next_file is filled in by this
 * call. On error the current version is unchanged and the manifest refuses
 * further edits (sticky).
 */
int lsm_versions_apply(lsm_versions *vs, lsm_version_edit *edit);

/*
 * The manifest is rewritten as one snapshot edit once it grows past this many
 * bytes (default LSM_MANIFEST_ROLL_BYTES). Call from the applying thread.
 */
#define LSM_MANIFEST_ROLL_BYTES (4u << 20)
void lsm_versions_set_manifest_roll_bytes(lsm_versions *vs, uint64_t bytes);

/* "<dir>/sst/<number>.sst" into out. */
void lsm_sst_path(char *out, size_t out_len, const char *dir, uint64_t number);

/* Bytes and files in the current version (for stats). */
void lsm_versions_totals(lsm_versions *vs, uint64_t *out_files, uint64_t *out_bytes);

#endif
