/*
 * check.c — `strata check [--repair]`: verifies every checksum and the
 * structure of a data directory, and with --repair mends what can be mended,
 * saying exactly what was lost.
 *
 * It takes the directory's LOCK (so it never races a running server) and
 * reads the files on its own (store.h), not through the engine, so that it
 * can describe and mend directories the engine refuses to open:
 *
 *   catalog.log   every record; damage followed by intact records is
 *                 damage, damage at the very end a torn tail (an append
 *                 never acknowledged, trimmed at the next start).
 *   CURRENT       its checksum, and that it names a manifest.
 *   MANIFEST-<n>  every edit replayed with the engine's rules; a torn tail
 *                 is ignored by recovery, damage in the middle is not.
 *   sst/<n>.sst   every table the manifest lists: present, every block's
 *                 checksum and order (lsm_sst_verify), properties equal to
 *                 the manifest's. Tables it does not list are orphans that
 *                 the next start removes.
 *   wal/<n>.wal   the segments not yet flushed, record by record; only the
 *                 newest may end in a torn record.
 *
 * Repair (--repair), in an order that leaves a directory a crash at any
 * point cannot make worse:
 *
 *   1. Every damaged file is first hard-linked (or copied) into
 *      <data>/damaged/<UTC time>/ under its own relative path, so nothing is
 *      destroyed.
 *   2. catalog.log and WAL segments are rewritten from their valid records:
 *      the prefix before the damage plus every intact record after it
 *      (resynchronising on the next record whose checksum matches). The
 *      rebuilt catalog must replay (it is opened in a scratch directory
 *      first; if records after the damage do not fit, only the prefix is
 *      kept). The new file replaces the old by rename.
 *   3. Tables: a damaged table is read as far as it can be, then past each
 *      damaged block (found by bisecting the key space with seeks, which
 *      only touch the blocks they land on), and the readable entries are
 *      written to a new table; a missing table is dropped. A table whose
 *      properties differ from the manifest's but which verifies whole gets
 *      its own properties recorded.
 *   4. A manifest whose log is damaged is replaced by the state replayed up
 *      to the damage; tables on disk that no manifest entry lists are then
 *      adopted when they verify whole and their sequence range overlaps no
 *      live table of their window (overlap means a compaction's output and
 *      its inputs: only one side may be live). A damaged or missing CURRENT
 *      is rebuilt from the newest readable manifest; with none, from the
 *      tables alone.
 *   5. When anything in 3–4 changed, a fresh manifest (one snapshot edit)
 *      and CURRENT are written (lsm_checkpoint_write_manifest); only then
 *      are replaced tables removed.
 *
 * Every loss is printed on a LOST line: which file, how many points, which
 * time window and time range, which series (named from the catalog), which
 * WAL sequence numbers. Exit status: 0 whole (or repaired without loss),
 * 1 damage found (check) or data lost or not repairable (repair), 2 usage.
 */
#include "tools/cli.h"
#include "tools/store.h"
#include "lsm/alloc.h"
#include "lsm/batch.h"
#include "lsm/catalog_format.h"
#include "lsm/coding.h"
#include "lsm/lockfile.h"
#include "lsm/log.h"
#include "lsm/record.h"
#include "lsm/sstable_builder.h"
#include "lsm/version.h"
#include "lsm/wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NAMES_SHOWN 10 /* series named per lost key range */

typedef unsigned __int128 u128;

/* A whole table on disk that no live manifest entry lists. */
typedef struct orphan {
	uint64_t number;
	lsm_sst_props props;
	bool required;           /* it holds the points of a listed table whose file is gone */
} orphan;

typedef struct check {
	const char *data;
	bool repair;
	lsm_options opt;         /* the server's: window length, table options */
	unsigned files, damaged, repaired, lost, unrepaired;
	char damaged_dir[4096];  /* <data>/damaged/<stamp>, made on first use */
	lsm_catalog *catalog;    /* for naming series (repair only), or NULL */
	uint64_t *series_ids;    /* every series id of the catalog, ascending */
	size_t n_series_ids;
	bool catalog_rebuilt;    /* repair dropped records of the catalog */

	/* The manifest state; repairs edit it, and set rewrite. */
	cli_manifest m;
	bool have_state;         /* m holds a replayed (or rebuilt) state */
	bool rewrite;            /* repair: write a fresh manifest */
	bool adopt_orphans;      /* the manifest lost edits: whole orphan tables come back */
	char manifest_path[4096];
	bool manifest_damaged;
	uint64_t max_number;     /* highest file number anywhere */
	uint64_t next_number;    /* for tables written by repair */
	uint64_t *replaced;      /* tables to remove once the new manifest is durable */
	size_t n_replaced, cap_replaced;
	orphan *cands;           /* whole tables no live entry lists, when adopting */
	size_t n_cands;

	/* Progress on stderr: the first line after a quarter second (5 s when not a terminal). */
	bool tty;
	bool progress_shown;
	uint64_t progress_ns;
} check;

static orphan *orphan_overlap(const struct check *c, const lsm_sst_props *p);

/* ---- output ---- */

/* A message without a leading "<path>: " (the line names the file already). */
static const char *strip_path(const char *path, const char *msg)
{
	size_t n = strlen(path);

	if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
		return msg + n + 2;
	return msg;
}

static const char *last_error_for(const char *path)
{
	return strip_path(path, strata_last_error());
}

static void say(const char *tag, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(const char *tag, const char *path, const char *fmt, ...)
{
	va_list ap;

	printf("%-7s %s", tag, path);
	if (fmt && fmt[0]) {
		fputs(": ", stdout);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	putchar('\n');
	fflush(stdout);
}

static void progress(check *c, const char *what, uint64_t done, uint64_t total)
{
	uint64_t t = cli_now_ns();

	if (t - c->progress_ns < (c->tty ? 250000000u : 5000000000u))
		return;
	c->progress_ns = t;
	c->progress_shown = true;
	fprintf(stderr, "%s%s %" PRIu64 "/%" PRIu64 "%s", c->tty ? "\r" : "", what, done, total,
		c->tty ? "   " : "\n");
}

static void progress_done(check *c)
{
	if (c->tty && c->progress_shown)
		fputs("\r\033[K", stderr);
	c->progress_shown = false;
}

/* Start and end of window `window` of windows window_ns long. */
static void window_bounds(int64_t window, int64_t window_ns, char *lo, char *hi, size_t len)
{
	int64_t w = window_ns;

	if (w <= 0 || window > INT64_MAX / w - 1 || window < INT64_MIN / w + 1) {
		snprintf(lo, len, "?");
		snprintf(hi, len, "?");
		return;
	}
	cli_format_time(lo, len, window * w);
	cli_format_time(hi, len, (window + 1) * w);
}

/* ---- moving damaged files aside ---- */

static int mkdir_p(const char *path)
{
	char buf[4096];

	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return strata_error(-errno, "mkdir %s: %s", buf, strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		return strata_error(-errno, "mkdir %s: %s", buf, strerror(errno));
	return 0;
}

static int damaged_dir(check *c)
{
	char stamp[32];
	struct tm tm;
	time_t now;

	if (c->damaged_dir[0])
		return 0;
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	for (int i = 0; i < 100; i++) {
		struct stat st;

		if (i == 0)
			snprintf(c->damaged_dir, sizeof c->damaged_dir, "%s/damaged/%s", c->data, stamp);
		else
			snprintf(c->damaged_dir, sizeof c->damaged_dir, "%s/damaged/%s-%d", c->data, stamp, i);
		if (stat(c->damaged_dir, &st) != 0)
			break;
	}
	return mkdir_p(c->damaged_dir);
}

/*
 * Keeps a copy of <data>/<rel> in the damaged directory (a hard link, or a
 * copy when linking fails), before the file is replaced or removed.
 */
static int keep_aside(check *c, const char *rel)
{
	char from[8192], to[8192], dir[8192];
	const char *slash;
	int rc = damaged_dir(c);

	if (rc)
		return rc;
	snprintf(from, sizeof from, "%s/%s", c->data, rel);
	snprintf(to, sizeof to, "%s/%s", c->damaged_dir, rel);
	slash = strrchr(rel, '/');
	if (slash) {
		snprintf(dir, sizeof dir, "%s/%.*s", c->damaged_dir, (int)(slash - rel), rel);
		rc = mkdir_p(dir);
		if (rc)
			return rc;
	}
	if (link(from, to) == 0)
		return 0;
	if (errno == EEXIST)
		return 0;
	return cli_copy_file(from, to, NULL, NULL);
}

/* ---- series names (repair) ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Appends the series ids of one store to c->series_ids (*cap allocated); false when out of memory. */
static bool load_store_series_ids(check *c, uint32_t store, size_t *cap)
{
	char **ms = NULL;
	size_t n_ms = 0;
	bool ok = true;

	if (lsm_catalog_measurements(c->catalog, store, &ms, &n_ms) != 0)
		return true;
	for (size_t i = 0; ok && i < n_ms; i++) {
		uint64_t *ids = NULL;
		size_t n = 0;

		if (lsm_catalog_measurement_series(c->catalog, store, ms[i], strlen(ms[i]), &ids, &n) != 0)
			continue;
		if (c->n_series_ids + n > *cap) {
			size_t want = (c->n_series_ids + n) * 2;
			uint64_t *grown = strata_realloc(c->series_ids, want * sizeof *grown);

			if (grown) {
				c->series_ids = grown;
				*cap = want;
			} else {
				ok = false;
			}
		}
		if (ok && n) {
			memcpy(c->series_ids + c->n_series_ids, ids, n * sizeof *ids);
			c->n_series_ids += n;
		}
		strata_free(ids);
	}
	lsm_catalog_free_names(ms, n_ms);
	return ok;
}

/*
 * Every series id of the catalog, sorted, for naming what a damaged table
 * held: those of every store of each database, as each retention policy
 * keeps its series in a store of its own.
 */
static void load_series_ids(check *c)
{
	char **dbs = NULL;
	size_t n_dbs = 0, cap = 0;
	bool ok = true;

	if (!c->catalog || lsm_catalog_databases(c->catalog, &dbs, &n_dbs) != 0)
		return;
	for (size_t d = 0; ok && d < n_dbs; d++) {
		uint32_t dbid, *stores = NULL;
		size_t n_stores = 0;

		if (lsm_catalog_database_id(c->catalog, dbs[d], &dbid) != 0 ||
		    lsm_catalog_stores(c->catalog, dbid, &stores, &n_stores) != 0)
			continue;
		for (size_t i = 0; ok && i < n_stores; i++)
			ok = load_store_series_ids(c, stores[i], &cap);
		strata_free(stores);
	}
	lsm_catalog_free_names(dbs, n_dbs);
	if (c->n_series_ids)
		qsort(c->series_ids, c->n_series_ids, sizeof *c->series_ids, cmp_u64);
}

/* Index of the first catalog series id >= id. */
static size_t series_lower_bound(const check *c, uint64_t id)
{
	size_t lo = 0, hi = c->n_series_ids;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->series_ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Names the series in [first, last] that the table may hold (its bloom
 * filter, when it opened), up to NAMES_SHOWN, and says how many there are.
 */
static void name_series(const check *c, const lsm_sst *table, uint64_t first, uint64_t last)
{
	char key[1024];
	uint64_t n = 0;

	if (!c->catalog) {
		printf("          series ids %" PRIu64 "..%" PRIu64 " (no catalog to name them)\n", first, last);
		return;
	}
	printf("          series:");
	for (size_t i = series_lower_bound(c, first); i < c->n_series_ids && c->series_ids[i] <= last; i++) {
		uint64_t id = c->series_ids[i];
		long len;

		if (table && !lsm_sst_may_contain_series(table, id))
			continue;
		if (n++ >= NAMES_SHOWN)
			continue;
		len = lsm_catalog_series_key(c->catalog, id, key, sizeof key);
		if (len > 0)
			printf(" %.*s (id %" PRIu64 ");", (int)len, key, id);
		else
			printf(" id %" PRIu64 " (not in the catalog);", id);
	}
	if (n > NAMES_SHOWN)
		printf(" and %" PRIu64 " more", n - NAMES_SHOWN);
	else if (n == 0)
		printf(" none the catalog knows in ids %" PRIu64 "..%" PRIu64, first, last);
	printf(" (%" PRIu64 " series)\n", n);
}

/*
 * After the catalog lost records: the series ids missing between those it
 * still has. Ids are handed out in sequence, so a gap is a series whose
 * record was lost (or an id reserved and never used): points stored under
 * it can no longer be found by name.
 */
static void report_missing_ids(const check *c)
{
	char path[4096];
	uint64_t prev = 0, gaps = 0;

	snprintf(path, sizeof path, "%s/%s", c->data, LSM_CATALOG_FILE);
	for (size_t i = 0; i <= c->n_series_ids && gaps < 20; i++) {
		uint64_t id = i < c->n_series_ids ? c->series_ids[i] : prev + 1;

		if (id > prev + 1) {
			gaps++;
			if (id == prev + 2)
				say("LOST", path, "series id %" PRIu64 " (its points are unreachable, if it had any)", prev + 1);
			else
				say("LOST", path, "series ids %" PRIu64 "..%" PRIu64 " (their points are unreachable, if "
				    "they had any)", prev + 1, id - 1);
		}
		prev = id;
	}
}

/* ---- record files: what is valid, what is lost ---- */

typedef struct range {
	uint64_t from, to;
} range;

typedef struct lost_region {
	uint64_t off, bytes;
	bool whole;              /* a record whose checksum matched but whose content is wrong */
	uint64_t seq_from;       /* WAL: first sequence number lost (0: unknown yet) */
	uint64_t seq_to;         /* WAL: last one (0: unknown yet) */
	char why[256];
} lost_region;

typedef struct rec_scan {
	int rc;                  /* STRATA_EVERSION, -errno: not scanned */
	bool header_ok;
	range *keep;             /* byte ranges of the records kept, header first */
	size_t n_keep, cap_keep;
	lost_region *lost;
	size_t n_lost, cap_lost;
	uint64_t n_records;      /* kept, besides the header */
	uint64_t first_seq;      /* WAL: of the first kept batch (0: none) */
	uint64_t next_seq;       /* WAL: after the last kept batch */
	uint64_t size;
} rec_scan;

static void rec_scan_free(rec_scan *s)
{
	strata_free(s->keep);
	strata_free(s->lost);
	memset(s, 0, sizeof *s);
}

/*
 * Only a tail is lost, nothing intact after it: the torn end of the last
 * append. With header_tear, a file whose header itself is cut short or
 * damaged and that holds nothing intact is one too (a WAL segment created
 * just before a crash).
 */
static bool rec_scan_torn_only(const rec_scan *s, bool header_tear)
{
	return (s->header_ok || (header_tear && s->n_keep == 0)) && s->n_lost == 1 && !s->lost[0].whole &&
	       s->lost[0].off + s->lost[0].bytes == s->size;
}

static int keep_range(rec_scan *s, uint64_t from, uint64_t to)
{
	if (s->n_keep && s->keep[s->n_keep - 1].to == from) {
		s->keep[s->n_keep - 1].to = to;
		return 0;
	}
	if (s->n_keep == s->cap_keep) {
		size_t cap = s->cap_keep ? s->cap_keep * 2 : 16;
		range *grown = strata_realloc(s->keep, cap * sizeof *grown);

		if (!grown)
			return -ENOMEM;
		s->keep = grown;
		s->cap_keep = cap;
	}
	s->keep[s->n_keep++] = (range){ from, to };
	return 0;
}

static int add_lost(rec_scan *s, uint64_t off, uint64_t bytes, bool whole, const char *why)
{
	lost_region *l;

	if (s->n_lost == s->cap_lost) {
		size_t cap = s->cap_lost ? s->cap_lost * 2 : 8;
		lost_region *grown = strata_realloc(s->lost, cap * sizeof *grown);

		if (!grown)
			return -ENOMEM;
		s->lost = grown;
		s->cap_lost = cap;
	}
	l = &s->lost[s->n_lost++];
	memset(l, 0, sizeof *l);
	l->off = off;
	l->bytes = bytes;
	l->whole = whole;
	l->seq_from = s->first_seq ? s->next_seq : 0;
	snprintf(l->why, sizeof l->why, "%s", why);
	return 0;
}

/*
 * A record of the body of a file: 0 to keep it, or STRATA_ECORRUPT (with a
 * message) for one whose checksum matched but whose content is wrong. For
 * a WAL batch *seq and *count are set.
 */
typedef int (*record_check_fn)(const cli_record *r, uint64_t *seq, uint32_t *count);

static int wal_record_check(const cli_record *r, uint64_t *seq, uint32_t *count)
{
	lsm_batch_reader br;
	lsm_batch_entry e;
	int rc;

	if (r->type != LSM_REC_BATCH)
		return strata_error(STRATA_ECORRUPT, "record of type %u in a WAL segment", r->type);
	rc = lsm_batch_reader_init(&br, r->payload, r->len);
	if (rc)
		return strata_error(STRATA_ECORRUPT, "batch header malformed");
	*seq = br.seq;
	*count = br.left;
	while ((rc = lsm_batch_reader_next(&br, &e)) == 1)
		;
	if (rc)
		return strata_error(STRATA_ECORRUPT, "batch of %" PRIu32 " entries from sequence %" PRIu64
				    " malformed", *count, *seq);
	return 0;
}

static int catalog_record_check(const cli_record *r, uint64_t *seq, uint32_t *count)
{
	*seq = 0;
	*count = 0;
	if (r->type < LSM_CATREC_DB_CREATE || r->type > LSM_CATREC_SERIES_DROP)
		return strata_error(STRATA_ECORRUPT, "record of type %u in the catalog", r->type);
	return 0;
}

/*
 * Walks a record file: its header (magic, version), then every record,
 * resynchronising after damage on the next intact record of a type in
 * types. Fills s with what to keep and what is lost.
 */
static void scan_records(const cli_map *map, const char *path, const char *magic, uint32_t version,
			 uint32_t types, record_check_fn check_fn, rec_scan *s)
{
	cli_record rec;
	uint64_t pos = 0;
	int rc;

	memset(s, 0, sizeof *s);
	s->size = map->size;
	rc = cli_record_next(map, path, &pos, &rec);
	if (rc == 1 && rec.type == LSM_REC_FILE_HEADER && rec.len == LSM_FILE_HEADER_PAYLOAD_LEN &&
	    memcmp(rec.payload, magic, 8) == 0) {
		if (lsm_get_le32(rec.payload + 8) > version) {
			s->rc = strata_error(STRATA_EVERSION, "%s: format version %" PRIu32 " is newer than this "
					     "build reads (%" PRIu32 ")", path, lsm_get_le32(rec.payload + 8), version);
			return;
		}
		s->header_ok = true;
		if ((s->rc = keep_range(s, 0, pos)) != 0)
			return;
	} else {
		uint64_t next = cli_record_find(map, 1, types & ~(1u << LSM_REC_FILE_HEADER));

		if (rc == 1)
			strata_error(STRATA_ECORRUPT, "%s: offset 0: not a %.8s file header", path, magic);
		else if (rc == 0)
			strata_error(STRATA_ECORRUPT, "%s: empty, no file header", path);
		/* A whole header record that says the wrong thing is not a tear. */
		if (map->size && (s->rc = add_lost(s, 0, next, rc == 1, last_error_for(path))) != 0)
			return;
		pos = next;
	}
	while (pos < map->size) {
		uint64_t at = pos, seq = 0;
		uint32_t count = 0;

		rc = cli_record_next(map, path, &pos, &rec);
		if (rc == 0)
			break;
		if (rc < 0) {
			uint64_t next = cli_record_find(map, at + 1, types & ~(1u << LSM_REC_FILE_HEADER));

			if ((s->rc = add_lost(s, at, next - at, false, last_error_for(path))) != 0)
				return;
			pos = next;
			continue;
		}
		if (check_fn(&rec, &seq, &count) != 0) {
			char msg[256];

			snprintf(msg, sizeof msg, "offset %" PRIu64 ": %s", at, strata_last_error());
			if ((s->rc = add_lost(s, at, pos - at, true, msg)) != 0)
				return;
			if (count && s->lost[s->n_lost - 1].seq_from == 0)
				s->lost[s->n_lost - 1].seq_from = seq;
			continue;
		}
		if ((s->rc = keep_range(s, at, pos)) != 0)
			return;
		s->n_records++;
		if (count) {
			/* The regions lost since the last kept batch end just before this one. */
			for (size_t i = s->n_lost; i > 0 && s->lost[i - 1].seq_to == 0; i--)
				s->lost[i - 1].seq_to = seq - 1;
			if (!s->first_seq)
				s->first_seq = seq;
			s->next_seq = seq + count;
		}
	}
}

/*
 * Writes the kept ranges of map (after a fresh header record when the
 * original one is lost) to path, fsynced.
 */
static int write_kept(const cli_map *map, const rec_scan *s, const char *magic, uint32_t version,
		      uint64_t number, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), rc = 0;

	if (fd < 0)
		return strata_error(-errno, "create %s: %s", path, strerror(errno));
	if (!s->header_ok) {
		uint8_t rec[LSM_RECORD_HEADER_LEN + LSM_FILE_HEADER_PAYLOAD_LEN];

		lsm_record_file_header(rec + LSM_RECORD_HEADER_LEN, magic, version, number);
		lsm_record_header(rec, LSM_REC_FILE_HEADER, rec + LSM_RECORD_HEADER_LEN, LSM_FILE_HEADER_PAYLOAD_LEN);
		if (write(fd, rec, sizeof rec) != (ssize_t)sizeof rec)
			rc = -EIO;
	}
	for (size_t i = 0; rc == 0 && i < s->n_keep; i++) {
		const uint8_t *p = map->data + s->keep[i].from;
		uint64_t left = s->keep[i].to - s->keep[i].from;

		while (left) {
			ssize_t n = write(fd, p, left > (1u << 30) ? (1u << 30) : (size_t)left);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				rc = -errno;
				break;
			}
			p += n;
			left -= (uint64_t)n;
		}
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	close(fd);
	if (rc) {
		unlink(path);
		return strata_error(rc, "write %s: %s", path, strerror(-rc));
	}
	return 0;
}

/* Replaces <data>/<rel> with tmp (rename), after keeping the original aside. */
static int replace_file(check *c, const char *rel, const char *tmp)
{
	char path[4096], dir[4096];
	const char *slash;
	int rc = keep_aside(c, rel);

	if (rc)
		return rc;
	snprintf(path, sizeof path, "%s/%s", c->data, rel);
	if (rename(tmp, path) != 0)
		return strata_error(-errno, "rename %s to %s: %s", tmp, path, strerror(errno));
	slash = strrchr(path, '/');
	snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	return cli_sync_dir(dir);
}

static void print_regions(const char *path, const rec_scan *s, bool wal)
{
	for (size_t i = 0; i < s->n_lost; i++) {
		const lost_region *l = &s->lost[i];

		if (wal && l->seq_from && l->seq_to >= l->seq_from)
			say("LOST", path, "%" PRIu64 " bytes at offset %" PRIu64 ": the points with sequence numbers "
			    "%" PRIu64 "..%" PRIu64 " (%" PRIu64 " points); %s", l->bytes, l->off, l->seq_from, l->seq_to,
			    l->seq_to - l->seq_from + 1, l->why);
		else if (wal && l->seq_from)
			say("LOST", path, "%" PRIu64 " bytes at offset %" PRIu64 ": the points from sequence number %" PRIu64
			    " on (how many is unknown: no intact batch follows); %s", l->bytes, l->off, l->seq_from, l->why);
		else if (wal)
			say("LOST", path, "%" PRIu64 " bytes at offset %" PRIu64 ": points of unknown sequence numbers; %s",
			    l->bytes, l->off, l->why);
		else
			say("LOST", path, "%" PRIu64 " bytes at offset %" PRIu64 "; %s", l->bytes, l->off, l->why);
	}
}

/* ---- the catalog ---- */

/* Whether the catalog log at dir/catalog.log replays (opened and closed again). */
static int catalog_replays(const char *dir)
{
	lsm_catalog *cat = NULL;
	int rc = lsm_catalog_open(&cat, dir);

	if (rc == 0)
		lsm_catalog_close(cat);
	return rc;
}

static void check_catalog(check *c)
{
	char path[4096], tmp_dir[8192], tmp[8192 + 32];
	rec_scan s;
	cli_map map;
	int rc;

	snprintf(path, sizeof path, "%s/%s", c->data, LSM_CATALOG_FILE);
	if (access(path, F_OK) != 0) {
		say("missing", path, "created empty at the next start");
		return;
	}
	c->files++;
	rc = cli_map_open(&map, path);
	if (rc) {
		c->damaged++;
		say("DAMAGED", path, "%s", last_error_for(path));
		return;
	}
	scan_records(&map, path, LSM_CATALOG_MAGIC, LSM_CATALOG_VERSION, CLI_TYPES_CATALOG, catalog_record_check, &s);
	if (s.rc) {
		c->damaged++;
		c->unrepaired++;
		say("DAMAGED", path, "%s (%s)", last_error_for(path), strata_strerror(s.rc));
		goto out;
	}
	if (s.n_lost == 0) {
		say("ok", path, "%" PRIu64 " records", s.n_records);
		goto out;
	}
	if (rec_scan_torn_only(&s, false)) {
		say("ok", path, "%" PRIu64 " records, torn tail at offset %" PRIu64 " (%" PRIu64
		    " bytes of an append never acknowledged, trimmed at the next start)", s.n_records,
		    s.lost[0].off, s.lost[0].bytes);
		goto out;
	}
	c->damaged++;
	say("DAMAGED", path, "%zu damaged region(s), the first at offset %" PRIu64 ": %s", s.n_lost, s.lost[0].off,
	    s.lost[0].why);
	if (!c->repair)
		goto out;

	/* Valid records around the damage; if those after it do not replay, the prefix alone. */
	rc = damaged_dir(c);
	if (rc == 0) {
		snprintf(tmp_dir, sizeof tmp_dir, "%s/.catalog-rebuild", c->damaged_dir);
		rc = mkdir_p(tmp_dir);
	}
	snprintf(tmp, sizeof tmp, "%s/%s", tmp_dir, LSM_CATALOG_FILE);
	if (rc == 0)
		rc = write_kept(&map, &s, LSM_CATALOG_MAGIC, LSM_CATALOG_VERSION, 0, tmp);
	if (rc == 0 && catalog_replays(tmp_dir) != 0) {
		uint64_t first = s.lost[0].off;

		say("note", path, "the records after the damage do not replay without those lost (%s): keeping "
		    "only the %" PRIu64 " bytes before it", strata_last_error(), first);
		while (s.n_keep && s.keep[s.n_keep - 1].from >= first)
			s.n_keep--;
		s.n_lost = 1;
		s.lost[0].bytes = s.size - first;
		snprintf(s.lost[0].why, sizeof s.lost[0].why, "everything from the first damage on");
		unlink(tmp);
		rc = write_kept(&map, &s, LSM_CATALOG_MAGIC, LSM_CATALOG_VERSION, 0, tmp);
		if (rc == 0)
			rc = catalog_replays(tmp_dir);
	}
	if (rc == 0)
		rc = replace_file(c, LSM_CATALOG_FILE, tmp);
	rmdir(tmp_dir);
	if (rc) {
		c->unrepaired++;
		say("FAILED", path, "cannot rebuild: %s", strata_last_error());
		goto out;
	}
	c->repaired++;
	c->lost++;
	c->catalog_rebuilt = true;
	say("REPAIRED", path, "rebuilt from its valid records (the damaged file is in %s)", c->damaged_dir);
	print_regions(path, &s, false);
	say("LOST", path, "the databases, series and fields registered in those bytes: data written under those "
	    "series is no longer reachable by name");
out:
	rec_scan_free(&s);
	cli_map_close(&map);
}

/* ---- CURRENT and the manifest ---- */

static bool table_props_match(const lsm_sst_props *a, const lsm_sst_props *b)
{
	return memcmp(a->smallest, b->smallest, LSM_IKEY_LEN) == 0 &&
	       memcmp(a->largest, b->largest, LSM_IKEY_LEN) == 0 && a->window == b->window &&
	       a->window_ns == b->window_ns && a->max_seq == b->max_seq && a->n_entries == b->n_entries;
}

static void note_number(check *c, uint64_t n)
{
	if (n > c->max_number)
		c->max_number = n;
}

/* The manifest files of the directory, newest (highest number) first. */
static size_t list_manifests(const char *data, uint64_t **out)
{
	uint64_t *nums = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = opendir(data);

	*out = NULL;
	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long long num;

		if (strncmp(de->d_name, "MANIFEST-", 9) != 0 || de->d_name[9] < '0' || de->d_name[9] > '9')
			continue;
		num = strtoull(de->d_name + 9, &end, 10);
		if (*end)
			continue;
		if (n == cap) {
			uint64_t *grown;

			cap = cap ? cap * 2 : 8;
			grown = strata_realloc(nums, cap * sizeof *grown);
			if (!grown)
				break;
			nums = grown;
		}
		nums[n++] = num;
	}
	closedir(d);
	if (n)
		qsort(nums, n, sizeof *nums, cmp_u64);
	for (size_t i = 0; i < n / 2; i++) {
		uint64_t t = nums[i];

		nums[i] = nums[n - 1 - i];
		nums[n - 1 - i] = t;
	}
	*out = nums;
	return n;
}

/* Loads a manifest into c->m, reporting it. */
static void check_manifest_file(check *c, uint64_t number)
{
	char detail[256];
	int rc;

	snprintf(c->manifest_path, sizeof c->manifest_path, "%s/MANIFEST-%06" PRIu64, c->data, number);
	c->files++;
	rc = cli_manifest_load(&c->m, c->manifest_path);
	if (rc) {
		c->damaged++;
		say("DAMAGED", c->manifest_path, "%s", strata_last_error());
		c->manifest_damaged = true;
		cli_manifest_init(&c->m);
		return;
	}
	c->have_state = true;
	snprintf(detail, sizeof detail, "%" PRIu64 " edits, %zu live tables, log_number %" PRIu64, c->m.n_edits,
		 c->m.n_tables, c->m.log_number);
	if (!c->m.damage) {
		say("ok", c->manifest_path, "%s", detail);
	} else if (c->m.torn) {
		say("ok", c->manifest_path, "%s; torn tail at offset %" PRIu64 " (%" PRIu64 " bytes of an edit never "
		    "acknowledged, ignored by recovery)", detail, c->m.valid_bytes, c->m.file_bytes - c->m.valid_bytes);
	} else {
		c->damaged++;
		c->manifest_damaged = true;
		say("DAMAGED", c->manifest_path, "%s; the engine refuses it. Replayed up to offset %" PRIu64 ": %s",
		    strip_path(c->manifest_path, c->m.why), c->m.valid_bytes, detail);
	}
}

static void check_current(check *c)
{
	char path[4096];
	uint64_t number, *manifests = NULL;
	size_t n_manifests = list_manifests(c->data, &manifests);
	int rc;

	for (size_t i = 0; i < n_manifests; i++)
		note_number(c, manifests[i]);
	snprintf(path, sizeof path, "%s/CURRENT", c->data);
	rc = cli_current_read(c->data, &number);
	if (rc == 0) {
		say("ok", path, "names MANIFEST-%06" PRIu64, number);
		check_manifest_file(c, number);
		goto out;
	}
	if (rc == STRATA_ENOTFOUND && n_manifests == 0) {
		uint64_t *tables = NULL;
		size_t n_tables = 0;
		char sst[4096];

		snprintf(sst, sizeof sst, "%s/sst", c->data);
		cli_list_numbered(sst, ".sst", &tables, &n_tables);
		strata_free(tables);
		if (n_tables == 0) {
			say("missing", path, "an empty or new data directory");
			goto out;
		}
	}
	c->files++;
	c->damaged++;
	if (rc == STRATA_ENOTFOUND)
		say("DAMAGED", path, "missing, while the directory holds %s", n_manifests ? "manifests" : "tables");
	else
		say("DAMAGED", path, "%s", last_error_for(path));
	/* The newest manifest with a readable header stands in for the one CURRENT named. */
	for (size_t i = 0; i < n_manifests; i++) {
		cli_manifest probe;
		char mpath[4096];

		snprintf(mpath, sizeof mpath, "%s/MANIFEST-%06" PRIu64, c->data, manifests[i]);
		if (cli_manifest_load(&probe, mpath) == 0 && probe.valid_bytes > 0) {
			cli_manifest_free(&probe);
			say("note", path, "the newest readable manifest is MANIFEST-%06" PRIu64, manifests[i]);
			check_manifest_file(c, manifests[i]);
			break;
		}
		cli_manifest_free(&probe);
	}
	if (!c->have_state)
		say("note", path, "no readable manifest: --repair rebuilds one from the tables in sst/");
	c->rewrite = true;
	if (c->repair) {
		if (access(path, F_OK) == 0 && keep_aside(c, "CURRENT") != 0)
			say("note", path, "cannot keep a copy: %s", strata_last_error());
		c->repaired++;
	}
out:
	if (!c->have_state) {
		cli_manifest_init(&c->m);
		c->adopt_orphans = true;
	}
	if (c->manifest_damaged) {
		c->rewrite = true;
		c->adopt_orphans = true;
		if (c->repair && c->manifest_path[0] && access(c->manifest_path, F_OK) == 0) {
			const char *rel = strrchr(c->manifest_path, '/') + 1;

			if (keep_aside(c, rel) != 0)
				say("note", c->manifest_path, "cannot keep a copy: %s", strata_last_error());
		}
	}
	strata_free(manifests);
}

/* ---- tables ---- */

static u128 ukey_to_int(const uint8_t *ukey)
{
	return (u128)lsm_get_be64(ukey) << 64 | lsm_get_be64(ukey + 8);
}

static void int_to_seek_key(u128 v, uint8_t out[LSM_IKEY_LEN])
{
	uint8_t ukey[LSM_UKEY_LEN];

	lsm_put_be64(ukey, (uint64_t)(v >> 64));
	lsm_put_be64(ukey + 8, (uint64_t)v);
	lsm_ikey_seek_key(out, ukey, LSM_SEQ_MAX);
}

typedef struct key_gap {
	bool from_start;                 /* from the table's first key */
	uint8_t after[LSM_IKEY_LEN];     /* else: after this key (the last one kept) */
	bool to_end;                     /* to the table's last key */
	uint8_t before[LSM_IKEY_LEN];    /* else: up to this key (the next one kept) */
} key_gap;

typedef struct salvage {
	uint64_t kept;                   /* entries written to the new table */
	bool have_table;
	uint64_t number;                 /* the new table */
	lsm_sst_props props;
	key_gap *gaps;
	size_t n_gaps, cap_gaps;
	char why[400];                   /* the first damage met */
} salvage;

static int add_gap(salvage *sv, const uint8_t *after, bool have_after)
{
	key_gap *g;

	if (sv->n_gaps == sv->cap_gaps) {
		size_t cap = sv->cap_gaps ? sv->cap_gaps * 2 : 4;
		key_gap *grown = strata_realloc(sv->gaps, cap * sizeof *grown);

		if (!grown)
			return -ENOMEM;
		sv->gaps = grown;
		sv->cap_gaps = cap;
	}
	g = &sv->gaps[sv->n_gaps++];
	memset(g, 0, sizeof *g);
	g->from_start = !have_after;
	if (have_after)
		memcpy(g->after, after, LSM_IKEY_LEN);
	g->to_end = true;
	return 0;
}

/*
 * Seeks it to the first readable key above last (a user key as a number):
 * bisects (last, end] for the smallest target whose seek does not fail.
 * Returns true with it valid there, false when nothing readable follows.
 */
static bool resume_after(lsm_iter *it, u128 last, u128 end)
{
	uint8_t target[LSM_IKEY_LEN];
	u128 lo = last, hi = end;

	/* Invariant: a seek to lo + 1 .. fails or is below; a seek to hi does not fail (or is past the end). */
	for (int i = 0; i < 130 && hi - lo > 1; i++) {
		u128 mid = lo + (hi - lo) / 2;

		int_to_seek_key(mid, target);
		lsm_iter_seek(it, target, sizeof target);
		if (lsm_iter_status(it) != 0)
			lo = mid;
		else
			hi = mid;
	}
	int_to_seek_key(hi, target);
	lsm_iter_seek(it, target, sizeof target);
	return lsm_iter_valid(it);
}

/*
 * Reads the table at path as far as it can and writes what it reads to a
 * new table (numbered c->next_number). The entries lost lie in sv->gaps.
 * known: the manifest's properties of the table (for its key range), or NULL.
 */
static int salvage_table(check *c, const char *path, uint64_t number, const lsm_sst_props *known, salvage *sv)
{
	char out_path[4096];
	lsm_sst *s = NULL;
	lsm_iter *it = NULL;
	lsm_sst_builder *b = NULL;
	uint8_t last[LSM_IKEY_LEN];
	bool have_last = false, have_seen = false, gap_open = false;
	u128 end, seen = 0;
	int64_t window, window_ns;
	int rc;

	memset(sv, 0, sizeof *sv);
	rc = lsm_sst_open(&s, path, number, NULL);
	if (rc) {
		snprintf(sv->why, sizeof sv->why, "%s", strata_last_error());
		return add_gap(sv, NULL, false); /* nothing readable: the whole table */
	}
	known = known ? known : lsm_sst_get_props(s);
	window = known->window;
	window_ns = known->window_ns;
	end = ukey_to_int(known->largest);
	if (end != ~(u128)0)
		end++;
	sv->number = c->next_number;
	lsm_sst_path(out_path, sizeof out_path, c->data, sv->number);
	rc = lsm_sst_builder_open(&b, out_path, window, window_ns, &c->opt.sst);
	it = rc == 0 ? lsm_sst_iter_new(s) : NULL;
	if (rc == 0 && !it)
		rc = -ENOMEM;
	if (rc)
		goto out;
	lsm_iter_seek_first(it);
	for (uint64_t round = 0; round < known->n_entries + 2; round++) {
		while (lsm_iter_valid(it)) {
			size_t klen, vlen;
			const uint8_t *k = lsm_iter_key(it, &klen), *v = lsm_iter_value(it, &vlen);

			if (klen == LSM_IKEY_LEN && (!have_seen || ukey_to_int(k) >= seen))
				seen = ukey_to_int(k), have_seen = true;
			if (klen != LSM_IKEY_LEN || (have_last && memcmp(k, last, LSM_IKEY_LEN) <= 0) ||
			    lsm_window_of(lsm_ukey_ts(k), window_ns) != window) {
				/* Readable but wrong: skipped, and lost. */
				if (!sv->why[0])
					snprintf(sv->why, sizeof sv->why, "an entry out of order or outside window %" PRId64,
						 window);
				if (!gap_open && (rc = add_gap(sv, last, have_last)) != 0)
					goto out;
				gap_open = true;
				lsm_iter_next(it);
				continue;
			}
			if (gap_open) {
				sv->gaps[sv->n_gaps - 1].to_end = false;
				memcpy(sv->gaps[sv->n_gaps - 1].before, k, LSM_IKEY_LEN);
				gap_open = false;
			}
			rc = lsm_sst_builder_add(b, k, klen, v, vlen);
			if (rc)
				goto out;
			memcpy(last, k, LSM_IKEY_LEN);
			have_last = true;
			sv->kept++;
			lsm_iter_next(it);
			if (sv->kept % 65536 == 0)
				progress(c, "salvaging entries", sv->kept, known->n_entries);
		}
		if (lsm_iter_status(it) == 0)
			break;
		if (!sv->why[0])
			snprintf(sv->why, sizeof sv->why, "%s", strata_last_error());
		if (!gap_open && (rc = add_gap(sv, last, have_last)) != 0)
			goto out;
		gap_open = true;
		/* Past the damaged block: every resumed key is above all seen, so this ends. */
		if (!resume_after(it, have_seen ? seen : ukey_to_int(known->smallest) - 1, end))
			break;
	}
	progress_done(c);
	if (sv->kept) {
		rc = lsm_sst_builder_finish(b, &sv->props);
		b = NULL;
		if (rc == 0) {
			sv->have_table = true;
			c->next_number++;
		}
	}
out:
	if (b)
		lsm_sst_builder_abandon(b);
	lsm_iter_free(it);
	if (s)
		lsm_sst_unref(s);
	return rc;
}

/* Says which points of a table are lost: per gap, the key range and the series in it. */
static void report_table_loss(check *c, const char *path, uint64_t number, const lsm_sst_props *p,
			      const salvage *sv)
{
	char wlo[48], whi[48], tlo[48], thi[48], a[48], b[48];
	lsm_sst *table = NULL;

	window_bounds(p->window, p->window_ns, wlo, whi, sizeof wlo);
	cli_format_time(tlo, sizeof tlo, p->min_ts);
	cli_format_time(thi, sizeof thi, p->max_ts);
	say("LOST", path, "%" PRIu64 " of %" PRIu64 " points of table %06" PRIu64 ": time window %" PRId64
	    " of %" PRId64 " s (%s to %s), points from %s to %s, sequence numbers %" PRIu64 "..%" PRIu64,
	    p->n_entries > sv->kept ? p->n_entries - sv->kept : 0, p->n_entries, number, p->window,
	    p->window_ns / 1000000000, wlo, whi, tlo,
	    thi, p->min_seq, p->max_seq);
	/* The damaged table's bloom filter narrows the series, when it still opens. */
	if (lsm_sst_open(&table, path, number, NULL) != 0)
		table = NULL;
	for (size_t i = 0; i < sv->n_gaps; i++) {
		const key_gap *g = &sv->gaps[i];
		const uint8_t *from = g->from_start ? p->smallest : g->after;
		const uint8_t *to = g->to_end ? p->largest : g->before;

		cli_format_time(a, sizeof a, lsm_ukey_ts(from));
		cli_format_time(b, sizeof b, lsm_ukey_ts(to));
		printf("          keys %s series %" PRIu64 " at %s %s series %" PRIu64 " at %s\n",
		       g->from_start ? "from" : "after", lsm_ukey_series(from), a, g->to_end ? "to" : "up to",
		       lsm_ukey_series(to), b);
		name_series(c, table, lsm_ukey_series(from), lsm_ukey_series(to));
	}
	if (table)
		lsm_sst_unref(table);
	fflush(stdout);
}

static int remember_replaced(check *c, uint64_t number)
{
	if (c->n_replaced == c->cap_replaced) {
		size_t cap = c->cap_replaced ? c->cap_replaced * 2 : 8;
		uint64_t *grown = strata_realloc(c->replaced, cap * sizeof *grown);

		if (!grown)
			return -ENOMEM;
		c->replaced = grown;
		c->cap_replaced = cap;
	}
	c->replaced[c->n_replaced++] = number;
	return 0;
}

/* Repairs a live table that is missing or damaged: salvage, then drop it from the state. */
static void repair_table(check *c, const char *path, uint64_t number, bool missing)
{
	char rel[64];
	cli_table *t = cli_manifest_find(&c->m, number);
	lsm_sst_props p = t->props;
	salvage sv;
	int rc;

	memset(&sv, 0, sizeof sv);
	if (missing) {
		rc = add_gap(&sv, NULL, false);
	} else {
		snprintf(rel, sizeof rel, "sst/%06" PRIu64 ".sst", number);
		rc = keep_aside(c, rel);
		if (rc == 0)
			rc = salvage_table(c, path, number, &p, &sv);
	}
	if (rc == 0)
		rc = cli_manifest_remove(&c->m, number);
	if (rc == 0 && sv.have_table)
		rc = cli_manifest_add(&c->m, sv.number, &sv.props);
	if (rc == 0 && !missing)
		rc = remember_replaced(c, number);
	if (rc) {
		c->unrepaired++;
		say("FAILED", path, "cannot repair: %s", strata_last_error());
		goto out;
	}
	c->rewrite = true;
	c->repaired++;
	if (sv.have_table)
		say("REPAIRED", path, "%" PRIu64 " readable points kept in table %06" PRIu64 "%s%s", sv.kept, sv.number,
		    c->damaged_dir[0] ? "; the damaged file is in " : "", c->damaged_dir);
	else
		say("REPAIRED", path, "dropped from the manifest (nothing readable)%s%s",
		    c->damaged_dir[0] ? "; the damaged file is in " : "", c->damaged_dir);
	if (sv.kept < p.n_entries) {
		c->lost++;
		report_table_loss(c, path, number, &p, &sv);
	}
out:
	strata_free(sv.gaps);
}

static void check_live_tables(check *c)
{
	char path[4096];
	/* The state changes under repair: walk a copy of the numbers. */
	size_t n = c->m.n_tables;
	uint64_t *numbers = strata_malloc((n + 1) * sizeof *numbers);

	if (!numbers) {
		c->unrepaired++;
		say("FAILED", c->data, "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++)
		numbers[i] = c->m.tables[i].number;
	for (size_t i = 0; i < n; i++) {
		cli_table *t = cli_manifest_find(&c->m, numbers[i]);
		lsm_sst_props listed = t->props;
		lsm_sst *s = NULL;
		int rc;

		progress(c, "checking tables", i, n);
		c->files++;
		lsm_sst_path(path, sizeof path, c->data, numbers[i]);
		if (access(path, F_OK) != 0) {
			orphan *o = c->adopt_orphans ? orphan_overlap(c, &listed) : NULL;

			c->damaged++;
			say("DAMAGED", path, "listed in the manifest but missing");
			if (o)
				o->required = true;
			if (o && c->repair) {
				cli_manifest_remove(&c->m, numbers[i]);
				c->rewrite = true;
				c->repaired++;
				say("REPAIRED", path, "dropped: its points are in table %06" PRIu64 ", a compaction's output "
				    "whose manifest edit was lost; nothing lost", o->number);
			} else if (o) {
				say("note", path, "its points are in table %06" PRIu64 " (a compaction's output whose "
				    "manifest edit was lost)", o->number);
			} else if (c->repair) {
				repair_table(c, path, numbers[i], true);
			}
			continue;
		}
		rc = lsm_sst_open(&s, path, numbers[i], NULL);
		if (rc == 0)
			rc = lsm_sst_verify(s, NULL, NULL);
		if (rc) {
			c->damaged++;
			say("DAMAGED", path, "%s (%s)", last_error_for(path), strata_strerror(rc));
			if (s)
				lsm_sst_unref(s);
			if (c->repair)
				repair_table(c, path, numbers[i], false);
			continue;
		}
		if (!table_props_match(lsm_sst_get_props(s), &listed)) {
			c->damaged++;
			say("DAMAGED", path, "whole, but its properties differ from the manifest's entry (the engine "
			    "refuses it)");
			if (c->repair) {
				t->props = *lsm_sst_get_props(s);
				c->rewrite = true;
				c->repaired++;
				say("REPAIRED", path, "the manifest records the table's own properties; nothing lost");
			}
		} else {
			const lsm_sst_props *p = &listed;

			say("ok", path, "%" PRIu64 " points, %" PRIu64 " blocks, window %" PRId64 " of %" PRId64 " s",
			    p->n_entries, p->n_data_blocks, p->window, p->window_ns / 1000000000);
		}
		lsm_sst_unref(s);
	}
	progress_done(c);
	strata_free(numbers);
}

/*
 * More entries first, then newer: a compaction's output holds every key of
 * each of its inputs, so it comes before them.
 */
static int orphan_order(const void *a, const void *b)
{
	const orphan *x = a, *y = b;

	if (x->props.n_entries != y->props.n_entries)
		return x->props.n_entries > y->props.n_entries ? -1 : 1;
	if (x->props.max_seq != y->props.max_seq)
		return x->props.max_seq > y->props.max_seq ? -1 : 1;
	return x->number > y->number ? -1 : x->number < y->number;
}

/* A live table of the same window whose sequence range overlaps p's, or NULL. */
static const cli_table *seq_overlap(const check *c, const lsm_sst_props *p)
{
	for (size_t i = 0; i < c->m.n_tables; i++) {
		const lsm_sst_props *q = &c->m.tables[i].props;

		if (q->window == p->window && q->window_ns == p->window_ns && q->min_seq <= p->max_seq &&
		    p->min_seq <= q->max_seq)
			return &c->m.tables[i];
	}
	return NULL;
}

/*
 * Tables on disk that the manifest does not list (and leftovers of
 * unfinished writes). When the manifest lost edits, the whole ones become
 * candidates for adoption (c->cands).
 */
static void collect_orphans(check *c)
{
	char dir[4096], path[4096];
	uint64_t *nums = NULL;
	size_t n = 0;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof dir, "%s/sst", c->data);
	d = opendir(dir);
	while (d && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0)
			say("note", dir, "%s: an unfinished table, removed at the next start", de->d_name);
	}
	if (d)
		closedir(d);
	if (cli_list_numbered(dir, ".sst", &nums, &n) != 0)
		return;
	c->cands = strata_calloc(n + 1, sizeof *c->cands);
	for (size_t i = 0; i < n; i++) {
		lsm_sst *s = NULL;
		int rc;

		note_number(c, nums[i]);
		if (cli_manifest_find(&c->m, nums[i]))
			continue;
		lsm_sst_path(path, sizeof path, c->data, nums[i]);
		if (!c->adopt_orphans) {
			say("note", path, "not in the manifest (a table of an edit that never became durable): removed "
			    "at the next start");
			continue;
		}
		rc = lsm_sst_open(&s, path, nums[i], NULL);
		if (rc == 0)
			rc = lsm_sst_verify(s, NULL, NULL);
		if (rc) {
			say("note", path, "not in the manifest and damaged (%s): not adopted", last_error_for(path));
		} else if (c->cands) {
			c->cands[c->n_cands].number = nums[i];
			c->cands[c->n_cands].props = *lsm_sst_get_props(s);
			c->n_cands++;
		}
		if (s)
			lsm_sst_unref(s);
	}
	if (c->n_cands)
		qsort(c->cands, c->n_cands, sizeof *c->cands, orphan_order);
	strata_free(nums);
}

/* Whether the table at path holds a version of the user key of ikey. */
static bool table_has_key(const char *path, uint64_t number, const uint8_t *ikey)
{
	uint8_t target[LSM_IKEY_LEN];
	lsm_sst *s = NULL;
	lsm_iter *it;
	bool found = false;
	size_t len;

	if (lsm_sst_open(&s, path, number, NULL) != 0)
		return false;
	it = lsm_sst_iter_new(s);
	if (it) {
		lsm_ikey_seek_key(target, ikey, LSM_SEQ_MAX);
		lsm_iter_seek(it, target, sizeof target);
		found = lsm_iter_valid(it) && lsm_ukey_equal(lsm_iter_key(it, &len), ikey);
		lsm_iter_free(it);
	}
	lsm_sst_unref(s);
	return found;
}

/*
 * An orphan candidate that holds the points of p, a table the manifest
 * lists but whose file is gone: a compaction merged p into it (directly or
 * through outputs since removed) and the edit saying so was lost. It is of
 * p's window, no older (max_seq), and holds p's first and last keys. NULL
 * when none.
 */
static orphan *orphan_overlap(const check *c, const lsm_sst_props *p)
{
	char path[4096];

	for (size_t i = 0; i < c->n_cands; i++) {
		orphan *o = &c->cands[i];

		if (o->props.window != p->window || o->props.window_ns != p->window_ns || o->props.max_seq < p->max_seq)
			continue;
		lsm_sst_path(path, sizeof path, c->data, o->number);
		if (table_has_key(path, o->number, p->smallest) && table_has_key(path, o->number, p->largest))
			return o;
	}
	return NULL;
}

/*
 * Adopts the candidates: first those holding the points of listed tables
 * whose files are gone (the live tables their sequence range overlaps are
 * their inputs, whose points they hold: those step aside), then the others
 * that overlap no live table of their window. Bigger first.
 */
static void adopt_orphans(check *c)
{
	char path[4096], other_path[4096], rel[64];

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < c->n_cands; i++) {
			orphan *o = &c->cands[i];
			const cli_table *other = seq_overlap(c, &o->props);

			if (o->required != (pass == 0))
				continue;
			lsm_sst_path(path, sizeof path, c->data, o->number);
			while (pass == 0 && c->repair && other && !cli_manifest_find(&c->m, o->number)) {
				uint64_t gone = other->number;
				bool adopted_before = false;

				for (size_t k = 0; k < i; k++)
					adopted_before |= c->cands[k].number == gone;
				if (adopted_before)
					break; /* a bigger output already holds these points */
				lsm_sst_path(other_path, sizeof other_path, c->data, gone);
				snprintf(rel, sizeof rel, "sst/%06" PRIu64 ".sst", gone);
				if (keep_aside(c, rel) != 0)
					break;
				cli_manifest_remove(&c->m, gone);
				remember_replaced(c, gone);
				c->rewrite = true;
				say("REPAIRED", other_path, "dropped: table %06" PRIu64 " holds its points (a compaction's "
				    "output whose manifest edit was lost); nothing lost", o->number);
				other = seq_overlap(c, &o->props);
			}
			if (other) {
				say("note", path, "not adopted: its sequence numbers overlap table %06" PRIu64 " of the same "
				    "window, which holds its points", other->number);
				continue;
			}
			if (!c->repair) {
				say("note", path, "whole but not in the manifest: --repair adopts it");
				continue;
			}
			if (cli_manifest_add(&c->m, o->number, &o->props) != 0) {
				say("FAILED", path, "cannot adopt: %s", strata_last_error());
				c->unrepaired++;
				continue;
			}
			c->rewrite = true;
			c->repaired++;
			say("REPAIRED", path, "adopted: whole, window %" PRId64 ", %" PRIu64 " points (the manifest edit "
			    "that added it was lost)", o->props.window, o->props.n_entries);
		}
	}
}

/* Writes a fresh manifest of c->m and points CURRENT at it; then removes replaced tables. */
static void write_manifest(check *c)
{
	lsm_version_edit e;
	uint64_t number, last_seq = c->m.last_seq;
	char path[4096];
	int rc = 0;

	for (size_t i = 0; i < c->m.n_tables; i++)
		if (c->m.tables[i].props.max_seq > last_seq)
			last_seq = c->m.tables[i].props.max_seq;
	number = c->next_number > c->m.next_file ? c->next_number : c->m.next_file;
	lsm_version_edit_init(&e);
	e.has_log_number = true;
	e.log_number = c->m.log_number;
	e.has_last_seq = true;
	e.last_seq = last_seq;
	e.has_next_file = true;
	e.next_file = number + 1;
	for (size_t i = 0; i < c->m.n_tables && rc == 0; i++)
		rc = lsm_version_edit_add_file(&e, c->m.tables[i].number, &c->m.tables[i].props);
	if (rc == 0)
		rc = lsm_checkpoint_write_manifest(c->data, number, &e);
	lsm_version_edit_deinit(&e);
	snprintf(path, sizeof path, "%s/MANIFEST-%06" PRIu64, c->data, number);
	if (rc) {
		c->unrepaired++;
		say("FAILED", path, "cannot write the new manifest: %s", strata_last_error());
		return;
	}
	say("REPAIRED", path, "new manifest: %zu live tables, log_number %" PRIu64 "; CURRENT names it",
	    c->m.n_tables, c->m.log_number);
	/* The old manifest files are removed by the next start; replaced tables now. */
	for (size_t i = 0; i < c->n_replaced; i++) {
		lsm_sst_path(path, sizeof path, c->data, c->replaced[i]);
		if (unlink(path) != 0 && errno != ENOENT)
			say("note", path, "cannot remove: %s (removed at the next start)", strerror(errno));
	}
}

/* ---- WAL ---- */

typedef struct wal_seg {
	uint64_t number;
	rec_scan scan;
	cli_map map;
} wal_seg;

static void check_wal(check *c)
{
	char dir[4096], path[4096], rel[64], tmp[4096 + 16];
	uint64_t *nums = NULL;
	size_t n = 0, first_live = 0;
	wal_seg *segs = NULL;

	snprintf(dir, sizeof dir, "%s/wal", c->data);
	if (cli_list_numbered(dir, ".wal", &nums, &n) != 0 || n == 0)
		goto out;
	segs = strata_calloc(n, sizeof *segs);
	if (!segs)
		goto out;
	for (size_t i = 0; i < n; i++) {
		note_number(c, nums[i]);
		segs[i].number = nums[i];
		if (nums[i] < c->m.log_number) {
			first_live = i + 1;
			lsm_wal_path(path, sizeof path, c->data, nums[i]);
			say("ok", path, "flushed to tables, removed at the next start");
			continue;
		}
		lsm_wal_path(path, sizeof path, c->data, nums[i]);
		if (cli_map_open(&segs[i].map, path) != 0) {
			segs[i].scan.rc = -EIO;
			continue;
		}
		scan_records(&segs[i].map, path, LSM_WAL_MAGIC, LSM_WAL_VERSION, CLI_TYPES_LOG, wal_record_check,
			     &segs[i].scan);
		progress(c, "checking WAL segments", i, n);
	}
	progress_done(c);
	/* Lost sequence ranges open at a segment's edge continue into its neighbours. */
	for (size_t i = first_live; i < n; i++) {
		rec_scan *s = &segs[i].scan;

		for (size_t k = 0; k < s->n_lost; k++) {
			if (s->lost[k].seq_from == 0 && i > first_live && segs[i - 1].scan.next_seq)
				s->lost[k].seq_from = segs[i - 1].scan.next_seq;
			if (s->lost[k].seq_to == 0 && i + 1 < n && segs[i + 1].scan.first_seq)
				s->lost[k].seq_to = segs[i + 1].scan.first_seq - 1;
		}
	}
	for (size_t i = first_live; i < n; i++) {
		rec_scan *s = &segs[i].scan;
		bool newest = i + 1 == n;
		int rc;

		c->files++;
		lsm_wal_path(path, sizeof path, c->data, segs[i].number);
		if (s->rc) {
			c->damaged++;
			c->unrepaired++;
			say("DAMAGED", path, "%s", last_error_for(path));
			continue;
		}
		if (s->n_lost == 0) {
			say("ok", path, "%" PRIu64 " batches", s->n_records);
			continue;
		}
		if (newest && rec_scan_torn_only(s, true)) {
			say("ok", path, "%" PRIu64 " batches, torn tail at offset %" PRIu64 " (%" PRIu64 " bytes of a "
			    "write never acknowledged, trimmed at the next start)", s->n_records, s->lost[0].off,
			    s->lost[0].bytes);
			continue;
		}
		c->damaged++;
		say("DAMAGED", path, "%zu damaged region(s), the first at offset %" PRIu64 ": %s%s", s->n_lost,
		    s->lost[0].off, s->lost[0].why,
		    newest ? "" : " (only the newest segment may end torn: recovery refuses this one)");
		if (!c->repair)
			continue;
		snprintf(rel, sizeof rel, "wal/%06" PRIu64 ".wal", segs[i].number);
		snprintf(tmp, sizeof tmp, "%s.repair", path);
		rc = write_kept(&segs[i].map, s, LSM_WAL_MAGIC, LSM_WAL_VERSION, segs[i].number, tmp);
		if (rc == 0)
			rc = replace_file(c, rel, tmp);
		if (rc) {
			unlink(tmp);
			c->unrepaired++;
			say("FAILED", path, "cannot rewrite: %s", strata_last_error());
			continue;
		}
		c->repaired++;
		c->lost++;
		say("REPAIRED", path, "rewritten with its %" PRIu64 " intact batches (the damaged file is in %s)",
		    s->n_records, c->damaged_dir);
		print_regions(path, s, true);
	}
out:
	for (size_t i = 0; segs && i < n; i++) {
		rec_scan_free(&segs[i].scan);
		cli_map_close(&segs[i].map);
	}
	strata_free(segs);
	strata_free(nums);
}

static void check_usage(FILE *f)
{
	fputs("usage: strata check [--data DIR] [--repair]\n"
	      "Verifies the checksums and structure of the catalog, CURRENT, the manifest, every table\n"
	      "and every WAL segment not yet flushed; one line per file.\n"
	      "  --data DIR   data directory (default ./strata-data); no server may be running on it\n"
	      "  --repair     mend what can be mended: damaged files are first kept in\n"
	      "               DIR/damaged/<UTC time>/, then rebuilt from what is valid (the catalog and\n"
	      "               WAL segments from their intact records, tables from their readable\n"
	      "               entries, the manifest from its valid edits and the whole tables on disk);\n"
	      "               every loss is printed on a LOST line (points, time window, series,\n"
	      "               sequence numbers)\n"
	      "Exit status: 0 whole (or repaired without loss), 1 damage found, data lost or not\n"
	      "repairable, or the directory cannot be read, 2 usage.\n",
	      f);
}

int cli_check(int argc, char **argv)
{
	check c = { .data = "./strata-data" };
	int lock, exit_code;

	for (int i = 1; i < argc; i++) {
		const char *v;

		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			check_usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--repair") == 0) {
			c.repair = true;
		} else if (cli_option(argc, argv, &i, "--data", &v)) {
			c.data = v;
		} else {
			fprintf(stderr, "strata check: unknown argument '%s'\n", argv[i]);
			check_usage(stderr);
			return 2;
		}
	}
	if (access(c.data, F_OK) != 0) {
		fprintf(stderr, "strata check: data directory %s does not exist\n", c.data);
		return 1;
	}
	lock = lsm_lockfile_acquire(c.data);
	if (lock < 0) {
		cli_fail("check", lock);
		return 1;
	}
	cli_store_options(&c.opt);
	c.tty = isatty(STDERR_FILENO);
	c.progress_ns = cli_now_ns();
	strata_log_set_level(STRATA_LOG_WARN); /* the report is the output; the engine's info lines are not */

	check_catalog(&c);
	if (c.repair) {
		/* For naming the series of lost points (a torn tail is trimmed here, as at a start). */
		if (lsm_catalog_open(&c.catalog, c.data) != 0) {
			say("note", c.data, "the catalog does not open (%s): lost series are given by id",
			    strata_last_error());
			c.catalog = NULL;
		}
		load_series_ids(&c);
		if (c.catalog_rebuilt)
			report_missing_ids(&c);
	}
	check_current(&c);
	note_number(&c, c.m.next_file ? c.m.next_file - 1 : 0);
	{
		char sst[4096];
		uint64_t *nums = NULL;
		size_t n = 0;

		snprintf(sst, sizeof sst, "%s/sst", c.data);
		if (cli_list_numbered(sst, ".sst", &nums, &n) == 0)
			for (size_t i = 0; i < n; i++)
				note_number(&c, nums[i]);
		strata_free(nums);
		snprintf(sst, sizeof sst, "%s/wal", c.data);
		if (cli_list_numbered(sst, ".wal", &nums, &n) == 0)
			for (size_t i = 0; i < n; i++)
				note_number(&c, nums[i]);
		strata_free(nums);
	}
	c.next_number = c.max_number + 1;
	collect_orphans(&c);
	check_live_tables(&c);
	adopt_orphans(&c);
	if (c.repair && c.rewrite)
		write_manifest(&c);
	check_wal(&c);

	if (c.catalog)
		lsm_catalog_close(c.catalog);
	lsm_lockfile_release(lock);
	printf("%u files checked, %u damaged", c.files, c.damaged);
	if (c.repair)
		printf("; %u repaired, %u with data lost, %u not repairable", c.repaired, c.lost, c.unrepaired);
	putchar('\n');
	if (c.repair && c.damaged_dir[0])
		printf("damaged files kept in %s\n", c.damaged_dir);
	if (c.repair)
		exit_code = c.lost || c.unrepaired ? 1 : 0;
	else
		exit_code = c.damaged ? 1 : 0;
	cli_manifest_free(&c.m);
	strata_free(c.series_ids);
	strata_free(c.replaced);
	strata_free(c.cands);
	return exit_code;
}
