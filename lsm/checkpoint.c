/*
 * checkpoint.c — a consistent copy of an open database in another
 * directory, taken while it serves reads and writes (lsm.h lsm_checkpoint).
 *
 * What a checkpoint holds, and why it is consistent:
 *
 *   1. The cut. As a commit leader step (lsm_commit_run: between two groups,
 *      with no group being written and every written group applied), and
 *      under version_mu (so no flush or compaction publishes meanwhile), it
 *      pins the current version V with the log number L and last sequence
 *      that V's manifest state records, notes the current WAL segment W and
 *      its end S (the end of the last whole group), and opens every WAL
 *      segment numbered L..W. Together, V's tables and segments L..W up to S
 *      hold every write applied before the step: the tables hold what was
 *      flushed, the segments what is in the memtables. Open descriptors keep
 *      the segments readable even if a flush deletes them right after the
 *      step; the pin keeps V's tables on disk however long the copy takes.
 *      The step does no I/O beyond listing wal/ and opening files, so
 *      writers wait for it only briefly.
 *   2. The tables of V are hard-linked into <dir>/sst (tables are never
 *      changed once written), or copied when the link fails (another file
 *      system).
 *   3. Segments L..W-1 are copied whole (they were complete and synced
 *      before W was created), segment W up to S.
 *   4. The catalog log is copied AFTER the cut, up to its length at that
 *      moment. A series or field id is stored with data only once its
 *      catalog record is durable (catalog.h), so every id in the data of
 *      the cut was in the catalog before the cut, and so in the copy. The
 *      copy may end in an append caught half written; it is opened once
 *      (lsm_catalog_open), which trims such a tail exactly as recovery
 *      does and proves the copy replays.
 *   5. A fresh MANIFEST-<M> holding one snapshot edit (V's tables, L, the
 *      last sequence, and a next_file above every number in the copy) and
 *      CURRENT naming it.
 *
 * Everything is written under "<dir>.tmp", fsynced file by file, and renamed
 * to dir only when complete; the parent directory is then fsynced. A
 * failure removes the temporary directory, so dir either holds a whole
 * checkpoint or does not exist. Opening the checkpoint is an ordinary
 * recovery: the manifest gives the tables, segments L..W are replayed.
 *
 * Threads: lsm_checkpoint may run from any thread, concurrently with
 * writes, reads, flushes and compactions (it takes the commit leadership and
 * version_mu only for step 1). Two checkpoints at once are fine if their
 * directories differ. Lock order: the commit leadership, then version_mu;
 * so nothing may wait for the leadership while holding version_mu (flushes
 * and compactions hold it only to apply an edit).
 */
#include "lsm/alloc.h"
#include "lsm/catalog.h"
#include "lsm/catalog_format.h"
#include "lsm/db_int.h"
#include "lsm/log.h"
#include "lsm/record.h"
#include "lsm/status.h"
#include "lsm/version.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define COPY_CHUNK (1u << 20)

/* One WAL segment kept open across the cut. */
typedef struct cp_segment {
	uint64_t number;
	int fd;
	uint64_t bytes; /* to copy: the whole file, or S for the current segment */
} cp_segment;

typedef struct cp_cut {
	lsm_db *db;
	lsm_version *version; /* pinned */
	uint64_t log_number;
	uint64_t last_seq;    /* of the manifest state (tables) */
	uint64_t visible_seq; /* every write up to this is in the cut */
	uint64_t wal_number;
	uint64_t wal_size;
	cp_segment *segments;
	size_t n_segments;
} cp_cut;

/*
 * ---- small file helpers ----
 * Plain write(2) and fsync, not file_io.h: the fault points there count the
 * engine's own writes, which a checkpoint must not shift.
 */

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int sync_fd_path(int fd, const char *path)
{
	if (fsync(fd) != 0)
		return strata_error(-errno, "fsync %s: %s", path, strerror(errno));
	return 0;
}

static int sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return strata_error(-errno, "open %s: %s", path, strerror(errno));
	rc = sync_fd_path(fd, path);
	close(fd);
	return rc;
}

/*
 * Copies len bytes of in (from offset 0; all of it when whole) into a new
 * file at path, fsynced. *out_bytes gets the bytes copied. -errno, or
 * STRATA_ECORRUPT when in is shorter than len.
 */
static int copy_fd(int in, const char *in_path, uint64_t len, bool whole, const char *path,
		   uint64_t *out_bytes)
{
	uint8_t *buf = strata_malloc(COPY_CHUNK);
	uint64_t off = 0;
	int out = -1, rc = 0;

	if (!buf)
		return -ENOMEM;
	out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		rc = strata_error(-errno, "create %s: %s", path, strerror(errno));
		goto out;
	}
	while (whole || off < len) {
		size_t want = COPY_CHUNK;
		ssize_t n;

		if (!whole && len - off < want)
			want = (size_t)(len - off);
		n = pread(in, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = strata_error(-errno, "read %s at offset %" PRIu64 ": %s", in_path, off, strerror(errno));
			goto out;
		}
		if (n == 0) {
			if (!whole)
				rc = strata_error(STRATA_ECORRUPT, "%s: %" PRIu64 " bytes, expected at least %" PRIu64,
						  in_path, off, len);
			break;
		}
		rc = write_all(out, buf, (size_t)n);
		if (rc) {
			rc = strata_error(rc, "write %s: %s", path, strata_strerror(rc));
			goto out;
		}
		off += (uint64_t)n;
	}
	if (rc == 0)
		rc = sync_fd_path(out, path);
	*out_bytes = off;
out:
	if (out >= 0)
		close(out);
	strata_free(buf);
	return rc;
}

static int copy_path(const char *from, const char *to, uint64_t *out_bytes)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), rc;

	if (in < 0)
		return strata_error(-errno, "open %s: %s", from, strerror(errno));
	rc = copy_fd(in, from, 0, true, to, out_bytes);
	close(in);
	return rc;
}

/* Removes the files of dir (a partial checkpoint), its sst/ and wal/ subdirectories, then dir. */
static void remove_partial(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (strcmp(de->d_name, "sst") == 0 || strcmp(de->d_name, "wal") == 0) {
				struct dirent *fe;
				DIR *sub;

				/* The names are our own, short: a longer path is no partial checkpoint of ours. */
				if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path)
					continue;
				sub = opendir(path);
				while (sub && (fe = readdir(sub)) != NULL)
					if (strcmp(fe->d_name, ".") != 0 && strcmp(fe->d_name, "..") != 0)
						(void)unlinkat(dirfd(sub), fe->d_name, 0);
				if (sub)
					closedir(sub);
				(void)unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
			} else {
				(void)unlinkat(dirfd(d), de->d_name, 0);
			}
		}
		closedir(d);
	}
	if (rmdir(dir) != 0)
		LOG_WARN("event=checkpoint_cleanup_failed dir=%s error=\"%s\"", dir, strerror(errno));
}

/* ---- the manifest of a checkpoint ---- */

static int write_record_fd(int fd, enum lsm_record_type type, const uint8_t *payload, size_t len)
{
	uint8_t header[LSM_RECORD_HEADER_LEN];
	int rc;

	if (len > LSM_RECORD_MAX)
		return strata_error(STRATA_ETOOBIG, "manifest record of %zu bytes over the limit", len);
	lsm_record_header(header, type, payload, len);
	rc = write_all(fd, header, sizeof header);
	if (rc == 0 && len)
		rc = write_all(fd, payload, len);
	return rc;
}

int lsm_checkpoint_write_manifest(const char *dir, uint64_t number, const struct lsm_version_edit *snapshot)
{
	char path[PATH_MAX], tmp[PATH_MAX], line[64], text[128];
	uint8_t header[LSM_FILE_HEADER_PAYLOAD_LEN];
	uint8_t *payload = NULL;
	size_t len = 0;
	int fd = -1, n, rc;

	if (!snapshot->has_log_number || !snapshot->has_next_file || !snapshot->has_last_seq ||
	    snapshot->n_deleted || snapshot->next_file <= number)
		return strata_error(STRATA_EINVAL, "a snapshot edit sets every counter, deletes nothing, and "
				    "has next_file above the manifest's number");
	snprintf(path, sizeof path, "%s/MANIFEST-%06" PRIu64, dir, number);
	rc = lsm_version_edit_encode(snapshot, &payload, &len);
	if (rc)
		return rc;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = strata_error(-errno, "create %s: %s", path, strerror(errno));
		goto out;
	}
	lsm_record_file_header(header, LSM_MANIFEST_MAGIC, LSM_MANIFEST_VERSION, number);
	rc = write_record_fd(fd, LSM_REC_FILE_HEADER, header, sizeof header);
	if (rc == 0)
		rc = write_record_fd(fd, LSM_REC_VERSION_EDIT, payload, len);
	if (rc == 0 && fdatasync(fd) != 0)
		rc = -errno;
	if (rc) {
		rc = strata_error(rc, "write %s: %s", path, strata_strerror(rc));
		goto out;
	}
	close(fd);

	/* CURRENT as version.c writes it (docs/format-manifest.md): name line, checksum line. */
	n = snprintf(line, sizeof line, "MANIFEST-%06" PRIu64 "\n", number);
	snprintf(text, sizeof text, "%sxxh3=%016" PRIx64 "\n", line, (uint64_t)XXH3_64bits(line, (size_t)n));
	snprintf(tmp, sizeof tmp, "%s/CURRENT.tmp", dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = strata_error(-errno, "create %s: %s", tmp, strerror(errno));
		goto out;
	}
	rc = write_all(fd, text, strlen(text));
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	close(fd);
	fd = -1;
	if (rc) {
		unlink(tmp);
		rc = strata_error(rc, "write %s: %s", tmp, strata_strerror(rc));
		goto out;
	}
	snprintf(path, sizeof path, "%s/CURRENT", dir);
	if (rename(tmp, path) != 0) {
		rc = strata_error(-errno, "rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = sync_dir(dir);
out:
	if (fd >= 0)
		close(fd);
	strata_free(payload);
	return rc;
}

/* ---- the cut (a commit leader step) ---- */

static int cmp_segment(const void *a, const void *b)
{
	uint64_t x = ((const cp_segment *)a)->number, y = ((const cp_segment *)b)->number;

	return x < y ? -1 : x > y;
}

/* Opens every segment numbered from..to in db's wal/. Called under version_mu. */
static int open_segments(cp_cut *c, uint64_t from, uint64_t to)
{
	char path[PATH_MAX];
	struct dirent *de;
	size_t cap = 0;
	DIR *d;
	int rc = 0;

	snprintf(path, sizeof path, "%s/wal", c->db->dir);
	d = opendir(path);
	if (!d)
		return strata_error(-errno, "open %s: %s", path, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long long num = strtoull(de->d_name, &end, 10);
		struct stat st;
		int fd;

		if (end == de->d_name || strcmp(end, ".wal") != 0 || num < from || num > to)
			continue;
		if (c->n_segments == cap) {
			cp_segment *grown;

			cap = cap ? cap * 2 : 8;
			grown = strata_realloc(c->segments, cap * sizeof *grown);
			if (!grown) {
				rc = -ENOMEM;
				break;
			}
			c->segments = grown;
		}
		lsm_wal_path(path, sizeof path, c->db->dir, num);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) != 0) {
			rc = strata_error(-errno, "open %s: %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			break;
		}
		c->segments[c->n_segments++] = (cp_segment){ .number = num, .fd = fd,
							     .bytes = (uint64_t)st.st_size };
	}
	closedir(d);
	if (rc == 0 && c->n_segments)
		qsort(c->segments, c->n_segments, sizeof *c->segments, cmp_segment);
	return rc;
}

static int take_cut(void *arg)
{
	cp_cut *c = arg;
	lsm_db *db = c->db;
	int rc;

	/* The leader may read db->wal without mu (db_int.h). */
	if (!db->wal)
		return strata_error(STRATA_ECLOSED, "%s is closing", db->dir);
	c->wal_number = lsm_wal_number(db->wal);
	c->wal_size = lsm_wal_size(db->wal);
	c->visible_seq = lsm_commit_visible_seq(db->commit);

	pthread_mutex_lock(&db->version_mu);
	c->version = lsm_versions_current(db->versions);
	c->log_number = lsm_versions_log_number(db->versions);
	c->last_seq = lsm_versions_last_seq(db->versions);
	rc = open_segments(c, c->log_number, c->wal_number);
	pthread_mutex_unlock(&db->version_mu);
	if (rc)
		return rc;
	if (c->n_segments == 0 || c->segments[c->n_segments - 1].number != c->wal_number)
		return strata_error(STRATA_ENOTFOUND, "%s: the current WAL segment %06" PRIu64 " is missing",
				    db->dir, c->wal_number);
	c->segments[c->n_segments - 1].bytes = c->wal_size;
	return 0;
}

static void cut_release(cp_cut *c)
{
	for (size_t i = 0; i < c->n_segments; i++)
		close(c->segments[i].fd);
	strata_free(c->segments);
	lsm_version_unref(c->version);
	memset(c, 0, sizeof *c);
}

/* ---- the copy ---- */

/* The sst/ and wal/ subdirectories of tmp. */
static int make_subdirs(const char *tmp)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof path, "%s/sst", tmp) >= (int)sizeof path)
		return strata_error(STRATA_ETOOBIG, "path too long under %s", tmp);
	if (mkdir(path, 0755) != 0)
		return strata_error(-errno, "mkdir %s: %s", path, strerror(errno));
	if (snprintf(path, sizeof path, "%s/wal", tmp) >= (int)sizeof path)
		return strata_error(STRATA_ETOOBIG, "path too long under %s", tmp);
	if (mkdir(path, 0755) != 0)
		return strata_error(-errno, "mkdir %s: %s", path, strerror(errno));
	return 0;
}

static int copy_tables(const cp_cut *c, const char *tmp, lsm_checkpoint_info *info)
{
	char from[PATH_MAX], to[PATH_MAX];
	int rc;

	for (size_t w = 0; w < c->version->n_windows; w++) {
		for (size_t i = 0; i < c->version->windows[w].n_files; i++) {
			const lsm_file *f = c->version->windows[w].files[i];
			uint64_t bytes = 0;

			lsm_sst_path(from, sizeof from, c->db->dir, f->number);
			lsm_sst_path(to, sizeof to, tmp, f->number);
			if (link(from, to) == 0) {
				info->n_linked++;
				bytes = f->props.file_bytes;
			} else if (errno == EXDEV || errno == EPERM || errno == EMLINK) {
				rc = copy_path(from, to, &bytes);
				if (rc)
					return rc;
			} else {
				return strata_error(-errno, "link %s to %s: %s", from, to, strerror(errno));
			}
			info->n_tables++;
			info->table_bytes += bytes;
		}
	}
	return 0;
}

static int copy_wal(const cp_cut *c, const char *tmp, lsm_checkpoint_info *info)
{
	char from[PATH_MAX], to[PATH_MAX];
	int rc;

	for (size_t i = 0; i < c->n_segments; i++) {
		const cp_segment *s = &c->segments[i];
		uint64_t bytes = 0;

		lsm_wal_path(from, sizeof from, c->db->dir, s->number);
		lsm_wal_path(to, sizeof to, tmp, s->number);
		rc = copy_fd(s->fd, from, s->bytes, false, to, &bytes);
		if (rc)
			return rc;
		info->n_wal_segments++;
		info->wal_bytes += bytes;
	}
	return 0;
}

/* Copies the catalog log as it is now, and opens the copy (trimming a half-written append). */
static int copy_catalog(const lsm_db *db, const char *tmp, lsm_checkpoint_info *info)
{
	char from[PATH_MAX], to[PATH_MAX];
	lsm_catalog *cat = NULL;
	struct stat st;
	int rc;

	if (snprintf(from, sizeof from, "%s/%s", db->dir, LSM_CATALOG_FILE) >= (int)sizeof from)
		return strata_error(STRATA_ETOOBIG, "path too long under %s", db->dir);
	if (snprintf(to, sizeof to, "%s/%s", tmp, LSM_CATALOG_FILE) >= (int)sizeof to)
		return strata_error(STRATA_ETOOBIG, "path too long under %s", tmp);
	if (stat(from, &st) != 0) {
		if (errno == ENOENT)
			return 0; /* a database without a catalog (the engine alone) */
		return strata_error(-errno, "stat %s: %s", from, strerror(errno));
	}
	rc = copy_path(from, to, &info->catalog_bytes);
	if (rc)
		return rc;
	rc = lsm_catalog_open(&cat, tmp);
	if (rc) {
		char msg[400];

		snprintf(msg, sizeof msg, "%s", strata_last_error());
		return strata_error(rc, "the copy of %s does not replay: %s", from, msg);
	}
	lsm_catalog_close(cat);
	if (stat(to, &st) == 0)
		info->catalog_bytes = (uint64_t)st.st_size;
	return 0;
}

static int write_manifest(const cp_cut *c, const char *tmp)
{
	lsm_version_edit e;
	uint64_t number = lsm_versions_new_file_number(c->db->versions);
	int rc = 0;

	lsm_version_edit_init(&e);
	e.has_log_number = true;
	e.log_number = c->log_number;
	e.has_last_seq = true;
	e.last_seq = c->last_seq;
	e.has_next_file = true;
	/* Above the manifest, every table and every segment (all numbered before it). */
	e.next_file = number + 1;
	for (size_t w = 0; w < c->version->n_windows && rc == 0; w++)
		for (size_t i = 0; i < c->version->windows[w].n_files && rc == 0; i++)
			rc = lsm_version_edit_add_file(&e, c->version->windows[w].files[i]->number,
						       &c->version->windows[w].files[i]->props);
	if (rc == 0)
		rc = lsm_checkpoint_write_manifest(tmp, number, &e);
	lsm_version_edit_deinit(&e);
	return rc;
}

static int sync_tree(const char *tmp)
{
	char path[PATH_MAX];
	int rc;

	if (snprintf(path, sizeof path, "%s/sst", tmp) >= (int)sizeof path)
		return strata_error(STRATA_ETOOBIG, "path too long under %s", tmp);
	rc = sync_dir(path);
	if (rc == 0) {
		if (snprintf(path, sizeof path, "%s/wal", tmp) >= (int)sizeof path)
			return strata_error(STRATA_ETOOBIG, "path too long under %s", tmp);
		rc = sync_dir(path);
	}
	if (rc == 0)
		rc = sync_dir(tmp);
	return rc;
}

/* The directory that holds path ("." for a bare name). */
static void parent_of(char *out, size_t len, const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(out, len, ".");
	else if (slash == path)
		snprintf(out, len, "/");
	else
		snprintf(out, len, "%.*s", (int)(slash - path), path);
}

int lsm_checkpoint(lsm_db *db, const char *dir, lsm_checkpoint_info *out)
{
	lsm_checkpoint_info info = { 0 };
	char tmp[PATH_MAX], parent[PATH_MAX];
	cp_cut cut = { .db = db };
	struct stat st;
	bool made = false;
	uint64_t t0 = lsm_now_ns();
	int rc;

	if (out)
		memset(out, 0, sizeof *out);
	if (!dir[0] || strlen(dir) + 8 >= sizeof tmp)
		return strata_error(STRATA_EINVAL, "checkpoint directory name empty or too long");
	if (lstat(dir, &st) == 0)
		return strata_error(-EEXIST, "checkpoint directory %s already exists", dir);
	if (errno != ENOENT)
		return strata_error(-errno, "%s: %s", dir, strerror(errno));
	snprintf(tmp, sizeof tmp, "%s.tmp", dir);
	if (lstat(tmp, &st) == 0)
		return strata_error(-EEXIST, "%s exists (left by an earlier checkpoint?): remove it first", tmp);
	if (mkdir(tmp, 0755) != 0)
		return strata_error(-errno, "mkdir %s: %s", tmp, strerror(errno));
	made = true;
	rc = make_subdirs(tmp);
	if (rc)
		goto out;

	rc = lsm_commit_run(db->commit, take_cut, &cut);
	if (rc) {
		if (rc == STRATA_ECLOSED)
			rc = strata_error(rc, "%s is closing: no checkpoint", db->dir);
		goto out;
	}
	rc = copy_tables(&cut, tmp, &info);
	if (rc == 0)
		rc = copy_wal(&cut, tmp, &info);
	if (rc == 0)
		rc = copy_catalog(db, tmp, &info); /* after the cut: see the note at the top */
	if (rc == 0)
		rc = write_manifest(&cut, tmp);
	if (rc == 0)
		rc = sync_tree(tmp);
	if (rc)
		goto out;
	if (rename(tmp, dir) != 0) {
		rc = strata_error(-errno, "rename %s to %s: %s", tmp, dir, strerror(errno));
		goto out;
	}
	made = false;
	parent_of(parent, sizeof parent, dir);
	rc = sync_dir(parent);
	info.last_seq = cut.visible_seq;
	LOG_INFO("event=checkpoint dir=%s tables=%" PRIu64 " linked=%" PRIu64 " table_bytes=%" PRIu64
		 " wal_segments=%" PRIu64 " wal_bytes=%" PRIu64 " catalog_bytes=%" PRIu64 " last_seq=%" PRIu64
		 " ms=%.1f", dir, info.n_tables, info.n_linked, info.table_bytes, info.n_wal_segments,
		 info.wal_bytes, info.catalog_bytes, info.last_seq, (double)(lsm_now_ns() - t0) / 1e6);
	if (out)
		*out = info;
out:
	if (rc && made) {
		char msg[400];

		snprintf(msg, sizeof msg, "%s", strata_last_error());
		remove_partial(tmp);
		strata_error(rc, "%s", msg);
	}
	cut_release(&cut);
	return rc;
}
