/* Tests of analysis/correlate: degenerate inputs first, then r / rho / p /
 * CI / fit against values computed here independently. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/correlate.h"
#include "tests/testutil.h"

/* Test-side two-pass Pearson (mean first, then centred sums). */
static double pearson2(const double *x, const double *y, size_t n)
{
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) {
        mx += x[i] / n;
        my += y[i] / n;
    }
    double a = 0, b = 0, c = 0;
    for (size_t i = 0; i < n; i++) {
        a += (x[i] - mx) * (y[i] - my);
        b += (x[i] - mx) * (x[i] - mx);
        c += (y[i] - my) * (y[i] - my);
    }
    return a / sqrt(b) / sqrt(c);
}

static void no_nan(const struct corr_result *c)
{
    const double v[] = {c->r, c->r_p, c->r_lo, c->r_hi, c->rho, c->rho_p, c->slope,
                        c->intercept, c->x_mean, c->y_mean};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        ck_assert_msg(isfinite(v[i]), "field %zu is not finite", i);
}

START_TEST(null_and_empty)
{
    struct corr_result c;
    struct qerr err = {0};
    ck_assert_int_eq(corr_compute(NULL, NULL, 0, &c, &err), QERR_NUMERIC);
    ck_assert_int_eq(c.n, 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "at least 3"));
    ck_assert_int_eq(corr_compute(NULL, NULL, 5, &c, &err), QERR_ARG);
    no_nan(&c);
}
END_TEST

START_TEST(too_few_pairs)
{
    double x[] = {1, 2}, y[] = {3, 5};
    struct corr_result c;
    struct qerr err = {0};
    ck_assert_int_eq(corr_compute(x, y, 2, &c, &err), QERR_NUMERIC);
    ck_assert_int_eq(c.n, 2);
    no_nan(&c);
}
END_TEST

START_TEST(missing_values_dropped)
{
    /* 4 pairs, 2 with NAN: n = 2 < 3 -> error naming the dropped count */
    double x[] = {1, NAN, 3, 4}, y[] = {2, 3, NAN, 5};
    struct corr_result c;
    struct qerr err = {0};
    ck_assert_int_eq(corr_compute(x, y, 4, &c, &err), QERR_NUMERIC);
    ck_assert_int_eq(c.n, 2);
    ck_assert_int_eq(c.n_missing, 2);
    ck_assert_ptr_nonnull(strstr(err.msg, "2 dropped"));
    /* with enough left, the NAN pairs are ignored, not zero-filled */
    double x2[] = {1, NAN, 2, 3, 4, 5}, y2[] = {2, 100, 4, 6, 8, 11};
    double xr[] = {1, 2, 3, 4, 5}, yr[] = {2, 4, 6, 8, 11};
    ck_assert_int_eq(corr_compute(x2, y2, 6, &c, &err), QERR_OK);
    ck_assert_int_eq(c.n, 5);
    ck_assert_int_eq(c.n_missing, 1);
    ck_assert_double_eq_tol(c.r, pearson2(xr, yr, 5), 1e-12);
}
END_TEST

START_TEST(constant_column)
{
    double x[] = {1, 2, 3, 4}, y[] = {7, 7, 7, 7};
    struct corr_result c;
    struct qerr err = {0};
    ck_assert_int_eq(corr_compute(x, y, 4, &c, &err), QERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(err.msg, "y is constant"));
    no_nan(&c);
    ck_assert_int_eq(corr_compute(y, x, 4, &c, &err), QERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(err.msg, "x is constant"));
}
END_TEST

START_TEST(infinite_value)
{
    double x[] = {1, 2, INFINITY, 4}, y[] = {1, 2, 3, 4};
    struct corr_result c;
    struct qerr err = {0};
    ck_assert_int_eq(corr_compute(x, y, 4, &c, &err), QERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(err.msg, "infinite"));
    no_nan(&c);
}
END_TEST

START_TEST(perfect_line)
{
    double x[] = {1, 2, 3, 4, 5}, y[] = {3, 5, 7, 9, 11}, yn[5];
    for (int i = 0; i < 5; i++)
        yn[i] = -y[i];
    struct corr_result c;
    ck_assert_int_eq(corr_compute(x, y, 5, &c, NULL), QERR_OK);
    no_nan(&c);
    ck_assert_double_eq_tol(c.r, 1.0, 1e-12);
    ck_assert(c.r_p < 1e-12);
    ck_assert_double_eq_tol(c.r_lo, 1.0, 1e-12);
    ck_assert_double_eq_tol(c.slope, 2.0, 1e-12);
    ck_assert_double_eq_tol(c.intercept, 1.0, 1e-12);
    ck_assert_int_eq(corr_compute(x, yn, 5, &c, NULL), QERR_OK);
    ck_assert_double_eq_tol(c.r, -1.0, 1e-12);
    ck_assert_double_eq_tol(c.rho, -1.0, 1e-12);
}
END_TEST

START_TEST(n3_ci_is_whole_range)
{
    double x[] = {1, 2, 3}, y[] = {1, 3, 2};
    struct corr_result c;
    ck_assert_int_eq(corr_compute(x, y, 3, &c, NULL), QERR_OK);
    no_nan(&c);
    ck_assert_double_eq_tol(c.r, 0.5, 1e-12);
    ck_assert_double_eq(c.r_lo, -1);
    ck_assert_double_eq(c.r_hi, 1);
    /* df = 1: t = 0.5*sqrt(1/0.75) = 0.57735, p = 1 - 2 atan(t)/pi = 2/3 */
    ck_assert_double_eq_tol(c.r_p, 2.0 / 3.0, 1e-9);
}
END_TEST

START_TEST(p_values_known)
{
    /* r = 0.5, n = 10: t = 1.63299, df 8 -> p = 0.14111 (t tables) */
    ck_assert_double_eq_tol(corr_p_value(0.5, 10), 0.1411, 1e-4);
    /* r = 0.632, n = 10 is the classic 5% critical value (df 8) */
    ck_assert_double_eq_tol(corr_p_value(0.6319, 10), 0.05, 2e-4);
    /* df = 2 has a closed form: p = 1 - t / sqrt(2 + t^2) */
    double r = 0.8, t = r * sqrt(2 / (1 - r * r));
    ck_assert_double_eq_tol(corr_p_value(r, 4), 1 - t / sqrt(2 + t * t), 1e-12);
    ck_assert_double_eq(corr_p_value(0, 20), 1.0);
    ck_assert_double_eq(corr_p_value(-0.5, 10), corr_p_value(0.5, 10));
}
END_TEST

START_TEST(random_vs_two_pass)
{
    tu_seed(7);
    enum { N = 200 };
    double x[N], y[N];
    for (int i = 0; i < N; i++) {
        x[i] = 1e4 + tu_normal(); /* large offset: naive one-pass sums lose digits */
        y[i] = 0.3 * x[i] + tu_normal();
    }
    struct corr_result c;
    ck_assert_int_eq(corr_compute(x, y, N, &c, NULL), QERR_OK);
    double r = pearson2(x, y, N);
    ck_assert_double_eq_tol(c.r, r, 1e-10);
    ck_assert_double_eq_tol(corr_pearson_ref(x, y, N), r, 1e-10);
    /* Fisher z interval, recomputed here */
    double z = 0.5 * log((1 + r) / (1 - r)), se = 1 / sqrt(N - 3.0);
    ck_assert_double_eq_tol(c.r_lo, tanh(z - 1.959963984540054 * se), 1e-10);
    ck_assert_double_eq_tol(c.r_hi, tanh(z + 1.959963984540054 * se), 1e-10);
    /* least squares: slope = r sy/sx, through the means */
    double sx = 0, sy = 0, mx = c.x_mean, my = c.y_mean;
    for (int i = 0; i < N; i++) {
        sx += (x[i] - mx) * (x[i] - mx);
        sy += (y[i] - my) * (y[i] - my);
    }
    ck_assert_double_eq_tol(c.slope, r * sqrt(sy / sx), 1e-9);
    ck_assert_double_eq_tol(c.intercept + c.slope * mx, my, 1e-7);
}
END_TEST

START_TEST(spearman_ties)
{
    /* x ranks with ties: {1, 2.5, 2.5, 4, 5}; y ranks: {2, 1, 3.5, 3.5, 5} */
    double x[] = {10, 20, 20, 30, 40}, y[] = {5, 1, 7, 7, 9};
    double rx[5], ry[5];
    ck_assert_int_eq(corr_ranks(x, 5, rx, NULL), QERR_OK);
    ck_assert_int_eq(corr_ranks(y, 5, ry, NULL), QERR_OK);
    const double ex[] = {1, 2.5, 2.5, 4, 5}, ey[] = {2, 1, 3.5, 3.5, 5};
    for (int i = 0; i < 5; i++) {
        ck_assert_double_eq(rx[i], ex[i]);
        ck_assert_double_eq(ry[i], ey[i]);
    }
    struct corr_result c;
    ck_assert_int_eq(corr_compute(x, y, 5, &c, NULL), QERR_OK);
    ck_assert_double_eq_tol(c.rho, pearson2(ex, ey, 5), 1e-12);
    /* by hand: sum dx*dy = 7.25, sum dx^2 = sum dy^2 = 9.5 */
    ck_assert_double_eq_tol(c.rho, 7.25 / 9.5, 1e-12);
    /* monotone but not linear: rho = 1, r < 1 */
    double a[] = {1, 2, 3, 4, 5, 6}, b[] = {1, 4, 9, 16, 25, 1000};
    ck_assert_int_eq(corr_compute(a, b, 6, &c, NULL), QERR_OK);
    ck_assert_double_eq_tol(c.rho, 1.0, 1e-12);
    ck_assert(c.r < 0.9);
}
END_TEST

/* Test-side exact Spearman p: recursive enumeration of orderings, rho of
 * each by the two-pass formula on ranks. */
static void perm_count(double *ry, size_t k, size_t n, const double *rx, double obs,
                       long *hit, long *total)
{
    if (k == n) {
        (*total)++;
        *hit += fabs(pearson2(rx, ry, n)) >= fabs(obs) - 1e-9;
        return;
    }
    for (size_t i = k; i < n; i++) {
        double t = ry[k]; ry[k] = ry[i]; ry[i] = t;
        perm_count(ry, k + 1, n, rx, obs, hit, total);
        t = ry[k]; ry[k] = ry[i]; ry[i] = t;
    }
}

START_TEST(spearman_exact_small_n)
{
    /* perfect rank agreement: p = 2 / n! */
    double x[] = {1, 2, 3, 4, 5, 6, 7, 8}, y[] = {2, 3, 5, 8, 13, 21, 34, 55};
    struct corr_result c;
    const double want[] = {0, 0, 0, 2.0 / 6, 2.0 / 24, 2.0 / 120, 2.0 / 720};
    for (size_t n = 3; n <= 6; n++) {
        ck_assert_int_eq(corr_compute(x, y, n, &c, NULL), QERR_OK);
        ck_assert_double_eq_tol(c.rho_p, want[n], 1e-12);
    }
    /* ties, n = 7: against the recursive enumeration here */
    double a[] = {3, 1, 4, 1, 5, 9, 2}, b[] = {2, 7, 1, 8, 2, 8, 1};
    double ra[7], rb[7];
    corr_ranks(a, 7, ra, NULL);
    corr_ranks(b, 7, rb, NULL);
    long hit = 0, total = 0;
    double obs = pearson2(ra, rb, 7);
    perm_count(rb, 0, 7, ra, obs, &hit, &total);
    ck_assert_int_eq(total, 5040);
    ck_assert_int_eq(corr_compute(a, b, 7, &c, NULL), QERR_OK);
    ck_assert_double_eq_tol(c.rho, obs, 1e-12);
    ck_assert_double_eq_tol(c.rho_p, (double)hit / total, 1e-12);
    /* n = 9 uses the t approximation */
    double x9[] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, y9[] = {1, 3, 2, 5, 4, 7, 6, 9, 8};
    ck_assert_int_eq(corr_compute(x9, y9, 9, &c, NULL), QERR_OK);
    ck_assert_double_eq_tol(c.rho_p, corr_p_value(c.rho, 9), 1e-15);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("correlate");
    TCase *t = tcase_create("degenerate");
    tcase_add_test(t, null_and_empty);
    tcase_add_test(t, too_few_pairs);
    tcase_add_test(t, missing_values_dropped);
    tcase_add_test(t, constant_column);
    tcase_add_test(t, infinite_value);
    suite_add_tcase(s, t);
    t = tcase_create("values");
    tcase_add_test(t, perfect_line);
    tcase_add_test(t, n3_ci_is_whole_range);
    tcase_add_test(t, p_values_known);
    tcase_add_test(t, random_vs_two_pass);
    tcase_add_test(t, spearman_ties);
    tcase_add_test(t, spearman_exact_small_n);
    suite_add_tcase(s, t);
    return tu_run(s);
}
