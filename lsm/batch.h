/*
 * batch.h — a write batch: many entries applied atomically.
 *
 * The encoded form is also the WAL record payload, so a batch is written to
 * the log without re-encoding:
 *
 *   seq    u64 LE   sequence number of the first entry (set at commit)
 *   count  u32 LE   number of entries
 *   count × { kind u8, user key 16 bytes, value_len varint, value bytes }
 *
 * Entry i gets sequence number seq + i. A batch is filled by one thread; once
 * submitted it must not change until the write returns.
 */
#ifndef STRATA_LSM_BATCH_H
#define STRATA_LSM_BATCH_H

#include "lsm/key.h"

#include <stddef.h>
#include <stdint.h>

#define LSM_BATCH_HEADER_LEN 12
/* A value larger than this is refused: it bounds every decoded length. */
#define LSM_VALUE_MAX (16u << 20)
/* An encoded batch larger than this is refused (one WAL record). */
#define LSM_BATCH_MAX (256u << 20)

typedef struct lsm_batch {
	uint8_t *data; /* encoded form, header included */
	size_t len;
	size_t cap;
	uint32_t count;
} lsm_batch;

/* Caller's memory; init allocates nothing. */
void lsm_batch_init(lsm_batch *b);
void lsm_batch_deinit(lsm_batch *b);
/* Empties the batch, keeping its buffer. */
void lsm_batch_clear(lsm_batch *b);

/* Appends an entry. -ENOMEM, or STRATA_ETOOBIG past LSM_VALUE_MAX / LSM_BATCH_MAX. */
int lsm_batch_put(lsm_batch *b, const uint8_t ukey[LSM_UKEY_LEN], const void *value, size_t value_len);
int lsm_batch_merge(lsm_batch *b, const uint8_t ukey[LSM_UKEY_LEN], const void *value, size_t value_len);
int lsm_batch_delete(lsm_batch *b, const uint8_t ukey[LSM_UKEY_LEN]);

static inline uint32_t lsm_batch_count(const lsm_batch *b) { return b->count; }
/* Encoded size, header included (what the WAL record carries). */
static inline size_t lsm_batch_bytes(const lsm_batch *b) { return b->len < LSM_BATCH_HEADER_LEN ? LSM_BATCH_HEADER_LEN : b->len; }

/* Stamps the sequence number of the first entry into the header. */
void lsm_batch_set_seq(lsm_batch *b, uint64_t seq);
uint64_t lsm_batch_seq(const lsm_batch *b);

/* One decoded entry; key and value point into the encoded bytes. */
typedef struct lsm_batch_entry {
	enum lsm_kind kind;
	uint64_t seq;
	const uint8_t *ukey;
	const uint8_t *value;
	size_t value_len;
} lsm_batch_entry;

/* Walks an encoded batch (from a lsm_batch or a WAL record). */
typedef struct lsm_batch_reader {
	const uint8_t *p;
	const uint8_t *end;
	uint64_t seq;
	uint32_t left;
} lsm_batch_reader;

/*
 * Starts reading an encoded batch. STRATA_ECORRUPT if the header is short or
 * the count cannot fit in the bytes given.
 */
int lsm_batch_reader_init(lsm_batch_reader *r, const uint8_t *data, size_t len);
/*
 * Decodes the next entry into out: 1 when one was read, 0 at the end,
 * STRATA_ECORRUPT when an entry is malformed or bytes are left over.
 */
int lsm_batch_reader_next(lsm_batch_reader *r, lsm_batch_entry *out);

#endif
