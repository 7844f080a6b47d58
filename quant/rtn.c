/* RTN: round-to-nearest on the shared grid, no calibration. */
#include "quant/quant_impl.h"

int rtn_apply(const struct quant_spec *spec, const float *w, int rows, int cols,
              const struct quant_calib *calib, float *out, struct quant_side *side,
              struct quant_report *rep, const struct quant_ctl *ctl, struct qerr *err)
{
    qgrid_rtn(w, rows, cols, spec->bits, spec->group, spec->sym, NULL, 1.0f, out);
    rep->bits_per_weight = quant_grid_bpw(spec->bits, spec->group, spec->sym, rows, cols);
    return 0;
}

const struct quantizer quant_rtn = {
    .name = "RTN",
    .summary = "round to nearest on a uniform grid (per tensor, channel or group)",
    .params = NULL,
    .n_params = 0,
    .needs_calib = QUANT_CALIB_NONE,
    .def_bits = 4,
    .def_group = 128,
    .def_sym = 0,
    .apply = rtn_apply,
};
