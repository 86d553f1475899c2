/*
 * check.c — `strata check`: verifies every checksum in a data directory.
 *
 * It takes the directory's LOCK (so it never races a running server), then
 * reads CURRENT's manifest record by record, every WAL segment (only the
 * newest may end in a torn record, which is reported but is not damage:
 * recovery trims it), and every block of every table. One line per file;
 * progress on stderr for big tables; exit 1 when anything is damaged.
 */
#include "tools/cli.h"
#include "lsm/alloc.h"
#include "lsm/catalog_format.h"
#include "lsm/lockfile.h"
#include "lsm/record.h"
#include "lsm/sstable.h"
#include "lsm/status.h"
#include "lsm/version.h"
#include "lsm/wal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct check_totals {
	unsigned files;
	unsigned damaged;
} check_totals;

static void report(check_totals *t, const char *path, int rc, const char *detail)
{
	t->files++;
	if (rc) {
		t->damaged++;
		printf("DAMAGED %s: %s (%s)\n", path, strata_last_error(), strata_strerror(rc));
	} else {
		printf("ok      %s%s%s\n", path, detail[0] ? ": " : "", detail);
	}
	fflush(stdout);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Numbers of the files in dir named <number><suffix>, ascending. */
static size_t list_numbered(const char *dir, const char *suffix, uint64_t **out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t *nums = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long long num = strtoull(de->d_name, &end, 10);

		if (end == de->d_name || strcmp(end, suffix) != 0)
			continue;
		if (n == cap) {
			uint64_t *grown;

			cap = cap ? cap * 2 : 64;
			grown = strata_realloc(nums, cap * sizeof *nums);
			if (!grown)
				break;
			nums = grown;
		}
		nums[n++] = num;
	}
	closedir(d);
	if (n)
		qsort(nums, n, sizeof *nums, cmp_u64);
	*out = nums;
	return n;
}

static void check_manifest(check_totals *t, const char *data)
{
	char path[4096], name[256] = "";
	FILE *f;
	lsm_record_reader *r = NULL;
	uint64_t number, edits = 0;
	int rc;

	snprintf(path, sizeof path, "%s/CURRENT", data);
	f = fopen(path, "r");
	if (!f) {
		printf("missing %s (an empty or new data directory)\n", path);
		return;
	}
	if (!fgets(name, sizeof name, f))
		name[0] = '\0';
	fclose(f);
	name[strcspn(name, "\n")] = '\0';
	snprintf(path, sizeof path, "%s/%s", data, name);
	rc = lsm_record_reader_open(&r, path, LSM_MANIFEST_MAGIC, LSM_MANIFEST_VERSION, &number);
	while (rc == 0) {
		uint8_t type;
		const uint8_t *payload;
		size_t len;
		lsm_version_edit edit;

		rc = lsm_record_reader_next(r, &type, &payload, &len);
		if (rc <= 0)
			break;
		lsm_version_edit_init(&edit);
		rc = lsm_version_edit_decode(&edit, payload, len);
		lsm_version_edit_deinit(&edit);
		edits++;
	}
	if (r)
		lsm_record_reader_close(r);
	snprintf(name, sizeof name, "%llu edits", (unsigned long long)edits);
	report(t, path, rc, name);
}

/*
 * The catalog log: every record's checksum. Damage is reported as such,
 * also a torn last record left by a crash during a catalog append: the next
 * start trims that one (the change was never acknowledged).
 */
static void check_catalog(check_totals *t, const char *data)
{
	char path[4096], detail[64];
	lsm_record_reader *r = NULL;
	uint64_t number, records = 0;
	int rc;

	snprintf(path, sizeof path, "%s/%s", data, LSM_CATALOG_FILE);
	if (access(path, F_OK) != 0)
		return;
	rc = lsm_record_reader_open(&r, path, LSM_CATALOG_MAGIC, LSM_CATALOG_VERSION, &number);
	while (rc == 0) {
		uint8_t type;
		const uint8_t *payload;
		size_t len;

		rc = lsm_record_reader_next(r, &type, &payload, &len);
		if (rc <= 0)
			break;
		records++;
		rc = 0;
	}
	if (r)
		lsm_record_reader_close(r);
	snprintf(detail, sizeof detail, "%llu records", (unsigned long long)records);
	report(t, path, rc, detail);
}

static void check_wal(check_totals *t, const char *data)
{
	char dir[4096], path[4096], detail[128];
	uint64_t *nums;
	size_t n;

	snprintf(dir, sizeof dir, "%s/wal", data);
	n = list_numbered(dir, ".wal", &nums);
	for (size_t i = 0; i < n; i++) {
		lsm_wal_replay_result res;
		int rc;

		lsm_wal_path(path, sizeof path, data, nums[i]);
		rc = lsm_wal_replay(path, i + 1 == n, NULL, NULL, &res);
		if (rc == 0 && res.torn)
			snprintf(detail, sizeof detail, "%llu batches, torn tail at offset %llu (%llu bytes, trimmed at the next start)",
				 (unsigned long long)res.n_batches, (unsigned long long)res.valid_bytes,
				 (unsigned long long)(res.file_bytes - res.valid_bytes));
		else
			snprintf(detail, sizeof detail, "%llu batches", (unsigned long long)res.n_batches);
		report(t, path, rc, detail);
	}
	strata_free(nums);
}

static void show_progress(void *ctx, uint64_t done, uint64_t total)
{
	if (total >= (64u << 20) && isatty(STDERR_FILENO))
		fprintf(stderr, "\r  %s %3.0f%%", (const char *)ctx, total ? 100.0 * (double)done / (double)total : 100.0);
}

static void check_tables(check_totals *t, const char *data)
{
	char dir[4096], path[4096], detail[128];
	uint64_t *nums;
	size_t n;

	snprintf(dir, sizeof dir, "%s/sst", data);
	n = list_numbered(dir, ".sst", &nums);
	for (size_t i = 0; i < n; i++) {
		lsm_sst *s = NULL;
		int rc;

		lsm_sst_path(path, sizeof path, data, nums[i]);
		rc = lsm_sst_open(&s, path, nums[i], NULL);
		if (rc == 0)
			rc = lsm_sst_verify(s, show_progress, path);
		if (rc == 0) {
			const lsm_sst_props *p = lsm_sst_get_props(s);

			snprintf(detail, sizeof detail, "%llu entries, %llu blocks, window %lld",
				 (unsigned long long)p->n_entries, (unsigned long long)p->n_data_blocks,
				 (long long)p->window);
		}
		if (s)
			lsm_sst_unref(s);
		report(t, path, rc, rc ? "" : detail);
	}
	strata_free(nums);
}

int cli_check(int argc, char **argv)
{
	const char *data = "./strata-data";
	check_totals t = { 0 };
	int lock;

	for (int i = 1; i < argc; i++) {
		const char *v;

		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			puts("usage: strata check [--data DIR]\n"
			     "Verifies the checksums of the manifest, every WAL segment and every table.\n"
			     "Exit status: 0 all whole, 1 damage found or the directory cannot be read, 2 usage.");
			return 0;
		} else if (cli_option(argc, argv, &i, "--data", &v)) {
			data = v;
		} else {
			fprintf(stderr, "strata check: unknown option '%s'\n", argv[i]);
			return 2;
		}
	}
	if (access(data, F_OK) != 0) {
		fprintf(stderr, "strata check: data directory %s does not exist\n", data);
		return 1;
	}
	lock = lsm_lockfile_acquire(data);
	if (lock < 0) {
		cli_fail("check", lock);
		return 1;
	}
	check_manifest(&t, data);
	check_catalog(&t, data);
	check_wal(&t, data);
	check_tables(&t, data);
	lsm_lockfile_release(lock);
	printf("%u files checked, %u damaged\n", t.files, t.damaged);
	return t.damaged ? 1 : 0;
}
