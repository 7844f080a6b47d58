/* check_ui_div: the Divergence view's rows (ui/vm_div.c) on a synthetic
 * result: an empty result first, then the three orders, reverse, cursor
 * clamping and the bar scales. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/mdiv.h"
#include "tests/testutil.h"
#include "ui/vm_div.h"

/* Two layers: linear k of layer l has local rel = loc[l*7+k], acc rel =
 * 0.1 * (l*7+k); blocks 0.5 / 0.9 (acc), 0.4 / 0.2 (local). */
static void make(struct mdiv_result *r, const double *loc)
{
    memset(r, 0, sizeof *r);
    r->n_layers = 2;
    r->n_rows = 2 * MDIV_PER_LAYER + 1;
    r->rows = calloc((size_t)r->n_rows, sizeof *r->rows);
    for (int l = 0; l < 2; l++) {
        for (int k = 0; k < MDIV_LINEARS; k++) {
            struct mdiv_row *w = &r->rows[l * MDIV_PER_LAYER + k];
            w->kind = MDIV_LINEAR;
            w->layer = l;
            w->s[MDIV_LOCAL].rel_mean = loc[l * 7 + k];
            w->s[MDIV_ACC].rel_mean = 0.1 * (l * 7 + k);
        }
        struct mdiv_row *b = &r->rows[l * MDIV_PER_LAYER + MDIV_LINEARS];
        b->kind = MDIV_BLOCK;
        b->s[MDIV_ACC].rel_mean = l ? 0.9 : 0.5;
        b->s[MDIV_LOCAL].rel_mean = l ? 0.2 : 0.4;
    }
    r->rows[r->n_rows - 1].kind = MDIV_LOGITS;
    r->rows[r->n_rows - 1].s[MDIV_ACC].rel_mean = 5; /* not a linear: no bar scale */
}

START_TEST(test_empty)
{
    struct vm_div v;
    vm_div_init(&v);
    ck_assert(!v.have && v.n == 0);
    vm_div_move(&v, 3, 10); /* nothing to move over */
    ck_assert_int_eq(v.sel, 0);
    struct mdiv_result r;
    memset(&r, 0, sizeof r);
    struct jobs_run run;
    memset(&run, 0, sizeof run);
    ck_assert_int_eq(vm_div_set(&v, &run, &r), 0);
    ck_assert(v.have && v.n == 0);
    ck_assert(vm_div_max(&v, MDIV_LOCAL) == 0 && vm_div_block_max(&v) == 0);
    vm_div_free(&v);
}
END_TEST

START_TEST(test_orders)
{
    double loc[14] = {0.3, 0.1, 0.9, 0.2, 0.2, 0.05, 0.4, 0.6, 0.1, 0.1, 0.7, 0.0, 0.3, 0.8};
    struct mdiv_result r;
    make(&r, loc);
    struct vm_div v;
    vm_div_init(&v);
    struct jobs_run run;
    memset(&run, 0, sizeof run);
    strcpy(run.spec, "RTN w4 g128 asym");
    ck_assert_int_eq(vm_div_set(&v, &run, &r), 0);
    ck_assert_ptr_null(r.rows); /* ownership moved */
    ck_assert_str_eq(v.run.spec, "RTN w4 g128 asym");
    ck_assert_int_eq(v.n, 14);
    /* default: local rel, largest first; ties keep depth order */
    ck_assert_int_eq(v.order[0], 2);                    /* 0.9 */
    ck_assert_int_eq(v.order[1], MDIV_PER_LAYER + 6);   /* 0.8 */
    ck_assert_int_eq(v.order[2], MDIV_PER_LAYER + 3);   /* 0.7 */
    for (int i = 1; i < v.n; i++)
        ck_assert(vm_div_key(&v, v.order[i - 1]) >= vm_div_key(&v, v.order[i]));
    ck_assert_int_eq(v.order[v.n - 1], MDIV_PER_LAYER + 4); /* 0.0 */
    /* the two 0.1 of layer 1 (k=1, k=2) stay in depth order */
    int a = -1, b = -1;
    for (int i = 0; i < v.n; i++) {
        if (v.order[i] == MDIV_PER_LAYER + 1) a = i;
        if (v.order[i] == MDIV_PER_LAYER + 2) b = i;
    }
    ck_assert(a >= 0 && b == a + 1);
    vm_div_sort(&v, VD_ACC, 1);
    ck_assert_int_eq(v.order[0], MDIV_PER_LAYER + 6); /* acc 1.3 */
    vm_div_sort(&v, VD_DEPTH, 0);
    for (int i = 0; i < 7; i++)
        ck_assert_int_eq(v.order[i], i);
    ck_assert_int_eq(v.order[7], MDIV_PER_LAYER);
    vm_div_sort(&v, VD_LOCAL, 0); /* reversed: smallest first */
    ck_assert_int_eq(v.order[0], MDIV_PER_LAYER + 4);
    vm_div_sort(&v, 99, 1); /* unknown: back to local */
    ck_assert_int_eq(v.sort, VD_LOCAL);
    ck_assert(vm_div_max(&v, MDIV_LOCAL) == 0.9);
    ck_assert_double_eq_tol(vm_div_max(&v, MDIV_ACC), 1.3, 1e-12);
    ck_assert(vm_div_block_max(&v) == 0.9);
    /* cursor */
    vm_div_move(&v, 100, 5);
    ck_assert_int_eq(v.sel, 13);
    ck_assert_int_eq(v.top, 9);
    vm_div_move(&v, -100, 5);
    ck_assert(v.sel == 0 && v.top == 0);
    vm_div_move(&v, 2, 0); /* height 0 counts as 1 */
    ck_assert(v.sel == 2 && v.top == 2);
    /* no KL attribution: KL order is skipped */
    ck_assert_int_eq(vm_div_next_sort(&v, 1), VD_ACC);
    vm_div_sort(&v, VD_DEPTH, 0);
    ck_assert_int_eq(vm_div_next_sort(&v, 1), VD_LOCAL);
    vm_div_sort(&v, VD_LOCAL, 1);
    ck_assert_int_eq(vm_div_next_sort(&v, -1), VD_DEPTH);
    vm_div_sort(&v, VD_KL, 1); /* not measured: local instead */
    ck_assert_int_eq(v.sort, VD_LOCAL);
    ck_assert(vm_div_kl_max(&v) == 0);
    vm_div_free(&v);
}
END_TEST

START_TEST(test_kl_order)
{
    double loc[14] = {0};
    struct mdiv_result r;
    make(&r, loc);
    r.kl_attrib = 1;
    r.kld.mean = 1;
    for (int i = 0; i < r.n_rows; i++)
        r.rows[i].kl_delta = r.rows[i].kl_without = NAN;
    r.rows[3].kl_delta = 0.2;
    r.rows[MDIV_PER_LAYER + 5].kl_delta = 0.5;
    r.rows[1].kl_delta = -0.1; /* putting it back made the KL larger */
    struct vm_div v;
    vm_div_init(&v);
    struct jobs_run run;
    memset(&run, 0, sizeof run);
    ck_assert_int_eq(vm_div_set(&v, &run, &r), 0);
    ck_assert_int_eq(v.sort, VD_KL); /* measured: the default order */
    ck_assert_int_eq(v.order[0], MDIV_PER_LAYER + 5);
    ck_assert_int_eq(v.order[1], 3);
    ck_assert_int_eq(v.order[2], 1);
    ck_assert(vm_div_kl_max(&v) == 0.5);
    vm_div_sort(&v, VD_DEPTH, 0);
    ck_assert_int_eq(vm_div_next_sort(&v, 1), VD_KL);
    vm_div_free(&v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ui_div");
    TCase *c = tcase_create("vm_div");
    tcase_add_test(c, test_empty);
    tcase_add_test(c, test_orders);
    tcase_add_test(c, test_kl_order);
    suite_add_tcase(s, c);
    return tu_run(s);
}
