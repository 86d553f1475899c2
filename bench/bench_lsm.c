/*
 * bench_lsm.c — the storage-core figures of BENCHMARKS.md: strata's lsm.h
 * against RocksDB (its C API), with matched options, in the same run.
 *
 * Workloads (16-byte series-timestamp keys, 100-byte values that compress to
 * about half, as db_bench's --compression_ratio=0.5):
 *   fillseq       keys in order, one key per write, no sync
 *   fillbatch     keys in order, --batch keys per write, no sync
 *   fillrandom    the same keys in a random order, one key per write, no sync
 *   fillsync      random keys, one key per synced write, from each thread
 *                 count of --threads, for --duration seconds
 *   readrandom    point lookups of random existing keys after a fill + flush
 *   seekrandom    seek to a random existing key, then read 100 entries
 *
 * Why it is built this way:
 * - Both engines run every workload through the same thin adapter (struct
 *   eng), with the same key sequence from the same seed, so the only thing
 *   that differs between two rows is the engine. The runs of one workload are
 *   interleaved (strata, rocksdb, rocksdb, strata, ...) so that drift of a
 *   shared, noisy machine hits both alike; the ratio column pairs run r of
 *   one engine with run r of the other.
 * - Latency is measured around every operation (a write call, a lookup, a
 *   seek with its 100 reads) into a log-bucket histogram (16 buckets per
 *   power of two, so a percentile is within about 3 %), not sampled.
 * - Write amplification is measured two ways: from strata's own counters
 *   (WAL bytes + table bytes written by flushes, over user bytes), and for
 *   both engines from the kernel's count of bytes this process dirtied in
 *   the page cache (/proc/self/io write_bytes), which counts WAL, tables,
 *   compactions and metadata alike. Each fill ends with an untimed flush so
 *   that the tables are part of the figure.
 * - Every read checks the value (and every scanned key) against what was
 *   written, so a fast but wrong engine shows up as WRONG, not as a win.
 * - A no-sync fill stops at --fill-max-seconds, so that one slow engine
 *   cannot stretch the whole run; the report says when that happened.
 *
 * Threads: the main thread runs everything except fillsync, whose writer
 * threads each own their writer and histogram; the only shared variable is
 * the stop flag (an atomic).
 */
#include "lsm/alloc.h"
#include "lsm/batch.h"
#include "lsm/key.h"
#include "lsm/log.h"
#include "lsm/lsm.h"
#include "lsm/status.h"

#ifdef STRATA_HAVE_ROCKSDB
#include <rocksdb/c.h>
#endif

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define KEY_BYTES LSM_UKEY_LEN
#define VALUE_BYTES 100
#define VALUE_BUF_BYTES (1u << 20)
#define N_CHUNKS (VALUE_BUF_BYTES / VALUE_BYTES)
#define SCAN_ENTRIES 100
#define MAX_RUNS 15
#define MAX_THREAD_COUNTS 8
#define MAX_THREADS 256
#define KEYS_PER_SERIES 10000
#define TS_STEP_NS INT64_C(10000000000)          /* 10 s */
#define TS_BASE_NS INT64_C(1767225600000000000)  /* 2026-01-01T00:00:00Z */

enum engine_kind { ENG_STRATA, ENG_ROCKSDB, N_ENGINES };

static const char *const engine_names[N_ENGINES] = { "strata", "rocksdb" };

enum workload {
	WL_FILLSEQ,
	WL_FILLBATCH,
	WL_FILLRANDOM,
	WL_FILLSYNC,
	WL_READRANDOM,
	WL_SEEKRANDOM,
	N_WORKLOADS
};

static const char *const workload_names[N_WORKLOADS] = {
	"fillseq", "fillbatch", "fillrandom", "fillsync", "readrandom", "seekrandom",
};

struct cfg {
	uint64_t n;
	uint64_t reads;
	uint64_t seeks;
	int batch;
	int threads[MAX_THREAD_COUNTS];
	int n_threads;
	double duration_s;
	double fill_max_s;   /* a no-sync fill stops after this long */
	int runs;
	unsigned engines;    /* bit per engine_kind */
	unsigned workloads;  /* bit per workload */
	bool read_fill_seq;  /* load the read database in key order (else random) */
	const char *dir;
	uint64_t seed;
	size_t memtable_bytes;
	size_t block_cache_bytes;
	size_t block_bytes;
	int restart_interval;
	int bloom_bits;
	int zstd_level;
	enum lsm_io_kind wal_io;
};

static struct cfg cfg = {
	.n = 500000,
	.reads = 100000,
	.seeks = 10000,
	.batch = 1000,
	.threads = { 1, 4, 16 },
	.n_threads = 3,
	.duration_s = 2.0,
	.fill_max_s = 15.0,
	.runs = 3,
	.read_fill_seq = false,
	.seed = 42,
	.memtable_bytes = 64u << 20,
	.block_cache_bytes = 256u << 20,
	.block_bytes = 4096,
	.restart_interval = 16,
	.bloom_bits = 10,
	.zstd_level = 3,
	.wal_io = LSM_IO_AUTO,
};

static uint8_t value_buf[VALUE_BUF_BYTES];
static uint32_t *perm;     /* a random permutation of [0, n) */
static char root_dir[PATH_MAX / 2]; /* leaves room for the run directories */
static char rocksdb_version[32] = "unknown";
static char strata_wal_io[32] = "unknown";

/* ---- small helpers ---------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64: a fast generator with a full 64-bit state, seeded explicitly. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t *state, uint64_t bound)
{
	return (uint64_t)(((unsigned __int128)rng_next(state) * bound) >> 64);
}

/* Key i of the main key set: series i / 10000, one point every 10 s. */
static void key_of(uint8_t out[KEY_BYTES], uint64_t i)
{
	lsm_ukey_encode(out, i / KEYS_PER_SERIES,
			TS_BASE_NS + (int64_t)(i % KEYS_PER_SERIES) * TS_STEP_NS);
}

/* The value of key i: one 100-byte chunk of value_buf. */
static const uint8_t *value_of(uint64_t i)
{
	return value_buf + (i % N_CHUNKS) * VALUE_BYTES;
}

/*
 * As db_bench's RandomGenerator with compression ratio 0.5: each 100-byte
 * chunk is 50 random printable bytes written twice.
 */
static void values_init(uint64_t seed)
{
	uint64_t st = seed ^ UINT64_C(0x5eed);

	for (size_t c = 0; c < N_CHUNKS; c++) {
		uint8_t *p = value_buf + c * VALUE_BYTES;

		for (size_t j = 0; j < VALUE_BYTES / 2; j++)
			p[j] = (uint8_t)(' ' + rng_below(&st, 95));
		memcpy(p + VALUE_BYTES / 2, p, VALUE_BYTES / 2);
	}
}

static int perm_init(uint64_t n, uint64_t seed)
{
	uint64_t st = seed;

	perm = strata_malloc(n * sizeof(*perm));
	if (!perm)
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i++)
		perm[i] = (uint32_t)i;
	for (uint64_t i = n - 1; i > 0; i--) {
		uint64_t j = rng_below(&st, i + 1);
		uint32_t t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	return 0;
}

/* Bytes this process has dirtied in the page cache (all threads, ever). */
static uint64_t proc_write_bytes(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	uint64_t v = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "write_bytes: %" SCNu64, &v) == 1)
			break;
	}
	fclose(f);
	return v;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	if (remove(path) != 0)
		fprintf(stderr, "bench_lsm: cannot remove %s: %s\n", path, strerror(errno));
	return 0;
}

static void rm_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* 1234567 -> "1,234,567" */
static const char *fmt_count(char *buf, size_t len, double v)
{
	char digits[32];
	size_t n, o = 0;

	snprintf(digits, sizeof(digits), "%.0f", v < 0 ? 0 : v);
	n = strlen(digits);
	for (size_t i = 0; i < n && o + 2 < len; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

/* Prints s left-aligned in width columns, counting UTF-8 characters. */
static void print_cell(const char *s, int width)
{
	int chars = 0;

	for (const char *p = s; *p; p++)
		chars += ((unsigned char)*p & 0xc0) != 0x80;
	fputs(s, stdout);
	for (; chars < width; chars++)
		putchar(' ');
}

static double median_of(const double *v, int n)
{
	double s[MAX_RUNS];

	for (int i = 0; i < n; i++)
		s[i] = v[i];
	for (int i = 1; i < n; i++) {
		double x = s[i];
		int j = i;

		while (j > 0 && s[j - 1] > x) {
			s[j] = s[j - 1];
			j--;
		}
		s[j] = x;
	}
	if (n == 0)
		return NAN;
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* ---- latency histogram -------------------------------------------------- */

#define HIST_BUCKETS 1024

struct hist {
	uint64_t count;
	uint64_t b[HIST_BUCKETS];
};

static unsigned hist_index(uint64_t v)
{
	unsigned msb;

	if (v < 16)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	return (msb - 3) * 16 + (unsigned)((v >> (msb - 4)) & 15);
}

static double hist_value(unsigned idx)
{
	unsigned msb, sub;
	double low, width;

	if (idx < 16)
		return idx;
	msb = idx / 16 + 3;
	sub = idx % 16;
	low = ldexp(16 + sub, (int)msb - 4);
	width = ldexp(1, (int)msb - 4);
	return low + width / 2;
}

static inline void hist_add(struct hist *h, uint64_t ns)
{
	h->b[hist_index(ns)]++;
	h->count++;
}

static void hist_merge(struct hist *into, const struct hist *h)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->b[i] += h->b[i];
	into->count += h->count;
}

/* The p-quantile in microseconds. */
static double hist_quantile_us(const struct hist *h, double p)
{
	uint64_t target, seen = 0;

	if (h->count == 0)
		return NAN;
	target = (uint64_t)ceil(p * (double)h->count);
	if (target == 0)
		target = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= target)
			return hist_value(i) / 1000.0;
	}
	return NAN;
}

/* ---- the engine adapter --------------------------------------------------- */

struct eng {
	enum engine_kind kind;
	lsm_db *sdb;
#ifdef STRATA_HAVE_ROCKSDB
	rocksdb_t *rdb;
	rocksdb_options_t *ropt;
	rocksdb_block_based_table_options_t *rtopt;
	rocksdb_cache_t *rcache;
	rocksdb_writeoptions_t *rwo_sync;
	rocksdb_writeoptions_t *rwo_nosync;
	rocksdb_readoptions_t *rro;
	rocksdb_flushoptions_t *rfo;
#endif
};

static void strata_options(lsm_options *o)
{
	lsm_options_default(o);
	o->create_if_missing = true;
	o->memtable_bytes = cfg.memtable_bytes;
	o->block_cache_bytes = cfg.block_cache_bytes;
	o->sst.block_bytes = cfg.block_bytes;
	o->sst.restart_interval = cfg.restart_interval;
	o->sst.bloom_bits_per_key = cfg.bloom_bits;
	o->sst.zstd_level = cfg.zstd_level;
	o->commit.relaxed = false;
	o->wal_io = cfg.wal_io;
}

static int strata_fail(char *err, size_t err_len, const char *what, int rc)
{
	snprintf(err, err_len, "strata %s: %s (%s)", what, strata_last_error(), strata_strerror(rc));
	return rc;
}

#ifdef STRATA_HAVE_ROCKSDB
static int rocksdb_fail(char *err, size_t err_len, const char *what, char *msg)
{
	snprintf(err, err_len, "rocksdb %s: %s", what, msg ? msg : "unknown error");
	rocksdb_free(msg);
	return -EIO;
}

static void rocksdb_release(struct eng *e)
{
	if (e->rdb)
		rocksdb_close(e->rdb);
	if (e->ropt)
		rocksdb_options_destroy(e->ropt);
	if (e->rtopt)
		rocksdb_block_based_options_destroy(e->rtopt);
	if (e->rcache)
		rocksdb_cache_destroy(e->rcache);
	if (e->rwo_sync)
		rocksdb_writeoptions_destroy(e->rwo_sync);
	if (e->rwo_nosync)
		rocksdb_writeoptions_destroy(e->rwo_nosync);
	if (e->rro)
		rocksdb_readoptions_destroy(e->rro);
	if (e->rfo)
		rocksdb_flushoptions_destroy(e->rfo);
}

static int rocksdb_open_matched(struct eng *e, const char *path, char *err, size_t err_len)
{
	char *msg = NULL;

	e->ropt = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(e->ropt, 1);
	rocksdb_options_set_write_buffer_size(e->ropt, cfg.memtable_bytes);
	rocksdb_options_set_compression(e->ropt, rocksdb_zstd_compression);
	/* window bits -14 is RocksDB's default; level as strata's; no dictionary */
	rocksdb_options_set_compression_options(e->ropt, -14, cfg.zstd_level, 0, 0);
	e->rtopt = rocksdb_block_based_options_create();
	rocksdb_block_based_options_set_block_size(e->rtopt, cfg.block_bytes);
	rocksdb_block_based_options_set_block_restart_interval(e->rtopt, cfg.restart_interval);
	if (cfg.bloom_bits > 0)
		rocksdb_block_based_options_set_filter_policy(e->rtopt,
			rocksdb_filterpolicy_create_bloom_full(cfg.bloom_bits));
	e->rcache = rocksdb_cache_create_lru(cfg.block_cache_bytes);
	rocksdb_block_based_options_set_block_cache(e->rtopt, e->rcache);
	rocksdb_options_set_block_based_table_factory(e->ropt, e->rtopt);

	e->rwo_sync = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(e->rwo_sync, 1);
	rocksdb_writeoptions_disable_WAL(e->rwo_sync, 0);
	e->rwo_nosync = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(e->rwo_nosync, 0);
	rocksdb_writeoptions_disable_WAL(e->rwo_nosync, 0);
	e->rro = rocksdb_readoptions_create();
	e->rfo = rocksdb_flushoptions_create();
	rocksdb_flushoptions_set_wait(e->rfo, 1);

	e->rdb = rocksdb_open(e->ropt, path, &msg);
	if (msg) {
		e->rdb = NULL;
		return rocksdb_fail(err, err_len, "open", msg);
	}
	return 0;
}
#endif

/* Opens a fresh database of the given engine in path. */
static int eng_open(struct eng *e, enum engine_kind kind, const char *path, char *err, size_t err_len)
{
	int rc = 0;

	memset(e, 0, sizeof(*e));
	e->kind = kind;
	if (kind == ENG_STRATA) {
		lsm_options o;

		strata_options(&o);
		rc = lsm_open(&e->sdb, path, &o);
		if (rc) {
			e->sdb = NULL;
			rc = strata_fail(err, err_len, "open", rc);
		}
	}
#ifdef STRATA_HAVE_ROCKSDB
	if (kind == ENG_ROCKSDB) {
		rc = rocksdb_open_matched(e, path, err, err_len);
		if (rc)
			rocksdb_release(e);
	}
#endif
	return rc;
}

static int eng_close(struct eng *e, char *err, size_t err_len)
{
	int rc = 0;

	if (e->kind == ENG_STRATA && e->sdb) {
		rc = lsm_close(e->sdb);
		if (rc)
			strata_fail(err, err_len, "close", rc);
		e->sdb = NULL;
	}
#ifdef STRATA_HAVE_ROCKSDB
	if (e->kind == ENG_ROCKSDB)
		rocksdb_release(e);
#endif
	return rc;
}

static int eng_flush(struct eng *e, char *err, size_t err_len)
{
	int rc = 0;

	if (e->kind == ENG_STRATA) {
		rc = lsm_flush(e->sdb);
		if (rc)
			strata_fail(err, err_len, "flush", rc);
	}
#ifdef STRATA_HAVE_ROCKSDB
	if (e->kind == ENG_ROCKSDB) {
		char *msg = NULL;

		rocksdb_flush(e->rdb, e->rfo, &msg);
		if (msg)
			rc = rocksdb_fail(err, err_len, "flush", msg);
	}
#endif
	return rc;
}

/* A write batch of either engine; one thread uses it. */
struct writer {
	struct eng *e;
	lsm_batch sb;
#ifdef STRATA_HAVE_ROCKSDB
	rocksdb_writebatch_t *rb;
#endif
};

static void writer_init(struct writer *w, struct eng *e)
{
	memset(w, 0, sizeof(*w));
	w->e = e;
	lsm_batch_init(&w->sb);
#ifdef STRATA_HAVE_ROCKSDB
	if (e->kind == ENG_ROCKSDB)
		w->rb = rocksdb_writebatch_create();
#endif
}

static void writer_deinit(struct writer *w)
{
	lsm_batch_deinit(&w->sb);
#ifdef STRATA_HAVE_ROCKSDB
	if (w->rb)
		rocksdb_writebatch_destroy(w->rb);
	w->rb = NULL;
#endif
}

static int writer_put(struct writer *w, const uint8_t *key, const uint8_t *val, size_t len,
		      char *err, size_t err_len)
{
	int rc = 0;

	if (w->e->kind == ENG_STRATA) {
		rc = lsm_batch_put(&w->sb, key, val, len);
		if (rc)
			strata_fail(err, err_len, "batch put", rc);
	}
#ifdef STRATA_HAVE_ROCKSDB
	if (w->e->kind == ENG_ROCKSDB)
		rocksdb_writebatch_put(w->rb, (const char *)key, KEY_BYTES, (const char *)val, len);
#endif
	return rc;
}

/* Writes the batch (synced or not) and empties it. */
static int writer_commit(struct writer *w, bool sync, char *err, size_t err_len)
{
	int rc = 0;

	if (w->e->kind == ENG_STRATA) {
		rc = lsm_write(w->e->sdb, &w->sb, sync ? 0 : LSM_WRITE_NOSYNC);
		if (rc)
			strata_fail(err, err_len, "write", rc);
		lsm_batch_clear(&w->sb);
	}
#ifdef STRATA_HAVE_ROCKSDB
	if (w->e->kind == ENG_ROCKSDB) {
		char *msg = NULL;

		rocksdb_write(w->e->rdb, sync ? w->e->rwo_sync : w->e->rwo_nosync, w->rb, &msg);
		if (msg)
			rc = rocksdb_fail(err, err_len, "write", msg);
		rocksdb_writebatch_clear(w->rb);
	}
#endif
	return rc;
}

/*
 * Looks up key i and compares the value with the one written. 0 when equal,
 * 1 when missing or different, <0 on an error.
 */
static int eng_get_check(struct eng *e, uint64_t i, char *err, size_t err_len)
{
	uint8_t key[KEY_BYTES];
	const uint8_t *want = value_of(i);
	int rc = 0;

	key_of(key, i);
	if (e->kind == ENG_STRATA) {
		uint8_t *val = NULL;
		size_t len = 0;

		rc = lsm_get(e->sdb, key, &val, &len);
		if (rc == 0)
			rc = len != VALUE_BYTES || memcmp(val, want, VALUE_BYTES) != 0;
		else if (rc == STRATA_ENOTFOUND)
			rc = 1;
		else
			strata_fail(err, err_len, "get", rc);
		strata_free(val);
	}
#ifdef STRATA_HAVE_ROCKSDB
	if (e->kind == ENG_ROCKSDB) {
		char *msg = NULL;
		rocksdb_pinnableslice_t *v;

		v = rocksdb_get_pinned(e->rdb, e->rro, (const char *)key, KEY_BYTES, &msg);
		if (msg) {
			rc = rocksdb_fail(err, err_len, "get", msg);
		} else if (!v) {
			rc = 1;
		} else {
			size_t len = 0;
			const char *val = rocksdb_pinnableslice_value(v, &len);

			rc = len != VALUE_BYTES || memcmp(val, want, VALUE_BYTES) != 0;
		}
		rocksdb_pinnableslice_destroy(v);
	}
#endif
	return rc;
}

/*
 * Seeks to key first in [key first, end of key space) and reads up to
 * SCAN_ENTRIES entries, checking each key and value against key first + j.
 * Returns the number of wrong or missing entries, or <0 on an error; adds the
 * key and value bytes read to *bytes.
 */
static int64_t eng_scan_check(struct eng *e, uint64_t first, uint64_t *bytes, char *err, size_t err_len)
{
	uint8_t lo[KEY_BYTES], hi[KEY_BYTES], want[KEY_BYTES];
	uint64_t expect = cfg.n - first < SCAN_ENTRIES ? cfg.n - first : SCAN_ENTRIES;
	uint64_t got = 0;
	int64_t bad = 0;
	int rc = 0;

	key_of(lo, first);
	memset(hi, 0xff, sizeof(hi));
	if (e->kind == ENG_STRATA) {
		lsm_db_iter *it = NULL;

		rc = lsm_db_iter_new(&it, e->sdb, lo, hi);
		if (rc)
			return strata_fail(err, err_len, "iter new", rc);
		lsm_db_iter_seek(it, lo);
		for (; got < SCAN_ENTRIES && lsm_db_iter_valid(it); got++) {
			size_t vlen = 0;
			const uint8_t *k = lsm_db_iter_key(it);
			const uint8_t *v = lsm_db_iter_value(it, &vlen);

			key_of(want, first + got);
			if (memcmp(k, want, KEY_BYTES) != 0 || vlen != VALUE_BYTES ||
			    memcmp(v, value_of(first + got), VALUE_BYTES) != 0)
				bad++;
			*bytes += KEY_BYTES + vlen;
			lsm_db_iter_next(it);
		}
		rc = lsm_db_iter_status(it);
		if (rc)
			strata_fail(err, err_len, "iter", rc);
		lsm_db_iter_free(it);
	}
#ifdef STRATA_HAVE_ROCKSDB
	if (e->kind == ENG_ROCKSDB) {
		rocksdb_iterator_t *it = rocksdb_create_iterator(e->rdb, e->rro);
		char *msg = NULL;

		rocksdb_iter_seek(it, (const char *)lo, KEY_BYTES);
		for (; got < SCAN_ENTRIES && rocksdb_iter_valid(it); got++) {
			size_t klen = 0, vlen = 0;
			const char *k = rocksdb_iter_key(it, &klen);
			const char *v = rocksdb_iter_value(it, &vlen);

			key_of(want, first + got);
			if (klen != KEY_BYTES || memcmp(k, want, KEY_BYTES) != 0 || vlen != VALUE_BYTES ||
			    memcmp(v, value_of(first + got), VALUE_BYTES) != 0)
				bad++;
			*bytes += klen + vlen;
			rocksdb_iter_next(it);
		}
		rocksdb_iter_get_error(it, &msg);
		if (msg)
			rc = rocksdb_fail(err, err_len, "iter", msg);
		rocksdb_iter_destroy(it);
	}
#endif
	if (rc)
		return rc;
	if (got < expect)
		bad += (int64_t)(expect - got);
	return bad;
}

/* ---- results -------------------------------------------------------------- */

struct result {
	bool ok;
	char err[256];
	double secs;
	uint64_t ops;        /* writes of one key, lookups, seeks (a batch counts its keys) */
	uint64_t bytes;      /* user key + value bytes */
	double p50_us, p99_us;
	double wa;           /* strata's counters: (WAL + flushed tables) / user bytes */
	double io_wa;        /* page-cache bytes dirtied / user bytes */
	double syncs_per_s;
	double batches_per_sync;
	uint64_t stalls;
	double hit_rate;     /* block cache, strata */
	uint64_t wrong;      /* reads that returned a missing or different value */
	bool capped;         /* a fill stopped at --fill-max-seconds before writing n keys */
};

struct row {
	char name[32];
	enum workload wl;
	bool present[N_ENGINES];
	struct result res[N_ENGINES][MAX_RUNS];
};

static struct row rows[N_WORKLOADS + MAX_THREAD_COUNTS];
static int n_rows;

static void result_finish(struct result *r, const struct hist *h)
{
	r->p50_us = hist_quantile_us(h, 0.50);
	r->p99_us = hist_quantile_us(h, 0.99);
}

static void run_dir(char *out, size_t len, enum engine_kind kind, const char *name, int run)
{
	snprintf(out, len, "%s/%s-%s-%d", root_dir, engine_names[kind], name, run);
}

/* ---- fills ---------------------------------------------------------------- */

/*
 * Writes the n keys (in order or in perm's order), batch keys per write, no
 * sync; then an untimed flush so that the tables count in the amplification.
 */
static void run_fill(struct result *r, enum engine_kind kind, const char *name, int run,
		     bool random_order, int batch)
{
	char path[PATH_MAX];
	struct eng e;
	struct writer w;
	struct hist *h = strata_calloc(1, sizeof(*h));
	lsm_stats s0, s1;
	uint64_t io0, io1, t0, t1, deadline, user, written = 0;
	int rc;

	run_dir(path, sizeof(path), kind, name, run);
	if (!h) {
		snprintf(r->err, sizeof(r->err), "out of memory");
		return;
	}
	rc = eng_open(&e, kind, path, r->err, sizeof(r->err));
	if (rc)
		goto out_free;
	writer_init(&w, &e);
	if (kind == ENG_STRATA)
		lsm_get_stats(e.sdb, &s0);
	io0 = proc_write_bytes();
	t0 = now_ns();
	deadline = t0 + (uint64_t)(cfg.fill_max_s * 1e9);
	while (written < cfg.n && rc == 0) {
		uint64_t start = now_ns(), end;

		for (int j = 0; j < batch && written < cfg.n && rc == 0; j++, written++) {
			uint64_t k = random_order ? perm[written] : written;
			uint8_t key[KEY_BYTES];

			key_of(key, k);
			rc = writer_put(&w, key, value_of(k), VALUE_BYTES, r->err, sizeof(r->err));
		}
		if (rc == 0)
			rc = writer_commit(&w, false, r->err, sizeof(r->err));
		end = now_ns();
		hist_add(h, end - start);
		if (end > deadline && written < cfg.n) {
			r->capped = true;
			break;
		}
	}
	t1 = now_ns();
	if (rc == 0)
		rc = eng_flush(&e, r->err, sizeof(r->err));
	io1 = proc_write_bytes();
	writer_deinit(&w);
	if (rc == 0) {
		user = written * (KEY_BYTES + VALUE_BYTES);
		r->ok = true;
		r->secs = (double)(t1 - t0) / 1e9;
		r->ops = written;
		r->bytes = user;
		r->io_wa = (double)(io1 - io0) / (double)user;
		r->wa = NAN;
		if (kind == ENG_STRATA) {
			lsm_get_stats(e.sdb, &s1);
			r->wa = (double)(s1.commit.bytes - s0.commit.bytes + s1.flush_bytes - s0.flush_bytes) /
				(double)user;
			r->stalls = s1.write_stalls - s0.write_stalls;
		}
		result_finish(r, h);
	}
	{
		char cerr[256] = "";

		if (eng_close(&e, cerr, sizeof(cerr)) && r->ok) {
			r->ok = false;
			snprintf(r->err, sizeof(r->err), "%s", cerr);
		}
	}
	rm_tree(path);
out_free:
	strata_free(h);
}

struct sync_thread {
	pthread_t tid;
	int index;
	struct eng *e;
	pthread_barrier_t *barrier;
	atomic_bool *stop;
	uint64_t ops;
	int rc;
	char err[256];
	struct hist h;
};

static void *sync_writer_main(void *arg)
{
	struct sync_thread *t = arg;
	struct writer w;
	uint64_t st = cfg.seed * 1000003u + (uint64_t)t->index;

	writer_init(&w, t->e);
	pthread_barrier_wait(t->barrier);
	while (!atomic_load_explicit(t->stop, memory_order_relaxed) && t->rc == 0) {
		uint64_t r = rng_next(&st), start, end;
		uint8_t key[KEY_BYTES];

		/* Each thread has its own series ids: 65536 series, 10000 points each. */
		lsm_ukey_encode(key, (uint64_t)(t->index + 1) << 32 | (r >> 48),
				TS_BASE_NS + (int64_t)(r % KEYS_PER_SERIES) * TS_STEP_NS);
		start = now_ns();
		t->rc = writer_put(&w, key, value_of(r), VALUE_BYTES, t->err, sizeof(t->err));
		if (t->rc == 0)
			t->rc = writer_commit(&w, true, t->err, sizeof(t->err));
		end = now_ns();
		if (t->rc == 0) {
			hist_add(&t->h, end - start);
			t->ops++;
		}
	}
	writer_deinit(&w);
	return NULL;
}

/* n_threads writers, one synced write of one key at a time each, for the duration. */
static void run_fillsync(struct result *r, enum engine_kind kind, const char *name, int run, int n_threads)
{
	char path[PATH_MAX];
	struct eng e;
	struct sync_thread *th = strata_calloc((size_t)n_threads, sizeof(*th));
	struct hist *h = strata_calloc(1, sizeof(*h));
	pthread_barrier_t barrier;
	atomic_bool stop = false;
	lsm_stats s0, s1;
	uint64_t io0, io1, t0, t1, ops = 0;
	struct timespec dur;
	int rc, started = 0;

	run_dir(path, sizeof(path), kind, name, run);
	if (!th || !h) {
		snprintf(r->err, sizeof(r->err), "out of memory");
		goto out_free;
	}
	rc = eng_open(&e, kind, path, r->err, sizeof(r->err));
	if (rc)
		goto out_free;
	pthread_barrier_init(&barrier, NULL, (unsigned)n_threads + 1);
	if (kind == ENG_STRATA)
		lsm_get_stats(e.sdb, &s0);
	io0 = proc_write_bytes();
	for (int i = 0; i < n_threads; i++) {
		th[i].index = i;
		th[i].e = &e;
		th[i].barrier = &barrier;
		th[i].stop = &stop;
		if (pthread_create(&th[i].tid, NULL, sync_writer_main, &th[i]) != 0) {
			fprintf(stderr, "bench_lsm: pthread_create failed\n");
			exit(1);
		}
		started++;
	}
	pthread_barrier_wait(&barrier);
	t0 = now_ns();
	dur.tv_sec = (time_t)cfg.duration_s;
	dur.tv_nsec = (long)((cfg.duration_s - (double)dur.tv_sec) * 1e9);
	while (nanosleep(&dur, &dur) != 0 && errno == EINTR)
		;
	atomic_store(&stop, true);
	for (int i = 0; i < started; i++)
		pthread_join(th[i].tid, NULL);
	t1 = now_ns();
	pthread_barrier_destroy(&barrier);
	rc = 0;
	for (int i = 0; i < n_threads; i++) {
		if (th[i].rc && rc == 0) {
			rc = th[i].rc;
			snprintf(r->err, sizeof(r->err), "%s", th[i].err);
		}
		hist_merge(h, &th[i].h);
		ops += th[i].ops;
	}
	if (rc == 0)
		rc = eng_flush(&e, r->err, sizeof(r->err));
	io1 = proc_write_bytes();
	if (rc == 0 && ops > 0) {
		r->ok = true;
		r->secs = (double)(t1 - t0) / 1e9;
		r->ops = ops;
		r->bytes = ops * (KEY_BYTES + VALUE_BYTES);
		r->io_wa = (double)(io1 - io0) / (double)r->bytes;
		r->wa = NAN;
		r->syncs_per_s = NAN;
		r->batches_per_sync = NAN;
		if (kind == ENG_STRATA) {
			uint64_t syncs, batches;

			lsm_get_stats(e.sdb, &s1);
			syncs = s1.commit.syncs - s0.commit.syncs;
			batches = s1.commit.batches - s0.commit.batches;
			r->wa = (double)(s1.commit.bytes - s0.commit.bytes + s1.flush_bytes - s0.flush_bytes) /
				(double)r->bytes;
			r->syncs_per_s = (double)syncs / r->secs;
			r->batches_per_sync = syncs ? (double)batches / (double)syncs : NAN;
			r->stalls = s1.write_stalls - s0.write_stalls;
		}
		result_finish(r, h);
	} else if (rc == 0) {
		snprintf(r->err, sizeof(r->err), "no write completed in %.1f s", cfg.duration_s);
	}
	{
		char cerr[256] = "";

		if (eng_close(&e, cerr, sizeof(cerr)) && r->ok) {
			r->ok = false;
			snprintf(r->err, sizeof(r->err), "%s", cerr);
		}
	}
	rm_tree(path);
out_free:
	strata_free(th);
	strata_free(h);
}

/* ---- reads ---------------------------------------------------------------- */

/* Loads the n keys in batches (in perm's order unless --read-fill seq) and flushes. */
static int load_for_reads(struct eng *e, enum engine_kind kind, char *err, size_t err_len)
{
	char path[PATH_MAX];
	struct writer w;
	int rc;

	run_dir(path, sizeof(path), kind, "read", 0);
	rc = eng_open(e, kind, path, err, err_len);
	if (rc)
		return rc;
	writer_init(&w, e);
	for (uint64_t i = 0; i < cfg.n && rc == 0;) {
		for (int j = 0; j < cfg.batch && i < cfg.n && rc == 0; j++, i++) {
			uint64_t k = cfg.read_fill_seq ? i : perm[i];
			uint8_t key[KEY_BYTES];

			key_of(key, k);
			rc = writer_put(&w, key, value_of(k), VALUE_BYTES, err, err_len);
		}
		if (rc == 0)
			rc = writer_commit(&w, false, err, err_len);
	}
	writer_deinit(&w);
	if (rc == 0)
		rc = eng_flush(e, err, err_len);
	return rc;
}

static void run_reads(struct result *r, struct eng *e, bool seek, int run)
{
	uint64_t st = cfg.seed * 7919u + (uint64_t)run * 2 + seek;
	uint64_t count = seek ? cfg.seeks : cfg.reads, bytes = 0, wrong = 0, t0, t1;
	struct hist *h = strata_calloc(1, sizeof(*h));
	lsm_stats s0, s1;
	int64_t rc = 0;

	if (!h) {
		snprintf(r->err, sizeof(r->err), "out of memory");
		return;
	}
	if (e->kind == ENG_STRATA)
		lsm_get_stats(e->sdb, &s0);
	t0 = now_ns();
	for (uint64_t j = 0; j < count; j++) {
		uint64_t i = rng_below(&st, cfg.n), start = now_ns();

		if (seek) {
			rc = eng_scan_check(e, i, &bytes, r->err, sizeof(r->err));
		} else {
			rc = eng_get_check(e, i, r->err, sizeof(r->err));
			bytes += KEY_BYTES + VALUE_BYTES;
		}
		hist_add(h, now_ns() - start);
		if (rc < 0)
			break;
		wrong += (uint64_t)rc;
	}
	t1 = now_ns();
	if (rc >= 0) {
		r->ok = true;
		r->secs = (double)(t1 - t0) / 1e9;
		r->ops = count;
		r->bytes = bytes;
		r->wrong = wrong;
		r->wa = NAN;
		r->io_wa = NAN;
		r->hit_rate = NAN;
		if (e->kind == ENG_STRATA) {
			uint64_t hits, misses;

			lsm_get_stats(e->sdb, &s1);
			hits = s1.cache.hits - s0.cache.hits;
			misses = s1.cache.misses - s0.cache.misses;
			if (hits + misses)
				r->hit_rate = (double)hits / (double)(hits + misses);
		}
		result_finish(r, h);
	}
	strata_free(h);
}

/* ---- driving ---------------------------------------------------------------- */

static bool engine_on(enum engine_kind k)
{
	return cfg.engines & (1u << k);
}

static void progress(const struct row *rw, enum engine_kind k, int run)
{
	const struct result *r = &rw->res[k][run];
	char buf[32];

	if (r->ok)
		fprintf(stderr, "  %-14s %-8s run %d/%d: %s ops/s, p99 %.1f us%s%s\n", rw->name,
			engine_names[k], run + 1, cfg.runs, fmt_count(buf, sizeof(buf), (double)r->ops / r->secs),
			r->p99_us, r->wrong ? "  (WRONG results)" : "",
			r->capped ? "  (stopped at --fill-max-seconds)" : "");
	else
		fprintf(stderr, "  %-14s %-8s run %d/%d: FAILED: %s\n", rw->name, engine_names[k], run + 1,
			cfg.runs, r->err);
}

/* The engines in the order of run r: alternate who goes first. */
static enum engine_kind engine_at(int run, int pos)
{
	return (enum engine_kind)((run + pos) % N_ENGINES);
}

static struct row *row_new(enum workload wl, const char *name)
{
	struct row *rw = &rows[n_rows++];

	snprintf(rw->name, sizeof(rw->name), "%s", name);
	rw->wl = wl;
	return rw;
}

static void run_write_workload(enum workload wl, int threads)
{
	char name[32];
	struct row *rw;

	if (wl == WL_FILLSYNC)
		snprintf(name, sizeof(name), "fillsync/%dt", threads);
	else if (wl == WL_FILLBATCH)
		snprintf(name, sizeof(name), "fillbatch/%d", cfg.batch);
	else
		snprintf(name, sizeof(name), "%s", workload_names[wl]);
	rw = row_new(wl, name);
	fprintf(stderr, "%s\n", name);
	for (int run = 0; run < cfg.runs; run++) {
		for (int pos = 0; pos < N_ENGINES; pos++) {
			enum engine_kind k = engine_at(run, pos);
			struct result *r = &rw->res[k][run];

			if (!engine_on(k))
				continue;
			rw->present[k] = true;
			switch (wl) {
			case WL_FILLSEQ:
				run_fill(r, k, name, run, false, 1);
				break;
			case WL_FILLBATCH:
				run_fill(r, k, "fillbatch", run, false, cfg.batch);
				break;
			case WL_FILLRANDOM:
				run_fill(r, k, name, run, true, 1);
				break;
			default:
				run_fillsync(r, k, "fillsync", run, threads);
				break;
			}
			progress(rw, k, run);
		}
	}
}

static void run_read_workloads(void)
{
	struct eng e[N_ENGINES];
	bool open[N_ENGINES] = { false };
	char err[N_ENGINES][256];
	struct row *rr = NULL, *rs = NULL;

	fprintf(stderr, "loading %" PRIu64 " keys (%s order, batches of %d) for the read workloads\n",
		cfg.n, cfg.read_fill_seq ? "key" : "random", cfg.batch);
	for (int k = 0; k < N_ENGINES; k++) {
		if (!engine_on((enum engine_kind)k))
			continue;
		err[k][0] = '\0';
		if (load_for_reads(&e[k], (enum engine_kind)k, err[k], sizeof(err[k])) == 0)
			open[k] = true;
		else
			fprintf(stderr, "  %s: load failed: %s\n", engine_names[k], err[k]);
	}
	if (cfg.workloads & (1u << WL_READRANDOM))
		rr = row_new(WL_READRANDOM, "readrandom");
	if (cfg.workloads & (1u << WL_SEEKRANDOM))
		rs = row_new(WL_SEEKRANDOM, "seekrandom");
	for (int seek = 0; seek < 2; seek++) {
		struct row *rw = seek ? rs : rr;

		if (!rw)
			continue;
		fprintf(stderr, "%s\n", rw->name);
		for (int run = 0; run < cfg.runs; run++) {
			for (int pos = 0; pos < N_ENGINES; pos++) {
				enum engine_kind k = engine_at(run, pos);
				struct result *r = &rw->res[k][run];

				if (!engine_on(k))
					continue;
				rw->present[k] = true;
				if (open[k])
					run_reads(r, &e[k], seek, run);
				else
					snprintf(r->err, sizeof(r->err), "load failed: %.200s", err[k]);
				progress(rw, k, run);
			}
		}
	}
	for (int k = 0; k < N_ENGINES; k++) {
		char path[PATH_MAX];

		if (!engine_on((enum engine_kind)k))
			continue;
		if (open[k] && eng_close(&e[k], err[k], sizeof(err[k])))
			fprintf(stderr, "  %s: close failed: %s\n", engine_names[k], err[k]);
		run_dir(path, sizeof(path), (enum engine_kind)k, "read", 0);
		rm_tree(path);
	}
}

/* ---- the report -------------------------------------------------------------- */

static const char *build_type(void)
{
#if defined(STRATA_BUILD_TYPE)
	return STRATA_BUILD_TYPE;
#elif defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	return "sanitizer build (figures meaningless)";
#elif defined(__OPTIMIZE__) && defined(NDEBUG)
	return "optimized, NDEBUG (Release or RelWithDebInfo)";
#elif defined(__OPTIMIZE__)
	return "optimized, assertions on (not a release build)";
#else
	return "not optimized (Debug; figures meaningless)";
#endif
}

/* Runs cmd and returns its first output line in buf (empty on failure). */
static void first_line_of(const char *cmd, char *buf, size_t len)
{
	FILE *p = popen(cmd, "r");

	buf[0] = '\0';
	if (!p)
		return;
	if (!fgets(buf, (int)len, p))
		buf[0] = '\0';
	pclose(p);
	buf[strcspn(buf, "\n")] = '\0';
}

static void git_commit(char *buf, size_t len)
{
	char dir[PATH_MAX], cmd[PATH_MAX + 128], dirty[8];
	const char *slash = strrchr(__FILE__, '/');

	if (slash)
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - __FILE__), __FILE__);
	else
		snprintf(dir, sizeof(dir), ".");
	snprintf(cmd, sizeof(cmd), "git -C '%s' rev-parse --short HEAD 2>/dev/null", dir);
	first_line_of(cmd, buf, len);
	if (buf[0] == '\0') {
		snprintf(buf, len, "unknown (no git commit)");
		return;
	}
	snprintf(cmd, sizeof(cmd), "git -C '%s' status --porcelain --untracked-files=no 2>/dev/null", dir);
	first_line_of(cmd, dirty, sizeof(dirty));
	if (dirty[0])
		snprintf(buf + strlen(buf), len - strlen(buf), "-dirty");
}

static void cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	snprintf(buf, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) == 0 && colon) {
			snprintf(buf, len, "%s", colon + 2);
			buf[strcspn(buf, "\n")] = '\0';
			break;
		}
	}
	fclose(f);
}

static const char *fs_name(const char *path)
{
	struct statfs sf;

	if (statfs(path, &sf) != 0)
		return "unknown";
	switch ((unsigned long)sf.f_type) {
	case 0xEF53: return "ext4";
	case 0x58465342: return "xfs";
	case 0x9123683E: return "btrfs";
	case 0x01021994: return "tmpfs (no real I/O: figures not meaningful)";
	case 0x794c7630: return "overlayfs";
	default: return "other";
	}
}

/*
 * Opens each engine once in a scratch directory to learn what the figures
 * depend on: strata's WAL backend and the RocksDB library version.
 */
static int probe_engines(void)
{
	char path[PATH_MAX], err[256];
	struct eng e;
	int rc = 0;

	for (int k = 0; k < N_ENGINES; k++) {
		if (!engine_on((enum engine_kind)k))
			continue;
		run_dir(path, sizeof(path), (enum engine_kind)k, "probe", 0);
		if (eng_open(&e, (enum engine_kind)k, path, err, sizeof(err))) {
			fprintf(stderr, "bench_lsm: %s\n", err);
			rc = -1;
			continue;
		}
		if (k == ENG_STRATA) {
			lsm_stats s;

			lsm_get_stats(e.sdb, &s);
			snprintf(strata_wal_io, sizeof(strata_wal_io), "%s", s.wal_io ? s.wal_io : "unknown");
		} else {
			char log[PATH_MAX + 8], line[256];
			FILE *f;

			snprintf(log, sizeof(log), "%s/LOG", path);
			f = fopen(log, "r");
			while (f && fgets(line, sizeof(line), f)) {
				char *v = strstr(line, "RocksDB version: ");

				if (v) {
					snprintf(rocksdb_version, sizeof(rocksdb_version), "%s", v + 17);
					rocksdb_version[strcspn(rocksdb_version, "\n")] = '\0';
					break;
				}
			}
			if (f)
				fclose(f);
		}
		if (eng_close(&e, err, sizeof(err))) {
			fprintf(stderr, "bench_lsm: %s\n", err);
			rc = -1;
		}
		rm_tree(path);
	}
	return rc;
}

static void print_config(void)
{
	char commit[64], cpu[128], c1[32], c2[32], c3[32];
	struct utsname u;

	git_commit(commit, sizeof(commit));
	cpu_model(cpu, sizeof(cpu));
	uname(&u);
	printf("bench_lsm — storage core: strata vs RocksDB\n");
	printf("build       %s\n", build_type());
	printf("commit      %s\n", commit);
	printf("machine     %ld cores online, %s, Linux %s\n", sysconf(_SC_NPROCESSORS_ONLN), cpu, u.release);
	printf("data dir    %s (%s)\n", root_dir, fs_name(root_dir));
	printf("engines    ");
	if (engine_on(ENG_STRATA))
		printf(" strata (WAL via %s)", strata_wal_io);
#ifdef STRATA_HAVE_ROCKSDB
	if (engine_on(ENG_ROCKSDB))
		printf("%s RocksDB %s", engine_on(ENG_STRATA) ? "," : "", rocksdb_version);
#else
	printf(" (RocksDB not compiled in: pkg-config found no rocksdb)");
#endif
	printf("\n");
	printf("dataset     %s keys of %d bytes (series = i / %d, ts = 2026-01-01 + i %% %d × 10 s),"
	       " values %d bytes (half random, half repeated: zstd ratio ≈ 0.5)\n",
	       fmt_count(c1, sizeof(c1), (double)cfg.n), KEY_BYTES, KEYS_PER_SERIES, KEYS_PER_SERIES, VALUE_BYTES);
	printf("reads       %s lookups, %s seeks × %d entries per run; read database loaded in %s order + flush\n",
	       fmt_count(c2, sizeof(c2), (double)cfg.reads), fmt_count(c3, sizeof(c3), (double)cfg.seeks),
	       SCAN_ENTRIES, cfg.read_fill_seq ? "key" : "random");
	printf("fills       fillseq, fillrandom: 1 key per write; fillbatch: %d keys per write;"
	       " a fill stops after %.0f s (--fill-max-seconds)\n", cfg.batch, cfg.fill_max_s);
	printf("fillsync    %.1f s per run, threads", cfg.duration_s);
	for (int i = 0; i < cfg.n_threads; i++)
		printf("%s%d", i ? "," : " ", cfg.threads[i]);
	printf("; strata sync mode (fdatasync per group), RocksDB sync=1\n");
	printf("options     memtable %zu MiB, block cache %zu MiB, block %zu B, restart interval %d,"
	       " bloom %d bits/key, zstd level %d, WAL on, no-sync fills: strata LSM_WRITE_NOSYNC,"
	       " RocksDB sync=0\n",
	       cfg.memtable_bytes >> 20, cfg.block_cache_bytes >> 20, cfg.block_bytes, cfg.restart_interval,
	       cfg.bloom_bits, cfg.zstd_level);
	printf("runs        %d per figure (median [min–max]), engines interleaved, seed %" PRIu64 "\n\n",
	       cfg.runs, cfg.seed);
	fflush(stdout);
}

static int collect(const struct row *rw, enum engine_kind k, double *ops, double *mbs, double *p50,
		   double *p99, double *wa, double *io_wa, double *sps, double *bps, double *hit,
		   uint64_t *wrong, uint64_t *stalls)
{
	int n = 0;

	*wrong = 0;
	*stalls = 0;
	for (int run = 0; run < cfg.runs; run++) {
		const struct result *r = &rw->res[k][run];

		if (!r->ok)
			continue;
		ops[n] = (double)r->ops / r->secs;
		mbs[n] = (double)r->bytes / r->secs / 1e6;
		p50[n] = r->p50_us;
		p99[n] = r->p99_us;
		wa[n] = r->wa;
		io_wa[n] = r->io_wa;
		sps[n] = r->syncs_per_s;
		bps[n] = r->batches_per_sync;
		hit[n] = r->hit_rate;
		*wrong += r->wrong;
		*stalls += r->stalls;
		n++;
	}
	return n;
}

static void print_table(void)
{
	static const int w[] = { 16, 9, 34, 9, 10, 10 };
	bool failed = false;

	print_cell("workload", w[0]);
	print_cell("engine", w[1]);
	print_cell("ops/s median [min–max]", w[2]);
	print_cell("MB/s", w[3]);
	print_cell("p50 µs", w[4]);
	print_cell("p99 µs", w[5]);
	printf("extra\n");
	for (int i = 0; i < n_rows; i++) {
		const struct row *rw = &rows[i];

		for (int k = 0; k < N_ENGINES; k++) {
			double ops[MAX_RUNS], mbs[MAX_RUNS], p50[MAX_RUNS], p99[MAX_RUNS], wa[MAX_RUNS];
			double io_wa[MAX_RUNS], sps[MAX_RUNS], bps[MAX_RUNS], hit[MAX_RUNS], lo, hi;
			char cell[128], a[32], b[32], c[32], extra[256] = "";
			uint64_t wrong, stalls, min_keys = UINT64_MAX;
			int n, capped = 0;

			if (!rw->present[k])
				continue;
			print_cell(rw->name, w[0]);
			print_cell(engine_names[k], w[1]);
			n = collect(rw, (enum engine_kind)k, ops, mbs, p50, p99, wa, io_wa, sps, bps, hit,
				    &wrong, &stalls);
			if (n == 0) {
				for (int run = 0; run < cfg.runs; run++) {
					if (!rw->res[k][run].ok) {
						printf("FAILED: %s\n", rw->res[k][run].err);
						break;
					}
				}
				failed = true;
				continue;
			}
			for (int run = 0; run < cfg.runs; run++) {
				const struct result *r = &rw->res[k][run];

				if (r->ok && r->capped) {
					capped++;
					min_keys = r->ops < min_keys ? r->ops : min_keys;
				}
			}
			lo = hi = ops[0];
			for (int j = 1; j < n; j++) {
				lo = ops[j] < lo ? ops[j] : lo;
				hi = ops[j] > hi ? ops[j] : hi;
			}
			snprintf(cell, sizeof(cell), "%s [%s–%s]", fmt_count(a, sizeof(a), median_of(ops, n)),
				 fmt_count(b, sizeof(b), lo), fmt_count(c, sizeof(c), hi));
			print_cell(cell, w[2]);
			snprintf(cell, sizeof(cell), "%.1f", median_of(mbs, n));
			print_cell(cell, w[3]);
			snprintf(cell, sizeof(cell), "%.1f", median_of(p50, n));
			print_cell(cell, w[4]);
			snprintf(cell, sizeof(cell), "%.1f", median_of(p99, n));
			print_cell(cell, w[5]);
			if (rw->wl <= WL_FILLSYNC) {
				size_t o = 0;

				if (!isnan(median_of(wa, n)))
					o += (size_t)snprintf(extra + o, sizeof(extra) - o, "wa %.2f ", median_of(wa, n));
				o += (size_t)snprintf(extra + o, sizeof(extra) - o, "io-wa %.2f", median_of(io_wa, n));
				if (rw->wl == WL_FILLSYNC && k == ENG_STRATA)
					o += (size_t)snprintf(extra + o, sizeof(extra) - o,
							      " fsync/s %s batches/fsync %.1f",
							      fmt_count(a, sizeof(a), median_of(sps, n)), median_of(bps, n));
				if (k == ENG_STRATA && stalls)
					o += (size_t)snprintf(extra + o, sizeof(extra) - o, " stalls %" PRIu64, stalls);
				if (rw->wl == WL_FILLBATCH)
					o += (size_t)snprintf(extra + o, sizeof(extra) - o, " (latency per batch)");
				if (capped)
					snprintf(extra + o, sizeof(extra) - o, " STOPPED at %.0f s in %d run(s), %s of %s keys",
						 cfg.fill_max_s, capped, fmt_count(a, sizeof(a), (double)min_keys),
						 fmt_count(b, sizeof(b), (double)cfg.n));
			} else {
				size_t o = 0;

				if (!isnan(median_of(hit, n)))
					o += (size_t)snprintf(extra + o, sizeof(extra) - o, "cache hit %.1f%%",
							      100 * median_of(hit, n));
				if (rw->wl == WL_SEEKRANDOM)
					o += (size_t)snprintf(extra + o, sizeof(extra) - o, "%s(latency per seek + %d reads)",
							      o ? " " : "", SCAN_ENTRIES);
				if (wrong)
					snprintf(extra + o, sizeof(extra) - o, " WRONG %" PRIu64, wrong);
			}
			if (n < cfg.runs) {
				size_t o = strlen(extra);

				snprintf(extra + o, sizeof(extra) - o, " (%d of %d runs failed)", cfg.runs - n, cfg.runs);
				failed = true;
			}
			if (wrong)
				failed = true;
			printf("%s\n", extra);
		}
	}

	if (!engine_on(ENG_STRATA) || !engine_on(ENG_ROCKSDB))
		goto out;
	printf("\nstrata/rocksdb ops/s: ratio of medians, [min–max] of run-by-run ratios (>1: strata faster)\n");
	for (int i = 0; i < n_rows; i++) {
		const struct row *rw = &rows[i];
		double s[MAX_RUNS], r[MAX_RUNS], ratio[MAX_RUNS], lo = 0, hi = 0;
		int ns = 0, nr = 0, np = 0;
		bool capped = false;

		for (int run = 0; run < cfg.runs; run++) {
			const struct result *a = &rw->res[ENG_STRATA][run], *b = &rw->res[ENG_ROCKSDB][run];

			capped |= (a->ok && a->capped) || (b->ok && b->capped);
			if (a->ok)
				s[ns++] = (double)a->ops / a->secs;
			if (b->ok)
				r[nr++] = (double)b->ops / b->secs;
			if (a->ok && b->ok) {
				ratio[np] = ((double)a->ops / a->secs) / ((double)b->ops / b->secs);
				lo = np == 0 || ratio[np] < lo ? ratio[np] : lo;
				hi = np == 0 || ratio[np] > hi ? ratio[np] : hi;
				np++;
			}
		}
		print_cell(rw->name, w[0]);
		if (ns == 0 || nr == 0)
			printf("n/a (a run failed)\n");
		else
			printf("%.2f [%.2f–%.2f]%s\n", median_of(s, ns) / median_of(r, nr), lo, hi,
			       capped ? "  (a fill stopped early: rates over different key counts)" : "");
	}
out:
	if (failed)
		printf("\nSome figures FAILED or returned WRONG results: see above.\n");
}

/* ---- command line ------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_lsm [options]\n"
		"  --n N             keys per fill and in the read database (500000)\n"
		"  --reads N         random lookups per readrandom run (100000)\n"
		"  --seeks N         seeks (each + %d reads) per seekrandom run (10000)\n"
		"  --batch N         keys per write in fillbatch and in the read load (1000)\n"
		"  --threads LIST    writer thread counts of fillsync (1,4,16)\n"
		"  --duration S      seconds per fillsync run (2)\n"
		"  --fill-max-seconds S  a fillseq/fillbatch/fillrandom run stops after S s (15)\n"
		"  --runs R          runs per figure, median printed with min and max (3)\n"
		"  --engine E        strata | rocksdb | both (both when RocksDB is compiled in)\n"
		"  --workloads LIST  of fillseq,fillbatch,fillrandom,fillsync,readrandom,seekrandom (all)\n"
		"  --read-fill ORDER random | seq: key order of the read database's load (random)\n"
		"  --dir DIR         where to create the scratch directory (/tmp)\n"
		"  --seed N          seed of every random choice (42)\n"
		"  --zstd-level L    zstd level of both engines (3)\n"
		"  --cache-mb MB     block cache of both engines (256)\n"
		"  --memtable-mb MB  memtable size of both engines (64)\n"
		"  --wal-io KIND     strata's WAL backend: auto, io_uring, pwrite (auto)\n"
		"  --log-level L     strata's log: debug, info, warn, error (warn)\n",
		SCAN_ENTRIES);
}

static uint64_t parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "bench_lsm: %s: expected an integer in [%" PRIu64 ", %" PRIu64 "], got '%s'\n",
			opt, min, max, s);
		exit(2);
	}
	return v;
}

static void parse_args(int argc, char **argv)
{
	enum { O_N = 1, O_READS, O_SEEKS, O_BATCH, O_THREADS, O_DURATION, O_RUNS, O_ENGINE, O_WORKLOADS,
	       O_READ_FILL, O_DIR, O_SEED, O_ZSTD, O_CACHE, O_MEMTABLE, O_LOG, O_FILL_MAX, O_WAL_IO,
	       O_HELP };
	static const struct option opts[] = {
		{ "n", required_argument, NULL, O_N },
		{ "reads", required_argument, NULL, O_READS },
		{ "seeks", required_argument, NULL, O_SEEKS },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "runs", required_argument, NULL, O_RUNS },
		{ "engine", required_argument, NULL, O_ENGINE },
		{ "workloads", required_argument, NULL, O_WORKLOADS },
		{ "read-fill", required_argument, NULL, O_READ_FILL },
		{ "dir", required_argument, NULL, O_DIR },
		{ "seed", required_argument, NULL, O_SEED },
		{ "zstd-level", required_argument, NULL, O_ZSTD },
		{ "cache-mb", required_argument, NULL, O_CACHE },
		{ "memtable-mb", required_argument, NULL, O_MEMTABLE },
		{ "log-level", required_argument, NULL, O_LOG },
		{ "fill-max-seconds", required_argument, NULL, O_FILL_MAX },
		{ "wal-io", required_argument, NULL, O_WAL_IO },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c;

#ifdef STRATA_HAVE_ROCKSDB
	cfg.engines = (1u << ENG_STRATA) | (1u << ENG_ROCKSDB);
#else
	cfg.engines = 1u << ENG_STRATA;
#endif
	cfg.workloads = (1u << N_WORKLOADS) - 1;
	strata_log_set_level(STRATA_LOG_WARN);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_N:
			cfg.n = parse_u64("--n", optarg, 1, UINT32_MAX);
			break;
		case O_READS:
			cfg.reads = parse_u64("--reads", optarg, 1, UINT64_MAX / 2);
			break;
		case O_SEEKS:
			cfg.seeks = parse_u64("--seeks", optarg, 1, UINT64_MAX / 2);
			break;
		case O_BATCH:
			cfg.batch = (int)parse_u64("--batch", optarg, 1, 1000000);
			break;
		case O_THREADS: {
			char *copy = strata_strdup(optarg), *save = NULL;

			cfg.n_threads = 0;
			for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				if (cfg.n_threads == MAX_THREAD_COUNTS) {
					fprintf(stderr, "bench_lsm: --threads: at most %d counts\n", MAX_THREAD_COUNTS);
					exit(2);
				}
				cfg.threads[cfg.n_threads++] = (int)parse_u64("--threads", t, 1, MAX_THREADS);
			}
			strata_free(copy);
			if (cfg.n_threads == 0) {
				fprintf(stderr, "bench_lsm: --threads: empty list\n");
				exit(2);
			}
			break;
		}
		case O_DURATION: {
			char *end;

			cfg.duration_s = strtod(optarg, &end);
			if (*end || !(cfg.duration_s > 0 && cfg.duration_s <= 3600)) {
				fprintf(stderr, "bench_lsm: --duration: expected seconds in (0, 3600]\n");
				exit(2);
			}
			break;
		}
		case O_FILL_MAX: {
			char *end;

			cfg.fill_max_s = strtod(optarg, &end);
			if (*end || !(cfg.fill_max_s > 0 && cfg.fill_max_s <= 86400)) {
				fprintf(stderr, "bench_lsm: --fill-max-seconds: expected seconds in (0, 86400]\n");
				exit(2);
			}
			break;
		}
		case O_WAL_IO:
			if (strcmp(optarg, "auto") == 0) {
				cfg.wal_io = LSM_IO_AUTO;
			} else if (strcmp(optarg, "io_uring") == 0) {
				cfg.wal_io = LSM_IO_URING;
			} else if (strcmp(optarg, "pwrite") == 0) {
				cfg.wal_io = LSM_IO_PWRITE;
			} else {
				fprintf(stderr, "bench_lsm: --wal-io: auto, io_uring or pwrite\n");
				exit(2);
			}
			break;
		case O_RUNS:
			cfg.runs = (int)parse_u64("--runs", optarg, 1, MAX_RUNS);
			break;
		case O_ENGINE:
			if (strcmp(optarg, "strata") == 0) {
				cfg.engines = 1u << ENG_STRATA;
			} else if (strcmp(optarg, "rocksdb") == 0 || strcmp(optarg, "both") == 0) {
#ifdef STRATA_HAVE_ROCKSDB
				cfg.engines = strcmp(optarg, "both") == 0 ?
					(1u << ENG_STRATA) | (1u << ENG_ROCKSDB) : 1u << ENG_ROCKSDB;
#else
				fprintf(stderr, "bench_lsm: RocksDB is not compiled in (pkg-config found no rocksdb)\n");
				exit(2);
#endif
			} else {
				fprintf(stderr, "bench_lsm: --engine: strata, rocksdb or both\n");
				exit(2);
			}
			break;
		case O_WORKLOADS: {
			char *copy = strata_strdup(optarg), *save = NULL;

			cfg.workloads = 0;
			for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				int wl;

				for (wl = 0; wl < N_WORKLOADS; wl++)
					if (strcmp(t, workload_names[wl]) == 0)
						break;
				if (wl == N_WORKLOADS) {
					fprintf(stderr, "bench_lsm: unknown workload '%s'\n", t);
					usage(stderr);
					exit(2);
				}
				cfg.workloads |= 1u << wl;
			}
			strata_free(copy);
			break;
		}
		case O_READ_FILL:
			if (strcmp(optarg, "seq") != 0 && strcmp(optarg, "random") != 0) {
				fprintf(stderr, "bench_lsm: --read-fill: random or seq\n");
				exit(2);
			}
			cfg.read_fill_seq = strcmp(optarg, "seq") == 0;
			break;
		case O_DIR:
			cfg.dir = optarg;
			break;
		case O_SEED:
			cfg.seed = parse_u64("--seed", optarg, 0, UINT64_MAX);
			break;
		case O_ZSTD:
			cfg.zstd_level = (int)parse_u64("--zstd-level", optarg, 1, 19);
			break;
		case O_CACHE:
			cfg.block_cache_bytes = (size_t)parse_u64("--cache-mb", optarg, 1, 1u << 20) << 20;
			break;
		case O_MEMTABLE:
			cfg.memtable_bytes = (size_t)parse_u64("--memtable-mb", optarg, 1, 1u << 14) << 20;
			break;
		case O_LOG: {
			enum strata_log_level level;

			if (strata_log_parse_level(optarg, &level) != 0) {
				fprintf(stderr, "bench_lsm: --log-level: debug, info, warn or error\n");
				exit(2);
			}
			strata_log_set_level(level);
			break;
		}
		case O_HELP:
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bench_lsm: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	int rc = 0;

	parse_args(argc, argv);
	if (cfg.dir && strlen(cfg.dir) + 32 > sizeof(root_dir)) {
		fprintf(stderr, "bench_lsm: --dir: path too long\n");
		return 2;
	}
	snprintf(root_dir, sizeof(root_dir), "%s/strata-bench-XXXXXX", cfg.dir ? cfg.dir : "/tmp");
	if (!mkdtemp(root_dir)) {
		fprintf(stderr, "bench_lsm: mkdtemp %s: %s\n", root_dir, strerror(errno));
		return 1;
	}
	values_init(cfg.seed);
	if (perm_init(cfg.n, cfg.seed)) {
		fprintf(stderr, "bench_lsm: out of memory for %" PRIu64 " keys\n", cfg.n);
		rc = 1;
		goto out;
	}
	if (probe_engines()) {
		rc = 1;
		goto out;
	}
	print_config();

	if (cfg.workloads & (1u << WL_FILLSEQ))
		run_write_workload(WL_FILLSEQ, 0);
	if (cfg.workloads & (1u << WL_FILLBATCH))
		run_write_workload(WL_FILLBATCH, 0);
	if (cfg.workloads & (1u << WL_FILLRANDOM))
		run_write_workload(WL_FILLRANDOM, 0);
	if (cfg.workloads & (1u << WL_FILLSYNC))
		for (int i = 0; i < cfg.n_threads; i++)
			run_write_workload(WL_FILLSYNC, cfg.threads[i]);
	if (cfg.workloads & ((1u << WL_READRANDOM) | (1u << WL_SEEKRANDOM)))
		run_read_workloads();
	fprintf(stderr, "\n");
	print_table();
	for (int i = 0; i < n_rows; i++)
		for (int k = 0; k < N_ENGINES; k++)
			for (int run = 0; run < cfg.runs && rows[i].present[k]; run++)
				if (!rows[i].res[k][run].ok || rows[i].res[k][run].wrong)
					rc = 1;
out:
	strata_free(perm);
	rm_tree(root_dir);
	return rc;
}
