/*
 * column_block.h — a data block's entries stored as columns.
 *
 * Closed windows are written once and read for a long time, so their data
 * blocks are worth a denser form: the same entries (keys and row values)
 * laid out by column instead of by entry, each column in an encoding that
 * suits it, before zstd goes over the whole (docs/format-sstable.md,
 * "Column blocks"):
 *   - keys: runs of one series (id deltas and counts), timestamps as
 *     delta-of-delta, the sequence/kind trailers as deltas;
 *   - each field (by id and type) a presence bitmap over the entries, then
 *     its values: floats XOR-encoded against the previous value (Gorilla)
 *     or as deltas of their bit patterns, whichever is smaller; integers
 *     and unsigned as zigzag deltas bit-packed in groups of eight at the
 *     group's widest width; booleans as bits; strings through a dictionary
 *     when few are distinct, else raw.
 * The encoding is lossless: decoding gives back the block byte for byte
 * (same entries, same restart interval), so everything above the block
 * layer reads it unchanged and the block cache keeps the decoded form. The
 * encoder proves it before it answers: a block it cannot reproduce
 * exactly (a value that is not a canonical row) is refused, and the writer
 * keeps that block in the entry form.
 */
#ifndef STRATA_LSM_COLUMN_BLOCK_H
#define STRATA_LSM_COLUMN_BLOCK_H

#include "lsm/row.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Encodes block (len bytes, the block_builder layout, built with
 * restart_interval) into a new heap buffer *out of *out_len bytes. 0;
 * STRATA_EINVAL when the block is not suited (the caller stores it as it
 * is); -ENOMEM.
 */
int lsm_column_encode(const uint8_t *block, size_t len, int restart_interval, uint8_t **out,
		      size_t *out_len);

/*
 * Decodes in[0..len) into a new heap buffer *out holding the original
 * block, which must be exactly block_len bytes (known from the stored
 * block's header). 0; STRATA_ECORRUPT for anything malformed, truncated or
 * of another size (never reading outside in); -ENOMEM.
 */
int lsm_column_decode(const uint8_t *in, size_t len, size_t block_len, uint8_t **out);
/* The same, taking over buf (a heap buffer, freed also on failure): no copy of the input. */
int lsm_column_decode_buf(uint8_t *buf, size_t len, size_t block_len, uint8_t **out);

/*
 * The same columns kept as columns, for readers that want a few fields of
 * many entries (column_scan.h): keys as arrays, and each column decoded on
 * its first use into one value slot per entry (zero where absent).
 */
typedef union lsm_colval {
	double f;
	int64_t i;
	uint64_t u; /* booleans: 0 or 1 */
} lsm_colval;
/* Readers may walk a column as an array of 64-bit patterns. */
_Static_assert(sizeof(lsm_colval) == sizeof(uint64_t), "a column value is 8 bytes");

typedef struct lsm_colstr {
	const char *p; /* into the set's buffer */
	size_t len;
} lsm_colstr;

typedef struct lsm_colvec {
	uint32_t id;
	enum lsm_field_type type;
	const uint8_t *present; /* one bit per entry, least significant first (NULL: a column not read) */
	size_t n_vals;          /* entries present */
	const uint8_t *payload; /* the encoded values (NULL once dropped by lsm_colset_keep) */
	size_t payload_len;
	_Atomic(void *) vals;   /* lsm_colval[n] (lsm_colstr[n] for strings) once decoded */
} lsm_colvec;

typedef struct lsm_colset {
	size_t n;               /* entries */
	size_t n_runs;          /* runs of one series */
	uint64_t *run_series;   /* series id of each run, ascending */
	size_t *run_start;      /* first entry of each run; [n_runs] = n */
	int64_t *ts;            /* timestamp of each entry */
	/*
	 * Every entry is a PUT and no key appears twice: each entry is the
	 * key's value as it stands in this table, with no folding to do.
	 */
	bool simple;
	int restart_interval;
	const uint8_t *trailers; /* the encoded sequence/kind trailers, in buf */
	size_t n_cols;
	lsm_colvec *cols;       /* ascending by field id, then type */
	uint8_t *buf;           /* the encoding: presence, payloads and strings point into it */
	size_t buf_len;         /* (NULL and 0 once lsm_colset_keep has let it go) */
	uint8_t *presence;      /* the bitmaps, copied out of buf by lsm_colset_keep */
} lsm_colset;

/*
 * The fields a reader of a set wants, by field id (any type): want[id] for
 * id < n_ids. A NULL lsm_colwant wants every column.
 */
typedef struct lsm_colwant {
	const bool *by_id;
	uint32_t n_ids;
} lsm_colwant;

/*
 * Parses the encoding in buf[0..len) (a heap buffer the set takes over,
 * freed with it, also on failure) into a new set; column values are left
 * encoded. 0; STRATA_ECORRUPT; -ENOMEM.
 */
int lsm_colset_decode(lsm_colset **out, uint8_t *buf, size_t len);
void lsm_colset_free(lsm_colset *cs);

/*
 * Readies a freshly decoded set for sharing (the block cache): decodes the
 * columns `want` names (every column when want is NULL), and lets go of
 * the encoding of the others and of the buffer (kept only while a decoded
 * string column points into it). A query reading one field of ten then
 * keeps its keys and that column, about a fifth of the block, and touches
 * no more memory than that. Columns are decoded also with keep from
 * another set (the columns it holds decoded; may be NULL), so a set read
 * again for more columns keeps what the old one had. 0; STRATA_ECORRUPT;
 * -ENOMEM (the set stays usable as decoded).
 */
int lsm_colset_keep(lsm_colset *cs, const lsm_colwant *want, const lsm_colset *keep);
/* Whether every column of the set that want names is decoded. */
bool lsm_colset_has(const lsm_colset *cs, const lsm_colwant *want);
/* The set's heap bytes (its block-cache charge), after lsm_colset_keep. */
size_t lsm_colset_charge(const lsm_colset *cs);

/*
 * Column k's values by entry, decoding them on the first call. Any number
 * of threads may call this on a shared set (the first decoding published
 * wins). NULL with *rc set on failure: STRATA_ECORRUPT, -ENOMEM, or
 * STRATA_ENOTFOUND for a column lsm_colset_keep dropped.
 */
const void *lsm_colset_values(lsm_colset *cs, size_t k, int *rc);

/*
 * Whether a set readied with want and keep holds the column of field id and
 * type decoded (lsm_colset_keep): want names the field, or keep holds the
 * column decoded.
 */
bool lsm_colset_needs(const lsm_colwant *want, const lsm_colset *keep, uint32_t id, enum lsm_field_type type);

/* Where a column lies in an encoding (lsm_column_layout). */
typedef struct lsm_colspan {
	uint32_t id;
	enum lsm_field_type type;
	size_t offset, len; /* its bytes: field id, type, presence, payload length and payload */
} lsm_colspan;

/*
 * The layout of an encoding (one lsm_column_encode gave): *head_len bytes
 * of keys (everything before the column count), then the columns, each
 * spanning (*cols)[k] (a new heap array of *n_cols). 0; STRATA_ECORRUPT;
 * -ENOMEM.
 */
int lsm_column_layout(const uint8_t *enc, size_t len, size_t *head_len, lsm_colspan **cols, size_t *n_cols);

/*
 * Adds to a set decoded from only some of its block's columns the others
 * (cols: id and type, ascending; offsets unused) as columns not read: no
 * presence, no payload, so lsm_colset_values gives STRATA_ENOTFOUND and
 * lsm_colset_has is false for a reader who wants one. Call before
 * lsm_colset_keep. 0; STRATA_ECORRUPT when a column is in both; -ENOMEM.
 */
int lsm_colset_add_unloaded(lsm_colset *cs, const lsm_colspan *cols, size_t n);

static inline bool lsm_colset_present(const lsm_colvec *c, size_t i)
{
	return (c->present[i / 8] >> (i % 8)) & 1;
}

#endif
