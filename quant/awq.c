/* AWQ (Lin et al. 2023, arXiv 2306.00978): protect the weights that meet
 * large activations by scaling input channels up before rounding.
 *
 *   s_j = max(mean|x_j|, 1e-4)^a, normalised by sqrt(max s · min s)
 *   a ∈ {0, 1/grid, ..., (grid-1)/grid} chosen by the layer-output error
 *       tr(Δ H Δᵀ), Δ = W - Q(W·diag(s))·diag(1/s), H = XᵀX
 *   then per (row, group) a clipping search: the group's [min, max] range
 *   shrunk by ρ ∈ {1, 1 - max_shrink/clip_grid, ...}, keeping the ρ with
 *   the least output error of that group (Δ_g H_gg Δ_gᵀ, cross-group terms
 *   ignored, as the reference's auto_clip does).
 * Output (quant.h's rule): Ŵ = Q(W·diag(s))·diag(1/s), in_scale = s.
 * a = 0 is plain RTN, so the search can only improve on RTN's objective.
 *
 * Differences from the reference: scales are searched per linear layer
 * (the reference shares one s across q/k/v and gate/up because it folds s
 * into the shared RMSNorm; with the scales folded back here there is
 * nothing to share); H is the whole calibration set's XᵀX rather than a
 * token subsample. */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant_impl.h"

struct awq {
    const struct quant_spec *spec;
    const float *w;     /* (rows, cols) original                          */
    int rows, cols;
    float *hf;          /* (cols, cols) XᵀX in float                      */
    float *mean;        /* (cols) mean |x|                                */
    float *s;           /* (cols) current scales                          */
    float *ws;          /* (rows, cols) W·diag(s)                         */
    float *q;           /* (rows, cols) Q(ws) then Δ                      */
    float *dh;          /* (rows, glen) Δ_g · H_gg scratch                */
    int plain;          /* plain double loops instead of sgemm (reference) */
};

static void awq_scales(const float *mean, int cols, double a, float *s)
{
    double smax = 0, smin = DBL_MAX;
    for (int j = 0; j < cols; j++) {
        double v = pow(fmax(mean[j], 1e-4), a);
        s[j] = (float)v;
        smax = fmax(smax, v), smin = fmin(smin, v);
    }
    float norm = (float)sqrt(smax * smin);
    for (int j = 0; j < cols; j++)
        s[j] /= norm;
}

static void scale_w(struct awq *A)
{
    for (long r = 0; r < A->rows; r++)
        for (long c = 0; c < A->cols; c++)
            A->ws[r * A->cols + c] = A->w[r * A->cols + c] * A->s[c];
}

/* q <- W - Q(ws)·diag(1/s), Q with a uniform clip ratio. */
static void delta(struct awq *A, float clip)
{
    const struct quant_spec *sp = A->spec;
    qgrid_rtn(A->ws, A->rows, A->cols, sp->bits, sp->group, sp->sym, NULL, clip, A->q);
    for (long r = 0; r < A->rows; r++)
        for (long c = 0; c < A->cols; c++)
            A->q[r * A->cols + c] = A->w[r * A->cols + c] - A->q[r * A->cols + c] / A->s[c];
}

/* Reference of group_errs: the quadratic forms written out. */
static void group_errs_ref(struct awq *A, double *err)
{
    int cols = A->cols, glen = qgrid_glen(cols, A->spec->group);
    int ng = qgrid_ngroups(cols, A->spec->group), tensor = A->spec->group < 0;
    for (long r = 0; r < A->rows; r++)
        for (int k = 0; k < ng; k++) {
            int c0 = k * glen, n = cols - c0 < glen ? cols - c0 : glen;
            const float *d = A->q + r * cols + c0;
            double e = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    e += (double)d[i] * A->hf[(long)(c0 + i) * cols + c0 + j] * d[j];
            err[tensor ? 0 : r * ng + k] += e;
        }
}

/* Add each (row, group)'s Δ_g H_gg Δ_gᵀ into err[r * ng + k] (one
 * accumulator when per tensor). */
static void group_errs(struct awq *A, double *err)
{
    if (A->plain) {
        group_errs_ref(A, err);
        return;
    }
    int cols = A->cols, glen = qgrid_glen(cols, A->spec->group);
    int ng = qgrid_ngroups(cols, A->spec->group), tensor = A->spec->group < 0;
    for (int k = 0; k < ng; k++) {
        int c0 = k * glen, n = cols - c0 < glen ? cols - c0 : glen;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, A->rows, n, n, 1.0f,
                    A->q + c0, cols, A->hf + (long)c0 * cols + c0, cols, 0.0f, A->dh, glen);
        for (long r = 0; r < A->rows; r++) {
            double e = 0;
            for (int c = 0; c < n; c++)
                e += (double)A->dh[r * glen + c] * A->q[r * cols + c0 + c];
            err[tensor ? 0 : r * ng + k] += e;
        }
    }
}

static int search_exponent(struct awq *A, const struct quant_ctl *ctl, double *best_a)
{
    int grid = (int)qi_opt(A->spec, "grid");
    double best = INFINITY;
    *best_a = 0;
    for (int k = 0; k < grid; k++) {
        double a = (double)k / grid, loss;
        awq_scales(A->mean, A->cols, a, A->s);
        scale_w(A);
        delta(A, 1.0f);
        if (A->plain)
            qi_hform_ref(A->q, A->rows, A->cols, A->hf, NULL, &loss);
        else if (qi_hform(A->q, A->rows, A->cols, A->hf, NULL, &loss) < 0)
            return QERR_NOMEM;
        if (loss < best)
            best = loss, *best_a = a;
        if (qi_poll(ctl, 0.6 * (k + 1) / grid))
            return QERR_CANCEL;
    }
    return 0;
}

static int search_clip(struct awq *A, float *clip, const struct quant_ctl *ctl)
{
    int ngr = A->spec->group < 0 ? 1 : A->rows * qgrid_ngroups(A->cols, A->spec->group);
    int steps = (int)qi_opt(A->spec, "clip_grid");
    double shrink = qi_opt(A->spec, "max_shrink");
    double *best = malloc(ngr * sizeof *best), *err = malloc(ngr * sizeof *err);
    if (!best || !err) {
        free(best), free(err);
        return QERR_NOMEM;
    }
    int rc = 0;
    for (int k = 0; k < steps && rc == 0; k++) {
        float rho = (float)(1.0 - shrink * k / steps);
        delta(A, rho);
        memset(err, 0, ngr * sizeof *err);
        group_errs(A, err);
        for (int i = 0; i < ngr; i++)
            if (k == 0 || err[i] < best[i])
                best[i] = err[i], clip[i] = rho;
        rc = qi_poll(ctl, 0.6 + 0.4 * (k + 1) / steps);
    }
    free(best), free(err);
    return rc;
}

/* H as float: the given XᵀX, else built from the sample. */
static float *awq_hessian(const struct quant_calib *c, int cols)
{
    if (c->xtx)
        return qi_xtx_float(c->xtx, cols);
    float *hf = malloc((size_t)cols * cols * sizeof *hf);
    if (hf)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cols, cols, c->n_x, 1.0f, c->x,
                    cols, c->x, cols, 0.0f, hf, cols);
    return hf;
}

static int awq_run(struct awq *A, const struct quant_calib *calib, float *out,
                   struct quant_side *side, struct quant_report *rep,
                   const struct quant_ctl *ctl)
{
    const struct quant_spec *sp = A->spec;
    int ngr = sp->group < 0 ? 1 : A->rows * qgrid_ngroups(A->cols, sp->group);
    float *clip = malloc(ngr * sizeof *clip);
    double a;
    int rc = clip ? search_exponent(A, ctl, &a) : QERR_NOMEM;
    if (rc == 0) {
        awq_scales(A->mean, A->cols, a, A->s);
        scale_w(A);
        for (int i = 0; i < ngr; i++)
            clip[i] = 1.0f;
        if (qi_opt(sp, "clip") != 0)
            rc = search_clip(A, clip, ctl);
    }
    if (rc == 0) {
        qgrid_rtn_clip(A->ws, A->rows, A->cols, sp->bits, sp->group, sp->sym, clip, out);
        for (long i = 0; i < (long)A->rows * A->cols; i++)
            out[i] /= A->s[i % A->cols];
        rep->chosen = a;
        rep->bits_per_weight = quant_grid_bpw(sp->bits, sp->group, sp->sym, A->rows, A->cols);
        if (side && side->in_scale) {
            memcpy(side->in_scale, A->s, A->cols * sizeof *A->s);
            side->has_scale = 1;
        }
    }
    free(clip);
    return rc;
}

static int awq_common(const struct quant_spec *spec, const float *w, int rows, int cols,
                      const struct quant_calib *calib, float *out, struct quant_side *side,
                      struct quant_report *rep, const struct quant_ctl *ctl, struct qerr *err,
                      int plain)
{
    struct awq A = {.spec = spec, .w = w, .rows = rows, .cols = cols, .plain = plain};
    size_t n = (size_t)rows * cols;
    int glen = qgrid_glen(cols, spec->group);
    A.hf = awq_hessian(calib, cols);
    A.mean = malloc(cols * sizeof *A.mean);
    A.s = malloc(cols * sizeof *A.s);
    A.ws = malloc(n * sizeof *A.ws);
    A.q = malloc(n * sizeof *A.q);
    A.dh = malloc((size_t)rows * glen * sizeof *A.dh);
    int rc = 0;
    if (!A.hf || !A.mean || !A.s || !A.ws || !A.q || !A.dh)
        rc = qerr_set(err, QERR_NOMEM, "AWQ: out of memory for a %d x %d layer", rows, cols);
    else if (qi_act_mean(calib, cols, A.mean) < 0)
        rc = qerr_set(err, QERR_ARG, "AWQ needs calibration: act_mean_abs or a sample x");
    else
        rc = awq_run(&A, calib, out, side, rep, ctl);
    if (rc == QERR_NOMEM)
        qerr_set(err, rc, "AWQ: out of memory");
    else if (rc == QERR_CANCEL)
        qerr_set(err, rc, "AWQ: cancelled");
    free(A.hf), free(A.mean), free(A.s), free(A.ws), free(A.q), free(A.dh);
    return rc;
}

int awq_apply(const struct quant_spec *spec, const float *w, int rows, int cols,
              const struct quant_calib *calib, float *out, struct quant_side *side,
              struct quant_report *rep, const struct quant_ctl *ctl, struct qerr *err)
{
    return awq_common(spec, w, rows, cols, calib, out, side, rep, ctl, err, 0);
}

int awq_apply_ref(const struct quant_spec *spec, const float *w, int rows, int cols,
                  const struct quant_calib *calib, float *out, struct quant_side *side,
                  struct quant_report *rep, const struct quant_ctl *ctl, struct qerr *err)
{
    return awq_common(spec, w, rows, cols, calib, out, side, rep, ctl, err, 1);
}

static const struct quant_param awq_params[] = {
    {"grid", "points of the exponent search a = 0, 1/grid, ..., (grid-1)/grid", 20, 1, 100, 1},
    {"clip", "1: search a clipping ratio per (row, group) after the scales", 1, 0, 1, 1},
    {"max_shrink", "largest range shrink tried by the clipping search", 0.5, 0.0, 0.95, 0},
    {"clip_grid", "ratios tried: 1, 1 - max_shrink/clip_grid, ...", 20, 1, 100, 1},
};

const struct quantizer quant_awq = {
    .name = "AWQ",
    .summary = "activation-aware per-channel scales (searched), clipping search, then RTN",
    .params = awq_params,
    .n_params = 4,
    .needs_calib = QUANT_CALIB_ACT | QUANT_CALIB_OUTERR,
    .def_bits = 4,
    .def_group = 128,
    .def_sym = 0,
    .apply = awq_apply,
};
