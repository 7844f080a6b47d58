/* Tests of analysis/plan: degenerate inputs first, then the knapsack DP
 * against brute force on random cases (exact with unit 1 and integer
 * costs; within the stated gap with a coarse unit), then the proxies
 * against explicit products with X. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/plan.h"
#include "tests/testutil.h"

START_TEST(degenerate)
{
    struct plan_result r;
    struct qerr err = {0};
    int pick[2];
    ck_assert_int_eq(plan_solve(NULL, 0, 100, 1, pick, &r, &err), QERR_ARG);
    struct plan_choice c[2] = {{10, 1}, {20, 0.5}};
    struct plan_group g[2] = {{c, 2}, {c, 0}};
    ck_assert_int_eq(plan_solve(g, 2, 100, 1, pick, &r, &err), QERR_ARG);
    g[1].n = 2;
    /* below the cheapest plan (20 bits): the message gives both numbers */
    ck_assert_int_eq(plan_solve(g, 2, 19, 1, pick, &r, &err), QERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "cheapest plan (20 bits)"));
    struct plan_choice bad[1] = {{NAN, 0}};
    struct plan_group gb[1] = {{bad, 1}};
    ck_assert_int_eq(plan_solve(gb, 1, 100, 1, pick, &r, &err), QERR_ARG);
    bad[0].cost = -1;
    ck_assert_int_eq(plan_solve(gb, 1, 100, 1, pick, &r, &err), QERR_ARG);
    bad[0].cost = 1, bad[0].damage = INFINITY;
    ck_assert_int_eq(plan_solve(gb, 1, 100, 1, pick, &r, &err), QERR_ARG);
}
END_TEST

START_TEST(exact_budgets)
{
    /* two tensors; the budget decides which one gets the rich choice */
    struct plan_choice a[2] = {{10, 5}, {20, 1}}, b[2] = {{10, 3}, {20, 2}};
    struct plan_group g[2] = {{a, 2}, {b, 2}};
    int pick[2];
    struct plan_result r;
    struct qerr err = {0};
    ck_assert_int_eq(plan_solve(g, 2, 20, 1, pick, &r, &err), 0);
    ck_assert_int_eq(pick[0], 0);
    ck_assert_int_eq(pick[1], 0);
    ck_assert_double_eq(r.damage, 8);
    ck_assert_int_eq(plan_solve(g, 2, 30, 1, pick, &r, &err), 0);
    ck_assert_int_eq(pick[0], 1);
    ck_assert_int_eq(pick[1], 0); /* saves 4, not 1 */
    ck_assert_double_eq(r.cost, 30);
    ck_assert_int_eq(plan_solve(g, 2, 1e9, 0, pick, &r, &err), 0); /* above the richest */
    ck_assert_double_eq(r.damage, 3);
    ck_assert_double_eq(r.max_cost, 40);
    ck_assert_double_eq(r.min_cost, 20);
}
END_TEST

static void random_case(struct plan_choice *c, struct plan_group *g, int n_groups, int kmax,
                        int integer)
{
    for (int i = 0, at = 0; i < n_groups; i++) {
        int n = 1 + (int)(tu_uniform() * kmax);
        g[i].c = c + at;
        g[i].n = n;
        for (int k = 0; k < n; k++, at++) {
            double cost = 1 + tu_uniform() * 100;
            c[at].cost = integer ? floor(cost) : cost;
            c[at].damage = tu_uniform() * 10;
        }
    }
}

START_TEST(random_vs_brute_exact)
{
    tu_seed(17);
    for (int t = 0; t < 300; t++) {
        struct plan_choice c[6 * 5];
        struct plan_group g[6];
        int G = 1 + t % 6, p1[6], p2[6];
        random_case(c, g, G, 5, 1);
        struct plan_result rd, rb;
        struct qerr err = {0};
        double budget = floor(G * (20 + tu_uniform() * 90));
        int b = plan_brute(g, G, budget, 1000000, p2, &rb, &err);
        int d = plan_solve(g, G, budget, 1, p1, &rd, &err);
        if (b == 1) { /* nothing fits: the solver refuses too */
            ck_assert_int_eq(d, QERR_ARG);
            continue;
        }
        ck_assert_int_eq(b, 0);
        ck_assert_int_eq(d, 0);
        ck_assert_msg(fabs(rd.damage - rb.damage) <= 1e-9 * (1 + rb.damage),
                      "case %d: DP %.12g brute %.12g", t, rd.damage, rb.damage);
        ck_assert(rd.cost <= budget);
    }
}
END_TEST

START_TEST(random_vs_brute_coarse)
{
    /* real-valued costs, coarse units: feasible, and no worse than the
     * exact optimum at budget - G*unit (the stated gap) */
    tu_seed(5);
    for (int t = 0; t < 300; t++) {
        struct plan_choice c[6 * 5];
        struct plan_group g[6];
        int G = 1 + t % 6, p1[6], p2[6];
        random_case(c, g, G, 5, 0);
        double budget = G * (30 + tu_uniform() * 80), unit = 1 + tu_uniform() * 7;
        struct plan_result rd, rb, rs;
        struct qerr err = {0};
        int b = plan_brute(g, G, budget, 1000000, p2, &rb, &err);
        int d = plan_solve(g, G, budget, unit, p1, &rd, &err);
        if (b == 1) {
            ck_assert_int_eq(d, QERR_ARG);
            continue;
        }
        ck_assert_int_eq(d, 0);
        ck_assert(rd.cost <= budget + 1e-9);
        ck_assert(rd.damage >= rb.damage - 1e-9);
        if (plan_brute(g, G, budget - G * unit, 1000000, p2, &rs, &err) == 0)
            ck_assert_msg(rd.damage <= rs.damage + 1e-9, "case %d: DP %.12g > %.12g", t,
                          rd.damage, rs.damage);
    }
}
END_TEST

START_TEST(tight_budgets)
{
    /* budgets at and just above the cheapest plan with non-integer costs:
     * the extra costs are discretised, so the cheapest plan always fits */
    struct plan_choice c[2] = {{1000.4, 1}, {5000, 0}};
    struct plan_group g[3] = {{c, 2}, {c, 2}, {c, 2}};
    int pick[3];
    struct plan_result r;
    struct qerr err = {0};
    ck_assert_int_eq(plan_solve(g, 3, 3001.2, 1, pick, &r, &err), 0);
    ck_assert_double_eq_tol(r.cost, 3001.2, 1e-9);
    ck_assert_int_eq(plan_solve(g, 3, 3001.7, 7, pick, &r, &err), 0);
    ck_assert_int_eq(plan_solve(g, 3, 3001.7, 0, pick, &r, &err), 0);
    ck_assert_double_eq_tol(r.cost, 3001.2, 1e-9);
}
END_TEST

START_TEST(proxies_vs_explicit)
{
    tu_seed(3);
    enum { R = 5, C = 7, N = 11 };
    float w[R * C], wq[R * C], x[N * C];
    double h[C * C] = {0}, imp[C];
    for (int i = 0; i < R * C; i++) {
        w[i] = (float)tu_normal();
        wq[i] = w[i] + (float)(0.1 * tu_normal());
    }
    for (int i = 0; i < N * C; i++)
        x[i] = (float)tu_normal();
    for (int t = 0; t < N; t++)
        for (int i = 0; i < C; i++)
            for (int j = 0; j < C; j++)
                h[i * C + j] += (double)x[t * C + i] * x[t * C + j];
    double want = 0, want_imp = 0;
    for (int t = 0; t < N; t++)
        for (int r = 0; r < R; r++) { /* ((W - Ŵ) x_t)_r */
            double y = 0;
            for (int c = 0; c < C; c++)
                y += ((double)w[r * C + c] - wq[r * C + c]) * x[t * C + c];
            want += y * y;
        }
    for (int c = 0; c < C; c++)
        imp[c] = h[c * C + c] / N;
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) {
            double d = (double)w[r * C + c] - wq[r * C + c];
            want_imp += d * d * imp[c];
        }
    double got;
    struct qerr err = {0};
    ck_assert_int_eq(plan_out_err2(w, wq, R, C, h, &got, &err), 0);
    ck_assert_double_eq_tol(got, want, 1e-9 * want);
    ck_assert_double_eq_tol(plan_imp_mse(w, wq, R, C, imp), want_imp, 1e-12 * want_imp);
    ck_assert_int_eq(plan_out_err2(w, wq, 0, C, h, &got, &err), QERR_ARG);
    ck_assert_int_eq(plan_out_err2(w, w, R, C, h, &got, &err), 0);
    ck_assert_double_eq(got, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("plan");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, degenerate);
    tcase_add_test(tc, exact_budgets);
    tcase_add_test(tc, random_vs_brute_exact);
    tcase_add_test(tc, random_vs_brute_coarse);
    tcase_add_test(tc, tight_budgets);
    tcase_add_test(tc, proxies_vs_explicit);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
