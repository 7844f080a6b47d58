/* Wall-clock seconds for the timings that runs report (perplexity,
 * quantization, dashboard jobs); one definition instead of a copy each. */
#ifndef QLENS_QCLOCK_H
#define QLENS_QCLOCK_H

#include <time.h>

static inline double qclock_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
