/* qgrid: the one uniform grid (scale, zero point) every quantizer uses.
 *
 * Written once, used by RTN, GPTQ, AWQ, SpQR, LLM.int8 and SmoothQuant so
 * that "4-bit asymmetric, group 128" means the same levels everywhere.
 * The conventions are spelled out in quant/quant.h.  Internal to quant/. */
#ifndef QLENS_QGRID_H
#define QLENS_QGRID_H

#include <math.h>

struct qgrid {
    float scale;       /* step between levels (> 0)                       */
    float zero;        /* asymmetric: integer level of 0.0 (SpQR may keep
                          it fractional); symmetric: 0                     */
    float qmin, qmax;  /* integer level range: [0, 2^b-1] or [-m, m]      */
};

/* Grid for values in [lo, hi] (lo <= 0 <= hi is NOT required; the asymmetric
 * grid widens the range to include 0).  round_zero 0 keeps zero fractional
 * (SpQR, which quantizes zero points itself). */
void qgrid_from_range(struct qgrid *g, float lo, float hi, int bits, int sym,
                      int round_zero);

/* Asymmetric grid over exactly [lo, hi] (0 need not be inside), zero kept
 * fractional: SpQR's second level, which quantizes vectors of positive
 * scales where forcing 0 into the range would waste levels. */
void qgrid_from_minmax(struct qgrid *g, float lo, float hi, int bits);

/* min and max of n values x[0], x[stride], ... (skip as in qgrid_fit);
 * 0, 0 when every value is skipped. */
void qgrid_minmax(const float *x, int n, int stride, const unsigned char *skip,
                  float *lo, float *hi);

/* Fit to n values x[0], x[stride], ...; entries with skip[i] != 0 (skip may
 * be NULL) are ignored.  clip in (0,1] shrinks the range (AWQ's clipping
 * search); 1 = plain min/max. */
void qgrid_fit(struct qgrid *g, const float *x, int n, int stride,
               const unsigned char *skip, int bits, int sym, float clip);

/* Quantize-dequantize one value. */
static inline float qgrid_q(const struct qgrid *g, float x)
{
    float q = rintf(x / g->scale + g->zero);
    q = q < g->qmin ? g->qmin : (q > g->qmax ? g->qmax : q);
    return g->scale * (q - g->zero);
}

/* Quantize-dequantize n contiguous values (AVX-512 when built for it;
 * bit-identical to calling qgrid_q on each, which qgrid_q_row_ref does). */
void qgrid_q_row(const struct qgrid *g, const float *x, int n, float *out);
void qgrid_q_row_ref(const struct qgrid *g, const float *x, int n, float *out);

/* RTN of a whole matrix with the spec's grouping (group > 0 size along a
 * row, 0 per row, -1 per tensor).  skip_cols (cols) marks input columns
 * that stay float: copied unchanged, excluded from the ranges.  clip as in
 * qgrid_fit. */
void qgrid_rtn(const float *w /* (rows, cols) */, int rows, int cols,
               int bits, int group, int sym, const unsigned char *skip_cols,
               float clip, float *out /* (rows, cols) */);
/* The same, one group per call, clip chosen per (row, group): clip has
 * rows * ngroups entries (ngroups = qgrid_ngroups(cols, group)). */
void qgrid_rtn_clip(const float *w, int rows, int cols, int bits, int group,
                    int sym, const float *clip, float *out);
/* Plain scalar reference of qgrid_rtn (no skip, no clip): tests compare. */
void qgrid_rtn_ref(const float *w, int rows, int cols, int bits, int group,
                   int sym, float *out);

/* Groups per row (group > 0), 1 per row (0) or 1 overall (-1) — for a
 * row: number of groups a row is split into (1 for 0 and -1). */
int qgrid_ngroups(int cols, int group);
/* Group length along a row: cols for group <= 0. */
static inline int qgrid_glen(int cols, int group)
{
    return group > 0 && group < cols ? group : cols;
}

#endif
