/*
 * test_query_diff.c — differential test of the InfluxQL executor: random
 * data written through the ingest layer into a fresh data directory
 * (memtable and tables mixed, two time windows, overwrites, late points,
 * sometimes a reopen), random SELECT statements run through query_run()
 * with JSON output, and every answer compared with a brute-force evaluator
 * over an in-memory copy of the points written here, independent of the
 * executor, following InfluxDB 1.x's rules:
 *
 *   - raw rows: a row per point where one of the selected fields has a
 *     value; SELECT * lists fields and the measurement's tag keys in one
 *     alphabetical list (minus the GROUP BY tags); tags missing from a
 *     series are null;
 *   - WHERE: tag comparisons against "" for a missing tag; a field compared
 *     with null is false; the condition is checked per point;
 *   - time range [lower, upper]; with GROUP BY time the upper bound
 *     defaults to now(), and without a lower bound a function's buckets
 *     start at its first point's (early 1.x releases refused such a
 *     statement; later ones run it, their fill iterator starting at the
 *     window of the stream's first point);
 *   - series: one per group, ordered by the GROUP BY tag values (sorted by
 *     tag key), in reverse with ORDER BY time DESC; SLIMIT/SOFFSET count the
 *     groups of the series the tag condition selects, points or not;
 *   - aggregates: each function is a stream of its own, as in InfluxDB:
 *     buckets at epoch + offset, every bucket from the lower to the upper
 *     bound for a function with points in the group (none at all for a
 *     function without: its column stays null), filled per fill() (count
 *     fills 0 under fill(null); previous and linear follow the output
 *     order; linear computed over bucket numbers as InfluxDB's
 *     linearFloat/linearInteger do); a row takes its bucket's
 *     start, or without GROUP BY time the lower bound (0 without one),
 *     except a lone selector without GROUP BY time, which takes the
 *     selected point's time; selector ties as InfluxDB breaks them;
 *   - LIMIT/OFFSET per series.
 *
 * Rows at the same time (points of several series) may come in any order:
 * the comparison accepts any order among them, also where LIMIT cuts such
 * a run. Floats compare with a relative tolerance of 1e-9 (summation order
 * may differ); integers exactly, and an integer result must be written as
 * a JSON integer.
 *
 * STRATA_DIFF_SEED sets the first round's seed (each later round derives
 * its own), STRATA_DIFF_ROUNDS the number of rounds. A mismatch prints the
 * round's seed, the statement, the expected and the actual answer; the
 * seed with STRATA_DIFF_ROUNDS=1 replays that round alone.
 */
#include "ingest/writer.h"
#include "lsm/alloc.h"
#include "lsm/catalog.h"
#include "lsm/lsm.h"
#include "lsm/row.h"
#include "lsm/status.h"
#include "query/exec.h"
#include "query/output.h"
#include "tests/util.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <setjmp.h>
#include <cmocka.h>

#define SEC INT64_C(1000000000)
#define MINUTE (60 * SEC)
#define HOUR (60 * MINUTE)
/* 2026-01-02T23:00:00Z: the data crosses midnight, a time-window boundary. */
#define T0 (INT64_C(1767394800) * SEC)
#define SPAN (2 * HOUR)
#define GRID (10 * SEC)

#define DEFAULT_SEED UINT64_C(0x5d1ff00d2026)
#define DEFAULT_ROUNDS 6
#define QUERIES_PER_ROUND 120
#define MAX_PRINTED 12 /* mismatches printed in full per run */

#define MAX_SERIES 24
#define MAX_COLS 8
#define MAX_NODES 16
#define MAX_SEL 6
#define MAX_STMTS 3

/* ---- random numbers (splitmix64) ---- */

typedef struct rng {
	uint64_t s;
} rng;

static uint64_t rng_next(rng *r)
{
	uint64_t z = (r->s += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static uint64_t rng_below(rng *r, uint64_t n)
{
	return n ? rng_next(r) % n : 0;
}

/* lo..hi inclusive. */
static int64_t rng_range(rng *r, int64_t lo, int64_t hi)
{
	return lo + (int64_t)rng_below(r, (uint64_t)(hi - lo) + 1);
}

static bool rng_pct(rng *r, unsigned pct)
{
	return rng_below(r, 100) < pct;
}

/* ---- a growable text buffer (also the output sink) ---- */

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t c = b->cap ? b->cap : 256;

		while (c < b->len + n + 1)
			c *= 2;
		b->p = strata_realloc(b->p, c);
		assert_non_null(b->p);
		b->cap = c;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_puts(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static void buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof tmp);
	buf_add(b, tmp, (size_t)n);
}

static void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

static void buf_free(struct buf *b)
{
	strata_free(b->p);
	memset(b, 0, sizeof(*b));
}

static int sink_write(void *ctx, const char *p, size_t n)
{
	buf_add(ctx, p, n);
	return 0;
}

/* ---- the data ---- */

enum { FLD_B, FLD_F, FLD_I, FLD_S, N_FLD }; /* sorted by name */
enum { TAG_HOST, TAG_REGION, N_TAG };

static const char *const fld_names[N_FLD] = { "b", "f", "i", "s" };
static const char *const tag_names[N_TAG] = { "host", "region" };
static const char *const host_values[] = { "h0", "h1", "h2", "h3", "h4" };
static const char *const region_values[] = { "eu", "us" };
/* String field values; the first STR_COND_SAFE are also used in WHERE. */
static const char *const str_values[] = { "alpha", "b c", "q\"x", "\xc3\xbcn\xc3\xaf", "back\\slash", "" };
#define N_STR (sizeof str_values / sizeof str_values[0])
#define STR_COND_SAFE 4

struct series {
	const char *tag[N_TAG]; /* NULL: the series has no such tag */
	char lp[64];            /* measurement and tags as line protocol */
	char lp_swapped[64];    /* the same tags in another order */
};

struct pt {
	int series;
	int64_t t;
	uint32_t seq;
	bool has[N_FLD];
	bool b;
	double f;
	int64_t i;
	int s;
};

struct dataset {
	struct series series[MAX_SERIES];
	int n_series;
	bool has_tag[N_TAG];         /* some series carries the tag key */
	struct pt *pts;              /* after merging, sorted by (series, time) */
	size_t n_pts;
	size_t start[MAX_SERIES + 1]; /* pts of series k: [start[k], start[k+1]) */
};

static void add_series(struct dataset *ds, const char *host, const char *region)
{
	struct series *s;
	char *p;

	assert_true(ds->n_series < MAX_SERIES);
	s = &ds->series[ds->n_series++];
	p = s->lp;
	s->tag[TAG_HOST] = host;
	s->tag[TAG_REGION] = region;
	for (int t = 0; t < N_TAG; t++)
		ds->has_tag[t] |= s->tag[t] != NULL;
	p += sprintf(p, "m");
	if (host)
		p += sprintf(p, ",host=%s", host);
	if (region)
		sprintf(p, ",region=%s", region);
	p = s->lp_swapped;
	p += sprintf(p, "m");
	if (region)
		p += sprintf(p, ",region=%s", region);
	if (host)
		sprintf(p, ",host=%s", host);
}

static void gen_series(rng *r, struct dataset *ds)
{
	int n_hosts = (int)rng_range(r, 3, 5);

	ds->n_series = 0;
	for (int h = 0; h < n_hosts; h++) {
		/* bit 0: a series without region, bit 1: eu, bit 2: us */
		unsigned mask = (unsigned)rng_range(r, 1, 7);

		for (int k = 0; k < 3; k++)
			if (mask & (1u << k))
				add_series(ds, host_values[h], k == 0 ? NULL : region_values[k - 1]);
	}
	if (rng_pct(r, 30))
		add_series(ds, NULL, region_values[rng_below(r, 2)]);
	if (rng_pct(r, 15))
		add_series(ds, NULL, NULL);
}

static void gen_values(rng *r, struct pt *w, bool all)
{
	w->has[FLD_F] = all || rng_pct(r, 75);
	w->has[FLD_I] = all || rng_pct(r, 55);
	w->has[FLD_S] = all || rng_pct(r, 20);
	w->has[FLD_B] = all || rng_pct(r, 20);
	if (!w->has[FLD_F] && !w->has[FLD_I] && !w->has[FLD_S] && !w->has[FLD_B])
		w->has[rng_pct(r, 50) ? FLD_F : FLD_I] = true;
	w->f = (double)rng_range(r, -1000, 1000) / 100.0;
	w->i = rng_range(r, -50, 50);
	w->s = (int)rng_below(r, N_STR);
	w->b = rng_pct(r, 50);
}

/* The write log: points in the order they are written. */
static struct pt *gen_writes(rng *r, const struct dataset *ds, size_t *n_out)
{
	size_t n = (size_t)rng_range(r, 250, 700);
	struct pt *log = strata_calloc(n, sizeof(*log));

	assert_non_null(log);
	for (size_t k = 0; k < n; k++) {
		struct pt *w = &log[k];

		if (k > 0 && rng_pct(r, 12)) {
			/* An overwrite of a point written before, in part or whole. */
			const struct pt *o = &log[rng_below(r, k)];

			w->series = o->series;
			w->t = o->t;
		} else {
			w->series = (int)rng_below(r, (uint64_t)ds->n_series);
			if (rng_pct(r, 70))
				w->t = T0 + (int64_t)rng_below(r, SPAN / GRID) * GRID;
			else
				w->t = T0 + (int64_t)rng_below(r, SPAN);
		}
		w->seq = (uint32_t)k;
		/* The first point writes every field: the catalog knows them all. */
		gen_values(r, w, k == 0);
	}
	*n_out = n;
	return log;
}

static void lp_string(struct buf *b, const char *s)
{
	buf_puts(b, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_puts(b, "\\");
		buf_add(b, s, 1);
	}
	buf_puts(b, "\"");
}

static void lp_line(struct buf *b, const struct dataset *ds, const struct pt *w, bool swapped)
{
	const struct series *s = &ds->series[w->series];
	bool first = true;

	buf_puts(b, swapped ? s->lp_swapped : s->lp);
	buf_puts(b, " ");
	if (w->has[FLD_F]) {
		buf_printf(b, "f=%.17g", w->f);
		first = false;
	}
	if (w->has[FLD_I]) {
		buf_printf(b, "%si=%" PRId64 "i", first ? "" : ",", w->i);
		first = false;
	}
	if (w->has[FLD_S]) {
		buf_puts(b, first ? "s=" : ",s=");
		lp_string(b, str_values[w->s]);
		first = false;
	}
	if (w->has[FLD_B])
		buf_printf(b, "%sb=%s", first ? "" : ",", w->b ? "true" : "false");
	buf_printf(b, " %" PRId64 "\n", w->t);
}

static int cmp_write(const void *a, const void *b)
{
	const struct pt *x = a, *y = b;

	if (x->series != y->series)
		return x->series < y->series ? -1 : 1;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The stored points: writes to one series and time merge, field by field. */
static void merge_writes(struct dataset *ds, const struct pt *log, size_t n)
{
	struct pt *v = strata_malloc(n * sizeof(*v));
	size_t out = 0;

	assert_non_null(v);
	memcpy(v, log, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_write);
	for (size_t k = 0; k < n; k++) {
		if (out > 0 && v[out - 1].series == v[k].series && v[out - 1].t == v[k].t) {
			struct pt *p = &v[out - 1];

			if (v[k].has[FLD_F])
				p->f = v[k].f;
			if (v[k].has[FLD_I])
				p->i = v[k].i;
			if (v[k].has[FLD_S])
				p->s = v[k].s;
			if (v[k].has[FLD_B])
				p->b = v[k].b;
			for (int f = 0; f < N_FLD; f++)
				p->has[f] |= v[k].has[f];
		} else {
			v[out++] = v[k];
		}
	}
	ds->pts = v;
	ds->n_pts = out;
	for (int s = 0, k = 0; s <= ds->n_series; s++) {
		while ((size_t)k < out && v[k].series < s)
			k++;
		ds->start[s] = (size_t)k;
	}
}

/* ---- the store under test ---- */

struct env {
	char dir[256];
	lsm_db *db;
	lsm_catalog *catalog;
	ingest_engine ingest;
	ingest_session *session;
	query_engine *qe;
};

/* Opens the store in e->dir (a fresh directory unless reopen). */
static void env_open(struct env *e, bool reopen)
{
	lsm_options opt;
	ingest_options iopt;

	if (!reopen) {
		memset(e, 0, sizeof(*e));
		assert_int_equal(test_make_temp_dir(e->dir, sizeof e->dir), 0);
	}
	lsm_options_default(&opt);
	opt.merge = lsm_row_merge;
	assert_int_equal(lsm_open(&e->db, e->dir, &opt), 0);
	assert_int_equal(lsm_catalog_open(&e->catalog, e->dir), 0);
	assert_int_equal(lsm_catalog_create_database(e->catalog, "db"), 0);
	ingest_options_default(&iopt);
	ingest_engine_init(&e->ingest, e->db, e->catalog, &iopt);
	assert_int_equal(ingest_session_new(&e->session, &e->ingest), 0);
	{
		/* Every other engine runs groups on two threads from two groups on (select.c). */
		static unsigned opens;
		query_limits lim;

		query_limits_default(&lim);
		if (opens++ % 2 == 0)
			lim.parallel_min_groups = 2;
		assert_int_equal(query_engine_new(&e->qe, e->db, e->catalog, &lim), 0);
	}
}

static void env_close(struct env *e, bool keep)
{
	query_engine_free(e->qe);
	ingest_session_free(e->session);
	lsm_catalog_close(e->catalog);
	assert_int_equal(lsm_close(e->db), 0);
	if (!keep)
		test_remove_tree(e->dir);
}

/*
 * Writes the log in requests of random size, flushing the memtable now and
 * then so that a series' points are spread over tables and the memtable,
 * and compacting closed windows into their final form now and then;
 * one request carries a line whose field type conflicts (rejected alone).
 */
static void write_log(rng *r, struct env *e, const struct dataset *ds, const struct pt *log, size_t n)
{
	struct buf text = { 0 };
	size_t pos = 0;
	bool conflict_sent = false;

	while (pos < n) {
		size_t m = (size_t)rng_range(r, 10, 130), rejected = 0;
		ingest_report rep;

		if (m > n - pos)
			m = n - pos;
		buf_reset(&text);
		for (size_t k = pos; k < pos + m; k++) {
			if (pos > 0 && !conflict_sent && rng_pct(r, 5)) {
				/* log[0]'s series exists since the first request. */
				buf_printf(&text, "%s %s %" PRId64 "\n", ds->series[log[0].series].lp,
					   rng_pct(r, 50) ? "f=7i" : "i=1.5", log[k].t);
				conflict_sent = true;
				rejected++;
			}
			lp_line(&text, ds, &log[k], rng_pct(r, 20));
		}
		assert_int_equal(ingest_session_write(e->session, "db", NULL, text.p, text.len, INGEST_LP_NS, T0,
						      false, &rep), 0);
		if (rep.points != m || rep.lines_rejected != rejected)
			fail_msg("write: %" PRIu64 " points, %" PRIu64 " rejected (expected %zu, %zu): %.*s",
				 rep.points, rep.lines_rejected, m, rejected, (int)rep.errors_len, rep.errors);
		pos += m;
		if (rng_pct(r, 35))
			assert_int_equal(lsm_flush(e->db), 0);
		/* The data's windows are long closed: this writes their final form, read as columns. */
		if (rng_pct(r, 8))
			assert_int_equal(lsm_compact(e->db, true), 0);
	}
	if (rng_pct(r, 50))
		assert_int_equal(lsm_compact(e->db, true), 0);
	buf_free(&text);
}

/* ---- statements ---- */

enum fn {
	FN_COUNT, FN_SUM, FN_MEAN, FN_MIN, FN_MAX, FN_FIRST, FN_LAST, FN_SPREAD, FN_MEDIAN, FN_STDDEV, N_FN
};
static const char *const fn_names[N_FN] = {
	"count", "sum", "mean", "min", "max", "first", "last", "spread", "median", "stddev"
};

static bool fn_is_selector(int fn)
{
	return fn == FN_MIN || fn == FN_MAX || fn == FN_FIRST || fn == FN_LAST;
}

enum qkind {
	Q_RAW,
	Q_AGG,
	Q_ERR_RAW_TIME,   /* raw fields with GROUP BY time */
	Q_ERR_MIXED,      /* an aggregate beside a raw field */
};

enum fill { FILL_NULL, FILL_NONE, FILL_PREVIOUS, FILL_LINEAR, FILL_NUMBER };

enum ckind { CK_AND, CK_OR, CK_TAG_EQ, CK_TAG_NE, CK_TAG_RE, CK_TAG_NRE, CK_FCMP };
enum cop { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };
static const char *const op_text[] = { "=", "!=", "<", "<=", ">", ">=" };

struct cnode {
	enum ckind kind;
	int a, b;          /* children of AND / OR */
	int tag;           /* tag comparisons */
	const char *value; /* CK_TAG_EQ / NE */
	int re;            /* index into regexes[] */
	int fld;           /* CK_FCMP */
	enum cop op;
	bool lit_int;      /* the literal is written as an integer */
	double num;
	int64_t inum;
	int str;           /* string literal (field s) */
};

static const struct {
	int tag;
	const char *pattern;
} regexes[] = {
	{ TAG_HOST, "^h[01]$" }, { TAG_HOST, "1" },   { TAG_HOST, "^h" },     { TAG_HOST, "[24]" },
	{ TAG_HOST, "^$" },      { TAG_REGION, "^e" }, { TAG_REGION, "u" },    { TAG_HOST, "^(h0|h3)$" },
	{ TAG_REGION, "^$" },    { TAG_HOST, "h" },
};
#define N_REGEX (sizeof regexes / sizeof regexes[0])
static regex_t regex_compiled[N_REGEX];

struct sel {
	bool is_fn;
	int fn;     /* is_fn */
	int fld;    /* a field (raw or the function's argument) */
	int tag;    /* a tag column (raw), when fld < 0 */
	char alias[16];
};

struct query {
	enum qkind kind;
	bool star;
	struct sel sel[MAX_SEL];
	int n_sel;
	struct cnode nodes[MAX_NODES];
	int n_nodes;
	int root; /* -1: no condition besides time */
	bool has_lo, has_hi;
	int64_t lo, hi; /* inclusive bounds when has_* */
	bool g_tag[N_TAG];
	bool g_star;
	bool g_time;
	int64_t interval, offset; /* offset as written */
	bool fill_given;
	enum fill fill;
	int64_t fill_num;
	bool desc;
	int64_t limit, off, slimit, soff;
	int64_t now;
	char text[1024];
};

/* ---- formatting literals ---- */

static void fmt_duration(char *out, size_t cap, int64_t ns)
{
	uint64_t a = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
	const char *sign = ns < 0 ? "-" : "";

	if (a == 0)
		snprintf(out, cap, "0s");
	else if (a % (uint64_t)HOUR == 0)
		snprintf(out, cap, "%s%" PRIu64 "h", sign, a / (uint64_t)HOUR);
	else if (a % (uint64_t)MINUTE == 0)
		snprintf(out, cap, "%s%" PRIu64 "m", sign, a / (uint64_t)MINUTE);
	else if (a % (uint64_t)SEC == 0)
		snprintf(out, cap, "%s%" PRIu64 "s", sign, a / (uint64_t)SEC);
	else if (a % 1000000 == 0)
		snprintf(out, cap, "%s%" PRIu64 "ms", sign, a / 1000000);
	else
		snprintf(out, cap, "%s%" PRIu64 "ns", sign, a);
}

static void fmt_rfc3339(char *out, size_t cap, int64_t ns)
{
	time_t s = (time_t)(ns / SEC);
	int64_t frac = ns % SEC;
	struct tm tm;
	size_t n;

	gmtime_r(&s, &tm);
	n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	if (frac) {
		char f[16];
		int len = snprintf(f, sizeof f, ".%09" PRId64, frac);

		while (len > 1 && f[len - 1] == '0')
			f[--len] = '\0';
		snprintf(out + n, cap - n, "%sZ", f);
	} else {
		snprintf(out + n, cap - n, "Z");
	}
}

/* A time literal for value: nanoseconds, an RFC3339 string or now() +- d. */
static void fmt_instant(rng *r, char *out, size_t cap, int64_t value, int64_t now)
{
	int64_t d = now - value;
	unsigned style = (unsigned)rng_below(r, 3);

	if (style == 2 && d % SEC == 0 && d != 0) {
		char dur[32];

		fmt_duration(dur, sizeof dur, d < 0 ? -d : d);
		snprintf(out, cap, "now() %s %s", d > 0 ? "-" : "+", dur);
	} else if (style == 1) {
		char t[64];

		fmt_rfc3339(t, sizeof t, value);
		snprintf(out, cap, "'%s'", t);
	} else {
		snprintf(out, cap, "%" PRId64, value);
	}
}

/* ---- generating statements ---- */

static const struct pt *random_point(rng *r, const struct dataset *ds)
{
	return &ds->pts[rng_below(r, ds->n_pts)];
}

static int new_node(struct query *q)
{
	assert_true(q->n_nodes < MAX_NODES);
	memset(&q->nodes[q->n_nodes], 0, sizeof(q->nodes[0]));
	return q->n_nodes++;
}

static int gen_atom(rng *r, struct query *q, const struct dataset *ds)
{
	int k = new_node(q);
	struct cnode *c = &q->nodes[k];
	unsigned pick = (unsigned)rng_below(r, 100);

	if (pick < 30) {
		c->kind = CK_TAG_EQ;
	} else if (pick < 42) {
		c->kind = CK_TAG_NE;
	} else if (pick < 62) {
		c->re = (int)rng_below(r, N_REGEX);
		c->tag = regexes[c->re].tag;
		c->kind = rng_pct(r, 70) ? CK_TAG_RE : CK_TAG_NRE;
		return k;
	} else {
		unsigned f = (unsigned)rng_below(r, 100);

		c->kind = CK_FCMP;
		c->op = (enum cop)rng_below(r, 6);
		if (f < 55) {
			static const double lits[] = { -5, -2.5, -0.5, 0, 0.5, 1, 2.25, 5 };

			c->fld = FLD_F;
			if (rng_pct(r, 30)) {
				const struct pt *p = random_point(r, ds);

				c->num = p->f; /* a stored value: equality can hold */
			} else {
				c->num = lits[rng_below(r, sizeof lits / sizeof lits[0])];
			}
			c->lit_int = c->num == floor(c->num) && rng_pct(r, 50);
			c->inum = (int64_t)c->num;
		} else if (f < 90) {
			c->fld = FLD_I;
			c->inum = rng_range(r, -20, 20);
			c->lit_int = rng_pct(r, 85);
			c->num = c->lit_int ? (double)c->inum : (double)c->inum + 0.5;
		} else {
			c->fld = FLD_S;
			c->op = rng_pct(r, 70) ? OP_EQ : OP_NE;
			c->str = (int)rng_below(r, STR_COND_SAFE);
		}
		return k;
	}
	c->tag = rng_pct(r, 70) ? TAG_HOST : TAG_REGION;
	if (c->tag == TAG_HOST) {
		static const char *const extra[] = { "zz", "" };
		uint64_t v = rng_below(r, 7);

		c->value = v < 5 ? host_values[v] : extra[v - 5];
	} else {
		static const char *const vals[] = { "eu", "us", "", "xx" };

		c->value = vals[rng_below(r, 4)];
	}
	return k;
}

static int gen_cond(rng *r, struct query *q, const struct dataset *ds, int depth)
{
	int k;

	if (depth == 0 || rng_pct(r, 55))
		return gen_atom(r, q, ds);
	k = new_node(q);
	q->nodes[k].kind = rng_pct(r, 50) ? CK_AND : CK_OR;
	q->nodes[k].a = gen_cond(r, q, ds, depth - 1);
	q->nodes[k].b = gen_cond(r, q, ds, depth - 1);
	return k;
}

static int64_t gen_time_value(rng *r, const struct dataset *ds)
{
	switch (rng_below(r, 4)) {
	case 0:
		return T0 + rng_range(r, -60, SPAN / GRID + 60) * GRID;
	case 1:
		return random_point(r, ds)->t;
	case 2:
		return T0 + rng_range(r, -10, SPAN / MINUTE + 10) * MINUTE;
	default:
		return T0 + rng_range(r, -10 * MINUTE, SPAN + 10 * MINUTE);
	}
}

/* Time bounds, a lower and an upper one, each maybe; their text goes to text. */
static void gen_time_bounds(rng *r, struct query *q, const struct dataset *ds, bool want_lo, bool want_hi,
			    char *text, size_t cap)
{
	char a[96], b[96];

	text[0] = '\0';
	if (want_lo && !want_hi && rng_pct(r, 4)) {
		int64_t t = random_point(r, ds)->t;

		fmt_instant(r, a, sizeof a, t, q->now);
		q->has_lo = q->has_hi = true;
		q->lo = q->hi = t;
		snprintf(text, cap, "time = %s", a);
		return;
	}
	if (want_lo) {
		int64_t v = gen_time_value(r, ds);
		bool strict = rng_pct(r, 35);

		fmt_instant(r, a, sizeof a, v, q->now);
		q->has_lo = true;
		q->lo = strict ? v + 1 : v;
		snprintf(text, cap, "time %s %s", strict ? ">" : ">=", a);
	}
	if (want_hi) {
		int64_t v = gen_time_value(r, ds);
		bool strict = rng_pct(r, 60);
		size_t n = strlen(text);

		if (q->has_lo && v < q->lo && rng_pct(r, 90))
			v = q->lo + (q->lo - v); /* mostly a non-empty range */
		fmt_instant(r, b, sizeof b, v, q->now);
		q->has_hi = true;
		q->hi = strict ? v - 1 : v;
		snprintf(text + n, cap - n, "%stime %s %s", n ? " AND " : "", strict ? "<" : "<=", b);
	}
}

static void print_cond(struct buf *b, const struct query *q, int k, bool top)
{
	const struct cnode *c = &q->nodes[k];

	switch (c->kind) {
	case CK_AND:
	case CK_OR:
		if (!top)
			buf_puts(b, "(");
		print_cond(b, q, c->a, false);
		buf_puts(b, c->kind == CK_AND ? " AND " : " OR ");
		print_cond(b, q, c->b, false);
		if (!top)
			buf_puts(b, ")");
		break;
	case CK_TAG_EQ:
	case CK_TAG_NE:
		buf_printf(b, "%s %s '%s'", tag_names[c->tag], c->kind == CK_TAG_EQ ? "=" : "!=", c->value);
		break;
	case CK_TAG_RE:
	case CK_TAG_NRE:
		buf_printf(b, "%s %s /%s/", tag_names[c->tag], c->kind == CK_TAG_RE ? "=~" : "!~",
			   regexes[c->re].pattern);
		break;
	case CK_FCMP:
		if (c->fld == FLD_S)
			buf_printf(b, "s %s '%s'", op_text[c->op], str_values[c->str]);
		else if (c->lit_int)
			buf_printf(b, "%s %s %" PRId64, fld_names[c->fld], op_text[c->op], c->inum);
		else
			buf_printf(b, "%s %s %.17g", fld_names[c->fld], op_text[c->op], c->num);
		break;
	}
}

static int64_t pick_interval(rng *r)
{
	static const int64_t iv[] = { 10 * SEC, 30 * SEC, MINUTE, 2 * MINUTE, 5 * MINUTE, 7 * MINUTE,
				      10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR };
	uint64_t k = rng_below(r, sizeof iv / sizeof iv[0]);

	if (k == 0 && rng_pct(r, 60))
		k = 2; /* 10s buckets make big answers: fewer of them */
	return iv[k];
}

static void gen_group_tags(rng *r, struct query *q)
{
	unsigned g = (unsigned)rng_below(r, 100);

	if (g < 40)
		return;
	if (g < 65)
		q->g_tag[TAG_HOST] = true;
	else if (g < 75)
		q->g_tag[TAG_REGION] = true;
	else if (g < 85)
		q->g_tag[TAG_HOST] = q->g_tag[TAG_REGION] = true;
	else
		q->g_star = true;
}

static void gen_limits(rng *r, struct query *q, unsigned pct_limit, unsigned pct_slimit)
{
	if (rng_pct(r, pct_limit)) {
		q->limit = rng_pct(r, 80) ? rng_range(r, 1, 6) : 0;
		q->off = rng_pct(r, 50) ? rng_range(r, 1, 4) : 0;
	}
	if (rng_pct(r, pct_slimit)) {
		q->slimit = rng_pct(r, 80) ? rng_range(r, 1, 3) : 0;
		q->soff = rng_pct(r, 50) ? rng_range(r, 1, 3) : 0;
	}
}

static void gen_raw_select(rng *r, struct query *q)
{
	if (rng_pct(r, 20)) {
		q->star = true;
		return;
	}
	int n = (int)rng_range(r, 1, 3);
	bool used[N_FLD] = { false };

	for (int k = 0; k < n; k++) {
		/* f and i most of the time, s and b now and then */
		static const int pool[] = { FLD_F, FLD_F, FLD_F, FLD_I, FLD_I, FLD_S, FLD_B };
		int f = pool[rng_below(r, sizeof pool / sizeof pool[0])];

		if (used[f])
			continue;
		used[f] = true;
		q->sel[q->n_sel++] = (struct sel){ .fld = f, .tag = -1 };
	}
	if (rng_pct(r, 15)) {
		int t = rng_pct(r, 50) ? TAG_HOST : TAG_REGION;

		if (!q->g_tag[t] && !q->g_star)
			q->sel[q->n_sel++] = (struct sel){ .fld = -1, .tag = t };
	}
}

static void gen_agg_select(rng *r, struct query *q, bool same_field)
{
	int fld = rng_pct(r, 60) ? FLD_F : FLD_I;
	int n;

	if (rng_pct(r, 22)) {
		static const int sels[] = { FN_MIN, FN_MAX, FN_FIRST, FN_LAST };

		q->sel[q->n_sel++] = (struct sel){ .is_fn = true, .fn = sels[rng_below(r, 4)], .fld = fld, .tag = -1 };
		return;
	}
	n = (int)rng_range(r, 1, 3);
	for (int k = 0; k < n; k++) {
		struct sel *s = &q->sel[q->n_sel++];

		*s = (struct sel){ .is_fn = true, .fn = (int)rng_below(r, N_FN), .fld = fld, .tag = -1 };
		if (!same_field && rng_pct(r, 40))
			s->fld = rng_pct(r, 50) ? FLD_F : FLD_I;
		if (rng_pct(r, 8))
			snprintf(s->alias, sizeof s->alias, "a%d", k);
	}
}

static void print_select(rng *r, struct buf *b, const struct query *q)
{
	buf_puts(b, "SELECT ");
	if (q->star)
		buf_puts(b, "*");
	for (int k = 0; k < q->n_sel; k++) {
		const struct sel *s = &q->sel[k];

		if (k)
			buf_puts(b, ", ");
		if (s->is_fn)
			buf_printf(b, "%s(%s)", fn_names[s->fn], fld_names[s->fld]);
		else if (s->fld >= 0)
			buf_puts(b, fld_names[s->fld]);
		else
			buf_puts(b, tag_names[s->tag]);
		if (s->alias[0])
			buf_printf(b, " AS %s", s->alias);
	}
	buf_puts(b, rng_pct(r, 80) ? " FROM m" : " FROM \"m\"");
}

static void print_tail(rng *r, struct buf *b, const struct query *q, const char *times)
{
	bool cond = q->root >= 0;

	if (cond || times[0]) {
		buf_puts(b, " WHERE ");
		if (cond && times[0] && rng_pct(r, 40)) {
			buf_printf(b, "%s AND ", times);
			print_cond(b, q, q->root, q->nodes[q->root].kind != CK_OR);
		} else if (cond) {
			print_cond(b, q, q->root, q->nodes[q->root].kind != CK_OR);
			if (times[0])
				buf_printf(b, " AND %s", times);
		} else {
			buf_puts(b, times);
		}
	}
	if (q->g_time || q->g_tag[TAG_HOST] || q->g_tag[TAG_REGION] || q->g_star) {
		char dims[4][80];
		int nd = 0;

		if (q->g_star)
			snprintf(dims[nd++], sizeof dims[0], "*");
		if (q->g_tag[TAG_HOST] && q->g_tag[TAG_REGION] && rng_pct(r, 50)) {
			snprintf(dims[nd++], sizeof dims[0], "region");
			snprintf(dims[nd++], sizeof dims[0], "host");
		} else {
			for (int t = 0; t < N_TAG; t++)
				if (q->g_tag[t])
					snprintf(dims[nd++], sizeof dims[0], "%s", tag_names[t]);
		}
		if (q->g_time) {
			char iv[32], off[32];
			int at = rng_pct(r, 60) ? 0 : nd;

			fmt_duration(iv, sizeof iv, q->interval);
			fmt_duration(off, sizeof off, q->offset);
			memmove(dims[at + 1], dims[at], (size_t)(nd - at) * sizeof dims[0]);
			if (q->offset || rng_pct(r, 10))
				snprintf(dims[at], sizeof dims[0], "time(%s, %s)", iv, off);
			else
				snprintf(dims[at], sizeof dims[0], "time(%s)", iv);
			nd++;
		}
		buf_puts(b, " GROUP BY ");
		for (int k = 0; k < nd; k++)
			buf_printf(b, "%s%s", k ? ", " : "", dims[k]);
	}
	if (q->fill_given) {
		switch (q->fill) {
		case FILL_NULL:
			buf_puts(b, " fill(null)");
			break;
		case FILL_NONE:
			buf_puts(b, " fill(none)");
			break;
		case FILL_PREVIOUS:
			buf_puts(b, " fill(previous)");
			break;
		case FILL_LINEAR:
			buf_puts(b, " fill(linear)");
			break;
		case FILL_NUMBER:
			buf_printf(b, " fill(%" PRId64 ")", q->fill_num);
			break;
		}
	}
	if (q->desc)
		buf_puts(b, " ORDER BY time DESC");
	else if (rng_pct(r, 5))
		buf_puts(b, " ORDER BY time ASC");
	if (q->limit)
		buf_printf(b, " LIMIT %" PRId64, q->limit);
	if (q->off)
		buf_printf(b, " OFFSET %" PRId64, q->off);
	if (q->slimit)
		buf_printf(b, " SLIMIT %" PRId64, q->slimit);
	if (q->soff)
		buf_printf(b, " SOFFSET %" PRId64, q->soff);
}

static void gen_query(rng *r, const struct dataset *ds, struct query *q, int64_t now)
{
	unsigned kind = (unsigned)rng_below(r, 100);
	char times[256];
	struct buf b = { 0 };

	memset(q, 0, sizeof(*q));
	q->root = -1;
	q->now = now;
	if (kind < 40)
		q->kind = Q_RAW;
	else if (kind < 96)
		q->kind = Q_AGG;
	else if (kind < 98)
		q->kind = Q_ERR_RAW_TIME;
	else
		q->kind = Q_ERR_MIXED;

	if (rng_pct(r, 60))
		q->root = gen_cond(r, q, ds, 2);

	switch (q->kind) {
	case Q_RAW:
		if (rng_pct(r, 55)) {
			unsigned g = (unsigned)rng_below(r, 100);

			if (g < 40)
				q->g_tag[TAG_HOST] = true;
			else if (g < 60)
				q->g_tag[TAG_REGION] = true;
			else if (g < 75)
				q->g_tag[TAG_HOST] = q->g_tag[TAG_REGION] = true;
			else
				q->g_star = true;
		}
		gen_raw_select(r, q);
		gen_time_bounds(r, q, ds, rng_pct(r, 50), rng_pct(r, 40), times, sizeof times);
		q->desc = rng_pct(r, 25);
		gen_limits(r, q, 30, 15);
		break;
	case Q_AGG: {
		bool same_field;

		q->g_time = rng_pct(r, 65);
		gen_group_tags(r, q);
		if (q->g_time) {
			q->interval = pick_interval(r);
			if (rng_pct(r, 35)) {
				q->offset = rng_range(r, -(q->interval / SEC) + 1, q->interval / SEC - 1) * SEC;
				if (rng_pct(r, 15))
					q->offset += q->interval * rng_range(r, 1, 2); /* taken modulo the interval */
			}
			if (rng_pct(r, 70)) {
				q->fill_given = true;
				q->fill = (enum fill)rng_below(r, 5);
				if (q->fill == FILL_NUMBER) {
					static const int64_t nums[] = { 0, -1, 42, 100 };

					q->fill_num = nums[rng_below(r, 4)];
				}
			}
		}
		q->desc = rng_pct(r, 20);
		gen_limits(r, q, 20, 12);
		/*
		 * With LIMIT, every function reads the same field: the buckets
		 * that have rows are then the same for each, and the rows
		 * LIMIT keeps do not depend on how an engine applies it.
		 */
		same_field = q->limit || q->off || rng_pct(r, 50);
		gen_agg_select(r, q, same_field);
		gen_time_bounds(r, q, ds, q->g_time ? rng_pct(r, 92) : rng_pct(r, 40), rng_pct(r, 50), times,
				sizeof times);
		break;
	}
	case Q_ERR_RAW_TIME:
		q->sel[q->n_sel++] = (struct sel){ .fld = FLD_F, .tag = -1 };
		q->g_time = true;
		q->interval = MINUTE;
		gen_time_bounds(r, q, ds, true, false, times, sizeof times);
		break;
	case Q_ERR_MIXED:
		q->sel[q->n_sel++] = (struct sel){ .is_fn = true, .fn = FN_COUNT, .fld = FLD_F, .tag = -1 };
		q->sel[q->n_sel++] = (struct sel){ .fld = FLD_I, .tag = -1 };
		gen_time_bounds(r, q, ds, rng_pct(r, 50), false, times, sizeof times);
		break;
	}
	print_select(r, &b, q);
	print_tail(r, &b, q, times);
	assert_true(b.len < sizeof q->text);
	memcpy(q->text, b.p, b.len + 1);
	buf_free(&b);
}

/* ---- the expected answer ---- */

enum vkind { V_NULL, V_INT, V_FLOAT, V_STR, V_BOOL };

struct val {
	enum vkind k;
	bool b;
	int64_t i;
	double f;
	const char *s;
};

struct erow {
	int64_t t;
	struct val v[MAX_COLS];
};

struct eseries {
	int n_tags;
	const char *tag_key[N_TAG];
	const char *tag_val[N_TAG];
	int n_cols; /* after time */
	char cols[MAX_COLS][24];
	struct erow *rows; /* every row, in output order, before OFFSET/LIMIT */
	size_t n_rows;
	size_t off, lim; /* the window of rows written; lim 0: all */
};

struct estmt {
	const char *error; /* a substring of the statement's error; NULL: series */
	struct eseries series[MAX_SERIES];
	int n_series;
};

static void estmt_free(struct estmt *e)
{
	for (int k = 0; k < e->n_series; k++)
		strata_free(e->series[k].rows);
	memset(e, 0, sizeof(*e));
}

static size_t window_len(const struct eseries *s)
{
	size_t n;

	if (s->off >= s->n_rows)
		return 0;
	n = s->n_rows - s->off;
	return s->lim && s->lim < n ? s->lim : n;
}

/* ---- evaluating conditions ---- */

static const char *tag_or_empty(const struct series *s, int tag)
{
	return s->tag[tag] ? s->tag[tag] : "";
}

static bool tag_atom(const struct cnode *c, const struct series *s)
{
	const char *v = tag_or_empty(s, c->tag);

	switch (c->kind) {
	case CK_TAG_EQ:
		return strcmp(v, c->value) == 0;
	case CK_TAG_NE:
		return strcmp(v, c->value) != 0;
	case CK_TAG_RE:
		return regexec(&regex_compiled[c->re], v, 0, NULL, 0) == 0;
	case CK_TAG_NRE:
		return regexec(&regex_compiled[c->re], v, 0, NULL, 0) != 0;
	default:
		return false;
	}
}

/* Series-level: 0 false, 1 true, 2 depends on the point (a field). */
static int cond_series(const struct query *q, int k, const struct series *s)
{
	const struct cnode *c;
	int a, b;

	if (k < 0)
		return 1;
	c = &q->nodes[k];
	switch (c->kind) {
	case CK_AND:
		a = cond_series(q, c->a, s);
		b = cond_series(q, c->b, s);
		if (a == 0 || b == 0)
			return 0;
		return a == 1 && b == 1 ? 1 : 2;
	case CK_OR:
		a = cond_series(q, c->a, s);
		b = cond_series(q, c->b, s);
		if (a == 1 || b == 1)
			return 1;
		return a == 0 && b == 0 ? 0 : 2;
	case CK_FCMP:
		return 2;
	default:
		return tag_atom(c, s) ? 1 : 0;
	}
}

static bool cmp_num(double a, double b, enum cop op)
{
	switch (op) {
	case OP_EQ: return a == b;
	case OP_NE: return a != b;
	case OP_LT: return a < b;
	case OP_LE: return a <= b;
	case OP_GT: return a > b;
	case OP_GE: return a >= b;
	}
	return false;
}

static bool cmp_int(int64_t a, int64_t b, enum cop op)
{
	switch (op) {
	case OP_EQ: return a == b;
	case OP_NE: return a != b;
	case OP_LT: return a < b;
	case OP_LE: return a <= b;
	case OP_GT: return a > b;
	case OP_GE: return a >= b;
	}
	return false;
}

static bool cond_point(const struct query *q, int k, const struct series *s, const struct pt *p)
{
	const struct cnode *c;

	if (k < 0)
		return true;
	c = &q->nodes[k];
	switch (c->kind) {
	case CK_AND:
		return cond_point(q, c->a, s, p) && cond_point(q, c->b, s, p);
	case CK_OR:
		return cond_point(q, c->a, s, p) || cond_point(q, c->b, s, p);
	case CK_FCMP:
		if (!p->has[c->fld])
			return false; /* null compares false, != too */
		if (c->fld == FLD_F)
			return cmp_num(p->f, c->num, c->op);
		if (c->fld == FLD_I)
			return c->lit_int ? cmp_int(p->i, c->inum, c->op) : cmp_num((double)p->i, c->num, c->op);
		{
			int d = strcmp(str_values[p->s], str_values[c->str]);

			return c->op == OP_EQ ? d == 0 : d != 0;
		}
	default:
		return tag_atom(c, s);
	}
}

/* ---- groups ---- */

struct group {
	const char *key[N_TAG]; /* values of the GROUP BY tags ("" when missing) */
	int series[MAX_SERIES];
	int n;
};

/*
 * The GROUP BY tags: those named, or with GROUP BY * the tag keys the
 * measurement has (a key no series carries is none of them).
 */
static void query_dims(const struct dataset *ds, const struct query *q, bool dims[N_TAG])
{
	for (int t = 0; t < N_TAG; t++)
		dims[t] = (q->g_star && ds->has_tag[t]) || q->g_tag[t];
}

static int cmp_group(const struct group *a, const struct group *b, const bool dims[N_TAG])
{
	for (int t = 0; t < N_TAG; t++) {
		int c;

		if (!dims[t])
			continue;
		c = strcmp(a->key[t], b->key[t]);
		if (c)
			return c;
	}
	return 0;
}

/*
 * The groups of the series the tag condition selects, sorted by tag
 * values, after SOFFSET and SLIMIT, in output order.
 */
static int make_groups(const struct dataset *ds, const struct query *q, struct group *out)
{
	bool dims[N_TAG];
	int n = 0, first, count;

	query_dims(ds, q, dims);
	for (int s = 0; s < ds->n_series; s++) {
		struct group g = { .n = 0 };
		int k;

		if (cond_series(q, q->root, &ds->series[s]) == 0)
			continue;
		for (int t = 0; t < N_TAG; t++)
			g.key[t] = dims[t] ? tag_or_empty(&ds->series[s], t) : "";
		for (k = 0; k < n; k++)
			if (cmp_group(&out[k], &g, dims) == 0)
				break;
		if (k == n)
			out[n++] = g;
		out[k].series[out[k].n++] = s;
	}
	/* insertion sort: a handful of groups */
	for (int i = 1; i < n; i++) {
		struct group g = out[i];
		int j = i;

		while (j > 0 && cmp_group(&out[j - 1], &g, dims) > 0) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = g;
	}
	first = q->soff < n ? (int)q->soff : n;
	count = n - first;
	if (q->slimit && q->slimit < count)
		count = (int)q->slimit;
	memmove(out, out + first, (size_t)count * sizeof(*out));
	if (q->desc) {
		for (int i = 0, j = count - 1; i < j; i++, j--) {
			struct group g = out[i];

			out[i] = out[j];
			out[j] = g;
		}
	}
	return count;
}

static void series_tags(const struct dataset *ds, const struct query *q, const struct group *g,
			struct eseries *es)
{
	bool dims[N_TAG];

	query_dims(ds, q, dims);
	es->n_tags = 0;
	for (int t = 0; t < N_TAG; t++) {
		if (dims[t]) {
			es->tag_key[es->n_tags] = tag_names[t];
			es->tag_val[es->n_tags] = g->key[t];
			es->n_tags++;
		}
	}
}

/* A point of a group that passed the time range and the condition. */
struct gpt {
	const struct pt *p;
	const struct series *s;
};

static int cmp_gpt(const void *a, const void *b)
{
	const struct gpt *x = a, *y = b;

	if (x->p->t != y->p->t)
		return x->p->t < y->p->t ? -1 : 1;
	return x->p->series < y->p->series ? -1 : x->p->series > y->p->series;
}


static struct gpt *group_points(const struct dataset *ds, const struct query *q, const struct group *g,
				int64_t lo, int64_t hi, size_t *n_out)
{
	size_t cap = 0, n = 0;
	struct gpt *v;

	for (int k = 0; k < g->n; k++)
		cap += ds->start[g->series[k] + 1] - ds->start[g->series[k]];
	v = strata_malloc((cap ? cap : 1) * sizeof(*v));
	assert_non_null(v);
	for (int k = 0; k < g->n; k++) {
		const struct series *s = &ds->series[g->series[k]];

		for (size_t i = ds->start[g->series[k]]; i < ds->start[g->series[k] + 1]; i++) {
			const struct pt *p = &ds->pts[i];

			if (p->t >= lo && p->t <= hi && cond_point(q, q->root, s, p))
				v[n++] = (struct gpt){ .p = p, .s = s };
		}
	}
	qsort(v, n, sizeof(*v), cmp_gpt);
	*n_out = n;
	return v;
}

static struct val field_val(const struct pt *p, int fld)
{
	struct val v = { .k = V_NULL };

	if (!p->has[fld])
		return v;
	switch (fld) {
	case FLD_B:
		v.k = V_BOOL;
		v.b = p->b;
		break;
	case FLD_F:
		v.k = V_FLOAT;
		v.f = p->f;
		break;
	case FLD_I:
		v.k = V_INT;
		v.i = p->i;
		break;
	case FLD_S:
		v.k = V_STR;
		v.s = str_values[p->s];
		break;
	}
	return v;
}

/* Column names with InfluxDB's _1, _2 suffixes for repeated names. */
static void add_column(struct eseries *es, const char *name)
{
	char cand[24];
	int suffix = 0;

	snprintf(cand, sizeof cand, "%s", name);
	for (;;) {
		bool clash = strcmp(cand, "time") == 0;

		for (int k = 0; k < es->n_cols && !clash; k++)
			clash = strcmp(es->cols[k], cand) == 0;
		if (!clash)
			break;
		snprintf(cand, sizeof cand, "%s_%d", name, ++suffix);
	}
	assert_true(es->n_cols < MAX_COLS);
	snprintf(es->cols[es->n_cols++], sizeof es->cols[0], "%s", cand);
}

/* Raw columns: field (>= 0) or tag (-1 - tag) per column. */
static int raw_columns(const struct dataset *ds, const struct query *q, struct eseries *es, int what[MAX_COLS])
{
	es->n_cols = 0;
	if (q->star) {
		/* fields and tags in one list, by name: b f host i region s */
		static const int order[] = { FLD_B, FLD_F, -1 - TAG_HOST, FLD_I, -1 - TAG_REGION, FLD_S };
		bool dims[N_TAG];

		query_dims(ds, q, dims);
		for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
			int w = order[k];

			/* tags: the measurement's keys, less the GROUP BY ones (all with GROUP BY *) */
			if (w < 0 && (q->g_star || dims[-1 - w] || !ds->has_tag[-1 - w]))
				continue;
			what[es->n_cols] = w;
			add_column(es, w >= 0 ? fld_names[w] : tag_names[-1 - w]);
		}
		return es->n_cols;
	}
	for (int k = 0; k < q->n_sel; k++) {
		const struct sel *s = &q->sel[k];

		what[es->n_cols] = s->fld >= 0 ? s->fld : -1 - s->tag;
		add_column(es, s->alias[0] ? s->alias : s->fld >= 0 ? fld_names[s->fld] : tag_names[s->tag]);
	}
	return es->n_cols;
}

static void eval_raw(const struct dataset *ds, const struct query *q, const struct group *g, struct eseries *es)
{
	int what[MAX_COLS];
	int n_cols = raw_columns(ds, q, es, what);
	int64_t lo = q->has_lo ? q->lo : INT64_MIN, hi = q->has_hi ? q->hi : INT64_MAX;
	size_t n;
	struct gpt *v = group_points(ds, q, g, lo, hi, &n);

	es->rows = strata_calloc(n ? n : 1, sizeof(*es->rows));
	assert_non_null(es->rows);
	es->n_rows = 0;
	for (size_t k = 0; k < n; k++) {
		struct erow *row = &es->rows[es->n_rows];
		bool any = false;

		row->t = v[k].p->t;
		for (int c = 0; c < n_cols; c++) {
			if (what[c] >= 0) {
				row->v[c] = field_val(v[k].p, what[c]);
				any |= row->v[c].k != V_NULL;
			} else {
				const char *tv = v[k].s->tag[-1 - what[c]];

				row->v[c] = tv ? (struct val){ .k = V_STR, .s = tv } : (struct val){ .k = V_NULL };
			}
		}
		if (any)
			es->n_rows++;
	}
	if (q->desc) {
		for (size_t i = 0, j = es->n_rows ? es->n_rows - 1 : 0; i < j; i++, j--) {
			struct erow t = es->rows[i];

			es->rows[i] = es->rows[j];
			es->rows[j] = t;
		}
	}
	strata_free(v);
}

/* ---- aggregates ---- */

static bool fn_int_result(int fn, int fld)
{
	if (fn == FN_COUNT)
		return true;
	if (fld != FLD_I)
		return false;
	return fn == FN_SUM || fn == FN_MIN || fn == FN_MAX || fn == FN_FIRST || fn == FN_LAST || fn == FN_SPREAD;
}

static double num_of(const struct pt *p, int fld)
{
	return fld == FLD_F ? p->f : (double)p->i;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * One function over the points v[0..n) (in time order) that have field
 * fld. Returns false when none has it; else *out and *sel_t (the selected
 * point's time for selectors).
 */
static bool agg_compute(int fn, int fld, const struct gpt *v, size_t n, struct val *out, int64_t *sel_t)
{
	size_t cnt = 0;
	const struct pt *best = NULL;
	double fsum = 0;
	uint64_t isum = 0;
	bool is_int = fld == FLD_I;

	for (size_t k = 0; k < n; k++) {
		const struct pt *p = v[k].p;

		if (!p->has[fld])
			continue;
		cnt++;
		fsum += num_of(p, fld);
		if (is_int)
			isum += (uint64_t)p->i;
		if (!best) {
			best = p;
			continue;
		}
		switch (fn) {
		case FN_MIN:
		case FN_MAX: {
			double a = num_of(p, fld), b = num_of(best, fld);

			if (fn == FN_MIN ? a < b : a > b)
				best = p;
			else if (a == b && p->t < best->t)
				best = p;
			break;
		}
		case FN_FIRST:
			if (p->t < best->t || (p->t == best->t && num_of(p, fld) > num_of(best, fld)))
				best = p;
			break;
		case FN_LAST:
			if (p->t > best->t || (p->t == best->t && num_of(p, fld) > num_of(best, fld)))
				best = p;
			break;
		default:
			break;
		}
	}
	if (cnt == 0)
		return false;
	*sel_t = best->t;
	switch (fn) {
	case FN_COUNT:
		*out = (struct val){ .k = V_INT, .i = (int64_t)cnt };
		break;
	case FN_SUM:
		*out = is_int ? (struct val){ .k = V_INT, .i = (int64_t)isum } : (struct val){ .k = V_FLOAT, .f = fsum };
		break;
	case FN_MEAN:
		*out = (struct val){ .k = V_FLOAT, .f = fsum / (double)cnt };
		break;
	case FN_MIN:
	case FN_MAX:
	case FN_FIRST:
	case FN_LAST:
		*out = field_val(best, fld);
		break;
	case FN_SPREAD:
	case FN_MEDIAN:
	case FN_STDDEV: {
		double *a = strata_malloc(cnt * sizeof(*a)), mean = fsum / (double)cnt, var = 0;
		size_t m = 0;

		assert_non_null(a);
		for (size_t k = 0; k < n; k++)
			if (v[k].p->has[fld])
				a[m++] = num_of(v[k].p, fld);
		qsort(a, m, sizeof(*a), cmp_double);
		if (fn == FN_SPREAD) {
			if (is_int)
				*out = (struct val){ .k = V_INT, .i = (int64_t)a[m - 1] - (int64_t)a[0] };
			else
				*out = (struct val){ .k = V_FLOAT, .f = a[m - 1] - a[0] };
		} else if (fn == FN_MEDIAN) {
			double med = m % 2 ? a[m / 2] : a[m / 2 - 1] + (a[m / 2] - a[m / 2 - 1]) / 2;

			*out = (struct val){ .k = V_FLOAT, .f = med };
		} else if (m < 2) {
			*out = (struct val){ .k = V_FLOAT, .f = NAN }; /* written as null */
		} else {
			for (size_t k = 0; k < m; k++)
				var += (a[k] - mean) * (a[k] - mean);
			*out = (struct val){ .k = V_FLOAT, .f = sqrt(var / (double)(m - 1)) };
		}
		strata_free(a);
		break;
	}
	}
	return true;
}

/* Start of the bucket holding t: epoch + offset, intervals of iv. */
static int64_t bucket_of(int64_t t, int64_t iv, int64_t off)
{
	int64_t d = (t - off) % iv;

	if (d < 0)
		d += iv;
	return t - d;
}

/* A bucket of one function: what its iterator writes, if anything. */
struct cell {
	bool emit;
	bool real; /* the bucket had points (not filled) */
	struct val v;
	int64_t sel_t;
};

static struct val fill_linear(const struct cell *prev, int64_t prev_t, const struct cell *next, int64_t next_t,
			      int64_t win_t, int64_t iv, bool is_int)
{
	int64_t wt = win_t / iv, pt = prev_t / iv, nt = next_t / iv;

	if (is_int) {
		double m = (double)(next->v.i - prev->v.i) / (double)(nt - pt);
		double x = (double)(wt - pt);

		return (struct val){ .k = V_INT, .i = (int64_t)(m * x + (double)prev->v.i) };
	} else {
		double m = (next->v.f - prev->v.f) / (double)(nt - pt);
		double x = (double)(wt - pt);

		return (struct val){ .k = V_FLOAT, .f = m * x + prev->v.f };
	}
}

static void eval_agg(const struct dataset *ds, const struct query *q, const struct group *g, struct eseries *es)
{
	int64_t lo = q->has_lo ? q->lo : INT64_MIN;
	int64_t hi = q->has_hi ? q->hi : q->g_time ? q->now : INT64_MAX;
	int64_t iv = q->interval, off = 0, b0 = 0;
	size_t n, nb = 1;
	struct gpt *v;
	struct cell *cells[MAX_SEL];
	bool lone_selector = q->n_sel == 1 && fn_is_selector(q->sel[0].fn) && !q->g_time;

	es->n_cols = 0;
	for (int k = 0; k < q->n_sel; k++)
		add_column(es, q->sel[k].alias[0] ? q->sel[k].alias : fn_names[q->sel[k].fn]);
	es->rows = NULL;
	es->n_rows = 0;
	if (lo > hi)
		return;
	v = group_points(ds, q, g, lo, hi, &n);
	if (q->g_time) {
		off = q->offset % iv;
		if (!q->has_lo && n == 0) {
			strata_free(v);
			return;
		}
		/* Without a lower bound the earliest point's bucket comes first. */
		b0 = bucket_of(q->has_lo ? lo : v[0].p->t, iv, off);
		nb = (size_t)((bucket_of(hi, iv, off) - b0) / iv) + 1;
	}
	for (int f = 0; f < q->n_sel; f++) {
		cells[f] = strata_calloc(nb, sizeof(struct cell));
		assert_non_null(cells[f]);
	}

	/* Buckets that have points: the points are in time order. */
	for (size_t i = 0; i < n;) {
		size_t j = i, b = 0;

		if (q->g_time) {
			int64_t bs = bucket_of(v[i].p->t, iv, off);

			b = (size_t)((bs - b0) / iv);
			while (j < n && bucket_of(v[j].p->t, iv, off) == bs)
				j++;
		} else {
			j = n;
		}
		for (int f = 0; f < q->n_sel; f++) {
			struct cell *c = &cells[f][b];

			c->real = c->emit = agg_compute(q->sel[f].fn, q->sel[f].fld, v + i, j - i, &c->v, &c->sel_t);
		}
		i = j;
	}

	/* fill(): per function, in output order, only where the function has points at all. */
	if (q->g_time) {
		for (int f = 0; f < q->n_sel; f++) {
			struct cell *c = cells[f];
			bool any = false, is_int = fn_int_result(q->sel[f].fn, q->sel[f].fld);
			enum fill fill = q->fill_given ? q->fill : FILL_NULL;
			long prev = -1;
			size_t first = nb;

			for (size_t b = 0; b < nb; b++) {
				if (c[b].real && first == nb)
					first = b;
				any |= c[b].real;
			}
			if (!any)
				continue;
			for (size_t k = 0; k < nb; k++) {
				size_t b = q->desc ? nb - 1 - k : k;

				if (c[b].real) {
					prev = (long)b;
					continue;
				}
				if (!q->has_lo && b < first)
					continue; /* before this function's stream starts */
				switch (fill) {
				case FILL_NONE:
					break;
				case FILL_NULL:
					c[b].emit = true;
					c[b].v = q->sel[f].fn == FN_COUNT ? (struct val){ .k = V_INT, .i = 0 }
									  : (struct val){ .k = V_NULL };
					break;
				case FILL_NUMBER:
					c[b].emit = true;
					c[b].v = is_int ? (struct val){ .k = V_INT, .i = q->fill_num }
							: (struct val){ .k = V_FLOAT, .f = (double)q->fill_num };
					break;
				case FILL_PREVIOUS:
					c[b].emit = true;
					c[b].v = prev >= 0 ? c[prev].v : (struct val){ .k = V_NULL };
					break;
				case FILL_LINEAR: {
					long next = -1;

					c[b].emit = true;
					c[b].v = (struct val){ .k = V_NULL };
					for (size_t k2 = k + 1; k2 < nb && next < 0; k2++) {
						size_t b2 = q->desc ? nb - 1 - k2 : k2;

						if (c[b2].real)
							next = (long)b2;
					}
					if (prev >= 0 && next >= 0)
						c[b].v = fill_linear(&c[prev], b0 + prev * iv, &c[next], b0 + next * iv,
								     b0 + (int64_t)b * iv, iv, is_int);
					break;
				}
				}
			}
		}
	}

	es->rows = strata_calloc(nb, sizeof(*es->rows));
	assert_non_null(es->rows);
	for (size_t k = 0; k < nb; k++) {
		size_t b = q->desc ? nb - 1 - k : k;
		struct erow *row = &es->rows[es->n_rows];
		bool any = false;

		for (int f = 0; f < q->n_sel; f++) {
			const struct cell *c = &cells[f][b];

			any |= c->emit;
			row->v[f] = c->emit ? c->v : (struct val){ .k = V_NULL };
			if (row->v[f].k == V_FLOAT && isnan(row->v[f].f))
				row->v[f] = (struct val){ .k = V_NULL };
		}
		if (!any)
			continue;
		if (q->g_time)
			row->t = b0 + (int64_t)b * iv;
		else if (lone_selector)
			row->t = cells[0][0].sel_t;
		else
			row->t = q->has_lo ? q->lo : 0;
		es->n_rows++;
	}
	for (int f = 0; f < q->n_sel; f++)
		strata_free(cells[f]);
	strata_free(v);
}

static void model_eval(const struct dataset *ds, const struct query *q, struct estmt *e)
{
	struct group groups[MAX_SERIES];
	int n_groups;

	memset(e, 0, sizeof(*e));
	switch (q->kind) {
	case Q_ERR_RAW_TIME:
		e->error = "GROUP BY requires at least one aggregate function";
		return;
	case Q_ERR_MIXED:
		e->error = "mixing aggregate and non-aggregate queries is not supported";
		return;
	default:
		break;
	}
	n_groups = make_groups(ds, q, groups);
	for (int k = 0; k < n_groups; k++) {
		struct eseries *es = &e->series[e->n_series];

		memset(es, 0, sizeof(*es));
		series_tags(ds, q, &groups[k], es);
		if (q->kind == Q_RAW)
			eval_raw(ds, q, &groups[k], es);
		else
			eval_agg(ds, q, &groups[k], es);
		es->off = (size_t)q->off;
		es->lim = (size_t)q->limit;
		if (window_len(es) == 0) {
			strata_free(es->rows);
			es->rows = NULL;
			continue;
		}
		e->n_series++;
	}
}

/* ---- a small JSON reader ---- */

enum jkind { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jv {
	enum jkind k;
	bool b;
	bool is_int; /* J_NUM written without fraction or exponent, and in int64 range */
	int64_t i;
	double d;
	char *s;
	size_t s_len;
	struct jv *items; /* array items, object values */
	char **keys;      /* object keys */
	size_t n, cap;
} jv;

struct jparser {
	const char *start, *p, *end;
	int depth;
	char err[128];
};

static void jv_free(jv *v)
{
	for (size_t k = 0; k < v->n; k++) {
		jv_free(&v->items[k]);
		if (v->keys)
			strata_free(v->keys[k]);
	}
	strata_free(v->items);
	strata_free(v->keys);
	strata_free(v->s);
	memset(v, 0, sizeof(*v));
}

static void jp_ws(struct jparser *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
		j->p++;
}

static int jp_fail(struct jparser *j, const char *what)
{
	if (!j->err[0])
		snprintf(j->err, sizeof j->err, "%s at byte %td", what, j->p - j->start);
	return -1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int jp_hex4(struct jparser *j, unsigned *out)
{
	unsigned u = 0;

	if (j->end - j->p < 4)
		return jp_fail(j, "short \\u escape");
	for (int k = 0; k < 4; k++) {
		int h = hexval(j->p[k]);

		if (h < 0)
			return jp_fail(j, "bad \\u escape");
		u = u * 16 + (unsigned)h;
	}
	j->p += 4;
	*out = u;
	return 0;
}

static void put_utf8(struct buf *b, unsigned cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	buf_add(b, u, n);
}

static int jp_string(struct jparser *j, char **out, size_t *len)
{
	struct buf b = { 0 };

	j->p++; /* the opening quote */
	buf_add(&b, "", 0);
	while (j->p < j->end && *j->p != '"') {
		char c = *j->p++;

		if ((unsigned char)c < 0x20) {
			buf_free(&b);
			return jp_fail(j, "control character in string");
		}
		if (c != '\\') {
			buf_add(&b, &c, 1);
			continue;
		}
		if (j->p >= j->end)
			break;
		c = *j->p++;
		switch (c) {
		case '"': buf_add(&b, "\"", 1); break;
		case '\\': buf_add(&b, "\\", 1); break;
		case '/': buf_add(&b, "/", 1); break;
		case 'b': buf_add(&b, "\b", 1); break;
		case 'f': buf_add(&b, "\f", 1); break;
		case 'n': buf_add(&b, "\n", 1); break;
		case 'r': buf_add(&b, "\r", 1); break;
		case 't': buf_add(&b, "\t", 1); break;
		case 'u': {
			unsigned cp, lo;

			if (jp_hex4(j, &cp)) {
				buf_free(&b);
				return -1;
			}
			if (cp >= 0xD800 && cp < 0xDC00 && j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') {
				j->p += 2;
				if (jp_hex4(j, &lo)) {
					buf_free(&b);
					return -1;
				}
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			}
			put_utf8(&b, cp);
			break;
		}
		default:
			buf_free(&b);
			return jp_fail(j, "bad escape");
		}
	}
	if (j->p >= j->end) {
		buf_free(&b);
		return jp_fail(j, "unterminated string");
	}
	j->p++;
	*out = b.p;
	*len = b.len;
	return 0;
}

static int jp_value(struct jparser *j, jv *out);

static int jv_push(jv *v, char *key)
{
	if (v->n == v->cap) {
		size_t c = v->cap ? v->cap * 2 : 4;

		v->items = strata_realloc(v->items, c * sizeof(*v->items));
		assert_non_null(v->items);
		if (v->k == J_OBJ) {
			v->keys = strata_realloc(v->keys, c * sizeof(*v->keys));
			assert_non_null(v->keys);
		}
		v->cap = c;
	}
	memset(&v->items[v->n], 0, sizeof(v->items[0]));
	if (v->k == J_OBJ)
		v->keys[v->n] = key;
	v->n++;
	return 0;
}

static int jp_container(struct jparser *j, jv *out, bool obj)
{
	char close = obj ? '}' : ']';

	out->k = obj ? J_OBJ : J_ARR;
	j->p++;
	jp_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return 0;
	}
	for (;;) {
		char *key = NULL;

		jp_ws(j);
		if (obj) {
			size_t kl;

			if (j->p >= j->end || *j->p != '"')
				return jp_fail(j, "expected a key");
			if (jp_string(j, &key, &kl))
				return -1;
			jp_ws(j);
			if (j->p >= j->end || *j->p != ':') {
				strata_free(key);
				return jp_fail(j, "expected ':'");
			}
			j->p++;
		}
		jv_push(out, key);
		if (jp_value(j, &out->items[out->n - 1]))
			return -1;
		jp_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == close) {
			j->p++;
			return 0;
		}
		return jp_fail(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static int jp_number(struct jparser *j, jv *out)
{
	const char *s = j->p;
	bool integral = true;
	char tmp[64];
	size_t n;

	while (j->p < j->end && *j->p && strchr("+-0123456789.eE", *j->p)) {
		if (*j->p == '.' || *j->p == 'e' || *j->p == 'E')
			integral = false;
		j->p++;
	}
	n = (size_t)(j->p - s);
	if (n == 0 || n >= sizeof tmp)
		return jp_fail(j, "bad number");
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	out->k = J_NUM;
	out->d = strtod(tmp, NULL);
	if (integral) {
		char *endp;

		errno = 0;
		out->i = strtoll(tmp, &endp, 10);
		out->is_int = errno == 0 && *endp == '\0';
	}
	return 0;
}

static int jp_value(struct jparser *j, jv *out)
{
	int rc;

	if (++j->depth > 64)
		return jp_fail(j, "too deep");
	jp_ws(j);
	if (j->p >= j->end)
		return jp_fail(j, "unexpected end");
	switch (*j->p) {
	case '{':
		rc = jp_container(j, out, true);
		break;
	case '[':
		rc = jp_container(j, out, false);
		break;
	case '"':
		out->k = J_STR;
		rc = jp_string(j, &out->s, &out->s_len);
		break;
	case 't':
	case 'f':
	case 'n': {
		const char *word = *j->p == 't' ? "true" : *j->p == 'f' ? "false" : "null";
		size_t wl = strlen(word);

		if ((size_t)(j->end - j->p) < wl || memcmp(j->p, word, wl) != 0)
			return jp_fail(j, "bad literal");
		j->p += wl;
		out->k = *word == 'n' ? J_NULL : J_BOOL;
		out->b = *word == 't';
		rc = 0;
		break;
	}
	default:
		rc = jp_number(j, out);
		break;
	}
	j->depth--;
	return rc;
}

/* Parses text into *out; 0, or -1 with the reason in err. */
static int json_parse(const char *text, size_t len, jv *out, char *err, size_t err_cap)
{
	struct jparser j = { .start = text, .p = text, .end = text + len };

	memset(out, 0, sizeof(*out));
	if (jp_value(&j, out) == 0) {
		jp_ws(&j);
		if (j.p == j.end)
			return 0;
		jp_fail(&j, "trailing bytes");
	}
	snprintf(err, err_cap, "%s", j.err);
	jv_free(out);
	return -1;
}

static const jv *jv_get(const jv *o, const char *key)
{
	if (!o || o->k != J_OBJ)
		return NULL;
	for (size_t k = 0; k < o->n; k++)
		if (strcmp(o->keys[k], key) == 0)
			return &o->items[k];
	return NULL;
}

/* ---- comparing an answer with the model's ---- */

__attribute__((format(printf, 3, 4)))
static bool why(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, cap, fmt, ap);
	va_end(ap);
	return false;
}

static bool val_matches(const struct val *e, const jv *a)
{
	switch (e->k) {
	case V_NULL:
		return a->k == J_NULL;
	case V_INT:
		return a->k == J_NUM && a->is_int && a->i == e->i;
	case V_FLOAT:
		if (a->k != J_NUM)
			return false;
		if (a->d == e->f)
			return true;
		return fabs(a->d - e->f) <= 1e-9 * fmax(fabs(e->f), fabs(a->d)) + 1e-9;
	case V_STR:
		return a->k == J_STR && a->s_len == strlen(e->s) && memcmp(a->s, e->s, a->s_len) == 0;
	case V_BOOL:
		return a->k == J_BOOL && a->b == e->b;
	}
	return false;
}

static bool row_matches(const struct erow *e, int n_cols, const jv *a)
{
	if (a->k != J_ARR || a->n != (size_t)n_cols + 1)
		return false;
	if (a->items[0].k != J_NUM || !a->items[0].is_int || a->items[0].i != e->t)
		return false;
	for (int c = 0; c < n_cols; c++)
		if (!val_matches(&e->v[c], &a->items[c + 1]))
			return false;
	return true;
}

static void print_val(struct buf *b, const struct val *v)
{
	switch (v->k) {
	case V_NULL:
		buf_puts(b, "null");
		break;
	case V_INT:
		buf_printf(b, "%" PRId64, v->i);
		break;
	case V_FLOAT:
		buf_printf(b, "%.17g", v->f);
		break;
	case V_STR:
		buf_puts(b, "\"");
		buf_puts(b, v->s);
		buf_puts(b, "\"");
		break;
	case V_BOOL:
		buf_puts(b, v->b ? "true" : "false");
		break;
	}
}

static void print_expected(struct buf *b, const struct estmt *e)
{
	if (e->error) {
		buf_printf(b, "error containing \"%s\"", e->error);
		return;
	}
	if (e->n_series == 0)
		buf_puts(b, "no series");
	for (int k = 0; k < e->n_series; k++) {
		const struct eseries *s = &e->series[k];
		size_t w = window_len(s);

		buf_puts(b, k ? "\n  series {" : "  series {");
		for (int t = 0; t < s->n_tags; t++)
			buf_printf(b, "%s%s=%s", t ? "," : "", s->tag_key[t], s->tag_val[t]);
		buf_puts(b, "} [time");
		for (int c = 0; c < s->n_cols; c++)
			buf_printf(b, ",%s", s->cols[c]);
		buf_printf(b, "] %zu rows (of %zu, offset %zu):", w, s->n_rows, s->off);
		for (size_t r = s->off; r < s->off + w; r++) {
			if (b->len > 6000) {
				buf_puts(b, " ...");
				break;
			}
			buf_printf(b, " [%" PRId64, s->rows[r].t);
			for (int c = 0; c < s->n_cols; c++) {
				buf_puts(b, ",");
				print_val(b, &s->rows[r].v[c]);
			}
			buf_puts(b, "]");
		}
	}
}

/*
 * Rows: the times in the window must be those of the model, row by row;
 * the rows of one time may come in any order, and where the window cuts a
 * run of rows at one time, any of that run's rows may be the ones written.
 */
static bool rows_match(const struct eseries *e, const jv *values, char *msg, size_t cap)
{
	size_t w = window_len(e);
	bool *used;
	bool ok = true;

	if (!values || values->k != J_ARR)
		return why(msg, cap, "series without \"values\"");
	if (values->n != w)
		return why(msg, cap, "%zu rows, expected %zu", values->n, w);
	used = strata_calloc(e->n_rows ? e->n_rows : 1, sizeof(*used));
	assert_non_null(used);
	for (size_t k = 0; k < w && ok; k++) {
		const jv *row = &values->items[k];
		int64_t t = e->rows[e->off + k].t;
		size_t lo = e->off + k, hi = e->off + k;
		bool found = false;

		if (row->k != J_ARR || row->n == 0 || row->items[0].k != J_NUM || !row->items[0].is_int ||
		    row->items[0].i != t) {
			ok = why(msg, cap, "row %zu: time is not %" PRId64, k, t);
			break;
		}
		while (lo > 0 && e->rows[lo - 1].t == t)
			lo--;
		while (hi + 1 < e->n_rows && e->rows[hi + 1].t == t)
			hi++;
		for (size_t r = lo; r <= hi && !found; r++) {
			if (!used[r] && row_matches(&e->rows[r], e->n_cols, row)) {
				used[r] = true;
				found = true;
			}
		}
		if (!found)
			ok = why(msg, cap, "row %zu (time %" PRId64 ") differs", k, t);
	}
	strata_free(used);
	return ok;
}

static bool series_matches(const struct eseries *e, const jv *a, char *msg, size_t cap)
{
	const jv *name = jv_get(a, "name"), *tags = jv_get(a, "tags"), *cols = jv_get(a, "columns");

	if (!name || name->k != J_STR || strcmp(name->s, "m") != 0)
		return why(msg, cap, "name is not \"m\"");
	if (e->n_tags == 0) {
		if (tags && !(tags->k == J_OBJ && tags->n == 0))
			return why(msg, cap, "unexpected tags");
	} else {
		if (!tags || tags->k != J_OBJ || tags->n != (size_t)e->n_tags)
			return why(msg, cap, "tags differ");
		for (int t = 0; t < e->n_tags; t++) {
			const jv *v = jv_get(tags, e->tag_key[t]);

			if (!v || v->k != J_STR || strcmp(v->s, e->tag_val[t]) != 0 ||
			    strcmp(tags->keys[t], e->tag_key[t]) != 0)
				return why(msg, cap, "tag %s differs (expected \"%s\")", e->tag_key[t], e->tag_val[t]);
		}
	}
	if (!cols || cols->k != J_ARR || cols->n != (size_t)e->n_cols + 1)
		return why(msg, cap, "columns differ");
	if (cols->items[0].k != J_STR || strcmp(cols->items[0].s, "time") != 0)
		return why(msg, cap, "first column is not time");
	for (int c = 0; c < e->n_cols; c++)
		if (cols->items[c + 1].k != J_STR || strcmp(cols->items[c + 1].s, e->cols[c]) != 0)
			return why(msg, cap, "column %d is not %s", c + 1, e->cols[c]);
	return rows_match(e, jv_get(a, "values"), msg, cap);
}

static bool stmt_matches(const struct estmt *e, const jv *res, int id, char *msg, size_t cap)
{
	const jv *sid = jv_get(res, "statement_id"), *err = jv_get(res, "error"), *series = jv_get(res, "series");
	size_t n_series = series && series->k == J_ARR ? series->n : 0;

	if (!sid || sid->k != J_NUM || !sid->is_int || sid->i != id)
		return why(msg, cap, "statement_id is not %d", id);
	if (e->error) {
		if (!err || err->k != J_STR)
			return why(msg, cap, "no error");
		if (!strstr(err->s, e->error))
			return why(msg, cap, "error \"%s\" does not say \"%s\"", err->s, e->error);
		return true;
	}
	if (err)
		return why(msg, cap, "error \"%s\"", err->k == J_STR ? err->s : "?");
	if (series && series->k != J_ARR)
		return why(msg, cap, "\"series\" is not an array");
	if (n_series != (size_t)e->n_series)
		return why(msg, cap, "%zu series, expected %d", n_series, e->n_series);
	for (int k = 0; k < e->n_series; k++) {
		char sub[256];

		if (!series_matches(&e->series[k], &series->items[k], sub, sizeof sub))
			return why(msg, cap, "series %d: %s", k, sub);
	}
	return true;
}

/* ---- running ---- */

struct run_stats {
	uint64_t statements, mismatches, printed, rows_checked, series_checked, errors_checked;
};

static void report(const struct run_stats *st, uint64_t seed, const char *text, int id, const char *msg,
		   const struct estmt *e, const char *actual)
{
	struct buf b = { 0 };

	if (st->printed >= MAX_PRINTED)
		return;
	print_expected(&b, e);
	fprintf(stderr,
		"\n=== MISMATCH seed=0x%" PRIx64 " (STRATA_DIFF_SEED=0x%" PRIx64 " STRATA_DIFF_ROUNDS=1)\n"
		"query:     %s\nstatement: %d\nproblem:   %s\nexpected:\n%s\nactual:    %.6000s%s\n",
		seed, seed, text, id, msg, b.p, actual, strlen(actual) > 6000 ? " ..." : "");
	buf_free(&b);
}

static void count_checked(struct run_stats *st, const struct estmt *e)
{
	st->statements++;
	if (e->error)
		st->errors_checked++;
	for (int k = 0; k < e->n_series; k++) {
		st->series_checked++;
		st->rows_checked += window_len(&e->series[k]);
	}
}

/* Runs one request of n statements and compares each answer. */
static void run_request(struct env *env, const struct dataset *ds, struct query *qs, int n, uint64_t seed,
			struct run_stats *st)
{
	struct buf text = { 0 }, out = { 0 };
	query_output *o = NULL;
	query_request req = { .db = "db", .now_ns = qs[0].now };
	struct estmt e;
	jv doc;
	char err[160], msg[512];
	const jv *results;
	int rc;

	for (int k = 0; k < n; k++)
		buf_printf(&text, "%s%s", k ? "; " : "", qs[k].text);
	assert_int_equal(query_output_new(&o, QUERY_OUTPUT_JSON, QUERY_EPOCH_NS, sink_write, &out), 0);
	rc = query_run(env->qe, text.p, text.len, &req, o);
	query_output_free(o);
	buf_add(&out, "", 0);

	if (rc != 0 || json_parse(out.p, out.len, &doc, err, sizeof err) != 0) {
		memset(&e, 0, sizeof(e));
		model_eval(ds, &qs[0], &e);
		if (rc)
			snprintf(msg, sizeof msg, "query_run returned %d", rc);
		else
			snprintf(msg, sizeof msg, "unreadable JSON: %s", err);
		st->mismatches++;
		report(st, seed, text.p, 0, msg, &e, out.p);
		st->printed++;
		estmt_free(&e);
		goto out;
	}
	results = jv_get(&doc, "results");
	for (int k = 0; k < n; k++) {
		model_eval(ds, &qs[k], &e);
		count_checked(st, &e);
		if (!results || results->k != J_ARR || results->n != (size_t)n) {
			snprintf(msg, sizeof msg, "\"results\" does not hold %d statements", n);
		} else if (stmt_matches(&e, &results->items[k], k, msg, sizeof msg)) {
			estmt_free(&e);
			continue;
		}
		st->mismatches++;
		report(st, seed, n > 1 ? qs[k].text : text.p, k, msg, &e, out.p);
		st->printed++;
		estmt_free(&e);
	}
	jv_free(&doc);
out:
	buf_free(&text);
	buf_free(&out);
}

static void run_round(uint64_t seed, struct run_stats *st)
{
	rng r = { seed };
	struct dataset ds;
	struct env env;
	struct pt *log;
	size_t n_log;

	memset(&ds, 0, sizeof(ds));
	gen_series(&r, &ds);
	log = gen_writes(&r, &ds, &n_log);
	merge_writes(&ds, log, n_log);
	env_open(&env, false);
	write_log(&r, &env, &ds, log, n_log);
	strata_free(log);
	if (rng_pct(&r, 30)) {
		/* Now and then the queries read what recovery rebuilt (WAL replay, catalog log). */
		env_close(&env, true);
		env_open(&env, true);
	}

	for (int k = 0; k < QUERIES_PER_ROUND; k++) {
		struct query qs[MAX_STMTS];
		int n = rng_pct(&r, 12) ? (int)rng_range(&r, 2, MAX_STMTS) : 1;
		int64_t now = T0 + rng_range(&r, 20, SPAN / MINUTE + 40) * MINUTE + rng_range(&r, 0, 59) * SEC;

		for (int s = 0; s < n; s++)
			gen_query(&r, &ds, &qs[s], now);
		run_request(&env, &ds, qs, n, seed, st);
	}
	env_close(&env, false);
	strata_free(ds.pts);
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : dflt;
}

static void compile_regexes(void)
{
	for (size_t k = 0; k < N_REGEX; k++)
		assert_int_equal(regcomp(&regex_compiled[k], regexes[k].pattern, REG_EXTENDED | REG_NOSUB), 0);
}

static void free_regexes(void)
{
	for (size_t k = 0; k < N_REGEX; k++)
		regfree(&regex_compiled[k]);
}

static void test_query_diff_random(void **state)
{
	uint64_t seed = env_u64("STRATA_DIFF_SEED", DEFAULT_SEED);
	uint64_t rounds = env_u64("STRATA_DIFF_ROUNDS", DEFAULT_ROUNDS);
	struct run_stats st = { 0 };

	(void)state;
	compile_regexes();
	for (uint64_t k = 0; k < rounds; k++) {
		rng mix = { seed ^ (k * UINT64_C(0xD1B54A32D192ED03)) };
		uint64_t round_seed = k == 0 ? seed : rng_next(&mix);

		run_round(round_seed, &st);
	}
	free_regexes();
	fprintf(stderr,
		"query diff: %" PRIu64 " rounds, %" PRIu64 " statements (%" PRIu64 " errors expected), %" PRIu64
		" series, %" PRIu64 " rows compared, %" PRIu64 " mismatches\n",
		rounds, st.statements, st.errors_checked, st.series_checked, st.rows_checked, st.mismatches);
	if (st.mismatches)
		fail_msg("%" PRIu64 " of %" PRIu64 " statements differ from the model (first ones printed above)",
			 st.mismatches, st.statements);
}

/*
 * The comparison itself: a known answer matches, and each kind of
 * difference (value, type, row order, time, tags, columns, count, an
 * error) is caught, so that the random test cannot pass by comparing
 * nothing.
 */
static void test_query_diff_comparator(void **state)
{
	struct estmt e;
	struct eseries *s;
	jv doc;
	char err[160], msg[512];
	static const char good[] =
		"{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"tags\":{\"host\":\"h0\"},"
		"\"columns\":[\"time\",\"count\",\"mean\",\"s\"],\"values\":[[10,3,1.5,\"q\\\"x\"],"
		"[20,0,null,\"\\u00fcn\\u00ef\"],[20,1,2.0000000000000004,\"alpha\"]]}]}]}\n";
	static const struct {
		const char *text;
		bool match;
	} cases[] = {
		{ good, true },
		/* the two rows at time 20 in the other order */
		{ "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"tags\":{\"host\":\"h0\"},"
		  "\"columns\":[\"time\",\"count\",\"mean\",\"s\"],\"values\":[[10,3,1.5,\"q\\\"x\"],"
		  "[20,1,2,\"alpha\"],[20,0,null,\"\xc3\xbcn\xc3\xaf\"]]}]}]}", true },
		/* an integer written as a float */
		{ "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"tags\":{\"host\":\"h0\"},"
		  "\"columns\":[\"time\",\"count\",\"mean\",\"s\"],\"values\":[[10,3.0,1.5,\"q\\\"x\"],"
		  "[20,0,null,\"\\u00fcn\\u00ef\"],[20,1,2,\"alpha\"]]}]}]}", false },
		/* a value off by more than the tolerance */
		{ "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"tags\":{\"host\":\"h0\"},"
		  "\"columns\":[\"time\",\"count\",\"mean\",\"s\"],\"values\":[[10,3,1.5000001,\"q\\\"x\"],"
		  "[20,0,null,\"\\u00fcn\\u00ef\"],[20,1,2,\"alpha\"]]}]}]}", false },
		/* a null where a value is due */
		{ "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"tags\":{\"host\":\"h0\"},"
		  "\"columns\":[\"time\",\"count\",\"mean\",\"s\"],\"values\":[[10,3,null,\"q\\\"x\"],"
		  "[20,0,null,\"\\u00fcn\\u00ef\"],[20,1,2,\"alpha\"]]}]}]}", false },
		/* a time off by one */
		{ "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"tags\":{\"host\":\"h0\"},"
		  "\"columns\":[\"time\",\"count\",\"mean\",\"s\"],\"values\":[[11,3,1.5,\"q\\\"x\"],"
		  "[20,0,null,\"\\u00fcn\\u00ef\"],[20,1,2,\"alpha\"]]}]}]}", false },
		/* another tag value */
		{ "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"tags\":{\"host\":\"h1\"},"
		  "\"columns\":[\"time\",\"count\",\"mean\",\"s\"],\"values\":[[10,3,1.5,\"q\\\"x\"],"
		  "[20,0,null,\"\\u00fcn\\u00ef\"],[20,1,2,\"alpha\"]]}]}]}", false },
		/* a column named otherwise */
		{ "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"tags\":{\"host\":\"h0\"},"
		  "\"columns\":[\"time\",\"count\",\"mean_1\",\"s\"],\"values\":[[10,3,1.5,\"q\\\"x\"],"
		  "[20,0,null,\"\\u00fcn\\u00ef\"],[20,1,2,\"alpha\"]]}]}]}", false },
		/* a row missing */
		{ "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"tags\":{\"host\":\"h0\"},"
		  "\"columns\":[\"time\",\"count\",\"mean\",\"s\"],\"values\":[[10,3,1.5,\"q\\\"x\"],"
		  "[20,1,2,\"alpha\"]]}]}]}", false },
		/* the same row twice instead of two rows */
		{ "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"tags\":{\"host\":\"h0\"},"
		  "\"columns\":[\"time\",\"count\",\"mean\",\"s\"],\"values\":[[10,3,1.5,\"q\\\"x\"],"
		  "[20,1,2,\"alpha\"],[20,1,2,\"alpha\"]]}]}]}", false },
		/* an error instead of the series */
		{ "{\"results\":[{\"statement_id\":0,\"error\":\"boom\"}]}", false },
		/* no series */
		{ "{\"results\":[{\"statement_id\":0}]}", false },
	};

	(void)state;
	memset(&e, 0, sizeof(e));
	e.n_series = 1;
	s = &e.series[0];
	s->n_tags = 1;
	s->tag_key[0] = "host";
	s->tag_val[0] = "h0";
	add_column(s, "count");
	add_column(s, "mean");
	add_column(s, "s");
	s->rows = strata_calloc(3, sizeof(*s->rows));
	assert_non_null(s->rows);
	s->n_rows = 3;
	s->rows[0] = (struct erow){ .t = 10, .v = { { .k = V_INT, .i = 3 }, { .k = V_FLOAT, .f = 1.5 },
						    { .k = V_STR, .s = "q\"x" } } };
	s->rows[1] = (struct erow){ .t = 20, .v = { { .k = V_INT, .i = 1 }, { .k = V_FLOAT, .f = 2 },
						    { .k = V_STR, .s = "alpha" } } };
	s->rows[2] = (struct erow){ .t = 20, .v = { { .k = V_INT, .i = 0 }, { .k = V_NULL },
						    { .k = V_STR, .s = "\xc3\xbcn\xc3\xaf" } } };
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		const jv *res;
		bool m;

		assert_int_equal(json_parse(cases[k].text, strlen(cases[k].text), &doc, err, sizeof err), 0);
		res = jv_get(&doc, "results");
		assert_non_null(res);
		m = stmt_matches(&e, &res->items[0], 0, msg, sizeof msg);
		if (m != cases[k].match)
			fail_msg("case %zu: %s (%s)", k, m ? "matched" : "did not match", m ? "" : msg);
		jv_free(&doc);
	}

	/* A window that cuts the run at time 20 accepts either row there. */
	s->lim = 2;
	{
		static const char *const cut[] = {
			"{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"tags\":{\"host\":\"h0\"},"
			"\"columns\":[\"time\",\"count\",\"mean\",\"s\"],\"values\":[[10,3,1.5,\"q\\\"x\"],"
			"[20,0,null,\"\xc3\xbcn\xc3\xaf\"]]}]}]}",
			"{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"tags\":{\"host\":\"h0\"},"
			"\"columns\":[\"time\",\"count\",\"mean\",\"s\"],\"values\":[[10,3,1.5,\"q\\\"x\"],"
			"[20,1,2,\"alpha\"]]}]}]}",
		};

		for (size_t k = 0; k < 2; k++) {
			assert_int_equal(json_parse(cut[k], strlen(cut[k]), &doc, err, sizeof err), 0);
			assert_true(stmt_matches(&e, &jv_get(&doc, "results")->items[0], 0, msg, sizeof msg));
			jv_free(&doc);
		}
	}
	/* Broken JSON is refused. */
	assert_int_not_equal(json_parse("{\"results\":[", 12, &doc, err, sizeof err), 0);
	assert_int_not_equal(json_parse("{\"a\":1} x", 9, &doc, err, sizeof err), 0);
	estmt_free(&e);
}

/*
 * The model's bucket and fill arithmetic on a hand-made case, so that the
 * random test's reference is itself checked against numbers worked out by
 * hand: f = 1 at 00:00:05, 4 at 00:00:35 (host a); buckets of 10s from
 * 00:00:00 to 00:00:59; linear fill gives 2 and 3 between them. Then i = 7
 * at 00:00:25 and no lower bound: count(i)'s buckets start at its first
 * point, count(f)'s at its own.
 */
static void test_query_diff_model_fill(void **state)
{
	struct dataset ds;
	struct query q;
	struct estmt e;
	struct pt pts[3];
	const struct eseries *s;

	(void)state;
	memset(&ds, 0, sizeof(ds));
	add_series(&ds, "a", NULL);
	memset(pts, 0, sizeof pts);
	pts[0] = (struct pt){ .series = 0, .t = T0 + 5 * SEC, .has = { [FLD_F] = true }, .f = 1 };
	pts[1] = (struct pt){ .series = 0, .t = T0 + 35 * SEC, .has = { [FLD_F] = true }, .f = 4 };
	merge_writes(&ds, pts, 2);

	memset(&q, 0, sizeof(q));
	q.kind = Q_AGG;
	q.root = -1;
	q.n_sel = 2;
	q.sel[0] = (struct sel){ .is_fn = true, .fn = FN_MEAN, .fld = FLD_F, .tag = -1 };
	q.sel[1] = (struct sel){ .is_fn = true, .fn = FN_COUNT, .fld = FLD_F, .tag = -1 };
	q.has_lo = q.has_hi = true;
	q.lo = T0;
	q.hi = T0 + 59 * SEC;
	q.g_time = true;
	q.interval = 10 * SEC;
	q.fill_given = true;
	q.fill = FILL_LINEAR;
	model_eval(&ds, &q, &e);
	assert_int_equal(e.n_series, 1);
	s = &e.series[0];
	assert_int_equal(s->n_rows, 6);
	assert_string_equal(s->cols[0], "mean");
	assert_string_equal(s->cols[1], "count");
	{
		static const double mean[6] = { 1, 2, 3, 4, NAN, NAN };
		static const int64_t count[6] = { 1, 1, 1, 1, -1, -1 }; /* linear between 1 and 1 */

		for (int k = 0; k < 6; k++) {
			assert_int_equal(s->rows[k].t, T0 + k * 10 * SEC);
			if (isnan(mean[k]))
				assert_int_equal(s->rows[k].v[0].k, V_NULL);
			else
				assert_true(s->rows[k].v[0].k == V_FLOAT && s->rows[k].v[0].f == mean[k]);
			if (count[k] < 0)
				assert_int_equal(s->rows[k].v[1].k, V_NULL);
			else
				assert_true(s->rows[k].v[1].k == V_INT && s->rows[k].v[1].i == count[k]);
		}
	}
	estmt_free(&e);

	/* DESC reverses the buckets, and fill(previous) follows the output order. */
	q.fill = FILL_PREVIOUS;
	q.desc = true;
	model_eval(&ds, &q, &e);
	s = &e.series[0];
	assert_int_equal(s->n_rows, 6);
	assert_int_equal(s->rows[0].t, T0 + 50 * SEC);
	assert_int_equal(s->rows[0].v[0].k, V_NULL);      /* nothing later than 00:00:50 */
	assert_true(s->rows[3].v[0].f == 4);              /* 00:00:20 takes 00:00:30's value */
	assert_true(s->rows[5].v[0].f == 1);
	estmt_free(&e);

	/* A lone selector without GROUP BY time keeps its point's time. */
	q.g_time = false;
	q.fill_given = false;
	q.desc = false;
	q.n_sel = 1;
	q.sel[0].fn = FN_MAX;
	model_eval(&ds, &q, &e);
	assert_int_equal(e.series[0].n_rows, 1);
	assert_int_equal(e.series[0].rows[0].t, T0 + 35 * SEC);
	estmt_free(&e);
	q.n_sel = 2;
	q.sel[1] = (struct sel){ .is_fn = true, .fn = FN_MIN, .fld = FLD_F, .tag = -1 };
	model_eval(&ds, &q, &e);
	assert_int_equal(e.series[0].rows[0].t, T0); /* two selectors: the lower bound */
	estmt_free(&e);
	strata_free(ds.pts);

	pts[2] = (struct pt){ .series = 0, .t = T0 + 25 * SEC, .has = { [FLD_I] = true }, .i = 7 };
	merge_writes(&ds, pts, 3);
	q.has_lo = false;
	q.g_time = true;
	q.fill_given = false;
	q.sel[0] = (struct sel){ .is_fn = true, .fn = FN_COUNT, .fld = FLD_F, .tag = -1 };
	q.sel[1] = (struct sel){ .is_fn = true, .fn = FN_COUNT, .fld = FLD_I, .tag = -1 };
	model_eval(&ds, &q, &e);
	s = &e.series[0];
	assert_int_equal(s->n_rows, 6);
	assert_string_equal(s->cols[1], "count_1");
	{
		static const int64_t cf[6] = { 1, 0, 0, 1, 0, 0 }, ci[6] = { -1, -1, 1, 0, 0, 0 };

		for (int k = 0; k < 6; k++) {
			assert_int_equal(s->rows[k].t, T0 + k * 10 * SEC);
			assert_true(s->rows[k].v[0].k == V_INT && s->rows[k].v[0].i == cf[k]);
			if (ci[k] < 0)
				assert_int_equal(s->rows[k].v[1].k, V_NULL);
			else
				assert_true(s->rows[k].v[1].k == V_INT && s->rows[k].v[1].i == ci[k]);
		}
	}
	estmt_free(&e);
	strata_free(ds.pts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_diff_comparator),
		cmocka_unit_test(test_query_diff_model_fill),
		cmocka_unit_test(test_query_diff_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
