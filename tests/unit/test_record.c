/*
 * test_record.c — the record framing (lsm/record.h): round trips, the
 * checksum definition, the clean end, and every kind of damage reported as
 * STRATA_ECORRUPT at the right offset.
 */
#include "lsm/coding.h"
#include "lsm/record.h"
#include "lsm/status.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include <setjmp.h>
#include <cmocka.h>

static char tmpdir[64];
static char path[128];

/* An in-memory file image. */
struct image {
	uint8_t *p;
	size_t len, cap;
	size_t off[64]; /* offset of each record */
	int n;
};

static void image_add(struct image *im, enum lsm_record_type type, const void *payload, size_t len)
{
	size_t need = im->len + LSM_RECORD_HEADER_LEN + len;

	if (need > im->cap) {
		im->cap = need * 2;
		im->p = realloc(im->p, im->cap);
		assert_non_null(im->p);
	}
	assert_true(im->n < 64);
	im->off[im->n++] = im->len;
	lsm_record_header(im->p + im->len, type, payload, len);
	if (len)
		memcpy(im->p + im->len + LSM_RECORD_HEADER_LEN, payload, len);
	im->len = need;
}

static void image_add_file_header(struct image *im, const char magic[8], uint32_t version, uint64_t no)
{
	uint8_t h[LSM_FILE_HEADER_PAYLOAD_LEN];

	lsm_record_file_header(h, magic, version, no);
	image_add(im, LSM_REC_FILE_HEADER, h, sizeof h);
}

/* A header and records of 0, 1, 100 and 1000 bytes with a recognisable pattern. */
static void image_standard(struct image *im)
{
	static const size_t sizes[] = { 0, 1, 100, 1000 };
	uint8_t payload[1000];

	memset(im, 0, sizeof(*im));
	image_add_file_header(im, LSM_WAL_MAGIC, LSM_WAL_VERSION, 42);
	for (size_t i = 0; i < 4; i++) {
		for (size_t j = 0; j < sizes[i]; j++)
			payload[j] = (uint8_t)(i * 31 + j);
		image_add(im, LSM_REC_BATCH, payload, sizes[i]);
	}
}

static void write_file(const uint8_t *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	close(fd);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/strata-test-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(path, sizeof path, "%s/file", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/*
 * Reads the file through the reader: returns the result of the first call
 * that did not return a record, with the number of records read and the
 * offset where it stopped.
 */
static int read_all(int *n_records, uint64_t *stop_off)
{
	lsm_record_reader *r;
	uint64_t file_no = 0;
	int rc, n = 0;

	rc = lsm_record_reader_open(&r, path, LSM_WAL_MAGIC, LSM_WAL_VERSION, &file_no);
	if (rc)
		return rc;
	assert_int_equal(file_no, 42);
	for (int i = 0; i < 100; i++) {
		const uint8_t *payload;
		size_t len;
		uint8_t type;

		rc = lsm_record_reader_next(r, &type, &payload, &len);
		if (rc != 1)
			break;
		n++;
	}
	*n_records = n;
	*stop_off = lsm_record_reader_offset(r);
	/* The result is sticky. */
	{
		const uint8_t *payload;
		size_t len;
		uint8_t type;

		assert_int_equal(lsm_record_reader_next(r, &type, &payload, &len), rc);
	}
	lsm_record_reader_close(r);
	return rc;
}

static void assert_message_names_offset(uint64_t off)
{
	char want[64];

	snprintf(want, sizeof want, "offset %" PRIu64, off);
	if (!strstr(strata_last_error(), want))
		fail_msg("message '%s' does not name '%s'", strata_last_error(), want);
	if (!strstr(strata_last_error(), path))
		fail_msg("message '%s' does not name the file", strata_last_error());
}

static void test_record_round_trip(void **state)
{
	static const size_t sizes[] = { 0, 1, 100, 1000 };
	struct image im;
	lsm_record_reader *r;
	uint64_t file_no;

	(void)state;
	image_standard(&im);
	write_file(im.p, im.len);
	assert_int_equal(lsm_record_reader_open(&r, path, LSM_WAL_MAGIC, LSM_WAL_VERSION, &file_no), 0);
	assert_int_equal(file_no, 42);
	assert_int_equal(lsm_record_reader_file_size(r), im.len);
	for (size_t i = 0; i < 4; i++) {
		const uint8_t *payload;
		size_t len;
		uint8_t type;

		assert_int_equal(lsm_record_reader_next(r, &type, &payload, &len), 1);
		assert_int_equal(type, LSM_REC_BATCH);
		assert_int_equal(len, sizes[i]);
		assert_int_equal(lsm_record_reader_offset(r), im.off[i + 1]);
		for (size_t j = 0; j < len; j++)
			assert_int_equal(payload[j], (uint8_t)(i * 31 + j));
	}
	{
		const uint8_t *payload;
		size_t len;
		uint8_t type;

		assert_int_equal(lsm_record_reader_next(r, &type, &payload, &len), 0);
		assert_int_equal(lsm_record_reader_offset(r), im.len);
	}
	lsm_record_reader_close(r);
	free(im.p);
}

/* Records larger than the read-ahead window, next to small ones. */
static void test_record_large_records(void **state)
{
	struct image im = { 0 };
	size_t big = 3u << 20;
	uint8_t *payload = malloc(big);
	lsm_record_reader *r;

	(void)state;
	assert_non_null(payload);
	for (size_t j = 0; j < big; j++)
		payload[j] = (uint8_t)(j * 7 + (j >> 13));
	image_add_file_header(&im, LSM_WAL_MAGIC, LSM_WAL_VERSION, 42);
	image_add(&im, LSM_REC_BATCH, payload, 10);
	image_add(&im, LSM_REC_BATCH, payload, big);
	image_add(&im, LSM_REC_BATCH, payload, 300000);
	image_add(&im, LSM_REC_BATCH, payload, 5);
	write_file(im.p, im.len);
	assert_int_equal(lsm_record_reader_open(&r, path, LSM_WAL_MAGIC, LSM_WAL_VERSION, NULL), 0);
	{
		static const size_t want[] = { 10, 3u << 20, 300000, 5 };

		for (int i = 0; i < 4; i++) {
			const uint8_t *p;
			size_t len;
			uint8_t type;

			assert_int_equal(lsm_record_reader_next(r, &type, &p, &len), 1);
			assert_int_equal(len, want[i]);
			assert_memory_equal(p, payload, len);
		}
	}
	lsm_record_reader_close(r);
	free(payload);
	free(im.p);
}

/* The checksum is XXH3-64 of the payload seeded with (length << 8 | type). */
static void test_record_checksum_definition(void **state)
{
	uint8_t h[LSM_RECORD_HEADER_LEN];
	const char *payload = "hello, strata";
	size_t len = strlen(payload);

	(void)state;
	lsm_record_header(h, LSM_REC_BATCH, payload, len);
	assert_true(lsm_get_le64(h) == XXH3_64bits_withSeed(payload, len, (uint64_t)len << 8 | LSM_REC_BATCH));
	assert_int_equal(lsm_get_le32(h + 8), len);
	assert_int_equal(h[12], LSM_REC_BATCH);
	assert_int_equal(h[13] | h[14] | h[15], 0);
	/* The type is covered: the same payload as another type checks differently. */
	{
		uint8_t h2[LSM_RECORD_HEADER_LEN];

		lsm_record_header(h2, LSM_REC_VERSION_EDIT, payload, len);
		assert_true(lsm_get_le64(h2) != lsm_get_le64(h));
	}
}

static void test_record_zero_header_is_clean_end(void **state)
{
	struct image im;
	uint8_t *p;
	uint64_t off;
	int n;

	(void)state;
	image_standard(&im);
	/* Space allocated ahead: zeros after the last record. */
	p = calloc(1, im.len + 4096);
	memcpy(p, im.p, im.len);
	write_file(p, im.len + 4096);
	assert_int_equal(read_all(&n, &off), 0);
	assert_int_equal(n, 4);
	assert_int_equal(off, im.len);
	free(p);
	free(im.p);
}

static void test_record_zero_header_then_data_is_corrupt(void **state)
{
	struct image im;
	uint8_t *p;
	uint64_t off;
	int n;

	(void)state;
	image_standard(&im);
	p = calloc(1, im.len + 4096);
	memcpy(p, im.p, im.len);
	p[im.len + 3000] = 1;
	write_file(p, im.len + 4096);
	assert_int_equal(read_all(&n, &off), STRATA_ECORRUPT);
	assert_int_equal(n, 4);
	assert_int_equal(off, im.len);
	assert_message_names_offset(im.len);
	free(p);
	free(im.p);
}

/* Flips one byte at image offset at and expects damage at record rec. */
static void expect_damage(const struct image *im, size_t at, int rec)
{
	uint8_t *p = malloc(im->len);
	uint64_t off;
	int n;

	memcpy(p, im->p, im->len);
	p[at] ^= 0x40;
	write_file(p, im->len);
	assert_int_equal(read_all(&n, &off), STRATA_ECORRUPT);
	assert_int_equal(n, rec - 1);
	assert_int_equal(off, im->off[rec]);
	assert_message_names_offset(im->off[rec]);
	free(p);
}

static void test_record_flipped_payload_byte(void **state)
{
	struct image im;

	(void)state;
	image_standard(&im);
	/* Each byte of the last record's payload, and one in the middle record. */
	for (size_t at = im.off[4] + LSM_RECORD_HEADER_LEN; at < im.len; at += 37)
		expect_damage(&im, at, 4);
	expect_damage(&im, im.off[3] + LSM_RECORD_HEADER_LEN + 50, 3);
	free(im.p);
}

static void test_record_flipped_header_bytes(void **state)
{
	struct image im;

	(void)state;
	image_standard(&im);
	/* Checksum, length, type and reserved bytes of records 2..4. */
	for (int rec = 2; rec <= 4; rec++)
		for (size_t i = 0; i < LSM_RECORD_HEADER_LEN; i++)
			expect_damage(&im, im.off[rec] + i, rec);
	free(im.p);
}

static void set_header_field(struct image *im, int rec, size_t field_off, uint32_t v)
{
	lsm_put_le32(im->p + im->off[rec] + field_off, v);
}

static void test_record_length_over_limit(void **state)
{
	struct image im;
	uint64_t off;
	int n;

	(void)state;
	image_standard(&im);
	/* A length over LSM_RECORD_MAX, and one past the end of the file: both refused before reading. */
	set_header_field(&im, 4, 8, LSM_RECORD_MAX + 1);
	write_file(im.p, im.len);
	assert_int_equal(read_all(&n, &off), STRATA_ECORRUPT);
	assert_int_equal(off, im.off[4]);
	assert_non_null(strstr(strata_last_error(), "limit"));
	set_header_field(&im, 4, 8, UINT32_MAX);
	write_file(im.p, im.len);
	assert_int_equal(read_all(&n, &off), STRATA_ECORRUPT);
	assert_int_equal(off, im.off[4]);
	set_header_field(&im, 4, 8, LSM_RECORD_MAX);
	write_file(im.p, im.len);
	assert_int_equal(read_all(&n, &off), STRATA_ECORRUPT);
	assert_int_equal(off, im.off[4]);
	assert_non_null(strstr(strata_last_error(), "cut short"));
	free(im.p);
}

static void test_record_reserved_bytes_must_be_zero(void **state)
{
	struct image im;
	uint64_t off;
	int n;

	(void)state;
	image_standard(&im);
	im.p[im.off[3] + 14] = 1;
	write_file(im.p, im.len);
	assert_int_equal(read_all(&n, &off), STRATA_ECORRUPT);
	assert_int_equal(n, 2);
	assert_int_equal(off, im.off[3]);
	assert_non_null(strstr(strata_last_error(), "reserved"));
	free(im.p);
}

/* Cut at every byte of the last record: damage at its offset; cut at its start: a clean end. */
static void test_record_truncated_every_byte(void **state)
{
	struct image im;

	(void)state;
	image_standard(&im);
	for (size_t cut = im.off[4]; cut < im.len; cut++) {
		uint64_t off;
		int n, rc;

		write_file(im.p, cut);
		rc = read_all(&n, &off);
		assert_int_equal(n, 3);
		assert_int_equal(off, im.off[4]);
		if (cut == im.off[4]) {
			assert_int_equal(rc, 0);
		} else {
			assert_int_equal(rc, STRATA_ECORRUPT);
			assert_message_names_offset(im.off[4]);
		}
	}
	free(im.p);
}

static void test_record_open_checks_file_header(void **state)
{
	struct image im = { 0 };
	lsm_record_reader *r = NULL;

	(void)state;
	/* Empty file. */
	write_file((const uint8_t *)"", 0);
	assert_int_equal(lsm_record_reader_open(&r, path, LSM_WAL_MAGIC, LSM_WAL_VERSION, NULL), STRATA_ECORRUPT);
	assert_null(r);
	/* Wrong magic: a manifest is not a WAL segment. */
	image_add_file_header(&im, LSM_MANIFEST_MAGIC, LSM_MANIFEST_VERSION, 42);
	write_file(im.p, im.len);
	assert_int_equal(lsm_record_reader_open(&r, path, LSM_WAL_MAGIC, LSM_WAL_VERSION, NULL), STRATA_ECORRUPT);
	assert_non_null(strstr(strata_last_error(), "magic"));
	/* A newer format version. */
	im.len = 0;
	im.n = 0;
	image_add_file_header(&im, LSM_WAL_MAGIC, LSM_WAL_VERSION + 1, 42);
	write_file(im.p, im.len);
	assert_int_equal(lsm_record_reader_open(&r, path, LSM_WAL_MAGIC, LSM_WAL_VERSION, NULL), STRATA_EVERSION);
	/* The first record is not a file header. */
	im.len = 0;
	im.n = 0;
	image_add(&im, LSM_REC_BATCH, "12345678901234567890", LSM_FILE_HEADER_PAYLOAD_LEN);
	write_file(im.p, im.len);
	assert_int_equal(lsm_record_reader_open(&r, path, LSM_WAL_MAGIC, LSM_WAL_VERSION, NULL), STRATA_ECORRUPT);
	/* A damaged file header. */
	im.len = 0;
	im.n = 0;
	image_add_file_header(&im, LSM_WAL_MAGIC, LSM_WAL_VERSION, 42);
	im.p[LSM_RECORD_HEADER_LEN + 2] ^= 1;
	write_file(im.p, im.len);
	assert_int_equal(lsm_record_reader_open(&r, path, LSM_WAL_MAGIC, LSM_WAL_VERSION, NULL), STRATA_ECORRUPT);
	/* A missing file is an errno, not corruption. */
	unlink(path);
	assert_int_equal(lsm_record_reader_open(&r, path, LSM_WAL_MAGIC, LSM_WAL_VERSION, NULL), -ENOENT);
	free(im.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_record_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_large_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_checksum_definition, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_zero_header_is_clean_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_zero_header_then_data_is_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_flipped_payload_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_flipped_header_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_length_over_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_reserved_bytes_must_be_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_truncated_every_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_open_checks_file_header, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
