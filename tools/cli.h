/*
 * cli.h — the strata subcommands and the helpers they share.
 */
#ifndef STRATA_TOOLS_CLI_H
#define STRATA_TOOLS_CLI_H

#include <stdbool.h>

/* Each returns the process exit code: 0 ok, 1 failure or damage, 2 usage. */
int cli_serve(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_dump(int argc, char **argv);
int cli_import(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_query(int argc, char **argv);

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
