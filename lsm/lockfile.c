#include "lsm/lockfile.h"
#include "lsm/status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int lsm_lockfile_acquire(const char *dir)
{
	char path[4096], pid[32];
	int fd, n;

	snprintf(path, sizeof path, "%s/LOCK", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return strata_error(-errno, "cannot open %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int err = errno;
		ssize_t got = pread(fd, pid, sizeof pid - 1, 0);

		close(fd);
		if (err != EWOULDBLOCK)
			return strata_error(-err, "cannot lock %s: %s", path, strerror(err));
		pid[got > 0 ? got : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		return strata_error(STRATA_ELOCKED,
				    "data directory %s is in use by another strata process (pid %s)",
				    dir, pid[0] ? pid : "unknown");
	}
	n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		int err = errno;

		close(fd);
		return strata_error(-err, "cannot write %s: %s", path, strerror(err));
	}
	return fd;
}

void lsm_lockfile_release(int fd)
{
	if (fd >= 0)
		close(fd); /* closing the descriptor drops the flock */
}
