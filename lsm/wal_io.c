/*
 * wal_io.c — the two ways the WAL reaches the disk (wal_io.h).
 *
 * io_uring: a write that must be synced and its fdatasync go in a single
 * submission, the sync linked behind the write with IOSQE_IO_LINK, and one
 * io_uring_enter both submits and waits for the two completions. A write
 * without a sync is a plain pwrite on this backend too: copying into the page
 * cache gains nothing from the ring, and a buffered write that the kernel
 * cannot complete inline would go to an io_uring worker thread, a thread hop
 * per write. Completions are unordered, so
 * each is recognised by its user_data. A short write severs the link: the
 * kernel cancels the sync (-ECANCELED), and the remaining bytes go in another
 * write+sync submission. A failed write or sync is returned, never retried.
 * The ring (depth 8) belongs to the io object, which the engine shares
 * between the threads that lead group commit, one at a time.
 *
 * pwrite: the same contract with a pwrite loop and fdatasync.
 *
 * Both backends pass the fault points: LSM_FAULT_WAL_WRITE once per
 * lsm_wal_io_write before anything is written, LSM_FAULT_WAL_SYNC before the
 * sync. A failed point fails the call with its code without doing that
 * operation (an injected sync failure still writes the data, as a real one
 * would).
 *
 * Choosing: LSM_IO_AUTO uses io_uring when io_uring_queue_init works and
 * the kernel has the write and fsync operations, and falls back to pwrite
 * otherwise, logging that once per process. The environment variable
 * STRATA_WAL_IO=pwrite|io_uring forces one backend for LSM_IO_AUTO (io_uring
 * then fails if it cannot be set up), so tests and users can run either
 * path. LSM_IO_URING and LSM_IO_PWRITE ignore it.
 *
 * An io object is used by one thread at a time (the commit leader; the
 * token that makes a thread leader orders the uses); lsm_wal_io_new may run
 * on any thread.
 */
#include "lsm/wal_io.h"
#include "lsm/alloc.h"
#include "lsm/fault.h"
#include "lsm/log.h"
#include "lsm/status.h"

#include <errno.h>
#include <liburing.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define RING_DEPTH 8
/* One io_uring write moves at most this much (its length is 32 bits). */
#define URING_WRITE_MAX (1u << 30)

enum { UD_WRITE = 1, UD_SYNC = 2 };

struct lsm_wal_io {
	bool uring;
	int broken;          /* io_uring: the ring is in an unknown state after a failed submit */
	struct io_uring ring;
};

static atomic_flag fallback_logged = ATOMIC_FLAG_INIT;
static atomic_flag env_logged = ATOMIC_FLAG_INIT;

/* STRATA_WAL_IO may pick the backend for LSM_IO_AUTO. */
static enum lsm_io_kind kind_from_env(void)
{
	const char *v = getenv("STRATA_WAL_IO");

	if (!v || !*v || strcmp(v, "auto") == 0)
		return LSM_IO_AUTO;
	if (strcmp(v, "pwrite") == 0)
		return LSM_IO_PWRITE;
	if (strcmp(v, "io_uring") == 0 || strcmp(v, "uring") == 0)
		return LSM_IO_URING;
	if (!atomic_flag_test_and_set(&env_logged))
		LOG_WARN("wal STRATA_WAL_IO=%s unknown (pwrite, io_uring, auto); using auto", v);
	return LSM_IO_AUTO;
}

/*
 * A ring may come up on a kernel that lacks the operations (IORING_OP_WRITE
 * came in 5.6): check for them, so that such a kernel falls back to pwrite
 * instead of failing the first write.
 */
static int ring_probe(struct io_uring *ring)
{
	struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
	int rc = 0;

	if (!probe)
		return -EOPNOTSUPP;
	if (!io_uring_opcode_supported(probe, IORING_OP_WRITE) ||
	    !io_uring_opcode_supported(probe, IORING_OP_FSYNC))
		rc = -EOPNOTSUPP;
	io_uring_free_probe(probe);
	return rc;
}

int lsm_wal_io_new(lsm_wal_io **out, enum lsm_io_kind kind)
{
	lsm_wal_io *io;
	int rc = 0;

	*out = NULL;
	io = strata_calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	if (kind == LSM_IO_AUTO)
		kind = kind_from_env();
	if (kind == LSM_IO_PWRITE)
		goto out;
	rc = io_uring_queue_init(RING_DEPTH, &io->ring, 0);
	if (rc == 0) {
		rc = ring_probe(&io->ring);
		if (rc == 0) {
			io->uring = true;
			goto out;
		}
		io_uring_queue_exit(&io->ring);
	}
	if (kind == LSM_IO_URING) {
		rc = strata_error(rc, "wal io_uring set-up failed: %s", strerror(-rc));
		strata_free(io);
		return rc;
	}
	if (!atomic_flag_test_and_set(&fallback_logged))
		LOG_WARN("wal io_uring unavailable, using pwrite errno=%d error=\"%s\"", -rc, strerror(-rc));
	rc = 0;
out:
	*out = io;
	return rc;
}

void lsm_wal_io_free(lsm_wal_io *io)
{
	if (!io)
		return;
	if (io->uring)
		io_uring_queue_exit(&io->ring);
	strata_free(io);
}

const char *lsm_wal_io_name(const lsm_wal_io *io)
{
	return io->uring ? "io_uring" : "pwrite";
}

/* --- pwrite backend --- */

static int pw_write(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, (off_t)off);

		if (n < 0) {
			/* EINTR: nothing was written; issuing the call again is no retry. */
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int pw_sync(int fd)
{
	return fdatasync(fd) < 0 ? -errno : 0;
}

/* --- io_uring backend --- */

/* Submits what is queued and waits for n completions' worth of submission. */
static int ring_submit(lsm_wal_io *io, unsigned n)
{
	int rc;

	do {
		rc = io_uring_submit_and_wait(&io->ring, n);
	} while (rc == -EINTR);
	if (rc < 0) {
		io->broken = rc;
		return rc;
	}
	if ((unsigned)rc != n) {
		/* Entries left in the submission queue would go out with the next call. */
		io->broken = -EIO;
		return -EIO;
	}
	return 0;
}

static int ring_reap(lsm_wal_io *io, uint64_t *ud, int *res)
{
	struct io_uring_cqe *cqe;
	int rc;

	do {
		rc = io_uring_wait_cqe(&io->ring, &cqe);
	} while (rc == -EINTR);
	if (rc < 0) {
		io->broken = rc;
		return rc;
	}
	*ud = cqe->user_data;
	*res = cqe->res;
	io_uring_cqe_seen(&io->ring, cqe);
	return 0;
}

/*
 * One write, with the sync linked behind it when sync. *written is what the
 * write moved; *sync_res the sync's result (-ECANCELED when the write came
 * up short or failed). Returns 0 or a ring failure.
 */
static int ring_write_once(lsm_wal_io *io, int fd, const uint8_t *buf, unsigned len, uint64_t off,
			   bool sync, int *write_res, int *sync_res)
{
	struct io_uring_sqe *sqe;
	unsigned n = sync ? 2 : 1;
	int rc;

	sqe = io_uring_get_sqe(&io->ring);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_write(sqe, fd, buf, len, off);
	sqe->user_data = UD_WRITE;
	if (sync) {
		sqe->flags |= IOSQE_IO_LINK;
		sqe = io_uring_get_sqe(&io->ring);
		if (!sqe) {
			/* Cannot happen with an empty ring of depth 8; never submit half a chain. */
			io->broken = -EBUSY;
			return -EBUSY;
		}
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		sqe->user_data = UD_SYNC;
	}
	rc = ring_submit(io, n);
	if (rc)
		return rc;
	*sync_res = -ECANCELED;
	for (unsigned i = 0; i < n; i++) {
		uint64_t ud;
		int res;

		rc = ring_reap(io, &ud, &res);
		if (rc)
			return rc;
		if (ud == UD_WRITE)
			*write_res = res;
		else if (ud == UD_SYNC)
			*sync_res = res;
	}
	return 0;
}

static int ring_write(lsm_wal_io *io, int fd, const uint8_t *buf, size_t len, uint64_t off, bool sync,
		      int sync_fault)
{
	while (len > 0) {
		unsigned chunk = len > URING_WRITE_MAX ? URING_WRITE_MAX : (unsigned)len;
		/* The sync rides with the write that should finish the job. */
		bool with_sync = sync && !sync_fault && chunk == len;
		int write_res = -EIO, sync_res = -ECANCELED;
		int rc = ring_write_once(io, fd, buf, chunk, off, with_sync, &write_res, &sync_res);

		if (rc)
			return rc;
		if (write_res < 0)
			return write_res;
		if (write_res == 0)
			return -EIO;
		if ((unsigned)write_res > chunk)
			return -EIO;
		buf += write_res;
		len -= (size_t)write_res;
		off += (uint64_t)write_res;
		if (len == 0 && with_sync) {
			/* The whole write landed, so the sync ran: its result stands. */
			return sync_res;
		}
		/* Short: the linked sync was cancelled (or ran early); the loop syncs after the rest. */
	}
	if (sync_fault)
		return sync_fault;
	return 0;
}

static int ring_sync(lsm_wal_io *io, int fd)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);
	uint64_t ud;
	int res, rc;

	if (!sqe)
		return -EBUSY;
	io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
	sqe->user_data = UD_SYNC;
	rc = ring_submit(io, 1);
	if (rc)
		return rc;
	rc = ring_reap(io, &ud, &res);
	if (rc)
		return rc;
	return res;
}

/* --- the interface --- */

int lsm_wal_io_write(lsm_wal_io *io, int fd, const void *buf, size_t len, uint64_t off, bool sync)
{
	int rc, sync_fault = 0;

	if (io->broken)
		return io->broken;
	rc = lsm_fault_check(LSM_FAULT_WAL_WRITE);
	if (rc)
		return rc;
	if (!io->uring || !sync) {
		/*
		 * A write without a sync goes through pwrite on both backends: a
		 * buffered write only copies into the page cache, which io_uring
		 * would do the same way, or hand to one of its worker threads.
		 */
		rc = pw_write(fd, buf, len, off);
		if (rc == 0 && sync) {
			rc = lsm_fault_check(LSM_FAULT_WAL_SYNC);
			if (rc == 0)
				rc = pw_sync(fd);
		}
		return rc;
	}
	/* io_uring decides before submitting whether the sync goes linked behind the write. */
	if (sync)
		sync_fault = lsm_fault_check(LSM_FAULT_WAL_SYNC);
	if (len == 0)
		return sync_fault ? sync_fault : (sync ? ring_sync(io, fd) : 0);
	return ring_write(io, fd, buf, len, off, sync, sync_fault);
}

int lsm_wal_io_sync(lsm_wal_io *io, int fd)
{
	int rc;

	if (io->broken)
		return io->broken;
	rc = lsm_fault_check(LSM_FAULT_WAL_SYNC);
	if (rc)
		return rc;
	return io->uring ? ring_sync(io, fd) : pw_sync(fd);
}
