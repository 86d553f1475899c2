/*
 * test_auth.c — the credentials of the HTTP API (tools/auth.h): the file
 * (entries made by auth_file_set, malformed lines named), every form of
 * credentials InfluxDB clients send (u/p, Basic, Token user:password,
 * Token TOKEN, Bearer TOKEN), unknown users and wrong passwords, the limit
 * on failures per client address (IPv6 by /64, one attempt back per
 * interval, a success giving its attempt back), the cache of successful
 * password checks (hits counted, expiry, a wrong password never a hit) and
 * the HTTP hook's statuses and messages.
 */
#include "lsm/status.h"
#include "tests/util.h"
#include "tools/auth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <setjmp.h>
#include <cmocka.h>

typedef struct fixture {
	char dir[64];
	char file[128];
	char token[AUTH_TOKEN_LEN + 1];
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	char hash[AUTH_HASH_MAX], digest[65];
	bool replaced;

	if (!f || test_make_temp_dir(f->dir, sizeof f->dir) != 0)
		return -1;
	snprintf(f->file, sizeof f->file, "%s/creds", f->dir);
	if (auth_hash_password(hash, "hunter2", 7) != 0 ||
	    auth_file_set(f->file, "user", "alice", hash, &replaced) != 0)
		return -1;
	if (auth_hash_password(hash, "p:ss w0rd", 9) != 0 ||
	    auth_file_set(f->file, "user", "bob@example.org", hash, &replaced) != 0)
		return -1;
	auth_new_token(f->token, digest);
	if (auth_file_set(f->file, "token", "grafana", digest, &replaced) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	test_remove_tree(f->dir);
	free(f);
	return 0;
}

static struct sockaddr_in v4(const char *ip)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(40000) };

	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static struct sockaddr_in6 v6(const char *ip)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(40000) };

	inet_pton(AF_INET6, ip, &a.sin6_addr);
	return a;
}

/* The value of one counter of auth_metrics. */
static unsigned long long metric(auth *a, const char *name)
{
	char *text = NULL, *at, key[128];
	size_t len = 0;
	unsigned long long v = ~0ull;
	FILE *m = open_memstream(&text, &len);

	assert_non_null(m);
	auth_metrics(a, m);
	fclose(m);
	snprintf(key, sizeof key, "\n%s ", name);
	at = strstr(text, key);
	if (at)
		v = strtoull(at + strlen(key), NULL, 10);
	free(text);
	assert_true(v != ~0ull);
	return v;
}

static void basic(char *out, size_t cap, const char *user_pass)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(user_pass), o = (size_t)snprintf(out, cap, "Basic ");
	const unsigned char *s = (const unsigned char *)user_pass;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);

		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	out[o] = '\0';
}

static void test_auth_credential_forms(void **state)
{
	fixture *f = *state;
	char hdr[256], who[AUTH_NAME_MAX + 1];
	auth *a;

	assert_int_equal(auth_open(&a, f->file, NULL), 0);
	/* u and p URL parameters */
	assert_int_equal(auth_check(a, "alice", "hunter2", NULL, NULL, who), AUTH_OK);
	assert_string_equal(who, "alice");
	assert_int_equal(auth_check(a, "alice", "hunter3", NULL, NULL, NULL), AUTH_DENIED);
	assert_int_equal(auth_check(a, "nobody", "hunter2", NULL, NULL, NULL), AUTH_DENIED);
	/* u and p win over a header */
	assert_int_equal(auth_check(a, "alice", "wrong", "Token alice:hunter2", NULL, NULL), AUTH_DENIED);
	/* Basic: the password may hold a colon and spaces */
	basic(hdr, sizeof hdr, "bob@example.org:p:ss w0rd");
	assert_int_equal(auth_check(a, NULL, NULL, hdr, NULL, who), AUTH_OK);
	assert_string_equal(who, "bob@example.org");
	basic(hdr, sizeof hdr, "bob@example.org:p:ss");
	assert_int_equal(auth_check(a, NULL, NULL, hdr, NULL, NULL), AUTH_DENIED);
	assert_int_equal(auth_check(a, NULL, NULL, "basic YWxpY2U6aHVudGVyMg==", NULL, NULL), AUTH_OK);
	/* InfluxDB 1.8: Token user:password */
	assert_int_equal(auth_check(a, NULL, NULL, "Token alice:hunter2", NULL, NULL), AUTH_OK);
	assert_int_equal(auth_check(a, NULL, NULL, "Token alice:hunter", NULL, NULL), AUTH_DENIED);
	/* InfluxDB 2.x: Token TOKEN; and Bearer TOKEN */
	snprintf(hdr, sizeof hdr, "Token %s", f->token);
	assert_int_equal(auth_check(a, NULL, NULL, hdr, NULL, who), AUTH_OK);
	assert_string_equal(who, "grafana");
	snprintf(hdr, sizeof hdr, "Bearer  %s ", f->token);
	assert_int_equal(auth_check(a, NULL, NULL, hdr, NULL, NULL), AUTH_OK);
	hdr[strlen(hdr) - 2] ^= 1;
	assert_int_equal(auth_check(a, NULL, NULL, hdr, NULL, NULL), AUTH_DENIED);
	/* the token is not a password, nor its name */
	assert_int_equal(auth_check(a, "grafana", f->token, NULL, NULL, NULL), AUTH_DENIED);
	/* nothing, or nothing that parses */
	assert_int_equal(auth_check(a, NULL, NULL, NULL, NULL, NULL), AUTH_MISSING);
	assert_int_equal(auth_check(a, "alice", NULL, NULL, NULL, NULL), AUTH_MISSING);
	assert_int_equal(auth_check(a, "alice", "", NULL, NULL, NULL), AUTH_MISSING);
	assert_int_equal(auth_check(a, NULL, NULL, "Digest x", NULL, NULL), AUTH_MISSING);
	assert_int_equal(auth_check(a, NULL, NULL, "Basic !!!", NULL, NULL), AUTH_MISSING);
	assert_int_equal(auth_check(a, NULL, NULL, "Basic YWxpY2U=", NULL, NULL), AUTH_MISSING); /* no colon */
	assert_int_equal(auth_check(a, NULL, NULL, "Token ", NULL, NULL), AUTH_MISSING);
	assert_int_equal(auth_check(a, NULL, NULL, "Bearer", NULL, NULL), AUTH_MISSING);
	assert_int_equal(metric(a, "strata_auth_missing_total"), 8);
	assert_int_equal(metric(a, "strata_auth_failures_total"), 7);
	auth_close(a);
}

static void test_auth_oversized_credentials(void **state)
{
	fixture *f = *state;
	size_t n = 64 * 1024;
	char *big = malloc(n + 16), *hdr = malloc(n + 16);
	auth *a;

	assert_int_equal(auth_open(&a, f->file, NULL), 0);
	memset(big, 'x', n);
	big[n] = '\0';
	assert_int_equal(auth_check(a, "alice", big, NULL, NULL, NULL), AUTH_DENIED);
	assert_int_equal(auth_check(a, big, "hunter2", NULL, NULL, NULL), AUTH_DENIED);
	snprintf(hdr, n + 16, "Basic %s", big);
	assert_int_equal(auth_check(a, NULL, NULL, hdr, NULL, NULL), AUTH_DENIED);
	snprintf(hdr, n + 16, "Token %s", big);
	assert_int_equal(auth_check(a, NULL, NULL, hdr, NULL, NULL), AUTH_DENIED);
	auth_close(a);
	free(big);
	free(hdr);
}

static void test_auth_failure_limit(void **state)
{
	fixture *f = *state;
	struct sockaddr_in x = v4("10.0.0.1"), y = v4("10.0.0.2");
	struct sockaddr_in6 p = v6("2001:db8:1:2::1"), q = v6("2001:db8:1:2:ffff::9"), r = v6("2001:db8:1:3::1");
	auth_options opt;
	auth *a;

	auth_options_default(&opt);
	opt.failure_interval_ms = 1000;
	assert_int_equal(auth_open(&a, f->file, &opt), 0);
	/* Failed tokens: quick to check, so the bucket does not refill meanwhile. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(auth_check(a, NULL, NULL, "Token nope", (struct sockaddr *)&x, NULL), AUTH_DENIED);
	/* Limited now, whatever it sends, even the right password not yet cached. */
	assert_int_equal(auth_check(a, "alice", "guess", NULL, (struct sockaddr *)&x, NULL), AUTH_LIMITED);
	assert_int_equal(auth_check(a, "alice", "hunter2", NULL, (struct sockaddr *)&x, NULL), AUTH_LIMITED);
	/* Another address is not. */
	assert_int_equal(auth_check(a, "alice", "hunter2", NULL, (struct sockaddr *)&y, NULL), AUTH_OK);
	/* Once checked, the right password is a cache hit and passes the limit. */
	assert_int_equal(auth_check(a, "alice", "hunter2", NULL, (struct sockaddr *)&x, NULL), AUTH_OK);
	/* One more attempt per interval. */
	usleep(1050000);
	assert_int_equal(auth_check(a, NULL, NULL, "Token nope", (struct sockaddr *)&x, NULL), AUTH_DENIED);
	assert_int_equal(auth_check(a, "alice", "guess", NULL, (struct sockaddr *)&x, NULL), AUTH_LIMITED);
	/* Tokens count too. */
	assert_int_equal(auth_check(a, NULL, NULL, "Token nope", (struct sockaddr *)&x, NULL), AUTH_LIMITED);
	assert_int_equal(metric(a, "strata_auth_limited_total"), 4);

	/* IPv6: one /64 is one client. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(auth_check(a, NULL, NULL, "Token nope", (struct sockaddr *)(i % 2 ? &p : &q), NULL),
				 AUTH_DENIED);
	assert_int_equal(auth_check(a, NULL, NULL, "Token nope", (struct sockaddr *)&p, NULL), AUTH_LIMITED);
	assert_int_equal(auth_check(a, NULL, NULL, "Token nope", (struct sockaddr *)&q, NULL), AUTH_LIMITED);
	assert_int_equal(auth_check(a, NULL, NULL, "Token nope", (struct sockaddr *)&r, NULL), AUTH_DENIED);
	/* No address (not a socket we know): no limit. */
	for (int i = 0; i < 8; i++)
		assert_int_equal(auth_check(a, NULL, NULL, "Token nope", NULL, NULL), AUTH_DENIED);
	auth_close(a);
}

static void test_auth_success_gives_attempt_back(void **state)
{
	fixture *f = *state;
	struct sockaddr_in x = v4("192.0.2.7");
	auth_options opt;
	char hdr[128];
	auth *a;

	auth_options_default(&opt);
	opt.failure_interval_ms = 60000; /* no refill during the test, however slow the machine */
	assert_int_equal(auth_open(&a, f->file, &opt), 0);
	snprintf(hdr, sizeof hdr, "Token %s", f->token);
	/* Four failures, then any number of successes, then one failure more is still free. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(auth_check(a, NULL, NULL, "Token bad", (struct sockaddr *)&x, NULL), AUTH_DENIED);
	for (int i = 0; i < 20; i++)
		assert_int_equal(auth_check(a, NULL, NULL, hdr, (struct sockaddr *)&x, NULL), AUTH_OK);
	assert_int_equal(auth_check(a, NULL, NULL, "Token bad", (struct sockaddr *)&x, NULL), AUTH_DENIED);
	assert_int_equal(auth_check(a, NULL, NULL, "Token bad", (struct sockaddr *)&x, NULL), AUTH_LIMITED);
	auth_close(a);
}

static void test_auth_limit_table_bounded(void **state)
{
	fixture *f = *state;
	auth_options opt;
	auth *a;

	auth_options_default(&opt);
	opt.max_addresses = 4;
	opt.free_failures = 1;
	opt.failure_interval_ms = 60000;
	assert_int_equal(auth_open(&a, f->file, &opt), 0);
	/* Many addresses through a table of four: each gets its free failure, nothing overflows. */
	for (int i = 0; i < 64; i++) {
		char ip[32];
		struct sockaddr_in x;

		snprintf(ip, sizeof ip, "10.1.%d.%d", i / 256, i % 256);
		x = v4(ip);
		assert_int_equal(auth_check(a, NULL, NULL, "Token bad", (struct sockaddr *)&x, NULL), AUTH_DENIED);
		assert_int_equal(auth_check(a, NULL, NULL, "Token bad", (struct sockaddr *)&x, NULL), AUTH_LIMITED);
	}
	auth_close(a);
}

static void test_auth_cache(void **state)
{
	fixture *f = *state;
	auth_options opt;
	auth *a;

	auth_options_default(&opt);
	opt.cache_ttl_ms = 300;
	assert_int_equal(auth_open(&a, f->file, &opt), 0);
	assert_int_equal(auth_check(a, "alice", "hunter2", NULL, NULL, NULL), AUTH_OK);
	assert_int_equal(metric(a, "strata_auth_cache_hits_total"), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(auth_check(a, "alice", "hunter2", NULL, NULL, NULL), AUTH_OK);
	assert_int_equal(auth_check(a, NULL, NULL, "Basic YWxpY2U6aHVudGVyMg==", NULL, NULL), AUTH_OK);
	assert_int_equal(metric(a, "strata_auth_cache_hits_total"), 11);
	/* A wrong password, or another user with the same password, is no hit. */
	assert_int_equal(auth_check(a, "alice", "hunter", NULL, NULL, NULL), AUTH_DENIED);
	assert_int_equal(auth_check(a, "alic", "ehunter2", NULL, NULL, NULL), AUTH_DENIED);
	assert_int_equal(metric(a, "strata_auth_cache_hits_total"), 11);
	/* Expired: checked again. */
	usleep(350000);
	assert_int_equal(auth_check(a, "alice", "hunter2", NULL, NULL, NULL), AUTH_OK);
	assert_int_equal(metric(a, "strata_auth_cache_hits_total"), 11);
	assert_int_equal(metric(a, "strata_auth_ok_total"), 13);
	auth_close(a);

	/* No cache at all. */
	opt.cache_entries = 0;
	assert_int_equal(auth_open(&a, f->file, &opt), 0);
	assert_int_equal(auth_check(a, "alice", "hunter2", NULL, NULL, NULL), AUTH_OK);
	assert_int_equal(auth_check(a, "alice", "hunter2", NULL, NULL, NULL), AUTH_OK);
	assert_int_equal(metric(a, "strata_auth_cache_hits_total"), 0);
	auth_close(a);
}

static void test_auth_http_hook(void **state)
{
	fixture *f = *state;
	struct sockaddr_in x = v4("10.9.9.9");
	ingest_http_credentials c = { .peer = (struct sockaddr *)&x };
	const char *msg = NULL;
	auth_options opt;
	auth *a;

	auth_options_default(&opt);
	opt.failure_interval_ms = 60000; /* no refill during the test, however slow the machine */
	assert_int_equal(auth_open(&a, f->file, &opt), 0);
	assert_int_equal(auth_http_check(a, &c, &msg), 401);
	assert_string_equal(msg, "unable to parse authentication credentials");
	c.user = "alice";
	c.password = "nope";
	assert_int_equal(auth_http_check(a, &c, &msg), 401);
	assert_string_equal(msg, "authorization failed");
	c.password = "hunter2";
	assert_int_equal(auth_http_check(a, &c, &msg), 0);
	c.user = NULL;
	c.password = NULL;
	c.authorization = "Token alice:x";
	for (int i = 0; i < 4; i++)
		assert_int_equal(auth_http_check(a, &c, &msg), 401);
	assert_int_equal(auth_http_check(a, &c, &msg), 429);
	assert_non_null(strstr(msg, "too many failed"));
	auth_close(a);
}

/* Writes text to the fixture's directory as a file; returns auth_open's code. */
static int open_text(fixture *f, const char *text)
{
	char path[160];
	FILE *out;
	auth *a = NULL;
	int rc;

	snprintf(path, sizeof path, "%s/bad", f->dir);
	out = fopen(path, "w");
	assert_non_null(out);
	fputs(text, out);
	fclose(out);
	rc = auth_open(&a, path, NULL);
	auth_close(a);
	return rc;
}

static void test_auth_file_errors(void **state)
{
	fixture *f = *state;
	const char *hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGg";
	char text[512];
	auth *a = NULL;

	assert_int_equal(auth_open(&a, "/nonexistent/creds", NULL), -ENOENT);
	assert_non_null(strstr(strata_last_error(), "/nonexistent/creds"));
	assert_int_equal(open_text(f, ""), STRATA_EINVAL);
	assert_non_null(strstr(strata_last_error(), "no user and no token"));
	assert_int_equal(open_text(f, "# only a comment\n\n"), STRATA_EINVAL);
	snprintf(text, sizeof text, "# c\nuser a %s\nuser b\n", hash);
	assert_int_equal(open_text(f, text), STRATA_EINVAL);
	assert_non_null(strstr(strata_last_error(), "line 3"));
	snprintf(text, sizeof text, "user a %s\r\nuser a %s\n", hash, hash);
	assert_int_equal(open_text(f, text), STRATA_EINVAL);
	assert_non_null(strstr(strata_last_error(), "appears twice"));
	assert_int_equal(open_text(f, "user a plaintext\n"), STRATA_EINVAL);
	assert_non_null(strstr(strata_last_error(), "argon2id"));
	assert_int_equal(open_text(f, "token t abcd\n"), STRATA_EINVAL);
	assert_non_null(strstr(strata_last_error(), "64 hex"));
	snprintf(text, sizeof text, "user a/b %s\n", hash);
	assert_int_equal(open_text(f, text), STRATA_EINVAL);
	assert_non_null(strstr(strata_last_error(), "bad name"));
	snprintf(text, sizeof text, "admin a %s\n", hash);
	assert_int_equal(open_text(f, text), STRATA_EINVAL);
	assert_non_null(strstr(strata_last_error(), "unknown entry"));
	snprintf(text, sizeof text, "user a %s extra\n", hash);
	assert_int_equal(open_text(f, text), STRATA_EINVAL);
	/* Well-formed: comments, blank lines, CRLF, indentation. */
	snprintf(text, sizeof text, "# c\n\n  user a %s\r\n\ttoken t %064d\n", hash, 0);
	assert_int_equal(open_text(f, text), 0);
}

static void test_auth_file_set(void **state)
{
	fixture *f = *state;
	char path[160], hash[AUTH_HASH_MAX], text[4096];
	bool replaced = true;
	struct stat st;
	FILE *in;
	size_t n;
	auth *a;

	snprintf(path, sizeof path, "%s/edit", f->dir);
	assert_int_equal(auth_hash_password(hash, "one", 3), 0);
	assert_int_equal(auth_file_set(path, "user", "u1", hash, &replaced), 0);
	assert_false(replaced);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(auth_file_set(path, "token", "u1", "00", &replaced), 0);
	assert_false(replaced); /* another kind: another entry */
	assert_int_equal(auth_file_set(path, "token", "u1", NULL, &replaced), 0);
	assert_true(replaced);
	assert_int_equal(auth_hash_password(hash, "two", 3), 0);
	assert_int_equal(auth_file_set(path, "user", "u1", hash, &replaced), 0);
	assert_true(replaced);
	assert_int_equal(auth_file_set(path, "user", "u2", hash, &replaced), 0);
	assert_int_equal(auth_file_set(path, "user", "bad name", hash, &replaced), STRATA_EINVAL);
	in = fopen(path, "r");
	n = fread(text, 1, sizeof text - 1, in);
	fclose(in);
	text[n] = '\0';
	assert_non_null(strstr(text, "# strata credentials"));
	assert_non_null(strstr(text, "user u1 $argon2id$"));
	assert_null(strstr(text, "token u1"));
	assert_int_equal(auth_open(&a, path, NULL), 0);
	assert_int_equal(auth_check(a, "u1", "one", NULL, NULL, NULL), AUTH_DENIED);
	assert_int_equal(auth_check(a, "u1", "two", NULL, NULL, NULL), AUTH_OK);
	assert_int_equal(auth_check(a, "u2", "two", NULL, NULL, NULL), AUTH_OK);
	auth_close(a);

	assert_int_equal(auth_hash_password(hash, "", 0), STRATA_EINVAL);
	assert_int_equal(auth_hash_password(hash, text, AUTH_PASSWORD_MAX + 1), STRATA_EINVAL);
	assert_true(auth_valid_name("a.b_c@d-e9"));
	assert_false(auth_valid_name(""));
	assert_false(auth_valid_name("a:b"));
	assert_false(auth_valid_name("0123456789012345678901234567890123456789012345678901234567890123456789"));
}

static void test_auth_tokens_differ(void **state)
{
	char t1[AUTH_TOKEN_LEN + 1], t2[AUTH_TOKEN_LEN + 1], d1[65], d2[65];

	(void)state;
	auth_new_token(t1, d1);
	auth_new_token(t2, d2);
	assert_int_equal(strlen(t1), AUTH_TOKEN_LEN);
	assert_int_equal(strlen(d1), 64);
	assert_string_not_equal(t1, t2);
	assert_string_not_equal(d1, d2);
	assert_null(strchr(t1, ':'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth_credential_forms),
		cmocka_unit_test(test_auth_oversized_credentials),
		cmocka_unit_test(test_auth_failure_limit),
		cmocka_unit_test(test_auth_success_gives_attempt_back),
		cmocka_unit_test(test_auth_limit_table_bounded),
		cmocka_unit_test(test_auth_cache),
		cmocka_unit_test(test_auth_http_hook),
		cmocka_unit_test(test_auth_file_errors),
		cmocka_unit_test(test_auth_file_set),
		cmocka_unit_test(test_auth_tokens_differ),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
