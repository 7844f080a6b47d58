/* forward: batched forward pass on OpenBLAS (see forward.h for semantics).
 *
 * Every projection is one cblas_sgemm over the whole chunk; attention runs
 * per head on blocks of query rows so the causal upper triangle is mostly
 * skipped: query block [r0, r1) only needs keys [0, r1).  K/V of a group are
 * read in place (leading dimension kv_dim) by each of its query heads. */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/fastmath.h"
#include "src/forward.h"
#include "src/gemm16.h"

/* Below this many weights per block, OpenBLAS's thread hand-off costs more
 * than the matmuls (stories260K: 50K weights per block, ~30% of the time in
 * sched_yield at 2 threads); such models run BLAS single-threaded. */
#define FWD_SMALL_BLOCK_WEIGHTS (1 << 20)

/* Floats of one weight tile: F16/BF16/quantized weights are converted a
 * block of rows at a time into f->wtile and multiplied from there, so no
 * float copy of the model stays resident.  4 MB: big enough for sgemm to
 * run near peak on each tile, small enough to stay in L2/L3. */
#define FWD_TILE_FLOATS (1 << 20)

/* From this many rows of x, F16/BF16 products run through gemm16: its
 * conversion of a weight panel is shared by all the rows, while a few rows
 * (generation steps) read each weight about once and gain nothing. */
#define FWD_GEMM16_MIN_N 8

/* Query rows per attention block: small enough to skip most of the masked
 * triangle, large enough for sgemm to run near peak. */
#define FWD_ATT_BLOCK 64

static void *fwd_alloc(size_t nfloat)
{
    /* 64-byte alignment: whole cache lines for sgemm packing and AVX-512. */
    void *p = NULL;
    size_t bytes = (nfloat ? nfloat : 1) * sizeof(float);
    bytes = (bytes + 63) & ~(size_t)63;
    if (posix_memalign(&p, 64, bytes) != 0)
        return NULL;
    return p;
}

static const float *fwd_w(const struct fwd *f, struct qtensor *t)
{
    if (!t)
        return NULL;
    if (f->use_overrides && t == f->ovr_t)
        return f->ovr_w;
    return f->use_overrides ? qtensor_f32(t) : qtensor_f32_orig(t);
}

/* The floats of t that exist without converting: this context's override
 * (fwd_set_override), else qtensor_f32_direct's. */
static const float *fwd_direct(const struct fwd *f, const struct qtensor *t)
{
    if (f->use_overrides && t == f->ovr_t)
        return f->ovr_w;
    return qtensor_f32_direct(t, f->use_overrides);
}

/* ---- setup ---- */

static int check_shape(struct qtensor *t, int64_t rows, int64_t cols, const char *what,
                       int layer, struct qerr *err)
{
    if (!t)
        return qerr_set(err, QERR_FORMAT, "forward: layer %d: tensor %s missing", layer, what);
    if (qtensor_rows(t) != rows || qtensor_cols(t) != cols)
        return qerr_set(err, QERR_FORMAT, "forward: %s is %lld x %lld, expected %lld x %lld",
                        t->name, (long long)qtensor_rows(t), (long long)qtensor_cols(t),
                        (long long)rows, (long long)cols);
    return 0;
}

static int bind_layer(struct fwd *f, int l, struct qerr *err)
{
    struct qmodel *m = f->m;
    const struct qconfig *c = &f->cfg;
    struct fwd_layer *L = &f->layers[l];
    L->attn_norm = qmodel_get(m, l, QR_ATTN_NORM);
    L->wq = qmodel_get(m, l, QR_ATTN_Q);
    L->wk = qmodel_get(m, l, QR_ATTN_K);
    L->wv = qmodel_get(m, l, QR_ATTN_V);
    L->wo = qmodel_get(m, l, QR_ATTN_OUT);
    L->ffn_norm = qmodel_get(m, l, QR_FFN_NORM);
    L->w1 = qmodel_get(m, l, QR_FFN_GATE);
    L->w2 = qmodel_get(m, l, QR_FFN_DOWN);
    L->w3 = qmodel_get(m, l, QR_FFN_UP);
    L->bq = qmodel_get(m, l, QR_ATTN_Q_BIAS);
    L->bk = qmodel_get(m, l, QR_ATTN_K_BIAS);
    L->bv = qmodel_get(m, l, QR_ATTN_V_BIAS);
    L->q_norm = c->qk_norm ? qmodel_get(m, l, QR_ATTN_Q_NORM) : NULL;
    L->k_norm = c->qk_norm ? qmodel_get(m, l, QR_ATTN_K_NORM) : NULL;
    L->post_attn = c->post_norms ? qmodel_get(m, l, QR_ATTN_POST_NORM) : NULL;
    L->post_ffn = c->post_norms ? qmodel_get(m, l, QR_FFN_POST_NORM) : NULL;
    L->local = qconfig_layer_is_local(c, l);
    int rc = 0;
    if (!rc) rc = check_shape(L->attn_norm, 1, c->dim, "attn_norm", l, err);
    if (!rc) rc = check_shape(L->wq, f->q_dim, c->dim, "attn_q", l, err);
    if (!rc) rc = check_shape(L->wk, f->kv_dim, c->dim, "attn_k", l, err);
    if (!rc) rc = check_shape(L->wv, f->kv_dim, c->dim, "attn_v", l, err);
    if (!rc) rc = check_shape(L->wo, c->dim, f->q_dim, "attn_output", l, err);
    if (!rc) rc = check_shape(L->ffn_norm, 1, c->dim, "ffn_norm", l, err);
    if (!rc) rc = check_shape(L->w1, c->hidden_dim, c->dim, "ffn_gate", l, err);
    if (!rc) rc = check_shape(L->w3, c->hidden_dim, c->dim, "ffn_up", l, err);
    if (!rc) rc = check_shape(L->w2, c->dim, c->hidden_dim, "ffn_down", l, err);
    if (!rc && L->bq) rc = check_shape(L->bq, 1, f->q_dim, "attn_q_bias", l, err);
    if (!rc && L->bk) rc = check_shape(L->bk, 1, f->kv_dim, "attn_k_bias", l, err);
    if (!rc && L->bv) rc = check_shape(L->bv, 1, f->kv_dim, "attn_v_bias", l, err);
    if (!rc && c->qk_norm) rc = check_shape(L->q_norm, 1, c->head_dim, "attn_q_norm", l, err);
    if (!rc && c->qk_norm) rc = check_shape(L->k_norm, 1, c->head_dim, "attn_k_norm", l, err);
    if (!rc && c->post_norms)
        rc = check_shape(L->post_attn, 1, c->dim, "post_attention_norm", l, err);
    if (!rc && c->post_norms) rc = check_shape(L->post_ffn, 1, c->dim, "post_ffw_norm", l, err);
    return rc;
}

static int check_config(const struct qconfig *c, int max_tokens, struct qerr *err)
{
    if (c->dim <= 0 || c->hidden_dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0 ||
        c->n_kv_heads <= 0 || c->head_dim <= 0 || c->vocab_size <= 0)
        return qerr_set(err, QERR_FORMAT, "forward: model config has a zero dimension");
    if (c->n_heads % c->n_kv_heads)
        return qerr_set(err, QERR_FORMAT, "forward: n_heads %d not a multiple of n_kv_heads %d",
                        c->n_heads, c->n_kv_heads);
    if (c->head_dim % 2)
        return qerr_set(err, QERR_UNSUPP, "forward: odd head_dim %d (RoPE needs pairs)",
                        c->head_dim);
    if (c->head_dim > 2 * QM_ROPE_MAX_PAIRS)
        return qerr_set(err, QERR_UNSUPP, "forward: head_dim %d above %d", c->head_dim,
                        2 * QM_ROPE_MAX_PAIRS);
    if (max_tokens < 1 || max_tokens > (1 << 20))
        return qerr_set(err, QERR_ARG, "forward: max_tokens %d out of range", max_tokens);
    return 0;
}

/* cos/sin of pos * theta^(-2i/head_dim), as llama2.c computes them,
 * divided by the scaling divisor of frequency i when `div` is given. */
static void rope_table(float *cs, float *sn, int T, int hd, float theta, const float *div)
{
    int half = hd / 2;
    for (int i = 0; i < half; i++) {
        float freq = 1.0f / powf(theta, (float)(2 * i) / (float)hd);
        if (div)
            freq /= div[i];
        for (int p = 0; p < T; p++) {
            float val = (float)p * freq;
            cs[(size_t)p * half + i] = cosf(val);
            sn[(size_t)p * half + i] = sinf(val);
        }
    }
}

/* Local layers (sliding window) use their own theta and no scaling. */
static int local_rope_differs(const struct qconfig *c)
{
    int any_local = 0;
    for (int l = 0; l < c->n_layers && !any_local; l++)
        any_local = qconfig_layer_is_local(c, l);
    float tl = c->rope_theta_local > 0 ? c->rope_theta_local : c->rope_theta;
    return any_local && (c->has_rope_div || tl != c->rope_theta);
}

static void rope_tables(struct fwd *f)
{
    const struct qconfig *c = &f->cfg;
    rope_table(f->rope_cos, f->rope_sin, f->max_tokens, c->head_dim, c->rope_theta,
               c->has_rope_div ? c->rope_div : NULL);
    if (f->rope_cos_l != f->rope_cos)
        rope_table(f->rope_cos_l, f->rope_sin_l, f->max_tokens, c->head_dim,
                   c->rope_theta_local > 0 ? c->rope_theta_local : c->rope_theta, NULL);
}

static int alloc_scratch(struct fwd *f)
{
    size_t T = (size_t)f->max_tokens;
    const struct qconfig *c = &f->cfg;
    size_t wide = (size_t)(c->dim > f->q_dim ? c->dim : f->q_dim);
    f->x = fwd_alloc(T * c->dim);
    f->xb = fwd_alloc(T * wide);
    f->q = fwd_alloc(T * f->q_dim);
    f->k = fwd_alloc(T * f->kv_dim);
    f->v = fwd_alloc(T * f->kv_dim);
    f->att = fwd_alloc((T < FWD_ATT_BLOCK ? T : FWD_ATT_BLOCK) * T);
    f->hb = fwd_alloc(T * c->hidden_dim);
    f->hb2 = fwd_alloc(T * c->hidden_dim);
    f->rope_cos = fwd_alloc(T * (c->head_dim / 2));
    f->rope_sin = fwd_alloc(T * (c->head_dim / 2));
    f->rope_cos_l = f->rope_cos;
    f->rope_sin_l = f->rope_sin;
    if (local_rope_differs(c)) {
        f->rope_cos_l = fwd_alloc(T * (c->head_dim / 2));
        f->rope_sin_l = fwd_alloc(T * (c->head_dim / 2));
    }
    if (c->post_norms && !(f->tmp = fwd_alloc(T * c->dim)))
        return -1;
    size_t in_max = wide > (size_t)c->hidden_dim ? wide : (size_t)c->hidden_dim;
    f->tile_rows = (int)(FWD_TILE_FLOATS / in_max);
    f->tile_rows = f->tile_rows < 16 ? 16 : f->tile_rows;
    f->wtile = fwd_alloc((size_t)f->tile_rows * in_max);
    if (sysconf(_SC_NPROCESSORS_ONLN) >= 2)
        f->wtile2 = fwd_alloc((size_t)f->tile_rows * in_max); /* NULL: one thread */
    return f->x && f->xb && f->q && f->k && f->v && f->att && f->hb && f->hb2 &&
           f->rope_cos && f->rope_sin && f->rope_cos_l && f->rope_sin_l && f->wtile ? 0 : -1;
}

int fwd_init(struct fwd *f, struct qmodel *m, int max_tokens, struct qerr *err)
{
    memset(f, 0, sizeof *f);
    f->m = m;
    f->cfg = m->cfg;
    f->max_tokens = max_tokens;
    f->use_overrides = 1;
    const struct qconfig *c = &f->cfg;
    int rc = check_config(c, max_tokens, err);
    if (rc)
        return rc;
    f->q_dim = c->n_heads * c->head_dim;
    f->kv_dim = c->n_kv_heads * c->head_dim;
    f->layers = calloc((size_t)c->n_layers, sizeof *f->layers);
    if (!f->layers)
        return qerr_set(err, QERR_NOMEM, "forward: out of memory");
    for (int l = 0; l < c->n_layers && !rc; l++)
        rc = bind_layer(f, l, err);
    f->tok_embd = qmodel_get(m, -1, QR_TOK_EMBD);
    f->out_norm = qmodel_get(m, -1, QR_OUT_NORM);
    f->output = c->tied_output ? f->tok_embd : qmodel_get(m, -1, QR_OUTPUT);
    if (!f->output)
        f->output = f->tok_embd; /* GGUF files may omit `output` when tied */
    if (!rc) rc = check_shape(f->tok_embd, c->vocab_size, c->dim, "token_embd", -1, err);
    if (!rc) rc = check_shape(f->out_norm, 1, c->dim, "output_norm", -1, err);
    if (!rc) rc = check_shape(f->output, c->vocab_size, c->dim, "output", -1, err);
    if (!rc && alloc_scratch(f) < 0)
        rc = qerr_set(err, QERR_NOMEM, "forward: out of memory for %d-token scratch", max_tokens);
    if (rc) {
        fwd_free(f);
        return rc;
    }
    rope_tables(f);
    double per_block = (double)c->dim * (2 * f->q_dim + 2 * f->kv_dim) + 3.0 * c->dim * c->hidden_dim;
    f->blas_threads = per_block < FWD_SMALL_BLOCK_WEIGHTS ? 1 : 0;
    /* Small models keep the tiles: there one tile holds a whole matrix, so
     * the product is the same sgemm call as on a float copy, bit for bit
     * (an exported plan's F16 tensors evaluate to exactly the numbers
     * `quant --plan` printed); gemm16 sums in another order. */
    f->use_gemm16 = gemm16_available() && per_block >= FWD_SMALL_BLOCK_WEIGHTS;
    if (sysconf(_SC_NPROCESSORS_ONLN) >= 2) { /* small: one block of scores */
        size_t T = (size_t)max_tokens;
        f->att2 = fwd_alloc((T < FWD_ATT_BLOCK ? T : FWD_ATT_BLOCK) * T);
        f->att_threads = f->att2 && !f->blas_threads ? 2 : 1;
        f->tile_threads = f->wtile2 && !f->blas_threads ? 2 : 1;
    }
    return 0;
}

/* Apply the BLAS thread policy for one pass; returns the setting to restore. */
static int blas_enter(const struct fwd *f)
{
    int prev = openblas_get_num_threads();
    if (f->blas_threads > 0 && f->blas_threads != prev)
        openblas_set_num_threads(f->blas_threads);
    return prev;
}

static void blas_leave(const struct fwd *f, int prev)
{
    if (f->blas_threads > 0 && f->blas_threads != prev)
        openblas_set_num_threads(prev);
}

void fwd_free(struct fwd *f)
{
    free(f->layers);
    free(f->x); free(f->xb); free(f->q); free(f->k); free(f->v); free(f->att);
    if (f->rope_cos_l != f->rope_cos)
        free(f->rope_cos_l);
    if (f->rope_sin_l != f->rope_sin)
        free(f->rope_sin_l);
    free(f->hb); free(f->hb2); free(f->rope_cos); free(f->rope_sin); free(f->att2);
    free(f->tmp);
    f->tmp = f->rope_cos_l = f->rope_sin_l = NULL;
    free(f->wtile);
    free(f->wtile2);
    f->wtile = f->wtile2 = NULL;
    f->layers = NULL;
    f->att2 = NULL;
    f->x = f->xb = f->q = f->k = f->v = f->att = f->hb = f->hb2 = NULL;
    f->rope_cos = f->rope_sin = NULL;
}

static int touch(struct qtensor *t)
{
    if (!t)
        return 0;
    return qtensor_f32_orig(t) && qtensor_f32(t) ? 0 : -1;
}

/* Matrices (embedding, projections, output) are read in tiles and never
 * converted here: only the vectors (norms, biases), a few KB each. */
int fwd_prepare(struct fwd *f)
{
    int bad = touch(f->out_norm);
    for (int l = 0; l < f->cfg.n_layers; l++) {
        struct fwd_layer *L = &f->layers[l];
        struct qtensor *ts[] = {L->attn_norm, L->bq, L->bk, L->bv, L->ffn_norm,
                                L->q_norm, L->k_norm, L->post_attn, L->post_ffn};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
            bad |= touch(ts[i]);
    }
    return bad ? qerr_set(&f->err, QERR_NOMEM, "forward: out of memory converting weights") : 0;
}

void fwd_use_overrides(struct fwd *f, int on)
{
    f->use_overrides = on ? 1 : 0;
}

void fwd_set_override(struct fwd *f, const struct qtensor *t, const float *w)
{
    f->ovr_t = t && w ? t : NULL;
    f->ovr_w = t && w ? w : NULL;
}

/* ---- kernels ---- */

/* o (n, d) = rmsnorm of each row of x (n, d) times w (d).  o may be x.
 * Returns non-zero when a row's sum of squares is not finite: a NaN in the
 * residual stream, or values so large their squares overflow float32 (the
 * norm would then quietly turn them into zeros, and the pass would go on to
 * a plausible perplexity of vocab_size). */
static int rmsnorm_rows(float *o, const float *x, const float *w, int n, int d, float eps)
{
    int bad = 0;
    for (int r = 0; r < n; r++) {
        const float *xr = x + (size_t)r * d;
        float *orow = o + (size_t)r * d;
        float ss = 0.0f;
        for (int j = 0; j < d; j++)
            ss += xr[j] * xr[j];
        bad |= !isfinite(ss);
        ss = 1.0f / sqrtf(ss / d + eps);
        for (int j = 0; j < d; j++)
            orow[j] = w[j] * (ss * xr[j]);
    }
    return bad;
}

/* Is every one of x[0..n) finite?  A NaN or inf has all exponent bits
 * set; an integer OR over the bits vectorizes (a float sum would not,
 * without -ffast-math), so the check costs a small fraction of the sgemm
 * that made the values. */
static int all_finite(const float *x, size_t n)
{
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        bad |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
    }
    return !bad;
}

/* Does t hold a NaN/inf (index into *at)?  Matrices without floats are
 * scanned tile by tile in wtile, so naming the culprit keeps the memory
 * bound; the tile is free here (no product is running). */
static int scan_nonfinite(struct fwd *f, struct qtensor *t, int64_t *at)
{
    const float *w = fwd_direct(f, t);
    if (!w && t->ndim < 2)
        w = fwd_w(f, t); /* a vector: already converted by fwd_prepare */
    int64_t rows = qtensor_rows(t), cols = qtensor_cols(t);
    for (int64_t r0 = 0; r0 < rows; r0 += w ? rows : f->tile_rows) {
        int64_t nr = w ? rows : (rows - r0 < f->tile_rows ? rows - r0 : f->tile_rows);
        const float *p = w;
        if (!p) {
            if (qtensor_read_rows(t, r0, nr, f->wtile))
                return 0;
            p = f->wtile;
        }
        for (int64_t k = 0; k < nr * cols; k++)
            if (!isfinite(p[k])) {
                *at = r0 * cols + k;
                return 1;
            }
    }
    return 0;
}

/* The first weight the pass reads that is NaN or infinite, to name it. */
static struct qtensor *first_nonfinite(struct fwd *f, int64_t *at)
{
    struct qtensor *ts[3] = {f->tok_embd, f->out_norm, f->output};
    for (int l = -1; l <= f->cfg.n_layers; l++) {
        const struct fwd_layer *L = l >= 0 && l < f->cfg.n_layers ? &f->layers[l] : NULL;
        struct qtensor *lt[16] = {0};
        int n = 0;
        if (L) {
            struct qtensor *all[16] = {L->attn_norm, L->wq, L->wk, L->wv, L->wo, L->bq, L->bk,
                                       L->bv, L->ffn_norm, L->w1, L->w2, L->w3, L->q_norm,
                                       L->k_norm, L->post_attn, L->post_ffn};
            memcpy(lt, all, sizeof lt);
            n = 16;
        } else {
            lt[0] = ts[l < 0 ? 0 : 1];
            lt[1] = l < 0 ? NULL : ts[2];
            n = 2;
        }
        for (int i = 0; i < n; i++) {
            struct qtensor *t = lt[i];
            if (t && scan_nonfinite(f, t, at))
                return t;
        }
    }
    return NULL;
}

/* "NaN" or "infinite": element `at` of t, read alone (a block's worth). */
static const char *nonfinite_kind(struct fwd *f, const struct qtensor *t, int64_t at)
{
    int64_t cols = qtensor_cols(t);
    const float *w = fwd_direct(f, t);
    float v;
    if (w)
        v = w[at];
    else if (t->ndim < 2)
        v = fwd_w(f, (struct qtensor *)t)[at];
    else if (!qtensor_read_rows(t, at / cols, 1, f->wtile))
        v = f->wtile[at % cols];
    else
        return "not finite";
    return isnan(v) ? "NaN" : "infinite";
}

/* A pass that met NaN or inf: a malformed model (exit 1), named by the
 * tensor that holds a non-finite weight, else by the overflow. */
static int nonfinite(struct fwd *f, int layer, const char *what)
{
    int64_t at = 0;
    const struct qtensor *t = first_nonfinite(f, &at);
    if (t)
        return qerr_set(&f->err, QERR_FORMAT, "tensor %s: weight %lld (row %lld) is %s; "
                        "the forward pass cannot use it", t->name, (long long)at,
                        (long long)(t->ndim > 1 ? at / t->shape[t->ndim - 1] : 0),
                        nonfinite_kind(f, t, at));
    return qerr_set(&f->err, QERR_FORMAT, "forward: layer %d: %s overflows float32 (NaN or "
                    "inf; the weights are too large): no meaningful result", layer, what);
}

/* Rows [r0, r1) of a tiled product: W's rows converted tile_rows at a
 * time into `tile`, each tile one sgemm into its columns of y (ldc = out). */
struct lin_job {
    const struct fwd *f;
    float *y;             /* (n, out)                                     */
    const float *x;       /* (n, in)                                      */
    struct qtensor *t;    /* W (out, in), not floats                      */
    float *tile;          /* (tile_rows, in)                              */
    int n, in, out, r0, r1;
    float beta;
    int g16;              /* 1: W's 16-bit rows multiplied in place       */
    int bad;              /* a tile could not be converted                */
};

/* The job's rows by gemm16, straight from the mapped 16-bit values. */
static void lin_rows16(struct lin_job *j)
{
    const uint16_t *w = (const uint16_t *)j->t->data + (size_t)j->r0 * j->in;
    enum g16_type ty = j->t->dtype == QD_BF16 ? G16_BF16 : G16_F16;
    if (j->r1 > j->r0 && gemm16(j->y + j->r0, (size_t)j->out, j->x, (size_t)j->in, j->n, j->in,
                                w, (size_t)j->in, j->r1 - j->r0, ty, j->beta))
        j->bad = 1;
}

static void *lin_rows(void *arg)
{
    struct lin_job *j = arg;
    if (j->g16) {
        lin_rows16(j);
        return NULL;
    }
    int tr = j->f->tile_rows;
    for (int r0 = j->r0; r0 < j->r1; r0 += tr) {
        int nr = j->r1 - r0 < tr ? j->r1 - r0 : tr;
        if (qtensor_read_rows(j->t, r0, nr, j->tile)) { /* tile: (nr, in) */
            j->bad = 1;
            return NULL;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->n, nr, j->in, 1.0f, j->x, j->in,
                    j->tile, j->in, j->beta, j->y + r0, j->out);
    }
    return NULL;
}

/* The tiled product on two threads, each with half of W's rows, its own
 * tile and single-threaded BLAS: while one converts a tile the other
 * multiplies, so the conversion no longer stalls both cores (with
 * OpenBLAS's own threads it ran alone between the sgemm calls).  Each
 * output element is the same single dot product as on one thread. */
static int lin_split(struct fwd *f, struct lin_job *j0)
{
    struct lin_job j1 = *j0;
    int mid = j0->r1 / 2;
    j0->r1 = j1.r0 = mid;
    j1.tile = f->wtile2;
    int prev = openblas_get_num_threads();
    if (prev != 1)
        openblas_set_num_threads(1);
    pthread_t th;
    int spawned = pthread_create(&th, NULL, lin_rows, &j1) == 0;
    lin_rows(j0);
    if (spawned)
        pthread_join(th, NULL);
    else
        lin_rows(&j1);
    if (prev != 1)
        openblas_set_num_threads(prev);
    return j0->bad || j1.bad;
}

/* Is t a matrix gemm16 multiplies in place (F16/BF16 as stored: no
 * offset added on reading, 16-bit aligned)? */
static int use_g16(const struct fwd *f, const struct qtensor *t, int n)
{
    return f->use_gemm16 && n >= FWD_GEMM16_MIN_N &&
           (t->dtype == QD_F16 || t->dtype == QD_BF16) && t->add == 0.0f && t->data &&
           (uintptr_t)t->data % sizeof(uint16_t) == 0 &&
           t->nbytes >= (size_t)qtensor_rows(t) * qtensor_cols(t) * sizeof(uint16_t);
}

/* y (n, out) = x (n, in) Wᵀ, W (out, in) the weights of t; beta 1
 * accumulates into y.  Floats that exist (override, aligned F32, a copy
 * made elsewhere) go to one sgemm; F16/BF16 go to gemm16 (use_g16); other
 * types are converted tile_rows rows at a time (lin_rows).  Both of the
 * last two run on two threads, half of W's rows each, when tile_threads
 * is 2.  Returns 0, or -1 when the weights cannot be read. */
static int linear(struct fwd *f, float *y, const float *x, struct qtensor *t, int n, int in,
                  int out, float beta)
{
    const float *W = fwd_direct(f, t);
    if (W) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, W, in,
                    beta, y, out);
        return 0;
    }
    struct lin_job j = {f, y, x, t, f->wtile, n, in, out, 0, out, beta, use_g16(f, t, n), 0};
    int bad = f->tile_threads >= 2 && f->wtile2 && out >= 32 ? lin_split(f, &j)
                                                             : (lin_rows(&j), j.bad);
    if (bad)
        return qerr_set(&f->err, QERR_UNSUPP, "forward: cannot convert %s (%s) to float",
                        t->name, qdtype_name(t->dtype));
    return 0;
}

static void add_bias(float *y, const float *b, int n, int d)
{
    if (!b)
        return;
    for (int r = 0; r < n; r++)
        for (int j = 0; j < d; j++)
            y[(size_t)r * d + j] += b[j];
}

/* Rotate n rows (stride ld) of n_h heads each; row p is at position pos0+p;
 * `local` picks the local layers' tables. */
static void rope_rows(const struct fwd *f, float *x, int n, int ld, int n_h, int pos0, int local)
{
    int hd = f->cfg.head_dim, half = hd / 2;
    int is_half = f->cfg.rope_style == QROPE_HALF;
    const float *tc = local ? f->rope_cos_l : f->rope_cos, *ts = local ? f->rope_sin_l : f->rope_sin;
    for (int p = 0; p < n; p++) {
        const float *cs = tc + (size_t)(pos0 + p) * half;
        const float *sn = ts + (size_t)(pos0 + p) * half;
        for (int h = 0; h < n_h; h++) {
            float *v = x + (size_t)p * ld + h * hd;
            for (int i = 0; i < half; i++) {
                int a = is_half ? i : 2 * i, b = is_half ? i + half : 2 * i + 1;
                float v0 = v[a], v1 = v[b];
                v[a] = v0 * cs[i] - v1 * sn[i];
                v[b] = v0 * sn[i] + v1 * cs[i];
            }
        }
    }
}

/* Row r of a score block: softmax over keys [lo, r_abs], zero the rest
 * (fused max, exp+sum and scale passes, vectorized in fastmath.h).  lo > 0
 * on sliding-window layers; cap > 0 soft-caps the scores first. */
static void softmax_causal_row(float *s, int lo, int r_abs, int width, float cap)
{
    int len = r_abs + 1 - lo;
    if (lo > 0)
        memset(s, 0, (size_t)lo * sizeof(float));
    s += lo;
    if (cap > 0)
        for (int j = 0; j < len; j++)
            s[j] = cap * tanhf(s[j] / cap);
    float mx = fm_max(s, len);
    fm_scale(s, len, 1.0f / fm_exp_sub_sum(s, len, mx));
    if (width > r_abs + 1)
        memset(s + len, 0, (size_t)(width - r_abs - 1) * sizeof(float));
}

/* One attention job: heads h0, h0+hstep, ... of one block, scores in att
 * (FWD_ATT_BLOCK, T) of its own. */
struct att_job {
    const struct fwd *f;
    float *out, *att;
    const float *K, *V;
    int n, pos0, h0, hstep;
    int window;           /* sliding window (0: none)                     */
};

/* out (n, q_dim) = causal attention of q (n, q_dim), rows at positions
 * pos0 .. pos0+n-1, over keys/values K, V (pos0+n, kv_dim) at positions
 * 0 .. pos0+n-1.  Query block [r0, r1) needs keys [0, pos0+r1). */
static void *attention_heads(void *arg)
{
    const struct att_job *j = arg;
    const struct fwd *f = j->f;
    const struct qconfig *c = &f->cfg;
    int hd = c->head_dim, kv_mul = c->n_heads / c->n_kv_heads;
    float scale = c->attn_scale > 0 ? c->attn_scale : 1.0f / sqrtf((float)hd);
    for (int h = j->h0; h < c->n_heads; h += j->hstep) {
        const float *qh = f->q + h * hd;
        const float *kh = j->K + (h / kv_mul) * hd, *vh = j->V + (h / kv_mul) * hd;
        for (int r0 = 0; r0 < j->n; r0 += FWD_ATT_BLOCK) {
            int r1 = r0 + FWD_ATT_BLOCK < j->n ? r0 + FWD_ATT_BLOCK : j->n;
            int rows = r1 - r0, keys = j->pos0 + r1;
            /* att (rows, keys) = scale * Q[r0:r1] K[0:keys]ᵀ */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, keys, hd, scale,
                        qh + (size_t)r0 * f->q_dim, f->q_dim, kh, f->kv_dim, 0.0f,
                        j->att, keys);
            for (int r = 0; r < rows; r++) {
                int at = j->pos0 + r0 + r, lo = j->window > 0 ? at - j->window + 1 : 0;
                softmax_causal_row(j->att + (size_t)r * keys, lo > 0 ? lo : 0, at, keys,
                                   c->attn_softcap);
            }
            /* out[r0:r1, head h] (rows, hd) = att (rows, keys) V[0:keys] (keys, hd) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hd, keys, 1.0f,
                        j->att, keys, vh, f->kv_dim, 0.0f,
                        j->out + (size_t)r0 * f->q_dim + h * hd, f->q_dim);
        }
    }
    return NULL;
}

/* The per-head matmuls are small (64 query rows x head_dim): OpenBLAS's
 * own threads would synchronize ~200 times per layer.  With two attention
 * threads, heads are split between two single-threaded BLAS callers. */
static void attention(struct fwd *f, float *out, int n, int pos0, const float *K,
                      const float *V, int window)
{
    struct att_job j0 = {f, out, f->att, K, V, n, pos0, 0, 1, window};
    pthread_t th;
    if (f->att_threads < 2 || !f->att2 || f->cfg.n_heads < 2) {
        attention_heads(&j0);
        return;
    }
    struct att_job j1 = j0;
    j0.hstep = j1.hstep = 2;
    j1.h0 = 1;
    j1.att = f->att2;
    int prev = openblas_get_num_threads();
    if (prev != 1)
        openblas_set_num_threads(1);
    int spawned = pthread_create(&th, NULL, attention_heads, &j1) == 0;
    attention_heads(&j0);
    if (spawned)
        pthread_join(th, NULL);
    else
        attention_heads(&j1);
    if (prev != 1)
        openblas_set_num_threads(prev);
}

/* ---- passes ---- */

static int weights_missing(struct fwd *f, const char *what, int layer)
{
    return qerr_set(&f->err, QERR_NOMEM, "forward: layer %d: %s weights unavailable "
                    "(out of memory converting to float)", layer, what);
}

static int call_lin(struct fwd *f, const struct fwd_hooks *h, int l, enum qrole role,
                    float *x, int n, int in)
{
    if (!h || !h->linear_in)
        return 0;
    int rc = h->linear_in(h->ud, l, role, x, n, in);
    if (rc < 0 && !f->err.msg[0])
        qerr_set(&f->err, rc, "forward: layer %d: hook on %s input failed", l, qrole_name(role));
    return rc < 0 ? rc : 0;
}

static int check_n(struct fwd *f, int n)
{
    if (n < 1 || n > f->max_tokens)
        return qerr_set(&f->err, QERR_ARG, "forward: %d tokens, context holds 1..%d", n,
                        f->max_tokens);
    return 0;
}

int fwd_embed(struct fwd *f, const int *tokens, int n, float *x)
{
    qerr_clear(&f->err);
    int rc = check_n(f, n);
    if (rc)
        return rc;
    const float *e = fwd_direct(f, f->tok_embd);
    int dim = f->cfg.dim;
    for (int i = 0; i < n; i++) {
        if (tokens[i] < 0 || tokens[i] >= f->cfg.vocab_size)
            return qerr_set(&f->err, QERR_ARG, "forward: token %d at position %d outside "
                            "the vocabulary (%d)", tokens[i], i, f->cfg.vocab_size);
        if (e)
            memcpy(x + (size_t)i * dim, e + (size_t)tokens[i] * dim, (size_t)dim * sizeof(float));
        else if (qtensor_read_rows(f->tok_embd, tokens[i], 1, x + (size_t)i * dim))
            return weights_missing(f, "token_embd", -1);
    }
    for (int i = 0; f->cfg.embd_scale > 0 && i < n; i++)
        fm_scale(x + (size_t)i * dim, dim, f->cfg.embd_scale);
    return 0;
}

/* x (n, dim) += in (n, in_dim) Wᵀ, through rmsnorm * post when the family
 * norms a block's output before the residual add (Gemma 2/3). */
static int residual_add(struct fwd *f, float *x, const float *in, struct qtensor *W, int n,
                        int in_dim, struct qtensor *post, int l)
{
    int dim = f->cfg.dim;
    if (!post)
        return linear(f, x, in, W, n, in_dim, dim, 1.0f) ? f->err.code : 0;
    const float *pw = fwd_w(f, post);
    if (!pw)
        return weights_missing(f, "post-norm", l);
    if (linear(f, f->tmp, in, W, n, in_dim, dim, 0.0f))
        return f->err.code;
    rmsnorm_rows(f->tmp, f->tmp, pw, n, dim, f->cfg.norm_eps);
    for (size_t i = 0; i < (size_t)n * dim; i++)
        x[i] += f->tmp[i];
    return 0;
}

/* gelu with the tanh approximation (PyTorch's approximate='tanh', ggml's
 * gelu): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), times up. */
static void geglu(float *hb, const float *hb2, size_t n)
{
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    for (size_t i = 0; i < n; i++) {
        float g = hb[i];
        hb[i] = 0.5f * g * (1.0f + tanhf(k * (g + 0.044715f * g * g * g))) * hb2[i];
    }
}

/* Attention half of block l; with a cache, the n rows are positions
 * cache->pos .. cache->pos+n-1 and their K/V are appended to it. */
static int block_attn(struct fwd *f, int l, float *x, int n, const struct fwd_hooks *h,
                      struct fwd_cache *cache)
{
    int pos0 = cache ? cache->pos : 0;
    const struct fwd_layer *L = &f->layers[l];
    int dim = f->cfg.dim, rc;
    const float *an = fwd_w(f, L->attn_norm);
    if (!an)
        return weights_missing(f, "attention", l);
    if (rmsnorm_rows(f->xb, x, an, n, dim, f->cfg.norm_eps))
        return nonfinite(f, l, "the attention input");
    if ((rc = call_lin(f, h, l, QR_ATTN_Q, f->xb, n, dim)))
        return rc;
    if (linear(f, f->q, f->xb, L->wq, n, dim, f->q_dim, 0.0f) ||
        linear(f, f->k, f->xb, L->wk, n, dim, f->kv_dim, 0.0f) ||
        linear(f, f->v, f->xb, L->wv, n, dim, f->kv_dim, 0.0f))
        return f->err.code;
    add_bias(f->q, fwd_w(f, L->bq), n, f->q_dim);
    add_bias(f->k, fwd_w(f, L->bk), n, f->kv_dim);
    add_bias(f->v, fwd_w(f, L->bv), n, f->kv_dim);
    if (L->q_norm) { /* per head: rows of head_dim */
        const float *qn = fwd_w(f, L->q_norm), *kn = fwd_w(f, L->k_norm);
        if (!qn || !kn)
            return weights_missing(f, "q/k norm", l);
        int hd = f->cfg.head_dim;
        rmsnorm_rows(f->q, f->q, qn, n * f->cfg.n_heads, hd, f->cfg.norm_eps);
        rmsnorm_rows(f->k, f->k, kn, n * f->cfg.n_kv_heads, hd, f->cfg.norm_eps);
    }
    /* a NaN score would vanish in the softmax (its max skips it) and leave
     * a plausible perplexity: stop here instead */
    if (!all_finite(f->q, (size_t)n * f->q_dim) || !all_finite(f->k, (size_t)n * f->kv_dim))
        return nonfinite(f, l, "the attention query or key");
    rope_rows(f, f->q, n, f->q_dim, f->cfg.n_heads, pos0, L->local);
    rope_rows(f, f->k, n, f->kv_dim, f->cfg.n_kv_heads, pos0, L->local);
    if (h && h->kv && (rc = h->kv(h->ud, l, f->k, f->v, n, f->kv_dim)) < 0) {
        if (!f->err.msg[0])
            qerr_set(&f->err, rc, "forward: layer %d: K/V hook failed", l);
        return rc;
    }
    const float *K = f->k, *V = f->v;
    if (cache) {
        size_t base = (size_t)l * cache->cap * f->kv_dim, off = (size_t)pos0 * f->kv_dim;
        memcpy(cache->k + base + off, f->k, (size_t)n * f->kv_dim * sizeof(float));
        memcpy(cache->v + base + off, f->v, (size_t)n * f->kv_dim * sizeof(float));
        K = cache->k + base;
        V = cache->v + base;
    }
    attention(f, f->xb, n, pos0, K, V, L->local ? f->cfg.swa_window : 0); /* xb (n, q_dim) */
    if ((rc = call_lin(f, h, l, QR_ATTN_OUT, f->xb, n, f->q_dim)))
        return rc;
    return residual_add(f, x, f->xb, L->wo, n, f->q_dim, L->post_attn, l);
}

static int block_ffn(struct fwd *f, int l, float *x, int n, const struct fwd_hooks *h)
{
    const struct fwd_layer *L = &f->layers[l];
    int dim = f->cfg.dim, hid = f->cfg.hidden_dim, rc;
    const float *fn = fwd_w(f, L->ffn_norm);
    if (!fn)
        return weights_missing(f, "feed-forward", l);
    if (rmsnorm_rows(f->xb, x, fn, n, dim, f->cfg.norm_eps))
        return nonfinite(f, l, "the feed-forward input");
    if ((rc = call_lin(f, h, l, QR_FFN_GATE, f->xb, n, dim)))
        return rc;
    if (linear(f, f->hb, f->xb, L->w1, n, dim, hid, 0.0f) ||
        linear(f, f->hb2, f->xb, L->w3, n, dim, hid, 0.0f))
        return f->err.code;
    if (f->cfg.act == QACT_GELU_TANH)
        geglu(f->hb, f->hb2, (size_t)n * hid);
    else
        fm_swiglu(f->hb, f->hb2, (size_t)n * hid);
    if ((rc = call_lin(f, h, l, QR_FFN_DOWN, f->hb, n, hid)))
        return rc;
    return residual_add(f, x, f->hb, L->w2, n, hid, L->post_ffn, l); /* x += hb W2ᵀ */
}

int fwd_block(struct fwd *f, int layer, float *x, int n, const struct fwd_hooks *hooks)
{
    qerr_clear(&f->err);
    int rc = check_n(f, n);
    if (rc)
        return rc;
    if (layer < 0 || layer >= f->cfg.n_layers)
        return qerr_set(&f->err, QERR_ARG, "forward: layer %d out of range 0..%d", layer,
                        f->cfg.n_layers - 1);
    int prev = blas_enter(f); /* also when a runner calls blocks directly */
    rc = block_attn(f, layer, x, n, hooks, NULL);
    if (!rc)
        rc = block_ffn(f, layer, x, n, hooks);
    blas_leave(f, prev);
    return rc;
}

int fwd_final(struct fwd *f, const float *x, int n, float *logits, const struct fwd_hooks *h)
{
    qerr_clear(&f->err);
    int rc = check_n(f, n);
    if (rc)
        return rc;
    const float *on = fwd_w(f, f->out_norm);
    if (!on)
        return weights_missing(f, "output", -1);
    if (rmsnorm_rows(f->xb, x, on, n, f->cfg.dim, f->cfg.norm_eps))
        return nonfinite(f, f->cfg.n_layers, "the output norm's input");
    if ((rc = call_lin(f, h, -1, QR_OUTPUT, f->xb, n, f->cfg.dim)))
        return rc;
    int prev = blas_enter(f);
    rc = linear(f, logits, f->xb, f->output, n, f->cfg.dim, f->cfg.vocab_size, 0.0f);
    blas_leave(f, prev);
    if (rc)
        return f->err.code;
    if (!all_finite(logits, (size_t)n * f->cfg.vocab_size))
        return nonfinite(f, f->cfg.n_layers, "the logits");
    float cap = f->cfg.final_softcap; /* after the check: tanh would hide an inf */
    for (size_t i = 0; cap > 0 && i < (size_t)n * f->cfg.vocab_size; i++)
        logits[i] = cap * tanhf(logits[i] / cap);
    return 0;
}

/* The cancel flag, checked between blocks so a long chunk stops early. */
static int cancelled(struct fwd *f, int layer)
{
    if (!f->cancel || !*f->cancel)
        return 0;
    qerr_set(&f->err, QERR_CANCEL, "forward: cancelled before layer %d", layer);
    return 1;
}

int fwd_chunk_from(struct fwd *f, const int *tokens, int n, int from, float *logits,
                   const struct fwd_hooks *hooks)
{
    if (from < 0 || from >= n)
        return qerr_set(&f->err, QERR_ARG, "forward: logits from position %d of %d", from, n);
    int prev = blas_enter(f);
    int rc = fwd_embed(f, tokens, n, f->x);
    for (int l = 0; l < f->cfg.n_layers && !rc; l++)
        rc = cancelled(f, l) ? QERR_CANCEL : fwd_block(f, l, f->x, n, hooks);
    if (!rc)
        rc = fwd_final(f, f->x + (size_t)from * f->cfg.dim, n - from, logits, hooks);
    blas_leave(f, prev);
    return rc;
}

int fwd_chunk(struct fwd *f, const int *tokens, int n, float *logits,
              const struct fwd_hooks *hooks)
{
    return fwd_chunk_from(f, tokens, n, 0, logits, hooks);
}

int fwd_cache_init(struct fwd_cache *c, const struct fwd *f, struct qerr *err)
{
    memset(c, 0, sizeof *c);
    c->cap = f->max_tokens;
    size_t n = (size_t)f->cfg.n_layers * c->cap * f->kv_dim;
    c->k = fwd_alloc(n);
    c->v = fwd_alloc(n);
    if (!c->k || !c->v) {
        fwd_cache_free(c);
        return qerr_set(err, QERR_NOMEM, "forward: out of memory for a %d-token KV cache", c->cap);
    }
    return 0;
}

void fwd_cache_free(struct fwd_cache *c)
{
    free(c->k);
    free(c->v);
    c->k = c->v = NULL;
    c->pos = 0;
}

int fwd_step(struct fwd *f, struct fwd_cache *c, const int *tokens, int n, float *logits,
             const struct fwd_hooks *hooks)
{
    int rc = fwd_embed(f, tokens, n, f->x);
    if (rc)
        return rc;
    if (c->pos + n > c->cap || c->cap > f->max_tokens)
        return qerr_set(&f->err, QERR_ARG, "forward: KV cache full (%d + %d > %d tokens)",
                        c->pos, n, c->cap);
    int prev = blas_enter(f);
    for (int l = 0; l < f->cfg.n_layers && !rc; l++) {
        rc = cancelled(f, l) ? QERR_CANCEL : block_attn(f, l, f->x, n, hooks, c);
        if (!rc)
            rc = block_ffn(f, l, f->x, n, hooks);
    }
    if (!rc)
        rc = fwd_final(f, f->x + (size_t)(n - 1) * f->cfg.dim, 1, logits, hooks);
    blas_leave(f, prev);
    if (!rc)
        c->pos += n;
    return rc;
}

double fwd_flops(const struct qconfig *c, int n, int n_logits)
{
    double q_dim = (double)c->n_heads * c->head_dim, kv_dim = (double)c->n_kv_heads * c->head_dim;
    double per_tok = 2.0 * c->dim * (q_dim + 2 * kv_dim) + 2.0 * q_dim * c->dim +
                     6.0 * c->dim * c->hidden_dim;
    /* scores and values: 2 flops x head_dim per (query, key) pair, twice */
    double att = 4.0 * q_dim * ((double)n * (n + 1) / 2.0);
    return c->n_layers * (per_tok * n + att) + 2.0 * c->dim * c->vocab_size * n_logits;
}
