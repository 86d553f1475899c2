/*
 * record.h — the record framing shared by WAL segments and the manifest
 * (docs/format-wal.md, docs/format-manifest.md).
 *
 * A file is a sequence of records:
 *   checksum u64 LE   XXH3-64 of the payload, seeded with (length << 8 | type)
 *   length   u32 LE   payload bytes (<= LSM_RECORD_MAX)
 *   type     u8
 *   reserved 3 bytes, zero
 *   payload  length bytes
 * The first record of every file is a header record (LSM_REC_FILE_HEADER)
 * whose payload is: magic 8 bytes, format version u32 LE, file number u64 LE.
 * A record header of 16 zero bytes marks the clean end of a file whose space
 * was allocated ahead.
 */
#ifndef STRATA_LSM_RECORD_H
#define STRATA_LSM_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LSM_RECORD_HEADER_LEN 16
#define LSM_RECORD_MAX (256u << 20)
#define LSM_FILE_HEADER_PAYLOAD_LEN 20

enum lsm_record_type {
	LSM_REC_FILE_HEADER = 1,
	LSM_REC_BATCH = 2,        /* WAL: one write batch (batch.h encoding) */
	LSM_REC_VERSION_EDIT = 3, /* manifest: one version edit */
	LSM_REC_STATE = 4,        /* a whole state snapshot (continuous queries: query/cq.h) */
};

#define LSM_WAL_MAGIC "STRATAWL"
#define LSM_WAL_VERSION 1
#define LSM_MANIFEST_MAGIC "STRATAMF"
#define LSM_MANIFEST_VERSION 2 /* 2: add_file records carry the window length (tag 6) */

/* Writes the 16-byte header for a payload into out. */
void lsm_record_header(uint8_t out[LSM_RECORD_HEADER_LEN], enum lsm_record_type type,
		       const void *payload, size_t len);

/* Fills a file header record's payload (LSM_FILE_HEADER_PAYLOAD_LEN bytes). */
void lsm_record_file_header(uint8_t out[LSM_FILE_HEADER_PAYLOAD_LEN], const char magic[8],
			    uint32_t version, uint64_t file_no);

/*
 * Reads the records of one file, sequentially, into a buffer it owns.
 * One thread. Open checks the file header record: STRATA_ECORRUPT for a bad
 * one or the wrong magic, STRATA_EVERSION for a newer format.
 */
typedef struct lsm_record_reader lsm_record_reader;

int lsm_record_reader_open(lsm_record_reader **out, const char *path, const char magic[8],
			   uint32_t max_version, uint64_t *out_file_no);
/*
 * Reads the next record. Returns 1 with *type, *payload (valid until the next
 * call) and *len; 0 at the clean end of the file (end of file, or a zero
 * header); STRATA_ECORRUPT when the record at lsm_record_reader_offset() is
 * damaged or cut short (a torn tail, if it is the last thing in the file);
 * -errno on a read error.
 */
int lsm_record_reader_next(lsm_record_reader *r, uint8_t *type, const uint8_t **payload, size_t *len);
/* Offset of the record last returned or found damaged; after 0, the end of valid data. */
uint64_t lsm_record_reader_offset(const lsm_record_reader *r);
uint64_t lsm_record_reader_file_size(const lsm_record_reader *r);
void lsm_record_reader_close(lsm_record_reader *r);

#endif
