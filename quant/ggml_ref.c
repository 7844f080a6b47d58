/* ggml_ref: plain scalar decoders, one per type, written the way
 * llama.cpp's dequantize_row_* are (block by block, element by element).
 * They are the reference the fast decoders of quant/ggml_types.c are tested
 * against bit for bit (tests/check_ggml_types.c) and benchmarked beside. */
#include "quant/ggml_impl.h"

/* ---- float formats ---- */

void ggt_ref_f32(const void *src, float *y, int64_t n)
{
    memcpy(y, src, (size_t)n * sizeof(float));
}

static void ref_f16(const void *src, float *y, int64_t n)
{
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++)
        y[i] = ggt_rd_h(p + 2 * i);
}

void ggt_ref_bf16(const void *src, float *y, int64_t n)
{
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++)
        y[i] = ggt_bits_f32((uint32_t)(p[2 * i] | (p[2 * i + 1] << 8)) << 16);
}

/* ---- legacy 32-element blocks ---- */

/* q4_0 (18 bytes): d, 16 bytes of nibbles; element j in the low nibble of
 * byte j, element j+16 in the high nibble. */
static void ref_q4_0(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GGT_QK; i++, b += 18, y += GGT_QK) {
        const float d = ggt_rd_h(b);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((b[2 + j] & 0xF) - 8) * d;
            y[j + 16] = (float)((b[2 + j] >> 4) - 8) * d;
        }
    }
}

static void ref_q4_1(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GGT_QK; i++, b += 20, y += GGT_QK) {
        const float d = ggt_rd_h(b), m = ggt_rd_h(b + 2);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)(b[4 + j] & 0xF) * d + m;
            y[j + 16] = (float)(b[4 + j] >> 4) * d + m;
        }
    }
}

/* q5_x: the fifth bit of element j is bit j of the little-endian u32 qh. */
static uint32_t ref_rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void ref_q5_0(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GGT_QK; i++, b += 22, y += GGT_QK) {
        const float d = ggt_rd_h(b);
        const uint32_t qh = ref_rd_u32(b + 2);
        for (int j = 0; j < 16; j++) {
            int x0 = (int)((b[6 + j] & 0xF) | (((qh >> j) & 1) << 4)) - 16;
            int x1 = (int)((b[6 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
            y[j] = (float)x0 * d;
            y[j + 16] = (float)x1 * d;
        }
    }
}

static void ref_q5_1(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GGT_QK; i++, b += 24, y += GGT_QK) {
        const float d = ggt_rd_h(b), m = ggt_rd_h(b + 2);
        const uint32_t qh = ref_rd_u32(b + 4);
        for (int j = 0; j < 16; j++) {
            int x0 = (int)((b[8 + j] & 0xF) | (((qh >> j) & 1) << 4));
            int x1 = (int)((b[8 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
            y[j] = (float)x0 * d + m;
            y[j + 16] = (float)x1 * d + m;
        }
    }
}

void ggt_ref_q8_0(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GGT_QK; i++, b += 34, y += GGT_QK) {
        const float d = ggt_rd_h(b);
        for (int j = 0; j < 32; j++)
            y[j] = (float)(int8_t)b[2 + j] * d;
    }
}

static void ref_iq4_nl(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GGT_QK; i++, b += 18, y += GGT_QK) {
        const float d = ggt_rd_h(b);
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)ggt_iq4nl_values[b[2 + j] & 0xF];
            y[j + 16] = d * (float)ggt_iq4nl_values[b[2 + j] >> 4];
        }
    }
}

/* ---- k-quants: 256-element super-blocks ---- */

/* q2_K (84 bytes): scales[16] (low nibble scale, high nibble min of group
 * e/16), qs[64], d, dmin.  Element e = 128h + 32s + l sits in bits 2s..2s+1
 * of qs[32h + l]. */
static void ref_q2_K(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GGT_QKK; i++, b += 84) {
        const float d = ggt_rd_h(b + 80), dmin = ggt_rd_h(b + 82);
        for (int g = 0; g < 16; g++, y += 16) {
            const uint8_t sc = b[g];
            const float dl = d * (float)(sc & 0xF), ml = dmin * (float)(sc >> 4);
            const uint8_t *q = b + 16 + 32 * (g / 8) + 16 * (g % 2);
            const int shift = 2 * ((g % 8) / 2);
            for (int l = 0; l < 16; l++)
                y[l] = dl * (float)((q[l] >> shift) & 3) - ml;
        }
    }
}

/* The 16 signed 6-bit scales of a q3_K block: low nibbles in bytes 0-7
 * (groups 0-7 low, 8-15 high nibble), top 2 bits of group j in byte
 * 8 + j%4 at bit 2*(j/4); stored with +32. */
static int ref_q3k_scale(const uint8_t *s, int j)
{
    int lo = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
    int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | (hi << 4)) - 32;
}

/* q3_K (110 bytes): hmask[32], qs[64], scales[12], d.  Low 2 bits as in
 * q2_K; the third bit of element e is bit e/32 of hmask[e%32], and a clear
 * bit means minus 4. */
static void ref_q3_K(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GGT_QKK; i++, b += 110) {
        const float d_all = ggt_rd_h(b + 108);
        for (int g = 0; g < 16; g++, y += 16) {
            const float dl = d_all * (float)ref_q3k_scale(b + 96, g);
            const int off = 16 * (g % 2), half = g / 8, s = (g % 8) / 2;
            const uint8_t *q = b + 32 + 32 * half + off, *hm = b + off;
            const int bit = 4 * half + s;
            for (int l = 0; l < 16; l++) {
                int v = ((q[l] >> (2 * s)) & 3) - (((hm[l] >> bit) & 1) ? 0 : 4);
                y[l] = dl * (float)v;
            }
        }
    }
}

/* q4_K (144 bytes): d, dmin, scales[12] (6-bit scale/min per group of 32,
 * see ggt_scale_min_k4), qs[128]: chunk c of 64 elements is 32 bytes, low
 * nibbles first (group 2c), then high nibbles (group 2c+1). */
void ggt_ref_q4_K(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GGT_QKK; i++, b += 144) {
        const float d = ggt_rd_h(b), dmin = ggt_rd_h(b + 2);
        const uint8_t *q = b + 16;
        for (int c = 0; c < 4; c++, q += 32, y += 64) {
            uint8_t sc, m;
            ggt_scale_min_k4(2 * c, b + 4, &sc, &m);
            const float d1 = d * (float)sc, m1 = dmin * (float)m;
            ggt_scale_min_k4(2 * c + 1, b + 4, &sc, &m);
            const float d2 = d * (float)sc, m2 = dmin * (float)m;
            for (int l = 0; l < 32; l++)
                y[l] = d1 * (float)(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++)
                y[32 + l] = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

/* q5_K (176 bytes): as q4_K plus qh[32]: the fifth bit of group g's
 * element l is bit g of qh[l]. */
void ggt_ref_q5_K(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GGT_QKK; i++, b += 176) {
        const float d = ggt_rd_h(b), dmin = ggt_rd_h(b + 2);
        const uint8_t *qh = b + 16, *q = b + 48;
        for (int c = 0; c < 4; c++, q += 32, y += 64) {
            uint8_t sc, m;
            ggt_scale_min_k4(2 * c, b + 4, &sc, &m);
            const float d1 = d * (float)sc, m1 = dmin * (float)m;
            ggt_scale_min_k4(2 * c + 1, b + 4, &sc, &m);
            const float d2 = d * (float)sc, m2 = dmin * (float)m;
            const int u1 = 1 << (2 * c), u2 = 2 << (2 * c);
            for (int l = 0; l < 32; l++)
                y[l] = d1 * (float)((q[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++)
                y[32 + l] = d2 * (float)((q[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
        }
    }
}

/* q6_K (210 bytes): ql[128] (low 4 bits), qh[64] (high 2 bits), int8
 * scales[16], d.  In half h, element 128h + 32k + l takes a nibble of
 * ql[64h + l + 32(k%2)] (low for k < 2) and bits 2k..2k+1 of qh[32h + l]. */
static void ref_q6_K(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GGT_QKK; i++, b += 210) {
        const float d = ggt_rd_h(b + 208);
        const int8_t *sc = (const int8_t *)(b + 192);
        for (int h = 0; h < 2; h++, y += 128) {
            const uint8_t *ql = b + 64 * h, *qh = b + 128 + 32 * h;
            for (int k = 0; k < 4; k++) {
                const uint8_t *lo = ql + 32 * (k % 2);
                const int nib = 4 * (k / 2);
                for (int l = 0; l < 32; l++) {
                    int q = (int)(((lo[l] >> nib) & 0xF) | (((qh[l] >> (2 * k)) & 3) << 4)) - 32;
                    y[32 * k + l] = d * (float)sc[8 * h + 2 * k + l / 16] * (float)q;
                }
            }
        }
    }
}

/* iq4_xs (136 bytes): d, scales_h (u16), scales_l[4], qs[128]; group ib's
 * 6-bit scale is nibble ib%2 of scales_l[ib/2] plus bits 2ib..2ib+1 of
 * scales_h, stored with +32; nibbles as iq4_nl. */
static void ref_iq4_xs(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GGT_QKK; i++, b += 136) {
        const float d = ggt_rd_h(b);
        const unsigned sh = (unsigned)(b[2] | (b[3] << 8));
        const uint8_t *q = b + 8;
        for (int ib = 0; ib < 8; ib++, q += 16, y += 32) {
            int ls = ((b[4 + ib / 2] >> (4 * (ib % 2))) & 0xF) | (((sh >> (2 * ib)) & 3) << 4);
            const float dl = d * (float)(ls - 32);
            for (int j = 0; j < 16; j++) {
                y[j] = dl * (float)ggt_iq4nl_values[q[j] & 0xF];
                y[j + 16] = dl * (float)ggt_iq4nl_values[q[j] >> 4];
            }
        }
    }
}


ggt_to_float_fn ggt_to_float_ref(uint32_t id)
{
    switch (id) {
    case GGT_F32: return ggt_ref_f32;
    case GGT_F16: return ref_f16;
    case GGT_BF16: return ggt_ref_bf16;
    case GGT_Q4_0: return ref_q4_0;
    case GGT_Q4_1: return ref_q4_1;
    case GGT_Q5_0: return ref_q5_0;
    case GGT_Q5_1: return ref_q5_1;
    case GGT_Q8_0: return ggt_ref_q8_0;
    case GGT_Q2_K: return ref_q2_K;
    case GGT_Q3_K: return ref_q3_K;
    case GGT_Q4_K: return ggt_ref_q4_K;
    case GGT_Q5_K: return ggt_ref_q5_K;
    case GGT_Q6_K: return ref_q6_K;
    case GGT_IQ4_NL: return ref_iq4_nl;
    case GGT_IQ4_XS: return ref_iq4_xs;
    }
    return NULL;
}
