/* Shared helpers of the benchmarks: clocks and medians.  Benchmarks report
 * the median of several repetitions, as ratios against a baseline measured
 * in the same run, because the machine is shared and noisy. */
#ifndef QLENS_BENCH_H
#define QLENS_BENCH_H

#include <stdlib.h>
#include <time.h>

/* Wall-clock seconds. */
static inline double bench_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds of the calling thread: what a single-threaded kernel costs,
 * undisturbed by other processes waiting for the same cores. */
static inline double bench_thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sort v[0..n) ascending (so v[n/2] is the median). */
static inline void bench_sort(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
}

/* Median of v[0..n); sorts v in place. */
static inline double bench_median(double *v, int n)
{
    bench_sort(v, n);
    return v[n / 2];
}

#endif
