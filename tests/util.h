/*
 * util.h — small helpers shared by the test programs: temporary
 * directories, copying and removing trees, reading and patching files.
 */
#ifndef STRATA_TESTS_UTIL_H
#define STRATA_TESTS_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Creates a fresh directory under /tmp; the path is written into out. */
static inline int test_make_temp_dir(char *out, size_t len)
{
	snprintf(out, len, "/tmp/strata-test-XXXXXX");
	return mkdtemp(out) ? 0 : -1;
}

static inline int test_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* rm -rf path. */
static inline void test_remove_tree(const char *path)
{
	nftw(path, test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Copies a directory tree of regular files (like a crash image of it). */
static inline int test_copy_tree(const char *from, const char *to)
{
	DIR *d = opendir(from);
	struct dirent *de;
	int rc = 0;

	if (!d || mkdir(to, 0755) != 0) {
		if (d)
			closedir(d);
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		char src[4096], dst[4096];
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (snprintf(src, sizeof src, "%s/%s", from, de->d_name) >= (int)sizeof src ||
		    snprintf(dst, sizeof dst, "%s/%s", to, de->d_name) >= (int)sizeof dst) {
			rc = -1; /* a path this long is no test directory */
			break;
		}
		if (stat(src, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			rc = test_copy_tree(src, dst);
		} else {
			char buf[65536];
			ssize_t n;
			int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);

			if (in < 0 || out < 0)
				rc = -1;
			while (rc == 0 && (n = read(in, buf, sizeof buf)) > 0)
				if (write(out, buf, (size_t)n) != n)
					rc = -1;
			if (in >= 0)
				close(in);
			if (out >= 0)
				close(out);
		}
	}
	closedir(d);
	return rc;
}

/* Size of a file, or -1. */
static inline long long test_file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* XORs the byte at offset with mask. */
static inline int test_flip_byte(const char *path, long long offset, uint8_t mask)
{
	int fd = open(path, O_RDWR);
	uint8_t b;
	int rc = -1;

	if (fd < 0)
		return -1;
	if (pread(fd, &b, 1, offset) == 1) {
		b ^= mask;
		rc = pwrite(fd, &b, 1, offset) == 1 ? 0 : -1;
	}
	close(fd);
	return rc;
}

/* The first file in dir whose name ends with suffix, as a full path. */
static inline int test_find_file(const char *dir, const char *suffix, char *out, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t sl = strlen(suffix);
	int rc = -1;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);

		if (nl > sl && strcmp(de->d_name + nl - sl, suffix) == 0) {
			snprintf(out, len, "%s/%s", dir, de->d_name);
			rc = 0;
			break;
		}
	}
	closedir(d);
	return rc;
}

/* Number of files in dir whose name ends with suffix. */
static inline int test_count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t sl = strlen(suffix);
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);

		if (nl > sl && strcmp(de->d_name + nl - sl, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Writes text to path (replacing it); aborts the test program when it cannot. */
static inline void test_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		abort();
	}
}

/* Reads up to len - 1 bytes of path into buf, NUL-terminated ("" when it cannot be read). */
static inline void test_read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

#endif
