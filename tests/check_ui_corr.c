/* View-model tests of the Correlation view (ui/vm_corr.c), issue 13 item
 * 6: legend keys of the points (method, the user's own runs), the fit in
 * the axes drawn (log x: fitted in log10 x), the Jin et al. Table 3
 * preset, picking X/Y with pairs after a filter, and importing lm-eval
 * results into the session file. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/results.h"
#include "src/paths.h"
#include "tests/testutil.h"
#include "ui/vm_corr.h"

static void add(struct results_store *s, const char *id, const char *model, const char *method,
                int bits, double ppl, double bench)
{
    struct qerr err;
    struct results_entry e;
    results_entry_init(&e);
    snprintf(e.id, sizeof e.id, "%s", id);
    snprintf(e.model, sizeof e.model, "%s", model);
    snprintf(e.method, sizeof e.method, "%s", method);
    e.w_bits = bits;
    if (isfinite(ppl))
        ck_assert_int_eq(results_entry_set_ppl(&e, "wikitext2", ppl, NAN, &err), 0);
    if (isfinite(bench))
        ck_assert_int_eq(results_entry_set_bench(&e, "mmlu", bench, "acc", "percent", NAN, &err), 0);
    ck_assert_int_eq(results_add_entry(s, &e, &err), 0);
    results_entry_free(&e);
}

START_TEST(corr_want_log)
{
    ck_assert_int_eq(vm_corr_want_log(NULL, 0), 0);
    double a[] = {8, 9, 10}, b[] = {8, 12, 2e4}, c[] = {-1, 1, 1e4}, d[] = {0, 1, 1e4};
    ck_assert_int_eq(vm_corr_want_log(a, 3), 0);
    ck_assert_int_eq(vm_corr_want_log(b, 3), 1);
    ck_assert_int_eq(vm_corr_want_log(c, 3), 0); /* not all positive */
    ck_assert_int_eq(vm_corr_want_log(d, 3), 0);
}
END_TEST

/* Points lie exactly on y = 70 - 10 log10(x) with x over four decades:
 * the line of the log-x plot is that one (a fit in linear x drawn on a
 * log axis was a curve), and r stays the linear Pearson r. */
START_TEST(corr_fit_in_log_axis)
{
    struct results_store s;
    results_store_init(&s);
    double xs[] = {8, 12, 80, 900, 1e4, 1e5};
    for (int i = 0; i < 6; i++) {
        char id[16];
        snprintf(id, sizeof id, "e%d", i);
        add(&s, id, "M", "GPTQ", 2 + i % 3, xs[i], 70 - 10 * log10(xs[i]));
    }
    struct vm_corr v;
    vm_corr_init(&v);
    ck_assert_int_eq(vm_corr_set_store(&v, &s), 0);
    ck_assert_str_eq(v.vars[v.x], "ppl_mean");
    ck_assert_str_eq(v.vars[v.y], "mmlu");
    ck_assert_int_eq((int)v.n, 6);
    ck_assert_int_eq(v.lx, 1);
    ck_assert_int_eq(v.ly, 0);
    ck_assert_int_eq(v.fit_rc, 0);
    ck_assert_double_eq_tol(v.fit.slope, -10, 1e-9);
    ck_assert_double_eq_tol(v.fit.intercept, 70, 1e-9);
    ck_assert_double_eq_tol(fabs(v.fit.r), 1, 1e-12);
    ck_assert(fabs(v.res.r) < 0.99); /* not linear in x */
    ck_assert(fabs(v.res.slope + 10) > 1); /* and the linear fit differs */
    vm_corr_free(&v);
}
END_TEST

/* One legend key per method; the user's runs (ids in the session store)
 * get their own keys in lower case; letters never repeat. */
START_TEST(corr_legend_keys_and_mine)
{
    struct results_store s, mine;
    results_store_init(&s);
    results_store_init(&mine);
    add(&s, "p1", "Qwen", "GPTQ", 4, 10, 50);
    add(&s, "p2", "Qwen", "GPTQ", 3, 12, 45);
    add(&s, "p3", "Qwen", "SpQR", 3, 11, 47);
    add(&s, "p4", "Qwen", "GGUF", 3, 11, 47); /* G taken: next letter of its name */
    add(&s, "r1", "stories260K", "RTN", 4, 9, 30);
    add(&s, "r2", "stories260K", "RTN", 2, 40, NAN); /* no benchmark: not plotted */
    add(&mine, "r1", "stories260K", "RTN", 4, 9, 30);
    add(&mine, "r2", "stories260K", "RTN", 2, 40, NAN);
    struct vm_corr v;
    vm_corr_init(&v);
    ck_assert_int_eq(vm_corr_set_store(&v, &s), 0);
    ck_assert_int_eq(v.n_mine, 0);
    vm_corr_set_mine(&v, &mine);
    ck_assert_int_eq((int)v.n, 5);
    ck_assert_int_eq(v.n_keys, 4);
    ck_assert_str_eq(v.keys[0].method, "GPTQ");
    ck_assert_int_eq(v.keys[0].letter, 'G');
    ck_assert_int_eq(v.keys[0].n, 2);
    ck_assert_int_eq(v.keys[1].letter, 'S');
    ck_assert_int_eq(v.keys[2].letter, 'U'); /* G, then G again, then U */
    ck_assert_int_eq(v.keys[3].mine, 1);
    ck_assert_int_eq(v.keys[3].letter, 'r');
    ck_assert_int_eq(v.keys[3].n, 1);
    ck_assert_int_eq(v.n_mine, 2);
    ck_assert_int_eq(v.n_mine_shown, 1);
    for (size_t i = 0; i < v.n; i++)
        ck_assert_int_eq(v.keys[v.pk[i]].mine, !strcmp(v.s.e[v.pe[i]].id, "r1"));
    /* a filter counts only the runs it keeps */
    struct qerr err;
    ck_assert_int_eq(vm_corr_set_where(&v, "model=Qwen", &err), 0);
    ck_assert_int_eq(v.n_mine, 0);
    ck_assert_int_eq(v.n_keys, 3);
    results_store_free(&mine);
    vm_corr_free(&v);
}
END_TEST

/* More methods than keys: the last key is "other", letters stay unique. */
START_TEST(corr_legend_overflow)
{
    struct results_store s;
    results_store_init(&s);
    for (int i = 0; i < 3 * VM_CORR_KEYS; i++) {
        char id[16], m[16];
        snprintf(id, sizeof id, "e%d", i);
        snprintf(m, sizeof m, "M%d", i);
        add(&s, id, "X", m, 4, 10 + i, 50 - i);
    }
    struct vm_corr v;
    vm_corr_init(&v);
    ck_assert_int_eq(vm_corr_set_store(&v, &s), 0);
    ck_assert_int_eq(v.n_keys, VM_CORR_KEYS);
    ck_assert_str_eq(v.keys[VM_CORR_KEYS - 1].method, "other");
    ck_assert_int_eq(v.keys[VM_CORR_KEYS - 1].n, 3 * VM_CORR_KEYS - (VM_CORR_KEYS - 1));
    for (int a = 0; a < v.n_keys; a++)
        for (int b = a + 1; b < v.n_keys; b++)
            ck_assert_int_ne(v.keys[a].letter, v.keys[b].letter);
    vm_corr_free(&v);
}
END_TEST

/* The preset over the bundled data gives the README's comparison: 12
 * entries, 27 benchmarks, mean |r| 0.8648 (the paper reports 0.7895). */
START_TEST(corr_jin_preset_on_bundled_data)
{
    struct results_store s;
    results_store_init(&s);
    struct qerr err;
    ck_assert_msg(paths_load_papers(&s, &err) == 0, "%s", err.msg);
    struct vm_corr v;
    vm_corr_init(&v);
    ck_assert_int_eq(vm_corr_set_store(&v, &s), 0);
    v.x = vm_corr_var(&v, "bits");
    v.f = 1;
    vm_corr_preset_jin(&v);
    ck_assert_str_eq(v.vars[v.x], "ppl_mean");
    ck_assert_int_eq(v.f, 0);
    ck_assert_str_eq(v.where_text, VM_CORR_JIN_WHERE);
    int cnt = 0;
    double m = vm_corr_mean_abs_r(&v, &cnt);
    ck_assert_int_eq(cnt, 27);
    ck_assert_double_eq_tol(m, 0.8648, 5e-5);
    ck_assert_int_eq((int)v.n, 12);
    vm_corr_free(&v);
}
END_TEST

/* A filter to a model whose only benchmark is an imported one moves X/Y
 * to a pair that has points. */
START_TEST(corr_autopick_after_filter)
{
    struct results_store s;
    results_store_init(&s);
    struct qerr err;
    add(&s, "p1", "Qwen", "GPTQ", 4, 10, 50);
    add(&s, "p2", "Qwen", "GPTQ", 3, 12, 45);
    add(&s, "p3", "Qwen", "GPTQ", 2, 30, 25);
    for (int i = 0; i < 3; i++) {
        struct results_entry e;
        results_entry_init(&e);
        snprintf(e.id, sizeof e.id, "s%d", i);
        snprintf(e.model, sizeof e.model, "stories260K");
        snprintf(e.method, sizeof e.method, "RTN");
        e.w_bits = 2 + i;
        results_entry_set_ppl(&e, "tinystories-eval", 8 + i, NAN, &err);
        results_entry_set_bench(&e, "arc_easy", 0.5 - 0.1 * i, "acc", "fraction", NAN, &err);
        ck_assert_int_eq(results_add_entry(&s, &e, &err), 0);
        results_entry_free(&e);
    }
    struct vm_corr v;
    vm_corr_init(&v);
    ck_assert_int_eq(vm_corr_set_store(&v, &s), 0);
    v.x = vm_corr_var(&v, "ppl.wikitext2");
    v.y = vm_corr_var(&v, "mmlu");
    ck_assert_int_eq(vm_corr_set_where(&v, "model=stories260K", &err), 0);
    ck_assert_str_eq(v.vars[v.x], "ppl_mean"); /* ppl.wikitext2 has none there */
    ck_assert_str_eq(v.vars[v.y], "arc_easy");
    ck_assert_int_eq((int)v.n, 3);
    /* nothing anywhere: left as it is */
    int x = v.x, y = v.y;
    ck_assert_int_eq(vm_corr_set_where(&v, "model=nobody", &err), 0);
    ck_assert_int_eq(v.x, x);
    ck_assert_int_eq(v.y, y);
    vm_corr_free(&v);
}
END_TEST

static const char *lmeval(double acc)
{
    static char buf[512];
    snprintf(buf, sizeof buf,
             "{\"results\": {\"arc_easy\": {\"alias\": \"arc_easy\", \"acc,none\": %g, "
             "\"acc_stderr,none\": 0.01}}, \"config\": {\"model\": \"hf\", "
             "\"model_args\": \"pretrained=./x\"}}", acc);
    return buf;
}

static int bench_of(const char *session, const char *id, double *out)
{
    struct results_store s;
    results_store_init(&s);
    struct qerr err;
    ck_assert_msg(results_load(&s, session, &err) == 0, "%s", err.msg);
    int k = results_find(&s, id);
    *out = k >= 0 ? results_entry_value(&s.e[k], "arc_easy") : NAN;
    int n = s.n;
    results_store_free(&s);
    return n;
}

/* The import joins the run given as default (the Runs view's selection);
 * words in the command override it; errors name what is wrong and leave
 * the session file as it was. */
START_TEST(corr_import_into_session)
{
    const char *sess = tu_tmpfile("corr_session.json");
    char lm[1024], sum[512];
    snprintf(lm, sizeof lm, "%s", tu_tmpfile("corr_lm.json"));
    struct results_store s;
    results_store_init(&s);
    struct qerr err;
    add(&s, "stories260K/RTN w4 g128 asym", "stories260K", "RTN", 4, 9.3, NAN);
    s.e[0].group_size = 128;
    add(&s, "stories260K/float", "stories260K", "float", 16, 7.9, NAN);
    ck_assert_int_eq(results_save(&s, sess, &err), 0);
    results_store_free(&s);
    ck_assert_int_eq(tu_write_file(lm, lmeval(0.55), strlen(lmeval(0.55))), 0);

    struct results_import_opts def = {.model = "stories260K", .method = "RTN", .w_bits = 4,
                                      .group_size = 128};
    ck_assert_msg(vm_corr_import(sess, lm, &def, sum, sizeof sum, &err) == 0, "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(sum, "lm-eval, 0 added, 1 joined"));
    double b;
    ck_assert_int_eq(bench_of(sess, "stories260K/RTN w4 g128 asym", &b), 2);
    ck_assert_double_eq_tol(b, 0.55, 1e-12);

    /* naming method/bits drops the default's group: joins the float run */
    char cmd[1200];
    ck_assert_int_eq(tu_write_file(lm, lmeval(0.6), strlen(lmeval(0.6))), 0);
    snprintf(cmd, sizeof cmd, "%s method float bits 16", lm);
    ck_assert_msg(vm_corr_import(sess, cmd, &def, sum, sizeof sum, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(bench_of(sess, "stories260K/float", &b), 2);
    ck_assert_double_eq_tol(b, 0.6, 1e-12);

    /* errors: no path, a bad word, a missing file, a conflicting value */
    ck_assert_int_eq(vm_corr_import(sess, "", &def, sum, sizeof sum, &err), QERR_ARG);
    snprintf(cmd, sizeof cmd, "%s bits x", lm);
    ck_assert_int_eq(vm_corr_import(sess, cmd, &def, sum, sizeof sum, &err), QERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "bits x"));
    snprintf(cmd, sizeof cmd, "%s method", lm);
    ck_assert_int_eq(vm_corr_import(sess, cmd, &def, sum, sizeof sum, &err), QERR_ARG);
    ck_assert_int_lt(vm_corr_import(sess, tu_tmpfile("nope.json"), &def, sum, sizeof sum, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "nope.json"));
    ck_assert_int_eq(tu_write_file(lm, lmeval(0.1), strlen(lmeval(0.1))), 0);
    ck_assert_int_lt(vm_corr_import(sess, lm, &def, sum, sizeof sum, &err), 0);
    ck_assert_int_eq(bench_of(sess, "stories260K/RTN w4 g128 asym", &b), 2);
    ck_assert_double_eq_tol(b, 0.55, 1e-12); /* unchanged */
    ck_assert_int_eq(vm_corr_import("", lm, &def, sum, sizeof sum, &err), QERR_ARG);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ui_corr");
    TCase *tc = tcase_create("corr");
    tcase_add_test(tc, corr_want_log);
    tcase_add_test(tc, corr_fit_in_log_axis);
    tcase_add_test(tc, corr_legend_keys_and_mine);
    tcase_add_test(tc, corr_legend_overflow);
    tcase_add_test(tc, corr_jin_preset_on_bundled_data);
    tcase_add_test(tc, corr_autopick_after_filter);
    tcase_add_test(tc, corr_import_into_session);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
