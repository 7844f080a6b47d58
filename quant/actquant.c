/* actquant: round-to-nearest fake quantization (definitions in actquant.h). */
#include <math.h>

#include "quant/actquant.h"

/* Range of the finite values of one group. */
static int group_range(const float *x, size_t n, size_t stride, float *lo, float *hi)
{
    int any = 0;
    float mn = 0, mx = 0;
    for (size_t i = 0; i < n; i++) {
        float v = x[i * stride];
        if (!isfinite(v))
            continue;
        if (!any || v < mn) mn = v;
        if (!any || v > mx) mx = v;
        any = 1;
    }
    *lo = mn;
    *hi = mx;
    return any;
}

void actq_group(float *x, size_t n, size_t stride, int bits, int asym)
{
    float lo, hi;
    if (!group_range(x, n, stride, &lo, &hi))
        return;
    if (!asym) {
        float amax = fmaxf(fabsf(lo), fabsf(hi));
        if (amax == 0.0f)
            return;
        float qmax = (float)((1 << (bits - 1)) - 1), scale = amax / qmax;
        for (size_t i = 0; i < n; i++) {
            float *p = &x[i * stride];
            if (isfinite(*p))
                *p = fminf(fmaxf(roundf(*p / scale), -qmax), qmax) * scale;
        }
        return;
    }
    if (hi == lo)
        return;
    float levels = (float)((1u << bits) - 1), scale = (hi - lo) / levels;
    float zero = roundf(-lo / scale);
    for (size_t i = 0; i < n; i++) {
        float *p = &x[i * stride];
        if (isfinite(*p))
            *p = (fminf(fmaxf(roundf(*p / scale) + zero, 0.0f), levels) - zero) * scale;
    }
}

/* The same in the most literal form: divide, no hoisted reciprocal. */
void actq_group_ref(float *x, size_t n, size_t stride, int bits, int asym)
{
    float lo, hi;
    if (!group_range(x, n, stride, &lo, &hi))
        return;
    for (size_t i = 0; i < n; i++) {
        float *p = &x[i * stride];
        if (!isfinite(*p))
            continue;
        if (!asym) {
            float amax = fmaxf(fabsf(lo), fabsf(hi)), qmax = (float)((1 << (bits - 1)) - 1);
            if (amax == 0.0f)
                return;
            float scale = amax / qmax, q = roundf(*p / scale);
            q = q < -qmax ? -qmax : q > qmax ? qmax : q;
            *p = q * scale;
        } else {
            if (hi == lo)
                return;
            float levels = (float)((1u << bits) - 1), scale = (hi - lo) / levels;
            float zero = roundf(-lo / scale), q = roundf(*p / scale) + zero;
            q = q < 0 ? 0 : q > levels ? levels : q;
            *p = (q - zero) * scale;
        }
    }
}

static int check(int bits, struct qerr *err)
{
    if (bits < 2 || bits > 16)
        return qerr_set(err, QERR_ARG, "activation quantization: %d bits, expected 2..16", bits);
    return 0;
}

int actq_rows(float *x, size_t rows, size_t cols, int bits, size_t group, int asym,
              struct qerr *err)
{
    int rc = check(bits, err);
    if (rc)
        return rc;
    size_t g = group ? group : cols;
    for (size_t r = 0; r < rows; r++)
        for (size_t c0 = 0; c0 < cols; c0 += g)
            actq_group(x + r * cols + c0, c0 + g <= cols ? g : cols - c0, 1, bits, asym);
    return 0;
}

int actq_cols(float *x, size_t rows, size_t cols, int bits, size_t group, int asym,
              struct qerr *err)
{
    int rc = check(bits, err);
    if (rc)
        return rc;
    size_t g = group ? group : rows;
    for (size_t r0 = 0; r0 < rows; r0 += g)
        for (size_t c = 0; c < cols; c++)
            actq_group(x + r0 * cols + c, r0 + g <= rows ? g : rows - r0, cols, bits, asym);
    return 0;
}
