/* vm_hist: log-scale histogram with a quantization grid overlay. */
#include "ui/vm_hist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/qerr.h"
#include "analysis/stats.h"

void vm_hist_init(struct vm_hist *h) { memset(h, 0, sizeof *h); }

void vm_hist_free(struct vm_hist *h)
{
    free(h->counts);
    free(h->grid);
    vm_hist_init(h);
}

int vm_hist_build(struct vm_hist *h, const float *x, size_t n, double lo, double hi, int nbins)
{
    int rc = vm_hist_begin(h, x, n, lo, hi, nbins);
    while (rc == 0 && vm_hist_pending(h))
        rc = vm_hist_step(h, 0);
    return rc;
}

int vm_hist_pending(const struct vm_hist *h) { return h->x && h->done < h->n; }

/* Accumulate the next slice (budget values, 0 = all): counts of a slice
 * add up exactly, so a histogram built in steps equals one built at once. */
int vm_hist_step(struct vm_hist *h, size_t budget)
{
    if (!vm_hist_pending(h))
        return 0;
    size_t m = h->n - h->done;
    if (budget > 0 && m > budget)
        m = budget;
    uint64_t *part = malloc((size_t)h->nbins * sizeof *part);
    if (!part)
        return QERR_NOMEM;
    if (vm_hist_linear(h->x + h->done, m, h->lo, h->hi, h->nbins, part) < 0)
        stats_hist_linear(h->x + h->done, m, h->lo, h->hi, h->nbins, part);
    for (int b = 0; b < h->nbins; b++) {
        h->counts[b] += part[b];
        if (h->counts[b] > h->maxc)
            h->maxc = h->counts[b];
    }
    free(part);
    h->done += m;
    return 0;
}

int vm_hist_begin(struct vm_hist *h, const float *x, size_t n, double lo, double hi, int nbins)
{
    if (nbins < 1)
        nbins = 1;
    if (!(hi > lo)) { /* constant or empty: a unit-wide range around it */
        lo = isfinite(lo) ? lo - 0.5 : -0.5;
        hi = lo + 1;
    }
    if (nbins != h->nbins || !h->counts) {
        uint64_t *c = realloc(h->counts, (size_t)nbins * sizeof *c);
        unsigned char *g = c ? realloc(h->grid, (size_t)nbins) : NULL;
        if (!c || !g) {
            if (c)
                h->counts = c;
            if (g)
                h->grid = g;
            h->nbins = 0; /* nothing valid to draw */
            h->x = NULL;
            return QERR_NOMEM;
        }
        h->counts = c;
        h->grid = g;
        h->nbins = nbins;
    }
    memset(h->grid, 0, (size_t)nbins);
    h->lo = lo;
    h->hi = hi;
    memset(h->counts, 0, (size_t)nbins * sizeof *h->counts);
    h->maxc = 0;
    h->x = x;
    h->n = x ? n : 0;
    h->done = 0;
    return 0;
}

/* Bin indices of a block of 256 values in one branch-free loop (the
 * compiler vectorizes it), then the increments spread over 4 interleaved
 * sub-histograms so consecutive equal bins do not serialize.  Bins are the
 * same double-precision expression as stats_hist_linear (the reference). */
#define HB 256
int vm_hist_linear(const float *x, size_t n, double lo, double hi, int nbins, uint64_t *counts)
{
    if (nbins <= 0)
        return 0;
    uint64_t *sub = calloc((size_t)nbins * 4, sizeof *sub);
    if (!sub)
        return QERR_NOMEM;
    double scale = hi > lo ? nbins / (hi - lo) : 0;
    int idx[HB];
    for (size_t i = 0; i < n; i += HB) {
        size_t m = n - i < HB ? n - i : HB;
        for (size_t k = 0; k < m; k++) {
            uint32_t bits;
            memcpy(&bits, &x[i + k], 4);
            double t = ((double)x[i + k] - lo) * scale;
            int b = t <= 0 ? 0 : t >= nbins ? nbins - 1 : (int)t;
            idx[k] = (bits & 0x7f800000u) == 0x7f800000u ? -1 : b; /* NaN/Inf skipped */
        }
        for (size_t k = 0; k < m; k++)
            if (idx[k] >= 0)
                sub[(k & 3) * (size_t)nbins + (size_t)idx[k]]++;
    }
    for (int b = 0; b < nbins; b++)
        counts[b] = sub[b] + sub[nbins + b] + sub[2 * (size_t)nbins + b] + sub[3 * (size_t)nbins + b];
    free(sub);
    return 0;
}

int vm_hist_height(const struct vm_hist *h, int b, int maxh)
{
    if (b < 0 || b >= h->nbins || h->counts[b] == 0 || h->maxc == 0)
        return 0;
    double t = log1p((double)h->counts[b]) / log1p((double)h->maxc);
    int v = (int)lround(t * maxh);
    return v < 1 ? 1 : v > maxh ? maxh : v;
}

int vm_hist_bin(const struct vm_hist *h, double v)
{
    if (h->nbins <= 0)
        return 0;
    double t = floor((v - h->lo) / (h->hi - h->lo) * h->nbins);
    if (!(t >= 0)) /* also NaN */
        return 0;
    return t >= h->nbins ? h->nbins - 1 : (int)t;
}

void vm_hist_set_grid(struct vm_hist *h, const float *levels, int n)
{
    if (!h->grid)
        return;
    memset(h->grid, 0, (size_t)h->nbins);
    for (int i = 0; i < n; i++)
        if (levels[i] >= h->lo && levels[i] <= h->hi)
            h->grid[vm_hist_bin(h, levels[i])] = 1;
}

int vm_grid_uniform(int bits, int sym, double mn, double mx, float *out, int cap)
{
    if (bits < 1 || bits > 16 || cap <= 0)
        return 0;
    int n = 0;
    if (sym) {
        double amax = fmax(fabs(mn), fabs(mx));
        int qmax = bits == 1 ? 1 : (1 << (bits - 1)) - 1;
        double s = amax / qmax;
        for (int k = -qmax; k <= qmax && n < cap; k++)
            out[n++] = (float)(k * s);
        return n;
    }
    /* quant/quant.h: the asymmetric grid spans [min(w, 0), max(w, 0)]
     * and its zero point is rint()ed, so 0 is always representable. */
    mn = fmin(mn, 0);
    mx = fmax(mx, 0);
    int levels = 1 << bits;
    double s = (mx - mn) / (levels - 1);
    if (!(s > 0))
        s = 1;
    double z = rint(-mn / s);
    for (int k = 0; k < levels && n < cap; k++)
        out[n++] = (float)((k - z) * s);
    return n;
}
