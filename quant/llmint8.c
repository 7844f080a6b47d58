/* LLM.int8 (Dettmers et al. 2022, arXiv 2208.07339): vector-wise int8 with
 * outlier input features kept in float.
 *
 * A feature j is an outlier when its calibration max |x_j| >= threshold
 * (6.0 in the paper).  Its weight column stays float in Ŵ; every other
 * weight is quantized per output row (absmax, symmetric, 8 bits by
 * default) over the non-outlier columns only.  The activation half
 * (per-token int8 of the non-outlier features) is the runner's job through
 * activation fake-quant; fp_cols in quant_side says which features to keep. */
#include <stdlib.h>

#include "quant/quant_impl.h"

int llmint8_apply(const struct quant_spec *spec, const float *w, int rows, int cols,
                  const struct quant_calib *calib, float *out, struct quant_side *side,
                  struct quant_report *rep, const struct quant_ctl *ctl, struct qerr *err)
{
    float *amax = malloc(cols * sizeof *amax);
    unsigned char *fp = malloc(cols);
    if (!amax || !fp) {
        free(amax), free(fp);
        return qerr_set(err, QERR_NOMEM, "LLM.int8: out of memory");
    }
    if (qi_act_max(calib, cols, amax) < 0) {
        free(amax), free(fp);
        return qerr_set(err, QERR_ARG, "LLM.int8 needs calibration: act_max_abs or a sample x");
    }
    double thr = qi_opt(spec, "threshold");
    int nfp = 0;
    for (int j = 0; j < cols; j++)
        nfp += fp[j] = amax[j] >= thr;
    qgrid_rtn(w, rows, cols, spec->bits, spec->group, spec->sym, fp, 1.0f, out);
    double n = (double)rows * cols;
    double nq = (double)rows * (cols - nfp);
    double ngroups = spec->group < 0 ? 1 : (double)rows * qgrid_ngroups(cols, spec->group);
    rep->bits_per_weight = (nq * spec->bits + ngroups * (16 + (spec->sym ? 0 : spec->bits)) +
                            (n - nq) * 16) / n;
    rep->n_outlier_features = nfp;
    if (side && side->fp_cols) {
        for (int j = 0; j < cols; j++)
            side->fp_cols[j] = fp[j];
        side->has_fp_cols = 1;
    }
    free(amax);
    free(fp);
    return 0;
}

static const struct quant_param llmint8_params[] = {
    {"threshold", "input features with calibration max |x| >= this stay float", 6.0, 0.0, 1e9, 0},
};

const struct quantizer quant_llmint8 = {
    .name = "LLM.int8",
    .summary = "int8 per output row, outlier input features (max|x| >= 6) kept in float",
    .params = llmint8_params,
    .n_params = 1,
    .needs_calib = QUANT_CALIB_ACT,
    .def_bits = 8,
    .def_group = 0,
    .def_sym = 1,
    .apply = llmint8_apply,
};
