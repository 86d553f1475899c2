/*
 * store.c — opening a data directory, and reading its files without the
 * engine (store.h).
 *
 * The readers here follow the formats of docs/format-manifest.md,
 * docs/format-wal.md and docs/format-catalog.md on their own, rather than
 * through the engine's replay, because their users must go on where the
 * engine stops: check reports every damaged file, repair keeps what is
 * valid around the damage, dump shows a damaged record and what follows.
 * Files are mapped whole: the tools hold the directory's LOCK, so nothing
 * changes them meanwhile.
 */
#include "tools/store.h"
#include "tools/cli.h"
#include "lsm/alloc.h"
#include "lsm/coding.h"
#include "lsm/record.h"
#include "lsm/row.h"
#include "lsm/version.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

void cli_store_options(lsm_options *out)
{
	lsm_options_default(out);
	out->merge = lsm_row_merge;
}

int cli_store_open(cli_store *out, const char *dir, const lsm_options *opt, const char *what)
{
	lsm_options with = *opt;
	int rc;

	out->db = NULL;
	out->catalog = NULL;
	lsm_catalog_windows_attach(&out->windows, NULL);
	with.series_window = lsm_catalog_windows_hook;
	with.series_window_ctx = &out->windows;
	rc = lsm_open(&out->db, dir, &with);
	if (rc) {
		cli_fail(what, rc);
		return rc;
	}
	rc = lsm_catalog_open(&out->catalog, dir);
	if (rc) {
		cli_fail(what, rc);
		lsm_close(out->db);
		out->db = NULL;
		return rc;
	}
	lsm_catalog_windows_attach(&out->windows, out->catalog);
	return 0;
}

int cli_store_close(cli_store *s)
{
	int rc;

	rc = lsm_close(s->db);
	lsm_catalog_windows_attach(&s->windows, NULL);
	if (s->catalog)
		lsm_catalog_close(s->catalog);
	s->db = NULL;
	s->catalog = NULL;
	return rc;
}

/* ---- mapped files and records ---- */

int cli_map_open(cli_map *out, const char *path)
{
	struct stat st;
	void *p;
	int fd;

	out->data = NULL;
	out->size = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return strata_error(-errno, "open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		int rc = strata_error(-errno, "stat %s: %s", path, strerror(errno));

		close(fd);
		return rc;
	}
	if (st.st_size > 0) {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			int rc = strata_error(-errno, "mmap %s: %s", path, strerror(errno));

			close(fd);
			return rc;
		}
		out->data = p;
		out->size = (uint64_t)st.st_size;
	}
	close(fd);
	return 0;
}

void cli_map_close(cli_map *m)
{
	if (m->data)
		munmap((void *)m->data, (size_t)m->size);
	m->data = NULL;
	m->size = 0;
}

/* Whether the 16 bytes at h frame an intact record of an allowed type within the map. */
static bool intact_at(const cli_map *m, uint64_t p, uint32_t types)
{
	const uint8_t *h = m->data + p;
	uint8_t expect[LSM_RECORD_HEADER_LEN];
	uint32_t len;

	if (h[13] | h[14] | h[15] || h[12] >= 32 || !(types & (1u << h[12])))
		return false;
	len = lsm_get_le32(h + 8);
	if (len > LSM_RECORD_MAX || len > m->size - p - LSM_RECORD_HEADER_LEN)
		return false;
	lsm_record_header(expect, (enum lsm_record_type)h[12], h + LSM_RECORD_HEADER_LEN, len);
	return memcmp(expect, h, 8) == 0;
}

uint64_t cli_record_find(const cli_map *m, uint64_t from, uint32_t types)
{
	for (uint64_t p = from; m->size >= LSM_RECORD_HEADER_LEN && p <= m->size - LSM_RECORD_HEADER_LEN; p++)
		if (intact_at(m, p, types))
			return p;
	return m->size;
}

int cli_record_next(const cli_map *m, const char *path, uint64_t *pos, cli_record *out)
{
	static const uint8_t zero[LSM_RECORD_HEADER_LEN];
	uint64_t off = *pos, left = m->size - off;
	uint8_t expect[LSM_RECORD_HEADER_LEN];
	const uint8_t *h;
	uint32_t len;

	if (left == 0)
		return 0;
	if (left < LSM_RECORD_HEADER_LEN)
		return strata_error(STRATA_ECORRUPT, "%s: record header at offset %" PRIu64 " cut short (%" PRIu64
				    " of %d bytes)", path, off, left, LSM_RECORD_HEADER_LEN);
	h = m->data + off;
	if (memcmp(h, zero, sizeof zero) == 0) {
		for (uint64_t i = off + LSM_RECORD_HEADER_LEN; i < m->size; i++)
			if (m->data[i])
				return strata_error(STRATA_ECORRUPT, "%s: zero record header at offset %" PRIu64
						    " followed by data at offset %" PRIu64, path, off, i);
		return 0;
	}
	len = lsm_get_le32(h + 8);
	if (h[13] | h[14] | h[15])
		return strata_error(STRATA_ECORRUPT, "%s: record at offset %" PRIu64 " has non-zero reserved bytes",
				    path, off);
	if (h[12] == 0)
		return strata_error(STRATA_ECORRUPT, "%s: record at offset %" PRIu64 " has type 0", path, off);
	if (len > LSM_RECORD_MAX || len > left - LSM_RECORD_HEADER_LEN)
		return strata_error(STRATA_ECORRUPT, "%s: record at offset %" PRIu64 " of %" PRIu32
				    " bytes runs past the end of the file (%" PRIu64 " bytes left)",
				    path, off, len, left - LSM_RECORD_HEADER_LEN);
	lsm_record_header(expect, (enum lsm_record_type)h[12], h + LSM_RECORD_HEADER_LEN, len);
	if (memcmp(expect, h, 8) != 0)
		return strata_error(STRATA_ECORRUPT, "%s: record at offset %" PRIu64 " (type %u, %" PRIu32
				    " bytes) has a bad checksum", path, off, h[12], len);
	out->off = off;
	out->type = h[12];
	out->payload = h + LSM_RECORD_HEADER_LEN;
	out->len = len;
	*pos = off + LSM_RECORD_HEADER_LEN + len;
	return 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int cli_list_numbered(const char *dir, const char *suffix, uint64_t **out, size_t *n_out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t *nums = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	*n_out = 0;
	if (!d)
		return errno == ENOENT ? 0 : strata_error(-errno, "open %s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long long num;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		num = strtoull(de->d_name, &end, 10);
		if (strcmp(end, suffix) != 0)
			continue;
		if (n == cap) {
			uint64_t *grown;

			cap = cap ? cap * 2 : 64;
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

/* ---- CURRENT ---- */

int cli_current_read(const char *data, uint64_t *out)
{
	char path[4096], text[130], want_sum[17];
	const char *nl1, *nl2;
	uint64_t number = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "%s/CURRENT", data);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? strata_error(STRATA_ENOTFOUND, "%s does not exist", path)
				       : strata_error(-errno, "open %s: %s", path, strerror(errno));
	n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n < 0)
		return strata_error(-errno, "read %s: %s", path, strerror(errno));
	text[n] = '\0';
	if (n > 128)
		return strata_error(STRATA_ECORRUPT, "%s: longer than 128 bytes", path);
	nl1 = memchr(text, '\n', (size_t)n);
	nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(text + n - nl1 - 1)) : NULL;
	if (!nl1 || !nl2 || nl2 + 1 != text + n)
		return strata_error(STRATA_ECORRUPT, "%s: not two lines (%zd bytes)", path, n);
	if (nl1 - text < 10 || memcmp(text, "MANIFEST-", 9) != 0 || nl1 - text > 29)
		return strata_error(STRATA_ECORRUPT, "%s: line 1 does not name a manifest", path);
	for (const char *p = text + 9; p < nl1; p++) {
		if (*p < '0' || *p > '9' || number > (UINT64_MAX - 9) / 10)
			return strata_error(STRATA_ECORRUPT, "%s: line 1 does not name a manifest", path);
		number = number * 10 + (uint64_t)(*p - '0');
	}
	snprintf(want_sum, sizeof want_sum, "%016" PRIx64, (uint64_t)XXH3_64bits(text, (size_t)(nl1 + 1 - text)));
	if (nl2 - nl1 - 1 != 5 + 16 || memcmp(nl1 + 1, "xxh3=", 5) != 0)
		return strata_error(STRATA_ECORRUPT, "%s: line 2 is not a checksum", path);
	if (memcmp(nl1 + 6, want_sum, 16) != 0)
		return strata_error(STRATA_ECORRUPT, "%s: checksum %.16s does not match its first line (%s)", path,
				    nl1 + 6, want_sum);
	*out = number;
	return 0;
}

/* ---- manifests ---- */

void cli_manifest_init(cli_manifest *m)
{
	memset(m, 0, sizeof *m);
}

void cli_manifest_free(cli_manifest *m)
{
	strata_free(m->tables);
	cli_manifest_init(m);
}

static size_t table_slot(const cli_manifest *m, uint64_t number)
{
	size_t lo = 0, hi = m->n_tables;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->tables[mid].number < number)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

cli_table *cli_manifest_find(const cli_manifest *m, uint64_t number)
{
	size_t i = table_slot(m, number);

	return i < m->n_tables && m->tables[i].number == number ? &m->tables[i] : NULL;
}

int cli_manifest_add(cli_manifest *m, uint64_t number, const lsm_sst_props *props)
{
	size_t i = table_slot(m, number);

	if (i < m->n_tables && m->tables[i].number == number)
		return strata_error(STRATA_EINVAL, "file %" PRIu64 " is already live", number);
	if (m->n_tables == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		cli_table *grown = strata_realloc(m->tables, cap * sizeof *grown);

		if (!grown)
			return -ENOMEM;
		m->tables = grown;
		m->cap = cap;
	}
	memmove(m->tables + i + 1, m->tables + i, (m->n_tables - i) * sizeof *m->tables);
	m->tables[i].number = number;
	m->tables[i].props = *props;
	m->n_tables++;
	return 0;
}

int cli_manifest_remove(cli_manifest *m, uint64_t number)
{
	size_t i = table_slot(m, number);

	if (i == m->n_tables || m->tables[i].number != number)
		return strata_error(STRATA_ENOTFOUND, "file %" PRIu64 " is not live", number);
	memmove(m->tables + i, m->tables + i + 1, (m->n_tables - i - 1) * sizeof *m->tables);
	m->n_tables--;
	return 0;
}

/* Applies one decoded edit; STRATA_ECORRUPT (nothing applied) when it breaks the rules. */
static int apply_edit(cli_manifest *m, const lsm_version_edit *e)
{
	int rc;

	for (size_t i = 0; i < e->n_deleted; i++)
		if (!cli_manifest_find(m, e->deleted_numbers[i]))
			return strata_error(STRATA_ECORRUPT, "edit deletes file %" PRIu64 ", which is not live",
					    e->deleted_numbers[i]);
	for (size_t i = 0; i < e->n_added; i++) {
		if (cli_manifest_find(m, e->added_numbers[i]))
			return strata_error(STRATA_ECORRUPT, "edit adds file %" PRIu64 ", which is already live",
					    e->added_numbers[i]);
		for (size_t j = 0; j < i; j++)
			if (e->added_numbers[j] == e->added_numbers[i])
				return strata_error(STRATA_ECORRUPT, "edit adds file %" PRIu64 " twice",
						    e->added_numbers[i]);
	}
	for (size_t i = 0; i < e->n_deleted; i++)
		if (cli_manifest_remove(m, e->deleted_numbers[i]) != 0)
			return strata_error(STRATA_ECORRUPT, "edit deletes file %" PRIu64 " twice",
					    e->deleted_numbers[i]);
	for (size_t i = 0; i < e->n_added; i++) {
		rc = cli_manifest_add(m, e->added_numbers[i], &e->added_props[i]);
		if (rc)
			return rc;
	}
	if (e->has_log_number && e->log_number > m->log_number)
		m->log_number = e->log_number;
	if (e->has_next_file && e->next_file > m->next_file)
		m->next_file = e->next_file;
	if (e->has_last_seq && e->last_seq > m->last_seq)
		m->last_seq = e->last_seq;
	return 0;
}

/* Records the damage that stopped the replay at off, and whether anything intact follows. */
static void note_damage(cli_manifest *out, const cli_map *map, int rc, uint64_t off, bool whole_record)
{
	out->damage = rc;
	out->valid_bytes = off;
	snprintf(out->why, sizeof out->why, "%s", strata_last_error());
	/*
	 * A record whose checksum matched but whose content is wrong is never
	 * a tear; a damaged one is, when nothing intact follows it.
	 */
	out->intact_at = whole_record ? off : cli_record_find(map, off + 1, CLI_TYPES_LOG);
	out->torn = !whole_record && out->intact_at == map->size;
}

int cli_manifest_load(cli_manifest *out, const char *path)
{
	lsm_version_edit e;
	cli_record rec;
	cli_map map;
	uint64_t pos = 0;
	int rc;

	cli_manifest_init(out);
	rc = cli_map_open(&map, path);
	if (rc)
		return rc;
	out->file_bytes = map.size;
	lsm_version_edit_init(&e);
	rc = cli_record_next(&map, path, &pos, &rec);
	if (rc == 1 && (rec.type != LSM_REC_FILE_HEADER || rec.len != LSM_FILE_HEADER_PAYLOAD_LEN ||
			memcmp(rec.payload, LSM_MANIFEST_MAGIC, 8) != 0))
		rc = strata_error(STRATA_ECORRUPT, "%s: offset 0: not a manifest header", path);
	else if (rc == 1 && lsm_get_le32(rec.payload + 8) > LSM_MANIFEST_VERSION)
		rc = strata_error(STRATA_EVERSION, "%s: manifest format version %" PRIu32 " is newer than this "
				  "build reads (%d)", path, lsm_get_le32(rec.payload + 8), LSM_MANIFEST_VERSION);
	else if (rc == 0)
		rc = strata_error(STRATA_ECORRUPT, "%s: empty, no manifest header", path);
	if (rc != 1) {
		note_damage(out, &map, rc, 0, rc == STRATA_EVERSION);
		out->torn = false; /* a manifest without its header is damaged, whatever follows */
		goto out;
	}
	out->number = lsm_get_le64(rec.payload + 12);
	out->valid_bytes = pos;
	for (;;) {
		uint64_t at = pos;

		rc = cli_record_next(&map, path, &pos, &rec);
		if (rc == 0) {
			out->valid_bytes = pos;
			break;
		}
		if (rc < 0) {
			note_damage(out, &map, rc, at, false);
			break;
		}
		if (rec.type != LSM_REC_VERSION_EDIT)
			rc = strata_error(STRATA_ECORRUPT, "%s: offset %" PRIu64 ": record of type %u in a manifest",
					  path, at, rec.type);
		else if ((rc = lsm_version_edit_decode(&e, rec.payload, rec.len)) == 0)
			rc = apply_edit(out, &e);
		if (rc == -ENOMEM)
			goto out;
		if (rc) {
			char msg[400];

			snprintf(msg, sizeof msg, "%s", strata_last_error());
			strata_error(rc, "%s: offset %" PRIu64 ": %s", path, at, msg);
			note_damage(out, &map, rc, at, true);
			break;
		}
		out->n_edits++;
		out->valid_bytes = pos;
	}
	rc = 0;
out:
	lsm_version_edit_deinit(&e);
	cli_map_close(&map);
	return rc;
}

/* ---- formatting, copying ---- */

void cli_format_time(char *out, size_t len, int64_t ts_ns)
{
	int64_t sec = ts_ns / 1000000000, nsec = ts_ns % 1000000000;
	struct tm tm;
	time_t t;

	if (nsec < 0) {
		nsec += 1000000000;
		sec--;
	}
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
		snprintf(out, len, "%" PRId64, ts_ns);
		return;
	}
	if (nsec)
		snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09" PRId64 "Z", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nsec);
	else
		snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void cli_format_bytes(char *out, size_t len, uint64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(out, len, "%" PRIu64 " B", bytes);
		return;
	}
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, len, "%.1f %s", v, units[u]);
}

int cli_copy_file(const char *from, const char *to, void (*progress)(void *ctx, uint64_t bytes), void *ctx)
{
	enum { CHUNK = 1 << 20 };
	uint8_t *buf = strata_malloc(CHUNK);
	uint64_t done = 0;
	int in = -1, out = -1, rc = 0;

	if (!buf)
		return -ENOMEM;
	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		rc = strata_error(-errno, "open %s: %s", from, strerror(errno));
		goto out;
	}
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		rc = strata_error(-errno, "create %s: %s", to, strerror(errno));
		goto out;
	}
	for (;;) {
		ssize_t n = read(in, buf, CHUNK), w = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = strata_error(-errno, "read %s: %s", from, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		while (w < n) {
			ssize_t k = write(out, buf + w, (size_t)(n - w));

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				rc = strata_error(-errno, "write %s: %s", to, strerror(errno));
				goto out;
			}
			w += k;
		}
		done += (uint64_t)n;
		if (progress)
			progress(ctx, done);
	}
	if (fsync(out) != 0)
		rc = strata_error(-errno, "fsync %s: %s", to, strerror(errno));
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	strata_free(buf);
	return rc;
}

int cli_sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return strata_error(-errno, "open %s: %s", path, strerror(errno));
	if (fsync(fd) != 0)
		rc = strata_error(-errno, "fsync %s: %s", path, strerror(errno));
	close(fd);
	return rc;
}

uint64_t cli_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
