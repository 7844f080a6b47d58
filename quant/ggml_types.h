/* ggml_types: llama.cpp's tensor types, as a traits table (ggml's style).
 *
 * Pure numerics: block layouts, dequantization bit-identical to llama.cpp's
 * dequantize_row_*, and quantizers byte-identical to its quantize_row_*_ref /
 * quantize_*_impl (with and without importance weights).  No I/O, no
 * printing; errors through struct qerr.
 *
 * A quantized row of n elements is n / blck_size blocks of type_size bytes;
 * a tensor is its rows one after the other (ggml's ne[0] = row length).
 * Block layouts (bytes, little-endian, "h" = IEEE half):
 *
 *   q4_0   (32)  d:h  qs[16]                         x = (q - 8) d
 *   q4_1   (32)  d:h  m:h  qs[16]                    x = q d + m
 *   q5_0   (32)  d:h  qh[4]  qs[16]                  x = (q - 16) d
 *   q5_1   (32)  d:h  m:h  qh[4]  qs[16]             x = q d + m
 *   q8_0   (32)  d:h  qs[32] (int8)                  x = q d
 *   q2_K  (256)  scales[16] qs[64] d:h dmin:h        16 groups of 16, 4+4 bit scale/min
 *   q3_K  (256)  hmask[32] qs[64] scales[12] d:h     16 groups of 16, 6-bit signed scales
 *   q4_K  (256)  d:h dmin:h scales[12] qs[128]       8 groups of 32, 6+6 bit scale/min
 *   q5_K  (256)  d:h dmin:h scales[12] qh[32] qs[128]
 *   q6_K  (256)  ql[128] qh[64] scales[16] (int8) d:h  16 groups of 16
 *   iq4_nl (32)  d:h  qs[16]                         x = d kvalues[q] (non-linear grid)
 *   iq4_xs(256)  d:h  scales_h:u16  scales_l[4]  qs[128]   8 groups of 32, 6-bit scales
 *
 * Float order matters for byte equality: this file must be compiled without
 * floating-point contraction (the Makefile's -std=c11 implies
 * -ffp-contract=off in GCC), as llama.cpp's ggml-base is. */
#ifndef QLENS_GGML_TYPES_H
#define QLENS_GGML_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/qerr.h"

/* ggml's type ids, as stored in GGUF tensor infos. */
enum ggt_id {
    GGT_F32 = 0,
    GGT_F16 = 1,
    GGT_Q4_0 = 2,
    GGT_Q4_1 = 3,
    GGT_Q5_0 = 6,
    GGT_Q5_1 = 7,
    GGT_Q8_0 = 8,
    GGT_Q2_K = 10,
    GGT_Q3_K = 11,
    GGT_Q4_K = 12,
    GGT_Q5_K = 13,
    GGT_Q6_K = 14,
    GGT_IQ4_NL = 20,
    GGT_IQ4_XS = 23,
    GGT_BF16 = 30,
    GGT__LIMIT = 40 /* ids below this index ggt_traits' table */
};

/* Decode n elements (n a multiple of blck_size) from src to dst. */
typedef void (*ggt_to_float_fn)(const void *src, float *dst, int64_t n);
/* Quantize nrows rows of n_per_row floats (n_per_row a multiple of
 * blck_size, checked by ggt_quantize) into dst, rows packed back to back.
 * imatrix: per-column importance (n_per_row floats) or NULL, used exactly
 * as llama.cpp's quantize_<type>() uses quant_weights. */
typedef void (*ggt_quantize_fn)(const float *src, void *dst, int64_t nrows, int64_t n_per_row,
                                const float *imatrix);

struct ggt_traits {
    enum ggt_id id;
    const char *name;         /* ggml's spelling: "f32", "q4_K", "iq4_xs"  */
    int blck_size;            /* elements per block                        */
    int type_size;            /* bytes per block                           */
    double bpw;               /* bits per weight = 8 type_size / blck_size */
    ggt_to_float_fn to_float; /* bit-identical to dequantize_row_*         */
    ggt_quantize_fn quantize; /* byte-identical to llama.cpp; the fast one */
    ggt_quantize_fn quantize_ref; /* plain scalar reference (tests, bench) */
};

/* Traits of a type id, or NULL when qlens cannot decode it. */
const struct ggt_traits *ggt_traits(uint32_t id);
/* By ggml name, case-insensitive ("Q4_K", "q4_k", "iq4_xs"), or NULL. */
const struct ggt_traits *ggt_by_name(const char *name);
/* All decodable types in id order; *n receives the count. */
const struct ggt_traits *ggt_all(int *n);

/* Bytes of one row of n elements, or 0 when n is not a positive multiple
 * of the type's block size (or the type is unknown). */
size_t ggt_row_size(uint32_t id, int64_t n);

/* Decode nrows rows of n_per_row elements.  QERR_ARG when the row length
 * does not fit the block, QERR_UNSUPP for an unknown id; err names `what`. */
int ggt_to_float(uint32_t id, const void *src, float *dst, int64_t nrows, int64_t n_per_row,
                 struct qerr *err);
/* Quantize (fast path) with the same checks; imatrix may be NULL. */
int ggt_quantize(uint32_t id, const float *src, void *dst, int64_t nrows, int64_t n_per_row,
                 const float *imatrix, struct qerr *err);

/* The plain scalar decoder of a type (quant/ggml_ref.c), the reference the
 * fast to_float is tested against; NULL for an unknown id. */
ggt_to_float_fn ggt_to_float_ref(uint32_t id);

/* The non-linear 4-bit grid of iq4_nl / iq4_xs (ggml's kvalues_iq4nl). */
extern const int8_t ggt_iq4nl_values[16];

#endif
