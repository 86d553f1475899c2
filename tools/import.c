/*
 * import.c — `strata import`: bulk-loads a line protocol file (or stdin,
 * plain or gzip) straight into a data directory, with a progress bar.
 *
 * The file is read in chunks cut at line ends and written through the same
 * ingest path as the server (one session), without a sync per chunk: the
 * engine's close at the end flushes everything to tables. Bad lines are
 * reported (the first ones in full) and counted; they never stop the import.
 *
 * A line `# CONTEXT-RETENTION-POLICY: rp`, as `strata export` and
 * InfluxDB's export write them, sends the lines after it to policy rp of
 * the database (which must exist); other comment lines, CONTEXT-DATABASE
 * included, are skipped (--db names the database).
 */
#include "tools/cli.h"
#include "tools/store.h"
#include "ingest/writer.h"
#include "lsm/alloc.h"
#include "lsm/catalog.h"
#include "lsm/status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define CHUNK_BYTES (4u << 20)
#define ERRORS_SHOWN 20

static const char CONTEXT_RP[] = "# CONTEXT-RETENTION-POLICY:";

/* Where the lines of one import go, and what they did. */
typedef struct import_run {
	ingest_session *session;
	const char *db;
	char rp[LSM_CATALOG_NAME_MAX + 1]; /* "": the default policy */
	enum ingest_lp_precision precision;
	uint64_t line, points, rejected;
	bool tty;
} import_run;

typedef struct progress {
	uint64_t start_ns, last_ns;
	uint64_t total_bytes; /* of the input file as stored, 0 if unknown */
	bool tty;
} progress;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void show_progress(progress *p, uint64_t read_bytes, uint64_t points, bool last)
{
	uint64_t t = now_ns();
	double secs = (double)(t - p->start_ns) / 1e9, rate = secs > 0 ? (double)points / secs : 0;
	char eta[32] = "";

	if (!last && t - p->last_ns < (p->tty ? 250000000u : 5000000000u))
		return;
	p->last_ns = t;
	if (p->total_bytes && read_bytes && !last) {
		double left = secs * ((double)p->total_bytes / (double)read_bytes - 1);

		snprintf(eta, sizeof eta, "  ETA %d:%02d", (int)left / 60, (int)left % 60);
	}
	if (p->total_bytes)
		fprintf(stderr, "%s%7.1f / %.1f MB %3.0f%%  %llu points  %.0f points/s%s%s", p->tty ? "\r" : "",
			(double)read_bytes / 1e6, (double)p->total_bytes / 1e6,
			100.0 * (double)read_bytes / (double)p->total_bytes, (unsigned long long)points, rate, eta,
			p->tty && !last ? "   " : "\n");
	else
		fprintf(stderr, "%s%7.1f MB  %llu points  %.0f points/s%s", p->tty ? "\r" : "",
			(double)read_bytes / 1e6, (unsigned long long)points, rate, p->tty && !last ? "   " : "\n");
}

/* The offset of the first line of p[0..len) that names a policy, or len. */
static size_t next_context(const char *p, size_t len)
{
	size_t off = 0;

	while (off < len) {
		const char *hit = memmem(p + off, len - off, CONTEXT_RP, sizeof CONTEXT_RP - 1);

		if (!hit)
			break;
		if (hit == p || hit[-1] == '\n')
			return (size_t)(hit - p);
		off = (size_t)(hit - p) + 1;
	}
	return len;
}

/* Writes whole lines p[0..len) to the current policy. 0, or the engine's error (the import stops). */
static int write_span(import_run *r, const char *p, size_t len)
{
	ingest_report report;
	int rc = ingest_session_write_lines(r->session, r->db, r->rp, p, len, r->precision, ingest_now_ns(), false,
					    r->line, &report);

	if (rc)
		return rc;
	if (report.lines_rejected) {
		if (r->rejected < ERRORS_SHOWN)
			fprintf(stderr, "%s%.*s\n", r->tty ? "\r" : "", (int)report.errors_len, report.errors);
		r->rejected += report.lines_rejected;
	}
	r->points += report.points;
	for (size_t i = 0; i < len; i++)
		r->line += p[i] == '\n';
	return 0;
}

/* Writes the whole lines p[0..len), switching policy at each CONTEXT-RETENTION-POLICY line. */
static int write_lines(import_run *r, const char *p, size_t len)
{
	size_t off = 0;

	while (off < len) {
		size_t ctx = off + next_context(p + off, len - off), end, name, name_len;
		const char *nl;
		int rc = 0;

		if (ctx > off)
			rc = write_span(r, p + off, ctx - off);
		if (rc || ctx == len)
			return rc;
		nl = memchr(p + ctx, '\n', len - ctx);
		end = nl ? (size_t)(nl - p) : len;
		name = ctx + sizeof CONTEXT_RP - 1;
		while (name < end && p[name] == ' ')
			name++;
		name_len = end - name;
		while (name_len && (p[name + name_len - 1] == ' ' || p[name + name_len - 1] == '\r'))
			name_len--;
		if (name_len == 0 || name_len > LSM_CATALOG_NAME_MAX)
			return strata_error(STRATA_EINVAL, "line %llu: a CONTEXT-RETENTION-POLICY line needs a policy name "
					    "of 1 to %d bytes", (unsigned long long)r->line, LSM_CATALOG_NAME_MAX);
		memcpy(r->rp, p + name, name_len);
		r->rp[name_len] = '\0';
		r->line++;
		off = nl ? end + 1 : len;
	}
	return 0;
}

static void import_usage(FILE *f)
{
	fputs("usage: strata import [--data DIR] [--db NAME] [--rp NAME] [--precision P] FILE|-\n"
	      "  --data DIR       data directory (default ./strata-data); the server must not be running on it\n"
	      "  --db NAME        database to write to, created if missing (default strata)\n"
	      "  --rp NAME        its retention policy to write to (default: the default policy); a line\n"
	      "                   '# CONTEXT-RETENTION-POLICY: NAME' (strata export writes them) switches policy\n"
	      "  --precision P    timestamp unit of the file: ns, u, ms, s, m, h (default ns)\n"
	      "FILE may be gzip-compressed; - reads standard input.\n"
	      "Exit status: 0 all lines imported, 1 some lines rejected or the import failed, 2 usage.\n",
	      f);
}

int cli_import(int argc, char **argv)
{
	const char *data = "./strata-data", *dbname = "strata", *path = NULL, *prec = "ns", *rp = "";
	import_run run = { 0 };
	cli_store store = { 0 };
	ingest_options iopt;
	ingest_engine engine;
	lsm_options opt;
	progress prog = { 0 };
	gzFile in = NULL;
	char *buf = NULL;
	size_t carry = 0;
	bool skipping = false; /* inside a line too long to hold */
	uint64_t read_bytes = 0;
	int fd, rc, exit_code = 1;

	for (int i = 1; i < argc; i++) {
		const char *v;

		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			import_usage(stdout);
			return 0;
		} else if (cli_option(argc, argv, &i, "--data", &v)) {
			data = v;
		} else if (cli_option(argc, argv, &i, "--db", &v)) {
			dbname = v;
		} else if (cli_option(argc, argv, &i, "--rp", &v)) {
			rp = v;
		} else if (cli_option(argc, argv, &i, "--precision", &v)) {
			prec = v;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "strata import: unknown option '%s'\n", argv[i]);
			import_usage(stderr);
			return 2;
		} else if (!path) {
			path = argv[i];
		} else {
			import_usage(stderr);
			return 2;
		}
	}
	if (!path) {
		import_usage(stderr);
		return 2;
	}
	if (strlen(rp) > LSM_CATALOG_NAME_MAX) {
		fprintf(stderr, "strata import: --rp takes a name of at most %d bytes\n", LSM_CATALOG_NAME_MAX);
		return 2;
	}
	if (ingest_lp_parse_precision(prec, &run.precision) != 0) {
		fprintf(stderr, "strata import: bad precision '%s' (ns, u, ms, s, m, h)\n", prec);
		return 2;
	}
	fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "strata import: cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	{
		struct stat st;

		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
			prog.total_bytes = (uint64_t)st.st_size;
	}
	in = gzdopen(fd, "rb"); /* reads plain files as they are, gzip ones decoded */
	buf = strata_malloc(CHUNK_BYTES + 1);
	if (!in || !buf) {
		fprintf(stderr, "strata import: out of memory\n");
		if (!in)
			close(fd);
		goto out;
	}
	gzbuffer(in, 1u << 20);

	cli_store_options(&opt);
	if (cli_store_open(&store, data, &opt, "cannot open the data directory") != 0)
		goto out;
	rc = lsm_catalog_create_database(store.catalog, dbname);
	if (rc) {
		cli_fail("cannot create the database", rc);
		goto out;
	}
	ingest_options_default(&iopt);
	ingest_engine_init(&engine, store.db, store.catalog, &iopt);
	rc = ingest_session_new(&run.session, &engine);
	if (rc) {
		cli_fail("import", rc);
		goto out;
	}

	prog.tty = isatty(STDERR_FILENO);
	run.db = dbname;
	memcpy(run.rp, rp, strlen(rp) + 1);
	run.line = 1;
	run.tty = prog.tty;
	prog.start_ns = now_ns();
	for (;;) {
		int n = gzread(in, buf + carry, (unsigned)(CHUNK_BYTES - carry));
		size_t have, cut;

		if (n < 0) {
			int zerr;

			fprintf(stderr, "\nstrata import: cannot read %s: %s\n", path, gzerror(in, &zerr));
			goto out;
		}
		have = carry + (size_t)n;
		if (have == 0)
			break;
		if (skipping) {
			/* The rest of a line longer than the buffer: drop it up to its end. */
			char *nl = memchr(buf, '\n', have);
			size_t drop = nl ? (size_t)(nl - buf) + 1 : have;

			for (size_t i = 0; i < drop; i++)
				run.line += buf[i] == '\n';
			skipping = nl == NULL;
			memmove(buf, buf + drop, have - drop);
			have -= drop;
			carry = have;
			if (have == 0)
				continue;
		}
		/* Cut after the last newline; at the end of the input, take everything. */
		cut = have;
		if (n > 0) {
			char *nl = memrchr(buf, '\n', have);

			cut = nl ? (size_t)(nl - buf) + 1 : 0;
			if (!nl && have == CHUNK_BYTES) {
				/* One line fills the whole buffer: far past any line limit. */
				if (run.rejected < ERRORS_SHOWN)
					fprintf(stderr, "%sline %llu: line longer than %u bytes, skipped\n",
						prog.tty ? "\r" : "", (unsigned long long)run.line, CHUNK_BYTES);
				run.rejected++;
				skipping = true;
				carry = 0;
				continue;
			}
		}
		if (cut > 0) {
			rc = write_lines(&run, buf, cut);
			if (rc) {
				fprintf(stderr, "\n");
				cli_fail("import failed", rc);
				if (rc == STRATA_ENOTFOUND && run.rp[0])
					fprintf(stderr, "strata import: create the policy first, e.g. strata query --data %s "
						"'CREATE RETENTION POLICY \"%s\" ON \"%s\" DURATION INF REPLICATION 1'\n",
						data, run.rp, dbname);
				goto out;
			}
		}
		carry = have - cut;
		memmove(buf, buf + cut, carry);
		read_bytes = prog.total_bytes ? (uint64_t)gzoffset(in) : read_bytes + (uint64_t)n;
		show_progress(&prog, read_bytes, run.points, false);
		if (n == 0 && carry == 0)
			break;
	}
	show_progress(&prog, prog.total_bytes ? prog.total_bytes : read_bytes, run.points, true);
	fprintf(stderr, "imported %llu points into database %s; %llu lines rejected\n", (unsigned long long)run.points,
		dbname, (unsigned long long)run.rejected);
	exit_code = run.rejected ? 1 : 0;
out:
	ingest_session_free(run.session);
	if (store.db && cli_store_close(&store) != 0) {
		cli_fail("closing the data directory", -EIO);
		exit_code = 1;
	}
	if (in)
		gzclose(in);
	strata_free(buf);
	return exit_code;
}
