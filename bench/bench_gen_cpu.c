/*
 * bench_gen_cpu.c — writes the "cpu-only" data set of BENCHMARKS.md to a
 * file of line protocol, so that generating data is never inside a
 * measurement and every system reads the very same bytes.
 *
 * The data: measurement cpu; tags hostname=host_<i>, region, datacenter,
 * rack, os, arch, team, service, service_version, service_environment,
 * picked by host from small fixed pools; ten float fields usage_user ..
 * usage_guest_nice, each a random walk per host bounded to [0, 100]
 * (reflected at the bounds); one line per host every 10 s from
 * 2026-01-01T00:00:00Z, nanosecond timestamps, hosts in order within a step.
 *
 * Why it is built this way:
 * - The random generator, the pools and the order of every draw come from
 *   bench/cpu_workload.h, shared with bench/bench_parser.c, so with the same
 *   --hosts and --seed the file starts with exactly the bytes that benchmark
 *   parses in memory. Values are
 *   written as an agent writes a double: the shortest of %.15g, %.16g,
 *   %.17g that reads back to the same value.
 * - The variants draw from a second random stream, so the walk (and so every
 *   value of the plain file) stays the same:
 *   --late: 10 % of the lines leave their place and come 10 s to 1 h later
 *   (after the lines of the step they are due in), and 1 % of the lines are
 *   written again with new values (an overwrite: same series and timestamp),
 *   after the original and at most 1 h after its timestamp. The late lines
 *   wait in a min-heap keyed by (due time, sequence), so the output is
 *   deterministic and memory holds only the late lines of the last hour.
 *   --cardinality-per-line: a last tag line_id=<n> that differs on every
 *   line, so every line is a new series.
 * - Formatting the doubles is what costs: format_double computes the digits
 *   exactly in integers for the usual range and falls back to snprintf and
 *   strtod for the rest (same bytes, about ten times faster). Lines are
 *   assembled in a 4 MiB buffer written with write(2).
 *
 * Single-threaded; nothing is shared.
 *
 *   bench_gen_cpu --out FILE [--hosts 100] [--duration 1d] [--seed 42]
 *                 [--late] [--cardinality-per-line]
 */
#include "bench/cpu_workload.h"
#include "lsm/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GEN_LATE_MAX_NS 3600000000000LL    /* late and overwritten lines: up to 1 h */
#define GEN_OUT_BYTES (4u << 20)
#define GEN_LINE_MAX 1024                  /* longer than any line this writes */


struct options {
	uint64_t hosts;
	uint64_t duration_s;
	uint64_t seed;
	const char *out;
	bool late;
	bool card_per_line;
};

/* ---- output ---- */

struct out {
	int fd;
	char *buf;
	size_t len;
	uint64_t bytes, lines;
	int err; /* first write error, -errno */
};

static void out_flush(struct out *o)
{
	size_t done = 0;

	while (!o->err && done < o->len) {
		ssize_t n = write(o->fd, o->buf + done, o->len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			o->err = n < 0 ? -errno : -EIO;
		else
			done += (size_t)n;
	}
	o->len = 0;
}

static void out_put(struct out *o, const char *s, size_t n)
{
	if (o->len + n > GEN_OUT_BYTES)
		out_flush(o);
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->bytes += n;
	o->lines++;
}

/* ---- lines ---- */

/*
 * The shortest "%.*g" form of d (15 to 17 digits) that reads back as d:
 * the bytes of format_double_slow, which is what bench_parser.c writes.
 *
 * Three snprintf and three strtod per value make the generator slow, so
 * for 1e-4 <= d < 1e14 (every value of the walk but the rare ones near 0)
 * the digits are computed exactly in integers: d = m * 2^e, and
 * round-half-even(m * 10^k / 2^-e) is the p-digit decimal significand that
 * printf rounds to (m * 10^k < 2^53 * 10^20 fits in 128 bits). A candidate
 * D * 10^q reads back as d when (double)D / 10^-q == d: with D < 2^53 and
 * -q <= 22 both operands are exact doubles and the division is correctly
 * rounded (Clinger's fast path), which is what strtod returns. Anything
 * else takes the slow path.
 */
static int format_double_slow(char *out, size_t len, double d)
{
	int n = 0;

	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(out, len, "%.*g", prec, d);
		if (strtod(out, NULL) == d)
			break;
	}
	return n;
}

typedef unsigned __int128 u128;

static const double exact_pow10[23] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static u128 pow10_u128(int k)
{
	u128 r = 1;

	while (k-- > 0)
		r *= 10;
	return r;
}

/* round-half-even(m * 10^k / 2^s), and the truncated quotient in *trunc. */
static uint64_t scaled_round(uint64_t m, int k, int s, uint64_t *trunc)
{
	u128 n = (u128)m * pow10_u128(k), rem = n & (((u128)1 << s) - 1), half = (u128)1 << (s - 1);
	uint64_t q = (uint64_t)(n >> s);

	if (trunc)
		*trunc = q;
	if (rem > half || (rem == half && (q & 1)))
		q++;
	return q;
}

/* Writes the %g fixed form of D * 10^(x - p + 1) (D has p digits); returns its length. */
static int format_fixed(char *out, uint64_t D, int p, int x)
{
	char digits[20];
	int n = 0;

	for (int i = p - 1; i >= 0; i--) {
		digits[i] = (char)('0' + D % 10);
		D /= 10;
	}
	while (p > 1 && digits[p - 1] == '0')
		p--;
	if (x < 0) {
		out[n++] = '0';
		out[n++] = '.';
		for (int i = 0; i < -x - 1; i++)
			out[n++] = '0';
		memcpy(out + n, digits, (size_t)p);
		n += p;
	} else {
		for (int i = 0; i <= x; i++)
			out[n++] = i < p ? digits[i] : '0';
		if (p > x + 1) {
			out[n++] = '.';
			memcpy(out + n, digits + x + 1, (size_t)(p - x - 1));
			n += p - x - 1;
		}
	}
	out[n] = '\0';
	return n;
}

static int format_double(char *out, size_t len, double d)
{
	uint64_t bits, m, trunc;
	int e, s, x;

	if (!(d >= 1e-4 && d < 1e14) || len < 32)
		return format_double_slow(out, len, d);
	memcpy(&bits, &d, sizeof bits);
	m = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
	e = (int)((bits >> 52) & 0x7ff) - 1075;
	s = -e; /* 3 .. 66 in this range */
	x = (int)floor(log10(d));
	for (int tries = 0;; tries++) { /* the decimal exponent: 10^16 <= trunc(d * 10^(16 - x)) < 10^17 */
		if (tries == 3 || 16 - x < 0 || 16 - x > 20)
			return format_double_slow(out, len, d);
		scaled_round(m, 16 - x, s, &trunc);
		if (trunc >= 100000000000000000ULL)
			x++;
		else if (trunc < 10000000000000000ULL)
			x--;
		else
			break;
	}
	for (int p = 15; p <= 17; p++) {
		uint64_t D = scaled_round(m, p - 1 - x, s, NULL);
		int xp = x, q;

		if (D == (uint64_t)pow10_u128(p)) { /* rounded up to the next power of ten */
			D /= 10;
			xp++;
		}
		if (xp < -4 || xp >= 15)
			return format_double_slow(out, len, d);
		q = xp - p + 1;
		if (p == 17)
			return format_fixed(out, D, p, xp);
		if (D < (1ULL << 53) && q <= 0 && -q <= 22) {
			if ((double)D / exact_pow10[-q] == d)
				return format_fixed(out, D, p, xp);
		} else {
			int n = format_fixed(out, D, p, xp);

			if (strtod(out, NULL) == d)
				return n;
		}
	}
	return format_double_slow(out, len, d); /* not reached: 17 digits always read back */
}

static size_t put_u64(char *w, uint64_t v)
{
	char tmp[24];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		w[i] = tmp[n - 1 - i];
	return n;
}

/* Formats one line into w (GEN_LINE_MAX bytes; the tag set is under 512); returns its length. */
static size_t format_line(char *w, const char *tagset, uint64_t line_id, bool card_per_line, const double *values,
			  int64_t t)
{
	size_t n = strlen(tagset);

	memcpy(w, tagset, n);
	if (card_per_line) {
		memcpy(w + n, ",line_id=", 9);
		n += 9;
		n += put_u64(w + n, line_id);
	}
	for (int f = 0; f < CPU_N_FIELDS; f++) {
		size_t k = strlen(cpu_field_names[f]);

		w[n++] = f ? ',' : ' ';
		memcpy(w + n, cpu_field_names[f], k);
		n += k;
		w[n++] = '=';
		n += (size_t)format_double(w + n, GEN_LINE_MAX - n, values[f]);
	}
	w[n++] = ' ';
	n += put_u64(w + n, (uint64_t)t);
	w[n++] = '\n';
	return n;
}

/* ---- the late lines: a binary min-heap on (due_ns, seq) ---- */

struct late_line {
	int64_t due_ns;
	uint64_t seq;
	char *text;
	size_t len;
};

struct late_heap {
	struct late_line *v;
	size_t n, cap;
	uint64_t next_seq;
};

static bool late_less(const struct late_line *a, const struct late_line *b)
{
	return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static int late_push(struct late_heap *h, int64_t due_ns, const char *text, size_t len)
{
	struct late_line e = { due_ns, h->next_seq++, NULL, len };
	size_t i;

	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 1024;
		struct late_line *grown = strata_realloc(h->v, cap * sizeof *grown);

		if (!grown)
			return -ENOMEM;
		h->v = grown;
		h->cap = cap;
	}
	e.text = strata_malloc(len);
	if (!e.text)
		return -ENOMEM;
	memcpy(e.text, text, len);
	for (i = h->n++; i > 0; i = (i - 1) / 2) {
		struct late_line *parent = &h->v[(i - 1) / 2];

		if (!late_less(&e, parent))
			break;
		h->v[i] = *parent;
	}
	h->v[i] = e;
	return 0;
}

static struct late_line late_pop(struct late_heap *h)
{
	struct late_line top = h->v[0], last = h->v[--h->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && late_less(&h->v[c + 1], &h->v[c]))
			c++;
		if (!late_less(&h->v[c], &last))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = last;
	return top;
}

/* Writes every late line due at or before until_ns (all of them for INT64_MAX). */
static void late_drain(struct late_heap *h, struct out *o, int64_t until_ns)
{
	while (h->n && h->v[0].due_ns <= until_ns) {
		struct late_line e = late_pop(h);

		out_put(o, e.text, e.len);
		strata_free(e.text);
	}
}

static void late_free(struct late_heap *h)
{
	for (size_t i = 0; i < h->n; i++)
		strata_free(h->v[i].text);
	strata_free(h->v);
}

/* A delay of 1 to 360 steps: 10 s to 1 h. */
static int64_t late_delay(struct cpu_rng *r)
{
	return (int64_t)(1 + cpu_rng_next(r) % (uint64_t)(GEN_LATE_MAX_NS / CPU_STEP_NS)) * CPU_STEP_NS;
}

/*
 * When the overwrite of the line of time t, first written at written_at,
 * comes: 10 s to 1 h after it but no later than t + 1 h (at written_at itself
 * when that is already t + 1 h: the heap's sequence still puts it after).
 */
static int64_t rewrite_due(struct cpu_rng *r, int64_t t, int64_t written_at)
{
	uint64_t steps_left = (uint64_t)(t + GEN_LATE_MAX_NS - written_at) / CPU_STEP_NS;

	if (steps_left == 0)
		return written_at;
	return written_at + (int64_t)(1 + cpu_rng_next(r) % steps_left) * CPU_STEP_NS;
}

/* ---- the generator ---- */

static int generate(const struct options *o, struct out *out, uint64_t *out_late, uint64_t *out_overwrites)
{
	struct cpu_rng walk_rng;
	struct cpu_rng var_rng = { (o->seed ^ 0x5DEECE66DULL) * 0xBF58476D1CE4E5B9ULL + 1 };
	uint64_t steps = o->duration_s / (CPU_STEP_NS / 1000000000LL), line_id = 0;
	struct late_heap heap = { 0 };
	char (*tagsets)[512] = NULL;
	double *walk = NULL;
	char line[GEN_LINE_MAX];
	int rc = -ENOMEM;

	tagsets = strata_malloc(o->hosts * sizeof *tagsets);
	walk = strata_malloc(o->hosts * CPU_N_FIELDS * sizeof *walk);
	if (!tagsets || !walk)
		goto out;
	cpu_rng_seed(&walk_rng, o->seed);
	for (uint64_t h = 0; h < o->hosts; h++)
		cpu_host_init(tagsets[h], sizeof tagsets[h], h, &walk[h * CPU_N_FIELDS], &walk_rng);
	*out_late = *out_overwrites = 0;
	for (uint64_t s = 0; s < steps && !out->err; s++) {
		int64_t t = CPU_START_NS + (int64_t)s * CPU_STEP_NS;

		for (uint64_t h = 0; h < o->hosts; h++) {
			double *v = &walk[h * CPU_N_FIELDS];
			size_t n;

			cpu_walk_step(v, &walk_rng);
			n = format_line(line, tagsets[h], line_id++, o->card_per_line, v, t);
			if (!o->late) {
				out_put(out, line, n);
				continue;
			}
			{
				bool is_late = cpu_rng_unit(&var_rng) < 0.10, rewrite = cpu_rng_unit(&var_rng) < 0.01;
				int64_t written_at = t;

				if (is_late) {
					written_at = t + late_delay(&var_rng);
					rc = late_push(&heap, written_at, line, n);
					if (rc)
						goto out;
					(*out_late)++;
				} else {
					out_put(out, line, n);
				}
				if (rewrite) {
					double nv[CPU_N_FIELDS];

					for (int f = 0; f < CPU_N_FIELDS; f++) {
						nv[f] = v[f] + (cpu_rng_unit(&var_rng) - 0.5) * 20.0;
						nv[f] = nv[f] < 0 ? 0 : nv[f] > 100 ? 100 : nv[f];
					}
					n = format_line(line, tagsets[h], line_id - 1, o->card_per_line, nv, t);
					rc = late_push(&heap, rewrite_due(&var_rng, t, written_at), line, n);
					if (rc)
						goto out;
					(*out_overwrites)++;
				}
			}
		}
		late_drain(&heap, out, t);
	}
	late_drain(&heap, out, INT64_MAX);
	out_flush(out);
	rc = out->err;
out:
	late_free(&heap);
	strata_free(tagsets);
	strata_free(walk);
	return rc;
}

/* "1d", "10m", "3600s", "2h", "3600" (seconds): 0 when unreadable. */
static uint64_t parse_duration(const char *s)
{
	char *end;
	unsigned long long n = strtoull(s, &end, 10);
	uint64_t unit = 1;

	if (end == s)
		return 0;
	if (*end == 's')
		unit = 1;
	else if (*end == 'm')
		unit = 60;
	else if (*end == 'h')
		unit = 3600;
	else if (*end == 'd')
		unit = 86400;
	else if (*end)
		return 0;
	if (*end && end[1])
		return 0;
	return n > UINT64_MAX / unit ? 0 : n * unit;
}

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s --out FILE|- [--hosts N] [--duration D] [--seed S] [--late] [--cardinality-per-line]\n"
		"  --hosts N               hosts, one line each every 10 s (100)\n"
		"  --duration D            span from 2026-01-01T00:00:00Z: 1d, 12h, 10m, 600s (1d)\n"
		"  --seed S                seed of every random choice (42)\n"
		"  --late                  10%% of lines 10 s..1 h late, 1%% written again with new values\n"
		"  --cardinality-per-line  add a tag line_id=<n> that differs on every line\n"
		"Writes the cpu-only data set (BENCHMARKS.md) as line protocol, ns timestamps;\n"
		"a summary goes to stderr.\n",
		argv0);
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "hosts", required_argument, NULL, 'H' },
		{ "duration", required_argument, NULL, 'd' },
		{ "seed", required_argument, NULL, 's' },
		{ "out", required_argument, NULL, 'o' },
		{ "late", no_argument, NULL, 'l' },
		{ "cardinality-per-line", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = { .hosts = 100, .duration_s = 86400, .seed = 42 };
	struct out out = { .fd = -1 };
	uint64_t late = 0, overwrites = 0;
	struct timespec t0, t1;
	double secs;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (c) {
		case 'H': o.hosts = strtoull(optarg, NULL, 10); break;
		case 'd': o.duration_s = parse_duration(optarg); break;
		case 's': o.seed = strtoull(optarg, NULL, 10); break;
		case 'o': o.out = optarg; break;
		case 'l': o.late = true; break;
		case 'c': o.card_per_line = true; break;
		case 'h': usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
	}
	if (optind != argc || !o.out || o.hosts == 0 || o.hosts > 100000000 ||
	    o.duration_s < CPU_STEP_NS / 1000000000LL) {
		fprintf(stderr, "%s: --out is required; --hosts 1..1e8; --duration at least 10s\n", argv[0]);
		usage(stderr, argv[0]);
		return 2;
	}
	out.buf = strata_malloc(GEN_OUT_BYTES);
	if (!out.buf) {
		fprintf(stderr, "%s: out of memory\n", argv[0]);
		return 1;
	}
	if (strcmp(o.out, "-") == 0)
		out.fd = STDOUT_FILENO;
	else
		out.fd = open(o.out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out.fd < 0) {
		fprintf(stderr, "%s: cannot create %s: %s\n", argv[0], o.out, strerror(errno));
		strata_free(out.buf);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = generate(&o, &out, &late, &overwrites);
	if (out.fd != STDOUT_FILENO && close(out.fd) != 0 && !rc)
		rc = -errno;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
	if (rc) {
		fprintf(stderr, "%s: writing %s: %s\n", argv[0], o.out, strerror(-rc));
		if (out.fd != STDOUT_FILENO)
			unlink(o.out);
	} else {
		fprintf(stderr,
			"cpu-only: %" PRIu64 " hosts, %" PRIu64 " s, seed %" PRIu64 "%s%s: %" PRIu64 " lines, %" PRIu64
			" field values, %" PRIu64 " bytes (%" PRIu64 " late, %" PRIu64 " overwrites) in %.1f s\n",
			o.hosts, o.duration_s, o.seed, o.late ? ", late" : "",
			o.card_per_line ? ", line_id per line" : "", out.lines, out.lines * CPU_N_FIELDS, out.bytes,
			late, overwrites, secs);
	}
	strata_free(out.buf);
	return rc ? 1 : 0;
}
