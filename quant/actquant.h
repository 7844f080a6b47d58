/* actquant: round-to-nearest fake quantization of activations and K/V.
 *
 * "Fake" quantization: values are quantized to `bits` and immediately
 * dequantized in place, so the forward pass sees exactly the rounding error
 * a W8A8 or KV4 kernel would introduce.  Pure numerics: no I/O.
 *
 * Grouping: a matrix (rows, cols) row-major, e.g. activations (n_tokens,
 * channels).
 *   actq_rows: each row is split into groups of `group` consecutive columns
 *              (group 0 = the whole row), one scale per group: per-token.
 *   actq_cols: each column is split into groups of `group` consecutive rows
 *              (group 0 = the whole column): per-channel (KIVI-style K).
 * A group size that does not divide the length leaves a shorter last group.
 *
 * Symmetric (asym = 0): qmax = 2^(bits-1) - 1, scale = absmax / qmax,
 *   q = clamp(round(x / scale), -qmax, qmax), x' = q * scale.
 * Asymmetric (asym = 1): levels = 2^bits - 1, scale = (max - min) / levels,
 *   zero = round(-min / scale), q = clamp(round(x / scale) + zero, 0, levels),
 *   x' = (q - zero) * scale.
 * round() is round-half-away-from-zero (C roundf).  An all-zero (or
 * constant, asymmetric) group is left unchanged.  Non-finite values are left
 * as they are and excluded from the range.  bits must be in 2..16. */
#ifndef QLENS_ACTQUANT_H
#define QLENS_ACTQUANT_H

#include <stddef.h>

#include "analysis/qerr.h"

/* One group of n values at x[0], x[stride], ... */
void actq_group(float *x, size_t n, size_t stride, int bits, int asym);
/* Plain reference of actq_group (tests compare). */
void actq_group_ref(float *x, size_t n, size_t stride, int bits, int asym);

int actq_rows(float *x /* (rows, cols) */, size_t rows, size_t cols, int bits,
              size_t group, int asym, struct qerr *err);
int actq_cols(float *x /* (rows, cols) */, size_t rows, size_t cols, int bits,
              size_t group, int asym, struct qerr *err);

#endif
