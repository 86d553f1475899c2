/*
 * wal.c — WAL segments (wal.h, docs/format-wal.md): creating, appending,
 * replaying, trimming a torn tail, and dumping.
 *
 * A segment tracks its own end offset and appends there with positioned
 * writes through the io backend, so the file offset never matters and the
 * io_uring backend needs no O_APPEND. Once a write or sync fails the segment
 * is dead (STRATA_EREADONLY for every later call): what reached the disk is
 * unknown, and a sync after a failed sync may report success for pages the
 * kernel already dropped.
 *
 * Replay reads with the record reader (record.c), which checks every record
 * and reports damage at its offset. Only the newest segment may end in a torn
 * record — the one being written when the process died — and only there is
 * damage trimmed instead of reported as corruption. The dump walks the file
 * on its own so that it can go on past a record whose checksum is bad.
 *
 * Threads: a segment is appended to and synced by one thread at a time (the
 * commit leader); the accessors may be called by that thread too. Replay,
 * truncate and dump work on paths and share nothing.
 */
#include "lsm/wal.h"
#include "lsm/alloc.h"
#include "lsm/batch.h"
#include "lsm/coding.h"
#include "lsm/log.h"
#include "lsm/record.h"
#include "lsm/status.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct lsm_wal {
	int fd;
	uint64_t number;
	uint64_t size;     /* end of what was appended; the next write goes here */
	int err;           /* first failure; every later call returns STRATA_EREADONLY */
	lsm_wal_io *io;    /* borrowed */
	char path[];
};

void lsm_wal_path(char *out, size_t out_len, const char *dir, uint64_t number)
{
	snprintf(out, out_len, "%s/wal/%06" PRIu64 ".wal", dir, number);
}

static int sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return strata_error(-errno, "%s: open directory: %s", path, strerror(errno));
	if (fsync(fd) < 0)
		rc = strata_error(-errno, "%s: fsync directory: %s", path, strerror(errno));
	close(fd);
	return rc;
}

int lsm_wal_create(lsm_wal **out, const char *dir, uint64_t number, lsm_wal_io *io)
{
	uint8_t rec[LSM_RECORD_HEADER_LEN + LSM_FILE_HEADER_PAYLOAD_LEN];
	char wal_dir[4096];
	char path[4096];
	lsm_wal *w = NULL;
	size_t path_len;
	int rc;

	*out = NULL;
	snprintf(wal_dir, sizeof wal_dir, "%s/wal", dir);
	if (mkdir(wal_dir, 0755) == 0) {
		rc = sync_dir(dir);
		if (rc)
			return rc;
	} else if (errno != EEXIST) {
		return strata_error(-errno, "%s: mkdir: %s", wal_dir, strerror(errno));
	}
	lsm_wal_path(path, sizeof path, dir, number);
	path_len = strlen(path);
	w = strata_calloc(1, sizeof(*w) + path_len + 1);
	if (!w)
		return -ENOMEM;
	memcpy(w->path, path, path_len + 1);
	w->number = number;
	w->io = io;
	w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		rc = strata_error(-errno, "%s: create: %s", path, strerror(errno));
		strata_free(w);
		return rc;
	}
	lsm_record_file_header(rec + LSM_RECORD_HEADER_LEN, LSM_WAL_MAGIC, LSM_WAL_VERSION, number);
	lsm_record_header(rec, LSM_REC_FILE_HEADER, rec + LSM_RECORD_HEADER_LEN, LSM_FILE_HEADER_PAYLOAD_LEN);
	rc = lsm_wal_io_write(io, w->fd, rec, sizeof rec, 0, true);
	if (rc) {
		rc = strata_error(rc, "%s: writing the segment header: %s", path, strata_strerror(rc));
		goto fail;
	}
	w->size = sizeof rec;
	rc = sync_dir(wal_dir);
	if (rc)
		goto fail;
	*out = w;
	return 0;
fail:
	/* The segment holds no batch yet: removing it loses nothing. */
	close(w->fd);
	unlink(path);
	strata_free(w);
	return rc;
}

int lsm_wal_append(lsm_wal *w, const void *records, size_t len, bool sync)
{
	int rc;

	if (w->err)
		return strata_error(STRATA_EREADONLY, "%s: an earlier write or sync failed (%s)", w->path,
				    strata_strerror(w->err));
	rc = lsm_wal_io_write(w->io, w->fd, records, len, w->size, sync);
	if (rc) {
		w->err = rc;
		LOG_ERROR("wal write failed path=%s offset=%" PRIu64 " bytes=%zu sync=%d error=\"%s\"",
			  w->path, w->size, len, sync, strata_strerror(rc));
		return strata_error(rc, "%s: write of %zu bytes at offset %" PRIu64 "%s failed: %s", w->path,
				    len, w->size, sync ? " with sync" : "", strata_strerror(rc));
	}
	w->size += len;
	return 0;
}

int lsm_wal_sync(lsm_wal *w)
{
	int rc;

	if (w->err)
		return strata_error(STRATA_EREADONLY, "%s: an earlier write or sync failed (%s)", w->path,
				    strata_strerror(w->err));
	rc = lsm_wal_io_sync(w->io, w->fd);
	if (rc) {
		w->err = rc;
		LOG_ERROR("wal sync failed path=%s error=\"%s\"", w->path, strata_strerror(rc));
		return strata_error(rc, "%s: fdatasync failed: %s", w->path, strata_strerror(rc));
	}
	return 0;
}

uint64_t lsm_wal_number(const lsm_wal *w)
{
	return w->number;
}

uint64_t lsm_wal_size(const lsm_wal *w)
{
	return w->size;
}

void lsm_wal_close(lsm_wal *w)
{
	if (!w)
		return;
	close(w->fd);
	strata_free(w);
}

/*
 * With a torn tail allowed, a segment whose header record is damaged or cut
 * short (a crash while it was being created, before any batch went in) is a
 * torn segment at offset 0. A header that is whole but says the wrong thing
 * (magic, version) is not a tear: this tells the two apart.
 */
static bool header_is_torn(const char *path)
{
	uint8_t rec[LSM_RECORD_HEADER_LEN + LSM_FILE_HEADER_PAYLOAD_LEN];
	uint8_t expect[LSM_RECORD_HEADER_LEN];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = pread(fd, rec, sizeof rec, 0);
	close(fd);
	if (n < 0)
		return false;
	if ((size_t)n < sizeof rec)
		return true;
	/* A whole header record is exactly what lsm_record_header makes for its payload. */
	lsm_record_header(expect, LSM_REC_FILE_HEADER, rec + LSM_RECORD_HEADER_LEN, LSM_FILE_HEADER_PAYLOAD_LEN);
	return memcmp(expect, rec, LSM_RECORD_HEADER_LEN) != 0;
}

int lsm_wal_replay(const char *path, bool allow_torn_tail,
		   int (*fn)(void *ctx, const uint8_t *batch, size_t len), void *ctx,
		   lsm_wal_replay_result *result)
{
	lsm_wal_replay_result res = { 0 };
	lsm_record_reader *r = NULL;
	struct stat st;
	int rc;

	rc = lsm_record_reader_open(&r, path, LSM_WAL_MAGIC, LSM_WAL_VERSION, NULL);
	if (rc == STRATA_ECORRUPT && allow_torn_tail && header_is_torn(path)) {
		if (stat(path, &st) == 0)
			res.file_bytes = (uint64_t)st.st_size;
		res.torn = true;
		LOG_WARN("wal torn segment header, nothing to replay path=%s file_bytes=%" PRIu64,
			 path, res.file_bytes);
		rc = 0;
		goto out;
	}
	if (rc)
		goto out;
	res.file_bytes = lsm_record_reader_file_size(r);
	for (;;) {
		const uint8_t *payload;
		size_t len;
		uint8_t type;

		rc = lsm_record_reader_next(r, &type, &payload, &len);
		if (rc == 0) {
			res.valid_bytes = lsm_record_reader_offset(r);
			break;
		}
		if (rc == STRATA_ECORRUPT) {
			res.valid_bytes = lsm_record_reader_offset(r);
			if (!allow_torn_tail)
				break; /* the reader's message names the file and offset */
			res.torn = true;
			LOG_WARN("wal torn tail path=%s offset=%" PRIu64 " dropped_bytes=%" PRIu64 " reason=\"%s\"",
				 path, res.valid_bytes, res.file_bytes - res.valid_bytes, strata_last_error());
			rc = 0;
			break;
		}
		if (rc < 0)
			break;
		/* A whole record with a valid checksum: anything wrong in it is not a tear. */
		res.valid_bytes = lsm_record_reader_offset(r);
		if (type != LSM_REC_BATCH) {
			rc = strata_error(STRATA_ECORRUPT, "%s: unexpected record of type %u at offset %" PRIu64,
					  path, type, lsm_record_reader_offset(r));
			break;
		}
		if (len < LSM_BATCH_HEADER_LEN) {
			rc = strata_error(STRATA_ECORRUPT, "%s: batch record at offset %" PRIu64 " has %zu bytes, shorter than a batch header",
					  path, lsm_record_reader_offset(r), len);
			break;
		}
		rc = fn(ctx, payload, len);
		if (rc)
			break;
		res.n_batches++;
		res.valid_bytes = lsm_record_reader_offset(r) + LSM_RECORD_HEADER_LEN + len;
	}
out:
	lsm_record_reader_close(r);
	if (result)
		*result = res;
	return rc;
}

int lsm_wal_truncate(const char *path, uint64_t valid_bytes)
{
	struct stat st;
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return strata_error(-errno, "%s: open: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = strata_error(-errno, "%s: stat: %s", path, strerror(errno));
		goto out;
	}
	if (valid_bytes > (uint64_t)st.st_size) {
		rc = strata_error(STRATA_EINVAL, "%s: cannot truncate %lld bytes to %" PRIu64,
				  path, (long long)st.st_size, valid_bytes);
		goto out;
	}
	if (ftruncate(fd, (off_t)valid_bytes) < 0) {
		rc = strata_error(-errno, "%s: truncate to %" PRIu64 ": %s", path, valid_bytes, strerror(errno));
		goto out;
	}
	/* fsync, not fdatasync: the new size is what must reach the disk. */
	if (fsync(fd) < 0)
		rc = strata_error(-errno, "%s: fsync: %s", path, strerror(errno));
	else if ((uint64_t)st.st_size != valid_bytes)
		LOG_INFO("wal segment trimmed path=%s from=%lld to=%" PRIu64, path, (long long)st.st_size, valid_bytes);
out:
	close(fd);
	return rc;
}

static const char *type_name(uint8_t type)
{
	switch (type) {
	case LSM_REC_FILE_HEADER: return "file_header";
	case LSM_REC_BATCH: return "batch";
	case LSM_REC_VERSION_EDIT: return "version_edit";
	default: return "unknown";
	}
}

static int read_at(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* the file shrank under us */
		done += (size_t)n;
	}
	return 0;
}

static void dump_batch(FILE *f, const uint8_t *p, size_t len)
{
	lsm_batch_reader br;
	lsm_batch_entry e;
	uint64_t n = 0;
	int rc;

	if (lsm_batch_reader_init(&br, p, len) != 0) {
		fprintf(f, " batch=malformed");
		return;
	}
	fprintf(f, " seq=%" PRIu64 " count=%" PRIu32, br.seq, br.left);
	while ((rc = lsm_batch_reader_next(&br, &e)) == 1)
		n++;
	if (rc != 0)
		fprintf(f, " batch=malformed(entry %" PRIu64 ")", n);
}

/*
 * Walks the file record by record. A bad checksum is shown and the walk goes
 * on (the length was plausible); a header that cannot be trusted ends it.
 */
int lsm_wal_dump(const char *path, void *out_file)
{
	FILE *f = out_file;
	uint8_t h[LSM_RECORD_HEADER_LEN], expect[LSM_RECORD_HEADER_LEN];
	static const uint8_t zero[LSM_RECORD_HEADER_LEN];
	uint8_t *buf = NULL;
	size_t cap = 0;
	uint64_t off = 0, size, n_records = 0, n_bad = 0;
	struct stat st;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return strata_error(-errno, "%s: open: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = strata_error(-errno, "%s: stat: %s", path, strerror(errno));
		goto out;
	}
	size = (uint64_t)st.st_size;
	fprintf(f, "# %s: %" PRIu64 " bytes\n", path, size);
	while (off < size) {
		uint32_t len;
		uint8_t type;
		bool ok;

		if (size - off < LSM_RECORD_HEADER_LEN) {
			fprintf(f, "offset=%" PRIu64 " damaged: record header cut short (%" PRIu64 " bytes left)\n",
				off, size - off);
			n_bad++;
			break;
		}
		rc = read_at(fd, h, sizeof h, off);
		if (rc) {
			rc = strata_error(rc, "%s: read at offset %" PRIu64 ": %s", path, off, strata_strerror(rc));
			goto out;
		}
		if (memcmp(h, zero, sizeof h) == 0) {
			fprintf(f, "offset=%" PRIu64 " end: zero record header (%" PRIu64 " bytes after it)\n",
				off, size - off - LSM_RECORD_HEADER_LEN);
			break;
		}
		len = lsm_get_le32(h + 8);
		type = h[12];
		fprintf(f, "offset=%" PRIu64 " type=%s(%u) len=%" PRIu32, off, type_name(type), type, len);
		if (h[13] || h[14] || h[15] || len > LSM_RECORD_MAX || len > size - off - LSM_RECORD_HEADER_LEN) {
			fprintf(f, " damaged: %s\n", h[13] || h[14] || h[15] ? "reserved bytes not zero" :
				len > LSM_RECORD_MAX ? "length over the record limit" : "length past the end of the file");
			n_bad++;
			break;
		}
		if (len > cap) {
			uint8_t *grown = strata_realloc(buf, len);

			if (!grown) {
				rc = -ENOMEM;
				goto out;
			}
			buf = grown;
			cap = len;
		}
		rc = read_at(fd, buf, len, off + LSM_RECORD_HEADER_LEN);
		if (rc) {
			rc = strata_error(rc, "%s: read at offset %" PRIu64 ": %s", path, off, strata_strerror(rc));
			goto out;
		}
		lsm_record_header(expect, (enum lsm_record_type)type, buf, len);
		ok = memcmp(expect, h, 8) == 0;
		fprintf(f, " checksum=%s", ok ? "ok" : "BAD");
		if (!ok)
			n_bad++;
		if (ok && type == LSM_REC_FILE_HEADER && len == LSM_FILE_HEADER_PAYLOAD_LEN)
			fprintf(f, " magic=%.8s version=%" PRIu32 " number=%" PRIu64, (const char *)buf,
				lsm_get_le32(buf + 8), lsm_get_le64(buf + 12));
		else if (ok && type == LSM_REC_BATCH)
			dump_batch(f, buf, len);
		fputc('\n', f);
		n_records++;
		off += LSM_RECORD_HEADER_LEN + (uint64_t)len;
	}
	fprintf(f, "# %" PRIu64 " records, %" PRIu64 " damaged\n", n_records, n_bad);
	if (n_bad)
		rc = strata_error(STRATA_ECORRUPT, "%s: %" PRIu64 " damaged record(s)", path, n_bad);
out:
	strata_free(buf);
	close(fd);
	return rc;
}
