/*
 * backup.c — `strata backup` and `strata restore`, and the server's
 * POST /debug/backup route.
 *
 * A backup is a checkpoint (lsm_checkpoint, lsm/checkpoint.c): a data
 * directory of its own — the live tables hard-linked (copied across file
 * systems), the WAL segments not yet flushed and the catalog copied, a
 * fresh MANIFEST and CURRENT — holding every write acknowledged before it
 * began. A running server makes it on request (only from loopback, into a
 * directory that does not exist yet); a directory no server holds is opened
 * and checkpointed the same way. Restoring copies a backup into an empty
 * or new data directory, then checks every checksum (as `strata check`)
 * and opens it once, as the server would.
 */
#include "tools/cli.h"
#include "tools/store.h"
#include "ingest/address.h"
#include "ingest/http.h"
#include "lsm/alloc.h"
#include "lsm/catalog_format.h"
#include "lsm/lockfile.h"
#include "lsm/log.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define RESPONSE_MAX (1u << 20)
#define BACKUP_TIMEOUT_S 3600 /* the longest a server may take to answer */

/* ---- the server side: POST /debug/backup?dir=ABSOLUTE_PATH ---- */

static int reply(struct MHD_Connection *conn, unsigned status, const char *body)
{
	size_t len = strlen(body);
	char *copy = strata_malloc(len + 1);
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!copy)
		return MHD_NO;
	memcpy(copy, body, len + 1);
	resp = MHD_create_response_from_buffer_with_free_callback(len, copy, strata_free);
	if (!resp) {
		strata_free(copy);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "X-Influxdb-Version", STRATA_HTTP_VERSION);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, "Allow", "POST");
	ret = ingest_http_queue_response(conn, status, resp);
	return ret;
}

/* JSON string body of s (quotes and control characters escaped) into out. */
static void json_escape(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s && n + 7 < cap; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			out[n++] = '\\';
			out[n++] = (char)ch;
		} else if (ch < 0x20) {
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", ch);
		} else {
			out[n++] = (char)ch;
		}
	}
	out[n] = '\0';
}

static int reply_error(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	char esc[1024], body[1200];

	json_escape(esc, sizeof esc, msg);
	snprintf(body, sizeof body, "{\"error\":\"%s\"}\n", esc);
	return reply(conn, status, body);
}

static bool from_loopback(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = info ? info->client_addr : NULL;

	if (!sa)
		return false;
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

int cli_backup_http_handle(void *ctx, struct MHD_Connection *conn, const char *method, const char *url,
			   const char *body, size_t body_len)
{
	lsm_db *db = ctx;
	lsm_checkpoint_info info;
	const char *dir;
	char esc[4096 + 64], out[8192];
	uint64_t t0;
	int rc;

	(void)body;
	(void)body_len;
	if (strcmp(url, "/debug/backup") != 0)
		return reply_error(conn, MHD_HTTP_NOT_FOUND, "404 page not found");
	if (strcmp(method, "POST") != 0)
		return reply_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use POST");
	if (!from_loopback(conn))
		return reply_error(conn, MHD_HTTP_FORBIDDEN, "backups are taken only on request from loopback");
	dir = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "dir");
	if (!dir || !dir[0])
		return reply_error(conn, MHD_HTTP_BAD_REQUEST, "missing required parameter \"dir\"");
	if (dir[0] != '/' || strlen(dir) > 4000)
		return reply_error(conn, MHD_HTTP_BAD_REQUEST, "\"dir\" must be an absolute path (of at most 4000 bytes)");
	LOG_INFO("event=backup_requested dir=%s", dir);
	t0 = cli_now_ns();
	rc = lsm_checkpoint(db, dir, &info);
	if (rc) {
		char msg[600];

		snprintf(msg, sizeof msg, "backup to %s failed: %s", dir, strata_last_error());
		LOG_WARN("event=backup_failed dir=%s error=\"%s\"", dir, strata_last_error());
		return reply_error(conn, rc == -EEXIST ? MHD_HTTP_CONFLICT : rc == -ENOENT || rc == -ENOTDIR
				   ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
	}
	json_escape(esc, sizeof esc, dir);
	snprintf(out, sizeof out,
		 "{\"dir\":\"%s\",\"tables\":%" PRIu64 ",\"linked\":%" PRIu64 ",\"table_bytes\":%" PRIu64
		 ",\"wal_segments\":%" PRIu64 ",\"wal_bytes\":%" PRIu64 ",\"catalog_bytes\":%" PRIu64
		 ",\"last_seq\":%" PRIu64 ",\"ms\":%.1f}\n",
		 esc, info.n_tables, info.n_linked, info.table_bytes, info.n_wal_segments, info.wal_bytes,
		 info.catalog_bytes, info.last_seq, (double)(cli_now_ns() - t0) / 1e6);
	return reply(conn, MHD_HTTP_OK, out);
}

/* ---- strata backup ---- */

static void backup_usage(FILE *f)
{
	fputs("usage: strata backup [--data DIR | --http ADDR:PORT] OUT\n"
	      "Writes a consistent copy of a data directory to OUT (which must not exist): the tables\n"
	      "(hard-linked when OUT is on the same file system, else copied), the WAL not yet\n"
	      "flushed, the catalog and a fresh manifest. Every write acknowledged before the backup\n"
	      "began is in it. OUT is itself a data directory: `strata restore` copies it back, and\n"
	      "`strata serve --data OUT` or `strata query --data OUT` open it as it is.\n"
	      "  --data DIR        back up a data directory no server holds (default ./strata-data)\n"
	      "  --http ADDR:PORT  ask the server listening there to take the backup while it serves\n"
	      "                    (POST /debug/backup, accepted from loopback only; OUT is a path on\n"
	      "                    the server's machine)\n"
	      "Exit status: 0 done, 1 failed, 2 usage.\n",
	      f);
}

static void print_info(const char *out, const lsm_checkpoint_info *info, double ms)
{
	char tb[32], wb[32], cb[32];

	cli_format_bytes(tb, sizeof tb, info->table_bytes);
	cli_format_bytes(wb, sizeof wb, info->wal_bytes);
	cli_format_bytes(cb, sizeof cb, info->catalog_bytes);
	printf("backup in %s: %" PRIu64 " tables (%s, %" PRIu64 " hard-linked), %" PRIu64 " WAL segments (%s), "
	       "catalog %s; writes up to sequence number %" PRIu64 "; %.0f ms\n", out, info->n_tables, tb,
	       info->n_linked, info->n_wal_segments, wb, cb, info->last_seq, ms);
}

static int backup_local(const char *data, const char *out)
{
	lsm_options opt;
	lsm_checkpoint_info info;
	lsm_db *db = NULL;
	uint64_t t0 = cli_now_ns();
	int rc;

	cli_store_options(&opt);
	opt.create_if_missing = false;
	opt.compact.disable = true; /* the directory is opened only to copy it */
	fprintf(stderr, "opening %s\n", data);
	rc = lsm_open(&db, data, &opt);
	if (rc) {
		cli_fail("cannot open the data directory", rc);
		return 1;
	}
	fprintf(stderr, "backing up %s to %s\n", data, out);
	rc = lsm_checkpoint(db, out, &info);
	if (rc) {
		cli_fail("backup failed", rc);
		lsm_close(db);
		return 1;
	}
	rc = lsm_close(db);
	if (rc) {
		cli_fail("closing the data directory", rc);
		return 1;
	}
	print_info(out, &info, (double)(cli_now_ns() - t0) / 1e6);
	return 0;
}

/* Percent-encodes s into out (what a query string value needs). */
static void url_encode(char *out, size_t cap, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s && n + 4 < cap; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    strchr("-._~/", ch)) {
			out[n++] = (char)ch;
		} else {
			out[n++] = '%';
			out[n++] = hex[ch >> 4];
			out[n++] = hex[ch & 15];
		}
	}
	out[n] = '\0';
}

/* Sends one request and reads the whole answer (the server closes the connection). */
static int http_post(const char *addr, const char *target, char **out_resp, size_t *out_len)
{
	struct sockaddr_storage sa;
	socklen_t sa_len;
	struct timeval tv = { .tv_sec = BACKUP_TIMEOUT_S };
	char req[16384];
	char *resp = NULL;
	size_t len = 0;
	int fd, rc, n;

	*out_resp = NULL;
	rc = ingest_parse_addr(addr, &sa, &sa_len);
	if (rc)
		return rc;
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return strata_error(-errno, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	tv.tv_sec = 30;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sa_len) != 0) {
		rc = strata_error(-errno, "cannot connect to %s: %s", addr, strerror(errno));
		goto out;
	}
	n = snprintf(req, sizeof req, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		     target, addr);
	if (n < 0 || (size_t)n >= sizeof req) {
		rc = strata_error(STRATA_EINVAL, "request too long");
		goto out;
	}
	for (int sent = 0; sent < n;) {
		ssize_t k = send(fd, req + sent, (size_t)(n - sent), MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			rc = strata_error(-errno, "send to %s: %s", addr, strerror(errno));
			goto out;
		}
		sent += (int)k;
	}
	resp = strata_malloc(RESPONSE_MAX + 1);
	if (!resp) {
		rc = -ENOMEM;
		goto out;
	}
	while (len < RESPONSE_MAX) {
		ssize_t k = recv(fd, resp + len, RESPONSE_MAX - len, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			rc = strata_error(-errno, "no answer from %s: %s", addr,
					  errno == EAGAIN ? "timed out" : strerror(errno));
			goto out;
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	resp[len] = '\0';
	*out_resp = resp;
	*out_len = len;
	resp = NULL;
out:
	strata_free(resp);
	close(fd);
	return rc;
}

static int backup_http(const char *addr, const char *out)
{
	char abs[4096], enc[12288], target[12400];
	char *resp = NULL, *body;
	size_t len = 0;
	int status, rc;

	if (out[0] == '/') {
		snprintf(abs, sizeof abs, "%s", out);
	} else {
		char cwd[4000];

		if (!getcwd(cwd, sizeof cwd)) {
			fprintf(stderr, "strata backup: cannot read the working directory: %s\n", strerror(errno));
			return 1;
		}
		snprintf(abs, sizeof abs, "%s/%s", cwd, out);
	}
	url_encode(enc, sizeof enc, abs);
	snprintf(target, sizeof target, "/debug/backup?dir=%s", enc);
	fprintf(stderr, "asking the server at %s to back up to %s\n", addr, abs);
	rc = http_post(addr, target, &resp, &len);
	if (rc) {
		cli_fail("backup failed", rc);
		return 1;
	}
	body = strstr(resp, "\r\n\r\n");
	if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1 || !body) {
		fprintf(stderr, "strata backup: not an HTTP answer from %s\n", addr);
		strata_free(resp);
		return 1;
	}
	body += 4;
	if (status != 200) {
		fprintf(stderr, "strata backup: the server answered %d: %s", status, body);
		if (!body[0] || body[strlen(body) - 1] != '\n')
			fputc('\n', stderr);
		strata_free(resp);
		return 1;
	}
	printf("%s", body);
	strata_free(resp);
	return 0;
}

int cli_backup(int argc, char **argv)
{
	const char *data = NULL, *http = NULL, *out = NULL;

	for (int i = 1; i < argc; i++) {
		const char *v;

		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			backup_usage(stdout);
			return 0;
		} else if (cli_option(argc, argv, &i, "--data", &v)) {
			data = v;
		} else if (cli_option(argc, argv, &i, "--http", &v)) {
			http = v;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "strata backup: unknown option '%s'\n", argv[i]);
			backup_usage(stderr);
			return 2;
		} else if (!out) {
			out = argv[i];
		} else {
			backup_usage(stderr);
			return 2;
		}
	}
	if (!out || (data && http)) {
		if (data && http)
			fprintf(stderr, "strata backup: --data and --http exclude each other\n");
		backup_usage(stderr);
		return 2;
	}
	if (http)
		return backup_http(http, out);
	return backup_local(data ? data : "./strata-data", out);
}

/* ---- strata restore ---- */

static void restore_usage(FILE *f)
{
	fputs("usage: strata restore BACKUP --data DIR\n"
	      "Copies a backup (made by `strata backup`) into DIR, which must be empty or not exist,\n"
	      "then verifies every checksum of the copy (as `strata check`) and opens it once as the\n"
	      "server would. Start `strata serve --data DIR` afterwards.\n"
	      "Exit status: 0 restored and whole, 1 failed or damaged, 2 usage.\n",
	      f);
}

typedef struct restore_progress {
	uint64_t done, total, base;
	uint64_t last_ns;        /* the first line comes a quarter second (5 s) in */
	bool tty, shown;
} restore_progress;

static void restore_tick(void *ctx, uint64_t bytes)
{
	restore_progress *p = ctx;
	uint64_t t = cli_now_ns();
	char a[32], b[32];

	if (t - p->last_ns < (p->tty ? 250000000u : 5000000000u))
		return;
	p->last_ns = t;
	p->shown = true;
	cli_format_bytes(a, sizeof a, p->base + bytes);
	cli_format_bytes(b, sizeof b, p->total);
	fprintf(stderr, "%scopying %s / %s%s", p->tty ? "\r" : "", a, b, p->tty ? "   " : "\n");
}

/* Whether name is a file of a data directory a restore copies (relative to the directory or its sub). */
static bool restorable(const char *sub, const char *name)
{
	size_t n = strlen(name);

	if (name[0] == '.')
		return false;
	if (strcmp(sub, "sst") == 0)
		return n > 4 && strcmp(name + n - 4, ".sst") == 0;
	if (strcmp(sub, "wal") == 0)
		return n > 4 && strcmp(name + n - 4, ".wal") == 0;
	return strcmp(name, "CURRENT") == 0 || strncmp(name, "MANIFEST-", 9) == 0 ||
	       strcmp(name, LSM_CATALOG_FILE) == 0;
}

/* Copies (or, with total set, only sums the sizes of) the files of the backup. */
static int restore_walk(const char *from, const char *to, restore_progress *p, bool count_only, unsigned *n_files)
{
	static const char *const subs[] = { "", "sst", "wal" };
	char src_dir[4096], dst_dir[4096], src[8192], dst[8192];
	int rc = 0;

	for (size_t s = 0; s < 3 && rc == 0; s++) {
		struct dirent *de;
		DIR *d;

		snprintf(src_dir, sizeof src_dir, "%s%s%s", from, subs[s][0] ? "/" : "", subs[s]);
		snprintf(dst_dir, sizeof dst_dir, "%s%s%s", to, subs[s][0] ? "/" : "", subs[s]);
		d = opendir(src_dir);
		if (!d) {
			if (errno == ENOENT && s > 0)
				continue;
			return strata_error(-errno, "open %s: %s", src_dir, strerror(errno));
		}
		if (!count_only && s > 0 && mkdir(dst_dir, 0755) != 0 && errno != EEXIST)
			rc = strata_error(-errno, "mkdir %s: %s", dst_dir, strerror(errno));
		while (rc == 0 && (de = readdir(d)) != NULL) {
			struct stat st;

			if (!restorable(subs[s], de->d_name))
				continue;
			snprintf(src, sizeof src, "%s/%s", src_dir, de->d_name);
			if (stat(src, &st) != 0 || !S_ISREG(st.st_mode))
				continue;
			if (count_only) {
				p->total += (uint64_t)st.st_size;
				continue;
			}
			snprintf(dst, sizeof dst, "%s/%s", dst_dir, de->d_name);
			p->base = p->done;
			rc = cli_copy_file(src, dst, restore_tick, p);
			p->done += (uint64_t)st.st_size;
			(*n_files)++;
		}
		closedir(d);
		if (rc == 0 && !count_only)
			rc = cli_sync_dir(dst_dir);
	}
	return rc;
}

/* 0 when dir does not exist (it is created) or is an empty directory. */
static int prepare_target(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d) {
		if (errno != ENOENT)
			return strata_error(-errno, "%s: %s", dir, strerror(errno));
		if (mkdir(dir, 0755) != 0)
			return strata_error(-errno, "mkdir %s: %s", dir, strerror(errno));
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			closedir(d);
			return strata_error(-EEXIST, "%s is not empty: restore only into an empty or new directory", dir);
		}
	}
	closedir(d);
	return 0;
}

int cli_restore(int argc, char **argv)
{
	const char *backup = NULL, *data = NULL;
	restore_progress p = { 0 };
	char total[32];
	unsigned n_files = 0;
	cli_store store = { 0 };
	lsm_options opt;
	uint64_t t0 = cli_now_ns(), dummy;
	int rc, lock;

	for (int i = 1; i < argc; i++) {
		const char *v;

		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			restore_usage(stdout);
			return 0;
		} else if (cli_option(argc, argv, &i, "--data", &v)) {
			data = v;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "strata restore: unknown option '%s'\n", argv[i]);
			restore_usage(stderr);
			return 2;
		} else if (!backup) {
			backup = argv[i];
		} else {
			restore_usage(stderr);
			return 2;
		}
	}
	if (!backup || !data) {
		restore_usage(stderr);
		return 2;
	}
	rc = cli_current_read(backup, &dummy);
	if (rc) {
		cli_fail("not a backup (no valid CURRENT)", rc);
		return 1;
	}
	rc = prepare_target(data);
	if (rc) {
		cli_fail("cannot restore", rc);
		return 1;
	}
	/* Held while copying, so no server starts on a half-restored directory. */
	lock = lsm_lockfile_acquire(data);
	if (lock < 0) {
		cli_fail("cannot restore", lock);
		return 1;
	}
	p.tty = isatty(STDERR_FILENO);
	p.last_ns = cli_now_ns();
	rc = restore_walk(backup, data, &p, true, &n_files);
	if (rc == 0) {
		cli_format_bytes(total, sizeof total, p.total);
		fprintf(stderr, "restoring %s into %s (%s)\n", backup, data, total);
		rc = restore_walk(backup, data, &p, false, &n_files);
	}
	if (rc == 0)
		rc = cli_sync_dir(data);
	lsm_lockfile_release(lock);
	if (p.tty && p.shown)
		fputs("\r\033[K", stderr);
	if (rc) {
		cli_fail("restore failed", rc);
		return 1;
	}
	fprintf(stderr, "copied %u files in %.1f s; verifying\n", n_files, (double)(cli_now_ns() - t0) / 1e9);
	fflush(stdout);

	/* Every checksum, as `strata check` reports it. */
	{
		char *check_argv[] = { "check", "--data", (char *)data, NULL };

		if (cli_check(3, check_argv) != 0) {
			fprintf(stderr, "strata restore: the restored directory %s is damaged (see above)\n", data);
			return 1;
		}
	}
	/* And the engine opens it: recovery replays the WAL copied with the backup. */
	cli_store_options(&opt);
	opt.create_if_missing = false;
	opt.compact.disable = true;
	if (cli_store_open(&store, data, &opt, "the restored directory does not open") != 0)
		return 1;
	{
		lsm_stats st;
		char **dbs = NULL;
		size_t n_dbs = 0;

		lsm_get_stats(store.db, &st);
		lsm_catalog_databases(store.catalog, &dbs, &n_dbs);
		cli_format_bytes(total, sizeof total, st.file_bytes);
		printf("restored %s into %s: %" PRIu64 " tables (%s) in %" PRIu64 " windows, %zu databases, %" PRIu64
		       " series\n", backup, data, st.n_files, total, st.n_windows, n_dbs,
		       lsm_catalog_series_count(store.catalog));
		lsm_catalog_free_names(dbs, n_dbs);
	}
	rc = cli_store_close(&store);
	if (rc) {
		cli_fail("closing the restored directory", rc);
		return 1;
	}
	return 0;
}
