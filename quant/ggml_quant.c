/* ggml_quant: llama.cpp's types as registry methods (q4_0 ... iq4_xs).
 *
 * apply() quantizes W with the type's quantizer (quant/ggml_types.h: the
 * bytes llama-quantize writes) and returns the dequantized Ŵ, so a ggml
 * type sits beside GPTQ or AWQ in quant, sweep and the Quant view.  The
 * type fixes bits, block and scales: spec bits/group/sym do not apply.
 *
 * Importance: calib->importance (per input column, llama.cpp's imatrix
 * definition: mean x² over calibration tokens) when the caller has one
 * (qlens quant --imatrix FILE), else llama.cpp's no-imatrix recipe.  So
 * without --imatrix the result equals `llama-quantize --pure` and with it
 * `llama-quantize --pure --imatrix FILE`, byte for byte.
 *
 * Rows whose length is not a multiple of the type's block: llama-quantize
 * falls back to a compatible type (q2_K, q3_K, iq4_xs -> iq4_nl; q4_K ->
 * q5_0; q5_K -> q5_1; q6_K -> q8_0) and to f16 when that does not fit
 * either; the 32-element types have no fallback there (llama-quantize
 * stops), qlens uses f16.  The report's note says what was stored. */
#include <stdio.h>
#include <stdlib.h>

#include "quant/ggml_types.h"
#include "quant/quant_impl.h"

/* The ggml type id behind a registry method (its name, case-insensitive). */
static const struct ggt_traits *method_type(const struct quantizer *q)
{
    return ggt_by_name(q->name);
}

/* llama.cpp's fallback (llama-quant.cpp) for a row length the block does
 * not divide; f16 when nothing fits. */
static const struct ggt_traits *fallback(const struct ggt_traits *t, int cols)
{
    uint32_t id;
    switch (t->id) {
    case GGT_Q2_K: case GGT_Q3_K: case GGT_IQ4_XS: id = GGT_IQ4_NL; break;
    case GGT_Q4_K: id = GGT_Q5_0; break;
    case GGT_Q5_K: id = GGT_Q5_1; break;
    case GGT_Q6_K: id = GGT_Q8_0; break;
    default: id = GGT_F16; break;
    }
    const struct ggt_traits *f = ggt_traits(id);
    return cols % f->blck_size ? ggt_traits(GGT_F16) : f;
}

int ggml_method_apply(const struct quant_spec *spec, const float *w, int rows, int cols,
                      const struct quant_calib *calib, float *out, struct quant_side *side,
                      struct quant_report *rep, const struct quant_ctl *ctl, struct qerr *err)
{
    const struct ggt_traits *want = method_type(spec->method), *t = want;
    if (!t)
        return qerr_set(err, QERR_ARG, "%s: not a ggml type", spec->method->name);
    if (cols % t->blck_size) {
        t = fallback(want, cols);
        snprintf(rep->note, sizeof rep->note, "row length %d is not a multiple of %s's %d: stored as %s",
                 cols, want->name, want->blck_size, t->name);
    }
    const float *qw = calib ? calib->importance : NULL;
    const size_t row_bytes = ggt_row_size(t->id, cols);
    enum { CHUNK = 64 }; /* rows per quantize call: progress and cancel */
    uint8_t *buf = malloc(row_bytes * CHUNK);
    if (!buf)
        return qerr_set(err, QERR_NOMEM, "%s: out of memory", t->name);
    int rc = 0;
    for (int r0 = 0; r0 < rows && !rc; r0 += CHUNK) {
        int n = rows - r0 < CHUNK ? rows - r0 : CHUNK;
        const float *src = w + (size_t)r0 * cols;
        rc = ggt_quantize(t->id, src, buf, n, cols, qw, err);
        if (!rc)
            rc = ggt_to_float(t->id, buf, out + (size_t)r0 * cols, n, cols, err);
        if (!rc)
            rc = qi_poll(ctl, (double)(r0 + n) / rows);
    }
    free(buf);
    if (rc == QERR_CANCEL)
        return qerr_set(err, QERR_CANCEL, "%s: cancelled", want->name);
    if (rc)
        return rc;
    rep->bits_per_weight = t->bpw;
    return 0;
}

#define GGML_METHOD(var, NAME, BITS, BLK, SUMMARY)                                               \
    const struct quantizer var = {                                                               \
        .name = NAME,                                                                            \
        .summary = SUMMARY,                                                                      \
        .params = NULL,                                                                          \
        .n_params = 0,                                                                           \
        .needs_calib = QUANT_CALIB_NONE,                                                         \
        .def_bits = BITS,                                                                        \
        .def_group = BLK,                                                                        \
        .def_sym = 1,                                                                            \
        .apply = ggml_method_apply,                                                              \
    }

GGML_METHOD(quant_q4_0, "q4_0", 4, 32, "llama.cpp Q4_0: 32-weight blocks, 4-bit, fp16 scale (4.5 b/w)");
GGML_METHOD(quant_q4_1, "q4_1", 4, 32, "llama.cpp Q4_1: 32-weight blocks, 4-bit, fp16 scale and min (5.0 b/w)");
GGML_METHOD(quant_q5_0, "q5_0", 5, 32, "llama.cpp Q5_0: 32-weight blocks, 5-bit, fp16 scale (5.5 b/w)");
GGML_METHOD(quant_q5_1, "q5_1", 5, 32, "llama.cpp Q5_1: 32-weight blocks, 5-bit, fp16 scale and min (6.0 b/w)");
GGML_METHOD(quant_q8_0, "q8_0", 8, 32, "llama.cpp Q8_0: 32-weight blocks, 8-bit, fp16 scale (8.5 b/w)");
GGML_METHOD(quant_q2_k, "q2_k", 2, 256, "llama.cpp Q2_K: 256-weight super-blocks of 16, 2-bit, 4-bit scales/mins (2.625 b/w)");
GGML_METHOD(quant_q3_k, "q3_k", 3, 256, "llama.cpp Q3_K: 256-weight super-blocks of 16, 3-bit, 6-bit scales (3.4375 b/w)");
GGML_METHOD(quant_q4_k, "q4_k", 4, 256, "llama.cpp Q4_K: 256-weight super-blocks of 32, 4-bit, 6-bit scales/mins (4.5 b/w)");
GGML_METHOD(quant_q5_k, "q5_k", 5, 256, "llama.cpp Q5_K: 256-weight super-blocks of 32, 5-bit, 6-bit scales/mins (5.5 b/w)");
GGML_METHOD(quant_q6_k, "q6_k", 6, 256, "llama.cpp Q6_K: 256-weight super-blocks of 16, 6-bit, 8-bit scales (6.5625 b/w)");
GGML_METHOD(quant_iq4_nl, "iq4_nl", 4, 32, "llama.cpp IQ4_NL: 32-weight blocks on a non-linear 4-bit grid (4.5 b/w)");
GGML_METHOD(quant_iq4_xs, "iq4_xs", 4, 256, "llama.cpp IQ4_XS: 256-weight super-blocks, non-linear 4-bit, 6-bit scales (4.25 b/w)");
