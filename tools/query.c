/*
 * query.c — `strata query`: runs InfluxQL against a data directory and
 * writes the results to standard output, as a table (the influx CLI's
 * column layout), CSV or JSON (query/output.h).
 *
 * It opens the directory itself, so it takes the directory's LOCK: while a
 * server runs on the directory it fails, naming the holder; ask the server
 * over HTTP (/query) instead.
 */
#include "tools/cli.h"
#include "tools/query_writer.h"
#include "tools/store.h"
#include "lsm/alloc.h"
#include "lsm/log.h"
#include "lsm/status.h"
#include "query/cq.h"
#include "query/exec.h"
#include "query/output.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longer query texts are refused by the parser anyway (parser.h). */
#define QUERY_TEXT_MAX ((size_t)1 << 20)

static void query_usage(FILE *f)
{
	fputs("usage: strata query [--data DIR] [--db NAME] [--rp NAME] [--format table|csv|json]\n"
	      "                    [--epoch E] [--pretty] 'INFLUXQL'\n"
	      "Runs one or more InfluxQL statements (separated by ';') against the data directory\n"
	      "and writes the results to standard output. 'INFLUXQL' may be - to read it from\n"
	      "standard input.\n"
	      "  --data DIR       data directory (default ./strata-data)\n"
	      "  --db NAME        database of statements that name none (as /query?db=)\n"
	      "  --rp NAME        retention policy of statements that name none (as /query?rp=)\n"
	      "  --format F       table (default; the influx CLI's layout), csv or json (as /query)\n"
	      "  --epoch E        times as integers in ns, u, ms, s, m or h (default: RFC3339 in\n"
	      "                   table and JSON, nanoseconds in CSV)\n"
	      "  --pretty         indented JSON\n"
	      "The directory is locked while strata serve runs on it: then this command fails;\n"
	      "query the server over HTTP instead (curl 'http://127.0.0.1:8086/query' --data-urlencode 'q=...').\n"
	      "Exit status: 0, 1 when a statement or the query failed, 2 for a usage error.\n",
	      f);
}

static int stdout_write(void *ctx, const char *p, size_t n)
{
	(void)ctx;
	if (fwrite(p, 1, n, stdout) != n)
		return strata_error(-EIO, "cannot write the output");
	return 0;
}

/* Reads all of standard input into *out (NUL-terminated); 0, STRATA_ETOOBIG or -ENOMEM. */
static int read_stdin(char **out, size_t *out_len)
{
	size_t len = 0, cap = 65536;
	char *buf = strata_malloc(cap + 1);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		size_t n = fread(buf + len, 1, cap - len, stdin);

		len += n;
		if (n == 0)
			break;
		if (len == cap) {
			char *grown;

			if (cap > QUERY_TEXT_MAX) {
				strata_free(buf);
				return strata_error(STRATA_ETOOBIG, "the query text is longer than %zu bytes",
						    QUERY_TEXT_MAX);
			}
			grown = strata_realloc(buf, 2 * cap + 1);
			if (!grown) {
				strata_free(buf);
				return -ENOMEM;
			}
			buf = grown;
			cap *= 2;
		}
	}
	if (ferror(stdin)) {
		strata_free(buf);
		return strata_error(-EIO, "cannot read the query from standard input");
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

static int parse_epoch(const char *v, enum query_output_epoch *out)
{
	static const char *const names[] = { "ns", "u", "ms", "s", "m", "h" };

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(v, names[i]) == 0) {
			*out = query_output_epoch_parse(v);
			return 0;
		}
	}
	return -1;
}

int cli_query(int argc, char **argv)
{
	const char *data = "./strata-data", *db = NULL, *rp = NULL, *text = NULL;
	enum query_output_format format = QUERY_OUTPUT_TABLE;
	enum query_output_epoch epoch = QUERY_EPOCH_RFC3339;
	bool pretty = false;
	char *input = NULL;
	size_t text_len = 0;
	query_output *o = NULL;
	query_engine *qe = NULL;
	ingest_engine ingest;
	query_cq_store *cqs = NULL;
	query_request req = { 0 };
	cli_store store = { 0 };
	lsm_options opt;
	int rc, exit_code = 1;

	for (int i = 1; i < argc; i++) {
		const char *v;

		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			query_usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--pretty") == 0) {
			pretty = true;
		} else if (cli_option(argc, argv, &i, "--data", &v)) {
			data = v;
		} else if (cli_option(argc, argv, &i, "--db", &v)) {
			db = v;
		} else if (cli_option(argc, argv, &i, "--rp", &v)) {
			rp = v;
		} else if (cli_option(argc, argv, &i, "--format", &v)) {
			if (strcmp(v, "table") == 0) {
				format = QUERY_OUTPUT_TABLE;
			} else if (strcmp(v, "csv") == 0) {
				format = QUERY_OUTPUT_CSV;
			} else if (strcmp(v, "json") == 0) {
				format = QUERY_OUTPUT_JSON;
			} else {
				fprintf(stderr, "strata query: --format takes table, csv or json\n");
				return 2;
			}
		} else if (cli_option(argc, argv, &i, "--epoch", &v)) {
			if (parse_epoch(v, &epoch) != 0) {
				fprintf(stderr, "strata query: --epoch takes ns, u, ms, s, m or h\n");
				return 2;
			}
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "strata query: unknown option '%s'\n", argv[i]);
			query_usage(stderr);
			return 2;
		} else if (text) {
			fprintf(stderr, "strata query: one query text only (separate statements with ';')\n");
			return 2;
		} else {
			text = argv[i];
		}
	}
	if (!text) {
		fprintf(stderr, "strata query: no query given\n");
		query_usage(stderr);
		return 2;
	}
	if (strcmp(text, "-") == 0) {
		rc = read_stdin(&input, &text_len);
		if (rc) {
			cli_fail("query", rc);
			return 1;
		}
		text = input;
	} else {
		text_len = strlen(text);
	}

	/* the results are the output: the engine's routine log lines would only clutter it */
	strata_log_set_level(STRATA_LOG_WARN);
	cli_store_options(&opt);
	opt.compact.disable = true; /* a short read: no background merging */
	if (cli_store_open(&store, data, &opt, "cannot open the data directory") != 0)
		goto out;
	rc = query_engine_new(&qe, store.db, store.catalog, NULL);
	if (rc == 0) {
		ingest_options iopt;

		ingest_options_default(&iopt);
		ingest_engine_init(&ingest, store.db, store.catalog, &iopt);
		query_engine_set_writer(qe, query_writer_write, &ingest); /* SELECT ... INTO */
		rc = query_cq_open(&cqs, data);
		if (rc == 0)
			query_engine_set_cqs(qe, cqs); /* CREATE / DROP / SHOW CONTINUOUS QUERIES */
	}
	if (rc == 0)
		rc = query_output_new(&o, format, epoch, stdout_write, NULL);
	if (rc == 0)
		rc = query_output_set_pretty(o, pretty);
	if (rc) {
		cli_fail("query", rc);
		goto out;
	}
	req.db = db;
	req.rp = rp;
	rc = query_run(qe, text, text_len, &req, o);
	if ((fflush(stdout) != 0 || ferror(stdout)) && rc == 0)
		rc = strata_error(-EIO, "cannot write the output");
	if (rc == 0 && query_output_error_count(o) == 0)
		exit_code = 0;
	else if (rc && !((rc == STRATA_EINVAL || rc == STRATA_ETOOBIG) && query_output_error_count(o) > 0))
		cli_fail("query", rc); /* a parse error is in the output already */
out:
	query_output_free(o);
	query_engine_free(qe);
	query_cq_close(cqs);
	if (store.db) {
		rc = cli_store_close(&store);
		if (rc) {
			cli_fail("closing the data directory", rc);
			exit_code = 1;
		}
	}
	strata_free(input);
	return exit_code;
}
