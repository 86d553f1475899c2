/*
 * wal.h — WAL segments: wal/<number>.wal files of framed records (record.h).
 *
 * Writing: a segment is created with its header record and synced (file and
 * directory) before any batch goes in. Only the commit leader appends. After
 * any failed write or sync the segment refuses further writes: the caller
 * turns the engine read-only.
 *
 * Reading: lsm_wal_replay() hands every batch record of one segment to a
 * callback, in order.
 */
#ifndef STRATA_LSM_WAL_H
#define STRATA_LSM_WAL_H

#include "lsm/wal_io.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lsm_wal lsm_wal;

/* "<dir>/wal/<number>.wal" into out (at least 4096 bytes). */
void lsm_wal_path(char *out, size_t out_len, const char *dir, uint64_t number);

/*
 * Creates segment `number` under <dir>/wal (the directory must exist), writes
 * its header record and syncs the file and directory. The io backend is
 * borrowed and must outlive the segment. -errno, -EEXIST if it exists.
 */
int lsm_wal_create(lsm_wal **out, const char *dir, uint64_t number, lsm_wal_io *io);

/*
 * Appends len bytes of already framed records at the end of the segment and,
 * when sync, makes them durable. 0 or -errno; after an error every later call
 * returns STRATA_EREADONLY.
 */
int lsm_wal_append(lsm_wal *w, const void *records, size_t len, bool sync);
/* fdatasync of what was appended. 0 or -errno (sticky like append). */
int lsm_wal_sync(lsm_wal *w);
uint64_t lsm_wal_number(const lsm_wal *w);
/* Bytes in the segment, header included. */
uint64_t lsm_wal_size(const lsm_wal *w);
/* Closes the file (without syncing: sync first when needed). */
void lsm_wal_close(lsm_wal *w);

/* What replay found at the end of a segment. */
typedef struct lsm_wal_replay_result {
	uint64_t n_batches;     /* batch records handed to the callback */
	uint64_t valid_bytes;   /* end of the last whole record */
	uint64_t file_bytes;    /* size of the file */
	bool torn;              /* a damaged or cut-short record ended the replay */
} lsm_wal_replay_result;

/*
 * Reads segment file `path` and calls fn for each batch record's payload (a
 * batch.h encoding, valid during the call), in order. fn returning non-zero
 * stops the replay with that code. A damaged or cut-short record ends the
 * replay: with allow_torn_tail (the newest segment), replay returns 0 with
 * result->torn set and valid_bytes at the damage; otherwise it returns
 * STRATA_ECORRUPT naming the file and offset. STRATA_EVERSION, -errno.
 */
int lsm_wal_replay(const char *path, bool allow_torn_tail,
		   int (*fn)(void *ctx, const uint8_t *batch, size_t len), void *ctx,
		   lsm_wal_replay_result *result);

/*
 * Cuts a segment back to valid_bytes (after a torn tail) and syncs it, so that
 * the next recovery does not meet the damage again.
 */
int lsm_wal_truncate(const char *path, uint64_t valid_bytes);

/* Writes one line per record of the segment at path to out (FILE *): offset, type, length, checksum state, and for batches the sequence and count. */
int lsm_wal_dump(const char *path, void *out_file);

#endif
