/*
 * import.c — `strata import`: bulk-loads a line protocol file (or stdin,
 * plain or gzip) straight into a data directory, with a progress bar.
 *
 * The file is read in chunks cut at line ends and written through the same
 * ingest path as the server (one session), without a sync per chunk: the
 * engine's close at the end flushes everything to tables. Bad lines are
 * reported (the first ones in full) and counted; they never stop the import.
 */
#include "tools/cli.h"
#include "tools/store.h"
#include "ingest/writer.h"
#include "lsm/alloc.h"

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

static void import_usage(FILE *f)
{
	fputs("usage: strata import [--data DIR] [--db NAME] [--precision P] FILE|-\n"
	      "  --data DIR       data directory (default ./strata-data); the server must not be running on it\n"
	      "  --db NAME        database to write to, created if missing (default strata)\n"
	      "  --precision P    timestamp unit of the file: ns, u, ms, s, m, h (default ns)\n"
	      "FILE may be gzip-compressed; - reads standard input.\n"
	      "Exit status: 0 all lines imported, 1 some lines rejected or the import failed, 2 usage.\n",
	      f);
}

int cli_import(int argc, char **argv)
{
	const char *data = "./strata-data", *dbname = "strata", *path = NULL, *prec = "ns";
	enum ingest_lp_precision precision;
	cli_store store = { 0 };
	ingest_options iopt;
	ingest_engine engine;
	ingest_session *session = NULL;
	lsm_options opt;
	progress prog = { 0 };
	gzFile in = NULL;
	char *buf = NULL;
	size_t carry = 0;
	bool skipping = false; /* inside a line too long to hold */
	uint64_t line = 1, points = 0, rejected = 0, read_bytes = 0;
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
	if (ingest_lp_parse_precision(prec, &precision) != 0) {
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
	rc = ingest_session_new(&session, &engine);
	if (rc) {
		cli_fail("import", rc);
		goto out;
	}

	prog.tty = isatty(STDERR_FILENO);
	prog.start_ns = now_ns();
	for (;;) {
		int n = gzread(in, buf + carry, (unsigned)(CHUNK_BYTES - carry));
		size_t have, cut;
		ingest_report report;

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
				line += buf[i] == '\n';
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
				if (rejected < ERRORS_SHOWN)
					fprintf(stderr, "%sline %llu: line longer than %u bytes, skipped\n",
						prog.tty ? "\r" : "", (unsigned long long)line, CHUNK_BYTES);
				rejected++;
				skipping = true;
				carry = 0;
				continue;
			}
		}
		if (cut > 0) {
			rc = ingest_session_write_lines(session, dbname, buf, cut, precision, ingest_now_ns(), false,
							line, &report);
			if (rc) {
				fprintf(stderr, "\n");
				cli_fail("import failed", rc);
				goto out;
			}
			if (report.lines_rejected) {
				if (rejected < ERRORS_SHOWN)
					fprintf(stderr, "%s%.*s\n", prog.tty ? "\r" : "", (int)report.errors_len, report.errors);
				rejected += report.lines_rejected;
			}
			points += report.points;
			for (size_t i = 0; i < cut; i++)
				line += buf[i] == '\n';
		}
		carry = have - cut;
		memmove(buf, buf + cut, carry);
		read_bytes = prog.total_bytes ? (uint64_t)gzoffset(in) : read_bytes + (uint64_t)n;
		show_progress(&prog, read_bytes, points, false);
		if (n == 0 && carry == 0)
			break;
	}
	show_progress(&prog, prog.total_bytes ? prog.total_bytes : read_bytes, points, true);
	fprintf(stderr, "imported %llu points into database %s; %llu lines rejected\n", (unsigned long long)points,
		dbname, (unsigned long long)rejected);
	exit_code = rejected ? 1 : 0;
out:
	ingest_session_free(session);
	if (store.db && cli_store_close(&store) != 0) {
		cli_fail("closing the data directory", -EIO);
		exit_code = 1;
	}
	if (in)
		gzclose(in);
	strata_free(buf);
	return exit_code;
}
