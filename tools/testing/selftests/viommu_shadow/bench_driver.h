/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench_driver.h - what the benchmarks share: the clock, and the cell
 * driver that times arms in a random order per repetition, after one
 * untimed warm-up each, and prints "cell NAME ARM N median p5 p95" (ns per
 * unit of N).  A benchmark names its arms by small integers (below
 * BENCH_MAX_ARMS), gives their names in bench_arm_name, and reads each
 * arm's last median from bench_med.
 */
#ifndef BENCH_DRIVER_H
#define BENCH_DRIVER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_MAX_ARMS	32
#define BENCH_MAX_REPS	10

static const char *const *bench_arm_name;
static double bench_med[BENCH_MAX_ARMS];

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static inline int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The last cell's times, per arm and repetition, in the order taken. */
static uint64_t bench_raw[BENCH_MAX_ARMS][BENCH_MAX_REPS];
static int bench_nreps;

/* Median, min and max of @nt times (sorted in place), per mapping. */
static inline void bench_report(const char *cell, int arm, uint64_t n,
				uint64_t *t, int nt)
{
	double lo, p50, hi;

	qsort(t, nt, sizeof(*t), bench_cmp_u64);
	lo = (double)t[0] / n;
	p50 = (double)t[nt / 2] / n;
	hi = (double)t[nt - 1] / n;
	bench_med[arm] = p50;
	printf("cell %s %s %llu %.0f %.0f %.0f\n", cell, bench_arm_name[arm],
	       (unsigned long long)n, p50, lo, hi);
	fflush(stdout);
}

static inline void bench_shuffle(int *a, int n, unsigned int *seed)
{
	int i, j, x;

	for (i = n - 1; i > 0; i--) {
		j = rand_r(seed) % (i + 1);
		x = a[i];
		a[i] = a[j];
		a[j] = x;
	}
}

/* Time @narms arms @nreps times each; @run returns ns. */
static inline void bench_cell(const char *name, const int *arms, int narms,
			      uint64_t n, int nreps,
			      uint64_t (*run)(int arm, uint64_t n))
{
	static uint64_t t[BENCH_MAX_ARMS][BENCH_MAX_REPS];
	unsigned int seed = 42;
	int order[BENCH_MAX_ARMS];
	int i, k;

	memcpy(order, arms, narms * sizeof(*arms));
	for (i = 0; i < narms; i++)
		run(arms[i], n);		/* warm-up */
	for (k = 0; k < nreps; k++) {
		bench_shuffle(order, narms, &seed);
		for (i = 0; i < narms; i++)
			t[order[i]][k] = run(order[i], n);
	}
	memcpy(bench_raw, t, sizeof(bench_raw));
	bench_nreps = nreps;
	for (i = 0; i < narms; i++)
		bench_report(name, arms[i], n, t[arms[i]], nreps);
}

static inline void bench_ratio(const char *name, double num, double den)
{
	printf("ratio %s %.3f\n", name, num / den);
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The group the next paired ratios belong to (a cell, or an N). */
static char bench_group[48];

static inline void bench_pratio_group(const char *group)
{
	snprintf(bench_group, sizeof(bench_group), "%s", group);
	printf("pratio-n %s\n", group);
}

/*
 * A paired ratio of two arms of the last cell: one ratio per repetition
 * (both arms ran in that repetition, in a shuffled order), each printed
 * as a "psample GROUP NAME value" line (scripts/bench.sh pools them over
 * guest boots), then their median, min and max, and how many.
 */
static inline void bench_pratio(const char *name, int num, int den)
{
	double r[BENCH_MAX_REPS];
	int k;

	for (k = 0; k < bench_nreps; k++) {
		r[k] = (double)bench_raw[num][k] / bench_raw[den][k];
		printf("psample %s %s %.4f\n", bench_group, name, r[k]);
	}
	qsort(r, bench_nreps, sizeof(r[0]), bench_cmp_double);
	printf("pratio %s %.3f %.3f %.3f %d\n", name, r[bench_nreps / 2], r[0],
	       r[bench_nreps - 1], bench_nreps);
}

#endif /* BENCH_DRIVER_H */
