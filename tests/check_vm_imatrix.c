/* check_vm_imatrix: the Imatrix view's rows (ui/vm_imatrix.c): totals,
 * the kurtosis against a two-pass formula, the top channels, the heatmap
 * levels, sorting, and the shared llama.cpp imatrix file. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testutil.h"
#include "ui/vm_imatrix.h"

static struct qimatrix_entry entry(float *v, int64_t n)
{
    struct qimatrix_entry e;
    memset(&e, 0, sizeof e);
    snprintf(e.name, sizeof e.name, "blk.0.attn_q");
    e.n = n;
    e.n_mat = 1;
    e.ncall = 1;
    e.values = v;
    return e;
}

START_TEST(test_degenerate)
{
    float z[4] = {0, 0, 0, 0};
    struct qimatrix_entry e = entry(z, 4);
    struct vm_imx_row r;
    vm_imatrix_summarise(&e, &r);
    ck_assert_double_eq(r.total, 0);
    ck_assert_double_eq(r.max_share, 0);
    ck_assert(isfinite(r.kurtosis));
    int lev[3];
    vm_imatrix_cells(&r, 0, 2, 3, 10, lev);
    ck_assert(lev[0] == 0 && lev[1] == 0 && lev[2] == -1); /* past the end */
    float one[1] = {2};
    e = entry(one, 1);
    vm_imatrix_summarise(&e, &r);
    ck_assert(r.n_top == 1 && r.top[0] == 0 && r.max_share == 1);
}
END_TEST

START_TEST(test_summary)
{
    enum { N = 300 };
    float v[N];
    tu_seed(5);
    for (int i = 0; i < N; i++)
        v[i] = (float)(tu_uniform() * 0.5);
    v[17] = 40;
    v[250] = 20;
    v[3] = 10;
    struct qimatrix_entry e = entry(v, N);
    struct vm_imx_row r;
    vm_imatrix_summarise(&e, &r);
    double tot = 0, m2 = 0, m4 = 0;
    for (int i = 0; i < N; i++)
        tot += v[i];
    double mean = tot / N;
    for (int i = 0; i < N; i++) {
        m2 += pow(v[i] - mean, 2) / N;
        m4 += pow(v[i] - mean, 4) / N;
    }
    ck_assert_double_eq_tol(r.total, tot, 1e-9 * tot);
    ck_assert_double_eq_tol(r.kurtosis, m4 / (m2 * m2), 1e-6 * r.kurtosis);
    ck_assert(r.kurtosis > 50); /* three outlier channels */
    ck_assert_int_eq(r.n_top, VM_IMX_TOP);
    ck_assert(r.top[0] == 17 && r.top[1] == 250 && r.top[2] == 3);
    for (int k = 1; k < r.n_top; k++)
        ck_assert(r.top_val[k] <= r.top_val[k - 1]);
    ck_assert_double_eq_tol(r.max_share, 40 / tot, 1e-9);
    /* heatmap: the bucket holding channel 17 is at the top level */
    int lev[30];
    vm_imatrix_cells(&r, 0, 10, 30, 10, lev);
    ck_assert_int_eq(lev[1], 9);
    for (int c = 0; c < 30; c++)
        ck_assert(lev[c] >= 0 && lev[c] <= 9);
}
END_TEST

START_TEST(test_sort_and_file)
{
    struct vm_imatrix v;
    struct qerr err = {0};
    memset(&v, 0, sizeof v);
    ck_assert_int_eq(vm_imatrix_load(&v, tu_tmpfile("none.imatrix"), NULL, &err), QERR_IO);
    ck_assert_int_eq(v.loaded, 0);
    const char *p = tu_shared("reference/ggml-types/model.imatrix");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(vm_imatrix_load(&v, p, NULL, &err), 0);
    ck_assert_int_eq(v.n, 7);
    ck_assert_int_eq(v.n_in_model, 0); /* no model given */
    v.sort = VM_IMX_SORT_TOTAL;
    vm_imatrix_sort(&v);
    for (int i = 1; i < v.n; i++)
        ck_assert(v.rows[i].total <= v.rows[i - 1].total);
    v.sort = VM_IMX_SORT_KURT;
    v.rev = 1;
    vm_imatrix_sort(&v);
    for (int i = 1; i < v.n; i++)
        ck_assert(v.rows[i].kurtosis >= v.rows[i - 1].kurtosis);
    v.sort = VM_IMX_SORT_FILE;
    v.rev = 0;
    vm_imatrix_sort(&v);
    for (int i = 0; i < v.n; i++)
        ck_assert_ptr_eq(v.rows[i].e, &v.im.e[i]);
    vm_imatrix_free(&v);
    ck_assert_int_eq(v.loaded, 0);
}
END_TEST

static Suite *vm_imatrix_suite(void)
{
    Suite *s = suite_create("vm_imatrix");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_degenerate);
    tcase_add_test(tc, test_summary);
    tcase_add_test(tc, test_sort_and_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(vm_imatrix_suite());
}
