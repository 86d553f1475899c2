/*
 * compact.c — time-window compaction (compact.h): picking a run of tables,
 * merging it, publishing the result, and the background thread.
 */
#include "lsm/compact.h"
#include "lsm/alloc.h"
#include "lsm/db_int.h"
#include "lsm/log.h"
#include "lsm/merge_iter.h"
#include "lsm/resolve.h"
#include "lsm/sstable_builder.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* Keys between two looks at db->closing while merging. */
#define CLOSING_CHECK_EVERY 4096
/* How long the thread sleeps when nothing is due (windows also close by time). */
#define IDLE_WAIT_NS (INT64_C(5) * 1000000000)
/* Pause after a failed job before trying again. */
#define FAILURE_BACKOFF_NS (INT64_C(30) * 1000000000)

void lsm_compact_options_default(lsm_compact_options *out)
{
	out->disable = false;
	out->live_trigger = 4;
	out->max_files = 16;
	out->closed_grace_ns = INT64_C(3600) * 1000000000;
	out->late_settle_ns = INT64_C(600) * 1000000000;
	out->max_file_bytes = (uint64_t)256 << 20;
	out->final_threads = 2;
	out->final_split_bytes = (uint64_t)16 << 20;
	out->final_split_quiet_ns = INT64_C(2) * 1000000000;
	out->rate_bytes_per_s = 0;
	out->clock = NULL;
	out->clock_ctx = NULL;
	out->drop = NULL;
	out->drop_ctx = NULL;
}

static int64_t wall_ns(const lsm_db *db)
{
	struct timespec ts;

	if (db->opt.compact.clock)
		return db->opt.compact.clock(db->opt.compact.clock_ctx);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- picking ---- */

typedef struct job {
	int64_t window;
	int64_t window_ns;
	lsm_file **inputs; /* pinned, newest first, adjacent in sequence order */
	size_t n;
	bool bottom;       /* the run ends at the window's oldest table */
	bool final;        /* a closed window merged whole: written in its final, column form */
	lsm_file **others; /* pinned: tables of windows of other lengths sharing its time */
	size_t n_others;
} job;

/* Block size and zstd level of a closed window's final form: bigger runs of a series compress better. */
#define FINAL_BLOCK_BYTES (64u << 10)
#define FINAL_ZSTD_LEVEL 3
/* A final merge is split into at most this many parts. */
#define FINAL_PARTS_MAX 8

static bool window_closed(const lsm_db *db, const lsm_window_files *w, int64_t now)
{
	int64_t end;

	/* The window's own end, saturating: windows near the end of time never close. */
	if (w->last_ns == INT64_MAX || __builtin_add_overflow(w->last_ns + 1, db->opt.compact.closed_grace_ns, &end))
		return false;
	return now >= end;
}

/*
 * Pins into j->others the tables of windows of other lengths that share
 * time with window wi of v: a series whose window length changed (its
 * policy's shard duration) may have other versions of the same keys there
 * (merge_inputs). false on -ENOMEM.
 */
static bool pin_others(const lsm_version *v, size_t wi, job *j)
{
	const lsm_window_files *self = &v->windows[wi];
	size_t n = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = lsm_version_first_overlap(v, self->first_ns); i < v->n_windows; i++) {
			const lsm_window_files *w = &v->windows[i];

			if (w->first_ns > self->last_ns)
				break;
			if (i == wi || !lsm_window_overlaps(w, self))
				continue;
			for (size_t k = 0; k < w->n_files; k++, n++) {
				if (pass == 1) {
					j->others[n] = w->files[k];
					lsm_file_ref(w->files[k]);
				}
			}
		}
		if (pass == 0) {
			if (n == 0)
				return true;
			j->others = strata_malloc(n * sizeof(*j->others));
			if (!j->others)
				return false;
			j->n_others = n;
			n = 0;
		}
	}
	return true;
}

/*
 * True when the only table of a closed window is already in final form. May
 * open the table to read the flags of the file (the manifest does not keep
 * them) and notes them in f, so only under compact_mu (probe).
 */
static bool is_final(lsm_file *f, bool probe)
{
	lsm_sst *t;

	/* Atomic: the stats read these flags while the compaction thread notes them. */
	if (__atomic_load_n(&f->props.flags, __ATOMIC_RELAXED) & LSM_SST_FLAG_FINAL)
		return true;
	if (!probe || lsm_file_table(f, &t) != 0)
		return probe; /* an unreadable table is left to the readers to report */
	return (__atomic_or_fetch(&f->props.flags, lsm_sst_get_props(t)->flags, __ATOMIC_RELAXED) &
		LSM_SST_FLAG_FINAL) != 0;
}

/* A table a split merge cut at the size limit (within an eighth of it). */
static bool full(const lsm_compact_options *o, const lsm_file *f)
{
	return f->props.file_bytes >= o->max_file_bytes - o->max_file_bytes / 8;
}

/*
 * Size-tiered from the newest of w's first k tables: the run to merge when
 * it reaches the trigger (*n), stopping at a table more than twice the run.
 */
static void tier(const lsm_compact_options *o, const lsm_window_files *w, size_t k, size_t *n, uint64_t *score)
{
	uint64_t run_bytes;
	size_t i;

	if (k < o->live_trigger)
		return;
	run_bytes = w->files[0]->props.file_bytes;
	for (i = 1; i < k; i++) {
		uint64_t b = w->files[i]->props.file_bytes;

		if (b > 2 * run_bytes)
			break;
		run_bytes += b;
	}
	if (i >= o->live_trigger) {
		*n = i;
		*score = i;
	}
}

/*
 * The run of window w to merge now: [*first, *first + *n) of its tables
 * (newest first), or *n == 0. Sets *score (bigger: more urgent) and *final.
 * Under probe (the compaction thread, compact_mu held) it may open tables
 * and stamps the tables it sees for the first time.
 */
static void plan_window(const lsm_db *db, const lsm_window_files *w, bool all, int64_t now, bool probe,
			size_t *first, size_t *n, uint64_t *score, bool *final)
{
	const lsm_compact_options *o = &db->opt.compact;
	bool closed = all || window_closed(db, w, now);
	size_t k;

	*first = 0;
	*n = 0;
	*score = 0;
	*final = closed;
	if (closed) {
		/*
		 * Closed: merged down once into its final form, which may be
		 * several key-disjoint tables (split at max_file_bytes); again
		 * only when late writes added tables that are not final. Those
		 * are the newest; rewriting the whole window for each of them
		 * would make loading old data quadratic, so they are tiered
		 * among themselves and folded in when they hold a quarter of
		 * the final bytes (the final form grows geometrically: each byte
		 * is rewritten a bounded number of times), when there are
		 * max_files of them, or when the window has been quiet for
		 * late_settle_ns.
		 */
		uint64_t final_bytes = 0, late_bytes = 0;
		size_t n_late = 0;
		int64_t seen = 0;

		for (k = 0; k < w->n_files; k++) {
			if (is_final(w->files[k], probe)) {
				final_bytes += w->files[k]->props.file_bytes;
				continue;
			}
			late_bytes += w->files[k]->props.file_bytes;
			n_late++;
		}
		if (n_late == 0)
			return;
		if (probe) {
			int64_t unseen = 0;

			atomic_compare_exchange_strong(&w->files[0]->seen_ns, &unseen, now);
		}
		seen = atomic_load(&w->files[0]->seen_ns);
		if (all || final_bytes == 0 || late_bytes >= final_bytes / 4 || n_late >= o->max_files ||
		    (seen != 0 && now - seen >= o->late_settle_ns)) {
			*n = w->n_files;
			*score = w->n_files + (all ? 0 : 1000000);
			return;
		}
		/* The late tables lie above the final ones: tier the newest of them. */
		for (k = 0; k < w->n_files && !is_final(w->files[k], probe); k++)
			;
		*final = false;
		tier(o, w, k, n, score);
		return;
	}
	*final = false;
	/*
	 * Live. Tables cut at max_file_bytes are full: they take no part in
	 * tiers and do not count towards max_files, so the outputs of a split
	 * merge are not merged again and again.
	 */
	for (k = 0; k < w->n_files && !full(o, w->files[k]); k++)
		;
	if (k < 2)
		return;
	if (k >= o->max_files) {
		*n = k;
		*score = k + 1000000;
		return;
	}
	tier(o, w, k, n, score);
}

static void job_release(job *j);

/* Pins the most urgent job of v into *j; false when none is due. */
static bool pick(lsm_db *db, lsm_version *v, bool all, job *j)
{
	int64_t now = wall_ns(db);
	size_t best = v->n_windows, best_first = 0, best_n = 0;
	uint64_t best_score = 0;
	bool best_final = false;

	for (size_t i = 0; i < v->n_windows; i++) {
		size_t first, n;
		uint64_t score;
		bool final;

		plan_window(db, &v->windows[i], all, now, true, &first, &n, &score, &final);
		if (n >= 1 && score > best_score) {
			best = i;
			best_first = first;
			best_n = n;
			best_score = score;
			best_final = final;
		}
	}
	if (best == v->n_windows)
		return false;
	j->inputs = strata_malloc(best_n * sizeof(*j->inputs));
	if (!j->inputs)
		return false;
	j->window = v->windows[best].window;
	j->window_ns = v->windows[best].window_ns;
	j->n = best_n;
	j->bottom = best_first + best_n == v->windows[best].n_files;
	j->final = best_final && j->bottom;
	for (size_t i = 0; i < best_n; i++) {
		j->inputs[i] = v->windows[best].files[best_first + i];
		lsm_file_ref(j->inputs[i]);
	}
	if (!pin_others(v, best, j)) {
		job_release(j);
		return false;
	}
	return true;
}

static void job_release(job *j)
{
	for (size_t i = 0; i < j->n; i++)
		lsm_file_unref(j->inputs[i]);
	for (size_t i = 0; i < j->n_others; i++)
		lsm_file_unref(j->others[i]);
	strata_free(j->inputs);
	strata_free(j->others);
	j->inputs = NULL;
	j->others = NULL;
	j->n = 0;
	j->n_others = 0;
}

/* A closed window holds tables that are not in final form (folded in later, not now). */
static bool late_pending(const lsm_db *db, const lsm_window_files *w, int64_t now)
{
	if (!window_closed(db, w, now))
		return false;
	for (size_t k = 0; k < w->n_files; k++)
		if (!(__atomic_load_n(&w->files[k]->props.flags, __ATOMIC_RELAXED) & LSM_SST_FLAG_FINAL))
			return true;
	return false;
}

uint64_t lsm_compact_debt(lsm_db *db)
{
	lsm_version *v = lsm_versions_current(db->versions);
	int64_t now = wall_ns(db);
	uint64_t debt = 0;

	for (size_t i = 0; i < v->n_windows; i++) {
		size_t first, n;
		uint64_t score;
		bool final;

		plan_window(db, &v->windows[i], false, now, false, &first, &n, &score, &final);
		if (late_pending(db, &v->windows[i], now)) {
			/*
			 * Late tables of a closed window, tiered meanwhile or waiting
			 * to settle: the whole window is to be rewritten either way.
			 */
			first = 0;
			n = v->windows[i].n_files;
		}
		for (size_t k = first; k < first + n; k++)
			debt += v->windows[i].files[k]->props.file_bytes;
	}
	lsm_version_unref(v);
	return debt;
}

/* ---- merging ---- */

typedef struct output {
	lsm_db *db;
	lsm_sst_options sst; /* the engine's, or a closed window's final form */
	int64_t window;
	int64_t window_ns;
	unsigned n_parts;    /* outputs written at once: each paces at its share of the rate */
	lsm_sst_builder *b;
	uint64_t number;
	lsm_version_edit *edit;
	pthread_mutex_t *edit_mu; /* the edit is shared by the parts of a split merge */
	uint64_t bytes;       /* of finished outputs */
	uint64_t start_ns;    /* for the rate limit */
	uint64_t paced_bytes; /* bytes the rate limit has accounted for */
	uint8_t last[LSM_UKEY_LEN]; /* the user key added last: the versions of one key stay in one table */
} output;

static int output_finish(output *o)
{
	lsm_sst_props props;
	int rc;

	if (!o->b)
		return 0;
	rc = lsm_sst_builder_finish(o->b, &props);
	o->b = NULL;
	if (rc)
		return rc;
	o->bytes += props.file_bytes;
	pthread_mutex_lock(o->edit_mu);
	rc = lsm_version_edit_add_file(o->edit, o->number, &props);
	pthread_mutex_unlock(o->edit_mu);
	return rc;
}

/* Sleeps as long as needed to keep the bytes written under the rate limit. */
static void pace(output *o)
{
	uint64_t rate = o->db->opt.compact.rate_bytes_per_s / o->n_parts + 1;
	uint64_t written = o->bytes + (o->b ? lsm_sst_builder_file_bytes(o->b) : 0);
	uint64_t due_ns, now;

	if (!o->db->opt.compact.rate_bytes_per_s || written - o->paced_bytes < (64u << 10))
		return;
	o->paced_bytes = written;
	due_ns = o->start_ns + (uint64_t)((double)written / (double)rate * 1e9);
	now = lsm_now_ns();
	if (due_ns > now) {
		uint64_t d = due_ns - now;
		struct timespec ts = { .tv_sec = (time_t)(d / 1000000000), .tv_nsec = (long)(d % 1000000000) };

		nanosleep(&ts, NULL);
	}
}

static int output_add(output *o, const uint8_t *ukey, uint64_t seq, enum lsm_kind kind, const uint8_t *value,
		      size_t len)
{
	uint8_t ikey[LSM_IKEY_LEN];
	int rc;

	if (o->b && lsm_sst_builder_file_bytes(o->b) >= o->db->opt.compact.max_file_bytes &&
	    !lsm_ukey_equal(ukey, o->last)) {
		rc = output_finish(o);
		if (rc)
			return rc;
	}
	if (!o->b) {
		char path[4096];

		o->number = lsm_versions_new_file_number(o->db->versions);
		lsm_sst_path(path, sizeof path, o->db->dir, o->number);
		rc = lsm_sst_builder_open(&o->b, path, o->window, o->window_ns, &o->sst);
		if (rc)
			return rc;
	}
	lsm_ikey_encode(ikey, ukey, seq, kind);
	memcpy(o->last, ukey, LSM_UKEY_LEN);
	rc = lsm_sst_builder_add(o->b, ikey, sizeof ikey, value, len);
	if (rc == 0)
		pace(o);
	return rc;
}

static bool closing(lsm_db *db)
{
	bool c;

	pthread_mutex_lock(&db->mu);
	c = db->closing;
	pthread_mutex_unlock(&db->mu);
	return c;
}

/* Writes one key's folded versions: drops what the bottom of the window makes moot. */
static int emit(output *o, bool bottom, const uint8_t *ukey, uint64_t seq, const lsm_resolve *r)
{
	enum lsm_kind kind;

	if (r->deleted) {
		if (bottom)
			return 0; /* nothing older left for the tombstone to hide */
		return output_add(o, ukey, seq, LSM_KIND_DELETE, NULL, 0);
	}
	/* At the bottom, merge operands with nothing under them are the whole value. */
	kind = r->base || bottom ? LSM_KIND_PUT : LSM_KIND_MERGE;
	return output_add(o, ukey, seq, kind, r->buf, r->len);
}

/*
 * How a merge treats the keys of one series, given the tables of windows
 * of other lengths sharing the window's time (job.others): a series whose
 * window length changed has points, and perhaps other versions of the
 * same keys, in both. Tables newer than every input change nothing (they
 * are folded over whatever the merge writes).
 */
enum series_mode {
	SERIES_ALONE,         /* no other table holds the series: fold as usual */
	SERIES_UNDER_NEWER,   /* only newer tables may: fold, keeping each key's own sequence number */
	SERIES_OVER_OLDER,    /* older tables may: fold, but the run is not their bottom */
	SERIES_KEEP_VERSIONS, /* one with sequence numbers among the inputs' may: write every version as it is */
};

/* May table f hold keys of series? Unreadable: assume so. */
static bool may_hold(lsm_file *f, uint64_t series)
{
	lsm_sst *t;

	if (lsm_ukey_series(f->props.smallest) > series || lsm_ukey_series(f->props.largest) < series)
		return false;
	return lsm_file_table(f, &t) != 0 || lsm_sst_may_contain_series(t, series);
}

static enum series_mode series_mode(const job *j, uint64_t series)
{
	enum series_mode mode = SERIES_ALONE;
	uint64_t lo = UINT64_MAX, hi = 0;

	/* The sequence numbers of the inputs that may hold the series (one does: its key is being merged). */
	for (size_t i = 0; i < j->n; i++) {
		const lsm_sst_props *p = &j->inputs[i]->props;

		if (!may_hold(j->inputs[i], series))
			continue;
		if (p->min_seq < lo)
			lo = p->min_seq;
		if (p->max_seq > hi)
			hi = p->max_seq;
	}
	for (size_t i = 0; i < j->n_others; i++) {
		lsm_file *f = j->others[i];

		if (!may_hold(f, series))
			continue;
		if (f->props.min_seq > hi) {
			if (mode == SERIES_ALONE)
				mode = SERIES_UNDER_NEWER;
		} else if (f->props.max_seq < lo) {
			mode = SERIES_OVER_OLDER;
		} else {
			return SERIES_KEEP_VERSIONS; /* folding would skip the versions between the inputs' */
		}
	}
	return mode;
}

/*
 * The sequence number a folded key is written with: a final merge's shared
 * one only when no table elsewhere may hold its series.
 */
static uint64_t folded_seq(const job *j, enum series_mode mode, uint64_t final_seq, uint64_t seq)
{
	return j->final && mode == SERIES_ALONE ? final_seq : seq;
}

/* Retention: the drop hook leaves out a key whose point has expired (compact.h). */
static bool expired(const lsm_db *db, const uint8_t *ukey)
{
	return db->opt.compact.drop && db->opt.compact.drop(db->opt.compact.drop_ctx, ukey);
}

/*
 * Merges the inputs' keys in [lo, hi) (NULL: unbounded) into o. Several
 * calls over disjoint ranges may run at once, each with its own output.
 */
static int merge_inputs(lsm_db *db, const job *j, output *o, const uint8_t *lo, const uint8_t *hi)
{
	lsm_iter **children = strata_calloc(j->n, sizeof(*children));
	lsm_iter *m = NULL;
	lsm_resolve r;
	uint8_t ukey[LSM_UKEY_LEN];
	uint64_t seq = 0, keys = 0, final_seq = 0, last_seq = 0, series = 0;
	bool in_key = false, have_last = false, have_series = false;
	enum series_mode mode = SERIES_ALONE;
	int rc = 0;

	if (!children)
		return -ENOMEM;
	/*
	 * A closed window merged whole holds one version of each key, and every
	 * later table of the window is newer than all of it: its entries may
	 * share the newest sequence number, which costs nothing as a column.
	 */
	for (size_t i = 0; i < j->n; i++)
		if (j->inputs[i]->props.max_seq > final_seq)
			final_seq = j->inputs[i]->props.max_seq;
	lsm_resolve_init(&r, db->opt.merge, db->opt.merge_ctx);
	for (size_t i = 0; i < j->n && rc == 0; i++) {
		lsm_sst *t;

		rc = lsm_file_table(j->inputs[i], &t);
		if (rc == 0) {
			children[i] = lsm_sst_iter_new_once(t);
			if (!children[i])
				rc = -ENOMEM;
		}
	}
	if (rc) {
		for (size_t i = 0; i < j->n; i++)
			lsm_iter_free(children[i]);
		strata_free(children);
		lsm_resolve_deinit(&r);
		return rc;
	}
	/* Children newest first: on equal internal keys the merge prefers earlier ones. */
	m = lsm_merge_iter_new(children, j->n);
	strata_free(children);
	if (!m) {
		lsm_resolve_deinit(&r);
		return -ENOMEM;
	}
	if (lo) {
		uint8_t target[LSM_IKEY_LEN];

		lsm_ikey_seek_key(target, lo, LSM_SEQ_MAX);
		lsm_iter_seek(m, target, sizeof target);
	} else {
		lsm_iter_seek_first(m);
	}
	for (; lsm_iter_valid(m); lsm_iter_next(m)) {
		size_t klen, vlen;
		const uint8_t *k = lsm_iter_key(m, &klen);
		const uint8_t *v;

		if (hi && memcmp(k, hi, LSM_UKEY_LEN) >= 0)
			break;
		if (!in_key || !lsm_ukey_equal(k, ukey)) {
			if (in_key && mode != SERIES_KEEP_VERSIONS && !expired(db, ukey) &&
			    (rc = emit(o, j->bottom && mode <= SERIES_UNDER_NEWER, ukey,
				       folded_seq(j, mode, final_seq, seq), &r)) != 0)
				break;
			if (++keys % CLOSING_CHECK_EVERY == 0 && closing(db)) {
				rc = strata_error(STRATA_ECLOSED, "compaction stopped: the database is closing");
				break;
			}
			if (!have_series || lsm_ukey_series(k) != series) {
				series = lsm_ukey_series(k);
				have_series = true;
				mode = j->n_others ? series_mode(j, series) : SERIES_ALONE;
			}
			memcpy(ukey, k, LSM_UKEY_LEN);
			seq = lsm_ikey_seq(k); /* newest version first */
			lsm_resolve_reset(&r);
			in_key = true;
			have_last = false;
		}
		if (r.done)
			continue; /* older versions under a PUT or DELETE */
		/*
		 * The same entry may sit in two tables (a recovery that flushed a
		 * segment and failed before deleting it): fold it once, as reads do.
		 */
		if (have_last && lsm_ikey_seq(k) == last_seq)
			continue;
		last_seq = lsm_ikey_seq(k);
		have_last = true;
		v = lsm_iter_value(m, &vlen);
		if (mode == SERIES_KEEP_VERSIONS) {
			enum lsm_kind kind = lsm_ikey_kind(k);

			if (!expired(db, ukey) &&
			    (rc = output_add(o, ukey, last_seq, kind, kind == LSM_KIND_DELETE ? NULL : v,
					     kind == LSM_KIND_DELETE ? 0 : vlen)) != 0)
				break;
			continue;
		}
		rc = lsm_resolve_add(&r, lsm_ikey_kind(k), v, vlen);
		if (rc)
			break;
	}
	if (rc == 0)
		rc = lsm_iter_status(m);
	if (rc == 0 && in_key && mode != SERIES_KEEP_VERSIONS && !expired(db, ukey))
		rc = emit(o, j->bottom && mode <= SERIES_UNDER_NEWER, ukey, folded_seq(j, mode, final_seq, seq), &r);
	if (rc == 0)
		rc = output_finish(o);
	lsm_iter_free(m);
	lsm_resolve_deinit(&r);
	return rc;
}

/* One part of a split merge, run on a thread of its own. */
typedef struct part {
	lsm_db *db;
	const job *j;
	output o;
	uint8_t lo[LSM_UKEY_LEN], hi[LSM_UKEY_LEN];
	bool has_lo, has_hi;
	int rc;
	char why[256]; /* its error's message (messages are per thread) */
} part;

static void *part_main(void *arg)
{
	part *p = arg;

	p->rc = merge_inputs(p->db, p->j, &p->o, p->has_lo ? p->lo : NULL, p->has_hi ? p->hi : NULL);
	if (p->rc)
		snprintf(p->why, sizeof p->why, "%s", strata_last_error());
	return NULL;
}

/*
 * How many parts a job's merge is split into: a closed window's final
 * form, the costly one (column encoding), uses up to the configured
 * threads when its inputs are big enough to pay for a thread, span more
 * than one series per part, and no write came for a while: while writes
 * come, the other cores are theirs (on two cores, a load of old data with
 * two merging threads went at 1.95 M values/s against 3.1 M with one).
 */
static unsigned parts_of(const lsm_db *db, const job *j, uint64_t bytes_in, uint64_t *lo_sid, uint64_t *hi_sid)
{
	unsigned n = db->opt.compact.final_threads;
	uint64_t last_write, now;

	*lo_sid = UINT64_MAX;
	*hi_sid = 0;
	for (size_t i = 0; i < j->n; i++) {
		uint64_t a = lsm_ukey_series(j->inputs[i]->props.smallest), b = lsm_ukey_series(j->inputs[i]->props.largest);

		if (a < *lo_sid)
			*lo_sid = a;
		if (b > *hi_sid)
			*hi_sid = b;
	}
	last_write = atomic_load_explicit(&db->last_write_ns, memory_order_relaxed);
	now = lsm_now_ns(); /* after the load: a write stamped since is not "in the future" */
	if (!j->final || n < 2 || bytes_in < db->opt.compact.final_split_bytes || *hi_sid < *lo_sid ||
	    (last_write && (now <= last_write || now - last_write < (uint64_t)db->opt.compact.final_split_quiet_ns)))
		return 1;
	if (n > FINAL_PARTS_MAX)
		n = FINAL_PARTS_MAX;
	if (*hi_sid - *lo_sid < n)
		return 1;
	return n;
}

/*
 * Merges the job's inputs into o's edit. A final merge of a big window is
 * split by series id into equal ranges (series ids are handed out in
 * sequence, so a range holds about its share of the series), each merged
 * by its own thread into tables of its own; the edit gets them all.
 */
static int merge_job(lsm_db *db, const job *j, output *o, uint64_t bytes_in)
{
	part parts[FINAL_PARTS_MAX];
	pthread_t threads[FINAL_PARTS_MAX];
	bool started[FINAL_PARTS_MAX] = { false };
	uint64_t lo_sid, hi_sid, span;
	unsigned n = parts_of(db, j, bytes_in, &lo_sid, &hi_sid);
	int rc = 0;

	if (n == 1)
		return merge_inputs(db, j, o, NULL, NULL);
	span = (hi_sid - lo_sid) / n + 1;
	for (unsigned k = 0; k < n; k++) {
		parts[k] = (part){ .db = db, .j = j, .o = *o, .has_lo = k > 0, .has_hi = k + 1 < n };
		parts[k].o.n_parts = n;
		if (k > 0)
			lsm_ukey_encode(parts[k].lo, lo_sid + k * span, INT64_MIN);
		if (k + 1 < n)
			lsm_ukey_encode(parts[k].hi, lo_sid + (k + 1) * span, INT64_MIN);
	}
	/* The last part runs here; the others on threads (inline when one cannot start). */
	for (unsigned k = 0; k + 1 < n; k++)
		started[k] = pthread_create(&threads[k], NULL, part_main, &parts[k]) == 0;
	for (unsigned k = 0; k < n; k++)
		if (!started[k])
			part_main(&parts[k]);
	for (unsigned k = 0; k + 1 < n; k++)
		if (started[k])
			pthread_join(threads[k], NULL);
	for (unsigned k = 0; k < n; k++) {
		if (parts[k].rc && (rc == 0 || rc == STRATA_ECLOSED))
			rc = strata_error(parts[k].rc, "%s", parts[k].why);
		if (parts[k].o.b)
			lsm_sst_builder_abandon(parts[k].o.b);
		o->bytes += parts[k].o.bytes;
	}
	return rc;
}

static int run_job(lsm_db *db, job *j)
{
	lsm_version_edit edit;
	pthread_mutex_t edit_mu = PTHREAD_MUTEX_INITIALIZER;
	output o = { .db = db, .sst = db->opt.sst, .window = j->window, .window_ns = j->window_ns, .n_parts = 1,
		     .edit = &edit, .edit_mu = &edit_mu, .start_ns = lsm_now_ns() };
	uint64_t bytes_in = 0, t0 = o.start_ns;
	int rc;

	if (j->final) {
		o.sst.columns = true;
		if (o.sst.block_bytes < FINAL_BLOCK_BYTES)
			o.sst.block_bytes = FINAL_BLOCK_BYTES;
		if (o.sst.zstd_level > 0 && o.sst.zstd_level < FINAL_ZSTD_LEVEL)
			o.sst.zstd_level = FINAL_ZSTD_LEVEL;
	}
	for (size_t i = 0; i < j->n; i++)
		bytes_in += j->inputs[i]->props.file_bytes;

	lsm_version_edit_init(&edit);
	rc = merge_job(db, j, &o, bytes_in);
	for (size_t i = 0; rc == 0 && i < j->n; i++)
		rc = lsm_version_edit_delete_file(&edit, j->inputs[i]->number);
	if (rc == 0) {
		pthread_mutex_lock(&db->version_mu);
		rc = lsm_versions_apply(db->versions, &edit);
		pthread_mutex_unlock(&db->version_mu);
		if (rc) {
			/* The manifest is broken (sticky): the engine cannot go on writing. */
			lsm_db_set_bg_error(db, rc, "compaction could not record its result");
			edit.n_added = 0; /* the edit may have reached the disk: keep its tables */
		}
	}
	if (rc) {
		if (o.b)
			lsm_sst_builder_abandon(o.b);
		for (size_t i = 0; i < edit.n_added; i++) {
			char path[4096];

			lsm_sst_path(path, sizeof path, db->dir, edit.added_numbers[i]);
			unlink(path);
		}
		if (rc != STRATA_ECLOSED) {
			atomic_fetch_add(&db->compaction_failures, 1);
			LOG_WARN("event=compaction_failed window=%lld window_ns=%lld inputs=%zu error=\"%s\" detail=\"%s\"",
				 (long long)j->window, (long long)j->window_ns, j->n, strata_strerror(rc), strata_last_error());
		}
	} else {
		uint64_t ns = lsm_now_ns() - t0;

		atomic_fetch_add(&db->compactions, 1);
		atomic_fetch_add(&db->compact_bytes_read, bytes_in);
		atomic_fetch_add(&db->compact_bytes_written, o.bytes);
		atomic_fetch_add(&db->compact_ns, ns);
		LOG_INFO("event=compaction window=%lld window_ns=%lld inputs=%zu outputs=%zu bytes_in=%llu bytes_out=%llu "
			 "bottom=%d final=%d ms=%.1f",
			 (long long)j->window, (long long)j->window_ns, j->n, edit.n_added, (unsigned long long)bytes_in,
			 (unsigned long long)o.bytes, j->bottom ? 1 : 0, j->final ? 1 : 0, (double)ns / 1e6);
	}
	lsm_version_edit_deinit(&edit);
	return rc;
}

/* One job if one is due: 1 done, 0 none due, or an error. */
static int compact_once(lsm_db *db, bool all)
{
	lsm_version *v = lsm_versions_current(db->versions);
	job j = { 0 };
	bool due = pick(db, v, all, &j);
	int rc;

	lsm_version_unref(v);
	if (!due)
		return 0;
	atomic_store(&db->compacting, true);
	rc = run_job(db, &j);
	atomic_store(&db->compacting, false);
	job_release(&j);
	return rc ? rc : 1;
}

int lsm_compact(lsm_db *db, bool all)
{
	int rc;

	pthread_mutex_lock(&db->compact_mu);
	do {
		pthread_mutex_lock(&db->mu);
		rc = db->bg_error;
		pthread_mutex_unlock(&db->mu);
		if (rc == 0)
			rc = compact_once(db, all);
	} while (rc == 1);
	pthread_mutex_unlock(&db->compact_mu);
	return rc;
}

void *lsm_compact_main(void *arg)
{
	lsm_db *db = arg;
	int64_t wait_ns = IDLE_WAIT_NS;

	pthread_mutex_lock(&db->mu);
	while (!db->closing) {
		struct timespec deadline;
		int rc;

		if (db->compact_wakeups == 0) {
			clock_gettime(CLOCK_REALTIME, &deadline);
			deadline.tv_sec += (time_t)(wait_ns / 1000000000);
			pthread_cond_timedwait(&db->compact_cv, &db->mu, &deadline);
			if (db->closing)
				break;
		}
		db->compact_wakeups = 0;
		if (db->bg_error) {
			wait_ns = IDLE_WAIT_NS;
			continue;
		}
		pthread_mutex_unlock(&db->mu);

		pthread_mutex_lock(&db->compact_mu);
		do
			rc = compact_once(db, false);
		while (rc == 1 && !closing(db));
		pthread_mutex_unlock(&db->compact_mu);

		pthread_mutex_lock(&db->mu);
		wait_ns = rc < 0 ? FAILURE_BACKOFF_NS : IDLE_WAIT_NS;
	}
	pthread_mutex_unlock(&db->mu);
	return NULL;
}
