/*
 * key.h — the series-timestamp key and the engine's internal key.
 *
 * User key (16 bytes): series_id as 8 bytes big-endian, then the timestamp in
 * nanoseconds as 8 bytes big-endian with the sign bit flipped, so that memcmp
 * orders keys by series, then time, with negative times first.
 *
 * Internal key (24 bytes): the user key, then an 8-byte trailer holding
 * ~(seq << 8 | kind) big-endian. Because the trailer is inverted, memcmp over
 * the whole internal key orders by user key ascending, then sequence number
 * descending: the newest version of a key comes first. Every sorted structure
 * in lsm/ (skiplist, blocks, SSTables, merges) compares internal keys with
 * plain memcmp.
 */
#ifndef STRATA_LSM_KEY_H
#define STRATA_LSM_KEY_H

#include "lsm/coding.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define LSM_UKEY_LEN 16
#define LSM_IKEY_LEN 24
#define LSM_SEQ_MAX ((UINT64_C(1) << 56) - 1)

/* What an entry does to its key. */
enum lsm_kind {
	LSM_KIND_DELETE = 0, /* tombstone: the key has no value */
	LSM_KIND_PUT = 1,    /* the value replaces whatever came before */
	LSM_KIND_MERGE = 2,  /* the value merges over older ones (the merge hook) */
};

static inline void lsm_ukey_encode(uint8_t out[LSM_UKEY_LEN], uint64_t series_id, int64_t ts_ns)
{
	lsm_put_be64(out, series_id);
	lsm_put_be64(out + 8, (uint64_t)ts_ns ^ (UINT64_C(1) << 63));
}

static inline uint64_t lsm_ukey_series(const uint8_t *ukey)
{
	return lsm_get_be64(ukey);
}

static inline int64_t lsm_ukey_ts(const uint8_t *ukey)
{
	return (int64_t)(lsm_get_be64(ukey + 8) ^ (UINT64_C(1) << 63));
}

static inline void lsm_ikey_encode(uint8_t out[LSM_IKEY_LEN], const uint8_t ukey[LSM_UKEY_LEN],
				   uint64_t seq, enum lsm_kind kind)
{
	memcpy(out, ukey, LSM_UKEY_LEN);
	lsm_put_be64(out + LSM_UKEY_LEN, ~(seq << 8 | (uint64_t)kind));
}

static inline uint64_t lsm_ikey_seq(const uint8_t *ikey)
{
	return ~lsm_get_be64(ikey + LSM_UKEY_LEN) >> 8;
}

static inline enum lsm_kind lsm_ikey_kind(const uint8_t *ikey)
{
	return (enum lsm_kind)(~lsm_get_be64(ikey + LSM_UKEY_LEN) & 0xff);
}

/*
 * The internal key that sorts first among the versions of ukey visible at
 * snapshot seq: seeking to it lands on the newest version with seq <= snapshot.
 */
static inline void lsm_ikey_seek_key(uint8_t out[LSM_IKEY_LEN], const uint8_t ukey[LSM_UKEY_LEN], uint64_t snapshot)
{
	memcpy(out, ukey, LSM_UKEY_LEN);
	lsm_put_be64(out + LSM_UKEY_LEN, ~(snapshot << 8 | 0xff));
}

static inline bool lsm_ukey_equal(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, LSM_UKEY_LEN) == 0;
}

/* Floor division of a timestamp into its time window (window_ns > 0). */
static inline int64_t lsm_window_of(int64_t ts_ns, int64_t window_ns)
{
	int64_t q = ts_ns / window_ns;

	if ((ts_ns % window_ns) != 0 && ts_ns < 0)
		q--;
	return q;
}

/*
 * The window length of tables that do not record theirs (SSTable properties
 * before version 3, manifest add_file records of tag 4): they were all
 * written with the engine's one window of a day.
 */
#define LSM_WINDOW_LEGACY_NS (INT64_C(86400) * 1000000000)

/*
 * The first and last timestamp of window w of length window_ns (> 0), each
 * saturating at the ends of time: a window holding INT64_MIN or INT64_MAX
 * is cut there, so [*first, *last] is exactly the times it can hold.
 */
static inline void lsm_window_span(int64_t w, int64_t window_ns, int64_t *first, int64_t *last)
{
	int64_t next;

	if (__builtin_mul_overflow(w, window_ns, first))
		*first = w < 0 ? INT64_MIN : INT64_MAX;
	if (__builtin_add_overflow(w, 1, &next) || __builtin_mul_overflow(next, window_ns, last))
		*last = w < 0 ? INT64_MIN : INT64_MAX;
	else
		*last -= 1;
}

#endif
