/* Registry, spec parsing, report, and the checks every method must pass
 * (looped over quant_registry). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant.h"
#include "tests/testutil.h"
#include "tests/testutil_quant.h"

/* ---- registry and spec ------------------------------------------------ */

START_TEST(registry_entries)
{
    int n = quant_count();
    ck_assert_int_eq(n, 18); /* 6 methods + 12 llama.cpp types */
    for (int i = 0; i < n; i++) {
        const struct quantizer *q = quant_registry[i];
        ck_assert_ptr_nonnull(q->apply);
        ck_assert(strlen(q->summary) > 10);
        ck_assert(q->def_bits >= 2 && q->def_bits <= 8);
        ck_assert(q->n_params <= QUANT_MAX_OPTS);
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(q->name, quant_registry[j]->name);
        for (int p = 0; p < q->n_params; p++) {
            const struct quant_param *pp = &q->params[p];
            ck_assert(pp->def >= pp->min && pp->def <= pp->max);
            ck_assert(strlen(pp->help) > 5);
        }
    }
    ck_assert_ptr_null(quant_registry[n]);
}
END_TEST

START_TEST(find_case_insensitive)
{
    ck_assert_ptr_eq(quant_find("gptq"), &quant_gptq);
    ck_assert_ptr_eq(quant_find("llm.int8"), &quant_llmint8);
    ck_assert_ptr_eq(quant_find("SMOOTHQUANT"), &quant_smoothquant);
    ck_assert_ptr_eq(quant_find("spqr"), &quant_spqr);
    ck_assert_ptr_null(quant_find("gptq2"));
    ck_assert_ptr_null(quant_find(""));
    ck_assert_ptr_null(quant_find(NULL));
}
END_TEST

START_TEST(spec_parse_defaults_and_opts)
{
    struct quant_spec s;
    struct qerr e = {0};
    ck_assert_int_eq(quant_spec_parse(&s, "gptq", 0, QUANT_GROUP_DEFAULT, -1, NULL, &e), 0);
    ck_assert_int_eq(s.bits, 4);
    ck_assert_int_eq(s.group, 128);
    ck_assert_int_eq(s.sym, 0);
    ck_assert_double_eq(s.opt[quant_opt_index(&quant_gptq, "damp")], 0.01);
    ck_assert_int_eq(quant_spec_parse(&s, "GPTQ", 3, 0, 1, "damp=0.1,act_order=1", &e), 0);
    ck_assert_int_eq(s.bits, 3);
    ck_assert_int_eq(s.group, 0);
    ck_assert_int_eq(s.sym, 1);
    ck_assert_double_eq(s.opt[quant_opt_index(&quant_gptq, "damp")], 0.1);
    ck_assert_double_eq(s.opt[quant_opt_index(&quant_gptq, "act_order")], 1);
    char buf[200];
    quant_spec_format(&s, buf, sizeof buf);
    ck_assert_str_eq(buf, "GPTQ w3 per-channel sym damp=0.1 act_order=1 block=128");
    ck_assert_int_eq(quant_spec_parse(&s, "rtn", 8, -1, 0, "", &e), 0);
    quant_spec_format(&s, buf, sizeof buf);
    ck_assert_str_eq(buf, "RTN w8 per-tensor asym");
}
END_TEST

START_TEST(spec_parse_errors)
{
    struct quant_spec s;
    struct qerr e = {0};
    ck_assert_int_eq(quant_spec_parse(&s, "foo", 4, 0, 0, NULL, &e), QERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "foo"));
    ck_assert_ptr_nonnull(strstr(e.msg, "SmoothQuant"));  /* lists the methods */
    ck_assert_int_eq(quant_spec_parse(&s, "rtn", 9, 0, 0, NULL, &e), QERR_ARG);
    ck_assert_int_eq(quant_spec_parse(&s, "rtn", 1, 0, 0, NULL, &e), QERR_ARG);
    ck_assert_int_eq(quant_spec_parse(&s, "rtn", 4, -3, 0, NULL, &e), QERR_ARG);
    ck_assert_int_eq(quant_spec_parse(&s, "gptq", 4, 0, 0, "dmp=0.1", &e), QERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "damp"));  /* lists the valid ones */
    ck_assert_int_eq(quant_spec_parse(&s, "gptq", 4, 0, 0, "damp=-1", &e), QERR_ARG);
    ck_assert_int_eq(quant_spec_parse(&s, "gptq", 4, 0, 0, "damp=abc", &e), QERR_ARG);
    ck_assert_int_eq(quant_spec_parse(&s, "gptq", 4, 0, 0, "damp", &e), QERR_ARG);
    ck_assert_int_eq(quant_spec_parse(&s, "gptq", 4, 0, 0, "act_order=0.5", &e), QERR_ARG);
    ck_assert_int_eq(quant_spec_parse(&s, "gptq", 4, 0, 0, "damp=nan", &e), QERR_ARG);
}
END_TEST

/* ---- report ------------------------------------------------------------ */

START_TEST(report_known_values)
{
    float w[] = {1, 2}, wq[] = {1, 1};
    struct quant_report r;
    quant_report_fill(w, wq, 2, 4.5, &r);
    ck_assert_double_eq_tol(r.mse, 0.5, 1e-12);
    ck_assert_double_eq_tol(r.sqnr_db, 10 * log10(5.0), 1e-9);
    ck_assert_double_eq_tol(r.max_abs_err, 1.0, 1e-12);
    ck_assert_double_eq_tol(r.rel_fro, sqrt(0.2), 1e-12);
    ck_assert_double_eq(r.bits_per_weight, 4.5);
    ck_assert_double_eq(r.out_err, -1);
    quant_report_fill(w, w, 2, 4, &r);
    ck_assert_double_eq(r.sqnr_db, 300);
    ck_assert_double_eq(r.rel_fro, 0);
    float z[] = {0, 0};
    quant_report_fill(z, z, 2, 4, &r);
    ck_assert_double_eq(r.rel_fro, 0);
    ck_assert_double_eq(r.sqnr_db, 300);
    quant_report_fill(z, z, 0, 4, &r);
    ck_assert_double_eq(r.mse, 0);
}
END_TEST

START_TEST(grid_bpw_formula)
{
    ck_assert_double_eq_tol(quant_grid_bpw(4, 128, 0, 10, 256), 4 + 20.0 / 128, 1e-12);
    ck_assert_double_eq_tol(quant_grid_bpw(4, 128, 1, 10, 256), 4 + 16.0 / 128, 1e-12);
    /* 100 columns in groups of 32: 4 groups per row, the last one short */
    ck_assert_double_eq_tol(quant_grid_bpw(3, 32, 0, 2, 100), 3 + 4 * 19.0 / 100, 1e-12);
    ck_assert_double_eq_tol(quant_grid_bpw(8, 0, 1, 4, 64), 8 + 16.0 / 64, 1e-12);
    ck_assert_double_eq_tol(quant_grid_bpw(8, -1, 1, 4, 64), 8 + 16.0 / 256, 1e-12);
}
END_TEST

START_TEST(out_err_matches_direct)
{
    tu_seed(5);
    struct tq_calib t;
    tq_calib_make(&t, 40, 300, 0.8, 0, 1);
    float *w = tq_matrix(12, 40, 1), *wq = tq_matrix(12, 40, 0.1);
    for (int i = 0; i < 12 * 40; i++)
        wq[i] += w[i];
    double direct = tq_out_err(w, wq, 12, 40, t.x, t.n), viax, viah;
    struct quant_calib c = {.x = t.x, .n_x = t.n};
    ck_assert_int_eq(quant_out_err(w, wq, 12, 40, &c, &viax), 0);
    c = (struct quant_calib){.xtx = t.xtx};
    ck_assert_int_eq(quant_out_err(w, wq, 12, 40, &c, &viah), 0);
    ck_assert_double_eq_tol(viax, direct, 1e-4 * direct);
    ck_assert_double_eq_tol(viah, direct, 1e-3 * direct);
    ck_assert_int_eq(quant_out_err(w, wq, 12, 40, NULL, &viah), 0);
    ck_assert_double_eq(viah, -1);
    /* through quant_apply, and switched off by QUANT_NO_OUT_ERR */
    struct quant_spec s;
    struct quant_report r;
    struct qerr e = {0};
    quant_spec_parse(&s, "rtn", 3, 8, 0, NULL, &e);
    ck_assert_int_eq(quant_apply(&s, w, 12, 40, &t.c, wq, NULL, &r, NULL, &e), 0);
    ck_assert_double_eq_tol(r.out_err, tq_out_err(w, wq, 12, 40, t.x, t.n), 1e-3 * r.out_err);
    ck_assert_int_eq(quant_apply_ex(&s, w, 12, 40, &t.c, wq, NULL, &r, NULL, QUANT_NO_OUT_ERR, &e), 0);
    ck_assert_double_eq(r.out_err, -1);
    ck_assert(r.rel_fro > 0);
    free(w), free(wq);
    tq_calib_free(&t);
}
END_TEST

/* ---- shared checks over the registry ----------------------------------- */

enum { R = 24, C = 100, NT = 300 };

static void spec_for(struct quant_spec *s, int i, int bits, int group)
{
    struct qerr e = {0};
    int rc = quant_spec_parse(s, quant_registry[i]->name, bits, group, -1, NULL, &e);
    ck_assert_msg(rc == 0, "%s", e.msg);
}

static int run(int i, const float *w, int rows, int cols, int bits, int group,
               const struct quant_calib *c, float *out, struct quant_report *rep,
               struct qerr *e)
{
    struct quant_spec s;
    spec_for(&s, i, bits, group);
    return quant_apply(&s, w, rows, cols, c, out, NULL, rep, NULL, e);
}

START_TEST(shared_bad_input)
{
    struct quant_spec s;
    struct qerr e = {0};
    struct quant_report rep;
    struct tq_calib t;
    tu_seed(1);
    tq_calib_make(&t, C, NT, 0.5, 0, 1);
    float *w = tq_matrix(R, C, 0.02), *out = malloc(R * C * sizeof *out);
    spec_for(&s, _i, 4, 32);
    ck_assert_int_eq(quant_apply(&s, w, 0, C, &t.c, out, NULL, &rep, NULL, &e), QERR_ARG);
    ck_assert_int_eq(quant_apply(&s, NULL, R, C, &t.c, out, NULL, &rep, NULL, &e), QERR_ARG);
    ck_assert_int_eq(quant_apply(NULL, w, R, C, &t.c, out, NULL, &rep, NULL, &e), QERR_ARG);
    w[3 * C + 5] = NAN;
    ck_assert_int_eq(quant_apply(&s, w, R, C, &t.c, out, NULL, &rep, NULL, &e), QERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "row 3 col 5") && strstr(e.msg, "NaN"), "%s", e.msg);
    w[3 * C + 5] = INFINITY;
    ck_assert_int_eq(quant_apply(&s, w, R, C, &t.c, out, NULL, &rep, NULL, &e), QERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "infinite"), "%s", e.msg);
    w[3 * C + 5] = 0;
    t.max_abs[7] = NAN;
    ck_assert_int_eq(quant_apply(&s, w, R, C, &t.c, out, NULL, &rep, NULL, &e), QERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "act_max_abs"), "%s", e.msg);
    t.max_abs[7] = 1;
    t.xtx[2 * C + 9] = INFINITY;
    ck_assert_int_eq(quant_apply(&s, w, R, C, &t.c, out, NULL, &rep, NULL, &e), QERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "xtx row 2 col 9"), "%s", e.msg);
    t.xtx[2 * C + 9] = t.xtx[9 * C + 2];
    t.c.dim = C + 1;   /* calibration of another layer */
    ck_assert_int_eq(quant_apply(&s, w, R, C, &t.c, out, NULL, &rep, NULL, &e), QERR_ARG);
    ck_assert_msg(strstr(e.msg, "101 channels") && strstr(e.msg, "100 inputs"), "%s", e.msg);
    t.c.dim = C;
    s.bits = 9;
    ck_assert_int_eq(quant_apply(&s, w, R, C, &t.c, out, NULL, &rep, NULL, &e), QERR_ARG);
    s.bits = 4;
    /* missing required calibration is a clear error, not a crash */
    int rc = quant_apply(&s, w, R, C, NULL, out, NULL, &rep, NULL, &e);
    if (quant_registry[_i]->needs_calib)
        ck_assert_msg(rc == QERR_ARG && strstr(e.msg, "calibration"), "%s", e.msg);
    else
        ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(quant_apply(&s, w, R, C, &t.c, out, NULL, &rep, NULL, &e), 0);
    free(w), free(out);
    tq_calib_free(&t);
}
END_TEST

START_TEST(shared_error_falls_with_bits)
{
    /* the ggml types fix bits and block (tested in check_ggml_types) */
    if (quant_registry[_i]->apply == ggml_method_apply)
        return;
    struct tq_calib t;
    tu_seed(2);
    tq_calib_make(&t, C, NT, 0.5, 0, 1);
    float *w = tq_matrix(R, C, 0.02), *out = malloc(R * C * sizeof *out);
    struct qerr e = {0};
    struct quant_report rep;
    double prev = 1e9, prev_out = 1e9;
    int bits[] = {2, 3, 4, 6, 8};
    for (int k = 0; k < 5; k++) {
        int rc = run(_i, w, R, C, bits[k], 32, &t.c, out, &rep, &e);
        ck_assert_msg(rc == 0, "%s bits %d: %s", quant_registry[_i]->name, bits[k], e.msg);
        ck_assert_msg(rep.rel_fro < prev, "%s: rel err %g at %d bits, %g before",
                      quant_registry[_i]->name, rep.rel_fro, bits[k], prev);
        ck_assert(rep.out_err >= 0 && rep.out_err < prev_out);
        /* float columns (LLM.int8) and float outliers (SpQR) cost extra */
        double fp_bits = 16.0 * rep.n_outlier_features / C + 32.0 * rep.outlier_frac;
        ck_assert(rep.bits_per_weight > bits[k] && rep.bits_per_weight < bits[k] + 2 + fp_bits);
        prev = rep.rel_fro, prev_out = rep.out_err;
    }
    ck_assert(prev < 0.03);   /* 8 bits, group 32: under 3% (SpQR: 3-bit zero points) */
    free(w), free(out);
    tq_calib_free(&t);
}
END_TEST

START_TEST(shared_zero_matrix_and_row)
{
    struct tq_calib t;
    tu_seed(3);
    tq_calib_make(&t, C, NT, 0.5, 0, 1);
    float *w = calloc(R * C, sizeof *w), *out = malloc(R * C * sizeof *out);
    struct qerr e = {0};
    struct quant_report rep;
    ck_assert_int_eq(run(_i, w, R, C, 4, 32, &t.c, out, &rep, &e), 0);
    for (int i = 0; i < R * C; i++)
        ck_assert_float_eq(out[i], 0);
    ck_assert_double_eq(rep.rel_fro, 0);
    ck_assert_double_eq(rep.sqnr_db, 300);
    ck_assert_double_eq(rep.out_err, 0);
    free(w);
    w = tq_matrix(R, C, 0.02);
    memset(w + 5 * C, 0, C * sizeof *w);   /* one output channel all zero */
    ck_assert_int_eq(run(_i, w, R, C, 3, 0, &t.c, out, &rep, &e), 0);
    for (int c = 0; c < C; c++)
        ck_assert_float_eq(out[5 * C + c], 0);
    free(w), free(out);
    tq_calib_free(&t);
}
END_TEST

/* cols = 100, group 32: three full groups and a last group of 4. */
START_TEST(shared_group_not_dividing)
{
    struct tq_calib t;
    tu_seed(4);
    tq_calib_make(&t, C, NT, 0.5, 0, 1);
    float *w = tq_matrix(R, C, 0.02), *out = malloc(R * C * sizeof *out);
    struct qerr e = {0};
    struct quant_report rep, rep_g;
    if (quant_registry[_i]->apply == ggml_method_apply) { /* no group to vary */
        free(w), free(out);
        tq_calib_free(&t);
        return;
    }
    ck_assert_int_eq(run(_i, w, R, C, 4, 32, &t.c, out, &rep_g, &e), 0);
    for (int i = 0; i < R * C; i++)
        ck_assert(isfinite(out[i]));
    ck_assert(rep_g.rel_fro < 0.2);
    ck_assert_int_eq(run(_i, w, R, C, 4, -1, &t.c, out, &rep, &e), 0);
    ck_assert(rep.rel_fro < 0.3);
    /* finer statistics never cost fewer bits */
    ck_assert(rep_g.bits_per_weight > rep.bits_per_weight);
    ck_assert_int_eq(run(_i, w, R, C, 4, 1000, &t.c, out, &rep, &e), 0); /* group > cols */
    ck_assert(rep.rel_fro < 0.3);
    free(w), free(out);
    tq_calib_free(&t);
}
END_TEST

START_TEST(shared_planted_outliers)
{
    struct tq_calib t;
    tu_seed(6);
    tq_calib_make(&t, C, NT, 0.5, 0, 1);
    float *w = tq_matrix(R, C, 0.02), *out = malloc(R * C * sizeof *out);
    for (int k = 0; k < 10; k++)
        w[(k * 7 % R) * C + (k * 13 % C)] = (k & 1 ? 1.0f : -1.0f);  /* 50 sd */
    struct qerr e = {0};
    struct quant_report rep;
    ck_assert_int_eq(run(_i, w, R, C, 4, 32, &t.c, out, &rep, &e), 0);
    for (int i = 0; i < R * C; i++)
        ck_assert(isfinite(out[i]));
    ck_assert(rep.rel_fro < 0.5);
    ck_assert(rep.max_abs_err < 0.2);
    free(w), free(out);
    tq_calib_free(&t);
}
END_TEST

START_TEST(shared_deterministic)
{
    struct tq_calib t;
    tu_seed(7);
    tq_calib_make(&t, C, NT, 0.5, 0, 1);
    float *w = tq_matrix(R, C, 0.02), *a = malloc(R * C * sizeof *a), *b = malloc(R * C * sizeof *b);
    struct qerr e = {0};
    struct quant_report ra, rb;
    ck_assert_int_eq(run(_i, w, R, C, 3, 32, &t.c, a, &ra, &e), 0);
    ck_assert_int_eq(run(_i, w, R, C, 3, 32, &t.c, b, &rb, &e), 0);
    ck_assert_int_eq(memcmp(a, b, R * C * sizeof *a), 0);
    ck_assert_double_eq(ra.mse, rb.mse);
    free(w), free(a), free(b);
    tq_calib_free(&t);
}
END_TEST

static int cancel_at_once(void *ud, double frac) { (void)frac; return ++*(int *)ud > 0; }

START_TEST(shared_cancel)
{
    struct tq_calib t;
    tu_seed(8);
    tq_calib_make(&t, C, NT, 0.5, 0, 1);
    float *w = tq_matrix(R, C, 0.02), *out = malloc(R * C * sizeof *out);
    struct quant_spec s;
    struct qerr e = {0};
    spec_for(&s, _i, 4, 32);
    volatile int flag = 1;
    int calls = 0;
    struct quant_ctl ctl = {.cancel = &flag};
    int rc = quant_apply(&s, w, R, C, &t.c, out, NULL, NULL, &ctl, &e);
    /* the slow methods poll; RTN-like ones finish at once -- either is
     * fine, but nothing else */
    ck_assert(rc == 0 || rc == QERR_CANCEL);
    const char *name = quant_registry[_i]->name;
    int slow = !strcmp(name, "GPTQ") || !strcmp(name, "SpQR") || !strcmp(name, "AWQ");
    if (slow)
        ck_assert_int_eq(rc, QERR_CANCEL);
    flag = 0;
    ctl = (struct quant_ctl){.progress = cancel_at_once, .ud = &calls};
    rc = quant_apply(&s, w, R, C, &t.c, out, NULL, NULL, &ctl, &e);
    if (slow)
        ck_assert_int_eq(rc, QERR_CANCEL);
    free(w), free(out);
    tq_calib_free(&t);
}
END_TEST

struct prog { int n; double last; int monotone; };

static int record(void *ud, double frac)
{
    struct prog *p = ud;
    p->monotone &= frac >= p->last && frac <= 1.0;
    p->last = frac;
    p->n++;
    return 0;
}

/* Methods that report progress report it in [0, 1], never backwards, and
 * end at 1. */
START_TEST(shared_progress)
{
    struct tq_calib t;
    tu_seed(9);
    tq_calib_make(&t, C, NT, 0.5, 0, 1);
    float *w = tq_matrix(R, C, 0.02), *out = malloc(R * C * sizeof *out);
    struct quant_spec s;
    struct qerr e = {0};
    spec_for(&s, _i, 4, 32);
    struct prog p = {0, 0, 1};
    struct quant_ctl ctl = {.progress = record, .ud = &p};
    ck_assert_int_eq(quant_apply(&s, w, R, C, &t.c, out, NULL, NULL, &ctl, &e), 0);
    ck_assert(p.monotone);
    if (p.n)
        ck_assert_double_eq_tol(p.last, 1.0, 1e-12);
    free(w), free(out);
    tq_calib_free(&t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("quant");
    TCase *tc = tcase_create("registry");
    tcase_add_test(tc, registry_entries);
    tcase_add_test(tc, find_case_insensitive);
    tcase_add_test(tc, spec_parse_defaults_and_opts);
    tcase_add_test(tc, spec_parse_errors);
    tcase_add_test(tc, report_known_values);
    tcase_add_test(tc, grid_bpw_formula);
    tcase_add_test(tc, out_err_matches_direct);
    suite_add_tcase(s, tc);
    TCase *sh = tcase_create("shared");
    tcase_set_timeout(sh, 60);
    int n = quant_count();
    tcase_add_loop_test(sh, shared_bad_input, 0, n);
    tcase_add_loop_test(sh, shared_error_falls_with_bits, 0, n);
    tcase_add_loop_test(sh, shared_zero_matrix_and_row, 0, n);
    tcase_add_loop_test(sh, shared_group_not_dividing, 0, n);
    tcase_add_loop_test(sh, shared_planted_outliers, 0, n);
    tcase_add_loop_test(sh, shared_deterministic, 0, n);
    tcase_add_loop_test(sh, shared_cancel, 0, n);
    tcase_add_loop_test(sh, shared_progress, 0, n);
    suite_add_tcase(s, sh);
    return s;
}

int main(void) { return tu_run(suite()); }
