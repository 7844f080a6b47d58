/* gemm16: float activations times 16-bit weights (IEEE half or bfloat16),
 * the weights converted inside the product.
 *
 *   y (n, out) = beta * y + x (n, k) Wᵀ,   W (out, k) stored as 16-bit
 *
 * the forward pass's projection with F16/BF16 weights read in place from
 * the mapped file: no float copy of W exists, not even a tile of it beyond
 * one packed panel of G16_KB x G16_NR floats (32 KB, on the stack).
 *
 * Blocked as a BLAS GEMM: for each block of G16_KB weights along k, each
 * panel of G16_NR rows of W is converted once into floats in k-major order
 * (the "packed B" of a GEMM) and multiplied by every row of x in register
 * blocks of G16_MR rows (12 x 32 outputs held in 24 AVX-512 registers, one
 * broadcast of x and two loads of the panel per 24 fused multiply-adds).
 * The x block (n x G16_KB floats, 512 KB at n = 512) stays in L2 while all
 * of W's rows pass.  Each output element is a float sum of the same
 * products as the plain loop: k in order within a block (one accumulator
 * per element, fused multiply-adds), the blocks added into y in k order;
 * so it differs from the exact sum (gemm16_ref) by float rounding only,
 * at most about k float epsilons of the sum of |products|.
 *
 * Compiled with AVX-512 (F, BW) only; elsewhere gemm16 returns -1 and the
 * caller converts tiles and calls sgemm instead. */
#ifndef QLENS_GEMM16_H
#define QLENS_GEMM16_H

#include <stddef.h>
#include <stdint.h>

#define G16_MR 12  /* rows of x per register block                        */
#define G16_NR 32  /* rows of W per packed panel (two 16-float vectors)    */
#define G16_KB 256 /* weights along k per panel                            */

enum g16_type { G16_F16, G16_BF16 };

/* 1 when this build has the kernel (AVX-512 F and BW). */
int gemm16_available(void);

/* y (n, out) with row stride ldy; x (n, k) with row stride ldx; w: W's
 * first row, rows ldw 16-bit values apart (any alignment).  beta 0
 * overwrites y (its old contents may be NaN), else y = beta * y + x Wᵀ.
 * Returns 0, or -1 (nothing written) when the kernel is not built or an
 * argument is out of range. */
int gemm16(float *y, size_t ldy, const float *x, size_t ldx, int n, int k, const uint16_t *w,
           size_t ldw, int out, enum g16_type type, float beta);

/* The plain reference: each element summed in double, k in order, and
 * rounded once to float. */
void gemm16_ref(float *y, size_t ldy, const float *x, size_t ldx, int n, int k,
                const uint16_t *w, size_t ldw, int out, enum g16_type type, float beta);

#endif
