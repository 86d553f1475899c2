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

#endif
