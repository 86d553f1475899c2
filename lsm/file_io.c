#include "lsm/file_io.h"
#include "lsm/status.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int lsm_write_full(int fd, const void *buf, size_t len, enum lsm_fault_point point)
{
	const char *p = buf;
	int rc = lsm_fault_check(point);

	if (rc)
		return strata_error(rc, "write: %s (injected)", strata_strerror(rc));
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return strata_error(-errno, "write: %s", strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int lsm_datasync(int fd, enum lsm_fault_point point)
{
	int rc = lsm_fault_check(point);

	if (rc)
		return strata_error(rc, "fdatasync: %s (injected)", strata_strerror(rc));
	if (fdatasync(fd) != 0)
		return strata_error(-errno, "fdatasync: %s", strerror(errno));
	return 0;
}

int lsm_sync_dir(const char *path, enum lsm_fault_point point)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return strata_error(-errno, "open directory %s: %s", path, strerror(errno));
	rc = lsm_fault_check(point);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (rc)
		strata_error(rc, "fsync directory %s: %s", path, strata_strerror(rc));
	close(fd);
	return rc;
}
