/* vm_hist: histogram rows of the Tensor / Quant views (no curses).
 *
 * Values are binned linearly over [lo, hi] (by default [-absmax, absmax]);
 * bar heights are on a log scale, log(1 + count), so the few outliers in
 * the tails stay visible next to a bulk of millions.  The quantizer's grid
 * (its representable values) is overlaid as marks under the bins that
 * contain a grid point. */
#ifndef QLENS_UI_VM_HIST_H
#define QLENS_UI_VM_HIST_H

#include <stddef.h>
#include <stdint.h>

struct vm_hist {
    int nbins;
    double lo, hi;
    uint64_t *counts;     /* (nbins) */
    uint64_t maxc;
    unsigned char *grid;  /* (nbins) 1 where a grid value falls          */
    const float *x;       /* values being binned (not owned)              */
    size_t n, done;       /* done < n: more slices to add (vm_hist_step)   */
};

void vm_hist_init(struct vm_hist *h);
void vm_hist_free(struct vm_hist *h);
/* Bin x[0..n) over [lo, hi] into nbins (lo == hi widens the range). */
int vm_hist_build(struct vm_hist *h, const float *x, size_t n, double lo, double hi, int nbins);
/* The same in slices: begin, then step(budget values) while pending, so
 * a frame never bins more than `budget` values; x must stay valid. */
int vm_hist_begin(struct vm_hist *h, const float *x, size_t n, double lo, double hi, int nbins);
int vm_hist_step(struct vm_hist *h, size_t budget);
int vm_hist_pending(const struct vm_hist *h);
/* Fast linear histogram, same bins as stats_hist_linear (its reference);
 * QERR_NOMEM when scratch cannot be allocated. */
int vm_hist_linear(const float *x, size_t n, double lo, double hi, int nbins, uint64_t *counts);
/* Height in [0, maxh] of bin b on the log scale (0 only for empty bins;
 * a non-empty bin is at least 1 so single outliers show). */
int vm_hist_height(const struct vm_hist *h, int b, int maxh);
/* Bin index of value v (clamped). */
int vm_hist_bin(const struct vm_hist *h, double v);
/* Mark the bins holding each of the n grid values. */
void vm_hist_set_grid(struct vm_hist *h, const float *levels, int n);

/* The representable values of a uniform b-bit grid over values that lie
 * in [mn, mx] and share one scale (a tensor, a row or a group):
 * symmetric: scale = absmax / (2^(b-1) - 1), levels k*scale for
 *            k = -(2^(b-1)-1) .. 2^(b-1)-1  (2^b - 1 values);
 * asymmetric: over [min(mn, 0), max(mx, 0)] as quant/quant.h's grid,
 *            scale = (hi - lo) / (2^b - 1), zero = rint(-lo / scale),
 *            levels (k - zero)*scale, k = 0 .. 2^b-1.
 * Writes at most cap values; returns the count. */
int vm_grid_uniform(int bits, int sym, double mn, double mx, float *out, int cap);

#endif
