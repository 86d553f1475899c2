/*
 * auth.h — who may use the HTTP API of `strata serve`: the credentials
 * file, the check of InfluxDB-style credentials, a short-lived cache of
 * successful password checks and a limit on failed attempts per client
 * address.
 *
 * The credentials file (docs/security.md), one entry per line; blank lines
 * and lines starting with '#' are ignored:
 *
 *   user NAME $argon2id$v=19$m=19456,t=2,p=1$...   a password, crypto_pwhash_str
 *   token NAME 9f86d081884c7d65...                 a token: BLAKE2b-256 of it, hex
 *
 * NAME is 1..64 bytes of [A-Za-z0-9._@-]; a user name appears once, a token
 * name once. Neither passwords nor tokens are stored, only what checks them.
 *
 * Credentials a request may carry (as InfluxDB 1.x and 2.x clients send them):
 *   u and p URL parameters; Authorization: Basic base64(user:password);
 *   Authorization: Token user:password (InfluxDB 1.8); Authorization: Token
 *   TOKEN (InfluxDB 2.x) and Authorization: Bearer TOKEN.
 *
 * Checks cost what they must and no more. A password is verified with
 * argon2id (tens of milliseconds of one core, 19 MiB): at most max_kdf of
 * them run at once, an unknown user costs the same as a known one, and a
 * success is remembered for cache_ttl_ms under a keyed hash of (user,
 * password), so a dashboard's requests do not each pay it. A token is
 * checked with one BLAKE2b hash, compared in constant time. Each client
 * address (an IPv6 one by its /64) may fail free_failures times; then it
 * gets one more attempt per failure_interval_ms and is answered
 * AUTH_LIMITED in between, without any hashing.
 *
 * Threads: auth_check and auth_metrics from any thread; open and close once.
 */
#ifndef STRATA_TOOLS_AUTH_H
#define STRATA_TOOLS_AUTH_H

#include "ingest/http.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define AUTH_NAME_MAX 64         /* bytes of a user or token name */
#define AUTH_PASSWORD_MAX 1024   /* a longer password is refused unhashed */

typedef struct auth auth;

typedef struct auth_options {
	uint32_t cache_entries;       /* successful password checks remembered (1024) */
	uint32_t cache_ttl_ms;        /* for this long (60000) */
	uint32_t free_failures;       /* failures per client address before the limit (5) */
	uint32_t failure_interval_ms; /* then one attempt per this (1000) */
	uint32_t max_addresses;       /* client addresses with failures tracked (4096) */
	uint32_t max_kdf;             /* password hashes verified at once (number of cores, 1..4) */
} auth_options;

void auth_options_default(auth_options *out);

/*
 * Reads the credentials file at path. STRATA_EINVAL with the line and the
 * reason for a malformed file (or one with no entry), -errno when it cannot
 * be read, -ENOMEM.
 */
int auth_open(auth **out, const char *path, const auth_options *opt);
void auth_close(auth *a);

enum auth_result {
	AUTH_OK,       /* credentials of a user or token of the file */
	AUTH_MISSING,  /* no credentials, or none that can be parsed */
	AUTH_DENIED,   /* wrong credentials */
	AUTH_LIMITED,  /* too many failures from this address: not checked */
};

/*
 * Checks what a request carries: user and password (the u and p URL
 * parameters; either may be NULL), the Authorization header (may be NULL)
 * and the client address (may be NULL: then no limit applies). u and p win
 * when both are given, as in InfluxDB. On AUTH_OK, who (when not NULL)
 * receives the user or token name, NUL-terminated (AUTH_NAME_MAX + 1 bytes).
 */
enum auth_result auth_check(auth *a, const char *user, const char *password, const char *authorization,
			    const struct sockaddr *peer, char *who);

/*
 * The ingest_http_auth_fn of the HTTP API over auth_check (ctx is the
 * auth): 0, or 401 with InfluxDB's messages, or 429.
 */
unsigned auth_http_check(void *ctx, const ingest_http_credentials *c, const char **msg);

/* Appends the Prometheus lines of the counters (checks, failures, limited, cache hits) to f. */
void auth_metrics(auth *a, FILE *f);

/* ---- making entries (strata auth) ---- */

/*
 * The crypto_pwhash_str (argon2id) string of a password, into out
 * (AUTH_HASH_MAX bytes). STRATA_EINVAL for an empty or too long password,
 * -ENOMEM when the hash cannot get its memory.
 */
#define AUTH_HASH_MAX 128
int auth_hash_password(char *out, const char *password, size_t len);

/*
 * A new random token (32 bytes from the system's generator, base64url:
 * 43 characters) into token, and the hex digest the file stores into
 * digest (65 bytes).
 */
#define AUTH_TOKEN_LEN 43
void auth_new_token(char token[AUTH_TOKEN_LEN + 1], char digest[65]);

/* Whether name is a valid user or token name. */
bool auth_valid_name(const char *name);

/*
 * Rewrites the file at path with the entry "kind name value" (kind "user"
 * or "token") in place of any entry of that kind and name, or removes it
 * when value is NULL; the file is created (mode 0600) when missing and
 * replaced atomically (a temporary file, fsync, rename). *out_replaced says
 * whether an entry was there. STRATA_EINVAL for a bad name or a malformed
 * file, -errno.
 */
int auth_file_set(const char *path, const char *kind, const char *name, const char *value, bool *out_replaced);

#endif
