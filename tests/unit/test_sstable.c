/*
 * test_sstable.c — SSTable builder and reader: round trips of several sizes,
 * block sizes and value kinds, seeks, properties, the bloom filter, the block
 * cache, damage of every part of the file, fault injection in the writer,
 * and several threads reading one table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lsm/alloc.h"
#include "lsm/batch.h"
#include "lsm/block_cache.h"
#include "lsm/coding.h"
#include "lsm/fault.h"
#include "lsm/key.h"
#include "lsm/sstable.h"
#include "lsm/sstable_builder.h"
#include "lsm/sstable_format.h"
#include "lsm/status.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

static char test_dir[64];

/* ---- the data set: entry i has a fixed key and value ------------------- */

/*
 * 50 entries per series, series ids odd (1, 3, 5...: the even ones are
 * absent), two versions of every timestamp (newer sequence number first),
 * timestamps negative and positive, some deletes and merges.
 */
#define PER_SERIES 50

static uint64_t series_of(uint64_t i)
{
	return (i / PER_SERIES) * 2 + 1;
}

static int64_t ts_of(uint64_t i)
{
	return ((int64_t)(i % PER_SERIES) / 2) * 1000 - 20000;
}

static uint64_t seq_of(uint64_t i)
{
	return (i % PER_SERIES) % 2 == 0 ? i + 10 : i + 8;
}

static enum lsm_kind kind_of(uint64_t i)
{
	if (i % 13 == 5)
		return LSM_KIND_DELETE;
	if (i % 17 == 3)
		return LSM_KIND_MERGE;
	return LSM_KIND_PUT;
}

static void key_of(uint64_t i, uint8_t out[LSM_IKEY_LEN])
{
	uint8_t ukey[LSM_UKEY_LEN];

	lsm_ukey_encode(ukey, series_of(i), ts_of(i));
	lsm_ikey_encode(out, ukey, seq_of(i), kind_of(i));
}

enum value_mode {
	VAL_MIXED,        /* small values, mostly compressible, some random */
	VAL_RANDOM,       /* 1-4 KB of random bytes: blocks stay raw */
	VAL_COMPRESSIBLE, /* 100 B - 2 KB of repetitive text: zstd blocks */
	VAL_LARGE,        /* 5 KB - 300 KB, bigger than blocks and the write buffer */
};

#define VALUE_BUF (512u << 10)

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t s = mix(seed + 1) | 1;

	for (size_t k = 0; k < n; k++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		p[k] = (uint8_t)(s >> 24);
	}
}

static void fill_text(uint8_t *p, size_t n, uint64_t seed)
{
	static const char text[] = "cpu,host=server01,region=us-west usage_idle=98.2,usage_user=1.1 ";

	for (size_t k = 0; k < n; k++)
		p[k] = (uint8_t)text[(k + seed) % (sizeof text - 1)];
	if (n >= 8)
		lsm_put_le64(p, seed); /* values differ from each other */
}

/* Fills buf (VALUE_BUF bytes) with entry i's value; returns its length. */
static size_t value_of(uint64_t i, enum value_mode mode, uint8_t *buf)
{
	static const size_t mixed[] = { 0, 1, 5, 16, 40, 100 };
	static const size_t random_len[] = { 1000, 2500, 4000 };
	static const size_t text_len[] = { 100, 700, 2000 };
	static const size_t large[] = { 5000, 40000, 300000 };
	uint64_t h = mix(i);
	size_t len = 0;

	if (kind_of(i) == LSM_KIND_DELETE)
		return 0;
	switch (mode) {
	case VAL_MIXED:
		len = mixed[h % 6];
		if (i % 3 == 0)
			fill_random(buf, len, i);
		else
			fill_text(buf, len, i);
		break;
	case VAL_RANDOM:
		len = random_len[h % 3];
		fill_random(buf, len, i);
		break;
	case VAL_COMPRESSIBLE:
		len = text_len[h % 3];
		fill_text(buf, len, i);
		break;
	case VAL_LARGE:
		len = large[h % 3];
		if (i % 2)
			fill_random(buf, len, i);
		else
			fill_text(buf, len, i);
		break;
	}
	return len;
}

/* ---- helpers ------------------------------------------------------------ */

static void table_path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", test_dir, name);
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static bool tmp_exists(const char *path)
{
	char tmp[300];

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	return exists(tmp);
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

static void build_table(const char *path, uint64_t n, enum value_mode mode, const lsm_sst_options *opt,
			int64_t window, lsm_sst_props *props)
{
	uint8_t *buf = strata_malloc(VALUE_BUF);
	lsm_sst_builder *b;
	uint8_t key[LSM_IKEY_LEN];

	assert_non_null(buf);
	assert_int_equal(lsm_sst_builder_open(&b, path, window, LSM_WINDOW_LEGACY_NS, opt), 0);
	for (uint64_t i = 0; i < n; i++) {
		size_t len = value_of(i, mode, buf);

		key_of(i, key);
		assert_int_equal(lsm_sst_builder_add(b, key, sizeof key, buf, len), 0);
	}
	assert_int_equal(lsm_sst_builder_entries(b), n);
	assert_int_equal(lsm_sst_builder_finish(b, props), 0);
	assert_true(exists(path));
	assert_false(tmp_exists(path));
	strata_free(buf);
}

static void assert_entry(lsm_iter *it, uint64_t i, enum value_mode mode, uint8_t *buf)
{
	uint8_t want[LSM_IKEY_LEN];
	const uint8_t *k, *v;
	size_t k_len, v_len, want_len;

	assert_true(lsm_iter_valid(it));
	key_of(i, want);
	k = lsm_iter_key(it, &k_len);
	assert_int_equal(k_len, LSM_IKEY_LEN);
	assert_memory_equal(k, want, LSM_IKEY_LEN);
	want_len = value_of(i, mode, buf);
	v = lsm_iter_value(it, &v_len);
	assert_int_equal(v_len, want_len);
	if (want_len)
		assert_memory_equal(v, buf, want_len);
}

static void check_scan(lsm_sst *s, uint64_t n, enum value_mode mode)
{
	uint8_t *buf = strata_malloc(VALUE_BUF);
	lsm_iter *it = lsm_sst_iter_new(s);
	uint64_t i = 0;

	assert_non_null(buf);
	assert_non_null(it);
	for (lsm_iter_seek_first(it); lsm_iter_valid(it) && i <= n; lsm_iter_next(it), i++)
		assert_entry(it, i, mode, buf);
	assert_int_equal(lsm_iter_status(it), 0);
	assert_int_equal(i, n);
	/* next() past the end stays at the end */
	lsm_iter_next(it);
	assert_false(lsm_iter_valid(it));
	lsm_iter_free(it);
	strata_free(buf);
}

/* The 192-bit big-endian successor of a key. */
static void key_increment(uint8_t k[LSM_IKEY_LEN])
{
	for (int j = LSM_IKEY_LEN - 1; j >= 0; j--)
		if (++k[j] != 0)
			break;
}

static void check_seeks(lsm_sst *s, uint64_t n, enum value_mode mode)
{
	uint8_t *buf = strata_malloc(VALUE_BUF);
	lsm_iter *it = lsm_sst_iter_new(s);
	uint8_t t[LSM_IKEY_LEN], ukey[LSM_UKEY_LEN];

	assert_non_null(buf);
	assert_non_null(it);
	for (uint64_t i = 0; i < n; i++) {
		/* exactly at every key */
		key_of(i, t);
		lsm_iter_seek(it, t, sizeof t);
		assert_entry(it, i, mode, buf);
		/* just after the key before it: lands on this key */
		if (i > 0) {
			key_of(i - 1, t);
			key_increment(t);
			lsm_iter_seek(it, t, sizeof t);
			assert_entry(it, i, mode, buf);
		}
	}
	/* as readers seek: the newest version of a user key */
	for (uint64_t i = 0; i < n; i += (n > 1000 ? 97 : 1)) {
		uint64_t first = i - (i % PER_SERIES) % 2; /* the newer version of the pair */

		lsm_ukey_encode(ukey, series_of(i), ts_of(i));
		lsm_ikey_seek_key(t, ukey, LSM_SEQ_MAX);
		lsm_iter_seek(it, t, sizeof t);
		assert_entry(it, first, mode, buf);
		/* next() from a seek crosses blocks too */
		for (uint64_t j = first + 1; j < n && j < first + 40; j++) {
			lsm_iter_next(it);
			assert_entry(it, j, mode, buf);
		}
	}
	/* before the first key */
	memset(t, 0, sizeof t);
	lsm_iter_seek(it, t, sizeof t);
	assert_entry(it, 0, mode, buf);
	/* after the last key */
	key_of(n - 1, t);
	key_increment(t);
	lsm_iter_seek(it, t, sizeof t);
	assert_false(lsm_iter_valid(it));
	assert_int_equal(lsm_iter_status(it), 0);
	memset(t, 0xff, sizeof t);
	lsm_iter_seek(it, t, sizeof t);
	assert_false(lsm_iter_valid(it));
	assert_int_equal(lsm_iter_status(it), 0);
	/* usable again after reaching the end */
	lsm_iter_seek_first(it);
	assert_entry(it, 0, mode, buf);
	lsm_iter_free(it);
	strata_free(buf);
}

static void check_props(const lsm_sst_props *p, uint64_t n, enum value_mode mode, int64_t window,
			uint64_t size)
{
	uint8_t *buf = strata_malloc(VALUE_BUF);
	uint8_t k[LSM_IKEY_LEN];
	int64_t min_ts = INT64_MAX, max_ts = INT64_MIN;
	uint64_t min_seq = UINT64_MAX, max_seq = 0, raw = 0;

	assert_non_null(buf);
	for (uint64_t i = 0; i < n; i++) {
		min_ts = ts_of(i) < min_ts ? ts_of(i) : min_ts;
		max_ts = ts_of(i) > max_ts ? ts_of(i) : max_ts;
		min_seq = seq_of(i) < min_seq ? seq_of(i) : min_seq;
		max_seq = seq_of(i) > max_seq ? seq_of(i) : max_seq;
		raw += LSM_IKEY_LEN + value_of(i, mode, buf);
	}
	key_of(0, k);
	assert_memory_equal(p->smallest, k, LSM_IKEY_LEN);
	key_of(n - 1, k);
	assert_memory_equal(p->largest, k, LSM_IKEY_LEN);
	assert_int_equal(p->window, window);
	assert_int_equal(p->min_ts, min_ts);
	assert_int_equal(p->max_ts, max_ts);
	assert_int_equal(p->min_seq, min_seq);
	assert_int_equal(p->max_seq, max_seq);
	assert_int_equal(p->n_entries, n);
	assert_int_equal(p->n_series, (n + PER_SERIES - 1) / PER_SERIES);
	assert_true(p->n_data_blocks >= 1 && p->n_data_blocks <= n);
	assert_int_equal(p->raw_bytes, raw);
	assert_int_equal(p->file_bytes, size);
	strata_free(buf);
}

struct footer_info {
	uint64_t size;
	uint64_t index_off, index_size, filter_off, filter_size, props_off, props_size;
};

static void read_footer(const char *path, struct footer_info *out)
{
	uint8_t f[LSM_SST_FOOTER_LEN];
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	out->size = file_size(path);
	assert_int_equal(pread(fd, f, sizeof f, (off_t)(out->size - sizeof f)), (ssize_t)sizeof f);
	close(fd);
	assert_int_equal(lsm_get_le64(f + LSM_SST_FOOTER_MAGIC), LSM_SST_MAGIC);
	out->index_off = lsm_get_le64(f + LSM_SST_FOOTER_INDEX);
	out->index_size = lsm_get_le64(f + LSM_SST_FOOTER_INDEX + 8);
	out->filter_off = lsm_get_le64(f + LSM_SST_FOOTER_FILTER);
	out->filter_size = lsm_get_le64(f + LSM_SST_FOOTER_FILTER + 8);
	out->props_off = lsm_get_le64(f + LSM_SST_FOOTER_PROPS);
	out->props_size = lsm_get_le64(f + LSM_SST_FOOTER_PROPS + 8);
}

static void write_at(const char *path, uint64_t off, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, p, n, (off_t)off), (ssize_t)n);
	close(fd);
}

static void flip_byte(const char *path, uint64_t off)
{
	uint8_t b;
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
	b ^= 0x5a;
	assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

static void copy_file(const char *from, const char *to)
{
	uint8_t buf[65536];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof buf)) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	close(in);
	close(out);
}

/* The dump of a file as a heap string (free it). */
static char *dump_to_string(const char *path, bool show_entries, int *rc)
{
	/* On the heap: the stream keeps pointers to both until it is closed. */
	struct {
		char *text;
		size_t len;
	} *m = calloc(1, sizeof *m);
	char *text;
	FILE *f;

	assert_non_null(m);
	f = open_memstream(&m->text, &m->len);
	assert_non_null(f);
	*rc = lsm_sst_dump(path, show_entries, f);
	fclose(f);
	text = m->text;
	free(m);
	return text;
}

static size_t count_substr(const char *s, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Lines that start with prefix and, when needle is not NULL, contain it. */
static size_t count_lines(const char *s, const char *prefix, const char *needle)
{
	size_t n = 0, plen = strlen(prefix);

	for (const char *line = s; line && *line;) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);

		if (len >= plen && memcmp(line, prefix, plen) == 0) {
			if (!needle)
				n++;
			else if (memmem(line, len, needle, strlen(needle)))
				n++;
		}
		line = eol ? eol + 1 : NULL;
	}
	return n;
}

/* Opens a damaged copy of path's table and expects want. */
static void expect_open_fails(const char *path, int want)
{
	lsm_sst *s = NULL;
	int rc = lsm_sst_open(&s, path, 99, NULL);

	assert_int_equal(rc, want);
	assert_null(s);
}

/* A 2000-entry table in a fresh file named name; returns its footer. */
static void small_table(const char *name, char *path, size_t path_len, struct footer_info *fi)
{
	lsm_sst_options opt;
	lsm_sst_props props;

	lsm_sst_options_default(&opt);
	opt.block_bytes = 1024;
	table_path(path, path_len, name);
	build_table(path, 2000, VAL_MIXED, &opt, 7, &props);
	read_footer(path, fi);
}

/* ---- tests -------------------------------------------------------------- */

static void roundtrip(uint64_t n, size_t block_bytes, enum value_mode mode)
{
	char path[256];
	lsm_sst_options opt;
	lsm_sst_props props;
	lsm_sst *s;

	lsm_sst_options_default(&opt);
	opt.block_bytes = block_bytes;
	snprintf(path, sizeof path, "%s/rt-%llu-%zu-%d.sst", test_dir, (unsigned long long)n,
		 block_bytes, (int)mode);
	build_table(path, n, mode, &opt, -3, &props);
	check_props(&props, n, mode, -3, file_size(path));

	assert_int_equal(lsm_sst_open(&s, path, 1, NULL), 0);
	/* what the reader finds is what the builder reported */
	assert_memory_equal(lsm_sst_get_props(s), &props, sizeof props);
	assert_int_equal(lsm_sst_file_no(s), 1);
	check_scan(s, n, mode);
	check_seeks(s, n, mode);
	assert_int_equal(lsm_sst_verify(s, NULL, NULL), 0);
	lsm_sst_unref(s);
	unlink(path);
}

static void test_sstable_roundtrip_one_entry(void **state)
{
	(void)state;
	roundtrip(1, 4096, VAL_MIXED);
	roundtrip(1, 64, VAL_LARGE);
}

static void test_sstable_roundtrip_hundred_entries(void **state)
{
	static const size_t blocks[] = { 64, 256, 4096, 16384 };

	(void)state;
	for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
		roundtrip(100, blocks[i], VAL_MIXED);
		roundtrip(100, blocks[i], VAL_RANDOM);
		roundtrip(100, blocks[i], VAL_COMPRESSIBLE);
	}
	roundtrip(100, 4096, VAL_LARGE);
}

static void test_sstable_roundtrip_200k_entries(void **state)
{
	static const size_t blocks[] = { 256, 4096, 16384 };

	(void)state;
	for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
		roundtrip(200000, blocks[i], VAL_MIXED);
}

static void test_sstable_props_and_blocks(void **state)
{
	char path[256];
	lsm_sst_options opt;
	lsm_sst_props props;

	(void)state;
	lsm_sst_options_default(&opt);
	opt.block_bytes = 4096;
	table_path(path, sizeof path, "props.sst");
	build_table(path, 20000, VAL_COMPRESSIBLE, &opt, 12345, &props);
	check_props(&props, 20000, VAL_COMPRESSIBLE, 12345, file_size(path));
	/* ~1.2 KB values, 4 KB blocks: hundreds of blocks, well compressed */
	assert_true(props.n_data_blocks > 100);
	assert_true(props.file_bytes < props.raw_bytes / 2);
	unlink(path);
}

static void test_sstable_raw_and_zstd_blocks(void **state)
{
	char path[256];
	lsm_sst_options opt;
	lsm_sst_props props;
	lsm_sst *s;
	char *text;
	int rc;

	(void)state;
	lsm_sst_options_default(&opt);
	opt.block_bytes = 4096;

	/* random values: zstd cannot shrink them, every data block stays raw */
	table_path(path, sizeof path, "random.sst");
	build_table(path, 3000, VAL_RANDOM, &opt, 0, &props);
	text = dump_to_string(path, false, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(count_lines(text, "  block ", NULL), props.n_data_blocks);
	assert_int_equal(count_lines(text, "  block ", " raw checksum "), props.n_data_blocks);
	assert_true(props.file_bytes > props.raw_bytes);
	free(text);
	assert_int_equal(lsm_sst_open(&s, path, 1, NULL), 0);
	check_scan(s, 3000, VAL_RANDOM);
	lsm_sst_unref(s);

	/* repetitive values: every data block is zstd */
	table_path(path, sizeof path, "text.sst");
	build_table(path, 3000, VAL_COMPRESSIBLE, &opt, 0, &props);
	text = dump_to_string(path, false, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(count_lines(text, "  block ", " zstd checksum "), props.n_data_blocks);
	assert_null(strstr(text, "BAD"));
	free(text);
	assert_int_equal(lsm_sst_open(&s, path, 1, NULL), 0);
	check_scan(s, 3000, VAL_COMPRESSIBLE);
	lsm_sst_unref(s);

	/* compression off: all raw, still readable */
	opt.zstd_level = 0;
	table_path(path, sizeof path, "nozstd.sst");
	build_table(path, 3000, VAL_COMPRESSIBLE, &opt, 0, &props);
	text = dump_to_string(path, false, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(count_substr(text, " zstd "), 0);
	free(text);
	assert_int_equal(lsm_sst_open(&s, path, 1, NULL), 0);
	check_scan(s, 3000, VAL_COMPRESSIBLE);
	lsm_sst_unref(s);
}

static void test_sstable_large_values(void **state)
{
	char path[256];
	lsm_sst_options opt;
	lsm_sst_props props;
	lsm_sst_builder *b;
	uint8_t key[LSM_IKEY_LEN], ukey[LSM_UKEY_LEN];
	uint8_t *big = strata_malloc(LSM_VALUE_MAX);
	const uint8_t *v;
	size_t v_len;
	lsm_iter *it;
	lsm_sst *s;

	(void)state;
	assert_non_null(big);
	lsm_sst_options_default(&opt);
	table_path(path, sizeof path, "large.sst");
	/* values up to the limit, random and compressible, each its own block */
	assert_int_equal(lsm_sst_builder_open(&b, path, 0, LSM_WINDOW_LEGACY_NS, &opt), 0);
	for (uint64_t i = 0; i < 4; i++) {
		size_t len = i == 3 ? LSM_VALUE_MAX : (1u << 20) + i;

		if (i % 2)
			fill_random(big, len, i);
		else
			fill_text(big, len, i);
		lsm_ukey_encode(ukey, 5, (int64_t)i);
		lsm_ikey_encode(key, ukey, 100 + i, LSM_KIND_PUT);
		assert_int_equal(lsm_sst_builder_add(b, key, sizeof key, big, len), 0);
	}
	/* one byte over the limit is refused and the builder stays usable */
	lsm_ukey_encode(ukey, 6, 0);
	lsm_ikey_encode(key, ukey, 1, LSM_KIND_PUT);
	assert_int_equal(lsm_sst_builder_add(b, key, sizeof key, big, LSM_VALUE_MAX + 1u), STRATA_ETOOBIG);
	assert_int_equal(lsm_sst_builder_finish(b, &props), 0);
	assert_int_equal(props.n_entries, 4);
	assert_int_equal(props.n_data_blocks, 4);

	assert_int_equal(lsm_sst_open(&s, path, 1, NULL), 0);
	it = lsm_sst_iter_new(s);
	lsm_sst_unref(s); /* the iterator's reference keeps the table open */
	lsm_iter_seek_first(it);
	for (uint64_t i = 0; i < 4; i++) {
		size_t len = i == 3 ? LSM_VALUE_MAX : (1u << 20) + i;

		assert_true(lsm_iter_valid(it));
		if (i % 2)
			fill_random(big, len, i);
		else
			fill_text(big, len, i);
		v = lsm_iter_value(it, &v_len);
		assert_int_equal(v_len, len);
		assert_memory_equal(v, big, len);
		lsm_iter_next(it);
	}
	assert_false(lsm_iter_valid(it));
	assert_int_equal(lsm_iter_status(it), 0);
	lsm_iter_free(it);
	strata_free(big);
	unlink(path);
}

static void test_sstable_bloom_filter(void **state)
{
	static const uint64_t sizes[] = { 1, 100, 200000 };
	char path[256];
	lsm_sst_options opt;
	lsm_sst_props props;
	lsm_sst *s;

	(void)state;
	lsm_sst_options_default(&opt);
	for (size_t t = 0; t < 3; t++) {
		uint64_t n = sizes[t], n_series = (n + PER_SERIES - 1) / PER_SERIES, fp = 0, absent = 0;

		table_path(path, sizeof path, "bloom.sst");
		build_table(path, n, VAL_MIXED, &opt, 0, &props);
		assert_int_equal(lsm_sst_open(&s, path, 1, NULL), 0);
		/* every present series: yes */
		for (uint64_t k = 0; k < n_series; k++)
			assert_true(lsm_sst_may_contain_series(s, k * 2 + 1));
		/* absent ones (even ids, and ids far away): mostly no */
		for (uint64_t id = 0; id < 20000; id += 2, absent++)
			fp += lsm_sst_may_contain_series(s, id);
		assert_true(fp * 20 < absent); /* < 5% at 10 bits per key (~1% expected) */
		lsm_sst_unref(s);
		unlink(path);
	}

	/* no filter: every series may be there */
	opt.bloom_bits_per_key = 0;
	table_path(path, sizeof path, "nobloom.sst");
	build_table(path, 100, VAL_MIXED, &opt, 0, &props);
	assert_int_equal(lsm_sst_open(&s, path, 1, NULL), 0);
	assert_true(lsm_sst_may_contain_series(s, 2));
	assert_true(lsm_sst_may_contain_series(s, 3));
	check_scan(s, 100, VAL_MIXED);
	assert_int_equal(lsm_sst_verify(s, NULL, NULL), 0);
	lsm_sst_unref(s);
	unlink(path);
}

static void test_sstable_cache_hit_on_second_scan(void **state)
{
	char path[256];
	lsm_sst_options opt;
	lsm_sst_props props;
	lsm_cache_stats before, after;
	lsm_cache *cache;
	lsm_sst *s;

	(void)state;
	lsm_sst_options_default(&opt);
	opt.block_bytes = 2048;
	table_path(path, sizeof path, "cache.sst");
	build_table(path, 20000, VAL_MIXED, &opt, 0, &props);
	assert_true(props.n_data_blocks > 10);
	assert_int_equal(lsm_cache_new(&cache, 64u << 20, 2), 0);
	assert_int_equal(lsm_sst_open(&s, path, 42, cache), 0);

	lsm_cache_get_stats(cache, &before);
	check_scan(s, 20000, VAL_MIXED);
	lsm_cache_get_stats(cache, &after);
	assert_int_equal(after.misses - before.misses, props.n_data_blocks);
	assert_int_equal(after.hits - before.hits, 0);
	assert_int_equal(after.entries, props.n_data_blocks);

	before = after;
	check_scan(s, 20000, VAL_MIXED);
	lsm_cache_get_stats(cache, &after);
	assert_int_equal(after.hits - before.hits, props.n_data_blocks);
	assert_int_equal(after.misses - before.misses, 0);

	/* seeks are served from the cache too, and stay right */
	check_seeks(s, 20000, VAL_MIXED);
	lsm_cache_get_stats(cache, &before);
	assert_int_equal(before.misses, after.misses);

	/* a cache too small for the table: evictions, same answers */
	lsm_sst_unref(s);
	lsm_cache_free(cache);
	assert_int_equal(lsm_cache_new(&cache, 16u << 10, 0), 0);
	assert_int_equal(lsm_sst_open(&s, path, 43, cache), 0);
	check_scan(s, 20000, VAL_MIXED);
	check_scan(s, 20000, VAL_MIXED);
	lsm_cache_get_stats(cache, &after);
	assert_true(after.evictions > 0);
	lsm_sst_unref(s);
	lsm_cache_free(cache);
	unlink(path);
}

static void test_sstable_corrupt_data_block(void **state)
{
	char path[256];
	struct footer_info fi;
	uint8_t *buf = strata_malloc(VALUE_BUF);
	lsm_cache *cache;
	lsm_iter *it;
	lsm_sst *s;
	uint64_t n = 0;
	char *text;
	int rc;

	(void)state;
	assert_non_null(buf);
	small_table("bad-data.sst", path, sizeof path, &fi);
	/* the data area ends where the filter starts */
	flip_byte(path, fi.filter_off / 2);

	assert_int_equal(lsm_cache_new(&cache, 1u << 20, 1), 0);
	assert_int_equal(lsm_sst_open(&s, path, 5, cache), 0); /* data blocks are read lazily */
	it = lsm_sst_iter_new(s);
	for (lsm_iter_seek_first(it); lsm_iter_valid(it) && n <= 2000; lsm_iter_next(it), n++)
		assert_entry(it, n, VAL_MIXED, buf);
	assert_int_equal(lsm_iter_status(it), STRATA_ECORRUPT);
	assert_true(strstr(strata_last_error(), path) != NULL);
	assert_true(n > 0 && n < 2000);
	/* the blocks before the damage still read */
	lsm_iter_seek_first(it);
	assert_true(lsm_iter_valid(it));
	assert_int_equal(lsm_iter_status(it), 0);
	lsm_iter_free(it);

	rc = lsm_sst_verify(s, NULL, NULL);
	assert_int_equal(rc, STRATA_ECORRUPT);
	assert_true(strstr(strata_last_error(), "offset") != NULL);
	lsm_sst_unref(s);
	lsm_cache_free(cache);

	text = dump_to_string(path, true, &rc);
	assert_int_equal(rc, STRATA_ECORRUPT);
	assert_int_equal(count_substr(text, " BAD\n"), 1);
	assert_int_equal(count_lines(text, "  block ", " BAD"), 1);
	assert_non_null(strstr(text, "\nDAMAGED\n"));
	free(text);
	strata_free(buf);
	unlink(path);
}

/* A block whose checksum is right but whose structure is not. */
static void test_sstable_malformed_block_with_good_checksum(void **state)
{
	char path[256];
	lsm_sst_options opt;
	lsm_sst_props props;
	struct footer_info fi;
	uint8_t idx[64], blk_tail[LSM_SST_TRAILER_LEN + 4];
	uint64_t off = 1, size = 0, sum;
	uint8_t *block;
	const uint8_t *p;
	lsm_iter *it;
	lsm_sst *s;
	int fd;

	(void)state;
	lsm_sst_options_default(&opt);
	opt.zstd_level = 0; /* raw blocks: the test can edit them */
	opt.block_bytes = 1024;
	table_path(path, sizeof path, "malformed.sst");
	build_table(path, 500, VAL_MIXED, &opt, 0, &props);
	read_footer(path, &fi);
	/* First index entry: shared 0, unshared 24, value_len, key, offset, size. */
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, idx, sizeof idx, (off_t)fi.index_off), (ssize_t)sizeof idx);
	assert_int_equal(idx[0], 0);
	assert_int_equal(idx[1], LSM_IKEY_LEN);
	p = idx + 3 + LSM_IKEY_LEN;
	p += lsm_get_varint64(p, idx + sizeof idx, &off);
	assert_true(lsm_get_varint64(p, idx + sizeof idx, &size) > 0);
	assert_int_equal(off, 0);
	/* Break the restart count, then re-seal the block with a good checksum. */
	block = strata_malloc(size + 1);
	assert_non_null(block);
	assert_int_equal(pread(fd, block, size + 1, 0), (ssize_t)(size + 1));
	assert_int_equal(block[size], LSM_SST_COMP_RAW);
	lsm_put_le32(block + size - 4, 0x7fffffff);
	sum = XXH3_64bits(block, size + 1);
	memcpy(blk_tail, block + size - 4, 4);
	blk_tail[4] = LSM_SST_COMP_RAW;
	lsm_put_le64(blk_tail + 5, sum);
	assert_int_equal(pwrite(fd, blk_tail, sizeof blk_tail, (off_t)(size - 4)), (ssize_t)sizeof blk_tail);
	close(fd);
	strata_free(block);

	assert_int_equal(lsm_sst_open(&s, path, 1, NULL), 0);
	it = lsm_sst_iter_new(s);
	lsm_iter_seek_first(it);
	assert_false(lsm_iter_valid(it));
	assert_int_equal(lsm_iter_status(it), STRATA_ECORRUPT);
	lsm_iter_free(it);
	assert_int_equal(lsm_sst_verify(s, NULL, NULL), STRATA_ECORRUPT);
	lsm_sst_unref(s);
	unlink(path);
}

static void test_sstable_corrupt_metadata(void **state)
{
	char orig[256], path[256];
	struct footer_info fi;
	uint64_t footer;
	struct {
		const char *what;
		uint64_t off;
	} cases[8];
	size_t n_cases = 0;

	(void)state;
	small_table("meta.sst", orig, sizeof orig, &fi);
	footer = fi.size - LSM_SST_FOOTER_LEN;
	cases[n_cases].what = "footer checksum";
	cases[n_cases++].off = footer + LSM_SST_FOOTER_CHECKSUM + 3;
	cases[n_cases].what = "footer index handle";
	cases[n_cases++].off = footer + LSM_SST_FOOTER_INDEX + 1;
	cases[n_cases].what = "footer reserved";
	cases[n_cases++].off = footer + LSM_SST_FOOTER_RESERVED;
	cases[n_cases].what = "magic";
	cases[n_cases++].off = footer + LSM_SST_FOOTER_MAGIC + 7;
	cases[n_cases].what = "index block";
	cases[n_cases++].off = fi.index_off + fi.index_size / 2;
	cases[n_cases].what = "index trailer";
	cases[n_cases++].off = fi.index_off + fi.index_size + 4;
	cases[n_cases].what = "properties block";
	cases[n_cases++].off = fi.props_off + 100;
	cases[n_cases].what = "filter block";
	cases[n_cases++].off = fi.filter_off + fi.filter_size / 2;

	table_path(path, sizeof path, "meta-bad.sst");
	for (size_t i = 0; i < n_cases; i++) {
		char *text;
		int rc;

		copy_file(orig, path);
		flip_byte(path, cases[i].off);
		print_message("damage: %s\n", cases[i].what);
		expect_open_fails(path, STRATA_ECORRUPT);
		assert_true(strstr(strata_last_error(), path) != NULL);
		/* the dump describes it and reports it, without crashing */
		text = dump_to_string(path, true, &rc);
		assert_int_equal(rc, STRATA_ECORRUPT);
		assert_non_null(strstr(text, "DAMAGED"));
		free(text);
	}
	unlink(path);
	unlink(orig);
}

static void test_sstable_truncated_file(void **state)
{
	char orig[256], path[256];
	struct footer_info fi;
	uint64_t cuts[6];

	(void)state;
	small_table("trunc.sst", orig, sizeof orig, &fi);
	cuts[0] = fi.size - 1;
	cuts[1] = fi.size - LSM_SST_FOOTER_LEN;
	cuts[2] = fi.size / 2;
	cuts[3] = LSM_SST_FOOTER_LEN;
	cuts[4] = 10;
	cuts[5] = 0;
	table_path(path, sizeof path, "trunc-bad.sst");
	for (size_t i = 0; i < 6; i++) {
		char *text;
		int rc;

		copy_file(orig, path);
		assert_int_equal(truncate(path, (off_t)cuts[i]), 0);
		expect_open_fails(path, STRATA_ECORRUPT);
		text = dump_to_string(path, false, &rc);
		assert_int_equal(rc, STRATA_ECORRUPT);
		free(text);
	}
	/* bytes appended after the footer: no footer at the end any more */
	copy_file(orig, path);
	{
		uint8_t junk[100];

		memset(junk, 0, sizeof junk);
		write_at(path, fi.size, junk, sizeof junk);
	}
	expect_open_fails(path, STRATA_ECORRUPT);
	expect_open_fails("/nonexistent-dir/x.sst", -ENOENT);
	unlink(path);
	unlink(orig);
}

static void test_sstable_version_bump(void **state)
{
	char orig[256], path[256];
	struct footer_info fi;
	uint8_t footer[LSM_SST_FOOTER_LEN], v[4];
	char *text;
	int rc, fd;

	(void)state;
	small_table("version.sst", orig, sizeof orig, &fi);
	table_path(path, sizeof path, "version-bad.sst");

	/* a newer version, footer checksum left as it was */
	copy_file(orig, path);
	lsm_put_le32(v, LSM_SST_VERSION + 1);
	write_at(path, fi.size - LSM_SST_FOOTER_LEN + LSM_SST_FOOTER_VERSION, v, 4);
	expect_open_fails(path, STRATA_EVERSION);
	text = dump_to_string(path, false, &rc);
	assert_int_equal(rc, STRATA_EVERSION);
	assert_non_null(strstr(text, "UNSUPPORTED"));
	free(text);

	/* a newer version with a good footer checksum */
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, footer, sizeof footer, (off_t)(fi.size - sizeof footer)), (ssize_t)sizeof footer);
	lsm_put_le64(footer, XXH3_64bits(footer + 8, sizeof footer - 8));
	assert_int_equal(pwrite(fd, footer, sizeof footer, (off_t)(fi.size - sizeof footer)), (ssize_t)sizeof footer);
	close(fd);
	expect_open_fails(path, STRATA_EVERSION);

	/* version 0 is not a version */
	copy_file(orig, path);
	lsm_put_le32(v, 0);
	write_at(path, fi.size - LSM_SST_FOOTER_LEN + LSM_SST_FOOTER_VERSION, v, 4);
	expect_open_fails(path, STRATA_ECORRUPT);
	unlink(path);
	unlink(orig);
}

static void progress_cb(void *ctx, uint64_t done, uint64_t total)
{
	uint64_t *p = ctx;

	assert_true(done >= p[0]); /* monotone */
	assert_true(done <= total);
	p[0] = done;
	p[1] = total;
	p[2]++;
}

static void test_sstable_verify_and_dump(void **state)
{
	char path[256];
	struct footer_info fi;
	uint64_t prog[3] = { 0, 0, 0 };
	lsm_sst *s;
	char *text;
	int rc;

	(void)state;
	small_table("verify.sst", path, sizeof path, &fi);
	assert_int_equal(lsm_sst_open(&s, path, 1, NULL), 0);
	assert_int_equal(lsm_sst_verify(s, progress_cb, prog), 0);
	assert_int_equal(prog[0], fi.size);
	assert_int_equal(prog[1], fi.size);
	assert_true(prog[2] >= lsm_sst_get_props(s)->n_data_blocks);

	text = dump_to_string(path, true, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(text, "magic"));
	assert_non_null(strstr(text, "entries        2000"));
	assert_non_null(strstr(text, "series=1 ts=-20000 (1969-12-31T23:59:59.999980000Z) seq=10 kind=put"));
	assert_int_equal(count_substr(text, " value_len="), 2000);
	assert_int_equal(count_substr(text, "  block "), lsm_sst_get_props(s)->n_data_blocks);
	assert_int_equal(count_substr(text, "BAD"), 0);
	assert_non_null(strstr(text, "\nok\n"));
	free(text);
	lsm_sst_unref(s);
	unlink(path);
}

static void test_sstable_builder_rejects_bad_input(void **state)
{
	char path[256];
	lsm_sst_options opt;
	lsm_sst_props props;
	lsm_sst_builder *b;
	uint8_t k1[LSM_IKEY_LEN], k2[LSM_IKEY_LEN];

	(void)state;
	lsm_sst_options_default(&opt);
	table_path(path, sizeof path, "reject.sst");
	key_of(10, k1);
	key_of(11, k2);

	assert_int_equal(lsm_sst_builder_open(&b, path, 0, LSM_WINDOW_LEGACY_NS, &opt), 0);
	assert_true(tmp_exists(path));
	assert_int_equal(lsm_sst_builder_add(b, k2, sizeof k2, NULL, 0), 0);
	assert_int_equal(lsm_sst_builder_add(b, k1, sizeof k1, NULL, 0), STRATA_EINVAL); /* descending */
	assert_int_equal(lsm_sst_builder_add(b, k2, sizeof k2, NULL, 0), STRATA_EINVAL); /* equal */
	assert_int_equal(lsm_sst_builder_add(b, k2, 16, NULL, 0), STRATA_EINVAL);        /* not 24 bytes */
	assert_int_equal(lsm_sst_builder_entries(b), 1);
	lsm_sst_builder_abandon(b);
	assert_false(tmp_exists(path));
	assert_false(exists(path));

	/* an empty table is refused and leaves nothing */
	assert_int_equal(lsm_sst_builder_open(&b, path, 0, LSM_WINDOW_LEGACY_NS, &opt), 0);
	assert_int_equal(lsm_sst_builder_finish(b, &props), STRATA_EINVAL);
	assert_false(tmp_exists(path));
	assert_false(exists(path));

	/* bad options */
	opt.block_bytes = 0;
	assert_int_equal(lsm_sst_builder_open(&b, path, 0, LSM_WINDOW_LEGACY_NS, &opt), STRATA_EINVAL);
	lsm_sst_options_default(&opt);
	opt.zstd_level = 99;
	assert_int_equal(lsm_sst_builder_open(&b, path, 0, LSM_WINDOW_LEGACY_NS, &opt), STRATA_EINVAL);
	assert_false(tmp_exists(path));

	/* a directory that does not exist */
	lsm_sst_options_default(&opt);
	assert_int_equal(lsm_sst_builder_open(&b, "/nonexistent-dir/x.sst", 0, LSM_WINDOW_LEGACY_NS, &opt), -ENOENT);
}

/* Builds n entries with a fault armed; returns the first error from add or finish. */
static int build_with_fault(const char *path, uint64_t n, enum value_mode mode)
{
	uint8_t *buf = strata_malloc(VALUE_BUF);
	lsm_sst_options opt;
	lsm_sst_props props;
	lsm_sst_builder *b;
	uint8_t key[LSM_IKEY_LEN];
	int rc = 0, rc2;

	assert_non_null(buf);
	lsm_sst_options_default(&opt);
	assert_int_equal(lsm_sst_builder_open(&b, path, 0, LSM_WINDOW_LEGACY_NS, &opt), 0);
	for (uint64_t i = 0; i < n && rc == 0; i++) {
		size_t len = value_of(i, mode, buf);

		key_of(i, key);
		rc = lsm_sst_builder_add(b, key, sizeof key, buf, len);
	}
	if (rc) {
		/* the error sticks */
		key_of(n + 1, key);
		assert_int_equal(lsm_sst_builder_add(b, key, sizeof key, NULL, 0), rc);
	}
	rc2 = lsm_sst_builder_finish(b, &props);
	if (rc)
		assert_int_equal(rc2, rc);
	strata_free(buf);
	return rc ? rc : rc2;
}

static void test_sstable_fault_injection(void **state)
{
	char path[256];
	lsm_sst_props props;
	lsm_sst *s;

	(void)state;
	table_path(path, sizeof path, "fault.sst");

	/* the first write (in finish, small table) */
	lsm_fault_arm(LSM_FAULT_SST_WRITE, 0, ENOSPC, false);
	assert_int_equal(build_with_fault(path, 100, VAL_MIXED), -ENOSPC);
	assert_false(exists(path));
	assert_false(tmp_exists(path));
	lsm_fault_reset();

	/* a later write, while entries are still being added (not sticky: the builder is) */
	lsm_fault_arm(LSM_FAULT_SST_WRITE, 3, EIO, false);
	assert_int_equal(build_with_fault(path, 3000, VAL_RANDOM), -EIO);
	assert_false(exists(path));
	assert_false(tmp_exists(path));
	lsm_fault_reset();

	/* the file's fsync */
	lsm_fault_arm(LSM_FAULT_SST_SYNC, 0, EIO, false);
	assert_int_equal(build_with_fault(path, 100, VAL_MIXED), -EIO);
	assert_false(exists(path));
	assert_false(tmp_exists(path));
	lsm_fault_reset();

	/* the directory's fsync, after the rename */
	lsm_fault_arm(LSM_FAULT_SST_SYNC, 1, EDQUOT, false);
	assert_int_equal(build_with_fault(path, 100, VAL_MIXED), -EDQUOT);
	assert_false(exists(path));
	assert_false(tmp_exists(path));
	lsm_fault_reset();

	/* and with nothing armed, the same builds succeed */
	assert_int_equal(build_with_fault(path, 3000, VAL_RANDOM), 0);
	assert_true(exists(path));
	assert_int_equal(lsm_sst_open(&s, path, 1, NULL), 0);
	props = *lsm_sst_get_props(s);
	assert_int_equal(props.n_entries, 3000);
	check_scan(s, 3000, VAL_RANDOM);
	lsm_sst_unref(s);
	unlink(path);
}

struct reader_arg {
	lsm_sst *s;
	uint64_t n;
	int thread;
	uint64_t seen;
	int status;
};

static void *reader_main(void *p)
{
	struct reader_arg *a = p;
	lsm_iter *it = lsm_sst_iter_new(a->s);
	uint8_t want[LSM_IKEY_LEN];
	const uint8_t *k;
	size_t k_len;

	if (!it) {
		a->status = -ENOMEM;
		return NULL;
	}
	for (int round = 0; round < 3; round++) {
		uint64_t i = 0;

		for (lsm_iter_seek_first(it); lsm_iter_valid(it) && i <= a->n; lsm_iter_next(it), i++) {
			key_of(i, want);
			k = lsm_iter_key(it, &k_len);
			if (k_len != LSM_IKEY_LEN || memcmp(k, want, LSM_IKEY_LEN) != 0)
				break;
		}
		a->seen += i;
		if (lsm_iter_status(it))
			a->status = lsm_iter_status(it);
		/* seeks at thread-specific keys */
		for (uint64_t j = (uint64_t)a->thread; j < a->n; j += 131) {
			key_of(j, want);
			lsm_iter_seek(it, want, sizeof want);
			k = lsm_iter_key(it, &k_len);
			if (!lsm_iter_valid(it) || memcmp(k, want, LSM_IKEY_LEN) != 0)
				a->status = STRATA_ECORRUPT;
		}
	}
	lsm_iter_free(it);
	return NULL;
}

static void test_sstable_concurrent_readers(void **state)
{
	enum { N_THREADS = 4, N = 30000 };
	char path[256];
	lsm_sst_options opt;
	lsm_sst_props props;
	struct reader_arg args[N_THREADS];
	pthread_t th[N_THREADS];
	lsm_cache *cache;
	lsm_sst *s;

	(void)state;
	lsm_sst_options_default(&opt);
	opt.block_bytes = 1024;
	table_path(path, sizeof path, "threads.sst");
	build_table(path, N, VAL_MIXED, &opt, 0, &props);
	/* a small cache: blocks are evicted and re-read while others use them */
	assert_int_equal(lsm_cache_new(&cache, 64u << 10, 2), 0);
	assert_int_equal(lsm_sst_open(&s, path, 9, cache), 0);
	for (int t = 0; t < N_THREADS; t++) {
		args[t] = (struct reader_arg){ .s = s, .n = N, .thread = t };
		assert_int_equal(pthread_create(&th[t], NULL, reader_main, &args[t]), 0);
	}
	for (int t = 0; t < N_THREADS; t++) {
		assert_int_equal(pthread_join(th[t], NULL), 0);
		assert_int_equal(args[t].status, 0);
		assert_int_equal(args[t].seen, 3 * (uint64_t)N);
	}
	lsm_sst_unref(s);
	lsm_cache_free(cache);
	unlink(path);
}

/* ---- setup -------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(test_dir, sizeof test_dir, "/tmp/strata-test-XXXXXX");
	return mkdtemp(test_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	lsm_fault_reset();
	return nftw(test_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sstable_roundtrip_one_entry),
		cmocka_unit_test(test_sstable_roundtrip_hundred_entries),
		cmocka_unit_test(test_sstable_roundtrip_200k_entries),
		cmocka_unit_test(test_sstable_props_and_blocks),
		cmocka_unit_test(test_sstable_raw_and_zstd_blocks),
		cmocka_unit_test(test_sstable_large_values),
		cmocka_unit_test(test_sstable_bloom_filter),
		cmocka_unit_test(test_sstable_cache_hit_on_second_scan),
		cmocka_unit_test(test_sstable_corrupt_data_block),
		cmocka_unit_test(test_sstable_malformed_block_with_good_checksum),
		cmocka_unit_test(test_sstable_corrupt_metadata),
		cmocka_unit_test(test_sstable_truncated_file),
		cmocka_unit_test(test_sstable_version_bump),
		cmocka_unit_test(test_sstable_verify_and_dump),
		cmocka_unit_test(test_sstable_builder_rejects_bad_input),
		cmocka_unit_test(test_sstable_fault_injection),
		cmocka_unit_test(test_sstable_concurrent_readers),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
