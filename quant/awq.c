/* AWQ (Lin et al. 2023, arXiv 2306.00978) -- work in progress. */
#include "quant/quant_impl.h"

int awq_apply(const struct quant_spec *spec, const float *w, int rows, int cols,
              const struct quant_calib *calib, float *out, struct quant_side *side,
              struct quant_report *rep, const struct quant_ctl *ctl, struct qerr *err)
{
    return qerr_set(err, QERR_UNSUPP, "AWQ: not implemented yet");
}

const struct quantizer quant_awq = {
    .name = "AWQ",
    .summary = "activation-aware per-channel scales (searched), clipping search, then RTN",
    .needs_calib = QUANT_CALIB_ACT | QUANT_CALIB_OUTERR,
    .def_bits = 4,
    .def_group = 128,
    .def_sym = 0,
    .apply = awq_apply,
};
