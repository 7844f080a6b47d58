/* tdiff: streaming error metrics equal the plain formulas, in one piece or
 * many, and degenerate inputs (empty, exact, zero reference, NaN) give the
 * documented values. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "analysis/tdiff.h"
#include "tests/testutil.h"

/* The plain definitions, written out once, straight from tdiff.h. */
static void plain(const float *w, const float *q, int n, struct tdiff_metrics *m)
{
    double se = 0, s = 0, mx = 0;
    for (int i = 0; i < n; i++) {
        double e = (double)q[i] - (double)w[i];
        se += e * e;
        s += (double)w[i] * w[i];
        mx = fmax(mx, fabs(e));
    }
    m->n = n;
    m->mse = se / n;
    m->max_abs = mx;
    m->sqnr_db = 10 * log10(s / se);
    m->rel_fro = sqrt(se) / sqrt(s);
}

START_TEST(empty)
{
    struct tdiff d;
    struct tdiff_metrics m;
    tdiff_init(&d);
    tdiff_add(&d, NULL, NULL, 0);
    tdiff_finish(&d, &m);
    ck_assert_int_eq(m.n, 0);
    ck_assert(m.mse == 0 && m.max_abs == 0 && m.rel_fro == 0 && m.sqnr_db == 300);
}
END_TEST

START_TEST(exact_and_zero_base)
{
    float w[4] = {1, -2, 3, 0}, z[4] = {0, 0, 0, 0};
    struct tdiff d;
    struct tdiff_metrics m;
    tdiff_init(&d);
    tdiff_add(&d, w, w, 4);
    tdiff_finish(&d, &m);
    ck_assert(m.mse == 0 && m.sqnr_db == 300 && m.rel_fro == 0 && m.max_abs == 0);
    tdiff_init(&d);
    tdiff_add(&d, z, w, 4);            /* reference all zero, other not */
    tdiff_finish(&d, &m);
    ck_assert(m.sqnr_db == -300 && isinf(m.rel_fro));
    ck_assert_double_eq_tol(m.mse, (1 + 4 + 9) / 4.0, 1e-15);
    ck_assert(m.max_abs == 3);
}
END_TEST

START_TEST(nonfinite_counted_apart)
{
    float w[3] = {1, NAN, 2}, q[3] = {1.5f, 0, INFINITY};
    struct tdiff d;
    struct tdiff_metrics m;
    tdiff_init(&d);
    tdiff_add(&d, w, q, 3);
    tdiff_finish(&d, &m);
    ck_assert_int_eq(m.n, 1);
    ck_assert_int_eq(m.n_nonfinite, 2);
    ck_assert_double_eq_tol(m.mse, 0.25, 1e-15);
    ck_assert_double_eq_tol(m.max_abs, 0.5, 1e-15);
}
END_TEST

/* Random data fed in uneven chunks (and merged from two halves) gives the
 * plain formula's values. */
START_TEST(matches_plain_formula)
{
    enum { N = 10007 };
    float *w = malloc(N * sizeof *w), *q = malloc(N * sizeof *q);
    tu_seed(7);
    for (int i = 0; i < N; i++) {
        w[i] = (float)tu_normal() * 0.02f;
        q[i] = w[i] + (float)tu_normal() * 0.001f;
    }
    struct tdiff_metrics want, got, got2;
    plain(w, q, N, &want);
    struct tdiff d, a, b;
    tdiff_init(&d);
    for (int i = 0, c = 1; i < N; i += c, c = c * 3 + 1)
        tdiff_add(&d, w + i, q + i, (i + c > N ? N - i : c));
    tdiff_finish(&d, &got);
    tdiff_init(&a);
    tdiff_init(&b);
    tdiff_add(&a, w, q, 5000);
    tdiff_add(&b, w + 5000, q + 5000, N - 5000);
    tdiff_merge(&a, &b);
    tdiff_finish(&a, &got2);
    const struct tdiff_metrics *g[2] = {&got, &got2};
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(g[k]->n, N);
        ck_assert_double_eq_tol(g[k]->mse, want.mse, want.mse * 1e-12);
        ck_assert_double_eq_tol(g[k]->sqnr_db, want.sqnr_db, 1e-9);
        ck_assert_double_eq_tol(g[k]->rel_fro, want.rel_fro, want.rel_fro * 1e-12);
        ck_assert(g[k]->max_abs == want.max_abs);
    }
    /* independent sanity: noise std 0.001 on signal std 0.02 is ~26 dB */
    ck_assert(want.sqnr_db > 25 && want.sqnr_db < 27.1);
    free(w);
    free(q);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tdiff");
    TCase *t = tcase_create("tdiff");
    tcase_add_test(t, empty);
    tcase_add_test(t, exact_and_zero_base);
    tcase_add_test(t, nonfinite_counted_apart);
    tcase_add_test(t, matches_plain_formula);
    suite_add_tcase(s, t);
    return tu_run(s);
}
