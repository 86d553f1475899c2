/*
 * fuzz_wal_reader.c — libFuzzer target for the WAL read path: the record
 * reader (lsm/record.c), segment replay (lsm_wal_replay), the batch decoder
 * (lsm/batch.c) and the memtable inserts recovery makes of each entry, plus
 * lsm_wal_dump and lsm_wal_truncate.
 *
 * The input is written as one segment file in a scratch directory on tmpfs
 * (the reader takes a path, not memory), once as it is and once with every
 * record checksum recomputed (fuzz_util.h), and replayed both as an older
 * segment (damage is an error) and as the newest (a torn tail is trimmed).
 * What must always hold:
 * - replay returns 0, STRATA_ECORRUPT or STRATA_EVERSION (or a batch's own
 *   decoding error through the callback), and an error message that names
 *   the file;
 * - valid_bytes never exceeds file_bytes, which is the size written, and
 *   the batches handed over are the ones counted;
 * - the two modes agree: a segment that replays cleanly as the newest (no
 *   tear) replays the same way as an older one, and an older one that
 *   replays cleanly is never torn;
 * - a torn segment cut back to valid_bytes (what recovery does) replays
 *   cleanly with the same batches;
 * - every decoded entry lies inside its record, has a known kind, a value
 *   of at most LSM_VALUE_MAX bytes, and sequence numbers that follow on.
 * A crash, leak, hang or sanitizer report is a finding as well.
 */
#include "tests/fuzz/fuzz_util.h"

#include "lsm/batch.h"
#include "lsm/log.h"
#include "lsm/memtable.h"
#include "lsm/status.h"
#include "lsm/wal.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct replay_state {
	lsm_memtable *mem;
	uint64_t batches;
	uint64_t entries;
	uint64_t entries_added;
	int cb_rc; /* the error on_batch returned, if any */
} replay_state;

/* What recovery does with a batch record (db.c replay_batch), with checks. */
static int on_batch(void *ctx, const uint8_t *data, size_t len)
{
	replay_state *st = ctx;
	lsm_batch_reader r;
	lsm_batch_entry e;
	uint64_t first_seq, n = 0;
	int rc = lsm_batch_reader_init(&r, data, len);

	st->batches++;
	if (rc) {
		CHECK(rc == STRATA_ECORRUPT);
		return st->cb_rc = rc;
	}
	first_seq = r.seq;
	/* Made on first use: most inputs never reach a batch, and a memtable costs an arena block. */
	if (!st->mem)
		CHECK(lsm_memtable_new(&st->mem) == 0);
	while ((rc = lsm_batch_reader_next(&r, &e)) == 1) {
		CHECK(e.kind == LSM_KIND_DELETE || e.kind == LSM_KIND_PUT || e.kind == LSM_KIND_MERGE);
		CHECK(e.seq == first_seq + n);
		CHECK(e.ukey >= data && e.ukey + LSM_UKEY_LEN <= data + len);
		CHECK(e.value_len <= LSM_VALUE_MAX);
		CHECK(e.value_len == 0 || (e.value >= data && e.value + e.value_len <= data + len));
		n++;
		st->entries++;
		rc = lsm_memtable_add(st->mem, e.seq, e.kind, e.ukey, e.value, e.value_len);
		if (rc) {
			CHECK(rc == STRATA_EINVAL || rc == STRATA_ETOOBIG);
			return st->cb_rc = rc;
		}
		st->entries_added++;
	}
	CHECK(rc == 0 || rc == STRATA_ECORRUPT);
	return st->cb_rc = rc;
}

static int replay(const char *path, bool newest, lsm_wal_replay_result *res, replay_state *st)
{
	int rc;

	memset(st, 0, sizeof *st);
	strata_error_clear();
	rc = lsm_wal_replay(path, newest, on_batch, st, res);
	if (rc && rc == st->cb_rc) {
		/* The batch decoder's own error, handed back by on_batch. */
		CHECK(rc == STRATA_ECORRUPT || rc == STRATA_EINVAL || rc == STRATA_ETOOBIG);
	} else if (rc) {
		CHECK(rc == STRATA_ECORRUPT || rc == STRATA_EVERSION);
		CHECK(strstr(strata_last_error(), path) != NULL);
	}
	CHECK(res->valid_bytes <= res->file_bytes);
	CHECK(st->mem ? lsm_memtable_count(st->mem) == st->entries_added : st->entries_added == 0);
	if (rc == 0)
		CHECK(res->n_batches == st->batches);
	if (!newest)
		CHECK(!res->torn);
	if (st->mem)
		lsm_memtable_unref(st->mem);
	st->mem = NULL;
	return rc;
}

static void run(const char *path, const uint8_t *data, size_t size, FILE *devnull)
{
	lsm_wal_replay_result older, newest, again;
	replay_state s_older, s_newest, s_again;
	int rc_older, rc_newest, rc;

	fuzz_write_file(path, data, size);
	rc_older = replay(path, false, &older, &s_older);
	rc_newest = replay(path, true, &newest, &s_newest);
	if (rc_older == 0)
		CHECK(older.file_bytes == size);
	if (rc_newest == 0)
		CHECK(newest.file_bytes == size);
	if (rc_older == 0) {
		CHECK(rc_newest == 0 && !newest.torn);
		CHECK(newest.n_batches == older.n_batches && newest.valid_bytes == older.valid_bytes);
	}
	if (rc_newest == 0 && !newest.torn) {
		CHECK(rc_older == 0);
	}
	if (rc_newest == 0 && newest.torn && newest.valid_bytes > 0) {
		/* Recovery cuts the tail off; the next recovery must not meet damage again. */
		CHECK(newest.file_bytes == size);
		CHECK(lsm_wal_truncate(path, newest.valid_bytes) == 0);
		rc = replay(path, false, &again, &s_again);
		CHECK(rc == 0);
		CHECK(again.n_batches == newest.n_batches);
		CHECK(again.valid_bytes == newest.valid_bytes);
		CHECK(again.file_bytes == newest.valid_bytes);
		fuzz_write_file(path, data, size);
	}
	rc = lsm_wal_dump(path, devnull);
	CHECK(rc == 0 || rc == STRATA_ECORRUPT);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;
static char seg_path[512];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Torn tails are logged as warnings: expected here, and slow on every input. */
	strata_log_set_level(STRATA_LOG_ERROR);
	snprintf(seg_path, sizeof seg_path, "%s/000001.wal", fuzz_scratch_dir());
	devnull = fopen("/dev/null", "w");
	CHECK(devnull != NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	run(seg_path, data, size, devnull);
	copy = malloc(size ? size : 1);
	CHECK(copy != NULL);
	memcpy(copy, data, size);
	if (fuzz_repair_records(copy, size))
		run(seg_path, copy, size, devnull);
	free(copy);
	return 0;
}
