/*
 * auth_cli.c — `strata auth`: makes the entries of the credentials file
 * that `strata serve --auth FILE` reads (tools/auth.h, docs/security.md).
 *
 * Passwords are read from standard input, never from the command line
 * (where ps and the shell's history would show them): the first line,
 * without its line ending; on a terminal, without echo, and twice for a
 * new user.
 */
#include "tools/auth.h"
#include "tools/cli.h"
#include "lsm/status.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define AUTH_DEFAULT_FILE "./strata-auth"

static void auth_usage(FILE *f)
{
	fputs("usage: strata auth <action> [--file FILE] [NAME]\n"
	      "  hash                 read a password from standard input, print its argon2id hash\n"
	      "  add-user NAME        read the password of NAME from standard input and store its hash\n"
	      "                       (replacing NAME's entry if there is one)\n"
	      "  add-token NAME       make a random token, print it (once: it is not stored) and store\n"
	      "                       its digest; clients send it as 'Authorization: Token TOKEN'\n"
	      "  remove NAME          remove the user and the token named NAME\n"
	      "  --file FILE          the credentials file (default " AUTH_DEFAULT_FILE "), created with\n"
	      "                       mode 0600; `strata serve --auth FILE` reads it at start\n",
	      f);
}

/* Reads one line of at most cap - 1 bytes from f into buf, without its ending. Length, or -1. */
static long read_line(FILE *f, char *buf, size_t cap)
{
	size_t n;

	if (!fgets(buf, (int)cap, f))
		return -1;
	n = strlen(buf);
	if (n == cap - 1 && buf[n - 1] != '\n')
		return -1; /* longer than the buffer */
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return (long)n;
}

/* The password from standard input into buf (AUTH_PASSWORD_MAX + 2 bytes). Its length, or -1 (printed). */
static long read_password(char *buf, size_t cap, bool confirm)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	long n;

	if (tty) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		fputs("password: ", stderr);
	}
	n = read_line(stdin, buf, cap);
	if (tty && n > 0 && confirm) {
		char again[AUTH_PASSWORD_MAX + 2];
		long m;

		fputs("\nagain: ", stderr);
		m = read_line(stdin, again, sizeof again);
		if (m != n || memcmp(again, buf, (size_t)n) != 0) {
			fputs("\nstrata auth: the passwords differ\n", stderr);
			n = -2;
		}
		memset(again, 0, sizeof again);
	}
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (n == -1)
		fprintf(stderr, "strata auth: no password on standard input (one line, at most %d bytes)\n",
			AUTH_PASSWORD_MAX);
	else if (n == 0)
		fputs("strata auth: empty password\n", stderr);
	return n > 0 ? n : -1;
}

int cli_auth(int argc, char **argv)
{
	const char *file = AUTH_DEFAULT_FILE, *action = NULL, *name = NULL, *v;
	char password[AUTH_PASSWORD_MAX + 2], hash[AUTH_HASH_MAX];
	bool replaced = false;
	long len;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			auth_usage(stdout);
			return 0;
		} else if (cli_option(argc, argv, &i, "--file", &v)) {
			file = v;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "strata auth: unknown option '%s'\n", argv[i]);
			auth_usage(stderr);
			return 2;
		} else if (!action) {
			action = argv[i];
		} else if (!name) {
			name = argv[i];
		} else {
			fprintf(stderr, "strata auth: unexpected argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (!action) {
		auth_usage(stderr);
		return 2;
	}
	if (strcmp(action, "hash") == 0) {
		if (name) {
			fprintf(stderr, "strata auth hash: the password comes from standard input, not the command line\n");
			return 2;
		}
		len = read_password(password, sizeof password, false);
		if (len < 0)
			return 1;
		rc = auth_hash_password(hash, password, (size_t)len);
		memset(password, 0, sizeof password);
		if (rc) {
			cli_fail("cannot hash the password", rc);
			return 1;
		}
		printf("%s\n", hash);
		return 0;
	}
	if (strcmp(action, "add-user") != 0 && strcmp(action, "add-token") != 0 && strcmp(action, "remove") != 0) {
		fprintf(stderr, "strata auth: unknown action '%s'\n", action);
		auth_usage(stderr);
		return 2;
	}
	if (!name) {
		fprintf(stderr, "strata auth %s: a NAME is needed\n", action);
		return 2;
	}
	if (!auth_valid_name(name)) {
		fprintf(stderr, "strata auth: bad name '%s': 1 to %d letters, digits, '.', '_', '@' or '-'\n", name,
			AUTH_NAME_MAX);
		return 2;
	}
	if (strcmp(action, "add-user") == 0) {
		len = read_password(password, sizeof password, true);
		if (len < 0)
			return 1;
		rc = auth_hash_password(hash, password, (size_t)len);
		memset(password, 0, sizeof password);
		if (rc == 0)
			rc = auth_file_set(file, "user", name, hash, &replaced);
		if (rc) {
			cli_fail("cannot add the user", rc);
			return 1;
		}
		fprintf(stderr, "%s user %s in %s (a running server reads it when restarted)\n",
			replaced ? "replaced" : "added", name, file);
		return 0;
	}
	if (strcmp(action, "add-token") == 0) {
		char token[AUTH_TOKEN_LEN + 1], digest[65];

		auth_new_token(token, digest);
		rc = auth_file_set(file, "token", name, digest, &replaced);
		if (rc) {
			cli_fail("cannot add the token", rc);
			return 1;
		}
		printf("%s\n", token);
		fprintf(stderr, "%s token %s in %s; it is printed above and nowhere else "
				"(a running server reads it when restarted)\n",
			replaced ? "replaced" : "added", name, file);
		return 0;
	}
	{
		bool user = false, token = false;

		if (access(file, F_OK) != 0) {
			fprintf(stderr, "strata auth: %s: %s\n", file, strerror(errno));
			return 1;
		}
		rc = auth_file_set(file, "user", name, NULL, &user);
		if (rc == 0)
			rc = auth_file_set(file, "token", name, NULL, &token);
		if (rc) {
			cli_fail("cannot remove the entry", rc);
			return 1;
		}
		if (!user && !token) {
			fprintf(stderr, "strata auth: no user or token named %s in %s\n", name, file);
			return 1;
		}
		fprintf(stderr, "removed%s%s %s from %s\n", user ? " user" : "", token ? " token" : "", name, file);
		return 0;
	}
}
