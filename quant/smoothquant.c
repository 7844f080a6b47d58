/* SmoothQuant (Xiao et al. 2022, arXiv 2211.10438): move activation
 * outliers into the weights with per-input-channel scales
 *     s_j = max|x_j|^α / max_r |W_rj|^(1-α)
 * then quantize W·diag(s) per output channel (8 bits by default).
 *
 * Ŵ = Q(W·diag(s))·diag(1/s) computes the same function as W (quant.h's
 * equivalent-function rule); in_scale = s lets the runner fake-quantize
 * activations as s ⊙ Q(x / s), which makes Ŵ x' the W8A8 product. */
#include <math.h>
#include <stdlib.h>

#include "quant/quant_impl.h"

/* Scales; a channel never active or with an all-zero weight column gets
 * s = 1 (the reference would clamp to 1e-5 and wipe the column). */
static void sq_scales(const float *w, int rows, int cols, const float *amax, double alpha,
                      float *s)
{
    for (int j = 0; j < cols; j++)
        s[j] = 0;
    for (long r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++)
            s[j] = fmaxf(s[j], fabsf(w[r * cols + j]));
    for (int j = 0; j < cols; j++) {
        double a = amax[j], m = s[j];
        s[j] = a > 0 && m > 0 ? (float)fmax(pow(a, alpha) / pow(m, 1 - alpha), 1e-5) : 1.0f;
    }
}

int smoothquant_apply(const struct quant_spec *spec, const float *w, int rows, int cols,
                      const struct quant_calib *calib, float *out, struct quant_side *side,
                      struct quant_report *rep, const struct quant_ctl *ctl, struct qerr *err)
{
    float *amax = malloc(cols * sizeof *amax), *s = malloc(cols * sizeof *s);
    float *ws = malloc((size_t)rows * cols * sizeof *ws);
    int rc = 0;
    if (!amax || !s || !ws)
        rc = qerr_set(err, QERR_NOMEM, "SmoothQuant: out of memory");
    else if (qi_act_max(calib, cols, amax) < 0)
        rc = qerr_set(err, QERR_ARG, "SmoothQuant needs calibration: act_max_abs or a sample x");
    if (rc == 0) {
        sq_scales(w, rows, cols, amax, qi_opt(spec, "alpha"), s);
        for (long i = 0; i < (long)rows * cols; i++)
            ws[i] = w[i] * s[i % cols];
        qgrid_rtn(ws, rows, cols, spec->bits, spec->group, spec->sym, NULL, 1.0f, out);
        for (long i = 0; i < (long)rows * cols; i++)
            out[i] /= s[i % cols];
        rep->bits_per_weight = quant_grid_bpw(spec->bits, spec->group, spec->sym, rows, cols);
        if (side && side->in_scale) {
            for (int j = 0; j < cols; j++)
                side->in_scale[j] = s[j];
            side->has_scale = 1;
        }
    }
    free(amax), free(s), free(ws);
    return rc;
}

static const struct quant_param sq_params[] = {
    {"alpha", "migration strength: s = max|x|^alpha / max|W|^(1-alpha)", 0.5, 0.0, 1.0, 0},
};

const struct quantizer quant_smoothquant = {
    .name = "SmoothQuant",
    .summary = "per-channel scales move activation outliers into W, then W8 (A8 in the runner)",
    .params = sq_params,
    .n_params = 1,
    .needs_calib = QUANT_CALIB_ACT,
    .def_bits = 8,
    .def_group = 0,
    .def_sym = 1,
    .apply = smoothquant_apply,
};
