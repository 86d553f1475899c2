/*
 * bench_parser.c — the "parser alone" ingest figure of BENCHMARKS.md: how
 * fast ingest/line_protocol.c turns line protocol into points, per core.
 *
 * Why it is built this way:
 * - The cpu-only workload (measurement cpu, ten tags picked from fixed pools
 *   by host, ten float fields walking at random per host, one line per host
 *   every 10 s from 2026-01-01T00:00:00Z, nanosecond timestamps) is generated
 *   in memory from --seed before any timing, so generation is never measured
 *   and the same options always give the same bytes. Field values are written
 *   as an agent writes a double: the shortest decimal that reads back to the
 *   same value (usually 15 to 17 digits), which is the hard case for the
 *   float conversion.
 * - One thread parses the whole buffer --runs times; each run is timed with
 *   the thread's CPU clock (figures per core) and the wall clock. Every run
 *   checks the point, value and error counts against the generator's and
 *   folds every value into a checksum, so a parser that skips work shows up
 *   as WRONG instead of as a fast figure.
 *
 * Build (optimized, no sanitizers) and run:
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -DNDEBUG -I. ingest/line_protocol.c \
 *       bench/bench_parser.c -o /tmp/bench_parser -lpthread -lm
 *   /tmp/bench_parser [--hosts 100] [--mb 100] [--runs 5] [--seed 42]
 *
 * Single-threaded; nothing is shared.
 */
#include "ingest/line_protocol.h"
#include "bench/cpu_workload.h"
#include "lsm/alloc.h"

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MAX_RUNS 100

struct options {
	uint32_t hosts;
	uint32_t mb;
	uint32_t runs;
	uint64_t seed;
};

struct dataset {
	char *buf;
	size_t len;
	uint64_t lines;
	uint64_t values;
};

struct run {
	double cpu_s;
	double wall_s;
};


/* The shortest "%.*g" form of d that reads back as d. */
static int format_double(char *out, size_t len, double d)
{
	int n = 0;

	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(out, len, "%.*g", prec, d);
		if (strtod(out, NULL) == d)
			break;
	}
	return n;
}

/* Builds about mb MiB of cpu-only lines, whole time steps of every host. */
static int generate(const struct options *o, struct dataset *ds)
{
	size_t target = (size_t)o->mb << 20, cap = target + ((size_t)o->hosts + 1) * 1024;
	char (*tagsets)[512] = NULL;
	double *walk = NULL;
	struct cpu_rng rng;
	int rc = -1;

	ds->buf = strata_malloc(cap);
	tagsets = strata_malloc((size_t)o->hosts * sizeof *tagsets);
	walk = strata_malloc((size_t)o->hosts * CPU_N_FIELDS * sizeof *walk);
	if (!ds->buf || !tagsets || !walk)
		goto out;
	cpu_rng_seed(&rng, o->seed);
	for (uint32_t h = 0; h < o->hosts; h++)
		cpu_host_init(tagsets[h], sizeof tagsets[h], h, &walk[(size_t)h * CPU_N_FIELDS], &rng);
	ds->len = 0;
	ds->lines = 0;
	for (int64_t t = CPU_START_NS; ds->len < target; t += CPU_STEP_NS) {
		for (uint32_t h = 0; h < o->hosts; h++) {
			char *w = ds->buf + ds->len;
			size_t room = cap - ds->len;
			int n = snprintf(w, room, "%s ", tagsets[h]);

			double *v = &walk[(size_t)h * CPU_N_FIELDS];

			cpu_walk_step(v, &rng);
			for (int f = 0; f < CPU_N_FIELDS; f++) {
				n += snprintf(w + n, room - (size_t)n, "%s%s=", f ? "," : "", cpu_field_names[f]);
				n += format_double(w + n, room - (size_t)n, v[f]);
			}
			n += snprintf(w + n, room - (size_t)n, " %" PRId64 "\n", t);
			ds->len += (size_t)n;
			ds->lines++;
		}
	}
	ds->values = ds->lines * CPU_N_FIELDS;
	rc = 0;
out:
	strata_free(tagsets);
	strata_free(walk);
	return rc;
}

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One pass over the buffer; returns 0, or -1 when the counts are wrong. */
static int parse_once(ingest_lp_parser *p, const struct dataset *ds, struct run *r, double *checksum)
{
	ingest_lp_point pt;
	ingest_lp_error err;
	uint64_t lines = 0, values = 0, errors = 0;
	double sum = 0, cpu0, wall0;
	int rc;

	cpu0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	wall0 = clock_s(CLOCK_MONOTONIC);
	ingest_lp_parser_reset(p, ds->buf, ds->len, INGEST_LP_NS, 1);
	while ((rc = ingest_lp_parser_next(p, &pt, &err)) != 0) {
		if (rc < 0) {
			errors++;
			continue;
		}
		lines++;
		values += pt.n_fields;
		for (uint32_t f = 0; f < pt.n_fields; f++)
			sum += pt.fields[f].v.f;
		sum += (double)(pt.time_ns & 0xff) + pt.n_tags;
	}
	r->cpu_s = clock_s(CLOCK_THREAD_CPUTIME_ID) - cpu0;
	r->wall_s = clock_s(CLOCK_MONOTONIC) - wall0;
	*checksum = sum;
	if (errors || lines != ds->lines || values != ds->values) {
		printf("WRONG: %" PRIu64 " points, %" PRIu64 " values, %" PRIu64 " errors"
		       " (expected %" PRIu64 " points, %" PRIu64 " values)\n",
		       lines, values, errors, ds->lines, ds->values);
		if (errors)
			printf("  last error: line %" PRIu64 " column %u: %s\n", err.line, err.column, err.reason);
		return -1;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Prints median [min–max] of per-run rates (amount / seconds). */
static void print_rate(const char *what, const struct run *runs, uint32_t n, double amount, double scale,
		       const char *unit)
{
	double rates[BENCH_MAX_RUNS];

	for (uint32_t i = 0; i < n; i++)
		rates[i] = amount / runs[i].cpu_s / scale;
	qsort(rates, n, sizeof rates[0], cmp_double);
	printf("%-14s %10.2f %s  [%.2f – %.2f]\n", what, rates[n / 2], unit, rates[0], rates[n - 1]);
}

static const char *build_type(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	return "sanitizer build (figures meaningless)";
#elif defined(__OPTIMIZE__) && defined(NDEBUG)
	return "optimized, NDEBUG";
#elif defined(__OPTIMIZE__)
	return "optimized, assertions on";
#else
	return "not optimized (figures meaningless)";
#endif
}

static void first_line_of(const char *cmd, char *buf, size_t len)
{
	FILE *f = popen(cmd, "r");

	buf[0] = '\0';
	if (!f)
		return;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	pclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

static void describe(const struct options *o, const struct dataset *ds)
{
	char commit[64], cpu[160] = "unknown", line[256];
	const char *slash = strrchr(__FILE__, '/');
	char cmd[PATH_MAX + 96];
	FILE *f;

	snprintf(cmd, sizeof cmd, "git -C '%.*s' rev-parse --short HEAD 2>/dev/null",
		 slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".");
	first_line_of(cmd, commit, sizeof commit);
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) == 0 && colon) {
			snprintf(cpu, sizeof cpu, "%s", colon + 2);
			cpu[strcspn(cpu, "\n")] = '\0';
			break;
		}
	}
	if (f)
		fclose(f);
	printf("build       %s\n", build_type());
	printf("commit      %s\n", commit[0] ? commit : "unknown");
	printf("machine     %ld cores online, %s\n", sysconf(_SC_NPROCESSORS_ONLN), cpu);
	printf("workload    cpu-only: %u hosts, 10 tags, %d float fields (shortest round-trip decimals),"
	       " ns timestamps, seed %" PRIu64 "\n", o->hosts, CPU_N_FIELDS, o->seed);
	printf("dataset     %.1f MiB in memory, %" PRIu64 " lines (%.1f bytes/line), %" PRIu64 " field values\n",
	       (double)ds->len / (1 << 20), ds->lines, (double)ds->len / (double)ds->lines, ds->values);
	printf("runs        %u, one thread; rates per core (thread CPU time), median [min – max]\n", o->runs);
	printf("\n");
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--hosts N] [--mb MiB] [--runs R] [--seed S]\n", argv0);
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "hosts", required_argument, NULL, 'H' },
		{ "mb", required_argument, NULL, 'M' },
		{ "runs", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = { .hosts = 100, .mb = 100, .runs = 5, .seed = 42 };
	struct dataset ds = { 0 };
	struct run runs[BENCH_MAX_RUNS];
	ingest_lp_parser p;
	double checksum = 0, first_sum = 0, wall[BENCH_MAX_RUNS];
	int c, rc = 1;
	bool parser_ready = false;

	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (c) {
		case 'H': o.hosts = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'M': o.mb = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'r': o.runs = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 's': o.seed = strtoull(optarg, NULL, 10); break;
		default: usage(argv[0]); return c == 'h' ? 0 : 2;
		}
	}
	if (o.hosts == 0 || o.mb == 0 || o.runs == 0 || o.runs > BENCH_MAX_RUNS) {
		usage(argv[0]);
		return 2;
	}
	if (generate(&o, &ds)) {
		fprintf(stderr, "out of memory generating %u MiB\n", o.mb);
		goto out;
	}
	describe(&o, &ds);
	fflush(stdout);
	if (ingest_lp_parser_init(&p, NULL)) {
		fprintf(stderr, "out of memory\n");
		goto out;
	}
	parser_ready = true;
	for (uint32_t r = 0; r < o.runs; r++) {
		if (parse_once(&p, &ds, &runs[r], &checksum))
			goto out;
		if (r == 0)
			first_sum = checksum;
		else if (checksum != first_sum) {
			printf("WRONG: run %u checksum %.17g differs from run 0 (%.17g)\n", r, checksum, first_sum);
			goto out;
		}
		wall[r] = runs[r].wall_s;
		fprintf(stderr, "run %u: %.3f s CPU, %.1f MB/s\n", r + 1, runs[r].cpu_s,
			(double)ds.len / runs[r].cpu_s / 1e6);
	}
	qsort(wall, o.runs, sizeof wall[0], cmp_double);
	printf("figure         median per core  [min – max]\n");
	print_rate("MB/s", runs, o.runs, (double)ds.len, 1e6, "MB/s");
	print_rate("lines/s", runs, o.runs, (double)ds.lines, 1e6, "M lines/s");
	print_rate("values/s", runs, o.runs, (double)ds.values, 1e6, "M values/s");
	printf("wall time      %.3f s median per run; checksum %.6g\n", wall[o.runs / 2], first_sum);
	rc = 0;
out:
	if (parser_ready)
		ingest_lp_parser_deinit(&p);
	strata_free(ds.buf);
	return rc;
}
