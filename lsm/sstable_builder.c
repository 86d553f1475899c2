/*
 * sstable_builder.c — writes one SSTable (docs/format-sstable.md).
 *
 * Entries stream into a data block builder; when a block reaches the target
 * size it is compressed with zstd (kept raw when that is not smaller), given
 * its 9-byte trailer and appended to the file, and its last key and handle go
 * into the index block. finish() appends the bloom filter over distinct
 * series ids, the index block, the properties block and the footer, then
 * makes the file durable: fsync, rename "<path>.tmp" to path, fsync the
 * directory. A reader therefore never sees a partial table under its name.
 *
 * Output goes through a 256 KiB buffer flushed with write(2), so a table of
 * small blocks costs few system calls; blocks larger than the buffer are
 * written straight from their own memory. Every write(2) passes the fault
 * point LSM_FAULT_SST_WRITE and both fsyncs pass LSM_FAULT_SST_SYNC. Any
 * write error is sticky: later calls return it and finish() removes the
 * temporary file, since the kernel may have dropped the failed pages.
 *
 * Window: the builder records its time window (index and length) but does
 * not check that a key's timestamp lies in it; the caller (flush,
 * compaction) guarantees it. The builder checks
 * that keys are well-formed internal keys in strictly ascending order and
 * records the timestamp and sequence ranges in the properties.
 *
 * A builder belongs to one thread; it shares nothing with other builders.
 */
#include "lsm/sstable_builder.h"
#include "lsm/alloc.h"
#include "lsm/batch.h"
#include "lsm/block_builder.h"
#include "lsm/bloom.h"
#include "lsm/coding.h"
#include "lsm/column_block.h"
#include "lsm/column_parts.h"
#include "lsm/fault.h"
#include "lsm/log.h"
#include "lsm/sstable_format.h"
#include "lsm/status.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include <zstd.h>

#define WRITE_BUF_BYTES (256u << 10)
#define BLOCK_BYTES_MIN 64
#define BLOCK_BYTES_MAX (16u << 20)

struct handle {
	uint64_t offset;
	uint64_t size; /* stored bytes, trailer excluded */
};

struct lsm_sst_builder {
	char *path;     /* final name */
	char *tmp_path; /* "<path>.tmp", written first */
	int fd;
	int rc;         /* sticky write error, 0 while healthy */
	lsm_sst_options opt;

	uint8_t *wbuf;  /* WRITE_BUF_BYTES, bytes not yet handed to write(2) */
	size_t wlen;
	uint64_t offset; /* bytes appended so far (buffered ones included) */
	uint64_t written; /* bytes handed to write(2) so far */

	lsm_block_builder data;
	lsm_block_builder index;
	lsm_bloom_builder bloom;
	ZSTD_CCtx *cctx;     /* reused for every block; NULL when zstd_level is 0 */
	uint8_t *cbuf;       /* compression output: varint raw size + frame, or column parts */
	size_t cbuf_cap;
	uint8_t *ibuf;       /* the index entry of a data block: its handle, and a column parts directory */
	size_t ibuf_cap;

	uint8_t last_key[LSM_IKEY_LEN];
	lsm_sst_props props;
};

void lsm_sst_options_default(lsm_sst_options *out)
{
	out->block_bytes = 16u << 10;
	out->restart_interval = 16;
	out->bloom_bits_per_key = 10;
	/* Level 1: flush must keep up with ingest; compaction may choose more. */
	out->zstd_level = 1;
	out->columns = false; /* only a closed window's final form asks for them */
	out->columns_whole = false;
}

/* Writes n bytes with write(2), looping on short writes. */
static int write_all(lsm_sst_builder *b, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w;
		int rc = lsm_fault_check(LSM_FAULT_SST_WRITE);

		if (rc == 0) {
			w = write(b->fd, p, n);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				rc = -errno;
			else if (w == 0)
				rc = -EIO;
		}
		if (rc) {
			b->rc = rc;
			return strata_error(rc, "%s: write at offset %llu: %s", b->tmp_path,
					    (unsigned long long)b->written, strata_strerror(rc));
		}
		b->written += (uint64_t)w;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int flush_wbuf(lsm_sst_builder *b)
{
	int rc;

	if (b->wlen == 0)
		return 0;
	rc = write_all(b, b->wbuf, b->wlen);
	if (rc == 0)
		b->wlen = 0;
	return rc;
}

/* Appends bytes to the file through the write buffer. */
static int append(lsm_sst_builder *b, const uint8_t *p, size_t n)
{
	int rc = 0;

	if (b->rc)
		return b->rc;
	if (n >= WRITE_BUF_BYTES) {
		/* Large: write what is buffered, then these bytes in place. */
		rc = flush_wbuf(b);
		if (rc == 0)
			rc = write_all(b, p, n);
		if (rc == 0)
			b->offset += n;
		return rc;
	}
	while (n > 0) {
		size_t k = WRITE_BUF_BYTES - b->wlen;

		if (k > n)
			k = n;
		memcpy(b->wbuf + b->wlen, p, k);
		b->wlen += k;
		b->offset += k;
		p += k;
		n -= k;
		if (b->wlen == WRITE_BUF_BYTES && (rc = flush_wbuf(b)) != 0)
			break;
	}
	return rc;
}

/*
 * The stored bytes of a column block at b->cbuf: in parts (column_parts.h;
 * the first *dir_len bytes are their directory), or with columns_whole
 * varint raw size, varint size of the columns, one zstd frame of them.
 * STRATA_EINVAL when the block has no column form or it would not be
 * smaller than the raw block.
 */
static int write_columns(lsm_sst_builder *b, const uint8_t *raw, size_t raw_len, const uint8_t **stored,
			 size_t *stored_len, size_t *dir_len)
{
	uint8_t *cols = NULL;
	size_t cols_len, need, n, c;
	int rc = lsm_column_encode(raw, raw_len, b->opt.restart_interval, &cols, &cols_len);

	if (rc)
		return rc;
	if (cols_len > LSM_SST_BLOCK_MAX) {
		strata_free(cols);
		return STRATA_EINVAL;
	}
	if (!b->opt.columns_whole) {
		size_t dlen;

		rc = lsm_colparts_store(b->cctx, b->opt.zstd_level, cols, cols_len, raw_len, &b->cbuf, &b->cbuf_cap,
					&c, &dlen);
		strata_free(cols);
		if (rc)
			return rc == STRATA_ECORRUPT ? STRATA_EINVAL : rc;
		if (c >= raw_len)
			return STRATA_EINVAL;
		*stored = b->cbuf;
		*stored_len = c;
		*dir_len = dlen;
		return 0;
	}
	need = 2 * LSM_VARINT64_MAX + ZSTD_compressBound(cols_len);
	if (need > b->cbuf_cap) {
		uint8_t *grown = strata_realloc(b->cbuf, need);

		if (!grown) {
			strata_free(cols);
			return -ENOMEM;
		}
		b->cbuf = grown;
		b->cbuf_cap = need;
	}
	n = lsm_put_varint64(b->cbuf, raw_len);
	n += lsm_put_varint64(b->cbuf + n, cols_len);
	c = ZSTD_compressCCtx(b->cctx, b->cbuf + n, b->cbuf_cap - n, cols, cols_len, b->opt.zstd_level);
	strata_free(cols);
	if (ZSTD_isError(c) || n + c >= raw_len)
		return STRATA_EINVAL;
	*stored = b->cbuf;
	*stored_len = n + c;
	*dir_len = 0;
	return 0;
}

/*
 * Appends one block (its raw bytes given) with its trailer, compressing it
 * when allowed and worthwhile, and returns its handle; *dir_len > 0 when
 * it is stored in column parts, whose directory is then the first
 * *dir_len bytes at b->cbuf (until the next block).
 */
static int write_block(lsm_sst_builder *b, const uint8_t *raw, size_t raw_len, bool compress, bool columns,
		       struct handle *out, size_t *dir_len)
{
	const uint8_t *stored = raw;
	size_t stored_len = raw_len;
	uint8_t type = LSM_SST_COMP_RAW;
	uint8_t trailer[LSM_SST_TRAILER_LEN];
	XXH3_state_t st;
	size_t need, n, c;
	int rc;

	if (b->rc)
		return b->rc;
	if (raw_len > LSM_SST_BLOCK_MAX)
		return strata_error(STRATA_ETOOBIG, "%s: block of %zu bytes at offset %llu exceeds %u",
				    b->tmp_path, raw_len, (unsigned long long)b->offset,
				    LSM_SST_BLOCK_MAX);
	*dir_len = 0;
	if (columns && b->cctx && raw_len > 0) {
		rc = write_columns(b, raw, raw_len, &stored, &stored_len, dir_len);
		if (rc == 0) {
			type = *dir_len ? LSM_SST_COMP_PARTS : LSM_SST_COMP_COLUMNS;
			b->props.flags |= LSM_SST_FLAG_COLUMNS;
		}
		else if (rc != STRATA_EINVAL)
			return rc;
	}
	if (type == LSM_SST_COMP_RAW && compress && b->cctx && raw_len > 0) {
		need = LSM_VARINT64_MAX + ZSTD_compressBound(raw_len);
		if (need > b->cbuf_cap) {
			uint8_t *grown = strata_realloc(b->cbuf, need);

			if (!grown)
				return -ENOMEM;
			b->cbuf = grown;
			b->cbuf_cap = need;
		}
		n = lsm_put_varint64(b->cbuf, raw_len);
		c = ZSTD_compressCCtx(b->cctx, b->cbuf + n, b->cbuf_cap - n, raw, raw_len,
				      b->opt.zstd_level);
		if (!ZSTD_isError(c) && n + c < raw_len) {
			stored = b->cbuf;
			stored_len = n + c;
			type = LSM_SST_COMP_ZSTD;
		}
	}
	/* Checksum of the stored bytes followed by the type byte. */
	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, stored, stored_len);
	XXH3_64bits_update(&st, &type, 1);
	trailer[0] = type;
	lsm_put_le64(trailer + 1, XXH3_64bits_digest(&st));

	out->offset = b->offset;
	out->size = stored_len;
	rc = append(b, stored, stored_len);
	if (rc == 0)
		rc = append(b, trailer, sizeof trailer);
	return rc;
}

/* Writes the pending data block and adds its index entry. */
static int flush_data_block(lsm_sst_builder *b)
{
	const uint8_t *block, *last;
	size_t block_len, last_len, n, dir_len;
	struct handle h;
	int rc;

	if (lsm_block_builder_empty(&b->data))
		return 0;
	rc = lsm_block_builder_finish(&b->data, &block, &block_len);
	if (rc)
		goto out;
	rc = write_block(b, block, block_len, true, b->opt.columns, &h, &dir_len);
	if (rc)
		goto out;
	last = lsm_block_builder_last_key(&b->data, &last_len);
	/* The handle, and for column parts a copy of their directory: readers of a few columns find them by it. */
	if (2 * LSM_VARINT64_MAX + dir_len > b->ibuf_cap) {
		uint8_t *grown = strata_realloc(b->ibuf, 2 * LSM_VARINT64_MAX + dir_len);

		if (!grown) {
			rc = -ENOMEM;
			goto out;
		}
		b->ibuf = grown;
		b->ibuf_cap = 2 * LSM_VARINT64_MAX + dir_len;
	}
	n = lsm_put_varint64(b->ibuf, h.offset);
	n += lsm_put_varint64(b->ibuf + n, h.size);
	if (dir_len)
		memcpy(b->ibuf + n, b->cbuf, dir_len);
	rc = lsm_block_builder_add(&b->index, last, last_len, b->ibuf, n + dir_len);
	if (rc)
		goto out;
	b->props.n_data_blocks++;
	lsm_block_builder_reset(&b->data);
out:
	if (rc && !b->rc)
		b->rc = rc;
	return rc;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;

	if (!slash)
		return strata_strdup(".");
	if (slash == path)
		return strata_strdup("/");
	dir = strata_malloc((size_t)(slash - path) + 1);
	if (dir) {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	}
	return dir;
}

static int sync_fd(int fd, const char *what)
{
	int rc = lsm_fault_check(LSM_FAULT_SST_SYNC);

	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (rc)
		return strata_error(rc, "%s: fsync: %s", what, strata_strerror(rc));
	return 0;
}

static int sync_dir(const char *path)
{
	char *dir = dir_of(path);
	int fd = -1, rc = 0;

	if (!dir)
		return -ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = strata_error(-errno, "%s: open directory: %s", dir, strerror(errno));
		goto out;
	}
	rc = sync_fd(fd, dir);
out:
	if (fd >= 0)
		close(fd);
	strata_free(dir);
	return rc;
}

static void builder_free(lsm_sst_builder *b)
{
	if (b->fd >= 0)
		close(b->fd);
	lsm_block_builder_deinit(&b->data);
	lsm_block_builder_deinit(&b->index);
	lsm_bloom_builder_deinit(&b->bloom);
	ZSTD_freeCCtx(b->cctx);
	strata_free(b->cbuf);
	strata_free(b->ibuf);
	strata_free(b->wbuf);
	strata_free(b->path);
	strata_free(b->tmp_path);
	strata_free(b);
}

int lsm_sst_builder_open(lsm_sst_builder **out, const char *path, int64_t window, int64_t window_ns,
			 const lsm_sst_options *opt)
{
	lsm_sst_builder *b = NULL;
	size_t path_len = strlen(path);
	int rc = 0;

	*out = NULL;
	if (window_ns <= 0)
		return strata_error(STRATA_EINVAL, "%s: window length %" PRId64 " ns", path, window_ns);
	if (opt->block_bytes < BLOCK_BYTES_MIN || opt->block_bytes > BLOCK_BYTES_MAX ||
	    opt->restart_interval < 1 || opt->bloom_bits_per_key < 0 ||
	    opt->bloom_bits_per_key > 30 || opt->zstd_level < 0 ||
	    opt->zstd_level > ZSTD_maxCLevel())
		return strata_error(STRATA_EINVAL,
				    "%s: bad sstable options (block_bytes %zu, restart_interval %d, "
				    "bloom_bits_per_key %d, zstd_level %d)",
				    path, opt->block_bytes, opt->restart_interval,
				    opt->bloom_bits_per_key, opt->zstd_level);
	b = strata_calloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	b->fd = -1;
	b->opt = *opt;
	lsm_block_builder_init(&b->data, opt->restart_interval);
	lsm_block_builder_init(&b->index, LSM_SST_INDEX_RESTART_INTERVAL);
	lsm_bloom_builder_init(&b->bloom, opt->bloom_bits_per_key > 0 ? opt->bloom_bits_per_key : 1);
	b->path = strata_strdup(path);
	b->tmp_path = strata_malloc(path_len + 5);
	b->wbuf = strata_malloc(WRITE_BUF_BYTES);
	if (opt->zstd_level > 0)
		b->cctx = ZSTD_createCCtx();
	if (!b->path || !b->tmp_path || !b->wbuf || (opt->zstd_level > 0 && !b->cctx)) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(b->tmp_path, path, path_len);
	memcpy(b->tmp_path + path_len, ".tmp", 5);
	b->fd = open(b->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (b->fd < 0) {
		rc = strata_error(-errno, "%s: create: %s", b->tmp_path, strerror(errno));
		goto out;
	}
	b->props.window = window;
	b->props.window_ns = window_ns;
	if (opt->columns)
		b->props.flags |= LSM_SST_FLAG_FINAL;
	b->props.min_ts = INT64_MAX;
	b->props.max_ts = INT64_MIN;
	b->props.min_seq = UINT64_MAX;
	b->props.max_seq = 0;
	*out = b;
out:
	if (rc)
		builder_free(b);
	return rc;
}

int lsm_sst_builder_add(lsm_sst_builder *b, const uint8_t *ikey, size_t ikey_len,
			const uint8_t *value, size_t value_len)
{
	lsm_sst_props *p = &b->props;
	bool first = p->n_entries == 0;
	uint64_t seq;
	int64_t ts;
	int rc;

	if (b->rc)
		return b->rc;
	if (ikey_len != LSM_IKEY_LEN)
		return strata_error(STRATA_EINVAL, "%s: key of %zu bytes, want %d", b->tmp_path,
				    ikey_len, LSM_IKEY_LEN);
	if (value_len > LSM_VALUE_MAX)
		return strata_error(STRATA_ETOOBIG, "%s: value of %zu bytes exceeds %u", b->tmp_path,
				    value_len, LSM_VALUE_MAX);
	if (!first && memcmp(ikey, b->last_key, LSM_IKEY_LEN) <= 0)
		return strata_error(STRATA_EINVAL, "%s: key %llu entries in is not above the last key",
				    b->tmp_path, (unsigned long long)p->n_entries);

	rc = lsm_block_builder_add(&b->data, ikey, LSM_IKEY_LEN, value, value_len);
	if (rc)
		goto out;
	if (first || lsm_ukey_series(ikey) != lsm_ukey_series(b->last_key)) {
		p->n_series++;
		if (b->opt.bloom_bits_per_key > 0) {
			rc = lsm_bloom_builder_add(&b->bloom, lsm_bloom_hash_series(lsm_ukey_series(ikey)));
			if (rc)
				goto out;
		}
	}
	if (first)
		memcpy(p->smallest, ikey, LSM_IKEY_LEN);
	memcpy(b->last_key, ikey, LSM_IKEY_LEN);
	ts = lsm_ukey_ts(ikey);
	seq = lsm_ikey_seq(ikey);
	if (ts < p->min_ts)
		p->min_ts = ts;
	if (ts > p->max_ts)
		p->max_ts = ts;
	if (seq < p->min_seq)
		p->min_seq = seq;
	if (seq > p->max_seq)
		p->max_seq = seq;
	p->n_entries++;
	p->raw_bytes += LSM_IKEY_LEN + value_len;
	if (lsm_block_builder_size(&b->data) >= b->opt.block_bytes)
		rc = flush_data_block(b);
out:
	/* The block and the properties may disagree now: nothing more can be added. */
	if (rc && !b->rc)
		b->rc = rc;
	return rc;
}

uint64_t lsm_sst_builder_entries(const lsm_sst_builder *b)
{
	return b->props.n_entries;
}

uint64_t lsm_sst_builder_file_bytes(const lsm_sst_builder *b)
{
	return b->offset;
}

static void encode_props(uint8_t out[LSM_SST_PROPS_LEN], const lsm_sst_props *p)
{
	lsm_put_le32(out, LSM_SST_PROPS_VERSION);
	lsm_put_le32(out + 4, p->flags);
	memcpy(out + 8, p->smallest, LSM_IKEY_LEN);
	memcpy(out + 32, p->largest, LSM_IKEY_LEN);
	lsm_put_le64(out + 56, (uint64_t)p->window);
	lsm_put_le64(out + 64, (uint64_t)p->min_ts);
	lsm_put_le64(out + 72, (uint64_t)p->max_ts);
	lsm_put_le64(out + 80, p->min_seq);
	lsm_put_le64(out + 88, p->max_seq);
	lsm_put_le64(out + 96, p->n_entries);
	lsm_put_le64(out + 104, p->n_series);
	lsm_put_le64(out + 112, p->n_data_blocks);
	lsm_put_le64(out + 120, p->raw_bytes);
	lsm_put_le64(out + 128, p->file_bytes);
	lsm_put_le64(out + 136, (uint64_t)p->window_ns);
}

static void encode_footer(uint8_t out[LSM_SST_FOOTER_LEN], const struct handle *index,
			  const struct handle *filter, const struct handle *props)
{
	lsm_put_le64(out + LSM_SST_FOOTER_INDEX, index->offset);
	lsm_put_le64(out + LSM_SST_FOOTER_INDEX + 8, index->size);
	lsm_put_le64(out + LSM_SST_FOOTER_FILTER, filter->offset);
	lsm_put_le64(out + LSM_SST_FOOTER_FILTER + 8, filter->size);
	lsm_put_le64(out + LSM_SST_FOOTER_PROPS, props->offset);
	lsm_put_le64(out + LSM_SST_FOOTER_PROPS + 8, props->size);
	lsm_put_le32(out + LSM_SST_FOOTER_VERSION, LSM_SST_VERSION);
	lsm_put_le32(out + LSM_SST_FOOTER_RESERVED, 0);
	lsm_put_le64(out + LSM_SST_FOOTER_MAGIC, LSM_SST_MAGIC);
	lsm_put_le64(out + LSM_SST_FOOTER_CHECKSUM,
		     XXH3_64bits(out + LSM_SST_FOOTER_INDEX, LSM_SST_FOOTER_LEN - LSM_SST_FOOTER_INDEX));
}

/* Everything after the last data block, up to a durable file under its name. */
static int finish_file(lsm_sst_builder *b)
{
	struct handle index_h, filter_h = { 0, 0 }, props_h;
	uint8_t props[LSM_SST_PROPS_LEN], footer[LSM_SST_FOOTER_LEN];
	uint8_t *filter = NULL;
	const uint8_t *index;
	size_t filter_len, index_len, dir_len;
	int rc;

	rc = flush_data_block(b);
	if (rc)
		goto out;
	memcpy(b->props.largest, b->last_key, LSM_IKEY_LEN);
	if (b->opt.bloom_bits_per_key > 0) {
		rc = lsm_bloom_builder_finish(&b->bloom, &filter, &filter_len);
		if (rc)
			goto out;
		/* Bloom bits look random to zstd: stored raw. */
		rc = write_block(b, filter, filter_len, false, false, &filter_h, &dir_len);
		if (rc)
			goto out;
	}
	rc = lsm_block_builder_finish(&b->index, &index, &index_len);
	if (rc)
		goto out;
	rc = write_block(b, index, index_len, true, false, &index_h, &dir_len);
	if (rc)
		goto out;
	/* The properties block is raw and of fixed size: the file's size is known now. */
	b->props.file_bytes = b->offset + LSM_SST_PROPS_LEN + LSM_SST_TRAILER_LEN + LSM_SST_FOOTER_LEN;
	encode_props(props, &b->props);
	rc = write_block(b, props, sizeof props, false, false, &props_h, &dir_len);
	if (rc)
		goto out;
	encode_footer(footer, &index_h, &filter_h, &props_h);
	rc = append(b, footer, sizeof footer);
	if (rc == 0)
		rc = flush_wbuf(b);
	if (rc)
		goto out;
	rc = sync_fd(b->fd, b->tmp_path);
	if (rc)
		goto out;
	if (close(b->fd) != 0) {
		b->fd = -1;
		rc = strata_error(-errno, "%s: close: %s", b->tmp_path, strerror(errno));
		goto out;
	}
	b->fd = -1;
	if (rename(b->tmp_path, b->path) != 0) {
		rc = strata_error(-errno, "rename %s to %s: %s", b->tmp_path, b->path, strerror(errno));
		goto out;
	}
	rc = sync_dir(b->path);
	if (rc) {
		/* Not durable under its name: the caller must not record it. */
		unlink(b->path);
		goto out;
	}
out:
	strata_free(filter);
	return rc;
}

int lsm_sst_builder_finish(lsm_sst_builder *b, lsm_sst_props *out)
{
	int rc = b->rc;

	if (rc == 0 && b->props.n_entries == 0)
		rc = strata_error(STRATA_EINVAL, "%s: a table needs at least one entry", b->tmp_path);
	if (rc == 0)
		rc = finish_file(b);
	if (rc == 0) {
		*out = b->props;
		LOG_DEBUG("event=sst_written path=%s entries=%llu blocks=%llu bytes=%llu",
			  b->path, (unsigned long long)b->props.n_entries,
			  (unsigned long long)b->props.n_data_blocks,
			  (unsigned long long)b->props.file_bytes);
	} else {
		unlink(b->tmp_path);
	}
	builder_free(b);
	return rc;
}

void lsm_sst_builder_abandon(lsm_sst_builder *b)
{
	if (!b)
		return;
	unlink(b->tmp_path);
	builder_free(b);
}
