/*
 * fuzz_util.h — what the file-format fuzz targets share: a scratch
 * directory (on tmpfs when there is one, so each input costs no disk I/O),
 * writing an input as a file, the invariant check, and repairing record
 * checksums.
 *
 * Why repair: every record (record.h) and every SSTable block carries a
 * checksum, so nearly every mutation of a valid file is stopped at the
 * checksum and the decoders behind it are never reached. Each file target
 * runs an input twice: as it is (the checksum paths, torn tails) and with its
 * checksums recomputed (the decoders, on bytes that pass the checksum).
 */
#ifndef STRATA_TESTS_FUZZ_UTIL_H
#define STRATA_TESTS_FUZZ_UTIL_H

#include "lsm/coding.h"
#include "lsm/record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond,     \
				__FILE__, __LINE__);                                  \
			abort();                                                     \
		}                                                                    \
	} while (0)

static char fuzz_dir[256];

static int fuzz_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void fuzz_remove_dir(void)
{
	if (fuzz_dir[0])
		nftw(fuzz_dir, fuzz_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* rm -rf of everything under path, path itself included. */
static inline void fuzz_remove_tree(const char *path)
{
	nftw(path, fuzz_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * Removes the scratch directories under base of processes that are gone: a
 * target that fails aborts without running its exit handlers.
 */
static inline void fuzz_remove_stale(const char *base)
{
	DIR *d = opendir(base);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		char path[512];
		long pid = 0;
		int n = 0;

		if (sscanf(de->d_name, "strata-fuzz-%ld%n", &pid, &n) != 1 || pid <= 0 || de->d_name[n] != '-')
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof path, "%s/%s", base, de->d_name);
		fuzz_remove_tree(path);
	}
	closedir(d);
}

/*
 * The scratch directory of this process, made on first use (under
 * $FUZZ_TMPDIR, else /dev/shm, else /tmp; named for the process id) and
 * removed at exit, or by the next target that starts if this one fails.
 */
static inline const char *fuzz_scratch_dir(void)
{
	const char *bases[] = { getenv("FUZZ_TMPDIR"), "/dev/shm", "/tmp" };

	if (fuzz_dir[0])
		return fuzz_dir;
	for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
		if (!bases[i])
			continue;
		fuzz_remove_stale(bases[i]);
		snprintf(fuzz_dir, sizeof fuzz_dir, "%s/strata-fuzz-%ld-XXXXXX", bases[i], (long)getpid());
		if (mkdtemp(fuzz_dir)) {
			atexit(fuzz_remove_dir);
			return fuzz_dir;
		}
	}
	fprintf(stderr, "cannot make a scratch directory\n");
	abort();
}

/* Writes data as the whole content of path (created or truncated). */
static inline void fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t done = 0;

	CHECK(fd >= 0);
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);

		CHECK(n > 0);
		done += (size_t)n;
	}
	close(fd);
}

/*
 * Recomputes the checksum of every record of a record file (record.h) in
 * place, walking the records as the reader does, and stops at the first
 * header whose length runs past the end, or at a zero header. Reserved
 * bytes and types are left as they are, so the reader's other checks
 * still see them. Returns whether any byte changed.
 */
static inline bool fuzz_repair_records(uint8_t *buf, size_t size)
{
	static const uint8_t zero[LSM_RECORD_HEADER_LEN];
	uint8_t h[LSM_RECORD_HEADER_LEN];
	size_t off = 0;
	bool changed = false;

	while (size - off >= LSM_RECORD_HEADER_LEN) {
		uint32_t len = lsm_get_le32(buf + off + 8);

		if (memcmp(buf + off, zero, sizeof zero) == 0)
			break;
		if (len > size - off - LSM_RECORD_HEADER_LEN)
			break;
		lsm_record_header(h, (enum lsm_record_type)buf[off + 12], buf + off + LSM_RECORD_HEADER_LEN, len);
		if (memcmp(h, buf + off, 8) != 0) {
			memcpy(buf + off, h, 8);
			changed = true;
		}
		off += LSM_RECORD_HEADER_LEN + (size_t)len;
	}
	return changed;
}

#endif
