/* check_forward: the batched forward pass against the per-token reference,
 * on stories260K (.bin and .gguf) and on small synthetic models that cover
 * what stories260K does not (Qwen2 biases, rotate-half RoPE, separate
 * output, MHA without GQA). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/forward.h"
#include "src/gemm16.h"
#include "src/gguf_write.h"
#include "src/model.h"
#include "tests/testutil.h"

static float max_abs_diff(const float *a, const float *b, size_t n)
{
    float d = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float e = fabsf(a[i] - b[i]);
        if (!(e <= d))
            d = e; /* also catches NaN */
    }
    return d;
}

static void open_model(struct qmodel *m, const char *rel)
{
    struct qerr err = {0};
    const char *p = tu_shared(rel);
    ck_assert_msg(p != NULL, "shared file %s missing", rel);
    ck_assert_msg(qmodel_open(m, p, &err) == 0, "%s", err.msg);
}

static int *random_tokens(int n, int vocab, unsigned long long seed)
{
    int *t = malloc((size_t)n * sizeof *t);
    tu_seed(seed);
    for (int i = 0; i < n; i++)
        t[i] = (int)(tu_uniform() * vocab);
    t[0] = 1; /* BOS */
    return t;
}

/* ---- degenerate inputs ---- */

START_TEST(test_bad_args)
{
    struct qmodel m;
    struct fwd f;
    struct qerr err = {0};
    open_model(&m, "models/stories260K.bin");
    ck_assert_int_eq(fwd_init(&f, &m, 0, &err), QERR_ARG);
    ck_assert_int_eq(fwd_init(&f, &m, 16, &err), 0);
    float *logits = malloc((size_t)17 * m.cfg.vocab_size * sizeof(float));
    int toks[17] = {1, 2, 3};
    ck_assert_int_eq(fwd_chunk(&f, toks, 0, logits, NULL), QERR_ARG);
    ck_assert_int_eq(fwd_chunk(&f, toks, 17, logits, NULL), QERR_ARG); /* > max_tokens */
    toks[1] = m.cfg.vocab_size;
    ck_assert_int_eq(fwd_chunk(&f, toks, 3, logits, NULL), QERR_ARG);
    ck_assert_ptr_nonnull(strstr(f.err.msg, "position 1"));
    toks[1] = -1;
    ck_assert_int_eq(fwd_chunk(&f, toks, 3, logits, NULL), QERR_ARG);
    float x[64];
    ck_assert_int_eq(fwd_block(&f, m.cfg.n_layers, x, 1, NULL), QERR_ARG);
    volatile int stop = 1; /* the cancel flag stops a pass between blocks */
    toks[1] = 2;
    f.cancel = &stop;
    ck_assert_int_eq(fwd_chunk(&f, toks, 3, logits, NULL), QERR_CANCEL);
    stop = 0;
    ck_assert_int_eq(fwd_chunk(&f, toks, 3, logits, NULL), 0);
    f.cancel = NULL;
    ck_assert_int_eq(fwd_ref_chunk(&m, toks, 0, 1, logits, &err), QERR_ARG);
    free(logits);
    fwd_free(&f);
    fwd_free(&f); /* twice is harmless */
    qmodel_close(&m);
}
END_TEST

/* ---- fast path vs reference on stories260K ---- */

static void compare_with_ref(const char *rel, int n)
{
    struct qmodel m;
    struct fwd f;
    struct qerr err = {0};
    open_model(&m, rel);
    int V = m.cfg.vocab_size;
    int *toks = random_tokens(n, V, 42);
    float *a = malloc((size_t)n * V * sizeof(float)), *b = malloc((size_t)n * V * sizeof(float));
    ck_assert_int_eq(fwd_init(&f, &m, n, &err), 0);
    ck_assert_msg(fwd_chunk(&f, toks, n, a, NULL) == 0, "%s", f.err.msg);
    ck_assert_msg(fwd_ref_chunk(&m, toks, n, 1, b, &err) == 0, "%s", err.msg);
    float d = max_abs_diff(a, b, (size_t)n * V);
    ck_assert_msg(d <= 1e-4f, "%s: max |logit diff| %g > 1e-4", rel, d);
    /* logits are not trivially equal to something constant */
    ck_assert_float_ne(a[0], a[1]);
    fwd_free(&f);
    free(a); free(b); free(toks);
    qmodel_close(&m);
}

START_TEST(test_ref_bin) { compare_with_ref("models/stories260K.bin", 200); }
END_TEST
START_TEST(test_ref_one_token) { compare_with_ref("models/stories260K.bin", 1); }
END_TEST
START_TEST(test_ref_block_edge) { compare_with_ref("models/stories260K.bin", 65); }
END_TEST

/* The two-thread attention path (default for large models) on a small one. */
START_TEST(test_att_threads)
{
    struct qmodel m;
    struct fwd f;
    struct qerr err = {0};
    open_model(&m, "models/stories260K.bin");
    int n = 150, V = m.cfg.vocab_size;
    int *toks = random_tokens(n, V, 8);
    float *a = malloc((size_t)n * V * sizeof(float)), *b = malloc((size_t)n * V * sizeof(float));
    ck_assert_int_eq(fwd_init(&f, &m, n, &err), 0);
    ck_assert_int_eq(fwd_ref_chunk(&m, toks, n, 1, b, &err), 0);
    for (int bt = 0; bt <= 1; bt++) {
        f.blas_threads = bt;
        f.att_threads = f.att2 ? 2 : 1;
        ck_assert_int_eq(fwd_chunk(&f, toks, n, a, NULL), 0);
        ck_assert_float_le(max_abs_diff(a, b, (size_t)n * V), 1e-4f);
    }
    fwd_free(&f);
    free(a); free(b); free(toks);
    qmodel_close(&m);
}
END_TEST
START_TEST(test_ref_gguf) { compare_with_ref("models/stories260K.gguf", 130); }
END_TEST

START_TEST(test_bin_vs_gguf)
{
    struct qmodel m1, m2;
    struct fwd f1, f2;
    struct qerr err = {0};
    open_model(&m1, "models/stories260K.bin");
    open_model(&m2, "models/stories260K.gguf");
    int n = 96, V = m1.cfg.vocab_size;
    ck_assert_int_eq(V, m2.cfg.vocab_size);
    int *toks = random_tokens(n, V, 7);
    float *a = malloc((size_t)n * V * sizeof(float)), *b = malloc((size_t)n * V * sizeof(float));
    ck_assert_int_eq(fwd_init(&f1, &m1, n, &err), 0);
    ck_assert_int_eq(fwd_init(&f2, &m2, n, &err), 0);
    ck_assert_int_eq(fwd_chunk(&f1, toks, n, a, NULL), 0);
    ck_assert_int_eq(fwd_chunk(&f2, toks, n, b, NULL), 0);
    float d = max_abs_diff(a, b, (size_t)n * V);
    ck_assert_msg(d <= 1e-4f, ".bin vs .gguf: max |logit diff| %g", d);
    fwd_free(&f1); fwd_free(&f2);
    free(a); free(b); free(toks);
    qmodel_close(&m1); qmodel_close(&m2);
}
END_TEST

/* Chunk-prefix property: causal attention means the logits of the first k
 * positions do not depend on later tokens; fwd_chunk_from equals the tail. */
START_TEST(test_causal_and_from)
{
    struct qmodel m;
    struct fwd f;
    struct qerr err = {0};
    open_model(&m, "models/stories260K.bin");
    int n = 150, k = 70, V = m.cfg.vocab_size;
    int *toks = random_tokens(n, V, 3);
    float *a = malloc((size_t)n * V * sizeof(float)), *b = malloc((size_t)n * V * sizeof(float));
    ck_assert_int_eq(fwd_init(&f, &m, n, &err), 0);
    ck_assert_int_eq(fwd_chunk(&f, toks, n, a, NULL), 0);
    ck_assert_int_eq(fwd_chunk(&f, toks, k, b, NULL), 0);
    ck_assert_float_le(max_abs_diff(a, b, (size_t)k * V), 1e-5f);
    ck_assert_int_eq(fwd_chunk_from(&f, toks, n, 100, b, NULL), 0);
    ck_assert_float_le(max_abs_diff(a + (size_t)100 * V, b, (size_t)50 * V), 1e-5f);
    ck_assert_int_eq(fwd_chunk_from(&f, toks, n, n, b, NULL), QERR_ARG);
    fwd_free(&f);
    free(a); free(b); free(toks);
    qmodel_close(&m);
}
END_TEST

/* Incremental decoding equals the whole-chunk pass at every position. */
START_TEST(test_step_cache)
{
    struct qmodel m;
    struct fwd f;
    struct fwd_cache c;
    struct qerr err = {0};
    open_model(&m, "models/stories260K.bin");
    int n = 90, V = m.cfg.vocab_size;
    int *toks = random_tokens(n, V, 21);
    float *a = malloc((size_t)n * V * sizeof(float)), *b = malloc((size_t)V * sizeof(float));
    ck_assert_int_eq(fwd_init(&f, &m, n, &err), 0);
    ck_assert_int_eq(fwd_chunk(&f, toks, n, a, NULL), 0);
    ck_assert_int_eq(fwd_cache_init(&c, &f, &err), 0);
    ck_assert_int_eq(fwd_step(&f, &c, toks, 10, b, NULL), 0); /* a prompt */
    ck_assert_float_le(max_abs_diff(a + (size_t)9 * V, b, (size_t)V), 1e-4f);
    for (int p = 10; p < n; p++) {
        ck_assert_int_eq(fwd_step(&f, &c, toks + p, 1, b, NULL), 0);
        float d = max_abs_diff(a + (size_t)p * V, b, (size_t)V);
        ck_assert_msg(d <= 1e-4f, "position %d: diff %g", p, d);
    }
    ck_assert_int_eq(c.pos, n);
    ck_assert_int_eq(fwd_step(&f, &c, toks, 1, b, NULL), QERR_ARG); /* full */
    fwd_cache_free(&c);
    fwd_free(&f);
    free(a); free(b); free(toks);
    qmodel_close(&m);
}
END_TEST

/* The layer-by-layer entry points a streaming runner uses give the same
 * logits as fwd_chunk, with caller-owned residual buffers. */
START_TEST(test_layer_streaming)
{
    struct qmodel m;
    struct fwd f;
    struct qerr err = {0};
    open_model(&m, "models/stories260K.bin");
    int n = 64, V = m.cfg.vocab_size, D = m.cfg.dim;
    int *t1 = random_tokens(n, V, 31), *t2 = random_tokens(n, V, 32);
    float *x1 = malloc((size_t)n * D * sizeof(float)), *x2 = malloc((size_t)n * D * sizeof(float));
    float *a = malloc((size_t)n * V * sizeof(float)), *b = malloc((size_t)n * V * sizeof(float));
    ck_assert_int_eq(fwd_init(&f, &m, n, &err), 0);
    ck_assert_int_eq(fwd_embed(&f, t1, n, x1), 0);
    ck_assert_int_eq(fwd_embed(&f, t2, n, x2), 0);
    for (int l = 0; l < m.cfg.n_layers; l++) { /* layer-major over two chunks */
        ck_assert_int_eq(fwd_block(&f, l, x1, n, NULL), 0);
        ck_assert_int_eq(fwd_block(&f, l, x2, n, NULL), 0);
    }
    ck_assert_int_eq(fwd_final(&f, x2, n, b, NULL), 0);
    ck_assert_int_eq(fwd_chunk(&f, t2, n, a, NULL), 0);
    ck_assert_float_eq(max_abs_diff(a, b, (size_t)n * V), 0.0f);
    ck_assert_int_eq(fwd_final(&f, x1, n, b, NULL), 0);
    ck_assert_int_eq(fwd_chunk(&f, t1, n, a, NULL), 0);
    ck_assert_float_eq(max_abs_diff(a, b, (size_t)n * V), 0.0f);
    fwd_free(&f);
    free(x1); free(x2); free(a); free(b); free(t1); free(t2);
    qmodel_close(&m);
}
END_TEST

/* ---- overrides: baseline and candidate in one process ---- */

START_TEST(test_overrides)
{
    struct qmodel m;
    struct fwd f;
    struct qerr err = {0};
    open_model(&m, "models/stories260K.bin");
    int n = 40, V = m.cfg.vocab_size;
    int *toks = random_tokens(n, V, 11);
    size_t sz = (size_t)n * V;
    float *a = malloc(sz * sizeof(float)), *b = malloc(sz * sizeof(float));
    float *c = malloc(sz * sizeof(float)), *r = malloc(sz * sizeof(float));
    ck_assert_int_eq(fwd_init(&f, &m, n, &err), 0);
    ck_assert_int_eq(fwd_chunk(&f, toks, n, a, NULL), 0);
    struct qtensor *t = qmodel_get(&m, 2, QR_FFN_DOWN);
    float *w = malloc((size_t)t->nelem * sizeof(float));
    const float *orig = qtensor_f32_orig(t);
    for (int64_t i = 0; i < t->nelem; i++)
        w[i] = orig[i] * 0.5f;
    qtensor_set_override(t, w);
    ck_assert_int_eq(fwd_chunk(&f, toks, n, b, NULL), 0); /* candidate */
    ck_assert_float_gt(max_abs_diff(a, b, sz), 1e-3f);
    fwd_use_overrides(&f, 0);
    ck_assert_int_eq(fwd_chunk(&f, toks, n, c, NULL), 0); /* baseline again */
    ck_assert_float_eq(max_abs_diff(a, c, sz), 0.0f);
    ck_assert_int_eq(fwd_ref_chunk(&m, toks, n, 1, r, &err), 0);
    ck_assert_float_le(max_abs_diff(b, r, sz), 1e-4f);
    fwd_free(&f);
    free(a); free(b); free(c); free(r); free(toks);
    qmodel_close(&m);
}
END_TEST

/* ---- hooks ---- */

struct hook_log {
    int calls[QR__COUNT];
    int kv_calls;
    int bad_dims;
    int zero_v; /* zero V of layer 0 */
};

static int log_lin(void *ud, int layer, enum qrole role, float *x, int n, int in_dim)
{
    struct hook_log *h = ud;
    h->calls[role]++;
    (void)x; (void)n; (void)layer;
    if ((role == QR_FFN_DOWN && in_dim != 172) || (role != QR_FFN_DOWN && in_dim != 64))
        h->bad_dims++;
    return 0;
}

static int log_kv(void *ud, int layer, float *k, float *v, int n, int kv_dim)
{
    struct hook_log *h = ud;
    h->kv_calls++;
    if (kv_dim != 32)
        h->bad_dims++;
    if (h->zero_v && layer == 0)
        memset(v, 0, (size_t)n * kv_dim * sizeof(float));
    (void)k;
    return 0;
}

static int fail_lin(void *ud, int layer, enum qrole role, float *x, int n, int in_dim)
{
    (void)ud; (void)x; (void)n; (void)in_dim;
    return layer == 1 && role == QR_FFN_GATE ? QERR_CANCEL : 0;
}

START_TEST(test_hooks)
{
    struct qmodel m;
    struct fwd f;
    struct qerr err = {0};
    open_model(&m, "models/stories260K.bin");
    ck_assert_int_eq(m.cfg.dim, 64); /* dims below are stories260K's */
    int n = 20, V = m.cfg.vocab_size, L = m.cfg.n_layers;
    int *toks = random_tokens(n, V, 5);
    float *a = malloc((size_t)n * V * sizeof(float)), *b = malloc((size_t)n * V * sizeof(float));
    ck_assert_int_eq(fwd_init(&f, &m, n, &err), 0);
    ck_assert_int_eq(fwd_chunk(&f, toks, n, a, NULL), 0);
    struct hook_log log = {0};
    struct fwd_hooks h = {&log, log_lin, log_kv};
    ck_assert_int_eq(fwd_chunk(&f, toks, n, b, &h), 0);
    ck_assert_float_eq(max_abs_diff(a, b, (size_t)n * V), 0.0f); /* observing is free */
    ck_assert_int_eq(log.calls[QR_ATTN_Q], L);
    ck_assert_int_eq(log.calls[QR_ATTN_OUT], L);
    ck_assert_int_eq(log.calls[QR_FFN_GATE], L);
    ck_assert_int_eq(log.calls[QR_FFN_DOWN], L);
    ck_assert_int_eq(log.calls[QR_OUTPUT], 1);
    ck_assert_int_eq(log.calls[QR_ATTN_K] + log.calls[QR_FFN_UP], 0);
    ck_assert_int_eq(log.kv_calls, L);
    ck_assert_int_eq(log.bad_dims, 0);
    log.zero_v = 1;
    ck_assert_int_eq(fwd_chunk(&f, toks, n, b, &h), 0);
    ck_assert_float_gt(max_abs_diff(a, b, (size_t)n * V), 1e-3f); /* modifying works */
    struct fwd_hooks hf = {NULL, fail_lin, NULL};
    ck_assert_int_eq(fwd_chunk(&f, toks, n, b, &hf), QERR_CANCEL);
    ck_assert_ptr_nonnull(strstr(f.err.msg, "layer 1"));
    fwd_free(&f);
    free(a); free(b); free(toks);
    qmodel_close(&m);
}
END_TEST

/* ---- synthetic models: biases, rotate-half, separate output, MHA ---- */

struct synth {
    struct qmodel m;
    float *arena;
    size_t used;
};

static void synth_add(struct synth *s, const char *name, int layer, enum qrole role,
                      int64_t rows, int64_t cols, float scale, float offset)
{
    struct qtensor *t = &s->m.tensors[s->m.n_tensors++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->layer = layer;
    t->role = role;
    t->dtype = QD_F32;
    t->ndim = rows == 1 ? 1 : 2;
    t->shape[0] = rows == 1 ? cols : rows;
    t->shape[1] = cols;
    t->nelem = rows * cols;
    t->nbytes = (size_t)t->nelem * 4;
    float *p = s->arena + s->used;
    for (int64_t i = 0; i < t->nelem; i++)
        p[i] = offset + scale * (float)tu_normal();
    t->data = p;
    s->used += (size_t)t->nelem;
}

static void synth_build(struct synth *s, int bias, enum qrope rope, int tied, int kv_heads)
{
    memset(s, 0, sizeof *s);
    struct qconfig *c = &s->m.cfg;
    snprintf(c->arch, sizeof c->arch, "synthetic");
    c->dim = 48; c->hidden_dim = 80; c->n_layers = 2; c->n_heads = 6; c->n_kv_heads = kv_heads;
    c->head_dim = 8; c->vocab_size = 97; c->ctx_len = 256; c->rope_theta = 10000.0f;
    c->norm_eps = 1e-6f; c->tied_output = tied; c->has_qkv_bias = bias; c->rope_style = rope;
    int qd = c->n_heads * c->head_dim, kd = kv_heads * c->head_dim;
    s->m.tensors = calloc(64, sizeof(struct qtensor));
    s->arena = malloc(200000 * sizeof(float));
    tu_seed(99);
    synth_add(s, "token_embd", -1, QR_TOK_EMBD, c->vocab_size, c->dim, 1.0f, 0.0f);
    for (int l = 0; l < c->n_layers; l++) {
        synth_add(s, "attn_norm", l, QR_ATTN_NORM, 1, c->dim, 0.1f, 1.0f);
        synth_add(s, "attn_q", l, QR_ATTN_Q, qd, c->dim, 0.3f, 0.0f);
        synth_add(s, "attn_k", l, QR_ATTN_K, kd, c->dim, 0.3f, 0.0f);
        synth_add(s, "attn_v", l, QR_ATTN_V, kd, c->dim, 0.3f, 0.0f);
        if (bias) {
            synth_add(s, "attn_q_bias", l, QR_ATTN_Q_BIAS, 1, qd, 0.5f, 0.0f);
            synth_add(s, "attn_k_bias", l, QR_ATTN_K_BIAS, 1, kd, 0.5f, 0.0f);
            synth_add(s, "attn_v_bias", l, QR_ATTN_V_BIAS, 1, kd, 0.5f, 0.0f);
        }
        synth_add(s, "attn_output", l, QR_ATTN_OUT, c->dim, qd, 0.15f, 0.0f);
        synth_add(s, "ffn_norm", l, QR_FFN_NORM, 1, c->dim, 0.1f, 1.0f);
        synth_add(s, "ffn_gate", l, QR_FFN_GATE, c->hidden_dim, c->dim, 0.15f, 0.0f);
        synth_add(s, "ffn_up", l, QR_FFN_UP, c->hidden_dim, c->dim, 0.15f, 0.0f);
        synth_add(s, "ffn_down", l, QR_FFN_DOWN, c->dim, c->hidden_dim, 0.1f, 0.0f);
    }
    synth_add(s, "output_norm", -1, QR_OUT_NORM, 1, c->dim, 0.1f, 1.0f);
    if (!tied)
        synth_add(s, "output", -1, QR_OUTPUT, c->vocab_size, c->dim, 0.2f, 0.0f);
}

static void synth_free(struct synth *s)
{
    free(s->arena);
    free(s->m.tensors);
}

static float synth_diff(int bias, enum qrope rope, int tied, int kv_heads, float *spread)
{
    struct synth s;
    struct fwd f;
    struct qerr err = {0};
    synth_build(&s, bias, rope, tied, kv_heads);
    int n = 77, V = s.m.cfg.vocab_size;
    int *toks = random_tokens(n, V, 1);
    float *a = malloc((size_t)n * V * sizeof(float)), *b = malloc((size_t)n * V * sizeof(float));
    ck_assert_msg(fwd_init(&f, &s.m, n, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(fwd_chunk(&f, toks, n, a, NULL), 0);
    ck_assert_int_eq(fwd_ref_chunk(&s.m, toks, n, 1, b, &err), 0);
    float d = max_abs_diff(a, b, (size_t)n * V);
    float lo = a[0], hi = a[0];
    for (size_t i = 0; i < (size_t)n * V; i++) {
        lo = a[i] < lo ? a[i] : lo;
        hi = a[i] > hi ? a[i] : hi;
    }
    *spread = hi - lo;
    fwd_free(&f);
    free(a); free(b); free(toks);
    synth_free(&s);
    return d;
}

START_TEST(test_synthetic_variants)
{
    static const struct { int bias; enum qrope rope; int tied, kv; } v[] = {
        {1, QROPE_INTERLEAVED, 0, 2}, {0, QROPE_HALF, 1, 3}, {1, QROPE_HALF, 0, 6},
        {0, QROPE_INTERLEAVED, 1, 1},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        float spread;
        float d = synth_diff(v[i].bias, v[i].rope, v[i].tied, v[i].kv, &spread);
        ck_assert_msg(d <= 1e-4f * (spread > 1 ? spread : 1), "variant %zu: diff %g", i, d);
        ck_assert_float_gt(spread, 1.0f);
    }
}
END_TEST

/* Rotate-half and interleaved differ on the same weights (so each test above
 * really exercises its convention). */
START_TEST(test_rope_styles_differ)
{
    struct synth s;
    struct fwd f;
    struct qerr err = {0};
    int n = 12;
    float *a = malloc((size_t)n * 97 * sizeof(float)), *b = malloc((size_t)n * 97 * sizeof(float));
    int *toks = random_tokens(n, 97, 2);
    synth_build(&s, 0, QROPE_INTERLEAVED, 1, 2);
    ck_assert_int_eq(fwd_init(&f, &s.m, n, &err), 0);
    ck_assert_int_eq(fwd_chunk(&f, toks, n, a, NULL), 0);
    fwd_free(&f);
    s.m.cfg.rope_style = QROPE_HALF;
    ck_assert_int_eq(fwd_init(&f, &s.m, n, &err), 0);
    ck_assert_int_eq(fwd_chunk(&f, toks, n, b, NULL), 0);
    ck_assert_float_eq(max_abs_diff(a, b, 97), 0.0f); /* position 0: no rotation */
    ck_assert_float_gt(max_abs_diff(a, b, (size_t)n * 97), 1e-3f);
    fwd_free(&f);
    synth_free(&s);
    free(a); free(b); free(toks);
}
END_TEST

/* The same random model written as GGUF (interleaved RoPE rows),
 * safetensors (HF rotate-half rows) and llama2.c by tool_genmodel: the
 * logits agree, so both RoPE conventions and the Qwen2 biases are right
 * through the real loaders. */
static void gen_model(const char *fmt, const char *arch, const char *out)
{
    tu_genmodel(out, "--format %s --arch %s --dim 64 --hidden 96 --layers 2 --heads 4 "
                "--kv-heads 2 --vocab 300 --ctx 128 --seed 5", fmt, arch);
}

static float *model_logits(const char *path, const int *toks, int n, struct qconfig *cfg)
{
    struct qmodel m;
    struct fwd f;
    struct qerr err = {0};
    ck_assert_msg(qmodel_open(&m, path, &err) == 0, "%s", err.msg);
    float *lg = malloc((size_t)n * m.cfg.vocab_size * sizeof(float));
    ck_assert_int_eq(fwd_init(&f, &m, n, &err), 0);
    ck_assert_int_eq(fwd_chunk(&f, toks, n, lg, NULL), 0);
    *cfg = m.cfg;
    fwd_free(&f);
    qmodel_close(&m);
    return lg;
}

START_TEST(test_formats_agree)
{
    static const char *arch[2] = {"llama", "qwen2"};
    int n = 60;
    int *toks = random_tokens(n, 300, 4);
    for (int a = 0; a < 2; a++) {
        char g[512], st[512];
        snprintf(g, sizeof g, "%s", tu_tmpfile(a ? "q.gguf" : "l.gguf"));
        snprintf(st, sizeof st, "%s", tu_tmpfile(a ? "q-st" : "l-st"));
        gen_model("gguf", arch[a], g);
        gen_model("safetensors", arch[a], st);
        struct qconfig cg, cs;
        float *lg = model_logits(g, toks, n, &cg), *ls = model_logits(st, toks, n, &cs);
        /* llama GGUF: interleaved; qwen2 GGUF keeps HF order (NEOX rope in
         * llama.cpp); safetensors: rotate-half */
        ck_assert_int_eq(cg.rope_style, a ? QROPE_HALF : QROPE_INTERLEAVED);
        ck_assert_int_eq(cs.rope_style, QROPE_HALF);
        ck_assert_int_eq(cg.has_qkv_bias, a);
        float d = max_abs_diff(lg, ls, (size_t)n * 300);
        ck_assert_msg(d <= 1e-4f, "%s: gguf vs safetensors logits differ by %g", arch[a], d);
        if (a == 0) {
            char l2[512];
            snprintf(l2, sizeof l2, "%s", tu_tmpfile("l.bin"));
            gen_model("llama2c", "llama", l2);
            struct qconfig c2;
            float *lb = model_logits(l2, toks, n, &c2);
            ck_assert_float_le(max_abs_diff(lg, lb, (size_t)n * 300), 1e-4f);
            free(lb);
        }
        free(lg);
        free(ls);
    }
    free(toks);
}
END_TEST

/* ---- families through the real loaders ---- */

struct family {
    const char *name, *args;
    void (*off)(struct qconfig *c); /* turns the family's features off */
};

static void off_rope(struct qconfig *c) { c->has_rope_div = 0; }
static void off_qk(struct qconfig *c) { c->qk_norm = 0; }
static void off_gemma2_window(struct qconfig *c) { c->swa_window = 0; }
static void off_gemma2_caps(struct qconfig *c) { c->attn_softcap = c->final_softcap = 0; }
static void off_gemma_norms(struct qconfig *c) { c->post_norms = 0; c->embd_scale = 0; }
static void off_gelu(struct qconfig *c) { c->act = QACT_SILU; }
static void off_gemma3_local(struct qconfig *c) { c->rope_theta_local = 0; }

/* Every family written by tool_genmodel as llama.cpp's converter (GGUF)
 * and Hugging Face (safetensors) store it; window 8 < the 60 tokens. */
static const struct family families[] = {
    {"llama3-rope", "--arch llama --rope-scaling llama3", off_rope},
    {"linear-rope", "--arch llama --rope-scaling linear:4", off_rope},
    {"qwen3", "--arch qwen3 --head-dim 24", off_qk},
    {"gemma2", "--arch gemma2 --head-dim 24 --swa 8 --attn-softcap 0.02 --final-softcap 0.15",
     off_gemma2_window},
    {"gemma2-caps", "--arch gemma2 --head-dim 24 --swa 8 --attn-softcap 0.02 --final-softcap 0.15",
     off_gemma2_caps},
    {"gemma2-norms", "--arch gemma2", off_gemma_norms},
    {"gemma2-gelu", "--arch gemma2", off_gelu},
    {"gemma3", "--arch gemma3 --head-dim 24 --swa 8 --layers 6 --rope-scaling linear:8", off_rope},
    {"gemma3-qk", "--arch gemma3 --head-dim 24 --swa 8 --layers 6", off_qk},
    {"gemma3-local", "--arch gemma3 --head-dim 24 --swa 8 --layers 6", off_gemma3_local},
    {"phi3", "--arch phi3", NULL},
};

static void gen_family(const struct family *fam, const char *fmt, const char *out)
{
    tu_genmodel(out, "--format %s --dim 64 --hidden 96 --layers 2 --heads 4 --kv-heads 2 "
                "--vocab 300 --ctx 128 --seed 9 %s", fmt, fam->args);
}

/* Logits of the batched pass and of the reference on one opened model. */
static void both_passes(struct qmodel *m, const int *toks, int n, float *fast, float *ref)
{
    struct fwd f;
    struct qerr err = {0};
    ck_assert_msg(fwd_init(&f, m, n, &err) == 0, "%s", err.msg);
    ck_assert_msg(fwd_chunk(&f, toks, n, fast, NULL) == 0, "%s", f.err.msg);
    fwd_free(&f);
    if (ref)
        ck_assert_msg(fwd_ref_chunk(m, toks, n, 1, ref, &err) == 0, "%s", err.msg);
}

START_TEST(test_families)
{
    int n = 60, V = 300;
    size_t sz = (size_t)n * V;
    int *toks = random_tokens(n, V, 12);
    float *a = malloc(sz * sizeof(float)), *b = malloc(sz * sizeof(float));
    float *c = malloc(sz * sizeof(float));
    for (size_t i = 0; i < sizeof families / sizeof *families; i++) {
        const struct family *fam = &families[i];
        char g[512], st[512];
        snprintf(g, sizeof g, "%s/fam-%s.gguf", tu_tmpdir(), fam->name);
        snprintf(st, sizeof st, "%s/fam-%s-st", tu_tmpdir(), fam->name);
        gen_family(fam, "gguf", g);
        gen_family(fam, "safetensors", st);
        struct qmodel mg, ms;
        struct qerr err = {0};
        ck_assert_msg(qmodel_open(&mg, g, &err) == 0, "%s: %s", fam->name, err.msg);
        ck_assert_msg(qmodel_open(&ms, st, &err) == 0, "%s: %s", fam->name, err.msg);
        both_passes(&mg, toks, n, a, b);
        float d_ref = max_abs_diff(a, b, sz);
        both_passes(&ms, toks, n, c, NULL);
        float d_fmt = max_abs_diff(a, c, sz);
        float lo = a[0], hi = a[0];
        for (size_t k = 0; k < sz; k++) {
            lo = a[k] < lo ? a[k] : lo;
            hi = a[k] > hi ? a[k] : hi;
        }
        float d_off = 0.0f;
        if (fam->off) { /* the feature changes the logits: the check is not vacuous */
            fam->off(&mg.cfg);
            both_passes(&mg, toks, n, c, NULL);
            d_off = max_abs_diff(a, c, sz);
        }
        fprintf(stderr, "%s: spread %g, batched vs reference %g, GGUF vs safetensors %g, "
                "feature off %g\n", fam->name, hi - lo, d_ref, d_fmt, d_off);
        ck_assert_msg(d_ref <= 1e-4f, "%s: batched vs reference %g", fam->name, d_ref);
        ck_assert_msg(d_fmt <= 1e-4f, "%s: GGUF vs safetensors %g", fam->name, d_fmt);
        ck_assert_msg(!fam->off || d_off > 1e-5f, "%s: turning the feature off changes the "
                      "logits by only %g", fam->name, d_off);
        ck_assert_float_gt(hi - lo, 0.1f);
        ck_assert_int_eq(mg.cfg.rope_style, QROPE_HALF * (i >= 2));
        qmodel_close(&mg);
        qmodel_close(&ms);
    }
    free(a); free(b); free(c); free(toks);
}
END_TEST

/* Phi-3's fused qkv_proj / gate_up_proj, split on load, hold exactly the
 * rows of a separate-tensor model of the same seed (tool_genmodel writes
 * the parts' values): the logits are identical. */
START_TEST(test_phi3_split_equals_unfused)
{
    int n = 40, V = 300;
    size_t sz = (size_t)n * V;
    int *toks = random_tokens(n, V, 13);
    float *a = malloc(sz * sizeof(float)), *b = malloc(sz * sizeof(float));
    static const struct family phi = {"phi3", "--arch phi3", NULL},
                                llama = {"llama", "--arch llama", NULL};
    char p1[512], p2[512];
    snprintf(p1, sizeof p1, "%s/split-phi3-st", tu_tmpdir());
    snprintf(p2, sizeof p2, "%s/split-llama-st", tu_tmpdir());
    gen_family(&phi, "safetensors", p1);
    gen_family(&llama, "safetensors", p2);
    struct qmodel m1, m2;
    struct qerr err = {0};
    ck_assert_msg(qmodel_open(&m1, p1, &err) == 0, "%s", err.msg);
    ck_assert_msg(qmodel_open(&m2, p2, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(m1.cfg.fused, "qkv, gate_up");
    struct qtensor *k = qmodel_get(&m1, 1, QR_ATTN_K);
    ck_assert_str_eq(k->src_name, "model.layers.1.self_attn.qkv_proj.weight[64:96]");
    both_passes(&m1, toks, n, a, NULL);
    both_passes(&m2, toks, n, b, NULL);
    ck_assert_float_eq(max_abs_diff(a, b, sz), 0.0f);
    qmodel_close(&m1);
    qmodel_close(&m2);
    free(a); free(b); free(toks);
}
END_TEST

/* Gemma3ForConditionalGeneration: the text model from text_config and
 * language_model.* names (sharded), the vision tower left out, equals the
 * GGUF of the same weights. */
START_TEST(test_gemma3_multimodal)
{
    int n = 40, V = 300;
    size_t sz = (size_t)n * V;
    int *toks = random_tokens(n, V, 14);
    float *a = malloc(sz * sizeof(float)), *b = malloc(sz * sizeof(float));
    static const struct family gg = {"g3", "--arch gemma3 --head-dim 24 --swa 8 --layers 6", NULL},
        mm = {"g3mm", "--arch gemma3 --head-dim 24 --swa 8 --layers 6 --multimodal --shards 3", NULL};
    char p1[512], p2[512];
    snprintf(p1, sizeof p1, "%s/g3.gguf", tu_tmpdir());
    snprintf(p2, sizeof p2, "%s/g3mm-st", tu_tmpdir());
    gen_family(&gg, "gguf", p1);
    gen_family(&mm, "safetensors", p2);
    struct qmodel m1, m2;
    struct qerr err = {0};
    ck_assert_msg(qmodel_open(&m1, p1, &err) == 0, "%s", err.msg);
    ck_assert_msg(qmodel_open(&m2, p2, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(m1.n_tensors, m2.n_tensors); /* no vision tensor */
    ck_assert_int_eq(qconfig_local_layers(&m2.cfg), 5);
    ck_assert_float_eq(m2.cfg.rope_theta_local, 10000.0f);
    struct qtensor *qn = qmodel_get(&m2, 3, QR_ATTN_Q_NORM);
    ck_assert_str_eq(qn->src_name, "language_model.model.layers.3.self_attn.q_norm.weight");
    ck_assert_float_eq(qn->add, 1.0f); /* HF stores w of (1 + w) */
    ck_assert(!memcmp(qtensor_f32(qn), qtensor_f32(qmodel_get(&m1, 3, QR_ATTN_Q_NORM)),
                      (size_t)qn->nelem * sizeof(float)));
    both_passes(&m1, toks, n, a, NULL);
    both_passes(&m2, toks, n, b, NULL);
    ck_assert_float_le(max_abs_diff(a, b, sz), 1e-5f);
    qmodel_close(&m1);
    qmodel_close(&m2);
    free(a); free(b); free(toks);
}
END_TEST

/* qlens's GGUF export (llama architecture) keeps what it can express:
 * Llama 3.1 scaling as rope_freqs, linear as rope.scaling keys, Phi-3 as
 * split q/k/v (permuted to interleaved); the reloaded file gives the same
 * logits.  Gemma cannot be expressed and is refused by name. */
START_TEST(test_export_families)
{
    static const struct family ok[] = {
        {"x-llama3", "--arch llama --rope-scaling llama3", NULL},
        {"x-linear", "--arch llama --rope-scaling linear:4", NULL},
        {"x-phi3", "--arch phi3", NULL},
    }, bad = {"x-gemma2", "--arch gemma2", NULL};
    int n = 40, V = 300;
    size_t sz = (size_t)n * V;
    int *toks = random_tokens(n, V, 15);
    float *a = malloc(sz * sizeof(float)), *b = malloc(sz * sizeof(float));
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        char st[512], out[512];
        snprintf(st, sizeof st, "%s/%s-st", tu_tmpdir(), ok[i].name);
        snprintf(out, sizeof out, "%s/%s.gguf", tu_tmpdir(), ok[i].name);
        gen_family(&ok[i], "safetensors", st);
        struct qmodel m1, m2;
        struct qerr err = {0};
        ck_assert_msg(qmodel_open(&m1, st, &err) == 0, "%s", err.msg);
        ck_assert_msg(gguf_write_model(&m1, out, 0, &err) == 0, "%s", err.msg);
        ck_assert_msg(qmodel_open(&m2, out, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(m2.cfg.rope_scaling, m1.cfg.rope_scaling);
        for (int k = 0; k < m1.cfg.head_dim / 2; k++)
            ck_assert_float_eq(m1.cfg.rope_div[k] * m1.cfg.has_rope_div,
                               m2.cfg.rope_div[k] * m2.cfg.has_rope_div);
        both_passes(&m1, toks, n, a, NULL);
        both_passes(&m2, toks, n, b, NULL);
        float d = max_abs_diff(a, b, sz);
        ck_assert_msg(d <= 1e-4f, "%s: exported GGUF differs by %g", ok[i].name, d);
        qmodel_close(&m1);
        qmodel_close(&m2);
    }
    char st[512], out[512];
    snprintf(st, sizeof st, "%s/%s-st", tu_tmpdir(), bad.name);
    snprintf(out, sizeof out, "%s/%s.gguf", tu_tmpdir(), bad.name);
    gen_family(&bad, "safetensors", st);
    struct qmodel m;
    struct qerr err = {0};
    ck_assert_msg(qmodel_open(&m, st, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(gguf_write_model(&m, out, 0, &err), QERR_UNSUPP);
    ck_assert_msg(strstr(err.msg, "cannot save a gemma2 model as GGUF"), "%s", err.msg);
    qmodel_close(&m);
    free(a); free(b); free(toks);
}
END_TEST

/* Llama 3.1 8B's rope_scaling (theta 500000, head_dim 128, factor 8, low 1,
 * high 4, original context 8192): divisors computed by hand from the
 * formula (wavelength 2 pi / freq; below 2048 -> 1, above 8192 -> 8, else
 * 1 / ((1 - s) / 8 + s) with s = (8192 / wavelength - 1) / 3). */
START_TEST(test_llama3_divisors)
{
    struct qconfig c = {.head_dim = 128, .rope_theta = 500000.0f, .rope_factor = 8.0f,
                        .rope_low_freq = 1.0f, .rope_high_freq = 4.0f, .rope_orig_ctx = 8192};
    qconfig_llama3_rope(&c);
    ck_assert(c.has_rope_div && c.rope_scaling == QRS_LLAMA3);
    ck_assert_float_eq(c.rope_div[0], 1.0f);
    ck_assert_float_eq(c.rope_div[28], 1.0f);  /* wavelength 1956.5 */
    ck_assert_float_eq_tol(c.rope_div[29], 1.2074840f, 1e-5f); /* 2401.7 */
    ck_assert_float_eq_tol(c.rope_div[30], 1.5534146f, 1e-5f); /* 2948.3 */
    ck_assert_float_eq_tol(c.rope_div[32], 2.6945300f, 1e-5f); /* 4442.9 */
    ck_assert_float_eq_tol(c.rope_div[34], 5.2573268f, 1e-5f); /* 6695.1 */
    ck_assert_float_eq(c.rope_div[35], 8.0f);  /* 8218.7 */
    ck_assert_float_eq(c.rope_div[63], 8.0f);
    for (int i = 1; i < 64; i++)
        ck_assert(c.rope_div[i] >= c.rope_div[i - 1]);
}
END_TEST

/* Each feature on a synthetic model with large weights (activations of
 * order 1, where soft-capping, windows and norms bite), batched vs the
 * reference. */
START_TEST(test_synthetic_features)
{
    for (int v = 0; v < 7; v++) {
        struct synth s;
        struct fwd f;
        struct qerr err = {0};
        synth_build(&s, 0, QROPE_HALF, 1, 2);
        struct qconfig *c = &s.m.cfg;
        for (int l = 0; v == 6 && l < c->n_layers; l++) {
            synth_add(&s, "q_norm", l, QR_ATTN_Q_NORM, 1, c->head_dim, 0.3f, 1.0f);
            synth_add(&s, "k_norm", l, QR_ATTN_K_NORM, 1, c->head_dim, 0.3f, 1.0f);
            synth_add(&s, "post_attn", l, QR_ATTN_POST_NORM, 1, c->dim, 0.3f, 1.0f);
            synth_add(&s, "post_ffn", l, QR_FFN_POST_NORM, 1, c->dim, 0.3f, 1.0f);
        }
        c->qk_norm = c->post_norms = v == 6;
        c->act = v == 0 ? QACT_GELU_TANH : QACT_SILU;
        c->embd_scale = v == 1 ? 2.5f : 0.0f;
        c->attn_softcap = v == 2 ? 1.5f : 0.0f;
        c->final_softcap = v == 2 ? 2.0f : 0.0f;
        c->swa_window = v == 3 || v == 4 ? 5 : 0;
        c->swa_pattern = v == 4 ? 2 : 0;
        c->rope_theta_local = v == 4 ? 50.0f : 0.0f;
        c->attn_scale = v == 5 ? 0.9f : 0.0f;
        for (int i = 0; v >= 4 && i < c->head_dim / 2; i++)
            c->rope_div[i] = 1.0f + 3.0f * i;
        c->has_rope_div = v >= 4;
        int n = 77, V = c->vocab_size;
        int *toks = random_tokens(n, V, 1);
        float *a = malloc((size_t)n * V * sizeof(float)), *b = malloc((size_t)n * V * sizeof(float));
        ck_assert_msg(fwd_init(&f, &s.m, n, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(fwd_chunk(&f, toks, n, a, NULL), 0);
        ck_assert_int_eq(fwd_ref_chunk(&s.m, toks, n, 1, b, &err), 0);
        float d = max_abs_diff(a, b, (size_t)n * V), lo = a[0], hi = a[0];
        for (size_t i = 0; i < (size_t)n * V; i++) {
            lo = a[i] < lo ? a[i] : lo;
            hi = a[i] > hi ? a[i] : hi;
        }
        ck_assert_msg(d <= 1e-4f * (hi - lo > 1 ? hi - lo : 1), "feature set %d: diff %g "
                      "(spread %g)", v, d, hi - lo);
        if (v == 2) /* the final cap bounds every logit */
            for (size_t i = 0; i < (size_t)n * V; i++)
                ck_assert(fabsf(a[i]) <= 2.0f);
        fwd_free(&f);
        free(a); free(b); free(toks);
        synth_free(&s);
    }
}
END_TEST

/* F16/BF16 weights run from tiles converted on the fly (several tiles per
 * matrix, the last one partial) and, where built, through gemm16 (in
 * place, converted inside the product): no float copy of any matrix is
 * made, and the logits of both match the same model with whole float
 * copies and the plain reference. */
START_TEST(test_tiled_weights)
{
    static const char *dts[2] = {"f16", "bf16"};
    int n = 40;
    int *toks = random_tokens(n, 300, 9);
    for (int d = 0; d < 2; d++) {
        const char *path = tu_tmpfile(d ? "tb.gguf" : "th.gguf");
        tu_genmodel(path, "--format gguf --dim 64 --hidden 96 --layers 2 --heads 4 --kv-heads 2 "
                    "--vocab 300 --ctx 128 --seed 7 --dtype %s", dts[d]);
        struct qmodel m;
        struct fwd f;
        struct qerr err = {0};
        ck_assert_msg(qmodel_open(&m, path, &err) == 0, "%s", err.msg);
        size_t nl = (size_t)n * 300;
        float *a = malloc(nl * sizeof(float)), *c = malloc(nl * sizeof(float));
        float *r = malloc(nl * sizeof(float));
        ck_assert_int_eq(fwd_init(&f, &m, n, &err), 0);
        f.tile_rows = 7; /* 96 = 13 tiles of 7 + 5 */
        ck_assert_int_eq(f.use_gemm16, 0); /* a small model keeps the tiles */

        ck_assert_int_eq(fwd_prepare(&f), 0);
        ck_assert_msg(fwd_chunk(&f, toks, n, a, NULL) == 0, "%s", f.err.msg);
        if (f.wtile2) { /* the tiles split over two threads (lin_split) */
            f.tile_threads = 2;
            ck_assert_msg(fwd_chunk(&f, toks, n, c, NULL) == 0, "%s", f.err.msg);
            ck_assert_msg(max_abs_diff(a, c, nl) <= 1e-5f, "%s: two tile threads vs one %g",
                          dts[d], max_abs_diff(a, c, nl));
            f.tile_threads = 1;
        }
        float *g = malloc(nl * sizeof(float));
        for (int th = 1; gemm16_available() && th <= (f.wtile2 ? 2 : 1); th++) {
            f.use_gemm16 = 1; /* n = 40 rows: 3 register blocks of 12 + 4 */
            f.tile_threads = th;
            ck_assert_msg(fwd_chunk(&f, toks, n, g, NULL) == 0, "%s", f.err.msg);
            ck_assert_msg(max_abs_diff(a, g, nl) <= 1e-5f, "%s: gemm16 (%d threads) vs tiles %g",
                          dts[d], th, max_abs_diff(a, g, nl));
            f.tile_threads = 1;
        }
        free(g);
        for (int i = 0; i < m.n_tensors; i++)
            if (m.tensors[i].ndim == 2)
                ck_assert_msg(m.tensors[i].f32 == NULL, "%s converted whole", m.tensors[i].name);
        for (int i = 0; i < m.n_tensors; i++)
            ck_assert_ptr_nonnull(qtensor_f32_orig(&m.tensors[i])); /* now whole copies */
        ck_assert_int_eq(fwd_chunk(&f, toks, n, c, NULL), 0);
        ck_assert_int_eq(fwd_ref_chunk(&m, toks, n, 1, r, &err), 0);
        ck_assert_msg(max_abs_diff(a, c, nl) <= 1e-5f, "%s: tiled vs whole %g", dts[d],
                      max_abs_diff(a, c, nl));
        ck_assert_msg(max_abs_diff(a, r, nl) <= 1e-4f, "%s: tiled vs reference %g", dts[d],
                      max_abs_diff(a, r, nl));
        ck_assert_float_ne(a[0], a[1]);
        fwd_free(&f);
        qmodel_close(&m);
        free(a); free(c); free(r);
    }
    free(toks);
}
END_TEST

/* A model of 1M weights per block or more (dim 320, hidden 864, F16)
 * runs gemm16 by default where it is built; its logits equal the tiled
 * path's and the plain reference's. */
START_TEST(test_gemm16_default)
{
    const char *path = tu_tmpfile("g16.gguf");
    tu_genmodel(path, "--format gguf --dim 320 --hidden 864 --layers 1 --heads 4 --kv-heads 2 "
                "--vocab 300 --ctx 64 --seed 3 --dtype f16");
    struct qmodel m;
    struct fwd f;
    struct qerr err = {0};
    ck_assert_msg(qmodel_open(&m, path, &err) == 0, "%s", err.msg);
    int n = 21;
    int *toks = random_tokens(n, 300, 5);
    size_t nl = (size_t)n * 300;
    float *a = malloc(nl * sizeof(float)), *t = malloc(nl * sizeof(float));
    float *r = malloc(nl * sizeof(float));
    ck_assert_int_eq(fwd_init(&f, &m, n, &err), 0);
    ck_assert_int_eq(f.use_gemm16, gemm16_available());
    ck_assert_int_eq(fwd_prepare(&f), 0);
    ck_assert_msg(fwd_chunk(&f, toks, n, a, NULL) == 0, "%s", f.err.msg);
    f.use_gemm16 = 0;
    ck_assert_msg(fwd_chunk(&f, toks, n, t, NULL) == 0, "%s", f.err.msg);
    ck_assert_int_eq(fwd_ref_chunk(&m, toks, n, 1, r, &err), 0);
    ck_assert_msg(max_abs_diff(a, t, nl) <= 1e-5f, "default vs tiles %g", max_abs_diff(a, t, nl));
    ck_assert_msg(max_abs_diff(a, r, nl) <= 1e-4f, "default vs reference %g",
                  max_abs_diff(a, r, nl));
    ck_assert_float_ne(a[0], a[1]);
    fwd_free(&f);
    qmodel_close(&m);
    free(a); free(t); free(r); free(toks);
}
END_TEST

START_TEST(test_flops)
{
    struct qconfig c = {.dim = 768, .hidden_dim = 2048, .n_layers = 12, .n_heads = 12,
                        .n_kv_heads = 12, .head_dim = 64, .vocab_size = 32000};
    double per_tok_w = 2.0 * 12 * (4 * 768.0 * 768 + 3 * 768.0 * 2048);
    double fl = fwd_flops(&c, 1, 0);
    ck_assert(fabs(fl - per_tok_w - 12 * 4.0 * 768) < 1.0);
    ck_assert(fabs(fwd_flops(&c, 1, 1) - fl - 2.0 * 768 * 32000) < 1.0);
}
END_TEST

static Suite *forward_suite(void)
{
    Suite *s = suite_create("forward");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_bad_args);
    tcase_add_test(tc, test_ref_bin);
    tcase_add_test(tc, test_ref_gguf);
    tcase_add_test(tc, test_ref_one_token);
    tcase_add_test(tc, test_ref_block_edge);
    tcase_add_test(tc, test_att_threads);
    tcase_add_test(tc, test_gemm16_default);
    tcase_add_test(tc, test_bin_vs_gguf);
    tcase_add_test(tc, test_causal_and_from);
    tcase_add_test(tc, test_step_cache);
    tcase_add_test(tc, test_layer_streaming);
    tcase_add_test(tc, test_overrides);
    tcase_add_test(tc, test_hooks);
    tcase_add_test(tc, test_synthetic_variants);
    tcase_add_test(tc, test_rope_styles_differ);
    tcase_add_test(tc, test_formats_agree);
    tcase_add_test(tc, test_tiled_weights);
    tcase_add_test(tc, test_flops);
    tcase_add_test(tc, test_families);
    tcase_add_test(tc, test_phi3_split_equals_unfused);
    tcase_add_test(tc, test_llama3_divisors);
    tcase_add_test(tc, test_gemma3_multimodal);
    tcase_add_test(tc, test_export_families);
    tcase_add_test(tc, test_synthetic_features);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(forward_suite());
}
