/* check_mdiv: layer-wise divergence (src/mdiv.h).
 * Degenerate pairs and labels first; then: a model compared with itself
 * gives rel 0 and cos 1 exactly and KL 0; on a tiny generated model with
 * perturbed weights and an activation hook, every row equals a plain
 * reference (blocks through the public forward API, linear outputs by
 * double loops, measures by their definitions) and the KL equals
 * ppl_run's; on stories260K, GPTQ / RTN orderings hold. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant.h"
#include "src/forward.h"
#include "src/mdiv.h"
#include "src/model.h"
#include "src/ppl.h"
#include "src/qrun.h"
#include "tests/testutil.h"

/* ---- degenerate ---- */

START_TEST(test_pair)
{
    float z[3] = {0, 0, 0}, a[2] = {1, 0}, b[2] = {1, 1}, c[2] = {-2, 0};
    double rel, cos, e2, f2;
    mdiv_pair(z, z, 3, &rel, &cos, &e2, &f2);
    ck_assert(rel == 0 && cos == 1 && e2 == 0 && f2 == 0);
    mdiv_pair(z, a, 2, &rel, &cos, &e2, &f2); /* float zero, quantized not */
    ck_assert(rel == 1 && cos == 0 && e2 == 1);
    mdiv_pair(a, z, 2, &rel, &cos, &e2, &f2);
    ck_assert(rel == 1 && cos == 0);
    mdiv_pair(a, b, 2, &rel, &cos, &e2, &f2);
    ck_assert_double_eq_tol(rel, 1.0, 1e-15);
    ck_assert_double_eq_tol(cos, 1 / sqrt(2.0), 1e-15);
    mdiv_pair(a, c, 2, &rel, &cos, &e2, &f2);
    ck_assert_double_eq_tol(rel, 3.0, 1e-15);
    ck_assert_double_eq_tol(cos, -1.0, 1e-15);
    mdiv_pair(a, a, 0, &rel, &cos, &e2, &f2); /* no components */
    ck_assert(rel == 0 && cos == 1);
}
END_TEST

START_TEST(test_rows_index)
{
    ck_assert_int_eq(mdiv_row_index(0, QR_ATTN_Q), 0);
    ck_assert_int_eq(mdiv_row_index(0, QR_FFN_DOWN), 6);
    ck_assert_int_eq(mdiv_row_index(0, QR_OTHER), 7);
    ck_assert_int_eq(mdiv_row_index(2, QR_ATTN_OUT), 2 * MDIV_PER_LAYER + 3);
    ck_assert_int_eq(mdiv_row_index(1, QR_ATTN_NORM), -1);
}
END_TEST

START_TEST(test_parse_config)
{
    struct quant_spec s;
    struct qerr err = {0};
    int act, kv, ch;
    ck_assert_int_eq(mdiv_parse_config("GPTQ w2 g128 sym damp=0.02", &s, &act, &kv, &ch, &err), 0);
    ck_assert_str_eq(s.method->name, "GPTQ");
    ck_assert(s.bits == 2 && s.group == 128 && s.sym == 1 && act == 0 && kv == 0);
    ck_assert_int_eq(mdiv_parse_config("RTN w4 per-channel asym a8 kv4-channel", &s, &act, &kv,
                                       &ch, &err), 0);
    ck_assert(s.bits == 4 && s.group == 0 && s.sym == 0 && act == 8 && kv == 4 && ch == 1);
    ck_assert_int_eq(mdiv_parse_config("RTN w3 per-tensor sym kv8", &s, &act, &kv, &ch, &err), 0);
    ck_assert(s.group == -1 && kv == 8 && ch == 0);
    /* a W8A8 method without an " aA" part: the dashboard's default (8) */
    ck_assert_int_eq(mdiv_parse_config("SmoothQuant w8 per-channel sym", &s, &act, &kv, &ch,
                                       &err), 0);
    ck_assert_int_eq(act, 8);
    ck_assert_int_eq(mdiv_parse_config("float (F32 weights)", &s, &act, &kv, &ch, &err), QERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "float"));
    ck_assert_int_lt(mdiv_parse_config("", &s, &act, &kv, &ch, &err), 0);
    ck_assert_int_lt(mdiv_parse_config(NULL, &s, &act, &kv, &ch, &err), 0);
    ck_assert_int_lt(mdiv_parse_config("nosuch w4", &s, &act, &kv, &ch, &err), 0);
    ck_assert_int_lt(mdiv_parse_config("RTN w4 zzz", &s, &act, &kv, &ch, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "zzz"));
    ck_assert_int_lt(mdiv_parse_config("RTN w", &s, &act, &kv, &ch, &err), 0);
    ck_assert_int_lt(mdiv_parse_config("RTN w4x", &s, &act, &kv, &ch, &err), 0);
    ck_assert_int_lt(mdiv_parse_config("RTN w99", &s, &act, &kv, &ch, &err), 0);
}
END_TEST

/* ---- the tiny generated model ---- */

static struct qmodel TM;
static struct fwd TF;
#define T_CTX 16
#define T_CHUNKS 3
static int TOKS[T_CTX * T_CHUNKS + 5];

static void tiny_setup(void)
{
    const char *path = tu_tmpfile("mdiv-tiny.gguf");
    tu_genmodel(path, "--format gguf --dim 32 --hidden 48 --layers 2 --heads 4 --kv-heads 2 "
                "--vocab 64 --ctx 64 --seed 11");
    struct qerr err = {0};
    ck_assert_msg(qmodel_open(&TM, path, &err) == 0, "%s", err.msg);
    ck_assert_msg(fwd_init(&TF, &TM, T_CTX, &err) == 0, "%s", err.msg);
    tu_seed(5);
    for (size_t i = 0; i < sizeof TOKS / sizeof TOKS[0]; i++)
        TOKS[i] = (int)(tu_uniform() * 64);
}

static void tiny_teardown(void)
{
    fwd_free(&TF);
    qmodel_close(&TM);
}

/* "Quantized" = every linear plus noise of 5 % of its RMS (any override
 * is a candidate model for the comparison). */
static void perturb(struct qmodel *m, double frac)
{
    tu_seed(9);
    for (int i = 0; i < m->n_tensors; i++) {
        struct qtensor *t = &m->tensors[i];
        if (!qrole_is_linear(t->role) || t->role == QR_OUTPUT || t->role == QR_TOK_EMBD)
            continue;
        const float *w = qtensor_f32_orig(t);
        double ss = 0;
        for (int64_t k = 0; k < t->nelem; k++)
            ss += (double)w[k] * w[k];
        double sd = frac * sqrt(ss / t->nelem);
        float *o = malloc((size_t)t->nelem * sizeof *o);
        for (int64_t k = 0; k < t->nelem; k++)
            o[k] = (float)(w[k] + sd * tu_normal());
        qtensor_set_override(t, o);
    }
}

/* An activation "fake quant" on every linear input: round to 1/256. */
static int round_hook(void *ud, int layer, enum qrole role, float *x, int n, int in)
{
    (void)ud, (void)layer, (void)role;
    for (size_t i = 0; i < (size_t)n * in; i++)
        x[i] = roundf(x[i] * 256) / 256;
    return 0;
}

static int cancel_now(void *ud, int done, int total)
{
    (void)ud, (void)done, (void)total;
    return 1;
}

/* Reference: every row's per-token values by definition. */
struct ref_row {
    double rel_sum[2], cos_sum[2], rel_max[2];
};
struct refcap {
    const struct fwd_hooks *inner;
    float *x[4]; /* (T_CTX, in) */
};
static int refcap_hook(void *ud, int layer, enum qrole role, float *x, int n, int in)
{
    struct refcap *c = ud;
    if (c->inner)
        c->inner->linear_in(NULL, layer, role, x, n, in);
    int s = role == QR_ATTN_Q ? 0 : role == QR_ATTN_OUT ? 1 : role == QR_FFN_GATE ? 2
          : role == QR_FFN_DOWN ? 3 : -1;
    if (s >= 0 && layer >= 0)
        memcpy(c->x[s], x, (size_t)n * in * sizeof(float));
    return 0;
}

static void ref_measure(struct ref_row *r, int mode, const double *yf, const double *yq, int d)
{
    double ff = 0, qq = 0, fq = 0, ee = 0;
    for (int j = 0; j < d; j++) {
        ff += yf[j] * yf[j];
        qq += yq[j] * yq[j];
        fq += yf[j] * yq[j];
        ee += (yq[j] - yf[j]) * (yq[j] - yf[j]);
    }
    /* the definitions' edge cases (mdiv.h) */
    double rel = ff > 0 ? sqrt(ee / ff) : ee > 0 ? 1 : 0;
    double cos = ff > 0 && qq > 0 ? fq / sqrt(ff * qq) : ff == qq ? 1 : 0;
    r->rel_sum[mode] += rel;
    r->cos_sum[mode] += cos;
    r->rel_max[mode] = rel > r->rel_max[mode] ? rel : r->rel_max[mode];
}

/* y (d) = x (in) Wᵀ row by row in double. */
static void ref_linear(const float *W, const float *x, int in, int out, double *y)
{
    for (int o = 0; o < out; o++) {
        double s = 0;
        for (int c = 0; c < in; c++)
            s += (double)x[c] * W[(size_t)o * in + c];
        y[o] = s;
    }
}

static void ref_run(struct ref_row *rows, const struct fwd_hooks *hq)
{
    struct fwd *f = &TF;
    int dim = TM.cfg.dim, hid = TM.cfg.hidden_dim, first = T_CTX / 2;
    int ins[4] = {dim, f->q_dim, dim, hid};
    float xf[T_CTX * 64], xq[T_CTX * 64], xl[T_CTX * 64], xin[T_CTX * 64];
    static float cf[4][T_CTX * 64], cq[4][T_CTX * 64], ca[T_CTX * 64];
    double yf[64], yq[64], yl[64];
    for (int c = 0; c < T_CHUNKS; c++) {
        const int *tk = TOKS + c * T_CTX;
        fwd_use_overrides(f, 0);
        ck_assert_int_eq(fwd_embed(f, tk, T_CTX, xf), 0);
        memcpy(xq, xf, sizeof xf); /* no quantized embedding */
        for (int l = 0; l < TM.cfg.n_layers; l++) {
            memcpy(xin, xf, sizeof xf);
            struct refcap rf = {NULL, {cf[0], cf[1], cf[2], cf[3]}};
            struct refcap rq = {hq, {cq[0], cq[1], cq[2], cq[3]}};
            struct fwd_hooks hf = {&rf, refcap_hook, NULL}, hqq = {&rq, refcap_hook, NULL};
            fwd_use_overrides(f, 0);
            ck_assert_int_eq(fwd_block(f, l, xf, T_CTX, &hf), 0);
            fwd_use_overrides(f, 1);
            ck_assert_int_eq(fwd_block(f, l, xq, T_CTX, &hqq), 0);
            memcpy(xl, xin, sizeof xin);
            ck_assert_int_eq(fwd_block(f, l, xl, T_CTX, hq), 0);
            const struct fwd_layer *L = &f->layers[l];
            struct qtensor *ts[7] = {L->wq, L->wk, L->wv, L->wo, L->w1, L->w3, L->w2};
            int slot[7] = {0, 0, 0, 1, 2, 2, 3};
            for (int k = 0; k < 7; k++) {
                int s = slot[k], in = ins[s], out = (int)qtensor_rows(ts[k]);
                for (int t = first; t < T_CTX - 1; t++) {
                    memcpy(ca, cf[s] + t * in, (size_t)in * sizeof(float));
                    if (hq)
                        hq->linear_in(NULL, l, QR_ATTN_Q, ca, 1, in);
                    ref_linear(qtensor_f32_orig(ts[k]), cf[s] + t * in, in, out, yf);
                    ref_linear(qtensor_f32(ts[k]), cq[s] + t * in, in, out, yq);
                    ref_linear(qtensor_f32(ts[k]), ca, in, out, yl);
                    ref_measure(&rows[l * 8 + k], 0, yf, yq, out);
                    ref_measure(&rows[l * 8 + k], 1, yf, yl, out);
                }
            }
            for (int t = first; t < T_CTX - 1; t++) {
                double bf[64], bq[64], bl[64];
                for (int j = 0; j < dim; j++) {
                    bf[j] = xf[t * dim + j];
                    bq[j] = xq[t * dim + j];
                    bl[j] = xl[t * dim + j];
                }
                ref_measure(&rows[l * 8 + 7], 0, bf, bq, dim);
                ref_measure(&rows[l * 8 + 7], 1, bf, bl, dim);
            }
        }
    }
}

static void compare_ref(const struct fwd_hooks *hq)
{
    struct mdiv_opts o = {.n_ctx = T_CTX, .bos = -1, .hooks = hq};
    struct mdiv_result r;
    struct qerr err = {0};
    ck_assert_msg(mdiv_run(&TF, TOKS, sizeof TOKS / sizeof TOKS[0], &o, &r, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(r.n_chunks, T_CHUNKS);
    size_t n = (size_t)T_CHUNKS * (T_CTX / 2 - 1);
    ck_assert_uint_eq(r.n_scored, n);
    ck_assert_int_eq(r.n_rows, TM.cfg.n_layers * 8 + 1);
    struct ref_row ref[2 * 8];
    memset(ref, 0, sizeof ref);
    ref_run(ref, hq);
    for (int i = 0; i < TM.cfg.n_layers * 8; i++)
        for (int m = 0; m < 2; m++) {
            const struct mdiv_stat *s = &r.rows[i].s[m];
            double rm = ref[i].rel_sum[m] / n, cm = ref[i].cos_sum[m] / n;
            ck_assert_msg(rm > 1e-3, "%s: the perturbation shows (%g)", r.rows[i].name, rm);
            ck_assert_msg(fabs(s->rel_mean - rm) < 1e-5 * rm, "%s mode %d: rel %.9g vs ref %.9g",
                          r.rows[i].name, m, s->rel_mean, rm);
            ck_assert_msg(fabs(s->rel_max - ref[i].rel_max[m]) < 1e-5 * ref[i].rel_max[m],
                          "%s: max %.9g vs %.9g", r.rows[i].name, s->rel_max, ref[i].rel_max[m]);
            ck_assert_msg(fabs(s->cos_mean - cm) < 1e-6, "%s mode %d: cos %.9g vs ref %.9g",
                          r.rows[i].name, m, s->cos_mean, cm);
            ck_assert(s->rel_p99 <= s->rel_max && s->rel_p99 > 0);
            ck_assert(s->cos_min <= s->cos_mean);
        }
    /* the same input both ways: layer 0's q, k, v and the block (the
     * embedding is not quantized) */
    for (int k = 0; k < 8; k += k == 2 ? 5 : 1)
        ck_assert_msg(r.rows[k].s[MDIV_ACC].rel_mean == r.rows[k].s[MDIV_LOCAL].rel_mean,
                      "%s: %.17g vs %.17g", r.rows[k].name, r.rows[k].s[MDIV_ACC].rel_mean,
                      r.rows[k].s[MDIV_LOCAL].rel_mean);
    /* KL as ppl_run measures it on the same chunks */
    struct ppl_opts po = {.n_ctx = T_CTX, .kl = 1, .bos = -1, .hooks = hq, .max_workers = 1};
    struct ppl_result pr;
    ck_assert_msg(ppl_run(&TF, TOKS, sizeof TOKS / sizeof TOKS[0], &po, &pr, &err) == 0, "%s",
                  err.msg);
    ck_assert_uint_eq(pr.n_scored, n);
    ck_assert_msg(fabs(pr.kld.mean - r.kld.mean) <= 1e-6 * pr.kld.mean && r.kld.mean > 0,
                  "KL %.9g vs ppl %.9g", r.kld.mean, pr.kld.mean);
    ck_assert_double_eq_tol(pr.top1, r.top1, 1e-12);
    mdiv_free(&r);
}

START_TEST(test_tiny_reference)
{
    perturb(&TM, 0.05);
    compare_ref(NULL);
    struct fwd_hooks h = {NULL, round_hook, NULL};
    compare_ref(&h);
    qmodel_clear_overrides(&TM);
}
END_TEST

START_TEST(test_tiny_identity)
{
    qmodel_clear_overrides(&TM);
    struct mdiv_opts o = {.n_ctx = T_CTX, .bos = -1};
    struct mdiv_result r;
    struct qerr err = {0};
    ck_assert_msg(mdiv_run(&TF, TOKS, sizeof TOKS / sizeof TOKS[0], &o, &r, &err) == 0, "%s",
                  err.msg);
    for (int i = 0; i < r.n_rows; i++)
        for (int m = 0; m < 2; m++) {
            const struct mdiv_stat *s = &r.rows[i].s[m];
            ck_assert_msg(s->rel_mean == 0 && s->rel_max == 0 && s->rel_p99 == 0 &&
                          s->rel_all == 0, "%s: rel %g", r.rows[i].name, s->rel_mean);
            ck_assert_msg(s->cos_mean == 1 && s->cos_min == 1, "%s: cos %.17g",
                          r.rows[i].name, s->cos_mean);
            ck_assert(!r.rows[i].quantized);
        }
    ck_assert(r.kld.mean == 0 && r.kld.max == 0 && r.top1 == 1);
    mdiv_free(&r);
}
END_TEST

/* Leave-one-out KL: with one tensor perturbed, putting it back gives the
 * float model (KL exactly 0), so its delta is the whole KL; tensors
 * without an override are not measured; the overrides are untouched. */
START_TEST(test_tiny_kl_attrib)
{
    qmodel_clear_overrides(&TM);
    struct mdiv_opts o = {.n_ctx = T_CTX, .bos = -1, .kl_cache_mib = 16};
    struct mdiv_result r;
    struct qerr err = {0};
    ck_assert_int_eq(mdiv_run(&TF, TOKS, sizeof TOKS / sizeof TOKS[0], &o, &r, &err), 0);
    ck_assert_int_eq(mdiv_kl_attrib(&TF, TOKS, sizeof TOKS / sizeof TOKS[0], &o, &r, &err), 0);
    int idx[64];
    ck_assert(r.kl_attrib && mdiv_rank_kl(&r, idx, 64) == 0); /* nothing quantized */
    mdiv_free(&r);

    struct qtensor *t = TF.layers[1].w2; /* blk.1.ffn_down alone */
    const float *w = qtensor_f32_orig(t);
    float *ov = malloc((size_t)t->nelem * sizeof *ov);
    for (int64_t k = 0; k < t->nelem; k++)
        ov[k] = w[k] * (k % 3 ? 1.1f : 0.8f);
    qtensor_set_override(t, ov);
    for (int pass = 0; pass < 2; pass++) { /* with and without the logits cache */
        o.kl_cache_mib = pass ? 0 : 16;
        ck_assert_int_eq(mdiv_run(&TF, TOKS, sizeof TOKS / sizeof TOKS[0], &o, &r, &err), 0);
        ck_assert_int_eq(mdiv_kl_attrib(&TF, TOKS, sizeof TOKS / sizeof TOKS[0], &o, &r, &err), 0);
        ck_assert_ptr_eq(t->override, ov);
        int row = mdiv_row_index(1, QR_FFN_DOWN);
        ck_assert(r.kld.mean > 0);
        ck_assert_msg(r.rows[row].kl_without == 0, "%g", r.rows[row].kl_without);
        ck_assert_double_eq_tol(r.rows[row].kl_delta, r.kld.mean, 1e-7 * r.kld.mean);
        ck_assert_int_eq(mdiv_rank_kl(&r, idx, 64), 1);
        ck_assert_int_eq(idx[0], row);
        for (int i = 0; i < r.n_rows; i++)
            if (i != row)
                ck_assert(isnan(r.rows[i].kl_delta));
        mdiv_free(&r);
    }
    /* every linear perturbed: deltas ranked, overrides kept */
    perturb(&TM, 0.05);
    o.kl_cache_mib = 16;
    ck_assert_int_eq(mdiv_run(&TF, TOKS, sizeof TOKS / sizeof TOKS[0], &o, &r, &err), 0);
    ck_assert_int_eq(mdiv_kl_attrib(&TF, TOKS, sizeof TOKS / sizeof TOKS[0], &o, &r, &err), 0);
    int n = mdiv_rank_kl(&r, idx, 64);
    ck_assert_int_eq(n, 14);
    for (int k = 0; k < n; k++) {
        const struct mdiv_row *w2 = &r.rows[idx[k]];
        ck_assert(w2->kl_without >= 0 && isfinite(w2->kl_delta));
        ck_assert_double_eq_tol(w2->kl_delta + w2->kl_without, r.kld.mean, 1e-9);
        if (k)
            ck_assert(r.rows[idx[k - 1]].kl_delta >= w2->kl_delta);
    }
    for (int i = 0; i < TM.n_tensors; i++)
        if (TM.tensors[i].role == QR_ATTN_Q)
            ck_assert_ptr_nonnull(TM.tensors[i].override);
    /* cancel from the progress callback */
    o.kl_progress = cancel_now;
    ck_assert_int_eq(mdiv_kl_attrib(&TF, TOKS, sizeof TOKS / sizeof TOKS[0], &o, &r, &err),
                     QERR_CANCEL);
    ck_assert(!r.kl_attrib);
    mdiv_free(&r);
    qmodel_clear_overrides(&TM);
}
END_TEST

START_TEST(test_tiny_bad_input)
{
    struct mdiv_result r;
    struct qerr err = {0};
    struct mdiv_opts o = {.n_ctx = 7, .bos = -1};
    ck_assert_int_eq(mdiv_run(&TF, TOKS, 40, &o, &r, &err), QERR_ARG); /* odd */
    o.n_ctx = 2 * T_CTX;
    ck_assert_int_eq(mdiv_run(&TF, TOKS, 40, &o, &r, &err), QERR_ARG); /* too long */
    o.n_ctx = T_CTX;
    ck_assert_int_eq(mdiv_run(&TF, TOKS, T_CTX - 1, &o, &r, &err), QERR_ARG); /* no chunk */
    ck_assert_ptr_nonnull(strstr(err.msg, "chunk"));
    int bad[T_CTX];
    for (int i = 0; i < T_CTX; i++)
        bad[i] = 1000; /* outside the vocabulary */
    ck_assert_int_lt(mdiv_run(&TF, bad, T_CTX, &o, &r, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "vocabulary"));
    mdiv_free(&r);
    volatile int cancel = 1;
    o.cancel = &cancel;
    ck_assert_int_eq(mdiv_run(&TF, TOKS, T_CTX * 2, &o, &r, &err), QERR_CANCEL);
    mdiv_free(&r);
}
END_TEST

/* ---- stories260K through the pipeline ---- */

static double run_cfg(const char *method, int bits, struct mdiv_result *r)
{
    struct pipe_opts po;
    pipe_opts_default(&po);
    po.ctx = 128;
    po.chunks = 8;
    po.calib_ctx = 128;
    po.calib_chunks = 8;
    po.out_err = 0;
    struct pipe_env e;
    struct qerr err = {0};
    ck_assert_msg(pipe_setup(&e, tu_shared("models/stories260K.bin"), &po, NULL, &err) == 0,
                  "%s", err.msg);
    struct quant_spec s;
    ck_assert_int_eq(quant_spec_parse(&s, method, bits, QUANT_GROUP_DEFAULT, -1, NULL, &err), 0);
    struct qrun run;
    memset(&run, 0, sizeof run);
    ck_assert_msg(mdiv_pipe_run(&e, &po, &s, 0, 0, NULL, &run, r, &err) == 0, "%s", err.msg);
    for (int i = 0; i < e.mp->n_tensors; i++) /* overrides removed */
        ck_assert_ptr_null(e.mp->tensors[i].override);
    qrun_free(&run);
    pipe_teardown(&e);
    return r->kld.mean;
}

START_TEST(test_stories_orderings)
{
    struct mdiv_result r8, r4, g2;
    double k8 = run_cfg("rtn", 8, &r8), k4 = run_cfg("rtn", 4, &r4), kg = run_cfg("gptq", 2, &g2);
    ck_assert_msg(k8 < 0.005 && k8 < k4 && k4 < kg, "KL rtn8 %g rtn4 %g gptq2 %g", k8, k4, kg);
    int last = mdiv_row_index(r8.n_layers - 1, QR_OTHER);
    for (int i = 0; i < r8.n_rows; i++) { /* 8 bits: near zero everywhere */
        ck_assert_msg(r8.rows[i].s[MDIV_ACC].rel_mean < 0.05, "%s: %g", r8.rows[i].name,
                      r8.rows[i].s[MDIV_ACC].rel_mean);
        ck_assert(r8.rows[i].s[MDIV_ACC].cos_mean > 0.999);
        if (r8.rows[i].kind == MDIV_LINEAR)
            ck_assert(r8.rows[i].quantized && r4.rows[i].quantized);
    }
    /* the error grows with depth: the last block's accumulated error is
     * larger than the first's, and larger than its own local error */
    ck_assert(r4.rows[last].s[MDIV_ACC].rel_mean > r4.rows[7].s[MDIV_ACC].rel_mean);
    ck_assert(r4.rows[last].s[MDIV_ACC].rel_mean > r4.rows[last].s[MDIV_LOCAL].rel_mean);
    ck_assert(g2.rows[last].s[MDIV_ACC].rel_mean > r4.rows[last].s[MDIV_ACC].rel_mean);
    int idx[64];
    int n = mdiv_rank_linears(&r4, idx, 64);
    ck_assert_int_eq(n, r4.n_layers * 7);
    for (int k = 1; k < n; k++)
        ck_assert(r4.rows[idx[k - 1]].s[MDIV_LOCAL].rel_mean >=
                  r4.rows[idx[k]].s[MDIV_LOCAL].rel_mean);
    mdiv_free(&r8);
    mdiv_free(&r4);
    mdiv_free(&g2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mdiv");
    TCase *d = tcase_create("degenerate");
    tcase_add_test(d, test_pair);
    tcase_add_test(d, test_rows_index);
    tcase_add_test(d, test_parse_config);
    suite_add_tcase(s, d);
    TCase *t = tcase_create("tiny");
    tcase_add_checked_fixture(t, tiny_setup, tiny_teardown);
    tcase_add_test(t, test_tiny_identity);
    tcase_add_test(t, test_tiny_bad_input);
    tcase_add_test(t, test_tiny_reference);
    tcase_add_test(t, test_tiny_kl_attrib);
    suite_add_tcase(s, t);
    TCase *m = tcase_create("stories260K");
    tcase_set_timeout(m, 240);
    tcase_add_test(m, test_stories_orderings);
    suite_add_tcase(s, m);
    return tu_run(s);
}
