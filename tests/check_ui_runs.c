/* View-model tests of the Quant, Runs and Correlation views (no terminal):
 * live-quantization settings and results, runs table, ΔPPL, Pareto front,
 * session file round trip and export, correlation variables and filter. */
#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "analysis/results.h"
#include "quant/quant.h"
#include "tests/testutil.h"
#include "ui/jobs.h"
#include "ui/vm_corr.h"
#include "ui/vm_quant.h"
#include "ui/vm_runs.h"

/* ---- live quantization ---- */

START_TEST(quant_settings_cycle)
{
    struct vm_quant q;
    vm_quant_init(&q);
    const struct quantizer *m0 = vm_quant_method(&q);
    ck_assert_ptr_eq(m0, quant_registry[0]);
    ck_assert_int_eq(q.bits, m0->def_bits);
    /* Settings stay across methods (issue 13 item 3): comparing GPTQ
     * and SpQR at "2 bits" means the same bits, group and symmetry. */
    vm_quant_add_bits(&q, -2);
    int b0 = q.bits, g = q.group, sy = q.sym;
    for (int i = 0; i < quant_count(); i++) {
        vm_quant_next_method(&q);
        ck_assert_int_eq(q.bits, b0);
        ck_assert_int_eq(q.group, g);
        ck_assert_int_eq(q.sym, sy);
    }
    ck_assert_ptr_eq(vm_quant_method(&q), m0); /* wrapped around */
    vm_quant_prev_method(&q);
    ck_assert_ptr_eq(vm_quant_method(&q), quant_registry[quant_count() - 1]);
    vm_quant_next_method(&q);
    ck_assert_ptr_eq(vm_quant_method(&q), m0);
    vm_quant_add_bits(&q, -100);
    ck_assert_int_eq(q.bits, 2);
    vm_quant_add_bits(&q, 100);
    ck_assert_int_eq(q.bits, 8);
    int g0 = q.group;
    for (int i = 0; i < vm_quant_n_groups; i++)
        vm_quant_next_group(&q);
    ck_assert_int_eq(q.group, g0);
    int s0 = q.sym;
    vm_quant_toggle_sym(&q);
    ck_assert_int_ne(q.sym, s0);
    char d[160];
    vm_quant_describe(&q, d, sizeof d);
    ck_assert_ptr_nonnull(strstr(d, "8 bit"));
    struct quant_spec spec;
    struct qerr err;
    ck_assert_int_eq(vm_quant_spec(&q, &spec, &err), 0);
    ck_assert_int_eq(spec.bits, 8);
    ck_assert_int_eq(spec.group, q.group);
    ck_assert_int_eq(spec.sym, q.sym);
}
END_TEST

/* Direct entry (the ':' prompt): all settings or none. */
START_TEST(quant_command)
{
    struct vm_quant q;
    vm_quant_init(&q);
    struct qerr err = {0};
    ck_assert_int_eq(vm_quant_command(&q, "method spqr, bits 2, group 16, asym", &err), 0);
    ck_assert_str_eq(vm_quant_method(&q)->name, "SpQR");
    ck_assert_int_eq(q.bits, 2);
    ck_assert_int_eq(q.group, 16);
    ck_assert_int_eq(q.sym, 0);
    ck_assert_int_eq(vm_quant_command(&q, "m GPTQ; b=3; g row; sym", &err), 0);
    ck_assert_str_eq(vm_quant_method(&q)->name, "GPTQ");
    ck_assert_int_eq(q.bits, 3);
    ck_assert_int_eq(q.group, 0);
    ck_assert_int_eq(q.sym, 1);
    ck_assert_int_eq(vm_quant_command(&q, "group tensor", &err), 0);
    ck_assert_int_eq(q.group, -1);
    ck_assert_int_eq(vm_quant_command(&q, "group g64", &err), 0);
    ck_assert_int_eq(q.group, 64);
    /* Bad words change nothing and are named. */
    static const char *const bad[] = {"", "   ", "bits", "bits 1", "bits 9", "bits 2x",
                                      "method nope", "group -5", "group x", "colour red",
                                      "bits 2, method nope"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(vm_quant_command(&q, bad[i], &err), QERR_ARG);
        ck_assert(err.msg[0]);
        ck_assert_int_eq(q.bits, 3);
        ck_assert_int_eq(q.group, 64);
    }
    ck_assert(strstr(err.msg, "nope"));
    ck_assert_int_eq(vm_quant_command(&q, NULL, &err), QERR_ARG);
}
END_TEST

START_TEST(quant_option_switch_toggles)
{
    struct vm_quant q;
    vm_quant_init(&q);
    /* SpQR's first option is the outlier switch: two states only. */
    while (strcmp(vm_quant_method(&q)->name, "SpQR"))
        vm_quant_next_method(&q);
    struct quant_spec spec;
    struct qerr err;
    vm_quant_spec(&q, &spec, &err);
    double a = spec.opt[0];
    vm_quant_next_option(&q);
    vm_quant_spec(&q, &spec, &err);
    ck_assert(spec.opt[0] == 1 - a);
    vm_quant_next_option(&q);
    vm_quant_spec(&q, &spec, &err);
    ck_assert(spec.opt[0] == a);
}
END_TEST

START_TEST(quant_apply_matches_registry)
{
    enum { R = 16, C = 96 };
    static float w[R * C], ref[R * C];
    tu_seed(11);
    for (int i = 0; i < R * C; i++)
        w[i] = (float)tu_normal();
    w[17] = 12; /* an outlier */
    struct vm_quant q;
    vm_quant_init(&q); /* RTN */
    q.bits = 3;
    q.group = 32;
    ck_assert_int_eq(vm_quant_apply(&q, 5, w, R, C, NULL, NULL), 0);
    struct quant_spec spec;
    struct qerr err;
    vm_quant_spec(&q, &spec, &err);
    struct quant_report rep;
    ck_assert_int_eq(quant_apply(&spec, w, R, C, NULL, ref, NULL, &rep, NULL, &err), 0);
    double maxe = 0;
    for (int i = 0; i < R * C; i++) {
        ck_assert(q.wq[i] == ref[i]);
        ck_assert(q.err[i] == fabsf(w[i] - ref[i]));
        maxe = fmax(maxe, q.err[i]);
    }
    ck_assert_double_eq_tol(q.rep.max_abs_err, maxe, 1e-6);
    ck_assert_double_eq_tol(q.rep.sqnr_db, rep.sqnr_db, 1e-9);
    ck_assert_int_eq(q.ti, 5);
    ck_assert(strlen(q.desc) > 0);
    /* take_result moves the buffers */
    struct vm_quant dst;
    vm_quant_init(&dst);
    vm_quant_take_result(&dst, &q);
    ck_assert_ptr_null(q.wq);
    ck_assert_ptr_nonnull(dst.wq);
    ck_assert_int_eq(dst.ti, 5);
    vm_quant_free(&dst);
    vm_quant_free(&q);
}
END_TEST

/* Every RTN output value of the scope must be one of the scope's levels. */
static void assert_on_levels(const struct vm_quant *q, const struct vq_scope *sc,
                             const float *lev, int n)
{
    double step = n > 1 ? fabs(lev[1] - lev[0]) : 1;
    for (int64_t i = sc->r0; i < sc->r1; i++)
        for (int64_t j = sc->c0; j < sc->c1; j++) {
            double v = q->wq[i * q->cols + j], best = INFINITY;
            for (int k = 0; k < n; k++)
                best = fmin(best, fabs(v - lev[k]));
            ck_assert_msg(best <= 1e-5 * step, "wq[%lld,%lld] = %g is %g off the grid",
                          (long long)i, (long long)j, v, best);
        }
}

/* The histogram marks of a per-group / per-channel quantizer are the
 * levels of the group under the cursor: exactly the values RTN writes. */
START_TEST(quant_scope_levels_match_rtn)
{
    enum { R = 4, C = 100 }; /* 100 = 3 groups of 32 and a last one of 4 */
    static float w[R * C];
    tu_seed(5);
    for (int i = 0; i < R * C; i++)
        w[i] = (float)(0.1 * tu_normal()) + 0.05f; /* off-centre: zero point matters */
    for (int j = 0; j < C; j++)
        w[2 * C + j] *= 10; /* a loud row */
    for (int j = 64; j < 96; j++)
        w[C + j] = 0; /* an all-zero group */
    struct vm_quant q;
    vm_quant_init(&q); /* RTN */
    struct vq_scope sc;
    float lev[512];
    char txt[96];
    static const int64_t at[][2] = {{2, 50}, {3, 97}, {1, 70}, {0, 0}, {9, -4}};
    for (int sym = 0; sym <= 1; sym++)
        for (int bits = 2; bits <= 4; bits++) {
            q.bits = bits;
            q.sym = sym;
            q.group = 32;
            ck_assert_int_eq(vm_quant_apply(&q, 0, w, R, C, NULL, NULL), 0);
            for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
                vm_quant_scope(&q, R, C, at[k][0], at[k][1], &sc);
                int n = vm_quant_grid_scope(&q, w, C, &sc, -1, 1, lev, 512);
                ck_assert_int_eq(n, sym ? (1 << bits) - 1 : 1 << bits);
                assert_on_levels(&q, &sc, lev, n);
            }
            q.group = 0; /* per row */
            ck_assert_int_eq(vm_quant_apply(&q, 0, w, R, C, NULL, NULL), 0);
            vm_quant_scope(&q, R, C, 2, 50, &sc);
            int n = vm_quant_grid_scope(&q, w, C, &sc, -1, 1, lev, 512);
            assert_on_levels(&q, &sc, lev, n);
        }
    /* Scope bounds and captions; out-of-range cursors clamp. */
    q.group = 32;
    vm_quant_scope(&q, R, C, 2, 50, &sc);
    vm_quant_scope_text(&sc, txt, sizeof txt);
    ck_assert_str_eq(txt, "of row 2, cols 32-63 (cursor's group)");
    vm_quant_scope(&q, R, C, 9, 99, &sc);
    ck_assert_int_eq(sc.r0, 3);
    ck_assert_int_eq(sc.c0, 96);
    ck_assert_int_eq(sc.c1, 100); /* the short last group */
    q.group = 0;
    vm_quant_scope(&q, R, C, 1, 70, &sc);
    vm_quant_scope_text(&sc, txt, sizeof txt);
    ck_assert_str_eq(txt, "of row 1 (cursor's channel)");
    ck_assert_int_eq(sc.c1 - sc.c0, C);
    /* Per tensor: the caller's min/max, w is not read. */
    q.group = -1;
    q.sym = 1;
    q.bits = 2;
    vm_quant_scope(&q, R, C, 1, 70, &sc);
    ck_assert_int_eq(sc.kind, VQS_TENSOR);
    vm_quant_scope_text(&sc, txt, sizeof txt);
    ck_assert_str_eq(txt, "(per-tensor scale)");
    ck_assert_int_eq(vm_quant_grid_scope(&q, NULL, C, &sc, -3, 1.5, lev, 512), 3);
    ck_assert_float_eq_tol(lev[0], -3, 1e-6);
    ck_assert_float_eq_tol(lev[2], 3, 1e-6);
    vm_quant_free(&q);
}
END_TEST

START_TEST(quant_apply_errors)
{
    struct vm_quant q;
    vm_quant_init(&q);
    ck_assert_int_lt(vm_quant_apply(&q, 0, NULL, 4, 4, NULL, NULL), 0);
    ck_assert(strlen(q.msg) > 0);
    float w[16] = {0};
    w[3] = NAN; /* quant_apply names the bad value */
    ck_assert_int_lt(vm_quant_apply(&q, 0, w, 4, 4, NULL, NULL), 0);
    ck_assert(strlen(q.msg) > 0);
    /* GPTQ without calibration: an error, not a crash */
    vm_quant_next_method(&q);
    ck_assert(vm_quant_needs_calib(&q));
    w[3] = 1;
    ck_assert_int_lt(vm_quant_apply(&q, 0, w, 4, 4, NULL, NULL), 0);
    vm_quant_free(&q);
}
END_TEST

/* The pinned B run is a deep copy: it keeps its numbers and maps when A
 * is quantized again into the same buffers (issue 13 item 1, A/B). */
START_TEST(quant_copy_result_is_deep)
{
    struct vm_quant a, b;
    vm_quant_init(&a);
    vm_quant_init(&b);
    ck_assert_int_eq(vm_quant_copy_result(&b, &a), 0); /* empty: stays empty */
    ck_assert_ptr_null(b.wq);
    float w[64];
    for (int i = 0; i < 64; i++)
        w[i] = (float)(i % 7) - 3.1f + (i == 5 ? 20.0f : 0.0f);
    a.bits = 2;
    ck_assert_int_eq(vm_quant_apply(&a, 3, w, 4, 16, NULL, NULL), 0);
    ck_assert_int_eq(vm_quant_copy_result(&b, &a), 0);
    ck_assert_ptr_ne(b.wq, a.wq);
    ck_assert_ptr_ne(b.err, a.err);
    ck_assert_int_eq(b.ti, 3);
    ck_assert_int_eq(b.bits, 2);
    ck_assert_str_eq(b.desc, a.desc);
    float e5 = b.err[5], mse = (float)b.rep.mse;
    ck_assert_int_eq(memcmp(b.wq, a.wq, sizeof w), 0);
    a.bits = 8;
    ck_assert_int_eq(vm_quant_apply(&a, 3, w, 4, 16, NULL, NULL), 0);
    ck_assert(a.rep.mse < mse); /* A changed ... */
    ck_assert(b.err[5] == e5); /* ... B did not */
    ck_assert((float)b.rep.mse == mse);
    ck_assert(strstr(b.desc, "w2") != NULL);
    vm_quant_free(&a);
    ck_assert(b.err[5] == e5); /* and outlives A */
    vm_quant_free(&b);
}
END_TEST

START_TEST(quant_grid_counts)
{
    struct vm_quant q;
    vm_quant_init(&q);
    float lev[300];
    q.bits = 4;
    q.sym = 1;
    ck_assert_int_eq(vm_quant_grid(&q, -1, 2, lev, 300), 15);
    q.sym = 0;
    ck_assert_int_eq(vm_quant_grid(&q, -1, 2, lev, 300), 16);
    ck_assert_int_eq(calib_site_of_role(QR_ATTN_K), CALIB_ATTN_IN);
    ck_assert_int_eq(calib_site_of_role(QR_FFN_DOWN), CALIB_FFN_DOWN);
    ck_assert_int_eq(calib_site_of_role(QR_OUTPUT), -1);
}
END_TEST

/* ---- runs ---- */

static struct jobs_run mkrun(const char *method, const char *spec, int bits, double size,
                             double ppl, double base)
{
    struct jobs_run r;
    memset(&r, 0, sizeof r);
    snprintf(r.method, sizeof r.method, "%s", method);
    snprintf(r.spec, sizeof r.spec, "%s", spec);
    r.bits = bits;
    r.group = 128;
    r.bpw = bits + 0.25;
    r.size_mib = size;
    r.ppl = ppl;
    r.ppl_se = 0.1;
    r.base_ppl = base;
    r.kl = 0.01 * bits;
    r.top1 = 0.9;
    r.seconds = 2;
    r.n_ctx = 512;
    r.n_chunks = 3;
    r.sym = 0;
    return r;
}

static void fill(struct vm_runs *v)
{
    struct jobs_run r = mkrun("float", "float (F32 weights)", 16, 1.0, 8.0, NAN);
    vm_runs_add(v, &r);
    r = mkrun("RTN", "RTN w4 g128 asym", 4, 0.3, 10.0, 8.0);
    vm_runs_add(v, &r);
    r = mkrun("RTN", "RTN w3 g128 asym", 3, 0.25, 40.0, 8.0);
    vm_runs_add(v, &r);
    r = mkrun("RTN", "RTN w8 g128 asym", 8, 0.5, 8.0, 8.0);
    vm_runs_add(v, &r);
    r = mkrun("RTN", "RTN w6 g128 asym", 6, 0.6, 9.0, NAN); /* dominated by w8 */
    vm_runs_add(v, &r);
}

/* Runs are keyed by configuration and evaluation (item 2): a baseline at
 * n_ctx 128 (the GGUF's context) is a new row, not a replacement of the
 * n_ctx 512 one, and dPPL compares within one context. */
START_TEST(runs_keyed_by_context)
{
    struct vm_runs v;
    vm_runs_init(&v, "stories260K.bin", "eval", "");
    struct jobs_run f512 = mkrun("float", "float (F32 weights)", 16, 1.0, 7.88, NAN);
    f512.n_ctx = 512, f512.n_chunks = 303, f512.base_ppl = NAN;
    struct jobs_run f128 = f512;
    f128.n_ctx = 128, f128.n_chunks = 1212, f128.ppl = 9.5;
    struct jobs_run q512 = mkrun("RTN", "RTN w4 g128 asym", 4, 0.3, 9.47, NAN);
    q512.n_ctx = 512, q512.n_chunks = 303, q512.base_ppl = NAN;
    vm_runs_add(&v, &f512);
    vm_runs_add(&v, &q512);
    vm_runs_add(&v, &f128);
    ck_assert_int_eq(v.n, 3);
    ck_assert_double_eq_tol(vm_runs_dppl(&v, 1), 100 * (9.47 / 7.88 - 1), 1e-9);
    char c[32];
    vm_runs_cell(&v, 2, VR_CTX, c, sizeof c);
    ck_assert_str_eq(c, "128");
    f128.ppl = 9.4; /* a rerun at the same context replaces its row */
    vm_runs_add(&v, &f128);
    ck_assert_int_eq(v.n, 3);
    ck_assert_double_eq(v.r[2].ppl, 9.4);
    /* No baseline at this context: no dPPL rather than a wrong one. */
    struct jobs_run q128 = q512;
    q128.n_ctx = 256;
    vm_runs_add(&v, &q128);
    ck_assert(isnan(vm_runs_dppl(&v, 3)));
    vm_runs_free(&v);
}
END_TEST

/* Families join case and separator variants of one model name (item 6). */
START_TEST(corr_family_names)
{
    static const char *const in[][2] = {
        {"LLaMA2-7B-chat", "llama"}, {"llama2_7b_chat", "llama"}, {"LlaMA2_13B", "llama"},
        {"ChatGLM3_6B", "chatglm"}, {"chatglm3_6b_32k", "chatglm"}, {"Qwen-7B-Chat", "qwen"},
        {"stories260K", "stories"}, {"OPT_125M", "opt"}, {"7B", "7B"}, {"", ""}};
    char f[16];
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        vm_corr_family(in[i][0], f, sizeof f);
        ck_assert_str_eq(f, in[i][1]);
    }
    vm_corr_family("averyveryverylongname", f, 8); /* bounded */
    ck_assert_str_eq(f, "averyve");
}
END_TEST

/* Same Bits, different storage: a warning, with the spread (item 3). */
START_TEST(runs_storage_note)
{
    struct vm_runs v;
    vm_runs_init(&v, "m.bin", "eval", "");
    char note[160] = "";
    ck_assert_int_eq(vm_runs_storage_note(&v, note, sizeof note), 0); /* empty */
    fill(&v);
    ck_assert_int_eq(vm_runs_storage_note(&v, note, sizeof note), 0); /* one run per Bits */
    struct jobs_run r = mkrun("GPTQ", "GPTQ w2 g128 asym", 2, 0.1, 30.0, 8.0);
    r.bpw = 2.26;
    vm_runs_add(&v, &r);
    r = mkrun("SpQR", "SpQR w2 g16 asym", 2, 0.2, 12.0, 8.0);
    r.bpw = 2.4;
    vm_runs_add(&v, &r);
    ck_assert_int_eq(vm_runs_storage_note(&v, note, sizeof note), 0); /* 0.14 apart: equal enough */
    r = mkrun("SpQR", "SpQR w2 g16 asym outliers=1", 2, 0.3, 11.0, 8.0);
    r.bpw = 5.5;
    vm_runs_add(&v, &r);
    ck_assert_int_eq(vm_runs_storage_note(&v, note, sizeof note), 1);
    ck_assert_str_eq(note, "runs at 2 bits store 2.26-5.50 bits/weight: compare PPL at equal "
                           "b/w, not equal bits");
    vm_runs_free(&v);
}
END_TEST

START_TEST(runs_empty)
{
    struct vm_runs v;
    vm_runs_init(&v, "m.bin", "eval", tu_tmpfile("none.json"));
    struct qerr err;
    ck_assert_int_eq(vm_runs_load(&v, &err), 0); /* missing file: empty session */
    ck_assert_int_eq(v.n, 0);
    unsigned char front[1];
    vm_runs_pareto(&v, front);
    vm_runs_move(&v, 3, 5);
    vm_runs_delete(&v, 0);
    char buf[32];
    vm_runs_cell(&v, 0, VR_PPL, buf, sizeof buf);
    ck_assert_str_eq(buf, "");
    vm_runs_free(&v);
}
END_TEST

START_TEST(runs_table_dppl_pareto)
{
    struct vm_runs v;
    vm_runs_init(&v, "m.bin", "eval", "");
    fill(&v);
    ck_assert_int_eq(v.n, 5);
    ck_assert_double_eq_tol(vm_runs_dppl(&v, 1), 25.0, 1e-9);   /* own KL baseline */
    ck_assert_double_eq_tol(vm_runs_dppl(&v, 4), 12.5, 1e-9);   /* float row */
    char buf[64];
    vm_runs_cell(&v, 0, VR_DPPL, buf, sizeof buf);
    ck_assert_str_eq(buf, "+0.00");
    vm_runs_cell(&v, 1, VR_PPL, buf, sizeof buf);
    ck_assert_str_eq(buf, "10.0000+-0.100");
    vm_runs_cell(&v, 0, VR_KL, buf, sizeof buf);
    ck_assert_str_eq(buf, "-");
    unsigned char front[VM_RUNS_MAX];
    vm_runs_pareto(&v, front);
    ck_assert_int_eq(front[0], 0); /* float: bigger than w8, same PPL */
    ck_assert_int_eq(front[1], 1);
    ck_assert_int_eq(front[2], 1);
    ck_assert_int_eq(front[3], 1);
    ck_assert_int_eq(front[4], 0);
    /* the plot's letters and legend (issue 13 item 5: labelled points) */
    char leg[256];
    vm_runs_legend(&v, 1, front, leg, sizeof leg);
    ck_assert_str_eq(leg, "b* PPL 10          0.3 MiB  RTN w4 g128 asym");
    vm_runs_legend(&v, 0, front, leg, sizeof leg);
    ck_assert_int_eq(leg[0], 'a');
    ck_assert_int_eq(leg[1], ' ');
    vm_runs_legend(&v, 1, NULL, leg, sizeof leg);
    ck_assert_int_eq(leg[1], ' ');
    vm_runs_legend(&v, 5, front, leg, sizeof leg); /* out of range: empty */
    ck_assert_str_eq(leg, "");
    ck_assert_int_eq(vm_runs_letter(0), 'a');
    ck_assert_int_eq(vm_runs_letter(26), 'A');
    ck_assert_int_eq(vm_runs_letter(61), '9');
    ck_assert_int_eq(vm_runs_letter(62), '+');
    ck_assert_int_eq(vm_runs_letter(-1), '+');
    /* a rerun of the same configuration replaces its row */
    struct jobs_run r = mkrun("RTN", "RTN w4 g128 asym", 4, 0.3, 9.5, 8.0);
    vm_runs_add(&v, &r);
    ck_assert_int_eq(v.n, 5);
    ck_assert_int_eq(v.sel, 1);
    ck_assert(v.r[1].ppl == 9.5);
    /* sort by PPL keeps the selected run selected */
    vm_runs_sort(&v, VR_PPL, 0);
    for (int i = 1; i < v.n; i++)
        ck_assert(v.r[i - 1].ppl <= v.r[i].ppl);
    ck_assert_str_eq(v.r[v.sel].spec, "RTN w4 g128 asym");
    vm_runs_sort(&v, VR_PPL, 1);
    ck_assert(v.r[0].ppl == 40.0);
    vm_runs_delete(&v, 0);
    ck_assert_int_eq(v.n, 4);
    vm_runs_free(&v);
}
END_TEST

START_TEST(runs_session_roundtrip_and_export)
{
    const char *path = tu_tmpfile("session.json");
    struct vm_runs v;
    vm_runs_init(&v, "m.bin", "eval", path);
    fill(&v);
    struct qerr err;
    ck_assert_msg(vm_runs_save(&v, &err) == 0, "%s", err.msg);
    /* another model's runs in the same file survive our saves */
    struct vm_runs o;
    vm_runs_init(&o, "other.gguf", "eval", path);
    ck_assert_int_eq(vm_runs_load(&o, &err), 0);
    ck_assert_int_eq(o.n, 0);
    struct jobs_run r = mkrun("GPTQ", "GPTQ w4 g128 asym", 4, 0.3, 9.0, 8.0);
    vm_runs_add(&o, &r);
    ck_assert_int_eq(vm_runs_save(&o, &err), 0);
    vm_runs_delete(&v, 4);
    ck_assert_int_eq(vm_runs_save(&v, &err), 0);
    struct results_store s;
    results_store_init(&s);
    ck_assert_msg(results_load(&s, path, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s.n, 5); /* 4 of m.bin + 1 of other.gguf */
    results_store_free(&s);
    struct vm_runs w;
    vm_runs_init(&w, "m.bin", "eval", path);
    ck_assert_int_eq(vm_runs_load(&w, &err), 0);
    ck_assert_int_eq(w.n, 4);
    int k = -1;
    for (int i = 0; i < w.n; i++)
        if (!strcmp(w.r[i].spec, "RTN w4 g128 asym"))
            k = i;
    ck_assert_int_ge(k, 0);
    ck_assert_double_eq_tol(w.r[k].ppl, 10.0, 1e-9);
    ck_assert_double_eq_tol(w.r[k].ppl_se, 0.1, 1e-9);
    ck_assert_double_eq_tol(w.r[k].base_ppl, 8.0, 1e-9);
    ck_assert_double_eq_tol(w.r[k].size_mib, 0.3, 1e-9);
    ck_assert_double_eq_tol(w.r[k].kl, 0.04, 1e-9);
    ck_assert_int_eq(w.r[k].bits, 4);
    ck_assert_int_eq(w.r[k].group, 128);
    ck_assert_int_eq(w.r[k].n_chunks, 3);
    /* export */
    char prefix[1024];
    snprintf(prefix, sizeof prefix, "%s", tu_tmpfile("export"));
    ck_assert_int_eq(vm_runs_export(&w, prefix, &err), 0);
    char p[1100], line[512];
    snprintf(p, sizeof p, "%s.csv", prefix);
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    int lines = 0;
    while (fgets(line, sizeof line, f))
        lines++;
    fclose(f);
    ck_assert_int_eq(lines, 1 + w.n);
    snprintf(p, sizeof p, "%s.json", prefix);
    results_store_init(&s);
    ck_assert_int_eq(results_load(&s, p, &err), 0);
    ck_assert_int_eq(s.n, w.n);
    results_store_free(&s);
    snprintf(p, sizeof p, "%s.md", prefix);
    f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_ptr_nonnull(strstr(line, "| Configuration |"));
    fclose(f);
    vm_runs_free(&v);
    vm_runs_free(&o);
    vm_runs_free(&w);
}
END_TEST

/* The Runs view labels its model as qlens sweep / quant and imports do
 * ("m", not "m.bin"), reads sessions written with the file name, and keeps
 * this model's entries it did not write. */
START_TEST(runs_label_joins_and_old_sessions)
{
    const char *path = tu_tmpfile("old-session.json");
    const char *text =
        "{\"schema\": \"qlens-results/1\", \"source\": \"qlens dashboard session\", \"results\": [\n"
        " {\"id\": \"m.bin/float (F32 weights)\", \"model\": \"m.bin\", \"method\": \"float\",\n"
        "  \"bits\": {\"w\": 16, \"a\": 16, \"kv\": 16}, \"ppl\": {\"eval\": 8.0},\n"
        "  \"settings\": {\"spec\": \"float (F32 weights)\", \"bpw\": 16}},\n"
        " {\"id\": \"m/lm-eval\", \"model\": \"m\", \"method\": \"none\", \"source\": \"lm-eval r.json\",\n"
        "  \"bits\": {\"w\": 16, \"a\": 16, \"kv\": 16},\n"
        "  \"benchmarks\": {\"hellaswag\": {\"value\": 0.3, \"unit\": \"fraction\"}}},\n"
        " {\"id\": \"m/RTN-w4\", \"model\": \"m\", \"method\": \"RTN\", \"source\": \"qlens sweep\",\n"
        "  \"bits\": {\"w\": 4, \"a\": 16, \"kv\": 16}, \"ppl\": {\"eval\": 9.5}},\n"
        /* a dashboard run an lm-eval import was joined into */
        " {\"id\": \"m/RTN w8 g128 asym\", \"model\": \"m\", \"method\": \"RTN\",\n"
        "  \"source\": \"qlens dashboard run\", \"group_size\": 128,\n"
        "  \"bits\": {\"w\": 8, \"a\": 16, \"kv\": 16}, \"ppl\": {\"eval\": 7.9, \"wiki\": 12.5},\n"
        "  \"benchmarks\": {\"hellaswag\": {\"value\": 0.31, \"unit\": \"fraction\"}},\n"
        "  \"settings\": {\"spec\": \"RTN w8 g128 asym\", \"bpw\": 8.35}}]}\n";
    tu_write_file(path, text, strlen(text));
    struct vm_runs v;
    vm_runs_init(&v, "m.bin", "eval", path);
    ck_assert_str_eq(v.model, "m");
    struct qerr err;
    qerr_clear(&err);
    ck_assert_msg(vm_runs_load(&v, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(v.n, 2); /* the dashboard runs only */
    ck_assert_double_eq_tol(v.r[0].ppl, 8.0, 1e-12);
    struct jobs_run r = mkrun("RTN", "RTN w8 g128 asym", 8, 0.3, 8.01, 8.0);
    vm_runs_add(&v, &r); /* a rerun replaces the run */
    ck_assert_int_eq(v.n, 2);
    ck_assert_msg(vm_runs_save(&v, &err) == 0, "%s", err.msg);
    struct results_store s;
    results_store_init(&s);
    ck_assert_msg(results_load(&s, path, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s.n, 4); /* 2 dashboard runs + lm-eval + sweep entry */
    for (int i = 0; i < s.n; i++)
        ck_assert_str_eq(s.e[i].model, "m"); /* the old label moved */
    int k = results_find(&s, "m/RTN w8 g128 asym");
    ck_assert_int_ge(k, 0);
    /* the rerun's perplexity, the joined benchmark and other dataset kept */
    ck_assert_ptr_nonnull(results_entry_ppl(&s.e[k], "eval"));
    ck_assert_ptr_nonnull(results_entry_ppl(&s.e[k], "wiki"));
    ck_assert_double_eq_tol(results_entry_ppl(&s.e[k], "eval")->value, 8.01, 1e-9);
    ck_assert_double_eq_tol(results_entry_ppl(&s.e[k], "wiki")->value, 12.5, 1e-9);
    ck_assert_ptr_nonnull(results_entry_bench(&s.e[k], "hellaswag"));
    ck_assert_double_eq_tol(results_entry_bench(&s.e[k], "hellaswag")->value, 0.31, 1e-9);
    results_store_free(&s);
    struct vm_runs w;
    vm_runs_init(&w, "dir/m.bin", "eval", path);
    ck_assert_int_eq(vm_runs_load(&w, &err), 0);
    ck_assert_int_eq(w.n, 2);
    vm_runs_delete(&w, 0);
    vm_runs_delete(&w, 0);
    ck_assert_int_eq(vm_runs_save(&w, &err), 0);
    results_store_init(&s);
    ck_assert_int_eq(results_load(&s, path, &err), 0);
    ck_assert_int_eq(s.n, 2); /* deleting runs leaves the others alone */
    results_store_free(&s);
    vm_runs_free(&v);
    vm_runs_free(&w);
}
END_TEST

/* Plans in the Runs view: the entries `qlens plan --measure --out` writes
 * (their fields as plan_measure.c names them) become rows of their model;
 * the float and uniform entries of the same store, and other models'
 * plans, do not; a save keeps the plan's entry as it is; deleting the row
 * drops it at the next save, undo keeps it; the Plan view's own plan is a
 * dashboard run written back with "plan": true. */
#define PLAN_SPEC "plan 2.999 bpw (rtn:3:row x17, rtn:2:row x10, rtn:4:row x8)"
START_TEST(runs_plan_entries)
{
    const char *path = tu_tmpfile("plan-session.json");
    const char *text =
        "{\"schema\": \"qlens-results/1\", \"source\": \"qlens 0.1 plan\", \"results\": [\n"
        " {\"id\": \"m/float\", \"model\": \"m\", \"method\": \"float\", \"source\": \"qlens 0.1 plan\",\n"
        "  \"bits\": {\"w\": 16, \"a\": 16, \"kv\": 16}, \"ppl\": {\"eval\": 6.8966}},\n"
        " {\"id\": \"m/RTN w3 g32 asym\", \"model\": \"m\", \"method\": \"rtn\",\n"
        "  \"source\": \"qlens 0.1 plan\", \"group_size\": 32,\n"
        "  \"bits\": {\"w\": 3, \"a\": 16, \"kv\": 16}, \"ppl\": {\"eval\": 18.3},\n"
        "  \"settings\": {\"spec\": \"RTN w3 g32 asym\", \"bits_per_weight\": 3.61}},\n"
        " {\"id\": \"m/plan 3 bpw\", \"model\": \"m\", \"method\": \"plan\", \"source\": \"qlens 0.1 plan\",\n"
        "  \"bits\": {\"w\": 3, \"a\": 16, \"kv\": 16}, \"memory_gb\": 0.0001,\n"
        "  \"ppl\": {\"eval\": {\"value\": 55.07, \"stderr\": 2.5}},\n"
        "  \"settings\": {\"spec\": \"" PLAN_SPEC "\", \"bits_per_weight\": 2.9993,\n"
        "   \"size_mib\": 0.1, \"kl_mean\": 2.1475, \"kl_p99\": 8.153, \"top1\": 0.2686,\n"
        "   \"delta_ppl_pct\": 698.5, \"ctx\": 256, \"chunks\": 8, \"sequential\": false,\n"
        "   \"plan\": true, \"target_bpw\": 3, \"predicted_kl\": 1.8, \"sens\": \"s.json\",\n"
        "   \"tensor_types\": \"blk.0.attn_q=rtn:2:row\"}},\n"
        " {\"id\": \"o/plan 3 bpw\", \"model\": \"o\", \"method\": \"plan\", \"source\": \"qlens 0.1 plan\",\n"
        "  \"bits\": {\"w\": 3, \"a\": 16, \"kv\": 16}, \"ppl\": {\"eval\": 9.0},\n"
        "  \"settings\": {\"spec\": \"plan 3.000 bpw (q3_k x7)\", \"plan\": true}}]}\n";
    tu_write_file(path, text, strlen(text));
    struct vm_runs v;
    struct qerr err;
    qerr_clear(&err);
    vm_runs_init(&v, "m.gguf", "eval", path);
    ck_assert_msg(vm_runs_load(&v, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(v.n, 1); /* m's plan only */
    const struct jobs_run *r = &v.r[0];
    ck_assert_str_eq(r->method, "plan");
    ck_assert_str_eq(r->ext_id, "m/plan 3 bpw");
    ck_assert_str_eq(r->spec, PLAN_SPEC);
    ck_assert_int_eq(r->bits, 3);
    ck_assert_double_eq_tol(r->bpw, 2.9993, 1e-12);
    ck_assert_double_eq_tol(r->size_mib, 0.1, 1e-12);
    ck_assert_double_eq_tol(r->ppl, 55.07, 1e-12);
    ck_assert_double_eq_tol(r->ppl_se, 2.5, 1e-12);
    ck_assert_double_eq_tol(r->kl, 2.1475, 1e-12);
    ck_assert_double_eq_tol(r->top1, 0.2686, 1e-12);
    ck_assert_int_eq(r->n_ctx, 256);
    ck_assert_int_eq(r->n_chunks, 8);
    ck_assert_double_eq_tol(vm_runs_dppl(&v, 0), 698.5, 1e-9); /* from its own KL pass */
    char c[64];
    vm_runs_cell(&v, 0, VR_SPEC, c, sizeof c);
    ck_assert_msg(!strncmp(c, "plan 2.999 bpw", 14), "%s", c);
    vm_runs_cell(&v, 0, VR_GROUP, c, sizeof c);
    ck_assert_str_eq(c, "-");
    vm_runs_cell(&v, 0, VR_KL, c, sizeof c);
    ck_assert_str_eq(c, "2.1475");
    vm_runs_cell(&v, 0, VR_TIME, c, sizeof c);
    ck_assert_str_eq(c, "-");
    unsigned char front[4];
    vm_runs_pareto(&v, front);
    ck_assert_int_eq(front[0], 1);

    /* the Plan view's plan of the same assignment, measured here: a row of
     * its own beside the store's (whose entry stays the command's) */
    struct jobs_run mine = mkrun("plan", PLAN_SPEC, 3, 0.1, 54.0, 6.9);
    mine.bpw = 2.9993;
    mine.n_ctx = 512;
    ck_assert_int_eq(vm_runs_add(&v, &mine), 0);
    ck_assert_int_eq(v.n, 2);
    ck_assert_msg(vm_runs_save(&v, &err) == 0, "%s", err.msg);
    struct results_store s;
    results_store_init(&s);
    ck_assert_msg(results_load(&s, path, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s.n, 5);
    int k = results_find(&s, "m/plan 3 bpw");
    ck_assert_int_ge(k, 0);
    ck_assert_str_eq(s.e[k].source, "qlens 0.1 plan"); /* kept as it is */
    ck_assert_ptr_nonnull(strstr(s.e[k].settings_json, "tensor_types"));
    int own = -1;
    for (int i = 0; i < s.n; i++)
        if (!strcmp(s.e[i].source, "qlens dashboard run"))
            own = i;
    ck_assert_int_ge(own, 0);
    ck_assert_str_eq(s.e[own].method, "plan");
    ck_assert_ptr_nonnull(strstr(s.e[own].settings_json, "\"plan\":true"));
    results_store_free(&s);

    /* read back: both plans, the dashboard's one a plan run too */
    struct vm_runs w;
    vm_runs_init(&w, "m.gguf", "eval", path);
    ck_assert_msg(vm_runs_load(&w, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(w.n, 2);
    int ext = w.r[0].ext_id[0] ? 0 : 1;
    ck_assert_str_eq(w.r[ext].ext_id, "m/plan 3 bpw");
    ck_assert_str_eq(w.r[1 - ext].method, "plan");
    ck_assert_str_eq(w.r[1 - ext].ext_id, "");
    ck_assert_double_eq_tol(w.r[1 - ext].bpw, 2.9993, 1e-12);

    /* delete the command's plan, undo, delete again: dropped at save */
    struct jobs_run undo = w.r[ext];
    vm_runs_delete(&w, ext);
    ck_assert_int_eq(vm_runs_add(&w, &undo), 0);
    ck_assert_int_eq(w.n_gone, 0);
    ck_assert_msg(vm_runs_save(&w, &err) == 0, "%s", err.msg);
    results_store_init(&s);
    ck_assert_int_eq(results_load(&s, path, &err), 0);
    ck_assert_int_ge(results_find(&s, "m/plan 3 bpw"), 0);
    results_store_free(&s);
    for (int i = 0; i < w.n; i++)
        if (w.r[i].ext_id[0])
            vm_runs_delete(&w, i);
    ck_assert_int_eq(w.n, 1);
    ck_assert_msg(vm_runs_save(&w, &err) == 0, "%s", err.msg);
    results_store_init(&s);
    ck_assert_int_eq(results_load(&s, path, &err), 0);
    ck_assert_int_eq(s.n, 4);
    ck_assert_int_lt(results_find(&s, "m/plan 3 bpw"), 0);
    ck_assert_int_ge(results_find(&s, "o/plan 3 bpw"), 0); /* another model's: kept */
    ck_assert_int_ge(results_find(&s, "m/float"), 0);
    results_store_free(&s);
    vm_runs_free(&v);
    vm_runs_free(&w);
}
END_TEST

START_TEST(runs_bad_session_file)
{
    const char *path = tu_tmpfile("bad.json");
    tu_write_file(path, "{\"schema\": 3", 12);
    struct vm_runs v;
    vm_runs_init(&v, "m.bin", "eval", path);
    struct qerr err;
    qerr_clear(&err);
    ck_assert_int_lt(vm_runs_load(&v, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "bad.json"));
    vm_runs_free(&v);
    /* QLENS_SESSION on a FIFO or a device: refused at once (a FIFO used to
     * block the dashboard's start, /dev/zero to fill the memory) */
    const char *fifo = tu_tmpfile("session.fifo");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    const char *bad[2] = {fifo, "/dev/zero"};
    for (int k = 0; k < 2; k++) {
        vm_runs_init(&v, "m.bin", "eval", bad[k]);
        ck_assert_int_lt(vm_runs_load(&v, &err), 0);
        ck_assert_msg(strstr(err.msg, "not a regular file"), "%s", err.msg);
        ck_assert_int_lt(vm_runs_save(&v, &err), 0);
        vm_runs_free(&v);
    }
}
END_TEST

/* A session with more runs than the dashboard keeps is never rewritten
 * with fewer: loading says so, saving is refused, the file keeps all. */
START_TEST(runs_over_the_cap_never_dropped)
{
    const char *path = tu_tmpfile("big-session.json");
    struct results_store s;
    struct qerr err;
    results_store_init(&s);
    for (int i = 0; i < VM_RUNS_MAX + 88; i++) {
        struct results_entry e;
        results_entry_init(&e);
        snprintf(e.id, sizeof e.id, "m/RTN w4 g%d", i + 1);
        snprintf(e.model, sizeof e.model, "m");
        snprintf(e.method, sizeof e.method, "RTN");
        snprintf(e.source, sizeof e.source, "qlens dashboard run");
        e.w_bits = 4;
        e.group_size = i + 1;
        char js[64];
        snprintf(js, sizeof js, "{\"spec\":\"RTN w4 g%d\"}", i + 1);
        ck_assert_int_eq(results_entry_set_settings(&e, js, &err), 0);
        ck_assert_int_eq(results_entry_set_ppl(&e, "eval", 10 + i, NAN, &err), 0);
        ck_assert_int_eq(results_add_entry(&s, &e, &err), 0);
        results_entry_free(&e);
    }
    ck_assert_int_eq(results_save(&s, path, &err), 0);
    results_store_free(&s);
    struct vm_runs v;
    vm_runs_init(&v, "m.bin", "eval", path);
    ck_assert_int_lt(vm_runs_load(&v, &err), 0);
    ck_assert_msg(strstr(err.msg, "600 runs") && strstr(err.msg, "will not be saved"), "%s",
                  err.msg);
    ck_assert_int_eq(v.n, VM_RUNS_MAX);
    ck_assert_int_eq(v.n_over, 88);
    vm_runs_delete(&v, 0);
    ck_assert_int_lt(vm_runs_save(&v, &err), 0);
    ck_assert_msg(strstr(err.msg, "not saved"), "%s", err.msg);
    results_store_init(&s);
    ck_assert_int_eq(results_load(&s, path, &err), 0);
    ck_assert_int_eq(s.n, VM_RUNS_MAX + 88);
    results_store_free(&s);
    vm_runs_free(&v);
}
END_TEST

/* Export: a failed save leaves the previous export (it was deleted before
 * the save); CSV text fields double a quote. */
START_TEST(runs_export_atomic_and_quoted)
{
    struct vm_runs v;
    struct qerr err;
    vm_runs_init(&v, "dir/m\"q.bin", "eval", "");
    fill(&v);
    char prefix[1024], p[1100];
    snprintf(prefix, sizeof prefix, "%s", tu_tmpfile("exp"));
    snprintf(p, sizeof p, "%s.json", prefix);
    ck_assert_int_eq(tu_write_file(p, "old export\n", 11), 0);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit keep, rl;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &keep), 0);
    rl = keep;
    rl.rlim_cur = 100;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    int rc = vm_runs_export(&v, prefix, &err);
    setrlimit(RLIMIT_FSIZE, &keep);
    ck_assert_int_lt(rc, 0);
    char buf[64] = "";
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(buf, sizeof buf, f));
    fclose(f);
    ck_assert_str_eq(buf, "old export\n");
    ck_assert_int_eq(vm_runs_export(&v, prefix, &err), 0);
    snprintf(p, sizeof p, "%s.csv", prefix);
    f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    fclose(f);
    ck_assert_msg(!strncmp(line, "\"m\"\"q\",", 7), "%s", line);
    vm_runs_free(&v);
}
END_TEST

/* Display fields beyond int (n_ctx 1e300): saturated, no undefined
 * double -> int cast (UBSan aborted the loader here). */
START_TEST(runs_session_numbers_beyond_int)
{
    const char *txt =
        "{\"schema\":\"qlens-results/1\",\"results\":[{\"id\":\"m/x\",\"model\":\"m\","
        "\"method\":\"RTN\",\"bits\":{\"w\":4,\"a\":16,\"kv\":16},"
        "\"source\":\"qlens dashboard run\",\"ppl\":{\"eval\":9.5},"
        "\"settings\":{\"spec\":\"x\",\"n_ctx\":1e300,\"n_chunks\":-1e300,\"sym\":1e999}}]}";
    struct vm_runs v;
    struct qerr err;
    vm_runs_init(&v, "m.bin", "eval", "");
    ck_assert_int_eq(vm_runs_parse(&v, txt, "s.json", &err), 0);
    ck_assert_int_eq(v.n, 1);
    ck_assert_int_eq(v.r[0].n_ctx, INT_MAX);
    ck_assert_int_eq(v.r[0].n_chunks, 0);
    ck_assert_int_eq(v.r[0].sym, 1);
    vm_runs_free(&v);
}
END_TEST

/* ---- correlation ---- */

static void add_entry(struct results_store *s, const char *model, int bits, double ppl, double acc)
{
    struct results_entry e;
    struct qerr err;
    results_entry_init(&e);
    snprintf(e.model, sizeof e.model, "%s", model);
    snprintf(e.method, sizeof e.method, "RTN");
    e.w_bits = bits;
    results_entry_set_ppl(&e, "wikitext2", ppl, NAN, &err);
    if (!isnan(acc))
        results_entry_set_bench(&e, "mmlu", acc, "acc", "percent", NAN, &err);
    ck_assert_int_eq(results_add_entry(s, &e, &err), 0);
    results_entry_free(&e);
}

START_TEST(corr_empty_and_degenerate)
{
    struct vm_corr v;
    vm_corr_init(&v);
    vm_corr_compute(&v);
    ck_assert_int_lt(v.rc, 0);
    ck_assert(strlen(v.msg) > 0);
    struct results_store s;
    results_store_init(&s);
    add_entry(&s, "A", 4, 10, 50);
    add_entry(&s, "A", 8, 9, 55);
    ck_assert_int_eq(vm_corr_set_store(&v, &s), 0);
    ck_assert_int_eq(v.n, 2);
    ck_assert_int_lt(v.rc, 0); /* fewer than 3 pairs */
    vm_corr_free(&v);
}
END_TEST

/* y / x step to the next variable that has pairs under the filters. */
START_TEST(corr_step_skips_empty_variables)
{
    struct results_store s;
    results_store_init(&s);
    struct qerr err;
    /* Model P: benchmarks p1..p5 only; model Q: benchmark "q" only. */
    for (int i = 0; i < 4; i++) {
        struct results_entry e;
        results_entry_init(&e);
        snprintf(e.model, sizeof e.model, "P");
        snprintf(e.method, sizeof e.method, "RTN");
        e.w_bits = 2 + i;
        results_entry_set_ppl(&e, "wikitext2", 10 + i, NAN, &err);
        for (int b = 1; b <= 5; b++) {
            char name[16];
            snprintf(name, sizeof name, "p%d", b);
            results_entry_set_bench(&e, name, 30 + i * b, "acc", "percent", NAN, &err);
        }
        ck_assert_int_eq(results_add_entry(&s, &e, &err), 0);
        results_entry_free(&e);
        results_entry_init(&e);
        snprintf(e.model, sizeof e.model, "Q");
        snprintf(e.method, sizeof e.method, "RTN");
        e.w_bits = 2 + i;
        results_entry_set_ppl(&e, "wikitext2", 20 + i, NAN, &err);
        results_entry_set_bench(&e, "q", 40 - i, "acc", "percent", NAN, &err);
        ck_assert_int_eq(results_add_entry(&s, &e, &err), 0);
        results_entry_free(&e);
    }
    struct vm_corr v;
    vm_corr_init(&v);
    ck_assert_int_eq(vm_corr_set_store(&v, &s), 0);
    ck_assert_int_eq(vm_corr_set_where(&v, "model=Q", &err), 0);
    /* From any benchmark, y reaches "q" in one step: p1..p5 have no pairs. */
    v.y = vm_corr_var(&v, "p1");
    vm_corr_step(&v, 1, 1);
    ck_assert_str_eq(v.vars[v.y], "q");
    ck_assert_int_eq(v.n, 4);
    ck_assert_int_eq(v.rc, 0);
    vm_corr_step(&v, 1, -1); /* backwards skips them too (wraps to ppl/bits) */
    ck_assert(strncmp(v.vars[v.y], "p", 1) != 0 || !strcmp(v.vars[v.y], "ppl_mean") ||
              !strncmp(v.vars[v.y], "ppl.", 4));
    ck_assert_int_ge((int)v.n, 3);
    /* Nothing has pairs: a plain step. */
    ck_assert_int_eq(vm_corr_set_where(&v, "model=nobody", &err), 0);
    int y0 = v.y;
    vm_corr_step(&v, 1, 1);
    ck_assert_int_eq(v.y, (y0 + 1) % v.n_vars);
    vm_corr_free(&v);
}
END_TEST

START_TEST(corr_variables_filter_and_r)
{
    struct results_store s;
    results_store_init(&s);
    add_entry(&s, "A", 2, 40, 20);
    add_entry(&s, "A", 3, 20, 40);
    add_entry(&s, "A", 4, 10, 50);
    add_entry(&s, "A", 8, 9, 51);
    add_entry(&s, "B", 4, 12, NAN); /* no benchmark: dropped from pairs */
    add_entry(&s, "B", 2, 30, 25);
    add_entry(&s, "B", 3, 15, 45);
    add_entry(&s, "B", 8, 11, 48);
    struct vm_corr v;
    vm_corr_init(&v);
    ck_assert_int_eq(vm_corr_set_store(&v, &s), 0);
    ck_assert_int_eq(s.n, 0); /* ownership moved */
    ck_assert_int_ge(vm_corr_var(&v, "ppl.wikitext2"), 0);
    ck_assert_int_ge(vm_corr_var(&v, "bits"), 0);
    ck_assert_int_eq(vm_corr_var(&v, "mmlu"), v.n_bench_from);
    ck_assert_str_eq(v.vars[v.x], "ppl_mean");
    ck_assert_str_eq(v.vars[v.y], "mmlu");
    ck_assert_int_eq(v.n, 7);
    ck_assert_int_eq(v.rc, 0);
    ck_assert(v.res.r < -0.8); /* higher perplexity, lower accuracy */
    ck_assert_int_eq(v.n_fam, 3); /* all, A, B */
    v.f = 1;
    vm_corr_compute(&v);
    ck_assert_int_eq(v.n, 4);
    struct corr_result r;
    ck_assert_int_eq(vm_corr_pair(&v, v.x, v.y, &r), 0);
    ck_assert_double_eq_tol(r.r, v.res.r, 1e-12);
    ck_assert_int_lt(vm_corr_pair(&v, -1, 0, &r), 0);
    /* where-expression: bits 3..8 of every model */
    v.f = 0;
    struct qerr err;
    ck_assert_int_eq(vm_corr_set_where(&v, "bits=3..8", &err), 0);
    ck_assert_int_eq(v.n, 5);
    ck_assert_int_lt(vm_corr_set_where(&v, "bits=", &err), 0); /* syntax error keeps it */
    ck_assert_int_eq(v.n, 5);
    ck_assert_str_eq(v.where_text, "bits=3..8");
    ck_assert_int_eq(vm_corr_set_where(&v, "", &err), 0);
    ck_assert_int_eq(v.n, 7);
    vm_corr_free(&v);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ui_runs");
    TCase *tc = tcase_create("quant");
    tcase_add_test(tc, quant_settings_cycle);
    tcase_add_test(tc, quant_option_switch_toggles);
    tcase_add_test(tc, quant_command);
    tcase_add_test(tc, runs_storage_note);
    tcase_add_test(tc, runs_keyed_by_context);
    tcase_add_test(tc, corr_family_names);
    tcase_add_test(tc, quant_apply_matches_registry);
    tcase_add_test(tc, quant_scope_levels_match_rtn);
    tcase_add_test(tc, quant_apply_errors);
    tcase_add_test(tc, quant_grid_counts);
    tcase_add_test(tc, quant_copy_result_is_deep);
    suite_add_tcase(s, tc);
    tc = tcase_create("runs");
    tcase_add_test(tc, runs_empty);
    tcase_add_test(tc, runs_table_dppl_pareto);
    tcase_add_test(tc, runs_session_roundtrip_and_export);
    tcase_add_test(tc, runs_label_joins_and_old_sessions);
    tcase_add_test(tc, runs_plan_entries);
    tcase_add_test(tc, runs_bad_session_file);
    tcase_add_test(tc, runs_session_numbers_beyond_int);
    tcase_add_test(tc, runs_over_the_cap_never_dropped);
    tcase_add_test(tc, runs_export_atomic_and_quoted);
    suite_add_tcase(s, tc);
    tc = tcase_create("corr");
    tcase_add_test(tc, corr_empty_and_degenerate);
    tcase_add_test(tc, corr_variables_filter_and_r);
    tcase_add_test(tc, corr_step_skips_empty_variables);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
