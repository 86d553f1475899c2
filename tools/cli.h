/*
 * cli.h — the strata subcommands and the helpers they share.
 */
#ifndef STRATA_TOOLS_CLI_H
#define STRATA_TOOLS_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* Each returns the process exit code: 0 ok, 1 failure or damage, 2 usage. */
int cli_serve(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_dump(int argc, char **argv);
int cli_import(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_query(int argc, char **argv);
int cli_backup(int argc, char **argv);
int cli_restore(int argc, char **argv);
int cli_stats(int argc, char **argv);
int cli_auth(int argc, char **argv);

/*
 * The server's /debug/ routes (ingest_http_options.debug): POST
 * /debug/backup?dir=ABSOLUTE_PATH takes a checkpoint of the lsm_db given as
 * ctx into dir (backup.c); only from loopback.
 */
struct MHD_Connection;
int cli_backup_http_handle(void *ctx, struct MHD_Connection *conn, const char *method, const char *url,
			   const char *body, size_t body_len);

/* Prints "strata: <what>: <last error>" to stderr. */
void cli_fail(const char *what, int rc);

/*
 * Matches "--name VALUE" or "--name=VALUE" at argv[*i], advancing *i past it.
 * Returns true with *value set, false when argv[*i] is another option.
 * Exits with a usage error when the value is missing.
 */
bool cli_option(int argc, char **argv, int *i, const char *name, const char **value);

#define STRATA_VERSION "0.1.0"

#endif
