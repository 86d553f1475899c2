/*
 * record.c — the record framing of record.h, shared by WAL segments and the
 * manifest: writing a record header, and a sequential reader that checks
 * every record.
 *
 * The reader keeps one window of the file in a buffer it owns and refills it
 * with pread, so that replaying many small records costs one system call per
 * window, not two per record. A record larger than the window grows the
 * buffer, but only after its length has been checked against LSM_RECORD_MAX
 * and against the bytes left in the file, so a damaged length can never make
 * it allocate more than the file holds.
 *
 * The end of a file is clean in two cases only: end of file exactly at a
 * record boundary, or a record header of 16 zero bytes (space allocated
 * ahead) with nothing but zero bytes after it. Anything else — a header or
 * payload cut short, non-zero reserved bytes, a length over the limit or past
 * the end, a bad checksum, zeros followed by data — is STRATA_ECORRUPT at the
 * offset of the record, which the caller may treat as a torn tail.
 *
 * A reader is used by one thread.
 */
#include "lsm/record.h"
#include "lsm/alloc.h"
#include "lsm/coding.h"
#include "lsm/status.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* Bytes read ahead per refill. Records larger than this grow the buffer. */
#define READ_WINDOW (256u << 10)

struct lsm_record_reader {
	int fd;
	uint64_t file_size;
	uint64_t pos;      /* file offset of the next record */
	uint64_t rec_off;  /* offset of the record last returned or found damaged */
	int sticky;        /* once an error or the end is met, every later call returns it */
	bool ended;
	uint8_t *buf;      /* holds file bytes [buf_off, buf_off + buf_len) */
	size_t buf_cap;
	size_t buf_len;
	uint64_t buf_off;
	char path[];
};

static uint64_t record_checksum(enum lsm_record_type type, const void *payload, size_t len)
{
	return XXH3_64bits_withSeed(payload, len, (uint64_t)len << 8 | (uint64_t)type);
}

void lsm_record_header(uint8_t out[LSM_RECORD_HEADER_LEN], enum lsm_record_type type,
		       const void *payload, size_t len)
{
	lsm_put_le64(out, record_checksum(type, payload, len));
	lsm_put_le32(out + 8, (uint32_t)len);
	out[12] = (uint8_t)type;
	out[13] = 0;
	out[14] = 0;
	out[15] = 0;
}

void lsm_record_file_header(uint8_t out[LSM_FILE_HEADER_PAYLOAD_LEN], const char magic[8],
			    uint32_t version, uint64_t file_no)
{
	memcpy(out, magic, 8);
	lsm_put_le32(out + 8, version);
	lsm_put_le64(out + 12, file_no);
}

/*
 * Makes file bytes [off, off + n) available in the buffer and returns a
 * pointer to them, or NULL with *rc set. The caller has checked that they lie
 * inside the file, so a short read means the file shrank under us or the
 * device failed: it is reported as damage at rec_off, not as success.
 */
static const uint8_t *reader_fill(lsm_record_reader *r, uint64_t off, size_t n, int *rc)
{
	size_t keep = 0;
	size_t want;

	if (off >= r->buf_off && off + n <= r->buf_off + r->buf_len)
		return r->buf + (off - r->buf_off);
	/* Keep the bytes from off onwards that are already buffered. */
	if (off >= r->buf_off && off < r->buf_off + r->buf_len) {
		keep = (size_t)(r->buf_off + r->buf_len - off);
		memmove(r->buf, r->buf + (off - r->buf_off), keep);
	}
	r->buf_off = off;
	r->buf_len = keep;
	want = n > READ_WINDOW ? n : READ_WINDOW;
	if (want > r->file_size - off)
		want = (size_t)(r->file_size - off);
	if (want < n)
		want = n;
	if (want > r->buf_cap) {
		uint8_t *grown = strata_realloc(r->buf, want);

		if (!grown) {
			*rc = -ENOMEM;
			return NULL;
		}
		r->buf = grown;
		r->buf_cap = want;
	}
	while (r->buf_len < want) {
		ssize_t got = pread(r->fd, r->buf + r->buf_len, want - r->buf_len,
				    (off_t)(off + r->buf_len));

		if (got < 0) {
			if (errno == EINTR)
				continue;
			*rc = strata_error(-errno, "%s: read at offset %" PRIu64 ": %s", r->path,
					   off + r->buf_len, strerror(errno));
			return NULL;
		}
		if (got == 0)
			break;
		r->buf_len += (size_t)got;
	}
	if (r->buf_len < n) {
		*rc = strata_error(STRATA_ECORRUPT, "%s: record at offset %" PRIu64 " cut short (file shrank while read)",
				   r->path, r->rec_off);
		return NULL;
	}
	return r->buf;
}

/* 0 when every byte of the file from off to its end is zero. */
static int reader_check_zero_tail(lsm_record_reader *r, uint64_t off)
{
	int rc = 0;

	while (off < r->file_size) {
		uint64_t left = r->file_size - off;
		size_t n = left < READ_WINDOW ? (size_t)left : READ_WINDOW;
		const uint8_t *p = reader_fill(r, off, n, &rc);

		if (!p)
			return rc;
		for (size_t i = 0; i < n; i++) {
			if (p[i] != 0)
				return strata_error(STRATA_ECORRUPT,
						    "%s: zero record header at offset %" PRIu64 " followed by data at offset %" PRIu64,
						    r->path, r->rec_off, off + i);
		}
		off += n;
	}
	return 0;
}

static int reader_next(lsm_record_reader *r, uint8_t *type, const uint8_t **payload, size_t *len)
{
	static const uint8_t zero[LSM_RECORD_HEADER_LEN];
	uint64_t left, checksum;
	uint32_t n;
	const uint8_t *h, *p;
	int rc = 0;

	r->rec_off = r->pos;
	left = r->file_size - r->pos;
	if (left == 0)
		return 0;
	if (left < LSM_RECORD_HEADER_LEN)
		return strata_error(STRATA_ECORRUPT, "%s: record header at offset %" PRIu64 " cut short (%" PRIu64 " of %d bytes)",
				    r->path, r->rec_off, left, LSM_RECORD_HEADER_LEN);
	h = reader_fill(r, r->pos, LSM_RECORD_HEADER_LEN, &rc);
	if (!h)
		return rc;
	if (memcmp(h, zero, LSM_RECORD_HEADER_LEN) == 0) {
		rc = reader_check_zero_tail(r, r->pos + LSM_RECORD_HEADER_LEN);
		return rc;
	}
	checksum = lsm_get_le64(h);
	n = lsm_get_le32(h + 8);
	*type = h[12];
	if (h[13] || h[14] || h[15])
		return strata_error(STRATA_ECORRUPT, "%s: record at offset %" PRIu64 " has non-zero reserved bytes",
				    r->path, r->rec_off);
	if (*type == 0)
		return strata_error(STRATA_ECORRUPT, "%s: record at offset %" PRIu64 " has type 0", r->path, r->rec_off);
	if (n > LSM_RECORD_MAX)
		return strata_error(STRATA_ECORRUPT, "%s: record at offset %" PRIu64 " claims %" PRIu32 " bytes, over the %u byte limit",
				    r->path, r->rec_off, n, LSM_RECORD_MAX);
	if (n > left - LSM_RECORD_HEADER_LEN)
		return strata_error(STRATA_ECORRUPT, "%s: record at offset %" PRIu64 " of %" PRIu32 " bytes cut short (%" PRIu64 " bytes left)",
				    r->path, r->rec_off, n, left - LSM_RECORD_HEADER_LEN);
	p = reader_fill(r, r->pos, LSM_RECORD_HEADER_LEN + (size_t)n, &rc);
	if (!p)
		return rc;
	p += LSM_RECORD_HEADER_LEN;
	if (record_checksum((enum lsm_record_type)*type, p, n) != checksum)
		return strata_error(STRATA_ECORRUPT, "%s: record at offset %" PRIu64 " (type %u, %" PRIu32 " bytes) has a bad checksum",
				    r->path, r->rec_off, *type, n);
	*payload = p;
	*len = n;
	r->pos += LSM_RECORD_HEADER_LEN + (uint64_t)n;
	return 1;
}

int lsm_record_reader_next(lsm_record_reader *r, uint8_t *type, const uint8_t **payload, size_t *len)
{
	int rc;

	if (r->sticky)
		return r->sticky;
	if (r->ended)
		return 0;
	rc = reader_next(r, type, payload, len);
	if (rc == 0)
		r->ended = true;
	else if (rc < 0)
		r->sticky = rc;
	return rc;
}

int lsm_record_reader_open(lsm_record_reader **out, const char *path, const char magic[8],
			   uint32_t max_version, uint64_t *out_file_no)
{
	lsm_record_reader *r;
	struct stat st;
	const uint8_t *payload = NULL;
	size_t len = 0, path_len = strlen(path);
	uint32_t version;
	uint8_t type = 0;
	int rc;

	*out = NULL;
	r = strata_calloc(1, sizeof(*r) + path_len + 1);
	if (!r)
		return -ENOMEM;
	memcpy(r->path, path, path_len + 1);
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		rc = strata_error(-errno, "%s: open: %s", path, strerror(errno));
		goto fail;
	}
	if (fstat(r->fd, &st) < 0) {
		rc = strata_error(-errno, "%s: stat: %s", path, strerror(errno));
		goto fail;
	}
	r->file_size = (uint64_t)st.st_size;
	rc = lsm_record_reader_next(r, &type, &payload, &len);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		rc = strata_error(STRATA_ECORRUPT, "%s: no file header record (%" PRIu64 " bytes)", path, r->file_size);
		goto fail;
	}
	if (type != LSM_REC_FILE_HEADER || len != LSM_FILE_HEADER_PAYLOAD_LEN) {
		rc = strata_error(STRATA_ECORRUPT, "%s: first record (type %u, %zu bytes) is not a file header",
				  path, type, len);
		goto fail;
	}
	if (memcmp(payload, magic, 8) != 0) {
		rc = strata_error(STRATA_ECORRUPT, "%s: wrong magic number (expected %.8s)", path, magic);
		goto fail;
	}
	version = lsm_get_le32(payload + 8);
	if (version == 0) {
		rc = strata_error(STRATA_ECORRUPT, "%s: format version 0", path);
		goto fail;
	}
	if (version > max_version) {
		rc = strata_error(STRATA_EVERSION, "%s: format version %" PRIu32 ", this build reads up to %" PRIu32,
				  path, version, max_version);
		goto fail;
	}
	if (out_file_no)
		*out_file_no = lsm_get_le64(payload + 12);
	*out = r;
	return 0;
fail:
	lsm_record_reader_close(r);
	return rc;
}

uint64_t lsm_record_reader_offset(const lsm_record_reader *r)
{
	return r->rec_off;
}

uint64_t lsm_record_reader_file_size(const lsm_record_reader *r)
{
	return r->file_size;
}

void lsm_record_reader_close(lsm_record_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	strata_free(r->buf);
	strata_free(r);
}
