/*
 * stats.c — `strata stats`: what a data directory holds, per database and
 * per time window, and how much compaction work is waiting.
 *
 * Read from the files, under the directory's LOCK, without recovery (the
 * directory is left as it is): the manifest gives the tables of each window
 * (files, bytes, time range), the catalog the databases and their series,
 * and one pass over every table and every WAL segment not yet flushed
 * attributes entries to databases by series id. A table's bytes on disk
 * are shared among the databases in it in proportion to their raw bytes
 * (keys and values before compression), so the per-database sizes are
 * estimates; every other figure is counted. Compaction debt is what merging
 * each window down to one table would do: the tables beyond the first and
 * the bytes of every window that has more than one.
 */
#include "tools/cli.h"
#include "tools/store.h"
#include "lsm/alloc.h"
#include "lsm/batch.h"
#include "lsm/catalog_format.h"
#include "lsm/lockfile.h"
#include "lsm/log.h"
#include "lsm/version.h"
#include "lsm/wal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UNKNOWN_DB UINT32_MAX

typedef struct db_stat {
	char *name;
	uint32_t id;
	uint64_t series;
	uint64_t entries;        /* in tables */
	uint64_t raw_bytes;
	double disk_bytes;       /* share of the tables' bytes */
	uint64_t wal_entries;    /* not yet flushed */
	uint64_t n_windows;
} db_stat;

typedef struct win_stat {
	int64_t window;
	int64_t window_ns;       /* its length: windows of several lengths may share time */
	uint64_t files, bytes, entries;
	int64_t min_ts, max_ts;
} win_stat;

typedef struct cell {            /* one database in one window */
	uint64_t entries;
	double disk_bytes;
} cell;

typedef struct series_db {
	uint64_t id;
	uint32_t db;             /* index into dbs */
} series_db;

typedef struct stats {
	const char *data;
	lsm_options opt;
	cli_manifest m;
	db_stat *dbs;
	size_t n_dbs;            /* plus one more slot: series no database knows */
	series_db *map;
	size_t n_map;
	win_stat *wins;
	size_t n_wins;
	cell *cells;             /* (n_dbs + 1) x n_wins */
	uint64_t wal_segments, wal_bytes, wal_live_segments, wal_live_bytes, wal_entries;
	uint64_t catalog_bytes;
	uint64_t unreadable;     /* tables or segments that could not be read */
	bool tty, progress_shown;
	uint64_t progress_ns;    /* the first progress line comes a quarter second (5 s) in */
} stats;

static int cmp_series_db(const void *a, const void *b)
{
	uint64_t x = ((const series_db *)a)->id, y = ((const series_db *)b)->id;

	return x < y ? -1 : x > y;
}

static uint32_t db_of(const stats *s, uint64_t id)
{
	size_t lo = 0, hi = s->n_map;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->map[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n_map && s->map[lo].id == id ? s->map[lo].db : (uint32_t)s->n_dbs;
}

/* Adds the series of one store of database d to its count and the map. */
static int load_store(stats *s, lsm_catalog *cat, size_t d, uint32_t store, size_t *cap)
{
	char **ms = NULL;
	size_t n_ms = 0;
	int rc = 0;

	if (lsm_catalog_measurements(cat, store, &ms, &n_ms) != 0)
		return 0;
	for (size_t i = 0; i < n_ms && rc == 0; i++) {
		uint64_t *ids = NULL;
		size_t n_ids = 0;

		rc = lsm_catalog_measurement_series(cat, store, ms[i], strlen(ms[i]), &ids, &n_ids);
		if (rc)
			break;
		s->dbs[d].series += n_ids;
		if (s->n_map + n_ids > *cap) {
			size_t want = (s->n_map + n_ids) * 2;
			series_db *grown = strata_realloc(s->map, want * sizeof *grown);

			if (!grown) {
				strata_free(ids);
				rc = -ENOMEM;
				break;
			}
			s->map = grown;
			*cap = want;
		}
		for (size_t k = 0; k < n_ids; k++)
			s->map[s->n_map++] = (series_db){ ids[k], (uint32_t)d };
		strata_free(ids);
	}
	lsm_catalog_free_names(ms, n_ms);
	return rc;
}

/* Databases, their series counts (every retention policy's) and the series id -> database map. */
static int load_catalog(stats *s)
{
	char path[4096], **names = NULL;
	size_t n = 0, cap = 0;
	lsm_catalog *cat = NULL;
	struct stat st;
	int rc;

	snprintf(path, sizeof path, "%s/%s", s->data, LSM_CATALOG_FILE);
	if (stat(path, &st) != 0) {
		s->dbs = strata_calloc(1, sizeof *s->dbs);
		return s->dbs ? 0 : -ENOMEM;
	}
	s->catalog_bytes = (uint64_t)st.st_size;
	rc = lsm_catalog_open(&cat, s->data);
	if (rc)
		return rc;
	rc = lsm_catalog_databases(cat, &names, &n);
	if (rc)
		goto out;
	s->dbs = strata_calloc(n + 1, sizeof *s->dbs);
	if (!s->dbs) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t d = 0; d < n && rc == 0; d++) {
		uint32_t *stores = NULL;
		size_t n_stores = 0;

		s->dbs[d].name = names[d];
		names[d] = NULL;
		s->n_dbs++;
		if (lsm_catalog_database_id(cat, s->dbs[d].name, &s->dbs[d].id) != 0 ||
		    lsm_catalog_stores(cat, s->dbs[d].id, &stores, &n_stores) != 0)
			continue;
		for (size_t i = 0; i < n_stores && rc == 0; i++)
			rc = load_store(s, cat, d, stores[i], &cap);
		strata_free(stores);
	}
	if (rc == 0 && s->n_map)
		qsort(s->map, s->n_map, sizeof *s->map, cmp_series_db);
out:
	lsm_catalog_free_names(names, n);
	lsm_catalog_close(cat);
	return rc;
}

static int cmp_table_window(const void *a, const void *b)
{
	const cli_table *x = a, *y = b;

	int64_t fx, fy, lx, ly;

	lsm_window_span(x->props.window, x->props.window_ns, &fx, &lx);
	lsm_window_span(y->props.window, y->props.window_ns, &fy, &ly);
	if (fx != fy)
		return fx < fy ? -1 : 1;
	if (x->props.window_ns != y->props.window_ns)
		return x->props.window_ns < y->props.window_ns ? -1 : 1;
	if (x->props.window != y->props.window)
		return x->props.window < y->props.window ? -1 : 1;
	return x->number < y->number ? -1 : x->number > y->number;
}

/* Groups the manifest's tables by window (the manifest keeps them by number). */
static int build_windows(stats *s)
{
	qsort(s->m.tables, s->m.n_tables, sizeof *s->m.tables, cmp_table_window);
	s->wins = strata_calloc(s->m.n_tables + 1, sizeof *s->wins);
	if (!s->wins)
		return -ENOMEM;
	for (size_t i = 0; i < s->m.n_tables; i++) {
		const lsm_sst_props *p = &s->m.tables[i].props;
		win_stat *w;

		if (s->n_wins == 0 || s->wins[s->n_wins - 1].window != p->window ||
		    s->wins[s->n_wins - 1].window_ns != p->window_ns) {
			w = &s->wins[s->n_wins++];
			w->window = p->window;
			w->window_ns = p->window_ns;
			w->min_ts = p->min_ts;
			w->max_ts = p->max_ts;
		}
		w = &s->wins[s->n_wins - 1];
		w->files++;
		w->bytes += p->file_bytes;
		w->entries += p->n_entries;
		if (p->min_ts < w->min_ts)
			w->min_ts = p->min_ts;
		if (p->max_ts > w->max_ts)
			w->max_ts = p->max_ts;
	}
	s->cells = strata_calloc((s->n_dbs + 1) * (s->n_wins + 1), sizeof *s->cells);
	return s->cells ? 0 : -ENOMEM;
}

static void progress(stats *s, uint64_t done, uint64_t total)
{
	uint64_t t = cli_now_ns();
	char a[32], b[32];

	if (t - s->progress_ns < (s->tty ? 250000000u : 5000000000u))
		return;
	s->progress_ns = t;
	s->progress_shown = true;
	cli_format_bytes(a, sizeof a, done);
	cli_format_bytes(b, sizeof b, total);
	fprintf(stderr, "%sreading tables: %s / %s%s", s->tty ? "\r" : "", a, b, s->tty ? "   " : "\n");
}

/* One pass over every table: entries and raw bytes per database. */
static void scan_tables(stats *s)
{
	uint64_t *raw = strata_calloc(s->n_dbs + 1, sizeof *raw), *ent = strata_calloc(s->n_dbs + 1, sizeof *ent);
	uint64_t total = 0, done = 0;
	size_t w = 0;

	if (!raw || !ent) {
		s->unreadable++;
		goto out;
	}
	for (size_t i = 0; i < s->m.n_tables; i++)
		total += s->m.tables[i].props.file_bytes;
	for (size_t i = 0; i < s->m.n_tables; i++) {
		const cli_table *t = &s->m.tables[i];
		char path[4096];
		lsm_sst *sst = NULL;
		lsm_iter *it;
		uint64_t last_series = 0, table_raw = 0;
		uint32_t last_db = (uint32_t)s->n_dbs;
		bool have_last = false;
		int rc;

		while (s->wins[w].window != t->props.window || s->wins[w].window_ns != t->props.window_ns)
			w++;
		memset(raw, 0, (s->n_dbs + 1) * sizeof *raw);
		memset(ent, 0, (s->n_dbs + 1) * sizeof *ent);
		lsm_sst_path(path, sizeof path, s->data, t->number);
		rc = lsm_sst_open(&sst, path, t->number, NULL);
		it = rc == 0 ? lsm_sst_iter_new(sst) : NULL;
		if (it) {
			for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) {
				size_t klen, vlen;
				const uint8_t *k = lsm_iter_key(it, &klen);
				uint64_t series = lsm_ukey_series(k);

				lsm_iter_value(it, &vlen);
				if (!have_last || series != last_series) {
					last_db = db_of(s, series);
					last_series = series;
					have_last = true;
				}
				raw[last_db] += klen + vlen;
				ent[last_db]++;
				table_raw += klen + vlen;
			}
			rc = lsm_iter_status(it);
			lsm_iter_free(it);
		}
		if (sst)
			lsm_sst_unref(sst);
		if (rc) {
			s->unreadable++;
			fprintf(stderr, "%sstrata stats: %s unreadable: %s (run strata check)\n", s->tty ? "\r" : "", path,
				strata_last_error());
		}
		for (size_t d = 0; d <= s->n_dbs; d++) {
			double share = table_raw ? (double)t->props.file_bytes * (double)raw[d] / (double)table_raw : 0;
			cell *c = &s->cells[d * s->n_wins + w];

			if (!ent[d])
				continue;
			if (c->entries == 0)
				s->dbs[d].n_windows++;
			c->entries += ent[d];
			c->disk_bytes += share;
			s->dbs[d].entries += ent[d];
			s->dbs[d].raw_bytes += raw[d];
			s->dbs[d].disk_bytes += share;
		}
		done += t->props.file_bytes;
		progress(s, done, total);
	}
	if (s->tty && s->progress_shown)
		fputs("\r\033[K", stderr);
out:
	strata_free(raw);
	strata_free(ent);
}

static int count_batch(void *ctx, const uint8_t *data, size_t len)
{
	stats *s = ctx;
	lsm_batch_reader r;
	lsm_batch_entry e;
	int rc = lsm_batch_reader_init(&r, data, len);

	while (rc == 0 && (rc = lsm_batch_reader_next(&r, &e)) == 1) {
		s->dbs[db_of(s, lsm_ukey_series(e.ukey))].wal_entries++;
		s->wal_entries++;
	}
	return rc < 0 ? rc : 0;
}

static void scan_wal(stats *s)
{
	char dir[4096], path[4096];
	uint64_t *nums = NULL;
	size_t n = 0;

	snprintf(dir, sizeof dir, "%s/wal", s->data);
	if (cli_list_numbered(dir, ".wal", &nums, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		lsm_wal_path(path, sizeof path, s->data, nums[i]);
		if (stat(path, &st) != 0)
			continue;
		s->wal_segments++;
		s->wal_bytes += (uint64_t)st.st_size;
		if (nums[i] < s->m.log_number)
			continue;
		s->wal_live_segments++;
		s->wal_live_bytes += (uint64_t)st.st_size;
		if (lsm_wal_replay(path, i + 1 == n, count_batch, s, NULL) != 0) {
			s->unreadable++;
			fprintf(stderr, "strata stats: %s unreadable: %s (run strata check)\n", path, strata_last_error());
		}
	}
	strata_free(nums);
}

/* ---- output ---- */

/* The start of window `window` + offset among windows w ns long. */
static void window_start(int64_t w, int64_t window, char *out, size_t len, int64_t offset)
{
	if (window + offset > INT64_MAX / w || window + offset < INT64_MIN / w)
		snprintf(out, len, "?");
	else
		cli_format_time(out, len, (window + offset) * w);
}

static const char *db_name(const stats *s, size_t d)
{
	return d < s->n_dbs ? s->dbs[d].name : "(series in no database)";
}

static void debt(const stats *s, uint64_t *windows, uint64_t *files, uint64_t *bytes)
{
	*windows = *files = *bytes = 0;
	for (size_t i = 0; i < s->n_wins; i++) {
		if (s->wins[i].files <= 1)
			continue;
		(*windows)++;
		*files += s->wins[i].files - 1;
		*bytes += s->wins[i].bytes;
	}
}

static void print_table(const stats *s)
{
	char a[32], b[32], c[32], t0[48], t1[48];
	uint64_t files = 0, bytes = 0, dw, df, db;
	size_t name_w = 8;

	for (size_t i = 0; i < s->n_wins; i++) {
		files += s->wins[i].files;
		bytes += s->wins[i].bytes;
	}
	for (size_t d = 0; d <= s->n_dbs; d++)
		if ((d < s->n_dbs || s->dbs[d].entries || s->dbs[d].wal_entries) && strlen(db_name(s, d)) > name_w)
			name_w = strlen(db_name(s, d));
	cli_format_bytes(a, sizeof a, bytes);
	cli_format_bytes(b, sizeof b, s->wal_bytes);
	cli_format_bytes(c, sizeof c, s->wal_live_bytes);
	printf("data directory %s\n", s->data);
	printf("tables   %" PRIu64 " files, %s, in %zu time windows (%" PRId64 " s long unless their policy's shard "
	       "duration says otherwise)\n", files, a, s->n_wins, s->opt.window_ns / 1000000000);
	printf("WAL      %" PRIu64 " segments, %s; not yet flushed: %" PRIu64 " segments, %s, %" PRIu64 " entries\n",
	       s->wal_segments, b, s->wal_live_segments, c, s->wal_entries);
	cli_format_bytes(a, sizeof a, s->catalog_bytes);
	printf("catalog  %zu databases, %s\n\n", s->n_dbs, a);

	printf("%-*s  %10s  %12s  %10s  %8s  %12s\n", (int)name_w, "database", "series", "entries", "on disk",
	       "windows", "in WAL");
	for (size_t d = 0; d <= s->n_dbs; d++) {
		const db_stat *x = &s->dbs[d];

		if (d == s->n_dbs && !x->entries && !x->wal_entries)
			continue;
		cli_format_bytes(a, sizeof a, (uint64_t)x->disk_bytes);
		if (d < s->n_dbs)
			printf("%-*s  %10" PRIu64, (int)name_w, x->name, x->series);
		else
			printf("%-*s  %10s", (int)name_w, db_name(s, d), "-");
		printf("  %12" PRIu64 "  %10s  %8" PRIu64 "  %12" PRIu64 "\n", x->entries, a, x->n_windows, x->wal_entries);
	}

	printf("\n%-8s  %8s  %-20s  %-20s  %5s  %12s  %10s  %s\n", "window", "length", "start", "end", "files",
	       "entries", "bytes", "per database (entries, bytes on disk)");
	for (size_t i = 0; i < s->n_wins; i++) {
		const win_stat *w = &s->wins[i];
		bool first = true;

		window_start(w->window_ns, w->window, t0, sizeof t0, 0);
		window_start(w->window_ns, w->window, t1, sizeof t1, 1);
		cli_format_bytes(a, sizeof a, w->bytes);
		printf("%-8" PRId64 "  %7" PRId64 "s  %-20s  %-20s  %5" PRIu64 "  %12" PRIu64 "  %10s  ", w->window,
		       w->window_ns / 1000000000, t0, t1, w->files, w->entries, a);
		for (size_t d = 0; d <= s->n_dbs; d++) {
			const cell *cl = &s->cells[d * s->n_wins + i];

			if (!cl->entries)
				continue;
			cli_format_bytes(b, sizeof b, (uint64_t)cl->disk_bytes);
			printf("%s%s %" PRIu64 " %s", first ? "" : "; ", db_name(s, d), cl->entries, b);
			first = false;
		}
		putchar('\n');
	}
	debt(s, &dw, &df, &db);
	cli_format_bytes(a, sizeof a, db);
	printf("\ncompaction debt: %" PRIu64 " tables beyond one per window, in %" PRIu64 " windows; merging them "
	       "would rewrite %s\n", df, dw, a);
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void print_json(const stats *s)
{
	char t0[48], t1[48];
	uint64_t files = 0, bytes = 0, dw, df, db;

	for (size_t i = 0; i < s->n_wins; i++) {
		files += s->wins[i].files;
		bytes += s->wins[i].bytes;
	}
	debt(s, &dw, &df, &db);
	printf("{\"data\":");
	json_string(stdout, s->data);
	printf(",\"window_seconds\":%" PRId64 ",\"tables\":{\"files\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"windows\":%zu}",
	       s->opt.window_ns / 1000000000, files, bytes, s->n_wins);
	printf(",\"wal\":{\"segments\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"unflushed_segments\":%" PRIu64
	       ",\"unflushed_bytes\":%" PRIu64 ",\"unflushed_entries\":%" PRIu64 "}",
	       s->wal_segments, s->wal_bytes, s->wal_live_segments, s->wal_live_bytes, s->wal_entries);
	printf(",\"catalog\":{\"bytes\":%" PRIu64 ",\"databases\":%zu}", s->catalog_bytes, s->n_dbs);
	printf(",\"databases\":[");
	for (size_t d = 0; d <= s->n_dbs; d++) {
		const db_stat *x = &s->dbs[d];
		bool first = true;

		if (d == s->n_dbs && !x->entries && !x->wal_entries)
			continue;
		printf("%s{\"name\":", d ? "," : "");
		if (d < s->n_dbs)
			json_string(stdout, x->name);
		else
			printf("null");
		printf(",\"series\":%" PRIu64 ",\"entries\":%" PRIu64 ",\"raw_bytes\":%" PRIu64 ",\"disk_bytes\":%" PRIu64
		       ",\"wal_entries\":%" PRIu64 ",\"windows\":[", x->series, x->entries, x->raw_bytes,
		       (uint64_t)x->disk_bytes, x->wal_entries);
		for (size_t i = 0; i < s->n_wins; i++) {
			const cell *cl = &s->cells[d * s->n_wins + i];

			if (!cl->entries)
				continue;
			window_start(s->wins[i].window_ns, s->wins[i].window, t0, sizeof t0, 0);
			printf("%s{\"window\":%" PRId64 ",\"window_seconds\":%" PRId64 ",\"start\":\"%s\",\"entries\":%" PRIu64
			       ",\"disk_bytes\":%" PRIu64 "}", first ? "" : ",", s->wins[i].window,
			       s->wins[i].window_ns / 1000000000, t0, cl->entries, (uint64_t)cl->disk_bytes);
			first = false;
		}
		printf("]}");
	}
	printf("],\"windows\":[");
	for (size_t i = 0; i < s->n_wins; i++) {
		const win_stat *w = &s->wins[i];
		char lo[48], hi[48];

		window_start(w->window_ns, w->window, t0, sizeof t0, 0);
		window_start(w->window_ns, w->window, t1, sizeof t1, 1);
		cli_format_time(lo, sizeof lo, w->min_ts);
		cli_format_time(hi, sizeof hi, w->max_ts);
		printf("%s{\"window\":%" PRId64 ",\"window_seconds\":%" PRId64 ",\"start\":\"%s\",\"end\":\"%s\",\"files\":%" PRIu64
		       ",\"bytes\":%" PRIu64 ",\"entries\":%" PRIu64 ",\"min_time\":\"%s\",\"max_time\":\"%s\",\"debt_files\":%" PRIu64
		       ",\"debt_bytes\":%" PRIu64 "}", i ? "," : "", w->window, w->window_ns / 1000000000, t0, t1, w->files,
		       w->bytes, w->entries, lo, hi,
		       w->files > 1 ? w->files - 1 : 0, w->files > 1 ? w->bytes : 0);
	}
	printf("],\"compaction_debt\":{\"windows\":%" PRIu64 ",\"files\":%" PRIu64 ",\"bytes\":%" PRIu64 "}}\n",
	       dw, df, db);
}

static void stats_usage(FILE *f)
{
	fputs("usage: strata stats [--data DIR] [--format table|json]\n"
	      "What a data directory holds: per database its series, entries, bytes on disk (its share of\n"
	      "each table, estimated from raw bytes) and entries still only in the WAL; per time window its\n"
	      "tables, entries and bytes; and the compaction debt (tables beyond one per window, and the\n"
	      "bytes merging them would rewrite). Reads every table once (progress on stderr); changes\n"
	      "nothing. No server may be running on DIR.\n"
	      "  --data DIR       data directory (default ./strata-data)\n"
	      "  --format F       table (default) or json\n"
	      "Exit status: 0 done, 1 the directory or a file in it cannot be read, 2 usage.\n",
	      f);
}

int cli_stats(int argc, char **argv)
{
	stats s = { .data = "./strata-data" };
	const char *format = "table";
	uint64_t number;
	char path[4096];
	int lock, rc, exit_code = 1;

	for (int i = 1; i < argc; i++) {
		const char *v;

		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			stats_usage(stdout);
			return 0;
		} else if (cli_option(argc, argv, &i, "--data", &v)) {
			s.data = v;
		} else if (cli_option(argc, argv, &i, "--format", &v)) {
			format = v;
		} else {
			fprintf(stderr, "strata stats: unknown argument '%s'\n", argv[i]);
			stats_usage(stderr);
			return 2;
		}
	}
	if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0) {
		fprintf(stderr, "strata stats: --format takes table or json\n");
		return 2;
	}
	if (access(s.data, F_OK) != 0) {
		fprintf(stderr, "strata stats: data directory %s does not exist\n", s.data);
		return 1;
	}
	lock = lsm_lockfile_acquire(s.data);
	if (lock < 0) {
		cli_fail("stats (a running server shows its figures at /metrics)", lock);
		return 1;
	}
	strata_log_set_level(STRATA_LOG_WARN);
	cli_store_options(&s.opt);
	s.tty = isatty(STDERR_FILENO);
	s.progress_ns = cli_now_ns();
	cli_manifest_init(&s.m);
	rc = cli_current_read(s.data, &number);
	if (rc == 0) {
		snprintf(path, sizeof path, "%s/MANIFEST-%06" PRIu64, s.data, number);
		rc = cli_manifest_load(&s.m, path);
		if (rc == 0 && s.m.damage && !s.m.torn)
			rc = strata_error(s.m.damage, "%s", s.m.why);
	} else if (rc == STRATA_ENOTFOUND) {
		rc = 0; /* an empty directory */
	}
	if (rc) {
		cli_fail("cannot read the manifest (run strata check)", rc);
		goto out;
	}
	rc = load_catalog(&s);
	if (rc) {
		cli_fail("cannot read the catalog (run strata check)", rc);
		goto out;
	}
	rc = build_windows(&s);
	if (rc) {
		cli_fail("stats", rc);
		goto out;
	}
	scan_tables(&s);
	scan_wal(&s);
	if (strcmp(format, "json") == 0)
		print_json(&s);
	else
		print_table(&s);
	exit_code = s.unreadable ? 1 : 0;
out:
	lsm_lockfile_release(lock);
	for (size_t d = 0; s.dbs && d < s.n_dbs; d++)
		strata_free(s.dbs[d].name);
	strata_free(s.dbs);
	strata_free(s.map);
	strata_free(s.wins);
	strata_free(s.cells);
	cli_manifest_free(&s.m);
	return exit_code;
}
