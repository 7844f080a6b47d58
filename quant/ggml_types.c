/* ggml_types: the traits table and the dequantizers (see ggml_types.h).
 *
 * Each decoder walks one block at a time and writes the block's elements in
 * order; the float expressions are those of llama.cpp's dequantize_row_*
 * (same operands, same order: e.g. q4_K's (d*sc)*q - dmin*m), so results are
 * bit-identical when compiled without contraction. */
#include "quant/ggml_types.h"

#include <math.h>
#include <pthread.h>
#include <strings.h>

#if defined(__AVX512F__) || defined(__F16C__)
#include <immintrin.h>
#endif

#include "quant/ggml_impl.h"

#if defined(__AVX512F__)
/* 16 int8 levels -> floats.  The same IEEE operations as the scalar code
 * (int -> float is exact for these, then one multiply and at most one
 * add/subtract, never fused), so the bits are the same. */
static inline __m512 lv16(__m128i q8)
{
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q8));
}

static inline __m128i lo_nib(__m128i v)
{
    return _mm_and_si128(v, _mm_set1_epi8(0x0F));
}

static inline __m128i hi_nib(__m128i v)
{
    return _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(0x0F));
}

static inline __m128i ld16(const uint8_t *p)
{
    return _mm_loadu_si128((const __m128i *)p);
}
#define GGT_SIMD 1
#else
#define GGT_SIMD 0
#endif

const int8_t ggt_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                     1,    13,   25,  38,  53,  69,  89,  113};

/* ---- float formats ---- */

/* Half to float is exact, so the F16C instruction gives the same bits as
 * the scalar decoder (check_ggml_types compares them on all 65536 values). */
static void deq_f16(const void *src, float *y, int64_t n)
{
    const uint8_t *p = src;
    int64_t i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + 2 * i))));
#elif defined(__F16C__)
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 2 * i))));
#endif
    for (; i < n; i++)
        y[i] = ggt_rd_h(p + 2 * i);
}

/* BF16 is the top half of a float: widening is a 16-bit shift, exact, so
 * the vector form gives the scalar decoder's bits. */
static void deq_bf16(const void *src, float *y, int64_t n)
{
    const uint8_t *p = src;
    int64_t i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16) {
        __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p + 2 * i)));
        _mm512_storeu_ps(y + i, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
    }
#endif
    if (i < n)
        ggt_ref_bf16(p + 2 * i, y + i, n - i);
}

/* ---- legacy 32-element blocks ---- */

/* q4_0 (18 bytes): d, 16 bytes of nibbles; element j in the low nibble of
 * byte j, element j+16 in the high nibble. */
static void deq_q4_0(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GGT_QK; i++, b += 18, y += GGT_QK) {
        const float d = ggt_rd_h(b);
#if GGT_SIMD
        const __m128i v = ld16(b + 2), eight = _mm_set1_epi8(8);
        const __m512 vd = _mm512_set1_ps(d);
        _mm512_storeu_ps(y, _mm512_mul_ps(lv16(_mm_sub_epi8(lo_nib(v), eight)), vd));
        _mm512_storeu_ps(y + 16, _mm512_mul_ps(lv16(_mm_sub_epi8(hi_nib(v), eight)), vd));
#else
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((b[2 + j] & 0xF) - 8) * d;
            y[j + 16] = (float)((b[2 + j] >> 4) - 8) * d;
        }
#endif
    }
}

static void deq_q4_1(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GGT_QK; i++, b += 20, y += GGT_QK) {
        const float d = ggt_rd_h(b), m = ggt_rd_h(b + 2);
#if GGT_SIMD
        const __m128i v = ld16(b + 4);
        const __m512 vd = _mm512_set1_ps(d), vm = _mm512_set1_ps(m);
        _mm512_storeu_ps(y, _mm512_add_ps(_mm512_mul_ps(lv16(lo_nib(v)), vd), vm));
        _mm512_storeu_ps(y + 16, _mm512_add_ps(_mm512_mul_ps(lv16(hi_nib(v)), vd), vm));
#else
        for (int j = 0; j < 16; j++) {
            y[j] = (float)(b[4 + j] & 0xF) * d + m;
            y[j + 16] = (float)(b[4 + j] >> 4) * d + m;
        }
#endif
    }
}

/* q5_x: the fifth bit of element j is bit j of the little-endian u32 qh. */
static uint32_t rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void deq_q5_0(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GGT_QK; i++, b += 22, y += GGT_QK) {
        const float d = ggt_rd_h(b);
        const uint32_t qh = rd_u32(b + 2);
        for (int j = 0; j < 16; j++) {
            int x0 = (int)((b[6 + j] & 0xF) | (((qh >> j) & 1) << 4)) - 16;
            int x1 = (int)((b[6 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
            y[j] = (float)x0 * d;
            y[j + 16] = (float)x1 * d;
        }
    }
}

static void deq_q5_1(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GGT_QK; i++, b += 24, y += GGT_QK) {
        const float d = ggt_rd_h(b), m = ggt_rd_h(b + 2);
        const uint32_t qh = rd_u32(b + 4);
        for (int j = 0; j < 16; j++) {
            int x0 = (int)((b[8 + j] & 0xF) | (((qh >> j) & 1) << 4));
            int x1 = (int)((b[8 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
            y[j] = (float)x0 * d + m;
            y[j + 16] = (float)x1 * d + m;
        }
    }
}

/* One 32-element iq4 group: 16 bytes of nibble indices into the grid. */
static inline void iq4_group(const uint8_t *q, float d, float *y)
{
#if GGT_SIMD
    const __m128i tbl = _mm_loadu_si128((const __m128i *)ggt_iq4nl_values), v = ld16(q);
    const __m512 vd = _mm512_set1_ps(d);
    _mm512_storeu_ps(y, _mm512_mul_ps(vd, lv16(_mm_shuffle_epi8(tbl, lo_nib(v)))));
    _mm512_storeu_ps(y + 16, _mm512_mul_ps(vd, lv16(_mm_shuffle_epi8(tbl, hi_nib(v)))));
#else
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)ggt_iq4nl_values[q[j] & 0xF];
        y[j + 16] = d * (float)ggt_iq4nl_values[q[j] >> 4];
    }
#endif
}

static void deq_iq4_nl(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GGT_QK; i++, b += 18, y += GGT_QK)
        iq4_group(b + 2, ggt_rd_h(b), y);
}

/* ---- k-quants: 256-element super-blocks ---- */

/* q2_K (84 bytes): scales[16] (low nibble scale, high nibble min of group
 * e/16), qs[64], d, dmin.  Element e = 128h + 32s + l sits in bits 2s..2s+1
 * of qs[32h + l]. */
static void deq_q2_K(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GGT_QKK; i++, b += 84) {
        const float d = ggt_rd_h(b + 80), dmin = ggt_rd_h(b + 82);
        for (int g = 0; g < 16; g++, y += 16) {
            const uint8_t sc = b[g];
            const float dl = d * (float)(sc & 0xF), ml = dmin * (float)(sc >> 4);
            const uint8_t *q = b + 16 + 32 * (g / 8) + 16 * (g % 2);
            const int shift = 2 * ((g % 8) / 2);
#if GGT_SIMD
            __m128i l = _mm_and_si128(_mm_srli_epi16(ld16(q), shift), _mm_set1_epi8(3));
            _mm512_storeu_ps(y, _mm512_sub_ps(_mm512_mul_ps(_mm512_set1_ps(dl), lv16(l)),
                                              _mm512_set1_ps(ml)));
#else
            for (int l = 0; l < 16; l++)
                y[l] = dl * (float)((q[l] >> shift) & 3) - ml;
#endif
        }
    }
}

/* The 16 signed 6-bit scales of a q3_K block: low nibbles in bytes 0-7
 * (groups 0-7 low, 8-15 high nibble), top 2 bits of group j in byte
 * 8 + j%4 at bit 2*(j/4); stored with +32. */
static int q3k_scale(const uint8_t *s, int j)
{
    int lo = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
    int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | (hi << 4)) - 32;
}

/* q3_K (110 bytes): hmask[32], qs[64], scales[12], d.  Low 2 bits as in
 * q2_K; the third bit of element e is bit e/32 of hmask[e%32], and a clear
 * bit means minus 4. */
static void deq_q3_K(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GGT_QKK; i++, b += 110) {
        const float d_all = ggt_rd_h(b + 108);
        for (int g = 0; g < 16; g++, y += 16) {
            const float dl = d_all * (float)q3k_scale(b + 96, g);
            const int off = 16 * (g % 2), half = g / 8, s = (g % 8) / 2;
            const uint8_t *q = b + 32 + 32 * half + off, *hm = b + off;
            const int bit = 4 * half + s;
#if GGT_SIMD
            /* level = low 2 bits + 4 * high bit - 4, all within a byte */
            __m128i lo = _mm_and_si128(_mm_srli_epi16(ld16(q), 2 * s), _mm_set1_epi8(3));
            __m128i hb = _mm_and_si128(_mm_srli_epi16(ld16(hm), bit), _mm_set1_epi8(1));
            __m128i l = _mm_sub_epi8(_mm_add_epi8(lo, _mm_slli_epi16(hb, 2)), _mm_set1_epi8(4));
            _mm512_storeu_ps(y, _mm512_mul_ps(_mm512_set1_ps(dl), lv16(l)));
#else
            for (int l = 0; l < 16; l++) {
                int v = ((q[l] >> (2 * s)) & 3) - (((hm[l] >> bit) & 1) ? 0 : 4);
                y[l] = dl * (float)v;
            }
#endif
        }
    }
}

/* q6_K (210 bytes): ql[128] (low 4 bits), qh[64] (high 2 bits), int8
 * scales[16], d.  In half h, element 128h + 32k + l takes a nibble of
 * ql[64h + l + 32(k%2)] (low for k < 2) and bits 2k..2k+1 of qh[32h + l]. */
static void deq_q6_K(const void *src, float *y, int64_t n)
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
                for (int l0 = 0; l0 < 32; l0 += 16) { /* llama.cpp: (d*sc)*q */
                    const float ds = d * (float)sc[8 * h + 2 * k + l0 / 16];
                    float *o = y + 32 * k + l0;
#if GGT_SIMD
                    __m128i a = _mm_and_si128(_mm_srli_epi16(ld16(lo + l0), nib), _mm_set1_epi8(0xF));
                    __m128i c = _mm_and_si128(_mm_srli_epi16(ld16(qh + l0), 2 * k), _mm_set1_epi8(3));
                    __m128i l = _mm_sub_epi8(_mm_or_si128(a, _mm_slli_epi16(c, 4)), _mm_set1_epi8(32));
                    _mm512_storeu_ps(o, _mm512_mul_ps(_mm512_set1_ps(ds), lv16(l)));
#else
                    for (int l = l0; l < l0 + 16; l++) {
                        int q = (int)(((lo[l] >> nib) & 0xF) | (((qh[l] >> (2 * k)) & 3) << 4)) - 32;
                        o[l - l0] = ds * (float)q;
                    }
#endif
                }
            }
        }
    }
}

/* iq4_xs (136 bytes): d, scales_h (u16), scales_l[4], qs[128]; group ib's
 * 6-bit scale is nibble ib%2 of scales_l[ib/2] plus bits 2ib..2ib+1 of
 * scales_h, stored with +32; nibbles as iq4_nl. */
static void deq_iq4_xs(const void *src, float *y, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GGT_QKK; i++, b += 136) {
        const float d = ggt_rd_h(b);
        const unsigned sh = (unsigned)(b[2] | (b[3] << 8));
        const uint8_t *q = b + 8;
        for (int ib = 0; ib < 8; ib++, q += 16, y += 32) {
            int ls = ((b[4 + ib / 2] >> (4 * (ib % 2))) & 0xF) | (((sh >> (2 * ib)) & 3) << 4);
            iq4_group(q, d * (float)(ls - 32), y);
        }
    }
}

/* ---- the table ---- */

#define T(ID, NAME, BLK, SZ, DEQ, Q, QREF) \
    [ID] = {ID, NAME, BLK, SZ, 8.0 * (SZ) / (BLK), DEQ, Q, QREF}

static const struct ggt_traits traits[GGT__LIMIT] = {
    T(GGT_F32, "f32", 1, 4, ggt_ref_f32, ggt_quantize_f32, ggt_quantize_f32),
    T(GGT_F16, "f16", 1, 2, deq_f16, ggt_quantize_f16, ggt_quantize_f16),
    T(GGT_Q4_0, "q4_0", 32, 18, deq_q4_0, ggt_quantize_q4_0, ggt_quantize_q4_0),
    T(GGT_Q4_1, "q4_1", 32, 20, deq_q4_1, ggt_quantize_q4_1, ggt_quantize_q4_1),
    T(GGT_Q5_0, "q5_0", 32, 22, deq_q5_0, ggt_quantize_q5_0, ggt_quantize_q5_0),
    T(GGT_Q5_1, "q5_1", 32, 24, deq_q5_1, ggt_quantize_q5_1, ggt_quantize_q5_1),
    T(GGT_Q8_0, "q8_0", 32, 34, ggt_ref_q8_0, ggt_quantize_q8_0, ggt_quantize_q8_0),
    T(GGT_Q2_K, "q2_K", 256, 84, deq_q2_K, ggt_quantize_q2_K, ggt_quantize_q2_K),
    T(GGT_Q3_K, "q3_K", 256, 110, deq_q3_K, ggt_quantize_q3_K, ggt_quantize_q3_K),
    T(GGT_Q4_K, "q4_K", 256, 144, ggt_ref_q4_K, ggt_quantize_q4_K, ggt_quantize_q4_K_ref),
    T(GGT_Q5_K, "q5_K", 256, 176, ggt_ref_q5_K, ggt_quantize_q5_K, ggt_quantize_q5_K),
    T(GGT_Q6_K, "q6_K", 256, 210, deq_q6_K, ggt_quantize_q6_K, ggt_quantize_q6_K),
    T(GGT_IQ4_NL, "iq4_nl", 32, 18, deq_iq4_nl, ggt_quantize_iq4_nl, ggt_quantize_iq4_nl),
    T(GGT_IQ4_XS, "iq4_xs", 256, 136, deq_iq4_xs, ggt_quantize_iq4_xs, ggt_quantize_iq4_xs),
    T(GGT_BF16, "bf16", 1, 2, deq_bf16, ggt_quantize_bf16, ggt_quantize_bf16),
};

const struct ggt_traits *ggt_traits(uint32_t id)
{
    return id < GGT__LIMIT && traits[id].name ? &traits[id] : NULL;
}

const struct ggt_traits *ggt_by_name(const char *name)
{
    for (int i = 0; name && i < GGT__LIMIT; i++)
        if (traits[i].name && !strcasecmp(traits[i].name, name))
            return &traits[i];
    return NULL;
}

/* A dense copy in id order, built once (pthread_once: callers may be on
 * several threads). */
static struct ggt_traits dense[GGT__LIMIT];
static int n_dense;
static pthread_once_t dense_once = PTHREAD_ONCE_INIT;

static void build_dense(void)
{
    for (int i = 0; i < GGT__LIMIT; i++)
        if (traits[i].name)
            dense[n_dense++] = traits[i];
}

const struct ggt_traits *ggt_all(int *n)
{
    pthread_once(&dense_once, build_dense);
    *n = n_dense;
    return dense;
}

size_t ggt_row_size(uint32_t id, int64_t n)
{
    const struct ggt_traits *t = ggt_traits(id);
    if (!t || n <= 0 || n % t->blck_size)
        return 0;
    return (size_t)(n / t->blck_size) * (size_t)t->type_size;
}

static int check_rows(uint32_t id, int64_t nrows, int64_t n_per_row, struct qerr *err,
                      const struct ggt_traits **out)
{
    const struct ggt_traits *t = ggt_traits(id);
    if (!t)
        return qerr_set(err, QERR_UNSUPP, "ggml type %u is not supported", id);
    if (nrows < 0 || n_per_row <= 0 || n_per_row % t->blck_size)
        return qerr_set(err, QERR_ARG,
                        "%s: row length %lld is not a positive multiple of the block size %d",
                        t->name, (long long)n_per_row, t->blck_size);
    *out = t;
    return 0;
}

int ggt_to_float(uint32_t id, const void *src, float *dst, int64_t nrows, int64_t n_per_row,
                 struct qerr *err)
{
    const struct ggt_traits *t = NULL;
    int rc = check_rows(id, nrows, n_per_row, err, &t);
    if (rc)
        return rc;
    t->to_float(src, dst, nrows * n_per_row); /* rows are whole blocks */
    return 0;
}

int ggt_quantize(uint32_t id, const float *src, void *dst, int64_t nrows, int64_t n_per_row,
                 const float *imatrix, struct qerr *err)
{
    const struct ggt_traits *t = NULL;
    int rc = check_rows(id, nrows, n_per_row, err, &t);
    if (rc)
        return rc;
    /* llama.cpp's search loops assume finite input (nearest_int's range):
     * refuse NaN/Inf instead of writing garbage blocks */
    for (int64_t i = 0; i < nrows * n_per_row; i++)
        if (!isfinite(src[i]))
            return qerr_set(err, QERR_NUMERIC, "%s: row %lld, column %lld is not finite", t->name,
                            (long long)(i / n_per_row), (long long)(i % n_per_row));
    for (int64_t j = 0; imatrix && j < n_per_row; j++)
        if (!isfinite(imatrix[j]) || imatrix[j] < 0)
            return qerr_set(err, QERR_NUMERIC, "%s: importance of column %lld is %g", t->name,
                            (long long)j, (double)imatrix[j]);
    t->quantize(src, dst, nrows, n_per_row, imatrix);
    return 0;
}
