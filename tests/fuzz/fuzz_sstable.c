/*
 * fuzz_sstable.c — libFuzzer target for the SSTable reader (lsm/sstable.c,
 * lsm/block.c, lsm/bloom.c, lsm/block_cache.c): open, iterate, seek,
 * verify and dump a table file.
 *
 * The input is written as a table file on tmpfs, once as it is and once
 * with its checksums recomputed: the footer's, the trailers of the blocks
 * the footer and the index name, and those of the parts of a column part
 * block (so the decoders behind the checksums see mutated bytes too). Each run uses a fresh block cache of
 * 16 KiB, smaller than one default data block, so inserts evict.
 * What must always hold:
 * - open returns 0, STRATA_ECORRUPT or STRATA_EVERSION, and an error names
 *   the file;
 * - an open table's properties describe a real table (the reader promises
 *   to refuse the others) and its file_bytes is the size written;
 * - iteration ends (at most one entry per byte of the file), every key is
 *   an internal key of 24 bytes, every value at most LSM_VALUE_MAX bytes,
 *   and an early end is STRATA_ECORRUPT;
 * - a second iteration, through a cache that now holds blocks, sees the
 *   same entries and the same ending;
 * - a seek lands at or after its target;
 * - when lsm_sst_verify passes, the table is as the format says: the
 *   iteration ended cleanly with n_entries strictly ascending keys from
 *   smallest to largest, the bloom filter admits every series, and a seek
 *   to any key lands exactly on it;
 * - the column sets of every block, read for one field (column part blocks
 *   then read only that field's part) and for all, are 0, STRATA_ENOTFOUND
 *   (a block of entries) or STRATA_ECORRUPT naming the file, and their
 *   wanted columns decode; when verify passes, none is damaged;
 * - lsm_sst_dump describes any file without failing on damage.
 */
#include "tests/fuzz/fuzz_util.h"

#include "lsm/block_cache.h"
#include "lsm/column_block.h"
#include "lsm/column_parts.h"
#include "lsm/key.h"
#include "lsm/log.h"
#include "lsm/batch.h"
#include "lsm/sstable.h"
#include "lsm/sstable_format.h"
#include "lsm/status.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zstd.h>

/* ---- checksum repair ---- */

/* Recomputes the trailer of the block at [off, off + len) when it lies in the file. */
static void repair_block(uint8_t *buf, size_t size, uint64_t off, uint64_t len)
{
	if (off > size || len > size - off || size - off - len < LSM_SST_TRAILER_LEN)
		return;
	/* The stored bytes and the type byte right after them: one hash over both. */
	lsm_put_le64(buf + off + len + 1, XXH3_64bits(buf + off, (size_t)len + 1));
}

/* Recomputes the checksum of each part of a column part block at [off, off + len), as its own directory lays them out. */
static void repair_parts(uint8_t *buf, size_t size, uint64_t off, uint64_t len)
{
	lsm_colparts_dir d;

	if (off > size || len > size - off || size - off - len < LSM_SST_TRAILER_LEN ||
	    buf[off + len] != LSM_SST_COMP_PARTS || lsm_colparts_dir_parse(&d, buf + off, len, len) != 0)
		return;
	for (size_t k = 0; k <= d.n_cols; k++) {
		const lsm_colpart *c = k == 0 ? &d.head : &d.cols[k - 1];
		uint8_t *p = buf + off + c->offset;

		lsm_put_le32(p + c->len - 4, (uint32_t)XXH3_64bits(p, (size_t)c->len - 4));
	}
	lsm_colparts_dir_free(&d);
}

/*
 * The decoded bytes of the block at [off, off + len) (its trailer's type
 * byte says raw or zstd), in a malloc'ed buffer, or NULL when it cannot be
 * decoded. Decoded sizes are bounded: this is the harness, not the reader.
 */
static uint8_t *decode_block(const uint8_t *buf, size_t size, uint64_t off, uint64_t len, size_t *out_len)
{
	const uint8_t *p;
	uint8_t *out;
	uint64_t raw;
	size_t n;

	if (off > size || len > size - off || size - off - len < LSM_SST_TRAILER_LEN)
		return NULL;
	p = buf + off;
	if (p[len] == LSM_SST_COMP_RAW) {
		out = malloc(len ? len : 1);
		CHECK(out);
		memcpy(out, p, len);
		*out_len = len;
		return out;
	}
	if (p[len] != LSM_SST_COMP_ZSTD)
		return NULL;
	n = lsm_get_varint64(p, p + len, &raw);
	if (n == 0 || raw == 0 || raw > (1u << 20))
		return NULL;
	out = malloc(raw);
	CHECK(out);
	if (ZSTD_decompress(out, raw, p + n, len - n) != raw) {
		free(out);
		return NULL;
	}
	*out_len = raw;
	return out;
}

/* Walks an index block (block_builder.h layout) and repairs each data block it names. */
static void repair_data_blocks(uint8_t *buf, size_t size, const uint8_t *index, size_t len)
{
	const uint8_t *p = index, *end;
	uint32_t n_restarts;

	if (len < 4)
		return;
	n_restarts = lsm_get_le32(index + len - 4);
	if (n_restarts == 0 || n_restarts > (len - 4) / 4)
		return;
	end = index + len - 4 - 4 * (size_t)n_restarts;
	while (p < end) {
		uint64_t shared, unshared, vlen, off, blen;
		size_t n;

		if (!(n = lsm_get_varint64(p, end, &shared)))
			return;
		p += n;
		if (!(n = lsm_get_varint64(p, end, &unshared)))
			return;
		p += n;
		if (!(n = lsm_get_varint64(p, end, &vlen)))
			return;
		p += n;
		if (unshared > (uint64_t)(end - p) || vlen > (uint64_t)(end - p) - unshared)
			return;
		p += unshared;
		n = lsm_get_varint64(p, p + vlen, &off);
		if (n && lsm_get_varint64(p + n, p + vlen, &blen)) {
			repair_parts(buf, size, off, blen);
			repair_block(buf, size, off, blen);
		}
		p += vlen;
	}
}

/* Recomputes every checksum the footer and the index lead to. Returns whether a byte changed. */
static bool repair_table(uint8_t *buf, size_t size, const uint8_t *orig)
{
	uint8_t *footer, *index;
	size_t index_len;

	if (size < LSM_SST_FOOTER_LEN)
		return false;
	footer = buf + size - LSM_SST_FOOTER_LEN;
	index = decode_block(buf, size, lsm_get_le64(footer + LSM_SST_FOOTER_INDEX),
			     lsm_get_le64(footer + LSM_SST_FOOTER_INDEX + 8), &index_len);
	if (index) {
		repair_data_blocks(buf, size, index, index_len);
		free(index);
	}
	for (size_t h = LSM_SST_FOOTER_INDEX; h <= LSM_SST_FOOTER_PROPS; h += 16)
		repair_block(buf, size, lsm_get_le64(footer + h), lsm_get_le64(footer + h + 8));
	lsm_put_le64(footer + LSM_SST_FOOTER_CHECKSUM,
		     XXH3_64bits(footer + LSM_SST_FOOTER_INDEX, LSM_SST_FOOTER_LEN - LSM_SST_FOOTER_INDEX));
	return memcmp(buf, orig, size) != 0;
}

/* ---- reading ---- */

/* What one pass over the table saw. */
typedef struct pass {
	uint64_t n;
	uint64_t hash; /* of every key and value length, in order */
	int status;
	bool ascending;
	uint8_t first[LSM_IKEY_LEN], last[LSM_IKEY_LEN];
	uint8_t (*keys)[LSM_IKEY_LEN]; /* the first max_keys keys */
	size_t max_keys;
} pass;

static void iterate(lsm_sst *s, size_t size, pass *out)
{
	lsm_iter *it = lsm_sst_iter_new(s);

	CHECK(it != NULL);
	out->n = 0;
	out->hash = 0;
	out->ascending = true;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t klen, vlen;
		const uint8_t *k = lsm_iter_key(it, &klen);

		lsm_iter_value(it, &vlen);
		CHECK(klen == LSM_IKEY_LEN);
		CHECK(vlen <= LSM_VALUE_MAX);
		if (out->n == 0)
			memcpy(out->first, k, LSM_IKEY_LEN);
		else if (memcmp(out->last, k, LSM_IKEY_LEN) >= 0)
			out->ascending = false;
		memcpy(out->last, k, LSM_IKEY_LEN);
		if (out->n < out->max_keys)
			memcpy(out->keys[out->n], k, LSM_IKEY_LEN);
		out->hash = XXH3_64bits_withSeed(k, LSM_IKEY_LEN, out->hash ^ vlen);
		out->n++;
		CHECK(out->n <= size); /* every entry takes bytes of the file */
	}
	out->status = lsm_iter_status(it);
	CHECK(out->status == 0 || out->status == STRATA_ECORRUPT);
	lsm_iter_free(it);
}

/* Seeks to target; the entry found (if any) is at or after it. Returns whether it is target itself. */
static bool seek_check(lsm_sst *s, const uint8_t *target)
{
	lsm_iter *it = lsm_sst_iter_new(s);
	bool exact = false;

	CHECK(it != NULL);
	lsm_iter_seek(it, target, LSM_IKEY_LEN);
	if (lsm_iter_valid(it)) {
		size_t klen;
		const uint8_t *k = lsm_iter_key(it, &klen);

		CHECK(klen == LSM_IKEY_LEN);
		CHECK(memcmp(k, target, LSM_IKEY_LEN) >= 0);
		exact = memcmp(k, target, LSM_IKEY_LEN) == 0;
	} else {
		int st = lsm_iter_status(it);

		CHECK(st == 0 || st == STRATA_ECORRUPT);
	}
	lsm_iter_free(it);
	return exact;
}

/*
 * Reads every block's column set for field 1 alone, then for all fields;
 * returns STRATA_ECORRUPT when any read found damage, else 0.
 */
static int columns_pass(lsm_sst *s, lsm_cache *cache, const char *path, size_t size)
{
	static const bool field_one[2] = { false, true };
	const lsm_colwant one = { .by_id = field_one, .n_ids = 2 };
	uint8_t first[LSM_IKEY_LEN] = { 0 };
	lsm_sst_blocks *b = lsm_sst_blocks_new(s);
	int worst = 0, rc;

	CHECK(b != NULL);
	lsm_sst_blocks_seek(b, first);
	for (size_t n = 0; lsm_sst_blocks_valid(b); lsm_sst_blocks_next(b), n++) {
		CHECK(n <= size);
		for (int all = 0; all < 2; all++) {
			lsm_cache_handle *pin = NULL;
			lsm_colset *set = NULL;

			rc = lsm_sst_blocks_columns(b, all ? NULL : &one, &pin, &set);
			CHECK(rc == 0 || rc == STRATA_ECORRUPT || rc == STRATA_ENOTFOUND);
			if (rc == STRATA_ECORRUPT) {
				CHECK(strstr(strata_last_error(), path) != NULL);
				worst = rc;
			}
			if (rc)
				continue;
			CHECK(set != NULL && set->n > 0 && set->n_runs > 0);
			/* What was wanted is decoded: lsm_colset_keep did it, or the read failed. */
			for (size_t k = 0; k < set->n_cols; k++) {
				int vrc;

				if (all || set->cols[k].id == 1)
					CHECK(lsm_colset_values(set, k, &vrc) != NULL);
			}
			if (pin)
				lsm_cache_release(cache, pin);
			else
				lsm_colset_free(set);
		}
	}
	rc = lsm_sst_blocks_status(b);
	CHECK(rc == 0 || rc == STRATA_ECORRUPT);
	lsm_sst_blocks_free(b);
	return worst ? worst : rc;
}

static void check_props(const lsm_sst_props *p, size_t size)
{
	CHECK(p->n_entries > 0 && p->n_data_blocks > 0);
	CHECK(p->n_data_blocks <= p->n_entries && p->n_series <= p->n_entries);
	CHECK(memcmp(p->smallest, p->largest, LSM_IKEY_LEN) <= 0);
	CHECK(p->min_ts <= p->max_ts && p->min_seq <= p->max_seq);
	CHECK(p->file_bytes == size);
	CHECK(p->window_ns > 0); /* recorded (version 3) or the one-day window of older tables */
}

enum { MAX_KEYS = 64 };

static void run(const char *path, const uint8_t *data, size_t size, uint64_t file_no, FILE *devnull)
{
	static uint8_t keys1[MAX_KEYS][LSM_IKEY_LEN], keys2[MAX_KEYS][LSM_IKEY_LEN];
	pass cold = { .keys = keys1, .max_keys = MAX_KEYS }, warm = { .keys = keys2, .max_keys = MAX_KEYS };
	lsm_cache *cache = NULL;
	lsm_sst *s = NULL;
	int rc, columns_rc;

	fuzz_write_file(path, data, size);
	CHECK(lsm_cache_new(&cache, 16384, 0) == 0);
	strata_error_clear();
	rc = lsm_sst_open(&s, path, file_no, cache);
	if (rc) {
		CHECK(rc == STRATA_ECORRUPT || rc == STRATA_EVERSION);
		CHECK(s == NULL);
		CHECK(strstr(strata_last_error(), path) != NULL);
		goto dump;
	}
	check_props(lsm_sst_get_props(s), size);
	iterate(s, size, &cold);
	iterate(s, size, &warm);
	CHECK(cold.n == warm.n && cold.hash == warm.hash && cold.status == warm.status);
	/* Targets from the input itself: its first and last 24 bytes. */
	if (size >= LSM_IKEY_LEN) {
		seek_check(s, data);
		seek_check(s, data + size - LSM_IKEY_LEN);
	}
	columns_rc = columns_pass(s, cache, path, size);
	rc = lsm_sst_verify(s, NULL, NULL);
	CHECK(rc == 0 || rc == STRATA_ECORRUPT);
	if (rc == 0) {
		const lsm_sst_props *p = lsm_sst_get_props(s);

		CHECK(columns_rc == 0);
		CHECK(cold.status == 0);
		CHECK(cold.n == p->n_entries);
		CHECK(cold.ascending);
		CHECK(memcmp(cold.first, p->smallest, LSM_IKEY_LEN) == 0);
		CHECK(memcmp(cold.last, p->largest, LSM_IKEY_LEN) == 0);
		for (uint64_t i = 0; i < cold.n && i < MAX_KEYS; i++) {
			CHECK(lsm_sst_may_contain_series(s, lsm_ukey_series(cold.keys[i])));
			CHECK(seek_check(s, cold.keys[i]));
		}
		CHECK(seek_check(s, cold.last));
	}
	lsm_sst_unref(s);
dump:
	lsm_cache_free(cache);
	rc = lsm_sst_dump(path, true, devnull);
	CHECK(rc == 0 || rc == STRATA_ECORRUPT || rc == STRATA_EVERSION);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;
static char table_path[512];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	strata_log_set_level(STRATA_LOG_ERROR);
	snprintf(table_path, sizeof table_path, "%s/000007.sst", fuzz_scratch_dir());
	devnull = fopen("/dev/null", "w");
	CHECK(devnull != NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);

	CHECK(copy != NULL);
	run(table_path, data, size, 7, devnull);
	memcpy(copy, data, size);
	if (repair_table(copy, size, data))
		run(table_path, copy, size, 8, devnull);
	free(copy);
	return 0;
}
