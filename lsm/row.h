/*
 * row.h — the value of one point: all its fields, compactly encoded.
 *
 *   n_fields varint
 *   n_fields × { field_id varint (ascending), type u8, value }
 *   value by type: FLOAT 8 bytes LE (IEEE 754 bits); INT zigzag varint;
 *                  UINT varint; BOOL 1 byte (0/1); STRING varint length + bytes
 *
 * Field ids come from the catalog (catalog.h), per database. A row never
 * holds the same field id twice. lsm_row_merge is the engine's merge hook:
 * writing a point again merges its fields, a field written later winning.
 */
#ifndef STRATA_LSM_ROW_H
#define STRATA_LSM_ROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lsm_field_type {
	LSM_FIELD_FLOAT = 1,
	LSM_FIELD_INT = 2,
	LSM_FIELD_UINT = 3,
	LSM_FIELD_STRING = 4,
	LSM_FIELD_BOOL = 5,
};

/* "float", "integer", "unsigned", "string", "boolean" (InfluxDB's names). */
const char *lsm_field_type_name(enum lsm_field_type t);

typedef struct lsm_row_field {
	uint32_t id;
	enum lsm_field_type type;
	union {
		double f;
		int64_t i;
		uint64_t u;
		bool b;
		struct {
			const char *p;
			size_t len;
		} s;
	} v;
} lsm_row_field;

/* Upper bound of the encoded size of n fields. */
size_t lsm_row_encoded_max(const lsm_row_field *fields, size_t n);

/*
 * Sorts fields by id, keeping the last of duplicate ids (a field written
 * twice in one line: the later one wins), and returns the new count.
 */
size_t lsm_row_normalize(lsm_row_field *fields, size_t n);

/*
 * Encodes normalized fields into out (cap bytes, at least
 * lsm_row_encoded_max) and returns the length, or 0 if cap is too small
 * (or the fields are not normalized — ids strictly ascending — or hold an
 * unknown type: nothing a decoder would accept is written then).
 */
size_t lsm_row_encode(uint8_t *out, size_t cap, const lsm_row_field *fields, size_t n);

/*
 * Decodes a row into out (room for max fields); string values point into
 * row. 0 with *n_out, STRATA_ECORRUPT for a malformed row, STRATA_ETOOBIG
 * when it holds more than max fields.
 */
int lsm_row_decode(const uint8_t *row, size_t len, lsm_row_field *out, size_t max, size_t *n_out);

/*
 * As lsm_row_decode, keeping only the fields whose id is below n_want with
 * want[id] set (a query reading a few fields of wide rows). The whole row
 * is still checked.
 */
int lsm_row_decode_some(const uint8_t *row, size_t len, const bool *want, uint32_t n_want, lsm_row_field *out,
			size_t max, size_t *n_out);

/* Number of fields of an encoded row, or -1 if malformed. */
long lsm_row_count(const uint8_t *row, size_t len);

/*
 * lsm_merge_fn: the union of the fields of older and newer, newer winning
 * for a field in both. *out is strata_malloc'ed. STRATA_ECORRUPT.
 */
int lsm_row_merge(void *ctx, const uint8_t *older, size_t older_len, const uint8_t *newer,
		  size_t newer_len, uint8_t **out, size_t *out_len);

#endif
