/* check_gemm16: the in-place F16/BF16 product against its plain reference
 * (gemm16_ref) and the reference against hand-computed values; shapes
 * with edges in every dimension (rows of x around the 12-row register
 * block, W rows around the 32-row panel, k around the 16-lane vector and
 * the 256-long panel), row strides wider than the rows, an odd W address,
 * beta 0 / 1 / other, every 16-bit pattern class (subnormal halves
 * included). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/gemm16.h"
#include "src/half.h"
#include "tests/testutil.h"

static uint32_t rng = 2463534242u;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static float frand(void)
{
    return (float)(next() >> 8) / (float)(1 << 24) * 2.0f - 1.0f;
}

/* A random finite 16-bit weight: mostly ordinary values, some of them
 * raw bit patterns (subnormals, large exponents) short of inf/NaN. */
static uint16_t wrand(enum g16_type t)
{
    if (next() % 8 == 0) {
        uint16_t h = (uint16_t)next();
        if (t == G16_F16 && (h & 0x7c00u) == 0x7c00u)
            h &= 0xbfffu; /* exponent 0x1f -> 0x0f: finite */
        if (t == G16_BF16 && (h & 0x7f80u) == 0x7f80u)
            h &= 0xbfffu;
        if (t == G16_BF16 && (h & 0x7f80u) > 0x4700u)
            h = (uint16_t)((h & 0x807fu) | 0x3f00u); /* keep products far from overflow */
        return h;
    }
    float v = frand();
    return t == G16_BF16 ? f32_to_bf16(v) : f32_to_f16(v);
}

static float wval(uint16_t h, enum g16_type t)
{
    return t == G16_BF16 ? bf16_to_f32(h) : f16_to_f32(h);
}

/* gemm16 against gemm16_ref (summed in double) on one shape: each element
 * within the float-summation bound, (k + 2) float epsilons of the sum of
 * |products| (a wrong index or a lost block is off by a whole product);
 * y's padding columns (beyond out) untouched. */
static void one_case(int n, int k, int out, enum g16_type t, float beta, int pad, int odd)
{
    size_t ldx = (size_t)k + pad, ldw = (size_t)k + pad, ldy = (size_t)out + pad;
    float *x = malloc((size_t)n * ldx * sizeof(float));
    uint16_t *wb = malloc(((size_t)out * ldw + 1) * sizeof(uint16_t));
    uint16_t *w = wb + odd; /* odd: W at an address 2 bytes past 4-byte alignment */
    float *y = malloc((size_t)n * ldy * sizeof(float)), *r = malloc((size_t)n * ldy * sizeof(float));
    for (size_t i = 0; i < (size_t)n * ldx; i++)
        x[i] = frand();
    for (size_t i = 0; i < (size_t)out * ldw; i++)
        w[i] = wrand(t);
    for (size_t i = 0; i < (size_t)n * ldy; i++)
        y[i] = r[i] = beta == 0.0f ? NAN : frand(); /* beta 0 must not read y */
    ck_assert_int_eq(gemm16(y, ldy, x, ldx, n, k, w, ldw, out, t, beta), 0);
    gemm16_ref(r, ldy, x, ldx, n, k, w, ldw, out, t, beta);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < (int)ldy; j++) {
            size_t at = (size_t)i * ldy + j;
            if (j >= out) { /* padding: untouched */
                ck_assert(memcmp(&y[at], &r[at], sizeof(float)) == 0);
                continue;
            }
            double mag = beta != 0.0f ? fabs(beta * r[at]) : 0;
            for (int q = 0; q < k; q++)
                mag += fabs((double)x[(size_t)i * ldx + q] * wval(w[(size_t)j * ldw + q], t));
            double tol = (k + 2) * 1.2e-7 * mag + 1e-37;
            ck_assert_msg(fabs((double)y[at] - r[at]) <= tol,
                          "n %d k %d out %d type %d beta %g: y[%d][%d] = %g, reference %g", n, k,
                          out, (int)t, beta, i, j, y[at], r[at]);
        }
    free(x); free(wb); free(y); free(r);
}

START_TEST(test_reference_by_hand)
{
    /* x (2, 3) Wᵀ, W (2, 3) exact in half and bfloat16: 1, -2, 0.5, 3 */
    float x[6] = {1, 2, 3, -1, 0.5f, 4};
    float wf[6] = {1, -2, 0.5f, 3, 0, -0.5f};
    for (int t = 0; t < 2; t++) {
        uint16_t w[6];
        for (int i = 0; i < 6; i++)
            w[i] = t ? f32_to_bf16(wf[i]) : f32_to_f16(wf[i]);
        float y[4] = {10, 20, 30, 40};
        gemm16_ref(y, 2, x, 3, 2, 3, w, 3, 2, (enum g16_type)t, 0.5f);
        ck_assert_float_eq(y[0], 5 + (1 - 4 + 1.5f));
        ck_assert_float_eq(y[1], 10 + (3 + 0 - 1.5f));
        ck_assert_float_eq(y[2], 15 + (-1 - 1 + 2));
        ck_assert_float_eq(y[3], 20 + (-3 + 0 - 2));
    }
}
END_TEST

START_TEST(test_shapes)
{
    if (!gemm16_available()) {
        float y = 0, x = 1;
        uint16_t w = 0x3c00;
        ck_assert_int_eq(gemm16(&y, 1, &x, 1, 1, 1, &w, 1, 1, G16_F16, 0), -1);
        return;
    }
    static const int ns[] = {1, 5, 11, 12, 13, 25, 40};
    static const int ks[] = {1, 7, 16, 17, 255, 256, 257, 600};
    static const int outs[] = {1, 15, 16, 17, 31, 32, 33, 70};
    int c = 0;
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
        for (size_t b = 0; b < sizeof ks / sizeof *ks; b++)
            for (size_t d = 0; d < sizeof outs / sizeof *outs; d++, c++) {
                enum g16_type t = c % 2 ? G16_BF16 : G16_F16;
                float beta = c % 3 == 0 ? 0.0f : c % 3 == 1 ? 1.0f : 0.5f;
                one_case(ns[a], ks[b], outs[d], t, beta, c % 5 == 0 ? 3 : 0, c % 7 == 0);
            }
}
END_TEST

/* Each type with each beta on one mid-size shape, and the forward pass's
 * shapes at a reduced row count. */
START_TEST(test_types_and_betas)
{
    if (!gemm16_available())
        return;
    for (int t = 0; t < 2; t++) {
        one_case(29, 300, 45, (enum g16_type)t, 0.0f, 0, 0);
        one_case(29, 300, 45, (enum g16_type)t, 1.0f, 1, 1);
        one_case(29, 300, 45, (enum g16_type)t, -0.25f, 2, 0);
    }
    one_case(24, 2048, 96, G16_F16, 0.0f, 0, 0);
    one_case(24, 5632, 64, G16_BF16, 1.0f, 0, 0);
}
END_TEST

START_TEST(test_bad_args)
{
    float y[4] = {0}, x[4] = {0};
    uint16_t w[4] = {0};
    ck_assert_int_eq(gemm16(y, 2, x, 2, 0, 2, w, 2, 2, G16_F16, 0), -1);
    ck_assert_int_eq(gemm16(y, 2, x, 2, 2, 0, w, 2, 2, G16_F16, 0), -1);
    ck_assert_int_eq(gemm16(y, 2, x, 2, 2, 2, w, 2, 0, G16_F16, 0), -1);
    ck_assert_int_eq(gemm16(y, 2, x, 1, 2, 2, w, 2, 2, G16_F16, 0), -1); /* ldx < k */
    ck_assert_int_eq(gemm16(y, 2, x, 2, 2, 2, w, 1, 2, G16_F16, 0), -1); /* ldw < k */
    ck_assert_int_eq(gemm16(y, 1, x, 2, 2, 2, w, 2, 2, G16_F16, 0), -1); /* ldy < out */
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gemm16");
    TCase *t = tcase_create("gemm16");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, test_reference_by_hand);
    tcase_add_test(t, test_shapes);
    tcase_add_test(t, test_types_and_betas);
    tcase_add_test(t, test_bad_args);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
