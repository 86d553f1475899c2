/*
 * main.c — the strata binary: dispatches to one subcommand.
 */
#include "tools/cli.h"
#include "lsm/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fputs("usage: strata <command> [options]\n"
	      "\n"
	      "commands:\n"
	      "  serve  [--data DIR] [--http ADDR:PORT] [--tcp ADDR:PORT] [--udp ADDR:PORT]\n"
	      "                    run the server (defaults: ./strata-data, 127.0.0.1:8086,\n"
	      "                    TCP and UDP 127.0.0.1:8089)\n"
	      "  import [--data DIR] [--db NAME] [--rp NAME] [--precision P] FILE|-\n"
	      "                    bulk-load line protocol (plain or gzip), with progress\n"
	      "  export [--data DIR] [--db NAME] [--measurement M] [--from NS] [--to NS]\n"
	      "                    write the points out as line protocol\n"
	      "  query  [--data DIR] [--db NAME] [--rp NAME] [--format table|csv|json] [--epoch E] [--pretty] 'INFLUXQL'\n"
	      "                    run InfluxQL on a data directory no server holds\n"
	      "  check  [--data DIR] [--repair]\n"
	      "                    verify every checksum; exit 1 on damage; --repair mends what it can\n"
	      "                    and says what was lost\n"
	      "  dump   wal|sst|manifest FILE\n"
	      "                    print one file, one record per line, with offsets\n"
	      "  backup [--data DIR | --http ADDR:PORT] OUT\n"
	      "                    consistent copy of a data directory, or of a running server's\n"
	      "  restore BACKUP --data DIR\n"
	      "                    copy a backup into a new data directory and verify it\n"
	      "  stats  [--data DIR] [--format table|json]\n"
	      "                    sizes per database and time window, WAL, compaction debt\n"
	      "  auth   hash | add-user NAME | add-token NAME | remove NAME  [--file FILE]\n"
	      "                    make the credentials file of `serve --auth FILE` (passwords from stdin)\n"
	      "  version               print the version\n"
	      "\n"
	      "Run 'strata <command> --help' for the options of a command.\n",
	      f);
}

void cli_fail(const char *what, int rc)
{
	fprintf(stderr, "strata: %s: %s (%s)\n", what, strata_last_error(), strata_strerror(rc));
}

bool cli_option(int argc, char **argv, int *i, const char *name, const char **value)
{
	size_t n = strlen(name);
	const char *arg = argv[*i];

	if (strncmp(arg, name, n) != 0)
		return false;
	if (arg[n] == '=') {
		*value = arg + n + 1;
		return true;
	}
	if (arg[n] != '\0')
		return false;
	if (*i + 1 >= argc) {
		fprintf(stderr, "strata: option %s needs a value\n", name);
		exit(2);
	}
	*value = argv[++*i];
	return true;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "serve") == 0)
		return cli_serve(argc - 1, argv + 1);
	if (strcmp(argv[1], "check") == 0)
		return cli_check(argc - 1, argv + 1);
	if (strcmp(argv[1], "import") == 0)
		return cli_import(argc - 1, argv + 1);
	if (strcmp(argv[1], "export") == 0)
		return cli_export(argc - 1, argv + 1);
	if (strcmp(argv[1], "query") == 0)
		return cli_query(argc - 1, argv + 1);
	if (strcmp(argv[1], "dump") == 0)
		return cli_dump(argc - 1, argv + 1);
	if (strcmp(argv[1], "backup") == 0)
		return cli_backup(argc - 1, argv + 1);
	if (strcmp(argv[1], "restore") == 0)
		return cli_restore(argc - 1, argv + 1);
	if (strcmp(argv[1], "stats") == 0)
		return cli_stats(argc - 1, argv + 1);
	if (strcmp(argv[1], "auth") == 0)
		return cli_auth(argc - 1, argv + 1);
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("strata %s\n", STRATA_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "strata: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
