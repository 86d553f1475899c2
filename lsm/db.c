/*
 * db.c — opening, recovering, writing and closing a database.
 *
 * Write path: lsm_write hands the batch to group commit (commit.c). On the
 * current commit leader (a writing thread, one at a time), prepare_group
 * switches to a new memtable and WAL segment when the memtable is full,
 * apply_group inserts the durable batches into the memtable, and the sequence
 * number they carry becomes visible to readers.
 *
 * Memtable states:
 *
 *      writes ──▶ mem ──(full: switch)──▶ imm ──(flush thread)──▶ tables
 *
 * A switch needs imm to be free: if the previous immutable memtable is still
 * being flushed, the commit leader waits (a write stall, counted). Each
 * switch starts a new WAL segment, so the segments before it hold exactly
 * the entries of imm and can be deleted once imm is in the manifest (the
 * edit records the new segment's number as log_number).
 *
 * Recovery: the manifest gives the live tables and log_number; every WAL
 * segment numbered log_number or above is replayed in order into a memtable
 * (the newest may end in a torn record, which is trimmed and reported), the
 * result is flushed, and writes go to a fresh segment.
 */
#include "lsm/alloc.h"
#include "lsm/db_int.h"
#include "lsm/fault.h"
#include "lsm/lockfile.h"
#include "lsm/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

uint64_t lsm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void lsm_options_default(lsm_options *out)
{
	memset(out, 0, sizeof *out);
	out->create_if_missing = true;
	out->memtable_bytes = 64u << 20;
	out->window_ns = LSM_WINDOW_LEGACY_NS; /* the one window length before policies had their own */
	lsm_sst_options_default(&out->sst);
	out->block_cache_bytes = 256u << 20;
	lsm_commit_options_default(&out->commit);
	out->wal_io = LSM_IO_AUTO;
	lsm_compact_options_default(&out->compact);
}

void lsm_db_set_bg_error(lsm_db *db, int rc, const char *what)
{
	pthread_mutex_lock(&db->mu);
	if (!db->bg_error) {
		db->bg_error = rc;
		LOG_ERROR("event=read_only cause=\"%s\" error=\"%s\" detail=\"%s\"", what,
			  strata_strerror(rc), strata_last_error());
	}
	pthread_cond_broadcast(&db->flushed_cv);
	pthread_mutex_unlock(&db->mu);
}

/* ---- memtable switch (commit leader, or the closing thread once commit has stopped) ---- */

static int switch_memtable(lsm_db *db)
{
	lsm_memtable *fresh = NULL;
	lsm_wal *wal = NULL, *old;
	uint64_t number, t0 = 0;
	int rc;

	pthread_mutex_lock(&db->mu);
	while (db->imm && !db->bg_error) {
		if (!t0) {
			t0 = lsm_now_ns();
			atomic_fetch_add(&db->write_stalls, 1);
		}
		pthread_cond_wait(&db->flushed_cv, &db->mu);
	}
	rc = db->bg_error;
	pthread_mutex_unlock(&db->mu);
	if (t0)
		atomic_fetch_add(&db->write_stall_ns, lsm_now_ns() - t0);
	if (rc)
		return rc;

	number = lsm_versions_new_file_number(db->versions);
	rc = lsm_wal_create(&wal, db->dir, number, db->io);
	if (rc)
		goto fail;
	rc = lsm_memtable_new(&fresh);
	if (rc)
		goto fail;
	/*
	 * The old segment may hold unsynced batches (relaxed mode, or writes
	 * with LSM_WRITE_NOSYNC). Once a newer segment exists it is no longer
	 * the newest, and recovery allows no torn tail there: sync it first.
	 */
	if (db->wal && (rc = lsm_wal_sync(db->wal)) != 0)
		goto fail;

	pthread_mutex_lock(&db->mu);
	old = db->wal;
	db->imm = db->mem;
	db->imm_log_number = number;
	db->mem = fresh;
	db->wal = wal;
	pthread_cond_signal(&db->flush_cv);
	pthread_mutex_unlock(&db->mu);
	if (old)
		lsm_wal_close(old);
	return 0;
fail:
	if (wal)
		lsm_wal_close(wal);
	if (fresh)
		lsm_memtable_unref(fresh);
	lsm_db_set_bg_error(db, rc, "cannot start a new memtable and WAL segment");
	return rc;
}

/* ---- commit hooks (the commit leader) ---- */

static int prepare_group(void *ctx, size_t group_bytes, lsm_wal **out)
{
	lsm_db *db = ctx;
	int rc;

	pthread_mutex_lock(&db->mu);
	rc = db->bg_error;
	pthread_mutex_unlock(&db->mu);
	if (rc)
		return strata_error(STRATA_EREADONLY, "engine is read-only: %s", strata_strerror(rc));
	if (lsm_memtable_count(db->mem) > 0 &&
	    lsm_memtable_bytes(db->mem) + group_bytes > db->opt.memtable_bytes) {
		rc = switch_memtable(db);
		if (rc)
			return rc;
	}
	*out = db->wal;
	return 0;
}

static int apply_group(void *ctx, lsm_batch *const *batches, size_t n)
{
	lsm_db *db = ctx;

	for (size_t i = 0; i < n; i++) {
		lsm_batch_reader r;
		lsm_batch_entry e;
		int rc = lsm_batch_reader_init(&r, batches[i]->data, lsm_batch_bytes(batches[i]));

		while (rc == 0 && (rc = lsm_batch_reader_next(&r, &e)) == 1)
			rc = lsm_memtable_add(db->mem, e.seq, e.kind, e.ukey, e.value, e.value_len);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void commit_failed(void *ctx, int rc)
{
	lsm_db_set_bg_error(ctx, rc, "WAL write or sync failed");
}

/* ---- flush thread ---- */

static void delete_wal_below(lsm_db *db, uint64_t log_number)
{
	char path[4096];
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof path, "%s/wal", db->dir);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long long n = strtoull(de->d_name, &end, 10);

		if (end == de->d_name || strcmp(end, ".wal") != 0 || n >= log_number)
			continue;
		lsm_wal_path(path, sizeof path, db->dir, n);
		if (unlink(path) != 0)
			LOG_WARN("event=wal_delete_failed file=%s error=\"%s\"", path, strerror(errno));
	}
	closedir(d);
}

static void *flush_main(void *arg)
{
	lsm_db *db = arg;

	pthread_mutex_lock(&db->mu);
	for (;;) {
		lsm_memtable *imm;
		uint64_t log_number;
		int rc;

		while (!db->imm && !db->closing)
			pthread_cond_wait(&db->flush_cv, &db->mu);
		if (!db->imm || db->bg_error)
			break;
		imm = db->imm;
		log_number = db->imm_log_number;
		pthread_mutex_unlock(&db->mu);

		rc = lsm_db_flush_memtable(db, imm, true, log_number); /* also takes imm off the read path */
		if (rc) {
			lsm_db_set_bg_error(db, rc, "memtable flush failed");
			pthread_mutex_lock(&db->mu);
			break;
		}
		{
			void (*gap)(lsm_db *) = atomic_load(&lsm_fault_flush_gap);

			if (gap)
				gap(db);
		}
		delete_wal_below(db, log_number);

		pthread_mutex_lock(&db->mu);
		db->compact_wakeups++;
		pthread_cond_signal(&db->compact_cv);
		pthread_mutex_unlock(&db->mu);
		lsm_memtable_unref(imm);
		pthread_mutex_lock(&db->mu);
	}
	pthread_mutex_unlock(&db->mu);
	return NULL;
}

/* ---- recovery ---- */

typedef struct replay_ctx {
	lsm_db *db;
	lsm_memtable *mem;
	uint64_t max_seq;
	uint64_t batches;
} replay_ctx;

static int replay_batch(void *arg, const uint8_t *data, size_t len)
{
	replay_ctx *c = arg;
	lsm_batch_reader r;
	lsm_batch_entry e;
	int rc = lsm_batch_reader_init(&r, data, len);

	while (rc == 0 && (rc = lsm_batch_reader_next(&r, &e)) == 1) {
		rc = lsm_memtable_add(c->mem, e.seq, e.kind, e.ukey, e.value, e.value_len);
		if (e.seq > c->max_seq)
			c->max_seq = e.seq;
	}
	if (rc < 0)
		return rc;
	c->batches++;
	/* Bound memory while replaying a long log: flush as we go. */
	if (lsm_memtable_bytes(c->mem) >= c->db->opt.memtable_bytes) {
		lsm_memtable *fresh;

		rc = lsm_db_flush_memtable(c->db, c->mem, false, 0);
		if (rc)
			return rc;
		rc = lsm_memtable_new(&fresh);
		if (rc)
			return rc;
		lsm_memtable_unref(c->mem);
		c->mem = fresh;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The numbers of the WAL segments at or above min, ascending, in *out. */
static int list_wal(lsm_db *db, uint64_t min, uint64_t **out, size_t *n_out)
{
	char path[4096];
	uint64_t *nums = NULL;
	size_t n = 0, cap = 0;
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof path, "%s/wal", db->dir);
	d = opendir(path);
	if (!d)
		return strata_error(-errno, "cannot list %s: %s", path, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long long num = strtoull(de->d_name, &end, 10);

		if (end == de->d_name || strcmp(end, ".wal") != 0 || num < min)
			continue;
		if (n == cap) {
			uint64_t *grown;

			cap = cap ? cap * 2 : 16;
			grown = strata_realloc(nums, cap * sizeof *nums);
			if (!grown) {
				strata_free(nums);
				closedir(d);
				return -ENOMEM;
			}
			nums = grown;
		}
		nums[n++] = num;
	}
	closedir(d);
	if (n)
		qsort(nums, n, sizeof *nums, cmp_u64);
	*out = nums;
	*n_out = n;
	return 0;
}

static int recover(lsm_db *db, uint64_t *out_last_seq)
{
	replay_ctx c = { .db = db };
	uint64_t *segments = NULL, new_log;
	size_t n_segments = 0;
	int rc;

	c.max_seq = lsm_versions_last_seq(db->versions);
	rc = lsm_memtable_new(&c.mem);
	if (rc)
		return rc;
	/*
	 * File numbers taken between manifest edits (a compaction's tables)
	 * may have been handed to WAL segments too: new numbers must come
	 * after every segment on disk, or a new segment would collide.
	 */
	rc = list_wal(db, 0, &segments, &n_segments);
	if (rc)
		goto out;
	for (size_t i = 0; i < n_segments; i++)
		lsm_versions_note_file_number(db->versions, segments[i]);
	strata_free(segments);
	segments = NULL;
	n_segments = 0;
	rc = list_wal(db, lsm_versions_log_number(db->versions), &segments, &n_segments);
	if (rc)
		goto out;
	for (size_t i = 0; i < n_segments; i++) {
		char path[4096];
		lsm_wal_replay_result res;
		bool newest = i + 1 == n_segments;

		lsm_wal_path(path, sizeof path, db->dir, segments[i]);
		rc = lsm_wal_replay(path, newest, replay_batch, &c, &res);
		if (rc)
			goto out;
		if (res.torn) {
			db->wal_torn_tails++;
			LOG_WARN("event=wal_torn_tail file=%s valid_bytes=%llu dropped_bytes=%llu",
				 path, (unsigned long long)res.valid_bytes,
				 (unsigned long long)(res.file_bytes - res.valid_bytes));
			rc = lsm_wal_truncate(path, res.valid_bytes);
			if (rc)
				goto out;
		}
		LOG_INFO("event=wal_replayed file=%s batches=%llu", path, (unsigned long long)res.n_batches);
	}
	/*
	 * Everything replayed goes to tables now, so the old segments can go
	 * and new writes start in a fresh segment: no later recovery meets a
	 * trimmed tail followed by new records.
	 */
	new_log = lsm_versions_new_file_number(db->versions);
	rc = lsm_db_flush_memtable(db, c.mem, true, new_log);
	if (rc)
		goto out;
	delete_wal_below(db, new_log);
	rc = lsm_wal_create(&db->wal, db->dir, new_log, db->io);
	if (rc)
		goto out;
	*out_last_seq = c.max_seq;
out:
	strata_free(segments);
	lsm_memtable_unref(c.mem);
	return rc;
}

static int make_dir(const char *path, bool create)
{
	struct stat st;

	if (stat(path, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : strata_error(-ENOTDIR, "%s is not a directory", path);
	if (!create)
		return strata_error(STRATA_ENOTFOUND, "data directory %s does not exist", path);
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		return strata_error(-errno, "cannot create %s: %s", path, strerror(errno));
	return 0;
}

static void db_free(lsm_db *db)
{
	if (db->wal)
		lsm_wal_close(db->wal);
	if (db->mem)
		lsm_memtable_unref(db->mem);
	if (db->imm)
		lsm_memtable_unref(db->imm);
	if (db->versions)
		lsm_versions_close(db->versions);
	if (db->cache)
		lsm_cache_free(db->cache);
	if (db->io)
		lsm_wal_io_free(db->io);
	lsm_lockfile_release(db->lock_fd);
	pthread_mutex_destroy(&db->mu);
	pthread_mutex_destroy(&db->version_mu);
	pthread_mutex_destroy(&db->compact_mu);
	pthread_cond_destroy(&db->compact_cv);
	pthread_cond_destroy(&db->flush_cv);
	pthread_cond_destroy(&db->flushed_cv);
	strata_free(db->dir);
	strata_free(db);
}

int lsm_open(lsm_db **out, const char *dir, const lsm_options *opt)
{
	lsm_commit_hooks hooks;
	lsm_db *db;
	uint64_t last_seq = 0;
	char path[4096];
	int rc;

	*out = NULL;
	if (opt->window_ns <= 0 || opt->memtable_bytes == 0)
		return strata_error(STRATA_EINVAL, "window_ns and memtable_bytes must be positive");
	db = strata_calloc(1, sizeof *db);
	if (!db)
		return -ENOMEM;
	db->lock_fd = -1;
	db->opt = *opt;
	pthread_mutex_init(&db->mu, NULL);
	pthread_mutex_init(&db->version_mu, NULL);
	pthread_mutex_init(&db->compact_mu, NULL);
	pthread_cond_init(&db->compact_cv, NULL);
	pthread_cond_init(&db->flush_cv, NULL);
	pthread_cond_init(&db->flushed_cv, NULL);
	db->dir = strata_strdup(dir);
	if (!db->dir) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = make_dir(dir, opt->create_if_missing);
	if (rc)
		goto fail;
	snprintf(path, sizeof path, "%s/wal", dir);
	if ((rc = make_dir(path, true)) != 0)
		goto fail;
	rc = lsm_lockfile_acquire(dir);
	if (rc < 0)
		goto fail;
	db->lock_fd = rc;
	rc = lsm_cache_new(&db->cache, opt->block_cache_bytes, 4);
	if (rc)
		goto fail;
	rc = lsm_versions_open(&db->versions, dir, db->cache, opt->create_if_missing);
	if (rc)
		goto fail;
	rc = lsm_wal_io_new(&db->io, opt->wal_io);
	if (rc)
		goto fail;
	rc = recover(db, &last_seq);
	if (rc)
		goto fail;
	rc = lsm_memtable_new(&db->mem);
	if (rc)
		goto fail;
	rc = pthread_create(&db->flush_thread, NULL, flush_main, db);
	if (rc) {
		rc = -rc;
		goto fail;
	}
	db->flush_thread_started = true;
	if (!opt->compact.disable) {
		db->compact_wakeups = 1; /* look at the windows once right away */
		rc = pthread_create(&db->compact_thread, NULL, lsm_compact_main, db);
		if (rc) {
			rc = -rc;
			goto fail;
		}
		db->compact_thread_started = true;
	}
	hooks = (lsm_commit_hooks){ .ctx = db, .prepare = prepare_group, .apply = apply_group,
				    .failed = commit_failed };
	rc = lsm_commit_start(&db->commit, &opt->commit, &hooks, last_seq);
	if (rc)
		goto fail;
	LOG_INFO("event=open dir=%s wal_io=%s sync=%s last_seq=%llu", dir, lsm_wal_io_name(db->io),
		 opt->commit.relaxed ? "relaxed" : "sync", (unsigned long long)last_seq);
	*out = db;
	return 0;
fail:
	if (db->flush_thread_started || db->compact_thread_started) {
		pthread_mutex_lock(&db->mu);
		db->closing = true;
		pthread_cond_signal(&db->flush_cv);
		pthread_cond_broadcast(&db->compact_cv);
		pthread_mutex_unlock(&db->mu);
		if (db->flush_thread_started)
			pthread_join(db->flush_thread, NULL);
		if (db->compact_thread_started)
			pthread_join(db->compact_thread, NULL);
	}
	db_free(db);
	return rc;
}

int lsm_write(lsm_db *db, lsm_batch *b, int flags)
{
	uint64_t now;

	if (lsm_batch_count(b) == 0)
		return 0;
	/* For the compaction's choice of threads; written at most every 100 ms, not by every writer. */
	now = lsm_now_ns();
	if (now - atomic_load_explicit(&db->last_write_ns, memory_order_relaxed) > 100000000)
		atomic_store_explicit(&db->last_write_ns, now, memory_order_relaxed);
	return lsm_commit_submit(db->commit, b, !(flags & LSM_WRITE_NOSYNC));
}

static int switch_if_not_empty(void *ctx)
{
	lsm_db *db = ctx;

	if (lsm_memtable_count(db->mem) == 0)
		return 0;
	return switch_memtable(db);
}

int lsm_flush(lsm_db *db)
{
	uint64_t target;
	int rc;

	rc = lsm_commit_run(db->commit, switch_if_not_empty, db);
	if (rc)
		return rc;
	/* Wait until the memtable switched out above (if any) is in tables. */
	pthread_mutex_lock(&db->mu);
	target = db->flushes_done + (db->imm ? 1 : 0);
	while (db->flushes_done < target && !db->bg_error)
		pthread_cond_wait(&db->flushed_cv, &db->mu);
	rc = db->bg_error;
	pthread_mutex_unlock(&db->mu);
	return rc;
}

int lsm_close(lsm_db *db)
{
	int rc;

	if (!db)
		return 0;
	lsm_commit_stop(db->commit);
	db->commit = NULL;

	/* Let the flush thread finish imm, then flush mem here. */
	pthread_mutex_lock(&db->mu);
	while (db->imm && !db->bg_error)
		pthread_cond_wait(&db->flushed_cv, &db->mu);
	db->closing = true;
	pthread_cond_signal(&db->flush_cv);
	pthread_cond_broadcast(&db->compact_cv);
	rc = db->bg_error;
	pthread_mutex_unlock(&db->mu);
	if (rc)
		strata_error(rc, "%s: the memtable is not flushed: the engine went read-only after a failed write (%s); "
			     "what was acknowledged is in the WAL and comes back at the next open",
			     db->dir, strata_strerror(rc));
	pthread_join(db->flush_thread, NULL);
	db->flush_thread_started = false;
	if (db->compact_thread_started) {
		/* A running compaction notices closing between keys and abandons its outputs. */
		pthread_join(db->compact_thread, NULL);
		db->compact_thread_started = false;
	}

	if (rc == 0 && lsm_memtable_count(db->mem) > 0) {
		uint64_t new_log = lsm_versions_new_file_number(db->versions);

		/*
		 * Everything is in tables after this edit; no segment below
		 * new_log is needed, and the next open starts a new one.
		 */
		rc = lsm_db_flush_memtable(db, db->mem, true, new_log);
		if (rc == 0) {
			lsm_wal_close(db->wal);
			db->wal = NULL;
			delete_wal_below(db, new_log);
		}
	}
	LOG_INFO("event=close dir=%s", db->dir);
	db_free(db);
	return rc;
}

/* The user-key ranges of two tables meet (they may hold a key in common). */
static bool keys_overlap(const lsm_sst_props *a, const lsm_sst_props *b)
{
	return memcmp(a->smallest, b->largest, LSM_UKEY_LEN) <= 0 &&
	       memcmp(b->smallest, a->largest, LSM_UKEY_LEN) <= 0;
}

typedef struct span {
	double lo, hi; /* inclusive, in ns (doubles: a span may be wider than int64) */
} span;

/*
 * Entries of window w that a merge would fold away, estimated from the
 * properties alone: an entry of a table is counted when its timestamp lies
 * in the time span of a newer table of the window whose user-key range
 * meets the table's, its entries taken as spread evenly over the table's
 * time span, and at most as many as those newer tables hold. Tables written
 * in time order share no span and count nothing; a rewrite of the same
 * points counts them all; a late point that is new in an older table's span
 * is counted too (the properties cannot tell it from an overwrite).
 * scratch holds w->n_files spans.
 */
static uint64_t window_redundant_entries(const lsm_window_files *w, span *scratch)
{
	uint64_t redundant = 0;

	for (size_t i = 1; i < w->n_files; i++) {
		const lsm_sst_props *p = &w->files[i]->props;
		double lo = (double)p->min_ts, hi = (double)p->max_ts, covered = 0, end = lo - 1;
		uint64_t newer = 0, r;
		size_t n = 0, k;

		for (size_t j = 0; j < i; j++) {
			const lsm_sst_props *q = &w->files[j]->props;
			span s = { (double)q->min_ts, (double)q->max_ts };

			if (!keys_overlap(p, q))
				continue;
			newer += q->n_entries;
			if (s.lo < lo)
				s.lo = lo;
			if (s.hi > hi)
				s.hi = hi;
			if (s.lo > s.hi)
				continue;
			/* Insertion by start: a window holds a few dozen tables at most. */
			for (k = n++; k > 0 && scratch[k - 1].lo > s.lo; k--)
				scratch[k] = scratch[k - 1];
			scratch[k] = s;
		}
		/* The length of the union of the newer spans within this one. */
		for (k = 0; k < n; k++) {
			double from = scratch[k].lo > end + 1 ? scratch[k].lo : end + 1;

			if (scratch[k].hi >= from)
				covered += scratch[k].hi - from + 1;
			if (scratch[k].hi > end)
				end = scratch[k].hi;
		}
		r = (uint64_t)((double)p->n_entries * (covered / (hi - lo + 1)) + 0.5);
		if (r > p->n_entries)
			r = p->n_entries;
		redundant += r < newer ? r : newer;
	}
	return redundant;
}

/*
 * Fills the table totals of v into out: entries, and the bytes once merged,
 * each window's bytes scaled by the share of its entries a merge would keep
 * (window_redundant_entries). A window of one table keeps all of them.
 */
static void table_totals(const lsm_version *v, lsm_stats *out)
{
	size_t most = 0;
	span *scratch;
	double merged = 0;

	for (size_t i = 0; i < v->n_windows; i++) {
		if (v->windows[i].n_files > most)
			most = v->windows[i].n_files;
		if (v->windows[i].n_files > out->max_files_per_window)
			out->max_files_per_window = v->windows[i].n_files;
	}
	scratch = most ? strata_malloc(most * sizeof(*scratch)) : NULL;
	for (size_t i = 0; i < v->n_windows; i++) {
		const lsm_window_files *w = &v->windows[i];
		uint64_t entries = 0, bytes = 0, redundant;

		for (size_t k = 0; k < w->n_files; k++) {
			entries += w->files[k]->props.n_entries;
			bytes += w->files[k]->props.file_bytes;
		}
		out->table_entries += entries;
		/* Without memory for the spans the window counts as merged already. */
		redundant = scratch && entries ? window_redundant_entries(w, scratch) : 0;
		merged += entries ? (double)bytes * (double)(entries - redundant) / (double)entries : (double)bytes;
	}
	strata_free(scratch);
	out->est_merged_bytes = (uint64_t)(merged + 0.5);
}

void lsm_get_stats(lsm_db *db, lsm_stats *out)
{
	memset(out, 0, sizeof *out);
	lsm_commit_get_stats(db->commit, &out->commit);
	lsm_cache_get_stats(db->cache, &out->cache);
	out->wal_io = lsm_wal_io_name(db->io);
	out->relaxed = db->opt.commit.relaxed;
	out->visible_seq = lsm_commit_visible_seq(db->commit);
	pthread_mutex_lock(&db->mu);
	out->memtable_bytes = lsm_memtable_bytes(db->mem);
	out->immutable_bytes = db->imm ? lsm_memtable_bytes(db->imm) : 0;
	out->error = db->bg_error;
	pthread_mutex_unlock(&db->mu);
	out->write_stalls = atomic_load(&db->write_stalls);
	out->write_stall_ns = atomic_load(&db->write_stall_ns);
	out->flushes = atomic_load(&db->flushes);
	out->flush_bytes = atomic_load(&db->flush_bytes);
	lsm_versions_totals(db->versions, &out->n_files, &out->file_bytes);
	{
		lsm_version *v = lsm_versions_current(db->versions);

		out->n_windows = v->n_windows;
		table_totals(v, out);
		lsm_version_unref(v);
	}
	out->wal_torn_tails = db->wal_torn_tails;
	out->compactions = atomic_load(&db->compactions);
	out->compaction_failures = atomic_load(&db->compaction_failures);
	out->compact_bytes_read = atomic_load(&db->compact_bytes_read);
	out->compact_bytes_written = atomic_load(&db->compact_bytes_written);
	out->compact_ns = atomic_load(&db->compact_ns);
	out->compaction_debt_bytes = lsm_compact_debt(db);
	out->compaction_active = atomic_load(&db->compacting);
}
