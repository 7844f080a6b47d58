/* forward_ref: the plain per-token reference of the forward pass.
 *
 * A direct transcription of llama2.c's run.c forward(): one token at a
 * time, a KV cache, scalar loops, no BLAS.  Extended only where the model
 * family needs it (Qwen2 q/k/v biases, rotate-half RoPE, separate output
 * matrix; RoPE scaling divisors; Qwen3/Gemma 3 q/k norms; Gemma's
 * embedding scale, GeGLU, post-norms, soft-capping, sliding window and
 * local theta).  Every feature is written out here in the plainest form,
 * independently of src/forward.c.  tests/check_forward.c compares the batched src/forward.c
 * against it; keep it obviously correct rather than fast. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/forward.h"

struct ref_state {
    const struct qconfig *c;
    int q_dim, kv_dim, n;
    float *x, *xb, *xb2, *q, *k, *v, *att, *hb, *hb2; /* one token */
    float *kc, *vc;      /* (n_layers, n, kv_dim) caches */
};

static void ref_rmsnorm(float *o, const float *x, const float *w, int d, float eps)
{
    float ss = 0.0f;
    for (int j = 0; j < d; j++)
        ss += x[j] * x[j];
    ss = 1.0f / sqrtf(ss / d + eps);
    for (int j = 0; j < d; j++)
        o[j] = w[j] * (ss * x[j]);
}

/* xout (d) = W (d, n) @ x (n) */
static void ref_matmul(float *xout, const float *x, const float *w, int n, int d)
{
    for (int i = 0; i < d; i++) {
        float val = 0.0f;
        for (int j = 0; j < n; j++)
            val += w[(size_t)i * n + j] * x[j];
        xout[i] = val;
    }
}

static void ref_softmax(float *x, int size)
{
    float max_val = x[0];
    for (int i = 1; i < size; i++)
        if (x[i] > max_val)
            max_val = x[i];
    float sum = 0.0f;
    for (int i = 0; i < size; i++) {
        x[i] = expf(x[i] - max_val);
        sum += x[i];
    }
    for (int i = 0; i < size; i++)
        x[i] /= sum;
}

/* Rotate one head vector (hd) at position pos; div: per-frequency
 * scaling divisors or NULL. */
static void ref_rope(float *v, int hd, int pos, float theta, const float *div, enum qrope style)
{
    for (int i = 0; i < hd / 2; i++) {
        float freq = 1.0f / powf(theta, (float)(2 * i) / (float)hd);
        if (div)
            freq = freq / div[i];
        float val = (float)pos * freq;
        float fcr = cosf(val), fci = sinf(val);
        int a = style == QROPE_HALF ? i : 2 * i;
        int b = style == QROPE_HALF ? i + hd / 2 : 2 * i + 1;
        float v0 = v[a], v1 = v[b];
        v[a] = v0 * fcr - v1 * fci;
        v[b] = v0 * fci + v1 * fcr;
    }
}

static const float *ref_w(struct qtensor *t, int ov)
{
    return t ? (ov ? qtensor_f32(t) : qtensor_f32_orig(t)) : NULL;
}

static void ref_attention(struct ref_state *s, int l, int pos)
{
    const struct qconfig *c = s->c;
    int hd = c->head_dim, kv_mul = c->n_heads / c->n_kv_heads;
    /* sliding window: key t is visible when pos - t < window */
    int first = 0;
    if (qconfig_layer_is_local(c, l) && pos - c->swa_window + 1 > 0)
        first = pos - c->swa_window + 1;
    float *kc = s->kc + (size_t)l * s->n * s->kv_dim;
    float *vc = s->vc + (size_t)l * s->n * s->kv_dim;
    for (int h = 0; h < c->n_heads; h++) {
        const float *q = s->q + h * hd;
        float *att = s->att;
        for (int t = first; t <= pos; t++) {
            const float *k = kc + (size_t)t * s->kv_dim + (h / kv_mul) * hd;
            float score = 0.0f;
            for (int i = 0; i < hd; i++)
                score += q[i] * k[i];
            if (c->attn_scale > 0)
                score = score * c->attn_scale;
            else
                score = score / sqrtf((float)hd);
            if (c->attn_softcap > 0)
                score = c->attn_softcap * tanhf(score / c->attn_softcap);
            att[t - first] = score;
        }
        ref_softmax(att, pos + 1 - first);
        float *xb = s->xb + h * hd;
        memset(xb, 0, (size_t)hd * sizeof(float));
        for (int t = first; t <= pos; t++) {
            const float *v = vc + (size_t)t * s->kv_dim + (h / kv_mul) * hd;
            for (int i = 0; i < hd; i++)
                xb[i] += att[t - first] * v[i];
        }
    }
}

static void ref_add_bias(float *y, struct qtensor *b, int ov, int d)
{
    const float *bb = ref_w(b, ov);
    if (bb)
        for (int i = 0; i < d; i++)
            y[i] += bb[i];
}

/* o (d) = (x + rmsnorm(y) * w) when w, else x + y: the residual add, with
 * Gemma's post-norm of the block output. */
static void ref_residual(float *x, float *y, const float *w, int d, float eps)
{
    if (w)
        ref_rmsnorm(y, y, w, d, eps);
    for (int i = 0; i < d; i++)
        x[i] += y[i];
}

/* q (n_h * hd) and the new key: RMSNorm of each head with w (hd). */
static void ref_head_norm(float *v, int n_h, int hd, const float *w, float eps)
{
    for (int h = 0; h < n_h; h++)
        ref_rmsnorm(v + h * hd, v + h * hd, w, hd, eps);
}

static int ref_layer(struct ref_state *s, struct qmodel *m, int l, int pos, int ov)
{
    const struct qconfig *c = s->c;
    int dim = c->dim, hd = c->head_dim;
    const float *an = ref_w(qmodel_get(m, l, QR_ATTN_NORM), ov);
    const float *wq = ref_w(qmodel_get(m, l, QR_ATTN_Q), ov);
    const float *wk = ref_w(qmodel_get(m, l, QR_ATTN_K), ov);
    const float *wv = ref_w(qmodel_get(m, l, QR_ATTN_V), ov);
    const float *wo = ref_w(qmodel_get(m, l, QR_ATTN_OUT), ov);
    const float *fn = ref_w(qmodel_get(m, l, QR_FFN_NORM), ov);
    const float *w1 = ref_w(qmodel_get(m, l, QR_FFN_GATE), ov);
    const float *w2 = ref_w(qmodel_get(m, l, QR_FFN_DOWN), ov);
    const float *w3 = ref_w(qmodel_get(m, l, QR_FFN_UP), ov);
    if (!an || !wq || !wk || !wv || !wo || !fn || !w1 || !w2 || !w3)
        return -1;
    const float *qn = NULL, *kn = NULL, *pa = NULL, *pf = NULL;
    if (c->qk_norm) {
        qn = ref_w(qmodel_get(m, l, QR_ATTN_Q_NORM), ov);
        kn = ref_w(qmodel_get(m, l, QR_ATTN_K_NORM), ov);
        if (!qn || !kn)
            return -1;
    }
    if (c->post_norms) {
        pa = ref_w(qmodel_get(m, l, QR_ATTN_POST_NORM), ov);
        pf = ref_w(qmodel_get(m, l, QR_FFN_POST_NORM), ov);
        if (!pa || !pf)
            return -1;
    }
    int local = qconfig_layer_is_local(c, l);
    float theta = local && c->rope_theta_local > 0 ? c->rope_theta_local : c->rope_theta;
    const float *div = !local && c->has_rope_div ? c->rope_div : NULL;
    float *kc = s->kc + ((size_t)l * s->n + pos) * s->kv_dim;
    float *vc = s->vc + ((size_t)l * s->n + pos) * s->kv_dim;
    ref_rmsnorm(s->xb, s->x, an, dim, c->norm_eps);
    ref_matmul(s->q, s->xb, wq, dim, s->q_dim);
    ref_matmul(kc, s->xb, wk, dim, s->kv_dim);
    ref_matmul(vc, s->xb, wv, dim, s->kv_dim);
    ref_add_bias(s->q, qmodel_get(m, l, QR_ATTN_Q_BIAS), ov, s->q_dim);
    ref_add_bias(kc, qmodel_get(m, l, QR_ATTN_K_BIAS), ov, s->kv_dim);
    ref_add_bias(vc, qmodel_get(m, l, QR_ATTN_V_BIAS), ov, s->kv_dim);
    if (qn) {
        ref_head_norm(s->q, c->n_heads, hd, qn, c->norm_eps);
        ref_head_norm(kc, c->n_kv_heads, hd, kn, c->norm_eps);
    }
    for (int h = 0; h < c->n_heads; h++)
        ref_rope(s->q + h * hd, hd, pos, theta, div, c->rope_style);
    for (int h = 0; h < c->n_kv_heads; h++)
        ref_rope(kc + h * hd, hd, pos, theta, div, c->rope_style);
    ref_attention(s, l, pos);
    ref_matmul(s->xb2, s->xb, wo, s->q_dim, dim);
    ref_residual(s->x, s->xb2, pa, dim, c->norm_eps);
    ref_rmsnorm(s->xb, s->x, fn, dim, c->norm_eps);
    ref_matmul(s->hb, s->xb, w1, dim, c->hidden_dim);
    ref_matmul(s->hb2, s->xb, w3, dim, c->hidden_dim);
    for (int i = 0; i < c->hidden_dim; i++) {
        float val = s->hb[i];
        if (c->act == QACT_GELU_TANH) /* tanh approximation of gelu */
            val = 0.5f * val * (1.0f + tanhf(sqrtf(2.0f / (float)M_PI) *
                                             (val + 0.044715f * val * val * val)));
        else
            val *= 1.0f / (1.0f + expf(-val));
        s->hb[i] = val * s->hb2[i];
    }
    ref_matmul(s->xb, s->hb, w2, c->hidden_dim, dim);
    ref_residual(s->x, s->xb, pf, dim, c->norm_eps);
    return 0;
}

static int ref_token(struct ref_state *s, struct qmodel *m, int tok, int pos, int ov,
                     float *logits)
{
    const struct qconfig *c = s->c;
    struct qtensor *emb = qmodel_get(m, -1, QR_TOK_EMBD);
    struct qtensor *out = c->tied_output ? emb : qmodel_get(m, -1, QR_OUTPUT);
    const float *e = ref_w(emb, ov), *on = ref_w(qmodel_get(m, -1, QR_OUT_NORM), ov);
    const float *wcls = ref_w(out, ov);
    if (!e || !on || !wcls)
        return -1;
    memcpy(s->x, e + (size_t)tok * c->dim, (size_t)c->dim * sizeof(float));
    for (int i = 0; c->embd_scale > 0 && i < c->dim; i++)
        s->x[i] *= c->embd_scale;
    for (int l = 0; l < c->n_layers; l++)
        if (ref_layer(s, m, l, pos, ov) < 0)
            return -1;
    ref_rmsnorm(s->x, s->x, on, c->dim, c->norm_eps);
    ref_matmul(logits, s->x, wcls, c->dim, c->vocab_size);
    for (int i = 0; c->final_softcap > 0 && i < c->vocab_size; i++)
        logits[i] = c->final_softcap * tanhf(logits[i] / c->final_softcap);
    return 0;
}

int fwd_ref_chunk(struct qmodel *m, const int *tokens, int n, int use_overrides,
                  float *logits, struct qerr *err)
{
    const struct qconfig *c = &m->cfg;
    struct ref_state s = {.c = c, .n = n};
    s.q_dim = c->n_heads * c->head_dim;
    s.kv_dim = c->n_kv_heads * c->head_dim;
    if (n < 1)
        return qerr_set(err, QERR_ARG, "forward (reference): empty chunk");
    int wide = c->dim > s.q_dim ? c->dim : s.q_dim;
    s.x = calloc((size_t)c->dim, sizeof(float));
    s.xb = calloc((size_t)wide, sizeof(float));
    s.xb2 = calloc((size_t)c->dim, sizeof(float));
    s.q = calloc((size_t)s.q_dim, sizeof(float));
    s.att = calloc((size_t)n, sizeof(float));
    s.hb = calloc((size_t)c->hidden_dim, sizeof(float));
    s.hb2 = calloc((size_t)c->hidden_dim, sizeof(float));
    s.kc = calloc((size_t)c->n_layers * n * s.kv_dim, sizeof(float));
    s.vc = calloc((size_t)c->n_layers * n * s.kv_dim, sizeof(float));
    int rc = 0;
    if (!s.x || !s.xb || !s.xb2 || !s.q || !s.att || !s.hb || !s.hb2 || !s.kc || !s.vc)
        rc = qerr_set(err, QERR_NOMEM, "forward (reference): out of memory");
    for (int p = 0; p < n && !rc; p++) {
        if (tokens[p] < 0 || tokens[p] >= c->vocab_size)
            rc = qerr_set(err, QERR_ARG, "forward (reference): token %d at position %d "
                          "outside the vocabulary (%d)", tokens[p], p, c->vocab_size);
        else if (ref_token(&s, m, tokens[p], p, use_overrides,
                           logits + (size_t)p * c->vocab_size) < 0)
            rc = qerr_set(err, QERR_NOMEM, "forward (reference): weights unavailable "
                          "(out of memory or missing tensor)");
    }
    free(s.x); free(s.xb); free(s.xb2); free(s.q); free(s.att);
    free(s.hb); free(s.hb2); free(s.kc); free(s.vc);
    return rc;
}
