/*
 * coding.h — fixed-width integers (little- and big-endian) and varints.
 *
 * Decoders never read past the end they are given: each takes the bound and
 * returns the number of bytes consumed, or 0 when the input is truncated or
 * malformed. Every length read from disk or the network goes through these.
 */
#ifndef STRATA_LSM_CODING_H
#define STRATA_LSM_CODING_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LSM_VARINT64_MAX 10
#define LSM_VARINT32_MAX 5

static inline void lsm_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static inline void lsm_put_le64(uint8_t *p, uint64_t v)
{
	lsm_put_le32(p, (uint32_t)v);
	lsm_put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t lsm_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t lsm_get_le64(const uint8_t *p)
{
	return (uint64_t)lsm_get_le32(p) | (uint64_t)lsm_get_le32(p + 4) << 32;
}

static inline void lsm_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static inline uint64_t lsm_get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Writes v as a varint at p (room for LSM_VARINT64_MAX bytes); returns bytes written. */
static inline size_t lsm_put_varint64(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static inline size_t lsm_varint64_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Reads a varint from [p, end); returns bytes consumed, 0 if truncated or over 64 bits. */
static inline size_t lsm_get_varint64(const uint8_t *p, const uint8_t *end, uint64_t *out)
{
	uint64_t v = 0;

	for (size_t i = 0; i < LSM_VARINT64_MAX && p + i < end; i++) {
		uint64_t b = p[i];

		if (i == 9 && b > 1)
			return 0;
		v |= (b & 0x7f) << (7 * i);
		if (b < 0x80) {
			*out = v;
			return i + 1;
		}
	}
	return 0;
}

/* As lsm_get_varint64, also 0 when the value does not fit 32 bits. */
static inline size_t lsm_get_varint32(const uint8_t *p, const uint8_t *end, uint32_t *out)
{
	uint64_t v;
	size_t n = lsm_get_varint64(p, end, &v);

	if (n == 0 || v > UINT32_MAX)
		return 0;
	*out = (uint32_t)v;
	return n;
}

#endif
