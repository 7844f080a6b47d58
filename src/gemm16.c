/* gemm16: float x times F16/BF16 Wᵀ, converted in the product (gemm16.h). */
#include <string.h>

#include "src/gemm16.h"
#include "src/half.h"

#if defined(__AVX512F__) && defined(__AVX512BW__)
#include <immintrin.h>
#define G16_SIMD 1
#else
#define G16_SIMD 0
#endif

static float g16_value(const uint16_t *p, enum g16_type type)
{
    return type == G16_BF16 ? bf16_to_f32(*p) : f16_to_f32(*p);
}

void gemm16_ref(float *y, size_t ldy, const float *x, size_t ldx, int n, int k,
                const uint16_t *w, size_t ldw, int out, enum g16_type type, float beta)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < out; j++) {
            double s = 0.0;
            for (int q = 0; q < k; q++)
                s += (double)x[(size_t)i * ldx + q] * g16_value(w + (size_t)j * ldw + q, type);
            float *o = y + (size_t)i * ldy + j;
            *o = (float)(beta == 0.0f ? s : (double)beta * *o + s);
        }
}

int gemm16_available(void)
{
    return G16_SIMD;
}

#if G16_SIMD

/* 16 weights to floats (m: which of them exist; the rest read as 0). */
static inline __m512 g16_load(const uint16_t *p, __mmask16 m, enum g16_type type)
{
    __m256i h = _mm256_maskz_loadu_epi16(m, p);
    if (type == G16_BF16)
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    return _mm512_cvtph_ps(h);
}

/* Transpose the 16 x 16 floats of r in registers: r[i][c] -> r[c][i].
 * 32-bit then 64-bit interleaves make 4 x 4 blocks inside each 128-bit
 * lane (s[4g + m], lane L = column 4L + m of rows 4g..4g+3), then two
 * rounds of 128-bit lane shuffles transpose the 4 x 4 grid of lanes. */
static inline __attribute__((always_inline)) void tr16(__m512 r[16])
{
    __m512 t[16], s[16];
#pragma GCC unroll 8
    for (int p = 0; p < 8; p++) {
        t[2 * p] = _mm512_unpacklo_ps(r[2 * p], r[2 * p + 1]);
        t[2 * p + 1] = _mm512_unpackhi_ps(r[2 * p], r[2 * p + 1]);
    }
#pragma GCC unroll 4
    for (int g = 0; g < 4; g++) {
        __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 2]);
        __m512d c = _mm512_castps_pd(t[4 * g + 1]), d = _mm512_castps_pd(t[4 * g + 3]);
        s[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
        s[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        s[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
        s[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
    }
#pragma GCC unroll 4
    for (int m = 0; m < 4; m++) {
        __m512 u0 = _mm512_shuffle_f32x4(s[m], s[4 + m], _MM_SHUFFLE(2, 0, 2, 0));
        __m512 u1 = _mm512_shuffle_f32x4(s[m], s[4 + m], _MM_SHUFFLE(3, 1, 3, 1));
        __m512 u2 = _mm512_shuffle_f32x4(s[8 + m], s[12 + m], _MM_SHUFFLE(2, 0, 2, 0));
        __m512 u3 = _mm512_shuffle_f32x4(s[8 + m], s[12 + m], _MM_SHUFFLE(3, 1, 3, 1));
        r[m] = _mm512_shuffle_f32x4(u0, u2, _MM_SHUFFLE(2, 0, 2, 0));
        r[8 + m] = _mm512_shuffle_f32x4(u0, u2, _MM_SHUFFLE(3, 1, 3, 1));
        r[4 + m] = _mm512_shuffle_f32x4(u1, u3, _MM_SHUFFLE(2, 0, 2, 0));
        r[12 + m] = _mm512_shuffle_f32x4(u1, u3, _MM_SHUFFLE(3, 1, 3, 1));
    }
}

/* wp (kb, G16_NR) = rows [0, nr) of W's columns [0, kb) (w at the first),
 * converted and transposed; rows nr.. are zeros.  16 rows x 16 columns at
 * a time: converted by the vector instructions, transposed in registers. */
static void pack_w(float *restrict wp, const uint16_t *w, size_t ldw, int nr, int kb,
                   enum g16_type type)
{
    for (int h = 0; h < G16_NR; h += 16)
        for (int q = 0; q < kb; q += 16) {
            __mmask16 m = kb - q >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (kb - q)) - 1);
            __m512 r[16];
#pragma GCC unroll 16
            for (int i = 0; i < 16; i++)
                r[i] = h + i < nr ? g16_load(w + (size_t)(h + i) * ldw + q, m, type)
                                  : _mm512_setzero_ps();
            tr16(r);
            int nc = kb - q < 16 ? kb - q : 16;
#pragma GCC unroll 16
            for (int c = 0; c < 16; c++)
                if (c < nc)
                    _mm512_store_ps(wp + (size_t)(q + c) * G16_NR + h, r[c]);
        }
}

static inline __mmask16 lanes(int n)
{
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

/* Accumulators of row i of the register block: named variables, not an
 * array (GCC keeps an indexed array in memory). */
#define G16_ALL(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define G16_DECL(i) __m512 c0_##i = _mm512_setzero_ps(), c1_##i = _mm512_setzero_ps();
#define G16_FMA(i)                                                                          \
    if (mr > i) {                                                                           \
        __m512 a = _mm512_set1_ps(x[(size_t)i * ldx + q]);                                  \
        c0_##i = _mm512_fmadd_ps(a, b0, c0_##i);                                            \
        c1_##i = _mm512_fmadd_ps(a, b1, c1_##i);                                            \
    }
#define G16_OUT(i)                                                                          \
    if (mr > i)                                                                             \
        g16_store(y + (size_t)i * ldy, c0_##i, c1_##i, m0, m1, scale);

/* o[0:nr] = scale * o + (c0, c1) (scale 0: o is not read) */
static inline __attribute__((always_inline)) void g16_store(float *o, __m512 c0, __m512 c1,
                                                           __mmask16 m0, __mmask16 m1,
                                                           float scale)
{
    if (scale != 0.0f) {
        __m512 s = _mm512_set1_ps(scale);
        c0 = _mm512_add_ps(_mm512_mul_ps(s, _mm512_maskz_loadu_ps(m0, o)), c0);
        c1 = _mm512_add_ps(_mm512_mul_ps(s, _mm512_maskz_loadu_ps(m1, o + 16)), c1);
    }
    _mm512_mask_storeu_ps(o, m0, c0);
    _mm512_mask_storeu_ps(o + 16, m1, c1);
}

/* y[0:mr, 0:nr] = scale * y + x[0:mr, 0:kb] wp: mr rows of x against the
 * panel, 2 x mr accumulators in registers (mr is a constant where
 * inlined, so the unused rows compile away). */
static inline __attribute__((always_inline)) void micro(int mr, const float *x, size_t ldx,
                                                        const float *wp, int kb, float *y,
                                                        size_t ldy, int nr, float scale)
{
    G16_ALL(G16_DECL)
    for (int q = 0; q < kb; q++) {
        __m512 b0 = _mm512_load_ps(wp + (size_t)q * G16_NR);
        __m512 b1 = _mm512_load_ps(wp + (size_t)q * G16_NR + 16);
        G16_ALL(G16_FMA)
    }
    __mmask16 m0 = lanes(nr), m1 = lanes(nr - 16);
    G16_ALL(G16_OUT)
}

/* Every row block of x against one panel; the last block may be short. */
static void panel_rows(const float *x, size_t ldx, int n, const float *wp, int kb, float *y,
                       size_t ldy, int nr, float scale)
{
    int i = 0;
    for (; i + G16_MR <= n; i += G16_MR)
        micro(G16_MR, x + (size_t)i * ldx, ldx, wp, kb, y + (size_t)i * ldy, ldy, nr, scale);
    const float *xs = x + (size_t)i * ldx;
    float *ys = y + (size_t)i * ldy;
    switch (n - i) { /* constant mr in each: the accumulators stay in registers */
    case 11: micro(11, xs, ldx, wp, kb, ys, ldy, nr, scale); break;
    case 10: micro(10, xs, ldx, wp, kb, ys, ldy, nr, scale); break;
    case 9: micro(9, xs, ldx, wp, kb, ys, ldy, nr, scale); break;
    case 8: micro(8, xs, ldx, wp, kb, ys, ldy, nr, scale); break;
    case 7: micro(7, xs, ldx, wp, kb, ys, ldy, nr, scale); break;
    case 6: micro(6, xs, ldx, wp, kb, ys, ldy, nr, scale); break;
    case 5: micro(5, xs, ldx, wp, kb, ys, ldy, nr, scale); break;
    case 4: micro(4, xs, ldx, wp, kb, ys, ldy, nr, scale); break;
    case 3: micro(3, xs, ldx, wp, kb, ys, ldy, nr, scale); break;
    case 2: micro(2, xs, ldx, wp, kb, ys, ldy, nr, scale); break;
    case 1: micro(1, xs, ldx, wp, kb, ys, ldy, nr, scale); break;
    default: break;
    }
}

int gemm16(float *y, size_t ldy, const float *x, size_t ldx, int n, int k, const uint16_t *w,
           size_t ldw, int out, enum g16_type type, float beta)
{
    if (n < 1 || k < 1 || out < 1 || ldx < (size_t)k || ldw < (size_t)k || ldy < (size_t)out)
        return -1;
    float wp[G16_KB * G16_NR] __attribute__((aligned(64))); /* 32 KB */
    for (int k0 = 0; k0 < k; k0 += G16_KB) {
        int kb = k - k0 < G16_KB ? k - k0 : G16_KB;
        /* the first block writes y (beta 0: without reading it), the
         * later ones add to it */
        float scale = k0 == 0 ? beta : 1.0f;
        for (int j0 = 0; j0 < out; j0 += G16_NR) {
            int nr = out - j0 < G16_NR ? out - j0 : G16_NR;
            pack_w(wp, w + (size_t)j0 * ldw + k0, ldw, nr, kb, type);
            panel_rows(x + k0, ldx, n, wp, kb, y + j0, ldy, nr, scale);
        }
    }
    return 0;
}

#else

int gemm16(float *y, size_t ldy, const float *x, size_t ldx, int n, int k, const uint16_t *w,
           size_t ldw, int out, enum g16_type type, float beta)
{
    (void)y; (void)ldy; (void)x; (void)ldx; (void)n; (void)k; (void)w; (void)ldw; (void)out;
    (void)type; (void)beta;
    return -1;
}

#endif
