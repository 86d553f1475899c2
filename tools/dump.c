/*
 * dump.c — `strata dump wal|sst|manifest FILE`: one file, human-readable,
 * one record (or entry) per line with its offset. A damaged record is shown
 * as such and the walk goes on where it can (for a manifest: at the next
 * intact record), so a dump describes a damaged file rather than stopping
 * at the first bad byte. Exit 1 when the file is damaged.
 */
#include "tools/cli.h"
#include "tools/store.h"
#include "lsm/record.h"
#include "lsm/coding.h"
#include "lsm/sstable.h"
#include "lsm/version.h"
#include "lsm/wal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void dump_usage(FILE *f)
{
	fputs("usage: strata dump wal|sst|manifest FILE\n"
	      "  wal FILE        one line per record: offset, type, length, checksum, batch sequence and count\n"
	      "  sst FILE        footer, properties, blocks and every entry with its offset\n"
	      "  manifest FILE   one line per record (a MANIFEST-<n> file): offset, type, length, checksum,\n"
	      "                  the edit's counters; then one indented line per table it adds or deletes\n"
	      "Exit status: 0 the file is whole, 1 it is damaged or cannot be read, 2 usage.\n",
	      f);
}

static void print_key(FILE *f, const uint8_t *ikey)
{
	fprintf(f, "%" PRIu64 "/%" PRId64, lsm_ukey_series(ikey), lsm_ukey_ts(ikey));
}

static void print_added(FILE *f, uint64_t number, const lsm_sst_props *p)
{
	char lo[48], hi[48];

	cli_format_time(lo, sizeof lo, p->min_ts);
	cli_format_time(hi, sizeof hi, p->max_ts);
	fprintf(f, "  add    file=%06" PRIu64 " window=%" PRId64 " window_ns=%" PRId64 " time=%s..%s seq=%" PRIu64
		"..%" PRIu64 " entries=%" PRIu64 " series=%" PRIu64 " blocks=%" PRIu64 " bytes=%" PRIu64 " keys=",
		number, p->window, p->window_ns, lo, hi, p->min_seq, p->max_seq, p->n_entries, p->n_series, p->n_data_blocks,
		p->file_bytes);
	print_key(f, p->smallest);
	fputs("..", f);
	print_key(f, p->largest);
	fputc('\n', f);
}

static void print_edit(FILE *f, const lsm_version_edit *e)
{
	if (e->has_log_number)
		fprintf(f, " log_number=%" PRIu64, e->log_number);
	if (e->has_next_file)
		fprintf(f, " next_file=%" PRIu64, e->next_file);
	if (e->has_last_seq)
		fprintf(f, " last_seq=%" PRIu64, e->last_seq);
	fprintf(f, " added=%zu deleted=%zu\n", e->n_added, e->n_deleted);
	for (size_t i = 0; i < e->n_added; i++)
		print_added(f, e->added_numbers[i], &e->added_props[i]);
	for (size_t i = 0; i < e->n_deleted; i++)
		fprintf(f, "  delete file=%06" PRIu64 "\n", e->deleted_numbers[i]);
}

static const char *record_type_name(uint8_t type)
{
	switch (type) {
	case LSM_REC_FILE_HEADER: return "file_header";
	case LSM_REC_BATCH: return "batch";
	case LSM_REC_VERSION_EDIT: return "version_edit";
	default: return "unknown";
	}
}

/* Walks a manifest record by record; returns the number of damaged places. */
static int dump_manifest(const char *path, FILE *f, uint64_t *n_damaged)
{
	lsm_version_edit e;
	cli_manifest state;
	cli_record rec;
	cli_map map;
	uint64_t pos = 0, n_records = 0;
	int rc;

	*n_damaged = 0;
	rc = cli_map_open(&map, path);
	if (rc)
		return rc;
	lsm_version_edit_init(&e);
	fprintf(f, "# %s: %" PRIu64 " bytes\n", path, map.size);
	while (pos < map.size) {
		uint64_t at = pos;

		rc = cli_record_next(&map, path, &pos, &rec);
		if (rc == 0) {
			if (pos < map.size)
				fprintf(f, "offset=%" PRIu64 " end: zero record header (%" PRIu64 " zero bytes after it)\n",
					pos, map.size - pos - 16);
			break;
		}
		if (rc < 0) {
			uint64_t next = cli_record_find(&map, at + 1, CLI_TYPES_LOG);

			(*n_damaged)++;
			fprintf(f, "offset=%" PRIu64 " damaged: %s\n", at, strata_last_error());
			if (next == map.size) {
				fprintf(f, "offset=%" PRIu64 " end: no intact record after the damage (%" PRIu64
					" bytes: a torn tail if it is the last thing written)\n", at, map.size - at);
				break;
			}
			fprintf(f, "offset=%" PRIu64 " resync: %" PRIu64 " bytes skipped to the next intact record\n",
				next, next - at);
			pos = next;
			continue;
		}
		n_records++;
		fprintf(f, "offset=%" PRIu64 " type=%s(%u) len=%" PRIu32 " checksum=ok", at,
			record_type_name(rec.type), rec.type, rec.len);
		if (rec.type == LSM_REC_FILE_HEADER && rec.len == LSM_FILE_HEADER_PAYLOAD_LEN) {
			fprintf(f, " magic=%.8s version=%" PRIu32 " number=%" PRIu64 "\n", (const char *)rec.payload,
				lsm_get_le32(rec.payload + 8), lsm_get_le64(rec.payload + 12));
		} else if (rec.type == LSM_REC_VERSION_EDIT) {
			if (lsm_version_edit_decode(&e, rec.payload, rec.len) == 0) {
				print_edit(f, &e);
			} else {
				(*n_damaged)++;
				fprintf(f, " damaged: %s\n", strata_last_error());
			}
		} else {
			(*n_damaged)++;
			fprintf(f, " damaged: a record of this type does not belong in a manifest\n");
		}
	}
	lsm_version_edit_deinit(&e);
	cli_map_close(&map);

	/* What recovery would make of it (the same rules, in store.c). */
	rc = cli_manifest_load(&state, path);
	if (rc)
		return rc;
	fprintf(f, "# %" PRIu64 " records, %" PRIu64 " damaged; replayed: %" PRIu64 " edits, %zu live tables, "
		"log_number=%" PRIu64 " next_file=%" PRIu64 " last_seq=%" PRIu64 "\n", n_records, *n_damaged,
		state.n_edits, state.n_tables, state.log_number, state.next_file, state.last_seq);
	if (state.damage && state.torn)
		fprintf(f, "# replay stops at offset %" PRIu64 ": a torn tail (an edit never acknowledged), "
			"ignored by recovery\n", state.valid_bytes);
	else if (state.damage)
		fprintf(f, "# replay stops at offset %" PRIu64 ": %s; the engine refuses this manifest "
			"(strata check --repair rewrites it from what is valid)\n", state.valid_bytes, state.why);
	if (state.damage && *n_damaged == 0)
		(*n_damaged)++; /* whole records whose edits break the rules (a file added twice...) */
	cli_manifest_free(&state);
	return 0;
}

int cli_dump(int argc, char **argv)
{
	uint64_t n_damaged = 0;
	int rc;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		dump_usage(stdout);
		return 0;
	}
	if (argc != 3) {
		dump_usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "wal") == 0) {
		rc = lsm_wal_dump(argv[2], stdout);
	} else if (strcmp(argv[1], "sst") == 0) {
		rc = lsm_sst_dump(argv[2], true, stdout);
	} else if (strcmp(argv[1], "manifest") == 0) {
		rc = dump_manifest(argv[2], stdout, &n_damaged);
		if (rc == 0 && n_damaged)
			rc = strata_error(STRATA_ECORRUPT, "%s: %" PRIu64 " damaged record(s)", argv[2], n_damaged);
	} else {
		fprintf(stderr, "strata dump: unknown file kind '%s' (wal, sst or manifest)\n", argv[1]);
		dump_usage(stderr);
		return 2;
	}
	fflush(stdout);
	if (rc) {
		cli_fail("dump", rc);
		return 1;
	}
	return 0;
}
