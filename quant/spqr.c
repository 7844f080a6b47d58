/* SpQR (Dettmers et al. 2023, arXiv 2306.03078) -- work in progress. */
#include "quant/quant_impl.h"

int spqr_apply(const struct quant_spec *spec, const float *w, int rows, int cols,
               const struct quant_calib *calib, float *out, struct quant_side *side,
               struct quant_report *rep, const struct quant_ctl *ctl, struct qerr *err)
{
    return qerr_set(err, QERR_UNSUPP, "SpQR: not implemented yet");
}

int spqr_apply_ref(const struct quant_spec *spec, const float *w, int rows, int cols,
                   const struct quant_calib *calib, float *out, struct quant_side *side,
                   struct quant_report *rep, const struct quant_ctl *ctl, struct qerr *err)
{
    return spqr_apply(spec, w, rows, cols, calib, out, side, rep, ctl, err);
}

const struct quantizer quant_spqr = {
    .name = "SpQR",
    .summary = "GPTQ with small groups, 3-bit quantized statistics and float outliers",
    .needs_calib = QUANT_CALIB_HESSIAN,
    .def_bits = 3,
    .def_group = 16,
    .def_sym = 0,
    .apply = spqr_apply,
};
