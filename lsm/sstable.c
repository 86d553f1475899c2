/*
 * sstable.c — reads SSTables (docs/format-sstable.md, lsm/sstable_format.h).
 *
 * Open reads the footer, then the properties, index and filter blocks, and
 * keeps them in memory for the table's life; everything it reads is checked
 * (checksums, bounds, the layout of the blocks, the index's handles, which
 * must tile the data area exactly), so that later reads can trust the index.
 * The footer's version is checked before its checksum: a newer format may
 * lay the footer out differently, and must be reported as STRATA_EVERSION,
 * not as damage.
 *
 * Data blocks are read on demand with pread, their checksum verified and
 * zstd frames decoded, then shared through the block cache keyed by
 * (file_no, block offset) as lsm_block objects. A miss costs one pread into
 * the iterator's reusable scratch buffer and one allocation for the decoded
 * block; iterating entries allocates nothing. zstd decompression contexts
 * come from a small process-wide pool, so a miss does not build one.
 *
 * Threads: an lsm_sst is immutable after open; any number of threads may
 * create iterators on it, verify it and query its filter at once (pread
 * does not move the file offset). The reference count is atomic; the last
 * unref closes the file. An iterator belongs to one thread. The decompression
 * context pool is the only shared mutable state: dctx_lock guards
 * dctx_pool and n_dctx_pool, held only to push or pop a pointer.
 *
 * lsm_sst_verify re-reads every block bypassing the cache; lsm_sst_dump opens
 * the file by itself, so it can describe a table that lsm_sst_open refuses.
 */
#include "lsm/sstable.h"
#include "lsm/alloc.h"
#include "lsm/block.h"
#include "lsm/bloom.h"
#include "lsm/coding.h"
#include "lsm/column_block.h"
#include "lsm/column_parts.h"
#include "lsm/sstable_format.h"
#include "lsm/status.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

struct handle {
	uint64_t offset;
	uint64_t size; /* stored bytes, trailer excluded */
	/* A data block stored in column parts: the copy of its directory in the index entry, else NULL, 0. */
	const uint8_t *dir;
	size_t dir_len;
};

struct lsm_sst {
	atomic_uint refs;
	int fd;
	uint64_t file_no;
	uint64_t file_size;
	uint64_t data_end;  /* data blocks lie in [0, data_end) */
	lsm_cache *cache;   /* may be NULL */
	char *path;
	lsm_block *index;   /* decoded index block */
	uint8_t *filter;    /* decoded bloom filter, NULL when the table has none */
	size_t filter_len;
	struct handle index_h, filter_h, props_h;
	lsm_sst_props props;
	uint32_t version;   /* the footer's format version */
};

/* ---- reading blocks ---------------------------------------------------- */

/* A growable buffer reused across reads. */
struct buf {
	uint8_t *p;
	size_t cap;
};

static int buf_reserve(struct buf *b, size_t n)
{
	uint8_t *grown;
	size_t cap;

	if (n <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 16u << 10;
	while (cap < n)
		cap *= 2;
	grown = strata_realloc(b->p, cap);
	if (!grown)
		return -ENOMEM;
	b->p = grown;
	b->cap = cap;
	return 0;
}

/* Reads exactly n bytes at off: a file too short for them is damage. */
static int pread_full(int fd, const char *path, uint8_t *dst, size_t n, uint64_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(fd, dst + done, n - done, (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return strata_error(-errno, "%s: read of %zu bytes at offset %" PRIu64 ": %s",
					    path, n, off, strerror(errno));
		if (r == 0)
			return strata_error(STRATA_ECORRUPT,
					    "%s: file ends at offset %" PRIu64 ", inside %zu bytes read at %" PRIu64,
					    path, off + done, n, off);
		done += (size_t)r;
	}
	return 0;
}

/* True when the block and its trailer lie inside [0, limit). */
static bool handle_fits(struct handle h, uint64_t limit)
{
	return h.size <= LSM_SST_BLOCK_MAX && h.offset <= limit &&
	       limit - h.offset >= h.size + LSM_SST_TRAILER_LEN;
}

static uint64_t handle_end(struct handle h)
{
	return h.offset + h.size + LSM_SST_TRAILER_LEN;
}

/* A block as stored: bytes before decoding, and what its trailer says. */
struct stored {
	const uint8_t *p; /* in the scratch buffer */
	size_t len;
	uint8_t type;
	uint64_t checksum; /* from the trailer */
	bool checksum_ok;
};

/* Reads the stored bytes and trailer of block h (inside [0, limit)) into scratch. */
static int read_stored(int fd, const char *path, uint64_t limit, struct handle h, struct buf *scratch,
		       struct stored *out)
{
	size_t n;
	int rc;

	if (!handle_fits(h, limit))
		return strata_error(STRATA_ECORRUPT,
				    "%s: block at offset %" PRIu64 " of %" PRIu64 " bytes runs past offset %" PRIu64,
				    path, h.offset, h.size, limit);
	n = (size_t)h.size + LSM_SST_TRAILER_LEN;
	rc = buf_reserve(scratch, n);
	if (rc)
		return rc;
	rc = pread_full(fd, path, scratch->p, n, h.offset);
	if (rc)
		return rc;
	out->p = scratch->p;
	out->len = (size_t)h.size;
	out->type = scratch->p[h.size];
	out->checksum = lsm_get_le64(scratch->p + h.size + 1);
	/* The checksum covers the stored bytes and the type byte after them. */
	out->checksum_ok = XXH3_64bits(scratch->p, (size_t)h.size + 1) == out->checksum;
	return 0;
}

/*
 * zstd decompression contexts, pooled: creating one per block miss would
 * cost more than the decompression. Guarded by dctx_lock.
 */
#define DCTX_POOL_MAX 16
static pthread_mutex_t dctx_lock = PTHREAD_MUTEX_INITIALIZER;
static ZSTD_DCtx *dctx_pool[DCTX_POOL_MAX];
static int n_dctx_pool;

static ZSTD_DCtx *dctx_get(void)
{
	ZSTD_DCtx *d = NULL;

	pthread_mutex_lock(&dctx_lock);
	if (n_dctx_pool > 0)
		d = dctx_pool[--n_dctx_pool];
	pthread_mutex_unlock(&dctx_lock);
	return d ? d : ZSTD_createDCtx();
}

static void dctx_put(ZSTD_DCtx *d)
{
	pthread_mutex_lock(&dctx_lock);
	if (n_dctx_pool < DCTX_POOL_MAX) {
		dctx_pool[n_dctx_pool++] = d;
		d = NULL;
	}
	pthread_mutex_unlock(&dctx_lock);
	ZSTD_freeDCtx(d);
}

/*
 * The zstd frame of a stored block (type ZSTD or COLUMNS) decompressed into
 * a new heap buffer *out of *out_len bytes; *raw_len is the size of the
 * block it stands for (for COLUMNS, the entry form the columns decode to).
 */
static int unzstd_stored(const char *path, uint64_t off, const struct stored *s, uint8_t **out,
			 size_t *out_len, size_t *raw_len_out)
{
	const uint8_t *end = s->p + s->len;
	uint8_t *dst;
	uint64_t raw_len;
	ZSTD_DCtx *dctx;
	size_t n, r, zlen;

	*out = NULL;
	n = lsm_get_varint64(s->p, end, &raw_len);
	if (n == 0 || raw_len == 0 || raw_len > LSM_SST_BLOCK_MAX)
		return strata_error(STRATA_ECORRUPT, "%s: block at offset %" PRIu64 ": bad decoded size",
				    path, off);
	if (s->type == LSM_SST_COMP_COLUMNS) {
		/* Then the size of the columns, which zstd holds; they decode into the block. */
		uint64_t cols_len;
		size_t m = lsm_get_varint64(s->p + n, end, &cols_len);

		if (m == 0 || cols_len == 0 || cols_len > LSM_SST_BLOCK_MAX)
			return strata_error(STRATA_ECORRUPT, "%s: block at offset %" PRIu64 ": bad column size",
					    path, off);
		n += m;
		zlen = (size_t)cols_len;
	} else {
		zlen = (size_t)raw_len;
	}
	dst = strata_malloc(zlen);
	dctx = dst ? dctx_get() : NULL;
	if (!dctx) {
		strata_free(dst);
		return -ENOMEM;
	}
	r = ZSTD_decompressDCtx(dctx, dst, zlen, s->p + n, s->len - n);
	dctx_put(dctx);
	if (ZSTD_isError(r) || r != zlen) {
		strata_free(dst);
		if (ZSTD_isError(r))
			return strata_error(STRATA_ECORRUPT, "%s: block at offset %" PRIu64 ": zstd: %s", path,
					    off, ZSTD_getErrorName(r));
		return strata_error(STRATA_ECORRUPT,
				    "%s: block at offset %" PRIu64 ": decoded %zu bytes, expected %zu",
				    path, off, r, zlen);
	}
	*out = dst;
	*out_len = zlen;
	*raw_len_out = (size_t)raw_len;
	return 0;
}

/* rc, with a STRATA_ECORRUPT message prefixed by the file and block offset. */
static int name_block(int rc, const char *path, uint64_t off)
{
	char why[256];

	if (rc != STRATA_ECORRUPT)
		return rc;
	/* Copied first: the message buffer is the one being written. */
	snprintf(why, sizeof why, "%s", strata_last_error());
	return strata_error(STRATA_ECORRUPT, "%s: block at offset %" PRIu64 ": %s", path, off, why);
}

/* The column encoding of the parts of a stored block, the columns load says (NULL: all). */
static int join_parts(const lsm_colparts_dir *d, const uint8_t *block, const bool *load, uint8_t **enc,
		      size_t *enc_len)
{
	ZSTD_DCtx *dctx = dctx_get();
	int rc;

	if (!dctx)
		return -ENOMEM;
	rc = lsm_colparts_join(dctx, d, block, load, enc, enc_len);
	dctx_put(dctx);
	return rc;
}

/* A block stored in column parts, decoded to its entry form. */
static int decode_parts(const char *path, uint64_t off, const struct stored *s, uint8_t **out, size_t *out_len)
{
	lsm_colparts_dir d;
	uint8_t *enc;
	size_t enc_len;
	int rc;

	rc = lsm_colparts_dir_parse(&d, s->p, s->len, s->len);
	if (rc == 0) {
		rc = join_parts(&d, s->p, NULL, &enc, &enc_len);
		if (rc == 0)
			rc = lsm_column_decode_buf(enc, enc_len, (size_t)d.block_len, out);
		if (rc == 0)
			*out_len = (size_t)d.block_len;
		lsm_colparts_dir_free(&d);
	}
	return name_block(rc, path, off);
}

/* Decodes a stored block into a new heap buffer (*out, owned by the caller). */
static int decode_stored(const char *path, uint64_t off, const struct stored *s, uint8_t **out,
			 size_t *out_len)
{
	uint8_t *dst = NULL, *block = NULL;
	size_t zlen, raw_len;
	int rc;

	*out = NULL;
	*out_len = 0;
	switch (s->type) {
	case LSM_SST_COMP_RAW:
		dst = strata_malloc(s->len ? s->len : 1);
		if (!dst)
			return -ENOMEM;
		memcpy(dst, s->p, s->len);
		*out = dst;
		*out_len = s->len;
		return 0;
	case LSM_SST_COMP_ZSTD:
	case LSM_SST_COMP_COLUMNS:
		break;
	case LSM_SST_COMP_PARTS:
		return decode_parts(path, off, s, out, out_len);
	default:
		return strata_error(STRATA_ECORRUPT, "%s: block at offset %" PRIu64 ": unknown compression type %u",
				    path, off, s->type);
	}
	rc = unzstd_stored(path, off, s, &dst, &zlen, &raw_len);
	if (rc)
		return rc;
	if (s->type == LSM_SST_COMP_COLUMNS) {
		rc = name_block(lsm_column_decode_buf(dst, zlen, raw_len, &block), path, off);
		if (rc)
			return rc;
		dst = block;
	}
	*out = dst;
	*out_len = raw_len;
	return 0;
}

/*
 * A block is stored in column parts exactly when its index entry holds a
 * directory, and then that directory must be the block's own: readers of
 * a few columns go by the index's copy alone.
 */
static int check_dir(const char *path, struct handle h, const struct stored *s)
{
	if ((s->type == LSM_SST_COMP_PARTS) != (h.dir_len > 0) ||
	    (h.dir_len > 0 && (h.dir_len > s->len || memcmp(h.dir, s->p, h.dir_len) != 0)))
		return strata_error(STRATA_ECORRUPT, "%s: block at offset %" PRIu64
				    ": its column parts directory differs from its index entry's", path, h.offset);
	return 0;
}

/* Reads, checks and decodes one block into a new heap buffer. */
static int read_block(int fd, const char *path, uint64_t limit, struct handle h, struct buf *scratch,
		      uint8_t **out, size_t *out_len)
{
	struct stored s = { 0 };
	int rc;

	*out = NULL;
	*out_len = 0;
	rc = read_stored(fd, path, limit, h, scratch, &s);
	if (rc)
		return rc;
	if (!s.checksum_ok)
		return strata_error(STRATA_ECORRUPT, "%s: block at offset %" PRIu64 " of %" PRIu64
				    " bytes: checksum mismatch", path, h.offset, h.size);
	rc = check_dir(path, h, &s);
	if (rc)
		return rc;
	return decode_stored(path, h.offset, &s, out, out_len);
}

/* Reads a block and wraps it as an lsm_block. */
static int read_block_obj(int fd, const char *path, uint64_t limit, struct handle h, struct buf *scratch,
			  lsm_block **out)
{
	char msg[256];
	uint8_t *data;
	size_t len;
	int rc;

	*out = NULL;
	rc = read_block(fd, path, limit, h, scratch, &data, &len);
	if (rc)
		return rc;
	rc = lsm_block_new(out, data, len);
	if (rc == STRATA_ECORRUPT) {
		snprintf(msg, sizeof msg, "%s", strata_last_error());
		rc = strata_error(rc, "%s: block at offset %" PRIu64 ": %s", path, h.offset, msg);
	}
	return rc;
}

/*
 * Decodes an index entry's value: varint offset, varint size, then the
 * directory of a block in column parts (format version 3) or nothing.
 * The directory is checked when the table is opened (check_index).
 */
static bool decode_handle(const uint8_t *p, size_t len, struct handle *out)
{
	const uint8_t *end = p + len;
	size_t n;

	n = lsm_get_varint64(p, end, &out->offset);
	if (n == 0)
		return false;
	p += n;
	n = lsm_get_varint64(p, end, &out->size);
	if (n == 0)
		return false;
	p += n;
	out->dir = p == end ? NULL : p;
	out->dir_len = (size_t)(end - p);
	return true;
}

/* ---- footer and properties --------------------------------------------- */

struct footer {
	uint64_t checksum;
	struct handle index, filter, props;
	uint32_t version;
	uint32_t reserved;
	uint64_t magic;
	bool checksum_ok;
};

static void parse_footer(const uint8_t *p, struct footer *f)
{
	memset(f, 0, sizeof(*f)); /* no column parts directory in a footer's handles */
	f->checksum = lsm_get_le64(p + LSM_SST_FOOTER_CHECKSUM);
	f->index.offset = lsm_get_le64(p + LSM_SST_FOOTER_INDEX);
	f->index.size = lsm_get_le64(p + LSM_SST_FOOTER_INDEX + 8);
	f->filter.offset = lsm_get_le64(p + LSM_SST_FOOTER_FILTER);
	f->filter.size = lsm_get_le64(p + LSM_SST_FOOTER_FILTER + 8);
	f->props.offset = lsm_get_le64(p + LSM_SST_FOOTER_PROPS);
	f->props.size = lsm_get_le64(p + LSM_SST_FOOTER_PROPS + 8);
	f->version = lsm_get_le32(p + LSM_SST_FOOTER_VERSION);
	f->reserved = lsm_get_le32(p + LSM_SST_FOOTER_RESERVED);
	f->magic = lsm_get_le64(p + LSM_SST_FOOTER_MAGIC);
	f->checksum_ok = XXH3_64bits(p + LSM_SST_FOOTER_INDEX,
				     LSM_SST_FOOTER_LEN - LSM_SST_FOOTER_INDEX) == f->checksum;
}

static bool has_filter(const struct footer *f)
{
	return f->filter.offset != 0 || f->filter.size != 0;
}

/* Magic, version, checksum (in that order, see the top), then the block layout. */
static int check_footer(const char *path, uint64_t file_size, const struct footer *f, uint64_t *data_end)
{
	uint64_t footer_off = file_size - LSM_SST_FOOTER_LEN;

	if (f->magic != LSM_SST_MAGIC)
		return strata_error(STRATA_ECORRUPT, "%s: bad magic 0x%016" PRIx64 " at offset %" PRIu64
				    " (not an sstable, or damaged)", path, f->magic,
				    footer_off + LSM_SST_FOOTER_MAGIC);
	if (f->version > LSM_SST_VERSION)
		return strata_error(STRATA_EVERSION, "%s: format version %u, this build reads up to %u",
				    path, f->version, LSM_SST_VERSION);
	if (f->version == 0)
		return strata_error(STRATA_ECORRUPT, "%s: format version 0 at offset %" PRIu64, path,
				    footer_off + LSM_SST_FOOTER_VERSION);
	if (!f->checksum_ok)
		return strata_error(STRATA_ECORRUPT, "%s: footer checksum mismatch at offset %" PRIu64,
				    path, footer_off);
	if (f->reserved != 0)
		return strata_error(STRATA_ECORRUPT, "%s: footer reserved field is %u at offset %" PRIu64,
				    path, f->reserved, footer_off + LSM_SST_FOOTER_RESERVED);
	/* Layout: data blocks, [filter], index, properties, footer, each right after the last. */
	if (!handle_fits(f->props, footer_off) || handle_end(f->props) != footer_off ||
	    !handle_fits(f->index, f->props.offset) || handle_end(f->index) != f->props.offset ||
	    (has_filter(f) && (!handle_fits(f->filter, f->index.offset) ||
			       handle_end(f->filter) != f->index.offset)))
		return strata_error(STRATA_ECORRUPT,
				    "%s: footer at offset %" PRIu64 ": block handles (index %" PRIu64 "+%" PRIu64
				    ", filter %" PRIu64 "+%" PRIu64 ", properties %" PRIu64 "+%" PRIu64
				    ") do not fit the file", path, footer_off, f->index.offset, f->index.size,
				    f->filter.offset, f->filter.size, f->props.offset, f->props.size);
	*data_end = has_filter(f) ? f->filter.offset : f->index.offset;
	if (*data_end == 0)
		return strata_error(STRATA_ECORRUPT, "%s: no data blocks before offset %" PRIu64, path,
				    f->index.offset);
	return 0;
}

static int decode_props(const char *path, uint64_t off, uint64_t file_size, const uint8_t *p, size_t len,
			lsm_sst_props *out)
{
	uint32_t version;

	if (len < 8)
		return strata_error(STRATA_ECORRUPT, "%s: properties at offset %" PRIu64 ": %zu bytes",
				    path, off, len);
	version = lsm_get_le32(p);
	if (version > LSM_SST_PROPS_VERSION)
		return strata_error(STRATA_EVERSION, "%s: properties version %u, this build reads up to %u",
				    path, version, LSM_SST_PROPS_VERSION);
	if (len != (version >= 3 ? LSM_SST_PROPS_LEN : LSM_SST_PROPS_LEN_V2))
		return strata_error(STRATA_ECORRUPT,
				    "%s: properties at offset %" PRIu64 ": %zu bytes, want %d",
				    path, off, len, version >= 3 ? LSM_SST_PROPS_LEN : LSM_SST_PROPS_LEN_V2);
	memcpy(out->smallest, p + 8, LSM_IKEY_LEN);
	memcpy(out->largest, p + 32, LSM_IKEY_LEN);
	out->window = (int64_t)lsm_get_le64(p + 56);
	out->min_ts = (int64_t)lsm_get_le64(p + 64);
	out->max_ts = (int64_t)lsm_get_le64(p + 72);
	out->min_seq = lsm_get_le64(p + 80);
	out->max_seq = lsm_get_le64(p + 88);
	out->n_entries = lsm_get_le64(p + 96);
	out->n_series = lsm_get_le64(p + 104);
	out->n_data_blocks = lsm_get_le64(p + 112);
	out->raw_bytes = lsm_get_le64(p + 120);
	out->file_bytes = lsm_get_le64(p + 128);
	/* Before version 3 every table was in the engine's one window of a day. */
	out->window_ns = version >= 3 ? (int64_t)lsm_get_le64(p + 136) : LSM_WINDOW_LEGACY_NS;
	out->flags = lsm_get_le32(p + 4);
	if (version == 0 || (version == 1 && out->flags != 0) || (out->flags & ~LSM_SST_FLAGS_KNOWN))
		return strata_error(STRATA_ECORRUPT,
				    "%s: properties at offset %" PRIu64 ": version %u, flags %#x",
				    path, off, version, lsm_get_le32(p + 4));
	if (out->n_entries == 0 || out->n_data_blocks == 0 || out->n_data_blocks > out->n_entries ||
	    out->n_series == 0 || out->n_series > out->n_entries ||
	    memcmp(out->smallest, out->largest, LSM_IKEY_LEN) > 0 || out->min_ts > out->max_ts ||
	    out->min_seq > out->max_seq || out->file_bytes != file_size || out->window_ns <= 0)
		return strata_error(STRATA_ECORRUPT,
				    "%s: properties at offset %" PRIu64 " are inconsistent "
				    "(entries %" PRIu64 ", blocks %" PRIu64 ", series %" PRIu64
				    ", file bytes %" PRIu64 " of %" PRIu64 ", window length %" PRId64 ")",
				    path, off, out->n_entries, out->n_data_blocks, out->n_series,
				    out->file_bytes, file_size, out->window_ns);
	return 0;
}

/* An index entry's column parts directory: none, or (version 3) one whose parts tile the block. */
static bool dir_fits(const lsm_sst *s, struct handle h)
{
	lsm_colparts_dir d;
	bool ok;

	if (h.dir_len == 0)
		return true;
	if (s->version < 3 || lsm_colparts_dir_parse(&d, h.dir, h.dir_len, h.size) != 0)
		return false;
	ok = d.dir_len == h.dir_len;
	lsm_colparts_dir_free(&d);
	return ok;
}

/*
 * Walks the index once: keys are internal keys, and the handles tile
 * [0, data_end) in order, one per data block, the last key the largest.
 */
static int check_index(const lsm_sst *s)
{
	lsm_iter *it = lsm_block_iter_new(s->index);
	const uint8_t *key = NULL, *v;
	uint64_t expect = 0, n = 0;
	size_t key_len = 0, v_len;
	struct handle h;
	int rc = 0;

	if (!it)
		return -ENOMEM;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) {
		key = lsm_iter_key(it, &key_len);
		v = lsm_iter_value(it, &v_len);
		if (key_len != LSM_IKEY_LEN || !decode_handle(v, v_len, &h) || h.offset != expect ||
		    !handle_fits(h, s->data_end) || !dir_fits(s, h)) {
			rc = strata_error(STRATA_ECORRUPT,
					  "%s: index block at offset %" PRIu64 ": entry %" PRIu64
					  " is malformed or does not follow the block before it",
					  s->path, s->index_h.offset, n);
			goto out;
		}
		expect = handle_end(h);
		n++;
	}
	rc = lsm_iter_status(it);
	if (rc) {
		char msg[256];

		snprintf(msg, sizeof msg, "%s", strata_last_error());
		rc = strata_error(rc, "%s: index block at offset %" PRIu64 ": %s", s->path,
				  s->index_h.offset, msg);
		goto out;
	}
	if (expect != s->data_end || n != s->props.n_data_blocks ||
	    memcmp(key, s->props.largest, LSM_IKEY_LEN) != 0)
		rc = strata_error(STRATA_ECORRUPT,
				  "%s: index block at offset %" PRIu64 ": %" PRIu64 " blocks ending at %" PRIu64
				  ", properties say %" PRIu64 " blocks ending at %" PRIu64,
				  s->path, s->index_h.offset, n, expect, s->props.n_data_blocks, s->data_end);
out:
	lsm_iter_free(it);
	return rc;
}

/* ---- open, close ------------------------------------------------------- */

static void sst_close(lsm_sst *s)
{
	if (s->fd >= 0)
		close(s->fd);
	lsm_block_free(s->index);
	strata_free(s->filter);
	strata_free(s->path);
	strata_free(s);
}

int lsm_sst_open(lsm_sst **out, const char *path, uint64_t file_no, lsm_cache *cache)
{
	uint8_t raw_footer[LSM_SST_FOOTER_LEN];
	struct buf scratch = { NULL, 0 };
	struct footer f;
	lsm_sst *s = NULL;
	struct stat st;
	uint8_t *data;
	size_t len;
	int rc = 0;

	*out = NULL;
	s = strata_calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	atomic_init(&s->refs, 1);
	s->fd = -1;
	s->file_no = file_no;
	s->cache = cache;
	s->path = strata_strdup(path);
	if (!s->path) {
		rc = -ENOMEM;
		goto out;
	}
	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0) {
		rc = strata_error(-errno, "%s: open: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(s->fd, &st) != 0) {
		rc = strata_error(-errno, "%s: stat: %s", path, strerror(errno));
		goto out;
	}
	s->file_size = (uint64_t)st.st_size;
	if (s->file_size < LSM_SST_FOOTER_LEN) {
		rc = strata_error(STRATA_ECORRUPT, "%s: %" PRIu64 " bytes, shorter than the footer",
				  path, s->file_size);
		goto out;
	}
	rc = pread_full(s->fd, path, raw_footer, sizeof raw_footer, s->file_size - LSM_SST_FOOTER_LEN);
	if (rc)
		goto out;
	parse_footer(raw_footer, &f);
	rc = check_footer(path, s->file_size, &f, &s->data_end);
	if (rc)
		goto out;
	s->index_h = f.index;
	s->filter_h = f.filter;
	s->props_h = f.props;
	s->version = f.version;

	rc = read_block(s->fd, path, s->file_size, f.props, &scratch, &data, &len);
	if (rc)
		goto out;
	rc = decode_props(path, f.props.offset, s->file_size, data, len, &s->props);
	strata_free(data);
	if (rc)
		goto out;

	rc = read_block_obj(s->fd, path, s->file_size, f.index, &scratch, &s->index);
	if (rc)
		goto out;
	rc = check_index(s);
	if (rc)
		goto out;

	/* A damaged filter could only say "maybe"; but it means the file is damaged: refuse it. */
	if (has_filter(&f)) {
		rc = read_block(s->fd, path, s->file_size, f.filter, &scratch, &s->filter, &s->filter_len);
		if (rc)
			goto out;
	}
	*out = s;
out:
	strata_free(scratch.p);
	if (rc && s)
		sst_close(s);
	return rc;
}

void lsm_sst_ref(lsm_sst *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void lsm_sst_unref(lsm_sst *s)
{
	if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		sst_close(s);
}

const lsm_sst_props *lsm_sst_get_props(const lsm_sst *s)
{
	return &s->props;
}

uint64_t lsm_sst_file_no(const lsm_sst *s)
{
	return s->file_no;
}

bool lsm_sst_may_contain_series(const lsm_sst *s, uint64_t series_id)
{
	if (!s->filter)
		return true;
	return lsm_bloom_may_contain(s->filter, s->filter_len, lsm_bloom_hash_series(series_id));
}

/* ---- the two-level iterator -------------------------------------------- */

struct sst_iter {
	lsm_iter base;
	lsm_sst *sst;            /* referenced */
	lsm_iter *index_it;      /* over sst->index */
	lsm_iter *data_it;       /* over the current block, or NULL */
	lsm_cache_handle *pin;   /* pins the current block when it came from the cache */
	lsm_block *owned;        /* the current block when there is no cache */
	uint64_t block_off;      /* offset of the current block (valid when data_it) */
	bool fill_cache;         /* blocks read from the file go into the cache */
	int status;
	struct buf scratch;      /* stored bytes of the last block read */
};

static void block_deleter(void *value)
{
	lsm_block_free(value);
}

static void it_drop_block(struct sst_iter *it)
{
	lsm_iter_free(it->data_it);
	it->data_it = NULL;
	if (it->pin) {
		lsm_cache_release(it->sst->cache, it->pin);
		it->pin = NULL;
	}
	lsm_block_free(it->owned);
	it->owned = NULL;
}

/* Ends the iteration with rc, naming the file and block in the message. */
static void it_fail(struct sst_iter *it, int rc, const char *what, uint64_t off)
{
	char msg[256];

	if (rc == STRATA_ECORRUPT) {
		snprintf(msg, sizeof msg, "%s", strata_last_error());
		rc = strata_error(rc, "%s: %s at offset %" PRIu64 ": %s", it->sst->path, what, off, msg);
	}
	it->status = rc;
	it_drop_block(it);
}

/* Makes data_it iterate the block the index iterator points at. */
static bool it_load_block(struct sst_iter *it)
{
	lsm_sst *s = it->sst;
	const uint8_t *v;
	lsm_block *blk = NULL;
	struct handle h;
	size_t v_len;
	int rc;

	v = lsm_iter_value(it->index_it, &v_len);
	if (!decode_handle(v, v_len, &h)) {
		it_fail(it, strata_error(STRATA_ECORRUPT, "malformed block handle"), "index block",
			s->index_h.offset);
		return false;
	}
	if (it->data_it && h.offset == it->block_off)
		return true; /* the block already loaded: keep it */
	it_drop_block(it);
	if (s->cache) {
		it->pin = lsm_cache_lookup(s->cache, s->file_no, h.offset);
		if (it->pin)
			blk = lsm_cache_value(it->pin);
	}
	if (!blk) {
		rc = read_block_obj(s->fd, s->path, s->data_end, h, &it->scratch, &blk);
		if (rc) {
			it->status = rc; /* the message already names the file and offset */
			return false;
		}
		if (s->cache && it->fill_cache) {
			it->pin = lsm_cache_insert(s->cache, s->file_no, h.offset, blk, lsm_block_charge(blk),
						   block_deleter);
			if (!it->pin) {
				it->status = -ENOMEM;
				return false;
			}
		} else {
			it->owned = blk;
		}
	}
	it->data_it = lsm_block_iter_new(blk);
	if (!it->data_it) {
		it_fail(it, -ENOMEM, "data block", h.offset);
		return false;
	}
	it->block_off = h.offset;
	return true;
}

/* Moves past the end of exhausted blocks until an entry or the end of the table. */
static void it_skip_exhausted(struct sst_iter *it)
{
	int rc;

	while (it->status == 0 && it->data_it && !lsm_iter_valid(it->data_it)) {
		rc = lsm_iter_status(it->data_it);
		if (rc) {
			it_fail(it, rc, "data block", it->block_off);
			return;
		}
		lsm_iter_next(it->index_it);
		if (!lsm_iter_valid(it->index_it)) {
			rc = lsm_iter_status(it->index_it);
			if (rc)
				it_fail(it, rc, "index block", it->sst->index_h.offset);
			else
				it_drop_block(it);
			return;
		}
		if (!it_load_block(it))
			return;
		lsm_iter_seek_first(it->data_it);
	}
	/* Every key handed out is an internal key: the read path reads 24 bytes of each. */
	if (it->status == 0 && it->data_it && lsm_iter_valid(it->data_it)) {
		size_t klen;

		lsm_iter_key(it->data_it, &klen);
		if (klen != LSM_IKEY_LEN)
			it_fail(it, strata_error(STRATA_ECORRUPT, "key of %zu bytes, not an internal key", klen),
				"data block", it->block_off);
	}
}

/* After positioning the index iterator: load its block, or end. */
static bool it_index_positioned(struct sst_iter *it)
{
	int rc;

	if (!lsm_iter_valid(it->index_it)) {
		rc = lsm_iter_status(it->index_it);
		if (rc)
			it_fail(it, rc, "index block", it->sst->index_h.offset);
		else
			it_drop_block(it);
		return false;
	}
	return it_load_block(it);
}

static bool si_valid(lsm_iter *base)
{
	struct sst_iter *it = (struct sst_iter *)base;

	return it->status == 0 && it->data_it && lsm_iter_valid(it->data_it);
}

static void si_seek_first(lsm_iter *base)
{
	struct sst_iter *it = (struct sst_iter *)base;

	it->status = 0;
	lsm_iter_seek_first(it->index_it);
	if (!it_index_positioned(it))
		return;
	lsm_iter_seek_first(it->data_it);
	it_skip_exhausted(it);
}

/*
 * Index keys are the last key of each block, so the first index key >= target
 * names the only block that can hold the first key >= target.
 */
static void si_seek(lsm_iter *base, const uint8_t *target, size_t target_len)
{
	struct sst_iter *it = (struct sst_iter *)base;

	it->status = 0;
	lsm_iter_seek(it->index_it, target, target_len);
	if (!it_index_positioned(it))
		return;
	lsm_iter_seek(it->data_it, target, target_len);
	it_skip_exhausted(it);
}

static void si_next(lsm_iter *base)
{
	struct sst_iter *it = (struct sst_iter *)base;

	if (!si_valid(base))
		return;
	lsm_iter_next(it->data_it);
	it_skip_exhausted(it);
}

static const uint8_t *si_key(lsm_iter *base, size_t *out_len)
{
	struct sst_iter *it = (struct sst_iter *)base;

	if (!si_valid(base)) {
		*out_len = 0;
		return NULL;
	}
	return lsm_iter_key(it->data_it, out_len);
}

static const uint8_t *si_value(lsm_iter *base, size_t *out_len)
{
	struct sst_iter *it = (struct sst_iter *)base;

	if (!si_valid(base)) {
		*out_len = 0;
		return NULL;
	}
	return lsm_iter_value(it->data_it, out_len);
}

static int si_status(lsm_iter *base)
{
	return ((struct sst_iter *)base)->status;
}

static void si_free(lsm_iter *base)
{
	struct sst_iter *it = (struct sst_iter *)base;

	it_drop_block(it);
	lsm_iter_free(it->index_it);
	strata_free(it->scratch.p);
	lsm_sst_unref(it->sst);
	strata_free(it);
}

static const struct lsm_iter_ops sst_iter_ops = {
	.valid = si_valid,
	.seek_first = si_seek_first,
	.seek = si_seek,
	.next = si_next,
	.key = si_key,
	.value = si_value,
	.status = si_status,
	.free = si_free,
};

static lsm_iter *iter_new(lsm_sst *s, bool fill_cache)
{
	struct sst_iter *it = strata_calloc(1, sizeof *it);

	if (!it)
		return NULL;
	it->base.ops = &sst_iter_ops;
	it->fill_cache = fill_cache;
	it->index_it = lsm_block_iter_new(s->index);
	if (!it->index_it) {
		strata_free(it);
		return NULL;
	}
	lsm_sst_ref(s);
	it->sst = s;
	return &it->base;
}

lsm_iter *lsm_sst_iter_new(lsm_sst *s)
{
	return iter_new(s, true);
}

lsm_iter *lsm_sst_iter_new_once(lsm_sst *s)
{
	return iter_new(s, false);
}

/* ---- whole blocks as columns ------------------------------------------ */

/*
 * Column sets share the block cache with entry blocks, under the block's
 * offset with the top bit set (offsets stay far below 2^63): a block read
 * both ways is cached both ways, each charged for itself.
 */
#define COLSET_KEY_BIT (UINT64_C(1) << 63)

struct lsm_sst_blocks {
	lsm_sst *sst;
	lsm_iter *index_it;
	struct buf scratch;
	int status;
};

lsm_sst_blocks *lsm_sst_blocks_new(lsm_sst *s)
{
	lsm_sst_blocks *b = strata_calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->index_it = lsm_block_iter_new(s->index);
	if (!b->index_it) {
		strata_free(b);
		return NULL;
	}
	lsm_sst_ref(s);
	b->sst = s;
	return b;
}

void lsm_sst_blocks_free(lsm_sst_blocks *b)
{
	if (!b)
		return;
	lsm_iter_free(b->index_it);
	strata_free(b->scratch.p);
	lsm_sst_unref(b->sst);
	strata_free(b);
}

static void blocks_check(lsm_sst_blocks *b)
{
	int rc = lsm_iter_status(b->index_it);

	if (rc)
		b->status = name_block(rc, b->sst->path, b->sst->index_h.offset);
}

void lsm_sst_blocks_seek(lsm_sst_blocks *b, const uint8_t ikey[LSM_IKEY_LEN])
{
	if (b->status)
		return;
	lsm_iter_seek(b->index_it, ikey, LSM_IKEY_LEN);
	blocks_check(b);
}

bool lsm_sst_blocks_valid(const lsm_sst_blocks *b)
{
	return b->status == 0 && lsm_iter_valid(b->index_it);
}

void lsm_sst_blocks_next(lsm_sst_blocks *b)
{
	if (!lsm_sst_blocks_valid(b))
		return;
	lsm_iter_next(b->index_it);
	blocks_check(b);
}

const uint8_t *lsm_sst_blocks_last_key(const lsm_sst_blocks *b)
{
	size_t len;

	return lsm_iter_key(b->index_it, &len);
}

int lsm_sst_blocks_status(const lsm_sst_blocks *b)
{
	return b->status;
}

static void colset_deleter(void *v)
{
	lsm_colset_free(v);
}

/*
 * Parts of a block closer than this are read in one pread: reading the
 * bytes between costs less than another request to the disk.
 */
#define PARTS_GAP_BYTES (16u << 10)

/*
 * Reads into block (the block's h.size bytes, by offset in it) the head
 * and the parts load names, in as few preads as gaps allow; the disk is
 * told of all the ranges first so that it may fetch them together.
 */
static int read_parts(const lsm_sst *s, struct handle h, const lsm_colparts_dir *d, const bool *load,
		      uint8_t *block)
{
	uint64_t *lo = strata_malloc(2 * (d->n_cols + 1) * sizeof(*lo)), *hi;
	size_t n = 0;
	int rc = 0;

	if (!lo)
		return -ENOMEM;
	hi = lo + d->n_cols + 1;
	lo[0] = d->head.offset;
	hi[0] = d->head.offset + d->head.len;
	n = 1;
	for (size_t k = 0; k < d->n_cols; k++) {
		if (!load[k])
			continue;
		if (d->cols[k].offset - hi[n - 1] <= PARTS_GAP_BYTES) {
			hi[n - 1] = d->cols[k].offset + d->cols[k].len;
		} else {
			lo[n] = d->cols[k].offset;
			hi[n++] = d->cols[k].offset + d->cols[k].len;
		}
	}
	for (size_t i = 1; i < n; i++)
		(void)posix_fadvise(s->fd, (off_t)(h.offset + lo[i]), (off_t)(hi[i] - lo[i]), POSIX_FADV_WILLNEED);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = pread_full(s->fd, s->path, block + lo[i], (size_t)(hi[i] - lo[i]), h.offset + lo[i]);
	strata_free(lo);
	return rc;
}

/* The stored bytes of block h, checked whole (checksum, directory): for a set of every column. */
static int read_whole(lsm_sst_blocks *b, struct handle h, struct stored *st)
{
	lsm_sst *s = b->sst;
	int rc;

	rc = read_stored(s->fd, s->path, s->data_end, h, &b->scratch, st);
	if (rc)
		return rc;
	if (!st->checksum_ok)
		return strata_error(STRATA_ECORRUPT, "%s: block at offset %" PRIu64 " of %" PRIu64
				    " bytes: checksum mismatch", s->path, h.offset, h.size);
	return check_dir(s->path, h, st);
}

/*
 * The column set of block h, stored in column parts, from the head and the
 * columns the set needs (want, and those `also` holds decoded) alone; the
 * others are in the set as not read (lsm_colset_add_unloaded).
 */
static int read_colset_parts(lsm_sst_blocks *b, struct handle h, const lsm_colwant *want, const lsm_colset *also,
			     lsm_colset **out)
{
	lsm_sst *s = b->sst;
	lsm_colparts_dir d;
	lsm_colspan *unread = NULL;
	bool *load = NULL;
	size_t n_unread = 0, enc_len;
	uint8_t *enc;
	int rc;

	rc = lsm_colparts_dir_parse(&d, h.dir, h.dir_len, h.size);
	if (rc)
		return name_block(rc, s->path, h.offset);
	load = strata_calloc(d.n_cols + 1, sizeof(*load));
	unread = strata_calloc(d.n_cols + 1, sizeof(*unread));
	if (!load || !unread) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t k = 0; k < d.n_cols; k++) {
		load[k] = lsm_colset_needs(want, also, d.cols[k].id, d.cols[k].type);
		if (!load[k])
			unread[n_unread++] = (lsm_colspan){ .id = d.cols[k].id, .type = d.cols[k].type };
	}
	if (n_unread == 0) {
		struct stored st = { 0 };

		rc = read_whole(b, h, &st);
		if (rc == 0)
			rc = join_parts(&d, st.p, NULL, &enc, &enc_len);
	} else {
		rc = buf_reserve(&b->scratch, (size_t)h.size);
		if (rc == 0)
			rc = read_parts(s, h, &d, load, b->scratch.p);
		if (rc == 0)
			rc = join_parts(&d, b->scratch.p, load, &enc, &enc_len);
	}
	if (rc == 0)
		rc = lsm_colset_decode(out, enc, enc_len);
	if (rc == 0) {
		rc = lsm_colset_add_unloaded(*out, unread, n_unread);
		if (rc == 0)
			rc = lsm_colset_keep(*out, want, also);
		if (rc) {
			lsm_colset_free(*out);
			*out = NULL;
		}
	}
out:
	strata_free(load);
	strata_free(unread);
	lsm_colparts_dir_free(&d);
	return name_block(rc, s->path, h.offset);
}

/*
 * Reads block h and parses its columns, keeping those want names and those
 * `also` holds decoded (lsm_colset_keep): STRATA_ENOTFOUND when the block
 * is stored as entries.
 */
static int read_colset(lsm_sst_blocks *b, struct handle h, const lsm_colwant *want, const lsm_colset *also,
		       lsm_colset **out)
{
	lsm_sst *s = b->sst;
	struct stored st = { 0 };
	uint8_t *cols;
	size_t len, raw_len;
	int rc;

	if (h.dir_len > 0)
		return read_colset_parts(b, h, want, also, out);
	rc = read_whole(b, h, &st);
	if (rc)
		return rc;
	if (st.type != LSM_SST_COMP_COLUMNS)
		return STRATA_ENOTFOUND;
	rc = unzstd_stored(s->path, h.offset, &st, &cols, &len, &raw_len);
	if (rc)
		return rc;
	rc = lsm_colset_decode(out, cols, len);
	if (rc == 0) {
		rc = lsm_colset_keep(*out, want, also);
		if (rc) {
			lsm_colset_free(*out);
			*out = NULL;
		}
	}
	return name_block(rc, s->path, h.offset);
}

int lsm_sst_blocks_columns(lsm_sst_blocks *b, const lsm_colwant *want, lsm_cache_handle **pin, lsm_colset **out)
{
	lsm_colset *old;
	lsm_sst *s = b->sst;
	const uint8_t *v;
	struct handle h;
	size_t v_len;
	int rc;

	*pin = NULL;
	*out = NULL;
	if (!lsm_sst_blocks_valid(b))
		return b->status ? b->status : STRATA_EINVAL;
	v = lsm_iter_value(b->index_it, &v_len);
	if (!decode_handle(v, v_len, &h))
		return b->status = strata_error(STRATA_ECORRUPT, "%s: index block at offset %" PRIu64
						": malformed block handle", s->path, s->index_h.offset);
	if (s->cache) {
		*pin = lsm_cache_lookup(s->cache, s->file_no, h.offset | COLSET_KEY_BIT);
		if (*pin) {
			*out = lsm_cache_value(*pin);
			if (lsm_colset_has(*out, want))
				return 0;
		}
	}
	/* Not cached, or cached without a column wanted now: the new set keeps the old one's too. */
	old = *out;
	*out = NULL;
	rc = read_colset(b, h, want, old, out);
	if (*pin) {
		lsm_cache_release(s->cache, *pin);
		*pin = NULL;
	}
	if (rc)
		return rc;
	if (s->cache) {
		*pin = lsm_cache_insert(s->cache, s->file_no, h.offset | COLSET_KEY_BIT, *out,
					lsm_colset_charge(*out), colset_deleter);
		if (!*pin) {
			*out = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

/* ---- verify ------------------------------------------------------------ */

struct verify_state {
	uint8_t prev[LSM_IKEY_LEN];
	uint64_t n_entries;
	uint64_t n_series;
};

/* Checks the entries of one data block against each other, the index and the properties. */
static int verify_entries(const lsm_sst *s, const lsm_block *blk, uint64_t off, const uint8_t *index_key,
			  struct verify_state *vs)
{
	lsm_iter *it = lsm_block_iter_new(blk);
	const lsm_sst_props *p = &s->props;
	const uint8_t *key = NULL;
	size_t key_len;
	char msg[256];
	int rc = 0;

	if (!it)
		return -ENOMEM;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) {
		const char *bad = NULL;
		int64_t ts;
		uint64_t seq;

		key = lsm_iter_key(it, &key_len);
		if (key_len != LSM_IKEY_LEN) {
			bad = "key is not an internal key";
		} else {
			ts = lsm_ukey_ts(key);
			seq = lsm_ikey_seq(key);
			if (vs->n_entries > 0 && memcmp(key, vs->prev, LSM_IKEY_LEN) <= 0)
				bad = "key is not above the key before it";
			else if (ts < p->min_ts || ts > p->max_ts || seq < p->min_seq || seq > p->max_seq)
				bad = "timestamp or sequence outside the table's range";
			else if (memcmp(key, index_key, LSM_IKEY_LEN) > 0)
				bad = "key is above the block's index key";
		}
		if (bad) {
			rc = strata_error(STRATA_ECORRUPT, "%s: data block at offset %" PRIu64
					  ", entry %" PRIu64 " of the table: %s",
					  s->path, off, vs->n_entries, bad);
			goto out;
		}
		if (vs->n_entries == 0 || lsm_ukey_series(key) != lsm_ukey_series(vs->prev)) {
			vs->n_series++;
			/* A filter that says "absent" for a series the table holds would hide its points. */
			if (!lsm_sst_may_contain_series(s, lsm_ukey_series(key))) {
				rc = strata_error(STRATA_ECORRUPT, "%s: the filter block leaves out series %" PRIu64
						  " of the data block at offset %" PRIu64,
						  s->path, lsm_ukey_series(key), off);
				goto out;
			}
		}
		if (vs->n_entries == 0 && memcmp(key, p->smallest, LSM_IKEY_LEN) != 0) {
			rc = strata_error(STRATA_ECORRUPT, "%s: first key differs from the properties' smallest",
					  s->path);
			goto out;
		}
		memcpy(vs->prev, key, LSM_IKEY_LEN);
		vs->n_entries++;
	}
	rc = lsm_iter_status(it);
	if (rc) {
		snprintf(msg, sizeof msg, "%s", strata_last_error());
		rc = strata_error(rc, "%s: data block at offset %" PRIu64 ": %s", s->path, off, msg);
		goto out;
	}
	if (!key || memcmp(key, index_key, LSM_IKEY_LEN) != 0)
		rc = strata_error(STRATA_ECORRUPT,
				  "%s: data block at offset %" PRIu64 ": last key differs from its index key",
				  s->path, off);
out:
	lsm_iter_free(it);
	return rc;
}

int lsm_sst_verify(lsm_sst *s, void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx)
{
	struct verify_state vs = { .n_entries = 0 };
	struct buf scratch = { NULL, 0 };
	lsm_iter *idx = lsm_block_iter_new(s->index);
	struct handle meta[3] = { s->filter_h, s->index_h, s->props_h };
	const uint8_t *ikey, *v;
	size_t ikey_len, v_len;
	lsm_block *blk;
	struct handle h;
	int rc = 0;

	if (!idx)
		return -ENOMEM;
	for (lsm_iter_seek_first(idx); lsm_iter_valid(idx); lsm_iter_next(idx)) {
		ikey = lsm_iter_key(idx, &ikey_len);
		v = lsm_iter_value(idx, &v_len);
		if (ikey_len != LSM_IKEY_LEN || !decode_handle(v, v_len, &h)) {
			rc = strata_error(STRATA_ECORRUPT, "%s: index block at offset %" PRIu64
					  ": malformed entry", s->path, s->index_h.offset);
			goto out;
		}
		rc = read_block_obj(s->fd, s->path, s->data_end, h, &scratch, &blk);
		if (rc)
			goto out;
		rc = verify_entries(s, blk, h.offset, ikey, &vs);
		lsm_block_free(blk);
		if (rc)
			goto out;
		if (progress)
			progress(ctx, handle_end(h), s->file_size);
	}
	rc = lsm_iter_status(idx);
	if (rc)
		goto out;
	if (vs.n_entries != s->props.n_entries || vs.n_series != s->props.n_series) {
		rc = strata_error(STRATA_ECORRUPT,
				  "%s: %" PRIu64 " entries of %" PRIu64 " series, properties say %" PRIu64
				  " of %" PRIu64, s->path, vs.n_entries, vs.n_series, s->props.n_entries,
				  s->props.n_series);
		goto out;
	}
	/* The metadata blocks were checked at open; the disk may have changed since. */
	for (int i = 0; i < 3; i++) {
		struct stored st = { 0 };

		if (i == 0 && !s->filter)
			continue;
		rc = read_stored(s->fd, s->path, s->file_size, meta[i], &scratch, &st);
		if (rc)
			goto out;
		if (!st.checksum_ok) {
			rc = strata_error(STRATA_ECORRUPT, "%s: %s block at offset %" PRIu64 ": checksum mismatch",
					  s->path, i == 0 ? "filter" : i == 1 ? "index" : "properties",
					  meta[i].offset);
			goto out;
		}
		if (progress)
			progress(ctx, handle_end(meta[i]), s->file_size);
	}
	if (progress)
		progress(ctx, s->file_size, s->file_size);
out:
	lsm_iter_free(idx);
	strata_free(scratch.p);
	return rc;
}

/* ---- dump -------------------------------------------------------------- */

static const char *kind_name(enum lsm_kind k)
{
	switch (k) {
	case LSM_KIND_DELETE: return "delete";
	case LSM_KIND_PUT: return "put";
	case LSM_KIND_MERGE: return "merge";
	}
	return "unknown";
}

static const char *comp_name(uint8_t type)
{
	switch (type) {
	case LSM_SST_COMP_RAW: return "raw";
	case LSM_SST_COMP_ZSTD: return "zstd";
	case LSM_SST_COMP_COLUMNS: return "columns";
	case LSM_SST_COMP_PARTS: return "column-parts";
	}
	return "unknown-compression";
}

/* "2024-01-02T03:04:05.000000006Z", or "?" past what gmtime handles. */
static void format_ts(char *out, size_t n, int64_t ts)
{
	int64_t sec = ts / 1000000000, nsec = ts % 1000000000;
	time_t t;
	struct tm tm;

	if (nsec < 0) {
		nsec += 1000000000;
		sec--;
	}
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
		snprintf(out, n, "?");
		return;
	}
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%09" PRId64 "Z", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nsec);
}

static void dump_key(FILE *f, const uint8_t *key, size_t len)
{
	char ts[48];

	if (len != LSM_IKEY_LEN) {
		fprintf(f, "(key of %zu bytes, not an internal key:", len);
		for (size_t i = 0; i < len && i < 32; i++)
			fprintf(f, " %02x", key[i]);
		fprintf(f, "%s)", len > 32 ? " ..." : "");
		return;
	}
	format_ts(ts, sizeof ts, lsm_ukey_ts(key));
	fprintf(f, "series=%" PRIu64 " ts=%" PRId64 " (%s) seq=%" PRIu64 " kind=%s",
		lsm_ukey_series(key), lsm_ukey_ts(key), ts, lsm_ikey_seq(key),
		kind_name(lsm_ikey_kind(key)));
}

static void dump_props(FILE *f, const lsm_sst_props *p)
{
	char ts[48];

	fprintf(f, "  smallest       ");
	dump_key(f, p->smallest, LSM_IKEY_LEN);
	fprintf(f, "\n  largest        ");
	dump_key(f, p->largest, LSM_IKEY_LEN);
	fprintf(f, "\n  window         %" PRId64 " of %" PRId64 " ns\n", p->window, p->window_ns);
	format_ts(ts, sizeof ts, p->min_ts);
	fprintf(f, "  min_ts         %" PRId64 " (%s)\n", p->min_ts, ts);
	format_ts(ts, sizeof ts, p->max_ts);
	fprintf(f, "  max_ts         %" PRId64 " (%s)\n", p->max_ts, ts);
	fprintf(f, "  min_seq        %" PRIu64 "\n  max_seq        %" PRIu64 "\n", p->min_seq, p->max_seq);
	fprintf(f, "  entries        %" PRIu64 "\n  series         %" PRIu64 "\n", p->n_entries, p->n_series);
	fprintf(f, "  data blocks    %" PRIu64 "\n", p->n_data_blocks);
	fprintf(f, "  raw bytes      %" PRIu64 "\n  file bytes     %" PRIu64 "\n", p->raw_bytes, p->file_bytes);
}

/* Keeps the first error; dump goes on past damage to describe the rest. */
static void note_rc(int *first, int rc)
{
	if (rc && !*first)
		*first = rc;
}

/* One line for a block: where, how stored, checksum. Fills *st when readable. */
static int dump_block_line(FILE *f, int fd, const char *path, uint64_t limit, const char *what,
			   struct handle h, struct buf *scratch, struct stored *st)
{
	int rc = read_stored(fd, path, limit, h, scratch, st);

	fprintf(f, "%s offset %" PRIu64 " size %" PRIu64, what, h.offset, h.size);
	if (rc) {
		fprintf(f, " UNREADABLE: %s\n", strata_last_error());
		return rc;
	}
	fprintf(f, " %s checksum %016" PRIx64 " %s\n", comp_name(st->type), st->checksum,
		st->checksum_ok ? "ok" : "BAD");
	if (!st->checksum_ok)
		return strata_error(STRATA_ECORRUPT, "%s: %s at offset %" PRIu64 ": checksum mismatch",
				    path, what, h.offset);
	return 0;
}

static int dump_data_block(FILE *f, int fd, const char *path, uint64_t data_end, uint64_t n,
			   struct handle h, const uint8_t *index_key, size_t index_key_len,
			   bool show_entries, struct buf *scratch)
{
	char what[64];
	struct stored st;
	lsm_block *blk = NULL;
	lsm_iter *it = NULL;
	uint8_t *data;
	size_t len;
	uint64_t i = 0;
	int rc;

	snprintf(what, sizeof what, "  block %" PRIu64, n);
	rc = dump_block_line(f, fd, path, data_end, what, h, scratch, &st);
	fprintf(f, "    last key ");
	dump_key(f, index_key, index_key_len);
	fprintf(f, "\n");
	if (rc || !show_entries)
		return rc;
	rc = decode_stored(path, h.offset, &st, &data, &len);
	if (rc == 0)
		rc = lsm_block_new(&blk, data, len);
	if (rc) {
		fprintf(f, "    cannot decode: %s\n", strata_last_error());
		return rc;
	}
	it = lsm_block_iter_new(blk);
	if (!it) {
		rc = -ENOMEM;
		goto out;
	}
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), i++) {
		const uint8_t *key;
		size_t key_len, v_len;

		key = lsm_iter_key(it, &key_len);
		lsm_iter_value(it, &v_len);
		fprintf(f, "    %6" PRIu64 " ", i);
		dump_key(f, key, key_len);
		fprintf(f, " value_len=%zu\n", v_len);
	}
	rc = lsm_iter_status(it);
	if (rc)
		fprintf(f, "    entry %" PRIu64 " damaged: %s\n", i, strata_last_error());
out:
	lsm_iter_free(it);
	lsm_block_free(blk);
	return rc;
}

static void dump_index(FILE *f, int fd, const char *path, uint64_t file_size, const struct footer *ft,
		       bool show_entries, struct buf *scratch, int *first)
{
	uint64_t data_end = has_filter(ft) ? ft->filter.offset : ft->index.offset;
	lsm_block *index = NULL;
	lsm_iter *it = NULL;
	struct stored st;
	uint64_t n = 0;
	uint8_t *data;
	size_t len;
	int rc;

	rc = dump_block_line(f, fd, path, file_size, "index block", ft->index, scratch, &st);
	if (rc == 0)
		rc = decode_stored(path, ft->index.offset, &st, &data, &len);
	if (rc == 0)
		rc = lsm_block_new(&index, data, len);
	if (rc == 0 && !(it = lsm_block_iter_new(index)))
		rc = -ENOMEM;
	if (rc) {
		fprintf(f, "  data blocks cannot be listed: %s\n", strata_last_error());
		note_rc(first, rc);
		goto out;
	}
	fprintf(f, "data blocks (before offset %" PRIu64 ")\n", data_end);
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), n++) {
		const uint8_t *key, *v;
		size_t key_len, v_len;
		struct handle h;

		key = lsm_iter_key(it, &key_len);
		v = lsm_iter_value(it, &v_len);
		if (!decode_handle(v, v_len, &h)) {
			fprintf(f, "  block %" PRIu64 ": malformed index entry\n", n);
			note_rc(first, strata_error(STRATA_ECORRUPT, "%s: index entry %" PRIu64 " malformed",
						    path, n));
			continue;
		}
		note_rc(first, dump_data_block(f, fd, path, data_end, n, h, key, key_len, show_entries,
					       scratch));
	}
	rc = lsm_iter_status(it);
	if (rc) {
		fprintf(f, "  index entry %" PRIu64 " damaged: %s\n", n, strata_last_error());
		note_rc(first, rc);
	}
out:
	lsm_iter_free(it);
	lsm_block_free(index);
}

int lsm_sst_dump(const char *path, bool show_entries, void *out_file)
{
	uint8_t raw_footer[LSM_SST_FOOTER_LEN];
	struct buf scratch = { NULL, 0 };
	FILE *f = out_file;
	struct footer ft;
	struct stat st;
	uint64_t size, data_end;
	int fd, rc = 0, first = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return strata_error(-errno, "%s: open: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		rc = strata_error(-errno, "%s: stat: %s", path, strerror(errno));
		goto out;
	}
	size = (uint64_t)st.st_size;
	fprintf(f, "sstable %s\nfile size %" PRIu64 "\n", path, size);
	if (size < LSM_SST_FOOTER_LEN) {
		fprintf(f, "DAMAGED: shorter than the %d-byte footer\n", LSM_SST_FOOTER_LEN);
		rc = strata_error(STRATA_ECORRUPT, "%s: %" PRIu64 " bytes, shorter than the footer", path, size);
		goto out;
	}
	rc = pread_full(fd, path, raw_footer, sizeof raw_footer, size - LSM_SST_FOOTER_LEN);
	if (rc)
		goto out;
	parse_footer(raw_footer, &ft);
	fprintf(f, "footer (offset %" PRIu64 ")\n", size - LSM_SST_FOOTER_LEN);
	fprintf(f, "  magic          %016" PRIx64 " %s\n", ft.magic, ft.magic == LSM_SST_MAGIC ? "ok" : "BAD");
	fprintf(f, "  version        %u%s\n", ft.version,
		ft.version == 0 || ft.version > LSM_SST_VERSION ? " UNSUPPORTED" : "");
	fprintf(f, "  checksum       %016" PRIx64 " %s\n", ft.checksum, ft.checksum_ok ? "ok" : "BAD");
	fprintf(f, "  index          offset %" PRIu64 " size %" PRIu64 "\n", ft.index.offset, ft.index.size);
	if (has_filter(&ft))
		fprintf(f, "  filter         offset %" PRIu64 " size %" PRIu64 "\n", ft.filter.offset,
			ft.filter.size);
	else
		fprintf(f, "  filter         none\n");
	fprintf(f, "  properties     offset %" PRIu64 " size %" PRIu64 "\n", ft.props.offset, ft.props.size);
	rc = check_footer(path, size, &ft, &data_end);
	if (rc) {
		/* Without a trustworthy footer nothing else can be located. */
		fprintf(f, "%s: %s\n", rc == STRATA_EVERSION ? "UNSUPPORTED" : "DAMAGED",
			strata_last_error());
		goto out;
	}

	{
		struct stored sb;
		lsm_sst_props props;
		uint8_t *data;
		size_t len;

		rc = dump_block_line(f, fd, path, size, "properties block", ft.props, &scratch, &sb);
		if (rc == 0)
			rc = decode_stored(path, ft.props.offset, &sb, &data, &len);
		if (rc == 0) {
			rc = decode_props(path, ft.props.offset, size, data, len, &props);
			strata_free(data);
			/* Inconsistent but whole properties are still worth showing. */
			if (rc == 0 || (rc == STRATA_ECORRUPT && (len == LSM_SST_PROPS_LEN || len == LSM_SST_PROPS_LEN_V2)))
				dump_props(f, &props);
		}
		if (rc)
			fprintf(f, "  DAMAGED: %s\n", strata_last_error());
		note_rc(&first, rc);
		if (has_filter(&ft))
			note_rc(&first, dump_block_line(f, fd, path, size, "filter block", ft.filter, &scratch, &sb));
	}
	dump_index(f, fd, path, size, &ft, show_entries, &scratch, &first);
	rc = first;
	fprintf(f, "%s\n", rc ? "DAMAGED" : "ok");
out:
	fflush(f);
	close(fd);
	strata_free(scratch.p);
	return rc;
}
