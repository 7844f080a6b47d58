/* check_qrun: whole-model quantization on the real stories260K: degenerate
 * input, RTN 8-bit is near lossless, GPTQ beats RTN at 3 bits, cancel,
 * scale folding keeps the float function, W8A8 / KV runs, and the
 * calibration / evaluation texts do not overlap. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant.h"
#include "src/calib.h"
#include "src/forward.h"
#include "src/model.h"
#include "src/ppl.h"
#include "src/qrun.h"
#include "src/tokenizer.h"
#include "tests/testutil.h"

/* Small but real: 8 calibration chunks of 128 tokens, 6 evaluation
 * chunks of 256 tokens (kept short so the suite stays fast). */
#define CALIB_CTX 128
#define CALIB_CHUNKS 8
#define EVAL_CTX 256
#define EVAL_CHUNKS 6

static struct qmodel M;
static struct tokenizer *TOK;
static struct fwd F;
static int *CAL, *EV;
static size_t N_CAL, N_EV;

static char *read_file(const char *path, size_t max, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path ? path : "(null)");
    char *b = malloc(max + 1);
    *n = fread(b, 1, max, f);
    b[*n] = '\0';
    fclose(f);
    return b;
}

static void tokenize(const char *rel, size_t max, int **ids, size_t *n)
{
    size_t len;
    char *text = read_file(tu_shared(rel), max, &len);
    while (len > 0 && ((unsigned char)text[len - 1] & 0xC0) == 0x80) /* cut at a char start */
        len--;
    if (len > 0 && (unsigned char)text[len - 1] >= 0xC0)
        len--;
    struct qerr err = {0};
    ck_assert_msg(tok_encode(TOK, text, len, 1, ids, n, &err) == 0, "%s", err.msg);
    free(text);
}

static void setup(void)
{
    struct qerr err = {0};
    const char *path = tu_shared("models/stories260K.bin");
    ck_assert_msg(path != NULL, "stories260K.bin not found: set QLENS_SHARED");
    ck_assert_msg(qmodel_open(&M, path, &err) == 0, "%s", err.msg);
    ck_assert_msg(tok_load_for_model(&TOK, &M, &err) == 0, "%s", err.msg);
    ck_assert_msg(fwd_init(&F, &M, EVAL_CTX, &err) == 0, "%s", err.msg);
    tokenize("data/tinystories-calib.txt", 12000, &CAL, &N_CAL);
    tokenize("data/tinystories-eval.txt", 18000, &EV, &N_EV);
    ck_assert_uint_ge(N_CAL, (size_t)CALIB_CTX * CALIB_CHUNKS);
    ck_assert_uint_ge(N_EV, (size_t)EVAL_CTX * EVAL_CHUNKS);
}

static void teardown(void)
{
    fwd_free(&F);
    tok_free(TOK);
    qmodel_close(&M);
    free(CAL);
    free(EV);
}

static void opts(struct qrun_opts *o, const char *method, int bits, int group)
{
    struct qerr err = {0};
    qrun_opts_default(o);
    ck_assert_msg(quant_spec_parse(&o->spec, method, bits, group, -1, NULL, &err) == 0, "%s",
                  err.msg);
    o->calib_ctx = CALIB_CTX;
    o->calib_chunks = CALIB_CHUNKS;
    o->bos = tok_bos(TOK);
}

/* Quantize with o, evaluate against float (KL mode), leave no overrides. */
static void run(const struct qrun_opts *o, struct ppl_result *pr, struct qrun *r)
{
    struct qerr err = {0};
    qmodel_clear_overrides(&M);
    ck_assert_msg(qrun_quantize(r, &F, CAL, N_CAL, o, &err) == 0, "%s", err.msg);
    struct fwd_hooks h;
    qrun_eval_hooks(r, &h);
    struct ppl_opts po = {.n_ctx = EVAL_CTX, .max_chunks = EVAL_CHUNKS, .kl = 1,
                          .bos = tok_bos(TOK), .hooks = &h};
    ck_assert_msg(ppl_run(&F, EV, N_EV, &po, pr, &err) == 0, "%s", err.msg);
    qmodel_clear_overrides(&M);
}

/* An F16 model quantizes from tiles converted per tensor: the overrides
 * equal, bit for bit, those made from whole cached float copies, and no
 * float copy of a matrix is left behind (RTN, and GPTQ with its shared
 * Hessians and the layer-output error on). */
START_TEST(test_f16_no_float_copies)
{
    const char *path = tu_tmpfile("qrun-f16.gguf");
    tu_genmodel(path, "--format gguf --dim 64 --hidden 96 --layers 2 --heads 4 --kv-heads 2 "
                "--vocab 512 --ctx 256 --seed 3 --dtype f16");
    const char *methods[2] = {"rtn", "gptq"};
    for (int k = 0; k < 2; k++) {
        struct qmodel a, c;
        struct fwd fa, fc;
        struct qerr err = {0};
        ck_assert_int_eq(qmodel_open(&a, path, &err), 0);
        ck_assert_int_eq(qmodel_open(&c, path, &err), 0);
        for (int i = 0; i < c.n_tensors; i++)
            ck_assert_ptr_nonnull(qtensor_f32_orig(&c.tensors[i]));
        ck_assert_int_eq(fwd_init(&fa, &a, CALIB_CTX, &err), 0);
        ck_assert_int_eq(fwd_init(&fc, &c, CALIB_CTX, &err), 0);
        struct qrun_opts o;
        opts(&o, methods[k], 4, 32);
        o.calib_chunks = 2;
        struct qrun ra, rc;
        ck_assert_msg(qrun_quantize(&ra, &fa, CAL, N_CAL, &o, &err) == 0, "%s", err.msg);
        ck_assert_msg(qrun_quantize(&rc, &fc, CAL, N_CAL, &o, &err) == 0, "%s", err.msg);
        int n_over = 0;
        for (int i = 0; i < a.n_tensors; i++) {
            struct qtensor *ta = &a.tensors[i], *tc = &c.tensors[i];
            if (ta->ndim == 2)
                ck_assert_msg(ta->f32 == NULL, "%s: float copy kept", ta->name);
            ck_assert((ta->override == NULL) == (tc->override == NULL));
            if (ta->override) {
                n_over++;
                ck_assert_msg(!memcmp(ta->override, tc->override, (size_t)ta->nelem * 4),
                              "%s %s differs", methods[k], ta->name);
            }
        }
        ck_assert_int_eq(n_over, 14); /* 7 linears x 2 layers */
        ck_assert_int_eq(ra.n_t, rc.n_t);
        for (int i = 0; i < ra.n_t; i++)
            ck_assert(ra.t[i].rep.out_err == rc.t[i].rep.out_err &&
                      (k == 0 || ra.t[i].rep.out_err >= 0)); /* RTN: no calibration */
        qrun_free(&ra);
        qrun_free(&rc);
        fwd_free(&fa);
        fwd_free(&fc);
        qmodel_close(&a);
        qmodel_close(&c);
    }
}
END_TEST

/* ---- degenerate input ---- */

START_TEST(test_overlap_degenerate)
{
    ck_assert_int_eq(qrun_text_overlap("", 0, "", 0, 4), -1);
    ck_assert_int_eq(qrun_text_overlap("abc", 3, "abc", 3, 0), -1);
    ck_assert_int_eq(qrun_text_overlap("abc", 3, "abc", 3, 4), -1);   /* window too long */
    ck_assert_int_eq(qrun_text_overlap("abcd", 4, "abcd", 4, 4), 0);
    ck_assert_int_eq(qrun_text_overlap("xxabcdyy", 8, "0123abcd", 8, 4), 4);
    ck_assert_int_eq(qrun_text_overlap("abcd", 4, "abcx", 4, 4), -1);
    /* a window straddling the end of a is not a match */
    ck_assert_int_eq(qrun_text_overlap("zzab", 4, "abcd", 4, 3), -1);
    /* repetitive text stays linear (identical windows are stored once) */
    size_t n = 200000;
    char *x = malloc(n), *y = malloc(n);
    memset(x, 'x', n);
    memset(y, 'y', n);
    ck_assert_int_eq(qrun_text_overlap(x, n, y, n, 200), -1);
    y[n - 1] = 'x';
    ck_assert_int_eq(qrun_text_overlap(x, n, y, n, 200), -1);
    memset(y + n - 200, 'x', 200);
    ck_assert_int_eq(qrun_text_overlap(x, n, y, n, 200), (long)(n - 200));
    free(x);
    free(y);
}
END_TEST

/* The shared calibration and evaluation texts share no 200-byte window. */
START_TEST(test_shared_texts_disjoint)
{
    size_t na, nb;
    char *a = read_file(tu_shared("data/tinystories-calib.txt"), 1 << 22, &na);
    char *b = read_file(tu_shared("data/tinystories-eval.txt"), 1 << 22, &nb);
    ck_assert_uint_gt(na, 10000);
    ck_assert_uint_gt(nb, 10000);
    ck_assert_int_eq(qrun_text_overlap(a, na, b, nb, 200), -1);
    /* and the check does find a planted copy */
    memcpy(b + 5000, a + 1234, 200);
    ck_assert_int_eq(qrun_text_overlap(a, na, b, nb, 200), 5000);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_bad_options)
{
    struct qrun r;
    struct qrun_opts o;
    struct qerr err = {0};
    qrun_opts_default(&o);
    ck_assert_int_eq(qrun_quantize(&r, &F, CAL, N_CAL, &o, &err), QERR_ARG); /* no method */
    qrun_free(&r);
    opts(&o, "gptq", 4, 128);
    ck_assert_int_eq(qrun_quantize(&r, &F, CAL, 50, &o, &err), QERR_FORMAT); /* < one chunk */
    ck_assert_msg(strstr(err.msg, "too short") != NULL, "%s", err.msg);
    qrun_free(&r);
    o.calib_ctx = EVAL_CTX * 2; /* beyond the forward context */
    ck_assert_int_eq(qrun_quantize(&r, &F, CAL, N_CAL, &o, &err), QERR_ARG);
    qrun_free(&r);
    ck_assert_ptr_null(M.tensors[0].override);
}
END_TEST

/* bits 16: weights stay float, nothing quantized, the model is unchanged */
START_TEST(test_float_weights)
{
    struct qrun r;
    struct qrun_opts o;
    struct ppl_result p;
    opts(&o, "rtn", 4, 128);
    o.spec.bits = 16;
    run(&o, &p, &r);
    ck_assert_int_eq(r.n_t, 0);
    ck_assert_int_eq((int)r.n_quant, 0);
    ck_assert_double_eq_tol(p.ppl, p.base_ppl, 1e-9);
    ck_assert_double_eq_tol(p.kld.max, 0.0, 1e-9);
    ck_assert_double_eq_tol(qrun_size_mib(&r), qrun_size_mib_float(&r), 1e-12);
    qrun_free(&r);
}
END_TEST

/* ---- the findings ---- */

START_TEST(test_rtn8_near_lossless)
{
    struct qrun r;
    struct qrun_opts o;
    struct ppl_result p;
    opts(&o, "rtn", 8, 128);
    run(&o, &p, &r);
    ck_assert_int_eq(r.n_t, 5 * 7); /* every linear of every block, nothing else */
    ck_assert_int_eq((int)r.n_quant, 5 * (64 * 64 * 2 + 32 * 64 * 2 + 172 * 64 * 3));
    double dppl = fabs(p.ppl / p.base_ppl - 1);
    ck_assert_msg(dppl < 0.01, "RTN 8-bit changes PPL by %.3f%%", 100 * dppl);
    ck_assert_msg(p.kld.mean < 0.005, "RTN 8-bit KL %g", p.kld.mean);
    ck_assert_msg(p.top1 > 0.95, "top-1 %g", p.top1);
    double bpw = qrun_bits_per_weight(&r);
    ck_assert_msg(bpw > 8.0 && bpw < 8.6, "bits/weight %g", bpw);
    ck_assert(qrun_size_mib(&r) < qrun_size_mib_float(&r) * 0.65);
    for (int i = 0; i < r.n_t; i++) /* overrides were installed and reported */
        ck_assert_msg(r.t[i].rep.sqnr_db > 35, "%s SQNR %g", r.t[i].name, r.t[i].rep.sqnr_db);
    qrun_free(&r);
}
END_TEST

START_TEST(test_gptq_beats_rtn_3bit)
{
    struct qrun r;
    struct qrun_opts o;
    struct ppl_result pr, pg;
    opts(&o, "rtn", 3, 128);
    run(&o, &pr, &r);
    qrun_free(&r);
    opts(&o, "gptq", 3, 128);
    run(&o, &pg, &r);
    ck_assert_double_eq_tol(pg.base_ppl, pr.base_ppl, 1e-9); /* same float baseline */
    ck_assert_msg(pg.kld.mean < 0.8 * pr.kld.mean, "KL GPTQ %g vs RTN %g", pg.kld.mean,
                  pr.kld.mean);
    ck_assert_msg(pg.ppl < pr.ppl, "PPL GPTQ %g vs RTN %g", pg.ppl, pr.ppl);
    ck_assert_msg(pg.top1 > pr.top1, "top-1 GPTQ %g vs RTN %g", pg.top1, pr.top1);
    ck_assert_int_eq(r.n_chunks, CALIB_CHUNKS);
    ck_assert(r.calib_seconds > 0);
    for (int i = 0; i < r.n_t; i++) /* GPTQ had a Hessian: output errors exist */
        ck_assert_msg(r.t[i].rep.out_err >= 0 && r.t[i].rep.out_err < 1, "%s", r.t[i].name);
    qrun_free(&r);
}
END_TEST

/* Errors fall as bits rise, for the same method, over the whole model. */
START_TEST(test_bits_monotone)
{
    double kl_prev = -1;
    for (int bits = 8; bits >= 3; bits -= 5) {
        struct qrun r;
        struct qrun_opts o;
        struct ppl_result p;
        opts(&o, "gptq", bits, 0);
        o.sequential = 0; /* also exercises the per-block capture */
        run(&o, &p, &r);
        ck_assert(isfinite(p.ppl));
        ck_assert_msg(p.kld.mean > kl_prev, "KL %g at %d bits vs %g", p.kld.mean, bits, kl_prev);
        kl_prev = p.kld.mean;
        qrun_free(&r);
    }
}
END_TEST

/* ---- each layer calibrates on the outputs of the quantized ones ---- */

struct seen {
    double *xtx[4];                /* layer 1's four sites, copied */
    int dim[4];
};

static int keep_layer1(void *ud, int layer, int site, const struct calib_acc *a)
{
    struct seen *s = ud;
    if (layer == 1 && site >= 0 && site < 4) {
        size_t n = (size_t)a->dim * a->dim;
        s->xtx[site] = malloc(n * sizeof(double));
        memcpy(s->xtx[site], a->xtx, n * sizeof(double));
        s->dim[site] = a->dim;
    }
    return 0;
}

/* The Hessians of layer 1 recomputed directly: calibration chunks through
 * the (now fully quantized) block 0, then block 1 with capture hooks. */
static void reference_layer1(struct calib *c)
{
    struct qerr err = {0};
    struct fwd_hooks h;
    ck_assert_int_eq(calib_init(c, &M.cfg, &err), 0);
    ck_assert_int_eq(calib_select(c, 1, -1, CALIB_HESSIAN), 0);
    calib_hooks(c, &h);
    float *x = malloc((size_t)CALIB_CTX * M.cfg.dim * sizeof(float));
    int *buf = malloc(CALIB_CTX * sizeof(int));
    fwd_use_overrides(&F, 1);
    for (int ch = 0; ch < CALIB_CHUNKS; ch++) {
        memcpy(buf, CAL + (size_t)ch * CALIB_CTX, CALIB_CTX * sizeof(int));
        buf[0] = tok_bos(TOK);
        ck_assert_int_eq(fwd_embed(&F, buf, CALIB_CTX, x), 0);
        ck_assert_int_eq(fwd_block(&F, 0, x, CALIB_CTX, NULL), 0);
        ck_assert_int_eq(fwd_block(&F, 1, x, CALIB_CTX, &h), 0);
    }
    free(x);
    free(buf);
}

static double rel_diff(const double *a, const double *b, int dim)
{
    double d = 0, m = 0;
    for (size_t i = 0; i < (size_t)dim * dim; i++) {
        d = fmax(d, fabs(a[i] - b[i]));
        m = fmax(m, fabs(b[i]));
    }
    return d / m;
}

/* Sequential mode: every site of layer 1 was captured with everything
 * before it quantized, so the fully quantized model reproduces each
 * Hessian.  Per-block mode captured attn_output's input with float q/k/v,
 * so that one differs (its attn_in, fed only by block 0, still matches). */
START_TEST(test_sequential_calibration)
{
    for (int seq = 1; seq >= 0; seq--) {
        struct seen sn;
        memset(&sn, 0, sizeof sn);
        struct qrun r;
        struct qrun_opts o;
        struct qerr err = {0};
        struct calib c;
        opts(&o, "gptq", 3, 0);
        o.sequential = seq;
        o.on_calib = keep_layer1;
        o.on_calib_ud = &sn;
        qmodel_clear_overrides(&M);
        ck_assert_msg(qrun_quantize(&r, &F, CAL, N_CAL, &o, &err) == 0, "%s", err.msg);
        reference_layer1(&c);
        for (int site = 0; site < 4; site++) {
            ck_assert_ptr_nonnull(sn.xtx[site]);
            double d = rel_diff(sn.xtx[site], calib_get(&c, 1, site)->xtx, sn.dim[site]);
            if (seq || site == CALIB_ATTN_IN)
                ck_assert_msg(d < 1e-6, "seq %d site %d differs by %g", seq, site, d);
            else
                ck_assert_msg(d > 1e-4, "per-block site %d matches the quantized model (%g)",
                              site, d);
            free(sn.xtx[site]);
        }
        calib_free(&c);
        qrun_free(&r);
        qmodel_clear_overrides(&M);
    }
}
END_TEST

/* ---- cancel ---- */

static int cancel_after_two(void *ud, int layer, int n_layers, const char *what)
{
    int *calls = ud;
    return ++*calls >= 2;
}

START_TEST(test_cancel)
{
    struct qrun r;
    struct qrun_opts o;
    struct qerr err = {0};
    volatile int flag = 1;
    opts(&o, "gptq", 4, 128);
    o.cancel = &flag;
    ck_assert_int_eq(qrun_quantize(&r, &F, CAL, N_CAL, &o, &err), QERR_CANCEL);
    qrun_free(&r);
    qmodel_clear_overrides(&M);
    int calls = 0;
    opts(&o, "gptq", 4, 128);
    o.progress = cancel_after_two;
    o.progress_ud = &calls;
    ck_assert_int_eq(qrun_quantize(&r, &F, CAL, N_CAL, &o, &err), QERR_CANCEL);
    ck_assert_int_eq(calls, 2);
    ck_assert_int_eq(r.n_t, 4); /* q, k, v, then o: stopped after the second step */
    qrun_free(&r);
    qmodel_clear_overrides(&M);
}
END_TEST

/* ---- phases (the dashboard's jobs panel) ---- */

struct phases {
    char log[64][64];
    int n, stop_at;
};

static int on_phase(void *ud, const char *phase, const char *what)
{
    struct phases *p = ud;
    if (p->n < 64)
        snprintf(p->log[p->n], sizeof p->log[0], "%s %s", phase, what);
    p->n++;
    return p->stop_at && p->n >= p->stop_at;
}

START_TEST(test_phases)
{
    struct qrun r;
    struct qrun_opts o;
    struct qerr err = {0};
    struct phases p = {0};
    /* GPTQ, true sequential: each step is calibrated, then quantized */
    opts(&o, "gptq", 4, 128);
    o.on_phase = on_phase;
    o.progress_ud = &p;
    ck_assert_msg(qrun_quantize(&r, &F, CAL, N_CAL, &o, &err) == 0, "%s", err.msg);
    int L = M.cfg.n_layers;
    ck_assert_int_eq(p.n, 1 + L * 4 * 2);
    ck_assert_str_eq(p.log[0], "calibrating token embeddings");
    ck_assert_str_eq(p.log[1], "calibrating blk.0.attn_q/k/v");
    ck_assert_str_eq(p.log[2], "quantizing blk.0.attn_q/k/v");
    ck_assert_str_eq(p.log[3], "calibrating blk.0.attn_output");
    ck_assert_str_eq(p.log[8], "quantizing blk.0.ffn_down");
    ck_assert_str_eq(p.log[9], "calibrating blk.1.attn_q/k/v");
    qrun_free(&r);
    qmodel_clear_overrides(&M);
    /* RTN: no calibration, one quantizing phase per step */
    memset(&p, 0, sizeof p);
    opts(&o, "rtn", 4, 32);
    o.on_phase = on_phase;
    o.progress_ud = &p;
    ck_assert_msg(qrun_quantize(&r, &F, CAL, N_CAL, &o, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(p.n, L * 4);
    ck_assert_str_eq(p.log[0], "quantizing blk.0.attn_q/k/v");
    qrun_free(&r);
    qmodel_clear_overrides(&M);
    /* a nonzero return cancels before the work it announces */
    memset(&p, 0, sizeof p);
    p.stop_at = 3;
    opts(&o, "gptq", 4, 128);
    o.on_phase = on_phase;
    o.progress_ud = &p;
    ck_assert_int_eq(qrun_quantize(&r, &F, CAL, N_CAL, &o, &err), QERR_CANCEL);
    ck_assert_int_eq(p.n, 3);
    ck_assert_int_eq(r.n_t, 0); /* stopped before quantizing anything */
    qrun_free(&r);
    qmodel_clear_overrides(&M);
}
END_TEST

/* ---- per-tensor progress with an ETA ---- */

struct tprog {
    int calls, last_done, total, cancel_at, bad;
    double last_frac;
};

static int on_tensor(void *ud, const struct qrun_progress *p)
{
    struct tprog *t = ud;
    t->calls++;
    /* done counts up by one, frac grows within (0, 1], ETA known */
    t->bad |= p->done != t->last_done + 1 || p->frac <= t->last_frac || p->frac > 1.0 ||
              p->eta < 0 || p->elapsed < 0 || !p->name || !p->name[0];
    t->last_done = p->done;
    t->last_frac = p->frac;
    t->total = p->total;
    return t->cancel_at > 0 && t->calls >= t->cancel_at;
}

START_TEST(test_tensor_progress)
{
    const char *methods[] = {"rtn", "gptq", "awq"}; /* plain, per-tensor Hessian, stacked */
    for (int k = 0; k < 3; k++) {
        struct qrun r;
        struct qrun_opts o;
        struct qerr err = {0};
        struct tprog t = {0};
        opts(&o, methods[k], 4, 128);
        o.quant_output = 1;
        o.on_tensor = on_tensor;
        o.progress_ud = &t;
        ck_assert_msg(qrun_quantize(&r, &F, CAL, N_CAL, &o, &err) == 0, "%s", err.msg);
        int want = M.cfg.n_layers * 7 + 1;
        ck_assert_msg(!t.bad, "%s: progress out of order", methods[k]);
        ck_assert_int_eq(t.calls, want);
        ck_assert_int_eq(t.total, want);
        ck_assert_int_eq(r.n_t, want);
        ck_assert_double_eq_tol(t.last_frac, 1.0, 1e-9);
        qrun_free(&r);
        qmodel_clear_overrides(&M);
        struct tprog c = {.cancel_at = 5};
        o.progress_ud = &c;
        ck_assert_int_eq(qrun_quantize(&r, &F, CAL, N_CAL, &o, &err), QERR_CANCEL);
        ck_assert_int_eq(c.calls, 5);
        qrun_free(&r);
        qmodel_clear_overrides(&M);
    }
}
END_TEST

/* RTN on two threads (half the rows each, taken when out_err is off)
 * gives the overrides and errors of one thread. */
START_TEST(test_rtn_two_threads)
{
    int groups[2] = {32, 0};
    for (int g = 0; g < 2; g++) {
        struct qrun r;
        struct qrun_opts o;
        struct qerr err = {0};
        opts(&o, "rtn", 4, groups[g]);
        o.out_err = 1; /* one thread */
        qmodel_clear_overrides(&M);
        ck_assert_msg(qrun_quantize(&r, &F, CAL, N_CAL, &o, &err) == 0, "%s", err.msg);
        int n = r.n_t;
        float **one = calloc((size_t)n, sizeof *one);
        double *mse = calloc((size_t)n, sizeof *mse);
        for (int i = 0; i < n; i++) {
            struct qtensor *t = &M.tensors[qmodel_find(&M, r.t[i].name)];
            one[i] = malloc((size_t)t->nelem * sizeof(float));
            memcpy(one[i], qtensor_f32(t), (size_t)t->nelem * sizeof(float));
            mse[i] = r.t[i].rep.mse;
        }
        qrun_free(&r);
        qmodel_clear_overrides(&M);
        o.out_err = 0; /* rows split over two threads */
        ck_assert_msg(qrun_quantize(&r, &F, CAL, N_CAL, &o, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(r.n_t, n);
        for (int i = 0; i < n; i++) {
            struct qtensor *t = &M.tensors[qmodel_find(&M, r.t[i].name)];
            ck_assert_msg(!memcmp(one[i], qtensor_f32(t), (size_t)t->nelem * sizeof(float)),
                          "%s g%d: two threads differ", t->name, groups[g]);
            ck_assert_double_eq_tol(r.t[i].rep.mse, mse[i], 1e-12 * (1 + mse[i]));
            free(one[i]);
        }
        free(one);
        free(mse);
        qrun_free(&r);
        qmodel_clear_overrides(&M);
    }
}
END_TEST

/* ---- scale folding keeps the float function ---- */

static double max_logit_diff_after_fold(const char *method)
{
    struct qrun r;
    struct qrun_opts o;
    struct qerr err = {0};
    opts(&o, method, method[0] == 'a' ? 4 : 8, method[0] == 'a' ? 128 : 0);
    qmodel_clear_overrides(&M);
    ck_assert_msg(qrun_quantize(&r, &F, CAL, N_CAL, &o, &err) == 0, "%s", err.msg);
    ck_assert_ptr_nonnull(r.in_scale[0]); /* attn_in scales of layer 0 */
    ck_assert_ptr_nonnull(r.in_scale[2]); /* ffn_in */
    qmodel_clear_overrides(&M);           /* float weights, keep the scales */
    ck_assert_msg(qrun_fold_scales(&r, &err) == 0, "%s", err.msg);
    ck_assert_ptr_null(r.in_scale[0]);
    ck_assert_ptr_nonnull(qmodel_get(&M, 0, QR_ATTN_NORM)->override);
    int n = 64, v = M.cfg.vocab_size;
    float *a = malloc((size_t)n * v * sizeof(float)), *b = malloc((size_t)n * v * sizeof(float));
    fwd_use_overrides(&F, 0);
    ck_assert_int_eq(fwd_chunk(&F, EV, n, a, NULL), 0);
    fwd_use_overrides(&F, 1);
    ck_assert_int_eq(fwd_chunk(&F, EV, n, b, NULL), 0);
    double d = 0;
    for (size_t i = 0; i < (size_t)n * v; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    free(a);
    free(b);
    qrun_free(&r);
    qmodel_clear_overrides(&M);
    return d;
}

START_TEST(test_fold_keeps_function)
{
    double ds = max_logit_diff_after_fold("smoothquant");
    ck_assert_msg(ds < 1e-4, "SmoothQuant fold changes logits by %g", ds);
    double da = max_logit_diff_after_fold("awq");
    ck_assert_msg(da < 1e-4, "AWQ fold changes logits by %g", da);
}
END_TEST

/* W8A8 through the hooks (x' = s * Q(x/s)) equals W8A8 of the folded
 * model (norms / s, W * s, plain per-token quantization). */
START_TEST(test_w8a8_hook_equals_fold)
{
    struct qrun r;
    struct qrun_opts o;
    struct qerr err = {0};
    opts(&o, "smoothquant", 8, 0);
    o.act_bits = 8;
    qmodel_clear_overrides(&M);
    ck_assert_msg(qrun_quantize(&r, &F, CAL, N_CAL, &o, &err) == 0, "%s", err.msg);
    int n = 64, v = M.cfg.vocab_size;
    float *a = malloc((size_t)n * v * sizeof(float)), *b = malloc((size_t)n * v * sizeof(float));
    struct fwd_hooks h;
    qrun_eval_hooks(&r, &h);
    ck_assert_int_eq(fwd_chunk(&F, EV, n, a, &h), 0);
    ck_assert_msg(qrun_fold_scales(&r, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(fwd_chunk(&F, EV, n, b, &h), 0);
    double d = 0, mag = 0;
    for (size_t i = 0; i < (size_t)n * v; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        mag = fmax(mag, fabs((double)a[i]));
    }
    /* identical up to float rounding (measured 1.2e-5 on logits of scale 23) */
    ck_assert_msg(d < 1e-3, "hook vs fold differ by %g (logit scale %g)", d, mag);
    free(a);
    free(b);
    qrun_free(&r);
    qmodel_clear_overrides(&M);
}
END_TEST

/* ---- activations and KV cache ---- */

START_TEST(test_w8a8_and_kv)
{
    struct qrun r;
    struct qrun_opts o;
    struct ppl_result p8, pkv8, pkv4, pa4;
    opts(&o, "smoothquant", 8, 0);
    o.act_bits = 8;
    run(&o, &p8, &r);
    ck_assert_msg(fabs(p8.ppl / p8.base_ppl - 1) < 0.02, "W8A8 dPPL %g", p8.ppl / p8.base_ppl);
    qrun_free(&r);
    opts(&o, "rtn", 8, 0);
    o.spec.bits = 16;
    o.kv_bits = 8;
    run(&o, &pkv8, &r);
    ck_assert_msg(fabs(pkv8.ppl / pkv8.base_ppl - 1) < 0.02, "KV8 dPPL %g", pkv8.ppl / pkv8.base_ppl);
    ck_assert(pkv8.kld.mean > 0); /* the hook did act */
    qrun_free(&r);
    o.kv_bits = 4;
    run(&o, &pkv4, &r);
    ck_assert_msg(pkv4.kld.mean > 3 * pkv8.kld.mean, "KV4 KL %g vs KV8 %g", pkv4.kld.mean,
                  pkv8.kld.mean);
    qrun_free(&r);
    o.kv_bits = 0;
    o.act_bits = 4;
    run(&o, &pa4, &r);
    ck_assert_msg(pa4.kld.mean > 3 * p8.kld.mean, "A4 KL %g vs W8A8 %g", pa4.kld.mean, p8.kld.mean);
    qrun_free(&r);
}
END_TEST

/* The evaluation hooks only read the run: two chunks at a time
 * (hooks_mt) give exactly what one worker gives, with LLM.int8's
 * float-kept features, W8A8 and K per channel. */
START_TEST(test_eval_hooks_two_workers)
{
    struct qrun r;
    struct qrun_opts o;
    struct qerr err = {0};
    opts(&o, "llm.int8", 8, 0);
    o.act_bits = 8;
    o.kv_bits = 4;
    o.kv_axis = CALIB_PER_CHANNEL;
    qmodel_clear_overrides(&M);
    ck_assert_msg(qrun_quantize(&r, &F, CAL, N_CAL, &o, &err) == 0, "%s", err.msg);
    struct fwd_hooks h;
    qrun_eval_hooks(&r, &h);
    struct ppl_opts po = {.n_ctx = EVAL_CTX, .max_chunks = EVAL_CHUNKS, .kl = 1,
                          .bos = tok_bos(TOK), .hooks = &h, .max_workers = 1};
    struct ppl_result one, two;
    ck_assert_msg(ppl_run(&F, EV, N_EV, &po, &one, &err) == 0, "%s", err.msg);
    po.max_workers = 0;
    po.hooks_mt = 1;
    ck_assert_msg(ppl_run(&F, EV, N_EV, &po, &two, &err) == 0, "%s", err.msg);
    ck_assert(one.kld.mean > 0);
    ck_assert_double_eq(one.ppl, two.ppl);
    ck_assert_double_eq(one.kld.mean, two.kld.mean);
    ck_assert_double_eq(one.kld.max, two.kld.max);
    ck_assert_double_eq(one.top1, two.top1);
    qrun_free(&r);
    qmodel_clear_overrides(&M);
}
END_TEST

/* on_calib: keep a copy of the classifier input's (layer -1) calibration. */
struct out_calib {
    int seen, dim;
    long n_rows;
    double trace, sum_abs0;
};

static int keep_out_calib(void *ud, int layer, int site, const struct calib_acc *a)
{
    struct out_calib *oc = ud;
    if (layer >= 0)
        return 0;
    oc->seen++;
    oc->dim = a->dim;
    oc->n_rows = (long)a->n_rows;
    for (int j = 0; j < a->dim; j++)
        oc->trace += a->xtx[(size_t)j * a->dim + j];
    oc->sum_abs0 = a->sum_abs[0];
    return 0;
}

/* LLM.int8 and AWQ quantize q/k/v stacked: one set of side results per input. */
START_TEST(test_stacked_and_output)
{
    struct qrun r;
    struct qrun_opts o;
    struct qerr err = {0};
    struct out_calib oc = {0};
    opts(&o, "llm.int8", 8, 0);
    o.quant_output = 1;
    o.on_calib = keep_out_calib;
    o.on_calib_ud = &oc;
    qmodel_clear_overrides(&M);
    ck_assert_msg(qrun_quantize(&r, &F, CAL, N_CAL, &o, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(r.n_t, 5 * 7 + 1); /* + the tied classifier (token_embd) */
    ck_assert_str_eq(r.t[r.n_t - 1].name, "token_embd");
    ck_assert_ptr_nonnull(qmodel_get(&M, -1, QR_TOK_EMBD)->override);
    for (int i = 0; i < 3; i++) /* q, k, v: same outlier-feature count */
        ck_assert_int_eq(r.t[i].rep.n_outlier_features, r.t[0].rep.n_outlier_features);
    ck_assert(r.quantized[5 * 4]); /* the classifier input site */
    /* its calibration saw every row of every chunk (the pass stops at the
     * classifier's input, after capturing it) */
    ck_assert_int_eq(oc.seen, 1);
    ck_assert_int_eq(oc.n_rows, (long)r.n_chunks * r.ctx);
    ck_assert(oc.trace > 0 && isfinite(oc.trace));
    ck_assert(oc.sum_abs0 > 0);
    qrun_free(&r);
    qmodel_clear_overrides(&M);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("qrun");
    TCase *d = tcase_create("degenerate");
    tcase_add_test(d, test_overlap_degenerate);
    tcase_add_test(d, test_shared_texts_disjoint);
    suite_add_tcase(s, d);
    TCase *m = tcase_create("model");
    tcase_add_checked_fixture(m, setup, teardown);
    tcase_set_timeout(m, 120);
    tcase_add_test(m, test_bad_options);
    tcase_add_test(m, test_float_weights);
    tcase_add_test(m, test_rtn8_near_lossless);
    tcase_add_test(m, test_gptq_beats_rtn_3bit);
    tcase_add_test(m, test_bits_monotone);
    tcase_add_test(m, test_sequential_calibration);
    tcase_add_test(m, test_cancel);
    tcase_add_test(m, test_tensor_progress);
    tcase_add_test(m, test_rtn_two_threads);
    tcase_add_test(m, test_fold_keeps_function);
    tcase_add_test(m, test_w8a8_hook_equals_fold);
    tcase_add_test(m, test_w8a8_and_kv);
    tcase_add_test(m, test_stacked_and_output);
    tcase_add_test(m, test_phases);
    tcase_add_test(m, test_eval_hooks_two_workers);
    tcase_add_test(m, test_f16_no_float_copies);
    suite_add_tcase(s, m);
    return tu_run(s);
}
