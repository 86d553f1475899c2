/*
 * sstable_format.h — the on-disk constants of an SSTable. The format itself
 * is specified field by field in docs/format-sstable.md; the writer is
 * sstable_builder.c and the reader sstable.c.
 *
 * File layout:
 *   data block 0 + trailer ... data block n-1 + trailer
 *   filter block + trailer      (absent when the table has no filter)
 *   index block + trailer
 *   properties block + trailer
 *   footer                      (LSM_SST_FOOTER_LEN bytes)
 *
 * Integers are little-endian unless a field says otherwise (keys are
 * big-endian, key.h).
 */
#ifndef STRATA_LSM_SSTABLE_FORMAT_H
#define STRATA_LSM_SSTABLE_FORMAT_H

#include <stdint.h>

/* The last 8 bytes of every table: "STRATAST" read as a u64 LE. */
#define LSM_SST_MAGIC UINT64_C(0x5453415441525453)
/* Format version in the footer; a reader refuses a newer one (STRATA_EVERSION). */
#define LSM_SST_VERSION 3 /* 3: column part blocks (type 3); 2: column blocks (type 2); all are read */

/* Compression type byte of a block trailer. */
enum lsm_sst_compression {
	LSM_SST_COMP_RAW = 0,  /* stored bytes are the block */
	LSM_SST_COMP_ZSTD = 1, /* varint raw size, then one zstd frame */
	LSM_SST_COMP_COLUMNS = 2, /* varint raw size, varint column size, one zstd frame of the columns */
	LSM_SST_COMP_PARTS = 3,   /* the columns in parts (column_parts.h); the index entry holds their directory */
};

/*
 * Block trailer, after the stored bytes of every block:
 *   type     u8       enum lsm_sst_compression
 *   checksum u64 LE   XXH3-64 of the stored bytes followed by the type byte
 */
#define LSM_SST_TRAILER_LEN 9

/*
 * Bound on a block's decoded size and on its stored size (a block is stored
 * compressed only when that is smaller, so stored <= decoded). Every size read
 * from disk is checked against it before a buffer is allocated.
 */
#define LSM_SST_BLOCK_MAX (64u << 20)

/*
 * Footer (LSM_SST_FOOTER_LEN bytes at the end of the file):
 *   0   checksum       u64 LE  XXH3-64 of footer bytes [8, 72)
 *   8   index offset   u64 LE  \
 *   16  index size     u64 LE   |  block handles: offset of the block in the
 *   24  filter offset  u64 LE   |  file, size of its stored bytes without the
 *   32  filter size    u64 LE   |  trailer; the filter handle is all zero when
 *   40  props offset   u64 LE   |  the table has no filter
 *   48  props size     u64 LE  /
 *   56  version        u32 LE  LSM_SST_VERSION
 *   60  reserved       u32 LE  zero
 *   64  magic          u64 LE  LSM_SST_MAGIC
 */
#define LSM_SST_FOOTER_LEN 72
#define LSM_SST_FOOTER_CHECKSUM 0
#define LSM_SST_FOOTER_INDEX 8
#define LSM_SST_FOOTER_FILTER 24
#define LSM_SST_FOOTER_PROPS 40
#define LSM_SST_FOOTER_VERSION 56
#define LSM_SST_FOOTER_RESERVED 60
#define LSM_SST_FOOTER_MAGIC 64

/* Properties block: fixed encoding, version LSM_SST_PROPS_VERSION (see the doc). */
/*
 * 3: window length at bytes 136..143; 2: bytes 4..7 hold flags
 * (LSM_SST_FLAG_*); 1: zero. Versions 1 and 2 are 136 bytes long and their
 * tables' windows are LSM_WINDOW_LEGACY_NS (key.h) long.
 */
#define LSM_SST_PROPS_VERSION 3
#define LSM_SST_PROPS_LEN 144
#define LSM_SST_PROPS_LEN_V2 136

/* Restart interval of the index block: every index key is stored whole. */
#define LSM_SST_INDEX_RESTART_INTERVAL 1

#endif
