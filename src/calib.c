/* calib: capture of linear-layer inputs and K/V, and activation fake-quant,
 * through the forward hooks (definitions in calib.h). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/actquant.h"
#include "src/calib.h"

static const char *const site_names[CALIB__NSITES] = {
    "attn_in", "attn_out", "ffn_in", "ffn_down", "k", "v",
};

const char *calib_site_name(int site)
{
    return site >= 0 && site < CALIB__NSITES ? site_names[site] : "?";
}

int calib_init(struct calib *c, const struct qconfig *cfg, struct qerr *err)
{
    memset(c, 0, sizeof *c);
    c->n_layers = cfg->n_layers;
    int q_dim = cfg->n_heads * cfg->head_dim, kv_dim = cfg->n_kv_heads * cfg->head_dim;
    c->dims[CALIB_ATTN_IN] = cfg->dim;
    c->dims[CALIB_ATTN_OUT] = q_dim;
    c->dims[CALIB_FFN_IN] = cfg->dim;
    c->dims[CALIB_FFN_DOWN] = cfg->hidden_dim;
    c->dims[CALIB_K] = kv_dim;
    c->dims[CALIB_V] = kv_dim;
    c->sopts.abs_thresh = 6.0;
    if (c->n_layers <= 0)
        return qerr_set(err, QERR_ARG, "calibration: model has no layers");
    c->acc = calloc((size_t)c->n_layers * CALIB__NSITES, sizeof *c->acc);
    if (!c->acc)
        return qerr_set(err, QERR_NOMEM, "calibration: out of memory");
    for (int i = 0; i < c->n_layers * CALIB__NSITES; i++)
        c->acc[i].dim = c->dims[i % CALIB__NSITES];
    return 0;
}

static void acc_free(struct calib_acc *a)
{
    free(a->xtx);
    free(a->sum_abs);
    free(a->sum_sq);
    free(a->max_abs);
    a->xtx = NULL;
    a->sum_abs = NULL;
    a->sum_sq = NULL;
    a->max_abs = NULL;
}

void calib_free(struct calib *c)
{
    if (c->acc)
        for (int i = 0; i < c->n_layers * CALIB__NSITES; i++)
            acc_free(&c->acc[i]);
    free(c->acc);
    free(c->tmp);
    c->acc = NULL;
    c->tmp = NULL;
}

struct calib_acc *calib_get(struct calib *c, int layer, int site)
{
    if (!c->acc || layer < 0 || layer >= c->n_layers || site < 0 || site >= CALIB__NSITES)
        return NULL;
    return &c->acc[layer * CALIB__NSITES + site];
}

static void acc_zero(struct calib_acc *a)
{
    size_t d = (size_t)a->dim;
    a->n_rows = a->n = a->n_nonfinite = a->n_k3 = a->n_k6 = a->n_abs = 0;
    a->mean = a->M2 = a->M3 = a->M4 = a->min = a->max = 0;
    if (a->xtx) memset(a->xtx, 0, d * d * sizeof(double));
    if (a->sum_abs) memset(a->sum_abs, 0, d * sizeof(double));
    if (a->sum_sq) memset(a->sum_sq, 0, d * sizeof(double));
    if (a->max_abs) memset(a->max_abs, 0, d * sizeof(float));
}

static int acc_alloc(struct calib_acc *a, unsigned want)
{
    size_t d = (size_t)a->dim;
    if (!(want & CALIB_HESSIAN)) { free(a->xtx); a->xtx = NULL; }
    if (!(want & CALIB_CHANNEL)) {
        free(a->sum_abs); free(a->max_abs); free(a->sum_sq);
        a->sum_abs = NULL; a->max_abs = NULL; a->sum_sq = NULL;
    }
    if ((want & CALIB_HESSIAN) && !a->xtx && !(a->xtx = calloc(d * d, sizeof(double))))
        return -1;
    if ((want & CALIB_CHANNEL) && !a->sum_abs && !(a->sum_abs = calloc(d, sizeof(double))))
        return -1;
    if ((want & CALIB_CHANNEL) && !a->max_abs && !(a->max_abs = calloc(d, sizeof(float))))
        return -1;
    if ((want & CALIB_CHANNEL) && !a->sum_sq && !(a->sum_sq = calloc(d, sizeof(double))))
        return -1;
    a->want = want;
    return 0;
}

int calib_select(struct calib *c, int layer, int site, unsigned want)
{
    for (int l = 0; l < c->n_layers; l++) {
        if (layer >= 0 && l != layer)
            continue;
        for (int s = 0; s < CALIB__NSITES; s++) {
            if (site >= 0 && s != site)
                continue;
            struct calib_acc *a = calib_get(c, l, s);
            if (acc_alloc(a, want & CALIB_ALL) < 0)
                return qerr_set(&c->err, QERR_NOMEM, "calibration: out of memory for "
                                "layer %d %s (%d channels)", l, site_names[s], a->dim);
            acc_zero(a);
        }
    }
    return 0;
}

void calib_reset(struct calib *c)
{
    if (c->acc)
        for (int i = 0; i < c->n_layers * CALIB__NSITES; i++)
            acc_zero(&c->acc[i]);
}

/* ---- accumulation ---- */

/* XᵀX of this batch via ssyrk (float, upper triangle), added into double. */
static int add_hessian(struct calib *c, struct calib_acc *a, const float *x, int n, int dim)
{
    if (c->tmp_dim < dim) {
        free(c->tmp);
        c->tmp = malloc((size_t)dim * dim * sizeof(float));
        c->tmp_dim = c->tmp ? dim : 0;
        if (!c->tmp)
            return -1;
    }
    float *t = c->tmp; /* (dim, dim) */
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, dim, n, 1.0f, x, dim, 0.0f, t, dim);
    for (int i = 0; i < dim; i++) {
        double *hr = a->xtx + (size_t)i * dim;
        const float *tr = t + (size_t)i * dim;
        for (int j = i; j < dim; j++)
            hr[j] += tr[j];
    }
    for (int i = 0; i < dim; i++) /* mirror the upper triangle */
        for (int j = 0; j < i; j++)
            a->xtx[(size_t)i * dim + j] = a->xtx[(size_t)j * dim + i];
    return 0;
}

static void add_channel(struct calib_acc *a, const float *x, int n, int dim)
{
    for (int r = 0; r < n; r++) {
        const float *xr = x + (size_t)r * dim;
        for (int j = 0; j < dim; j++) {
            float v = fabsf(xr[j]);
            if (!isfinite(v))
                continue;
            a->sum_abs[j] += v;
            if (a->sum_sq) /* NULL in hand-built accumulators (qrun's classifier) */
                a->sum_sq[j] += (double)v * v;
            if (v > a->max_abs[j])
                a->max_abs[j] = v;
        }
    }
}

/* Moments of one batch (two passes, double), merged into a (Pébay 2008). */
static void add_stats(const struct calib *c, struct calib_acc *a, const float *x, size_t cnt)
{
    uint64_t nb = 0;
    double s = 0, mn = 0, mx = 0;
    for (size_t i = 0; i < cnt; i++) {
        if (!isfinite(x[i])) { a->n_nonfinite++; continue; }
        double v = x[i];
        if (!nb || v < mn) mn = v;
        if (!nb || v > mx) mx = v;
        s += v;
        nb++;
        a->n_abs += fabs(v) > c->sopts.abs_thresh;
    }
    if (!nb)
        return;
    double mb = s / nb, m2 = 0, m3 = 0, m4 = 0;
    for (size_t i = 0; i < cnt; i++) {
        if (!isfinite(x[i])) continue;
        double d = x[i] - mb, d2 = d * d;
        m2 += d2; m3 += d2 * d; m4 += d2 * d2;
    }
    double sd = sqrt(m2 / nb);
    for (size_t i = 0; i < cnt; i++) {
        if (!isfinite(x[i])) continue;
        double d = fabs(x[i] - mb);
        a->n_k3 += sd > 0 && d > 3 * sd;
        a->n_k6 += sd > 0 && d > 6 * sd;
    }
    double na = (double)a->n, nbd = (double)nb, n = na + nbd, dl = mb - a->mean;
    double M2 = a->M2 + m2 + dl * dl * na * nbd / n;
    double M3 = a->M3 + m3 + dl * dl * dl * na * nbd * (na - nbd) / (n * n) +
                3 * dl * (na * m2 - nbd * a->M2) / n;
    double M4 = a->M4 + m4 + dl * dl * dl * dl * na * nbd * (na * na - na * nbd + nbd * nbd) / (n * n * n) +
                6 * dl * dl * (na * na * m2 + nbd * nbd * a->M2) / (n * n) +
                4 * dl * (na * m3 - nbd * a->M3) / n;
    a->min = a->n && a->min < mn ? a->min : mn;
    a->max = a->n && a->max > mx ? a->max : mx;
    a->mean += dl * nbd / n;
    a->M2 = M2; a->M3 = M3; a->M4 = M4;
    a->n += nb;
}

int calib_acc_add(struct calib *c, struct calib_acc *a, const float *x, int n, int dim)
{
    if (!a || !a->want || n <= 0)
        return 0;
    if (dim != a->dim)
        return qerr_set(&c->err, QERR_ARG, "calibration: batch has %d channels, accumulator %d",
                        dim, a->dim);
    if ((a->want & CALIB_HESSIAN) && add_hessian(c, a, x, n, dim) < 0)
        return qerr_set(&c->err, QERR_NOMEM, "calibration: out of memory (%d x %d)", dim, dim);
    if (a->want & CALIB_CHANNEL)
        add_channel(a, x, n, dim);
    if (a->want & CALIB_STATS)
        add_stats(c, a, x, (size_t)n * dim);
    a->n_rows += (uint64_t)n;
    return 0;
}

void calib_acc_stats(const struct calib_acc *a, struct stats *o)
{
    memset(o, 0, sizeof *o);
    o->n = a->n;
    o->n_nonfinite = a->n_nonfinite;
    o->abs_thresh = 6.0;
    if (!a->n)
        return;
    double n = (double)a->n, m2 = a->M2 / n;
    o->mean = a->mean;
    o->std = sqrt(m2);
    o->min = a->min;
    o->max = a->max;
    o->absmax = fmax(fabs(a->min), fabs(a->max));
    o->n_k3 = a->n_k3; o->n_k6 = a->n_k6; o->n_abs = a->n_abs;
    o->frac_k3 = a->n_k3 / n; o->frac_k6 = a->n_k6 / n; o->frac_abs = a->n_abs / n;
    o->degenerate = a->n < 2 || m2 == 0;
    if (!o->degenerate) {
        o->skew = (a->M3 / n) / pow(m2, 1.5);
        o->kurt = (a->M4 / n) / (m2 * m2);
        o->exkurt = o->kurt - 3;
        o->absmax_over_std = o->absmax / o->std;
    }
}

/* ---- hooks ---- */

int calib_site_of_role(enum qrole r)
{
    switch (r) {
    case QR_ATTN_Q: case QR_ATTN_K: case QR_ATTN_V: return CALIB_ATTN_IN;
    case QR_ATTN_OUT: return CALIB_ATTN_OUT;
    case QR_FFN_GATE: case QR_FFN_UP: return CALIB_FFN_IN;
    case QR_FFN_DOWN: return CALIB_FFN_DOWN;
    default: return -1;
    }
}

/* The classifier input (layer -1) is neither captured nor quantized: W8A8
 * schemes keep the output layer in high precision. */
static int hook_linear(void *ud, int layer, enum qrole role, float *x, int n, int in_dim)
{
    struct calib *c = ud;
    int site = calib_site_of_role(role);
    if (layer < 0 || site < 0)
        return 0;
    if (c->act_bits && actq_rows(x, (size_t)n, (size_t)in_dim, c->act_bits,
                                 (size_t)(c->act_group > 0 ? c->act_group : 0), c->act_asym,
                                 &c->err) < 0)
        return c->err.code;
    return calib_acc_add(c, calib_get(c, layer, site), x, n, in_dim);
}

static int kv_quant(struct calib *c, float *x, int n, int kv_dim, enum calib_axis ax)
{
    size_t g = (size_t)(c->kv_group > 0 ? c->kv_group : 0);
    return ax == CALIB_PER_CHANNEL
               ? actq_cols(x, (size_t)n, (size_t)kv_dim, c->kv_bits, g, c->kv_asym, &c->err)
               : actq_rows(x, (size_t)n, (size_t)kv_dim, c->kv_bits, g, c->kv_asym, &c->err);
}

static int hook_kv(void *ud, int layer, float *k, float *v, int n, int kv_dim)
{
    struct calib *c = ud;
    if (c->kv_bits && (kv_quant(c, k, n, kv_dim, c->k_axis) < 0 ||
                       kv_quant(c, v, n, kv_dim, c->v_axis) < 0))
        return c->err.code;
    int rc = calib_acc_add(c, calib_get(c, layer, CALIB_K), k, n, kv_dim);
    return rc ? rc : calib_acc_add(c, calib_get(c, layer, CALIB_V), v, n, kv_dim);
}

void calib_hooks(struct calib *c, struct fwd_hooks *h)
{
    h->ud = c;
    h->linear_in = hook_linear;
    h->kv = hook_kv;
}
