/* ggml_quantize: quantizers producing the same bytes as llama.cpp's.
 *
 * llama-quantize calls quantize_<type>(src, dst, nrows, n_per_row, imatrix):
 * without an importance matrix most types take the "_ref" path (a fixed
 * per-block recipe), with one they take a weighted "_impl" path whose
 * per-element weight is imatrix[col] * sqrt(sigma2 + x^2).  q8_0 ignores
 * the imatrix; iq4_nl / iq4_xs always run the weighted search (weights x^2
 * without an imatrix).  Byte equality depends on every rounding step, so
 * the searches below keep llama.cpp's operand order exactly: a sum is
 * accumulated left to right in float, w*x*l means (w*x)*l, and so on.
 * (See ggml_types.h on floating-point contraction.) */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "quant/ggml_impl.h"

#define GROUP_MAX_EPS 1e-15f
#define MAXI(a, b) ((a) > (b) ? (a) : (b))
#define MINI(a, b) ((a) < (b) ? (a) : (b))

/* Round to nearest, ties to even, for |f| <= 2^22: adding 1.5 * 2^23 puts
 * the integer in the low mantissa bits (ggml's nearest_int). */
static inline int nearest_int(float f)
{
    float v = f + 12582912.f;
    uint32_t i = ggt_f32_bits(v);
    return (int)(i & 0x007fffff) - 0x00400000;
}

/* ---- the searches (ggml's make_*_quants) ---- */

static float qx_weight(const float *qw, int rmse_type, float x, int i)
{
    if (qw)
        return qw[i];
    switch (rmse_type) {
    case 1: return x * x;
    case 2: return 1;
    case 3: return fabsf(x);
    default: return sqrtf(fabsf(x));
    }
}

/* Symmetric levels -nmax..nmax-1 (stored + nmax in L): try 19 scales around
 * nmax/max and keep the one with the best weighted least-squares fit. */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L, int rmse_type,
                            const float *qw)
{
    float max = 0, amax = 0;
    for (int i = 0; i < n; ++i) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = -nmax / max;
    if (rmse_type == 0) {
        for (int i = 0; i < n; ++i)
            L[i] = (int8_t)(nmax + MAXI(-nmax, MINI(nmax - 1, nearest_int(iscale * x[i]))));
        return 1 / iscale;
    }
    bool return_early = rmse_type < 0;
    if (return_early)
        rmse_type = -rmse_type;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = MAXI(-nmax, MINI(nmax - 1, nearest_int(iscale * x[i])));
        L[i] = (int8_t)(l + nmax);
        float w = qx_weight(qw, rmse_type, x[i], i);
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    if (return_early)
        return suml2 > 0 ? 0.5f * (scale + 1 / iscale) : 1 / iscale;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0)
            continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            int l = MAXI(-nmax, MINI(nmax - 1, nearest_int(iscale * x[i])));
            float w = qx_weight(qw, rmse_type, x[i], i);
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i)
                L[i] = (int8_t)(nmax + MAXI(-nmax, MINI(nmax - 1, nearest_int(iscale * x[i]))));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* q3_K's block search: start from nmax/max, then move single elements to
 * the level that improves the x^2-weighted fit, up to 5 sweeps. */
static float make_q3_quants(int n, int nmax, const float *x, int8_t *L)
{
    float max = 0, amax = 0;
    for (int i = 0; i < n; ++i) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = MAXI(-nmax, MINI(nmax - 1, nearest_int(iscale * x[i])));
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int itry = 0; itry < 5; ++itry) {
        int n_changed = 0;
        for (int i = 0; i < n; ++i) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (slx > 0) {
                float sl2 = suml2 - w * L[i] * L[i];
                int new_l = MAXI(-nmax, MINI(nmax - 1, nearest_int(x[i] * sl2 / slx)));
                if (new_l != L[i]) {
                    slx += w * x[i] * new_l;
                    sl2 += w * new_l * new_l;
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (int8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        ++n_changed;
                    }
                }
            }
        }
        if (!n_changed)
            break;
    }
    for (int i = 0; i < n; ++i)
        L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Affine levels 0..nmax with a min <= 0 (returned negated in *the_min):
 * scan nstep+1 inverse scales (rmin + rdelta*is + nmax)/(max - min), fit
 * scale and min by weighted least squares for each, keep the lowest
 * weighted error (|diff| when use_mad, diff^2 otherwise).  weights NULL
 * means x^2 (make_qkx3_quants; make_qkx2_quants always passes weights). */
static float make_qkx_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                             float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep,
                             bool use_mad)
{
    float min = x[0], max = x[0];
    float sum_w = weights ? weights[0] : x[0] * x[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min)
            min = x[i];
        if (x[i] > max)
            max = x[i];
        float w = weights ? weights[i] : x[i] * x[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0)
        min = 0;
    if (!(max > min)) { /* constant block (or NaN): all levels 0 */
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; ++i) {
        int l = nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)MAXI(0, MINI(nmax, l));
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        float w = weights ? weights[i] : x[i] * x[i];
        best_error += w * diff;
    }
    if (nstep < 1) {
        *the_min = -min;
        return scale;
    }
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            /* min may sit near max after a fit: keep v in nearest_int's range */
            const float v = iscale * (x[i] - min);
            const int l = v > 0 ? nearest_int(v < nmax ? v : (float)nmax) : 0;
            Laux[i] = (uint8_t)l;
            float w = weights ? weights[i] : x[i] * x[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; ++i) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                float w = weights ? weights[i] : x[i] * x[i];
                cur_error += w * diff;
            }
            if (cur_error < best_error) {
                memcpy(L, Laux, (size_t)n);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* Non-negative levels 0..nmax for the sub-block scales of the weighted
 * k-quants: 9 trial scales, then single-element moves (as make_q3_quants). */
static float make_qp_quants(int n, int nmax, const float *x, uint8_t *L, const float *qw)
{
    float max = 0;
    for (int i = 0; i < n; ++i)
        max = max > x[i] ? max : x[i];
    if (max < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = nmax / max;
    for (int i = 0; i < n; ++i)
        L[i] = (uint8_t)nearest_int(iscale * x[i]);
    float scale = 1 / iscale;
    float best_mse = 0;
    for (int i = 0; i < n; ++i) {
        float diff = x[i] - scale * L[i];
        best_mse += qw[i] * diff * diff;
    }
    for (int is = -4; is <= 4; ++is) {
        if (is == 0)
            continue;
        float iscale_is = (0.1f * is + nmax) / max;
        float scale_is = 1 / iscale_is;
        float mse = 0;
        for (int i = 0; i < n; ++i) {
            int l = MINI(nmax, nearest_int(iscale_is * x[i]));
            float diff = x[i] - scale_is * l;
            mse += qw[i] * diff * diff;
        }
        if (mse < best_mse) {
            best_mse = mse;
            iscale = iscale_is;
        }
    }
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = MINI(nmax, nearest_int(iscale * x[i]));
        L[i] = (uint8_t)l;
        sumlx += qw[i] * x[i] * l;
        suml2 += qw[i] * l * l;
    }
    for (int itry = 0; itry < 5; ++itry) {
        int n_changed = 0;
        for (int i = 0; i < n; ++i) {
            float w = qw[i];
            float slx = sumlx - w * x[i] * L[i];
            float sl2 = suml2 - w * L[i] * L[i];
            if (slx > 0 && sl2 > 0) {
                int new_l = MINI(nmax, nearest_int(x[i] * sl2 / slx));
                if (new_l != L[i]) {
                    slx += w * x[i] * new_l;
                    sl2 += w * new_l * new_l;
                    if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (uint8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        ++n_changed;
                    }
                }
            }
        }
        if (!n_changed)
            break;
    }
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* ---- float formats ---- */

void ggt_quantize_f32(const float *x, void *y, int64_t nrows, int64_t n, const float *qw)
{
    memcpy(y, x, (size_t)(nrows * n) * sizeof(float));
}

void ggt_quantize_f16(const float *x, void *y, int64_t nrows, int64_t n, const float *qw)
{
    uint8_t *p = y;
    for (int64_t i = 0; i < nrows * n; i++)
        ggt_wr_h(p + 2 * i, x[i]);
}

void ggt_quantize_bf16(const float *x, void *y, int64_t nrows, int64_t n, const float *qw)
{
    uint8_t *p = y;
    for (int64_t i = 0; i < nrows * n; i++) {
        uint32_t u = ggt_f32_bits(x[i]);
        uint16_t h = (u & 0x7fffffffu) > 0x7f800000u ? (uint16_t)((u >> 16) | 64)
                                                     : (uint16_t)((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
        p[2 * i] = (uint8_t)(h & 0xff);
        p[2 * i + 1] = (uint8_t)(h >> 8);
    }
}

/* ---- legacy 32-element blocks ---- */

static void pack_nibbles16(uint8_t *qs, const uint8_t *L)
{
    for (int j = 0; j < 16; ++j)
        qs[j] = (uint8_t)((L[j] & 0xF) | ((L[j + 16] & 0xF) << 4));
}

static void pack_q5(uint8_t *qh4, uint8_t *qs, const uint8_t *L)
{
    uint32_t qh = 0;
    pack_nibbles16(qs, L);
    for (int j = 0; j < 16; ++j) {
        qh |= (uint32_t)((L[j] & 0x10u) >> 4) << j;
        qh |= (uint32_t)((L[j + 16] & 0x10u) >> 4) << (j + 16);
    }
    for (int k = 0; k < 4; k++)
        qh4[k] = (uint8_t)(qh >> (8 * k));
}

/* Absolute max and the signed value that attains it (first wins). */
static float signed_absmax(const float *x, int n)
{
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++)
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    return max;
}

/* Symmetric 2^b levels without weights: d = max / -2^(b-1). */
static void legacy_sym_ref(const float *x, uint8_t *L, float *dout, int half)
{
    const float d = signed_absmax(x, 32) / (float)-half;
    const float id = d ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; ++j) {
        const float v = x[j] * id;
        int q = (int8_t)(v + ((float)half + 0.5f));
        L[j] = (uint8_t)MINI(2 * half - 1, q);
    }
    *dout = d;
}

/* Affine 2^b levels without weights: d = (max - min) / (2^b - 1), m = min. */
static void legacy_aff_ref(const float *x, uint8_t *L, float *dout, float *mout, int levels,
                           bool clamp)
{
    float min = 3.402823466e+38f, max = -3.402823466e+38f;
    for (int j = 0; j < 32; j++) {
        if (x[j] < min)
            min = x[j];
        if (x[j] > max)
            max = x[j];
    }
    const float d = (max - min) / (float)(levels - 1);
    const float id = d ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; ++j) {
        const float v = (x[j] - min) * id;
        if (clamp)
            L[j] = (uint8_t)MINI(levels - 1, (int8_t)(v + 0.5f));
        else
            L[j] = (uint8_t)(v + 0.5f);
    }
    *dout = d;
    *mout = min;
}

/* sigma2 of the weighted legacy paths: mean square over the whole row. */
static float row_sigma2(const float *x, int64_t n)
{
    float s = 0;
    for (int64_t j = 0; j < n; ++j)
        s += x[j] * x[j];
    return s / n;
}

static void legacy_weights(const float *xb, const float *qw, float sigma2, float *w)
{
    for (int j = 0; j < 32; ++j)
        w[j] = qw[j] * sqrtf(sigma2 + xb[j] * xb[j]);
}

/* One row of a weighted symmetric legacy type (q4_0: nmax 8, q5_0: 16). */
static void legacy_sym_w(const float *x, uint8_t *y, int64_t n, const float *qw, int nmax,
                         int bsz)
{
    const float sigma2 = row_sigma2(x, n);
    float w[32];
    int8_t L[32];
    for (int64_t ib = 0; ib < n / 32; ++ib, y += bsz) {
        legacy_weights(x + 32 * ib, qw + 32 * ib, sigma2, w);
        float d = make_qx_quants(32, nmax, x + 32 * ib, L, 1, w);
        ggt_wr_h(y, d);
        if (nmax == 8)
            pack_nibbles16(y + 2, (const uint8_t *)L);
        else
            pack_q5(y + 2, y + 6, (const uint8_t *)L);
    }
}

/* One row of a weighted affine legacy type (q4_1: nmax 15, q5_1: 31). */
static void legacy_aff_w(const float *x, uint8_t *y, int64_t n, const float *qw, int nmax,
                         int bsz)
{
    const float sigma2 = row_sigma2(x, n);
    float w[32], min;
    uint8_t L[32], Laux[32];
    for (int64_t ib = 0; ib < n / 32; ++ib, y += bsz) {
        legacy_weights(x + 32 * ib, qw + 32 * ib, sigma2, w);
        float d = make_qkx_quants(32, nmax, x + 32 * ib, w, L, &min, Laux, -0.9f, 0.05f, 36, false);
        ggt_wr_h(y, d);
        ggt_wr_h(y + 2, -min);
        if (nmax == 15)
            pack_nibbles16(y + 4, L);
        else
            pack_q5(y + 4, y + 8, L);
    }
}

void ggt_quantize_q4_0(const float *x, void *vy, int64_t nrows, int64_t n, const float *qw)
{
    uint8_t *y = vy;
    if (qw) {
        for (int64_t r = 0; r < nrows; r++)
            legacy_sym_w(x + r * n, y + r * (n / 32) * 18, n, qw, 8, 18);
        return;
    }
    uint8_t L[32];
    for (int64_t i = 0; i < nrows * n / 32; i++, y += 18) {
        float d;
        legacy_sym_ref(x + 32 * i, L, &d, 8);
        ggt_wr_h(y, d);
        pack_nibbles16(y + 2, L);
    }
}

void ggt_quantize_q5_0(const float *x, void *vy, int64_t nrows, int64_t n, const float *qw)
{
    uint8_t *y = vy;
    if (qw) {
        for (int64_t r = 0; r < nrows; r++)
            legacy_sym_w(x + r * n, y + r * (n / 32) * 22, n, qw, 16, 22);
        return;
    }
    uint8_t L[32];
    for (int64_t i = 0; i < nrows * n / 32; i++, y += 22) {
        float d;
        legacy_sym_ref(x + 32 * i, L, &d, 16);
        ggt_wr_h(y, d);
        pack_q5(y + 2, y + 6, L);
    }
}

void ggt_quantize_q4_1(const float *x, void *vy, int64_t nrows, int64_t n, const float *qw)
{
    uint8_t *y = vy;
    if (qw) {
        for (int64_t r = 0; r < nrows; r++)
            legacy_aff_w(x + r * n, y + r * (n / 32) * 20, n, qw, 15, 20);
        return;
    }
    uint8_t L[32];
    for (int64_t i = 0; i < nrows * n / 32; i++, y += 20) {
        float d, m;
        legacy_aff_ref(x + 32 * i, L, &d, &m, 16, true);
        ggt_wr_h(y, d);
        ggt_wr_h(y + 2, m);
        pack_nibbles16(y + 4, L);
    }
}

void ggt_quantize_q5_1(const float *x, void *vy, int64_t nrows, int64_t n, const float *qw)
{
    uint8_t *y = vy;
    if (qw) {
        for (int64_t r = 0; r < nrows; r++)
            legacy_aff_w(x + r * n, y + r * (n / 32) * 24, n, qw, 31, 24);
        return;
    }
    uint8_t L[32];
    for (int64_t i = 0; i < nrows * n / 32; i++, y += 24) {
        float d, m;
        legacy_aff_ref(x + 32 * i, L, &d, &m, 32, false);
        ggt_wr_h(y, d);
        ggt_wr_h(y + 2, m);
        pack_q5(y + 4, y + 8, L);
    }
}

/* q8_0 has no weighted path: llama.cpp ignores the imatrix for it. */
void ggt_quantize_q8_0(const float *x, void *vy, int64_t nrows, int64_t n, const float *qw)
{
    uint8_t *y = vy;
    for (int64_t i = 0; i < nrows * n / 32; i++, y += 34, x += 32) {
        float amax = 0;
        for (int j = 0; j < 32; j++)
            amax = amax > fabsf(x[j]) ? amax : fabsf(x[j]);
        const float d = amax / 127;
        const float id = d ? 1.0f / d : 0.0f;
        ggt_wr_h(y, d);
        for (int j = 0; j < 32; ++j)
            y[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
    }
}

/* ---- k-quants ---- */

/* qs of q2_K / q3_K: element 128h + 32s + l in bits 2s of qs[32h + l]. */
static void pack_2bit(uint8_t *qs, const uint8_t *L)
{
    for (int j = 0; j < GGT_QKK; j += 128)
        for (int l = 0; l < 32; ++l)
            qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                      (L[j + l + 96] << 6));
}

/* q2_K block from its scales byte (scale | min << 4), d and dmin already
 * stored: requantize every group whose scale is not zero. */
static void q2k_finish(const float *x, uint8_t *y, uint8_t *L)
{
    const float dd = ggt_rd_h(y + 80), dm0 = ggt_rd_h(y + 82);
    for (int j = 0; j < 16; ++j) {
        const float d = dd * (float)(y[j] & 0xF);
        if (!d)
            continue;
        const float dm = dm0 * (float)(y[j] >> 4);
        for (int ii = 0; ii < 16; ++ii) {
            int l = nearest_int((x[16 * j + ii] + dm) / d);
            L[16 * j + ii] = (uint8_t)MAXI(0, MINI(3, l));
        }
    }
    pack_2bit(y + 16, L);
}

static void q2k_block_ref(const float *x, uint8_t *y)
{
    uint8_t L[GGT_QKK], Laux[16];
    float weights[16], mins[16], scales[16];
    const float q4scale = 15.f;
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; ++j) {
        for (int l = 0; l < 16; ++l)
            weights[l] = fabsf(x[16 * j + l]);
        scales[j] = make_qkx_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f,
                                    0.1f, 15, true);
        if (scales[j] > max_scale)
            max_scale = scales[j];
        if (mins[j] > max_min)
            max_min = mins[j];
    }
    if (max_scale > 0) {
        float iscale = q4scale / max_scale;
        for (int j = 0; j < 16; ++j)
            y[j] = (uint8_t)nearest_int(iscale * scales[j]);
        ggt_wr_h(y + 80, max_scale / q4scale);
    } else {
        memset(y, 0, 16);
        ggt_wr_h(y + 80, 0.f);
    }
    if (max_min > 0) {
        float iscale = q4scale / max_min;
        for (int j = 0; j < 16; ++j)
            y[j] |= (uint8_t)(nearest_int(iscale * mins[j]) << 4);
        ggt_wr_h(y + 82, max_min / q4scale);
    } else {
        ggt_wr_h(y + 82, 0.f);
    }
    q2k_finish(x, y, L);
}

static float block_sumsq(const float *x)
{
    float s = 0;
    for (int j = 0; j < GGT_QKK; ++j)
        s += x[j] * x[j];
    return s;
}

static void q2k_block_w(const float *x, uint8_t *y, const float *qw)
{
    uint8_t L[GGT_QKK], Laux[16], Ls[16], Lm[16];
    float mins[16], scales[16], sw[16], weight[16];
    const float sigma2 = block_sumsq(x) / GGT_QKK;
    for (int j = 0; j < 16; ++j) {
        sw[j] = 0;
        for (int l = 0; l < 16; ++l)
            weight[l] = qw[16 * j + l] * sqrtf(sigma2 + x[16 * j + l] * x[16 * j + l]);
        for (int l = 0; l < 16; ++l)
            sw[j] += weight[l];
        scales[j] = make_qkx_quants(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j], Laux, -0.9f,
                                    0.05f, 36, false);
    }
    float dm = make_qp_quants(16, 15, scales, Ls, sw);
    float mm = make_qp_quants(16, 15, mins, Lm, sw);
    ggt_wr_h(y + 80, dm);
    ggt_wr_h(y + 82, mm);
    for (int j = 0; j < 16; ++j)
        y[j] = (uint8_t)(Ls[j] | (Lm[j] << 4));
    q2k_finish(x, y, L);
}

void ggt_quantize_q2_K(const float *x, void *vy, int64_t nrows, int64_t n, const float *qw)
{
    uint8_t *y = vy;
    for (int64_t i = 0; i < nrows * n / GGT_QKK; i++, x += GGT_QKK, y += 84) {
        if (qw)
            q2k_block_w(x, y, qw + (i % (n / GGT_QKK)) * GGT_QKK);
        else
            q2k_block_ref(x, y);
    }
}

/* Store 16 6-bit scales (0..63) the q3_K way. */
static void q3k_pack_scales(uint8_t *s, const int *l6)
{
    memset(s, 0, 12);
    for (int j = 0; j < 16; ++j) {
        int l = l6[j];
        if (j < 8)
            s[j] = (uint8_t)(l & 0xF);
        else
            s[j - 8] |= (uint8_t)((l & 0xF) << 4);
        s[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
    }
}

/* Requantize with the stored scales, then hmask (bit e/32 of byte e%32 for
 * levels >= 4) and the low 2 bits. */
static void q3k_finish(const float *x, uint8_t *y, int8_t *L)
{
    const uint8_t *s = y + 96;
    const float dd = ggt_rd_h(y + 108);
    for (int j = 0; j < 16; ++j) {
        int lo = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
        int8_t sc = (int8_t)((lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32);
        float d = dd * sc;
        if (!d)
            continue;
        for (int ii = 0; ii < 16; ++ii) {
            int l = MAXI(-4, MINI(3, nearest_int(x[16 * j + ii] / d)));
            L[16 * j + ii] = (int8_t)(l + 4);
        }
    }
    memset(y, 0, 32);
    for (int j = 0; j < GGT_QKK; ++j)
        if (L[j] > 3) {
            y[j % 32] |= (uint8_t)(1 << (j / 32));
            L[j] -= 4;
        }
    pack_2bit(y + 32, (const uint8_t *)L);
}

static void q3k_block_ref(const float *x, uint8_t *y)
{
    int8_t L[GGT_QKK];
    float scales[16];
    int l6[16];
    float max_scale = 0, amax = 0;
    for (int j = 0; j < 16; ++j) {
        scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
        float scale = fabsf(scales[j]);
        if (scale > amax) {
            amax = scale;
            max_scale = scales[j];
        }
    }
    if (max_scale) {
        float iscale = -32.f / max_scale;
        for (int j = 0; j < 16; ++j) {
            int8_t l = (int8_t)nearest_int(iscale * scales[j]);
            l6[j] = MAXI(-32, MINI(31, l)) + 32;
        }
        q3k_pack_scales(y + 96, l6);
        ggt_wr_h(y + 108, 1 / iscale);
    } else {
        memset(y + 96, 0, 12);
        ggt_wr_h(y + 108, 0.f);
    }
    q3k_finish(x, y, L);
}

static void q3k_block_w(const float *x, uint8_t *y, const float *qw)
{
    int8_t L[GGT_QKK], Ls[16];
    float scales[16], weight[16], sw[16];
    int l6[16];
    const float sigma2 = 2 * block_sumsq(x) / GGT_QKK;
    for (int j = 0; j < 16; ++j) {
        const float *xb = x + 16 * j;
        for (int l = 0; l < 16; ++l)
            weight[l] = qw ? qw[16 * j + l] * sqrtf(sigma2 + xb[l] * xb[l]) : xb[l] * xb[l];
        float sumw = 0;
        for (int l = 0; l < 16; ++l)
            sumw += weight[l];
        sw[j] = sumw;
        scales[j] = make_qx_quants(16, 4, xb, L + 16 * j, 1, weight);
    }
    float d_block = make_qx_quants(16, 32, scales, Ls, 1, sw);
    for (int j = 0; j < 16; ++j)
        l6[j] = Ls[j];
    q3k_pack_scales(y + 96, l6);
    ggt_wr_h(y + 108, d_block);
    q3k_finish(x, y, L);
}

void ggt_quantize_q3_K(const float *x, void *vy, int64_t nrows, int64_t n, const float *qw)
{
    uint8_t *y = vy;
    for (int64_t i = 0; i < nrows * n / GGT_QKK; i++, x += GGT_QKK, y += 110) {
        if (qw)
            q3k_block_w(x, y, qw + (i % (n / GGT_QKK)) * GGT_QKK);
        else
            q3k_block_ref(x, y);
    }
}

/* q4_K / q5_K share everything but the level count (15 or 31) and the
 * packing of the levels. */
static void k4_pack_scales(uint8_t *s, const uint8_t *ls, const uint8_t *lm)
{
    for (int j = 0; j < 8; ++j) {
        if (j < 4) {
            s[j] = ls[j];
            s[j + 4] = lm[j];
        } else {
            s[j + 4] = (uint8_t)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
            s[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            s[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
}

static void k45_requant(const float *x, const uint8_t *y, uint8_t *L, int nmax)
{
    const float dd = ggt_rd_h(y), dmin = ggt_rd_h(y + 2);
    for (int j = 0; j < 8; ++j) {
        uint8_t sc, m;
        ggt_scale_min_k4(j, y + 4, &sc, &m);
        const float d = dd * sc;
        if (!d)
            continue;
        const float dm = dmin * m;
        for (int ii = 0; ii < 32; ++ii) {
            int l = nearest_int((x[32 * j + ii] + dm) / d);
            L[32 * j + ii] = (uint8_t)MAXI(0, MINI(nmax, l));
        }
    }
}

static void k45_pack(uint8_t *y, const uint8_t *L, int nmax)
{
    if (nmax == 15) {
        uint8_t *q = y + 16;
        for (int j = 0; j < GGT_QKK; j += 64, q += 32)
            for (int l = 0; l < 32; ++l)
                q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
        return;
    }
    uint8_t *qh = y + 16, *ql = y + 48;
    memset(qh, 0, 32);
    uint8_t m1 = 1, m2 = 2;
    for (int n = 0; n < GGT_QKK; n += 64, ql += 32) {
        for (int j = 0; j < 32; ++j) {
            int l1 = L[n + j], l2 = L[n + j + 32];
            if (l1 > 15) {
                l1 -= 16;
                qh[j] |= m1;
            }
            if (l2 > 15) {
                l2 -= 16;
                qh[j] |= m2;
            }
            ql[j] = (uint8_t)(l1 | (l2 << 4));
        }
        m1 = (uint8_t)(m1 << 2);
        m2 = (uint8_t)(m2 << 2);
    }
}

/* Reference recipe (quantize_row_q4_K_ref / q5_K_ref). */
static void k45_block_ref(const float *x, uint8_t *y, int nmax)
{
    uint8_t L[GGT_QKK], Laux[32], ls[8], lm[8];
    float weights[32], mins[8], scales[8];
    const float rmin = nmax == 15 ? -1.f : -0.5f;
    const int nstep = nmax == 15 ? 20 : 15;
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; ++j) {
        const float *xb = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l)
            sum_x2 += xb[l] * xb[l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; ++l)
            weights[l] = av_x + fabsf(xb[l]);
        scales[j] = make_qkx_quants(32, nmax, xb, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f,
                                    nstep, false);
        if (scales[j] > max_scale)
            max_scale = scales[j];
        if (mins[j] > max_min)
            max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < 8; ++j) {
        uint8_t a = (uint8_t)nearest_int(inv_scale * scales[j]);
        uint8_t b = (uint8_t)nearest_int(inv_min * mins[j]);
        ls[j] = a < 63 ? a : 63;
        lm[j] = b < 63 ? b : 63;
    }
    k4_pack_scales(y + 4, ls, lm);
    ggt_wr_h(y, max_scale / 63.f);
    ggt_wr_h(y + 2, max_min / 63.f);
    k45_requant(x, y, L, nmax);
    k45_pack(y, L, nmax);
}

/* Weighted recipe (quantize_row_q4_K_impl / q5_K_impl); qw may be NULL. */
static void k45_block_w(const float *x, uint8_t *y, const float *qw, int nmax)
{
    uint8_t L[GGT_QKK], Laux[32], Ls[8], Lm[8];
    float weights[32], sw[8], mins[8], scales[8];
    const float sigma2 = 2 * block_sumsq(x) / GGT_QKK;
    const float av_x = sqrtf(sigma2);
    for (int j = 0; j < 8; ++j) {
        const float *xb = x + 32 * j;
        for (int l = 0; l < 32; ++l)
            weights[l] = qw ? qw[32 * j + l] * sqrtf(sigma2 + xb[l] * xb[l]) : av_x + fabsf(xb[l]);
        float sumw = 0;
        for (int l = 0; l < 32; ++l)
            sumw += weights[l];
        sw[j] = sumw;
        scales[j] = make_qkx_quants(32, nmax, xb, weights, L + 32 * j, &mins[j], Laux, -0.9f, 0.05f,
                                    36, false);
    }
    float d_block = make_qp_quants(8, 63, scales, Ls, sw);
    float m_block = make_qp_quants(8, 63, mins, Lm, sw);
    for (int j = 0; j < 8; ++j) {
        Ls[j] = Ls[j] < 63 ? Ls[j] : 63;
        Lm[j] = Lm[j] < 63 ? Lm[j] : 63;
    }
    k4_pack_scales(y + 4, Ls, Lm);
    ggt_wr_h(y, d_block);
    ggt_wr_h(y + 2, m_block);
    k45_requant(x, y, L, nmax);
    k45_pack(y, L, nmax);
}

static void k45_rows(const float *x, uint8_t *y, int64_t nrows, int64_t n, const float *qw,
                     int nmax, int bsz)
{
    for (int64_t i = 0; i < nrows * n / GGT_QKK; i++, x += GGT_QKK, y += bsz) {
        if (qw)
            k45_block_w(x, y, qw + (i % (n / GGT_QKK)) * GGT_QKK, nmax);
        else
            k45_block_ref(x, y, nmax);
    }
}

void ggt_quantize_q4_K_ref(const float *x, void *vy, int64_t nrows, int64_t n, const float *qw)
{
    k45_rows(x, vy, nrows, n, qw, 15, 144);
}

void ggt_quantize_q5_K(const float *x, void *vy, int64_t nrows, int64_t n, const float *qw)
{
    k45_rows(x, vy, nrows, n, qw, 31, 176);
}

/* q6_K: 16 groups of 16, symmetric 6-bit levels, int8 scales. */
static void q6k_block(const float *x, uint8_t *y, const float *qw)
{
    int8_t L[GGT_QKK];
    float scales[16];
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < 16; ++ib) {
        const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, 1, qw ? qw + 16 * ib : NULL);
        scales[ib] = scale;
        if (fabsf(scale) > max_abs_scale) {
            max_abs_scale = fabsf(scale);
            max_scale = scale;
        }
    }
    if (max_abs_scale < GROUP_MAX_EPS) {
        memset(y, 0, 210);
        return;
    }
    float iscale = -128.f / max_scale;
    ggt_wr_h(y + 208, 1 / iscale);
    int8_t *sc = (int8_t *)(y + 192);
    for (int ib = 0; ib < 16; ++ib)
        sc[ib] = (int8_t)MINI(127, nearest_int(iscale * scales[ib]));
    const float dd = ggt_rd_h(y + 208);
    for (int j = 0; j < 16; ++j) {
        float d = dd * sc[j];
        if (!d)
            continue;
        for (int ii = 0; ii < 16; ++ii) {
            int l = MAXI(-32, MINI(31, nearest_int(x[16 * j + ii] / d)));
            L[16 * j + ii] = (int8_t)(l + 32);
        }
    }
    uint8_t *ql = y, *qh = y + 128;
    for (int j = 0; j < GGT_QKK; j += 128, ql += 64, qh += 32) {
        for (int l = 0; l < 32; ++l) {
            const uint8_t q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF;
            const uint8_t q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
            ql[l] = (uint8_t)(q1 | (q3 << 4));
            ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
            qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) |
                              ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
        }
    }
}

void ggt_quantize_q6_K(const float *x, void *vy, int64_t nrows, int64_t n, const float *qw)
{
    uint8_t *y = vy;
    for (int64_t i = 0; i < nrows * n / GGT_QKK; i++, x += GGT_QKK, y += 210)
        q6k_block(x, y, qw ? qw + (i % (n / GGT_QKK)) * GGT_QKK : NULL);
}

/* ---- non-linear 4-bit (iq4_nl, iq4_xs) ---- */

/* Index of the grid value nearest to x (ggml's best_index_int8 of
 * llama.cpp b4700 era: bisection, then the closer of two neighbours with
 * ties going up). */
static int best_index_int8(int n, const int8_t *val, float x)
{
    if (x <= val[0])
        return 0;
    if (x >= val[n - 1])
        return n - 1;
    int ml = 0, mu = n - 1;
    while (mu - ml > 1) {
        int mav = (ml + mu) / 2;
        if (x < val[mav])
            mu = mav;
        else
            ml = mav;
    }
    return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

/* Best scale of one 32-element block over 2*ntry+1 trial scales (levels in
 * Lb for the first trial); returns the signed scale. */
static float iq4_block_scale(const float *xb, const float *weight, uint8_t *Lb, int ntry)
{
    const int8_t *values = ggt_iq4nl_values;
    float amax = 0, max = 0;
    for (int j = 0; j < 32; ++j)
        if (fabsf(xb[j]) > amax) {
            amax = fabsf(xb[j]);
            max = xb[j];
        }
    if (amax < GROUP_MAX_EPS) {
        memset(Lb, 0, 32);
        return 0;
    }
    float d = ntry > 0 ? -max / values[0] : max / values[0];
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < 32; ++j) {
        int l = best_index_int8(16, values, id * xb[j]);
        Lb[j] = (uint8_t)l;
        float q = values[l], w = weight[j];
        sumqx += w * q * xb[j];
        sumq2 += w * q * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int itry = -ntry; itry <= ntry; ++itry) {
        id = (itry + values[0]) / max;
        sumqx = sumq2 = 0;
        for (int j = 0; j < 32; ++j) {
            float q = values[best_index_int8(16, values, id * xb[j])], w = weight[j];
            sumqx += w * q * xb[j];
            sumq2 += w * q * q;
        }
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

/* One super-block of nsub 32-element blocks (1: iq4_nl, 8: iq4_xs).
 * y points at the block's d; iq4_xs's scales follow at y + 2. */
static void iq4_superblock(const float *x, uint8_t *y, uint8_t *q4, int nsub, const float *qw)
{
    const int sbs = 32 * nsub;
    uint8_t L[GGT_QKK];
    float scales[8], weight[32];
    float sigma2 = 0;
    for (int j = 0; j < sbs; ++j)
        sigma2 += x[j] * x[j];
    sigma2 *= 2.f / sbs;
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < nsub; ++ib) {
        const float *xb = x + 32 * ib;
        for (int j = 0; j < 32; ++j)
            weight[j] = qw ? qw[32 * ib + j] * sqrtf(sigma2 + xb[j] * xb[j]) : xb[j] * xb[j];
        scales[ib] = iq4_block_scale(xb, weight, L + 32 * ib, 7);
        if (fabsf(scales[ib]) > amax_scale) {
            amax_scale = fabsf(scales[ib]);
            max_scale = scales[ib];
        }
    }
    if (nsub > 1) {
        uint16_t sh = 0;
        uint8_t *sl = y + 4;
        float d = -max_scale / 32;
        ggt_wr_h(y, d);
        float id = d ? 1 / d : 0.f;
        for (int ib = 0; ib < nsub; ++ib) {
            int l = MAXI(-32, MINI(31, nearest_int(id * scales[ib])));
            float dl = d * l;
            float idl = dl ? 1 / dl : 0.f;
            for (int j = 0; j < 32; ++j)
                L[32 * ib + j] = (uint8_t)best_index_int8(16, ggt_iq4nl_values, idl * x[32 * ib + j]);
            l += 32;
            if (ib % 2 == 0)
                sl[ib / 2] = (uint8_t)(l & 0xF);
            else
                sl[ib / 2] |= (uint8_t)((l & 0xF) << 4);
            sh |= (uint16_t)((l >> 4) << (2 * (ib % 8)));
        }
        y[2] = (uint8_t)(sh & 0xff);
        y[3] = (uint8_t)(sh >> 8);
    } else {
        ggt_wr_h(y, scales[0]);
        float id = scales[0] ? 1 / scales[0] : 0;
        for (int j = 0; j < 32; ++j)
            L[j] = (uint8_t)best_index_int8(16, ggt_iq4nl_values, id * x[j]);
    }
    for (int i = 0; i < nsub; ++i)
        pack_nibbles16(q4 + 16 * i, L + 32 * i);
}

void ggt_quantize_iq4_nl(const float *x, void *vy, int64_t nrows, int64_t n, const float *qw)
{
    uint8_t *y = vy;
    for (int64_t i = 0; i < nrows * n / GGT_QK; i++, x += GGT_QK, y += 18)
        iq4_superblock(x, y, y + 2, 1, qw ? qw + (i % (n / GGT_QK)) * GGT_QK : NULL);
}

void ggt_quantize_iq4_xs(const float *x, void *vy, int64_t nrows, int64_t n, const float *qw)
{
    uint8_t *y = vy;
    for (int64_t i = 0; i < nrows * n / GGT_QKK; i++, x += GGT_QKK, y += 136)
        iq4_superblock(x, y, y + 8, 8, qw ? qw + (i % (n / GGT_QKK)) * GGT_QKK : NULL);
}

/* ---- q4_K fast path: the reference recipe on row ranges in parallel ----
 * Rows are independent, so splitting them over threads gives the same bytes. */

struct k4_job {
    const float *x;
    uint8_t *y;
    int64_t nrows, n;
    const float *qw;
};

static void *k4_worker(void *arg)
{
    struct k4_job *j = arg;
    k45_rows(j->x, j->y, j->nrows, j->n, j->qw, 15, 144);
    return NULL;
}

void ggt_quantize_q4_K(const float *x, void *vy, int64_t nrows, int64_t n, const float *qw)
{
    enum { NT = 2 };
    uint8_t *y = vy;
    const size_t row_bytes = (size_t)(n / GGT_QKK) * 144;
    if (nrows * n < (1 << 20) || nrows < NT) {
        k45_rows(x, y, nrows, n, qw, 15, 144);
        return;
    }
    pthread_t th[NT];
    struct k4_job jobs[NT];
    int started[NT] = {0};
    int64_t r0 = 0;
    for (int t = 0; t < NT; t++) {
        int64_t r1 = nrows * (t + 1) / NT;
        jobs[t] = (struct k4_job){x + r0 * n, y + r0 * row_bytes, r1 - r0, n, qw};
        started[t] = t > 0 && !pthread_create(&th[t], NULL, k4_worker, &jobs[t]);
        r0 = r1;
    }
    k4_worker(&jobs[0]);
    for (int t = 1; t < NT; t++) {
        if (started[t])
            pthread_join(th[t], NULL);
        else
            k4_worker(&jobs[t]); /* no thread: do it here */
    }
}
