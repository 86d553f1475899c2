/*
 * output.c — InfluxDB 1.x /query responses as JSON or CSV (output.h).
 *
 * InfluxDB builds the whole Response in memory and marshals it with Go's
 * encoding/json or encoding/csv; this writer streams the same bytes instead,
 * so that a large result never has to be held at once. The JSON side is a
 * small state machine that knows which separators and closing brackets are
 * due; the CSV side mirrors csvFormatter's header rules (header per
 * statement, again when the columns change). Go's number and string
 * formatting is reproduced here: floats take the shortest %.*e precision
 * that reads back to the same double (the digits Go's strconv chooses), then
 * are laid out in Go's 'f' or 'e' form; strings are checked as UTF-8 the way
 * Go decodes runes.
 *
 * The table format lays each series out as the influx CLI's "column" format
 * does (Go's text/tabwriter with padding 1): its cells are kept until the
 * series ends, since a column is as wide as its widest cell.
 *
 * Everything goes through one fixed buffer flushed to the caller's sink when
 * full; the sink's first failure is kept and returned from then on.
 *
 * Chunked JSON follows InfluxDB 1.x: query/emitter.go (Emitter.Emit: a
 * series is cut when the next row of the same series finds chunkSize rows
 * already, the cut row marked Partial; the emitted row's "more to come"
 * flag becomes Result.Partial), coordinator/statement_executor.go (one
 * Result per emitted row, at least one per statement),
 * services/httpd/handler.go (each Result its own Response, written and
 * flushed) and models/rows.go, query/result.go for where "partial" goes
 * (after "values" in the series, after "series" in the result). Whether a
 * chunk is partial depends on what comes next, so a chunk document is left
 * open, its closing brackets unwritten, until the next call decides them.
 */
#include "query/output.h"

#include "lsm/alloc.h"
#include "lsm/status.h"

#include <errno.h>
#include <inttypes.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUT_BUF_BYTES 65536

enum out_state {
	ST_NEW = 0,     /* nothing written */
	ST_RESULTS,     /* between statements */
	ST_STATEMENT,   /* inside a statement, outside a series */
	ST_SERIES,      /* inside a series */
	ST_DONE,        /* response ended */
};

struct query_output {
	enum query_output_format format;
	enum query_output_epoch epoch;
	query_output_write_fn write;
	void *ctx;
	int sink_rc; /* the sink's first failure, sticky */
	enum out_state state;

	size_t n_statements; /* statements begun */
	size_t n_series;     /* series of the current statement */
	size_t n_rows;       /* rows of the current series; JSON: SIZE_MAX while the
			      * series object has no member yet (no leading comma) */
	bool stmt_error;     /* the current statement has its error */
	bool time_column;
	size_t n_columns;

	/* CSV */
	bool csv_any_stmt; /* a statement with series was written */
	char **csv_cols;   /* columns of the previous series of the statement */
	size_t n_csv_cols;
	char *csv_prefix; /* "name,tags" of the current series, CSV-encoded */
	size_t csv_prefix_len, csv_prefix_cap;

	/* pretty JSON: the re-indenter's state */
	bool pretty;
	bool in_string, escape, open_pending;
	size_t depth;

	bool chunked;     /* JSON: documents per statement or chunk; CSV: flushed per chunk */
	size_t n_errors;  /* statement and request errors written */

	/* chunked: documents of at most chunk_rows rows (0: one per statement) */
	size_t chunk_rows;
	query_output_split_fn split; /* which statements are cut in chunks; NULL: all */
	void *split_ctx;
	bool split_stmt;      /* the current statement is written in chunks */
	int stmt_id;
	size_t n_stmt_docs;   /* documents written for the current statement */
	bool doc_open;        /* a chunk document is open, its closing brackets due */
	size_t n_csv_rows;    /* CSV: rows since the last flush */
	bool at_boundary;     /* what the sink has ends a document (query_output_at_boundary) */
	bool capture;         /* put() appends to head instead of the output */
	char *head;           /* the current series' {"name":...,"columns":[...] (compact) */
	size_t head_len, head_cap;
	bool head_empty;      /* head has no member yet */
	int head_rc;

	/* table: the cells of the current series, row after row */
	bool tbl_any;      /* a block (series or error) was written: blank line before the next */
	char *tbl_text;    /* cell texts, back to back */
	size_t tbl_len, tbl_cap;
	size_t *tbl_ends;  /* end offset in tbl_text of each cell */
	size_t n_tbl_cells, tbl_cells_cap;
	size_t *tbl_width; /* per column: widest cell, in code points */
	int tbl_rc;        /* -ENOMEM while gathering the series */

	size_t len;
	char buf[OUT_BUF_BYTES];
};

/* ---- buffer ---- */

int query_output_flush(query_output *o)
{
	int rc;

	if (o->sink_rc)
		return o->sink_rc;
	if (o->len == 0)
		return 0;
	rc = o->write(o->ctx, o->buf, o->len);
	o->len = 0;
	if (rc)
		o->sink_rc = rc;
	return rc;
}

/* Flushes bytes that end a document: the sink may take the response as ending here. */
static int flush_doc(query_output *o)
{
	int rc = query_output_flush(o);

	if (rc == 0)
		o->at_boundary = true;
	return rc;
}

/* Flushes bytes inside a document. */
static int flush_part(query_output *o)
{
	o->at_boundary = false;
	return query_output_flush(o);
}

bool query_output_at_boundary(const query_output *o)
{
	return o->at_boundary;
}

static void put_raw(query_output *o, const char *p, size_t n)
{
	while (n > 0 && !o->sink_rc) {
		size_t room = OUT_BUF_BYTES - o->len;
		size_t k = n < room ? n : room;

		memcpy(o->buf + o->len, p, k);
		o->len += k;
		p += k;
		n -= k;
		if (o->len == OUT_BUF_BYTES)
			flush_part(o);
	}
}

static void put_indent(query_output *o)
{
	static const char spaces[] = "                                ";

	put_raw(o, "\n", 1);
	for (size_t i = 0; i < o->depth; i++)
		put_raw(o, spaces, 4);
}

/*
 * Re-indents the compact JSON passing through as Go's json.Indent(dst, src,
 * "", "    ") does for MarshalIndent: a newline and 4 spaces per level after
 * each opening bracket and comma, before each closing bracket, ": " after
 * keys, empty [] and {} kept on one line.
 */
static void put_pretty(query_output *o, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (o->in_string) {
			put_raw(o, &c, 1);
			if (o->escape)
				o->escape = false;
			else if (c == '\\')
				o->escape = true;
			else if (c == '"')
				o->in_string = false;
			continue;
		}
		if (o->open_pending) {
			o->open_pending = false;
			if (c == '}' || c == ']') {
				o->depth--;
				put_raw(o, &c, 1);
				continue;
			}
			put_indent(o);
		}
		switch (c) {
		case '"':
			o->in_string = true;
			put_raw(o, &c, 1);
			break;
		case '{':
		case '[':
			put_raw(o, &c, 1);
			o->depth++;
			o->open_pending = true;
			break;
		case ',':
			put_raw(o, &c, 1);
			put_indent(o);
			break;
		case ':':
			put_raw(o, ": ", 2);
			break;
		case '}':
		case ']':
			o->depth--;
			put_indent(o);
			put_raw(o, &c, 1);
			break;
		default:
			put_raw(o, &c, 1);
			break;
		}
	}
}

static void append(char **buf, size_t *len, size_t *cap, const char *s, size_t n, int *rc);

static void put_slow(query_output *o, const char *p, size_t n)
{
	if (o->capture)
		append(&o->head, &o->head_len, &o->head_cap, p, n, &o->head_rc);
	else if (o->pretty)
		put_pretty(o, p, n);
	else
		put_raw(o, p, n);
}

/* Most pieces are a few bytes that fit the buffer as it is: those take no call. */
static inline void put(query_output *o, const char *p, size_t n)
{
	if (!o->capture && !o->pretty && !o->sink_rc && n < OUT_BUF_BYTES - o->len) {
		memcpy(o->buf + o->len, p, n);
		o->len += n;
		return;
	}
	put_slow(o, p, n);
}

static void puts_(query_output *o, const char *s)
{
	put(o, s, strlen(s));
}

static void putc_(query_output *o, char c)
{
	put(o, &c, 1);
}

/* ---- numbers as Go formats them ---- */

/* Digits of d (no trailing zeros) into digits; their count. */
static size_t integer_digits(uint64_t d, char *digits)
{
	char rev[24];
	size_t n = 0, k = 0;

	do {
		rev[n++] = (char)('0' + (int)(d % 10));
		d /= 10;
	} while (d);
	while (k < n && rev[k] == '0')
		k++; /* trailing zeros of the number are the first digits of rev */
	for (size_t i = 0; i < n - k; i++)
		digits[i] = rev[n - 1 - i];
	return n - k;
}

/* 10^k for 0 <= k <= 22. */
static unsigned __int128 pow10_u128(int k)
{
	static const uint64_t small[20] = {
		1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull,
		1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull,
		100000000000000ull, 1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
		1000000000000000000ull, 10000000000000000000ull,
	};

	if (k < 20)
		return small[k];
	return (unsigned __int128)small[19] * small[k - 19];
}

/*
 * The fast, exact path of shortest_digits for positive normal f below 2^53
 * and from about 1e-6: f = m * 2^-s with s >= 0, so f * 10^k is m * 10^k
 * / 2^s, and for k <= 22 the product fits in 128 bits. The correctly
 * rounded n-digit decimal D and its exact distance to f follow from the
 * quotient and remainder; D reads back to f when that distance is within
 * half an ulp (ties to even, as strtod rounds; a quarter below a power of
 * two, where the gap below is half as wide). False when f is outside the
 * range, for the slow path.
 */
static bool shortest_digits_exact(double f, char *digits, size_t *n_digits, int *exp10)
{
	uint64_t bits, m;
	int e2, p, s, fixes = 0;

	if (!(f >= DBL_MIN))
		return false;
	/* f = m * 2^(e2 - 53) with m of 53 bits, read off its representation (normal f). */
	memcpy(&bits, &f, sizeof bits);
	m = (bits & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1) << 52);
	e2 = (int)((bits >> 52) & 0x7ff) - 1022;
	s = 53 - e2;
	if (s < 0 || s > 120)
		return false;
	/*
	 * f lies in [2^(e2-1), 2^e2): floor(log10 f) is floor((e2 - 1) log10 2)
	 * or one more (78913 / 2^18 is log10 2 closely enough for these
	 * exponents; the shift floors negative values too); one too small is
	 * corrected below.
	 */
	p = ((e2 - 1) * 78913) >> 18;
	for (int n = 15; n <= 17; n++) {
		int k = n - 1 - p;
		unsigned __int128 scaled, q, r, half, lo, hi, d, dist;
		bool below;

		if (k < 0 || k > 22)
			return false;
		scaled = (unsigned __int128)m * pow10_u128(k);
		q = scaled >> s;
		r = scaled - (q << s);
		lo = pow10_u128(n - 1);
		hi = lo * 10;
		if (q < lo || q >= hi) {
			/* log10 was off by one at a power of ten: correct p and retry. */
			p += q >= hi ? 1 : -1;
			if (n > 15 || ++fixes > 2)
				return false;
			n = 14;
			continue;
		}
		/* Round q + r/2^s to the nearest integer, ties to even. */
		half = (unsigned __int128)1 << (s ? s - 1 : 0);
		if (s && (r > half || (r == half && (q & 1))))
			d = q + 1;
		else
			d = q;
		below = (d << s) < scaled;
		dist = below ? scaled - (d << s) : (d << s) - scaled;
		/*
		 * Reads back to f when dist is below half an ulp, 10^k / 2 in
		 * these units (a quarter below a power of two); a tie goes to the
		 * even mantissa. 17 digits always read back.
		 */
		{
			unsigned __int128 bound = pow10_u128(k);

			if (below && m == ((uint64_t)1 << 52))
				bound /= 2;
			if (n < 17 && !(2 * dist < bound || (2 * dist == bound && (m & 1) == 0)))
				continue;
			if (d == hi) { /* rounded up to 10^n */
				digits[0] = '1';
				*n_digits = 1;
				*exp10 = p + 1;
			} else {
				*n_digits = integer_digits((uint64_t)d, digits);
				*exp10 = p;
			}
			return true;
		}
	}
	return false;
}

/*
 * The shortest decimal digits of finite, nonzero-or-zero f that read back
 * to f: digits (no sign, no trailing zeros, at least one) and the exponent
 * of the first digit (f = d.ddd * 10^exp).
 */
static void shortest_digits(double f, char *digits, size_t *n_digits, int *exp10)
{
	char tmp[40];
	int prec;

	if (shortest_digits_exact(fabs(f), digits, n_digits, exp10))
		return;
	/*
	 * A decimal of at most 15 significant digits survives a trip through
	 * a double, so when f's 15-digit rounding reads back to f, that
	 * rounding without its trailing zeros is the shortest form. Otherwise
	 * 16 digits, else 17 (which always read back): three tries at most.
	 * Subnormals carry fewer bits, so shorter forms exist: every length
	 * is tried for them.
	 */
	for (prec = fabs(f) < DBL_MIN ? 0 : 14; prec < 16; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec, f);
		if (strtod(tmp, NULL) == f)
			break;
	}
	if (prec == 16)
		snprintf(tmp, sizeof(tmp), "%.*e", 16, f);

	const char *p = tmp;
	size_t n = 0;

	if (*p == '-')
		p++;
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[n++] = *p;
	*exp10 = (*p == 'e') ? atoi(p + 1) : 0;
	while (n > 1 && digits[n - 1] == '0')
		n--;
	*n_digits = n;
}

/*
 * Formats f as Go's strconv.FormatFloat(f, 'f', -1, 64), or, when json, as
 * encoding/json does ('e' form below 1e-6 and from 1e21, e-07 trimmed to
 * e-7). f must be finite. Returns the length written at out (>= 400 bytes).
 */
static size_t format_float(char *out, double f, bool json)
{
	char digits[24];
	size_t n, len = 0;
	int x;
	double a = fabs(f);

	shortest_digits(f, digits, &n, &x);
	if (signbit(f))
		out[len++] = '-';
	if (f == 0) {
		out[len++] = '0';
		return len;
	}
	if (json && (a < 1e-6 || a >= 1e21)) {
		out[len++] = digits[0];
		if (n > 1) {
			out[len++] = '.';
			memcpy(out + len, digits + 1, n - 1);
			len += n - 1;
		}
		if (x < 0)
			len += (size_t)sprintf(out + len, "e-%d", -x);
		else
			len += (size_t)sprintf(out + len, "e+%02d", x);
		return len;
	}
	if (x >= 0) {
		if ((size_t)x >= n - 1) {
			memcpy(out + len, digits, n);
			len += n;
			for (size_t i = 0; i < (size_t)x - (n - 1); i++)
				out[len++] = '0';
		} else {
			memcpy(out + len, digits, (size_t)x + 1);
			len += (size_t)x + 1;
			out[len++] = '.';
			memcpy(out + len, digits + x + 1, n - (size_t)x - 1);
			len += n - (size_t)x - 1;
		}
	} else {
		out[len++] = '0';
		out[len++] = '.';
		for (int i = 0; i < -x - 1; i++)
			out[len++] = '0';
		memcpy(out + len, digits, n);
		len += n;
	}
	return len;
}

static int64_t epoch_divisor(enum query_output_epoch e)
{
	switch (e) {
	case QUERY_EPOCH_US:
		return INT64_C(1000);
	case QUERY_EPOCH_MS:
		return INT64_C(1000000);
	case QUERY_EPOCH_S:
		return INT64_C(1000000000);
	case QUERY_EPOCH_M:
		return INT64_C(60000000000);
	case QUERY_EPOCH_H:
		return INT64_C(3600000000000);
	default:
		return 1;
	}
}

/* time_ns as Go's time.RFC3339Nano in UTC; returns the length (< 40). */
static size_t format_rfc3339(char *out, int64_t t)
{
	int64_t secs = t / 1000000000, frac = t % 1000000000;
	int64_t days, sod, z, era, doe, yoe, y, doy, mp, d, m;
	size_t len;

	if (frac < 0) {
		frac += 1000000000;
		secs--;
	}
	days = secs / 86400;
	sod = secs % 86400;
	if (sod < 0) {
		sod += 86400;
		days--;
	}
	/* civil_from_days (H. Hinnant) */
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	if (m <= 2)
		y++;
	len = (size_t)sprintf(out, "%04d-%02d-%02dT%02d:%02d:%02d", (int)y, (int)m, (int)d,
			      (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
	if (frac) {
		char f[16];
		int n = 9;

		sprintf(f, "%09d", (int)frac);
		while (n > 0 && f[n - 1] == '0')
			n--;
		out[len++] = '.';
		memcpy(out + len, f, (size_t)n);
		len += (size_t)n;
	}
	out[len++] = 'Z';
	return len;
}

/* ---- JSON strings ---- */

/*
 * Decodes one rune at p (n > 0 bytes) as Go's utf8.DecodeRune: returns its
 * length, or 0 for an invalid sequence (Go's RuneError of width 1).
 */
static size_t utf8_rune(const unsigned char *p, size_t n, uint32_t *r)
{
	unsigned char c = p[0];

	if (c < 0x80) {
		*r = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		if (n < 2 || (p[1] & 0xc0) != 0x80)
			return 0;
		*r = ((uint32_t)(c & 0x1f) << 6) | (p[1] & 0x3f);
		return 2;
	}
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = 0x80, hi = 0xbf;

		if (c == 0xe0)
			lo = 0xa0;
		if (c == 0xed)
			hi = 0x9f;
		if (n < 3 || p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80)
			return 0;
		*r = ((uint32_t)(c & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = 0x80, hi = 0xbf;

		if (c == 0xf0)
			lo = 0x90;
		if (c == 0xf4)
			hi = 0x8f;
		if (n < 4 || p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		*r = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(p[1] & 0x3f) << 12) |
		     ((uint32_t)(p[2] & 0x3f) << 6) | (p[3] & 0x3f);
		return 4;
	}
	return 0;
}

static void json_string(query_output *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, start = 0;

	if (n == 0) {
		put(o, "\"\"", 2);
		return;
	}
	putc_(o, '"');
	while (i < n) {
		unsigned char c = p[i];
		char esc[8];
		const char *rep = NULL;
		size_t rep_len = 0, adv = 1;
		uint32_t r;

		if (c < 0x80) {
			if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
				i++;
				continue;
			}
			switch (c) {
			case '"':
				rep = "\\\"";
				break;
			case '\\':
				rep = "\\\\";
				break;
			case '\n':
				rep = "\\n";
				break;
			case '\r':
				rep = "\\r";
				break;
			case '\t':
				rep = "\\t";
				break;
			case '\b':
				rep = "\\b";
				break;
			case '\f':
				rep = "\\f";
				break;
			default:
				esc[0] = '\\';
				esc[1] = 'u';
				esc[2] = '0';
				esc[3] = '0';
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 0xf];
				rep = esc;
				rep_len = 6;
				break;
			}
			if (!rep_len)
				rep_len = strlen(rep);
		} else {
			adv = utf8_rune(p + i, n - i, &r);
			if (adv == 0) {
				rep = "\\ufffd";
				rep_len = 6;
				adv = 1;
			} else if (r == 0x2028 || r == 0x2029) {
				rep = r == 0x2028 ? "\\u2028" : "\\u2029";
				rep_len = 6;
			} else {
				i += adv;
				continue;
			}
		}
		put(o, s + start, i - start);
		put(o, rep, rep_len);
		i += adv;
		start = i;
	}
	put(o, s + start, n - start);
	putc_(o, '"');
}

/* ---- CSV fields ---- */

/* Whether the field needs quotes, as Go's encoding/csv decides. */
static bool csv_needs_quotes(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t r;

	if (n == 0)
		return false;
	if (n == 2 && s[0] == '\\' && s[1] == '.')
		return true;
	for (size_t i = 0; i < n; i++)
		if (p[i] == ',' || p[i] == '"' || p[i] == '\r' || p[i] == '\n')
			return true;
	if (utf8_rune(p, n, &r) == 0)
		return false;
	switch (r) {
	case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
	case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029:
	case 0x202f: case 0x205f: case 0x3000:
		return true;
	default:
		return r >= 0x2000 && r <= 0x200a;
	}
}

static void csv_field(query_output *o, const char *s, size_t n)
{
	size_t start = 0;

	if (n == 0)
		return;
	if (!csv_needs_quotes(s, n)) {
		put(o, s, n);
		return;
	}
	putc_(o, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"') {
			put(o, s + start, i + 1 - start);
			putc_(o, '"');
			start = i + 1;
		}
	}
	put(o, s + start, n - start);
	putc_(o, '"');
}

static int grow(char **buf, size_t *cap, size_t need)
{
	size_t c = *cap ? *cap : 64;
	char *p;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	p = strata_realloc(*buf, c);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = c;
	return 0;
}

static void append(char **buf, size_t *len, size_t *cap, const char *s, size_t n, int *rc)
{
	if (*rc)
		return;
	*rc = grow(buf, cap, *len + n);
	if (*rc)
		return;
	memcpy(*buf + *len, s, n);
	*len += n;
}

static void csv_field_to(char **buf, size_t *len, size_t *cap, const char *s, size_t n, int *rc)
{
	size_t start = 0;

	if (!csv_needs_quotes(s, n)) {
		append(buf, len, cap, s, n, rc);
		return;
	}
	append(buf, len, cap, "\"", 1, rc);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"') {
			append(buf, len, cap, s + start, i + 1 - start, rc);
			append(buf, len, cap, "\"", 1, rc);
			start = i + 1;
		}
	}
	append(buf, len, cap, s + start, n - start, rc);
	append(buf, len, cap, "\"", 1, rc);
}

/* Appends s with ",", " " and "=" escaped as InfluxDB's escapeTag does. */
static void tag_escaped(char **buf, size_t *len, size_t *cap, const char *s, size_t n, int *rc)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == ',' || s[i] == ' ' || s[i] == '=')
			append(buf, len, cap, "\\", 1, rc);
		append(buf, len, cap, s + i, 1, rc);
	}
}

/* ---- table ---- */

/* Width of a cell as text/tabwriter counts it: one per UTF-8 code point. */
static size_t text_width(const char *s, size_t n)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			w++;
	return w;
}

/* Ends the cell whose text was appended last, of column col and width w. */
static void table_cell_end(query_output *o, size_t col, size_t w)
{
	if (o->tbl_rc)
		return;
	if (o->n_tbl_cells == o->tbl_cells_cap) {
		size_t cap = o->tbl_cells_cap ? 2 * o->tbl_cells_cap : 64;
		size_t *p = strata_realloc(o->tbl_ends, cap * sizeof(*p));

		if (!p) {
			o->tbl_rc = -ENOMEM;
			return;
		}
		o->tbl_ends = p;
		o->tbl_cells_cap = cap;
	}
	if (w > o->tbl_width[col])
		o->tbl_width[col] = w;
	o->tbl_ends[o->n_tbl_cells++] = o->tbl_len;
}

/* Appends one cell of column col to the series being gathered. */
static void table_cell(query_output *o, size_t col, const char *s, size_t n)
{
	if (n)
		append(&o->tbl_text, &o->tbl_len, &o->tbl_cap, s, n, &o->tbl_rc);
	table_cell_end(o, col, text_width(s, n));
}

/* A blank line between blocks (series, errors), none before the first. */
static void table_block(query_output *o)
{
	if (o->tbl_any)
		putc_(o, '\n');
	o->tbl_any = true;
}

static void table_error(query_output *o, const char *msg)
{
	table_block(o);
	puts_(o, "ERR: ");
	puts_(o, msg);
	putc_(o, '\n');
}

/*
 * Writes the "name:" and "tags:" lines at once and gathers the header and
 * the dashes under it (as long as the column name, as the influx CLI draws
 * them) as the series' first two rows.
 */
static int table_begin_series(query_output *o, const char *name, const query_output_tag *tags,
			      size_t n_tags, const char *const *columns, size_t n_columns)
{
	static const char dashes[] = "----------------------------------------------------------------";
	size_t *w = strata_realloc(o->tbl_width, (n_columns ? n_columns : 1) * sizeof(*w));

	if (!w)
		return -ENOMEM;
	o->tbl_width = w;
	memset(w, 0, (n_columns ? n_columns : 1) * sizeof(*w));
	o->tbl_len = 0;
	o->n_tbl_cells = 0;
	o->tbl_rc = 0;

	table_block(o);
	if (*name) {
		puts_(o, "name: ");
		puts_(o, name);
		putc_(o, '\n');
	}
	if (n_tags) {
		puts_(o, "tags: ");
		for (size_t i = 0; i < n_tags; i++) {
			if (i)
				puts_(o, ", ");
			put(o, tags[i].key, tags[i].key_len);
			putc_(o, '=');
			put(o, tags[i].value, tags[i].value_len);
		}
		putc_(o, '\n');
	}
	for (size_t i = 0; i < n_columns; i++)
		table_cell(o, i, columns[i], strlen(columns[i]));
	for (size_t i = 0; i < n_columns; i++) {
		size_t n = strlen(columns[i]);

		/* one cell of n dashes, appended in pieces */
		for (size_t left = n; left > 0;) {
			size_t k = left < sizeof(dashes) - 1 ? left : sizeof(dashes) - 1;

			append(&o->tbl_text, &o->tbl_len, &o->tbl_cap, dashes, k, &o->tbl_rc);
			left -= k;
		}
		table_cell_end(o, i, n);
	}
	return o->tbl_rc;
}

static void table_value(query_output *o, size_t col, const query_value *v, bool null)
{
	char tmp[400];
	size_t n = 0;

	if (null)
		goto out;
	switch (v->type) {
	case QUERY_VALUE_FLOAT:
		if (isnan(v->v.f))
			n = (size_t)sprintf(tmp, "NaN");
		else if (isinf(v->v.f))
			n = (size_t)sprintf(tmp, "%s", v->v.f > 0 ? "+Inf" : "-Inf");
		else
			n = format_float(tmp, v->v.f, true);
		break;
	case QUERY_VALUE_INTEGER:
		n = (size_t)snprintf(tmp, sizeof(tmp), "%" PRId64, v->v.i);
		break;
	case QUERY_VALUE_UNSIGNED:
		n = (size_t)snprintf(tmp, sizeof(tmp), "%" PRIu64, v->v.u);
		break;
	case QUERY_VALUE_BOOLEAN:
		n = (size_t)sprintf(tmp, "%s", v->v.b ? "true" : "false");
		break;
	case QUERY_VALUE_STRING:
		table_cell(o, col, v->v.s.ptr, v->v.s.len);
		return;
	default:
		break;
	}
out:
	table_cell(o, col, tmp, n);
}

static int table_row(query_output *o, int64_t t, const query_value *values, const bool *nulls,
		     size_t n_values)
{
	size_t col = 0;

	if (o->time_column) {
		char tmp[48];
		size_t n;

		if (o->epoch == QUERY_EPOCH_RFC3339)
			n = format_rfc3339(tmp, t);
		else
			n = (size_t)snprintf(tmp, sizeof(tmp), "%" PRId64, t / epoch_divisor(o->epoch));
		table_cell(o, col++, tmp, n);
	}
	for (size_t i = 0; i < n_values; i++)
		table_value(o, col++, &values[i], nulls && nulls[i]);
	o->n_rows++;
	return o->tbl_rc ? o->tbl_rc : o->sink_rc;
}

/*
 * Writes the gathered rows: every cell but the last of its row padded with
 * spaces to its column's widest cell plus one, as text/tabwriter does with
 * padding 1 (the last cell is not padded).
 */
static int table_end_series(query_output *o)
{
	static const char spaces[] = "                                ";
	size_t start = 0;

	if (o->tbl_rc)
		return o->tbl_rc;
	for (size_t i = 0; i < o->n_tbl_cells; i++) {
		size_t col = i % o->n_columns, end = o->tbl_ends[i];
		const char *s = o->tbl_text + start;

		put(o, s, end - start);
		if (col + 1 < o->n_columns) {
			size_t pad = o->tbl_width[col] + 1 - text_width(s, end - start);

			while (pad > 0) {
				size_t k = pad < sizeof(spaces) - 1 ? pad : sizeof(spaces) - 1;

				put(o, spaces, k);
				pad -= k;
			}
		} else {
			putc_(o, '\n');
		}
		start = end;
	}
	o->tbl_len = 0;
	o->n_tbl_cells = 0;
	return o->sink_rc;
}

/* ---- lifecycle ---- */

enum query_output_epoch query_output_epoch_parse(const char *s)
{
	if (!s || !*s)
		return QUERY_EPOCH_RFC3339;
	if (!strcmp(s, "u"))
		return QUERY_EPOCH_US;
	if (!strcmp(s, "ms"))
		return QUERY_EPOCH_MS;
	if (!strcmp(s, "s"))
		return QUERY_EPOCH_S;
	if (!strcmp(s, "m"))
		return QUERY_EPOCH_M;
	if (!strcmp(s, "h"))
		return QUERY_EPOCH_H;
	return QUERY_EPOCH_NS;
}

int query_output_new(query_output **out, enum query_output_format format,
		     enum query_output_epoch epoch, query_output_write_fn write, void *ctx)
{
	query_output *o;

	*out = NULL;
	if (!write)
		return strata_error(STRATA_EINVAL, "query output: no write function");
	if (format != QUERY_OUTPUT_JSON && format != QUERY_OUTPUT_CSV && format != QUERY_OUTPUT_TABLE)
		return strata_error(STRATA_EINVAL, "query output: unknown format %d", (int)format);
	if ((int)epoch < QUERY_EPOCH_RFC3339 || epoch > QUERY_EPOCH_H)
		return strata_error(STRATA_EINVAL, "query output: unknown epoch %d", (int)epoch);
	o = strata_calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->format = format;
	o->epoch = epoch;
	o->write = write;
	o->at_boundary = true;
	o->ctx = ctx;
	*out = o;
	return 0;
}

static void csv_cols_free(query_output *o)
{
	for (size_t i = 0; i < o->n_csv_cols; i++)
		strata_free(o->csv_cols[i]);
	strata_free(o->csv_cols);
	o->csv_cols = NULL;
	o->n_csv_cols = 0;
}

void query_output_free(query_output *o)
{
	if (!o)
		return;
	csv_cols_free(o);
	strata_free(o->csv_prefix);
	strata_free(o->tbl_text);
	strata_free(o->tbl_ends);
	strata_free(o->tbl_width);
	strata_free(o->head);
	strata_free(o);
}

static int seq_error(const char *call)
{
	return strata_error(STRATA_EINVAL, "query output: %s called out of sequence", call);
}

int query_output_set_pretty(query_output *o, bool pretty)
{
	if (o->state != ST_NEW)
		return seq_error("set_pretty");
	o->pretty = pretty && o->format == QUERY_OUTPUT_JSON;
	return 0;
}

int query_output_set_chunked(query_output *o, bool chunked)
{
	if (o->state != ST_NEW)
		return seq_error("set_chunked");
	o->chunked = chunked && o->format != QUERY_OUTPUT_TABLE;
	return 0;
}

int query_output_set_chunk_size(query_output *o, size_t rows, query_output_split_fn split,
				void *split_ctx)
{
	if (o->state != ST_NEW)
		return seq_error("set_chunk_size");
	o->chunk_rows = rows;
	o->split = split;
	o->split_ctx = split_ctx;
	return 0;
}

size_t query_output_error_count(const query_output *o)
{
	return o->n_errors;
}

/* ---- the response ---- */

int query_output_begin_results(query_output *o)
{
	if (o->sink_rc)
		return o->sink_rc;
	if (o->state != ST_NEW)
		return seq_error("begin_results");
	o->state = ST_RESULTS;
	return 0;
}

int query_output_begin_statement(query_output *o, int id)
{
	char num[40];

	if (o->sink_rc)
		return o->sink_rc;
	if (o->state != ST_RESULTS || id < 0)
		return seq_error("begin_statement");
	o->split_stmt = o->format == QUERY_OUTPUT_JSON && o->chunked && o->chunk_rows &&
			(!o->split || o->split(o->split_ctx, id));
	o->stmt_id = id;
	o->n_stmt_docs = 0;
	o->doc_open = false;
	if (o->format == QUERY_OUTPUT_JSON && !o->split_stmt) {
		puts_(o, o->n_statements && !o->chunked ? ",{" : "{\"results\":[{");
		snprintf(num, sizeof(num), "\"statement_id\":%d", id);
		puts_(o, num);
	}
	o->n_statements++;
	o->n_series = 0;
	o->stmt_error = false;
	o->state = ST_STATEMENT;
	return o->sink_rc;
}

/* ---- chunks ---- */

/* Starts a document of the current statement: {"results":[{"statement_id":N */
static void doc_begin(query_output *o)
{
	char num[64];

	snprintf(num, sizeof(num), "{\"results\":[{\"statement_id\":%d", o->stmt_id);
	puts_(o, num);
}

/* Starts a chunk document of the current series: the result, then its head. */
static void chunk_open(query_output *o)
{
	doc_begin(o);
	puts_(o, ",\"series\":[");
	put(o, o->head, o->head_len);
	o->n_rows = o->head_empty ? SIZE_MAX : 0;
	o->doc_open = true;
}

/*
 * Ends the open chunk document and sends it: "partial":true on the series
 * when its next rows follow in another document, on the result when the
 * statement has more documents to come.
 */
static int chunk_close(query_output *o, bool series_partial, bool result_partial)
{
	if (o->n_rows != 0 && o->n_rows != SIZE_MAX)
		putc_(o, ']');
	if (series_partial)
		puts_(o, ",\"partial\":true");
	puts_(o, "}]");
	if (result_partial)
		puts_(o, ",\"partial\":true");
	puts_(o, "}]}\n");
	o->doc_open = false;
	o->n_stmt_docs++;
	return flush_doc(o);
}

int query_output_statement_error(query_output *o, const char *msg)
{
	if (o->sink_rc)
		return o->sink_rc;
	if (o->state != ST_STATEMENT || o->stmt_error)
		return seq_error("statement_error");
	o->stmt_error = true;
	o->n_errors++;
	if (o->split_stmt) {
		/* the error is a document of its own, after the statement's series */
		if (o->doc_open)
			chunk_close(o, false, true);
		doc_begin(o);
		puts_(o, ",\"error\":");
		json_string(o, msg, strlen(msg));
		puts_(o, "}]}\n");
		o->n_stmt_docs++;
		return flush_doc(o);
	}
	if (o->format == QUERY_OUTPUT_JSON) {
		if (o->n_series)
			putc_(o, ']');
		puts_(o, ",\"error\":");
		json_string(o, msg, strlen(msg));
	} else if (o->format == QUERY_OUTPUT_TABLE) {
		table_error(o, msg);
	}
	return o->sink_rc;
}

static bool csv_same_columns(const query_output *o, const char *const *columns, size_t n)
{
	if (o->n_csv_cols != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(o->csv_cols[i], columns[i]))
			return false;
	return true;
}

static int csv_begin_series(query_output *o, const char *name, const query_output_tag *tags,
			    size_t n_tags, const char *const *columns, size_t n_columns)
{
	char *tbuf = NULL;
	size_t tlen = 0, tcap = 0;
	char **cols = NULL;
	int rc = 0;

	if (o->n_series == 0 || !csv_same_columns(o, columns, n_columns)) {
		cols = strata_calloc(n_columns ? n_columns : 1, sizeof(*cols));
		if (!cols) {
			rc = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < n_columns; i++) {
			cols[i] = strata_strdup(columns[i]);
			if (!cols[i]) {
				for (size_t j = 0; j < i; j++)
					strata_free(cols[j]);
				strata_free(cols);
				rc = -ENOMEM;
				goto out;
			}
		}
		if (o->n_series > 0 || o->csv_any_stmt)
			putc_(o, '\n');
		puts_(o, "name,tags");
		for (size_t i = 0; i < n_columns; i++) {
			putc_(o, ',');
			csv_field(o, columns[i], strlen(columns[i]));
		}
		putc_(o, '\n');
		csv_cols_free(o);
		o->csv_cols = cols;
		o->n_csv_cols = n_columns;
		o->csv_any_stmt = true;
	}

	/* the series key, then "name,tags" CSV-encoded */
	for (size_t i = 0; i < n_tags; i++) {
		if (tags[i].value_len == 0)
			continue;
		if (tlen)
			append(&tbuf, &tlen, &tcap, ",", 1, &rc);
		tag_escaped(&tbuf, &tlen, &tcap, tags[i].key, tags[i].key_len, &rc);
		append(&tbuf, &tlen, &tcap, "=", 1, &rc);
		tag_escaped(&tbuf, &tlen, &tcap, tags[i].value, tags[i].value_len, &rc);
	}
	o->csv_prefix_len = 0;
	csv_field_to(&o->csv_prefix, &o->csv_prefix_len, &o->csv_prefix_cap, name, strlen(name),
		     &rc);
	append(&o->csv_prefix, &o->csv_prefix_len, &o->csv_prefix_cap, ",", 1, &rc);
	csv_field_to(&o->csv_prefix, &o->csv_prefix_len, &o->csv_prefix_cap, tbuf ? tbuf : "",
		     tlen, &rc);
out:
	strata_free(tbuf);
	return rc;
}

/*
 * Writes "{" and a series' name, tags and columns, each when it has one;
 * true when it wrote none of them.
 */
static bool json_series_head(query_output *o, const char *name, const query_output_tag *tags,
			     size_t n_tags, const char *const *columns, size_t n_columns)
{
	bool first = true;

	putc_(o, '{');
	if (*name) {
		puts_(o, "\"name\":");
		json_string(o, name, strlen(name));
		first = false;
	}
	if (n_tags) {
		puts_(o, first ? "\"tags\":{" : ",\"tags\":{");
		for (size_t i = 0; i < n_tags; i++) {
			if (i)
				putc_(o, ',');
			json_string(o, tags[i].key, tags[i].key_len);
			putc_(o, ':');
			json_string(o, tags[i].value, tags[i].value_len);
		}
		putc_(o, '}');
		first = false;
	}
	if (n_columns) {
		puts_(o, first ? "\"columns\":[" : ",\"columns\":[");
		for (size_t i = 0; i < n_columns; i++) {
			if (i)
				putc_(o, ',');
			json_string(o, columns[i], strlen(columns[i]));
		}
		putc_(o, ']');
		first = false;
	}
	return first;
}

int query_output_begin_series(query_output *o, const char *name,
			      const query_output_tag *tags, size_t n_tags,
			      const char *const *columns, size_t n_columns, bool time_column)
{
	int rc = 0;

	if (o->sink_rc)
		return o->sink_rc;
	if (o->state != ST_STATEMENT || o->stmt_error || (time_column && n_columns == 0))
		return seq_error("begin_series");
	if (!name)
		name = "";
	if (o->format == QUERY_OUTPUT_CSV) {
		rc = csv_begin_series(o, name, tags, n_tags, columns, n_columns);
		if (rc)
			return rc;
	} else if (o->format == QUERY_OUTPUT_TABLE) {
		rc = table_begin_series(o, name, tags, n_tags, columns, n_columns);
		if (rc)
			return rc;
	} else if (o->split_stmt) {
		/* the head is kept to start each chunk of the series with */
		if (o->doc_open)
			chunk_close(o, false, true);
		o->head_len = 0;
		o->head_rc = 0;
		o->capture = true;
		o->head_empty = json_series_head(o, name, tags, n_tags, columns, n_columns);
		o->capture = false;
		if (o->head_rc)
			return o->head_rc;
		chunk_open(o);
	} else {
		puts_(o, o->n_series ? "," : ",\"series\":[");
		/* "values" starts after the name, tags or columns, or alone */
		o->n_rows = json_series_head(o, name, tags, n_tags, columns, n_columns) ? SIZE_MAX : 0;
	}
	if (o->format != QUERY_OUTPUT_JSON)
		o->n_rows = 0;
	o->n_series++;
	o->time_column = time_column;
	o->n_columns = n_columns;
	o->state = ST_SERIES;
	return o->sink_rc;
}

static void write_time(query_output *o, int64_t t)
{
	char tmp[48];
	size_t n;

	if (o->epoch == QUERY_EPOCH_RFC3339 && o->format == QUERY_OUTPUT_JSON) {
		tmp[0] = '"';
		n = format_rfc3339(tmp + 1, t) + 1;
		tmp[n++] = '"';
	} else {
		n = (size_t)snprintf(tmp, sizeof(tmp), "%" PRId64, t / epoch_divisor(o->epoch));
	}
	put(o, tmp, n);
}

static void write_value(query_output *o, const query_value *v, bool null)
{
	char tmp[400];
	size_t n = 0;
	bool json = o->format == QUERY_OUTPUT_JSON;

	if (null || v->type == QUERY_VALUE_NONE) {
		if (json)
			puts_(o, "null");
		return;
	}
	switch (v->type) {
	case QUERY_VALUE_FLOAT:
		if (isnan(v->v.f)) {
			puts_(o, json ? "null" : "NaN");
			return;
		}
		if (isinf(v->v.f)) {
			puts_(o, json ? "null" : (v->v.f > 0 ? "+Inf" : "-Inf"));
			return;
		}
		n = format_float(tmp, v->v.f, json);
		break;
	case QUERY_VALUE_INTEGER:
		n = (size_t)snprintf(tmp, sizeof(tmp), "%" PRId64, v->v.i);
		break;
	case QUERY_VALUE_UNSIGNED:
		n = (size_t)snprintf(tmp, sizeof(tmp), "%" PRIu64, v->v.u);
		break;
	case QUERY_VALUE_BOOLEAN:
		puts_(o, v->v.b ? "true" : "false");
		return;
	case QUERY_VALUE_STRING:
		if (json)
			json_string(o, v->v.s.ptr, v->v.s.len);
		else
			csv_field(o, v->v.s.ptr, v->v.s.len);
		return;
	default:
		if (json)
			puts_(o, "null");
		return;
	}
	put(o, tmp, n);
}

int query_output_row(query_output *o, int64_t time_ns, const query_value *values,
		     const bool *nulls, size_t n_values)
{
	bool json = o->format == QUERY_OUTPUT_JSON;
	bool sep = false;

	if (o->sink_rc)
		return o->sink_rc;
	if (o->state != ST_SERIES)
		return seq_error("row");
	if (n_values + (o->time_column ? 1 : 0) != o->n_columns)
		return strata_error(STRATA_EINVAL,
				    "query output: row of %zu values for %zu columns", n_values,
				    o->n_columns);
	if (o->format == QUERY_OUTPUT_TABLE)
		return table_row(o, time_ns, values, nulls, n_values);
	if (o->split_stmt && o->n_rows != SIZE_MAX && o->n_rows >= o->chunk_rows) {
		/* the chunk is full and the series goes on: cut it */
		chunk_close(o, true, true);
		chunk_open(o);
	}
	if (json) {
		if (o->n_rows == SIZE_MAX)
			puts_(o, "\"values\":[[");
		else if (o->n_rows == 0)
			puts_(o, ",\"values\":[[");
		else
			puts_(o, ",[");
		o->n_rows = o->n_rows == SIZE_MAX ? 1 : o->n_rows + 1;
	} else {
		put(o, o->csv_prefix, o->csv_prefix_len);
		sep = true;
		o->n_rows++;
	}
	if (o->time_column) {
		if (!json)
			putc_(o, ',');
		write_time(o, time_ns);
		sep = true;
	}
	for (size_t i = 0; i < n_values; i++) {
		if (sep)
			putc_(o, ',');
		write_value(o, &values[i], nulls && nulls[i]);
		sep = true;
	}
	if (json) {
		putc_(o, ']');
	} else {
		putc_(o, '\n');
		if (o->chunked && o->chunk_rows && ++o->n_csv_rows >= o->chunk_rows) {
			o->n_csv_rows = 0;
			return flush_part(o); /* rows of a statement not yet ended */
		}
	}
	return o->sink_rc;
}

int query_output_end_series(query_output *o)
{
	if (o->sink_rc)
		return o->sink_rc;
	if (o->state != ST_SERIES)
		return seq_error("end_series");
	if (o->split_stmt) {
		/* the chunk stays open: whether it is the statement's last depends on what follows */
	} else if (o->format == QUERY_OUTPUT_JSON) {
		if (o->n_rows != 0 && o->n_rows != SIZE_MAX)
			putc_(o, ']');
		putc_(o, '}');
	} else if (o->format == QUERY_OUTPUT_TABLE) {
		int rc = table_end_series(o);

		if (rc)
			return rc;
	}
	o->state = ST_STATEMENT;
	return o->sink_rc;
}

int query_output_end_statement(query_output *o)
{
	if (o->sink_rc)
		return o->sink_rc;
	if (o->state != ST_STATEMENT)
		return seq_error("end_statement");
	if (o->split_stmt) {
		o->state = ST_RESULTS;
		if (o->doc_open)
			return chunk_close(o, false, false);
		if (o->n_stmt_docs == 0) {
			/* no series, no error: the statement still answers */
			doc_begin(o);
			puts_(o, "}]}\n");
		}
		return flush_doc(o);
	}
	if (o->format == QUERY_OUTPUT_CSV && o->chunked) {
		o->state = ST_RESULTS;
		o->n_csv_rows = 0;
		return flush_doc(o);
	}
	if (o->format == QUERY_OUTPUT_JSON) {
		if (o->n_series && !o->stmt_error)
			putc_(o, ']');
		putc_(o, '}');
		if (o->chunked) {
			/* the statement's document is complete: send it on */
			puts_(o, "]}\n");
			o->state = ST_RESULTS;
			return flush_doc(o);
		}
	}
	o->state = ST_RESULTS;
	return o->sink_rc;
}

int query_output_end_results(query_output *o)
{
	if (o->sink_rc)
		return o->sink_rc;
	if (o->state != ST_RESULTS)
		return seq_error("end_results");
	if (o->format == QUERY_OUTPUT_JSON && !o->chunked)
		puts_(o, o->n_statements ? "]}\n" : "{}\n");
	o->state = ST_DONE;
	return flush_doc(o);
}

int query_output_error(query_output *o, const char *msg)
{
	if (o->sink_rc)
		return o->sink_rc;
	if (o->state != ST_NEW)
		return seq_error("error");
	o->n_errors++;
	if (o->format == QUERY_OUTPUT_JSON) {
		puts_(o, "{\"error\":");
		json_string(o, msg, strlen(msg));
		puts_(o, "}\n");
	} else if (o->format == QUERY_OUTPUT_TABLE) {
		table_error(o, msg);
	} else {
		puts_(o, "error\n");
		csv_field(o, msg, strlen(msg));
		putc_(o, '\n');
	}
	o->state = ST_DONE;
	return flush_doc(o);
}
