/*
 * auth.c — credentials of the HTTP API (see auth.h).
 *
 * The file is read once, at open: users and tokens live in two arrays that
 * never change afterwards, so checks read them without a lock.
 *
 * The cache of successful password checks is direct-mapped: a keyed
 * BLAKE2b digest of (user, password) picks one slot, which holds the digest,
 * the user and an expiry time; a newer success overwrites an older one.
 * The key is random per process, so a digest says nothing outside it.
 *
 * The failure limit is a token bucket per client address: free_failures
 * tokens, one back per failure_interval_ms. An attempt that needs a check
 * takes a token first (so concurrent attempts cannot overrun it) and gives
 * it back when it succeeds. The table of addresses is bounded; when full,
 * a bucket already full again (or else the least recently touched) makes
 * room.
 *
 * Threads: mu guards the cache and the buckets (never held while hashing);
 * kdf_mu and kdf_cv count the password hashes running; counters are atomic.
 */
#include "tools/auth.h"
#include "lsm/alloc.h"
#include "lsm/log.h"
#include "lsm/status.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KDF_OPSLIMIT 2
#define KDF_MEMLIMIT ((size_t)19456 * 1024) /* 19 MiB */
#define FILE_MAX_BYTES (16u << 20)

typedef struct auth_user {
	char name[AUTH_NAME_MAX + 1];
	char hash[AUTH_HASH_MAX];
} auth_user;

typedef struct auth_token {
	char name[AUTH_NAME_MAX + 1];
	uint8_t digest[crypto_generichash_BYTES];
} auth_token;

typedef struct cache_slot {
	uint8_t digest[crypto_generichash_BYTES];
	int64_t expires_ns; /* 0: empty */
	uint32_t user;
} cache_slot;

typedef struct bucket {
	uint8_t addr[16];
	bool used;
	double tokens;
	int64_t last_ns;    /* of the last refill */
	int64_t touched_ns; /* of the last attempt */
} bucket;

struct auth {
	auth_options opt;
	auth_user *users;
	size_t n_users;
	auth_token *tokens;
	size_t n_tokens;
	char dummy_hash[AUTH_HASH_MAX]; /* verified for unknown users: the same cost */
	uint8_t cache_key[crypto_generichash_KEYBYTES];

	pthread_mutex_t mu;
	cache_slot *cache;
	size_t cache_mask;
	bucket *buckets;

	pthread_mutex_t kdf_mu;
	pthread_cond_t kdf_cv;
	uint32_t kdf_running;

	atomic_uint_fast64_t n_ok, n_cache_hits, n_denied, n_missing, n_limited;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void auth_options_default(auth_options *out)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	memset(out, 0, sizeof *out);
	out->cache_entries = 1024;
	out->cache_ttl_ms = 60000;
	out->free_failures = 5;
	out->failure_interval_ms = 1000;
	out->max_addresses = 4096;
	out->max_kdf = cores < 1 ? 1 : cores > 4 ? 4 : (uint32_t)cores;
}

bool auth_valid_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > AUTH_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!isalnum(c) && c != '.' && c != '_' && c != '@' && c != '-')
			return false;
	}
	return true;
}

/* ---- making entries ---- */

int auth_hash_password(char *out, const char *password, size_t len)
{
	if (sodium_init() < 0)
		return strata_error(-ENOMEM, "libsodium cannot start");
	if (len == 0)
		return strata_error(STRATA_EINVAL, "empty password");
	if (len > AUTH_PASSWORD_MAX)
		return strata_error(STRATA_EINVAL, "password longer than %d bytes", AUTH_PASSWORD_MAX);
	if (crypto_pwhash_str_alg(out, password, len, KDF_OPSLIMIT, KDF_MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return strata_error(-ENOMEM, "argon2id: out of memory");
	return 0;
}

static void token_digest(uint8_t out[crypto_generichash_BYTES], const char *token, size_t len)
{
	crypto_generichash(out, crypto_generichash_BYTES, (const unsigned char *)token, len, NULL, 0);
}

void auth_new_token(char token[AUTH_TOKEN_LEN + 1], char digest[65])
{
	uint8_t raw[32], d[crypto_generichash_BYTES];

	if (sodium_init() < 0)
		abort(); /* no secure random source: never hand out a guessable token */
	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(token, AUTH_TOKEN_LEN + 1, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	token_digest(d, token, strlen(token));
	sodium_bin2hex(digest, 65, d, sizeof d);
	sodium_memzero(raw, sizeof raw);
}

/* ---- the file ---- */

/* Reads the whole file (at most FILE_MAX_BYTES), NUL-terminated. -errno, STRATA_ETOOBIG. */
static int read_file(const char *path, char **out, size_t *out_len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;

	*out = NULL;
	*out_len = 0;
	if (!f)
		return strata_error(-errno, "cannot read %s: %s", path, strerror(errno));
	for (;;) {
		size_t n;

		if (cap - len < 4097) {
			char *grown;

			if (cap >= FILE_MAX_BYTES) {
				rc = strata_error(STRATA_ETOOBIG, "%s is larger than %u bytes", path, FILE_MAX_BYTES);
				break;
			}
			cap = cap ? cap * 2 : 8192;
			grown = strata_realloc(buf, cap);
			if (!grown) {
				rc = -ENOMEM;
				break;
			}
			buf = grown;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0) {
			if (ferror(f))
				rc = strata_error(-EIO, "cannot read %s", path);
			break;
		}
	}
	fclose(f);
	if (rc) {
		strata_free(buf);
		return rc;
	}
	if (!buf) {
		buf = strata_malloc(1);
		if (!buf)
			return -ENOMEM;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

/* The next whitespace-separated word of line [*p, end): its start and length, 0 when none. */
static size_t next_word(const char **p, const char *end, const char **word)
{
	const char *s = *p;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	*word = s;
	while (s < end && *s != ' ' && *s != '\t')
		s++;
	*p = s;
	return (size_t)(s - *word);
}

/* Parses one line into a user or token of a (arrays sized by the caller). 0 or STRATA_EINVAL. */
static int parse_line(auth *a, const char *path, unsigned lineno, const char *line, const char *end)
{
	const char *kind, *name, *value, *extra, *p = line;
	size_t kind_len = next_word(&p, end, &kind);
	size_t name_len = next_word(&p, end, &name);
	size_t value_len = next_word(&p, end, &value);
	char name_z[AUTH_NAME_MAX + 1];

	if (next_word(&p, end, &extra) != 0 || value_len == 0)
		return strata_error(STRATA_EINVAL, "%s line %u: expected \"user NAME HASH\" or \"token NAME DIGEST\"",
				    path, lineno);
	if (name_len > AUTH_NAME_MAX)
		return strata_error(STRATA_EINVAL, "%s line %u: name longer than %d bytes", path, lineno, AUTH_NAME_MAX);
	memcpy(name_z, name, name_len);
	name_z[name_len] = '\0';
	if (!auth_valid_name(name_z))
		return strata_error(STRATA_EINVAL, "%s line %u: bad name \"%s\" (letters, digits, . _ @ -)", path,
				    lineno, name_z);
	if (kind_len == 4 && memcmp(kind, "user", 4) == 0) {
		auth_user *u = &a->users[a->n_users];

		for (size_t i = 0; i < a->n_users; i++)
			if (strcmp(a->users[i].name, name_z) == 0)
				return strata_error(STRATA_EINVAL, "%s line %u: user \"%s\" appears twice", path,
						    lineno, name_z);
		if (value_len >= AUTH_HASH_MAX || value_len < 10 || memcmp(value, "$argon2id$", 10) != 0)
			return strata_error(STRATA_EINVAL, "%s line %u: the hash of user \"%s\" is not an argon2id "
					    "string (make one with: strata auth hash)", path, lineno, name_z);
		memcpy(u->name, name_z, name_len + 1);
		memcpy(u->hash, value, value_len);
		u->hash[value_len] = '\0';
		a->n_users++;
		return 0;
	}
	if (kind_len == 5 && memcmp(kind, "token", 5) == 0) {
		auth_token *t = &a->tokens[a->n_tokens];
		size_t bin_len = 0;

		for (size_t i = 0; i < a->n_tokens; i++)
			if (strcmp(a->tokens[i].name, name_z) == 0)
				return strata_error(STRATA_EINVAL, "%s line %u: token \"%s\" appears twice", path,
						    lineno, name_z);
		if (value_len != 2 * crypto_generichash_BYTES ||
		    sodium_hex2bin(t->digest, sizeof t->digest, value, value_len, NULL, &bin_len, NULL) != 0 ||
		    bin_len != sizeof t->digest)
			return strata_error(STRATA_EINVAL, "%s line %u: the digest of token \"%s\" is not 64 hex digits",
					    path, lineno, name_z);
		memcpy(t->name, name_z, name_len + 1);
		a->n_tokens++;
		return 0;
	}
	return strata_error(STRATA_EINVAL, "%s line %u: unknown entry \"%.*s\" (user or token)", path, lineno,
			    (int)(kind_len > 32 ? 32 : kind_len), kind);
}

static int parse_file(auth *a, const char *path, const char *text, size_t len)
{
	size_t n_lines = 1;
	unsigned lineno = 0;
	const char *p = text, *end = text + len;

	for (size_t i = 0; i < len; i++)
		n_lines += text[i] == '\n';
	a->users = strata_calloc(n_lines, sizeof *a->users);
	a->tokens = strata_calloc(n_lines, sizeof *a->tokens);
	if (!a->users || !a->tokens)
		return -ENOMEM;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *line_end = nl ? nl : end, *s = p;
		int rc;

		lineno++;
		p = nl ? nl + 1 : end;
		if (line_end > s && line_end[-1] == '\r')
			line_end--;
		while (s < line_end && (*s == ' ' || *s == '\t'))
			s++;
		if (s == line_end || *s == '#')
			continue;
		rc = parse_line(a, path, lineno, s, line_end);
		if (rc)
			return rc;
	}
	if (a->n_users + a->n_tokens == 0)
		return strata_error(STRATA_EINVAL, "%s holds no user and no token: nobody could log in "
				    "(add one with: strata auth add-user --file %s NAME)", path, path);
	return 0;
}

int auth_open(auth **out, const char *path, const auth_options *opt)
{
	auth *a;
	char *text = NULL, dummy[32];
	size_t len, slots = 1;
	int rc;

	*out = NULL;
	if (sodium_init() < 0)
		return strata_error(-ENOMEM, "libsodium cannot start");
	a = strata_calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	if (opt)
		a->opt = *opt;
	else
		auth_options_default(&a->opt);
	if (a->opt.max_kdf == 0)
		a->opt.max_kdf = 1;
	if (a->opt.max_addresses == 0)
		a->opt.max_addresses = 1;
	while (slots < a->opt.cache_entries)
		slots *= 2;
	a->cache_mask = slots - 1;
	pthread_mutex_init(&a->mu, NULL);
	pthread_mutex_init(&a->kdf_mu, NULL);
	pthread_cond_init(&a->kdf_cv, NULL);
	a->cache = strata_calloc(slots, sizeof *a->cache);
	a->buckets = strata_calloc(a->opt.max_addresses, sizeof *a->buckets);
	if (!a->cache || !a->buckets) {
		rc = -ENOMEM;
		goto fail;
	}
	randombytes_buf(a->cache_key, sizeof a->cache_key);
	randombytes_buf(dummy, sizeof dummy);
	rc = auth_hash_password(a->dummy_hash, dummy, sizeof dummy);
	if (rc)
		goto fail;
	rc = read_file(path, &text, &len);
	if (rc == 0)
		rc = parse_file(a, path, text, len);
	if (text) {
		sodium_memzero(text, len);
		strata_free(text);
	}
	if (rc)
		goto fail;
	*out = a;
	return 0;
fail:
	auth_close(a);
	return rc;
}

void auth_close(auth *a)
{
	if (!a)
		return;
	strata_free(a->users);
	strata_free(a->tokens);
	strata_free(a->cache);
	strata_free(a->buckets);
	pthread_mutex_destroy(&a->mu);
	pthread_mutex_destroy(&a->kdf_mu);
	pthread_cond_destroy(&a->kdf_cv);
	strata_free(a);
}

/* ---- the failure limit ---- */

/* The bucket key of an address: IPv4 as v4-mapped IPv6, IPv6 by its /64. false for other families. */
static bool addr_key(const struct sockaddr *sa, uint8_t out[16])
{
	memset(out, 0, 16);
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		out[10] = out[11] = 0xff;
		memcpy(out + 12, &in->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		memcpy(out, &in6->sin6_addr, 16);
		if (!(memcmp(out, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0))
			memset(out + 8, 0, 8); /* one host holds a whole /64 */
		return true;
	}
	return false;
}

static void refill(auth *a, bucket *b, int64_t now)
{
	double cap = a->opt.free_failures;

	if (a->opt.failure_interval_ms)
		b->tokens += (double)(now - b->last_ns) / ((double)a->opt.failure_interval_ms * 1e6);
	else
		b->tokens = cap;
	if (b->tokens > cap)
		b->tokens = cap;
	b->last_ns = now;
}

/* The bucket of key, made when missing. Under mu. */
static bucket *bucket_get(auth *a, const uint8_t key[16], int64_t now)
{
	bucket *unused = NULL, *full = NULL, *oldest = NULL, *victim;

	for (uint32_t i = 0; i < a->opt.max_addresses; i++) {
		bucket *b = &a->buckets[i];

		if (!b->used) {
			if (!unused)
				unused = b;
			continue;
		}
		if (memcmp(b->addr, key, 16) == 0)
			return b;
		refill(a, b, now);
		if (!full && b->tokens >= a->opt.free_failures)
			full = b; /* full again: forgets nothing worth keeping */
		if (!oldest || b->touched_ns < oldest->touched_ns)
			oldest = b;
	}
	victim = unused ? unused : full ? full : oldest;
	memcpy(victim->addr, key, 16);
	victim->used = true;
	victim->tokens = a->opt.free_failures;
	victim->last_ns = victim->touched_ns = now;
	return victim;
}

/* Takes an attempt from the address's bucket: false when none is left. */
static bool limit_take(auth *a, const struct sockaddr *peer)
{
	uint8_t key[16];
	int64_t now;
	bucket *b;
	bool ok;

	if (!addr_key(peer, key))
		return true;
	pthread_mutex_lock(&a->mu);
	now = mono_ns();
	b = bucket_get(a, key, now);
	refill(a, b, now);
	b->touched_ns = now;
	ok = b->tokens >= 1;
	if (ok)
		b->tokens -= 1;
	pthread_mutex_unlock(&a->mu);
	return ok;
}

/* A success gives its attempt back. */
static void limit_refund(auth *a, const struct sockaddr *peer)
{
	uint8_t key[16];

	if (!addr_key(peer, key))
		return;
	pthread_mutex_lock(&a->mu);
	for (uint32_t i = 0; i < a->opt.max_addresses; i++) {
		bucket *b = &a->buckets[i];

		if (b->used && memcmp(b->addr, key, 16) == 0) {
			b->tokens += 1;
			if (b->tokens > a->opt.free_failures)
				b->tokens = a->opt.free_failures;
			break;
		}
	}
	pthread_mutex_unlock(&a->mu);
}

/* ---- checks ---- */

static void cache_digest(auth *a, uint8_t out[crypto_generichash_BYTES], const char *user, size_t user_len,
			 const char *password, size_t password_len)
{
	crypto_generichash_state st;
	uint64_t n = user_len;

	crypto_generichash_init(&st, a->cache_key, sizeof a->cache_key, crypto_generichash_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)&n, sizeof n);
	crypto_generichash_update(&st, (const unsigned char *)user, user_len);
	crypto_generichash_update(&st, (const unsigned char *)password, password_len);
	crypto_generichash_final(&st, out, crypto_generichash_BYTES);
}

static cache_slot *cache_slot_of(auth *a, const uint8_t digest[crypto_generichash_BYTES])
{
	uint64_t h;

	memcpy(&h, digest, sizeof h);
	return &a->cache[h & a->cache_mask];
}

/* The user of a cached success, or -1. */
static long cache_find(auth *a, const uint8_t digest[crypto_generichash_BYTES])
{
	cache_slot *s;
	long user = -1;

	if (a->opt.cache_entries == 0 || a->opt.cache_ttl_ms == 0)
		return -1;
	pthread_mutex_lock(&a->mu);
	s = cache_slot_of(a, digest);
	if (s->expires_ns > mono_ns() && sodium_memcmp(s->digest, digest, crypto_generichash_BYTES) == 0)
		user = s->user;
	pthread_mutex_unlock(&a->mu);
	return user;
}

static void cache_put(auth *a, const uint8_t digest[crypto_generichash_BYTES], uint32_t user)
{
	cache_slot *s;

	if (a->opt.cache_entries == 0 || a->opt.cache_ttl_ms == 0)
		return;
	pthread_mutex_lock(&a->mu);
	s = cache_slot_of(a, digest);
	memcpy(s->digest, digest, crypto_generichash_BYTES);
	s->user = user;
	s->expires_ns = mono_ns() + (int64_t)a->opt.cache_ttl_ms * 1000000;
	pthread_mutex_unlock(&a->mu);
}

static void kdf_enter(auth *a)
{
	pthread_mutex_lock(&a->kdf_mu);
	while (a->kdf_running >= a->opt.max_kdf)
		pthread_cond_wait(&a->kdf_cv, &a->kdf_mu);
	a->kdf_running++;
	pthread_mutex_unlock(&a->kdf_mu);
}

static void kdf_leave(auth *a)
{
	pthread_mutex_lock(&a->kdf_mu);
	a->kdf_running--;
	pthread_cond_signal(&a->kdf_cv);
	pthread_mutex_unlock(&a->kdf_mu);
}

static void set_who(char *who, const char *name)
{
	if (who)
		snprintf(who, AUTH_NAME_MAX + 1, "%s", name);
}

static enum auth_result check_password(auth *a, const char *user, size_t user_len, const char *password,
				       size_t password_len, const struct sockaddr *peer, char *who)
{
	uint8_t digest[crypto_generichash_BYTES];
	const char *hash = a->dummy_hash;
	long found = -1, cached;
	bool ok;

	if (password_len > AUTH_PASSWORD_MAX || user_len > AUTH_NAME_MAX) {
		/* Refused before the cache and the hash: no length decides how long we work. */
		if (!limit_take(a, peer))
			return AUTH_LIMITED;
		return AUTH_DENIED;
	}
	cache_digest(a, digest, user, user_len, password, password_len);
	cached = cache_find(a, digest);
	if (cached >= 0) {
		atomic_fetch_add(&a->n_cache_hits, 1);
		set_who(who, a->users[cached].name);
		return AUTH_OK;
	}
	if (!limit_take(a, peer))
		return AUTH_LIMITED;
	for (size_t i = 0; i < a->n_users; i++) {
		if (strlen(a->users[i].name) == user_len && memcmp(a->users[i].name, user, user_len) == 0) {
			found = (long)i;
			hash = a->users[i].hash;
			break;
		}
	}
	/* An unknown user is checked against the dummy hash: the same time either way. */
	kdf_enter(a);
	ok = crypto_pwhash_str_verify(hash, password, password_len) == 0 && found >= 0;
	kdf_leave(a);
	if (!ok)
		return AUTH_DENIED;
	limit_refund(a, peer);
	cache_put(a, digest, (uint32_t)found);
	set_who(who, a->users[found].name);
	return AUTH_OK;
}

static enum auth_result check_token(auth *a, const char *token, size_t len, const struct sockaddr *peer, char *who)
{
	uint8_t digest[crypto_generichash_BYTES];
	long found = -1;

	if (!limit_take(a, peer))
		return AUTH_LIMITED;
	token_digest(digest, token, len);
	/* Every entry is compared, in constant time each: no early exit says which one was close. */
	for (size_t i = 0; i < a->n_tokens; i++)
		if (sodium_memcmp(a->tokens[i].digest, digest, sizeof digest) == 0)
			found = (long)i;
	if (found < 0)
		return AUTH_DENIED;
	limit_refund(a, peer);
	set_who(who, a->tokens[found].name);
	return AUTH_OK;
}

/* Matches the scheme word of an Authorization value (case-insensitive) and skips the spaces after it. */
static const char *scheme(const char *value, const char *name)
{
	size_t n = strlen(name);

	while (*value == ' ' || *value == '\t')
		value++;
	if (strncasecmp(value, name, n) != 0 || (value[n] != ' ' && value[n] != '\t'))
		return NULL;
	value += n;
	while (*value == ' ' || *value == '\t')
		value++;
	return value;
}

/* The length of s without trailing spaces. */
static size_t trimmed_len(const char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n;
}

static enum auth_result check(auth *a, const char *user, const char *password, const char *authorization,
			      const struct sockaddr *peer, char *who)
{
	const char *v;

	if (user && password && user[0] && password[0])
		return check_password(a, user, strlen(user), password, strlen(password), peer, who);
	if (!authorization)
		return AUTH_MISSING;
	if ((v = scheme(authorization, "Basic")) != NULL) {
		/* Room for the longest name and password: anything longer cannot match. */
		char buf[AUTH_NAME_MAX + 1 + AUTH_PASSWORD_MAX + 1];
		size_t len = 0, v_len = trimmed_len(v);
		enum auth_result r;
		char *colon;

		if (v_len > (sizeof buf - 1) / 3 * 4 + 4) {
			if (!limit_take(a, peer))
				return AUTH_LIMITED;
			return AUTH_DENIED;
		}
		if (sodium_base642bin((unsigned char *)buf, sizeof buf - 1, v, v_len, NULL, &len, NULL,
				      sodium_base64_VARIANT_ORIGINAL) != 0)
			return AUTH_MISSING;
		buf[len] = '\0';
		colon = memchr(buf, ':', len);
		if (!colon || colon == buf) {
			sodium_memzero(buf, sizeof buf);
			return AUTH_MISSING;
		}
		r = check_password(a, buf, (size_t)(colon - buf), colon + 1, len - (size_t)(colon - buf) - 1, peer,
				   who);
		sodium_memzero(buf, sizeof buf);
		return r;
	}
	if ((v = scheme(authorization, "Token")) != NULL) {
		size_t v_len = trimmed_len(v);
		const char *colon = memchr(v, ':', v_len);

		if (v_len == 0)
			return AUTH_MISSING;
		if (colon && colon > v) /* InfluxDB 1.8: Token user:password */
			return check_password(a, v, (size_t)(colon - v), colon + 1, v_len - (size_t)(colon - v) - 1,
					      peer, who);
		return check_token(a, v, v_len, peer, who);
	}
	if ((v = scheme(authorization, "Bearer")) != NULL) {
		size_t v_len = trimmed_len(v);

		if (v_len == 0)
			return AUTH_MISSING;
		return check_token(a, v, v_len, peer, who);
	}
	return AUTH_MISSING;
}

enum auth_result auth_check(auth *a, const char *user, const char *password, const char *authorization,
			    const struct sockaddr *peer, char *who)
{
	enum auth_result r = check(a, user, password, authorization, peer, who);

	switch (r) {
	case AUTH_OK: atomic_fetch_add(&a->n_ok, 1); break;
	case AUTH_MISSING: atomic_fetch_add(&a->n_missing, 1); break;
	case AUTH_DENIED: atomic_fetch_add(&a->n_denied, 1); break;
	case AUTH_LIMITED: atomic_fetch_add(&a->n_limited, 1); break;
	}
	return r;
}

unsigned auth_http_check(void *ctx, const ingest_http_credentials *c, const char **msg)
{
	char who[AUTH_NAME_MAX + 1];

	switch (auth_check(ctx, c->user, c->password, c->authorization, c->peer, who)) {
	case AUTH_OK:
		return 0;
	case AUTH_MISSING:
		*msg = "unable to parse authentication credentials";
		return 401;
	case AUTH_LIMITED:
		*msg = "too many failed authentication attempts from this address: retry later";
		return 429;
	case AUTH_DENIED:
	default:
		*msg = "authorization failed";
		return 401;
	}
}

void auth_metrics(auth *a, FILE *f)
{
	fprintf(f,
		"# HELP strata_auth_ok_total Requests whose credentials were accepted.\n"
		"# TYPE strata_auth_ok_total counter\nstrata_auth_ok_total %llu\n"
		"# HELP strata_auth_cache_hits_total Accepted passwords found in the cache of recent checks.\n"
		"# TYPE strata_auth_cache_hits_total counter\nstrata_auth_cache_hits_total %llu\n"
		"# HELP strata_auth_failures_total Requests refused for wrong credentials (401).\n"
		"# TYPE strata_auth_failures_total counter\nstrata_auth_failures_total %llu\n"
		"# HELP strata_auth_missing_total Requests refused without credentials (401).\n"
		"# TYPE strata_auth_missing_total counter\nstrata_auth_missing_total %llu\n"
		"# HELP strata_auth_limited_total Requests refused unchecked after too many failures (429).\n"
		"# TYPE strata_auth_limited_total counter\nstrata_auth_limited_total %llu\n",
		(unsigned long long)atomic_load(&a->n_ok), (unsigned long long)atomic_load(&a->n_cache_hits),
		(unsigned long long)atomic_load(&a->n_denied), (unsigned long long)atomic_load(&a->n_missing),
		(unsigned long long)atomic_load(&a->n_limited));
}

/* ---- editing the file ---- */

int auth_file_set(const char *path, const char *kind, const char *name, const char *value, bool *out_replaced)
{
	char tmp[4096], *text = NULL;
	size_t len = 0, name_len = strlen(name), kind_len = strlen(kind);
	const char *p, *end;
	FILE *f = NULL;
	int rc, fd = -1;

	*out_replaced = false;
	if (!auth_valid_name(name))
		return strata_error(STRATA_EINVAL, "bad name \"%s\": 1 to %d letters, digits, '.', '_', '@' or '-'",
				    name, AUTH_NAME_MAX);
	rc = read_file(path, &text, &len);
	if (rc == -ENOENT) {
		strata_error_clear();
		rc = 0;
	}
	if (rc)
		return rc;
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
		rc = strata_error(STRATA_EINVAL, "path too long: %s", path);
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = strata_error(-errno, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	f = fdopen(fd, "w");
	if (!f) {
		rc = strata_error(-errno, "cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		goto out;
	}
	if (len == 0)
		fputs("# strata credentials: \"user NAME ARGON2ID-HASH\" or \"token NAME BLAKE2B-HEX\" "
		      "(docs/security.md)\n", f);
	p = text ? text : "";
	end = p + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *line_end = nl ? nl : end, *q = p;
		const char *k, *n;
		size_t k_len = next_word(&q, line_end, &k), n_len = next_word(&q, line_end, &n);

		if (k_len == kind_len && memcmp(k, kind, k_len) == 0 && n_len == name_len &&
		    memcmp(n, name, n_len) == 0) {
			*out_replaced = true;
		} else {
			fwrite(p, 1, (size_t)(line_end - p), f);
			fputc('\n', f);
		}
		p = nl ? nl + 1 : end;
	}
	if (value)
		fprintf(f, "%s %s %s\n", kind, name, value);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		rc = strata_error(-errno, "cannot write %s: %s", tmp, strerror(errno));
		fclose(f);
		unlink(tmp);
		goto out;
	}
	if (fclose(f) != 0) {
		rc = strata_error(-errno, "cannot write %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) != 0) {
		rc = strata_error(-errno, "cannot replace %s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	{
		/* The rename is durable once the directory is synced. */
		char dir[4096];
		const char *slash = strrchr(path, '/');
		int dfd;

		snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1,
			 slash ? path : ".");
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
out:
	if (text) {
		sodium_memzero(text, len);
		strata_free(text);
	}
	return rc;
}
