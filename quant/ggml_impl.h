/* Private helpers of quant/ggml_types.c and quant/ggml_quantize.c: IEEE half
 * conversions (ggml's GGML_FP16_TO_FP32 / GGML_FP32_TO_FP16: exact decode,
 * round-to-nearest-even encode) and little-endian field access into a block
 * that may sit at any address of a mapped file. */
#ifndef QLENS_GGML_IMPL_H
#define QLENS_GGML_IMPL_H

#include <stdint.h>
#include <string.h>

#include "quant/ggml_types.h"

#define GGT_QK 32   /* legacy block (q4_0 ... q8_0, iq4_nl)  */
#define GGT_QKK 256 /* k-quant super-block (q2_K ... iq4_xs) */

static inline float ggt_bits_f32(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static inline uint32_t ggt_f32_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

static inline float ggt_h2f(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f)
        return ggt_bits_f32(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        if (!man)
            return ggt_bits_f32(sign);
        float v = (float)man * (1.0f / 16777216.0f); /* subnormal: man 2^-24 */
        return sign ? -v : v;
    }
    return ggt_bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

static inline uint16_t ggt_f2h(float f)
{
    uint32_t x = ggt_f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u, a = x & 0x7fffffffu;
    if (a > 0x7f800000u) /* NaN: quiet, as ggml does */
        return (uint16_t)(sign | 0x7e00u);
    if (a >= 0x477ff000u) /* rounds to infinity */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) { /* half subnormal or zero: a 2^24 rounded (RNE) */
        float s = ggt_bits_f32(a) * 16777216.0f;
        return (uint16_t)(sign | (uint32_t)__builtin_rintf(s));
    }
    uint32_t r = a + 0xfffu + ((a >> 13) & 1u);
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

static inline float ggt_rd_h(const uint8_t *p)
{
    return ggt_h2f((uint16_t)(p[0] | (p[1] << 8)));
}

static inline void ggt_wr_h(uint8_t *p, float f)
{
    uint16_t h = ggt_f2h(f);
    p[0] = (uint8_t)(h & 0xff);
    p[1] = (uint8_t)(h >> 8);
}

/* The 6-bit scale and min of group j (0..7) of a q4_K / q5_K block
 * (ggml's get_scale_min_k4): groups 0-3 in the low 6 bits of bytes j and
 * j+4, groups 4-7 split over a nibble of byte j+4 and the top 2 bits of
 * bytes j-4 and j. */
static inline void ggt_scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *mn)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *mn = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *mn = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Quantizers (quant/ggml_quantize.c), fast and reference. */
void ggt_quantize_q4_0(const float *x, void *y, int64_t nrows, int64_t n, const float *qw);
void ggt_quantize_q4_1(const float *x, void *y, int64_t nrows, int64_t n, const float *qw);
void ggt_quantize_q5_0(const float *x, void *y, int64_t nrows, int64_t n, const float *qw);
void ggt_quantize_q5_1(const float *x, void *y, int64_t nrows, int64_t n, const float *qw);
void ggt_quantize_q8_0(const float *x, void *y, int64_t nrows, int64_t n, const float *qw);
void ggt_quantize_q2_K(const float *x, void *y, int64_t nrows, int64_t n, const float *qw);
void ggt_quantize_q3_K(const float *x, void *y, int64_t nrows, int64_t n, const float *qw);
void ggt_quantize_q4_K(const float *x, void *y, int64_t nrows, int64_t n, const float *qw);
void ggt_quantize_q4_K_ref(const float *x, void *y, int64_t nrows, int64_t n, const float *qw);
void ggt_quantize_q5_K(const float *x, void *y, int64_t nrows, int64_t n, const float *qw);
void ggt_quantize_q6_K(const float *x, void *y, int64_t nrows, int64_t n, const float *qw);
void ggt_quantize_iq4_nl(const float *x, void *y, int64_t nrows, int64_t n, const float *qw);
void ggt_quantize_iq4_xs(const float *x, void *y, int64_t nrows, int64_t n, const float *qw);
void ggt_quantize_f32(const float *x, void *y, int64_t nrows, int64_t n, const float *qw);
void ggt_quantize_f16(const float *x, void *y, int64_t nrows, int64_t n, const float *qw);
void ggt_quantize_bf16(const float *x, void *y, int64_t nrows, int64_t n, const float *qw);


/* Scalar decoders of quant/ggml_ref.c that are also the table's decoders
 * (no faster form pays off for these types). */
void ggt_ref_f32(const void *src, float *y, int64_t n);
void ggt_ref_bf16(const void *src, float *y, int64_t n);
void ggt_ref_q8_0(const void *src, float *y, int64_t n);
void ggt_ref_q4_K(const void *src, float *y, int64_t n);
void ggt_ref_q5_K(const void *src, float *y, int64_t n);

#endif
