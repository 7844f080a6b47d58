/* Tests of ui/vm_plan (the Plan view's model): an empty and an incomplete
 * table first, then on a small synthetic table the budget range, the plan
 * against brute force at every budget step, the 1/8-bit grid of the
 * budget keys, the cursor's configuration and the heat levels. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui/vm_plan.h"
#include "tests/testutil.h"

/* n_t tensors of 64x64 on "rtn:2:32,rtn:4:32,rtn:8:32": bits/weight 2.5,
 * 4.5, 8.5 (as if), KL falling with bits and rising with the tensor. */
static void make(struct sens *s, int n_t, int complete)
{
    struct qerr err = {0};
    memset(s, 0, sizeof *s);
    ck_assert_int_eq(sens_parse_cands("rtn:2:32,rtn:4:32,rtn:8:32", &s->c, &s->n_c, &err), 0);
    s->n_t = n_t;
    s->t = calloc((size_t)n_t, sizeof *s->t);
    s->cell = calloc((size_t)n_t * s->n_c, sizeof *s->cell);
    static const double bpw[3] = {2.5, 4.5, 8.5}, base[3] = {1.0, 0.05, 0.0001};
    for (int i = 0; i < n_t; i++) {
        snprintf(s->t[i].name, sizeof s->t[i].name, "blk.%d.attn_q", i);
        s->t[i].layer = i, s->t[i].role = QR_ATTN_Q, s->t[i].rows = 64, s->t[i].cols = 64;
        for (int c = 0; c < 3; c++) {
            struct sens_cell *x = &s->cell[(size_t)i * 3 + c];
            x->bpw = bpw[c];
            x->bits = bpw[c] * 4096;
            x->kl_mean = base[c] * (1 + i * (c == 0 ? 2.0 : 0.5));
            x->done = complete || i > 0;
        }
    }
}

START_TEST(empty_and_incomplete)
{
    struct vm_plan v;
    vm_plan_init(&v);
    ck_assert_int_eq(vm_plan_solve(&v), 0);
    ck_assert_int_eq(v.solved, 0);
    vm_plan_step_budget(&v, 1); /* no table: nothing happens */
    vm_plan_move(&v, 1, 1, 10);
    struct sens s;
    make(&s, 3, 0);
    ck_assert_int_eq(vm_plan_take(&v, &s), 0);
    ck_assert_ptr_null(s.cell); /* taken */
    ck_assert_int_eq(v.complete, 0);
    ck_assert_int_eq(v.solved, 0);
    ck_assert_ptr_nonnull(strstr(v.why, "incomplete"));
    vm_plan_free(&v);
}
END_TEST

START_TEST(plan_matches_brute_force)
{
    struct vm_plan v;
    vm_plan_init(&v);
    struct sens s;
    make(&s, 4, 1);
    ck_assert_int_eq(vm_plan_take(&v, &s), 0);
    ck_assert(v.complete && v.solved);
    ck_assert(fabs(v.lo_bpw - 2.5) < 1e-12 && fabs(v.hi_bpw - 8.5) < 1e-12);
    ck_assert(fabs(v.budget - 5.5) < 1e-12); /* halfway */
    ck_assert(v.unit == 8192); /* gcd of the extra costs 8192, 24576: exact */
    ck_assert(fabs(v.uni[1].bpw - 4.5) < 1e-12);
    ck_assert_int_eq(v.n_front, VM_PLAN_FRONT);
    for (int k = 1; k < v.n_front; k++)
        ck_assert(v.front[k].kl <= v.front[k - 1].kl + 1e-12);
    struct plan_group g[4];
    for (int i = 0; i < 4; i++)
        g[i] = (struct plan_group){v.ch + i * 3, 3};
    vm_plan_step_budget(&v, -100);
    ck_assert(fabs(v.budget - 2.5) < 1e-12);
    for (int step = 0; step < 60; step++) {
        int pick[4];
        struct plan_result r;
        struct qerr err = {0};
        ck_assert(v.solved);
        ck_assert(v.plan.bpw <= v.budget + 1e-9);
        ck_assert_int_eq(plan_brute(g, 4, v.budget * v.weights * (1 + 1e-12), 1000, pick, &r,
                                    &err), 0);
        ck_assert_msg(fabs(r.damage - v.plan.kl) < 1e-12, "budget %g: %g vs %g", v.budget,
                      v.plan.kl, r.damage);
        vm_plan_step_budget(&v, 1);
    }
    ck_assert(fabs(v.budget - 8.5) < 1e-12); /* stops at the richest */
    vm_plan_free(&v);
}
END_TEST

/* Costs that are not whole bits: the solver's own unit, within its gap. */
START_TEST(fractional_costs)
{
    struct vm_plan v;
    vm_plan_init(&v);
    struct sens s;
    make(&s, 3, 1);
    s.cell[4].bits += 0.37;
    ck_assert_int_eq(vm_plan_take(&v, &s), 0);
    ck_assert(v.unit == 0);
    ck_assert(v.solved && v.plan.bpw <= v.budget + 1e-9);
    vm_plan_free(&v);
}
END_TEST

START_TEST(budget_grid_and_cursor)
{
    struct vm_plan v;
    vm_plan_init(&v);
    struct sens s;
    make(&s, 3, 1);
    ck_assert_int_eq(vm_plan_take(&v, &s), 0);
    v.budget = 5.55;
    vm_plan_step_budget(&v, -1);
    ck_assert(fabs(v.budget - 5.375) < 1e-12); /* round(5.55 / 1/8) = 44, one down */
    vm_plan_step_budget(&v, 2);
    vm_plan_step_budget(&v, -2);
    ck_assert(fabs(v.budget - 5.375) < 1e-12); /* + then - comes back */
    /* the cursor's configuration: the plan with one choice changed */
    vm_plan_move(&v, 1, 2, 10);
    ck_assert_int_eq(v.row, 1);
    ck_assert_int_eq(v.col, 2);
    struct vm_plan_pt c = vm_plan_cursor(&v), want = {0, 0};
    for (int i = 0; i < 3; i++) {
        int k = i == 1 ? 2 : v.pick[i];
        want.bpw += v.ch[i * 3 + k].cost / v.weights;
        want.kl += v.ch[i * 3 + k].damage;
    }
    ck_assert(fabs(c.bpw - want.bpw) < 1e-12 && fabs(c.kl - want.kl) < 1e-12);
    vm_plan_move(&v, 100, 100, 2); /* clamped, and the page follows */
    ck_assert_int_eq(v.row, 2);
    ck_assert_int_eq(v.col, 2);
    ck_assert_int_eq(v.top, 1);
    vm_plan_move(&v, -100, -100, 2);
    ck_assert_int_eq(v.row + v.col + v.top, 0);
    /* heat: the smallest cell 0, the largest nlev-1, log in between */
    ck_assert_int_eq(vm_plan_level(&v, v.kl_lo, 10), 0);
    ck_assert_int_eq(vm_plan_level(&v, v.kl_hi, 10), 9);
    ck_assert_int_eq(vm_plan_level(&v, sqrt(v.kl_lo * v.kl_hi), 11), 5);
    ck_assert_int_eq(vm_plan_level(&v, 0, 10), 0);
    ck_assert_int_eq(vm_plan_level(&v, NAN, 10), 0);
    vm_plan_free(&v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ui_plan");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, empty_and_incomplete);
    tcase_add_test(tc, plan_matches_brute_force);
    tcase_add_test(tc, fractional_costs);
    tcase_add_test(tc, budget_grid_and_cursor);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
