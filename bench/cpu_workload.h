/*
 * cpu_workload.h — the "cpu-only" data of BENCHMARKS.md, shared by the file
 * generator (bench_gen_cpu) and the in-memory parser benchmark
 * (bench_parser), so that both produce the very same series and values
 * from the same seed: the pools, the random stream and the order of every
 * draw live here once.
 */
#ifndef STRATA_BENCH_CPU_WORKLOAD_H
#define STRATA_BENCH_CPU_WORKLOAD_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CPU_START_NS 1767225600000000000LL /* 2026-01-01T00:00:00Z */
#define CPU_STEP_NS 10000000000LL          /* one line per host every 10 s */
#define CPU_N_FIELDS 10

static const char *const cpu_field_names[CPU_N_FIELDS] = {
	"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
	"usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice",
};

/* xorshift64*: small, fast, the same on every machine. */
struct cpu_rng {
	uint64_t s;
};

static inline void cpu_rng_seed(struct cpu_rng *r, uint64_t seed)
{
	r->s = seed * 0x9E3779B97F4A7C15ULL + 1;
}

static inline uint64_t cpu_rng_next(struct cpu_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 2685821657736338717ULL;
}

static inline double cpu_rng_unit(struct cpu_rng *r)
{
	return (double)(cpu_rng_next(r) >> 11) * 0x1p-53;
}

/*
 * Draws host h's tags (written into tagset: measurement and tag set, as a
 * line starts) and the starting point of its ten random walks.
 */
static inline void cpu_host_init(char *tagset, size_t len, uint64_t h, double walk[CPU_N_FIELDS], struct cpu_rng *r)
{
	static const char *const regions[] = {
		"us-east-1", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1",
		"ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1",
	};
	static const char *const oses[] = { "Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10" };
	static const char *const arches[] = { "x64", "x86" };
	static const char *const teams[] = { "SF", "NYC", "LON", "CHI" };
	static const char *const envs[] = { "production", "staging", "test" };
	const char *region = regions[cpu_rng_next(r) % 9];
	char dc = (char)('a' + cpu_rng_next(r) % 3);
	unsigned rack = (unsigned)(cpu_rng_next(r) % 100);
	const char *os = oses[cpu_rng_next(r) % 3];
	const char *arch = arches[cpu_rng_next(r) % 2];
	const char *team = teams[cpu_rng_next(r) % 4];
	unsigned service = (unsigned)(cpu_rng_next(r) % 20);
	unsigned version = (unsigned)(cpu_rng_next(r) % 2);
	const char *env = envs[cpu_rng_next(r) % 3];

	snprintf(tagset, len,
		 "cpu,hostname=host_%" PRIu64 ",region=%s,datacenter=%s%c,rack=%u,os=%s,arch=%s,team=%s,"
		 "service=%u,service_version=%u,service_environment=%s",
		 h, region, region, dc, rack, os, arch, team, service, version, env);
	for (int f = 0; f < CPU_N_FIELDS; f++)
		walk[f] = cpu_rng_unit(r) * 100.0;
}

/* One step of a host's walks: each moves by up to ±1, reflected into [0, 100]. */
static inline void cpu_walk_step(double walk[CPU_N_FIELDS], struct cpu_rng *r)
{
	for (int f = 0; f < CPU_N_FIELDS; f++) {
		walk[f] += (cpu_rng_unit(r) - 0.5) * 2.0;
		if (walk[f] < 0)
			walk[f] = -walk[f];
		if (walk[f] > 100)
			walk[f] = 200 - walk[f];
	}
}

#endif
