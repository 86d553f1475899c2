/*
 * fuzz_column_block.c — libFuzzer target for the column decoder
 * (lsm/column_block.c), which reads bytes from disk behind a checksum that
 * anyone writing a file can recompute.
 *
 * Input: u32 LE expected block size L, then the encoding. It is decoded
 * expecting L, L + 1 and L - 1 bytes (the seeds carry the true size, so
 * mutations start from decodes that succeed). What must always hold:
 * - lsm_column_decode returns 0 or STRATA_ECORRUPT (inputs are small: no
 *   -ENOMEM), and on an error leaves *out NULL with a "column block: "
 *   message;
 * - at most one of the three sizes decodes;
 * - a decoded block is of the size asked for and well-formed: entries of
 *   internal keys in strictly ascending order and of a known kind, deletes
 *   without a value, every other value a canonical row (decoding and
 *   encoding it again gives the same bytes);
 * - the encoder takes that block back with the restart interval the input
 *   names, and its encoding decodes to the very same block.
 */
#include "tests/fuzz/fuzz_util.h"

#include "lsm/alloc.h"
#include "lsm/block.h"
#include "lsm/column_block.h"
#include "lsm/key.h"
#include "lsm/row.h"
#include "lsm/status.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The block's entries are what the layer above may read from it. */
static void check_block(const uint8_t *data, size_t len)
{
	uint8_t *copy = malloc(len), prev[LSM_IKEY_LEN];
	lsm_block *blk;
	lsm_iter *it;
	size_t n = 0;

	CHECK(copy);
	memcpy(copy, data, len);
	CHECK(lsm_block_new(&blk, copy, len) == 0);
	it = lsm_block_iter_new(blk);
	CHECK(it);
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), n++) {
		size_t klen, vlen;
		const uint8_t *k = lsm_iter_key(it, &klen), *v = lsm_iter_value(it, &vlen);
		enum lsm_kind kind;

		CHECK(klen == LSM_IKEY_LEN);
		CHECK(n == 0 || memcmp(prev, k, LSM_IKEY_LEN) < 0);
		memcpy(prev, k, LSM_IKEY_LEN);
		kind = lsm_ikey_kind(k);
		CHECK(kind == LSM_KIND_DELETE || kind == LSM_KIND_PUT || kind == LSM_KIND_MERGE);
		if (kind == LSM_KIND_DELETE) {
			CHECK(vlen == 0);
		} else {
			long count = lsm_row_count(v, vlen);
			lsm_row_field *f;
			uint8_t *again;
			size_t nf, need;

			CHECK(count >= 0);
			f = malloc(((size_t)count + 1) * sizeof *f);
			CHECK(f);
			CHECK(lsm_row_decode(v, vlen, f, (size_t)count, &nf) == 0);
			need = lsm_row_encoded_max(f, nf);
			again = malloc(need);
			CHECK(again);
			CHECK(lsm_row_encode(again, need, f, nf) == vlen);
			CHECK(memcmp(again, v, vlen) == 0);
			free(again);
			free(f);
		}
	}
	CHECK(lsm_iter_status(it) == 0);
	CHECK(n > 0);
	lsm_iter_free(it);
	lsm_block_free(blk);
}

/* Decodes in expecting block_len bytes; returns the block or NULL. */
static uint8_t *decode(const uint8_t *in, size_t len, size_t block_len)
{
	uint8_t *out = (uint8_t *)&len;
	int rc = lsm_column_decode(in, len, block_len, &out);

	if (rc == STRATA_ECORRUPT) {
		CHECK(out == NULL);
		CHECK(strncmp(strata_last_error(), "column block: ", 14) == 0);
		return NULL;
	}
	CHECK(rc == 0);
	CHECK(out != NULL);
	check_block(out, block_len);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *in;
	uint8_t *exact, *block = NULL;
	size_t len, want, block_len = 0;
	int decoded = 0;

	if (size < 4)
		return 0;
	want = lsm_get_le32(data);
	len = size - 4;
	/* A buffer of exactly the encoding's size: ASan sees a read past it. */
	exact = malloc(len ? len : 1);
	CHECK(exact);
	memcpy(exact, data + 4, len);
	in = exact;
	{
		const size_t sizes[] = { want, want + 1, want ? want - 1 : SIZE_MAX };

		for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
			uint8_t *b = decode(in, len, sizes[k]);

			if (b) {
				decoded++;
				strata_free(block);
				block = b;
				block_len = sizes[k];
			}
		}
	}
	CHECK(decoded <= 1);
	if (block) {
		uint64_t interval = 0;
		uint8_t *enc = NULL, *again = NULL;
		size_t enc_len = 0;

		/* The interval is the first varint of a decodable input. */
		CHECK(lsm_get_varint64(in, in + len, &interval) > 0);
		CHECK(lsm_column_encode(block, block_len, (int)interval, &enc, &enc_len) == 0);
		CHECK(lsm_column_decode(enc, enc_len, block_len, &again) == 0);
		CHECK(memcmp(again, block, block_len) == 0);
		strata_free(again);
		strata_free(enc);
		strata_free(block);
	}
	free(exact);
	return 0;
}
