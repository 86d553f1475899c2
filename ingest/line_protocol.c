/*
 * line_protocol.c — the InfluxDB line protocol parser (ingest/line_protocol.h).
 *
 * How it is built, and why:
 * - Each call finds the end of the next line with memchr('\n') first. A line
 *   therefore always ends at a newline, even inside a quoted string (which is
 *   then "unterminated"), so one bad line can never swallow the next one, and
 *   every scanning loop below is bounded by the line's end instead of testing
 *   for a newline at each byte.
 * - The line is then walked once, left to right. Names (measurement, tag keys
 *   and values, field keys) are scanned 16 bytes at a time with SSE2 (where
 *   available), then byte by byte with a 256-entry class table; the scan only
 *   stops at a delimiter, a backslash, a NUL byte or a byte >= 0x80 (whose
 *   UTF-8 sequence is then validated). Nothing is copied: each piece is a
 *   slice of the caller's buffer, marked "escaped" when it holds an escape
 *   sequence so that ingest_lp_unescape() knows to rewrite it.
 * - Numbers are converted while they are scanned, 8 digits at a time where
 *   8 digits follow (SWAR, one 64-bit load). Floats take the exact fast
 *   path of Clinger (at most 2^53, power of ten within 10^±22: one correctly
 *   rounded IEEE operation), then the Eisel-Lemire algorithm over a table of
 *   128-bit powers of five for exponents in [-80, 80] (17-digit values from
 *   agents land here), and only then strtod_l() in the C locale (more than 19
 *   significant digits, huge exponents, or the rare case Eisel-Lemire cannot
 *   decide). All three give the correctly rounded double.
 * - The tag and field arrays belong to the parser: they grow (doubling, up to
 *   the limits) the first time a line needs more and are reused afterwards,
 *   so a steady stream of lines allocates nothing.
 *
 * Threads: a parser is used by one thread at a time; the only shared state is
 * the C locale object, created once under pthread_once.
 */
#include "ingest/line_protocol.h"
#include "lsm/alloc.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The hot scanners must be inlined where the class is a constant. */
#define LP_ALWAYS_INLINE static inline __attribute__((always_inline))

#define LP_DEFAULT_MAX_TAGS 256u
#define LP_DEFAULT_MAX_FIELDS 1024u
#define LP_DEFAULT_MAX_LINE_BYTES (1u << 20)
#define LP_DEFAULT_MAX_STRING_BYTES (64u << 10)

#define LP_INITIAL_TAGS 16u
#define LP_INITIAL_FIELDS 16u

/* Bytes of the line quoted in an error message. */
#define LP_QUOTE_BYTES 48

/* Byte classes: which bytes stop the scan of each kind of token. */
enum {
	CL_MEAS = 1, /* measurement: ',' ' ' '\\' NUL, >= 0x80 */
	CL_KEY = 2,  /* tag key/value, field key: ',' '=' ' ' '\\' NUL, >= 0x80 */
	CL_STR = 4,  /* string field value: '"' '\\', >= 0x80 */
	CL_END = 8,  /* end of an unquoted field value or timestamp: ',' ' ' */
};

static const uint8_t lp_class[256] = {
	3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
	11, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11, 0, 0, 0, /* 0x20 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, /* 0x30 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x40 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, /* 0x50 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x60 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x70 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0x80 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0x90 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0xa0 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0xb0 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0xc0 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0xd0 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0xe0 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0xf0 */
};

/* ---- small helpers ---------------------------------------------------- */

static inline bool lp_digit(char c)
{
	return (unsigned char)(c - '0') < 10;
}

/* Whether "\c" is an escape sequence in the given context. */
static inline bool lp_escapable(char c, enum ingest_lp_context ctx)
{
	switch (ctx) {
	case INGEST_LP_CTX_MEASUREMENT:
		return c == ',' || c == ' ' || c == '\\';
	case INGEST_LP_CTX_KEY:
		return c == ',' || c == '=' || c == ' ' || c == '\\';
	case INGEST_LP_CTX_STRING:
		return c == '"' || c == '\\';
	}
	return false;
}

/*
 * Length of the well-formed UTF-8 sequence at s (s[0] >= 0x80, n >= 1 bytes
 * available), or 0 when it is not one: stray continuation bytes, overlong
 * forms, surrogates, code points above U+10FFFF and truncated sequences.
 */
static size_t lp_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];

	if (c < 0xc2)
		return 0;
	if (c < 0xe0)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c < 0xf0) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
			return 0;
		return 3;
	}
	if (c < 0xf5) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

/* ---- limits, precision, lifecycle -------------------------------------- */

void ingest_lp_limits_default(ingest_lp_limits *out)
{
	out->max_tags = LP_DEFAULT_MAX_TAGS;
	out->max_fields = LP_DEFAULT_MAX_FIELDS;
	out->max_line_bytes = LP_DEFAULT_MAX_LINE_BYTES;
	out->max_string_bytes = LP_DEFAULT_MAX_STRING_BYTES;
}

int ingest_lp_parse_precision(const char *text, enum ingest_lp_precision *out)
{
	static const struct {
		const char *name;
		enum ingest_lp_precision precision;
	} names[] = {
		{ "ns", INGEST_LP_NS }, { "n", INGEST_LP_NS },
		{ "us", INGEST_LP_US }, { "u", INGEST_LP_US }, { "\xc2\xb5", INGEST_LP_US },
		{ "ms", INGEST_LP_MS }, { "s", INGEST_LP_S },
		{ "m", INGEST_LP_M }, { "h", INGEST_LP_H },
	};

	if (!text)
		return -1;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(text, names[i].name) == 0) {
			*out = names[i].precision;
			return 0;
		}
	}
	return -1;
}

static pthread_once_t lp_locale_once = PTHREAD_ONCE_INIT;
static locale_t lp_c_locale;

static void lp_locale_init(void)
{
	lp_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

int ingest_lp_parser_init(ingest_lp_parser *p, const ingest_lp_limits *limits)
{
	int rc = 0;

	memset(p, 0, sizeof *p);
	ingest_lp_limits_default(&p->limits);
	/* A limit left at 0 takes its default. */
	if (limits) {
		if (limits->max_tags)
			p->limits.max_tags = limits->max_tags;
		if (limits->max_fields)
			p->limits.max_fields = limits->max_fields;
		if (limits->max_line_bytes)
			p->limits.max_line_bytes = limits->max_line_bytes;
		if (limits->max_string_bytes)
			p->limits.max_string_bytes = limits->max_string_bytes;
	}
	pthread_once(&lp_locale_once, lp_locale_init);

	p->tags_cap = p->limits.max_tags < LP_INITIAL_TAGS ? p->limits.max_tags : LP_INITIAL_TAGS;
	p->fields_cap = p->limits.max_fields < LP_INITIAL_FIELDS ? p->limits.max_fields : LP_INITIAL_FIELDS;
	p->tags = strata_malloc((size_t)p->tags_cap * sizeof *p->tags);
	p->fields = strata_malloc((size_t)p->fields_cap * sizeof *p->fields);
	if (!p->tags || !p->fields) {
		rc = -ENOMEM;
		goto out;
	}
	p->line = 1;
out:
	if (rc)
		ingest_lp_parser_deinit(p);
	return rc;
}

void ingest_lp_parser_deinit(ingest_lp_parser *p)
{
	strata_free(p->tags);
	strata_free(p->fields);
	strata_free(p->scratch);
	p->tags = NULL;
	p->fields = NULL;
	p->scratch = NULL;
	p->tags_cap = 0;
	p->fields_cap = 0;
	p->scratch_cap = 0;
}

void ingest_lp_parser_reset(ingest_lp_parser *p, const char *buf, size_t len,
			    enum ingest_lp_precision precision, uint64_t first_line)
{
	p->buf = buf;
	p->len = buf ? len : 0;
	p->pos = 0;
	p->line = first_line;
	p->precision = (unsigned)precision <= INGEST_LP_H ? precision : INGEST_LP_NS;
}

/*
 * Doubles the capacity of an array (up to limit; the caller has cap < limit).
 * Returns the new array, or NULL (the old one is kept) when out of memory.
 */
static void *lp_grow(void *arr, uint32_t *cap, uint32_t limit, size_t elem)
{
	uint64_t ncap = (uint64_t)*cap * 2;
	void *grown;

	if (ncap < 16)
		ncap = 16;
	if (ncap > limit)
		ncap = limit;
	grown = strata_realloc(arr, (size_t)ncap * elem);
	if (grown)
		*cap = (uint32_t)ncap;
	return grown;
}

/* ---- unescaping --------------------------------------------------------- */

size_t ingest_lp_unescape(char *out, ingest_lp_slice s, enum ingest_lp_context ctx)
{
	size_t n = 0;

	if (!s.escaped) {
		if (s.len)
			memcpy(out, s.p, s.len);
		return s.len;
	}
	for (uint32_t i = 0; i < s.len; i++) {
		if (s.p[i] == '\\' && i + 1 < s.len && lp_escapable(s.p[i + 1], ctx))
			i++;
		out[n++] = s.p[i];
	}
	return n;
}

/* ---- errors ------------------------------------------------------------- */

/* One line being parsed. */
struct lp_line {
	ingest_lp_parser *p;
	const char *s;      /* first byte of the line */
	size_t len;         /* without the '\n' and a '\r' before it */
	uint64_t line_no;
	ingest_lp_error *err;
};

/*
 * Fills *err: line, 1-based column of byte offset col, and
 * "unable to parse '<start of the line>': <reason>". The quoted part is cut
 * at a character boundary; control bytes and bytes that are not UTF-8 are
 * shown as '?', so the message is always printable UTF-8.
 */
static int lp_fail(const struct lp_line *l, size_t col, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int lp_fail(const struct lp_line *l, size_t col, const char *fmt, ...)
{
	char quoted[LP_QUOTE_BYTES + 4];
	char reason[112];
	size_t q = 0, i = 0;
	va_list ap;

	if (!l->err)
		return -1;
	while (i < l->len && q < LP_QUOTE_BYTES) {
		unsigned char c = (unsigned char)l->s[i];

		if (c >= 0x80) {
			size_t k = lp_utf8_seq((const unsigned char *)l->s + i, l->len - i);

			if (k == 0) {
				quoted[q++] = '?';
				i++;
				continue;
			}
			if (q + k > LP_QUOTE_BYTES)
				break;
			memcpy(quoted + q, l->s + i, k);
			q += k;
			i += k;
			continue;
		}
		quoted[q++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
		i++;
	}
	if (i < l->len) {
		memcpy(quoted + q, "...", 3);
		q += 3;
	}
	quoted[q] = '\0';

	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);

	l->err->line = l->line_no;
	l->err->column = col >= UINT32_MAX ? UINT32_MAX : (uint32_t)(col + 1);
	snprintf(l->err->reason, sizeof l->err->reason, "unable to parse '%s': %s", quoted, reason);
	return -1;
}

/* ---- names -------------------------------------------------------------- */

#if defined(__SSE2__)
/*
 * Skips 16 bytes at a time while none of them can stop a name of class cls
 * (CL_MEAS or CL_KEY): returns the offset of the first byte that may, or
 * where fewer than 16 bytes remain. The byte loop after it has the last word.
 */
static inline size_t lp_skip_name16(const char *s, size_t i, size_t len, uint8_t cls)
{
	const __m128i comma = _mm_set1_epi8(','), space = _mm_set1_epi8(' ');
	const __m128i backslash = _mm_set1_epi8('\\'), equals = _mm_set1_epi8('=');
	const __m128i zero = _mm_setzero_si128();

	while (len - i >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, space)),
					 _mm_or_si128(_mm_cmpeq_epi8(v, backslash), _mm_cmpeq_epi8(v, zero)));
		unsigned bits;

		if (cls == CL_KEY)
			m = _mm_or_si128(m, _mm_cmpeq_epi8(v, equals));
		/* The second mask: bytes >= 0x80, to be checked as UTF-8. */
		bits = (unsigned)_mm_movemask_epi8(m) | (unsigned)_mm_movemask_epi8(v);
		if (bits)
			return i + (size_t)__builtin_ctz(bits);
		i += 16;
	}
	return i;
}
#endif

/*
 * Scans a name from *ip up to the first unescaped delimiter of its class
 * (CL_MEAS: ',' or ' '; CL_KEY: ',', '=' or ' ') or the end of the line.
 * Returns NULL, or a reason with *ip at the offending byte.
 */
LP_ALWAYS_INLINE const char *lp_scan_name(const char *s, size_t len, size_t *ip, uint8_t cls,
					  ingest_lp_slice *out)
{
	const enum ingest_lp_context ctx = cls == CL_MEAS ? INGEST_LP_CTX_MEASUREMENT : INGEST_LP_CTX_KEY;
	size_t start = *ip, i = start;
	bool escaped = false;

	for (;;) {
		unsigned char c;

#if defined(__SSE2__)
		i = lp_skip_name16(s, i, len, cls);
#endif
		while (i < len && !(lp_class[(unsigned char)s[i]] & cls))
			i++;
		if (i >= len)
			break;
		c = (unsigned char)s[i];
		if (c == '\\') {
			if (i + 1 < len && lp_escapable(s[i + 1], ctx)) {
				escaped = true;
				i += 2;
			} else {
				i++; /* a backslash before anything else is itself */
			}
			continue;
		}
		if (c >= 0x80) {
			size_t k = lp_utf8_seq((const unsigned char *)s + i, len - i);

			if (k == 0) {
				*ip = i;
				return "invalid UTF-8";
			}
			i += k;
			continue;
		}
		if (c == 0) {
			*ip = i;
			return "NUL byte";
		}
		break; /* a delimiter */
	}
	out->p = s + start;
	out->len = (uint32_t)(i - start);
	out->escaped = escaped;
	*ip = i;
	return NULL;
}

static inline bool lp_is_time(const ingest_lp_slice *s)
{
	return s->len == 4 && !s->escaped && memcmp(s->p, "time", 4) == 0;
}

/* ---- numbers ------------------------------------------------------------ */

#define LP_POW5_MIN (-80)
#define LP_POW5_MAX 80

/*
 * 5^q for q in [-80, 80] as the Eisel-Lemire algorithm needs it: 128 bits,
 * normalized so that the top bit is set, truncated for q >= 0; for q < 0,
 * 2^k / 5^-q rounded up (computed with exact integer arithmetic, as
 * fast_float's table is).
 */
static const uint64_t lp_pow5[LP_POW5_MAX - LP_POW5_MIN + 1][2] = {
	{0x97c560ba6b0919a5ULL, 0xdccd879fc967d41aULL}, /* 5^-80 */
	{0xbdb6b8e905cb600fULL, 0x5400e987bbc1c920ULL}, /* 5^-79 */
	{0xed246723473e3813ULL, 0x290123e9aab23b68ULL}, /* 5^-78 */
	{0x9436c0760c86e30bULL, 0xf9a0b6720aaf6521ULL}, /* 5^-77 */
	{0xb94470938fa89bceULL, 0xf808e40e8d5b3e69ULL}, /* 5^-76 */
	{0xe7958cb87392c2c2ULL, 0xb60b1d1230b20e04ULL}, /* 5^-75 */
	{0x90bd77f3483bb9b9ULL, 0xb1c6f22b5e6f48c2ULL}, /* 5^-74 */
	{0xb4ecd5f01a4aa828ULL, 0x1e38aeb6360b1af3ULL}, /* 5^-73 */
	{0xe2280b6c20dd5232ULL, 0x25c6da63c38de1b0ULL}, /* 5^-72 */
	{0x8d590723948a535fULL, 0x579c487e5a38ad0eULL}, /* 5^-71 */
	{0xb0af48ec79ace837ULL, 0x2d835a9df0c6d851ULL}, /* 5^-70 */
	{0xdcdb1b2798182244ULL, 0xf8e431456cf88e65ULL}, /* 5^-69 */
	{0x8a08f0f8bf0f156bULL, 0x1b8e9ecb641b58ffULL}, /* 5^-68 */
	{0xac8b2d36eed2dac5ULL, 0xe272467e3d222f3fULL}, /* 5^-67 */
	{0xd7adf884aa879177ULL, 0x5b0ed81dcc6abb0fULL}, /* 5^-66 */
	{0x86ccbb52ea94baeaULL, 0x98e947129fc2b4e9ULL}, /* 5^-65 */
	{0xa87fea27a539e9a5ULL, 0x3f2398d747b36224ULL}, /* 5^-64 */
	{0xd29fe4b18e88640eULL, 0x8eec7f0d19a03aadULL}, /* 5^-63 */
	{0x83a3eeeef9153e89ULL, 0x1953cf68300424acULL}, /* 5^-62 */
	{0xa48ceaaab75a8e2bULL, 0x5fa8c3423c052dd7ULL}, /* 5^-61 */
	{0xcdb02555653131b6ULL, 0x3792f412cb06794dULL}, /* 5^-60 */
	{0x808e17555f3ebf11ULL, 0xe2bbd88bbee40bd0ULL}, /* 5^-59 */
	{0xa0b19d2ab70e6ed6ULL, 0x5b6aceaeae9d0ec4ULL}, /* 5^-58 */
	{0xc8de047564d20a8bULL, 0xf245825a5a445275ULL}, /* 5^-57 */
	{0xfb158592be068d2eULL, 0xeed6e2f0f0d56712ULL}, /* 5^-56 */
	{0x9ced737bb6c4183dULL, 0x55464dd69685606bULL}, /* 5^-55 */
	{0xc428d05aa4751e4cULL, 0xaa97e14c3c26b886ULL}, /* 5^-54 */
	{0xf53304714d9265dfULL, 0xd53dd99f4b3066a8ULL}, /* 5^-53 */
	{0x993fe2c6d07b7fabULL, 0xe546a8038efe4029ULL}, /* 5^-52 */
	{0xbf8fdb78849a5f96ULL, 0xde98520472bdd033ULL}, /* 5^-51 */
	{0xef73d256a5c0f77cULL, 0x963e66858f6d4440ULL}, /* 5^-50 */
	{0x95a8637627989aadULL, 0xdde7001379a44aa8ULL}, /* 5^-49 */
	{0xbb127c53b17ec159ULL, 0x5560c018580d5d52ULL}, /* 5^-48 */
	{0xe9d71b689dde71afULL, 0xaab8f01e6e10b4a6ULL}, /* 5^-47 */
	{0x9226712162ab070dULL, 0xcab3961304ca70e8ULL}, /* 5^-46 */
	{0xb6b00d69bb55c8d1ULL, 0x3d607b97c5fd0d22ULL}, /* 5^-45 */
	{0xe45c10c42a2b3b05ULL, 0x8cb89a7db77c506aULL}, /* 5^-44 */
	{0x8eb98a7a9a5b04e3ULL, 0x77f3608e92adb242ULL}, /* 5^-43 */
	{0xb267ed1940f1c61cULL, 0x55f038b237591ed3ULL}, /* 5^-42 */
	{0xdf01e85f912e37a3ULL, 0x6b6c46dec52f6688ULL}, /* 5^-41 */
	{0x8b61313bbabce2c6ULL, 0x2323ac4b3b3da015ULL}, /* 5^-40 */
	{0xae397d8aa96c1b77ULL, 0xabec975e0a0d081aULL}, /* 5^-39 */
	{0xd9c7dced53c72255ULL, 0x96e7bd358c904a21ULL}, /* 5^-38 */
	{0x881cea14545c7575ULL, 0x7e50d64177da2e54ULL}, /* 5^-37 */
	{0xaa242499697392d2ULL, 0xdde50bd1d5d0b9e9ULL}, /* 5^-36 */
	{0xd4ad2dbfc3d07787ULL, 0x955e4ec64b44e864ULL}, /* 5^-35 */
	{0x84ec3c97da624ab4ULL, 0xbd5af13bef0b113eULL}, /* 5^-34 */
	{0xa6274bbdd0fadd61ULL, 0xecb1ad8aeacdd58eULL}, /* 5^-33 */
	{0xcfb11ead453994baULL, 0x67de18eda5814af2ULL}, /* 5^-32 */
	{0x81ceb32c4b43fcf4ULL, 0x80eacf948770ced7ULL}, /* 5^-31 */
	{0xa2425ff75e14fc31ULL, 0xa1258379a94d028dULL}, /* 5^-30 */
	{0xcad2f7f5359a3b3eULL, 0x096ee45813a04330ULL}, /* 5^-29 */
	{0xfd87b5f28300ca0dULL, 0x8bca9d6e188853fcULL}, /* 5^-28 */
	{0x9e74d1b791e07e48ULL, 0x775ea264cf55347eULL}, /* 5^-27 */
	{0xc612062576589ddaULL, 0x95364afe032a819eULL}, /* 5^-26 */
	{0xf79687aed3eec551ULL, 0x3a83ddbd83f52205ULL}, /* 5^-25 */
	{0x9abe14cd44753b52ULL, 0xc4926a9672793543ULL}, /* 5^-24 */
	{0xc16d9a0095928a27ULL, 0x75b7053c0f178294ULL}, /* 5^-23 */
	{0xf1c90080baf72cb1ULL, 0x5324c68b12dd6339ULL}, /* 5^-22 */
	{0x971da05074da7beeULL, 0xd3f6fc16ebca5e04ULL}, /* 5^-21 */
	{0xbce5086492111aeaULL, 0x88f4bb1ca6bcf585ULL}, /* 5^-20 */
	{0xec1e4a7db69561a5ULL, 0x2b31e9e3d06c32e6ULL}, /* 5^-19 */
	{0x9392ee8e921d5d07ULL, 0x3aff322e62439fd0ULL}, /* 5^-18 */
	{0xb877aa3236a4b449ULL, 0x09befeb9fad487c3ULL}, /* 5^-17 */
	{0xe69594bec44de15bULL, 0x4c2ebe687989a9b4ULL}, /* 5^-16 */
	{0x901d7cf73ab0acd9ULL, 0x0f9d37014bf60a11ULL}, /* 5^-15 */
	{0xb424dc35095cd80fULL, 0x538484c19ef38c95ULL}, /* 5^-14 */
	{0xe12e13424bb40e13ULL, 0x2865a5f206b06fbaULL}, /* 5^-13 */
	{0x8cbccc096f5088cbULL, 0xf93f87b7442e45d4ULL}, /* 5^-12 */
	{0xafebff0bcb24aafeULL, 0xf78f69a51539d749ULL}, /* 5^-11 */
	{0xdbe6fecebdedd5beULL, 0xb573440e5a884d1cULL}, /* 5^-10 */
	{0x89705f4136b4a597ULL, 0x31680a88f8953031ULL}, /* 5^-9 */
	{0xabcc77118461cefcULL, 0xfdc20d2b36ba7c3eULL}, /* 5^-8 */
	{0xd6bf94d5e57a42bcULL, 0x3d32907604691b4dULL}, /* 5^-7 */
	{0x8637bd05af6c69b5ULL, 0xa63f9a49c2c1b110ULL}, /* 5^-6 */
	{0xa7c5ac471b478423ULL, 0x0fcf80dc33721d54ULL}, /* 5^-5 */
	{0xd1b71758e219652bULL, 0xd3c36113404ea4a9ULL}, /* 5^-4 */
	{0x83126e978d4fdf3bULL, 0x645a1cac083126eaULL}, /* 5^-3 */
	{0xa3d70a3d70a3d70aULL, 0x3d70a3d70a3d70a4ULL}, /* 5^-2 */
	{0xccccccccccccccccULL, 0xcccccccccccccccdULL}, /* 5^-1 */
	{0x8000000000000000ULL, 0x0000000000000000ULL}, /* 5^0 */
	{0xa000000000000000ULL, 0x0000000000000000ULL}, /* 5^1 */
	{0xc800000000000000ULL, 0x0000000000000000ULL}, /* 5^2 */
	{0xfa00000000000000ULL, 0x0000000000000000ULL}, /* 5^3 */
	{0x9c40000000000000ULL, 0x0000000000000000ULL}, /* 5^4 */
	{0xc350000000000000ULL, 0x0000000000000000ULL}, /* 5^5 */
	{0xf424000000000000ULL, 0x0000000000000000ULL}, /* 5^6 */
	{0x9896800000000000ULL, 0x0000000000000000ULL}, /* 5^7 */
	{0xbebc200000000000ULL, 0x0000000000000000ULL}, /* 5^8 */
	{0xee6b280000000000ULL, 0x0000000000000000ULL}, /* 5^9 */
	{0x9502f90000000000ULL, 0x0000000000000000ULL}, /* 5^10 */
	{0xba43b74000000000ULL, 0x0000000000000000ULL}, /* 5^11 */
	{0xe8d4a51000000000ULL, 0x0000000000000000ULL}, /* 5^12 */
	{0x9184e72a00000000ULL, 0x0000000000000000ULL}, /* 5^13 */
	{0xb5e620f480000000ULL, 0x0000000000000000ULL}, /* 5^14 */
	{0xe35fa931a0000000ULL, 0x0000000000000000ULL}, /* 5^15 */
	{0x8e1bc9bf04000000ULL, 0x0000000000000000ULL}, /* 5^16 */
	{0xb1a2bc2ec5000000ULL, 0x0000000000000000ULL}, /* 5^17 */
	{0xde0b6b3a76400000ULL, 0x0000000000000000ULL}, /* 5^18 */
	{0x8ac7230489e80000ULL, 0x0000000000000000ULL}, /* 5^19 */
	{0xad78ebc5ac620000ULL, 0x0000000000000000ULL}, /* 5^20 */
	{0xd8d726b7177a8000ULL, 0x0000000000000000ULL}, /* 5^21 */
	{0x878678326eac9000ULL, 0x0000000000000000ULL}, /* 5^22 */
	{0xa968163f0a57b400ULL, 0x0000000000000000ULL}, /* 5^23 */
	{0xd3c21bcecceda100ULL, 0x0000000000000000ULL}, /* 5^24 */
	{0x84595161401484a0ULL, 0x0000000000000000ULL}, /* 5^25 */
	{0xa56fa5b99019a5c8ULL, 0x0000000000000000ULL}, /* 5^26 */
	{0xcecb8f27f4200f3aULL, 0x0000000000000000ULL}, /* 5^27 */
	{0x813f3978f8940984ULL, 0x4000000000000000ULL}, /* 5^28 */
	{0xa18f07d736b90be5ULL, 0x5000000000000000ULL}, /* 5^29 */
	{0xc9f2c9cd04674edeULL, 0xa400000000000000ULL}, /* 5^30 */
	{0xfc6f7c4045812296ULL, 0x4d00000000000000ULL}, /* 5^31 */
	{0x9dc5ada82b70b59dULL, 0xf020000000000000ULL}, /* 5^32 */
	{0xc5371912364ce305ULL, 0x6c28000000000000ULL}, /* 5^33 */
	{0xf684df56c3e01bc6ULL, 0xc732000000000000ULL}, /* 5^34 */
	{0x9a130b963a6c115cULL, 0x3c7f400000000000ULL}, /* 5^35 */
	{0xc097ce7bc90715b3ULL, 0x4b9f100000000000ULL}, /* 5^36 */
	{0xf0bdc21abb48db20ULL, 0x1e86d40000000000ULL}, /* 5^37 */
	{0x96769950b50d88f4ULL, 0x1314448000000000ULL}, /* 5^38 */
	{0xbc143fa4e250eb31ULL, 0x17d955a000000000ULL}, /* 5^39 */
	{0xeb194f8e1ae525fdULL, 0x5dcfab0800000000ULL}, /* 5^40 */
	{0x92efd1b8d0cf37beULL, 0x5aa1cae500000000ULL}, /* 5^41 */
	{0xb7abc627050305adULL, 0xf14a3d9e40000000ULL}, /* 5^42 */
	{0xe596b7b0c643c719ULL, 0x6d9ccd05d0000000ULL}, /* 5^43 */
	{0x8f7e32ce7bea5c6fULL, 0xe4820023a2000000ULL}, /* 5^44 */
	{0xb35dbf821ae4f38bULL, 0xdda2802c8a800000ULL}, /* 5^45 */
	{0xe0352f62a19e306eULL, 0xd50b2037ad200000ULL}, /* 5^46 */
	{0x8c213d9da502de45ULL, 0x4526f422cc340000ULL}, /* 5^47 */
	{0xaf298d050e4395d6ULL, 0x9670b12b7f410000ULL}, /* 5^48 */
	{0xdaf3f04651d47b4cULL, 0x3c0cdd765f114000ULL}, /* 5^49 */
	{0x88d8762bf324cd0fULL, 0xa5880a69fb6ac800ULL}, /* 5^50 */
	{0xab0e93b6efee0053ULL, 0x8eea0d047a457a00ULL}, /* 5^51 */
	{0xd5d238a4abe98068ULL, 0x72a4904598d6d880ULL}, /* 5^52 */
	{0x85a36366eb71f041ULL, 0x47a6da2b7f864750ULL}, /* 5^53 */
	{0xa70c3c40a64e6c51ULL, 0x999090b65f67d924ULL}, /* 5^54 */
	{0xd0cf4b50cfe20765ULL, 0xfff4b4e3f741cf6dULL}, /* 5^55 */
	{0x82818f1281ed449fULL, 0xbff8f10e7a8921a4ULL}, /* 5^56 */
	{0xa321f2d7226895c7ULL, 0xaff72d52192b6a0dULL}, /* 5^57 */
	{0xcbea6f8ceb02bb39ULL, 0x9bf4f8a69f764490ULL}, /* 5^58 */
	{0xfee50b7025c36a08ULL, 0x02f236d04753d5b4ULL}, /* 5^59 */
	{0x9f4f2726179a2245ULL, 0x01d762422c946590ULL}, /* 5^60 */
	{0xc722f0ef9d80aad6ULL, 0x424d3ad2b7b97ef5ULL}, /* 5^61 */
	{0xf8ebad2b84e0d58bULL, 0xd2e0898765a7deb2ULL}, /* 5^62 */
	{0x9b934c3b330c8577ULL, 0x63cc55f49f88eb2fULL}, /* 5^63 */
	{0xc2781f49ffcfa6d5ULL, 0x3cbf6b71c76b25fbULL}, /* 5^64 */
	{0xf316271c7fc3908aULL, 0x8bef464e3945ef7aULL}, /* 5^65 */
	{0x97edd871cfda3a56ULL, 0x97758bf0e3cbb5acULL}, /* 5^66 */
	{0xbde94e8e43d0c8ecULL, 0x3d52eeed1cbea317ULL}, /* 5^67 */
	{0xed63a231d4c4fb27ULL, 0x4ca7aaa863ee4bddULL}, /* 5^68 */
	{0x945e455f24fb1cf8ULL, 0x8fe8caa93e74ef6aULL}, /* 5^69 */
	{0xb975d6b6ee39e436ULL, 0xb3e2fd538e122b44ULL}, /* 5^70 */
	{0xe7d34c64a9c85d44ULL, 0x60dbbca87196b616ULL}, /* 5^71 */
	{0x90e40fbeea1d3a4aULL, 0xbc8955e946fe31cdULL}, /* 5^72 */
	{0xb51d13aea4a488ddULL, 0x6babab6398bdbe41ULL}, /* 5^73 */
	{0xe264589a4dcdab14ULL, 0xc696963c7eed2dd1ULL}, /* 5^74 */
	{0x8d7eb76070a08aecULL, 0xfc1e1de5cf543ca2ULL}, /* 5^75 */
	{0xb0de65388cc8ada8ULL, 0x3b25a55f43294bcbULL}, /* 5^76 */
	{0xdd15fe86affad912ULL, 0x49ef0eb713f39ebeULL}, /* 5^77 */
	{0x8a2dbf142dfcc7abULL, 0x6e3569326c784337ULL}, /* 5^78 */
	{0xacb92ed9397bf996ULL, 0x49c2c37f07965404ULL}, /* 5^79 */
	{0xd7e77a8f87daf7fbULL, 0xdc33745ec97be906ULL}, /* 5^80 */
};

static const double lp_pow10[23] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/*
 * Eisel-Lemire: the double nearest to w * 10^q, for w != 0 and q in
 * [LP_POW5_MIN, LP_POW5_MAX] (so the result is normal and finite). Returns
 * false in the rare case where 128 bits do not settle the rounding.
 */
static bool lp_eisel_lemire(uint64_t w, int q, bool neg, double *out)
{
	const uint64_t *pw = lp_pow5[q - LP_POW5_MIN];
	const uint64_t precision_mask = UINT64_MAX >> 55; /* 52 bits + 3 */
	int lz = __builtin_clzll(w);
	unsigned __int128 prod;
	uint64_t hi, lo, mant, bits;
	int upperbit, shift;
	int32_t power2;

	w <<= lz;
	prod = (unsigned __int128)w * pw[0];
	hi = (uint64_t)(prod >> 64);
	lo = (uint64_t)prod;
	if ((hi & precision_mask) == precision_mask) {
		uint64_t second_hi = (uint64_t)(((unsigned __int128)w * pw[1]) >> 64);

		lo += second_hi;
		if (second_hi > lo)
			hi++;
	}
	if (lo == UINT64_MAX && (q < -27 || q > 55))
		return false;
	upperbit = (int)(hi >> 63);
	shift = upperbit + 64 - 52 - 3;
	mant = hi >> shift;
	power2 = (int32_t)((((152170 + 65536) * q) >> 16) + 63 + upperbit - lz + 1023);
	if (power2 <= 0 || power2 >= 0x7ff)
		return false;
	/* Exactly halfway between two doubles: round to even. */
	if (lo <= 1 && q >= -4 && q <= 23 && (mant & 3) == 1 && (mant << shift) == hi)
		mant &= ~(uint64_t)1;
	mant += mant & 1;
	mant >>= 1;
	if (mant >= ((uint64_t)2 << 52)) {
		mant = (uint64_t)1 << 52;
		power2++;
	}
	mant &= ~((uint64_t)1 << 52);
	if (power2 >= 0x7ff)
		return false;
	bits = mant | ((uint64_t)power2 << 52) | ((uint64_t)neg << 63);
	memcpy(out, &bits, sizeof bits);
	return true;
}

/* strtod_l over a NUL-terminated copy of the token (the buffer is not terminated). */
static int lp_strtod(ingest_lp_parser *p, const char *tok, size_t n, double *out)
{
	char local[128];
	char *copy = local;

	if (n >= sizeof local) {
		if (n >= p->scratch_cap) {
			char *grown = strata_realloc(p->scratch, n + 1);

			if (!grown)
				return -ENOMEM;
			p->scratch = grown;
			p->scratch_cap = (uint32_t)(n + 1);
		}
		copy = p->scratch;
	}
	memcpy(copy, tok, n);
	copy[n] = '\0';
	*out = lp_c_locale ? strtod_l(copy, NULL, lp_c_locale) : strtod(copy, NULL);
	return 0;
}

/*
 * Whether the 8 bytes of v (loaded little-endian) are all ASCII digits, and
 * their value: the SWAR conversion of fast_float, 8 digits in a few multiplies.
 */
static inline bool lp_is_8digits(uint64_t v)
{
	return ((v & 0xf0f0f0f0f0f0f0f0ULL) |
		(((v + 0x0606060606060606ULL) & 0xf0f0f0f0f0f0f0f0ULL) >> 4)) == 0x3333333333333333ULL;
}

static inline uint32_t lp_8digits(uint64_t v)
{
	const uint64_t mask = 0x000000ff000000ffULL;
	const uint64_t mul1 = 0x000f424000000064ULL; /* 100 + (1000000 << 32) */
	const uint64_t mul2 = 0x0000271000000001ULL; /* 1 + (10000 << 32) */

	v -= 0x3030303030303030ULL;
	v = v * 10 + (v >> 8);
	return (uint32_t)((((v & mask) * mul1) + (((v >> 16) & mask) * mul2)) >> 32);
}

/*
 * Reads the decimal digits at s[*ip], appending them to *w, and returns how
 * many there were. *w is exact while it holds at most 19 digits; past that it
 * wraps, and the caller, which knows the count, does not use it.
 */
static inline size_t lp_read_digits(const char *s, size_t len, size_t *ip, uint64_t *w)
{
	size_t i = *ip, start = i;
	uint64_t v = *w;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	while (len - i >= 8) {
		uint64_t chunk;

		memcpy(&chunk, s + i, sizeof chunk);
		if (!lp_is_8digits(chunk))
			break;
		v = v * 100000000 + lp_8digits(chunk);
		i += 8;
	}
#endif
	while (i < len && lp_digit(s[i])) {
		v = v * 10 + (unsigned)(s[i] - '0');
		i++;
	}
	*w = v;
	*ip = i;
	return i - start;
}

/* The value of the n <= 20 digits at s, or false when it is above UINT64_MAX. */
static bool lp_u64_checked(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	for (size_t k = 0; k < n; k++) {
		unsigned dg = (unsigned)(s[k] - '0');

		if (v > (UINT64_MAX - dg) / 10)
			return false;
		v = v * 10 + dg;
	}
	*out = v;
	return true;
}

enum lp_num_rc { LP_NUM_OK, LP_NUM_SYNTAX, LP_NUM_RANGE, LP_NUM_NEG_UNSIGNED, LP_NUM_NOMEM };

/*
 * Parses the number at s[*ip] (a float, or an integer with an 'i' or 'u'
 * suffix) up to ',' or ' ' or the end of the line, into f. On success *ip is
 * after the number.
 */
static enum lp_num_rc lp_parse_number(ingest_lp_parser *p, const char *s, size_t len, size_t *ip,
				      ingest_lp_field *f)
{
	size_t i = *ip, start = i, int_start, sig_start, n_int, n_sig, n_frac = 0;
	bool neg = false, exp_neg = false;
	uint64_t w = 0;
	int64_t e = 0, q;
	double d;

	if (i < len && s[i] == '-') {
		neg = true;
		i++;
	}
	/* Integer part: w holds its significant digits (exact up to 19). */
	int_start = i;
	while (i < len && s[i] == '0')
		i++;
	sig_start = i;
	n_sig = lp_read_digits(s, len, &i, &w);
	n_int = i - int_start;
	if (n_int && i < len && (s[i] == 'i' || s[i] == 'u') &&
	    (i + 1 == len || (lp_class[(unsigned char)s[i + 1]] & CL_END))) {
		bool fits = n_sig <= 19 || (n_sig == 20 && lp_u64_checked(s + sig_start, 20, &w));

		if (s[i] == 'i') {
			uint64_t lim = neg ? (uint64_t)1 << 63 : ((uint64_t)1 << 63) - 1;

			if (!fits || w > lim)
				return LP_NUM_RANGE;
			f->type = INGEST_LP_INT;
			f->v.i = neg ? (int64_t)(0 - w) : (int64_t)w;
		} else {
			if (neg)
				return LP_NUM_NEG_UNSIGNED;
			if (!fits)
				return LP_NUM_RANGE;
			f->type = INGEST_LP_UINT;
			f->v.u = w;
		}
		*ip = i + 1;
		return LP_NUM_OK;
	}
	/* A float: [-](digits[.digits*] | .digits)[(e|E)[+|-]digits] = w * 10^q */
	if (i < len && s[i] == '.') {
		size_t frac_start = ++i;

		if (n_sig == 0) {
			while (i < len && s[i] == '0')
				i++; /* leading zeros only move the decimal point */
		}
		n_sig += lp_read_digits(s, len, &i, &w);
		n_frac = i - frac_start;
	}
	if (n_int + n_frac == 0)
		return LP_NUM_SYNTAX;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		size_t n_exp = 0;

		i++;
		if (i < len && (s[i] == '+' || s[i] == '-')) {
			exp_neg = s[i] == '-';
			i++;
		}
		while (i < len && lp_digit(s[i])) {
			if (e < 100000)
				e = e * 10 + (s[i] - '0');
			n_exp++;
			i++;
		}
		if (n_exp == 0)
			return LP_NUM_SYNTAX;
	}
	if (i < len && !(lp_class[(unsigned char)s[i]] & CL_END))
		return LP_NUM_SYNTAX;

	q = (exp_neg ? -e : e) - (int64_t)n_frac;
	if (n_sig > 19) {
		goto slow;
	} else if (w == 0) {
		d = neg ? -0.0 : 0.0;
	} else if (w <= ((uint64_t)1 << 53) && q >= -22 && q <= 22) {
		d = (double)w;
		d = q < 0 ? d / lp_pow10[-q] : d * lp_pow10[q];
		if (neg)
			d = -d;
	} else if (q < LP_POW5_MIN || q > LP_POW5_MAX || !lp_eisel_lemire(w, (int)q, neg, &d)) {
		goto slow;
	}
	goto done;
slow:
	if (lp_strtod(p, s + start, i - start, &d))
		return LP_NUM_NOMEM;
	if (isinf(d))
		return LP_NUM_RANGE;
done:
	f->type = INGEST_LP_FLOAT;
	f->v.f = d;
	*ip = i;
	return LP_NUM_OK;
}

/* ---- one line ----------------------------------------------------------- */

static const int64_t lp_precision_ns[] = {
	[INGEST_LP_NS] = 1,
	[INGEST_LP_US] = 1000,
	[INGEST_LP_MS] = 1000000,
	[INGEST_LP_S] = 1000000000,
	[INGEST_LP_M] = 60000000000LL,
	[INGEST_LP_H] = 3600000000000LL,
};

/* The string value whose opening quote is at s[*ip]. */
static int lp_parse_string(const struct lp_line *l, size_t *ip, ingest_lp_field *f)
{
	const char *s = l->s;
	size_t len = l->len, open = *ip, i = open + 1, n_escapes = 0, n;
	bool escaped = false;

	for (;;) {
		unsigned char c;

		while (i < len && !(lp_class[(unsigned char)s[i]] & CL_STR))
			i++;
		if (i >= len)
			return lp_fail(l, open, "unterminated string");
		c = (unsigned char)s[i];
		if (c == '"')
			break;
		if (c == '\\') {
			if (i + 1 < len && (s[i + 1] == '"' || s[i + 1] == '\\')) {
				escaped = true;
				n_escapes++;
				i += 2;
			} else {
				i++;
			}
			continue;
		}
		n = lp_utf8_seq((const unsigned char *)s + i, len - i);
		if (n == 0)
			return lp_fail(l, i, "invalid UTF-8 in string field value");
		i += n;
	}
	n = i - open - 1;
	if (n - n_escapes > l->p->limits.max_string_bytes)
		return lp_fail(l, open, "string field value longer than %u bytes",
			       l->p->limits.max_string_bytes);
	i++; /* the closing quote */
	if (i < len && s[i] != ',' && s[i] != ' ')
		return lp_fail(l, i, "unexpected character after string field value");
	f->type = INGEST_LP_STRING;
	f->v.u = 0;
	f->str.p = s + open + 1;
	f->str.len = (uint32_t)n;
	f->str.escaped = escaped;
	*ip = i;
	return 0;
}

static int lp_parse_bool(const struct lp_line *l, size_t *ip, ingest_lp_field *f)
{
	static const struct {
		const char *text;
		uint8_t len;
		bool value;
	} words[] = {
		{ "t", 1, true }, { "T", 1, true }, { "true", 4, true }, { "True", 4, true }, { "TRUE", 4, true },
		{ "f", 1, false }, { "F", 1, false }, { "false", 5, false }, { "False", 5, false }, { "FALSE", 5, false },
	};
	const char *s = l->s;
	size_t i = *ip, start = i;

	while (i < l->len && !(lp_class[(unsigned char)s[i]] & CL_END))
		i++;
	for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) {
		if (words[k].len == i - start && memcmp(words[k].text, s + start, i - start) == 0) {
			f->type = INGEST_LP_BOOL;
			f->v.b = words[k].value;
			*ip = i;
			return 0;
		}
	}
	return lp_fail(l, start, "invalid boolean field value");
}

static int lp_parse_value(const struct lp_line *l, size_t *ip, ingest_lp_field *f)
{
	char c = l->s[*ip];
	size_t start = *ip;

	if (c == '"')
		return lp_parse_string(l, ip, f);
	if (c == 't' || c == 'T' || c == 'f' || c == 'F')
		return lp_parse_bool(l, ip, f);
	switch (lp_parse_number(l->p, l->s, l->len, ip, f)) {
	case LP_NUM_OK:
		return 0;
	case LP_NUM_SYNTAX:
		return lp_fail(l, start, "invalid field value");
	case LP_NUM_RANGE:
		return lp_fail(l, start, "field value out of range");
	case LP_NUM_NEG_UNSIGNED:
		return lp_fail(l, start, "negative unsigned integer field value");
	case LP_NUM_NOMEM:
		return lp_fail(l, start, "out of memory");
	}
	return lp_fail(l, start, "invalid field value");
}

static int lp_parse_time(const struct lp_line *l, size_t i, ingest_lp_point *out)
{
	const char *s = l->s;
	size_t len = l->len, start = i, digits_start, n_sig;
	bool neg = false;
	uint64_t t = 0, lim;
	int64_t v;

	if (s[i] == '-') {
		neg = true;
		i++;
	}
	digits_start = i;
	while (i < len && s[i] == '0')
		i++;
	n_sig = lp_read_digits(s, len, &i, &t);
	if (i == digits_start || (i < len && s[i] != ' '))
		return lp_fail(l, start, "invalid timestamp");
	while (i < len && s[i] == ' ')
		i++;
	if (i < len)
		return lp_fail(l, i, "unexpected text after timestamp");
	/* 19 digits are below 2^64: exact; more are out of range for any sign. */
	lim = neg ? (uint64_t)1 << 63 : ((uint64_t)1 << 63) - 1;
	if (n_sig > 19 || t > lim)
		return lp_fail(l, start, "timestamp out of range");
	v = neg ? (int64_t)(0 - t) : (int64_t)t;
	if (__builtin_mul_overflow(v, lp_precision_ns[l->p->precision], &v))
		return lp_fail(l, start, "timestamp out of range in nanoseconds");
	out->has_time = true;
	out->time_ns = v;
	return 0;
}

/* Parses the line l, whose first non-blank byte is at offset i. */
static int lp_parse_line(const struct lp_line *l, size_t i, ingest_lp_point *out)
{
	ingest_lp_parser *p = l->p;
	const char *s = l->s;
	size_t len = l->len, start = i;
	const char *why;
	uint32_t n_tags = 0, n_fields = 0, n_seen = 0;
	bool dropped_time = false;

	/* Measurement. */
	why = lp_scan_name(s, len, &i, CL_MEAS, &out->measurement);
	if (why)
		return lp_fail(l, i, "%s in measurement", why);
	if (out->measurement.len == 0)
		return lp_fail(l, i, "missing measurement");

	/* Tag set. */
	while (i < len && s[i] == ',') {
		ingest_lp_tag *t;
		size_t at = ++i;

		if (n_tags == p->limits.max_tags)
			return lp_fail(l, at, "more than %u tags", p->limits.max_tags);
		if (n_tags == p->tags_cap) {
			ingest_lp_tag *grown = lp_grow(p->tags, &p->tags_cap, p->limits.max_tags, sizeof *p->tags);

			if (!grown)
				return lp_fail(l, at, "out of memory");
			p->tags = grown;
		}
		t = &p->tags[n_tags];
		why = lp_scan_name(s, len, &i, CL_KEY, &t->key);
		if (why)
			return lp_fail(l, i, "%s in tag key", why);
		if (t->key.len == 0)
			return lp_fail(l, at, "missing tag key");
		if (i >= len || s[i] != '=')
			return lp_fail(l, i, "missing '=' after tag key");
		if (lp_is_time(&t->key))
			return lp_fail(l, at, "invalid tag key 'time'");
		at = ++i;
		why = lp_scan_name(s, len, &i, CL_KEY, &t->value);
		if (why)
			return lp_fail(l, i, "%s in tag value", why);
		if (t->value.len == 0)
			return lp_fail(l, at, "missing tag value");
		if (i < len && s[i] == '=')
			return lp_fail(l, i, "unescaped '=' in tag value");
		n_tags++;
	}
	out->series.p = s + start;
	out->series.len = (uint32_t)(i - start);
	out->series.escaped = false;

	/* Field set, after one or more spaces. */
	while (i < len && s[i] == ' ')
		i++;
	if (i >= len)
		return lp_fail(l, i, "missing fields");
	for (;;) {
		ingest_lp_field *f;
		size_t at = i;

		/* Every field counts toward the limit, a dropped "time" one too. */
		if (n_seen == p->limits.max_fields)
			return lp_fail(l, at, "more than %u fields", p->limits.max_fields);
		n_seen++;
		if (n_fields == p->fields_cap) {
			ingest_lp_field *grown = lp_grow(p->fields, &p->fields_cap, p->limits.max_fields,
							 sizeof *p->fields);

			if (!grown)
				return lp_fail(l, at, "out of memory");
			p->fields = grown;
		}
		f = &p->fields[n_fields];
		why = lp_scan_name(s, len, &i, CL_KEY, &f->key);
		if (why)
			return lp_fail(l, i, "%s in field key", why);
		if (f->key.len == 0)
			return lp_fail(l, at, "missing field key");
		if (i >= len || s[i] != '=')
			return lp_fail(l, i, "missing '=' after field key");
		i++;
		if (i >= len || s[i] == ',' || s[i] == ' ')
			return lp_fail(l, i, "missing field value");
		f->str.p = NULL;
		f->str.len = 0;
		f->str.escaped = false;
		if (lp_parse_value(l, &i, f))
			return -1;
		if (lp_is_time(&f->key))
			dropped_time = true; /* as InfluxDB: a field named time is dropped */
		else
			n_fields++;
		if (i >= len || s[i] == ' ')
			break;
		i++; /* ',' */
		if (i >= len || s[i] == ' ')
			return lp_fail(l, i, "missing field key");
	}
	if (n_fields == 0 && dropped_time)
		return lp_fail(l, start, "invalid field name 'time'");

	/* Optional timestamp, after one or more spaces; trailing spaces ignored. */
	while (i < len && s[i] == ' ')
		i++;
	out->has_time = false;
	out->time_ns = 0;
	if (i < len && lp_parse_time(l, i, out))
		return -1;

	out->tags = p->tags;
	out->n_tags = n_tags;
	out->fields = p->fields;
	out->n_fields = n_fields;
	out->line = l->line_no;
	return 0;
}

int ingest_lp_parser_next(ingest_lp_parser *p, ingest_lp_point *out, ingest_lp_error *err)
{
	while (p->pos < p->len) {
		const char *s = p->buf + p->pos;
		size_t rest = p->len - p->pos;
		const char *nl = memchr(s, '\n', rest);
		size_t len = nl ? (size_t)(nl - s) : rest;
		struct lp_line l = { .p = p, .s = s, .len = len, .line_no = p->line, .err = err };
		size_t i = 0;

		p->pos += nl ? len + 1 : len;
		p->line++;
		if (l.len && s[l.len - 1] == '\r')
			l.len--;
		while (i < l.len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == l.len || s[i] == '#')
			continue; /* blank line or comment */
		if (l.len > p->limits.max_line_bytes) {
			lp_fail(&l, p->limits.max_line_bytes, "line longer than %u bytes",
				p->limits.max_line_bytes);
			return -1;
		}
		return lp_parse_line(&l, i, out) ? -1 : 1;
	}
	return 0;
}
