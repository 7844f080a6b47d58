/* qgrid: min/max -> scale/zero, and RTN over a matrix (see qgrid.h). */
#include "quant/qgrid.h"

#include <float.h>
#include <math.h>
#include <stddef.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

void qgrid_from_range(struct qgrid *g, float lo, float hi, int bits, int sym,
                      int round_zero)
{
    if (sym) {
        float m = (float)((1 << (bits - 1)) - 1);
        float amax = fmaxf(fabsf(lo), fabsf(hi));
        g->scale = amax / m;
        g->zero = 0.0f;
        g->qmin = -m;
        g->qmax = m;
    } else {
        float levels = (float)((1 << bits) - 1);
        lo = fminf(lo, 0.0f);   /* 0.0 must be exactly representable */
        hi = fmaxf(hi, 0.0f);
        g->scale = (hi - lo) / levels;
        g->qmin = 0.0f;
        g->qmax = levels;
        g->zero = g->scale > 0.0f ? -lo / g->scale : 0.0f;
        if (round_zero)
            g->zero = rintf(g->zero);
    }
    /* All-zero group (or a range so small the step underflows): any scale
     * maps 0 to 0; 1 keeps x/scale finite. */
    if (!(g->scale > FLT_MIN) || !isfinite(g->scale)) {
        g->scale = 1.0f;
        g->zero = 0.0f;
    }
}

void qgrid_from_minmax(struct qgrid *g, float lo, float hi, int bits)
{
    float levels = (float)((1 << bits) - 1);
    g->qmin = 0.0f;
    g->qmax = levels;
    g->scale = (hi - lo) / levels;
    if (!(g->scale > FLT_MIN) || !isfinite(g->scale)) {
        /* constant vector: one level at lo, exactly */
        g->scale = fabsf(lo) > FLT_MIN ? fabsf(lo) : 1.0f;
        g->zero = -lo / g->scale;
        return;
    }
    g->zero = -lo / g->scale;
}

/* Contiguous, nothing skipped: the hot case (RTN of every group). */
static void minmax_contig(const float *x, int n, float *lo_out, float *hi_out)
{
    float lo = x[0], hi = x[0];
    int i = 0;
#if defined(__AVX512F__)
    if (n >= 16) {
        __m512 vlo = _mm512_loadu_ps(x), vhi = vlo;
        for (i = 16; i + 16 <= n; i += 16) {
            __m512 v = _mm512_loadu_ps(x + i);
            vlo = _mm512_min_ps(vlo, v);
            vhi = _mm512_max_ps(vhi, v);
        }
        lo = _mm512_reduce_min_ps(vlo);
        hi = _mm512_reduce_max_ps(vhi);
    }
#endif
    for (; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    *lo_out = lo, *hi_out = hi;
}

void qgrid_minmax(const float *x, int n, int stride, const unsigned char *skip,
                  float *lo_out, float *hi_out)
{
    if (!skip && stride == 1 && n > 0) {
        minmax_contig(x, n, lo_out, hi_out);
        return;
    }
    float lo = 0.0f, hi = 0.0f;
    int seen = 0;
    for (int i = 0; i < n; i++) {
        if (skip && skip[i])
            continue;
        float v = x[(long)i * stride];
        if (!seen) {
            lo = hi = v;
            seen = 1;
        }
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    *lo_out = lo, *hi_out = hi;
}

void qgrid_q_row_ref(const struct qgrid *g, const float *x, int n, float *out)
{
    for (int i = 0; i < n; i++)
        out[i] = qgrid_q(g, x[i]);
}

void qgrid_q_row(const struct qgrid *g, const float *x, int n, float *out)
{
    int i = 0;
#if defined(__AVX512F__)
    /* same operations as qgrid_q, in the same order: bit-identical */
    __m512 sc = _mm512_set1_ps(g->scale), z = _mm512_set1_ps(g->zero);
    __m512 qlo = _mm512_set1_ps(g->qmin), qhi = _mm512_set1_ps(g->qmax);
    for (; i + 16 <= n; i += 16) {
        __m512 q = _mm512_add_ps(_mm512_div_ps(_mm512_loadu_ps(x + i), sc), z);
        q = _mm512_roundscale_ps(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        q = _mm512_min_ps(_mm512_max_ps(q, qlo), qhi);
        _mm512_storeu_ps(out + i, _mm512_mul_ps(sc, _mm512_sub_ps(q, z)));
    }
#endif
    for (; i < n; i++)
        out[i] = qgrid_q(g, x[i]);
}

void qgrid_fit(struct qgrid *g, const float *x, int n, int stride,
               const unsigned char *skip, int bits, int sym, float clip)
{
    float lo, hi;
    qgrid_minmax(x, n, stride, skip, &lo, &hi);
    qgrid_from_range(g, lo * clip, hi * clip, bits, sym, 1);
}

int qgrid_ngroups(int cols, int group)
{
    if (group <= 0 || group >= cols)
        return 1;
    return (cols + group - 1) / group;
}

/* One row segment: fit (unless a grid is given) and quantize. */
static void rtn_segment(const float *w, int n, const unsigned char *skip,
                        const struct qgrid *fixed, int bits, int sym,
                        float clip, float *out)
{
    struct qgrid g;
    if (fixed)
        g = *fixed;
    else
        qgrid_fit(&g, w, n, 1, skip, bits, sym, clip);
    if (!skip) {
        qgrid_q_row(&g, w, n, out);
        return;
    }
    for (int i = 0; i < n; i++)
        out[i] = skip[i] ? w[i] : qgrid_q(&g, w[i]);
}

static void tensor_grid(const float *w, int rows, int cols,
                        const unsigned char *skip, int bits, int sym,
                        float clip, struct qgrid *g)
{
    float lo = 0.0f, hi = 0.0f;
    int seen = 0;
    for (long r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            if (skip && skip[c])
                continue;
            float v = w[r * cols + c];
            if (!seen) {
                lo = hi = v;
                seen = 1;
            }
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    qgrid_from_range(g, lo * clip, hi * clip, bits, sym, 1);
}

void qgrid_rtn(const float *w, int rows, int cols, int bits, int group,
               int sym, const unsigned char *skip_cols, float clip,
               float *out)
{
    struct qgrid tg, *fixed = NULL;
    if (group < 0) {
        tensor_grid(w, rows, cols, skip_cols, bits, sym, clip, &tg);
        fixed = &tg;
    }
    int glen = qgrid_glen(cols, group);
    for (long r = 0; r < rows; r++)
        for (int c0 = 0; c0 < cols; c0 += glen) {
            int n = cols - c0 < glen ? cols - c0 : glen;
            rtn_segment(w + r * cols + c0, n, skip_cols ? skip_cols + c0 : NULL,
                        fixed, bits, sym, clip, out + r * cols + c0);
        }
}

void qgrid_rtn_clip(const float *w, int rows, int cols, int bits, int group,
                    int sym, const float *clip, float *out)
{
    if (group < 0) {  /* one grid: one clip value */
        qgrid_rtn(w, rows, cols, bits, group, sym, NULL, clip[0], out);
        return;
    }
    int glen = qgrid_glen(cols, group), ng = qgrid_ngroups(cols, group);
    for (long r = 0; r < rows; r++)
        for (int k = 0; k < ng; k++) {
            int c0 = k * glen, n = cols - c0 < glen ? cols - c0 : glen;
            rtn_segment(w + r * cols + c0, n, NULL, NULL, bits, sym,
                        clip[r * ng + k], out + r * cols + c0);
        }
}

/* Reference: the formulas of quant.h written out directly, in double. */
static void ref_group(const float *w, long n, int bits, int sym, float *out)
{
    double lo = 0, hi = 0;
    for (long i = 0; i < n; i++) {
        lo = w[i] < lo ? w[i] : lo;
        hi = w[i] > hi ? w[i] : hi;
    }
    double qmin, qmax, scale, zero = 0;
    if (sym) {
        qmax = (1 << (bits - 1)) - 1;
        qmin = -qmax;
        scale = (-lo > hi ? -lo : hi) / qmax;
    } else {
        qmin = 0;
        qmax = (1 << bits) - 1;
        scale = (hi - lo) / qmax;
    }
    if (!((float)scale > FLT_MIN))
        scale = 1;
    else if (!sym)
        zero = nearbyint(-lo / (float)scale);
    for (long i = 0; i < n; i++) {
        double q = nearbyint(w[i] / (float)scale + zero);
        q = q < qmin ? qmin : q > qmax ? qmax : q;
        out[i] = (float)((float)scale * (q - zero));
    }
}

void qgrid_rtn_ref(const float *w, int rows, int cols, int bits, int group,
                   int sym, float *out)
{
    if (group < 0) {
        ref_group(w, (long)rows * cols, bits, sym, out);
        return;
    }
    int glen = group > 0 && group < cols ? group : cols;
    for (long r = 0; r < rows; r++)
        for (int c0 = 0; c0 < cols; c0 += glen)
            ref_group(w + r * cols + c0, cols - c0 < glen ? cols - c0 : glen,
                      bits, sym, out + r * cols + c0);
}
