/* fastmath: vectorized exp for softmax, SwiGLU and log-sum-exp.
 *
 * The hot non-BLAS loops of the forward pass are exponentials: causal
 * softmax (n²/2 per head and layer), SiLU (n*hidden per layer) and the
 * perplexity log-sum-exp (vocab per scored token).  glibc's expf is scalar;
 * with AVX-512 these run 16 lanes at a time with a Cephes-style polynomial
 * (relative error < 2e-7 on the range used, exp(x) for x < -87.3 flushes to
 * 0).  Without AVX-512 they fall back to expf, which is also the reference
 * tests compare against (tests/check_forward.c). */
#ifndef QLENS_FASTMATH_H
#define QLENS_FASTMATH_H

#include <math.h>
#include <stddef.h>

#if defined(__AVX512F__)
#include <immintrin.h>

static inline __m512 fm_exp16(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
    x = _mm512_min_ps(x, _mm512_set1_ps(88.7f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 y = _mm512_set1_ps(1.9875691500e-4f);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894e-2f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459e-1f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201e-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(y, n);
}

/* x[i] = exp(x[i] - m) for i < n; returns the sum. */
static inline float fm_exp_sub_sum(float *x, int n, float m)
{
    __m512 vm = _mm512_set1_ps(m), acc = _mm512_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 e = fm_exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
        _mm512_storeu_ps(x + i, e);
        acc = _mm512_add_ps(acc, e);
    }
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        __m512 e = fm_exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), vm));
        _mm512_mask_storeu_ps(x + i, k, e);
        acc = _mm512_add_ps(acc, _mm512_maskz_mov_ps(k, e));
    }
    return _mm512_reduce_add_ps(acc);
}

/* sum exp(x[i] - m), x unchanged; lanes summed in double. */
static inline double fm_sum_exp(const float *x, int n, float m)
{
    __m512 vm = _mm512_set1_ps(m), acc = _mm512_setzero_ps();
    double total = 0.0;
    int i = 0, blk = 0;
    for (; i + 16 <= n; i += 16) {
        acc = _mm512_add_ps(acc, fm_exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm)));
        if (++blk == 64) { /* flush lanes to double every 1024 terms */
            total += _mm512_reduce_add_ps(acc);
            acc = _mm512_setzero_ps();
            blk = 0;
        }
    }
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        __m512 e = fm_exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), vm));
        acc = _mm512_add_ps(acc, _mm512_maskz_mov_ps(k, e));
    }
    return total + _mm512_reduce_add_ps(acc);
}

static inline float fm_max(const float *x, int n)
{
    __m512 mx = _mm512_set1_ps(-INFINITY);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        mx = _mm512_max_ps(mx, _mm512_loadu_ps(x + i));
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        mx = _mm512_mask_max_ps(mx, k, mx, _mm512_maskz_loadu_ps(k, x + i));
    }
    return _mm512_reduce_max_ps(mx);
}

/* x[i] *= a */
static inline void fm_scale(float *x, int n, float a)
{
    __m512 va = _mm512_set1_ps(a);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), va));
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(x + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), va));
    }
}

/* hb[i] = silu(hb[i]) * hb2[i] */
static inline void fm_swiglu(float *hb, const float *hb2, size_t n)
{
    size_t i = 0;
    __m512 one = _mm512_set1_ps(1.0f);
    for (; i + 16 <= n; i += 16) {
        __m512 g = _mm512_loadu_ps(hb + i);
        __m512 e = fm_exp16(_mm512_sub_ps(_mm512_setzero_ps(), g));
        __m512 s = _mm512_div_ps(g, _mm512_add_ps(one, e));
        _mm512_storeu_ps(hb + i, _mm512_mul_ps(s, _mm512_loadu_ps(hb2 + i)));
    }
    for (; i < n; i++)
        hb[i] = hb[i] / (1.0f + expf(-hb[i])) * hb2[i];
}

#else /* portable fallback: glibc expf */

static inline float fm_exp_sub_sum(float *x, int n, float m)
{
    float s = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - m);
        s += x[i];
    }
    return s;
}

static inline float fm_max(const float *x, int n)
{
    float m = x[0];
    for (int i = 1; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

static inline void fm_scale(float *x, int n, float a)
{
    for (int i = 0; i < n; i++)
        x[i] *= a;
}

static inline double fm_sum_exp(const float *x, int n, float m)
{
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += expf(x[i] - m);
    return s;
}

static inline void fm_swiglu(float *hb, const float *hb2, size_t n)
{
    for (size_t i = 0; i < n; i++)
        hb[i] = hb[i] / (1.0f + expf(-hb[i])) * hb2[i];
}
#endif

#endif
